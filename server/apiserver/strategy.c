/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-kind rules the API server applies around writes (Kubernetes' "strategies" and the
 * built-in admission steps): what a create resets, what an update may change, ClusterIP and
 * NodePort allocation for Services, the Job selector, namespace phase, and which updates are
 * heartbeats that the store may keep in memory for a while (volatile writes).
 */
#include <arpa/inet.h>
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

static bool is(const ek_resource_t *r, const char *group, const char *kind)
{
    return strcmp(r->group, group) == 0 && strcmp(r->kind, kind) == 0;
}

void new_uid(char out[static 37])
{
    unsigned char b[16];
    ek_random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
    b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

/* Kubernetes' generateName suffix alphabet (no vowels, no confusable characters). */
void generate_name_suffix(char out[static 6])
{
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
    unsigned char b[5];
    ek_random_bytes(b, sizeof(b));
    for (int i = 0; i < 5; i++) {
        out[i] = alphabet[b[i] % (sizeof(alphabet) - 1)];
    }
    out[5] = '\0';
}

/* ---- Pod QoS class (as the API server computes it at create) ---- */

static int quantity_cmp_str(const char *a, const char *b)
{
    ek_quantity_t qa, qb;
    if (ek_quantity_parse(a, &qa, NULL) < 0 || ek_quantity_parse(b, &qb, NULL) < 0) {
        return strcmp(a, b);
    }
    return ek_quantity_cmp(&qa, &qb);
}

static bool has_both(const json_t *c, const char *res, bool *limits_eq)
{
    const char *req = ek_json_str(c, "resources", "requests", res, NULL);
    const char *lim = ek_json_str(c, "resources", "limits", res, NULL);
    json_t *reqv = ek_json_path(c, "resources", "requests", res, NULL);
    json_t *limv = ek_json_path(c, "resources", "limits", res, NULL);
    if (!limv) {
        *limits_eq = false;
        return reqv != NULL;
    }
    if (req && lim) {
        *limits_eq = *limits_eq && quantity_cmp_str(req, lim) == 0;
    }
    return true;
}

const char *pod_qos_class(const json_t *pod)
{
    bool any = false, guaranteed = true;
    const char *lists[] = { "containers", "initContainers" };
    for (size_t l = 0; l < 2; l++) {
        json_t *cs = ek_json_path(pod, "spec", lists[l], NULL);
        size_t i;
        json_t *c;
        json_array_foreach (cs, i, c) {
            bool eq_cpu = true, eq_mem = true;
            bool cpu = has_both(c, "cpu", &eq_cpu);
            bool mem = has_both(c, "memory", &eq_mem);
            any = any || cpu || mem;
            bool lim_cpu = ek_json_path(c, "resources", "limits", "cpu", NULL) != NULL;
            bool lim_mem = ek_json_path(c, "resources", "limits", "memory", NULL) != NULL;
            if (!lim_cpu || !lim_mem || !eq_cpu || !eq_mem) {
                guaranteed = false;
            }
        }
    }
    if (!any) {
        return "BestEffort";
    }
    return guaranteed ? "Guaranteed" : "Burstable";
}

/* ---- Service addresses ---- */

static int parse_cidr(const char *cidr, uint32_t *base, int *bits)
{
    char ip[64];
    const char *slash = strchr(cidr, '/');
    if (!slash || (size_t)(slash - cidr) >= sizeof(ip)) {
        return -1;
    }
    memcpy(ip, cidr, (size_t)(slash - cidr));
    ip[slash - cidr] = '\0';
    struct in_addr a;
    if (inet_pton(AF_INET, ip, &a) != 1) {
        return -1;
    }
    *bits = atoi(slash + 1);
    if (*bits < 8 || *bits > 30) {
        return -1;
    }
    *base = ntohl(a.s_addr) & (0xffffffffu << (32 - *bits));
    return 0;
}

static void used_service_values(ek_apiserver_t *s, ek_map_t *ips, bool nodeports[65536])
{
    const ek_resource_t *res = ek_resource_find("", "v1", "services");
    size_t n;
    ek_autofree obj_t **all = store_list(&s->store, res, NULL, &n);
    for (size_t i = 0; i < n; i++) {
        const char *ip = ek_json_str(all[i]->json, "spec", "clusterIP", NULL);
        if (ip) {
            ek_map_put(ips, ip, (void *)1);
        }
        json_t *ports = ek_json_path(all[i]->json, "spec", "ports", NULL);
        size_t k;
        json_t *p;
        json_array_foreach (ports, k, p) {
            long long np = ek_json_int(p, 0, "nodePort", NULL);
            if (np > 0 && np < 65536) {
                nodeports[np] = true;
            }
        }
    }
}

static int allocate_cluster_ip(ek_apiserver_t *s, json_t *spec, ek_map_t *used, ek_error_t **err)
{
    const char *want = ek_json_str(spec, "clusterIP", NULL);
    if (want && strcmp(want, "None") == 0) {
        return 0;
    }
    uint32_t base;
    int bits;
    if (parse_cidr(s->opts.service_cidr, &base, &bits) < 0) {
        return ek_error_status(err, 500, "bad service CIDR `%s`", s->opts.service_cidr);
    }
    uint32_t size = 1u << (32 - bits);
    if (want && *want) {
        struct in_addr a;
        if (inet_pton(AF_INET, want, &a) != 1) {
            return 0; /* validation reports it */
        }
        uint32_t v = ntohl(a.s_addr);
        if ((v & (0xffffffffu << (32 - bits))) != base) {
            return ek_error_status(err, 422,
                                   "spec.clusterIPs: Invalid value: [\"%s\"]: failed to "
                                   "allocate IP %s: the provided IP (%s) is not in the valid "
                                   "range. The range of valid IPs is %s",
                                   want, want, want, s->opts.service_cidr);
        }
        if (ek_map_get(used, want)) {
            return ek_error_status(err, 422,
                                   "spec.clusterIPs: Invalid value: [\"%s\"]: failed to "
                                   "allocate IP %s: provided IP is already allocated",
                                   want, want);
        }
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", want));
        return 0;
    }
    /* Random start, then linear probing: spreads allocations like Kubernetes' allocator. */
    unsigned char rnd[4];
    ek_random_bytes(rnd, 4);
    uint32_t start = ((uint32_t)rnd[0] << 24 | rnd[1] << 16 | rnd[2] << 8 | rnd[3]) % (size - 2);
    for (uint32_t i = 0; i < size - 2; i++) {
        uint32_t off = 1 + (start + i) % (size - 2);
        struct in_addr a = { htonl(base + off) };
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &a, ip, sizeof(ip));
        /* .1 is the kubernetes service and .10 cluster DNS: reserved for them by name. */
        if (off == 1 || off == 10 || ek_map_get(used, ip)) {
            continue;
        }
        ek_json_set_str(spec, "clusterIP", ip);
        json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
        return 0;
    }
    return ek_error_status(err, 500,
                           "Internal error occurred: failed to allocate a serviceIP: "
                           "range is full");
}

