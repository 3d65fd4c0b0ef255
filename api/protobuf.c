/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes protobuf request bodies to the JSON the same request would carry. A body is the
 * magic "k8s\0" and a runtime.Unknown {1: typeMeta {1: apiVersion, 2: kind}, 2: raw,
 * 3: contentEncoding, 4: contentType}; raw is the object's message as k8s.io/api's
 * generated.proto defines it. There is no per-kind code: the field numbers come from the
 * schema files (`pb=` flags, see api/schema/README.md), so any kind whose types are numbered
 * decodes, and the JSON then goes through the same checks, defaults and validation as a JSON
 * body.
 *
 * The mapping follows Go's generated decoders and encoding/json: scalars that are Go values
 * (not pointers) are sent even when zero and mean "unset" then, so zeros are dropped as
 * `omitempty` would; pointers keep a zero that is on the wire (replicas: 0). Messages that
 * are present become objects (emptyDir: {}). Unknown field numbers are skipped, as Kubernetes'
 * decoder skips them whatever fieldValidation says (EK_PROTOBUF_STRICT makes them errors,
 * for tests).
 */
#include <math.h>

#include "api/api.h"

#define MAX_DEPTH 64 /* nested messages; Kubernetes' deepest types are far shallower */

static const uint8_t magic[4] = { 'k', '8', 's', 0 };

struct dec {
    unsigned flags;
    int depth;
    ek_buf_t path; /* JSON path of the value being decoded, for errors */
    ek_error_t **err;
};

static int fail(struct dec *d, const char *fmt, ...) EK_PRINTF(2, 3);

static int fail(struct dec *d, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ek_error_status(d->err, 400, "protobuf body: %s%s%s", d->path.len ? d->path.data : "",
                           d->path.len ? ": " : "", msg);
}

static int malformed(struct dec *d, const ek_pb_reader_t *r)
{
    return fail(d, "%s", r->error ? r->error : "malformed message");
}

static void path_push(struct dec *d, const char *name, size_t *mark)
{
    *mark = d->path.len;
    if (d->path.len) {
        ek_buf_putc(&d->path, '.');
    }
    ek_buf_puts(&d->path, name);
}

static void path_pop(struct dec *d, size_t mark)
{
    d->path.len = mark;
    if (d->path.data) {
        d->path.data[mark] = '\0';
    }
}

static const char *wire_name(int wt)
{
    switch (wt) {
    case EK_PB_VARINT:
        return "varint";
    case EK_PB_I64:
        return "fixed64";
    case EK_PB_LEN:
        return "length-delimited";
    default:
        return "fixed32";
    }
}

/* The wire type a value of kind k comes in (lists and maps are checked per element). */
static int wire_of(ek_schema_kind_t k)
{
    switch (k) {
    case EK_ST_BOOL:
    case EK_ST_INT32:
    case EK_ST_INT64:
        return EK_PB_VARINT;
    case EK_ST_NUMBER:
        return EK_PB_I64;
    default:
        return EK_PB_LEN;
    }
}

static json_t *string_value(struct dec *d, const uint8_t *s, size_t len)
{
    /* The JSON path refuses \u0000 and invalid UTF-8 too (jansson's defaults). */
    json_t *v = memchr(s, 0, len) ? NULL : json_stringn((const char *)s, len);
    if (!v) {
        fail(d, "string is not valid UTF-8 text");
    }
    return v;
}

/* resource.Quantity {1: string}. A message without the string is Go's zero Quantity, "0". */
static json_t *quantity_value(struct dec *d, const ek_pb_field_t *pf)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    json_t *v = NULL;
    int rc;
    ek_pb_reader_init(&r, pf->data, pf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        if (f.number == 1 && f.wire_type == EK_PB_LEN) {
            json_decref(v);
            if (!(v = string_value(d, f.data, f.len))) {
                return NULL;
            }
        } else if (f.number == 1 || (d->flags & EK_PROTOBUF_STRICT)) {
            json_decref(v);
            fail(d, "bad quantity field %u (%s)", f.number, wire_name(f.wire_type));
            return NULL;
        }
    }
    if (rc < 0) {
        json_decref(v);
        malformed(d, &r);
        return NULL;
    }
    return v ? v : json_string("0");
}

