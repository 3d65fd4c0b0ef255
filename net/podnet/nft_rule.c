/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rule building on libnftnl expressions: each helper emits what `nft` would for the syntax
 * in its name (payload/meta loads, bitwise masks, comparisons, lookups, NAT, verdicts), so a
 * rule reads as the nft line it becomes. Loads use the 32-bit registers from NFT_REG32_00 on,
 * one field per register, which is how concatenated set keys are laid out.
 */
#include <arpa/inet.h>
#include <netinet/in.h> /* before the linux/ headers, which then leave its types alone */
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h> /* libnftnl/expr.h uses FILE */
#include <libnftnl/expr.h>

#include "net/podnet/podnet-internal.h"

/* nft's datatype ids (for `nft list` to print keys); concatenations shift 6 bits per field. */
enum {
    TYPE_INTEGER = 4,
    TYPE_IPADDR = 7,
    TYPE_INET_PROTO = 12,
    TYPE_INET_SERVICE = 13,
    TYPE_MARK = 19,
    TYPE_BITS = 6
};

static const struct field_info {
    uint32_t len;
    uint32_t type;
} fields_info[] = {
    [EK_NFT_IP_SADDR] = { 4, TYPE_IPADDR },       [EK_NFT_IP_DADDR] = { 4, TYPE_IPADDR },
    [EK_NFT_L4PROTO] = { 1, TYPE_INET_PROTO },    [EK_NFT_TH_SPORT] = { 2, TYPE_INET_SERVICE },
    [EK_NFT_TH_DPORT] = { 2, TYPE_INET_SERVICE }, [EK_NFT_MARK] = { 4, TYPE_MARK },
    [EK_NFT_NUMGEN] = { 4, TYPE_INTEGER },
};

uint32_t ek__nft_fields_len(const ek_nft_field_t *fields, size_t n)
{
    if (n == 1) {
        return fields_info[fields[0]].len;
    }
    uint32_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (fields_info[fields[i]].len + 3) & ~3u;
    }
    return len;
}

uint32_t ek__nft_fields_type(const ek_nft_field_t *fields, size_t n)
{
    uint32_t type = 0;
    for (size_t i = 0; i < n; i++) {
        type = (type << TYPE_BITS) | fields_info[fields[i]].type;
    }
    return type;
}

int32_t ek__nft_verdict_code(ek_nft_verdict_t v)
{
    switch (v) {
    case EK_NFT_ACCEPT:
        return NF_ACCEPT;
    case EK_NFT_DROP:
        return NF_DROP;
    case EK_NFT_RETURN:
        return NFT_RETURN;
    case EK_NFT_JUMP:
        return NFT_JUMP;
    case EK_NFT_GOTO:
        return NFT_GOTO;
    default:
        ek_assert(!"no verdict");
    }
}

static void key_put(ek_nft_key_t *k, const void *v, uint32_t len)
{
    uint32_t padded = (len + 3) & ~3u;
    ek_assert(k->len + padded <= sizeof(k->data));
    memset(k->data + k->len, 0, padded);
    memcpy(k->data + k->len, v, len);
    if (k->nfields++ == 0) {
        k->first_len = len;
    }
    k->len += padded;
}

void ek_nft_key_ip(ek_nft_key_t *k, struct in_addr a)
{
    key_put(k, &a, 4);
}

void ek_nft_key_proto(ek_nft_key_t *k, uint8_t proto)
{
    key_put(k, &proto, 1);
}

void ek_nft_key_port(ek_nft_key_t *k, uint16_t port)
{
    uint16_t be = htons(port);
    key_put(k, &be, 2);
}

void ek_nft_key_u32(ek_nft_key_t *k, uint32_t v)
{
    key_put(k, &v, 4);
}

