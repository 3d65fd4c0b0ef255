/* SPDX-License-Identifier: Apache-2.0 */
/* Base64 (standard and URL-safe, RFC 4648) and random bytes from the kernel. */
#ifndef EK_LIB_ENCODING_H
#define EK_LIB_ENCODING_H

#include "lib/common.h"

/* Standard alphabet with padding; caller frees. */
char *ek_base64_encode(const void *data, size_t len);
/* URL-safe alphabet without padding (JWTs, continue tokens); caller frees. */
char *ek_base64url_encode(const void *data, size_t len);
/* Decodes either alphabet, padding optional; whitespace is not allowed. NULL on bad input.
 * The result is NUL-terminated (not counted in *len); caller frees. */
char *ek_base64_decode(const char *s, size_t *len);
char *ek_base64url_decode(const char *s, size_t *len);
/* Fills buf from getrandom(2); aborts if the kernel cannot provide randomness. */
void ek_random_bytes(void *buf, size_t len);

#endif
