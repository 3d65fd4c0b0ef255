/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the rules of one Service should be, and the static part of the table, written in a
 * small byte code (proxy-internal.h) that emit.c turns into netlink expressions or nft script
 * text. The byte code doubles as the chain's identity: a chain whose code hashes the same as
 * what the kernel has is left alone.
 *
 * The layout and the decisions are kube-proxy's nftables proxier's (KEP-3866): per service
 * port a cluster-policy chain `service-HASH-ns/name/proto/port` and, for Local policies, a
 * `local-…` chain, each choosing an endpoint chain `endpoint-HASH-ns/name/proto/port__ip/port`
 * with `numgen random` (chained rules, not kube-proxy's anonymous vmap: see policy_chain); an
 * `external-…` chain for NodePorts, externalIPs and load balancer IPs that decides masquerading;
 * verdict-map elements in service-ips / service-nodeports leading to them, or in
 * no-endpoint-services / no-endpoint-nodeports leading to reject (no endpoints) or drop (a Local
 * policy without local endpoints).
 */
#include <arpa/inet.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <linux/netfilter.h>

#include "net/proxy/proxy-internal.h"

const char *const ek__proxy_map_names[MAP_COUNT] = {
    [MAP_SERVICE_IPS] = "service-ips",
    [MAP_SERVICE_NODEPORTS] = "service-nodeports",
    [MAP_NO_ENDPOINT_SERVICES] = "no-endpoint-services",
    [MAP_NO_ENDPOINT_NODEPORTS] = "no-endpoint-nodeports",
    [MAP_FIREWALL_IPS] = "firewall-ips",
    [SET_CLUSTER_IPS] = "cluster-ips",
    [SET_NODEPORT_IPS] = "nodeport-ips",
};

/* ---- the byte code ---- */

void ek__r_op(rules_t *r, uint8_t op)
{
    ek_buf_putc(&r->buf, (char)op);
}

void ek__r_addr(rules_t *r, uint8_t op, struct in_addr a)
{
    ek__r_op(r, op);
    ek_buf_append(&r->buf, &a, 4);
}

void ek__r_net(rules_t *r, uint8_t op, struct in_addr net, int prefix)
{
    ek__r_addr(r, op, net);
    ek_buf_putc(&r->buf, (char)prefix);
}

void ek__r_u8(rules_t *r, uint8_t op, uint8_t v)
{
    ek__r_op(r, op);
    ek_buf_putc(&r->buf, (char)v);
}

void ek__r_proto_dport(rules_t *r, uint8_t proto, uint16_t port)
{
    ek__r_u8(r, OP_PROTO_DPORT, proto);
    ek_buf_append(&r->buf, &port, 2);
}

void ek__r_u32(rules_t *r, uint8_t op, uint32_t v)
{
    ek__r_op(r, op);
    ek_buf_append(&r->buf, &v, 4);
}

static void put_str(rules_t *r, const char *s)
{
    uint16_t len = (uint16_t)strlen(s);
    ek_buf_append(&r->buf, &len, 2);
    ek_buf_append(&r->buf, s, len);
}

void ek__r_str(rules_t *r, uint8_t op, const char *s)
{
    ek__r_op(r, op);
    put_str(r, s);
}

void ek__r_str_u32(rules_t *r, uint8_t op, const char *s, uint32_t v)
{
    ek__r_str(r, op, s);
    ek_buf_append(&r->buf, &v, 4);
}

void ek__r_dnat(rules_t *r, struct in_addr a, uint16_t port)
{
    ek__r_addr(r, OP_DNAT, a);
    ek_buf_append(&r->buf, &port, 2);
}

void ek__r_end(rules_t *r)
{
    ek__r_op(r, OP_END);
    r->n++;
}

uint64_t ek__hash64(const void *data, size_t len)
{
    /* FNV-1a: chains are compared by this hash, and 0 means "empty" */
    uint64_t h = 0xcbf29ce484222325ull;
    const uint8_t *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h ? h : 1;
}

/* One rule: jump CH_MARK_MASQ. */
static void rule_masq(rules_t *r)
{
    ek__r_str(r, OP_JUMP, CH_MARK_MASQ);
    ek__r_end(r);
}

/* ---- names ---- */

char *ek__chain_name(const char *prefix, const char *name)
{
    static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char sum[32];
    mbedtls_sha256_ret((const unsigned char *)name, strlen(name), sum, 0);
    char hash[9];
    /* The first 8 characters of the standard base32 encoding: 40 bits. */
    uint64_t v = 0;
    for (int i = 0; i < 5; i++) {
        v = v << 8 | sum[i];
    }
    for (int i = 0; i < 8; i++) {
        hash[i] = b32[(v >> (35 - 5 * i)) & 31];
    }
    hash[8] = '\0';
    /* kube-proxy keeps the base within 240 characters (nft names hold 255 and the prefixes
     * are at most 16): never reached by valid names, kept for safety. */
    char *base = ek_xasprintf("%s-%s", hash, name);
    if (strlen(base) > 240) {
        memcpy(base + 237, "...", 4);
    }
    char *out = ek_xasprintf("%s%s", prefix, base);
    free(base);
    return out;
}

/* ---- one service port ---- */

/* An endpoint of one service port. */
typedef struct ep {
    struct in_addr ip;
    uint16_t port;
    bool ready, serving, terminating, local;
    bool used; /* by the cluster or the local chain */
    char *chain, *affinity;
} ep_t;

typedef struct port_ctx {
    const ek_proxy_t *p;
    const bucket_t *b;
    const psvc_t *svc;
    const psvc_port_t *sp;
    desired_t *d;
    char *base; /* "ns/name/proto/port" */
    ep_t *eps;
    size_t n_eps;
} port_ctx_t;

static int ep_cmp(const void *a, const void *b)
{
    const ep_t *x = a, *y = b;
    uint32_t ix = ntohl(x->ip.s_addr), iy = ntohl(y->ip.s_addr);
    if (ix != iy) {
        return ix < iy ? -1 : 1;
    }
    return (int)x->port - (int)y->port;
}

/* The endpoints of the port from every slice, deduplicated and sorted (stable chain code). */
static void gather_eps(port_ctx_t *c)
{
    size_t cap = 0;
    for (size_t i = 0; i < c->b->n_slices; i++) {
        cap += c->b->slices[i]->n_eps;
    }
    c->eps = ek_xcalloc(cap + 1, sizeof(*c->eps));
    for (size_t i = 0; i < c->b->n_slices; i++) {
        const pslice_t *s = c->b->slices[i];
        const pslice_port_t *port = NULL;
        for (size_t k = 0; k < s->n_ports && !port; k++) {
            if (strcmp(s->ports[k].name, c->sp->name) == 0 && s->ports[k].proto == c->sp->proto) {
                port = &s->ports[k];
            }
        }
        for (size_t k = 0; port && k < s->n_eps; k++) {
            const pep_t *e = &s->eps[k];
            ep_t *o = &c->eps[c->n_eps++];
            *o = (ep_t){ e->ip,    port->port, e->ready, e->serving, e->terminating,
                         e->local, false,      NULL,     NULL };
        }
    }
    qsort(c->eps, c->n_eps, sizeof(*c->eps), ep_cmp);
    size_t w = 0;
    for (size_t i = 0; i < c->n_eps; i++) {
        if (w == 0 || ep_cmp(&c->eps[w - 1], &c->eps[i]) != 0) {
            c->eps[w++] = c->eps[i];
        }
    }
    c->n_eps = w;
}

static dchain_t *add_chain(desired_t *d, char *name)
{
    d->chains = ek_xrealloc(d->chains, (d->n_chains + 1) * sizeof(*d->chains));
    dchain_t *ch = &d->chains[d->n_chains++];
    memset(ch, 0, sizeof(*ch));
    ch->name = name;
    return ch;
}

static void add_elem(desired_t *d, uint8_t map, struct in_addr ip, uint8_t proto, uint16_t port,
                     ek_nft_verdict_t v, const char *chain)
{
    d->elems = ek_xrealloc(d->elems, (d->n_elems + 1) * sizeof(*d->elems));
    d->elem_chains = ek_xrealloc(d->elem_chains, (d->n_elems + 1) * sizeof(*d->elem_chains));
    d->elems[d->n_elems] = (aelem_t){ .map = map,
                                      .proto = proto,
                                      .port = port,
                                      .ip = ip,
                                      .verdict = (uint8_t)v,
                                      .chain_hash = chain ? ek__hash64(chain, strlen(chain)) : 0 };
    d->elem_chains[d->n_elems] = chain ? ek_xstrdup(chain) : NULL;
    d->n_elems++;
}

/* The policy chain's rules: affinity first (a known client goes to its endpoint), then the
 * random choice. masq_cip: the internal-traffic masquerade rule comes first. */
static void policy_chain(port_ctx_t *c, const char *name, ep_t **eps, size_t n, bool masq)
{
    dchain_t *ch = add_chain(c->d, ek_xstrdup(name));
    rules_t *r = &ch->rules;
    if (masq && c->p->have_cluster_cidr && c->svc->cluster_ip.s_addr) {
        ek__r_addr(r, OP_DADDR, c->svc->cluster_ip);
        ek__r_proto_dport(r, c->sp->proto, c->sp->port);
        ek__r_net(r, OP_SADDR_NOT_NET, c->p->cluster_cidr.net, c->p->cluster_cidr.prefix);
        ek__r_str(r, OP_JUMP, CH_MARK_MASQ);
        ek__r_end(r);
    }
    for (size_t i = 0; c->svc->affinity_s && i < n; i++) {
        ek__r_str_u32(r, OP_SADDR_IN, eps[i]->affinity, c->svc->affinity_s);
        ek__r_str(r, OP_GOTO, eps[i]->chain);
        ek__r_end(r);
    }
    /* Endpoint i of n is taken with probability 1/(n-i) once the ones before it were passed
     * over: 1/n each. kube-proxy writes one `numgen random mod n vmap { ... }` rule instead,
     * but every such anonymous map costs the kernel a walk over the whole transaction when it
     * is bound, which makes a full sync quadratic in the number of services. */
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n) {
            ek__r_u32(r, OP_NUMGEN_ZERO, (uint32_t)(n - i));
        }
        ek__r_str(r, OP_GOTO, eps[i]->chain);
        ek__r_end(r);
    }
}

