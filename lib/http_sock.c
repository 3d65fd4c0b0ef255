/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The byte transport under both HTTP sides and upgraded connections: a libuv TCP stream,
 * optionally wrapped in a TLS session, plus one timer its owner uses for timeouts.
 *
 * Why it looks like this: per-connection memory must stay small for thousands of idle
 * connections, so reads go to a buffer shared by all streams of a server or client, the TLS
 * session (mbedtls allocates ~34 KiB of record buffers) is created on the first byte, and
 * writes go through uv_try_write first so that bodies are copied only when the kernel cannot
 * take them at once. Ciphertext produced by mbedtls is handed to uv_write without copying.
 * Memory: the owner embeds the sock and frees it in ops->on_closed, after both handles
 * closed; write requests are freed in their own callbacks, which libuv runs before that.
 */
#include <errno.h>

#include "lib/http-internal.h"
#include "lib/log.h"

#define MAX_BUFS 8

struct wreq {
    uv_write_t req;
    size_t len;
    unsigned n_own;
    void *own[MAX_BUFS * 2];
};

static void end_stream(ek__sock_t *s, int uverr, const char *why)
{
    if (s->mode == EK__SOCK_OPEN) {
        s->ops->on_end(s, uverr, why);
    } else if (s->mode == EK__SOCK_GRACEFUL) {
        ek__sock_close(s);
    }
}

static void handle_closed(uv_handle_t *h)
{
    ek__sock_t *s = h->data;
    if (--s->open_handles > 0) {
        return;
    }
    ek_tls_session_free(s->tls);
    s->tls = NULL;
    s->ops->on_closed(s);
}

void ek__sock_init(ek__sock_t *s, uv_loop_t *loop, const ek__sock_ops_t *ops, char *rbuf,
                   ek_tls_config_t *tls_cfg)
{
    uv_tcp_init(loop, &s->tcp);
    uv_timer_init(loop, &s->timer);
    s->tcp.data = s;
    s->timer.data = s;
    s->open_handles = 2;
    s->ops = ops;
    s->rbuf = rbuf;
    s->tls_cfg = tls_cfg;
    s->mode = EK__SOCK_OPEN;
}

void ek__sock_close(ek__sock_t *s)
{
    if (s->mode == EK__SOCK_CLOSING) {
        return;
    }
    s->mode = EK__SOCK_CLOSING;
    s->reading = false;
    uv_close((uv_handle_t *)&s->tcp, handle_closed);
    uv_close((uv_handle_t *)&s->timer, handle_closed);
}

/* ---- writing ---- */

static void write_cb(uv_write_t *req, int status)
{
    struct wreq *w = ek_container_of(req, struct wreq, req);
    ek__sock_t *s = req->handle->data;
    s->pending -= w->len;
    for (unsigned i = 0; i < w->n_own; i++) {
        free(w->own[i]);
    }
    free(w);
    if (status < 0) {
        end_stream(s, status, uv_strerror(status));
        return;
    }
    if (s->pending == 0 && s->mode == EK__SOCK_OPEN && s->ops->on_drain) {
        s->ops->on_drain(s);
    }
}

static bool is_owned(const void *base, void *const *own, unsigned n_own)
{
    for (unsigned i = 0; i < n_own; i++) {
        if (own[i] == base) {
            return true;
        }
    }
    return false;
}

static void free_owned(void *const *own, unsigned n_own)
{
    for (unsigned i = 0; i < n_own; i++) {
        free(own[i]);
    }
}

