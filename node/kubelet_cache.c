/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Edge autonomy: the agent keeps what it needs to run its pods without the API server on
 * local disk, under <data-dir>/agent/cache: pods/<uid>.json (metadata and spec of each pod
 * bound to this node), configmaps/ and secrets/<ns>_<name>.json (those the pods use: volumes,
 * env, envFrom, image pull secrets; secrets mode 0600) and node.json (the pod CIDR). Files are
 * written atomically and only when their content changes: status and resourceVersion are left
 * out, so a running pod costs no writes (SD cards wear out).
 *
 * When the agent starts and the pods have not been listed from the API within
 * offline_after_ms (the server is unreachable: a board rebooting during a network outage), it
 * creates the pod records from the cache and adopts or starts them as usual; ConfigMaps and
 * Secrets come from the cache while their informers have none. Once the API answers, the
 * informers take over, cached pods the API no longer has are deleted, and the statuses the
 * agent could not write are written (kubelet_status.c retries them). Nothing here stops a
 * pod because the server is away. Loop thread only; the files are written by one worker job
 * at a time, in order.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>

#include "node/kubelet-internal.h"

struct kl_cache {
    ek_kubelet_t *kl;
    char *dir;
    ek_map_t pods;    /* uid → stripped pod (owned) */
    ek_map_t sources; /* "configmaps/ns/name" → object (owned) */
    json_t *node;
    ek_map_t sums; /* file path → boxed hash of what is on disk */
    uv_timer_t timer;
    bool started_offline;
    struct cache_op *ops, **ops_tail; /* writes waiting for the writer job */
    bool writing;
    bool closed; /* the agent is stopping: freed after the last write */
};

/* ---- files ---- */

static char *src_key(const char *kind, const char *ns, const char *name)
{
    return ek_xasprintf("%s/%s/%s", kind, ns ? ns : "", name ? name : "");
}

static char *file_of(struct kl_cache *c, const char *kind, const char *ns, const char *name)
{
    if (!ns) {
        return ek_xasprintf("%s/%s/%s.json", c->dir, kind, name);
    }
    return ek_xasprintf("%s/%s/%s_%s.json", c->dir, kind, ns, name);
}

/* One pending change on disk: text to write, or NULL to remove the file. */
struct cache_op {
    char *path, *text;
    mode_t mode;
    struct cache_op *next;
};

struct write_job {
    kl_job_t j;
    struct kl_cache *c;
    struct cache_op *ops;
};

static void write_run(kl_job_t *j)
{
    struct write_job *w = ek_container_of(j, struct write_job, j);
    for (struct cache_op *op = w->ops; op; op = op->next) {
        ek_error_t *err = NULL;
        if (!op->text) {
            if (unlink(op->path) < 0 && errno != ENOENT) {
                EK_LOG(EK_WARN, "kubelet", "cache remove failed path=%s err=%s", op->path,
                       strerror(errno));
            }
            continue;
        }
        ek_autofree char *dir = ek_path_dirname(op->path);
        if (ek_mkdir_p(dir, 0700, &err) < 0 ||
            ek_file_write_atomic(op->path, op->text, strlen(op->text), op->mode, &err) < 0) {
            EK_LOG(EK_WARN, "kubelet", "cache write failed path=%s err=\"%s\"", op->path,
                   ek_error_msg(err));
            ek_error_free(err);
        }
    }
}

static void free_ops(struct cache_op *op)
{
    while (op) {
        struct cache_op *next = op->next;
        free(op->path);
        free(op->text);
        free(op);
        op = next;
    }
}

static void flush(struct kl_cache *c);
static void free_cache(struct kl_cache *c);

static void write_done(kl_job_t *j)
{
    struct write_job *w = ek_container_of(j, struct write_job, j);
    struct kl_cache *c = w->c;
    free_ops(w->ops);
    free(w);
    c->writing = false;
    flush(c);
    if (!c->writing && c->closed) {
        free_cache(c);
    }
}

