/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API client: requests travel over a transport (the API server's in-process one, or
 * HTTPS in api/client_https.c), answers come back decoded from JSON, and watch streams are cut
 * into events at newlines whatever the chunking. Paths come from the resource table, so a
 * component names a resource, never a URL.
 *
 * Lifetimes: a call is referenced by its transport (until on_done) and by whoever is running
 * one of its callbacks, so a callback may cancel its own call, cancel others or free the whole
 * client. ek_api_call_cancel reports "cancelled" through the done callback before it returns
 * (or, when called from the call's own callback over a transport that is mid-parse, right after
 * that callback). The client itself lives until its transport says it is released, so nothing
 * the transport calls afterwards finds it gone.
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include "api/api.h"

/* Watches end after a random 5 to 10 minutes, as client-go's reflector asks, so that a fleet
 * of clients does not reconnect all at once and a half-dead connection is noticed. */
#define WATCH_TIMEOUT_MIN_S 300
/* An answer or a single watch event larger than this is refused (the server caps objects at
 * 1.5 MiB and lists are paginated by careful callers). */
#define MAX_ANSWER_BYTES (256u << 20)

struct ek_api_client {
    uv_loop_t *loop;
    const ek_api_transport_ops_t *ops;
    void *tp;
    ek_api_call_t *calls; /* not yet finished */
    unsigned seed;
    bool freeing;
    void (*free_cb)(void *data);
    void *free_data;
};

struct ek_api_call {
    ek_api_client_t *c;
    ek_api_call_t *prev, *next;
    void *handle; /* the transport's, until its on_done */
    ek_api_done_cb done_cb;
    ek_api_event_cb event_cb; /* watches only */
    void *data;
    int refs;
    int status;
    ek_buf_t body;         /* the answer; for a streaming watch, the incomplete last line */
    json_t *error_status;  /* a watch's in-stream ERROR object */
    ek_error_t *abort_err; /* why the client stopped the stream itself */
    bool finished;         /* done_cb has run or is running */
    bool cancelled;
};

static void call_unref(ek_api_call_t *call)
{
    if (--call->refs > 0) {
        return;
    }
    ek_buf_free(&call->body);
    json_decref(call->error_status);
    ek_error_free(call->abort_err);
    free(call);
}

static void call_unlink(ek_api_call_t *call)
{
    ek_api_client_t *c = call->c;
    if (call->prev) {
        call->prev->next = call->next;
    } else if (c->calls == call) {
        c->calls = call->next;
    }
    if (call->next) {
        call->next->prev = call->prev;
    }
    call->prev = call->next = NULL;
}

static bool streaming(const ek_api_call_t *call)
{
    return call->event_cb && call->status == 200;
}

/* Stops the transport side because the stream itself is unusable; done reports err. */
static void call_abort(ek_api_call_t *call, ek_error_t *err)
{
    if (call->abort_err || call->finished) {
        ek_error_free(err);
        return;
    }
    call->abort_err = err;
    if (call->handle) {
        call->c->ops->cancel(call->c->tp, call->handle);
    }
}

/* ---- answers ---- */

/* A Status for an error answer that did not bring one (a proxy's text, an empty body). */
static json_t *synth_status(int status, const ek_buf_t *body)
{
    const char *msg = body->len ? body->data : ek_http_status_text(status);
    return json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                     "metadata", "status", "Failure", "message", msg, "reason",
                     ek_http_status_text(status), "code", status);
}

/* A Status object as an error carrying its code (HTTP status when it has none). */
static ek_error_t *status_error(int status, const json_t *st)
{
    ek_error_t *err = NULL;
    const char *msg = ek_json_str(st, "message", NULL);
    int code = (int)ek_json_int(st, status, "code", NULL);
    ek_error_status(&err, code, "%s", msg && *msg ? msg : ek_http_status_text(code));
    return err;
}

static void finish_answer(ek_api_call_t *call)
{
    json_t *body = NULL;
    ek_error_t *err = NULL;
    if (call->body.len) {
        json_error_t je;
        body = json_loadb(call->body.data, call->body.len, 0, &je);
        if (!body && call->status >= 200 && call->status < 300) {
            ek_error_status(&err, call->status, "decode the answer: %d:%d: %s", je.line, je.column,
                            je.text);
        }
    }
    if (call->status < 200 || call->status >= 300) {
        if (!json_is_object(body)) {
            json_decref(body);
            body = synth_status(call->status, &call->body);
        }
        err = status_error(call->status, body);
    }
    call->done_cb(call->status, body, err, call->data);
    json_decref(body);
    ek_error_free(err);
}

