/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: label selectors (string syntax and metav1.LabelSelector JSON) and field
 * selectors on arbitrary bytes. Whatever parses must print a canonical form that parses back
 * (to the same form once normalised), and matching must not crash.
 */
#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *field_value(const char *field, void *data)
{
    /* Every field has a value derived from its name, so both outcomes of a match occur. */
    return strlen(field) % 2 ? field : (const char *)data;
}

static void check_labels(const char *s)
{
    ek_error_t *err = NULL;
    ek_labelsel_t *sel = ek_labelsel_parse(s, &err);
    if (!sel) {
        ek_assert(err && err->status == 400 && err->msg && *err->msg);
        ek_error_free(err);
        return;
    }
    char *str = ek_labelsel_string(sel);
    ek_labelsel_t *again = ek_labelsel_parse(str, &err);
    ek_assert(again);
    char *str2 = ek_labelsel_string(again);
    ek_assert(strcmp(str, str2) == 0);
    /* Labels made of the selector's own keys and values exercise every operator. */
    json_t *labels = json_object();
    for (size_t i = 0; i < ek_labelsel_count(sel); i++) {
        const ek_labelsel_req_t *r = ek_labelsel_req(sel, i);
        json_object_set_new(labels, r->key, json_string(r->nvalues ? r->values[0] : ""));
    }
    (void)ek_labelsel_matches(sel, labels);
    (void)ek_labelsel_matches(again, NULL);
    for (size_t i = 0; i < ek_labelsel_count(sel); i++) {
        (void)ek_labelsel_exact(sel, ek_labelsel_req(sel, i)->key);
    }
    json_decref(labels);
    free(str2);
    free(str);
    ek_labelsel_free(again);
    ek_labelsel_free(sel);
}

static void check_fields(const char *s)
{
    ek_error_t *err = NULL;
    ek_fieldsel_t *sel = ek_fieldsel_parse(s, &err);
    if (!sel) {
        ek_assert(err && err->status == 400 && err->msg && *err->msg);
        ek_error_free(err);
        return;
    }
    char *str = ek_fieldsel_string(sel);
    ek_fieldsel_t *again = ek_fieldsel_parse(str, &err);
    ek_assert(again && ek_fieldsel_count(again) == ek_fieldsel_count(sel));
    char *str2 = ek_fieldsel_string(again);
    /* Terms are sorted as written, and "==" prints as "=", so the first round may reorder
     * them (Kubernetes too); from then on the form is stable. */
    ek_fieldsel_t *third = ek_fieldsel_parse(str2, &err);
    ek_assert(third);
    char *str3 = ek_fieldsel_string(third);
    ek_assert(strcmp(str2, str3) == 0);
    free(str3);
    ek_fieldsel_free(third);
    (void)ek_fieldsel_matches(sel, field_value, "v");
    for (size_t i = 0; i < ek_fieldsel_count(sel); i++) {
        (void)ek_fieldsel_exact(sel, ek_fieldsel_req(sel, i)->field);
    }
    free(str2);
    free(str);
    ek_fieldsel_free(again);
    ek_fieldsel_free(sel);
}

static void check_json(const char *s, size_t len)
{
    ek_error_t *err = NULL;
    json_t *j = ek_json_parse(s, len, &err);
    if (!j) {
        ek_error_free(err);
        return;
    }
    ek_labelsel_t *sel = ek_labelsel_from_json(j, &err);
    if (!sel) {
        ek_assert(err && err->status == 400);
        ek_error_free(err);
    } else {
        char *str = ek_labelsel_string(sel);
        (void)ek_labelsel_matches(sel, json_object_get(j, "matchLabels"));
        /* Nothing-selectors print as "" (which means everything): skip the round trip. */
        if (!ek_labelsel_is_nothing(sel)) {
            ek_labelsel_t *again = ek_labelsel_parse(str, &err);
            ek_assert(again);
            ek_labelsel_free(again);
        }
        free(str);
        ek_labelsel_free(sel);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = ek_xstrndup((const char *)data, size);
    check_labels(s);
    check_fields(s);
    if (size && data[0] == '{') {
        check_json((const char *)data, size);
    }
    free(s);
    return 0;
}