static void endpoint_chain(port_ctx_t *c, const ep_t *e)
{
    rules_t *r = &add_chain(c->d, ek_xstrdup(e->chain))->rules;
    /* Hairpin: an endpoint reaching its own service must see the reply come from the node. */
    ek__r_addr(r, OP_SADDR, e->ip);
    ek__r_str(r, OP_JUMP, CH_MARK_MASQ);
    ek__r_end(r);
    if (c->svc->affinity_s) {
        ek__r_str_u32(r, OP_UPDATE_SADDR, e->affinity, c->svc->affinity_s);
        ek__r_end(r);
        c->d->sets = ek_xrealloc(c->d->sets, (c->d->n_sets + 1) * sizeof(*c->d->sets));
        c->d->sets[c->d->n_sets++] = (aset_t){ ek_xstrdup(e->affinity), c->svc->affinity_s };
    }
    ek__r_u8(r, OP_PROTO, c->sp->proto);
    ek__r_dnat(r, e->ip, e->port);
    ek__r_end(r);
}

/* The categorised endpoints and the decisions kube-proxy derives from them. */
typedef struct policy {
    ep_t **cluster, **local;
    size_t n_cluster, n_local;
    bool has_eps, has_internal, has_external, accessible, etp_local;
    bool uses_cluster, uses_local;
    char *cluster_chain, *local_chain, *external_chain, *firewall_chain;
} policy_t;

