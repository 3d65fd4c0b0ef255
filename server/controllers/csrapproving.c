/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSR approver: approves, never denies, and leaves what it does not recognise to a
 * person (`kubectl certificate approve|deny`). As kube-controller-manager's csrapproving
 * controller, a kubelet client certificate (signer kube-apiserver-client-kubelet, subject
 * CN=system:node:<name>, O=system:nodes, nothing else) is approved when a SubjectAccessReview
 * says its requester may create certificatesigningrequests/selfnodeclient (a node renewing its
 * own) or /nodeclient (a bootstrapper joining: the binding edgek:node-autoapprove-bootstrap).
 *
 * Two more, which Kubernetes leaves to add-ons: a kubelet serving certificate
 * (kubelet-serving) asked for by the node it names, whose names are all that Node's name or
 * addresses (so it waits for the Node to register, and is looked at again when the Node
 * changes); and an agent's component identity (kube-apiserver-client, CN=system:edgek-agent:
 * <name>, O=system:edgek:agents) asked for by node <name> itself.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

typedef struct approver {
    ctrl_t *c;
    ek_informer_t *csrs, *nodes;
} approver_t;

static bool decided(const json_t *csr)
{
    return csr_condition(csr, "Approved") || csr_condition(csr, "Denied") ||
           csr_condition(csr, "Failed");
}

static bool in_groups(const json_t *csr, const char *group)
{
    size_t i;
    json_t *g;
    json_array_foreach (ek_json_path(csr, "spec", "groups", NULL), i, g) {
        if (ek_streq(json_string_value(g), group)) {
            return true;
        }
    }
    return false;
}

static void approve(approver_t *a, pending_t *p, const json_t *csr, const char *msg)
{
    ek_auto(json_t) copy = json_deep_copy(csr);
    json_t *st = ek_json_obj_ensure(copy, "status");
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Approved",
                                           "status", "True", "reason", "AutoApproved", "message",
                                           msg, "lastUpdateTime", ts, "lastTransitionTime", ts));
    EK_LOG(EK_INFO, "controllers", "csr approved name=%s user=%s",
           ek_json_str(csr, "metadata", "name", NULL), ek_json_str(csr, "spec", "username", NULL));
    pending_add(p);
    ek_api_update(ctrl_manager(a->c)->client,
                  res_of("certificates.k8s.io", "v1", "certificatesigningrequests"), NULL, copy,
                  EK_SUB_APPROVAL, pending_call_done, p);
}

/* ---- kubelet client certificates: SubjectAccessReview ---- */

typedef struct review {
    approver_t *a;
    pending_t *p;
    json_t *csr;
    const char *subresource;
    bool then_nodeclient; /* a node renewing may also hold the bootstrappers' permission */
} review_t;

static void ask(review_t *rv);

static void on_review(int status, json_t *body, const ek_error_t *err, void *data)
{
    review_t *rv = data;
    if (!err && ek_json_bool(body, 0, "status", "allowed", NULL)) {
        approve(rv->a, rv->p, rv->csr,
                strcmp(rv->subresource, "selfnodeclient") == 0
                    ? "Auto approving self kubelet client certificate after "
                      "SubjectAccessReview."
                    : "Auto approving kubelet client certificate after "
                      "SubjectAccessReview.");
    } else if (!err && rv->then_nodeclient) {
        review_t *next = ek_new(review_t);
        *next = (review_t){ rv->a, rv->p, json_incref(rv->csr), "nodeclient", false };
        pending_add(rv->p);
        ask(next);
    }
    pending_call_done(status, body, err, rv->p);
    json_decref(rv->csr);
    free(rv);
}

static void ask(review_t *rv)
{
    const json_t *spec = json_object_get(rv->csr, "spec");
    json_t *groups = json_object_get(spec, "groups");
    ek_auto(json_t) sar = json_pack(
        "{s:s,s:s,s:{s:s,s:o,s:{s:s,s:s,s:s,s:s,s:s}}}", "apiVersion", "authorization.k8s.io/v1",
        "kind", "SubjectAccessReview", "spec", "user", ek_json_str(spec, "username", NULL) ?: "",
        "groups", groups ? json_incref(groups) : json_array(), "resourceAttributes", "group",
        "certificates.k8s.io", "resource", "certificatesigningrequests", "verb", "create",
        "subresource", rv->subresource, "version", "*");
    ek_api_create(ctrl_manager(rv->a->c)->client,
                  res_of("authorization.k8s.io", "v1", "subjectaccessreviews"), NULL, sar,
                  on_review, rv);
}

