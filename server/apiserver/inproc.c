/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-process transport of the API client: components living in the server's process
 * (controllers, the scheduler, the local agent) reach the REST handlers directly, with no
 * HTTP, TLS or JSON re-framing in between, so one code path serves kubectl and our own
 * controllers alike. Each request becomes an apireq_t carrying the identity the client was
 * made for (no authentication step; authorization applies as for anyone), and the handlers
 * answer through the apireq_ops_t below.
 *
 * Handlers often answer inside the call that started the request, but a client's callbacks
 * must run on a later loop turn: answers and watch chunks wait on the request (struct ireq)
 * and a queue drained by an idle handle, which is active only while something waits. An ireq
 * is shared by the server side (until the handler releases the apireq_t) and the client side
 * (until on_done or cancel), plus the queue while it waits, so it is counted. A cancel is a
 * client hang-up: the apireq_t is marked closed and its on_close runs, which ends a watch.
 */
#include <errno.h>
#include <strings.h>

#include "server/apiserver/apiserver-internal.h"

typedef struct inproc inproc_t;

typedef struct ireq {
    inproc_t *t; /* NULL once the client side has finished (done or cancelled) */
    apireq_t *r; /* NULL once the handler has released the request */
    int refs;
    struct ireq *prev, *next; /* the transport's requests whose client side is live */
    struct ireq *qnext;       /* in the delivery queue */
    bool queued;
    ek_api_stream_callbacks_t cb;
    void *data;
    /* the request, owned here because apireq_t borrows it */
    char *method, *path, *query, *body, *content_type;
    size_t body_len;
    /* the answer, waiting for the next delivery */
    int status;
    char *answer_type;
    bool head_ready, head_sent, ended;
    ek_buf_t out;
} ireq_t;

struct inproc {
    ek_apiserver_t *srv;
    char *user;
    ek_strlist_t groups;
    uv_idle_t idle;
    ireq_t *q_head, *q_tail;
    ireq_t *live;
    bool released;
    void (*released_cb)(void *data);
    void *released_data;
};

static void ireq_unref(ireq_t *q)
{
    if (--q->refs > 0) {
        return;
    }
    free(q->method);
    free(q->path);
    free(q->query);
    free(q->body);
    free(q->content_type);
    free(q->answer_type);
    ek_buf_free(&q->out);
    free(q);
}

/* Detaches the client side: no more deliveries, writes fail from now on. */
static void client_detach(ireq_t *q)
{
    inproc_t *t = q->t;
    if (q->prev) {
        q->prev->next = q->next;
    } else if (t->live == q) {
        t->live = q->next;
    }
    if (q->next) {
        q->next->prev = q->prev;
    }
    q->prev = q->next = NULL;
    q->t = NULL;
}

/* Ends the client side; on_done runs with err (NULL: a complete answer). */
static void client_finish(ireq_t *q, const ek_error_t *err)
{
    client_detach(q);
    q->cb.on_done(err, q->data);
    ireq_unref(q); /* the client side's */
}

/* ---- delivery ---- */

static void deliver(ireq_t *q)
{
    if (q->head_ready && !q->head_sent) {
        q->head_sent = true;
        if (q->cb.on_head) {
            q->cb.on_head(q->status, q->answer_type, q->data);
        }
    }
    if (q->t && q->out.len) {
        /* Chunks the server writes meanwhile go to a fresh buffer and the next turn. */
        ek_buf_t chunk = q->out;
        q->out = (ek_buf_t)EK_BUF_INIT;
        if (q->cb.on_body) {
            q->cb.on_body(chunk.data, chunk.len, q->data);
        }
        ek_buf_free(&chunk);
    }
    /* Anything written during on_body queued the request again: finish after delivering it. */
    if (q->t && q->ended && !q->out.len) {
        client_finish(q, NULL);
    }
}

static void on_idle(uv_idle_t *idle)
{
    inproc_t *t = ek_container_of(idle, inproc_t, idle);
    /* What is queued by the callbacks below waits for the next turn. */
    ireq_t *last = t->q_tail;
    while (t->q_head) {
        ireq_t *q = t->q_head;
        t->q_head = q->qnext;
        if (!t->q_head) {
            t->q_tail = NULL;
        }
        q->qnext = NULL;
        q->queued = false;
        bool was_last = q == last;
        if (q->t) {
            deliver(q);
        }
        ireq_unref(q); /* the queue's */
        if (was_last) {
            break;
        }
    }
    if (!t->q_head && !t->released) {
        uv_idle_stop(idle);
    }
}

