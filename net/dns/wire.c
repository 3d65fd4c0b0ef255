/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The DNS wire format (RFC 1035, EDNS0 per RFC 6891): reading names with compression
 * pointers, parsing queries and RRs, and writing messages with name compression and
 * truncation at a size limit.
 *
 * Everything here reads bytes that arrived from the network, so every read is bounds-checked
 * against the message length and a malformed message is an error value, never a crash.
 * Compression pointers must point strictly before the segment being read (RFC 1035 4.1.4 says
 * "a prior occurrence"), which rules out loops by construction rather than by a hop counter.
 */
#include <arpa/inet.h>

#include "net/dns/dns-internal.h"

/* ---- names ---- */

int ek__dns_read_name(const uint8_t *msg, size_t len, size_t *off, ek__dns_name_t *out)
{
    size_t p = *off, seg = *off, end = 0;
    bool jumped = false;
    out->len = 0;
    out->nlabels = 0;
    for (;;) {
        if (p >= len) {
            return -1;
        }
        uint8_t c = msg[p];
        if ((c & 0xC0) == 0xC0) {
            if (p + 1 >= len) {
                return -1;
            }
            size_t target = (size_t)(c & 0x3F) << 8 | msg[p + 1];
            /* Strictly before this segment and never into the header: no loop can form. */
            if (target >= seg || target < EK__DNS_HDR_LEN) {
                return -1;
            }
            if (!jumped) {
                end = p + 2;
                jumped = true;
            }
            p = seg = target;
            continue;
        }
        if (c & 0xC0) {
            return -1; /* 0x40 and 0x80 label types are reserved or obsolete (RFC 6891 5) */
        }
        if (c == 0) {
            if (out->len + 1 > EK__DNS_NAME_MAX) {
                return -1;
            }
            out->wire[out->len++] = 0;
            if (!jumped) {
                end = p + 1;
            }
            break;
        }
        if (p + 1 + c > len || out->len + 1 + c + 1 > EK__DNS_NAME_MAX) {
            return -1;
        }
        out->label[out->nlabels++] = out->len;
        out->wire[out->len++] = c;
        memcpy(out->wire + out->len, msg + p + 1, c);
        out->len = (uint8_t)(out->len + c);
        p += 1 + (size_t)c;
    }
    *off = end;
    return 0;
}

int ek__dns_name_index(ek__dns_name_t *n, const uint8_t *wire, size_t maxlen)
{
    size_t p = 0;
    n->nlabels = 0;
    for (;;) {
        if (p >= maxlen || p >= EK__DNS_NAME_MAX) {
            return -1;
        }
        uint8_t c = wire[p];
        if (c == 0) {
            break;
        }
        if (c > EK__DNS_LABEL_MAX || p + 1 + c >= EK__DNS_NAME_MAX) {
            return -1;
        }
        n->label[n->nlabels++] = (uint8_t)p;
        p += 1 + (size_t)c;
    }
    if (n->wire != wire) {
        memcpy(n->wire, wire, p + 1);
    }
    n->len = (uint8_t)(p + 1);
    return 0;
}

int ek__dns_name_from_text(ek__dns_name_t *n, const char *text)
{
    size_t tl = strlen(text), p = 0;
    if (tl > 0 && text[tl - 1] == '.') {
        tl--;
    }
    n->nlabels = 0;
    size_t i = 0;
    while (i < tl) {
        size_t j = i;
        while (j < tl && text[j] != '.') {
            j++;
        }
        size_t ll = j - i;
        if (ll == 0 || ll > EK__DNS_LABEL_MAX || p + 1 + ll + 1 > EK__DNS_NAME_MAX) {
            return -1;
        }
        n->label[n->nlabels++] = (uint8_t)p;
        n->wire[p++] = (uint8_t)ll;
        memcpy(n->wire + p, text + i, ll);
        p += ll;
        i = j + 1;
        if (j < tl && i == tl) {
            return -1; /* "a..": an empty label before the end */
        }
    }
    n->wire[p++] = 0;
    n->len = (uint8_t)p;
    return 0;
}

