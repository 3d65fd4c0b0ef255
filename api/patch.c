/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The three PATCH body types of the API server: JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch. Each follows the Go code the kube-apiserver runs
 * (evanphx/json-patch v4 and apimachinery's strategicpatch) rather than the RFC text where
 * they differ, because kubectl and controllers were written against that behaviour: JSON
 * patch accepts negative array indices, a JSON merge patch prunes nulls inside arrays, and a
 * strategic merge puts list elements new to the object before the existing ones unless
 * $setElementOrder says otherwise. Error texts are Go's, including its %v rendering of maps.
 *
 * Every function works on deep copies it owns, so inputs stay untouched and the in-place
 * mutations the Go code relies on can be transcribed directly.
 */
#include "api/api.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

/* ---- Go's fmt for interface{} values decoded from JSON ---- */

/* reflect.TypeOf(v).String() for a decoded JSON value; NULL for nil. */
static const char *go_type(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return "map[string]interface {}";
    case JSON_ARRAY:
        return "[]interface {}";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "int64";
    case JSON_REAL:
        return "float64";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
        break;
    }
    return NULL;
}

/* fmt's %v of a float64 ('g', shortest): %e when the exponent is below -4 or at least 6. */
static void go_float(ek_buf_t *b, double d)
{
    char tmp[40];
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d) {
            break;
        }
    }
    snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
    char *e = strchr(tmp, 'e');
    int exp = atoi(e + 1);
    if (exp < -4 || exp >= 6) {
        /* Go prints at least two exponent digits, as C does. */
        ek_buf_puts(b, tmp);
        return;
    }
    int decimals = prec - 1 - exp;
    snprintf(tmp, sizeof(tmp), "%.*f", decimals > 0 ? decimals : 0, d);
    ek_buf_puts(b, tmp);
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* fmt's %v ('v') or %s ('s') of a decoded JSON value. Maps print with sorted keys. */
static void go_fmt(ek_buf_t *b, const json_t *v, char verb)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_NULL:
        ek_buf_puts(b, verb == 's' ? "%!s(<nil>)" : "<nil>");
        return;
    case JSON_STRING:
        ek_buf_append(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_ARRAY: {
        ek_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) {
                ek_buf_putc(b, ' ');
            }
            go_fmt(b, json_array_get(v, i), verb);
        }
        ek_buf_putc(b, ']');
        return;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        const char **keys = ek_xcalloc(n ? n : 1, sizeof(char *));
        const char *k;
        json_t *val;
        json_object_foreach ((json_t *)v, k, val) {
            keys[i++] = k;
        }
        qsort(keys, n, sizeof(char *), cmp_keys);
        ek_buf_puts(b, "map[");
        for (i = 0; i < n; i++) {
            ek_buf_printf(b, "%s%s:", i ? " " : "", keys[i]);
            go_fmt(b, json_object_get(v, keys[i]), verb);
        }
        ek_buf_putc(b, ']');
        free(keys);
        return;
    }
    default:
        break;
    }
    if (verb == 's') {
        ek_buf_printf(b, "%%!s(%s=", go_type(v));
    }
    if (json_is_integer(v)) {
        ek_buf_printf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        go_float(b, json_real_value(v));
    } else {
        ek_buf_puts(b, json_is_true(v) ? "true" : "false");
    }
    if (verb == 's') {
        ek_buf_putc(b, ')');
    }
}

/* The Go %v text of v; caller frees. */
static char *go_v(const json_t *v)
{
    ek_buf_t b = EK_BUF_INIT;
    go_fmt(&b, v, 'v');
    return ek_buf_steal(&b, NULL);
}

/* The name encoding/json gives a value's type in "cannot unmarshal X into ..." errors. */
static const char *go_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    case JSON_NULL:
        break;
    }
    return "null";
}

/* ---- JSON merge patch (evanphx/json-patch MergePatch) ---- */

static void prune_nulls(json_t *v);

static void prune_doc_nulls(json_t *o)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe (o, tmp, k, v) {
        if (json_is_null(v)) {
            json_object_del(o, k);
        } else {
            prune_nulls(v);
        }
    }
}

/* Objects lose their null members at any depth; null array elements stay. */
static void prune_nulls(json_t *v)
{
    if (json_is_object(v)) {
        prune_doc_nulls(v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            prune_nulls(e);
        }
    }
}

static void merge_docs(json_t *doc, const json_t *patch);

/* One member: objects merge; otherwise the patch value wins, pruned only if cur was no object. */
static json_t *merge_value(json_t *cur, const json_t *patch)
{
    json_t *p = json_deep_copy(patch);
    if (!json_is_object(cur)) {
        prune_nulls(p);
        return p;
    }
    if (!json_is_object(p)) {
        return p;
    }
    json_decref(p);
    merge_docs(cur, patch);
    return json_incref(cur);
}

static void merge_docs(json_t *doc, const json_t *patch)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        json_t *cur = json_object_get(doc, k);
        if (json_is_null(v)) {
            json_object_del(doc, k);
        } else if (!cur || json_is_null(cur)) {
            json_t *p = json_deep_copy(v);
            prune_nulls(p);
            json_object_set_new(doc, k, p);
        } else {
            json_object_set_new(doc, k, merge_value(cur, v));
        }
    }
}

json_t *ek_patch_merge(const json_t *doc, const json_t *patch, ek_error_t **err)
{
    if (!doc || json_is_null(doc)) {
        ek_error_status(err, 400, "Invalid JSON Document");
        return NULL;
    }
    if (json_is_object(patch)) {
        if (!json_is_object(doc)) {
            json_t *r = json_deep_copy(patch);
            prune_nulls(r);
            return r;
        }
        json_t *r = json_deep_copy(doc);
        merge_docs(r, patch);
        return r;
    }
    if (json_is_array(patch)) {
        /* A non-object patch replaces the document. */
        json_t *r = json_deep_copy(patch);
        prune_nulls(r);
        return r;
    }
    ek_error_status(err, 400, "Invalid JSON Patch");
    return NULL;
}

/* ---- JSON patch (evanphx/json-patch v4 Patch.Apply) ---- */

#define MAX_JSON_PATCH_OPS 10000
/* Bytes "copy" operations may add in one patch; a doubling copy chain must not eat memory. */
#define MAX_COPY_BYTES (16 << 20)

typedef struct jp {
    json_t *root;
    size_t copied;
    ek_error_t **err;
} jp_t;

/* Every failure of an operation is 422 at the API edge; pkg/errors.Wrapf joins with ": ". */
EK_PRINTF(2, 3) static int jp_fail(jp_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    ek_error_status(p->err, 422, "%s", msg);
    free(msg);
    return -1;
}

