/* SPDX-License-Identifier: Apache-2.0 */
/*
 * From what one Service's rules should be to what the kernel has: the smallest set of table
 * operations, in an order the kernel accepts within one transaction — new chains (empty) first
 * so anything may refer to them; then flushes of changed and unused chains (dropping their
 * references to sets and chains); then affinity sets out and in; then the rules; then map
 * elements out and in. Unused chains are only flushed: they are deleted in a later
 * transaction, because kernels before 6.2 still count a just-deleted map element's reference
 * to its chain until the transaction ends (kube-proxy waits a second for the same reason).
 *
 * Map elements live in tables shared by all Services; two Services can claim the same key (the
 * same externalIP and port). The first keeps it and the other waits: it is synced again when
 * the owner lets go, as kube-proxy's last-writer-wins rebuild would eventually settle.
 */
#include <stdio.h>

#include "net/proxy/proxy-internal.h"

static void elem_keystr(const aelem_t *e, char buf[40])
{
    snprintf(buf, 40, "%u/%08x/%u/%u", e->map, e->ip.s_addr, e->proto, e->port);
}

static bool elem_same(const aelem_t *a, const aelem_t *b)
{
    return a->map == b->map && a->ip.s_addr == b->ip.s_addr && a->proto == b->proto &&
           a->port == b->port;
}

static pop_t *elem_op(plan_t *pl, uint8_t kind, const aelem_t *e, const char *chain)
{
    pop_t *op = ek__plan_op(pl, kind, chain);
    op->map = e->map;
    op->ip = e->ip;
    op->proto = e->proto;
    op->port = e->port;
    op->verdict = e->verdict;
    return op;
}

static void waiter_add(ek_proxy_t *p, const char *key, const char *bucket_key)
{
    ek_strlist_t *w = ek_map_get(&p->elem_waiters, key);
    if (!w) {
        w = ek_new(ek_strlist_t);
        ek_map_put(&p->elem_waiters, key, w);
    }
    for (size_t i = 0; i < w->n; i++) {
        if (strcmp(w->v[i], bucket_key) == 0) {
            return;
        }
    }
    ek_strlist_add(w, bucket_key);
}

/* The key is free again: whoever wanted it gets another sync. */
static void elem_release(ek_proxy_t *p, const char *key)
{
    ek_map_del(&p->elem_owner, key);
    ek_strlist_t *w = ek_map_del(&p->elem_waiters, key);
    for (size_t i = 0; w && i < w->n; i++) {
        bucket_t *b = ek_map_get(&p->buckets, w->v[i]);
        if (b) {
            ek__bucket_dirty(p, b);
        }
    }
    if (w) {
        ek_strlist_free(w);
        free(w);
    }
}

/* Drops desired elements whose key another bucket holds (they wait for it). */
static void claim_elems(ek_proxy_t *p, bucket_t *b, desired_t *d)
{
    size_t w = 0;
    for (size_t i = 0; i < d->n_elems; i++) {
        char key[40];
        elem_keystr(&d->elems[i], key);
        bucket_t *owner = ek_map_get(&p->elem_owner, key);
        if (owner && owner != b) {
            EK_LOG(EK_DEBUG, "proxy", "address taken service=%s owner=%s key=%s", b->key,
                   owner->key, key);
            waiter_add(p, key, b->key);
            free(d->elem_chains[i]);
            continue;
        }
        d->elems[w] = d->elems[i];
        d->elem_chains[w] = d->elem_chains[i];
        w++;
    }
    d->n_elems = w;
}

