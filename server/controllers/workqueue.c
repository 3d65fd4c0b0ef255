/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A controller's work queue, as client-go's rate-limited queue behaves: keys are deduplicated,
 * a key is handed to at most one sync at a time (a key added meanwhile is synced again after),
 * failed syncs come back after an exponential per-key delay (5 ms doubling to 5 min), and
 * syncs may ask to run again later. Syncs are started from a uv_idle handle, never from inside
 * ctrl_enqueue, so handlers may enqueue freely.
 */
#include "server/controllers/controllers-internal.h"

#define BACKOFF_BASE_MS 5
#define BACKOFF_MAX_MS  (5 * 60 * 1000)

enum { ST_IDLE, ST_QUEUED, ST_PROCESSING, ST_PROCESSING_DIRTY };

struct item {
    int state;
    int failures;
};

struct delayed {
    uint64_t due;
    char *key;
};

struct ctrl {
    ctrl_manager_t *m;
    char *name;
    ctrl_sync_fn sync;
    void *data;
    int workers;
    int active;
    ek_map_t items; /* key → struct item* */
    char **queue;   /* ring of owned keys */
    size_t qhead, qlen, qcap;
    struct delayed *heap;
    size_t nheap, capheap;
    uv_idle_t idle;
    uv_timer_t timer;
    bool idle_on;
    int closed; /* handles closed so far, of two */
};

static void push(ctrl_t *c, const char *key)
{
    if (c->qlen == c->qcap) {
        size_t ncap = c->qcap ? c->qcap * 2 : 64;
        char **nq = ek_xcalloc(ncap, sizeof(char *));
        for (size_t i = 0; i < c->qlen; i++) {
            nq[i] = c->queue[(c->qhead + i) % c->qcap];
        }
        free(c->queue);
        c->queue = nq;
        c->qcap = ncap;
        c->qhead = 0;
    }
    c->queue[(c->qhead + c->qlen) % c->qcap] = ek_xstrdup(key);
    c->qlen++;
}

