/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Structural schemas of custom resources, applied as apiextensions-apiserver applies a CRD
 * version's openAPIV3Schema: pruning of unknown fields, defaulting, then validation with
 * kube-openapi's wording ("spec.replicas in body must be of type integer: \"string\"").
 * Patterns are Go (RE2) syntax; the common escapes (\d \s \w and their negations) are
 * rewritten for POSIX extended regular expressions, which cover what CRDs write in practice.
 */
#include <math.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>

#include "api/api.h"

/* ---- small helpers ---- */

static const char *type_of(const json_t *schema)
{
    return ek_json_str(schema, "type", NULL);
}

static bool flag(const json_t *schema, const char *name)
{
    return json_is_true(json_object_get(schema, name));
}

static void path_push(ek_buf_t *path, const char *key)
{
    if (path->len) {
        ek_buf_putc(path, '.');
    }
    ek_buf_puts(path, key);
}

static void path_index(ek_buf_t *path, size_t i)
{
    ek_buf_printf(path, "[%zu]", i);
}

static void path_pop(ek_buf_t *path, size_t len)
{
    path->len = len;
    if (path->data) {
        path->data[len] = '\0';
    }
}

static const char *json_type_name(const json_t *v)
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
    default:
        return "null";
    }
}

/* ---- pruning ---- */

static void prune(const json_t *schema, json_t *v, ek_buf_t *path, json_t *pruned, bool root)
{
    if (!json_is_object(schema) || flag(schema, "x-kubernetes-preserve-unknown-fields")) {
        return;
    }
    size_t base = path->len;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const json_t *addl = json_object_get(schema, "additionalProperties");
        const char *k;
        json_t *child;
        void *tmp;
        json_object_foreach_safe (v, tmp, k, child) {
            if (root &&
                (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata"))) {
                continue;
            }
            const json_t *cs = json_object_get(props, k);
            if (!cs && json_is_object(addl)) {
                cs = addl;
            }
            path_push(path, k);
            if (!cs && !json_is_true(addl)) {
                if (pruned) {
                    json_array_append_new(pruned, json_string(path->data));
                }
                json_object_del(v, k);
            } else if (cs) {
                prune(cs, child, path, pruned, false);
            }
            path_pop(path, base);
        }
    } else if (json_is_array(v)) {
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *child;
        json_array_foreach (v, i, child) {
            path_index(path, i);
            prune(items, child, path, pruned, false);
            path_pop(path, base);
        }
    }
}

void ek_jsonschema_prune(const json_t *schema, json_t *obj, json_t *pruned)
{
    ek_autobuf path = EK_BUF_INIT;
    prune(schema, obj, &path, pruned, true);
}

/* ---- defaulting ---- */

static void apply_defaults(const json_t *schema, json_t *v)
{
    if (!json_is_object(schema)) {
        return;
    }
    if (json_is_object(v)) {
        const json_t *props = json_object_get(schema, "properties");
        const char *k;
        json_t *ps;
        json_object_foreach ((json_t *)props, k, ps) {
            json_t *cur = json_object_get(v, k);
            const json_t *def = json_object_get(ps, "default");
            bool nullable = flag(ps, "nullable");
            if (def && (!cur || (json_is_null(cur) && !nullable))) {
                json_object_set_new(v, k, json_deep_copy(def));
            } else if (cur && json_is_null(cur) && !nullable) {
                /* Since 1.20, nulls of non-nullable fields are dropped, not rejected. */
                json_object_del(v, k);
            }
        }
        json_object_foreach ((json_t *)props, k, ps) {
            json_t *cur = json_object_get(v, k);
            if (cur) {
                apply_defaults(ps, cur);
            }
        }
        const json_t *addl = json_object_get(schema, "additionalProperties");
        if (json_is_object(addl) && !props) {
            json_t *cur;
            json_object_foreach (v, k, cur) {
                apply_defaults(addl, cur);
            }
        }
    } else if (json_is_array(v)) {
        const json_t *items = json_object_get(schema, "items");
        size_t i;
        json_t *cur;
        json_array_foreach (v, i, cur) {
            apply_defaults(items, cur);
        }
    }
}

void ek_jsonschema_default(const json_t *schema, json_t *obj)
{
    apply_defaults(schema, obj);
}

/* ---- validation ---- */

typedef struct vctx {
    ek_field_errors_t *errs;
    ek_buf_t path;
} vctx_t;

static void invalid(vctx_t *c, const json_t *bad, const char *fmt, ...) EK_PRINTF(3, 4);
static void invalid(vctx_t *c, const json_t *bad, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    ek_field_errors_add(c->errs, "FieldValueInvalid", c->path.data ? c->path.data : "", bad, "%s",
                        detail);
}