/* RFC 6901 unescaping: ~1 is '/', ~0 is '~', left to right. Caller frees. */
static char *decode_key(const char *s, size_t n)
{
    char *out = ek_xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
            *o++ = s[i + 1] == '1' ? '/' : '~';
            i++;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

/* strconv.Atoi; on failure msg receives Go's error text (caller frees). */
static bool go_atoi(const char *s, long long *out, char **msg)
{
    const char *p = s;
    bool neg = *p == '-';
    if (*p == '+' || *p == '-') {
        p++;
    }
    unsigned long long v = 0, limit = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
    bool range = false;
    if (!*p) {
        goto syntax;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            goto syntax;
        }
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10) {
            range = true;
            v = limit;
        } else if (!range) {
            v = v * 10 + d;
        }
    }
    if (range) {
        *msg = ek_xasprintf("strconv.Atoi: parsing \"%s\": value out of range", s);
        return false;
    }
    *out = neg ? (long long)(0 - v) : (long long)v;
    return true;
syntax:
    *msg = ek_xasprintf("strconv.Atoi: parsing \"%s\": invalid syntax", s);
    return false;
}

/* partialArray.get/set/remove index rules: negative counts from the end. -1 with msg set. */
static long long array_index(const json_t *a, const char *key, bool for_insert, char **msg)
{
    long long idx;
    if (!go_atoi(key, &idx, msg)) {
        return -1;
    }
    long long len = (long long)json_array_size(a) + (for_insert ? 1 : 0);
    if (idx >= len || idx < -len) {
        *msg = ek_xasprintf("Unable to access invalid index: %lld: invalid index referenced", idx);
        return -1;
    }
    return idx < 0 ? idx + len : idx;
}

/*
 * findObject: the container holding the last path segment, and that segment decoded. The
 * first segment is ignored whatever it holds (Go splits on '/' and drops element 0).
 */
static json_t *find_container(jp_t *p, const char *path, char **key)
{
    const char *slash = strchr(path, '/');
    if (!slash) {
        return NULL;
    }
    json_t *doc = p->root;
    const char *seg = slash + 1;
    for (const char *next; (next = strchr(seg, '/')); seg = next + 1) {
        ek_autofree char *part = decode_key(seg, (size_t)(next - seg));
        json_t *child = NULL;
        if (json_is_object(doc)) {
            child = json_object_get(doc, part);
        } else {
            ek_autofree char *msg = NULL;
            long long i = array_index(doc, part, false, &msg);
            child = i >= 0 ? json_array_get(doc, (size_t)i) : NULL;
        }
        if (!json_is_object(child) && !json_is_array(child)) {
            return NULL;
        }
        doc = child;
    }
    *key = decode_key(seg, strlen(seg));
    return doc;
}

/* container.add; msg receives the error text. Steals val. */
static int container_add(json_t *con, const char *key, json_t *val, char **msg)
{
    if (json_is_object(con)) {
        json_object_set_new(con, key, val);
        return 0;
    }
    if (strcmp(key, "-") == 0) {
        json_array_append_new(con, val);
        return 0;
    }
    char *inner = NULL;
    long long i = array_index(con, key, true, &inner);
    if (i < 0) {
        bool syntax = strncmp(inner, "strconv", 7) == 0;
        *msg = syntax ? ek_xasprintf("value was not a proper array index: '%s': %s", key, inner)
                      : ek_xstrdup(inner);
        free(inner);
        json_decref(val);
        return -1;
    }
    json_array_insert_new(con, (size_t)i, val);
    return 0;
}

static int container_remove(json_t *con, const char *key, char **msg)
{
    if (json_is_object(con)) {
        if (json_object_del(con, key) < 0) {
            *msg = ek_xasprintf("Unable to remove nonexistent key: %s: missing value", key);
            return -1;
        }
        return 0;
    }
    long long i = array_index(con, key, false, msg);
    if (i < 0) {
        return -1;
    }
    json_array_remove(con, (size_t)i);
    return 0;
}

/* container.get: borrowed value, NULL for missing or null (Go cannot tell them apart). */
static int container_get(json_t *con, const char *key, json_t **out, char **msg)
{
    *out = NULL;
    if (json_is_object(con)) {
        *out = json_object_get(con, key);
    } else {
        long long i = array_index(con, key, false, msg);
        if (i < 0) {
            return -1;
        }
        *out = json_array_get(con, (size_t)i);
    }
    if (json_is_null(*out)) {
        *out = NULL;
    }
    return 0;
}

/* Operation.Path / From: the string member, or Go's error for missing and mistyped ones. */
static char *op_string(const json_t *op, const char *name, char **msg)
{
    json_t *v = json_object_get(op, name);
    if (!v || json_is_null(v)) {
        *msg =
            ek_xstrdup(strcmp(name, "path") == 0 ? "operation missing path field: missing value"
                                                 : "operation, missing from field: missing value");
        return NULL;
    }
    if (!json_is_string(v)) {
        *msg =
            ek_xasprintf("json: cannot unmarshal %s into Go value of type string", go_json_kind(v));
        return NULL;
    }
    return ek_xstrdup(json_string_value(v));
}

/* The op's value as a new reference; absent and null both become null. */
static json_t *op_value(const json_t *op)
{
    json_t *v = json_object_get(op, "value");
    return v ? json_deep_copy(v) : json_null();
}

static int jp_add(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL;
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        return jp_fail(p, "add operation failed to decode path: missing value");
    }
    json_t *con = find_container(p, path, &key);
    if (!con) {
        return jp_fail(
            p, "add operation does not apply: doc is missing path: \"%s\": missing value", path);
    }
    if (container_add(con, key, op_value(op), &msg) < 0) {
        return jp_fail(p, "error in add for path: '%s': %s", path, msg);
    }
    return 0;
}

static int jp_remove(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL;
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        return jp_fail(p, "remove operation failed to decode path: missing value");
    }
    json_t *con = find_container(p, path, &key);
    if (!con) {
        return jp_fail(
            p, "remove operation does not apply: doc is missing path: \"%s\": missing value", path);
    }
    if (container_remove(con, key, &msg) < 0) {
        return jp_fail(p, "error in remove for path: '%s': %s", path, msg);
    }
    return 0;
}

static int jp_replace(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL;
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        return jp_fail(p, "replace operation failed to decode path: %s", msg);
    }
    if (!*path) {
        /* The whole document; Go silently ignores a value that is no object or array. */
        json_t *v = json_object_get(op, "value");
        if (json_is_object(v) || json_is_array(v)) {
            json_decref(p->root);
            p->root = json_deep_copy(v);
        }
        return 0;
    }
    json_t *con = find_container(p, path, &key);
    if (!con) {
        return jp_fail(
            p, "replace operation does not apply: doc is missing path: %s: missing value", path);
    }
    json_t *cur;
    if (container_get(con, key, &cur, &msg) < 0) {
        return jp_fail(p, "replace operation does not apply: doc is missing key: %s: missing value",
                       path);
    }
    /* An object key that does not exist yet is simply set: v4 does not check. */
    if (json_is_object(con)) {
        json_object_set_new(con, key, op_value(op));
    } else {
        json_array_set_new(con, (size_t)array_index(con, key, false, &msg), op_value(op));
    }
    return 0;
}

