/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_api: the API server's figures over HTTPS with keep-alive, each beside a peer measured
 * in the same run by the same load generator (lib/http's client; N requests in flight means N
 * keep-alive connections, one per in-flight request):
 *  - creates/s of 1 KiB ConfigMaps with 1, 16 and 64 requests in flight. Peers: etcd's put
 *    (Debian's etcd 3.4, through its v3 JSON gateway on the same TLS transport) and edgek's
 *    own store driven directly in this process (no HTTP, TLS or JSON: what the API layer costs);
 *  - GET of one ConfigMap among 10,000; LIST of 1,000 pods as JSON and as a Table (etcd: a
 *    prefix range over the same 1,000 pod documents);
 *  - watch fan-out: from the start of a write to each of 1,000 watchers receiving its event;
 *  - the server's RSS idle, with 10,000 ConfigMaps, and per idle watch connection;
 *  - with EK_BENCH_IDLE_CONNS=N instead of all that: the RSS of N idle keep-alive TLS
 *    connections to the fresh server (first, so that no memory an earlier phase freed is
 *    reused and hides their cost), and whether it still answers.
 * Usage: bench_api --edgek URL PID --tls DIR --work DIR [--etcd URL PID VERSION]
 * TLS DIR holds the server's CA (server-ca.crt) and the admin client certificate.
 */
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

#include "storage/storage.h"
#include "lib/lib.h"

#define MAX_CONC      64
#define CM_BYTES      1024
#define OBJECTS       10000
#define PODS          1000
#define WATCHERS      1000
#define FANOUT_ROUNDS 20
#define GETS          5000
#define LISTS         100
#define ROUNDS        3

static uv_loop_t loop;
static uv_timer_t tick;
static ek_tls_config_t *tls;

typedef struct target {
    const char *name;
    const char *url;
    pid_t pid;
    bool etcd;
    ek_http_client_t *slots[MAX_CONC];
} target_t;

EK_NORETURN static void die(const char *fmt, ...) EK_PRINTF(1, 2);
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench_api: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of v (sorted in place), nearest rank. */
static double pct(double *v, size_t n, double p)
{
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static double median3(double a, double b, double c)
{
    double v[3] = { a, b, c };
    return pct(v, 3, 0.5);
}

static double ms_since(uint64_t t0)
{
    return (double)(ek_now_ns() - t0) / 1e6;
}

/* VmRSS of a process in KiB. */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
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
    if (kb < 0) {
        die("cannot read the RSS of pid %d", (int)pid);
    }
    return kb;
}

/* CPU time a process has used, in ns: the sum over its threads (the store's writer too).
 * Unlike throughput, this hardly moves when other work shares the machine. */
static int64_t cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) {
        die("cannot list the threads of pid %d", (int)pid);
    }
    int64_t sum = 0;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char sp[400];
        snprintf(sp, sizeof(sp), "%s/%.255s/schedstat", path, de->d_name);
        FILE *f = fopen(sp, "r");
        long long ns = 0;
        if (f && fscanf(f, "%lld", &ns) == 1) {
            sum += ns;
        }
        if (f) {
            fclose(f);
        }
    }
    closedir(d);
    return sum;
}

/* Runs the loop until *flag is set; dies after seconds (the tick timer wakes the loop). */
static void wait_flag(const bool *flag, double seconds, const char *what)
{
    uint64_t deadline = ek_now_ns() + (uint64_t)(seconds * 1e9);
    while (!*flag) {
        if (ek_now_ns() > deadline) {
            die("timed out waiting for %s", what);
        }
        uv_run(&loop, UV_RUN_ONCE);
    }
}

static void settle(double ms)
{
    uint64_t end = ek_now_ns() + (uint64_t)(ms * 1e6);
    while (ek_now_ns() < end) {
        uv_run(&loop, UV_RUN_ONCE);
    }
}

/* ---- the load generator ---- */

typedef struct req {
    const char *method;
    char path[256];
    const char *accept;
    ek_buf_t body;
} req_t;

typedef struct load load_t;
/* Fills request i. */
typedef void (*gen_fn)(const target_t *t, int64_t i, req_t *q, void *data);
/* Receives the body of request i's (successful) response. */
typedef void (*sink_fn)(int64_t i, const char *body, size_t len, void *data);

struct load {
    target_t *t;
    gen_fn gen;
    sink_fn sink;
    void *data;
    int want_status;
    int64_t next, count, done;
    double *lat; /* ms, one per request */
    bool finished;
};

typedef struct call_ctx {
    load_t *l;
    int slot;
    int64_t i;
    uint64_t t0;
    int status;
    ek_buf_t body;
} call_ctx_t;

static void issue(load_t *l, int slot);

static void on_resp(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    ((call_ctx_t *)user)->status = resp->status;
}

static void on_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    ek_buf_append(&((call_ctx_t *)user)->body, data, len);
}

