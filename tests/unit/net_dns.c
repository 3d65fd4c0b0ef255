/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster DNS server (net/dns): the wire format (compression, loops, limits, EDNS), every
 * record shape of the Kubernetes DNS specification answered from objects fed as JSON the way
 * informers deliver them, NXDOMAIN vs NODATA with the SOA, truncation, the forward cache with
 * injected time, and the live server on a loop with fake upstreams on 127.0.0.1: forwarding,
 * caching, TCP retry after TC, and SERVFAIL within a bounded time without a working upstream.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "net/dns/dns-internal.h"
#include "tests/unit/test.h"

/* ---- helpers ---- */

static const char *const objects_yaml =
    "kind: Namespace\nmetadata: {name: default}\n---\n"
    "kind: Namespace\nmetadata: {name: shop}\n---\n"
    "kind: Service\nmetadata: {name: kubernetes, namespace: default}\n"
    "spec: {clusterIP: 10.43.0.1, clusterIPs: [10.43.0.1], ports: [{name: https, port: 443}]}\n"
    "---\n"
    "kind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec:\n  clusterIP: 10.43.12.7\n  clusterIPs: [10.43.12.7, 'fd00:43::7']\n"
    "  ports: [{name: http, port: 80, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]\n"
    "---\n"
    "kind: Service\nmetadata: {name: db, namespace: shop}\n"
    "spec: {clusterIP: None, ports: [{name: pg, port: 5432}]}\n---\n"
    "kind: EndpointSlice\nmetadata: {name: db-1, namespace: shop,"
    " labels: {kubernetes.io/service-name: db}}\n"
    "addressType: IPv4\nports: [{name: pg, port: 5432, protocol: TCP}]\n"
    "endpoints:\n"
    "- {addresses: [10.42.0.21], hostname: db-0, conditions: {ready: true},"
    " targetRef: {kind: Pod, name: db-0}}\n"
    "- {addresses: [10.42.0.22], conditions: {ready: true}, targetRef: {kind: Pod, name: db-1}}\n"
    "- {addresses: [10.42.0.23], hostname: db-2, conditions: {ready: false}}\n"
    "- {addresses: [10.42.0.24], conditions: {}}\n"
    "---\n"
    "kind: Pod\nmetadata: {name: db-1, namespace: shop}\n"
    "spec: {hostname: db-1, subdomain: db}\nstatus: {phase: Running, podIP: 10.42.0.22}\n---\n"
    "kind: Pod\nmetadata: {name: lone, namespace: shop}\n"
    "status: {phase: Running, podIPs: [{ip: 10.42.0.30}]}\n---\n"
    "kind: Service\nmetadata: {name: empty, namespace: shop}\n"
    "spec: {clusterIP: None, ports: [{name: x, port: 1}]}\n---\n"
    "kind: Service\nmetadata: {name: ext, namespace: shop}\n"
    "spec: {type: ExternalName, externalName: outside.example}\n---\n"
    "kind: Service\nmetadata: {name: alias, namespace: shop}\n"
    "spec: {type: ExternalName, externalName: web.shop.svc.cluster.local}\n---\n"
    "kind: Service\nmetadata: {name: loop, namespace: shop}\n"
    "spec: {type: ExternalName, externalName: loop.shop.svc.cluster.local}\n";

typedef struct fixture {
    uv_loop_t loop;
    ek_dns_t *d;
} fixture_t;

static void feed(ek_dns_t *d, const char *yaml)
{
    ek_error_t *err = NULL;
    json_t *docs = ek_yaml_to_json_docs(yaml, strlen(yaml), &err);
    ASSERT_OK(docs ? 0 : -1, &err);
    size_t i;
    json_t *o;
    json_array_foreach (docs, i, o) {
        ASSERT_OK(ek_dns_object_upsert(d, o, &err), &err);
    }
    json_decref(docs);
}

static void fx_init(fixture_t *f, const ek_dns_config_t *cfg)
{
    ek_error_t *err = NULL;
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    f->d = ek_dns_new(&f->loop, cfg, &err);
    ASSERT_OK(f->d ? 0 : -1, &err);
}

