/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service proxy figures at scale, in a network namespace of its own (as root): N Services
 * (one TCP port each, every tenth a NodePort) with E endpoints each, fed to net/proxy as an
 * informer would, then
 *   - the full sync (first start, then full resyncs): wall time from the request to the
 *     transaction's acknowledgement, and the proxy's own split (diff on the loop, apply on the
 *     worker);
 *   - one endpoint change (an endpoint replaced in one slice): wall time from the informer
 *     event to the acknowledged transaction, with the default 1 ms coalescing delay included;
 *   - memory: the proxy's own state (malloc'd bytes), the kernel's ruleset (kernel memory
 *     charged to a memory cgroup of our own, when cgroup v1 memory is available);
 *   - the peer, in the same run: `nft -f` (Debian's nftables CLI) of the same transactions
 *     written as nft scripts, one command per line as kube-proxy feeds it: the full ruleset,
 *     and each one-change transaction; its kernel memory and peak RSS.
 * Prints a table; the last line is
 *   proxy: full_sync_ms=... one_change_ms=... nft_cli_full_ms=... ... (medians; wall times, and
 *   the process's CPU time, which load from other processes on the machine does not inflate)
 *
 *   bench_proxy [SERVICES=5000] [ENDPOINTS=3] [ROUNDS=5] [CHANGES=20]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "net/proxy/proxy-internal.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, int n, double p)
{
    double *c = ek_xcalloc((size_t)n, sizeof(*c));
    memcpy(c, v, (size_t)n * sizeof(*c));
    qsort(c, (size_t)n, sizeof(*c), cmp_double);
    double r = c[(int)(p * (n - 1) + 0.5)];
    free(c);
    return r;
}

/* ---- kernel memory: a memory cgroup (v1) of our own ---- */

static char cg_dir[512];

static void cg_enter(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[512], path[400] = "";
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%*d:memory:%399[^\n]", path) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    if (!*path) {
        return;
    }
    snprintf(cg_dir, sizeof(cg_dir), "/sys/fs/cgroup/memory%s/edgek-bench-proxy-%d",
             strcmp(path, "/") ? path : "", getpid());
    char procs[600];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
    FILE *p = NULL;
    if (mkdir(cg_dir, 0755) < 0 || !(p = fopen(procs, "w"))) {
        cg_dir[0] = '\0';
        return;
    }
    fprintf(p, "%d\n", getpid());
    if (fclose(p) != 0) {
        rmdir(cg_dir);
        cg_dir[0] = '\0';
    }
}

static void cg_leave(void)
{
    if (!*cg_dir) {
        return;
    }
    char parent[600];
    snprintf(parent, sizeof(parent), "%s/../cgroup.procs", cg_dir);
    FILE *p = fopen(parent, "w");
    if (p) {
        fprintf(p, "%d\n", getpid());
        fclose(p);
    }
    rmdir(cg_dir);
}

/* Kernel memory charged to our cgroup in bytes, -1 without one. */
static long long kmem(void)
{
    if (!*cg_dir) {
        return -1;
    }
    char path[600];
    snprintf(path, sizeof(path), "%s/memory.kmem.usage_in_bytes", cg_dir);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1) {
            v = -1;
        }
        fclose(f);
    }
    return v;
}

/* ---- the objects ---- */

static json_t *service(int i, int nodeport)
{
    char name[32], ip[32];
    snprintf(name, sizeof(name), "svc-%05d", i);
    snprintf(ip, sizeof(ip), "10.43.%d.%d", 1 + i / 250, 1 + i % 250);
    json_t *port = json_pack("{s:s,s:i,s:s}", "name", "http", "port", 80, "targetPort", "http");
    if (nodeport) {
        json_object_set_new(port, "nodePort", json_integer(nodeport));
    }
    return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:[o]}}", "apiVersion", "v1", "kind",
                     "Service", "metadata", "name", name, "namespace", "bench", "spec", "type",
                     nodeport ? "NodePort" : "ClusterIP", "clusterIP", ip, "ports", port);
}