static void on_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    call_ctx_t *c = user;
    load_t *l = c->l;
    if (err) {
        die("%s: request %lld failed: %s", l->t->name, (long long)c->i, ek_error_msg(err));
    }
    if (c->status != l->want_status) {
        die("%s: request %lld: status %d, want %d: %.*s", l->t->name, (long long)c->i, c->status,
            l->want_status, (int)EK_MIN(c->body.len, 400), c->body.data ? c->body.data : "");
    }
    l->lat[c->i] = ms_since(c->t0);
    if (l->sink) {
        l->sink(c->i, c->body.data, c->body.len, l->data);
    }
    ek_buf_free(&c->body);
    int slot = c->slot;
    free(c);
    if (++l->done == l->count) {
        l->finished = true;
    }
    issue(l, slot);
}

static const ek_http_call_callbacks_t load_cbs = { on_resp, on_body, on_done };

static void issue(load_t *l, int slot)
{
    if (l->next >= l->count) {
        return;
    }
    call_ctx_t *c = ek_new(call_ctx_t);
    c->l = l;
    c->slot = slot;
    c->i = l->next++;
    req_t q = { .method = "GET", .body = EK_BUF_INIT };
    l->gen(l->t, c->i, &q, l->data);
    ek_autofree char *url = ek_xasprintf("%s%s", l->t->url, q.path);
    ek_http_header_t hdrs[] = {
        { "Accept", (char *)(q.accept ? q.accept : "application/json") },
        { "Content-Type", "application/json" },
    };
    ek_http_call_options_t o = {
        .method = q.method,
        .url = url,
        .headers = hdrs,
        .n_headers = q.body.len ? 2 : 1,
        .body = q.body.data,
        .body_len = q.body.len,
        .timeout_ms = 60000,
    };
    ek_error_t *err = NULL;
    c->t0 = ek_now_ns();
    if (!ek_http_call(l->t->slots[slot], &o, &load_cbs, c, &err)) {
        die("%s: %s", l->t->name, ek_error_msg(err));
    }
    ek_buf_free(&q.body);
}

/* Runs count requests with conc in flight; returns requests/s; latencies (ms) in *lat_out
 * (caller frees) when lat_out is not NULL. */
static double run_load(target_t *t, int conc, int64_t count, int want, gen_fn gen, sink_fn sink,
                       void *data, double **lat_out)
{
    load_t l = { .t = t,
                 .gen = gen,
                 .sink = sink,
                 .data = data,
                 .want_status = want,
                 .count = count,
                 .lat = ek_xcalloc((size_t)count, sizeof(double)) };
    uint64_t t0 = ek_now_ns();
    for (int s = 0; s < conc; s++) {
        issue(&l, s);
    }
    wait_flag(&l.finished, 600, "a load run");
    double secs = ms_since(t0) / 1e3;
    if (lat_out) {
        *lat_out = l.lat;
    } else {
        free(l.lat);
    }
    return (double)count / secs;
}

/* ---- requests ---- */

/* A ConfigMap of exactly CM_BYTES bytes of JSON. */
static void configmap_json(ek_buf_t *b, const char *ns, int64_t i)
{
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                     "\"cm-%07lld\",\"namespace\":\"%s\"},\"data\":{\"v\":\"",
                     (long long)i, ns);
    ek_buf_append(b, head, (size_t)n);
    size_t fill = CM_BYTES - (size_t)n - 4;
    ek_buf_reserve(b, fill + 4);
    memset(b->data + b->len, 'x', fill);
    b->len += fill;
    ek_buf_puts(b, "\"}}");
    ek_assert(b->len == CM_BYTES - 1);
    ek_buf_putc(b, '\n');
}

/* etcd's v3 gateway takes keys and values base64-encoded. */
static void etcd_put_json(ek_buf_t *b, const char *key, const char *val, size_t len)
{
    ek_autofree char *k = ek_base64_encode(key, strlen(key));
    ek_autofree char *v = ek_base64_encode(val, len);
    ek_buf_printf(b, "{\"key\":\"%s\",\"value\":\"%s\"}", k, v);
}

typedef struct creates {
    const char *ns;
    int64_t base; /* object number of request 0 */
} creates_t;

static void gen_create(const target_t *t, int64_t i, req_t *q, void *data)
{
    const creates_t *c = data;
    q->method = "POST";
    ek_autobuf cm = EK_BUF_INIT;
    configmap_json(&cm, c->ns, c->base + i);
    if (t->etcd) {
        char key[128];
        snprintf(key, sizeof(key), "/registry/configmaps/%s/cm-%07lld", c->ns,
                 (long long)(c->base + i));
        snprintf(q->path, sizeof(q->path), "/v3/kv/put");
        etcd_put_json(&q->body, key, cm.data, cm.len);
    } else {
        snprintf(q->path, sizeof(q->path), "/api/v1/namespaces/%s/configmaps", c->ns);
        ek_buf_append(&q->body, cm.data, cm.len);
    }
}

