/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node pressure: every housekeeping period (10 s) the agent measures memory.available
 * (MemAvailable), nodefs.available (the data dir's filesystem), imagefs.available (the image
 * store's) and pid.available (pid_max less the tasks running), compares them with the hard
 * eviction thresholds (the kubelet's defaults: memory.available<100Mi, nodefs.available<10%,
 * imagefs.available<15%) and sets MemoryPressure, DiskPressure and PIDPressure, which the node
 * status carries (kubelet_node.c). Under pressure it evicts one pod per period, in the
 * kubelet's order (BestEffort, then Burstable, then Guaranteed; lower priority first): the pod
 * ends Failed with reason Evicted and an Evicted event (memory: the pod cgroup's working set
 * above its requests ranks within a class). Under disk pressure, or when the image
 * filesystem is above the GC high threshold (85%), unused images (no container of a pod on
 * this node refers to them, no hold, first seen longer ago than the minimum age) are removed,
 * largest first, until its use is at the low threshold (80%). The store is the loop's, so
 * image GC runs on the loop; it is rare and removing a layer directory is quick next to a pull.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "node/kubelet-internal.h"

struct kl_health {
    ek_kubelet_t *kl;
    uv_timer_t timer;
    ek__kl_thresholds_t th;
    int gc_high, gc_low;
    int64_t gc_min_age_ms;
    bool pressure[3];
    const char *signal;  /* what the last eviction was for */
    ek_map_t first_seen; /* image id → wall ms (boxed int64) */
};

/* ---- thresholds ---- */

static int parse_one(const char *sig, const char *val, ek__kl_thresholds_t *t, ek_error_t **err)
{
    size_t len = strlen(val);
    bool pct = len > 0 && val[len - 1] == '%';
    double p = pct ? strtod(val, NULL) : 0;
    int64_t bytes = 0;
    if (!pct) {
        ek_quantity_t q;
        if (ek_quantity_parse(val, &q, err) < 0 || ek_quantity_value(&q, &bytes, err) < 0) {
            return ek_error_wrap(err, "eviction threshold %s", sig);
        }
    } else if (p < 0 || p > 100) {
        return ek_error_make(err, EINVAL, "eviction threshold %s: %s is not a percentage", sig,
                             val);
    }
    if (strcmp(sig, "memory.available") == 0 && !pct) {
        t->memory_bytes = bytes;
    } else if (strcmp(sig, "nodefs.available") == 0) {
        t->nodefs_pct = p;
        t->nodefs_bytes = bytes;
    } else if (strcmp(sig, "imagefs.available") == 0) {
        t->imagefs_pct = p;
        t->imagefs_bytes = bytes;
    } else if (strcmp(sig, "pid.available") == 0 && !pct) {
        t->pids = bytes;
    } else if (strcmp(sig, "nodefs.inodesFree") == 0 || strcmp(sig, "imagefs.inodesFree") == 0) {
        /* accepted for kubelet compatibility; inodes are not watched */
    } else {
        return ek_error_make(err, EINVAL, "eviction threshold `%s<%s` is not supported", sig, val);
    }
    return 0;
}

int ek__kl_thresholds_parse(const char *text, ek__kl_thresholds_t *t, ek_error_t **err)
{
    memset(t, 0, sizeof(*t));
    ek_autofree char *copy = ek_xstrdup(text ? text : "");
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') {
            tok++;
        }
        char *lt = strchr(tok, '<');
        if (!*tok) {
            continue;
        }
        if (!lt || !lt[1]) {
            return ek_error_make(err, EINVAL, "eviction threshold `%s`: want SIGNAL<VALUE", tok);
        }
        *lt = '\0';
        if (parse_one(tok, lt + 1, t, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- ranking ---- */

static int qos_rank(const char *q)
{
    return ek_streq(q, "BestEffort") ? 0 : ek_streq(q, "Burstable") ? 1 : 2;
}

static int cmp_cand(const void *x, const void *y)
{
    const ek__kl_evict_cand_t *a = x, *b = y;
    if (a->critical != b->critical) {
        return a->critical ? 1 : -1;
    }
    int qa = qos_rank(a->qos), qb = qos_rank(b->qos);
    if (qa != qb) {
        return qa - qb;
    }
    bool oa = a->usage > a->requests, ob = b->usage > b->requests;
    if (oa != ob) {
        return oa ? -1 : 1; /* exceeding its requests first */
    }
    if (a->priority != b->priority) {
        return a->priority < b->priority ? -1 : 1;
    }
    int64_t ea = a->usage - a->requests, eb = b->usage - b->requests;
    if (ea != eb) {
        return ea > eb ? -1 : 1;
    }
    return strcmp(a->uid, b->uid);
}

void ek__kl_evict_rank(ek__kl_evict_cand_t *c, size_t n)
{
    if (n > 1) {
        qsort(c, n, sizeof(*c), cmp_cand);
    }
}

/* ---- measuring ---- */

static int64_t mem_available(void)
{
    ek_autofree char *mi = ek_file_read("/proc/meminfo", 0, NULL, NULL);
    const char *ma = mi ? strstr(mi, "MemAvailable:") : NULL;
    return ma ? strtoll(ma + 13, NULL, 10) * 1024 : -1;
}

/* Available bytes and the percentage available of the filesystem holding path. */
static bool fs_available(const char *path, int64_t *avail, double *pct)
{
    struct statvfs sv;
    if (statvfs(path, &sv) < 0 || sv.f_blocks == 0) {
        return false;
    }
    *avail = (int64_t)sv.f_bavail * (int64_t)sv.f_frsize;
    *pct = 100.0 * (double)sv.f_bavail / (double)sv.f_blocks;
    return true;
}

static int64_t pids_available(void)
{
    ek_autofree char *max = ek_file_read("/proc/sys/kernel/pid_max", 64, NULL, NULL);
    ek_autofree char *la = ek_file_read("/proc/loadavg", 256, NULL, NULL);
    const char *slash = la ? strchr(la, '/') : NULL;
    if (!max || !slash) {
        return -1;
    }
    return strtoll(max, NULL, 10) - strtoll(slash + 1, NULL, 10);
}

static const char *const cond_reason[3][2] = {
    { "KubeletHasSufficientMemory", "KubeletHasInsufficientMemory" },
    { "KubeletHasNoDiskPressure", "KubeletHasDiskPressure" },
    { "KubeletHasSufficientPID", "KubeletHasInsufficientPID" },
};
static const char *const cond_msg[3][2] = {
    { "kubelet has sufficient memory available", "kubelet has insufficient memory available" },
    { "kubelet has no disk pressure", "kubelet has disk pressure" },
    { "kubelet has sufficient PID available", "kubelet has insufficient PID available" },
};

bool ek__kl_pressure(const ek_kubelet_t *kl, int i, const char **reason, const char **msg)
{
    bool on = kl->health && kl->health->pressure[i];
    *reason = cond_reason[i][on];
    *msg = cond_msg[i][on];
    return on;
}

static bool below(int64_t avail, double pct, int64_t min_bytes, double min_pct)
{
    return (min_bytes > 0 && avail < min_bytes) || (min_pct > 0 && pct < min_pct);
}

/* ---- image GC ---- */

static bool image_in_use(ek_kubelet_t *kl, const ek_image_info_t *img)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        for (size_t i = 0; i < p->nc; i++) {
            if (p->c[i].image && ek_streq(p->c[i].image->id, img->id)) {
                return true;
            }
            const char *ref = ek_json_str(ek__kl_ctr_spec(p, &p->c[i]), "image", NULL);
            ek_autofree char *norm = ref ? ek_image_ref_normalize(ref, NULL) : NULL;
            for (size_t n = 0; norm && n < img->n_names; n++) {
                if (ek_streq(norm, img->names[n])) {
                    return true;
                }
            }
        }
    }
    return false;
}

static int cmp_size(const void *a, const void *b)
{
    const ek_image_info_t *x = *(ek_image_info_t *const *)a, *y = *(ek_image_info_t *const *)b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : 0;
}

static void image_gc(struct kl_health *h, double used_pct)
{
    ek_kubelet_t *kl = h->kl;
    const char *dir = ek_image_store_dir(kl->images);
    size_t n = 0;
    ek_image_info_t **imgs = ek_image_list(kl->images, &n, NULL);
    int64_t now = ek_wall_ms();
    if (!imgs) {
        return;
    }
    if (n > 1) {
        qsort(imgs, n, sizeof(*imgs), cmp_size);
    }
    int removed = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t *seen = ek_map_get(&h->first_seen, imgs[i]->id);
        if (!seen) {
            seen = ek_new(int64_t);
            *seen = now;
            ek_map_put(&h->first_seen, imgs[i]->id, seen);
        }
        int64_t avail;
        double pct;
        if (used_pct <= h->gc_low || now - *seen < h->gc_min_age_ms || image_in_use(kl, imgs[i])) {
            continue;
        }
        ek_error_t *err = NULL;
        if (ek_image_remove(kl->images, imgs[i]->id, &err) < 0) {
            EK_LOG(EK_DEBUG, "kubelet", "image gc: keep image=%s: %s", imgs[i]->id,
                   ek_error_msg(err));
            ek_error_free(err);
            continue;
        }
        ek_image_gc(kl->images, NULL);
        removed++;
        EK_LOG(EK_INFO, "kubelet", "image gc: removed image=%s name=%s size=%llu", imgs[i]->id,
               imgs[i]->n_names ? imgs[i]->names[0] : "", (unsigned long long)imgs[i]->size);
        if (fs_available(dir, &avail, &pct)) {
            used_pct = 100.0 - pct;
        }
    }
    for (size_t i = 0; i < n; i++) {
        ek_image_info_free(imgs[i]);
    }
    free(imgs);
    if (removed) {
        ek__kl_node_changed(kl);
    }
}

