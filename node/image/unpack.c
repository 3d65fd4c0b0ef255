/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpacks one layer tar into its own directory in overlayfs' format, so the directory can be
 * a lowerdir shared by every image with that layer: whiteouts become 0/0 character devices,
 * opaque markers the trusted.overlay.opaque xattr. Ownership (as root), modes, xattrs,
 * mtimes, hard links, symlinks and device nodes are kept.
 *
 * The tar is hostile until proven otherwise: names with `..` are refused, and every parent
 * directory is opened with openat2(RESOLVE_BENEATH), so a symlink planted by an earlier
 * entry that points outside (absolute, or `../..`) makes the entry fail instead of writing
 * through it. Kernels without openat2 get a component-wise walk with O_NOFOLLOW, which
 * refuses any symlink on the way. trusted.overlay.* xattrs from the tar are dropped: they
 * would let a layer redirect lookups in the merged view.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "node/image/image-internal.h"

#define COPY_BUF (256 * 1024)

struct dirmeta {
    char *path; /* clean, relative to the root */
    uint32_t mode, uid, gid;
    struct timespec mtime;
};

struct unpacker {
    ek__tar_t *t;
    int root;
    bool as_root;
    char *cache_path; /* the last parent opened, and its O_PATH fd */
    int cache_fd;
    struct dirmeta *dirs;
    size_t n_dirs, cap_dirs;
    char *buf;
    ek__unpack_stats_t *st;
};

static int openat2_supported = -1; /* -1 unknown; set once, benign race */

/* Cleans a tar name: drops leading "/" and "./", empty and "." components and the trailing
 * slash. Returns NULL for a name with a ".." component. "" is the root itself. */
static char *clean_path(const char *p)
{
    ek_autobuf out = EK_BUF_INIT;
    ek_buf_puts(&out, "");
    while (*p) {
        while (*p == '/') {
            p++;
        }
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            return NULL;
        }
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (out.len) {
                ek_buf_putc(&out, '/');
            }
            ek_buf_append(&out, p, len);
        }
        p = end;
    }
    return ek_buf_steal(&out, NULL);
}

static int do_openat2(int dirfd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Opens the directory at a clean relative path (O_PATH) without leaving the root. */
static int open_dir_in_root(int root, const char *path, ek_error_t **err)
{
    if (!*path) {
        int fd = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? ek_error_make(err, errno, "open layer root") : fd;
    }
    if (openat2_supported != 0) {
        int fd = do_openat2(root, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0 || errno != ENOSYS) {
            openat2_supported = 1;
            if (fd < 0 && errno == EXDEV) {
                return ek_error_make(err, 0, "`%s` escapes the layer root through a symlink", path);
            }
            return fd < 0 ? ek_error_make(err, errno, "open `%s`", path) : fd;
        }
        openat2_supported = 0;
    }
    /* No openat2: walk one component at a time and refuse every symlink. */
    int fd = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    ek_autofree char *copy = ek_xstrdup(path);
    char *save = NULL;
    for (char *c = strtok_r(copy, "/", &save); c && fd >= 0; c = strtok_r(NULL, "/", &save)) {
        int next = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(fd);
        fd = next;
        if (fd < 0 && (e == ELOOP || e == ENOTDIR)) {
            return ek_error_make(err, 0, "`%s` passes through a symlink or non-directory", path);
        }
        errno = e;
    }
    return fd < 0 ? ek_error_make(err, errno, "open `%s`", path) : fd;
}

/* Opens the parent directory, creating missing directories (0755, as tar does). */
static int open_parent(struct unpacker *u, const char *parent, ek_error_t **err)
{
    if (u->cache_path && strcmp(u->cache_path, parent) == 0) {
        return u->cache_fd;
    }
    ek_error_t *e1 = NULL;
    int fd = open_dir_in_root(u->root, parent, &e1);
    if (fd < 0 && e1->errnum == ENOENT) {
        ek_error_clear(&e1);
        /* Create each missing component from the top. */
        ek_autofree char *copy = ek_xstrdup(parent);
        for (char *slash = copy;; slash++) {
            slash = strchrnul(slash, '/');
            char saved = *slash;
            *slash = '\0';
            char *leaf = strrchr(copy, '/');
            ek_autofree char *pp = leaf ? ek_xstrndup(copy, (size_t)(leaf - copy)) : ek_xstrdup("");
            ek_autoclose int pfd = open_dir_in_root(u->root, pp, err);
            if (pfd < 0) {
                return -1;
            }
            if (mkdirat(pfd, leaf ? leaf + 1 : copy, 0755) < 0 && errno != EEXIST) {
                return ek_error_make(err, errno, "mkdir `%s`", copy);
            }
            *slash = saved;
            if (!saved) {
                break;
            }
        }
        fd = open_dir_in_root(u->root, parent, err);
    } else if (fd < 0) {
        if (err && !*err) {
            *err = ek_steal(&e1);
        }
        ek_error_free(e1);
    }
    if (fd < 0) {
        return -1;
    }
    if (u->cache_path) {
        close(u->cache_fd);
        free(u->cache_path);
    }
    u->cache_path = ek_xstrdup(parent);
    u->cache_fd = fd;
    return fd;
}

static void drop_cache(struct unpacker *u)
{
    if (u->cache_path) {
        close(u->cache_fd);
        free(u->cache_path);
        u->cache_path = NULL;
    }
}

/* rm -rf of leaf inside dirfd, never following symlinks. */
static int remove_at(int pfd, const char *leaf)
{
    if (unlinkat(pfd, leaf, 0) == 0 || errno == ENOENT) {
        return 0;
    }
    if (errno != EISDIR && errno != EPERM) {
        return -1;
    }
    int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
            remove_at(dirfd(d), de->d_name) < 0) {
            rc = -1;
        }
    }
    closedir(d);
    return rc < 0 ? -1 : unlinkat(pfd, leaf, AT_REMOVEDIR);
}

