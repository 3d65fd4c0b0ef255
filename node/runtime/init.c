/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The code a container's first process (and an exec'd process) runs between the shim's
 * clone and execve: wait until the shim has put it in its cgroup, build or join the
 * container's filesystem, take the user, groups and capabilities from the spec, look the
 * program up in the container's PATH, tell the shim it is ready, wait for "start", exec.
 * Failures go back to the shim on the sync socket as one message with the cause, so that
 * `create` and `start` can say what went wrong; a successful exec closes the socket
 * (close-on-exec), which is how the shim learns that the process runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "node/runtime/runtime-internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

typedef struct ident {
    uid_t uid;
    gid_t gid;
    char home[256];
    char user[64]; /* name, for /etc/group memberships; "" when unknown */
    gid_t groups[64];
    size_t ngroups;
} ident_t;

static int read_msg(int fd, ek__rt_sync_msg_t *m)
{
    ssize_t n;
    do {
        n = recv(fd, m, sizeof(*m), 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? 0 : -1;
}

/* Splits a passwd/group-style line in place into up to nf fields; the rest become "". */
static size_t split_fields(char *line, char **f, size_t nf)
{
    size_t k = 0;
    for (char *p = line; p && k < nf; k++) {
        f[k] = p;
        p = strchr(p, ':');
        if (p) {
            *p++ = '\0';
        }
    }
    for (size_t i = k; i < nf; i++) {
        f[i] = "";
    }
    return k;
}

/* Finds the line whose field 0 is name (or, with name NULL, whose field 2 is id). */
static bool find_entry(char *data, const char *name, long id, char **f, size_t nf)
{
    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        if (split_fields(line, f, nf) >= 3 && ((name && strcmp(f[0], name) == 0) ||
                                               (!name && *f[2] && strtol(f[2], NULL, 10) == id))) {
            return true;
        }
    }
    return false;
}

static bool numeric(const char *s, long *v)
{
    char *end;
    if (!*s) {
        return false;
    }
    *v = strtol(s, &end, 10);
    return *end == '\0' && *v >= 0;
}

/* Groups of /etc/group whose member list names user. */
static void member_groups(const char *user, ident_t *id)
{
    ek_autofree char *data = *user ? ek_file_read("/etc/group", 1 << 20, NULL, NULL) : NULL;
    for (char *line = data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        char *f[4], *save = NULL;
        if (split_fields(line, f, 4) < 4) {
            continue;
        }
        for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
            if (strcmp(m, user) == 0 && id->ngroups < EK_ARRAY_SIZE(id->groups)) {
                id->groups[id->ngroups++] = (gid_t)strtol(f[2], NULL, 10);
            }
        }
    }
}

static int resolve_group(const char *g, gid_t *gid, ek_error_t **err)
{
    long v;
    if (numeric(g, &v)) {
        *gid = (gid_t)v;
        return 0;
    }
    ek_autofree char *data = ek_file_read("/etc/group", 1 << 20, NULL, NULL);
    char *f[4];
    if (!data || !find_entry(data, g, -1, f, 4)) {
        return ek_error_make(err, ENOENT,
                             "unable to find group %s: no matching entries in "
                             "group file",
                             g);
    }
    *gid = (gid_t)strtol(f[2], NULL, 10);
    return 0;
}

