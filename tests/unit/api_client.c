/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API client, informers and the in-process transport. A scripted transport pins down the
 * exact requests the typed helpers send and how watch streams are cut into events whatever the
 * chunking; everything else runs against a real API server started inside the test (fresh
 * data dir, real PKI, TLS on 127.0.0.1) over both transports: in-process and HTTPS with the
 * admin client certificate.
 */
#include <errno.h>
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"
#include "tests/unit/http_testutil.h"

#define WAIT_MS 20000

/* ---- collecting answers and events ---- */

typedef struct res {
    bool done;
    int calls;
    int status;
    json_t *body;
    int err_status;
    int errnum;
    char err[512];
} res_t;

static void on_res(int status, json_t *body, const ek_error_t *err, void *data)
{
    res_t *r = data;
    r->done = true;
    r->calls++;
    r->status = status;
    json_decref(r->body);
    r->body = json_incref(body);
    r->err_status = err ? err->status : 0;
    r->errnum = err ? err->errnum : 0;
    snprintf(r->err, sizeof(r->err), "%s", err ? ek_error_msg(err) : "");
}

static void res_clear(res_t *r)
{
    json_decref(r->body);
    memset(r, 0, sizeof(*r));
}

typedef struct evs {
    int n;
    char type[128][16];
    char name[128][64];
    res_t done;
    ek_api_call_t *call;
    /* what to do on the first event */
    bool cancel_on_first;
    ek_api_client_t *free_on_first;
    bool *freed;
} evs_t;

static void on_freed(void *data)
{
    *(bool *)data = true;
}

static void on_ev(const char *type, json_t *obj, void *data)
{
    evs_t *e = data;
    if (strcmp(type, "BOOKMARK") == 0 || e->n == 128) {
        return;
    }
    snprintf(e->type[e->n], sizeof(e->type[0]), "%s", type);
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    snprintf(e->name[e->n], sizeof(e->name[0]), "%s", name ? name : "");
    e->n++;
    if (e->n == 1 && e->cancel_on_first) {
        ek_api_call_cancel(e->call);
    }
    if (e->n == 1 && e->free_on_first) {
        ek_api_client_t *c = e->free_on_first;
        e->free_on_first = NULL;
        ek_api_client_free(c, on_freed, e->freed);
    }
}

static void on_ev_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    evs_t *e = data;
    on_res(status, body, err, &e->done);
}

static json_t *configmap(const char *name, const char *app, const char *value)
{
    return json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                     "metadata", "name", name, "labels", "app", app, "data", "k", value);
}

static const ek_resource_t *cm_res(void)
{
    const ek_resource_t *r = ek_resource_find("", "v1", "configmaps");
    ASSERT_NOT_NULL(r);
    return r;
}

/* ---- a scripted transport ---- */

typedef struct fake_req {
    char *method, *path_query, *content_type, *body;
    ek_api_stream_callbacks_t cb;
    void *data;
    bool done;
    int cancels;
} fake_req_t;

typedef struct fake {
    uv_timer_t timer; /* the transport's own handle, closed on release */
    fake_req_t *reqs[32];
    int n;
    bool released;
    void (*released_cb)(void *data);
    void *released_data;
} fake_t;

static void *fake_start(void *tp, const ek_api_request_t *req, const ek_api_stream_callbacks_t *cb,
                        void *data)
{
    fake_t *f = tp;
    ASSERT_CMP(f->n, <, 32);
    fake_req_t *r = ek_new(fake_req_t);
    r->method = ek_xstrdup(req->method);
    r->path_query = ek_xstrdup(req->path_query);
    r->content_type = req->content_type ? ek_xstrdup(req->content_type) : NULL;
    r->body = req->body ? ek_xstrndup(req->body, req->body_len) : NULL;
    r->cb = *cb;
    r->data = data;
    f->reqs[f->n++] = r;
    return r;
}

static void fake_done(fake_req_t *r, const ek_error_t *err)
{
    ASSERT_FALSE(r->done);
    r->done = true;
    r->cb.on_done(err, r->data);
}

static void fake_cancel(void *tp, void *handle)
{
    fake_req_t *r = handle;
    r->cancels++;
    if (!r->done) {
        char msg[] = "cancelled";
        ek_error_t e = { .errnum = ECANCELED, .msg = msg };
        fake_done(r, &e);
    }
}

static void fake_closed(uv_handle_t *h)
{
    fake_t *f = h->data;
    f->released_cb(f->released_data);
}

static void fake_release(void *tp, void (*done)(void *data), void *data)
{
    fake_t *f = tp;
    for (int i = 0; i < f->n; i++) {
        ASSERT_TRUE(f->reqs[i]->done); /* the client cancelled everything first */
    }
    f->released = true;
    f->released_cb = done;
    f->released_data = data;
    uv_close((uv_handle_t *)&f->timer, fake_closed);
}

static const ek_api_transport_ops_t fake_ops = { fake_start, fake_cancel, fake_release };

static void fake_body(fake_req_t *r, const char *s)
{
    r->cb.on_body(s, strlen(s), r->data);
}

static void fake_answer(fake_req_t *r, int status, const char *body)
{
    r->cb.on_head(status, "application/json", r->data);
    if (body) {
        fake_body(r, body);
    }
    fake_done(r, NULL);
}

static void fake_init(fake_t *f, uv_loop_t *loop)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(uv_loop_init(loop), 0);
    uv_timer_init(loop, &f->timer);
    f->timer.data = f;
}

static void fake_finish(fake_t *f, uv_loop_t *loop, ek_api_client_t *c)
{
    bool freed = false;
    ek_api_client_free(c, on_freed, &freed);
    ASSERT_FALSE(freed); /* released on a later turn, once the transport's handle is closed */
    ek_test_run_until(loop, &freed, WAIT_MS);
    ASSERT_TRUE(f->released);
    for (int i = 0; i < f->n; i++) {
        free(f->reqs[i]->method);
        free(f->reqs[i]->path_query);
        free(f->reqs[i]->content_type);
        free(f->reqs[i]->body);
        free(f->reqs[i]);
    }
    ek_test_loop_finish(loop);
}

static void expect_req(fake_req_t *r, const char *method, const char *pq, const char *ct)
{
    ASSERT_STREQ(r->method, method);
    ASSERT_STREQ(r->path_query, pq);
    if (ct) {
        ASSERT_STREQ(r->content_type, ct);
    } else {
        ASSERT_TRUE(r->content_type == NULL);
    }
}

TEST(api_client_paths)
{
    const ek_resource_t *cm = cm_res();
    const ek_resource_t *dep = ek_resource_find("apps", "v1", "deployments");
    const ek_resource_t *node = ek_resource_find("", "v1", "nodes");
    const ek_resource_t *ns = ek_resource_find("", "v1", "namespaces");
    ek_autofree char *p1 = ek_api_path(dep, "default", "web", EK_SUB_STATUS);
    ASSERT_STREQ(p1, "/apis/apps/v1/namespaces/default/deployments/web/status");
    ek_autofree char *p2 = ek_api_path(cm, NULL, NULL, EK_SUB_NONE);
    ASSERT_STREQ(p2, "/api/v1/configmaps");
    ek_autofree char *p3 = ek_api_path(node, "ignored", "pi-1", EK_SUB_NONE);
    ASSERT_STREQ(p3, "/api/v1/nodes/pi-1");
    ek_autofree char *p4 = ek_api_path(ns, NULL, "kube-system", EK_SUB_NONE);
    ASSERT_STREQ(p4, "/api/v1/namespaces/kube-system");
    ek_autofree char *p5 = ek_api_path(cm, "default", "a:b c", EK_SUB_NONE);
    ASSERT_STREQ(p5, "/api/v1/namespaces/default/configmaps/a%3Ab%20c");
}