static void diff_elems(ek_proxy_t *p, plan_t *pl, bucket_t *b, desired_t *d)
{
    applied_t *a = &b->applied;
    for (size_t i = 0; i < a->n_elems; i++) {
        bool keep = false;
        for (size_t k = 0; k < d->n_elems && !keep; k++) {
            keep = elem_same(&a->elems[i], &d->elems[k]) &&
                   a->elems[i].verdict == d->elems[k].verdict &&
                   a->elems[i].chain_hash == d->elems[k].chain_hash;
        }
        if (!keep) {
            elem_op(pl, POP_ELEM_DEL, &a->elems[i], NULL);
            p->st.elements--;
            bool again = false;
            for (size_t k = 0; k < d->n_elems && !again; k++) {
                again = elem_same(&a->elems[i], &d->elems[k]);
            }
            if (!again) {
                char key[40];
                elem_keystr(&a->elems[i], key);
                elem_release(p, key);
            }
        }
    }
    for (size_t k = 0; k < d->n_elems; k++) {
        bool have = false;
        for (size_t i = 0; i < a->n_elems && !have; i++) {
            have = elem_same(&a->elems[i], &d->elems[k]) &&
                   a->elems[i].verdict == d->elems[k].verdict &&
                   a->elems[i].chain_hash == d->elems[k].chain_hash;
        }
        if (!have) {
            elem_op(pl, POP_ELEM_ADD, &d->elems[k], d->elem_chains[k]);
            p->st.elements++;
            char key[40];
            elem_keystr(&d->elems[k], key);
            ek_map_put(&p->elem_owner, key, b);
        }
    }
    free(a->elems);
    a->elems = ek_steal(&d->elems);
    a->n_elems = d->n_elems;
}

static achain_t *find_chain(applied_t *a, ek_map_t *index, const char *name)
{
    uintptr_t i = (uintptr_t)ek_map_get(index, name);
    return i ? &a->chains[i - 1] : NULL;
}

/* Chains: new ones added, changed and unused ones flushed; rules written afterwards. */
static void diff_chains(ek_proxy_t *p, plan_t *pl, bucket_t *b, desired_t *d, bool *seen,
                        ek_map_t *index, int64_t now)
{
    applied_t *a = &b->applied;
    for (size_t i = 0; i < d->n_chains; i++) {
        achain_t *ac = find_chain(a, index, d->chains[i].name);
        if (!ac) {
            ek__plan_op(pl, POP_CHAIN_ADD, d->chains[i].name);
            p->st.chains++;
        }
    }
    for (size_t i = 0; i < d->n_chains; i++) {
        dchain_t *dc = &d->chains[i];
        uint64_t h = dc->rules.buf.len ? ek__hash64(dc->rules.buf.data, dc->rules.buf.len) : 0;
        achain_t *ac = find_chain(a, index, dc->name);
        if (ac) {
            seen[ac - a->chains] = true;
        }
        if (ac && ac->hash == h) {
            dc->rules.n = UINT32_MAX; /* unchanged: nothing to write */
            ac->stale_since = -1;
            continue;
        }
        if (ac && ac->hash) {
            ek__plan_op(pl, POP_CHAIN_FLUSH, dc->name);
            p->st.rules -= ac->n_rules;
        }
    }
    for (size_t i = 0; i < a->n_chains; i++) {
        achain_t *ac = &a->chains[i];
        if (!seen[i] && ac->stale_since < 0) {
            if (ac->hash) {
                ek__plan_op(pl, POP_CHAIN_FLUSH, ac->name);
                p->st.rules -= ac->n_rules;
            }
            ac->hash = 0;
            ac->n_rules = 0;
            ac->stale_since = now;
            b->has_stale = true;
        }
    }
}

static void diff_sets(ek_proxy_t *p, plan_t *pl, bucket_t *b, desired_t *d)
{
    applied_t *a = &b->applied;
    for (size_t i = 0; i < a->n_sets; i++) {
        bool keep = false;
        for (size_t k = 0; k < d->n_sets && !keep; k++) {
            keep = strcmp(a->sets[i].name, d->sets[k].name) == 0 &&
                   a->sets[i].timeout_s == d->sets[k].timeout_s;
        }
        if (!keep) {
            ek__plan_op(pl, POP_SET_DEL, a->sets[i].name);
            p->st.sets--;
        }
    }
    for (size_t k = 0; k < d->n_sets; k++) {
        bool have = false;
        for (size_t i = 0; i < a->n_sets && !have; i++) {
            have = strcmp(a->sets[i].name, d->sets[k].name) == 0 &&
                   a->sets[i].timeout_s == d->sets[k].timeout_s;
        }
        if (!have) {
            ek__plan_op(pl, POP_SET_ADD, d->sets[k].name)->timeout_ms =
                (uint64_t)d->sets[k].timeout_s * 1000;
            p->st.sets++;
        }
    }
    for (size_t i = 0; i < a->n_sets; i++) {
        free(a->sets[i].name);
    }
    free(a->sets);
    a->sets = ek_steal(&d->sets);
    a->n_sets = d->n_sets;
    d->n_sets = 0;
}

