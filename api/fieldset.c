/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Field sets: the sets of field paths that server-side apply records per manager
 * (structured-merge-diff's fieldpath.Set) and their FieldsV1 encoding in
 * metadata.managedFields. A set is a tree: each node is one path element (a field name
 * `f:x`, a list-map key `k:{"name":"a"}`, a set value `v:"x"` or an index `i:0`) and says
 * whether the path ending there is itself in the set (FieldsV1 writes that as "." when the
 * node also has children). Children stay sorted in structured-merge-diff's order, which is
 * the order FieldsV1 is written in and the order conflicts are reported in. Pure code.
 */
#include <math.h>
#include <stdio.h>

#include "api/fieldset-internal.h"

/* ---- path elements ---- */

/* value.Compare's total order: numbers < strings < booleans < lists < maps < null. */
static int rank(const json_t *v)
{
    if (json_is_number(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        return 1;
    }
    if (json_is_boolean(v)) {
        return 2;
    }
    if (json_is_array(v)) {
        return 3;
    }
    if (json_is_object(v)) {
        return 4;
    }
    return 5;
}

static int num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    double x = json_number_value(a), y = json_number_value(b);
    return x < y ? -1 : x > y;
}

static int obj_cmp(const json_t *a, const json_t *b);

int ek__fs_value_cmp(const json_t *a, const json_t *b)
{
    int ra = rank(a), rb = rank(b);
    if (ra != rb) {
        return ra < rb ? -1 : 1;
    }
    switch (ra) {
    case 0:
        return num_cmp(a, b);
    case 1: {
        int c = strcmp(json_string_value(a), json_string_value(b));
        return c < 0 ? -1 : c > 0;
    }
    case 2:
        return json_is_true(a) - json_is_true(b);
    case 3: {
        size_t na = json_array_size(a), nb = json_array_size(b);
        for (size_t i = 0; i < na && i < nb; i++) {
            int c = ek__fs_value_cmp(json_array_get(a, i), json_array_get(b, i));
            if (c) {
                return c;
            }
        }
        return na < nb ? -1 : na > nb;
    }
    case 4:
        return obj_cmp(a, b);
    default:
        return 0;
    }
}

/* Key field lists are compared name by name, then value by value (FieldList.Compare); the
 * lists are built in key-name order, so iteration order is the sorted order. */
static int obj_cmp(const json_t *a, const json_t *b)
{
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    for (; ia && ib;
         ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
        int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
        if (c) {
            return c < 0 ? -1 : 1;
        }
        c = ek__fs_value_cmp(json_object_iter_value(ia), json_object_iter_value(ib));
        if (c) {
            return c;
        }
    }
    return ia ? 1 : ib ? -1 : 0;
}

int ek__pe_cmp(const ek_pe_t *a, const ek_pe_t *b)
{
    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    if (a->kind == EK_PE_FIELD) {
        int c = strcmp(json_string_value(a->v), json_string_value(b->v));
        return c < 0 ? -1 : c > 0;
    }
    return ek__fs_value_cmp(a->v, b->v);
}

ek_pe_t ek__pe_field(const char *name)
{
    return (ek_pe_t){ EK_PE_FIELD, json_string(name) };
}

/* "f:name", `k:{"port":80,"protocol":"TCP"}`, `v:"x"`, "i:3". Caller frees. */
char *ek__pe_string(const ek_pe_t *pe)
{
    if (pe->kind == EK_PE_FIELD) {
        return ek_xasprintf("f:%s", json_string_value(pe->v));
    }
    ek_autofree char *j = ek_json_dumps(pe->v);
    static const char prefix[] = { 'f', 'k', 'v', 'i' };
    return ek_xasprintf("%c:%s", prefix[pe->kind], j);
}

/* Go's %v of a key or set value inside a path string: strings quoted, the rest as JSON. */
static void append_value(ek_buf_t *b, const json_t *v)
{
    ek_autofree char *j = ek_json_dumps(v);
    ek_buf_append(b, j, strlen(j));
}

/* How fieldpath.Path.String() writes one element: ".name", `[name="a",port=80]`, `[="x"]`,
 * "[3]". */
void ek__pe_path_append(ek_buf_t *b, const ek_pe_t *pe)
{
    switch (pe->kind) {
    case EK_PE_FIELD:
        ek_buf_append(b, ".", 1);
        ek_buf_append(b, json_string_value(pe->v), strlen(json_string_value(pe->v)));
        return;
    case EK_PE_KEY: {
        ek_buf_append(b, "[", 1);
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach ((json_t *)pe->v, k, v) {
            if (!first) {
                ek_buf_append(b, ",", 1);
            }
            first = false;
            ek_buf_append(b, k, strlen(k));
            ek_buf_append(b, "=", 1);
            append_value(b, v);
        }
        ek_buf_append(b, "]", 1);
        return;
    }
    case EK_PE_VALUE:
        ek_buf_append(b, "[=", 2);
        append_value(b, pe->v);
        ek_buf_append(b, "]", 1);
        return;
    case EK_PE_INDEX: {
        char n[32];
        snprintf(n, sizeof(n), "[%lld]", (long long)json_integer_value(pe->v));
        ek_buf_append(b, n, strlen(n));
        return;
    }
    }
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Parses a FieldsV1 key; false on anything malformed. */
static bool pe_parse(const char *s, ek_pe_t *out)
{
    if (strlen(s) < 2 || s[1] != ':') {
        return false;
    }
    if (s[0] == 'f') {
        *out = ek__pe_field(s + 2);
        return true;
    }
    json_t *v = json_loads(s + 2, JSON_DECODE_ANY, NULL);
    if (!v) {
        return false;
    }
    if (s[0] == 'k' && json_is_object(v)) {
        /* Keys are kept in name order: that is how they compare and print. */
        json_t *sorted = json_object();
        const char **names = ek_xcalloc(json_object_size(v) + 1, sizeof(char *));
        size_t n = 0;
        const char *k;
        json_t *x;
        json_object_foreach (v, k, x) {
            names[n++] = k;
        }
        qsort(names, n, sizeof(char *), str_cmp);
        for (size_t i = 0; i < n; i++) {
            json_object_set(sorted, names[i], json_object_get(v, names[i]));
        }
        free(names);
        json_decref(v);
        *out = (ek_pe_t){ EK_PE_KEY, sorted };
        return true;
    }
    if (s[0] == 'v') {
        *out = (ek_pe_t){ EK_PE_VALUE, v };
        return true;
    }
    if (s[0] == 'i' && json_is_integer(v)) {
        *out = (ek_pe_t){ EK_PE_INDEX, v };
        return true;
    }
    json_decref(v);
    return false;
}

/* ---- the tree ---- */

ek_fieldset_t *ek_fieldset_new(void)
{
    return ek_new(ek_fieldset_t);
}

void ek_fieldset_free(ek_fieldset_t *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        json_decref(s->kids[i].pe.v);
        ek_fieldset_free(s->kids[i].set);
    }
    free(s->kids);
    free(s);
}

/* Binary search; *pos is where pe is or would go. */
static ek_fs_kid_t *find(const ek_fieldset_t *s, const ek_pe_t *pe, size_t *pos)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = ek__pe_cmp(&s->kids[mid].pe, pe);
        if (c == 0) {
            if (pos) {
                *pos = mid;
            }
            return &s->kids[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (pos) {
        *pos = lo;
    }
    return NULL;
}

ek_fieldset_t *ek__fs_get(const ek_fieldset_t *s, const ek_pe_t *pe)
{
    ek_fs_kid_t *k = find(s, pe, NULL);
    return k ? k->set : NULL;
}

/* The child node for pe, created (with its own reference to pe's value) when missing. */
ek_fieldset_t *ek__fs_child(ek_fieldset_t *s, const ek_pe_t *pe)
{
    size_t pos;
    ek_fs_kid_t *k = find(s, pe, &pos);
    if (k) {
        return k->set;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->kids = ek_xrealloc(s->kids, s->cap * sizeof(*s->kids));
    }
    memmove(&s->kids[pos + 1], &s->kids[pos], (s->n - pos) * sizeof(*s->kids));
    s->kids[pos] = (ek_fs_kid_t){ { pe->kind, json_incref(pe->v) }, ek_fieldset_new() };
    s->n++;
    return s->kids[pos].set;
}

void ek__fs_insert(ek_fieldset_t *s, const ek_pe_t *path, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        s = ek__fs_child(s, &path[i]);
    }
    if (n) {
        s->member = true;
    }
}

/* Drops nodes that are neither members nor lead to one (the tree's one invariant). */
void ek__fs_prune(ek_fieldset_t *s)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        ek__fs_prune(s->kids[i].set);
        if (!s->kids[i].set->member && s->kids[i].set->n == 0) {
            json_decref(s->kids[i].pe.v);
            ek_fieldset_free(s->kids[i].set);
            continue;
        }
        s->kids[w++] = s->kids[i];
    }
    s->n = w;
}

