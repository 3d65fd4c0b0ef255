/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Admission for node identities and certificate requests.
 *
 * NodeRestriction, as kube-apiserver 1.32's plugin words it: a node may create and change only
 * its own Node (never its taints after registration, never labels under
 * node-restriction.kubernetes.io/ or kubernetes.io/ and k8s.io/ labels other than the
 * kubelet's own), only its own Lease in kube-node-lease, the status of pods bound to it (not
 * their labels), mirror pods bound to it that reference nothing, evictions and deletions of
 * its own pods, PVC status only, and tokens only for pods bound to it. Nodes also in
 * system:masters (the server's in-process agent and simulated nodes) are trusted as
 * administrators and skip these checks.
 *
 * CertificateSigningRequests get their requester's identity (spec.username, uid, groups) as
 * Kubernetes' CSR strategy sets it, and no status. A bootstrapper's kubelet-client CSR must
 * carry the joining agent's node password (header Edgek-Node-Password, as k3s's agents send
 * K3s-Node-Password): the first join under a name records its salted hash in the Secret
 * kube-system/<node>.node-password.edgek; a later join under that name with another password
 * is refused, so two agents cannot claim one node.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

#define NODE_LEASE_NS         "kube-node-lease"
#define MIRROR_POD_ANNOTATION "kubernetes.io/config.mirror"
#define KUBELET_CLIENT_SIGNER "kubernetes.io/kube-apiserver-client-kubelet"
#define PASSWORD_NS           "kube-system"
#define PASSWORD_SUFFIX       ".node-password.edgek"
#define PASSWORD_TYPE         "edgek.io/node-password"

static bool is_res(const apireq_t *r, const char *group, const char *plural)
{
    return ek_streq(r->rt.res->group, group) && ek_streq(r->rt.res->plural, plural);
}

static const char *obj_name(const json_t *o)
{
    return ek_json_str(o, "metadata", "name", NULL);
}

/* 403 "<resource> "<name>" is forbidden: <why>", as admission.NewForbidden words it. */
static int forbid(apireq_t *r, const char *name, const char *fmt, ...) EK_PRINTF(3, 4);
static int forbid(apireq_t *r, const char *name, const char *fmt, ...)
{
    char why[1024], q[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    const char *res = resource_qualified(r->rt.res, q);
    if (name && *name) {
        send_status(r, 403, "Forbidden", name, r->rt.res, "%s \"%s\" is forbidden: %s", res, name,
                    why);
    } else {
        send_status(r, 403, "Forbidden", NULL, r->rt.res, "%s is forbidden: %s", res, why);
    }
    return -1;
}

/* The node NodeRestriction applies to, NULL when it does not apply; "" when refused. */
static const char *restricted_node(apireq_t *r)
{
    const char *node = node_identity(&r->user);
    if (!node || user_in_group(&r->user, "system:masters")) {
        return NULL;
    }
    if (!*node) {
        forbid(r, r->rt.name, "could not determine node from user \"%s\"", r->user.name);
    }
    return node;
}

/* ---- Node labels ---- */

static bool ns_is(const char *ns, const char *domain)
{
    size_t n = strlen(ns), d = strlen(domain);
    return strcmp(ns, domain) == 0 ||
           (n > d && ns[n - d - 1] == '.' && strcmp(ns + n - d, domain) == 0);
}

/* kubeletapis.IsKubeletLabel */
static bool kubelet_label(const char *key, const char *ns)
{
    static const char *const labels[] = {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "beta.kubernetes.io/instance-type",
        "node.kubernetes.io/instance-type",
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(labels); i++) {
        if (strcmp(key, labels[i]) == 0) {
            return true;
        }
    }
    return ns_is(ns, "kubelet.kubernetes.io") || ns_is(ns, "node.kubernetes.io");
}

bool node_label_forbidden(const char *key)
{
    const char *slash = strchr(key, '/');
    char ns[256] = "";
    if (slash && (size_t)(slash - key) < sizeof(ns)) {
        memcpy(ns, key, (size_t)(slash - key));
        ns[slash - key] = '\0';
    }
    if (ns_is(ns, "node-restriction.kubernetes.io")) {
        return true;
    }
    bool k8s = ns_is(ns, "kubernetes.io") || ns_is(ns, "k8s.io");
    return k8s && !kubelet_label(key, ns);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void note_if_forbidden(ek_strlist_t *out, const char *key)
{
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->v[i], key) == 0) {
            return;
        }
    }
    if (node_label_forbidden(key)) {
        ek_strlist_add(out, key);
    }
}

