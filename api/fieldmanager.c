/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side apply as kube-apiserver 1.32 does it (structured-merge-diff v4 and the
 * apiserver's fieldmanager), over JSON objects and edgek's schemas. Objects are walked
 * against a "shape" — scalar, struct, map, list (atomic, set or list-map with keys) or
 * untyped — taken from the built-in schema tables or a CRD's openAPIV3Schema. On that walk
 * rest the field sets of an object, the comparison of two objects, the apply merge and the
 * removal of items; metadata.managedFields is built from them by the Update and Apply
 * operations at the end of this file. Pure code: the API server calls it on every write.
 */
#include <stdio.h>

#include "api/fieldset-internal.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* ---- shapes ---- */

typedef enum { SH_SCALAR, SH_STRUCT, SH_MAP, SH_LIST, SH_DEDUCED } sh_kind_t;
typedef enum { LT_ATOMIC, LT_SET, LT_MAP } list_type_t;

typedef struct shape {
    sh_kind_t kind;
    bool atomic; /* STRUCT, MAP: owned as one value */
    bool zero;   /* present in the enclosing struct's Go zero value */
    bool root;   /* a custom resource's root: metadata is ObjectMeta */
    list_type_t lt;
    const char *keys;            /* built-in list-map: "port,protocol" */
    const json_t *keys_js;       /* CRD list-map: x-kubernetes-list-map-keys */
    const ek_schema_type_t *st;  /* built-in struct */
    const ek_schema_ty_t *elem;  /* built-in map or list element */
    const json_t *js;            /* CRD: the schema of this value */
    const ek_schema_field_t *fd; /* built-in: the field holding this value, if any */
} shape_t;

static const shape_t deduced = { .kind = SH_DEDUCED };

static shape_t from_ty(const ek_schema_ty_t *ty, const ek_schema_field_t *f)
{
    unsigned flags = f ? f->flags : 0;
    shape_t sh = { .kind = SH_SCALAR, .fd = f };
    if (!ty) {
        return deduced;
    }
    switch (ty->kind) {
    case EK_ST_ARRAY:
        /* The OpenAPI conversion's rule: explicit list type, else a patch merge key makes a
         * list-map, a merge strategy without key a set, anything else is atomic. */
        sh.kind = SH_LIST;
        sh.elem = ty->elem;
        if (!(flags & EK_SF_ATOMIC) && f && (f->list_keys || f->merge_key)) {
            sh.lt = LT_MAP;
            sh.keys = f->list_keys ? f->list_keys : f->merge_key;
        } else if (!(flags & EK_SF_ATOMIC) && (flags & EK_SF_SET)) {
            sh.lt = LT_SET;
        }
        break;
    case EK_ST_MAP:
        sh.kind = SH_MAP;
        sh.elem = ty->elem;
        sh.atomic = flags & EK_SF_ATOMIC;
        break;
    case EK_ST_REF:
        if (!ty->ref) {
            return deduced;
        }
        sh.kind = SH_STRUCT;
        sh.st = ty->ref;
        sh.atomic = (flags & EK_SF_ATOMIC) || ty->ref->atomic;
        break;
    case EK_ST_ANY:
    case EK_ST_OBJECT:
        return deduced;
    default:
        break;
    }
    return sh;
}

static bool js_is(const json_t *js, const char *key, const char *value)
{
    const char *v = ek_json_str(js, key, NULL);
    return v && strcmp(v, value) == 0;
}

static shape_t from_js(const json_t *js)
{
    shape_t sh = { .kind = SH_SCALAR, .js = js };
    if (!json_is_object(js)) {
        return deduced;
    }
    if (json_is_true(json_object_get(js, "x-kubernetes-int-or-string"))) {
        return sh;
    }
    if (js_is(js, "type", "array")) {
        /* Custom resources' lists are atomic unless the schema says otherwise. */
        sh.kind = SH_LIST;
        if (js_is(js, "x-kubernetes-list-type", "set")) {
            sh.lt = LT_SET;
        } else if (js_is(js, "x-kubernetes-list-type", "map")) {
            sh.lt = LT_MAP;
            sh.keys_js = json_object_get(js, "x-kubernetes-list-map-keys");
        }
        return sh;
    }
    bool atomic = js_is(js, "x-kubernetes-map-type", "atomic");
    if (json_is_object(json_object_get(js, "properties"))) {
        sh.kind = SH_STRUCT;
        sh.atomic = atomic;
        return sh;
    }
    if (json_is_object(json_object_get(js, "additionalProperties"))) {
        sh.kind = SH_MAP;
        sh.atomic = atomic;
        return sh;
    }
    if (!json_object_get(js, "type") || js_is(js, "type", "object")) {
        return deduced;
    }
    return sh;
}

/* Untyped values take their shape from the value: maps granular, lists atomic. */
static shape_t resolve(shape_t sh, const json_t *v)
{
    if (sh.kind != SH_DEDUCED) {
        return sh;
    }
    shape_t out = { .kind = SH_SCALAR, .root = sh.root };
    if (json_is_object(v)) {
        out.kind = SH_MAP;
    } else if (json_is_array(v)) {
        out.kind = SH_LIST;
    }
    return out;
}

static shape_t root_shape(const ek_ssa_schema_t *sc)
{
    shape_t sh = deduced;
    if (sc && sc->type) {
        sh = (shape_t){ .kind = SH_STRUCT, .st = sc->type };
    } else if (sc && sc->crd) {
        sh = from_js(sc->crd);
        if (sh.kind != SH_STRUCT) {
            sh = deduced;
        }
    }
    sh.root = !(sc && sc->type);
    sh.atomic = false;
    return sh;
}

static bool is_toplevel_struct(const char *name)
{
    return !strcmp(name, "metadata") || !strcmp(name, "spec") || !strcmp(name, "status");
}

/* The shape of field name of a struct or map; declared says whether the struct declares it
 * (map entries and unknown fields are owned as members even when they have children). */
static shape_t field_shape(const shape_t *p, const char *name, bool *declared)
{
    *declared = false;
    if (p->root && (!strcmp(name, "apiVersion") || !strcmp(name, "kind"))) {
        *declared = true;
        return (shape_t){ .kind = SH_SCALAR };
    }
    if (p->root && !strcmp(name, "metadata")) {
        *declared = true;
        const ek_schema_type_t *om = ek_schema_type("ObjectMeta");
        return om ? (shape_t){ .kind = SH_STRUCT, .st = om } : deduced;
    }
    if (p->kind == SH_STRUCT && p->st) {
        const ek_schema_field_t *f = ek_schema_field(p->st, name);
        if (!f) {
            return deduced;
        }
        *declared = true;
        shape_t sh = from_ty(f->ty, f);
        sh.zero = (f->flags & EK_SF_ZERO) || (sh.kind == SH_STRUCT && is_toplevel_struct(name));
        return sh;
    }
    if (p->kind == SH_STRUCT && p->js) {
        const json_t *prop = ek_json_path(p->js, "properties", name, NULL);
        if (prop) {
            *declared = true;
            return from_js(prop);
        }
        return from_js(json_object_get(p->js, "additionalProperties"));
    }
    if (p->kind == SH_MAP) {
        return p->js ? from_js(json_object_get(p->js, "additionalProperties"))
                     : from_ty(p->elem, NULL);
    }
    return deduced;
}

static shape_t elem_shape(const shape_t *p)
{
    if (p->kind != SH_LIST) {
        return deduced;
    }
    return p->js ? from_js(json_object_get(p->js, "items")) : from_ty(p->elem, NULL);
}

static bool is_container(const shape_t *sh)
{
    switch (sh->kind) {
    case SH_STRUCT:
    case SH_MAP:
        return !sh->atomic;
    case SH_LIST:
        return sh->lt != LT_ATOMIC;
    default:
        return false;
    }
}

/* A value of the wrong JSON type for its shape is compared and merged as one value. */
static bool fits(const shape_t *sh, const json_t *v)
{
    if (!v || json_is_null(v)) {
        return true;
    }
    return sh->kind == SH_LIST ? json_is_array(v) : json_is_object(v);
}

static bool is_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* ---- list items as path elements ---- */

typedef struct keynames {
    const char *v[8];
    size_t n;
    char buf[256];
} keynames_t;

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The list-map's key names, sorted (a key's fields are kept in name order). */
static void key_names(const shape_t *sh, keynames_t *k)
{
    k->n = 0;
    if (sh->keys_js) {
        size_t i;
        json_t *v;
        json_array_foreach (sh->keys_js, i, v) {
            if (json_is_string(v) && k->n < EK_ARRAY_SIZE(k->v)) {
                k->v[k->n++] = json_string_value(v);
            }
        }
    } else if (sh->keys) {
        snprintf(k->buf, sizeof(k->buf), "%s", sh->keys);
        char *save = NULL;
        for (char *t = strtok_r(k->buf, ",", &save); t && k->n < EK_ARRAY_SIZE(k->v);
             t = strtok_r(NULL, ",", &save)) {
            k->v[k->n++] = t;
        }
    }
    qsort(k->v, k->n, sizeof(k->v[0]), str_cmp);
}

