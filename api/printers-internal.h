/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the table printers (api/printers*.c): helpers that append cells the way
 * Kubernetes' printers format them, and the printer tables each file defines. Everything
 * here is a pure function of its arguments; none of it is part of api/'s public interface.
 *
 * The printers read objects as kube-apiserver stores them: already defaulted. A field that is
 * missing reads as the zero value of the internal Go type (0, "", false), and an optional
 * (pointer) field that is missing reads as unset, exactly where upstream prints "<unset>".
 */
#ifndef EK_API_PRINTERS_INTERNAL_H
#define EK_API_PRINTERS_INTERNAL_H

#include <time.h>

#include "api/api.h"

/* The first and the usual last column of almost every printer. */
#define EK__DESC_NAME "Name of the object, unique within its namespace (or cluster-wide)."
#define EK__DESC_AGE  "Time since the object was created (metadata.creationTimestamp)."
#define EK__COL_NAME                               \
    {                                              \
        "Name", "string", "name", EK__DESC_NAME, 0 \
    }
#define EK__COL_AGE                          \
    {                                        \
        "Age", "string", "", EK__DESC_AGE, 0 \
    }
/* A column shown by default, and one shown only with -o wide. */
#define EK__COL(name, type, desc) \
    {                             \
        name, type, "", desc, 0   \
    }
#define EK__COL_WIDE(name, type, desc) \
    {                                  \
        name, type, "", desc, 1        \
    }
/* The three -o wide columns of the workload printers. */
#define EK__DESC_CONTAINERS "Names of the containers in the pod template."
#define EK__DESC_IMAGES     "Images of the containers in the pod template."
#define EK__PRINTER(cols, fn)             \
    {                                     \
        (cols), EK_ARRAY_SIZE(cols), (fn) \
    }

/* ---- cells ---- */

/* Appends s (NULL appends ""). */
void ek__cell_str(json_t *cells, const char *s);
void ek__cell_strf(json_t *cells, const char *fmt, ...) EK_PRINTF(2, 3);
/* Appends s and frees it. */
void ek__cell_take(json_t *cells, char *s);
void ek__cell_int(json_t *cells, long long v);
void ek__cell_bool(json_t *cells, bool v);
/* metadata.name */
void ek__cell_name(json_t *cells, const json_t *obj);
/* metadata.creationTimestamp as an age ("5m"), "<unknown>" when unset. */
void ek__cell_age(json_t *cells, const json_t *obj, time_t now);
/* The age of timestamp ts (a JSON string or NULL), "<unknown>" when unset. */
void ek__cell_since(json_t *cells, const json_t *ts, time_t now);
/* Two cells: container names and images of a container list, comma-separated. */
void ek__cells_containers(json_t *cells, const json_t *containers);

/* ---- time ---- */

/*
 * Parses a Kubernetes timestamp (metav1.Time or MicroTime). False when ts is missing, null,
 * unparseable or Go's zero time: every case metav1.Time.IsZero() is true for.
 */
bool ek__time(const json_t *ts, struct timespec *out);
/* duration.HumanDuration of a duration in nanoseconds. Returns buf. */
const char *ek__human_duration(int64_t ns, char buf[static 16]);
/* now - t in nanoseconds, saturated to int64 as Go's time.Sub does. */
int64_t ek__since_ns(const struct timespec *t, time_t now);
/* to - from in nanoseconds, saturated. */
int64_t ek__sub_ns(const struct timespec *to, const struct timespec *from);

/* ---- object helpers ---- */

/* s, or def when s is NULL or empty. */
const char *ek__or(const char *s, const char *def);
/* Number of members of an object or elements of an array; 0 for anything else. */
size_t ek__printer_len(const json_t *v);
/* True when metadata.deletionTimestamp is set. */
bool ek__deleting(const json_t *obj);
/*
 * Status of the first condition of the given type in a conditions array is "True" (the way
 * the Job and Pod printers look conditions up). False when there is none.
 */
bool ek__cond_true(const json_t *conditions, const char *type);
/* The string form of a resource.Quantity value, or def when it is missing. Caller frees. */
char *ek__quantity(const json_t *q, const char *def);
/* The string form of an IntOrString value, or NULL when missing. Caller frees. */
char *ek__intstr(const json_t *v);
/* Sorts n borrowed strings in place (byte order, as Go's sort.Strings). */
void ek__sort_strings(const char **v, size_t n);
/* Sorted, without duplicates, joined with sep, as sets.String.List() then Join. Caller frees. */
char *ek__join_sorted_unique(const char **v, size_t n, const char *sep);
/*
 * A load balancer status's ingress list: each entry's IP, or its host name when it has no IP,
 * sorted and unique, comma-separated ("" when none). Caller frees.
 */
char *ek__lb_ingress(const json_t *ingress);

/* ---- labels and selectors ---- */

/* labels.FormatLabels: "a=b,c=d" sorted by key, "<none>" when empty. Caller frees. */
char *ek__format_labels(const json_t *labels);
/*
 * metav1.LabelSelectorAsSelector(sel).String(): "" for a missing or empty selector, NULL when
 * the selector is invalid. Caller frees.
 */
char *ek__selector_string(const json_t *sel);
/* metav1.FormatLabelSelector: like the above but "<none>" when empty, "<error>" when invalid. */
char *ek__format_selector(const json_t *sel);

/* ---- the printers, by file ---- */

extern const ek_printer_t ek__printer_pod;                         /* printers_pod.c */
extern const ek_printer_t ek__printer_node, ek__printer_namespace, /* printers_core.c */
    ek__printer_service, ek__printer_endpoints, ek__printer_configmap, ek__printer_secret,
    ek__printer_serviceaccount, ek__printer_event, ek__printer_events_event, ek__printer_pv,
    ek__printer_pvc, ek__printer_resourcequota, ek__printer_podtemplate,
    ek__printer_replicationcontroller, ek__printer_componentstatus;
extern const ek_printer_t ek__printer_deployment, ek__printer_replicaset, /* printers_apps.c */
    ek__printer_daemonset, ek__printer_statefulset, ek__printer_controllerrevision, ek__printer_job,
    ek__printer_cronjob, ek__printer_hpa, ek__printer_pdb;
extern const ek_printer_t ek__printer_ingress, ek__printer_ingressclass, /* printers_cluster.c */
    ek__printer_networkpolicy, ek__printer_endpointslice, ek__printer_lease,
    ek__printer_rolebinding, ek__printer_clusterrolebinding, ek__printer_storageclass,
    ek__printer_priorityclass, ek__printer_csr, ek__printer_mutatingwebhook,
    ek__printer_validatingwebhook, ek__printer_runtimeclass, ek__printer_volumeattachment,
    ek__printer_csinode, ek__printer_csidriver;

#endif