static json_t *slice(int i, int n_eps, int first_ep)
{
    char name[40], svc[32];
    snprintf(svc, sizeof(svc), "svc-%05d", i);
    snprintf(name, sizeof(name), "svc-%05d-abcde", i);
    json_t *eps = json_array();
    for (int k = 0; k < n_eps; k++) {
        int idx = first_ep + k;
        char ip[32], node[16];
        snprintf(ip, sizeof(ip), "10.42.%d.%d", 1 + idx / 250, 1 + idx % 250);
        snprintf(node, sizeof(node), "node-%d", idx % 3);
        json_array_append_new(eps, json_pack("{s:[s],s:s,s:{s:b}}", "addresses", ip, "nodeName",
                                             node, "conditions", "ready", 1));
    }
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:s,s:[{s:s,s:i,s:s}],s:o}", "apiVersion",
                     "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name", name,
                     "namespace", "bench", "labels", "kubernetes.io/service-name", svc,
                     "addressType", "IPv4", "ports", "name", "http", "port", 8080, "protocol",
                     "TCP", "endpoints", eps);
}

/* ---- driving the proxy ---- */

typedef struct bench {
    uv_loop_t loop;
    ek_proxy_t *p;
    ek_proxy_stats_t st;
    int syncs;
    bool failed;
} bench_t;

static void on_sync(const ek_proxy_stats_t *st, const ek_error_t *err, void *data)
{
    bench_t *b = data;
    b->st = *st;
    b->syncs++;
    if (err) {
        fprintf(stderr, "bench-proxy: sync failed: %s\n", ek_error_msg(err));
        b->failed = true;
    }
    uv_stop(&b->loop);
}

/* CPU time of this process (user + system, every thread) in ms: the kernel's work on a
 * transaction is charged to the worker thread that sends it. Load on the machine inflates wall
 * times, not this. */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Runs the loop until the next sync; returns the wall time since t0. */
static double wait_sync(bench_t *b, double t0)
{
    int before = b->syncs;
    while (b->syncs == before) {
        uv_run(&b->loop, UV_RUN_DEFAULT);
    }
    if (b->failed) {
        exit(1);
    }
    return now_ms() - t0;
}

/* Runs `nft -f path` in our namespace; returns its wall time, its peak RSS in *rss_kb. */
static double nft_file(const char *path, long *rss_kb)
{
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
        execlp("nft", "nft", "-f", path, (char *)NULL);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench-proxy: nft -f %s failed\n", path);
        exit(1);
    }
    if (rss_kb) {
        *rss_kb = ru.ru_maxrss;
    }
    return now_ms() - t0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "bench-proxy: cannot write %s\n", path);
        exit(1);
    }
}

typedef struct figures {
    double full_wall[16], full_plan[16], full_apply[16], full_cpu[16];
    double change_wall[256], change_plan[256], change_apply[256], change_cpu[256];
    double nft_change[256];
    double nft_full[16];
    size_t full_msgs, change_msgs;
    long long kmem_ours, kmem_nft;
    long nft_rss_kb;
    size_t user_bytes;
    ek_proxy_stats_t st;
} figures_t;

static void full_syncs(bench_t *b, figures_t *fig, int rounds)
{
    for (int r = 0; r < rounds; r++) {
        double t0 = now_ms(), c0 = cpu_ms();
        if (r == 0) {
            ek_proxy_start(b->p);
        } else {
            ek_proxy_resync(b->p);
        }
        fig->full_wall[r] = wait_sync(b, t0);
        fig->full_cpu[r] = cpu_ms() - c0;
        fig->full_plan[r] = b->st.last_plan_ms;
        fig->full_apply[r] = b->st.last_apply_ms;
        fig->full_msgs = b->st.last_messages;
    }
    fig->st = b->st;
}

static void one_changes(bench_t *b, figures_t *fig, int n_svc, int n_eps, int changes,
                        const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/change.nft", dir);
    srand(42);
    for (int c = 0; c < changes; c++) {
        int i = rand() % n_svc;
        /* The slice's first endpoint is replaced by a new pod's address. */
        ek_auto(json_t) s = slice(i, n_eps, 40000 + c * n_eps);
        ek_auto(json_t) old = slice(i, n_eps, i * n_eps);
        json_array_set(json_object_get(s, "endpoints"), 1,
                       json_array_get(json_object_get(old, "endpoints"), 1));
        json_array_set(json_object_get(s, "endpoints"), 2,
                       json_array_get(json_object_get(old, "endpoints"), 2));
        double t0 = now_ms(), c0 = cpu_ms();
        ek_proxy_endpointslice_upsert(b->p, s, NULL);
        fig->change_wall[c] = wait_sync(b, t0);
        fig->change_cpu[c] = cpu_ms() - c0;
        fig->change_plan[c] = b->st.last_plan_ms;
        fig->change_apply[c] = b->st.last_apply_ms;
        fig->change_msgs = b->st.last_messages;
        write_file(path, b->p->last_plan_text);
        fig->nft_change[c] = nft_file(path, NULL);
        /* Put the slice back, so the next change starts from the same table. */
        ek_proxy_endpointslice_upsert(b->p, old, NULL);
        wait_sync(b, now_ms());
    }
}

