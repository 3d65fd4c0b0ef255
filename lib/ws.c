/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket (RFC 6455): the opening handshake, a frame codec with no I/O (so fuzzers and test
 * clients use exactly what the server runs) and connections on top of ek_conn_t.
 *
 * The parser unmasks in place: a message that arrives whole in one read is handed to the
 * owner straight from the read buffer; only fragmented messages, or frames split across
 * reads, are assembled in a buffer that is released again when large. A connection is freed
 * when its ek_conn_t closes, after on_close; the close handshake waits a bounded time for
 * the peer's answer through the connection's read timeout.
 */
#include "lib/ws.h"

#include <errno.h>
#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>
#include <stdio.h>
#include <strings.h>

#include "lib/http-internal.h"

#define WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define DEFAULT_CLOSE_MS 5000
#define KEEP_MSG_BUFFER  (64 * 1024) /* assembled-message capacity kept between messages */

/* ---- handshake helpers ---- */

void ek_ws_accept_key(const char *key, char out[29])
{
    unsigned char digest[20];
    mbedtls_sha1_context sha;
    mbedtls_sha1_init(&sha);
    mbedtls_sha1_starts_ret(&sha);
    mbedtls_sha1_update_ret(&sha, (const unsigned char *)key, strlen(key));
    mbedtls_sha1_update_ret(&sha, (const unsigned char *)WS_GUID, sizeof(WS_GUID) - 1);
    mbedtls_sha1_finish_ret(&sha, digest);
    mbedtls_sha1_free(&sha);
    size_t olen = 0;
    mbedtls_base64_encode((unsigned char *)out, 29, &olen, digest, sizeof(digest));
    out[olen] = '\0';
}

static bool supported_has(const char *const *supported, const char *p, size_t n, const char **match)
{
    for (size_t i = 0; supported && supported[i]; i++) {
        if (strlen(supported[i]) == n && strncmp(supported[i], p, n) == 0) {
            *match = supported[i];
            return true;
        }
    }
    return false;
}

const char *ek_ws_pick_protocol(const ek_http_req_t *r, const char *const *supported, bool *none_ok)
{
    *none_ok = true;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (strcasecmp(r->headers[i].name, "Sec-WebSocket-Protocol") != 0) {
            continue;
        }
        for (const char *p = r->headers[i].value; *p;) {
            p += strspn(p, " \t,");
            size_t n = strcspn(p, ",");
            size_t m = n;
            while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t')) {
                m--;
            }
            const char *match;
            if (m > 0) {
                if (supported_has(supported, p, m, &match)) {
                    return match;
                }
                *none_ok = false;
            }
            p += n;
        }
    }
    return NULL;
}

/* ---- frames ---- */

int ek_ws_parse_header(const uint8_t *d, size_t len, ek_ws_frame_t *f)
{
    if (len < 2) {
        return 0;
    }
    size_t need = 2;
    uint64_t plen = d[1] & 0x7f;
    size_t ext = plen == 126 ? 2 : plen == 127 ? 8 : 0;
    bool masked = d[1] & 0x80;
    need += ext + (masked ? 4 : 0);
    if (len < need) {
        return 0;
    }
    if (ext == 2) {
        plen = (uint64_t)d[2] << 8 | d[3];
        if (plen < 126) {
            return -1; /* lengths use the shortest form */
        }
    } else if (ext == 8) {
        plen = 0;
        for (int i = 0; i < 8; i++) {
            plen = plen << 8 | d[2 + i];
        }
        if (plen >> 63 || plen <= 0xffff) {
            return -1;
        }
    }
    f->fin = d[0] & 0x80;
    f->rsv = (d[0] >> 4) & 7;
    f->opcode = d[0] & 0x0f;
    f->masked = masked;
    f->len = plen;
    if (masked) {
        memcpy(f->mask, d + 2 + ext, 4);
    }
    f->header_len = need;
    return (int)need;
}

size_t ek_ws_encode_header(uint8_t *out, uint8_t opcode, bool fin, uint64_t len,
                           const uint8_t *mask)
{
    size_t n = 0;
    out[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[n++] = m | (uint8_t)len;
    } else if (len <= 0xffff) {
        out[n++] = m | 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--) {
            out[n++] = (uint8_t)(len >> (8 * i));
        }
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ek_ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t off)
{
    size_t i = 0;
    /* Byte at a time until aligned to the mask, then 8 bytes at a time. */
    for (; i < len && ((off + i) & 3) != 0; i++) {
        data[i] ^= mask[(off + i) & 3];
    }
    uint64_t m8;
    uint8_t rep[8] = { mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3] };
    memcpy(&m8, rep, 8);
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, data + i, 8);
        v ^= m8;
        memcpy(data + i, &v, 8);
    }
    for (; i < len; i++) {
        data[i] ^= mask[(off + i) & 3];
    }
}

