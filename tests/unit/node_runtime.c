/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The container runtime and pod shim, for real: every test runs as PID 1 of a PID namespace
 * it creates, with its own mount and network namespaces and a private /proc, so that its
 * shims, containers and mounts end with it whatever happens; its cgroups live below a parent
 * named after the test process, nested in this process's own cgroups, and are removed
 * afterwards. Root filesystems are built from the host's static busybox. The unit binary
 * doubles as the shim (`unit shim <dir>`), so the shim runs under the sanitizers too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "node/node.h"
#include "node/runtime/runtime-internal.h"
#include "tests/unit/test.h"

/* The unit binary is its own shim: glibc hands constructors argc and argv. */
__attribute__((constructor)) static void shim_entry(int argc, char **argv, char **envp)
{
    EK_UNUSED(envp);
    if (argc == 3 && strcmp(argv[1], "shim") == 0) {
        exit(ek_rt_shim_main(argv[2]));
    }
}

typedef struct world {
    ek_rt_t *rt;
    char *tmp, *state, *logs;
    char *base, *app; /* image layers: busybox, and one with /app on top */
    const char *layers[3];
    char cg_parent[64];
    int seq;
} world_t;

static world_t W;

static const char *const applets[] = {
    "sh",    "echo", "cat",      "id",    "hostname", "sleep", "ls",   "chown", "touch",
    "mkdir", "head", "dd",       "true",  "false",    "env",   "pwd",  "grep",  "wc",
    "kill",  "ps",   "readlink", "seq",   "tr",       "test",  "stat", "cut",   "printf",
    "rm",    "tail", "awk",      "mknod", "cp",       "ln",    "ip",
};

static void write_text(const char *path, const char *text)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_file_write_atomic(path, text, strlen(text), 0644, &err), &err);
}

static void build_layers(void)
{
    ek_error_t *err = NULL;
    W.base = ek_xasprintf("%s/layers/base", W.tmp);
    W.app = ek_xasprintf("%s/layers/app", W.tmp);
    const char *dirs[] = { "bin", "etc", "tmp", "root", "home/app" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(dirs); i++) {
        ek_autofree char *d = ek_xasprintf("%s/%s", W.base, dirs[i]);
        ASSERT_OK(ek_mkdir_p(d, 0755, &err), &err);
    }
    ek_autofree char *tmpdir = ek_xasprintf("%s/tmp", W.base);
    chmod(tmpdir, 01777);
    ek_autofree char *bb = ek_xasprintf("%s/bin/busybox", W.base);
    if (link("/bin/busybox", bb) < 0) {
        size_t len;
        ek_autofree char *data = ek_file_read("/bin/busybox", 0, &len, &err);
        ASSERT_NOT_NULL(data);
        ASSERT_OK(ek_file_write_atomic(bb, data, len, 0755, &err), &err);
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(applets); i++) {
        ek_autofree char *l = ek_xasprintf("%s/bin/%s", W.base, applets[i]);
        ASSERT_EQ(symlink("busybox", l), 0);
    }
    ek_autofree char *passwd = ek_xasprintf("%s/etc/passwd", W.base);
    write_text(passwd, "root:x:0:0:root:/root:/bin/sh\n"
                       "app:x:1001:1002:app:/home/app:/bin/sh\n"
                       "nobody:x:65534:65534:nobody:/:/bin/false\n");
    ek_autofree char *group = ek_xasprintf("%s/etc/group", W.base);
    write_text(group, "root:x:0:\ntty:x:5:\napp:x:1002:\nextra:x:1003:app\n"
                      "nogroup:x:65534:\n");
    ek_autofree char *appdir = ek_xasprintf("%s/app", W.app);
    ASSERT_OK(ek_mkdir_p(appdir, 0755, &err), &err);
    ek_autofree char *hello = ek_xasprintf("%s/app/hello.txt", W.app);
    write_text(hello, "from the app layer\n");
    W.layers[0] = W.base;
    W.layers[1] = W.app;
    W.layers[2] = NULL;
}

static void open_runtime(void)
{
    ek_error_t *err = NULL;
    ek_rt_config_t cfg = { .state_dir = W.state,
                           .cgroup_parent = W.cg_parent,
                           .cgroup_nested = true };
    W.rt = ek_rt_open(&cfg, &err);
    ASSERT_OK(W.rt ? 0 : -1, &err);
}

/* Runs body as PID 1 of fresh PID, mount and network namespaces; removes the test's cgroup
 * parent afterwards. Skips without root. */
