/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node passwords follow their Node, as k3s's do: when a Node is deleted, the Secret
 * kube-system/<node>.node-password.edgek that the API server recorded at its first join
 * (noderestriction.c) goes too, so another agent may then join under that name. Only deletions
 * count: a node's password is recorded before its kubelet registers the Node.
 */
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

typedef struct nodepw {
    ctrl_t *c;
    ek_informer_t *nodes;
} nodepw_t;

static void sync_node(ctrl_t *c, const char *key, void *data)
{
    nodepw_t *s = data;
    if (ek_informer_get(s->nodes, NULL, key)) {
        ctrl_done(c, key, SYNC_OK); /* registered again meanwhile: the password stays */
        return;
    }
    ek_autofree char *name = ek_xasprintf("%s.node-password.edgek", key);
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_delete(ctrl_manager(c)->client, res_of("", "v1", "secrets"), "kube-system", name, NULL,
                  pending_call_done, p);
    pending_arm(p);
}

static void on_node_delete(json_t *node, void *data)
{
    nodepw_t *s = data;
    ctrl_enqueue_obj(s->c, node);
}

void nodepassword_controller_start(ctrl_manager_t *m)
{
    nodepw_t *s = ek_new(nodepw_t);
    s->nodes = mgr_informer(m, "", "v1", "nodes");
    s->c = ctrl_new(m, "nodepassword", sync_node, s, 1);
    static const ek_informer_handlers_t h = { .on_delete = on_node_delete };
    ek_informer_add_handlers(s->nodes, &h, s);
    mgr_own(m, s, free);
}
