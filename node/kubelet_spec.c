/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From a pod's container to a runtime container spec: the image's layers and defaults, the
 * environment and command line (kubelet_env.c), the identity and capabilities of the
 * securityContext (container over pod), the mounts (volumes, the kubelet's /etc files, the
 * termination message file), cgroup limits mapped as the kubelet maps requests and limits,
 * and the CRI log path. Built on the loop from the informer caches, then handed to a job.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "node/kubelet-internal.h"

/* ---- resources and QoS ---- */

static int64_t qty(const json_t *ctr, const char *kind, const char *name, bool milli)
{
    const char *s = ek_json_str(ctr, "resources", kind, name, NULL);
    ek_quantity_t q;
    int64_t v = 0;
    if (!s || ek_quantity_parse(s, &q, NULL) < 0 ||
        (milli ? ek_quantity_milli(&q, &v, NULL) : ek_quantity_value(&q, &v, NULL)) < 0) {
        return 0;
    }
    return v;
}

static int64_t shares_of(int64_t milli)
{
    if (milli <= 0) {
        return 2;
    }
    int64_t s = milli * 1024 / 1000;
    return EK_MIN(EK_MAX(s, 2), 262144);
}

static int64_t quota_of(int64_t milli)
{
    if (milli <= 0) {
        return 0;
    }
    return EK_MAX(milli * 100, 1000); /* period 100 ms: quota = milli * 100000 / 1000 */
}

void ek__kl_container_resources(const json_t *ctr, ek_rt_resources_t *out)
{
    memset(out, 0, sizeof(*out));
    out->memory_limit = qty(ctr, "limits", "memory", false);
    out->cpu_quota_us = quota_of(qty(ctr, "limits", "cpu", true));
    out->cpu_period_us = out->cpu_quota_us ? 100000 : 0;
    out->cpu_shares = shares_of(qty(ctr, "requests", "cpu", true));
}

const char *ek__kl_qos_class(const json_t *pod)
{
    int64_t req[2] = { 0 }, lim[2] = { 0 };
    bool have_req[2] = { 0 }, have_lim[2] = { 0 }, guaranteed = true;
    const char *names[2] = { "cpu", "memory" };
    const char *lists[2] = { "containers", "initContainers" };
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (ek_json_path(pod, "spec", lists[l], NULL), i, c) {
            bool found[2] = { 0 };
            for (int r = 0; r < 2; r++) {
                int64_t rq = qty(c, "requests", names[r], true);
                int64_t lm = qty(c, "limits", names[r], true);
                if (rq > 0) {
                    req[r] += rq;
                    have_req[r] = true;
                }
                if (lm > 0) {
                    lim[r] += lm;
                    have_lim[r] = found[r] = true;
                }
            }
            guaranteed = guaranteed && found[0] && found[1];
        }
    }
    int nreq = have_req[0] + have_req[1], nlim = have_lim[0] + have_lim[1];
    if (nreq == 0 && nlim == 0) {
        return "BestEffort";
    }
    for (int r = 0; r < 2 && guaranteed; r++) {
        guaranteed = !have_req[r] || (have_lim[r] && lim[r] == req[r]);
    }
    return guaranteed && nreq == nlim ? "Guaranteed" : "Burstable";
}

/* The pod's effective value of a resource: the regular containers and sidecars together,
 * or the largest init container (with the sidecars started before it) when that is more. */
static int64_t pod_sum(const json_t *pod, const char *kind, const char *name, bool milli,
                       bool *all_set)
{
    int64_t sum = 0, side = 0, peak = 0;
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "spec", "initContainers", NULL), i, c) {
        int64_t v = qty(c, kind, name, milli);
        *all_set = *all_set && v > 0;
        if (ek_streq(ek_json_str(c, "restartPolicy", NULL), "Always")) {
            side += v;
        } else {
            peak = EK_MAX(peak, side + v);
        }
    }
    json_array_foreach (ek_json_path(pod, "spec", "containers", NULL), i, c) {
        int64_t v = qty(c, kind, name, milli);
        *all_set = *all_set && v > 0;
        sum += v;
    }
    return EK_MAX(sum + side, peak);
}

