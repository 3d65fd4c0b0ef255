/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding names outside the cluster to the host's upstream resolvers: one connected UDP
 * socket per upstream (so an ICMP "port unreachable" comes back as a read error and fails
 * the upstream at once instead of after a timeout), random query ids, answers checked against
 * the question they claim to answer, a retry over TCP when an answer comes back truncated,
 * the next upstream after a timeout, an error or a SERVFAIL/REFUSED, and SERVFAIL to the
 * clients when every try failed. Clients asking a question already on its way upstream wait
 * for that answer instead of sending another (coalescing). Good answers go into the cache.
 *
 * Air-gapped boards are the normal case, not an error: with no upstream configured outside
 * names get SERVFAIL without any network traffic, and an unreachable one fails in one round
 * trip (or one timeout when packets vanish) while cluster names never wait on any of this.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sys/random.h>

#include "net/dns/dns-internal.h"

struct ek__dns_tcpq {
    ek_dns_t *d;
    ek__dns_pending_t *p; /* NULL once the pending question no longer waits for it */
    bool closing;
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    uint8_t q[2 + EK__DNS_UDP_PLAIN];
    size_t qlen;
    uint8_t *buf;
    size_t len, cap;
};

#define SERVFAIL_TTL 5 /* seconds a failure is remembered */

static void send_try(ek__dns_pending_t *p);

static uint16_t rand16(ek_dns_t *d)
{
    if (d->rnd_left < 2) {
        ssize_t n = getrandom(d->rnd, sizeof(d->rnd), GRND_NONBLOCK);
        for (size_t i = n > 0 ? (size_t)n : 0; i < sizeof(d->rnd); i++) {
            d->rnd[i] = (uint8_t)(uv_hrtime() >> (i % 7)); /* only before the pool is ready */
        }
        d->rnd_left = sizeof(d->rnd);
    }
    d->rnd_left -= 2;
    return ek__dns_get16(d->rnd + d->rnd_left);
}

static int max_tries(const ek_dns_t *d)
{
    /* One upstream gets a second chance (a lost datagram); several get one try each, three at
     * most, so a client waiting 5 s (glibc's default) hears SERVFAIL rather than nothing. */
    return d->nups == 1 ? 2 : (int)EK_MIN(d->nups, (size_t)3);
}

static uint64_t pend_key(const ek__dns_name_t *n, uint16_t type, uint16_t klass)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n->len; i++) {
        h = (h ^ ek__dns_lower(n->wire[i])) * 1099511628211ull;
    }
    return ((h ^ type) * 1099511628211ull ^ klass) * 1099511628211ull;
}

/* ---- pending questions ---- */

static ek__dns_pending_t *find_id(ek_dns_t *d, uint16_t id)
{
    ek__dns_pending_t *p = d->by_id[id % EK__DNS_PEND_SLOTS];
    while (p && p->id != id) {
        p = p->id_next;
    }
    return p;
}

static void unlink_chain(ek__dns_pending_t **head, ek__dns_pending_t *p, bool by_id)
{
    for (ek__dns_pending_t **pp = head; *pp; pp = by_id ? &(*pp)->id_next : &(*pp)->key_next) {
        if (*pp == p) {
            *pp = by_id ? p->id_next : p->key_next;
            return;
        }
    }
}

static void waiter_free(ek__dns_waiter_t *w)
{
    if (w->tcp && w->conn) {
        if (w->conn_prev) {
            w->conn_prev->conn_next = w->conn_next;
        } else {
            w->conn->waiters = w->conn_next;
        }
        if (w->conn_next) {
            w->conn_next->conn_prev = w->conn_prev;
        }
    }
    free(w);
}

void ek__dns_conn_detach(ek__dns_conn_t *c)
{
    for (ek__dns_waiter_t *w = c->waiters; w; w = w->conn_next) {
        w->conn = NULL;
    }
    c->waiters = NULL;
}

static void tcpq_closed(uv_handle_t *h)
{
    ek__dns_tcpq_t *t = h->data;
    ek_dns_t *d = t->d;
    free(t->buf);
    free(t);
    ek__dns_handle_gone(d);
}

