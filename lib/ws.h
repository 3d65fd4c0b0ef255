/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket (RFC 6455), server side, on top of ek_http_upgrade: the opening handshake with
 * subprotocol negotiation (kubectl offers v5.channel.k8s.io, v4.channel.k8s.io, ...), frame
 * parsing and encoding as pure functions (usable by fuzzers and test clients), and a
 * connection object that answers pings, runs the close handshake and delivers whole messages.
 * No extensions (permessage-deflate is declined by not answering it). Loop thread only.
 */
#ifndef EK_LIB_WS_H
#define EK_LIB_WS_H

#include "lib/buf.h"
#include "lib/common.h"
#include "lib/error.h"
#include "lib/http.h"

enum {
    EK_WS_CONTINUATION = 0x0,
    EK_WS_TEXT = 0x1,
    EK_WS_BINARY = 0x2,
    EK_WS_CLOSE = 0x8,
    EK_WS_PING = 0x9,
    EK_WS_PONG = 0xA,
};

/* Close codes we send or report. */
enum {
    EK_WS_CLOSE_NORMAL = 1000,
    EK_WS_CLOSE_GOING_AWAY = 1001,
    EK_WS_CLOSE_PROTOCOL_ERROR = 1002,
    EK_WS_CLOSE_UNSUPPORTED = 1003,
    EK_WS_CLOSE_NO_STATUS = 1005, /* reported only: the close frame had no code */
    EK_WS_CLOSE_ABNORMAL = 1006,  /* reported only: the connection dropped without a close */
    EK_WS_CLOSE_INVALID_DATA = 1007,
    EK_WS_CLOSE_POLICY = 1008,
    EK_WS_CLOSE_TOO_BIG = 1009,
    EK_WS_CLOSE_INTERNAL = 1011,
};

#define EK_WS_DEFAULT_MAX_MESSAGE (32u * 1024 * 1024)
#define EK_WS_MAX_HEADER          14 /* 2 + 8 (length) + 4 (mask) */

/* ---- handshake ---- */

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + GUID)). */
void ek_ws_accept_key(const char *key, char out[29]);

/*
 * Picks the subprotocol: the first one the client offered (in its order, across repeated
 * Sec-WebSocket-Protocol headers and comma lists) that is in supported (NULL-terminated).
 * Returns the borrowed entry of supported, NULL if the client offered none, and sets *none_ok
 * false when it offered some but none matched.
 */
const char *ek_ws_pick_protocol(const ek_http_req_t *r, const char *const *supported,
                                bool *none_ok);

/* ---- frames (pure) ---- */

typedef struct ek_ws_frame {
    bool fin;
    uint8_t opcode;
    uint8_t rsv; /* RSV1-3 bits, must be 0 without extensions */
    bool masked;
    uint8_t mask[4];
    uint64_t len;      /* payload length */
    size_t header_len; /* bytes of header including the mask */
} ek_ws_frame_t;

/* Parses a frame header: header length (> 0), 0 when more bytes are needed, -1 when the
 * length field is malformed (not minimal, or the top bit of a 64-bit length set). */
int ek_ws_parse_header(const uint8_t *data, size_t len, ek_ws_frame_t *f);

/* Writes a frame header into out (at most EK_WS_MAX_HEADER bytes); mask NULL = unmasked
 * (server to client). Returns its length. */
size_t ek_ws_encode_header(uint8_t *out, uint8_t opcode, bool fin, uint64_t len,
                           const uint8_t *mask);
/* XORs data with the mask, starting at payload offset off (so pieces can be unmasked). */
void ek_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t off);
/* Appends a whole frame. mask NULL for servers; clients (tests) pass a 4-byte mask. */
void ek_ws_encode_frame(ek_buf_t *out, uint8_t opcode, bool fin, const void *data, size_t len,
                        const uint8_t *mask);
/* Appends a close frame with code and reason (reason truncated to fit 125 bytes). */
void ek_ws_encode_close(ek_buf_t *out, uint16_t code, const char *reason, const uint8_t *mask);
/* True if s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
bool ek_ws_utf8_valid(const uint8_t *s, size_t len);

/*
 * Stream parser: feeds bytes and reports whole messages and control frames, reassembling
 * fragmented messages (control frames may come between fragments) and unmasking in place.
 * A message that arrives in one unfragmented frame within one feed is reported straight from
 * the input (no copy); otherwise it is assembled in msg.
 */
