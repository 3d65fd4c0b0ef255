/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A streaming tar reader for image archives and layers: ustar (with the prefix field), GNU
 * long names and links ('L'/'K', base-256 numbers), PAX extended headers (path, linkpath,
 * size, uid, gid, mtime, SCHILY.xattr.*) local and global. It never seeks backwards, so it
 * works over decompressors; a skip callback lets an uncompressed archive be scanned by
 * seeking over data it does not need. Every field is bounds-checked: the input is untrusted.
 */
#include <errno.h>
#include <stdio.h>

#include "node/image/image-internal.h"

#define BLOCK          512
#define MAX_LONG_NAME  (64 * 1024)
#define MAX_PAX_HEADER (1024 * 1024)
#define MAX_XATTRS     1024

struct ek__tar {
    ek__read_fn read;
    ek__skip_fn skip;
    void *ctx;
    uint64_t pos;  /* bytes consumed from the source */
    uint64_t left; /* data bytes of the current entry not read yet */
    uint64_t pad;  /* padding after it */
    bool end;
    ek__tar_entry_t e;
    /* Pending extended attributes for the next entry (PAX 'x'), and global ones ('g'). */
    char *long_name, *long_link;
    char *pax_path, *pax_link;
    bool pax_size_set, pax_uid_set, pax_gid_set, pax_mtime_set;
    uint64_t pax_size;
    uint32_t pax_uid, pax_gid, pax_mtime_nsec;
    int64_t pax_mtime;
    ek__tar_xattr_t *pax_xattrs;
    size_t n_pax_xattrs;
};

ek__tar_t *ek__tar_new(ek__read_fn read, ek__skip_fn skip, void *ctx)
{
    ek__tar_t *t = ek_new(ek__tar_t);
    t->read = read;
    t->skip = skip;
    t->ctx = ctx;
    return t;
}

static void free_xattrs(ek__tar_xattr_t *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(x[i].name);
        free(x[i].value);
    }
    free(x);
}

static void clear_entry(ek__tar_t *t)
{
    free(t->e.path);
    free(t->e.link);
    free_xattrs(t->e.xattrs, t->e.n_xattrs);
    memset(&t->e, 0, sizeof(t->e));
}

static void clear_pending(ek__tar_t *t)
{
    free(t->long_name);
    free(t->long_link);
    free(t->pax_path);
    free(t->pax_link);
    t->long_name = t->long_link = t->pax_path = t->pax_link = NULL;
    t->pax_size_set = t->pax_uid_set = t->pax_gid_set = t->pax_mtime_set = false;
    t->pax_xattrs = NULL;
    t->n_pax_xattrs = 0;
}

void ek__tar_free(ek__tar_t *t)
{
    if (!t) {
        return;
    }
    clear_entry(t);
    free_xattrs(t->pax_xattrs, t->n_pax_xattrs);
    clear_pending(t);
    free(t);
}

/* Reads exactly n bytes. A short read is a truncated archive. */
static int read_full(ek__tar_t *t, void *buf, size_t n, bool *eof, ek_error_t **err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = t->read(t->ctx, (char *)buf + got, n - got, err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            if (eof && got == 0) {
                *eof = true;
                return 0;
            }
            return ek_error_make(err, 0, "tar: unexpected end of archive (truncated)");
        }
        got += (size_t)r;
    }
    t->pos += n;
    return 0;
}

static int skip_bytes(ek__tar_t *t, uint64_t n, ek_error_t **err)
{
    if (n == 0) {
        return 0;
    }
    if (t->skip) {
        if (t->skip(t->ctx, n, err) < 0) {
            return -1;
        }
        t->pos += n;
        return 0;
    }
    char buf[8192];
    while (n > 0) {
        size_t k = (size_t)EK_MIN(n, sizeof(buf));
        if (read_full(t, buf, k, NULL, err) < 0) {
            return -1;
        }
        n -= k;
    }
    return 0;
}

