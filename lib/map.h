/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A string-keyed hash map (open addressing, linear probing, tombstone-free deletion by
 * backward shift). Keys are copied; values are opaque pointers the caller owns.
 */
#ifndef EK_LIB_MAP_H
#define EK_LIB_MAP_H

#include "lib/common.h"

typedef struct ek_map_slot {
    char *key;
    uint64_t hash;
    void *value;
} ek_map_slot_t;

typedef struct ek_map {
    ek_map_slot_t *slots;
    size_t cap; /* power of two, or 0 */
    size_t n;
} ek_map_t;

#define EK_MAP_INIT \
    {               \
        NULL, 0, 0  \
    }

void *ek_map_get(const ek_map_t *m, const char *key);
/* Inserts or replaces; returns the previous value (or NULL). */
void *ek_map_put(ek_map_t *m, const char *key, void *value);
/* Removes key; returns its value (or NULL). */
void *ek_map_del(ek_map_t *m, const char *key);
/* Iteration: for (size_t i = 0; ek_map_next(m, &i, &key, &value);) — no changes meanwhile. */
bool ek_map_next(const ek_map_t *m, size_t *i, const char **key, void **value);
void ek_map_free(ek_map_t *m);
uint64_t ek_hash_str(const char *s);

#endif
