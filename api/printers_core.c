/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printers for the core ("" group) kinds other than Pod: Node, Namespace, Service,
 * Endpoints, ConfigMap, Secret, ServiceAccount, Event (also as events.k8s.io/v1 Event, which
 * kube-apiserver serves from the same storage and prints the same way), PersistentVolume,
 * PersistentVolumeClaim, ResourceQuota, PodTemplate, ReplicationController and
 * ComponentStatus.
 */
#include <ctype.h>
#include <stdio.h>

#include "api/printers-internal.h"

/* ---- shared ---- */

/* A string array joined with sep. */
static void join_strings(ek_buf_t *b, const json_t *arr, const char *sep)
{
    size_t i;
    const json_t *v;
    json_array_foreach (arr, i, v) {
        ek_buf_printf(b, "%s%s", i ? sep : "", ek__or(json_string_value(v), ""));
    }
}

/* ---- Node ---- */

static const ek_column_t node_columns[] = {
    EK__COL_NAME,
    EK__COL("Status", "string", "Whether the node is Ready, and whether it takes new pods."),
    EK__COL("Roles", "string", "The node's roles, from its node-role.kubernetes.io/* labels."),
    EK__COL_AGE,
    EK__COL("Version", "string", "The kubelet version the node reports."),
    EK__COL_WIDE("Internal-IP", "string", "The node's first InternalIP address."),
    EK__COL_WIDE("External-IP", "string", "The node's first ExternalIP address."),
    EK__COL_WIDE("OS-Image", "string", "The operating system the node reports."),
    EK__COL_WIDE("Kernel-Version", "string", "The kernel version the node reports."),
    EK__COL_WIDE("Container-Runtime", "string", "The container runtime the node reports."),
};

/* "Ready" or "NotReady" from the (last) Ready condition, "Unknown" without one. */
static void node_status_cell(json_t *cells, const json_t *node)
{
    const char *ready = NULL;
    size_t i;
    const json_t *c;
    json_array_foreach (ek_json_path(node, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "Ready")) {
            ready = ek_streq(ek_json_str(c, "status", NULL), "True") ? "Ready" : "NotReady";
        }
    }
    bool cordoned = ek_json_bool(node, false, "spec", "unschedulable", NULL);
    ek__cell_strf(cells, "%s%s", ready ? ready : "Unknown", cordoned ? ",SchedulingDisabled" : "");
}

/* node-role.kubernetes.io/<role> keys and kubernetes.io/role=<role> values, sorted. */
static void node_roles_cell(json_t *cells, const json_t *node)
{
    const json_t *labels = ek_json_path(node, "metadata", "labels", NULL);
    static const char prefix[] = "node-role.kubernetes.io/";
    ek_autofree const char **roles = ek_xcalloc(ek__printer_len(labels) + 1, sizeof(*roles));
    size_t n = 0;
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)labels, key, v) {
        const char *val = ek__or(json_string_value(v), "");
        if (ek_has_prefix(key, prefix) && key[sizeof(prefix) - 1]) {
            roles[n++] = key + sizeof(prefix) - 1;
        } else if (strcmp(key, "kubernetes.io/role") == 0 && *val) {
            roles[n++] = val;
        }
    }
    char *s = ek__join_sorted_unique(roles, n, ",");
    ek__cell_str(cells, *s ? s : "<none>");
    free(s);
}

static const char *node_address(const json_t *node, const char *type)
{
    size_t i;
    const json_t *a;
    json_array_foreach (ek_json_path(node, "status", "addresses", NULL), i, a) {
        if (ek_streq(ek_json_str(a, "type", NULL), type)) {
            return ek__or(ek_json_str(a, "address", NULL), "");
        }
    }
    return "<none>";
}

static void node_row(const json_t *node, time_t now, json_t *cells)
{
    const json_t *info = ek_json_path(node, "status", "nodeInfo", NULL);
    ek__cell_name(cells, node);
    node_status_cell(cells, node);
    node_roles_cell(cells, node);
    ek__cell_age(cells, node, now);
    ek__cell_str(cells, ek_json_str(info, "kubeletVersion", NULL));
    ek__cell_str(cells, node_address(node, "InternalIP"));
    ek__cell_str(cells, node_address(node, "ExternalIP"));
    ek__cell_str(cells, ek__or(ek_json_str(info, "osImage", NULL), "<unknown>"));
    ek__cell_str(cells, ek__or(ek_json_str(info, "kernelVersion", NULL), "<unknown>"));
    ek__cell_str(cells, ek__or(ek_json_str(info, "containerRuntimeVersion", NULL), "<unknown>"));
}

