/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3.1 frames and header blocks (lib/spdy.h). The header dictionary is defined by the
 * protocol as a list of length-prefixed words (32-bit big-endian lengths) followed by a run
 * of plain text; it is built from that description once.
 */
#include <errno.h>
#include <pthread.h>
#include <strings.h>
#include <zlib.h>

#include "lib/spdy.h"

#define MAX_PAIRS        1024
#define MAX_HEADER_BYTES (256 * 1024)

/* ---- dictionary ---- */

static const char *const dict_words[] = {
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
};

static const char dict_tail[] =
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information"
    "204 No Content"
    "301 Moved Permanently"
    "400 Bad Request"
    "401 Unauthorized"
    "403 Forbidden"
    "404 Not Found"
    "500 Internal Server Error"
    "501 Not Implemented"
    "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static uint8_t dict_bytes[1600];
static size_t dict_len;
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void dict_build(void)
{
    size_t n = 0;
    for (size_t i = 0; i < EK_ARRAY_SIZE(dict_words); i++) {
        size_t l = strlen(dict_words[i]);
        put32(dict_bytes + n, (uint32_t)l);
        memcpy(dict_bytes + n + 4, dict_words[i], l);
        n += 4 + l;
    }
    memcpy(dict_bytes + n, dict_tail, sizeof(dict_tail) - 1);
    dict_len = n + sizeof(dict_tail) - 1;
}

const uint8_t *ek_spdy_dictionary(size_t *len)
{
    pthread_once(&dict_once, dict_build);
    *len = dict_len;
    return dict_bytes;
}

/* ---- frames ---- */

