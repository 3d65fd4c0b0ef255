/* SPDX-License-Identifier: Apache-2.0 */
/*
 * URL paths and query parameters of the Kubernetes API:
 *   /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB[/REST]]]
 *   /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME[/SUB[/REST]]]
 * with /api/v1/namespaces/NAME[/SUB] meaning the Namespace object itself.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static char *seg_dup(const char *s, size_t n)
{
    return ek_xstrndup(s, n);
}

/* Splits path into at most max segments; returns the count, or -1 on an empty segment. */
static int split(const char *path, const char **segs, size_t *lens, int max)
{
    int n = 0;
    const char *p = path;
    while (*p == '/') {
        p++;
    }
    while (*p) {
        if (n == max) {
            return -1;
        }
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0) {
            return -1;
        }
        segs[n] = p;
        lens[n] = len;
        n++;
        p += len;
        while (*p == '/') {
            p++;
        }
    }
    return n;
}

static bool seg_is(const char *seg, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(seg, s, len) == 0;
}

static int parse_resource(route_t *rt, const char **segs, size_t *lens, int n, int i)
{
    /* segs[i..] after the group/version */
    if (i >= n) {
        rt->kind = ROUTE_GROUP_VERSION;
        return 0;
    }
    rt->kind = ROUTE_RESOURCE;
    bool ns_sub = seg_is(segs[i], lens[i], "namespaces") && n == i + 3 &&
                  (seg_is(segs[i + 2], lens[i + 2], "status") ||
                   seg_is(segs[i + 2], lens[i + 2], "finalize"));
    if (seg_is(segs[i], lens[i], "namespaces") && i + 2 < n && !ns_sub) {
        rt->ns = seg_dup(segs[i + 1], lens[i + 1]);
        i += 2;
        rt->plural = seg_dup(segs[i], lens[i]);
    } else if (seg_is(segs[i], lens[i], "namespaces") && i + 1 < n) {
        /* /api/v1/namespaces/NAME: the Namespace itself */
        rt->plural = seg_dup(segs[i], lens[i]);
        i++;
        rt->name = seg_dup(segs[i], lens[i]);
        if (i + 1 < n) {
            ek_autofree char *sub = seg_dup(segs[i + 1], lens[i + 1]);
            rt->sub = ek_subresource_parse(sub);
        }
        return 0;
    } else {
        rt->plural = seg_dup(segs[i], lens[i]);
    }
    i++;
    if (i < n) {
        rt->name = seg_dup(segs[i], lens[i]);
        i++;
    }
    if (i < n) {
        char *sub = seg_dup(segs[i], lens[i]);
        rt->sub = ek_subresource_parse(sub);
        if (rt->sub == EK_SUB_NONE) {
            free(sub);
            return -1;
        }
        free(sub);
        i++;
        if (i < n) {
            if (rt->sub != EK_SUB_PROXY) {
                return -1;
            }
            /* everything after the subresource, for proxy */
            rt->sub_path = ek_xstrdup(segs[i]);
        }
    }
    return 0;
}