void ek__kl_pod_resources(const json_t *pod, int64_t pids_limit, ek_rt_resources_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *qos = ek_json_str(pod, "status", "qosClass", NULL) ?: ek__kl_qos_class(pod);
    bool cpu_all = true, mem_all = true, ignore = true;
    int64_t cpu_req = pod_sum(pod, "requests", "cpu", true, &ignore);
    int64_t cpu_lim = pod_sum(pod, "limits", "cpu", true, &cpu_all);
    int64_t mem_lim = pod_sum(pod, "limits", "memory", false, &mem_all);
    out->pids_limit = pids_limit > 0 ? pids_limit : 0;
    if (strcmp(qos, "BestEffort") == 0) {
        out->cpu_shares = 2;
        return;
    }
    out->cpu_shares = shares_of(cpu_req);
    bool guaranteed = strcmp(qos, "Guaranteed") == 0;
    if (guaranteed || cpu_all) {
        out->cpu_quota_us = quota_of(cpu_lim);
        out->cpu_period_us = out->cpu_quota_us ? 100000 : 0;
    }
    if (guaranteed || mem_all) {
        out->memory_limit = mem_lim;
    }
}

/* ---- names and paths ---- */

char *ek__kl_rt_name(const kl_ctr_t *c, int attempt)
{
    return ek_xasprintf("%s.%d", c->base, attempt);
}

char *ek__kl_log_path(const ek_kubelet_t *kl, const char *ns, const char *name, const char *uid,
                      const char *ctr, int attempt)
{
    return ek_xasprintf("%s/%s_%s_%s/%s/%d.log", kl->log_dir, ns, name, uid, ctr, attempt);
}

char *ek__kl_pod_dir(const ek_kubelet_t *kl, const char *uid)
{
    return ek_xasprintf("%s/%s", kl->pods_dir, uid);
}