static void fx_done(fixture_t *f)
{
    ek_dns_close(f->d, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

static size_t make_query(uint8_t *buf, size_t cap, const char *name, uint16_t type, int edns)
{
    ek__dns_name_t n;
    ASSERT_EQ(ek__dns_name_from_text(&n, name), 0);
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, buf, cap, cap);
    ek__dns_wr_header(&w, 0x1234, EK__DNS_F_RD);
    ek__dns_wr_question(&w, n.wire, type, EK__DNS_C_IN);
    size_t len = ek__dns_wr_finish(&w, 0, edns > 0);
    if (edns > 0) {
        ek__dns_put16(buf + len - 8, (uint16_t)edns); /* the OPT's class: payload size */
    }
    return len;
}

/* A reply decoded for assertions: one line per RR, "section name ttl TYPE rdata". */
typedef struct reply {
    int rcode;
    uint16_t flags;
    unsigned count[4];
    size_t len;
    char text[16384];
} reply_t;

static void rdata_text(const uint8_t *m, size_t len, const ek__dns_rr_t *rr, char *out, size_t cap)
{
    char a[1024], b[1024];
    size_t p = rr->rdoff;
    ek__dns_name_t n1, n2;
    const uint8_t *r = m + rr->rdoff;
    switch (rr->type) {
    case EK__DNS_T_A:
    case EK__DNS_T_AAAA:
        inet_ntop(rr->type == EK__DNS_T_A ? AF_INET : AF_INET6, r, a, sizeof(a));
        snprintf(out, cap, "%s", a);
        return;
    case EK__DNS_T_CNAME:
    case EK__DNS_T_PTR:
    case EK__DNS_T_NS:
        ASSERT_EQ(ek__dns_read_name(m, len, &p, &n1), 0);
        snprintf(out, cap, "%s", ek__dns_name_to_text(n1.wire, a, sizeof(a)));
        return;
    case EK__DNS_T_SRV:
        p += 6;
        ASSERT_EQ(ek__dns_read_name(m, len, &p, &n1), 0);
        snprintf(out, cap, "%u %u %u %s", ek__dns_get16(r), ek__dns_get16(r + 2),
                 ek__dns_get16(r + 4), ek__dns_name_to_text(n1.wire, a, sizeof(a)));
        return;
    case EK__DNS_T_SOA:
        ASSERT_EQ(ek__dns_read_name(m, len, &p, &n1), 0);
        ASSERT_EQ(ek__dns_read_name(m, len, &p, &n2), 0);
        snprintf(out, cap, "%s %s %u %u %u %u", ek__dns_name_to_text(n1.wire, a, sizeof(a)),
                 ek__dns_name_to_text(n2.wire, b, sizeof(b)), ek__dns_get32(m + p + 4),
                 ek__dns_get32(m + p + 8), ek__dns_get32(m + p + 12), ek__dns_get32(m + p + 16));
        return;
    case EK__DNS_T_TXT:
        snprintf(out, cap, "\"%.*s\"", r[0], (const char *)r + 1);
        return;
    default:
        snprintf(out, cap, "type%u len%u", rr->type, rr->rdlen);
    }
}

static void decode(const uint8_t *m, size_t len, reply_t *r)
{
    static const char *const sec[] = { "qd", "an", "ns", "ar" };
    static const struct {
        uint16_t t;
        const char *name;
    } types[] = { { EK__DNS_T_A, "A" },         { EK__DNS_T_AAAA, "AAAA" },
                  { EK__DNS_T_CNAME, "CNAME" }, { EK__DNS_T_PTR, "PTR" },
                  { EK__DNS_T_SRV, "SRV" },     { EK__DNS_T_SOA, "SOA" },
                  { EK__DNS_T_TXT, "TXT" },     { EK__DNS_T_NS, "NS" },
                  { EK__DNS_T_OPT, "OPT" } };
    memset(r, 0, sizeof(*r));
    r->len = len;
    ASSERT_CMP(len, >=, 12);
    r->flags = ek__dns_get16(m + 2);
    r->rcode = r->flags & 0xF;
    for (int i = 0; i < 4; i++) {
        r->count[i] = ek__dns_get16(m + 4 + 2 * i);
    }
    size_t off = 12, o = 0;
    ek__dns_name_t qn;
    for (unsigned i = 0; i < r->count[0]; i++) {
        ASSERT_EQ(ek__dns_read_name(m, len, &off, &qn), 0);
        off += 4;
    }
    for (int s = 1; s < 4; s++) {
        for (unsigned i = 0; i < r->count[s]; i++) {
            ek__dns_rr_t rr;
            char name[1024], rd[2048];
            const char *tn = "?";
            ASSERT_EQ(ek__dns_rr_next(m, len, &off, &rr), 0);
            for (size_t k = 0; k < EK_ARRAY_SIZE(types); k++) {
                tn = types[k].t == rr.type ? types[k].name : tn;
            }
            rdata_text(m, len, &rr, rd, sizeof(rd));
            o += (size_t)snprintf(r->text + o, sizeof(r->text) - o, "%s %s %u %s %s\n", sec[s],
                                  ek__dns_name_to_text(rr.name.wire, name, sizeof(name)),
                                  rr.type == EK__DNS_T_OPT ? 0 : rr.ttl, tn, rd);
        }
    }
    ASSERT_EQ(off, len);
}

/* Asks the server's synchronous path; returns the action it took. */
static int ask(ek_dns_t *d, const char *name, uint16_t type, bool tcp, int edns, reply_t *r)
{
    static uint8_t q[512], out[EK__DNS_MSG_MAX];
    size_t ql = make_query(q, sizeof(q), name, type, edns);
    ek__dns_query_t pq;
    ek__dns_name_t target;
    int action;
    size_t n = ek__dns_handle(d, q, ql, tcp, out, sizeof(out), &action, &pq, &target);
    memset(r, 0, sizeof(*r));
    if (n > 0) {
        decode(out, n, r);
        ASSERT_EQ(ek__dns_get16(out), 0x1234);
        ASSERT_TRUE(r->flags & EK__DNS_F_QR);
    }
    if (action == EK__DNS_CHASE) {
        ek__dns_name_to_text(target.wire, r->text, sizeof(r->text));
    }
    return action;
}

static void ask_ok(ek_dns_t *d, const char *name, uint16_t type, reply_t *r)
{
    ASSERT_EQ(ask(d, name, type, false, 0, r), EK__DNS_ANSWERED);
    ASSERT_CMP(r->len, >, 0);
}

static const char *const soa_line =
    "ns cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local. 7200 1800 86400 5\n";

static fixture_t *cluster(void)
{
    static fixture_t f;
    ek_strlist_t ns = { 0 };
    ek_strlist_add(&ns, "10.43.0.10");
    ek_dns_config_t cfg = { .ns_ips = &ns };
    fx_init(&f, &cfg);
    ek_strlist_free(&ns);
    feed(f.d, objects_yaml);
    return &f;
}

/* ---- wire format ---- */

TEST(dns_name_compression_and_loops)
{
    /* header, then "www.example.com" at 12, then "a" + pointer to 16 ("example.com") at 29 */
    uint8_t m[64] = { 0 };
    memcpy(m + 12, "\3www\7example\3com\0", 17);
    memcpy(m + 29, "\1a\xC0\x10", 4);
    ek__dns_name_t n;
    size_t off = 29;
    char text[1024];
    ASSERT_EQ(ek__dns_read_name(m, 33, &off, &n), 0);
    ASSERT_EQ(off, 33);
    ASSERT_STREQ(ek__dns_name_to_text(n.wire, text, sizeof(text)), "a.example.com.");
    ASSERT_EQ(n.nlabels, 3);
    /* A pointer to itself, forward, into the header, or a chain that comes back: refused. */
    memcpy(m + 40, "\xC0\x28", 2);
    off = 40;
    ASSERT_EQ(ek__dns_read_name(m, 42, &off, &n), -1);
    memcpy(m + 40, "\xC0\x30", 2);
    off = 40;
    ASSERT_EQ(ek__dns_read_name(m, 64, &off, &n), -1);
    memcpy(m + 40, "\xC0\x02", 2);
    off = 40;
    ASSERT_EQ(ek__dns_read_name(m, 42, &off, &n), -1);
    memcpy(m + 44, "\1b\xC0\x2c", 4); /* label then pointer back to the label's own start */
    off = 44;
    ASSERT_EQ(ek__dns_read_name(m, 48, &off, &n), -1);
    /* Truncated pointer, reserved label types, a label past the end. */
    off = 42;
    m[42] = 0xC0;
    ASSERT_EQ(ek__dns_read_name(m, 43, &off, &n), -1);
    m[42] = 0x40;
    off = 42;
    ASSERT_EQ(ek__dns_read_name(m, 64, &off, &n), -1);
    m[42] = 30;
    off = 42;
    ASSERT_EQ(ek__dns_read_name(m, 64, &off, &n), -1);
}

TEST(dns_name_limits)
{
    ek__dns_name_t n;
    char label[70], name[400];
    memset(label, 'a', 63);
    label[63] = 0;
    ASSERT_EQ(ek__dns_name_from_text(&n, label), 0);
    memset(label, 'a', 64);
    label[64] = 0;
    ASSERT_EQ(ek__dns_name_from_text(&n, label), -1);
    ASSERT_EQ(ek__dns_name_from_text(&n, "a..b"), -1);
    ASSERT_EQ(ek__dns_name_from_text(&n, "."), 0);
    ASSERT_EQ(n.len, 1);
    /* 253 characters of text is the longest name (255 bytes on the wire). */
    name[0] = 0;
    for (int i = 0; i < 63; i++) {
        strcat(name, "ab.");
    }
    strcat(name, "abcdefgh1");
    ASSERT_EQ(strlen(name), 198);
    ASSERT_EQ(ek__dns_name_from_text(&n, name), 0);
    while (strlen(name) < 253) {
        strcat(name, "x");
    }
    ASSERT_EQ(ek__dns_name_from_text(&n, name), -1); /* 254-char last label */
    /* A compressed name that expands past 255 bytes is refused. */
    uint8_t m[600] = { 0 };
    size_t p = 12;
    for (int i = 0; i < 5; i++) {
        m[p] = 60;
        memset(m + p + 1, 'x', 60);
        p += 61;
    }
    m[p++] = 0;
    size_t off = 12;
    ASSERT_EQ(ek__dns_read_name(m, p, &off, &n), -1);
}

TEST(dns_query_parsing)
{
    uint8_t q[512];
    ek__dns_query_t pq;
    size_t n = make_query(q, sizeof(q), "Web.Shop.svc.cluster.local", EK__DNS_T_A, 0);
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), 0);
    ASSERT_FALSE(pq.edns);
    ASSERT_EQ(ek__dns_udp_limit(&pq), 512);
    char text[1024];
    ASSERT_STREQ(ek__dns_name_to_text(pq.qname.wire, text, sizeof(text)),
                 "Web.Shop.svc.cluster.local.");
    n = make_query(q, sizeof(q), "a.b", EK__DNS_T_A, 4096);
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), 0);
    ASSERT_TRUE(pq.edns);
    ASSERT_EQ(pq.udp_size, 4096);
    ASSERT_EQ(ek__dns_udp_limit(&pq), EK__DNS_EDNS_SIZE);
    /* Short, a response (never answered: no reflection loops), two questions, an opcode. */
    ASSERT_EQ(ek__dns_parse_query(q, 11, &pq), -1);
    q[2] |= 0x80;
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), -1);
    q[2] &= 0x7f;
    q[5] = 2;
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), EK__DNS_FORMERR);
    q[5] = 1;
    q[2] |= 0x28; /* opcode 5: UPDATE */
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), EK__DNS_NOTIMP);
    q[2] &= ~0x78;
    /* EDNS version 1: BADVERS, carried in the OPT of the reply. */
    q[n - 5] = 1;
    ASSERT_EQ(ek__dns_parse_query(q, n, &pq), EK__DNS_BADVERS);
    uint8_t out[512];
    size_t rl = ek__dns_error_reply(&pq, EK__DNS_BADVERS, out, sizeof(out));
    reply_t r;
    decode(out, rl, &r);
    ASSERT_EQ(r.rcode, 0);
    ASSERT_EQ(r.count[3], 1);
    ASSERT_EQ(out[rl - 6], 1); /* extended rcode 16 >> 4 */
    q[n - 5] = 0;
    /* Two OPT records: FORMERR. */
    memcpy(q + n, q + n - 11, 11);
    q[11] = 2;
    ASSERT_EQ(ek__dns_parse_query(q, n + 11, &pq), EK__DNS_FORMERR);
}

