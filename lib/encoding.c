/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 encoders/decoders and the random source. */
#include "lib/encoding.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const void *data, size_t len, const char *alpha, bool pad)
{
    const unsigned char *p = data;
    char *out = ek_xmalloc(4 * ((len + 2) / 3) + 1);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (i + 1 < len) {
            out[o++] = alpha[(v >> 6) & 63];
        } else if (pad) {
            out[o++] = '=';
        }
        if (pad) {
            out[o++] = '=';
        }
    }
    out[o] = '\0';
    return out;
}

char *ek_base64_encode(const void *data, size_t len)
{
    return encode(data, len, std_alpha, true);
}

char *ek_base64url_encode(const void *data, size_t len)
{
    return encode(data, len, url_alpha, false);
}

static int value_of(char c, bool url)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == (url ? '-' : '+')) {
        return 62;
    }
    if (c == (url ? '_' : '/')) {
        return 63;
    }
    return -1;
}

static char *decode(const char *s, size_t *len, bool url)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == '=') {
        n--;
    }
    if (n % 4 == 1) {
        return NULL;
    }
    char *out = ek_xmalloc(n * 3 / 4 + 2);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value_of(s[i], url);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (len) {
        *len = o;
    }
    return out;
}

char *ek_base64_decode(const char *s, size_t *len)
{
    return decode(s, len, false);
}

char *ek_base64url_decode(const char *s, size_t *len)
{
    return decode(s, len, true);
}

void ek_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            fprintf(stderr, "edgek: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
}
