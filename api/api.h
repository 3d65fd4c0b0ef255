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

/*
 * All functions in this section are pure: no global state, thread-safe, inputs never
 * modified. Errors carry the HTTP status the API server answers with (ek_error_t.status).
 */

/* Requirement operators, as k8s.io/apimachinery/pkg/selection spells them. */
typedef enum ek_selop {
    EK_SELOP_EQUALS,         /* a=b  (field selectors report == as this too) */
    EK_SELOP_DOUBLE_EQUALS,  /* a==b */
    EK_SELOP_NOT_EQUALS,     /* a!=b */
    EK_SELOP_IN,             /* a in (x,y) */
    EK_SELOP_NOT_IN,         /* a notin (x) */
    EK_SELOP_EXISTS,         /* a */
    EK_SELOP_DOES_NOT_EXIST, /* !a */
    EK_SELOP_GT,             /* a>1 (integers) */
    EK_SELOP_LT,             /* a<1 */
} ek_selop_t;

/* ---- label selectors (labels.Parse, metav1.LabelSelectorAsSelector) ---- */

typedef struct ek_labelsel ek_labelsel_t;

/* One requirement; all pointers borrowed from the selector. Parsed selectors hold their
 * values sorted and deduplicated (as sets.String.List() does). */
typedef struct ek_labelsel_req {
    const char *key;
    ek_selop_t op;
    const char *const *values;
    size_t nvalues;
} ek_labelsel_req_t;

/*
 * Parses the string syntax of labels.Parse: `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>1,j<2`.
 * Requirements come back sorted by key; "" gives the everything-selector. Errors (status 400)
 * read as Kubernetes writes them, e.g. "unable to parse requirement: found '', expected:
 * identifier". Caller frees with ek_labelsel_free.
 */
ek_labelsel_t *ek_labelsel_parse(const char *s, ek_error_t **err);
/*
 * Converts a metav1.LabelSelector object ({matchLabels, matchExpressions}) like
 * LabelSelectorAsSelector: NULL or JSON null → the nothing-selector (matches no object),
 * {} → the everything-selector. Invalid keys, values or operators → status 400 with the
 * Kubernetes message. Caller frees.
 */
ek_labelsel_t *ek_labelsel_from_json(const json_t *selector, ek_error_t **err);
/* Matches all objects / no object. Caller frees. */
ek_labelsel_t *ek_labelsel_everything(void);
ek_labelsel_t *ek_labelsel_nothing(void);
/* Whether a labels object (string values; NULL or null means no labels) is selected. */
bool ek_labelsel_matches(const ek_labelsel_t *sel, const json_t *labels);
/* True when the selector selects everything (no requirement and not the nothing-selector). */
bool ek_labelsel_empty(const ek_labelsel_t *sel);
bool ek_labelsel_is_nothing(const ek_labelsel_t *sel);
size_t ek_labelsel_count(const ek_labelsel_t *sel);
/* The i-th requirement (i < count). Borrowed. */
const ek_labelsel_req_t *ek_labelsel_req(const ek_labelsel_t *sel, size_t i);
/* The value key must equal (= / == / single-value in), as RequiresExactMatch; NULL if none.
 * Borrowed. */
const char *ek_labelsel_exact(const ek_labelsel_t *sel, const char *key);
/* Canonical string form ("a in (x,y),b!=c"; "" for everything and nothing). Caller frees. */
char *ek_labelsel_string(const ek_labelsel_t *sel);
void ek_labelsel_free(ek_labelsel_t *sel);
EK_DEFINE_CLEANUP(ek_labelsel_t, ek_labelsel_free)

/* ---- field selectors (fields.ParseSelector) ---- */

typedef struct ek_fieldsel ek_fieldsel_t;

typedef struct ek_fieldsel_req {
    const char *field; /* as written: no trimming, may be "" */
    ek_selop_t op;     /* EK_SELOP_EQUALS (for = and ==) or EK_SELOP_NOT_EQUALS */
    const char *value; /* unescaped */
} ek_fieldsel_req_t;

/*
 * Parses `metadata.name=x,status.phase!=Running` (=, ==, !=; `\,` `\=` `\\` escapes in
 * values). Terms come back sorted as Kubernetes sorts them; "" selects everything. The API
 * server must check every requirement's field against what the resource supports and answer
 * 400 `field label not supported: <field>` itself. Errors: status 400. Caller frees.
 */
ek_fieldsel_t *ek_fieldsel_parse(const char *s, ek_error_t **err);
/* Returns the object's value for a field name, or NULL when it has none (compared as "").
 * Borrowed for the duration of the call. */
