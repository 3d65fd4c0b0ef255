/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's filesystem, built inside its new mount namespace by its first process:
 * overlayfs (or a bind) root, /proc, a minimal /dev with its own devpts, the pod's /dev/shm,
 * /sys, the kubelet's mounts, Kubernetes' masked and read-only paths, then pivot_root. Every
 * path inside the root is resolved with openat2(RESOLVE_IN_ROOT), so a symlink planted in an
 * image cannot point a mount at the host; mounts then go to /proc/self/fd/N of that result.
 * The order follows crun's (node-facts.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#include "node/runtime/runtime-internal.h"

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#define EK_MOUNT_ATTR_RDONLY 0x00000001ULL
#define EK_OVERLAYFS_MAGIC   0x794c7630

const char *const ek__rt_default_masked[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    NULL,
};
const char *const ek__rt_default_readonly[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

typedef struct fdpath {
    char s[40];
} fdpath_t;

static fdpath_t fdp(int fd)
{
    fdpath_t p;
    snprintf(p.s, sizeof(p.s), "/proc/self/fd/%d", fd);
    return p;
}

static int openat2_in_root(int rootfd, const char *rel, int flags)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
}

/* Opens path (absolute inside the root) as O_PATH, resolving symlinks inside the root. With
 * create, missing components are made: directories, and the last one as a directory or an
 * empty file. Returns the fd, or -1 with errno set (ENOENT without create). */
static int open_in_root(int rootfd, const char *path, bool dir, bool create)
{
    while (*path == '/') {
        path++;
    }
    int fd = openat2_in_root(rootfd, path, O_PATH | (dir ? O_DIRECTORY : 0));
    if (fd >= 0 || errno != ENOENT || !create) {
        return fd;
    }
    char parent[4096];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : parent;
    if (slash) {
        *slash = '\0';
    }
    int pfd = slash ? open_in_root(rootfd, parent, true, true) : dup(rootfd);
    if (pfd < 0) {
        return -1;
    }
    int rc;
    if (dir) {
        rc = mkdirat(pfd, base, 0755);
    } else {
        rc = openat(pfd, base, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (rc >= 0) {
            close(rc);
        }
    }
    int e = errno;
    close(pfd);
    if (rc < 0 && e != EEXIST) {
        errno = e;
        return -1;
    }
    return openat2_in_root(rootfd, path, O_PATH | (dir ? O_DIRECTORY : 0));
}

static int set_readonly(int fd, bool recursive, ek_error_t **err)
{
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = { .attr_set = EK_MOUNT_ATTR_RDONLY };
    unsigned flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    if (syscall(SYS_mount_setattr, fd, "", flags, &attr, sizeof(attr)) == 0) {
        return 0;
    }
    if (errno != ENOSYS) {
        return ek_error_make(err, errno, "make mount read-only");
    }
    /* Kernels before 5.12: a remount keeps the flags the mount has, plus read-only. */
    struct statvfs sv;
    unsigned long keep = 0;
    if (fstatvfs(fd, &sv) == 0) {
        keep = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC);
    }
    if (mount(NULL, fdp(fd).s, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, NULL) < 0) {
        return ek_error_make(err, errno, "remount read-only");
    }
    return 0;
}

static int overlay_opts(const ek_rt_container_spec_t *s, const char *upper, const char *work,
                        bool relative, ek_buf_t *o)
{
    size_t n = 0;
    while (s->layers[n]) {
        n++;
    }
    ek_buf_puts(o, "lowerdir=");
    for (size_t i = n; i-- > 0;) { /* overlayfs lists the top layer first */
        const char *l = s->layers[i];
        if (strpbrk(l, ":,")) {
            return -1;
        }
        if (relative) {
            l = strrchr(l, '/') ? strrchr(l, '/') + 1 : l;
        }
        ek_buf_printf(o, "%s%s", l, i > 0 ? ":" : "");
    }
    ek_buf_printf(o, ",upperdir=%s,workdir=%s", upper, work);
    return 0;
}

/* Layers usually share one parent directory: when the option string would pass the page
 * that mount(2) copies, mount from that directory with relative names. */