static void gen_get(const target_t *t, int64_t i, req_t *q, void *data)
{
    uint64_t *x = data; /* xorshift: the same random names for every target */
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    long long n = (long long)(*x % OBJECTS);
    if (t->etcd) {
        char key[128];
        snprintf(key, sizeof(key), "/registry/configmaps/bench/cm-%07lld", n);
        ek_autofree char *k = ek_base64_encode(key, strlen(key));
        q->method = "POST";
        snprintf(q->path, sizeof(q->path), "/v3/kv/range");
        ek_buf_printf(&q->body, "{\"key\":\"%s\"}", k);
    } else {
        snprintf(q->path, sizeof(q->path), "/api/v1/namespaces/bench/configmaps/cm-%07lld", n);
    }
}

static const char *const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io";

typedef struct list {
    bool table;
    const char *marker; /* once per item in the answer */
} list_t;

static void gen_list(const target_t *t, int64_t i, req_t *q, void *data)
{
    const list_t *l = data;
    if (t->etcd) {
        ek_autofree char *k = ek_base64_encode("/registry/pods/bench/", 21);
        ek_autofree char *e = ek_base64_encode("/registry/pods/bench0", 21);
        q->method = "POST";
        snprintf(q->path, sizeof(q->path), "/v3/kv/range");
        ek_buf_printf(&q->body, "{\"key\":\"%s\",\"range_end\":\"%s\"}", k, e);
        return;
    }
    snprintf(q->path, sizeof(q->path), "/api/v1/namespaces/bench/pods");
    q->accept = l->table ? TABLE_ACCEPT : NULL;
}

/* Counts the marker in a list: every list must hold all PODS items. */
static void sink_count(int64_t i, const char *body, size_t len, void *data)
{
    const char *needle = ((const list_t *)data)->marker;
    size_t nlen = strlen(needle), n = 0;
    for (const char *p = body; p && (p = memmem(p, len - (size_t)(p - body), needle, nlen));
         p += nlen) {
        n++;
    }
    if (n != PODS) {
        die("list %lld: %zu items (`%s`), want %d", (long long)i, n, needle, PODS);
    }
}

/* ---- phases ---- */

/* Pods as the API server stored them, for etcd's copy of the list. */
static char *pod_docs[PODS];
static size_t pod_lens[PODS];

static void gen_pod(const target_t *t, int64_t i, req_t *q, void *data)
{
    q->method = "POST";
    if (t->etcd) {
        char key[128];
        snprintf(key, sizeof(key), "/registry/pods/bench/pod-%04lld", (long long)i);
        snprintf(q->path, sizeof(q->path), "/v3/kv/put");
        etcd_put_json(&q->body, key, pod_docs[i], pod_lens[i]);
        return;
    }
    snprintf(q->path, sizeof(q->path), "/api/v1/namespaces/bench/pods");
    ek_buf_printf(&q->body,
                  "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%04lld\","
                  "\"labels\":{\"app\":\"bench\"}},\"spec\":{\"containers\":[{\"name\":\"app\","
                  "\"image\":\"busybox:1.36\",\"command\":[\"sleep\",\"3600\"]}]}}",
                  (long long)i);
}

static void sink_pod(int64_t i, const char *body, size_t len, void *data)
{
    pod_docs[i] = ek_xstrndup(body, len);
    pod_lens[i] = len;
}

static void gen_namespace(const target_t *t, int64_t i, req_t *q, void *data)
{
    static const char *const names[] = { "bench", "fanout" };
    q->method = "POST";
    snprintf(q->path, sizeof(q->path), "/api/v1/namespaces");
    ek_buf_printf(&q->body,
                  "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
                  "{\"name\":\"%s\"}}",
                  names[i]);
}

static void gen_version(const target_t *t, int64_t i, req_t *q, void *data)
{
    snprintf(q->path, sizeof(q->path), "/version");
}

/* One connection per slot, handshaken before anything is timed. */
static void connect_slots(target_t *t)
{
    for (int s = 0; s < MAX_CONC; s++) {
        t->slots[s] = ek_http_client_new(&loop, tls);
    }
    run_load(t, MAX_CONC, MAX_CONC, 200, gen_version, NULL, NULL, NULL);
}

/* edgek's store on a directory of its own, written directly: the API layer's peer. */
typedef struct direct {
    ek_kv_t *kv;
    int64_t next, count, acks;
    bool finished;
    ek_buf_t val;
} direct_t;

static void direct_one(direct_t *d);

static void on_direct_created(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err,
                              void *data)
{
    direct_t *d = data;
    if (err) {
        die("store create: %s", ek_error_msg(err));
    }
    if (++d->acks == d->count) {
        d->finished = true;
    }
    direct_one(d);
}

static void direct_one(direct_t *d)
{
    if (d->next >= d->count) {
        return;
    }
    char key[96];
    snprintf(key, sizeof(key), "/registry/configmaps/bench/cm-%07lld", (long long)d->next++);
    ek_kv_create(d->kv, key, d->val.data, d->val.len, 0, 0, on_direct_created, d);
}

