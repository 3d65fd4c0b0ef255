/* SPDX-License-Identifier: Apache-2.0 */
/*
 * batch/v1 Jobs and CronJobs (pkg/apis/batch/validation): counts that may not be negative,
 * completion modes, pod failure and replacement policies, a pod template whose restart
 * policy is OnFailure or Never, the generated selector, and for CronJobs the schedule
 * (parsed the way robfig/cron v3's ParseStandard parses it, with its error texts), the time
 * zone, the concurrency policy and the 52-character name limit.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "api/validate-internal.h"

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(s, list[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* ---- cron schedules (robfig/cron v3 ParseStandard) ---- */

typedef struct bounds {
    unsigned min, max;
    const char *const *names; /* names[i] is the value min + i (months from 1, days from 0) */
} bounds_t;

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul",
                                           "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL };

/* strconv.Atoi with Go's error text. */
static char *parse_uint(const char *s, unsigned *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    long long v = 0;
    bool ok = *p != 0;
    for (; *p && ok; p++) {
        ok = *p >= '0' && *p <= '9' && v < 100000000000LL;
        v = v * 10 + (*p - '0');
    }
    if (!ok) {
        return ek__p("failed to parse int from %s: strconv.Atoi: parsing \"%s\": invalid syntax", s,
                     s);
    }
    if (neg && v != 0) {
        return ek__p("negative number (-%lld) not allowed: %s", v, s);
    }
    *out = (unsigned)v;
    return NULL;
}

static char *parse_int_or_name(const char *s, const bounds_t *b, unsigned *out)
{
    for (size_t i = 0; b->names && b->names[i]; i++) {
        if (strcasecmp(s, b->names[i]) == 0) {
            *out = b->min + (unsigned)i;
            return NULL;
        }
    }
    return parse_uint(s, out);
}

static char *get_range(const char *expr, const bounds_t *b)
{
    ek_autofree char *copy = ek_xstrdup(expr);
    char *slash = strchr(copy, '/');
    if (slash && strchr(slash + 1, '/')) {
        return ek__p("too many slashes: %s", expr);
    }
    if (slash) {
        *slash = 0;
    }
    char *dash = strchr(copy, '-');
    if (dash && strchr(dash + 1, '-')) {
        return ek__p("too many hyphens: %s", expr);
    }
    unsigned start = 0, end = 0, step = 1;
    char *err = NULL;
    if (strcmp(copy, "*") == 0 || strcmp(copy, "?") == 0) {
        start = b->min;
        end = b->max;
    } else {
        if (dash) {
            *dash = 0;
        }
        if ((err = parse_int_or_name(copy, b, &start))) {
            return err;
        }
        end = start;
        if (dash && (err = parse_int_or_name(dash + 1, b, &end))) {
            return err;
        }
    }
    if (slash) {
        if ((err = parse_uint(slash + 1, &step))) {
            return err;
        }
        if (!dash && strcmp(copy, "*") != 0 && strcmp(copy, "?") != 0) {
            end = b->max; /* "N/step" means "N-max/step" */
        }
    }
    if (start < b->min) {
        return ek__p("beginning of range (%u) below minimum (%u): %s", start, b->min, expr);
    }
    if (end > b->max) {
        return ek__p("end of range (%u) above maximum (%u): %s", end, b->max, expr);
    }
    if (start > end) {
        return ek__p("beginning of range (%u) beyond end of range (%u): %s", start, end, expr);
    }
    if (step == 0) {
        return ek__p("step of range should be a positive number: %s", expr);
    }
    return NULL;
}

static char *get_field(const char *field, const bounds_t *b)
{
    ek_autofree char *copy = ek_xstrdup(field);
    char *save = NULL;
    for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        char *err = get_range(part, b);
        if (err) {
            return err;
        }
    }
    return NULL;
}

