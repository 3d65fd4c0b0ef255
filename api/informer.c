/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Informers: a local, always-current copy of one resource (optionally one namespace and
 * selectors), kept as client-go's reflector keeps it. A paginated list (limit 500, following
 * continue tokens) fills the cache; a watch from the list's resourceVersion (with bookmarks)
 * keeps it current. When the watch ends the informer watches again from the last revision it
 * saw, after a jittered, capped, exponential backoff that resets once a watch has been healthy;
 * when the revision has expired (410, as an HTTP status or an in-stream ERROR) it lists again
 * and turns the difference between the new list and its cache into adds, updates and deletes,
 * so handlers never miss a change, only the intermediate states. HTTP errors other than 410
 * also re-list (the cache may be wrong), connection failures only re-watch.
 *
 * Objects are the JSON the client decoded, shared by reference and never modified. The
 * informer itself is freed once its last timer is closed and its last call has reported, so
 * a handler may free it (or the client) from inside a callback.
 */
#include <errno.h>
#include <stdio.h>

#include "api/api.h"

#define LIST_PAGE        "500"
#define BACKOFF_INITIAL  500
#define BACKOFF_MAX      30000
#define HEALTHY_WATCH_MS 30000

typedef struct hset {
    ek_informer_handlers_t h;
    void *data;
} hset_t;

typedef enum { NEXT_LIST, NEXT_WATCH } next_t;

struct ek_informer {
    ek_api_client_t *c;
    const ek_resource_t *r;
    char *ns, *label_sel, *field_sel;
    uint64_t resync_ms;
    ek_map_t cache; /* "ns/name" or "name" → json_t* (a reference) */
    hset_t *hs;
    size_t n_hs;
    json_t *(*transform)(json_t *obj, void *data); /* optional: what the cache keeps */
    void *transform_data;
    char *rv; /* newest resourceVersion seen */
    /* a list in progress */
    ek_map_t fresh;
    char *list_rv;
    char *cont;
    ek_api_call_t *call; /* the list page or watch in flight */
    uv_timer_t retry;
    uv_timer_t resync;
    next_t next;
    uint64_t backoff_ms;
    uint64_t watch_start_ms;
    unsigned seed;
    int refs; /* the owner's, each open timer's, the call in flight's, running dispatches' */
    bool started, synced, stopping;
};

static void start_list(ek_informer_t *inf);
static void start_watch(ek_informer_t *inf);

/* ---- lifetime ---- */

static void map_clear(ek_map_t *m)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(m, &it, &k, &v)) {
        json_decref(v);
    }
    ek_map_free(m);
    *m = (ek_map_t)EK_MAP_INIT;
}

static void inf_unref(ek_informer_t *inf)
{
    if (--inf->refs > 0) {
        return;
    }
    map_clear(&inf->cache);
    map_clear(&inf->fresh);
    free(inf->hs);
    free(inf->ns);
    free(inf->label_sel);
    free(inf->field_sel);
    free(inf->rv);
    free(inf->list_rv);
    free(inf->cont);
    free(inf);
}

static void timer_closed(uv_handle_t *h)
{
    inf_unref(h->data);
}

ek_informer_t *ek_informer_new(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                               const char *label_sel, const char *field_sel, uint64_t resync_ms)
{
    ek_informer_t *inf = ek_new(ek_informer_t);
    inf->c = c;
    inf->r = r;
    inf->ns = r->namespaced && ns && *ns ? ek_xstrdup(ns) : NULL;
    inf->label_sel = label_sel && *label_sel ? ek_xstrdup(label_sel) : NULL;
    inf->field_sel = field_sel && *field_sel ? ek_xstrdup(field_sel) : NULL;
    inf->resync_ms = resync_ms;
    inf->backoff_ms = BACKOFF_INITIAL;
    inf->seed = (unsigned)(ek_now_ns() ^ (uintptr_t)inf);
    uv_loop_t *loop = ek_api_client_loop(c);
    uv_timer_init(loop, &inf->retry);
    uv_timer_init(loop, &inf->resync);
    inf->retry.data = inf->resync.data = inf;
    inf->refs = 3;
    return inf;
}

void ek_informer_free(ek_informer_t *inf)
{
    if (!inf) {
        return;
    }
    ek_assert(!inf->stopping);
    inf->stopping = true;
    ek_api_call_cancel(inf->call); /* its done callback drops the call's reference */
    uv_close((uv_handle_t *)&inf->retry, timer_closed);
    uv_close((uv_handle_t *)&inf->resync, timer_closed);
    inf_unref(inf);
}

