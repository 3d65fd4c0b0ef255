/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the gRPC probe's HTTP/2 frame reader on arbitrary server bytes, fed in two
 * pieces. It never reads past what it was given, consumes only whole frames, and a status it
 * reports comes from a complete message.
 */
#include "node/kubelet-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ek__kl_grpc_reader_t r = { .status = -1, .data = EK_BUF_INIT };
    size_t cut = size ? data[0] % (size + 1) : 0;
    size_t used = 0;
    size_t ends[2] = { cut, size };
    for (int i = 0; i < 2; i++) {
        ek_error_t *err = NULL;
        ssize_t n = ek__kl_grpc_feed(&r, data + used, ends[i] - used, &err);
        if (n < 0) {
            ek_assert(err && *ek_error_msg(err));
            ek_error_free(err);
            break;
        }
        ek_assert((size_t)n <= ends[i] - used);
        used += (size_t)n;
    }
    ek_assert(r.status >= -1 && r.status <= 255);
    ek_assert(r.status < 0 || r.data.len >= 5);
    ek_buf_free(&r.data);
    return 0;
}
