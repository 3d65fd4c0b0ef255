/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The arithmetic of Deployments, kept apart from the controller's I/O so it can be tested on
 * its own: int-or-percent values and Kubernetes' rounding (maxSurge rounds up, maxUnavailable
 * down, both zero means one unavailable), the size of a new ReplicaSet during a rolling update,
 * proportional scaling of the ReplicaSets of a rollout in progress, the revision-history
 * annotation, and template equality that ignores the pod-template-hash label and, as
 * apimachinery's semantic equality does, empty versus absent fields.
 */
#include <math.h>
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

int intstr_scaled(const json_t *v, int total, bool round_up, int *out)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    char *end;
    long pct = strtol(s, &end, 10);
    if (n < 2 || s[n - 1] != '%' || end != s + n - 1) {
        return -1;
    }
    /* Go computes these in float64: math.Ceil/Floor(float64(v) * float64(total) / 100). */
    double x = (double)pct * (double)total / 100.0;
    *out = (int)(round_up ? ceil(x) : floor(x));
    return 0;
}

static bool is_rolling(const json_t *d)
{
    const char *t = ek_json_str(d, "spec", "strategy", "type", NULL);
    return !t || ek_streq(t, "RollingUpdate");
}

void deploy_fenceposts(const json_t *d, int32_t *surge, int32_t *unavail)
{
    int32_t desired = (int32_t)ek_json_int(d, 1, "spec", "replicas", NULL);
    const json_t *ru = ek_json_path(d, "spec", "strategy", "rollingUpdate", NULL);
    int s = 0, u = 0;
    /* Validation keeps both valid; an invalid value counts as zero here, as in Kubernetes. */
    if (intstr_scaled(json_object_get(ru, "maxSurge"), desired, true, &s) < 0) {
        s = 0;
    }
    if (intstr_scaled(json_object_get(ru, "maxUnavailable"), desired, false, &u) < 0) {
        u = 0;
    }
    if (s == 0 && u == 0) {
        /* Rounding down may zero both fenceposts: then allow one unavailable pod, since a
         * surge might not be possible under quota. */
        u = 1;
    }
    *surge = s;
    *unavail = u;
}

int32_t deploy_max_surge(const json_t *d)
{
    if (!is_rolling(d)) {
        return 0;
    }
    int32_t s, u;
    deploy_fenceposts(d, &s, &u);
    return s;
}

int32_t deploy_max_unavailable(const json_t *d)
{
    int32_t desired = (int32_t)ek_json_int(d, 1, "spec", "replicas", NULL);
    if (!is_rolling(d) || desired == 0) {
        return 0;
    }
    int32_t s, u;
    deploy_fenceposts(d, &s, &u);
    return u > desired ? desired : u;
}

int32_t deploy_new_rs_replicas(const json_t *d, int32_t all_replicas, int32_t new_replicas)
{
    int32_t desired = (int32_t)ek_json_int(d, 1, "spec", "replicas", NULL);
    if (!is_rolling(d)) {
        return desired; /* Recreate */
    }
    int surge = 0;
    const json_t *ru = ek_json_path(d, "spec", "strategy", "rollingUpdate", NULL);
    if (intstr_scaled(json_object_get(ru, "maxSurge"), desired, true, &surge) < 0) {
        surge = 0;
    }
    int32_t max_total = desired + surge;
    if (all_replicas >= max_total) {
        return new_replicas; /* cannot scale up */
    }
    int32_t up = max_total - all_replicas;
    if (up > desired - new_replicas) {
        up = desired - new_replicas; /* never past the desired count */
    }
    return new_replicas + up;
}

/* getReplicaSetFraction: how much rs should change so it keeps its share of the deployment
 * when the deployment's maximum size moves from its max-replicas annotation to now. */
