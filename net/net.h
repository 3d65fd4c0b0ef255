/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net/: podnet/ (bridge, veth, IPAM, routes, VXLAN), proxy/ (nftables Service/NodePort
 * proxy), dns/, ingress/, policy/. This is the part's one public header.
 */
#ifndef EK_NET_NET_H
#define EK_NET_NET_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- netlink and nftables plumbing, pod network (net/podnet) ---- */

/* ---- service proxy (net/proxy) ---- */

/* ---- cluster DNS (net/dns) ---- */

/*
 * The cluster DNS server every agent runs on its loop: it answers the cluster domain from an
 * index the agent feeds with informer events (Kubernetes DNS specification 1.1.0, as CoreDNS's
 * kubernetes plugin answers it with `pods insecure`), and forwards every other name to the
 * host's upstream resolvers through a small cache. UDP and TCP; EDNS0 payload sizes; answers
 * over UDP beyond the client's size are truncated with TC set.
 *
 * Everything here is for the loop thread only. The upsert/delete functions take the objects an
 * informer delivers (borrowed, not kept: the server copies the few fields it needs).
 */
typedef struct ek_dns ek_dns_t;

typedef struct ek_dns_config {
    const char *domain;            /* cluster domain; NULL: "cluster.local" */
    uint32_t ttl;                  /* TTL of cluster answers in s; 0: 5 (CoreDNS's default) */
    const ek_strlist_t *upstreams; /* "IP", "IP:PORT" or "[IPv6]:PORT"; NULL/empty: none, so
                                      names outside the cluster get SERVFAIL at once */
    uint32_t upstream_timeout_ms;  /* per upstream try; 0: 2000 */
    size_t cache_entries;          /* forwarded answers kept; 0: 4096 */
    size_t cache_bytes;            /* and their bytes; 0: 4 MiB */
    uint32_t cache_max_ttl;        /* cap on the TTL of cached answers in s; 0: 30 (k3s's
                                      `cache 30`) */
    const ek_strlist_t *ns_ips;    /* addresses of the domain's NS name (ns.dns.<domain>),
                                      usually the cluster DNS service IP; may be NULL */
} ek_dns_config_t;

/* A server with no listener yet. Caller owns it; free with ek_dns_close. */
ek_dns_t *ek_dns_new(uv_loop_t *loop, const ek_dns_config_t *cfg, ek_error_t **err);
/* Adds a UDP and a TCP listener on "IP:PORT" or "[IPv6]:PORT" (e.g. "10.43.0.10:53"). */
int ek_dns_listen(ek_dns_t *d, const char *addr, ek_error_t **err);
/* The port a listener got (for "IP:0"), by the order of ek_dns_listen calls; 0 if none. */
int ek_dns_listen_port(const ek_dns_t *d, size_t idx);
/*
 * Closes the listeners and every pending query, then frees d and calls done (if not NULL)
 * from the loop once all its handles are closed.
 */
void ek_dns_close(ek_dns_t *d, void (*done)(void *data), void *data);

/*
 * The nameservers of a resolv.conf (`nameserver` lines, as glibc reads them) appended to out
 * as "IP:53" / "[IPv6]:53" strings. A file without any is not an error (out stays empty).
 */
int ek_dns_resolv_conf(const char *path, ek_strlist_t *out, ek_error_t **err);

/* Informer events. Upserts fail (400) only for objects without name/namespace. */
int ek_dns_namespace_upsert(ek_dns_t *d, const json_t *ns, ek_error_t **err);
void ek_dns_namespace_delete(ek_dns_t *d, const json_t *ns);
int ek_dns_service_upsert(ek_dns_t *d, const json_t *svc, ek_error_t **err);
void ek_dns_service_delete(ek_dns_t *d, const json_t *svc);
int ek_dns_endpointslice_upsert(ek_dns_t *d, const json_t *slice, ek_error_t **err);
void ek_dns_endpointslice_delete(ek_dns_t *d, const json_t *slice);
int ek_dns_pod_upsert(ek_dns_t *d, const json_t *pod, ek_error_t **err);
void ek_dns_pod_delete(ek_dns_t *d, const json_t *pod);
/* Dispatches on the object's kind (Namespace, Service, EndpointSlice, Pod; others ignored). */
int ek_dns_object_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err);

/*
 * Informer handler sets that keep the index current: add them to the agent's informers for
 * Namespaces, Services, EndpointSlices (discovery.k8s.io/v1) and Pods, with the server as the
 * data pointer: `ek_informer_add_handlers(inf, &ek_dns_service_handlers, d)`. The Pod informer
 * is optional: only PTR answers for pod IPs outside any endpoint, and endpoints whose slice has
 * no hostname, use it. A malformed object is logged (component "dns") and skipped.
 */
extern const ek_informer_handlers_t ek_dns_namespace_handlers;
extern const ek_informer_handlers_t ek_dns_service_handlers;
extern const ek_informer_handlers_t ek_dns_endpointslice_handlers;
extern const ek_informer_handlers_t ek_dns_pod_handlers;

typedef struct ek_dns_stats {
    uint64_t queries;    /* messages that parsed as queries */
    uint64_t cluster;    /* answered from the index */
    uint64_t forwarded;  /* sent upstream (after coalescing) */
    uint64_t cache_hits; /* answered from the cache */
    uint64_t servfail;   /* SERVFAIL because no upstream answered */
    uint64_t errors;     /* FORMERR/NOTIMP/REFUSED answers and dropped messages */
    uint64_t truncated;  /* UDP answers sent with TC */
    size_t cache_entries;
    size_t pending; /* questions waiting for an upstream */
} ek_dns_stats_t;

void ek_dns_get_stats(const ek_dns_t *d, ek_dns_stats_t *st);

#endif
