/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: protobuf request bodies (api/protobuf.c). An input that starts with the
 * "k8s\0" magic is decoded as a whole body (seeds: recorded kubectl 1.32 bodies); any other
 * input's first byte picks a protobuf-capable schema type and the rest is decoded as one
 * message of it, so the fuzzer reaches every type without learning envelopes first. Nothing
 * may crash, leak or hang; failures are 400 or 415 with a message; a decoded object has only
 * fields of its schema, each of the right JSON type.
 */
#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void no_issue(ek_schema_issue_kind_t kind, const char *path, const char *detail, void *data)
{
    /* Enum and required issues are for validation; the decoder never invents fields or
     * mistypes values. */
    ek_assert(kind != EK_SCHEMA_UNKNOWN_FIELD && kind != EK_SCHEMA_WRONG_TYPE);
}

static void check(const ek_schema_type_t *t, json_t *obj, ek_error_t *err)
{
    if (!obj) {
        ek_assert(err && err->msg && *err->msg);
        ek_assert(err->status == 400 || err->status == 415);
        ek_error_free(err);
        return;
    }
    ek_assert(!err && json_is_object(obj));
    if (t) {
        ek_schema_check(t, obj, no_issue, NULL);
    }
    char *s = ek_json_dumps(obj);
    ek_assert(s);
    free(s);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ek_schema_type_t **types;
    static size_t n_types;
    if (!types) {
        ek_error_t *err = NULL;
        ek_assert(ek_schema_load(&err) == 0);
        const ek_schema_type_t *all;
        size_t n = ek_schema_types(&all);
        types = ek_xcalloc(n, sizeof(*types));
        for (size_t i = 0; i < n; i++) {
            if (all[i].pb) {
                types[n_types++] = &all[i];
            }
        }
    }
    ek_error_t *err = NULL;
    if (size >= 4 && memcmp(data, "k8s", 4) == 0) {
        json_t *obj = ek_protobuf_decode(data, size, "v1", "ConfigMap", 0, &err);
        const ek_schema_type_t *t =
            obj ? ek_schema_type_for_kind(ek_json_str(obj, "apiVersion", NULL),
                                          ek_json_str(obj, "kind", NULL))
                : NULL;
        if (obj) {
            /* The envelope's type meta is not a message field. */
            json_object_del(obj, "apiVersion");
            json_object_del(obj, "kind");
        }
        check(t, obj, err);
        return 0;
    }
    if (size == 0) {
        return 0;
    }
    const ek_schema_type_t *t = types[data[0] % n_types];
    unsigned flags = (data[0] / n_types) & 1 ? EK_PROTOBUF_STRICT : 0;
    check(t, ek_protobuf_to_json(t, data + 1, size - 1, flags, &err), err);
    return 0;
}