/* Ready endpoints, or serving-and-terminating ones when none is ready (kube-proxy's
 * fallback, so connections drain to pods that are shutting down). */
static size_t pick(port_ctx_t *c, ep_t **out, bool only_local)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_eps; i++) {
        if (c->eps[i].ready && (!only_local || c->eps[i].local)) {
            out[n++] = &c->eps[i];
        }
    }
    for (size_t i = 0; n == 0 && i < c->n_eps; i++) {
        if (c->eps[i].serving && c->eps[i].terminating && (!only_local || c->eps[i].local)) {
            out[n++] = &c->eps[i];
        }
    }
    return n;
}

static void categorize(port_ctx_t *c, policy_t *pol)
{
    const psvc_t *s = c->svc;
    pol->accessible = c->sp->node_port || s->n_lb || s->n_external;
    pol->etp_local = s->etp_local && pol->accessible;
    pol->uses_local = s->itp_local || pol->etp_local;
    /* Also with a Local external policy: pod traffic to external IPs short-circuits to it. */
    pol->uses_cluster = !s->itp_local || pol->accessible;
    pol->cluster = ek_xcalloc(c->n_eps + 1, sizeof(ep_t *));
    pol->local = ek_xcalloc(c->n_eps + 1, sizeof(ep_t *));
    pol->n_cluster = pick(c, pol->cluster, false);
    pol->n_local = pol->uses_local ? pick(c, pol->local, true) : 0;
    if (!pol->uses_cluster) {
        pol->n_cluster = 0;
    }
    pol->has_eps = false;
    for (size_t i = 0; i < c->n_eps; i++) {
        pol->has_eps |= c->eps[i].ready || (c->eps[i].serving && c->eps[i].terminating);
    }
    if (!pol->uses_local) {
        pol->has_eps = pol->n_cluster > 0;
    }
    pol->has_internal = pol->has_eps && !(s->itp_local && pol->n_local == 0);
    pol->has_external = pol->has_eps && !(pol->etp_local && pol->n_local == 0);
    pol->cluster_chain = ek__chain_name("service-", c->base);
    pol->local_chain = ek__chain_name("local-", c->base);
    pol->external_chain = ek__chain_name("external-", c->base);
    pol->firewall_chain = ek__chain_name("firewall-", c->base);
}

