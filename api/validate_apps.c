/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apps/v1 workloads (pkg/apis/apps/validation): Deployments, ReplicaSets, DaemonSets,
 * StatefulSets and ControllerRevisions. The shared rules are the selector (required,
 * non-empty, selecting its own template), the pod template (restartPolicy Always, no
 * activeDeadlineSeconds) and the rolling-update budgets; on update the selector of every
 * apps/v1 workload is immutable.
 */
#include <stdio.h>

#include "api/validate-internal.h"

/* intstr value as getIntOrPercentValue sees it: the int, the percent number, else 0. */
static long long int_or_percent_value(const json_t *v, bool *percent)
{
    *percent = false;
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    size_t n = strlen(s);
    if (n >= 2 && s[n - 1] == '%') {
        char *end;
        long long p = strtoll(s, &end, 10);
        if (end == s + n - 1) {
            *percent = true;
            return p;
        }
    }
    return 0;
}

void ek__v_int_or_percent(ek_field_errors_t *e, const json_t *v, const char *path)
{
    if (json_is_string(v)) {
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (ek__is_percent(json_string_value(v), &m)) {
            for (const char *p = m.buf; *p; p += strlen(p) + 1) {
                ek__fe_invalid_raw(e, path, json_string_value(v), "%s", p);
            }
        }
    } else if (json_is_integer(v)) {
        if (json_integer_value(v) < 0) {
            ek__fe_invalid_i(e, path, json_integer_value(v), EK_MSG_NEGATIVE);
        }
    } else if (v) {
        ek_autofree char *raw = ek__go_intstr(v);
        ek__fe_invalid_raw(e, path, raw, "must be an integer or percentage (e.g '5%%')");
    }
}

void ek__v_not_more_than_100(ek_field_errors_t *e, const json_t *v, const char *path)
{
    bool percent;
    long long n = int_or_percent_value(v, &percent);
    if (percent && n > 100) {
        ek_autofree char *raw = ek__go_intstr(v);
        ek__fe_invalid_raw(e, path, raw, "must not be greater than 100%%");
    }
}

/* Selector required, valid and non-empty (Deployment, ReplicaSet, StatefulSet). */
static void v_selector(ek_field_errors_t *e, const json_t *spec, const char *kind)
{
    const json_t *sel = ek__obj(spec, "selector");
    if (!sel) {
        ek__fe_required(e, "spec.selector", "");
        return;
    }
    ek__v_label_selector(e, sel, "spec.selector");
    if (ek__validate_len(sel, "matchLabels") + ek__validate_len(sel, "matchExpressions") == 0) {
        ek_autofree char *raw = ek__go_selector(sel);
        ek__fe_invalid_raw(e, "spec.selector", raw, "empty selector is invalid for %s", kind);
    }
}

static void v_selects_template(ek_field_errors_t *e, const json_t *spec, bool skip_empty)
{
    const json_t *labels = ek__obj(ek__obj(ek__obj(spec, "template"), "metadata"), "labels");
    bool empty;
    bool match = ek__selector_matches(ek__obj(spec, "selector"), labels, &empty);
    if ((!skip_empty || !empty) && !match) {
        ek_autofree char *raw = labels ? ek__go_json(labels) : ek_xstrdup("map[string]string(nil)");
        ek__fe_invalid_raw(e, "spec.template.metadata.labels", raw,
                           "`selector` does not match template `labels`");
    }
}

/* ValidatePodTemplateSpecForReplicaSet (Deployments and ReplicaSets). */
static void v_rs_template(ek_field_errors_t *e, const json_t *spec)
{
    v_selects_template(e, spec, true);
    const json_t *tmpl = ek__obj(spec, "template");
    ek__v_pod_template(e, tmpl, "spec.template");
    const json_t *ps = ek__obj(tmpl, "spec");
    const char *rp = ek__sstr(ps, "restartPolicy");
    if (strcmp(rp, "Always") != 0) {
        static const char *const valid[] = { "Always", NULL };
        ek__fe_not_supported_s(e, "spec.template.spec.restartPolicy", rp, valid);
    }
    long long ads;
    if (ek__int(ps, "activeDeadlineSeconds", &ads)) {
        ek__fe_invalid_i(e, "spec.template.spec.activeDeadlineSeconds", ads,
                         "activeDeadlineSeconds in ReplicaSet is not Supported");
    }
}