typedef const char *(*ek_fieldsel_get_cb)(const char *field, void *data);
/* Whether every requirement holds for the values get returns. */
bool ek_fieldsel_matches(const ek_fieldsel_t *sel, ek_fieldsel_get_cb get, void *data);
bool ek_fieldsel_empty(const ek_fieldsel_t *sel);
size_t ek_fieldsel_count(const ek_fieldsel_t *sel);
/* The i-th requirement (i < count). Borrowed. */
const ek_fieldsel_req_t *ek_fieldsel_req(const ek_fieldsel_t *sel, size_t i);
/* The value field must equal (e.g. metadata.name for a single-object watch), or NULL.
 * Borrowed. */
const char *ek_fieldsel_exact(const ek_fieldsel_t *sel, const char *field);
/* Canonical string form with values escaped again. Caller frees. */
char *ek_fieldsel_string(const ek_fieldsel_t *sel);
void ek_fieldsel_free(ek_fieldsel_t *sel);
EK_DEFINE_CLEANUP(ek_fieldsel_t, ek_fieldsel_free)

/* ---- quantities (resource.Quantity) ---- */

/* Significant digits a quantity can hold. Kubernetes has no limit; more digits than this
 * (e.g. a 70-digit integer) are refused with status 400. */
#define EK_QUANTITY_MAX_DIGITS 64
/* Room for any string ek_quantity_format produces, NUL included. */
#define EK_QUANTITY_STRLEN 112

typedef enum ek_quantity_format {
    EK_QUANTITY_DECIMAL_SI,       /* 12M, 500m */
    EK_QUANTITY_BINARY_SI,        /* 12Mi */
    EK_QUANTITY_DECIMAL_EXPONENT, /* 12e6 */
} ek_quantity_format_t;

/* A value type: copy it freely, nothing to free. value = sign * digits * 10^exp, already
 * rounded up to nano units as ParseQuantity does. */
typedef struct ek_quantity {
    int sign;                            /* -1, 0 or 1 */
    int ndigits;                         /* no leading or trailing zeros; 0 when sign is 0 */
    char digits[EK_QUANTITY_MAX_DIGITS]; /* '0'..'9', not NUL-terminated */
    int64_t exp;
    ek_quantity_format_t format;
    /* The input when ParseQuantity keeps it for serialisation ("" otherwise). */
    char str[32];
} ek_quantity_t;

/*
 * Parses a quantity string ("100m", "1.5Gi", "1e3", "+5", "-1") exactly as ParseQuantity:
 * binary (Ki..Ei) and decimal (n u m "" k M G T P E) suffixes, decimal exponents, values
 * rounded up to 1n, binary values capped at 2^63-1. Errors (status 400) carry Kubernetes'
 * messages, e.g. "quantities must match the regular expression
 * '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".
 */
int ek_quantity_parse(const char *s, ek_quantity_t *q, ek_error_t **err);
/* value * 10^scale in the given format (resource.NewScaledQuantity + Format). */
void ek_quantity_from_int64(ek_quantity_t *q, int64_t value, int scale,
                            ek_quantity_format_t format);
/* Rounds away from zero to a multiple of 10^scale, as Quantity.RoundUp: a value already that
 * coarse keeps its kept input string, any other loses it. Returns whether it was exact. */
bool ek_quantity_round_up(ek_quantity_t *q, int64_t scale);
/* -1, 0 or 1 as a < b, a == b, a > b (formats do not matter). */
int ek_quantity_cmp(const ek_quantity_t *a, const ek_quantity_t *b);
/* The value in thousandths (cpu millicores; MilliValue), rounded away from zero. Fails
 * (ERANGE) when it does not fit an int64. */
int ek_quantity_milli(const ek_quantity_t *q, int64_t *out, ek_error_t **err);
/* The value rounded away from zero (memory bytes; Value). Fails (ERANGE) on overflow. */
int ek_quantity_value(const ek_quantity_t *q, int64_t *out, ek_error_t **err);
/* The string Kubernetes serialises (Quantity.String / MarshalJSON) into buf; returns buf. */
char *ek_quantity_format(const ek_quantity_t *q, char buf[EK_QUANTITY_STRLEN]);

/* ---- patches ---- */

/*
 * JSON merge patch (RFC 7386, application/merge-patch+json) as evanphx/json-patch MergePatch:
 * a null member deletes, objects merge recursively, anything else replaces (nulls pruned from
 * inserted values). A non-object patch: an array replaces the document, null or a scalar is
 * refused (400 "Invalid JSON Patch"). Result: new value, caller owns.
 */
json_t *ek_patch_merge(const json_t *doc, const json_t *patch, ek_error_t **err);

/*
 * JSON patch (RFC 6902, application/json-patch+json) as evanphx/json-patch v4 applies it
 * (add/remove/replace/move/copy/test, JSON pointers with ~0 ~1, `-` appends, negative indices
 * count from the end). A patch that is not a list of operations → 400; more than 10000
 * operations → 413 ("The allowed maximum operations in a JSON patch is 10000, got N"); an
 * operation that does not apply → 422: the API server answers Invalid with message "the
 * server rejected our request due to an error in our request" and this error's message as
 * details.causes[0].message (e.g. "testing value /a failed: test failed"). Result: new value,
 * caller owns.
 */