const ek_printer_t ek__printer_node = EK__PRINTER(node_columns, node_row);

/* ---- Namespace ---- */

static const ek_column_t namespace_columns[] = {
    EK__COL_NAME,
    EK__COL("Status", "string", "The namespace's phase: Active or Terminating."),
    EK__COL_AGE,
};

static void namespace_row(const json_t *ns, time_t now, json_t *cells)
{
    ek__cell_name(cells, ns);
    ek__cell_str(cells, ek_json_str(ns, "status", "phase", NULL));
    ek__cell_age(cells, ns, now);
}

const ek_printer_t ek__printer_namespace = EK__PRINTER(namespace_columns, namespace_row);

/* ---- Service ---- */

static const ek_column_t service_columns[] = {
    EK__COL_NAME,
    EK__COL("Type", "string", "How the service is exposed: ClusterIP, NodePort, ..."),
    EK__COL("Cluster-IP", "string", "The service's virtual IP inside the cluster."),
    EK__COL("External-IP", "string", "Addresses the service is reachable at from outside."),
    EK__COL("Port(s)", "string", "The service's ports, with node ports, and protocols."),
    EK__COL_AGE,
    EK__COL_WIDE("Selector", "string", "Labels of the pods the service routes to."),
};

static char *external_ips(const json_t *svc, const char *none)
{
    const json_t *ips = ek_json_path(svc, "spec", "externalIPs", NULL);
    if (ek__printer_len(ips) == 0) {
        return none ? ek_xstrdup(none) : NULL;
    }
    ek_buf_t b = EK_BUF_INIT;
    join_strings(&b, ips, ",");
    return ek_buf_steal(&b, NULL);
}

/* Wide form: kube-apiserver always renders tables wide, so nothing is clipped. */
static char *service_external_ip(const json_t *svc)
{
    const char *type = ek__or(ek_json_str(svc, "spec", "type", NULL), "");
    if (strcmp(type, "ClusterIP") == 0 || strcmp(type, "NodePort") == 0) {
        return external_ips(svc, "<none>");
    }
    if (strcmp(type, "ExternalName") == 0) {
        return ek_xstrdup(ek__or(ek_json_str(svc, "spec", "externalName", NULL), ""));
    }
    if (strcmp(type, "LoadBalancer") != 0) {
        return ek_xstrdup("<unknown>");
    }
    char *lb = ek__lb_ingress(ek_json_path(svc, "status", "loadBalancer", "ingress", NULL));
    char *ext = external_ips(svc, NULL);
    char *r;
    if (ext) {
        r = *lb ? ek_xasprintf("%s,%s", lb, ext) : ek_xstrdup(ext);
    } else {
        r = ek_xstrdup(*lb ? lb : "<pending>");
    }
    free(lb);
    free(ext);
    return r;
}

static void service_ports_cell(json_t *cells, const json_t *svc)
{
    ek_autobuf b = EK_BUF_INIT;
    size_t i;
    const json_t *p;
    json_array_foreach (ek_json_path(svc, "spec", "ports", NULL), i, p) {
        long long port = ek_json_int(p, 0, "port", NULL);
        long long node_port = ek_json_int(p, 0, "nodePort", NULL);
        const char *proto = ek__or(ek_json_str(p, "protocol", NULL), "");
        ek_buf_printf(&b, "%s%lld", i ? "," : "", port);
        if (node_port > 0) {
            ek_buf_printf(&b, ":%lld", node_port);
        }
        ek_buf_printf(&b, "/%s", proto);
    }
    ek__cell_str(cells, b.len ? b.data : "<none>");
}

/* spec.clusterIP wins over clusterIPs, as the v1-to-internal conversion decides. */
static const char *cluster_ip(const json_t *svc)
{
    const char *ip = ek_json_str(svc, "spec", "clusterIP", NULL);
    if (ip && *ip) {
        return ip;
    }
    const json_t *ips = ek_json_path(svc, "spec", "clusterIPs", NULL);
    if (ek__printer_len(ips) == 0) {
        return "<none>";
    }
    return ek__or(json_string_value(json_array_get(ips, 0)), "");
}

