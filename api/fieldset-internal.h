/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between api/fieldset.c (the set tree and FieldsV1) and api/fieldmanager.c (walking
 * objects against schemas): path elements and the tree's nodes.
 */
#ifndef EK_API_FIELDSET_INTERNAL_H
#define EK_API_FIELDSET_INTERNAL_H

#include "api/api.h"

/* In structured-merge-diff's sort order. */
typedef enum { EK_PE_FIELD, EK_PE_KEY, EK_PE_VALUE, EK_PE_INDEX } ek_pe_kind_t;

/* One path element. v: FIELD a string, KEY an object of the key fields in name order, VALUE
 * the set element, INDEX an integer. Holders own one reference to v. */
typedef struct ek_pe {
    ek_pe_kind_t kind;
    json_t *v;
} ek_pe_t;

typedef struct ek_fs_kid {
    ek_pe_t pe;
    ek_fieldset_t *set;
} ek_fs_kid_t;

/* A node: member says the path ending here is in the set; kids are sorted by ek__pe_cmp. */
struct ek_fieldset {
    bool member;
    size_t n, cap;
    ek_fs_kid_t *kids;
};

int ek__fs_value_cmp(const json_t *a, const json_t *b);
int ek__pe_cmp(const ek_pe_t *a, const ek_pe_t *b);
/* A field-name element holding a new reference (caller decrefs v). */
ek_pe_t ek__pe_field(const char *name);
/* FieldsV1 key. Caller frees. */
char *ek__pe_string(const ek_pe_t *pe);
/* Appends the element as fieldpath.Path.String() writes it. */
void ek__pe_path_append(ek_buf_t *b, const ek_pe_t *pe);
/* Child node or NULL (borrowed). */
ek_fieldset_t *ek__fs_get(const ek_fieldset_t *s, const ek_pe_t *pe);
/* Child node, created when missing (borrowed). */
ek_fieldset_t *ek__fs_child(ek_fieldset_t *s, const ek_pe_t *pe);
/* Adds the path (n > 0 elements) as a member. */
void ek__fs_insert(ek_fieldset_t *s, const ek_pe_t *path, size_t n);
/* Removes nodes that are neither members nor have any below them. */
void ek__fs_prune(ek_fieldset_t *s);

#endif