static void tcpq_close(ek__dns_tcpq_t *t)
{
    if (t->closing) {
        return;
    }
    t->closing = true;
    if (t->p) {
        t->p->tcp = NULL;
        t->p = NULL;
    }
    uv_close((uv_handle_t *)&t->tcp, tcpq_closed);
}

static void pending_closed(uv_handle_t *h)
{
    ek__dns_pending_t *p = h->data;
    ek_dns_t *d = p->d;
    free(p);
    ek__dns_handle_gone(d);
}

/* Takes p out of every table and frees it (its timer's close callback does the free). */
static void pending_finish(ek__dns_pending_t *p)
{
    ek_dns_t *d = p->d;
    unlink_chain(&d->by_id[p->id % EK__DNS_PEND_SLOTS], p, true);
    unlink_chain(&d->by_key[p->key % EK__DNS_PEND_SLOTS], p, false);
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        d->pendings = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
    d->npending--;
    while (p->waiters) {
        ek__dns_waiter_t *w = p->waiters;
        p->waiters = w->next;
        waiter_free(w);
    }
    if (p->tcp) {
        tcpq_close(p->tcp);
    }
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, pending_closed);
}

size_t ek__dns_failure_reply(ek_dns_t *d, const ek__dns_query_t *q, const uint8_t *cname, bool tcp,
                             uint8_t *out)
{
    if (!cname) {
        d->stats.servfail++;
        return ek__dns_error_reply(q, EK__DNS_SERVFAIL, out, EK__DNS_MSG_MAX);
    }
    /* The ExternalName's CNAME is still true: the client gets it, as CoreDNS answers. */
    ek__dns_wr_t wr;
    size_t limit = tcp ? EK__DNS_MSG_MAX : ek__dns_udp_limit(q);
    ek__dns_wr_init(&wr, out, EK__DNS_MSG_MAX, limit - (q->edns ? EK__DNS_OPT_LEN : 0));
    ek__dns_wr_header(&wr, q->id,
                      EK__DNS_F_QR | EK__DNS_F_AA | EK__DNS_F_RA | (q->flags & EK__DNS_F_RD));
    ek__dns_wr_question(&wr, q->qname.wire, q->qtype, q->qclass);
    if (ek__dns_wr_rr_begin(&wr, EK__DNS_AN, NULL, EK__DNS_T_CNAME, EK__DNS_C_IN, d->st.ttl)) {
        ek__dns_wr_name(&wr, cname, true);
        ek__dns_wr_rr_end(&wr);
    }
    return ek__dns_wr_finish(&wr, EK__DNS_NOERROR, q->edns);
}

void ek__dns_reply_failure(ek_dns_t *d, ek__dns_waiter_t *w)
{
    size_t n = ek__dns_failure_reply(d, &w->q, w->chase ? w->cname.wire : NULL, w->tcp, d->out);
    ek__dns_send(d, w, d->out, n);
}

static void pending_fail(ek__dns_pending_t *p)
{
    ek_dns_t *d = p->d;
    EK_LOG(EK_DEBUG, "dns", "no upstream answered qtype=%u tries=%d", p->qtype, p->tries);
    for (ek__dns_waiter_t *w = p->waiters; w; w = w->next) {
        ek__dns_reply_failure(d, w);
    }
    /* A failure that cost timeouts is remembered briefly (RFC 2308 7.1; CoreDNS's cache keeps
     * failures 5 s): clients retrying the name get SERVFAIL at once instead of waiting again.
     * Failures that were immediate (refused, no route) are not: they are cheap to repeat, and
     * the next query then sees an upstream that came back. */
    if (!p->timed_out) {
        pending_finish(p);
        return;
    }
    uint8_t m[EK__DNS_HDR_LEN + EK__DNS_NAME_MAX + 4];
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, m, sizeof(m), sizeof(m));
    ek__dns_wr_header(&w, 0, EK__DNS_F_QR | EK__DNS_F_RA);
    ek__dns_wr_question(&w, p->qname.wire, p->qtype, p->qclass);
    size_t len = ek__dns_wr_finish(&w, EK__DNS_SERVFAIL, false);
    ek__dns_cache_put(d->cache, p->qname.wire, p->qtype, p->qclass, m, len,
                      EK_MIN(SERVFAIL_TTL, d->max_ttl), uv_now(d->loop));
    pending_finish(p);
}

