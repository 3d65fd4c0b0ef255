/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_sched: the client side of `make bench-sched`. It talks HTTPS to an `edgek server`
 * (admin certificate from the server's TLS dir) and watches pods with an informer, timing each
 * pod's first binding (spec.nodeName set) and readiness as the watch reports them.
 *
 *   bench_sched e2e    URL TLSDIR PID N   create workloads totalling N pods, time the bindings,
 *                                         then a 100-replica workload until all 100 are Ready
 *   bench_sched create URL TLSDIR PID N   create N bare pods in 10 groups, each selected by a
 *                                         Service (so default spreading applies), while the
 *                                         server runs without its scheduler: no controller and
 *                                         no scheduler work while they are made
 *   bench_sched drain  URL TLSDIR PID N   wait until N pods are bound and time the bindings
 *   bench_sched cycles - - M N            scheduling cycles alone, in this process, no API:
 *                                         N pods of 10 ReplicaSets onto M nodes
 * Besides wall time, the server's CPU time (utime + stime) over each phase is reported: on a
 * shared machine, pods bound per CPU second is the figure that does not depend on the load.
 *
 * Workloads are Deployments when a Deployment controller answers (a probe Deployment gets its
 * ReplicaSet within 3 s), else ReplicaSets. Results are key=value lines on stdout.
 */
#include <stdio.h>
#include <time.h>

#include "api/api.h"
#include "server/scheduler/scheduler-internal.h"

#define WORKLOADS   10
#define TIMEOUT_MS  (10 * 60 * 1000)
#define DEPLOY_N    100
#define BENCH_LABEL "edgek-bench"

static uv_loop_t *loop;
static ek_api_client_t *client;
static uint64_t t0;

typedef struct stats {
    size_t pods, bound, ready;
    uint64_t first_bound, last_bound;
    size_t d100_ready;
    uint64_t d100_done;
    ek_map_t seen; /* uid → flags (1 bound, 2 ready) */
} stats_t;

static stats_t st;

static void die(const char *what, const ek_error_t *err)
{
    fprintf(stderr, "bench_sched: %s: %s\n", what, err ? ek_error_msg(err) : "failed");
    exit(1);
}

static uint64_t now_ms(void)
{
    return ek_now_ms() - t0;
}

static bool pod_ready(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "Ready")) {
            return ek_streq(ek_json_str(c, "status", NULL), "True");
        }
    }
    return false;
}

static void on_pod(json_t *old, json_t *pod, void *data)
{
    EK_UNUSED(old);
    EK_UNUSED(data);
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    if (!uid || !ek_json_str(pod, "metadata", "labels", BENCH_LABEL, NULL)) {
        return;
    }
    uintptr_t f = (uintptr_t)ek_map_get(&st.seen, uid);
    uintptr_t before = f;
    if (!(f & 4)) {
        f |= 4;
        st.pods++;
    }
    const char *node = ek_json_str(pod, "spec", "nodeName", NULL);
    if (!(f & 1) && node && *node) {
        f |= 1;
        uint64_t t = now_ms();
        st.first_bound = st.bound++ ? st.first_bound : t;
        st.last_bound = t;
    }
    if (!(f & 2) && pod_ready(pod)) {
        f |= 2;
        st.ready++;
        if (ek_streq(ek_json_str(pod, "metadata", "labels", "app", NULL), "d100") &&
            ++st.d100_ready == DEPLOY_N) {
            st.d100_done = now_ms();
        }
    }
    if (f != before) {
        ek_map_put(&st.seen, uid, (void *)f);
    }
}

static void on_pod_add(json_t *pod, void *data)
{
    on_pod(NULL, pod, data);
}

/* Runs the loop until *done or the deadline. */
static bool run_until(bool (*done)(void), uint64_t timeout_ms)
{
    uint64_t end = ek_now_ms() + timeout_ms;
    while (!done()) {
        if (ek_now_ms() > end) {
            return false;
        }
        uv_run(loop, UV_RUN_ONCE);
    }
    return true;
}

/* ---- API calls, synchronously ---- */

typedef struct call {
    bool done;
    int status;
    json_t *body;
    char err[512];
} call_t;

static void on_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    call_t *c = data;
    c->done = true;
    c->status = status;
    c->body = json_incref(body);
    snprintf(c->err, sizeof(c->err), "%s", err ? ek_error_msg(err) : "");
}

static call_t *pending_call;
static bool call_done(void)
{
    return pending_call->done;
}

