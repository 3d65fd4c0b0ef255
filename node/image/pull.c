/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pulling from registries (OCI distribution API) on the caller's libuv loop: manifest (an
 * index picks the node's platform), config, then the layers the store lacks — three
 * downloads at a time, each streamed to a staging file and hashed as it arrives, then
 * unpacked on a worker thread while the next downloads go on. Mirrors from registries.yaml
 * are tried first, then the registry itself. A 401 answers a challenge: Bearer gets a token
 * from the realm (anonymously, or with credentials from an imagePullSecret or
 * registries.yaml), Basic sends the credentials. Redirects (blob storage) are followed
 * without the Authorization header. Every digest is checked; any failure cancels the rest,
 * and the staging directory goes, so a failed pull leaves nothing behind.
 *
 * One struct pull owns everything; it is freed once the HTTP client has closed (the last
 * handle) — the user callback runs just before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "node/image/image-internal.h"

#define MAX_PARALLEL  3
#define MAX_META      (4 << 20)
#define MAX_REDIRECTS 5
#define TICK_MS       250
#define ACCEPT_MANIFEST                                                                     \
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, " \
    "application/vnd.docker.distribution.manifest.list.v2+json, "                           \
    "application/vnd.docker.distribution.manifest.v2+json"

struct pull;
struct req;
typedef void (*req_done_fn)(struct req *r, ek_error_t *err);

/* One layer to fetch and unpack. */
struct dl {
    struct pull *p;
    char *digest, *diffid, *media_type;
    int64_t size;
    char *path;
    int fd;
    ek__sha256_t sha;
    uint64_t got;
    uint64_t last_data_ms;
    struct req *req;
    ek__layer_task_t *task;
    bool present, done;
};

struct req {
    struct pull *p;
    char *url;
    const char *what; /* "manifest", "config", "token", "layer" */
    const char *accept;
    bool auth; /* send our Authorization (not after a redirect, not to the token realm) */
    int status;
    int redirects;
    bool auth_retried;
    char *location, *www_auth, *content_type;
    ek_buf_t body;
    struct dl *dl;
    struct req *retry; /* token requests: the request to repeat with the token */
    char *want;        /* child manifests: the digest the index promised */
    ek_http_call_t *call;
    req_done_fn done;
};

struct pull {
    ek_image_store_t *s;
    uv_loop_t *loop;
    ek_http_client_t *http;
    uv_timer_t tick;
    ek_image_ref_t ref;
    ek_image_pull_policy_t policy;
    char *auth_json;
    uint64_t stall_ms;
    ek_image_ensure_cb cb;
    void *data;
    ek__endpoint_t *eps;
    size_t n_eps, ep;
    ek_tls_config_t *tls;
    char *authz; /* "Bearer …" or "Basic …" for the current endpoint */
    ek_error_t *err, *ep_err;
    ek__job_t job;
    bool job_ok;
    char top_digest[72];
    ek__manifest_t manifest;
    char *manifest_digest, *platform;
    ek__config_t config;
    char *config_digest;
    struct dl *dls;
    size_t n_dls, next_dl;
    unsigned active_calls, active_tasks;
    bool finishing, local_hit, progress_drawn;
    uv_work_t sync_work;
    bool syncing;
    ek_image_info_t *result;
};

static void start_req(struct req *r);
static void next_endpoint(struct pull *p);
static void maybe_finish(struct pull *p);
static void pump_downloads(struct pull *p);

static void fail(struct pull *p, ek_error_t *err)
{
    if (!p->err) {
        p->err = err;
    } else {
        ek_error_free(err);
    }
}

static const char *label(struct pull *p)
{
    return p->ref.full;
}

/* ---- requests ---- */

static struct req *new_req(struct pull *p, const char *what, char *url, req_done_fn done)
{
    struct req *r = ek_new(struct req);
    r->p = p;
    r->what = what;
    r->url = url;
    r->auth = true;
    r->done = done;
    return r;
}

static void req_free(struct req *r)
{
    free(r->url);
    free(r->location);
    free(r->www_auth);
    free(r->content_type);
    free(r->want);
    ek_buf_free(&r->body);
    free(r);
}