static void service_row(const json_t *svc, time_t now, json_t *cells)
{
    ek__cell_name(cells, svc);
    ek__cell_str(cells, ek_json_str(svc, "spec", "type", NULL));
    ek__cell_str(cells, cluster_ip(svc));
    ek__cell_take(cells, service_external_ip(svc));
    service_ports_cell(cells, svc);
    ek__cell_age(cells, svc, now);
    ek__cell_take(cells, ek__format_labels(ek_json_path(svc, "spec", "selector", NULL)));
}

const ek_printer_t ek__printer_service = EK__PRINTER(service_columns, service_row);

/* ---- Endpoints ---- */

static const ek_column_t endpoints_columns[] = {
    EK__COL_NAME,
    EK__COL("Endpoints", "string", "The first few ready addresses and ports."),
    EK__COL_AGE,
};

#define MAX_LISTED 3

struct listing {
    ek_buf_t text;
    size_t listed; /* entries written to text, at most MAX_LISTED */
    size_t total;  /* entries counted, listed or not */
    bool more;     /* an entry did not fit */
};

static void listing_add(struct listing *l, const char *host, long long port, bool with_port)
{
    if (l->listed == MAX_LISTED) {
        l->more = true;
        return;
    }
    const char *sep = l->listed++ ? "," : "";
    if (!with_port) {
        ek_buf_printf(&l->text, "%s%s", sep, host);
    } else if (strchr(host, ':')) {
        ek_buf_printf(&l->text, "%s[%s]:%lld", sep, host, port); /* net.JoinHostPort */
    } else {
        ek_buf_printf(&l->text, "%s%s:%lld", sep, host, port);
    }
}

/* Every address once per port ("ip:port"); bare IPs for a subset without ports. */
static void endpoints_subset(struct listing *l, const json_t *ss)
{
    const json_t *addrs = ek_json_path(ss, "addresses", NULL);
    const json_t *ports = ek_json_path(ss, "ports", NULL);
    size_t i, j;
    const json_t *a, *p;
    if (ek__printer_len(ports) == 0) {
        l->total += ek__printer_len(addrs);
        json_array_foreach (addrs, i, a) {
            listing_add(l, ek__or(ek_json_str(a, "ip", NULL), ""), 0, false);
        }
        return;
    }
    json_array_foreach (ports, j, p) {
        l->total += ek__printer_len(addrs);
        json_array_foreach (addrs, i, a) {
            listing_add(l, ek__or(ek_json_str(a, "ip", NULL), ""), ek_json_int(p, 0, "port", NULL),
                        true);
        }
    }
}

static void endpoints_row(const json_t *ep, time_t now, json_t *cells)
{
    const json_t *subsets = ek_json_path(ep, "subsets", NULL);
    ek__cell_name(cells, ep);
    if (ek__printer_len(subsets) == 0) {
        ek__cell_str(cells, "<none>");
    } else {
        struct listing l = { .text = EK_BUF_INIT };
        ek_buf_puts(&l.text, "");
        size_t i;
        const json_t *ss;
        json_array_foreach (subsets, i, ss) {
            endpoints_subset(&l, ss);
        }
        if (l.more) {
            ek_buf_printf(&l.text, " + %zu more...", l.total - MAX_LISTED);
        }
        ek__cell_str(cells, l.text.data);
        ek_buf_free(&l.text);
    }
    ek__cell_age(cells, ep, now);
}

const ek_printer_t ek__printer_endpoints = EK__PRINTER(endpoints_columns, endpoints_row);

/* ---- ConfigMap, Secret, ServiceAccount ---- */

static const ek_column_t configmap_columns[] = {
    EK__COL_NAME,
    EK__COL("Data", "string", "Number of keys in data and binaryData."),
    EK__COL_AGE,
};

static void configmap_row(const json_t *cm, time_t now, json_t *cells)
{
    ek__cell_name(cells, cm);
    ek__cell_int(cells, (long long)(ek__printer_len(ek_json_path(cm, "data", NULL)) +
                                    ek__printer_len(ek_json_path(cm, "binaryData", NULL))));
    ek__cell_age(cells, cm, now);
}

const ek_printer_t ek__printer_configmap = EK__PRINTER(configmap_columns, configmap_row);

static const ek_column_t secret_columns[] = {
    EK__COL_NAME,
    EK__COL("Type", "string", "The secret's type, such as Opaque or kubernetes.io/tls."),
    EK__COL("Data", "string", "Number of keys in data."),
    EK__COL_AGE,
};

