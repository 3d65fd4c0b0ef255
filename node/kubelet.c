/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent: one kubelet with its image store, runtime and pod network, on one libuv loop.
 * This file starts and stops it, runs blocking work on libuv's worker threads (jobs), keeps
 * the informers (this node's pods, ConfigMaps, Secrets, Services, the Node) and dispatches
 * their events to the pod workers (kubelet_pod.c), and adopts the shims a previous agent left
 * running: until that adoption is done no pod is synced, so a restarted agent never creates a
 * second sandbox for a pod that still has one.
 */
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "node/kubelet-internal.h"

const ek_resource_t *ek__kl_res(const char *group, const char *plural)
{
    return ek_resource_find(group, "v1", plural);
}

/* ---- jobs ---- */

static void job_work(uv_work_t *w)
{
    kl_job_t *j = ek_container_of(w, kl_job_t, work);
    j->run(j);
}

static void job_after(uv_work_t *w, int status)
{
    kl_job_t *j = ek_container_of(w, kl_job_t, work);
    ek_kubelet_t *kl = j->kl;
    EK_UNUSED(status);
    kl->jobs--;
    j->done(j); /* frees j */
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_job_queue(ek_kubelet_t *kl, kl_job_t *j)
{
    j->kl = kl;
    kl->jobs++;
    if (j->pod) {
        j->pod->busy = true;
    }
    uv_queue_work(kl->loop, &j->work, job_work, job_after);
}

void ek__kl_pod_job_end(kl_pod_t *p)
{
    p->busy = false;
    if (p->dirty) {
        p->dirty = false;
        ek__kl_pod_sync(p);
    } else {
        ek__kl_pod_sync(p); /* the job's outcome may call for the next step */
    }
}

void ek__kl_call_begin(ek_kubelet_t *kl)
{
    kl->calls++;
}

void ek__kl_call_end(ek_kubelet_t *kl)
{
    kl->calls--;
    ek__kl_maybe_finish_stop(kl);
}

/* ---- helpers the pod workers share ---- */

void ek__kl_event(kl_pod_t *p, const char *type, const char *reason, const char *fmt, ...)
{
    if (!p->kl->rec || p->kl->stopping) {
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *ref = json_pack("{s:s,s:s,s:{s:s,s:s,s:s}}", "kind", "Pod", "apiVersion", "v1",
                            "metadata", "name", p->name, "namespace", p->ns, "uid", p->uid);
    const char *rv = ek_json_str(p->obj, "metadata", "resourceVersion", NULL);
    if (rv) {
        ek_json_set_str(json_object_get(ref, "metadata"), "resourceVersion", rv);
    }
    ek_event_record(p->kl->rec, ref, type, reason, "%s", msg);
    json_decref(ref);
}

bool ek__kl_pod_is_host_network(const kl_pod_t *p)
{
    return ek_json_bool(p->obj, false, "spec", "hostNetwork", NULL);
}

static void on_cm(json_t *obj, void *data);
static void on_cm_update(json_t *old, json_t *obj, void *data);
static void on_cm_delete(json_t *obj, void *data);
static void on_secret(json_t *obj, void *data);
static void on_secret_update(json_t *old, json_t *obj, void *data);
static void on_secret_delete(json_t *obj, void *data);

/*
 * A ConfigMap or Secret through a watch of that one object (fieldSelector metadata.name), as
 * the kubelet's watch-based manager does: the Node authorizer lets a node read only what its
 * pods reference, never list all of them. The first lookup starts the watch and finds
 * nothing yet; when the object arrives, on_source syncs the namespace's pods again.
 */
static json_t *watched_get(ek_kubelet_t *kl, const char *plural, const char *ns, const char *name)
{
    if (kl->stopping || !ns || !name || !*name) {
        return NULL;
    }
    ek_autofree char *key = ek_xasprintf("%c|%s|%s", plural[0], ns, name);
    ek_informer_t *inf = ek_map_get(&kl->watched, key);
    if (!inf) {
        ek_autofree char *sel = ek_xasprintf("metadata.name=%s", name);
        inf = ek_informer_new(kl->client, ek__kl_res("", plural), ns, NULL, sel, 0);
        /* Each also goes to the local cache when a pod here uses it (kubelet_cache.c). */
        static const ek_informer_handlers_t ch = { .on_add = on_cm,
                                                   .on_update = on_cm_update,
                                                   .on_delete = on_cm_delete };
        static const ek_informer_handlers_t sh = { .on_add = on_secret,
                                                   .on_update = on_secret_update,
                                                   .on_delete = on_secret_delete };
        ek_informer_add_handlers(inf, plural[0] == 'c' ? &ch : &sh, kl);
        ek_map_put(&kl->watched, key, inf);
        ek_informer_start(inf);
    }
    return ek_informer_get(inf, ns, name);
}

static json_t *get_cm(const char *ns, const char *name, void *data)
{
    ek_kubelet_t *kl = data;
    /* Without the API server (kubelet_cache.c): the copy on disk. */
    return watched_get(kl, "configmaps", ns, name) ?: ek__kl_cache_get(kl, "configmaps", ns, name);
}

static json_t *get_secret(const char *ns, const char *name, void *data)
{
    ek_kubelet_t *kl = data;
    return watched_get(kl, "secrets", ns, name) ?: ek__kl_cache_get(kl, "secrets", ns, name);
}

json_t *ek__kl_secret(ek_kubelet_t *kl, const char *ns, const char *name)
{
    return watched_get(kl, "secrets", ns, name) ?: ek__kl_cache_get(kl, "secrets", ns, name);
}

json_t *ek__kl_watched(ek_kubelet_t *kl, const char *plural, const char *ns, const char *name)
{
    return watched_get(kl, plural, ns, name);
}

struct svc_collect {
    const char *ns;
    json_t **v;
    size_t n;
};

static void collect_svc(json_t *obj, void *data)
{
    struct svc_collect *c = data;
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (ek_streq(ns, c->ns) || (ek_streq(ns, "default") && ek_streq(name, "kubernetes"))) {
        c->v = ek_xrealloc(c->v, (c->n + 2) * sizeof(json_t *));
        c->v[c->n++] = obj;
        c->v[c->n] = NULL;
    }
}

static json_t **get_services(const char *ns, void *data)
{
    ek_kubelet_t *kl = data;
    struct svc_collect c = { ns, NULL, 0 };
    ek_informer_each(kl->services, collect_svc, &c);
    return c.v;
}

void ek__kl_sources(kl_pod_t *p, ek__kl_sources_t *s)
{
    ek_kubelet_t *kl = p->kl;
    *s = (ek__kl_sources_t){
        .configmap = get_cm,
        .secret = get_secret,
        .services = get_services,
        .data = kl,
        .node_name = kl->node_name,
        .host_ip = ek__kl_node_ip(kl),
        .pod_ip = ek__kl_pod_is_host_network(p) ? ek__kl_node_ip(kl) : p->ip,
        .node_cpu_milli = kl->cpu_milli,
        .node_memory = kl->memory,
    };
}

/* ---- informer events ---- */

static void on_pod_add(json_t *obj, void *data)
{
    ek_kubelet_t *kl = data;
    kl_pod_t *p = ek__kl_pod_get(kl, obj);
    ek__kl_cache_pod(kl, obj, false);
    if (p) {
        ek__kl_pod_sync(p);
    }
}

static void on_pod_update(json_t *old, json_t *obj, void *data)
{
    EK_UNUSED(old);
    on_pod_add(obj, data);
}

static void on_pod_delete(json_t *obj, void *data)
{
    ek_kubelet_t *kl = data;
    kl_pod_t *p = ek_map_get(&kl->by_uid, ek_json_str(obj, "metadata", "uid", NULL) ?: "");
    ek__kl_cache_pod(kl, obj, true);
    if (p) {
        ek__kl_pod_deleted(p);
    }
}

static void on_pods_synced(void *data)
{
    ek__kl_cache_synced(data);
    ek__kl_adopt(data);
}

/* A ConfigMap or Secret changed: the pods of its namespace may wait for it, or mount it. */
static void on_source(json_t *obj, void *data)
{
    ek_kubelet_t *kl = data;
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        if (ek_streq(p->ns, ns)) {
            ek__kl_pod_sync(p);
        }
    }
}

/* ConfigMaps and Secrets also go to the local cache when a pod here uses them. */
static void on_cm(json_t *obj, void *data)
{
    ek__kl_cache_source(data, "configmaps", obj, false);
    on_source(obj, data);
}

static void on_cm_update(json_t *old, json_t *obj, void *data)
{
    EK_UNUSED(old);
    on_cm(obj, data);
}

static void on_cm_delete(json_t *obj, void *data)
{
    ek__kl_cache_source(data, "configmaps", obj, true);
    on_source(obj, data);
}

static void on_secret(json_t *obj, void *data)
{
    ek__kl_cache_source(data, "secrets", obj, false);
    on_source(obj, data);
}

static void on_secret_update(json_t *old, json_t *obj, void *data)
{
    EK_UNUSED(old);
    on_secret(obj, data);
}

static void on_secret_delete(json_t *obj, void *data)
{
    ek__kl_cache_source(data, "secrets", obj, true);
    on_source(obj, data);
}

static void on_node(json_t *obj, void *data)
{
    ek__kl_cache_node(data, obj);
    ek__kl_node_changed(data);
}

static void on_node_update(json_t *old, json_t *obj, void *data)
{
    EK_UNUSED(old);
    on_node(obj, data);
}

static void start_informers(ek_kubelet_t *kl)
{
    ek_autofree char *pod_sel = ek_xasprintf("spec.nodeName=%s", kl->node_name);
    ek_autofree char *node_sel = ek_xasprintf("metadata.name=%s", kl->node_name);
    kl->pods = ek_informer_new(kl->client, ek__kl_res("", "pods"), NULL, NULL, pod_sel, 0);
    kl->services = ek_informer_new(kl->client, ek__kl_res("", "services"), NULL, NULL, NULL, 0);
    kl->node = ek_informer_new(kl->client, ek__kl_res("", "nodes"), NULL, NULL, node_sel, 0);
    /* What the node services (DNS, service proxy) read cluster-wide goes through their own
     * identity when the agent has one: a node's may not list these. */
    ek_api_client_t *svc = kl->svc_client ? kl->svc_client : kl->client;
    kl->namespaces = ek_informer_new(svc, ek__kl_res("", "namespaces"), NULL, NULL, NULL, 0);
    kl->slices =
        ek_informer_new(svc, ek__kl_res("discovery.k8s.io", "endpointslices"), NULL, NULL, NULL, 0);
    static const ek_informer_handlers_t ph = { on_pod_add, on_pod_update, on_pod_delete,
                                               on_pods_synced };
    static const ek_informer_handlers_t nh = { on_node, on_node_update, NULL, NULL };
    ek_informer_add_handlers(kl->pods, &ph, kl);
    ek_informer_add_handlers(kl->node, &nh, kl);
    ek_informer_start(kl->services);
    ek_informer_start(kl->node);
    ek_informer_start(kl->namespaces);
    ek_informer_start(kl->slices);
    ek_informer_start(kl->pods);
}

/* ---- machine facts ---- */

static bool ours(const char *ifname)
{
    return ek_has_prefix(ifname, EK_PODNET_VETH_PREFIX) || strcmp(ifname, EK_PODNET_BRIDGE) == 0 ||
           strcmp(ifname, EK_PODNET_VXLAN_DEV) == 0 || ek_has_prefix(ifname, "cni") ||
           ek_has_prefix(ifname, "docker") || ek_has_prefix(ifname, "flannel");
}

/* The first global IPv4 address of an up interface that is not a pod network's; else the
 * loopback address (a node alone in a test namespace). */
static char *detect_node_ip(void)
{
    struct ifaddrs *ifs = NULL, *i;
    char buf[INET_ADDRSTRLEN] = "";
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i && !buf[0]; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
                (i->ifa_flags & IFF_LOOPBACK) || ours(i->ifa_name)) {
                continue;
            }
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, buf,
                      sizeof(buf));
        }
        freeifaddrs(ifs);
    }
    return ek_xstrdup(buf[0] ? buf : "127.0.0.1");
}

