/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups for pods and containers, v1 and v2 alike: the layout is found once (v2 when the
 * root has cgroup.controllers, else one v1 hierarchy per controller we use), and a cgroup is
 * then just one directory per hierarchy. Limits follow the kubelet's mapping (cpu.shares ->
 * cpu.weight on v2). Everything writes plain files; nothing is cached, because the shim that
 * owns a cgroup may be restarted into by a new agent at any time.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "node/runtime/runtime-internal.h"

/* v1 controllers we place containers in, in this order. */
static const char *const v1_controllers[] = { "memory", "cpu", "cpuacct", "pids", "devices" };
/* v2 controllers enabled down our subtree when the parent offers them. */
static const char *const v2_controllers[] = { "cpu", "memory", "pids", "io", "hugetlb" };

void ek__cg_free(ek__cg_t *cg)
{
    for (size_t i = 0; i < cg->n; i++) {
        free(cg->name[i]);
        free(cg->dir[i]);
    }
    memset(cg, 0, sizeof(*cg));
}

static void cg_add(ek__cg_t *cg, const char *name, char *dir)
{
    ek_assert(cg->n < EK__RT_MAX_HIER);
    cg->name[cg->n] = ek_xstrdup(name);
    cg->dir[cg->n] = dir;
    cg->n++;
}

/* This process's cgroup path in the hierarchy of controller (v2: NULL), from /proc/self/cgroup;
 * "" when not found. Caller frees. */
static char *self_cgroup(const char *controller)
{
    ek_autofree char *data = ek_file_read("/proc/self/cgroup", 65536, NULL, NULL);
    if (!data) {
        return ek_xstrdup("");
    }
    size_t clen = controller ? strlen(controller) : 0;
    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        char *c1 = strchr(line, ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
            continue;
        }
        *c2 = '\0';
        const char *list = c1 + 1, *path = c2 + 1;
        if (!controller) {
            if (*list == '\0' && strcmp(path, "/") != 0) {
                return ek_xstrdup(path);
            }
            continue;
        }
        for (const char *p = list; *p;) {
            const char *comma = strchrnul(p, ',');
            if ((size_t)(comma - p) == clen && strncmp(p, controller, clen) == 0) {
                return ek_xstrdup(strcmp(path, "/") == 0 ? "" : path);
            }
            p = *comma ? comma + 1 : comma;
        }
    }
    return ek_xstrdup("");
}

static char *parent_dir(const char *mount, const char *self, const char *parent)
{
    return ek_xasprintf("%s%s/%s", mount, self, parent);
}

