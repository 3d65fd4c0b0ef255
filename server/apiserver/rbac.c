/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authorization: the Node authorizer for kubelets (nodeauthz.c), then RBAC evaluated from the
 * cached Roles, ClusterRoles and their bindings, as Kubernetes' RBAC authorizer does. Members
 * of system:masters may do everything (the admin kubeconfig's group). Rules are read per
 * request; the cache makes that cheap. The same
 * bindings answer SelfSubjectRulesReview (`kubectl auth can-i --list`).
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

void user_clear(user_t *u)
{
    free(u->name);
    free(u->uid);
    ek_strlist_free(&u->groups);
    memset(u, 0, sizeof(*u));
}

bool user_in_group(const user_t *u, const char *group)
{
    for (size_t i = 0; i < u->groups.n; i++) {
        if (strcmp(u->groups.v[i], group) == 0) {
            return true;
        }
    }
    return false;
}

static bool list_has(const json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) {
            return true;
        }
    }
    return false;
}

static bool resource_matches(const json_t *resources, const authz_attrs_t *a)
{
    char combined[256];
    if (a->subresource) {
        snprintf(combined, sizeof(combined), "%s/%s", a->resource, a->subresource);
    }
    size_t i;
    json_t *v;
    json_array_foreach (resources, i, v) {
        const char *r = json_string_value(v);
        if (!r) {
            continue;
        }
        if (strcmp(r, "*") == 0) {
            return true;
        }
        if (!a->subresource && strcmp(r, a->resource) == 0) {
            return true;
        }
        if (a->subresource && (strcmp(r, combined) == 0 ||
                               (ek_has_prefix(r, "*/") && strcmp(r + 2, a->subresource) == 0))) {
            return true;
        }
    }
    return false;
}

static bool path_matches(const json_t *urls, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach (urls, i, v) {
        const char *u = json_string_value(v);
        if (!u) {
            continue;
        }
        size_t n = strlen(u);
        if (strcmp(u, "*") == 0 || strcmp(u, path) == 0 ||
            (n && u[n - 1] == '*' && strncmp(u, path, n - 1) == 0)) {
            return true;
        }
    }
    return false;
}

static bool rule_allows(const json_t *rule, const authz_attrs_t *a)
{
    const json_t *verbs = json_object_get(rule, "verbs");
    if (!list_has(verbs, a->verb) && !list_has(verbs, "*")) {
        return false;
    }
    if (a->path) {
        return path_matches(json_object_get(rule, "nonResourceURLs"), a->path);
    }
    const json_t *groups = json_object_get(rule, "apiGroups");
    if (!list_has(groups, a->group ? a->group : "") && !list_has(groups, "*")) {
        return false;
    }
    if (!resource_matches(json_object_get(rule, "resources"), a)) {
        return false;
    }
    const json_t *names = json_object_get(rule, "resourceNames");
    if (json_array_size(names) == 0) {
        return true;
    }
    return a->name && list_has(names, a->name);
}

static bool subject_matches(const json_t *subj, const user_t *u, const char *binding_ns)
{
    const char *kind = ek_json_str(subj, "kind", NULL);
    const char *name = ek_json_str(subj, "name", NULL);
    if (!kind || !name) {
        return false;
    }
    if (strcmp(kind, "User") == 0) {
        return u->name && strcmp(u->name, name) == 0;
    }
    if (strcmp(kind, "Group") == 0) {
        return user_in_group(u, name);
    }
    if (strcmp(kind, "ServiceAccount") == 0) {
        const char *ns = ek_json_str(subj, "namespace", NULL);
        char want[512];
        snprintf(want, sizeof(want), "system:serviceaccount:%s:%s", ns ? ns : binding_ns, name);
        return u->name && strcmp(u->name, want) == 0;
    }
    return false;
}

/* Rules of a role reference, or NULL when the role does not exist. Borrowed. */
static const json_t *role_rules(ek_apiserver_t *s, const char *kind, const char *name,
                                const char *ns)
{
    const ek_resource_t *res =
        ek_resource_find("rbac.authorization.k8s.io", "v1",
                         strcmp(kind, "ClusterRole") == 0 ? "clusterroles" : "roles");
    obj_t *o = store_get(&s->store, res, strcmp(kind, "ClusterRole") == 0 ? NULL : ns, name);
    return o ? json_object_get(o->json, "rules") : NULL;
}

