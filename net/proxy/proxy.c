/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The proxy's life on the loop: buckets, the sync cycle and its figures.
 *
 * A change marks its bucket dirty and arms a short timer (min_sync_ms), so a burst of informer
 * events becomes one sync. A sync diffs the dirty buckets on the loop thread (cheap: no JSON,
 * no netlink) into a plan and hands it to a libuv worker, which builds the nftables
 * transaction, commits it and cleans conntrack; only one runs at a time, and changes arriving
 * meanwhile wait for the next. A failed transaction changed nothing (nftables is all or
 * nothing) but the applied state already moved on, so the next sync is a full rebuild, after a
 * backoff. Chains left unused are deleted by a later sync once stale_chain_ms has passed.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>

#include "net/proxy/proxy-internal.h"

typedef struct sync_job {
    uv_work_t work;
    ek_proxy_t *p;
    plan_t plan;
    ek_error_t *err;
    size_t messages;
    double apply_ms, plan_ms;
    int ct_deleted;
} sync_job_t;

static const double hist_le[HIST_BUCKETS] = { 0.001, 0.002, 0.004, 0.008, 0.016,
                                              0.032, 0.064, 0.128, 0.256, 0.512,
                                              1.024, 2.048, 4.096, 8.192, 16.384 };

/* ---- buckets ---- */

bucket_t *ek__bucket_get(ek_proxy_t *p, const char *ns, const char *name, bool create)
{
    char *key = ek_xasprintf("%s/%s", ns, name);
    bucket_t *b = ek_map_get(&p->buckets, key);
    if (b || !create) {
        free(key);
        return b;
    }
    b = ek_new(bucket_t);
    b->key = key;
    b->ns = ek_xstrdup(ns);
    b->name = ek_xstrdup(name);
    ek_map_put(&p->buckets, key, b);
    return b;
}

void ek__bucket_dirty(ek_proxy_t *p, bucket_t *b)
{
    if (!b->dirty) {
        b->dirty = true;
        p->n_dirty++;
    }
    ek__proxy_kick(p);
}

static void bucket_free(bucket_t *b)
{
    ek__psvc_free(b->svc);
    for (size_t i = 0; i < b->n_slices; i++) {
        ek__pslice_free(b->slices[i]);
    }
    free(b->slices);
    ek__applied_free(&b->applied);
    free(b->key);
    free(b->ns);
    free(b->name);
    free(b);
}

void ek__bucket_maybe_free(ek_proxy_t *p, bucket_t *b)
{
    const applied_t *a = &b->applied;
    if (b->svc || b->n_slices || b->dirty || a->n_chains || a->n_sets || a->n_elems || a->n_udp) {
        return;
    }
    ek_map_del(&p->buckets, b->key);
    bucket_free(b);
}

/* ---- setup ---- */

static int parse_cidr_opt(const char *s, bool *have, pcidr_t *out, ek_error_t **err)
{
    *have = false;
    if (!s || !*s) {
        return 0;
    }
    if (ek_cidr_parse(s, &out->net, &out->prefix, err) < 0) {
        return -1;
    }
    out->net.s_addr &= ek_cidr_mask(out->prefix);
    *have = true;
    return 0;
}

static int parse_node_ips(const ek_strlist_t *ips, struct in_addr **out, size_t *n,
                          ek_error_t **err)
{
    size_t count = ips ? ips->n : 0;
    struct in_addr *v = ek_xcalloc(count + 1, sizeof(*v));
    for (size_t i = 0; i < count; i++) {
        if (inet_pton(AF_INET, ips->v[i], &v[i]) != 1) {
            free(v);
            return ek_error_make(err, EINVAL, "bad node address `%s` (IPv4 only)", ips->v[i]);
        }
    }
    *out = v;
    *n = count;
    return 0;
}

static void proxy_free(ek_proxy_t *p)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&p->buckets, &it, &k, &v)) {
        bucket_free(v);
    }
    ek_map_free(&p->buckets);
    ek_map_free(&p->slice_owner);
    ek_map_free(&p->elem_owner);
    it = 0;
    while (ek_map_next(&p->elem_waiters, &it, &k, &v)) {
        ek_strlist_free(v);
        free(v);
    }
    ek_map_free(&p->elem_waiters);
    ek_nft_sock_close(p->nft_sock);
    if (p->netns_fd >= 0) {
        close(p->netns_fd);
    }
    free(p->last_plan_text);
    free(p->node_ips);
    free(p->node_name);
    free(p->table);
    free(p);
}