TEST(api_client_requests)
{
    uv_loop_t loop;
    fake_t f;
    fake_init(&f, &loop);
    ek_api_client_t *c = ek_api_client_new(&loop, &fake_ops, &f);
    ASSERT_TRUE(ek_api_client_loop(c) == &loop);
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    ek_auto(json_t) obj = configmap("a", "x", "v");
    json_object_set_new(json_object_get(obj, "metadata"), "namespace", json_string("ns1"));
    ek_auto(json_t) mp = json_pack("{s:{s:s}}", "data", "k", "v2");
    ek_auto(json_t) jp = json_pack("[{s:s,s:s,s:s}]", "op", "add", "path", "/data/j", "value", "1");
    ek_auto(json_t) opts = json_pack("{s:s}", "propagationPolicy", "Foreground");

    ek_api_get(c, cm, "ns1", "a", on_res, &r);
    ek_api_list(c, cm, "ns1", "app in (x,y),!z", "metadata.name=a", on_res, &r);
    ek_api_list(c, cm, NULL, NULL, NULL, on_res, &r);
    ek_api_create(c, cm, NULL, obj, on_res, &r); /* namespace from the object */
    ek_api_update(c, cm, NULL, obj, EK_SUB_NONE, on_res, &r);
    ek_api_patch(c, cm, "ns1", "a", EK_SUB_NONE, "merge", mp, on_res, &r);
    ek_api_patch(c, cm, "ns1", "a", EK_SUB_NONE, "strategic", mp, on_res, &r);
    ek_api_patch(c, cm, "ns1", "a", EK_SUB_NONE, "json", jp, on_res, &r);
    ek_api_patch(c, cm, "ns1", "a", EK_SUB_NONE, "apply:ctl one", obj, on_res, &r);
    ek_api_patch(c, cm, "ns1", "a", EK_SUB_NONE, "apply", obj, on_res, &r);
    ek_api_delete(c, cm, "ns1", "a", opts, on_res, &r);
    ek_api_delete(c, cm, "ns1", "b", NULL, on_res, &r);
    ASSERT_EQ(f.n, 12);
    ASSERT_FALSE(r.done); /* never inside the call */

    expect_req(f.reqs[0], "GET", "/api/v1/namespaces/ns1/configmaps/a", NULL);
    expect_req(f.reqs[1], "GET",
               "/api/v1/namespaces/ns1/configmaps?labelSelector=app%20in%20%28x%2Cy%29%2C%21z"
               "&fieldSelector=metadata.name%3Da",
               NULL);
    expect_req(f.reqs[2], "GET", "/api/v1/configmaps", NULL);
    expect_req(f.reqs[3], "POST", "/api/v1/namespaces/ns1/configmaps", "application/json");
    ek_auto(json_t) sent = json_loads(f.reqs[3]->body, 0, NULL);
    ASSERT_TRUE(json_equal(sent, obj));
    expect_req(f.reqs[4], "PUT", "/api/v1/namespaces/ns1/configmaps/a", "application/json");
    expect_req(f.reqs[5], "PATCH", "/api/v1/namespaces/ns1/configmaps/a",
               "application/merge-patch+json");
    ASSERT_STREQ(f.reqs[5]->body, "{\"data\":{\"k\":\"v2\"}}");
    expect_req(f.reqs[6], "PATCH", "/api/v1/namespaces/ns1/configmaps/a",
               "application/strategic-merge-patch+json");
    expect_req(f.reqs[7], "PATCH", "/api/v1/namespaces/ns1/configmaps/a",
               "application/json-patch+json");
    ASSERT_CONTAINS(f.reqs[7]->body, "\"op\":\"add\"");
    expect_req(f.reqs[8], "PATCH", "/api/v1/namespaces/ns1/configmaps/a?fieldManager=ctl%20one",
               "application/apply-patch+yaml");
    expect_req(f.reqs[9], "PATCH", "/api/v1/namespaces/ns1/configmaps/a?fieldManager=edgek",
               "application/apply-patch+yaml");
    expect_req(f.reqs[10], "DELETE", "/api/v1/namespaces/ns1/configmaps/a", "application/json");
    ASSERT_STREQ(f.reqs[10]->body, "{\"propagationPolicy\":\"Foreground\"}");
    expect_req(f.reqs[11], "DELETE", "/api/v1/namespaces/ns1/configmaps/b", NULL);
    ASSERT_TRUE(f.reqs[11]->body == NULL);

    /* A generic request with a text body goes as it is. */
    ek_auto(json_t) text = json_string("plain words");
    ek_api_request(c, "POST", "/x?y=1", "text/plain", text, on_res, &r);
    expect_req(f.reqs[12], "POST", "/x?y=1", "text/plain");
    ASSERT_STREQ(f.reqs[12]->body, "plain words");

    /* Watches: bookmarks, a randomised 5-10 min timeout, the revision and selectors. */
    evs_t e = { 0 };
    ek_api_watch(c, cm, "ns1", "app=x", NULL, "42", on_ev, on_ev_done, &e);
    const char *pq = f.reqs[13]->path_query;
    ASSERT_TRUE(ek_has_prefix(
        pq,
        "/api/v1/namespaces/ns1/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds="));
    long t = strtol(strstr(pq, "timeoutSeconds=") + 15, NULL, 10);
    ASSERT_CMP(t, >=, 300);
    ASSERT_CMP(t, <, 600);
    ASSERT_CONTAINS(pq, "&resourceVersion=42&labelSelector=app%3Dx");
    ek_api_watch(c, cm, NULL, NULL, NULL, "", on_ev, on_ev_done, &e);
    ASSERT_TRUE(strstr(f.reqs[14]->path_query, "resourceVersion") == NULL);

    for (int i = 0; i < f.n; i++) {
        fake_answer(f.reqs[i], 200, "{}");
    }
    ASSERT_EQ(r.calls, 13);
    ASSERT_EQ(e.done.calls, 2);
    res_clear(&r);
    res_clear(&e.done);
    fake_finish(&f, &loop, c);
}

TEST(api_client_answers)
{
    uv_loop_t loop;
    fake_t f;
    fake_init(&f, &loop);
    ek_api_client_t *c = ek_api_client_new(&loop, &fake_ops, &f);
    res_t ok = { 0 }, st = { 0 }, text = { 0 }, bad = { 0 }, fail = { 0 }, empty = { 0 };
    ek_api_request(c, "GET", "/a", NULL, NULL, on_res, &ok);
    ek_api_request(c, "GET", "/b", NULL, NULL, on_res, &st);
    ek_api_request(c, "GET", "/c", NULL, NULL, on_res, &text);
    ek_api_request(c, "GET", "/d", NULL, NULL, on_res, &bad);
    ek_api_request(c, "GET", "/e", NULL, NULL, on_res, &fail);
    ek_api_request(c, "DELETE", "/f", NULL, NULL, on_res, &empty);

    /* A JSON answer in pieces. */
    fake_req_t *r = f.reqs[0];
    r->cb.on_head(200, "application/json", r->data);
    fake_body(r, "{\"kind\":\"Con");
    fake_body(r, "figMap\"}");
    fake_done(r, NULL);
    ASSERT_EQ(ok.status, 200);
    ASSERT_STREQ(ek_json_str(ok.body, "kind", NULL), "ConfigMap");
    ASSERT_EQ(ok.err_status, 0);
    ASSERT_STREQ(ok.err, "");

    /* An error Status: the error carries its code and message. */
    fake_answer(f.reqs[1], 409,
                "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"the object has been "
                "modified\",\"reason\":\"Conflict\",\"code\":409}");
    ASSERT_EQ(st.status, 409);
    ASSERT_EQ(st.err_status, 409);
    ASSERT_STREQ(st.err, "the object has been modified");
    ASSERT_STREQ(ek_json_str(st.body, "reason", NULL), "Conflict");

    /* An error without a Status (a proxy's text) gets one made up. */
    fake_answer(f.reqs[2], 502, "upstream went away");
    ASSERT_EQ(text.status, 502);
    ASSERT_EQ(text.err_status, 502);
    ASSERT_STREQ(ek_json_str(text.body, "kind", NULL), "Status");
    ASSERT_STREQ(ek_json_str(text.body, "message", NULL), "upstream went away");
    ASSERT_EQ(ek_json_int(text.body, 0, "code", NULL), 502);

    /* A success that is not JSON is an error, with the status kept. */
    fake_answer(f.reqs[3], 200, "{not json");
    ASSERT_EQ(bad.status, 200);
    ASSERT_TRUE(bad.body == NULL);
    ASSERT_CONTAINS(bad.err, "decode the answer");

    /* No answer at all: status 0 and the transport's reason. */
    ek_error_t *e = NULL;
    ek_error_make(&e, ECONNREFUSED, "connect to 127.0.0.1:1");
    fake_done(f.reqs[4], e);
    ek_error_free(e);
    ASSERT_EQ(fail.status, 0);
    ASSERT_EQ(fail.errnum, ECONNREFUSED);
    ASSERT_CONTAINS(fail.err, "connect to");

    fake_answer(f.reqs[5], 200, NULL);
    ASSERT_EQ(empty.status, 200);
    ASSERT_TRUE(empty.body == NULL);
    ASSERT_STREQ(empty.err, "");

    res_t *all[] = { &ok, &st, &text, &bad, &fail, &empty };
    for (size_t i = 0; i < EK_ARRAY_SIZE(all); i++) {
        ASSERT_EQ(all[i]->calls, 1);
        res_clear(all[i]);
    }
    fake_finish(&f, &loop, c);
}