/* An upstream answer: checked once in full, cached when it may be, re-encoded per client. */
static void deliver(ek__dns_pending_t *p, const uint8_t *msg, size_t len)
{
    ek_dns_t *d = p->d;
    ek__dns_query_t vq = { .qname = p->qname, .qtype = p->qtype, .qclass = p->qclass };
    int ttl = ek__dns_cache_ttl(msg, len, d->max_ttl);
    if (ttl < 0 || ek__dns_reply_from_upstream(&vq, msg, len, UINT32_MAX, NULL, 0, d->out,
                                               EK__DNS_MSG_MAX, EK__DNS_MSG_MAX) == 0) {
        EK_LOG(EK_DEBUG, "dns", "malformed upstream answer len=%zu", len);
        pending_fail(p);
        return;
    }
    if (ttl > 0) {
        ek__dns_cache_put(d->cache, p->qname.wire, p->qtype, p->qclass, msg, len, (uint32_t)ttl,
                          uv_now(d->loop));
    }
    for (ek__dns_waiter_t *w = p->waiters; w; w = w->next) {
        size_t limit = w->tcp ? EK__DNS_MSG_MAX : ek__dns_udp_limit(&w->q);
        size_t n = ek__dns_reply_from_upstream(
            &w->q, msg, len, ttl > 0 ? (uint32_t)ttl : UINT32_MAX, w->chase ? w->cname.wire : NULL,
            d->st.ttl, d->out, EK__DNS_MSG_MAX, limit);
        if (n > 0) {
            d->stats.truncated += !w->tcp && (ek__dns_get16(d->out + 2) & EK__DNS_F_TC);
            ek__dns_send(d, w, d->out, n);
        }
    }
    pending_finish(p);
}

/* Does the answer in msg answer p's question (id already matched)? Anything else is ignored:
 * a stray or forged datagram must not end the wait. */
static bool answers(const ek__dns_pending_t *p, const uint8_t *msg, size_t len)
{
    if (len < EK__DNS_HDR_LEN || !(ek__dns_get16(msg + 2) & EK__DNS_F_QR) ||
        ek__dns_get16(msg + 4) != 1) {
        return false;
    }
    size_t off = EK__DNS_HDR_LEN;
    ek__dns_name_t n;
    return ek__dns_read_name(msg, len, &off, &n) == 0 && off + 4 <= len &&
           ek__dns_name_eq(n.wire, p->qname.wire) && ek__dns_get16(msg + off) == p->qtype &&
           ek__dns_get16(msg + off + 2) == p->qclass;
}

/* ---- TCP retry ---- */

static void next_upstream(ek__dns_pending_t *p)
{
    if (p->tcp) {
        tcpq_close(p->tcp);
    }
    uv_timer_stop(&p->timer);
    p->up = (p->up + 1) % (int)p->d->nups;
    send_try(p);
}

static void tcpq_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ek__dns_tcpq_t *t = h->data;
    if (t->cap - t->len < 4096) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->buf = ek_xrealloc(t->buf, t->cap);
    }
    *buf = uv_buf_init((char *)t->buf + t->len, (unsigned)(t->cap - t->len));
}

static void tcpq_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ek__dns_tcpq_t *t = s->data;
    ek__dns_pending_t *p = t->p;
    if (!p) {
        tcpq_close(t);
        return;
    }
    if (nread < 0) {
        next_upstream(p);
        return;
    }
    t->len += (size_t)nread;
    if (t->len < 2 || t->len < 2 + (size_t)ek__dns_get16(t->buf) || t->len > 2 + EK__DNS_MSG_MAX) {
        return;
    }
    size_t mlen = ek__dns_get16(t->buf);
    if (ek__dns_get16(t->buf + 2) != p->id || !answers(p, t->buf + 2, mlen)) {
        next_upstream(p);
        return;
    }
    p->d->prefer = p->up;
    deliver(p, t->buf + 2, mlen);
}

