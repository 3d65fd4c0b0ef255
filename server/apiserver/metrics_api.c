/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics.k8s.io/v1beta1, what k3s's bundled metrics-server gives `kubectl top`: NodeMetrics
 * (/nodes, /nodes/{name}) and PodMetrics (/pods, /namespaces/{ns}/pods[/{name}]). Each
 * request asks every node's kubelet for /stats/summary (in parallel, 10 s at most, with the
 * kubelet-client certificate) and answers from what came back: CPU as nanocores ("123456n"),
 * memory as the working set in KiB ("2048Ki"). A node whose kubelet does not answer is left
 * out, as metrics-server leaves out nodes it could not scrape.
 */
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

typedef struct mreq {
    apireq_t *r;
    int pending;
    json_t *summaries; /* node name → summary */
    bool client_gone;
} mreq_t;

typedef struct mcall {
    mreq_t *m;
    char *node;
    ek_buf_t body;
    int status;
} mcall_t;

static const char *group_version = "metrics.k8s.io/v1beta1";

static json_t *usage(const json_t *obj)
{
    json_int_t cpu = json_integer_value(ek_json_path(obj, "cpu", "usageNanoCores", NULL));
    json_int_t mem = json_integer_value(ek_json_path(obj, "memory", "workingSetBytes", NULL));
    char c[32], m[32];
    snprintf(c, sizeof(c), "%lldn", (long long)cpu);
    snprintf(m, sizeof(m), "%lldKi", (long long)(mem / 1024));
    return json_pack("{s:s,s:s}", "cpu", c, "memory", m);
}

static json_t *meta_of(const json_t *obj, const char *ns, const char *name, const char *now)
{
    json_t *md = json_pack("{s:s,s:s}", "name", name, "creationTimestamp", now);
    if (ns) {
        ek_json_set_str(md, "namespace", ns);
    }
    json_t *labels = obj ? ek_json_path(obj, "metadata", "labels", NULL) : NULL;
    if (labels) {
        json_object_set(md, "labels", labels);
    }
    return md;
}

static void answer(mreq_t *m)
{
    apireq_t *r = m->r;
    ek_apiserver_t *s = r->srv;
    bool nodes = strcmp(r->rt.res->plural, "nodes") == 0;
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    json_t *items = json_array();
    const char *node_name;
    json_t *sum;
    json_object_foreach (m->summaries, node_name, sum) {
        if (nodes) {
            if (r->rt.name && strcmp(r->rt.name, node_name) != 0) {
                continue;
            }
            json_t *node = ek_json_path(sum, "node", NULL);
            if (!ek_json_path(node, "cpu", NULL)) {
                continue;
            }
            obj_t *o = store_get(&s->store, ek_resource_find("", "v1", "nodes"), NULL, node_name);
            json_array_append_new(
                items, json_pack("{s:o,s:s,s:s,s:o}", "metadata",
                                 meta_of(o ? o->json : NULL, NULL, node_name, now), "timestamp",
                                 now, "window", "250ms", "usage", usage(node)));
            continue;
        }
        size_t i;
        json_t *p;
        json_array_foreach (ek_json_path(sum, "pods", NULL), i, p) {
            const char *ns = ek_json_str(p, "podRef", "namespace", NULL);
            const char *name = ek_json_str(p, "podRef", "name", NULL);
            if (!ns || !name || (r->rt.ns && strcmp(ns, r->rt.ns) != 0) ||
                (r->rt.name && strcmp(name, r->rt.name) != 0)) {
                continue;
            }
            obj_t *o = store_get(&s->store, ek_resource_find("", "v1", "pods"), ns, name);
            if (!o) {
                continue;
            }
            json_t *ctrs = json_array();
            size_t k;
            json_t *c;
            json_array_foreach (ek_json_path(p, "containers", NULL), k, c) {
                json_array_append_new(ctrs, json_pack("{s:s,s:o}", "name",
                                                      ek_json_str(c, "name", NULL) ?: "", "usage",
                                                      usage(c)));
            }
            json_array_append_new(items, json_pack("{s:o,s:s,s:s,s:o}", "metadata",
                                                   meta_of(o->json, ns, name, now), "timestamp",
                                                   now, "window", "250ms", "containers", ctrs));
        }
    }
    const char *kind = nodes ? "NodeMetrics" : "PodMetrics";
    if (r->rt.name) {
        json_t *one = json_incref(json_array_get(items, 0));
        json_decref(items);
        if (!one) {
            send_status(r, 404, "NotFound", r->rt.name, r->rt.res,
                        "%s.metrics.k8s.io \"%s\" not found", r->rt.res->plural, r->rt.name);
            return;
        }
        ek_json_set_str(one, "kind", kind);
        ek_json_set_str(one, "apiVersion", group_version);
        apireq_respond_json(r, 200, one);
        json_decref(one);
        return;
    }
    char list_kind[32];
    snprintf(list_kind, sizeof(list_kind), "%sList", kind);
    json_t *doc = json_pack("{s:s,s:s,s:{},s:o}", "kind", list_kind, "apiVersion", group_version,
                            "metadata", "items", items);
    apireq_respond_json(r, 200, doc);
    json_decref(doc);
}

