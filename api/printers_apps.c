/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printers for the workload kinds: apps (Deployment, ReplicaSet, DaemonSet, StatefulSet,
 * ControllerRevision), batch (Job, CronJob), autoscaling (HorizontalPodAutoscaler) and
 * policy (PodDisruptionBudget). Their -o wide columns list the pod template's containers,
 * images and the label selector.
 */
#include <ctype.h>
#include <stdio.h>

#include "api/printers-internal.h"

#define COL_CONTAINERS EK__COL_WIDE("Containers", "string", EK__DESC_CONTAINERS)
#define COL_IMAGES     EK__COL_WIDE("Images", "string", EK__DESC_IMAGES)
#define COL_SELECTOR   EK__COL_WIDE("Selector", "string", "Labels of the pods it manages.")

static const json_t *template_containers(const json_t *obj)
{
    return ek_json_path(obj, "spec", "template", "spec", "containers", NULL);
}

/* ---- Deployment ---- */

static const ek_column_t deployment_columns[] = {
    EK__COL_NAME,
    EK__COL("Ready", "string", "Ready pods out of the pods wanted."),
    EK__COL("Up-to-date", "string", "Pods that run the latest pod template."),
    EK__COL("Available", "string", "Pods that have been ready for minReadySeconds."),
    EK__COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void deployment_row(const json_t *d, time_t now, json_t *cells)
{
    ek__cell_name(cells, d);
    ek__cell_strf(cells, "%lld/%lld", ek_json_int(d, 0, "status", "readyReplicas", NULL),
                  ek_json_int(d, 0, "spec", "replicas", NULL));
    ek__cell_int(cells, ek_json_int(d, 0, "status", "updatedReplicas", NULL));
    ek__cell_int(cells, ek_json_int(d, 0, "status", "availableReplicas", NULL));
    ek__cell_age(cells, d, now);
    ek__cells_containers(cells, template_containers(d));
    /* Unlike the other workloads, an empty selector prints as "" here, not "<none>". */
    char *sel = ek__selector_string(ek_json_path(d, "spec", "selector", NULL));
    ek__cell_take(cells, sel ? sel : ek_xstrdup("<invalid>"));
}

const ek_printer_t ek__printer_deployment = EK__PRINTER(deployment_columns, deployment_row);

/* ---- ReplicaSet ---- */

static const ek_column_t replicaset_columns[] = {
    EK__COL_NAME,
    EK__COL("Desired", "integer", "Number of pods wanted."),
    EK__COL("Current", "integer", "Number of pods that exist."),
    EK__COL("Ready", "integer", "Number of pods that are ready."),
    EK__COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void replicaset_row(const json_t *rs, time_t now, json_t *cells)
{
    ek__cell_name(cells, rs);
    ek__cell_int(cells, ek_json_int(rs, 0, "spec", "replicas", NULL));
    ek__cell_int(cells, ek_json_int(rs, 0, "status", "replicas", NULL));
    ek__cell_int(cells, ek_json_int(rs, 0, "status", "readyReplicas", NULL));
    ek__cell_age(cells, rs, now);
    ek__cells_containers(cells, template_containers(rs));
    ek__cell_take(cells, ek__format_selector(ek_json_path(rs, "spec", "selector", NULL)));
}

const ek_printer_t ek__printer_replicaset = EK__PRINTER(replicaset_columns, replicaset_row);

/* ---- DaemonSet ---- */

static const ek_column_t daemonset_columns[] = {
    EK__COL_NAME,
    EK__COL("Desired", "integer", "Number of nodes that should run the daemon pod."),
    EK__COL("Current", "integer", "Number of nodes that run the daemon pod."),
    EK__COL("Ready", "integer", "Number of nodes whose daemon pod is ready."),
    EK__COL("Up-to-date", "integer", "Number of nodes that run the latest pod template."),
    EK__COL("Available", "integer", "Number of nodes whose daemon pod is available."),
    EK__COL("Node Selector", "string", "Labels a node needs to run the daemon pod."),
    EK__COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void daemonset_row(const json_t *ds, time_t now, json_t *cells)
{
    static const char *const counts[] = {
        "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
        "updatedNumberScheduled", "numberAvailable",
    };
    ek__cell_name(cells, ds);
    for (size_t i = 0; i < EK_ARRAY_SIZE(counts); i++) {
        ek__cell_int(cells, ek_json_int(ds, 0, "status", counts[i], NULL));
    }
    ek__cell_take(cells, ek__format_labels(
                             ek_json_path(ds, "spec", "template", "spec", "nodeSelector", NULL)));
    ek__cell_age(cells, ds, now);
    ek__cells_containers(cells, template_containers(ds));
    ek__cell_take(cells, ek__format_selector(ek_json_path(ds, "spec", "selector", NULL)));
}

const ek_printer_t ek__printer_daemonset = EK__PRINTER(daemonset_columns, daemonset_row);

/* ---- StatefulSet ---- */

static const ek_column_t statefulset_columns[] = {
    EK__COL_NAME, EK__COL("Ready", "string", "Ready pods out of the pods wanted."),
    EK__COL_AGE,  COL_CONTAINERS,
    COL_IMAGES,
};

static void statefulset_row(const json_t *ss, time_t now, json_t *cells)
{
    ek__cell_name(cells, ss);
    ek__cell_strf(cells, "%lld/%lld", ek_json_int(ss, 0, "status", "readyReplicas", NULL),
                  ek_json_int(ss, 0, "spec", "replicas", NULL));
    ek__cell_age(cells, ss, now);
    ek__cells_containers(cells, template_containers(ss));
}

const ek_printer_t ek__printer_statefulset = EK__PRINTER(statefulset_columns, statefulset_row);

/* ---- ControllerRevision ---- */

static const ek_column_t controllerrevision_columns[] = {
    EK__COL_NAME,
    EK__COL("Controller", "string", "The controller that owns the revision, as kind.group/name."),
    EK__COL("Revision", "string", "The revision number."),
    EK__COL_AGE,
};

/*
 * "statefulset.apps/web" from the controller owner reference. An apiVersion with more than
 * one '/' makes kube-apiserver fail the whole request; here the name is printed alone.
 */
static char *controller_name(const json_t *cr)
{
    const json_t *ref = NULL;
    size_t i;
    const json_t *o;
    json_array_foreach (ek_json_path(cr, "metadata", "ownerReferences", NULL), i, o) {
        if (ek_json_bool(o, false, "controller", NULL)) {
            ref = o;
            break;
        }
    }
    if (!ref) {
        return ek_xstrdup("<none>");
    }
    const char *name = ek__or(ek_json_str(ref, "name", NULL), "");
    const char *kind = ek__or(ek_json_str(ref, "kind", NULL), "");
    const char *av = ek__or(ek_json_str(ref, "apiVersion", NULL), "");
    const char *slash = strchr(av, '/');
    if ((slash && strchr(slash + 1, '/')) || strcmp(av, "/") == 0) {
        return ek_xstrdup(name);
    }
    size_t glen = slash ? (size_t)(slash - av) : 0;
    if (glen == 0 && !*kind) {
        return ek_xstrdup(name);
    }
    char *s = glen ? ek_xasprintf("%s.%.*s/%s", kind, (int)glen, av, name)
                   : ek_xasprintf("%s/%s", kind, name);
    for (char *p = s; *p && p < s + strlen(kind) + glen + 1; p++) {
        *p = (char)tolower((unsigned char)*p); /* the kind.group part, not the name */
    }
    return s;
}

static void controllerrevision_row(const json_t *cr, time_t now, json_t *cells)
{
    ek__cell_name(cells, cr);
    ek__cell_take(cells, controller_name(cr));
    ek__cell_int(cells, ek_json_int(cr, 0, "revision", NULL));
    ek__cell_age(cells, cr, now);
}

const ek_printer_t ek__printer_controllerrevision =
    EK__PRINTER(controllerrevision_columns, controllerrevision_row);

/* ---- Job ---- */

static const ek_column_t job_columns[] = {
    EK__COL_NAME,
    EK__COL("Status", "string", "Complete, Failed, Terminating, Suspended, ... or Running."),
    EK__COL("Completions", "string", "Succeeded pods out of the completions wanted."),
    EK__COL("Duration", "string", "How long the job ran, or has been running."),
    EK__COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static const char *job_status(const json_t *job)
{
    const json_t *conds = ek_json_path(job, "status", "conditions", NULL);
    if (ek__cond_true(conds, "Complete")) {
        return "Complete";
    }
    if (ek__cond_true(conds, "Failed")) {
        return "Failed";
    }
    if (ek__deleting(job)) {
        return "Terminating";
    }
    if (ek__cond_true(conds, "Suspended")) {
        return "Suspended";
    }
    return ek__cond_true(conds, "FailureTarget") ? "FailureTarget" : "Running";
}

static void job_completions_cell(json_t *cells, const json_t *job)
{
    long long succeeded = ek_json_int(job, 0, "status", "succeeded", NULL);
    const json_t *completions = ek_json_path(job, "spec", "completions", NULL);
    long long parallelism = ek_json_int(job, 0, "spec", "parallelism", NULL);
    if (json_is_integer(completions)) {
        ek__cell_strf(cells, "%lld/%lld", succeeded, (long long)json_integer_value(completions));
    } else if (parallelism > 1) {
        ek__cell_strf(cells, "%lld/1 of %lld", succeeded, parallelism);
    } else {
        ek__cell_strf(cells, "%lld/1", succeeded);
    }
}

/* Start to completion; start to now while running; nothing before the job started. */
static void job_duration_cell(json_t *cells, const json_t *job, time_t now)
{
    struct timespec start, done;
    char buf[16];
    if (!ek__time(ek_json_path(job, "status", "startTime", NULL), &start)) {
        ek__cell_str(cells, "");
    } else if (!ek__time(ek_json_path(job, "status", "completionTime", NULL), &done)) {
        ek__cell_str(cells, ek__human_duration(ek__since_ns(&start, now), buf));
    } else {
        ek__cell_str(cells, ek__human_duration(ek__sub_ns(&done, &start), buf));
    }
}

static void job_row(const json_t *job, time_t now, json_t *cells)
{
    ek__cell_name(cells, job);
    ek__cell_str(cells, job_status(job));
    job_completions_cell(cells, job);
    job_duration_cell(cells, job, now);
    ek__cell_age(cells, job, now);
    ek__cells_containers(cells, template_containers(job));
    ek__cell_take(cells, ek__format_selector(ek_json_path(job, "spec", "selector", NULL)));
}

const ek_printer_t ek__printer_job = EK__PRINTER(job_columns, job_row);

/* ---- CronJob ---- */

static const ek_column_t cronjob_columns[] = {
    EK__COL_NAME,
    EK__COL("Schedule", "string", "When jobs are created, in cron syntax."),
    EK__COL("Timezone", "string", "The time zone the schedule is read in."),
    EK__COL("Suspend", "boolean", "Whether creating new jobs is suspended."),
    EK__COL("Active", "integer", "Number of jobs running now."),
    EK__COL("Last Schedule", "string", "Time since a job was last scheduled."),
    EK__COL_AGE,
    COL_CONTAINERS,
    COL_IMAGES,
    COL_SELECTOR,
};

static void cronjob_row(const json_t *cj, time_t now, json_t *cells)
{
    const json_t *suspend = ek_json_path(cj, "spec", "suspend", NULL);
    const json_t *last = ek_json_path(cj, "status", "lastScheduleTime", NULL);
    const json_t *job_spec = ek_json_path(cj, "spec", "jobTemplate", "spec", NULL);
    ek__cell_name(cells, cj);
    ek__cell_str(cells, ek_json_str(cj, "spec", "schedule", NULL));
    ek__cell_str(cells, ek__or(ek_json_str(cj, "spec", "timeZone", NULL), "<none>"));
    /* A string even though the column says boolean, as upstream prints it. */
    ek__cell_str(cells,
                 json_is_boolean(suspend) ? (json_is_true(suspend) ? "True" : "False") : "<unset>");
    ek__cell_int(cells, (long long)ek__printer_len(ek_json_path(cj, "status", "active", NULL)));
    if (json_is_string(last)) {
        ek__cell_since(cells, last, now);
    } else {
        ek__cell_str(cells, "<none>");
    }
    ek__cell_age(cells, cj, now);
    ek__cells_containers(cells, ek_json_path(job_spec, "template", "spec", "containers", NULL));
    ek__cell_take(cells, ek__format_selector(ek_json_path(job_spec, "selector", NULL)));
}

const ek_printer_t ek__printer_cronjob = EK__PRINTER(cronjob_columns, cronjob_row);

/* ---- HorizontalPodAutoscaler ---- */

static const ek_column_t hpa_columns[] = {
    EK__COL_NAME,
    EK__COL("Reference", "string", "The scaled object, as Kind/name."),
    EK__COL("Targets", "string", "Current and target values of the first two metrics."),
    EK__COL("MinPods", "string", "The fewest replicas the autoscaler sets."),
    EK__COL("MaxPods", "string", "The most replicas the autoscaler sets."),
    EK__COL("Replicas", "string", "Replicas the autoscaler last saw."),
    EK__COL_AGE,
};

#define HPA_MAX_LISTED 2

/* A quantity as resource.Quantity.String() prints it, "<nil>" for a missing one. */
static char *qty(const json_t *q)
{
    return ek__quantity(q, "<nil>");
}

static char *percent_or(const json_t *v, const char *def)
{
    return json_is_integer(v) ? ek_xasprintf("%lld%%", (long long)json_integer_value(v))
                              : ek_xstrdup(def);
}

/* A value that is there: present and not JSON null (Go's non-nil pointer). */
static bool set(const json_t *v)
{
    return v && !json_is_null(v);
}

/* External and Object metrics: "cur/target", or "cur/target (avg)" for an average. */
static char *value_metric(const json_t *target, const json_t *st)
{
    const json_t *cur = ek_json_path(st, "current", NULL);
    ek_autofree char *c = NULL;
    ek_autofree char *t = NULL;
    if (set(ek_json_path(target, "averageValue", NULL))) {
        const json_t *avg = ek_json_path(cur, "averageValue", NULL);
        c = json_is_object(st) && set(avg) ? qty(avg) : ek_xstrdup("<unknown>");
        t = qty(ek_json_path(target, "averageValue", NULL));
        return ek_xasprintf("%s/%s (avg)", c, t);
    }
    c = json_is_object(st) ? qty(ek_json_path(cur, "value", NULL)) : ek_xstrdup("<unknown>");
    t = qty(ek_json_path(target, "value", NULL));
    return ek_xasprintf("%s/%s", c, t);
}

/* Resource and ContainerResource metrics: "cpu: 20%/50%" or "memory: 100Mi/200Mi". */
static char *resource_metric(const json_t *src, const json_t *st)
{
    const char *name = ek__or(ek_json_str(src, "name", NULL), "");
    const json_t *target = ek_json_path(src, "target", NULL);
    const json_t *cur = ek_json_path(st, "current", NULL);
    ek_autofree char *c = NULL;
    ek_autofree char *t = NULL;
    const json_t *avg = ek_json_path(target, "averageValue", NULL);
    if (set(avg)) {
        c = json_is_object(st) ? qty(ek_json_path(cur, "averageValue", NULL))
                               : ek_xstrdup("<unknown>");
        t = qty(avg);
    } else {
        c = percent_or(ek_json_path(cur, "averageUtilization", NULL), "<unknown>");
        t = percent_or(ek_json_path(target, "averageUtilization", NULL), "<auto>");
    }
    return ek_xasprintf("%s: %s/%s", name, c, t);
}

/* One metric spec with the status at the same index (which may be absent). */
static char *hpa_metric(const json_t *spec, const json_t *status)
{
    const char *type = ek__or(ek_json_str(spec, "type", NULL), "");
    if (strcmp(type, "External") == 0 || strcmp(type, "Object") == 0) {
        const char *member = type[0] == 'E' ? "external" : "object";
        return value_metric(ek_json_path(spec, member, "target", NULL),
                            ek_json_path(status, member, NULL));
    }
    if (strcmp(type, "Pods") == 0) {
        const json_t *st = ek_json_path(status, "pods", NULL);
        ek_autofree char *c = json_is_object(st)
                                  ? qty(ek_json_path(st, "current", "averageValue", NULL))
                                  : ek_xstrdup("<unknown>");
        ek_autofree char *t = qty(ek_json_path(spec, "pods", "target", "averageValue", NULL));
        return ek_xasprintf("%s/%s", c, t);
    }
    if (strcmp(type, "Resource") == 0 || strcmp(type, "ContainerResource") == 0) {
        const char *member = type[0] == 'R' ? "resource" : "containerResource";
        return resource_metric(ek_json_path(spec, member, NULL),
                               ek_json_path(status, member, NULL));
    }
    return ek_xstrdup("<unknown type>");
}

/* autoscaling/v1 keeps its one CPU target in dedicated fields. */
static char *hpa_v1_targets(const json_t *hpa)
{
    const json_t *target = ek_json_path(hpa, "spec", "targetCPUUtilizationPercentage", NULL);
    if (!json_is_integer(target)) {
        return ek_xstrdup("<none>");
    }
    ek_autofree char *c = percent_or(
        ek_json_path(hpa, "status", "currentCPUUtilizationPercentage", NULL), "<unknown>");
    return ek_xasprintf("cpu: %s/%lld%%", c, (long long)json_integer_value(target));
}

static char *hpa_targets(const json_t *hpa)
{
    const json_t *specs = ek_json_path(hpa, "spec", "metrics", NULL);
    const json_t *statuses = ek_json_path(hpa, "status", "currentMetrics", NULL);
    size_t n = ek__printer_len(specs);
    if (n == 0) {
        return json_is_array(specs) ? ek_xstrdup("<none>") : hpa_v1_targets(hpa);
    }
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < n && i < HPA_MAX_LISTED; i++) {
        ek_autofree char *m = hpa_metric(json_array_get(specs, i), json_array_get(statuses, i));
        ek_buf_printf(&b, "%s%s", i ? ", " : "", m);
    }
    if (n > HPA_MAX_LISTED) {
        ek_buf_printf(&b, " + %zu more...", n - HPA_MAX_LISTED);
    }
    return ek_buf_steal(&b, NULL);
}

static void hpa_row(const json_t *hpa, time_t now, json_t *cells)
{
    const json_t *ref = ek_json_path(hpa, "spec", "scaleTargetRef", NULL);
    const json_t *min = ek_json_path(hpa, "spec", "minReplicas", NULL);
    ek__cell_name(cells, hpa);
    ek__cell_strf(cells, "%s/%s", ek__or(ek_json_str(ref, "kind", NULL), ""),
                  ek__or(ek_json_str(ref, "name", NULL), ""));
    ek__cell_take(cells, hpa_targets(hpa));
    if (json_is_integer(min)) {
        ek__cell_strf(cells, "%lld", (long long)json_integer_value(min));
    } else {
        ek__cell_str(cells, "<unset>");
    }
    ek__cell_int(cells, ek_json_int(hpa, 0, "spec", "maxReplicas", NULL));
    ek__cell_int(cells, ek_json_int(hpa, 0, "status", "currentReplicas", NULL));
    ek__cell_age(cells, hpa, now);
}

const ek_printer_t ek__printer_hpa = EK__PRINTER(hpa_columns, hpa_row);

/* ---- PodDisruptionBudget ---- */

static const ek_column_t pdb_columns[] = {
    EK__COL_NAME,
    EK__COL("Min Available", "string", "Pods that must stay available, as a number or percent."),
    EK__COL("Max Unavailable", "string", "Pods that may be unavailable, as a number or percent."),
    EK__COL("Allowed Disruptions", "integer", "Pods that may be evicted right now."),
    EK__COL_AGE,
};

static void pdb_row(const json_t *pdb, time_t now, json_t *cells)
{
    char *min = ek__intstr(ek_json_path(pdb, "spec", "minAvailable", NULL));
    char *max = ek__intstr(ek_json_path(pdb, "spec", "maxUnavailable", NULL));
    ek__cell_name(cells, pdb);
    ek__cell_take(cells, min ? min : ek_xstrdup("N/A"));
    ek__cell_take(cells, max ? max : ek_xstrdup("N/A"));
    ek__cell_int(cells, ek_json_int(pdb, 0, "status", "disruptionsAllowed", NULL));
    ek__cell_age(cells, pdb, now);
}

const ek_printer_t ek__printer_pdb = EK__PRINTER(pdb_columns, pdb_row);