/* intstr.IntOrString {1: type (0 int, 1 string), 2: intVal, 3: strVal}. */
static json_t *intstr_value(struct dec *d, const ek_pb_field_t *pf)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    uint64_t type = 0;
    int32_t ival = 0;
    const uint8_t *s = (const uint8_t *)"";
    size_t slen = 0;
    int rc;
    ek_pb_reader_init(&r, pf->data, pf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        int want = f.number == 3 ? EK_PB_LEN : EK_PB_VARINT;
        if (f.number >= 1 && f.number <= 3 && f.wire_type != want) {
            fail(d, "int-or-string field %u has wire type %s", f.number, wire_name(f.wire_type));
            return NULL;
        }
        if (f.number == 1) {
            type = f.varint;
        } else if (f.number == 2) {
            ival = (int32_t)(uint32_t)f.varint;
        } else if (f.number == 3) {
            s = f.data;
            slen = f.len;
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            fail(d, "unknown int-or-string field %u", f.number);
            return NULL;
        }
    }
    if (rc < 0) {
        malformed(d, &r);
        return NULL;
    }
    if (type > 1) {
        fail(d, "int-or-string type %llu is neither 0 (int) nor 1 (string)",
             (unsigned long long)type);
        return NULL;
    }
    return type == 0 ? json_integer(ival) : string_value(d, s, slen);
}

/* metav1.Time / MicroTime {1: seconds, 2: nanos}; no fields is Go's zero time, JSON null. */
static json_t *time_value(struct dec *d, const ek_pb_field_t *pf, bool micro)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    int64_t sec = 0, nanos = 0;
    int rc;
    if (pf->len == 0) {
        return json_null();
    }
    ek_pb_reader_init(&r, pf->data, pf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        if ((f.number == 1 || f.number == 2) && f.wire_type != EK_PB_VARINT) {
            fail(d, "time field %u has wire type %s", f.number, wire_name(f.wire_type));
            return NULL;
        }
        if (f.number == 1) {
            sec = (int64_t)f.varint;
        } else if (f.number == 2) {
            nanos = (int32_t)(uint32_t)f.varint;
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            fail(d, "unknown time field %u", f.number);
            return NULL;
        }
    }
    if (rc < 0) {
        malformed(d, &r);
        return NULL;
    }
    /* Go's time.Unix normalises nanoseconds outside [0, 1e9) into the seconds. */
    sec += nanos / 1000000000;
    nanos %= 1000000000;
    if (nanos < 0) {
        nanos += 1000000000;
        sec--;
    }
    if (sec < -62167219200LL || sec > 253402300799LL) { /* years 0000 to 9999 */
        fail(d, "time %lld is out of range", (long long)sec);
        return NULL;
    }
    struct timespec ts = { .tv_sec = (time_t)sec, .tv_nsec = (long)nanos };
    char buf[32];
    return json_string(micro ? ek_time_rfc3339_micro(&ts, buf) : ek_time_rfc3339(ts.tv_sec, buf));
}

static json_t *body_to_json(struct dec *d, const uint8_t *data, size_t len,
                            const char *default_api_version, const char *default_kind);

/* runtime.RawExtension / metav1.FieldsV1 {1: raw}: raw is JSON, or an embedded protobuf
 * object with its own envelope. */
static json_t *raw_value(struct dec *d, const ek_pb_field_t *pf, bool want_object)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    const uint8_t *raw = NULL;
    size_t len = 0;
    int rc;
    ek_pb_reader_init(&r, pf->data, pf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        if (f.number == 1 && f.wire_type == EK_PB_LEN) {
            raw = f.data;
            len = f.len;
        } else if (f.number == 1 || (d->flags & EK_PROTOBUF_STRICT)) {
            fail(d, "bad raw field %u (%s)", f.number, wire_name(f.wire_type));
            return NULL;
        }
    }
    if (rc < 0) {
        malformed(d, &r);
        return NULL;
    }
    if (!raw || len == 0) {
        return json_null();
    }
    if (len >= sizeof(magic) && memcmp(raw, magic, sizeof(magic)) == 0) {
        return body_to_json(d, raw, len, "", "");
    }
    json_error_t je;
    json_t *v = json_loadb((const char *)raw, len, JSON_DECODE_ANY, &je);
    if (!v) {
        fail(d, "embedded JSON: %s", je.text);
    } else if (want_object && !json_is_object(v)) {
        /* A JSON body would fail the same way, in the field checks. */
        json_decref(v);
        v = NULL;
        fail(d, "embedded JSON is not an object");
    }
    return v;
}