static double run_direct(direct_t *d, int conc, int64_t count)
{
    d->count += count;
    d->finished = false;
    uint64_t t0 = ek_now_ns();
    for (int i = 0; i < conc; i++) {
        direct_one(d);
    }
    wait_flag(&d->finished, 600, "store writes");
    return (double)count / (ms_since(t0) / 1e3);
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

typedef struct results {
    double creates[3][3];       /* [concurrency][edgek, etcd, store] */
    double create_cpu_us[3][3]; /* CPU per create, same layout */
    double get_cpu_us[2];       /* [edgek, etcd] */
    double get[2][2];           /* [edgek, etcd][p50, p99] */
    double list[3][2];          /* [edgek JSON, edgek Table, etcd][p50, p99] */
    double fanout[2][3];        /* [edgek, etcd][p50, p99, max] */
    double fanout_write[2];
    double rss_idle[2], rss_objects[2], watch_kb[2];
    long idle_conns;
    double idle_conn_kb, idle_conn_mb;
    bool idle_conn_alive;
} results_t;

static const int concs[3] = { 1, 16, 64 };
/* Objects per run: three alternating runs per concurrency, then a top-up to OBJECTS. */
static const int64_t per_run[3] = { 300, 1500, 1500 };

typedef struct creates_run {
    target_t *ek, *etcd;
    direct_t d;
    creates_t ce, cd;
} creates_run_t;

/* One run of each side at concurrency c: rates into v, CPU used (ns) added to cpu. */
static void creates_round(creates_run_t *cr, int c, double v[3], int64_t cpu[3])
{
    int64_t n = per_run[c], t0 = cpu_ns(cr->ek->pid);
    v[0] = run_load(cr->ek, concs[c], n, 201, gen_create, NULL, &cr->ce, NULL);
    cpu[0] += cpu_ns(cr->ek->pid) - t0;
    cr->ce.base += n;
    if (cr->etcd) {
        t0 = cpu_ns(cr->etcd->pid);
        v[1] = run_load(cr->etcd, concs[c], n, 200, gen_create, NULL, &cr->cd, NULL);
        cpu[1] += cpu_ns(cr->etcd->pid) - t0;
        cr->cd.base += n;
    }
    t0 = cpu_ns(getpid());
    v[2] = run_direct(&cr->d, concs[c], n);
    cpu[2] += cpu_ns(getpid()) - t0;
}

/* Creates/s at 1, 16 and 64 in flight, alternating edgek, etcd and the store, median of 3;
 * then tops edgek and etcd up to OBJECTS ConfigMaps. */
static void phase_creates(target_t *ek, target_t *etcd, const char *work, results_t *res)
{
    creates_run_t cr = { .ek = ek, .etcd = etcd, .d.val = EK_BUF_INIT };
    cr.ce.ns = cr.cd.ns = "bench";
    configmap_json(&cr.d.val, "bench", 0);
    ek_autofree char *path = ek_xasprintf("%s/store-direct/state.db", work);
    ek_kv_options_t o = { .path = path };
    ek_error_t *err = NULL;
    if (ek_kv_open(&loop, &o, &cr.d.kv, &err) < 0) {
        die("open the store: %s", ek_error_msg(err));
    }
    for (int c = 0; c < 3; c++) {
        double v[ROUNDS][3] = { { 0 } };
        int64_t cpu[3] = { 0 };
        for (int r = 0; r < ROUNDS; r++) {
            creates_round(&cr, c, v[r], cpu);
        }
        for (int k = 0; k < 3; k++) {
            res->creates[c][k] = median3(v[0][k], v[1][k], v[2][k]);
            res->create_cpu_us[c][k] = (double)cpu[k] / 1e3 / (double)(ROUNDS * per_run[c]);
        }
    }
    run_load(ek, 16, OBJECTS - cr.ce.base, 201, gen_create, NULL, &cr.ce, NULL);
    if (etcd) {
        run_load(etcd, 16, OBJECTS - cr.cd.base, 200, gen_create, NULL, &cr.cd, NULL);
    }
    bool closed = false;
    ek_kv_close(cr.d.kv, set_flag, &closed);
    wait_flag(&closed, 60, "the store to close");
    ek_buf_free(&cr.d.val);
}

static void phase_reads(target_t *t, int k, results_t *res)
{
    uint64_t x = 88172645463325252ull;
    double *lat;
    int64_t cpu0 = cpu_ns(t->pid);
    run_load(t, 1, GETS, 200, gen_get, NULL, &x, &lat);
    res->get_cpu_us[k] = (double)(cpu_ns(t->pid) - cpu0) / 1e3 / GETS;
    res->get[k][0] = pct(lat, GETS, 0.5);
    res->get[k][1] = pct(lat, GETS, 0.99);
    free(lat);
    for (int table = 0; table < (t->etcd ? 1 : 2); table++) {
        list_t spec = { table, t->etcd ? "\"key\":" : table ? "\"cells\":" : "\"kind\":\"Pod\"" };
        double *l2;
        run_load(t, 1, LISTS, 200, gen_list, sink_count, &spec, &l2);
        int row = t->etcd ? 2 : table;
        res->list[row][0] = pct(l2, LISTS, 0.5);
        res->list[row][1] = pct(l2, LISTS, 0.99);
        free(l2);
    }
}

/* ---- watch fan-out ---- */

typedef struct fanout fanout_t;

typedef struct bwatch {
    fanout_t *f;
    ek_http_call_t *call;
    long lines, base;
    bool open;
} bwatch_t;

struct fanout {
    target_t *t;
    ek_http_client_t *cl;
    bwatch_t w[WATCHERS];
    int established, closed;
    bool all_established, all_closed, round_done, in_round;
    int got;
    uint64_t t0;
    double lat[WATCHERS * FANOUT_ROUNDS];
    size_t nlat;
};

static void watch_established(fanout_t *f)
{
    if (++f->established == WATCHERS) {
        f->all_established = true;
    }
}

static void watch_resp(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    bwatch_t *w = user;
    if (resp->status != 200) {
        die("%s: watch answered %d", w->f->t->name, resp->status);
    }
    if (!w->f->t->etcd) {
        watch_established(w->f); /* edgek registers the watcher before it sends the head */
    }
}

/* Every event is one line; etcd's first line confirms the watch was created. */
static void watch_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    bwatch_t *w = user;
    fanout_t *f = w->f;
    for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++) {
        w->lines++;
        if (f->t->etcd && w->lines == 1) {
            watch_established(f);
        } else if (f->in_round && w->lines == w->base + 1) {
            f->lat[f->nlat++] = ms_since(f->t0);
            if (++f->got == WATCHERS) {
                f->round_done = true;
            }
        }
        if (p + 1 >= data + len) {
            break;
        }
    }
}