/* Feeds a watch answer cut every `step` bytes (0: in the pieces given). */
static void feed_stream(fake_req_t *r, const char *const *pieces, size_t n, size_t step)
{
    r->cb.on_head(200, "application/json", r->data);
    ek_autobuf all = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (!step) {
            fake_body(r, pieces[i]);
        }
        ek_buf_puts(&all, pieces[i]);
    }
    for (size_t off = 0; step && off < all.len; off += step) {
        r->cb.on_body(all.data + off, EK_MIN(step, all.len - off), r->data);
    }
}

TEST(api_client_watch_stream)
{
    static const char *const pieces[] = {
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MOD",
        "IFIED\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\n\n",
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\r\n{\"ty",
        "pe\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"c\"}}}\n",
        ("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
         "\"too old resource version: 1 (5)\",\"reason\":\"Expired\",\"code\":410}}\n"),
    };
    const ek_resource_t *cm = cm_res();
    size_t steps[] = { 0, 1, 7, 4096 };
    for (size_t s = 0; s < EK_ARRAY_SIZE(steps); s++) {
        uv_loop_t loop;
        fake_t f;
        fake_init(&f, &loop);
        ek_api_client_t *c = ek_api_client_new(&loop, &fake_ops, &f);
        evs_t e = { 0 };
        ek_api_watch(c, cm, "default", NULL, NULL, "1", on_ev, on_ev_done, &e);
        feed_stream(f.reqs[0], pieces, EK_ARRAY_SIZE(pieces), steps[s]);
        ASSERT_EQ(e.n, 4);
        ASSERT_STREQ(e.type[0], "ADDED");
        ASSERT_STREQ(e.name[0], "a");
        ASSERT_STREQ(e.type[1], "MODIFIED");
        ASSERT_STREQ(e.name[1], "b");
        ASSERT_STREQ(e.type[2], "DELETED");
        ASSERT_STREQ(e.type[3], "ERROR");
        ASSERT_FALSE(e.done.done);
        fake_done(f.reqs[0], NULL);
        /* The in-stream ERROR ends the watch like an HTTP 410 would. */
        ASSERT_EQ(e.done.status, 410);
        ASSERT_EQ(e.done.err_status, 410);
        ASSERT_CONTAINS(e.done.err, "too old resource version");
        ASSERT_STREQ(ek_json_str(e.done.body, "reason", NULL), "Expired");
        res_clear(&e.done);
        fake_finish(&f, &loop, c);
    }
}

TEST(api_client_watch_errors)
{
    uv_loop_t loop;
    fake_t f;
    fake_init(&f, &loop);
    ek_api_client_t *c = ek_api_client_new(&loop, &fake_ops, &f);
    const ek_resource_t *cm = cm_res();
    evs_t before = { 0 }, garbage = { 0 }, clean = { 0 }, cancel = { 0 };
    ek_api_watch(c, cm, "default", "a in (", NULL, "", on_ev, on_ev_done, &before);
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &garbage);
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &clean);
    cancel.call = ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &cancel);
    cancel.cancel_on_first = true;

    /* An HTTP error before streaming: the body is the Status, not events. */
    fake_answer(f.reqs[0], 400,
                "{\"kind\":\"Status\",\"message\":\"unable to parse requirement\",\"code\":400}\n");
    ASSERT_EQ(before.n, 0);
    ASSERT_EQ(before.done.status, 400);
    ASSERT_EQ(before.done.err_status, 400);
    ASSERT_STREQ(before.done.err, "unable to parse requirement");

    /* A line that is not an event stops the stream: the client cancels the transport. */
    f.reqs[1]->cb.on_head(200, "application/json", f.reqs[1]->data);
    fake_body(f.reqs[1], "{\"type\":\"ADDED\",\"object\":{}}\n[1,2]\n{\"type\":\"ADDED\",\"obj");
    ASSERT_EQ(garbage.n, 1);
    ASSERT_EQ(f.reqs[1]->cancels, 1);
    ASSERT_TRUE(garbage.done.done);
    ASSERT_EQ(garbage.done.status, 0);
    ASSERT_EQ(garbage.done.errnum, EPROTO);
    ASSERT_CONTAINS(garbage.done.err, "bad watch event");

    /* The server ends the stream: 200 and no error; a partial last line is dropped. */
    f.reqs[2]->cb.on_head(200, "application/json", f.reqs[2]->data);
    fake_body(f.reqs[2], "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":");
    fake_done(f.reqs[2], NULL);
    ASSERT_EQ(clean.n, 1);
    ASSERT_EQ(clean.done.status, 200);
    ASSERT_STREQ(clean.done.err, "");

    /* A cancel from inside the event callback: nothing more is delivered. */
    f.reqs[3]->cb.on_head(200, "application/json", f.reqs[3]->data);
    fake_body(f.reqs[3],
              "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n");
    ASSERT_EQ(cancel.n, 1);
    ASSERT_EQ(cancel.done.calls, 1);
    ASSERT_EQ(cancel.done.status, 0);
    ASSERT_EQ(cancel.done.errnum, ECANCELED);

    evs_t *all[] = { &before, &garbage, &clean, &cancel };
    for (size_t i = 0; i < EK_ARRAY_SIZE(all); i++) {
        ASSERT_EQ(all[i]->done.calls, 1);
        res_clear(&all[i]->done);
    }
    fake_finish(&f, &loop, c);
}

TEST(api_client_free_in_callback_fake)
{
    uv_loop_t loop;
    fake_t f;
    fake_init(&f, &loop);
    ek_api_client_t *c = ek_api_client_new(&loop, &fake_ops, &f);
    const ek_resource_t *cm = cm_res();
    bool freed = false;
    evs_t w = { 0 }, other = { 0 };
    res_t get = { 0 };
    w.free_on_first = c;
    w.freed = &freed;
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &w);
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &other);
    ek_api_get(c, cm, "default", "x", on_res, &get);
    f.reqs[0]->cb.on_head(200, "application/json", f.reqs[0]->data);
    fake_body(f.reqs[0],
              "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"ADDED\",\"object\":{}}\n");
    /* Every call reported "cancelled" at once; the client is gone on a later turn. */
    ASSERT_EQ(w.n, 1);
    ASSERT_EQ(w.done.calls, 1);
    ASSERT_EQ(w.done.errnum, ECANCELED);
    ASSERT_EQ(other.done.calls, 1);
    ASSERT_EQ(other.done.errnum, ECANCELED);
    ASSERT_EQ(get.calls, 1);
    ASSERT_EQ(get.status, 0);
    ASSERT_EQ(get.errnum, ECANCELED);
    ASSERT_FALSE(freed);
    ek_test_run_until(&loop, &freed, WAIT_MS);
    ASSERT_TRUE(f.released);
    for (int i = 0; i < f.n; i++) {
        free(f.reqs[i]->method);
        free(f.reqs[i]->path_query);
        free(f.reqs[i]->content_type);
        free(f.reqs[i]->body);
        free(f.reqs[i]);
    }
    res_clear(&w.done);
    res_clear(&other.done);
    res_clear(&get);
    ek_test_loop_finish(&loop);
}

