/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api/: the Kubernetes object model every part speaks — the resource table, object metadata
 * helpers, quantities, label and field selectors, patches (JSON merge, strategic merge, JSON
 * patch), and the API client with informer caches. This is the part's one public header.
 */
#ifndef EK_API_API_H
#define EK_API_API_H

#include "lib/lib.h"

/* ---- selectors, quantities, patches (api/selector.c, api/quantity.c, api/patch.c) ---- */

/* ---- schemas of the built-in kinds (api/schema.c; language in api/schema/README.md) ---- */

typedef enum {
    EK_ST_STRING,
    EK_ST_BOOL,
    EK_ST_INT32,
    EK_ST_INT64,
    EK_ST_NUMBER,
    EK_ST_QUANTITY,
    EK_ST_INTSTR,
    EK_ST_TIME,
    EK_ST_BYTES,
    EK_ST_ANY,
    EK_ST_OBJECT,
    EK_ST_ARRAY,
    EK_ST_MAP,
    EK_ST_REF,
} ek_schema_kind_t;

typedef struct ek_schema_type ek_schema_type_t;

/* A type expression: a primitive, []elem, map[elem] or a reference to a named type. */
typedef struct ek_schema_ty {
    ek_schema_kind_t kind;
    const struct ek_schema_ty *elem; /* ARRAY, MAP */
    const ek_schema_type_t *ref;     /* REF, once loaded */
    const char *ref_name;            /* REF */
} ek_schema_ty_t;

#define EK_SF_REQUIRED    0x1
#define EK_SF_SET         0x2 /* primitive list merged as a set */
#define EK_SF_REPLACE     0x4
#define EK_SF_RETAIN_KEYS 0x8
#define EK_SF_READONLY    0x10

typedef struct ek_schema_field {
    const char *name;
    const ek_schema_ty_t *ty;
    const char *description;
    unsigned flags;
    const char *merge_key;     /* strategic merge key of a list, or NULL */
    const char *default_value; /* documentation only */
    char **enum_values;
    size_t n_enum;
} ek_schema_field_t;

struct ek_schema_type {
    const char *name;    /* "DeploymentSpec" */
    const char *package; /* "apps.v1" */
    const char *description;
    ek_schema_field_t *fields;
    size_t n_fields;
};

/* Parses the embedded schema text (idempotent; call once at start, before other threads). */
int ek_schema_load(ek_error_t **err);
/* Named type or NULL. Borrowed, immutable. */
const ek_schema_type_t *ek_schema_type(const char *name);
const ek_schema_field_t *ek_schema_field(const ek_schema_type_t *t, const char *name);
/* All types, sorted by name. */
size_t ek_schema_types(const ek_schema_type_t **out);
/* The OpenAPI definition name ("io.k8s.api.apps.v1.Deployment") written into buf. */
const char *ek_schema_openapi_name(const ek_schema_type_t *t, char *buf, size_t len);

/* What ek_schema_check finds; path is the JSON path ("spec.template.spec.containers[0].x"). */
typedef enum {
    EK_SCHEMA_UNKNOWN_FIELD, /* detail NULL */
    EK_SCHEMA_WRONG_TYPE,    /* detail: Go decoder message tail, see ek_schema_check */
    EK_SCHEMA_BAD_ENUM,      /* detail: "supported values: \"A\", \"B\"" */
    EK_SCHEMA_REQUIRED,      /* detail NULL */
} ek_schema_issue_kind_t;

typedef void (*ek_schema_issue_cb)(ek_schema_issue_kind_t kind, const char *path,
                                   const char *detail, void *data);
/*
 * Walks obj against type t and reports every issue through cb, in document order. For
 * WRONG_TYPE the detail reads like Go's decoder: "cannot unmarshal string into Go struct
 * field DeploymentSpec.spec.replicas of type int32". Returns the number of issues.
 */
int ek_schema_check(const ek_schema_type_t *t, const json_t *obj, ek_schema_issue_cb cb,
                    void *data);

/* ---- table printers: `kubectl get` columns (api/printers.c) ---- */

typedef struct ek_column {
    const char *name;        /* "Name", "Ready", "Status", ... as Kubernetes names them */
    const char *type;        /* "string", "integer", "number", "boolean", "date" */
    const char *format;      /* "name" for the name column, else "" */
    const char *description;
    int priority;            /* 0 = always shown, 1 = only with -o wide */
} ek_column_t;