static int decode_message(struct dec *d, const ek_schema_type_t *t, const uint32_t *prefix,
                          size_t plen, const uint8_t *data, size_t len, json_t *out);

static json_t *value_of(struct dec *d, const ek_schema_ty_t *ty, unsigned fflags,
                        const ek_pb_field_t *f, json_t *merge_into);

/* A list inside a map value ({1: repeated T}, e.g. authentication's ExtraValue). */
static json_t *wrapped_list(struct dec *d, const ek_schema_ty_t *elem, const ek_pb_field_t *pf)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    json_t *arr = json_array();
    int rc;
    ek_pb_reader_init(&r, pf->data, pf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        json_t *v = NULL;
        if (f.number == 1) {
            v = value_of(d, elem, EK_SF_PB_PTR, &f, NULL);
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            fail(d, "unknown list field %u", f.number);
        } else {
            continue;
        }
        if (!v) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, v);
    }
    if (rc < 0) {
        malformed(d, &r);
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/*
 * One value of type ty from field f (a list element, a map value or a field). merge_into is
 * an object already decoded for the same message field: proto merges repeated occurrences.
 * Returns a new reference, or NULL with *d->err set.
 */
static json_t *value_of(struct dec *d, const ek_schema_ty_t *ty, unsigned fflags,
                        const ek_pb_field_t *f, json_t *merge_into)
{
    int want = ty->kind == EK_ST_ARRAY ? EK_PB_LEN : wire_of(ty->kind);
    if (f->wire_type != want) {
        fail(d, "wire type %s where %s was expected", wire_name(f->wire_type), wire_name(want));
        return NULL;
    }
    switch (ty->kind) {
    case EK_ST_STRING:
        return string_value(d, f->data, f->len);
    case EK_ST_BYTES: {
        ek_autofree char *b64 = ek_base64_encode(f->data, f->len);
        return json_string(b64);
    }
    case EK_ST_BOOL:
        return json_boolean(f->varint != 0);
    case EK_ST_INT32:
        /* Negative int32s come sign-extended to ten bytes; Go keeps the low 32 bits. */
        return json_integer((int32_t)(uint32_t)f->varint);
    case EK_ST_INT64:
        return json_integer((json_int_t)(int64_t)f->varint);
    case EK_ST_NUMBER: {
        double v;
        memcpy(&v, &f->varint, sizeof(v));
        if (!isfinite(v)) {
            fail(d, "number is not finite");
            return NULL;
        }
        return json_real(v);
    }
    case EK_ST_QUANTITY:
        return quantity_value(d, f);
    case EK_ST_INTSTR:
        return intstr_value(d, f);
    case EK_ST_TIME:
        return time_value(d, f, fflags & EK_SF_MICRO);
    case EK_ST_ANY:
    case EK_ST_OBJECT:
        return raw_value(d, f, ty->kind == EK_ST_OBJECT);
    case EK_ST_ARRAY:
        return wrapped_list(d, ty->elem, f);
    case EK_ST_MAP:
        fail(d, "map inside a list");
        return NULL;
    case EK_ST_REF: {
        json_t *obj = merge_into ? json_incref(merge_into) : json_object();
        if (++d->depth > MAX_DEPTH) {
            fail(d, "messages nested deeper than %d", MAX_DEPTH);
        } else if (decode_message(d, ty->ref, NULL, 0, f->data, f->len, obj) == 0) {
            d->depth--;
            return obj;
        }
        d->depth--;
        json_decref(obj);
        return NULL;
    }
    }
    return NULL;
}

/* Go's zero value of a scalar: what a non-pointer field holds when the sender left it unset. */
static bool is_zero(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) == 0;
    case JSON_INTEGER:
        return json_integer_value(v) == 0;
    case JSON_REAL:
        return json_real_value(v) == 0;
    case JSON_FALSE:
    case JSON_NULL:
        return true;
    default:
        return false;
    }
}