char *ek__dns_name_to_text(const uint8_t *wire, char *buf, size_t cap)
{
    size_t o = 0, p = 0;
    buf[0] = 0;
    if (wire[0] == 0) {
        snprintf(buf, cap, ".");
        return buf;
    }
    while (p < EK__DNS_NAME_MAX && wire[p] != 0) {
        uint8_t ll = wire[p++];
        for (uint8_t k = 0; k < ll && p < EK__DNS_NAME_MAX; k++, p++) {
            uint8_t c = wire[p];
            bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
            if (o + 5 >= cap) {
                return buf;
            }
            o += (size_t)(plain ? snprintf(buf + o, cap - o, "%c", c)
                                : snprintf(buf + o, cap - o, "\\%03u", c));
        }
        if (o + 2 >= cap) {
            return buf;
        }
        buf[o++] = '.';
        buf[o] = 0;
    }
    return buf;
}

bool ek__dns_name_eq(const uint8_t *a, const uint8_t *b)
{
    size_t p = 0;
    while (p < EK__DNS_NAME_MAX) {
        uint8_t ll = a[p];
        if (ll != b[p]) {
            return false;
        }
        if (ll == 0) {
            return true;
        }
        for (size_t k = 1; k <= ll; k++) {
            if (p + k >= EK__DNS_NAME_MAX || ek__dns_lower(a[p + k]) != ek__dns_lower(b[p + k])) {
                return false;
            }
        }
        p += 1 + (size_t)ll;
    }
    return false;
}

bool ek__dns_name_has_suffix(const ek__dns_name_t *n, const ek__dns_name_t *suffix)
{
    if (n->nlabels < suffix->nlabels) {
        return false;
    }
    size_t start = n->nlabels == suffix->nlabels ? 0 : n->label[n->nlabels - suffix->nlabels];
    if (n->len - start != suffix->len) {
        return false;
    }
    for (size_t i = 0; i < suffix->len; i++) {
        if (ek__dns_lower(n->wire[start + i]) != ek__dns_lower(suffix->wire[i])) {
            return false;
        }
    }
    return true;
}

/* ---- parsing ---- */

int ek__dns_rr_next(const uint8_t *msg, size_t len, size_t *off, ek__dns_rr_t *rr)
{
    size_t p = *off;
    if (ek__dns_read_name(msg, len, &p, &rr->name) < 0 || p + 10 > len) {
        return -1;
    }
    rr->type = ek__dns_get16(msg + p);
    rr->klass = ek__dns_get16(msg + p + 2);
    rr->ttl = ek__dns_get32(msg + p + 4);
    rr->rdlen = ek__dns_get16(msg + p + 8);
    rr->rdoff = p + 10;
    if (rr->rdoff + rr->rdlen > len) {
        return -1;
    }
    *off = rr->rdoff + rr->rdlen;
    return 0;
}

/* Reads the additional section for EDNS: one OPT at most, owned by the root. */
static int parse_opt(const uint8_t *msg, size_t len, size_t *off, unsigned n, ek__dns_query_t *q)
{
    ek__dns_rr_t rr;
    bool bad_version = false;
    for (unsigned i = 0; i < n; i++) {
        if (ek__dns_rr_next(msg, len, off, &rr) < 0) {
            return EK__DNS_FORMERR;
        }
        if (rr.type != EK__DNS_T_OPT) {
            continue;
        }
        if (q->edns || rr.name.len != 1) {
            return EK__DNS_FORMERR; /* RFC 6891 6.1.1: more than one OPT, or not at the root */
        }
        q->edns = true;
        q->edns_version = (uint8_t)(rr.ttl >> 16);
        q->udp_size = rr.klass < EK__DNS_UDP_PLAIN ? EK__DNS_UDP_PLAIN : rr.klass;
        bad_version = q->edns_version != 0;
    }
    return bad_version ? EK__DNS_BADVERS : 0;
}

int ek__dns_parse_query(const uint8_t *msg, size_t len, ek__dns_query_t *q)
{
    if (len < EK__DNS_HDR_LEN) {
        return -1;
    }
    q->id = ek__dns_get16(msg);
    q->flags = ek__dns_get16(msg + 2);
    q->qname.len = 0;
    q->qtype = q->qclass = 0;
    q->edns = false;
    q->edns_version = 0;
    q->udp_size = EK__DNS_UDP_PLAIN;
    if (q->flags & EK__DNS_F_QR) {
        return -1;
    }
    unsigned qd = ek__dns_get16(msg + 4), an = ek__dns_get16(msg + 6);
    unsigned ns = ek__dns_get16(msg + 8), ar = ek__dns_get16(msg + 10);
    size_t off = EK__DNS_HDR_LEN;
    if (qd != 1) {
        return EK__DNS_FORMERR;
    }
    if (ek__dns_read_name(msg, len, &off, &q->qname) < 0 || off + 4 > len) {
        q->qname.len = 0;
        return EK__DNS_FORMERR;
    }
    q->qtype = ek__dns_get16(msg + off);
    q->qclass = ek__dns_get16(msg + off + 2);
    off += 4;
    ek__dns_rr_t rr;
    for (unsigned i = 0; i < an + ns; i++) {
        if (ek__dns_rr_next(msg, len, &off, &rr) < 0) {
            return EK__DNS_FORMERR;
        }
    }
    int rc = parse_opt(msg, len, &off, ar, q);
    if (rc != 0) {
        return rc;
    }
    if ((q->flags & EK__DNS_F_OPCODE) != 0) {
        return EK__DNS_NOTIMP; /* only QUERY (opcode 0) */
    }
    return 0;
}