bool ek_fieldset_empty(const ek_fieldset_t *s)
{
    return !s || s->n == 0;
}

static void add_into(ek_fieldset_t *dst, const ek_fieldset_t *src)
{
    for (size_t i = 0; i < src->n; i++) {
        ek_fieldset_t *d = ek__fs_child(dst, &src->kids[i].pe);
        d->member |= src->kids[i].set->member;
        add_into(d, src->kids[i].set);
    }
}

ek_fieldset_t *ek_fieldset_copy(const ek_fieldset_t *s)
{
    ek_fieldset_t *out = ek_fieldset_new();
    if (s) {
        add_into(out, s);
    }
    return out;
}

ek_fieldset_t *ek_fieldset_union(const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    ek_fieldset_t *out = ek_fieldset_copy(a);
    if (b) {
        add_into(out, b);
    }
    return out;
}

/* Path-exact difference (Set.Difference): a member of b removes that path only. */
static void diff_into(ek_fieldset_t *out, const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    for (size_t i = 0; i < a->n; i++) {
        const ek_fieldset_t *ak = a->kids[i].set;
        const ek_fieldset_t *bk = b ? ek__fs_get(b, &a->kids[i].pe) : NULL;
        ek_fieldset_t *o = ek__fs_child(out, &a->kids[i].pe);
        o->member = ak->member && !(bk && bk->member);
        diff_into(o, ak, bk);
    }
}