static void secret_row(const json_t *secret, time_t now, json_t *cells)
{
    ek__cell_name(cells, secret);
    ek__cell_str(cells, ek_json_str(secret, "type", NULL));
    ek__cell_int(cells, (long long)ek__printer_len(ek_json_path(secret, "data", NULL)));
    ek__cell_age(cells, secret, now);
}

const ek_printer_t ek__printer_secret = EK__PRINTER(secret_columns, secret_row);

static const ek_column_t serviceaccount_columns[] = {
    EK__COL_NAME,
    EK__COL("Secrets", "string", "Number of secrets listed in the service account."),
    EK__COL_AGE,
};

static void serviceaccount_row(const json_t *sa, time_t now, json_t *cells)
{
    ek__cell_name(cells, sa);
    ek__cell_int(cells, (long long)ek__printer_len(ek_json_path(sa, "secrets", NULL)));
    ek__cell_age(cells, sa, now);
}

const ek_printer_t ek__printer_serviceaccount =
    EK__PRINTER(serviceaccount_columns, serviceaccount_row);

/* ---- Event (core/v1 and events.k8s.io/v1) ---- */

static const ek_column_t event_columns[] = {
    EK__COL("Last Seen", "string", "Time since the event was last observed."),
    EK__COL("Type", "string", "Normal or Warning."),
    EK__COL("Reason", "string", "Why the event happened, in one CamelCase word."),
    EK__COL("Object", "string", "The object the event is about, as kind/name."),
    EK__COL_WIDE("Subobject", "string", "The part of the object, such as a container."),
    EK__COL_WIDE("Source", "string", "The component (and host) that reported the event."),
    EK__COL("Message", "string", "What happened, for humans."),
    EK__COL_WIDE("First Seen", "string", "Time since the event was first observed."),
    EK__COL_WIDE("Count", "string", "How many times the event was observed."),
    { "Name", "string", "name", EK__DESC_NAME, 1 },
};

/* Where each version keeps the fields the printer reads. */
struct event_fields {
    const char *regarding, *message, *source, *first, *last, *count, *controller;
};

static const struct event_fields core_event = {
    "involvedObject",     "message", "source", "firstTimestamp", "lastTimestamp", "count",
    "reportingComponent",
};
static const struct event_fields events_event = {
    "regarding",
    "note",
    "deprecatedSource",
    "deprecatedFirstTimestamp",
    "deprecatedLastTimestamp",
    "deprecatedCount",
    "reportingController",
};

static void since_into(char buf[static 16], const json_t *ts, time_t now)
{
    struct timespec t;
    if (ek__time(ts, &t)) {
        ek__human_duration(ek__since_ns(&t, now), buf);
    } else {
        snprintf(buf, 16, "<unknown>");
    }
}

/* "kubelet, node1": the source, or the reporting controller and instance instead. */
static void event_source_cell(json_t *cells, const json_t *ev, const struct event_fields *f)
{
    const char *component = ek__or(ek_json_str(ev, f->source, "component", NULL),
                                   ek__or(ek_json_str(ev, f->controller, NULL), ""));
    const char *host = ek__or(ek_json_str(ev, f->source, "host", NULL),
                              ek__or(ek_json_str(ev, "reportingInstance", NULL), ""));
    if (*host) {
        ek__cell_strf(cells, "%s, %s", component, host);
    } else {
        ek__cell_str(cells, component);
    }
}

/* The message without leading and trailing white space. */
static void trimmed_cell(json_t *cells, const char *s)
{
    static const char space[] = " \t\n\v\f\r";
    s = s ? s : "";
    s += strspn(s, space);
    size_t n = strlen(s);
    while (n > 0 && strchr(space, s[n - 1])) {
        n--;
    }
    ek__cell_take(cells, ek_xstrndup(s, n));
}

