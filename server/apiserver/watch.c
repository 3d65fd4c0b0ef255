/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch streams. A watcher sits on its resource's bucket and receives every event from the
 * commit path; it filters by namespace, label and field selectors (an object that starts or
 * stops matching becomes ADDED or DELETED for that watcher, as Kubernetes' watch cache does),
 * encodes the event once per watcher kind (the object's JSON text is shared by everyone), and
 * writes a chunk. Streams end at timeoutSeconds, when the client leaves, when the client
 * falls too far behind, or at shutdown.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

#define MAX_PENDING_BYTES (32u << 20)
#define BOOKMARK_MS       60000
#define DEFAULT_TIMEOUT_S 1800

struct watcher {
    watcher_t *next, *prev;
    bucket_t *b;
    apireq_t *r;
    filter_t *f;
    const ek_resource_t *res;
    bool table;
    bool columns_sent;
    bool bookmarks;
    bool ended;
    int64_t rev;
    uv_timer_t timeout;
    uv_timer_t bookmark;
    int timers_open;
};

static void watcher_finish(watcher_t *w);

static void write_event(watcher_t *w, const char *type, obj_t *o, int64_t rev)
{
    apireq_t *r = w->r;
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
    if (w->table) {
        ek_auto(json_t) t = table_build(w->res, &o, 1, r->p.include_object, !w->columns_sent, rev);
        w->columns_sent = true;
        ek_json_dump_buf(t, &b);
    } else {
        size_t len;
        const char *bytes = obj_bytes(o, &len);
        ek_buf_append(&b, bytes, len);
    }
    ek_buf_puts(&b, "}\n");
    w->rev = rev;
    if (r->ops->stream_write(r, b.data, b.len) < 0 ||
        r->ops->stream_pending(r) > MAX_PENDING_BYTES) {
        /* Gone, or too slow to keep up: end it; the client will watch again. */
        watcher_finish(w);
    }
}

static void write_raw(watcher_t *w, const char *line)
{
    if (w->r->ops->stream_write(w->r, line, strlen(line)) < 0) {
        watcher_finish(w);
    }
}

static void write_bookmark(watcher_t *w, int64_t rev, bool initial_end)
{
    char av[128];
    char line[512];
    snprintf(line, sizeof(line),
             "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
             "\"metadata\":{\"resourceVersion\":\"%lld\",\"creationTimestamp\":null%s}}}\n",
             w->res->kind, ek_resource_api_version(w->res, av), (long long)rev,
             initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
    write_raw(w, line);
}

static void deliver(watcher_t *w, const event_t *ev)
{
    bool now_match = ev->type != EK_KV_DELETED && filter_match(w->f, ev->obj->json);
    bool was_match = ev->prev && filter_match(w->f, ev->prev->json);
    if (ev->type == EK_KV_DELETED) {
        if (was_match || filter_match(w->f, ev->obj->json)) {
            write_event(w, "DELETED", ev->obj, ev->rev);
        }
    } else if (now_match && was_match) {
        write_event(w, "MODIFIED", ev->obj, ev->rev);
    } else if (now_match) {
        write_event(w, "ADDED", ev->obj, ev->rev);
    } else if (was_match) {
        /* It stopped matching: for this watcher it is gone (with its new state). */
        write_event(w, "DELETED", ev->obj, ev->rev);
    }
}

void watchers_dispatch(bucket_t *b, const event_t *ev)
{
    watcher_t *next;
    for (watcher_t *w = b->watchers; w; w = next) {
        next = w->next;
        if (!w->ended && ev->rev > w->rev) {
            deliver(w, ev);
        }
    }
}

static void unlink_watcher(watcher_t *w)
{
    if (w->prev) {
        w->prev->next = w->next;
    } else if (w->b && w->b->watchers == w) {
        w->b->watchers = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    w->next = w->prev = NULL;
    w->b = NULL;
}

static void timer_closed(uv_handle_t *h)
{
    watcher_t *w = h->data;
    if (--w->timers_open == 0) {
        filter_free(w->f);
        free(w);
    }
}

/* Ends the stream (if the client is still there), unlinks and frees the watcher. */
static void watcher_finish(watcher_t *w)
{
    if (w->ended) {
        return;
    }
    w->ended = true;
    unlink_watcher(w);
    apireq_t *r = w->r;
    metrics_watch_delta(r->srv->metrics, -1);
    r->watcher = NULL;
    r->on_close = NULL;
    w->r = NULL;
    uv_close((uv_handle_t *)&w->timeout, timer_closed);
    uv_close((uv_handle_t *)&w->bookmark, timer_closed);
    r->status = 200;
    r->ops->stream_end(r);
    apireq_free(r);
}

static void on_timeout(uv_timer_t *t)
{
    watcher_finish(t->data);
}

static void on_bookmark(uv_timer_t *t)
{
    watcher_t *w = t->data;
    if (w->b) {
        write_bookmark(w, EK_MAX(w->rev, w->r->srv->store.rev), false);
    }
}

static void on_client_close(apireq_t *r)
{
    if (r->watcher) {
        watcher_finish(r->watcher);
    }
}

void watchers_close_all(store_t *s)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->buckets, &it, &k, &v)) {
        bucket_t *b = v;
        while (b->watchers) {
            watcher_finish(b->watchers);
        }
    }
}

/* Parses the watch's starting revision: 0 = current state first, else events after it. */
static int start_rev(apireq_t *r, int64_t *out)
{
    const char *rv = r->p.resource_version;
    *out = 0;
    if (!rv || !*rv || strcmp(rv, "0") == 0 || r->p.send_initial_events) {
        return 0;
    }
    char *end;
    long long v = strtoll(rv, &end, 10);
    if (*end || v < 0) {
        send_status(r, 400, "BadRequest", NULL, NULL, "invalid resource version: %s", rv);
        return -1;
    }
    *out = v;
    return 0;
}

static void send_initial_state(watcher_t *w, store_t *s)
{
    size_t n;
    ek_autofree obj_t **objs = store_list(s, w->res, w->r->rt.ns, &n);
    for (size_t i = 0; i < n && !w->ended; i++) {
        if (filter_match(w->f, objs[i]->json)) {
            write_event(w, "ADDED", objs[i], objs[i]->rev);
        }
    }
    w->rev = s->rev;
}

static void replay(watcher_t *w, bucket_t *b, int64_t from)
{
    w->rev = from;
    for (size_t i = 0; i < b->ring_n && !w->ended; i++) {
        const event_t *ev = &b->ring[(b->ring_head + i) % b->ring_cap];
        if (ev->rev > from) {
            deliver(w, ev);
        }
    }
    if (!w->ended) {
        w->rev = EK_MAX(w->rev, w->r->srv->store.rev);
    }
}

void handle_watch(apireq_t *r)
{
    store_t *s = &r->srv->store;
    ek_error_t *err = NULL;
    filter_t *f = filter_new(r->rt.res, r->rt.ns, r->p.label_selector, r->p.field_selector, &err);
    if (!f) {
        send_error(r, NULL, NULL, err);
        ek_error_free(err);
        return;
    }
    int64_t from;
    if (start_rev(r, &from) < 0) {
        filter_free(f);
        return;
    }
    bucket_t *b = store_bucket(s, r->rt.res);
    watcher_t *w = ek_new(watcher_t);
    w->r = r;
    w->f = f;
    w->res = r->rt.res;
    w->table = wants_table(r);
    w->bookmarks = r->p.allow_bookmarks;
    r->watcher = w;
    r->on_close = on_client_close;
    r->streaming = true;
    metrics_watch_delta(r->srv->metrics, +1);
    r->ops->stream_begin(
        r, 200, w->table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json");
    uv_timer_init(r->srv->loop, &w->timeout);
    uv_timer_init(r->srv->loop, &w->bookmark);
    w->timeout.data = w->bookmark.data = w;
    w->timers_open = 2;
    long long secs = r->p.timeout_seconds > 0 ? r->p.timeout_seconds : DEFAULT_TIMEOUT_S;
    uv_timer_start(&w->timeout, on_timeout, (uint64_t)secs * 1000, 0);
    if (w->bookmarks) {
        uv_timer_start(&w->bookmark, on_bookmark, BOOKMARK_MS, BOOKMARK_MS);
    }
    if (from > 0 && from < b->evicted_rev) {
        char line[512];
        snprintf(line, sizeof(line),
                 "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                 "\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: "
                 "%lld (%lld)\",\"reason\":\"Expired\",\"code\":410}}\n",
                 (long long)from, (long long)b->evicted_rev + 1);
        write_raw(w, line);
        watcher_finish(w);
        return;
    }
    if (from == 0) {
        send_initial_state(w, s);
        if (!w->ended && r->p.send_initial_events && w->bookmarks) {
            write_bookmark(w, s->rev, true);
        }
    } else {
        replay(w, b, from);
    }
    if (w->ended) {
        return;
    }
    w->b = b;
    w->next = b->watchers;
    if (b->watchers) {
        b->watchers->prev = w;
    }
    b->watchers = w;
}
