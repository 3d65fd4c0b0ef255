/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Errors as values (crun's model): a fallible function returns < 0 (or NULL) and fills
 * `ek_error_t **err`; callers add context on the way up with ek_error_wrap. An error may
 * carry an HTTP status so the API edge can turn it into a Kubernetes Status.
 */
#ifndef EK_LIB_ERROR_H
#define EK_LIB_ERROR_H

#include "lib/common.h"

typedef struct ek_error {
    int errnum; /* errno-style cause, 0 if none */
    int status; /* HTTP-style status for the API edge, 0 if unset */
    char *msg;  /* "context: context: cause" */
} ek_error_t;

/*
 * Sets *err (if err is not NULL and *err is NULL) to a new error "msg: strerror(errnum)"
 * (no strerror when errnum is 0). Returns -1 always, so `return ek_error_make(...)` reads well.
 */
int ek_error_make(ek_error_t **err, int errnum, const char *fmt, ...) EK_PRINTF(3, 4);
/* Like ek_error_make, with an HTTP-ish status (400, 404, 409, 413, ...) and no strerror. */
int ek_error_status(ek_error_t **err, int status, const char *fmt, ...) EK_PRINTF(3, 4);
/* Prefixes "context: " to an existing error. Returns -1. A NULL *err is left alone. */
int ek_error_wrap(ek_error_t **err, const char *fmt, ...) EK_PRINTF(2, 3);
/* The message, or "unknown error" for NULL. Borrowed. */
const char *ek_error_msg(const ek_error_t *err);
void ek_error_free(ek_error_t *err);
/* Frees *err and sets it to NULL. */
void ek_error_clear(ek_error_t **err);
EK_DEFINE_CLEANUP(ek_error_t, ek_error_free)

#endif
