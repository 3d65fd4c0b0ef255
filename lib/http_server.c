/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP/1.1 server: accepts connections, parses requests with http_parser, runs the
 * handler on the loop thread, writes responses (whole or chunked streams) and hands upgraded
 * connections over as raw ek_conn_t streams.
 *
 * A connection (struct ek_conn) moves through HEAD → BODY → HANDLING → HEAD ... or UPGRADED.
 * Parsing pauses while a request is handled, but reading goes on (up to a bound, into the
 * stash) so that a client hanging up during a long watch is noticed and the handler's
 * on_close fires. A request (struct req) is its own allocation because an asynchronous
 * handler may hold it after the connection is gone; it then keeps private copies of what it
 * pointed at and is freed by the handler's final answer.
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "lib/http-internal.h"
#include "lib/log.h"

#define DEFAULT_MAX_HEADER (1024 * 1024)
#define DEFAULT_MAX_BODY   (3 * 1024 * 1024)
#define DEFAULT_HEADER_MS  30000
#define DEFAULT_IDLE_MS    120000
#define STASH_LIMIT        (64 * 1024) /* pipelined bytes held while a request is handled */
#define INLINE_BODY_LIMIT  EK__TLS_RECORD

enum conn_state { C_HEAD, C_BODY, C_HANDLING, C_UPGRADED, C_CLOSED };

struct ek_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    ek_http_server_options_t opts;
    ek_tls_config_t *tls;
    char *rbuf;
    struct ek_conn *conns;
    size_t n_conns;
    int port;
    bool closing;
    bool listener_open;
    void (*close_cb)(void *data);
    void *close_data;
};

struct req;

struct ek_conn {
    ek__sock_t sock;
    ek_http_server_t *srv;
    struct ek_conn *prev, *next;
    http_parser parser;
    struct req *req;   /* being parsed, or being handled */
    ek_buf_t stash;    /* received, not yet parsed (pipelining) or delivered (upgrade) */
    size_t head_bytes; /* name, value and target bytes of the head so far (the limit) */
    size_t head_raw;   /* every byte of the head so far (bounds padding outside callbacks) */
    uint32_t n_requests;
    uint16_t err_status; /* set by a parser callback that rejects the request */
    uint8_t state;
    bool keep_alive;
    bool upgrade_req;
    bool in_run;
    bool paused;          /* upgraded: the owner paused reading */
    bool deliver_pending; /* upgraded: the timer delivers the stash, not a timeout */
    ek_conn_callbacks_t cb;
    void *user;
    uint64_t timeout_ms;
    char remote[56];
};

struct req {
    ek_http_req_t pub;
    struct ek_conn *conn; /* NULL once the connection is gone */
    ek_buf_t target;
    ek__hdrs_t hdrs;
    char *path;
    char *query; /* only when the target has a fragment to cut off */
    ek_buf_t body;
    ek_buf_t out_headers;
    void (*on_close)(ek_http_req_t *r, void *data);
    void *on_close_data;
    ek_tls_peer_t *owned_peer;
    char remote[56];
    bool head_method;
    bool http10;
    bool streaming;
};

static void conn_next(struct ek_conn *c);
static void conn_close_now(struct ek_conn *c);
static void run_stash(struct ek_conn *c);
static void conn_timeout(uv_timer_t *t);

/* ---- requests ---- */

static struct req *req_new(struct ek_conn *c)
{
    struct req *q = ek_new(struct req);
    q->conn = c;
    memcpy(q->remote, c->remote, sizeof(q->remote));
    q->pub.remote_addr = q->remote;
    q->pub.peer = c->sock.tls ? ek_tls_peer(c->sock.tls) : NULL;
    q->pub.body = "";
    q->pub.query = "";
    return q;
}

static void req_free(struct req *q)
{
    ek_buf_free(&q->target);
    ek__hdrs_free(&q->hdrs);
    free(q->path);
    free(q->query);
    ek_buf_free(&q->body);
    ek_buf_free(&q->out_headers);
    ek_tls_peer_free(q->owned_peer);
    free(q);
}

static struct req *req_of(ek_http_req_t *r)
{
    return ek_container_of(r, struct req, pub);
}

/* The connection can take the response (else the answer only releases the request). */
static struct ek_conn *req_conn(struct req *q)
{
    return q->conn && !ek__sock_closing(&q->conn->sock) ? q->conn : NULL;
}