void ek__nft_rule_init(ek_nft_rule_t *rule, const char *table, const char *chain)
{
    rule->r = nftnl_rule_alloc();
    nftnl_rule_set_u32(rule->r, NFTNL_RULE_FAMILY, NFPROTO_IPV4);
    nftnl_rule_set_str(rule->r, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(rule->r, NFTNL_RULE_CHAIN, chain);
}

static struct nftnl_expr *expr(ek_nft_rule_t *r, const char *name)
{
    struct nftnl_expr *e = nftnl_expr_alloc(name);
    ek_assert(e);
    nftnl_rule_add_expr(r->r, e);
    return e;
}

static void load_payload(ek_nft_rule_t *r, uint32_t base, uint32_t off, uint32_t len, int reg)
{
    struct nftnl_expr *e = expr(r, "payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, (uint32_t)reg);
}

static void load_meta(ek_nft_rule_t *r, uint32_t key, int reg)
{
    struct nftnl_expr *e = expr(r, "meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, (uint32_t)reg);
}

static void load_field(ek_nft_rule_t *r, ek_nft_field_t f, int reg)
{
    switch (f) {
    case EK_NFT_IP_SADDR:
    case EK_NFT_IP_DADDR:
        load_payload(r, NFT_PAYLOAD_NETWORK_HEADER, f == EK_NFT_IP_SADDR ? 12 : 16, 4, reg);
        break;
    case EK_NFT_TH_SPORT:
    case EK_NFT_TH_DPORT:
        load_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, f == EK_NFT_TH_SPORT ? 0 : 2, 2, reg);
        break;
    case EK_NFT_L4PROTO:
        load_meta(r, NFT_META_L4PROTO, reg);
        break;
    case EK_NFT_MARK:
        load_meta(r, NFT_META_MARK, reg);
        break;
    case EK_NFT_NUMGEN:
        ek_assert(!"numgen is only a map key (ek_nft_stmt_numgen_vmap)");
    }
}

int ek__nft_load_fields(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n)
{
    ek_assert(n >= 1 && ek__nft_fields_len(fields, n) <= 16);
    int reg = NFT_REG32_00;
    for (size_t i = 0; i < n; i++) {
        load_field(r, fields[i], reg);
        reg += (int)((fields_info[fields[i]].len + 3) / 4);
    }
    return NFT_REG32_00;
}

static void cmp(ek_nft_rule_t *r, int reg, uint32_t op, const void *data, uint32_t len)
{
    struct nftnl_expr *e = expr(r, "cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, (uint32_t)reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

/* reg = (reg & mask) ^ xor over len bytes. */
static void bitwise(ek_nft_rule_t *r, int reg, const void *mask, const void * xor, uint32_t len)
{
    struct nftnl_expr *e = expr(r, "bitwise");
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, (uint32_t)reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, (uint32_t)reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xor, len);
}

void ek_nft_match_cidr(ek_nft_rule_t *r, ek_nft_field_t f, struct in_addr net, int prefix,
                       bool negate)
{
    ek_assert(f == EK_NFT_IP_SADDR || f == EK_NFT_IP_DADDR);
    load_field(r, f, NFT_REG32_00);
    uint32_t mask = ek_cidr_mask(prefix), zero = 0;
    if (prefix < 32) {
        bitwise(r, NFT_REG32_00, &mask, &zero, 4);
    }
    uint32_t v = net.s_addr & mask;
    cmp(r, NFT_REG32_00, negate ? NFT_CMP_NEQ : NFT_CMP_EQ, &v, 4);
}

void ek_nft_match_l4proto(ek_nft_rule_t *r, uint8_t proto)
{
    load_meta(r, NFT_META_L4PROTO, NFT_REG32_00);
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &proto, 1);
}

void ek_nft_match_port(ek_nft_rule_t *r, ek_nft_field_t f, uint16_t port)
{
    ek_assert(f == EK_NFT_TH_SPORT || f == EK_NFT_TH_DPORT);
    load_field(r, f, NFT_REG32_00);
    uint16_t be = htons(port);
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &be, 2);
}

void ek_nft_match_mark(ek_nft_rule_t *r, uint32_t bits, bool set)
{
    uint32_t zero = 0;
    load_meta(r, NFT_META_MARK, NFT_REG32_00);
    bitwise(r, NFT_REG32_00, &bits, &zero, 4);
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, set ? &bits : &zero, 4);
}

void ek_nft_match_numgen_zero(ek_nft_rule_t *r, uint32_t mod)
{
    struct nftnl_expr *e = expr(r, "numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, mod);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    uint32_t zero = 0;
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &zero, 4);
}

void ek_nft_match_fib_daddr_local(ek_nft_rule_t *r)
{
    struct nftnl_expr *e = expr(r, "fib");
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG32_00);
    uint32_t local = RTN_LOCAL;
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, 4);
}

void ek_nft_match_fib_saddr_local(ek_nft_rule_t *r)
{
    struct nftnl_expr *e = expr(r, "fib");
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG32_00);
    uint32_t local = RTN_LOCAL;
    cmp(r, NFT_REG32_00, NFT_CMP_EQ, &local, 4);
}