long ek_spdy_parse(const uint8_t *data, size_t len, size_t max_payload, ek_spdy_frame_t *f)
{
    if (len < EK_SPDY_HEADER_LEN) {
        return 0;
    }
    memset(f, 0, sizeof(*f));
    uint32_t w0 = get32(data);
    f->flags = data[4];
    f->len = (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
    if (f->len > max_payload) {
        return -1;
    }
    f->control = (w0 & 0x80000000u) != 0;
    if (!f->control) {
        f->stream_id = w0 & 0x7fffffffu;
        if (f->stream_id == 0) {
            return -1;
        }
    } else {
        f->version = (uint16_t)((w0 >> 16) & 0x7fff);
        f->type = (uint16_t)(w0 & 0xffff);
        if (f->version != 3) {
            return -1;
        }
    }
    if (len - EK_SPDY_HEADER_LEN < f->len) {
        return 0;
    }
    const uint8_t *p = data + EK_SPDY_HEADER_LEN;
    f->payload = p;
    if (!f->control) {
        return (long)(EK_SPDY_HEADER_LEN + f->len);
    }
    switch (f->type) {
    case EK_SPDY_SYN_STREAM:
        if (f->len < 10) {
            return -1;
        }
        f->stream_id = get32(p) & 0x7fffffffu;
        f->assoc_id = get32(p + 4) & 0x7fffffffu;
        f->priority = p[8] >> 5;
        f->headers = p + 10;
        f->headers_len = f->len - 10;
        break;
    case EK_SPDY_SYN_REPLY:
    case EK_SPDY_HEADERS:
        if (f->len < 4) {
            return -1;
        }
        f->stream_id = get32(p) & 0x7fffffffu;
        f->headers = p + 4;
        f->headers_len = f->len - 4;
        break;
    case EK_SPDY_RST_STREAM:
    case EK_SPDY_WINDOW_UPDATE:
        if (f->len != 8) {
            return -1;
        }
        f->stream_id = get32(p) & 0x7fffffffu;
        f->status = get32(p + 4);
        f->value = f->status & 0x7fffffffu;
        break;
    case EK_SPDY_PING:
        if (f->len != 4) {
            return -1;
        }
        f->value = get32(p);
        return (long)(EK_SPDY_HEADER_LEN + f->len);
    case EK_SPDY_GOAWAY:
        if (f->len != 8) {
            return -1;
        }
        f->stream_id = get32(p) & 0x7fffffffu;
        f->status = get32(p + 4);
        return (long)(EK_SPDY_HEADER_LEN + f->len);
    case EK_SPDY_SETTINGS:
        if (f->len < 4 || (uint64_t)get32(p) * 8 != f->len - 4) {
            return -1;
        }
        return (long)(EK_SPDY_HEADER_LEN + f->len);
    default:
        return (long)(EK_SPDY_HEADER_LEN + f->len);
    }
    if (f->stream_id == 0) {
        return -1;
    }
    return (long)(EK_SPDY_HEADER_LEN + f->len);
}

static void put_ctrl_header(ek_buf_t *out, uint16_t type, uint8_t flags, uint32_t len)
{
    uint8_t h[8];
    put32(h, 0x80000000u | 3u << 16 | type);
    put32(h + 4, (uint32_t)flags << 24 | (len & 0xffffff));
    ek_buf_append(out, h, 8);
}

void ek_spdy_encode_data(ek_buf_t *out, uint32_t stream_id, uint8_t flags, const void *data,
                         size_t len)
{
    uint8_t h[8];
    put32(h, stream_id & 0x7fffffffu);
    put32(h + 4, (uint32_t)flags << 24 | ((uint32_t)len & 0xffffff));
    ek_buf_append(out, h, 8);
    if (len) {
        ek_buf_append(out, data, len);
    }
}

static void encode_with_headers(ek_buf_t *out, ek_spdy_zstream_t *z, uint16_t type,
                                uint32_t stream_id, uint8_t flags, const ek_spdy_headers_t *h)
{
    ek_autobuf block = EK_BUF_INIT;
    ek_spdy_deflate_headers(z, h, &block);
    size_t fixed = type == EK_SPDY_SYN_STREAM ? 10 : 4;
    put_ctrl_header(out, type, flags, (uint32_t)(fixed + block.len));
    uint8_t f[10] = { 0 };
    put32(f, stream_id & 0x7fffffffu);
    ek_buf_append(out, f, fixed);
    ek_buf_append(out, block.data, block.len);
}

void ek_spdy_encode_syn_stream(ek_buf_t *out, ek_spdy_zstream_t *z, uint32_t stream_id,
                               uint8_t flags, const ek_spdy_headers_t *h)
{
    encode_with_headers(out, z, EK_SPDY_SYN_STREAM, stream_id, flags, h);
}

void ek_spdy_encode_syn_reply(ek_buf_t *out, ek_spdy_zstream_t *z, uint32_t stream_id,
                              uint8_t flags, const ek_spdy_headers_t *h)
{
    encode_with_headers(out, z, EK_SPDY_SYN_REPLY, stream_id, flags, h);
}

static void encode_two(ek_buf_t *out, uint16_t type, uint32_t a, uint32_t b)
{
    put_ctrl_header(out, type, 0, 8);
    uint8_t p[8];
    put32(p, a);
    put32(p + 4, b);
    ek_buf_append(out, p, 8);
}

void ek_spdy_encode_rst(ek_buf_t *out, uint32_t stream_id, uint32_t status)
{
    encode_two(out, EK_SPDY_RST_STREAM, stream_id & 0x7fffffffu, status);
}

void ek_spdy_encode_goaway(ek_buf_t *out, uint32_t last_good, uint32_t status)
{
    encode_two(out, EK_SPDY_GOAWAY, last_good & 0x7fffffffu, status);
}

void ek_spdy_encode_ping(ek_buf_t *out, uint32_t id)
{
    put_ctrl_header(out, EK_SPDY_PING, 0, 4);
    uint8_t p[4];
    put32(p, id);
    ek_buf_append(out, p, 4);
}

/* ---- header blocks ---- */

void ek_spdy_headers_add(ek_spdy_headers_t *h, const char *name, const char *value)
{
    h->names = ek_xrealloc(h->names, (h->n + 1) * sizeof(char *));
    h->values = ek_xrealloc(h->values, (h->n + 1) * sizeof(char *));
    h->value_lens = ek_xrealloc(h->value_lens, (h->n + 1) * sizeof(size_t));
    h->names[h->n] = ek_xstrdup(name);
    h->values[h->n] = ek_xstrdup(value);
    h->value_lens[h->n] = strlen(value);
    h->n++;
}

const char *ek_spdy_headers_get(const ek_spdy_headers_t *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->names[i], name) == 0) {
            return h->values[i];
        }
    }
    return NULL;
}

void ek_spdy_headers_free(ek_spdy_headers_t *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->names[i]);
        free(h->values[i]);
    }
    free(h->names);
    free(h->values);
    free(h->value_lens);
    memset(h, 0, sizeof(*h));
}

void ek_spdy_headers_encode(const ek_spdy_headers_t *h, ek_buf_t *out)
{
    uint8_t n[4];
    put32(n, (uint32_t)h->n);
    ek_buf_append(out, n, 4);
    for (size_t i = 0; i < h->n; i++) {
        size_t nl = strlen(h->names[i]);
        put32(n, (uint32_t)nl);
        ek_buf_append(out, n, 4);
        ek_buf_append(out, h->names[i], nl);
        put32(n, (uint32_t)h->value_lens[i]);
        ek_buf_append(out, n, 4);
        ek_buf_append(out, h->values[i], h->value_lens[i]);
    }
}

