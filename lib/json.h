/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON over jansson: parsing with "line:column: message" errors, serialising into ek_buf_t,
 * and NULL-safe accessors by path. json_t values are reference-counted; a value published
 * to other components (watch events, caches) is never modified again.
 */
#ifndef EK_LIB_JSON_H
#define EK_LIB_JSON_H

#include <jansson.h>

#include "lib/buf.h"
#include "lib/common.h"
#include "lib/error.h"

EK_DEFINE_CLEANUP(json_t, json_decref)

/* Parses one JSON value (any type). Errors read "line:column: message" (status 400). */
json_t *ek_json_parse(const char *data, size_t len, ek_error_t **err);
/* Compact serialisation appended to b. */
void ek_json_dump_buf(const json_t *v, ek_buf_t *b);
/* Compact serialisation; caller frees. */
char *ek_json_dumps(const json_t *v);

/* Follows object keys; NULL-terminated key list. Borrowed; NULL if any step is missing. */
json_t *ek_json_path(const json_t *v, ...) __attribute__((sentinel));
/* String at the end of the key path, or NULL. Borrowed. */
const char *ek_json_str(const json_t *v, ...) __attribute__((sentinel));
/* Integer at the end of the key path, or def when missing or not an integer. */
long long ek_json_int(const json_t *v, long long def, ...) __attribute__((sentinel));
/* Boolean at the end of the key path, or def. */
bool ek_json_bool(const json_t *v, int def, ...) __attribute__((sentinel));
/* Returns the object at key in obj, creating an empty object there if missing. Borrowed. */
json_t *ek_json_obj_ensure(json_t *obj, const char *key);
/* json_object_set_new with a string value (copied). */
void ek_json_set_str(json_t *obj, const char *key, const char *s);
/* json_typeof name as Kubernetes error messages spell it ("string", "object", ...). */
const char *ek_json_type_name(const json_t *v);

#endif