static int jp_move(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL, *key2 = NULL;
    ek_autofree char *from = op_string(op, "from", &msg);
    if (!from) {
        return jp_fail(p, "move operation failed to decode from: %s", msg);
    }
    json_t *con = find_container(p, from, &key);
    if (!con) {
        return jp_fail(
            p, "move operation does not apply: doc is missing from path: %s: missing value", from);
    }
    json_t *val;
    if (container_get(con, key, &val, &msg) < 0) {
        return jp_fail(p, "error in move for path: '%s': %s", key, msg);
    }
    val = val ? json_incref(val) : json_null();
    if (container_remove(con, key, &msg) < 0) {
        json_decref(val);
        return jp_fail(p, "error in move for path: '%s': %s", key, msg);
    }
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        json_decref(val);
        return jp_fail(p, "move operation failed to decode path: %s", msg);
    }
    con = find_container(p, path, &key2);
    if (!con) {
        json_decref(val);
        return jp_fail(p,
                       "move operation does not apply: doc is missing destination path: %s: "
                       "missing value",
                       path);
    }
    if (container_add(con, key2, val, &msg) < 0) {
        return jp_fail(p, "error in move for path: '%s': %s", path, msg);
    }
    return 0;
}

static int jp_test(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL;
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        return jp_fail(p, "test operation failed to decode path: %s", msg);
    }
    json_t *want = json_object_get(op, "value");
    json_t *got;
    if (!*path) {
        got = p->root;
    } else {
        json_t *con = find_container(p, path, &key);
        if (!con) {
            return jp_fail(p, "test operation does not apply: is missing path: %s: missing value",
                           path);
        }
        if (container_get(con, key, &got, &msg) < 0) {
            return jp_fail(p, "error in test for path: '%s': %s", path, msg);
        }
    }
    /* A missing or null target passes against a null or absent value. */
    bool want_null = !want || json_is_null(want);
    bool ok = got ? want && json_equal(got, want) : want_null;
    if (!ok) {
        return jp_fail(p, "testing value %s failed: test failed", path);
    }
    return 0;
}

static int jp_copy(jp_t *p, const json_t *op)
{
    ek_autofree char *msg = NULL, *key = NULL, *key2 = NULL;
    ek_autofree char *from = op_string(op, "from", &msg);
    if (!from) {
        return jp_fail(p, "copy operation failed to decode from: %s", msg);
    }
    json_t *con = find_container(p, from, &key);
    if (!con) {
        return jp_fail(
            p, "copy operation does not apply: doc is missing from path: %s: missing value", from);
    }
    json_t *val;
    if (container_get(con, key, &val, &msg) < 0) {
        return jp_fail(p, "error in copy for from: '%s': %s", from, msg);
    }
    ek_autofree char *path = op_string(op, "path", &msg);
    if (!path) {
        return jp_fail(p, "copy operation failed to decode path: missing value");
    }
    con = find_container(p, path, &key2);
    if (!con) {
        return jp_fail(p,
                       "copy operation does not apply: doc is missing destination path: %s: "
                       "missing value",
                       path);
    }
    size_t size = val ? json_dumpb(val, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY) : 4;
    p->copied += size;
    if (p->copied > MAX_COPY_BYTES) {
        return jp_fail(p,
                       "Unable to complete the copy, the accumulated size increase of copy is %zu, "
                       "exceeding the limit %d",
                       p->copied, MAX_COPY_BYTES);
    }
    if (container_add(con, key2, val ? json_deep_copy(val) : json_null(), &msg) < 0) {
        return jp_fail(p, "error while adding value during copy: %s", msg);
    }
    return 0;
}

static int jp_apply(jp_t *p, const json_t *op)
{
    static const struct {
        const char *name;
        int (*fn)(jp_t *, const json_t *);
    } ops[] = { { "add", jp_add },   { "remove", jp_remove }, { "replace", jp_replace },
                { "move", jp_move }, { "test", jp_test },     { "copy", jp_copy } };
    const char *kind = json_string_value(json_object_get(op, "op"));
    for (size_t i = 0; kind && i < EK_ARRAY_SIZE(ops); i++) {
        if (strcmp(kind, ops[i].name) == 0) {
            return ops[i].fn(p, op);
        }
    }
    return jp_fail(p, "Unexpected kind: %s", kind ? kind : "unknown");
}

json_t *ek_patch_json(const json_t *doc, const json_t *patch, ek_error_t **err)
{
    if (patch && !json_is_null(patch) && !json_is_array(patch)) {
        ek_error_status(err, 400, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
                        go_json_kind(patch));
        return NULL;
    }
    size_t n = json_array_size(patch);
    for (size_t i = 0; i < n; i++) {
        json_t *op = json_array_get(patch, i);
        if (!json_is_object(op) && !json_is_null(op)) {
            ek_error_status(err, 400,
                            "json: cannot unmarshal %s into Go value of type jsonpatch.Operation",
                            go_json_kind(op));
            return NULL;
        }
    }
    if (n > MAX_JSON_PATCH_OPS) {
        ek_error_status(err, 413, "The allowed maximum operations in a JSON patch is %d, got %zu",
                        MAX_JSON_PATCH_OPS, n);
        return NULL;
    }
    if (!json_is_object(doc) && !json_is_array(doc)) {
        ek_error_status(err, 422,
                        "json: cannot unmarshal %s into Go value of type "
                        "jsonpatch.partialDoc",
                        doc ? go_json_kind(doc) : "null");
        return NULL;
    }
    jp_t p = { json_deep_copy(doc), 0, err };
    for (size_t i = 0; i < n; i++) {
        if (jp_apply(&p, json_array_get(patch, i)) < 0) {
            json_decref(p.root);
            return NULL;
        }
    }
    return p.root;
}

/* ---- strategic merge patch: built-in merge metadata ---- */

enum { F_MERGE = 1, F_RETAIN = 2, F_REPLACE = 4 };

typedef struct smp_rule {
    const char *path; /* dotted, relative to where the owning struct sits */
    const char *merge_key;
    int flags;
} smp_rule_t;

/* ObjectMeta (metadata, and the metadata of every template). */
static const smp_rule_t meta_rules[] = {
    { "ownerReferences", "uid", F_MERGE },
    { "finalizers", NULL, F_MERGE },
    { NULL, NULL, 0 },
};

/* PodSpec, with Container and EphemeralContainer. tolerations, envFrom, readinessGates and
 * resizePolicy have no strategy in k8s.io/api 1.32: they are replaced. */
#define CONTAINER_RULES(c)                                                          \
    { c, "name", F_MERGE }, { c ".ports", "containerPort", F_MERGE },               \
        { c ".env", "name", F_MERGE }, { c ".volumeMounts", "mountPath", F_MERGE }, \
    {                                                                               \
        c ".volumeDevices", "devicePath", F_MERGE                                   \
    }