/* The forbidden keys among labels added, removed or changed between a and b, sorted and
 * joined with ", " (caller frees), or NULL when there are none. */
static char *forbidden_changes(const json_t *a, const json_t *b)
{
    ek_strlist_t bad = { 0 };
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)a, k, v) {
        if (!json_equal(v, json_object_get(b, k))) {
            note_if_forbidden(&bad, k);
        }
    }
    json_object_foreach ((json_t *)b, k, v) {
        if (!json_equal(v, json_object_get(a, k))) {
            note_if_forbidden(&bad, k);
        }
    }
    if (!bad.n) {
        return NULL;
    }
    qsort(bad.v, bad.n, sizeof(*bad.v), cmp_str);
    ek_buf_t b2 = EK_BUF_INIT;
    for (size_t i = 0; i < bad.n; i++) {
        ek_buf_printf(&b2, "%s%s", i ? ", " : "", bad.v[i]);
    }
    ek_strlist_free(&bad);
    return b2.data;
}

/* ---- the resources NodeRestriction covers ---- */

static int admit_node(apireq_t *r, const char *node, const json_t *obj, const json_t *old)
{
    const char *name = old ? r->rt.name : obj_name(obj);
    if (!ek_streq(name, node)) {
        return forbid(r, name, "node \"%s\" is not allowed to modify node \"%s\"", node,
                      name ? name : "");
    }
    if (!obj) {
        return 0; /* delete */
    }
    const json_t *src = ek_json_path(obj, "spec", "configSource", NULL);
    const json_t *labels = ek_json_path(obj, "metadata", "labels", NULL);
    if (!old) {
        if (src && !json_is_null(src)) {
            return forbid(r, name,
                          "node \"%s\" is not allowed to create pods with a non-nil configSource",
                          node);
        }
        ek_autofree char *bad = forbidden_changes(labels, NULL);
        return bad ? forbid(r, name, "node \"%s\" is not allowed to set the following labels: %s",
                            node, bad)
                   : 0;
    }
    if (src && !json_is_null(src) &&
        !json_equal(src, ek_json_path(old, "spec", "configSource", NULL))) {
        return forbid(r, name,
                      "node \"%s\" is not allowed to update configSource to a new non-nil "
                      "configSource",
                      node);
    }
    const json_t *t1 = ek_json_path(obj, "spec", "taints", NULL);
    const json_t *t0 = ek_json_path(old, "spec", "taints", NULL);
    if (json_array_size(t1) + json_array_size(t0) > 0 && !json_equal(t1, t0)) {
        return forbid(r, name, "node \"%s\" is not allowed to modify taints", node);
    }
    ek_autofree char *bad =
        forbidden_changes(labels, ek_json_path(old, "metadata", "labels", NULL));
    return bad ? forbid(r, name, "is not allowed to modify labels: %s", bad) : 0;
}

static int admit_lease(apireq_t *r, const char *node, const char *name)
{
    if (!ek_streq(r->rt.ns, NODE_LEASE_NS)) {
        return forbid(r, name, "can only access leases in the \"%s\" system namespace",
                      NODE_LEASE_NS);
    }
    if (!ek_streq(name, node)) {
        return forbid(r, name,
                      "can only access node lease with the same name as the requesting "
                      "node");
    }
    return 0;
}