static int set_xattr_path(int pfd, const char *leaf, const char *name, const void *v, size_t len,
                          bool follow)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "/proc/self/fd/%d%s%s", pfd, leaf ? "/" : "", leaf ? leaf : "");
    return follow ? setxattr(p, name, v, len, 0) : lsetxattr(p, name, v, len, 0);
}

static int apply_xattrs(struct unpacker *u, int fd, int pfd, const char *leaf,
                        const ek__tar_entry_t *e, ek_error_t **err)
{
    for (size_t i = 0; i < e->n_xattrs; i++) {
        const ek__tar_xattr_t *x = &e->xattrs[i];
        if (ek_has_prefix(x->name, "trusted.overlay.")) {
            continue;
        }
        int r = fd >= 0 ? fsetxattr(fd, x->name, x->value, x->len, 0)
                        : set_xattr_path(pfd, leaf, x->name, x->value, x->len, false);
        if (r < 0) {
            bool privileged =
                ek_has_prefix(x->name, "trusted.") || ek_has_prefix(x->name, "security.");
            if (errno == EOPNOTSUPP || (!u->as_root && privileged && errno == EPERM)) {
                continue; /* a filesystem without xattrs, or an unprivileged unpack */
            }
            return ek_error_make(err, errno, "set xattr %s on `%s`", x->name, e->path);
        }
    }
    return 0;
}

static int write_file(struct unpacker *u, int pfd, const char *leaf, const ek__tar_entry_t *e,
                      ek_error_t **err)
{
    ek_autoclose int fd =
        openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", e->path);
    }
    for (;;) {
        ssize_t r = ek__tar_read(u->t, u->buf, COPY_BUF, err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(fd, u->buf + off, (size_t)(r - off));
            if (w < 0 && errno != EINTR) {
                return ek_error_make(err, errno, "write `%s`", e->path);
            }
            off += w > 0 ? w : 0;
        }
        u->st->bytes += (uint64_t)r;
    }
    if (u->as_root && fchown(fd, e->uid, e->gid) < 0) {
        return ek_error_make(err, errno, "chown `%s`", e->path);
    }
    /* After chown, which clears setuid/setgid bits. */
    if (fchmod(fd, e->mode) < 0) {
        return ek_error_make(err, errno, "chmod `%s`", e->path);
    }
    if (apply_xattrs(u, fd, -1, NULL, e, err) < 0) {
        return -1;
    }
    struct timespec ts[2] = { { e->mtime, e->mtime_nsec }, { e->mtime, e->mtime_nsec } };
    futimens(fd, ts);
    return 0;
}