/* Disk writes go to a worker (an fsync on an SD card can take long), one batch at a time and
 * in order, so a write and a later removal of the same file land in that order. */
static void flush(struct kl_cache *c)
{
    if (c->writing || !c->ops) {
        return;
    }
    struct write_job *w = ek_new(struct write_job);
    w->j.run = write_run;
    w->j.done = write_done;
    w->c = c;
    w->ops = c->ops;
    c->ops = NULL;
    c->ops_tail = &c->ops;
    c->writing = true;
    ek__kl_job_queue(c->kl, &w->j);
}

static void queue_op(struct kl_cache *c, const char *path, char *text, mode_t mode)
{
    struct cache_op *op = ek_new(struct cache_op);
    op->path = ek_xstrdup(path);
    op->text = text;
    op->mode = mode;
    *c->ops_tail = op;
    c->ops_tail = &op->next;
    flush(c);
}

/* Writes obj to path unless the same content is there already. */
static void put_file(struct kl_cache *c, const char *path, const json_t *obj, mode_t mode)
{
    char *text = ek_json_dumps(obj);
    uint64_t sum = ek_hash_str(text) ^ strlen(text);
    uint64_t *had = ek_map_get(&c->sums, path);
    if (had && *had == sum) {
        free(text);
        return;
    }
    if (!had) {
        had = ek_new(uint64_t);
        ek_map_put(&c->sums, path, had);
    }
    *had = sum;
    queue_op(c, path, text, mode);
}

static void drop_file(struct kl_cache *c, const char *path)
{
    uint64_t *had = ek_map_del(&c->sums, path);
    if (had) {
        free(had);
        queue_op(c, path, NULL, 0);
    }
}

/* ---- what is kept ---- */

static json_t *strip_meta(const json_t *obj)
{
    json_t *m = json_deep_copy(json_object_get(obj, "metadata"));
    json_object_del(m, "resourceVersion");
    json_object_del(m, "managedFields");
    json_object_del(m, "generation");
    return m ? m : json_object();
}

/* Metadata and spec; of the status only what the agent reads back (a final phase, the QoS
 * class): a status update rewrites nothing. */
static json_t *strip_pod(const json_t *pod)
{
    json_t *o = json_pack("{s:s,s:s,s:o,s:O}", "apiVersion", "v1", "kind", "Pod", "metadata",
                          strip_meta(pod), "spec", json_object_get(pod, "spec") ?: json_null());
    json_t *st = json_object();
    const char *phase = ek_json_str(pod, "status", "phase", NULL);
    if (ek_streq(phase, "Succeeded") || ek_streq(phase, "Failed")) {
        ek_json_set_str(st, "phase", phase);
    }
    const char *qos = ek_json_str(pod, "status", "qosClass", NULL);
    if (qos) {
        ek_json_set_str(st, "qosClass", qos);
    }
    json_object_set_new(o, "status", st);
    return o;
}

static json_t *strip_source(const json_t *obj)
{
    json_t *o = json_deep_copy(obj);
    json_object_set_new(o, "metadata", strip_meta(obj));
    return o;
}

static void add_ref(ek_strlist_t *l, const char *kind, const char *ns, const char *name)
{
    if (name && *name) {
        char *k = src_key(kind, ns, name);
        ek_strlist_add(l, k);
        free(k);
    }
}

static void ctr_refs(const json_t *ctrs, const char *ns, ek_strlist_t *l)
{
    size_t i, k;
    json_t *c, *e;
    json_array_foreach (ctrs, i, c) {
        json_array_foreach (json_object_get(c, "env"), k, e) {
            add_ref(l, "configmaps", ns,
                    ek_json_str(e, "valueFrom", "configMapKeyRef", "name", NULL));
            add_ref(l, "secrets", ns, ek_json_str(e, "valueFrom", "secretKeyRef", "name", NULL));
        }
        json_array_foreach (json_object_get(c, "envFrom"), k, e) {
            add_ref(l, "configmaps", ns, ek_json_str(e, "configMapRef", "name", NULL));
            add_ref(l, "secrets", ns, ek_json_str(e, "secretRef", "name", NULL));
        }
    }
}

