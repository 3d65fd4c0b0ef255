/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The proxy's model: Services and EndpointSlices reduced to what rules need, grouped per
 * Service in a bucket. Either may arrive first; a slice names its Service with the
 * kubernetes.io/service-name label, and may move to another one. An event that leaves the
 * reduced form unchanged (a status write the proxy does not read, an informer resync) marks
 * nothing, so it costs no sync.
 *
 * What kube-proxy reads, read the same way: IPv4 only; a Service the proxy leaves alone
 * (headless, ExternalName, labelled service.kubernetes.io/service-proxy-name) has no rules at
 * all; LoadBalancer ingress IPs with ipMode Proxy are not captured; an endpoint's first
 * address counts; conditions.ready absent means ready, serving absent means ready's value.
 */
#include <arpa/inet.h>
#include <strings.h>

#include "net/proxy/proxy-internal.h"

static uint8_t proto_parse(const char *s)
{
    if (!s || strcmp(s, "TCP") == 0) {
        return IPPROTO_TCP; /* the API's default */
    }
    if (strcmp(s, "UDP") == 0) {
        return IPPROTO_UDP;
    }
    return strcmp(s, "SCTP") == 0 ? IPPROTO_SCTP : 0;
}

const char *ek__proto_name(uint8_t proto)
{
    return proto == IPPROTO_UDP ? "udp" : proto == IPPROTO_SCTP ? "sctp" : "tcp";
}

static bool ip4(const char *s, struct in_addr *a)
{
    return s && inet_pton(AF_INET, s, a) == 1 && a->s_addr != 0;
}

void ek__psvc_free(psvc_t *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        free(s->ports[i].name);
    }
    free(s->ports);
    free(s->external_ips);
    free(s->lb_ips);
    free(s->source_ranges);
    free(s);
}

void ek__pslice_free(pslice_t *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_ports; i++) {
        free(s->ports[i].name);
    }
    free(s->name);
    free(s->ports);
    free(s->eps);
    free(s);
}

/* ---- Services ---- */

static void parse_ips(const json_t *arr, struct in_addr **out, size_t *n)
{
    *out = ek_xcalloc(json_array_size(arr) + 1, sizeof(**out));
    *n = 0;
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (ip4(json_string_value(v), &(*out)[*n])) {
            (*n)++;
        }
    }
}

static void parse_lb_ips(const json_t *svc, psvc_t *s)
{
    json_t *ing = ek_json_path(svc, "status", "loadBalancer", "ingress", NULL);
    s->lb_ips = ek_xcalloc(json_array_size(ing) + 1, sizeof(*s->lb_ips));
    size_t i;
    json_t *v;
    json_array_foreach (ing, i, v) {
        /* ipMode Proxy: the load balancer rewrites the destination; the node must not. */
        if (!ek_streq(ek_json_str(v, "ipMode", NULL), "Proxy") &&
            ip4(ek_json_str(v, "ip", NULL), &s->lb_ips[s->n_lb])) {
            s->n_lb++;
        }
    }
}

static void add_range(psvc_t *s, const char *text, size_t len)
{
    while (len && (*text == ' ')) {
        text++, len--;
    }
    while (len && text[len - 1] == ' ') {
        len--;
    }
    ek_autofree char *c = ek_xstrndup(text, len);
    pcidr_t r;
    if (ek_cidr_parse(c, &r.net, &r.prefix, NULL) == 0) {
        r.net.s_addr &= ek_cidr_mask(r.prefix);
        s->source_ranges = ek_xrealloc(s->source_ranges, (s->n_ranges + 1) * sizeof(r));
        s->source_ranges[s->n_ranges++] = r;
    }
}

static void parse_source_ranges(const json_t *svc, psvc_t *s)
{
    json_t *arr = ek_json_path(svc, "spec", "loadBalancerSourceRanges", NULL);
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (json_is_string(v)) {
            add_range(s, json_string_value(v), strlen(json_string_value(v)));
        }
    }
    if (s->n_ranges) {
        return;
    }
    /* The older annotation, used only when the field is empty (as Kubernetes does). */
    const char *ann = ek_json_str(svc, "metadata", "annotations",
                                  "service.beta.kubernetes.io/load-balancer-source-ranges", NULL);
    while (ann && *ann) {
        const char *comma = strchr(ann, ',');
        size_t len = comma ? (size_t)(comma - ann) : strlen(ann);
        add_range(s, ann, len);
        ann = comma ? comma + 1 : NULL;
    }
}