static void tcpq_written(uv_write_t *req, int status)
{
    ek__dns_tcpq_t *t = req->data;
    if (status < 0 && t->p) {
        next_upstream(t->p);
    }
}

static void tcpq_connected(uv_connect_t *req, int status)
{
    ek__dns_tcpq_t *t = req->data;
    if (!t->p) {
        return;
    }
    uv_buf_t b = uv_buf_init((char *)t->q, (unsigned)t->qlen);
    if (status < 0 || uv_write(&t->wreq, (uv_stream_t *)&t->tcp, &b, 1, tcpq_written) < 0 ||
        uv_read_start((uv_stream_t *)&t->tcp, tcpq_alloc, tcpq_read) < 0) {
        next_upstream(t->p);
    }
}

static size_t build_query(const ek__dns_pending_t *p, uint8_t *buf, size_t cap)
{
    ek__dns_wr_t w;
    ek__dns_wr_init(&w, buf, cap, cap);
    ek__dns_wr_header(&w, p->id, EK__DNS_F_RD);
    ek__dns_wr_question(&w, p->qname.wire, p->qtype, p->qclass);
    return ek__dns_wr_finish(&w, 0, !p->no_edns);
}

static void tcp_retry(ek__dns_pending_t *p)
{
    ek_dns_t *d = p->d;
    ek__dns_tcpq_t *t = ek_new(ek__dns_tcpq_t);
    t->d = d;
    t->p = p;
    p->tcp = t;
    t->qlen = 2 + build_query(p, t->q + 2, sizeof(t->q) - 2);
    ek__dns_put16(t->q, (uint16_t)(t->qlen - 2));
    uv_tcp_init(d->loop, &t->tcp);
    d->handles++;
    t->tcp.data = t->creq.data = t->wreq.data = t;
    uv_timer_again(&p->timer);
    const struct sockaddr *sa = (const struct sockaddr *)&d->ups[p->up].addr;
    if (uv_tcp_connect(&t->creq, &t->tcp, sa, tcpq_connected) < 0) {
        next_upstream(p);
    }
}

/* ---- UDP ---- */

struct up_req {
    uv_udp_send_t req;
    uint8_t data[EK__DNS_UDP_PLAIN];
};

static void up_sent(uv_udp_send_t *req, int status)
{
    free(ek_container_of(req, struct up_req, req));
}

static int send_query(ek__dns_pending_t *p, ek__dns_upstream_t *u)
{
    uint8_t buf[EK__DNS_UDP_PLAIN];
    size_t n = build_query(p, buf, sizeof(buf));
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)n);
    int r = uv_udp_try_send(&u->udp, &b, 1, NULL);
    if (r == UV_EAGAIN || r == UV_ENOSYS) {
        struct up_req *q = ek_new(struct up_req);
        memcpy(q->data, buf, n);
        b = uv_buf_init((char *)q->data, (unsigned)n);
        if ((r = uv_udp_send(&q->req, &u->udp, &b, 1, NULL, up_sent)) < 0) {
            free(q);
        }
    }
    if (r < 0) {
        EK_LOG(EK_DEBUG, "dns", "send to upstream failed upstream=%s err=%s", u->text,
               uv_strerror(r));
        return -1;
    }
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    ek__dns_pending_t *p = t->data;
    EK_LOG(EK_DEBUG, "dns", "upstream timed out upstream=%s", p->d->ups[p->up].text);
    p->timed_out = true;
    next_upstream(p);
}

static void up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void up_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned recv_flags);

/*
 * Connects u's socket if it is not yet: a board that booted without a network has no route to
 * its resolvers at first, and must not need a restart once the network comes up.
 */
