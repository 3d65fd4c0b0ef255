/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to server/controllers: the controller framework. A controller is a work queue of
 * object keys ("ns/name") fed by shared informers, and an asynchronous sync function that
 * reads desired state from the informers' caches, makes API calls, and reports back with
 * ctrl_done(). Failed syncs are retried with per-key exponential backoff; a key is never
 * synced twice at once; a key added while it syncs is synced again afterwards.
 */
#ifndef EK_SERVER_CONTROLLERS_INTERNAL_H
#define EK_SERVER_CONTROLLERS_INTERNAL_H

#include <uv.h>

#include "api/api.h"
#include "lib/lib.h"
#include "server/server.h"

typedef struct ctrl ctrl_t;
typedef struct ctrl_manager ctrl_manager_t;

/* What a sync reports. */
enum {
    SYNC_OK = 0,    /* done; forget failures */
    SYNC_RETRY = -1 /* failed: retry with backoff */
    /* > 0: done, sync again after that many milliseconds */
};

typedef void (*ctrl_sync_fn)(ctrl_t *c, const char *key, void *data);

struct ctrl_manager {
    uv_loop_t *loop;
    ek_api_client_t *client;
    ek_map_t informers; /* "group/version/plural" → ek_informer_t* */
    ctrl_t **ctrls;
    size_t n_ctrls;
    ek_event_recorder_t *events;
    bool started;
    bool stopping;
    uv_timer_t start_timer; /* waits for informers to sync */
    ek_controllers_options_t opts;
    void **states; /* per-controller state, freed at the end */
    void (**state_free)(void *state);
    size_t n_states;
    void (*stop_cb)(void *data);
    void *stop_data;
};

/* Registers a controller's private state to be freed after the client is gone. */
void mgr_own(ctrl_manager_t *m, void *state, void (*free_fn)(void *state));

/* The shared informer of a resource (all namespaces), created on first use. Borrowed. */
ek_informer_t *mgr_informer(ctrl_manager_t *m, const char *group, const char *version,
                            const char *plural);
const ek_resource_t *res_of(const char *group, const char *version, const char *plural);

ctrl_t *ctrl_new(ctrl_manager_t *m, const char *name, ctrl_sync_fn sync, void *data, int workers);
void ctrl_enqueue(ctrl_t *c, const char *key);
void ctrl_enqueue_after(ctrl_t *c, const char *key, uint64_t ms);
/* Enqueues the key of an object ("ns/name" or "name"). */
void ctrl_enqueue_obj(ctrl_t *c, const json_t *obj);
/* Ends a sync started for key: SYNC_OK, SYNC_RETRY, or > 0 to resync after that many ms. */
void ctrl_done(ctrl_t *c, const char *key, int result);
ctrl_manager_t *ctrl_manager(ctrl_t *c);
const char *ctrl_name(const ctrl_t *c);
void ctrl_free(ctrl_t *c);
void ctrl_kick(ctrl_t *c);

/* "ns/name" (or "name") of an object; caller frees. Splits a key back. */
char *obj_key(const json_t *obj);
void key_split(const char *key, char **ns, char **name);

/* ---- helpers shared by controllers ---- */

/* The controller ownerReference of obj (controller: true), or NULL. Borrowed. */
const json_t *controller_ref(const json_t *obj);
/* An ownerReference to owner (apiVersion/kind from res), with controller and
 * blockOwnerDeletion set as asked. Caller owns. */
json_t *owner_ref(const ek_resource_t *res, const json_t *owner, bool controller);
bool pod_is_active(const json_t *pod);
bool pod_is_ready(const json_t *pod);
/* Ready for at least min_ready_s as of now. */
bool pod_is_available(const json_t *pod, int64_t min_ready_s, time_t now);

/* A counter of outstanding async API calls for one sync: the sync ends when it reaches 0. */
typedef struct pending {
    ctrl_t *ctrl;
    char *key;
    int outstanding;
    int result;
    void (*finish)(struct pending *p); /* optional, before ctrl_done */
    void *data;
} pending_t;

pending_t *pending_new(ctrl_t *c, const char *key);
/* An ek_api_done_cb that counts one call finished (failures mark the sync for retry, except
 * 404 on deletes and 409 AlreadyExists on creates, which are harmless races). */
void pending_call_done(int status, json_t *body, const ek_error_t *err, void *data);
void pending_add(pending_t *p);
/* Call once after issuing every call: ends the sync when nothing is outstanding. */
void pending_arm(pending_t *p);

/* The controllers. */
void replicaset_controller_start(ctrl_manager_t *m);
void nodeipam_controller_start(ctrl_manager_t *m);

#endif