static int layout_v1(const char *root, const char *parent, bool nested, ek__cg_t *out,
                     ek_error_t **err)
{
    dev_t devs[EK__RT_MAX_HIER];
    ino_t inos[EK__RT_MAX_HIER];
    for (size_t i = 0; i < EK_ARRAY_SIZE(v1_controllers); i++) {
        ek_autofree char *mount = ek_xasprintf("%s/%s", root, v1_controllers[i]);
        struct stat st;
        if (stat(mount, &st) < 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        bool dup = false; /* cpu and cpuacct are often one hierarchy */
        for (size_t j = 0; j < out->n; j++) {
            dup = dup || (devs[j] == st.st_dev && inos[j] == st.st_ino);
        }
        if (dup) {
            continue;
        }
        devs[out->n] = st.st_dev;
        inos[out->n] = st.st_ino;
        ek_autofree char *self = nested ? self_cgroup(v1_controllers[i]) : ek_xstrdup("");
        cg_add(out, v1_controllers[i], parent_dir(mount, self, parent));
    }
    if (out->n == 0 || strcmp(out->name[0], "memory") != 0) {
        ek__cg_free(out);
        return ek_error_make(err, ENOENT,
                             "no cgroup v1 memory controller under `%s` (enable it: "
                             "cgroup_enable=memory on the kernel command line)",
                             root);
    }
    return 0;
}

int ek__cg_layout(const char *root, const char *parent, bool nested, ek__cg_t *out,
                  ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    ek_autofree char *probe = ek_xasprintf("%s/cgroup.controllers", root);
    if (ek_path_exists(probe)) {
        out->version = 2;
        ek_autofree char *self = nested ? self_cgroup(NULL) : ek_xstrdup("");
        cg_add(out, "unified", parent_dir(root, self, parent));
        return 0;
    }
    out->version = 1;
    return layout_v1(root, parent, nested, out, err);
}

void ek__cg_child(const ek__cg_t *base, const char *rel, ek__cg_t *out)
{
    memset(out, 0, sizeof(*out));
    out->version = base->version;
    for (size_t i = 0; i < base->n; i++) {
        cg_add(out, base->name[i], ek_xasprintf("%s/%s", base->dir[i], rel));
    }
}

json_t *ek__cg_to_json(const ek__cg_t *cg)
{
    json_t *h = json_array();
    for (size_t i = 0; i < cg->n; i++) {
        json_array_append_new(h, json_pack("{s:s,s:s}", "name", cg->name[i], "dir", cg->dir[i]));
    }
    return json_pack("{s:i,s:o}", "version", cg->version, "hierarchies", h);
}

int ek__cg_from_json(const json_t *j, ek__cg_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    out->version = (int)ek_json_int(j, 0, "version", NULL);
    json_t *h = ek_json_path(j, "hierarchies", NULL);
    if ((out->version != 1 && out->version != 2) || !json_is_array(h) ||
        json_array_size(h) > EK__RT_MAX_HIER) {
        return ek_error_make(err, EINVAL, "bad cgroup record");
    }
    size_t i;
    json_t *e;
    json_array_foreach (h, i, e) {
        const char *name = ek_json_str(e, "name", NULL), *dir = ek_json_str(e, "dir", NULL);
        if (!name || !dir || dir[0] != '/') {
            ek__cg_free(out);
            return ek_error_make(err, EINVAL, "bad cgroup record");
        }
        cg_add(out, name, ek_xstrdup(dir));
    }
    return 0;
}

static int write_str(const char *dir, const char *file, const char *val, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/%s", dir, file);
    ek_autoclose int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && strchr(file, '.') && !ek_has_prefix(file, "cgroup.")) {
        /* Raspberry Pi OS ships with the memory controller off. */
        return ek_error_make(err, errno,
                             "`%s`: is the %.*s controller enabled (for memory on a Raspberry "
                             "Pi: cgroup_enable=memory in cmdline.txt)?",
                             path, (int)strcspn(file, "."), file);
    }
    if (fd < 0) {
        return ek_error_make(err, errno, "open `%s`", path);
    }
    size_t len = strlen(val);
    if (write(fd, val, len) != (ssize_t)len) {
        return ek_error_make(err, errno, "write `%s` to `%s`", val, path);
    }
    return 0;
}

static int write_fmt(const char *dir, const char *file, ek_error_t **err, const char *fmt, ...)
    EK_PRINTF(4, 5);