static bool upstream_ready(ek__dns_upstream_t *u)
{
    if (u->udp_ok) {
        return true;
    }
    int r = uv_udp_connect(&u->udp, (const struct sockaddr *)&u->addr);
    if (r == 0 || r == UV_EISCONN) {
        r = uv_udp_recv_start(&u->udp, up_alloc, up_recv);
    }
    u->udp_ok = r == 0;
    if (r < 0) {
        EK_LOG(EK_DEBUG, "dns", "upstream unusable upstream=%s err=%s", u->text, uv_strerror(r));
    }
    return u->udp_ok;
}

static void send_try(ek__dns_pending_t *p)
{
    ek_dns_t *d = p->d;
    while (p->tries < max_tries(d)) {
        ek__dns_upstream_t *u = &d->ups[p->up];
        p->tries++;
        if (upstream_ready(u) && send_query(p, u) == 0) {
            uv_timer_start(&p->timer, on_timeout, d->timeout_ms, d->timeout_ms);
            return;
        }
        p->up = (p->up + 1) % (int)d->nups;
    }
    pending_fail(p);
}

/* Fails over every question waiting on u, which just reported an error. */
static void upstream_error(ek__dns_upstream_t *u, int err)
{
    ek_dns_t *d = u->d;
    EK_LOG(EK_DEBUG, "dns", "upstream error upstream=%s err=%s", u->text, uv_strerror(err));
    size_t n = 0;
    for (ek__dns_pending_t *p = d->pendings; p; p = p->next) {
        n += p->up == u->idx && !p->tcp;
    }
    ek__dns_pending_t **list = ek_xcalloc(n + 1, sizeof(*list));
    size_t k = 0;
    for (ek__dns_pending_t *p = d->pendings; p && k < n; p = p->next) {
        if (p->up == u->idx && !p->tcp) {
            list[k++] = p;
        }
    }
    for (size_t i = 0; i < k; i++) {
        next_upstream(list[i]); /* each may finish (and leave the list) only itself */
    }
    free(list);
}

static void up_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ek__dns_upstream_t *u = h->data;
    *buf = uv_buf_init((char *)u->d->rbuf, sizeof(u->d->rbuf));
}

static void up_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned recv_flags)
{
    ek__dns_upstream_t *u = h->data;
    if (nread < 0) {
        upstream_error(u, (int)nread);
        return;
    }
    const uint8_t *msg = (const uint8_t *)buf->base;
    size_t len = (size_t)nread;
    if (len < EK__DNS_HDR_LEN || u->d->closing) {
        return;
    }
    ek__dns_pending_t *p = find_id(u->d, ek__dns_get16(msg));
    if (!p || p->up != u->idx || p->tcp || !answers(p, msg, len)) {
        return;
    }
    uint16_t flags = ek__dns_get16(msg + 2);
    int rcode = flags & EK__DNS_F_RCODE;
    if (flags & EK__DNS_F_TC) {
        tcp_retry(p);
        return;
    }
    if ((rcode == EK__DNS_FORMERR || rcode == EK__DNS_NOTIMP) && !p->no_edns) {
        p->no_edns = true; /* an old server that refuses EDNS: ask it again plainly */
        p->tries--;
        uv_timer_stop(&p->timer);
        send_try(p);
        return;
    }
    if ((rcode == EK__DNS_SERVFAIL || rcode == EK__DNS_REFUSED) && p->tries < max_tries(u->d)) {
        next_upstream(p);
        return;
    }
    u->d->prefer = u->idx;
    deliver(p, msg, len);
}

/* ---- entry points ---- */