static const smp_rule_t podspec_rules[] = {
    CONTAINER_RULES("containers"),
    CONTAINER_RULES("initContainers"),
    CONTAINER_RULES("ephemeralContainers"),
    { "volumes", "name", F_MERGE | F_RETAIN },
    { "imagePullSecrets", "name", F_MERGE },
    { "hostAliases", "ip", F_MERGE },
    { "topologySpreadConstraints", "topologyKey", F_MERGE },
    { "schedulingGates", "name", F_MERGE },
    { "resourceClaims", "name", F_MERGE | F_RETAIN },
    { NULL, NULL, 0 },
};

static const smp_rule_t conditions_rules[] = {
    { "status.conditions", "type", F_MERGE },
    { NULL, NULL, 0 },
};

static const smp_rule_t pod_rules[] = {
    { "status.conditions", "type", F_MERGE },
    { "status.podIPs", "ip", F_MERGE },
    { "status.hostIPs", "ip", F_MERGE },
    { "status.resourceClaimStatuses", "name", F_MERGE | F_RETAIN },
    { NULL, NULL, 0 },
};

static const smp_rule_t deployment_rules[] = {
    { "spec.strategy", NULL, F_RETAIN },
    { "status.conditions", "type", F_MERGE },
    { NULL, NULL, 0 },
};

static const smp_rule_t service_rules[] = {
    { "spec.ports", "port", F_MERGE },
    { "status.conditions", "type", F_MERGE },
    { NULL, NULL, 0 },
};

static const smp_rule_t node_rules[] = {
    { "spec.podCIDRs", NULL, F_MERGE },
    { "status.conditions", "type", F_MERGE },
    { "status.addresses", "type", F_MERGE },
    { NULL, NULL, 0 },
};

static const smp_rule_t serviceaccount_rules[] = {
    { "secrets", "name", F_MERGE },
    { NULL, NULL, 0 },
};

typedef struct smp_kind {
    const char *group, *kind;
    const char *pod_spec;  /* where the PodSpec sits, or NULL */
    const char *templates; /* '|'-separated ObjectMeta locations besides "metadata" */
    const smp_rule_t *rules;
} smp_kind_t;

static const smp_kind_t smp_kinds[] = {
    { "", "Pod", "spec", NULL, pod_rules },
    { "", "PodTemplate", "template.spec", "template.metadata", NULL },
    { "", "ReplicationController", "spec.template.spec", "spec.template.metadata",
      conditions_rules },
    { "apps", "Deployment", "spec.template.spec", "spec.template.metadata", deployment_rules },
    { "apps", "ReplicaSet", "spec.template.spec", "spec.template.metadata", conditions_rules },
    { "apps", "DaemonSet", "spec.template.spec", "spec.template.metadata", conditions_rules },
    { "apps", "StatefulSet", "spec.template.spec", "spec.template.metadata", conditions_rules },
    { "batch", "Job", "spec.template.spec", "spec.template.metadata", conditions_rules },
    { "batch", "CronJob", "spec.jobTemplate.spec.template.spec",
      "spec.jobTemplate.metadata|spec.jobTemplate.spec.template.metadata", NULL },
    { "", "Service", NULL, NULL, service_rules },
    { "", "Node", NULL, NULL, node_rules },
    { "", "Namespace", NULL, NULL, conditions_rules },
    { "", "PersistentVolumeClaim", NULL, NULL, conditions_rules },
    { "", "ServiceAccount", NULL, NULL, serviceaccount_rules },
};

static const smp_kind_t smp_any_kind = { NULL, NULL, NULL, NULL, NULL };

/* Matches the dotted pattern[0..len) against path components from *at; advances *at. */
static bool match_prefix(const char *const *path, size_t depth, size_t *at, const char *pattern,
                         size_t len)
{
    size_t i = *at;
    const char *p = pattern, *end = pattern + len;
    while (p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t seg = dot ? (size_t)(dot - p) : (size_t)(end - p);
        if (i >= depth || strlen(path[i]) != seg || memcmp(path[i], p, seg) != 0) {
            return false;
        }
        i++;
        p += seg + (dot ? 1 : 0);
    }
    *at = i;
    return true;
}

/* Looks rel_rules up under the prefix (NULL: the root). */
static bool match_rules(const char *const *path, size_t depth, const char *prefix, size_t plen,
                        const smp_rule_t *rules, ek_smp_field_t *out)
{
    size_t at = 0;
    if (!rules || (prefix && !match_prefix(path, depth, &at, prefix, plen))) {
        return false;
    }
    for (const smp_rule_t *r = rules; r->path; r++) {
        size_t i = at;
        if (match_prefix(path, depth, &i, r->path, strlen(r->path)) && i == depth) {
            *out = (ek_smp_field_t){ r->merge_key, (r->flags & F_MERGE) != 0,
                                     (r->flags & F_REPLACE) != 0, (r->flags & F_RETAIN) != 0 };
            return true;
        }
    }
    return false;
}

static bool builtin_lookup(const char *const *path, size_t depth, ek_smp_field_t *out, void *data)
{
    const smp_kind_t *k = data;
    if (match_rules(path, depth, "metadata", 8, meta_rules, out) ||
        (k->pod_spec &&
         match_rules(path, depth, k->pod_spec, strlen(k->pod_spec), podspec_rules, out)) ||
        match_rules(path, depth, NULL, 0, k->rules, out)) {
        return true;
    }
    for (const char *t = k->templates; t && *t;) {
        const char *bar = strchr(t, '|');
        size_t len = bar ? (size_t)(bar - t) : strlen(t);
        if (match_rules(path, depth, t, len, meta_rules, out)) {
            return true;
        }
        t += len + (bar ? 1 : 0);
    }
    return false;
}

ek_smp_schema_t ek_smp_schema_builtin(const char *group, const char *kind)
{
    const smp_kind_t *k = &smp_any_kind;
    for (size_t i = 0; i < EK_ARRAY_SIZE(smp_kinds); i++) {
        if (strcmp(smp_kinds[i].group, group ? group : "") == 0 &&
            ek_streq(smp_kinds[i].kind, kind)) {
            k = &smp_kinds[i];
        }
    }
    return (ek_smp_schema_t){ builtin_lookup, (void *)k };
}

/* ---- strategic merge patch: applying (strategicpatch.StrategicMergeMapPatch) ---- */

#define DIRECTIVE        "$patch"
#define RETAIN_KEYS      "$retainKeys"
#define SET_ORDER        "$setElementOrder"
#define DELETE_PRIMITIVE "$deleteFromPrimitiveList"
#define GO_MAP           "map[string]interface {}"
#define GO_SLICE         "[]interface {}"

typedef struct smp {
    const ek_smp_schema_t *schema;
    const char **path; /* field names from the root; list elements add none */
    size_t depth, cap;
    ek_error_t **err;
} smp_t;