/* The schema default of a key field an element leaves out (ports' protocol: TCP). */
static json_t *key_default(const shape_t *list, const char *name)
{
    shape_t el = elem_shape(list);
    if (el.js) {
        json_t *d = ek_json_path(el.js, "properties", name, "default", NULL);
        return d ? json_deep_copy(d) : NULL;
    }
    const ek_schema_field_t *f = el.st ? ek_schema_field(el.st, name) : NULL;
    if (!f || !f->default_value) {
        return NULL;
    }
    if (f->ty->kind == EK_ST_INT32 || f->ty->kind == EK_ST_INT64) {
        return json_integer(strtoll(f->default_value, NULL, 10));
    }
    return json_string(f->default_value);
}

/* The element's path element (listItemToPathElement); false when it has none (a list-map
 * element missing a key without default). */
static bool item_pe(const shape_t *list, const json_t *item, size_t index, ek_pe_t *out)
{
    if (list->lt == LT_SET) {
        *out = (ek_pe_t){ EK_PE_VALUE, json_deep_copy(item) };
        return true;
    }
    if (list->lt == LT_ATOMIC) {
        *out = (ek_pe_t){ EK_PE_INDEX, json_integer((json_int_t)index) };
        return true;
    }
    if (!json_is_object(item)) {
        return false;
    }
    keynames_t k;
    key_names(list, &k);
    json_t *key = json_object();
    for (size_t i = 0; i < k.n; i++) {
        json_t *v = json_object_get(item, k.v[i]);
        v = v ? json_deep_copy(v) : key_default(list, k.v[i]);
        if (!v) {
            json_decref(key);
            return false;
        }
        json_object_set_new(key, k.v[i], v);
    }
    *out = (ek_pe_t){ EK_PE_KEY, key };
    return true;
}

/* Items of a list by path element, first occurrence of a duplicate only. */
typedef struct items {
    ek_pe_t *pe;
    const json_t **v;
    size_t n;
} items_t;

static void items_index(const shape_t *list, const json_t *arr, items_t *it)
{
    size_t n = json_array_size(arr);
    it->pe = ek_xcalloc(n + 1, sizeof(*it->pe));
    it->v = ek_xcalloc(n + 1, sizeof(*it->v));
    it->n = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(arr, i);
        ek_pe_t pe;
        if (!item_pe(list, item, i, &pe)) {
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < it->n && !dup; j++) {
            dup = ek__pe_cmp(&it->pe[j], &pe) == 0;
        }
        if (dup) {
            json_decref(pe.v);
            continue;
        }
        it->pe[it->n] = pe;
        it->v[it->n++] = item;
    }
}

static const json_t *items_get(const items_t *it, const ek_pe_t *pe, size_t *pos)
{
    for (size_t i = 0; i < it->n; i++) {
        if (ek__pe_cmp(&it->pe[i], pe) == 0) {
            if (pos) {
                *pos = i;
            }
            return it->v[i];
        }
    }
    return NULL;
}

static void items_free(items_t *it)
{
    for (size_t i = 0; i < it->n; i++) {
        json_decref(it->pe[i].v);
    }
    free(it->pe);
    free(it->v);
}

/* ---- walking with a path ---- */

typedef struct walk {
    ek_pe_t *path;
    size_t depth, cap;
} walk_t;