static void finish_watch(ek_api_call_t *call)
{
    if (!call->error_status) {
        call->done_cb(200, NULL, NULL, call->data);
        return;
    }
    /* An in-stream ERROR (410 Expired above all) ends the watch like an error answer would. */
    ek_error_t *err = status_error(500, call->error_status);
    call->done_cb(err->status, call->error_status, err, call->data);
    ek_error_free(err);
}

static void call_finish(ek_api_call_t *call, const ek_error_t *transport_err)
{
    call->finished = true;
    call_unlink(call);
    if (call->cancelled) {
        char msg[] = "cancelled";
        ek_error_t e = { .errnum = ECANCELED, .status = 0, .msg = msg };
        call->done_cb(0, NULL, &e, call->data);
    } else if (call->abort_err) {
        call->done_cb(0, NULL, call->abort_err, call->data);
    } else if (transport_err) {
        call->done_cb(0, NULL, transport_err, call->data);
    } else if (streaming(call)) {
        finish_watch(call);
    } else {
        finish_answer(call);
    }
}

/* ---- transport callbacks ---- */

static void deliver_event(ek_api_call_t *call, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ')) {
        len--;
    }
    if (!len) {
        return;
    }
    json_error_t je;
    ek_auto(json_t) ev = json_loadb(line, len, 0, &je);
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    if (!type || !json_is_object(obj)) {
        ek_error_t *err = NULL;
        ek_error_make(&err, EPROTO, "bad watch event: %s",
                      ev ? "want {\"type\":...,\"object\":{...}}" : je.text);
        call_abort(call, err);
        return;
    }
    if (strcmp(type, "ERROR") == 0 && !call->error_status) {
        call->error_status = json_incref(obj);
    }
    call->event_cb(type, obj, call->data);
}

static bool stream_stopped(const ek_api_call_t *call)
{
    return call->finished || call->cancelled || call->abort_err;
}

/* Keeps the incomplete last line for the next chunk, within bounds. */
static void keep_partial(ek_api_call_t *call, const char *p, size_t n)
{
    if (call->body.len + n > MAX_ANSWER_BYTES) {
        ek_error_t *err = NULL;
        ek_error_make(&err, EMSGSIZE, "watch event larger than %u bytes", MAX_ANSWER_BYTES);
        call_abort(call, err);
        return;
    }
    ek_buf_append(&call->body, p, n);
}

/*
 * Delivers every complete line of a chunk. Lines are parsed where they lie (the chunk is the
 * transport's for the duration of the call); only a line cut by the chunk boundary is copied.
 */
static void watch_feed(ek_api_call_t *call, const char *chunk, size_t len)
{
    call->refs++; /* an event callback may cancel the call or free the client */
    const char *p = chunk;
    const char *end = chunk + len;
    if (call->body.len) {
        const char *nl = memchr(p, '\n', len);
        if (!nl) {
            keep_partial(call, p, len);
            call_unref(call);
            return;
        }
        ek_buf_append(&call->body, p, (size_t)(nl - p));
        deliver_event(call, call->body.data, call->body.len);
        ek_buf_reset(&call->body);
        p = nl + 1;
    }
    while (p < end && !stream_stopped(call)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            keep_partial(call, p, (size_t)(end - p));
            break;
        }
        deliver_event(call, p, (size_t)(nl - p));
        p = nl + 1;
    }
    call_unref(call);
}

static void tp_on_head(int status, const char *content_type, void *data)
{
    ek_api_call_t *call = data;
    EK_UNUSED(content_type);
    call->status = status;
}

static void tp_on_body(const char *chunk, size_t len, void *data)
{
    ek_api_call_t *call = data;
    if (stream_stopped(call)) {
        return;
    }
    if (streaming(call)) {
        watch_feed(call, chunk, len);
        return;
    }
    if (call->body.len + len > MAX_ANSWER_BYTES) {
        ek_error_t *err = NULL;
        ek_error_make(&err, EMSGSIZE, "answer larger than %u bytes", MAX_ANSWER_BYTES);
        call_abort(call, err);
        return;
    }
    ek_buf_append(&call->body, chunk, len);
}

static void tp_on_done(const ek_error_t *err, void *data)
{
    ek_api_call_t *call = data;
    call->handle = NULL;
    if (!call->finished) {
        call_finish(call, err);
    }
    call_unref(call); /* the transport's */
}

static const ek_api_stream_callbacks_t tp_callbacks = {
    .on_head = tp_on_head,
    .on_body = tp_on_body,
    .on_done = tp_on_done,
};

