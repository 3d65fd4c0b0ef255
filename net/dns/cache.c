/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cache of forwarded answers: upstream responses keyed by question, kept for the TTL they
 * carry (RFC 1035 / RFC 2308 for negative answers) capped at a maximum, bounded in entries and
 * bytes with least-recently-used eviction. An entry is the upstream message itself, checked
 * when it arrived; a hit is re-encoded for the asking client (its id, its question's spelling,
 * its EDNS size) with every TTL lowered to the time the entry has left, as CoreDNS's cache does.
 *
 * Times are milliseconds from the caller (the loop's clock), which is how tests move time.
 */
#include "net/dns/dns-internal.h"

struct centry {
    struct centry *hnext;       /* hash chain */
    struct centry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    uint16_t type, klass;
    size_t bytes;
    ek__dns_centry_t pub;
    uint8_t name[EK__DNS_NAME_MAX]; /* lowercase wire */
    uint8_t msg[];
};

struct ek__dns_cache {
    struct centry **tab;
    size_t tab_size; /* power of two */
    size_t n, bytes, max_entries, max_bytes;
    uint32_t max_ttl;
    struct centry lru; /* sentinel */
};

static uint64_t key_hash(const uint8_t *name, uint16_t type, uint16_t klass)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t p = 0; p < EK__DNS_NAME_MAX; p++) {
        h = (h ^ ek__dns_lower(name[p])) * 1099511628211ull;
        if (name[p] == 0) {
            break;
        }
        /* Label bytes are hashed one by one; a length byte of zero ends the name. */
        for (size_t k = 1; k <= name[p] && p + k < EK__DNS_NAME_MAX; k++) {
            h = (h ^ ek__dns_lower(name[p + k])) * 1099511628211ull;
        }
        p += name[p];
    }
    h = (h ^ type) * 1099511628211ull;
    h = (h ^ klass) * 1099511628211ull;
    return h ^ (h >> 29);
}

ek__dns_cache_t *ek__dns_cache_new(size_t max_entries, size_t max_bytes, uint32_t max_ttl)
{
    ek__dns_cache_t *c = ek_new(ek__dns_cache_t);
    c->tab_size = 64;
    while (c->tab_size < max_entries && c->tab_size < (1u << 20)) {
        c->tab_size *= 2;
    }
    c->tab = ek_xcalloc(c->tab_size, sizeof(*c->tab));
    c->max_entries = max_entries ? max_entries : 1;
    c->max_bytes = max_bytes;
    c->max_ttl = max_ttl;
    c->lru.next = c->lru.prev = &c->lru;
    return c;
}

static void unlink_entry(ek__dns_cache_t *c, struct centry *e)
{
    struct centry **pp = &c->tab[e->hash & (c->tab_size - 1)];
    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    e->prev->next = e->next;
    e->next->prev = e->prev;
    c->n--;
    c->bytes -= e->bytes;
    free(e);
}

void ek__dns_cache_free(ek__dns_cache_t *c)
{
    if (!c) {
        return;
    }
    while (c->lru.next != &c->lru) {
        unlink_entry(c, c->lru.next);
    }
    free(c->tab);
    free(c);
}

size_t ek__dns_cache_count(const ek__dns_cache_t *c)
{
    return c->n;
}

static struct centry *find(ek__dns_cache_t *c, const uint8_t *name, uint16_t type, uint16_t klass,
                           uint64_t h)
{
    for (struct centry *e = c->tab[h & (c->tab_size - 1)]; e; e = e->hnext) {
        if (e->hash == h && e->type == type && e->klass == klass &&
            ek__dns_name_eq(e->name, name)) {
            return e;
        }
    }
    return NULL;
}

const ek__dns_centry_t *ek__dns_cache_get(ek__dns_cache_t *c, const uint8_t *name, uint16_t type,
                                          uint16_t klass, uint64_t now_ms)
{
    uint64_t h = key_hash(name, type, klass);
    struct centry *e = find(c, name, type, klass, h);
    if (!e) {
        return NULL;
    }
    if (now_ms >= e->pub.expires_ms) {
        unlink_entry(c, e);
        return NULL;
    }
    /* Most recently used goes to the front. */
    e->prev->next = e->next;
    e->next->prev = e->prev;
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
    return &e->pub;
}

void ek__dns_cache_put(ek__dns_cache_t *c, const uint8_t *name, uint16_t type, uint16_t klass,
                       const uint8_t *msg, size_t len, uint32_t ttl_s, uint64_t now_ms)
{
    ek__dns_name_t n;
    if (ttl_s == 0 || sizeof(struct centry) + len > c->max_bytes ||
        ek__dns_name_index(&n, name, EK__DNS_NAME_MAX) < 0) {
        return;
    }
    uint64_t h = key_hash(name, type, klass);
    struct centry *old = find(c, name, type, klass, h);
    if (old) {
        unlink_entry(c, old);
    }
    struct centry *e = ek_xmalloc(sizeof(*e) + len);
    memset(e, 0, sizeof(*e));
    for (size_t i = 0; i < n.len; i++) {
        e->name[i] = ek__dns_lower(n.wire[i]);
    }
    e->hash = h;
    e->type = type;
    e->klass = klass;
    e->bytes = sizeof(*e) + len;
    memcpy(e->msg, msg, len);
    e->pub.msg = e->msg;
    e->pub.len = len;
    e->pub.expires_ms = now_ms + (uint64_t)ttl_s * 1000;
    e->hnext = c->tab[h & (c->tab_size - 1)];
    c->tab[h & (c->tab_size - 1)] = e;
    e->next = c->lru.next;
    e->prev = &c->lru;
    c->lru.next->prev = e;
    c->lru.next = e;
    c->n++;
    c->bytes += e->bytes;
    while ((c->n > c->max_entries || c->bytes > c->max_bytes) && c->lru.prev != &c->lru) {
        /* The analyzer does not follow the list: each pass frees a different, live entry. */
        unlink_entry(c, c->lru.prev); // NOLINT(clang-analyzer-unix.Malloc)
    }
}

