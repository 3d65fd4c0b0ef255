/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster DNS's own index of what the agent's informers deliver: Namespaces, Services,
 * EndpointSlices and Pods reduced to the few fields DNS answers need, keyed the way queries
 * look them up ("svc.ns" for a service name), so answering never touches JSON.
 *
 * A service name leads to a bucket holding the Service and its EndpointSlices; either may
 * arrive first, and the bucket goes away when both are gone. Only ready endpoints are kept
 * (CoreDNS serves ready ones only; with publishNotReadyAddresses the EndpointSlice controller
 * marks every endpoint ready). The reverse map for PTR queries is rebuilt on the first PTR
 * query after a change: changes come in bursts from informers, PTR queries are rare, and a
 * rebuild is linear in the index.
 */
#include <time.h>

#include "net/dns/dns-internal.h"

void ek__dns_index_init(ek__dns_index_t *ix)
{
    memset(ix, 0, sizeof(*ix));
    ix->serial = (uint32_t)time(NULL);
}

static void touch(ek__dns_index_t *ix)
{
    ix->rev_dirty = true;
    uint32_t now = (uint32_t)time(NULL);
    ix->serial = now > ix->serial ? now : ix->serial + 1; /* SOA serials only go up */
}

static char *lower_dup(const char *s)
{
    char *r = ek_xstrdup(s ? s : "");
    for (char *p = r; *p; p++) {
        *p = (char)ek__dns_lower((uint8_t)*p);
    }
    return r;
}

static void free_ports(ek__dns_port_t *ports, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ports[i].name);
    }
    free(ports);
}

static uint8_t proto_parse(const char *p)
{
    if (!p || strcasecmp(p, "TCP") == 0) {
        return EK__DNS_PROTO_TCP; /* the API's default */
    }
    if (strcasecmp(p, "UDP") == 0) {
        return EK__DNS_PROTO_UDP;
    }
    return strcasecmp(p, "SCTP") == 0 ? EK__DNS_PROTO_SCTP : EK__DNS_PROTO_OTHER;
}

/* ports[] of a Service spec or an EndpointSlice; an absent port number is -1. */
static ek__dns_port_t *ports_parse(const json_t *arr, size_t *n)
{
    *n = json_is_array(arr) ? json_array_size(arr) : 0;
    ek__dns_port_t *ports = ek_xcalloc(*n ? *n : 1, sizeof(*ports));
    for (size_t i = 0; i < *n; i++) {
        const json_t *p = json_array_get(arr, i);
        ports[i].name = lower_dup(ek_json_str(p, "name", NULL));
        long long num = ek_json_int(p, -1, "port", NULL);
        ports[i].port = num >= 0 && num <= 65535 ? (int32_t)num : -1;
        ports[i].proto = proto_parse(ek_json_str(p, "protocol", NULL));
    }
    return ports;
}

static bool meta_names(const json_t *obj, const char **ns, const char **name, bool namespaced,
                       ek_error_t **err)
{
    *name = ek_json_str(obj, "metadata", "name", NULL);
    *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    if (!*name || !**name || (namespaced && (!*ns || !**ns))) {
        ek_error_status(err, 400, "object without metadata.name%s",
                        namespaced ? " and metadata.namespace" : "");
        return false;
    }
    return true;
}

/* ---- buckets ---- */

static char *bucket_key(const char *svc, const char *ns)
{
    char *k = ek_xasprintf("%s.%s", svc, ns);
    for (char *p = k; *p; p++) {
        *p = (char)ek__dns_lower((uint8_t)*p);
    }
    return k;
}

ek__dns_bucket_t *ek__dns_index_bucket(ek__dns_index_t *ix, const char *key)
{
    return ek_map_get(&ix->buckets, key);
}

static ek__dns_bucket_t *bucket_ensure(ek__dns_index_t *ix, const char *key)
{
    ek__dns_bucket_t *b = ek_map_get(&ix->buckets, key);
    if (!b) {
        b = ek_new(ek__dns_bucket_t);
        ek_map_put(&ix->buckets, key, b);
    }
    return b;
}

