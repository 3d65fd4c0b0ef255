/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's service proxy (net/proxy), a node service next to the kubelet: fed by the
 * agent's Services and EndpointSlices informers (shared with the kubelet and the cluster DNS),
 * it starts its first full sync once both have listed, so the first ruleset is complete.
 * NodePorts and LoadBalancer ingress answer on the node's addresses: its Node object's
 * InternalIP and ExternalIP addresses as the node informer sees them (at first --node-ip, else
 * the detected address). /metrics (sync count, sync duration histogram, rules) is served over plain
 * HTTP on --proxy-metrics-bind-address, kube-proxy's 127.0.0.1:10249 by default; a busy port
 * is logged, not fatal (the rules matter more than their figures).
 */
#include <stdio.h>

#include "net/net.h"
#include "node/kubelet-internal.h"

static void on_list_synced(void *data)
{
    ek_kubelet_t *kl = data;
    if (kl->proxy && ++kl->proxy_lists == 2) {
        ek_proxy_start(kl->proxy);
    }
}

/* The Node's addresses changed: NodePorts follow (the proxy ignores an unchanged list). */
static void on_node(json_t *node, void *data)
{
    ek_kubelet_t *kl = data;
    if (!kl->proxy) {
        return;
    }
    ek_strlist_t ips = { 0 };
    size_t i;
    json_t *a;
    json_array_foreach (ek_json_path(node, "status", "addresses", NULL), i, a) {
        const char *type = ek_json_str(a, "type", NULL);
        const char *ip = ek_json_str(a, "address", NULL);
        if (ip && (ek_streq(type, "InternalIP") || ek_streq(type, "ExternalIP"))) {
            ek_strlist_add(&ips, ip);
        }
    }
    ek_error_t *err = NULL;
    if (ips.n && ek_proxy_set_node_ips(kl->proxy, &ips, &err) < 0) {
        EK_LOG(EK_WARN, "proxy", "node addresses not taken err=\"%s\"", ek_error_msg(err));
        ek_error_free(err);
    }
    ek_strlist_free(&ips);
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    EK_UNUSED(old);
    on_node(node, data);
}

static void on_metrics(ek_http_req_t *req, void *data)
{
    ek_kubelet_t *kl = data;
    if (strcmp(req->path, "/metrics") != 0) {
        ek_http_respond(req, 404, "text/plain", "404 page not found\n", 19);
        return;
    }
    if (!kl->proxy) {
        ek_http_respond(req, 503, "text/plain", "the proxy is stopping\n", 22);
        return;
    }
    ek_buf_t body = EK_BUF_INIT;
    ek_proxy_metrics(kl->proxy, &body);
    ek_http_respond_buf(req, 200, "text/plain; version=0.0.4", &body);
}

static void start_metrics(ek_kubelet_t *kl, const char *addr)
{
    char host[64];
    int port;
    if (sscanf(addr, "%63[^:]:%d", host, &port) != 2 || port < 0 || port > 65535) {
        EK_LOG(EK_WARN, "proxy", "metrics off: bad --proxy-metrics-bind-address addr=%s", addr);
        return;
    }
    ek_http_server_options_t ho = { .host = host, .port = port, .handler = on_metrics, .data = kl };
    ek_error_t *err = NULL;
    if (ek_http_server_start(kl->loop, &ho, &kl->proxy_http, &err) < 0) {
        EK_LOG(EK_WARN, "proxy", "metrics off addr=%s err=\"%s\"", addr, ek_error_msg(err));
        ek_error_free(err);
        kl->proxy_http = NULL;
    }
}

int ek__kl_proxy_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err)
{
    if (o->disable_proxy) {
        EK_LOG(EK_INFO, "proxy", "service proxy disabled");
        return 0;
    }
    ek_strlist_t ips = { 0 };
    for (size_t i = 0; i < kl->node_ips.n; i++) {
        ek_strlist_add(&ips, kl->node_ips.v[i]);
    }
    if (ips.n == 0) {
        ek_strlist_add(&ips, kl->node_ip);
    }
    ek_proxy_config_t cfg = {
        .node_name = kl->node_name,
        .node_ips = &ips,
        .cluster_cidr = kl->cluster_cidr,
        .service_cidr = o->service_cidr ? o->service_cidr : "10.43.0.0/16",
        .netns_fd = -1,
    };
    kl->proxy = ek_proxy_new(kl->loop, &cfg, err);
    ek_strlist_free(&ips);
    if (!kl->proxy) {
        return -1;
    }
    static const ek_informer_handlers_t synced = { NULL, NULL, NULL, on_list_synced };
    ek_informer_add_handlers(kl->services, &ek_proxy_service_handlers, kl->proxy);
    ek_informer_add_handlers(kl->services, &synced, kl);
    ek_informer_add_handlers(kl->slices, &ek_proxy_endpointslice_handlers, kl->proxy);
    ek_informer_add_handlers(kl->slices, &synced, kl);
    static const ek_informer_handlers_t node_h = { .on_add = on_node, .on_update = on_node_update };
    ek_informer_add_handlers(kl->node, &node_h, kl);
    const char *addr = o->proxy_metrics_addr ? o->proxy_metrics_addr : "127.0.0.1:10249";
    if (*addr) {
        start_metrics(kl, addr);
    }
    return 0;
}

static void proxy_part_closed(void *data)
{
    ek_kubelet_t *kl = data;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_proxy_stop(ek_kubelet_t *kl)
{
    if (kl->proxy_http) {
        kl->closing++;
        ek_http_server_close(kl->proxy_http, proxy_part_closed, kl);
        kl->proxy_http = NULL;
    }
    /* The informers are freed right after (ek_agent_stop): nothing feeds the proxy again. */
    if (kl->proxy) {
        kl->closing++;
        ek_proxy_close(kl->proxy, proxy_part_closed, kl);
        kl->proxy = NULL;
    }
}
