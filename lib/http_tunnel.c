/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client-side connection upgrades (lib/http.h, ek_http_tunnel_*): one request on a fresh
 * connection (plain or TLS) to a numeric address; a 101 answer turns the connection into a
 * raw byte pipe (how the API server passes exec, attach and port-forward streams on to a
 * kubelet without looking inside them); any other answer is reported with its body and the
 * connection closed. The tunnel is freed after on_close, in its sock's final close callback.
 */
#include <errno.h>
#include <stdio.h>

#include "lib/http-internal.h"
#include "lib/log.h"

#define MAX_HEAD (256 * 1024)

struct ek_http_tunnel {
    ek__sock_t sock;
    uv_connect_t connect_req;
    ek_http_tunnel_callbacks_t cb;
    void *user;
    char *server_name;
    char *rbuf;
    ek_tls_config_t *tls; /* referenced for the sock's lifetime */
    ek_buf_t request;
    http_parser parser;
    ek__hdrs_t hdrs;
    size_t head_bytes;
    bool open;     /* 101 received: raw bytes from here */
    bool finished; /* a non-101 response is complete */
    bool closed;   /* on_close has run */
    bool in_cb;
};

static void finish(ek_http_tunnel_t *t, const char *why)
{
    if (t->closed) {
        return;
    }
    t->closed = true;
    if (t->cb.on_close) {
        t->cb.on_close(t, why, t->user);
    }
    ek__sock_close(&t->sock);
}

static int t_header_field(http_parser *p, const char *at, size_t len)
{
    ek_http_tunnel_t *t = p->data;
    if ((t->head_bytes += len + 4) > MAX_HEAD) {
        return -1;
    }
    ek__hdrs_field(&t->hdrs, at, len);
    return 0;
}

static int t_header_value(http_parser *p, const char *at, size_t len)
{
    ek_http_tunnel_t *t = p->data;
    if ((t->head_bytes += len) > MAX_HEAD) {
        return -1;
    }
    ek__hdrs_value(&t->hdrs, at, len);
    return 0;
}

static int t_headers_complete(http_parser *p)
{
    ek_http_tunnel_t *t = p->data;
    ek__hdrs_finish(&t->hdrs);
    ek_http_response_t resp = { .status = p->status_code,
                                .headers = t->hdrs.list,
                                .n_headers = t->hdrs.n };
    if (p->status_code == 101) {
        t->open = true;
    }
    if (t->cb.on_response) {
        t->cb.on_response(t, &resp, t->user);
    }
    if (t->closed) {
        return -1;
    }
    return p->status_code == 101 ? 1 : 0;
}

static int t_body(http_parser *p, const char *at, size_t len)
{
    ek_http_tunnel_t *t = p->data;
    if (t->cb.on_data) {
        t->cb.on_data(t, (char *)(uintptr_t)at, len, t->user);
    }
    return t->closed ? -1 : 0;
}

