/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /metrics in the Prometheus text format: request counts by verb, resource and code,
 * request latency histograms by verb and resource, the number of open watches, the cache's
 * object counts, and the store's own figures.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10 };
#define NB EK_ARRAY_SIZE(buckets)

struct hist {
    uint64_t counts[NB + 1];
    double sum;
    uint64_t n;
};

struct metrics {
    ek_map_t requests; /* "verb\tresource\tcode" → uint64_t* */
    ek_map_t latency;  /* "verb\tresource" → struct hist* */
    long watches;
};

metrics_t *metrics_new(void)
{
    return ek_new(metrics_t);
}

static void free_values(ek_map_t *m)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(m, &it, &k, &v)) {
        free(v);
    }
    ek_map_free(m);
}

void metrics_free(metrics_t *m)
{
    if (!m) {
        return;
    }
    free_values(&m->requests);
    free_values(&m->latency);
    free(m);
}

static const char *verb_label(const apireq_t *r)
{
    switch (r->verb) {
    case EK_VERB_WATCH:
        return "WATCH";
    case EK_VERB_LIST:
        return "LIST";
    case EK_VERB_GET:
        return "GET";
    case EK_VERB_CREATE:
        return "POST";
    case EK_VERB_UPDATE:
        return "PUT";
    case EK_VERB_PATCH:
        return "PATCH";
    case EK_VERB_DELETE:
    case EK_VERB_DELETECOLLECTION:
        return "DELETE";
    }
    return r->method ? r->method : "UNKNOWN";
}

void metrics_observe(metrics_t *m, const apireq_t *r)
{
    if (!m) {
        return;
    }
    const char *res = r->rt.plural ? r->rt.plural : "";
    char key[300];
    snprintf(key, sizeof(key), "%s\t%s\t%d", verb_label(r), res, r->status);
    uint64_t *c = ek_map_get(&m->requests, key);
    if (!c) {
        c = ek_new(uint64_t);
        ek_map_put(&m->requests, key, c);
    }
    (*c)++;
    if (r->verb == EK_VERB_WATCH) {
        return; /* long-running: its duration is not a latency */
    }
    snprintf(key, sizeof(key), "%s\t%s", verb_label(r), res);
    struct hist *h = ek_map_get(&m->latency, key);
    if (!h) {
        h = ek_new(struct hist);
        ek_map_put(&m->latency, key, h);
    }
    double secs = (double)(ek_now_ns() - r->start_ns) / 1e9;
    size_t b = 0;
    while (b < NB && secs > buckets[b]) {
        b++;
    }
    h->counts[b]++;
    h->sum += secs;
    h->n++;
}

void metrics_watch_delta(metrics_t *m, int delta)
{
    if (m) {
        m->watches += delta;
    }
}

static void split3(const char *key, char *a, char *b, char *c, size_t n)
{
    const char *t1 = strchr(key, '\t');
    const char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
    snprintf(a, n, "%.*s", (int)(t1 ? t1 - key : (long)strlen(key)), key);
    snprintf(b, n, "%.*s", (int)(t1 ? (t2 ? t2 - t1 - 1 : (long)strlen(t1 + 1)) : 0),
             t1 ? t1 + 1 : "");
    snprintf(c, n, "%s", t2 ? t2 + 1 : "");
}

void handle_metrics(apireq_t *r)
{
    metrics_t *m = r->srv->metrics;
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "# HELP apiserver_request_total Requests by verb, resource and HTTP code.\n"
                    "# TYPE apiserver_request_total counter\n");
    size_t it = 0;
    const char *k;
    void *v;
    char verb[64], res[160], code[16];
    while (ek_map_next(&m->requests, &it, &k, &v)) {
        split3(k, verb, res, code, sizeof(res));
        ek_buf_printf(&b, "apiserver_request_total{verb=\"%s\",resource=\"%s\",code=\"%s\"} %llu\n",
                      verb, res, code, (unsigned long long)*(uint64_t *)v);
    }
    ek_buf_puts(&b, "# HELP apiserver_request_duration_seconds Request latency.\n"
                    "# TYPE apiserver_request_duration_seconds histogram\n");
    it = 0;
    while (ek_map_next(&m->latency, &it, &k, &v)) {
        struct hist *h = v;
        split3(k, verb, res, code, sizeof(res));
        uint64_t cum = 0;
        for (size_t i = 0; i < NB; i++) {
            cum += h->counts[i];
            ek_buf_printf(&b,
                          "apiserver_request_duration_seconds_bucket{verb=\"%s\",resource=\"%s\","
                          "le=\"%g\"} %llu\n",
                          verb, res, buckets[i], (unsigned long long)cum);
        }
        ek_buf_printf(&b,
                      "apiserver_request_duration_seconds_bucket{verb=\"%s\",resource=\"%s\","
                      "le=\"+Inf\"} %llu\n"
                      "apiserver_request_duration_seconds_sum{verb=\"%s\",resource=\"%s\"} %.6f\n"
                      "apiserver_request_duration_seconds_count{verb=\"%s\",resource=\"%s\"} "
                      "%llu\n",
                      verb, res, (unsigned long long)h->n, verb, res, h->sum, verb, res,
                      (unsigned long long)h->n);
    }
    ek_buf_printf(&b,
                  "# HELP apiserver_registered_watchers Open watch streams.\n"
                  "# TYPE apiserver_registered_watchers gauge\n"
                  "apiserver_registered_watchers %ld\n",
                  m->watches);
    ek_buf_puts(&b, "# HELP apiserver_storage_objects Objects in the cache by storage prefix.\n"
                    "# TYPE apiserver_storage_objects gauge\n");
    it = 0;
    while (ek_map_next(&r->srv->store.buckets, &it, &k, &v)) {
        ek_buf_printf(&b, "apiserver_storage_objects{prefix=\"%s\"} %zu\n", k,
                      ((bucket_t *)v)->objs.n);
    }
    ek_kv_stats_t st;
    ek_kv_stats(r->srv->kv, &st);
    ek_buf_printf(&b,
                  "# TYPE edgek_store_revision gauge\nedgek_store_revision %lld\n"
                  "# TYPE edgek_store_keys gauge\nedgek_store_keys %lld\n"
                  "# TYPE edgek_store_writes_total counter\nedgek_store_writes_total %lld\n"
                  "# TYPE edgek_store_commits_total counter\nedgek_store_commits_total %lld\n"
                  "# TYPE edgek_store_volatile_pending gauge\nedgek_store_volatile_pending %lld\n"
                  "# TYPE edgek_store_db_bytes gauge\nedgek_store_db_bytes %lld\n",
                  (long long)st.rev, (long long)st.keys, (long long)st.writes,
                  (long long)st.commits, (long long)st.volatile_pending, (long long)st.db_bytes);
    apireq_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}
