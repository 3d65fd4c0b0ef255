/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to api/defaults.c and api/validate*.c: field-error constructors that spell messages
 * the way Kubernetes' field.Error.ErrorBody() does, Go-style rendering of bad values, the
 * string-format checks of apimachinery (DNS names, qualified names, label values, ports, ...),
 * quantities read from objects, and the per-area validators ek_validate dispatches to.
 * Everything here is a pure function of its arguments.
 */
#ifndef EK_API_VALIDATE_INTERNAL_H
#define EK_API_VALIDATE_INTERNAL_H

#include "api/api.h"

/* Cause reasons (metav1.CauseType / field.ErrorType). */
#define EK_FE_REQUIRED      "FieldValueRequired"
#define EK_FE_INVALID       "FieldValueInvalid"
#define EK_FE_NOT_SUPPORTED "FieldValueNotSupported"
#define EK_FE_DUPLICATE     "FieldValueDuplicate"
#define EK_FE_FORBIDDEN     "FieldValueForbidden"
#define EK_FE_TOO_LONG      "FieldValueTooLong"
#define EK_FE_TOO_MANY      "FieldValueTooMany"
#define EK_FE_NOT_FOUND     "FieldValueNotFound"
#define EK_FE_INTERNAL      "InternalError"
#define EK_FE_TYPE_INVALID  "FieldValueTypeInvalid"

#define EK_MSG_NEGATIVE  "must be greater than or equal to 0"
#define EK_MSG_IMMUTABLE "field is immutable"

/* ---- field errors (validate.c) ---- */

/* The messages a format check produced, in order (validation.IsDNS1123Label & co.). */
typedef struct ek__msgs {
    char buf[2048];
    size_t len;
    int n;
} ek__msgs_t;

/*
 * Appends one error. value is the already rendered bad value (see ek__go_*), or NULL when the
 * error type prints none; detail may be NULL or "".
 */
void ek__fe(ek_field_errors_t *e, const char *type, const char *field, const char *value,
            const char *detail);
void ek__fe_required(ek_field_errors_t *e, const char *field, const char *detail);
void ek__fe_forbidden(ek_field_errors_t *e, const char *field, const char *detail);
void ek__fe_too_long(ek_field_errors_t *e, const char *field, long long max);
void ek__fe_invalid_s(ek_field_errors_t *e, const char *field, const char *v, const char *fmt, ...)
    EK_PRINTF(4, 5);
void ek__fe_invalid_i(ek_field_errors_t *e, const char *field, long long v, const char *fmt, ...)
    EK_PRINTF(4, 5);
/* v rendered as Go's %#v would render the matching Go value (see ek__go_json). */
void ek__fe_invalid_j(ek_field_errors_t *e, const char *field, const json_t *v, const char *fmt,
                      ...) EK_PRINTF(4, 5);
void ek__fe_invalid_raw(ek_field_errors_t *e, const char *field, const char *raw, const char *fmt,
                        ...) EK_PRINTF(4, 5);
/* valid is NULL-terminated; the detail reads `supported values: "A", "B"`. */
void ek__fe_not_supported_s(ek_field_errors_t *e, const char *field, const char *v,
                            const char *const *valid);
void ek__fe_not_supported_raw(ek_field_errors_t *e, const char *field, const char *raw,
                              const char *const *valid);
void ek__fe_duplicate_s(ek_field_errors_t *e, const char *field, const char *v);
void ek__fe_duplicate_raw(ek_field_errors_t *e, const char *field, const char *raw);
void ek__fe_not_found_s(ek_field_errors_t *e, const char *field, const char *v);
/* Invalid(field, v, msg) for every message in m. */
void ek__fe_invalid_msgs(ek_field_errors_t *e, const char *field, const char *v,
                         const ek__msgs_t *m);

/* Moves every error of src to the end of dst, leaving src empty. */
void ek__fe_move(ek_field_errors_t *dst, ek_field_errors_t *src);

/* Go's %q of s. Caller frees. */
char *ek__go_quote(const char *s);
/*
 * Go's %#v of the Go value a JSON value decodes to in the common cases: strings quoted, numbers
 * and booleans plain, null as "null", string maps as map[string]string{"k":"v"} (keys sorted),
 * string lists as []string{"a", "b"}. Caller frees.
 */
char *ek__go_json(const json_t *v);
/* v1.LabelSelector{MatchLabels:..., MatchExpressions:...} as %#v prints it. Caller frees. */
char *ek__go_selector(const json_t *sel);
/* An IntOrString as its String() prints it: the number, or the string unquoted. */
char *ek__go_intstr(const json_t *v);

/* ---- JSON access with Go zero-value semantics ---- */

