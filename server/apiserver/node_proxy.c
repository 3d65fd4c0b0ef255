/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests the API server passes on to a node's kubelet. pods/log: the pod's node, its
 * InternalIP and kubelet port (status.daemonEndpoints), then an HTTPS call to
 * /containerLogs/{ns}/{pod}/{container} with a client certificate the API server issues
 * itself at first use (CN system:kube-apiserver-kubelet-client, O system:masters), whose
 * answer is streamed back as it comes (status, content type, chunked body); a client that
 * hangs up cancels the call. As kube-apiserver without --kubelet-certificate-authority, the
 * kubelet's serving certificate is not verified (a standalone agent's is self-signed for now).
 * exec, attach, port-forward and node proxy are answered 503 until they are routed.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

typedef struct logproxy {
    apireq_t *r;
    ek_http_call_t *call;
    char *url;
    int status;
    bool begun;
    ek_buf_t body; /* an error answer, kept to become the Status message */
} logproxy_t;

static ek_http_client_t *kubelet_client(ek_apiserver_t *s, ek_error_t **err)
{
    if (s->kubelet_http) {
        return s->kubelet_http;
    }
    if (!s->pki) {
        ek_error_status(err, 503, "the API server has no certificates to talk to kubelets");
        return NULL;
    }
    static const char *const orgs[] = { "system:masters" };
    ek_autofree char *cert = NULL;
    ek_autofree char *key = NULL;
    if (ek_pki_issue_client_cert(s->pki, "system:kube-apiserver-kubelet-client", orgs, 1, 0, &cert,
                                 &key, err) < 0) {
        return NULL;
    }
    ek_tls_config_t *tls =
        ek_tls_client_config_new(ek_pki_ca_cert_pem(s->pki), cert, key, true, err);
    if (!tls) {
        return NULL;
    }
    s->kubelet_http = ek_http_client_new(s->loop, tls);
    ek_tls_config_unref(tls);
    return s->kubelet_http;
}

static const char *reason_for(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 503:
        return "ServiceUnavailable";
    default:
        return "InternalError";
    }
}

static void lp_free(logproxy_t *lp)
{
    ek_buf_free(&lp->body);
    free(lp->url);
    free(lp);
}

static void lp_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    logproxy_t *lp = user;
    EK_UNUSED(call);
    lp->status = resp->status;
    if (resp->status == 200 && !lp->r->closed) {
        const char *ct = ek_http_response_header(resp, "Content-Type");
        lp->begun = true;
        lp->r->status = 200;
        lp->r->streaming = true;
        lp->r->ops->stream_begin(lp->r, 200, ct ? ct : "text/plain");
    }
}

static void lp_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    logproxy_t *lp = user;
    if (!lp->begun) {
        if (lp->body.len < 4096) {
            ek_buf_append(&lp->body, data, EK_MIN(len, 4096 - lp->body.len));
        }
        return;
    }
    if (lp->r->closed || lp->r->ops->stream_write(lp->r, data, len) < 0) {
        ek_http_call_cancel(call);
    }
}

static void lp_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    logproxy_t *lp = user;
    apireq_t *r = lp->r;
    EK_UNUSED(call);
    r->on_close = NULL;
    r->handler_data = NULL;
    if (lp->begun) {
        r->ops->stream_end(r);
        apireq_free(r);
    } else if (r->closed) {
        apireq_free(r);
    } else if (lp->status == 0) {
        send_status(r, 500, "InternalError", NULL, NULL, "Get \"%s\": %s", lp->url,
                    ek_error_msg(err));
    } else {
        /* The kubelet's text (e.g. "container ... is waiting to start") becomes the message. */
        while (lp->body.len && (lp->body.data[lp->body.len - 1] == '\n')) {
            lp->body.data[--lp->body.len] = '\0';
        }
        send_status(r, lp->status, reason_for(lp->status), NULL, NULL, "%s",
                    lp->body.len ? lp->body.data : ek_http_status_text(lp->status));
    }
    lp_free(lp);
}

static void lp_client_gone(apireq_t *r)
{
    logproxy_t *lp = r->handler_data;
    if (lp && lp->call) {
        ek_http_call_cancel(lp->call);
    }
}

/* The container the log is for: the one asked, or the only one. -1 after answering. */
static int log_container(apireq_t *r, const json_t *pod, char **out)
{
    json_t *ctrs = ek_json_path(pod, "spec", "containers", NULL);
    ek_autofree char *want = ek_http_query_get(r->query, "container");
    if (!want || !*want) {
        if (json_array_size(ctrs) == 1) {
            *out = ek_xstrdup(ek_json_str(json_array_get(ctrs, 0), "name", NULL));
            return 0;
        }
        ek_autobuf names = EK_BUF_INIT;
        size_t i;
        json_t *c;
        json_array_foreach (ctrs, i, c) {
            ek_buf_printf(&names, "%s%s", i ? " " : "", ek_json_str(c, "name", NULL));
        }
        send_status(r, 400, "BadRequest", NULL, NULL,
                    "a container name must be specified for pod %s, choose one of: [%s]",
                    r->rt.name, names.data ? names.data : "");
        return -1;
    }
    const char *lists[] = { "containers", "initContainers", "ephemeralContainers" };
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (ek_json_path(pod, "spec", lists[l], NULL), i, c) {
            if (ek_streq(ek_json_str(c, "name", NULL), want)) {
                *out = ek_steal(&want);
                return 0;
            }
        }
    }
    send_status(r, 400, "BadRequest", NULL, NULL, "container %s is not valid for pod %s", want,
                r->rt.name);
    return -1;
}

