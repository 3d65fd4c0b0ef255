/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ServiceAccounts controller, as Kubernetes' serviceaccounts_controller.go: every active
 * namespace has a ServiceAccount named `default` (pods that name no account run as it), and
 * one deleted by hand comes back. Namespaces being terminated are left alone: the API server
 * would refuse the create anyway.
 */
#include "server/controllers/controllers-internal.h"

typedef struct sac {
    ctrl_t *c;
    ek_informer_t *ns;
    ek_informer_t *sa;
    const ek_resource_t *sa_res;
} sac_t;

static void on_ns_add(json_t *ns, void *data)
{
    ctrl_enqueue_obj(((sac_t *)data)->c, ns);
}

static void on_ns_update(json_t *old, json_t *ns, void *data)
{
    EK_UNUSED(old);
    ctrl_enqueue_obj(((sac_t *)data)->c, ns);
}

static void on_sa_delete(json_t *sa, void *data)
{
    sac_t *s = data;
    if (ek_streq(ek_json_str(sa, "metadata", "name", NULL), "default")) {
        ctrl_enqueue(s->c, ek_json_str(sa, "metadata", "namespace", NULL));
    }
}

static void sync_ns(ctrl_t *c, const char *key, void *data)
{
    sac_t *s = data;
    json_t *ns = ek_informer_get(s->ns, NULL, key);
    if (!ns_is_active(ns) || ek_informer_get(s->sa, key, "default")) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    json_t *sa = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "ServiceAccount",
                           "metadata", "name", "default", "namespace", key);
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_create(ctrl_manager(c)->client, s->sa_res, key, sa, pending_call_done, p);
    json_decref(sa);
    pending_arm(p);
}

void serviceaccount_controller_start(ctrl_manager_t *m)
{
    sac_t *s = ek_new(sac_t);
    s->sa_res = res_of("", "v1", "serviceaccounts");
    s->ns = mgr_informer(m, "", "v1", "namespaces");
    s->sa = mgr_informer(m, "", "v1", "serviceaccounts");
    s->c = ctrl_new(m, "serviceaccount", sync_ns, s, 2);
    static const ek_informer_handlers_t ns_h = { on_ns_add, on_ns_update, NULL, NULL };
    static const ek_informer_handlers_t sa_h = { NULL, NULL, on_sa_delete, NULL };
    ek_informer_add_handlers(s->ns, &ns_h, s);
    ek_informer_add_handlers(s->sa, &sa_h, s);
    mgr_own(m, s, free);
}
