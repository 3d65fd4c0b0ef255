/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Answers for the cluster domain, as the Kubernetes DNS specification (1.1.0) lays them out and
 * CoreDNS's kubernetes plugin answers them with `pods insecure`:
 *
 *   <svc>.<ns>.svc.<zone>              A/AAAA: the ClusterIPs, or every ready endpoint of a
 *                                      headless service (none ready: NXDOMAIN);
 *                                      ExternalName: a CNAME, chased for the client
 *   <ep>.<svc>.<ns>.svc.<zone>         A/AAAA of the endpoint whose hostname (or dashed
 *                                      address) is <ep>
 *   _<port>._<proto>.<svc>.<ns>.svc... SRV per named port (and A/AAAA of its addresses)
 *   <a-b-c-d>.<ns>.pod.<zone>          A/AAAA of the address spelled in the name
 *   <zone> SOA/NS, ns.dns.<zone>, dns-version.<zone> TXT
 *   d.c.b.a.in-addr.arpa / ip6.arpa    PTR to the service, endpoint or pod of that address
 *
 * Name errors follow RFC 1035/2308/8020: a name that exists with other types, or has names
 * below it (svc.<zone>, <ns>.svc.<zone> of an existing namespace), is NODATA; otherwise
 * NXDOMAIN; both carry the zone's SOA in the authority section with its MINIMUM = the TTL.
 *
 * Where this differs from CoreDNS (kept small and deliberate): names with more labels than
 * the grammar under pod.<zone> are NXDOMAIN rather than read from their third label;
 * dns.<zone> and dns-version.<zone> are NODATA for other types (they exist); an ExternalName
 * is a CNAME for every type (RFC 1034 3.6.2), not only A/AAAA/TXT; pod IPs outside any
 * endpoint get a PTR to their a-b-c-d.<ns>.pod name instead of going upstream.
 */
#include "net/dns/dns-internal.h"

#define MAX_CHASE   8 /* CNAMEs followed inside the zone, as CoreDNS (loops end there too) */
#define SOA_TTL_MAX 300

enum { ST_FOUND, ST_NODATA, ST_NXDOMAIN, ST_FORWARD, ST_CHASE };

typedef struct item {
    const ek__dns_ip_t *ip;
    int32_t port;           /* -1: no port */
    const ek__dns_ep_t *ep; /* the endpoint, NULL for the service name itself */
} item_t;

typedef struct extra {
    ek__dns_name_t name;
    const ek__dns_ip_t *ip;
} extra_t;

typedef struct ctx {
    ek__dns_index_t *ix;
    const ek__dns_settings_t *st;
    ek__dns_wr_t *w;
    uint16_t qtype;
    ek__dns_name_t *target; /* CHASE: the external name */
    size_t nitems, items_cap;
    item_t *items;
    item_t items_inline[16];
    size_t nextra;
    extra_t *extra;
    char svc[64], ns[64]; /* of the service being answered */
} ctx_t;

/* ---- helpers ---- */

static void add_item(ctx_t *c, const ek__dns_ip_t *ip, int32_t port, const ek__dns_ep_t *ep)
{
    if (c->nitems == c->items_cap) {
        size_t cap = c->items_cap * 2;
        item_t *n = ek_xmalloc(cap * sizeof(*n));
        memcpy(n, c->items, c->nitems * sizeof(*n));
        if (c->items != c->items_inline) {
            free(c->items);
        }
        c->items = n;
        c->items_cap = cap;
    }
    c->items[c->nitems++] = (item_t){ ip, port, ep };
}

/* Label i (0 = leftmost) of n as a lowercase C string; false if it holds bytes no Kubernetes
 * name can contain (such a label can match nothing, and must not confuse the map keys). */
static bool label_str(const ek__dns_name_t *n, unsigned i, char out[64])
{
    const uint8_t *l = n->wire + n->label[i];
    for (uint8_t k = 0; k < l[0]; k++) {
        uint8_t ch = ek__dns_lower(l[1 + k]);
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
            return false;
        }
        out[k] = (char)ch;
    }
    out[l[0]] = 0;
    return true;
}