static int admit_mirror_owner(apireq_t *r, const char *node, const json_t *pod)
{
    const char *name = obj_name(pod);
    const json_t *owners = ek_json_path(pod, "metadata", "ownerReferences", NULL);
    if (json_array_size(owners) > 1) {
        return forbid(r, name,
                      "node \"%s\" can only create pods with a single owner reference set to "
                      "itself",
                      node);
    }
    const json_t *o = json_array_get(owners, 0);
    if (!o || !ek_streq(ek_json_str(o, "apiVersion", NULL), "v1") ||
        !ek_streq(ek_json_str(o, "kind", NULL), "Node") ||
        !ek_streq(ek_json_str(o, "name", NULL), node)) {
        return forbid(r, name,
                      "node \"%s\" can only create pods with an owner reference set to itself",
                      node);
    }
    if (!ek_json_bool(o, 0, "controller", NULL)) {
        return forbid(r, name,
                      "node \"%s\" can only create pods with a controller owner reference set to "
                      "itself",
                      node);
    }
    if (ek_json_bool(o, 0, "blockOwnerDeletion", NULL)) {
        return forbid(r, name, "node \"%s\" must not set blockOwnerDeletion on an owner reference",
                      node);
    }
    const ek_resource_t *nodes = ek_resource_find("", "v1", "nodes");
    obj_t *n = store_get(&r->srv->store, nodes, NULL, node);
    const char *uid = n ? ek_json_str(n->json, "metadata", "uid", NULL) : NULL;
    const char *want = ek_json_str(o, "uid", NULL);
    if (!n) {
        send_not_found(r, nodes, node);
        return -1;
    }
    if (!ek_streq(uid, want)) {
        return forbid(r, name, "node %s UID mismatch: expected %s got %s", node, want ? want : "",
                      uid ? uid : "");
    }
    return 0;
}