static const char *volume_plugin(const json_t *vol)
{
    static const char *const kinds[][2] = {
        { "emptyDir", "kubernetes.io~empty-dir" },  { "configMap", "kubernetes.io~configmap" },
        { "secret", "kubernetes.io~secret" },       { "downwardAPI", "kubernetes.io~downward-api" },
        { "projected", "kubernetes.io~projected" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        if (json_object_get(vol, kinds[i][0])) {
            return kinds[i][1];
        }
    }
    return NULL;
}

char *ek__kl_volume_path(const ek_kubelet_t *kl, const json_t *pod, const json_t *vol)
{
    const char *hp = ek_json_str(vol, "hostPath", "path", NULL);
    if (hp) {
        return ek_xstrdup(hp);
    }
    const char *plugin = volume_plugin(vol);
    if (!plugin) {
        return NULL;
    }
    return ek_xasprintf("%s/%s/volumes/%s/%s", kl->pods_dir,
                        ek_json_str(pod, "metadata", "uid", NULL), plugin,
                        ek_json_str(vol, "name", NULL));
}

/* ---- the container spec ---- */

void ek__kl_cspec_free(kl_cspec_t *cs)
{
    if (!cs) {
        return;
    }
    for (size_t i = 0; cs->args && cs->args[i]; i++) {
        free(cs->args[i]);
    }
    for (size_t i = 0; cs->env && cs->env[i]; i++) {
        free(cs->env[i]);
    }
    free(cs->args);
    free(cs->env);
    free(cs->layers);
    free(cs->cap_add);
    free(cs->cap_drop);
    free(cs->mounts);
    free(cs->groups);
    free(cs->rt_name);
    free(cs->term_path);
    free(cs->image_id);
    free(cs->hold_key);
    ek_strlist_free(&cs->own);
    ek_strlist_free(&cs->mkdirs);
    free(cs);
}

/* Keeps a copy of s alive as long as the spec; returns it. */
static const char *own(kl_cspec_t *cs, const char *s)
{
    if (!s) {
        return NULL;
    }
    ek_strlist_add(&cs->own, s);
    return cs->own.v[cs->own.n - 1];
}

static const char *own_take(kl_cspec_t *cs, char *s)
{
    const char *r = own(cs, s);
    free(s);
    return r;
}

/* A securityContext field: the container's, else the pod's. */
static json_t *sc(const json_t *pod, const json_t *ctr, const char *field)
{
    json_t *v = ek_json_path(ctr, "securityContext", field, NULL);
    return v ? v : ek_json_path(pod, "spec", "securityContext", field, NULL);
}

static const char **strv_of(kl_cspec_t *cs, const json_t *a)
{
    if (!json_is_array(a)) {
        return NULL;
    }
    const char **v = ek_xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i;
    json_t *s;
    json_array_foreach (a, i, s) {
        v[i] = own(cs, json_string_value(s) ?: "");
    }
    return v;
}

static void identity(kl_cspec_t *cs, const json_t *pod, const json_t *ctr, const json_t *cfg)
{
    ek_rt_container_spec_t *s = &cs->s;
    json_t *u = sc(pod, ctr, "runAsUser"), *g = sc(pod, ctr, "runAsGroup");
    s->run_as_user = json_is_integer(u) ? json_integer_value(u) : -1;
    s->run_as_group = json_is_integer(g) ? json_integer_value(g) : -1;
    s->run_as_non_root = json_is_true(sc(pod, ctr, "runAsNonRoot"));
    s->image_user = own(cs, ek_json_str(cfg, "User", NULL));
    json_t *sup = ek_json_path(pod, "spec", "securityContext", "supplementalGroups", NULL);
    json_t *fs = ek_json_path(pod, "spec", "securityContext", "fsGroup", NULL);
    cs->groups = ek_xcalloc(json_array_size(sup) + 2, sizeof(gid_t));
    size_t i, n = 0;
    json_t *v;
    json_array_foreach (sup, i, v) {
        cs->groups[n++] = (gid_t)json_integer_value(v);
    }
    if (json_is_integer(fs)) {
        cs->groups[n++] = (gid_t)json_integer_value(fs);
    }
    s->supplemental_groups = cs->groups;
    s->n_supplemental_groups = n;
    json_t *csc = json_object_get(ctr, "securityContext");
    cs->cap_add = strv_of(cs, ek_json_path(csc, "capabilities", "add", NULL));
    cs->cap_drop = strv_of(cs, ek_json_path(csc, "capabilities", "drop", NULL));
    s->cap_add = cs->cap_add;
    s->cap_drop = cs->cap_drop;
    s->privileged = ek_json_bool(csc, false, "privileged", NULL);
    json_t *ape = json_object_get(csc, "allowPrivilegeEscalation");
    s->no_new_privs = json_is_false(ape) && !s->privileged;
    s->readonly_rootfs = ek_json_bool(csc, false, "readOnlyRootFilesystem", NULL);
    s->unmasked_proc = ek_streq(ek_json_str(csc, "procMount", NULL), "Unmasked");
}

static int signal_of(const char *name)
{
    static const struct {
        const char *n;
        int s;
    } sigs[] = { { "TERM", SIGTERM }, { "INT", SIGINT },     { "QUIT", SIGQUIT },
                 { "KILL", SIGKILL }, { "HUP", SIGHUP },     { "USR1", SIGUSR1 },
                 { "USR2", SIGUSR2 }, { "WINCH", SIGWINCH }, { "STOP", SIGSTOP } };
    if (!name || !*name) {
        return SIGTERM;
    }
    if (ek_has_prefix(name, "SIG")) {
        name += 3;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(sigs); i++) {
        if (strcmp(sigs[i].n, name) == 0) {
            return sigs[i].s;
        }
    }
    int n = atoi(name);
    return n > 0 && n < 65 ? n : SIGTERM;
}

static void add_mount(kl_cspec_t *cs, const char *dst, const char *src, bool ro,
                      ek_rt_propagation_t prop)
{
    if (cs->s.n_mounts == cs->n_mounts_cap) {
        cs->n_mounts_cap = cs->n_mounts_cap ? cs->n_mounts_cap * 2 : 8;
        cs->mounts = ek_xrealloc(cs->mounts, cs->n_mounts_cap * sizeof(ek_rt_mount_t));
    }
    cs->mounts[cs->s.n_mounts++] = (ek_rt_mount_t){
        .destination = own(cs, dst), .source = own(cs, src), .readonly = ro, .propagation = prop
    };
    cs->s.mounts = cs->mounts;
}

static const json_t *find_volume(const json_t *pod, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach (ek_json_path(pod, "spec", "volumes", NULL), i, v) {
        if (ek_streq(ek_json_str(v, "name", NULL), name)) {
            return v;
        }
    }
    return NULL;
}

static bool subpath_ok(const char *s)
{
    if (*s == '/') {
        return false;
    }
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            return false;
        }
        p += n;
        p += *p == '/';
    }
    return true;
}

