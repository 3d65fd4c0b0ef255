/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Discovery documents, generated from the resource table and cached until the table changes
 * (a CRD is added or removed): aggregated discovery (apidiscovery.k8s.io v2 and v2beta1,
 * chosen from the Accept header, the Content-Type echoed exactly — kubectl parses by it) and
 * the legacy APIVersions / APIGroupList / APIGroup / APIResourceList documents.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static const struct {
    ek_subresource_t sub;
    const char *group, *version, *kind; /* NULL kind: the resource's own kind */
    const char *verbs;
} sub_info[] = {
    { EK_SUB_STATUS, "", "", NULL, "get patch update" },
    { EK_SUB_SCALE, "autoscaling", "v1", "Scale", "get patch update" },
    { EK_SUB_BINDING, "", "", "Binding", "create" },
    { EK_SUB_LOG, "", "", NULL, "get" },
    { EK_SUB_EXEC, "", "", "PodExecOptions", "create get" },
    { EK_SUB_ATTACH, "", "", "PodAttachOptions", "create get" },
    { EK_SUB_PORTFORWARD, "", "", "PodPortForwardOptions", "create get" },
    { EK_SUB_PROXY, "", "", "ProxyOptions", "create delete get patch update" },
    { EK_SUB_EVICTION, "policy", "v1", "Eviction", "create" },
    { EK_SUB_EPHEMERALCONTAINERS, "", "", NULL, "get patch update" },
    { EK_SUB_TOKEN, "authentication.k8s.io", "v1", "TokenRequest", "create" },
    { EK_SUB_APPROVAL, "", "", NULL, "get patch update" },
    { EK_SUB_FINALIZE, "", "", NULL, "update" },
};

static json_t *words(const char *s)
{
    json_t *a = json_array();
    if (!s) {
        return a;
    }
    ek_autofree char *copy = ek_xstrdup(s);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        json_array_append_new(a, json_string(t));
    }
    return a;
}

static json_t *verbs_json(unsigned verbs)
{
    json_t *a = json_array();
    for (unsigned v = 1; v <= EK_VERB_WATCH; v <<= 1) {
        if (verbs & v) {
            json_array_append_new(a, json_string(ek_verb_name(v)));
        }
    }
    return a;
}

static const char *proxy_kind(const ek_resource_t *r)
{
    if (strcmp(r->kind, "Pod") == 0) {
        return "PodProxyOptions";
    }
    if (strcmp(r->kind, "Node") == 0) {
        return "NodeProxyOptions";
    }
    return "ServiceProxyOptions";
}

static json_t *aggregated_resource(const ek_resource_t *r)
{
    json_t *o = json_object();
    ek_json_set_str(o, "resource", r->plural);
    json_object_set_new(o, "responseKind",
                        json_pack("{s:s,s:s,s:s}", "group", "", "version", "", "kind", r->kind));
    ek_json_set_str(o, "scope", r->namespaced ? "Namespaced" : "Cluster");
    ek_json_set_str(o, "singularResource", r->singular);
    json_object_set_new(o, "verbs", verbs_json(r->verbs));
    if (r->short_names) {
        json_object_set_new(o, "shortNames", words(r->short_names));
    }
    if (r->categories) {
        json_object_set_new(o, "categories", words(r->categories));
    }
    json_t *subs = json_array();
    for (size_t i = 0; i < EK_ARRAY_SIZE(sub_info); i++) {
        if (!(r->subresources & EK_SUBBIT(sub_info[i].sub))) {
            continue;
        }
        const char *kind = sub_info[i].kind ? sub_info[i].kind : r->kind;
        if (sub_info[i].sub == EK_SUB_PROXY) {
            kind = proxy_kind(r);
        }
        json_array_append_new(subs,
                              json_pack("{s:s,s:{s:s,s:s,s:s},s:o}", "subresource",
                                        ek_subresource_name(sub_info[i].sub), "responseKind",
                                        "group", sub_info[i].group, "version", sub_info[i].version,
                                        "kind", kind, "verbs", words(sub_info[i].verbs)));
    }
    if (json_array_size(subs)) {
        json_object_set_new(o, "subresources", subs);
    } else {
        json_decref(subs);
    }
    return o;
}

/* Group names in table order; core ("") first. */
static json_t *group_names(void)
{
    json_t *names = json_array();
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const char *g = ek_resource_at(i)->group;
        bool seen = false;
        size_t k;
        json_t *v;
        json_array_foreach (names, k, v) {
            seen = seen || strcmp(json_string_value(v), g) == 0;
        }
        if (!seen) {
            json_array_append_new(names, json_string(g));
        }
    }
    return names;
}

