/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container start figures, measured against runc in the same run: create+start latency of a
 * busybox `true` container (until start returns: the process has exec'd), the full
 * create-start-exit-remove cycle next to `runc run` of the same root directory, and the shim's
 * private memory (smaps_rollup) while it serves a pod with two running containers and after
 * it has run the whole series. Runs as PID 1 of its own PID, mount and network namespaces;
 * cgroups go below parents named after the process and are removed at the end.
 *
 *   bench_runtime SCRATCH_DIR SHIM_EXE
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "node/node.h"
#include "node/runtime/runtime-internal.h"

static int runs = 50;
static char cg_parent[64], runc_parent[64];

static void die(const char *what, ek_error_t *err)
{
    fprintf(stderr, "bench_runtime: %s: %s\n", what, err ? ek_error_msg(err) : strerror(errno));
    exit(1);
}

static void busybox_root(const char *dir)
{
    ek_error_t *err = NULL;
    const char *applets[] = { "sh", "true", "sleep", "cat" };
    ek_autofree char *bin = ek_xasprintf("%s/bin", dir);
    ek_autofree char *bb = ek_xasprintf("%s/bin/busybox", dir);
    if (ek_mkdir_p(bin, 0755, &err) < 0) {
        die("mkdir", err);
    }
    if (link("/bin/busybox", bb) < 0) {
        size_t len;
        ek_autofree char *data = ek_file_read("/bin/busybox", 0, &len, &err);
        if (!data || ek_file_write_atomic(bb, data, len, 0755, &err) < 0) {
            die("copy busybox", err);
        }
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(applets); i++) {
        ek_autofree char *l = ek_xasprintf("%s/bin/%s", dir, applets[i]);
        if (symlink("busybox", l) < 0) {
            die("symlink", NULL);
        }
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, int n, int p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    int i = (n * p + 99) / 100 - 1;
    return (double)v[i < 0 ? 0 : i] / 1e6;
}

static long smaps_kb(pid_t pid, const char *key)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    ek_autofree char *data = ek_file_read(path, 0, NULL, NULL);
    const char *p = data ? strstr(data, key) : NULL;
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static ek_rt_container_spec_t spec(const char *root, const char *logs, const char *name,
                                   const char *const *args)
{
    ek_rt_container_spec_t s = {
        .name = name, .rootfs_dir = root, .args = args, .run_as_user = -1, .run_as_group = -1
    };
    s.log_path = ek_xasprintf("%s/%s.log", logs, name); /* freed at exit */
    return s;
}

/* create+start (ns until running) and create..removed (ns for the whole cycle). */
static void series(ek_rt_pod_t *pod, const char *root, const char *logs, uint64_t *start,
                   uint64_t *cycle)
{
    ek_error_t *err = NULL;
    const char *args[] = { "true", NULL };
    for (int i = 0; i < runs; i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%d", i);
        ek_rt_container_spec_t s = spec(root, logs, name, args);
        uint64_t t0 = ek_now_ns();
        if (ek_rt_container_create(pod, &s, &err) < 0 ||
            ek_rt_container_start(pod, name, &err) < 0) {
            die("start", err);
        }
        start[i] = ek_now_ns() - t0;
        ek_rt_status_t st;
        if (ek_rt_container_wait(pod, name, 10000, &st, &err) < 0 ||
            ek_rt_container_remove(pod, name, &err) < 0) {
            die("wait/remove", err);
        }
        cycle[i] = ek_now_ns() - t0;
        ek_rt_status_clear(&st);
        free((char *)s.log_path);
    }
}

static void runc_bundle(const char *bundle, const char *root)
{
    ek_error_t *err = NULL;
    if (ek_mkdir_p(bundle, 0755, &err) < 0) {
        die("bundle", err);
    }
    ek_autofree char *cfg = ek_xasprintf(
        "{\"ociVersion\":\"1.0.2\",\"process\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
        "\"args\":[\"true\"],\"env\":[\"PATH=/bin\"],\"cwd\":\"/\",\"capabilities\":{"
        "\"bounding\":[\"CAP_KILL\"],\"effective\":[\"CAP_KILL\"],\"permitted\":[\"CAP_KILL\"]},"
        "\"noNewPrivileges\":true},\"root\":{\"path\":\"%s\",\"readonly\":false},"
        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\","
        "\"source\":\"proc\"},{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
        "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
        "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":["
        "\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
        "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":["
        "\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
        "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":["
        "\"nosuid\",\"noexec\",\"nodev\",\"ro\"]}],\"linux\":{\"cgroupsPath\":\"/%s/runc\","
        "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"mount\"}],"
        "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\"],"
        "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\"]}}",
        root, runc_parent);
    ek_autofree char *path = ek_xasprintf("%s/config.json", bundle);
    if (ek_file_write_atomic(path, cfg, strlen(cfg), 0644, &err) < 0) {
        die("config.json", err);
    }
}

/* `runc run` (create, start, wait, delete) of the same root; 0 if runc is missing. */
static int runc_series(const char *bundle, const char *state, uint64_t *cycle)
{
    if (access("/usr/sbin/runc", X_OK) < 0) {
        return 0;
    }
    for (int i = 0; i < runs; i++) {
        char id[32];
        snprintf(id, sizeof(id), "ek-bench-%d", i);
        uint64_t t0 = ek_now_ns();
        pid_t pid = fork();
        if (pid == 0) {
            int null = open("/dev/null", O_RDWR);
            dup2(null, 0);
            dup2(null, 1);
            execl("/usr/sbin/runc", "runc", "--root", state, "run", "--bundle", bundle, id,
                  (char *)NULL);
            _exit(127);
        }
        int status;
        waitpid(pid, &status, 0);
        cycle[i] = ek_now_ns() - t0;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "bench_runtime: runc run failed (status %d); no peer\n", status);
            return 0;
        }
    }
    return 1;
}

static void remove_parent(const char *parent, bool nested)
{
    ek__cg_t cg;
    ek_error_t *err = NULL;
    if (ek__cg_layout("/sys/fs/cgroup", parent, nested, &cg, &err) == 0) {
        ek__cg_remove(&cg, &err);
        ek__cg_free(&cg);
    }
    ek_error_free(err);
}

/* runc joins every hierarchy (unified, systemd, freezer, ...): remove its parent from all. */
static void remove_runc_parent(void)
{
    DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        ek__cg_t cg = { .version = 1, .n = 1 };
        cg.name[0] = ek_xstrdup(de->d_name);
        cg.dir[0] = ek_xasprintf("/sys/fs/cgroup/%s/%s", de->d_name, runc_parent);
        ek__cg_remove(&cg, NULL);
        ek__cg_free(&cg);
    }
    if (d) {
        closedir(d);
    }
}

static void measure_memory(ek_rt_t *rt, const char *root, const char *logs, long *idle_kb)
{
    ek_error_t *err = NULL;
    ek_rt_pod_spec_t ps = { .uid = "mem", .hostname = "mem" };
    ek_rt_pod_t *pod = NULL;
    if (ek_rt_pod_create(rt, &ps, &pod, &err) < 0) {
        die("pod", err);
    }
    const char *args[] = { "sleep", "1000", NULL };
    for (int i = 0; i < 2; i++) {
        ek_rt_container_spec_t s = spec(root, logs, i ? "b" : "a", args);
        if (ek_rt_container_create(pod, &s, &err) < 0 ||
            ek_rt_container_start(pod, s.name, &err) < 0) {
            die("start", err);
        }
        free((char *)s.log_path);
    }
    *idle_kb = smaps_kb(ek_rt_pod_shim_pid(pod), "Private_Dirty:");
    if (ek_rt_pod_remove(pod, &err) < 0) {
        die("remove", err);
    }
}

static int bench(const char *scratch, const char *shim)
{
    ek_error_t *err = NULL;
    ek_autofree char *abs = realpath(scratch, NULL);
    if (!abs) {
        die("scratch dir", NULL);
    }
    scratch = abs;
    ek_autofree char *root = ek_xasprintf("%s/rootfs", scratch);
    ek_autofree char *logs = ek_xasprintf("%s/logs", scratch);
    ek_autofree char *state = ek_xasprintf("%s/state", scratch);
    ek_autofree char *bundle = ek_xasprintf("%s/bundle", scratch);
    busybox_root(root);
    ek_rt_config_t cfg = {
        .state_dir = state, .shim_exe = shim, .cgroup_parent = cg_parent, .cgroup_nested = true
    };
    ek_rt_t *rt = ek_rt_open(&cfg, &err);
    if (!rt) {
        die("open", err);
    }
    long idle_kb;
    measure_memory(rt, root, logs, &idle_kb);
    ek_rt_pod_spec_t ps = { .uid = "bench", .hostname = "bench" };
    ek_rt_pod_t *pod = NULL;
    if (ek_rt_pod_create(rt, &ps, &pod, &err) < 0) {
        die("pod", err);
    }
    uint64_t *start = ek_xcalloc((size_t)runs, 8), *cycle = ek_xcalloc((size_t)runs, 8);
    uint64_t *peer = ek_xcalloc((size_t)runs, 8);
    series(pod, root, logs, start, cycle);
    long after_kb = smaps_kb(ek_rt_pod_shim_pid(pod), "Private_Dirty:");
    long rss_kb = smaps_kb(ek_rt_pod_shim_pid(pod), "Rss:");
    ek_rt_pod_remove(pod, NULL);
    runc_bundle(bundle, root);
    ek_autofree char *runc_state = ek_xasprintf("%s/runc", scratch);
    int have_peer = runc_series(bundle, runc_state, peer);
    double s50 = pct(start, runs, 50), s99 = pct(start, runs, 99);
    double c50 = pct(cycle, runs, 50), p50 = have_peer ? pct(peer, runs, 50) : 0;
    printf("ours: create+start p50 %.2f ms, p99 %.2f ms; create..exit..remove p50 %.2f ms\n", s50,
           s99, c50);
    if (have_peer) {
        printf("runc: run (create, start, wait, delete) p50 %.2f ms\n", p50);
    }
    printf("shim: Private_Dirty %ld kB with 2 running containers, %ld kB after %d containers "
           "(Rss %ld kB)\n",
           idle_kb, after_kb, runs, rss_kb);
    printf("runtime: start_p50_ms=%.2f start_p99_ms=%.2f run_p50_ms=%.2f runc_run_p50_ms=%.2f "
           "ratio=%.2f shim_private_dirty_kb=%ld\n",
           s50, s99, c50, p50, have_peer ? p50 / c50 : 0.0, EK_MAX(idle_kb, after_kb));
    free(start);
    free(cycle);
    free(peer);
    ek_rt_close(rt);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_runtime SCRATCH_DIR SHIM_EXE\n");
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "bench_runtime: needs root (namespaces, mounts, cgroups)\n");
        return 77;
    }
    if (getenv("EK_BENCH_RUNS")) {
        runs = EK_MAX(atoi(getenv("EK_BENCH_RUNS")), 1);
    }
    snprintf(cg_parent, sizeof(cg_parent), "edgek-bench-%d", (int)getpid());
    snprintf(runc_parent, sizeof(runc_parent), "edgek-bench-runc-%d", (int)getpid());
    int own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
    if (own < 0 || unshare(CLONE_NEWPID) < 0) {
        die("PID namespace", NULL);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0 ||
            mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
            die("namespaces", NULL);
        }
        int rc = bench(argv[1], argv[2]);
        fflush(NULL);
        _exit(rc);
    }
    setns(own, CLONE_NEWPID);
    int status = 1;
    waitpid(pid, &status, 0);
    remove_parent(cg_parent, true);
    remove_runc_parent();
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