static int write_fmt(const char *dir, const char *file, ek_error_t **err, const char *fmt, ...)
{
    char val[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    return write_str(dir, file, val, err);
}

/* Enables in dir's subtree every wanted controller that dir offers and has not enabled. */
static int enable_subtree(const char *dir, ek_error_t **err)
{
    ek_autofree char *cpath = ek_xasprintf("%s/cgroup.controllers", dir);
    ek_autofree char *spath = ek_xasprintf("%s/cgroup.subtree_control", dir);
    ek_autofree char *offered = ek_file_read(cpath, 4096, NULL, NULL);
    ek_autofree char *enabled = ek_file_read(spath, 4096, NULL, NULL);
    if (!offered || !enabled) {
        return 0;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(v2_controllers); i++) {
        const char *c = v2_controllers[i];
        char word[32];
        snprintf(word, sizeof(word), " %s ", c);
        ek_autofree char *o = ek_xasprintf(" %s ", offered), *e = ek_xasprintf(" %s ", enabled);
        for (char *p = o; *p; p++) {
            *p = *p == '\n' ? ' ' : *p;
        }
        for (char *p = e; *p; p++) {
            *p = *p == '\n' ? ' ' : *p;
        }
        if (!strstr(o, word) || strstr(e, word)) {
            continue;
        }
        if (write_fmt(dir, "cgroup.subtree_control", err, "+%s", c) < 0) {
            return -1;
        }
    }
    return 0;
}

int ek__cg_create(const ek__cg_t *cg, int top, ek_error_t **err)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (ek_mkdir_p(cg->dir[i], 0755, err) < 0) {
            return ek_error_wrap(err, "create cgroup");
        }
        if (cg->version != 2) {
            continue;
        }
        /* Walk up `top` levels, then enable controllers on the way back down. */
        ek_autofree char *path = ek_xstrdup(cg->dir[i]);
        char *cuts[64];
        int ncut = 0;
        for (int lvl = 0; lvl < top && ncut < 64; lvl++) {
            char *slash = strrchr(path, '/');
            if (!slash || slash == path) {
                break;
            }
            *slash = '\0';
            cuts[ncut++] = slash;
        }
        for (int k = ncut - 1; k >= 0; k--) {
            if (enable_subtree(path, err) < 0) {
                return ek_error_wrap(err, "enable cgroup controllers");
            }
            *cuts[k] = '/';
        }
    }
    return 0;
}

uint64_t ek__cg_shares_to_weight(uint64_t shares)
{
    if (shares < 2) {
        shares = 2;
    }
    if (shares > 262144) {
        shares = 262144;
    }
    return 1 + ((shares - 2) * 9999) / 262142;
}

static int limits_v1(const char *name, const char *dir, const ek_rt_resources_t *r,
                     ek_error_t **err)
{
    if (strcmp(name, "memory") == 0 && r->memory_limit > 0) {
        return write_fmt(dir, "memory.limit_in_bytes", err, "%lld", (long long)r->memory_limit);
    }
    if (strcmp(name, "cpu") == 0) {
        int64_t period = r->cpu_period_us > 0 ? r->cpu_period_us : 100000;
        if (r->cpu_quota_us > 0 &&
            (write_fmt(dir, "cpu.cfs_period_us", err, "%lld", (long long)period) < 0 ||
             write_fmt(dir, "cpu.cfs_quota_us", err, "%lld", (long long)r->cpu_quota_us) < 0)) {
            return -1;
        }
        if (r->cpu_shares > 0) {
            return write_fmt(dir, "cpu.shares", err, "%lld", (long long)r->cpu_shares);
        }
    }
    if (strcmp(name, "pids") == 0 && r->pids_limit > 0) {
        return write_fmt(dir, "pids.max", err, "%lld", (long long)r->pids_limit);
    }
    return 0;
}

static int limits_v2(const char *dir, const ek_rt_resources_t *r, ek_error_t **err)
{
    if (r->memory_limit > 0) {
        if (write_fmt(dir, "memory.max", err, "%lld", (long long)r->memory_limit) < 0) {
            return -1;
        }
        /* Like the kubelet without swap: a limit that swap cannot dodge. */
        ek_autofree char *swap = ek_xasprintf("%s/memory.swap.max", dir);
        if (ek_path_exists(swap)) {
            write_str(dir, "memory.swap.max", "0", NULL);
        }
    }
    if (r->cpu_quota_us > 0) {
        int64_t period = r->cpu_period_us > 0 ? r->cpu_period_us : 100000;
        if (write_fmt(dir, "cpu.max", err, "%lld %lld", (long long)r->cpu_quota_us,
                      (long long)period) < 0) {
            return -1;
        }
    }
    if (r->cpu_shares > 0 &&
        write_fmt(dir, "cpu.weight", err, "%llu",
                  (unsigned long long)ek__cg_shares_to_weight((uint64_t)r->cpu_shares)) < 0) {
        return -1;
    }
    if (r->pids_limit > 0 &&
        write_fmt(dir, "pids.max", err, "%lld", (long long)r->pids_limit) < 0) {
        return -1;
    }
    return 0;
}