static void on_response(ek_http_call_t *call, const ek_http_response_t *resp, void *user)
{
    struct req *r = user;
    EK_UNUSED(call);
    r->status = resp->status;
    const char *v;
    free(r->location), free(r->www_auth), free(r->content_type);
    r->location = (v = ek_http_response_header(resp, "Location")) ? ek_xstrdup(v) : NULL;
    r->www_auth = (v = ek_http_response_header(resp, "WWW-Authenticate")) ? ek_xstrdup(v) : NULL;
    r->content_type = (v = ek_http_response_header(resp, "Content-Type")) ? ek_xstrdup(v) : NULL;
    if (r->content_type) {
        r->content_type[strcspn(r->content_type, ";")] = '\0';
    }
    ek_buf_reset(&r->body);
    if (r->dl && r->status == 200) {
        struct dl *d = r->dl;
        ek__sha256_init(&d->sha);
        d->got = 0;
        /* A body after a retried request starts the file again. */
        if (d->fd >= 0 && (ftruncate(d->fd, 0) < 0 || lseek(d->fd, 0, SEEK_SET) < 0)) {
            ek_error_t *e = NULL;
            ek_error_make(&e, errno, "truncate `%s`", d->path);
            fail(r->p, e);
        }
    }
}

static void on_body(ek_http_call_t *call, const char *data, size_t len, void *user)
{
    struct req *r = user;
    struct dl *d = r->dl;
    if (d && r->status == 200) {
        d->last_data_ms = ek_now_ms();
        d->got += len;
        if (d->size >= 0 && d->got > (uint64_t)d->size) {
            ek_http_call_cancel(call);
            return;
        }
        ek__sha256_update(&d->sha, data, len);
        while (len > 0) {
            ssize_t w = write(d->fd, data, len);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                ek_error_t *e = NULL;
                ek_error_make(&e, errno, "write layer %s", d->digest);
                fail(r->p, e);
                ek_http_call_cancel(call);
                return;
            }
            data += w;
            len -= (size_t)w;
        }
        return;
    }
    if (r->body.len + len > MAX_META) {
        ek_http_call_cancel(call);
        return;
    }
    ek_buf_append(&r->body, data, len);
}