/* Versions of a group, preferred first (table order). */
static json_t *group_versions(const char *group)
{
    json_t *vs = json_array();
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (strcmp(r->group, group) != 0) {
            continue;
        }
        bool seen = false;
        size_t k;
        json_t *v;
        json_array_foreach (vs, k, v) {
            seen = seen || strcmp(json_string_value(v), r->version) == 0;
        }
        if (!seen) {
            json_array_append_new(vs, json_string(r->version));
        }
    }
    return vs;
}

static void build_aggregated(ek_apiserver_t *s, const char *name, ek_buf_t *out)
{
    EK_UNUSED(s);
    /* name: "agg:v2:api" etc. */
    bool v2 = ek_has_prefix(name, "agg:v2:");
    bool core = ek_has_suffix(name, ":api");
    json_t *doc = json_object();
    ek_json_set_str(doc, "kind", "APIGroupDiscoveryList");
    ek_json_set_str(doc, "apiVersion",
                    v2 ? "apidiscovery.k8s.io/v2" : "apidiscovery.k8s.io/v2beta1");
    json_object_set_new(doc, "metadata", json_object());
    json_t *items = json_array();
    ek_auto(json_t) groups = group_names();
    size_t gi;
    json_t *gv;
    json_array_foreach (groups, gi, gv) {
        const char *g = json_string_value(gv);
        if (core != (*g == '\0')) {
            continue;
        }
        json_t *versions = json_array();
        ek_auto(json_t) vs = group_versions(g);
        size_t vi;
        json_t *vv;
        json_array_foreach (vs, vi, vv) {
            json_t *resources = json_array();
            for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
                const ek_resource_t *r = ek_resource_at(i);
                if (strcmp(r->group, g) == 0 && strcmp(r->version, json_string_value(vv)) == 0) {
                    json_array_append_new(resources, aggregated_resource(r));
                }
            }
            json_array_append_new(versions, json_pack("{s:O,s:o,s:s}", "version", vv, "resources",
                                                      resources, "freshness", "Current"));
        }
        json_array_append_new(items, json_pack("{s:{s:s,s:n},s:o}", "metadata", "name", g,
                                               "creationTimestamp", "versions", versions));
    }
    json_object_set_new(doc, "items", items);
    ek_json_dump_buf(doc, out);
    json_decref(doc);
}

static json_t *legacy_resources(const char *group, const char *version)
{
    json_t *list = json_array();
    for (size_t i = 0, n = ek_resource_count(); i < n; i++) {
        const ek_resource_t *r = ek_resource_at(i);
        if (strcmp(r->group, group) != 0 || strcmp(r->version, version) != 0) {
            continue;
        }
        json_t *o =
            json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", r->plural, "singularName", r->singular,
                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs_json(r->verbs));
        if (r->short_names) {
            json_object_set_new(o, "shortNames", words(r->short_names));
        }
        if (r->categories) {
            json_object_set_new(o, "categories", words(r->categories));
        }
        json_array_append_new(list, o);
        for (size_t k = 0; k < EK_ARRAY_SIZE(sub_info); k++) {
            if (!(r->subresources & EK_SUBBIT(sub_info[k].sub))) {
                continue;
            }
            char name[128];
            snprintf(name, sizeof(name), "%s/%s", r->plural, ek_subresource_name(sub_info[k].sub));
            const char *kind = sub_info[k].kind ? sub_info[k].kind : r->kind;
            if (sub_info[k].sub == EK_SUB_PROXY) {
                kind = proxy_kind(r);
            }
            json_t *so =
                json_pack("{s:s,s:s,s:b,s:s,s:o}", "name", name, "singularName", "", "namespaced",
                          r->namespaced, "kind", kind, "verbs", words(sub_info[k].verbs));
            if (*sub_info[k].group) {
                ek_json_set_str(so, "group", sub_info[k].group);
                ek_json_set_str(so, "version", sub_info[k].version);
            }
            json_array_append_new(list, so);
        }
    }
    return list;
}

static json_t *group_json(const char *g)
{
    json_t *versions = json_array();
    ek_auto(json_t) vs = group_versions(g);
    size_t vi;
    json_t *vv;
    json_array_foreach (vs, vi, vv) {
        char gvs[256];
        snprintf(gvs, sizeof(gvs), "%s/%s", g, json_string_value(vv));
        json_array_append_new(versions, json_pack("{s:s,s:O}", "groupVersion", gvs, "version", vv));
    }
    json_t *pref = json_incref(json_array_get(versions, 0));
    return json_pack("{s:s,s:o,s:o}", "name", g, "versions", versions, "preferredVersion", pref);
}