/* ---- keys and revisions ---- */

static char *obj_key(const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!name) {
        return NULL;
    }
    return ns && *ns ? ek_xasprintf("%s/%s", ns, name) : ek_xstrdup(name);
}

static const char *obj_rv(const json_t *obj)
{
    return ek_json_str(obj, "metadata", "resourceVersion", NULL);
}

static void set_rv(ek_informer_t *inf, const char *rv)
{
    if (rv && *rv && !ek_streq(inf->rv, rv)) {
        free(inf->rv);
        inf->rv = ek_xstrdup(rv);
    }
}

/* The object as the cache keeps it: obj itself, or what the transform made of it. Caller
 * owns the returned reference. */
static json_t *kept(ek_informer_t *inf, json_t *obj)
{
    return inf->transform ? inf->transform(obj, inf->transform_data) : json_incref(obj);
}

void ek_informer_set_transform(ek_informer_t *inf, json_t *(*fn)(json_t *obj, void *data),
                               void *data)
{
    inf->transform = fn;
    inf->transform_data = data;
}

/* ---- handlers ---- */

typedef enum { EV_ADD, EV_UPDATE, EV_DELETE } ev_t;

/* Calls every handler set present now; stops if a handler frees the informer. */
static void notify(ek_informer_t *inf, ev_t ev, json_t *old_obj, json_t *obj)
{
    size_t n = inf->n_hs; /* sets added by a handler got the current state already */
    inf->refs++;
    for (size_t i = 0; i < n && !inf->stopping; i++) {
        hset_t hs = inf->hs[i];
        if (ev == EV_ADD && hs.h.on_add) {
            hs.h.on_add(obj, hs.data);
        } else if (ev == EV_UPDATE && hs.h.on_update) {
            hs.h.on_update(old_obj, obj, hs.data);
        } else if (ev == EV_DELETE && hs.h.on_delete) {
            hs.h.on_delete(obj, hs.data);
        }
    }
    inf_unref(inf);
}

/* Puts obj (borrowed) in the cache and tells the handlers what changed. */
static void cache_upsert(ek_informer_t *inf, const char *key, json_t *obj)
{
    json_t *old = ek_map_get(&inf->cache, key);
    if (old && ek_streq(obj_rv(old), obj_rv(obj))) {
        return; /* seen already (a replayed event, an unchanged object in a re-list) */
    }
    ek_map_put(&inf->cache, key, json_incref(obj));
    if (old) {
        notify(inf, EV_UPDATE, old, obj);
        json_decref(old);
    } else {
        notify(inf, EV_ADD, NULL, obj);
    }
}

/* Drops key; handlers get the cached object (or last, when nothing was cached, nothing). */
static void cache_remove(ek_informer_t *inf, const char *key)
{
    json_t *old = ek_map_del(&inf->cache, key);
    if (old) {
        notify(inf, EV_DELETE, NULL, old);
        json_decref(old);
    }
}

/* The first list is in the cache: every set's on_synced, once. */
static void notify_synced(ek_informer_t *inf)
{
    inf->refs++;
    for (size_t i = 0; i < inf->n_hs && !inf->stopping; i++) {
        if (inf->hs[i].h.on_synced) {
            inf->hs[i].h.on_synced(inf->hs[i].data);
        }
    }
    inf_unref(inf);
}

void ek_informer_add_handlers(ek_informer_t *inf, const ek_informer_handlers_t *h, void *data)
{
    inf->hs = ek_xrealloc(inf->hs, (inf->n_hs + 1) * sizeof(hset_t));
    inf->hs[inf->n_hs++] = (hset_t){ *h, data };
    if (!inf->synced || (!h->on_add && !h->on_synced)) {
        return; /* the first list will add everything for every set */
    }
    /* A late set starts from the cache as it is now (its handlers must not change it). */
    inf->refs++;
    size_t it = 0;
    const char *k;
    void *v;
    while (!inf->stopping && h->on_add && ek_map_next(&inf->cache, &it, &k, &v)) {
        h->on_add(v, data);
    }
    if (!inf->stopping && h->on_synced) {
        h->on_synced(data);
    }
    inf_unref(inf);
}

/* ---- scheduling ---- */

static void on_retry(uv_timer_t *t)
{
    ek_informer_t *inf = t->data;
    if (inf->next == NEXT_LIST) {
        start_list(inf);
    } else {
        start_watch(inf);
    }
}

