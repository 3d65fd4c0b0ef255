/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3.1 framing: the header dictionary, frame encoding and parsing (data, control frames
 * with their fixed fields, malformed and partial input), header blocks compressed with one
 * zlib stream per direction across several blocks; and the exec channel protocol's pure
 * parts (status messages with exit codes, resize messages).
 */
#include <zlib.h>

#include "node/kubelet-internal.h"
#include "tests/unit/test.h"

TEST(spdy_dictionary)
{
    size_t n;
    const uint8_t *d = ek_spdy_dictionary(&n);
    ASSERT_EQ(n, 1423);
    static const uint8_t head[] = { 0, 0, 0, 7, 'o', 'p', 't', 'i', 'o', 'n', 's', 0, 0, 0, 4 };
    ASSERT_TRUE(memcmp(d, head, sizeof(head)) == 0);
    ASSERT_TRUE(memcmp(d + n - 7, ",enq=0.", 7) == 0);
}

TEST(spdy_frames_roundtrip)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_spdy_encode_data(&b, 5, EK_SPDY_FLAG_FIN, "hello", 5);
    ek_spdy_encode_rst(&b, 7, EK_SPDY_RST_CANCEL);
    ek_spdy_encode_ping(&b, 0xdeadbeef);
    ek_spdy_encode_goaway(&b, 9, 0);
    const uint8_t *p = (const uint8_t *)b.data;
    size_t left = b.len;
    ek_spdy_frame_t f;
    long n = ek_spdy_parse(p, left, 1 << 20, &f);
    ASSERT_EQ(n, 13);
    ASSERT_TRUE(!f.control);
    ASSERT_EQ(f.stream_id, 5);
    ASSERT_EQ(f.flags, EK_SPDY_FLAG_FIN);
    ASSERT_TRUE(f.len == 5 && memcmp(f.payload, "hello", 5) == 0);
    /* one byte short of the frame: more is needed */
    ASSERT_EQ(ek_spdy_parse(p, 12, 1 << 20, &f), 0);
    ASSERT_EQ(ek_spdy_parse(p, 7, 1 << 20, &f), 0);
    /* over the size limit */
    ASSERT_EQ(ek_spdy_parse(p, left, 4, &f), -1);
    p += n;
    left -= (size_t)n;
    n = ek_spdy_parse(p, left, 1 << 20, &f);
    ASSERT_EQ(n, 16);
    ASSERT_TRUE(f.control && f.type == EK_SPDY_RST_STREAM && f.version == 3);
    ASSERT_EQ(f.stream_id, 7);
    ASSERT_EQ(f.status, EK_SPDY_RST_CANCEL);
    p += n;
    left -= (size_t)n;
    n = ek_spdy_parse(p, left, 1 << 20, &f);
    ASSERT_EQ(n, 12);
    ASSERT_EQ(f.type, EK_SPDY_PING);
    ASSERT_EQ(f.value, 0xdeadbeef);
    p += n;
    left -= (size_t)n;
    n = ek_spdy_parse(p, left, 1 << 20, &f);
    ASSERT_EQ(n, 16);
    ASSERT_EQ(f.type, EK_SPDY_GOAWAY);
    ASSERT_EQ(f.stream_id, 9);
    ASSERT_EQ((size_t)n, left);
}