typedef struct ek_printer {
    const ek_column_t *columns;
    size_t n_columns;
    /* Appends one cell per column to cells (a JSON array) for obj, as of wall time now. */
    void (*row)(const json_t *obj, time_t now, json_t *cells);
} ek_printer_t;

/*
 * The printer Kubernetes uses for group/kind ("" for core), or the default printer (Name and
 * Created At, as kube-apiserver does for kinds without one) when there is none. Borrowed.
 */
const ek_printer_t *ek_printer_for(const char *group, const char *kind);
/* "5m", "3h12m", "2d" — Kubernetes' duration.HumanDuration of (now - t). buf needs 16 bytes. */
const char *ek_human_age(time_t t, time_t now, char buf[static 16]);

/* ---- resource table and object helpers (api/resources.c, api/object.c) ---- */

/* Verbs (discovery order is alphabetical; see ek_verb_names). */
#define EK_VERB_CREATE           0x01
#define EK_VERB_DELETE           0x02
#define EK_VERB_DELETECOLLECTION 0x04
#define EK_VERB_GET              0x08
#define EK_VERB_LIST             0x10
#define EK_VERB_PATCH            0x20
#define EK_VERB_UPDATE           0x40
#define EK_VERB_WATCH            0x80
#define EK_VERBS_ALL             0xff
#define EK_VERBS_NO_COLLECTION   (EK_VERBS_ALL & ~EK_VERB_DELETECOLLECTION)
#define EK_VERBS_READ            (EK_VERB_GET | EK_VERB_LIST | EK_VERB_WATCH)

/* Subresources. */
typedef enum {
    EK_SUB_NONE = 0,
    EK_SUB_STATUS,
    EK_SUB_SCALE,
    EK_SUB_BINDING,
    EK_SUB_LOG,
    EK_SUB_EXEC,
    EK_SUB_ATTACH,
    EK_SUB_PORTFORWARD,
    EK_SUB_PROXY,
    EK_SUB_EVICTION,
    EK_SUB_EPHEMERALCONTAINERS,
    EK_SUB_TOKEN,
    EK_SUB_APPROVAL,
    EK_SUB_FINALIZE,
    EK_SUB__COUNT,
} ek_subresource_t;
#define EK_SUBBIT(s) (1u << (s))

/* Behaviour flags. */
#define EK_RES_GENERATION 0x01 /* metadata.generation bumps when spec changes */
#define EK_RES_STATUS     0x02 /* status is written only through the status subresource */
#define EK_RES_GRACEFUL   0x04 /* deletion is graceful (pods): deletionTimestamp first */
#define EK_RES_VIRTUAL    0x08 /* not stored (reviews, metrics): create/get handled specially */
#define EK_RES_CUSTOM     0x10 /* a CustomResourceDefinition's resource */
#define EK_RES_NO_SMP     0x20 /* strategic merge patch not supported (custom resources) */

typedef struct ek_resource {
    const char *group;      /* "" for the core group */
    const char *version;
    const char *kind;
    const char *plural;
    const char *singular;
    bool namespaced;
    const char *short_names;  /* space-separated, or NULL */
    const char *categories;   /* space-separated, or NULL */
    unsigned verbs;
    unsigned subresources;    /* EK_SUBBIT(...) */
    unsigned flags;
    const char *schema_type;  /* name in the schema tables, or NULL (custom resources) */
    const char *field_selectors; /* space-separated extra fields beyond metadata.name/namespace */
    int64_t ttl_s;               /* objects expire (events: 3600) */
    const char *storage_plural;  /* shares storage with another resource ("events"), or NULL */
    const char *storage_group;
    /* Custom resources: the CRD's version schema (owned by the registry) etc. */
    json_t *custom;
} ek_resource_t;

/* Looks up by group/version/plural. Borrowed; valid until the resource is removed. */
const ek_resource_t *ek_resource_find(const char *group, const char *version, const char *plural);
/* Preferred-version resource for group/kind (version NULL) or an exact group/version/kind. */
const ek_resource_t *ek_resource_by_kind(const char *group, const char *version,
                                         const char *kind);