/* One element of a repeated field; numeric lists may also come packed in one LEN field. */
static int list_element(struct dec *d, const ek_schema_field_t *sf, const ek_pb_field_t *f,
                        json_t *arr)
{
    const ek_schema_ty_t *elem = sf->ty->elem;
    int want = wire_of(elem->kind);
    if (f->wire_type != EK_PB_LEN || want == EK_PB_LEN) {
        json_t *v = value_of(d, elem, EK_SF_PB_PTR, f, NULL);
        if (!v) {
            return -1;
        }
        json_array_append_new(arr, v);
        return 0;
    }
    ek_pb_reader_t r;
    ek_pb_field_t one;
    int rc;
    ek_pb_reader_init(&r, f->data, f->len);
    while ((rc = ek_pb_next_value(&r, want, &one)) > 0) {
        json_t *v = value_of(d, elem, EK_SF_PB_PTR, &one, NULL);
        if (!v) {
            return -1;
        }
        json_array_append_new(arr, v);
    }
    return rc < 0 ? malformed(d, &r) : 0;
}

/* One map entry {1: key, 2: value}. A missing value is the element type's zero value. */
static int map_entry(struct dec *d, const ek_schema_field_t *sf, const ek_pb_field_t *f,
                     json_t *map)
{
    if (f->wire_type != EK_PB_LEN) {
        return fail(d, "map entry has wire type %s", wire_name(f->wire_type));
    }
    ek_pb_reader_t r;
    ek_pb_field_t e, val = { 0 };
    ek_auto(json_t) key = NULL;
    bool have_val = false;
    int rc;
    ek_pb_reader_init(&r, f->data, f->len);
    while ((rc = ek_pb_next(&r, &e)) > 0) {
        if (e.number == 1) {
            json_decref(key);
            key = NULL;
            if (e.wire_type != EK_PB_LEN) {
                return fail(d, "map key has wire type %s", wire_name(e.wire_type));
            }
            if (!(key = string_value(d, e.data, e.len))) {
                return -1;
            }
        } else if (e.number == 2) {
            val = e;
            have_val = true;
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            return fail(d, "unknown map entry field %u", e.number);
        }
    }
    if (rc < 0) {
        return malformed(d, &r);
    }
    const char *k = key ? json_string_value(key) : "";
    size_t mark = d->path.len;
    ek_buf_printf(&d->path, "[%s]", k);
    json_t *v;
    const ek_schema_ty_t *elem = sf->ty->elem;
    if (have_val) {
        v = value_of(d, elem, EK_SF_PB_PTR, &val, NULL);
    } else if (elem->kind == EK_ST_STRING || elem->kind == EK_ST_BYTES) {
        v = json_string("");
    } else if (elem->kind == EK_ST_QUANTITY) {
        v = json_string("0");
    } else if (elem->kind == EK_ST_REF) {
        v = json_object();
    } else if (elem->kind == EK_ST_ARRAY) {
        v = json_array();
    } else {
        v = json_null();
    }
    path_pop(d, mark);
    if (!v) {
        return -1;
    }
    json_object_set_new(map, k, v);
    return 0;
}

/* Field sf of out from wire field f: lists append, maps add an entry, messages merge, scalars
 * replace (the last occurrence wins, as in proto). */
static int field_value(struct dec *d, const ek_schema_field_t *sf, const ek_pb_field_t *f,
                       json_t *out)
{
    size_t mark;
    path_push(d, sf->name, &mark);
    int rc = 0;
    json_t *cur = json_object_get(out, sf->name);
    if (sf->ty->kind == EK_ST_ARRAY || sf->ty->kind == EK_ST_MAP) {
        bool arr = sf->ty->kind == EK_ST_ARRAY;
        if (!(arr ? json_is_array(cur) : json_is_object(cur))) {
            cur = arr ? json_array() : json_object();
            json_object_set_new(out, sf->name, cur);
        }
        rc = arr ? list_element(d, sf, f, cur) : map_entry(d, sf, f, cur);
    } else {
        json_t *v = value_of(d, sf->ty, sf->flags, f, json_is_object(cur) ? cur : NULL);
        if (!v) {
            rc = -1;
        } else if (sf->ty->kind != EK_ST_REF && sf->ty->kind != EK_ST_TIME &&
                   !(sf->flags & EK_SF_PB_PTR) && is_zero(v)) {
            json_decref(v);
            json_object_del(out, sf->name);
        } else {
            json_object_set_new(out, sf->name, v);
        }
    }
    path_pop(d, mark);
    return rc;
}