static void m_done_one(mreq_t *m)
{
    if (--m->pending > 0) {
        return;
    }
    apireq_t *r = m->r;
    r->on_close = NULL;
    r->handler_data = NULL;
    if (r->closed) {
        apireq_free(r);
    } else {
        answer(m);
    }
    json_decref(m->summaries);
    free(m);
}

static void mc_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    EK_UNUSED(call);
    ((mcall_t *)user)->status = resp->status;
}

static void mc_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    mcall_t *mc = user;
    if (mc->body.len + len > (32u << 20)) {
        ek_http_call_cancel(call);
        return;
    }
    ek_buf_append(&mc->body, data, len);
}

static void mc_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    mcall_t *mc = user;
    EK_UNUSED(call);
    if (!err && mc->status == 200) {
        json_error_t je;
        json_t *j = json_loadb(mc->body.data ? mc->body.data : "", mc->body.len, 0, &je);
        if (j) {
            json_object_set_new(mc->m->summaries, mc->node, j);
        }
    } else {
        EK_LOG(EK_DEBUG, "apiserver", "metrics: node %s: %s", mc->node,
               err ? ek_error_msg(err) : ek_http_status_text(mc->status));
    }
    mreq_t *m = mc->m;
    ek_buf_free(&mc->body);
    free(mc->node);
    free(mc);
    m_done_one(m);
}

void handle_metrics_api(apireq_t *r)
{
    ek_apiserver_t *s = r->srv;
    if (strcmp(r->method, "GET") != 0 || r->rt.sub) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL,
                    "the server does not allow this method on the requested resource");
        return;
    }
    if (r->p.watch) {
        send_status(r, 405, "MethodNotAllowed", NULL, NULL, "metrics cannot be watched");
        return;
    }
    ek_error_t *err = NULL;
    ek_http_client_t *hc = node_kubelet_client(s, &err);
    if (!hc) {
        send_error(r, NULL, NULL, err);
        ek_error_free(err);
        return;
    }
    mreq_t *m = ek_new(mreq_t);
    m->r = r;
    m->summaries = json_object();
    m->pending = 1; /* released below, once every call is made */
    size_t n = 0;
    ek_autofree obj_t **nodes =
        store_list(&s->store, ek_resource_find("", "v1", "nodes"), NULL, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *node = nodes[i]->json;
        const char *name = ek_json_str(node, "metadata", "name", NULL);
        const char *addr = node_address(node);
        if (!name || !addr) {
            continue;
        }
        long long port =
            ek_json_int(node, 10250, "status", "daemonEndpoints", "kubeletEndpoint", "Port", NULL);
        bool v6 = strchr(addr, ':') != NULL;
        ek_autofree char *url = ek_xasprintf("https://%s%s%s:%lld/stats/summary", v6 ? "[" : "",
                                             addr, v6 ? "]" : "", port);
        mcall_t *mc = ek_new(mcall_t);
        mc->m = m;
        mc->node = ek_xstrdup(name);
        static const ek_http_call_callbacks_t cbs = { mc_response, mc_body, mc_done };
        ek_http_call_options_t o = { .method = "GET", .url = url, .timeout_ms = 10000 };
        m->pending++;
        if (!ek_http_call(hc, &o, &cbs, mc, &err)) {
            ek_error_free(err);
            err = NULL;
            free(mc->node);
            free(mc);
            m->pending--;
        }
    }
    m_done_one(m);
}