size_t ek__dns_udp_limit(const ek__dns_query_t *q)
{
    if (!q->edns) {
        return EK__DNS_UDP_PLAIN;
    }
    return EK_MIN(EK_MAX((size_t)q->udp_size, (size_t)EK__DNS_UDP_PLAIN),
                  (size_t)EK__DNS_EDNS_SIZE);
}

/* ---- writing ---- */

void ek__dns_wr_init(ek__dns_wr_t *w, uint8_t *buf, size_t cap, size_t limit)
{
    w->buf = buf;
    w->cap = EK_MIN(cap, (size_t)EK__DNS_MSG_MAX);
    w->limit = EK_MIN(limit, w->cap);
    w->len = 0;
    memset(w->count, 0, sizeof(w->count));
    w->full = w->truncated = false;
    w->compress = true;
    w->rr_section = EK__DNS_AN;
    w->ncomp = 0;
    w->rr_start = w->rr_rdlen_at = 0;
    w->rr_ncomp = 0;
}

/* Appends n bytes; past cap the writer overflows (len goes past cap, nothing is written) and
 * the RR being written is rolled back at its end. */
static void put(ek__dns_wr_t *w, const void *p, size_t n)
{
    if (w->len + n <= w->cap) {
        memcpy(w->buf + w->len, p, n);
    }
    w->len += n;
}

void ek__dns_wr_u16(ek__dns_wr_t *w, uint16_t v)
{
    uint8_t b[2];
    ek__dns_put16(b, v);
    put(w, b, 2);
}

void ek__dns_wr_u32(ek__dns_wr_t *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put(w, b, 4);
}

void ek__dns_wr_bytes(ek__dns_wr_t *w, const void *p, size_t n)
{
    put(w, p, n);
}

void ek__dns_wr_header(ek__dns_wr_t *w, uint16_t id, uint16_t flags)
{
    uint8_t h[EK__DNS_HDR_LEN] = { 0 };
    ek__dns_put16(h, id);
    ek__dns_put16(h + 2, flags);
    w->len = 0;
    put(w, h, sizeof(h));
}

/* Does the (already written, possibly compressed) name at o equal the wire name s? */
static bool match_at(const ek__dns_wr_t *w, size_t o, const uint8_t *s)
{
    size_t sp = 0, end = EK_MIN(w->len, w->cap);
    for (int steps = 0; steps < EK__DNS_NAME_MAX; steps++) {
        if (o >= end) {
            return false;
        }
        uint8_t c = w->buf[o];
        if ((c & 0xC0) == 0xC0) {
            if (o + 1 >= end) {
                return false;
            }
            o = (size_t)(c & 0x3F) << 8 | w->buf[o + 1];
            continue;
        }
        if (c != s[sp] || o + 1 + c > end) {
            return false;
        }
        if (c == 0) {
            return true;
        }
        for (uint8_t k = 1; k <= c; k++) {
            if (ek__dns_lower(w->buf[o + k]) != ek__dns_lower(s[sp + k])) {
                return false;
            }
        }
        o += 1 + (size_t)c;
        sp += 1 + (size_t)c;
    }
    return false;
}