/* The schema field numbered prefix+n, or (*inline_group set) one inside the embedded message
 * prefix+n whose fields JSON inlines. */
static const ek_schema_field_t *find_field(const ek_schema_type_t *t, const uint32_t *prefix,
                                           size_t plen, uint32_t n, bool *inline_group)
{
    *inline_group = false;
    for (size_t i = 0; i < t->n_fields; i++) {
        const uint32_t *pb = t->fields[i].pb;
        size_t k = 0;
        while (k < plen && pb[k] == prefix[k]) {
            k++;
        }
        if (k < plen || pb[plen] != n) {
            continue;
        }
        *inline_group = plen + 1 < EK_SCHEMA_PB_DEPTH && pb[plen + 1] != 0;
        return &t->fields[i];
    }
    return NULL;
}

/*
 * Decodes the message data of type t into out. prefix names the embedded message being read
 * (Volume's volumeSource is prefix {2}): its fields land in out too, as JSON inlines them.
 */
static int decode_message(struct dec *d, const ek_schema_type_t *t, const uint32_t *prefix,
                          size_t plen, const uint8_t *data, size_t len, json_t *out)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    int rc;
    if (!t->pb) {
        return ek_error_status(d->err, 415, "protobuf is not supported for %s", t->name);
    }
    ek_pb_reader_init(&r, data, len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        bool group;
        const ek_schema_field_t *sf = find_field(t, prefix, plen, f.number, &group);
        if (!sf) {
            if (d->flags & EK_PROTOBUF_STRICT) {
                return fail(d, "unknown field number %u of %s", f.number, t->name);
            }
            continue;
        }
        if (group) {
            if (f.wire_type != EK_PB_LEN) {
                return fail(d, "embedded message %u of %s has wire type %s", f.number, t->name,
                            wire_name(f.wire_type));
            }
            uint32_t sub[EK_SCHEMA_PB_DEPTH] = { 0 };
            for (size_t i = 0; i < plen; i++) {
                sub[i] = prefix[i];
            }
            sub[plen] = f.number;
            if (decode_message(d, t, sub, plen + 1, f.data, f.len, out) < 0) {
                return -1;
            }
        } else if (field_value(d, sf, &f, out) < 0) {
            return -1;
        }
    }
    return rc < 0 ? malformed(d, &r) : 0;
}

/* ---- the envelope ---- */

static char *dup_string(struct dec *d, const ek_pb_field_t *f, const char *what)
{
    if (f->wire_type != EK_PB_LEN) {
        fail(d, "%s has wire type %s", what, wire_name(f->wire_type));
        return NULL;
    }
    /* These end up in JSON and in error messages, so they must be text. */
    json_t *probe = memchr(f->data, 0, f->len) ? NULL : json_stringn((const char *)f->data, f->len);
    if (!probe) {
        fail(d, "%s is not valid UTF-8 text", what);
        return NULL;
    }
    json_decref(probe);
    return ek_xstrndup((const char *)f->data, f->len);
}

static int type_meta(struct dec *d, const ek_pb_field_t *tf, ek_protobuf_unknown_t *out)
{
    ek_pb_reader_t r;
    ek_pb_field_t f;
    int rc;
    if (tf->wire_type != EK_PB_LEN) {
        return fail(d, "typeMeta has wire type %s", wire_name(tf->wire_type));
    }
    ek_pb_reader_init(&r, tf->data, tf->len);
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        char **dst = f.number == 1 ? &out->api_version : f.number == 2 ? &out->kind : NULL;
        if (dst) {
            free(*dst);
            if (!(*dst = dup_string(d, &f, f.number == 1 ? "apiVersion" : "kind"))) {
                return -1;
            }
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            return fail(d, "unknown typeMeta field %u", f.number);
        }
    }
    return rc < 0 ? malformed(d, &r) : 0;
}

