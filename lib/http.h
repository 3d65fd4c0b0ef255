/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/1.1 server and client on libuv (http_parser), optionally over TLS (lib/tls.h), plus
 * connection upgrades (WebSocket framing in lib/ws.h, raw streams for SPDY).
 *
 * Server model: one request at a time per connection (parsing pauses while a request is being
 * handled, so pipelined requests wait their turn; reading goes on, up to 64 KiB, so that a
 * client hanging up — EOF counts, as in Go — is noticed); the handler runs on the loop thread and
 * answers exactly once — at once or later (asynchronous handlers keep the request pointer) —
 * with ek_http_respond*, or starts a chunked stream and ends it. If the client goes away
 * first, the request stays valid until the handler answers/ends (those calls become no-ops
 * that release it) and the on_close callback, if set, tells the handler to stop.
 * Limits: header bytes (431), body bytes (413), header timeout and idle keep-alive timeout
 * (connection closed), malformed requests (400 and close). All functions: loop thread only.
 */
#ifndef EK_LIB_HTTP_H
#define EK_LIB_HTTP_H

#include <uv.h>

#include "lib/buf.h"
#include "lib/common.h"
#include "lib/error.h"
#include "lib/tls.h"

typedef struct ek_http_server ek_http_server_t;
typedef struct ek_http_req ek_http_req_t;
typedef struct ek_conn ek_conn_t;

typedef struct ek_http_header {
    char *name; /* as received; compare with strcasecmp */
    char *value;
} ek_http_header_t;

/* Read-only view of a request for handlers. */
struct ek_http_req {
    const char *method; /* "GET", "POST", ... */
    const char *target; /* raw request target: "/api/v1/pods?limit=5" */
    const char *path;   /* percent-decoded path without the query */
    const char *query;  /* raw query string after '?', "" if none */
    const ek_http_header_t *headers;
    size_t n_headers;
    const char *body; /* NUL-terminated; "" when there is none */
    size_t body_len;
    const ek_tls_peer_t *peer; /* verified client certificate, or NULL (plain HTTP, no cert) */
    const char *remote_addr;   /* "127.0.0.1:54321" */
    void *user;                /* free for the handler's use */
};

typedef void (*ek_http_handler_cb)(ek_http_req_t *req, void *data);

typedef struct ek_http_server_options {
    const char *host;           /* bind address, e.g. "0.0.0.0", "127.0.0.1", "::" */
    int port;                   /* 0 picks a free port (see ek_http_server_port) */
    ek_tls_config_t *tls;       /* NULL = plain HTTP; borrowed, must outlive the server */
    size_t max_header_bytes;    /* default 1 MiB → 431 */
    size_t max_body_bytes;      /* default 3 MiB → 413 */
    uint64_t header_timeout_ms; /* time to receive a full request head; default 30 s */
    uint64_t idle_timeout_ms;   /* keep-alive idle time before close; default 120 s */
    ek_http_handler_cb handler;
    void *data;
} ek_http_server_options_t;

int ek_http_server_start(uv_loop_t *loop, const ek_http_server_options_t *opts,
                         ek_http_server_t **out, ek_error_t **err);
/* The port actually bound (useful with port 0). */
int ek_http_server_port(const ek_http_server_t *s);
/* Stops listening, closes idle connections, lets in-flight streams be ended by their owners
 * (their on_close fires; so do upgraded connections'), waits for other in-flight requests to
 * be answered and for connections closing gracefully (at most 10 s: flush, FIN, peer's EOF),
 * then calls cb once every handle is closed. The server is freed before cb runs. */
void ek_http_server_close(ek_http_server_t *s, void (*cb)(void *data), void *data);
/* Live connection count (for /metrics and tests). */
size_t ek_http_server_connections(const ek_http_server_t *s);

/* Request accessors. The first header named name (case-insensitive), or NULL; borrowed. */
const char *ek_http_req_header(const ek_http_req_t *r, const char *name);
/* Value of a query parameter, percent-decoded (caller frees), or NULL if absent. */
char *ek_http_query_get(const char *query, const char *key);
/* Calls cb for each key=value pair in a query string, both percent-decoded. */
void ek_http_query_each(const char *query, void (*cb)(const char *k, const char *v, void *d),
                        void *data);