ek_fieldset_t *ek_fieldset_difference(const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    ek_fieldset_t *out = ek_fieldset_new();
    if (a) {
        diff_into(out, a, b);
    }
    ek__fs_prune(out);
    return out;
}

static void inter_into(ek_fieldset_t *out, const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    for (size_t i = 0; i < a->n; i++) {
        const ek_fieldset_t *bk = ek__fs_get(b, &a->kids[i].pe);
        if (!bk) {
            continue;
        }
        ek_fieldset_t *o = ek__fs_child(out, &a->kids[i].pe);
        o->member = a->kids[i].set->member && bk->member;
        inter_into(o, a->kids[i].set, bk);
    }
}

ek_fieldset_t *ek_fieldset_intersection(const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    ek_fieldset_t *out = ek_fieldset_new();
    if (a && b) {
        inter_into(out, a, b);
    }
    ek__fs_prune(out);
    return out;
}

/* Removes b's members together with everything below them (Set.RecursiveDifference). */
static void rdiff_into(ek_fieldset_t *out, const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    for (size_t i = 0; i < a->n; i++) {
        const ek_fieldset_t *bk = b ? ek__fs_get(b, &a->kids[i].pe) : NULL;
        if (bk && bk->member) {
            continue;
        }
        ek_fieldset_t *o = ek__fs_child(out, &a->kids[i].pe);
        o->member = a->kids[i].set->member;
        rdiff_into(o, a->kids[i].set, bk);
    }
}