/* The SOA's MINIMUM is its last 4 bytes whatever the names before it look like. */
static uint32_t soa_negative_ttl(const uint8_t *msg, const ek__dns_rr_t *rr)
{
    if (rr->rdlen < 22) {
        return 0;
    }
    uint32_t min = ek__dns_get32(msg + rr->rdoff + rr->rdlen - 4);
    return rr->ttl < min ? rr->ttl : min;
}

int ek__dns_cache_ttl(const uint8_t *msg, size_t len, uint32_t max_ttl)
{
    if (len < EK__DNS_HDR_LEN) {
        return -1;
    }
    uint16_t flags = ek__dns_get16(msg + 2);
    int rcode = flags & EK__DNS_F_RCODE;
    unsigned qd = ek__dns_get16(msg + 4), an = ek__dns_get16(msg + 6);
    unsigned ns = ek__dns_get16(msg + 8);
    size_t off = EK__DNS_HDR_LEN;
    ek__dns_name_t qn;
    if (qd != 1 || ek__dns_read_name(msg, len, &off, &qn) < 0 || off + 4 > len) {
        return -1;
    }
    off += 4;
    uint64_t ttl = max_ttl, neg = UINT32_MAX;
    bool soa = false;
    ek__dns_rr_t rr;
    for (unsigned i = 0; i < an + ns; i++) {
        if (ek__dns_rr_next(msg, len, &off, &rr) < 0) {
            return -1;
        }
        if (i >= an && rr.type == EK__DNS_T_SOA) {
            neg = EK_MIN(neg, (uint64_t)soa_negative_ttl(msg, &rr));
            soa = true;
        }
        ttl = EK_MIN(ttl, (uint64_t)rr.ttl);
    }
    if ((flags & EK__DNS_F_TC) || (rcode != EK__DNS_NOERROR && rcode != EK__DNS_NXDOMAIN)) {
        return 0; /* truncated or failed: never cached */
    }
    if (rcode == EK__DNS_NXDOMAIN || an == 0) {
        /* Negative: only with the zone's SOA, for min(its TTL, its MINIMUM) (RFC 2308 5). */
        return soa ? (int)EK_MIN(ttl, neg) : 0;
    }
    return (int)ttl;
}

size_t ek__dns_reply_from_upstream(const ek__dns_query_t *q, const uint8_t *resp, size_t rlen,
                                   uint32_t ttl, const uint8_t *cname, uint32_t cname_ttl,
                                   uint8_t *out, size_t cap, size_t limit)
{
    if (rlen < EK__DNS_HDR_LEN || ek__dns_get16(resp + 4) != 1) {
        return 0;
    }
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, out, cap, limit - (q->edns ? EK__DNS_OPT_LEN : 0));
    uint16_t rflags = ek__dns_get16(resp + 2);
    ek__dns_wr_header(&w, q->id, EK__DNS_F_QR | EK__DNS_F_RA | (q->flags & EK__DNS_F_RD));
    ek__dns_wr_question(&w, q->qname.wire, q->qtype, q->qclass);
    if (cname &&
        ek__dns_wr_rr_begin(&w, EK__DNS_AN, NULL, EK__DNS_T_CNAME, EK__DNS_C_IN, cname_ttl)) {
        ek__dns_wr_name(&w, cname, true);
        ek__dns_wr_rr_end(&w);
    }
    size_t off = EK__DNS_HDR_LEN;
    ek__dns_name_t qn;
    if (ek__dns_read_name(resp, rlen, &off, &qn) < 0 || off + 4 > rlen) {
        return 0;
    }
    off += 4;
    for (int sec = EK__DNS_AN; sec <= EK__DNS_AR; sec++) {
        unsigned n = ek__dns_get16(resp + 4 + 2 * sec);
        for (unsigned i = 0; i < n; i++) {
            ek__dns_rr_t rr;
            if (ek__dns_rr_next(resp, rlen, &off, &rr) < 0) {
                return 0;
            }
            if (rr.type == EK__DNS_T_OPT) {
                continue; /* hop-by-hop: the client gets ours */
            }
            uint32_t t = ttl == UINT32_MAX ? rr.ttl : ttl;
            if (!ek__dns_wr_rr_begin(&w, sec, rr.name.wire, rr.type, rr.klass, t)) {
                continue; /* full: the rest is only skipped over */
            }
            if (ek__dns_wr_rdata(&w, rr.type, resp, rlen, rr.rdoff, rr.rdlen) < 0) {
                return 0;
            }
            ek__dns_wr_rr_end(&w);
        }
    }
    return ek__dns_wr_finish(&w, rflags & EK__DNS_F_RCODE, q->edns);
}
