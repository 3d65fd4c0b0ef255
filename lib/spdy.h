/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3.1 framing, as Kubernetes' streaming protocols use it (exec, attach and port-forward
 * of kubectl up to 1.29, and port-forward tunnelled in WebSocket since 1.31): frame parsing
 * and encoding as pure functions (fuzzed), and the name/value header blocks, which each
 * direction of a connection compresses with one zlib stream primed with the protocol's
 * dictionary and flushed (Z_SYNC_FLUSH) after each block. No flow control: like the Go
 * implementation kubectl uses, WINDOW_UPDATE and SETTINGS are read and ignored.
 */
#ifndef EK_LIB_SPDY_H
#define EK_LIB_SPDY_H

#include "lib/buf.h"
#include "lib/common.h"
#include "lib/error.h"

enum {
    EK_SPDY_SYN_STREAM = 1,
    EK_SPDY_SYN_REPLY = 2,
    EK_SPDY_RST_STREAM = 3,
    EK_SPDY_SETTINGS = 4,
    EK_SPDY_PING = 6,
    EK_SPDY_GOAWAY = 7,
    EK_SPDY_HEADERS = 8,
    EK_SPDY_WINDOW_UPDATE = 9,
};

#define EK_SPDY_FLAG_FIN            0x01
#define EK_SPDY_FLAG_UNIDIRECTIONAL 0x02
#define EK_SPDY_HEADER_LEN          8
#define EK_SPDY_MAX_PAYLOAD         ((1u << 24) - 1)
/* RST_STREAM status codes we send. */
#define EK_SPDY_RST_PROTOCOL_ERROR 1
#define EK_SPDY_RST_REFUSED        3
#define EK_SPDY_RST_CANCEL         5

/* The zlib dictionary of SPDY/3 header blocks (1423 bytes). */
const uint8_t *ek_spdy_dictionary(size_t *len);

/* One frame. Data frames: control false, stream_id, flags, payload. Control frames: type,
 * flags, and for the types that carry one (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS,
 * WINDOW_UPDATE) stream_id; assoc_id/priority for SYN_STREAM; status for RST_STREAM and
 * GOAWAY (with last_good in stream_id), ping id and window delta in value; headers points at
 * the compressed header block of SYN_STREAM, SYN_REPLY and HEADERS. */
typedef struct ek_spdy_frame {
    bool control;
    uint16_t version;
    uint16_t type;
    uint8_t flags;
    uint32_t stream_id;
    uint32_t assoc_id;
    uint8_t priority;
    uint32_t status;
    uint32_t value;
    const uint8_t *payload; /* data frames: the data; control frames: the whole payload */
    uint32_t len;
    const uint8_t *headers;
    uint32_t headers_len;
} ek_spdy_frame_t;

/*
 * Parses the frame at the start of data. Returns the bytes it takes (> 0), 0 when more bytes
 * are needed, -1 when it is malformed (a control frame of version other than 3, a payload
 * larger than max_payload, a stream control frame too short for its fields, stream id 0 on a
 * data frame or a stream frame). Unknown control types parse (type kept) so they can be skipped.
 */
long ek_spdy_parse(const uint8_t *data, size_t len, size_t max_payload, ek_spdy_frame_t *f);

/* Name/value pairs of a header block. Names are lowercase; a value with several parts keeps
 * them NUL-separated (value_len). */
typedef struct ek_spdy_headers {
    size_t n;
    char **names;
    char **values;
    size_t *value_lens;
} ek_spdy_headers_t;

void ek_spdy_headers_add(ek_spdy_headers_t *h, const char *name, const char *value);
/* The first value of name (case-insensitive), or NULL. Borrowed. */
const char *ek_spdy_headers_get(const ek_spdy_headers_t *h, const char *name);
void ek_spdy_headers_free(ek_spdy_headers_t *h);
/* Uncompressed block: 32-bit count, then length-prefixed name and value of each pair. */
void ek_spdy_headers_encode(const ek_spdy_headers_t *h, ek_buf_t *out);
/* Parses an uncompressed block; -1 when malformed (lengths past the end, empty names, more
 * than 1024 pairs). */
int ek_spdy_headers_decode(const uint8_t *data, size_t len, ek_spdy_headers_t *out);

/* One direction's header compression state. */
typedef struct ek_spdy_zstream ek_spdy_zstream_t;
ek_spdy_zstream_t *ek_spdy_zstream_new(bool deflate);
void ek_spdy_zstream_free(ek_spdy_zstream_t *z);
/* Decompresses one block (at most 256 KiB of output) and parses it. */
int ek_spdy_inflate_headers(ek_spdy_zstream_t *z, const uint8_t *data, size_t len,
                            ek_spdy_headers_t *out, ek_error_t **err);
/* Compresses a header block, appending the compressed bytes to out. */
void ek_spdy_deflate_headers(ek_spdy_zstream_t *z, const ek_spdy_headers_t *h, ek_buf_t *out);

/* ---- encoding ---- */
void ek_spdy_encode_data(ek_buf_t *out, uint32_t stream_id, uint8_t flags, const void *data,
                         size_t len);
/* SYN_STREAM / SYN_REPLY / HEADERS with a block compressed by z (the sender's deflater). */
void ek_spdy_encode_syn_stream(ek_buf_t *out, ek_spdy_zstream_t *z, uint32_t stream_id,
                               uint8_t flags, const ek_spdy_headers_t *h);
void ek_spdy_encode_syn_reply(ek_buf_t *out, ek_spdy_zstream_t *z, uint32_t stream_id,
                              uint8_t flags, const ek_spdy_headers_t *h);
void ek_spdy_encode_rst(ek_buf_t *out, uint32_t stream_id, uint32_t status);
void ek_spdy_encode_ping(ek_buf_t *out, uint32_t id);
void ek_spdy_encode_goaway(ek_buf_t *out, uint32_t last_good, uint32_t status);

#endif
