/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the kubelet's $(VAR) expansion (env values, command and args) on arbitrary
 * bytes. Without any known variable a text without `$$` comes out unchanged; whatever the
 * variables (none, or all known as ""), the output is never longer than the input.
 */
#include "node/kubelet-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *none(const char *name, void *data)
{
    EK_UNUSED(name);
    EK_UNUSED(data);
    return NULL;
}

static const char *empty(const char *name, void *data)
{
    EK_UNUSED(name);
    EK_UNUSED(data);
    return "";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = ek_xstrndup((const char *)data, size);
    char *a = ek__kl_expand(in, none, NULL);
    /* Unknown references stay as written, so only `$$` (outside a reference) changes. */
    ek_assert(strlen(a) <= strlen(in));
    if (!strstr(in, "$$")) {
        ek_assert(strcmp(a, in) == 0);
    }
    char *b = ek__kl_expand(in, empty, NULL);
    ek_assert(strlen(b) <= strlen(in));
    free(a);
    free(b);
    free(in);
    return 0;
}
