/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node IPAM: gives every Node a /24 of the cluster CIDR in spec.podCIDR(s), as
 * kube-controller-manager's range allocator does with --allocate-node-cidrs. The set of used
 * ranges is derived from the Nodes themselves, so a deleted node's range is free again without
 * any bookkeeping of our own.
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

typedef struct ipam {
    ctrl_t *c;
    ek_informer_t *nodes;
    uint32_t base;    /* cluster CIDR network, host order */
    int bits;         /* cluster CIDR prefix length */
    ek_map_t assumed; /* node → range index + 1, until the informer shows it (no double use) */
} ipam_t;

struct used {
    ipam_t *s;
    uint8_t *taken; /* one byte per /24 */
    size_t n;
};

static void mark_used(json_t *node, void *data)
{
    struct used *u = data;
    const char *cidr = ek_json_str(node, "spec", "podCIDR", NULL);
    char ip[32];
    struct in_addr a;
    if (!cidr || sscanf(cidr, "%31[^/]", ip) != 1 || inet_pton(AF_INET, ip, &a) != 1) {
        return;
    }
    uint32_t off = (ntohl(a.s_addr) - u->s->base) >> 8;
    if (off < u->n) {
        u->taken[off] = 1;
    }
}

static void sync_node(ctrl_t *c, const char *key, void *data)
{
    ipam_t *s = data;
    json_t *node = ek_informer_get(s->nodes, NULL, key);
    if (!node || ek_json_str(node, "spec", "podCIDR", NULL)) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    size_t n = (size_t)1 << (24 - s->bits);
    struct used u = { s, ek_xcalloc(n, 1), n };
    ek_informer_each(s->nodes, mark_used, &u);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&s->assumed, &it, &k, &v)) {
        json_t *other = ek_informer_get(s->nodes, NULL, k);
        if (other && !ek_json_str(other, "spec", "podCIDR", NULL) && (uintptr_t)v - 1 < n) {
            u.taken[(uintptr_t)v - 1] = 1;
        }
    }
    uintptr_t prev = (uintptr_t)ek_map_get(&s->assumed, key);
    if (prev && u.taken[prev - 1]) {
        u.taken[prev - 1] = 0; /* our own earlier pick, patched but not seen yet */
    }
    size_t pick = n;
    for (size_t i = 0; i < n && pick == n; i++) {
        if (!u.taken[i]) {
            pick = i;
        }
    }
    free(u.taken);
    if (pick == n) {
        ek_event_record(ctrl_manager(c)->events, node, "Normal", "CIDRNotAvailable",
                        "Node %s status is now: CIDRNotAvailable", key);
        ctrl_done(c, key, 60000);
        return;
    }
    ek_map_put(&s->assumed, key, (void *)(uintptr_t)(pick + 1));
    struct in_addr a = { htonl(s->base + ((uint32_t)pick << 8)) };
    char cidr[40];
    inet_ntop(AF_INET, &a, cidr, sizeof(cidr));
    strcat(cidr, "/24");
    json_t *patch = json_pack("{s:{s:s,s:[s]}}", "spec", "podCIDR", cidr, "podCIDRs", cidr);
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_patch(ctrl_manager(c)->client, res_of("", "v1", "nodes"), NULL, key, EK_SUB_NONE,
                 "merge", patch, pending_call_done, p);
    json_decref(patch);
    pending_arm(p);
}

static void on_node(json_t *node, void *data)
{
    ipam_t *s = data;
    if (ek_json_str(node, "spec", "podCIDR", NULL)) {
        ek_map_del(&s->assumed, ek_json_str(node, "metadata", "name", NULL) ?: "");
    }
    ctrl_enqueue_obj(s->c, node);
}

static void on_node_delete(json_t *node, void *data)
{
    ipam_t *s = data;
    ek_map_del(&s->assumed, ek_json_str(node, "metadata", "name", NULL) ?: "");
}

static void ipam_free(void *state)
{
    ipam_t *s = state;
    ek_map_free(&s->assumed);
    free(s);
}

static void on_node_update(json_t *old, json_t *node, void *data)
{
    EK_UNUSED(old);
    on_node(node, data);
}

void nodeipam_controller_start(ctrl_manager_t *m)
{
    char ip[32];
    int bits = 0;
    struct in_addr a;
    const char *cidr = m->opts.cluster_cidr ? m->opts.cluster_cidr : "10.42.0.0/16";
    if (sscanf(cidr, "%31[^/]/%d", ip, &bits) != 2 || inet_pton(AF_INET, ip, &a) != 1 || bits < 8 ||
        bits > 24) {
        EK_LOG(EK_ERROR, "controllers",
               "node IPAM disabled: cluster CIDR %s is not an IPv4 "
               "range of /8 to /24",
               cidr);
        return;
    }
    ipam_t *s = ek_new(ipam_t);
    s->bits = bits;
    s->base = ntohl(a.s_addr) & (0xffffffffu << (32 - bits));
    s->nodes = mgr_informer(m, "", "v1", "nodes");
    s->c = ctrl_new(m, "nodeipam", sync_node, s, 1);
    static const ek_informer_handlers_t h = { on_node, on_node_update, on_node_delete, NULL };
    ek_informer_add_handlers(s->nodes, &h, s);
    mgr_own(m, s, ipam_free);
}