static void nft_peer(bench_t *b, figures_t *fig, int rounds, const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/full.nft", dir);
    ek_autofree char *script = ek_proxy_ruleset_script(b->p);
    write_file(path, script);
    ek_error_t *err = NULL;
    if (ek_proxy_cleanup(-1, NULL, &err) < 0) {
        fprintf(stderr, "bench-proxy: %s\n", ek_error_msg(err));
        exit(1);
    }
    usleep(200000); /* freed kernel memory is returned after RCU grace periods */
    long long k0 = kmem();
    for (int r = 0; r < rounds; r++) {
        fig->nft_full[r] = nft_file(path, r == 0 ? &fig->nft_rss_kb : NULL);
        if (r == 0) {
            usleep(200000);
            long long k1 = kmem();
            fig->kmem_nft = k0 >= 0 && k1 >= 0 ? k1 - k0 : -1;
        }
    }
}

static void report(const figures_t *f, int rounds, int changes, int n_svc, int n_eps)
{
    printf("services=%d endpoints_per_service=%d chains=%zu rules=%zu elements=%zu\n", n_svc, n_eps,
           f->st.chains, f->st.rules, f->st.elements);
    printf("%-34s %10s %10s %10s %10s\n", "", "median ms", "p90 ms", "max ms", "messages");
    printf("%-34s %10.1f %10.1f %10.1f %10zu\n", "full sync (wall)", pct(f->full_wall, rounds, .5),
           pct(f->full_wall, rounds, .9), pct(f->full_wall, rounds, 1), f->full_msgs);
    printf("%-34s %10.1f %10.1f %10.1f\n", "  diff on the loop", pct(f->full_plan, rounds, .5),
           pct(f->full_plan, rounds, .9), pct(f->full_plan, rounds, 1));
    printf("%-34s %10.1f %10.1f %10.1f\n", "  transaction on the worker",
           pct(f->full_apply, rounds, .5), pct(f->full_apply, rounds, .9),
           pct(f->full_apply, rounds, 1));
    printf("%-34s %10.1f %10.1f %10.1f\n", "  CPU (user+system, all threads)",
           pct(f->full_cpu, rounds, .5), pct(f->full_cpu, rounds, .9), pct(f->full_cpu, rounds, 1));
    printf("%-34s %10.1f %10.1f %10.1f\n", "peer: nft -f (same ruleset)",
           pct(f->nft_full, rounds, .5), pct(f->nft_full, rounds, .9), pct(f->nft_full, rounds, 1));
    printf("%-34s %10.2f %10.2f %10.2f %10zu\n", "one endpoint change (wall)",
           pct(f->change_wall, changes, .5), pct(f->change_wall, changes, .9),
           pct(f->change_wall, changes, 1), f->change_msgs);
    printf("%-34s %10.2f %10.2f %10.2f\n", "  diff on the loop", pct(f->change_plan, changes, .5),
           pct(f->change_plan, changes, .9), pct(f->change_plan, changes, 1));
    printf("%-34s %10.2f %10.2f %10.2f\n", "  transaction on the worker",
           pct(f->change_apply, changes, .5), pct(f->change_apply, changes, .9),
           pct(f->change_apply, changes, 1));
    printf("%-34s %10.2f %10.2f %10.2f\n", "  CPU (user+system, all threads)",
           pct(f->change_cpu, changes, .5), pct(f->change_cpu, changes, .9),
           pct(f->change_cpu, changes, 1));
    printf("%-34s %10.2f %10.2f %10.2f\n", "peer: nft -f (same change)",
           pct(f->nft_change, changes, .5), pct(f->nft_change, changes, .9),
           pct(f->nft_change, changes, 1));
    char ours[32] = "n/a", nft[32] = "n/a";
    if (f->kmem_ours >= 0) {
        snprintf(ours, sizeof(ours), "%.1f", (double)f->kmem_ours / 1048576.0);
    }
    if (f->kmem_nft >= 0) {
        snprintf(nft, sizeof(nft), "%.1f", (double)f->kmem_nft / 1048576.0);
    }
    printf("memory: proxy state %.1f MB (malloc'd); kernel ruleset %s MB (ours), %s MB "
           "(nft -f); nft peak RSS %.1f MB\n",
           (double)f->user_bytes / 1048576.0, ours, nft, (double)f->nft_rss_kb / 1024.0);
    printf("ratios: full sync %.2fx faster than nft -f; one change %.1fx faster\n",
           pct(f->nft_full, rounds, .5) / pct(f->full_wall, rounds, .5),
           pct(f->nft_change, changes, .5) / pct(f->change_wall, changes, .5));
    printf("proxy: full_sync_ms=%.1f one_change_ms=%.2f nft_cli_full_ms=%.1f "
           "nft_cli_change_ms=%.2f full_sync_cpu_ms=%.1f one_change_cpu_ms=%.2f kernel_mb=%.1f "
           "state_mb=%.1f\n",
           pct(f->full_wall, rounds, .5), pct(f->change_wall, changes, .5),
           pct(f->nft_full, rounds, .5), pct(f->nft_change, changes, .5),
           pct(f->full_cpu, rounds, .5), pct(f->change_cpu, changes, .5),
           (double)f->kmem_ours / 1048576.0, (double)f->user_bytes / 1048576.0);
}