json_t *ek_patch_json(const json_t *doc, const json_t *patch, ek_error_t **err);

/* Patch metadata of one field (the patchStrategy / patchMergeKey struct tags). */
typedef struct ek_smp_field {
    const char *merge_key; /* patchMergeKey, NULL if none */
    bool merge;            /* patchStrategy has "merge": lists merge instead of replace */
    bool replace;          /* patchStrategy "replace": a map is replaced, not merged */
    bool retain_keys;      /* patchStrategy has "retainKeys" (documents $retainKeys use) */
} ek_smp_field_t;

/*
 * Where strategic merge patch gets its metadata. lookup receives the field names from the
 * object root to a map or list field (list elements add no name: containers' ports are
 * {"spec","containers","ports"} in a Pod) and fills *out; false means no metadata (maps
 * merge, lists are replaced). lookup must be pure.
 */
typedef struct ek_smp_schema {
    bool (*lookup)(const char *const *path, size_t depth, ek_smp_field_t *out, void *data);
    void *data;
} ek_smp_schema_t;

/*
 * The merge metadata of a built-in kind (group "" for core), as the Go struct tags of
 * k8s.io/api 1.32 declare it: Pod, PodTemplate, ReplicationController, Deployment,
 * ReplicaSet, DaemonSet, StatefulSet, Job, CronJob, Service, Node, Namespace,
 * PersistentVolumeClaim, ServiceAccount; every other kind gets the ObjectMeta rules
 * (ownerReferences by uid, finalizers merged). Never fails; the result is a static table.
 * Custom resources have no such metadata: the API server must refuse strategic merge patches
 * for them with 415 Unsupported Media Type before calling ek_patch_strategic.
 */
ek_smp_schema_t ek_smp_schema_builtin(const char *group, const char *kind);

/*
 * Strategic merge patch (application/strategic-merge-patch+json) applied as the API server
 * does (StrategicMergeMapPatch): maps merge and null deletes; lists merge by patchMergeKey
 * (new elements go before the existing ones unless $setElementOrder orders them), primitive
 * lists with strategy merge are unioned, other lists replaced; directives $patch (delete and
 * replace; merge is refused with 500, as apimachinery refuses it), $retainKeys,
 * $setElementOrder/<list>, $deleteFromPrimitiveList/<list>.
 * Directive keys left inside inserted values are dropped as the typed decoding of the API
 * server drops them. schema may be NULL (no metadata). doc must be an object; a null patch
 * changes nothing; a non-object patch → 400. Errors: 400 for malformed directives, 422 for
 * lists of lists, 500 where Kubernetes answers 500 with reason Unknown (e.g. a merge-keyed
 * element without its key: "map: map[image:x] does not contain declared merge key: name").
 * Custom resources have no merge metadata: refuse this patch type for them with 415 before
 * calling. Result: new value, caller owns.
 */
json_t *ek_patch_strategic(const json_t *doc, const json_t *patch, const ek_smp_schema_t *schema,
                           ek_error_t **err);

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
#define EK_SF_PB_PTR      0x20 /* pb=N*: a Go pointer; a zero value on the wire still counts */
#define EK_SF_PB_NONE     0x40 /* pb=-: not in the protobuf message (the envelope's type meta) */
#define EK_SF_MICRO       0x80 /* a metav1.MicroTime: RFC 3339 with microseconds */

/* Longest protobuf number path of a field: pb=N or pb=N.M (inside an inlined embedded message). */
#define EK_SCHEMA_PB_DEPTH 3
#define EK_SF_ATOMIC       0x100 /* list, map or object owned as a whole by server-side apply */
#define EK_SF_ZERO                                                      \
    0x200 /* present in the Go zero value (a non-pointer struct, a list \
           * without omitempty): server-side apply's view of a new object */

typedef struct ek_schema_field {
    const char *name;
    const ek_schema_ty_t *ty;
    const char *description;
    unsigned flags;
    const char *merge_key;     /* strategic merge key of a list, or NULL */
    const char *list_keys;     /* server-side apply keys ("port,protocol") when they differ
                                  from merge_key (x-kubernetes-list-map-keys), or NULL */
    const char *default_value; /* documentation only */
    char **enum_values;
    size_t n_enum;
    uint32_t pb[EK_SCHEMA_PB_DEPTH]; /* protobuf number path, 0-terminated; pb[0] == 0: none */
} ek_schema_field_t;

