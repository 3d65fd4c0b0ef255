/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the tar reader on arbitrary bytes, as a layer or archive would feed it
 * (through the decompressing stream, so gzip and zstd framing is fuzzed too). Every entry's
 * data is read to the end; names and links must come back NUL-terminated and bounded.
 */
#include <stdio.h>
#include <sys/mman.h>

#include "node/image/image-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The stream reads a file descriptor: a memfd holds the input. */
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz-tar", MFD_CLOEXEC);
        ek_assert(fd >= 0);
    }
    ek_assert(ftruncate(fd, 0) == 0);
    ek_assert(pwrite(fd, data, size, 0) == (ssize_t)size);
    ek__stream_t *st = ek__stream_new(fd, 0, UINT64_MAX, true);
    ek__stream_limit(st, 64 << 20);
    ek__stream_hash_raw(st, true);
    ek__stream_hash_out(st, true);
    ek__tar_t *t = ek__tar_new(ek__stream_read_cb, NULL, st);
    ek_error_t *err = NULL;
    char buf[4096];
    for (int n = 0; n < 10000; n++) {
        const ek__tar_entry_t *e;
        int r = ek__tar_next(t, &e, &err);
        if (r <= 0) {
            break;
        }
        ek_assert(strlen(e->path) > 0 && strlen(e->link) < (1u << 20));
        for (size_t i = 0; i < e->n_xattrs; i++) {
            ek_assert(e->xattrs[i].name && e->xattrs[i].value);
        }
        ssize_t got;
        while ((got = ek__tar_read(t, buf, sizeof(buf), &err)) > 0) {
        }
        if (got < 0) {
            break;
        }
    }
    if (err) {
        ek_assert(err->msg);
        ek_error_free(err);
    }
    ek__tar_free(t);
    ek__stream_free(st);
    return 0;
}
