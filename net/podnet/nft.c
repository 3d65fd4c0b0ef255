/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nftables transactions on libnftnl: a batch collects tables, chains, sets, elements and
 * rules as netlink messages between NFNL_MSG_BATCH_BEGIN and END, and commit sends them in
 * one sendmsg, so the kernel applies all of them or none. Only the named tables are ever
 * touched; there is deliberately no way to flush the whole ruleset from here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <netinet/in.h> /* before the linux/ headers, which then leave its types alone */
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "net/podnet/podnet-internal.h"

#define PAGE_SIZE_BATCH (64 * 1024)
#define PAGE_OVERRUN    (16 * 1024)
#define FAMILY          NFPROTO_IPV4

struct ek_nft_batch {
    struct nftnl_batch *nb;
    uint32_t seq;       /* of the next message */
    uint32_t first_seq; /* of the first message after BEGIN */
    char **desc;        /* what message first_seq + i does */
    size_t n_desc, cap_desc;
    ek_nft_rule_t rule; /* the rule being built, serialised by the next operation */
    uint32_t set_id;
};

static uint32_t seq_base = 1;

static void begin(ek_nft_batch_t *b)
{
    b->seq = __atomic_fetch_add(&seq_base, 1u << 16, __ATOMIC_RELAXED);
    nftnl_batch_begin(nftnl_batch_buffer(b->nb), b->seq++);
    nftnl_batch_update(b->nb);
    b->first_seq = b->seq;
}

ek_nft_batch_t *ek_nft_batch_new(void)
{
    ek_nft_batch_t *b = ek_new(ek_nft_batch_t);
    b->nb = nftnl_batch_alloc(PAGE_SIZE_BATCH, PAGE_OVERRUN);
    ek_assert(b->nb);
    begin(b);
    return b;
}

static void clear_descs(ek_nft_batch_t *b)
{
    for (size_t i = 0; i < b->n_desc; i++) {
        free(b->desc[i]);
    }
    b->n_desc = 0;
}

void ek_nft_batch_free(ek_nft_batch_t *b)
{
    if (!b) {
        return;
    }
    if (b->rule.r) {
        nftnl_rule_free(b->rule.r);
    }
    clear_descs(b);
    free(b->desc);
    nftnl_batch_free(b->nb);
    free(b);
}

size_t ek_nft_batch_len(const ek_nft_batch_t *b)
{
    return b->n_desc + (b->rule.r ? 1 : 0);
}

static void add_desc(ek_nft_batch_t *b, const char *fmt, ...) EK_PRINTF(2, 3);
static void add_desc(ek_nft_batch_t *b, const char *fmt, ...)
{
    if (b->n_desc == b->cap_desc) {
        b->cap_desc = b->cap_desc ? b->cap_desc * 2 : 32;
        b->desc = ek_xrealloc(b->desc, b->cap_desc * sizeof(*b->desc));
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&b->desc[b->n_desc], fmt, ap) < 0) {
        ek_assert(!"out of memory");
    }
    va_end(ap);
    b->n_desc++;
}

static struct nlmsghdr *msg(ek_nft_batch_t *b, uint16_t type, uint16_t flags)
{
    return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(b->nb), type, FAMILY, flags, b->seq++);
}

static void done(ek_nft_batch_t *b)
{
    nftnl_batch_update(b->nb);
}

/* Serialises the rule being built, if any: every other operation calls this first. */
static void flush_rule(ek_nft_batch_t *b)
{
    if (!b->rule.r) {
        return;
    }
    struct nlmsghdr *nlh = msg(b, NFT_MSG_NEWRULE, NLM_F_APPEND | NLM_F_CREATE);
    nftnl_rule_nlmsg_build_payload(nlh, b->rule.r);
    done(b);
    add_desc(b, "add rule ip %s %s", nftnl_rule_get_str(b->rule.r, NFTNL_RULE_TABLE),
             nftnl_rule_get_str(b->rule.r, NFTNL_RULE_CHAIN));
    nftnl_rule_free(b->rule.r);
    b->rule.r = NULL;
}

