/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Byte streams over a region of a file, decompressing gzip or zstd when the first bytes say
 * so (layers and archives are labelled unreliably; the magic is what counts), hashing the
 * raw input and/or the output on the way and refusing output beyond a limit, so that a
 * decompression bomb fails with a clear error instead of filling the disk. pread keeps the
 * file offset untouched, so several streams (layers of one archive, in parallel) share an fd.
 */
#include <errno.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "node/image/image-internal.h"

#define INBUF (256 * 1024)

struct ek__stream {
    int fd;
    uint64_t off, left; /* next raw byte to read, raw bytes left in the region */
    ek__codec_t codec;
    bool decompress, detected, eof_raw, eof_out;
    bool hash_raw, hash_out, out_is_raw;
    uint64_t raw_bytes, out_bytes, max_out;
    ek__sha256_t raw_sha, out_sha;
    uint8_t *in;
    size_t in_pos, in_len;
    z_stream z;
    bool z_init;
    ZSTD_DStream *zs;
};

ek__stream_t *ek__stream_new(int fd, uint64_t off, uint64_t len, bool decompress)
{
    ek__stream_t *s = ek_new(ek__stream_t);
    s->fd = fd;
    s->off = off;
    s->left = len;
    /* "To the end" of a regular file is a known length, so that seeking past the end of a
     * truncated archive is noticed. */
    struct stat st;
    if (len == UINT64_MAX && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        s->left = (uint64_t)st.st_size > off ? (uint64_t)st.st_size - off : 0;
    }
    s->decompress = decompress;
    s->max_out = UINT64_MAX;
    s->in = ek_xmalloc(INBUF);
    ek__sha256_init(&s->raw_sha);
    ek__sha256_init(&s->out_sha);
    return s;
}

void ek__stream_free(ek__stream_t *s)
{
    if (!s) {
        return;
    }
    if (s->z_init) {
        inflateEnd(&s->z);
    }
    if (s->zs) {
        ZSTD_freeDStream(s->zs);
    }
    free(s->in);
    free(s);
}

void ek__stream_hash_raw(ek__stream_t *s, bool on)
{
    s->hash_raw = on;
}
void ek__stream_hash_out(ek__stream_t *s, bool on)
{
    s->hash_out = on;
}
void ek__stream_limit(ek__stream_t *s, uint64_t max_out)
{
    s->max_out = max_out;
}
ek__codec_t ek__stream_codec(ek__stream_t *s)
{
    return s->codec;
}
uint64_t ek__stream_out_bytes(const ek__stream_t *s)
{
    return s->out_bytes;
}
uint64_t ek__stream_raw_bytes(const ek__stream_t *s)
{
    return s->raw_bytes;
}
void ek__stream_raw_digest(ek__stream_t *s, char out[static 72])
{
    ek__sha256_t c = s->raw_sha;
    ek__sha256_final(&c, out);
}
void ek__stream_out_digest(ek__stream_t *s, char out[static 72])
{
    /* Uncompressed input: the output is the input, hashed once. */
    ek__sha256_t c = s->out_is_raw ? s->raw_sha : s->out_sha;
    ek__sha256_final(&c, out);
}

/* Refills the input buffer (keeping unconsumed bytes). 0 at the end of the region. */
static ssize_t fill(ek__stream_t *s, ek_error_t **err)
{
    if (s->in_pos > 0) {
        memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
        s->in_len -= s->in_pos;
        s->in_pos = 0;
    }
    size_t want = EK_MIN((uint64_t)(INBUF - s->in_len), s->left);
    if (want == 0) {
        return 0;
    }
    ssize_t r;
    do {
        r = pread(s->fd, s->in + s->in_len, want, (off_t)s->off);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return ek_error_make(err, errno, "read");
    }
    if (r == 0) {
        if (s->left != UINT64_MAX) {
            return ek_error_make(err, 0, "unexpected end of file (truncated)");
        }
        s->left = 0;
        return 0;
    }
    if (s->hash_raw) {
        ek__sha256_update(&s->raw_sha, s->in + s->in_len, (size_t)r);
    }
    s->in_len += (size_t)r;
    s->off += (uint64_t)r;
    s->raw_bytes += (uint64_t)r;
    if (s->left != UINT64_MAX) {
        s->left -= (uint64_t)r;
    }
    return r;
}