static void parse_ports(const json_t *spec, psvc_t *s, bool node_ports)
{
    json_t *ports = json_object_get(spec, "ports");
    s->ports = ek_xcalloc(json_array_size(ports) + 1, sizeof(*s->ports));
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        uint8_t proto = proto_parse(ek_json_str(p, "protocol", NULL));
        long long port = ek_json_int(p, 0, "port", NULL);
        long long np = node_ports ? ek_json_int(p, 0, "nodePort", NULL) : 0;
        if (!proto || port <= 0 || port > 65535) {
            continue;
        }
        psvc_port_t *sp = &s->ports[s->n_ports++];
        sp->name = ek_xstrdup(ek_json_str(p, "name", NULL) ?: "");
        sp->proto = proto;
        sp->port = (uint16_t)port;
        sp->node_port = np > 0 && np <= 65535 ? (uint16_t)np : 0;
    }
}

/* The reduced Service, or NULL for one the proxy leaves alone. */
static psvc_t *parse_service(const json_t *svc)
{
    if (ek_json_str(svc, "metadata", "labels", "service.kubernetes.io/service-proxy-name", NULL)) {
        return NULL;
    }
    const json_t *spec = json_object_get(svc, "spec");
    const char *type = ek_json_str(spec, "type", NULL) ?: "ClusterIP";
    const char *cip = ek_json_str(spec, "clusterIP", NULL);
    if (strcmp(type, "ExternalName") == 0 || ek_streq(cip, "None")) {
        return NULL;
    }
    psvc_t *s = ek_new(psvc_t);
    if (!ip4(cip, &s->cluster_ip)) {
        s->cluster_ip.s_addr = 0;
    }
    bool lb = strcmp(type, "LoadBalancer") == 0;
    parse_ports(spec, s, lb || strcmp(type, "NodePort") == 0);
    parse_ips(json_object_get(spec, "externalIPs"), &s->external_ips, &s->n_external);
    if (lb) {
        parse_lb_ips(svc, s);
        parse_source_ranges(svc, s);
    }
    const char *etp = ek_json_str(spec, "externalTrafficPolicy", NULL);
    s->etp_local = ek_streq(etp, "Local") || ek_streq(etp, "OnlyLocal");
    s->itp_local = ek_streq(ek_json_str(spec, "internalTrafficPolicy", NULL), "Local");
    if (ek_streq(ek_json_str(spec, "sessionAffinity", NULL), "ClientIP")) {
        long long t =
            ek_json_int(spec, 10800, "sessionAffinityConfig", "clientIP", "timeoutSeconds", NULL);
        s->affinity_s = t > 0 && t <= 86400 ? (uint32_t)t : 10800;
    }
    return s;
}

/* memcmp for arrays that may be NULL when empty. */
static bool same_bytes(const void *a, const void *b, size_t len)
{
    return len == 0 || memcmp(a, b, len) == 0;
}

static bool psvc_equal(const psvc_t *a, const psvc_t *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (a->cluster_ip.s_addr != b->cluster_ip.s_addr || a->n_ports != b->n_ports ||
        a->n_external != b->n_external || a->n_lb != b->n_lb || a->n_ranges != b->n_ranges ||
        a->etp_local != b->etp_local || a->itp_local != b->itp_local ||
        a->affinity_s != b->affinity_s) {
        return false;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        const psvc_port_t *x = &a->ports[i], *y = &b->ports[i];
        if (strcmp(x->name, y->name) != 0 || x->proto != y->proto || x->port != y->port ||
            x->node_port != y->node_port) {
            return false;
        }
    }
    return same_bytes(a->external_ips, b->external_ips, a->n_external * sizeof(struct in_addr)) &&
           same_bytes(a->lb_ips, b->lb_ips, a->n_lb * sizeof(struct in_addr)) &&
           same_bytes(a->source_ranges, b->source_ranges, a->n_ranges * sizeof(pcidr_t));
}

static int meta_names(const json_t *obj, const char **ns, const char **name, ek_error_t **err)
{
    *name = ek_json_str(obj, "metadata", "name", NULL);
    *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    if (!*name || !**name || !*ns || !**ns) {
        return ek_error_status(err, 400, "object without metadata.name or metadata.namespace");
    }
    /* Keys are "namespace/name": a slash in either (which the API never allows) would make
     * two objects one. */
    if (strchr(*name, '/') || strchr(*ns, '/')) {
        return ek_error_status(err, 400, "metadata.name or metadata.namespace with a '/'");
    }
    return 0;
}