/* Octal (NUL/space terminated, leading spaces) or GNU base-256 (high bit of the first byte). */
static int parse_num(const char *f, size_t len, uint64_t *out)
{
    const unsigned char *u = (const unsigned char *)f;
    uint64_t v = 0;
    if (u[0] & 0x80) {
        if (u[0] & 0x40) {
            return -1; /* negative */
        }
        v = u[0] & 0x3f;
        for (size_t i = 1; i < len; i++) {
            if (v >> 56) {
                return -1;
            }
            v = (v << 8) | u[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < len && f[i] == ' ') {
        i++;
    }
    for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60) {
            return -1;
        }
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    if (i < len && f[i] != '\0' && f[i] != ' ') {
        return -1;
    }
    *out = v;
    return 0;
}

static bool checksum_ok(const unsigned char *h)
{
    uint64_t want;
    if (parse_num((const char *)h + 148, 8, &want) < 0) {
        return false;
    }
    uint64_t us = 0;
    int64_t ss = 0;
    for (int i = 0; i < BLOCK; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        us += c;
        ss += (signed char)c;
    }
    return us == want || (uint64_t)ss == want;
}

static char *field_str(const char *f, size_t len)
{
    return ek_xstrndup(f, strnlen(f, len));
}

/* Reads an entry's whole data into memory (long names, PAX headers). */
static char *read_small(ek__tar_t *t, uint64_t size, size_t max, ek_error_t **err)
{
    if (size > max) {
        ek_error_make(err, 0, "tar: extended header of %llu bytes is too large",
                      (unsigned long long)size);
        return NULL;
    }
    ek_autofree char *buf = ek_xmalloc((size_t)size + 1);
    if (read_full(t, buf, (size_t)size, NULL, err) < 0) {
        return NULL;
    }
    buf[size] = '\0';
    if (skip_bytes(t, (BLOCK - size % BLOCK) % BLOCK, err) < 0) {
        return NULL;
    }
    return ek_steal(&buf);
}

static int parse_dec(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > UINT64_MAX / 10 - 9) {
            return -1;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int pax_mtime(const char *v, size_t len, int64_t *sec, uint32_t *nsec)
{
    const char *dot = memchr(v, '.', len);
    size_t ilen = dot ? (size_t)(dot - v) : len;
    bool neg = ilen > 0 && v[0] == '-';
    uint64_t s;
    if (parse_dec(v + neg, ilen - neg, &s) < 0 || s > INT64_MAX) {
        return -1;
    }
    *sec = neg ? -(int64_t)s : (int64_t)s;
    *nsec = 0;
    if (dot) {
        uint32_t ns = 0;
        size_t i = 1;
        for (; i < len - ilen && i <= 9; i++) {
            if (dot[i] < '0' || dot[i] > '9') {
                return -1;
            }
            ns = ns * 10 + (uint32_t)(dot[i] - '0');
        }
        for (; i <= 9; i++) {
            ns *= 10;
        }
        *nsec = neg ? 0 : ns;
    }
    return 0;
}

static int pax_record(ek__tar_t *t, const char *key, const char *v, size_t vlen, bool global,
                      ek_error_t **err)
{
    uint64_t n;
    if (ek_has_prefix(key, "SCHILY.xattr.")) {
        if (global) {
            return 0;
        }
        if (t->n_pax_xattrs >= MAX_XATTRS) {
            return ek_error_make(err, 0, "tar: too many extended attributes");
        }
        t->pax_xattrs = ek_xrealloc(t->pax_xattrs, (t->n_pax_xattrs + 1) * sizeof(ek__tar_xattr_t));
        ek__tar_xattr_t *x = &t->pax_xattrs[t->n_pax_xattrs++];
        x->name = ek_xstrdup(key + 13);
        x->value = ek_xmalloc(vlen + 1);
        memcpy(x->value, v, vlen);
        x->value[vlen] = '\0';
        x->len = vlen;
    } else if (ek_has_prefix(key, "GNU.sparse.")) {
        return ek_error_make(err, 0, "tar: sparse files are not supported");
    } else if (global) {
        return 0; /* a global path or size makes no sense; other keys we do not use */
    } else if (strcmp(key, "path") == 0) {
        free(t->pax_path);
        t->pax_path = ek_xstrndup(v, vlen);
    } else if (strcmp(key, "linkpath") == 0) {
        free(t->pax_link);
        t->pax_link = ek_xstrndup(v, vlen);
    } else if (strcmp(key, "size") == 0) {
        if (parse_dec(v, vlen, &t->pax_size) < 0) {
            return ek_error_make(err, 0, "tar: bad PAX size");
        }
        t->pax_size_set = true;
    } else if (strcmp(key, "uid") == 0 || strcmp(key, "gid") == 0) {
        if (parse_dec(v, vlen, &n) < 0 || n > UINT32_MAX) {
            return ek_error_make(err, 0, "tar: bad PAX %s", key);
        }
        if (key[0] == 'u') {
            t->pax_uid = (uint32_t)n, t->pax_uid_set = true;
        } else {
            t->pax_gid = (uint32_t)n, t->pax_gid_set = true;
        }
    } else if (strcmp(key, "mtime") == 0) {
        if (pax_mtime(v, vlen, &t->pax_mtime, &t->pax_mtime_nsec) < 0) {
            return ek_error_make(err, 0, "tar: bad PAX mtime");
        }
        t->pax_mtime_set = true;
    }
    return 0;
}

/* Records are "<len> <key>=<value>\n", len counting the whole record. */
static int parse_pax(ek__tar_t *t, const char *p, size_t len, bool global, ek_error_t **err)
{
    size_t off = 0;
    while (off < len) {
        if (p[off] == '\0') {
            break; /* some writers pad with NULs */
        }
        const char *sp = memchr(p + off, ' ', len - off);
        uint64_t rlen;
        if (!sp || parse_dec(p + off, (size_t)(sp - (p + off)), &rlen) < 0 || rlen > len - off ||
            rlen < (uint64_t)(sp - (p + off)) + 3 || p[off + rlen - 1] != '\n') {
            return ek_error_make(err, 0, "tar: malformed PAX record");
        }
        const char *kv = sp + 1, *end = p + off + rlen - 1;
        const char *eq = memchr(kv, '=', (size_t)(end - kv));
        if (!eq || eq == kv) {
            return ek_error_make(err, 0, "tar: malformed PAX record");
        }
        ek_autofree char *key = ek_xstrndup(kv, (size_t)(eq - kv));
        if (pax_record(t, key, eq + 1, (size_t)(end - eq - 1), global, err) < 0) {
            return -1;
        }
        off += rlen;
    }
    return 0;
}

/* Fills t->e from a header block and the pending extended values. */
static int build_entry(ek__tar_t *t, const char *h, ek_error_t **err)
{
    uint64_t mode, uid, gid, size, mtime, maj, min;
    if (parse_num(h + 100, 8, &mode) < 0 || parse_num(h + 108, 8, &uid) < 0 ||
        parse_num(h + 116, 8, &gid) < 0 || parse_num(h + 124, 12, &size) < 0 ||
        parse_num(h + 136, 12, &mtime) < 0 || parse_num(h + 329, 8, &maj) < 0 ||
        parse_num(h + 337, 8, &min) < 0) {
        return ek_error_make(err, 0, "tar: bad number in header");
    }
    ek__tar_entry_t *e = &t->e;
    e->type = h[156] == '\0' || h[156] == '7' ? '0' : h[156];
    e->mode = (uint32_t)(mode & 07777);
    e->uid = t->pax_uid_set ? t->pax_uid : (uint32_t)EK_MIN(uid, UINT32_MAX);
    e->gid = t->pax_gid_set ? t->pax_gid : (uint32_t)EK_MIN(gid, UINT32_MAX);
    e->size = t->pax_size_set ? t->pax_size : size;
    e->mtime = t->pax_mtime_set ? t->pax_mtime : (int64_t)EK_MIN(mtime, (uint64_t)INT64_MAX);
    e->mtime_nsec = t->pax_mtime_set ? t->pax_mtime_nsec : 0;
    e->devmajor = (uint32_t)EK_MIN(maj, UINT32_MAX);
    e->devminor = (uint32_t)EK_MIN(min, UINT32_MAX);
    if (t->pax_path) {
        e->path = ek_steal(&t->pax_path);
    } else if (t->long_name) {
        e->path = ek_steal(&t->long_name);
    } else if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345] != '\0') {
        ek_autofree char *prefix = field_str(h + 345, 155);
        ek_autofree char *name = field_str(h, 100);
        e->path = ek_xasprintf("%s/%s", prefix, name);
    } else {
        e->path = field_str(h, 100);
    }
    if (t->pax_link) {
        e->link = ek_steal(&t->pax_link);
    } else if (t->long_link) {
        e->link = ek_steal(&t->long_link);
    } else {
        e->link = field_str(h + 157, 100);
    }
    e->xattrs = t->pax_xattrs;
    e->n_xattrs = t->n_pax_xattrs;
    t->pax_xattrs = NULL;
    t->n_pax_xattrs = 0;
    clear_pending(t);
    /* Links, devices, directories and fifos carry no data whatever size says (hard links may
     * in theory; nobody writes them that way and we would not know where it goes). */
    if (strchr("123456", e->type)) {
        e->size = 0;
    }
    if (e->path[0] == '\0') {
        return ek_error_make(err, 0, "tar: entry with an empty name");
    }
    return 0;
}

