/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a node needs from its host, read from what the running kernel says about itself:
 * release, configuration (/proc/config.gz when the kernel has it), cgroup layout and
 * controllers, overlayfs, FUSE. `edgek check-config` adds the live probes and prints the
 * report. Every path is read below a root prefix, so the unit tests feed crafted files —
 * the Raspberry Pi case of a disabled memory controller above all, since that is the failure
 * users meet first and the fix (a line in cmdline.txt) must be exact.
 */
#include <stdarg.h>
#include <sys/stat.h>
#include <zlib.h>

#include "node/node.h"

#define PROC_MAX   (1u << 20)
#define CONFIG_MAX (8u << 20)

ek_hc_item_t *ek_hc_add(ek_hc_report_t *r, const char *section, const char *name, bool required,
                        ek_hc_state_t state, const char *fmt, ...)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->items = ek_xrealloc(r->items, r->cap * sizeof(*r->items));
    }
    ek_hc_item_t *it = &r->items[r->n++];
    memset(it, 0, sizeof(*it));
    snprintf(it->section, sizeof(it->section), "%s", section);
    snprintf(it->name, sizeof(it->name), "%s", name);
    it->required = required;
    it->state = state;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof(it->detail), fmt, ap);
    va_end(ap);
    return it;
}

void ek_hc_report_free(ek_hc_report_t *r)
{
    free(r->items);
    memset(r, 0, sizeof(*r));
}

size_t ek_hc_count(const ek_hc_report_t *r, bool required, ek_hc_state_t state)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        n += r->items[i].required == required && r->items[i].state == state;
    }
    return n;
}

/* Reads <root><path>; NULL if it cannot be read. Caller frees. */
static char *read_under(const char *root, const char *path, size_t max)
{
    ek_autofree char *full = ek_xasprintf("%s%s", root, path);
    ek_error_t *err = NULL;
    char *text = ek_file_read(full, max, NULL, &err);
    ek_error_free(err);
    return text;
}

/* ---- parsers ---- */

int ek_hc_proc_cgroups(const char *text, const char *name, int *hierarchy, int *enabled)
{
    size_t nlen = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (*l == '#' || strncmp(l, name, nlen) != 0 || (l[nlen] != '\t' && l[nlen] != ' ')) {
            continue;
        }
        int h = 0, num = 0, en = 0;
        if (sscanf(l + nlen, "%d %d %d", &h, &num, &en) != 3) {
            return 0;
        }
        *hierarchy = h;
        *enabled = en;
        return 1;
    }
    return 0;
}

bool ek_hc_filesystems_has(const char *text, const char *fs)
{
    size_t flen = strlen(fs);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        /* "nodev\toverlay" or "\text4": the name is the last field. */
        const char *end = strchr(l, '\n');
        size_t len = end ? (size_t)(end - l) : strlen(l);
        while (len > 0 && (l[len - 1] == ' ' || l[len - 1] == '\t' || l[len - 1] == '\r')) {
            len--;
        }
        if (len >= flen && strncmp(l + len - flen, fs, flen) == 0 &&
            (len == flen || l[len - flen - 1] == '\t' || l[len - flen - 1] == ' ')) {
            return true;
        }
    }
    return false;
}

/* A comma-separated list names item. */
static bool list_has(const char *list, size_t len, const char *item)
{
    size_t ilen = strlen(item);
    const char *p = list, *end = list + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if ((size_t)(e - p) == ilen && strncmp(p, item, ilen) == 0) {
            return true;
        }
        p = e + 1;
    }
    return false;
}

int ek_hc_cmdline_cgroup(const char *cmdline, const char *controller)
{
    int state = -1;
    const char *p = cmdline;
    while (*p) {
        p += strspn(p, " \t\r\n");
        size_t len = strcspn(p, " \t\r\n");
        if (len == 0) {
            break;
        }
        if (len == 2 && strncmp(p, "--", 2) == 0) {
            break; /* the rest belongs to init */
        }
        if (len > 15 && strncmp(p, "cgroup_disable=", 15) == 0 &&
            list_has(p + 15, len - 15, controller)) {
            state = 0;
        } else if (len > 14 && strncmp(p, "cgroup_enable=", 14) == 0 &&
                   list_has(p + 14, len - 14, controller)) {
            state = 1;
        } else if (strcmp(controller, "memory") == 0 && len == 15 &&
                   strncmp(p, "cgroup_memory=", 14) == 0 && (p[14] == '0' || p[14] == '1')) {
            state = p[14] - '0';
        }
        p += len;
    }
    return state;
}

