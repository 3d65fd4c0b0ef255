/* SPDX-License-Identifier: Apache-2.0 */
/* JSON helpers over jansson. */
#include "lib/json.h"

#include <stdarg.h>

json_t *ek_json_parse(const char *data, size_t len, ek_error_t **err)
{
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v) {
        ek_error_status(err, 400, "%d:%d: %s", je.line, je.column, je.text);
    }
    return v;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    ek_buf_append(data, buffer, size);
    return 0;
}

void ek_json_dump_buf(const json_t *v, ek_buf_t *b)
{
    json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
}

char *ek_json_dumps(const json_t *v)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_json_dump_buf(v, &b);
    return ek_buf_steal(&b, NULL);
}

static json_t *vpath(const json_t *v, va_list ap)
{
    const char *key;
    while (v && (key = va_arg(ap, const char *))) {
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
    }
    return (json_t *)v;
}

json_t *ek_json_path(const json_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    json_t *r = vpath(v, ap);
    va_end(ap);
    return r;
}

const char *ek_json_str(const json_t *v, ...)
{
    va_list ap;
    va_start(ap, v);
    json_t *r = vpath(v, ap);
    va_end(ap);
    return json_is_string(r) ? json_string_value(r) : NULL;
}

long long ek_json_int(const json_t *v, long long def, ...)
{
    va_list ap;
    va_start(ap, def);
    json_t *r = vpath(v, ap);
    va_end(ap);
    return json_is_integer(r) ? json_integer_value(r) : def;
}

bool ek_json_bool(const json_t *v, int def, ...)
{
    va_list ap;
    va_start(ap, def);
    json_t *r = vpath(v, ap);
    va_end(ap);
    return json_is_boolean(r) ? json_is_true(r) : def;
}

json_t *ek_json_obj_ensure(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_object(v)) {
        v = json_object();
        json_object_set_new(obj, key, v);
    }
    return v;
}

void ek_json_set_str(json_t *obj, const char *key, const char *s)
{
    json_object_set_new(obj, key, json_string(s));
}

const char *ek_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}