static void enqueue(ireq_t *q)
{
    inproc_t *t = q->t;
    if (!t || q->queued || t->released) {
        return;
    }
    q->queued = true;
    q->refs++;
    if (t->q_tail) {
        t->q_tail->qnext = q;
    } else {
        t->q_head = q;
    }
    t->q_tail = q;
    uv_idle_start(&t->idle, on_idle);
}

/* ---- apireq_ops_t ---- */

static void set_head(ireq_t *q, int status, const char *content_type)
{
    q->status = status;
    free(q->answer_type);
    q->answer_type = ek_xstrdup(content_type ? content_type : "");
    q->head_ready = true;
}

static void ip_respond(apireq_t *r, int status, const char *content_type, ek_buf_t *body)
{
    ireq_t *q = r->tp;
    if (q->t) {
        set_head(q, status, content_type);
        if (body && !q->out.len) {
            ek_buf_free(&q->out);
            q->out = *body; /* taken over, not copied */
            *body = (ek_buf_t)EK_BUF_INIT;
        } else if (body && body->len) {
            ek_buf_append(&q->out, body->data, body->len);
        }
        q->ended = true;
        enqueue(q);
    }
    if (body) {
        ek_buf_free(body); /* the answer is ours either way */
    }
}

static void ip_stream_begin(apireq_t *r, int status, const char *content_type)
{
    ireq_t *q = r->tp;
    r->status = status;
    if (q->t) {
        set_head(q, status, content_type);
        enqueue(q);
    }
}

static int ip_stream_write(apireq_t *r, const char *data, size_t len)
{
    ireq_t *q = r->tp;
    if (!q->t || r->closed) {
        return -1;
    }
    ek_buf_append(&q->out, data, len);
    enqueue(q);
    return 0;
}

static size_t ip_stream_pending(apireq_t *r)
{
    ireq_t *q = r->tp;
    return q->t ? q->out.len : 0;
}

static void ip_stream_end(apireq_t *r)
{
    ireq_t *q = r->tp;
    EK_LOG(EK_DEBUG, "apiserver", "%s %s?%s status=%d ms=%.2f user=%s transport=inproc", r->method,
           r->path, r->query, r->status, (double)(ek_now_ns() - r->start_ns) / 1e6,
           r->user.name ? r->user.name : "-");
    metrics_observe(r->srv->metrics, r);
    if (q->t) {
        q->ended = true;
        enqueue(q);
    }
}

static const char *ip_header(apireq_t *r, const char *name)
{
    ireq_t *q = r->tp;
    if (strcasecmp(name, "Content-Type") == 0) {
        return q->content_type;
    }
    if (strcasecmp(name, "Accept") == 0) {
        return "application/json";
    }
    if (strcasecmp(name, "User-Agent") == 0) {
        /* As the HTTPS client says: in-process writes are recorded as manager "edgek". */
        return "edgek/in-process";
    }
    return NULL;
}

static void ip_add_header(apireq_t *r, const char *name, const char *value)
{
    /* The stream callbacks carry no headers; warnings are worth a debug line. */
    if (strcasecmp(name, "Warning") == 0) {
        EK_LOG(EK_DEBUG, "apiserver", "warning path=%s user=%s warning=%s", r->path, r->user.name,
               value);
    }
}

static void ip_release(apireq_t *r)
{
    ireq_t *q = r->tp;
    r->tp = NULL;
    q->r = NULL;
    ireq_unref(q); /* the server side's */
}

static const apireq_ops_t inproc_ops = {
    .respond = ip_respond,
    .stream_begin = ip_stream_begin,
    .stream_write = ip_stream_write,
    .stream_pending = ip_stream_pending,
    .stream_end = ip_stream_end,
    .header = ip_header,
    .add_header = ip_add_header,
    .release = ip_release,
};

/* ---- transport operations ---- */

