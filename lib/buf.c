/* SPDX-License-Identifier: Apache-2.0 */
/* ek_buf_t: growth doubles, so appends are amortised O(1). */
#include "lib/buf.h"

#include <stdarg.h>
#include <stdio.h>

void ek_buf_reserve(ek_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    b->data = ek_xrealloc(b->data, cap);
    b->cap = cap;
}

void ek_buf_append(ek_buf_t *b, const void *data, size_t len)
{
    ek_buf_reserve(b, len);
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}

void ek_buf_puts(ek_buf_t *b, const char *s)
{
    ek_buf_append(b, s, strlen(s));
}

void ek_buf_putc(ek_buf_t *b, char c)
{
    ek_buf_append(b, &c, 1);
}

void ek_buf_printf(ek_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        ek_buf_append(b, tmp, (size_t)n);
        return;
    }
    ek_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void ek_buf_consume(ek_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
    }
    if (b->data) {
        b->data[b->len] = '\0';
    }
}

void ek_buf_reset(ek_buf_t *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

char *ek_buf_steal(ek_buf_t *b, size_t *len)
{
    if (!b->data) {
        ek_buf_reserve(b, 0);
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void ek_buf_free(ek_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