static char *parse_descriptor(const char *spec)
{
    static const char *const known[] = { "@yearly", "@annually", "@monthly", "@weekly",
                                         "@daily",  "@midnight", "@hourly",  NULL };
    if (in_list(spec, known)) {
        return NULL;
    }
    if (strncmp(spec, "@every ", 7) == 0) {
        const char *d = spec + 7;
        char *end;
        double v = strtod(d, &end);
        bool ok = end != d && *end && v >= 0;
        while (ok && *end) {
            size_t u = strspn(end, "nsuµmh");
            if (u == 0) {
                ok = false;
                break;
            }
            end += u;
            if (*end) {
                strtod(end, &end);
            }
        }
        if (!ok) {
            return ek__p("failed to parse duration %s: time: invalid duration \"%s\"", spec, d);
        }
        return NULL;
    }
    return ek__p("unrecognized descriptor: %s", spec);
}

char *ek__cron_error(const char *spec)
{
    if (!*spec) {
        return ek_xstrdup("empty spec string");
    }
    if (strncmp(spec, "TZ=", 3) == 0 || strncmp(spec, "CRON_TZ=", 8) == 0) {
        const char *sp = strchr(spec, ' ');
        if (!sp) {
            return ek_xstrdup("provided bad location");
        }
        spec = sp;
        while (*spec == ' ' || *spec == '\t') {
            spec++;
        }
    }
    if (spec[0] == '@') {
        return parse_descriptor(spec);
    }
    ek_autofree char *copy = ek_xstrdup(spec);
    char *fields[8];
    int n = 0;
    char *save = NULL;
    for (char *f = strtok_r(copy, " \t\n\r\v\f", &save); f;
         f = strtok_r(NULL, " \t\n\r\v\f", &save)) {
        if (n < 8) {
            fields[n] = f;
        }
        n++;
    }
    if (n != 5) {
        ek_autobuf b = EK_BUF_INIT;
        for (int i = 0; i < n && i < 8; i++) {
            ek_buf_printf(&b, "%s%s", i ? " " : "", fields[i]);
        }
        return ek__p("expected exactly 5 fields, found %d: [%s]", n, b.data ? b.data : "");
    }
    static const bounds_t bounds[] = {
        { 0, 59, NULL },        { 0, 23, NULL },     { 1, 31, NULL },
        { 1, 12, month_names }, { 0, 6, dow_names },
    };
    for (int i = 0; i < 5; i++) {
        char *err = get_field(fields[i], &bounds[i]);
        if (err) {
            return err;
        }
    }
    return NULL;
}

/* ---- jobs ---- */

static void v_has_label(ek_field_errors_t *e, const json_t *labels, const char *key,
                        const char *want)
{
    const char *have = ek__str(labels, key);
    ek_autofree char *p = ek__p("spec.template.metadata.labels[%s]", key);
    ek_autofree char *d = ek__p("must be '%s'", want);
    if (!have) {
        ek__fe_required(e, p, d);
    } else if (strcmp(have, want) != 0) {
        ek__fe_invalid_j(e, p, labels, "%s", d);
    }
}

/* validateGeneratedSelector: what the server's selector generation must have produced. */
static void v_generated_selector(ek_field_errors_t *e, const json_t *job)
{
    const json_t *spec = ek__obj(job, "spec"), *meta = ek__obj(job, "metadata");
    const json_t *sel = ek__obj(spec, "selector");
    if (ek__true(spec, "manualSelector") || !sel) {
        return;
    }
    const char *uid = ek__sstr(meta, "uid"), *name = ek__sstr(meta, "name");
    if (!*uid) {
        ek__fe_required(e, "metadata.uid", "");
    }
    const json_t *labels = ek__obj(ek__obj(ek__obj(spec, "template"), "metadata"), "labels");
    v_has_label(e, labels, "controller-uid", uid);
    v_has_label(e, labels, "job-name", name);
    v_has_label(e, labels, "batch.kubernetes.io/controller-uid", uid);
    v_has_label(e, labels, "batch.kubernetes.io/job-name", name);
    ek_auto(json_t) expected =
        json_pack("{ssssssss}", "batch.kubernetes.io/controller-uid", uid,
                  "batch.kubernetes.io/job-name", name, "controller-uid", uid, "job-name", name);
    bool empty;
    if (!ek__selector_matches(sel, expected, &empty)) {
        ek_autofree char *raw = ek__go_selector(sel);
        ek__fe_invalid_raw(e, "spec.selector", raw, "`selector` not auto-generated");
    }
}