static char *pop(ctrl_t *c)
{
    char *k = c->queue[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    return k;
}

static void on_idle(uv_idle_t *h);

static void wake(ctrl_t *c)
{
    if (!c->idle_on && c->qlen > 0 && c->active < c->workers && c->m->started) {
        uv_idle_start(&c->idle, on_idle);
        c->idle_on = true;
    }
}

void ctrl_enqueue(ctrl_t *c, const char *key)
{
    struct item *it = ek_map_get(&c->items, key);
    if (!it) {
        it = ek_new(struct item);
        ek_map_put(&c->items, key, it);
    }
    switch (it->state) {
    case ST_IDLE:
        it->state = ST_QUEUED;
        push(c, key);
        wake(c);
        break;
    case ST_PROCESSING:
        it->state = ST_PROCESSING_DIRTY;
        break;
    default:
        break;
    }
}

void ctrl_enqueue_obj(ctrl_t *c, const json_t *obj)
{
    ek_autofree char *key = obj_key(obj);
    ctrl_enqueue(c, key);
}

/* ---- delayed keys: a min-heap by due time driving one timer ---- */

static void heap_swap(struct delayed *h, size_t a, size_t b)
{
    struct delayed t = h[a];
    h[a] = h[b];
    h[b] = t;
}

static void heap_push(ctrl_t *c, uint64_t due, const char *key)
{
    if (c->nheap == c->capheap) {
        c->capheap = c->capheap ? c->capheap * 2 : 32;
        c->heap = ek_xrealloc(c->heap, c->capheap * sizeof(*c->heap));
    }
    size_t i = c->nheap++;
    c->heap[i] = (struct delayed){ due, ek_xstrdup(key) };
    while (i > 0 && c->heap[(i - 1) / 2].due > c->heap[i].due) {
        heap_swap(c->heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct delayed heap_pop(ctrl_t *c)
{
    struct delayed top = c->heap[0];
    c->heap[0] = c->heap[--c->nheap];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->nheap && c->heap[l].due < c->heap[m].due) {
            m = l;
        }
        if (r < c->nheap && c->heap[r].due < c->heap[m].due) {
            m = r;
        }
        if (m == i) {
            break;
        }
        heap_swap(c->heap, i, m);
        i = m;
    }
    return top;
}

static void arm_timer(ctrl_t *c);

static void on_timer(uv_timer_t *t)
{
    ctrl_t *c = t->data;
    uint64_t now = uv_now(c->m->loop);
    while (c->nheap && c->heap[0].due <= now) {
        struct delayed d = heap_pop(c);
        ctrl_enqueue(c, d.key);
        free(d.key);
    }
    arm_timer(c);
}

static void arm_timer(ctrl_t *c)
{
    if (!c->nheap) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->m->loop);
    uint64_t due = c->heap[0].due;
    uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
}

void ctrl_enqueue_after(ctrl_t *c, const char *key, uint64_t ms)
{
    if (ms == 0) {
        ctrl_enqueue(c, key);
        return;
    }
    heap_push(c, uv_now(c->m->loop) + ms, key);
    arm_timer(c);
}

/* ---- processing ---- */

static void on_idle(uv_idle_t *h)
{
    ctrl_t *c = h->data;
    /* Bounded work per loop turn, so one busy controller cannot starve I/O. */
    for (int n = 0; n < 64 && c->qlen > 0 && c->active < c->workers; n++) {
        ek_autofree char *key = pop(c);
        struct item *it = ek_map_get(&c->items, key);
        if (!it || it->state != ST_QUEUED) {
            continue;
        }
        it->state = ST_PROCESSING;
        c->active++;
        c->sync(c, key, c->data);
    }
    if (c->qlen == 0 || c->active >= c->workers || !c->m->started) {
        uv_idle_stop(&c->idle);
        c->idle_on = false;
    }
}

void ctrl_done(ctrl_t *c, const char *key, int result)
{
    struct item *it = ek_map_get(&c->items, key);
    if (!it || (it->state != ST_PROCESSING && it->state != ST_PROCESSING_DIRTY)) {
        EK_LOG(EK_WARN, "controllers", "done for a key not being synced ctrl=%s key=%s", c->name,
               key);
        return;
    }
    bool dirty = it->state == ST_PROCESSING_DIRTY;
    c->active--;
    it->state = ST_IDLE;
    if (result == SYNC_RETRY) {
        it->failures++;
        uint64_t delay = BACKOFF_BASE_MS;
        for (int i = 1; i < it->failures && delay < BACKOFF_MAX_MS; i++) {
            delay *= 2;
        }
        delay = EK_MIN(delay, (uint64_t)BACKOFF_MAX_MS);
        EK_LOG(EK_DEBUG, "controllers", "sync failed, retrying ctrl=%s key=%s in_ms=%llu", c->name,
               key, (unsigned long long)delay);
        if (dirty) {
            ctrl_enqueue(c, key);
        } else {
            ctrl_enqueue_after(c, key, delay);
        }
    } else {
        it->failures = 0;
        if (dirty) {
            ctrl_enqueue(c, key);
        } else {
            free(ek_map_del(&c->items, key));
        }
        if (result > 0) {
            ctrl_enqueue_after(c, key, (uint64_t)result);
        }
    }
    wake(c);
}

ctrl_t *ctrl_new(ctrl_manager_t *m, const char *name, ctrl_sync_fn sync, void *data, int workers)
{
    ctrl_t *c = ek_new(ctrl_t);
    c->m = m;
    c->name = ek_xstrdup(name);
    c->sync = sync;
    c->data = data;
    c->workers = workers > 0 ? workers : 4;
    uv_idle_init(m->loop, &c->idle);
    uv_timer_init(m->loop, &c->timer);
    c->idle.data = c->timer.data = c;
    m->ctrls = ek_xrealloc(m->ctrls, (m->n_ctrls + 1) * sizeof(*m->ctrls));
    m->ctrls[m->n_ctrls++] = c;
    return c;
}

/* Lets a manager that has just started (informers synced) kick every controller. */
void ctrl_kick(ctrl_t *c)
{
    wake(c);
}

ctrl_manager_t *ctrl_manager(ctrl_t *c)
{
    return c->m;
}

const char *ctrl_name(const ctrl_t *c)
{
    return c->name;
}

/* Freed with the second of its two handles: libuv runs close callbacks in no promised order
 * (newest first, in practice), so neither handle may assume it is the last. */
static void on_closed(uv_handle_t *h)
{
    ctrl_t *c = h->data;
    if (++c->closed == 2) {
        free(c);
    }
}

void ctrl_free(ctrl_t *c)
{
    while (c->qlen) {
        free(pop(c));
    }
    free(c->queue);
    while (c->nheap) {
        free(heap_pop(c).key);
    }
    free(c->heap);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&c->items, &it, &k, &v)) {
        free(v);
    }
    ek_map_free(&c->items);
    free(c->name);
    uv_close((uv_handle_t *)&c->idle, on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
}
