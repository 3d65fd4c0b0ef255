/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API client's HTTPS transport: each request is one lib/http call on a keep-alive pool
 * (so a component's requests share a few TLS connections), authenticated by the TLS config's
 * client certificate or a bearer token. Watches stream their body as it comes and have no
 * overall deadline (only a guard past the server's own end of the stream); other requests give
 * up after REQUEST_TIMEOUT_MS.
 *
 * A request lib/http refuses at once (a bad URL, say) still reports through on_done on a later
 * loop turn: such requests wait in a queue drained by a zero timer, so callers see one
 * behaviour whatever went wrong.
 */
#include <errno.h>
#include <stdio.h>

#include "api/api.h"

#define REQUEST_TIMEOUT_MS 60000
#define WATCH_GUARD_S      30

typedef struct https_tp https_tp_t;

typedef struct hreq {
    https_tp_t *t;
    ek_http_call_t *call;
    ek_api_stream_callbacks_t cb;
    void *data;
    ek_error_t *failed; /* why the call could not start; reported by the timer */
    struct hreq *next;  /* in the failed queue */
} hreq_t;

struct https_tp {
    uv_loop_t *loop;
    ek_http_client_t *http;
    char *base;      /* "https://host:port", no trailing slash */
    char *auth;      /* "Bearer TOKEN" or NULL */
    char *useragent; /* "edgek/v0.1.0" */
    uv_timer_t defer;
    hreq_t *failed_head, *failed_tail;
    int open; /* the HTTP client and the timer, until both are closed */
    void (*released)(void *data);
    void *released_data;
};

static void hreq_free(hreq_t *h)
{
    ek_error_free(h->failed);
    free(h);
}

/* ---- lib/http callbacks ---- */

static void on_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    hreq_t *h = user;
    EK_UNUSED(call);
    if (h->cb.on_head) {
        h->cb.on_head(resp->status, ek_http_response_header(resp, "Content-Type"), h->data);
    }
}

static void on_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    hreq_t *h = user;
    EK_UNUSED(call);
    if (h->cb.on_body) {
        h->cb.on_body(data, len, h->data);
    }
}

static void on_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    hreq_t *h = user;
    EK_UNUSED(call);
    h->call = NULL;
    h->cb.on_done(err, h->data);
    hreq_free(h);
}

static const ek_http_call_callbacks_t http_callbacks = {
    .on_response = on_response,
    .on_body = on_body,
    .on_done = on_done,
};

/* ---- requests that never started ---- */

static void failed_remove(https_tp_t *t, hreq_t *h)
{
    hreq_t **pp = &t->failed_head;
    hreq_t *prev = NULL;
    while (*pp && *pp != h) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp) {
        *pp = h->next;
        if (t->failed_tail == h) {
            t->failed_tail = prev;
        }
    }
    h->next = NULL;
}

static void on_defer(uv_timer_t *timer)
{
    https_tp_t *t = timer->data;
    /* One at a time off the queue, as a callback may cancel (and so free) the next one; those
     * queued by these callbacks wait for the next turn. */
    hreq_t *last = t->failed_tail;
    while (t->failed_head) {
        hreq_t *h = t->failed_head;
        bool was_last = h == last;
        failed_remove(t, h);
        h->cb.on_done(h->failed, h->data);
        hreq_free(h);
        if (was_last) {
            break;
        }
    }
    if (t->failed_head && !uv_is_closing((uv_handle_t *)timer)) {
        uv_timer_start(timer, on_defer, 0, 0);
    }
}

static void defer_failure(https_tp_t *t, hreq_t *h)
{
    if (t->failed_tail) {
        t->failed_tail->next = h;
    } else {
        t->failed_head = h;
    }
    t->failed_tail = h;
    uv_timer_start(&t->defer, on_defer, 0, 0);
}

/* ---- transport operations ---- */

/*
 * Watches get no deadline of their own: the server ends them at their timeoutSeconds. A guard
 * a little past that catches a connection that died without a word (a board's Wi-Fi dropping),
 * which TCP alone would notice only after many minutes.
 */
