/* SPDX-License-Identifier: Apache-2.0 */
/*
 * WebSocket: the accept key, frame header codec, the stream parser (fragmentation, masking,
 * control frames between fragments, close codes, UTF-8, size limits) and upgrades end to end
 * over loopback, plain and TLS, with a blocking client on a thread acting as the browser.
 */
#include <stdio.h>

#include "tests/unit/http_testutil.h"

static const uint8_t MASK[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* ---- pure codec ---- */

TEST(ws_accept_key_rfc_example)
{
    char out[29];
    ek_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ws_header_roundtrip)
{
    static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536, 1u << 20 };
    for (size_t i = 0; i < EK_ARRAY_SIZE(lens); i++) {
        for (int masked = 0; masked < 2; masked++) {
            uint8_t hdr[EK_WS_MAX_HEADER];
            size_t n = ek_ws_encode_header(hdr, EK_WS_BINARY, i % 2, lens[i], masked ? MASK : NULL);
            ek_ws_frame_t f;
            ASSERT_EQ(ek_ws_parse_header(hdr, n - 1, &f), 0); /* one byte short: need more */
            ASSERT_EQ(ek_ws_parse_header(hdr, n, &f), (int)n);
            ASSERT_EQ(f.len, lens[i]);
            ASSERT_EQ(f.opcode, EK_WS_BINARY);
            ASSERT_EQ(f.fin, i % 2);
            ASSERT_EQ(f.masked, masked);
            ASSERT_EQ(n, 2 + (lens[i] >= 126 ? (lens[i] > 65535 ? 8 : 2) : 0) + (masked ? 4 : 0));
            if (masked) {
                ASSERT_TRUE(memcmp(f.mask, MASK, 4) == 0);
            }
        }
    }
    /* Lengths must use the shortest form; the 64-bit form must not set the top bit. */
    const uint8_t long16[] = { 0x82, 126, 0x00, 0x05 };
    ek_ws_frame_t f;
    ASSERT_EQ(ek_ws_parse_header(long16, sizeof(long16), &f), -1);
    const uint8_t long64[] = { 0x82, 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00 };
    ASSERT_EQ(ek_ws_parse_header(long64, sizeof(long64), &f), -1);
    const uint8_t top[] = { 0x82, 127, 0x80, 0, 0, 0, 0, 1, 0, 0 };
    ASSERT_EQ(ek_ws_parse_header(top, sizeof(top), &f), -1);
}

TEST(ws_mask_offsets)
{
    uint8_t a[37], b[37];
    for (size_t i = 0; i < sizeof(a); i++) {
        a[i] = b[i] = (uint8_t)(i * 7);
    }
    ek_ws_mask(a, sizeof(a), MASK, 0);
    /* Masking in pieces at odd offsets equals masking in one go. */
    ek_ws_mask(b, 3, MASK, 0);
    ek_ws_mask(b + 3, 20, MASK, 3);
    ek_ws_mask(b + 23, 14, MASK, 23);
    ASSERT_TRUE(memcmp(a, b, sizeof(a)) == 0);
    ASSERT_EQ(a[5], (uint8_t)(35 ^ MASK[1]));
}

struct events {
    ek_buf_t log;
    int stop_after;
    int n;
};

static int record(void *user, uint8_t opcode, char *data, size_t len, uint16_t code)
{
    struct events *e = user;
    e->n++;
    ek_buf_printf(&e->log, "[%d:%u:", opcode, code);
    ek_buf_append(&e->log, data, len);
    ek_buf_puts(&e->log, "]");
    return e->stop_after && e->n >= e->stop_after;
}