static int allocate_node_ports(ek_apiserver_t *s, json_t *spec, bool used[65536],
                               const json_t *old_spec, ek_error_t **err)
{
    const char *type = ek_json_str(spec, "type", NULL);
    if (!type || (strcmp(type, "NodePort") != 0 && strcmp(type, "LoadBalancer") != 0)) {
        return 0;
    }
    json_t *ports = json_object_get(spec, "ports");
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        long long np = ek_json_int(p, 0, "nodePort", NULL);
        long long old = 0;
        json_t *op;
        size_t k;
        json_array_foreach (json_object_get(old_spec, "ports"), k, op) {
            if (ek_json_int(op, 0, "port", NULL) == ek_json_int(p, -1, "port", NULL)) {
                old = ek_json_int(op, 0, "nodePort", NULL);
            }
        }
        if (np > 0) {
            if (np < s->opts.node_port_min || np > s->opts.node_port_max) {
                return ek_error_status(err, 422,
                                       "spec.ports[%zu].nodePort: Invalid value: %lld: provided "
                                       "port is not in the valid range. The range of valid "
                                       "ports is %d-%d",
                                       i, np, s->opts.node_port_min, s->opts.node_port_max);
            }
            if (used[np] && np != old) {
                return ek_error_status(err, 422,
                                       "spec.ports[%zu].nodePort: Invalid value: %lld: provided "
                                       "port is already allocated",
                                       i, np);
            }
            used[np] = true;
            continue;
        }
        if (old > 0) {
            json_object_set_new(p, "nodePort", json_integer(old));
            continue;
        }
        int span = s->opts.node_port_max - s->opts.node_port_min + 1;
        unsigned char rnd[2];
        ek_random_bytes(rnd, 2);
        int start = (rnd[0] << 8 | rnd[1]) % span;
        int got = 0;
        for (int k2 = 0; k2 < span && !got; k2++) {
            int cand = s->opts.node_port_min + (start + k2) % span;
            if (!used[cand]) {
                used[cand] = true;
                got = cand;
            }
        }
        if (!got) {
            return ek_error_status(err, 500,
                                   "Internal error occurred: failed to allocate a "
                                   "nodePort: range is full");
        }
        json_object_set_new(p, "nodePort", json_integer(got));
    }
    return 0;
}