static int admit_mirror_pod(apireq_t *r, const char *node, const json_t *pod)
{
    const char *name = obj_name(pod);
    if (!ek_json_path(pod, "metadata", "annotations", MIRROR_POD_ANNOTATION, NULL)) {
        return forbid(r, name,
                      "pod does not have \"%s\" annotation, node \"%s\" can only create mirror "
                      "pods",
                      MIRROR_POD_ANNOTATION, node);
    }
    if (!ek_streq(ek_json_str(pod, "spec", "nodeName", NULL), node)) {
        return forbid(r, name, "node \"%s\" can only create pods with spec.nodeName set to itself",
                      node);
    }
    if (admit_mirror_owner(r, node, pod) < 0) {
        return -1;
    }
    static const struct {
        ref_kind_t kind;
        const char *what;
    } refs[] = {
        { REF_SA, "a service account" },
        { REF_SECRET, "secrets" },
        { REF_CONFIGMAP, "configmaps" },
        { REF_PVC, "persistentvolumeclaims" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(refs); i++) {
        if (pod_refs(pod, refs[i].kind, NULL)) {
            return forbid(r, name, "node \"%s\" can not create pods that reference %s", node,
                          refs[i].what);
        }
    }
    return 0;
}

static int admit_pod_status(apireq_t *r, const char *node, const json_t *pod, const json_t *old)
{
    if (!ek_streq(ek_json_str(old, "spec", "nodeName", NULL), node)) {
        return forbid(r, r->rt.name,
                      "node \"%s\" can only update pod status for pods with spec.nodeName set to "
                      "itself",
                      node);
    }
    const json_t *l1 = ek_json_path(pod, "metadata", "labels", NULL);
    const json_t *l0 = ek_json_path(old, "metadata", "labels", NULL);
    if (json_object_size(l1) + json_object_size(l0) > 0 && !json_equal(l1, l0)) {
        return forbid(r, r->rt.name, "node \"%s\" cannot update labels through pod status", node);
    }
    return 0;
}

/* A PVC with the fields a node may change (and the revision) taken out. */
static json_t *pvc_fixed_part(const json_t *pvc)
{
    json_t *c = json_deep_copy(pvc);
    json_t *md = ek_json_obj_ensure(c, "metadata"), *st = ek_json_obj_ensure(c, "status");
    json_object_del(md, "resourceVersion");
    json_object_del(md, "managedFields");
    static const char *const free_fields[] = { "capacity", "conditions", "allocatedResources",
                                               "allocatedResourceStatuses" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(free_fields); i++) {
        json_object_del(st, free_fields[i]);
    }
    return c;
}

static int admit_pvc(apireq_t *r, const char *node, const json_t *obj, const json_t *old)
{
    if (r->rt.sub != EK_SUB_STATUS || !obj || !old) {
        return forbid(r, r->rt.name, "may only update PVC status");
    }
    ek_auto(json_t) a = pvc_fixed_part(obj);
    ek_auto(json_t) b = pvc_fixed_part(old);
    if (!json_equal(a, b)) {
        return forbid(r, r->rt.name,
                      "node \"%s\" is not allowed to update fields other than status.capacity and "
                      "status.conditions",
                      node);
    }
    return 0;
}

static int admit_pod_delete(apireq_t *r, const char *node, const json_t *pod)
{
    if (!ek_streq(ek_json_str(pod, "spec", "nodeName", NULL), node)) {
        return forbid(r, r->rt.name,
                      "node \"%s\" can only delete pods with spec.nodeName set to itself", node);
    }
    return 0;
}

/* ---- entry points ---- */

int admission_update(apireq_t *r, const json_t *obj, const json_t *old)
{
    const char *node = restricted_node(r);
    if (!node) {
        return 0;
    }
    if (!*node) {
        return -1;
    }
    if (is_res(r, "", "pods")) {
        if (r->rt.sub == EK_SUB_STATUS) {
            return admit_pod_status(r, node, obj, old);
        }
        return forbid(r, r->rt.name,
                      "unexpected operation \"UPDATE\", node \"%s\" can only create and delete "
                      "mirror pods",
                      node);
    }
    if (is_res(r, "", "nodes")) {
        return admit_node(r, node, obj, old);
    }
    if (is_res(r, "", "persistentvolumeclaims")) {
        return admit_pvc(r, node, obj, old);
    }
    if (is_res(r, "coordination.k8s.io", "leases")) {
        return admit_lease(r, node, r->rt.name);
    }
    return 0;
}

int admission_delete(apireq_t *r, const json_t *obj)
{
    const char *node = restricted_node(r);
    if (!node) {
        return 0;
    }
    if (!*node) {
        return -1;
    }
    if (is_res(r, "", "pods")) {
        return admit_pod_delete(r, node, obj);
    }
    if (is_res(r, "", "nodes")) {
        return admit_node(r, node, NULL, obj);
    }
    if (is_res(r, "", "persistentvolumeclaims")) {
        return admit_pvc(r, node, NULL, NULL);
    }
    if (is_res(r, "coordination.k8s.io", "leases")) {
        return admit_lease(r, node, r->rt.name);
    }
    return 0;
}

int admission_token_request(apireq_t *r, const json_t *tr)
{
    const char *node = restricted_node(r);
    if (!node || !*node) {
        return node ? -1 : 0;
    }
    const json_t *ref = ek_json_path(tr, "spec", "boundObjectRef", NULL);
    const char *pod_name = ek_json_str(ref, "name", NULL);
    if (!ref || !ek_streq(ek_json_str(ref, "apiVersion", NULL), "v1") ||
        !ek_streq(ek_json_str(ref, "kind", NULL), "Pod") || !pod_name || !*pod_name) {
        return forbid(r, r->rt.name, "node requested token not bound to a pod");
    }
    const char *uid = ek_json_str(ref, "uid", NULL);
    if (!uid || !*uid) {
        return forbid(r, r->rt.name, "node requested token with a pod binding without a uid");
    }
    const ek_resource_t *pods = ek_resource_find("", "v1", "pods");
    obj_t *pod = store_get(&r->srv->store, pods, r->rt.ns, pod_name);
    if (!pod) {
        send_not_found(r, pods, pod_name);
        return -1;
    }
    if (!ek_streq(ek_json_str(pod->json, "metadata", "uid", NULL), uid)) {
        return forbid(r, r->rt.name,
                      "the UID in the bound object reference (%s) does not match the UID in "
                      "record. The object might have been deleted and then recreated",
                      uid);
    }
    if (!ek_streq(ek_json_str(pod->json, "spec", "nodeName", NULL), node)) {
        return forbid(r, r->rt.name,
                      "node requested token bound to a pod scheduled on a different node");
    }
    return 0;
}

/* ---- certificate signing requests ---- */

/* Kubernetes' CSR strategy: the requester is whoever created it, and nothing is decided yet. */
static void csr_set_requester(apireq_t *r, json_t *csr)
{
    json_t *spec = ek_json_obj_ensure(csr, "spec");
    ek_json_set_str(spec, "username", r->user.name ? r->user.name : "");
    if (r->user.uid) {
        ek_json_set_str(spec, "uid", r->user.uid);
    } else {
        json_object_del(spec, "uid");
    }
    json_t *groups = json_array();
    for (size_t i = 0; i < r->user.groups.n; i++) {
        json_array_append_new(groups, json_string(r->user.groups.v[i]));
    }
    json_object_set_new(spec, "groups", groups);
    json_object_del(spec, "extra");
    json_object_del(csr, "status");
}

/* The node a kubelet-client CSR names in its CN (system:node:<name>), or NULL. Caller frees. */
static char *csr_node(const json_t *csr)
{
    const char *req = ek_json_str(csr, "spec", "request", NULL);
    size_t len;
    ek_autofree char *pem = req ? ek_base64_decode(req, &len) : NULL;
    ek_pki_csr_info_t info;
    if (!pem || ek_pki_csr_inspect(pem, &info, NULL) < 0) {
        return NULL;
    }
    char *node = NULL;
    if (info.n_cn == 1 && ek_has_prefix(info.cn, "system:node:") && info.cn[12]) {
        node = ek_xstrdup(info.cn + 12);
    }
    ek_pki_csr_info_clear(&info);
    return node;
}

typedef struct pw_write {
    apireq_t *r;
    json_t *csr;
    char *node;
} pw_write_t;

static void on_password_written(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err,
                                void *data)
{
    pw_write_t *w = data;
    EK_UNUSED(rev);
    EK_UNUSED(e);
    if (!err) {
        EK_LOG(EK_INFO, "apiserver", "node password recorded node=%s", w->node);
        create_admitted(w->r, w->csr);
    } else if (err->status == 409) {
        send_status(w->r, 409, "Conflict", obj_name(w->csr), w->r->rt.res,
                    "another agent is joining as node \"%s\" at this moment; try again", w->node);
    } else {
        send_error(w->r, w->r->rt.res, obj_name(w->csr), err);
    }
    json_decref(w->csr);
    free(w->node);
    free(w);
}

/* Records the first node password of a node name in its Secret; then the CSR goes on. */
static void record_password(apireq_t *r, json_t *csr, const char *node, const char *pw,
                            const char *secret_name)
{
    ek_error_t *err = NULL;
    ek_autofree char *hash = ek_pki_password_hash(r->srv->pki, pw, &err);
    if (!hash) {
        send_error(r, r->rt.res, obj_name(csr), err);
        ek_error_free(err);
        return;
    }
    char uid[37], ts[21];
    new_uid(uid);
    ek_time_rfc3339(time(NULL), ts);
    ek_autofree char *b64 = ek_base64_encode(hash, strlen(hash));
    ek_auto(json_t) secret = json_pack(
        "{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:{s:s}},s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
        "metadata", "name", secret_name, "namespace", PASSWORD_NS, "uid", uid, "creationTimestamp",
        ts, "annotations", "edgek.io/node", node, "type", PASSWORD_TYPE, "data", "hash", b64);
    const ek_resource_t *secrets = ek_resource_find("", "v1", "secrets");
    ek_autofree char *key = ek_resource_key(secrets, PASSWORD_NS, secret_name);
    ek_autofree char *text = ek_json_dumps(secret);
    pw_write_t *w = ek_new(pw_write_t);
    w->r = r;
    w->csr = json_incref(csr);
    w->node = ek_xstrdup(node);
    ek_kv_create(r->srv->kv, key, text, strlen(text), 0, 0, on_password_written, w);
}

static void check_node_password(apireq_t *r, json_t *csr)
{
    ek_autofree char *node = csr_node(csr);
    if (!node) {
        create_admitted(r, csr); /* not a node's CSR: the approver leaves it alone */
        return;
    }
    const char *pw = apireq_header(r, EK_NODE_PASSWORD_HEADER);
    if (!pw || !*pw) {
        forbid(r, obj_name(csr),
               "a joining node must send its node password (header %s) to request a "
               "certificate for node \"%s\"",
               EK_NODE_PASSWORD_HEADER, node);
        return;
    }
    ek_autofree char *name = ek_xasprintf("%s" PASSWORD_SUFFIX, node);
    obj_t *o = store_get(&r->srv->store, ek_resource_find("", "v1", "secrets"), PASSWORD_NS, name);
    if (!o) {
        /* A Node that never joined with a password (the server's own, or one registered with
         * other credentials) is not up for grabs by the first token holder to claim it. */
        obj_t *n = store_get(&r->srv->store, ek_resource_find("", "v1", "nodes"), NULL, node);
        if (n && !ek_json_str(n->json, "metadata", "deletionTimestamp", NULL)) {
            forbid(r, obj_name(csr),
                   "node \"%s\" is already registered and never joined with a node password: "
                   "give this agent another --node-name (or --with-node-id), or delete the Node "
                   "first",
                   node);
            return;
        }
        record_password(r, csr, node, pw, name);
        return;
    }
    ek_autofree char *hash = secret_data(o->json, "hash");
    if (!ek_pki_password_check(hash, pw)) {
        forbid(r, obj_name(csr),
               "node \"%s\" has already joined with another node password: another agent uses "
               "this node name (give this one another --node-name, or use --with-node-id), or "
               "the node's password file was replaced (to let it join again, delete the Node, "
               "which deletes its password Secret %s/%s)",
               node, PASSWORD_NS, name);
        return;
    }
    create_admitted(r, csr);
}

static void admit_csr_create(apireq_t *r, json_t *csr)
{
    csr_set_requester(r, csr);
    if (user_in_group(&r->user, "system:bootstrappers") &&
        ek_streq(ek_json_str(csr, "spec", "signerName", NULL), KUBELET_CLIENT_SIGNER)) {
        check_node_password(r, csr);
        return;
    }
    create_admitted(r, csr);
}

void admission_create(apireq_t *r, json_t *obj)
{
    if (is_res(r, "certificates.k8s.io", "certificatesigningrequests")) {
        admit_csr_create(r, obj);
        return;
    }
    const char *node = restricted_node(r);
    int rc = 0;
    if (node && !*node) {
        return;
    }
    if (node && is_res(r, "", "pods")) {
        rc = admit_mirror_pod(r, node, obj);
    } else if (node && is_res(r, "", "nodes")) {
        rc = admit_node(r, node, obj, NULL);
    } else if (node && is_res(r, "coordination.k8s.io", "leases")) {
        rc = admit_lease(r, node, obj_name(obj));
    } else if (node && is_res(r, "", "persistentvolumeclaims")) {
        rc = forbid(r, obj_name(obj), "may only update PVC status");
    }
    if (rc == 0) {
        create_admitted(r, obj);
    }
}