char ek_hc_config_value(const char *config, const char *option)
{
    size_t olen = strlen(option);
    for (const char *l = config; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, "CONFIG_", 7) == 0 && strncmp(l + 7, option, olen) == 0 &&
            l[7 + olen] == '=') {
            char v = l[8 + olen];
            return v == 'y' || v == 'm' ? v : 0;
        }
    }
    return 0;
}

int ek_hc_parse_release(const char *release, int *major, int *minor)
{
    return sscanf(release, "%d.%d", major, minor) == 2 ? 0 : -1;
}

/* ---- kernel ---- */

void ek_hc_kernel_version(ek_hc_report_t *r, const char *root)
{
    ek_autofree char *rel = read_under(root, "/proc/sys/kernel/osrelease", 4096);
    int major = 0, minor = 0;
    if (!rel || ek_hc_parse_release(rel, &major, &minor) < 0) {
        ek_hc_add(r, "kernel", "version", true, EK_HC_UNKNOWN, "cannot read the kernel release");
        return;
    }
    rel[strcspn(rel, "\n")] = 0;
    bool ok = major > EK_HC_MIN_KERNEL_MAJOR ||
              (major == EK_HC_MIN_KERNEL_MAJOR && minor >= EK_HC_MIN_KERNEL_MINOR);
    ek_hc_item_t *it = ek_hc_add(r, "kernel", "version", true, ok ? EK_HC_OK : EK_HC_MISSING,
                                 "%s (%d.%d or newer needed)", rel, EK_HC_MIN_KERNEL_MAJOR,
                                 EK_HC_MIN_KERNEL_MINOR);
    if (!ok) {
        snprintf(it->fix, sizeof(it->fix),
                 "upgrade the kernel (Debian 11 and Raspberry Pi OS 11 or newer have one)");
    }
}

/* Reads a gzip file whole (at most max bytes). Caller frees; NULL on failure. */
static char *read_gz(const char *path, size_t max)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = ek_xmalloc(cap + 1);
    int n;
    while ((n = gzread(gz, buf + len, (unsigned)(cap - len))) > 0) {
        len += (size_t)n;
        if (len == cap) {
            if (cap >= max) {
                break;
            }
            cap *= 2;
            buf = ek_xrealloc(buf, cap + 1);
        }
    }
    gzclose(gz);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    buf[len] = 0;
    return buf;
}

static const struct config_opt {
    const char *name;
    bool required;
    const char *what;
} config_opts[] = {
    { "NAMESPACES", true, "namespaces" },
    { "NET_NS", true, "network namespaces" },
    { "PID_NS", true, "PID namespaces" },
    { "IPC_NS", true, "IPC namespaces" },
    { "UTS_NS", true, "UTS namespaces" },
    { "CGROUPS", true, "cgroups" },
    { "CGROUP_SCHED", true, "cpu controller" },
    { "CPUSETS", true, "cpuset controller" },
    { "MEMCG", true, "memory controller" },
    { "CGROUP_PIDS", true, "pids controller" },
    { "OVERLAY_FS", true, "container roots" },
    { "POSIX_MQUEUE", true, "/dev/mqueue in containers" },
    { "VETH", true, "pod interfaces" },
    { "BRIDGE", true, "bridge ek0" },
    { "NF_TABLES", true, "nftables" },
    { "NF_CONNTRACK", true, "connection tracking" },
    { "NF_NAT", true, "NAT" },
    { "NFT_CT", true, "nft ct expressions" },
    { "NFT_NAT", true, "nft dnat/masquerade" },
    { "NFT_NUMGEN", true, "service load balancing" },
    { "NFT_FIB_IPV4", true, "hostPort rules" },
    { "USER_NS", false, "user namespaces" },
    { "CGROUP_DEVICE", false, "devices controller (cgroup v1)" },
    { "CGROUP_FREEZER", false, "freezer controller (cgroup v1)" },
    { "CGROUP_CPUACCT", false, "cpuacct controller (cgroup v1)" },
    { "CFS_BANDWIDTH", false, "CPU limits" },
    { "CGROUP_HUGETLB", false, "hugetlb controller" },
    { "BLK_CGROUP", false, "io controller" },
    { "VXLAN", false, "VXLAN backend" },
    { "BRIDGE_NETFILTER", false, "netfilter on bridged traffic" },
    { "SECCOMP", false, "seccomp" },
    { "FUSE_FS", false, "FUSE volumes" },
};

