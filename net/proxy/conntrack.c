/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stale UDP conntrack entries, removed through ctnetlink (NFNL_SUBSYS_CTNETLINK) as
 * `conntrack -D` would, without running it. A UDP "connection" is pinned to the endpoint its
 * first packet was DNATed to, or to no endpoint at all if it began while the service had none;
 * until the entry times out every later datagram follows it, into a pod that is gone. After a
 * sync the worker dumps the IPv4 table once, picks the UDP entries sent to a changed
 * service's addresses whose replies do not come from one of its current endpoints, and
 * deletes them by their original tuple.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <libmnl/libmnl.h>

#include "net/proxy/proxy-internal.h"

typedef struct tuple {
    struct in_addr src, dst;
    uint16_t sport, dport; /* network order, as carried */
    uint8_t proto;
} tuple_t;

typedef struct dump {
    const ct_task_t *tasks;
    size_t n_tasks;
    const struct in_addr *node_ips;
    size_t n_node_ips;
    tuple_t *victims;
    size_t n_victims, cap;
} dump_t;

static int open_sock(void *arg)
{
    *(struct mnl_socket **)arg = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    return *(struct mnl_socket **)arg ? 0 : -1;
}

static struct nlmsghdr *ct_msg(char *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (uint16_t)(NFNL_SUBSYS_CTNETLINK << 8) | type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = seq;
    struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
    nfg->nfgen_family = AF_INET;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    return nlh;
}

/* Index of each attribute of a nest (the kernel's types are small integers). */
static void nest_attrs(const struct nlattr *nest, const struct nlattr **tb, int max)
{
    memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
    const struct nlattr *a;
    mnl_attr_for_each_nested(a, nest)
    {
        int t = mnl_attr_get_type(a);
        if (t <= max) {
            tb[t] = a;
        }
    }
}

static bool parse_tuple(const struct nlattr *nest, tuple_t *t)
{
    const struct nlattr *tb[CTA_TUPLE_MAX + 1], *ip[CTA_IP_MAX + 1], *pr[CTA_PROTO_MAX + 1];
    nest_attrs(nest, tb, CTA_TUPLE_MAX);
    if (!tb[CTA_TUPLE_IP] || !tb[CTA_TUPLE_PROTO]) {
        return false;
    }
    nest_attrs(tb[CTA_TUPLE_IP], ip, CTA_IP_MAX);
    nest_attrs(tb[CTA_TUPLE_PROTO], pr, CTA_PROTO_MAX);
    if (!ip[CTA_IP_V4_SRC] || !ip[CTA_IP_V4_DST] || !pr[CTA_PROTO_NUM]) {
        return false;
    }
    t->src.s_addr = mnl_attr_get_u32(ip[CTA_IP_V4_SRC]);
    t->dst.s_addr = mnl_attr_get_u32(ip[CTA_IP_V4_DST]);
    t->proto = mnl_attr_get_u8(pr[CTA_PROTO_NUM]);
    t->sport = pr[CTA_PROTO_SRC_PORT] ? mnl_attr_get_u16(pr[CTA_PROTO_SRC_PORT]) : 0;
    t->dport = pr[CTA_PROTO_DST_PORT] ? mnl_attr_get_u16(pr[CTA_PROTO_DST_PORT]) : 0;
    return true;
}

static bool is_node_ip(const dump_t *d, struct in_addr a)
{
    if (d->n_node_ips == 0) {
        return true; /* NodePorts answer on every address */
    }
    for (size_t i = 0; i < d->n_node_ips; i++) {
        if (d->node_ips[i].s_addr == a.s_addr) {
            return true;
        }
    }
    return false;
}