ek_fieldset_t *ek_fieldset_recursive_difference(const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    ek_fieldset_t *out = ek_fieldset_new();
    if (a) {
        rdiff_into(out, a, b);
    }
    ek__fs_prune(out);
    return out;
}

bool ek_fieldset_equal(const ek_fieldset_t *a, const ek_fieldset_t *b)
{
    size_t na = a ? a->n : 0, nb = b ? b->n : 0;
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        const ek_fs_kid_t *x = &a->kids[i], *y = &b->kids[i];
        if (ek__pe_cmp(&x->pe, &y->pe) != 0 || x->set->member != y->set->member ||
            !ek_fieldset_equal(x->set, y->set)) {
            return false;
        }
    }
    return true;
}

/* ---- FieldsV1 ---- */

static json_t *encode(const ek_fieldset_t *s, bool self)
{
    json_t *o = json_object();
    if (self && s->member && s->n) {
        json_object_set_new(o, ".", json_object());
    }
    for (size_t i = 0; i < s->n; i++) {
        ek_autofree char *k = ek__pe_string(&s->kids[i].pe);
        json_object_set_new(o, k, encode(s->kids[i].set, true));
    }
    return o;
}

json_t *ek_fieldset_encode(const ek_fieldset_t *s)
{
    if (!s) {
        return json_object();
    }
    return encode(s, false);
}

static int decode(ek_fieldset_t *s, const json_t *o, ek_error_t **err)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)o, k, v) {
        if (!json_is_object(v)) {
            return ek_error_status(err, 400, "FieldsV1: value of `%s` is not an object", k);
        }
        if (strcmp(k, ".") == 0) {
            s->member = true;
            continue;
        }
        ek_pe_t pe;
        if (!pe_parse(k, &pe)) {
            return ek_error_status(err, 400, "FieldsV1: bad path element `%s`", k);
        }
        ek_fieldset_t *kid = ek__fs_child(s, &pe);
        json_decref(pe.v);
        if (json_object_size(v) == 0) {
            kid->member = true;
        } else if (decode(kid, v, err) < 0) {
            return -1;
        }
    }
    return 0;
}

ek_fieldset_t *ek_fieldset_decode(const json_t *fields_v1, ek_error_t **err)
{
    if (!json_is_object(fields_v1)) {
        ek_error_status(err, 400, "FieldsV1: not an object");
        return NULL;
    }
    ek_fieldset_t *s = ek_fieldset_new();
    if (decode(s, fields_v1, err) < 0) {
        ek_fieldset_free(s);
        return NULL;
    }
    s->member = false;
    ek__fs_prune(s);
    return s;
}

/* Set.Iterate's order: a node's member children first, then the subtrees below it. */
static void iterate(const ek_fieldset_t *s, ek_buf_t *path, ek_fieldset_path_cb fn, void *data)
{
    size_t mark = path->len;
    for (size_t i = 0; i < s->n; i++) {
        if (s->kids[i].set->member) {
            ek__pe_path_append(path, &s->kids[i].pe);
            fn(path->data, data);
            path->len = mark;
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->kids[i].set->n) {
            ek__pe_path_append(path, &s->kids[i].pe);
            iterate(s->kids[i].set, path, fn, data);
            path->len = mark;
        }
    }
}

void ek_fieldset_paths(const ek_fieldset_t *s, ek_fieldset_path_cb fn, void *data)
{
    if (!s) {
        return;
    }
    ek_buf_t path = EK_BUF_INIT;
    iterate(s, &path, fn, data);
    ek_buf_free(&path);
}