static bool bindings_allow(ek_apiserver_t *s, const user_t *u, const authz_attrs_t *a,
                           const char *plural, const char *ns, char **reason)
{
    const ek_resource_t *res = ek_resource_find("rbac.authorization.k8s.io", "v1", plural);
    size_t n;
    ek_autofree obj_t **bs = store_list(&s->store, res, ns, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *b = bs[i]->json;
        const char *bns = ek_json_str(b, "metadata", "namespace", NULL);
        bool match = false;
        size_t k;
        json_t *subj;
        json_array_foreach (json_object_get(b, "subjects"), k, subj) {
            match = match || subject_matches(subj, u, bns ? bns : "");
        }
        if (!match) {
            continue;
        }
        const char *rkind = ek_json_str(b, "roleRef", "kind", NULL);
        const char *rname = ek_json_str(b, "roleRef", "name", NULL);
        if (!rkind || !rname) {
            continue;
        }
        const json_t *rules = role_rules(s, rkind, rname, bns);
        json_t *rule;
        json_array_foreach (rules, k, rule) {
            if (rule_allows(rule, a)) {
                if (reason) {
                    *reason = ek_xasprintf("RBAC: allowed by %s \"%s\" of %s \"%s\"",
                                           ns ? "RoleBinding" : "ClusterRoleBinding",
                                           ek_json_str(b, "metadata", "name", NULL), rkind, rname);
                }
                return true;
            }
        }
    }
    return false;
}

bool authz_allowed(ek_apiserver_t *s, const user_t *u, const authz_attrs_t *a, char **reason)
{
    if (user_in_group(u, "system:masters")) {
        return true;
    }
    /* kube-apiserver's --authorization-mode=Node,RBAC: the Node authorizer first. */
    const char *node = node_identity(u);
    ek_autofree char *node_reason = NULL;
    if (node && !*node) {
        node_reason = ek_xasprintf("unknown node for user \"%s\"", u->name);
    } else if (node && nodeauthz_allowed(s, node, a, &node_reason)) {
        if (reason) {
            *reason = ek_xstrdup("allowed by the Node authorizer");
        }
        return true;
    }
    if (bindings_allow(s, u, a, "clusterrolebindings", NULL, reason)) {
        return true;
    }
    if (a->ns && !a->path && bindings_allow(s, u, a, "rolebindings", a->ns, reason)) {
        return true;
    }
    if (reason && node_reason) {
        *reason = ek_steal(&node_reason);
    }
    return false;
}

/* Splits one PolicyRule into the review's resource and non-resource rule lists. */
static void add_rule(json_t *status, const json_t *rule)
{
    json_t *verbs = json_object_get(rule, "verbs");
    json_t *urls = json_object_get(rule, "nonResourceURLs");
    if (json_array_size(urls)) {
        json_array_append_new(json_object_get(status, "nonResourceRules"),
                              json_pack("{s:O,s:O}", "verbs", verbs, "nonResourceURLs", urls));
    }
    json_t *resources = json_object_get(rule, "resources");
    if (json_array_size(resources)) {
        json_t *r = json_pack("{s:O,s:O}", "verbs", verbs, "resources", resources);
        json_t *groups = json_object_get(rule, "apiGroups");
        json_t *names = json_object_get(rule, "resourceNames");
        json_object_set(r, "apiGroups", groups ? groups : json_array());
        if (json_array_size(names)) {
            json_object_set(r, "resourceNames", names);
        }
        json_array_append_new(json_object_get(status, "resourceRules"), r);
    }
}

static void add_binding_rules(ek_apiserver_t *s, const user_t *u, const char *plural,
                              const char *ns, json_t *status)
{
    const ek_resource_t *res = ek_resource_find("rbac.authorization.k8s.io", "v1", plural);
    size_t n;
    ek_autofree obj_t **bs = store_list(&s->store, res, ns, &n);
    for (size_t i = 0; i < n; i++) {
        const json_t *b = bs[i]->json;
        const char *bns = ek_json_str(b, "metadata", "namespace", NULL);
        bool match = false;
        size_t k;
        json_t *subj;
        json_array_foreach (json_object_get(b, "subjects"), k, subj) {
            match = match || subject_matches(subj, u, bns ? bns : "");
        }
        const char *rkind = ek_json_str(b, "roleRef", "kind", NULL);
        const char *rname = ek_json_str(b, "roleRef", "name", NULL);
        if (!match || !rkind || !rname) {
            continue;
        }
        json_t *rule;
        json_array_foreach (role_rules(s, rkind, rname, bns), k, rule) {
            add_rule(status, rule);
        }
    }
}

json_t *authz_rules(ek_apiserver_t *s, const user_t *u, const char *ns)
{
    json_t *status =
        json_pack("{s:[],s:[],s:b}", "resourceRules", "nonResourceRules", "incomplete", 0);
    /* system:masters shows up through the cluster-admin binding, as in Kubernetes. */
    add_binding_rules(s, u, "clusterrolebindings", NULL, status);
    if (ns && *ns) {
        add_binding_rules(s, u, "rolebindings", ns, status);
    }
    return status;
}