void ek_nft_match_ct_new(ek_nft_rule_t *r)
{
    struct nftnl_expr *e = expr(r, "ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG32_00);
    /* The state is a bitmask of IP_CT_* bits: NEW is bit 3 (nft's NF_CT_STATE_BIT). */
    uint32_t mask = 1u << 3, zero = 0;
    bitwise(r, NFT_REG32_00, &mask, &zero, 4);
    cmp(r, NFT_REG32_00, NFT_CMP_NEQ, &zero, 4);
}

void ek_nft_match_ifname(ek_nft_rule_t *r, bool out, const char *name, bool negate)
{
    char buf[IFNAMSIZ] = { 0 };
    ek_assert(strlen(name) < IFNAMSIZ);
    memcpy(buf, name, strlen(name));
    load_meta(r, out ? NFT_META_OIFNAME : NFT_META_IIFNAME, NFT_REG_1);
    cmp(r, NFT_REG_1, negate ? NFT_CMP_NEQ : NFT_CMP_EQ, buf, IFNAMSIZ);
}

static struct nftnl_expr *lookup(ek_nft_rule_t *r, int sreg, const char *set, bool verdict,
                                 bool negate)
{
    struct nftnl_expr *e = expr(r, "lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, (uint32_t)sreg);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
    if (verdict) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
    }
    if (negate) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
    }
    return e;
}

void ek_nft_match_set(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n, const char *set,
                      bool negate)
{
    lookup(r, ek__nft_load_fields(r, fields, n), set, false, negate);
}

void ek_nft_stmt_set_update(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n,
                            const char *set)
{
    int reg = ek__nft_load_fields(r, fields, n);
    struct nftnl_expr *e = expr(r, "dynset");
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, (uint32_t)reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
}

void ek_nft_stmt_counter(ek_nft_rule_t *r)
{
    expr(r, "counter");
}

/* mark = (mark & mask) ^ xor */
static void mark_update(ek_nft_rule_t *r, uint32_t mask, uint32_t xor)
{
    load_meta(r, NFT_META_MARK, NFT_REG32_00);
    bitwise(r, NFT_REG32_00, &mask, &xor, 4);
    struct nftnl_expr *e = expr(r, "meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, NFT_META_MARK);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG32_00);
}

void ek_nft_stmt_mark_set(ek_nft_rule_t *r, uint32_t bits)
{
    mark_update(r, ~bits, bits);
}

void ek_nft_stmt_mark_clear(ek_nft_rule_t *r, uint32_t bits)
{
    mark_update(r, ~bits, 0);
}

void ek_nft_stmt_masquerade(ek_nft_rule_t *r, bool fully_random)
{
    struct nftnl_expr *e = expr(r, "masq");
    if (fully_random) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_MASQ_FLAGS, NF_NAT_RANGE_PROTO_RANDOM_FULLY);
    }
}

static void immediate(ek_nft_rule_t *r, int reg, const void *data, uint32_t len)
{
    struct nftnl_expr *e = expr(r, "immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, (uint32_t)reg);
    nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
}

void ek_nft_stmt_dnat(ek_nft_rule_t *r, struct in_addr addr, uint16_t port)
{
    immediate(r, NFT_REG32_00, &addr, 4);
    uint16_t be = htons(port);
    if (port) {
        immediate(r, NFT_REG32_01, &be, 2);
    }
    struct nftnl_expr *e = expr(r, "nat");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, NFPROTO_IPV4);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG32_00);
    if (port) {
        nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG32_01);
    }
}

void ek_nft_stmt_vmap(ek_nft_rule_t *r, const ek_nft_field_t *fields, size_t n, const char *map)
{
    lookup(r, ek__nft_load_fields(r, fields, n), map, true, false);
}

void ek_nft_stmt_numgen_vmap(ek_nft_rule_t *r, uint32_t mod, const char *map)
{
    struct nftnl_expr *e = expr(r, "numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, NFT_REG32_00);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, mod);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
    lookup(r, NFT_REG32_00, map, true, false);
}

void ek_nft_stmt_reject(ek_nft_rule_t *r)
{
    struct nftnl_expr *e = expr(r, "reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMP_UNREACH);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 3 /* ICMP port unreachable */);
}

void ek_nft_stmt_reject_tcp_reset(ek_nft_rule_t *r)
{
    struct nftnl_expr *e = expr(r, "reject");
    nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST);
    nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, 0);
}

void ek_nft_stmt_verdict(ek_nft_rule_t *r, ek_nft_verdict_t v, const char *chain)
{
    struct nftnl_expr *e = expr(r, "immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)ek__nft_verdict_code(v));
    if (v == EK_NFT_JUMP || v == EK_NFT_GOTO) {
        ek_assert(chain);
        nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
    }
}
