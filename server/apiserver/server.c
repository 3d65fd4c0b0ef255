/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's lifecycle and its HTTP transport: open the store, load the cache, serve
 * HTTPS, create first-start objects; each HTTP request becomes an apireq_t that the handlers
 * answer through the transport operations below (so an in-process transport can drive the
 * same handlers without HTTP). Shutdown ends watches, lets in-flight writes finish, then
 * closes the store.
 */
#include <stdarg.h>
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

/* ---- apireq helpers shared by every transport ---- */

const char *apireq_header(apireq_t *r, const char *name)
{
    return r->ops->header(r, name);
}

void apireq_warn(apireq_t *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ek_strlist_add(&r->warnings, msg);
}

void apireq_free(apireq_t *r)
{
    if (r->ops && r->ops->release) {
        r->ops->release(r);
    }
    route_clear(&r->rt);
    params_clear(&r->p);
    user_clear(&r->user);
    ek_strlist_free(&r->warnings);
    free(r);
}

static void log_request(apireq_t *r)
{
    EK_LOG(EK_DEBUG, "apiserver", "%s %s%s%s status=%d ms=%.2f user=%s", r->method, r->path,
           *r->query ? "?" : "", r->query, r->status, (double)(ek_now_ns() - r->start_ns) / 1e6,
           r->user.name ? r->user.name : "-");
}

void apireq_respond(apireq_t *r, int status, const char *content_type, ek_buf_t *body)
{
    r->status = status;
    for (size_t i = 0; i < r->warnings.n; i++) {
        /* RFC 7234 warning: code 299, agent "-", quoted text with quotes escaped. */
        ek_autobuf w = EK_BUF_INIT;
        ek_buf_puts(&w, "299 - \"");
        for (const char *p = r->warnings.v[i]; *p; p++) {
            if (*p == '"' || *p == '\\') {
                ek_buf_putc(&w, '\\');
            }
            ek_buf_putc(&w, *p);
        }
        ek_buf_putc(&w, '"');
        r->ops->add_header(r, "Warning", w.data);
    }
    log_request(r);
    metrics_observe(r->srv->metrics, r);
    r->ops->respond(r, status, content_type, body);
    apireq_free(r);
}

void apireq_respond_json(apireq_t *r, int status, const json_t *v)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_json_dump_buf(v, &b);
    ek_buf_putc(&b, '\n');
    apireq_respond(r, status, "application/json", &b);
}

/* ---- the HTTP transport ---- */

static void http_respond(apireq_t *r, int status, const char *ctype, ek_buf_t *body)
{
    ek_http_respond_buf(r->tp, status, ctype, body);
    r->tp = NULL;
}

static void http_stream_begin(apireq_t *r, int status, const char *ctype)
{
    r->status = status;
    ek_http_add_header(r->tp, "Cache-Control", "no-cache, private");
    ek_http_stream_begin(r->tp, status, ctype);
}

static int http_stream_write(apireq_t *r, const char *data, size_t len)
{
    if (!r->tp || r->closed) {
        return -1;
    }
    return ek_http_stream_write(r->tp, data, len);
}

static size_t http_stream_pending(apireq_t *r)
{
    return r->tp ? ek_http_stream_pending(r->tp) : 0;
}

static void http_stream_end(apireq_t *r)
{
    log_request(r);
    metrics_observe(r->srv->metrics, r);
    if (r->tp) {
        ek_http_stream_end(r->tp);
        r->tp = NULL;
    }
}

static const char *http_header(apireq_t *r, const char *name)
{
    return r->tp ? ek_http_req_header(r->tp, name) : NULL;
}

static void http_add_header(apireq_t *r, const char *name, const char *value)
{
    if (r->tp) {
        ek_http_add_header(r->tp, name, value);
    }
}

static ek_http_req_t *http_req_of(apireq_t *r)
{
    return r->tp;
}

static const apireq_ops_t http_ops = {
    .respond = http_respond,
    .stream_begin = http_stream_begin,
    .stream_write = http_stream_write,
    .stream_pending = http_stream_pending,
    .stream_end = http_stream_end,
    .header = http_header,
    .add_header = http_add_header,
    .release = NULL,
    .http_req = http_req_of,
};

static void on_http_close(ek_http_req_t *hr, void *data)
{
    apireq_t *r = data;
    EK_UNUSED(hr);
    r->closed = true;
    if (r->on_close) {
        r->on_close(r);
    }
}

/*
 * GET /cacerts: the cluster CA, exactly server-ca.crt's bytes, to anyone (k3s's endpoint). A
 * joining agent fetches it without trusting the connection and compares its SHA-256 with the
 * hash in its join token before it sends any secret.
 */
static void serve_cacerts(ek_apiserver_t *s, ek_http_req_t *hr)
{
    if (strcmp(hr->method, "GET") != 0 && strcmp(hr->method, "HEAD") != 0) {
        static const char msg[] = "method not allowed\n";
        ek_http_respond(hr, 405, "text/plain; charset=utf-8", msg, sizeof(msg) - 1);
        return;
    }
    const char *pem = ek_pki_ca_cert_pem(s->pki);
    ek_http_respond(hr, 200, "text/plain; charset=utf-8", pem, strlen(pem));
}