/* Feeds buf whole, then byte by byte, and requires the same events and result both ways. */
static int feed_both_ways(ek_ws_parser_t proto, const ek_buf_t *in, char **log)
{
    ek_ws_parser_t p1 = proto, p2 = proto;
    struct events e1 = { EK_BUF_INIT, 0, 0 }, e2 = { EK_BUF_INIT, 0, 0 };
    char *copy = ek_xmalloc(in->len + 1);
    memcpy(copy, in->data, in->len);
    int r1 = ek_ws_parser_feed(&p1, copy, in->len, record, &e1, NULL);
    memcpy(copy, in->data, in->len);
    int r2 = 0;
    for (size_t i = 0; i < in->len && r2 == 0; i++) {
        r2 = ek_ws_parser_feed(&p2, copy + i, 1, record, &e2, NULL);
    }
    free(copy);
    ek_buf_append(&e1.log, "", 0);
    ek_buf_append(&e2.log, "", 0);
    ASSERT_EQ(r1, r2);
    ASSERT_STREQ(e1.log.data, e2.log.data);
    ek_ws_parser_free(&p1);
    ek_ws_parser_free(&p2);
    ek_buf_free(&e2.log);
    *log = e1.log.data;
    return r1;
}

static ek_ws_parser_t server_parser(size_t max)
{
    return (ek_ws_parser_t){ .max_message = max, .expect_masked = true };
}

TEST(ws_parser_rfc_example_and_fragments)
{
    /* RFC 6455 5.7: a masked "Hello". */
    const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
    ek_autobuf in = EK_BUF_INIT;
    ek_buf_append(&in, hello, sizeof(hello));
    /* "Hel" + ping + "lo" (fragmented), then an empty binary message and a pong. */
    ek_ws_encode_frame(&in, EK_WS_TEXT, false, "Hel", 3, MASK);
    ek_ws_encode_frame(&in, EK_WS_PING, true, "p1", 2, MASK);
    ek_ws_encode_frame(&in, EK_WS_CONTINUATION, false, "", 0, MASK);
    ek_ws_encode_frame(&in, EK_WS_CONTINUATION, true, "lo", 2, MASK);
    ek_ws_encode_frame(&in, EK_WS_BINARY, true, "", 0, MASK);
    ek_ws_encode_frame(&in, EK_WS_PONG, true, "", 0, MASK);
    /* A multi-byte character split across fragments is fine. */
    ek_ws_encode_frame(&in, EK_WS_TEXT, false, "\xc3", 1, MASK);
    ek_ws_encode_frame(&in, EK_WS_CONTINUATION, true, "\xa9", 1, MASK);
    ek_autobuf big = EK_BUF_INIT;
    for (int i = 0; i < 70000; i++) {
        ek_buf_putc(&big, (char)('a' + i % 26));
    }
    ek_ws_encode_frame(&in, EK_WS_BINARY, true, big.data, big.len, MASK);
    ek_autofree char *log = NULL;
    ASSERT_EQ(feed_both_ways(server_parser(0), &in, &log), 0);
    ek_autobuf want = EK_BUF_INIT;
    ek_buf_puts(&want, "[1:0:Hello][9:0:p1][1:0:Hello][2:0:][10:0:][1:0:\xc3\xa9][2:0:");
    ek_buf_append(&want, big.data, big.len);
    ek_buf_puts(&want, "]");
    ASSERT_STREQ(log, want.data);
}