static void push(walk_t *w, ek_pe_t pe)
{
    if (w->depth == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->path = ek_xrealloc(w->path, w->cap * sizeof(*w->path));
    }
    w->path[w->depth++] = pe;
}

static void push_item(walk_t *w, const ek_pe_t *pe)
{
    push(w, (ek_pe_t){ pe->kind, json_incref(pe->v) });
}

static void pop(walk_t *w)
{
    json_decref(w->path[--w->depth].v);
}

static void walk_free(walk_t *w)
{
    while (w->depth) {
        pop(w);
    }
    free(w->path);
}

static void mark(walk_t *w, ek_fieldset_t *set)
{
    ek__fs_insert(set, w->path, w->depth);
}

/* ---- ToFieldSet ---- */

static void tofs(walk_t *w, ek_fieldset_t *set, shape_t sh, const json_t *v);

static void tofs_list(walk_t *w, ek_fieldset_t *set, const shape_t *sh, const json_t *v)
{
    shape_t el = elem_shape(sh);
    size_t i;
    json_t *item;
    json_array_foreach (v, i, item) {
        ek_pe_t pe;
        if (!item_pe(sh, item, i, &pe)) {
            continue;
        }
        push(w, pe);
        tofs(w, set, el, item);
        mark(w, set);
        pop(w);
    }
}

static void tofs(walk_t *w, ek_fieldset_t *set, shape_t sh, const json_t *v)
{
    sh = resolve(sh, v);
    if (!is_container(&sh) || !fits(&sh, v)) {
        mark(w, set);
        return;
    }
    if (sh.kind == SH_LIST) {
        if (json_is_array(v)) {
            tofs_list(w, set, &sh, v);
        }
        return;
    }
    const char *k;
    json_t *val;
    json_object_foreach ((json_t *)v, k, val) {
        bool declared;
        shape_t ch = field_shape(&sh, k, &declared);
        push(w, ek__pe_field(k));
        tofs(w, set, ch, val);
        /* Null and {} values are owned as such; so are map entries and unknown fields. */
        if (json_is_null(val) || (json_is_object(val) && !json_object_size(val)) || !declared) {
            mark(w, set);
        }
        pop(w);
    }
}

ek_fieldset_t *ek_ssa_fieldset(const ek_ssa_schema_t *sc, const json_t *obj)
{
    ek_fieldset_t *set = ek_fieldset_new();
    walk_t w = { 0 };
    if (json_is_object(obj)) {
        tofs(&w, set, root_shape(sc), obj);
    }
    walk_free(&w);
    ek__fs_prune(set);
    return set;
}

/* ---- Compare ---- */

typedef struct cmp {
    walk_t w;
    ek_fieldset_t *added, *modified, *removed;
} cmp_t;

static void compare(cmp_t *c, shape_t sh, const json_t *l, const json_t *r);

static void compare_map(cmp_t *c, const shape_t *sh, const json_t *l, const json_t *r)
{
    const char *k;
    json_t *v;
    bool declared;
    if (json_is_object(l)) {
        json_object_foreach ((json_t *)l, k, v) {
            push(&c->w, ek__pe_field(k));
            compare(c, field_shape(sh, k, &declared), v,
                    json_is_object(r) ? json_object_get(r, k) : NULL);
            pop(&c->w);
        }
    }
    if (json_is_object(r)) {
        json_object_foreach ((json_t *)r, k, v) {
            if (json_is_object(l) && json_object_get(l, k)) {
                continue;
            }
            push(&c->w, ek__pe_field(k));
            compare(c, field_shape(sh, k, &declared), NULL, v);
            pop(&c->w);
        }
    }
}

static void compare_list(cmp_t *c, const shape_t *sh, const json_t *l, const json_t *r)
{
    items_t li = { 0 }, ri = { 0 };
    items_index(sh, l, &li);
    items_index(sh, r, &ri);
    shape_t el = elem_shape(sh);
    for (size_t i = 0; i < li.n; i++) {
        push_item(&c->w, &li.pe[i]);
        compare(c, el, li.v[i], items_get(&ri, &li.pe[i], NULL));
        pop(&c->w);
    }
    for (size_t i = 0; i < ri.n; i++) {
        if (!items_get(&li, &ri.pe[i], NULL)) {
            push_item(&c->w, &ri.pe[i]);
            compare(c, el, NULL, ri.v[i]);
            pop(&c->w);
        }
    }
    items_free(&li);
    items_free(&ri);
}

/* The merge walker with Compare's rules: leaves (scalars, atomic values, empty containers)
 * are added, removed or modified; a container that only one side has is added or removed
 * itself too (FieldsV1 then shows it with "."). */
static void compare(cmp_t *c, shape_t sh, const json_t *l, const json_t *r)
{
    sh = resolve(sh, r ? r : l);
    if (!is_container(&sh) || (is_empty(l) && is_empty(r)) || !fits(&sh, l) || !fits(&sh, r)) {
        if (!l) {
            mark(&c->w, c->added);
        } else if (!r) {
            mark(&c->w, c->removed);
        } else if (!json_equal(l, r)) {
            mark(&c->w, c->modified);
        }
        return;
    }
    if (sh.kind == SH_LIST) {
        compare_list(c, &sh, json_is_array(l) ? l : NULL, json_is_array(r) ? r : NULL);
    } else {
        compare_map(c, &sh, l, r);
    }
    if (c->w.depth && !l) {
        mark(&c->w, c->added);
    } else if (c->w.depth && !r) {
        mark(&c->w, c->removed);
    }
}

void ek_ssa_compare(const ek_ssa_schema_t *sc, const json_t *lhs, const json_t *rhs,
                    ek_fieldset_t **added, ek_fieldset_t **modified, ek_fieldset_t **removed)
{
    cmp_t c = { .added = ek_fieldset_new(),
                .modified = ek_fieldset_new(),
                .removed = ek_fieldset_new() };
    compare(&c, root_shape(sc), lhs, rhs);
    walk_free(&c.w);
    ek__fs_prune(c.added);
    ek__fs_prune(c.modified);
    ek__fs_prune(c.removed);
    *added = c.added;
    *modified = c.modified;
    *removed = c.removed;
}

/* ---- Merge ---- */

static json_t *merge(shape_t sh, const json_t *l, const json_t *r);