static const char *p(vctx_t *c)
{
    return c->path.data && *c->path.data ? c->path.data : "body";
}

static bool type_matches(const char *type, const json_t *v, bool int_or_string)
{
    if (int_or_string) {
        return json_is_integer(v) || json_is_string(v) ||
               (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    }
    if (!type) {
        return true;
    }
    if (!strcmp(type, "object")) {
        return json_is_object(v);
    }
    if (!strcmp(type, "array")) {
        return json_is_array(v);
    }
    if (!strcmp(type, "string")) {
        return json_is_string(v);
    }
    if (!strcmp(type, "boolean")) {
        return json_is_boolean(v);
    }
    if (!strcmp(type, "number")) {
        return json_is_number(v);
    }
    if (!strcmp(type, "integer")) {
        return json_is_integer(v) ||
               (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    }
    return true;
}

/* Go RE2 escapes that POSIX ERE lacks, rewritten. Caller frees. */
static char *posix_pattern(const char *re)
{
    ek_buf_t b = EK_BUF_INIT;
    for (const char *s = re; *s; s++) {
        if (*s == '\\' && s[1]) {
            const char *rep = NULL;
            switch (s[1]) {
            case 'd':
                rep = "[0-9]";
                break;
            case 'D':
                rep = "[^0-9]";
                break;
            case 's':
                rep = "[[:space:]]";
                break;
            case 'S':
                rep = "[^[:space:]]";
                break;
            case 'w':
                rep = "[[:alnum:]_]";
                break;
            case 'W':
                rep = "[^[:alnum:]_]";
                break;
            }
            if (rep) {
                ek_buf_puts(&b, rep);
                s++;
                continue;
            }
        }
        ek_buf_putc(&b, *s);
    }
    return ek_buf_steal(&b, NULL);
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) {
        n += ((unsigned char)*s & 0xc0) != 0x80;
    }
    return n;
}

static void check_string(vctx_t *c, const json_t *schema, const json_t *v)
{
    const char *s = json_string_value(v);
    const char *pat = ek_json_str(schema, "pattern", NULL);
    if (pat) {
        ek_autofree char *pp = posix_pattern(pat);
        regex_t re;
        if (regcomp(&re, pp, REG_EXTENDED | REG_NOSUB) == 0) {
            if (regexec(&re, s, 0, NULL, 0) != 0) {
                invalid(c, v, "%s in body should match '%s'", p(c), pat);
            }
            regfree(&re);
        }
    }
    long long minl = ek_json_int(schema, -1, "minLength", NULL);
    long long maxl = ek_json_int(schema, -1, "maxLength", NULL);
    size_t n = utf8_len(s);
    if (minl >= 0 && n < (size_t)minl) {
        invalid(c, v, "%s in body should be at least %lld chars long", p(c), minl);
    }
    if (maxl >= 0 && n > (size_t)maxl) {
        ek_field_errors_add(c->errs, "FieldValueTooLong", c->path.data ? c->path.data : "", v,
                            "may not be more than %lld bytes", maxl);
    }
    const char *fmt = ek_json_str(schema, "format", NULL);
    struct timespec ts;
    if (fmt && !strcmp(fmt, "date-time") && ek_time_parse_rfc3339(s, &ts) < 0) {
        invalid(c, v, "%s in body must be of type date-time: \"%s\"", p(c), s);
    }
}

static void check_number(vctx_t *c, const json_t *schema, const json_t *v)
{
    double x = json_number_value(v);
    const json_t *min = json_object_get(schema, "minimum");
    const json_t *max = json_object_get(schema, "maximum");
    const json_t *mult = json_object_get(schema, "multipleOf");
    bool exmin = flag(schema, "exclusiveMinimum"), exmax = flag(schema, "exclusiveMaximum");
    if (json_is_number(min) && (exmin ? x <= json_number_value(min) : x < json_number_value(min))) {
        invalid(c, v, "%s in body should be greater than %s%g", p(c), exmin ? "" : "or equal to ",
                json_number_value(min));
    }
    if (json_is_number(max) && (exmax ? x >= json_number_value(max) : x > json_number_value(max))) {
        invalid(c, v, "%s in body should be less than %s%g", p(c), exmax ? "" : "or equal to ",
                json_number_value(max));
    }
    if (json_is_number(mult) && json_number_value(mult) != 0) {
        double q = x / json_number_value(mult);
        if (q != floor(q)) {
            invalid(c, v, "%s in body should be a multiple of %g", p(c), json_number_value(mult));
        }
    }
}

static void validate(vctx_t *c, const json_t *schema, const json_t *v);

static void check_array(vctx_t *c, const json_t *schema, const json_t *v)
{
    size_t n = json_array_size(v);
    long long mini = ek_json_int(schema, -1, "minItems", NULL);
    long long maxi = ek_json_int(schema, -1, "maxItems", NULL);
    if (mini >= 0 && n < (size_t)mini) {
        invalid(c, v, "%s in body should have at least %lld items", p(c), mini);
    }
    if (maxi >= 0 && n > (size_t)maxi) {
        ek_field_errors_add(c->errs, "FieldValueTooMany", c->path.data ? c->path.data : "", NULL,
                            "must have at most %lld items", maxi);
    }
    if (flag(schema, "uniqueItems")) {
        for (size_t i = 0; i < n; i++) {
            for (size_t k = i + 1; k < n; k++) {
                if (json_equal(json_array_get(v, i), json_array_get(v, k))) {
                    ek_field_errors_add(c->errs, "FieldValueDuplicate",
                                        c->path.data ? c->path.data : "", json_array_get(v, k),
                                        "%s", "");
                    i = n;
                    break;
                }
            }
        }
    }
    const json_t *items = json_object_get(schema, "items");
    size_t base = c->path.len, i;
    json_t *item;
    json_array_foreach ((json_t *)v, i, item) {
        path_index(&c->path, i);
        validate(c, items, item);
        path_pop(&c->path, base);
    }
}

static void check_object(vctx_t *c, const json_t *schema, const json_t *v)
{
    const json_t *props = json_object_get(schema, "properties");
    const json_t *addl = json_object_get(schema, "additionalProperties");
    size_t base = c->path.len, i;
    json_t *req;
    json_array_foreach (json_object_get(schema, "required"), i, req) {
        const char *name = json_string_value(req);
        if (name && !json_object_get(v, name)) {
            path_push(&c->path, name);
            ek_field_errors_add(c->errs, "FieldValueRequired", c->path.data, NULL, "%s", "");
            path_pop(&c->path, base);
        }
    }
    long long minp = ek_json_int(schema, -1, "minProperties", NULL);
    long long maxp = ek_json_int(schema, -1, "maxProperties", NULL);
    size_t n = json_object_size(v);
    if (minp >= 0 && n < (size_t)minp) {
        invalid(c, v, "%s in body should have at least %lld properties", p(c), minp);
    }
    if (maxp >= 0 && n > (size_t)maxp) {
        invalid(c, v, "%s in body should have at most %lld properties", p(c), maxp);
    }
    const char *k;
    json_t *child;
    json_object_foreach ((json_t *)v, k, child) {
        const json_t *cs = json_object_get(props, k);
        if (!cs && json_is_object(addl)) {
            cs = addl;
        }
        if (!cs) {
            continue;
        }
        path_push(&c->path, k);
        validate(c, cs, child);
        path_pop(&c->path, base);
    }
}

/* How many errors validating v against s would report (for anyOf/oneOf/not). */
static size_t trial(vctx_t *c, const json_t *s, const json_t *v)
{
    ek_field_errors_t scratch = { 0 };
    vctx_t t = { &scratch, EK_BUF_INIT };
    ek_buf_puts(&t.path, c->path.data ? c->path.data : "");
    validate(&t, s, v);
    size_t n = scratch.n;
    ek_field_errors_free(&scratch);
    ek_buf_free(&t.path);
    return n;
}

static void check_combinators(vctx_t *c, const json_t *schema, const json_t *v)
{
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(schema, "allOf"), i, s) {
        validate(c, s, v);
    }
    const json_t *any = json_object_get(schema, "anyOf");
    if (json_array_size(any)) {
        bool ok = false;
        json_array_foreach (any, i, s) {
            ok = ok || trial(c, s, v) == 0;
        }
        if (!ok) {
            invalid(c, v, "%s in body must validate at least one schema (anyOf)", p(c));
        }
    }
    const json_t *one = json_object_get(schema, "oneOf");
    if (json_array_size(one)) {
        size_t passing = 0;
        json_array_foreach (one, i, s) {
            passing += trial(c, s, v) == 0;
        }
        if (passing != 1) {
            invalid(c, v, "%s in body must validate one and only one schema (oneOf)", p(c));
        }
    }
    const json_t *not = json_object_get(schema, "not");
    if (json_is_object(not ) && trial(c, not, v) == 0) {
        invalid(c, v, "%s in body must not validate the schema (not)", p(c));
    }
}

