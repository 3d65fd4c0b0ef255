/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek check-config`: does this machine have what a node needs? Like `k3s check-config`,
 * but asking the running system rather than a kernel config file: the file-based checks
 * (node/hostcheck.c) plus live probes, each in a forked child inside namespaces it creates
 * for itself — unshare per namespace type, an overlayfs test mount on a tmpfs in a private
 * mount namespace, an nftables transaction and bridge/veth/VXLAN links in a private network
 * namespace, all built with the same code edgek runs. Nothing on the host changes: the host's
 * ruleset, interfaces and cgroups are only read. Exit 1 when a required item is missing.
 */
#include <fcntl.h>
#include <netinet/in.h>
/* After netinet/in.h, which tells the kernel headers not to define its structs again. */
#include <linux/netfilter.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "net/net.h"
#include "node/node.h"

static bool opt_json;
static char *opt_root;

static const ek_flag_t check_flags[] = {
    { "json", 0, EK_FLAG_BOOL, &opt_json, NULL, NULL, "print the report as JSON" },
    { "root", 0, EK_FLAG_STRING, &opt_root, NULL, "DIR",
      "read /proc, /sys, /boot and /dev files below DIR (tests; the live probes stay live)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

/* A probe runs in a child; it returns 0 or an errno and may leave a message. */
typedef int (*probe_fn)(const void *arg, char *msg, size_t len);

/* Runs fn in a forked child (so namespaces it enters die with it) and returns its result:
 * 0, an errno, or -1 when the child died; msg receives its message. */
static int in_child(probe_fn fn, const void *arg, char *msg, size_t len)
{
    int p[2];
    msg[0] = 0;
    if (pipe2(p, O_CLOEXEC) < 0) {
        snprintf(msg, len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        alarm(20); /* a probe that hangs must not hang the command */
        char m[256] = "";
        int rc = fn(arg, m, sizeof(m));
        ssize_t w = write(p[1], m, strlen(m));
        EK_UNUSED(w);
        _exit(rc & 0xff);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t n;
    while (pid > 0 && got + 1 < len && (n = read(p[0], msg + got, len - 1 - got)) > 0) {
        got += (size_t)n;
    }
    msg[got] = 0;
    close(p[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0) {
        snprintf(msg, len, "fork: %s", strerror(errno));
        return -1;
    }
    if (!WIFEXITED(status)) {
        snprintf(msg, len, "the probe was killed by signal %d", WTERMSIG(status));
        return -1;
    }
    return WEXITSTATUS(status);
}

/* Adds a probe's outcome: ok, missing, or unknown when only privileges were lacking. */
static ek_hc_item_t *add_probe(ek_hc_report_t *r, const char *section, const char *name,
                               bool required, int rc, const char *ok_detail, const char *msg)
{
    if (rc == 0) {
        return ek_hc_add(r, section, name, required, EK_HC_OK, "%s", ok_detail);
    }
    if ((rc == EPERM || rc == EACCES) && geteuid() != 0) {
        return ek_hc_add(r, section, name, required, EK_HC_UNKNOWN, "not probed: run as root");
    }
    return ek_hc_add(r, section, name, required, EK_HC_MISSING, "%s", msg);
}

/* ---- namespaces ---- */

static const struct ns_probe {
    const char *name;
    int flag;
    bool required;
    const char *config;
} ns_probes[] = {
    { "mount", CLONE_NEWNS, true, NULL },        { "pid", CLONE_NEWPID, true, "PID_NS" },
    { "net", CLONE_NEWNET, true, "NET_NS" },     { "ipc", CLONE_NEWIPC, true, "IPC_NS" },
    { "uts", CLONE_NEWUTS, true, "UTS_NS" },     { "cgroup", CLONE_NEWCGROUP, true, "CGROUP_NS" },
    { "user", CLONE_NEWUSER, false, "USER_NS" },
};

static int probe_unshare(const void *arg, char *msg, size_t len)
{
    const struct ns_probe *p = arg;
    if (unshare(p->flag) == 0) {
        return 0;
    }
    int e = errno;
    if (e == EINVAL && p->config) {
        snprintf(msg, len, "unshare: %s (CONFIG_%s is not set?)", strerror(e), p->config);
    } else if (e == ENOSPC) {
        snprintf(msg, len, "unshare: %s (sysctl user.max_%s_namespaces is 0)", strerror(e),
                 p->name);
    } else {
        snprintf(msg, len, "unshare: %s", strerror(e));
    }
    return e;
}

static void check_namespaces(ek_hc_report_t *r)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(ns_probes); i++) {
        char msg[256];
        int rc = in_child(probe_unshare, &ns_probes[i], msg, sizeof(msg));
        add_probe(r, "namespaces", ns_probes[i].name, ns_probes[i].required, rc, "unshare works",
                  msg);
    }
}

/* ---- overlayfs ---- */

/* In a private mount namespace: a tmpfs on dir, and on it an overlay whose copy-up works. */
static int probe_overlay(const void *arg, char *msg, size_t len)
{
    const char *dir = arg;
    char l[300], u[300], w[300], m[300], f[320], opts[1024];
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", dir, "tmpfs", 0, "size=1m") < 0) {
        snprintf(msg, len, "private mount namespace: %s", strerror(errno));
        return errno;
    }
    snprintf(l, sizeof(l), "%s/l", dir);
    snprintf(u, sizeof(u), "%s/u", dir);
    snprintf(w, sizeof(w), "%s/w", dir);
    snprintf(m, sizeof(m), "%s/m", dir);
    if (mkdir(l, 0700) < 0 || mkdir(u, 0700) < 0 || mkdir(w, 0700) < 0 || mkdir(m, 0700) < 0) {
        snprintf(msg, len, "mkdir: %s", strerror(errno));
        return errno;
    }
    snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s,workdir=%s", l, u, w);
    if (mount("overlay", m, "overlay", 0, opts) < 0) {
        snprintf(msg, len, "test mount: %s", strerror(errno));
        return errno;
    }
    /* A file written through the overlay must land in the upper directory. */
    snprintf(f, sizeof(f), "%s/probe", m);
    int fd = open(f, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    snprintf(f, sizeof(f), "%s/probe", u);
    if (fd < 0 || access(f, F_OK) < 0) {
        snprintf(msg, len, "write through the overlay: %s", strerror(errno));
        return errno ? errno : EIO;
    }
    close(fd);
    return 0;
}

static void check_overlay(ek_hc_report_t *r, const char *root)
{
    bool listed = ek_hc_overlay_listed(root);
    char dir[] = "/tmp/edgek-check-XXXXXX", msg[256];
    if (geteuid() != 0) {
        ek_hc_add(r, "filesystems", "overlay", true, listed ? EK_HC_OK : EK_HC_UNKNOWN, "%s",
                  listed ? "in /proc/filesystems (test mount needs root)"
                         : "not in /proc/filesystems yet; the test mount needs root");
        return;
    }
    if (!mkdtemp(dir)) {
        ek_hc_add(r, "filesystems", "overlay", true, EK_HC_UNKNOWN, "mkdtemp: %s", strerror(errno));
        return;
    }
    int rc = in_child(probe_overlay, dir, msg, sizeof(msg));
    rmdir(dir);
    ek_hc_item_t *it = add_probe(r, "filesystems", "overlay", true, rc,
                                 listed ? "test mount works (listed in /proc/filesystems)"
                                        : "test mount works (module loaded by it)",
                                 msg);
    if (rc != 0 && !listed) {
        snprintf(it->fix, sizeof(it->fix), "modprobe overlay (CONFIG_OVERLAY_FS)");
    }
}

/* ---- network, in a private network namespace ---- */

static int probe_nft(const void *arg, char *msg, size_t len)
{
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(msg, len, "private network namespace: %s", strerror(errno));
        return errno;
    }
    /* The kinds of rules the pod network and service proxy write: nat chains, masquerade,
     * a fib match, a mark. */
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek_nft_table_add(b, "edgek-check");
    ek_nft_base_chain_add(b, "edgek-check", "post", "nat", NF_INET_POST_ROUTING,
                          EK_NFT_PRIO_SRCNAT);
    ek_nft_base_chain_add(b, "edgek-check", "pre", "nat", NF_INET_PRE_ROUTING, EK_NFT_PRIO_DSTNAT);
    ek_nft_rule_t *rule = ek_nft_rule_add(b, "edgek-check", "post");
    ek_nft_match_mark(rule, 0x2000, true);
    ek_nft_stmt_masquerade(rule, true);
    rule = ek_nft_rule_add(b, "edgek-check", "pre");
    ek_nft_match_fib_daddr_local(rule);
    ek_nft_stmt_counter(rule);
    ek_error_t *err = NULL;
    if (ek_nft_batch_commit(b, -1, &err) < 0) {
        int e = err->errnum ? err->errnum : EIO;
        snprintf(msg, len, "%s", ek_error_msg(err));
        ek_error_free(err);
        return e;
    }
    ek_nft_table_del(b, "edgek-check");
    if (ek_nft_batch_commit(b, -1, &err) < 0) {
        snprintf(msg, len, "%s", ek_error_msg(err));
        ek_error_free(err);
        return EIO;
    }
    return 0;
}

static int probe_link(const void *arg, char *msg, size_t len)
{
    const char *kind = arg;
    if (unshare(CLONE_NEWNET) < 0) {
        snprintf(msg, len, "private network namespace: %s", strerror(errno));
        return errno;
    }
    ek_error_t *err = NULL;
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    int rc = nl ? 0 : -1;
    if (nl && strcmp(kind, "bridge") == 0) {
        rc = ek_nl_bridge_add(nl, "ekcheck0", 0, NULL, &err);
    } else if (nl && strcmp(kind, "veth") == 0) {
        ek_nl_veth_t v = { .name = "ekcheck0", .peer = "ekcheck1", .peer_netns_fd = -1 };
        rc = ek_nl_veth_add(nl, &v, &err);
    } else if (nl) {
        ek_nl_vxlan_t v = { .vni = 1, .port = 8472 };
        rc = ek_nl_vxlan_add(nl, "ekcheck0", &v, &err);
    }
    if (rc == 0) {
        rc = ek_nl_link_del(nl, "ekcheck0", &err);
    }
    if (rc < 0) {
        int e = err && err->errnum ? err->errnum : EIO;
        snprintf(msg, len, "%s", ek_error_msg(err));
        ek_error_free(err);
        return e;
    }
    return 0;
}

static void check_network(ek_hc_report_t *r)
{
    char msg[256];
    int rc = in_child(probe_nft, NULL, msg, sizeof(msg));
    ek_hc_item_t *it = add_probe(r, "network", "nftables", true, rc,
                                 "nat, masquerade and fib rules load (private netns)", msg);
    if (rc != 0 && it->state == EK_HC_MISSING) {
        snprintf(it->fix, sizeof(it->fix),
                 "a kernel with nf_tables, nft_nat, nft_masq, nft_fib_ipv4 (modprobe them)");
    }
    static const struct {
        const char *kind;
        bool required;
        const char *ok, *fix;
    } links[] = {
        { "bridge", true, "created and deleted (private netns)", "modprobe bridge" },
        { "veth", true, "created and deleted (private netns)", "modprobe veth" },
        { "vxlan", false, "created and deleted (private netns; for the vxlan backend)",
          "modprobe vxlan" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(links); i++) {
        rc = in_child(probe_link, links[i].kind, msg, sizeof(msg));
        it = add_probe(r, "network", links[i].kind, links[i].required, rc, links[i].ok, msg);
        if (it->state == EK_HC_MISSING) {
            snprintf(it->fix, sizeof(it->fix), "%s", links[i].fix);
        }
    }
}

/* ---- output ---- */

static const char *state_word(ek_hc_state_t s)
{
    return s == EK_HC_OK ? "ok" : s == EK_HC_MISSING ? "missing" : "unknown";
}

static void print_items(const ek_hc_report_t *r, bool required, bool color)
{
    for (size_t i = 0; i < r->n; i++) {
        const ek_hc_item_t *it = &r->items[i];
        if (it->required != required) {
            continue;
        }
        const char *c = !color                       ? ""
                        : it->state == EK_HC_OK      ? "\033[32m"
                        : it->state == EK_HC_MISSING ? (required ? "\033[31m" : "\033[33m")
                                                     : "\033[33m";
        printf("- %s %s: %s%s%s: %s\n", it->section, it->name, c, state_word(it->state),
               color ? "\033[0m" : "", it->detail);
        if (it->state == EK_HC_MISSING && it->fix[0]) {
            printf("    fix: %s\n", it->fix);
        }
    }
}

static void print_json(const ek_hc_report_t *r, bool pass)
{
    ek_auto(json_t) doc = json_object();
    json_object_set_new(doc, "status", json_string(pass ? "pass" : "fail"));
    json_object_set_new(doc, "cgroupVersion", json_string(r->cgroup_mode));
    json_t *checks = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const ek_hc_item_t *it = &r->items[i];
        json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:s}", "section", it->section, "name", it->name,
                              "required", it->required, "state", state_word(it->state), "detail",
                              it->detail);
        if (it->fix[0]) {
            ek_json_set_str(o, "fix", it->fix);
        }
        json_array_append_new(checks, o);
    }
    json_object_set_new(doc, "checks", checks);
    ek_autofree char *s = ek_json_dumps(doc);
    printf("%s\n", s);
}

static int run_check_config(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek check-config: takes no arguments\n");
        return 2;
    }
    const char *root = opt_root ? opt_root : "";
    ek_hc_report_t r = { 0 };
    ek_hc_kernel_version(&r, root);
    check_namespaces(&r);
    ek_hc_cgroups(&r, root);
    check_overlay(&r, root);
    check_network(&r);
    ek_hc_fuse(&r, root);
    ek_hc_kernel_config(&r, root);
    size_t missing = ek_hc_count(&r, true, EK_HC_MISSING);
    if (opt_json) {
        print_json(&r, missing == 0);
    } else {
        bool color = isatty(STDOUT_FILENO);
        printf("Required:\n");
        print_items(&r, true, color);
        printf("\nOptional:\n");
        print_items(&r, false, color);
        printf("\nSTATUS: %s (cgroups %s; %zu required missing, %zu optional missing, "
               "%zu not probed)\n",
               missing ? "fail" : "pass", r.cgroup_mode, missing,
               ek_hc_count(&r, false, EK_HC_MISSING),
               ek_hc_count(&r, true, EK_HC_UNKNOWN) + ek_hc_count(&r, false, EK_HC_UNKNOWN));
    }
    ek_hc_report_free(&r);
    return missing ? 1 : 0;
}

const ek_cmd_t ek_cmd_check_config = {
    .name = "check-config",
    .summary = "check that this machine's kernel has what a node needs",
    .usage = "",
    .flags = check_flags,
    .run = run_check_config,
};