static void watch_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    bwatch_t *w = user;
    if (w->open) {
        die("%s: a watch ended early: %s", w->f->t->name,
            err ? ek_error_msg(err) : "by the server");
    }
    if (++w->f->closed == WATCHERS) {
        w->f->all_closed = true;
    }
}

static const ek_http_call_callbacks_t watch_cbs = { watch_resp, watch_body, watch_done };

static void open_watch(fanout_t *f, bwatch_t *w)
{
    ek_autofree char *url = NULL;
    ek_autobuf body = EK_BUF_INIT;
    if (f->t->etcd) {
        ek_autofree char *k = ek_base64_encode("/registry/configmaps/fanout/", 28);
        ek_autofree char *e = ek_base64_encode("/registry/configmaps/fanout0", 28);
        ek_buf_printf(&body, "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\"}}", k, e);
        url = ek_xasprintf("%s/v3/watch", f->t->url);
    } else {
        url = ek_xasprintf("%s/api/v1/namespaces/fanout/configmaps?watch=true&timeoutSeconds=900",
                           f->t->url);
    }
    ek_http_header_t h[] = { { "Content-Type", "application/json" } };
    ek_http_call_options_t o = { .method = f->t->etcd ? "POST" : "GET",
                                 .url = url,
                                 .headers = h,
                                 .n_headers = body.len ? 1 : 0,
                                 .body = body.data,
                                 .body_len = body.len };
    ek_error_t *err = NULL;
    w->f = f;
    w->open = true;
    w->call = ek_http_call(f->cl, &o, &watch_cbs, w, &err);
    if (!w->call) {
        die("watch: %s", ek_error_msg(err));
    }
}

/* Opens the watches in batches so that the listen backlog never overflows. */
static void open_watches(fanout_t *f)
{
    for (int i = 0; i < WATCHERS; i += 100) {
        for (int j = i; j < i + 100 && j < WATCHERS; j++) {
            open_watch(f, &f->w[j]);
        }
        while (f->established < EK_MIN(i + 100, WATCHERS)) {
            uv_run(&loop, UV_RUN_ONCE);
        }
    }
    ek_assert(f->all_established);
}

static void fanout_round(fanout_t *f, int round, double *write_ms)
{
    for (int i = 0; i < WATCHERS; i++) {
        f->w[i].base = f->w[i].lines;
    }
    f->got = 0;
    f->round_done = false;
    f->in_round = true;
    creates_t c = { .ns = "fanout", .base = round };
    double *lat;
    f->t0 = ek_now_ns();
    run_load(f->t, 1, 1, f->t->etcd ? 200 : 201, gen_create, NULL, &c, &lat);
    *write_ms = lat[0];
    free(lat);
    wait_flag(&f->round_done, 30, "the watchers' events");
    f->in_round = false;
}

