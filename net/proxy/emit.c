/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plans and their two readers. A plan is a flat list of table operations with its strings and
 * rule byte code in one arena, so it can be built on the loop thread and handed whole to a
 * worker. ek__plan_emit turns it into one nftables transaction through the ek_nft_* builders;
 * ek__plan_text writes the same transaction as an nft script, one command per line as
 * kube-proxy feeds `nft -f` (the benchmark's peer, and a readable dump).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <linux/netfilter.h>

#include "net/proxy/proxy-internal.h"

void ek__plan_init(plan_t *pl, const char *table)
{
    memset(pl, 0, sizeof(*pl));
    pl->table = table;
}

void ek__plan_free(plan_t *pl)
{
    ek_buf_free(&pl->arena);
    free(pl->ops);
    for (size_t i = 0; i < pl->n_ct; i++) {
        free(pl->ct[i].addrs);
        free(pl->ct[i].keep);
    }
    free(pl->ct);
    free(pl->node_ips);
    memset(pl, 0, sizeof(*pl));
}

uint32_t ek__plan_bytes(plan_t *pl, const void *data, size_t len)
{
    ek_assert(pl->arena.len + len < UINT32_MAX);
    uint32_t off = (uint32_t)pl->arena.len;
    ek_buf_append(&pl->arena, data, len);
    return off;
}

uint32_t ek__plan_str(plan_t *pl, const char *s)
{
    return ek__plan_bytes(pl, s, strlen(s) + 1);
}

pop_t *ek__plan_op(plan_t *pl, uint8_t kind, const char *name)
{
    if (pl->n_ops == pl->cap_ops) {
        pl->cap_ops = pl->cap_ops ? pl->cap_ops * 2 : 64;
        pl->ops = ek_xrealloc(pl->ops, pl->cap_ops * sizeof(*pl->ops));
    }
    pop_t *op = &pl->ops[pl->n_ops++];
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->name = name ? ek__plan_str(pl, name) : UINT32_MAX;
    return op;
}

const char *ek__plan_name(const plan_t *pl, const pop_t *op)
{
    return op->name == UINT32_MAX ? NULL : pl->arena.data + op->name;
}

/* ---- reading rule byte code ---- */

typedef struct reader {
    const uint8_t *p, *end;
} reader_t;

static uint8_t rd_u8(reader_t *r)
{
    ek_assert(r->p < r->end);
    return *r->p++;
}

static void rd(reader_t *r, void *out, size_t n)
{
    ek_assert(r->p + n <= r->end);
    memcpy(out, r->p, n);
    r->p += n;
}

static struct in_addr rd_addr(reader_t *r)
{
    struct in_addr a;
    rd(r, &a, 4);
    return a;
}

static uint16_t rd_u16(reader_t *r)
{
    uint16_t v;
    rd(r, &v, 2);
    return v;
}

static uint32_t rd_u32(reader_t *r)
{
    uint32_t v;
    rd(r, &v, 4);
    return v;
}

/* A string of the code, copied into buf (names are at most 255 bytes). */
static const char *rd_str(reader_t *r, char *buf, size_t size)
{
    uint16_t len = rd_u16(r);
    ek_assert(len < size && r->p + len <= r->end);
    memcpy(buf, r->p, len);
    buf[len] = '\0';
    r->p += len;
    return buf;
}

uint32_t ek__rules_count(const uint8_t *data, size_t len)
{
    uint32_t n = 0;
    /* OP_END is never an operand's first byte only by accident: walk properly. */
    reader_t r = { data, data + len };
    char name[300];
    while (r.p < r.end) {
        uint8_t op = rd_u8(&r);
        switch (op) {
        case OP_END:
            n++;
            break;
        case OP_SADDR:
        case OP_DADDR:
            rd_addr(&r);
            break;
        case OP_SADDR_NET:
        case OP_SADDR_NOT_NET:
        case OP_DADDR_NET:
        case OP_DADDR_NOT_NET:
            rd_addr(&r);
            rd_u8(&r);
            break;
        case OP_PROTO:
            rd_u8(&r);
            break;
        case OP_PROTO_DPORT:
            rd_u8(&r);
            rd_u16(&r);
            break;
        case OP_MARK_UNSET:
        case OP_MARK_SET:
        case OP_MARK_CLEAR:
        case OP_NUMGEN_ZERO:
            rd_u32(&r);
            break;
        case OP_SADDR_IN:
        case OP_UPDATE_SADDR:
            rd_str(&r, name, sizeof(name));
            rd_u32(&r);
            break;
        case OP_DADDR_IN:
        case OP_JUMP:
        case OP_GOTO:
        case OP_VMAP_DPP:
        case OP_VMAP_PP:
            rd_str(&r, name, sizeof(name));
            break;
        case OP_DNAT:
            rd_addr(&r);
            rd_u16(&r);
            break;
        default:
            break; /* no operands */
        }
    }
    return n;
}

/* ---- into a batch ---- */

static const ek_nft_field_t F_SADDR[] = { EK_NFT_IP_SADDR };
static const ek_nft_field_t F_DADDR[] = { EK_NFT_IP_DADDR };
static const ek_nft_field_t F_DPP[] = { EK_NFT_IP_DADDR, EK_NFT_L4PROTO, EK_NFT_TH_DPORT };
static const ek_nft_field_t F_PP[] = { EK_NFT_L4PROTO, EK_NFT_TH_DPORT };

/* One operation of a rule into r; the strings are read into bufs owned by the caller. */
static void emit_op(ek_nft_rule_t *r, uint8_t op, reader_t *rd_)
{
    char name[300];
    struct in_addr a;
    uint8_t u8;
    switch (op) {
    case OP_SADDR:
    case OP_DADDR:
        a = rd_addr(rd_);
        ek_nft_match_cidr(r, op == OP_SADDR ? EK_NFT_IP_SADDR : EK_NFT_IP_DADDR, a, 32, false);
        break;
    case OP_SADDR_NET:
    case OP_SADDR_NOT_NET:
    case OP_DADDR_NET:
    case OP_DADDR_NOT_NET:
        a = rd_addr(rd_);
        u8 = rd_u8(rd_);
        ek_nft_match_cidr(r, op <= OP_SADDR_NOT_NET ? EK_NFT_IP_SADDR : EK_NFT_IP_DADDR, a, u8,
                          op == OP_SADDR_NOT_NET || op == OP_DADDR_NOT_NET);
        break;
    case OP_PROTO:
        ek_nft_match_l4proto(r, rd_u8(rd_));
        break;
    case OP_PROTO_DPORT:
        ek_nft_match_l4proto(r, rd_u8(rd_));
        ek_nft_match_port(r, EK_NFT_TH_DPORT, rd_u16(rd_));
        break;
    case OP_FIB_SADDR_LOCAL:
        ek_nft_match_fib_saddr_local(r);
        break;
    case OP_FIB_DADDR_LOCAL:
        ek_nft_match_fib_daddr_local(r);
        break;
    case OP_CT_NEW:
        ek_nft_match_ct_new(r);
        break;
    case OP_MARK_UNSET:
        ek_nft_match_mark(r, rd_u32(rd_), false);
        break;
    case OP_SADDR_IN:
        ek_nft_match_set(r, F_SADDR, 1, rd_str(rd_, name, sizeof(name)), false);
        rd_u32(rd_);
        break;
    case OP_DADDR_IN:
        ek_nft_match_set(r, F_DADDR, 1, rd_str(rd_, name, sizeof(name)), false);
        break;
    case OP_UPDATE_SADDR:
        ek_nft_stmt_set_update(r, F_SADDR, 1, rd_str(rd_, name, sizeof(name)));
        rd_u32(rd_);
        break;
    case OP_JUMP:
    case OP_GOTO:
        ek_nft_stmt_verdict(r, op == OP_JUMP ? EK_NFT_JUMP : EK_NFT_GOTO,
                            rd_str(rd_, name, sizeof(name)));
        break;
    case OP_DNAT:
        a = rd_addr(rd_);
        ek_nft_stmt_dnat(r, a, rd_u16(rd_));
        break;
    case OP_NUMGEN_ZERO:
        ek_nft_match_numgen_zero(r, rd_u32(rd_));
        break;
    case OP_VMAP_DPP:
        ek_nft_stmt_vmap(r, F_DPP, 3, rd_str(rd_, name, sizeof(name)));
        break;
    case OP_VMAP_PP:
        ek_nft_stmt_vmap(r, F_PP, 2, rd_str(rd_, name, sizeof(name)));
        break;
    case OP_MARK_SET:
        ek_nft_stmt_mark_set(r, rd_u32(rd_));
        break;
    case OP_MARK_CLEAR:
        ek_nft_stmt_mark_clear(r, rd_u32(rd_));
        break;
    case OP_MASQ_RANDOM:
        ek_nft_stmt_masquerade(r, true);
        break;
    case OP_REJECT:
        ek_nft_stmt_reject(r);
        break;
    case OP_REJECT_TCP_RESET:
        ek_nft_stmt_reject_tcp_reset(r);
        break;
    case OP_DROP:
        ek_nft_stmt_verdict(r, EK_NFT_DROP, NULL);
        break;
    case OP_RETURN:
        ek_nft_stmt_verdict(r, EK_NFT_RETURN, NULL);
        break;
    default:
        ek_assert(!"unknown rule op");
    }
}

static void emit_rules(ek_nft_batch_t *b, const char *table, const char *chain, const uint8_t *data,
                       size_t len)
{
    reader_t rd_ = { data, data + len };
    ek_nft_rule_t *r = NULL;
    while (rd_.p < rd_.end) {
        uint8_t op = rd_u8(&rd_);
        if (op == OP_END) {
            r = NULL;
            continue;
        }
        if (!r) {
            r = ek_nft_rule_add(b, table, chain);
        }
        emit_op(r, op, &rd_);
    }
}

static void elem_key(const pop_t *op, ek_nft_key_t *k)
{
    memset(k, 0, sizeof(*k));
    switch (op->map) {
    case MAP_SERVICE_NODEPORTS:
    case MAP_NO_ENDPOINT_NODEPORTS:
        ek_nft_key_proto(k, op->proto);
        ek_nft_key_port(k, op->port);
        break;
    case SET_CLUSTER_IPS:
    case SET_NODEPORT_IPS:
        ek_nft_key_ip(k, op->ip);
        break;
    default:
        ek_nft_key_ip(k, op->ip);
        ek_nft_key_proto(k, op->proto);
        ek_nft_key_port(k, op->port);
    }
}

/* Consecutive element additions to one map go out together, a few per message. */
static size_t emit_elems(const plan_t *pl, ek_nft_batch_t *b, size_t i)
{
    size_t end = i;
    while (end < pl->n_ops && pl->ops[end].kind == POP_ELEM_ADD &&
           pl->ops[end].map == pl->ops[i].map) {
        end++;
    }
    size_t n = end - i;
    ek_nft_key_t *keys = ek_xcalloc(n, sizeof(*keys));
    ek_nft_verdict_t *v = ek_xcalloc(n, sizeof(*v));
    const char **chains = ek_xcalloc(n, sizeof(*chains));
    for (size_t k = 0; k < n; k++) {
        const pop_t *op = &pl->ops[i + k];
        elem_key(op, &keys[k]);
        v[k] = (ek_nft_verdict_t)op->verdict;
        chains[k] = ek__plan_name(pl, op);
    }
    ek_nft_elems_add(b, pl->table, ek__proxy_map_names[pl->ops[i].map], keys, n, v, chains);
    free(keys);
    free(v);
    free(chains);
    return end;
}

static void emit_map(const plan_t *pl, ek_nft_batch_t *b, const pop_t *op)
{
    const char *name = ek__plan_name(pl, op);
    switch (op->map) {
    case MAP_SERVICE_NODEPORTS:
    case MAP_NO_ENDPOINT_NODEPORTS:
        ek_nft_set_add(b, pl->table, name, F_PP, 2, true);
        break;
    case SET_CLUSTER_IPS:
    case SET_NODEPORT_IPS:
        ek_nft_set_add(b, pl->table, name, F_DADDR, 1, false);
        break;
    default:
        ek_nft_set_add(b, pl->table, name, F_DPP, 3, true);
    }
}

void ek__plan_emit(const plan_t *pl, ek_nft_batch_t *b)
{
    const char *t = pl->table;
    for (size_t i = 0; i < pl->n_ops;) {
        const pop_t *op = &pl->ops[i];
        const char *name = ek__plan_name(pl, op);
        ek_nft_key_t k;
        switch (op->kind) {
        case POP_ELEM_ADD:
            i = emit_elems(pl, b, i);
            continue;
        case POP_TABLE_ADD:
            ek_nft_table_add(b, t);
            break;
        case POP_TABLE_DEL:
            ek_nft_table_del(b, t);
            break;
        case POP_BASE_CHAIN:
            ek_nft_base_chain_add(b, t, name, pl->arena.data + op->data, op->hook, op->prio);
            break;
        case POP_CHAIN_ADD:
            ek_nft_chain_add(b, t, name);
            break;
        case POP_CHAIN_FLUSH:
            ek_nft_chain_flush(b, t, name);
            break;
        case POP_CHAIN_DEL:
            ek_nft_chain_del(b, t, name);
            break;
        case POP_RULES:
            emit_rules(b, t, name, (const uint8_t *)pl->arena.data + op->data, op->len);
            break;
        case POP_MAP_ADD:
            emit_map(pl, b, op);
            break;
        case POP_SET_ADD:
            ek_nft_set_add_timeout(b, t, name, F_SADDR, 1, op->timeout_ms);
            break;
        case POP_SET_DEL:
            ek_nft_set_del(b, t, name);
            break;
        case POP_ELEM_DEL:
            elem_key(op, &k);
            ek_nft_elem_del(b, t, ek__proxy_map_names[op->map], &k);
            break;
        default:
            ek_assert(!"unknown plan op");
        }
        i++;
    }
}

/* ---- as an nft script ---- */

static const char *ipstr(struct in_addr a, char *buf)
{
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static void text_op(ek_buf_t *o, uint8_t op, reader_t *r)
{
    char name[300], ip[INET_ADDRSTRLEN];
    struct in_addr a;
    switch (op) {
    case OP_SADDR:
    case OP_DADDR:
        ek_buf_printf(o, "ip %s %s ", op == OP_SADDR ? "saddr" : "daddr", ipstr(rd_addr(r), ip));
        break;
    case OP_SADDR_NET:
    case OP_SADDR_NOT_NET:
    case OP_DADDR_NET:
    case OP_DADDR_NOT_NET:
        a = rd_addr(r);
        ek_buf_printf(o, "ip %s %s%s/%u ", op <= OP_SADDR_NOT_NET ? "saddr" : "daddr",
                      op == OP_SADDR_NOT_NET || op == OP_DADDR_NOT_NET ? "!= " : "", ipstr(a, ip),
                      rd_u8(r));
        break;
    case OP_PROTO:
        ek_buf_printf(o, "meta l4proto %s ", ek__proto_name(rd_u8(r)));
        break;
    case OP_PROTO_DPORT: {
        const char *proto = ek__proto_name(rd_u8(r));
        ek_buf_printf(o, "%s dport %u ", proto, rd_u16(r));
        break;
    }
    case OP_FIB_SADDR_LOCAL:
    case OP_FIB_DADDR_LOCAL:
        ek_buf_printf(o, "fib %s type local ", op == OP_FIB_SADDR_LOCAL ? "saddr" : "daddr");
        break;
    case OP_CT_NEW:
        ek_buf_puts(o, "ct state new ");
        break;
    case OP_MARK_UNSET:
        ek_buf_printf(o, "meta mark & 0x%08x == 0 ", rd_u32(r));
        break;
    case OP_SADDR_IN:
        ek_buf_printf(o, "ip saddr @%s ", rd_str(r, name, sizeof(name)));
        rd_u32(r);
        break;
    case OP_DADDR_IN:
        ek_buf_printf(o, "ip daddr @%s ", rd_str(r, name, sizeof(name)));
        break;
    case OP_UPDATE_SADDR:
        ek_buf_printf(o, "update @%s { ip saddr } ", rd_str(r, name, sizeof(name)));
        rd_u32(r);
        break;
    case OP_JUMP:
    case OP_GOTO:
        ek_buf_printf(o, "%s %s ", op == OP_JUMP ? "jump" : "goto", rd_str(r, name, sizeof(name)));
        break;
    case OP_DNAT:
        a = rd_addr(r);
        ek_buf_printf(o, "dnat to %s:%u ", ipstr(a, ip), rd_u16(r));
        break;
    case OP_NUMGEN_ZERO:
        ek_buf_printf(o, "numgen random mod %u 0 ", rd_u32(r));
        break;
    case OP_VMAP_DPP:
        ek_buf_printf(o, "ip daddr . meta l4proto . th dport vmap @%s ",
                      rd_str(r, name, sizeof(name)));
        break;
    case OP_VMAP_PP:
        ek_buf_printf(o, "meta l4proto . th dport vmap @%s ", rd_str(r, name, sizeof(name)));
        break;
    case OP_MARK_SET:
        ek_buf_printf(o, "meta mark set meta mark | 0x%08x ", rd_u32(r));
        break;
    case OP_MARK_CLEAR:
        ek_buf_printf(o, "meta mark set meta mark & 0x%08x ", ~rd_u32(r));
        break;
    case OP_MASQ_RANDOM:
        ek_buf_puts(o, "masquerade fully-random ");
        break;
    case OP_REJECT:
        ek_buf_puts(o, "reject ");
        break;
    case OP_REJECT_TCP_RESET:
        ek_buf_puts(o, "reject with tcp reset ");
        break;
    case OP_DROP:
        ek_buf_puts(o, "drop ");
        break;
    case OP_RETURN:
        ek_buf_puts(o, "return ");
        break;
    default:
        ek_assert(!"unknown rule op");
    }
}

static void text_rules(const plan_t *pl, const pop_t *op, ek_buf_t *o)
{
    const uint8_t *data = (const uint8_t *)pl->arena.data + op->data;
    reader_t r = { data, data + op->len };
    bool open = false;
    while (r.p < r.end) {
        uint8_t code = rd_u8(&r);
        if (code == OP_END) {
            if (open) {
                o->data[--o->len] = '\0'; /* the last operation's trailing space */
                ek_buf_putc(o, '\n');
            }
            open = false;
            continue;
        }
        if (!open) {
            ek_buf_printf(o, "add rule ip %s %s ", pl->table, ek__plan_name(pl, op));
            open = true;
        }
        text_op(o, code, &r);
    }
}

static void text_key(const pop_t *op, ek_buf_t *o)
{
    char ip[INET_ADDRSTRLEN];
    switch (op->map) {
    case MAP_SERVICE_NODEPORTS:
    case MAP_NO_ENDPOINT_NODEPORTS:
        ek_buf_printf(o, "%s . %u", ek__proto_name(op->proto), op->port);
        break;
    case SET_CLUSTER_IPS:
    case SET_NODEPORT_IPS:
        ek_buf_puts(o, ipstr(op->ip, ip));
        break;
    default:
        ek_buf_printf(o, "%s . %s . %u", ipstr(op->ip, ip), ek__proto_name(op->proto), op->port);
    }
}

static void text_elem(const plan_t *pl, const pop_t *op, ek_buf_t *o)
{
    ek_buf_printf(o, "%s element ip %s %s { ", op->kind == POP_ELEM_ADD ? "add" : "delete",
                  pl->table, ek__proxy_map_names[op->map]);
    text_key(op, o);
    if (op->kind == POP_ELEM_ADD && op->verdict != EK_NFT_NONE) {
        const char *chain = ek__plan_name(pl, op);
        ek_buf_printf(o, " : %s%s%s",
                      op->verdict == EK_NFT_GOTO   ? "goto"
                      : op->verdict == EK_NFT_JUMP ? "jump"
                                                   : "drop",
                      chain ? " " : "", chain ? chain : "");
    }
    ek_buf_puts(o, " }\n");
}

static const char *hook_name(int hook)
{
    static const char *const names[] = { [NF_INET_PRE_ROUTING] = "prerouting",
                                         [NF_INET_LOCAL_IN] = "input",
                                         [NF_INET_FORWARD] = "forward",
                                         [NF_INET_LOCAL_OUT] = "output",
                                         [NF_INET_POST_ROUTING] = "postrouting" };
    return hook >= 0 && hook < (int)EK_ARRAY_SIZE(names) ? names[hook] : "?";
}

static void text_map(const plan_t *pl, const pop_t *op, ek_buf_t *o)
{
    const char *type = op->map == MAP_SERVICE_NODEPORTS || op->map == MAP_NO_ENDPOINT_NODEPORTS
                           ? "inet_proto . inet_service : verdict"
                       : op->map == SET_CLUSTER_IPS || op->map == SET_NODEPORT_IPS
                           ? "ipv4_addr"
                           : "ipv4_addr . inet_proto . inet_service : verdict";
    bool set = op->map == SET_CLUSTER_IPS || op->map == SET_NODEPORT_IPS;
    ek_buf_printf(o, "add %s ip %s %s { type %s ; }\n", set ? "set" : "map", pl->table,
                  ek__plan_name(pl, op), type);
}

void ek__plan_text(const plan_t *pl, ek_buf_t *o)
{
    const char *t = pl->table;
    for (size_t i = 0; i < pl->n_ops; i++) {
        const pop_t *op = &pl->ops[i];
        const char *name = ek__plan_name(pl, op);
        switch (op->kind) {
        case POP_TABLE_ADD:
        case POP_TABLE_DEL:
            ek_buf_printf(o, "%s table ip %s\n", op->kind == POP_TABLE_ADD ? "add" : "delete", t);
            break;
        case POP_BASE_CHAIN:
            ek_buf_printf(o,
                          "add chain ip %s %s { type %s hook %s priority %d ; policy accept ; }\n",
                          t, name, pl->arena.data + op->data, hook_name(op->hook), op->prio);
            break;
        case POP_CHAIN_ADD:
        case POP_CHAIN_FLUSH:
        case POP_CHAIN_DEL:
            ek_buf_printf(o, "%s chain ip %s %s\n",
                          op->kind == POP_CHAIN_ADD     ? "add"
                          : op->kind == POP_CHAIN_FLUSH ? "flush"
                                                        : "delete",
                          t, name);
            break;
        case POP_RULES:
            text_rules(pl, op, o);
            break;
        case POP_MAP_ADD:
            text_map(pl, op, o);
            break;
        case POP_SET_ADD:
            ek_buf_printf(o,
                          "add set ip %s %s { type ipv4_addr ; flags dynamic,timeout ; "
                          "timeout %llus ; }\n",
                          t, name, (unsigned long long)(op->timeout_ms / 1000));
            break;
        case POP_SET_DEL:
            ek_buf_printf(o, "delete set ip %s %s\n", t, name);
            break;
        case POP_ELEM_ADD:
        case POP_ELEM_DEL:
            text_elem(pl, op, o);
            break;
        }
    }
}