/* "configmaps/ns/name" and "secrets/ns/name" keys of everything the pod reads. */
static void pod_refs(const json_t *pod, ek_strlist_t *l)
{
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL) ?: "default";
    size_t i, k;
    json_t *v, *s;
    json_array_foreach (ek_json_path(pod, "spec", "volumes", NULL), i, v) {
        add_ref(l, "configmaps", ns, ek_json_str(v, "configMap", "name", NULL));
        add_ref(l, "secrets", ns, ek_json_str(v, "secret", "secretName", NULL));
        json_array_foreach (ek_json_path(v, "projected", "sources", NULL), k, s) {
            add_ref(l, "configmaps", ns, ek_json_str(s, "configMap", "name", NULL));
            add_ref(l, "secrets", ns, ek_json_str(s, "secret", "name", NULL));
        }
    }
    json_array_foreach (ek_json_path(pod, "spec", "imagePullSecrets", NULL), i, v) {
        add_ref(l, "secrets", ns, ek_json_str(v, "name", NULL));
    }
    ctr_refs(ek_json_path(pod, "spec", "initContainers", NULL), ns, l);
    ctr_refs(ek_json_path(pod, "spec", "containers", NULL), ns, l);
}

static bool referenced(struct kl_cache *c, const char *key)
{
    size_t it = 0;
    const char *k;
    void *v;
    bool found = false;
    while (!found && ek_map_next(&c->pods, &it, &k, &v)) {
        ek_strlist_t refs = { 0 };
        pod_refs(v, &refs);
        for (size_t i = 0; i < refs.n && !found; i++) {
            found = strcmp(refs.v[i], key) == 0;
        }
        ek_strlist_free(&refs);
    }
    return found;
}

static void put_source(struct kl_cache *c, const char *kind, const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    ek_autofree char *key = src_key(kind, ns, name);
    ek_autofree char *path = file_of(c, kind, ns ? ns : "default", name);
    json_t *o = strip_source(obj);
    put_file(c, path, o, strcmp(kind, "secrets") == 0 ? 0600 : 0644);
    json_decref(ek_map_put(&c->sources, key, o));
}

static void drop_source(struct kl_cache *c, const char *key)
{
    json_t *o = ek_map_del(&c->sources, key);
    if (!o) {
        return;
    }
    ek_autofree char *kind = ek_xstrndup(key, strcspn(key, "/"));
    ek_autofree char *path =
        file_of(c, kind, ek_json_str(o, "metadata", "namespace", NULL) ?: "default",
                ek_json_str(o, "metadata", "name", NULL) ?: "");
    drop_file(c, path);
    json_decref(o);
}

/* Sources no cached pod uses any more. */
static void sweep_sources(struct kl_cache *c)
{
    ek_strlist_t gone = { 0 };
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&c->sources, &it, &k, &v)) {
        if (!referenced(c, k)) {
            ek_strlist_add(&gone, k);
        }
    }
    for (size_t i = 0; i < gone.n; i++) {
        drop_source(c, gone.v[i]);
    }
    ek_strlist_free(&gone);
}

/* ---- informer events ---- */

