/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: what registries and archives send as JSON — manifests, indexes
 * (with platform selection for every architecture edgek ships for), image configs — and
 * image references. Errors must be messages, never crashes.
 */
#include "node/image/image-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    ek_error_t *err = NULL;
    ek__manifest_t m;
    if (ek__manifest_parse(text, size, NULL, &m, &err) == 0) {
        static const char *const platforms[] = { "linux/amd64", "linux/arm64", "linux/arm/v7",
                                                 "all" };
        for (size_t i = 0; i < EK_ARRAY_SIZE(platforms); i++) {
            const ek__desc_t *d = ek__index_select(&m, platforms[i]);
            ek_assert(!d || ek__digest_valid(d->digest));
        }
        ek__manifest_free(&m);
    } else {
        ek_assert(err && err->msg);
        ek_error_clear(&err);
    }
    ek__config_t c;
    if (ek__config_parse(text, size, &c, &err) == 0) {
        ek_assert(json_is_object(c.config));
        ek__config_free(&c);
    } else {
        ek_error_clear(&err);
    }
    if (size < 2048) {
        char *s = ek_xstrndup(text, size);
        char *n = ek_image_ref_normalize(s, &err);
        if (n) {
            /* Normalising is idempotent. */
            char *again = ek_image_ref_normalize(n, NULL);
            ek_assert(again && strcmp(again, n) == 0);
            free(again);
            free(n);
        } else {
            ek_error_clear(&err);
        }
        free(s);
    }
    return 0;
}
