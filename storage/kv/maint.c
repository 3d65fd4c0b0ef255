/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Upkeep that runs by itself on the loop's timers, each armed only while it has work, so an
 * idle store wakes nobody:
 *  - TTL: a min-heap of (expiry, revision, key); one timer for the earliest expiry deletes
 *    the key if it still has that revision (a DELETED event follows).
 *  - Compaction: superseded versions wait in a FIFO in revision order; a batch drops at most
 *    EK__KV_COMPACT_MAX of them that fell out of the history window, then yields the loop.
 *  - Volatile flush: keys written with EK_KV_VOLATILE wait in a set; the first one arms a
 *    timer for volatile_flush_ms, which writes the newest value of each in one transaction.
 * The database's WAL is checkpointed by SQLite after each transaction that takes it past
 * 1000 pages, and truncated back to 4 MiB (see sqlite.c), so it cannot grow without bound.
 */
#include "storage/kv/kv-internal.h"

/* ---- volatile keys ---- */

static void on_flush_timer(uv_timer_t *t)
{
    ek_kv_t *kv = t->data;
    kv->flush_armed = false;
    ek__kv_flush_volatile(kv);
}

void ek__kv_vol_add(ek_kv_t *kv, ek__kv_node_t *n)
{
    if (n->vol_idx < 0) {
        if (kv->nvol == kv->capvol) {
            kv->capvol = kv->capvol ? kv->capvol * 2 : 16;
            kv->vol = ek_xrealloc(kv->vol, kv->capvol * sizeof(*kv->vol));
        }
        n->vol_idx = (int32_t)kv->nvol;
        kv->vol[kv->nvol++] = n;
    }
    if (!kv->flush_armed && kv->started && !kv->closing) {
        uv_timer_start(&kv->flush_timer, on_flush_timer, (uint64_t)kv->opts.volatile_flush_ms, 0);
        kv->flush_armed = true;
    }
}

void ek__kv_vol_remove(ek_kv_t *kv, ek__kv_node_t *n)
{
    if (n->vol_idx < 0) {
        return;
    }
    ek__kv_node_t *last = kv->vol[--kv->nvol];
    kv->vol[n->vol_idx] = last;
    last->vol_idx = n->vol_idx;
    n->vol_idx = -1;
}

void ek__kv_flush_volatile(ek_kv_t *kv)
{
    if (kv->flush_armed) {
        uv_timer_stop(&kv->flush_timer);
        kv->flush_armed = false;
    }
    if (kv->nvol == 0) {
        return;
    }
    ek__kv_job_t *j = ek_new(ek__kv_job_t);
    j->kind = EK__KV_JOB_FLUSH;
    j->seq = kv->next_seq;
    j->rows = ek_xmalloc(kv->nvol * sizeof(*j->rows));
    /*
     * A key with a write in flight stays pending: a durable write queued before this flush
     * must not be overwritten by an older value, and if it fails the value here is still
     * the newest one and must reach the disk later.
     */
    size_t keep = 0;
    for (size_t i = 0; i < kv->nvol; i++) {
        ek__kv_node_t *n = kv->vol[i];
        if (n->inflight > 0) {
            n->vol_idx = (int32_t)keep;
            kv->vol[keep++] = n;
            continue;
        }
        const ek_kv_entry_t *e = ek__kv_node_current(n);
        ek_assert(e);
        j->rows[j->nrows++] = ek_kv_entry_ref(e);
        n->vol_idx = -1;
    }
    kv->nvol = keep;
    if (j->nrows) {
        ek__kv_writer_push(kv, j);
    } else {
        free(j->rows);
        free(j);
    }
    if (keep && kv->started && !kv->closing) {
        uv_timer_start(&kv->flush_timer, on_flush_timer, 100, 0);
        kv->flush_armed = true;
    }
}

/* ---- TTL ---- */