static int prepare_service(ek_apiserver_t *s, json_t *obj, const json_t *old, ek_error_t **err)
{
    json_t *spec = ek_json_obj_ensure(obj, "spec");
    ek_map_t used = EK_MAP_INIT;
    bool *ports = ek_xcalloc(65536, sizeof(bool));
    used_service_values(s, &used, ports);
    int rc = 0;
    const char *type = ek_json_str(spec, "type", NULL);
    bool external = type && strcmp(type, "ExternalName") == 0;
    if (old) {
        /* Keep what was allocated: ClusterIP is immutable and ports stay stable. */
        json_t *oldspec = json_object_get(old, "spec");
        const char *ip = ek_json_str(oldspec, "clusterIP", NULL);
        if (ip && !ek_json_str(spec, "clusterIP", NULL) && !external) {
            ek_json_set_str(spec, "clusterIP", ip);
            json_t *ips = json_object_get(oldspec, "clusterIPs");
            if (ips) {
                json_object_set(spec, "clusterIPs", ips);
            }
        }
        const char *oip = ek_json_str(oldspec, "clusterIP", NULL);
        if (oip) {
            ek_map_del(&used, oip);
        }
        size_t k;
        json_t *op;
        json_array_foreach (json_object_get(oldspec, "ports"), k, op) {
            long long np = ek_json_int(op, 0, "nodePort", NULL);
            if (np > 0 && np < 65536) {
                ports[np] = false;
            }
        }
        rc = allocate_node_ports(s, spec, ports, oldspec, err);
    } else {
        if (!external) {
            rc = allocate_cluster_ip(s, spec, &used, err);
        }
        if (rc == 0) {
            rc = allocate_node_ports(s, spec, ports, NULL, err);
        }
    }
    free(ports);
    ek_map_free(&used);
    return rc;
}

/* ---- DefaultTolerationSeconds admission ---- */

/* Does a toleration cover key's NoExecute taint? (An empty key with Exists covers all.) */
static bool tolerates_no_execute(const json_t *tols, const char *key)
{
    size_t i;
    json_t *t;
    json_array_foreach (tols, i, t) {
        const char *k = ek_json_str(t, "key", NULL);
        const char *effect = ek_json_str(t, "effect", NULL);
        if ((!k || !*k || strcmp(k, key) == 0) &&
            (!effect || !*effect || strcmp(effect, "NoExecute") == 0)) {
            return true;
        }
    }
    return false;
}

/* As kube-apiserver's DefaultTolerationSeconds plugin: a new pod tolerates its node being
 * not-ready or unreachable for a while (then the taint eviction controller evicts it), unless
 * it already says how long it tolerates that. */
static void default_tolerations(ek_apiserver_t *s, json_t *spec)
{
    static const char *const keys[] = { "node.kubernetes.io/not-ready",
                                        "node.kubernetes.io/unreachable" };
    json_t *tols = json_object_get(spec, "tolerations");
    bool need[2];
    for (size_t i = 0; i < 2; i++) {
        need[i] = !tolerates_no_execute(tols, keys[i]);
    }
    for (size_t i = 0; i < 2; i++) {
        if (!need[i]) {
            continue;
        }
        if (!json_is_array(tols)) {
            tols = json_array();
            json_object_set_new(spec, "tolerations", tols);
        }
        json_array_append_new(tols, json_pack("{s:s,s:s,s:s,s:I}", "key", keys[i], "operator",
                                              "Exists", "effect", "NoExecute", "tolerationSeconds",
                                              (json_int_t)s->opts.default_toleration_s));
    }
}

/* ---- hooks ---- */