static json_t *merge_map(const shape_t *sh, const json_t *l, const json_t *r)
{
    json_t *out = json_object();
    const char *k;
    json_t *v;
    bool declared;
    if (json_is_object(l)) {
        json_object_foreach ((json_t *)l, k, v) {
            json_t *rv = json_is_object(r) ? json_object_get(r, k) : NULL;
            json_object_set_new(out, k, merge(field_shape(sh, k, &declared), v, rv));
        }
    }
    if (json_is_object(r)) {
        json_object_foreach ((json_t *)r, k, v) {
            if (!json_object_get(out, k)) {
                json_object_set_new(out, k, json_deep_copy(v));
            }
        }
    }
    return out;
}

/* The merged list keeps the applied order for the items the config has and puts the live
 * object's other items where they were relative to them (the merging walker's order). */
static json_t *merge_list(const shape_t *sh, const json_t *l, const json_t *r)
{
    items_t li = { 0 }, ri = { 0 };
    items_index(sh, l, &li);
    items_index(sh, r, &ri);
    shape_t el = elem_shape(sh);
    json_t *out = json_array();
    size_t *shared = ek_xcalloc(ri.n + 1, sizeof(size_t)), nshared = 0, ns = 0;
    for (size_t i = 0; i < ri.n; i++) {
        if (items_get(&li, &ri.pe[i], NULL)) {
            shared[nshared++] = i;
        }
    }
    size_t lI = 0, rI = 0;
    while (lI < li.n || rI < ri.n) {
        size_t before = lI + rI;
        if (lI < li.n && rI < ri.n) {
            if (ek__pe_cmp(&li.pe[lI], &ri.pe[rI]) == 0) {
                json_array_append_new(out, merge(el, li.v[lI], ri.v[rI]));
                lI++;
                rI++;
                ns++;
                continue;
            }
            if (items_get(&ri, &li.pe[lI], NULL) && ns < nshared &&
                ek__pe_cmp(&ri.pe[shared[ns]], &li.pe[lI]) != 0) {
                lI++;
                continue;
            }
        }
        if (lI < li.n && !items_get(&ri, &li.pe[lI], NULL)) {
            json_array_append_new(out, json_deep_copy(li.v[lI]));
            lI++;
            continue;
        }
        if (rI < ri.n) {
            json_array_append_new(out, merge(el, items_get(&li, &ri.pe[rI], NULL), ri.v[rI]));
            if (ns < nshared && shared[ns] == rI) {
                ns++;
            }
            rI++;
        }
        if (lI + rI == before) {
            lI++; /* a live item already merged through the config's order */
        }
    }
    free(shared);
    items_free(&li);
    items_free(&ri);
    return out;
}

static json_t *merge(shape_t sh, const json_t *l, const json_t *r)
{
    if (!r) {
        return l ? json_deep_copy(l) : json_null();
    }
    if (!l) {
        return json_deep_copy(r);
    }
    sh = resolve(sh, r);
    if (!is_container(&sh) || (is_empty(l) && is_empty(r)) || !fits(&sh, l) || !fits(&sh, r)) {
        return json_deep_copy(r);
    }
    if (sh.kind == SH_LIST) {
        return merge_list(&sh, json_is_array(l) ? l : NULL, json_is_array(r) ? r : NULL);
    }
    return merge_map(&sh, l, r);
}

json_t *ek_ssa_merge(const ek_ssa_schema_t *sc, const json_t *live, const json_t *config)
{
    return merge(root_shape(sc), live, config);
}

/* ---- RemoveItems ---- */

static json_t *remove_items(shape_t sh, const json_t *v, const ek_fieldset_t *set)
{
    if (!set || !set->n) {
        return json_deep_copy(v);
    }
    sh = resolve(sh, v);
    if (!is_container(&sh)) {
        return json_deep_copy(v);
    }
    if (sh.kind == SH_LIST && json_is_array(v)) {
        json_t *out = json_array();
        shape_t el = elem_shape(&sh);
        size_t i;
        json_t *item;
        json_array_foreach (v, i, item) {
            ek_pe_t pe;
            const ek_fieldset_t *kid = NULL;
            if (item_pe(&sh, item, i, &pe)) {
                kid = ek__fs_get(set, &pe);
                json_decref(pe.v);
            }
            if (!kid || !kid->member) {
                json_array_append_new(out, remove_items(el, item, kid));
            }
        }
        return out;
    }
    if (sh.kind != SH_LIST && json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *val;
        json_object_foreach ((json_t *)v, k, val) {
            ek_pe_t pe = ek__pe_field(k);
            const ek_fieldset_t *kid = ek__fs_get(set, &pe);
            json_decref(pe.v);
            bool declared;
            if (!kid || !kid->member) {
                json_object_set_new(out, k, remove_items(field_shape(&sh, k, &declared), val, kid));
            }
        }
        return out;
    }
    return json_deep_copy(v);
}

json_t *ek_ssa_remove(const ek_ssa_schema_t *sc, const json_t *obj, const ek_fieldset_t *set)
{
    return remove_items(root_shape(sc), obj, set);
}

/* EnsureNamedFieldsAreMembers: a struct field with owned fields below counts as owned itself,
 * so dropping all of them lets the field go too. */
static void ensure_named_into(ek_fieldset_t *out, const ek_fieldset_t *s, shape_t sh)
{
    for (size_t i = 0; i < s->n; i++) {
        const ek_fs_kid_t *kid = &s->kids[i];
        ek_fieldset_t *o = ek__fs_child(out, &kid->pe);
        o->member |= kid->set->member;
        bool declared = false;
        shape_t ch = deduced;
        if (kid->pe.kind == EK_PE_FIELD) {
            ch = field_shape(&sh, json_string_value(kid->pe.v), &declared);
        } else {
            ch = elem_shape(&sh);
        }
        if (declared && sh.kind == SH_STRUCT && kid->set->n) {
            o->member = true;
        }
        ensure_named_into(o, kid->set, ch);
    }
}

static ek_fieldset_t *ensure_named(const ek_ssa_schema_t *sc, const ek_fieldset_t *s)
{
    ek_fieldset_t *out = ek_fieldset_new();
    if (s) {
        ensure_named_into(out, s, root_shape(sc));
    }
    return out;
}