ek_proxy_t *ek_proxy_new(uv_loop_t *loop, const ek_proxy_config_t *cfg, ek_error_t **err)
{
    ek_proxy_t *p = ek_new(ek_proxy_t);
    p->loop = loop;
    p->netns_fd = -1;
    p->table = ek_xstrdup(cfg->table ? cfg->table : EK_PROXY_TABLE);
    p->node_name = cfg->node_name ? ek_xstrdup(cfg->node_name) : NULL;
    p->min_sync_ms = cfg->min_sync_ms ? cfg->min_sync_ms : 10;
    p->stale_chain_ms = cfg->stale_chain_ms ? cfg->stale_chain_ms : 1000;
    p->next_stale_ms = INT64_MAX;
    p->full_pending = true;
    if (parse_cidr_opt(cfg->cluster_cidr, &p->have_cluster_cidr, &p->cluster_cidr, err) < 0 ||
        parse_cidr_opt(cfg->service_cidr, &p->have_service_cidr, &p->service_cidr, err) < 0 ||
        parse_node_ips(cfg->node_ips, &p->node_ips, &p->n_node_ips, err) < 0) {
        proxy_free(p);
        return NULL;
    }
    /* The worker threads' namespace is whatever it was when libuv started them: name the
     * caller's explicitly, so transactions land where the caller is, whatever thread runs
     * them. */
    p->netns_fd = cfg->netns_fd >= 0 ? fcntl(cfg->netns_fd, F_DUPFD_CLOEXEC, 3)
                                     : open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (p->netns_fd < 0) {
        ek_error_make(err, errno, "open the node's network namespace");
        proxy_free(p);
        return NULL;
    }
    uv_timer_init(loop, &p->timer);
    uv_timer_init(loop, &p->stale_timer);
    p->timer.data = p->stale_timer.data = p;
    p->handles_open = 2;
    return p;
}

void ek_proxy_on_sync(ek_proxy_t *p, ek_proxy_sync_cb cb, void *data)
{
    p->sync_cb = cb;
    p->sync_data = data;
}

/* ---- the sync cycle ---- */

static void on_timer(uv_timer_t *t);
static void on_stale_timer(uv_timer_t *t);

void ek__proxy_kick(ek_proxy_t *p)
{
    if (!p->started || p->closing || p->job || uv_is_active((uv_handle_t *)&p->timer)) {
        return;
    }
    uv_timer_start(&p->timer, on_timer, p->backoff_ms ? p->backoff_ms : p->min_sync_ms, 0);
}

void ek_proxy_start(ek_proxy_t *p)
{
    p->started = true;
    ek__proxy_kick(p);
}

void ek_proxy_resync(ek_proxy_t *p)
{
    p->full_pending = true;
    ek__proxy_kick(p);
}

int ek_proxy_set_node_ips(ek_proxy_t *p, const ek_strlist_t *node_ips, ek_error_t **err)
{
    struct in_addr *ips;
    size_t n;
    if (parse_node_ips(node_ips, &ips, &n, err) < 0) {
        return -1;
    }
    if (n == p->n_node_ips && memcmp(ips, p->node_ips, n * sizeof(*ips)) == 0) {
        free(ips);
        return 0;
    }
    free(p->node_ips);
    p->node_ips = ips;
    p->n_node_ips = n;
    ek_proxy_resync(p);
    return 0;
}

static void work_cb(uv_work_t *w)
{
    sync_job_t *j = ek_container_of(w, sync_job_t, work);
    uint64_t t0 = ek_now_ns();
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek__plan_emit(&j->plan, b);
    j->messages = ek_nft_batch_len(b);
    ek_proxy_t *p = j->p;
    if (!p->nft_sock) {
        p->nft_sock = ek_nft_sock_open(p->netns_fd, &j->err);
    }
    int rc = p->nft_sock ? ek_nft_batch_commit_on(b, p->nft_sock, &j->err) : -1;
    if (rc < 0 && p->nft_sock) {
        ek_nft_sock_close(p->nft_sock); /* the next attempt starts on a fresh socket */
        p->nft_sock = NULL;
    }
    if (rc == 0 && j->plan.n_ct) {
        ek_error_t *err = NULL;
        j->ct_deleted = ek__conntrack_cleanup(j->p->netns_fd, j->plan.ct, j->plan.n_ct,
                                              j->plan.node_ips, j->plan.n_node_ips, &err);
        if (j->ct_deleted < 0) {
            /* Not worth a rebuild: the rules are right, only old flows linger. */
            EK_LOG(EK_WARN, "proxy", "conntrack cleanup failed err=\"%s\"", ek_error_msg(err));
            ek_error_free(err);
            j->ct_deleted = 0;
        }
    }
    j->apply_ms = (double)(ek_now_ns() - t0) / 1e6;
}