int strategy_prepare_create(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj,
                            ek_error_t **err)
{
    if (res->flags & EK_RES_STATUS && !is(res, "", "Namespace") && !is(res, "", "Node") &&
        !(res->flags & EK_RES_CUSTOM)) {
        json_object_set_new(obj, "status", json_object());
    }
    if (is(res, "", "Pod")) {
        json_t *spec = ek_json_obj_ensure(obj, "spec");
        if (!ek_json_str(spec, "serviceAccountName", NULL)) {
            ek_json_set_str(spec, "serviceAccountName", "default");
        }
        default_tolerations(s, spec);
        json_t *st = ek_json_obj_ensure(obj, "status");
        ek_json_set_str(st, "phase", "Pending");
        ek_json_set_str(st, "qosClass", pod_qos_class(obj));
        return 0;
    }
    if (is(res, "", "Namespace")) {
        json_object_set_new(ek_json_obj_ensure(obj, "spec"), "finalizers",
                            json_pack("[s]", "kubernetes"));
        json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *labels = ek_json_obj_ensure(ek_json_obj_ensure(obj, "metadata"), "labels");
        ek_json_set_str(labels, "kubernetes.io/metadata.name",
                        ek_json_str(obj, "metadata", "name", NULL));
        return 0;
    }
    if (is(res, "", "Service")) {
        return prepare_service(s, obj, NULL, err);
    }
    if (is(res, "apiextensions.k8s.io", "CustomResourceDefinition")) {
        /* Objects of a CRD are deleted before the CRD itself (crd.c). */
        json_t *md = ek_json_obj_ensure(obj, "metadata");
        json_t *fins = json_object_get(md, "finalizers");
        if (!json_is_array(fins)) {
            fins = json_array();
            json_object_set_new(md, "finalizers", fins);
        }
        json_array_append_new(fins, json_string("customresourcecleanup.apiextensions.k8s.io"));
        return 0;
    }
    if (is(res, "batch", "Job")) {
        /* The generated selector and pod labels come from the uid set just before. */
        ek_defaults_prepare_create(res, obj);
    }
    return 0;
}

int strategy_prepare_update(ek_apiserver_t *s, const ek_resource_t *res, json_t *obj,
                            const json_t *old, ek_error_t **err)
{
    if (is(res, "", "Service")) {
        return prepare_service(s, obj, old, err);
    }
    if (is(res, "", "Namespace")) {
        json_t *labels = ek_json_obj_ensure(ek_json_obj_ensure(obj, "metadata"), "labels");
        ek_json_set_str(labels, "kubernetes.io/metadata.name",
                        ek_json_str(obj, "metadata", "name", NULL));
    }
    return 0;
}

/* Same JSON apart from the listed top-level paths (a NULL-terminated list of "a.b" paths). */
static bool equal_except(const json_t *a, const json_t *b, const char *const *paths)
{
    ek_auto(json_t) x = json_deep_copy(a);
    ek_auto(json_t) y = json_deep_copy(b);
    for (; *paths; paths++) {
        ek_autofree char *p = ek_xstrdup(*paths);
        char *dot = strrchr(p, '.');
        json_t *px = x, *py = y;
        if (dot) {
            *dot = '\0';
            for (char *tok = strtok(p, "."); tok; tok = strtok(NULL, ".")) {
                px = json_object_get(px, tok);
                py = json_object_get(py, tok);
            }
        }
        const char *leaf = dot ? dot + 1 : p;
        if (json_is_object(px)) {
            json_object_del(px, leaf);
        }
        if (json_is_object(py)) {
            json_object_del(py, leaf);
        }
    }
    return json_equal(x, y);
}

bool strategy_is_heartbeat(const ek_resource_t *res, const json_t *obj, const json_t *old)
{
    if (!old) {
        return false;
    }
    if (is(res, "coordination.k8s.io", "Lease")) {
        static const char *const p[] = { "spec.renewTime", "metadata.resourceVersion",
                                         "metadata.managedFields", NULL };
        return equal_except(obj, old, p);
    }
    if (is(res, "", "Node")) {
        /* A status write that only refreshes heartbeat times. */
        ek_auto(json_t) a = json_deep_copy(obj);
        ek_auto(json_t) b = json_deep_copy(old);
        json_t *objs[2] = { a, b };
        for (int i = 0; i < 2; i++) {
            json_object_del(ek_json_obj_ensure(objs[i], "metadata"), "resourceVersion");
            json_object_del(ek_json_obj_ensure(objs[i], "metadata"), "managedFields");
            size_t k;
            json_t *c;
            json_array_foreach (ek_json_path(objs[i], "status", "conditions", NULL), k, c) {
                json_object_del(c, "lastHeartbeatTime");
            }
        }
        return json_equal(a, b);
    }
    return false;
}