TEST(ws_parser_protocol_errors)
{
    static const struct {
        const char *name;
        uint8_t opcode;
        bool fin;
        bool masked;
        uint8_t rsv;
        size_t len;
        int want;
    } cases[] = {
        { "unmasked client frame", EK_WS_TEXT, true, false, 0, 3, 1002 },
        { "rsv bit", EK_WS_TEXT, true, true, 4, 3, 1002 },
        { "unknown opcode", 0x3, true, true, 0, 3, 1002 },
        { "unknown control", 0xB, true, true, 0, 3, 1002 },
        { "fragmented ping", EK_WS_PING, false, true, 0, 3, 1002 },
        { "long ping", EK_WS_PING, true, true, 0, 126, 1002 },
        { "stray continuation", EK_WS_CONTINUATION, true, true, 0, 3, 1002 },
        { "message too big", EK_WS_BINARY, true, true, 0, 101, 1009 },
    };
    char payload[200];
    memset(payload, 'x', sizeof(payload));
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_autobuf in = EK_BUF_INIT;
        ek_ws_encode_frame(&in, cases[i].opcode, cases[i].fin, payload, cases[i].len,
                           cases[i].masked ? MASK : NULL);
        in.data[0] |= (char)(cases[i].rsv << 4);
        ek_autofree char *log = NULL;
        int r = feed_both_ways(server_parser(100), &in, &log);
        if (r != cases[i].want) {
            ek__test_fail(__FILE__, __LINE__, "%s: got %d want %d", cases[i].name, r,
                          cases[i].want);
        }
        ASSERT_STREQ(log, "");
    }
    /* A new message while a fragmented one is open. */
    ek_autobuf in = EK_BUF_INIT;
    ek_ws_encode_frame(&in, EK_WS_TEXT, false, "a", 1, MASK);
    ek_ws_encode_frame(&in, EK_WS_BINARY, true, "b", 1, MASK);
    ek_autofree char *log = NULL;
    ASSERT_EQ(feed_both_ways(server_parser(0), &in, &log), 1002);
    /* Fragments adding up past the limit. */
    ek_buf_reset(&in);
    for (int i = 0; i < 5; i++) {
        ek_ws_encode_frame(&in, i ? EK_WS_CONTINUATION : EK_WS_BINARY, false, payload, 30, MASK);
    }
    ek_autofree char *log2 = NULL;
    ASSERT_EQ(feed_both_ways(server_parser(100), &in, &log2), 1009);
    /* A server frame sent to a client parser must be unmasked; a masked one is refused. */
    ek_buf_reset(&in);
    ek_ws_encode_frame(&in, EK_WS_TEXT, true, "ok", 2, NULL);
    ek_ws_encode_frame(&in, EK_WS_TEXT, true, "no", 2, MASK);
    ek_autofree char *log3 = NULL;
    ASSERT_EQ(feed_both_ways((ek_ws_parser_t){ .expect_masked = false }, &in, &log3), 1002);
    ASSERT_STREQ(log3, "[1:0:ok]");
    /* After a failure, further input is refused. */
    ek_ws_parser_t p = server_parser(0);
    char junk[] = { (char)0x81, 0x01, 'x' };
    struct events e = { EK_BUF_INIT, 0, 0 };
    ASSERT_EQ(ek_ws_parser_feed(&p, junk, sizeof(junk), record, &e, NULL), 1002);
    ASSERT_EQ(ek_ws_parser_feed(&p, junk, sizeof(junk), record, &e, NULL), 1002);
    ek_ws_parser_free(&p);
    ek_buf_free(&e.log);
}