/* Percent-decodes s (also '+' → ' ' when form is true); caller frees. */
char *ek_http_unescape(const char *s, size_t len, bool form);
/* Percent-encodes for a query value; caller frees. */
char *ek_http_escape(const char *s);

/* Responses. Headers added before responding are sent with the response (CR/LF in values
 * become spaces). After the answer the request is freed: do not touch it again. */
void ek_http_add_header(ek_http_req_t *r, const char *name, const char *value);
void ek_http_respond(ek_http_req_t *r, int status, const char *content_type, const void *body,
                     size_t len);
/* Takes ownership of body's data (sent without a copy); *body is left empty. */
void ek_http_respond_buf(ek_http_req_t *r, int status, const char *content_type, ek_buf_t *body);

/* Chunked streaming response (watches, logs -f). */
void ek_http_stream_begin(ek_http_req_t *r, int status, const char *content_type);
/* Queues one chunk. Returns -1 if the connection is gone (the caller should end the stream). */
int ek_http_stream_write(ek_http_req_t *r, const void *data, size_t len);
/* Bytes queued but not yet written to the socket: a slow consumer grows this. */
size_t ek_http_stream_pending(const ek_http_req_t *r);
/* Sends the last chunk; the request is released afterwards. */
void ek_http_stream_end(ek_http_req_t *r);
/* cb runs once if the client disconnects before the handler answered or ended its stream. */
void ek_http_req_on_close(ek_http_req_t *r, void (*cb)(ek_http_req_t *r, void *data), void *data);

/*
 * Connection upgrade: sends "101 Switching Protocols" with the headers added so far plus
 * Connection/Upgrade: upgrade_proto, and hands the raw (TLS-decrypted) byte stream over.
 * Bytes the client already sent after the request head are delivered first. The request is
 * released; from here on the ek_conn_t is the handle.
 */
typedef struct ek_conn_callbacks {
    /* data is borrowed for the call and may be modified in place (WebSocket unmasking). */
    void (*on_data)(ek_conn_t *c, char *data, size_t len, void *user);
    void (*on_close)(ek_conn_t *c, void *user); /* once; c is freed after it returns */
} ek_conn_callbacks_t;
/* On failure (the client is gone) the request is released and NULL returned. */
ek_conn_t *ek_http_upgrade(ek_http_req_t *r, const char *upgrade_proto,
                           const ek_conn_callbacks_t *cb, void *user);
/* Data is borrowed for the call (copied only if the socket cannot take it at once). */
int ek_conn_write(ek_conn_t *c, const void *data, size_t len); /* -1 if closed */
/* Writes n (<= 8) pieces in order, as one TLS record when they are small. -1 if closed. */
int ek_conn_writev(ek_conn_t *c, const uv_buf_t *bufs, unsigned n);
size_t ek_conn_pending(const ek_conn_t *c);
/* Stop/resume reading (flow control). Bytes already received are held until resumed. */
void ek_conn_pause(ek_conn_t *c, bool paused);
/* Puts back the unconsumed tail of the data on_data was just given (copied); it comes again,
 * first, once the connection is (or is no longer) paused. */
void ek_conn_unread(ek_conn_t *c, const char *data, size_t len);
/* Closes the connection if no bytes arrive for ms (0 = never, the default after upgrade). */
void ek_conn_set_timeout(ek_conn_t *c, uint64_t ms);
/* Flushes queued writes, then closes; on_close follows (later, from the loop). */
void ek_conn_close(ek_conn_t *c);
/* Verified client certificate or NULL; borrowed, valid until on_close returns. */
const ek_tls_peer_t *ek_conn_peer(const ek_conn_t *c);
const char *ek_conn_remote_addr(const ek_conn_t *c);

/* Reason phrase for a status code ("Not Found"). */
const char *ek_http_status_text(int status);

/* ---- client ---- */

typedef struct ek_http_client ek_http_client_t;
typedef struct ek_http_call ek_http_call_t;

typedef struct ek_http_response {
    int status;
    const ek_http_header_t *headers;
    size_t n_headers;
} ek_http_response_t;