static ireq_t *ireq_new(inproc_t *t, const ek_api_request_t *req,
                        const ek_api_stream_callbacks_t *cb, void *data)
{
    ireq_t *q = ek_new(ireq_t);
    q->t = t;
    q->refs = 2; /* client side and server side */
    q->cb = *cb;
    q->data = data;
    q->method = ek_xstrdup(req->method);
    /* As the HTTP server does: the path percent-decoded, the query left raw. */
    const char *qm = strchr(req->path_query, '?');
    size_t plen = qm ? (size_t)(qm - req->path_query) : strlen(req->path_query);
    q->path = ek_http_unescape(req->path_query, plen, false);
    q->query = ek_xstrdup(qm ? qm + 1 : "");
    q->body_len = req->body ? req->body_len : 0;
    q->body = ek_xstrndup(req->body ? req->body : "", q->body_len);
    q->content_type = req->content_type ? ek_xstrdup(req->content_type) : NULL;
    q->next = t->live;
    if (t->live) {
        t->live->prev = q;
    }
    t->live = q;
    return q;
}

static void *tp_start(void *tp, const ek_api_request_t *req, const ek_api_stream_callbacks_t *cb,
                      void *data)
{
    inproc_t *t = tp;
    ek_assert(!t->released);
    ireq_t *q = ireq_new(t, req, cb, data);
    apireq_t *r = ek_new(apireq_t);
    r->srv = t->srv;
    r->start_ns = ek_now_ns();
    r->method = q->method;
    r->path = q->path;
    r->query = q->query;
    r->body = q->body;
    r->body_len = q->body_len;
    r->ops = &inproc_ops;
    r->tp = q;
    q->r = r;
    r->user.name = ek_xstrdup(t->user);
    for (size_t i = 0; i < t->groups.n; i++) {
        ek_strlist_add(&r->user.groups, t->groups.v[i]);
    }
    if (t->srv->closing) {
        send_status(r, 503, "ServiceUnavailable", NULL, NULL, "the server is shutting down");
    } else {
        handle_request(r);
    }
    return q;
}

/* A client hang-up: the handler learns of it as from a closed connection. */
static void tp_cancel(void *tp, void *handle)
{
    ireq_t *q = handle;
    EK_UNUSED(tp);
    if (!q->t) {
        return;
    }
    client_detach(q); /* first, so that nothing the handler does now reaches the client */
    apireq_t *r = q->r;
    if (r && !r->closed) {
        r->closed = true;
        if (r->on_close) {
            r->on_close(r); /* may release r */
        }
    }
    char msg[] = "cancelled";
    ek_error_t e = { .errnum = ECANCELED, .msg = msg };
    q->cb.on_done(&e, q->data);
    ireq_unref(q); /* the client side's */
}

static void on_idle_closed(uv_handle_t *h)
{
    inproc_t *t = ek_container_of((uv_idle_t *)h, inproc_t, idle);
    void (*cb)(void *) = t->released_cb;
    void *cb_data = t->released_data;
    free(t->user);
    ek_strlist_free(&t->groups);
    free(t);
    if (cb) {
        cb(cb_data);
    }
}

static void tp_release(void *tp, void (*done)(void *data), void *data)
{
    inproc_t *t = tp;
    t->released_cb = done;
    t->released_data = data;
    /* The client cancelled everything first; a request left over is hung up all the same. */
    while (t->live) {
        tp_cancel(t, t->live);
    }
    t->released = true;
    while (t->q_head) {
        ireq_t *q = t->q_head;
        t->q_head = q->qnext;
        q->qnext = NULL;
        q->queued = false;
        ireq_unref(q);
    }
    t->q_tail = NULL;
    uv_close((uv_handle_t *)&t->idle, on_idle_closed);
}

static const ek_api_transport_ops_t inproc_transport = {
    .start = tp_start,
    .cancel = tp_cancel,
    .release = tp_release,
};

ek_api_client_t *ek_apiserver_client(ek_apiserver_t *s, const char *user, const char *const *groups)
{
    inproc_t *t = ek_new(inproc_t);
    t->srv = s;
    t->user = ek_xstrdup(user);
    bool authenticated = false;
    for (size_t i = 0; groups && groups[i]; i++) {
        ek_strlist_add(&t->groups, groups[i]);
        authenticated |= strcmp(groups[i], "system:authenticated") == 0;
    }
    if (!authenticated) {
        /* Everyone the authenticator lets in is in this group; RBAC grants rely on it. */
        ek_strlist_add(&t->groups, "system:authenticated");
    }
    uv_idle_init(s->loop, &t->idle);
    return ek_api_client_new(s->loop, &inproc_transport, t);
}