int main(int argc, char **argv)
{
    int n_svc = argc > 1 ? atoi(argv[1]) : 5000;
    int n_eps = argc > 2 ? atoi(argv[2]) : 3;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    int changes = argc > 4 ? atoi(argv[4]) : 20;
    const char *dir = getenv("EK_BENCH_DIR") ? getenv("EK_BENCH_DIR") : "/tmp";
    if (n_svc < 1 || n_svc > 20000 || n_eps != 3 || rounds < 1 || rounds > 16 || changes < 1 ||
        changes > 256) {
        fprintf(stderr, "usage: bench_proxy [SERVICES<=20000] [ENDPOINTS=3] [ROUNDS<=16] "
                        "[CHANGES<=256]\n");
        return 2;
    }
    cg_enter();
    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare(CLONE_NEWNET)");
        return 1;
    }
    ek_log_configure("warn", NULL);
    json_t *objs = json_array();
    for (int i = 0; i < n_svc; i++) {
        json_array_append_new(objs, service(i, i % 10 == 0 ? 30000 + i / 10 : 0));
        json_array_append_new(objs, slice(i, n_eps, i * n_eps));
    }
    bench_t b = { .syncs = 0 };
    uv_loop_init(&b.loop);
    ek_strlist_t ips = { 0 };
    ek_strlist_add(&ips, "192.168.60.1");
    ek_proxy_config_t cfg = { .node_name = "node-0",
                              .node_ips = &ips,
                              .cluster_cidr = "10.42.0.0/16",
                              .service_cidr = "10.43.0.0/16",
                              .netns_fd = -1,
                              .min_sync_ms = 1,
                              .stale_chain_ms = 600000 /* not during the measurements */ };
    figures_t fig = { .kmem_ours = -1, .kmem_nft = -1 };
    long long k0 = kmem();
    size_t u0 = mallinfo2().uordblks;
    b.p = ek_proxy_new(&b.loop, &cfg, NULL);
    ek_proxy_on_sync(b.p, on_sync, &b);
    size_t i;
    json_t *o;
    json_array_foreach (objs, i, o) {
        ek_proxy_object_upsert(b.p, o, NULL);
    }
    full_syncs(&b, &fig, rounds);
    usleep(200000);
    long long k1 = kmem();
    fig.kmem_ours = k0 >= 0 && k1 >= 0 ? k1 - k0 : -1;
    fig.user_bytes = mallinfo2().uordblks - u0;
    b.p->keep_plan_text = true;
    one_changes(&b, &fig, n_svc, n_eps, changes, dir);
    nft_peer(&b, &fig, rounds, dir);
    report(&fig, rounds, changes, n_svc, n_eps);
    ek_proxy_close(b.p, NULL, NULL);
    uv_run(&b.loop, UV_RUN_DEFAULT);
    uv_loop_close(&b.loop);
    ek_strlist_free(&ips);
    json_decref(objs);
    cg_leave();
    return 0;
}