TEST(spdy_malformed)
{
    ek_spdy_frame_t f;
    /* control frame of SPDY/2 */
    const uint8_t v2[] = { 0x80, 0x02, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
    ASSERT_EQ(ek_spdy_parse(v2, sizeof(v2), 1 << 20, &f), -1);
    /* data on stream 0 */
    const uint8_t d0[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
    ASSERT_EQ(ek_spdy_parse(d0, sizeof(d0), 1 << 20, &f), -1);
    /* RST_STREAM with a short payload */
    const uint8_t rst[] = { 0x80, 0x03, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 1 };
    ASSERT_EQ(ek_spdy_parse(rst, sizeof(rst), 1 << 20, &f), -1);
    /* SYN_STREAM on stream 0 */
    const uint8_t syn[] = { 0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0a, 0, 0, 0, 0,
                            0,    0,    0,    0,    0,    0,    0,    0,    0, 0 };
    ASSERT_EQ(ek_spdy_parse(syn, sizeof(syn), 1 << 20, &f), -1);
    /* header blocks: a length past the end, an empty name */
    const uint8_t past[] = { 0, 0, 0, 1, 0, 0, 0, 9, 'a' };
    ek_spdy_headers_t h;
    ASSERT_EQ(ek_spdy_headers_decode(past, sizeof(past), &h), -1);
    const uint8_t empty[] = { 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
    ASSERT_EQ(ek_spdy_headers_decode(empty, sizeof(empty), &h), -1);
}

TEST(spdy_header_compression_across_blocks)
{
    ek_spdy_zstream_t *out = ek_spdy_zstream_new(true);
    ek_spdy_zstream_t *in = ek_spdy_zstream_new(false);
    static const char *const types[] = { "error", "stdin", "stdout", "resize" };
    for (int i = 0; i < 4; i++) {
        ek_spdy_headers_t h = { 0 };
        ek_spdy_headers_add(&h, "streamtype", types[i]);
        ek_spdy_headers_add(&h, "port", "8080");
        ek_autobuf frame = EK_BUF_INIT;
        ek_spdy_encode_syn_stream(&frame, out, (uint32_t)(2 * i + 1), 0, &h);
        ek_spdy_headers_free(&h);
        ek_spdy_frame_t f;
        ASSERT_EQ(ek_spdy_parse((const uint8_t *)frame.data, frame.len, 1 << 20, &f),
                  (long)frame.len);
        ASSERT_EQ(f.type, EK_SPDY_SYN_STREAM);
        ASSERT_EQ(f.stream_id, (uint32_t)(2 * i + 1));
        ek_spdy_headers_t got;
        ek_error_t *err = NULL;
        ASSERT_OK(ek_spdy_inflate_headers(in, f.headers, f.headers_len, &got, &err), &err);
        ASSERT_STREQ(ek_spdy_headers_get(&got, "streamtype"), types[i]);
        ASSERT_STREQ(ek_spdy_headers_get(&got, "PORT"), "8080");
        ek_spdy_headers_free(&got);
    }
    /* the first block starts a zlib stream that names the dictionary (FDICT) */
    ek_spdy_zstream_t *fresh = ek_spdy_zstream_new(true);
    ek_spdy_headers_t none = { 0 };
    ek_autobuf b = EK_BUF_INIT;
    ek_spdy_deflate_headers(fresh, &none, &b);
    ASSERT_TRUE(b.len > 6 && ((uint8_t)b.data[1] & 0x20));
    size_t dl;
    const uint8_t *d = ek_spdy_dictionary(&dl);
    uLong id = adler32(adler32(0, NULL, 0), d, (uInt)dl);
    const uint8_t *p = (const uint8_t *)b.data + 2;
    ASSERT_EQ((uLong)p[0] << 24 | (uLong)p[1] << 16 | (uLong)p[2] << 8 | p[3], id);
    /* garbage does not inflate */
    ek_spdy_zstream_t *in2 = ek_spdy_zstream_new(false);
    ek_spdy_headers_t junk;
    ek_error_t *err = NULL;
    ASSERT_EQ(ek_spdy_inflate_headers(in2, (const uint8_t *)"garbage!", 8, &junk, &err), -1);
    ek_error_free(err);
    ek_spdy_zstream_free(in2);
    ek_spdy_zstream_free(fresh);
    ek_spdy_zstream_free(out);
    ek_spdy_zstream_free(in);
}

TEST(exec_status_messages)
{
    json_t *ok = ek__kl_exec_status(0, NULL, NULL);
    ASSERT_STREQ(ek_json_str(ok, "status", NULL), "Success");
    json_decref(ok);
    json_t *three = ek__kl_exec_status(3, NULL, NULL);
    ASSERT_STREQ(ek_json_str(three, "status", NULL), "Failure");
    ASSERT_STREQ(ek_json_str(three, "reason", NULL), "NonZeroExitCode");
    json_t *cause = json_array_get(ek_json_path(three, "details", "causes", NULL), 0);
    ASSERT_STREQ(ek_json_str(cause, "reason", NULL), "ExitCode");
    ASSERT_STREQ(ek_json_str(cause, "message", NULL), "3");
    json_decref(three);
    json_t *bad = ek__kl_exec_status(1, "InternalError", "no such command");
    ASSERT_STREQ(ek_json_str(bad, "message", NULL), "no such command");
    json_decref(bad);
}

TEST(exec_resize_messages)
{
    unsigned short cols = 0, rows = 0;
    const char *m = "{\"Width\":120,\"Height\":40}";
    ASSERT_EQ(ek__kl_parse_resize(m, strlen(m), &cols, &rows), 0);
    ASSERT_EQ(cols, 120);
    ASSERT_EQ(rows, 40);
    ASSERT_EQ(ek__kl_parse_resize("[1,2]", 5, &cols, &rows), -1);
    ASSERT_EQ(ek__kl_parse_resize("{\"Width\":70000,\"Height\":1}", 26, &cols, &rows), -1);
}