void ek__kl_cache_pod(ek_kubelet_t *kl, const json_t *pod, bool deleted)
{
    struct kl_cache *c = kl->cache;
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    if (!c || !uid) {
        return;
    }
    kl_pod_t *p = ek_map_get(&kl->by_uid, uid);
    if (p) {
        p->cached = false; /* the API has it */
    }
    ek_autofree char *path = file_of(c, "pods", NULL, uid);
    if (deleted) {
        json_decref(ek_map_del(&c->pods, uid));
        drop_file(c, path);
        sweep_sources(c);
        return;
    }
    json_t *o = strip_pod(pod);
    put_file(c, path, o, 0600);
    json_decref(ek_map_put(&c->pods, uid, o));
    ek_strlist_t refs = { 0 };
    pod_refs(pod, &refs);
    for (size_t i = 0; i < refs.n; i++) {
        const char *key = refs.v[i];
        const char *s1 = strchr(key, '/'), *s2 = strchr(s1 + 1, '/');
        ek_autofree char *kind = ek_xstrndup(key, (size_t)(s1 - key));
        ek_autofree char *ns = ek_xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
        json_t *obj = ek__kl_watched(kl, kind, ns, s2 + 1);
        if (obj) {
            put_source(c, kind, obj);
        }
    }
    ek_strlist_free(&refs);
}

void ek__kl_cache_source(ek_kubelet_t *kl, const char *kind, const json_t *obj, bool deleted)
{
    struct kl_cache *c = kl->cache;
    if (!c) {
        return;
    }
    ek_autofree char *key = src_key(kind, ek_json_str(obj, "metadata", "namespace", NULL),
                                    ek_json_str(obj, "metadata", "name", NULL));
    if (deleted) {
        drop_source(c, key);
    } else if (referenced(c, key)) {
        put_source(c, kind, obj);
    }
}

void ek__kl_cache_node(ek_kubelet_t *kl, const json_t *node)
{
    struct kl_cache *c = kl->cache;
    const char *cidr = ek_json_str(node, "spec", "podCIDR", NULL);
    if (!c || !cidr) {
        return;
    }
    json_t *o =
        json_pack("{s:{s:s},s:{s:s}}", "metadata", "name", kl->node_name, "spec", "podCIDR", cidr);
    ek_autofree char *path = ek_xasprintf("%s/node.json", c->dir);
    put_file(c, path, o, 0644);
    json_decref(c->node);
    c->node = o;
}

json_t *ek__kl_cache_get(ek_kubelet_t *kl, const char *kind, const char *ns, const char *name)
{
    struct kl_cache *c = kl->cache;
    if (!c) {
        return NULL;
    }
    ek_autofree char *key = src_key(kind, ns, name);
    return ek_map_get(&c->sources, key);
}

json_t *ek__kl_cache_node_get(ek_kubelet_t *kl)
{
    return kl->cache ? kl->cache->node : NULL;
}

void ek__kl_cache_synced(ek_kubelet_t *kl)
{
    struct kl_cache *c = kl->cache;
    if (!c) {
        return;
    }
    /* Pods deleted (or moved) while the agent could not hear about it. */
    ek_strlist_t gone = { 0 };
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&c->pods, &it, &k, &v)) {
        json_t *now = ek_informer_get(kl->pods, ek_json_str(v, "metadata", "namespace", NULL),
                                      ek_json_str(v, "metadata", "name", NULL) ?: "");
        if (!ek_streq(ek_json_str(now, "metadata", "uid", NULL), k)) {
            ek_strlist_add(&gone, k);
        }
    }
    for (size_t i = 0; i < gone.n; i++) {
        kl_pod_t *p = ek_map_get(&kl->by_uid, gone.v[i]);
        json_t *obj = ek_map_get(&c->pods, gone.v[i]);
        EK_LOG(EK_INFO, "kubelet", "cached pod is gone from the API uid=%s", gone.v[i]);
        if (p && p->cached) {
            ek__kl_pod_deleted(p);
        }
        if (obj) {
            json_incref(obj);
            ek__kl_cache_pod(kl, obj, true);
            json_decref(obj);
        }
    }
    ek_strlist_free(&gone);
}

/* ---- offline start ---- */

static void on_offline_timer(uv_timer_t *t)
{
    struct kl_cache *c = t->data;
    ek_kubelet_t *kl = c->kl;
    if (kl->stopping || kl->adopted || kl->adopting || ek_informer_synced(kl->pods)) {
        return;
    }
    EK_LOG(EK_WARN, "kubelet",
           "the API server has not listed this node's pods: starting %zu pods from the local "
           "cache",
           c->pods.n);
    c->started_offline = true;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&c->pods, &it, &k, &v)) {
        kl_pod_t *p = ek__kl_pod_get(kl, v);
        if (p) {
            p->cached = true;
        }
    }
    ek__kl_adopt(kl);
}