/* Writes bytes as they are (plaintext, or ciphertext already produced). */
static int raw_writev(ek__sock_t *s, const uv_buf_t *bufs, unsigned n, void *const *own,
                      unsigned n_own)
{
    ek_assert(n <= MAX_BUFS && n_own <= MAX_BUFS);
    size_t total = 0, done = 0;
    for (unsigned i = 0; i < n; i++) {
        total += bufs[i].len;
    }
    if (s->mode == EK__SOCK_CLOSING) {
        free_owned(own, n_own);
        return -1;
    }
    if (s->pending == 0) {
        /* Other errors: uv_write below reports them through write_cb. */
        int r = uv_try_write((uv_stream_t *)&s->tcp, bufs, n);
        done = r > 0 ? (size_t)r : 0;
    }
    if (done == total) {
        free_owned(own, n_own);
        return 0;
    }
    struct wreq *w = ek_xmalloc(sizeof(*w));
    w->n_own = 0;
    w->len = total - done;
    uv_buf_t rem[MAX_BUFS];
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        size_t skip = EK_MIN(done, bufs[i].len);
        done -= skip;
        if (skip == bufs[i].len) {
            continue;
        }
        char *base = bufs[i].base + skip;
        size_t len = bufs[i].len - skip;
        if (!is_owned(bufs[i].base, own, n_own)) {
            char *copy = ek_xmalloc(len);
            memcpy(copy, base, len);
            base = copy;
            w->own[w->n_own++] = copy;
        }
        rem[k++] = uv_buf_init(base, (unsigned)len);
    }
    for (unsigned i = 0; i < n_own; i++) {
        w->own[w->n_own++] = own[i];
    }
    int r = uv_write(&w->req, (uv_stream_t *)&s->tcp, rem, k, write_cb);
    if (r < 0) {
        free_owned(w->own, w->n_own);
        free(w);
        return -1;
    }
    s->pending += w->len;
    return 0;
}

static int tls_flush(ek__sock_t *s)
{
    size_t len;
    char *out = s->tls ? ek_tls_take_output(s->tls, &len) : NULL;
    if (!out) {
        return 0;
    }
    uv_buf_t b = uv_buf_init(out, (unsigned)len);
    return raw_writev(s, &b, 1, (void *[]){ out }, 1);
}

static int tls_writev(ek__sock_t *s, const uv_buf_t *bufs, unsigned n)
{
    ek_error_t *err = NULL;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        total += bufs[i].len;
    }
    int r = 0;
    if (n > 1 && total <= EK__TLS_RECORD) {
        /* Small pieces (a chunk header, a frame header and its payload) share one record. */
        char tmp[EK__TLS_RECORD];
        size_t off = 0;
        for (unsigned i = 0; i < n; i++) {
            memcpy(tmp + off, bufs[i].base, bufs[i].len);
            off += bufs[i].len;
        }
        r = ek_tls_write(s->tls, tmp, off, &err);
    } else {
        for (unsigned i = 0; i < n && r == 0; i++) {
            r = ek_tls_write(s->tls, bufs[i].base, bufs[i].len, &err);
        }
    }
    if (r < 0) {
        EK_LOG(EK_DEBUG, "http", "tls write failed err=\"%s\"", ek_error_msg(err));
        ek_error_free(err);
        return -1;
    }
    return tls_flush(s);
}

int ek__sock_writev(ek__sock_t *s, const uv_buf_t *bufs, unsigned n, void *const *own,
                    unsigned n_own)
{
    if (s->mode != EK__SOCK_OPEN) {
        free_owned(own, n_own);
        return -1;
    }
    if (!s->tls_cfg) {
        return raw_writev(s, bufs, n, own, n_own);
    }
    ek_assert(s->tls && ek_tls_handshake_done(s->tls));
    int r = tls_writev(s, bufs, n);
    free_owned(own, n_own);
    return r;
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    ek__sock_t *s = h->data;
    buf->base = s->rbuf;
    buf->len = EK__SOCK_RBUF_SIZE;
}