void ek__dns_wr_name(ek__dns_wr_t *w, const uint8_t *name, bool compress)
{
    ek__dns_name_t n;
    if (ek__dns_name_index(&n, name, EK__DNS_NAME_MAX) < 0) {
        w->len = w->cap + 1; /* an invalid name cannot be written: overflow rolls the RR back */
        return;
    }
    for (unsigned i = 0; i < n.nlabels; i++) {
        const uint8_t *suffix = n.wire + n.label[i];
        if (compress && w->compress) {
            for (unsigned e = 0; e < w->ncomp; e++) {
                if (match_at(w, w->comp[e], suffix)) {
                    uint8_t ptr[2] = { (uint8_t)(0xC0 | w->comp[e] >> 8), (uint8_t)w->comp[e] };
                    put(w, ptr, 2);
                    return;
                }
            }
        }
        if (w->len < 0x3FFF && w->len < w->cap && w->ncomp < EK__DNS_COMP_SLOTS) {
            w->comp[w->ncomp++] = (uint16_t)w->len;
        }
        put(w, suffix, 1 + (size_t)suffix[0]);
    }
    uint8_t root = 0;
    put(w, &root, 1);
}

void ek__dns_wr_question(ek__dns_wr_t *w, const uint8_t *name, uint16_t qtype, uint16_t qclass)
{
    ek__dns_wr_name(w, name, false);
    ek__dns_wr_u16(w, qtype);
    ek__dns_wr_u16(w, qclass);
    w->count[EK__DNS_QD] = 1;
}

bool ek__dns_wr_rr_begin(ek__dns_wr_t *w, int section, const uint8_t *owner, uint16_t type,
                         uint16_t klass, uint32_t ttl)
{
    if (w->full) {
        return false;
    }
    w->rr_start = w->len;
    w->rr_ncomp = w->ncomp;
    w->rr_section = section;
    if (owner) {
        ek__dns_wr_name(w, owner, true);
    } else {
        ek__dns_wr_u16(w, 0xC000 | EK__DNS_HDR_LEN);
    }
    ek__dns_wr_u16(w, type);
    ek__dns_wr_u16(w, klass);
    ek__dns_wr_u32(w, ttl);
    w->rr_rdlen_at = w->len;
    ek__dns_wr_u16(w, 0);
    return true;
}

bool ek__dns_wr_rr_end(ek__dns_wr_t *w)
{
    if (w->len > w->limit || w->len > w->cap) {
        w->len = w->rr_start;
        w->ncomp = w->rr_ncomp;
        w->full = true;
        if (w->rr_section != EK__DNS_AR) {
            w->truncated = true;
        }
        return false;
    }
    ek__dns_put16(w->buf + w->rr_rdlen_at, (uint16_t)(w->len - w->rr_rdlen_at - 2));
    w->count[w->rr_section]++;
    return true;
}

size_t ek__dns_wr_finish(ek__dns_wr_t *w, int rcode, bool edns)
{
    if (edns && w->len + EK__DNS_OPT_LEN <= w->cap) {
        uint8_t opt[EK__DNS_OPT_LEN] = { 0,
                                         0,
                                         EK__DNS_T_OPT,
                                         EK__DNS_EDNS_SIZE >> 8,
                                         EK__DNS_EDNS_SIZE & 0xff,
                                         (uint8_t)(rcode >> 4) };
        put(w, opt, sizeof(opt));
        w->count[EK__DNS_AR]++;
    }
    uint16_t flags = ek__dns_get16(w->buf + 2);
    flags = (uint16_t)((flags & ~(EK__DNS_F_RCODE | EK__DNS_F_TC)) | (rcode & 0xF));
    if (w->truncated) {
        flags |= EK__DNS_F_TC;
    }
    ek__dns_put16(w->buf + 2, flags);
    for (int i = 0; i < 4; i++) {
        ek__dns_put16(w->buf + 4 + 2 * i, w->count[i]);
    }
    return w->len;
}

/*
 * Rdata layouts of the types whose rdata holds names: 'C' a name that may be compressed (the
 * RFC 1035 types), 'N' a name written uncompressed (later types, RFC 3597 4), 'S' a
 * character-string, a digit that many fixed bytes. Other types are copied as they are.
 */
static const char *rdata_layout(uint16_t type)
{
    switch (type) {
    case EK__DNS_T_NS:
    case 3: /* MD */
    case 4: /* MF */
    case EK__DNS_T_CNAME:
    case 7: /* MB */
    case 8: /* MG */
    case 9: /* MR */
    case EK__DNS_T_PTR:
        return "C";
    case EK__DNS_T_SOA:
        return "CC44444";
    case 14: /* MINFO */
        return "CC";
    case EK__DNS_T_MX:
        return "2C";
    case 17: /* RP */
        return "NN";
    case 18: /* AFSDB */
    case 21: /* RT */
    case 36: /* KX */
        return "2N";
    case 26: /* PX */
        return "2NN";
    case EK__DNS_T_SRV:
        return "222N";
    case 35: /* NAPTR */
        return "22SSSN";
    case 39: /* DNAME */
        return "N";
    default:
        return NULL;
    }
}

