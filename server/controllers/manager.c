/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The controller manager: one API client, shared informers (one per resource, all namespaces,
 * so several controllers reading pods share one cache and one watch), and the controllers
 * themselves. Controllers register their informers and handlers at start; syncing begins once
 * every informer has listed, so no controller acts on a partial view.
 */
#include <stdio.h>

#include "server/controllers/controllers-internal.h"

struct ek_controllers {
    ctrl_manager_t m;
};

const ek_resource_t *res_of(const char *group, const char *version, const char *plural)
{
    const ek_resource_t *r = ek_resource_find(group, version, plural);
    ek_assert(r);
    return r;
}

ek_informer_t *mgr_informer(ctrl_manager_t *m, const char *group, const char *version,
                            const char *plural)
{
    char key[256];
    snprintf(key, sizeof(key), "%s/%s/%s", group, version, plural);
    ek_informer_t *inf = ek_map_get(&m->informers, key);
    if (!inf) {
        inf = ek_informer_new(m->client, res_of(group, version, plural), NULL, NULL, NULL,
                              30 * 60 * 1000);
        ek_map_put(&m->informers, key, inf);
    }
    return inf;
}

void mgr_own(ctrl_manager_t *m, void *state, void (*free_fn)(void *state))
{
    m->states = ek_xrealloc(m->states, (m->n_states + 1) * sizeof(*m->states));
    m->state_free = ek_xrealloc(m->state_free, (m->n_states + 1) * sizeof(*m->state_free));
    m->states[m->n_states] = state;
    m->state_free[m->n_states] = free_fn;
    m->n_states++;
}

static void on_start_timer(uv_timer_t *t)
{
    ctrl_manager_t *m = t->data;
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&m->informers, &it, &k, &v)) {
        if (!ek_informer_synced(v)) {
            return; /* look again on the next tick */
        }
    }
    uv_timer_stop(t);
    m->started = true;
    EK_LOG(EK_INFO, "controllers", "informers synced, controllers running count=%zu", m->n_ctrls);
    for (size_t i = 0; i < m->n_ctrls; i++) {
        ctrl_kick(m->ctrls[i]);
    }
}

int ek_controllers_start(ek_api_client_t *client, const ek_controllers_options_t *opts,
                         ek_controllers_t **out, ek_error_t **err)
{
    EK_UNUSED(err);
    ek_controllers_t *cs = ek_new(ek_controllers_t);
    ctrl_manager_t *m = &cs->m;
    m->loop = ek_api_client_loop(client);
    m->client = client;
    if (opts) {
        m->opts = *opts;
    }
    if (!m->opts.node_monitor_grace_ms) {
        m->opts.node_monitor_grace_ms = 40000;
    }
    if (!m->opts.pod_eviction_ms) {
        m->opts.pod_eviction_ms = 300000;
    }
    if (!m->opts.gc_interval_ms) {
        m->opts.gc_interval_ms = 30000;
    }
    m->events = ek_event_recorder_new(client, "controller-manager", NULL);
    replicaset_controller_start(m);
    nodeipam_controller_start(m);
    deployment_controller_start(m);
    csrapproving_controller_start(m);
    csrsigning_controller_start(m);
    tokencleaner_controller_start(m);
    csrcleaner_controller_start(m);
    nodepassword_controller_start(m);
    endpoints_controller_start(m);
    endpointslice_controller_start(m);
    gc_controller_start(m);
    namespace_controller_start(m);
    serviceaccount_controller_start(m);
    rootca_controller_start(m);
    nodelifecycle_controller_start(m);
    servicelb_controller_start(m);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&m->informers, &it, &k, &v)) {
        ek_informer_start(v);
    }
    uv_timer_init(m->loop, &m->start_timer);
    m->start_timer.data = m;
    uv_timer_start(&m->start_timer, on_start_timer, 20, 50);
    *out = cs;
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    ctrl_manager_t *m = h->data;
    void (*cb)(void *) = m->stop_cb;
    void *cb_data = m->stop_data;
    free(ek_container_of(m, ek_controllers_t, m));
    if (cb) {
        cb(cb_data);
    }
}

static void on_client_freed(void *data)
{
    ctrl_manager_t *m = data;
    for (size_t i = 0; i < m->n_ctrls; i++) {
        ctrl_free(m->ctrls[i]);
    }
    free(m->ctrls);
    for (size_t i = 0; i < m->n_states; i++) {
        m->state_free[i](m->states[i]);
    }
    free(m->states);
    free(m->state_free);
    ek_event_recorder_free(m->events);
    /* The manager itself goes with its last handle. */
    uv_close((uv_handle_t *)&m->start_timer, on_timer_closed);
}

void ek_controllers_stop(ek_controllers_t *cs, void (*cb)(void *data), void *data)
{
    ctrl_manager_t *m = &cs->m;
    m->stopping = true;
    m->started = false;
    m->stop_cb = cb;
    m->stop_data = data;
    uv_timer_stop(&m->start_timer);
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&m->informers, &it, &k, &v)) {
        ek_informer_free(v);
    }
    ek_map_free(&m->informers);
    /* Cancelled calls end their syncs (ctrl_done) before the client reports it is freed. */
    ek_api_client_free(m->client, on_client_freed, m);
}