void ek_hc_kernel_config(ek_hc_report_t *r, const char *root)
{
    ek_autofree char *gzpath = ek_xasprintf("%s/proc/config.gz", root);
    ek_autofree char *config = read_gz(gzpath, CONFIG_MAX);
    ek_autofree char *from = ek_xstrdup("/proc/config.gz");
    if (!config) {
        ek_autofree char *rel = read_under(root, "/proc/sys/kernel/osrelease", 4096);
        if (rel) {
            rel[strcspn(rel, "\n")] = 0;
            free(from);
            from = ek_xasprintf("/boot/config-%s", rel);
            config = read_under(root, from, CONFIG_MAX);
        }
    }
    if (!config) {
        ek_hc_add(r, "kernel", "config", false, EK_HC_UNKNOWN,
                  "neither /proc/config.gz nor %s: the live probes decide", from);
        return;
    }
    ek_hc_add(r, "kernel", "config", false, EK_HC_OK, "read from %s", from);
    for (size_t i = 0; i < EK_ARRAY_SIZE(config_opts); i++) {
        const struct config_opt *o = &config_opts[i];
        char v = ek_hc_config_value(config, o->name);
        char name[40];
        snprintf(name, sizeof(name), "CONFIG_%s", o->name);
        ek_hc_add(r, "kernel", name, o->required, v ? EK_HC_OK : EK_HC_MISSING, "%s (%s)",
                  v == 'y'   ? "built in"
                  : v == 'm' ? "module"
                             : "not set",
                  o->what);
    }
}

/* ---- filesystems and devices ---- */

bool ek_hc_overlay_listed(const char *root)
{
    ek_autofree char *fs = read_under(root, "/proc/filesystems", PROC_MAX);
    return fs && ek_hc_filesystems_has(fs, "overlay");
}

void ek_hc_fuse(ek_hc_report_t *r, const char *root)
{
    ek_autofree char *path = ek_xasprintf("%s/dev/fuse", root);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISCHR(st.st_mode)) {
        ek_hc_add(r, "devices", "fuse", false, EK_HC_OK, "/dev/fuse (for FUSE volumes)");
        return;
    }
    ek_hc_item_t *it = ek_hc_add(r, "devices", "fuse", false, EK_HC_MISSING,
                                 "no /dev/fuse (needed only by FUSE volumes)");
    snprintf(it->fix, sizeof(it->fix), "modprobe fuse");
}

/* ---- cgroups ---- */

/* What mountinfo says about cgroups: v2's mount point and the v1 controllers mounted. */
struct cg_layout {
    char v2_mount[256];
    char v1_opts[1024]; /* ",rw,cpu,cpuacct,rw,memory,...," */
};

/* Fills l from one mountinfo line ("36 25 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup
 * rw,memory"). */
static void layout_line(struct cg_layout *l, const char *line)
{
    char mnt[256], fstype[32], opts[512];
    const char *sep = strstr(line, " - ");
    if (!sep || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
        sscanf(sep + 3, "%31s %*s %511s", fstype, opts) != 2) {
        return;
    }
    if (strcmp(fstype, "cgroup2") == 0) {
        /* The unified root wins over a hybrid system's /sys/fs/cgroup/unified. */
        if (!l->v2_mount[0] || strcmp(mnt, "/sys/fs/cgroup") == 0) {
            snprintf(l->v2_mount, sizeof(l->v2_mount), "%s", mnt);
        }
    } else if (strcmp(fstype, "cgroup") == 0) {
        size_t len = strlen(l->v1_opts);
        snprintf(l->v1_opts + len, sizeof(l->v1_opts) - len, "%s%s,", len ? "" : ",", opts);
    }
}