void ek__dns_forward(ek_dns_t *d, const ek__dns_waiter_t *w0, const ek__dns_name_t *target)
{
    if (d->nups == 0 || d->closing) {
        ek__dns_waiter_t w = *w0;
        ek__dns_reply_failure(d, &w);
        return;
    }
    ek__dns_name_t name = target ? *target : w0->q.qname;
    for (size_t i = 0; i + 1 < name.len; i++) {
        name.wire[i] = ek__dns_lower(name.wire[i]);
    }
    uint64_t key = pend_key(&name, w0->q.qtype, w0->q.qclass);
    ek__dns_pending_t *p = d->by_key[key % EK__DNS_PEND_SLOTS];
    while (p && !(p->key == key && p->qtype == w0->q.qtype && p->qclass == w0->q.qclass &&
                  ek__dns_name_eq(p->qname.wire, name.wire))) {
        p = p->key_next;
    }
    ek__dns_waiter_t *w = ek_xmalloc(sizeof(*w));
    *w = *w0;
    w->conn_prev = w->conn_next = NULL;
    if (w->tcp && w->conn) {
        w->conn_next = w->conn->waiters;
        if (w->conn_next) {
            w->conn_next->conn_prev = w;
        }
        w->conn->waiters = w;
    }
    if (p) {
        w->next = p->waiters;
        p->waiters = w;
        return;
    }
    p = ek_new(ek__dns_pending_t);
    p->d = d;
    do {
        p->id = rand16(d);
    } while (find_id(d, p->id));
    p->key = key;
    p->qname = name;
    p->qtype = w0->q.qtype;
    p->qclass = w0->q.qclass;
    p->up = d->prefer;
    w->next = NULL;
    p->waiters = w;
    p->id_next = d->by_id[p->id % EK__DNS_PEND_SLOTS];
    d->by_id[p->id % EK__DNS_PEND_SLOTS] = p;
    p->key_next = d->by_key[key % EK__DNS_PEND_SLOTS];
    d->by_key[key % EK__DNS_PEND_SLOTS] = p;
    p->next = d->pendings;
    if (p->next) {
        p->next->prev = p;
    }
    d->pendings = p;
    d->npending++;
    uv_timer_init(d->loop, &p->timer);
    p->timer.data = p;
    d->handles++;
    d->stats.forwarded++;
    send_try(p);
}

static void upstream_closed(uv_handle_t *h)
{
    ek__dns_upstream_t *u = h->data;
    ek__dns_handle_gone(u->d);
}

void ek__dns_forward_close(ek_dns_t *d)
{
    while (d->pendings) {
        pending_finish(d->pendings);
    }
    for (size_t i = 0; i < d->nups; i++) {
        uv_close((uv_handle_t *)&d->ups[i].udp, upstream_closed);
    }
}

int ek__dns_upstreams_init(ek_dns_t *d, const ek_strlist_t *ups, ek_error_t **err)
{
    size_t n = ups ? ups->n : 0;
    d->ups = ek_xcalloc(n + 1, sizeof(*d->ups));
    for (size_t i = 0; i < n; i++) {
        ek__dns_upstream_t *u = &d->ups[i];
        if (ek__dns_parse_addr(ups->v[i], 53, &u->addr, err) < 0) {
            return ek_error_wrap(err, "upstream resolver");
        }
        u->d = d;
        u->idx = (int)i;
        snprintf(u->text, sizeof(u->text), "%s", ups->v[i]);
        uv_udp_init(d->loop, &u->udp);
        u->udp.data = u;
        d->handles++;
        d->nups++;
        /* connect() may fail at once (no route on an air-gapped board): the upstream is then
         * skipped without a timeout, and connected again when a query needs it. */
        if (!upstream_ready(u)) {
            EK_LOG(EK_WARN, "dns", "upstream unreachable for now upstream=%s", u->text);
        }
    }
    return 0;
}

int ek_dns_resolv_conf(const char *path, ek_strlist_t *out, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = ek_file_read(path, 1 << 20, &len, err);
    if (!text) {
        return ek_error_wrap(err, "read resolv.conf");
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char key[16], addr[128];
        if (sscanf(line, " %15s %127s", key, addr) != 2 || strcmp(key, "nameserver") != 0) {
            continue;
        }
        char *pct = strchr(addr, '%');
        if (pct) {
            *pct = 0;
        }
        struct sockaddr_storage ss;
        if (ek__dns_parse_addr(addr, 53, &ss, NULL) < 0 || strchr(addr, ']')) {
            continue; /* glibc skips what it cannot parse too */
        }
        char *entry =
            ss.ss_family == AF_INET6 ? ek_xasprintf("[%s]:53", addr) : ek_xasprintf("%s:53", addr);
        ek_strlist_add(out, entry);
        free(entry);
    }
    return 0;
}