/* ---- a real API server ---- */

typedef struct sfx {
    uv_loop_t loop;
    char *dir;
    ek_pki_t *pki;
    ek_tls_config_t *stls;
    ek_apiserver_t *srv;
    int port;
    size_t watch_window;
    bool closed;
} sfx_t;

static void server_start(sfx_t *f, int port)
{
    ek_error_t *err = NULL;
    ek_apiserver_options_t o = {
        .data_dir = f->dir,
        .bind_address = "127.0.0.1",
        .port = port,
        .watch_window = f->watch_window,
        .kv_no_sync = true,
    };
    ASSERT_OK(ek_apiserver_start(&f->loop, &o, f->pki, f->stls, &f->srv, &err), &err);
    f->port = ek_apiserver_port(f->srv);
    f->closed = false;
    /* First-start objects (namespaces, RBAC) are written asynchronously. */
    ek_test_run_until(&f->loop, &f->srv->ready, WAIT_MS);
}

static void sfx_init(sfx_t *f, size_t watch_window)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    f->dir = ek_test_path("data");
    f->watch_window = watch_window;
    ek_autofree char *tls_dir = ek_xasprintf("%s/server/tls", f->dir);
    ek_pki_options_t po = { .dir = tls_dir, .hostname = "test" };
    ek_error_t *err = NULL;
    ASSERT_OK(ek_pki_load_or_create(&po, &f->pki, &err), &err);
    f->stls =
        ek_tls_server_config_new(ek_pki_serving_cert_pem(f->pki), ek_pki_serving_key_pem(f->pki),
                                 ek_pki_ca_cert_pem(f->pki), EK_TLS_CLIENT_CERT_OPTIONAL, &err);
    ASSERT_OK(f->stls ? 0 : -1, &err);
    server_start(f, 0);
}

static void on_closed_flag(void *data)
{
    *(bool *)data = true;
}

static void server_close(sfx_t *f)
{
    ek_apiserver_close(f->srv, on_closed_flag, &f->closed);
    ek_test_run_until(&f->loop, &f->closed, WAIT_MS);
    f->srv = NULL;
}

static void sfx_finish(sfx_t *f)
{
    if (f->srv) {
        server_close(f);
    }
    ek_tls_config_unref(f->stls);
    ek_pki_free(f->pki);
    free(f->dir);
    ek_test_loop_finish(&f->loop);
}

static ek_api_client_t *https_client(sfx_t *f, const char *cert, const char *key, const char *token)
{
    ek_error_t *err = NULL;
    ek_tls_config_t *tls =
        ek_tls_client_config_new(ek_pki_ca_cert_pem(f->pki), cert, key, false, &err);
    ASSERT_OK(tls ? 0 : -1, &err);
    ek_autofree char *url = ek_xasprintf("https://127.0.0.1:%d/", f->port);
    ek_api_client_t *c = ek_api_client_https(&f->loop, url, tls, token, &err);
    ASSERT_OK(c ? 0 : -1, &err);
    ek_tls_config_unref(tls); /* the client keeps its own reference */
    return c;
}

static const char *const masters[] = { "system:masters", NULL };

static ek_api_client_t *admin_client(sfx_t *f, bool https)
{
    if (https) {
        return https_client(f, ek_pki_admin_cert_pem(f->pki), ek_pki_admin_key_pem(f->pki), NULL);
    }
    return ek_apiserver_client(f->srv, "system:admin", masters);
}

static void client_free_wait(sfx_t *f, ek_api_client_t *c)
{
    bool freed = false;
    ek_api_client_free(c, on_freed, &freed);
    ek_test_run_until(&f->loop, &freed, WAIT_MS);
}

#define RUN(f, flag) ek_test_run_until(&(f)->loop, &(flag), WAIT_MS)

/* Sends a prepared call and waits for its answer; returns the status. */
#define CALL(f, r, expr)         \
    do {                         \
        res_clear(&(r));         \
        ASSERT_NOT_NULL(expr);   \
        ASSERT_FALSE((r).done);  \
        RUN(f, (r).done);        \
        ASSERT_EQ((r).calls, 1); \
    } while (0)

static void create_cm(sfx_t *f, ek_api_client_t *c, const char *name, const char *app,
                      const char *value)
{
    res_t r = { 0 };
    ek_auto(json_t) obj = configmap(name, app, value);
    CALL(f, r, ek_api_create(c, cm_res(), "default", obj, on_res, &r));
    ASSERT_EQ(r.status, 201);
    res_clear(&r);
}

/* Create, get, update (409 on a stale resourceVersion). */
static void crud_update(sfx_t *f, ek_api_client_t *c)
{
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };

    ek_auto(json_t) a = configmap("a", "x", "v1");
    CALL(f, r, ek_api_create(c, cm, "default", a, on_res, &r));
    ASSERT_EQ(r.status, 201);
    ek_autofree char *rv1 = ek_xstrdup(ek_json_str(r.body, "metadata", "resourceVersion", NULL));
    ASSERT_STREQ(ek_json_str(r.body, "metadata", "namespace", NULL), "default");
    CALL(f, r, ek_api_create(c, cm, "default", a, on_res, &r));
    ASSERT_EQ(r.status, 409);
    ASSERT_STREQ(ek_json_str(r.body, "reason", NULL), "AlreadyExists");

    CALL(f, r, ek_api_get(c, cm, "default", "a", on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "data", "k", NULL), "v1");

    /* Update with the current revision, then again with the stale one: 409. */
    ek_auto(json_t) upd = json_deep_copy(r.body);
    ek_json_set_str(json_object_get(upd, "data"), "k", "v2");
    CALL(f, r, ek_api_update(c, cm, NULL, upd, EK_SUB_NONE, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "data", "k", NULL), "v2");
    ASSERT_NE(strcmp(ek_json_str(r.body, "metadata", "resourceVersion", NULL), rv1), 0);
    ek_json_set_str(json_object_get(upd, "data"), "k", "v3");
    ek_json_set_str(json_object_get(upd, "metadata"), "resourceVersion", rv1);
    CALL(f, r, ek_api_update(c, cm, "default", upd, EK_SUB_NONE, on_res, &r));
    ASSERT_EQ(r.status, 409);
    ASSERT_EQ(r.err_status, 409);
    ASSERT_STREQ(ek_json_str(r.body, "reason", NULL), "Conflict");
    ASSERT_CONTAINS(r.err, "the object has been modified");

    res_clear(&r);
}

/* Every patch type; each would be refused or do something else as another type. */
static void crud_patch(sfx_t *f, ek_api_client_t *c)
{
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    ek_auto(json_t) mp = json_pack("{s:{s:s,s:n}}", "data", "m", "1", "k");
    CALL(f, r, ek_api_patch(c, cm, "default", "a", EK_SUB_NONE, "merge", mp, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "data", "m", NULL), "1");
    ASSERT_TRUE(ek_json_str(r.body, "data", "k", NULL) == NULL);
    ek_auto(json_t) sp = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "s", "1");
    CALL(f, r, ek_api_patch(c, cm, "default", "a", EK_SUB_NONE, "strategic", sp, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "metadata", "labels", "s", NULL), "1");
    ASSERT_STREQ(ek_json_str(r.body, "metadata", "labels", "app", NULL), "x");
    ek_auto(json_t) jp = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "op", "test", "path", "/data/m",
                                   "value", "1", "op", "add", "path", "/data/j", "value", "2");
    CALL(f, r, ek_api_patch(c, cm, "default", "a", EK_SUB_NONE, "json", jp, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "data", "j", NULL), "2");
    ek_auto(json_t) bad_jp =
        json_pack("[{s:s,s:s,s:s}]", "op", "test", "path", "/data/m", "value", "nope");
    CALL(f, r, ek_api_patch(c, cm, "default", "a", EK_SUB_NONE, "json", bad_jp, on_res, &r));
    ASSERT_EQ(r.status, 422);
    ek_auto(json_t) ap = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                                   "ConfigMap", "metadata", "name", "a", "data", "ap", "1");
    CALL(f, r, ek_api_patch(c, cm, "default", "a", EK_SUB_NONE, "apply:test", ap, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "data", "ap", NULL), "1");
    ek_auto(json_t) ap2 = json_pack("{s:s,s:s,s:{s:s},s:{s:s}}", "apiVersion", "v1", "kind",
                                    "ConfigMap", "metadata", "name", "fresh", "data", "ap", "2");
    CALL(f, r, ek_api_patch(c, cm, "default", "fresh", EK_SUB_NONE, "apply", ap2, on_res, &r));
    ASSERT_EQ(r.status, 201); /* apply creates what is missing */

    res_clear(&r);
}