/* Whether the entry orig → reply is one a task wants gone. */
static bool stale(const dump_t *d, const tuple_t *orig, const tuple_t *reply)
{
    uint16_t dport = ntohs(orig->dport);
    for (size_t i = 0; i < d->n_tasks; i++) {
        const ct_task_t *t = &d->tasks[i];
        bool to_service = false;
        for (size_t k = 0; k < t->n_addrs && !to_service; k++) {
            const pdest_t *a = &t->addrs[k];
            to_service = a->port == dport && (a->ip.s_addr ? a->ip.s_addr == orig->dst.s_addr
                                                           : is_node_ip(d, orig->dst));
        }
        if (!to_service) {
            continue;
        }
        bool serving = false;
        for (size_t k = 0; k < t->n_keep && !serving; k++) {
            serving =
                t->keep[k].ip.s_addr == reply->src.s_addr && t->keep[k].port == ntohs(reply->sport);
        }
        if (!serving) {
            return true;
        }
    }
    return false;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    dump_t *d = data;
    const struct nlattr *tb[CTA_MAX + 1];
    memset(tb, 0, sizeof(tb));
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
    {
        int t = mnl_attr_get_type(a);
        if (t <= CTA_MAX) {
            tb[t] = a;
        }
    }
    tuple_t orig, reply;
    if (!tb[CTA_TUPLE_ORIG] || !tb[CTA_TUPLE_REPLY] || !parse_tuple(tb[CTA_TUPLE_ORIG], &orig) ||
        !parse_tuple(tb[CTA_TUPLE_REPLY], &reply) || orig.proto != IPPROTO_UDP) {
        return MNL_CB_OK;
    }
    if (stale(d, &orig, &reply)) {
        if (d->n_victims == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->victims = ek_xrealloc(d->victims, d->cap * sizeof(*d->victims));
        }
        d->victims[d->n_victims++] = orig;
    }
    return MNL_CB_OK;
}

/* Reads answers to seq until the dump or the acknowledgement ends. */
static int run(struct mnl_socket *sock, uint32_t seq, mnl_cb_t cb, void *data)
{
    /* Dump parts can exceed a page: room for what the kernel sends at most at once. */
    ek_autofree char *buf = ek_xmalloc(32768);
    uint32_t portid = mnl_socket_get_portid(sock);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(sock, buf, 32768);
        if (n < 0) {
            return -1;
        }
        int rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
        if (rc <= MNL_CB_STOP) {
            return rc;
        }
    }
}

static void put_tuple(struct nlmsghdr *nlh, const tuple_t *t)
{
    struct nlattr *tup = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
    struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
    mnl_attr_put_u32(nlh, CTA_IP_V4_SRC, t->src.s_addr);
    mnl_attr_put_u32(nlh, CTA_IP_V4_DST, t->dst.s_addr);
    mnl_attr_nest_end(nlh, ip);
    struct nlattr *pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
    mnl_attr_put_u8(nlh, CTA_PROTO_NUM, t->proto);
    mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, t->sport);
    mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, t->dport);
    mnl_attr_nest_end(nlh, pr);
    mnl_attr_nest_end(nlh, tup);
}

static int delete_all(struct mnl_socket *sock, const dump_t *d, uint32_t seq, ek_error_t **err)
{
    int deleted = 0;
    char buf[512];
    for (size_t i = 0; i < d->n_victims; i++) {
        struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, ++seq);
        put_tuple(nlh, &d->victims[i]);
        if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0) {
            return ek_error_make(err, errno, "send conntrack delete");
        }
        if (run(sock, seq, NULL, NULL) < 0) {
            if (errno == ENOENT) {
                continue; /* expired meanwhile */
            }
            return ek_error_make(err, errno, "delete conntrack entry");
        }
        deleted++;
    }
    return deleted;
}

int ek__conntrack_cleanup(int netns_fd, const ct_task_t *tasks, size_t n,
                          const struct in_addr *node_ips, size_t n_node_ips, ek_error_t **err)
{
    struct mnl_socket *sock = NULL;
    if (ek_netns_run(netns_fd, open_sock, &sock) < 0 ||
        mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int e = errno;
        if (sock) {
            mnl_socket_close(sock);
        }
        return ek_error_make(err, e, "open conntrack netlink socket");
    }
    dump_t d = { .tasks = tasks, .n_tasks = n, .node_ips = node_ips, .n_node_ips = n_node_ips };
    char buf[256];
    uint32_t seq = (uint32_t)time(NULL);
    struct nlmsghdr *nlh = ct_msg(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, seq);
    int rc;
    if (mnl_socket_sendto(sock, nlh, nlh->nlmsg_len) < 0 || run(sock, seq, dump_cb, &d) < 0) {
        /* No conntrack in this kernel or namespace: nothing can be stale. */
        rc = errno == ENOENT || errno == EOPNOTSUPP ? 0
                                                    : ek_error_make(err, errno, "dump conntrack");
    } else {
        rc = delete_all(sock, &d, seq, err);
    }
    free(d.victims);
    mnl_socket_close(sock);
    return rc;
}