/* Resolves the identity from the spec, or from the image's user in the container's files. */
static int resolve_ident(const ek_rt_container_spec_t *s, ident_t *id, ek_error_t **err)
{
    memset(id, 0, sizeof(*id));
    snprintf(id->home, sizeof(id->home), "/");
    char user[256] = "", group[256] = "";
    if (s->image_user) {
        snprintf(user, sizeof(user), "%s", s->image_user);
        char *colon = strchr(user, ':');
        if (colon) {
            *colon = '\0';
            snprintf(group, sizeof(group), "%s", colon + 1);
        }
    }
    long uidv = s->run_as_user;
    const char *uname = NULL;
    if (uidv < 0 && *user && !numeric(user, &uidv)) {
        uname = user;
        uidv = -1;
    } else if (uidv < 0) {
        uidv = 0;
    }
    ek_autofree char *pw = ek_file_read("/etc/passwd", 1 << 20, NULL, NULL);
    char *f[7];
    bool found = pw && find_entry(pw, uname, uidv, f, 7);
    if (uname && !found) {
        return ek_error_make(err, ENOENT,
                             "unable to find user %s: no matching entries in "
                             "passwd file",
                             uname);
    }
    id->uid = found ? (uid_t)strtol(f[2], NULL, 10) : (uid_t)uidv;
    id->gid = found ? (gid_t)strtol(f[3], NULL, 10) : 0;
    if (found) {
        snprintf(id->home, sizeof(id->home), "%s", *f[5] ? f[5] : "/");
        snprintf(id->user, sizeof(id->user), "%s", f[0]);
    }
    if (s->run_as_group >= 0) {
        id->gid = (gid_t)s->run_as_group;
    } else if (*group && resolve_group(group, &id->gid, err) < 0) {
        return -1;
    }
    if (s->run_as_non_root && id->uid == 0) {
        return ek_error_make(err, EPERM, "container has runAsNonRoot and image will run as root");
    }
    member_groups(id->user, id);
    for (size_t i = 0; i < s->n_supplemental_groups && id->ngroups < 64; i++) {
        id->groups[id->ngroups++] = s->supplemental_groups[i];
    }
    return 0;
}

static int set_ident(const ek_rt_container_spec_t *s, const ident_t *id, int last_cap,
                     ek_error_t **err)
{
    uint64_t caps;
    if (ek__rt_caps_mask(s, last_cap, &caps, err) < 0 ||
        ek__rt_caps_drop_bounding(caps, last_cap, err) < 0) {
        return -1;
    }
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(id->ngroups, id->groups) < 0 ||
        setresgid(id->gid, id->gid, id->gid) < 0 || setresuid(id->uid, id->uid, id->uid) < 0 ||
        prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
        return ek_error_make(err, errno, "set user %u:%u", id->uid, id->gid);
    }
    if (ek__rt_caps_apply(caps, err) < 0) {
        return -1;
    }
    if (s->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return ek_error_make(err, errno, "set no_new_privs");
    }
    return 0;
}

static bool has_key(char **env, size_t n, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    for (size_t i = 0; i < n; i++) {
        if (strncmp(env[i], kv, klen) == 0 && env[i][klen] == '=') {
            return true;
        }
    }
    return false;
}

/* The process's environment: exec's extra variables win over the container's; PATH, HOSTNAME
 * and HOME are filled in when missing. Lives until exec. */
static char **build_env(const ek__rt_child_t *c, const ident_t *id)
{
    size_t n = 0, cap = 4;
    for (size_t i = 0; c->spec->env && c->spec->env[i]; i++) {
        cap++;
    }
    for (size_t i = 0; c->extra_env && c->extra_env[i]; i++) {
        cap++;
    }
    char **env = ek_xcalloc(cap + 1, sizeof(char *));
    for (size_t i = 0; c->extra_env && c->extra_env[i]; i++) {
        env[n++] = (char *)c->extra_env[i];
    }
    for (size_t i = 0; c->spec->env && c->spec->env[i]; i++) {
        if (!has_key(env, n, c->spec->env[i])) {
            env[n++] = (char *)c->spec->env[i];
        }
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char *extra[] = { ek_xasprintf("PATH=%s", default_path), ek_xasprintf("HOSTNAME=%s", host),
                      ek_xasprintf("HOME=%s", id->home) };
    for (size_t i = 0; i < EK_ARRAY_SIZE(extra); i++) {
        if (!has_key(env, n, extra[i])) {
            env[n++] = extra[i];
        }
    }
    return env;
}

/* Looks prog up in PATH from env (not ours: the container's). */
static char *find_program(const char *prog, char **env, ek_error_t **err)
{
    if (strchr(prog, '/')) {
        return ek_xstrdup(prog);
    }
    const char *path = default_path;
    for (size_t i = 0; env[i]; i++) {
        if (strncmp(env[i], "PATH=", 5) == 0) {
            path = env[i] + 5;
        }
    }
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ":");
        ek_autofree char *cand = ek_xasprintf("%.*s/%s", (int)len, len ? p : ".", prog);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            return ek_steal(&cand);
        }
        p += len + (p[len] == ':');
    }
    ek_error_make(err, 0, "exec: \"%s\": executable file not found in $PATH", prog);
    (*err)->errnum = ENOENT;
    return NULL;
}