static int unwrap(struct dec *d, const uint8_t *data, size_t len, ek_protobuf_unknown_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len < sizeof(magic) || memcmp(data, magic, sizeof(magic)) != 0) {
        /* Kubernetes' own wording for this case. */
        return fail(d, "provided data does not appear to be a protobuf message, expected prefix "
                       "[107 56 115 0]");
    }
    ek_pb_reader_t r;
    ek_pb_field_t f;
    int rc;
    ek_pb_reader_init(&r, data + sizeof(magic), len - sizeof(magic));
    while ((rc = ek_pb_next(&r, &f)) > 0) {
        char **dst = f.number == 3   ? &out->content_encoding
                     : f.number == 4 ? &out->content_type
                                     : NULL;
        if (f.number == 1) {
            rc = type_meta(d, &f, out);
        } else if (f.number == 2) {
            rc = f.wire_type == EK_PB_LEN ? 0
                                          : fail(d, "raw has wire type %s", wire_name(f.wire_type));
            out->raw = f.data;
            out->raw_len = f.len;
        } else if (dst) {
            free(*dst);
            rc = (*dst = dup_string(d, &f, f.number == 3 ? "contentEncoding" : "contentType")) ? 0
                                                                                               : -1;
        } else if (d->flags & EK_PROTOBUF_STRICT) {
            rc = fail(d, "unknown envelope field %u", f.number);
        }
        if (rc < 0) {
            ek_protobuf_unknown_clear(out);
            return -1;
        }
    }
    if (rc < 0) {
        malformed(d, &r);
        ek_protobuf_unknown_clear(out);
        return -1;
    }
    return 0;
}

int ek_protobuf_unwrap(const void *data, size_t len, unsigned flags, ek_protobuf_unknown_t *out,
                       ek_error_t **err)
{
    struct dec d = { .flags = flags, .err = err };
    int rc = unwrap(&d, data, len, out);
    ek_buf_free(&d.path);
    return rc;
}

void ek_protobuf_unknown_clear(ek_protobuf_unknown_t *u)
{
    free(u->api_version);
    free(u->kind);
    free(u->content_encoding);
    free(u->content_type);
    memset(u, 0, sizeof(*u));
}

static json_t *body_to_json(struct dec *d, const uint8_t *data, size_t len,
                            const char *default_api_version, const char *default_kind)
{
    ek_protobuf_unknown_t u;
    if (unwrap(d, data, len, &u) < 0) {
        return NULL;
    }
    /* Like Kubernetes, the request's own group, version and kind fill in what typeMeta omits. */
    const char *av = u.api_version && *u.api_version ? u.api_version : default_api_version;
    const char *kind = u.kind && *u.kind ? u.kind : default_kind;
    json_t *obj = NULL;
    const ek_schema_type_t *t = ek_schema_type_for_kind(av, kind);
    if (u.content_encoding && *u.content_encoding) {
        fail(d, "content encoding \"%s\" is not supported", u.content_encoding);
    } else if (!t || !t->pb) {
        ek_error_status(d->err, 415,
                        "the body of the request was in an unknown format - accepted media types "
                        "include: application/json, application/yaml (protobuf is not supported "
                        "for %s%s%s)",
                        *kind ? kind : "objects without a kind", *av ? " " : "", av);
    } else if (++d->depth > MAX_DEPTH) {
        fail(d, "objects nested deeper than %d", MAX_DEPTH);
    } else {
        obj = json_pack("{s:s,s:s}", "apiVersion", av, "kind", kind);
        if (decode_message(d, t, NULL, 0, u.raw, u.raw_len, obj) < 0) {
            json_decref(obj);
            obj = NULL;
        }
        d->depth--;
    }
    ek_protobuf_unknown_clear(&u);
    return obj;
}

json_t *ek_protobuf_decode(const void *data, size_t len, const char *default_api_version,
                           const char *default_kind, unsigned flags, ek_error_t **err)
{
    struct dec d = { .flags = flags, .err = err };
    json_t *obj = body_to_json(&d, data, len, default_api_version ? default_api_version : "",
                               default_kind ? default_kind : "");
    ek_buf_free(&d.path);
    return obj;
}

json_t *ek_protobuf_to_json(const ek_schema_type_t *t, const void *msg, size_t len, unsigned flags,
                            ek_error_t **err)
{
    struct dec d = { .flags = flags, .err = err };
    json_t *obj = json_object();
    if (decode_message(&d, t, NULL, 0, msg, len, obj) < 0) {
        json_decref(obj);
        obj = NULL;
    }
    ek_buf_free(&d.path);
    return obj;
}
