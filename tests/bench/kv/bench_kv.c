/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_kv: the store's figures, each against its peer measured in the same run.
 *  - durable creates/s (1 KiB values) with 1, 8 and 64 writes in flight: group commit vs one
 *    transaction per write on the same SQLite database (the store with batching turned off);
 *  - get and list-1000 latency over 100,000 keys, and the process RSS holding them;
 *  - watch delivery: commit (the writer's COMMIT returned) to the 1,000th watcher's callback;
 *  - bytes written in 10 simulated minutes of a 100-node cluster's Lease renewals (each node
 *    every 10 s, spread out as real kubelets do), coalesced (volatile) vs plain durable.
 * Usage: bench_kv DIR (a scratch directory on the disk to measure).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage/kv/kv-internal.h"

static uv_loop_t loop;
static double create_seconds = 1.5;

static void die(const char *what, ek_error_t *err)
{
    fprintf(stderr, "bench_kv: %s: %s\n", what, ek_error_msg(err));
    exit(1);
}

static ek_kv_t *open_store(const char *dir, const char *name, bool sync, int64_t flush_ms)
{
    ek_autofree char *path = ek_xasprintf("%s/%s/state.db", dir, name);
    ek_kv_options_t o = { .path = path, .no_sync = !sync, .volatile_flush_ms = flush_ms };
    ek_kv_t *kv = NULL;
    ek_error_t *err = NULL;
    if (ek_kv_open(&loop, &o, &kv, &err) < 0) {
        die("open", err);
    }
    return kv;
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static void close_store(ek_kv_t *kv)
{
    bool done = false;
    ek_kv_close(kv, set_flag, &done);
    while (!done) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
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

/* /proc/self/io: bytes this process dirtied for storage, and bytes it passed to write(). */
static void io_bytes(int64_t *write_bytes, int64_t *wchar)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v;
    *write_bytes = *wchar = -1;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "write_bytes: %lld", &v) == 1) {
            *write_bytes = v;
        } else if (sscanf(line, "wchar: %lld", &v) == 1) {
            *wchar = v;
        }
    }
    if (f) {
        fclose(f);
    }
}

/* ---- durable creates ---- */

typedef struct creates {
    ek_kv_t *kv;
    uint64_t deadline;
    int64_t acks, next;
    int inflight;
    char val[1025];
} creates_t;

static void create_one(creates_t *s);

static void on_created(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    creates_t *s = data;
    if (err) {
        fprintf(stderr, "bench_kv: create failed: %s\n", ek_error_msg(err));
        exit(1);
    }
    s->acks++;
    s->inflight--;
    if (ek_now_ns() < s->deadline) {
        create_one(s);
    }
}

static void create_one(creates_t *s)
{
    char key[64];
    snprintf(key, sizeof(key), "/registry/configmaps/bench/cm-%09lld", (long long)s->next++);
    s->inflight++;
    ek_kv_create(s->kv, key, s->val, 1024, 0, 0, on_created, s);
}

static double run_creates(const char *dir, int writers, bool group, bool sync, double seconds,
                          double *per_commit)
{
    static int run;
    char name[48];
    snprintf(name, sizeof(name), "creates-%s-%d-%d", group ? "group" : "single", writers, run++);
    static creates_t s;
    memset(&s, 0, sizeof(s));
    memset(s.val, 'x', 1024);
    s.kv = open_store(dir, name, sync, 60000);
    ek__kv_set_max_batch(s.kv, group ? 0 : 1);
    ek_kv_stats_t st0, st1;
    ek_kv_stats(s.kv, &st0);
    uint64_t t0 = ek_now_ns();
    s.deadline = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < writers; i++) {
        create_one(&s);
    }
    while (s.inflight > 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    double secs = (double)(ek_now_ns() - t0) / 1e9;
    ek_kv_stats(s.kv, &st1);
    *per_commit = (double)(st1.writes - st0.writes) / (double)EK_MAX(1, st1.commits - st0.commits);
    close_store(s.kv);
    return (double)s.acks / secs;
}