static void setup_stdio(const ek__rt_child_t *c)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        int src = c->stdio[i] >= 0 ? c->stdio[i] : null;
        if (src >= 0) {
            dup2(src, i);
        }
    }
}

static int join_container(const ek__rt_child_t *c, ek_error_t **err)
{
    if (setns(c->ctr_pidfd, CLONE_NEWNS | CLONE_NEWCGROUP) < 0) {
        return ek_error_make(err, errno, "join the container's namespaces");
    }
    return 0;
}

/* The shim blocks SIGCHLD and ignores SIGTERM and friends; ignored dispositions and the
 * mask would survive exec, and a container that cannot be stopped is no container. */
static void reset_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL);
        }
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static EK_NORETURN void fail(int fd, ek_error_t *err, int code)
{
    ek__rt_sync_msg_t m = { .kind = EK__RT_SYNC_ERROR, .exit_code = code };
    m.errnum = err ? err->errnum : 0;
    snprintf(m.msg, sizeof(m.msg), "%s", ek_error_msg(err));
    send(fd, &m, sizeof(m), MSG_NOSIGNAL);
    _exit(code);
}

void ek__rt_child_main(const ek__rt_child_t *c)
{
    ek_error_t *err = NULL;
    ek__rt_sync_msg_t m;
    int last_cap = ek__rt_cap_last();
    reset_signals();
    if (read_msg(c->sync_fd, &m) < 0 || m.kind != EK__RT_SYNC_GO) {
        _exit(1);
    }
    if (c->exec ? join_container(c, &err) < 0
                : (unshare(CLONE_NEWCGROUP) < 0 || ek__rt_setup_rootfs(c, &err) < 0)) {
        if (!err) {
            ek_error_make(&err, errno, "new cgroup namespace");
        }
        fail(c->sync_fd, err, 1);
    }
    setup_stdio(c);
    ident_t id;
    if (resolve_ident(c->spec, &id, &err) < 0 || set_ident(c->spec, &id, last_cap, &err) < 0) {
        fail(c->sync_fd, err, 1);
    }
    const char *cwd = c->cwd ? c->cwd : c->spec->cwd ? c->spec->cwd : "/";
    if (chdir(cwd) < 0) {
        ek_error_make(&err, errno, "chdir to cwd (\"%s\")", cwd);
        fail(c->sync_fd, err, 1);
    }
    char **env = build_env(c, &id);
    const char *const *args = c->args ? c->args : c->spec->args;
    if (setsid() < 0 && !c->exec) {
        ek_error_make(&err, errno, "setsid");
        fail(c->sync_fd, err, 1);
    }
    if (c->exec && isatty(0)) {
        ioctl(0, TIOCSCTTY, 0); /* exec -t: the terminal becomes the session's */
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    m = (ek__rt_sync_msg_t){ .kind = EK__RT_SYNC_READY };
    if (send(c->sync_fd, &m, sizeof(m), MSG_NOSIGNAL) < 0 || read_msg(c->sync_fd, &m) < 0 ||
        m.kind != EK__RT_SYNC_START) {
        _exit(1);
    }
    /* Looked up at start, not create: a missing program is a start error, as with runc
     * under containerd (create only prepares). */
    char *prog = find_program(args[0], env, &err);
    if (!prog) {
        fail(c->sync_fd, err, 127);
    }
    execve(prog, (char *const *)args, env);
    int e = errno;
    ek_error_make(&err, e, "exec \"%s\"", prog);
    fail(c->sync_fd, err, e == ENOENT ? 127 : 126);
}