static int wait_call(call_t *c)
{
    pending_call = c;
    if (!run_until(call_done, 60000)) {
        fprintf(stderr, "bench_sched: API call timed out\n");
        exit(1);
    }
    return c->status;
}

static json_t *workload(const char *kind, const char *name, int replicas)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:i,s:{s:{s:s}},s:{s:{s:{s:s,s:s}},s:{s:[{s:s,"
                     "s:s}]}}}}",
                     "apiVersion", "apps/v1", "kind", kind, "metadata", "name", name, "namespace",
                     "default", "spec", "replicas", replicas, "selector", "matchLabels", "app",
                     name, "template", "metadata", "labels", "app", name, BENCH_LABEL, "1", "spec",
                     "containers", "name", "c", "image", "registry.local/pause:3.10");
}

static int create(const char *kind, const char *name, int replicas)
{
    const ek_resource_t *r = ek_resource_find(
        "apps", "v1", strcmp(kind, "Deployment") == 0 ? "deployments" : "replicasets");
    json_t *obj = workload(kind, name, replicas);
    call_t c = { 0 };
    ek_api_create(client, r, "default", obj, on_done, &c);
    json_decref(obj);
    int status = wait_call(&c);
    if (status != 201) {
        fprintf(stderr, "bench_sched: create %s %s: %d %s\n", kind, name, status, c.err);
        exit(1);
    }
    json_decref(c.body);
    return 0;
}

/* A Deployment controller answers when a probe Deployment gets a ReplicaSet it owns. */
static const char *workload_kind(void)
{
    const ek_resource_t *rs = ek_resource_find("apps", "v1", "replicasets");
    const ek_resource_t *dep = ek_resource_find("apps", "v1", "deployments");
    json_t *probe = workload("Deployment", "bench-probe", 0);
    call_t c = { 0 };
    ek_api_create(client, dep, "default", probe, on_done, &c);
    json_decref(probe);
    if (wait_call(&c) != 201) {
        json_decref(c.body);
        return "ReplicaSet";
    }
    json_decref(c.body);
    bool found = false;
    for (int i = 0; i < 15 && !found; i++) {
        usleep(200 * 1000);
        call_t l = { 0 };
        ek_api_list(client, rs, "default", NULL, NULL, on_done, &l);
        wait_call(&l);
        size_t k;
        json_t *item;
        json_array_foreach (ek_json_path(l.body, "items", NULL), k, item) {
            json_t *ref =
                json_array_get(ek_json_path(item, "metadata", "ownerReferences", NULL), 0);
            found = found || ek_streq(ek_json_str(ref, "name", NULL), "bench-probe");
        }
        json_decref(l.body);
    }
    call_t d = { 0 };
    ek_api_delete(client, dep, "default", "bench-probe", NULL, on_done, &d);
    wait_call(&d);
    json_decref(d.body);
    return found ? "Deployment" : "ReplicaSet";
}

/* utime + stime of a process, in seconds. */
static double cpu_s(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f) {
        fclose(f);
    }
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long user = 0, sys = 0;
    if (!p ||
        sscanf(p + 2, "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &user, &sys) != 2) {
        return 0;
    }
    return (double)(user + sys) / (double)sysconf(_SC_CLK_TCK);
}

static long rss_kb(long pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kb;
}

static size_t target;
static bool all_bound(void)
{
    return st.bound >= target;
}
static bool all_exist(void)
{
    return st.pods >= target;
}
static bool all_ready(void)
{
    return st.ready >= target;
}
static bool d100_ready(void)
{
    return st.d100_done != 0;
}

static void create_all(const char *kind, size_t n)
{
    for (int i = 0; i < WORKLOADS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d", i);
        create(kind, name, (int)(n / WORKLOADS + (i < (int)(n % WORKLOADS))));
    }
}

/* ---- bare pods, many in flight ---- */

static int in_flight, create_errors;

static void on_created(int status, json_t *body, const ek_error_t *err, void *data)
{
    EK_UNUSED(body);
    EK_UNUSED(data);
    in_flight--;
    if (err && status != 409) {
        create_errors++;
        fprintf(stderr, "bench_sched: create failed: %d %s\n", status, ek_error_msg(err));
    }
}

static bool below_limit(void)
{
    return in_flight < 24; /* under the client's 32 idle connections: no new handshakes */
}

static void create_bare(size_t n)
{
    const ek_resource_t *svc = ek_resource_find("", "v1", "services");
    const ek_resource_t *pods = ek_resource_find("", "v1", "pods");
    for (int i = 0; i < WORKLOADS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bench-%d", i);
        json_t *s = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s},s:[{s:i}]}}", "apiVersion", "v1", "kind",
                              "Service", "metadata", "name", name, "spec", "selector", "app", name,
                              "ports", "port", 80);
        call_t c = { 0 };
        ek_api_create(client, svc, "default", s, on_done, &c);
        json_decref(s);
        wait_call(&c);
        json_decref(c.body);
    }
    for (size_t k = 0; k < n; k++) {
        char name[64], app[32];
        snprintf(app, sizeof(app), "bench-%zu", k % WORKLOADS);
        snprintf(name, sizeof(name), "%s-%zu", app, k);
        json_t *p =
            json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s}},s:{s:[{s:s,s:s}]}}", "apiVersion", "v1", "kind",
                      "Pod", "metadata", "name", name, "labels", "app", app, BENCH_LABEL, "1",
                      "spec", "containers", "name", "c", "image", "registry.local/pause:3.10");
        run_until(below_limit, 60000);
        in_flight++;
        ek_api_create(client, pods, "default", p, on_created, NULL);
        json_decref(p);
    }
}