static void build_legacy(ek_apiserver_t *s, const char *name, ek_buf_t *out)
{
    EK_UNUSED(s);
    json_t *doc;
    if (strcmp(name, "legacy:api") == 0) {
        doc =
            json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                      "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress", "");
    } else if (strcmp(name, "legacy:apis") == 0) {
        json_t *groups = json_array();
        ek_auto(json_t) names = group_names();
        size_t i;
        json_t *g;
        json_array_foreach (names, i, g) {
            if (*json_string_value(g)) {
                json_array_append_new(groups, group_json(json_string_value(g)));
            }
        }
        doc = json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                        groups);
    } else if (ek_has_prefix(name, "legacy:group:")) {
        doc = group_json(name + strlen("legacy:group:"));
        ek_json_set_str(doc, "kind", "APIGroup");
        ek_json_set_str(doc, "apiVersion", "v1");
    } else {
        /* "legacy:gv:<group>/<version>" */
        const char *gvs = name + strlen("legacy:gv:");
        const char *slash = strchr(gvs, '/');
        ek_autofree char *group = ek_xstrndup(gvs, (size_t)(slash - gvs));
        const char *version = slash + 1;
        char groupversion[256];
        snprintf(groupversion, sizeof(groupversion), "%s%s%s", group, *group ? "/" : "", version);
        doc =
            json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                      "groupVersion", groupversion, "resources", legacy_resources(group, version));
    }
    ek_json_dump_buf(doc, out);
    json_decref(doc);
}

const ek_buf_t *docs_get(ek_apiserver_t *s, const char *name,
                         void (*build)(ek_apiserver_t *s, const char *name, ek_buf_t *out))
{
    if (s->docs_generation != ek_resource_generation()) {
        size_t it = 0;
        const char *k;
        void *v;
        while (ek_map_next(&s->docs, &it, &k, &v)) {
            ek_buf_free(v);
            free(v);
        }
        ek_map_free(&s->docs);
        s->docs_generation = ek_resource_generation();
    }
    ek_buf_t *b = ek_map_get(&s->docs, name);
    if (!b) {
        b = ek_new(ek_buf_t);
        build(s, name, b);
        ek_map_put(&s->docs, name, b);
    }
    return b;
}

/* Which aggregated discovery version the client asked for first, if any. */
static const char *negotiate(apireq_t *r)
{
    const char *accept = apireq_header(r, "Accept");
    if (!accept) {
        return NULL;
    }
    const char *p = accept;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        ek_autofree char *mt = ek_xstrndup(p, len);
        if (strstr(mt, "as=APIGroupDiscoveryList") && strstr(mt, "g=apidiscovery.k8s.io")) {
            if (strstr(mt, "v=v2beta1")) {
                return "v2beta1";
            }
            if (strstr(mt, "v=v2")) {
                return "v2";
            }
        } else if (strstr(mt, "application/json") || strstr(mt, "*/*")) {
            return NULL;
        }
        p = end ? end + 1 : NULL;
        while (p && *p == ' ') {
            p++;
        }
    }
    return NULL;
}

static void respond_doc(apireq_t *r, const ek_buf_t *doc, const char *ctype)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, doc->data, doc->len);
    apireq_respond(r, 200, ctype, &b);
}

void handle_discovery(apireq_t *r)
{
    ek_apiserver_t *s = r->srv;
    char name[300];
    switch (r->rt.kind) {
    case ROUTE_API:
    case ROUTE_APIS: {
        const char *agg = negotiate(r);
        const char *which = r->rt.kind == ROUTE_API ? "api" : "apis";
        if (agg) {
            snprintf(name, sizeof(name), "agg:%s:%s", agg, which);
            char ctype[128];
            snprintf(ctype, sizeof(ctype),
                     "application/json;g=apidiscovery.k8s.io;v=%s;as=APIGroupDiscoveryList", agg);
            respond_doc(r, docs_get(s, name, build_aggregated), ctype);
            return;
        }
        snprintf(name, sizeof(name), "legacy:%s", which);
        respond_doc(r, docs_get(s, name, build_legacy), "application/json");
        return;
    }
    case ROUTE_GROUP: {
        ek_auto(json_t) vs = group_versions(r->rt.group);
        if (json_array_size(vs) == 0) {
            send_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
            return;
        }
        snprintf(name, sizeof(name), "legacy:group:%s", r->rt.group);
        respond_doc(r, docs_get(s, name, build_legacy), "application/json");
        return;
    }
    case ROUTE_GROUP_VERSION: {
        bool known = false;
        for (size_t i = 0, n = ek_resource_count(); i < n && !known; i++) {
            const ek_resource_t *res = ek_resource_at(i);
            known =
                strcmp(res->group, r->rt.group) == 0 && strcmp(res->version, r->rt.version) == 0;
        }
        if (!known) {
            send_status(r, 404, "NotFound", NULL, NULL,
                        "the server could not find the requested resource");
            return;
        }
        snprintf(name, sizeof(name), "legacy:gv:%s/%s", r->rt.group, r->rt.version);
        respond_doc(r, docs_get(s, name, build_legacy), "application/json");
        return;
    }
    default:
        send_status(r, 404, "NotFound", NULL, NULL,
                    "the server could not find the requested resource");
    }
}