static int32_t rs_fraction(const prop_rs_t *rs, int32_t desired, int32_t max_surge,
                           int32_t status_replicas)
{
    if (desired == 0) {
        return -rs->replicas;
    }
    int32_t max_now = desired + max_surge;
    int32_t before = rs->max_annotation;
    if (before <= 0) {
        /* No annotation (a ReplicaSet made by hand): the deployment's current size. */
        before = status_replicas;
        if (before == 0) {
            return 0;
        }
    }
    double size = (double)rs->replicas * (double)max_now / (double)before;
    return (int32_t)round(size) - rs->replicas; /* Go's math.Round: half away from zero */
}

int32_t deploy_proportion(const prop_rs_t *rs, int32_t desired, int32_t max_surge,
                          int32_t status_replicas, int32_t to_add, int32_t added)
{
    if (rs->replicas == 0 || to_add == 0 || to_add == added) {
        return 0;
    }
    int32_t frac = rs_fraction(rs, desired, max_surge, status_replicas);
    int32_t allowed = to_add - added;
    if (to_add > 0) {
        return frac < allowed ? frac : allowed;
    }
    return frac > allowed ? frac : allowed;
}

void deploy_scale_proportionally(prop_rs_t *v, size_t n, int32_t desired, int32_t max_surge,
                                 int32_t status_replicas)
{
    int32_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += v[i].replicas;
    }
    int32_t allowed = desired > 0 ? desired + max_surge : 0;
    int32_t to_add = allowed - total, added = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].new_size = v[i].replicas;
        if (to_add != 0) {
            int32_t p =
                deploy_proportion(&v[i], desired, max_surge, status_replicas, to_add, added);
            v[i].new_size += p;
            added += p;
        }
    }
    /* Leftovers from rounding go to the first (largest) ReplicaSet. */
    if (n > 0 && to_add != 0) {
        v[0].new_size += to_add - added;
        if (v[0].new_size < 0) {
            v[0].new_size = 0;
        }
    }
}

char *deploy_revision_history(const char *history, const char *old_rev, size_t limit)
{
    if (!history || !*history) {
        return ek_xstrdup(old_rev);
    }
    size_t total = strlen(history) + strlen(old_rev) + 1;
    const char *start = history;
    /* Drop the oldest entries until the list fits in limit characters. */
    while (total > limit && start) {
        const char *comma = strchr(start, ',');
        total -= (comma ? (size_t)(comma - start) : strlen(start)) + 1;
        start = comma ? comma + 1 : NULL;
    }
    if (total > limit) {
        return NULL; /* not even the newest revision fits: leave the annotation */
    }
    if (!start || !*start) {
        return ek_xstrdup(old_rev);
    }
    return ek_xasprintf("%s,%s", start, old_rev);
}

/* Go zero values: what an absent field decodes to. */
static bool is_empty(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v)) {
        return true;
    }
    if (json_is_string(v)) {
        return json_string_length(v) == 0;
    }
    if (json_is_array(v)) {
        return json_array_size(v) == 0;
    }
    if (json_is_object(v)) {
        return json_object_size(v) == 0;
    }
    if (json_is_number(v)) {
        return json_number_value(v) == 0;
    }
    return false;
}

bool json_semantic_equal(const json_t *a, const json_t *b)
{
    if (is_empty(a) && is_empty(b)) {
        return true;
    }
    if (!a || !b) {
        return false;
    }
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b)) {
        return false;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!json_semantic_equal(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *)a, k, v) {
            if (!json_semantic_equal(v, json_object_get(b, k))) {
                return false;
            }
        }
        json_object_foreach ((json_t *)b, k, v) {
            if (!json_object_get(a, k) && !is_empty(v)) {
                return false;
            }
        }
        return true;
    }
    return json_equal(a, b);
}

bool template_equal_ignore_hash(const json_t *a, const json_t *b)
{
    ek_auto(json_t) ca = json_deep_copy(a);
    ek_auto(json_t) cb = json_deep_copy(b);
    json_object_del(ek_json_path(ca, "metadata", "labels", NULL), POD_TEMPLATE_HASH_LABEL);
    json_object_del(ek_json_path(cb, "metadata", "labels", NULL), POD_TEMPLATE_HASH_LABEL);
    return json_semantic_equal(ca, cb);
}