EK_PRINTF(3, 4) static int smp_fail(smp_t *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    ek_error_status(c->err, status, "%s", msg);
    free(msg);
    return -1;
}

/* mergepatch.ErrBadArgType: expected is GO_MAP or GO_SLICE. */
static int fail_arg_type(smp_t *c, const char *expected, const json_t *actual)
{
    const char *t = go_type(actual);
    return smp_fail(c, 500, "expected a %s, but received a %s", expected, t ? t : "%!s(<nil>)");
}

static int fail_no_merge_key(smp_t *c, const json_t *m, const char *key)
{
    ek_autofree char *mv = go_v(m);
    return smp_fail(c, 500, "map: %s does not contain declared merge key: %s", mv, key);
}

static int fail_patch_type(smp_t *c, const json_t *t, const json_t *m)
{
    ek_autobuf b = EK_BUF_INIT;
    go_fmt(&b, t, 's');
    ek_autofree char *mv = go_v(m);
    return smp_fail(c, 500, "unknown patch type: %s in map: %s", b.data, mv);
}

static void smp_push(smp_t *c, const char *key)
{
    if (c->depth == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->path = ek_xrealloc(c->path, c->cap * sizeof(char *));
    }
    c->path[c->depth++] = key;
}

static void smp_pop(smp_t *c)
{
    c->depth--;
}

/* The metadata of field key of the map at the current path. */
static ek_smp_field_t smp_lookup(smp_t *c, const char *key)
{
    ek_smp_field_t f = { NULL, false, false, false };
    if (c->schema && c->schema->lookup) {
        smp_push(c, key);
        if (!c->schema->lookup(c->path, c->depth, &f, c->schema->data)) {
            f = (ek_smp_field_t){ NULL, false, false, false };
        }
        smp_pop(c);
    }
    return f;
}

/* Go's dynamic types, for "are these two values of the same type" decisions. */
typedef enum gtype { G_NIL, G_MAP, G_SLICE, G_STRING, G_INT, G_FLOAT, G_BOOL } gtype_t;

static gtype_t gtype(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return G_MAP;
    case JSON_ARRAY:
        return G_SLICE;
    case JSON_STRING:
        return G_STRING;
    case JSON_INTEGER:
        return G_INT;
    case JSON_REAL:
        return G_FLOAT;
    case JSON_TRUE:
    case JSON_FALSE:
        return G_BOOL;
    case JSON_NULL:
        break;
    }
    return G_NIL;
}

/* Go's == on interface values; a missing value is nil. Go panics comparing two maps or two
 * slices; deep equality is the useful answer there. */
static bool go_eq(const json_t *a, const json_t *b)
{
    if (!a || json_is_null(a) || !b || json_is_null(b)) {
        return (!a || json_is_null(a)) && (!b || json_is_null(b));
    }
    return json_equal(a, b);
}

static bool is_directive_value(const json_t *m, const char *want)
{
    return ek_streq(json_string_value(json_object_get(m, DIRECTIVE)), want);
}

/* Keys of o, copied, so o may change while they are walked. Caller frees with free_keys. */
static char **object_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    char **keys = ek_xcalloc(*n + 1, sizeof(char *));
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)o, k, v) {
        keys[i++] = ek_xstrdup(k);
    }
    return keys;
}

static void free_keys(char **keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i]);
    }
    free(keys);
}

/* extractKey: "$setElementOrder/containers" → "containers". */
static char *extract_key(smp_t *c, const char *s, const char *prefix)
{
    const char *slash = strchr(s, '/');
    if (!slash || (size_t)(slash - s) != strlen(prefix) || strncmp(s, prefix, strlen(prefix))) {
        smp_fail(c, 400,
                 strcmp(prefix, SET_ORDER) == 0 ? "invalid patch format of setElementOrder list"
                                                : "invalid patch format of primitive list");
        return NULL;
    }
    return ek_xstrdup(slash + 1);
}

/* removeDirectives: maps holding $patch vanish (NULL), at any depth. New reference. */
static json_t *remove_directives(json_t *v)
{
    if (json_is_object(v)) {
        if (json_object_get(v, DIRECTIVE)) {
            return NULL;
        }
        const char *k;
        json_t *e;
        void *tmp;
        json_object_foreach_safe (v, tmp, k, e) {
            json_t *ne = remove_directives(e);
            if (ne) {
                json_object_set_new(v, k, ne);
            } else {
                json_object_del(v, k);
            }
        }
        return json_incref(v);
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *e;
        json_array_foreach (v, i, e) {
            json_t *ne = remove_directives(e);
            if (ne) {
                json_array_append_new(out, ne);
            }
        }
        return out;
    }
    return json_incref(v);
}

/* discardNullValuesFromPatch: null members of maps go, at any depth. */
static void discard_nulls(json_t *v)
{
    if (json_is_object(v)) {
        prune_doc_nulls(v);
    } else if (json_is_array(v)) {
        prune_nulls(v);
    }
}

/* Sets o[key] to a patch value taken whole, as mergeMap does for keys the original lacks. */
static void set_patch_value(json_t *o, const char *key, json_t *pv)
{
    discard_nulls(pv);
    json_t *v = remove_directives(pv);
    if (v) {
        json_object_set_new(o, key, v);
    } else {
        json_object_del(o, key);
    }
}

/* -- lists -- */

/* sliceElementType over two lists: the kind all elements share. */
static int slice_element_type(smp_t *c, const json_t *a, const json_t *b, gtype_t *kind)
{
    const json_t *lists[2] = { a, b };
    bool first = true;
    for (size_t l = 0; l < 2; l++) {
        for (size_t i = 0; i < json_array_size(lists[l]); i++) {
            gtype_t t = gtype(json_array_get(lists[l], i));
            if (first && t == G_SLICE) {
                return smp_fail(c, 422, "lists of lists are not supported");
            }
            if (first && t == G_NIL) {
                /* Go dereferences a nil type here and the request fails with 500. */
                return smp_fail(c, 500, "null elements are not supported in merged lists");
            }
            if (!first && t != *kind) {
                ek_autofree char *av = go_v(a), *bv = go_v(b);
                return smp_fail(c, 500, "list element types are not identical: [%s %s]",
                                a ? av : "[]", b ? bv : "[]");
            }
            *kind = t;
            first = false;
        }
    }
    if (first) {
        return smp_fail(c, 500, "no elements in any of the given slices");
    }
    return 0;
}

/* The index of the first element of l whose merge key value (or value) equals val's. */
static long index_of(const json_t *l, const json_t *val, const char *mk, gtype_t kind)
{
    const json_t *want = kind == G_MAP ? json_object_get(val, mk) : val;
    for (size_t i = 0; i < json_array_size(l); i++) {
        const json_t *e = json_array_get(l, i);
        if (go_eq(want, kind == G_MAP ? json_object_get(e, mk) : e)) {
            return (long)i;
        }
    }
    return -1;
}