static void load_dir(struct kl_cache *c, const char *kind)
{
    ek_autofree char *dir = ek_xasprintf("%s/%s", c->dir, kind);
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !ek_has_suffix(de->d_name, ".json")) {
            continue;
        }
        ek_autofree char *path = ek_xasprintf("%s/%s", dir, de->d_name);
        size_t len = 0;
        ek_autofree char *text = ek_file_read(path, 8 << 20, &len, NULL);
        json_t *o = text ? ek_json_parse(text, len, NULL) : NULL;
        if (!o) {
            EK_LOG(EK_WARN, "kubelet", "cache file unreadable, ignored path=%s", path);
            continue;
        }
        uint64_t *sum = ek_new(uint64_t);
        *sum = ek_hash_str(text) ^ len;
        ek_map_put(&c->sums, path, sum);
        if (strcmp(kind, "pods") == 0) {
            const char *uid = ek_json_str(o, "metadata", "uid", NULL);
            json_decref(uid ? ek_map_put(&c->pods, uid, o) : o);
        } else {
            ek_autofree char *key = src_key(kind, ek_json_str(o, "metadata", "namespace", NULL),
                                            ek_json_str(o, "metadata", "name", NULL));
            json_decref(ek_map_put(&c->sources, key, o));
        }
    }
    if (d) {
        closedir(d);
    }
}

int ek__kl_cache_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err)
{
    struct kl_cache *c = ek_new(struct kl_cache);
    c->kl = kl;
    c->ops_tail = &c->ops;
    c->dir = ek_xasprintf("%s/agent/cache", kl->data_dir);
    if (ek_mkdir_p(c->dir, 0700, err) < 0) {
        free(c->dir);
        free(c);
        return ek_error_wrap(err, "the local cache");
    }
    load_dir(c, "pods");
    load_dir(c, "configmaps");
    load_dir(c, "secrets");
    ek_autofree char *np = ek_xasprintf("%s/node.json", c->dir);
    size_t len = 0;
    ek_autofree char *text = ek_file_read(np, 1 << 20, &len, NULL);
    c->node = text ? ek_json_parse(text, len, NULL) : NULL;
    if (c->node) {
        uint64_t *sum = ek_new(uint64_t);
        *sum = ek_hash_str(text) ^ len;
        ek_map_put(&c->sums, np, sum);
    }
    kl->cache = c;
    uv_timer_init(kl->loop, &c->timer);
    c->timer.data = c;
    kl->closing++;
    uv_timer_start(&c->timer, on_offline_timer,
                   (uint64_t)(o->offline_after_ms > 0 ? o->offline_after_ms : 5000), 0);
    return 0;
}

static void free_map(ek_map_t *m, bool json)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(m, &it, &k, &v)) {
        if (json) {
            json_decref(v);
        } else {
            free(v);
        }
    }
    ek_map_free(m);
}

static void free_cache(struct kl_cache *c)
{
    ek_kubelet_t *kl = c->kl;
    free_map(&c->pods, true);
    free_map(&c->sources, true);
    free_map(&c->sums, false);
    json_decref(c->node);
    free(c->dir);
    free(c);
    kl->cache = NULL;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

static void cache_closed(uv_handle_t *h)
{
    struct kl_cache *c = h->data;
    c->closed = true;
    if (!c->writing) {
        free_cache(c); /* else once the last writes are on disk (write_done) */
    }
}

void ek__kl_cache_stop(ek_kubelet_t *kl)
{
    if (kl->cache) {
        uv_timer_stop(&kl->cache->timer);
        uv_close((uv_handle_t *)&kl->cache->timer, cache_closed);
    }
}