static void on_http_request(ek_http_req_t *hr, void *data)
{
    ek_apiserver_t *s = data;
    if (strcmp(hr->path, "/cacerts") == 0 && !s->closing) {
        serve_cacerts(s, hr);
        return;
    }
    apireq_t *r = ek_new(apireq_t);
    r->srv = s;
    r->start_ns = ek_now_ns();
    r->method = hr->method;
    r->path = hr->path;
    r->query = hr->query;
    r->body = hr->body;
    r->body_len = hr->body_len;
    r->ops = &http_ops;
    r->tp = hr;
    ek_http_req_on_close(hr, on_http_close, r);
    if (s->closing) {
        send_status(r, 503, "ServiceUnavailable", NULL, NULL, "the server is shutting down");
        return;
    }
    if (!authn_request(r, hr->peer)) {
        return;
    }
    handle_request(r);
}

/* ---- lifecycle ---- */

int ek_apiserver_port(const ek_apiserver_t *s)
{
    return s->http ? ek_http_server_port(s->http) : s->opts.port;
}

static void set_defaults(ek_apiserver_options_t *o)
{
    if (!o->bind_address) {
        o->bind_address = "0.0.0.0";
    }
    if (!o->service_cidr) {
        o->service_cidr = "10.43.0.0/16";
    }
    if (!o->cluster_cidr) {
        o->cluster_cidr = "10.42.0.0/16";
    }
    if (!o->cluster_dns) {
        o->cluster_dns = "10.43.0.10";
    }
    if (!o->cluster_domain) {
        o->cluster_domain = "cluster.local";
    }
    if (!o->node_port_min) {
        o->node_port_min = 30000;
        o->node_port_max = 32767;
    }
    if (!o->volatile_flush_ms) {
        o->volatile_flush_ms = 60000;
    }
    if (!o->default_toleration_s) {
        o->default_toleration_s = 300;
    }
}

/* The server token's secret (and user), which joining agents may present as a bearer token. */
static int set_join_token(ek_apiserver_t *s, const char *token, ek_error_t **err)
{
    ek_join_token_t t;
    if (ek_join_token_parse(token, &t, err) < 0) {
        return ek_error_wrap(err, "server token");
    }
    s->join_secret = ek_steal(&t.secret);
    s->join_user = ek_xstrdup(t.user ? t.user : "server");
    ek_join_token_clear(&t);
    return 0;
}

static void free_join_token(ek_apiserver_t *s)
{
    if (s->join_secret) {
        explicit_bzero(s->join_secret, strlen(s->join_secret));
    }
    free(s->join_secret);
    free(s->join_user);
}

int ek_apiserver_start(uv_loop_t *loop, const ek_apiserver_options_t *opts, ek_pki_t *pki,
                       ek_tls_config_t *tls, ek_apiserver_t **out, ek_error_t **err)
{
    if (ek_schema_load(err) < 0) {
        return -1;
    }
    ek_apiserver_t *s = ek_new(ek_apiserver_t);
    s->loop = loop;
    s->opts = *opts;
    set_defaults(&s->opts);
    s->pki = pki;
    s->tls = tls;
    if (opts->token && set_join_token(s, opts->token, err) < 0) {
        free(s);
        return -1;
    }
    s->metrics = metrics_new();
    ek_autofree char *db = ek_xasprintf("%s/server/db/state.db", s->opts.data_dir);
    ek_kv_options_t kvo = {
        .path = db,
        .volatile_flush_ms = s->opts.volatile_flush_ms,
        .no_sync = s->opts.kv_no_sync,
    };
    uint64_t t0 = ek_now_ns();
    if (ek_kv_open(loop, &kvo, &s->kv, err) < 0) {
        metrics_free(s->metrics);
        free_join_token(s);
        free(s);
        return -1;
    }
    if (store_open(&s->store, s->kv, s->opts.watch_window, err) < 0) {
        goto fail;
    }
    s->store.hook = crd_store_hook;
    s->store.hook_data = s;
    crd_load_all(s);
    ek_http_server_options_t ho = {
        .host = s->opts.bind_address,
        .port = s->opts.port,
        .tls = tls,
        .max_body_bytes = 3u << 20,
        .handler = on_http_request,
        .data = s,
    };
    if (ek_http_server_start(loop, &ho, &s->http, err) < 0) {
        ek_error_wrap(err, "serve the API on %s:%d", s->opts.bind_address, s->opts.port);
        goto fail;
    }
    EK_LOG(EK_INFO, "apiserver", "serving addr=%s:%d rev=%lld load_ms=%.1f", s->opts.bind_address,
           ek_http_server_port(s->http), (long long)s->store.rev, (double)(ek_now_ns() - t0) / 1e6);
    bootstrap_run(s);
    *out = s;
    return 0;
fail:
    store_close(&s->store);
    ek_kv_close(s->kv, NULL, NULL);
    metrics_free(s->metrics);
    free_join_token(s);
    free(s);
    return -1;
}

static void free_docs(ek_apiserver_t *s)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->docs, &it, &k, &v)) {
        ek_buf_free(v);
        free(v);
    }
    ek_map_free(&s->docs);
}

static void on_kv_closed(void *data)
{
    ek_apiserver_t *s = data;
    void (*cb)(void *) = s->close_cb;
    void *cb_data = s->close_data;
    free_docs(s);
    metrics_free(s->metrics);
    free_join_token(s);
    free(s);
    if (cb) {
        cb(cb_data);
    }
}

static void on_http_closed(void *data)
{
    ek_apiserver_t *s = data;
    s->http = NULL;
    store_close(&s->store);
    ek_kv_close(s->kv, on_kv_closed, s);
}

void ek_apiserver_close(ek_apiserver_t *s, void (*cb)(void *data), void *data)
{
    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    watchers_close_all(&s->store);
    node_proxy_close(s);
    ek_http_server_close(s->http, on_http_closed, s);
}