TEST(dns_writer_compresses_and_truncates)
{
    uint8_t buf[512];
    ek__dns_wr_t w;
    ek__dns_name_t q, t;
    ek__dns_name_from_text(&q, "_http._tcp.web.shop.svc.cluster.local");
    ek__dns_name_from_text(&t, "web.shop.svc.cluster.local");
    ek__dns_wr_init(&w, buf, sizeof(buf), 100);
    ek__dns_wr_header(&w, 1, EK__DNS_F_QR);
    ek__dns_wr_question(&w, q.wire, EK__DNS_T_CNAME, 1);
    size_t qend = w.len;
    ASSERT_TRUE(ek__dns_wr_rr_begin(&w, EK__DNS_AN, NULL, EK__DNS_T_CNAME, 1, 5));
    ek__dns_wr_name(&w, t.wire, true);
    ASSERT_TRUE(ek__dns_wr_rr_end(&w));
    /* owner pointer (2) + type/class/ttl/rdlen (10) + pointer into the question (2) */
    ASSERT_EQ(w.len - qend, 14);
    /* The next RR crosses the limit: rolled back, TC set, nothing more accepted. */
    ASSERT_TRUE(ek__dns_wr_rr_begin(&w, EK__DNS_AN, NULL, EK__DNS_T_TXT, 1, 5));
    ek__dns_wr_bytes(&w, buf, 60);
    ASSERT_FALSE(ek__dns_wr_rr_end(&w));
    ASSERT_TRUE(w.truncated);
    ASSERT_FALSE(ek__dns_wr_rr_begin(&w, EK__DNS_AR, NULL, EK__DNS_T_A, 1, 5));
    size_t len = ek__dns_wr_finish(&w, 0, false);
    reply_t r;
    decode(buf, len, &r);
    ASSERT_TRUE(r.flags & EK__DNS_F_TC);
    ASSERT_EQ(r.count[1], 1);
    ASSERT_STREQ(r.text,
                 "an _http._tcp.web.shop.svc.cluster.local. 5 CNAME web.shop.svc.cluster.local.\n");
}