static void tls_input(ek__sock_t *s, char *data, size_t len)
{
    ek_error_t *err = NULL;
    if (!s->tls) {
        s->tls = ek_tls_session_new(s->tls_cfg, NULL, &err);
        if (!s->tls) {
            end_stream(s, UV_EPROTO, ek_error_msg(err));
            ek_error_free(err);
            return;
        }
    }
    ek_tls_feed(s->tls, data, len);
    if (!ek_tls_handshake_done(s->tls)) {
        int r = ek_tls_handshake(s->tls, &err);
        tls_flush(s); /* the handshake's messages, or the alert that ends it */
        if (r <= 0) {
            if (r < 0) {
                end_stream(s, UV_EPROTO, ek_error_msg(err));
                ek_error_free(err);
            }
            return;
        }
        s->ops->on_handshake(s);
    }
    /* Plaintext is handed up from the stack: nothing per connection stays allocated. */
    char plain[EK__TLS_RECORD];
    while (s->mode == EK__SOCK_OPEN) {
        ssize_t n = ek_tls_read(s->tls, plain, sizeof(plain), &err);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            tls_flush(s);
            end_stream(s, UV_EOF, ek_error_msg(err));
            ek_error_free(err);
            return;
        }
        s->ops->on_read(s, plain, (size_t)n);
    }
    tls_flush(s);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    ek__sock_t *s = stream->data;
    if (nread == 0 || s->mode == EK__SOCK_CLOSING) {
        return;
    }
    if (nread < 0) {
        end_stream(s, (int)nread, uv_strerror((int)nread));
        return;
    }
    if (s->mode == EK__SOCK_GRACEFUL) {
        return; /* lingering: whatever the peer still sends is dropped */
    }
    if (s->tls_cfg) {
        tls_input(s, buf->base, (size_t)nread);
    } else {
        s->ops->on_read(s, buf->base, (size_t)nread);
    }
}

static void set_reading(ek__sock_t *s, bool on)
{
    if (on && !s->reading) {
        s->reading = uv_read_start((uv_stream_t *)&s->tcp, alloc_cb, read_cb) == 0;
    } else if (!on && s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = false;
    }
}

void ek__sock_read(ek__sock_t *s, bool on)
{
    s->want_read = on;
    if (s->mode == EK__SOCK_OPEN) {
        set_reading(s, on);
    }
}

int ek__sock_tls_connect(ek__sock_t *s, const char *server_name, ek_error_t **err)
{
    ek_assert(s->tls_cfg && !s->tls);
    s->tls = ek_tls_session_new(s->tls_cfg, server_name, err);
    if (!s->tls) {
        return -1;
    }
    if (ek_tls_handshake(s->tls, err) < 0) {
        return -1;
    }
    return tls_flush(s);
}

/* ---- graceful close ---- */

static void linger_timeout(uv_timer_t *t)
{
    ek__sock_close(t->data);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    ek__sock_t *s = req->handle->data;
    free(req);
    if (status < 0) {
        ek__sock_close(s);
    }
}

void ek__sock_close_graceful(ek__sock_t *s)
{
    if (s->mode != EK__SOCK_OPEN) {
        return;
    }
    s->mode = EK__SOCK_GRACEFUL;
    if (s->tls && ek_tls_handshake_done(s->tls)) {
        ek_tls_close_notify(s->tls);
        tls_flush(s);
    }
    /* Reading until the peer's EOF keeps unread request bytes from turning our close into a
     * reset that could destroy the response before the client reads it. */
    set_reading(s, true);
    uv_timer_start(&s->timer, linger_timeout, EK__SOCK_LINGER_MS, 0);
    /* libuv sends the FIN after the queued writes complete. */
    uv_shutdown_t *req = ek_xmalloc(sizeof(*req));
    if (uv_shutdown(req, (uv_stream_t *)&s->tcp, shutdown_cb) < 0) {
        free(req);
        ek__sock_close(s);
    }
}

void ek__sock_peer_name(ek__sock_t *s, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[64] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
            uv_ip4_name(sin, ip, sizeof(ip));
            port = ntohs(sin->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
            char ip6[INET6_ADDRSTRLEN] = "?";
            uv_ip6_name(sin6, ip6, sizeof(ip6));
            snprintf(ip, sizeof(ip), "[%s]", ip6);
            port = ntohs(sin6->sin6_port);
        }
    }
    snprintf(buf, cap, "%s:%d", ip, port);
}