void ek_ws_encode_frame(ek_buf_t *out, uint8_t opcode, bool fin, const void *data, size_t len,
                        const uint8_t *mask)
{
    uint8_t hdr[EK_WS_MAX_HEADER];
    size_t n = ek_ws_encode_header(hdr, opcode, fin, len, mask);
    ek_buf_append(out, hdr, n);
    size_t start = out->len;
    ek_buf_append(out, data, len);
    if (mask) {
        ek_ws_mask((uint8_t *)out->data + start, len, mask, 0);
    }
}

void ek_ws_encode_close(ek_buf_t *out, uint16_t code, const char *reason, const uint8_t *mask)
{
    uint8_t payload[125];
    payload[0] = (uint8_t)(code >> 8);
    payload[1] = (uint8_t)code;
    size_t rlen = reason ? EK_MIN(strlen(reason), sizeof(payload) - 2) : 0;
    /* Do not cut a multi-byte character in half: the peer checks the reason is UTF-8. */
    while (rlen > 0 && ((unsigned char)reason[rlen] & 0xc0) == 0x80) {
        rlen--;
    }
    if (rlen) {
        memcpy(payload + 2, reason, rlen);
    }
    ek_ws_encode_frame(out, EK_WS_CLOSE, true, payload, 2 + rlen, mask);
}