/* findMapInSliceBasedOnKeyValue; *idx = -1 when absent. */
static int find_by_key(smp_t *c, const json_t *l, const char *mk, const json_t *value, long *idx)
{
    *idx = -1;
    for (size_t i = 0; i < json_array_size(l); i++) {
        json_t *e = json_array_get(l, i);
        if (!json_is_object(e)) {
            return smp_fail(c, 500, "value for key %zu is not a map", i);
        }
        json_t *v = json_object_get(e, mk);
        if (v && go_eq(v, value)) {
            *idx = (long)i;
            return 0;
        }
    }
    return 0;
}

/* Splits l into the items marked `$patch: delete` and the others (extractToDeleteItems). */
static int split_deletes(smp_t *c, const json_t *l, json_t **keep, json_t **del)
{
    *keep = json_array();
    *del = json_array();
    for (size_t i = 0; i < json_array_size(l); i++) {
        json_t *e = json_array_get(l, i);
        if (!json_is_object(e)) {
            json_decref(*keep);
            json_decref(*del);
            *keep = *del = NULL;
            return fail_arg_type(c, GO_MAP, e);
        }
        json_array_append(is_directive_value(e, "delete") ? *del : *keep, e);
    }
    return 0;
}

static int check_merge_keys(smp_t *c, const char *mk, const json_t *l)
{
    for (size_t i = 0; i < json_array_size(l); i++) {
        json_t *e = json_array_get(l, i);
        if (!json_is_object(e)) {
            return fail_arg_type(c, GO_MAP, e);
        }
        if (!json_object_get(e, mk)) {
            return fail_no_merge_key(c, e, mk);
        }
    }
    return 0;
}

/* Stable sort of l by position in order. Elements order lacks compare as Go's comparator
 * makes them (always "less"); insertion sort is what Go runs for lists up to 20 long. */
static void sort_by_order(json_t *l, const json_t *order, const char *mk, gtype_t kind)
{
    size_t n = json_array_size(l);
    if (n < 2) {
        return;
    }
    long *idx = ek_xcalloc(n, sizeof(long));
    json_t **el = ek_xcalloc(n, sizeof(json_t *));
    for (size_t i = 0; i < n; i++) {
        el[i] = json_incref(json_array_get(l, i));
        idx[i] = index_of(order, el[i], mk, kind);
    }
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0; j--) {
            bool less = (idx[j] >= 0 && idx[j - 1] >= 0) ? idx[j] < idx[j - 1] : true;
            if (!less) {
                break;
            }
            long ti = idx[j];
            json_t *te = el[j];
            idx[j] = idx[j - 1], el[j] = el[j - 1];
            idx[j - 1] = ti, el[j - 1] = te;
        }
    }
    json_array_clear(l);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(l, el[i]);
    }
    free(idx);
    free(el);
}

/* normalizeSliceOrder: sorted by order, `$patch: delete` items last. New reference. */
static json_t *normalize_slice_order(smp_t *c, const json_t *to_sort, const json_t *order,
                                     const char *mk, gtype_t kind)
{
    json_t *keep, *del;
    if (kind == G_MAP) {
        if (check_merge_keys(c, mk, to_sort) < 0 || check_merge_keys(c, mk, order) < 0 ||
            split_deletes(c, to_sort, &keep, &del) < 0) {
            return NULL;
        }
    } else {
        keep = json_copy((json_t *)to_sort);
        del = json_array();
    }
    sort_by_order(keep, order, mk, kind);
    json_array_extend(keep, del);
    json_decref(del);
    return keep;
}

/*
 * normalizeElementOrder: patch items in patch order, server-only items in server order, then
 * merged: a server item goes first only when both are in the server list and it is earlier,
 * so items new to the object come before the server items they meet.
 */
static json_t *normalize_element_order(smp_t *c, const json_t *patch_items,
                                       const json_t *server_only, const json_t *patch_order,
                                       const json_t *server_order, const char *mk, gtype_t kind)
{
    ek_auto(json_t) none = json_array();
    server_order = server_order ? server_order : none;
    ek_auto(json_t) right = normalize_slice_order(c, patch_items, patch_order, mk, kind);
    if (!right) {
        return NULL;
    }
    ek_auto(json_t) left = normalize_slice_order(c, server_only, server_order, mk, kind);
    if (!left) {
        return NULL;
    }
    json_t *out = json_array();
    size_t i = 0, j = 0, nl = json_array_size(left), nr = json_array_size(right);
    while (i < nl && j < nr) {
        long li = index_of(server_order, json_array_get(left, i), mk, kind);
        long ri = index_of(server_order, json_array_get(right, j), mk, kind);
        if (li >= 0 && ri >= 0 && li < ri) {
            json_array_append(out, json_array_get(left, i++));
        } else {
            json_array_append(out, json_array_get(right, j++));
        }
    }
    for (; i < nl; i++) {
        json_array_append(out, json_array_get(left, i));
    }
    for (; j < nr; j++) {
        json_array_append(out, json_array_get(right, j));
    }
    return out;
}

/* Splits merged into the items present in by (by merge key, or by value) and the others. */
static int partition(smp_t *c, const json_t *merged, const json_t *by, const char *mk, json_t **in,
                     json_t **out)
{
    *in = json_array();
    *out = json_array();
    for (size_t i = 0; i < json_array_size(merged); i++) {
        json_t *v = json_array_get(merged, i);
        bool found = false;
        if (mk && *mk) {
            json_t *mv = json_object_get(v, mk);
            long at;
            if (!json_is_object(v) || !mv) {
                json_decref(*in);
                json_decref(*out);
                *in = *out = NULL;
                return json_is_object(v) ? fail_no_merge_key(c, v, mk)
                                         : fail_arg_type(c, GO_MAP, v);
            }
            if (find_by_key(c, by, mk, mv, &at) < 0) {
                json_decref(*in);
                json_decref(*out);
                *in = *out = NULL;
                return -1;
            }
            found = at >= 0;
        } else {
            found = index_of(by, v, NULL, G_STRING) >= 0;
        }
        json_array_append(found ? *in : *out, v);
    }
    return 0;
}

static json_t *merge_map(smp_t *c, json_t *original, json_t *patch);

/* mergeSliceWithSpecialElements: applies `$patch` items; *orig and *patch become new lists. */
static int apply_special_elements(smp_t *c, json_t **orig, json_t **patch, const char *mk)
{
    json_t *o = json_copy(*orig), *p = json_array();
    bool replace = false;
    for (size_t i = 0; i < json_array_size(*patch); i++) {
        json_t *v = json_array_get(*patch, i), *pt = json_object_get(v, DIRECTIVE);
        if (!pt) {
            json_array_append(p, v);
            continue;
        }
        const char *s = json_string_value(pt);
        int r = 0;
        if (ek_streq(s, "delete")) {
            json_t *mv = json_object_get(v, mk);
            if (!mv) {
                r = fail_no_merge_key(c, v, mk);
            }
            for (long at = 0; r == 0 && at >= 0;) {
                r = find_by_key(c, o, mk, mv, &at);
                if (r == 0 && at >= 0) {
                    json_array_remove(o, (size_t)at);
                }
            }
        } else if (ek_streq(s, "replace")) {
            replace = true;
        } else if (ek_streq(s, "merge")) {
            r = smp_fail(c, 500, "merging lists cannot yet be specified in the patch");
        } else {
            r = fail_patch_type(c, pt, v);
        }
        if (r < 0) {
            json_decref(o);
            json_decref(p);
            return -1;
        }
    }
    if (replace) {
        json_decref(o);
        o = p;
        p = json_array();
    }
    *orig = o;
    *patch = p;
    return 0;
}

