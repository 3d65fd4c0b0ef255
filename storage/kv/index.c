/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory index: a skip list of nodes ordered by key, one node per key that has a
 * committed version, an in-flight write or history still inside the compaction window. Each
 * node carries its committed versions oldest first, which is all MVCC needs: a list at
 * revision R takes, per key, the newest version at or below R. A skip list keeps ordered
 * iteration from any key (prefix lists, continue tokens) and O(log n) lookups without the
 * rebalancing code of a tree; with p = 1/4 a node averages 1.33 forward pointers.
 */
#include "storage/kv/kv-internal.h"

static ek__kv_node_t *node_new(const char *key, int level)
{
    size_t klen = strlen(key);
    size_t ptrs = (size_t)level * sizeof(ek__kv_node_t *);
    ek__kv_node_t *n = ek_xcalloc(1, sizeof(*n) + ptrs + klen + 1);
    n->key = (char *)n + sizeof(*n) + ptrs;
    memcpy(n->key, key, klen + 1);
    n->level = (uint8_t)level;
    n->vol_idx = -1;
    n->vers = &n->one;
    n->capvers = 1;
    return n;
}

static void node_free(ek__kv_node_t *n)
{
    for (uint32_t i = 0; i < n->nvers; i++) {
        ek_kv_entry_unref(n->vers[i]);
    }
    if (n->vers != &n->one) {
        free(n->vers);
    }
    ek_kv_entry_unref(n->latest);
    free(n);
}

void ek__kv_index_init(ek__kv_index_t *ix)
{
    ix->head = node_new("", EK__KV_MAX_LEVEL);
    ix->level = 1;
    ix->count = 0;
    ix->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)ix;
}

void ek__kv_index_free(ek__kv_index_t *ix)
{
    if (!ix->head) {
        return;
    }
    ek__kv_node_t *n = ix->head->next[0];
    while (n) {
        ek__kv_node_t *next = n->next[0];
        node_free(n);
        n = next;
    }
    free(ix->head);
    ix->head = NULL;
}

static int random_level(ek__kv_index_t *ix)
{
    /* xorshift64*: the level only has to be unpredictable enough to keep the list balanced. */
    uint64_t x = ix->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    ix->rng = x;
    uint64_t r = x * 0x2545f4914f6cdd1dull;
    int level = 1;
    while (level < EK__KV_MAX_LEVEL && (r & 3) == 0) {
        level++;
        r >>= 2;
    }
    return level;
}

/* Fills path[i] with the last node before `key` at each level; returns the candidate. */
static ek__kv_node_t *descend(ek__kv_index_t *ix, const char *key, bool after, ek__kv_node_t **path)
{
    ek__kv_node_t *x = ix->head;
    ek_assert(ix->level >= 1);
    for (int i = ix->level - 1; i >= 0; i--) {
        for (;;) {
            ek__kv_node_t *nx = x->next[i];
            if (!nx) {
                break;
            }
            int c = strcmp(nx->key, key);
            if (c < 0 || (after && c == 0)) {
                x = nx;
            } else {
                break;
            }
        }
        if (path) {
            path[i] = x;
        }
    }
    return x->next[0];
}

ek__kv_node_t *ek__kv_index_find(ek__kv_index_t *ix, const char *key)
{
    ek__kv_node_t *n = descend(ix, key, false, NULL);
    return n && strcmp(n->key, key) == 0 ? n : NULL;
}

ek__kv_node_t *ek__kv_index_seek(ek__kv_index_t *ix, const char *from, bool after)
{
    return descend(ix, from, after, NULL);
}

ek__kv_node_t *ek__kv_index_insert(ek__kv_index_t *ix, const char *key)
{
    ek__kv_node_t *path[EK__KV_MAX_LEVEL];
    ek__kv_node_t *n = descend(ix, key, false, path);
    if (n && strcmp(n->key, key) == 0) {
        return n;
    }
    int level = random_level(ix);
    for (int i = ix->level; i < level; i++) {
        path[i] = ix->head;
    }
    if (level > ix->level) {
        ix->level = level;
    }
    n = node_new(key, level);
    for (int i = 0; i < level; i++) {
        n->next[i] = path[i]->next[i];
        path[i]->next[i] = n;
    }
    ix->count++;
    return n;
}

void ek__kv_index_remove(ek__kv_index_t *ix, ek__kv_node_t *n)
{
    ek__kv_node_t *path[EK__KV_MAX_LEVEL];
    ek__kv_node_t *found = descend(ix, n->key, false, path);
    ek_assert(found == n && n->level <= ix->level);
    for (int i = 0; i < n->level; i++) {
        path[i]->next[i] = n->next[i];
    }
    while (ix->level > 1 && !ix->head->next[ix->level - 1]) {
        ix->level--;
    }
    ix->count--;
    node_free(n);
}

void ek__kv_node_push(ek__kv_node_t *n, const ek_kv_entry_t *e)
{
    if (n->nvers == n->capvers) {
        uint32_t cap = n->capvers * 2;
        const ek_kv_entry_t **v = ek_xmalloc(cap * sizeof(*v));
        memcpy(v, n->vers, n->nvers * sizeof(*v));
        if (n->vers != &n->one) {
            free(n->vers);
        }
        n->vers = v;
        n->capvers = cap;
    }
    n->vers[n->nvers++] = e;
}

const ek_kv_entry_t *ek__kv_node_newest(const ek__kv_node_t *n)
{
    return n->nvers ? n->vers[n->nvers - 1] : NULL;
}

const ek_kv_entry_t *ek__kv_node_current(const ek__kv_node_t *n)
{
    const ek_kv_entry_t *e = ek__kv_node_newest(n);
    return e && !ek__kv_entry_deleted(e) ? e : NULL;
}

const ek_kv_entry_t *ek__kv_node_at(const ek__kv_node_t *n, int64_t rev)
{
    for (uint32_t i = n->nvers; i > 0; i--) {
        const ek_kv_entry_t *e = n->vers[i - 1];
        if (e->mod_rev <= rev) {
            return ek__kv_entry_deleted(e) ? NULL : e;
        }
    }
    return NULL;
}

size_t ek__kv_node_compact(ek__kv_node_t *n, int64_t rev)
{
    uint32_t drop = 0;
    while (drop < n->nvers && n->vers[drop]->mod_rev < rev) {
        drop++;
    }
    /* A tombstone at the compaction point has nothing left to hide: it goes as well. */
    if (drop < n->nvers && n->vers[drop]->mod_rev == rev && ek__kv_entry_deleted(n->vers[drop])) {
        drop++;
    }
    for (uint32_t i = 0; i < drop; i++) {
        ek_kv_entry_unref(n->vers[i]);
    }
    memmove(n->vers, n->vers + drop, (n->nvers - drop) * sizeof(*n->vers));
    n->nvers -= drop;
    if (n->nvers <= 1 && n->vers != &n->one) {
        n->one = n->nvers ? n->vers[0] : NULL;
        free(n->vers);
        n->vers = &n->one;
        n->capvers = 1;
    }
    return drop;
}
