/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event recorder: components report what happened to an object (Pulled, Scheduled,
 * FailedScheduling, ...) as core/v1 Events. Repeats of the same event are folded into one
 * Event whose count and lastTimestamp grow, as client-go's recorder does, so a crash-looping
 * pod does not flood the store. Writes are fire-and-forget: a lost event is not an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "api/api.h"

#define FOLD_WINDOW_S 600
#define MAX_TRACKED   4096

struct seen {
    char *name; /* the Event's name */
    char *ns;
    int64_t count;
    time_t first, last;
};

struct ek_event_recorder {
    ek_api_client_t *client;
    char *component;
    char *host;
    ek_map_t seen; /* uid|type|reason|message → struct seen* */
    uint64_t seq;
};

ek_event_recorder_t *ek_event_recorder_new(ek_api_client_t *c, const char *component,
                                           const char *host)
{
    ek_event_recorder_t *r = ek_new(ek_event_recorder_t);
    r->client = c;
    r->component = ek_xstrdup(component);
    r->host = ek_xstrdup(host ? host : "");
    return r;
}

static void free_seen(ek_map_t *m)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(m, &it, &k, &v)) {
        struct seen *s = v;
        free(s->name);
        free(s->ns);
        free(s);
    }
    ek_map_free(m);
}

void ek_event_recorder_free(ek_event_recorder_t *r)
{
    if (!r) {
        return;
    }
    free_seen(&r->seen);
    free(r->component);
    free(r->host);
    free(r);
}

static void ignore_result(int status, json_t *body, const ek_error_t *err, void *data)
{
    EK_UNUSED(body);
    EK_UNUSED(data);
    if (err && status != 404 && status != 409) {
        EK_LOG(EK_DEBUG, "events", "event not recorded status=%d err=\"%s\"", status,
               ek_error_msg(err));
    }
}

static json_t *involved_ref(const json_t *obj)
{
    json_t *ref = json_object();
    const char *fields[][2] = {
        { "kind", NULL },       { "apiVersion", NULL }, { "namespace", "metadata" },
        { "name", "metadata" }, { "uid", "metadata" },  { "resourceVersion", "metadata" }
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(fields); i++) {
        const char *v = fields[i][1] ? ek_json_str(obj, fields[i][1], fields[i][0], NULL)
                                     : ek_json_str(obj, fields[i][0], NULL);
        if (v) {
            ek_json_set_str(ref, fields[i][0], v);
        }
    }
    return ref;
}

static void create_event(ek_event_recorder_t *r, const json_t *obj, struct seen *s,
                         const char *type, const char *reason, const char *msg)
{
    char ts[21];
    ek_time_rfc3339(s->first, ts);
    json_t *ev =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:{s:s,s:s},s:s,s:s,s:I,s:s,"
                  "s:s,s:s,s:n}",
                  "apiVersion", "v1", "kind", "Event", "metadata", "name", s->name, "namespace",
                  s->ns, "involvedObject", involved_ref(obj), "reason", reason, "message", msg,
                  "source", "component", r->component, "host", r->host, "firstTimestamp", ts,
                  "lastTimestamp", ts, "count", (json_int_t)s->count, "type", type,
                  "reportingComponent", r->component, "reportingInstance", r->host, "eventTime");
    const ek_resource_t *res = ek_resource_find("", "v1", "events");
    ek_api_create(r->client, res, s->ns, ev, ignore_result, NULL);
    json_decref(ev);
}

static void bump_event(ek_event_recorder_t *r, struct seen *s)
{
    char ts[21];
    ek_time_rfc3339(s->last, ts);
    json_t *patch = json_pack("{s:I,s:s}", "count", (json_int_t)s->count, "lastTimestamp", ts);
    const ek_resource_t *res = ek_resource_find("", "v1", "events");
    ek_api_patch(r->client, res, s->ns, s->name, EK_SUB_NONE, "merge", patch, ignore_result, NULL);
    json_decref(patch);
}

void ek_event_record(ek_event_recorder_t *r, const json_t *involved, const char *type,
                     const char *reason, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *uid = ek_json_str(involved, "metadata", "uid", NULL);
    const char *name = ek_json_str(involved, "metadata", "name", NULL);
    const char *ns = ek_json_str(involved, "metadata", "namespace", NULL);
    if (!name) {
        return;
    }
    ek_autofree char *key = ek_xasprintf("%s|%s|%s|%s", uid ? uid : name, type, reason, msg);
    time_t now = time(NULL);
    struct seen *s = ek_map_get(&r->seen, key);
    if (s && now - s->last < FOLD_WINDOW_S) {
        s->count++;
        s->last = now;
        bump_event(r, s);
        return;
    }
    if (!s) {
        if (r->seen.n >= MAX_TRACKED) {
            free_seen(&r->seen); /* forget old folds rather than grow without bound */
        }
        s = ek_new(struct seen);
        ek_map_put(&r->seen, key, s);
    } else {
        free(s->name);
        free(s->ns);
    }
    /* Event names as client-go makes them: <object>.<unique hex suffix>. */
    struct timespec tsn;
    ek_wall_now(&tsn);
    s->name = ek_xasprintf("%s.%llx", name,
                           (unsigned long long)tsn.tv_sec * 1000000000ull +
                               (unsigned long long)tsn.tv_nsec + r->seq++);
    s->ns = ek_xstrdup(ns && *ns ? ns : "default");
    s->count = 1;
    s->first = s->last = now;
    create_event(r, involved, s, type, reason, msg);
}
