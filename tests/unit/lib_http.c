/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP server and client over loopback, plain and TLS: keep-alive reuse, chunked bodies both
 * ways, pipelining, limits (431/413/400), header and idle timeouts, client hang-ups, graceful
 * server close, client certificates (CN/O), SNI, TLS garbage, and a throughput sample.
 * Raw protocol checks use a blocking client on a thread while the test's loop serves.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#include "tests/unit/http_testutil.h"

struct fx {
    uv_loop_t loop;
    ek_http_server_t *srv;
    int port;
    ek_tls_config_t *tls;
    int requests;
    char remotes[64][64];
    int n_remotes;
    bool closed;
    int on_close_fired;
    ek_http_req_t *held;
    uv_timer_t timer;
    ek_http_req_t *slow;
    int slow_sent;
    size_t max_pending;
    int raw_closed;
    ek_buf_t raw_seen;
};

static struct fx F;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void note_remote(struct fx *f, const char *remote)
{
    for (int i = 0; i < f->n_remotes; i++) {
        if (strcmp(f->remotes[i], remote) == 0) {
            return;
        }
    }
    if (f->n_remotes < 64) {
        snprintf(f->remotes[f->n_remotes++], sizeof(f->remotes[0]), "%s", remote);
    }
}

static void held_closed(ek_http_req_t *r, void *data)
{
    struct fx *f = data;
    f->on_close_fired++;
    f->held = NULL;
    ek_http_respond(r, 200, NULL, NULL, 0); /* a no-op that releases the request */
}

static void slow_closed(ek_http_req_t *r, void *data)
{
    struct fx *f = data;
    f->on_close_fired++;
    uv_timer_stop(&f->timer);
    f->slow = NULL;
    ek_http_stream_end(r);
}

static void slow_tick(uv_timer_t *t)
{
    struct fx *f = t->data;
    char chunk[32];
    int n = snprintf(chunk, sizeof(chunk), "tick-%d\n", f->slow_sent++);
    if (ek_http_stream_write(f->slow, chunk, (size_t)n) < 0 || f->slow_sent == 50) {
        uv_timer_stop(&f->timer);
        ek_http_stream_end(f->slow);
        f->slow = NULL;
    }
}

/* Writes as fast as the timer allows while the consumer does not read: backpressure. */
static void flood_tick(uv_timer_t *t)
{
    struct fx *f = t->data;
    static char chunk[64 * 1024];
    size_t pending = ek_http_stream_pending(f->slow);
    f->max_pending = EK_MAX(f->max_pending, pending);
    if (pending < 8 * 1024 * 1024) {
        memset(chunk, 'f', sizeof(chunk));
        ASSERT_EQ(ek_http_stream_write(f->slow, chunk, sizeof(chunk)), 0);
    }
}

static void raw_data(ek_conn_t *c, char *data, size_t len, void *user)
{
    struct fx *f = user;
    ek_buf_append(&f->raw_seen, data, len);
    for (size_t i = 0; i < len; i++) {
        data[i] = (char)toupper((unsigned char)data[i]); /* data may be changed in place */
    }
    ASSERT_EQ(ek_conn_write(c, data, len), 0);
    if (strstr(f->raw_seen.data, "bye")) {
        ek_conn_close(c);
        ASSERT_EQ(ek_conn_write(c, "x", 1), -1); /* closing: no more writes */
    }
}

static void raw_closed(ek_conn_t *c, void *user)
{
    struct fx *f = user;
    f->raw_closed++;
}

static void respond_echo(ek_http_req_t *r)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_printf(&b, "%s %s q=%s len=%zu foo=%s\n", r->method, r->path, r->query, r->body_len,
                  ek_http_req_header(r, "X-Foo") ? ek_http_req_header(r, "X-Foo") : "-");
    ek_buf_append(&b, r->body, r->body_len);
    ek_http_add_header(r, "X-Test", "yes\r\nInjected: 1");
    ek_http_respond(r, 200, "text/plain", b.data, b.len);
}

static void respond_peer(ek_http_req_t *r)
{
    ek_autobuf b = EK_BUF_INIT;
    if (!r->peer) {
        ek_buf_puts(&b, "none");
    } else {
        ek_buf_printf(&b, "cn=%s o=", r->peer->common_name);
        for (size_t i = 0; i < r->peer->n_organizations; i++) {
            ek_buf_printf(&b, "%s%s", i ? "," : "", r->peer->organizations[i]);
        }
    }
    ek_http_respond(r, 200, "text/plain", b.data, b.len);
}

static void handler(ek_http_req_t *r, void *data)
{
    struct fx *f = data;
    f->requests++;
    note_remote(f, r->remote_addr);
    if (strcmp(r->path, "/echo") == 0 || strcmp(r->path, "/a b") == 0) {
        respond_echo(r);
    } else if (strcmp(r->path, "/big") == 0) {
        ek_buf_t b = EK_BUF_INIT;
        for (int i = 0; i < 1024 * 1024 / 16; i++) {
            ek_buf_printf(&b, "%015d\n", i);
        }
        ek_http_respond_buf(r, 200, "text/plain", &b);
    } else if (strcmp(r->path, "/stream") == 0) {
        ek_http_stream_begin(r, 200, "text/plain");
        for (int i = 0; i < 5; i++) {
            char chunk[16];
            int n = snprintf(chunk, sizeof(chunk), "chunk-%d\n", i);
            ASSERT_EQ(ek_http_stream_write(r, chunk, (size_t)n), 0);
        }
        ek_http_stream_end(r);
    } else if (strcmp(r->path, "/slow") == 0) {
        f->slow = r;
        f->slow_sent = 0;
        ek_http_req_on_close(r, slow_closed, f);
        ek_http_stream_begin(r, 200, "text/plain");
        uv_timer_start(&f->timer, slow_tick, 5, 5);
    } else if (strcmp(r->path, "/flood") == 0) {
        f->slow = r;
        ek_http_req_on_close(r, slow_closed, f);
        ek_http_stream_begin(r, 200, "application/octet-stream");
        uv_timer_start(&f->timer, flood_tick, 1, 1);
    } else if (strcmp(r->path, "/raw") == 0) {
        static const ek_conn_callbacks_t cb = { raw_data, raw_closed };
        ek_http_add_header(r, "X-Stream-Protocol-Version", "portforward.k8s.io");
        ek_conn_t *c = ek_http_upgrade(r, "SPDY/3.1", &cb, f);
        ASSERT_NOT_NULL(c);
        ASSERT_TRUE(ek_conn_peer(c) == NULL);
        ASSERT_CONTAINS(ek_conn_remote_addr(c), "127.0.0.1:");
    } else if (strcmp(r->path, "/hold") == 0) {
        f->held = r;
        ek_http_req_on_close(r, held_closed, f);
    } else if (strcmp(r->path, "/peer") == 0) {
        respond_peer(r);
    } else {
        ek_http_respond(r, 404, "text/plain", "not found\n", 10);
    }
}