/* Fan-out latency (write start -> each watcher's event) and RSS per idle watch connection. */
static void phase_fanout(target_t *t, int k, results_t *res)
{
    fanout_t *f = ek_new(fanout_t);
    f->t = t;
    f->cl = ek_http_client_new(&loop, tls);
    settle(200);
    long before = rss_kb(t->pid);
    open_watches(f);
    settle(300);
    res->watch_kb[k] = (double)(rss_kb(t->pid) - before) / WATCHERS;
    double wlat[FANOUT_ROUNDS];
    for (int r = 0; r < FANOUT_ROUNDS; r++) {
        fanout_round(f, r, &wlat[r]);
    }
    res->fanout_write[k] = pct(wlat, FANOUT_ROUNDS, 0.5);
    res->fanout[k][0] = pct(f->lat, f->nlat, 0.5);
    res->fanout[k][1] = pct(f->lat, f->nlat, 0.99);
    res->fanout[k][2] = f->lat[f->nlat - 1];
    for (int i = 0; i < WATCHERS; i++) {
        f->w[i].open = false;
        ek_http_call_cancel(f->w[i].call);
    }
    wait_flag(&f->all_closed, 30, "the watches to end");
    bool freed = false;
    ek_http_client_free(f->cl, set_flag, &freed);
    wait_flag(&freed, 30, "the watch client");
    free(f);
}

/* ---- idle connections (EK_BENCH_IDLE_CONNS) ---- */

#define PER_CLIENT 32 /* lib/http keeps at most 32 idle connections per client and host */

typedef struct freeing {
    size_t left;
    bool done;
} freeing_t;

static void client_freed(void *data)
{
    freeing_t *fr = data;
    if (--fr->left == 0) {
        fr->done = true;
    }
}

/* Opens n keep-alive TLS connections that each served one request and now sit idle. */
static void phase_idle_conns(target_t *ek, long n, results_t *res)
{
    size_t nc = (size_t)((n + PER_CLIENT - 1) / PER_CLIENT);
    ek_http_client_t **cls = ek_xcalloc(nc, sizeof(*cls));
    settle(200);
    long before = rss_kb(ek->pid);
    target_t t = { .name = "edgek (idle connections)", .url = ek->url, .pid = ek->pid };
    for (size_t i = 0; i < nc; i++) {
        cls[i] = ek_http_client_new(&loop, tls);
        for (int s = 0; s < PER_CLIENT; s++) {
            t.slots[s] = cls[i];
        }
        long want = EK_MIN((long)PER_CLIENT, n - (long)i * PER_CLIENT);
        run_load(&t, (int)want, want, 200, gen_version, NULL, NULL, NULL);
        ek_assert(ek_http_client_idle_connections(cls[i]) == (size_t)want);
    }
    settle(500);
    long after = rss_kb(ek->pid);
    res->idle_conns = n;
    res->idle_conn_mb = (double)(after - before) / 1024;
    res->idle_conn_kb = (double)(after - before) / (double)n;
    /* Still serving? One more connection, one more request. */
    target_t probe = { .name = "edgek (after idle connections)", .url = ek->url, .pid = ek->pid };
    probe.slots[0] = ek_http_client_new(&loop, tls);
    run_load(&probe, 1, 1, 200, gen_version, NULL, NULL, NULL);
    res->idle_conn_alive = kill(ek->pid, 0) == 0;
    freeing_t fr = { .left = nc + 1 };
    for (size_t i = 0; i < nc; i++) {
        ek_http_client_free(cls[i], client_freed, &fr);
    }
    ek_http_client_free(probe.slots[0], client_freed, &fr);
    wait_flag(&fr.done, 60, "the idle connections to close");
    free(cls);
}

/* ---- report ---- */

static void print_ratio(double a, double b)
{
    if (b > 0) {
        printf(" %7.2fx", a / b);
    } else {
        printf(" %8s", "-");
    }
}

/* Rows per concurrency: edgek, etcd, their ratio, the store, edgek's ratio to it. */
static void print_creates_table(const double v[3][3], bool etcd, int decimals)
{
    printf("  %-8s %10s %10s %11s %12s %10s\n", "clients", "edgek", "etcd", "edgek/etcd",
           "store-direct", "api/store");
    for (int c = 0; c < 3; c++) {
        printf("  %-8d %10.*f", concs[c], decimals, v[c][0]);
        if (etcd) {
            printf(" %10.*f   ", decimals, v[c][1]);
            print_ratio(v[c][0], v[c][1]);
        } else {
            printf(" %10s %11s", "-", "-");
        }
        printf(" %12.*f  ", decimals, v[c][2]);
        print_ratio(v[c][0], v[c][2]);
        printf("\n");
    }
}

static void print_creates(const results_t *r, bool etcd)
{
    printf("api: creates/s, 1 KiB ConfigMaps, N requests in flight on N keep-alive TLS "
           "connections\n     (median of %d runs alternating edgek, etcd and the store)\n",
           ROUNDS);
    print_creates_table(r->creates, etcd, 0);
    printf("api: CPU per create in us (server process, all threads; store-direct: the store's "
           "share of this process)\n");
    print_creates_table(r->create_cpu_us, etcd, 1);
}