/* out = text (dot-separated labels, may be "") followed by the zone's labels. */
static int name_cat(ek__dns_name_t *out, const char *text, const ek__dns_name_t *zone)
{
    if (*text == 0) {
        *out = *zone;
        return 0;
    }
    if (ek__dns_name_from_text(out, text) < 0 || out->len - 1 + zone->len > EK__DNS_NAME_MAX) {
        return -1;
    }
    memcpy(out->wire + out->len - 1, zone->wire, zone->len);
    return ek__dns_name_index(out, out->wire, EK__DNS_NAME_MAX);
}

static void write_addr(ctx_t *c, int section, const uint8_t *owner, const ek__dns_ip_t *ip)
{
    bool v4 = ip->fam == 4;
    if (ek__dns_wr_rr_begin(c->w, section, owner, v4 ? EK__DNS_T_A : EK__DNS_T_AAAA, EK__DNS_C_IN,
                            c->st->ttl)) {
        ek__dns_wr_bytes(c->w, ip->a, v4 ? 4 : 16);
        ek__dns_wr_rr_end(c->w);
    }
}

static void write_name_rr(ctx_t *c, const uint8_t *owner, uint16_t type, const uint8_t *target)
{
    if (ek__dns_wr_rr_begin(c->w, EK__DNS_AN, owner, type, EK__DNS_C_IN, c->st->ttl)) {
        ek__dns_wr_name(c->w, target, true);
        ek__dns_wr_rr_end(c->w);
    }
}

/* The zone's SOA: in the authority section of negative answers (owner NULL: the zone), or as
 * the answer to an SOA query at the apex. */
static void write_soa(ctx_t *c, int section, const uint8_t *owner)
{
    const ek__dns_name_t *z = &c->st->domain;
    ek__dns_name_t ns, mbox;
    if (name_cat(&ns, "ns.dns", z) < 0 || name_cat(&mbox, "hostmaster", z) < 0) {
        return;
    }
    uint32_t ttl = c->st->ttl < SOA_TTL_MAX ? c->st->ttl : SOA_TTL_MAX;
    if (section == EK__DNS_NS) {
        owner = z->wire;
    }
    if (ek__dns_wr_rr_begin(c->w, section, owner, EK__DNS_T_SOA, EK__DNS_C_IN, ttl)) {
        ek__dns_wr_name(c->w, ns.wire, true);
        ek__dns_wr_name(c->w, mbox.wire, true);
        ek__dns_wr_u32(c->w, c->ix->serial);
        ek__dns_wr_u32(c->w, 7200);  /* refresh */
        ek__dns_wr_u32(c->w, 1800);  /* retry */
        ek__dns_wr_u32(c->w, 86400); /* expire */
        ek__dns_wr_u32(c->w, c->st->ttl);
        ek__dns_wr_rr_end(c->w);
    }
}

/* ---- services ---- */

static bool port_matches(const ek__dns_port_t *p, const char *port, const char *proto)
{
    static const char *const protos[] = { "tcp", "udp", "sctp", "" };
    if (port && strcmp(port, p->name) != 0) {
        return false;
    }
    return !proto || strcmp(proto, protos[p->proto]) == 0;
}

/* Items for a ClusterIP service: each matching port on each cluster IP. */
static bool clusterip_items(ctx_t *c, const ek__dns_svc_t *s, const char *port, const char *proto)
{
    bool matched = false;
    for (size_t i = 0; i < s->nports; i++) {
        if (!port_matches(&s->ports[i], port, proto)) {
            continue;
        }
        matched = true;
        for (unsigned j = 0; j < s->nips; j++) {
            add_item(c, &s->ips[j], s->ports[i].port, NULL);
        }
    }
    return matched;
}

/* Items for endpoints: each ready address (matching the endpoint label when one is asked
 * for) with each matching port of its slice; a slice without ports gives port -1. */