static void v_pod_failure_policy(ek_field_errors_t *e, const json_t *pfp, const char *path)
{
    static const char *const actions[] = { "Count", "FailIndex", "FailJob", "Ignore", NULL };
    const json_t *rules = ek__arr(pfp, "rules");
    ek_autofree char *rp = ek__p("%s.rules", path);
    if (json_array_size(rules) > 20) {
        ek_autofree char *d = ek__p("must have at most 20 items");
        ek_autofree char *v = ek__p("%zu", json_array_size(rules));
        ek__fe(e, EK_FE_TOO_MANY, rp, v, d);
    }
    size_t i;
    json_t *r;
    json_array_foreach (rules, i, r) {
        ek_autofree char *ip = ek__p("%s[%zu]", rp, i);
        const char *action = ek__sstr(r, "action");
        if (!in_list(action, actions)) {
            ek_autofree char *ap = ek__p("%s.action", ip);
            ek__fe_not_supported_s(e, ap, action, actions);
        }
        bool codes = ek__has(r, "onExitCodes"), conds = ek__has(r, "onPodConditions");
        if (codes && conds) {
            ek__fe(e, EK_FE_INVALID, ip, NULL,
                   "specifying both OnExitCodes and OnPodConditions is not supported");
        } else if (!codes && !conds) {
            ek__fe_required(e, ip, "specifying one of OnExitCodes and OnPodConditions is required");
        }
    }
}

static void v_job_counts(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    static const char *const counts[] = { "parallelism",
                                          "completions",
                                          "activeDeadlineSeconds",
                                          "backoffLimit",
                                          "ttlSecondsAfterFinished",
                                          "backoffLimitPerIndex",
                                          "maxFailedIndexes" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(counts); i++) {
        ek_autofree char *p = ek__p("%s.%s", path, counts[i]);
        ek__v_nonneg(e, spec, counts[i], p);
    }
    if (ek__has(spec, "maxFailedIndexes") && !ek__has(spec, "backoffLimitPerIndex")) {
        ek_autofree char *p = ek__p("%s.backoffLimitPerIndex", path);
        ek__fe_required(e, p, "when maxFailedIndexes is specified");
    }
}

static void v_completion_mode(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    const char *mode = ek__str(spec, "completionMode");
    bool indexed = mode && strcmp(mode, "Indexed") == 0;
    if (mode && !indexed && strcmp(mode, "NonIndexed") != 0) {
        static const char *const valid[] = { "NonIndexed", "Indexed", NULL };
        ek_autofree char *p = ek__p("%s.completionMode", path);
        ek__fe_not_supported_s(e, p, mode, valid);
    }
    long long par, comp, mfi;
    if (indexed) {
        if (!ek__has(spec, "completions")) {
            ek_autofree char *p = ek__p("%s.completions", path);
            ek__fe_required(e, p, "when completion mode is Indexed");
        }
        if (ek__int(spec, "parallelism", &par) && par > 100000) {
            ek_autofree char *p = ek__p("%s.parallelism", path);
            ek__fe_invalid_i(
                e, p, par, "must be less than or equal to 100000 when completion mode is Indexed");
        }
        if (ek__int(spec, "completions", &comp) && ek__int(spec, "maxFailedIndexes", &mfi) &&
            mfi > comp) {
            ek_autofree char *p = ek__p("%s.maxFailedIndexes", path);
            ek__fe_invalid_i(e, p, mfi, "must be less than or equal to completions");
        }
        return;
    }
    static const char *const per_index[] = { "backoffLimitPerIndex", "maxFailedIndexes" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(per_index); i++) {
        long long v;
        if (ek__int(spec, per_index[i], &v)) {
            ek_autofree char *p = ek__p("%s.%s", path, per_index[i]);
            ek__fe_invalid_i(e, p, v, "requires indexed completion mode");
        }
    }
}