int ek_proxy_service_upsert(ek_proxy_t *p, const json_t *svc, ek_error_t **err)
{
    const char *ns, *name;
    if (meta_names(svc, &ns, &name, err) < 0) {
        return -1;
    }
    psvc_t *s = parse_service(svc);
    bucket_t *b = ek__bucket_get(p, ns, name, s != NULL);
    if (!b) {
        return 0; /* not ours, and nothing known about it */
    }
    if (psvc_equal(b->svc, s)) {
        ek__psvc_free(s);
        return 0;
    }
    ek__psvc_free(b->svc);
    b->svc = s;
    ek__bucket_dirty(p, b);
    return 0;
}

void ek_proxy_service_delete(ek_proxy_t *p, const json_t *svc)
{
    const char *ns, *name;
    if (meta_names(svc, &ns, &name, NULL) < 0) {
        return;
    }
    bucket_t *b = ek__bucket_get(p, ns, name, false);
    if (b && b->svc) {
        ek__psvc_free(b->svc);
        b->svc = NULL;
        ek__bucket_dirty(p, b);
    }
}

/* ---- EndpointSlices ---- */

static void parse_slice_ports(const json_t *slice, pslice_t *s)
{
    json_t *ports = json_object_get(slice, "ports");
    s->ports = ek_xcalloc(json_array_size(ports) + 1, sizeof(*s->ports));
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        uint8_t proto = proto_parse(ek_json_str(p, "protocol", NULL));
        long long port = ek_json_int(p, 0, "port", NULL);
        if (!proto || port <= 0 || port > 65535) {
            continue; /* kube-proxy ignores ports without a number */
        }
        pslice_port_t *sp = &s->ports[s->n_ports++];
        sp->name = ek_xstrdup(ek_json_str(p, "name", NULL) ?: "");
        sp->proto = proto;
        sp->port = (uint16_t)port;
    }
}

static void parse_slice_endpoints(const ek_proxy_t *px, const json_t *slice, pslice_t *s)
{
    json_t *eps = json_object_get(slice, "endpoints");
    s->eps = ek_xcalloc(json_array_size(eps) + 1, sizeof(*s->eps));
    size_t i;
    json_t *e;
    json_array_foreach (eps, i, e) {
        pep_t *ep = &s->eps[s->n_eps];
        if (!ip4(json_string_value(json_array_get(ek_json_path(e, "addresses", NULL), 0)),
                 &ep->ip)) {
            continue;
        }
        json_t *cond = json_object_get(e, "conditions");
        ep->ready = ek_json_bool(cond, 1, "ready", NULL);
        ep->serving = ek_json_bool(cond, ep->ready, "serving", NULL);
        ep->terminating = ek_json_bool(cond, 0, "terminating", NULL);
        ep->local = px->node_name && ek_streq(ek_json_str(e, "nodeName", NULL), px->node_name);
        s->n_eps++;
    }
}

static bool pslice_equal(const pslice_t *a, const pslice_t *b)
{
    if (a->n_ports != b->n_ports || a->n_eps != b->n_eps) {
        return false;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        if (strcmp(a->ports[i].name, b->ports[i].name) != 0 ||
            a->ports[i].proto != b->ports[i].proto || a->ports[i].port != b->ports[i].port) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_eps; i++) {
        const pep_t *x = &a->eps[i], *y = &b->eps[i];
        if (x->ip.s_addr != y->ip.s_addr || x->ready != y->ready || x->serving != y->serving ||
            x->terminating != y->terminating || x->local != y->local) {
            return false;
        }
    }
    return true;
}

/* Removes the slice called key from whichever bucket holds it; returns it (caller frees). */
static pslice_t *slice_take(ek_proxy_t *p, const char *key)
{
    bucket_t *b = ek_map_del(&p->slice_owner, key);
    if (!b) {
        return NULL;
    }
    const char *name = strchr(key, '/') + 1;
    for (size_t i = 0; i < b->n_slices; i++) {
        if (strcmp(b->slices[i]->name, name) == 0) {
            pslice_t *s = b->slices[i];
            b->slices[i] = b->slices[--b->n_slices];
            return s;
        }
    }
    ek_assert(!"slice owner without the slice");
}