/* Lists with label and field selectors, deletes, a generic request. */
static void crud_list_delete(sfx_t *f, ek_api_client_t *c)
{
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    create_cm(f, c, "b", "other", "v");
    CALL(f, r, ek_api_list(c, cm, "default", "app=x", NULL, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(json_array_size(json_object_get(r.body, "items")), 1);
    ASSERT_STREQ(
        ek_json_str(json_array_get(json_object_get(r.body, "items"), 0), "metadata", "name", NULL),
        "a");
    CALL(f, r, ek_api_list(c, cm, "default", NULL, "metadata.name=b", on_res, &r));
    ASSERT_EQ(json_array_size(json_object_get(r.body, "items")), 1);
    CALL(f, r, ek_api_list(c, cm, NULL, "app in (x,other)", NULL, on_res, &r));
    ASSERT_EQ(json_array_size(json_object_get(r.body, "items")), 2);
    CALL(f, r, ek_api_list(c, cm, "default", NULL, "spec.nope=1", on_res, &r));
    ASSERT_EQ(r.status, 400);

    /* Delete, then the object is gone. */
    ek_auto(json_t) opts = json_pack("{s:s,s:s,s:i}", "kind", "DeleteOptions", "apiVersion", "v1",
                                     "gracePeriodSeconds", 0);
    CALL(f, r, ek_api_delete(c, cm, "default", "a", opts, on_res, &r));
    ASSERT_EQ(r.status, 200);
    CALL(f, r, ek_api_get(c, cm, "default", "a", on_res, &r));
    ASSERT_EQ(r.status, 404);
    ASSERT_EQ(r.err_status, 404);
    ASSERT_STREQ(ek_json_str(r.body, "reason", NULL), "NotFound");
    CALL(f, r, ek_api_delete(c, cm, "default", "a", NULL, on_res, &r));
    ASSERT_EQ(r.status, 404);

    /* A generic request: discovery. */
    CALL(f, r, ek_api_request(c, "GET", "/api/v1", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STREQ(ek_json_str(r.body, "kind", NULL), "APIResourceList");
    res_clear(&r);
}

static void crud(bool https)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, https);
    crud_update(&f, c);
    crud_patch(&f, c);
    crud_list_delete(&f, c);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

TEST(api_client_crud_inproc)
{
    crud(false);
}

TEST(api_client_crud_https)
{
    crud(true);
}

static void wait_events(sfx_t *f, evs_t *e, int n)
{
    uint64_t deadline = ek_now_ms() + WAIT_MS;
    while (e->n < n && !e->done.done) {
        ASSERT_CMP(ek_now_ms(), <, deadline);
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    ASSERT_CMP(e->n, >=, n);
}

static void watch(bool https)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, https);
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    create_cm(&f, c, "before", "x", "v");
    CALL(&f, r, ek_api_list(c, cm, "default", NULL, NULL, on_res, &r));
    ek_autofree char *rv = ek_xstrdup(ek_json_str(r.body, "metadata", "resourceVersion", NULL));

    evs_t e = { 0 }, initial = { 0 };
    e.call = ek_api_watch(c, cm, "default", NULL, NULL, rv, on_ev, on_ev_done, &e);
    initial.call = ek_api_watch(c, cm, "default", "app=x", NULL, "", on_ev, on_ev_done, &initial);
    ASSERT_NOT_NULL(e.call);
    create_cm(&f, c, "w1", "y", "v");
    ek_auto(json_t) mp = json_pack("{s:{s:s}}", "data", "k", "changed");
    CALL(&f, r, ek_api_patch(c, cm, "default", "w1", EK_SUB_NONE, "merge", mp, on_res, &r));
    CALL(&f, r, ek_api_delete(c, cm, "default", "w1", NULL, on_res, &r));
    wait_events(&f, &e, 3);
    ASSERT_EQ(e.n, 3);
    ASSERT_STREQ(e.type[0], "ADDED");
    ASSERT_STREQ(e.name[0], "w1");
    ASSERT_STREQ(e.type[1], "MODIFIED");
    ASSERT_STREQ(e.type[2], "DELETED");
    ASSERT_STREQ(e.name[2], "w1");
    ASSERT_FALSE(e.done.done);
    /* From "": the current state first, and only what the selector matches. */
    ASSERT_EQ(initial.n, 1);
    ASSERT_STREQ(initial.type[0], "ADDED");
    ASSERT_STREQ(initial.name[0], "before");

    ek_api_call_cancel(e.call);
    ASSERT_TRUE(e.done.done);
    ASSERT_EQ(e.done.status, 0);
    ASSERT_EQ(e.done.errnum, ECANCELED);

    /* An HTTP error before streaming (a bad selector) comes as a Status. */
    evs_t bad = { 0 };
    ek_api_watch(c, cm, "default", "a in (", NULL, "", on_ev, on_ev_done, &bad);
    RUN(&f, bad.done.done);
    ASSERT_EQ(bad.done.status, 400);
    ASSERT_EQ(bad.done.err_status, 400);
    ASSERT_STREQ(ek_json_str(bad.done.body, "kind", NULL), "Status");
    ASSERT_EQ(bad.n, 0);

    res_clear(&r);
    client_free_wait(&f, c);
    /* Freeing the client ended the other watch. */
    ASSERT_EQ(initial.done.calls, 1);
    ASSERT_EQ(initial.done.errnum, ECANCELED);
    res_clear(&e.done);
    res_clear(&initial.done);
    res_clear(&bad.done);
    sfx_finish(&f);
}

TEST(api_client_watch_inproc)
{
    watch(false);
}

TEST(api_client_watch_https)
{
    watch(true);
}

/* A watch from a revision the server no longer holds gets an in-stream 410. */
static void watch_expired(bool https)
{
    sfx_t f;
    sfx_init(&f, 2); /* two events per resource kept */
    ek_api_client_t *c = admin_client(&f, https);
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    ek_auto(json_t) first = configmap("e0", "x", "v");
    CALL(&f, r, ek_api_create(c, cm, "default", first, on_res, &r));
    ek_autofree char *rv = ek_xstrdup(ek_json_str(r.body, "metadata", "resourceVersion", NULL));
    for (int i = 1; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "e%d", i);
        create_cm(&f, c, name, "x", "v");
    }
    evs_t e = { 0 };
    ek_api_watch(c, cm, "default", NULL, NULL, rv, on_ev, on_ev_done, &e);
    RUN(&f, e.done.done);
    ASSERT_EQ(e.n, 1);
    ASSERT_STREQ(e.type[0], "ERROR");
    ASSERT_EQ(e.done.status, 410);
    ASSERT_EQ(e.done.err_status, 410);
    ASSERT_STREQ(ek_json_str(e.done.body, "reason", NULL), "Expired");
    res_clear(&e.done);
    res_clear(&r);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

TEST(api_client_watch_expired_inproc)
{
    watch_expired(false);
}

TEST(api_client_watch_expired_https)
{
    watch_expired(true);
}

/* ---- informers ---- */

typedef struct seen {
    int adds, updates, resyncs, deletes;
    char last_add[64], last_update[64], last_delete[64];
    char last_update_value[64], last_update_old[64];
    int n_gone;
    char gone[64][64];
} seen_t;

static void seen_add(json_t *obj, void *data)
{
    seen_t *s = data;
    s->adds++;
    snprintf(s->last_add, sizeof(s->last_add), "%s", ek_json_str(obj, "metadata", "name", NULL));
}

static void seen_update(json_t *old_obj, json_t *obj, void *data)
{
    seen_t *s = data;
    if (old_obj == obj) {
        s->resyncs++;
        return;
    }
    s->updates++;
    snprintf(s->last_update, sizeof(s->last_update), "%s",
             ek_json_str(obj, "metadata", "name", NULL));
    const char *v = ek_json_str(obj, "data", "k", NULL);
    snprintf(s->last_update_value, sizeof(s->last_update_value), "%s", v ? v : "");
    v = ek_json_str(old_obj, "data", "k", NULL);
    snprintf(s->last_update_old, sizeof(s->last_update_old), "%s", v ? v : "");
}

static void seen_delete(json_t *obj, void *data)
{
    seen_t *s = data;
    s->deletes++;
    const char *name = ek_json_str(obj, "metadata", "name", NULL);
    snprintf(s->last_delete, sizeof(s->last_delete), "%s", name);
    if (s->n_gone < 64) {
        snprintf(s->gone[s->n_gone++], sizeof(s->gone[0]), "%s", name);
    }
}

static const ek_informer_handlers_t seen_handlers = { seen_add, seen_update, seen_delete, NULL };

static void wait_for(sfx_t *f, const int *counter, int n)
{
    uint64_t deadline = ek_now_ms() + WAIT_MS;
    while (*counter < n) {
        if (ek_now_ms() > deadline) {
            ek__test_fail(__FILE__, __LINE__, "waited for %d, have %d", n, *counter);
        }
        uv_run(&f->loop, UV_RUN_ONCE);
    }
}

static void count_each(json_t *obj, void *data)
{
    EK_UNUSED(obj);
    (*(int *)data)++;
}

static void informer(bool https)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, https);
    const ek_resource_t *cm = cm_res();
    res_t r = { 0 };
    create_cm(&f, c, "i1", "x", "v");
    create_cm(&f, c, "i2", "x", "v");
    create_cm(&f, c, "i3", "y", "v");

    ek_informer_t *inf = ek_informer_new(c, cm, "default", "app=x", NULL, 300);
    seen_t s1 = { 0 }, s2 = { 0 };
    ek_informer_add_handlers(inf, &seen_handlers, &s1);
    ASSERT_FALSE(ek_informer_synced(inf));
    ek_informer_start(inf);
    wait_for(&f, &s1.adds, 2);
    ASSERT_TRUE(ek_informer_synced(inf));
    ASSERT_EQ(ek_informer_count(inf), 2);
    ASSERT_NOT_NULL(ek_informer_get(inf, "default", "i1"));
    ASSERT_TRUE(ek_informer_get(inf, "default", "i3") == NULL);
    ASSERT_TRUE(ek_informer_get(inf, "other", "i1") == NULL);
    int n = 0;
    ek_informer_each(inf, count_each, &n);
    ASSERT_EQ(n, 2);
    ASSERT_TRUE(*ek_informer_revision(inf));

    /* A second handler set gets the current objects as adds. */
    ek_informer_add_handlers(inf, &seen_handlers, &s2);
    ASSERT_EQ(s2.adds, 2);

    create_cm(&f, c, "i4", "x", "v");
    wait_for(&f, &s1.adds, 3);
    ASSERT_STREQ(s1.last_add, "i4");
    ek_auto(json_t) mp = json_pack("{s:{s:s}}", "data", "k", "new");
    CALL(&f, r, ek_api_patch(c, cm, "default", "i1", EK_SUB_NONE, "merge", mp, on_res, &r));
    wait_for(&f, &s1.updates, 1);
    ASSERT_STREQ(s1.last_update, "i1");
    ASSERT_STREQ(s1.last_update_value, "new");
    ASSERT_STREQ(ek_json_str(ek_informer_get(inf, "default", "i1"), "data", "k", NULL), "new");
    /* Relabelled out of the selector: deleted for this informer. */
    ek_auto(json_t) relabel = json_pack("{s:{s:{s:s}}}", "metadata", "labels", "app", "y");
    CALL(&f, r, ek_api_patch(c, cm, "default", "i2", EK_SUB_NONE, "merge", relabel, on_res, &r));
    wait_for(&f, &s1.deletes, 1);
    ASSERT_STREQ(s1.last_delete, "i2");
    CALL(&f, r, ek_api_delete(c, cm, "default", "i4", NULL, on_res, &r));
    wait_for(&f, &s1.deletes, 2);
    ASSERT_STREQ(s1.last_delete, "i4");
    ASSERT_EQ(ek_informer_count(inf), 1);
    ASSERT_EQ(s2.adds, 3);
    ASSERT_EQ(s2.deletes, 2);
    /* Resync: update(obj, obj) for every cached object, every 300 ms. */
    wait_for(&f, &s1.resyncs, 2);
    ASSERT_EQ(s1.updates, 1);

    ek_informer_free(inf);
    res_clear(&r);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

TEST(api_client_informer_inproc)
{
    informer(false);
}

TEST(api_client_informer_https)
{
    informer(true);
}

static void informer_free_in_handler_add(json_t *obj, void *data)
{
    ek_informer_t **inf = data;
    EK_UNUSED(obj);
    if (*inf) {
        ek_informer_free(*inf);
        *inf = NULL;
    }
}

TEST(api_client_informer_free_in_handler)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, false);
    create_cm(&f, c, "f1", "x", "v");
    create_cm(&f, c, "f2", "x", "v");
    ek_informer_t *inf = ek_informer_new(c, cm_res(), "default", NULL, NULL, 0);
    ek_informer_t *handle = inf;
    ek_informer_handlers_t h = { informer_free_in_handler_add, NULL, NULL, NULL };
    seen_t s = { 0 };
    ek_informer_add_handlers(inf, &h, &handle);
    ek_informer_add_handlers(inf, &seen_handlers, &s);
    ek_informer_start(inf);
    uint64_t deadline = ek_now_ms() + WAIT_MS;
    while (handle) {
        ASSERT_CMP(ek_now_ms(), <, deadline);
        uv_run(&f.loop, UV_RUN_ONCE);
    }
    /* Freed inside the first add: the other set heard nothing more. */
    ASSERT_EQ(s.adds, 0);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

