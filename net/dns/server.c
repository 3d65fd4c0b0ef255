/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster DNS server on the agent's loop: UDP and TCP listeners, the synchronous query
 * path (parse, answer from the index or the cache, encode) and the server's life cycle.
 *
 * Why it looks like this: the common case (a cluster name, or a cached outside name, over
 * UDP) is a share of one recvmmsg, a few microseconds of parsing and encoding into one reply
 * buffer owned by the server, and a share of one sendmmsg: no allocation per query. Only a
 * query that must wait for an upstream allocates (a waiter), and only a reply the kernel
 * cannot take at once is queued as a copy. TCP connections are few (clients retrying after
 * TC) and live at most TCP_IDLE_MS without a query.
 */
#include <arpa/inet.h>
#include <errno.h>

#include "net/dns/dns-internal.h"

#define TCP_IDLE_MS   10000 /* RFC 7766 6.2.3 suggests seconds, not minutes */
#define TCP_MAX_CONNS 256
#define TCP_BACKLOG   128

ek__dns_index_t *ek__dns_index(ek_dns_t *d)
{
    return &d->ix;
}

void ek_dns_get_stats(const ek_dns_t *d, ek_dns_stats_t *st)
{
    *st = d->stats;
    st->cache_entries = ek__dns_cache_count(d->cache);
    st->pending = d->npending;
}

int ek__dns_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss,
                       ek_error_t **err)
{
    char host[INET6_ADDRSTRLEN + 16];
    int port = default_port;
    const char *colon = strrchr(s, ':');
    memset(ss, 0, sizeof(*ss));
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':') || (size_t)(close - s - 1) >= sizeof(host)) {
            return ek_error_make(err, EINVAL, "bad address `%s`", s);
        }
        snprintf(host, sizeof(host), "%.*s", (int)(close - s - 1), s + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else if (colon && strchr(s, ':') == colon) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
    } else {
        snprintf(host, sizeof(host), "%s", s); /* "1.2.3.4" or a bare IPv6 address */
        colon = NULL;
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 0 || p > 65535 || end == colon + 1) {
            return ek_error_make(err, EINVAL, "bad port in `%s`", s);
        }
        port = (int)p;
    }
    char *pct = strchr(host, '%'); /* fe80::1%eth0: the scope is not kept */
    if (pct) {
        *pct = 0;
    }
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return ek_error_make(err, EINVAL, "bad address `%s`", s);
}

/* ---- the query path ---- */

size_t ek__dns_handle(ek_dns_t *d, const uint8_t *msg, size_t len, bool tcp, uint8_t *out,
                      size_t cap, int *action, ek__dns_query_t *q, ek__dns_name_t *target)
{
    *action = EK__DNS_ANSWERED;
    int rc = ek__dns_parse_query(msg, len, q);
    if (rc != 0) {
        d->stats.errors++;
        return rc < 0 ? 0 : ek__dns_error_reply(q, rc, out, cap);
    }
    d->stats.queries++;
    size_t limit = tcp ? cap : EK_MIN(cap, ek__dns_udp_limit(q));
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, out, cap, limit - (q->edns ? EK__DNS_OPT_LEN : 0));
    int a = ek__dns_answer(&d->ix, &d->st, q, &w, target);
    if (a == EK__DNS_ANSWERED) {
        d->stats.cluster++;
        d->stats.truncated += w.truncated;
        return w.len;
    }
    if (q->qtype == EK__DNS_T_AXFR || q->qtype == EK__DNS_T_IXFR) {
        d->stats.errors++;
        return ek__dns_error_reply(q, EK__DNS_REFUSED, out, cap);
    }
    const ek__dns_name_t *qn = a == EK__DNS_CHASE ? target : &q->qname;
    uint64_t now = uv_now(d->loop);
    const ek__dns_centry_t *e = ek__dns_cache_get(d->cache, qn->wire, q->qtype, q->qclass, now);
    if (e && (ek__dns_get16(e->msg + 2) & EK__DNS_F_RCODE) == EK__DNS_SERVFAIL) {
        d->stats.cache_hits++; /* a failure remembered for a few seconds */
        return ek__dns_failure_reply(d, q, a == EK__DNS_CHASE ? target->wire : NULL, tcp, out);
    }
    if (e) {
        uint32_t left = (uint32_t)((e->expires_ms - now + 999) / 1000);
        size_t n = ek__dns_reply_from_upstream(q, e->msg, e->len, left,
                                               a == EK__DNS_CHASE ? target->wire : NULL, d->st.ttl,
                                               out, cap, limit);
        if (n > 0) {
            d->stats.cache_hits++;
            d->stats.truncated += (ek__dns_get16(out + 2) & EK__DNS_F_TC) != 0;
            return n;
        }
    }
    *action = a;
    return 0;
}

