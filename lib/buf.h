/* SPDX-License-Identifier: Apache-2.0 */
/* Growable byte buffers: always NUL-terminated so they can be used as strings. */
#ifndef EK_LIB_BUF_H
#define EK_LIB_BUF_H

#include "lib/common.h"

typedef struct ek_buf {
    char *data; /* NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
} ek_buf_t;

#define EK_BUF_INIT \
    {               \
        NULL, 0, 0  \
    }

void ek_buf_reserve(ek_buf_t *b, size_t extra);
void ek_buf_append(ek_buf_t *b, const void *data, size_t len);
void ek_buf_puts(ek_buf_t *b, const char *s);
void ek_buf_putc(ek_buf_t *b, char c);
void ek_buf_printf(ek_buf_t *b, const char *fmt, ...) EK_PRINTF(2, 3);
/* Drops the first n bytes. */
void ek_buf_consume(ek_buf_t *b, size_t n);
void ek_buf_reset(ek_buf_t *b);
/* Returns the data (caller frees, never NULL) and empties the buffer. */
char *ek_buf_steal(ek_buf_t *b, size_t *len);
void ek_buf_free(ek_buf_t *b);
static inline void ek_cleanup_buf(ek_buf_t *b)
{
    ek_buf_free(b);
}
#define ek_autobuf __attribute__((cleanup(ek_cleanup_buf))) ek_buf_t

#endif
