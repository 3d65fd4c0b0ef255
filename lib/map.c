/* SPDX-License-Identifier: Apache-2.0 */
/* ek_map_t: open addressing keeps lookups to one cache-friendly array walk. */
#include "lib/map.h"

uint64_t ek_hash_str(const char *s)
{
    /* FNV-1a, then a final mix so low bits are usable as the index. */
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static size_t find(const ek_map_t *m, const char *key, uint64_t h, bool *found)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const ek_map_slot_t *s = &m->slots[i];
        if (!s->key) {
            *found = false;
            return i;
        }
        if (s->hash == h && strcmp(s->key, key) == 0) {
            *found = true;
            return i;
        }
    }
}

void *ek_map_get(const ek_map_t *m, const char *key)
{
    if (!m->n) {
        return NULL;
    }
    bool found;
    size_t i = find(m, key, ek_hash_str(key), &found);
    return found ? m->slots[i].value : NULL;
}

static void grow(ek_map_t *m)
{
    size_t old_cap = m->cap;
    ek_map_slot_t *old = m->slots;
    m->cap = old_cap ? old_cap * 2 : 16;
    m->slots = ek_xcalloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].key) {
            bool found;
            size_t j = find(m, old[i].key, old[i].hash, &found);
            m->slots[j] = old[i];
        }
    }
    free(old);
}

void *ek_map_put(ek_map_t *m, const char *key, void *value)
{
    if ((m->n + 1) * 4 > m->cap * 3) {
        grow(m);
    }
    uint64_t h = ek_hash_str(key);
    bool found;
    size_t i = find(m, key, h, &found);
    if (found) {
        void *prev = m->slots[i].value;
        m->slots[i].value = value;
        return prev;
    }
    m->slots[i] = (ek_map_slot_t){ ek_xstrdup(key), h, value };
    m->n++;
    return NULL;
}

void *ek_map_del(ek_map_t *m, const char *key)
{
    if (!m->n) {
        return NULL;
    }
    bool found;
    size_t i = find(m, key, ek_hash_str(key), &found);
    if (!found) {
        return NULL;
    }
    void *value = m->slots[i].value;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->n--;
    /* Backward-shift the following run so probes never stop early at the hole. */
    size_t mask = m->cap - 1;
    for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
    return value;
}

bool ek_map_next(const ek_map_t *m, size_t *i, const char **key, void **value)
{
    for (; *i < m->cap; (*i)++) {
        if (m->slots[*i].key) {
            *key = m->slots[*i].key;
            *value = m->slots[*i].value;
            (*i)++;
            return true;
        }
    }
    return false;
}

void ek_map_free(ek_map_t *m)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->slots[i].key);
    }
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