typedef struct ek_ws_parser {
    size_t max_message; /* 0 = EK_WS_DEFAULT_MAX_MESSAGE */
    bool expect_masked; /* server side: client frames must be masked (and vice versa) */
    /* private */
    uint8_t hdr[EK_WS_MAX_HEADER];
    size_t hdr_len;
    ek_ws_frame_t frame;
    bool in_frame;
    uint64_t frame_pos;
    uint8_t msg_opcode; /* 0: no fragmented message in progress */
    ek_buf_t msg;
    uint8_t ctrl[125];
    bool failed;
} ek_ws_parser_t;

/*
 * One event. opcode: EK_WS_TEXT/BINARY (a whole message), PING, PONG, CLOSE. data is borrowed
 * for the call. For CLOSE, code is the status (1005 if the frame had none) and data/len the
 * reason (valid UTF-8). Return non-zero to stop parsing after this event.
 */
typedef int (*ek_ws_event_cb)(void *user, uint8_t opcode, char *data, size_t len, uint16_t code);

/* Returns 0, or the close code to fail the connection with (1002 protocol error, 1007 bad
 * UTF-8, 1009 message too big). After a failure the parser refuses further input. *used (if
 * not NULL) gets the bytes consumed: all of them, unless cb stopped the parser, in which case
 * the rest is untouched (still masked) and can be fed again later. */
int ek_ws_parser_feed(ek_ws_parser_t *p, char *data, size_t len, ek_ws_event_cb cb, void *user,
                      size_t *used);
void ek_ws_parser_free(ek_ws_parser_t *p);

/* ---- connections ---- */

typedef struct ek_ws ek_ws_t;

typedef struct ek_ws_callbacks {
    /* A whole message: EK_WS_TEXT (valid UTF-8) or EK_WS_BINARY. data borrowed. */
    void (*on_message)(ek_ws_t *ws, uint8_t opcode, const char *data, size_t len, void *user);
    /* Once. code: the peer's close code (1005 none), ours after a protocol failure or
     * ek_ws_close, or 1006 if the connection dropped without a close frame. ws is freed
     * after it returns. */
    void (*on_close)(ek_ws_t *ws, uint16_t code, const char *reason, void *user);
} ek_ws_callbacks_t;

typedef struct ek_ws_options {
    const char *const *protocols; /* supported subprotocols, NULL-terminated; NULL = none */
    bool require_protocol;        /* fail when the client offers none we support (k8s: yes) */
    size_t max_message;           /* 0 = EK_WS_DEFAULT_MAX_MESSAGE */
    uint64_t close_timeout_ms;    /* wait for the peer's close reply; 0 = 5 s */
} ek_ws_options_t;

/*
 * Validates the upgrade request (GET, Upgrade: websocket, Connection: upgrade, version 13,
 * a 16-byte key, a subprotocol both sides support) and switches protocols. On failure
 * returns NULL with err->status set (400, or 426 for an unsupported version: the caller adds
 * "Sec-WebSocket-Version: 13") and leaves the request for the caller to answer. On success
 * the request is consumed.
 */
ek_ws_t *ek_ws_accept(ek_http_req_t *r, const ek_ws_options_t *opts, const ek_ws_callbacks_t *cb,
                      void *user, ek_error_t **err);
/* The negotiated subprotocol, or NULL. Borrowed. */
const char *ek_ws_protocol(const ek_ws_t *ws);
ek_conn_t *ek_ws_conn(ek_ws_t *ws);
/* Sends one message (EK_WS_TEXT or EK_WS_BINARY). -1 once closing. */
int ek_ws_send(ek_ws_t *ws, uint8_t opcode, const void *data, size_t len);
/* Sends one message made of a one-byte prefix and data, without copying data (the k8s
 * channel protocols put the stream number first). */
int ek_ws_send_prefixed(ek_ws_t *ws, uint8_t opcode, uint8_t prefix, const void *data, size_t len);
int ek_ws_ping(ek_ws_t *ws, const void *data, size_t len);
size_t ek_ws_pending(const ek_ws_t *ws);
/* Stops delivering messages (at once, even within data already received) and reading;
 * resuming delivers what was held back first. */
void ek_ws_pause(ek_ws_t *ws, bool paused);
/* Starts the close handshake; on_close follows once the peer answers (or after a timeout). */
void ek_ws_close(ek_ws_t *ws, uint16_t code, const char *reason);

#endif