static void fx_start_opts(struct fx *f, ek_tls_config_t *tls, const ek_http_server_options_t *o)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    ek_http_server_options_t opts = o ? *o : (ek_http_server_options_t){ 0 };
    opts.host = "127.0.0.1";
    opts.tls = tls;
    opts.handler = handler;
    opts.data = f;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_http_server_start(&f->loop, &opts, &f->srv, &err), &err);
    f->port = ek_http_server_port(f->srv);
    ASSERT_CMP(f->port, >, 0);
    f->tls = tls;
    uv_timer_init(&f->loop, &f->timer);
    f->timer.data = f;
}

static void fx_start(struct fx *f, ek_tls_config_t *tls)
{
    fx_start_opts(f, tls, NULL);
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static void fx_stop(struct fx *f, ek_http_client_t *cl)
{
    bool client_freed = cl == NULL;
    if (cl) {
        ek_http_client_free(cl, set_flag, &client_freed);
    }
    ek_http_server_close(f->srv, set_flag, &f->closed);
    uv_close((uv_handle_t *)&f->timer, NULL);
    ek_test_run_until(&f->loop, &f->closed, 15000);
    ek_test_run_until(&f->loop, &client_freed, 5000);
    ek_tls_config_unref(f->tls);
    ek_test_loop_finish(&f->loop);
}

/* ---- client calls from the loop ---- */

struct result {
    int status;
    ek_buf_t body;
    char *x_test;
    char *err;
    int errnum;
    int body_pieces;
    bool done;
};

static void r_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    struct result *res = user;
    res->status = resp->status;
    const char *x = ek_http_response_header(resp, "x-test");
    res->x_test = x ? ek_xstrdup(x) : NULL;
}

static void r_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    struct result *res = user;
    res->body_pieces++;
    ek_buf_append(&res->body, data, len);
}

static void r_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    struct result *res = user;
    res->done = true;
    if (err) {
        res->err = ek_xstrdup(ek_error_msg(err));
        res->errnum = err->errnum;
    }
}

static const ek_http_call_callbacks_t result_cbs = { r_response, r_body, r_done };

static void result_free(struct result *res)
{
    ek_buf_free(&res->body);
    free(res->x_test);
    free(res->err);
    memset(res, 0, sizeof(*res));
}

static ek_http_call_t *start_call(ek_http_client_t *cl, const char *method, const char *url,
                                  const char *body, struct result *res)
{
    memset(res, 0, sizeof(*res));
    ek_http_header_t hdr = { (char *)"X-Foo", (char *)"bar" };
    ek_http_call_options_t o = {
        .method = method,
        .url = url,
        .headers = &hdr,
        .n_headers = 1,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = 10000,
    };
    ek_error_t *err = NULL;
    ek_http_call_t *call = ek_http_call(cl, &o, &result_cbs, res, &err);
    ASSERT_NOT_NULL(call);
    return call;
}

static void do_call(struct fx *f, ek_http_client_t *cl, const char *method, const char *path,
                    const char *body, struct result *res)
{
    char url[256];
    snprintf(url, sizeof(url), "%s://127.0.0.1:%d%s", f->tls ? "https" : "http", f->port, path);
    start_call(cl, method, url, body, res);
    ek_test_run_until(&f->loop, &res->done, 10000);
}

/* ---- helpers ---- */

TEST(http_query_and_escape_helpers)
{
    ek_autofree char *v = ek_http_query_get("a=1&b=x%20y+z&c&b=2", "b");
    ASSERT_STREQ(v, "x y z");
    ek_autofree char *c = ek_http_query_get("a=1&b=x&c", "c");
    ASSERT_STREQ(c, "");
    ASSERT_TRUE(ek_http_query_get("a=1", "z") == NULL);
    ek_autofree char *e = ek_http_escape("a b/c?d=é");
    ASSERT_STREQ(e, "a%20b%2Fc%3Fd%3D%C3%A9");
    ek_autofree char *u = ek_http_unescape(e, strlen(e), false);
    ASSERT_STREQ(u, "a b/c?d=é");
    ek_autofree char *bad = ek_http_unescape("%zz%4", 5, false);
    ASSERT_STREQ(bad, "%zz%4");
    ASSERT_STREQ(ek_http_status_text(431), "Request Header Fields Too Large");
    ASSERT_STREQ(ek_http_status_text(599), "Unknown");
}

/* ---- plain HTTP ---- */

