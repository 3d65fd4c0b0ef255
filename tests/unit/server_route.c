/* SPDX-License-Identifier: Apache-2.0 */
/* API paths and query parameters parse as kube-apiserver reads them. */
#include "server/apiserver/apiserver-internal.h"
#include "tests/unit/test.h"

static void expect(const char *path, route_kind_t kind, const char *group, const char *version,
                   const char *plural, const char *ns, const char *name, ek_subresource_t sub)
{
    route_t rt;
    ASSERT_EQ(route_parse(path, &rt), 0);
    ASSERT_EQ(rt.kind, kind);
    if (group) {
        ASSERT_STREQ(rt.group, group);
    }
    if (version) {
        ASSERT_STREQ(rt.version, version);
    }
    if (plural) {
        ASSERT_STREQ(rt.plural, plural);
    } else {
        ASSERT_TRUE(rt.plural == NULL);
    }
    if (ns) {
        ASSERT_STREQ(rt.ns, ns);
    } else {
        ASSERT_TRUE(rt.ns == NULL);
    }
    if (name) {
        ASSERT_STREQ(rt.name, name);
    } else {
        ASSERT_TRUE(rt.name == NULL);
    }
    ASSERT_EQ(rt.sub, sub);
    route_clear(&rt);
}

TEST(route_resource_paths)
{
    expect("/api/v1/namespaces/default/pods", ROUTE_RESOURCE, "", "v1", "pods", "default", NULL,
           EK_SUB_NONE);
    expect("/api/v1/namespaces/default/pods/web-0/log", ROUTE_RESOURCE, "", "v1", "pods", "default",
           "web-0", EK_SUB_LOG);
    expect("/api/v1/pods", ROUTE_RESOURCE, "", "v1", "pods", NULL, NULL, EK_SUB_NONE);
    expect("/api/v1/namespaces", ROUTE_RESOURCE, "", "v1", "namespaces", NULL, NULL, EK_SUB_NONE);
    expect("/api/v1/namespaces/kube-system", ROUTE_RESOURCE, "", "v1", "namespaces", NULL,
           "kube-system", EK_SUB_NONE);
    expect("/api/v1/namespaces/x/status", ROUTE_RESOURCE, "", "v1", "namespaces", NULL, "x",
           EK_SUB_STATUS);
    expect("/api/v1/namespaces/x/finalize", ROUTE_RESOURCE, "", "v1", "namespaces", NULL, "x",
           EK_SUB_FINALIZE);
    expect("/apis/apps/v1/namespaces/default/deployments/web/scale", ROUTE_RESOURCE, "apps", "v1",
           "deployments", "default", "web", EK_SUB_SCALE);
    expect("/apis/rbac.authorization.k8s.io/v1/clusterroles/view", ROUTE_RESOURCE,
           "rbac.authorization.k8s.io", "v1", "clusterroles", NULL, "view", EK_SUB_NONE);
    expect("/api/v1/nodes/n1/proxy/metrics", ROUTE_RESOURCE, "", "v1", "nodes", NULL, "n1",
           EK_SUB_PROXY);
}

TEST(route_discovery_and_misc)
{
    expect("/api", ROUTE_API, "", NULL, NULL, NULL, NULL, EK_SUB_NONE);
    expect("/apis", ROUTE_APIS, NULL, NULL, NULL, NULL, NULL, EK_SUB_NONE);
    expect("/apis/apps", ROUTE_GROUP, "apps", NULL, NULL, NULL, NULL, EK_SUB_NONE);
    expect("/apis/apps/v1", ROUTE_GROUP_VERSION, "apps", "v1", NULL, NULL, NULL, EK_SUB_NONE);
    expect("/api/v1", ROUTE_GROUP_VERSION, "", "v1", NULL, NULL, NULL, EK_SUB_NONE);
    expect("/version", ROUTE_VERSION, NULL, NULL, NULL, NULL, NULL, EK_SUB_NONE);
    expect("/readyz", ROUTE_HEALTH, NULL, NULL, NULL, NULL, NULL, EK_SUB_NONE);
    route_t rt;
    ASSERT_EQ(route_parse("/openapi/v3/apis/apps/v1", &rt), 0);
    ASSERT_EQ(rt.kind, ROUTE_OPENAPI_V3);
    ASSERT_STREQ(rt.gv_path, "apis/apps/v1");
    route_clear(&rt);
    ASSERT_EQ(route_parse("/nope", &rt), -1);
    route_clear(&rt);
    ASSERT_EQ(route_parse("/api/v1/namespaces/default/pods/x/bogus", &rt), -1);
    route_clear(&rt);
}

TEST(params_from_query)
{
    params_t p;
    params_parse("labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb&limit=500&"
                 "resourceVersion=0&watch=true&allowWatchBookmarks=true&timeoutSeconds=465&"
                 "dryRun=All&fieldValidation=Strict&gracePeriodSeconds=0",
                 &p);
    ASSERT_STREQ(p.label_selector, "app=web");
    ASSERT_STREQ(p.field_selector, "metadata.name=web");
    ASSERT_EQ(p.limit, 500);
    ASSERT_STREQ(p.resource_version, "0");
    ASSERT_TRUE(p.watch);
    ASSERT_TRUE(p.allow_bookmarks);
    ASSERT_EQ(p.timeout_seconds, 465);
    ASSERT_TRUE(p.dry_run);
    ASSERT_STREQ(p.field_validation, "Strict");
    ASSERT_EQ(p.grace_period, 0);
    params_clear(&p);
    params_parse("", &p);
    ASSERT_EQ(p.grace_period, -1);
    ASSERT_EQ(p.timeout_seconds, -1);
    params_clear(&p);
}
