/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC probes: one grpc.health.v1.Health/Check call over HTTP/2 with prior knowledge
 * (cleartext, no TLS, as the kubelet's gRPC prober does). The request is fixed enough to be
 * written by hand: the connection preface, an empty SETTINGS frame, a HEADERS frame whose
 * HPACK block uses only static-table names and literals without indexing (so no dynamic table
 * and no Huffman coding on our side), and one DATA frame with the length-prefixed
 * HealthCheckRequest. Of the answer only frame boundaries and flags are read, plus the DATA
 * payload: the HealthCheckResponse's status field. The response headers are not decoded
 * (HPACK with Huffman would be needed for that), so a call that ends without a message is
 * reported as an RPC error without its gRPC status code. The reader is pure (and fuzzed);
 * the call blocks, on a worker thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "node/kubelet-internal.h"

#define H2_DATA          0x0
#define H2_HEADERS       0x1
#define H2_RST_STREAM    0x3
#define H2_SETTINGS      0x4
#define H2_PING          0x6
#define H2_GOAWAY        0x7
#define H2_END_STREAM    0x1
#define H2_ACK           0x1
#define H2_PADDED        0x8
#define H2_MAX_FRAME     (1 << 24)
#define GRPC_MAX_MESSAGE (1 << 20)

static void frame_head(ek_buf_t *b, size_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
    uint8_t h[9] = { (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8),
                     (uint8_t)len,
                     type,
                     flags,
                     (uint8_t)(stream >> 24),
                     (uint8_t)(stream >> 16),
                     (uint8_t)(stream >> 8),
                     (uint8_t)stream };
    ek_buf_append(b, h, sizeof(h));
}

/* An HPACK string literal without Huffman coding (7-bit prefix length). */
static void hpack_str(ek_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (n < 127) {
        ek_buf_putc(b, (char)n);
    } else {
        ek_buf_putc(b, 127);
        n -= 127;
        while (n >= 128) {
            ek_buf_putc(b, (char)(0x80 | (n & 0x7f)));
            n >>= 7;
        }
        ek_buf_putc(b, (char)n);
    }
    ek_buf_append(b, s, strlen(s));
}

/* Literal header field without indexing, name from the static table (4-bit prefix). */
static void hpack_lit(ek_buf_t *b, unsigned name_index, const char *value)
{
    if (name_index < 15) {
        ek_buf_putc(b, (char)name_index);
    } else {
        ek_buf_putc(b, 0x0f);
        ek_buf_putc(b, (char)(name_index - 15)); /* < 128 for every static index */
    }
    hpack_str(b, value);
}

char *ek__kl_grpc_request(const char *authority, const char *service, size_t *len)
{
    ek_autobuf hdr = EK_BUF_INIT;
    ek_buf_putc(&hdr, (char)0x83); /* :method POST */
    ek_buf_putc(&hdr, (char)0x86); /* :scheme http */
    hpack_lit(&hdr, 4, "/grpc.health.v1.Health/Check");
    hpack_lit(&hdr, 1, authority);
    hpack_lit(&hdr, 31, "application/grpc");
    hpack_lit(&hdr, 58, "kube-probe/1.32");
    ek_buf_putc(&hdr, 0x00); /* te: trailers, a literal name */
    hpack_str(&hdr, "te");
    hpack_str(&hdr, "trailers");
    /* HealthCheckRequest { string service = 1; } behind gRPC's 5-byte message prefix. */
    ek_autobuf msg = EK_BUF_INIT;
    size_t sl = service ? strlen(service) : 0;
    if (sl > 0) {
        ek_buf_putc(&msg, 0x0a);
        for (size_t n = sl;; n >>= 7) {
            ek_buf_putc(&msg, (char)((n >= 128 ? 0x80 : 0) | (n & 0x7f)));
            if (n < 128) {
                break;
            }
        }
        ek_buf_append(&msg, service, sl);
    }
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    frame_head(&b, 0, H2_SETTINGS, 0, 0);
    frame_head(&b, hdr.len, H2_HEADERS, 0x4 /* END_HEADERS */, 1);
    ek_buf_append(&b, hdr.data, hdr.len);
    frame_head(&b, msg.len + 5, H2_DATA, H2_END_STREAM, 1);
    uint8_t pfx[5] = { 0, (uint8_t)(msg.len >> 24), (uint8_t)(msg.len >> 16),
                       (uint8_t)(msg.len >> 8), (uint8_t)msg.len };
    ek_buf_append(&b, pfx, sizeof(pfx));
    if (msg.len) {
        ek_buf_append(&b, msg.data, msg.len);
    }
    return ek_buf_steal(&b, len);
}

/* The status of a HealthCheckResponse (field 1, varint); -1 if the message has none. */
static int response_status(const uint8_t *m, size_t len)
{
    size_t i = 0;
    int status = -1;
    while (i < len) {
        uint64_t key = 0;
        int shift = 0;
        while (i < len && shift < 64) {
            key |= (uint64_t)(m[i] & 0x7f) << shift;
            shift += 7;
            if (!(m[i++] & 0x80)) {
                break;
            }
        }
        unsigned wire = (unsigned)(key & 7);
        uint64_t v = 0;
        shift = 0;
        if (wire == 0) {
            while (i < len && shift < 64) {
                v |= (uint64_t)(m[i] & 0x7f) << shift;
                shift += 7;
                if (!(m[i++] & 0x80)) {
                    break;
                }
            }
            if ((key >> 3) == 1) {
                status = (int)(v & 0xff);
            }
        } else if (wire == 2) {
            while (i < len && shift < 64) {
                v |= (uint64_t)(m[i] & 0x7f) << shift;
                shift += 7;
                if (!(m[i++] & 0x80)) {
                    break;
                }
            }
            if (v > len - i) {
                return -1;
            }
            i += (size_t)v;
        } else if (wire == 5) {
            i += 4;
        } else if (wire == 1) {
            i += 8;
        } else {
            return -1;
        }
    }
    return status;
}

ssize_t ek__kl_grpc_feed(ek__kl_grpc_reader_t *r, const uint8_t *buf, size_t len, ek_error_t **err)
{
    size_t off = 0;
    while (len - off >= 9) {
        const uint8_t *h = buf + off;
        size_t flen = ((size_t)h[0] << 16) | ((size_t)h[1] << 8) | h[2];
        uint8_t type = h[3], flags = h[4];
        uint32_t stream =
            (((uint32_t)h[5] & 0x7f) << 24) | ((uint32_t)h[6] << 16) | ((uint32_t)h[7] << 8) | h[8];
        if (flen >= H2_MAX_FRAME) {
            return ek_error_make(err, EPROTO, "HTTP/2 frame of %zu bytes", flen);
        }
        if (len - off - 9 < flen) {
            break; /* the rest of the frame is still to come */
        }
        const uint8_t *p = h + 9;
        size_t plen = flen;
        if ((type == H2_DATA || type == H2_HEADERS) && (flags & H2_PADDED)) {
            if (plen < 1 || p[0] >= plen) {
                return ek_error_make(err, EPROTO, "bad HTTP/2 padding");
            }
            plen -= 1 + (size_t)p[0];
            p++;
        }
        if (type == H2_SETTINGS && !(flags & H2_ACK)) {
            r->acks_due++;
        } else if (type == H2_PING && !(flags & H2_ACK) && flen == 8) {
            memcpy(r->ping, p, 8);
            r->ping_due = true;
        } else if (type == H2_GOAWAY) {
            r->goaway = true;
            r->ended = true;
        } else if (stream == 1 && type == H2_RST_STREAM) {
            r->reset = true;
            r->ended = true;
        } else if (stream == 1 && type == H2_DATA) {
            if (r->data.len + plen > GRPC_MAX_MESSAGE) {
                return ek_error_make(err, EMSGSIZE, "gRPC response over %d bytes",
                                     GRPC_MAX_MESSAGE);
            }
            ek_buf_append(&r->data, p, plen);
        }
        if (stream == 1 && (type == H2_DATA || type == H2_HEADERS) && (flags & H2_END_STREAM)) {
            r->ended = true;
        }
        off += 9 + flen;
    }
    /* A complete gRPC message gives the status. */
    const uint8_t *d = (const uint8_t *)r->data.data;
    if (r->status < 0 && r->data.len >= 5) {
        size_t mlen = ((size_t)d[1] << 24) | ((size_t)d[2] << 16) | ((size_t)d[3] << 8) | d[4];
        if (d[0] != 0) {
            return ek_error_make(err, EPROTO, "compressed gRPC response");
        }
        if (r->data.len - 5 >= mlen) {
            int s = response_status(d + 5, mlen);
            r->status = s < 0 ? 0 : s; /* an empty message: UNKNOWN */
        }
    }
    return (ssize_t)off;
}

static const char *status_name(int s)
{
    static const char *const names[] = { "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" };
    return s >= 0 && s < 4 ? names[s] : "UNKNOWN";
}

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            poll(&pf, 1, 1000);
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Frames we owe the server: SETTINGS and PING acknowledgements. */
static int answer(int fd, ek__kl_grpc_reader_t *r)
{
    ek_autobuf b = EK_BUF_INIT;
    for (; r->acks_due > 0; r->acks_due--) {
        frame_head(&b, 0, H2_SETTINGS, H2_ACK, 0);
    }
    if (r->ping_due) {
        frame_head(&b, 8, H2_PING, H2_ACK, 0);
        ek_buf_append(&b, r->ping, 8);
        r->ping_due = false;
    }
    return b.len ? send_all(fd, b.data, b.len) : 0;
}

static int connect_to(const char *host, int port, int64_t deadline, char **msg)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        *msg = ek_xasprintf("bad address %s", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *msg = ek_xasprintf("socket: %s", strerror(errno));
        return -1;
    }
    int e = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pf = { .fd = fd, .events = POLLOUT };
            int left = (int)EK_MAX(deadline - (int64_t)ek_now_ms(), 0);
            int r = poll(&pf, 1, left);
            socklen_t sl = sizeof(e);
            e = r == 0  ? ETIMEDOUT
                : r < 0 ? errno
                        : (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) < 0 ? errno : e);
        }
    }
    if (e != 0) {
        close(fd);
        *msg =
            e == ETIMEDOUT
                ? ek_xasprintf("timeout: failed to connect service \"%s:%d\"", host, port)
                : ek_xasprintf("failed to connect service \"%s:%d\": %s", host, port, strerror(e));
        return -1;
    }
    return fd;
}