static bool v1_mounted(const struct cg_layout *l, const char *ctrl)
{
    char pat[40];
    snprintf(pat, sizeof(pat), ",%s,", ctrl);
    return strstr(l->v1_opts, pat) != NULL;
}

static const char *cg_mode(const struct cg_layout *l)
{
    /* A v1 mount counts when it holds a controller (systemd's name=systemd holds none). */
    static const char *const v1[] = { "cpu",     "cpuacct",    "cpuset", "memory",  "pids",
                                      "devices", "freezer",    "blkio",  "net_cls", "net_prio",
                                      "hugetlb", "perf_event", "rdma",   "misc" };
    bool any_v1 = false;
    for (size_t i = 0; i < EK_ARRAY_SIZE(v1) && !any_v1; i++) {
        any_v1 = v1_mounted(l, v1[i]);
    }
    if (any_v1) {
        return l->v2_mount[0] ? "hybrid" : "v1";
    }
    return l->v2_mount[0] ? "v2" : "none";
}

/* A space-separated list (cgroup.controllers) names word. */
static bool words_have(const char *words, const char *word)
{
    size_t wlen = strlen(word);
    for (const char *p = words; p && *p;) {
        p += strspn(p, " \n");
        size_t len = strcspn(p, " \n");
        if (len == wlen && strncmp(p, word, len) == 0) {
            return true;
        }
        p += len;
    }
    return false;
}

static const char *const rpi_fix = "add `cgroup_memory=1 cgroup_enable=memory` to "
                                   "/boot/firmware/cmdline.txt (or /boot/cmdline.txt on older "
                                   "images) and reboot";

/* The fix for a memory controller the kernel has but the command line disabled. */
static void memory_fix(ek_hc_item_t *it, const char *root, const char *cmdline)
{
    static const char *const files[] = { "/boot/firmware/cmdline.txt", "/boot/cmdline.txt" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(files); i++) {
        ek_autofree char *txt = read_under(root, files[i], 65536);
        if (!txt) {
            continue;
        }
        if (ek_hc_cmdline_cgroup(txt, "memory") == 1 &&
            ek_hc_cmdline_cgroup(cmdline, "memory") != 1) {
            snprintf(it->fix, sizeof(it->fix),
                     "%s already enables it, but the running kernel was started without: reboot",
                     files[i]);
        } else {
            snprintf(it->fix, sizeof(it->fix), "%s", rpi_fix);
        }
        return;
    }
    /* Not a Raspberry Pi image (no cmdline.txt): the bootloader's command line is the place. */
    snprintf(it->fix, sizeof(it->fix),
             "%s; elsewhere, add `cgroup_enable=memory` to the "
             "kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub) and reboot",
             rpi_fix);
}

static const struct cg_ctrl {
    const char *name;
    const char *config;
    bool v1_only;
} cg_ctrls[] = {
    { "cpu", "CGROUP_SCHED", false },      { "cpuset", "CPUSETS", false },
    { "memory", "MEMCG", false },          { "pids", "CGROUP_PIDS", false },
    { "cpuacct", "CGROUP_CPUACCT", true }, { "devices", "CGROUP_DEVICE", true },
    { "freezer", "CGROUP_FREEZER", true },
};

struct cg_ctx {
    const char *root;
    const char *mode;
    const struct cg_layout *layout;
    const char *proc_cgroups; /* may be NULL */
    const char *controllers;  /* v2 root's cgroup.controllers; may be NULL */
    const char *cmdline;
};

