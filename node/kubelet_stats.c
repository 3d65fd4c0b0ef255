/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet's usage endpoints, from cgroup files: /stats/summary (the Summary API's JSON:
 * node, then each pod and its containers with cpu usageNanoCores/usageCoreNanoSeconds and
 * memory workingSetBytes/usageBytes) and /metrics/resource (the same in Prometheus text, as
 * metrics-server scrapes it). CPU rates come from two readings a quarter second apart, taken
 * on a worker thread; the node's own figures come from /proc.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "node/kubelet-internal.h"

#define SAMPLE_GAP_MS 250

typedef struct st_item {
    char *ns, *pod, *uid, *ctr, *rt_ctr, *start; /* ctr NULL: the pod's own cgroup */
    ek_rt_usage_t a, b;
    bool ok;
} st_item_t;

typedef struct stats_job {
    kl_job_t job;
    ek_http_req_t *req;
    bool prometheus;
    st_item_t *items;
    size_t n;
    ek_rt_usage_t node_a, node_b;
    uint64_t mem_total;
    bool node_ok;
    int64_t t_ns, dt_ns;
} stats_job_t;

static void sample(stats_job_t *x, bool second)
{
    ek_rt_t *rt = x->job.kl->rt;
    uint64_t total = 0;
    x->node_ok = ek_rt_node_usage(second ? &x->node_b : &x->node_a, &total, NULL) == 0;
    x->mem_total = total;
    ek_rt_pod_t *pod = NULL;
    const char *open_uid = NULL;
    for (size_t i = 0; i < x->n; i++) {
        st_item_t *it = &x->items[i];
        if (!open_uid || strcmp(open_uid, it->uid) != 0) {
            if (pod) {
                ek_rt_pod_close(pod);
            }
            pod = ek_rt_pod_open(rt, it->uid, NULL);
            open_uid = it->uid;
        }
        bool ok = pod && ek_rt_usage(pod, it->rt_ctr, second ? &it->b : &it->a, NULL) == 0;
        it->ok = second ? it->ok && ok : ok;
    }
    if (pod) {
        ek_rt_pod_close(pod);
    }
}

static void stats_run(kl_job_t *j)
{
    stats_job_t *x = (stats_job_t *)j;
    int64_t t0 = ek_now_ns();
    sample(x, false);
    usleep(SAMPLE_GAP_MS * 1000);
    x->t_ns = ek_now_ns();
    sample(x, true);
    x->dt_ns = x->t_ns - t0;
}

static uint64_t nanocores(const ek_rt_usage_t *a, const ek_rt_usage_t *b, int64_t dt_ns)
{
    if (dt_ns <= 0 || b->cpu_ns < a->cpu_ns) {
        return 0;
    }
    return (uint64_t)((double)(b->cpu_ns - a->cpu_ns) * 1e9 / (double)dt_ns);
}

static json_t *cpu_json(const ek_rt_usage_t *a, const ek_rt_usage_t *b, int64_t dt, const char *t)
{
    return json_pack("{s:s,s:I,s:I}", "time", t, "usageNanoCores", (json_int_t)nanocores(a, b, dt),
                     "usageCoreNanoSeconds", (json_int_t)b->cpu_ns);
}

static json_t *mem_json(const ek_rt_usage_t *b, const char *t)
{
    return json_pack("{s:s,s:I,s:I}", "time", t, "workingSetBytes",
                     (json_int_t)b->memory_working_set, "usageBytes", (json_int_t)b->memory_usage);
}

static void summary(stats_job_t *x, ek_buf_t *out)
{
    ek_kubelet_t *kl = x->job.kl;
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    json_t *node = json_pack("{s:s}", "nodeName", kl->node_name);
    if (x->node_ok) {
        json_object_set_new(node, "cpu", cpu_json(&x->node_a, &x->node_b, x->dt_ns, now));
        json_t *m = mem_json(&x->node_b, now);
        json_object_set_new(m, "availableBytes",
                            json_integer((json_int_t)(x->mem_total - x->node_b.memory_usage)));
        json_object_set_new(node, "memory", m);
    }
    json_t *pods = json_array();
    json_t *cur = NULL, *ctrs = NULL;
    for (size_t i = 0; i < x->n; i++) {
        st_item_t *it = &x->items[i];
        if (!it->ctr) {
            ctrs = json_array();
            cur = json_pack("{s:{s:s,s:s,s:s},s:s,s:o}", "podRef", "name", it->pod, "namespace",
                            it->ns, "uid", it->uid, "startTime", it->start ? it->start : now,
                            "containers", ctrs);
            if (it->ok) {
                json_object_set_new(cur, "cpu", cpu_json(&it->a, &it->b, x->dt_ns, now));
                json_object_set_new(cur, "memory", mem_json(&it->b, now));
            }
            json_array_append_new(pods, cur);
            continue;
        }
        if (!ctrs || !it->ok) {
            continue;
        }
        json_array_append_new(ctrs, json_pack("{s:s,s:s,s:o,s:o}", "name", it->ctr, "startTime",
                                              it->start ? it->start : now, "cpu",
                                              cpu_json(&it->a, &it->b, x->dt_ns, now), "memory",
                                              mem_json(&it->b, now)));
    }
    json_t *doc = json_pack("{s:o,s:o}", "node", node, "pods", pods);
    ek_json_dump_buf(doc, out);
    json_decref(doc);
}