/* mergeSliceWithoutSpecialElements: elements with a known key merge, others are appended. */
static int merge_keyed_elements(smp_t *c, json_t *orig, const json_t *patch, const char *mk)
{
    for (size_t i = 0; i < json_array_size(patch); i++) {
        json_t *v = json_array_get(patch, i), *mv = json_object_get(v, mk);
        long at;
        if (!mv) {
            return fail_no_merge_key(c, v, mk);
        }
        if (find_by_key(c, orig, mk, mv, &at) < 0) {
            return -1;
        }
        if (at < 0) {
            json_array_append(orig, v);
            continue;
        }
        json_t *m = merge_map(c, json_array_get(orig, (size_t)at), v);
        if (!m) {
            return -1;
        }
        json_array_set_new(orig, (size_t)at, m);
    }
    return 0;
}

/* Primitive lists: the union (deduplicated), or orig minus patch for a deletion list. */
static json_t *merge_primitives(const json_t *orig, const json_t *patch, bool delete_list)
{
    json_t *out = json_array();
    for (size_t i = 0; i < json_array_size(orig); i++) {
        json_t *v = json_array_get(orig, i);
        bool skip = delete_list ? index_of(patch, v, NULL, G_STRING) >= 0
                                : index_of(out, v, NULL, G_STRING) >= 0;
        if (!skip) {
            json_array_append(out, v);
        }
    }
    for (size_t i = 0; !delete_list && i < json_array_size(patch); i++) {
        json_t *v = json_array_get(patch, i);
        if (index_of(out, v, NULL, G_STRING) < 0) {
            json_array_append(out, v);
        }
    }
    return out;
}

/* mergeSlice. New reference or NULL. */
static json_t *merge_slice(smp_t *c, json_t *orig, json_t *patch, const char *mk, bool delete_list)
{
    if (json_array_size(orig) == 0 && json_array_size(patch) == 0) {
        return json_incref(orig);
    }
    gtype_t kind;
    if (slice_element_type(c, orig, patch, &kind) < 0) {
        return NULL;
    }
    ek_auto(json_t) o = NULL;
    ek_auto(json_t) p = NULL;
    ek_auto(json_t) merged = NULL;
    if (kind != G_MAP) {
        if (delete_list) {
            return merge_primitives(orig, patch, true);
        }
        merged = merge_primitives(orig, patch, false);
        o = json_incref(orig);
        p = json_incref(patch);
    } else {
        if (!mk || !*mk) {
            smp_fail(c, 500, "cannot merge lists without merge key for %s",
                     c->depth ? c->path[c->depth - 1] : "");
            return NULL;
        }
        o = orig;
        p = patch;
        if (apply_special_elements(c, &o, &p, mk) < 0) {
            o = p = NULL;
            return NULL;
        }
        /* Appended elements must not join o: it stays the server order, as in Go where
         * append returns a longer slice the caller's original does not see. */
        merged = json_copy(o);
        if (merge_keyed_elements(c, merged, p, mk) < 0) {
            return NULL;
        }
    }
    ek_auto(json_t) in = NULL;
    ek_auto(json_t) out = NULL;
    if (partition(c, merged, p, mk, &in, &out) < 0) {
        return NULL;
    }
    return normalize_element_order(c, in, out, p, o, mk, kind);
}

/* mergeSliceHandler: lists merge only with strategy merge (or as a deletion list). */
static json_t *merge_slice_handler(smp_t *c, json_t *orig, json_t *patch, const ek_smp_field_t *f,
                                   bool delete_list)
{
    if (f->merge || delete_list) {
        return merge_slice(c, orig, patch, f->merge_key, delete_list);
    }
    return json_incref(patch);
}

/* -- maps -- */

/* validatePatchWithSetOrderList: the patch list's items appear in $setElementOrder, in order. */
static int check_set_order(smp_t *c, const json_t *pl, const json_t *order, const char *mk)
{
    size_t m = json_array_size(order);
    if (m == 0 || json_array_size(pl) == 0) {
        return 0;
    }
    ek_auto(json_t) keep = NULL;
    ek_auto(json_t) del = NULL;
    if (mk && *mk) {
        if (split_deletes(c, pl, &keep, &del) < 0) {
            return -1;
        }
    } else {
        keep = json_incref((json_t *)pl);
    }
    size_t n = json_array_size(keep), pi = 0, si = 0;
    while (pi < n && si < m) {
        json_t *a = json_array_get(keep, pi), *b = json_array_get(order, si);
        if (json_is_object(a) && json_object_get(a, DIRECTIVE)) {
            pi++;
            continue;
        }
        if (mk && *mk) {
            if (!json_is_object(a) || !json_is_object(b)) {
                return fail_arg_type(c, GO_MAP, json_is_object(a) ? b : a);
            }
            json_t *ka = json_object_get(a, mk), *kb = json_object_get(b, mk);
            if (!ka || !kb) {
                return fail_no_merge_key(c, ka ? b : a, mk);
            }
            a = ka;
            b = kb;
        }
        pi += go_eq(a, b) ? 1 : 0;
        si++;
    }
    if (pi < n && si >= m) {
        ek_autofree char *pv = go_v(pl), *ov = go_v(order);
        return smp_fail(c, 500, "The order in patch list:\n%s\n doesn't match %s list:\n%s\n", pv,
                        SET_ORDER, ov);
    }
    return 0;
}

/* One $setElementOrder/<key> directive: merges the list it names and orders the result. */
static int merge_ordered_list(smp_t *c, json_t *o, json_t *patch, const char *key,
                              const json_t *order)
{
    if (!json_is_array(order)) {
        return fail_arg_type(c, GO_SLICE, order);
    }
    ek_autofree char *okey = extract_key(c, key, SET_ORDER);
    if (!okey) {
        return -1;
    }
    json_t *ol = json_object_get(o, okey), *pl = json_object_get(patch, okey);
    if ((ol && !json_is_array(ol)) || (pl && !json_is_array(pl))) {
        return fail_arg_type(c, GO_SLICE, ol && !json_is_array(ol) ? ol : pl);
    }
    ek_smp_field_t f = smp_lookup(c, okey);
    const char *mk = f.merge_key ? f.merge_key : "";
    if (check_set_order(c, pl, order, mk) < 0) {
        return -1;
    }
    if (!ol && !pl) {
        return 0;
    }
    ek_auto(json_t) merged = NULL;
    if (!pl) {
        merged = json_incref(ol);
    } else if (!ol) {
        merged = remove_directives(pl);
    } else {
        smp_push(c, okey);
        merged = merge_slice_handler(c, ol, pl, &f, false);
        smp_pop(c);
        if (!merged) {
            return -1;
        }
    }
    ek_auto(json_t) in = NULL;
    ek_auto(json_t) out = NULL;
    gtype_t kind;
    if (partition(c, merged, order, mk, &in, &out) < 0 ||
        slice_element_type(c, ol, pl, &kind) < 0) {
        return -1;
    }
    json_t *both = normalize_element_order(c, in, out, order, ol, mk, kind);
    if (!both) {
        return -1;
    }
    json_object_set_new(o, okey, both);
    json_object_del(patch, okey);
    return 0;
}

