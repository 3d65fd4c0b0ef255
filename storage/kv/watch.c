/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watches, fed from the commit path: every applied write becomes one event, recorded in a
 * bounded ring (the window) and handed to each matching watch before the write's own
 * callback runs. A watch from an older revision first gets the window's events after that
 * revision (its backlog, delivered on a later loop iteration, never from inside
 * ek_kv_watch), then live events; events that arrive before it starts join the backlog, so
 * nothing is lost or reordered in between. A revision older than the window fails 410.
 *
 * Watches may be cancelled from inside any callback; a cancelled watch stays linked until
 * the delivery in progress ends, so the walk over the list stays valid.
 */
#include <errno.h>

#include "storage/kv/kv-internal.h"

static void event_unref(ek_kv_event_t *ev)
{
    ek_kv_entry_unref(ev->entry);
    ek_kv_entry_unref(ev->prev);
}

static ek_kv_event_t event_copy(const ek_kv_event_t *ev)
{
    ek_kv_event_t c = *ev;
    ek_kv_entry_ref(c.entry);
    ek_kv_entry_ref(c.prev);
    return c;
}

static void backlog_push(ek_kv_watch_t *w, const ek_kv_event_t *ev)
{
    if (w->nbacklog == w->capbacklog) {
        w->capbacklog = w->capbacklog ? w->capbacklog * 2 : 16;
        w->backlog = ek_xrealloc(w->backlog, w->capbacklog * sizeof(*w->backlog));
    }
    w->backlog[w->nbacklog++] = event_copy(ev);
    w->last_rev = ev->rev;
}

static void backlog_clear(ek_kv_watch_t *w)
{
    for (size_t i = 0; i < w->nbacklog; i++) {
        event_unref(&w->backlog[i]);
    }
    free(w->backlog);
    w->backlog = NULL;
    w->nbacklog = w->capbacklog = 0;
}

static const ek_kv_event_t *window_at(const ek__kv_window_t *win, size_t i)
{
    return &win->ev[(win->start + i) % win->cap];
}

static void window_push(ek__kv_window_t *win, const ek_kv_event_t *ev)
{
    if (win->n == win->cap) {
        ek_kv_event_t *old = &win->ev[win->start];
        win->floor = old->rev;
        event_unref(old);
        win->start = (win->start + 1) % win->cap;
        win->n--;
    }
    win->ev[(win->start + win->n) % win->cap] = event_copy(ev);
    win->n++;
}

static bool matches(const ek_kv_watch_t *w, const char *key)
{
    return strncmp(key, w->prefix, w->plen) == 0;
}

static void watch_free(ek_kv_watch_t *w)
{
    backlog_clear(w);
    free(w->prefix);
    free(w);
}

static void unlink_watch(ek_kv_t *kv, ek_kv_watch_t *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        kv->watch_head = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    } else {
        kv->watch_tail = w->prev;
    }
}

/* Frees the watches cancelled while a delivery was walking the list. */
static void end_dispatch(ek_kv_t *kv)
{
    if (--kv->dispatching > 0 || !kv->has_dead) {
        return;
    }
    kv->has_dead = false;
    ek_kv_watch_t *w = kv->watch_head;
    while (w) {
        ek_kv_watch_t *next = w->next;
        if (w->cancelled) {
            unlink_watch(kv, w);
            watch_free(w);
        }
        w = next;
    }
}

void ek__kv_watch_emit(ek_kv_t *kv, ek_kv_event_type_t type, const ek_kv_entry_t *entry,
                       const ek_kv_entry_t *prev)
{
    ek_kv_event_t ev = { .type = type, .rev = entry->mod_rev, .entry = entry, .prev = prev };
    window_push(&kv->window, &ev);
    kv->dispatching++;
    for (ek_kv_watch_t *w = kv->watch_head; w; w = w->next) {
        if (w->cancelled || ev.rev <= w->last_rev || !matches(w, entry->key)) {
            continue;
        }
        if (!w->started) {
            backlog_push(w, &ev);
            continue;
        }
        w->last_rev = ev.rev;
        w->cb(&ev, w->data);
    }
    end_dispatch(kv);
}

/* First window index whose event is newer than rev (events are in revision order). */
static size_t window_after(const ek__kv_window_t *win, int64_t rev)
{
    size_t lo = 0, hi = win->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (window_at(win, mid)->rev <= rev) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

ek_kv_watch_t *ek_kv_watch(ek_kv_t *kv, const char *prefix, int64_t from_rev, ek_kv_watch_cb cb,
                           void *data, ek_error_t **err)
{
    if (kv->closing) {
        ek_error_status(err, 503, "store is closing");
        return NULL;
    }
    if (from_rev < 0) {
        ek_error_status(err, 400, "invalid revision %lld", (long long)from_rev);
        return NULL;
    }
    if (from_rev > 0 && from_rev < kv->window.floor) {
        ek_error_status(err, 410, "revision %lld is too old to watch from (oldest is %lld)",
                        (long long)from_rev, (long long)kv->window.floor);
        return NULL;
    }
    ek_kv_watch_t *w = ek_new(ek_kv_watch_t);
    w->kv = kv;
    w->prefix = ek_xstrdup(prefix ? prefix : "");
    w->plen = strlen(w->prefix);
    w->cb = cb;
    w->data = data;
    w->last_rev = from_rev ? from_rev : kv->rev;
    for (size_t i = window_after(&kv->window, w->last_rev); i < kv->window.n; i++) {
        const ek_kv_event_t *ev = window_at(&kv->window, i);
        if (matches(w, ev->entry->key)) {
            backlog_push(w, ev);
        }
    }
    w->prev = kv->watch_tail;
    if (kv->watch_tail) {
        kv->watch_tail->next = w;
    } else {
        kv->watch_head = w;
    }
    kv->watch_tail = w;
    kv->watch_starts = true;
    uv_async_send(&kv->wake);
    return w;
}

void ek__kv_watch_start_pending(ek_kv_t *kv)
{
    if (!kv->watch_starts) {
        return;
    }
    kv->watch_starts = false;
    kv->dispatching++;
    for (ek_kv_watch_t *w = kv->watch_head; w; w = w->next) {
        if (w->started || w->cancelled) {
            continue;
        }
        for (size_t i = 0; i < w->nbacklog && !w->cancelled; i++) {
            w->cb(&w->backlog[i], w->data);
        }
        backlog_clear(w);
        w->started = true;
    }
    end_dispatch(kv);
}

void ek_kv_watch_cancel(ek_kv_watch_t *w)
{
    if (!w || w->cancelled) {
        return;
    }
    ek_kv_t *kv = w->kv;
    w->cancelled = true;
    if (kv->dispatching > 0) {
        kv->has_dead = true;
        return;
    }
    unlink_watch(kv, w);
    watch_free(w);
}

void ek__kv_watch_free_all(ek_kv_t *kv)
{
    ek_kv_watch_t *w = kv->watch_head;
    while (w) {
        ek_kv_watch_t *next = w->next;
        watch_free(w);
        w = next;
    }
    kv->watch_head = kv->watch_tail = NULL;
    for (size_t i = 0; i < kv->window.n; i++) {
        event_unref(&kv->window.ev[(kv->window.start + i) % kv->window.cap]);
    }
    free(kv->window.ev);
    kv->window.ev = NULL;
    kv->window.n = 0;
}