/*
 * The server ends the watches of readers more than 32 MiB behind. With one event kept per
 * resource, the informer's next watch is from an expired revision: it must re-list and work out
 * what it missed from the difference. "keep" changes twice after the cut: a re-list reports one
 * update from the first value to the last, where events would have reported two.
 */
TEST_T(api_client_informer_relist_slow_inproc, 120)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    sfx_t f;
    sfx_init(&f, 1);
    ek_api_client_t *c = admin_client(&f, false);
    const ek_resource_t *cm = cm_res();
    create_cm(&f, c, "keep", "x", "old");
    create_cm(&f, c, "gone", "x", "v");
    ek_informer_t *inf = ek_informer_new(c, cm, "default", NULL, NULL, 0);
    seen_t s = { 0 };
    ek_informer_add_handlers(inf, &seen_handlers, &s);
    ek_informer_start(inf);
    wait_for(&f, &s.adds, 2);

    /* All submitted in one turn, so they commit and reach the watchers together. */
    enum { BIG = 36 };
    size_t big_len = 1000 * 1000;
    char *filler = ek_xmalloc(big_len + 1);
    memset(filler, 'z', big_len);
    filler[big_len] = '\0';
    res_t rs[BIG + 3] = { { 0 } };
    for (int i = 0; i < BIG; i++) {
        char name[16];
        snprintf(name, sizeof(name), "big%02d", i);
        ek_auto(json_t) obj = configmap(name, "x", filler);
        ASSERT_NOT_NULL(ek_api_create(c, cm, "default", obj, on_res, &rs[i]));
    }
    free(filler);
    ek_auto(json_t) p1 = json_pack("{s:{s:s}}", "data", "k", "v2");
    ek_auto(json_t) p2 = json_pack("{s:{s:s}}", "data", "k", "v3");
    ek_api_patch(c, cm, "default", "keep", EK_SUB_NONE, "merge", p1, on_res, &rs[BIG]);
    ek_api_patch(c, cm, "default", "keep", EK_SUB_NONE, "merge", p2, on_res, &rs[BIG + 1]);
    ek_api_delete(c, cm, "default", "gone", NULL, on_res, &rs[BIG + 2]);
    for (int i = 0; i < BIG + 3; i++) {
        RUN(&f, rs[i].done);
        ASSERT_EQ(rs[i].status, i < BIG ? 201 : 200);
        res_clear(&rs[i]);
    }

    wait_for(&f, &s.deletes, 1);
    ASSERT_STREQ(s.gone[0], "gone");
    wait_for(&f, &s.adds, BIG + 2);
    wait_for(&f, &s.updates, 1);
    ASSERT_STREQ(s.last_update, "keep");
    ASSERT_STREQ(s.last_update_old, "old");
    ASSERT_STREQ(s.last_update_value, "v3");
    for (int i = 0; i < 20; i++) {
        uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    ASSERT_EQ(s.updates, 1);
    ASSERT_EQ(s.deletes, 1);
    ASSERT_EQ(s.adds, BIG + 2);
    ASSERT_EQ(ek_informer_count(inf), BIG + 1);

    ek_informer_free(inf);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

/*
 * A restart: the informer (over HTTPS) loses its server; meanwhile another server on the same
 * data dir changes things; when the server is back on the same port, the informer's watch
 * from its old revision gets 410 (older than the server's start) and the re-list shows what
 * changed.
 */
TEST_T(api_client_informer_relist_restart, 120)
{
    sfx_t f;
    sfx_init(&f, 0);
    int port = f.port;
    ek_api_client_t *c = admin_client(&f, true);
    const ek_resource_t *cm = cm_res();
    create_cm(&f, c, "r-keep", "x", "old");
    create_cm(&f, c, "r-gone", "x", "v");
    ek_informer_t *inf = ek_informer_new(c, cm, "default", NULL, NULL, 0);
    seen_t s = { 0 };
    ek_informer_add_handlers(inf, &seen_handlers, &s);
    ek_informer_start(inf);
    wait_for(&f, &s.adds, 2);
    ek_autofree char *rv_before = ek_xstrdup(ek_informer_revision(inf));

    server_close(&f);
    /* Changes made while the informer cannot see them, on another port. */
    server_start(&f, 0);
    ek_api_client_t *side = admin_client(&f, false);
    res_t r = { 0 };
    ek_auto(json_t) mp = json_pack("{s:{s:s}}", "data", "k", "new");
    CALL(&f, r, ek_api_patch(side, cm, "default", "r-keep", EK_SUB_NONE, "merge", mp, on_res, &r));
    ASSERT_EQ(r.status, 200);
    CALL(&f, r, ek_api_delete(side, cm, "default", "r-gone", NULL, on_res, &r));
    ASSERT_EQ(r.status, 200);
    create_cm(&f, side, "r-new", "x", "v");
    res_clear(&r);
    client_free_wait(&f, side);
    server_close(&f);
    ASSERT_EQ(s.adds, 2);
    ASSERT_EQ(s.deletes, 0);

    server_start(&f, port);
    wait_for(&f, &s.deletes, 1);
    wait_for(&f, &s.adds, 3);
    wait_for(&f, &s.updates, 1);
    ASSERT_STREQ(s.last_delete, "r-gone");
    ASSERT_STREQ(s.last_add, "r-new");
    ASSERT_STREQ(s.last_update, "r-keep");
    ASSERT_STREQ(s.last_update_value, "new");
    ASSERT_EQ(ek_informer_count(inf), 2);
    ASSERT_CMP(strtoll(ek_informer_revision(inf), NULL, 10), >, strtoll(rv_before, NULL, 10));

    /* And it keeps watching the new server. */
    create_cm(&f, c, "r-after", "x", "v");
    wait_for(&f, &s.adds, 4);
    ASSERT_STREQ(s.last_add, "r-after");

    ek_informer_free(inf);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

/* ---- cancel, free, authorization, shutdown ---- */

static void wait_no_watchers(sfx_t *f)
{
    bucket_t *b = store_bucket(&f->srv->store, cm_res());
    uint64_t deadline = ek_now_ms() + WAIT_MS;
    while (b->watchers) {
        ASSERT_CMP(ek_now_ms(), <, deadline);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static void cancel_pending(bool https)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, https);
    const ek_resource_t *cm = cm_res();
    create_cm(&f, c, "c1", "x", "v");

    /* A watch cancelled before anything was delivered: done at once, nothing after. */
    evs_t e = { 0 };
    e.call = ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &e);
    if (!https) {
        ASSERT_TRUE(store_bucket(&f.srv->store, cm)->watchers != NULL); /* already serving */
    }
    ek_api_call_cancel(e.call);
    ASSERT_TRUE(e.done.done);
    ASSERT_EQ(e.done.status, 0);
    ASSERT_EQ(e.done.errnum, ECANCELED);
    ASSERT_STREQ(e.done.err, "cancelled");
    /* The server saw a hang-up and ended the watch. */
    wait_no_watchers(&f);

    /* A get whose answer is ready but not yet delivered. */
    res_t g = { 0 };
    ek_api_call_t *call = ek_api_get(c, cm, "default", "c1", on_res, &g);
    ek_api_call_cancel(call);
    ASSERT_EQ(g.calls, 1);
    ASSERT_EQ(g.status, 0);
    ASSERT_EQ(g.errnum, ECANCELED);

    create_cm(&f, c, "c2", "x", "v");
    for (int i = 0; i < 20; i++) {
        uv_run(&f.loop, UV_RUN_NOWAIT);
    }
    ASSERT_EQ(e.n, 0);
    ASSERT_EQ(e.done.calls, 1);
    ASSERT_EQ(g.calls, 1);
    res_clear(&e.done);
    res_clear(&g);
    client_free_wait(&f, c);
    sfx_finish(&f);
}

TEST(api_client_cancel_inproc)
{
    cancel_pending(false);
}

TEST(api_client_cancel_https)
{
    cancel_pending(true);
}

static void free_in_flight(bool https)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, https);
    const ek_resource_t *cm = cm_res();
    create_cm(&f, c, "x1", "x", "v");
    create_cm(&f, c, "x2", "x", "v");

    /* Calls in flight when the client is freed all end "cancelled", right away. */
    evs_t w = { 0 };
    res_t get = { 0 }, create = { 0 };
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &w);
    ek_api_get(c, cm, "default", "x1", on_res, &get);
    ek_auto(json_t) obj = configmap("x3", "x", "v");
    ek_api_create(c, cm, "default", obj, on_res, &create);
    bool freed = false;
    ek_api_client_free(c, on_freed, &freed);
    ASSERT_EQ(w.done.calls, 1);
    ASSERT_EQ(w.done.errnum, ECANCELED);
    ASSERT_EQ(get.calls, 1);
    ASSERT_EQ(get.errnum, ECANCELED);
    ASSERT_EQ(create.calls, 1);
    ASSERT_EQ(create.errnum, ECANCELED);
    ASSERT_FALSE(freed);
    RUN(&f, freed);
    ASSERT_EQ(w.n, 0);
    wait_no_watchers(&f);

    /* Freed from inside an event callback: the other calls end too, nothing more arrives. */
    c = admin_client(&f, https);
    evs_t first = { 0 }, second = { 0 };
    freed = false;
    first.free_on_first = c;
    first.freed = &freed;
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &first);
    ek_api_watch(c, cm, "default", "app=nothing", NULL, "", on_ev, on_ev_done, &second);
    RUN(&f, freed);
    ASSERT_EQ(first.n, 1); /* three objects exist, only the first event was delivered */
    ASSERT_EQ(first.done.calls, 1);
    ASSERT_EQ(first.done.errnum, ECANCELED);
    ASSERT_EQ(second.done.calls, 1);
    ASSERT_EQ(second.done.errnum, ECANCELED);
    wait_no_watchers(&f);

    res_clear(&w.done);
    res_clear(&get);
    res_clear(&create);
    res_clear(&first.done);
    res_clear(&second.done);
    sfx_finish(&f);
}