static void table_op(ek_nft_batch_t *b, const char *table, uint16_t type, uint16_t flags)
{
    flush_rule(b);
    struct nftnl_table *t = nftnl_table_alloc();
    nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, FAMILY);
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
    nftnl_table_nlmsg_build_payload(msg(b, type, flags), t);
    done(b);
    nftnl_table_free(t);
    add_desc(b, "%s table ip %s", type == NFT_MSG_NEWTABLE ? "add" : "delete", table);
}

void ek_nft_table_add(ek_nft_batch_t *b, const char *table)
{
    table_op(b, table, NFT_MSG_NEWTABLE, NLM_F_CREATE);
}

void ek_nft_table_del(ek_nft_batch_t *b, const char *table)
{
    table_op(b, table, NFT_MSG_DELTABLE, 0);
}

static struct nftnl_chain *chain_new(const char *table, const char *chain)
{
    struct nftnl_chain *c = nftnl_chain_alloc();
    nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, FAMILY);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain);
    return c;
}

static void chain_msg(ek_nft_batch_t *b, struct nftnl_chain *c, uint16_t type, uint16_t flags)
{
    nftnl_chain_nlmsg_build_payload(msg(b, type, flags), c);
    done(b);
    nftnl_chain_free(c);
}

void ek_nft_chain_add(ek_nft_batch_t *b, const char *table, const char *chain)
{
    flush_rule(b);
    chain_msg(b, chain_new(table, chain), NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    add_desc(b, "add chain ip %s %s", table, chain);
}

void ek_nft_base_chain_add(ek_nft_batch_t *b, const char *table, const char *chain,
                           const char *type, int hook, int prio)
{
    flush_rule(b);
    struct nftnl_chain *c = chain_new(table, chain);
    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
    nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
    nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    chain_msg(b, c, NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    add_desc(b, "add chain ip %s %s (type %s hook %d priority %d)", table, chain, type, hook, prio);
}

void ek_nft_chain_flush(ek_nft_batch_t *b, const char *table, const char *chain)
{
    flush_rule(b);
    /* A rule deletion naming only the chain removes all of its rules. */
    struct nftnl_rule *r = nftnl_rule_alloc();
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, FAMILY);
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
    nftnl_rule_nlmsg_build_payload(msg(b, NFT_MSG_DELRULE, 0), r);
    done(b);
    nftnl_rule_free(r);
    add_desc(b, "flush chain ip %s %s", table, chain);
}

void ek_nft_chain_del(ek_nft_batch_t *b, const char *table, const char *chain)
{
    flush_rule(b);
    chain_msg(b, chain_new(table, chain), NFT_MSG_DELCHAIN, 0);
    add_desc(b, "delete chain ip %s %s", table, chain);
}

static struct nftnl_set *set_new(const char *table, const char *set)
{
    struct nftnl_set *s = nftnl_set_alloc();
    nftnl_set_set_u32(s, NFTNL_SET_FAMILY, FAMILY);
    nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
    nftnl_set_set_str(s, NFTNL_SET_NAME, set);
    return s;
}

void ek_nft_set_add(ek_nft_batch_t *b, const char *table, const char *set,
                    const ek_nft_field_t *fields, size_t nfields, bool verdict_map)
{
    flush_rule(b);
    struct nftnl_set *s = set_new(table, set);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ek__nft_fields_type(fields, nfields));
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, ek__nft_fields_len(fields, nfields));
    nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
    if (verdict_map) {
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
        nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    }
    nftnl_set_nlmsg_build_payload(msg(b, NFT_MSG_NEWSET, NLM_F_CREATE), s);
    done(b);
    nftnl_set_free(s);
    add_desc(b, "add %s ip %s %s", verdict_map ? "map" : "set", table, set);
}