/* ---- calls ---- */

static ek_api_call_t *call_start(ek_api_client_t *c, const ek_api_request_t *req,
                                 ek_api_event_cb event_cb, ek_api_done_cb done_cb, void *data)
{
    if (c->freeing) {
        return NULL; /* a done callback reacting to the client's own shutdown */
    }
    ek_api_call_t *call = ek_new(ek_api_call_t);
    call->c = c;
    call->done_cb = done_cb;
    call->event_cb = event_cb;
    call->data = data;
    call->refs = 1;
    call->next = c->calls;
    if (c->calls) {
        c->calls->prev = call;
    }
    c->calls = call;
    call->handle = c->ops->start(c->tp, req, &tp_callbacks, call);
    ek_assert(call->handle != NULL);
    return call;
}

void ek_api_call_cancel(ek_api_call_t *call)
{
    if (!call || call->finished || call->cancelled) {
        return;
    }
    call->cancelled = true;
    if (call->handle) {
        call->refs++;
        call->c->ops->cancel(call->c->tp, call->handle);
        call_unref(call);
    }
}

/* ---- the client ---- */

ek_api_client_t *ek_api_client_new(uv_loop_t *loop, const ek_api_transport_ops_t *ops, void *tp)
{
    ek_api_client_t *c = ek_new(ek_api_client_t);
    c->loop = loop;
    c->ops = ops;
    c->tp = tp;
    c->seed = (unsigned)(ek_now_ns() ^ (uintptr_t)c);
    return c;
}

uv_loop_t *ek_api_client_loop(const ek_api_client_t *c)
{
    return c->loop;
}

static void on_transport_released(void *data)
{
    ek_api_client_t *c = data;
    void (*cb)(void *) = c->free_cb;
    void *cb_data = c->free_data;
    ek_assert(c->calls == NULL);
    free(c);
    if (cb) {
        cb(cb_data);
    }
}

void ek_api_client_free(ek_api_client_t *c, void (*cb)(void *data), void *data)
{
    ek_assert(!c->freeing);
    c->freeing = true;
    c->free_cb = cb;
    c->free_data = data;
    /* A done callback may cancel other calls: look for the next live one each time. */
    for (;;) {
        ek_api_call_t *call = c->calls;
        while (call && call->cancelled) {
            call = call->next;
        }
        if (!call) {
            break;
        }
        ek_api_call_cancel(call);
    }
    /* Calls whose cancel is still unwinding get their on_done from the release. */
    c->ops->release(c->tp, on_transport_released, c);
}

/* ---- paths and requests ---- */

static void put_segment(ek_buf_t *b, const char *s)
{
    ek_autofree char *e = ek_http_escape(s);
    ek_buf_putc(b, '/');
    ek_buf_puts(b, e);
}

char *ek_api_path(const ek_resource_t *r, const char *ns, const char *name, ek_subresource_t sub)
{
    ek_buf_t b = EK_BUF_INIT;
    if (*r->group) {
        ek_buf_printf(&b, "/apis/%s/%s", r->group, r->version);
    } else {
        ek_buf_printf(&b, "/api/%s", r->version);
    }
    if (r->namespaced && ns && *ns) {
        ek_buf_puts(&b, "/namespaces");
        put_segment(&b, ns);
    }
    put_segment(&b, r->plural);
    if (name && *name) {
        put_segment(&b, name);
        if (sub != EK_SUB_NONE) {
            put_segment(&b, ek_subresource_name(sub));
        }
    }
    return ek_buf_steal(&b, NULL);
}

/* Appends key=value (value escaped) to a path or path?query; empty values are left out. */
static void query_add(ek_buf_t *b, const char *key, const char *value)
{
    if (!value || !*value) {
        return;
    }
    ek_autofree char *v = ek_http_escape(value);
    ek_buf_printf(b, "%c%s=%s", strchr(b->data, '?') ? '&' : '?', key, v);
}

static bool media_is_text_json(const char *ct)
{
    return strcasestr(ct, "json") != NULL || strcasestr(ct, "yaml") != NULL;
}

ek_api_call_t *ek_api_request(ek_api_client_t *c, const char *method, const char *path_query,
                              const char *content_type, const json_t *body, ek_api_done_cb cb,
                              void *data)
{
    ek_autofree char *text = NULL;
    size_t len = 0;
    if (body && json_is_string(body) && content_type && !media_is_text_json(content_type)) {
        /* A string body for a non-JSON media type goes as it is (text/plain, say). */
        len = json_string_length(body);
        text = ek_xstrndup(json_string_value(body), len);
    } else if (body) {
        text = ek_json_dumps(body);
        len = strlen(text);
        content_type = content_type ? content_type : "application/json";
    }
    ek_api_request_t req = {
        .method = method,
        .path_query = path_query,
        .content_type = content_type,
        .body = text,
        .body_len = len,
    };
    return call_start(c, &req, NULL, cb, data);
}