/* ---- eviction ---- */

static int64_t pod_priority(const kl_pod_t *p)
{
    return ek_json_int(p->obj, 0, "spec", "priority", NULL);
}

static int64_t memory_requests(const kl_pod_t *p)
{
    ek_rt_resources_t r = { 0 };
    int64_t sum = 0;
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(p->obj, "spec", "containers", NULL), i, c) {
        const char *req = ek_json_str(c, "resources", "requests", "memory", NULL);
        ek_quantity_t q;
        int64_t v = 0;
        if (req && ek_quantity_parse(req, &q, NULL) == 0 && ek_quantity_value(&q, &v, NULL) == 0) {
            sum += v;
        }
    }
    EK_UNUSED(r);
    return sum;
}

static bool evictable(const kl_pod_t *p)
{
    return !p->terminal && !p->evicted && !p->gone && p->rt &&
           !ek_json_str(p->obj, "metadata", "deletionTimestamp", NULL);
}

static void evict_one(struct kl_health *h, const char *resource)
{
    ek_kubelet_t *kl = h->kl;
    ek__kl_evict_cand_t *c = ek_xcalloc(kl->by_uid.n + 1, sizeof(*c));
    size_t n = 0, it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        if (!evictable(p)) {
            continue;
        }
        const char *pc = ek_json_str(p->obj, "spec", "priorityClassName", NULL);
        ek_rt_usage_t u = { 0 };
        if (strcmp(resource, "memory") == 0) {
            ek_rt_usage(p->rt, NULL, &u, NULL); /* the pod cgroup's working set */
        }
        c[n++] = (ek__kl_evict_cand_t){
            .usage = (int64_t)u.memory_working_set,
            .uid = p->uid,
            .qos = ek_json_str(p->obj, "status", "qosClass", NULL) ?: ek__kl_qos_class(p->obj),
            .priority = pod_priority(p),
            .requests = memory_requests(p),
            .critical =
                ek_streq(pc, "system-node-critical") ||
                ek_json_str(p->obj, "metadata", "annotations", "kubernetes.io/config.mirror", NULL),
        };
    }
    ek__kl_evict_rank(c, n);
    kl_pod_t *p = n && !c[0].critical ? ek_map_get(&kl->by_uid, c[0].uid) : NULL;
    free(c);
    if (!p) {
        return;
    }
    ek_autofree char *msg = ek_xasprintf("The node was low on resource: %s. ", resource);
    EK_LOG(EK_WARN, "kubelet", "evicting pod=%s/%s resource=%s", p->ns, p->name, resource);
    ek__kl_event(p, "Warning", "Evicted", "The node was low on resource: %s.", resource);
    p->evicted = ek_xstrdup(msg);
    p->terminal = true;
    ek__kl_pod_sync(p);
}