/* All resources in registration order: built-ins first, then custom resources. */
size_t ek_resource_count(void);
const ek_resource_t *ek_resource_at(size_t i);
/* Registers a custom resource (copied). Replaces an existing group/version/plural entry. */
const ek_resource_t *ek_resource_add(const ek_resource_t *r);
void ek_resource_remove(const char *group, const char *version, const char *plural);
/* Bumped on every add/remove: discovery caches compare it. */
uint64_t ek_resource_generation(void);

/* "apps/v1" or "v1". buf needs 128 bytes. */
const char *ek_resource_api_version(const ek_resource_t *r, char buf[static 128]);
/* Storage key prefix of a resource: "/registry/<group or core>/<plural>/". Caller frees. */
char *ek_resource_key_prefix(const ek_resource_t *r);
/* Storage key of an object. namespace ignored for cluster-scoped kinds. Caller frees. */
char *ek_resource_key(const ek_resource_t *r, const char *ns, const char *name);
const char *ek_subresource_name(ek_subresource_t s);
ek_subresource_t ek_subresource_parse(const char *name);
/* "create", "delete", ... of a verb bit. */
const char *ek_verb_name(unsigned verb);

/* ---- defaulting and validation (api/defaults.c, api/validate*.c) ---- */

/* One field error, as Kubernetes' field.Error. */
typedef struct ek_field_error {
    const char *type;  /* cause reason: "FieldValueRequired", "FieldValueInvalid",
                          "FieldValueNotSupported", "FieldValueDuplicate", "FieldValueForbidden",
                          "FieldValueTooLong", "FieldValueTooMany", "FieldValueNotFound",
                          "InternalError" */
    char *field;       /* "spec.template.spec.containers[0].name" */
    char *message;     /* cause message: "Required value", "Invalid value: \"x\": must be ..." */
} ek_field_error_t;

typedef struct ek_field_errors {
    ek_field_error_t *v;
    size_t n;
} ek_field_errors_t;

/*
 * Adds an error; message is built from the type and detail like field.Error.ErrorBody(): the
 * bad value is printed (Go style: strings quoted, numbers plain, string maps and lists as
 * map[string]string{...} / []string{...}, NULL as null) except for Required, Forbidden,
 * TooLong and InternalError. Unknown type strings are recorded as FieldValueInvalid.
 */
void ek_field_errors_add(ek_field_errors_t *e, const char *type, const char *field,
                         const json_t *bad_value, const char *detail_fmt, ...) EK_PRINTF(5, 6);
void ek_field_errors_free(ek_field_errors_t *e);

/*
 * Sets the fields Kubernetes 1.32 defaults for this kind (and nested templates) in obj, in
 * place. obj is a private, unpublished object.
 */
void ek_defaults_apply(const ek_resource_t *r, json_t *obj);
/*
 * The object-model half of kube-apiserver's PrepareForCreate, to run after the server has set
 * metadata.uid (and generated a name) and before ek_validate. Today only Jobs need it: unless
 * spec.manualSelector is true, the pod template gets the controller-uid and job-name labels
 * (batch.kubernetes.io/ and legacy spellings) and spec.selector gets
 * batch.kubernetes.io/controller-uid=<uid>, as validation requires. No-op for other kinds.
 */
void ek_defaults_prepare_create(const ek_resource_t *r, json_t *obj);
/*
 * Validates obj (after defaulting) as Kubernetes 1.32 does for this kind: names (DNS-1123
 * rules per kind), metadata (labels, annotations, ownerReferences, finalizers), and the kind's
 * spec rules. old is the stored object on update (immutable fields), NULL on create. Errors
 * are appended to out in Kubernetes' order. Returns the number of errors. As kube-apiserver,
 * the caller first generates names (generateName) and, on update, keeps the system fields of
 * old (uid, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds) and carries
 * metadata.resourceVersion; pod bindings and status writes are not pod spec updates.
 */
int ek_validate(const ek_resource_t *r, const json_t *obj, const json_t *old,
                ek_field_errors_t *out);
/* Name checks usable anywhere: 0 if valid, else writes the Kubernetes message into msg. */
int ek_validate_dns1123_subdomain(const char *s, char *msg, size_t len);
int ek_validate_dns1123_label(const char *s, char *msg, size_t len);

/* ---- API client and informers (api/client.c, api/informer.c) ---- */

#endif