TEST(dns_reverse_names)
{
    ek__dns_name_t n;
    ek__dns_ip_t ip;
    char text[64];
    ek__dns_name_from_text(&n, "7.12.43.10.in-addr.arpa");
    ASSERT_EQ(ek__dns_ip_from_reverse(&n, &ip), 0);
    ASSERT_STREQ(ek__dns_ip_text(&ip, text, sizeof(text)), "10.43.12.7");
    ek__dns_name_from_text(&n, "07.12.43.10.in-addr.arpa");
    ASSERT_EQ(ek__dns_ip_from_reverse(&n, &ip), -1);
    ek__dns_name_from_text(&n, "12.43.10.in-addr.arpa");
    ASSERT_EQ(ek__dns_ip_from_reverse(&n, &ip), -1);
    ek__dns_name_from_text(
        &n, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa");
    ASSERT_EQ(ek__dns_ip_from_reverse(&n, &ip), 0);
    ASSERT_STREQ(ek__dns_ip_text(&ip, text, sizeof(text)), "fd00:43::7");
}

/* ---- cluster records ---- */

TEST(dns_service_a_aaaa_and_nodata)
{
    fixture_t *f = cluster();
    reply_t r;
    ask_ok(f->d, "web.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, 0);
    ASSERT_TRUE(r.flags & EK__DNS_F_AA);
    ASSERT_TRUE(r.flags & EK__DNS_F_RA);
    ASSERT_TRUE(r.flags & EK__DNS_F_RD);
    ASSERT_STREQ(r.text, "an web.shop.svc.cluster.local. 5 A 10.43.12.7\n");
    ask_ok(f->d, "web.shop.svc.cluster.local", EK__DNS_T_AAAA, &r);
    ASSERT_STREQ(r.text, "an web.shop.svc.cluster.local. 5 AAAA fd00:43::7\n");
    /* The name exists, the type does not: NODATA with the SOA (RFC 2308 2.2). */
    ask_ok(f->d, "kubernetes.default.svc.cluster.local", EK__DNS_T_AAAA, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NOERROR);
    ASSERT_EQ(r.count[1], 0);
    ASSERT_STREQ(r.text + 0, soa_line);
    ask_ok(f->d, "kubernetes.default.svc.cluster.local", EK__DNS_T_MX, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NOERROR);
    ASSERT_STREQ(r.text, soa_line);
    /* Names are case-insensitive; the answer keeps the asker's spelling. */
    ask_ok(f->d, "KUBERNETES.Default.SVC.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an KUBERNETES.Default.SVC.cluster.local. 5 A 10.43.0.1\n");
    fx_done(f);
}

TEST(dns_nxdomain_vs_nodata)
{
    fixture_t *f = cluster();
    reply_t r;
    struct {
        const char *name;
        int rcode;
    } cases[] = {
        { "nope.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "web.nons.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "shop.svc.cluster.local", EK__DNS_NOERROR }, /* a namespace: names below it */
        { "nons.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "svc.cluster.local", EK__DNS_NOERROR },
        { "pod.cluster.local", EK__DNS_NOERROR },
        { "cluster.local", EK__DNS_NOERROR },
        { "foo.cluster.local", EK__DNS_NXDOMAIN },
        { "a.b.c._http._tcp.web.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "_nope._tcp.web.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "_http._udp.web.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "empty.shop.svc.cluster.local", EK__DNS_NXDOMAIN },   /* headless, none ready */
        { "db-2.db.shop.svc.cluster.local", EK__DNS_NXDOMAIN }, /* not ready */
        { "x.db-0.db.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
        { "loop.shop.svc.cluster.local", EK__DNS_NOERROR },
        { "we\\b.shop.svc.cluster.local", EK__DNS_NXDOMAIN },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ask_ok(f->d, cases[i].name, EK__DNS_T_A, &r);
        if (r.rcode != cases[i].rcode) {
            ek__test_fail(__FILE__, __LINE__, "%s: rcode %d, want %d", cases[i].name, r.rcode,
                          cases[i].rcode);
        }
        ASSERT_TRUE(r.flags & EK__DNS_F_AA);
        if (r.count[1] == 0) {
            ASSERT_CONTAINS(r.text, soa_line);
        }
    }
    fx_done(f);
}

TEST(dns_headless_endpoints)
{
    fixture_t *f = cluster();
    reply_t r;
    /* Ready endpoints only; a missing ready condition counts as ready. */
    ask_ok(f->d, "db.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.count[1], 3);
    ASSERT_CONTAINS(r.text, "A 10.42.0.21\n");
    ASSERT_CONTAINS(r.text, "A 10.42.0.22\n");
    ASSERT_CONTAINS(r.text, "A 10.42.0.24\n");
    /* StatefulSet-style names: the endpoint's hostname, or its pod's hostname when the pod's
     * subdomain is the service, else the dashed address. */
    ask_ok(f->d, "db-0.db.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an db-0.db.shop.svc.cluster.local. 5 A 10.42.0.21\n");
    ask_ok(f->d, "db-1.db.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an db-1.db.shop.svc.cluster.local. 5 A 10.42.0.22\n");
    ask_ok(f->d, "10-42-0-24.db.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an 10-42-0-24.db.shop.svc.cluster.local. 5 A 10.42.0.24\n");
    /* SRV per endpoint and port, addresses in the additional section. */
    ask_ok(f->d, "_pg._tcp.db.shop.svc.cluster.local", EK__DNS_T_SRV, &r);
    ASSERT_EQ(r.count[1], 3);
    ASSERT_CONTAINS(r.text, "SRV 0 33 5432 db-0.db.shop.svc.cluster.local.\n");
    ASSERT_CONTAINS(r.text, "SRV 0 33 5432 10-42-0-24.db.shop.svc.cluster.local.\n");
    ASSERT_CONTAINS(r.text, "ar db-1.db.shop.svc.cluster.local. 5 A 10.42.0.22\n");
    /* The last endpoint goes: NXDOMAIN. */
    feed(f->d, "kind: EndpointSlice\nmetadata: {name: db-1, namespace: shop,"
               " labels: {kubernetes.io/service-name: db}}\naddressType: IPv4\n"
               "endpoints: [{addresses: [10.42.0.21], conditions: {ready: false}}]\n");
    ask_ok(f->d, "db.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    fx_done(f);
}

TEST(dns_srv_named_ports)
{
    fixture_t *f = cluster();
    reply_t r;
    ask_ok(f->d, "_http._tcp.web.shop.svc.cluster.local", EK__DNS_T_SRV, &r);
    ASSERT_EQ(r.count[1], 1);
    /* Weights count one item per port and cluster IP (two here), as CoreDNS does. */
    ASSERT_CONTAINS(r.text, "an _http._tcp.web.shop.svc.cluster.local. 5 SRV 0 50 80 "
                            "web.shop.svc.cluster.local.\n");
    ASSERT_CONTAINS(r.text, "ar web.shop.svc.cluster.local. 5 A 10.43.12.7\n");
    ASSERT_CONTAINS(r.text, "ar web.shop.svc.cluster.local. 5 AAAA fd00:43::7\n");
    ask_ok(f->d, "_dns._udp.web.shop.svc.cluster.local", EK__DNS_T_SRV, &r);
    ASSERT_CONTAINS(r.text, "SRV 0 50 53 web.shop.svc.cluster.local.\n");
    /* No port labels: every port (weights as CoreDNS: 100 / items). */
    ask_ok(f->d, "web.shop.svc.cluster.local", EK__DNS_T_SRV, &r);
    ASSERT_EQ(r.count[1], 2);
    ASSERT_CONTAINS(r.text, "SRV 0 25 80 web.shop.svc.cluster.local.\n");
    ASSERT_CONTAINS(r.text, "SRV 0 25 53 web.shop.svc.cluster.local.\n");
    /* A on the SRV name answers the service's addresses, as CoreDNS does. */
    ask_ok(f->d, "_http._tcp.web.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an _http._tcp.web.shop.svc.cluster.local. 5 A 10.43.12.7\n");
    fx_done(f);
}

TEST(dns_external_name)
{
    fixture_t *f = cluster();
    reply_t r;
    /* Outside the zone: the server forwards the target and prepends the CNAME. */
    ASSERT_EQ(ask(f->d, "ext.shop.svc.cluster.local", EK__DNS_T_A, false, 0, &r), EK__DNS_CHASE);
    ASSERT_STREQ(r.text, "outside.example.");
    ask_ok(f->d, "ext.shop.svc.cluster.local", EK__DNS_T_CNAME, &r);
    ASSERT_STREQ(r.text, "an ext.shop.svc.cluster.local. 5 CNAME outside.example.\n");
    /* Inside the zone: followed here. */
    ask_ok(f->d, "alias.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an alias.shop.svc.cluster.local. 5 CNAME web.shop.svc.cluster.local.\n"
                         "an web.shop.svc.cluster.local. 5 A 10.43.12.7\n");
    /* With no upstream, the chase ends with the CNAME alone (as CoreDNS). */
    uint8_t q[512];
    size_t ql = make_query(q, sizeof(q), "ext.shop.svc.cluster.local", EK__DNS_T_A, 0);
    ek__dns_waiter_t w = { 0 };
    ASSERT_EQ(ek__dns_parse_query(q, ql, &w.q), 0);
    w.chase = true;
    ek__dns_name_from_text(&w.cname, "outside.example");
    w.tcp = true; /* no connection: nothing is sent, the reply stays in the server's buffer */
    ek__dns_reply_failure(f->d, &w);
    fx_done(f);
}

TEST(dns_pods_and_ptr)
{
    fixture_t *f = cluster();
    reply_t r;
    ask_ok(f->d, "10-42-0-99.shop.pod.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an 10-42-0-99.shop.pod.cluster.local. 5 A 10.42.0.99\n");
    ask_ok(f->d, "fd00--1.shop.pod.cluster.local", EK__DNS_T_AAAA, &r);
    ASSERT_STREQ(r.text, "an fd00--1.shop.pod.cluster.local. 5 AAAA fd00::1\n");
    ask_ok(f->d, "10-42-0-99.shop.pod.cluster.local", EK__DNS_T_AAAA, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NOERROR);
    ASSERT_EQ(r.count[1], 0);
    ask_ok(f->d, "10-42-0-999.shop.pod.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    ask_ok(f->d, "10-42-0-9.nons.pod.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    /* PTR: the service, else the endpoints, else the pod; unknown addresses go upstream. */
    ask_ok(f->d, "7.12.43.10.in-addr.arpa", EK__DNS_T_PTR, &r);
    ASSERT_STREQ(r.text, "an 7.12.43.10.in-addr.arpa. 5 PTR web.shop.svc.cluster.local.\n");
    ask_ok(f->d, "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.4.0.0.0.0.d.f.ip6.arpa",
           EK__DNS_T_PTR, &r);
    ASSERT_CONTAINS(r.text, "PTR web.shop.svc.cluster.local.\n");
    ask_ok(f->d, "21.0.42.10.in-addr.arpa", EK__DNS_T_PTR, &r);
    ASSERT_STREQ(r.text, "an 21.0.42.10.in-addr.arpa. 5 PTR db-0.db.shop.svc.cluster.local.\n");
    ask_ok(f->d, "22.0.42.10.in-addr.arpa", EK__DNS_T_PTR, &r);
    ASSERT_STREQ(r.text, "an 22.0.42.10.in-addr.arpa. 5 PTR db-1.db.shop.svc.cluster.local.\n");
    ask_ok(f->d, "30.0.42.10.in-addr.arpa", EK__DNS_T_PTR, &r);
    ASSERT_STREQ(r.text, "an 30.0.42.10.in-addr.arpa. 5 PTR 10-42-0-30.shop.pod.cluster.local.\n");
    ASSERT_EQ(ask(f->d, "99.0.42.10.in-addr.arpa", EK__DNS_T_PTR, false, 0, &r), EK__DNS_FORWARD);
    ASSERT_EQ(ask(f->d, "7.12.43.10.in-addr.arpa", EK__DNS_T_A, false, 0, &r), EK__DNS_FORWARD);
    /* After the service goes, its address is no longer answered here. */
    feed(f->d, "kind: Service\nmetadata: {name: other, namespace: shop}\n"
               "spec: {clusterIP: 10.43.12.8, ports: [{port: 1}]}\n");
    json_t *svc = json_pack("{s:{s:s,s:s}}", "metadata", "name", "web", "namespace", "shop");
    ek_dns_service_delete(f->d, svc);
    json_decref(svc);
    ASSERT_EQ(ask(f->d, "7.12.43.10.in-addr.arpa", EK__DNS_T_PTR, false, 0, &r), EK__DNS_FORWARD);
    ask_ok(f->d, "web.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    ask_ok(f->d, "8.12.43.10.in-addr.arpa", EK__DNS_T_PTR, &r);
    ASSERT_CONTAINS(r.text, "PTR other.shop.svc.cluster.local.\n");
    fx_done(f);
}

TEST(dns_apex_records)
{
    fixture_t *f = cluster();
    reply_t r;
    ask_ok(f->d, "cluster.local", EK__DNS_T_SOA, &r);
    ASSERT_EQ(r.count[1], 1);
    ASSERT_CONTAINS(r.text, "an cluster.local. 5 SOA ns.dns.cluster.local.");
    ask_ok(f->d, "cluster.local", EK__DNS_T_NS, &r);
    ASSERT_STREQ(r.text, "an cluster.local. 5 NS ns.dns.cluster.local.\n"
                         "ar ns.dns.cluster.local. 5 A 10.43.0.10\n");
    ask_ok(f->d, "ns.dns.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an ns.dns.cluster.local. 5 A 10.43.0.10\n");
    ask_ok(f->d, "dns-version.cluster.local", EK__DNS_T_TXT, &r);
    ASSERT_STREQ(r.text, "an dns-version.cluster.local. 28800 TXT \"1.1.0\"\n");
    ask_ok(f->d, "cluster.local", EK__DNS_T_AXFR, &r);
    ASSERT_EQ(r.rcode, EK__DNS_REFUSED);
    ASSERT_EQ(ask(f->d, "example.org", EK__DNS_T_A, false, 0, &r), EK__DNS_FORWARD);
    fx_done(f);
}

TEST(dns_truncation_udp_and_tcp)
{
    fixture_t *f = cluster();
    ek_buf_t y = EK_BUF_INIT;
    ek_buf_printf(&y, "kind: Service\nmetadata: {name: big, namespace: shop}\n"
                      "spec: {clusterIP: None}\n---\nkind: EndpointSlice\n"
                      "metadata: {name: big-1, namespace: shop,"
                      " labels: {kubernetes.io/service-name: big}}\nendpoints:\n");
    for (int i = 0; i < 60; i++) {
        ek_buf_printf(&y, "- {addresses: [10.42.1.%d]}\n", i + 1);
    }
    feed(f->d, y.data);
    ek_buf_free(&y);
    reply_t r;
    /* 60 A records (16 bytes each) do not fit 512: TC, as many as fit, still parseable. */
    ASSERT_EQ(ask(f->d, "big.shop.svc.cluster.local", EK__DNS_T_A, false, 0, &r), EK__DNS_ANSWERED);
    ASSERT_TRUE(r.flags & EK__DNS_F_TC);
    ASSERT_CMP(r.len, <=, 512);
    ASSERT_CMP(r.count[1], <, 60);
    /* EDNS 1232 takes all of them; TCP always does. */
    ask(f->d, "big.shop.svc.cluster.local", EK__DNS_T_A, false, 1232, &r);
    ASSERT_FALSE(r.flags & EK__DNS_F_TC);
    ASSERT_EQ(r.count[1], 60);
    ASSERT_EQ(r.count[3], 1); /* our OPT */
    ask(f->d, "big.shop.svc.cluster.local", EK__DNS_T_A, true, 0, &r);
    ASSERT_FALSE(r.flags & EK__DNS_F_TC);
    ASSERT_EQ(r.count[1], 60);
    /* An EDNS size under 512 means 512 (RFC 6891 6.2.5). */
    ask(f->d, "big.shop.svc.cluster.local", EK__DNS_T_A, false, 100, &r);
    ASSERT_TRUE(r.flags & EK__DNS_F_TC);
    ASSERT_CMP(r.len, >, 400);
    fx_done(f);
}

TEST(dns_bad_objects_and_deletes)
{
    fixture_t *f = cluster();
    ek_error_t *err = NULL;
    json_t *bad = json_pack("{s:s,s:{}}", "kind", "Service", "metadata");
    ASSERT_EQ(ek_dns_object_upsert(f->d, bad, &err), -1);
    ASSERT_EQ(err->status, 400);
    ek_error_clear(&err);
    json_decref(bad);
    /* Wrong types everywhere: ignored, never a crash. */
    feed(f->d, "kind: Service\nmetadata: {name: odd, namespace: shop}\n"
               "spec: {clusterIP: 7, clusterIPs: {a: 1}, ports: [1, {port: x}, {port: 99999}]}\n"
               "---\nkind: EndpointSlice\nmetadata: {name: odd, namespace: shop,"
               " labels: {kubernetes.io/service-name: odd}}\n"
               "endpoints: [1, {addresses: 3}, {addresses: [nope, 10.1.1.1]}]\n"
               "---\nkind: Pod\nmetadata: {name: p, namespace: shop}\nstatus: {podIPs: 5}\n");
    reply_t r;
    ask_ok(f->d, "odd.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NOERROR); /* exists, without a usable cluster IP: NODATA */
    ASSERT_EQ(r.count[1], 0);
    ask_ok(f->d, "10-1-1-1.odd.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an 10-1-1-1.odd.shop.svc.cluster.local. 5 A 10.1.1.1\n");
    /* Deletes: slice, then namespace (its names become NXDOMAIN). */
    json_t *sl = json_pack("{s:{s:s,s:s}}", "metadata", "name", "odd", "namespace", "shop");
    ek_dns_endpointslice_delete(f->d, sl);
    ek_dns_pod_delete(f->d, sl);
    json_decref(sl);
    ask_ok(f->d, "10-1-1-1.odd.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", "shop");
    ek_dns_namespace_delete(f->d, ns);
    json_decref(ns);
    ask_ok(f->d, "web.shop.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    fx_done(f);
}

/* ---- cache ---- */

/* An upstream-style answer for name/type with one A record of ttl (or, when soa_min >= 0, an
 * NXDOMAIN with an SOA of TTL ttl and MINIMUM soa_min). */
static size_t upstream_answer(uint8_t *buf, size_t cap, uint16_t id, const char *name, uint32_t ttl,
                              int soa_min, bool tc)
{
    ek__dns_name_t n, z;
    ek__dns_name_from_text(&n, name);
    ek__dns_name_from_text(&z, "example");
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, buf, cap, cap);
    ek__dns_wr_header(&w, id, EK__DNS_F_QR | EK__DNS_F_RA | EK__DNS_F_RD | (tc ? EK__DNS_F_TC : 0));
    ek__dns_wr_question(&w, n.wire, EK__DNS_T_A, EK__DNS_C_IN);
    if (soa_min < 0) {
        ek__dns_wr_rr_begin(&w, EK__DNS_AN, NULL, EK__DNS_T_A, EK__DNS_C_IN, ttl);
        ek__dns_wr_bytes(&w, "\xc0\x00\x02\x0a", 4);
        ek__dns_wr_rr_end(&w);
    } else {
        ek__dns_wr_rr_begin(&w, EK__DNS_NS, z.wire, EK__DNS_T_SOA, EK__DNS_C_IN, ttl);
        ek__dns_wr_name(&w, z.wire, true);
        ek__dns_wr_name(&w, z.wire, true);
        for (int i = 0; i < 4; i++) {
            ek__dns_wr_u32(&w, 100);
        }
        ek__dns_wr_u32(&w, (uint32_t)soa_min);
        ek__dns_wr_rr_end(&w);
    }
    size_t len = ek__dns_wr_finish(&w, soa_min < 0 ? 0 : EK__DNS_NXDOMAIN, true);
    if (tc) {
        buf[2] |= EK__DNS_F_TC >> 8;
    }
    return len;
}

TEST(dns_cache_ttl_and_expiry)
{
    uint8_t m[512];
    ek__dns_name_t n;
    ek__dns_name_from_text(&n, "a.example");
    size_t len = upstream_answer(m, sizeof(m), 1, "a.example", 20, -1, false);
    ASSERT_EQ(ek__dns_cache_ttl(m, len, 30), 20);
    ASSERT_EQ(ek__dns_cache_ttl(m, len, 10), 10); /* capped */
    ASSERT_EQ(ek__dns_cache_ttl(m, 11, 30), -1);
    ek__dns_cache_t *c = ek__dns_cache_new(100, 1 << 20, 30);
    ek__dns_cache_put(c, n.wire, EK__DNS_T_A, 1, m, len, 20, 1000);
    ek__dns_name_t upper;
    ek__dns_name_from_text(&upper, "A.EXAMPLE");
    ASSERT_NOT_NULL(ek__dns_cache_get(c, upper.wire, EK__DNS_T_A, 1, 20999));
    ASSERT_TRUE(ek__dns_cache_get(c, n.wire, EK__DNS_T_AAAA, 1, 2000) == NULL);
    ASSERT_TRUE(ek__dns_cache_get(c, n.wire, EK__DNS_T_A, 1, 21000) == NULL);
    ASSERT_EQ(ek__dns_cache_count(c), 0);
    /* A hit re-encoded for a client: its id and spelling, TTLs lowered to what is left. */
    ek__dns_cache_put(c, n.wire, EK__DNS_T_A, 1, m, len, 20, 1000);
    const ek__dns_centry_t *e = ek__dns_cache_get(c, n.wire, EK__DNS_T_A, 1, 8000);
    ek__dns_query_t q = { .id = 77, .qname = upper, .qtype = EK__DNS_T_A, .qclass = 1 };
    uint8_t out[512];
    size_t rl = ek__dns_reply_from_upstream(&q, e->msg, e->len,
                                            (uint32_t)((e->expires_ms - 8000 + 999) / 1000), NULL,
                                            0, out, sizeof(out), 512);
    reply_t r;
    decode(out, rl, &r);
    ASSERT_EQ(ek__dns_get16(out), 77);
    ASSERT_EQ(r.count[3], 0); /* the upstream's OPT is not passed on to a non-EDNS client */
    /* The owner is compressed against the question, so it reads as the client spelled it. */
    ASSERT_STREQ(r.text, "an A.EXAMPLE. 13 A 192.0.2.10\n");
    ek__dns_cache_free(c);
}

TEST(dns_cache_negative_and_bounds)
{
    uint8_t m[512];
    size_t len = upstream_answer(m, sizeof(m), 1, "x.example", 300, 7, false);
    ASSERT_EQ(ek__dns_cache_ttl(m, len, 30), 7); /* min(SOA TTL, MINIMUM) */
    len = upstream_answer(m, sizeof(m), 1, "x.example", 3, 60, false);
    ASSERT_EQ(ek__dns_cache_ttl(m, len, 30), 3);
    len = upstream_answer(m, sizeof(m), 1, "x.example", 20, -1, true);
    ASSERT_EQ(ek__dns_cache_ttl(m, len, 30), 0); /* truncated */
    /* NXDOMAIN without an SOA: not cached. */
    uint8_t bare[64];
    memcpy(bare, m, 12);
    ek__dns_put16(bare + 2, EK__DNS_F_QR | EK__DNS_NXDOMAIN);
    ek__dns_put16(bare + 6, 0);
    ek__dns_put16(bare + 10, 0);
    memcpy(bare + 12, "\1x\7example\0\0\1\0\1", 15);
    ASSERT_EQ(ek__dns_cache_ttl(bare, 27, 30), 0);
    ek__dns_put16(bare + 2, EK__DNS_F_QR | EK__DNS_SERVFAIL);
    ASSERT_EQ(ek__dns_cache_ttl(bare, 27, 30), 0);
    /* Bounded: the least recently used entries go. */
    ek__dns_cache_t *c = ek__dns_cache_new(3, 1 << 20, 30);
    ek__dns_name_t names[5];
    for (int i = 0; i < 5; i++) {
        char nm[32];
        snprintf(nm, sizeof(nm), "n%d.example", i);
        ek__dns_name_from_text(&names[i], nm);
        len = upstream_answer(m, sizeof(m), 1, nm, 20, -1, false);
        ek__dns_cache_put(c, names[i].wire, 1, 1, m, len, 20, 0);
        if (i == 2) {
            ASSERT_NOT_NULL(ek__dns_cache_get(c, names[0].wire, 1, 1, 0)); /* n0 is now recent */
        }
    }
    ASSERT_EQ(ek__dns_cache_count(c), 3);
    ASSERT_NOT_NULL(ek__dns_cache_get(c, names[0].wire, 1, 1, 0));
    ASSERT_TRUE(ek__dns_cache_get(c, names[1].wire, 1, 1, 0) == NULL);
    ASSERT_TRUE(ek__dns_cache_get(c, names[2].wire, 1, 1, 0) == NULL);
    ek__dns_cache_free(c);
    c = ek__dns_cache_new(100, 700, 30); /* bytes bound: one entry (~400 bytes) at most */
    ek__dns_cache_put(c, names[0].wire, 1, 1, m, len, 20, 0);
    ek__dns_cache_put(c, names[1].wire, 1, 1, m, len, 20, 0);
    ASSERT_EQ(ek__dns_cache_count(c), 1);
    ek__dns_cache_free(c);
}

TEST(dns_resolv_conf)
{
    ek_autofree char *path = ek_test_path("resolv.conf");
    FILE *fp = fopen(path, "w");
    fprintf(fp, "# comment\nsearch example\nnameserver 192.0.2.1\n  nameserver   ::1\n"
                "nameserver fe80::1%%eth0\nnameserver bogus\noptions ndots:2\n");
    fclose(fp);
    ek_strlist_t l = { 0 };
    ek_error_t *err = NULL;
    ASSERT_OK(ek_dns_resolv_conf(path, &l, &err), &err);
    ASSERT_EQ(l.n, 3);
    ASSERT_STREQ(l.v[0], "192.0.2.1:53");
    ASSERT_STREQ(l.v[1], "[::1]:53");
    ASSERT_STREQ(l.v[2], "[fe80::1]:53");
    ek_strlist_free(&l);
    ASSERT_EQ(ek_dns_resolv_conf("/nonexistent/resolv.conf", &l, &err), -1);
    ek_error_clear(&err);
}

/* ---- the live server: listeners, fake upstreams, clients ---- */

typedef struct upstream_fake {
    uv_udp_t udp;
    uv_tcp_t tcp;
    int port;
    int udp_queries, tcp_queries;
    bool answer;   /* false: a black hole */
    bool truncate; /* UDP answers carry TC; TCP answers are whole */
    uint32_t ttl;
    uint8_t tcp_buf[1024];
    size_t tcp_len;
    uv_tcp_t conn;
    bool conn_open;
    uv_write_t wreq;
    uint8_t wbuf[1024];
} upstream_fake_t;

static void fake_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char mem[65536];
    *b = uv_buf_init(mem, sizeof(mem));
}

/* Answers the query in q with an A record (question copied from the query). */
static size_t fake_reply(upstream_fake_t *u, const uint8_t *q, size_t qlen, bool tc, uint8_t *out)
{
    ek__dns_query_t pq;
    if (ek__dns_parse_query(q, qlen, &pq) != 0) {
        return 0;
    }
    char name[1024];
    ek__dns_name_to_text(pq.qname.wire, name, sizeof(name));
    return upstream_answer(out, 512, pq.id, name, u->ttl, -1, tc);
}

static void fake_udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                          unsigned fl)
{
    upstream_fake_t *u = h->data;
    if (n <= 0 || !a) {
        return;
    }
    u->udp_queries++;
    uint8_t out[512];
    size_t len = u->answer ? fake_reply(u, (uint8_t *)b->base, (size_t)n, u->truncate, out) : 0;
    if (len) {
        uv_buf_t ob = uv_buf_init((char *)out, (unsigned)len);
        uv_udp_try_send(h, &ob, 1, a);
    }
}

static void fake_tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    upstream_fake_t *u = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
        u->conn_open = false;
        return;
    }
    memcpy(u->tcp_buf + u->tcp_len, b->base, (size_t)n);
    u->tcp_len += (size_t)n;
    if (u->tcp_len < 2 || u->tcp_len < 2 + (size_t)ek__dns_get16(u->tcp_buf)) {
        return;
    }
    u->tcp_queries++;
    size_t len = fake_reply(u, u->tcp_buf + 2, ek__dns_get16(u->tcp_buf), false, u->wbuf + 2);
    ek__dns_put16(u->wbuf, (uint16_t)len);
    uv_buf_t ob = uv_buf_init((char *)u->wbuf, (unsigned)len + 2);
    uv_write(&u->wreq, s, &ob, 1, NULL);
    u->tcp_len = 0;
}

static void fake_accept(uv_stream_t *srv, int status)
{
    upstream_fake_t *u = srv->data;
    uv_tcp_init(srv->loop, &u->conn);
    u->conn.data = u;
    uv_accept(srv, (uv_stream_t *)&u->conn);
    u->conn_open = true;
    uv_read_start((uv_stream_t *)&u->conn, fake_alloc, fake_tcp_read);
}

/* UDP and TCP on one free port of 127.0.0.1 (another port when TCP finds the UDP one taken). */
static void fake_start(uv_loop_t *loop, upstream_fake_t *u)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        struct sockaddr_in sa, got;
        int gl = sizeof(got);
        uv_ip4_addr("127.0.0.1", 0, &sa);
        uv_udp_init(loop, &u->udp);
        uv_tcp_init(loop, &u->tcp);
        u->udp.data = u->tcp.data = u;
        ASSERT_EQ(uv_udp_bind(&u->udp, (struct sockaddr *)&sa, 0), 0);
        uv_udp_getsockname(&u->udp, (struct sockaddr *)&got, &gl);
        u->port = ntohs(got.sin_port);
        if (uv_tcp_bind(&u->tcp, (struct sockaddr *)&got, 0) == 0 &&
            uv_listen((uv_stream_t *)&u->tcp, 8, fake_accept) == 0) {
            uv_udp_recv_start(&u->udp, fake_alloc, fake_udp_recv);
            return;
        }
        uv_close((uv_handle_t *)&u->udp, NULL);
        uv_close((uv_handle_t *)&u->tcp, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    ek__test_fail(__FILE__, __LINE__, "no free port pair for the fake upstream");
}

static void fake_stop(upstream_fake_t *u)
{
    uv_close((uv_handle_t *)&u->udp, NULL);
    uv_close((uv_handle_t *)&u->tcp, NULL);
    if (u->conn_open) {
        uv_close((uv_handle_t *)&u->conn, NULL);
    }
}

/* A client on the loop: sends one query over UDP and keeps the reply. */
typedef struct client {
    uv_udp_t udp;
    uint8_t reply[2048];
    size_t len;
    bool done;
} client_t;

static void client_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                        unsigned fl)
{
    client_t *c = h->data;
    if (n > 0 && !c->done) {
        memcpy(c->reply, b->base, (size_t)n);
        c->len = (size_t)n;
        c->done = true;
    }
}

/* Sends a query for name to the server's listener 0, runs the loop until the reply (or
 * timeout_ms), decodes it; returns the milliseconds it took, -1 on timeout. */
static int64_t udp_ask(fixture_t *f, const char *name, uint16_t type, reply_t *r, int timeout_ms)
{
    client_t c = { 0 };
    uv_udp_init(&f->loop, &c.udp);
    c.udp.data = &c;
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", ek_dns_listen_port(f->d, 0), &sa);
    uint8_t q[512];
    size_t ql = make_query(q, sizeof(q), name, type, 0);
    uv_buf_t b = uv_buf_init((char *)q, (unsigned)ql);
    ASSERT_CMP(uv_udp_try_send(&c.udp, &b, 1, (struct sockaddr *)&sa), >, 0);
    uv_udp_recv_start(&c.udp, fake_alloc, client_recv);
    uint64_t start = ek_now_ms();
    while (!c.done && ek_now_ms() - start < (uint64_t)timeout_ms) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!c.done) {
            usleep(1000);
        }
    }
    uint64_t took = ek_now_ms() - start;
    uv_close((uv_handle_t *)&c.udp, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    if (!c.done) {
        return -1;
    }
    decode(c.reply, c.len, r);
    return (int64_t)took;
}

/* The server with one upstream (or none) on f->loop, which the caller initialised (fake
 * upstreams may already run on it), listening on 127.0.0.1 at a free port. */
static void live(fixture_t *f, const char *upstream, uint32_t timeout_ms)
{
    ek_strlist_t ups = { 0 };
    if (upstream) {
        ek_strlist_add(&ups, upstream);
    }
    ek_dns_config_t cfg = { .upstreams = &ups, .upstream_timeout_ms = timeout_ms };
    ek_error_t *err = NULL;
    f->d = ek_dns_new(&f->loop, &cfg, &err);
    ek_strlist_free(&ups);
    ASSERT_OK(f->d ? 0 : -1, &err);
    feed(f->d, objects_yaml);
    ASSERT_OK(ek_dns_listen(f->d, "127.0.0.1:0", &err), &err);
    ASSERT_CMP(ek_dns_listen_port(f->d, 0), >, 0);
}

static const char *fake_addr(const upstream_fake_t *u)
{
    static char up[64];
    snprintf(up, sizeof(up), "127.0.0.1:%d", u->port);
    return up;
}

TEST(dns_live_forward_and_cache)
{
    fixture_t f;
    upstream_fake_t *u = ek_new(upstream_fake_t);
    uv_loop_init(&f.loop);
    fake_start(&f.loop, u);
    u->answer = true;
    u->ttl = 60;
    live(&f, fake_addr(u), 0);
    reply_t r;
    ASSERT_CMP(udp_ask(&f, "www.example", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_EQ(r.rcode, 0);
    ASSERT_FALSE(r.flags & EK__DNS_F_AA);
    ASSERT_STREQ(r.text, "an www.example. 30 A 192.0.2.10\n"); /* TTL capped at 30 */
    ASSERT_EQ(u->udp_queries, 1);
    ASSERT_CMP(udp_ask(&f, "WWW.example", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_STREQ(r.text, "an WWW.example. 30 A 192.0.2.10\n");
    ASSERT_EQ(u->udp_queries, 1); /* from the cache */
    /* Cluster names never go upstream; an ExternalName is chased there. */
    ASSERT_CMP(udp_ask(&f, "web.shop.svc.cluster.local", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_STREQ(r.text, "an web.shop.svc.cluster.local. 5 A 10.43.12.7\n");
    ASSERT_CMP(udp_ask(&f, "ext.shop.svc.cluster.local", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_STREQ(r.text, "an ext.shop.svc.cluster.local. 5 CNAME outside.example.\n"
                         "an outside.example. 30 A 192.0.2.10\n");
    ASSERT_EQ(u->udp_queries, 2);
    /* A truncated upstream answer is fetched again over TCP. */
    u->truncate = true;
    ASSERT_CMP(udp_ask(&f, "big.example", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_FALSE(r.flags & EK__DNS_F_TC);
    ASSERT_STREQ(r.text, "an big.example. 30 A 192.0.2.10\n");
    ASSERT_EQ(u->tcp_queries, 1);
    ek_dns_stats_t st;
    ek_dns_get_stats(f.d, &st);
    ASSERT_EQ(st.cache_hits, 1);
    ASSERT_EQ(st.forwarded, 3);
    ASSERT_EQ(st.pending, 0);
    fake_stop(u);
    fx_done(&f);
    free(u);
}

TEST(dns_live_no_upstream_servfail_fast)
{
    fixture_t f;
    uv_loop_init(&f.loop);
    live(&f, NULL, 0);
    reply_t r;
    int64_t ms = udp_ask(&f, "www.example", EK__DNS_T_A, &r, 2000);
    ASSERT_CMP(ms, >=, 0);
    ASSERT_CMP(ms, <, 250); /* no timeout involved: bounded by scheduling only */
    ASSERT_EQ(r.rcode, EK__DNS_SERVFAIL);
    /* Cluster names still answer. */
    ASSERT_CMP(udp_ask(&f, "web.shop.svc.cluster.local", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_EQ(r.rcode, 0);
    fx_done(&f);
}

TEST(dns_live_refused_upstream_servfail_fast)
{
    /* A port nobody listens on: the ICMP error fails the upstream in one round trip. */
    fixture_t f;
    uv_loop_init(&f.loop);
    upstream_fake_t *gone = ek_new(upstream_fake_t);
    fake_start(&f.loop, gone);
    char up[64];
    snprintf(up, sizeof(up), "%s", fake_addr(gone));
    fake_stop(gone);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    free(gone);
    live(&f, up, 1000);
    reply_t r;
    int64_t ms = udp_ask(&f, "www.example", EK__DNS_T_A, &r, 3000);
    ASSERT_CMP(ms, >=, 0);
    ASSERT_EQ(r.rcode, EK__DNS_SERVFAIL);
    ASSERT_CMP(ms, <, 500); /* well under one timeout */
    fx_done(&f);
}

TEST(dns_live_silent_upstream_servfail_bounded)
{
    /* An upstream that swallows every datagram: SERVFAIL once the tries time out. */
    fixture_t f;
    uv_loop_init(&f.loop);
    upstream_fake_t *hole = ek_new(upstream_fake_t);
    fake_start(&f.loop, hole);
    live(&f, fake_addr(hole), 200);
    reply_t r;
    int64_t ms = udp_ask(&f, "www.example", EK__DNS_T_A, &r, 3000);
    ASSERT_EQ(r.rcode, EK__DNS_SERVFAIL);
    ASSERT_CMP(ms, >=, 350);
    ASSERT_CMP(ms, <, 1500); /* 2 tries x 200 ms, with room for a loaded machine */
    ASSERT_EQ(hole->udp_queries, 2);
    /* The failure is remembered for a few seconds: asking again fails at once, quietly. */
    ms = udp_ask(&f, "www.example", EK__DNS_T_A, &r, 3000);
    ASSERT_EQ(r.rcode, EK__DNS_SERVFAIL);
    ASSERT_CMP(ms, <, 250); /* a fresh failure takes >= 400 ms */
    ASSERT_EQ(hole->udp_queries, 2);
    ASSERT_CMP(udp_ask(&f, "ext.shop.svc.cluster.local", EK__DNS_T_A, &r, 3000), >=, 0);
    ASSERT_STREQ(r.text, "an ext.shop.svc.cluster.local. 5 CNAME outside.example.\n");
    ms = udp_ask(&f, "ext.shop.svc.cluster.local", EK__DNS_T_A, &r, 3000);
    ASSERT_CMP(ms, >=, 0);
    ASSERT_CMP(ms, <, 250);
    ASSERT_STREQ(r.text, "an ext.shop.svc.cluster.local. 5 CNAME outside.example.\n");
    ASSERT_EQ(hole->udp_queries, 4);
    fake_stop(hole);
    fx_done(&f);
    free(hole);
}

/* A TCP client: the same question gets the whole answer, framed. */
typedef struct tcp_client {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uint8_t q[520];
    size_t qlen;
    uint8_t buf[65600];
    size_t len;
    bool done;
} tcp_client_t;

static void tc_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    tcp_client_t *c = h->data;
    *b = uv_buf_init((char *)c->buf + c->len, (unsigned)(sizeof(c->buf) - c->len));
}

static void tc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    tcp_client_t *c = s->data;
    if (n > 0) {
        c->len += (size_t)n;
        c->done = c->len >= 2 && c->len >= 2 + (size_t)ek__dns_get16(c->buf);
    }
}

static void tc_connected(uv_connect_t *req, int status)
{
    tcp_client_t *c = req->data;
    ASSERT_EQ(status, 0);
    uv_buf_t b = uv_buf_init((char *)c->q, (unsigned)c->qlen);
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, NULL);
    uv_read_start((uv_stream_t *)&c->tcp, tc_alloc, tc_read);
}

TEST(dns_live_tcp_full_answer)
{
    fixture_t f;
    uv_loop_init(&f.loop);
    live(&f, NULL, 0);
    ek_buf_t y = EK_BUF_INIT;
    ek_buf_printf(&y, "kind: Service\nmetadata: {name: big, namespace: shop}\n"
                      "spec: {clusterIP: None}\n---\nkind: EndpointSlice\n"
                      "metadata: {name: big-1, namespace: shop,"
                      " labels: {kubernetes.io/service-name: big}}\nendpoints:\n");
    for (int i = 0; i < 200; i++) {
        ek_buf_printf(&y, "- {addresses: [10.42.%d.%d]}\n", i / 100, i % 100 + 1);
    }
    feed(f.d, y.data);
    ek_buf_free(&y);
    reply_t r;
    ASSERT_CMP(udp_ask(&f, "big.shop.svc.cluster.local", EK__DNS_T_A, &r, 2000), >=, 0);
    ASSERT_TRUE(r.flags & EK__DNS_F_TC);
    tcp_client_t *c = ek_new(tcp_client_t);
    uv_tcp_init(&f.loop, &c->tcp);
    c->tcp.data = c->creq.data = c;
    c->qlen = 2 + make_query(c->q + 2, 512, "big.shop.svc.cluster.local", EK__DNS_T_A, 0);
    ek__dns_put16(c->q, (uint16_t)(c->qlen - 2));
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", ek_dns_listen_port(f.d, 0), &sa);
    uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, tc_connected);
    uint64_t start = ek_now_ms();
    while (!c->done && ek_now_ms() - start < 3000) {
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    ASSERT_TRUE(c->done);
    decode(c->buf + 2, ek__dns_get16(c->buf), &r);
    ASSERT_FALSE(r.flags & EK__DNS_F_TC);
    ASSERT_EQ(r.count[1], 200);
    uv_close((uv_handle_t *)&c->tcp, NULL);
    fx_done(&f);
    free(c);
}

TEST(dns_informer_handlers)
{
    fixture_t f;
    fx_init(&f, NULL);
    json_t *ns = json_pack("{s:s,s:{s:s}}", "kind", "Namespace", "metadata", "name", "a");
    json_t *v1 = json_pack("{s:{s:s,s:s},s:{s:s,s:[{s:i}]}}", "metadata", "name", "s", "namespace",
                           "a", "spec", "clusterIP", "10.43.9.1", "ports", "port", 80);
    json_t *v2 = json_pack("{s:{s:s,s:s},s:{s:s,s:[{s:i}]}}", "metadata", "name", "s", "namespace",
                           "a", "spec", "clusterIP", "10.43.9.2", "ports", "port", 80);
    json_t *bad = json_pack("{s:{}}", "metadata");
    ek_dns_namespace_handlers.on_add(ns, f.d);
    ek_dns_service_handlers.on_add(v1, f.d);
    ek_dns_service_handlers.on_add(bad, f.d); /* logged and skipped */
    reply_t r;
    ask_ok(f.d, "s.a.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an s.a.svc.cluster.local. 5 A 10.43.9.1\n");
    ek_dns_service_handlers.on_update(v1, v2, f.d);
    ask_ok(f.d, "s.a.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_STREQ(r.text, "an s.a.svc.cluster.local. 5 A 10.43.9.2\n");
    ek_dns_service_handlers.on_delete(v2, f.d);
    ask_ok(f.d, "s.a.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    ek_dns_namespace_handlers.on_delete(ns, f.d);
    ask_ok(f.d, "a.svc.cluster.local", EK__DNS_T_A, &r);
    ASSERT_EQ(r.rcode, EK__DNS_NXDOMAIN);
    json_decref(ns);
    json_decref(v1);
    json_decref(v2);
    json_decref(bad);
    fx_done(&f);
}

TEST(dns_forwarded_answer_truncated_for_udp)
{
    /* An upstream answer of 40 A records (fetched over TCP) re-encoded for clients. */
    uint8_t m[4096], out[EK__DNS_MSG_MAX];
    ek__dns_name_t n;
    ek__dns_name_from_text(&n, "many.example");
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, m, sizeof(m), sizeof(m));
    ek__dns_wr_header(&w, 1, EK__DNS_F_QR | EK__DNS_F_RA);
    ek__dns_wr_question(&w, n.wire, EK__DNS_T_A, 1);
    for (int i = 0; i < 40; i++) {
        ek__dns_wr_rr_begin(&w, EK__DNS_AN, NULL, EK__DNS_T_A, 1, 60);
        uint8_t a[4] = { 192, 0, 2, (uint8_t)i };
        ek__dns_wr_bytes(&w, a, 4);
        ek__dns_wr_rr_end(&w);
    }
    size_t len = ek__dns_wr_finish(&w, 0, false);
    ek__dns_query_t q = { .id = 9, .qname = n, .qtype = EK__DNS_T_A, .qclass = 1 };
    reply_t r;
    size_t rl = ek__dns_reply_from_upstream(&q, m, len, UINT32_MAX, NULL, 0, out, sizeof(out),
                                            EK__DNS_UDP_PLAIN);
    decode(out, rl, &r);
    ASSERT_TRUE(r.flags & EK__DNS_F_TC);
    ASSERT_CMP(rl, <=, 512);
    ASSERT_EQ(r.count[1], (512 - 12 - 18) / 16); /* whole RRs only */
    q.edns = true;
    q.udp_size = 4096;
    rl = ek__dns_reply_from_upstream(&q, m, len, UINT32_MAX, NULL, 0, out, sizeof(out),
                                     ek__dns_udp_limit(&q));
    decode(out, rl, &r);
    ASSERT_FALSE(r.flags & EK__DNS_F_TC);
    ASSERT_EQ(r.count[1], 40);
    ASSERT_EQ(r.count[3], 1);
}