int ek__cg_set_limits(const ek__cg_t *cg, const ek_rt_resources_t *r, ek_error_t **err)
{
    for (size_t i = 0; i < cg->n; i++) {
        int rc = cg->version == 2 ? limits_v2(cg->dir[i], r, err)
                                  : limits_v1(cg->name[i], cg->dir[i], r, err);
        if (rc < 0) {
            return ek_error_wrap(err, "set cgroup limits");
        }
    }
    return 0;
}

/* The devices every container gets (as runc's default allow list). */
static const char *const default_devices[] = {
    "c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm",   "c 1:7 rwm",    "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm", /* /dev/net/tun */
};

int ek__cg_set_devices(const ek__cg_t *cg, bool privileged, ek_error_t **err)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->version != 1 || strcmp(cg->name[i], "devices") != 0) {
            continue;
        }
        if (privileged) {
            return write_str(cg->dir[i], "devices.allow", "a", err);
        }
        if (write_str(cg->dir[i], "devices.deny", "a", err) < 0) {
            return -1;
        }
        for (size_t d = 0; d < EK_ARRAY_SIZE(default_devices); d++) {
            if (write_str(cg->dir[i], "devices.allow", default_devices[d], err) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

int ek__cg_enter(const ek__cg_t *cg, pid_t pid, ek_error_t **err)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (write_fmt(cg->dir[i], "cgroup.procs", err, "%d", (int)pid) < 0) {
            return ek_error_wrap(err, "join cgroup");
        }
    }
    return 0;
}

static uint64_t read_key(const char *path, const char *key)
{
    ek_autofree char *data = ek_file_read(path, 65536, NULL, NULL);
    if (!data) {
        return 0;
    }
    size_t klen = strlen(key);
    for (char *p = data; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, klen) == 0 && p[klen] == ' ') {
            return strtoull(p + klen + 1, NULL, 10);
        }
    }
    return 0;
}

uint64_t ek__cg_oom_kills(const ek__cg_t *cg)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->version == 2) {
            ek_autofree char *p = ek_xasprintf("%s/memory.events", cg->dir[i]);
            return read_key(p, "oom_kill");
        }
        if (strcmp(cg->name[i], "memory") == 0) {
            ek_autofree char *p = ek_xasprintf("%s/memory.oom_control", cg->dir[i]);
            return read_key(p, "oom_kill");
        }
    }
    return 0;
}

static void kill_procs(const char *dir)
{
    ek_autofree char *kill_file = ek_xasprintf("%s/cgroup.kill", dir);
    if (ek_path_exists(kill_file) && write_str(dir, "cgroup.kill", "1", NULL) == 0) {
        return;
    }
    ek_autofree char *procs = ek_xasprintf("%s/cgroup.procs", dir);
    ek_autofree char *data = ek_file_read(procs, 1 << 20, NULL, NULL);
    for (char *p = data; p && *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
        }
        p = end + (*end != '\0');
    }
}

/* rmdir of a cgroup tree, leaves first; processes still inside are killed. */
static int remove_tree(const char *dir, ek_error_t **err)
{
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : ek_error_make(err, errno, "open cgroup `%s`", dir);
    }
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_type == DT_DIR && strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            ek_autofree char *sub = ek_xasprintf("%s/%s", dir, de->d_name);
            rc = remove_tree(sub, err);
        }
    }
    closedir(d);
    if (rc < 0) {
        return rc;
    }
    /* A killed process leaves the cgroup only once reaped: retry for up to ~2 s. */
    for (int attempt = 0; attempt < 400; attempt++) {
        if (rmdir(dir) == 0 || errno == ENOENT) {
            return 0;
        }
        if (errno != EBUSY) {
            break;
        }
        kill_procs(dir);
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    return ek_error_make(err, errno, "remove cgroup `%s`", dir);
}

int ek__cg_remove(const ek__cg_t *cg, ek_error_t **err)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (remove_tree(cg->dir[i], err) < 0) {
            return -1;
        }
    }
    return 0;
}
