/* SPDX-License-Identifier: Apache-2.0 */
/* ek_error_t: make, wrap, free. */
#include "lib/error.h"

#include <stdarg.h>
#include <stdio.h>

EK_PRINTF(4, 0)
static int make(ek_error_t **err, int errnum, int status, const char *fmt, va_list ap)
{
    if (!err || *err) {
        return -1;
    }
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        abort();
    }
    ek_error_t *e = ek_new(ek_error_t);
    e->errnum = errnum;
    e->status = status;
    if (errnum) {
        e->msg = ek_xasprintf("%s: %s", msg, strerror(errnum));
        free(msg);
    } else {
        e->msg = msg;
    }
    *err = e;
    return -1;
}

int ek_error_make(ek_error_t **err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    make(err, errnum, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int ek_error_status(ek_error_t **err, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    make(err, 0, status, fmt, ap);
    va_end(ap);
    return -1;
}

int ek_error_wrap(ek_error_t **err, const char *fmt, ...)
{
    if (!err || !*err) {
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    char *ctx = NULL;
    if (vasprintf(&ctx, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    char *msg = ek_xasprintf("%s: %s", ctx, (*err)->msg);
    free(ctx);
    free((*err)->msg);
    (*err)->msg = msg;
    return -1;
}

const char *ek_error_msg(const ek_error_t *err)
{
    return err && err->msg ? err->msg : "unknown error";
}

void ek_error_free(ek_error_t *err)
{
    if (err) {
        free(err->msg);
        free(err);
    }
}

void ek_error_clear(ek_error_t **err)
{
    if (err) {
        ek_error_free(*err);
        *err = NULL;
    }
}