static void policy_free(policy_t *pol)
{
    free(pol->cluster);
    free(pol->local);
    free(pol->cluster_chain);
    free(pol->local_chain);
    free(pol->external_chain);
    free(pol->firewall_chain);
}

/* Where external traffic (NodePorts, externalIPs, load balancer IPs) goes first. */
static void external_chain(port_ctx_t *c, const policy_t *pol)
{
    rules_t *r = &add_chain(c->d, ek_xstrdup(pol->external_chain))->rules;
    bool cluster_chain = pol->n_cluster > 0;
    if (!pol->etp_local) {
        rule_masq(r); /* the endpoint may be on another node: replies must come back here */
    } else {
        /* Local policy keeps the client's address, except for traffic from this node or its
         * pods, which behaves as if it had left and come back through a load balancer. */
        if (c->p->have_cluster_cidr && cluster_chain) {
            ek__r_net(r, OP_SADDR_NET, c->p->cluster_cidr.net, c->p->cluster_cidr.prefix);
            ek__r_str(r, OP_GOTO, pol->cluster_chain);
            ek__r_end(r);
        }
        ek__r_op(r, OP_FIB_SADDR_LOCAL);
        ek__r_str(r, OP_JUMP, CH_MARK_MASQ);
        ek__r_end(r);
        if (cluster_chain) {
            ek__r_op(r, OP_FIB_SADDR_LOCAL);
            ek__r_str(r, OP_GOTO, pol->cluster_chain);
            ek__r_end(r);
        }
    }
    if (pol->has_external) {
        ek__r_str(r, OP_GOTO, pol->etp_local ? pol->local_chain : pol->cluster_chain);
        ek__r_end(r);
    }
}