/* Handles one header block; 1 when it produced an entry, 0 for a meta entry, -1 error. */
static int header(ek__tar_t *t, const char *h, ek_error_t **err)
{
    uint64_t size;
    if (parse_num(h + 124, 12, &size) < 0) {
        return ek_error_make(err, 0, "tar: bad size in header");
    }
    char type = h[156];
    char **slot = NULL;
    switch (type) {
    case 'L':
    case 'K':
        slot = type == 'L' ? &t->long_name : &t->long_link;
        free(*slot);
        *slot = read_small(t, size, MAX_LONG_NAME, err);
        return *slot ? 0 : -1;
    case 'x':
    case 'g': {
        ek_autofree char *pax = read_small(t, size, MAX_PAX_HEADER, err);
        if (!pax) {
            return -1;
        }
        return parse_pax(t, pax, (size_t)size, type == 'g', err) < 0 ? -1 : 0;
    }
    case 'V':
        return skip_bytes(t, (size + BLOCK - 1) / BLOCK * BLOCK, err) < 0 ? -1 : 0;
    case 'S':
        return ek_error_make(err, 0, "tar: sparse files are not supported");
    case '\0':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        break;
    default:
        return ek_error_make(err, 0, "tar: unsupported entry type '%c'",
                             type >= 32 && type < 127 ? type : '?');
    }
    if (build_entry(t, h, err) < 0) {
        return -1;
    }
    if (t->e.size > UINT64_MAX - BLOCK) {
        return ek_error_make(err, 0, "tar: entry size out of range");
    }
    t->left = t->e.size;
    t->pad = (BLOCK - t->e.size % BLOCK) % BLOCK;
    t->e.data_offset = t->pos;
    return 1;
}

