/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pieces both HTTP sides use: reason phrases, percent-encoding, query strings, and the header
 * collector fed by http_parser callbacks (names and values may arrive split across reads, so
 * they are appended to one buffer and turned into pointers once the head is complete).
 */
#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include "lib/http-internal.h"

const char *ek_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Request Entity Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Requested Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Lenient decoding: a '%' not followed by two hex digits stays as it is. */
char *ek_http_unescape(const char *s, size_t len, bool form)
{
    char *out = ek_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval((unsigned char)s[i + 1])) >= 0 &&
            (lo = hexval((unsigned char)s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (form && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

char *ek_http_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = ek_xmalloc(len * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        /* RFC 3986 unreserved characters pass; everything else is encoded. */
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}

void ek_http_query_each(const char *query, void (*cb)(const char *k, const char *v, void *d),
                        void *data)
{
    const char *p = query ? query : "";
    while (*p) {
        size_t n = strcspn(p, "&");
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            char *k = ek_http_unescape(p, klen, true);
            char *v = eq ? ek_http_unescape(eq + 1, n - klen - 1, true) : ek_xstrdup("");
            cb(k, v, data);
            free(k);
            free(v);
        }
        p += n;
        if (*p == '&') {
            p++;
        }
    }
}

struct query_find {
    const char *key;
    char *value;
};

static void query_find_cb(const char *k, const char *v, void *d)
{
    struct query_find *f = d;
    if (!f->value && strcmp(k, f->key) == 0) {
        f->value = ek_xstrdup(v);
    }
}

char *ek_http_query_get(const char *query, const char *key)
{
    struct query_find f = { key, NULL };
    ek_http_query_each(query, query_find_cb, &f);
    return f.value;
}

const char *ek_http_req_header(const ek_http_req_t *r, const char *name)
{
    return ek__hdrs_get(r->headers, r->n_headers, name);
}

const char *ek_http_response_header(const ek_http_response_t *r, const char *name)
{
    return ek__hdrs_get(r->headers, r->n_headers, name);
}

/* ---- header collection ---- */

void ek__hdrs_field(ek__hdrs_t *h, const char *at, size_t len)
{
    if (h->list) {
        return; /* a trailer after a chunked body: not kept */
    }
    if (h->n == 0 || h->in_value) {
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 16;
            h->offs = ek_xrealloc(h->offs, h->cap * 2 * sizeof(size_t));
        }
        if (h->text.len > 0) {
            ek_buf_putc(&h->text, '\0');
        }
        h->offs[2 * h->n] = h->text.len;
        h->offs[2 * h->n + 1] = SIZE_MAX;
        h->n++;
        h->in_value = false;
    }
    ek_buf_append(&h->text, at, len);
}

void ek__hdrs_value(ek__hdrs_t *h, const char *at, size_t len)
{
    if (h->n == 0 || h->list) {
        return;
    }
    if (!h->in_value) {
        ek_buf_putc(&h->text, '\0');
        h->offs[2 * h->n - 1] = h->text.len;
        h->in_value = true;
    }
    ek_buf_append(&h->text, at, len);
}

void ek__hdrs_finish(ek__hdrs_t *h)
{
    ek_buf_putc(&h->text, '\0');
    h->list = ek_xcalloc(h->n ? h->n : 1, sizeof(ek_http_header_t));
    for (size_t i = 0; i < h->n; i++) {
        size_t v = h->offs[2 * i + 1];
        h->list[i].name = h->text.data + h->offs[2 * i];
        /* A name without a value (end of head after "X-A:") points at its own NUL. */
        h->list[i].value =
            v == SIZE_MAX ? h->list[i].name + strlen(h->list[i].name) : h->text.data + v;
    }
    free(h->offs);
    h->offs = NULL;
    h->cap = 0;
}

void ek__hdrs_free(ek__hdrs_t *h)
{
    ek_buf_free(&h->text);
    free(h->offs);
    free(h->list);
    memset(h, 0, sizeof(*h));
}

const char *ek__hdrs_get(const ek_http_header_t *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(list[i].name, name) == 0) {
            return list[i].value;
        }
    }
    return NULL;
}

bool ek__header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    for (const char *p = value ? value : ""; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t')) {
            m--;
        }
        if (m == tlen && strncasecmp(p, token, tlen) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

static void parser_init_once(void)
{
    /* The library's cap (80 KiB by default) is one global; servers enforce their own. */
    http_parser_set_max_header_size(UINT32_MAX / 2);
}

void ek__http_parser_global_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, parser_init_once);
}