static void machine_capacity(ek_kubelet_t *kl)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    kl->cpu_milli = (n > 0 ? n : 1) * 1000;
    ek_autofree char *mi = ek_file_read("/proc/meminfo", 0, NULL, NULL);
    const char *mt = mi ? strstr(mi, "MemTotal:") : NULL;
    kl->memory = mt ? strtoll(mt + 9, NULL, 10) * 1024 : 0;
    struct statvfs sv;
    if (statvfs(kl->data_dir, &sv) == 0) {
        kl->storage = (int64_t)sv.f_blocks * (int64_t)sv.f_frsize;
    }
}

/* The host resolv.conf pods with dnsPolicy Default get (see ek__kl_host_resolv_path). */
static char *host_resolv(const char *path)
{
    return ek_file_read(path, 1 << 20, NULL, NULL) ?: ek_xstrdup("");
}

static char *lowercase_hostname(void)
{
    char h[256] = "";
    gethostname(h, sizeof(h) - 1);
    for (char *p = h; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return ek_xstrdup(h[0] ? h : "localhost");
}

/* ---- start and stop ---- */

static int open_parts(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err)
{
    ek_autofree char *img_dir = ek_xasprintf("%s/agent/images", kl->data_dir);
    kl->images = ek_image_store_open(img_dir, NULL, err);
    if (!kl->images) {
        return ek_error_wrap(err, "image store");
    }
    ek_autofree char *state =
        ek_xasprintf("%s/runtime", o->runtime_dir ? o->runtime_dir : "/run/edgek");
    ek_rt_config_t rc = { .state_dir = state,
                          .cgroup_parent = o->cgroup_parent,
                          .cgroup_nested = o->cgroup_nested };
    if (ek_mkdir_p(state, 0700, err) < 0 || !(kl->rt = ek_rt_open(&rc, err))) {
        return ek_error_wrap(err, "container runtime");
    }
    ek_autofree char *pods_state = ek_xasprintf("%s/pods", state);
    if (ek_mkdir_p(pods_state, 0700, err) < 0 || ek_mkdir_p(kl->pods_dir, 0750, err) < 0 ||
        ek_mkdir_p(kl->log_dir, 0755, err) < 0) {
        return -1;
    }
    kl->airgap = ek_image_airgap_start(kl->images, kl->loop, img_dir, err);
    if (!kl->airgap) {
        return ek_error_wrap(err, "air-gap images");
    }
    return 0;
}

static void copy_options(ek_kubelet_t *kl, const ek_agent_options_t *o)
{
    kl->data_dir = ek_xstrdup(o->data_dir ? o->data_dir : "/var/lib/edgek");
    kl->hostname = lowercase_hostname();
    kl->node_name = ek_xstrdup(o->node_name && *o->node_name ? o->node_name : kl->hostname);
    for (size_t i = 0; i < o->n_node_ips; i++) {
        ek_strlist_add(&kl->node_ips, o->node_ips[i]);
    }
    kl->node_ip = kl->node_ips.n ? ek_xstrdup(kl->node_ips.v[0]) : detect_node_ip();
    for (size_t i = 0; i < o->n_node_labels; i++) {
        ek_strlist_add(&kl->node_labels, o->node_labels[i]);
    }
    for (size_t i = 0; i < o->n_node_taints; i++) {
        ek_strlist_add(&kl->node_taints, o->node_taints[i]);
    }
    for (size_t i = 0; i < o->n_external_ips; i++) {
        ek_strlist_add(&kl->external_ips, o->external_ips[i]);
    }
    kl->control_plane = o->control_plane;
    kl->cluster_cidr = ek_xstrdup(o->cluster_cidr ? o->cluster_cidr : "10.42.0.0/16");
    kl->cluster_dns = ek_xstrdup(o->cluster_dns ? o->cluster_dns : "10.43.0.10");
    kl->cluster_domain = ek_xstrdup(o->cluster_domain ? o->cluster_domain : "cluster.local");
    kl->resolv_path = ek__kl_host_resolv_path(o->resolv_conf);
    kl->host_resolv = host_resolv(kl->resolv_path);
    kl->host_hosts = ek_file_read("/etc/hosts", 1 << 20, NULL, NULL) ?: ek_xstrdup("");
    kl->pods_dir = ek_xasprintf("%s/agent/pods", kl->data_dir);
    kl->log_dir = ek_xstrdup(o->pod_log_dir ? o->pod_log_dir : "/var/log/pods");
    kl->pod_max_pids = o->pod_max_pids;
    kl->max_pods = o->max_pods > 0 ? o->max_pods : 110;
    kl->lease_ms = o->lease_ms > 0 ? o->lease_ms : 10000;
    machine_capacity(kl);
}

int ek_agent_start(ek_api_client_t *client, const ek_agent_options_t *o, ek_agent_t **out,
                   ek_error_t **err)
{
    ek_kubelet_t *kl = ek_new(ek_kubelet_t);
    kl->client = client;
    kl->svc_client = o->services_client;
    kl->loop = ek_api_client_loop(client);
    uv_mutex_init(&kl->net_mu);
    copy_options(kl, o);
    if (ek_podnet_backend_parse(o->pod_network_backend ? o->pod_network_backend : "vxlan",
                                &kl->backend, err) < 0) {
        ek_agent_stop(kl, NULL, NULL);
        return -1;
    }
    if (open_parts(kl, o, err) < 0 || ek__kl_logs_start(kl, o, err) < 0) {
        ek_agent_stop(kl, NULL, NULL);
        return -1;
    }
    kl->rec = ek_event_recorder_new(client, "kubelet", kl->node_name);
    if (ek__kl_cache_start(kl, o, err) < 0 || ek__kl_health_start(kl, o, err) < 0) {
        ek_agent_stop(kl, NULL, NULL);
        return -1;
    }
    start_informers(kl);
    ek__kl_routes_start(kl);
    if (ek__kl_node_start(kl, err) < 0) {
        ek_agent_stop(kl, NULL, NULL);
        return -1;
    }
    /*
     * Node services start here, once the kubelet's own parts are up: on kl->loop, with the
     * agent's client and started informers (ek_agent_client, ek_agent_informer), failing the
     * start like the parts above. The pod network is one already (set up on a worker when the
     * node controller assigns the podCIDR, kubelet_node.c); the service proxy, cluster DNS and
     * the bootstrap client's certificate rotation go here, each stopped at the top of
     * ek_agent_stop (before the informers are freed) in the reverse order.
     */
    if (ek__kl_proxy_start(kl, o, err) < 0 || ek__kl_dns_start(kl, err) < 0) {
        ek_agent_stop(kl, NULL, NULL);
        return -1;
    }
    EK_LOG(EK_INFO, "kubelet", "agent started node=%s ip=%s port=%d cgroup=v%d", kl->node_name,
           kl->node_ip, kl->port, ek_rt_cgroup_version(kl->rt));
    *out = kl;
    return 0;
}

ek_api_client_t *ek_agent_client(const ek_agent_t *a)
{
    return a->client;
}

ek_informer_t *ek_agent_informer(const ek_agent_t *a, const char *resource)
{
    static const char *const names[] = { "pods", "services", "nodes", "namespaces",
                                         "endpointslices" };
    ek_informer_t *const infs[] = { a->pods, a->services, a->node, a->namespaces, a->slices };
    for (size_t i = 0; i < EK_ARRAY_SIZE(names); i++) {
        if (strcmp(resource, names[i]) == 0) {
            return infs[i];
        }
    }
    return NULL;
}

const char *ek_agent_node_name(const ek_agent_t *a)
{
    return a->node_name;
}

int ek_agent_kubelet_port(const ek_agent_t *a)
{
    return a->port;
}

static void free_kubelet(ek_kubelet_t *kl)
{
    void (*cb)(void *) = kl->stop_cb;
    void *data = kl->stop_data;
    ek_map_free(&kl->by_uid);
    ek__kl_routes_free(kl);
    if (kl->net) {
        ek_podnet_close(kl->net);
    }
    uv_mutex_destroy(&kl->net_mu);
    if (kl->rt) {
        ek_rt_close(kl->rt);
    }
    if (kl->images) {
        ek_image_store_close(kl->images);
    }
    if (kl->tls) {
        ek_tls_config_unref(kl->tls);
    }
    json_decref(kl->node_sent);
    free(kl->data_dir);
    free(kl->node_name);
    free(kl->node_ip);
    free(kl->hostname);
    ek_strlist_free(&kl->node_ips);
    ek_strlist_free(&kl->node_labels);
    ek_strlist_free(&kl->node_taints);
    ek_strlist_free(&kl->external_ips);
    free(kl->cluster_cidr);
    free(kl->cluster_dns);
    free(kl->cluster_domain);
    free(kl->host_resolv);
    free(kl->resolv_path);
    free(kl->dns_addr);
    free(kl->host_hosts);
    free(kl->pods_dir);
    free(kl->log_dir);
    free(kl->pod_cidr);
    free(kl->net_error);
    free(kl);
    if (cb) {
        cb(data);
    }
}

static void client_freed(void *data)
{
    free_kubelet(data);
}

static void part_closed(void *data)
{
    ek_kubelet_t *kl = data;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

/* The last step of a stop, once no job, handle or part is left: the client goes (cancelling
 * what calls remain; their callbacks see `stopping`), then the memory. */
void ek__kl_maybe_finish_stop(ek_kubelet_t *kl)
{
    if (!kl->stopping || kl->jobs > 0 || kl->closing > 0 || kl->by_uid.n > 0 || !kl->client) {
        return;
    }
    if (kl->svc_client) {
        ek_api_client_t *sc = kl->svc_client;
        kl->svc_client = NULL;
        kl->closing++;
        ek_api_client_free(sc, part_closed, kl);
        return;
    }
    ek_api_client_t *c = kl->client;
    kl->client = NULL;
    if (kl->rec) {
        ek_event_recorder_free(kl->rec);
        kl->rec = NULL;
    }
    ek_api_client_free(c, client_freed, kl);
}

void ek_agent_stop(ek_agent_t *kl, void (*cb)(void *data), void *data)
{
    ek_assert(!kl->stopping);
    kl->stopping = true;
    kl->stop_cb = cb;
    kl->stop_data = data;
    /* Node services stop here, before the informers they use (see ek_agent_start). */
    ek__kl_dns_stop(kl);
    ek__kl_proxy_stop(kl);
    ek__kl_routes_stop(kl);
    ek_informer_free(kl->pods);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->watched, &it, &k, &v)) {
        ek_informer_free(v);
    }
    ek_map_free(&kl->watched);
    it = 0;
    ek_informer_free(kl->services);
    ek_informer_free(kl->node);
    ek_informer_free(kl->namespaces);
    ek_informer_free(kl->slices);
    kl->pods = kl->services = kl->node = NULL;
    kl->namespaces = kl->slices = NULL;
    ek__kl_node_stop(kl);
    ek__kl_logs_stop(kl);
    ek__kl_health_stop(kl);
    ek__kl_cache_stop(kl);
    if (kl->airgap) {
        kl->closing++;
        ek_image_airgap_stop(kl->airgap, part_closed, kl);
        kl->airgap = NULL;
    }
    /* Pods leave memory only: their shims and containers go on without us. */
    ek_strlist_t uids = { 0 };
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        ek_strlist_add(&uids, k);
    }
    for (size_t i = 0; i < uids.n; i++) {
        kl_pod_t *p = ek_map_get(&kl->by_uid, uids.v[i]);
        if (p) {
            ek__kl_pod_release(p);
        }
    }
    ek_strlist_free(&uids);
    ek__kl_maybe_finish_stop(kl);
}
