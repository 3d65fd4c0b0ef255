/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 client: calls (one request, one response) over connections kept alive in a
 * per-client pool keyed by scheme, host, port and TLS config, plus ek_http_fetch, a blocking
 * wrapper with a private loop for CLIs and tests.
 *
 * A call owns a timer (its deadline), so it is freed in that timer's close callback, after
 * on_done; a pending getaddrinfo holds a second reference. A connection (struct cconn) is
 * freed in its sock's final close callback. Pooled connections keep reading so that a
 * server closing them is noticed at once, and a request that fails on a reused connection
 * before any response byte arrives is retried once on a newly dialled one if its method is
 * idempotent (the server may have closed the idle connection as we wrote).
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "lib/http-internal.h"
#include "lib/log.h"

#define IDLE_TIMEOUT_MS   90000
#define MAX_IDLE_PER_KEY  32
#define MAX_IDLE          256
#define MAX_RESPONSE_HEAD (1024 * 1024)

struct cconn;

struct ek_http_client {
    uv_loop_t *loop;
    ek_tls_config_t *tls;
    char *rbuf;
    struct cconn *idle;
    size_t n_idle;
    ek_http_call_t *calls;
    size_t n_handles; /* calls not yet freed + connections not yet closed */
    bool closing;
    void (*free_cb)(void *data);
    void *free_data;
};

struct cconn {
    ek__sock_t sock;
    ek_http_client_t *cl;
    struct cconn *prev, *next; /* idle list */
    char *key;
    char *server_name;
    http_parser parser;
    ek_http_call_t *call;
    uv_connect_t connect_req;
    size_t head_bytes;
    bool reused;
    bool pooled;
    bool got_bytes;
    bool parsing;
};

struct ek_http_call {
    ek_http_client_t *cl;
    ek_http_call_t *prev, *next;
    ek_http_call_callbacks_t cb;
    void *user;
    uv_timer_t timer;
    uv_getaddrinfo_t gai;
    struct cconn *conn;
    ek_tls_config_t *tls;
    char *host;
    char *key;
    int port;
    int refs;
    uint64_t timeout_ms;
    ek_buf_t request;
    ek__hdrs_t hdrs;
    ek_http_response_t resp;
    bool resolving;
    bool done;
    bool idempotent;
    bool retried;
    bool head;
    bool cancel_requested;
};

static int call_start(ek_http_call_t *call, bool fresh, ek_error_t **err);
static void call_finish(ek_http_call_t *call, ek_error_t *err, bool reuse);
static void client_maybe_done(ek_http_client_t *cl);

/* ---- connections ---- */

static void pool_remove(struct cconn *c)
{
    if (!c->pooled) {
        return;
    }
    c->pooled = false;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        c->cl->idle = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    c->prev = c->next = NULL;
    c->cl->n_idle--;
}

static void cconn_close(struct cconn *c)
{
    pool_remove(c);
    ek__sock_close(&c->sock);
}

static void idle_timeout(uv_timer_t *t)
{
    cconn_close(ek_container_of(t->data, struct cconn, sock));
}

static void pool_put(struct cconn *c)
{
    ek_http_client_t *cl = c->cl;
    size_t same = 0;
    for (struct cconn *o = cl->idle; o; o = o->next) {
        same += strcmp(o->key, c->key) == 0;
    }
    if (cl->closing || same >= MAX_IDLE_PER_KEY || cl->n_idle >= MAX_IDLE) {
        cconn_close(c);
        return;
    }
    c->pooled = true;
    c->reused = true;
    c->next = cl->idle;
    if (cl->idle) {
        cl->idle->prev = c;
    }
    cl->idle = c;
    cl->n_idle++;
    uv_timer_start(&c->sock.timer, idle_timeout, IDLE_TIMEOUT_MS, 0);
}

static struct cconn *pool_take(ek_http_client_t *cl, const char *key)
{
    for (struct cconn *c = cl->idle; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            pool_remove(c);
            uv_timer_stop(&c->sock.timer);
            return c;
        }
    }
    return NULL;
}

/* Response parsing. */

