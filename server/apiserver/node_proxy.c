/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Requests the API server passes on to a node's kubelet: pod logs, exec, attach,
 * port-forward and proxy. Which node serves a pod is found here; how the stream reaches the
 * node (the agent's tunnel) lives with the node connection code.
 */
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

void node_proxy(apireq_t *r)
{
    const ek_resource_t *res = r->rt.res;
    obj_t *o = store_get(&r->srv->store, res, r->rt.ns, r->rt.name);
    if (!o) {
        send_not_found(r, res, r->rt.name);
        return;
    }
    if (strcmp(res->plural, "pods") == 0) {
        const char *node = ek_json_str(o->json, "spec", "nodeName", NULL);
        if (!node || !*node) {
            send_status(r, 400, "BadRequest", NULL, NULL, "pod %s does not have a host assigned",
                        r->rt.name);
            return;
        }
        send_status(r, 503, "ServiceUnavailable", NULL, NULL,
                    "no connection to node %s: edgek does not yet route %s requests to kubelets",
                    node, ek_subresource_name(r->rt.sub));
        return;
    }
    send_status(r, 503, "ServiceUnavailable", NULL, NULL,
                "edgek does not yet route %s requests for %s", ek_subresource_name(r->rt.sub),
                res->plural);
}