static void prometheus(stats_job_t *x, ek_buf_t *out)
{
    long long ms = (long long)time(NULL) * 1000; /* wall-clock sample time */
    ek_buf_puts(out, "# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed "
                     "by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\n");
    if (x->node_ok) {
        ek_buf_printf(out, "node_cpu_usage_seconds_total %.9f %lld\n",
                      (double)x->node_b.cpu_ns / 1e9, ms);
    }
    ek_buf_puts(out, "# HELP node_memory_working_set_bytes [STABLE] Current working set of the "
                     "node in bytes\n# TYPE node_memory_working_set_bytes gauge\n");
    if (x->node_ok) {
        ek_buf_printf(out, "node_memory_working_set_bytes %llu %lld\n",
                      (unsigned long long)x->node_b.memory_working_set, ms);
    }
    static const char *const fams[4][2] = {
        { "container_cpu_usage_seconds_total", "counter" },
        { "container_memory_working_set_bytes", "gauge" },
        { "pod_cpu_usage_seconds_total", "counter" },
        { "pod_memory_working_set_bytes", "gauge" },
    };
    for (int f = 0; f < 4; f++) {
        bool pod_level = f >= 2, cpu = f % 2 == 0;
        ek_buf_printf(out, "# HELP %s [STABLE] %s\n# TYPE %s %s\n", fams[f][0],
                      cpu ? "Cumulative cpu time consumed in core-seconds"
                          : "Current working set in bytes",
                      fams[f][0], fams[f][1]);
        for (size_t i = 0; i < x->n; i++) {
            st_item_t *it = &x->items[i];
            if (!it->ok || (it->ctr == NULL) != pod_level) {
                continue;
            }
            ek_buf_printf(out, "%s{", fams[f][0]);
            if (!pod_level) {
                ek_buf_printf(out, "container=\"%s\",", it->ctr);
            }
            ek_buf_printf(out, "namespace=\"%s\",pod=\"%s\"} ", it->ns, it->pod);
            if (cpu) {
                ek_buf_printf(out, "%.9f %lld\n", (double)it->b.cpu_ns / 1e9, ms);
            } else {
                ek_buf_printf(out, "%llu %lld\n", (unsigned long long)it->b.memory_working_set, ms);
            }
        }
    }
    ek_buf_puts(out, "# HELP scrape_error [ALPHA] 1 if there was an error while getting container "
                     "metrics, 0 otherwise\n# TYPE scrape_error gauge\nscrape_error 0\n");
}

static void stats_done(kl_job_t *j)
{
    stats_job_t *x = (stats_job_t *)j;
    ek_buf_t out = EK_BUF_INIT;
    if (x->prometheus) {
        prometheus(x, &out);
        ek_http_respond_buf(x->req, 200, "text/plain; version=0.0.4", &out);
    } else {
        summary(x, &out);
        ek_http_respond_buf(x->req, 200, "application/json", &out);
    }
    for (size_t i = 0; i < x->n; i++) {
        st_item_t *it = &x->items[i];
        free(it->ns);
        free(it->pod);
        free(it->uid);
        free(it->ctr);
        free(it->rt_ctr);
        free(it->start);
    }
    free(x->items);
    free(x);
}

static void add_item(stats_job_t *x, kl_pod_t *p, kl_ctr_t *c)
{
    x->items = ek_xrealloc(x->items, (x->n + 1) * sizeof(st_item_t));
    st_item_t *it = &x->items[x->n++];
    memset(it, 0, sizeof(*it));
    it->ns = ek_xstrdup(p->ns);
    it->pod = ek_xstrdup(p->name);
    it->uid = ek_xstrdup(p->uid);
    it->start = p->start_time ? ek_xstrdup(p->start_time) : NULL;
    if (c) {
        it->ctr = ek_xstrdup(c->name);
        it->rt_ctr = ek__kl_rt_name(c, c->attempt);
        if (c->cur.started_ns > 0) {
            char buf[21];
            free(it->start);
            ek_time_rfc3339((time_t)(c->cur.started_ns / 1000000000), buf);
            it->start = ek_xstrdup(buf);
        }
    }
}

bool ek__kl_stats_handle(ek_kubelet_t *kl, ek_http_req_t *req)
{
    bool prom = strcmp(req->path, "/metrics/resource") == 0;
    if (!prom && strcmp(req->path, "/stats/summary") != 0) {
        return false;
    }
    if (strcmp(req->method, "GET") != 0) {
        ek_http_respond(req, 405, "text/plain", "method not allowed\n", 19);
        return true;
    }
    stats_job_t *x = ek_new(stats_job_t);
    x->req = req;
    x->prometheus = prom;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        if (!p->rt || p->rt_dead || p->terminal) {
            continue;
        }
        add_item(x, p, NULL);
        for (size_t i = 0; i < p->nc; i++) {
            kl_ctr_t *c = &p->c[i];
            if (c->attempt >= 0 && c->cur.state == EK_RT_RUNNING) {
                add_item(x, p, c);
            }
        }
    }
    x->job.run = stats_run;
    x->job.done = stats_done;
    ek__kl_job_queue(kl, &x->job);
    return true;
}