/* Ownership, mode, xattrs and mtime of a non-regular, non-directory entry. */
static int finish_node(struct unpacker *u, int pfd, const char *leaf, const ek__tar_entry_t *e,
                       ek_error_t **err)
{
    if (u->as_root && fchownat(pfd, leaf, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0) {
        return ek_error_make(err, errno, "chown `%s`", e->path);
    }
    if (e->type != '2' && fchmodat(pfd, leaf, e->mode, 0) < 0) {
        return ek_error_make(err, errno, "chmod `%s`", e->path);
    }
    if (apply_xattrs(u, -1, pfd, leaf, e, err) < 0) {
        return -1;
    }
    struct timespec ts[2] = { { e->mtime, e->mtime_nsec }, { e->mtime, e->mtime_nsec } };
    utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
    return 0;
}

static int hard_link(struct unpacker *u, int pfd, const char *leaf, const ek__tar_entry_t *e,
                     ek_error_t **err)
{
    ek_autofree char *target = clean_path(e->link);
    if (!target || !*target) {
        return ek_error_make(err, 0, "hard link `%s` → `%s` escapes the layer root", e->path,
                             e->link);
    }
    char *slash = strrchr(target, '/');
    ek_autofree char *tparent =
        slash ? ek_xstrndup(target, (size_t)(slash - target)) : ek_xstrdup("");
    ek_autoclose int tfd = open_dir_in_root(u->root, tparent, err);
    if (tfd < 0) {
        return ek_error_wrap(err, "hard link `%s`", e->path);
    }
    if (linkat(tfd, slash ? slash + 1 : target, pfd, leaf, 0) < 0) {
        return ek_error_make(err, errno, "hard link `%s` → `%s`", e->path, e->link);
    }
    return 0;
}

static void remember_dir(struct unpacker *u, const char *path, const ek__tar_entry_t *e)
{
    if (u->n_dirs == u->cap_dirs) {
        u->cap_dirs = u->cap_dirs ? u->cap_dirs * 2 : 64;
        u->dirs = ek_xrealloc(u->dirs, u->cap_dirs * sizeof(*u->dirs));
    }
    u->dirs[u->n_dirs++] =
        (struct dirmeta){ ek_xstrdup(path), e->mode, e->uid, e->gid, { e->mtime, e->mtime_nsec } };
}

static int whiteout(struct unpacker *u, int pfd, const char *path, const char *leaf,
                    ek_error_t **err)
{
    if (strcmp(leaf, ".wh..wh..opq") == 0) {
        if (set_xattr_path(pfd, NULL, "trusted.overlay.opaque", "y", 1, true) < 0 &&
            (u->as_root || set_xattr_path(pfd, NULL, "user.overlay.opaque", "y", 1, true) < 0)) {
            return ek_error_make(err, errno, "mark `%s` opaque", path);
        }
        return 0;
    }
    if (ek_has_prefix(leaf, ".wh..wh.")) {
        return 0; /* aufs bookkeeping (.wh..wh.plnk etc.): meaningless here */
    }
    const char *name = leaf + 4;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strchr(name, '/')) {
        return ek_error_make(err, 0, "bad whiteout `%s`", path);
    }
    /* The cache holds this entry's parent, which stays valid: removals happen inside it. */
    if (remove_at(pfd, name) < 0) {
        return ek_error_make(err, errno, "whiteout `%s`", path);
    }
    if (mknodat(pfd, name, S_IFCHR | 0, makedev(0, 0)) < 0) {
        return ek_error_make(err, errno, "whiteout `%s` (needs root)", path);
    }
    return 0;
}

/* Makes room for a new entry at leaf: an existing directory stays when a directory comes. */
static int make_room(struct unpacker *u, int pfd, const char *leaf, const ek__tar_entry_t *e,
                     bool *keep_dir, ek_error_t **err)
{
    struct stat st;
    *keep_dir = false;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : ek_error_make(err, errno, "stat `%s`", e->path);
    }
    if (S_ISDIR(st.st_mode) && e->type == '5') {
        *keep_dir = true;
        return 0;
    }
    if (remove_at(pfd, leaf) < 0) {
        return ek_error_make(err, errno, "replace `%s`", e->path);
    }
    return 0;
}