TEST(http_keepalive_reuses_one_connection)
{
    fx_start(&F, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    for (int i = 0; i < 5; i++) {
        struct result res;
        do_call(&F, cl, "GET", "/echo?x=1", NULL, &res);
        ASSERT_TRUE(res.err == NULL);
        ASSERT_EQ(res.status, 200);
        ASSERT_CONTAINS(res.body.data, "GET /echo q=x=1 len=0 foo=bar");
        /* A CR/LF in a header value must not start a new header. */
        ASSERT_STREQ(res.x_test, "yes  Injected: 1");
        result_free(&res);
        ASSERT_EQ(ek_http_client_idle_connections(cl), 1);
    }
    ASSERT_EQ(F.requests, 5);
    ASSERT_EQ(F.n_remotes, 1);
    ASSERT_EQ(ek_http_server_connections(F.srv), 1);
    fx_stop(&F, cl);
}

TEST(http_post_body_percent_path_and_404)
{
    fx_start(&F, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    struct result res;
    do_call(&F, cl, "POST", "/echo?a=%20b", "hello body", &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_CONTAINS(res.body.data, "POST /echo q=a=%20b len=10 foo=bar\nhello body");
    result_free(&res);
    do_call(&F, cl, "PUT", "/a%20b", "", &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_CONTAINS(res.body.data, "PUT /a b q= len=0");
    result_free(&res);
    do_call(&F, cl, "GET", "/nope", NULL, &res);
    ASSERT_EQ(res.status, 404);
    result_free(&res);
    do_call(&F, cl, "HEAD", "/echo", NULL, &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_EQ(res.body.len, 0);
    result_free(&res);
    /* The connection survives a HEAD (no body was expected or sent). */
    do_call(&F, cl, "GET", "/echo", NULL, &res);
    ASSERT_EQ(res.status, 200);
    result_free(&res);
    ASSERT_EQ(F.n_remotes, 1);
    fx_stop(&F, cl);
}

TEST(http_large_bodies_both_ways)
{
    ek_http_server_options_t o = { .max_body_bytes = 4 * 1024 * 1024 };
    fx_start_opts(&F, NULL, &o);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    struct result res;
    do_call(&F, cl, "GET", "/big", NULL, &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_EQ(res.body.len, 1024 * 1024);
    ASSERT_TRUE(memcmp(res.body.data + res.body.len - 16, "000000000065535\n", 16) == 0);
    result_free(&res);
    size_t n = 3 * 1024 * 1024;
    char *big = ek_xmalloc(n + 1);
    memset(big, 'z', n);
    big[n] = '\0';
    do_call(&F, cl, "POST", "/echo", big, &res);
    free(big);
    ASSERT_EQ(res.status, 200);
    ASSERT_CONTAINS(res.body.data, "len=3145728");
    result_free(&res);
    fx_stop(&F, cl);
}

TEST(http_streaming_response_is_chunked)
{
    fx_start(&F, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    struct result res;
    do_call(&F, cl, "GET", "/stream", NULL, &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_STREQ(res.body.data, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
    result_free(&res);
    /* An asynchronous stream arrives in pieces over time. */
    do_call(&F, cl, "GET", "/slow", NULL, &res);
    ASSERT_EQ(res.status, 200);
    ASSERT_CONTAINS(res.body.data, "tick-0\ntick-1\n");
    ASSERT_CONTAINS(res.body.data, "tick-49\n");
    ASSERT_CMP(res.body_pieces, >, 10);
    result_free(&res);
    ASSERT_EQ(F.n_remotes, 1);
    fx_stop(&F, cl);
}

/* Raw scripts run on a thread; they get the fixture. */

static void raw_chunked_and_pipelined(void *arg)
{
    struct fx *f = arg;
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, NULL, NULL);
    ek_test_client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_CONTAINS(r.body.data, "len=11 foo=-\nhello world");
    ek_test_response_free(&r);
    /* Three pipelined requests in one write are answered in order. */
    ek_test_client_sends(&c, "GET /echo?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
                             "GET /echo?n=3 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_CONTAINS(r.body.data, "q=n=1");
    ek_test_response_free(&r);
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_CONTAINS(r.head, "Transfer-Encoding: chunked");
    ASSERT_STREQ(r.body.data, "chunk-0\nchunk-1\nchunk-2\nchunk-3\nchunk-4\n");
    ek_test_response_free(&r);
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_CONTAINS(r.body.data, "q=n=3");
    ASSERT_TRUE(r.keep_alive);
    ek_test_response_free(&r);
    /* Expect: 100-continue gets the interim answer before the body is sent. */
    ek_test_client_sends(&c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                             "Expect: 100-continue\r\n\r\n");
    char interim[25];
    ek_test_client_read_n(&c, interim, sizeof(interim));
    ASSERT_TRUE(memcmp(interim, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
    ek_test_client_sends(&c, "ping");
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_CONTAINS(r.body.data, "len=4 foo=-\nping");
    ek_test_response_free(&r);
    /* HTTP/1.0 closes after the answer unless asked otherwise. */
    ek_test_client_sends(&c, "GET /echo HTTP/1.0\r\n\r\n");
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_FALSE(r.keep_alive);
    ek_test_response_free(&r);
    size_t len;
    ek_autofree char *rest = ek_test_client_read_all(&c, &len, 5000);
    ASSERT_EQ(len, 0);
    ek_test_client_close(&c);
}

TEST(http_chunked_upload_pipelining_expect)
{
    fx_start(&F, NULL);
    ek_test_run_thread(&F.loop, raw_chunked_and_pipelined, &F);
    ASSERT_EQ(F.requests, 6);
    fx_stop(&F, NULL);
}

/* Sends req and expects the given status, then the server closing the connection. */
static void expect_status_and_close(struct fx *f, const char *req, size_t len, int status)
{
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, f->tls, NULL);
    ek_test_client_send(&c, req, len);
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_EQ(r.status, status);
    ASSERT_FALSE(r.keep_alive);
    ek_test_response_free(&r);
    size_t n;
    ek_autofree char *rest = ek_test_client_read_all(&c, &n, 5000);
    ASSERT_EQ(n, 0);
    ek_test_client_close(&c);
}

static void raw_limits(void *arg)
{
    struct fx *f = arg;
    /* Headers past the limit: 431. */
    ek_autobuf big = EK_BUF_INIT;
    ek_buf_puts(&big, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: ");
    for (int i = 0; i < 3000; i++) {
        ek_buf_putc(&big, 'a');
    }
    ek_buf_puts(&big, "\r\n\r\n");
    expect_status_and_close(f, big.data, big.len, 431);
    /* Many small headers count together. */
    ek_buf_reset(&big);
    ek_buf_puts(&big, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 300; i++) {
        ek_buf_printf(&big, "X-%d: v\r\n", i);
    }
    ek_buf_puts(&big, "\r\n");
    expect_status_and_close(f, big.data, big.len, 431);
    /* A declared body past the limit: 413 at once, before any body byte. */
    const char *decl = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
    expect_status_and_close(f, decl, strlen(decl), 413);
    /* A chunked body that grows past the limit: 413. */
    ek_buf_reset(&big);
    ek_buf_puts(&big, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 5; i++) {
        ek_buf_puts(&big, "200\r\n");
        for (int k = 0; k < 512; k++) {
            ek_buf_putc(&big, 'b');
        }
        ek_buf_puts(&big, "\r\n");
    }
    ek_buf_puts(&big, "0\r\n\r\n");
    expect_status_and_close(f, big.data, big.len, 413);
    /* A head just under the limit, arriving in pieces, is fine. */
    ek_buf_reset(&big);
    ek_buf_puts(&big, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Foo: ");
    for (int i = 0; i < 1900; i++) {
        ek_buf_putc(&big, 'f');
    }
    ek_buf_puts(&big, "\r\n\r\n");
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, NULL, NULL);
    for (size_t off = 0; off < big.len; off += 500) {
        ek_test_client_send(&c, big.data + off, EK_MIN(500, big.len - off));
        usleep(20 * 1000);
    }
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_EQ(r.status, 200);
    ek_test_response_free(&r);
    ek_test_client_close(&c);
    /* Malformed: 400, then close. */
    const char *junk = "GARBAGE\x01\x02 nonsense\r\n\r\n";
    expect_status_and_close(f, junk, strlen(junk), 400);
    const char *nul = "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n";
    expect_status_and_close(f, nul, strlen(nul), 400);
    const char *cl_te = "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    expect_status_and_close(f, cl_te, strlen(cl_te), 400);
}

TEST(http_limits_431_413_400)
{
    ek_http_server_options_t o = { .max_header_bytes = 2048, .max_body_bytes = 2000 };
    fx_start_opts(&F, NULL, &o);
    ek_test_run_thread(&F.loop, raw_limits, &F);
    ASSERT_EQ(F.requests, 1); /* only the one within the limits reached the handler */
    fx_stop(&F, NULL);
}

static void raw_timeouts(void *arg)
{
    struct fx *f = arg;
    /* An incomplete head is cut off after the header timeout. */
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, NULL, NULL);
    uint64_t t0 = now_ms();
    ek_test_client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n");
    size_t n;
    ek_autofree char *got = ek_test_client_read_all(&c, &n, 5000);
    uint64_t dt = now_ms() - t0;
    ASSERT_EQ(n, 0);
    ASSERT_CMP(dt, >=, 180);
    ASSERT_CMP(dt, <, 800); /* the header timeout, not the (longer) idle one */
    ek_test_client_close(&c);
    /* A silent connection is cut off too. */
    ek_test_client_open(&c, f->port, NULL, NULL);
    t0 = now_ms();
    ek_autofree char *got2 = ek_test_client_read_all(&c, &n, 5000);
    ASSERT_EQ(n, 0);
    ASSERT_CMP(now_ms() - t0, <, 800);
    ek_test_client_close(&c);
    /* After a response, the idle timeout (longer here) applies; the connection works until. */
    ek_test_client_open(&c, f->port, NULL, NULL);
    ek_test_client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ek_test_response_free(&r);
    usleep(400 * 1000); /* past the header timeout, within the idle timeout */
    ek_test_client_sends(&c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_EQ(r.status, 200);
    ek_test_response_free(&r);
    t0 = now_ms();
    ek_autofree char *got3 = ek_test_client_read_all(&c, &n, 5000);
    dt = now_ms() - t0;
    ASSERT_EQ(n, 0);
    ASSERT_CMP(dt, >=, 1100);
    ASSERT_CMP(dt, <, 3000);
    ek_test_client_close(&c);
}

TEST(http_header_and_idle_timeouts)
{
    ek_http_server_options_t o = { .header_timeout_ms = 200, .idle_timeout_ms = 1200 };
    fx_start_opts(&F, NULL, &o);
    ek_test_run_thread(&F.loop, raw_timeouts, &F);
    ASSERT_EQ(F.requests, 2);
    ASSERT_EQ(ek_http_server_connections(F.srv), 0);
    fx_stop(&F, NULL);
}

static void raw_hangup(void *arg)
{
    struct fx *f = arg;
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, NULL, NULL);
    ek_test_client_sends(&c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100 * 1000);
    ek_test_client_close(&c);
    ek_test_client_open(&c, f->port, NULL, NULL);
    ek_test_client_sends(&c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[256];
    ASSERT_CMP(ek_test_client_recv(&c, buf, sizeof(buf), 5000), >, 0);
    ek_test_client_close(&c);
    usleep(100 * 1000);
}

TEST(http_client_hangup_fires_on_close)
{
    fx_start(&F, NULL);
    ek_test_run_thread(&F.loop, raw_hangup, &F);
    bool fired_twice = false;
    while (F.on_close_fired < 2) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    fired_twice = F.on_close_fired == 2;
    ASSERT_TRUE(fired_twice);
    ASSERT_TRUE(F.held == NULL && F.slow == NULL);
    fx_stop(&F, NULL);
}

TEST(http_server_close_ends_streams_and_waits)
{
    fx_start(&F, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    struct result res;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", F.port);
    start_call(cl, "GET", url, NULL, &res);
    while (res.body.len == 0) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    ek_http_server_close(F.srv, set_flag, &F.closed);
    ek_test_run_until(&F.loop, &res.done, 5000);
    ASSERT_NOT_NULL(res.err); /* the stream ended without its last chunk */
    ASSERT_EQ(F.on_close_fired, 1);
    ek_test_run_until(&F.loop, &F.closed, 5000);
    result_free(&res);
    bool freed = false;
    ek_http_client_free(cl, set_flag, &freed);
    uv_close((uv_handle_t *)&F.timer, NULL);
    ek_test_run_until(&F.loop, &freed, 5000);
    ek_test_loop_finish(&F.loop);
}

TEST(http_client_timeout_cancel_and_refused)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    fx_start(&F, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hold", F.port);
    struct result res;
    memset(&res, 0, sizeof(res));
    ek_http_call_options_t o = { .method = "GET", .url = url, .timeout_ms = 150 };
    ek_error_t *err = NULL;
    uint64_t t0 = now_ms();
    ASSERT_NOT_NULL(ek_http_call(cl, &o, &result_cbs, &res, &err));
    ek_test_run_until(&F.loop, &res.done, 5000);
    ASSERT_EQ(res.errnum, ETIMEDOUT);
    ASSERT_CMP(now_ms() - t0, >=, 140);
    result_free(&res);
    while (F.on_close_fired < 1) {
        uv_run(&F.loop, UV_RUN_ONCE); /* the server noticed the client went away */
    }
    ek_http_call_t *call = start_call(cl, "GET", url, NULL, &res);
    while (!F.held) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    ek_http_call_cancel(call);
    ASSERT_TRUE(res.done);
    ASSERT_EQ(res.errnum, ECANCELED);
    result_free(&res);
    /* Nothing listens there (the port of a closed listener is free; use port 1). */
    ek_http_call_options_t o2 = { .url = "http://127.0.0.1:1/", .timeout_ms = 2000 };
    ASSERT_NOT_NULL(ek_http_call(cl, &o2, &result_cbs, &res, &err));
    ek_test_run_until(&F.loop, &res.done, 5000);
    ASSERT_EQ(res.errnum, ECONNREFUSED);
    result_free(&res);
    /* A bad URL fails at once with no callback. */
    ek_http_call_options_t o3 = { .url = "ftp://x/" };
    ASSERT_TRUE(ek_http_call(cl, &o3, &result_cbs, &res, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "only http and https");
    ek_error_clear(&err);
    fx_stop(&F, cl);
}

static void fetch_thread(void *arg)
{
    struct fx *f = arg;
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?via=fetch", f->port);
    ek_http_call_options_t o = { .method = "POST", .url = url, .body = "abc", .body_len = 3 };
    ek_buf_t body;
    ek_error_t *err = NULL;
    int status = ek_http_fetch(&o, &body, &err);
    ASSERT_EQ(status, 200);
    ASSERT_CONTAINS(body.data, "POST /echo q=via=fetch len=3");
    ek_buf_free(&body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hold", f->port);
    ek_http_call_options_t o2 = { .url = url, .timeout_ms = 100 };
    ASSERT_EQ(ek_http_fetch(&o2, &body, &err), -1);
    ASSERT_EQ(err->errnum, ETIMEDOUT);
    ek_error_free(err);
}

TEST(http_fetch_blocking)
{
    fx_start(&F, NULL);
    ek_test_run_thread(&F.loop, fetch_thread, &F);
    fx_stop(&F, NULL);
}

/* ---- TLS ---- */

struct pki {
    ek_test_cert_t ca, server, client, other_ca, stranger, sni_api, sni_wild;
};

static void make_pki(struct pki *p)
{
    ek_test_make_ca(&p->ca, "CN=edgek-test-ca");
    ek_test_make_cert(&p->server, &p->ca, "CN=edgek-server", "DNS:localhost,IP:127.0.0.1");
    ek_test_make_cert(&p->client, &p->ca, "CN=alice,O=system:masters,O=dev", NULL);
    ek_test_make_ca(&p->other_ca, "CN=other-ca");
    ek_test_make_cert(&p->stranger, &p->other_ca, "CN=mallory,O=system:masters", NULL);
    ek_test_make_cert(&p->sni_api, &p->ca, "CN=api", "DNS:api.example");
    ek_test_make_cert(&p->sni_wild, &p->ca, "CN=wild", "DNS:*.apps.example");
}

static void free_pki(struct pki *p)
{
    ek_test_cert_free(&p->ca);
    ek_test_cert_free(&p->server);
    ek_test_cert_free(&p->client);
    ek_test_cert_free(&p->other_ca);
    ek_test_cert_free(&p->stranger);
    ek_test_cert_free(&p->sni_api);
    ek_test_cert_free(&p->sni_wild);
}

static ek_tls_config_t *server_tls(struct pki *p, ek_tls_client_cert_mode_t mode)
{
    ek_error_t *err = NULL;
    ek_tls_config_t *cfg =
        ek_tls_server_config_new(p->server.cert_pem, p->server.key_pem, p->ca.cert_pem, mode, &err);
    ASSERT_NOT_NULL(cfg);
    return cfg;
}

static ek_tls_config_t *client_tls(const char *ca, const ek_test_cert_t *cert)
{
    ek_error_t *err = NULL;
    ek_tls_config_t *cfg = ek_tls_client_config_new(ca, cert ? cert->cert_pem : NULL,
                                                    cert ? cert->key_pem : NULL, false, &err);
    if (!cfg) {
        fprintf(stderr, "%s\n", ek_error_msg(err));
    }
    ASSERT_NOT_NULL(cfg);
    return cfg;
}

TEST(tls_config_errors)
{
    struct pki p;
    make_pki(&p);
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_tls_server_config_new("junk", p.server.key_pem, NULL, EK_TLS_CLIENT_CERT_NONE,
                                         &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "parse certificate");
    ek_error_clear(&err);
    ASSERT_TRUE(ek_tls_server_config_new(p.server.cert_pem, p.client.key_pem, NULL,
                                         EK_TLS_CLIENT_CERT_NONE, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "does not match");
    ek_error_clear(&err);
    ASSERT_TRUE(ek_tls_server_config_new(p.server.cert_pem, p.server.key_pem, NULL,
                                         EK_TLS_CLIENT_CERT_REQUIRED, &err) == NULL);
    ek_error_clear(&err);
    ek_tls_config_t *cfg = server_tls(&p, EK_TLS_CLIENT_CERT_NONE);
    ASSERT_EQ(ek_tls_server_config_add_sni(cfg, "x", "bad", "bad", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "SNI certificate for `x`");
    ek_error_clear(&err);
    /* Each side refuses the other's config. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    ek_tls_config_t *ccfg = client_tls(p.ca.cert_pem, NULL);
    ek_http_server_t *srv = NULL;
    ek_http_server_options_t o = { .host = "127.0.0.1", .tls = ccfg, .handler = handler };
    ASSERT_EQ(ek_http_server_start(&loop, &o, &srv, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "a client TLS config");
    ek_error_clear(&err);
    ek_http_client_t *cl = ek_http_client_new(&loop, cfg);
    struct result res;
    ek_http_call_options_t co = { .url = "https://127.0.0.1:1/" };
    ASSERT_TRUE(ek_http_call(cl, &co, &result_cbs, &res, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "a server TLS config");
    ek_error_clear(&err);
    ek_http_client_free(cl, NULL, NULL);
    ek_test_loop_finish(&loop);
    ek_tls_config_unref(ccfg);
    ek_tls_config_unref(cfg);
    free_pki(&p);
}

TEST(https_client_cert_identity_and_keepalive)
{
    struct pki p;
    make_pki(&p);
    fx_start(&F, server_tls(&p, EK_TLS_CLIENT_CERT_OPTIONAL));
    ek_tls_config_t *with_cert = client_tls(p.ca.cert_pem, &p.client);
    ek_tls_config_t *anonymous = client_tls(p.ca.cert_pem, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, with_cert);
    struct result res;
    for (int i = 0; i < 10; i++) {
        do_call(&F, cl, "GET", "/peer", NULL, &res);
        ASSERT_TRUE(res.err == NULL);
        ASSERT_STREQ(res.body.data, "cn=alice o=system:masters,dev");
        result_free(&res);
    }
    ASSERT_EQ(F.n_remotes, 1); /* one TLS connection served all ten */
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/peer", F.port);
    ek_http_call_options_t o = { .url = url, .tls = anonymous, .timeout_ms = 5000 };
    ek_error_t *err = NULL;
    memset(&res, 0, sizeof(res));
    ASSERT_NOT_NULL(ek_http_call(cl, &o, &result_cbs, &res, &err));
    ek_test_run_until(&F.loop, &res.done, 5000);
    ASSERT_STREQ(res.body.data, "none");
    result_free(&res);
    ASSERT_EQ(F.n_remotes, 2); /* another TLS config, another connection */
    do_call(&F, cl, "POST", "/echo", "over tls", &res);
    ASSERT_CONTAINS(res.body.data, "len=8 foo=bar\nover tls");
    result_free(&res);
    do_call(&F, cl, "GET", "/big", NULL, &res);
    ASSERT_EQ(res.body.len, 1024 * 1024);
    result_free(&res);
    do_call(&F, cl, "GET", "/slow", NULL, &res);
    ASSERT_CONTAINS(res.body.data, "tick-49\n");
    result_free(&res);
    ek_tls_config_unref(with_cert);
    ek_tls_config_unref(anonymous);
    fx_stop(&F, cl);
    free_pki(&p);
}

static void https_expect_failure(struct fx *f, ek_http_client_t *cl, ek_tls_config_t *tls,
                                 const char *want)
{
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/peer", f->port);
    ek_http_call_options_t o = { .url = url, .tls = tls, .timeout_ms = 5000 };
    ek_error_t *err = NULL;
    struct result res;
    memset(&res, 0, sizeof(res));
    ASSERT_NOT_NULL(ek_http_call(cl, &o, &result_cbs, &res, &err));
    ek_test_run_until(&f->loop, &res.done, 5000);
    ASSERT_NOT_NULL(res.err);
    if (want) {
        ASSERT_CONTAINS(res.err, want);
    }
    ASSERT_EQ(res.status, 0);
    result_free(&res);
}

TEST(https_client_cert_required_and_untrusted)
{
    struct pki p;
    make_pki(&p);
    fx_start(&F, server_tls(&p, EK_TLS_CLIENT_CERT_REQUIRED));
    ek_tls_config_t *good = client_tls(p.ca.cert_pem, &p.client);
    ek_tls_config_t *none = client_tls(p.ca.cert_pem, NULL);
    ek_tls_config_t *stranger = client_tls(p.ca.cert_pem, &p.stranger);
    ek_tls_config_t *wrong_ca = client_tls(p.other_ca.cert_pem, &p.client);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, good);
    https_expect_failure(&F, cl, none, NULL);
    https_expect_failure(&F, cl, stranger, NULL);
    https_expect_failure(&F, cl, wrong_ca, "verification failed");
    struct result res;
    do_call(&F, cl, "GET", "/peer", NULL, &res);
    ASSERT_STREQ(res.body.data, "cn=alice o=system:masters,dev");
    result_free(&res);
    ASSERT_EQ(F.requests, 1);
    ek_tls_config_unref(good);
    ek_tls_config_unref(none);
    ek_tls_config_unref(stranger);
    ek_tls_config_unref(wrong_ca);
    fx_stop(&F, cl);
    free_pki(&p);
}

TEST(https_server_cert_must_name_the_ip)
{
    struct pki p;
    make_pki(&p);
    ek_test_cert_t dns_only;
    ek_test_make_cert(&dns_only, &p.ca, "CN=edgek-server", "DNS:localhost");
    ek_error_t *err = NULL;
    ek_tls_config_t *stls = ek_tls_server_config_new(dns_only.cert_pem, dns_only.key_pem, NULL,
                                                     EK_TLS_CLIENT_CERT_NONE, &err);
    ASSERT_NOT_NULL(stls);
    fx_start(&F, stls);
    ek_tls_config_t *ctls = client_tls(p.ca.cert_pem, NULL);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, ctls);
    https_expect_failure(&F, cl, NULL, "not valid for this IP address");
    /* Skipping verification reaches the handler (and yields no peer identity). */
    ek_tls_config_t *insecure = ek_tls_client_config_new(NULL, NULL, NULL, true, &err);
    ASSERT_NOT_NULL(insecure);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/peer", F.port);
    ek_http_call_options_t o = { .url = url, .tls = insecure, .timeout_ms = 5000 };
    struct result res;
    memset(&res, 0, sizeof(res));
    ASSERT_NOT_NULL(ek_http_call(cl, &o, &result_cbs, &res, &err));
    ek_test_run_until(&F.loop, &res.done, 5000);
    ASSERT_EQ(res.status, 200);
    result_free(&res);
    ASSERT_EQ(F.requests, 1);
    ek_tls_config_unref(insecure);
    ek_tls_config_unref(ctls);
    fx_stop(&F, cl);
    ek_test_cert_free(&dns_only);
    free_pki(&p);
}

TEST(https_optional_mode_rejects_unverifiable_cert)
{
    struct pki p;
    make_pki(&p);
    fx_start(&F, server_tls(&p, EK_TLS_CLIENT_CERT_OPTIONAL));
    ek_tls_config_t *stranger = client_tls(p.ca.cert_pem, &p.stranger);
    ek_http_client_t *cl = ek_http_client_new(&F.loop, NULL);
    https_expect_failure(&F, cl, stranger, NULL);
    ASSERT_EQ(F.requests, 0);
    ek_tls_config_unref(stranger);
    fx_stop(&F, cl);
    free_pki(&p);
}

struct garbage_ctx {
    struct fx *f;
    ek_tls_config_t *client;
};

static void raw_tls_garbage(void *arg)
{
    struct garbage_ctx *g = arg;
    /* A good connection first, kept open across the garbage. */
    ek_test_client_t good;
    ASSERT_EQ(ek_test_client_open(&good, g->f->port, g->client, NULL), 0);
    for (int round = 0; round < 3; round++) {
        ek_test_client_t bad;
        ek_test_client_open(&bad, g->f->port, NULL, NULL);
        static const char junk[] = "\x16\x03\x01\x00\x05hello-this-is-not-a-client-hello"
                                   "GET / HTTP/1.1\r\n\r\n";
        ek_test_client_send(&bad, junk, sizeof(junk) - 1);
        size_t n;
        ek_autofree char *got = ek_test_client_read_all(&bad, &n, 5000);
        /* At most a TLS alert comes back, then the server closes. */
        ASSERT_CMP(n, <, 16);
        ek_test_client_close(&bad);
        ek_test_client_open(&bad, g->f->port, NULL, NULL);
        ek_test_client_sends(&bad, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); /* plain HTTP */
        ek_autofree char *got2 = ek_test_client_read_all(&bad, &n, 5000);
        ASSERT_TRUE(strstr(got2, "HTTP/1.1") == NULL);
        ek_test_client_close(&bad);
    }
    ek_test_client_sends(&good, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&good, &r, 5000), 0);
    ASSERT_EQ(r.status, 200);
    ek_test_response_free(&r);
    ek_test_client_close(&good);
    /* And a new TLS connection still works. */
    ASSERT_EQ(ek_test_client_open(&good, g->f->port, g->client, NULL), 0);
    ek_test_client_sends(&good, "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(ek_test_client_response(&good, &r, 5000), 0);
    ASSERT_STREQ(r.body.data, "cn=alice o=system:masters,dev");
    ek_test_response_free(&r);
    ek_test_client_close(&good);
}

TEST(https_garbage_handshake_closes_only_that_connection)
{
    struct pki p;
    make_pki(&p);
    fx_start(&F, server_tls(&p, EK_TLS_CLIENT_CERT_OPTIONAL));
    struct garbage_ctx g = { &F, client_tls(p.ca.cert_pem, &p.client) };
    ek_test_run_thread(&F.loop, raw_tls_garbage, &g);
    ASSERT_EQ(F.requests, 2);
    ek_tls_config_unref(g.client);
    fx_stop(&F, NULL);
    free_pki(&p);
}

static void raw_sni(void *arg)
{
    struct garbage_ctx *g = arg;
    static const struct {
        const char *name;
        const char *cn; /* NULL: the default certificate, not valid for this name */
    } cases[] = {
        { "api.example", "api" },        { "API.Example", "api" },     { "x.apps.example", "wild" },
        { "localhost", "edgek-server" }, { "a.b.apps.example", NULL }, { "other.example", NULL },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_test_client_t c;
        int r = ek_test_client_open(&c, g->f->port, g->client, cases[i].name);
        if (cases[i].cn) {
            ASSERT_EQ(r, 0);
            const ek_tls_peer_t *peer = ek_tls_peer(c.tls);
            ASSERT_NOT_NULL(peer);
            ASSERT_STREQ(peer->common_name, cases[i].cn);
        } else {
            ASSERT_EQ(r, -1);
        }
        ek_test_client_close(&c);
    }
}

TEST(https_sni_picks_certificate)
{
    struct pki p;
    make_pki(&p);
    ek_tls_config_t *srv = server_tls(&p, EK_TLS_CLIENT_CERT_NONE);
    ek_error_t *err = NULL;
    ASSERT_OK(ek_tls_server_config_add_sni(srv, "api.example", p.sni_api.cert_pem,
                                           p.sni_api.key_pem, &err),
              &err);
    ASSERT_OK(ek_tls_server_config_add_sni(srv, "*.apps.example", p.sni_wild.cert_pem,
                                           p.sni_wild.key_pem, &err),
              &err);
    fx_start(&F, srv);
    struct garbage_ctx g = { &F, client_tls(p.ca.cert_pem, NULL) };
    ek_test_run_thread(&F.loop, raw_sni, &g);
    ek_tls_config_unref(g.client);
    fx_stop(&F, NULL);
    free_pki(&p);
}

/* ---- throughput sample ---- */

struct bench {
    struct fx *f;
    ek_http_client_t *cl;
    int started, finished, failed, target;
    char url[128];
    bool all_done;
};

static void bench_next(struct bench *b);

static void bench_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    struct bench *b = user;
    b->finished++;
    b->failed += err != NULL;
    if (b->started < b->target) {
        bench_next(b);
    } else if (b->finished == b->target) {
        b->all_done = true;
    }
}

static void bench_next(struct bench *b)
{
    static const ek_http_call_callbacks_t cbs = { NULL, NULL, bench_done };
    static const char body[] = "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"}}";
    ek_http_call_options_t o = {
        .method = "POST", .url = b->url, .body = body, .body_len = sizeof(body) - 1
    };
    ek_error_t *err = NULL;
    b->started++;
    ASSERT_NOT_NULL(ek_http_call(b->cl, &o, &cbs, b, &err));
}

TEST_T(https_keepalive_throughput_sample, 120)
{
    ek_test_native_only("a throughput sample with deadlines; emulation is ~20x slower");
    struct pki p;
    make_pki(&p);
    fx_start(&F, server_tls(&p, EK_TLS_CLIENT_CERT_OPTIONAL));
    ek_tls_config_t *ctls = client_tls(p.ca.cert_pem, &p.client);
    struct bench b = { .f = &F, .target = 4000 };
    b.cl = ek_http_client_new(&F.loop, ctls);
    snprintf(b.url, sizeof(b.url), "https://127.0.0.1:%d/echo", F.port);
    uint64_t t0 = now_ms();
    for (int i = 0; i < 16; i++) {
        bench_next(&b);
    }
    ek_test_run_until(&F.loop, &b.all_done, 100000);
    uint64_t dt = now_ms() - t0;
    ASSERT_EQ(b.failed, 0);
    ASSERT_EQ(F.requests, b.target);
    ASSERT_CMP(F.n_remotes, <=, 16); /* 16 concurrent callers, 16 connections at most */
    printf("# https keep-alive POST: %d requests, 16 concurrent, %llu ms, %.0f req/s "
           "(client and server share one loop; sanitizer build)\n",
           b.target, (unsigned long long)dt, b.target * 1000.0 / (double)(dt ? dt : 1));
    ek_tls_config_unref(ctls);
    fx_stop(&F, b.cl);
    free_pki(&p);
}

static void raw_many_idle(void *arg)
{
    struct fx *f = arg;
    enum { N = 400 };
    static ek_test_client_t c[N];
    for (int i = 0; i < N; i++) {
        ek_test_client_open(&c[i], f->port, NULL, NULL);
    }
    /* Every one of them still answers. */
    for (int i = 0; i < N; i += 37) {
        ek_test_client_sends(&c[i], "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
        ek_test_response_t r;
        ASSERT_EQ(ek_test_client_response(&c[i], &r, 5000), 0);
        ek_test_response_free(&r);
    }
    for (int i = 0; i < N; i++) {
        ek_test_client_close(&c[i]);
    }
}

TEST(http_many_idle_connections)
{
    fx_start(&F, NULL);
    ek_test_run_thread(&F.loop, raw_many_idle, &F);
    ASSERT_EQ(F.n_remotes, 11);
    while (ek_http_server_connections(F.srv) > 0) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    fx_stop(&F, NULL);
}

/* ---- the client against a scripted server ---- */

struct script_server {
    int lfd;
    int connections;
};

static int accept_one(struct script_server *s)
{
    int fd = accept(s->lfd, NULL, NULL);
    ASSERT_CMP(fd, >=, 0);
    s->connections++;
    return fd;
}

/* Reads one request head (these requests carry no body). */
static void read_head(int fd)
{
    char buf[4096];
    size_t have = 0;
    while (have < 4 || memcmp(buf + have - 4, "\r\n\r\n", 4) != 0) {
        ssize_t n = recv(fd, buf + have, 1, 0);
        ASSERT_EQ(n, 1);
        have++;
        ASSERT_CMP(have, <, sizeof(buf));
    }
}

static void say(int fd, const char *s)
{
    ASSERT_EQ(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void *scripted_server(void *arg)
{
    struct script_server *s = arg;
    int fd = accept_one(s);
    /* 1: an interim 100, a chunked body and a trailer; the connection stays. */
    read_head(fd);
    say(fd, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            "X-Test: a\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: z\r\n\r\n");
    /* 2: same connection; a body that ends with the connection. */
    read_head(fd);
    say(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil-eof");
    close(fd);
    /* 3: a new connection closed without an answer. */
    fd = accept_one(s);
    read_head(fd);
    close(fd);
    /* 4: answer, then drop the kept-alive connection when the next request comes: the client
     * retries the GET once on a new connection. */
    fd = accept_one(s);
    read_head(fd);
    say(fd, "HTTP/1.1 204 No Content\r\n\r\n");
    read_head(fd);
    close(fd);
    fd = accept_one(s);
    read_head(fd);
    say(fd, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nretried");
    /* 5: garbage. */
    read_head(fd);
    say(fd, "SPDY/3 what is this\r\n\r\n");
    close(fd);
    return NULL;
}

static void call_and_wait(uv_loop_t *loop, ek_http_client_t *cl, int port, struct result *res)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    start_call(cl, "GET", url, NULL, res);
    ek_test_run_until(loop, &res->done, 10000);
}

TEST(http_client_against_scripted_server)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct script_server s = { .lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ASSERT_EQ(bind(s.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t slen = sizeof(sin);
    getsockname(s.lfd, (struct sockaddr *)&sin, &slen);
    ASSERT_EQ(listen(s.lfd, 8), 0);
    int port = ntohs(sin.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, scripted_server, &s);
    ek_http_client_t *cl = ek_http_client_new(&loop, NULL);
    struct result res;
    call_and_wait(&loop, cl, port, &res);
    ASSERT_TRUE(res.err == NULL);
    ASSERT_EQ(res.status, 200);
    ASSERT_STREQ(res.x_test, "a");
    ASSERT_STREQ(res.body.data, "hello");
    result_free(&res);
    ASSERT_EQ(ek_http_client_idle_connections(cl), 1);
    call_and_wait(&loop, cl, port, &res);
    ASSERT_TRUE(res.err == NULL);
    ASSERT_STREQ(res.body.data, "until-eof");
    result_free(&res);
    ASSERT_EQ(ek_http_client_idle_connections(cl), 0);
    call_and_wait(&loop, cl, port, &res);
    ASSERT_CONTAINS(res.err, "connection closed before the response ended");
    result_free(&res);
    call_and_wait(&loop, cl, port, &res);
    ASSERT_EQ(res.status, 204);
    result_free(&res);
    call_and_wait(&loop, cl, port, &res);
    ASSERT_TRUE(res.err == NULL);
    ASSERT_STREQ(res.body.data, "retried");
    result_free(&res);
    call_and_wait(&loop, cl, port, &res);
    ASSERT_CONTAINS(res.err, "bad HTTP response");
    result_free(&res);
    pthread_join(th, NULL);
    ASSERT_EQ(s.connections, 4); /* the garbage came on the retry's kept-alive connection */
    close(s.lfd);
    bool freed = false;
    ek_http_client_free(cl, set_flag, &freed);
    ek_test_run_until(&loop, &freed, 5000);
    ek_test_loop_finish(&loop);
}

struct flood_ctx {
    struct fx *f;
    ek_tls_config_t *client;
};

static void raw_slow_reader(void *arg)
{
    struct flood_ctx *x = arg;
    ek_test_client_t c;
    ASSERT_EQ(ek_test_client_open(&c, x->f->port, x->client, NULL), 0);
    ek_test_client_sends(&c, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
    char buf[4096];
    ASSERT_CMP(ek_test_client_recv(&c, buf, sizeof(buf), 5000), >, 0);
    usleep(400 * 1000); /* read nothing more: the server's queue grows */
    ek_test_client_close(&c);
}

static void slow_reader_case(ek_tls_config_t *stls, ek_tls_config_t *ctls)
{
    fx_start(&F, stls);
    struct flood_ctx x = { &F, ctls };
    ek_test_run_thread(&F.loop, raw_slow_reader, &x);
    while (F.on_close_fired < 1) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    /* The kernel buffers took some; the rest waited in our queue and was freed on close. */
    ASSERT_CMP(F.max_pending, >, 1024 * 1024);
    ASSERT_TRUE(F.slow == NULL);
    fx_stop(&F, NULL);
}

TEST(http_slow_reader_backpressure_plain_and_tls)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    slow_reader_case(NULL, NULL);
    struct pki p;
    make_pki(&p);
    ek_tls_config_t *ctls = client_tls(p.ca.cert_pem, NULL);
    slow_reader_case(server_tls(&p, EK_TLS_CLIENT_CERT_NONE), ctls);
    ek_tls_config_unref(ctls);
    free_pki(&p);
}

static void raw_upgrade_script(void *arg)
{
    struct fx *f = arg;
    ek_test_client_t c;
    ek_test_client_open(&c, f->port, NULL, NULL);
    /* The first bytes of the new protocol ride along with the request head. */
    ek_test_client_sends(&c, "POST /raw HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                             "Upgrade: SPDY/3.1\r\n\r\nhello ");
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
    ASSERT_EQ(r.status, 101);
    ASSERT_CONTAINS(r.head, "Upgrade: SPDY/3.1");
    ASSERT_CONTAINS(r.head, "X-Stream-Protocol-Version: portforward.k8s.io");
    ek_test_response_free(&r);
    char buf[6];
    ek_test_client_read_n(&c, buf, 6);
    ASSERT_TRUE(memcmp(buf, "HELLO ", 6) == 0);
    ek_test_client_sends(&c, "world bye");
    size_t n;
    ek_autofree char *rest = ek_test_client_read_all(&c, &n, 5000);
    ASSERT_STREQ(rest, "WORLD BYE");
    ek_test_client_close(&c);
}

TEST(http_raw_upgrade_carries_early_bytes)
{
    fx_start(&F, NULL);
    ek_test_run_thread(&F.loop, raw_upgrade_script, &F);
    while (F.raw_closed < 1) {
        uv_run(&F.loop, UV_RUN_ONCE);
    }
    ASSERT_STREQ(F.raw_seen.data, "hello world bye");
    ek_buf_free(&F.raw_seen);
    fx_stop(&F, NULL);
}