static void write_rules(ek_proxy_t *p, plan_t *pl, desired_t *d)
{
    for (size_t i = 0; i < d->n_chains; i++) {
        dchain_t *dc = &d->chains[i];
        if (dc->rules.n == UINT32_MAX || dc->rules.buf.len == 0) {
            continue;
        }
        pop_t *op = ek__plan_op(pl, POP_RULES, dc->name);
        op->data = ek__plan_bytes(pl, dc->rules.buf.data, dc->rules.buf.len);
        op->len = (uint32_t)dc->rules.buf.len;
        p->st.rules += dc->rules.n;
    }
}

/* The applied chains become the desired ones plus those waiting, flushed, for deletion. */
static void adopt_chains(bucket_t *b, desired_t *d, bool *seen, ek_map_t *index)
{
    applied_t *a = &b->applied;
    size_t n = d->n_chains;
    for (size_t i = 0; i < a->n_chains; i++) {
        n += !seen[i];
    }
    achain_t *chains = ek_xcalloc(n + 1, sizeof(*chains));
    size_t w = 0;
    for (size_t i = 0; i < d->n_chains; i++) {
        dchain_t *dc = &d->chains[i];
        achain_t *old = find_chain(a, index, dc->name);
        uint64_t h = dc->rules.buf.len ? ek__hash64(dc->rules.buf.data, dc->rules.buf.len) : 0;
        chains[w++] = (achain_t){ ek_steal(&dc->name), h,
                                  dc->rules.n == UINT32_MAX ? old->n_rules : dc->rules.n, -1 };
    }
    for (size_t i = 0; i < a->n_chains; i++) {
        if (seen[i]) {
            free(a->chains[i].name);
        } else {
            chains[w++] = a->chains[i];
        }
    }
    free(a->chains);
    a->chains = chains;
    a->n_chains = w;
}

static bool dest_in(const pdest_t *v, size_t n, const pdest_t *x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].ip.s_addr == x->ip.s_addr && v[i].port == x->port) {
            return true;
        }
    }
    return false;
}

static void ct_task_add(plan_t *pl, const audp_t *old, const audp_t *new_)
{
    pl->ct = ek_xrealloc(pl->ct, (pl->n_ct + 1) * sizeof(*pl->ct));
    ct_task_t *t = &pl->ct[pl->n_ct++];
    size_t n_old = old ? old->n_addrs : 0, n_new = new_ ? new_->n_addrs : 0;
    t->addrs = ek_xcalloc(n_old + n_new + 1, sizeof(*t->addrs));
    t->n_addrs = 0;
    for (size_t i = 0; i < n_old + n_new; i++) {
        const pdest_t *x = i < n_old ? &old->addrs[i] : &new_->addrs[i - n_old];
        if (!dest_in(t->addrs, t->n_addrs, x)) {
            t->addrs[t->n_addrs++] = *x;
        }
    }
    t->n_keep = new_ ? new_->n_eps : 0;
    t->keep = ek_xcalloc(t->n_keep + 1, sizeof(*t->keep));
    if (t->n_keep) {
        memcpy(t->keep, new_->eps, t->n_keep * sizeof(*t->keep));
    }
}

/* UDP flows pinned to endpoints that went away (or never NATed, while the service had
 * none) would keep failing: their conntrack entries go after the transaction. */
