/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests the API server passes on to a node's kubelet. pods/log: the pod's node, its
 * InternalIP and kubelet port (status.daemonEndpoints), then an HTTPS call to
 * /containerLogs/{ns}/{pod}/{container} with a client certificate the API server issues
 * itself at first use (CN system:kube-apiserver-kubelet-client, O system:masters), whose
 * answer is streamed back as it comes (status, content type, chunked body); a client that
 * hangs up cancels the call. As kube-apiserver without --kubelet-certificate-authority, the
 * kubelet's serving certificate is not verified (a standalone agent's is self-signed for now).
 *
 * exec, attach and port-forward (WebSocket or SPDY upgrades) are passed on as the real API
 * server's upgrade-aware proxy does: the same request, with its upgrade headers, goes to the
 * kubelet's /exec, /attach or /portForward over a new TLS connection with that client
 * certificate; the kubelet's 101 answer (its Sec-WebSocket-Accept, negotiated subprotocol or
 * X-Stream-Protocol-Version) becomes ours and from then on bytes are copied both ways
 * unchanged, so the kubelet alone speaks the streaming protocols. Node proxy is answered 503.
 */
#include <stdio.h>
#include <strings.h>

#include "server/apiserver/apiserver-internal.h"

typedef struct logproxy {
    apireq_t *r;
    ek_http_call_t *call;
    char *url;
    int status;
    bool begun;
    ek_buf_t body; /* an error answer, kept to become the Status message */
} logproxy_t;

ek_http_client_t *node_kubelet_client(ek_apiserver_t *s, ek_error_t **err)
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
    s->kubelet_tls = tls;
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

const char *node_address(const json_t *node)
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

/* The kubelet's address and port of a node; NULL after answering. */
static const char *kubelet_endpoint(apireq_t *r, const char *node_name, long long *port)
{
    obj_t *node = store_get(&r->srv->store, ek_resource_find("", "v1", "nodes"), NULL, node_name);
    const char *addr = node ? node_address(node->json) : NULL;
    if (!addr) {
        send_status(r, 500, "InternalError", NULL, NULL,
                    "node %s has no address to reach its kubelet at", node_name);
        return NULL;
    }
    *port = ek_json_int(node->json, 10250, "status", "daemonEndpoints", "kubeletEndpoint", "Port",
                        NULL);
    return addr;
}

