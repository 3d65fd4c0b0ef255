/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the SPDY/3.1 frame parser and header blocks on arbitrary bytes, parsed as
 * a stream of frames (as the kubelet does) with each header block inflated by one
 * connection-wide zlib stream. Oracles: a parsed frame never claims more bytes than given or
 * fewer than its header, payload and header pointers stay in the frame, and a header block
 * that decodes re-encodes to at most as many bytes (trailing bytes are ignored).
 */
#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ek_spdy_zstream_t *z = ek_spdy_zstream_new(false);
    size_t off = 0;
    while (off < size) {
        ek_spdy_frame_t f;
        long n = ek_spdy_parse(data + off, size - off, 1 << 16, &f);
        if (n <= 0) {
            break;
        }
        ek_assert((size_t)n <= size - off && n >= EK_SPDY_HEADER_LEN);
        ek_assert(f.payload >= data + off && f.payload + f.len <= data + off + n);
        if (f.headers) {
            ek_assert(f.headers + f.headers_len <= data + off + n);
            ek_spdy_headers_t h;
            ek_error_t *err = NULL;
            if (ek_spdy_inflate_headers(z, f.headers, f.headers_len, &h, &err) == 0) {
                ek_spdy_headers_free(&h);
            } else {
                ek_error_free(err);
            }
        }
        off += (size_t)n;
    }
    /* uncompressed blocks: decode, encode, compare */
    ek_spdy_headers_t h;
    if (ek_spdy_headers_decode(data, size, &h) == 0) {
        ek_buf_t b = EK_BUF_INIT;
        ek_spdy_headers_encode(&h, &b);
        ek_assert(b.len <= size);
        ek_spdy_headers_free(&h);
        ek_buf_free(&b);
    }
    ek_spdy_zstream_free(z);
    return 0;
}