int ek_spdy_headers_decode(const uint8_t *data, size_t len, ek_spdy_headers_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 4) {
        return -1;
    }
    uint32_t n = get32(data);
    if (n > MAX_PAIRS) {
        return -1;
    }
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *part[2];
        uint32_t plen[2];
        for (int k = 0; k < 2; k++) {
            if (len - off < 4) {
                goto bad;
            }
            plen[k] = get32(data + off);
            off += 4;
            if (len - off < plen[k]) {
                goto bad;
            }
            part[k] = data + off;
            off += plen[k];
        }
        if (plen[0] == 0) {
            goto bad;
        }
        out->names = ek_xrealloc(out->names, (out->n + 1) * sizeof(char *));
        out->values = ek_xrealloc(out->values, (out->n + 1) * sizeof(char *));
        out->value_lens = ek_xrealloc(out->value_lens, (out->n + 1) * sizeof(size_t));
        out->names[out->n] = ek_xstrndup((const char *)part[0], plen[0]);
        for (char *c = out->names[out->n]; *c; c++) {
            if (*c >= 'A' && *c <= 'Z') {
                *c = (char)(*c - 'A' + 'a');
            }
        }
        char *v = ek_xmalloc(plen[1] + 1);
        memcpy(v, part[1], plen[1]);
        v[plen[1]] = '\0';
        out->values[out->n] = v;
        out->value_lens[out->n] = plen[1];
        out->n++;
    }
    return 0;
bad:
    ek_spdy_headers_free(out);
    return -1;
}

struct ek_spdy_zstream {
    z_stream z;
    bool deflate;
};

ek_spdy_zstream_t *ek_spdy_zstream_new(bool deflate)
{
    ek_spdy_zstream_t *s = ek_new(ek_spdy_zstream_t);
    s->deflate = deflate;
    size_t dl;
    const uint8_t *d = ek_spdy_dictionary(&dl);
    if (deflate) {
        int rc = deflateInit(&s->z, Z_BEST_COMPRESSION);
        ek_assert(rc == Z_OK); /* only fails without memory */
        rc = deflateSetDictionary(&s->z, d, (uInt)dl);
        ek_assert(rc == Z_OK);
    } else {
        int rc = inflateInit(&s->z);
        ek_assert(rc == Z_OK);
    }
    return s;
}

void ek_spdy_zstream_free(ek_spdy_zstream_t *s)
{
    if (!s) {
        return;
    }
    if (s->deflate) {
        deflateEnd(&s->z);
    } else {
        inflateEnd(&s->z);
    }
    free(s);
}

int ek_spdy_inflate_headers(ek_spdy_zstream_t *s, const uint8_t *data, size_t len,
                            ek_spdy_headers_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    ek_autobuf plain = EK_BUF_INIT;
    s->z.next_in = (Bytef *)(uintptr_t)data;
    s->z.avail_in = (uInt)len;
    uint8_t chunk[4096];
    for (;;) {
        s->z.next_out = chunk;
        s->z.avail_out = sizeof(chunk);
        int rc = inflate(&s->z, Z_SYNC_FLUSH);
        if (rc == Z_NEED_DICT) {
            size_t dl;
            const uint8_t *d = ek_spdy_dictionary(&dl);
            if (inflateSetDictionary(&s->z, d, (uInt)dl) != Z_OK) {
                return ek_error_make(err, EPROTO, "spdy: header block uses an unknown dictionary");
            }
            continue;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) {
            return ek_error_make(err, EPROTO, "spdy: bad compressed header block: %s",
                                 s->z.msg ? s->z.msg : "zlib error");
        }
        size_t got = sizeof(chunk) - s->z.avail_out;
        ek_buf_append(&plain, chunk, got);
        if (plain.len > MAX_HEADER_BYTES) {
            return ek_error_make(err, EPROTO, "spdy: header block too large");
        }
        if (s->z.avail_in == 0 && got < sizeof(chunk)) {
            break;
        }
        if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && got == 0)) {
            break;
        }
    }
    if (ek_spdy_headers_decode((const uint8_t *)plain.data, plain.len, out) < 0) {
        return ek_error_make(err, EPROTO, "spdy: malformed header block");
    }
    return 0;
}

void ek_spdy_deflate_headers(ek_spdy_zstream_t *s, const ek_spdy_headers_t *h, ek_buf_t *out)
{
    ek_autobuf plain = EK_BUF_INIT;
    ek_spdy_headers_encode(h, &plain);
    s->z.next_in = (Bytef *)plain.data;
    s->z.avail_in = (uInt)plain.len;
    uint8_t chunk[4096];
    do {
        s->z.next_out = chunk;
        s->z.avail_out = sizeof(chunk);
        deflate(&s->z, Z_SYNC_FLUSH);
        ek_buf_append(out, chunk, sizeof(chunk) - s->z.avail_out);
    } while (s->z.avail_out == 0);
}