void ek_nft_set_add_timeout(ek_nft_batch_t *b, const char *table, const char *set,
                            const ek_nft_field_t *fields, size_t nfields, uint64_t timeout_ms)
{
    flush_rule(b);
    struct nftnl_set *s = set_new(table, set);
    nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ek__nft_fields_type(fields, nfields));
    nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, ek__nft_fields_len(fields, nfields));
    nftnl_set_set_u32(s, NFTNL_SET_ID, ++b->set_id);
    /* EVAL ("dynamic"): rules add to it; the kernel would add the flag itself on first use and
     * then refuse a later add of the same set without it. */
    nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_TIMEOUT | NFT_SET_EVAL);
    nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, timeout_ms);
    nftnl_set_nlmsg_build_payload(msg(b, NFT_MSG_NEWSET, NLM_F_CREATE), s);
    done(b);
    nftnl_set_free(s);
    add_desc(b, "add set ip %s %s (timeout %llu ms)", table, set, (unsigned long long)timeout_ms);
}

static void set_msg(ek_nft_batch_t *b, const char *table, const char *set, uint16_t type,
                    const char *what)
{
    flush_rule(b);
    struct nftnl_set *s = set_new(table, set);
    nftnl_set_nlmsg_build_payload(msg(b, type, 0), s);
    done(b);
    nftnl_set_free(s);
    add_desc(b, "%s ip %s %s", what, table, set);
}

void ek_nft_set_del(ek_nft_batch_t *b, const char *table, const char *set)
{
    set_msg(b, table, set, NFT_MSG_DELSET, "delete set");
}

void ek_nft_set_flush(ek_nft_batch_t *b, const char *table, const char *set)
{
    /* Deleting elements without naming any empties the set. */
    set_msg(b, table, set, NFT_MSG_DELSETELEM, "flush set");
}

static void elem_op(ek_nft_batch_t *b, const char *table, const char *set, const ek_nft_key_t *k,
                    ek_nft_verdict_t v, const char *chain, uint16_t type)
{
    flush_rule(b);
    struct nftnl_set *s = set_new(table, set);
    struct nftnl_set_elem *e = nftnl_set_elem_alloc();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->data, k->nfields == 1 ? k->first_len : k->len);
    if (type == NFT_MSG_NEWSETELEM && v != EK_NFT_NONE) {
        nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, (uint32_t)ek__nft_verdict_code(v));
        if (v == EK_NFT_JUMP || v == EK_NFT_GOTO) {
            ek_assert(chain);
            nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
        }
    }
    nftnl_set_elem_add(s, e);
    nftnl_set_elems_nlmsg_build_payload(msg(b, type, type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0),
                                        s);
    done(b);
    nftnl_set_free(s);
    add_desc(b, "%s element ip %s %s%s%s", type == NFT_MSG_NEWSETELEM ? "add" : "delete", table,
             set, chain ? " -> " : "", chain ? chain : "");
}

void ek_nft_elem_add(ek_nft_batch_t *b, const char *table, const char *set, const ek_nft_key_t *k,
                     ek_nft_verdict_t v, const char *chain)
{
    elem_op(b, table, set, k, v, chain, NFT_MSG_NEWSETELEM);
}

void ek_nft_elem_del(ek_nft_batch_t *b, const char *table, const char *set, const ek_nft_key_t *k)
{
    elem_op(b, table, set, k, EK_NFT_NONE, NULL, NFT_MSG_DELSETELEM);
}

/* Elements per message: each must fit the batch page's overrun space. */
#define ELEMS_PER_MSG 64

void ek_nft_elems_add(ek_nft_batch_t *b, const char *table, const char *set,
                      const ek_nft_key_t *keys, size_t n, const ek_nft_verdict_t *v,
                      const char *const *chains)
{
    flush_rule(b);
    for (size_t i = 0; i < n; i += ELEMS_PER_MSG) {
        struct nftnl_set *s = set_new(table, set);
        size_t end = EK_MIN(n, i + ELEMS_PER_MSG);
        for (size_t j = i; j < end; j++) {
            const ek_nft_key_t *k = &keys[j];
            struct nftnl_set_elem *e = nftnl_set_elem_alloc();
            nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->data,
                               k->nfields == 1 ? k->first_len : k->len);
            if (v && v[j] != EK_NFT_NONE) {
                nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
                                       (uint32_t)ek__nft_verdict_code(v[j]));
                if (v[j] == EK_NFT_JUMP || v[j] == EK_NFT_GOTO) {
                    ek_assert(chains && chains[j]);
                    nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chains[j]);
                }
            }
            nftnl_set_elem_add(s, e);
        }
        nftnl_set_elems_nlmsg_build_payload(msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE), s);
        done(b);
        nftnl_set_free(s);
        add_desc(b, "add %zu elements ip %s %s", end - i, table, set);
    }
}