static void slice_put(ek_proxy_t *p, bucket_t *b, const char *key, pslice_t *s)
{
    b->slices = ek_xrealloc(b->slices, (b->n_slices + 1) * sizeof(*b->slices));
    b->slices[b->n_slices++] = s;
    ek_map_put(&p->slice_owner, key, b);
}

int ek_proxy_endpointslice_upsert(ek_proxy_t *p, const json_t *slice, ek_error_t **err)
{
    const char *ns, *name;
    if (meta_names(slice, &ns, &name, err) < 0) {
        return -1;
    }
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    const char *svc = ek_json_str(slice, "metadata", "labels", "kubernetes.io/service-name", NULL);
    const char *family = ek_json_str(slice, "addressType", NULL);
    pslice_t *s = NULL;
    if (svc && *svc && ek_streq(family, "IPv4")) {
        s = ek_new(pslice_t);
        s->name = ek_xstrdup(name);
        parse_slice_ports(slice, s);
        parse_slice_endpoints(p, slice, s);
    }
    bucket_t *owner = ek_map_get(&p->slice_owner, key);
    bucket_t *b = s ? ek__bucket_get(p, ns, svc, true) : NULL;
    pslice_t *old = slice_take(p, key);
    if (old && s && owner == b && pslice_equal(old, s)) {
        slice_put(p, b, key, old);
        ek__pslice_free(s);
        return 0;
    }
    ek__pslice_free(old);
    if (owner) {
        ek__bucket_dirty(p, owner);
    }
    if (s) {
        slice_put(p, b, key, s);
        ek__bucket_dirty(p, b);
    }
    return 0;
}

void ek_proxy_endpointslice_delete(ek_proxy_t *p, const json_t *slice)
{
    const char *ns, *name;
    if (meta_names(slice, &ns, &name, NULL) < 0) {
        return;
    }
    ek_autofree char *key = ek_xasprintf("%s/%s", ns, name);
    bucket_t *owner = ek_map_get(&p->slice_owner, key);
    pslice_t *old = slice_take(p, key);
    if (old) {
        ek__pslice_free(old);
        ek__bucket_dirty(p, owner);
    }
}

int ek_proxy_object_upsert(ek_proxy_t *p, const json_t *obj, ek_error_t **err)
{
    const char *kind = ek_json_str(obj, "kind", NULL);
    if (ek_streq(kind, "Service")) {
        return ek_proxy_service_upsert(p, obj, err);
    }
    if (ek_streq(kind, "EndpointSlice")) {
        return ek_proxy_endpointslice_upsert(p, obj, err);
    }
    return 0;
}

void ek_proxy_object_delete(ek_proxy_t *p, const json_t *obj)
{
    const char *kind = ek_json_str(obj, "kind", NULL);
    if (ek_streq(kind, "Service")) {
        ek_proxy_service_delete(p, obj);
    } else if (ek_streq(kind, "EndpointSlice")) {
        ek_proxy_endpointslice_delete(p, obj);
    }
}

/* ---- informer handlers ---- */

static void upsert_logged(ek_proxy_t *p, const json_t *obj,
                          int (*fn)(ek_proxy_t *, const json_t *, ek_error_t **))
{
    ek_error_t *err = NULL;
    if (fn(p, obj, &err) < 0) {
        EK_LOG(EK_WARN, "proxy", "object skipped err=\"%s\"", ek_error_msg(err));
        ek_error_free(err);
    }
}

#define PROXY_HANDLERS(kind)                                                                   \
    static void kind##_on_add(json_t *obj, void *data)                                         \
    {                                                                                          \
        upsert_logged(data, obj, ek_proxy_##kind##_upsert);                                    \
    }                                                                                          \
    static void kind##_on_update(json_t *old_obj, json_t *new_obj, void *data)                 \
    {                                                                                          \
        upsert_logged(data, new_obj, ek_proxy_##kind##_upsert);                                \
    }                                                                                          \
    static void kind##_on_delete(json_t *obj, void *data)                                      \
    {                                                                                          \
        ek_proxy_##kind##_delete(data, obj);                                                   \
    }                                                                                          \
    const ek_informer_handlers_t ek_proxy_##kind##_handlers = { .on_add = kind##_on_add,       \
                                                                .on_update = kind##_on_update, \
                                                                .on_delete = kind##_on_delete };

PROXY_HANDLERS(service)
PROXY_HANDLERS(endpointslice)
