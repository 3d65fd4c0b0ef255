/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The rtnetlink handle on libmnl: a socket (opened inside the wanted namespace), requests that
 * wait for their acknowledgement, batches that send many requests per sendmsg, and queries
 * whose answers are collected by a callback. Errors carry the kernel's errno, its extended-ack
 * message when it gives one, and a description of what was attempted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <linux/netlink.h>

#include "net/podnet/podnet-internal.h"

#define RECV_BUF_SIZE (MNL_SOCKET_BUFFER_SIZE > 16384 ? MNL_SOCKET_BUFFER_SIZE : 16384)

static int open_socket(void *arg)
{
    struct mnl_socket **out = arg;
    *out = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    return *out ? 0 : -1;
}

ek_nl_t *ek__nl_wrap(struct mnl_socket *sock, ek_error_t **err)
{
    if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        ek_error_make(err, errno, "bind rtnetlink socket");
        mnl_socket_close(sock);
        return NULL;
    }
    /* Short acknowledgements (no echo of our request), with the kernel's reason when given. */
    int one = 1;
    mnl_socket_setsockopt(sock, NETLINK_CAP_ACK, &one, sizeof(one));
    mnl_socket_setsockopt(sock, NETLINK_EXT_ACK, &one, sizeof(one));
    ek_nl_t *nl = ek_new(ek_nl_t);
    nl->sock = sock;
    nl->portid = mnl_socket_get_portid(sock);
    nl->seq = (uint32_t)getpid() << 8;
    nl->buf = ek_xmalloc(EK_NL_BATCH_LIMIT + EK_NL_MSG_MAX);
    return nl;
}

ek_nl_t *ek_nl_open(int netns_fd, ek_error_t **err)
{
    struct mnl_socket *sock = NULL;
    if (ek_netns_run(netns_fd, open_socket, &sock) < 0) {
        ek_error_make(err, errno, "open rtnetlink socket");
        return NULL;
    }
    return ek__nl_wrap(sock, err);
}

static void drop_descs(ek_nl_t *nl, size_t n)
{
    if (n == 0) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(nl->desc[i]);
    }
    memmove(nl->desc, nl->desc + n, (nl->n_desc - n) * sizeof(*nl->desc));
    nl->n_desc -= n;
}

void ek_nl_close(ek_nl_t *nl)
{
    if (!nl) {
        return;
    }
    if (nl->batch) {
        mnl_nlmsg_batch_stop(nl->batch);
    }
    drop_descs(nl, nl->n_desc);
    free(nl->desc);
    ek_error_free(nl->batch_err);
    mnl_socket_close(nl->sock);
    free(nl->buf);
    free(nl);
}

struct nlmsghdr *ek__nl_msg(ek_nl_t *nl, uint16_t type, uint16_t flags)
{
    void *at = nl->batch ? mnl_nlmsg_batch_current(nl->batch) : nl->buf;
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    /* Changes are acknowledged; gets (RTM_GET*, type % 4 == 2) are answered with data. The
     * flag bits alone cannot tell: NLM_F_DUMP's bits are NLM_F_EXCL's on a change. */
    if ((type & 3) != 2) {
        nlh->nlmsg_flags |= NLM_F_ACK;
    }
    nlh->nlmsg_seq = ++nl->seq;
    return nlh;
}

static const char *extack_msg(const struct nlmsghdr *nlh)
{
    const char *msg = NULL;
    if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) {
        return NULL;
    }
    /* With NETLINK_CAP_ACK the attributes follow the bare nlmsgerr. */
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(struct nlmsgerr))
    {
        if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
            mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
            msg = mnl_attr_get_str(a);
        }
    }
    return msg;
}

/* Records the first failure among the acknowledgements in buf; counts them in *seen. */
static void scan_acks(ek_nl_t *nl, const char *buf, ssize_t len, uint32_t first, uint32_t count,
                      uint32_t *seen, ek_error_t **err)
{
    int left = (int)len;
    for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
        if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_seq - first >= count) {
            continue; /* stale answers of an earlier, failed exchange */
        }
        (*seen)++;
        const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
        if (e->error == 0 || (err && *err)) {
            continue;
        }
        const char *what = nl->desc[nlh->nlmsg_seq - first];
        const char *ext = extack_msg(nlh);
        ek_error_make(err, -e->error, "%s%s%s%s", what, ext ? " (" : "", ext ? ext : "",
                      ext ? ")" : "");
    }
}

/* Hands e to the caller's *err unless it already holds one. Returns -1. */
static int give_error(ek_error_t **err, ek_error_t *e)
{
    if (err && !*err) {
        *err = e;
    } else {
        ek_error_free(e);
    }
    return -1;
}