TEST(ws_parser_utf8_and_close_frames)
{
    static const struct {
        const char *payload;
        size_t len;
        int want;
        const char *log;
    } cases[] = {
        { "\x03\xe8"
          "bye",
          5, 0, "[8:1000:bye]" },
        { "", 0, 0, "[8:1005:]" },
        { "\x0f\xa0", 2, 0, "[8:4000:]" },
        { "\x03", 1, 1002, "" },             /* one byte: no room for a code */
        { "\x03\xed", 2, 1002, "" },         /* 1005 must never be sent */
        { "\x03\xe4", 2, 1002, "" },         /* 996 */
        { "\x13\x88", 2, 1002, "" },         /* 5000 */
        { "\x03\xe8\xff\xfe", 4, 1007, "" }, /* reason not UTF-8 */
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_autobuf in = EK_BUF_INIT;
        ek_ws_encode_frame(&in, EK_WS_CLOSE, true, cases[i].payload, cases[i].len, MASK);
        ek_autofree char *log = NULL;
        ASSERT_EQ(feed_both_ways(server_parser(0), &in, &log), cases[i].want);
        ASSERT_STREQ(log, cases[i].log);
    }
    ek_autobuf in = EK_BUF_INIT;
    ek_ws_encode_frame(&in, EK_WS_TEXT, true, "ok\xc3\x28", 4, MASK);
    ek_autofree char *log = NULL;
    ASSERT_EQ(feed_both_ways(server_parser(0), &in, &log), 1007);
    /* Binary messages are not checked. */
    ek_buf_reset(&in);
    ek_ws_encode_frame(&in, EK_WS_BINARY, true, "\xc3\x28", 2, MASK);
    ek_autofree char *log2 = NULL;
    ASSERT_EQ(feed_both_ways(server_parser(0), &in, &log2), 0);
    /* The callback can stop the parser (after a close frame, say). */
    ek_buf_reset(&in);
    ek_ws_encode_frame(&in, EK_WS_TEXT, true, "a", 1, MASK);
    ek_ws_encode_frame(&in, EK_WS_TEXT, true, "b", 1, MASK);
    ek_ws_parser_t p = server_parser(0);
    struct events e = { EK_BUF_INIT, 1, 0 };
    size_t used = 0;
    ASSERT_EQ(ek_ws_parser_feed(&p, in.data, in.len, record, &e, &used), 0);
    ASSERT_EQ(e.n, 1);
    ASSERT_EQ(used, in.len / 2); /* the second frame is left as it was, still masked */
    e.stop_after = 0;
    ASSERT_EQ(ek_ws_parser_feed(&p, in.data + used, in.len - used, record, &e, &used), 0);
    ASSERT_EQ(used, in.len / 2);
    ek_buf_append(&e.log, "", 0);
    ASSERT_STREQ(e.log.data, "[1:0:a][1:0:b]");
    ek_ws_parser_free(&p);
    ek_buf_free(&e.log);
    /* Encoding a close truncates the reason at a character boundary. */
    ek_autobuf out = EK_BUF_INIT;
    char reason[200];
    memset(reason, 'r', sizeof(reason));
    memcpy(reason + 121, "\xe2\x82\xac", 3); /* "€" across the 123-byte limit */
    reason[199] = '\0';
    ek_ws_encode_close(&out, 1000, reason, NULL);
    ASSERT_EQ(out.len, 2 + 2 + 121);
}

TEST(ws_utf8_validator)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        { "plain", true },         { "\xc3\xa9", true },
        { "\xe2\x82\xac", true },  { "\xf0\x9f\x98\x80", true },
        { "\xc0\xaf", false },     { "\xe0\x80\xaf", false },
        { "\xed\xa0\x80", false }, { "\xf4\x90\x80\x80", false },
        { "\xc3", false },         { "\x80", false },
        { "\xff", false },         { "\xf0\x9f\x98", false },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        if (ek_ws_utf8_valid((const uint8_t *)cases[i].s, strlen(cases[i].s)) != cases[i].ok) {
            ek__test_fail(__FILE__, __LINE__, "case %zu", i);
        }
    }
}

/* ---- end to end ---- */

struct wsfx {
    uv_loop_t loop;
    ek_http_server_t *srv;
    int port;
    ek_tls_config_t *tls;
    size_t max_message;
    int messages;
    uint16_t close_code;
    uint16_t codes[8];
    int n_codes;
    char close_reason[128];
    const char *protocol;
    bool ws_closed;
    bool closed;
    int rejected;
    const char *peer_cn;
    uv_timer_t timer;
    ek_ws_t *paused_ws;
    bool paused;
    int delivered_while_paused;
};

static struct wsfx W;

static void resume(uv_timer_t *t)
{
    struct wsfx *w = t->data;
    w->paused = false;
    ek_ws_pause(w->paused_ws, false);
}