static bool layers_share_parent(const char *const *layers, char **parent)
{
    *parent = ek_path_dirname(layers[0]);
    size_t plen = strlen(*parent);
    for (size_t i = 1; layers[i]; i++) {
        if (strncmp(layers[i], *parent, plen) != 0 || layers[i][plen] != '/' ||
            strchr(layers[i] + plen + 1, '/')) {
            return false;
        }
    }
    return true;
}

static int overlay_error(const char *upper, int e, ek_error_t **err)
{
    struct statfs sf;
    if (statfs(upper, &sf) == 0 && (unsigned long)sf.f_type == EK_OVERLAYFS_MAGIC) {
        return ek_error_make(err, e,
                             "mount overlayfs root: the writable layer `%s` is itself on "
                             "overlayfs, which the kernel refuses as an upper dir; put the "
                             "runtime state (or upper_dir) on another filesystem",
                             upper);
    }
    return ek_error_make(err, e, "mount overlayfs root (upper `%s`; the kernel log says why)",
                         upper);
}

static int mount_overlay(const ek__rt_child_t *c, const char *target, ek_error_t **err)
{
    const ek_rt_container_spec_t *s = c->spec;
    ek_autofree char *upper =
        s->upper_dir ? ek_xstrdup(s->upper_dir) : ek_xasprintf("%s/upper", c->ctr_dir);
    ek_autofree char *work =
        s->work_dir ? ek_xstrdup(s->work_dir) : ek_xasprintf("%s/work", c->ctr_dir);
    ek_autobuf o = EK_BUF_INIT;
    if (overlay_opts(s, upper, work, false, &o) < 0) {
        return ek_error_make(err, EINVAL, "layer paths must not contain `:` or `,`");
    }
    if (o.len >= 4000) {
        ek_autofree char *parent = NULL;
        if (!layers_share_parent(s->layers, &parent) || chdir(parent) < 0) {
            return ek_error_make(err, E2BIG, "too many layers for one overlay mount");
        }
        ek_buf_reset(&o);
        overlay_opts(s, upper, work, true, &o);
        if (o.len >= 4000) {
            return ek_error_make(err, E2BIG, "too many layers for one overlay mount");
        }
    }
    if (mount("overlay", target, "overlay", 0, o.data) < 0) {
        return overlay_error(upper, errno, err);
    }
    return 0;
}