static void event_object_cell(json_t *cells, const json_t *ref)
{
    ek_autofree char *kind = ek_xstrdup(ek__or(ek_json_str(ref, "kind", NULL), ""));
    for (char *p = kind; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    const char *name = ek_json_str(ref, "name", NULL);
    if (name && *name) {
        ek__cell_strf(cells, "%s/%s", kind, name);
    } else {
        ek__cell_str(cells, kind);
    }
}

static void event_cells(const json_t *ev, time_t now, json_t *cells, const struct event_fields *f)
{
    char first[16], last[16];
    struct timespec t;
    if (ek__time(ek_json_path(ev, f->first, NULL), &t)) {
        since_into(first, ek_json_path(ev, f->first, NULL), now);
    } else {
        since_into(first, ek_json_path(ev, "eventTime", NULL), now);
    }
    if (ek__time(ek_json_path(ev, f->last, NULL), &t)) {
        since_into(last, ek_json_path(ev, f->last, NULL), now);
    } else {
        memcpy(last, first, sizeof(last));
    }
    long long count = ek_json_int(ev, 0, f->count, NULL);
    const json_t *series = ek_json_path(ev, "series", NULL);
    if (json_is_object(series)) {
        since_into(last, ek_json_path(series, "lastObservedTime", NULL), now);
        count = ek_json_int(series, 0, "count", NULL);
    } else if (count == 0) {
        count = 1; /* events.k8s.io singletons carry no count */
    }
    const json_t *ref = ek_json_path(ev, f->regarding, NULL);
    ek__cell_str(cells, last);
    ek__cell_str(cells, ek_json_str(ev, "type", NULL));
    ek__cell_str(cells, ek_json_str(ev, "reason", NULL));
    event_object_cell(cells, ref);
    ek__cell_str(cells, ek_json_str(ref, "fieldPath", NULL));
    event_source_cell(cells, ev, f);
    trimmed_cell(cells, ek_json_str(ev, f->message, NULL));
    ek__cell_str(cells, first);
    ek__cell_int(cells, count);
    ek__cell_name(cells, ev);
}

static void event_row(const json_t *ev, time_t now, json_t *cells)
{
    event_cells(ev, now, cells, &core_event);
}

static void events_event_row(const json_t *ev, time_t now, json_t *cells)
{
    event_cells(ev, now, cells, &events_event);
}

const ek_printer_t ek__printer_event = EK__PRINTER(event_columns, event_row);
const ek_printer_t ek__printer_events_event = EK__PRINTER(event_columns, events_event_row);

/* ---- PersistentVolume, PersistentVolumeClaim ---- */

static const ek_column_t pv_columns[] = {
    EK__COL_NAME,
    EK__COL("Capacity", "string", "The volume's storage capacity."),
    EK__COL("Access Modes", "string", "How the volume can be mounted: RWO, ROX, RWX, RWOP."),
    EK__COL("Reclaim Policy", "string", "What happens to the volume when its claim goes."),
    EK__COL("Status", "string", "The volume's phase, or Terminating."),
    EK__COL("Claim", "string", "The claim bound to the volume, as namespace/name."),
    EK__COL("StorageClass", "string", "The volume's storage class."),
    EK__COL("VolumeAttributesClass", "string", "The volume's attributes class."),
    EK__COL("Reason", "string", "Why the volume is in its phase, if it says."),
    EK__COL_AGE,
    EK__COL_WIDE("VolumeMode", "string", "Filesystem or Block."),
};

/* Always in the order RWO, ROX, RWX, RWOP, each once. */
static void access_modes(ek_buf_t *b, const json_t *modes)
{
    static const char *const names[][2] = {
        { "ReadWriteOnce", "RWO" },
        { "ReadOnlyMany", "ROX" },
        { "ReadWriteMany", "RWX" },
        { "ReadWriteOncePod", "RWOP" },
    };
    ek_buf_puts(b, "");
    for (size_t k = 0; k < EK_ARRAY_SIZE(names); k++) {
        size_t i;
        const json_t *m;
        json_array_foreach (modes, i, m) {
            if (ek_streq(json_string_value(m), names[k][0])) {
                ek_buf_printf(b, "%s%s", b->len ? "," : "", names[k][1]);
                break;
            }
        }
    }
}

/* The beta annotation, when present, overrides the class named in the spec. */
static const char *storage_class(const json_t *obj)
{
    const char *beta = ek_json_str(obj, "metadata", "annotations",
                                   "volume.beta.kubernetes.io/storage-class", NULL);
    return beta ? beta : ek_json_str(obj, "spec", "storageClassName", NULL);
}

static const char *phase_or_terminating(const json_t *obj)
{
    return ek__deleting(obj) ? "Terminating" : ek_json_str(obj, "status", "phase", NULL);
}

static void pv_row(const json_t *pv, time_t now, json_t *cells)
{
    const json_t *claim = ek_json_path(pv, "spec", "claimRef", NULL);
    ek_autobuf modes = EK_BUF_INIT;
    access_modes(&modes, ek_json_path(pv, "spec", "accessModes", NULL));
    ek__cell_name(cells, pv);
    ek__cell_take(cells, ek__quantity(ek_json_path(pv, "spec", "capacity", "storage", NULL), "0"));
    ek__cell_str(cells, modes.data);
    ek__cell_str(cells, ek_json_str(pv, "spec", "persistentVolumeReclaimPolicy", NULL));
    ek__cell_str(cells, phase_or_terminating(pv));
    if (json_is_object(claim)) {
        ek__cell_strf(cells, "%s/%s", ek__or(ek_json_str(claim, "namespace", NULL), ""),
                      ek__or(ek_json_str(claim, "name", NULL), ""));
    } else {
        ek__cell_str(cells, "");
    }
    ek__cell_str(cells, storage_class(pv));
    ek__cell_str(cells,
                 ek__or(ek_json_str(pv, "spec", "volumeAttributesClassName", NULL), "<unset>"));
    ek__cell_str(cells, ek_json_str(pv, "status", "reason", NULL));
    ek__cell_age(cells, pv, now);
    ek__cell_str(cells, ek__or(ek_json_str(pv, "spec", "volumeMode", NULL), "<unset>"));
}

const ek_printer_t ek__printer_pv = EK__PRINTER(pv_columns, pv_row);

static const ek_column_t pvc_columns[] = {
    EK__COL_NAME,
    EK__COL("Status", "string", "The claim's phase, or Terminating."),
    EK__COL("Volume", "string", "The volume bound to the claim."),
    EK__COL("Capacity", "string", "The bound volume's capacity."),
    EK__COL("Access Modes", "string", "How the bound volume can be mounted."),
    EK__COL("StorageClass", "string", "The claim's storage class."),
    EK__COL("VolumeAttributesClass", "string", "The claim's volume attributes class."),
    EK__COL_AGE,
    EK__COL_WIDE("VolumeMode", "string", "Filesystem or Block."),
};

/* Capacity and access modes come from the status, and only once a volume is bound. */
static void pvc_row(const json_t *pvc, time_t now, json_t *cells)
{
    const char *volume = ek__or(ek_json_str(pvc, "spec", "volumeName", NULL), "");
    ek_autobuf modes = EK_BUF_INIT;
    ek_buf_puts(&modes, "");
    char *capacity = ek_xstrdup("");
    if (*volume) {
        access_modes(&modes, ek_json_path(pvc, "status", "accessModes", NULL));
        free(capacity);
        capacity = ek__quantity(ek_json_path(pvc, "status", "capacity", "storage", NULL), "0");
    }
    ek__cell_name(cells, pvc);
    ek__cell_str(cells, phase_or_terminating(pvc));
    ek__cell_str(cells, volume);
    ek__cell_take(cells, capacity);
    ek__cell_str(cells, modes.data);
    ek__cell_str(cells, storage_class(pvc));
    ek__cell_str(cells,
                 ek__or(ek_json_str(pvc, "spec", "volumeAttributesClassName", NULL), "<unset>"));
    ek__cell_age(cells, pvc, now);
    ek__cell_str(cells, ek__or(ek_json_str(pvc, "spec", "volumeMode", NULL), "<unset>"));
}

const ek_printer_t ek__printer_pvc = EK__PRINTER(pvc_columns, pvc_row);

/* ---- ResourceQuota ---- */

static const ek_column_t resourcequota_columns[] = {
    EK__COL_NAME,
    EK__COL_AGE,
    EK__COL("Request", "string", "Used and hard amounts of the quota's request resources."),
    EK__COL("Limit", "string", "Used and hard amounts of the quota's limits.* resources."),
};

/* "cpu: 100m/1, pods: 2/10": each hard resource in name order, limits.* in the Limit column. */
static void resourcequota_row(const json_t *rq, time_t now, json_t *cells)
{
    const json_t *hard = ek_json_path(rq, "status", "hard", NULL);
    const json_t *used = ek_json_path(rq, "status", "used", NULL);
    ek_autofree const char **names = ek_xcalloc(ek__printer_len(hard) + 1, sizeof(*names));
    size_t n = 0;
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)hard, key, v) {
        names[n++] = key;
    }
    ek__sort_strings(names, n);
    ek_autobuf request = EK_BUF_INIT;
    ek_autobuf limit = EK_BUF_INIT;
    ek_buf_puts(&request, "");
    ek_buf_puts(&limit, "");
    for (size_t i = 0; i < n; i++) {
        ek_buf_t *b = ek_has_prefix(names[i], "limits.") ? &limit : &request;
        ek_autofree char *u = ek__quantity(ek_json_path(used, names[i], NULL), "0");
        ek_autofree char *h = ek__quantity(ek_json_path(hard, names[i], NULL), "0");
        ek_buf_printf(b, "%s%s: %s/%s", b->len ? ", " : "", names[i], u, h);
    }
    ek__cell_name(cells, rq);
    ek__cell_age(cells, rq, now);
    ek__cell_str(cells, request.data);
    ek__cell_str(cells, limit.data);
}