static void pod_log(apireq_t *r, obj_t *pod, const char *node_name)
{
    ek_apiserver_t *s = r->srv;
    ek_autofree char *ctr = NULL;
    if (log_container(r, pod->json, &ctr) < 0) {
        return;
    }
    long long port = 0;
    const char *addr = kubelet_endpoint(r, node_name, &port);
    if (!addr) {
        return;
    }
    ek_error_t *err = NULL;
    ek_http_client_t *hc = node_kubelet_client(s, &err);
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

/* ---- exec, attach, port-forward: an upgrade passed on to the kubelet ---- */

typedef struct stream_proxy {
    struct stream_proxy *prev, *next;
    ek_apiserver_t *srv;
    apireq_t *r;         /* until the upgrade (or the error answer) */
    ek_http_tunnel_t *t; /* to the kubelet */
    ek_conn_t *conn;     /* the client, once upgraded */
    int status;          /* the kubelet's answer */
    ek_buf_t body;       /* its error text */
    char *url;
    uv_timer_t timer; /* flow control: resumes a paused side */
    bool timer_on;
} stream_proxy_t;

/* Headers of the client's request that make the upgrade: passed to the kubelet. */
static const char *const up_req_headers[] = { "Upgrade",
                                              "Connection",
                                              "Sec-WebSocket-Key",
                                              "Sec-WebSocket-Version",
                                              "Sec-WebSocket-Protocol",
                                              "X-Stream-Protocol-Version" };
/* Headers of the kubelet's 101 that complete it: passed back to the client. */
static const char *const up_resp_headers[] = { "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol",
                                               "X-Stream-Protocol-Version" };

#define SP_HIGH_WATER (4u << 20)

static void sp_timer_closed(uv_handle_t *h)
{
    stream_proxy_t *sp = h->data;
    ek_buf_free(&sp->body);
    free(sp->url);
    free(sp);
}

static void sp_maybe_free(stream_proxy_t *sp)
{
    if (sp->r || sp->t || sp->conn) {
        return;
    }
    if (sp->prev) {
        sp->prev->next = sp->next;
    } else {
        sp->srv->stream_proxies = sp->next;
    }
    if (sp->next) {
        sp->next->prev = sp->prev;
    }
    uv_close((uv_handle_t *)&sp->timer, sp_timer_closed);
}

/* Resumes reading a side once the other has written out what it was given. */
static void sp_tick(uv_timer_t *tm)
{
    stream_proxy_t *sp = tm->data;
    bool busy = false;
    if (sp->t && sp->conn) {
        bool conn_full = ek_conn_pending(sp->conn) > SP_HIGH_WATER / 2;
        bool t_full = ek_http_tunnel_pending(sp->t) > SP_HIGH_WATER / 2;
        ek_http_tunnel_pause(sp->t, conn_full);
        ek_conn_pause(sp->conn, t_full);
        busy = conn_full || t_full;
    }
    if (!busy) {
        uv_timer_stop(tm);
        sp->timer_on = false;
    }
}

static void sp_watch(stream_proxy_t *sp)
{
    if (!sp->timer_on) {
        sp->timer_on = true;
        uv_timer_start(&sp->timer, sp_tick, 20, 20);
    }
}

static void sp_conn_data(ek_conn_t *c, char *data, size_t len, void *user)
{
    stream_proxy_t *sp = user;
    if (!sp->t || ek_http_tunnel_write(sp->t, data, len) < 0) {
        ek_conn_close(c);
        return;
    }
    if (ek_http_tunnel_pending(sp->t) > SP_HIGH_WATER) {
        ek_conn_pause(c, true);
        sp_watch(sp);
    }
}

static void sp_conn_closed(ek_conn_t *c, void *user)
{
    stream_proxy_t *sp = user;
    EK_UNUSED(c);
    sp->conn = NULL;
    if (sp->t) {
        ek_http_tunnel_close(sp->t);
        sp->t = NULL;
    }
    sp_maybe_free(sp);
}

static void sp_response(ek_http_tunnel_t *t, const ek_http_response_t *resp, void *user)
{
    stream_proxy_t *sp = user;
    sp->status = resp->status;
    apireq_t *r = sp->r;
    if (resp->status != 101 || !r) {
        return;
    }
    ek_http_req_t *hr = r->ops->http_req(r);
    const char *proto = ek_http_response_header(resp, "Upgrade");
    for (size_t i = 0; i < resp->n_headers; i++) {
        for (size_t k = 0; k < EK_ARRAY_SIZE(up_resp_headers); k++) {
            if (strcasecmp(resp->headers[i].name, up_resp_headers[k]) == 0) {
                ek_http_add_header(hr, up_resp_headers[k], resp->headers[i].value);
            }
        }
    }
    r->status = 101;
    metrics_observe(r->srv->metrics, r);
    EK_LOG(EK_DEBUG, "apiserver", "%s %s: switched to %s at the kubelet", r->method, r->path,
           proto ? proto : "?");
    static const ek_conn_callbacks_t ccb = { sp_conn_data, sp_conn_closed };
    r->on_close = NULL;
    r->handler_data = NULL;
    r->tp = NULL; /* ek_http_upgrade releases the request */
    sp->r = NULL;
    sp->conn = ek_http_upgrade(hr, proto ? proto : "websocket", &ccb, sp);
    apireq_free(r);
    if (!sp->conn) {
        ek_http_tunnel_close(t);
        sp->t = NULL;
    }
}

static void sp_tunnel_data(ek_http_tunnel_t *t, char *data, size_t len, void *user)
{
    stream_proxy_t *sp = user;
    if (!sp->conn) {
        if (sp->status != 101 && sp->body.len < 4096) {
            ek_buf_append(&sp->body, data, EK_MIN(len, 4096 - sp->body.len));
        }
        return;
    }
    if (ek_conn_write(sp->conn, data, len) < 0) {
        ek_http_tunnel_close(t);
        sp->t = NULL;
        return;
    }
    if (ek_conn_pending(sp->conn) > SP_HIGH_WATER) {
        ek_http_tunnel_pause(t, true);
        sp_watch(sp);
    }
}

static void sp_tunnel_closed(ek_http_tunnel_t *t, const char *why, void *user)
{
    stream_proxy_t *sp = user;
    EK_UNUSED(t);
    sp->t = NULL;
    apireq_t *r = sp->r;
    if (r) {
        sp->r = NULL;
        r->on_close = NULL;
        r->handler_data = NULL;
        if (r->closed) {
            apireq_free(r);
        } else if (sp->status == 0 || sp->status == 101) {
            send_status(r, 500, "InternalError", NULL, NULL, "error dialing backend: %s: %s",
                        sp->url, why ? why : "connection closed");
        } else {
            while (sp->body.len && sp->body.data[sp->body.len - 1] == '\n') {
                sp->body.data[--sp->body.len] = '\0';
            }
            send_status(r, sp->status, reason_for(sp->status), NULL, NULL, "%s",
                        sp->body.len ? sp->body.data : ek_http_status_text(sp->status));
        }
    }
    if (sp->conn) {
        ek_conn_close(sp->conn);
        return;
    }
    sp_maybe_free(sp);
}

static void sp_client_gone(apireq_t *r)
{
    stream_proxy_t *sp = r->handler_data;
    if (sp && sp->t) {
        ek_http_tunnel_close(sp->t);
        sp->t = NULL;
        sp->r = NULL;
        r->on_close = NULL;
        r->handler_data = NULL;
        apireq_free(r);
        sp_maybe_free(sp);
    }
}

static void pod_stream(apireq_t *r, obj_t *pod, const char *node_name)
{
    ek_apiserver_t *s = r->srv;
    ek_http_req_t *hr = r->ops->http_req ? r->ops->http_req(r) : NULL;
    const char *up = apireq_header(r, "Upgrade");
    if (!hr || !up || !*up) {
        send_status(r, 400, "BadRequest", NULL, NULL, "Upgrade request required");
        return;
    }
    ek_autofree char *ctr = NULL;
    if (r->rt.sub != EK_SUB_PORTFORWARD && log_container(r, pod->json, &ctr) < 0) {
        return;
    }
    long long port = 0;
    const char *addr = kubelet_endpoint(r, node_name, &port);
    if (!addr) {
        return;
    }
    ek_error_t *err = NULL;
    if (!node_kubelet_client(s, &err)) {
        send_error(r, NULL, NULL, err);
        ek_error_free(err);
        return;
    }
    const char *kind = r->rt.sub == EK_SUB_EXEC     ? "exec"
                       : r->rt.sub == EK_SUB_ATTACH ? "attach"
                                                    : "portForward";
    ek_autofree char *ns = ek_http_escape(r->rt.ns);
    ek_autofree char *name = ek_http_escape(r->rt.name);
    ek_autofree char *ectr = ctr ? ek_http_escape(ctr) : NULL;
    ek_autobuf path = EK_BUF_INIT;
    ek_buf_printf(&path, "/%s/%s/%s%s%s%s%s", kind, ns, name, ectr ? "/" : "", ectr ? ectr : "",
                  *r->query ? "?" : "", r->query);
    bool v6 = strchr(addr, ':') != NULL;
    ek_autobuf head = EK_BUF_INIT;
    ek_buf_printf(&head, "%s %s HTTP/1.1\r\nHost: %s%s%s:%lld\r\n", r->method, path.data,
                  v6 ? "[" : "", addr, v6 ? "]" : "", port);
    for (size_t i = 0; i < hr->n_headers; i++) {
        for (size_t k = 0; k < EK_ARRAY_SIZE(up_req_headers); k++) {
            if (strcasecmp(hr->headers[i].name, up_req_headers[k]) == 0 &&
                !strpbrk(hr->headers[i].value, "\r\n")) {
                ek_buf_printf(&head, "%s: %s\r\n", up_req_headers[k], hr->headers[i].value);
            }
        }
    }
    ek_buf_puts(&head, "\r\n");
    stream_proxy_t *sp = ek_new(stream_proxy_t);
    sp->srv = s;
    sp->r = r;
    sp->url =
        ek_xasprintf("https://%s%s%s:%lld%s", v6 ? "[" : "", addr, v6 ? "]" : "", port, path.data);
    uv_timer_init(s->loop, &sp->timer);
    sp->timer.data = sp;
    sp->next = s->stream_proxies;
    if (sp->next) {
        sp->next->prev = sp;
    }
    s->stream_proxies = sp;
    static const ek_http_tunnel_callbacks_t tcb = { sp_response, sp_tunnel_data, sp_tunnel_closed };
    r->handler_data = sp;
    r->on_close = sp_client_gone;
    sp->t =
        ek_http_tunnel_open(s->loop, s->kubelet_tls, addr, (int)port, head.data, &tcb, sp, &err);
    if (!sp->t) {
        sp->r = NULL;
        r->on_close = NULL;
        r->handler_data = NULL;
        send_status(r, 500, "InternalError", NULL, NULL, "error dialing backend: %s",
                    ek_error_msg(err));
        ek_error_free(err);
        sp_maybe_free(sp);
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
        if (r->rt.sub == EK_SUB_EXEC || r->rt.sub == EK_SUB_ATTACH ||
            r->rt.sub == EK_SUB_PORTFORWARD) {
            pod_stream(r, o, node);
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
    for (stream_proxy_t *sp = s->stream_proxies, *next; sp; sp = next) {
        next = sp->next;
        if (sp->t) {
            ek_http_tunnel_close(sp->t);
            sp->t = NULL;
        }
        if (sp->conn) {
            ek_conn_close(sp->conn); /* its on_close frees sp */
        } else {
            sp_maybe_free(sp);
        }
    }
    if (s->kubelet_tls) {
        ek_tls_config_unref(s->kubelet_tls);
        s->kubelet_tls = NULL;
    }
    if (s->kubelet_http) {
        ek_http_client_free(s->kubelet_http, NULL, NULL);
        s->kubelet_http = NULL;
    }
}