static int mount_root(const ek__rt_child_t *c, const char *target, ek_error_t **err)
{
    if (c->spec->layers && c->spec->layers[0]) {
        return mount_overlay(c, target, err);
    }
    if (mount(c->spec->rootfs_dir, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
        return ek_error_make(err, errno, "bind root directory `%s`", c->spec->rootfs_dir);
    }
    return 0;
}

/* Mounts fstype (or binds src when fstype is NULL) on path inside the root. */
static int mount_in(int rootfd, const char *path, bool dir, const char *src, const char *fstype,
                    unsigned long flags, const char *data, ek_error_t **err)
{
    ek_autoclose int fd = open_in_root(rootfd, path, dir, true);
    if (fd < 0) {
        return ek_error_make(err, errno, "mount point `%s`", path);
    }
    if (mount(src, fdp(fd).s, fstype, flags, data) < 0) {
        return ek_error_make(err, errno, "mount %s on `%s`", fstype ? fstype : src, path);
    }
    return 0;
}

static const struct {
    const char *name;
    unsigned maj, min;
} devices[] = {
    { "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
    { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const char *const dev_links[][2] = {
    { "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
    { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
    { "ptmx", "pts/ptmx" },          { "core", "/proc/kcore" },
};

/* Privileged containers see the host's devices (top level of /dev), as with containerd. */
static void copy_host_devices(int devfd)
{
    DIR *d = opendir("/dev");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
            mknodat(devfd, de->d_name, st.st_mode, st.st_rdev);
        }
    }
    if (d) {
        closedir(d);
    }
}

static int setup_dev(const ek__rt_child_t *c, int rootfd, ek_error_t **err)
{
    if (mount_in(rootfd, "/dev", true, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
                 "mode=755,size=65536k", err) < 0) {
        return -1;
    }
    ek_autoclose int devfd = open_in_root(rootfd, "/dev", true, false);
    if (devfd < 0) {
        return ek_error_make(err, errno, "open /dev");
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(devices); i++) {
        if (mknodat(devfd, devices[i].name, S_IFCHR | 0666,
                    makedev(devices[i].maj, devices[i].min)) < 0) {
            return ek_error_make(err, errno, "mknod /dev/%s", devices[i].name);
        }
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(dev_links); i++) {
        if (symlinkat(dev_links[i][1], devfd, dev_links[i][0]) < 0) {
            return ek_error_make(err, errno, "symlink /dev/%s", dev_links[i][0]);
        }
    }
    if (c->spec->privileged) {
        copy_host_devices(devfd);
    }
    if (mount_in(rootfd, "/dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0 ||
        mount_in(rootfd, "/dev/mqueue", true, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                 NULL, err) < 0) {
        return -1;
    }
    if (c->shm_dir) {
        return mount_in(rootfd, "/dev/shm", true, c->shm_dir, NULL, MS_BIND | MS_REC, NULL, err);
    }
    return mount_in(rootfd, "/dev/shm", true, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                    "mode=1777,size=65536k", err);
}

static int setup_sys(const ek__rt_child_t *c, int rootfd, ek_error_t **err)
{
    unsigned long ro = c->spec->privileged ? 0 : MS_RDONLY;
    unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | ro;
    ek_autoclose int fd = open_in_root(rootfd, "/sys", true, true);
    if (fd < 0) {
        return ek_error_make(err, errno, "mount point /sys");
    }
    if (mount("sysfs", fdp(fd).s, "sysfs", flags, NULL) < 0) {
        /* sysfs cannot be mounted from a network namespace we do not own: bind the host's. */
        if (mount("/sys", fdp(fd).s, NULL, MS_BIND | MS_REC, NULL) < 0) {
            return ek_error_make(err, errno, "mount /sys");
        }
        ek_autoclose int bfd = open_in_root(rootfd, "/sys", true, false);
        if (ro && (bfd < 0 || set_readonly(bfd, true, err) < 0)) {
            return -1;
        }
    }
    if (c->cgroup_version == 2) {
        return mount_in(rootfd, "/sys/fs/cgroup", true, "cgroup2", "cgroup2", flags, NULL, err);
    }
    return 0;
}

static unsigned long prop_flag(ek_rt_propagation_t p)
{
    return p == EK_RT_PROP_BIDIRECTIONAL       ? MS_SHARED
           : p == EK_RT_PROP_HOST_TO_CONTAINER ? MS_SLAVE
                                               : MS_PRIVATE;
}

static int user_mount(int rootfd, const ek_rt_mount_t *m, ek_error_t **err)
{
    if (m->tmpfs) {
        if (mount_in(rootfd, m->destination, true, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                     m->options, err) < 0) {
            return -1;
        }
    } else {
        ek_autoclose int src = open(m->source, O_PATH | O_CLOEXEC);
        struct stat st;
        if (src < 0 || fstat(src, &st) < 0) {
            return ek_error_make(err, errno, "mount source `%s`", m->source);
        }
        if (mount_in(rootfd, m->destination, S_ISDIR(st.st_mode), fdp(src).s, NULL,
                     MS_BIND | MS_REC, NULL, err) < 0) {
            return -1;
        }
    }
    ek_autoclose int fd = open_in_root(rootfd, m->destination, false, false);
    if (fd < 0) {
        return ek_error_make(err, errno, "reopen `%s`", m->destination);
    }
    if (mount(NULL, fdp(fd).s, NULL, MS_REC | prop_flag(m->propagation), NULL) < 0) {
        return ek_error_make(err, errno, "set propagation of `%s`", m->destination);
    }
    if (m->readonly && set_readonly(fd, true, err) < 0) {
        return ek_error_wrap(err, "`%s`", m->destination);
    }
    return 0;
}

static size_t depth(const char *p)
{
    size_t d = 0;
    for (; *p; p++) {
        d += *p == '/' && p[1] && p[1] != '/';
    }
    return d;
}

/* The kubelet's mounts, parents before children (stable by depth, as containerd sorts). */
static int user_mounts(const ek_rt_container_spec_t *s, int rootfd, ek_error_t **err)
{
    for (size_t want = 0, done = 0; done < s->n_mounts; want++) {
        for (size_t i = 0; i < s->n_mounts; i++) {
            if (depth(s->mounts[i].destination) != want) {
                continue;
            }
            if (user_mount(rootfd, &s->mounts[i], err) < 0) {
                return -1;
            }
            done++;
        }
        if (want > 4096) {
            break;
        }
    }
    return 0;
}

static int mask_paths(const char *const *paths, int rootfd, ek_error_t **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        ek_autoclose int fd = open_in_root(rootfd, paths[i], false, false);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            continue; /* absent paths need no mask */
        }
        int rc = S_ISDIR(st.st_mode)
                     ? mount("tmpfs", fdp(fd).s, "tmpfs", MS_RDONLY, "size=0k,mode=555")
                     : mount("/dev/null", fdp(fd).s, NULL, MS_BIND, NULL);
        if (rc < 0) {
            return ek_error_make(err, errno, "mask `%s`", paths[i]);
        }
    }
    return 0;
}

static int readonly_paths(const char *const *paths, int rootfd, ek_error_t **err)
{
    for (size_t i = 0; paths && paths[i]; i++) {
        ek_autoclose int fd = open_in_root(rootfd, paths[i], false, false);
        if (fd < 0) {
            continue;
        }
        if (mount(fdp(fd).s, fdp(fd).s, NULL, MS_BIND | MS_REC, NULL) < 0) {
            return ek_error_make(err, errno, "bind `%s`", paths[i]);
        }
        ek_autoclose int nfd = open_in_root(rootfd, paths[i], false, false);
        if (nfd < 0 || set_readonly(nfd, true, err) < 0) {
            return ek_error_wrap(err, "read-only `%s`", paths[i]);
        }
    }
    return 0;
}

static int pivot(int rootfd, bool readonly, ek_error_t **err)
{
    ek_autoclose int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (oldroot < 0 || fchdir(rootfd) < 0) {
        return ek_error_make(err, errno, "enter new root");
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        return ek_error_make(err, errno, "pivot_root");
    }
    /* The old root now sits on top of the new one: detach it without touching the host. */
    if (fchdir(oldroot) < 0 || mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
        umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
        return ek_error_make(err, errno, "detach old root");
    }
    if (readonly) {
        ek_autoclose int fd = open("/", O_PATH | O_CLOEXEC);
        if (fd < 0 || set_readonly(fd, false, err) < 0) {
            return ek_error_wrap(err, "read-only root filesystem");
        }
    }
    return 0;
}

int ek__rt_setup_rootfs(const ek__rt_child_t *c, ek_error_t **err)
{
    const ek_rt_container_spec_t *s = c->spec;
    /* Nothing we mount may reach the host; host mounts still reach us (rslave). */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
        return ek_error_make(err, errno, "make mounts private");
    }
    ek_autofree char *target = ek_xasprintf("%s/rootfs", c->ctr_dir);
    if (mount_root(c, target, err) < 0) {
        return -1;
    }
    ek_autoclose int rootfd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return ek_error_make(err, errno, "open root `%s`", target);
    }
    umask(0);
    if (mount_in(rootfd, "/proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
                 err) < 0 ||
        setup_dev(c, rootfd, err) < 0 || setup_sys(c, rootfd, err) < 0 ||
        user_mounts(s, rootfd, err) < 0) {
        return -1;
    }
    if (!s->privileged && !s->unmasked_proc) {
        if (mask_paths(s->masked_paths ? s->masked_paths : ek__rt_default_masked, rootfd, err) <
                0 ||
            readonly_paths(s->readonly_paths ? s->readonly_paths : ek__rt_default_readonly, rootfd,
                           err) < 0) {
            return -1;
        }
    }
    umask(022);
    return pivot(rootfd, s->readonly_rootfs, err);
}