static int volume_mount(kl_cspec_t *cs, const kl_pod_t *p, const json_t *vm,
                        const ek__kl_env_t *env, ek_error_t **err)
{
    const char *name = ek_json_str(vm, "name", NULL) ?: "";
    const char *dst = ek_json_str(vm, "mountPath", NULL) ?: "";
    const json_t *vol = find_volume(p->obj, name);
    ek_autofree char *host = vol ? ek__kl_volume_path(p->kl, p->obj, vol) : NULL;
    if (!host) {
        return ek_error_status(err, 400, "volume \"%s\" has a type this node does not support",
                               name);
    }
    /* Volumes the kubelet writes (configMap, secret, downwardAPI, projected) are read-only. */
    bool ro = ek_json_bool(vm, false, "readOnly", NULL) ||
              (!json_object_get(vol, "hostPath") && !json_object_get(vol, "emptyDir"));
    const char *prop = ek_json_str(vm, "mountPropagation", NULL) ?: "None";
    ek_rt_propagation_t pr = strcmp(prop, "Bidirectional") == 0     ? EK_RT_PROP_BIDIRECTIONAL
                             : strcmp(prop, "HostToContainer") == 0 ? EK_RT_PROP_HOST_TO_CONTAINER
                                                                    : EK_RT_PROP_PRIVATE;
    ek_autofree char *sub = NULL;
    if (ek_json_str(vm, "subPathExpr", NULL)) {
        sub = ek__kl_expand(ek_json_str(vm, "subPathExpr", NULL), (ek__kl_lookup_fn)ek__kl_env_get,
                            (void *)env);
    } else if (ek_json_str(vm, "subPath", NULL)) {
        sub = ek_xstrdup(ek_json_str(vm, "subPath", NULL));
    }
    if (sub && *sub) {
        if (!subpath_ok(sub)) {
            return ek_error_status(err, 400, "subPath \"%s\" must be a relative path without ..",
                                   sub);
        }
        ek_autofree char *full = ek_xasprintf("%s/%s", host, sub);
        ek_strlist_add(&cs->mkdirs, full);
        add_mount(cs, dst, full, ro, pr);
        return 0;
    }
    add_mount(cs, dst, host, ro, pr);
    return 0;
}

static bool has_mount_at(const json_t *ctr, const char *path)
{
    size_t i;
    json_t *vm;
    json_array_foreach (json_object_get(ctr, "volumeMounts"), i, vm) {
        if (ek_streq(ek_json_str(vm, "mountPath", NULL), path)) {
            return true;
        }
    }
    return false;
}