static bool read_answer(int fd, ek__kl_grpc_reader_t *r, int64_t deadline, char **msg)
{
    ek_autobuf in = EK_BUF_INIT;
    while (r->status < 0 && !r->ended) {
        int left = (int)(deadline - (int64_t)ek_now_ms());
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&pf, 1, left) == 0) {
            *msg = ek_xstrdup("timeout: health rpc did not complete within the probe's timeout");
            return false;
        }
        char tmp[16384];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            *msg = ek_xstrdup("rpc error: the connection closed before the health status came");
            return false;
        }
        ek_buf_append(&in, tmp, (size_t)n);
        ek_error_t *err = NULL;
        ssize_t used = ek__kl_grpc_feed(r, (const uint8_t *)in.data, in.len, &err);
        if (used < 0) {
            *msg = ek_xasprintf("rpc error: %s", ek_error_msg(err));
            ek_error_free(err);
            return false;
        }
        memmove(in.data, in.data + used, in.len - (size_t)used);
        in.len -= (size_t)used;
        if (answer(fd, r) < 0) {
            *msg = ek_xstrdup("rpc error: the connection broke");
            return false;
        }
    }
    return true;
}

bool ek__kl_grpc_check(const char *host, int port, const char *service, int64_t timeout_ms,
                       char **msg)
{
    *msg = NULL;
    int64_t deadline = (int64_t)ek_now_ms() + timeout_ms;
    int fd = connect_to(host, port, deadline, msg);
    if (fd < 0) {
        return false;
    }
    ek_autofree char *authority = ek_xasprintf("%s:%d", host, port);
    size_t len = 0;
    ek_autofree char *req = ek__kl_grpc_request(authority, service, &len);
    ek__kl_grpc_reader_t r = { .status = -1, .data = EK_BUF_INIT };
    bool ok = false;
    if (send_all(fd, req, len) < 0) {
        *msg = ek_xasprintf("rpc error: send: %s", strerror(errno));
    } else if (read_answer(fd, &r, deadline, msg)) {
        if (r.status == 1) {
            ok = true;
        } else if (r.status >= 0) {
            *msg = ek_xasprintf("service unhealthy (responded with \"%s\")", status_name(r.status));
        } else {
            *msg = ek_xstrdup(r.reset || r.goaway
                                  ? "rpc error: the server reset the health call"
                                  : "rpc error: the server ended the health call without a "
                                    "status (is grpc.health.v1.Health served there?)");
        }
    }
    ek_buf_free(&r.data);
    close(fd);
    return ok;
}
