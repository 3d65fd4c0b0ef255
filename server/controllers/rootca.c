/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The root CA publisher, as Kubernetes' rootcacertpublisher: every active namespace holds a
 * ConfigMap `kube-root-ca.crt` whose `ca.crt` is the cluster CA, so pods can verify the API
 * server at kubernetes.default.svc (projected service-account volumes read it). A deleted or
 * edited copy is put back.
 */
#include "server/controllers/controllers-internal.h"

#define CM_NAME "kube-root-ca.crt"
#define DESCRIPTION                                                                           \
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal " \
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is " \
    "guaranteed across distributions of Kubernetes clusters."

typedef struct rootca {
    ctrl_t *c;
    ek_informer_t *ns;
    ek_informer_t *cm;
    const ek_resource_t *cm_res;
    char *pem;
} rootca_t;

static void on_ns_add(json_t *ns, void *data)
{
    ctrl_enqueue_obj(((rootca_t *)data)->c, ns);
}

static void on_ns_update(json_t *old, json_t *ns, void *data)
{
    EK_UNUSED(old);
    ctrl_enqueue_obj(((rootca_t *)data)->c, ns);
}

static void on_cm(json_t *cm, void *data)
{
    rootca_t *s = data;
    if (ek_streq(ek_json_str(cm, "metadata", "name", NULL), CM_NAME)) {
        ctrl_enqueue(s->c, ek_json_str(cm, "metadata", "namespace", NULL));
    }
}

static void on_cm_update(json_t *old, json_t *cm, void *data)
{
    EK_UNUSED(old);
    on_cm(cm, data);
}

/* The published data and annotation are as they should be. */
static bool up_to_date(rootca_t *s, const json_t *cm)
{
    json_t *data = json_object_get(cm, "data");
    return json_object_size(data) == 1 && ek_streq(ek_json_str(data, "ca.crt", NULL), s->pem) &&
           ek_streq(ek_json_str(cm, "metadata", "annotations", "kubernetes.io/description", NULL),
                    DESCRIPTION);
}

static void sync_ns(ctrl_t *c, const char *key, void *data)
{
    rootca_t *s = data;
    json_t *ns = ek_informer_get(s->ns, NULL, key);
    json_t *cm = ek_informer_get(s->cm, key, CM_NAME);
    if (!ns_is_active(ns) || (cm && up_to_date(s, cm))) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_client_t *client = ctrl_manager(c)->client;
    if (!cm) {
        json_t *obj =
            json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind",
                      "ConfigMap", "metadata", "name", CM_NAME, "namespace", key, "annotations",
                      "kubernetes.io/description", DESCRIPTION, "data", "ca.crt", s->pem);
        ek_api_create(client, s->cm_res, key, obj, pending_call_done, p);
        json_decref(obj);
    } else {
        /* An update with the cached resourceVersion: a concurrent edit makes it retry. */
        json_t *obj = json_deep_copy(cm);
        json_object_set_new(obj, "data", json_pack("{s:s}", "ca.crt", s->pem));
        json_t *ann = ek_json_obj_ensure(ek_json_obj_ensure(obj, "metadata"), "annotations");
        ek_json_set_str(ann, "kubernetes.io/description", DESCRIPTION);
        json_object_del(obj, "binaryData");
        ek_api_update(client, s->cm_res, key, obj, EK_SUB_NONE, pending_call_done, p);
        json_decref(obj);
    }
    pending_arm(p);
}

static void rootca_free(void *state)
{
    rootca_t *s = state;
    free(s->pem);
    free(s);
}

void rootca_controller_start(ctrl_manager_t *m)
{
    if (!m->opts.root_ca_pem) {
        return; /* nothing to publish (tests that run the controllers without a PKI) */
    }
    rootca_t *s = ek_new(rootca_t);
    s->pem = ek_xstrdup(m->opts.root_ca_pem);
    s->cm_res = res_of("", "v1", "configmaps");
    s->ns = mgr_informer(m, "", "v1", "namespaces");
    s->cm = mgr_informer(m, "", "v1", "configmaps");
    s->c = ctrl_new(m, "root-ca-cert-publisher", sync_ns, s, 2);
    static const ek_informer_handlers_t ns_h = { on_ns_add, on_ns_update, NULL, NULL };
    static const ek_informer_handlers_t cm_h = { NULL, on_cm_update, on_cm, NULL };
    ek_informer_add_handlers(s->ns, &ns_h, s);
    ek_informer_add_handlers(s->cm, &cm_h, s);
    mgr_own(m, s, rootca_free);
}