/* ---- reads over 100,000 keys ---- */

#define NS_COUNT   100
#define PER_NS     1000
#define TOTAL_KEYS (NS_COUNT * PER_NS)

static void key_at(char *buf, size_t len, int i)
{
    snprintf(buf, len, "/registry/pods/ns-%03d/pod-%05d", i / PER_NS, i % PER_NS);
}

typedef struct loader {
    int inflight;
} loader_t;

static void on_loaded(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    if (err) {
        die("load", ek__kv_error_dup(err));
    }
    ((loader_t *)data)->inflight--;
}

static void load_keys(ek_kv_t *kv)
{
    static char val[1025];
    memset(val, 'p', 1024);
    loader_t l = { 0 };
    for (int i = 0; i < TOTAL_KEYS; i++) {
        char key[64];
        key_at(key, sizeof(key), i);
        l.inflight++;
        ek_kv_create(kv, key, val, 1024, 0, 0, on_loaded, &l);
        while (l.inflight >= 256) {
            uv_run(&loop, UV_RUN_ONCE);
        }
    }
    while (l.inflight > 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

typedef struct reads {
    double get_p50, get_p99, list_p50, list_p99;
    long rss_kb, rss_base_kb;
    double open_ms;
} reads_t;

/* `bench_kv --rss DIR`: a fresh process prints its RSS before and after opening the store,
 * and how long the open (integrity check and load) took. */
static int rss_child(const char *dir)
{
    long before = rss_kb();
    ek_autofree char *path = ek_xasprintf("%s/reads/state.db", dir);
    ek_kv_options_t o = { .path = path, .no_sync = true };
    ek_kv_t *kv = NULL;
    ek_error_t *err = NULL;
    uint64_t t0 = ek_now_ns();
    if (ek_kv_open(&loop, &o, &kv, &err) < 0) {
        die("open", err);
    }
    double ms = (double)(ek_now_ns() - t0) / 1e6;
    printf("%ld %ld %.1f\n", before, rss_kb(), ms);
    return 0;
}

/*
 * RSS of a store that loaded 100,000 keys at open (as a restarted server holds them), in a
 * fresh process so that the heap this one used to create the keys does not count.
 */
static void measure_rss(const char *dir, reads_t *out)
{
    int fds[2];
    if (pipe(fds) < 0) {
        die("pipe", NULL);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        execl("/proc/self/exe", "bench_kv", "--rss", dir, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[64] = "";
    ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    if (n <= 0 || sscanf(buf, "%ld %ld %lf", &out->rss_base_kb, &out->rss_kb, &out->open_ms) != 3) {
        die("rss child", NULL);
    }
}

static void run_reads(const char *dir, reads_t *out)
{
    ek_kv_t *kv = open_store(dir, "reads", false, 60000);
    load_keys(kv);
    close_store(kv);
    measure_rss(dir, out);
    kv = open_store(dir, "reads", false, 60000);
    enum { GETS = 200000, LISTS = 500 };
    static double lat[GETS];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < GETS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        char key[64];
        key_at(key, sizeof(key), (int)(x % TOTAL_KEYS));
        uint64_t t0 = ek_now_ns();
        const ek_kv_entry_t *e = ek_kv_get(kv, key);
        ek_kv_entry_unref(e);
        lat[i] = (double)(ek_now_ns() - t0) / 1e3;
        if (!e) {
            die("get", NULL);
        }
    }
    out->get_p50 = pct(lat, GETS, 0.50);
    out->get_p99 = pct(lat, GETS, 0.99);
    for (int i = 0; i < LISTS; i++) {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "/registry/pods/ns-%03d/", (i * 37) % NS_COUNT);
        ek_kv_list_result_t r;
        ek_error_t *err = NULL;
        uint64_t t0 = ek_now_ns();
        if (ek_kv_list(kv, prefix, NULL, 0, 0, &r, &err) < 0) {
            die("list", err);
        }
        size_t n = r.n;
        ek_kv_list_result_free(&r);
        lat[i] = (double)(ek_now_ns() - t0) / 1e3;
        if (n != PER_NS) {
            die("list returned the wrong number of keys", NULL);
        }
    }
    out->list_p50 = pct(lat, LISTS, 0.50);
    out->list_p99 = pct(lat, LISTS, 0.99);
    close_store(kv);
}

/* ---- watch delivery ---- */

#define WATCHERS     1000
#define WATCH_WRITES 400

typedef struct watchbench {
    ek_kv_t *kv;
    int delivered;
    int nlat;
    double lat[WATCH_WRITES];
    bool written;
} watchbench_t;

static void on_watch_event(const ek_kv_event_t *ev, void *data)
{
    watchbench_t *w = data;
    if (++w->delivered == WATCHERS) {
        w->lat[w->nlat++] = (double)((int64_t)ek_now_ns() - ek__kv_last_commit_ns(w->kv)) / 1e6;
    }
}

static void on_watch_write(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    ((watchbench_t *)data)->written = true;
}

static double run_watch(const char *dir, double *p50)
{
    static watchbench_t w;
    memset(&w, 0, sizeof(w));
    w.kv = open_store(dir, "watch", true, 60000);
    static ek_kv_watch_t *ws[WATCHERS];
    for (int i = 0; i < WATCHERS; i++) {
        ek_error_t *err = NULL;
        ws[i] = ek_kv_watch(w.kv, "/registry/pods/", 0, on_watch_event, &w, &err);
        if (!ws[i]) {
            die("watch", err);
        }
    }
    static char val[1025];
    memset(val, 'w', 1024);
    for (int i = 0; i < WATCH_WRITES; i++) {
        char key[64];
        snprintf(key, sizeof(key), "/registry/pods/default/w-%05d", i);
        w.delivered = 0;
        w.written = false;
        ek_kv_create(w.kv, key, val, 1024, 0, 0, on_watch_write, &w);
        while (!w.written) {
            uv_run(&loop, UV_RUN_ONCE);
        }
    }
    for (int i = 0; i < WATCHERS; i++) {
        ek_kv_watch_cancel(ws[i]);
    }
    close_store(w.kv);
    *p50 = pct(w.lat, (size_t)w.nlat, 0.50);
    return pct(w.lat, (size_t)w.nlat, 0.99);
}

/* ---- Lease renewals: bytes written ---- */

#define NODES       100
#define RENEW_S     10
#define SIM_SECONDS 600
#define FLUSH_S     60

typedef struct leases {
    bool done;
} leases_t;

static void on_renewed(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    if (err) {
        die("renew", ek__kv_error_dup(err));
    }
    ((leases_t *)data)->done = true;
}

static int lease_json(char *buf, size_t len, int node, int64_t sim_s)
{
    return snprintf(buf, len,
                    "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":"
                    "{\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"name\":\"node-%03d\","
                    "\"namespace\":\"kube-node-lease\",\"ownerReferences\":[{\"apiVersion\":"
                    "\"v1\",\"kind\":\"Node\",\"name\":\"node-%03d\",\"uid\":"
                    "\"6f1c2a9e-0d4b-4e7a-9a51-%012d\"}],\"uid\":"
                    "\"0b8f3c1d-5e6a-4f2b-8c9d-%012d\"},\"spec\":{\"holderIdentity\":"
                    "\"node-%03d\",\"leaseDurationSeconds\":40,\"renewTime\":"
                    "\"2026-01-01T00:%02lld:%02lld.%06dZ\"}}",
                    node, node, node, node, node, (long long)(sim_s / 60 % 60),
                    (long long)(sim_s % 60), node * 997 % 1000000);
}

static void wait_commits(ek_kv_t *kv, int64_t above)
{
    ek_kv_stats_t st;
    for (ek_kv_stats(kv, &st); st.commits <= above; ek_kv_stats(kv, &st)) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* Renews every node's Lease for 10 simulated minutes; returns the bytes written. */
static void run_leases(const char *dir, bool coalesce, int64_t *wbytes, int64_t *wchar)
{
    ek_kv_t *kv = open_store(dir, coalesce ? "leases-coalesced" : "leases-durable", true,
                             3600 * 1000); /* flushes follow simulated time, below */
    char key[96], val[1024];
    leases_t l;
    for (int n = 0; n < NODES; n++) {
        snprintf(key, sizeof(key), "/registry/leases/kube-node-lease/node-%03d", n);
        int len = lease_json(val, sizeof(val), n, 0);
        l.done = false;
        ek_kv_create(kv, key, val, (size_t)len, 0, 0, on_renewed, &l);
        while (!l.done) {
            uv_run(&loop, UV_RUN_ONCE);
        }
    }
    int64_t wb0, wc0, wb1, wc1;
    io_bytes(&wb0, &wc0);
    for (int64_t s = 1; s <= SIM_SECONDS; s++) {
        /* Node n renews at second n % 10 of each 10 s period: ten renewals a second. */
        for (int n = (int)(s % RENEW_S); n < NODES; n += RENEW_S) {
            snprintf(key, sizeof(key), "/registry/leases/kube-node-lease/node-%03d", n);
            int len = lease_json(val, sizeof(val), n, s);
            l.done = false;
            ek_kv_update(kv, key, val, (size_t)len, 0, 0, coalesce ? EK_KV_VOLATILE : 0, on_renewed,
                         &l);
            while (!l.done) {
                uv_run(&loop, UV_RUN_ONCE);
            }
        }
        if (coalesce && s % FLUSH_S == 0) {
            ek_kv_stats_t st;
            ek_kv_stats(kv, &st);
            ek__kv_flush_volatile(kv);
            wait_commits(kv, st.commits);
        }
    }
    io_bytes(&wb1, &wc1);
    *wbytes = wb1 - wb0;
    *wchar = wc1 - wc0;
    close_store(kv);
}

/* Median fdatasync latency of 4 KiB appends in dir: what bounds durable writes here. */
static double fsync_ms(const char *dir)
{
    ek_autofree char *path = ek_xasprintf("%s/fsync-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    static char page[4096];
    double lat[100];
    for (int i = 0; i < 100; i++) {
        uint64_t t0 = ek_now_ns();
        if (fd < 0 || write(fd, page, sizeof(page)) != sizeof(page) || fdatasync(fd) < 0) {
            die("fsync probe", NULL);
        }
        lat[i] = (double)(ek_now_ns() - t0) / 1e6;
    }
    close(fd);
    unlink(path);
    return pct(lat, 100, 0.5);
}

/*
 * Group commit and its peer alternate in short runs and each figure is the median of its
 * runs: the disk's sync latency drifts on a shared machine, and alternating spreads the drift
 * over both sides instead of handing it to one.
 */
static double print_creates(const char *dir, double *ratio)
{
    enum { ROUNDS = 3 };
    const int writers[] = { 1, 8, 64 };
    double group = 0, single = 0, gbatch = 0, sbatch = 0;
    double slice = create_seconds / ROUNDS;
    printf("kv: durable creates/s, 1 KiB values (peer: one transaction per write; median of %d "
           "alternating %.1f s runs)\n",
           ROUNDS, slice);
    printf("  platform: fdatasync of a 4 KiB append, median %.2f ms\n", fsync_ms(dir));
    printf("  %-8s %14s %10s %14s %10s %8s\n", "writers", "group-commit", "writes/tx",
           "one-tx-each", "writes/tx", "ratio");
    for (size_t i = 0; i < EK_ARRAY_SIZE(writers); i++) {
        double g[ROUNDS], o[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            g[r] = run_creates(dir, writers[i], true, true, slice, &gbatch);
            o[r] = run_creates(dir, writers[i], false, true, slice, &sbatch);
        }
        group = pct(g, ROUNDS, 0.5);
        single = pct(o, ROUNDS, 0.5);
        printf("  %-8d %14.0f %10.1f %14.0f %10.1f %7.1fx\n", writers[i], group, gbatch, single,
               sbatch, group / single);
        fflush(stdout);
    }
    double cpu = run_creates(dir, 64, true, false, slice, &gbatch);
    printf("  64 writers, group commit without fsync (CPU ceiling): %.0f/s\n", cpu);
    *ratio = group / single;
    return group; /* the 64-writer figures */
}

static void print_reads(const char *dir)
{
    reads_t rd;
    run_reads(dir, &rd);
    printf("kv: reads over %d keys (1 KiB values)\n", TOTAL_KEYS);
    printf("  get        p50 %8.2f us   p99 %8.2f us\n", rd.get_p50, rd.get_p99);
    printf("  list-1000  p50 %8.2f us   p99 %8.2f us\n", rd.list_p50, rd.list_p99);
    printf("  RSS with %d keys loaded: %.1f MiB (%.1f MiB before open: %.0f bytes per key)\n",
           TOTAL_KEYS, (double)rd.rss_kb / 1024, (double)rd.rss_base_kb / 1024,
           (double)(rd.rss_kb - rd.rss_base_kb) * 1024 / TOTAL_KEYS);
    printf("  open (quick_check + load) of %d keys: %.0f ms\n", TOTAL_KEYS, rd.open_ms);
    fflush(stdout);
}

static double print_leases(const char *dir)
{
    int64_t on_wb, on_wc, off_wb, off_wc;
    run_leases(dir, true, &on_wb, &on_wc);
    run_leases(dir, false, &off_wb, &off_wc);
    double ratio_wb = on_wb > 0 ? (double)off_wb / (double)on_wb : 0;
    double ratio_wc = on_wc > 0 ? (double)off_wc / (double)on_wc : 0;
    printf("kv: bytes written in %d simulated minutes of %d nodes' Lease renewals (every %d s)\n",
           SIM_SECONDS / 60, NODES, RENEW_S);
    printf("  %-22s %16s %16s\n", "", "coalesced", "durable");
    printf("  %-22s %16lld %16lld   ratio %.1fx\n", "write_bytes (storage)", (long long)on_wb,
           (long long)off_wb, ratio_wb);
    printf("  %-22s %16lld %16lld   ratio %.1fx\n", "wchar (write calls)", (long long)on_wc,
           (long long)off_wc, ratio_wc);
    /* Pages dirtied for the disk are what wears a card; write() bytes undercount small writes. */
    return ratio_wb > 0 ? ratio_wb : ratio_wc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--rss") == 0) {
        uv_loop_init(&loop);
        return rss_child(argv[2]);
    }
    if (argc != 2) {
        fprintf(stderr, "usage: bench_kv DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    const char *secs = getenv("EK_BENCH_SECONDS");
    if (secs && atof(secs) > 0) {
        create_seconds = atof(secs);
    }
    uv_loop_init(&loop);
    double ratio, creates = print_creates(dir, &ratio);
    print_reads(dir);
    double w50, w99 = run_watch(dir, &w50);
    printf("kv: watch delivery, commit -> %d watchers (%d durable writes)\n", WATCHERS,
           WATCH_WRITES);
    printf("  p50 %.3f ms   p99 %.3f ms\n", w50, w99);
    fflush(stdout);
    double lease_ratio = print_leases(dir);
    uv_loop_close(&loop);
    printf("kv: creates_per_s=%.0f group_commit_ratio=%.1f watch_p99_ms=%.3f "
           "lease_write_ratio=%.1f\n",
           creates, ratio, w99, lease_ratio);
    return 0;
}