struct ek_schema_type {
    const char *name;    /* "DeploymentSpec"; the Go name, not unique for qualified types */
    const char *package; /* "apps.v1" */
    const char *id;      /* unique name field types use: "DeploymentSpec", "events.v1.Event" */
    const char *description;
    ek_schema_field_t *fields;
    size_t n_fields;
    /* Every field has a protobuf number (or pb=-), and so has every type it refers to: a
     * protobuf body of this type can be decoded (api/protobuf.c). */
    bool pb;
    bool atomic; /* +structType=atomic: server-side apply owns it as a whole */
};

/* Parses the embedded schema text (idempotent; call once at start, before other threads). */
int ek_schema_load(ek_error_t **err);
/* Type by id ("Pod", or "events.v1.Event" for a package-qualified type) or NULL. Borrowed. */
const ek_schema_type_t *ek_schema_type(const char *id);
const ek_schema_field_t *ek_schema_field(const ek_schema_type_t *t, const char *name);
/* All types, sorted by id. */
size_t ek_schema_types(const ek_schema_type_t **out);
/* The type of a kind sent as apiVersion + kind ("apps/v1", "Deployment" → apps.v1 Deployment);
 * types of meta.v1 that every group version carries (DeleteOptions) are found under any
 * group. NULL if the schema has none. Borrowed. */
const ek_schema_type_t *ek_schema_type_for_kind(const char *api_version, const char *kind);
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
/*
 * The same walk, removing each unknown field from obj right after reporting it, as decoding
 * into Kubernetes' typed structs drops them: the field itself, whatever its name holds ("a.b",
 * "x[0]"), never a field a path spelling would also match.
 */
int ek_schema_check_drop(const ek_schema_type_t *t, json_t *obj, ek_schema_issue_cb cb, void *data);

/* ---- protobuf request bodies (api/protobuf.c) ---- */

/* Unknown field numbers are errors (Kubernetes' decoder skips them; tests use this). */
#define EK_PROTOBUF_STRICT 0x1

/* The runtime.Unknown envelope of a protobuf body. Strings are owned (NULL when absent; free
 * with ek_protobuf_unknown_clear); raw points into the decoded buffer. */
typedef struct ek_protobuf_unknown {
    char *api_version;
    char *kind;
    char *content_encoding;
    char *content_type;
    const uint8_t *raw;
    size_t raw_len;
} ek_protobuf_unknown_t;

/* Checks the "k8s\0" magic and reads the envelope. Errors are status 400. */
int ek_protobuf_unwrap(const void *data, size_t len, unsigned flags, ek_protobuf_unknown_t *out,
                       ek_error_t **err);
void ek_protobuf_unknown_clear(ek_protobuf_unknown_t *u);
/*
 * A whole protobuf body to the JSON object a JSON body of the same request would carry
 * (apiVersion and kind from the envelope, or the defaults when it has none). The type comes
 * from the schema (ek_schema_type_for_kind); a kind whose types lack protobuf numbers is a
 * 415 error naming the kind, a malformed body 400. Caller owns the result. Any thread.
 */
json_t *ek_protobuf_decode(const void *data, size_t len, const char *default_api_version,
                           const char *default_kind, unsigned flags, ek_error_t **err);
/* One message of type t (no envelope) to a JSON object. Caller owns the result. */
json_t *ek_protobuf_to_json(const ek_schema_type_t *t, const void *msg, size_t len, unsigned flags,
                            ek_error_t **err);

/* ---- table printers: `kubectl get` columns (api/printers.c) ---- */

