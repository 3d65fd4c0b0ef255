/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protocol Buffers wire format, without generated code: a writer that appends fields to an
 * ek_buf_t (nested messages are built in their own buffer and appended), and a reader that
 * walks the fields of one message. Schema knowledge (field numbers) lives with the callers.
 */
#ifndef EK_LIB_PB_H
#define EK_LIB_PB_H

#include "lib/buf.h"
#include "lib/common.h"

enum { EK_PB_VARINT = 0, EK_PB_I64 = 1, EK_PB_LEN = 2, EK_PB_I32 = 5 };

void ek_pb_varint(ek_buf_t *b, uint64_t v);
void ek_pb_tag(ek_buf_t *b, uint32_t field, int wire_type);
void ek_pb_uint(ek_buf_t *b, uint32_t field, uint64_t v);
void ek_pb_bool(ek_buf_t *b, uint32_t field, bool v);
void ek_pb_double(ek_buf_t *b, uint32_t field, double v);
void ek_pb_bytes(ek_buf_t *b, uint32_t field, const void *data, size_t len);
/* A string field; NULL writes nothing. */
void ek_pb_string(ek_buf_t *b, uint32_t field, const char *s);
/* Appends msg as a length-delimited field and empties msg. */
void ek_pb_message(ek_buf_t *b, uint32_t field, ek_buf_t *msg);

/* Reads the fields of one message in order. */
typedef struct ek_pb_reader {
    const uint8_t *p, *end;
    const char *error; /* why ek_pb_next last returned -1 (a static string) */
} ek_pb_reader_t;

typedef struct ek_pb_field {
    uint32_t number;
    int wire_type;
    uint64_t varint;     /* VARINT, I64 and I32 values */
    const uint8_t *data; /* LEN payload */
    size_t len;
} ek_pb_field_t;

void ek_pb_reader_init(ek_pb_reader_t *r, const void *data, size_t len);
/* 1 = a field was read, 0 = end of message, -1 = malformed input (r->error says why). */
int ek_pb_next(ek_pb_reader_t *r, ek_pb_field_t *f);
/* Reads one untagged value of wire_type into f (the elements of a packed repeated field).
 * Same returns as ek_pb_next. */
int ek_pb_next_value(ek_pb_reader_t *r, int wire_type, ek_pb_field_t *f);

#endif
