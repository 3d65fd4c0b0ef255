/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's cluster DNS server (net/dns), a node service of the agent: it runs on the agent's
 * loop, is fed by the agent's informers (Namespaces, Services, EndpointSlices: no API request
 * per lookup), forwards names outside the cluster domain to the host's resolvers and listens on
 * the pod bridge's gateway address, port 53, once the pod network is up. The pod network's
 * table steers the cluster DNS address (10.43.0.10:53) there (net/podnet), so every query a pod
 * sends is answered on its own node.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "node/kubelet-internal.h"

char *ek__kl_host_resolv_path(const char *path)
{
    if (path && *path) {
        return ek_xstrdup(path);
    }
    /* systemd-resolved's stub (127.0.0.53) is the host's own: pods cannot reach it, and the
     * file it keeps next to it lists the real upstreams (the kubelet's and k3s's choice). */
    static const char *const sd = "/run/systemd/resolve/resolv.conf";
    ek_autofree char *text = ek_file_read("/etc/resolv.conf", 1 << 20, NULL, NULL);
    bool only_loop = false;
    for (const char *l = text ? strstr(text, "nameserver") : NULL; l;
         l = strstr(l + 1, "\nnameserver")) {
        const char *a = l + (*l == '\n') + strlen("nameserver");
        a += strspn(a, " \t");
        if (strncmp(a, "127.", 4) != 0) {
            only_loop = false;
            break;
        }
        only_loop = true;
    }
    return ek_xstrdup(only_loop && ek_path_exists(sd) ? sd : "/etc/resolv.conf");
}

/* The resolv.conf's nameservers, less the cluster DNS address itself (a host pointed at its
 * own cluster would loop queries back here). */
static void upstreams(ek_kubelet_t *kl, ek_strlist_t *out)
{
    ek_strlist_t all = { 0 };
    ek_error_t *err = NULL;
    if (ek_dns_resolv_conf(kl->resolv_path, &all, &err) < 0) {
        EK_LOG(EK_WARN, "dns", "no upstream resolvers path=%s err=\"%s\"", kl->resolv_path,
               ek_error_msg(err));
        ek_error_free(err);
    }
    ek_autofree char *self = ek_xasprintf("%s:53", kl->cluster_dns);
    for (size_t i = 0; i < all.n; i++) {
        if (strcmp(all.v[i], self) != 0) {
            ek_strlist_add(out, all.v[i]);
        }
    }
    ek_strlist_free(&all);
}

int ek__kl_dns_start(ek_kubelet_t *kl, ek_error_t **err)
{
    ek_strlist_t up = { 0 }, ns_ips = { 0 };
    upstreams(kl, &up);
    ek_strlist_add(&ns_ips, kl->cluster_dns);
    ek_dns_config_t cfg = { .domain = kl->cluster_domain, .upstreams = &up, .ns_ips = &ns_ips };
    kl->dns = ek_dns_new(kl->loop, &cfg, err);
    ek_strlist_free(&ns_ips);
    if (!kl->dns) {
        ek_strlist_free(&up);
        return ek_error_wrap(err, "cluster DNS");
    }
    ek_informer_add_handlers(kl->namespaces, &ek_dns_namespace_handlers, kl->dns);
    ek_informer_add_handlers(kl->services, &ek_dns_service_handlers, kl->dns);
    ek_informer_add_handlers(kl->slices, &ek_dns_endpointslice_handlers, kl->dns);
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < up.n; i++) {
        ek_buf_printf(&b, "%s%s", i ? "," : "", up.v[i]);
    }
    ek_autofree char *list = up.n ? ek_buf_steal(&b, NULL) : ek_xstrdup("none");
    ek_buf_free(&b);
    EK_LOG(EK_INFO, "dns", "cluster DNS started domain=%s upstreams=%s resolv_conf=%s",
           kl->cluster_domain, list, kl->resolv_path);
    ek_strlist_free(&up);
    if (kl->net_ready && kl->net) {
        ek__kl_dns_net_ready(kl, ek_podnet_gateway(kl->net));
    }
    return 0;
}

void ek__kl_dns_net_ready(ek_kubelet_t *kl, struct in_addr gateway)
{
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &gateway, ip, sizeof(ip));
    ek_autofree char *addr = ek_xasprintf("%s:53", ip);
    if (!kl->dns || kl->stopping || ek_streq(addr, kl->dns_addr)) {
        return;
    }
    /* A podCIDR that changes leaves the old listener (its address is gone with the old
     * subnet); the table's rule now leads to the new one. */
    ek_error_t *err = NULL;
    if (ek_dns_listen(kl->dns, addr, &err) < 0) {
        EK_LOG(EK_WARN, "dns", "cluster DNS cannot listen addr=%s err=\"%s\"", addr,
               ek_error_msg(err));
        ek_error_free(err);
        return;
    }
    free(kl->dns_addr);
    kl->dns_addr = ek_steal(&addr);
    EK_LOG(EK_INFO, "dns", "cluster DNS listening addr=%s cluster_dns=%s", kl->dns_addr,
           kl->cluster_dns);
}

static void dns_closed(void *data)
{
    ek_kubelet_t *kl = data;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_dns_stop(ek_kubelet_t *kl)
{
    if (!kl->dns) {
        return;
    }
    /* The informers go right after this (ek_agent_stop): no event reaches the server again. */
    kl->closing++;
    ek_dns_close(kl->dns, dns_closed, kl);
    kl->dns = NULL;
}
