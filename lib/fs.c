/* SPDX-License-Identifier: Apache-2.0 */
/* Whole-file I/O and directory helpers. All calls are blocking: keep them off the loop. */
#include "lib/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

char *ek_file_read(const char *path, size_t max, size_t *len, ek_error_t **err)
{
    ek_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ek_error_make(err, errno, "open `%s`", path);
        return NULL;
    }
    size_t cap = 4096, n = 0;
    ek_autofree char *buf = ek_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            if (max && cap >= max) {
                ek_error_make(err, EFBIG, "read `%s`", path);
                return NULL;
            }
            cap *= 2;
            buf = ek_xrealloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            ek_error_make(err, errno, "read `%s`", path);
            return NULL;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (max && n > max) {
            ek_error_make(err, EFBIG, "read `%s`", path);
            return NULL;
        }
    }
    buf[n] = '\0';
    if (len) {
        *len = n;
    }
    return ek_steal(&buf);
}

char *ek_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return ek_xstrdup(".");
    }
    if (slash == path) {
        return ek_xstrdup("/");
    }
    return ek_xstrndup(path, (size_t)(slash - path));
}

int ek_fsync_dir(const char *dir, ek_error_t **err)
{
    ek_autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return ek_error_make(err, errno, "open directory `%s`", dir);
    }
    if (fsync(fd) < 0) {
        return ek_error_make(err, errno, "fsync directory `%s`", dir);
    }
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int ek_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         ek_error_t **err)
{
    ek_autofree char *tmp = ek_xasprintf("%s.tmp.%d", path, (int)getpid());
    ek_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", tmp);
    }
    if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return ek_error_make(err, e, "write `%s`", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return ek_error_make(err, e, "rename `%s` to `%s`", tmp, path);
    }
    ek_autofree char *dir = ek_path_dirname(path);
    return ek_fsync_dir(dir, err);
}

int ek_mkdir_p(const char *path, mode_t mode, ek_error_t **err)
{
    ek_autofree char *p = ek_xstrdup(path);
    size_t n = strlen(p);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0') {
            continue;
        }
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            return ek_error_make(err, errno, "mkdir `%s`", p);
        }
        p[i] = c;
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return ek_error_make(err, ENOTDIR, "mkdir `%s`", path);
    }
    return 0;
}

static int rm_at(int parent, const char *name, dev_t dev, ek_error_t **err)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : ek_error_make(err, errno, "stat `%s`", name);
    }
    if (S_ISDIR(st.st_mode)) {
        if (st.st_dev != dev) {
            return ek_error_make(err, EXDEV, "refusing to cross into mount `%s`", name);
        }
        int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            return ek_error_make(err, errno, "open `%s`", name);
        }
        DIR *d = fdopendir(fd);
        if (!d) {
            close(fd);
            return ek_error_make(err, errno, "opendir `%s`", name);
        }
        struct dirent *de;
        int rc = 0;
        while (rc == 0 && (de = readdir(d))) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
                continue;
            }
            rc = rm_at(dirfd(d), de->d_name, dev, err);
        }
        closedir(d);
        if (rc < 0) {
            return ek_error_wrap(err, "remove `%s`", name);
        }
        if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
            return ek_error_make(err, errno, "rmdir `%s`", name);
        }
        return 0;
    }
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT) {
        return ek_error_make(err, errno, "unlink `%s`", name);
    }
    return 0;
}

int ek_rm_rf(const char *path, ek_error_t **err)
{
    struct stat st;
    if (lstat(path, &st) < 0) {
        return errno == ENOENT ? 0 : ek_error_make(err, errno, "stat `%s`", path);
    }
    return rm_at(AT_FDCWD, path, st.st_dev, err);
}

bool ek_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}