static bool ttl_less(const ek__kv_ttl_item_t *a, const ek__kv_ttl_item_t *b)
{
    return a->expires_at < b->expires_at;
}

static void ttl_swap(ek__kv_ttl_item_t *a, ek__kv_ttl_item_t *b)
{
    ek__kv_ttl_item_t t = *a;
    *a = *b;
    *b = t;
}

static void ttl_push(ek_kv_t *kv, int64_t expires_at, int64_t rev, const char *key)
{
    if (kv->nttl == kv->capttl) {
        kv->capttl = kv->capttl ? kv->capttl * 2 : 16;
        kv->ttl = ek_xrealloc(kv->ttl, kv->capttl * sizeof(*kv->ttl));
    }
    size_t i = kv->nttl++;
    kv->ttl[i] = (ek__kv_ttl_item_t){ expires_at, rev, ek_xstrdup(key) };
    while (i > 0 && ttl_less(&kv->ttl[i], &kv->ttl[(i - 1) / 2])) {
        ttl_swap(&kv->ttl[i], &kv->ttl[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static ek__kv_ttl_item_t ttl_pop(ek_kv_t *kv)
{
    ek__kv_ttl_item_t top = kv->ttl[0];
    kv->ttl[0] = kv->ttl[--kv->nttl];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < kv->nttl && ttl_less(&kv->ttl[l], &kv->ttl[m])) {
            m = l;
        }
        if (r < kv->nttl && ttl_less(&kv->ttl[r], &kv->ttl[m])) {
            m = r;
        }
        if (m == i) {
            break;
        }
        ttl_swap(&kv->ttl[i], &kv->ttl[m]);
        i = m;
    }
    return top;
}

static void on_ttl_timer(uv_timer_t *t);

static void ttl_arm(ek_kv_t *kv)
{
    if (!kv->started || kv->closing) {
        return;
    }
    if (kv->nttl == 0) {
        uv_timer_stop(&kv->ttl_timer);
        return;
    }
    int64_t due_ms = kv->ttl[0].expires_at * 1000 - ek_wall_ms();
    uv_timer_start(&kv->ttl_timer, on_ttl_timer, due_ms > 0 ? (uint64_t)due_ms : 0, 0);
}

static void on_ttl_timer(uv_timer_t *t)
{
    ek_kv_t *kv = t->data;
    int64_t now = ek_wall_ms() / 1000;
    while (kv->nttl && kv->ttl[0].expires_at <= now) {
        ek__kv_ttl_item_t it = ttl_pop(kv);
        ek__kv_node_t *n = ek__kv_index_find(&kv->index, it.key);
        /* Stale items (the key changed since) are dropped here rather than searched for. */
        if (n && n->latest && n->latest->mod_rev == it.rev &&
            n->latest->expires_at == it.expires_at) {
            ek_kv_delete(kv, it.key, it.rev, NULL, NULL);
        }
        free(it.key);
    }
    ttl_arm(kv);
}

/* ---- compaction ---- */

static void hist_push(ek_kv_t *kv, ek__kv_node_t *n, int64_t rev)
{
    if (kv->hist_n == kv->hist_cap) {
        size_t cap = kv->hist_cap ? kv->hist_cap * 2 : 64;
        ek__kv_hist_item_t *h = ek_xmalloc(cap * sizeof(*h));
        for (size_t i = 0; i < kv->hist_n; i++) {
            h[i] = kv->hist[(kv->hist_start + i) % kv->hist_cap];
        }
        free(kv->hist);
        kv->hist = h;
        kv->hist_cap = cap;
        kv->hist_start = 0;
    }
    kv->hist[(kv->hist_start + kv->hist_n) % kv->hist_cap] = (ek__kv_hist_item_t){ n, rev };
    kv->hist_n++;
}

static void on_compact_timer(uv_timer_t *t);

static void compact_arm(ek_kv_t *kv, uint64_t delay_ms)
{
    if (kv->started && !kv->closing) {
        uv_timer_start(&kv->compact_timer, on_compact_timer, delay_ms, 0);
        kv->compact_armed = true;
    }
}

void ek__kv_node_gc(ek_kv_t *kv, ek__kv_node_t *n)
{
    if (n->nvers == 0 && n->inflight == 0 && n->vol_idx < 0) {
        ek__kv_index_remove(&kv->index, n);
    }
}

bool ek__kv_compact_batch(ek_kv_t *kv)
{
    int64_t target = kv->rev - kv->opts.history_revisions;
    uint64_t t0 = ek_now_ns();
    size_t done = 0;
    int64_t last = 0;
    while (kv->hist_n && done < EK__KV_COMPACT_MAX) {
        ek__kv_hist_item_t it = kv->hist[kv->hist_start];
        if (it.rev > target) {
            break;
        }
        kv->hist_start = (kv->hist_start + 1) % kv->hist_cap;
        kv->hist_n--;
        ek__kv_node_compact(it.node, it.rev);
        ek__kv_node_gc(kv, it.node);
        last = it.rev;
        done++;
    }
    bool more = kv->hist_n && kv->hist[kv->hist_start].rev <= target;
    /* Lists below the newest compaction point could miss a dropped version: 410 them. */
    int64_t upto = more ? last : target;
    kv->compacted_rev = EK_MAX(kv->compacted_rev, upto);
    int64_t us = (int64_t)(ek_now_ns() - t0) / 1000;
    kv->compact_max_us = EK_MAX(kv->compact_max_us, us);
    return more;
}

static void on_compact_timer(uv_timer_t *t)
{
    ek_kv_t *kv = t->data;
    kv->compact_armed = false;
    if (ek__kv_compact_batch(kv)) {
        compact_arm(kv, 1); /* more is due: next batch after the loop has breathed */
    } else if (kv->hist_n) {
        compact_arm(kv, EK__KV_COMPACT_MS);
    }
}

void ek__kv_maint_note_version(ek_kv_t *kv, ek__kv_node_t *n, const ek_kv_entry_t *e,
                               bool superseded)
{
    bool deleted = ek__kv_entry_deleted(e);
    if (e->expires_at > 0 && !deleted) {
        bool earliest = kv->nttl == 0 || e->expires_at < kv->ttl[0].expires_at;
        ttl_push(kv, e->expires_at, e->mod_rev, e->key);
        if (earliest) {
            ttl_arm(kv);
        }
    }
    if (superseded || deleted) {
        hist_push(kv, n, e->mod_rev);
        if (!kv->compact_armed) {
            compact_arm(kv, EK__KV_COMPACT_MS);
        }
    }
}

/* ---- lifecycle ---- */

void ek__kv_maint_init(ek_kv_t *kv)
{
    uv_timer_t *ts[] = { &kv->flush_timer, &kv->ttl_timer, &kv->compact_timer };
    for (size_t i = 0; i < EK_ARRAY_SIZE(ts); i++) {
        ek_assert(uv_timer_init(kv->loop, ts[i]) == 0);
        ts[i]->data = kv;
        kv->handles_open++;
    }
}

void ek__kv_maint_start(ek_kv_t *kv)
{
    kv->started = true;
    ttl_arm(kv);
}

void ek__kv_maint_stop(ek_kv_t *kv)
{
    uv_timer_stop(&kv->flush_timer);
    uv_timer_stop(&kv->ttl_timer);
    uv_timer_stop(&kv->compact_timer);
    kv->flush_armed = kv->compact_armed = false;
}

void ek__kv_maint_free(ek_kv_t *kv)
{
    for (size_t i = 0; i < kv->nttl; i++) {
        free(kv->ttl[i].key);
    }
    free(kv->ttl);
    free(kv->hist);
    free(kv->vol);
    kv->ttl = NULL;
    kv->hist = NULL;
    kv->vol = NULL;
    kv->nttl = kv->hist_n = kv->nvol = 0;
}