static void bucket_gc(ek__dns_index_t *ix, const char *key)
{
    ek__dns_bucket_t *b = ek_map_get(&ix->buckets, key);
    if (b && !b->svc && !b->slices) {
        ek_map_del(&ix->buckets, key);
        free(b);
    }
}

/* ---- namespaces ---- */

bool ek__dns_index_has_ns(ek__dns_index_t *ix, const char *ns)
{
    return ek_map_get(&ix->namespaces, ns) != NULL;
}

int ek_dns_namespace_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err)
{
    const char *ns, *name;
    if (!meta_names(obj, &ns, &name, false, err)) {
        return -1;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    if (!ek_map_get(&ix->namespaces, name)) {
        ek_map_put(&ix->namespaces, name, (void *)1);
        touch(ix);
    }
    return 0;
}

void ek_dns_namespace_delete(ek_dns_t *d, const json_t *obj)
{
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    ek__dns_index_t *ix = ek__dns_index(d);
    if (name && ek_map_del(&ix->namespaces, name)) {
        touch(ix);
    }
}

/* ---- services ---- */

static void svc_free(ek__dns_svc_t *s)
{
    if (!s) {
        return;
    }
    free(s->ns);
    free(s->name);
    free_ports(s->ports, s->nports);
    free(s);
}

static void svc_ips(ek__dns_svc_t *s, const json_t *spec)
{
    const json_t *ips = ek_json_path(spec, "clusterIPs", NULL);
    size_t n = json_is_array(ips) ? json_array_size(ips) : 0;
    for (size_t i = 0; i < n && s->nips < 2; i++) {
        if (ek__dns_ip_parse(json_string_value(json_array_get(ips, i)), &s->ips[s->nips]) == 0) {
            s->nips++;
        }
    }
    if (s->nips == 0 &&
        ek__dns_ip_parse(ek_json_str(spec, "clusterIP", NULL), &s->ips[s->nips]) == 0) {
        s->nips++;
    }
}

static ek__dns_svc_t *svc_parse(const json_t *obj, const char *ns, const char *name)
{
    ek__dns_svc_t *s = ek_new(ek__dns_svc_t);
    s->ns = lower_dup(ns);
    s->name = lower_dup(name);
    const json_t *spec = ek_json_path(obj, "spec", NULL);
    const char *type = ek_json_str(spec, "type", NULL);
    const char *cip = ek_json_str(spec, "clusterIP", NULL);
    if (ek_streq(type, "ExternalName")) {
        s->kind = EK__DNS_SVC_EXTERNAL;
        const char *ext = ek_json_str(spec, "externalName", NULL);
        ek__dns_ip_t ip;
        s->ext_is_ip = ext && ek__dns_ip_parse(ext, &ip) == 0;
        if (!ext || ek__dns_name_from_text(&s->ext, ext) < 0) {
            s->ext.len = 0;
        }
        for (unsigned i = 0; i + 1 < s->ext.len; i++) {
            s->ext.wire[i] = ek__dns_lower(s->ext.wire[i]);
        }
    } else if (ek_streq(cip, "None")) {
        s->kind = EK__DNS_SVC_HEADLESS;
    } else {
        s->kind = EK__DNS_SVC_CLUSTERIP;
        svc_ips(s, spec);
    }
    s->ports = ports_parse(ek_json_path(spec, "ports", NULL), &s->nports);
    return s;
}

int ek_dns_service_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err)
{
    const char *ns, *name;
    if (!meta_names(obj, &ns, &name, true, err)) {
        return -1;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = bucket_key(name, ns);
    ek__dns_bucket_t *b = bucket_ensure(ix, key);
    svc_free(b->svc);
    b->svc = svc_parse(obj, ns, name);
    touch(ix);
    return 0;
}

void ek_dns_service_delete(ek_dns_t *d, const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!ns || !name) {
        return;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = bucket_key(name, ns);
    ek__dns_bucket_t *b = ek_map_get(&ix->buckets, key);
    if (b && b->svc) {
        svc_free(b->svc);
        b->svc = NULL;
        bucket_gc(ix, key);
        touch(ix);
    }
}

/* ---- endpoint slices ---- */

static void slice_free(ek__dns_slice_t *s)
{
    for (size_t i = 0; i < s->neps; i++) {
        free(s->eps[i].hostname);
        free(s->eps[i].pod);
    }
    free(s->eps);
    free_ports(s->ports, s->nports);
    free(s->key);
    free(s->svc_key);
    free(s);
}

/* Ready (or unknown, which consumers read as ready) endpoints, one entry per address. */
static void slice_endpoints(ek__dns_slice_t *s, const json_t *eps)
{
    size_t cap = 0;
    for (size_t i = 0; json_is_array(eps) && i < json_array_size(eps); i++) {
        const json_t *e = json_array_get(eps, i);
        if (!ek_json_bool(e, 1, "conditions", "ready", NULL)) {
            continue;
        }
        const char *host = ek_json_str(e, "hostname", NULL);
        const char *kind = ek_json_str(e, "targetRef", "kind", NULL);
        const char *pod = ek_json_str(e, "targetRef", "name", NULL);
        const json_t *addrs = ek_json_path(e, "addresses", NULL);
        for (size_t j = 0; json_is_array(addrs) && j < json_array_size(addrs); j++) {
            ek__dns_ip_t ip;
            if (ek__dns_ip_parse(json_string_value(json_array_get(addrs, j)), &ip) < 0) {
                continue;
            }
            if (s->neps == cap) {
                cap = cap ? cap * 2 : 4;
                s->eps = ek_xrealloc(s->eps, cap * sizeof(*s->eps));
            }
            ek__dns_ep_t *ep = &s->eps[s->neps++];
            ep->ip = ip;
            ep->hostname = host && *host ? lower_dup(host) : NULL;
            ep->pod = pod && (!kind || ek_streq(kind, "Pod")) ? ek_xstrdup(pod) : NULL;
        }
    }
}

static void slice_unlink(ek__dns_index_t *ix, ek__dns_slice_t *s)
{
    if (!s->svc_key) {
        return;
    }
    ek__dns_bucket_t *b = ek_map_get(&ix->buckets, s->svc_key);
    for (ek__dns_slice_t **pp = b ? &b->slices : NULL; pp && *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    bucket_gc(ix, s->svc_key);
}

int ek_dns_endpointslice_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err)
{
    const char *ns, *name;
    if (!meta_names(obj, &ns, &name, true, err)) {
        return -1;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    ek__dns_slice_t *old = ek_map_del(&ix->slices, key);
    if (old) {
        slice_unlink(ix, old);
        slice_free(old);
    }
    ek__dns_slice_t *s = ek_new(ek__dns_slice_t);
    s->key = ek_steal(&key);
    const char *svc = ek_json_str(obj, "metadata", "labels", "kubernetes.io/service-name", NULL);
    const char *atype = ek_json_str(obj, "addressType", NULL);
    s->ports = ports_parse(ek_json_path(obj, "ports", NULL), &s->nports);
    if (!ek_streq(atype, "FQDN")) {
        slice_endpoints(s, ek_json_path(obj, "endpoints", NULL));
    }
    ek_map_put(&ix->slices, s->key, s);
    if (svc && *svc) {
        s->svc_key = bucket_key(svc, ns);
        ek__dns_bucket_t *b = bucket_ensure(ix, s->svc_key);
        s->next = b->slices;
        b->slices = s;
    }
    touch(ix);
    return 0;
}

void ek_dns_endpointslice_delete(ek_dns_t *d, const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!ns || !name) {
        return;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    ek__dns_slice_t *s = ek_map_del(&ix->slices, key);
    if (s) {
        slice_unlink(ix, s);
        slice_free(s);
        touch(ix);
    }
}

/* ---- pods ---- */

static void pod_free(ek__dns_pod_t *p)
{
    if (!p) {
        return;
    }
    free(p->ns);
    free(p->name);
    free(p->hostname);
    free(p->subdomain);
    free(p->ips);
    free(p);
}

static void pod_ips(ek__dns_pod_t *p, const json_t *status)
{
    const json_t *ips = ek_json_path(status, "podIPs", NULL);
    size_t n = json_is_array(ips) ? json_array_size(ips) : 0;
    p->ips = ek_xcalloc(n + 1, sizeof(*p->ips));
    for (size_t i = 0; i < n; i++) {
        const char *s = ek_json_str(json_array_get(ips, i), "ip", NULL);
        if (ek__dns_ip_parse(s, &p->ips[p->nips]) == 0) {
            p->nips++;
        }
    }
    if (p->nips == 0 && ek__dns_ip_parse(ek_json_str(status, "podIP", NULL), &p->ips[0]) == 0) {
        p->nips = 1;
    }
}

const ek__dns_pod_t *ek__dns_index_pod(ek__dns_index_t *ix, const char *ns, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    return ek_map_get(&ix->pods, key);
}

int ek_dns_pod_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err)
{
    const char *ns, *name;
    if (!meta_names(obj, &ns, &name, true, err)) {
        return -1;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    ek__dns_pod_t *p = ek_new(ek__dns_pod_t);
    p->ns = lower_dup(ns);
    p->name = ek_xstrdup(name);
    const char *h = ek_json_str(obj, "spec", "hostname", NULL);
    const char *sd = ek_json_str(obj, "spec", "subdomain", NULL);
    p->hostname = h && *h ? lower_dup(h) : NULL;
    p->subdomain = sd && *sd ? lower_dup(sd) : NULL;
    const char *phase = ek_json_str(obj, "status", "phase", NULL);
    /* A host-network pod's address is the node's; a finished pod's address is free for reuse.
     * Neither may name the pod in a PTR answer. */
    if (!ek_json_bool(obj, 0, "spec", "hostNetwork", NULL) && !ek_streq(phase, "Succeeded") &&
        !ek_streq(phase, "Failed")) {
        pod_ips(p, ek_json_path(obj, "status", NULL));
    }
    pod_free(ek_map_put(&ix->pods, key, p));
    touch(ix);
    return 0;
}

void ek_dns_pod_delete(ek_dns_t *d, const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (!ns || !name) {
        return;
    }
    ek__dns_index_t *ix = ek__dns_index(d);
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    ek__dns_pod_t *p = ek_map_del(&ix->pods, key);
    if (p) {
        pod_free(p);
        touch(ix);
    }
}

const char *ek__dns_ep_label(ek__dns_index_t *ix, const char *ns, const char *svc,
                             const ek__dns_ep_t *ep, char *buf, size_t cap)
{
    if (ep->hostname) {
        return ep->hostname;
    }
    if (ep->pod) {
        const ek__dns_pod_t *p = ek__dns_index_pod(ix, ns, ep->pod);
        if (p && p->hostname && ek_streq(p->subdomain, svc)) {
            return p->hostname;
        }
    }
    ek__dns_ip_text(&ep->ip, buf, cap);
    for (char *c = buf; *c; c++) {
        if (*c == '.' || *c == ':') {
            *c = '-';
        }
    }
    return buf;
}

/* ---- reverse map ---- */

static void rev_free_all(ek__dns_index_t *ix)
{
    const char *k;
    void *v;
    for (size_t i = 0; ek_map_next(&ix->rev, &i, &k, &v);) {
        ek__dns_rev_t *r = v;
        free(r->eps);
        free(r);
    }
    ek_map_free(&ix->rev);
}

static ek__dns_rev_t *rev_at(ek__dns_index_t *ix, const ek__dns_ip_t *ip)
{
    char text[64];
    ek__dns_ip_text(ip, text, sizeof(text));
    ek__dns_rev_t *r = ek_map_get(&ix->rev, text);
    if (!r) {
        r = ek_new(ek__dns_rev_t);
        ek_map_put(&ix->rev, text, r);
    }
    return r;
}

static void rev_add_bucket(ek__dns_index_t *ix, const char *key, ek__dns_bucket_t *b)
{
    const ek__dns_svc_t *s = b->svc;
    for (unsigned i = 0; s && s->kind == EK__DNS_SVC_CLUSTERIP && i < s->nips; i++) {
        ek__dns_rev_t *r = rev_at(ix, &s->ips[i]);
        if (!r->svc) {
            r->svc = s;
        }
    }
    for (ek__dns_slice_t *sl = b->slices; sl; sl = sl->next) {
        for (size_t i = 0; i < sl->neps; i++) {
            ek__dns_rev_t *r = rev_at(ix, &sl->eps[i].ip);
            r->eps = ek_xrealloc(r->eps, (r->neps + 1) * sizeof(*r->eps));
            r->eps[r->neps].bucket_key = key;
            r->eps[r->neps].ep = &sl->eps[i];
            r->neps++;
        }
    }
}

static void rev_rebuild(ek__dns_index_t *ix)
{
    rev_free_all(ix);
    const char *k;
    void *v;
    for (size_t i = 0; ek_map_next(&ix->buckets, &i, &k, &v);) {
        rev_add_bucket(ix, k, v);
    }
    for (size_t i = 0; ek_map_next(&ix->pods, &i, &k, &v);) {
        const ek__dns_pod_t *p = v;
        for (size_t j = 0; j < p->nips; j++) {
            ek__dns_rev_t *r = rev_at(ix, &p->ips[j]);
            if (!r->pod) {
                r->pod = p;
            }
        }
    }
    ix->rev_dirty = false;
}

const ek__dns_rev_t *ek__dns_index_rev(ek__dns_index_t *ix, const ek__dns_ip_t *ip)
{
    if (ix->rev_dirty) {
        rev_rebuild(ix);
    }
    char text[64];
    ek__dns_ip_text(ip, text, sizeof(text));
    return ek_map_get(&ix->rev, text);
}

void ek__dns_index_free(ek__dns_index_t *ix)
{
    rev_free_all(ix);
    const char *k;
    void *v;
    for (size_t i = 0; ek_map_next(&ix->slices, &i, &k, &v);) {
        slice_free(v);
    }
    for (size_t i = 0; ek_map_next(&ix->buckets, &i, &k, &v);) {
        ek__dns_bucket_t *b = v;
        svc_free(b->svc);
        free(b);
    }
    for (size_t i = 0; ek_map_next(&ix->pods, &i, &k, &v);) {
        pod_free(v);
    }
    ek_map_free(&ix->slices);
    ek_map_free(&ix->buckets);
    ek_map_free(&ix->pods);
    ek_map_free(&ix->namespaces);
}

int ek_dns_object_upsert(ek_dns_t *d, const json_t *obj, ek_error_t **err)
{
    const char *kind = ek_json_str(obj, "kind", NULL);
    if (ek_streq(kind, "Namespace")) {
        return ek_dns_namespace_upsert(d, obj, err);
    }
    if (ek_streq(kind, "Service")) {
        return ek_dns_service_upsert(d, obj, err);
    }
    if (ek_streq(kind, "EndpointSlice")) {
        return ek_dns_endpointslice_upsert(d, obj, err);
    }
    if (ek_streq(kind, "Pod")) {
        return ek_dns_pod_upsert(d, obj, err);
    }
    return 0;
}

/* ---- informer handlers ---- */

static void upsert_logged(ek_dns_t *d, const json_t *obj,
                          int (*fn)(ek_dns_t *, const json_t *, ek_error_t **))
{
    ek_error_t *err = NULL;
    if (fn(d, obj, &err) < 0) {
        EK_LOG(EK_WARN, "dns", "object skipped err=\"%s\"", ek_error_msg(err));
        ek_error_free(err);
    }
}

/* on_add/on_update/on_delete for one kind, bound to its upsert and delete functions. */
#define DNS_HANDLERS(kind)                                                                     \
    static void kind##_on_add(json_t *obj, void *data)                                         \
    {                                                                                          \
        upsert_logged(data, obj, ek_dns_##kind##_upsert);                                      \
    }                                                                                          \
    static void kind##_on_update(json_t *old_obj, json_t *new_obj, void *data)                 \
    {                                                                                          \
        upsert_logged(data, new_obj, ek_dns_##kind##_upsert);                                  \
    }                                                                                          \
    static void kind##_on_delete(json_t *obj, void *data)                                      \
    {                                                                                          \
        ek_dns_##kind##_delete(data, obj);                                                     \
    }                                                                                          \
    const ek_informer_handlers_t ek_dns_##kind##_handlers = { kind##_on_add, kind##_on_update, \
                                                              kind##_on_delete, NULL };

DNS_HANDLERS(namespace)
DNS_HANDLERS(service)
DNS_HANDLERS(endpointslice)
DNS_HANDLERS(pod)