/* String member or NULL. */
const char *ek__str(const json_t *o, const char *key);
/* String member or "" (Go's zero value). */
const char *ek__sstr(const json_t *o, const char *key);
/* Object / array member or NULL. */
json_t *ek__obj(const json_t *o, const char *key);
json_t *ek__arr(const json_t *o, const char *key);
/* Number of elements of an array or object member, 0 otherwise. */
size_t ek__validate_len(const json_t *o, const char *key);
/* true and *out set when the member is an integer. */
bool ek__int(const json_t *o, const char *key, long long *out);
/* Integer member or def. */
long long ek__intd(const json_t *o, const char *key, long long def);
/* true when the member is boolean true. */
bool ek__true(const json_t *o, const char *key);
/* Member present and not null. */
bool ek__has(const json_t *o, const char *key);
/* Semantic equality: json_equal treating missing and null alike at the top level. */
bool ek__equal(const json_t *a, const json_t *b);

/*
 * Decodes standard base64 (Go's StdEncoding: padded, no whitespace). NULL when invalid, with
 * *bad at the offending byte (Go's "illegal base64 data at input byte N"). Caller frees; the
 * result is NUL-terminated and *len bytes long.
 */
char *ek__b64_decode(const char *s, size_t *len, size_t *bad);

/* printf into a fresh string (a field path); caller frees. */
#define ek__p ek_xasprintf

/* ---- string formats (validate.c); each returns the number of messages appended ---- */

void ek__msgs_init(ek__msgs_t *m);
void ek__msgs_add(ek__msgs_t *m, const char *fmt, ...) EK_PRINTF(2, 3);
int ek__is_dns1123_label(const char *s, ek__msgs_t *m);
int ek__is_dns1123_subdomain(const char *s, ek__msgs_t *m);
int ek__is_dns1035_label(const char *s, ek__msgs_t *m);
int ek__is_wildcard_dns1123_subdomain(const char *s, ek__msgs_t *m);
int ek__is_qualified_name(const char *s, ek__msgs_t *m);
int ek__is_label_value(const char *s, ek__msgs_t *m);
int ek__is_config_map_key(const char *s, ek__msgs_t *m);
int ek__is_env_var_name(const char *s, ek__msgs_t *m);
int ek__is_port_name(const char *s, ek__msgs_t *m);
int ek__is_percent(const char *s, ek__msgs_t *m);
int ek__is_http_header_name(const char *s, ek__msgs_t *m);
int ek__is_path_segment_name(const char *s, ek__msgs_t *m);
bool ek__is_port_num(long long p);
/* Parses an IPv4 or IPv6 address (strict, no leading zeros in v4); family 4 or 6, 0 if not. */
int ek__ip_family(const char *s);
int ek__is_cidr(const char *s);
#define EK_MSG_PORT_RANGE "must be between 1 and 65535, inclusive"

/* Name rules of ObjectMeta.name (NameIsDNSSubdomain & co.); prefix allows a trailing '-'. */
typedef enum {
    EK_NAME_SUBDOMAIN,
    EK_NAME_LABEL,   /* DNS-1123 label: namespaces */
    EK_NAME_DNS1035, /* services */
    EK_NAME_SEGMENT, /* path segment: RBAC objects */
    EK_NAME_NONE,    /* no format rule */
} ek__name_rule_t;
int ek__name_check(ek__name_rule_t rule, const char *name, bool prefix, ek__msgs_t *m);

/* ---- quantities in objects (validate.c; the arithmetic is api/quantity.c's) ---- */

/* A JSON string or number as a quantity; -1 for anything else. */
int ek__quantity_from_json(const json_t *v, ek_quantity_t *q);
/* MilliValue() % 1000 == 0: whole after rounding up to milli units. */
bool ek__quantity_is_integer(const ek_quantity_t *q);

/* ---- label selectors and maps (validate_meta.c) ---- */

/* Every key/value of map. */
void ek__v_labels(ek_field_errors_t *e, const json_t *map, const char *path);
void ek__v_label_name(ek_field_errors_t *e, const char *key, const char *path);
void ek__v_annotations(ek_field_errors_t *e, const json_t *map, const char *path);
/* metav1.LabelSelector (NULL allowed). */
void ek__v_label_selector(ek_field_errors_t *e, const json_t *sel, const char *path);
/*
 * Does sel (a LabelSelector JSON, NULL = nil selector which matches nothing) select labels?
 * *empty is set when the selector selects everything (no requirements).
 */
bool ek__selector_matches(const json_t *sel, const json_t *labels, bool *empty);
void ek__v_nonneg(ek_field_errors_t *e, const json_t *o, const char *key, const char *path);
void ek__v_immutable(ek_field_errors_t *e, const json_t *nv, const json_t *ov, const char *path);