static int t_message_complete(http_parser *p)
{
    ek_http_tunnel_t *t = p->data;
    if (!t->open) {
        t->finished = true;
    }
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings tunnel_settings = {
    .on_header_field = t_header_field,
    .on_header_value = t_header_value,
    .on_headers_complete = t_headers_complete,
    .on_body = t_body,
    .on_message_complete = t_message_complete,
};

static void t_on_read(ek__sock_t *s, char *data, size_t len)
{
    ek_http_tunnel_t *t = ek_container_of(s, ek_http_tunnel_t, sock);
    if (t->closed) {
        return;
    }
    if (t->open) {
        t->cb.on_data(t, data, len, t->user);
        return;
    }
    size_t n = http_parser_execute(&t->parser, &tunnel_settings, data, len);
    if (t->closed) {
        return;
    }
    enum http_errno e = HTTP_PARSER_ERRNO(&t->parser);
    if (t->open) {
        if (n < len) {
            t->cb.on_data(t, data + n, len - n, t->user);
        }
        return;
    }
    if (t->finished) {
        finish(t, NULL);
    } else if (e != HPE_OK) {
        finish(t, http_errno_description(e));
    }
}

static void t_on_end(ek__sock_t *s, int uverr, const char *why)
{
    ek_http_tunnel_t *t = ek_container_of(s, ek_http_tunnel_t, sock);
    if (!t->open && !t->closed && uverr == UV_EOF) {
        http_parser_execute(&t->parser, &tunnel_settings, NULL, 0);
        if (t->finished) {
            finish(t, NULL);
            return;
        }
    }
    finish(t, t->open && uverr == UV_EOF ? NULL : why);
}

static void t_send_request(ek_http_tunnel_t *t)
{
    ek__sock_write(&t->sock, t->request.data, t->request.len);
}

static void t_on_handshake(ek__sock_t *s)
{
    t_send_request(ek_container_of(s, ek_http_tunnel_t, sock));
}

static void t_on_closed(ek__sock_t *s)
{
    ek_http_tunnel_t *t = ek_container_of(s, ek_http_tunnel_t, sock);
    ek__hdrs_free(&t->hdrs);
    ek_buf_free(&t->request);
    if (t->tls) {
        ek_tls_config_unref(t->tls);
    }
    free(t->server_name);
    free(t->rbuf);
    free(t);
}

static const ek__sock_ops_t tunnel_ops = {
    .on_read = t_on_read,
    .on_end = t_on_end,
    .on_handshake = t_on_handshake,
    .on_closed = t_on_closed,
};

static void t_connect_cb(uv_connect_t *req, int status)
{
    ek_http_tunnel_t *t = ek_container_of(req, ek_http_tunnel_t, connect_req);
    if (status == UV_ECANCELED || t->closed) {
        return;
    }
    if (status < 0) {
        char why[200];
        snprintf(why, sizeof(why), "connect to %s: %s", t->server_name, uv_strerror(status));
        finish(t, why);
        return;
    }
    uv_tcp_nodelay(&t->sock.tcp, 1);
    ek__sock_read(&t->sock, true);
    if (!t->sock.tls_cfg) {
        t_send_request(t);
        return;
    }
    ek_error_t *err = NULL;
    if (ek__sock_tls_connect(&t->sock, t->server_name, &err) < 0) {
        finish(t, ek_error_msg(err));
        ek_error_free(err);
    }
}

ek_http_tunnel_t *ek_http_tunnel_open(uv_loop_t *loop, ek_tls_config_t *tls, const char *host,
                                      int port, const char *head,
                                      const ek_http_tunnel_callbacks_t *cb, void *user,
                                      ek_error_t **err)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        ek_error_make(err, EINVAL, "tunnel: `%s` is not a numeric address", host);
        return NULL;
    }
    ek__http_parser_global_init();
    ek_http_tunnel_t *t = ek_new(ek_http_tunnel_t);
    t->cb = *cb;
    t->user = user;
    t->server_name = ek_xstrdup(host);
    t->rbuf = ek_xmalloc(EK__SOCK_RBUF_SIZE);
    ek_buf_puts(&t->request, head);
    http_parser_init(&t->parser, HTTP_RESPONSE);
    t->parser.data = t;
    t->tls = tls ? ek_tls_config_ref(tls) : NULL;
    ek__sock_init(&t->sock, loop, &tunnel_ops, t->rbuf, tls);
    int r = uv_tcp_connect(&t->connect_req, &t->sock.tcp, (struct sockaddr *)&ss, t_connect_cb);
    if (r < 0) {
        ek_error_make(err, -r, "connect to %s:%d", host, port);
        t->closed = true;
        ek__sock_close(&t->sock);
        return NULL;
    }
    return t;
}

int ek_http_tunnel_write(ek_http_tunnel_t *t, const void *data, size_t len)
{
    if (t->closed || !t->open) {
        return -1;
    }
    return ek__sock_write(&t->sock, data, len);
}

size_t ek_http_tunnel_pending(const ek_http_tunnel_t *t)
{
    return t->sock.pending;
}

void ek_http_tunnel_pause(ek_http_tunnel_t *t, bool paused)
{
    if (!t->closed) {
        ek__sock_read(&t->sock, !paused);
    }
}

void ek_http_tunnel_close(ek_http_tunnel_t *t)
{
    if (t->closed) {
        return;
    }
    t->closed = true;
    ek__sock_close_graceful(&t->sock);
}