/* The namespace of a request: none for cluster-scoped kinds, else ns or the object's. */
static const char *request_ns(const ek_resource_t *r, const char *ns, const json_t *obj)
{
    if (!r->namespaced) {
        return NULL;
    }
    if (ns && *ns) {
        return ns;
    }
    return ek_json_str(obj, "metadata", "namespace", NULL);
}

ek_api_call_t *ek_api_get(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                          const char *name, ek_api_done_cb cb, void *data)
{
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, NULL), name, EK_SUB_NONE);
    return ek_api_request(c, "GET", path, NULL, NULL, cb, data);
}

ek_api_call_t *ek_api_list(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                           const char *label_sel, const char *field_sel, ek_api_done_cb cb,
                           void *data)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, NULL), NULL, EK_SUB_NONE);
    ek_buf_puts(&b, path);
    query_add(&b, "labelSelector", label_sel);
    query_add(&b, "fieldSelector", field_sel);
    return ek_api_request(c, "GET", b.data, NULL, NULL, cb, data);
}

ek_api_call_t *ek_api_create(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const json_t *obj, ek_api_done_cb cb, void *data)
{
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, obj), NULL, EK_SUB_NONE);
    return ek_api_request(c, "POST", path, NULL, obj, cb, data);
}

ek_api_call_t *ek_api_update(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const json_t *obj, ek_subresource_t sub, ek_api_done_cb cb, void *data)
{
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, obj), name, sub);
    return ek_api_request(c, "PUT", path, NULL, obj, cb, data);
}

/* "merge", "strategic", "json" and "apply" (with "apply:MANAGER" naming the field manager,
 * "edgek" otherwise) to media types; anything else is sent as given and judged by the server. */
static const char *patch_media_type(const char *type, const char **manager)
{
    *manager = NULL;
    if (strcmp(type, "merge") == 0) {
        return "application/merge-patch+json";
    }
    if (strcmp(type, "strategic") == 0) {
        return "application/strategic-merge-patch+json";
    }
    if (strcmp(type, "json") == 0) {
        return "application/json-patch+json";
    }
    if (strcmp(type, "apply") == 0 || ek_has_prefix(type, "apply:")) {
        *manager = type[5] == ':' && type[6] ? type + 6 : "edgek";
        return "application/apply-patch+yaml";
    }
    return type;
}

ek_api_call_t *ek_api_patch(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                            const char *name, ek_subresource_t sub, const char *patch_type,
                            const json_t *patch, ek_api_done_cb cb, void *data)
{
    const char *manager;
    const char *ct = patch_media_type(patch_type, &manager);
    ek_autobuf b = EK_BUF_INIT;
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, NULL), name, sub);
    ek_buf_puts(&b, path);
    query_add(&b, "fieldManager", manager);
    return ek_api_request(c, "PATCH", b.data, ct, patch, cb, data);
}

ek_api_call_t *ek_api_delete(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                             const char *name, const json_t *options, ek_api_done_cb cb, void *data)
{
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, NULL), name, EK_SUB_NONE);
    return ek_api_request(c, "DELETE", path, NULL, options, cb, data);
}

ek_api_call_t *ek_api_watch(ek_api_client_t *c, const ek_resource_t *r, const char *ns,
                            const char *label_sel, const char *field_sel,
                            const char *resource_version, ek_api_event_cb event_cb,
                            ek_api_done_cb done_cb, void *data)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_autofree char *path = ek_api_path(r, request_ns(r, ns, NULL), NULL, EK_SUB_NONE);
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d",
             WATCH_TIMEOUT_MIN_S + rand_r(&c->seed) % WATCH_TIMEOUT_MIN_S);
    ek_buf_puts(&b, path);
    query_add(&b, "watch", "true");
    query_add(&b, "allowWatchBookmarks", "true");
    query_add(&b, "timeoutSeconds", timeout);
    if (resource_version && strcmp(resource_version, "0") != 0) {
        query_add(&b, "resourceVersion", resource_version);
    }
    query_add(&b, "labelSelector", label_sel);
    query_add(&b, "fieldSelector", field_sel);
    ek_api_request_t req = { .method = "GET", .path_query = b.data };
    return call_start(c, &req, event_cb, done_cb, data);
}