/* ---- UDP ---- */

struct udp_req {
    uv_udp_send_t req;
    uint8_t data[];
};

static void udp_sent(uv_udp_send_t *req, int status)
{
    free(ek_container_of(req, struct udp_req, req));
}

void ek__dns_send_udp(ek__dns_listener_t *l, const struct sockaddr *peer, const uint8_t *msg,
                      size_t len)
{
    uv_buf_t b = uv_buf_init((char *)msg, (unsigned)len);
    int r = uv_udp_try_send(&l->udp, &b, 1, peer);
    if (r == UV_EAGAIN || r == UV_ENOSYS) {
        /* The socket buffer is full: the copy waits in libuv's queue. */
        struct udp_req *u = ek_xmalloc(sizeof(*u) + len);
        memcpy(u->data, msg, len);
        b = uv_buf_init((char *)u->data, (unsigned)len);
        if (uv_udp_send(&u->req, &l->udp, &b, 1, peer, udp_sent) < 0) {
            free(u);
        }
    }
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ek__dns_listener_t *l = h->data;
    *buf = uv_buf_init((char *)l->d->rbuf, sizeof(l->d->rbuf));
}

static void dispatch(ek_dns_t *d, ek__dns_waiter_t *w, int action, ek__dns_name_t *target)
{
    if (action == EK__DNS_FORWARD || action == EK__DNS_CHASE) {
        w->chase = action == EK__DNS_CHASE;
        if (w->chase) {
            w->cname = *target;
        }
        ek__dns_forward(d, w, w->chase ? target : NULL);
    }
}

/*
 * Replies to one recvmmsg batch leave together with one sendmmsg when the batch ends (libuv
 * then calls back without an address): half the system calls of a reply per query under load.
 * Sent on the socket directly, beside libuv's send queue: order between UDP replies is not
 * something DNS clients rely on.
 */
