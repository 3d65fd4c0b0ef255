/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes through the cluster DNS server's message paths.
 *
 * Each input is a DNS message. It goes through the query path as a client's datagram and as a
 * TCP query (parse, answer from a small cluster index or the cache, encode), and through the
 * upstream path as an answer to a fixed question (the cache's TTL rules, the re-encoding for a
 * client, the cache itself). Whatever comes out must be a well-formed message within the
 * client's size limit: the fuzzer checks the encoder as much as the parser.
 */
#include "net/dns/dns-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static ek_dns_t *dns;
static uint8_t out[EK__DNS_MSG_MAX];

static const char *const objects =
    "kind: Namespace\nmetadata: {name: ns}\n---\n"
    "kind: Service\nmetadata: {name: web, namespace: ns}\n"
    "spec: {clusterIP: 10.43.0.7, clusterIPs: [10.43.0.7, 'fd00::7'], ports: [{name: http, "
    "port: 80}, {name: dns, port: 53, protocol: UDP}]}\n---\n"
    "kind: Service\nmetadata: {name: db, namespace: ns}\n"
    "spec: {clusterIP: None, ports: [{name: pg, port: 5432}]}\n---\n"
    "kind: EndpointSlice\nmetadata: {name: db-1, namespace: ns,"
    " labels: {kubernetes.io/service-name: db}}\nports: [{name: pg, port: 5432}]\n"
    "endpoints: [{addresses: [10.42.0.1], hostname: db-0}, {addresses: [10.42.0.2]},"
    " {addresses: [10.42.0.3], conditions: {ready: false}}]\n---\n"
    "kind: Service\nmetadata: {name: ext, namespace: ns}\n"
    "spec: {type: ExternalName, externalName: out.example}\n---\n"
    "kind: Service\nmetadata: {name: alias, namespace: ns}\n"
    "spec: {type: ExternalName, externalName: web.ns.svc.cluster.local}\n---\n"
    "kind: Pod\nmetadata: {name: p, namespace: ns}\nstatus: {podIP: 10.42.0.9}\n";

static void setup(void)
{
    ek_error_t *err = NULL;
    uv_loop_init(&loop);
    ek_strlist_t ns = { 0 };
    ek_strlist_add(&ns, "10.43.0.10");
    ek_dns_config_t cfg = { .ns_ips = &ns };
    dns = ek_dns_new(&loop, &cfg, &err);
    ek_strlist_free(&ns);
    ek_assert(dns);
    json_t *docs = ek_yaml_to_json_docs(objects, strlen(objects), &err);
    ek_assert(docs);
    size_t i;
    json_t *o;
    json_array_foreach (docs, i, o) {
        ek_assert(ek_dns_object_upsert(dns, o, &err) == 0);
    }
    json_decref(docs);
}

/* A message we produced must parse back completely, with counts that match its records. */
static void check_message(const uint8_t *m, size_t len)
{
    ek_assert(len >= EK__DNS_HDR_LEN);
    size_t off = EK__DNS_HDR_LEN;
    unsigned qd = ek__dns_get16(m + 4);
    ek_assert(qd <= 1);
    ek__dns_name_t n;
    for (unsigned i = 0; i < qd; i++) {
        ek_assert(ek__dns_read_name(m, len, &off, &n) == 0 && off + 4 <= len);
        off += 4;
    }
    unsigned rrs = 0;
    for (int s = 1; s < 4; s++) {
        rrs += ek__dns_get16(m + 4 + 2 * s);
    }
    ek__dns_rr_t rr;
    uint8_t scratch[EK__DNS_MSG_MAX];
    for (unsigned i = 0; i < rrs; i++) {
        ek_assert(ek__dns_rr_next(m, len, &off, &rr) == 0);
        ek__dns_wr_t w;
        ek__dns_wr_init(&w, scratch, sizeof(scratch), sizeof(scratch));
        ek_assert(ek__dns_wr_rdata(&w, rr.type, m, len, rr.rdoff, rr.rdlen) == 0);
    }
    ek_assert(off == len);
}

static void query_path(const uint8_t *data, size_t size, bool tcp)
{
    ek__dns_query_t q;
    ek__dns_name_t target;
    int action;
    size_t n = ek__dns_handle(dns, data, size, tcp, out, sizeof(out), &action, &q, &target);
    if (n > 0) {
        check_message(out, n);
        ek_assert(ek__dns_get16(out) == ek__dns_get16(data));
        if (!tcp) {
            ek_assert(n <= (q.edns ? EK__DNS_EDNS_SIZE : EK__DNS_UDP_PLAIN));
        }
    }
    if (action == EK__DNS_CHASE) {
        ek_assert(target.len > 1);
    }
}

static void upstream_path(const uint8_t *data, size_t size)
{
    static const uint8_t name[] = "\3www\7example\0";
    ek__dns_query_t q = { .id = 7, .flags = EK__DNS_F_RD, .qtype = EK__DNS_T_A, .qclass = 1 };
    ek__dns_name_index(&q.qname, name, sizeof(name));
    int ttl = ek__dns_cache_ttl(data, size, 30);
    ek_assert(ttl <= 30);
    /* As the forwarder does: the whole answer is checked first, then encoded per client. */
    size_t n = ek__dns_reply_from_upstream(&q, data, size, UINT32_MAX, NULL, 0, out, sizeof(out),
                                           EK__DNS_MSG_MAX);
    if (n > 0) {
        check_message(out, n);
        n = ek__dns_reply_from_upstream(&q, data, size, UINT32_MAX, NULL, 0, out, sizeof(out),
                                        EK__DNS_UDP_PLAIN);
        ek_assert(n > 0 && n <= EK__DNS_UDP_PLAIN);
        check_message(out, n);
        q.edns = true;
        n = ek__dns_reply_from_upstream(&q, data, size, 3, name, 5, out, sizeof(out),
                                        EK__DNS_EDNS_SIZE);
        ek_assert(n > 0 && n <= EK__DNS_EDNS_SIZE);
        check_message(out, n);
    }
    if (ttl > 0 && n > 0) {
        /* Stored, then served as a hit for the same question. */
        ek__dns_cache_put(dns->cache, name, EK__DNS_T_A, 1, data, size, (uint32_t)ttl, 0);
        const ek__dns_centry_t *e = ek__dns_cache_get(dns->cache, name, EK__DNS_T_A, 1, 1);
        ek_assert(e && e->len == size);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dns) {
        setup();
    }
    query_path(data, size, false);
    query_path(data, size, true);
    upstream_path(data, size);
    return 0;
}