/* The Go zero value of a built-in kind as JSON: the non-pointer structs (metadata, spec,
 * templates, strategies) as {} and lists without omitempty as null. A created object is
 * compared with it, so what is new relative to it shows as "." in FieldsV1. */
static json_t *zero_value(const shape_t *sh)
{
    json_t *o = json_object();
    if (sh->kind != SH_STRUCT || !sh->st) {
        return o;
    }
    for (size_t i = 0; i < sh->st->n_fields; i++) {
        bool declared;
        shape_t ch = field_shape(sh, sh->st->fields[i].name, &declared);
        if (!ch.zero) {
            continue;
        }
        json_object_set_new(o, sh->st->fields[i].name,
                            ch.kind == SH_STRUCT ? zero_value(&ch) : json_null());
    }
    return o;
}

/* ---- managed fields entries ---- */

typedef struct entry {
    char *manager;
    bool apply;
    char *api_version;
    char *time; /* NULL when unknown */
    char *sub;  /* "" for the main resource */
    ek_fieldset_t *set;
} entry_t;

typedef struct entries {
    entry_t *v;
    size_t n;
} entries_t;

static void entries_free(entries_t *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->v[i].manager);
        free(es->v[i].api_version);
        free(es->v[i].time);
        free(es->v[i].sub);
        ek_fieldset_free(es->v[i].set);
    }
    free(es->v);
    es->v = NULL;
    es->n = 0;
}

static entry_t *entry_add(entries_t *es, const char *manager, bool apply, const char *apiv,
                          const char *sub)
{
    es->v = ek_xrealloc(es->v, (es->n + 1) * sizeof(*es->v));
    entry_t *e = &es->v[es->n++];
    *e = (entry_t){ ek_xstrdup(manager),          apply,
                    ek_xstrdup(apiv ? apiv : ""), NULL,
                    ek_xstrdup(sub ? sub : ""),   ek_fieldset_new() };
    return e;
}

/* An Update entry is one per manager, version and subresource; an Apply entry one per
 * manager and subresource (its apiVersion follows the last apply). */
static entry_t *entry_find(entries_t *es, const char *manager, bool apply, const char *apiv,
                           const char *sub)
{
    for (size_t i = 0; i < es->n; i++) {
        entry_t *e = &es->v[i];
        if (!strcmp(e->manager, manager) && e->apply == apply && !strcmp(e->sub, sub) &&
            (apply || !strcmp(e->api_version, apiv))) {
            return e;
        }
    }
    return NULL;
}

/* Decodes metadata.managedFields; -1 (and nothing kept) when an entry is malformed. */
static int entries_decode(const json_t *mf, entries_t *es)
{
    size_t i;
    json_t *e;
    json_array_foreach (mf, i, e) {
        const char *op = ek_json_str(e, "operation", NULL);
        const char *ft = ek_json_str(e, "fieldsType", NULL);
        if (!json_is_object(e) || !op || (strcmp(op, "Apply") && strcmp(op, "Update")) ||
            (ft && strcmp(ft, "FieldsV1"))) {
            entries_free(es);
            return -1;
        }
        const char *m = ek_json_str(e, "manager", NULL);
        entry_t *x =
            entry_add(es, m ? m : "", !strcmp(op, "Apply"), ek_json_str(e, "apiVersion", NULL),
                      ek_json_str(e, "subresource", NULL));
        const char *t = ek_json_str(e, "time", NULL);
        x->time = t ? ek_xstrdup(t) : NULL;
        const json_t *f = json_object_get(e, "fieldsV1");
        if (f) {
            ek_fieldset_t *s = ek_fieldset_decode(f, NULL);
            if (!s) {
                entries_free(es);
                return -1;
            }
            ek_fieldset_free(x->set);
            x->set = s;
        }
    }
    return 0;
}

/* sortEncodedManagedFields: Apply before Update, then oldest first, then by name. */
static int entry_cmp(const void *pa, const void *pb)
{
    const entry_t *a = pa, *b = pb;
    if (a->apply != b->apply) {
        return a->apply ? -1 : 1;
    }
    const char *ta = a->time ? a->time : "", *tb = b->time ? b->time : "";
    int c = strcmp(ta, tb);
    if (!c) {
        c = strcmp(a->manager, b->manager);
    }
    if (!c) {
        c = strcmp(a->api_version, b->api_version);
    }
    return c ? c : strcmp(a->sub, b->sub);
}