static char *go_strategy(const json_t *s, const char *type_name, const char *ru_type)
{
    ek_autofree char *t = ek__go_quote(ek__sstr(s, "type"));
    const char *ru = ek__has(s, "rollingUpdate") ? "(0xc000000003)" : "(nil)";
    return ek__p("apps.%s{Type:%s, RollingUpdate:(*apps.%s)%s}", type_name, t, ru_type, ru);
}

static void v_deployment_strategy(ek_field_errors_t *e, const json_t *s)
{
    const char *t = ek__sstr(s, "type");
    const json_t *ru = ek__obj(s, "rollingUpdate");
    if (strcmp(t, "Recreate") == 0) {
        if (ek__has(s, "rollingUpdate")) {
            ek__fe_forbidden(e, "spec.strategy.rollingUpdate",
                             "may not be specified when strategy `type` is 'Recreate'");
        }
    } else if (strcmp(t, "RollingUpdate") == 0) {
        if (!ru) {
            ek__fe_required(e, "spec.strategy.rollingUpdate",
                            "this should be defaulted and never be nil");
            return;
        }
        const json_t *mu = json_object_get(ru, "maxUnavailable");
        const json_t *ms = json_object_get(ru, "maxSurge");
        ek__v_int_or_percent(e, mu, "spec.strategy.rollingUpdate.maxUnavailable");
        ek__v_int_or_percent(e, ms, "spec.strategy.rollingUpdate.maxSurge");
        bool p;
        if (int_or_percent_value(mu, &p) == 0 && int_or_percent_value(ms, &p) == 0) {
            ek_autofree char *raw = ek__go_intstr(mu);
            ek__fe_invalid_raw(e, "spec.strategy.rollingUpdate.maxUnavailable", raw,
                               "may not be 0 when `maxSurge` is 0");
        }
        ek__v_not_more_than_100(e, mu, "spec.strategy.rollingUpdate.maxUnavailable");
    } else {
        static const char *const valid[] = { "Recreate", "RollingUpdate", NULL };
        ek_autofree char *raw = go_strategy(s, "DeploymentStrategy", "RollingUpdateDeployment");
        ek__fe_not_supported_raw(e, "spec.strategy", raw, valid);
    }
}

static void v_deployment_spec(ek_field_errors_t *e, const json_t *spec)
{
    ek__v_nonneg(e, spec, "replicas", "spec.replicas");
    v_selector(e, spec, "deployment");
    v_rs_template(e, spec);
    v_deployment_strategy(e, ek__obj(spec, "strategy"));
    ek__v_nonneg(e, spec, "minReadySeconds", "spec.minReadySeconds");
    ek__v_nonneg(e, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
    long long pds;
    if (ek__int(spec, "progressDeadlineSeconds", &pds)) {
        ek__v_nonneg(e, spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds");
        if (pds <= ek__intd(spec, "minReadySeconds", 0)) {
            ek__fe_invalid_i(e, "spec.progressDeadlineSeconds", pds,
                             "must be greater than minReadySeconds");
        }
    }
}

/* apps/v1 makes every workload's selector immutable after creation. */
static void v_selector_immutable(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *ns = ek__obj(ek__obj(o, "spec"), "selector");
    const json_t *os = ek__obj(ek__obj(old, "spec"), "selector");
    if (!ek__equal(ns, os)) {
        ek_autofree char *raw = ek__go_selector(ns);
        ek__fe_invalid_raw(e, "spec.selector", raw, EK_MSG_IMMUTABLE);
    }
}

void ek__v_deployment(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    } else {
        ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    }
    v_deployment_spec(e, ek__obj(o, "spec"));
    if (old) {
        v_selector_immutable(e, o, old);
    }
}

void ek__v_replicaset(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    } else {
        ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    }
    const json_t *spec = ek__obj(o, "spec");
    ek__v_nonneg(e, spec, "replicas", "spec.replicas");
    ek__v_nonneg(e, spec, "minReadySeconds", "spec.minReadySeconds");
    v_selector(e, spec, "deployment"); /* sic: Kubernetes' ReplicaSet message says deployment */
    v_rs_template(e, spec);
    if (old) {
        v_selector_immutable(e, o, old);
    }
}