static bool endpoint_items(ctx_t *c, const ek__dns_bucket_t *b, const char *ep, const char *port,
                           const char *proto)
{
    bool found = false;
    for (const ek__dns_slice_t *sl = b->slices; sl; sl = sl->next) {
        for (size_t i = 0; i < sl->neps; i++) {
            char buf[64];
            if (ep && strcmp(ep, ek__dns_ep_label(c->ix, c->ns, c->svc, &sl->eps[i], buf,
                                                  sizeof(buf))) != 0) {
                continue;
            }
            if (sl->nports == 0 && !port && !proto) {
                found = true;
                add_item(c, &sl->eps[i].ip, -1, &sl->eps[i]);
            }
            for (size_t j = 0; j < sl->nports; j++) {
                if (port_matches(&sl->ports[j], port, proto)) {
                    found = true;
                    add_item(c, &sl->eps[i].ip, sl->ports[j].port, &sl->eps[i]);
                }
            }
        }
    }
    return found;
}

static void write_addrs(ctx_t *c, const uint8_t *owner, int fam)
{
    for (size_t i = 0; i < c->nitems; i++) {
        const ek__dns_ip_t *ip = c->items[i].ip;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = c->items[j].ip && memcmp(c->items[j].ip, ip, sizeof(*ip)) == 0;
        }
        if (ip && ip->fam == fam && !dup) {
            write_addr(c, EK__DNS_AN, owner, ip);
        }
    }
}

static void add_extra(ctx_t *c, const ek__dns_name_t *name, const ek__dns_ip_t *ip)
{
    for (size_t i = 0; i < c->nextra; i++) {
        if (c->extra[i].ip == ip && ek__dns_name_eq(c->extra[i].name.wire, name->wire)) {
            return;
        }
    }
    c->extra = ek_xrealloc(c->extra, (c->nextra + 1) * sizeof(*c->extra));
    c->extra[c->nextra].name = *name;
    c->extra[c->nextra].ip = ip;
    c->nextra++;
}

/* The SRV target of an item: <ep-label>.<svc>.<ns>.svc.<zone>, or <svc>.<ns>.svc.<zone>. */
static int item_target(ctx_t *c, const item_t *it, ek__dns_name_t *out)
{
    char text[256], buf[64];
    if (it->ep) {
        snprintf(text, sizeof(text), "%s.%s.%s.svc",
                 ek__dns_ep_label(c->ix, c->ns, c->svc, it->ep, buf, sizeof(buf)), c->svc, c->ns);
    } else {
        snprintf(text, sizeof(text), "%s.%s.svc", c->svc, c->ns);
    }
    return name_cat(out, text, &c->st->domain);
}

/* SRV: one per (target, port), weights split evenly as CoreDNS does (100 / items, at least
 * 1), the targets' addresses in the additional section. */
static void write_srvs(ctx_t *c, const uint8_t *owner)
{
    uint16_t weight = (uint16_t)(c->nitems ? 100 / c->nitems : 100);
    weight = weight ? weight : 1;
    for (size_t i = 0; i < c->nitems; i++) {
        const item_t *it = &c->items[i];
        ek__dns_name_t target, other;
        if (it->port < 0 || item_target(c, it, &target) < 0) {
            continue;
        }
        add_extra(c, &target, it->ip);
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            dup = c->items[j].port == it->port && item_target(c, &c->items[j], &other) == 0 &&
                  ek__dns_name_eq(other.wire, target.wire);
        }
        if (dup || !ek__dns_wr_rr_begin(c->w, EK__DNS_AN, owner, EK__DNS_T_SRV, EK__DNS_C_IN,
                                        c->st->ttl)) {
            continue;
        }
        ek__dns_wr_u16(c->w, 0); /* priority */
        ek__dns_wr_u16(c->w, weight);
        ek__dns_wr_u16(c->w, (uint16_t)it->port);
        ek__dns_wr_name(c->w, target.wire, false); /* RFC 2782: no compression */
        ek__dns_wr_rr_end(c->w);
    }
}

static int resolve(ctx_t *c, const ek__dns_name_t *name, const uint8_t *owner, int depth);