static void schedule_stale(ek_proxy_t *p)
{
    if (p->next_stale_ms == INT64_MAX || p->closing) {
        return;
    }
    int64_t wait = p->next_stale_ms - (int64_t)uv_now(p->loop);
    uv_timer_start(&p->stale_timer, on_stale_timer, wait > 0 ? (uint64_t)wait : 0, 0);
}

static void observe(ek_proxy_t *p, double seconds)
{
    size_t i = 0;
    while (i < HIST_BUCKETS && seconds > hist_le[i]) {
        i++;
    }
    p->hist[i]++;
    p->hist_sum += seconds;
}

static void close_step(ek_proxy_t *p);

static void after_work_cb(uv_work_t *w, int status)
{
    sync_job_t *j = ek_container_of(w, sync_job_t, work);
    ek_proxy_t *p = j->p;
    p->job = NULL;
    p->st.last_messages = j->messages;
    p->st.last_apply_ms = j->apply_ms;
    p->st.last_plan_ms = j->plan_ms;
    p->st.last_full = j->plan.full;
    p->st.conntrack_deleted += (uint64_t)j->ct_deleted;
    p->last_sync_unix = (double)ek_now_ms() / 1000.0;
    observe(p, (j->apply_ms + j->plan_ms) / 1000.0);
    if (j->err || status < 0) {
        p->st.sync_failures++;
        p->full_pending = true;
        p->backoff_ms = p->backoff_ms ? EK_MIN(p->backoff_ms * 2, 30000u) : 500;
        EK_LOG(EK_ERROR, "proxy", "sync failed full=%d retry_ms=%u err=\"%s\"", j->plan.full,
               p->backoff_ms, j->err ? ek_error_msg(j->err) : "cancelled");
    } else {
        p->backoff_ms = 0;
        j->plan.full ? p->st.syncs_full++ : p->st.syncs_partial++;
        EK_LOG(EK_DEBUG, "proxy", "synced full=%d messages=%zu plan_ms=%.2f apply_ms=%.2f",
               j->plan.full, j->messages, j->plan_ms, j->apply_ms);
    }
    if (p->keep_plan_text) {
        ek_buf_t text = EK_BUF_INIT;
        ek__plan_text(&j->plan, &text);
        free(p->last_plan_text);
        p->last_plan_text = ek_buf_steal(&text, NULL);
    }
    if (p->sync_cb && !p->closing) {
        ek_proxy_stats_t st;
        ek_proxy_get_stats(p, &st);
        p->sync_cb(&st, j->err, p->sync_data);
    }
    ek_error_free(j->err);
    ek__plan_free(&j->plan);
    free(j);
    if (p->closing) {
        close_step(p);
        return;
    }
    if (p->n_dirty || p->full_pending) {
        ek__proxy_kick(p);
    }
    schedule_stale(p);
}

/* Diffs every dirty bucket (all of them after a rebuild) into pl. */
static void plan_buckets(ek_proxy_t *p, plan_t *pl, int64_t now)
{
    size_t it = 0;
    const char *k;
    void *v;
    ek_strlist_t gone = { 0 };
    p->next_stale_ms = INT64_MAX;
    while (ek_map_next(&p->buckets, &it, &k, &v)) {
        bucket_t *b = v;
        if (b->dirty) {
            desired_t d;
            ek__desired_build(p, b, &d);
            b->dirty = false;
            p->n_dirty--;
            ek__diff_bucket(p, pl, b, &d, now);
            ek__desired_free(&d);
        }
        if (b->has_stale) {
            p->next_stale_ms = EK_MIN(p->next_stale_ms, ek__diff_stale(p, pl, b, now));
        }
        if (!b->svc && !b->n_slices) {
            ek_strlist_add(&gone, k);
        }
    }
    for (size_t i = 0; i < gone.n; i++) {
        bucket_t *b = ek_map_get(&p->buckets, gone.v[i]);
        if (b) {
            ek__bucket_maybe_free(p, b);
        }
    }
    ek_strlist_free(&gone);
}