static void schedule(ek_informer_t *inf, next_t next, uint64_t delay_ms)
{
    inf->next = next;
    uv_timer_start(&inf->retry, on_retry, delay_ms, 0);
}

/* The next delay: the current step plus up to as much again (jitter), then doubled. */
static uint64_t backoff_next(ek_informer_t *inf)
{
    uint64_t d = inf->backoff_ms + (uint64_t)rand_r(&inf->seed) % (inf->backoff_ms + 1);
    inf->backoff_ms = EK_MIN(inf->backoff_ms * 2, (uint64_t)BACKOFF_MAX);
    return EK_MIN(d, (uint64_t)BACKOFF_MAX);
}

static bool cancelled(const ek_error_t *err)
{
    return err && err->status == 0 && err->errnum == ECANCELED;
}

/* ---- list ---- */

static void list_page(ek_informer_t *inf);

static void start_list(ek_informer_t *inf)
{
    map_clear(&inf->fresh);
    free(inf->list_rv);
    free(inf->cont);
    inf->list_rv = inf->cont = NULL;
    list_page(inf);
}

/* Applies the complete list: adds and updates first, then deletes of what is gone. */
static void list_apply(ek_informer_t *inf)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (!inf->stopping && ek_map_next(&inf->fresh, &it, &k, &v)) {
        cache_upsert(inf, k, v);
    }
    size_t n = 0;
    char **gone = ek_xcalloc(inf->cache.n + 1, sizeof(char *));
    it = 0;
    while (ek_map_next(&inf->cache, &it, &k, &v)) {
        if (!ek_map_get(&inf->fresh, k)) {
            gone[n++] = ek_xstrdup(k);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!inf->stopping) {
            cache_remove(inf, gone[i]);
        }
        free(gone[i]);
    }
    free(gone);
    map_clear(&inf->fresh);
}

/* Takes one page's items; false when the answer is not a list. */
static bool list_take(ek_informer_t *inf, json_t *list)
{
    json_t *items = json_object_get(list, "items");
    if (!json_is_array(items)) {
        return false;
    }
    size_t i;
    json_t *obj;
    json_array_foreach (items, i, obj) {
        ek_autofree char *key = obj_key(obj);
        if (key) {
            json_decref(ek_map_put(&inf->fresh, key, kept(inf, obj)));
        }
    }
    if (!inf->list_rv) {
        /* Later pages come from the current cache (see ARCHITECTURE.md): watching from the
         * first page's revision replays what changed meanwhile, which the cache absorbs. */
        const char *rv = ek_json_str(list, "metadata", "resourceVersion", NULL);
        inf->list_rv = ek_xstrdup(rv ? rv : "");
    }
    free(inf->cont);
    const char *cont = ek_json_str(list, "metadata", "continue", NULL);
    inf->cont = cont && *cont ? ek_xstrdup(cont) : NULL;
    return true;
}

static void on_list_page(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_informer_t *inf = data;
    inf->call = NULL;
    if (inf->stopping || cancelled(err)) {
        inf_unref(inf);
        return;
    }
    if (status == 200 && list_take(inf, body)) {
        if (inf->cont) {
            list_page(inf);
        } else {
            list_apply(inf);
            set_rv(inf, inf->list_rv);
            bool first = !inf->synced;
            inf->synced = true;
            if (first) {
                notify_synced(inf);
            }
            if (!inf->stopping) {
                start_watch(inf);
            }
        }
    } else if (status == 410 && inf->cont) {
        /* The continue token expired: start over with a fresh list. */
        schedule(inf, NEXT_LIST, 0);
    } else {
        EK_LOG(EK_WARN, "informer", "list failed resource=%s status=%d err=\"%s\"", inf->r->plural,
               status, err ? ek_error_msg(err) : "not a list");
        schedule(inf, NEXT_LIST, backoff_next(inf));
    }
    inf_unref(inf);
}

static void list_page(ek_informer_t *inf)
{
    ek_autofree char *path = ek_api_path(inf->r, inf->ns, NULL, EK_SUB_NONE);
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_printf(&b, "%s?limit=%s", path, LIST_PAGE);
    const char *params[][2] = {
        { "continue", inf->cont },
        { "labelSelector", inf->label_sel },
        { "fieldSelector", inf->field_sel },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(params); i++) {
        if (params[i][1]) {
            ek_autofree char *v = ek_http_escape(params[i][1]);
            ek_buf_printf(&b, "&%s=%s", params[i][0], v);
        }
    }
    inf->call = ek_api_request(inf->c, "GET", b.data, NULL, NULL, on_list_page, inf);
    if (inf->call) {
        inf->refs++;
    }
}