/* The kubelet's eviction admission: under memory pressure a BestEffort pod that does not
 * tolerate the memory-pressure taint is refused, under disk pressure every pod that is not
 * critical; the pod ends Failed, reason Evicted. */
bool ek__kl_admit(kl_pod_t *p)
{
    struct kl_health *h = p->kl->health;
    if (!h || p->admitted || p->evicted || p->rt || p->terminal) {
        return !p->evicted || p->admitted;
    }
    for (size_t i = 0; i < p->nc; i++) {
        if (p->c[i].attempt >= 0) {
            p->admitted = true; /* it ran already */
            return true;
        }
    }
    const char *pc = ek_json_str(p->obj, "spec", "priorityClassName", NULL);
    if (ek_streq(pc, "system-node-critical") || ek_streq(pc, "system-cluster-critical")) {
        return true;
    }
    const char *cond = NULL;
    if (h->pressure[1]) {
        cond = "DiskPressure";
    } else if (h->pressure[0] && ek_streq(ek__kl_qos_class(p->obj), "BestEffort")) {
        bool tolerates = false;
        size_t i;
        json_t *t;
        json_array_foreach (ek_json_path(p->obj, "spec", "tolerations", NULL), i, t) {
            const char *key = ek_json_str(t, "key", NULL);
            const char *eff = ek_json_str(t, "effect", NULL);
            tolerates =
                tolerates || ((!key || ek_streq(key, "node.kubernetes.io/memory-pressure")) &&
                              (!eff || ek_streq(eff, "NoSchedule")) &&
                              (key || ek_streq(ek_json_str(t, "operator", NULL), "Exists")));
        }
        cond = tolerates ? NULL : "MemoryPressure";
    }
    if (!cond) {
        p->admitted = true;
        return true;
    }
    EK_LOG(EK_WARN, "kubelet", "pod rejected pod=%s/%s condition=%s", p->ns, p->name, cond);
    ek__kl_event(p, "Warning", "Evicted", "The node had condition: [%s]. ", cond);
    p->evicted = ek_xasprintf("Pod was rejected: The node had condition: [%s]. ", cond);
    p->terminal = true;
    return false;
}