ek_nft_rule_t *ek_nft_rule_add(ek_nft_batch_t *b, const char *table, const char *chain)
{
    flush_rule(b);
    ek__nft_rule_init(&b->rule, table, chain);
    return &b->rule;
}

/* A NETLINK_NETFILTER socket opened inside the namespace. */
static int open_nft_socket(void *arg)
{
    struct mnl_socket **out = arg;
    *out = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    return *out ? 0 : -1;
}

static struct mnl_socket *nft_socket(int netns_fd, ek_error_t **err)
{
    struct mnl_socket *sock = NULL;
    if (ek_netns_run(netns_fd, open_nft_socket, &sock) < 0) {
        ek_error_make(err, errno, "open nftables netlink socket");
        return NULL;
    }
    if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        ek_error_make(err, errno, "bind nftables netlink socket");
        mnl_socket_close(sock);
        return NULL;
    }
    int one = 1;
    mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
    return sock;
}

/* Sends the whole batch in one sendmsg (the kernel's unit of transaction). */
static int send_batch(ek_nft_batch_t *b, struct mnl_socket *sock, ek_error_t **err)
{
    int n = nftnl_batch_iovec_len(b->nb);
    struct iovec *iov = ek_xcalloc((size_t)n, sizeof(*iov));
    nftnl_batch_iovec(b->nb, iov, (uint32_t)n);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        total += iov[i].iov_len;
    }
    /* Large batches (thousands of service elements) need more than the default buffer. */
    int want = (int)EK_MIN(total + 65536, (size_t)INT32_MAX / 2);
    if (total > 128 * 1024) {
        setsockopt(mnl_socket_get_fd(sock), SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want));
    }
    struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
    struct msghdr mh = {
        .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov, .msg_iovlen = (size_t)n
    };
    ssize_t sent = sendmsg(mnl_socket_get_fd(sock), &mh, 0);
    int e = errno;
    free(iov);
    if (sent < 0) {
        return ek_error_make(err, e, "send nftables batch (%zu bytes)", total);
    }
    return 0;
}

/*
 * The kernel handles the batch inside sendmsg, so every error it reports is queued by now:
 * read without blocking until there is nothing left. The first failure in batch order is the
 * cause; later ones are often its consequences.
 */
static int read_errors(ek_nft_batch_t *b, struct mnl_socket *sock, ek_error_t **err)
{
    ek_autofree char *buf = ek_xmalloc(MNL_SOCKET_BUFFER_SIZE);
    uint32_t best = UINT32_MAX;
    int best_errno = 0;
    for (;;) {
        ssize_t n = recv(mnl_socket_get_fd(sock), buf, MNL_SOCKET_BUFFER_SIZE, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == ENOBUFS) {
            /* So many errors that some were dropped: the transaction failed regardless. */
            best_errno = best_errno ? best_errno : ENOBUFS;
            continue;
        }
        if (n < 0) {
            break;
        }
        int left = (int)n;
        for (const struct nlmsghdr *h = (const void *)buf; mnl_nlmsg_ok(h, left);
             h = mnl_nlmsg_next(h, &left)) {
            const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);
            if (h->nlmsg_type == NLMSG_ERROR && e->error && h->nlmsg_seq - b->first_seq < best) {
                best = h->nlmsg_seq - b->first_seq;
                best_errno = -e->error;
            }
        }
    }
    if (best == UINT32_MAX) {
        return best_errno ? ek_error_make(err, best_errno, "nftables batch (errors lost)") : 0;
    }
    const char *what = best < b->n_desc ? b->desc[best] : "nftables batch";
    return ek_error_make(err, best_errno, "%s", what);
}