static const char *node_address(const json_t *node)
{
    static const char *const order[] = { "InternalIP", "ExternalIP", "Hostname" };
    for (size_t k = 0; k < EK_ARRAY_SIZE(order); k++) {
        size_t i;
        json_t *a;
        json_array_foreach (ek_json_path(node, "status", "addresses", NULL), i, a) {
            if (ek_streq(ek_json_str(a, "type", NULL), order[k])) {
                return ek_json_str(a, "address", NULL);
            }
        }
    }
    return NULL;
}

/* PodLogOptions as the kubelet's query. */
static void log_query(const char *query, ek_buf_t *out)
{
    static const char *const keys[] = { "follow",       "previous",  "timestamps", "tailLines",
                                        "sinceSeconds", "sinceTime", "limitBytes" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(keys); i++) {
        ek_autofree char *v = ek_http_query_get(query, keys[i]);
        if (v) {
            ek_autofree char *esc = ek_http_escape(v);
            ek_buf_printf(out, "%c%s=%s", out->len ? '&' : '?', keys[i], esc);
        }
    }
}

static void pod_log(apireq_t *r, obj_t *pod, const char *node_name)
{
    ek_apiserver_t *s = r->srv;
    ek_autofree char *ctr = NULL;
    if (log_container(r, pod->json, &ctr) < 0) {
        return;
    }
    obj_t *node = store_get(&s->store, ek_resource_find("", "v1", "nodes"), NULL, node_name);
    const char *addr = node ? node_address(node->json) : NULL;
    if (!addr) {
        send_status(r, 500, "InternalError", NULL, NULL,
                    "node %s has no address to reach its "
                    "kubelet at",
                    node_name);
        return;
    }
    long long port = ek_json_int(node->json, 10250, "status", "daemonEndpoints", "kubeletEndpoint",
                                 "Port", NULL);
    ek_error_t *err = NULL;
    ek_http_client_t *hc = kubelet_client(s, &err);
    if (!hc) {
        send_error(r, NULL, NULL, err);
        ek_error_free(err);
        return;
    }
    ek_autobuf q = EK_BUF_INIT;
    log_query(r->query, &q);
    logproxy_t *lp = ek_new(logproxy_t);
    lp->r = r;
    bool v6 = strchr(addr, ':') != NULL;
    lp->url = ek_xasprintf("https://%s%s%s:%lld/containerLogs/%s/%s/%s%s", v6 ? "[" : "", addr,
                           v6 ? "]" : "", port, r->rt.ns, r->rt.name, ctr, q.data ? q.data : "");
    static const ek_http_call_callbacks_t cbs = { lp_response, lp_body, lp_done };
    ek_http_call_options_t o = { .method = "GET", .url = lp->url };
    r->handler_data = lp;
    r->on_close = lp_client_gone;
    lp->call = ek_http_call(hc, &o, &cbs, lp, &err);
    if (!lp->call) {
        r->on_close = NULL;
        r->handler_data = NULL;
        send_status(r, 500, "InternalError", NULL, NULL, "Get \"%s\": %s", lp->url,
                    ek_error_msg(err));
        ek_error_free(err);
        lp_free(lp);
    }
}

void node_proxy(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    obj_t *o = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!o) {
        send_not_found(r, res, r->rt.name);
        return;
    }
    if (strcmp(res->plural, "pods") == 0) {
        const char *node = ek_json_str(o->json, "spec", "nodeName", NULL);
        if (!node || !*node) {
            send_status(r, 400, "BadRequest", NULL, NULL, "pod %s does not have a host assigned",
                        r->rt.name);
            return;
        }
        if (r->rt.sub == EK_SUB_LOG) {
            pod_log(r, o, node);
            return;
        }
        send_status(r, 503, "ServiceUnavailable", NULL, NULL,
                    "no connection to node %s: edgek does not yet route %s requests to kubelets",
                    node, ek_subresource_name(r->rt.sub));
        return;
    }
    send_status(r, 503, "ServiceUnavailable", NULL, NULL,
                "edgek does not yet route %s requests for %s", ek_subresource_name(r->rt.sub),
                res->plural);
}

void node_proxy_close(ek_apiserver_t *s)
{
    if (s->kubelet_http) {
        ek_http_client_free(s->kubelet_http, NULL, NULL);
        s->kubelet_http = NULL;
    }
}