static int mounts(kl_cspec_t *cs, const kl_pod_t *p, const kl_ctr_t *c, int attempt,
                  const json_t *ctr, const ek__kl_env_t *env, ek_error_t **err)
{
    size_t i;
    json_t *vm;
    json_array_foreach (json_object_get(ctr, "volumeMounts"), i, vm) {
        if (volume_mount(cs, p, vm, env, err) < 0) {
            return -1;
        }
    }
    ek_autofree char *dir = ek__kl_pod_dir(p->kl, p->uid);
    static const char *const etc[][2] = { { "/etc/hosts", "etc-hosts" },
                                          { "/etc/hostname", "etc-hostname" },
                                          { "/etc/resolv.conf", "resolv.conf" } };
    for (size_t k = 0; k < EK_ARRAY_SIZE(etc); k++) {
        if (!has_mount_at(ctr, etc[k][0])) {
            ek_autofree char *src = ek_xasprintf("%s/%s", dir, etc[k][1]);
            add_mount(cs, etc[k][0], src, false, EK_RT_PROP_PRIVATE);
        }
    }
    json_t *tmp = json_object_get(ctr, "terminationMessagePath");
    const char *tpath = tmp ? json_string_value(tmp) : "/dev/termination-log";
    if (tpath && *tpath) {
        cs->term_path = ek_xasprintf("%s/containers/%s/%d-termination-log", dir, c->base, attempt);
        add_mount(cs, tpath, cs->term_path, false, EK_RT_PROP_PRIVATE);
    }
    return 0;
}

static void skipped_event(kl_pod_t *p, const json_t *ctr, const char *skipped)
{
    ek__kl_event(p, "Warning", "InvalidEnvironmentVariableNames",
                 "Keys [%s] from the EnvFrom of container %s were skipped since they are "
                 "considered invalid environment variable names.",
                 skipped, ek_json_str(ctr, "name", NULL));
}

kl_cspec_t *ek__kl_cspec_build(kl_pod_t *p, kl_ctr_t *c, int attempt, ek_error_t **err)
{
    ek_kubelet_t *kl = p->kl;
    json_t *ctr = ek__kl_ctr_spec(p, c);
    const json_t *cfg = c->image ? c->image->config : NULL;
    ek__kl_sources_t src;
    ek__kl_sources(p, &src);
    ek__kl_env_t env;
    ek_autofree char *skipped = NULL;
    if (ek__kl_make_env(p->obj, ctr, &src, &env, &skipped, err) < 0) {
        return NULL;
    }
    if (skipped) {
        skipped_event(p, ctr, skipped);
    }
    kl_cspec_t *cs = ek_new(kl_cspec_t);
    ek_rt_container_spec_t *s = &cs->s;
    cs->rt_name = ek__kl_rt_name(c, attempt);
    s->name = cs->rt_name;
    cs->args = ek__kl_command(ctr, cfg, &env, err);
    if (!cs->args || mounts(cs, p, c, attempt, ctr, &env, err) < 0) {
        ek__kl_env_free(&env);
        ek__kl_cspec_free(cs);
        return NULL;
    }
    s->args = (const char *const *)cs->args;
    ek_autofree char *hostname = ek__kl_pod_hostname(p->obj, kl->hostname);
    cs->env = ek__kl_env_strings(cfg, &env, hostname);
    s->env = (const char *const *)cs->env;
    ek__kl_env_free(&env);
    const char *wd = ek_json_str(ctr, "workingDir", NULL);
    s->cwd = own(cs, wd && *wd ? wd : ek_json_str(cfg, "WorkingDir", NULL));
    if (s->cwd && !*s->cwd) {
        s->cwd = NULL;
    }
    cs->layers = ek_xcalloc(c->image->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < c->image->n_layers; i++) {
        cs->layers[i] = own(cs, c->image->layers[i]);
    }
    s->layers = cs->layers;
    identity(cs, p->obj, ctr, cfg);
    ek__kl_container_resources(ctr, &s->resources);
    s->log_path = own_take(cs, ek__kl_log_path(kl, p->ns, p->name, p->uid, c->name, attempt));
    s->stop_signal = signal_of(ek_json_str(cfg, "StopSignal", NULL));
    cs->image_id = ek_xstrdup(c->image->id);
    cs->hold_key = ek_xasprintf("%s-%s", p->uid, c->base);
    return cs;
}
