/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the three patch types. The input's first line is the document, the rest
 * the patch (both JSON); all three patch types are applied, strategic merge with no schema and
 * with a built-in one picked by the input. Nothing may crash or leak, inputs must stay
 * unchanged, and failures must carry one of the statuses the API server answers with.
 */
#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(json_t *result, ek_error_t *err)
{
    if (result) {
        ek_assert(!err);
        char *s = ek_json_dumps(result);
        free(s);
        json_decref(result);
        return;
    }
    ek_assert(err && err->msg && *err->msg);
    ek_assert(err->status == 400 || err->status == 413 || err->status == 422 || err->status == 500);
    ek_error_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[][2] = {
        { "", "Pod" },     { "apps", "Deployment" }, { "batch", "CronJob" },
        { "", "Service" }, { "", "Node" },           { "", "ConfigMap" },
    };
    const char *nl = memchr(data, '\n', size);
    if (!nl) {
        return 0;
    }
    size_t dlen = (size_t)(nl - (const char *)data);
    ek_error_t *err = NULL;
    json_t *doc = ek_json_parse((const char *)data, dlen, &err);
    ek_error_clear(&err);
    json_t *patch = ek_json_parse(nl + 1, size - dlen - 1, &err);
    ek_error_clear(&err);
    if (!doc || !patch) {
        json_decref(doc);
        json_decref(patch);
        return 0;
    }
    char *doc_before = ek_json_dumps(doc), *patch_before = ek_json_dumps(patch);

    check(ek_patch_merge(doc, patch, &err), err);
    err = NULL;
    check(ek_patch_json(doc, patch, &err), err);
    err = NULL;
    check(ek_patch_strategic(doc, patch, NULL, &err), err);
    err = NULL;
    const char *const *k = kinds[size % EK_ARRAY_SIZE(kinds)];
    ek_smp_schema_t schema = ek_smp_schema_builtin(k[0], k[1]);
    check(ek_patch_strategic(doc, patch, &schema, &err), err);

    char *doc_after = ek_json_dumps(doc), *patch_after = ek_json_dumps(patch);
    ek_assert(strcmp(doc_before, doc_after) == 0);
    ek_assert(strcmp(patch_before, patch_after) == 0);
    free(doc_before);
    free(doc_after);
    free(patch_before);
    free(patch_after);
    json_decref(doc);
    json_decref(patch);
    return 0;
}