static void on_message(ek_ws_t *ws, uint8_t opcode, const char *data, size_t len, void *user)
{
    struct wsfx *w = user;
    w->messages++;
    w->delivered_while_paused += w->paused;
    if (len == 8 && memcmp(data, "pause-me", 8) == 0) {
        /* Flow control: nothing more arrives until the timer resumes reading. */
        w->paused = true;
        w->paused_ws = ws;
        ek_ws_pause(ws, true);
        uv_timer_start(&w->timer, resume, 150, 0);
        return;
    }
    if (len == 8 && memcmp(data, "close-me", 8) == 0) {
        ek_ws_close(ws, EK_WS_CLOSE_GOING_AWAY, "bye");
        ASSERT_EQ(ek_ws_send(ws, EK_WS_TEXT, "late", 4), -1);
        return;
    }
    if (len == 9 && memcmp(data, "big-reply", 9) == 0) {
        char *big = ek_xmalloc(200000);
        memset(big, 'B', 200000);
        ASSERT_EQ(ek_ws_send_prefixed(ws, EK_WS_BINARY, 1, big, 200000), 0);
        free(big);
        return;
    }
    if (len == 4 && memcmp(data, "ping", 4) == 0) {
        ASSERT_EQ(ek_ws_ping(ws, "srv", 3), 0);
        return;
    }
    ASSERT_EQ(ek_ws_send(ws, opcode, data, len), 0);
}

static void on_close(ek_ws_t *ws, uint16_t code, const char *reason, void *user)
{
    struct wsfx *w = user;
    w->close_code = code;
    if (w->n_codes < 8) {
        w->codes[w->n_codes++] = code;
    }
    snprintf(w->close_reason, sizeof(w->close_reason), "%s", reason);
    w->ws_closed = true;
}

static void ws_handler(ek_http_req_t *r, void *data)
{
    struct wsfx *w = data;
    static const char *const protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
    ek_ws_options_t o = {
        .protocols = protos,
        .require_protocol = true,
        .max_message = w->max_message,
        .close_timeout_ms = 300,
    };
    static const ek_ws_callbacks_t cbs = { on_message, on_close };
    ek_error_t *err = NULL;
    const ek_tls_peer_t *peer = r->peer;
    w->peer_cn = peer ? "set" : NULL;
    ek_ws_t *ws = ek_ws_accept(r, &o, &cbs, w, &err);
    if (!ws) {
        w->rejected++;
        if (err->status == 426) {
            ek_http_add_header(r, "Sec-WebSocket-Version", "13");
        }
        ek_http_respond(r, err->status, "text/plain", ek_error_msg(err), strlen(ek_error_msg(err)));
        ek_error_free(err);
        return;
    }
    w->protocol = ek_ws_protocol(ws);
}

static void wsfx_start(struct wsfx *w, ek_tls_config_t *tls)
{
    memset(w, 0, sizeof(*w));
    ASSERT_EQ(uv_loop_init(&w->loop), 0);
    ek_http_server_options_t opts = {
        .host = "127.0.0.1", .tls = tls, .handler = ws_handler, .data = w
    };
    ek_error_t *err = NULL;
    ASSERT_OK(ek_http_server_start(&w->loop, &opts, &w->srv, &err), &err);
    w->port = ek_http_server_port(w->srv);
    w->tls = tls;
    uv_timer_init(&w->loop, &w->timer);
    w->timer.data = w;
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static void wsfx_stop(struct wsfx *w)
{
    uv_close((uv_handle_t *)&w->timer, NULL);
    ek_http_server_close(w->srv, set_flag, &w->closed);
    ek_test_run_until(&w->loop, &w->closed, 15000);
    ek_tls_config_unref(w->tls);
    ek_test_loop_finish(&w->loop);
}

/* ---- the thread-side client ---- */

struct script {
    struct wsfx *w;
    ek_tls_config_t *client_tls;
};

static const char UPGRADE[] = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: keep-alive, Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "Sec-WebSocket-Protocol: base64.channel.k8s.io\r\n"
                              "Sec-WebSocket-Protocol: v4.channel.k8s.io, v5.channel.k8s.io\r\n"
                              "\r\n";

/* Reads one frame (unmasked, from the server) into payload; returns the frame. */
static ek_ws_frame_t read_frame(ek_test_client_t *c, ek_buf_t *payload)
{
    uint8_t hdr[EK_WS_MAX_HEADER];
    size_t have = 0;
    ek_ws_frame_t f;
    int r;
    ek_test_client_read_n(c, hdr, 2);
    have = 2;
    while ((r = ek_ws_parse_header(hdr, have, &f)) == 0) {
        ek_test_client_read_n(c, hdr + have, 1);
        have++;
    }
    ASSERT_CMP(r, >, 0);
    ASSERT_FALSE(f.masked);
    ek_buf_reset(payload);
    ek_buf_reserve(payload, (size_t)f.len);
    ek_test_client_read_n(c, payload->data, (size_t)f.len);
    payload->len = (size_t)f.len;
    payload->data[payload->len] = '\0';
    return f;
}

static void send_frame(ek_test_client_t *c, uint8_t opcode, bool fin, const void *data, size_t len)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_ws_encode_frame(&b, opcode, fin, data, len, MASK);
    ek_test_client_send(c, b.data, b.len);
}