/* Splits the raw target into a decoded path and the raw query. */
static int parse_target(struct req *q)
{
    const char *t = q->target.data ? q->target.data : "";
    const char *p = t;
    if (*p != '/') {
        const char *scheme = strstr(p, "://"); /* absolute-form, as proxies send */
        if (!scheme) {
            return -1;
        }
        p = strchr(scheme + 3, '/');
        p = p ? p : "/";
    }
    size_t plen = strcspn(p, "?#");
    /* A NUL would cut the decoded path short of what later checks saw: refuse it. */
    for (size_t i = 0; i + 2 < plen; i++) {
        if (p[i] == '%' && p[i + 1] == '0' && p[i + 2] == '0') {
            return -1;
        }
    }
    q->path = ek_http_unescape(p, plen, false);
    if (p[plen] == '?') {
        const char *query = p + plen + 1;
        size_t qlen = strcspn(query, "#");
        if (query[qlen] == '#') {
            q->query = ek_xstrndup(query, qlen);
            query = q->query;
        }
        q->pub.query = query;
    }
    q->pub.target = t;
    q->pub.path = q->path;
    return 0;
}

/* ---- parser callbacks ---- */

static int count_head(struct ek_conn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > c->srv->opts.max_header_bytes) {
        c->err_status = 431;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct ek_conn *c = p->data;
    if (!c->req) {
        c->req = req_new(c);
    }
    /* Later requests on a kept-alive connection get the full head timeout from here. */
    if (c->n_requests > 0) {
        uv_timer_start(&c->sock.timer, conn_timeout, c->srv->opts.header_timeout_ms, 0);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct ek_conn *c = p->data;
    if (count_head(c, len) < 0) {
        return -1;
    }
    ek_buf_append(&c->req->target, at, len);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct ek_conn *c = p->data;
    if (count_head(c, len + 4) < 0) { /* ": " and CRLF count toward the limit too */
        return -1;
    }
    ek__hdrs_field(&c->req->hdrs, at, len);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct ek_conn *c = p->data;
    if (count_head(c, len) < 0) {
        return -1;
    }
    ek__hdrs_value(&c->req->hdrs, at, len);
    return 0;
}

static bool expects_body(const http_parser *p)
{
    return (p->flags & F_CHUNKED) || (p->content_length > 0 && p->content_length != ULLONG_MAX);
}

static int on_headers_complete(http_parser *p)
{
    struct ek_conn *c = p->data;
    struct req *q = c->req;
    ek__hdrs_finish(&q->hdrs);
    q->pub.headers = q->hdrs.list;
    q->pub.n_headers = q->hdrs.n;
    q->pub.method = http_method_str((enum http_method)p->method);
    q->head_method = p->method == HTTP_HEAD;
    q->http10 = p->http_major == 1 && p->http_minor == 0;
    if (parse_target(q) < 0) {
        c->err_status = 400;
        return -1;
    }
    if (p->content_length != ULLONG_MAX && p->content_length > c->srv->opts.max_body_bytes) {
        c->err_status = 413;
        return -1;
    }
    c->keep_alive = http_should_keep_alive(p);
    c->state = C_BODY;
    uv_timer_start(&c->sock.timer, conn_timeout, c->srv->opts.idle_timeout_ms, 0);
    const char *expect = ek_http_req_header(&q->pub, "Expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && expects_body(p) && !q->http10) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ek__sock_write(&c->sock, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    struct ek_conn *c = p->data;
    ek_buf_t *b = &c->req->body;
    if (len > c->srv->opts.max_body_bytes - b->len) {
        c->err_status = 413;
        return -1;
    }
    if (b->len == 0 && p->content_length != ULLONG_MAX && !(p->flags & F_CHUNKED)) {
        ek_buf_reserve(b, len + (size_t)p->content_length); /* one allocation for the body */
    }
    ek_buf_append(b, at, len);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct ek_conn *c = p->data;
    c->state = C_HANDLING;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connection flow ---- */

/* A request the parser rejected: answer with status and close. */
static void fail_request(struct ek_conn *c, int status)
{
    EK_LOG(EK_DEBUG, "http", "bad request remote=%s status=%d parser=%s", c->remote, status,
           http_errno_name(HTTP_PARSER_ERRNO(&c->parser)));
    char head[160];
    const char *text = ek_http_status_text(status);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s\n",
                     status, text, strlen(text) + 1, text);
    ek__sock_write(&c->sock, head, (size_t)n);
    if (c->req) {
        req_free(c->req);
        c->req = NULL;
    }
    c->state = C_CLOSED;
    ek__sock_close_graceful(&c->sock);
}

static void dispatch(struct ek_conn *c)
{
    struct req *q = c->req;
    c->upgrade_req = c->parser.upgrade;
    c->n_requests++;
    uv_timer_stop(&c->sock.timer);
    q->pub.body = q->body.data ? q->body.data : "";
    q->pub.body_len = q->body.len;
    c->srv->opts.handler(&q->pub, c->srv->opts.data);
}

/* Parses while the connection waits for a request; returns the bytes consumed. */
static size_t conn_run(struct ek_conn *c, const char *data, size_t len)
{
    size_t used = 0;
    c->in_run = true;
    while (used < len && (c->state == C_HEAD || c->state == C_BODY)) {
        bool in_head = c->state == C_HEAD;
        size_t n = http_parser_execute(&c->parser, &parser_settings, data + used, len - used);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        used += n;
        if (e == HPE_PAUSED) {
            dispatch(c); /* may answer at once and bring the state back to C_HEAD */
            continue;
        }
        if (e != HPE_OK) {
            fail_request(c, c->err_status ? c->err_status : e == HPE_HEADER_OVERFLOW ? 431 : 400);
            break;
        }
        /* Whitespace and line ends reach no callback; bound them loosely. */
        if (in_head && c->state == C_HEAD &&
            (c->head_raw += n) > 2 * c->srv->opts.max_header_bytes + 4096) {
            fail_request(c, 431);
            break;
        }
        if (n == 0) {
            break; /* nothing moved: wait for more input */
        }
    }
    c->in_run = false;
    return used;
}

static void stash_append(struct ek_conn *c, const char *data, size_t len)
{
    ek_buf_append(&c->stash, data, len);
    if (c->stash.len > STASH_LIMIT && c->state == C_HANDLING) {
        /* Enough pipelined input; we stop noticing hang-ups until this request is answered. */
        ek__sock_read(&c->sock, false);
    }
}

static void upgraded_deliver(struct ek_conn *c)
{
    while (c->stash.len > 0 && !c->paused && c->state == C_UPGRADED) {
        ek_buf_t b = c->stash;
        c->stash = (ek_buf_t)EK_BUF_INIT;
        c->cb.on_data(c, b.data, b.len, c->user);
        ek_buf_free(&b);
    }
}

static void conn_on_read(ek__sock_t *s, char *data, size_t len)
{
    struct ek_conn *c = ek_container_of(s, struct ek_conn, sock);
    switch (c->state) {
    case C_HEAD:
    case C_BODY: {
        size_t used = conn_run(c, data, len);
        if (used < len && (c->state == C_HANDLING || c->state == C_UPGRADED)) {
            stash_append(c, data + used, len - used);
        }
        if (c->state == C_BODY) {
            uv_timer_start(&c->sock.timer, conn_timeout, c->srv->opts.idle_timeout_ms, 0);
        }
        break;
    }
    case C_HANDLING:
        stash_append(c, data, len);
        break;
    case C_UPGRADED:
        if (c->timeout_ms) {
            uv_timer_again(&c->sock.timer);
        }
        if (c->paused || c->stash.len > 0) {
            ek_buf_append(&c->stash, data, len);
        } else {
            c->cb.on_data(c, data, len, c->user);
        }
        break;
    default:
        break;
    }
}

static void conn_on_end(ek__sock_t *s, int uverr, const char *why)
{
    struct ek_conn *c = ek_container_of(s, struct ek_conn, sock);
    if (uverr != UV_EOF) {
        EK_LOG(EK_DEBUG, "http", "connection ended remote=%s err=\"%s\"", c->remote, why);
    }
    conn_close_now(c);
}

static void conn_on_handshake(ek__sock_t *s)
{
}

static void server_maybe_done(ek_http_server_t *srv)
{
    if (!srv->closing || srv->listener_open || srv->n_conns > 0) {
        return;
    }
    void (*cb)(void *) = srv->close_cb;
    void *data = srv->close_data;
    ek_tls_config_unref(srv->tls);
    free(srv->rbuf);
    free(srv);
    if (cb) {
        cb(data);
    }
}

static void conn_on_closed(ek__sock_t *s)
{
    struct ek_conn *c = ek_container_of(s, struct ek_conn, sock);
    ek_http_server_t *srv = c->srv;
    if (c->cb.on_close) {
        c->cb.on_close(c, c->user);
    }
    if (c->req) {
        req_free(c->req); /* a request still being parsed */
    }
    ek_buf_free(&c->stash);
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        srv->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    srv->n_conns--;
    free(c);
    server_maybe_done(srv);
}

static const ek__sock_ops_t conn_ops = {
    .on_read = conn_on_read,
    .on_end = conn_on_end,
    .on_handshake = conn_on_handshake,
    .on_closed = conn_on_closed,
};

static void conn_timeout(uv_timer_t *t)
{
    struct ek_conn *c = ek_container_of(t->data, struct ek_conn, sock);
    if (c->state == C_UPGRADED && c->deliver_pending) {
        c->deliver_pending = false;
        upgraded_deliver(c);
        if (c->timeout_ms && c->state == C_UPGRADED && !ek__sock_closing(&c->sock)) {
            uv_timer_start(&c->sock.timer, conn_timeout, c->timeout_ms, c->timeout_ms);
        }
        return;
    }
    EK_LOG(EK_DEBUG, "http", "connection timed out remote=%s state=%d", c->remote, c->state);
    conn_close_now(c);
}

/* Closes at once; a request being handled is orphaned and its owner told. */
static void conn_close_now(struct ek_conn *c)
{
    struct req *q = c->state == C_HANDLING ? c->req : NULL;
    c->state = C_CLOSED;
    ek__sock_close(&c->sock);
    if (q) {
        c->req = NULL;
        q->conn = NULL;
        q->owned_peer = ek_tls_peer_dup(q->pub.peer);
        q->pub.peer = q->owned_peer;
        if (q->on_close) {
            q->on_close(&q->pub, q->on_close_data); /* may answer, which frees q */
        }
    }
}

static bool conn_keeps(const struct ek_conn *c)
{
    return c->keep_alive && !c->upgrade_req && !c->srv->closing;
}

/* The answer to the current request is queued: release it, then wait for the next one. */
static void req_answered(struct req *q)
{
    struct ek_conn *c = q->conn;
    req_free(q);
    if (c) {
        c->req = NULL;
        conn_next(c);
    }
}

static void conn_next(struct ek_conn *c)
{
    if (c->state != C_HANDLING) {
        return;
    }
    if (!conn_keeps(c)) {
        c->state = C_CLOSED;
        ek__sock_close_graceful(&c->sock);
        return;
    }
    c->state = C_HEAD;
    c->head_bytes = 0;
    c->head_raw = 0;
    http_parser_pause(&c->parser, 0);
    uv_timer_start(&c->sock.timer, conn_timeout, c->srv->opts.idle_timeout_ms, 0);
    ek__sock_read(&c->sock, true);
    if (!c->in_run && c->stash.len > 0) {
        run_stash(c);
    }
}

static void run_stash(struct ek_conn *c)
{
    size_t used = conn_run(c, c->stash.data, c->stash.len);
    if (c->state != C_CLOSED) {
        ek_buf_consume(&c->stash, used);
    }
}

/* ---- server ---- */

/* A new connection: registers it and returns it with its handles initialized. */
static struct ek_conn *conn_new(ek_http_server_t *srv)
{
    struct ek_conn *c = ek_new(struct ek_conn);
    c->srv = srv;
    ek__sock_init(&c->sock, srv->loop, &conn_ops, srv->rbuf, srv->tls);
    c->next = srv->conns;
    if (srv->conns) {
        srv->conns->prev = c;
    }
    srv->conns = c;
    srv->n_conns++;
    return c;
}

static void conn_begin(struct ek_conn *c)
{
    uv_tcp_nodelay(&c->sock.tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    ek__sock_peer_name(&c->sock, c->remote, sizeof(c->remote));
    uv_timer_start(&c->sock.timer, conn_timeout, c->srv->opts.header_timeout_ms, 0);
    ek__sock_read(&c->sock, true);
}

static void on_connection(uv_stream_t *l, int status)
{
    ek_http_server_t *srv = l->data;
    if (status < 0 || srv->closing) {
        return;
    }
    struct ek_conn *c = conn_new(srv);
    if (uv_accept(l, (uv_stream_t *)&c->sock.tcp) != 0) {
        c->state = C_CLOSED;
        ek__sock_close(&c->sock);
        return;
    }
    conn_begin(c);
}

int ek__http_server_adopt(ek_http_server_t *srv, int fd, ek_error_t **err)
{
    if (srv->closing) {
        close(fd);
        return ek_error_make(err, ECANCELED, "adopt connection: server is closing");
    }
    struct ek_conn *c = conn_new(srv);
    int r = uv_tcp_open(&c->sock.tcp, fd);
    if (r < 0) {
        close(fd);
        c->state = C_CLOSED;
        ek__sock_close(&c->sock);
        return ek_error_make(err, -r, "adopt connection");
    }
    conn_begin(c);
    return 0;
}

static int parse_bind(const char *host, int port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) {
        return 0;
    }
    return uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss);
}

static void listener_closed(uv_handle_t *h)
{
    ek_http_server_t *srv = h->data;
    srv->listener_open = false;
    server_maybe_done(srv);
}

static void apply_defaults(ek_http_server_options_t *o)
{
    o->host = NULL; /* only used while starting */
    o->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : DEFAULT_MAX_HEADER;
    o->max_body_bytes = o->max_body_bytes ? o->max_body_bytes : DEFAULT_MAX_BODY;
    o->header_timeout_ms = o->header_timeout_ms ? o->header_timeout_ms : DEFAULT_HEADER_MS;
    o->idle_timeout_ms = o->idle_timeout_ms ? o->idle_timeout_ms : DEFAULT_IDLE_MS;
}

int ek_http_server_start(uv_loop_t *loop, const ek_http_server_options_t *opts,
                         ek_http_server_t **out, ek_error_t **err)
{
    const char *host = opts->host ? opts->host : "0.0.0.0";
    struct sockaddr_storage ss;
    if (parse_bind(host, opts->port, &ss) != 0) {
        return ek_error_make(err, EINVAL, "listen on `%s`: not an IP address", host);
    }
    ek_assert(opts->handler);
    if (opts->tls && !ek_tls_config_is_server(opts->tls)) {
        return ek_error_make(err, EINVAL, "listen on %s:%d: a client TLS config", host, opts->port);
    }
    ek__http_parser_global_init();
    ek_http_server_t *srv = ek_new(ek_http_server_t);
    srv->loop = loop;
    srv->opts = *opts;
    apply_defaults(&srv->opts);
    srv->tls = ek_tls_config_ref(opts->tls);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    srv->listener_open = true;
    int r = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
    if (r == 0) {
        r = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    }
    if (r < 0) {
        /* The handle closes asynchronously; the loop frees the server afterwards. */
        srv->closing = true;
        uv_close((uv_handle_t *)&srv->listener, listener_closed);
        return ek_error_make(err, -r, "listen on %s:%d", host, opts->port);
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    srv->rbuf = ek_xmalloc(EK__SOCK_RBUF_SIZE);
    *out = srv;
    return 0;
}

int ek_http_server_port(const ek_http_server_t *s)
{
    return s->port;
}

size_t ek_http_server_connections(const ek_http_server_t *s)
{
    return s->n_conns;
}

void ek_http_server_close(ek_http_server_t *s, void (*cb)(void *data), void *data)
{
    ek_assert(!s->closing);
    s->closing = true;
    s->close_cb = cb;
    s->close_data = data;
    uv_close((uv_handle_t *)&s->listener, listener_closed);
    for (struct ek_conn *c = s->conns; c; c = c->next) {
        struct req *q = c->req;
        if (ek__sock_closing(&c->sock)) {
            continue;
        }
        /* A plain request being handled finishes (and then closes); streams are told. */
        if (c->state == C_HANDLING && q && !q->streaming && !q->on_close) {
            continue;
        }
        conn_close_now(c);
    }
}

/* ---- responses ---- */

void ek_http_add_header(ek_http_req_t *r, const char *name, const char *value)
{
    struct req *q = req_of(r);
    ek_buf_puts(&q->out_headers, name);
    ek_buf_puts(&q->out_headers, ": ");
    size_t start = q->out_headers.len;
    ek_buf_puts(&q->out_headers, value);
    /* A CR or LF in a value would start a header of the client's choosing. */
    for (size_t i = start; i < q->out_headers.len; i++) {
        if (q->out_headers.data[i] == '\r' || q->out_headers.data[i] == '\n') {
            q->out_headers.data[i] = ' ';
        }
    }
    ek_buf_puts(&q->out_headers, "\r\n");
}

static void put_head(ek_buf_t *h, struct req *q, struct ek_conn *c, int status,
                     const char *content_type)
{
    ek_buf_printf(h, "HTTP/1.1 %d %s\r\n", status, ek_http_status_text(status));
    if (content_type) {
        ek_buf_printf(h, "Content-Type: %s\r\n", content_type);
    }
    ek_buf_append(h, q->out_headers.data, q->out_headers.len);
    if (!conn_keeps(c)) {
        ek_buf_puts(h, "Connection: close\r\n");
    } else if (q->http10) {
        ek_buf_puts(h, "Connection: keep-alive\r\n");
    }
}

static void respond(struct req *q, int status, const char *content_type, const void *body,
                    size_t len, char *owned)
{
    struct ek_conn *c = req_conn(q);
    if (!c || c->state != C_HANDLING) {
        free(owned);
        req_free(q);
        return;
    }
    bool bodiless = status == 204 || status == 304 || status < 200;
    bool send_body = !bodiless && !q->head_method && len > 0;
    ek_buf_t h = EK_BUF_INIT;
    ek_buf_reserve(&h, 128 + q->out_headers.len + (len <= INLINE_BODY_LIMIT ? len : 0));
    put_head(&h, q, c, status, content_type);
    if (!bodiless) {
        ek_buf_printf(&h, "Content-Length: %zu\r\n", len);
    }
    ek_buf_puts(&h, "\r\n");
    uv_buf_t bufs[2];
    void *own[2];
    unsigned n = 0, n_own = 0;
    if (send_body && len <= INLINE_BODY_LIMIT) {
        ek_buf_append(&h, body, len); /* one buffer, one write, one TLS record */
        send_body = false;
    }
    bufs[n++] = uv_buf_init(h.data, (unsigned)h.len);
    own[n_own++] = h.data;
    if (send_body) {
        bufs[n++] = uv_buf_init((char *)(uintptr_t)body, (unsigned)len);
    }
    if (owned) {
        own[n_own++] = owned;
    }
    ek__sock_writev(&c->sock, bufs, n, own, n_own);
    req_answered(q);
}

void ek_http_respond(ek_http_req_t *r, int status, const char *content_type, const void *body,
                     size_t len)
{
    respond(req_of(r), status, content_type, body, len, NULL);
}

void ek_http_respond_buf(ek_http_req_t *r, int status, const char *content_type, ek_buf_t *body)
{
    size_t len;
    char *data = ek_buf_steal(body, &len);
    respond(req_of(r), status, content_type, data, len, data);
}

void ek_http_stream_begin(ek_http_req_t *r, int status, const char *content_type)
{
    struct req *q = req_of(r);
    struct ek_conn *c = req_conn(q);
    q->streaming = true;
    if (!c) {
        return;
    }
    if (q->http10) {
        c->keep_alive = false; /* no chunked encoding: the body ends with the connection */
    }
    ek_buf_t h = EK_BUF_INIT;
    put_head(&h, q, c, status, content_type);
    ek_buf_puts(&h, q->http10 ? "\r\n" : "Transfer-Encoding: chunked\r\n\r\n");
    uv_buf_t b = uv_buf_init(h.data, (unsigned)h.len);
    ek__sock_writev(&c->sock, &b, 1, (void *[]){ h.data }, 1);
}

int ek_http_stream_write(ek_http_req_t *r, const void *data, size_t len)
{
    struct req *q = req_of(r);
    struct ek_conn *c = req_conn(q);
    ek_assert(q->streaming);
    if (!c) {
        return -1;
    }
    if (len == 0 || q->head_method) {
        return 0; /* an empty chunk would end the stream */
    }
    if (q->http10) {
        return ek__sock_write(&c->sock, data, len);
    }
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    uv_buf_t bufs[3] = {
        uv_buf_init(size, (unsigned)n),
        uv_buf_init((char *)(uintptr_t)data, (unsigned)len),
        uv_buf_init((char *)"\r\n", 2),
    };
    return ek__sock_writev(&c->sock, bufs, 3, NULL, 0);
}

size_t ek_http_stream_pending(const ek_http_req_t *r)
{
    const struct req *q = ek_container_of(r, struct req, pub);
    return q->conn ? q->conn->sock.pending : 0;
}

void ek_http_stream_end(ek_http_req_t *r)
{
    struct req *q = req_of(r);
    struct ek_conn *c = req_conn(q);
    if (!c || c->state != C_HANDLING) {
        req_free(q);
        return;
    }
    if (!q->http10 && !q->head_method) {
        ek__sock_write(&c->sock, "0\r\n\r\n", 5);
    }
    req_answered(q);
}

void ek_http_req_on_close(ek_http_req_t *r, void (*cb)(ek_http_req_t *r, void *data), void *data)
{
    struct req *q = req_of(r);
    q->on_close = cb;
    q->on_close_data = data;
}

/* ---- upgraded connections ---- */

ek_conn_t *ek_http_upgrade(ek_http_req_t *r, const char *upgrade_proto,
                           const ek_conn_callbacks_t *cb, void *user)
{
    struct req *q = req_of(r);
    struct ek_conn *c = req_conn(q);
    if (!c || c->state != C_HANDLING) {
        req_free(q);
        return NULL;
    }
    ek_buf_t h = EK_BUF_INIT;
    ek_buf_printf(&h, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n",
                  upgrade_proto);
    ek_buf_append(&h, q->out_headers.data, q->out_headers.len);
    ek_buf_puts(&h, "\r\n");
    uv_buf_t b = uv_buf_init(h.data, (unsigned)h.len);
    ek__sock_writev(&c->sock, &b, 1, (void *[]){ h.data }, 1);
    c->req = NULL;
    req_free(q);
    c->state = C_UPGRADED;
    c->cb = *cb;
    c->user = user;
    /* Bytes that came with the head (now, or still in this read) go out from the loop, once
     * the caller holds the connection. */
    c->deliver_pending = true;
    uv_timer_start(&c->sock.timer, conn_timeout, 0, 0);
    ek__sock_read(&c->sock, true);
    return c;
}

int ek_conn_write(ek_conn_t *c, const void *data, size_t len)
{
    return c->state == C_UPGRADED ? ek__sock_write(&c->sock, data, len) : -1;
}

int ek_conn_writev(ek_conn_t *c, const uv_buf_t *bufs, unsigned n)
{
    return c->state == C_UPGRADED ? ek__sock_writev(&c->sock, bufs, n, NULL, 0) : -1;
}

size_t ek_conn_pending(const ek_conn_t *c)
{
    return c->sock.pending;
}

void ek_conn_pause(ek_conn_t *c, bool paused)
{
    if (c->state != C_UPGRADED || c->paused == paused) {
        return;
    }
    c->paused = paused;
    ek__sock_read(&c->sock, !paused);
    if (!paused && c->stash.len > 0) {
        c->deliver_pending = true;
        uv_timer_start(&c->sock.timer, conn_timeout, 0, 0);
    }
}

void ek_conn_unread(ek_conn_t *c, const char *data, size_t len)
{
    if (c->state != C_UPGRADED || len == 0) {
        return;
    }
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_reserve(&b, len + c->stash.len);
    ek_buf_append(&b, data, len);
    ek_buf_append(&b, c->stash.data, c->stash.len);
    ek_buf_free(&c->stash);
    c->stash = b;
    if (!c->paused && !c->deliver_pending) {
        c->deliver_pending = true;
        uv_timer_start(&c->sock.timer, conn_timeout, 0, 0);
    }
}

void ek_conn_set_timeout(ek_conn_t *c, uint64_t ms)
{
    if (c->state != C_UPGRADED) {
        return;
    }
    c->timeout_ms = ms;
    if (c->deliver_pending) {
        return; /* armed after the delivery */
    }
    if (ms) {
        uv_timer_start(&c->sock.timer, conn_timeout, ms, ms);
    } else {
        uv_timer_stop(&c->sock.timer);
    }
}

void ek_conn_close(ek_conn_t *c)
{
    if (c->state != C_UPGRADED) {
        return;
    }
    c->state = C_CLOSED;
    ek__sock_close_graceful(&c->sock);
}

const ek_tls_peer_t *ek_conn_peer(const ek_conn_t *c)
{
    return c->sock.tls ? ek_tls_peer(c->sock.tls) : NULL;
}

const char *ek_conn_remote_addr(const ek_conn_t *c)
{
    return c->remote;
}
