/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduling queue, as kube-scheduler's PriorityQueue: an active heap (higher
 * spec.priority first, then the pod queued earlier), a backoff heap (1 s doubling to 10 s per
 * failed attempt, counted from the last failure), and the pods no node could take, which wait
 * for a cluster event that may help them (the scheduler decides which, per pod) or for five
 * minutes. Pods with scheduling gates wait outside the queue until the gates are removed.
 */
#include "server/scheduler/scheduler-internal.h"

/* ---- heaps ---- */

typedef bool (*less_fn)(const sched_qpod_t *a, const sched_qpod_t *b, const sched_queue_t *q);

bool sched_queue_less(const sched_qpod_t *a, const sched_qpod_t *b)
{
    if (a->p->priority != b->p->priority) {
        return a->p->priority > b->p->priority;
    }
    return a->timestamp_ms < b->timestamp_ms;
}

static bool active_less(const sched_qpod_t *a, const sched_qpod_t *b, const sched_queue_t *q)
{
    EK_UNUSED(q);
    return sched_queue_less(a, b);
}

uint64_t sched_queue_backoff_ms(const sched_queue_t *q, const sched_qpod_t *qp)
{
    uint64_t d = q->initial_backoff_ms;
    for (int i = 1; i < qp->attempts; i++) {
        if (d > q->max_backoff_ms - d) {
            return q->max_backoff_ms;
        }
        d += d;
    }
    return d;
}

static uint64_t backoff_expiry(const sched_queue_t *q, const sched_qpod_t *qp)
{
    return qp->timestamp_ms + sched_queue_backoff_ms(q, qp);
}

static bool backoff_less(const sched_qpod_t *a, const sched_qpod_t *b, const sched_queue_t *q)
{
    return backoff_expiry(q, a) < backoff_expiry(q, b);
}

typedef struct heap {
    sched_qpod_t ***v;
    size_t *n, *cap;
    less_fn less;
} heap_t;

static heap_t heap_of(sched_queue_t *q, sched_qwhere_t where)
{
    if (where == Q_ACTIVE) {
        return (heap_t){ &q->active, &q->nactive, &q->capactive, active_less };
    }
    return (heap_t){ &q->backoff, &q->nbackoff, &q->capbackoff, backoff_less };
}

static void heap_set(heap_t *h, size_t i, sched_qpod_t *qp)
{
    (*h->v)[i] = qp;
    qp->heap_idx = i;
}

static void sift_up(const sched_queue_t *q, heap_t *h, size_t i)
{
    sched_qpod_t *x = (*h->v)[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!h->less(x, (*h->v)[parent], q)) {
            break;
        }
        heap_set(h, i, (*h->v)[parent]);
        i = parent;
    }
    heap_set(h, i, x);
}

static void sift_down(const sched_queue_t *q, heap_t *h, size_t i)
{
    sched_qpod_t *x = (*h->v)[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        sched_qpod_t *best = x;
        if (l < *h->n && h->less((*h->v)[l], best, q)) {
            m = l;
            best = (*h->v)[l];
        }
        if (r < *h->n && h->less((*h->v)[r], best, q)) {
            m = r;
            best = (*h->v)[r];
        }
        if (m == i) {
            break;
        }
        heap_set(h, i, best);
        i = m;
    }
    heap_set(h, i, x);
}

static void heap_push(sched_queue_t *q, sched_qwhere_t where, sched_qpod_t *qp)
{
    heap_t h = heap_of(q, where);
    if (*h.n == *h.cap) {
        *h.cap = *h.cap ? *h.cap * 2 : 64;
        *h.v = ek_xrealloc(*h.v, *h.cap * sizeof(**h.v));
    }
    qp->where = where;
    heap_set(&h, (*h.n)++, qp);
    sift_up(q, &h, qp->heap_idx);
}

static void heap_remove(sched_queue_t *q, sched_qpod_t *qp)
{
    heap_t h = heap_of(q, qp->where);
    size_t i = qp->heap_idx;
    ek_assert(i < *h.n && (*h.v)[i] == qp);
    sched_qpod_t *last = (*h.v)[--(*h.n)];
    if (last != qp) {
        heap_set(&h, i, last);
        sift_down(q, &h, i);
        sift_up(q, &h, last->heap_idx);
    }
    qp->where = Q_NONE;
}

/* Takes qp out of wherever it is. */
static void unlink_qpod(sched_queue_t *q, sched_qpod_t *qp)
{
    if (qp->where == Q_ACTIVE || qp->where == Q_BACKOFF) {
        heap_remove(q, qp);
    } else if (qp->where == Q_UNSCHED) {
        if (qp->uprev) {
            qp->uprev->unext = qp->unext;
        } else {
            q->unsched = qp->unext;
        }
        if (qp->unext) {
            qp->unext->uprev = qp->uprev;
        }
        qp->uprev = qp->unext = NULL;
        q->nunsched--;
    }
    qp->where = Q_NONE;
}

static void push_unsched(sched_queue_t *q, sched_qpod_t *qp)
{
    qp->where = Q_UNSCHED;
    qp->uprev = NULL;
    qp->unext = q->unsched;
    if (q->unsched) {
        q->unsched->uprev = qp;
    }
    q->unsched = qp;
    q->nunsched++;
}

/* To the active queue, or to the backoff queue while the pod is still backing off. */
static void requeue(sched_queue_t *q, sched_qpod_t *qp, uint64_t now)
{
    unlink_qpod(q, qp);
    heap_push(q, qp->attempts && backoff_expiry(q, qp) > now ? Q_BACKOFF : Q_ACTIVE, qp);
}