int route_parse(const char *path, route_t *rt)
{
    memset(rt, 0, sizeof(*rt));
    const char *segs[16];
    size_t lens[16];
    if (strcmp(path, "/version") == 0 || strcmp(path, "/version/") == 0) {
        rt->kind = ROUTE_VERSION;
        return 0;
    }
    if (ek_has_prefix(path, "/healthz") || ek_has_prefix(path, "/livez") ||
        ek_has_prefix(path, "/readyz")) {
        rt->kind = ROUTE_HEALTH;
        return 0;
    }
    if (strcmp(path, "/metrics") == 0) {
        rt->kind = ROUTE_METRICS;
        return 0;
    }
    if (strcmp(path, "/openapi/v2") == 0) {
        rt->kind = ROUTE_OPENAPI_V2;
        return 0;
    }
    if (strcmp(path, "/openapi/v3") == 0 || ek_has_prefix(path, "/openapi/v3/")) {
        rt->kind = ROUTE_OPENAPI_V3;
        const char *rest = path + strlen("/openapi/v3");
        rt->gv_path = *rest ? ek_xstrdup(rest + 1) : NULL;
        return 0;
    }
    int n = split(path, segs, lens, 16);
    if (n <= 0) {
        return -1;
    }
    if (seg_is(segs[0], lens[0], "api")) {
        rt->group = ek_xstrdup("");
        if (n == 1) {
            rt->kind = ROUTE_API;
            return 0;
        }
        rt->version = seg_dup(segs[1], lens[1]);
        return parse_resource(rt, segs, lens, n, 2);
    }
    if (seg_is(segs[0], lens[0], "apis")) {
        if (n == 1) {
            rt->kind = ROUTE_APIS;
            return 0;
        }
        rt->group = seg_dup(segs[1], lens[1]);
        if (n == 2) {
            rt->kind = ROUTE_GROUP;
            return 0;
        }
        rt->version = seg_dup(segs[2], lens[2]);
        return parse_resource(rt, segs, lens, n, 3);
    }
    return -1;
}

void route_clear(route_t *rt)
{
    free(rt->group);
    free(rt->version);
    free(rt->plural);
    free(rt->ns);
    free(rt->name);
    free(rt->sub_path);
    free(rt->gv_path);
    memset(rt, 0, sizeof(*rt));
}

static bool truthy(const char *v)
{
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = ek_xstrdup(v);
}

static void param_cb(const char *k, const char *v, void *data)
{
    params_t *p = data;
    if (strcmp(k, "labelSelector") == 0) {
        set_str(&p->label_selector, v);
    } else if (strcmp(k, "fieldSelector") == 0) {
        set_str(&p->field_selector, v);
    } else if (strcmp(k, "resourceVersion") == 0) {
        set_str(&p->resource_version, v);
    } else if (strcmp(k, "resourceVersionMatch") == 0) {
        set_str(&p->resource_version_match, v);
    } else if (strcmp(k, "continue") == 0) {
        set_str(&p->cont, v);
    } else if (strcmp(k, "limit") == 0) {
        p->limit = atoll(v);
    } else if (strcmp(k, "watch") == 0) {
        p->watch = truthy(v);
    } else if (strcmp(k, "timeoutSeconds") == 0) {
        p->timeout_seconds = atoll(v);
    } else if (strcmp(k, "allowWatchBookmarks") == 0) {
        p->allow_bookmarks = truthy(v);
    } else if (strcmp(k, "sendInitialEvents") == 0) {
        p->send_initial_events = truthy(v);
    } else if (strcmp(k, "dryRun") == 0) {
        p->dry_run = strcmp(v, "All") == 0;
    } else if (strcmp(k, "fieldValidation") == 0) {
        set_str(&p->field_validation, v);
    } else if (strcmp(k, "fieldManager") == 0) {
        set_str(&p->field_manager, v);
    } else if (strcmp(k, "propagationPolicy") == 0) {
        set_str(&p->propagation_policy, v);
    } else if (strcmp(k, "gracePeriodSeconds") == 0) {
        p->grace_period = atoll(v);
    } else if (strcmp(k, "includeObject") == 0) {
        set_str(&p->include_object, v);
    } else if (strcmp(k, "force") == 0) {
        p->force = truthy(v);
    } else if (strcmp(k, "pretty") == 0) {
        set_str(&p->pretty, v);
    }
}

void params_parse(const char *query, params_t *p)
{
    memset(p, 0, sizeof(*p));
    p->timeout_seconds = -1;
    p->grace_period = -1;
    ek_http_query_each(query, param_cb, p);
}

void params_clear(params_t *p)
{
    free(p->label_selector);
    free(p->field_selector);
    free(p->resource_version);
    free(p->resource_version_match);
    free(p->cont);
    free(p->field_validation);
    free(p->field_manager);
    free(p->propagation_policy);
    free(p->include_object);
    free(p->pretty);
    memset(p, 0, sizeof(*p));
}