static void print_bindings(const char *prefix)
{
    double span = (double)(st.last_bound - st.first_bound) / 1000.0;
    printf("%s_bound=%zu\n", prefix, st.bound);
    printf("%s_first_bound_s=%.3f\n", prefix, (double)st.first_bound / 1000.0);
    printf("%s_last_bound_s=%.3f\n", prefix, (double)st.last_bound / 1000.0);
    printf("%s_bound_per_s=%.0f\n", prefix, span > 0 ? (double)(st.bound - 1) / span : 0.0);
}

static void mode_e2e(long pid, size_t n)
{
    const char *kind = workload_kind();
    printf("workload_kind=%s\n", kind);
    double cpu0 = cpu_s(pid);
    t0 = ek_now_ms();
    target = n;
    create_all(kind, n);
    printf("create_s=%.3f\n", (double)now_ms() / 1000.0);
    if (!run_until(all_bound, TIMEOUT_MS)) {
        fprintf(stderr, "bench_sched: only %zu of %zu pods bound\n", st.bound, n);
        exit(1);
    }
    print_bindings("e2e");
    printf("e2e_server_cpu_s=%.2f\n", cpu_s(pid) - cpu0);
    if (!run_until(all_ready, TIMEOUT_MS)) {
        fprintf(stderr, "bench_sched: only %zu of %zu pods ready\n", st.ready, n);
        exit(1);
    }
    printf("e2e_all_ready_s=%.3f\n", (double)now_ms() / 1000.0);
    printf("rss_kb_%zu=%ld\n", n, rss_kb(pid));
    uint64_t start = now_ms();
    create(kind, "d100", DEPLOY_N);
    if (!run_until(d100_ready, 120000)) {
        fprintf(stderr, "bench_sched: only %zu of 100 ready\n", st.d100_ready);
        exit(1);
    }
    printf("deploy100_ready_s=%.3f\n", (double)(st.d100_done - start) / 1000.0);
    printf("rss_kb=%ld\n", rss_kb(pid));
}

/* ---- scheduling cycles alone ---- */

static json_t *cycle_rs[WORKLOADS];

static json_t *cycle_get(void *data, const char *kind, const char *ns, const char *name)
{
    EK_UNUSED(data);
    EK_UNUSED(ns);
    int i = -1;
    if (strcmp(kind, "ReplicaSet") == 0 && sscanf(name, "bench-%d", &i) == 1 && i >= 0 &&
        i < WORKLOADS) {
        return cycle_rs[i];
    }
    return NULL;
}