static int on_message_begin(http_parser *p)
{
    struct cconn *c = p->data;
    if (!c->call) {
        return -1; /* the call ended inside one of its callbacks */
    }
    ek__hdrs_free(&c->call->hdrs); /* after an interim 1xx response */
    c->head_bytes = 0;
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct cconn *c = p->data;
    if (!c->call || (c->head_bytes += len + 4) > MAX_RESPONSE_HEAD) {
        return -1;
    }
    ek__hdrs_field(&c->call->hdrs, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct cconn *c = p->data;
    if (!c->call || (c->head_bytes += len) > MAX_RESPONSE_HEAD) {
        return -1;
    }
    ek__hdrs_value(&c->call->hdrs, at, len);
    return 0;
}

static bool interim(const http_parser *p)
{
    return p->status_code >= 100 && p->status_code < 200 && p->status_code != 101;
}

static int on_headers_complete(http_parser *p)
{
    struct cconn *c = p->data;
    ek_http_call_t *call = c->call;
    if (!call) {
        return -1;
    }
    if (interim(p)) {
        return 0;
    }
    ek__hdrs_finish(&call->hdrs);
    call->resp.status = p->status_code;
    call->resp.headers = call->hdrs.list;
    call->resp.n_headers = call->hdrs.n;
    if (call->cb.on_response) {
        call->cb.on_response(call, &call->resp, call->user);
        if (call->cancel_requested || call->done) {
            return -1;
        }
    }
    return call->head ? 1 : 0; /* 1: a response to HEAD has no body whatever it says */
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct cconn *c = p->data;
    ek_http_call_t *call = c->call;
    if (!call) {
        return -1;
    }
    if (call->cb.on_body) {
        call->cb.on_body(call, at, len, call->user);
    }
    return call->cancel_requested || call->done ? -1 : 0;
}

static int on_message_complete(http_parser *p)
{
    if (!interim(p)) {
        http_parser_pause(p, 1);
    }
    return 0;
}

static const http_parser_settings response_settings = {
    .on_message_begin = on_message_begin,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void send_request(struct cconn *c)
{
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->got_bytes = false;
    ek__sock_write(&c->sock, c->call->request.data, c->call->request.len);
}

static void cconn_on_read(ek__sock_t *s, char *data, size_t len)
{
    struct cconn *c = ek_container_of(s, struct cconn, sock);
    ek_http_call_t *call = c->call;
    if (!call) {
        cconn_close(c); /* an idle connection must stay silent */
        return;
    }
    c->got_bytes = true;
    c->parsing = true;
    size_t n = http_parser_execute(&c->parser, &response_settings, data, len);
    c->parsing = false;
    if (call->done) {
        return;
    }
    if (call->cancel_requested) {
        call_finish(call, NULL, false);
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        /* Reusable only if nothing follows the response and the protocol did not switch. */
        bool reuse = http_should_keep_alive(&c->parser) && n == len && !c->parser.upgrade;
        call_finish(call, NULL, reuse);
    } else if (e != HPE_OK) {
        ek_error_t *err = NULL;
        ek_error_make(&err, EPROTO, "bad HTTP response from %s:%d: %s", call->host, call->port,
                      http_errno_description(e));
        call_finish(call, err, false);
    }
}

static void cconn_on_end(ek__sock_t *s, int uverr, const char *why)
{
    struct cconn *c = ek_container_of(s, struct cconn, sock);
    ek_http_call_t *call = c->call;
    if (!call) {
        cconn_close(c);
        return;
    }
    if (c->got_bytes) {
        /* A body delimited by the end of the connection is complete now. */
        http_parser_execute(&c->parser, &response_settings, NULL, 0);
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
            call_finish(call, NULL, false);
            return;
        }
    }
    ek_error_t *err = NULL;
    if (c->reused && !c->got_bytes && call->idempotent && !call->retried) {
        call->retried = true;
        call->conn = NULL;
        c->call = NULL;
        cconn_close(c);
        if (call_start(call, true, &err) == 0) {
            return;
        }
    } else if (uverr == UV_EPROTO) {
        ek_error_make(&err, EPROTO, "%s:%d: %s", call->host, call->port, why);
    } else {
        ek_error_make(&err, uverr == UV_EOF ? ECONNRESET : -uverr,
                      "%s:%d: connection closed before the response ended: %s", call->host,
                      call->port, why);
    }
    call_finish(call, err, false);
}

static void cconn_on_handshake(ek__sock_t *s)
{
    struct cconn *c = ek_container_of(s, struct cconn, sock);
    if (c->call) {
        send_request(c);
    }
}

static void cconn_on_closed(ek__sock_t *s)
{
    struct cconn *c = ek_container_of(s, struct cconn, sock);
    ek_http_client_t *cl = c->cl;
    free(c->key);
    free(c->server_name);
    free(c);
    cl->n_handles--;
    client_maybe_done(cl);
}

static const ek__sock_ops_t cconn_ops = {
    .on_read = cconn_on_read,
    .on_end = cconn_on_end,
    .on_handshake = cconn_on_handshake,
    .on_closed = cconn_on_closed,
};

static void connect_cb(uv_connect_t *req, int status)
{
    struct cconn *c = ek_container_of(req, struct cconn, connect_req);
    ek_http_call_t *call = c->call;
    if (status == UV_ECANCELED || !call) {
        return;
    }
    ek_error_t *err = NULL;
    if (status < 0) {
        ek_error_make(&err, -status, "connect to %s:%d", call->host, call->port);
        call_finish(call, err, false);
        return;
    }
    uv_tcp_nodelay(&c->sock.tcp, 1);
    ek__sock_read(&c->sock, true);
    if (!c->sock.tls_cfg) {
        send_request(c);
    } else if (ek__sock_tls_connect(&c->sock, c->server_name, &err) < 0) {
        call_finish(call, err, false);
    }
}

static int conn_connect(ek_http_call_t *call, const struct sockaddr *addr, ek_error_t **err)
{
    ek_http_client_t *cl = call->cl;
    struct cconn *c = ek_new(struct cconn);
    c->cl = cl;
    c->key = ek_xstrdup(call->key);
    c->server_name = ek_xstrdup(call->host);
    ek__sock_init(&c->sock, cl->loop, &cconn_ops, cl->rbuf, call->tls);
    cl->n_handles++;
    int r = uv_tcp_connect(&c->connect_req, &c->sock.tcp, addr, connect_cb);
    if (r < 0) {
        ek__sock_close(&c->sock);
        return ek_error_make(err, -r, "connect to %s:%d", call->host, call->port);
    }
    call->conn = c;
    c->call = call;
    return 0;
}

/* ---- calls ---- */

static void call_free(ek_http_call_t *call)
{
    ek_http_client_t *cl = call->cl;
    ek_tls_config_unref(call->tls);
    free(call->host);
    free(call->key);
    ek_buf_free(&call->request);
    ek__hdrs_free(&call->hdrs);
    free(call);
    cl->n_handles--;
    client_maybe_done(cl);
}

static void call_unref(ek_http_call_t *call)
{
    if (--call->refs == 0) {
        call_free(call);
    }
}

static void call_timer_closed(uv_handle_t *h)
{
    call_unref(h->data);
}

static void call_timeout(uv_timer_t *t)
{
    ek_http_call_t *call = t->data;
    ek_error_t *err = NULL;
    ek_error_make(&err, ETIMEDOUT, "%s:%d: no complete response after %llu ms", call->host,
                  call->port, (unsigned long long)call->timeout_ms);
    call_finish(call, err, false);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ek_http_call_t *call = req->data;
    call->resolving = false;
    if (call->done) {
        uv_freeaddrinfo(res);
        call_unref(call);
        return;
    }
    call->refs--; /* the call itself still holds its timer reference */
    ek_error_t *err = NULL;
    if (status < 0 || !res) {
        ek_error_make(&err, 0, "resolve `%s`: %s", call->host, uv_strerror(status));
    } else {
        conn_connect(call, res->ai_addr, &err);
    }
    uv_freeaddrinfo(res);
    if (err) {
        call_finish(call, err, false);
    }
}

/* fresh: dial even if the pool has a connection (a retry after a stale one). */
static int call_start(ek_http_call_t *call, bool fresh, ek_error_t **err)
{
    ek_http_client_t *cl = call->cl;
    struct cconn *c = fresh ? NULL : pool_take(cl, call->key);
    if (c) {
        call->conn = c;
        c->call = call;
        send_request(c);
        return 0;
    }
    struct sockaddr_storage ss;
    if (uv_ip4_addr(call->host, call->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(call->host, call->port, (struct sockaddr_in6 *)&ss) == 0) {
        return conn_connect(call, (struct sockaddr *)&ss, err);
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", call->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    call->gai.data = call;
    int r = uv_getaddrinfo(cl->loop, &call->gai, gai_cb, call->host, port, &hints);
    if (r < 0) {
        return ek_error_make(err, 0, "resolve `%s`: %s", call->host, uv_strerror(r));
    }
    call->resolving = true;
    call->refs++;
    return 0;
}

static void call_unlink(ek_http_call_t *call)
{
    if (call->prev) {
        call->prev->next = call->next;
    } else {
        call->cl->calls = call->next;
    }
    if (call->next) {
        call->next->prev = call->prev;
    }
}

static void call_finish(ek_http_call_t *call, ek_error_t *err, bool reuse)
{
    if (call->done) {
        ek_error_free(err);
        return;
    }
    if (!err && call->cancel_requested) {
        ek_error_make(&err, ECANCELED, "%s:%d: cancelled", call->host, call->port);
    }
    call->done = true;
    uv_timer_stop(&call->timer);
    if (call->resolving) {
        uv_cancel((uv_req_t *)&call->gai);
    }
    struct cconn *c = call->conn;
    call->conn = NULL;
    if (c) {
        c->call = NULL;
        if (reuse && !err) {
            pool_put(c);
        } else {
            cconn_close(c);
        }
    }
    call_unlink(call);
    if (call->cb.on_done) {
        call->cb.on_done(call, err, call->user);
    }
    ek_error_free(err);
    uv_close((uv_handle_t *)&call->timer, call_timer_closed);
}

void ek_http_call_cancel(ek_http_call_t *call)
{
    if (call->done || call->cancel_requested) {
        return;
    }
    call->cancel_requested = true;
    if (!(call->conn && call->conn->parsing)) {
        call_finish(call, NULL, false);
    }
}

static bool method_idempotent(const char *m)
{
    static const char *const list[] = { "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(list); i++) {
        if (strcmp(m, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

static void put_header(ek_buf_t *b, const char *name, const char *value)
{
    size_t start = b->len;
    ek_buf_printf(b, "%s: %s", name, value);
    for (size_t i = start; i < b->len; i++) {
        if (b->data[i] == '\r' || b->data[i] == '\n') {
            b->data[i] = ' ';
        }
    }
    ek_buf_puts(b, "\r\n");
}

static void build_request(ek_http_call_t *call, const ek_http_call_options_t *o, const char *method,
                          const char *target, const char *host_header)
{
    ek_buf_t *b = &call->request;
    ek_buf_reserve(b, 256 + o->body_len);
    ek_buf_printf(b, "%s %s HTTP/1.1\r\n", method, target);
    bool has_host = false;
    for (size_t i = 0; i < o->n_headers; i++) {
        const ek_http_header_t *h = &o->headers[i];
        if (strcasecmp(h->name, "Content-Length") == 0 ||
            strcasecmp(h->name, "Transfer-Encoding") == 0) {
            continue; /* we frame the body ourselves */
        }
        has_host |= strcasecmp(h->name, "Host") == 0;
        put_header(b, h->name, h->value);
    }
    if (!has_host) {
        put_header(b, "Host", host_header);
    }
    if (o->body_len > 0 || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
        !strcmp(method, "PATCH")) {
        ek_buf_printf(b, "Content-Length: %zu\r\n", o->body_len);
    }
    ek_buf_puts(b, "\r\n");
    ek_buf_append(b, o->body, o->body_len);
}

/* Connections are shared only between calls to the same place with the same TLS config. */
static char *pool_key(bool https, const char *host, int port, const ek_tls_config_t *tls)
{
    return ek_xasprintf("%s://%s:%d/%p", https ? "https" : "http", host, port, (const void *)tls);
}

/* Splits the URL and fills call->host/port/key and the request bytes. */
static int call_prepare(ek_http_call_t *call, const ek_http_call_options_t *o, ek_error_t **err)
{
    const char *url = o->url ? o->url : "";
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(url, strlen(url), 0, &u) != 0 || !(u.field_set & (1 << UF_HOST)) ||
        !(u.field_set & (1 << UF_SCHEMA))) {
        return ek_error_make(err, EINVAL, "bad URL `%s`", url);
    }
    const char *scheme = url + u.field_data[UF_SCHEMA].off;
    size_t slen = u.field_data[UF_SCHEMA].len;
    bool https = slen == 5 && strncasecmp(scheme, "https", 5) == 0;
    if (!https && !(slen == 4 && strncasecmp(scheme, "http", 4) == 0)) {
        return ek_error_make(err, EINVAL, "bad URL `%s`: only http and https", url);
    }
    call->host = ek_xstrndup(url + u.field_data[UF_HOST].off, u.field_data[UF_HOST].len);
    call->port = (u.field_set & (1 << UF_PORT)) ? u.port : https ? 443 : 80;
    const char *path = (u.field_set & (1 << UF_PATH)) ? url + u.field_data[UF_PATH].off : "/";
    size_t plen = (u.field_set & (1 << UF_PATH)) ? u.field_data[UF_PATH].len : 1;
    if (u.field_set & (1 << UF_QUERY)) {
        plen = (size_t)(url + u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len - path);
    }
    ek_autofree char *target = ek_xstrndup(path, plen);
    bool v6 = strchr(call->host, ':') != NULL;
    bool default_port = call->port == (https ? 443 : 80);
    ek_autofree char *host_header =
        default_port ? ek_xasprintf(v6 ? "[%s]" : "%s", call->host)
                     : ek_xasprintf(v6 ? "[%s]:%d" : "%s:%d", call->host, call->port);
    if (https) {
        call->tls = ek_tls_config_ref(o->tls ? o->tls : call->cl->tls);
        if (!call->tls) {
            call->tls = ek_tls_client_config_new(NULL, NULL, NULL, false, err);
            if (!call->tls) {
                return ek_error_wrap(err, "%s", url);
            }
            call->cl->tls = ek_tls_config_ref(call->tls); /* the system bundle, loaded once */
        }
        if (ek_tls_config_is_server(call->tls)) {
            return ek_error_make(err, EINVAL, "%s: a server TLS config", url);
        }
    }
    call->key = pool_key(https, call->host, call->port, call->tls);
    const char *method = o->method ? o->method : "GET";
    call->idempotent = method_idempotent(method);
    call->head = strcmp(method, "HEAD") == 0;
    build_request(call, o, method, target, host_header);
    return 0;
}

ek_http_call_t *ek_http_call(ek_http_client_t *cl, const ek_http_call_options_t *opts,
                             const ek_http_call_callbacks_t *cb, void *user, ek_error_t **err)
{
    if (cl->closing) {
        ek_error_make(err, ECANCELED, "HTTP client is closing");
        return NULL;
    }
    ek_http_call_t *call = ek_new(ek_http_call_t);
    call->cl = cl;
    call->cb = *cb;
    call->user = user;
    call->refs = 1;
    call->timeout_ms = opts->timeout_ms;
    uv_timer_init(cl->loop, &call->timer);
    call->timer.data = call;
    cl->n_handles++;
    if (call_prepare(call, opts, err) < 0 || call_start(call, false, err) < 0) {
        /* Nothing started: no callbacks; the timer's close frees the call. */
        call->done = true;
        if (call->conn) {
            call->conn->call = NULL;
            cconn_close(call->conn);
        }
        uv_close((uv_handle_t *)&call->timer, call_timer_closed);
        return NULL;
    }
    call->next = cl->calls;
    if (cl->calls) {
        cl->calls->prev = call;
    }
    cl->calls = call;
    if (opts->timeout_ms) {
        uv_timer_start(&call->timer, call_timeout, opts->timeout_ms, 0);
    }
    return call;
}

/* ---- client ---- */

ek_http_client_t *ek_http_client_new(uv_loop_t *loop, ek_tls_config_t *default_tls)
{
    ek__http_parser_global_init();
    ek_http_client_t *cl = ek_new(ek_http_client_t);
    cl->loop = loop;
    cl->tls = ek_tls_config_ref(default_tls);
    cl->rbuf = ek_xmalloc(EK__SOCK_RBUF_SIZE);
    return cl;
}

static void client_maybe_done(ek_http_client_t *cl)
{
    if (!cl->closing || cl->n_handles > 0) {
        return;
    }
    void (*cb)(void *) = cl->free_cb;
    void *data = cl->free_data;
    ek_tls_config_unref(cl->tls);
    free(cl->rbuf);
    free(cl);
    if (cb) {
        cb(data);
    }
}

void ek_http_client_free(ek_http_client_t *cl, void (*cb)(void *data), void *data)
{
    ek_assert(!cl->closing);
    cl->closing = true;
    cl->free_cb = cb;
    cl->free_data = data;
    /* n_handles keeps the client alive through the callbacks below. */
    cl->n_handles++;
    while (cl->calls) {
        ek_http_call_t *call = cl->calls;
        ek_error_t *err = NULL;
        ek_error_make(&err, ECANCELED, "%s:%d: HTTP client closed", call->host, call->port);
        call_finish(call, err, false);
    }
    while (cl->idle) {
        cconn_close(cl->idle);
    }
    cl->n_handles--;
    client_maybe_done(cl);
}

size_t ek_http_client_idle_connections(const ek_http_client_t *cl)
{
    return cl->n_idle;
}

int ek__http_client_adopt(ek_http_client_t *cl, int fd, const char *host, int port,
                          ek_error_t **err)
{
    struct cconn *c = ek_new(struct cconn);
    c->cl = cl;
    c->key = pool_key(false, host, port, NULL);
    c->server_name = ek_xstrdup(host);
    ek__sock_init(&c->sock, cl->loop, &cconn_ops, cl->rbuf, NULL);
    cl->n_handles++;
    int r = uv_tcp_open(&c->sock.tcp, fd);
    if (r < 0) {
        close(fd);
        ek__sock_close(&c->sock);
        return ek_error_make(err, -r, "adopt connection to %s:%d", host, port);
    }
    ek__sock_read(&c->sock, true);
    pool_put(c);
    return 0;
}

/* ---- blocking fetch ---- */

struct fetch {
    ek_buf_t *body;
    int status;
    ek_error_t *err;
    bool done;
};

static void fetch_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    struct fetch *f = user;
    f->status = resp->status;
}

static void fetch_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    struct fetch *f = user;
    if (f->body) {
        ek_buf_append(f->body, data, len);
    }
}

static void fetch_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    struct fetch *f = user;
    f->done = true;
    if (err) {
        ek_error_status(&f->err, err->status, "%s", ek_error_msg(err));
        f->err->errnum = err->errnum;
    }
}

int ek_http_fetch(const ek_http_call_options_t *opts, ek_buf_t *body, ek_error_t **err)
{
    if (body) {
        *body = (ek_buf_t)EK_BUF_INIT;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    ek_http_client_t *cl = ek_http_client_new(&loop, NULL);
    struct fetch f = { .body = body };
    static const ek_http_call_callbacks_t cbs = { fetch_response, fetch_body, fetch_done };
    ek_http_call_t *call = ek_http_call(cl, opts, &cbs, &f, err);
    while (call && !f.done) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    ek_http_client_free(cl, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    int r = uv_loop_close(&loop);
    ek_assert(r == 0);
    if (!call) {
        return -1;
    }
    if (f.err) {
        if (err && !*err) {
            *err = f.err;
        } else {
            ek_error_free(f.err);
        }
        if (body) {
            ek_buf_free(body);
        }
        return -1;
    }
    return f.status;
}