static json_t *entries_encode(entries_t *es)
{
    qsort(es->v, es->n, sizeof(*es->v), entry_cmp);
    json_t *arr = json_array();
    for (size_t i = 0; i < es->n; i++) {
        const entry_t *e = &es->v[i];
        json_t *o = json_object();
        json_object_set_new(o, "manager", json_string(e->manager));
        json_object_set_new(o, "operation", json_string(e->apply ? "Apply" : "Update"));
        json_object_set_new(o, "apiVersion", json_string(e->api_version));
        if (e->time) {
            json_object_set_new(o, "time", json_string(e->time));
        }
        json_object_set_new(o, "fieldsType", json_string("FieldsV1"));
        json_object_set_new(o, "fieldsV1", ek_fieldset_encode(e->set));
        if (*e->sub) {
            json_object_set_new(o, "subresource", json_string(e->sub));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

/* Managers that own nothing any more disappear. */
static void entries_compact(entries_t *es)
{
    size_t w = 0;
    for (size_t i = 0; i < es->n; i++) {
        entry_t *e = &es->v[i];
        if (ek_fieldset_empty(e->set)) {
            free(e->manager);
            free(e->api_version);
            free(e->time);
            free(e->sub);
            ek_fieldset_free(e->set);
            continue;
        }
        es->v[w++] = *e;
    }
    es->n = w;
}

static void set_entry_set(entry_t *e, ek_fieldset_t *s)
{
    ek_fieldset_free(e->set);
    e->set = s;
}

/* Removes paths from every entry but skip (path-exact, as update() strips conflicts and
 * removed fields from the other managers). */
static void entries_subtract(entries_t *es, const ek_fieldset_t *s, const entry_t *skip)
{
    for (size_t i = 0; i < es->n; i++) {
        if (&es->v[i] != skip) {
            set_entry_set(&es->v[i], ek_fieldset_difference(es->v[i].set, s));
        }
    }
}

/* The fields no manager records: type meta and system metadata (stripMetaManager). */
static ek_fieldset_t *strip_set(void)
{
    static const char *const meta[] = { "name",       "namespace",     "creationTimestamp",
                                        "selfLink",   "uid",           "clusterName",
                                        "generation", "managedFields", "resourceVersion" };
    ek_fieldset_t *s = ek_fieldset_new();
    const char *top[] = { "apiVersion", "kind", "metadata" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(top); i++) {
        ek_pe_t pe = ek__pe_field(top[i]);
        ek__fs_insert(s, &pe, 1);
        json_decref(pe.v);
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(meta); i++) {
        ek_pe_t p[2] = { ek__pe_field("metadata"), ek__pe_field(meta[i]) };
        ek__fs_insert(s, p, 2);
        json_decref(p[0].v);
        json_decref(p[1].v);
    }
    return s;
}

static ek_fieldset_t *strip(ek_fieldset_t *s)
{
    ek_auto(ek_fieldset_t) st = strip_set();
    ek_fieldset_t *out = ek_fieldset_difference(s, st);
    ek_fieldset_free(s);
    return out;
}

/* Keeps only what the write tracks (the strategy's reset fields are not owned). */
static ek_fieldset_t *track_filter(ek_fieldset_t *s, ek_ssa_track_t track)
{
    if (track == EK_SSA_TRACK_ALL) {
        return s;
    }
    ek_pe_t pe = ek__pe_field("status");
    ek_fieldset_t *out;
    if (track == EK_SSA_TRACK_NO_STATUS) {
        ek_auto(ek_fieldset_t) st = ek_fieldset_new();
        ek__fs_insert(st, &pe, 1);
        out = ek_fieldset_recursive_difference(s, st);
    } else {
        /* Only the status subtree: the intersection with "everything below status". */
        out = ek_fieldset_new();
        const ek_fieldset_t *kid = ek__fs_get(s, &pe);
        if (kid) {
            ek_fieldset_t *dst = ek__fs_child(out, &pe);
            ek_auto(ek_fieldset_t) cp = ek_fieldset_union(dst, kid);
            ek_fieldset_t tmp = *dst;
            *dst = *cp;
            *cp = tmp;
            dst->member = kid->member;
        }
        ek__fs_prune(out);
    }
    json_decref(pe.v);
    ek_fieldset_free(s);
    return out;
}

/* The object without metadata.managedFields, sharing everything else (shallow copies). */
static json_t *view(const json_t *obj)
{
    json_t *v = json_copy((json_t *)obj);
    json_t *md = json_object_get(v, "metadata");
    if (json_is_object(md) && json_object_get(md, "managedFields")) {
        md = json_copy(md);
        json_object_del(md, "managedFields");
        json_object_set_new(v, "metadata", md);
    }
    return v;
}

static void set_managed_fields(json_t *obj, entries_t *es)
{
    json_t *md = ek_json_obj_ensure(obj, "metadata");
    if (es->n) {
        json_object_set_new(md, "managedFields", entries_encode(es));
    } else {
        json_object_del(md, "managedFields");
    }
}

/* ---- Update ---- */

void ek_ssa_update(const ek_ssa_schema_t *sc, const json_t *old, json_t *obj, const ek_ssa_op_t *op)
{
    entries_t es = { 0 };
    const json_t *sent = ek_json_path(obj, "metadata", "managedFields", NULL);
    /* A client may write managedFields itself (kubectl's migration from client-side apply
     * does); an empty or undecodable list means "unchanged". Subresources never can. */
    bool reset = !*op->subresource && json_array_size(sent) == 1 &&
                 json_is_object(json_array_get(sent, 0)) &&
                 json_object_size(json_array_get(sent, 0)) == 0;
    /* [{}] is how a client strips all managed fields (the documented way). */
    if (!reset && (*op->subresource || json_array_size(sent) == 0 ||
                   entries_decode(sent, &es) < 0 || es.n == 0)) {
        entries_free(&es);
        if (old) {
            entries_decode(ek_json_path(old, "metadata", "managedFields", NULL), &es);
        }
    }
    shape_t root = root_shape(sc);
    ek_auto(json_t) lhs = old ? view(old) : zero_value(&root);
    ek_auto(json_t) rhs = view(obj);
    ek_fieldset_t *a, *m, *r;
    ek_ssa_compare(sc, lhs, rhs, &a, &m, &r);
    a = track_filter(a, op->track);
    m = track_filter(m, op->track);
    r = track_filter(r, op->track);
    ek_fieldset_t *changed = ek_fieldset_union(a, m);
    /* Every other manager (and this one's earlier entry) loses what changed and what went. */
    entries_subtract(&es, changed, NULL);
    entries_subtract(&es, r, NULL);
    changed = strip(changed);
    if (!ek_fieldset_empty(changed)) {
        entry_t *e = entry_find(&es, op->manager, false, op->api_version, op->subresource);
        if (!e) {
            e = entry_add(&es, op->manager, false, op->api_version, op->subresource);
        }
        set_entry_set(e, ek_fieldset_union(e->set, changed));
        free(e->time);
        e->time = ek_xstrdup(op->now);
    }
    entries_compact(&es);
    set_managed_fields(obj, &es);
    entries_free(&es);
    ek_fieldset_free(changed);
    ek_fieldset_free(a);
    ek_fieldset_free(m);
    ek_fieldset_free(r);
}

/* ---- Apply ---- */

/* What the applier owned before, still has in the object, and nobody owns now goes (the
 * updater's prune with addBackOwnedItems and addBackDanglingItems). */
static json_t *prune(const ek_ssa_schema_t *sc, const json_t *merged, const entries_t *es,
                     const ek_fieldset_t *last)
{
    if (ek_fieldset_empty(last)) {
        return json_incref((json_t *)merged);
    }
    ek_auto(ek_fieldset_t) all = ek_fieldset_new();
    for (size_t i = 0; i < es->n; i++) {
        ek_fieldset_t *u = ek_fieldset_union(all, es->v[i].set);
        ek_fieldset_free(all);
        all = u;
    }
    ek_auto(ek_fieldset_t) ms = ek_ssa_fieldset(sc, merged);
    ek_auto(ek_fieldset_t) l = ensure_named(sc, last);
    ek_auto(ek_fieldset_t) m = ensure_named(sc, ms);
    ek_auto(ek_fieldset_t) o = ensure_named(sc, all);
    ek_auto(ek_fieldset_t) lm = ek_fieldset_intersection(l, m);
    ek_auto(ek_fieldset_t) gone = ek_fieldset_difference(lm, o);
    if (ek_fieldset_empty(gone)) {
        return json_incref((json_t *)merged);
    }
    return ek_ssa_remove(sc, merged, gone);
}

/* Fields of the last-applied-configuration whose live values still match it: kubectl's
 * server-side apply may take them over from client-side apply without a conflict. */
static ek_fieldset_t *allowed_from_last_applied(const ek_ssa_schema_t *sc, const json_t *live,
                                                const ek_ssa_op_t *op)
{
    const char *la = live ? ek_json_str(live, "metadata", "annotations", LAST_APPLIED, NULL) : NULL;
    if (!la || !*la) {
        return NULL;
    }
    ek_auto(json_t) cfg = json_loads(la, 0, NULL);
    const char *av = cfg ? ek_json_str(cfg, "apiVersion", NULL) : NULL;
    if (!json_is_object(cfg) || !av || strcmp(av, op->api_version) != 0) {
        return NULL;
    }
    ek_auto(ek_fieldset_t) set = ek_ssa_fieldset(sc, cfg);
    ek_auto(json_t) lv = view(live);
    ek_fieldset_t *a, *m, *r;
    ek_ssa_compare(sc, cfg, lv, &a, &m, &r);
    ek_auto(ek_fieldset_t) s1 = ek_fieldset_difference(set, m);
    ek_auto(ek_fieldset_t) s2 = ek_fieldset_difference(s1, a);
    ek_fieldset_t *out = ek_fieldset_difference(s2, r);
    ek_fieldset_free(a);
    ek_fieldset_free(m);
    ek_fieldset_free(r);
    return out;
}

/* printManager: "name", plus ` with subresource "s"`, plus ` using v` for Update entries. */
static char *manager_label(const entry_t *e)
{
    ek_buf_t b = EK_BUF_INIT;
    json_t *s = json_string(e->manager);
    char *j = ek_json_dumps(s);
    json_decref(s);
    ek_buf_puts(&b, j);
    free(j);
    if (*e->sub) {
        json_t *ss = json_string(e->sub);
        char *sj = ek_json_dumps(ss);
        json_decref(ss);
        ek_buf_printf(&b, " with subresource %s", sj);
        free(sj);
    }
    if (!e->apply) {
        ek_buf_printf(&b, " using %s", e->api_version);
    }
    return ek_buf_steal(&b, NULL);
}

/* BuildManagerIdentifier's JSON, by which conflicting managers are sorted. */
static char *manager_id(const entry_t *e)
{
    json_t *o =
        json_pack("{s:s,s:s}", "manager", e->manager, "operation", e->apply ? "Apply" : "Update");
    if (!e->apply && *e->api_version) {
        json_object_set_new(o, "apiVersion", json_string(e->api_version));
    }
    if (*e->sub) {
        json_object_set_new(o, "subresource", json_string(e->sub));
    }
    char *s = ek_json_dumps(o);
    json_decref(o);
    return s;
}

typedef struct conflict {
    const entry_t *e;
    ek_fieldset_t *set;
    char *id;
} conflict_t;

typedef struct report {
    ek_buf_t msg;
    json_t *causes;
    const char *label;
    size_t count;
} report_t;

static void add_cause(const char *path, void *data)
{
    report_t *rp = data;
    json_t *c = json_object();
    json_object_set_new(c, "reason", json_string("FieldManagerConflict"));
    char *m = ek_xasprintf("conflict with %s", rp->label);
    json_object_set_new(c, "message", json_string(m));
    free(m);
    json_object_set_new(c, "field", json_string(path));
    json_array_append_new(rp->causes, c);
    rp->count++;
}

static void add_line(const char *path, void *data)
{
    ek_buf_printf(data, "\n- %s", path);
}

static int conflict_cmp(const void *a, const void *b)
{
    return strcmp(((const conflict_t *)a)->id, ((const conflict_t *)b)->id);
}

/* The Status of an apply conflict, worded as NewConflictError words it. */
static int conflict_error(conflict_t *cs, size_t n, json_t **causes, ek_error_t **err)
{
    qsort(cs, n, sizeof(*cs), conflict_cmp);
    report_t rp = { EK_BUF_INIT, json_array(), NULL, 0 };
    ek_buf_t lines = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_autofree char *label = manager_label(cs[i].e);
        rp.label = label;
        ek_fieldset_paths(cs[i].set, add_cause, &rp);
        ek_buf_printf(&lines, "%sconflicts with %s:", i ? "\n" : "", label);
        ek_fieldset_paths(cs[i].set, add_line, &lines);
    }
    if (rp.count == 1) {
        json_t *c = json_array_get(rp.causes, 0);
        ek_error_status(err, 409, "Apply failed with 1 conflict: %s: %s",
                        ek_json_str(c, "message", NULL), ek_json_str(c, "field", NULL));
    } else {
        ek_error_status(err, 409, "Apply failed with %zu conflicts: %s", rp.count,
                        lines.data ? lines.data : "");
    }
    ek_buf_free(&lines);
    if (causes) {
        *causes = rp.causes;
    } else {
        json_decref(rp.causes);
    }
    return -1;
}

/* The conflicts of an apply that changes `changed`: other managers' fields among them, less
 * what kubectl may take over from client-side apply. Returns how many managers conflict. */
static size_t find_conflicts(entries_t *es, const entry_t *self, const ek_fieldset_t *changed,
                             const ek_fieldset_t *allowed, conflict_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < es->n; i++) {
        if (&es->v[i] == self) {
            continue;
        }
        ek_fieldset_t *c = ek_fieldset_intersection(es->v[i].set, changed);
        if (allowed) {
            ek_fieldset_t *c2 = ek_fieldset_difference(c, allowed);
            ek_fieldset_free(c);
            c = c2;
        }
        if (ek_fieldset_empty(c)) {
            ek_fieldset_free(c);
            continue;
        }
        out[n++] = (conflict_t){ &es->v[i], c, manager_id(&es->v[i]) };
    }
    return n;
}

static void conflicts_free(conflict_t *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ek_fieldset_free(cs[i].set);
        free(cs[i].id);
    }
    free(cs);
}