static void open_ws(ek_test_client_t *c, struct script *s, const char *first_frame_text)
{
    ASSERT_EQ(ek_test_client_open(c, s->w->port, s->client_tls, NULL), 0);
    ek_autobuf req = EK_BUF_INIT;
    ek_buf_puts(&req, UPGRADE);
    if (first_frame_text) {
        /* The first frame rides in the same write as the upgrade request. */
        ek_ws_encode_frame(&req, EK_WS_TEXT, true, first_frame_text, strlen(first_frame_text),
                           MASK);
    }
    ek_test_client_send(c, req.data, req.len);
    ek_test_response_t r;
    ASSERT_EQ(ek_test_client_response(c, &r, 5000), 0);
    ASSERT_EQ(r.status, 101);
    ASSERT_CONTAINS(r.head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT_CONTAINS(r.head, "Sec-WebSocket-Protocol: v4.channel.k8s.io\n");
    ASSERT_CONTAINS(r.head, "Upgrade: websocket");
    ek_test_response_free(&r);
}

static void expect_close(ek_test_client_t *c, uint16_t code)
{
    ek_autobuf p = EK_BUF_INIT;
    ek_ws_frame_t f = read_frame(c, &p);
    ASSERT_EQ(f.opcode, EK_WS_CLOSE);
    ASSERT_CMP(p.len, >=, 2);
    ASSERT_EQ((uint8_t)p.data[0] << 8 | (uint8_t)p.data[1], code);
}

static void expect_eof(ek_test_client_t *c)
{
    size_t n;
    ek_autofree char *rest = ek_test_client_read_all(c, &n, 5000);
    ASSERT_EQ(n, 0);
}

static void script_echo(void *arg)
{
    struct script *s = arg;
    ek_test_client_t c;
    open_ws(&c, s, "first");
    ek_autobuf p = EK_BUF_INIT;
    ek_ws_frame_t f = read_frame(&c, &p);
    ASSERT_EQ(f.opcode, EK_WS_TEXT);
    ASSERT_TRUE(f.fin);
    ASSERT_STREQ(p.data, "first");
    /* A fragmented binary message with a ping in the middle. */
    send_frame(&c, EK_WS_BINARY, false, "frag", 4);
    send_frame(&c, EK_WS_PING, true, "are you there", 13);
    f = read_frame(&c, &p);
    ASSERT_EQ(f.opcode, EK_WS_PONG);
    ASSERT_STREQ(p.data, "are you there");
    send_frame(&c, EK_WS_CONTINUATION, true, "mented", 6);
    f = read_frame(&c, &p);
    ASSERT_EQ(f.opcode, EK_WS_BINARY);
    ASSERT_STREQ(p.data, "fragmented");
    /* A large server message with the channel prefix, and a server ping. */
    send_frame(&c, EK_WS_TEXT, true, "big-reply", 9);
    f = read_frame(&c, &p);
    ASSERT_EQ(f.len, 200001);
    ASSERT_EQ(p.data[0], 1);
    ASSERT_EQ(p.data[200000], 'B');
    send_frame(&c, EK_WS_TEXT, true, "ping", 4);
    f = read_frame(&c, &p);
    ASSERT_EQ(f.opcode, EK_WS_PING);
    ASSERT_STREQ(p.data, "srv");
    /* The client closes: the server echoes the code and closes the connection. */
    ek_autobuf cl = EK_BUF_INIT;
    ek_ws_encode_close(&cl, 1000, "done", MASK);
    ek_test_client_send(&c, cl.data, cl.len);
    expect_close(&c, 1000);
    expect_eof(&c);
    ek_test_client_close(&c);
}

TEST(ws_upgrade_echo_fragments_ping_close)
{
    wsfx_start(&W, NULL);
    struct script s = { &W, NULL };
    ek_test_run_thread(&W.loop, script_echo, &s);
    ek_test_run_until(&W.loop, &W.ws_closed, 5000);
    ASSERT_EQ(W.close_code, 1000);
    ASSERT_STREQ(W.close_reason, "done");
    ASSERT_STREQ(W.protocol, "v4.channel.k8s.io");
    ASSERT_EQ(W.messages, 4);
    wsfx_stop(&W);
}

static void script_server_close(void *arg)
{
    struct script *s = arg;
    ek_test_client_t c;
    open_ws(&c, s, NULL);
    send_frame(&c, EK_WS_TEXT, true, "close-me", 8);
    expect_close(&c, 1001);
    ek_autobuf cl = EK_BUF_INIT;
    ek_ws_encode_close(&cl, 1001, "", MASK);
    ek_test_client_send(&c, cl.data, cl.len);
    expect_eof(&c);
    ek_test_client_close(&c);
    /* A peer that never answers the close is cut off after the close timeout. */
    open_ws(&c, s, NULL);
    send_frame(&c, EK_WS_TEXT, true, "close-me", 8);
    expect_close(&c, 1001);
    expect_eof(&c);
    ek_test_client_close(&c);
}

TEST(ws_server_initiated_close_and_timeout)
{
    wsfx_start(&W, NULL);
    struct script s = { &W, NULL };
    ek_test_run_thread(&W.loop, script_server_close, &s);
    ek_test_run_until(&W.loop, &W.ws_closed, 5000);
    ASSERT_EQ(W.close_code, 1001);
    ASSERT_STREQ(W.close_reason, "bye");
    wsfx_stop(&W);
}

static void script_violations(void *arg)
{
    struct script *s = arg;
    ek_test_client_t c;
    open_ws(&c, s, NULL);
    ek_autobuf b = EK_BUF_INIT;
    ek_ws_encode_frame(&b, EK_WS_TEXT, true, "naked", 5, NULL); /* clients must mask */
    ek_test_client_send(&c, b.data, b.len);
    expect_close(&c, 1002);
    expect_eof(&c);
    ek_test_client_close(&c);
    open_ws(&c, s, NULL);
    char big[64];
    memset(big, 'x', sizeof(big));
    send_frame(&c, EK_WS_BINARY, true, big, sizeof(big)); /* over the 32-byte limit */
    expect_close(&c, 1009);
    expect_eof(&c);
    ek_test_client_close(&c);
    /* Dropping the connection without a close frame. */
    open_ws(&c, s, NULL);
    send_frame(&c, EK_WS_TEXT, true, "hi", 2);
    ek_autobuf p = EK_BUF_INIT;
    read_frame(&c, &p);
    ek_test_client_close(&c);
}

TEST(ws_violations_close_with_codes)
{
    wsfx_start(&W, NULL);
    W.max_message = 32;
    struct script s = { &W, NULL };
    ek_test_run_thread(&W.loop, script_violations, &s);
    while (ek_http_server_connections(W.srv) > 0) {
        uv_run(&W.loop, UV_RUN_ONCE);
    }
    /* The order of the closes is up to the scheduler; the set of codes is not. */
    ASSERT_EQ(W.n_codes, 3);
    int sum = 0;
    for (int i = 0; i < W.n_codes; i++) {
        sum += W.codes[i] == 1002 ? 1 : W.codes[i] == 1009 ? 10 : W.codes[i] == 1006 ? 100 : 0;
    }
    ASSERT_EQ(sum, 111);
    wsfx_stop(&W);
}

static void script_bad_handshakes(void *arg)
{
    struct script *s = arg;
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
          400 },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
          "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
          426 },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
          "Sec-WebSocket-Protocol: v1.channel.k8s.io\r\n\r\n",
          400 },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
          400 },
        { "GET /ws HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n\r\n",
          400 },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_test_client_t c;
        ASSERT_EQ(ek_test_client_open(&c, s->w->port, s->client_tls, NULL), 0);
        ek_test_client_sends(&c, cases[i].req);
        ek_test_response_t r;
        ASSERT_EQ(ek_test_client_response(&c, &r, 5000), 0);
        ASSERT_EQ(r.status, cases[i].status);
        if (r.status == 426) {
            ASSERT_CONTAINS(r.head, "Sec-WebSocket-Version: 13");
        }
        ek_test_response_free(&r);
        ek_test_client_close(&c);
    }
}