/* An ExternalName service: a CNAME, followed inside the zone or handed to the server. */
static int external(ctx_t *c, const ek__dns_svc_t *s, const uint8_t *owner, int depth)
{
    if (s->ext_is_ip || s->ext.len <= 1) {
        return ST_NXDOMAIN;
    }
    if (c->qtype == EK__DNS_T_CNAME) {
        write_name_rr(c, owner, EK__DNS_T_CNAME, s->ext.wire);
        return ST_FOUND;
    }
    if (!ek__dns_name_has_suffix(&s->ext, &c->st->domain)) {
        if (depth > 0) {
            /* A chain inside the zone that ends outside: the CNAMEs are the answer. */
            write_name_rr(c, owner, EK__DNS_T_CNAME, s->ext.wire);
            return ST_FOUND;
        }
        *c->target = s->ext;
        return ST_CHASE;
    }
    if (depth >= MAX_CHASE || ek__dns_name_eq(s->ext.wire, owner ? owner : c->w->buf + 12)) {
        return ST_FOUND;
    }
    write_name_rr(c, owner, EK__DNS_T_CNAME, s->ext.wire);
    return resolve(c, &s->ext, s->ext.wire, depth + 1);
}

/* <svc>.<ns>.svc, <ep>.<svc>.<ns>.svc and _<port>._<proto>.<svc>.<ns>.svc */
static int service(ctx_t *c, const ek__dns_name_t *n, unsigned rel, const uint8_t *owner, int depth)
{
    char a[64] = "", b[64] = "", key[160];
    if (!label_str(n, rel - 3, c->svc) || !label_str(n, rel - 2, c->ns) ||
        (rel >= 4 && !label_str(n, 0, a)) || (rel == 5 && !label_str(n, 1, b))) {
        return ST_NXDOMAIN;
    }
    if (!ek__dns_index_has_ns(c->ix, c->ns)) {
        return ST_NXDOMAIN;
    }
    snprintf(key, sizeof(key), "%s.%s", c->svc, c->ns);
    c->nitems = 0;
    const ek__dns_bucket_t *bk = ek__dns_index_bucket(c->ix, key);
    const ek__dns_svc_t *s = bk ? bk->svc : NULL;
    if (!s) {
        return ST_NXDOMAIN;
    }
    if (s->kind == EK__DNS_SVC_EXTERNAL) {
        return rel == 3 ? external(c, s, owner, depth) : ST_NXDOMAIN;
    }
    const char *ep = rel == 4 ? a : NULL;
    const char *port = rel == 5 ? (a[0] == '_' ? a + 1 : a) : NULL;
    const char *proto = rel == 5 ? (b[0] == '_' ? b + 1 : b) : NULL;
    bool found = s->kind == EK__DNS_SVC_HEADLESS || ep ? endpoint_items(c, bk, ep, port, proto)
                                                       : clusterip_items(c, s, port, proto);
    if (!found) {
        return ST_NXDOMAIN;
    }
    switch (c->qtype) {
    case EK__DNS_T_A:
        write_addrs(c, owner, 4);
        break;
    case EK__DNS_T_AAAA:
        write_addrs(c, owner, 6);
        break;
    case EK__DNS_T_SRV:
        write_srvs(c, owner);
        break;
    default:
        break;
    }
    return ST_FOUND;
}

/* <a-b-c-d>.<ns>.pod: the address is in the name (pods insecure). */
static int pod(ctx_t *c, const ek__dns_name_t *n, const uint8_t *owner)
{
    char name[64] = "", ns[64] = "";
    if (!label_str(n, 0, name) || !label_str(n, 1, ns) || !ek__dns_index_has_ns(c->ix, ns)) {
        return ST_NXDOMAIN;
    }
    unsigned dashes = 0;
    for (char *p = name; *p; p++) {
        dashes += *p == '-';
    }
    bool v4 = dashes == 3 && !strstr(name, "--");
    for (char *p = name; *p; p++) {
        *p = *p == '-' ? (v4 ? '.' : ':') : *p;
    }
    ek__dns_ip_t ip;
    if (ek__dns_ip_parse(name, &ip) < 0 || (ip.fam == 4) != v4) {
        return ST_NXDOMAIN;
    }
    if ((c->qtype == EK__DNS_T_A && ip.fam == 4) || (c->qtype == EK__DNS_T_AAAA && ip.fam == 6)) {
        write_addr(c, EK__DNS_AN, owner, &ip);
    }
    return ST_FOUND;
}