/* Conflicts, then the ownership moves of update(): others lose what changed and what went. */
static int settle(const ek_ssa_schema_t *sc, const json_t *live, const json_t *lhs,
                  const json_t *result, entries_t *es, entry_t *self, const ek_ssa_op_t *op,
                  json_t **causes, ek_error_t **err)
{
    ek_fieldset_t *a, *m, *r;
    ek_ssa_compare(sc, lhs, result, &a, &m, &r);
    a = track_filter(a, op->track);
    m = track_filter(m, op->track);
    r = track_filter(r, op->track);
    ek_auto(ek_fieldset_t) changed = ek_fieldset_union(a, m);
    int rc = 0;
    if (!op->force) {
        conflict_t *cs = ek_xcalloc(es->n + 1, sizeof(*cs));
        size_t n = find_conflicts(es, self, changed, NULL, cs);
        if (n && !strcmp(op->manager, "kubectl")) {
            ek_auto(ek_fieldset_t) allowed = allowed_from_last_applied(sc, live, op);
            if (allowed) {
                conflicts_free(cs, n);
                cs = ek_xcalloc(es->n + 1, sizeof(*cs));
                n = find_conflicts(es, self, changed, allowed, cs);
            }
        }
        if (n) {
            rc = conflict_error(cs, n, causes, err);
        }
        conflicts_free(cs, n);
    }
    if (rc == 0) {
        for (size_t i = 0; i < es->n; i++) {
            if (&es->v[i] != self) {
                ek_fieldset_t *d = ek_fieldset_difference(es->v[i].set, changed);
                set_entry_set(&es->v[i], ek_fieldset_difference(d, r));
                ek_fieldset_free(d);
            }
        }
    }
    ek_fieldset_free(a);
    ek_fieldset_free(m);
    ek_fieldset_free(r);
    return rc;
}