bool ek_ws_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (len - i <= n) {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

/* ---- stream parser ---- */

static bool close_code_valid(uint16_t c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

static int parser_fail(ek_ws_parser_t *p, int code)
{
    p->failed = true;
    return code;
}

/* Validates a frame header against the parser's state. 0 or a close code. */
static int check_frame(ek_ws_parser_t *p, const ek_ws_frame_t *f)
{
    size_t max = p->max_message ? p->max_message : EK_WS_DEFAULT_MAX_MESSAGE;
    bool control = f->opcode & 0x8;
    if (f->rsv || f->masked != p->expect_masked) {
        return EK_WS_CLOSE_PROTOCOL_ERROR;
    }
    if (control) {
        bool known = f->opcode == EK_WS_CLOSE || f->opcode == EK_WS_PING || f->opcode == EK_WS_PONG;
        return !known || !f->fin || f->len > 125 ? EK_WS_CLOSE_PROTOCOL_ERROR : 0;
    }
    if (f->opcode != EK_WS_CONTINUATION && f->opcode != EK_WS_TEXT && f->opcode != EK_WS_BINARY) {
        return EK_WS_CLOSE_PROTOCOL_ERROR;
    }
    if ((f->opcode == EK_WS_CONTINUATION) != (p->msg_opcode != 0)) {
        return EK_WS_CLOSE_PROTOCOL_ERROR; /* a stray continuation, or an interleaved start */
    }
    if (f->len > max || p->msg.len > max - f->len) {
        return EK_WS_CLOSE_TOO_BIG;
    }
    return 0;
}

static int deliver_control(ek_ws_parser_t *p, const ek_ws_frame_t *f, uint8_t *payload,
                           ek_ws_event_cb cb, void *user)
{
    uint16_t code = 0;
    char *data = (char *)payload;
    size_t len = f->len;
    if (f->opcode == EK_WS_CLOSE) {
        if (len == 1) {
            return -EK_WS_CLOSE_PROTOCOL_ERROR;
        }
        code = EK_WS_CLOSE_NO_STATUS;
        if (len >= 2) {
            code = (uint16_t)(payload[0] << 8 | payload[1]);
            if (!close_code_valid(code)) {
                return -EK_WS_CLOSE_PROTOCOL_ERROR;
            }
            data += 2;
            len -= 2;
            if (!ek_ws_utf8_valid((const uint8_t *)data, len)) {
                return -EK_WS_CLOSE_INVALID_DATA;
            }
        }
    }
    return cb(user, f->opcode, data, len, code) ? 1 : 0;
}

static int deliver_message(ek_ws_parser_t *p, uint8_t opcode, char *data, size_t len,
                           ek_ws_event_cb cb, void *user)
{
    if (opcode == EK_WS_TEXT && !ek_ws_utf8_valid((const uint8_t *)data, len)) {
        return -EK_WS_CLOSE_INVALID_DATA;
    }
    return cb(user, opcode, data, len, 0) ? 1 : 0;
}

/* The current frame's payload is complete: report what it finished. <0 = -code, 1 = stop. */
static int frame_done(ek_ws_parser_t *p, ek_ws_event_cb cb, void *user)
{
    ek_ws_frame_t *f = &p->frame;
    p->in_frame = false;
    if (f->opcode & 0x8) {
        return deliver_control(p, f, p->ctrl, cb, user);
    }
    if (!f->fin) {
        return 0;
    }
    uint8_t op = p->msg_opcode;
    p->msg_opcode = 0;
    ek_buf_putc(&p->msg, '\0'); /* an empty message still gets a valid pointer */
    p->msg.len--;
    int r = deliver_message(p, op, p->msg.data, p->msg.len, cb, user);
    if (p->msg.cap > KEEP_MSG_BUFFER) {
        ek_buf_free(&p->msg);
    } else {
        ek_buf_reset(&p->msg);
    }
    return r;
}

/* Takes header bytes; returns bytes used from data, or -code. Sets p->in_frame when done. */
static long take_header(ek_ws_parser_t *p, const char *data, size_t len)
{
    size_t old = p->hdr_len;
    size_t k = EK_MIN(len, sizeof(p->hdr) - old);
    memcpy(p->hdr + old, data, k);
    p->hdr_len += k;
    int r = ek_ws_parse_header(p->hdr, p->hdr_len, &p->frame);
    if (r < 0) {
        return -EK_WS_CLOSE_PROTOCOL_ERROR;
    }
    if (r == 0) {
        return (long)k;
    }
    p->hdr_len = 0;
    int code = check_frame(p, &p->frame);
    if (code) {
        return -code;
    }
    p->in_frame = true;
    p->frame_pos = 0;
    if (!(p->frame.opcode & 0x8) && p->frame.opcode != EK_WS_CONTINUATION) {
        p->msg_opcode = p->frame.opcode;
    }
    return (long)((size_t)r - old);
}

int ek_ws_parser_feed(ek_ws_parser_t *p, char *data, size_t len, ek_ws_event_cb cb, void *user,
                      size_t *used)
{
    size_t ignored = 0;
    used = used ? used : &ignored;
    *used = 0;
    if (p->failed) {
        return EK_WS_CLOSE_PROTOCOL_ERROR;
    }
    const char *start = data;
    while (len > 0 || (p->in_frame && p->frame_pos == p->frame.len)) {
        if (!p->in_frame) {
            long took = take_header(p, data, len);
            if (took < 0) {
                *used = (size_t)(data - start);
                return parser_fail(p, (int)-took);
            }
            data += took;
            len -= (size_t)took;
            if (!p->in_frame) {
                continue;
            }
            ek_ws_frame_t *f = &p->frame;
            bool whole = f->fin && !(f->opcode & 0x8) && f->opcode != EK_WS_CONTINUATION;
            if (whole && f->len <= len && p->msg.len == 0) {
                /* Fast path: the whole message is here; unmask and report it in place. */
                if (f->masked) {
                    ek_ws_mask((uint8_t *)data, (size_t)f->len, f->mask, 0);
                }
                p->in_frame = false;
                p->msg_opcode = 0;
                int r = deliver_message(p, f->opcode, data, (size_t)f->len, cb, user);
                data += f->len;
                len -= (size_t)f->len;
                if (r != 0) {
                    *used = (size_t)(data - start);
                    return r < 0 ? parser_fail(p, -r) : 0;
                }
                continue;
            }
        }
        ek_ws_frame_t *f = &p->frame;
        size_t n = (size_t)EK_MIN((uint64_t)len, f->len - p->frame_pos);
        if (f->masked) {
            ek_ws_mask((uint8_t *)data, n, f->mask, p->frame_pos);
        }
        if (f->opcode & 0x8) {
            memcpy(p->ctrl + p->frame_pos, data, n);
        } else {
            ek_buf_append(&p->msg, data, n);
        }
        p->frame_pos += n;
        data += n;
        len -= n;
        if (p->frame_pos == f->len) {
            int r = frame_done(p, cb, user);
            if (r != 0) {
                *used = (size_t)(data - start);
                return r < 0 ? parser_fail(p, -r) : 0;
            }
        }
    }
    *used = (size_t)(data - start);
    return 0;
}

void ek_ws_parser_free(ek_ws_parser_t *p)
{
    ek_buf_free(&p->msg);
}

/* ---- connections ---- */

struct ek_ws {
    ek_conn_t *conn;
    ek_ws_parser_t parser;
    ek_ws_callbacks_t cb;
    void *user;
    const char *protocol; /* borrowed from the options' list */
    uint64_t close_timeout_ms;
    uint16_t close_code;
    char *close_reason;
    bool close_sent;
    bool close_received;
    bool paused;
};

static void set_close(ek_ws_t *ws, uint16_t code, const char *reason, size_t rlen)
{
    if (ws->close_code) {
        return; /* the first close reason is the one reported */
    }
    ws->close_code = code;
    ws->close_reason = ek_xstrndup(reason ? reason : "", reason ? rlen : 0);
}

static void send_close(ek_ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->close_sent) {
        return;
    }
    ws->close_sent = true;
    ek_autobuf b = EK_BUF_INIT;
    if (code == EK_WS_CLOSE_NO_STATUS) {
        ek_ws_encode_frame(&b, EK_WS_CLOSE, true, NULL, 0, NULL);
    } else {
        ek_ws_encode_close(&b, code, reason, NULL);
    }
    ek_conn_write(ws->conn, b.data, b.len);
}

static int ws_event(void *user, uint8_t opcode, char *data, size_t len, uint16_t code)
{
    ek_ws_t *ws = user;
    switch (opcode) {
    case EK_WS_TEXT:
    case EK_WS_BINARY:
        if (!ws->close_sent && ws->cb.on_message) {
            ws->cb.on_message(ws, opcode, data, len, ws->user);
        }
        return ws->paused; /* paused by the owner: hold back the rest */
    case EK_WS_PING:
        if (!ws->close_sent) {
            uint8_t hdr[EK_WS_MAX_HEADER];
            size_t n = ek_ws_encode_header(hdr, EK_WS_PONG, true, len, NULL);
            uv_buf_t bufs[2] = { uv_buf_init((char *)hdr, (unsigned)n),
                                 uv_buf_init(data, (unsigned)len) };
            ek_conn_writev(ws->conn, bufs, 2);
        }
        return 0;
    case EK_WS_PONG:
        return 0;
    default: /* EK_WS_CLOSE */
        ws->close_received = true;
        set_close(ws, code, data, len);
        send_close(ws, code, "");
        ek_conn_close(ws->conn);
        return 1;
    }
}

static const char *fail_reason(int code)
{
    switch (code) {
    case EK_WS_CLOSE_TOO_BIG:
        return "message too big";
    case EK_WS_CLOSE_INVALID_DATA:
        return "invalid UTF-8";
    default:
        return "protocol error";
    }
}

static void ws_on_data(ek_conn_t *c, char *data, size_t len, void *user)
{
    ek_ws_t *ws = user;
    if (ws->close_received || ws->parser.failed) {
        return;
    }
    size_t used;
    int code = ek_ws_parser_feed(&ws->parser, data, len, ws_event, ws, &used);
    if (!code && used < len && ws->paused && !ws->close_received) {
        ek_conn_unread(ws->conn, data + used, len - used);
    }
    if (code) {
        const char *reason = fail_reason(code);
        set_close(ws, (uint16_t)code, reason, strlen(reason));
        send_close(ws, (uint16_t)code, reason);
        ek_conn_close(ws->conn);
    }
}

static void ws_on_close(ek_conn_t *c, void *user)
{
    ek_ws_t *ws = user;
    uint16_t code = ws->close_code ? ws->close_code : EK_WS_CLOSE_ABNORMAL;
    if (ws->cb.on_close) {
        ws->cb.on_close(ws, code, ws->close_reason ? ws->close_reason : "", ws->user);
    }
    ek_ws_parser_free(&ws->parser);
    free(ws->close_reason);
    free(ws);
}

static int check_request(ek_http_req_t *r, ek_error_t **err)
{
    const char *version = ek_http_req_header(r, "Sec-WebSocket-Version");
    const char *key = ek_http_req_header(r, "Sec-WebSocket-Key");
    if (strcmp(r->method, "GET") != 0) {
        return ek_error_status(err, 400, "WebSocket upgrade must use GET");
    }
    if (!ek__header_has_token(ek_http_req_header(r, "Upgrade"), "websocket") ||
        !ek__header_has_token(ek_http_req_header(r, "Connection"), "upgrade")) {
        return ek_error_status(err, 400, "not a WebSocket upgrade request");
    }
    if (!version || strcmp(version, "13") != 0) {
        return ek_error_status(err, 426, "unsupported WebSocket version `%s`",
                               version ? version : "");
    }
    unsigned char raw[32];
    size_t olen = 0;
    if (!key ||
        mbedtls_base64_decode(raw, sizeof(raw), &olen, (const unsigned char *)key, strlen(key)) !=
            0 ||
        olen != 16) {
        return ek_error_status(err, 400, "bad Sec-WebSocket-Key");
    }
    return 0;
}

ek_ws_t *ek_ws_accept(ek_http_req_t *r, const ek_ws_options_t *opts, const ek_ws_callbacks_t *cb,
                      void *user, ek_error_t **err)
{
    static const ek_ws_options_t defaults = { 0 };
    opts = opts ? opts : &defaults;
    if (check_request(r, err) < 0) {
        return NULL;
    }
    bool none_ok;
    const char *proto = ek_ws_pick_protocol(r, opts->protocols, &none_ok);
    if (!proto && (!none_ok || (opts->require_protocol && opts->protocols))) {
        ek_error_status(err, 400, "none of the requested WebSocket subprotocols is supported");
        return NULL;
    }
    char accept[29];
    ek_ws_accept_key(ek_http_req_header(r, "Sec-WebSocket-Key"), accept);
    ek_http_add_header(r, "Sec-WebSocket-Accept", accept);
    if (proto) {
        ek_http_add_header(r, "Sec-WebSocket-Protocol", proto);
    }
    ek_ws_t *ws = ek_new(ek_ws_t);
    ws->cb = *cb;
    ws->user = user;
    ws->protocol = proto;
    ws->parser.expect_masked = true;
    ws->parser.max_message = opts->max_message;
    ws->close_timeout_ms = opts->close_timeout_ms ? opts->close_timeout_ms : DEFAULT_CLOSE_MS;
    static const ek_conn_callbacks_t conn_cb = { ws_on_data, ws_on_close };
    ws->conn = ek_http_upgrade(r, "websocket", &conn_cb, ws);
    if (!ws->conn) {
        free(ws);
        ek_error_make(err, ECONNRESET, "WebSocket upgrade: the client went away");
        return NULL;
    }
    return ws;
}

const char *ek_ws_protocol(const ek_ws_t *ws)
{
    return ws->protocol;
}

ek_conn_t *ek_ws_conn(ek_ws_t *ws)
{
    return ws->conn;
}

int ek_ws_send(ek_ws_t *ws, uint8_t opcode, const void *data, size_t len)
{
    if (ws->close_sent) {
        return -1;
    }
    uint8_t hdr[EK_WS_MAX_HEADER];
    size_t n = ek_ws_encode_header(hdr, opcode, true, len, NULL);
    uv_buf_t bufs[2] = { uv_buf_init((char *)hdr, (unsigned)n),
                         uv_buf_init((char *)(uintptr_t)data, (unsigned)len) };
    return ek_conn_writev(ws->conn, bufs, 2);
}

int ek_ws_send_prefixed(ek_ws_t *ws, uint8_t opcode, uint8_t prefix, const void *data, size_t len)
{
    if (ws->close_sent) {
        return -1;
    }
    uint8_t hdr[EK_WS_MAX_HEADER + 1];
    size_t n = ek_ws_encode_header(hdr, opcode, true, len + 1, NULL);
    hdr[n++] = prefix;
    uv_buf_t bufs[2] = { uv_buf_init((char *)hdr, (unsigned)n),
                         uv_buf_init((char *)(uintptr_t)data, (unsigned)len) };
    return ek_conn_writev(ws->conn, bufs, 2);
}

int ek_ws_ping(ek_ws_t *ws, const void *data, size_t len)
{
    if (ws->close_sent || len > 125) {
        return -1;
    }
    uint8_t hdr[EK_WS_MAX_HEADER];
    size_t n = ek_ws_encode_header(hdr, EK_WS_PING, true, len, NULL);
    uv_buf_t bufs[2] = { uv_buf_init((char *)hdr, (unsigned)n),
                         uv_buf_init((char *)(uintptr_t)data, (unsigned)len) };
    return ek_conn_writev(ws->conn, bufs, 2);
}

size_t ek_ws_pending(const ek_ws_t *ws)
{
    return ek_conn_pending(ws->conn);
}

void ek_ws_pause(ek_ws_t *ws, bool paused)
{
    ws->paused = paused;
    ek_conn_pause(ws->conn, paused);
}

void ek_ws_close(ek_ws_t *ws, uint16_t code, const char *reason)
{
    if (ws->close_sent) {
        return;
    }
    set_close(ws, code, reason, reason ? strlen(reason) : 0);
    send_close(ws, code, reason);
    /* The peer answers with its close frame; ws_event then closes the connection. */
    ek_conn_set_timeout(ws->conn, ws->close_timeout_ms);
}