/* mergePatchIntoOriginal: every $setElementOrder directive, before the other keys. */
static int merge_ordered_lists(smp_t *c, json_t *o, json_t *patch)
{
    size_t n;
    char **keys = object_keys(patch, &n);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        json_t *order = json_object_get(patch, keys[i]);
        if (!ek_has_prefix(keys[i], SET_ORDER) || !order) {
            continue;
        }
        json_incref(order);
        json_object_del(patch, keys[i]);
        r = merge_ordered_list(c, o, patch, keys[i], order);
        json_decref(order);
    }
    free_keys(keys, n);
    return r;
}

static bool in_string_list(const json_t *l, const char *s)
{
    for (size_t i = 0; i < json_array_size(l); i++) {
        if (ek_streq(json_string_value(json_array_get(l, i)), s)) {
            return true;
        }
    }
    return false;
}

/* applyRetainKeysDirective: keys of o not listed go; every key the patch sets must be listed. */
static int apply_retain_keys(smp_t *c, json_t *o, json_t *patch)
{
    ek_auto(json_t) rk = json_incref(json_object_get(patch, RETAIN_KEYS));
    if (!rk) {
        return 0;
    }
    json_object_del(patch, RETAIN_KEYS);
    if (!json_is_array(rk)) {
        return smp_fail(c, 400, "invalid patch format of retainKeys");
    }
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach (patch, k, v) {
        bool exempt =
            json_is_null(v) || ek_has_prefix(k, DELETE_PRIMITIVE) || ek_has_prefix(k, SET_ORDER);
        if (!exempt && !in_string_list(rk, k)) {
            return smp_fail(c, 400, "invalid patch format of retainKeys");
        }
    }
    json_object_foreach_safe (o, tmp, k, v) {
        if (!in_string_list(rk, k)) {
            json_object_del(o, k);
        }
    }
    return 0;
}

/* One key of the patch map against the original map o. */
static int merge_entry(smp_t *c, json_t *o, const char *k, json_t *pv)
{
    ek_autofree char *stripped = NULL;
    const char *key = k;
    bool delete_list = ek_has_prefix(k, DELETE_PRIMITIVE);
    if (delete_list) {
        key = stripped = extract_key(c, k, DELETE_PRIMITIVE);
        if (!key) {
            return -1;
        }
    }
    if (json_is_null(pv)) {
        json_object_del(o, key);
        return 0;
    }
    json_t *ov = json_object_get(o, key);
    if (!ov || gtype(ov) != gtype(pv)) {
        if (!delete_list) {
            set_patch_value(o, key, pv);
        }
        return 0;
    }
    json_t *merged;
    if (json_is_object(ov) || json_is_array(ov)) {
        ek_smp_field_t f = smp_lookup(c, key);
        smp_push(c, key);
        if (json_is_array(ov)) {
            merged = merge_slice_handler(c, ov, pv, &f, delete_list);
        } else {
            merged = f.replace ? json_incref(pv) : merge_map(c, ov, pv);
        }
        smp_pop(c);
        if (!merged) {
            return -1;
        }
    } else {
        merged = json_incref(pv);
    }
    json_object_set_new(o, key, merged);
    return 0;
}

/* mergeMap: patch (our copy) into original (our copy, or NULL for {}). New reference. */
static json_t *merge_map(smp_t *c, json_t *original, json_t *patch)
{
    json_t *d = json_object_get(patch, DIRECTIVE);
    if (d) {
        if (ek_streq(json_string_value(d), "replace")) {
            json_object_del(patch, DIRECTIVE);
            return json_incref(patch);
        }
        if (ek_streq(json_string_value(d), "delete")) {
            return json_object();
        }
        fail_patch_type(c, d, patch);
        return NULL;
    }
    json_t *o = original ? json_incref(original) : json_object();
    if (apply_retain_keys(c, o, patch) < 0 || merge_ordered_lists(c, o, patch) < 0) {
        json_decref(o);
        return NULL;
    }
    size_t n;
    char **keys = object_keys(patch, &n);
    for (size_t i = 0; i < n; i++) {
        json_t *pv = json_object_get(patch, keys[i]);
        if (pv && merge_entry(c, o, keys[i], pv) < 0) {
            json_decref(o);
            o = NULL;
            break;
        }
    }
    free_keys(keys, n);
    return o;
}

/* Drops directive keys left in values taken whole from the patch, as the typed decoding in
 * kube-apiserver drops unknown fields: no built-in field name starts with '$'. */
static void strip_directives(json_t *v)
{
    const char *k;
    json_t *e;
    void *tmp;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach_safe (v, tmp, k, e) {
            if (ek_has_prefix(k, DIRECTIVE) || ek_has_prefix(k, RETAIN_KEYS) ||
                ek_has_prefix(k, SET_ORDER) || ek_has_prefix(k, DELETE_PRIMITIVE)) {
                json_object_del(v, k);
            } else {
                strip_directives(e);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach (v, i, e) {
            strip_directives(e);
        }
    }
}

json_t *ek_patch_strategic(const json_t *doc, const json_t *patch, const ek_smp_schema_t *schema,
                           ek_error_t **err)
{
    if (!json_is_object(doc)) {
        ek_error_status(err, 400, "invalid JSON document");
        return NULL;
    }
    if (!patch || json_is_null(patch)) {
        return json_deep_copy(doc);
    }
    if (!json_is_object(patch)) {
        ek_error_status(err, 400,
                        "json: cannot unmarshal %s into Go value of type map[string]interface {}",
                        go_json_kind(patch));
        return NULL;
    }
    smp_t c = { schema, NULL, 0, 0, err };
    ek_auto(json_t) o = json_deep_copy(doc);
    ek_auto(json_t) p = json_deep_copy(patch);
    ek_auto(json_t) merged = merge_map(&c, o, p);
    free(c.path);
    if (!merged) {
        return NULL;
    }
    /* A fresh tree: merging may leave one node referenced from two places. */
    json_t *out = json_deep_copy(merged);
    strip_directives(out);
    return out;
}