/* loadBalancerSourceRanges: other sources are dropped before DNAT. */
static void firewall_chain(port_ctx_t *c, const policy_t *pol)
{
    rules_t *r = &add_chain(c->d, ek_xstrdup(pol->firewall_chain))->rules;
    for (size_t i = 0; i < c->svc->n_ranges; i++) {
        ek__r_net(r, OP_SADDR_NET, c->svc->source_ranges[i].net, c->svc->source_ranges[i].prefix);
        ek__r_op(r, OP_RETURN);
        ek__r_end(r);
    }
    ek__r_op(r, OP_DROP);
    ek__r_end(r);
}

static void port_elements(port_ctx_t *c, const policy_t *pol)
{
    const psvc_t *s = c->svc;
    const psvc_port_t *sp = c->sp;
    ek_nft_verdict_t vint = pol->has_eps ? EK_NFT_DROP : EK_NFT_GOTO;
    ek_nft_verdict_t vext = vint;
    const char *rej = pol->has_eps ? NULL : CH_REJECT;
    const char *internal = s->itp_local ? pol->local_chain : pol->cluster_chain;
    if (s->cluster_ip.s_addr) {
        if (pol->has_internal) {
            add_elem(c->d, MAP_SERVICE_IPS, s->cluster_ip, sp->proto, sp->port, EK_NFT_GOTO,
                     internal);
        } else {
            add_elem(c->d, MAP_NO_ENDPOINT_SERVICES, s->cluster_ip, sp->proto, sp->port, vint, rej);
        }
    }
    for (size_t k = 0; k < 2; k++) {
        const struct in_addr *ips = k ? s->lb_ips : s->external_ips;
        size_t n = k ? s->n_lb : s->n_external;
        for (size_t i = 0; i < n; i++) {
            if (pol->has_eps) {
                add_elem(c->d, MAP_SERVICE_IPS, ips[i], sp->proto, sp->port, EK_NFT_GOTO,
                         pol->external_chain);
            }
            if (!pol->has_external) {
                add_elem(c->d, MAP_NO_ENDPOINT_SERVICES, ips[i], sp->proto, sp->port, vext, rej);
            }
            if (k && s->n_ranges) {
                add_elem(c->d, MAP_FIREWALL_IPS, ips[i], sp->proto, sp->port, EK_NFT_GOTO,
                         pol->firewall_chain);
            }
        }
    }
    struct in_addr any = { 0 };
    if (sp->node_port && pol->has_eps) {
        add_elem(c->d, MAP_SERVICE_NODEPORTS, any, sp->proto, sp->node_port, EK_NFT_GOTO,
                 pol->external_chain);
    }
    if (sp->node_port && !pol->has_external) {
        add_elem(c->d, MAP_NO_ENDPOINT_NODEPORTS, any, sp->proto, sp->node_port, vext, rej);
    }
}

/* A UDP port's addresses and serving endpoints, for conntrack cleanup after changes. */
static void port_udp(port_ctx_t *c, ep_t **reach, size_t n_reach)
{
    const psvc_t *s = c->svc;
    desired_t *d = c->d;
    d->udp = ek_xrealloc(d->udp, (d->n_udp + 1) * sizeof(*d->udp));
    audp_t *u = &d->udp[d->n_udp++];
    memset(u, 0, sizeof(*u));
    u->name = ek_xstrdup(c->base);
    u->addrs = ek_xcalloc(2 + s->n_external + s->n_lb, sizeof(*u->addrs));
    if (s->cluster_ip.s_addr) {
        u->addrs[u->n_addrs++] = (pdest_t){ s->cluster_ip, c->sp->port };
    }
    for (size_t i = 0; i < s->n_external; i++) {
        u->addrs[u->n_addrs++] = (pdest_t){ s->external_ips[i], c->sp->port };
    }
    for (size_t i = 0; i < s->n_lb; i++) {
        u->addrs[u->n_addrs++] = (pdest_t){ s->lb_ips[i], c->sp->port };
    }
    if (c->sp->node_port) {
        u->addrs[u->n_addrs++] = (pdest_t){ { 0 }, c->sp->node_port };
    }
    u->eps = ek_xcalloc(n_reach + 1, sizeof(*u->eps));
    for (size_t i = 0; i < n_reach; i++) {
        u->eps[u->n_eps++] = (pdest_t){ reach[i]->ip, reach[i]->port };
    }
}