static void diff_udp(plan_t *pl, bucket_t *b, desired_t *d)
{
    applied_t *a = &b->applied;
    for (size_t i = 0; i < a->n_udp; i++) {
        const audp_t *o = &a->udp[i], *n = NULL;
        for (size_t k = 0; k < d->n_udp && !n; k++) {
            n = strcmp(d->udp[k].name, o->name) == 0 ? &d->udp[k] : NULL;
        }
        bool removed = false;
        for (size_t e = 0; e < o->n_eps && !removed; e++) {
            removed = !n || !dest_in(n->eps, n->n_eps, &o->eps[e]);
        }
        if (removed || (n && o->n_eps == 0 && n->n_eps > 0)) {
            ct_task_add(pl, o, n);
        }
    }
    for (size_t k = 0; k < d->n_udp; k++) {
        bool known = false;
        for (size_t i = 0; i < a->n_udp && !known; i++) {
            known = strcmp(d->udp[k].name, a->udp[i].name) == 0;
        }
        if (!known && d->udp[k].n_eps > 0) {
            ct_task_add(pl, NULL, &d->udp[k]);
        }
    }
    for (size_t i = 0; i < a->n_udp; i++) {
        free(a->udp[i].name);
        free(a->udp[i].addrs);
        free(a->udp[i].eps);
    }
    free(a->udp);
    a->udp = ek_steal(&d->udp);
    a->n_udp = d->n_udp;
    d->n_udp = 0;
}

void ek__diff_bucket(ek_proxy_t *p, plan_t *pl, bucket_t *b, desired_t *d, int64_t now)
{
    applied_t *a = &b->applied;
    claim_elems(p, b, d);
    ek_map_t index = EK_MAP_INIT;
    for (size_t i = 0; i < a->n_chains; i++) {
        ek_map_put(&index, a->chains[i].name, (void *)(uintptr_t)(i + 1));
    }
    bool *seen = ek_xcalloc(a->n_chains + 1, sizeof(bool));
    diff_chains(p, pl, b, d, seen, &index, now);
    diff_sets(p, pl, b, d);
    write_rules(p, pl, d);
    diff_elems(p, pl, b, d);
    adopt_chains(b, d, seen, &index);
    diff_udp(pl, b, d);
    free(seen);
    ek_map_free(&index);
    if (p->stale_chain_ms == 0) {
        ek__diff_stale(p, pl, b, now);
    }
}

int64_t ek__diff_stale(ek_proxy_t *p, plan_t *pl, bucket_t *b, int64_t now)
{
    applied_t *a = &b->applied;
    int64_t next = INT64_MAX;
    size_t w = 0;
    for (size_t i = 0; i < a->n_chains; i++) {
        achain_t *ac = &a->chains[i];
        if (ac->stale_since >= 0 && now - ac->stale_since >= (int64_t)p->stale_chain_ms) {
            ek__plan_op(pl, POP_CHAIN_DEL, ac->name);
            p->st.chains--;
            free(ac->name);
            continue;
        }
        if (ac->stale_since >= 0) {
            next = EK_MIN(next, ac->stale_since + (int64_t)p->stale_chain_ms);
        }
        a->chains[w++] = *ac;
    }
    a->n_chains = w;
    b->has_stale = next != INT64_MAX;
    return next;
}

void ek__applied_free(applied_t *a)
{
    for (size_t i = 0; i < a->n_chains; i++) {
        free(a->chains[i].name);
    }
    free(a->chains);
    for (size_t i = 0; i < a->n_sets; i++) {
        free(a->sets[i].name);
    }
    free(a->sets);
    free(a->elems);
    for (size_t i = 0; i < a->n_udp; i++) {
        free(a->udp[i].name);
        free(a->udp[i].addrs);
        free(a->udp[i].eps);
    }
    free(a->udp);
    memset(a, 0, sizeof(*a));
}

void ek__diff_forget_all(ek_proxy_t *p)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&p->buckets, &it, &k, &v)) {
        bucket_t *b = v;
        /* Conntrack knowledge survives a rebuild: endpoints gone meanwhile are still
         * noticed. */
        audp_t *udp = ek_steal(&b->applied.udp);
        size_t n_udp = b->applied.n_udp;
        b->applied.n_udp = 0;
        ek__applied_free(&b->applied);
        b->applied.udp = udp;
        b->applied.n_udp = n_udp;
        b->has_stale = false;
        ek__bucket_dirty(p, b);
    }
    ek_map_free(&p->elem_owner);
    it = 0;
    while (ek_map_next(&p->elem_waiters, &it, &k, &v)) {
        ek_strlist_free(v);
        free(v);
    }
    ek_map_free(&p->elem_waiters);
    p->st.chains = p->st.rules = p->st.elements = p->st.sets = 0;
}
