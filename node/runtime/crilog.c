/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container logs in the CRI format the kubelet reads: one entry per line,
 * `<RFC3339Nano> stdout|stderr F|P <text>\n`, F closing a line and P a fragment of a longer
 * one. The shim is the only writer, so it also rotates: past max_size the file is renamed
 * `<path>.<YYYYmmdd-HHMMSS>` (as the kubelet names rotated logs) and the oldest beyond
 * max_files are deleted. Output goes through one static buffer, flushed once per chunk read,
 * so a busy container costs one write(2) per read and no heap.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "node/runtime/runtime-internal.h"

static char outbuf[16384];
static size_t outlen;

int ek__rt_log_open(ek__rt_log_t *l, const char *path, int64_t max_size, int max_files,
                    ek_error_t **err)
{
    l->path = ek_xstrdup(path);
    l->max_size = max_size > 0 ? max_size : 10 << 20;
    l->max_files = max_files > 0 ? max_files : 5;
    ek_autofree char *dir = ek_path_dirname(path);
    if (ek_mkdir_p(dir, 0755, err) < 0) {
        return -1;
    }
    l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (l->fd < 0) {
        return ek_error_make(err, errno, "open log `%s`", path);
    }
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
    return 0;
}

void ek__rt_log_close(ek__rt_log_t *l)
{
    if (l->fd >= 0) {
        close(l->fd);
    }
    free(l->path);
    l->path = NULL;
    l->fd = -1;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return; /* a full disk loses log lines, never the container */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void rotate(ek__rt_log_t *l);

/* Writes the buffer out; past max_size the file rotates, so a file outgrows the limit by at
 * most one buffer. */
static void flush(ek__rt_log_t *l)
{
    if (outlen > 0 && l->fd >= 0) {
        write_all(l->fd, outbuf, outlen);
        l->size += (int64_t)outlen;
    }
    outlen = 0;
    if (l->size >= l->max_size) {
        rotate(l);
    }
}

/* One entry: header (timestamp, stream, tag) then a and b, joined, then a newline. */
static void emit(ek__rt_log_t *l, const char *hdr, size_t hlen, char tag, const char *a,
                 size_t alen, const char *b, size_t blen)
{
    size_t need = hlen + alen + blen + 1;
    if (outlen + need > sizeof(outbuf)) {
        flush(l);
    }
    if (need > sizeof(outbuf)) {
        char h[64];
        memcpy(h, hdr, hlen);
        h[hlen - 2] = tag;
        struct iovec iov[4] = {
            { h, hlen }, { (void *)a, alen }, { (void *)b, blen }, { "\n", 1 }
        };
        if (l->fd >= 0 && writev(l->fd, iov, 4) > 0) {
            l->size += (int64_t)need;
        }
        flush(l);
        return;
    }
    char *o = outbuf + outlen;
    memcpy(o, hdr, hlen);
    o[hlen - 2] = tag;
    memcpy(o + hlen, a, alen);
    memcpy(o + hlen + alen, b, blen);
    o[need - 1] = '\n';
    outlen += need;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes the oldest rotated files so that at most keep remain. */
static void prune(const char *path, int keep)
{
    ek_autofree char *dir = ek_path_dirname(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < EK_ARRAY_SIZE(names)) {
        if (strncmp(de->d_name, base, blen) == 0 && de->d_name[blen] == '.' &&
            !ek_has_suffix(de->d_name, ".tmp")) {
            names[n++] = ek_xstrdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if ((int)(n - i) > keep) {
            ek_autofree char *p = ek_xasprintf("%s/%s", dir, names[i]);
            unlink(p);
        }
        free(names[i]);
    }
}

static void rotate(ek__rt_log_t *l)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    /* Several rotations in one second get increasing suffixes (never one freed by pruning:
     * names must sort in age order). */
    l->rot_seq = (int64_t)now == l->rot_time ? l->rot_seq + 1 : 0;
    l->rot_time = (int64_t)now;
    ek_autofree char *target = l->rot_seq ? ek_xasprintf("%s.%s.%04d", l->path, stamp, l->rot_seq)
                                          : ek_xasprintf("%s.%s", l->path, stamp);
    if (rename(l->path, target) < 0) {
        return;
    }
    int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        return; /* keep appending to the renamed file rather than lose lines */
    }
    close(l->fd);
    l->fd = fd;
    l->size = 0;
    prune(l->path, l->max_files - 1);
}

void ek__rt_log_write(ek__rt_log_t *l, const char *stream, ek__rt_carry_t *c, const char *data,
                      size_t n, bool eof)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char stamp[31], hdr[64];
    ek_time_rfc3339_nano(&ts, stamp);
    int hlen = snprintf(hdr, sizeof(hdr), "%s %s F ", stamp, stream);
    const char *p = data, *end = data + n;
    if (c->len > 0 && p < end) {
        const char *nl = memchr(p, '\n', n);
        if (nl) {
            emit(l, hdr, (size_t)hlen, 'F', c->buf, c->len, p, (size_t)(nl - p));
            c->len = 0;
            p = nl + 1;
        } else if (c->len + n <= EK__RT_CARRY) {
            memcpy(c->buf + c->len, p, n);
            c->len += n;
            p = end;
        } else {
            emit(l, hdr, (size_t)hlen, 'P', c->buf, c->len, p, n);
            c->len = 0;
            p = end;
        }
    }
    for (const char *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
        emit(l, hdr, (size_t)hlen, 'F', p, (size_t)(nl - p), "", 0);
    }
    if (p < end) {
        size_t rest = (size_t)(end - p);
        if (rest <= EK__RT_CARRY) {
            memcpy(c->buf, p, rest);
            c->len = rest;
        } else {
            emit(l, hdr, (size_t)hlen, 'P', p, rest, "", 0);
        }
    }
    if (eof && c->len > 0) {
        emit(l, hdr, (size_t)hlen, 'F', c->buf, c->len, "", 0);
        c->len = 0;
    }
    flush(l);
}
