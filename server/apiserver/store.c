/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The object cache: every stored object parsed once and kept in memory per resource
 * ("bucket"), fed by one watch on the store's commit path. GET, LIST and WATCH are served
 * from here, never by querying SQLite per request or per watcher. Each bucket keeps a ring of
 * recent events so watches may start in the recent past; older starts get 410 Expired.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

obj_t *obj_ref(obj_t *o)
{
    if (o) {
        o->refs++;
    }
    return o;
}

void obj_unref(obj_t *o)
{
    if (!o || --o->refs > 0) {
        return;
    }
    free(o->key);
    json_decref(o->json);
    free(o->bytes);
    free(o);
}

const char *obj_bytes(obj_t *o, size_t *len)
{
    if (!o->bytes) {
        /*
         * The text lives as long as the object, so it gets an allocation of its own size: a
         * buffer grown by doubling would waste up to half, and trimming it in place leaves a
         * free fragment beside every cached object (which made each later malloc slower).
         * The scratch buffer keeps its capacity; loop thread only.
         */
        static ek_buf_t scratch = EK_BUF_INIT;
        ek_buf_reset(&scratch);
        ek_json_dump_buf(o->json, &scratch);
        o->len = scratch.len;
        o->bytes = ek_xmalloc(o->len + 1);
        memcpy(o->bytes, scratch.data, o->len + 1);
    }
    if (len) {
        *len = o->len;
    }
    return o->bytes;
}

/* Publishes j (taken) as the object of record e. */
static obj_t *obj_wrap(const ek_kv_entry_t *e, json_t *j)
{
    char rv[24];
    snprintf(rv, sizeof(rv), "%lld", (long long)e->mod_rev);
    ek_json_set_str(ek_json_obj_ensure(j, "metadata"), "resourceVersion", rv);
    obj_t *o = ek_new(obj_t);
    o->refs = 1;
    o->key = ek_xstrdup(e->key);
    o->json = j;
    o->rev = e->mod_rev;
    o->create_rev = e->create_rev;
    return o;
}

obj_t *obj_from_entry(const ek_kv_entry_t *e)
{
    json_t *j = json_loadb(e->value, e->value_len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return obj_wrap(e, j);
}

/* ---- writes this server made, awaiting their events ---- */

typedef struct pending {
    json_t *json; /* the object as written, without resourceVersion */
    char *bytes;  /* exactly the bytes written */
    size_t len;
} pending_t;

static void pending_free(pending_t *p)
{
    if (p) {
        json_decref(p->json);
        free(p->bytes);
        free(p);
    }
}

void store_expect(store_t *s, const char *key, json_t *obj, const char *bytes, size_t len)
{
    pending_t *p = ek_new(pending_t);
    p->json = json_incref(obj);
    p->bytes = ek_xmalloc(len);
    memcpy(p->bytes, bytes, len);
    p->len = len;
    pending_free(ek_map_put(&s->pending, key, p));
}

void store_forget(store_t *s, const char *key, const json_t *obj)
{
    pending_t *p = ek_map_get(&s->pending, key);
    if (p && p->json == obj) {
        pending_free(ek_map_del(&s->pending, key));
    }
}

/*
 * The object of a new record: the writer's own object when the record holds exactly the bytes
 * it expected (parsing them back would give the same tree), else the record parsed.
 */
static obj_t *obj_for_event(store_t *s, const ek_kv_event_t *kev)
{
    const ek_kv_entry_t *e = kev->entry;
    pending_t *p = kev->type != EK_KV_DELETED ? ek_map_get(&s->pending, e->key) : NULL;
    if (!p || p->len != e->value_len || memcmp(p->bytes, e->value, p->len) != 0) {
        return obj_from_entry(e);
    }
    ek_map_del(&s->pending, e->key);
    obj_t *o = obj_wrap(e, ek_steal(&p->json));
    pending_free(p);
    return o;
}

/* "/registry/apps/deployments/ns/name" → "/registry/apps/deployments/" */
static char *prefix_of(const char *key)
{
    const char *p = key;
    for (int slashes = 0; *p; p++) {
        if (*p == '/' && ++slashes == 4) {
            return ek_xstrndup(key, (size_t)(p - key + 1));
        }
    }
    return NULL;
}

static bucket_t *bucket_for_prefix(store_t *s, const char *prefix)
{
    bucket_t *b = ek_map_get(&s->buckets, prefix);
    if (!b) {
        b = ek_new(bucket_t);
        b->prefix = ek_xstrdup(prefix);
        b->ring_cap = s->ring_cap;
        b->ring = ek_xcalloc(b->ring_cap, sizeof(event_t));
        ek_map_put(&s->buckets, prefix, b);
    }
    return b;
}

bucket_t *store_bucket(store_t *s, const ek_resource_t *r)
{
    ek_autofree char *prefix = ek_resource_key_prefix(r);
    return bucket_for_prefix(s, prefix);
}

static void ring_push(bucket_t *b, const event_t *ev)
{
    if (b->ring_n == b->ring_cap) {
        event_t *old = &b->ring[b->ring_head];
        b->evicted_rev = old->rev;
        obj_unref(old->obj);
        obj_unref(old->prev);
        b->ring_head = (b->ring_head + 1) % b->ring_cap;
        b->ring_n--;
    }
    event_t *slot = &b->ring[(b->ring_head + b->ring_n) % b->ring_cap];
    *slot = *ev;
    obj_ref(slot->obj);
    obj_ref(slot->prev);
    b->ring_n++;
}

static void on_kv_event(const ek_kv_event_t *kev, void *data)
{
    store_t *s = data;
    ek_autofree char *prefix = prefix_of(kev->entry->key);
    if (!prefix) {
        return;
    }
    bucket_t *b = bucket_for_prefix(s, prefix);
    obj_t *o = obj_for_event(s, kev);
    if (!o) {
        EK_LOG(EK_WARN, "apiserver", "ignoring undecodable object key=%s", kev->entry->key);
        return;
    }
    if (kev->type == EK_KV_DELETED) {
        /* The deleted object carries the deletion's revision, as Kubernetes reports it. */
        char rv[24];
        snprintf(rv, sizeof(rv), "%lld", (long long)kev->rev);
        ek_json_set_str(ek_json_obj_ensure(o->json, "metadata"), "resourceVersion", rv);
        o->rev = kev->rev;
    }
    obj_t *prev = kev->type == EK_KV_DELETED ? ek_map_del(&b->objs, o->key)
                                             : ek_map_put(&b->objs, o->key, obj_ref(o));
    event_t ev = { kev->type, kev->rev, o, prev };
    ring_push(b, &ev);
    s->rev = kev->rev;
    if (s->hook) {
        s->hook(b, &ev, s->hook_data);
    }
    watchers_dispatch(b, &ev);
    obj_unref(prev);
    obj_unref(o);
}

int store_open(store_t *s, ek_kv_t *kv, size_t ring_cap, ek_error_t **err)
{
    memset(s, 0, sizeof(*s));
    s->kv = kv;
    s->ring_cap = ring_cap ? ring_cap : 1024;
    ek_kv_list_result_t res;
    if (ek_kv_list(kv, "/registry/", NULL, 0, 0, &res, err) < 0) {
        return ek_error_wrap(err, "load objects");
    }
    for (size_t i = 0; i < res.n; i++) {
        ek_autofree char *prefix = prefix_of(res.entries[i]->key);
        obj_t *o = prefix ? obj_from_entry(res.entries[i]) : NULL;
        if (!o) {
            EK_LOG(EK_WARN, "apiserver", "ignoring undecodable object key=%s", res.entries[i]->key);
            continue;
        }
        bucket_t *b = bucket_for_prefix(s, prefix);
        obj_unref(ek_map_put(&b->objs, o->key, o));
    }
    s->rev = res.rev;
    ek_kv_list_result_free(&res);
    /* Nothing before the load is in any ring: watches from earlier revisions get 410. */
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->buckets, &it, &k, &v)) {
        ((bucket_t *)v)->evicted_rev = s->rev;
    }
    s->kv_watch = ek_kv_watch(kv, "/registry/", s->rev, on_kv_event, s, err);
    if (!s->kv_watch) {
        return ek_error_wrap(err, "watch the store");
    }
    return 0;
}