static void validate(vctx_t *c, const json_t *schema, const json_t *v)
{
    if (!json_is_object(schema)) {
        return;
    }
    if (json_is_null(v)) {
        if (!flag(schema, "nullable") && type_of(schema)) {
            ek_autofree char *want = ek_xstrdup(type_of(schema));
            json_t *t = json_string("null");
            invalid(c, t, "%s in body must be of type %s: \"null\"", p(c), want);
            json_decref(t);
        }
        return;
    }
    bool ios = flag(schema, "x-kubernetes-int-or-string");
    if (!type_matches(type_of(schema), v, ios)) {
        json_t *t = json_string(json_type_name(v));
        invalid(c, t, "%s in body must be of type %s: \"%s\"", p(c),
                ios ? "integer,string" : type_of(schema), json_type_name(v));
        json_decref(t);
        return;
    }
    const json_t *en = json_object_get(schema, "enum");
    if (json_array_size(en)) {
        bool ok = false;
        size_t i;
        json_t *e;
        json_array_foreach (en, i, e) {
            ok = ok || json_equal(e, v);
        }
        if (!ok) {
            ek_autobuf vals = EK_BUF_INIT;
            json_array_foreach (en, i, e) {
                ek_autofree char *s = ek_json_dumps(e);
                ek_buf_printf(&vals, "%s%s", i ? ", " : "", s);
            }
            ek_field_errors_add(c->errs, "FieldValueNotSupported", c->path.data ? c->path.data : "",
                                v, "supported values: %s", vals.data);
        }
    }
    if (json_is_string(v)) {
        check_string(c, schema, v);
    } else if (json_is_number(v)) {
        check_number(c, schema, v);
    } else if (json_is_array(v)) {
        check_array(c, schema, v);
    } else if (json_is_object(v)) {
        check_object(c, schema, v);
    }
    check_combinators(c, schema, v);
}

