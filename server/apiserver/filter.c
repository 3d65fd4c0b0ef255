/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The filters of list, watch and deletecollection: namespace, label selector and field
 * selector (only the fields Kubernetes supports for the kind; others are refused with
 * "field label not supported"), evaluated against cached objects.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

struct filter {
    const ek_resource_t *res;
    char *ns;
    ek_labelsel_t *labels;
    ek_fieldsel_t *fields;
};

static bool field_supported(const ek_resource_t *res, const char *field)
{
    if (strcmp(field, "metadata.name") == 0 || strcmp(field, "metadata.namespace") == 0) {
        return true;
    }
    if (!res->field_selectors) {
        return false;
    }
    size_t n = strlen(field);
    for (const char *p = res->field_selectors; (p = strstr(p, field)); p += n) {
        bool start = p == res->field_selectors || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ';
        if (start && end) {
            return true;
        }
    }
    return false;
}

filter_t *filter_new(const ek_resource_t *res, const char *ns, const char *label_selector,
                     const char *field_selector, ek_error_t **err)
{
    ek_auto(ek_labelsel_t) ls = ek_labelsel_parse(label_selector ? label_selector : "", err);
    if (!ls) {
        return NULL;
    }
    ek_auto(ek_fieldsel_t) fs = ek_fieldsel_parse(field_selector ? field_selector : "", err);
    if (!fs) {
        return NULL;
    }
    for (size_t i = 0; i < ek_fieldsel_count(fs); i++) {
        const char *field = ek_fieldsel_req(fs, i)->field;
        if (!field_supported(res, field)) {
            ek_error_status(err, 400, "field label not supported: %s", field);
            return NULL;
        }
    }
    filter_t *f = ek_new(filter_t);
    f->res = res;
    f->ns = ns && res->namespaced ? ek_xstrdup(ns) : NULL;
    f->labels = ek_steal(&ls);
    f->fields = ek_steal(&fs);
    return f;
}

struct getter {
    const json_t *obj;
    char buf[64];
};

static const char *field_value(const char *field, void *data)
{
    struct getter *g = data;
    if (strcmp(field, "source") == 0) {
        /* Events: `source` selects on source.component. */
        return ek_json_str(g->obj, "source", "component", NULL);
    }
    const json_t *v = g->obj;
    char path[256];
    snprintf(path, sizeof(path), "%s", field);
    char *save = NULL;
    for (char *tok = strtok_r(path, ".", &save); tok && v; tok = strtok_r(NULL, ".", &save)) {
        v = json_object_get(v, tok);
    }
    if (json_is_array(v)) {
        /* status.podIPs: the primary address. */
        v = json_array_get(v, 0);
        if (json_is_object(v)) {
            v = json_object_get(v, "ip");
        }
    }
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_boolean(v)) {
        return json_is_true(v) ? "true" : "false";
    }
    if (json_is_integer(v)) {
        snprintf(g->buf, sizeof(g->buf), "%lld", (long long)json_integer_value(v));
        return g->buf;
    }
    if (!v &&
        (strcmp(field, "spec.unschedulable") == 0 || strcmp(field, "spec.hostNetwork") == 0)) {
        return "false";
    }
    return NULL;
}

bool filter_match(const filter_t *f, const json_t *obj)
{
    if (f->ns) {
        const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
        if (!ns || strcmp(ns, f->ns) != 0) {
            return false;
        }
    }
    if (!ek_labelsel_empty(f->labels) &&
        !ek_labelsel_matches(f->labels, ek_json_path(obj, "metadata", "labels", NULL))) {
        return false;
    }
    if (!ek_fieldsel_empty(f->fields)) {
        struct getter g = { obj, { 0 } };
        if (!ek_fieldsel_matches(f->fields, field_value, &g)) {
            return false;
        }
    }
    return true;
}

void filter_free(filter_t *f)
{
    if (!f) {
        return;
    }
    free(f->ns);
    ek_labelsel_free(f->labels);
    ek_fieldsel_free(f->fields);
    free(f);
}