TEST(api_client_free_in_flight_inproc)
{
    free_in_flight(false);
}

TEST(api_client_free_in_flight_https)
{
    free_in_flight(true);
}

TEST(api_client_inproc_authorization)
{
    sfx_t f;
    sfx_init(&f, 0);
    const ek_resource_t *cm = cm_res();
    ek_api_client_t *admin = admin_client(&f, false);
    ek_api_client_t *bob = ek_apiserver_client(f.srv, "bob", NULL);
    res_t r = { 0 };

    CALL(&f, r, ek_api_list(bob, cm, "default", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 403);
    ASSERT_EQ(r.err_status, 403);
    ASSERT_STREQ(ek_json_str(r.body, "reason", NULL), "Forbidden");
    ASSERT_CONTAINS(r.err, "User \"bob\" cannot list resource \"configmaps\"");
    ek_auto(json_t) obj = configmap("by-bob", "x", "v");
    CALL(&f, r, ek_api_create(bob, cm, "default", obj, on_res, &r));
    ASSERT_EQ(r.status, 403);
    evs_t e = { 0 };
    ek_api_watch(bob, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &e);
    RUN(&f, e.done.done);
    ASSERT_EQ(e.done.status, 403);
    /* Granted view in default through a RoleBinding naming bob: reads work, writes do not. */
    ek_auto(json_t) rb = json_pack(
        "{s:s,s:s,s:{s:s},s:{s:s,s:s,s:s},s:[{s:s,s:s,s:s}]}", "apiVersion",
        "rbac.authorization.k8s.io/v1", "kind", "RoleBinding", "metadata", "name", "bob-view",
        "roleRef", "apiGroup", "rbac.authorization.k8s.io", "kind", "ClusterRole", "name", "view",
        "subjects", "apiGroup", "rbac.authorization.k8s.io", "kind", "User", "name", "bob");
    const ek_resource_t *rbres =
        ek_resource_find("rbac.authorization.k8s.io", "v1", "rolebindings");
    CALL(&f, r, ek_api_create(admin, rbres, "default", rb, on_res, &r));
    ASSERT_EQ(r.status, 201);
    CALL(&f, r, ek_api_list(bob, cm, "default", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 200);
    CALL(&f, r, ek_api_list(bob, cm, "kube-system", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 403);
    CALL(&f, r, ek_api_create(bob, cm, "default", obj, on_res, &r));
    ASSERT_EQ(r.status, 403);

    /* A group in the identity counts: system:masters may do anything. */
    ek_api_client_t *carol = ek_apiserver_client(f.srv, "carol", masters);
    CALL(&f, r, ek_api_create(carol, cm, "default", obj, on_res, &r));
    ASSERT_EQ(r.status, 201);

    res_clear(&r);
    res_clear(&e.done);
    client_free_wait(&f, bob);
    client_free_wait(&f, carol);
    client_free_wait(&f, admin);
    sfx_finish(&f);
}

/* A bearer token goes in the Authorization header (without it the answer would be 401). */
TEST(api_client_https_bearer_token)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *admin = admin_client(&f, false);
    const ek_resource_t *sa = ek_resource_find("", "v1", "serviceaccounts");
    res_t r = { 0 };
    ek_auto(json_t) acct = json_pack("{s:{s:s}}", "metadata", "name", "robot");
    CALL(&f, r, ek_api_create(admin, sa, "default", acct, on_res, &r));
    ASSERT_EQ(r.status, 201);
    ek_autofree char *path = ek_api_path(sa, "default", "robot", EK_SUB_TOKEN);
    ek_auto(json_t) tr = json_pack("{s:s,s:s,s:{}}", "apiVersion", "authentication.k8s.io/v1",
                                   "kind", "TokenRequest", "spec");
    CALL(&f, r, ek_api_request(admin, "POST", path, NULL, tr, on_res, &r));
    ASSERT_EQ(r.status, 201);
    ek_autofree char *token = ek_xstrdup(ek_json_str(r.body, "status", "token", NULL));

    ek_api_client_t *robot = https_client(&f, NULL, NULL, token);
    CALL(&f, r, ek_api_list(robot, cm_res(), "default", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 403);
    ASSERT_CONTAINS(r.err, "system:serviceaccount:default:robot");
    ek_api_client_t *anon = https_client(&f, NULL, NULL, NULL);
    CALL(&f, r, ek_api_list(anon, cm_res(), "default", NULL, NULL, on_res, &r));
    ASSERT_EQ(r.status, 401);

    res_clear(&r);
    client_free_wait(&f, robot);
    client_free_wait(&f, anon);
    client_free_wait(&f, admin);
    sfx_finish(&f);
}

TEST(api_client_https_errors)
{
    uv_loop_t loop;
    ASSERT_EQ(uv_loop_init(&loop), 0);
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_api_client_https(&loop, "ftp://x", NULL, NULL, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "want https://HOST:PORT");
    ek_error_clear(&err);

    /* Nobody listens on port 1: status 0 and why, on a later turn. */
    ek_tls_config_t *tls = ek_tls_client_config_new(NULL, NULL, NULL, true, &err);
    ASSERT_OK(tls ? 0 : -1, &err);
    ek_api_client_t *c = ek_api_client_https(&loop, "https://127.0.0.1:1", tls, NULL, &err);
    ek_tls_config_unref(tls);
    ASSERT_NOT_NULL(c);
    res_t r = { 0 }, bad = { 0 };
    ek_api_request(c, "GET", "/api", NULL, NULL, on_res, &r);
    ek_api_request(c, "GET", "bad path", NULL, NULL, on_res, &bad); /* refused by lib/http */
    ASSERT_FALSE(r.done);
    ASSERT_FALSE(bad.done);
    ek_test_run_until(&loop, &r.done, WAIT_MS);
    ek_test_run_until(&loop, &bad.done, WAIT_MS);
    ASSERT_EQ(r.status, 0);
    ASSERT_NE(r.err[0], '\0');
    ASSERT_EQ(bad.status, 0);
    ASSERT_NE(bad.err[0], '\0');
    bool freed = false;
    ek_api_client_free(c, on_freed, &freed);
    ek_test_run_until(&loop, &freed, WAIT_MS);
    res_clear(&r);
    res_clear(&bad);
    ek_test_loop_finish(&loop);
}

/* Requests in flight when the server closes end cleanly; later ones get 503 until then. */
TEST(api_client_inproc_server_close)
{
    sfx_t f;
    sfx_init(&f, 0);
    ek_api_client_t *c = admin_client(&f, false);
    const ek_resource_t *cm = cm_res();
    evs_t w = { 0 };
    res_t create = { 0 }, late = { 0 };
    ek_api_watch(c, cm, "default", NULL, NULL, "", on_ev, on_ev_done, &w);
    ek_auto(json_t) obj = configmap("during-close", "x", "v");
    ek_api_create(c, cm, "default", obj, on_res, &create);
    ek_apiserver_close(f.srv, on_closed_flag, &f.closed);
    ek_api_get(c, cm, "default", "during-close", on_res, &late);
    RUN(&f, f.closed);
    f.srv = NULL;
    RUN(&f, w.done.done);
    RUN(&f, create.done);
    RUN(&f, late.done);
    ASSERT_EQ(w.done.status, 200); /* the server ended the stream */
    ASSERT_STREQ(w.done.err, "");
    ASSERT_TRUE(create.status == 201 || create.status == 503);
    ASSERT_EQ(late.status, 503);
    ASSERT_EQ(late.err_status, 503);
    res_clear(&w.done);
    res_clear(&create);
    res_clear(&late);
    client_free_wait(&f, c);
    sfx_finish(&f);
}