TEST(ws_bad_handshakes_are_refused)
{
    wsfx_start(&W, NULL);
    struct script s = { &W, NULL };
    ek_test_run_thread(&W.loop, script_bad_handshakes, &s);
    ASSERT_EQ(W.rejected, 5);
    wsfx_stop(&W);
}

TEST(ws_over_tls)
{
    ek_test_cert_t ca, server;
    ek_test_make_ca(&ca, "CN=ws-ca");
    ek_test_make_cert(&server, &ca, "CN=ws-server", "IP:127.0.0.1");
    ek_error_t *err = NULL;
    ek_tls_config_t *stls = ek_tls_server_config_new(server.cert_pem, server.key_pem, NULL,
                                                     EK_TLS_CLIENT_CERT_NONE, &err);
    ASSERT_NOT_NULL(stls);
    ek_tls_config_t *ctls = ek_tls_client_config_new(ca.cert_pem, NULL, NULL, false, &err);
    ASSERT_NOT_NULL(ctls);
    wsfx_start(&W, stls);
    struct script s = { &W, ctls };
    ek_test_run_thread(&W.loop, script_echo, &s);
    ek_test_run_until(&W.loop, &W.ws_closed, 5000);
    ASSERT_EQ(W.close_code, 1000);
    ek_tls_config_unref(ctls);
    wsfx_stop(&W);
    ek_test_cert_free(&ca);
    ek_test_cert_free(&server);
}

