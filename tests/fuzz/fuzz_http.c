/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes as what a client sends to the HTTP server. Each input is
 * written into one end of a socketpair whose other end the server adopts, so the whole
 * request path runs: parsing, limits, pipelining, the handler's answers (whole, streamed,
 * upgraded to a raw stream or a WebSocket that echoes), and the connection's close. The
 * server lives across inputs; after each one it must be back to zero connections.
 *
 * An input starting with 0xFF is instead what a server answers to the HTTP client: the
 * client adopts the socketpair as a pooled connection, sends a POST and must finish the call
 * exactly once, whatever comes back.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "lib/http-internal.h"
#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t *loop;
static ek_http_server_t *server;

static void raw_data(ek_conn_t *c, char *data, size_t len, void *user)
{
    ek_conn_write(c, data, len);
    if (len > 0 && data[0] == 'q') {
        ek_conn_close(c);
    }
}

static void raw_close(ek_conn_t *c, void *user)
{
}

static void ws_message(ek_ws_t *ws, uint8_t opcode, const char *data, size_t len, void *user)
{
    if (len > 0 && data[0] == 'q') {
        ek_ws_close(ws, EK_WS_CLOSE_NORMAL, "bye");
    } else {
        ek_ws_send_prefixed(ws, opcode, 1, data, len);
    }
}

static void ws_close(ek_ws_t *ws, uint16_t code, const char *reason, void *user)
{
}

static void answer(ek_http_req_t *r)
{
    ek_autofree char *v = ek_http_query_get(r->query, "v");
    const char *h = ek_http_req_header(r, "x-h");
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_printf(&b, "%s %s %s %zu %s\n", r->method, r->path, v ? v : "-", r->body_len,
                  h ? h : "-");
    ek_http_add_header(r, "X-Echo", r->target);
    if (ek_has_prefix(r->path, "/stream")) {
        ek_http_stream_begin(r, 200, "text/plain");
        ek_http_stream_write(r, b.data, b.len);
        ek_http_stream_write(r, r->body, r->body_len);
        ek_http_stream_end(r);
    } else if (b.len % 2) {
        ek_http_respond(r, 200, "text/plain", b.data, b.len);
    } else {
        ek_http_respond_buf(r, 201, "text/plain", &b);
    }
}

static void handler(ek_http_req_t *r, void *data)
{
    if (strcmp(r->path, "/raw") == 0) {
        static const ek_conn_callbacks_t cb = { raw_data, raw_close };
        ek_http_upgrade(r, "raw", &cb, NULL);
    } else if (strcmp(r->path, "/ws") == 0) {
        static const char *const protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
        ek_ws_options_t o = { .protocols = protos, .max_message = 1024 };
        static const ek_ws_callbacks_t cb = { ws_message, ws_close };
        ek_error_t *err = NULL;
        if (!ek_ws_accept(r, &o, &cb, NULL, &err)) {
            if (err->status) {
                ek_http_respond(r, err->status, "text/plain", ek_error_msg(err),
                                strlen(ek_error_msg(err)));
            }
            ek_error_free(err);
        }
    } else {
        answer(r);
    }
}

static void setup(void)
{
    ek_log_configure("error", NULL);
    loop = ek_xmalloc(sizeof(*loop));
    uv_loop_init(loop);
    ek_http_server_options_t o = {
        .host = "127.0.0.1",
        .max_header_bytes = 2048,
        .max_body_bytes = 4096,
        .handler = handler,
    };
    ek_error_t *err = NULL;
    if (ek_http_server_start(loop, &o, &server, &err) < 0) {
        abort();
    }
}

struct client_run {
    int done;
    size_t body;
    bool freed;
};

static void c_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    ((struct client_run *)user)->body += len;
}

static void c_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    ((struct client_run *)user)->done++;
}

static void c_freed(void *user)
{
    ((struct client_run *)user)->freed = true;
}

static void send_all(int fd, const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
}

static void fuzz_client(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    ek_http_client_t *cl = ek_http_client_new(loop, NULL);
    ek_error_t *err = NULL;
    if (ek__http_client_adopt(cl, sv[0], "127.0.0.1", 9, &err) < 0) {
        abort();
    }
    struct client_run run = { 0 };
    static const ek_http_call_callbacks_t cbs = { NULL, c_body, c_done };
    /* POST: not idempotent, so a failure is never retried on a real connection. */
    ek_http_call_options_t o = {
        .method = "POST", .url = "http://127.0.0.1:9/x", .body = "b", .body_len = 1
    };
    if (!ek_http_call(cl, &o, &cbs, &run, &err)) {
        abort();
    }
    send_all(sv[1], data, size);
    shutdown(sv[1], SHUT_WR);
    char sink[4096];
    while (!run.done) {
        uv_run(loop, UV_RUN_NOWAIT);
        while (recv(sv[1], sink, sizeof(sink), 0) > 0) {
        }
    }
    ek_http_client_free(cl, c_freed, &run);
    while (!run.freed) {
        uv_run(loop, UV_RUN_NOWAIT);
    }
    ek_assert(run.done == 1);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loop) {
        setup();
    }
    if (size > 0 && data[0] == 0xff) {
        fuzz_client(data + 1, size - 1);
        return 0;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    ek_error_t *err = NULL;
    if (ek__http_server_adopt(server, sv[0], &err) < 0) {
        abort();
    }
    /* The socket buffer takes a whole fuzz input; the peer then half-closes. */
    send_all(sv[1], data, size);
    shutdown(sv[1], SHUT_WR);
    char sink[65536];
    while (ek_http_server_connections(server) > 0) {
        uv_run(loop, UV_RUN_NOWAIT);
        while (recv(sv[1], sink, sizeof(sink), 0) > 0) {
        }
    }
    close(sv[1]);
    return 0;
}
