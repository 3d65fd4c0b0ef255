/* SPDX-License-Identifier: Apache-2.0 */
/* Protocol Buffers wire format: varints, tags, length-delimited fields. */
#include "lib/pb.h"

void ek_pb_varint(ek_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    ek_buf_append(b, tmp, n);
}

void ek_pb_tag(ek_buf_t *b, uint32_t field, int wire_type)
{
    ek_pb_varint(b, ((uint64_t)field << 3) | (unsigned)wire_type);
}

void ek_pb_uint(ek_buf_t *b, uint32_t field, uint64_t v)
{
    ek_pb_tag(b, field, EK_PB_VARINT);
    ek_pb_varint(b, v);
}

void ek_pb_bool(ek_buf_t *b, uint32_t field, bool v)
{
    ek_pb_uint(b, field, v ? 1 : 0);
}

void ek_pb_double(ek_buf_t *b, uint32_t field, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    uint8_t le[8];
    for (int i = 0; i < 8; i++) {
        le[i] = (uint8_t)(bits >> (8 * i));
    }
    ek_pb_tag(b, field, EK_PB_I64);
    ek_buf_append(b, le, 8);
}

void ek_pb_bytes(ek_buf_t *b, uint32_t field, const void *data, size_t len)
{
    ek_pb_tag(b, field, EK_PB_LEN);
    ek_pb_varint(b, len);
    ek_buf_append(b, data, len);
}

void ek_pb_string(ek_buf_t *b, uint32_t field, const char *s)
{
    if (s) {
        ek_pb_bytes(b, field, s, strlen(s));
    }
}

void ek_pb_message(ek_buf_t *b, uint32_t field, ek_buf_t *msg)
{
    ek_pb_bytes(b, field, msg->data ? msg->data : "", msg->len);
    ek_buf_reset(msg);
}

void ek_pb_reader_init(ek_pb_reader_t *r, const void *data, size_t len)
{
    r->p = data;
    r->end = data ? r->p + len : r->p;
    r->error = NULL;
}

static int fail(ek_pb_reader_t *r, const char *why)
{
    r->error = why;
    return -1;
}

static int read_varint(ek_pb_reader_t *r, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->p >= r->end) {
            return -1;
        }
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int ek_pb_next_value(ek_pb_reader_t *r, int wire_type, ek_pb_field_t *f)
{
    if (r->p >= r->end) {
        return 0;
    }
    f->wire_type = wire_type;
    f->varint = 0;
    f->data = NULL;
    f->len = 0;
    switch (wire_type) {
    case EK_PB_VARINT:
        return read_varint(r, &f->varint) < 0 ? fail(r, "truncated varint") : 1;
    case EK_PB_I64:
    case EK_PB_I32: {
        size_t n = wire_type == EK_PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < n) {
            return fail(r, "truncated fixed-size value");
        }
        for (size_t i = 0; i < n; i++) {
            f->varint |= (uint64_t)r->p[i] << (8 * i);
        }
        r->p += n;
        return 1;
    }
    case EK_PB_LEN: {
        uint64_t len;
        if (read_varint(r, &len) < 0) {
            return fail(r, "truncated length");
        }
        if (len > (uint64_t)(r->end - r->p)) {
            return fail(r, "length-delimited field runs past the end of its message");
        }
        f->data = r->p;
        f->len = (size_t)len;
        r->p += len;
        return 1;
    }
    default:
        return fail(r, "unsupported wire type");
    }
}

int ek_pb_next(ek_pb_reader_t *r, ek_pb_field_t *f)
{
    if (r->p >= r->end) {
        return 0;
    }
    uint64_t key;
    if (read_varint(r, &key) < 0) {
        return fail(r, "truncated field tag");
    }
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff) {
        return fail(r, "invalid field number");
    }
    f->number = (uint32_t)(key >> 3);
    int wt = (int)(key & 7);
    if (wt != EK_PB_VARINT && wt != EK_PB_I64 && wt != EK_PB_LEN && wt != EK_PB_I32) {
        /* 3 and 4 are proto2 groups, which Kubernetes' messages never use; 6 and 7 do not exist. */
        return fail(r, "unsupported wire type");
    }
    if (r->p >= r->end) {
        return fail(r, "field without a value");
    }
    return ek_pb_next_value(r, wt, f);
}
