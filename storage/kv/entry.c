/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entries: the immutable, reference-counted records the store hands out. One allocation holds
 * the header, the key and the value. A tombstone (the value a DELETED event carries) borrows
 * the key and value of the entry it deletes instead of copying them, so deleting a large
 * object costs a few dozen bytes. Counts are atomic because an entry may outlive its trip
 * through the writer thread in another thread's hands (the API server may pass them on).
 */
#include "storage/kv/kv-internal.h"

typedef struct ent {
    int refs;
    bool deleted;
    const struct ent *base; /* tombstones: the entry whose key and value they show */
    ek_kv_entry_t pub;
    char data[];
} ent_t;

static ent_t *ent_of(const ek_kv_entry_t *e)
{
    return ek_container_of(e, ent_t, pub);
}

const ek_kv_entry_t *ek__kv_entry_new(const char *key, size_t klen, const void *value, size_t vlen,
                                      int64_t create_rev, int64_t mod_rev, int64_t expires_at)
{
    ent_t *e = ek_xmalloc(sizeof(*e) + klen + 1 + vlen + 1);
    char *k = e->data;
    char *v = k + klen + 1;
    memcpy(k, key, klen);
    k[klen] = '\0';
    if (vlen) {
        memcpy(v, value, vlen);
    }
    v[vlen] = '\0';
    e->refs = 1;
    e->deleted = false;
    e->base = NULL;
    e->pub = (ek_kv_entry_t){
        .key = k,
        .value = v,
        .value_len = vlen,
        .create_rev = create_rev,
        .mod_rev = mod_rev,
        .expires_at = expires_at,
    };
    return &e->pub;
}

const ek_kv_entry_t *ek__kv_entry_tombstone(const ek_kv_entry_t *prev, int64_t rev)
{
    ent_t *e = ek_xmalloc(sizeof(*e));
    e->refs = 1;
    e->deleted = true;
    e->base = ent_of(ek_kv_entry_ref(prev));
    e->pub = *prev;
    e->pub.mod_rev = rev;
    return &e->pub;
}

bool ek__kv_entry_deleted(const ek_kv_entry_t *e)
{
    return ent_of(e)->deleted;
}

const ek_kv_entry_t *ek_kv_entry_ref(const ek_kv_entry_t *e)
{
    if (e) {
        __atomic_add_fetch(&ent_of(e)->refs, 1, __ATOMIC_RELAXED);
    }
    return e;
}

void ek_kv_entry_unref(const ek_kv_entry_t *e)
{
    while (e) {
        ent_t *x = ent_of(e);
        if (__atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL) != 0) {
            return;
        }
        /* A tombstone drops its base's reference too: iterate instead of recursing. */
        e = x->base ? &x->base->pub : NULL;
        free(x);
    }
}