static int detect(ek__stream_t *s, ek_error_t **err)
{
    s->detected = true;
    while (s->in_len < 4) {
        ssize_t r = fill(s, err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            break;
        }
    }
    if (!s->decompress || s->in_len < 4) {
        goto plain;
    }
    const uint8_t *m = s->in;
    if (m[0] == 0x1f && m[1] == 0x8b) {
        s->codec = EK_CODEC_GZIP;
        if (inflateInit2(&s->z, 15 + 32) != Z_OK) {
            return ek_error_make(err, ENOMEM, "gzip init");
        }
        s->z_init = true;
    } else if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
        s->codec = EK_CODEC_ZSTD;
        s->zs = ZSTD_createDStream();
        if (!s->zs || ZSTD_isError(ZSTD_initDStream(s->zs))) {
            return ek_error_make(err, ENOMEM, "zstd init");
        }
        /* Frames that ask for a window beyond 128 MiB are refused, not allocated. */
        ZSTD_DCtx_setParameter(s->zs, ZSTD_d_windowLogMax, 27);
    }
plain:
    if (s->codec == EK_CODEC_NONE && s->hash_raw && s->hash_out) {
        s->hash_out = false;
        s->out_is_raw = true;
    }
    return 0;
}

static ssize_t read_gzip(ek__stream_t *s, void *buf, size_t n, ek_error_t **err)
{
    for (;;) {
        if (s->in_pos == s->in_len && !s->eof_raw) {
            ssize_t r = fill(s, err);
            if (r < 0) {
                return -1;
            }
            s->eof_raw = r == 0;
        }
        s->z.next_in = s->in + s->in_pos;
        s->z.avail_in = (uInt)(s->in_len - s->in_pos);
        s->z.next_out = buf;
        s->z.avail_out = (uInt)EK_MIN(n, (size_t)UINT32_MAX);
        int rc = inflate(&s->z, Z_NO_FLUSH);
        s->in_pos = s->in_len - s->z.avail_in;
        size_t got = (size_t)(s->z.next_out - (Bytef *)buf);
        if (rc == Z_STREAM_END) {
            /* Concatenated gzip members (pigz, some exporters) continue the stream. */
            if (s->in_pos == s->in_len && !s->eof_raw) {
                ssize_t r = fill(s, err);
                if (r < 0) {
                    return -1;
                }
                s->eof_raw = r == 0;
            }
            if (s->in_pos < s->in_len) {
                inflateReset(&s->z);
            } else {
                s->eof_out = true;
            }
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return ek_error_make(err, 0, "gzip: %s", s->z.msg ? s->z.msg : "corrupt data");
        } else if (got == 0 && s->eof_raw && s->in_pos == s->in_len) {
            return ek_error_make(err, 0, "gzip: unexpected end of data (truncated)");
        }
        if (got > 0 || s->eof_out) {
            return (ssize_t)got;
        }
    }
}

static ssize_t read_zstd(ek__stream_t *s, void *buf, size_t n, ek_error_t **err)
{
    for (;;) {
        if (s->in_pos == s->in_len && !s->eof_raw) {
            ssize_t r = fill(s, err);
            if (r < 0) {
                return -1;
            }
            s->eof_raw = r == 0;
        }
        ZSTD_inBuffer in = { s->in, s->in_len, s->in_pos };
        ZSTD_outBuffer out = { buf, n, 0 };
        size_t rc = ZSTD_decompressStream(s->zs, &out, &in);
        s->in_pos = in.pos;
        if (ZSTD_isError(rc)) {
            return ek_error_make(err, 0, "zstd: %s", ZSTD_getErrorName(rc));
        }
        if (out.pos > 0) {
            return (ssize_t)out.pos;
        }
        if (s->eof_raw && s->in_pos == s->in_len) {
            if (rc != 0) {
                return ek_error_make(err, 0, "zstd: unexpected end of data (truncated)");
            }
            s->eof_out = true;
            return 0;
        }
    }
}