typedef struct ek_http_call_callbacks {
    /* Response head received. */
    void (*on_response)(ek_http_call_t *call, const ek_http_response_t *resp, void *user);
    /* A piece of the body (chunked encoding already removed). */
    void (*on_body)(ek_http_call_t *call, const char *data, size_t len, void *user);
    /* Exactly once: err NULL on a complete response, else why it failed (borrowed; the call
     * is freed after). May run inside ek_http_call_cancel or another of the call's callbacks. */
    void (*on_done)(ek_http_call_t *call, ek_error_t *err, void *user);
} ek_http_call_callbacks_t;

typedef struct ek_http_call_options {
    const char *method;
    const char *url; /* http:// or https:// */
    const ek_http_header_t *headers;
    size_t n_headers;
    const void *body; /* copied */
    size_t body_len;
    uint64_t timeout_ms;  /* whole call, 0 = none (watches) */
    ek_tls_config_t *tls; /* for https; NULL uses the client's default */
} ek_http_call_options_t;

/* A client keeps idle keep-alive connections per host:port (and TLS config) for reuse.
 * default_tls is referenced; NULL means the system CA bundle, loaded when first needed. */
ek_http_client_t *ek_http_client_new(uv_loop_t *loop, ek_tls_config_t *default_tls);
/* Cancels calls still running (their on_done fires), closes connections, then calls cb (may
 * be NULL) once every handle is closed. */
void ek_http_client_free(ek_http_client_t *c, void (*cb)(void *data), void *data);
/* Idle pooled connections (for tests and metrics). */
size_t ek_http_client_idle_connections(const ek_http_client_t *c);
ek_http_call_t *ek_http_call(ek_http_client_t *c, const ek_http_call_options_t *opts,
                             const ek_http_call_callbacks_t *cb, void *user, ek_error_t **err);
/* Aborts a call; on_done runs with an error ("cancelled") before this returns, unless called
 * from inside one of the call's callbacks (then right after that callback returns). */
void ek_http_call_cancel(ek_http_call_t *call);
const char *ek_http_response_header(const ek_http_response_t *r, const char *name);

/*
 * Client-side upgrade: sends head (a complete request head, "GET /x HTTP/1.1\r\n...\r\n\r\n")
 * on a new connection to a numeric host (TLS when tls is not NULL; the server certificate is
 * checked as tls says). on_response gets the answer's head: with 101 the connection is a raw
 * pipe from then on (on_data with the peer's bytes, ek_http_tunnel_write to send); otherwise
 * on_data gets the body and on_close follows its end. on_close runs once (why NULL on a clean
 * end, else the reason), unless the owner closed the tunnel first with ek_http_tunnel_close
 * (flushes, then closes; no callback). The tunnel is freed after either.
 */
typedef struct ek_http_tunnel ek_http_tunnel_t;
typedef struct ek_http_tunnel_callbacks {
    void (*on_response)(ek_http_tunnel_t *t, const ek_http_response_t *resp, void *user);
    void (*on_data)(ek_http_tunnel_t *t, char *data, size_t len, void *user);
    void (*on_close)(ek_http_tunnel_t *t, const char *why, void *user);
} ek_http_tunnel_callbacks_t;
ek_http_tunnel_t *ek_http_tunnel_open(uv_loop_t *loop, ek_tls_config_t *tls, const char *host,
                                      int port, const char *head,
                                      const ek_http_tunnel_callbacks_t *cb, void *user,
                                      ek_error_t **err);
int ek_http_tunnel_write(ek_http_tunnel_t *t, const void *data, size_t len); /* -1 if closed */
size_t ek_http_tunnel_pending(const ek_http_tunnel_t *t);
void ek_http_tunnel_pause(ek_http_tunnel_t *t, bool paused);
void ek_http_tunnel_close(ek_http_tunnel_t *t);

/*
 * Blocking convenience for CLIs and tests: runs a private loop until the call completes.
 * Returns the status (>= 100) with the body in *body (caller frees ek_buf_t data), or -1.
 */
int ek_http_fetch(const ek_http_call_options_t *opts, ek_buf_t *body, ek_error_t **err);

#endif
