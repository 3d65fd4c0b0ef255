/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers every controller uses: object keys, owner references, pod readiness and
 * availability, and `pending_t`, which ends a sync once all the API calls it made have
 * answered.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

char *obj_key(const json_t *obj)
{
    const char *ns = ek_json_str(obj, "metadata", "namespace", NULL);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    if (ns && *ns) {
        return ek_xasprintf("%s/%s", ns, name ? name : "");
    }
    return ek_xstrdup(name ? name : "");
}

void key_split(const char *key, char **ns, char **name)
{
    const char *slash = strchr(key, '/');
    if (slash) {
        *ns = ek_xstrndup(key, (size_t)(slash - key));
        *name = ek_xstrdup(slash + 1);
    } else {
        *ns = NULL;
        *name = ek_xstrdup(key);
    }
}

const json_t *controller_ref(const json_t *obj)
{
    size_t i;
    json_t *ref;
    json_array_foreach (ek_json_path(obj, "metadata", "ownerReferences", NULL), i, ref) {
        if (ek_json_bool(ref, 0, "controller", NULL)) {
            return ref;
        }
    }
    return NULL;
}

json_t *owner_ref(const ek_resource_t *res, const json_t *owner, bool controller)
{
    char av[128];
    json_t *ref = json_pack("{s:s,s:s,s:s,s:s}", "apiVersion", ek_resource_api_version(res, av),
                            "kind", res->kind, "name", ek_json_str(owner, "metadata", "name", NULL),
                            "uid", ek_json_str(owner, "metadata", "uid", NULL));
    if (controller) {
        json_object_set_new(ref, "controller", json_true());
        json_object_set_new(ref, "blockOwnerDeletion", json_true());
    }
    return ref;
}

bool pod_is_active(const json_t *pod)
{
    const char *phase = ek_json_str(pod, "status", "phase", NULL);
    if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        return false;
    }
    return ek_json_str(pod, "metadata", "deletionTimestamp", NULL) == NULL;
}

static const json_t *ready_condition(const json_t *pod)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(pod, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), "Ready")) {
            return c;
        }
    }
    return NULL;
}

bool pod_is_ready(const json_t *pod)
{
    const json_t *c = ready_condition(pod);
    return c && ek_streq(ek_json_str(c, "status", NULL), "True");
}

bool pod_is_available(const json_t *pod, int64_t min_ready_s, time_t now)
{
    const json_t *c = ready_condition(pod);
    if (!c || !ek_streq(ek_json_str(c, "status", NULL), "True")) {
        return false;
    }
    if (min_ready_s <= 0) {
        return true;
    }
    const char *ts = ek_json_str(c, "lastTransitionTime", NULL);
    struct timespec t;
    if (!ts || ek_time_parse_rfc3339(ts, &t) < 0) {
        return false;
    }
    return t.tv_sec + min_ready_s <= now;
}

pending_t *pending_new(ctrl_t *c, const char *key)
{
    pending_t *p = ek_new(pending_t);
    p->ctrl = c;
    p->key = ek_xstrdup(key);
    p->outstanding = 1; /* held until pending_arm */
    p->result = SYNC_OK;
    return p;
}

void pending_add(pending_t *p)
{
    p->outstanding++;
}

static void pending_release(pending_t *p)
{
    if (--p->outstanding > 0) {
        return;
    }
    if (p->finish) {
        p->finish(p);
    }
    if (!ctrl_manager(p->ctrl)->stopping) {
        ctrl_done(p->ctrl, p->key, p->result);
    }
    free(p->key);
    free(p);
}

void pending_arm(pending_t *p)
{
    pending_release(p);
}

void pending_call_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    pending_t *p = data;
    if (err && status != 404 && status != 409) {
        EK_LOG(EK_DEBUG, "controllers", "call failed ctrl=%s key=%s status=%d err=\"%s\"",
               ctrl_name(p->ctrl), p->key, status, ek_error_msg(err));
        p->result = SYNC_RETRY;
    } else if (status == 409 && !ek_streq(ek_json_str(body, "reason", NULL), "AlreadyExists")) {
        /* A conflict on update means our cache was stale: sync again soon. */
        p->result = SYNC_RETRY;
    }
    pending_release(p);
}

void delete_seen_object(ctrl_t *c, const char *key, const ek_resource_t *res, const char *ns,
                        const json_t *obj)
{
    ek_auto(json_t) opts =
        json_pack("{s:s,s:s,s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1", "preconditions",
                  "uid", ek_json_str(obj, "metadata", "uid", NULL) ?: "");
    pending_t *p = pending_new(c, key);
    pending_add(p);
    ek_api_delete(ctrl_manager(c)->client, res, ns, ek_json_str(obj, "metadata", "name", NULL),
                  opts, pending_call_done, p);
    pending_arm(p);
}

bool ns_is_active(const json_t *ns)
{
    return ns && !ek_json_str(ns, "metadata", "deletionTimestamp", NULL) &&
           !ek_streq(ek_json_str(ns, "status", "phase", NULL), "Terminating");
}

json_t *find_condition(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type)) {
            return c;
        }
    }
    return NULL;
}

bool set_condition(json_t *conds, const char *type, const char *status, const char *reason,
                   const char *message, const char *now)
{
    json_t *c = find_condition(conds, type);
    if (!c) {
        c = json_pack("{s:s,s:s,s:s}", "type", type, "status", status, "lastTransitionTime", now);
        json_array_append_new(conds, c);
    } else if (ek_streq(ek_json_str(c, "status", NULL), status) &&
               ek_streq(ek_json_str(c, "reason", NULL), reason) &&
               ek_streq(ek_json_str(c, "message", NULL), message)) {
        return false;
    } else if (!ek_streq(ek_json_str(c, "status", NULL), status)) {
        ek_json_set_str(c, "status", status);
        ek_json_set_str(c, "lastTransitionTime", now);
    }
    if (reason) {
        ek_json_set_str(c, "reason", reason);
    } else {
        json_object_del(c, "reason");
    }
    if (message) {
        ek_json_set_str(c, "message", message);
    } else {
        json_object_del(c, "message");
    }
    return true;
}
