/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the WebSocket frame parser on arbitrary bytes. The first byte picks the
 * side (masked or not), the message limit and how the rest is cut into pieces. Oracles: the
 * same events and result whether the input comes whole or in pieces (optionally stopping the
 * parser after every event and feeding the rest again, as pausing does); every text message and
 * close reason reported is valid UTF-8 within the limit; and every header the parser accepts
 * re-encodes to the same bytes.
 */
#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct log {
    ek_buf_t text;
    size_t max;
    bool stop_each; /* stop the parser after every event and feed the rest again */
};

static int record(void *user, uint8_t opcode, char *data, size_t len, uint16_t code)
{
    struct log *l = user;
    if (opcode == EK_WS_TEXT || opcode == EK_WS_CLOSE) {
        ek_assert(ek_ws_utf8_valid((const uint8_t *)data, len));
    }
    if (opcode == EK_WS_TEXT || opcode == EK_WS_BINARY) {
        ek_assert(len <= l->max);
    } else {
        ek_assert(len <= 125);
    }
    ek_buf_printf(&l->text, "%u/%u/%zu:", opcode, code, len);
    ek_buf_append(&l->text, data, len);
    return l->stop_each;
}

static int run(ek_ws_parser_t proto, const uint8_t *data, size_t size, uint32_t seed, struct log *l)
{
    ek_ws_parser_t p = proto;
    char *copy = ek_xmalloc(size + 1); /* the parser unmasks in place */
    memcpy(copy, data, size);
    int r = 0;
    size_t off = 0;
    while (off < size && r == 0) {
        size_t n = size - off;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            n = EK_MIN(n, 1 + (seed >> 16) % 23);
        }
        size_t used;
        r = ek_ws_parser_feed(&p, copy + off, n, record, l, &used);
        ek_assert(used <= n && (used == n || r != 0 || (l->stop_each && used > 0)));
        off += used;
    }
    free(copy);
    ek_ws_parser_free(&p);
    return r;
}

static void check_header_roundtrip(const uint8_t *data, size_t size)
{
    ek_ws_frame_t f;
    int n = ek_ws_parse_header(data, size, &f);
    if (n <= 0) {
        return;
    }
    uint8_t out[EK_WS_MAX_HEADER];
    size_t m = ek_ws_encode_header(out, f.opcode, f.fin, f.len, f.masked ? f.mask : NULL);
    out[0] |= (uint8_t)(f.rsv << 4);
    ek_assert(m == (size_t)n && memcmp(out, data, m) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const size_t limits[] = { 0, 16, 256, 4096 };
    ek_ws_parser_t proto = {
        .expect_masked = data[0] & 1,
        .max_message = limits[(data[0] >> 1) & 3],
    };
    uint32_t seed = data[0] >> 3;
    data++, size--;
    check_header_roundtrip(data, size);
    size_t max = proto.max_message ? proto.max_message : EK_WS_DEFAULT_MAX_MESSAGE;
    struct log whole = { EK_BUF_INIT, max, false };
    struct log pieces = { EK_BUF_INIT, max, (seed & 2) != 0 };
    int r1 = run(proto, data, size, 0, &whole);
    int r2 = run(proto, data, size, seed | 1, &pieces);
    ek_assert(r1 == r2);
    ek_assert(
        whole.text.len == pieces.text.len &&
        (whole.text.len == 0 || memcmp(whole.text.data, pieces.text.data, whole.text.len) == 0));
    ek_assert(r1 == 0 || r1 == EK_WS_CLOSE_PROTOCOL_ERROR || r1 == EK_WS_CLOSE_INVALID_DATA ||
              r1 == EK_WS_CLOSE_TOO_BIG);
    ek_buf_free(&whole.text);
    ek_buf_free(&pieces.text);
    return 0;
}