static void run_sync(ek_proxy_t *p)
{
    uint64_t t0 = ek_now_ns();
    int64_t now = (int64_t)uv_now(p->loop);
    sync_job_t *j = ek_new(sync_job_t);
    j->p = p;
    ek__plan_init(&j->plan, p->table);
    if (p->full_pending) {
        p->full_pending = false;
        j->plan.full = true;
        ek__diff_forget_all(p);
        ek__plan_static(p, &j->plan);
        for (size_t i = 0; i < j->plan.n_ops; i++) {
            const pop_t *op = &j->plan.ops[i];
            p->st.chains += op->kind == POP_BASE_CHAIN || op->kind == POP_CHAIN_ADD;
            p->st.elements += op->kind == POP_ELEM_ADD;
            if (op->kind == POP_RULES) {
                p->st.rules +=
                    ek__rules_count((const uint8_t *)j->plan.arena.data + op->data, op->len);
            }
        }
    }
    plan_buckets(p, &j->plan, now);
    if (j->plan.n_ops == 0 && j->plan.n_ct == 0) {
        ek__plan_free(&j->plan);
        free(j);
        schedule_stale(p);
        return;
    }
    j->plan.node_ips = ek_xcalloc(p->n_node_ips + 1, sizeof(struct in_addr));
    memcpy(j->plan.node_ips, p->node_ips, p->n_node_ips * sizeof(struct in_addr));
    j->plan.n_node_ips = p->n_node_ips;
    j->plan_ms = (double)(ek_now_ns() - t0) / 1e6;
    p->job = j;
    int rc = uv_queue_work(p->loop, &j->work, work_cb, after_work_cb);
    ek_assert(rc == 0);
}

static void on_timer(uv_timer_t *t)
{
    ek_proxy_t *p = t->data;
    if (!p->closing && !p->job) {
        run_sync(p);
    }
}

static void on_stale_timer(uv_timer_t *t)
{
    ek_proxy_t *p = t->data;
    if (!p->closing && !p->job) {
        run_sync(p);
    }
}

/* ---- close ---- */

static void on_handle_closed(uv_handle_t *h)
{
    ek_proxy_t *p = h->data;
    if (--p->handles_open > 0) {
        return;
    }
    void (*cb)(void *) = p->close_cb;
    void *data = p->close_data;
    proxy_free(p);
    if (cb) {
        cb(data);
    }
}

static void close_step(ek_proxy_t *p)
{
    if (p->job) {
        return; /* after_work_cb comes back here */
    }
    uv_close((uv_handle_t *)&p->timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->stale_timer, on_handle_closed);
}

void ek_proxy_close(ek_proxy_t *p, void (*done)(void *data), void *data)
{
    if (!p) {
        if (done) {
            done(data);
        }
        return;
    }
    p->closing = true;
    p->close_cb = done;
    p->close_data = data;
    uv_timer_stop(&p->timer);
    uv_timer_stop(&p->stale_timer);
    close_step(p);
}

int ek_proxy_cleanup(int netns_fd, const char *table, ek_error_t **err)
{
    return ek_nft_table_delete(table ? table : EK_PROXY_TABLE, netns_fd, err);
}

/* ---- figures ---- */

void ek_proxy_get_stats(const ek_proxy_t *p, ek_proxy_stats_t *st)
{
    *st = p->st;
    st->services = st->endpoints = 0;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&p->buckets, &it, &k, &v)) {
        const bucket_t *b = v;
        st->services += b->svc ? b->svc->n_ports : 0;
        for (size_t i = 0; i < b->applied.n_chains; i++) {
            const achain_t *c = &b->applied.chains[i];
            st->endpoints += c->stale_since < 0 && ek_has_prefix(c->name, "endpoint-");
        }
    }
}