static uint64_t call_timeout_ms(const char *path_query)
{
    const char *q = strchr(path_query, '?');
    ek_autofree char *w = q ? ek_http_query_get(q + 1, "watch") : NULL;
    if (!w || (strcmp(w, "true") != 0 && strcmp(w, "1") != 0)) {
        return REQUEST_TIMEOUT_MS;
    }
    ek_autofree char *t = ek_http_query_get(q + 1, "timeoutSeconds");
    long long secs = t ? strtoll(t, NULL, 10) : 0;
    return secs > 0 ? (uint64_t)(secs + WATCH_GUARD_S) * 1000 : 0;
}

static void *tp_start(void *tp, const ek_api_request_t *req, const ek_api_stream_callbacks_t *cb,
                      void *data)
{
    https_tp_t *t = tp;
    hreq_t *h = ek_new(hreq_t);
    h->t = t;
    h->cb = *cb;
    h->data = data;
    ek_http_header_t hdrs[5];
    size_t n = 0;
    hdrs[n++] = (ek_http_header_t){ "Accept", "application/json" };
    hdrs[n++] = (ek_http_header_t){ "User-Agent", t->useragent };
    if (req->content_type) {
        hdrs[n++] = (ek_http_header_t){ "Content-Type", (char *)req->content_type };
    }
    if (t->auth) {
        hdrs[n++] = (ek_http_header_t){ "Authorization", t->auth };
    }
    ek_autofree char *url = ek_xasprintf("%s%s", t->base, req->path_query);
    ek_http_call_options_t o = {
        .method = req->method,
        .url = url,
        .headers = hdrs,
        .n_headers = n,
        .body = req->body,
        .body_len = req->body_len,
        .timeout_ms = call_timeout_ms(req->path_query),
    };
    h->call = ek_http_call(t->http, &o, &http_callbacks, h, &h->failed);
    if (!h->call) {
        defer_failure(t, h);
    }
    return h;
}

static void tp_cancel(void *tp, void *handle)
{
    https_tp_t *t = tp;
    hreq_t *h = handle;
    if (h->call) {
        ek_http_call_cancel(h->call); /* on_done runs inside or right after */
        return;
    }
    failed_remove(t, h);
    char msg[] = "cancelled";
    ek_error_t e = { .errnum = ECANCELED, .msg = msg };
    h->cb.on_done(&e, h->data);
    hreq_free(h);
}

static void tp_closed_one(https_tp_t *t)
{
    if (--t->open > 0) {
        return;
    }
    void (*cb)(void *) = t->released;
    void *cb_data = t->released_data;
    free(t->base);
    free(t->auth);
    free(t->useragent);
    free(t);
    if (cb) {
        cb(cb_data);
    }
}

static void on_http_freed(void *data)
{
    tp_closed_one(data);
}

static void on_defer_closed(uv_handle_t *hd)
{
    tp_closed_one(hd->data);
}

static void tp_release(void *tp, void (*done)(void *data), void *data)
{
    https_tp_t *t = tp;
    t->released = done;
    t->released_data = data;
    /* The client cancelled every request; whatever still sits in the queue is dropped. */
    while (t->failed_head) {
        hreq_t *h = t->failed_head;
        failed_remove(t, h);
        hreq_free(h);
    }
    uv_close((uv_handle_t *)&t->defer, on_defer_closed);
    ek_http_client_free(t->http, on_http_freed, t);
}

static const ek_api_transport_ops_t https_ops = {
    .start = tp_start,
    .cancel = tp_cancel,
    .release = tp_release,
};

ek_api_client_t *ek_api_client_https(uv_loop_t *loop, const char *server, ek_tls_config_t *tls,
                                     const char *bearer_token, ek_error_t **err)
{
    if (!server || !(ek_has_prefix(server, "https://") || ek_has_prefix(server, "http://")) ||
        strchr(server, '?')) {
        ek_error_make(err, EINVAL, "API server URL `%s`: want https://HOST:PORT",
                      server ? server : "");
        return NULL;
    }
    https_tp_t *t = ek_new(https_tp_t);
    t->loop = loop;
    t->base = ek_xstrdup(server);
    size_t len = strlen(t->base);
    while (len && t->base[len - 1] == '/') {
        t->base[--len] = '\0';
    }
    t->auth = bearer_token && *bearer_token ? ek_xasprintf("Bearer %s", bearer_token) : NULL;
    t->useragent = ek_xasprintf("edgek/%s", ek_version);
    t->http = ek_http_client_new(loop, tls);
    uv_timer_init(loop, &t->defer);
    t->defer.data = t;
    t->open = 2;
    return ek_api_client_new(loop, &https_ops, t);
}