/* The zone apex and the fixed names under it. */
static int apex(ctx_t *c, const ek__dns_name_t *n, unsigned rel, const uint8_t *owner)
{
    const ek__dns_settings_t *st = c->st;
    ek__dns_name_t nsname;
    if (name_cat(&nsname, "ns.dns", &st->domain) < 0) {
        return ST_NXDOMAIN;
    }
    if (rel == 0 && c->qtype == EK__DNS_T_SOA) {
        write_soa(c, EK__DNS_AN, owner);
        return ST_FOUND;
    }
    if (rel == 0 && c->qtype == EK__DNS_T_NS) {
        write_name_rr(c, owner, EK__DNS_T_NS, nsname.wire);
        for (size_t i = 0; i < st->n_ns_ips; i++) {
            add_extra(c, &nsname, &st->ns_ips[i]);
        }
        return ST_FOUND;
    }
    if (rel == 2 && ek__dns_name_eq(n->wire, nsname.wire)) {
        for (size_t i = 0; i < st->n_ns_ips; i++) {
            uint16_t t = st->ns_ips[i].fam == 4 ? EK__DNS_T_A : EK__DNS_T_AAAA;
            if (c->qtype == t) {
                write_addr(c, EK__DNS_AN, owner, &st->ns_ips[i]);
            }
        }
        return ST_FOUND;
    }
    return rel <= 1 ? ST_NODATA : ST_NXDOMAIN;
}

static int resolve(ctx_t *c, const ek__dns_name_t *n, const uint8_t *owner, int depth)
{
    unsigned rel = n->nlabels - c->st->domain.nlabels;
    char last[64] = "";
    if (rel == 0) {
        return apex(c, n, rel, owner);
    }
    if (!label_str(n, rel - 1, last)) {
        return ST_NXDOMAIN;
    }
    if (strcmp(last, "svc") == 0 || strcmp(last, "pod") == 0) {
        bool svc = last[0] == 's';
        char ns[64];
        if (rel == 1) {
            return ST_NODATA;
        }
        if (rel == 2) {
            return label_str(n, 0, ns) && ek__dns_index_has_ns(c->ix, ns) ? ST_NODATA : ST_NXDOMAIN;
        }
        if (svc && rel <= 5) {
            return service(c, n, rel, owner, depth);
        }
        return !svc && rel == 3 ? pod(c, n, owner) : ST_NXDOMAIN;
    }
    if (strcmp(last, "dns-version") == 0 && rel == 1) {
        if (c->qtype == EK__DNS_T_TXT &&
            ek__dns_wr_rr_begin(c->w, EK__DNS_AN, owner, EK__DNS_T_TXT, EK__DNS_C_IN, 28800)) {
            ek__dns_wr_bytes(c->w, "\0051.1.0", 6);
            ek__dns_wr_rr_end(c->w);
        }
        return ST_FOUND;
    }
    if (strcmp(last, "dns") == 0) {
        return apex(c, n, rel, owner);
    }
    return ST_NXDOMAIN;
}

/* ---- reverse ---- */