int ek_jsonschema_validate(const json_t *schema, const json_t *obj, ek_field_errors_t *errs)
{
    size_t before = errs->n;
    vctx_t c = { errs, EK_BUF_INIT };
    /* The root's metadata is validated as ObjectMeta elsewhere; apiVersion/kind are fixed. */
    if (json_is_object(obj) && json_is_object(schema)) {
        json_t *copy = json_deep_copy(obj);
        json_object_del(copy, "metadata");
        json_object_del(copy, "apiVersion");
        json_object_del(copy, "kind");
        json_t *sch = json_deep_copy(schema);
        json_t *props = json_object_get(sch, "properties");
        if (json_is_object(props)) {
            json_object_del(props, "metadata");
            json_object_del(props, "apiVersion");
            json_object_del(props, "kind");
        }
        validate(&c, sch, copy);
        json_decref(sch);
        json_decref(copy);
    }
    ek_buf_free(&c.path);
    return (int)(errs->n - before);
}

/* ---- structural check ---- */

static int structural(const json_t *s, ek_buf_t *path, char *msg, size_t len)
{
    if (!json_is_object(s)) {
        return 0;
    }
    bool pres = flag(s, "x-kubernetes-preserve-unknown-fields");
    bool ios = flag(s, "x-kubernetes-int-or-string");
    const json_t *props = json_object_get(s, "properties");
    if (!type_of(s) && !pres && !ios && (props || json_object_get(s, "items"))) {
        snprintf(msg, len, "%s.type: Required value: must not be empty for specified %s fields",
                 path->data, props ? "object" : "array");
        return -1;
    }
    size_t base = path->len;
    const char *k;
    json_t *child;
    json_object_foreach ((json_t *)props, k, child) {
        ek_buf_printf(path, ".properties[%s]", k);
        if (structural(child, path, msg, len) < 0) {
            return -1;
        }
        path_pop(path, base);
    }
    const json_t *items = json_object_get(s, "items");
    if (items) {
        ek_buf_puts(path, ".items");
        if (structural(items, path, msg, len) < 0) {
            return -1;
        }
        path_pop(path, base);
    }
    return 0;
}

int ek_jsonschema_check_structural(const json_t *schema, char *msg, size_t len)
{
    ek_autobuf path = EK_BUF_INIT;
    ek_buf_puts(&path, "openAPIV3Schema");
    if (!json_is_object(schema)) {
        snprintf(msg, len, "openAPIV3Schema: Required value: schemas are required");
        return -1;
    }
    if (!ek_streq(type_of(schema), "object")) {
        snprintf(msg, len,
                 "openAPIV3Schema.type: Unsupported value: \"%s\": supported values: "
                 "\"object\"",
                 type_of(schema) ? type_of(schema) : "");
        return -1;
    }
    return structural(schema, &path, msg, len);
}