/* ---- the queue ---- */

void sched_queue_init(sched_queue_t *q, uint64_t initial_backoff_ms, uint64_t max_backoff_ms)
{
    memset(q, 0, sizeof(*q));
    q->initial_backoff_ms = initial_backoff_ms ? initial_backoff_ms : 1000;
    q->max_backoff_ms = max_backoff_ms ? max_backoff_ms : 10000;
}

static void free_qpod(sched_cache_t *c, sched_qpod_t *qp)
{
    sched_pod_free(c, qp->p);
    free(qp->key);
    free(qp);
}

void sched_queue_free(sched_cache_t *c, sched_queue_t *q)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&q->pods, &it, &k, &v)) {
        free_qpod(c, v);
    }
    ek_map_free(&q->pods);
    free(q->active);
    free(q->backoff);
    memset(q, 0, sizeof(*q));
}

sched_qpod_t *sched_queue_get(const sched_queue_t *q, const char *key)
{
    return ek_map_get(&q->pods, key);
}

/* Whether an update may change the scheduling outcome (not just status or metadata churn). */
static bool relevant_update(const sched_pod_t *old, const sched_pod_t *p)
{
    if (!old) {
        return true;
    }
    return !json_equal(ek_json_path(old->obj, "spec", NULL), ek_json_path(p->obj, "spec", NULL)) ||
           old->group != p->group;
}

sched_qpod_t *sched_queue_add(sched_cache_t *c, sched_queue_t *q, sched_pod_t *p, uint64_t now)
{
    sched_qpod_t *qp = ek_map_get(&q->pods, p->key);
    if (!qp) {
        qp = ek_new(sched_qpod_t);
        qp->key = ek_xstrdup(p->key);
        qp->timestamp_ms = qp->initial_ms = now;
        ek_map_put(&q->pods, qp->key, qp);
    }
    bool changed = relevant_update(qp->p, p);
    sched_pod_free(c, qp->p);
    qp->p = p;
    if (qp->where == Q_INFLIGHT) {
        return qp; /* its attempt ends first */
    }
    if (p->gated) {
        unlink_qpod(q, qp);
        qp->where = Q_GATED;
    } else if (qp->where == Q_NONE || qp->where == Q_GATED || (qp->where == Q_UNSCHED && changed)) {
        requeue(q, qp, now);
    } else if (qp->where == Q_ACTIVE || qp->where == Q_BACKOFF) {
        /* A new priority reorders it. */
        heap_t h = heap_of(q, qp->where);
        sift_down(q, &h, qp->heap_idx);
        sift_up(q, &h, qp->heap_idx);
    }
    return qp;
}

void sched_queue_delete(sched_cache_t *c, sched_queue_t *q, const char *key)
{
    sched_qpod_t *qp = ek_map_del(&q->pods, key);
    if (qp) {
        unlink_qpod(q, qp);
        free_qpod(c, qp);
    }
}

sched_qpod_t *sched_queue_pop(sched_queue_t *q)
{
    if (!q->nactive) {
        return NULL;
    }
    sched_qpod_t *qp = q->active[0];
    heap_remove(q, qp);
    qp->where = Q_INFLIGHT;
    qp->attempts++;
    return qp;
}

void sched_queue_failed(sched_queue_t *q, sched_qpod_t *qp, bool unschedulable, uint64_t now)
{
    unlink_qpod(q, qp);
    qp->timestamp_ms = now;
    if (unschedulable) {
        qp->unsched_since_ms = now;
        push_unsched(q, qp);
    } else {
        heap_push(q, Q_BACKOFF, qp);
    }
}

uint64_t sched_queue_flush_backoff(sched_queue_t *q, uint64_t now)
{
    while (q->nbackoff) {
        sched_qpod_t *qp = q->backoff[0];
        uint64_t at = backoff_expiry(q, qp);
        if (at > now) {
            return at - now;
        }
        heap_remove(q, qp);
        heap_push(q, Q_ACTIVE, qp);
    }
    return UINT64_MAX;
}

size_t sched_queue_move(sched_queue_t *q, bool (*want)(sched_qpod_t *qp, void *data), void *data,
                        uint64_t now)
{
    size_t moved = 0;
    sched_qpod_t *qp = q->unsched;
    while (qp) {
        sched_qpod_t *next = qp->unext;
        if (want(qp, data)) {
            requeue(q, qp, now);
            moved++;
        }
        qp = next;
    }
    return moved;
}

size_t sched_queue_flush_unschedulable(sched_queue_t *q, uint64_t max_ms, uint64_t now)
{
    size_t moved = 0;
    sched_qpod_t *qp = q->unsched;
    while (qp) {
        sched_qpod_t *next = qp->unext;
        if (now - qp->unsched_since_ms > max_ms) {
            requeue(q, qp, now);
            moved++;
        }
        qp = next;
    }
    return moved;
}

size_t sched_queue_count(const sched_queue_t *q, sched_qwhere_t where)
{
    if (where == Q_ACTIVE) {
        return q->nactive;
    }
    if (where == Q_BACKOFF) {
        return q->nbackoff;
    }
    if (where == Q_UNSCHED) {
        return q->nunsched;
    }
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&q->pods, &it, &k, &v)) {
        n += ((sched_qpod_t *)v)->where == where;
    }
    return n;
}