const ek_printer_t ek__printer_resourcequota =
    EK__PRINTER(resourcequota_columns, resourcequota_row);

/* ---- PodTemplate, ReplicationController, ComponentStatus ---- */

static const ek_column_t podtemplate_columns[] = {
    EK__COL_NAME,
    EK__COL("Containers", "string", EK__DESC_CONTAINERS),
    EK__COL("Images", "string", EK__DESC_IMAGES),
    EK__COL("Pod Labels", "string", "Labels of the pods made from the template."),
};

static void podtemplate_row(const json_t *pt, time_t now, json_t *cells)
{
    EK_UNUSED(now);
    ek__cell_name(cells, pt);
    ek__cells_containers(cells, ek_json_path(pt, "template", "spec", "containers", NULL));
    ek__cell_take(cells,
                  ek__format_labels(ek_json_path(pt, "template", "metadata", "labels", NULL)));
}

const ek_printer_t ek__printer_podtemplate = EK__PRINTER(podtemplate_columns, podtemplate_row);

static const ek_column_t replicationcontroller_columns[] = {
    EK__COL_NAME,
    EK__COL("Desired", "integer", "Number of pods wanted."),
    EK__COL("Current", "integer", "Number of pods that exist."),
    EK__COL("Ready", "integer", "Number of pods that are ready."),
    EK__COL_AGE,
    EK__COL_WIDE("Containers", "string", EK__DESC_CONTAINERS),
    EK__COL_WIDE("Images", "string", EK__DESC_IMAGES),
    EK__COL_WIDE("Selector", "string", "Labels of the pods the controller manages."),
};