/* ObjectMeta of a top-level object: name rule, namespace scope. */
void ek__v_object_meta(ek_field_errors_t *e, const json_t *obj, bool namespaced,
                       ek__name_rule_t rule);
void ek__v_object_meta_update(ek_field_errors_t *e, const json_t *obj, const json_t *old);

/* ---- per-area validators ---- */

/* A pod template (labels, annotations, spec): path is "spec.template". */
void ek__v_pod_template(ek_field_errors_t *e, const json_t *tmpl, const char *path);
void ek__v_pod(ek_field_errors_t *e, const json_t *pod, const json_t *old);
void ek__v_toleration_list(ek_field_errors_t *e, const json_t *tols, const char *path);
/*
 * Validates spec.volumes at path and returns the volumes that passed, keyed by name, for the
 * mount checks (a volume with errors is left out, as Kubernetes does). Caller decrefs.
 */
json_t *ek__v_volumes(ek_field_errors_t *e, const json_t *vols, const char *path);
/* A relative path without ".." elements (validateLocalDescendingPath). */
void ek__v_local_descending(ek_field_errors_t *e, const char *p, const char *path);
void ek__v_csi_driver(ek_field_errors_t *e, const char *driver, const char *path);
/* Downward API ObjectFieldSelector; allowed is the NULL-terminated, sorted list of paths. */
void ek__v_field_selector(ek_field_errors_t *e, const json_t *fs, const char *const *allowed,
                          const char *path);
void ek__v_resource_field_selector(ek_field_errors_t *e, const json_t *rf, bool volume,
                                   const char *path);
void ek__v_pvc_spec(ek_field_errors_t *e, const json_t *spec, const char *path);
/* validateResourceName; kind 0 = any resource, 1 = container resource. Returns errors added. */
size_t ek__v_resource_name(ek_field_errors_t *e, const char *n, const char *path, int kind);
/* ValidateResourceQuantityValue; *q receives the value. -1 when v is not a quantity. */
int ek__v_resource_quantity(ek_field_errors_t *e, const char *name, const json_t *v,
                            const char *path, ek_quantity_t *q);
/* Name, image, ports, env, mounts, pull policy, resources, security context of a container. */
void ek__v_container_common(ek_field_errors_t *e, const json_t *ctr, const json_t *vols,
                            bool host_users, const char *path);
/* Lifecycle hooks and probes; grace is the pod's terminationGracePeriodSeconds or NULL. */
void ek__v_probes_and_lifecycle(ek_field_errors_t *e, const json_t *ctr, const long long *grace,
                                const char *path);
/* A uid/gid member in 0..4294967295. */
void ek__v_id_range(ek_field_errors_t *e, const json_t *o, const char *key, const char *path);
void ek__v_seccomp(ek_field_errors_t *e, const json_t *sp, const char *path);
void ek__v_apparmor(ek_field_errors_t *e, const json_t *ap, const char *path);
/* ValidateNonSpecialIP (Endpoints, external IPs). */
void ek__v_non_special_ip(ek_field_errors_t *e, const char *ip, const char *path);
/* Node affinity's NodeSelector (PVs use it too). */
void ek__v_node_selector(ek_field_errors_t *e, const json_t *ns, const char *path);
void ek__v_resource_requirements(ek_field_errors_t *e, const json_t *res, const char *path);
void ek__v_int_or_percent(ek_field_errors_t *e, const json_t *v, const char *path);
void ek__v_not_more_than_100(ek_field_errors_t *e, const json_t *v, const char *path);

typedef void (*ek__validate_fn)(ek_field_errors_t *e, const json_t *obj, const json_t *old);

void ek__v_deployment(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_replicaset(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_daemonset(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_statefulset(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_controllerrevision(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_job(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_cronjob(ek_field_errors_t *e, const json_t *o, const json_t *old);
/* robfig/cron v3 ParseStandard: NULL if valid, else its error text. Caller frees. */
char *ek__cron_error(const char *spec);

void ek__v_service(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_configmap(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_secret(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_namespace(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_node(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_pv(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_pvc(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_limitrange(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_resourcequota(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_serviceaccount(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_endpoints(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_event(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_events_v1(ek_field_errors_t *e, const json_t *o, const json_t *old);

void ek__v_ingress(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_ingressclass(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_networkpolicy(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_role(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_clusterrole(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_rolebinding(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_clusterrolebinding(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_pdb(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_priorityclass(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_storageclass(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_lease(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_endpointslice(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_hpa(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_csr(ek_field_errors_t *e, const json_t *o, const json_t *old);
void ek__v_crd(ek_field_errors_t *e, const json_t *o, const json_t *old);

#endif
