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
    const char *name;    /* "DeploymentSpec"; the Go name, not unique for qualified types */
    const char *package; /* "apps.v1" */
    const char *id;      /* unique name field types use: "DeploymentSpec", "events.v1.Event" */
    const char *description;
    ek_schema_field_t *fields;
    size_t n_fields;
};

/* Parses the embedded schema text (idempotent; call once at start, before other threads). */
int ek_schema_load(ek_error_t **err);
/* Type by id ("Pod", or "events.v1.Event" for a package-qualified type) or NULL. Borrowed. */
const ek_schema_type_t *ek_schema_type(const char *id);
const ek_schema_field_t *ek_schema_field(const ek_schema_type_t *t, const char *name);
/* All types, sorted by id. */
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

/* ---- API client and informers (api/client.c, api/informer.c) ---- */

#endif
