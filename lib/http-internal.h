/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to lib/http_*.c and lib/ws.c: the byte transport both HTTP sides share (a TCP
 * stream, optionally TLS, with a timer for its owner), and small helpers for collecting
 * headers from http_parser callbacks.
 *
 * The transport keeps per-connection memory small: reads land in a buffer shared by every
 * stream of one server or client (libuv calls alloc_cb and read_cb back to back for one
 * stream, so one buffer serves all), TLS sessions are created on the first byte, and writes
 * try the socket first so buffers are copied only when the kernel cannot take them at once.
 */
#ifndef EK_LIB_HTTP_INTERNAL_H
#define EK_LIB_HTTP_INTERNAL_H

#include <http_parser.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/http.h"
#include "lib/tls.h"

#define EK__SOCK_RBUF_SIZE (64 * 1024)
/* Largest plaintext mbedtls puts in one record: smaller writes are coalesced into one. */
#define EK__TLS_RECORD (16 * 1024)
/* How long a graceful close may take to flush and see the peer's FIN. */
#define EK__SOCK_LINGER_MS 10000

typedef struct ek__sock ek__sock_t;

typedef struct ek__sock_ops {
    /* Plaintext arrived. data is borrowed for the call and may be modified in place. */
    void (*on_read)(ek__sock_t *s, char *data, size_t len);
    /* The stream ended: EOF, a read/write error, a failed TLS handshake (UV_EPROTO) or the
     * peer's close_notify. Not called once a close has begun. */
    void (*on_end)(ek__sock_t *s, int uverr, const char *why);
    /* TLS handshake finished (TLS streams only). */
    void (*on_handshake)(ek__sock_t *s);
    /* Every queued write completed (optional). */
    void (*on_drain)(ek__sock_t *s);
    /* Both handles are closed: the owner frees the memory holding the sock. */
    void (*on_closed)(ek__sock_t *s);
} ek__sock_ops_t;

enum ek__sock_mode {
    EK__SOCK_OPEN,
    EK__SOCK_GRACEFUL, /* flushing, FIN sent after the last write, reads discarded */
    EK__SOCK_CLOSING,  /* uv_close called */
};

struct ek__sock {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the owner's, except during a graceful close */
    const ek__sock_ops_t *ops;
    char *rbuf;               /* shared read buffer, borrowed */
    ek_tls_config_t *tls_cfg; /* borrowed; NULL = plain */
    ek_tls_session_t *tls;    /* created on first use */
    size_t pending;           /* bytes handed to uv_write and not yet completed */
    uint8_t mode;
    uint8_t open_handles;
    bool reading;
    bool want_read; /* owner's wish; reading is also paused while closing */
};

/* Initializes both handles on loop (they must be closed with ek__sock_close*). */
void ek__sock_init(ek__sock_t *s, uv_loop_t *loop, const ek__sock_ops_t *ops, char *rbuf,
                   ek_tls_config_t *tls_cfg);
/* Client side of TLS: creates the session and sends the ClientHello. */
int ek__sock_tls_connect(ek__sock_t *s, const char *server_name, ek_error_t **err);
void ek__sock_read(ek__sock_t *s, bool on);
/*
 * Queues bufs in order. Buffers whose base is listed in own[] are heap memory the sock takes
 * over (freed once written); the others are borrowed for the call and copied only if the
 * kernel cannot take them at once. Returns -1 (and frees owned buffers) if the sock is closing.
 */
int ek__sock_writev(ek__sock_t *s, const uv_buf_t *bufs, unsigned n, void *const *own,
                    unsigned n_own);
static inline int ek__sock_write(ek__sock_t *s, const void *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)len);
    return ek__sock_writev(s, &b, 1, NULL, 0);
}
/* Closes now: pending writes are dropped, ops->on_closed follows. Idempotent. */
void ek__sock_close(ek__sock_t *s);
/* Flushes, sends TLS close_notify and FIN, waits (bounded) for the peer's EOF, then closes. */
void ek__sock_close_graceful(ek__sock_t *s);
static inline bool ek__sock_closing(const ek__sock_t *s)
{
    return s->mode != EK__SOCK_OPEN;
}
/* "a.b.c.d:port" / "[v6]:port" of the peer into buf. */
void ek__sock_peer_name(ek__sock_t *s, char *buf, size_t cap);

/*
 * Headers collected from http_parser callbacks that may deliver a name or value in pieces.
 * Strings live in one buffer; offsets become pointers in ek__hdrs_finish (after which the
 * buffer must not grow).
 */
typedef struct ek__hdrs {
    ek_buf_t text;
    size_t *offs; /* name, value offset pairs */
    size_t n, cap;
    bool in_value;
    ek_http_header_t *list;
} ek__hdrs_t;

void ek__hdrs_field(ek__hdrs_t *h, const char *at, size_t len);
void ek__hdrs_value(ek__hdrs_t *h, const char *at, size_t len);
void ek__hdrs_finish(ek__hdrs_t *h);
void ek__hdrs_free(ek__hdrs_t *h);
const char *ek__hdrs_get(const ek_http_header_t *list, size_t n, const char *name);
/* True if the comma-separated header value list contains token (case-insensitive). */
bool ek__header_has_token(const char *value, const char *token);

/* Serves an already-connected stream socket as if accepted (fuzzing, socket activation).
 * The server owns fd from here on, also on failure. */
int ek__http_server_adopt(ek_http_server_t *srv, int fd, ek_error_t **err);

/* Pools an already-connected stream socket as an idle plain-HTTP connection to host:port, so
 * the next call there uses it (fuzzing the response path). The client owns fd from here on. */
int ek__http_client_adopt(ek_http_client_t *cl, int fd, const char *host, int port,
                          ek_error_t **err);

/* Shared http_parser setup: the library's own header cap is process-wide, so we lift it once
 * and count header bytes ourselves per server. */
void ek__http_parser_global_init(void);

#endif