void ek_proxy_metrics(const ek_proxy_t *p, ek_buf_t *o)
{
    ek_proxy_stats_t st;
    ek_proxy_get_stats(p, &st);
    const char *h = "kubeproxy_sync_proxy_rules_duration_seconds";
    ek_buf_printf(o, "# HELP %s SyncProxyRules latency in seconds\n# TYPE %s histogram\n", h, h);
    uint64_t cum = 0;
    for (size_t i = 0; i < HIST_BUCKETS; i++) {
        cum += p->hist[i];
        ek_buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", h, hist_le[i], (unsigned long long)cum);
    }
    cum += p->hist[HIST_BUCKETS];
    ek_buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", h,
                  (unsigned long long)cum, h, p->hist_sum, h, (unsigned long long)cum);
    ek_buf_printf(o,
                  "# HELP edgek_proxy_syncs_total Transactions applied, by kind.\n"
                  "# TYPE edgek_proxy_syncs_total counter\n"
                  "edgek_proxy_syncs_total{mode=\"full\"} %llu\n"
                  "edgek_proxy_syncs_total{mode=\"partial\"} %llu\n"
                  "# HELP kubeproxy_sync_proxy_rules_nftables_sync_failures_total Failed "
                  "transactions.\n"
                  "# TYPE kubeproxy_sync_proxy_rules_nftables_sync_failures_total counter\n"
                  "kubeproxy_sync_proxy_rules_nftables_sync_failures_total %llu\n"
                  "# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time a "
                  "sync finished.\n"
                  "# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge\n"
                  "kubeproxy_sync_proxy_rules_last_timestamp_seconds %.3f\n",
                  (unsigned long long)st.syncs_full, (unsigned long long)st.syncs_partial,
                  (unsigned long long)st.sync_failures, p->last_sync_unix);
    ek_buf_printf(o,
                  "# HELP edgek_proxy_nftables_objects Objects in the proxy's table.\n"
                  "# TYPE edgek_proxy_nftables_objects gauge\n"
                  "edgek_proxy_nftables_objects{kind=\"chains\"} %zu\n"
                  "edgek_proxy_nftables_objects{kind=\"rules\"} %zu\n"
                  "edgek_proxy_nftables_objects{kind=\"elements\"} %zu\n"
                  "edgek_proxy_nftables_objects{kind=\"sets\"} %zu\n"
                  "# HELP edgek_proxy_service_ports Service ports known.\n"
                  "# TYPE edgek_proxy_service_ports gauge\n"
                  "edgek_proxy_service_ports %zu\n"
                  "# HELP edgek_proxy_endpoints Endpoint chains programmed.\n"
                  "# TYPE edgek_proxy_endpoints gauge\n"
                  "edgek_proxy_endpoints %zu\n"
                  "# HELP edgek_proxy_conntrack_deleted_total Stale UDP conntrack entries "
                  "deleted.\n"
                  "# TYPE edgek_proxy_conntrack_deleted_total counter\n"
                  "edgek_proxy_conntrack_deleted_total %llu\n",
                  st.chains, st.rules, st.elements, st.sets, st.services, st.endpoints,
                  (unsigned long long)st.conntrack_deleted);
}

/* ---- the whole ruleset as a script ---- */

static void script_bucket(plan_t *pl, desired_t *d, ek_map_t *taken)
{
    for (size_t i = 0; i < d->n_chains; i++) {
        ek__plan_op(pl, POP_CHAIN_ADD, d->chains[i].name);
    }
    for (size_t i = 0; i < d->n_sets; i++) {
        ek__plan_op(pl, POP_SET_ADD, d->sets[i].name)->timeout_ms =
            (uint64_t)d->sets[i].timeout_s * 1000;
    }
    for (size_t i = 0; i < d->n_chains; i++) {
        pop_t *op = ek__plan_op(pl, POP_RULES, d->chains[i].name);
        op->data = ek__plan_bytes(pl, d->chains[i].rules.buf.data, d->chains[i].rules.buf.len);
        op->len = (uint32_t)d->chains[i].rules.buf.len;
    }
    for (size_t i = 0; i < d->n_elems; i++) {
        const aelem_t *e = &d->elems[i];
        char key[40];
        snprintf(key, sizeof(key), "%u/%08x/%u/%u", e->map, e->ip.s_addr, e->proto, e->port);
        if (ek_map_get(taken, key)) {
            continue;
        }
        ek_map_put(taken, key, (void *)1);
        pop_t *op = ek__plan_op(pl, POP_ELEM_ADD, d->elem_chains[i]);
        op->map = e->map;
        op->ip = e->ip;
        op->proto = e->proto;
        op->port = e->port;
        op->verdict = e->verdict;
    }
}

char *ek_proxy_ruleset_script(ek_proxy_t *p)
{
    plan_t pl;
    ek__plan_init(&pl, p->table);
    ek__plan_static(p, &pl);
    ek_map_t taken = EK_MAP_INIT;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&p->buckets, &it, &k, &v)) {
        desired_t d;
        ek__desired_build(p, v, &d);
        script_bucket(&pl, &d, &taken);
        ek__desired_free(&d);
    }
    ek_map_free(&taken);
    ek_buf_t out = EK_BUF_INIT;
    ek__plan_text(&pl, &out);
    ek__plan_free(&pl);
    return ek_buf_steal(&out, NULL);
}