/* validateJobSpec: everything but the selector. */
static void v_job_spec_common(ek_field_errors_t *e, const json_t *spec, const char *path)
{
    v_job_counts(e, spec, path);
    v_completion_mode(e, spec, path);
    const json_t *pfp = ek__obj(spec, "podFailurePolicy");
    if (pfp) {
        ek_autofree char *p = ek__p("%s.podFailurePolicy", path);
        v_pod_failure_policy(e, pfp, p);
    }
    const char *prp = ek__str(spec, "podReplacementPolicy");
    ek_autofree char *prpp = ek__p("%s.podReplacementPolicy", path);
    if (prp && pfp && strcmp(prp, "Failed") != 0) {
        static const char *const valid[] = { "Failed", NULL };
        ek__fe_not_supported_s(e, prpp, prp, valid);
    } else if (prp && !pfp && strcmp(prp, "Failed") != 0 &&
               strcmp(prp, "TerminatingOrFailed") != 0) {
        static const char *const valid[] = { "Failed", "TerminatingOrFailed", NULL };
        ek__fe_not_supported_s(e, prpp, prp, valid);
    }
    ek_autofree char *tp = ek__p("%s.template", path);
    const json_t *tmpl = ek__obj(spec, "template");
    ek__v_pod_template(e, tmpl, tp);
    const char *rp = ek__sstr(ek__obj(tmpl, "spec"), "restartPolicy");
    ek_autofree char *rpp = ek__p("%s.template.spec.restartPolicy", path);
    if (!*rp || strcmp(rp, "Always") == 0) {
        ek__fe_required(e, rpp, "valid values: \"OnFailure\", \"Never\"");
    } else if (strcmp(rp, "OnFailure") != 0 && strcmp(rp, "Never") != 0) {
        static const char *const valid[] = { "OnFailure", "Never", NULL };
        ek__fe_not_supported_s(e, rpp, rp, valid);
    } else if (pfp && strcmp(rp, "Never") != 0) {
        ek__fe_invalid_s(e, rpp, rp,
                         "only \"Never\" is supported when podFailurePolicy is specified");
    }
}

static void v_job_spec(ek_field_errors_t *e, const json_t *spec)
{
    v_job_spec_common(e, spec, "spec");
    const json_t *sel = ek__obj(spec, "selector");
    if (!sel) {
        ek__fe_required(e, "spec.selector", "");
    } else {
        ek__v_label_selector(e, sel, "spec.selector");
    }
    const json_t *labels = ek__obj(ek__obj(ek__obj(spec, "template"), "metadata"), "labels");
    bool empty;
    if (!ek__selector_matches(sel, labels, &empty)) {
        ek_autofree char *raw = labels ? ek__go_json(labels) : ek_xstrdup("map[string]string(nil)");
        ek__fe_invalid_raw(e, "spec.template.metadata.labels", raw,
                           "`selector` does not match template `labels`");
    }
}

static void v_job_name(ek_field_errors_t *e, const json_t *job)
{
    const json_t *spec = ek__obj(job, "spec");
    const char *mode = ek__sstr(spec, "completionMode"),
               *name = ek__sstr(ek__obj(job, "metadata"), "name");
    long long comp;
    if (strcmp(mode, "Indexed") != 0 || !ek__int(spec, "completions", &comp) || comp <= 0) {
        return;
    }
    ek_autofree char *host = ek__p("%s-%lld", name, comp - 1);
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_dns1123_label(host, &m)) {
        ek__fe_invalid_s(e, "metadata.name", name,
                         "will not able to create pod with invalid DNS label: %s", host);
    }
}