static void print_latency_row(const char *what, const double e[2], const double p[2], bool peer)
{
    printf("  %-28s %8.3f %8.3f", what, e[0], e[1]);
    if (peer) {
        printf(" %8.3f %8.3f", p[0], p[1]);
        print_ratio(e[1], p[1]);
        printf("\n");
    } else {
        printf(" %8s %8s %8s\n", "-", "-", "-");
    }
}

static void print_reads(const results_t *r, bool etcd)
{
    printf("api: read latency in ms, one client (etcd: range reads of the same documents)\n");
    printf("  %-28s %8s %8s %8s %8s %8s\n", "", "edgek50", "edgek99", "etcd50", "etcd99", "p99 x");
    print_latency_row("GET 1 of 10,000 ConfigMaps", r->get[0], r->get[1], etcd);
    print_latency_row("LIST 1,000 pods, JSON", r->list[0], r->list[2], etcd);
    print_latency_row("LIST 1,000 pods, Table", r->list[1], r->list[2], etcd);
    printf("  CPU per GET in us (server process): edgek %.1f", r->get_cpu_us[0]);
    if (etcd) {
        printf(", etcd %.1f", r->get_cpu_us[1]);
    }
    printf("\n");
}

static void print_fanout(const results_t *r, bool etcd)
{
    printf("api: watch fan-out, from a write's start to each of %d watchers receiving its event "
           "(%d writes)\n",
           WATCHERS, FANOUT_ROUNDS);
    printf("  %-8s %8s %8s %8s %14s\n", "", "p50 ms", "p99 ms", "max ms", "write p50 ms");
    for (int k = 0; k < (etcd ? 2 : 1); k++) {
        printf("  %-8s %8.2f %8.2f %8.2f %14.2f\n", k ? "etcd" : "edgek", r->fanout[k][0],
               r->fanout[k][1], r->fanout[k][2], r->fanout_write[k]);
    }
}

static void print_memory(const results_t *r, bool etcd)
{
    printf("api: server memory (VmRSS)\n");
    printf("  %-34s %10s %10s\n", "", "edgek", "etcd");
    const char *rows[] = { "idle, fresh start (MiB)", "with 10,000 ConfigMaps (MiB)",
                           "per idle watch connection (KiB)" };
    const double *v[] = { r->rss_idle, r->rss_objects, r->watch_kb };
    for (int i = 0; i < 3; i++) {
        double div = i < 2 ? 1024 : 1;
        printf("  %-34s %10.1f", rows[i], v[i][0] / div);
        if (etcd) {
            printf(" %10.1f\n", v[i][1] / div);
        } else {
            printf(" %10s\n", "-");
        }
    }
}

static void print_goals(const results_t *r)
{
    struct {
        const char *what;
        bool ok;
    } g[] = {
        { ">= 5,000 creates/s at 16 clients", r->creates[1][0] >= 5000 },
        { "GET p99 <= 2 ms", r->get[0][1] <= 2.0 },
        { "fan-out p99 <= 50 ms", r->fanout[0][1] <= 50.0 },
        { "idle RSS <= 15 MB", r->rss_idle[0] / 1024 <= 15.0 },
    };
    printf("api: goals:");
    for (size_t i = 0; i < EK_ARRAY_SIZE(g); i++) {
        printf("%s %s %s", i ? "," : "", g[i].what, g[i].ok ? "met" : "MISSED");
    }
    printf("\n");
}

/* ---- main ---- */

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static ek_tls_config_t *load_tls(const char *dir)
{
    ek_error_t *err = NULL;
    const char *names[] = { "server-ca.crt", "client-admin.crt", "client-admin.key" };
    char *pem[3];
    for (int i = 0; i < 3; i++) {
        ek_autofree char *p = ek_xasprintf("%s/%s", dir, names[i]);
        pem[i] = ek_file_read(p, 1 << 20, NULL, &err);
        if (!pem[i]) {
            die("%s", ek_error_msg(err));
        }
    }
    ek_tls_config_t *c = ek_tls_client_config_new(pem[0], pem[1], pem[2], false, &err);
    if (!c) {
        die("TLS: %s", ek_error_msg(err));
    }
    for (int i = 0; i < 3; i++) {
        free(pem[i]);
    }
    return c;
}

static void on_tick(uv_timer_t *t)
{
    EK_UNUSED(t); /* only wakes the loop so that waits can check their deadlines */
}

static void free_slots(target_t *t)
{
    freeing_t fr = { .left = MAX_CONC };
    for (int s = 0; s < MAX_CONC; s++) {
        ek_http_client_free(t->slots[s], client_freed, &fr);
    }
    wait_flag(&fr.done, 30, "the clients to close");
}

typedef struct args {
    target_t ek, etcd;
    bool have_etcd;
    const char *etcd_version;
    const char *tls_dir, *work;
} args_t;