static void check_controller(ek_hc_report_t *r, const struct cg_ctx *c, const struct cg_ctrl *k)
{
    bool v2 = strcmp(c->mode, "v2") == 0;
    char name[40];
    snprintf(name, sizeof(name), "%s controller", k->name);
    int hier = 0, enabled = 1;
    if (c->proc_cgroups && !ek_hc_proc_cgroups(c->proc_cgroups, k->name, &hier, &enabled)) {
        ek_hc_add(r, "cgroups", name, true, EK_HC_MISSING,
                  "not in this kernel (CONFIG_%s is not set)", k->config);
        return;
    }
    if (!enabled) {
        bool cmd_off = ek_hc_cmdline_cgroup(c->cmdline, k->name) == 0;
        ek_hc_item_t *it = ek_hc_add(r, "cgroups", name, true, EK_HC_MISSING, "%s",
                                     cmd_off ? "disabled on the kernel command line"
                                             : "disabled by the kernel (see /proc/cgroups)");
        if (strcmp(k->name, "memory") == 0) {
            memory_fix(it, c->root, c->cmdline);
        } else {
            snprintf(it->fix, sizeof(it->fix),
                     "add `cgroup_enable=%s` to the kernel command line and reboot", k->name);
        }
        return;
    }
    if (v2) {
        bool ok = c->controllers && words_have(c->controllers, k->name);
        ek_hc_add(r, "cgroups", name, true, ok ? EK_HC_OK : EK_HC_MISSING, "%s",
                  ok     ? "available (v2)"
                  : hier ? "bound to a cgroup v1 hierarchy, not available in v2"
                         : "not in the v2 root's cgroup.controllers");
        return;
    }
    bool ok = v1_mounted(c->layout, k->name);
    ek_hc_item_t *it = ek_hc_add(r, "cgroups", name, true, ok ? EK_HC_OK : EK_HC_MISSING, "%s",
                                 ok ? "mounted (v1)" : "enabled but no v1 hierarchy mounts it");
    if (!ok) {
        snprintf(it->fix, sizeof(it->fix),
                 "mount it: mkdir -p /sys/fs/cgroup/%s && "
                 "mount -t cgroup -o %s cgroup /sys/fs/cgroup/%s",
                 k->name, k->name, k->name);
    }
}

/* Fills l from a whole mountinfo. */
static void parse_layout(struct cg_layout *l, const char *mountinfo)
{
    memset(l, 0, sizeof(*l));
    for (const char *p = mountinfo; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char line[1024];
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(p, "\n"), p);
        layout_line(l, line);
    }
}

const char *ek_hc_mountinfo_mode(const char *mountinfo, char *v2_mount, size_t len)
{
    struct cg_layout layout;
    parse_layout(&layout, mountinfo);
    if (len > 0) {
        snprintf(v2_mount, len, "%s", layout.v2_mount);
    }
    return cg_mode(&layout);
}

void ek_hc_cgroups(ek_hc_report_t *r, const char *root)
{
    ek_autofree char *mountinfo = read_under(root, "/proc/self/mountinfo", PROC_MAX);
    struct cg_layout layout;
    parse_layout(&layout, mountinfo);
    const char *mode = cg_mode(&layout);
    snprintf(r->cgroup_mode, sizeof(r->cgroup_mode), "%s", mode);
    if (strcmp(mode, "none") == 0) {
        ek_hc_item_t *it = ek_hc_add(r, "cgroups", "hierarchy", true, EK_HC_MISSING,
                                     "no cgroup filesystem is mounted");
        snprintf(it->fix, sizeof(it->fix), "mount -t cgroup2 none /sys/fs/cgroup");
        return;
    }
    ek_hc_add(r, "cgroups", "hierarchy", true, EK_HC_OK, "%s%s%s%s", mode,
              layout.v2_mount[0] ? " (cgroup2 at " : "", layout.v2_mount,
              layout.v2_mount[0] ? ")" : "");
    ek_autofree char *proc_cgroups = read_under(root, "/proc/cgroups", PROC_MAX);
    ek_autofree char *cmdline = read_under(root, "/proc/cmdline", 65536);
    ek_autofree char *ctl_path = ek_xasprintf("%s/cgroup.controllers", layout.v2_mount);
    ek_autofree char *controllers = layout.v2_mount[0] ? read_under(root, ctl_path, 4096) : NULL;
    struct cg_ctx c = { root, mode, &layout, proc_cgroups, controllers, cmdline ? cmdline : "" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cg_ctrls); i++) {
        if (!cg_ctrls[i].v1_only || strcmp(mode, "v2") != 0) {
            check_controller(r, &c, &cg_ctrls[i]);
        }
    }
}