static void replicationcontroller_row(const json_t *rc, time_t now, json_t *cells)
{
    ek__cell_name(cells, rc);
    ek__cell_int(cells, ek_json_int(rc, 0, "spec", "replicas", NULL));
    ek__cell_int(cells, ek_json_int(rc, 0, "status", "replicas", NULL));
    ek__cell_int(cells, ek_json_int(rc, 0, "status", "readyReplicas", NULL));
    ek__cell_age(cells, rc, now);
    ek__cells_containers(cells, ek_json_path(rc, "spec", "template", "spec", "containers", NULL));
    ek__cell_take(cells, ek__format_labels(ek_json_path(rc, "spec", "selector", NULL)));
}

const ek_printer_t ek__printer_replicationcontroller =
    EK__PRINTER(replicationcontroller_columns, replicationcontroller_row);

static const ek_column_t componentstatus_columns[] = {
    EK__COL_NAME,
    EK__COL("Status", "string", "Healthy, Unhealthy or Unknown."),
    EK__COL("Message", "string", "What the health check said."),
    EK__COL("Error", "string", "The health check's error, if any."),
};

static void componentstatus_row(const json_t *cs, time_t now, json_t *cells)
{
    EK_UNUSED(now);
    const char *status = "Unknown", *message = "", *error = "";
    size_t i;
    const json_t *c;
    json_array_foreach (ek_json_path(cs, "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "Healthy")) {
            status = ek_streq(ek_json_str(c, "status", NULL), "True") ? "Healthy" : "Unhealthy";
            message = ek__or(ek_json_str(c, "message", NULL), "");
            error = ek__or(ek_json_str(c, "error", NULL), "");
            break;
        }
    }
    ek__cell_name(cells, cs);
    ek__cell_str(cells, status);
    ek__cell_str(cells, message);
    ek__cell_str(cells, error);
}

const ek_printer_t ek__printer_componentstatus =
    EK__PRINTER(componentstatus_columns, componentstatus_row);