static void parse_args(int argc, char **argv, args_t *a)
{
    a->ek.name = "edgek";
    a->etcd.name = "etcd";
    a->etcd.etcd = true;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--edgek") == 0 && i + 2 < argc) {
            a->ek.url = argv[++i];
            a->ek.pid = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--etcd") == 0 && i + 3 < argc) {
            a->etcd.url = argv[++i];
            a->etcd.pid = atoi(argv[++i]);
            a->etcd_version = argv[++i];
            a->have_etcd = true;
        } else if (strcmp(argv[i], "--tls") == 0 && i + 1 < argc) {
            a->tls_dir = argv[++i];
        } else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc) {
            a->work = argv[++i];
        } else {
            die("usage: bench_api --edgek URL PID --tls DIR --work DIR [--etcd URL PID VERSION]");
        }
    }
    if (!a->ek.url || !a->tls_dir || !a->work) {
        die("usage: bench_api --edgek URL PID --tls DIR --work DIR [--etcd URL PID VERSION]");
    }
}

static void print_peers(const args_t *a)
{
    printf("api: edgek %s server (--disable-agent), HTTPS with a client certificate\n", ek_version);
    if (a->have_etcd) {
        printf("  peer: etcd %s (Debian's etcd-server), TLS, through its v3 JSON gateway with "
               "this program:\n"
               "        the same transport and load for both (etcd's own gRPC tools are not "
               "packaged)\n",
               a->etcd_version);
    } else {
        printf("  peer: etcd is not installed (apt-get install etcd-server): edgek alone\n");
    }
    printf("  peer: edgek's store (storage/kv) written directly in this process, no HTTP/TLS/"
           "JSON\n");
}

/* Everything but the report; etcd (when given) gets the same load right after edgek. */
static void run_all(args_t *a, results_t *res)
{
    target_t *etcd = a->have_etcd ? &a->etcd : NULL;
    res->rss_idle[0] = (double)rss_kb(a->ek.pid);
    res->rss_idle[1] = etcd ? (double)rss_kb(etcd->pid) : 0;
    connect_slots(&a->ek);
    if (etcd) {
        connect_slots(etcd);
    }
    run_load(&a->ek, 1, 2, 201, gen_namespace, NULL, NULL, NULL);
    phase_creates(&a->ek, etcd, a->work, res);
    settle(500);
    res->rss_objects[0] = (double)rss_kb(a->ek.pid);
    res->rss_objects[1] = etcd ? (double)rss_kb(etcd->pid) : 0;
    run_load(&a->ek, 16, PODS, 201, gen_pod, sink_pod, NULL, NULL);
    phase_reads(&a->ek, 0, res);
    phase_fanout(&a->ek, 0, res);
    if (etcd) {
        run_load(etcd, 16, PODS, 200, gen_pod, NULL, NULL, NULL);
        phase_reads(etcd, 1, res);
        phase_fanout(etcd, 1, res);
    }
    free_slots(&a->ek);
    if (etcd) {
        free_slots(etcd);
    }
}

/* EK_BENCH_IDLE_CONNS=N: N idle connections to the fresh server, nothing else. */
static void run_idle_conns(args_t *a, long n)
{
    results_t res = { 0 };
    double idle = (double)rss_kb(a->ek.pid);
    phase_idle_conns(&a->ek, n, &res);
    printf("api: %ld idle keep-alive TLS connections (each served one GET /version) to a fresh "
           "server\n",
           n);
    printf("  VmRSS %.1f MiB idle -> +%.1f MiB with them open (%.1f KiB each); server %s\n",
           idle / 1024, res.idle_conn_mb, res.idle_conn_kb,
           res.idle_conn_alive ? "up and answering a new connection" : "DOWN");
    printf("api: idle_conns=%ld idle_conn_kib=%.1f server_up=%d\n", n, res.idle_conn_kb,
           res.idle_conn_alive);
}

/* The full benchmark: every figure, the goals, and the last line. */
static void run_bench(args_t *a)
{
    static results_t res;
    print_peers(a);
    fflush(stdout);
    run_all(a, &res);
    print_creates(&res, a->have_etcd);
    print_reads(&res, a->have_etcd);
    print_fanout(&res, a->have_etcd);
    print_memory(&res, a->have_etcd);
    print_goals(&res);
    printf("api: creates_per_s=%.0f get_p99_ms=%.3f fanout_p99_ms=%.2f rss_idle_mb=%.1f\n",
           res.creates[1][0], res.get[0][1], res.fanout[0][1], res.rss_idle[0] / 1024);
    for (int i = 0; i < PODS; i++) {
        free(pod_docs[i]);
    }
}

int main(int argc, char **argv)
{
    args_t a = { 0 };
    parse_args(argc, argv, &a);
    raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    tls = load_tls(a.tls_dir);
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 50, 50);
    const char *idle = getenv("EK_BENCH_IDLE_CONNS");
    if (idle && atol(idle) > 0) {
        run_idle_conns(&a, atol(idle));
    } else {
        run_bench(&a);
    }
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    ek_assert(uv_loop_close(&loop) == 0);
    ek_tls_config_unref(tls);
    return 0;
}