static void reset(ek_nft_batch_t *b)
{
    if (b->rule.r) {
        nftnl_rule_free(b->rule.r);
        b->rule.r = NULL;
    }
    clear_descs(b);
    nftnl_batch_free(b->nb);
    b->nb = nftnl_batch_alloc(PAGE_SIZE_BATCH, PAGE_OVERRUN);
    ek_assert(b->nb);
    begin(b);
}

/* Sends b on sock (NULL: the socket could not be opened, err is set) and empties b. */
static int commit(ek_nft_batch_t *b, struct mnl_socket *sock, ek_error_t **err)
{
    int rc = -1;
    if (sock) {
        nftnl_batch_end(nftnl_batch_buffer(b->nb), b->seq++);
        nftnl_batch_update(b->nb);
        rc = send_batch(b, sock, err);
        if (rc == 0) {
            rc = read_errors(b, sock, err);
        }
    }
    reset(b);
    return rc;
}

int ek_nft_batch_commit(ek_nft_batch_t *b, int netns_fd, ek_error_t **err)
{
    flush_rule(b);
    if (b->n_desc == 0) {
        reset(b);
        return 0;
    }
    struct mnl_socket *sock = nft_socket(netns_fd, err);
    int rc = commit(b, sock, err);
    if (sock) {
        mnl_socket_close(sock);
    }
    return rc;
}

ek_nft_sock_t *ek_nft_sock_open(int netns_fd, ek_error_t **err)
{
    return (ek_nft_sock_t *)nft_socket(netns_fd, err);
}

void ek_nft_sock_close(ek_nft_sock_t *s)
{
    if (s) {
        mnl_socket_close((struct mnl_socket *)s);
    }
}

int ek_nft_batch_commit_on(ek_nft_batch_t *b, ek_nft_sock_t *s, ek_error_t **err)
{
    flush_rule(b);
    if (b->n_desc == 0) {
        reset(b);
        return 0;
    }
    return commit(b, (struct mnl_socket *)s, err);
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
    *(int *)data = 1;
    return MNL_CB_OK;
}

int ek_nft_table_exists(const char *table, int netns_fd, ek_error_t **err)
{
    struct mnl_socket *sock = nft_socket(netns_fd, err);
    if (!sock) {
        return -1;
    }
    char buf[1024];
    struct nftnl_table *t = nftnl_table_alloc();
    nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
    struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, FAMILY, NLM_F_ACK, 1);
    nftnl_table_nlmsg_build_payload(nlh, t);
    nftnl_table_free(t);
    int found = 0, rc = -1, e = 0;
    ek_autofree char *rbuf = ek_xmalloc(MNL_SOCKET_BUFFER_SIZE);
    if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) >= 0) {
        /* The answer (the table, or ENOENT), then the acknowledgement. */
        do {
            ssize_t n = mnl_socket_recvfrom(sock, rbuf, MNL_SOCKET_BUFFER_SIZE);
            rc = n < 0 ? -1
                       : mnl_cb_run(rbuf, (size_t)n, 1, mnl_socket_get_portid(sock), table_cb,
                                    &found);
        } while (rc == MNL_CB_OK && !found);
    }
    e = errno; /* before anything (a free, a close) may change it */
    mnl_socket_close(sock);
    if (rc < 0 && e == ENOENT) {
        return 0;
    }
    if (rc < 0) {
        return ek_error_make(err, e, "look up table ip %s", table);
    }
    return found;
}

int ek_nft_table_delete(const char *table, int netns_fd, ek_error_t **err)
{
    int exists = ek_nft_table_exists(table, netns_fd, err);
    if (exists <= 0) {
        return exists;
    }
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek_nft_table_del(b, table);
    ek_error_t *e = NULL;
    if (ek_nft_batch_commit(b, netns_fd, &e) < 0) {
        if (e->errnum == ENOENT) { /* gone meanwhile: the outcome wanted */
            ek_error_free(e);
            return 0;
        }
        if (err && !*err) {
            *err = e;
        } else {
            ek_error_free(e);
        }
        return -1;
    }
    return 0;
}