/* Template immutability, as Kubernetes checks it for a job that is not suspended. */
static void v_job_template_update(ek_field_errors_t *e, const json_t *ns, const json_t *os)
{
    ek_auto(json_t) nt = json_deep_copy(json_object_get(ns, "template"));
    ek_auto(json_t) ot = json_deep_copy(json_object_get(os, "template"));
    if (ek__true(os, "suspend") && nt && ot) {
        /* A suspended job may change its pods' scheduling directives and metadata. */
        static const char *const mutable_spec[] = { "nodeSelector", "tolerations", "affinity",
                                                    "schedulingGates" };
        for (size_t i = 0; i < EK_ARRAY_SIZE(mutable_spec); i++) {
            json_object_del(ek__obj(nt, "spec"), mutable_spec[i]);
            json_object_del(ek__obj(ot, "spec"), mutable_spec[i]);
        }
        json_object_del(ek__obj(nt, "metadata"), "labels");
        json_object_del(ek__obj(ot, "metadata"), "labels");
        json_object_del(ek__obj(nt, "metadata"), "annotations");
        json_object_del(ek__obj(ot, "metadata"), "annotations");
    }
    if (!ek__equal(nt, ot)) {
        ek__fe_invalid_raw(e, "spec.template", "core.PodTemplateSpec{...}", EK_MSG_IMMUTABLE);
    }
}

static void v_job_update(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    ek__v_object_meta_update(e, o, old);
    const json_t *ns = ek__obj(o, "spec"), *os = ek__obj(old, "spec");
    v_job_spec(e, ns);
    const json_t *nc = json_object_get(ns, "completions"), *oc = json_object_get(os, "completions");
    bool indexed = strcmp(ek__sstr(ns, "completionMode"), "Indexed") == 0;
    if (!indexed) {
        ek__v_immutable(e, nc, oc, "spec.completions");
    } else if (!ek__equal(nc, oc) && json_is_integer(nc) &&
               json_integer_value(nc) != ek__intd(ns, "parallelism", -1)) {
        ek__fe_invalid_j(e, "spec.completions", nc,
                         "can only be modified in tandem with spec.parallelism");
    }
    const json_t *nsel = ek__obj(ns, "selector");
    if (!ek__equal(nsel, ek__obj(os, "selector"))) {
        ek_autofree char *raw = ek__go_selector(nsel);
        ek__fe_invalid_raw(e, "spec.selector", raw, EK_MSG_IMMUTABLE);
    }
    v_job_template_update(e, ns, os);
    static const char *const immutable[] = { "completionMode", "podFailurePolicy",
                                             "backoffLimitPerIndex", "managedBy", "successPolicy" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(immutable); i++) {
        ek_autofree char *p = ek__p("spec.%s", immutable[i]);
        ek__v_immutable(e, json_object_get(ns, immutable[i]), json_object_get(os, immutable[i]), p);
    }
}

void ek__v_job(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        v_job_update(e, o, old);
        return;
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    v_generated_selector(e, o);
    v_job_spec(e, ek__obj(o, "spec"));
    v_job_name(e, o);
}

/* ---- cron jobs ---- */

static void v_time_zone(ek_field_errors_t *e, const json_t *spec)
{
    const json_t *tz = json_object_get(spec, "timeZone");
    if (!json_is_string(tz)) {
        return;
    }
    const char *s = json_string_value(tz);
    if (!*s) {
        ek__fe_invalid_s(e, "spec.timeZone", s, "timeZone must be nil or non-empty string");
        return;
    }
    ek_autofree char *copy = ek_xstrdup(s);
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        bool ok = strcmp(part, ".") != 0 && strcmp(part, "..") != 0 && part[0] != '-';
        for (const char *p = part; *p && ok; p++) {
            ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                 *p == '-' || *p == '_' || *p == '+';
        }
        if (!ok) {
            ek__fe_invalid_s(e, "spec.timeZone", s, "unknown time zone %s", s);
            return;
        }
    }
    if (strcasecmp(s, "Local") == 0) {
        ek__fe_invalid_s(e, "spec.timeZone", s,
                         "timeZone must be an explicit time zone as defined in "
                         "https://www.iana.org/time-zones");
        return;
    }
    ek_autofree char *file = ek__p("/usr/share/zoneinfo/%s", s);
    struct stat st;
    if (strcmp(s, "UTC") != 0 && (stat(file, &st) != 0 || !S_ISREG(st.st_mode))) {
        ek__fe_invalid_s(e, "spec.timeZone", s, "unknown time zone %s", s);
    }
}