/* ---- watch ---- */

static void on_watch_event(const char *type, json_t *obj, void *data)
{
    ek_informer_t *inf = data;
    if (inf->stopping) {
        return;
    }
    if (strcmp(type, "ERROR") == 0) {
        return; /* the done callback gets its Status */
    }
    if (strcmp(type, "BOOKMARK") != 0) {
        ek_autofree char *key = obj_key(obj);
        if (!key) {
            return;
        }
        if (strcmp(type, "DELETED") == 0) {
            cache_remove(inf, key);
        } else {
            json_t *k = kept(inf, obj);
            cache_upsert(inf, key, k);
            json_decref(k);
        }
    }
    set_rv(inf, obj_rv(obj));
}

static void on_watch_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    ek_informer_t *inf = data;
    EK_UNUSED(body);
    inf->call = NULL;
    if (inf->stopping || cancelled(err)) {
        inf_unref(inf);
        return;
    }
    bool healthy = ek_now_ms() - inf->watch_start_ms >= HEALTHY_WATCH_MS;
    if (status == 410) {
        EK_LOG(EK_DEBUG, "informer", "re-list resource=%s rv=%s reason=expired", inf->r->plural,
               inf->rv ? inf->rv : "");
        schedule(inf, NEXT_LIST, 0);
    } else if (status == 200 && !err) {
        /* The server ended the stream (its timeout, shutdown, a slow reader): watch again. */
        if (healthy) {
            inf->backoff_ms = BACKOFF_INITIAL;
        }
        schedule(inf, NEXT_WATCH, backoff_next(inf));
    } else {
        EK_LOG(EK_WARN, "informer", "watch failed resource=%s status=%d err=\"%s\"", inf->r->plural,
               status, ek_error_msg(err));
        /* An HTTP error may mean the cache is wrong; a transport error only that we lost it. */
        schedule(inf, status ? NEXT_LIST : NEXT_WATCH, backoff_next(inf));
    }
    inf_unref(inf);
}

static void start_watch(ek_informer_t *inf)
{
    inf->watch_start_ms = ek_now_ms();
    inf->call = ek_api_watch(inf->c, inf->r, inf->ns, inf->label_sel, inf->field_sel, inf->rv,
                             on_watch_event, on_watch_done, inf);
    if (inf->call) {
        inf->refs++;
    }
}

/* ---- resync and reads ---- */

static void on_resync(uv_timer_t *t)
{
    ek_informer_t *inf = t->data;
    if (!inf->synced) {
        return;
    }
    /* A snapshot: a handler may not change the cache, but it may free the informer. */
    size_t n = 0;
    json_t **objs = ek_xcalloc(inf->cache.n + 1, sizeof(json_t *));
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&inf->cache, &it, &k, &v)) {
        objs[n++] = json_incref(v);
    }
    for (size_t i = 0; i < n; i++) {
        if (!inf->stopping) {
            notify(inf, EV_UPDATE, objs[i], objs[i]);
        }
        json_decref(objs[i]);
    }
    free(objs);
}

void ek_informer_start(ek_informer_t *inf)
{
    if (inf->started || inf->stopping) {
        return;
    }
    inf->started = true;
    start_list(inf);
    if (inf->resync_ms) {
        uv_timer_start(&inf->resync, on_resync, inf->resync_ms, inf->resync_ms);
    }
}

bool ek_informer_synced(const ek_informer_t *inf)
{
    return inf->synced;
}

json_t *ek_informer_get(const ek_informer_t *inf, const char *ns, const char *name)
{
    if (!name) {
        return NULL;
    }
    if (inf->r->namespaced && ns && *ns) {
        char key[512];
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        return ek_map_get(&inf->cache, key);
    }
    return ek_map_get(&inf->cache, name);
}

void ek_informer_each(const ek_informer_t *inf, void (*fn)(json_t *obj, void *data), void *data)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&inf->cache, &it, &k, &v)) {
        fn(v, data);
    }
}

size_t ek_informer_count(const ek_informer_t *inf)
{
    return inf->cache.n;
}

const char *ek_informer_revision(const ek_informer_t *inf)
{
    return inf->rv ? inf->rv : "";
}