static void batch_flush(ek_dns_t *d)
{
    size_t n = d->batch.n;
    ek__dns_listener_t *l = d->batch.l;
    struct mmsghdr msgs[EK__DNS_BATCH];
    struct iovec iov[EK__DNS_BATCH];
    int sent = 0;
    uv_os_fd_t fd;
    d->batch.n = 0;
    if (n == 0) {
        return;
    }
    memset(msgs, 0, sizeof(msgs));
    for (size_t i = 0; i < n; i++) {
        iov[i].iov_base = d->batch.buf[i];
        iov[i].iov_len = d->batch.len[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &d->batch.peer[i];
        msgs[i].msg_hdr.msg_namelen = d->batch.peer[i].ss_family == AF_INET6
                                          ? sizeof(struct sockaddr_in6)
                                          : sizeof(struct sockaddr_in);
    }
    if (uv_fileno((uv_handle_t *)&l->udp, &fd) == 0) {
        sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
    }
    /* What the kernel did not take goes the ordinary way (queued when the buffer is full). */
    for (size_t i = sent > 0 ? (size_t)sent : 0; i < n; i++) {
        ek__dns_send_udp(l, (struct sockaddr *)&d->batch.peer[i], d->batch.buf[i], d->batch.len[i]);
    }
}

static void batch_add(ek_dns_t *d, ek__dns_listener_t *l, const struct sockaddr *peer,
                      const uint8_t *msg, size_t len)
{
    if (d->batch.n > 0 && d->batch.l != l) {
        batch_flush(d);
    }
    size_t i = d->batch.n++;
    d->batch.l = l;
    memcpy(d->batch.buf[i], msg, len);
    d->batch.len[i] = len;
    memcpy(&d->batch.peer[i], peer,
           peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    if (d->batch.n == EK__DNS_BATCH) {
        batch_flush(d);
    }
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags)
{
    ek__dns_listener_t *l = h->data;
    ek_dns_t *d = l->d;
    if (!addr) {
        batch_flush(d); /* the end of a batch (or of a read that found nothing) */
        return;
    }
    if (nread <= 0 || d->closing) {
        return;
    }
    ek__dns_waiter_t w;
    ek__dns_name_t target;
    int action;
    size_t n = ek__dns_handle(d, (const uint8_t *)buf->base, (size_t)nread, false, d->out,
                              sizeof(d->out), &action, &w.q, &target);
    if (n > 0 && (flags & UV_UDP_MMSG_CHUNK) && n <= EK__DNS_EDNS_SIZE) {
        batch_add(d, l, addr, d->out, n);
        return;
    }
    if (n > 0) {
        ek__dns_send_udp(l, addr, d->out, n);
        return;
    }
    w.tcp = false;
    w.l = l;
    w.conn = NULL;
    memcpy(&w.peer, addr,
           addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    dispatch(d, &w, action, &target);
}

/* ---- TCP ---- */

static void conn_closed(uv_handle_t *h)
{
    ek__dns_conn_t *c = h->data;
    ek_dns_t *d = c->d;
    if (--c->handles == 0) {
        free(c->buf);
        free(c);
    }
    ek__dns_handle_gone(d);
}

static void conn_close(ek__dns_conn_t *c)
{
    if (c->closing) {
        return;
    }
    c->closing = true;
    ek__dns_conn_detach(c);
    ek_dns_t *d = c->d;
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        d->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    d->nconns--;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    uv_close((uv_handle_t *)&c->idle, conn_closed);
}

struct tcp_req {
    uv_write_t req;
    size_t len;
    uint8_t data[];
};

static void tcp_written(uv_write_t *req, int status)
{
    free(ek_container_of(req, struct tcp_req, req));
}

void ek__dns_conn_send(ek__dns_conn_t *c, const uint8_t *msg, size_t len)
{
    if (c->closing) {
        return;
    }
    uint8_t pre[2];
    ek__dns_put16(pre, (uint16_t)len);
    uv_buf_t bufs[2] = { uv_buf_init((char *)pre, 2), uv_buf_init((char *)msg, (unsigned)len) };
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, 2);
    size_t done = r > 0 ? (size_t)r : 0;
    if (r < 0 && r != UV_EAGAIN) {
        conn_close(c);
        return;
    }
    if (done == len + 2) {
        return;
    }
    /* What the kernel did not take (or all of it behind queued writes) is copied. */
    struct tcp_req *t = ek_xmalloc(sizeof(*t) + len + 2);
    memcpy(t->data, pre, 2);
    memcpy(t->data + 2, msg, len);
    t->len = len + 2 - done;
    uv_buf_t b = uv_buf_init((char *)t->data + done, (unsigned)t->len);
    if (uv_write(&t->req, (uv_stream_t *)&c->tcp, &b, 1, tcp_written) < 0) {
        free(t);
        conn_close(c);
    }
}

void ek__dns_send(ek_dns_t *d, ek__dns_waiter_t *w, const uint8_t *msg, size_t len)
{
    if (w->tcp) {
        if (w->conn) {
            ek__dns_conn_send(w->conn, msg, len);
        }
        return;
    }
    ek__dns_send_udp(w->l, (const struct sockaddr *)&w->peer, msg, len);
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ek__dns_conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->d->rbuf, sizeof(c->d->rbuf));
}

static void conn_query(ek__dns_conn_t *c, const uint8_t *msg, size_t len)
{
    ek_dns_t *d = c->d;
    ek__dns_waiter_t w;
    ek__dns_name_t target;
    int action;
    size_t n = ek__dns_handle(d, msg, len, true, d->out, EK__DNS_MSG_MAX, &action, &w.q, &target);
    if (n > 0) {
        ek__dns_conn_send(c, d->out, n);
        return;
    }
    w.tcp = true;
    w.l = NULL;
    w.conn = c;
    dispatch(d, &w, action, &target);
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ek__dns_conn_t *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (c->len + (size_t)nread > c->cap) {
        c->cap = EK_MAX(c->len + (size_t)nread, c->cap * 2);
        c->buf = ek_xrealloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, buf->base, (size_t)nread);
    c->len += (size_t)nread;
    size_t off = 0;
    while (!c->closing && c->len - off >= 2) {
        size_t mlen = ek__dns_get16(c->buf + off);
        if (c->len - off < 2 + mlen) {
            break;
        }
        conn_query(c, c->buf + off + 2, mlen);
        off += 2 + mlen;
    }
    if (c->closing) {
        return;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    uv_timer_again(&c->idle);
}

static void conn_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void tcp_accept(uv_stream_t *server, int status)
{
    ek__dns_listener_t *l = server->data;
    ek_dns_t *d = l->d;
    if (status < 0 || d->closing) {
        return;
    }
    ek__dns_conn_t *c = ek_new(ek__dns_conn_t);
    c->d = d;
    uv_tcp_init(d->loop, &c->tcp);
    uv_timer_init(d->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->handles = 2;
    d->handles += 2;
    c->next = d->conns;
    if (d->conns) {
        d->conns->prev = c;
    }
    d->conns = c;
    d->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0 || d->nconns > TCP_MAX_CONNS) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_timer_start(&c->idle, conn_idle, TCP_IDLE_MS, TCP_IDLE_MS);
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

/* ---- life cycle ---- */

static void free_server(ek_dns_t *d)
{
    void (*done)(void *) = d->done;
    void *data = d->done_data;
    for (size_t i = 0; i < d->nlisteners; i++) {
        free(d->listeners[i]);
    }
    free(d->listeners);
    free(d->ups);
    ek__dns_cache_free(d->cache);
    ek__dns_index_free(&d->ix);
    free(d);
    if (done) {
        done(data);
    }
}

void ek__dns_handle_gone(ek_dns_t *d)
{
    if (--d->handles == 0 && d->closing) {
        free_server(d);
    }
}

static void listener_closed(uv_handle_t *h)
{
    ek__dns_listener_t *l = h->data;
    ek_dns_t *d = l->d;
    if (--l->open == 0 && l->failed) {
        free(l); /* not in d->listeners: nothing else frees it */
    }
    ek__dns_handle_gone(d);
}

static int settings_init(ek_dns_t *d, const ek_dns_config_t *cfg, ek_error_t **err)
{
    const char *domain = cfg->domain && *cfg->domain ? cfg->domain : "cluster.local";
    if (ek__dns_name_from_text(&d->st.domain, domain) < 0 || d->st.domain.nlabels == 0) {
        return ek_error_make(err, EINVAL, "bad cluster domain `%s`", domain);
    }
    for (size_t i = 0; i + 1 < d->st.domain.len; i++) {
        d->st.domain.wire[i] = ek__dns_lower(d->st.domain.wire[i]);
    }
    d->st.ttl = cfg->ttl ? cfg->ttl : 5;
    for (size_t i = 0; cfg->ns_ips && i < cfg->ns_ips->n; i++) {
        if (d->st.n_ns_ips == EK_ARRAY_SIZE(d->st.ns_ips) ||
            ek__dns_ip_parse(cfg->ns_ips->v[i], &d->st.ns_ips[d->st.n_ns_ips]) < 0) {
            return ek_error_make(err, EINVAL, "bad DNS address `%s`", cfg->ns_ips->v[i]);
        }
        d->st.n_ns_ips++;
    }
    return 0;
}

ek_dns_t *ek_dns_new(uv_loop_t *loop, const ek_dns_config_t *cfg, ek_error_t **err)
{
    static const ek_dns_config_t none = { 0 };
    cfg = cfg ? cfg : &none;
    ek_dns_t *d = ek_new(ek_dns_t);
    d->loop = loop;
    ek__dns_index_init(&d->ix);
    d->max_ttl = cfg->cache_max_ttl ? cfg->cache_max_ttl : 30;
    d->timeout_ms = cfg->upstream_timeout_ms ? cfg->upstream_timeout_ms : 2000;
    d->cache = ek__dns_cache_new(cfg->cache_entries ? cfg->cache_entries : 4096,
                                 cfg->cache_bytes ? cfg->cache_bytes : 4u << 20, d->max_ttl);
    if (settings_init(d, cfg, err) < 0 || ek__dns_upstreams_init(d, cfg->upstreams, err) < 0) {
        ek_dns_close(d, NULL, NULL);
        return NULL;
    }
    return d;
}

static int listen_on(ek_dns_t *d, ek__dns_listener_t *l, const struct sockaddr *sa,
                     ek_error_t **err)
{
    int r = uv_udp_bind(&l->udp, sa, 0);
    if (r < 0) {
        return ek_error_make(err, -r, "bind UDP");
    }
    struct sockaddr_storage got;
    int len = sizeof(got);
    uv_udp_getsockname(&l->udp, (struct sockaddr *)&got, &len);
    l->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                              : ((struct sockaddr_in *)&got)->sin_port);
    /* TCP on the port UDP got, so "IP:0" gives one port for both. */
    if (got.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&got)->sin6_addr = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    } else {
        ((struct sockaddr_in *)&got)->sin_addr = ((const struct sockaddr_in *)sa)->sin_addr;
    }
    if ((r = uv_tcp_bind(&l->tcp, (struct sockaddr *)&got, 0)) < 0 ||
        (r = uv_listen((uv_stream_t *)&l->tcp, TCP_BACKLOG, tcp_accept)) < 0) {
        return ek_error_make(err, -r, "listen TCP");
    }
    uv_udp_recv_start(&l->udp, udp_alloc, udp_recv);
    return 0;
}

static ek__dns_listener_t *listener_try(ek_dns_t *d, const struct sockaddr_storage *ss,
                                        ek_error_t **err)
{
    ek__dns_listener_t *l = ek_new(ek__dns_listener_t);
    l->d = d;
    /* recvmmsg: one system call reads a burst of queries (libuv hands out 64 KiB per slot). */
    uv_udp_init_ex(d->loop, &l->udp, (unsigned)ss->ss_family | UV_UDP_RECVMMSG);
    uv_tcp_init(d->loop, &l->tcp);
    l->udp.data = l->tcp.data = l;
    l->open = 2;
    d->handles += 2;
    if (listen_on(d, l, (const struct sockaddr *)ss, err) < 0) {
        l->failed = true;
        uv_close((uv_handle_t *)&l->udp, listener_closed);
        uv_close((uv_handle_t *)&l->tcp, listener_closed);
        return NULL;
    }
    return l;
}

int ek_dns_listen(ek_dns_t *d, const char *addr, ek_error_t **err)
{
    struct sockaddr_storage ss;
    if (ek__dns_parse_addr(addr, 53, &ss, err) < 0) {
        return -1;
    }
    bool any_port = (ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port) == 0;
    ek_error_t *e = NULL;
    ek__dns_listener_t *l = listener_try(d, &ss, &e);
    /* "IP:0": the port UDP got may be taken for TCP by someone else; another port will do. */
    for (int i = 0; !l && any_port && i < 8 && e->errnum == EADDRINUSE; i++) {
        ek_error_clear(&e);
        l = listener_try(d, &ss, &e);
    }
    if (!l) {
        if (err && !*err) {
            *err = ek_steal(&e);
        }
        ek_error_free(e);
        return ek_error_wrap(err, "DNS listener on %s", addr);
    }
    d->listeners = ek_xrealloc(d->listeners, (d->nlisteners + 1) * sizeof(*d->listeners));
    d->listeners[d->nlisteners++] = l;
    EK_LOG(EK_INFO, "dns", "listening addr=%s port=%d", addr, l->port);
    return 0;
}

int ek_dns_listen_port(const ek_dns_t *d, size_t idx)
{
    return idx < d->nlisteners ? d->listeners[idx]->port : 0;
}

void ek_dns_close(ek_dns_t *d, void (*done)(void *data), void *data)
{
    if (!d || d->closing) {
        return;
    }
    d->closing = true;
    d->done = done;
    d->done_data = data;
    d->handles++; /* held until every close below is started */
    for (size_t i = 0; i < d->nlisteners; i++) {
        uv_close((uv_handle_t *)&d->listeners[i]->udp, listener_closed);
        uv_close((uv_handle_t *)&d->listeners[i]->tcp, listener_closed);
    }
    while (d->conns) {
        conn_close(d->conns);
    }
    ek__dns_forward_close(d);
    ek__dns_handle_gone(d);
}