static void port_chains(port_ctx_t *c, const policy_t *pol)
{
    bool internal_local = c->svc->itp_local;
    if (pol->n_cluster) {
        policy_chain(c, pol->cluster_chain, pol->cluster, pol->n_cluster,
                     !internal_local && pol->has_internal);
    }
    if (pol->n_local) {
        policy_chain(c, pol->local_chain, pol->local, pol->n_local,
                     internal_local && pol->has_internal);
    }
    if (pol->has_eps && pol->accessible) {
        external_chain(c, pol);
    }
    if (c->svc->n_lb && c->svc->n_ranges) {
        firewall_chain(c, pol);
    }
}

static void build_port(const ek_proxy_t *p, const bucket_t *b, const psvc_port_t *sp, desired_t *d)
{
    port_ctx_t c = { .p = p, .b = b, .svc = b->svc, .sp = sp, .d = d };
    c.base = ek_xasprintf("%s/%s/%s/%s", b->ns, b->name, ek__proto_name(sp->proto), sp->name);
    gather_eps(&c);
    policy_t pol;
    categorize(&c, &pol);
    for (size_t k = 0; k < pol.n_cluster; k++) {
        pol.cluster[k]->used = true;
    }
    for (size_t k = 0; k < pol.n_local; k++) {
        pol.local[k]->used = true;
    }
    ep_t **reach = ek_xcalloc(c.n_eps + 1, sizeof(*reach));
    size_t n_reach = 0;
    for (size_t i = 0; i < c.n_eps; i++) {
        ep_t *e = &c.eps[i];
        if (!e->used) {
            continue; /* not used by this node's chains: no endpoint chain */
        }
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
        ek_autofree char *n = ek_xasprintf("%s__%s/%u", c.base, ip, e->port);
        e->chain = ek__chain_name("endpoint-", n);
        e->affinity = ek__chain_name("affinity-", n);
        reach[n_reach++] = e;
    }
    port_chains(&c, &pol);
    for (size_t i = 0; i < n_reach; i++) {
        endpoint_chain(&c, reach[i]);
    }
    port_elements(&c, &pol);
    if (sp->proto == IPPROTO_UDP) {
        port_udp(&c, reach, n_reach);
    }
    for (size_t i = 0; i < c.n_eps; i++) {
        free(c.eps[i].chain);
        free(c.eps[i].affinity);
    }
    free(reach);
    free(c.eps);
    free(c.base);
    policy_free(&pol);
}

void ek__desired_build(const ek_proxy_t *p, const bucket_t *b, desired_t *d)
{
    memset(d, 0, sizeof(*d));
    if (!b->svc) {
        return;
    }
    for (size_t i = 0; i < b->svc->n_ports; i++) {
        build_port(p, b, &b->svc->ports[i], d);
    }
    if (b->svc->cluster_ip.s_addr) {
        add_elem(d, SET_CLUSTER_IPS, b->svc->cluster_ip, 0, 0, EK_NFT_NONE, NULL);
    }
}

void ek__desired_free(desired_t *d)
{
    for (size_t i = 0; i < d->n_chains; i++) {
        free(d->chains[i].name);
        ek_buf_free(&d->chains[i].rules.buf);
    }
    free(d->chains);
    for (size_t i = 0; i < d->n_sets; i++) {
        free(d->sets[i].name);
    }
    free(d->sets);
    for (size_t i = 0; i < d->n_elems; i++) {
        free(d->elem_chains[i]);
    }
    free(d->elems);
    free(d->elem_chains);
    for (size_t i = 0; i < d->n_udp; i++) {
        free(d->udp[i].name);
        free(d->udp[i].addrs);
        free(d->udp[i].eps);
    }
    free(d->udp);
    memset(d, 0, sizeof(*d));
}

/* ---- the static part ---- */