/* PTR for an address: the service owning it, else the endpoints using it, else its pod. */
static int reverse(ctx_t *c, const ek__dns_name_t *n)
{
    ek__dns_ip_t ip;
    const ek__dns_rev_t *r;
    if (c->qtype != EK__DNS_T_PTR || ek__dns_ip_from_reverse(n, &ip) < 0 ||
        !(r = ek__dns_index_rev(c->ix, &ip))) {
        return ST_FORWARD;
    }
    char text[512];
    ek__dns_name_t target;
    if (r->svc) {
        snprintf(text, sizeof(text), "%s.%s.svc", r->svc->name, r->svc->ns);
        if (name_cat(&target, text, &c->st->domain) == 0) {
            write_name_rr(c, NULL, EK__DNS_T_PTR, target.wire);
        }
        return ST_FOUND;
    }
    for (size_t i = 0; i < r->neps; i++) {
        const char *key = r->eps[i].bucket_key, *dot = strchr(key, '.');
        snprintf(c->svc, sizeof(c->svc), "%.*s", (int)(dot - key), key);
        snprintf(c->ns, sizeof(c->ns), "%s", dot + 1);
        item_t it = { NULL, 0, r->eps[i].ep };
        if (item_target(c, &it, &target) == 0) {
            write_name_rr(c, NULL, EK__DNS_T_PTR, target.wire);
        }
    }
    if (r->neps == 0 && r->pod) {
        char addr[64];
        ek__dns_ip_text(&ip, addr, sizeof(addr));
        for (char *p = addr; *p; p++) {
            *p = *p == '.' || *p == ':' ? '-' : *p;
        }
        snprintf(text, sizeof(text), "%s.%s.pod", addr, r->pod->ns);
        if (name_cat(&target, text, &c->st->domain) == 0) {
            write_name_rr(c, NULL, EK__DNS_T_PTR, target.wire);
        }
    }
    return c->w->count[EK__DNS_AN] ? ST_FOUND : ST_FORWARD;
}

/* ---- entry ---- */

static void write_extras(ctx_t *c)
{
    for (size_t i = 0; i < c->nextra; i++) {
        write_addr(c, EK__DNS_AR, c->extra[i].name.wire, c->extra[i].ip);
    }
}

int ek__dns_answer(ek__dns_index_t *ix, const ek__dns_settings_t *st, const ek__dns_query_t *q,
                   ek__dns_wr_t *w, ek__dns_name_t *target)
{
    ctx_t c;
    c.ix = ix;
    c.st = st;
    c.w = w;
    c.qtype = q->qtype;
    c.target = target;
    c.nitems = c.nextra = 0;
    c.items = c.items_inline;
    c.items_cap = EK_ARRAY_SIZE(c.items_inline);
    c.extra = NULL;
    c.svc[0] = c.ns[0] = 0;
    bool in_zone = ek__dns_name_has_suffix(&q->qname, &st->domain);
    if (!in_zone && q->qtype != EK__DNS_T_PTR) {
        return EK__DNS_FORWARD;
    }
    uint16_t flags = EK__DNS_F_QR | EK__DNS_F_AA | EK__DNS_F_RA | (q->flags & EK__DNS_F_RD);
    ek__dns_wr_header(w, q->id, flags);
    ek__dns_wr_question(w, q->qname.wire, q->qtype, q->qclass);
    int status, rcode = EK__DNS_NOERROR;
    if (!in_zone) {
        status = reverse(&c, &q->qname);
    } else if (q->qclass != EK__DNS_C_IN && q->qclass != EK__DNS_C_ANY) {
        status = ST_FOUND;
        rcode = EK__DNS_REFUSED;
    } else if (q->qtype == EK__DNS_T_AXFR || q->qtype == EK__DNS_T_IXFR) {
        status = ST_FOUND;
        rcode = EK__DNS_REFUSED; /* no zone transfers */
    } else {
        status = resolve(&c, &q->qname, NULL, 0);
    }
    if (status == ST_NXDOMAIN) {
        rcode = EK__DNS_NXDOMAIN;
    }
    if (status == ST_NXDOMAIN || status == ST_NODATA ||
        (status == ST_FOUND && rcode == EK__DNS_NOERROR && w->count[EK__DNS_AN] == 0)) {
        write_soa(&c, EK__DNS_NS, NULL);
    }
    write_extras(&c);
    if (c.items != c.items_inline) {
        free(c.items);
    }
    free(c.extra);
    if (status == ST_FORWARD || status == ST_CHASE) {
        return status == ST_FORWARD ? EK__DNS_FORWARD : EK__DNS_CHASE;
    }
    ek__dns_wr_finish(w, rcode, q->edns);
    return EK__DNS_ANSWERED;
}