typedef struct ek_column {
    const char *name;   /* "Name", "Ready", "Status", ... as Kubernetes names them */
    const char *type;   /* "string", "integer", "number", "boolean", "date" */
    const char *format; /* "name" for the name column, else "" */
    const char *description;
    int priority; /* 0 = always shown, 1 = only with -o wide */
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
    const char *group; /* "" for the core group */
    const char *version;
    const char *kind;
    const char *plural;
    const char *singular;
    bool namespaced;
    const char *short_names; /* space-separated, or NULL */
    const char *categories;  /* space-separated, or NULL */
    unsigned verbs;
    unsigned subresources; /* EK_SUBBIT(...) */
    unsigned flags;
    const char *schema_type;     /* name in the schema tables, or NULL (custom resources) */
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
const ek_resource_t *ek_resource_by_kind(const char *group, const char *version, const char *kind);
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
    const char *type; /* cause reason: "FieldValueRequired", "FieldValueInvalid",
                         "FieldValueNotSupported", "FieldValueDuplicate", "FieldValueForbidden",
                         "FieldValueTooLong", "FieldValueTooMany", "FieldValueNotFound",
                         "InternalError" */
    char *field;      /* "spec.template.spec.containers[0].name" */
    char *message;    /* cause message: "Required value", "Invalid value: \"x\": must be ..." */
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

/*
 * A client of the Kubernetes API for edgek's own components (controllers, scheduler,
 * kubelet, proxy, DNS). The same calls run over HTTPS (ek_api_client_https) or in-process
 * over a transport the API server provides (no HTTP, no TLS; same handlers, same answers).
 * Everything here runs on the client's loop thread; callbacks are never called from inside
 * the call that started the request.
 */
typedef struct ek_api_client ek_api_client_t;
typedef struct ek_api_call ek_api_call_t;

/* A finished request: status is the HTTP status (0 when the request never got an answer, err
 * says why); body is the decoded JSON answer (a Status on failures) or NULL. Both borrowed.
 * err is also set for any status outside 2xx (err->status = the Status code, message = its
 * message) and for a 2xx answer that is not JSON. */
typedef void (*ek_api_done_cb)(int status, json_t *body, const ek_error_t *err, void *data);
/* A watch event: type "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or "ERROR"; obj borrowed. */
typedef void (*ek_api_event_cb)(const char *type, json_t *obj, void *data);

/* How requests travel. The server's in-process transport and the HTTPS one implement it. */
typedef struct ek_api_request {
    const char *method;
    const char *path_query;   /* "/api/v1/namespaces/default/pods?watch=true" */
    const char *content_type; /* of body, or NULL */
    const char *body;
    size_t body_len;
} ek_api_request_t;

typedef struct ek_api_stream_callbacks {
    void (*on_head)(int status, const char *content_type, void *data);
    void (*on_body)(const char *chunk, size_t len, void *data);
    /* Exactly once, last; err NULL on a complete answer. err is borrowed. */
    void (*on_done)(const ek_error_t *err, void *data);
} ek_api_stream_callbacks_t;

typedef struct ek_api_transport_ops {
    /* Starts a request; returns a handle for cancel. Callbacks run on later loop turns. */
    void *(*start)(void *tp, const ek_api_request_t *req, const ek_api_stream_callbacks_t *cb,
                   void *data);
    /* Stops a request; on_done then runs with a "cancelled" error (possibly inside cancel). */
    void (*cancel)(void *tp, void *handle);
    /* Frees the transport (every request has finished or been cancelled); done(data) runs on a
     * later loop turn, once the transport's own handles are closed. */
    void (*release)(void *tp, void (*done)(void *data), void *data);
} ek_api_transport_ops_t;

/* A client over a transport (tp is released with the client). */
ek_api_client_t *ek_api_client_new(uv_loop_t *loop, const ek_api_transport_ops_t *ops, void *tp);
/* A client over HTTPS: server "https://host:port", TLS config with CA and client certificate
 * (borrowed reference taken), or a bearer token (NULL if none). */
ek_api_client_t *ek_api_client_https(uv_loop_t *loop, const char *server, ek_tls_config_t *tls,
                                     const char *bearer_token, ek_error_t **err);
/* Cancels every call (their done callbacks run before this returns), then frees the client;
 * cb (may be NULL) runs on a later loop turn, once the transport's handles are closed. Calls
 * started from those done callbacks return NULL. May be called from any of the client's
 * callbacks. Free informers using the client first. */
void ek_api_client_free(ek_api_client_t *c, void (*cb)(void *data), void *data);
uv_loop_t *ek_api_client_loop(const ek_api_client_t *c);

/* "/apis/apps/v1/namespaces/default/deployments/web/status"; ns ignored for cluster-scoped
 * kinds, name NULL for the collection, sub EK_SUB_NONE for none. Caller frees. */
char *ek_api_path(const ek_resource_t *r, const char *ns, const char *name, ek_subresource_t sub);

/* Any request; body (may be NULL) is serialised as JSON unless content_type says otherwise. */
ek_api_call_t *ek_api_request(ek_api_client_t *c, const char *method, const char *path_query,
                              const char *content_type, const json_t *body, ek_api_done_cb cb,
                              void *data);
ek_api_call_t *ek_api_get(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                          const char *name, ek_api_done_cb cb, void *data);
/* label_sel / field_sel may be NULL. */
ek_api_call_t *ek_api_list(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                           const char *label_sel, const char *field_sel, ek_api_done_cb cb,
                           void *data);
ek_api_call_t *ek_api_create(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const json_t *obj, ek_api_done_cb cb, void *data);
/* PUT of obj (its metadata.resourceVersion is the precondition) to the object or sub. */
ek_api_call_t *ek_api_update(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const json_t *obj, ek_subresource_t sub, ek_api_done_cb cb,
                             void *data);
/* patch_type: "merge", "strategic", "json", or "apply" (server-side apply, field manager
 * "edgek") / "apply:MANAGER"; anything else is sent as the media type itself. */
ek_api_call_t *ek_api_patch(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                            const char *name, ek_subresource_t sub, const char *patch_type,
                            const json_t *patch, ek_api_done_cb cb, void *data);
/* options: a DeleteOptions object or NULL. */
ek_api_call_t *ek_api_delete(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const char *name, const json_t *options, ek_api_done_cb cb,
                             void *data);
/* Watches from resource_version ("" or "0" for the current state first), with bookmarks and a
 * server-side timeout of 5 to 10 minutes (randomised, as client-go): watch again from the last
 * revision seen when done_cb reports 200. An in-stream ERROR event is passed to event_cb and
 * then reported by done_cb like an HTTP error (410 Expired: list again). */
ek_api_call_t *ek_api_watch(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                            const char *label_sel, const char *field_sel,
                            const char *resource_version, ek_api_event_cb event_cb,
                            ek_api_done_cb done_cb, void *data);
/* Stops a call; its done callback runs with status 0 and a "cancelled" error (ECANCELED)
 * before this returns, or right after the current callback when called from one of the call's
 * own callbacks. NULL is ignored; a call must not be used after its done callback. */
void ek_api_call_cancel(ek_api_call_t *call);

/*
 * Informers: a local cache of one resource (optionally one namespace and selectors) kept by
 * list + watch, re-listing after 410 Expired, re-watching with backoff after errors, and
 * calling handlers on changes (and every resync_ms with update(obj, obj), 0 = never). Cached
 * objects are immutable and reference-counted: handlers and getters borrow them.
 */
typedef struct ek_informer ek_informer_t;
typedef struct ek_informer_handlers {
    void (*on_add)(json_t *obj, void *data);
    void (*on_update)(json_t *old_obj, json_t *new_obj, void *data);
    void (*on_delete)(json_t *obj, void *data);
    /* Once, after the first list's adds (at once for a set added to a synced informer). */
    void (*on_synced)(void *data);
} ek_informer_handlers_t;

ek_informer_t *ek_informer_new(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                               const char *label_sel, const char *field_sel, uint64_t resync_ms);
/* Several handler sets may be added; each sees the current objects as adds on start (a set
 * added to a synced informer gets them before this returns). */
void ek_informer_add_handlers(ek_informer_t *inf, const ek_informer_handlers_t *h, void *data);
void ek_informer_start(ek_informer_t *inf);
/* True once the first list has been delivered. */
bool ek_informer_synced(const ek_informer_t *inf);
/* Cached object or NULL (ns ignored for cluster-scoped kinds). Borrowed. */
json_t *ek_informer_get(const ek_informer_t *inf, const char *ns, const char *name);
/* Calls fn for every cached object (no changes to the informer meanwhile). */
void ek_informer_each(const ek_informer_t *inf, void (*fn)(json_t *obj, void *data), void *data);
size_t ek_informer_count(const ek_informer_t *inf);
/* The last resourceVersion seen. */
const char *ek_informer_revision(const ek_informer_t *inf);
/* Stops and frees (memory released once its timers are closed); callable from a handler.
 * Free informers before their client. */
void ek_informer_free(ek_informer_t *inf);

/* ---- credentials: kubeconfig files and join tokens (api/kubeconfig.c) ---- */

/*
 * A kubeconfig as k3s writes it: one cluster, context and user all called name (NULL =
 * "default"), certificates embedded base64 (…-data); server_url NULL = https://127.0.0.1:6443.
 * Caller frees.
 */
char *ek_kubeconfig_render(const char *server_url, const char *name, const char *ca_pem,
                           const char *cert_pem, const char *key_pem);

/* What edgek's tools read from a kubeconfig: its current context's cluster and user. */
typedef struct ek_kubeconfig {
    char *server;   /* "https://host:port" */
    char *ca_pem;   /* certificate-authority(-data), or NULL */
    char *cert_pem; /* client-certificate(-data), or NULL */
    char *key_pem;  /* client-key(-data), or NULL */
    char *token;    /* bearer token, or NULL */
    bool insecure;  /* insecure-skip-tls-verify */
} ek_kubeconfig_t;
/* Reads path (files it names are relative to its directory). *out: clear with
 * ek_kubeconfig_clear (also after a failure). Blocking. */
int ek_kubeconfig_load(const char *path, ek_kubeconfig_t *out, ek_error_t **err);
void ek_kubeconfig_clear(ek_kubeconfig_t *k);

/* Bootstrap tokens (kubeadm's and k3s's `token create`): `[a-z0-9]{6}.[a-z0-9]{16}`. */
#define EK_BOOTSTRAP_ID_LEN     6
#define EK_BOOTSTRAP_SECRET_LEN 16
#define EK_BOOTSTRAP_TOKEN_LEN  (EK_BOOTSTRAP_ID_LEN + 1 + EK_BOOTSTRAP_SECRET_LEN)
bool ek_bootstrap_token_syntax(const char *s, size_t n);

/*
 * A join token as k3s parses one: `K10<sha256 of the CA PEM>::<user>:<secret>`,
 * `K10<hash>::<id>.<secret>` (a bootstrap token), either with an empty hash, or a bare bootstrap
 * token or bare secret. Surrounding whitespace is ignored; errors have status 400.
 */
typedef struct ek_join_token {
    char *ca_hash;      /* lowercase hex, or NULL when the token names none */
    char *user;         /* NULL when absent (bare secrets, bootstrap tokens) */
    char *secret;       /* never empty; "<id>.<secret>" for a bootstrap token */
    char *bootstrap_id; /* the id of a bootstrap token, else NULL */
} ek_join_token_t;
int ek_join_token_parse(const char *s, ek_join_token_t *out, ek_error_t **err);
void ek_join_token_clear(ek_join_token_t *t);

/* ---- structural schemas of custom resources (api/jsonschema.c) ---- */

/*
 * The openAPIV3Schema of a CRD version applied as apiextensions-apiserver does: unknown fields
 * pruned (except under x-kubernetes-preserve-unknown-fields), defaults filled in, then the
 * value validated (types, nullable, required, enum, pattern, minimum/maximum and exclusive
 * forms, multipleOf, min/maxLength, min/maxItems, uniqueItems, min/maxProperties, formats,
 * x-kubernetes-int-or-string, allOf/anyOf/oneOf/not). Paths are written "spec.replicas",
 * "spec.ports[0].name".
 */
/* Removes fields the schema does not know; each removed path is appended to pruned (may be
 * NULL). The root's apiVersion, kind and metadata are left alone. */
void ek_jsonschema_prune(const json_t *schema, json_t *obj, json_t *pruned);
/* Fills in defaults for absent (and null, when not nullable) fields, recursively. */
void ek_jsonschema_default(const json_t *schema, json_t *obj);
/* Appends validation errors (as Kubernetes words them) to errs; returns their number. */
int ek_jsonschema_validate(const json_t *schema, const json_t *obj, ek_field_errors_t *errs);
/* Whether a CRD schema is structural enough to use; on failure writes why into msg. */
int ek_jsonschema_check_structural(const json_t *schema, char *msg, size_t len);

/* ---- server-side apply: field sets and managed fields (api/fieldset.c, api/fieldmanager.c) */

/*
 * What kube-apiserver 1.32's field manager does, as plain functions over JSON objects (pure,
 * thread-safe, inputs never modified): the set of fields an object holds against its schema,
 * the comparison of two objects, the apply merge, removal of fields a manager stopped
 * applying, conflicts between managers, and metadata.managedFields.
 */

/* A set of field paths (fieldpath.Set); FieldsV1 is its JSON form. */
typedef struct ek_fieldset ek_fieldset_t;

ek_fieldset_t *ek_fieldset_new(void);
void ek_fieldset_free(ek_fieldset_t *s);
EK_DEFINE_CLEANUP(ek_fieldset_t, ek_fieldset_free)
/* FieldsV1 JSON ({"f:spec":{"f:replicas":{}}}) → set; 400 when malformed. Caller frees. */
ek_fieldset_t *ek_fieldset_decode(const json_t *fields_v1, ek_error_t **err);
/* The FieldsV1 JSON Kubernetes writes, keys in its order ("." first). Caller owns. */
json_t *ek_fieldset_encode(const ek_fieldset_t *s);
bool ek_fieldset_empty(const ek_fieldset_t *s);
bool ek_fieldset_equal(const ek_fieldset_t *a, const ek_fieldset_t *b);
/* New sets (caller frees); NULL inputs are empty sets. difference is path-exact;
 * recursive_difference also drops everything below b's members. */
ek_fieldset_t *ek_fieldset_copy(const ek_fieldset_t *s);
ek_fieldset_t *ek_fieldset_union(const ek_fieldset_t *a, const ek_fieldset_t *b);
ek_fieldset_t *ek_fieldset_difference(const ek_fieldset_t *a, const ek_fieldset_t *b);
ek_fieldset_t *ek_fieldset_intersection(const ek_fieldset_t *a, const ek_fieldset_t *b);
ek_fieldset_t *ek_fieldset_recursive_difference(const ek_fieldset_t *a, const ek_fieldset_t *b);
/* Each path in the set, in Kubernetes' order, written as in its conflict messages:
 * `.spec.replicas`, `.spec.template.spec.containers[name="web"].image`. */
typedef void (*ek_fieldset_path_cb)(const char *path, void *data);
void ek_fieldset_paths(const ek_fieldset_t *s, ek_fieldset_path_cb fn, void *data);

/*
 * The schema server-side apply walks: for built-in kinds the schema tables (lists with
 * merge= are list-maps keyed by it or by keys=, `set` lists are sets, other lists atomic;
 * `atomic` maps and types are owned whole), for custom resources the openAPIV3Schema
 * (x-kubernetes-list-type, x-kubernetes-list-map-keys, x-kubernetes-map-type). Borrowed.
 */
typedef struct ek_ssa_schema {
    const ek_schema_type_t *type; /* built-in kinds */
    const json_t *crd;            /* custom resources: the version's openAPIV3Schema */
} ek_ssa_schema_t;

/* The schema of a resource; for a kind without one every field is tracked as untyped JSON
 * (maps granular, lists atomic). */
ek_ssa_schema_t ek_ssa_schema_for(const ek_resource_t *r);
/* TypedValue.ToFieldSet: the leaf fields and list/map items obj sets. Caller frees. */
ek_fieldset_t *ek_ssa_fieldset(const ek_ssa_schema_t *sc, const json_t *obj);
/* TypedValue.Compare of lhs (NULL: nothing) and rhs; the three sets are the caller's. */
void ek_ssa_compare(const ek_ssa_schema_t *sc, const json_t *lhs, const json_t *rhs,
                    ek_fieldset_t **added, ek_fieldset_t **modified, ek_fieldset_t **removed);
/* TypedValue.Merge: config merged into live (config wins on leaves, list-maps merged by
 * key, sets united, atomic values replaced). Caller owns the result. */
json_t *ek_ssa_merge(const ek_ssa_schema_t *sc, const json_t *live, const json_t *config);
/* TypedValue.RemoveItems: a copy of obj without the set's paths. Caller owns. */
json_t *ek_ssa_remove(const ek_ssa_schema_t *sc, const json_t *obj, const ek_fieldset_t *set);

/* Which top-level fields a write tracks (the strategy's reset fields). */
typedef enum {
    EK_SSA_TRACK_ALL,         /* kinds without a status subresource */
    EK_SSA_TRACK_NO_STATUS,   /* the main resource of a kind with a status subresource */
    EK_SSA_TRACK_STATUS_ONLY, /* the status subresource */
} ek_ssa_track_t;

/* One write: who makes it and through what. All borrowed. */
typedef struct ek_ssa_op {
    const char *manager;     /* fieldManager, or the User-Agent's product name */
    const char *api_version; /* "apps/v1" */
    const char *subresource; /* "" for the object itself, "status", "scale" */
    const char *now;         /* RFC 3339 time of the write */
    ek_ssa_track_t track;
    bool force; /* apply: take fields other managers own */
} ek_ssa_op_t;

/*
 * An Update operation (create, update, any non-apply patch) writing obj over old (NULL on
 * create: compared with the kind's Go zero value, as kube-apiserver does). Sets
 * obj.metadata.managedFields: the client's own managedFields when it sent some (that is how
 * managers are migrated), else old's; fields the write changed move to op's Update entry
 * (taken from every other manager), fields it removed are dropped from every manager.
 */
void ek_ssa_update(const ek_ssa_schema_t *sc, const json_t *old, json_t *obj,
                   const ek_ssa_op_t *op);

/*
 * An Apply operation (application/apply-patch+yaml) of config onto live (NULL on create).
 * Returns the new object with its managedFields (caller owns): config merged in, fields the
 * manager applied last time and no longer applies removed unless another manager owns them,
 * the fields it applied now owned by op's Apply entry. As kube-apiserver, the manager
 * "kubectl" may take over fields from client-side apply whose live values still match the
 * last-applied-configuration annotation, and keeps that annotation up to date. Errors: 400 for
 * a bad config (managedFields set); 409 when fields the manager changes belong to other
 * managers and force is off — err's message is the Status message ("Apply failed with 1
 * conflict: conflict with \"x\" using apps/v1: .spec.replicas") and *causes (caller owns)
 * the Status causes (reason FieldManagerConflict).
 */
json_t *ek_ssa_apply(const ek_ssa_schema_t *sc, const json_t *live, const json_t *config,
                     const ek_ssa_op_t *op, json_t **causes, ek_error_t **err);

/* The manager kube-apiserver records when a request names none: the User-Agent up to its
 * first '/', printable characters only, at most 128 bytes. Writes into buf (129 bytes). */
const char *ek_ssa_manager_from_user_agent(const char *ua, char buf[static 129]);

/* ---- events (api/events.c) ---- */

/*
 * Records core/v1 Events about objects, as client-go's event recorder does: one Event per
 * (object, type, reason, message), later occurrences within 10 minutes increase its count and
 * lastTimestamp instead of creating new Events. Writes are fire-and-forget.
 */
typedef struct ek_event_recorder ek_event_recorder_t;

ek_event_recorder_t *ek_event_recorder_new(ek_api_client_t *c, const char *component,
                                           const char *host);
/* involved: the object the event is about (kind/apiVersion/metadata are read). type "Normal" or
 * "Warning"; reason in CamelCase. */
void ek_event_record(ek_event_recorder_t *r, const json_t *involved, const char *type,
                     const char *reason, const char *fmt, ...) EK_PRINTF(5, 6);
void ek_event_recorder_free(ek_event_recorder_t *r);

#endif