static void v_daemonset_strategy(ek_field_errors_t *e, const json_t *s)
{
    const char *t = ek__sstr(s, "type");
    if (strcmp(t, "OnDelete") == 0) {
        return;
    }
    if (strcmp(t, "RollingUpdate") != 0) {
        static const char *const valid[] = { "RollingUpdate", "OnDelete", NULL };
        ek_autofree char *raw = go_strategy(s, "DaemonSetUpdateStrategy", "RollingUpdateDaemonSet");
        ek__fe_not_supported_raw(e, "spec.updateStrategy", raw, valid);
        return;
    }
    const json_t *ru = ek__obj(s, "rollingUpdate");
    if (!ru) {
        ek__fe_required(e, "spec.updateStrategy.rollingUpdate", "");
        return;
    }
    const json_t *mu = json_object_get(ru, "maxUnavailable");
    const json_t *ms = json_object_get(ru, "maxSurge");
    ek__v_int_or_percent(e, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    ek__v_int_or_percent(e, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
    ek__v_not_more_than_100(e, mu, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    ek__v_not_more_than_100(e, ms, "spec.updateStrategy.rollingUpdate.maxSurge");
    bool p;
    bool has_u = int_or_percent_value(mu, &p) != 0, has_s = int_or_percent_value(ms, &p) != 0;
    if (has_u && has_s) {
        ek_autofree char *raw = ek__go_intstr(ms);
        ek__fe_invalid_raw(e, "spec.updateStrategy.rollingUpdate.maxSurge", raw,
                           "may not be set when maxUnavailable is non-zero");
    } else if (!has_u && !has_s) {
        ek__fe_required(e, "spec.updateStrategy.rollingUpdate.maxUnavailable",
                        "cannot be 0 when maxSurge is 0");
    }
}

void ek__v_daemonset(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    } else {
        ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    }
    const json_t *spec = ek__obj(o, "spec"), *sel = ek__obj(spec, "selector");
    ek__v_label_selector(e, sel, "spec.selector");
    v_selects_template(e, spec, false);
    if (sel &&
        ek__validate_len(sel, "matchLabels") + ek__validate_len(sel, "matchExpressions") == 0) {
        ek_autofree char *raw = ek__go_selector(sel);
        ek__fe_invalid_raw(e, "spec.selector", raw, "empty selector is invalid for daemonset");
    }
    const json_t *tmpl = ek__obj(spec, "template"), *ps = ek__obj(tmpl, "spec");
    ek__v_pod_template(e, tmpl, "spec.template");
    const char *rp = ek__sstr(ps, "restartPolicy");
    if (strcmp(rp, "Always") != 0) {
        static const char *const valid[] = { "Always", NULL };
        ek__fe_not_supported_s(e, "spec.template.spec.restartPolicy", rp, valid);
    }
    long long ads;
    if (ek__int(ps, "activeDeadlineSeconds", &ads)) {
        ek__fe_invalid_i(e, "spec.template.spec.activeDeadlineSeconds", ads,
                         "activeDeadlineSeconds in DaemonSet is not Supported");
    }
    ek__v_nonneg(e, spec, "minReadySeconds", "spec.minReadySeconds");
    ek__v_nonneg(e, spec, "templateGeneration", "spec.templateGeneration");
    v_daemonset_strategy(e, ek__obj(spec, "updateStrategy"));
    ek__v_nonneg(e, spec, "revisionHistoryLimit", "spec.revisionHistoryLimit");
    if (old) {
        v_selector_immutable(e, o, old);
    }
}

static void v_sts_strategy(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *s = ek__obj(spec, "updateStrategy"), *ru = ek__obj(s, "rollingUpdate");
    const char *t = ek__sstr(s, "type");
    if (!*t) {
        ek__fe_required(e, "spec.updateStrategy", "");
    } else if (strcmp(t, "OnDelete") == 0) {
        if (ru) {
            ek_autofree char *raw = ek__go_json(ru);
            ek__fe_invalid_raw(e, "spec.updateStrategy.rollingUpdate", raw,
                               "only allowed for updateStrategy 'RollingUpdate'");
        }
    } else if (strcmp(t, "RollingUpdate") == 0) {
        ek__v_nonneg(e, ru, "partition", "spec.updateStrategy.rollingUpdate.partition");
        const json_t *mu = json_object_get(ru, "maxUnavailable");
        if (mu && !json_is_null(mu)) {
            const char *mp = "spec.updateStrategy.rollingUpdate.maxUnavailable";
            ek__v_int_or_percent(e, mu, mp);
            bool p;
            if (int_or_percent_value(mu, &p) == 0) {
                ek_autofree char *raw = ek__go_intstr(mu);
                ek__fe_invalid_raw(e, mp, raw, "cannot be 0");
            }
            ek__v_not_more_than_100(e, mu, mp);
        }
    } else {
        ek_autofree char *raw =
            go_strategy(s, "StatefulSetUpdateStrategy", "RollingUpdateStatefulSetStrategy");
        ek__fe_invalid_raw(e, "spec.updateStrategy", raw, "must be 'RollingUpdate' or 'OnDelete'");
    }
}

static void v_sts_retention(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *p = ek__obj(spec, "persistentVolumeClaimRetentionPolicy");
    static const char *const keys[] = { "whenDeleted", "whenScaled" };
    static const char *const valid[] = { "Delete", "Retain", NULL };
    for (size_t i = 0; p && i < EK_ARRAY_SIZE(keys); i++) {
        const char *v = ek__sstr(p, keys[i]);
        if (strcmp(v, "Delete") != 0 && strcmp(v, "Retain") != 0) {
            ek_autofree char *fp = ek__p("spec.persistentVolumeClaimRetentionPolicy.%s", keys[i]);
            ek__fe_not_supported_s(e, fp, v, valid);
        }
    }
}

static void v_sts_spec(ek_field_errors_t *e, const json_t *spec)
{
    const char *pmp = ek__sstr(spec, "podManagementPolicy");
    if (!*pmp) {
        ek__fe_required(e, "spec.podManagementPolicy", "");
    } else if (strcmp(pmp, "OrderedReady") != 0 && strcmp(pmp, "Parallel") != 0) {
        ek__fe_invalid_s(e, "spec.podManagementPolicy", pmp,
                         "must be 'OrderedReady' or 'Parallel'");
    }
    v_sts_strategy(e, spec);
    v_sts_retention(e, spec);
    ek__v_nonneg(e, spec, "replicas", "spec.replicas");
    ek__v_nonneg(e, spec, "minReadySeconds", "spec.minReadySeconds");
    ek__v_nonneg(e, ek__obj(spec, "ordinals"), "start", "spec.ordinals.start");
    v_selector(e, spec, "statefulset");
    /* Kubernetes checks only the template's labels and annotations here, not its pod spec. */
    const json_t *tmpl = ek__obj(spec, "template");
    v_selects_template(e, spec, true);
    const json_t *meta = ek__obj(tmpl, "metadata");
    ek__v_labels(e, ek__obj(meta, "labels"), "spec.template.labels");
    ek__v_annotations(e, ek__obj(meta, "annotations"), "spec.template.annotations");
    const json_t *ps = ek__obj(tmpl, "spec");
    const char *rp = ek__sstr(ps, "restartPolicy");
    if (strcmp(rp, "Always") != 0) {
        static const char *const valid[] = { "Always", NULL };
        ek__fe_not_supported_s(e, "spec.template.spec.restartPolicy", rp, valid);
    }
    if (ek__has(ps, "activeDeadlineSeconds")) {
        ek__fe_forbidden(e, "spec.template.spec.activeDeadlineSeconds",
                         "activeDeadlineSeconds in StatefulSet is not Supported");
    }
}

void ek__v_statefulset(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    const json_t *spec = ek__obj(o, "spec");
    if (!old) {
        ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
        v_sts_spec(e, spec);
        return;
    }
    v_sts_spec(e, spec);
    ek__v_object_meta_update(e, o, old);
    ek_auto(json_t) clone = json_deep_copy(spec ? spec : json_object());
    const json_t *os = ek__obj(old, "spec");
    static const char *const mutable_keys[] = {
        "replicas",
        "template",
        "updateStrategy",
        "minReadySeconds",
        "ordinals",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(mutable_keys); i++) {
        json_t *v = json_object_get(os, mutable_keys[i]);
        if (v) {
            json_object_set(clone, mutable_keys[i], v);
        } else {
            json_object_del(clone, mutable_keys[i]);
        }
    }
    if (!ek__equal(clone, os)) {
        ek__fe_forbidden(e, "spec",
                         "updates to statefulset spec for fields other than 'replicas', "
                         "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
                         "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                         "forbidden");
    }
}

void ek__v_controllerrevision(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    if (!ek__has(o, "data")) {
        ek__fe_required(e, "data", "data is mandatory");
    }
    ek__v_nonneg(e, o, "revision", "revision");
    if (old && !ek__equal(json_object_get(o, "data"), json_object_get(old, "data"))) {
        ek__fe_invalid_j(e, "data", json_object_get(o, "data"), EK_MSG_IMMUTABLE);
    }
}