/* The registry's error document, if any: "CODE: message". Caller frees. */
static char *registry_error(const struct req *r)
{
    ek_auto(json_t) j = r->body.len ? ek_json_parse(r->body.data, r->body.len, NULL) : NULL;
    json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    const char *code = ek_json_str(e, "code", NULL), *msg = ek_json_str(e, "message", NULL);
    if (code || msg) {
        return ek_xasprintf(" (%s%s%s)", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
    }
    return ek_xstrdup("");
}

static void token_done(struct req *t, ek_error_t *err);

/* Answers a 401: fetch a bearer token or set basic credentials, then retry once. */
static bool handle_challenge(struct req *r)
{
    struct pull *p = r->p;
    ek_autofree char *scheme = NULL, *realm = NULL, *service = NULL, *scope = NULL;
    if (!r->www_auth || r->auth_retried ||
        ek__parse_www_authenticate(r->www_auth, &scheme, &realm, &service, &scope) < 0) {
        return false;
    }
    r->auth_retried = true;
    ek__creds_t c;
    bool have =
        ek__registries_creds(ek__store_registries(p->s), p->auth_json, p->eps[p->ep].host, &c) == 0;
    if (strcmp(scheme, "basic") == 0) {
        if (!have || !c.username) {
            ek__creds_free(&c);
            return false;
        }
        ek_autofree char *up = ek_xasprintf("%s:%s", c.username, c.password);
        ek_autofree char *b64 = ek_base64_encode(up, strlen(up));
        free(p->authz);
        p->authz = ek_xasprintf("Basic %s", b64);
        ek__creds_free(&c);
        start_req(r);
        return true;
    }
    if (strcmp(scheme, "bearer") != 0 || !realm) {
        ek__creds_free(&c);
        return false;
    }
    ek_autobuf url = EK_BUF_INIT;
    ek_buf_printf(&url, "%s%s", realm, strchr(realm, '?') ? "&" : "?");
    if (service) {
        ek_autofree char *sv = ek_http_escape(service);
        ek_buf_printf(&url, "service=%s&", sv);
    }
    ek_autofree char *sc0 =
        scope ? ek_xstrdup(scope) : ek_xasprintf("repository:%s:pull", p->eps[p->ep].repo);
    ek_autofree char *sc = ek_http_escape(sc0);
    ek_buf_printf(&url, "scope=%s", sc);
    struct req *t = new_req(p, "token", ek_buf_steal(&url, NULL), token_done);
    t->auth = false;
    free(p->authz);
    p->authz = NULL;
    if (have && c.username) {
        ek_autofree char *up = ek_xasprintf("%s:%s", c.username, c.password);
        ek_autofree char *b64 = ek_base64_encode(up, strlen(up));
        p->authz = ek_xasprintf("Basic %s", b64);
        t->auth = true; /* the token endpoint gets the basic credentials */
    }
    ek__creds_free(&c);
    t->retry = r;
    start_req(t);
    return true;
}

static void token_done(struct req *t, ek_error_t *err)
{
    struct pull *p = t->p;
    struct req *r = t->retry;
    free(p->authz);
    p->authz = NULL;
    const char *tok = NULL;
    ek_auto(json_t) j = NULL;
    if (!err) {
        j = ek_json_parse(t->body.data ? t->body.data : "", t->body.len, NULL);
        tok = ek_json_str(j, "token", NULL);
        tok = tok ? tok : ek_json_str(j, "access_token", NULL);
    }
    if (err || !tok || !*tok) {
        ek_error_t *e = NULL;
        ek_error_make(&e, 0, "%s: get token: %s", t->url,
                      err ? ek_error_msg(err) : "no token in the answer");
        e->status = err ? err->status : 401;
        req_free(t);
        r->done(r, e);
        ek_error_free(e);
        return;
    }
    p->authz = ek_xasprintf("Bearer %s", tok);
    req_free(t);
    start_req(r);
}

static char *resolve_location(const char *base, const char *loc)
{
    if (strstr(loc, "://")) {
        return ek_xstrdup(loc);
    }
    const char *host = strstr(base, "://") + 3;
    size_t hl = strcspn(host, "/");
    return ek_xasprintf("%.*s%s", (int)(host - base + hl), base, loc);
}

static void on_done(ek_http_call_t *call, ek_error_t *err, void *user)
{
    struct req *r = user;
    struct pull *p = r->p;
    EK_UNUSED(call);
    r->call = NULL;
    p->active_calls--;
    if (err) {
        ek_error_t *e = NULL;
        ek_error_make(&e, err->errnum, "GET %s: %s", r->url, ek_error_msg(err));
        r->done(r, e);
        ek_error_free(e);
    } else if (r->status == 401 && handle_challenge(r)) {
        /* retrying with credentials */
    } else if (r->status >= 300 && r->status < 400 && r->location && r->redirects < MAX_REDIRECTS) {
        char *next = resolve_location(r->url, r->location);
        free(r->url);
        r->url = next;
        r->redirects++;
        r->auth = false; /* credentials stay with the registry, never go to blob storage */
        start_req(r);
    } else if (r->status < 200 || r->status >= 300) {
        ek_autofree char *detail = registry_error(r);
        ek_error_t *e = NULL;
        ek_error_status(&e, r->status, "GET %s: %d %s%s", r->url, r->status,
                        ek_http_status_text(r->status), detail);
        r->done(r, e);
        ek_error_free(e);
    } else {
        r->done(r, NULL);
    }
    maybe_finish(p);
}

static void start_req(struct req *r)
{
    struct pull *p = r->p;
    static const ek_http_call_callbacks_t cbs = { on_response, on_body, on_done };
    ek_http_header_t h[3];
    size_t n = 0;
    h[n++] = (ek_http_header_t){ "User-Agent", (char *)"edgek" };
    if (r->accept) {
        h[n++] = (ek_http_header_t){ "Accept", (char *)r->accept };
    }
    if (r->auth && p->authz) {
        h[n++] = (ek_http_header_t){ "Authorization", p->authz };
    }
    bool same_host = ek_has_prefix(r->url, p->eps[p->ep].base);
    ek_http_call_options_t o = {
        .method = "GET",
        .url = r->url,
        .headers = h,
        .n_headers = n,
        .timeout_ms = r->dl ? 0 : p->stall_ms,
        .tls = same_host ? p->tls : NULL,
    };
    if (r->dl) {
        r->dl->last_data_ms = ek_now_ms();
    }
    ek_error_t *err = NULL;
    r->status = 0;
    r->call = ek_http_call(p->http, &o, &cbs, r, &err);
    if (!r->call) {
        ek_error_wrap(&err, "GET %s", r->url);
        r->done(r, err);
        ek_error_free(err);
        return;
    }
    p->active_calls++;
}

static char *endpoint_url(struct pull *p, const char *kind, const char *ref)
{
    ek__endpoint_t *e = &p->eps[p->ep];
    return ek_xasprintf("%s%s/%s/%s/%s", e->base, e->prefix, e->repo, kind, ref);
}

/* ---- layers ---- */

static void task_done(ek__layer_task_t *t, void *data)
{
    struct dl *d = data;
    struct pull *p = d->p;
    p->active_tasks--;
    if (t->err) {
        ek_error_wrap(&t->err, "layer %s", d->digest);
        fail(p, ek_steal(&t->err));
    }
    /* The compressed copy has served its purpose: free the space at once. */
    if (d->path) {
        unlink(d->path);
    }
    d->done = true;
    maybe_finish(p);
}

static void layer_fetched(struct req *r, ek_error_t *err)
{
    struct dl *d = r->dl;
    struct pull *p = d->p;
    d->req = NULL;
    req_free(r);
    char got[72];
    ek__sha256_final(&d->sha, got);
    if (!err && d->size >= 0 && d->got != (uint64_t)d->size) {
        ek_error_t *e = NULL;
        ek_error_make(&e, 0, "layer %s: got %llu bytes, want %lld", d->digest,
                      (unsigned long long)d->got, (long long)d->size);
        fail(p, e);
    } else if (!err && strcmp(got, d->digest) != 0) {
        ek_error_t *e = NULL;
        ek_error_make(&e, 0, "layer %s: digest mismatch (content is %s)", d->digest, got);
        fail(p, e);
    } else if (err) {
        ek_error_t *e = NULL;
        ek_error_make(&e, err->errnum, "layer %s: %s", d->digest, ek_error_msg(err));
        e->status = err->status;
        fail(p, e);
    }
    if (p->err) {
        maybe_finish(p);
        return;
    }
    ek__layer_task_t *t = ek_new(ek__layer_task_t);
    t->job = &p->job;
    t->fd = d->fd;
    t->own_fd = true;
    d->fd = -1;
    t->len = d->got;
    t->want_diffid = ek_xstrdup(d->diffid);
    t->label = ek_xstrdup(label(p));
    t->done = task_done;
    t->data = d;
    d->task = t;
    p->active_tasks++;
    ek__layer_task_queue(p->loop, t);
    pump_downloads(p);
}

static void pump_downloads(struct pull *p)
{
    unsigned running = 0;
    for (size_t i = 0; i < p->n_dls; i++) {
        running += p->dls[i].req != NULL;
    }
    while (!p->err && running < MAX_PARALLEL && p->next_dl < p->n_dls) {
        struct dl *d = &p->dls[p->next_dl++];
        if (d->present) {
            continue;
        }
        d->path = ek_xasprintf("%s/dl-%zu", p->job.tmp, p->next_dl);
        d->fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (d->fd < 0) {
            ek_error_t *e = NULL;
            ek_error_make(&e, errno, "create `%s`", d->path);
            fail(p, e);
            break;
        }
        ek__sha256_init(&d->sha);
        struct req *r = new_req(p, "layer", endpoint_url(p, "blobs", d->digest), layer_fetched);
        r->dl = d;
        d->req = r;
        running++;
        start_req(r);
    }
}

static void start_layers(struct pull *p)
{
    p->n_dls = p->manifest.n_descs;
    p->dls = ek_xcalloc(p->n_dls + 1, sizeof(struct dl));
    for (size_t i = 0; i < p->n_dls; i++) {
        struct dl *d = &p->dls[i];
        d->p = p;
        d->fd = -1;
        d->digest = ek_xstrdup(p->manifest.descs[i].digest);
        d->diffid = ek_xstrdup(p->config.diff_ids[i]);
        d->size = p->manifest.descs[i].size;
        /* The same layer twice in one image downloads once. */
        for (size_t k = 0; k < i; k++) {
            d->present = d->present || strcmp(p->dls[k].diffid, d->diffid) == 0;
        }
        d->present = d->present || ek__store_has_layer(p->s, d->diffid);
        d->done = d->present;
    }
    pump_downloads(p);
}

/* ---- manifest and config ---- */

static bool check_digest(struct pull *p, const struct req *r, const char *want, char got[72])
{
    ek__sha256_digest(r->body.data ? r->body.data : "", r->body.len, got);
    if (want && strcmp(got, want) != 0) {
        ek_error_t *e = NULL;
        ek_error_make(&e, 0, "%s %s: digest mismatch (content is %s)", r->what, want, got);
        fail(p, e);
        return false;
    }
    return true;
}

static void config_fetched(struct req *r, ek_error_t *err)
{
    struct pull *p = r->p;
    char got[72];
    if (err) {
        ek_error_t *e = NULL;
        ek_error_make(&e, err->errnum, "config: %s", ek_error_msg(err));
        e->status = err->status;
        fail(p, e);
    } else if (check_digest(p, r, p->manifest.config.digest, got)) {
        ek_error_t *e = NULL;
        if (ek__config_parse(r->body.data, r->body.len, &p->config, &e) < 0) {
            fail(p, e);
        } else if (p->config.n_diff_ids != p->manifest.n_descs) {
            ek_error_make(&e, 0, "config %s lists %zu diff_ids for %zu layers", got,
                          p->config.n_diff_ids, p->manifest.n_descs);
            fail(p, e);
        } else {
            p->config_digest = ek_xstrdup(got);
            ek__job_add_blob(&p->job, got, r->body.data, r->body.len);
            start_layers(p);
        }
    }
    req_free(r);
}

static void manifest_fetched(struct req *r, ek_error_t *err);

static void got_manifest(struct pull *p, struct req *r, const char *digest)
{
    ek__manifest_t m;
    ek_error_t *e = NULL;
    if (ek__manifest_parse(r->body.data, r->body.len, r->content_type, &m, &e) < 0) {
        fail(p, e);
        return;
    }
    ek__job_add_blob(&p->job, digest, r->body.data, r->body.len);
    if (m.kind == EK_MT_INDEX) {
        const ek__desc_t *pick = ek__index_select(&m, ek__store_platform(p->s));
        if (!pick || p->platform) {
            ek_error_make(&e, 0, "no manifest for platform %s in the index",
                          ek__store_platform(p->s));
            fail(p, e);
        } else {
            p->platform = ek_xstrdup(pick->platform);
            struct req *n = new_req(p, "manifest", endpoint_url(p, "manifests", pick->digest),
                                    manifest_fetched);
            n->accept = ACCEPT_MANIFEST;
            n->want = ek_xstrdup(pick->digest);
            start_req(n);
        }
        ek__manifest_free(&m);
        return;
    }
    p->manifest = m;
    p->manifest_digest = ek_xstrdup(digest);
    struct req *c = new_req(p, "config", endpoint_url(p, "blobs", m.config.digest), config_fetched);
    start_req(c);
}

static void manifest_fetched(struct req *r, ek_error_t *err)
{
    struct pull *p = r->p;
    if (err) {
        ek_error_t *e = NULL;
        ek_error_make(&e, err->errnum, "%s", ek_error_msg(err));
        e->status = err->status;
        if (!p->top_digest[0] && p->ep + 1 < p->n_eps && !p->err) {
            /* Not found or failing on this endpoint: the next mirror (or the registry). */
            EK_LOG(EK_INFO, "image", "pull ref=%s endpoint=%s failed: %s", label(p),
                   p->eps[p->ep].base, ek_error_msg(e));
            ek_error_free(p->ep_err);
            p->ep_err = e;
            req_free(r);
            p->ep++;
            next_endpoint(p);
            return;
        }
        fail(p, e);
        req_free(r);
        return;
    }
    char got[72];
    /* The first manifest is what the name points at; a child must match its index entry. */
    const char *want = p->top_digest[0] ? r->want : p->ref.digest;
    if (check_digest(p, r, want, got)) {
        if (!p->top_digest[0]) {
            memcpy(p->top_digest, got, sizeof(got));
        }
        got_manifest(p, r, got);
    }
    req_free(r);
}

static void next_endpoint(struct pull *p)
{
    ek__endpoint_t *e = &p->eps[p->ep];
    if (p->tls) {
        ek_tls_config_unref(p->tls);
        p->tls = NULL;
    }
    free(p->authz);
    p->authz = NULL;
    ek_error_t *err = NULL;
    p->tls = ek__registries_tls(ek__store_registries(p->s), e->host, &err);
    if (err) {
        fail(p, err);
        maybe_finish(p);
        return;
    }
    struct req *r = new_req(
        p, "manifest", endpoint_url(p, "manifests", p->ref.digest ? p->ref.digest : p->ref.tag),
        manifest_fetched);
    r->accept = ACCEPT_MANIFEST;
    start_req(r);
    maybe_finish(p);
}

/* ---- completion ---- */

static void free_pull(struct pull *p)
{
    ek_image_ref_free(&p->ref);
    free(p->auth_json);
    ek__endpoints_free(p->eps, p->n_eps);
    if (p->tls) {
        ek_tls_config_unref(p->tls);
    }
    free(p->authz);
    ek_error_free(p->err);
    ek_error_free(p->ep_err);
    if (p->job_ok) {
        ek__job_cleanup(&p->job);
    }
    ek__manifest_free(&p->manifest);
    free(p->manifest_digest);
    free(p->platform);
    ek__config_free(&p->config);
    free(p->config_digest);
    for (size_t i = 0; i < p->n_dls; i++) {
        struct dl *d = &p->dls[i];
        if (d->fd >= 0) {
            close(d->fd);
        }
        ek__layer_task_free(d->task);
        free(d->digest), free(d->diffid), free(d->media_type), free(d->path);
    }
    free(p->dls);
    free(p);
}

static void http_closed(void *data)
{
    struct pull *p = data;
    ek_image_info_t *info = ek_steal(&p->result);
    ek_error_t *err = p->err;
    if (err) {
        ek_error_wrap(&err, "pull %s", label(p));
    }
    p->cb(info, err, p->data);
    free_pull(p);
}

static void tick_closed(uv_handle_t *h)
{
    struct pull *p = ek_container_of(h, struct pull, tick);
    if (p->http) {
        ek_http_client_free(p->http, http_closed, p);
    } else {
        http_closed(p);
    }
}

static void draw_progress(struct pull *p, bool last)
{
    if (!ek__store_progress(p->s) || p->n_dls == 0) {
        return;
    }
    uint64_t got = 0, total = 0;
    size_t done = 0;
    for (size_t i = 0; i < p->n_dls; i++) {
        got += p->dls[i].present ? 0 : p->dls[i].got;
        total += p->dls[i].present || p->dls[i].size < 0 ? 0 : (uint64_t)p->dls[i].size;
        done += p->dls[i].done;
    }
    fprintf(stderr, "\r%s: %zu/%zu layers, %.1f/%.1f MB%s", label(p), done, p->n_dls,
            (double)got / 1e6, (double)total / 1e6, last ? "\n" : "  ");
    p->progress_drawn = true;
}

static void commit(struct pull *p)
{
    ek__image_add_t *im = ek_xcalloc(1, sizeof(*im));
    p->job.images = im;
    p->job.n_images = 1;
    im->digest = ek_xstrdup(p->top_digest);
    ek_strlist_add(&im->names, p->ref.full);
    im->manifests = ek_xcalloc(1, sizeof(*im->manifests));
    im->n_manifests = 1;
    ek__manifest_add_t *m = im->manifests;
    m->digest = ek_xstrdup(p->manifest_digest);
    m->platform = ek_xstrdup(p->platform ? p->platform : p->config.platform);
    m->config = ek_xstrdup(p->config_digest);
    m->n_layers = p->n_dls;
    m->layers = ek_xcalloc(p->n_dls + 1, sizeof(*m->layers));
    for (size_t i = 0; i < p->n_dls; i++) {
        struct dl *d = &p->dls[i];
        m->layers[i].diffid = ek_xstrdup(d->diffid);
        if (d->task) {
            m->layers[i].staged = ek_steal(&d->task->staged);
            m->layers[i].size = d->task->size;
        } else {
            m->layers[i].size = ek__store_layer_size(p->s, d->diffid);
            for (size_t k = 0; k < i && !m->layers[i].size; k++) {
                if (strcmp(p->dls[k].diffid, d->diffid) == 0) {
                    m->layers[i].size = m->layers[k].size;
                }
            }
        }
    }
    ek_error_t *err = NULL;
    if (ek__job_commit(&p->job, &err) < 0) {
        fail(p, err);
        return;
    }
    p->result = ek_image_resolve(p->s, p->ref.full, &err);
    if (!p->result) {
        fail(p, err);
    }
}

static void sync_work(uv_work_t *w)
{
    struct pull *p = ek_container_of(w, struct pull, sync_work);
    int fd = open(ek_image_store_dir(p->s), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        p->job.synced = syncfs(fd) == 0;
        close(fd);
    }
}

static void sync_after(uv_work_t *w, int status)
{
    struct pull *p = ek_container_of(w, struct pull, sync_work);
    EK_UNUSED(status);
    p->syncing = false;
    if (!p->err) {
        commit(p);
    }
    p->finishing = true;
    draw_progress(p, true);
    uv_close((uv_handle_t *)&p->tick, tick_closed);
}

static void maybe_finish(struct pull *p)
{
    if (p->finishing || p->syncing) {
        return;
    }
    if (p->err) {
        /* Stop what runs; finish when the last call and unpack have reported. */
        for (size_t i = 0; i < p->n_dls; i++) {
            if (p->dls[i].req && p->dls[i].req->call) {
                ek_http_call_cancel(p->dls[i].req->call);
            }
        }
    }
    /* A cancel may have completed the pull re-entrantly. */
    if (p->finishing || p->syncing || p->active_calls || p->active_tasks) {
        return;
    }
    bool all = p->local_hit || (p->config_digest && p->next_dl == p->n_dls);
    for (size_t i = 0; all && i < p->n_dls; i++) {
        all = p->dls[i].done;
    }
    if (!p->err && !all) {
        return; /* between steps */
    }
    if (!p->err && !p->local_hit) {
        /* syncfs may take seconds on an SD card: not on the loop. */
        p->syncing = true;
        uv_queue_work(p->loop, &p->sync_work, sync_work, sync_after);
        return;
    }
    p->finishing = true;
    if (p->progress_drawn) {
        draw_progress(p, true);
    }
    uv_close((uv_handle_t *)&p->tick, tick_closed);
}

static void on_tick(uv_timer_t *t)
{
    struct pull *p = ek_container_of(t, struct pull, tick);
    if (p->local_hit) {
        maybe_finish(p);
        return;
    }
    uint64_t now = ek_now_ms();
    for (size_t i = 0; i < p->n_dls; i++) {
        struct dl *d = &p->dls[i];
        if (d->req && d->req->call && now - d->last_data_ms > p->stall_ms) {
            ek_error_t *e = NULL;
            ek_error_make(&e, ETIMEDOUT, "layer %s: no data for %llu ms", d->digest,
                          (unsigned long long)p->stall_ms);
            fail(p, e);
        }
    }
    draw_progress(p, false);
    maybe_finish(p);
}

int ek_image_pull_policy_parse(const char *s, const char *ref)
{
    if (!s || !*s) {
        ek_image_ref_t r;
        if (ek_image_ref_parse(ref, &r, NULL) < 0) {
            return EK_IMAGE_PULL_IF_NOT_PRESENT;
        }
        bool latest = !r.digest && ek_streq(r.tag, "latest");
        ek_image_ref_free(&r);
        return latest ? EK_IMAGE_PULL_ALWAYS : EK_IMAGE_PULL_IF_NOT_PRESENT;
    }
    if (strcmp(s, "Always") == 0) {
        return EK_IMAGE_PULL_ALWAYS;
    }
    if (strcmp(s, "IfNotPresent") == 0) {
        return EK_IMAGE_PULL_IF_NOT_PRESENT;
    }
    if (strcmp(s, "Never") == 0) {
        return EK_IMAGE_PULL_NEVER;
    }
    return -1;
}

int ek_image_ensure(ek_image_store_t *s, uv_loop_t *loop, const char *ref,
                    ek_image_pull_policy_t policy, const ek_image_pull_options_t *o,
                    ek_image_ensure_cb cb, void *data, ek_error_t **err)
{
    struct pull *p = ek_new(struct pull);
    if (ek_image_ref_parse(ref, &p->ref, err) < 0) {
        free(p);
        return -1;
    }
    p->s = s;
    p->loop = loop;
    p->policy = policy;
    p->cb = cb;
    p->data = data;
    p->auth_json = o && o->auth_json ? ek_xstrdup(o->auth_json) : NULL;
    p->stall_ms = o && o->timeout_ms ? o->timeout_ms : 60000;
    uv_timer_init(loop, &p->tick);
    if (policy != EK_IMAGE_PULL_ALWAYS) {
        ek_error_t *e = NULL;
        p->result = ek_image_resolve(s, p->ref.full, &e);
        if (p->result || policy == EK_IMAGE_PULL_NEVER) {
            if (!p->result) {
                ek_error_status(&p->err, 404, "image not present and the pull policy is Never");
            }
            ek_error_free(e);
            p->local_hit = true;
            uv_timer_start(&p->tick, on_tick, 0, 0);
            return 0;
        }
        ek_error_free(e);
    }
    p->http = ek_http_client_new(loop, NULL);
    ek_error_t *e = NULL;
    p->job_ok = ek__job_init(s, &p->job, &e) == 0;
    if (!p->job_ok ||
        ek__registries_endpoints(ek__store_registries(s), &p->ref, &p->eps, &p->n_eps, &e) < 0) {
        fail(p, e);
        p->local_hit = true; /* nothing started: finish from the timer */
        uv_timer_start(&p->tick, on_tick, 0, 0);
        return 0;
    }
    uv_timer_start(&p->tick, on_tick, TICK_MS, TICK_MS);
    next_endpoint(p);
    return 0;
}

struct pull_sync {
    bool done;
    ek_image_info_t *info;
    ek_error_t *err;
};

static void pull_sync_cb(ek_image_info_t *info, ek_error_t *err, void *data)
{
    struct pull_sync *ps = data;
    ps->done = true;
    ps->info = info;
    if (err) {
        ps->err = ek_xcalloc(1, sizeof(ek_error_t));
        ps->err->errnum = err->errnum;
        ps->err->status = err->status;
        ps->err->msg = ek_xstrdup(err->msg);
    }
}

ek_image_info_t *ek_image_pull(ek_image_store_t *s, const char *ref,
                               const ek_image_pull_options_t *o, ek_error_t **err)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pull_sync ps = { 0 };
    if (ek_image_ensure(s, &loop, ref, EK_IMAGE_PULL_ALWAYS, o, pull_sync_cb, &ps, err) < 0) {
        uv_loop_close(&loop);
        return NULL;
    }
    while (!ps.done) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    ek_assert(rc == 0);
    if (ps.err) {
        if (err && !*err) {
            *err = ps.err;
        } else {
            ek_error_free(ps.err);
        }
    }
    return ps.info;
}