obj_t *store_get(store_t *s, const ek_resource_t *r, const char *ns, const char *name)
{
    bucket_t *b = store_bucket(s, r);
    ek_autofree char *key = ek_resource_key(r, ns ? ns : "", name);
    return ek_map_get(&b->objs, key);
}

obj_t *store_find_entry(store_t *s, const ek_kv_entry_t *e)
{
    ek_autofree char *prefix = prefix_of(e->key);
    bucket_t *b = prefix ? ek_map_get(&s->buckets, prefix) : NULL;
    obj_t *o = b ? ek_map_get(&b->objs, e->key) : NULL;
    return o && o->rev == e->mod_rev ? o : NULL;
}

static int cmp_obj_key(const void *a, const void *b)
{
    return strcmp((*(obj_t *const *)a)->key, (*(obj_t *const *)b)->key);
}

obj_t **store_list(store_t *s, const ek_resource_t *r, const char *ns, size_t *n)
{
    bucket_t *b = store_bucket(s, r);
    obj_t **out = ek_xcalloc(b->objs.n + 1, sizeof(obj_t *));
    size_t count = 0;
    size_t nslen = ns ? strlen(ns) : 0;
    size_t plen = strlen(b->prefix);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&b->objs, &it, &k, &v)) {
        if (ns && (strncmp(k + plen, ns, nslen) != 0 || k[plen + nslen] != '/')) {
            continue;
        }
        out[count++] = v;
    }
    qsort(out, count, sizeof(*out), cmp_obj_key);
    *n = count;
    return out;
}

static void bucket_free(bucket_t *b)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&b->objs, &it, &k, &v)) {
        obj_unref(v);
    }
    ek_map_free(&b->objs);
    for (size_t i = 0; i < b->ring_n; i++) {
        event_t *ev = &b->ring[(b->ring_head + i) % b->ring_cap];
        obj_unref(ev->obj);
        obj_unref(ev->prev);
    }
    free(b->ring);
    free(b->prefix);
    free(b);
}

void store_close(store_t *s)
{
    watchers_close_all(s);
    if (s->kv_watch) {
        ek_kv_watch_cancel(s->kv_watch);
        s->kv_watch = NULL;
    }
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->buckets, &it, &k, &v)) {
        bucket_free(v);
    }
    ek_map_free(&s->buckets);
    it = 0;
    while (ek_map_next(&s->pending, &it, &k, &v)) {
        pending_free(v);
    }
    ek_map_free(&s->pending);
}
