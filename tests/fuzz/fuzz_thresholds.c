/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: --eviction-hard threshold lists on arbitrary bytes. A parse either fails
 * with a message or yields thresholds in range (percentages 0..100, sizes not negative).
 */
#include "node/kubelet-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = ek_xstrndup((const char *)data, size);
    ek__kl_thresholds_t t;
    ek_error_t *err = NULL;
    if (ek__kl_thresholds_parse(in, &t, &err) < 0) {
        ek_assert(err && *ek_error_msg(err));
        ek_error_free(err);
    } else {
        ek_assert(t.nodefs_pct >= 0 && t.nodefs_pct <= 100);
        ek_assert(t.imagefs_pct >= 0 && t.imagefs_pct <= 100);
        ek_assert(t.memory_bytes >= 0 && t.pids >= 0);
    }
    free(in);
    return 0;
}