/* Typed objects drop nulls; the merge may leave some where a config said null. */
static void drop_nulls(json_t *v)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        json_object_foreach_safe (v, tmp, k, x) {
            if (json_is_null(x)) {
                json_object_del(v, k);
            } else {
                drop_nulls(x);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            drop_nulls(x);
        }
    }
}

/* lastAppliedUpdater: kubectl's server-side apply keeps an existing
 * last-applied-configuration annotation equal to what it applied. */
static void update_last_applied(json_t *obj, const json_t *live, const json_t *config)
{
    const char *la = ek_json_str(live, "metadata", "annotations", LAST_APPLIED, NULL);
    if (!la || !*la) {
        return;
    }
    ek_auto(json_t) c = json_deep_copy(config);
    json_t *ann = ek_json_path(c, "metadata", "annotations", NULL);
    if (json_is_object(ann)) {
        json_object_del(ann, LAST_APPLIED);
        if (!json_object_size(ann)) {
            json_object_del(json_object_get(c, "metadata"), "annotations");
        }
    }
    ek_autofree char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    ek_autofree char *v = ek_xasprintf("%s\n", s ? s : "{}");
    json_t *dst = ek_json_obj_ensure(ek_json_obj_ensure(obj, "metadata"), "annotations");
    json_object_set_new(dst, LAST_APPLIED, json_string(v));
}

static int check_config(const json_t *config, ek_error_t **err)
{
    if (!json_is_object(config)) {
        return ek_error_status(err, 400,
                               "error decoding YAML: the applied configuration is "
                               "not an object");
    }
    const json_t *mf = ek_json_path(config, "metadata", "managedFields", NULL);
    if (mf && !json_is_null(mf)) {
        return ek_error_status(err, 400, "metadata.managedFields must be nil");
    }
    return 0;
}

json_t *ek_ssa_apply(const ek_ssa_schema_t *sc, const json_t *live, const json_t *config,
                     const ek_ssa_op_t *op, json_t **causes, ek_error_t **err)
{
    if (causes) {
        *causes = NULL;
    }
    if (check_config(config, err) < 0) {
        return NULL;
    }
    entries_t es = { 0 };
    if (live) {
        entries_decode(ek_json_path(live, "metadata", "managedFields", NULL), &es);
    }
    ek_auto(json_t) lhs = live ? view(live) : json_object();
    ek_auto(json_t) merged = ek_ssa_merge(sc, lhs, config);
    entry_t *self = entry_find(&es, op->manager, true, op->api_version, op->subresource);
    bool fresh = !self;
    ek_auto(ek_fieldset_t) last = self ? ek_fieldset_copy(self->set) : NULL;
    if (!self) {
        self = entry_add(&es, op->manager, true, op->api_version, op->subresource);
    }
    free(self->api_version);
    self->api_version = ek_xstrdup(op->api_version);
    set_entry_set(self, track_filter(ek_ssa_fieldset(sc, config), op->track));
    json_t *result = prune(sc, merged, &es, last);
    if (settle(sc, live, lhs, result, &es, self, op, causes, err) < 0) {
        json_decref(result);
        entries_free(&es);
        return NULL;
    }
    if (fresh || !json_equal(lhs, result)) {
        free(self->time);
        self->time = ek_xstrdup(op->now);
    }
    set_entry_set(self, strip(ek_fieldset_copy(self->set)));
    drop_nulls(result);
    if (live && !strcmp(op->manager, "kubectl")) {
        update_last_applied(result, live, config);
    }
    entries_compact(&es);
    set_managed_fields(result, &es);
    entries_free(&es);
    return result;
}

/* ---- odds and ends ---- */

ek_ssa_schema_t ek_ssa_schema_for(const ek_resource_t *r)
{
    ek_ssa_schema_t sc = { 0 };
    if (r->schema_type) {
        sc.type = ek_schema_type(r->schema_type);
    } else if (r->custom) {
        sc.crd = ek_json_path(r->custom, "schema", NULL);
    }
    return sc;
}

const char *ek_ssa_manager_from_user_agent(const char *ua, char buf[static 129])
{
    size_t n = 0;
    for (const char *p = ua ? ua : ""; *p && *p != '/' && n < 128; p++) {
        if ((unsigned char)*p >= 0x20 && *p != 0x7f) {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
    return buf;
}