static void housekeeping(uv_timer_t *t)
{
    struct kl_health *h = t->data;
    ek_kubelet_t *kl = h->kl;
    if (kl->stopping) {
        return;
    }
    int64_t mem = mem_available(), nodefs = 0, imagefs = 0, pids = pids_available();
    double node_pct = 100, image_pct = 100;
    bool have_node = fs_available(kl->data_dir, &nodefs, &node_pct);
    bool have_image = fs_available(ek_image_store_dir(kl->images), &imagefs, &image_pct);
    bool memp = mem >= 0 && h->th.memory_bytes > 0 && mem < h->th.memory_bytes;
    bool nodep = have_node && below(nodefs, node_pct, h->th.nodefs_bytes, h->th.nodefs_pct);
    bool imagep = have_image && below(imagefs, image_pct, h->th.imagefs_bytes, h->th.imagefs_pct);
    bool pidp = pids >= 0 && h->th.pids > 0 && pids < h->th.pids;
    bool now[3] = { memp, nodep || imagep, pidp };
    for (int i = 0; i < 3; i++) {
        if (now[i] != h->pressure[i]) {
            static const char *const names[] = { "MemoryPressure", "DiskPressure", "PIDPressure" };
            EK_LOG(EK_WARN, "kubelet",
                   "node condition type=%s status=%s mem=%lld nodefs=%.1f%% "
                   "imagefs=%.1f%% pids=%lld",
                   names[i], now[i] ? "True" : "False", (long long)mem, node_pct, image_pct,
                   (long long)pids);
            h->pressure[i] = now[i];
            ek__kl_node_changed(kl);
        }
    }
    if (have_image && (imagep || nodep || 100.0 - image_pct > h->gc_high)) {
        image_gc(h, EK_MAX(100.0 - image_pct, imagep || nodep ? 100.0 : 0.0));
    }
    if (!kl->adopted) {
        return;
    }
    if (memp) {
        evict_one(h, "memory");
    } else if (nodep || imagep) {
        evict_one(h, "ephemeral-storage");
    } else if (pidp) {
        evict_one(h, "pids");
    }
}

int ek__kl_health_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err)
{
    struct kl_health *h = ek_new(struct kl_health);
    h->kl = kl;
    const char *th = o->eviction_hard && *o->eviction_hard
                         ? o->eviction_hard
                         : "memory.available<100Mi,nodefs.available<10%,imagefs.available<15%";
    if (ek__kl_thresholds_parse(th, &h->th, err) < 0) {
        free(h);
        return ek_error_wrap(err, "--eviction-hard");
    }
    h->gc_high = o->image_gc_high > 0 ? o->image_gc_high : 85;
    h->gc_low = o->image_gc_low > 0 ? o->image_gc_low : 80;
    if (h->gc_low > h->gc_high || h->gc_high > 100) {
        int lo = h->gc_low, hi = h->gc_high;
        free(h);
        return ek_error_make(err, EINVAL,
                             "--image-gc-low-threshold (%d) must be at most "
                             "--image-gc-high-threshold (%d), at most 100",
                             lo, hi);
    }
    h->gc_min_age_ms = o->image_gc_min_age_ms > 0   ? o->image_gc_min_age_ms
                       : o->image_gc_min_age_ms < 0 ? 0
                                                    : 120000;
    kl->health = h;
    uv_timer_init(kl->loop, &h->timer);
    h->timer.data = h;
    kl->closing++;
    int64_t period = o->housekeeping_ms > 0 ? o->housekeeping_ms : 10000;
    uv_timer_start(&h->timer, housekeeping, 1000, (uint64_t)period);
    return 0;
}

static void health_closed(uv_handle_t *t)
{
    struct kl_health *h = t->data;
    ek_kubelet_t *kl = h->kl;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&h->first_seen, &it, &k, &v)) {
        free(v);
    }
    ek_map_free(&h->first_seen);
    free(h);
    kl->health = NULL;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_health_stop(ek_kubelet_t *kl)
{
    if (kl->health) {
        uv_timer_stop(&kl->health->timer);
        uv_close((uv_handle_t *)&kl->health->timer, health_closed);
    }
}
