/* SPDX-License-Identifier: Apache-2.0 */
/*
 * meta.k8s.io/v1 Table responses for `kubectl get`: the client asks with an Accept header
 * listing `application/json;as=Table;v=v1;g=meta.k8s.io`; rows come from the kind's printer
 * (api/printers.c) and each row carries the object's metadata (or the whole object with
 * includeObject=Object, for --sort-by).
 */
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

bool wants_table(apireq_t *r)
{
    const char *accept = apireq_header(r, "Accept");
    if (!accept) {
        return false;
    }
    /* Media types are tried in order; the first one we can produce wins. */
    const char *p = accept;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        ek_autofree char *mt = ek_xstrndup(p, len);
        if (strstr(mt, "as=Table") && strstr(mt, "g=meta.k8s.io") &&
            (strstr(mt, "v=v1;") || ek_has_suffix(mt, "v=v1") || strstr(mt, "v=v1beta1"))) {
            return true;
        }
        if (strstr(mt, "application/json") || strstr(mt, "*/*")) {
            return false;
        }
        if (!end) {
            break;
        }
        p = end + 1;
        while (*p == ' ') {
            p++;
        }
    }
    return false;
}

static json_t *columns_json(const ek_printer_t *pr)
{
    json_t *cols = json_array();
    for (size_t i = 0; i < pr->n_columns; i++) {
        const ek_column_t *c = &pr->columns[i];
        json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:s,s:i}", "name", c->name, "type",
                                              c->type, "format", c->format, "description",
                                              c->description, "priority", c->priority));
    }
    return cols;
}

static json_t *row_object(const json_t *obj, const char *include)
{
    if (include && strcmp(include, "None") == 0) {
        return NULL;
    }
    if (include && strcmp(include, "Object") == 0) {
        return json_incref((json_t *)obj);
    }
    json_t *pom = json_object();
    ek_json_set_str(pom, "kind", "PartialObjectMetadata");
    ek_json_set_str(pom, "apiVersion", "meta.k8s.io/v1");
    json_t *md = json_object_get(obj, "metadata");
    json_object_set_new(pom, "metadata", md ? json_incref(md) : json_object());
    return pom;
}

json_t *table_build(const ek_resource_t *res, obj_t **objs, size_t n, const char *include_object,
                    bool with_columns, int64_t rev)
{
    if (res->flags & EK_RES_CUSTOM) {
        return custom_table(res, objs, n, include_object, with_columns, rev);
    }
    const ek_printer_t *pr = ek_printer_for(res->group, res->kind);
    json_t *t = json_object();
    ek_json_set_str(t, "kind", "Table");
    ek_json_set_str(t, "apiVersion", "meta.k8s.io/v1");
    char rv[24];
    snprintf(rv, sizeof(rv), "%lld", (long long)rev);
    json_object_set_new(t, "metadata", json_pack("{s:s}", "resourceVersion", rv));
    if (with_columns) {
        json_object_set_new(t, "columnDefinitions", columns_json(pr));
    }
    json_t *rows = json_array();
    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_object();
        json_t *cells = json_array();
        pr->row(objs[i]->json, now, cells);
        json_object_set_new(row, "cells", cells);
        json_t *o = row_object(objs[i]->json, include_object);
        if (o) {
            json_object_set_new(row, "object", o);
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(t, "rows", rows);
    return t;
}