static ssize_t read_plain(ek__stream_t *s, void *buf, size_t n, ek_error_t **err)
{
    if (s->in_pos == s->in_len) {
        s->in_pos = s->in_len = 0;
        /* Large reads go straight into the caller's buffer. */
        if (n >= INBUF / 2 && s->left > 0) {
            size_t want = EK_MIN((uint64_t)n, s->left);
            ssize_t r;
            do {
                r = pread(s->fd, buf, want, (off_t)s->off);
            } while (r < 0 && errno == EINTR);
            if (r < 0) {
                return ek_error_make(err, errno, "read");
            }
            if (r == 0 && s->left != UINT64_MAX) {
                return ek_error_make(err, 0, "unexpected end of file (truncated)");
            }
            if (s->hash_raw) {
                ek__sha256_update(&s->raw_sha, buf, (size_t)r);
            }
            s->off += (uint64_t)r;
            s->raw_bytes += (uint64_t)r;
            s->left = r == 0 ? 0 : s->left == UINT64_MAX ? UINT64_MAX : s->left - (uint64_t)r;
            return r;
        }
        ssize_t r = fill(s, err);
        if (r <= 0) {
            return r;
        }
    }
    size_t take = EK_MIN(n, s->in_len - s->in_pos);
    memcpy(buf, s->in + s->in_pos, take);
    s->in_pos += take;
    return (ssize_t)take;
}

ssize_t ek__stream_read(ek__stream_t *s, void *buf, size_t n, ek_error_t **err)
{
    if (!s->detected && detect(s, err) < 0) {
        return -1;
    }
    if (s->eof_out || n == 0) {
        return 0;
    }
    ssize_t r;
    switch (s->codec) {
    case EK_CODEC_GZIP:
        r = read_gzip(s, buf, n, err);
        break;
    case EK_CODEC_ZSTD:
        r = read_zstd(s, buf, n, err);
        break;
    default:
        r = read_plain(s, buf, n, err);
        break;
    }
    if (r <= 0) {
        return r;
    }
    s->out_bytes += (uint64_t)r;
    if (s->out_bytes > s->max_out) {
        return ek_error_make(err, EFBIG, "uncompressed size exceeds the limit of %llu bytes",
                             (unsigned long long)s->max_out);
    }
    if (s->hash_out) {
        ek__sha256_update(&s->out_sha, buf, (size_t)r);
    }
    return r;
}

int ek__stream_skip(ek__stream_t *s, uint64_t n, ek_error_t **err)
{
    if (!s->detected && detect(s, err) < 0) {
        return -1;
    }
    if (s->codec == EK_CODEC_NONE && !s->hash_raw && !s->hash_out) {
        uint64_t buffered = s->in_len - s->in_pos;
        if (n <= buffered) {
            s->in_pos += n;
        } else {
            uint64_t rest = n - buffered;
            s->in_pos = s->in_len = 0;
            if (s->left != UINT64_MAX && rest > s->left) {
                return ek_error_make(err, 0, "unexpected end of file (truncated)");
            }
            s->off += rest;
            s->raw_bytes += rest;
            if (s->left != UINT64_MAX) {
                s->left -= rest;
            }
        }
        s->out_bytes += n;
        return 0;
    }
    char buf[16384];
    while (n > 0) {
        ssize_t r = ek__stream_read(s, buf, EK_MIN(n, sizeof(buf)), err);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            return ek_error_make(err, 0, "unexpected end of data (truncated)");
        }
        n -= (uint64_t)r;
    }
    return 0;
}

int ek__stream_drain(ek__stream_t *s, ek_error_t **err)
{
    ek_autofree char *buf = ek_xmalloc(65536);
    for (;;) {
        ssize_t r = ek__stream_read(s, buf, 65536, err);
        if (r <= 0) {
            return (int)r;
        }
    }
}

int ek__stream_drain_raw(ek__stream_t *s, ek_error_t **err)
{
    for (;;) {
        s->in_pos = s->in_len; /* already hashed when it was read */
        ssize_t r = fill(s, err);
        if (r <= 0) {
            return (int)r;
        }
    }
}

ssize_t ek__stream_read_cb(void *ctx, void *buf, size_t n, ek_error_t **err)
{
    return ek__stream_read(ctx, buf, n, err);
}

int ek__stream_skip_cb(void *ctx, uint64_t n, ek_error_t **err)
{
    return ek__stream_skip(ctx, n, err);
}