static int apply(struct unpacker *u, const ek__tar_entry_t *e, ek_error_t **err)
{
    ek_autofree char *path = clean_path(e->path);
    if (!path) {
        return ek_error_make(err, 0, "entry `%s` escapes the layer root", e->path);
    }
    if (!*path) {
        return 0; /* the root itself: its metadata belongs to the container's upper dir */
    }
    char *slash = strrchr(path, '/');
    ek_autofree char *parent = slash ? ek_xstrndup(path, (size_t)(slash - path)) : ek_xstrdup("");
    const char *leaf = slash ? slash + 1 : path;
    int pfd = open_parent(u, parent, err);
    if (pfd < 0) {
        return ek_error_wrap(err, "entry `%s`", e->path);
    }
    if (ek_has_prefix(leaf, ".wh.")) {
        return whiteout(u, pfd, path, leaf, err);
    }
    bool keep_dir;
    if (make_room(u, pfd, leaf, e, &keep_dir, err) < 0) {
        return -1;
    }
    int r = 0;
    switch (e->type) {
    case '0':
        return write_file(u, pfd, leaf, e, err);
    case '1':
        return hard_link(u, pfd, leaf, e, err);
    case '2':
        r = symlinkat(e->link, pfd, leaf);
        break;
    case '3':
    case '4':
        if (!u->as_root) {
            return 0; /* device nodes need CAP_MKNOD: an unprivileged unpack leaves them out */
        }
        r = mknodat(pfd, leaf, (e->type == '3' ? S_IFCHR : S_IFBLK) | e->mode,
                    makedev(e->devmajor, e->devminor));
        break;
    case '5':
        if (!keep_dir) {
            r = mkdirat(pfd, leaf, 0700);
        }
        if (r == 0) {
            remember_dir(u, path, e);
            return apply_xattrs(u, -1, pfd, leaf, e, err);
        }
        break;
    case '6':
        r = mkfifoat(pfd, leaf, e->mode);
        break;
    }
    if (r < 0) {
        return ek_error_make(err, errno, "create `%s`", e->path);
    }
    return finish_node(u, pfd, leaf, e, err);
}

/* Directories get their final mode, owner and mtime once nothing more is created inside. */
static int finish_dirs(struct unpacker *u, ek_error_t **err)
{
    for (size_t i = u->n_dirs; i-- > 0;) {
        struct dirmeta *d = &u->dirs[i];
        char *slash = strrchr(d->path, '/');
        ek_autofree char *parent =
            slash ? ek_xstrndup(d->path, (size_t)(slash - d->path)) : ek_xstrdup("");
        const char *leaf = slash ? slash + 1 : d->path;
        /* A directory removed again by a later entry of the same layer has nothing to fix. */
        ek_error_t *gone = NULL;
        int pfd = open_parent(u, parent, &gone);
        struct stat st;
        if (pfd < 0 || fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
            ek_error_free(gone);
            continue;
        }
        if (u->as_root && fchownat(pfd, leaf, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0) {
            return ek_error_make(err, errno, "chown `%s`", d->path);
        }
        if (fchmodat(pfd, leaf, d->mode, 0) < 0) {
            return ek_error_make(err, errno, "chmod `%s`", d->path);
        }
        struct timespec ts[2] = { d->mtime, d->mtime };
        utimensat(pfd, leaf, ts, AT_SYMLINK_NOFOLLOW);
    }
    return 0;
}

int ek__unpack(ek__tar_t *t, int dirfd, ek__unpack_stats_t *st, ek_error_t **err)
{
    ek__unpack_stats_t dummy = { 0 };
    struct unpacker u = {
        .t = t,
        .root = dirfd,
        .as_root = geteuid() == 0,
        .buf = ek_xmalloc(COPY_BUF),
        .st = st ? st : &dummy,
    };
    int rc = 0;
    for (;;) {
        const ek__tar_entry_t *e;
        int r = ek__tar_next(t, &e, err);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) {
            rc = finish_dirs(&u, err);
            break;
        }
        if (apply(&u, e, err) < 0) {
            rc = -1;
            break;
        }
        u.st->entries++;
    }
    drop_cache(&u);
    for (size_t i = 0; i < u.n_dirs; i++) {
        free(u.dirs[i].path);
    }
    free(u.dirs);
    free(u.buf);
    return rc;
}