static void static_rules(plan_t *pl, const char *chain, rules_t *r)
{
    pop_t *op = ek__plan_op(pl, POP_RULES, chain);
    op->data = ek__plan_bytes(pl, r->buf.data, r->buf.len);
    op->len = (uint32_t)r->buf.len;
    ek_buf_reset(&r->buf);
    r->n = 0;
}

static void base_chain(plan_t *pl, const char *name, const char *type, int hook, int prio)
{
    pop_t *op = ek__plan_op(pl, POP_BASE_CHAIN, name);
    op->data = ek__plan_str(pl, type);
    op->hook = hook;
    op->prio = prio;
}

/* A rule `[ct state new] jump to` in from. */
static void jump_rule(plan_t *pl, rules_t *r, const char *from, const char *to, bool ct_new)
{
    if (ct_new) {
        ek__r_op(r, OP_CT_NEW);
    }
    ek__r_str(r, OP_JUMP, to);
    ek__r_end(r);
    static_rules(pl, from, r);
}

/* Traffic for NodePorts: to the node's addresses, or to any local one but loopback. */
static void nodeport_match(const ek_proxy_t *p, rules_t *r)
{
    if (p->n_node_ips) {
        ek__r_str(r, OP_DADDR_IN, ek__proxy_map_names[SET_NODEPORT_IPS]);
    } else {
        struct in_addr lo = { htonl(0x7f000000) };
        ek__r_op(r, OP_FIB_DADDR_LOCAL);
        ek__r_net(r, OP_DADDR_NOT_NET, lo, 8);
    }
}

static void static_chains(const ek_proxy_t *p, plan_t *pl)
{
    /* Filters see pre-DNAT addresses, so they run just before DNAT (kube-proxy: dstnat - 10);
     * cluster-ips-check runs after it, in forward and (post-DNAT) output. */
    base_chain(pl, "filter-prerouting", "filter", NF_INET_PRE_ROUTING, -110);
    base_chain(pl, "filter-input", "filter", NF_INET_LOCAL_IN, -110);
    base_chain(pl, "filter-forward", "filter", NF_INET_FORWARD, -110);
    base_chain(pl, "filter-output", "filter", NF_INET_LOCAL_OUT, -110);
    base_chain(pl, "filter-output-post-dnat", "filter", NF_INET_LOCAL_OUT, -90);
    base_chain(pl, "nat-prerouting", "nat", NF_INET_PRE_ROUTING, EK_NFT_PRIO_DSTNAT);
    base_chain(pl, "nat-output", "nat", NF_INET_LOCAL_OUT, EK_NFT_PRIO_DSTNAT);
    base_chain(pl, "nat-postrouting", "nat", NF_INET_POST_ROUTING, EK_NFT_PRIO_SRCNAT);
    static const char *const plain[] = { CH_ENDPOINTS, CH_FIREWALL,     CH_CLUSTER_CHECK,
                                         CH_SERVICES,  CH_MASQUERADING, CH_MARK_MASQ,
                                         CH_REJECT };
    for (size_t i = 0; i < EK_ARRAY_SIZE(plain); i++) {
        ek__plan_op(pl, POP_CHAIN_ADD, plain[i]);
    }
    for (int m = 0; m < MAP_COUNT; m++) {
        if (m != SET_NODEPORT_IPS || p->n_node_ips) {
            ek__plan_op(pl, POP_MAP_ADD, ek__proxy_map_names[m])->map = (uint8_t)m;
        }
    }
    for (size_t i = 0; i < p->n_node_ips; i++) {
        pop_t *op = ek__plan_op(pl, POP_ELEM_ADD, NULL);
        op->map = SET_NODEPORT_IPS;
        op->ip = p->node_ips[i];
        op->verdict = EK_NFT_NONE;
    }
}