static void sandboxed(void (*body)(void))
{
    if (geteuid() != 0) {
        ek_test_skip("needs root: namespaces, mounts and cgroups");
    }
    ek_test_native_only("the pod shim is this binary re-executed, which qemu-user cannot start "
                        "without binfmt_misc");
    snprintf(W.cg_parent, sizeof(W.cg_parent), "edgek-test-%d", (int)getpid());
    int own_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    ASSERT_CMP(own_pidns, >=, 0);
    if (unshare(CLONE_NEWPID) < 0) {
        ek_test_skip("cannot create a PID namespace: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_CMP(pid, >=, 0);
    if (pid == 0) {
        ASSERT_EQ(unshare(CLONE_NEWNS | CLONE_NEWNET), 0);
        ASSERT_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ASSERT_EQ(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL), 0);
        W.tmp = ek_xstrdup(ek_test_tmpdir());
        W.state = ek_xasprintf("%s/state", W.tmp);
        W.logs = ek_xasprintf("%s/logs", W.tmp);
        build_layers();
        open_runtime();
        body();
        fflush(NULL);
        _exit(0);
    }
    /* Threads cannot be created while pid_for_children differs (LeakSanitizer needs one). */
    ASSERT_EQ(setns(own_pidns, CLONE_NEWPID), 0);
    close(own_pidns);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    ek__cg_t cg;
    ek_error_t *err = NULL;
    if (ek__cg_layout("/sys/fs/cgroup", W.cg_parent, true, &cg, &err) == 0) {
        if (ek__cg_remove(&cg, &err) < 0) {
            fprintf(stderr, "cleanup: %s\n", ek_error_msg(err));
            ek_error_clear(&err);
        }
        ek__cg_free(&cg);
    }
    ek_error_free(err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fflush(NULL);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
    }
}

/* ---- helpers ---- */

static ek_rt_pod_t *new_pod(const char *hostname, bool share_pid, ek_rt_qos_t qos)
{
    ek_error_t *err = NULL;
    char uid[32];
    snprintf(uid, sizeof(uid), "pod-%d", ++W.seq);
    ek_rt_pod_spec_t spec = { .uid = uid,
                              .name = uid,
                              .namespace = "default",
                              .hostname = hostname,
                              .share_pid = share_pid,
                              .qos = qos };
    ek_rt_pod_t *pod = NULL;
    ASSERT_OK(ek_rt_pod_create(W.rt, &spec, &pod, &err), &err);
    return pod;
}

static ek_rt_container_spec_t cspec(const char *name, const char *const *args)
{
    ek_rt_container_spec_t s = {
        .name = name, .layers = W.layers, .args = args, .run_as_user = -1, .run_as_group = -1
    };
    s.log_path = ek_xasprintf("%s/%s-%d/0.log", W.logs, name, W.seq); /* leaks: test scope */
    return s;
}

/* The shim's own log, shown when a call fails. */
static void dump_shim_log(ek_rt_pod_t *pod)
{
    ek_autofree char *path = ek_xasprintf("%s/pods/%s/shim.log", W.state, ek_rt_pod_uid(pod));
    ek_autofree char *log = ek_file_read(path, 0, NULL, NULL);
    fprintf(stderr, "shim.log:\n%s\n", log ? log : "(none)");
}

static void run(ek_rt_pod_t *pod, const ek_rt_container_spec_t *s)
{
    ek_error_t *err = NULL;
    if (ek_rt_container_create(pod, s, &err) < 0 || ek_rt_container_start(pod, s->name, &err) < 0) {
        dump_shim_log(pod);
    }
    ASSERT_OK(err ? -1 : 0, &err);
}

static ek_rt_status_t wait_exit(ek_rt_pod_t *pod, const char *name)
{
    ek_error_t *err = NULL;
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_wait(pod, name, 20000, &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_EXITED);
    return st;
}

/* The text of the container's log lines (CRI framing checked and stripped), one per line,
 * "stream: text". Caller frees. */
static char *log_text(const char *path)
{
    ek_error_t *err = NULL;
    ek_autofree char *data = ek_file_read(path, 0, NULL, &err);
    ASSERT_OK(data ? 0 : -1, &err);
    ek_autobuf out = EK_BUF_INIT;
    for (char *line = data, *next; *line; line = next) {
        next = strchr(line, '\n');
        ASSERT_NOT_NULL(next);
        *next++ = '\0';
        /* 2006-01-02T15:04:05.123456789Z stdout F text */
        ASSERT_TRUE(strlen(line) >= 33);
        ASSERT_TRUE(line[4] == '-' && line[10] == 'T' && line[19] == '.' && line[29] == 'Z');
        struct timespec ts;
        char stamp[31];
        memcpy(stamp, line, 30);
        stamp[30] = '\0';
        ASSERT_EQ(ek_time_parse_rfc3339(stamp, &ts), 0);
        char *stream = line + 31, *sp = strchr(stream, ' ');
        ASSERT_NOT_NULL(sp);
        *sp = '\0';
        ASSERT_TRUE(strcmp(stream, "stdout") == 0 || strcmp(stream, "stderr") == 0);
        ASSERT_TRUE((sp[1] == 'F' || sp[1] == 'P') && sp[2] == ' ');
        ek_buf_printf(&out, "%s: %s%s", stream, sp + 3, sp[1] == 'F' ? "\n" : "");
    }
    return ek_buf_steal(&out, NULL);
}

static char *run_capture(ek_rt_pod_t *pod, ek_rt_container_spec_t *s, int expect_code)
{
    run(pod, s);
    ek_rt_status_t st = wait_exit(pod, s->name);
    char *text = log_text(s->log_path);
    if (expect_code >= 0 && st.exit_code != expect_code) {
        fprintf(stderr, "log of %s:\n%s\n", s->name, text);
        ASSERT_EQ(st.exit_code, expect_code);
    }
    ek_rt_status_clear(&st);
    return text;
}

static bool proc_alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    ek_autofree char *s = ek_file_read(path, 4096, NULL, NULL);
    const char *rp = s ? strrchr(s, ')') : NULL;
    return rp && rp[2] != 'Z' && rp[2] != 'X';
}

static void reap_zombies(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void remove_pod(ek_rt_pod_t *pod)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_rt_pod_remove(pod, &err), &err);
}

/* ---- tests ---- */

static void body_log_and_exit_codes(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("logs", false, EK_RT_QOS_BESTEFFORT);
    const char *a1[] = { "sh", "-c", "echo hello; echo oops >&2; printf 'no newline'; exit 3",
                         NULL };
    ek_rt_container_spec_t s1 = cspec("three", a1);
    ek_autofree char *t1 = run_capture(pod, &s1, 3);
    ASSERT_CONTAINS(t1, "stdout: hello\n");
    ASSERT_CONTAINS(t1, "stderr: oops\n");
    ASSERT_CONTAINS(t1, "stdout: no newline\n");
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pod, "three", &st, &err), &err);
    ASSERT_STREQ(st.reason, "Error");
    ASSERT_TRUE(st.started_ns > 0 && st.finished_ns >= st.started_ns && !st.oom_killed);
    ek_rt_status_clear(&st);

    const char *a2[] = { "true", NULL };
    ek_rt_container_spec_t s2 = cspec("zero", a2);
    free(run_capture(pod, &s2, 0));
    ASSERT_OK(ek_rt_container_status(pod, "zero", &st, &err), &err);
    ASSERT_STREQ(st.reason, "Completed");
    ek_rt_status_clear(&st);

    const char *a3[] = { "no-such-program", NULL };
    ek_rt_container_spec_t s3 = cspec("missing", a3);
    ASSERT_OK(ek_rt_container_create(pod, &s3, &err), &err);
    ASSERT_EQ(ek_rt_container_start(pod, "missing", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "executable file not found in $PATH");
    ek_error_clear(&err);
    ASSERT_OK(ek_rt_container_status(pod, "missing", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_EXITED);
    ASSERT_EQ(st.exit_code, 127);
    ASSERT_STREQ(st.reason, "StartError");
    ek_rt_status_clear(&st);

    ek_rt_container_spec_t rel = cspec("relative", a2);
    rel.log_path = "logs/0.log"; /* the shim works elsewhere: refused up front */
    ASSERT_EQ(ek_rt_container_create(pod, &rel, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "must be absolute");
    ek_error_clear(&err);

    /* Layers: the app layer lies on top of busybox. */
    const char *a4[] = { "cat", "/app/hello.txt", NULL };
    ek_rt_container_spec_t s4 = cspec("layers", a4);
    ek_autofree char *t4 = run_capture(pod, &s4, 0);
    ASSERT_CONTAINS(t4, "stdout: from the app layer\n");
    remove_pod(pod);
}
TEST_T(runtime_log_and_exit_codes, 60)
{
    sandboxed(body_log_and_exit_codes);
}

static void expect_event(int fd, const char *name, ek_rt_state_t state, int code)
{
    ek_error_t *err = NULL;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ASSERT_EQ(poll(&p, 1, 10000), 1);
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_events_read(fd, &st, &err), &err);
    ASSERT_STREQ(st.name, name);
    ASSERT_EQ(st.state, state);
    ASSERT_EQ(st.exit_code, code);
    ek_rt_status_clear(&st);
}

static void body_signals(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("sig", false, EK_RT_QOS_BESTEFFORT);
    int events = ek_rt_pod_events(pod, &err);
    ASSERT_OK(events, &err);
    const char *a1[] = { "sleep", "1000", NULL };
    ek_rt_container_spec_t s1 = cspec("sleeper", a1);
    run(pod, &s1);
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pod, "sleeper", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_RUNNING);
    ASSERT_TRUE(proc_alive(st.pid));
    ek_rt_status_clear(&st);
    ASSERT_OK(ek_rt_container_kill(pod, "sleeper", SIGKILL, &err), &err);
    st = wait_exit(pod, "sleeper");
    ASSERT_EQ(st.signal, SIGKILL);
    ASSERT_EQ(st.exit_code, 137);
    ek_rt_status_clear(&st);
    expect_event(events, "sleeper", EK_RT_RUNNING, 0);
    expect_event(events, "sleeper", EK_RT_EXITED, 137);

    const char *a2[] = { "sh", "-c",
                         "trap 'echo got USR1; exit 7' USR1; echo ready; "
                         "while true; do sleep 0.05; done",
                         NULL };
    ek_rt_container_spec_t s2 = cspec("trapper", a2);
    run(pod, &s2);
    for (int i = 0; i < 200; i++) { /* until the trap is set */
        ek_autofree char *t = log_text(s2.log_path);
        if (strstr(t, "ready")) {
            break;
        }
        usleep(10000);
    }
    ASSERT_OK(ek_rt_container_kill(pod, "trapper", SIGUSR1, &err), &err);
    st = wait_exit(pod, "trapper");
    ASSERT_EQ(st.exit_code, 7);
    ASSERT_EQ(st.signal, 0);
    ek_rt_status_clear(&st);
    expect_event(events, "trapper", EK_RT_RUNNING, 0);
    expect_event(events, "trapper", EK_RT_EXITED, 7);
    remove_pod(pod);
    ek_rt_status_t gone;
    ASSERT_EQ(ek_rt_events_read(events, &gone, &err), -1); /* the shim has gone */
    ek_error_clear(&err);
    close(events);
}
TEST_T(runtime_signals, 60)
{
    sandboxed(body_signals);
}