static void review_client(approver_t *a, pending_t *p, const json_t *csr,
                          const ek_pki_csr_info_t *info)
{
    bool self = ek_streq(ek_json_str(csr, "spec", "username", NULL), info->cn);
    review_t *rv = ek_new(review_t);
    *rv = (review_t){ a, p, json_incref((json_t *)csr), self ? "selfnodeclient" : "nodeclient",
                      self };
    pending_add(p);
    ask(rv);
}

/* ---- kubelet serving certificates and agent identities ---- */

static void review_serving(approver_t *a, pending_t *p, const json_t *csr,
                           const ek_pki_csr_info_t *info)
{
    const char *node_name = info->cn + strlen(CSR_NODE_PREFIX);
    if (!ek_streq(ek_json_str(csr, "spec", "username", NULL), info->cn) ||
        !in_groups(csr, "system:nodes")) {
        return; /* only the node itself may ask for its serving certificate */
    }
    json_t *node = ek_informer_get(a->nodes, NULL, node_name);
    if (!node || !csr_sans_match_node(info, node)) {
        EK_LOG(EK_DEBUG, "controllers", "serving csr waits for its node name=%s node=%s",
               ek_json_str(csr, "metadata", "name", NULL), node_name);
        return; /* looked at again when the Node registers or changes */
    }
    approve(a, p, csr,
            "Auto approving kubelet serving certificate: its names are the node's name and "
            "addresses.");
}

static void sync_csr(ctrl_t *c, const char *key, void *data)
{
    approver_t *a = data;
    json_t *csr = ek_informer_get(a->csrs, NULL, key);
    ek_pki_csr_info_t info;
    if (!csr || decided(csr) || csr_read(csr, &info, NULL) < 0) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    const char *signer = ek_json_str(csr, "spec", "signerName", NULL);
    const json_t *usages = ek_json_path(csr, "spec", "usages", NULL);
    const char *user = ek_json_str(csr, "spec", "username", NULL);
    pending_t *p = pending_new(c, key);
    if (ek_streq(signer, SIGNER_KUBELET_CLIENT) && !csr_kubelet_client_problem(&info, usages)) {
        review_client(a, p, csr, &info);
    } else if (ek_streq(signer, SIGNER_KUBELET_SERVING) &&
               !csr_kubelet_serving_problem(&info, usages)) {
        review_serving(a, p, csr, &info);
    } else if (ek_streq(signer, SIGNER_APISERVER_CLIENT) && in_groups(csr, "system:nodes") &&
               !csr_agent_client_problem(&info, usages, user)) {
        approve(a, p, csr, "Auto approving edgek agent client certificate for its own node.");
    }
    ek_pki_csr_info_clear(&info);
    pending_arm(p);
}

static void on_csr(json_t *csr, void *data)
{
    approver_t *a = data;
    if (!decided(csr)) {
        ctrl_enqueue_obj(a->c, csr);
    }
}

static void on_csr_update(json_t *old, json_t *csr, void *data)
{
    EK_UNUSED(old);
    on_csr(csr, data);
}

struct waiting {
    approver_t *a;
    char user[300];
};

static void enqueue_waiting(json_t *csr, void *data)
{
    struct waiting *w = data;
    if (ek_streq(ek_json_str(csr, "spec", "signerName", NULL), SIGNER_KUBELET_SERVING) &&
        ek_streq(ek_json_str(csr, "spec", "username", NULL), w->user) && !decided(csr)) {
        ctrl_enqueue_obj(w->a->c, csr);
    }
}

/* A Node registered or changed its addresses: its waiting serving CSRs may now match. */
static void on_node(json_t *node, void *data)
{
    struct waiting w = { .a = data };
    snprintf(w.user, sizeof(w.user), CSR_NODE_PREFIX "%s",
             ek_json_str(node, "metadata", "name", NULL) ?: "");
    ek_informer_each(w.a->csrs, enqueue_waiting, &w);
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    if (!json_equal(ek_json_path(old, "status", "addresses", NULL),
                    ek_json_path(node, "status", "addresses", NULL))) {
        on_node(node, data);
    }
}

void csrapproving_controller_start(ctrl_manager_t *m)
{
    approver_t *a = ek_new(approver_t);
    a->csrs = mgr_informer(m, "certificates.k8s.io", "v1", "certificatesigningrequests");
    a->nodes = mgr_informer(m, "", "v1", "nodes");
    a->c = ctrl_new(m, "csrapproving", sync_csr, a, 2);
    static const ek_informer_handlers_t ch = { .on_add = on_csr, .on_update = on_csr_update };
    static const ek_informer_handlers_t nh = { .on_add = on_node, .on_update = on_node_update };
    ek_informer_add_handlers(a->csrs, &ch, a);
    ek_informer_add_handlers(a->nodes, &nh, a);
    mgr_own(m, a, free);
}