static void static_dispatch(const ek_proxy_t *p, plan_t *pl, rules_t *r)
{
    const char *const *m = ek__proxy_map_names;
    jump_rule(pl, r, "filter-prerouting", CH_FIREWALL, true);
    jump_rule(pl, r, "filter-input", CH_ENDPOINTS, true);
    jump_rule(pl, r, "filter-forward", CH_ENDPOINTS, true);
    jump_rule(pl, r, "filter-forward", CH_CLUSTER_CHECK, true);
    jump_rule(pl, r, "filter-output", CH_ENDPOINTS, true);
    jump_rule(pl, r, "filter-output", CH_FIREWALL, true);
    jump_rule(pl, r, "filter-output-post-dnat", CH_CLUSTER_CHECK, true);
    jump_rule(pl, r, "nat-prerouting", CH_SERVICES, false);
    jump_rule(pl, r, "nat-output", CH_SERVICES, false);
    jump_rule(pl, r, "nat-postrouting", CH_MASQUERADING, false);
    ek__r_str(r, OP_VMAP_DPP, m[MAP_NO_ENDPOINT_SERVICES]);
    ek__r_end(r);
    nodeport_match(p, r);
    ek__r_str(r, OP_VMAP_PP, m[MAP_NO_ENDPOINT_NODEPORTS]);
    ek__r_end(r);
    static_rules(pl, CH_ENDPOINTS, r);
    ek__r_str(r, OP_VMAP_DPP, m[MAP_FIREWALL_IPS]);
    ek__r_end(r);
    static_rules(pl, CH_FIREWALL, r);
    /* Still addressed to a ClusterIP after DNAT: a port the service does not have. */
    ek__r_str(r, OP_DADDR_IN, m[SET_CLUSTER_IPS]);
    ek__r_str(r, OP_GOTO, CH_REJECT);
    ek__r_end(r);
    if (p->have_service_cidr) {
        ek__r_net(r, OP_DADDR_NET, p->service_cidr.net, p->service_cidr.prefix);
        ek__r_op(r, OP_DROP);
        ek__r_end(r);
    }
    static_rules(pl, CH_CLUSTER_CHECK, r);
    ek__r_str(r, OP_VMAP_DPP, m[MAP_SERVICE_IPS]);
    ek__r_end(r);
    nodeport_match(p, r);
    ek__r_str(r, OP_VMAP_PP, m[MAP_SERVICE_NODEPORTS]);
    ek__r_end(r);
    static_rules(pl, CH_SERVICES, r);
}

void ek__plan_static(const ek_proxy_t *p, plan_t *pl)
{
    /* add + delete + add: replaces whatever a previous run left, in the same transaction. */
    ek__plan_op(pl, POP_TABLE_ADD, NULL);
    ek__plan_op(pl, POP_TABLE_DEL, NULL);
    ek__plan_op(pl, POP_TABLE_ADD, NULL);
    static_chains(p, pl);
    rules_t r = { EK_BUF_INIT, 0 };
    static_dispatch(p, pl, &r);
    /* The pod network marks its own hairpin traffic with 0x2000; this mark is ours alone. */
    ek__r_u32(&r, OP_MARK_UNSET, PROXY_MASQ_MARK);
    ek__r_op(&r, OP_RETURN);
    ek__r_end(&r);
    ek__r_u32(&r, OP_MARK_CLEAR, PROXY_MASQ_MARK);
    ek__r_end(&r);
    ek__r_op(&r, OP_MASQ_RANDOM);
    ek__r_end(&r);
    static_rules(pl, CH_MASQUERADING, &r);
    ek__r_u32(&r, OP_MARK_SET, PROXY_MASQ_MARK);
    ek__r_end(&r);
    static_rules(pl, CH_MARK_MASQ, &r);
    /* TCP gets a reset (refused at once, see ek_nft_stmt_reject_tcp_reset), the rest ICMP
     * port unreachable, as kube-proxy's plain `reject` sends for everything. */
    ek__r_u8(&r, OP_PROTO, IPPROTO_TCP);
    ek__r_op(&r, OP_REJECT_TCP_RESET);
    ek__r_end(&r);
    ek__r_op(&r, OP_REJECT);
    ek__r_end(&r);
    static_rules(pl, CH_REJECT, &r);
    ek_buf_free(&r.buf);
}