int ek__dns_wr_rdata(ek__dns_wr_t *w, uint16_t type, const uint8_t *msg, size_t msglen,
                     size_t rdoff, size_t rdlen)
{
    size_t end = rdoff + rdlen, p = rdoff;
    const char *layout = rdata_layout(type);
    if (end > msglen || (type == EK__DNS_T_A && rdlen != 4) ||
        (type == EK__DNS_T_AAAA && rdlen != 16)) {
        return -1;
    }
    if (!layout) {
        ek__dns_wr_bytes(w, msg + rdoff, rdlen);
        return 0;
    }
    for (const char *f = layout; *f; f++) {
        if (*f == 'C' || *f == 'N') {
            ek__dns_name_t n;
            if (ek__dns_read_name(msg, end, &p, &n) < 0) {
                return -1;
            }
            ek__dns_wr_name(w, n.wire, *f == 'C');
        } else {
            size_t n = *f == 'S' ? (p < end ? 1 + (size_t)msg[p] : 1) : (size_t)(*f - '0');
            if (p + n > end) {
                return -1;
            }
            ek__dns_wr_bytes(w, msg + p, n);
            p += n;
        }
    }
    return p == end ? 0 : -1;
}

size_t ek__dns_error_reply(const ek__dns_query_t *q, int rcode, uint8_t *out, size_t cap)
{
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, out, cap, cap - EK__DNS_OPT_LEN);
    uint16_t flags = EK__DNS_F_QR | EK__DNS_F_RA | (q->flags & (EK__DNS_F_OPCODE | EK__DNS_F_RD));
    ek__dns_wr_header(&w, q->id, flags);
    if (q->qname.len > 0) {
        ek__dns_wr_question(&w, q->qname.wire, q->qtype, q->qclass);
    }
    return ek__dns_wr_finish(&w, rcode, q->edns || rcode == EK__DNS_BADVERS);
}

/* ---- addresses ---- */

int ek__dns_ip_parse(const char *s, ek__dns_ip_t *ip)
{
    memset(ip, 0, sizeof(*ip));
    if (!s) {
        return -1;
    }
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->fam = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->fam = 6;
        return 0;
    }
    return -1;
}

const char *ek__dns_ip_text(const ek__dns_ip_t *ip, char *buf, size_t cap)
{
    if (!inet_ntop(ip->fam == 4 ? AF_INET : AF_INET6, ip->a, buf, (socklen_t)cap)) {
        snprintf(buf, cap, "?");
    }
    return buf;
}

static int hexval(uint8_t c)
{
    c = ek__dns_lower(c);
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A decimal label 0..255 without leading zeros (as Go's net.ParseIP requires). */
static int octet(const uint8_t *label)
{
    uint8_t ll = label[0];
    if (ll == 0 || ll > 3 || (ll > 1 && label[1] == '0')) {
        return -1;
    }
    int v = 0;
    for (uint8_t i = 1; i <= ll; i++) {
        if (label[i] < '0' || label[i] > '9') {
            return -1;
        }
        v = v * 10 + (label[i] - '0');
    }
    return v <= 255 ? v : -1;
}

int ek__dns_ip_from_reverse(const ek__dns_name_t *n, ek__dns_ip_t *ip)
{
    static const uint8_t v4z[] = "\7in-addr\4arpa";
    static const uint8_t v6z[] = "\3ip6\4arpa";
    memset(ip, 0, sizeof(*ip));
    if (n->nlabels == 6 && ek__dns_name_eq(n->wire + n->label[4], v4z)) {
        for (int i = 0; i < 4; i++) {
            int v = octet(n->wire + n->label[i]);
            if (v < 0) {
                return -1;
            }
            ip->a[3 - i] = (uint8_t)v;
        }
        ip->fam = 4;
        return 0;
    }
    if (n->nlabels == 34 && ek__dns_name_eq(n->wire + n->label[32], v6z)) {
        for (int i = 0; i < 32; i++) {
            const uint8_t *l = n->wire + n->label[i];
            int v = l[0] == 1 ? hexval(l[1]) : -1;
            if (v < 0) {
                return -1;
            }
            int nib = 31 - i;
            ip->a[nib / 2] |= (uint8_t)(nib % 2 ? v : v << 4);
        }
        ip->fam = 6;
        return 0;
    }
    return -1;
}