/* Sends count requests starting at buf and waits for all their acknowledgements. */
static int send_and_ack(ek_nl_t *nl, const void *buf, size_t len, uint32_t count, ek_error_t **err)
{
    uint32_t first = nl->batch ? nl->batch_first_seq : nl->seq;
    if (mnl_socket_sendto(nl->sock, buf, len) < 0) {
        return ek_error_make(err, errno, "%s: send", nl->desc[0]);
    }
    ek_autofree char *rbuf = ek_xmalloc(RECV_BUF_SIZE);
    uint32_t seen = 0;
    ek_error_t *first_err = NULL;
    while (seen < count) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, rbuf, RECV_BUF_SIZE);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            ek_error_free(first_err);
            return ek_error_make(err, errno, "%s: receive acknowledgement", nl->desc[0]);
        }
        scan_acks(nl, rbuf, n, first, count, &seen, &first_err);
    }
    return first_err ? give_error(err, first_err) : 0;
}

static void add_desc(ek_nl_t *nl, char *desc)
{
    if (nl->n_desc == nl->cap_desc) {
        nl->cap_desc = nl->cap_desc ? nl->cap_desc * 2 : 16;
        nl->desc = ek_xrealloc(nl->desc, nl->cap_desc * sizeof(*nl->desc));
    }
    nl->desc[nl->n_desc++] = desc;
}

/* Sends the batch's complete messages (not an overflowed last one) and collects the acks. */
static void batch_flush(ek_nl_t *nl)
{
    size_t size = mnl_nlmsg_batch_size(nl->batch);
    size_t count = nl->n_desc;
    if (!mnl_nlmsg_batch_is_empty(nl->batch) && size > 0) {
        ek_error_t *e = NULL;
        /* The overflowed message (if any) is the last description; it is not sent yet. */
        int left = (int)size;
        count = 0;
        for (const struct nlmsghdr *h = mnl_nlmsg_batch_head(nl->batch); mnl_nlmsg_ok(h, left);
             h = mnl_nlmsg_next(h, &left)) {
            count++;
        }
        if (send_and_ack(nl, mnl_nlmsg_batch_head(nl->batch), size, (uint32_t)count, &e) < 0 &&
            !nl->batch_err) {
            nl->batch_err = e;
        } else {
            ek_error_free(e);
        }
    }
    drop_descs(nl, count);
    nl->batch_first_seq += (uint32_t)count;
    mnl_nlmsg_batch_reset(nl->batch);
}

int ek__nl_send(ek_nl_t *nl, struct nlmsghdr *nlh, ek_error_t **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *desc = NULL;
    if (vasprintf(&desc, fmt, ap) < 0) {
        ek_assert(!"out of memory");
    }
    va_end(ap);
    ek_assert(nlh->nlmsg_len <= EK_NL_MSG_MAX);
    add_desc(nl, desc);
    if (nl->batch) {
        /* Each acknowledgement takes far more receive buffer than its bytes: cap how many
         * are in flight so none is dropped (ENOBUFS). */
        if (!mnl_nlmsg_batch_next(nl->batch) || nl->n_desc >= EK_NL_BATCH_MAX_MSGS) {
            batch_flush(nl);
        }
        return 0;
    }
    int rc = send_and_ack(nl, nlh, nlh->nlmsg_len, 1, err);
    drop_descs(nl, nl->n_desc);
    return rc;
}

void ek_nl_batch_begin(ek_nl_t *nl)
{
    ek_assert(!nl->batch && nl->n_desc == 0);
    nl->batch = mnl_nlmsg_batch_start(nl->buf, EK_NL_BATCH_LIMIT);
    nl->batch_first_seq = nl->seq + 1;
}

int ek_nl_batch_commit(ek_nl_t *nl, ek_error_t **err)
{
    ek_assert(nl->batch);
    batch_flush(nl);
    if (nl->n_desc > 0) {
        batch_flush(nl); /* a message that overflowed into the last flush */
    }
    mnl_nlmsg_batch_stop(nl->batch);
    nl->batch = NULL;
    ek_error_t *e = nl->batch_err;
    nl->batch_err = NULL;
    return e ? give_error(err, e) : 0;
}

int ek__nl_query(ek_nl_t *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *arg, const char *what,
                 ek_error_t **err)
{
    ek_assert(!nl->batch);
    bool dump = (nlh->nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
    uint32_t seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
        return ek_error_make(err, errno, "%s: send", what);
    }
    ek_autofree char *rbuf = ek_xmalloc(RECV_BUF_SIZE);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, rbuf, RECV_BUF_SIZE);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return ek_error_make(err, errno, "%s", what);
        }
        int rc = mnl_cb_run(rbuf, (size_t)n, seq, nl->portid, cb, arg);
        if (rc < 0) {
            return ek_error_make(err, errno, "%s", what);
        }
        if (rc == MNL_CB_STOP || !dump) {
            return 0;
        }
    }
}