static void script_pause(void *arg)
{
    struct script *s = arg;
    ek_test_client_t c;
    open_ws(&c, s, NULL);
    ek_autobuf b = EK_BUF_INIT;
    ek_ws_encode_frame(&b, EK_WS_TEXT, true, "pause-me", 8, MASK);
    ek_ws_encode_frame(&b, EK_WS_TEXT, true, "m1", 2, MASK);
    ek_ws_encode_frame(&b, EK_WS_BINARY, true, "m2", 2, MASK);
    ek_test_client_send(&c, b.data, b.len);
    usleep(30 * 1000);
    send_frame(&c, EK_WS_TEXT, true, "m3", 2);
    ek_autobuf p = EK_BUF_INIT;
    static const char *const want[] = { "m1", "m2", "m3" };
    for (int i = 0; i < 3; i++) {
        read_frame(&c, &p);
        ASSERT_STREQ(p.data, want[i]);
    }
    ek_autobuf cl = EK_BUF_INIT;
    ek_ws_encode_close(&cl, 1000, "", MASK);
    ek_test_client_send(&c, cl.data, cl.len);
    expect_close(&c, 1000);
    expect_eof(&c);
    ek_test_client_close(&c);
}

TEST(ws_pause_holds_messages_until_resumed)
{
    wsfx_start(&W, NULL);
    struct script s = { &W, NULL };
    ek_test_run_thread(&W.loop, script_pause, &s);
    ASSERT_EQ(W.messages, 4);
    ASSERT_EQ(W.delivered_while_paused, 0);
    wsfx_stop(&W);
}