static void body_identity(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("ident", false, EK_RT_QOS_BESTEFFORT);
    const char *a1[] = {
        "sh",   "-c",   "echo \"$FOO $0 $1\"; pwd; id -u; id -g; id -G; echo $HOME",
        "arg0", "arg1", NULL
    };
    const char *env[] = { "FOO=bar", "PATH=/bin", NULL };
    gid_t groups[] = { 3000, 4000 };
    ek_rt_container_spec_t s1 = cspec("numeric", a1);
    s1.env = env;
    s1.cwd = "/tmp";
    s1.run_as_user = 1000;
    s1.run_as_group = 2000;
    s1.supplemental_groups = groups;
    s1.n_supplemental_groups = 2;
    ek_autofree char *t1 = run_capture(pod, &s1, 0);
    ASSERT_CONTAINS(t1, "stdout: bar arg0 arg1\nstdout: /tmp\nstdout: 1000\nstdout: 2000\n");
    ASSERT_CONTAINS(t1, "stdout: 2000 3000 4000\n");

    /* The image's user by name: uid, gid and home from its /etc/passwd, groups from
     * /etc/group. */
    const char *a2[] = { "sh", "-c", "id -u; id -g; id -G; echo $HOME", NULL };
    ek_rt_container_spec_t s2 = cspec("named", a2);
    s2.image_user = "app";
    ek_autofree char *t2 = run_capture(pod, &s2, 0);
    ASSERT_CONTAINS(t2, "stdout: 1001\nstdout: 1002\nstdout: 1002 1003\nstdout: /home/app\n");

    ek_rt_container_spec_t s3 = cspec("nonroot", a2);
    s3.run_as_non_root = true;
    ASSERT_EQ(ek_rt_container_create(pod, &s3, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "runAsNonRoot and image will run as root");
    ek_error_clear(&err);
    ek_rt_container_spec_t s4 = cspec("nouser", a2);
    s4.image_user = "ghost";
    ASSERT_EQ(ek_rt_container_create(pod, &s4, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "unable to find user ghost");
    ek_error_clear(&err);
    remove_pod(pod);
}
TEST_T(runtime_identity, 60)
{
    sandboxed(body_identity);
}

/* The shell's own PID closes the report: 1 in a PID namespace of its own. (Comparing pid
 * namespace inodes across two short-lived containers is unreliable: the kernel may give the
 * second namespace the first one's freed inode number.) */
static const char ns_script[] = "hostname; for n in net ipc uts; do "
                                "readlink /proc/self/ns/$n; done; echo $$";

/* Lines 2..5 of a namespace report: net, ipc, uts, the shell's PID. */
static void ns_lines(const char *text, char out[5][64])
{
    const char *p = text;
    for (int i = 0; i < 5; i++) {
        ASSERT_TRUE(ek_has_prefix(p, "stdout: "));
        p += 8;
        size_t n = strcspn(p, "\n");
        snprintf(out[i], 64, "%.*s", (int)n, p);
        p += n + 1;
    }
}

static void body_namespaces(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("web-0", false, EK_RT_QOS_BURSTABLE);
    ASSERT_NOT_NULL(ek_rt_pod_netns(pod));
    const char *a[] = { "sh", "-c", ns_script, NULL };
    ek_rt_container_spec_t s1 = cspec("one", a), s2 = cspec("two", a);
    ek_autofree char *t1 = run_capture(pod, &s1, 0);
    ek_autofree char *t2 = run_capture(pod, &s2, 0);
    char l1[5][64], l2[5][64];
    ns_lines(t1, l1);
    ns_lines(t2, l2);
    ASSERT_STREQ(l1[0], "web-0");
    ASSERT_STREQ(l1[1], l2[1]); /* net */
    ASSERT_STREQ(l1[2], l2[2]); /* ipc */
    ASSERT_STREQ(l1[3], l2[3]); /* uts */
    ASSERT_STREQ(l1[4], "1");   /* pid: each container is PID 1 of its own namespace */
    ASSERT_STREQ(l2[4], "1");
    /* The pinned netns is the one the containers are in. */
    struct stat st;
    ASSERT_EQ(stat(ek_rt_pod_netns(pod), &st), 0);
    char want[64];
    snprintf(want, sizeof(want), "net:[%lu]", (unsigned long)st.st_ino);
    ASSERT_STREQ(l1[1], want);
    remove_pod(pod);

    /* shareProcessNamespace: one PID namespace, whose PID 1 is the shim. */
    pod = new_pod("shared", true, EK_RT_QOS_BURSTABLE);
    const char *sleep_args[] = { "sleep", "1000", NULL };
    ek_rt_container_spec_t s3 = cspec("sleeper", sleep_args);
    run(pod, &s3);
    const char *ps[] = { "sh", "-c", "ps -o pid,args; readlink /proc/self/ns/pid", NULL };
    ek_rt_container_spec_t s4 = cspec("looker", ps);
    ek_autofree char *t4 = run_capture(pod, &s4, 0);
    ASSERT_CONTAINS(t4, "sleep 1000");
    ASSERT_CONTAINS(t4, "stdout:     1 ");
    ASSERT_OK(ek_rt_container_stop(pod, "sleeper", 0, &err), &err);
    remove_pod(pod);
}
/* hostNetwork and hostIPC pods share the agent's namespaces (here: the test's own); a pod's
 * namespaced sysctls land in its own network namespace only. */
static void body_host_namespaces(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_spec_t ps = { .uid = "hostnet", .host_network = true, .host_ipc = true };
    ek_rt_pod_t *pod = NULL;
    ASSERT_OK(ek_rt_pod_create(W.rt, &ps, &pod, &err), &err);
    ASSERT_TRUE(ek_rt_pod_netns(pod) == NULL);
    const char *a[] = { "sh", "-c", ns_script, NULL };
    ek_rt_container_spec_t s = cspec("host", a);
    ek_autofree char *t = run_capture(pod, &s, 0);
    char l[5][64], want[64];
    ns_lines(t, l);
    ssize_t n = readlink("/proc/self/ns/net", want, sizeof(want) - 1);
    want[n > 0 ? n : 0] = '\0';
    ASSERT_STREQ(l[1], want);
    n = readlink("/proc/self/ns/ipc", want, sizeof(want) - 1);
    want[n > 0 ? n : 0] = '\0';
    ASSERT_STREQ(l[2], want);
    remove_pod(pod);

    const char *sysctls[] = { "net.ipv4.ip_unprivileged_port_start=80", NULL };
    ek_rt_pod_spec_t ps2 = { .uid = "sysctl", .hostname = "sysctl", .sysctls = sysctls };
    ASSERT_OK(ek_rt_pod_create(W.rt, &ps2, &pod, &err), &err);
    const char *b[] = { "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", NULL };
    ek_rt_container_spec_t s2 = cspec("reader", b);
    ek_autofree char *t2 = run_capture(pod, &s2, 0);
    ASSERT_STREQ(t2, "stdout: 80\n");
    ek_autofree char *mine =
        ek_file_read("/proc/sys/net/ipv4/ip_unprivileged_port_start", 0, NULL, &err);
    ASSERT_STREQ(mine, "1024\n");
    remove_pod(pod);

    const char *bad[] = { "kernel.../../x=1", NULL };
    ek_rt_pod_spec_t ps3 = { .uid = "badsysctl", .sysctls = bad };
    ASSERT_EQ(ek_rt_pod_create(W.rt, &ps3, &pod, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "bad sysctl");
    ek_error_clear(&err);
    ek_autofree char *gone = ek_xasprintf("%s/pods/badsysctl", W.state);
    ASSERT_FALSE(ek_path_exists(gone)); /* a failed create leaves nothing */
}
TEST_T(runtime_host_namespaces_and_sysctls, 60)
{
    sandboxed(body_host_namespaces);
}

TEST_T(runtime_namespaces, 60)
{
    sandboxed(body_namespaces);
}

static uint64_t default_caps(void)
{
    const int caps[] = { 0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31 };
    uint64_t m = 0;
    for (size_t i = 0; i < EK_ARRAY_SIZE(caps); i++) {
        m |= 1ULL << caps[i];
    }
    return m;
}

static const char security_script[] =
    "echo x 2>/dev/null > /proc/sys/kernel/domainname && echo procsys=rw || echo procsys=ro; "
    "echo sys=$(awk '$5==\"/sys\"{print $6}' /proc/self/mountinfo | cut -d, -f1); "
    "[ -e /proc/timer_list ] && echo timer_list=$(wc -c < /proc/timer_list); "
    "echo firmware=$(ls -A /sys/firmware | wc -l); grep CapEff /proc/self/status; "
    "grep NoNewPrivs /proc/self/status; touch /probe 2>/dev/null && echo root=rw || "
    "echo root=ro; touch /tmp/f && chown 1234 /tmp/f 2>/dev/null && echo chown=ok || "
    "echo chown=denied";

static void body_security(void)
{
    ek_rt_pod_t *pod = new_pod("sec", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "sh", "-c", security_script, NULL };
    ek_rt_container_spec_t s1 = cspec("default", a);
    ek_autofree char *t1 = run_capture(pod, &s1, 0);
    char want[64];
    snprintf(want, sizeof(want), "CapEff:\t%016llx", (unsigned long long)default_caps());
    ASSERT_CONTAINS(t1, want);
    ASSERT_CONTAINS(t1, "procsys=ro");
    ASSERT_CONTAINS(t1, "sys=ro");
    ASSERT_CONTAINS(t1, "timer_list=0\n");
    ASSERT_CONTAINS(t1, "firmware=0");
    ASSERT_CONTAINS(t1, "NoNewPrivs:\t0");
    ASSERT_CONTAINS(t1, "root=rw");
    ASSERT_CONTAINS(t1, "chown=ok");

    /* drop CHOWN, add NET_ADMIN, no_new_privs, read-only root with a tmpfs /tmp */
    const char *drop[] = { "CHOWN", NULL }, *add[] = { "NET_ADMIN", NULL };
    ek_rt_mount_t tmp = { .destination = "/tmp", .tmpfs = true, .options = "size=1m" };
    ek_rt_container_spec_t s2 = cspec("locked", a);
    s2.cap_drop = drop;
    s2.cap_add = add;
    s2.no_new_privs = true;
    s2.readonly_rootfs = true;
    s2.mounts = &tmp;
    s2.n_mounts = 1;
    ek_autofree char *t2 = run_capture(pod, &s2, 0);
    snprintf(want, sizeof(want), "CapEff:\t%016llx",
             (unsigned long long)((default_caps() & ~1ULL) | (1ULL << 12)));
    ASSERT_CONTAINS(t2, want);
    ASSERT_CONTAINS(t2, "chown=denied");
    ASSERT_CONTAINS(t2, "NoNewPrivs:\t1");
    ASSERT_CONTAINS(t2, "root=ro");

    /* drop ALL + add CHOWN: chown works again with nothing else */
    const char *all[] = { "ALL", NULL }, *chown_cap[] = { "CAP_CHOWN", NULL };
    ek_rt_container_spec_t s3 = cspec("minimal", a);
    s3.cap_drop = all;
    s3.cap_add = chown_cap;
    ek_autofree char *t3 = run_capture(pod, &s3, 0);
    ASSERT_CONTAINS(t3, "CapEff:\t0000000000000001");
    ASSERT_CONTAINS(t3, "chown=ok");

    /* privileged: every capability, /sys writable, nothing masked */
    ek_rt_container_spec_t s4 = cspec("privileged", a);
    s4.privileged = true;
    ek_autofree char *t4 = run_capture(pod, &s4, 0);
    ek_autofree char *self = ek_file_read("/proc/self/status", 0, NULL, NULL);
    const char *prm = strstr(self, "CapPrm:\t");
    ASSERT_NOT_NULL(prm);
    snprintf(want, sizeof(want), "CapEff:\t%.16s", prm + 8); /* all that we have */
    ASSERT_CONTAINS(t4, want);
    ASSERT_CONTAINS(t4, "sys=rw");
    ASSERT_CONTAINS(t4, "procsys=rw");
    ASSERT_FALSE(strstr(t4, "timer_list=0\n"));
    ASSERT_FALSE(strstr(t4, "firmware=0\n"));
    remove_pod(pod);
}
TEST_T(runtime_security, 60)
{
    sandboxed(body_security);
}

static void body_mounts(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("vol", false, EK_RT_QOS_BESTEFFORT);
    ek_autofree char *vol = ek_xasprintf("%s/volume", W.tmp);
    ek_autofree char *hosts = ek_xasprintf("%s/hosts", W.tmp);
    ASSERT_OK(ek_mkdir_p(vol, 0777, &err), &err);
    write_text(hosts, "127.0.0.1 localhost\n10.42.0.5 vol\n");
    ek_rt_mount_t m[] = {
        { .destination = "/data", .source = vol },
        { .destination = "/ro/data", .source = vol, .readonly = true },
        { .destination = "/etc/hosts", .source = hosts, .readonly = true },
    };
    const char *a[] = { "sh", "-c",
                        "echo written > /data/out; cat /etc/hosts; "
                        "echo x > /ro/data/x 2>/dev/null && echo ro=no || echo ro=yes; "
                        "cat /ro/data/out; ls /dev; ls /dev/pts; "
                        "grep -c ' /dev/shm ' /proc/self/mountinfo",
                        NULL };
    ek_rt_container_spec_t s = cspec("vol", a);
    s.mounts = m;
    s.n_mounts = EK_ARRAY_SIZE(m);
    ek_autofree char *t = run_capture(pod, &s, 0);
    ASSERT_CONTAINS(t, "stdout: 10.42.0.5 vol\n");
    ASSERT_CONTAINS(t, "ro=yes");
    ASSERT_CONTAINS(t, "stdout: written\n");
    ASSERT_CONTAINS(t, "stdout: null\n");
    ASSERT_CONTAINS(t, "stdout: ptmx\n");
    ASSERT_CONTAINS(t, "stdout: shm\n");
    ek_autofree char *out = ek_xasprintf("%s/out", vol);
    ek_autofree char *data = ek_file_read(out, 0, NULL, &err);
    ASSERT_STREQ(data, "written\n");
    remove_pod(pod);
}
TEST_T(runtime_mounts, 60)
{
    sandboxed(body_mounts);
}

static void body_oom(void)
{
    ek_rt_pod_t *pod = new_pod("oom", false, EK_RT_QOS_BURSTABLE);
    const char *a[] = { "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1", NULL };
    ek_rt_container_spec_t s = cspec("hog", a);
    s.resources.memory_limit = 32 << 20;
    run(pod, &s);
    ek_rt_status_t st = wait_exit(pod, "hog");
    ASSERT_TRUE(st.oom_killed);
    ASSERT_STREQ(st.reason, "OOMKilled");
    ASSERT_EQ(st.signal, SIGKILL);
    ek_rt_status_clear(&st);
    /* Under the limit nothing is reported. */
    const char *b[] = { "dd", "if=/dev/zero", "of=/dev/null", "bs=1M", "count=1", NULL };
    ek_rt_container_spec_t s2 = cspec("fine", b);
    s2.resources.memory_limit = 32 << 20;
    run(pod, &s2);
    st = wait_exit(pod, "fine");
    ASSERT_FALSE(st.oom_killed);
    ASSERT_STREQ(st.reason, "Completed");
    ek_rt_status_clear(&st);
    remove_pod(pod);
}
TEST_T(runtime_oom_killed, 60)
{
    sandboxed(body_oom);
}

static void body_pids(void)
{
    ek_rt_pod_t *pod = new_pod("pids", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "sh", "-c",
                        "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; echo forked; "
                        "kill $(jobs -p) 2>/dev/null; exit 0",
                        NULL };
    ek_rt_container_spec_t s = cspec("forker", a);
    s.resources.pids_limit = 4;
    ek_autofree char *t = run_capture(pod, &s, -1);
    ASSERT_CONTAINS(t, "can't fork");
    remove_pod(pod);
}
TEST_T(runtime_pids_limit, 60)
{
    sandboxed(body_pids);
}

static char *cg_file(const ek__cg_t *cg, const char *hier, const char *file)
{
    for (size_t i = 0; i < cg->n; i++) {
        if (strcmp(cg->name[i], hier) == 0 || cg->version == 2) {
            ek_autofree char *p = ek_xasprintf("%s/%s", cg->dir[i], file);
            return ek_file_read(p, 4096, NULL, NULL);
        }
    }
    return NULL;
}

static void body_cgroup_files(void)
{
    ek_error_t *err = NULL;
    if (ek_rt_cgroup_version(W.rt) != 1) {
        ek_test_skip("this host's cgroups are v2 (the v2 files are covered on a fake tree)");
    }
    char uid[32];
    snprintf(uid, sizeof(uid), "pod-%d", W.seq + 1);
    ek_rt_pod_spec_t ps = { .uid = uid,
                            .qos = EK_RT_QOS_GUARANTEED,
                            .resources = { .memory_limit = 128 << 20 } };
    W.seq++;
    ek_rt_pod_t *pod = NULL;
    ASSERT_OK(ek_rt_pod_create(W.rt, &ps, &pod, &err), &err);
    const char *a[] = { "sleep", "1000", NULL };
    ek_rt_container_spec_t s = cspec("limited", a);
    s.resources = (ek_rt_resources_t){ .memory_limit = 64 << 20,
                                       .cpu_quota_us = 50000,
                                       .cpu_period_us = 100000,
                                       .cpu_shares = 512,
                                       .pids_limit = 100 };
    run(pod, &s);
    ek__cg_t base, pcg, ccg;
    ASSERT_OK(ek__cg_layout("/sys/fs/cgroup", W.cg_parent, true, &base, &err), &err);
    ek_autofree char *rel = ek_xasprintf("kubepods/pod%s", uid);
    ek__cg_child(&base, rel, &pcg);
    ek__cg_child(&pcg, "limited", &ccg);
    ek_autofree char *pmem = cg_file(&pcg, "memory", "memory.limit_in_bytes");
    ek_autofree char *mem = cg_file(&ccg, "memory", "memory.limit_in_bytes");
    ek_autofree char *quota = cg_file(&ccg, "cpu", "cpu.cfs_quota_us");
    ek_autofree char *period = cg_file(&ccg, "cpu", "cpu.cfs_period_us");
    ek_autofree char *shares = cg_file(&ccg, "cpu", "cpu.shares");
    ek_autofree char *pids = cg_file(&ccg, "pids", "pids.max");
    ek_autofree char *procs = cg_file(&ccg, "memory", "cgroup.procs");
    ASSERT_STREQ(pmem, "134217728\n");
    ASSERT_STREQ(mem, "67108864\n");
    ASSERT_STREQ(quota, "50000\n");
    ASSERT_STREQ(period, "100000\n");
    ASSERT_STREQ(shares, "512\n");
    ASSERT_STREQ(pids, "100\n");
    ASSERT_TRUE(procs && *procs);
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pod, "limited", &st, &err), &err);
    char want[32];
    snprintf(want, sizeof(want), "%d\n", (int)st.pid);
    ASSERT_STREQ(procs, want);
    ek_rt_status_clear(&st);
    remove_pod(pod);
    ek_autofree char *gone = ek_xasprintf("%s", pcg.dir[0]);
    ASSERT_FALSE(ek_path_exists(gone));
    ek__cg_free(&base);
    ek__cg_free(&pcg);
    ek__cg_free(&ccg);
}
TEST_T(runtime_cgroup_v1_files, 60)
{
    sandboxed(body_cgroup_files);
}

/* cgroup v2's files, on a directory tree that looks like one (this host's memory controller
 * is v1, so a real v2 tree cannot hold these limits here). */
TEST(runtime_cgroup_v2_files)
{
    ek_error_t *err = NULL;
    ek_autofree char *root = ek_test_path("cg2");
    ek_autofree char *leaf = ek_xasprintf("%s/edgek/kubepods/pod1/c", root);
    ASSERT_OK(ek_mkdir_p(leaf, 0755, &err), &err);
    const char *levels[] = { "", "/edgek", "/edgek/kubepods", "/edgek/kubepods/pod1" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(levels); i++) {
        ek_autofree char *c = ek_xasprintf("%s%s/cgroup.controllers", root, levels[i]);
        ek_autofree char *s = ek_xasprintf("%s%s/cgroup.subtree_control", root, levels[i]);
        write_text(c, "pids\n");
        write_text(s, "");
    }
    const char *files[] = { "memory.max", "memory.swap.max", "cpu.max", "cpu.weight", "pids.max" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(files); i++) {
        ek_autofree char *f = ek_xasprintf("%s/%s", leaf, files[i]);
        write_text(f, "");
    }
    ek__cg_t base, cg;
    ASSERT_OK(ek__cg_layout(root, "edgek", false, &base, &err), &err);
    ASSERT_EQ(base.version, 2);
    ek__cg_child(&base, "kubepods/pod1/c", &cg);
    ASSERT_OK(ek__cg_create(&cg, 3, &err), &err);
    ek_rt_resources_t r = {
        .memory_limit = 64 << 20, .cpu_quota_us = 50000, .cpu_shares = 512, .pids_limit = 100
    };
    ASSERT_OK(ek__cg_set_limits(&cg, &r, &err), &err);
    struct {
        const char *file, *want;
    } checks[] = {
        { "memory.max", "67108864" }, { "memory.swap.max", "0" }, { "cpu.max", "50000 100000" },
        { "cpu.weight", "20" },       { "pids.max", "100" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(checks); i++) {
        ek_autofree char *got = cg_file(&cg, "unified", checks[i].file);
        ASSERT_STREQ(got, checks[i].want);
    }
    /* Controllers enabled in the three ancestors, not in the leaf or above. */
    for (size_t i = 0; i < EK_ARRAY_SIZE(levels); i++) {
        ek_autofree char *s = ek_xasprintf("%s%s/cgroup.subtree_control", root, levels[i]);
        ek_autofree char *got = ek_file_read(s, 0, NULL, &err);
        ASSERT_STREQ(got, i == 0 ? "" : "+pids");
    }
    ASSERT_EQ(ek__cg_shares_to_weight(2), 1);
    ASSERT_EQ(ek__cg_shares_to_weight(1024), 39);
    ASSERT_EQ(ek__cg_shares_to_weight(262144), 10000);
    ek__cg_free(&base);
    ek__cg_free(&cg);
}

static void body_exec(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("exec", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "sh", "-c",
                        "echo hi > /tmp/marker; readlink /proc/self/ns/pid; exec sleep 1000",
                        NULL };
    ek_rt_container_spec_t s = cspec("target", a);
    s.run_as_user = 1000;
    const char *env[] = { "GREETING=hello", NULL };
    s.env = env;
    run(pod, &s);
    ek_autofree char *marker = NULL;
    for (int i = 0; i < 200 && !(marker && strstr(marker, "pid:")); i++) {
        free(marker);
        marker = log_text(s.log_path);
        usleep(10000);
    }
    char *out = NULL;
    int code = -1;
    const char *x1[] = { "sh", "-c",
                         "cat /tmp/marker; echo $GREETING; id -u; readlink /proc/self/ns/pid; "
                         "echo err >&2; exit 5",
                         NULL };
    ASSERT_OK(ek_rt_exec_sync(pod, "target", x1, 10000, &out, &code, &err), &err);
    ASSERT_EQ(code, 5);
    ASSERT_CONTAINS(out, "hi\nhello\n1000\n");
    ASSERT_CONTAINS(out, "err\n");
    char pidns[64];
    const char *p = strstr(marker, "pid:[");
    ASSERT_NOT_NULL(p);
    snprintf(pidns, sizeof(pidns), "%.*s", (int)strcspn(p, "\n"), p);
    ASSERT_CONTAINS(out, pidns);
    free(out);

    const char *x2[] = { "no-such-tool", NULL };
    ASSERT_EQ(ek_rt_exec_sync(pod, "target", x2, 10000, &out, &code, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "executable file not found in $PATH");
    ek_error_clear(&err);

    const char *x3[] = { "sleep", "30", NULL };
    uint64_t t0 = ek_now_ms();
    ASSERT_EQ(ek_rt_exec_sync(pod, "target", x3, 200, &out, &code, &err), -1);
    ASSERT_EQ(err->errnum, ETIMEDOUT);
    ASSERT_CMP(ek_now_ms() - t0, <, 5000);
    ek_error_clear(&err);

    /* exec with our own pipes and a wait through its fd */
    int pin[2], pout[2];
    ASSERT_EQ(pipe2(pin, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(pout, O_CLOEXEC), 0);
    const char *x4[] = { "tr", "a-z", "A-Z", NULL };
    ek_rt_exec_spec_t es = {
        .args = x4, .stdin_fd = pin[0], .stdout_fd = pout[1], .stderr_fd = -1
    };
    ek_rt_exec_t *ex = NULL;
    ASSERT_OK(ek_rt_exec_start(pod, "target", &es, &ex, &err), &err);
    close(pin[0]);
    close(pout[1]);
    ASSERT_EQ(write(pin[1], "shout\n", 6), 6);
    close(pin[1]);
    char buf[64] = "";
    ASSERT_EQ(read(pout[0], buf, sizeof(buf) - 1), 6);
    ASSERT_STREQ(buf, "SHOUT\n");
    ASSERT_OK(ek_rt_exec_wait(ex, 5000, &code, &err), &err);
    ASSERT_EQ(code, 0);
    ek_rt_exec_free(ex);
    close(pout[0]);
    remove_pod(pod);
}
TEST_T(runtime_exec, 60)
{
    sandboxed(body_exec);
}

static void body_graceful_stop(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("stop", false, EK_RT_QOS_BESTEFFORT);
    const char *a1[] = { "sh", "-c",
                         "trap 'echo got TERM; exit 0' TERM; echo ready; "
                         "while true; do sleep 0.05; done",
                         NULL };
    ek_rt_container_spec_t s1 = cspec("polite", a1);
    run(pod, &s1);
    for (int i = 0; i < 200; i++) {
        ek_autofree char *t = log_text(s1.log_path);
        if (strstr(t, "ready")) {
            break;
        }
        usleep(10000);
    }
    uint64_t t0 = ek_now_ms();
    ASSERT_OK(ek_rt_container_stop(pod, "polite", 10000, &err), &err);
    ASSERT_CMP(ek_now_ms() - t0, <, 5000);
    ek_rt_status_t st = wait_exit(pod, "polite");
    ASSERT_EQ(st.exit_code, 0);
    ek_rt_status_clear(&st);
    ek_autofree char *t1 = log_text(s1.log_path);
    ASSERT_CONTAINS(t1, "got TERM");

    /* PID 1 without a handler ignores SIGTERM: SIGKILL comes after the grace period. */
    const char *a2[] = { "sleep", "1000", NULL };
    ek_rt_container_spec_t s2 = cspec("stubborn", a2);
    run(pod, &s2);
    t0 = ek_now_ms();
    ASSERT_OK(ek_rt_container_stop(pod, "stubborn", 400, &err), &err);
    uint64_t took = ek_now_ms() - t0;
    ASSERT_CMP(took, >=, 400);
    ASSERT_CMP(took, <, 5000);
    st = wait_exit(pod, "stubborn");
    ASSERT_EQ(st.signal, SIGKILL);
    ASSERT_EQ(st.exit_code, 137);
    ek_rt_status_clear(&st);

    /* Pod stop: every container, sandbox kept. */
    ek_rt_container_spec_t s3 = cspec("third", a2);
    run(pod, &s3);
    ASSERT_OK(ek_rt_pod_stop(pod, 200, &err), &err);
    ASSERT_OK(ek_rt_container_status(pod, "third", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_EXITED);
    ek_rt_status_clear(&st);
    ASSERT_TRUE(ek_rt_pod_alive(pod));
    remove_pod(pod);
}
TEST_T(runtime_graceful_stop, 60)
{
    sandboxed(body_graceful_stop);
}

static void body_adopt(void)
{
    ek_error_t *err = NULL;
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    fflush(NULL);
    pid_t agent = fork();
    if (agent == 0) {
        /* The first agent: starts a pod and goes away. */
        ek_rt_pod_t *pod = new_pod("adopted", false, EK_RT_QOS_BESTEFFORT);
        const char *a[] = { "sh", "-c", "while true; do echo tick; sleep 0.1; done", NULL };
        ek_rt_container_spec_t s = cspec("ticker", a);
        run(pod, &s);
        ek_rt_status_t st;
        ASSERT_OK(ek_rt_container_status(pod, "ticker", &st, &err), &err);
        long long rec[3] = { st.pid, st.started_ns, ek_rt_pod_shim_pid(pod) };
        ASSERT_EQ(write(p[1], rec, sizeof(rec)), (ssize_t)sizeof(rec));
        _exit(0);
    }
    close(p[1]);
    long long rec[3];
    ASSERT_EQ(read(p[0], rec, sizeof(rec)), (ssize_t)sizeof(rec));
    int status;
    ASSERT_EQ(waitpid(agent, &status, 0), agent);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ek_rt_close(W.rt);
    open_runtime(); /* the restarted agent */
    ek_rt_pod_t **pods;
    size_t n;
    ASSERT_OK(ek_rt_adopt(W.rt, &pods, &n, &err), &err);
    ASSERT_EQ(n, 1);
    ASSERT_TRUE(ek_rt_pod_alive(pods[0]));
    ASSERT_EQ(ek_rt_pod_shim_pid(pods[0]), rec[2]);
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pods[0], "ticker", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_RUNNING);
    ASSERT_EQ(st.pid, rec[0]);
    ASSERT_EQ(st.started_ns, rec[1]);
    ASSERT_TRUE(proc_alive((pid_t)rec[0]));
    ek_rt_status_clear(&st);
    char *out = NULL;
    int code;
    const char *x[] = { "echo", "still here", NULL };
    ASSERT_OK(ek_rt_exec_sync(pods[0], "ticker", x, 5000, &out, &code, &err), &err);
    ASSERT_STREQ(out, "still here\n");
    free(out);
    ek_rt_pod_t *pod = pods[0];
    pods[0] = NULL;
    ek_rt_pods_free(pods, n);
    remove_pod(pod);
    reap_zombies();
    ASSERT_FALSE(proc_alive((pid_t)rec[0]));
    ASSERT_FALSE(proc_alive((pid_t)rec[2]));
}
TEST_T(runtime_adopt_after_agent_restart, 60)
{
    sandboxed(body_adopt);
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d))) {
        n += ek_has_prefix(de->d_name, prefix);
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void body_rotation(void)
{
    ek_rt_pod_t *pod = new_pod("rot", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "sh", "-c",
                        "i=0; while [ $i -lt 400 ]; do echo \"line $i "
                        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"; i=$((i+1)); done",
                        NULL };
    ek_rt_container_spec_t s = cspec("chatty", a);
    s.log_max_size = 2048;
    s.log_max_files = 3;
    ek_autofree char *t = run_capture(pod, &s, 0);
    ek_autofree char *dir = ek_path_dirname(s.log_path);
    ASSERT_EQ(count_files(dir, "0.log"), 3);
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        ek_autofree char *path = ek_xasprintf("%s/%s", dir, de->d_name);
        struct stat st;
        ASSERT_EQ(stat(path, &st), 0);
        ASSERT_CMP(st.st_size, <=, 2048 + 16384 + 4096);
        free(log_text(path)); /* well-formed */
    }
    closedir(d);
    /* Rotated files in name order, then the live one, hold the newest lines in order with
     * none missing; the oldest are gone. */
    char *names[8];
    size_t n = 0;
    d = opendir(dir);
    while ((de = readdir(d)) && n < 8) {
        if (ek_has_prefix(de->d_name, "0.log.")) {
            names[n++] = ek_xstrdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    names[n++] = ek_xstrdup("0.log");
    ek_autobuf all = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_autofree char *path = ek_xasprintf("%s/%s", dir, names[i]);
        ek_autofree char *text = log_text(path);
        ek_buf_puts(&all, text);
        free(names[i]);
    }
    int prev = -1;
    for (const char *p = all.data; (p = strstr(p, "stdout: line ")); p++) {
        int num = atoi(p + 13);
        ASSERT_TRUE(prev < 0 || num == prev + 1);
        prev = num;
    }
    ASSERT_EQ(prev, 399);
    ASSERT_FALSE(strstr(all.data, "stdout: line 0 "));
    EK_UNUSED(t);
    remove_pod(pod);
}
TEST_T(runtime_log_rotation, 60)
{
    sandboxed(body_rotation);
}

static bool mounted_under(const char *dir)
{
    ek_autofree char *mi = ek_file_read("/proc/self/mountinfo", 0, NULL, NULL);
    return mi && strstr(mi, dir);
}

static void body_cleanup(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("clean", false, EK_RT_QOS_BURSTABLE);
    const char *a[] = { "sleep", "1000", NULL };
    const char *b[] = { "true", NULL };
    ek_rt_container_spec_t s1 = cspec("runner", a), s2 = cspec("done", b);
    run(pod, &s1);
    run(pod, &s2);
    ek_rt_status_clear((ek_rt_status_t[]){ wait_exit(pod, "done") });
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pod, "runner", &st, &err), &err);
    pid_t cpid = st.pid, spid = ek_rt_pod_shim_pid(pod);
    ek_rt_status_clear(&st);
    ek_autofree char *dir = ek_xasprintf("%s/pods/%s", W.state, ek_rt_pod_uid(pod));
    ASSERT_TRUE(mounted_under(dir));
    ek__cg_t base, pcg;
    ASSERT_OK(ek__cg_layout("/sys/fs/cgroup", W.cg_parent, true, &base, &err), &err);
    ek_autofree char *rel = ek_xasprintf("kubepods/burstable/pod%s", ek_rt_pod_uid(pod));
    ek__cg_child(&base, rel, &pcg);
    for (size_t i = 0; i < pcg.n; i++) {
        ASSERT_TRUE(ek_path_exists(pcg.dir[i]));
    }
    /* a container that never ran can be removed; a running one cannot */
    ASSERT_EQ(ek_rt_container_remove(pod, "runner", &err), -1);
    ASSERT_EQ(err->errnum, EBUSY);
    ek_error_clear(&err);
    ASSERT_OK(ek_rt_container_remove(pod, "done", &err), &err);
    remove_pod(pod);
    reap_zombies();
    ASSERT_FALSE(proc_alive(cpid));
    ASSERT_FALSE(proc_alive(spid));
    ASSERT_FALSE(mounted_under(dir));
    ASSERT_FALSE(ek_path_exists(dir));
    for (size_t i = 0; i < pcg.n; i++) {
        ASSERT_FALSE(ek_path_exists(pcg.dir[i]));
    }
    ek__cg_free(&base);
    ek__cg_free(&pcg);
}
TEST_T(runtime_cleanup, 60)
{
    sandboxed(body_cleanup);
}

static void body_shim_death(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("dies", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "sleep", "1000", NULL };
    const char *b[] = { "false", NULL };
    ek_rt_container_spec_t s1 = cspec("orphan", a), s2 = cspec("exited", b);
    run(pod, &s1);
    run(pod, &s2);
    ek_rt_status_clear((ek_rt_status_t[]){ wait_exit(pod, "exited") });
    ek_rt_status_t st;
    ASSERT_OK(ek_rt_container_status(pod, "orphan", &st, &err), &err);
    pid_t cpid = st.pid;
    ek_rt_status_clear(&st);
    ASSERT_EQ(kill(ek_rt_pod_shim_pid(pod), SIGKILL), 0);
    for (int i = 0; i < 300 && (proc_alive(cpid) || ek_rt_pod_alive(pod)); i++) {
        usleep(10000);
        reap_zombies();
    }
    ASSERT_FALSE(proc_alive(cpid)); /* the container follows its shim */
    ASSERT_FALSE(ek_rt_pod_alive(pod));
    ASSERT_OK(ek_rt_container_status(pod, "orphan", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_UNKNOWN);
    ek_rt_status_clear(&st);
    ASSERT_OK(ek_rt_container_status(pod, "exited", &st, &err), &err);
    ASSERT_EQ(st.state, EK_RT_EXITED);
    ASSERT_EQ(st.exit_code, 1);
    ek_rt_status_clear(&st);
    remove_pod(pod);
}
TEST_T(runtime_shim_death, 60)
{
    sandboxed(body_shim_death);
}

static void body_overlay_refused(void)
{
    ek_error_t *err = NULL;
    ek_autofree char *lower = ek_xasprintf("%s/ovl/lower", W.tmp);
    ek_autofree char *upper = ek_xasprintf("%s/ovl/upper", W.tmp);
    ek_autofree char *work = ek_xasprintf("%s/ovl/work", W.tmp);
    ek_autofree char *merged = ek_xasprintf("%s/ovl/merged", W.tmp);
    const char *dirs[] = { lower, upper, work, merged };
    for (size_t i = 0; i < 4; i++) {
        ASSERT_OK(ek_mkdir_p(dirs[i], 0755, &err), &err);
    }
    ek_autofree char *opts = ek_xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    ASSERT_EQ(mount("overlay", merged, "overlay", 0, opts), 0);
    ek_autofree char *cu = ek_xasprintf("%s/cu", merged);
    ek_autofree char *cw = ek_xasprintf("%s/cw", merged);
    ek_rt_pod_t *pod = new_pod("ovl", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "true", NULL };
    ek_rt_container_spec_t s = cspec("nested", a);
    s.upper_dir = cu;
    s.work_dir = cw;
    if (ek_rt_container_create(pod, &s, &err) == 0) {
        ek_test_skip("this kernel accepts an overlayfs upper dir on overlayfs");
    }
    ASSERT_CONTAINS(ek_error_msg(err), "is itself on overlayfs");
    ek_error_clear(&err);
    remove_pod(pod);
}
TEST_T(runtime_overlay_refused, 60)
{
    sandboxed(body_overlay_refused);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* create+start latency: from the create call until start returns (the process has exec'd). */
static void body_latency(void)
{
    ek_error_t *err = NULL;
    ek_rt_pod_t *pod = new_pod("fast", false, EK_RT_QOS_BESTEFFORT);
    const char *a[] = { "true", NULL };
    uint64_t us[50];
    for (int i = 0; i < 50; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        ek_rt_container_spec_t s = cspec(name, a);
        uint64_t t0 = ek_now_ns();
        run(pod, &s);
        us[i] = (ek_now_ns() - t0) / 1000;
        ek_rt_status_clear((ek_rt_status_t[]){ wait_exit(pod, name) });
        ASSERT_OK(ek_rt_container_remove(pod, name, &err), &err);
    }
    qsort(us, 50, sizeof(us[0]), cmp_u64);
    printf("# runtime start latency (ASan build): p50=%.2f ms p99=%.2f ms\n", us[24] / 1000.0,
           us[49] / 1000.0);
    ASSERT_CMP(us[24], <, 100000); /* generous: sanitizers, two shared cores */
    remove_pod(pod);
}
TEST_T(runtime_start_latency, 120)
{
    sandboxed(body_latency);
}