static void v_job_template(ek_field_errors_t *e, const json_t *jt)
{
    const json_t *spec = ek__obj(jt, "spec");
    v_job_spec_common(e, spec, "spec.jobTemplate.spec");
    const json_t *sel = ek__obj(spec, "selector");
    if (sel) {
        ek_autofree char *raw = ek__go_selector(sel);
        ek__fe_invalid_raw(e, "spec.jobTemplate.spec.selector", raw,
                           "`selector` will be auto-generated");
    }
    if (ek__true(spec, "manualSelector")) {
        static const char *const valid[] = { "nil", "false", NULL };
        ek__fe_not_supported_raw(e, "spec.jobTemplate.spec.manualSelector", "true", valid);
    }
}

static void v_cronjob_spec(ek_field_errors_t *e, const json_t *spec, const json_t *old_spec)
{
    const char *sched = ek__sstr(spec, "schedule");
    if (!*sched) {
        ek__fe_required(e, "spec.schedule", "");
    } else {
        ek_autofree char *err = ek__cron_error(sched);
        if (err) {
            ek__fe_invalid_s(e, "spec.schedule", sched, "%s", err);
        }
        bool allow_tz = old_spec && strstr(ek__sstr(old_spec, "schedule"), "TZ");
        if (allow_tz && strstr(sched, "TZ") && ek__has(spec, "timeZone")) {
            ek__fe_invalid_s(e, "spec.schedule", sched,
                             "cannot use both timeZone field and TZ or CRON_TZ in schedule");
        } else if (!allow_tz && strstr(sched, "TZ")) {
            ek__fe_invalid_s(e, "spec.schedule", sched,
                             "cannot use TZ or CRON_TZ in schedule, use timeZone field instead");
        }
    }
    ek__v_nonneg(e, spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds");
    if (!old_spec ||
        !ek__equal(json_object_get(spec, "timeZone"), json_object_get(old_spec, "timeZone"))) {
        v_time_zone(e, spec);
    }
    const char *cp = ek__sstr(spec, "concurrencyPolicy");
    static const char *const policies[] = { "Allow", "Forbid", "Replace", NULL };
    if (!*cp) {
        ek__fe_required(e, "spec.concurrencyPolicy", "");
    } else if (!in_list(cp, policies)) {
        ek__fe_not_supported_s(e, "spec.concurrencyPolicy", cp, policies);
    }
    v_job_template(e, ek__obj(spec, "jobTemplate"));
    ek__v_nonneg(e, spec, "successfulJobsHistoryLimit", "spec.successfulJobsHistoryLimit");
    ek__v_nonneg(e, spec, "failedJobsHistoryLimit", "spec.failedJobsHistoryLimit");
}

void ek__v_cronjob(ek_field_errors_t *e, const json_t *o, const json_t *old)
{
    if (old) {
        ek__v_object_meta_update(e, o, old);
        v_cronjob_spec(e, ek__obj(o, "spec"), ek__obj(old, "spec"));
        return;
    }
    ek__v_object_meta(e, o, true, EK_NAME_SUBDOMAIN);
    v_cronjob_spec(e, ek__obj(o, "spec"), NULL);
    const char *name = ek__sstr(ek__obj(o, "metadata"), "name");
    if (strlen(name) > 52) {
        /* The controller appends "-<timestamp>" (11 characters) to name its Jobs. */
        ek__fe_invalid_s(e, "metadata.name", name, "must be no more than 52 characters");
    }
}