static double process_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mode_cycles(size_t nodes, size_t n)
{
    sched_listers_t l = { .get = cycle_get };
    sched_cache_t c;
    sched_cache_init(&c, &l, 0);
    for (size_t i = 0; i < nodes; i++) {
        char name[32];
        snprintf(name, sizeof(name), "sim-%zu", i);
        json_t *node = json_pack("{s:{s:s,s:{s:s}},s:{s:{s:s,s:s,s:s}}}", "metadata", "name", name,
                                 "labels", "kubernetes.io/hostname", name, "status", "allocatable",
                                 "cpu", "4", "memory", "8Gi", "pods", "110");
        sched_cache_set_node(&c, node);
        json_decref(node);
    }
    for (int i = 0; i < WORKLOADS; i++) {
        char app[32];
        snprintf(app, sizeof(app), "bench-%d", i);
        cycle_rs[i] = json_pack("{s:{s:{s:s}}}", "spec", "selector", "matchLabels", "app", app);
    }
    double cpu0 = process_cpu_s();
    uint64_t w0 = ek_now_ns();
    size_t bound = 0;
    for (size_t k = 0; k < n; k++) {
        char name[64], app[32];
        snprintf(app, sizeof(app), "bench-%zu", k % WORKLOADS);
        snprintf(name, sizeof(name), "%s-%zu", app, k);
        json_t *obj =
            json_pack("{s:{s:s,s:s,s:s,s:{s:s},s:[{s:s,s:s,s:s,s:b}]},s:{s:[{s:s}]}}", "metadata",
                      "name", name, "namespace", "default", "uid", name, "labels", "app", app,
                      "ownerReferences", "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", app,
                      "controller", 1, "spec", "containers", "name", "c");
        sched_pod_t *p = sched_pod_new(&c, obj);
        json_decref(obj);
        sched_result_t r;
        sched_schedule(&c, p, &r);
        if (r.node) {
            sched_cache_place(&c, p, r.node->name, POD_BOUND);
            bound++;
        } else {
            sched_pod_free(&c, p);
        }
        sched_result_free(&r);
    }
    double cpu = process_cpu_s() - cpu0, wall = (double)(ek_now_ns() - w0) / 1e9;
    printf("cycles_bound=%zu\ncycles_cpu_s=%.3f\ncycles_wall_s=%.3f\n", bound, cpu, wall);
    printf("cycles_per_cpu_s=%.0f\n", cpu > 0 ? (double)bound / cpu : 0.0);
    sched_cache_free(&c);
    for (int i = 0; i < WORKLOADS; i++) {
        json_decref(cycle_rs[i]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: bench_sched e2e|create|drain URL TLSDIR SERVER_PID N\n");
        return 2;
    }
    const char *mode = argv[1], *url = argv[2], *dir = argv[3];
    long pid = atol(argv[4]);
    size_t n = (size_t)atol(argv[5]);
    if (strcmp(mode, "cycles") == 0) {
        mode_cycles((size_t)pid, n);
        return 0;
    }
    loop = uv_default_loop();
    ek_error_t *err = NULL;
    ek_autofree char *ca_path = ek_xasprintf("%s/server-ca.crt", dir);
    ek_autofree char *crt_path = ek_xasprintf("%s/client-admin.crt", dir);
    ek_autofree char *key_path = ek_xasprintf("%s/client-admin.key", dir);
    ek_autofree char *ca = ek_file_read(ca_path, 1 << 20, NULL, &err);
    ek_autofree char *crt = ca ? ek_file_read(crt_path, 1 << 20, NULL, &err) : NULL;
    ek_autofree char *key = crt ? ek_file_read(key_path, 1 << 20, NULL, &err) : NULL;
    ek_tls_config_t *tls = key ? ek_tls_client_config_new(ca, crt, key, false, &err) : NULL;
    if (!tls) {
        die("TLS configuration", err);
    }
    client = ek_api_client_https(loop, url, tls, NULL, &err);
    if (!client) {
        die("client", err);
    }
    ek_informer_t *pods =
        ek_informer_new(client, ek_resource_find("", "v1", "pods"), NULL, BENCH_LABEL, NULL, 0);
    static const ek_informer_handlers_t h = { on_pod_add, on_pod, NULL, NULL };
    ek_informer_add_handlers(pods, &h, NULL);
    t0 = ek_now_ms();
    ek_informer_start(pods);
    if (strcmp(mode, "e2e") == 0) {
        mode_e2e(pid, n);
    } else if (strcmp(mode, "create") == 0) {
        target = n;
        create_bare(n);
        if (!run_until(all_exist, TIMEOUT_MS)) {
            fprintf(stderr, "bench_sched: only %zu of %zu pods exist\n", st.pods, n);
            return 1;
        }
        if (create_errors) {
            return 1;
        }
        printf("created_s=%.3f\n", (double)now_ms() / 1000.0);
    } else {
        target = n;
        if (!run_until(all_bound, TIMEOUT_MS)) {
            fprintf(stderr, "bench_sched: only %zu of %zu pods bound\n", st.bound, n);
            return 1;
        }
        print_bindings("drain");
        printf("drain_server_cpu_s=%.2f\n", cpu_s(pid)); /* since its start */
        printf("rss_kb=%ld\n", rss_kb(pid));
    }
    fflush(stdout);
    _exit(0); /* the server's figures are taken; no need to unwind the client */
}