static bool all_zero(const char *b)
{
    for (int i = 0; i < BLOCK; i++) {
        if (b[i]) {
            return false;
        }
    }
    return true;
}

int ek__tar_next(ek__tar_t *t, const ek__tar_entry_t **e, ek_error_t **err)
{
    if (t->end) {
        return 0;
    }
    if (skip_bytes(t, t->left + t->pad, err) < 0) {
        return -1;
    }
    t->left = t->pad = 0;
    clear_entry(t);
    char h[BLOCK];
    for (;;) {
        bool eof = false;
        if (read_full(t, h, BLOCK, &eof, err) < 0) {
            return -1;
        }
        if (eof || all_zero(h)) {
            /* Two zero blocks end an archive; writers that stop after one, or at EOF, are
             * common enough to accept. What follows is not read. */
            t->end = true;
            if (t->long_name || t->pax_path || t->n_pax_xattrs) {
                return ek_error_make(err, 0, "tar: extended header without an entry");
            }
            return 0;
        }
        if (!checksum_ok((const unsigned char *)h)) {
            return ek_error_make(err, 0, "tar: bad header checksum at offset %llu",
                                 (unsigned long long)(t->pos - BLOCK));
        }
        int r = header(t, h, err);
        if (r < 0) {
            return -1;
        }
        if (r == 1) {
            *e = &t->e;
            return 1;
        }
    }
}

ssize_t ek__tar_read(ek__tar_t *t, void *buf, size_t n, ek_error_t **err)
{
    if (t->left == 0 || n == 0) {
        return 0;
    }
    size_t want = (size_t)EK_MIN((uint64_t)n, t->left);
    ssize_t r = t->read(t->ctx, buf, want, err);
    if (r < 0) {
        return -1;
    }
    if (r == 0) {
        return ek_error_make(err, 0, "tar: unexpected end of archive in `%s` (truncated)",
                             t->e.path);
    }
    t->left -= (uint64_t)r;
    t->pos += (uint64_t)r;
    return r;
}
