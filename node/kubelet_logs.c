/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet's HTTPS endpoint (port 10250, as the real kubelet's): the API server proxies
 * pods/log here. Only clients with a certificate from the cluster CA in group system:masters
 * (the API server's kubelet-client identity) get in. /containerLogs/{ns}/{pod}/{container}
 * takes follow, tailLines, sinceSeconds, sinceTime, timestamps, previous and limitBytes, picks
 * the container instance the way the kubelet does (a container waiting to restart shows its
 * last run), and streams the CRI log with the prefix stripped (kept as a timestamp with
 * timestamps=true). Reading and formatting happen on a worker, 64 KiB at a time; following
 * waits for inotify (uv_fs_event) and ends once the instance has exited and its log is read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "node/kubelet-internal.h"

#define CHUNK       65536
#define MAX_PENDING (1 << 20)

struct kl_logreq {
    kl_logreq_t *next;
    ek_kubelet_t *kl;
    ek_http_req_t *req;
    char *uid, *ctr, *path;
    int attempt;
    bool follow, timestamps;
    int64_t tail, since_ns, limit, sent;
    /* the reader (worker side while a job runs) */
    int fd;
    off_t off;
    bool started; /* the initial position is found */
    bool eof;
    ek_buf_t out;
    uv_work_t work;
    bool busy, again, closed, ended;
    uv_fs_event_t watch;
    bool watching;
    uv_timer_t timer;
    int handles;
};

/* ---- CRI lines ---- */

int ek__kl_cri_parse(const char *line, size_t len, int64_t *ts_ns, const char **stream,
                     bool *partial, const char **text, size_t *text_len)
{
    const char *sp1 = memchr(line, ' ', len);
    if (!sp1) {
        return -1;
    }
    const char *s = sp1 + 1;
    const char *sp2 = memchr(s, ' ', len - (size_t)(s - line));
    if (!sp2) {
        return -1;
    }
    const char *tag = sp2 + 1;
    const char *end = line + len;
    if (tag >= end) {
        return -1;
    }
    const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
    *partial = tag[0] == 'P';
    *text = sp3 ? sp3 + 1 : end;
    *text_len = (size_t)(end - *text);
    *stream = s;
    char ts[40];
    size_t tl = EK_MIN((size_t)(sp1 - line), sizeof(ts) - 1);
    memcpy(ts, line, tl);
    ts[tl] = '\0';
    struct timespec t = { 0 };
    ek_time_parse_rfc3339(ts, &t);
    *ts_ns = (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
    return 0;
}

/* Formats one CRI line for output; false when it is filtered out by since. */
static bool format_line(const kl_logreq_t *r, const char *line, size_t len, ek_buf_t *out)
{
    int64_t ts;
    const char *stream, *text;
    bool partial;
    size_t tlen;
    if (ek__kl_cri_parse(line, len, &ts, &stream, &partial, &text, &tlen) < 0) {
        return false;
    }
    if (r && r->since_ns && ts < r->since_ns) {
        return false;
    }
    if (r && r->timestamps) {
        ek_buf_append(out, line, (size_t)(memchr(line, ' ', len) - (void *)line));
        ek_buf_putc(out, ' ');
    }
    ek_buf_append(out, text, tlen);
    if (!partial) {
        ek_buf_putc(out, '\n');
    }
    return true;
}

/* Offset where the last n lines of fd begin (n < 0: 0). */
static off_t tail_offset(int fd, int64_t n)
{
    struct stat st;
    if (n < 0 || fstat(fd, &st) < 0) {
        return 0;
    }
    off_t pos = st.st_size;
    char buf[8192];
    int64_t seen = 0;
    /* A final newline ends the last line; it does not start another one. */
    while (pos > 0) {
        size_t want = (size_t)EK_MIN((off_t)sizeof(buf), pos);
        pos -= (off_t)want;
        if (pread(fd, buf, want, pos) != (ssize_t)want) {
            return 0;
        }
        for (size_t i = want; i-- > 0;) {
            if (buf[i] == '\n' && (off_t)i + pos != st.st_size - 1 && ++seen == n) {
                return pos + (off_t)i + 1;
            }
        }
    }
    return n == 0 ? st.st_size : 0;
}

char *ek__kl_log_tail(const char *path, int max_lines, size_t max_bytes)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    off_t off = tail_offset(fd, max_lines);
    struct stat st;
    fstat(fd, &st);
    size_t len = (size_t)(st.st_size - off);
    char *raw = ek_xmalloc(len + 1);
    ssize_t n = pread(fd, raw, len, off);
    close(fd);
    ek_buf_t out = EK_BUF_INIT;
    ek_buf_puts(&out, "");
    for (char *line = raw, *end = raw + (n > 0 ? n : 0); line < end;) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t l = nl ? (size_t)(nl - line) : (size_t)(end - line);
        format_line(NULL, line, l, &out);
        line += l + 1;
    }
    free(raw);
    if (out.len > max_bytes) {
        ek_buf_consume(&out, out.len - max_bytes);
    }
    return ek_buf_steal(&out, NULL);
}

/* ---- reading (worker) ---- */

static void read_work(uv_work_t *w)
{
    kl_logreq_t *r = ek_container_of(w, kl_logreq_t, work);
    if (r->fd < 0) {
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            r->eof = true;
            return;
        }
    }
    if (!r->started) {
        r->started = true;
        r->off = tail_offset(r->fd, r->tail);
    }
    char *buf = ek_xmalloc(CHUNK);
    ssize_t n = pread(r->fd, buf, CHUNK, r->off);
    r->eof = n < CHUNK;
    if (n > 0) {
        /* Only whole lines: the rest is read again once its newline is there. */
        char *last = memrchr(buf, '\n', (size_t)n);
        size_t used = last ? (size_t)(last - buf) + 1 : (n == CHUNK ? (size_t)n : 0);
        for (char *line = buf; line < buf + used;) {
            char *nl = memchr(line, '\n', used - (size_t)(line - buf));
            size_t l = nl ? (size_t)(nl - line) : used - (size_t)(line - buf);
            format_line(r, line, l, &r->out);
            line += l + 1;
        }
        r->off += (off_t)used;
    }
    free(buf);
    struct stat a, b;
    if (r->eof && fstat(r->fd, &a) == 0 && (stat(r->path, &b) < 0 || a.st_ino != b.st_ino)) {
        /* Rotated: the shim renamed the file and writes a new one at the path. */
        close(r->fd);
        r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
        r->off = 0;
        r->eof = r->fd < 0;
    }
}

static void logreq_unref(kl_logreq_t *r);
static void read_done(uv_work_t *w, int status);

static void schedule_read(kl_logreq_t *r)
{
    if (r->busy) {
        r->again = true;
        return;
    }
    if (r->closed || r->ended) {
        return;
    }
    r->busy = true;
    r->again = false;
    r->kl->jobs++;
    uv_queue_work(r->kl->loop, &r->work, read_work, read_done);
}

/* Whether the container instance being read can still write to its log. */
static bool instance_running(kl_logreq_t *r)
{
    kl_pod_t *p = ek_map_get(&r->kl->by_uid, r->uid);
    kl_ctr_t *c = p ? ek__kl_ctr_by_name(p, r->ctr) : NULL;
    return c && !p->rt_dead && !p->torn_down && c->attempt == r->attempt &&
           (c->cur.state == EK_RT_RUNNING || c->cur.state == EK_RT_CREATED);
}

static void end_stream(kl_logreq_t *r)
{
    if (!r->ended) {
        r->ended = true;
        if (!r->closed) {
            ek_http_stream_end(r->req);
        }
    }
    logreq_unref(r);
}

static void on_watch(uv_fs_event_t *h, const char *name, int events, int status)
{
    EK_UNUSED(name);
    EK_UNUSED(events);
    EK_UNUSED(status);
    schedule_read(h->data);
}

static void on_timer(uv_timer_t *t)
{
    schedule_read(t->data);
}

static void start_watch(kl_logreq_t *r)
{
    if (r->watching) {
        return;
    }
    r->watching = true;
    uv_fs_event_init(r->kl->loop, &r->watch);
    r->watch.data = r;
    r->handles++;
    ek_autofree char *dir = ek_path_dirname(r->path);
    /* The directory, not the file: a rotation replaces the file. */
    uv_fs_event_start(&r->watch, on_watch, dir, 0);
}

/* What to do after a read: write, then read on, wait for more, or end. */
static void after_read(kl_logreq_t *r)
{
    if (!r->closed && r->out.len) {
        size_t len = r->out.len;
        if (r->limit >= 0 && r->sent + (int64_t)len > r->limit) {
            len = (size_t)(r->limit - r->sent);
        }
        if (len && ek_http_stream_write(r->req, r->out.data, len) < 0) {
            r->closed = true;
        }
        r->sent += (int64_t)len;
    }
    ek_buf_reset(&r->out);
    bool limited = r->limit >= 0 && r->sent >= r->limit;
    if (r->closed || limited || r->kl->stopping) {
        end_stream(r);
    } else if (!r->eof) {
        if (ek_http_stream_pending(r->req) > MAX_PENDING) {
            uv_timer_start(&r->timer, on_timer, 50, 0); /* let the client catch up */
        } else {
            schedule_read(r);
        }
    } else if (r->follow && (instance_running(r) || r->again)) {
        start_watch(r);
        if (r->again) {
            schedule_read(r);
        }
    } else {
        end_stream(r);
    }
}

static void read_done(uv_work_t *w, int status)
{
    kl_logreq_t *r = ek_container_of(w, kl_logreq_t, work);
    ek_kubelet_t *kl = r->kl;
    EK_UNUSED(status);
    r->busy = false;
    kl->jobs--;
    after_read(r);
    ek__kl_maybe_finish_stop(kl);
}

/* ---- requests ---- */

static void handle_closed(uv_handle_t *h)
{
    kl_logreq_t *r = h->data;
    if (--r->handles > 0) {
        return;
    }
    ek_kubelet_t *kl = r->kl;
    if (r->fd >= 0) {
        close(r->fd);
    }
    ek_buf_free(&r->out);
    free(r->uid);
    free(r->ctr);
    free(r->path);
    free(r);
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

/* Drops the request from the list and closes its handles; memory goes with the last. */
static void logreq_unref(kl_logreq_t *r)
{
    if (r->busy || r->handles <= 0 || uv_is_closing((uv_handle_t *)&r->timer)) {
        return;
    }
    for (kl_logreq_t **pp = &r->kl->logs; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    if (r->watching) {
        uv_close((uv_handle_t *)&r->watch, handle_closed);
    }
    uv_close((uv_handle_t *)&r->timer, handle_closed);
}

static void on_client_gone(ek_http_req_t *req, void *data)
{
    kl_logreq_t *r = data;
    EK_UNUSED(req);
    r->closed = true;
    if (!r->busy) {
        end_stream(r);
    }
}

void ek__kl_logs_poke(ek_kubelet_t *kl, const char *uid)
{
    for (kl_logreq_t *r = kl->logs; r; r = r->next) {
        if (strcmp(r->uid, uid) == 0 && !r->ended) {
            schedule_read(r);
        }
    }
}

static void reply(ek_http_req_t *req, int status, const char *fmt, ...) EK_PRINTF(3, 4);
static void reply(ek_http_req_t *req, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ek_http_respond(req, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static bool q_bool(const char *query, const char *key)
{
    ek_autofree char *v = ek_http_query_get(query, key);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || !*v);
}

static int64_t q_int(const char *query, const char *key, int64_t def)
{
    ek_autofree char *v = ek_http_query_get(query, key);
    char *end;
    long long n = v ? strtoll(v, &end, 10) : 0;
    return v && *v && !*end ? n : def;
}

/* The highest numbered "<n>.log" in dir below `below` (INT32_MAX: any), or -1. */
static int newest_log(const char *dir, int below)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int best = -1;
    while (d && (de = readdir(d))) {
        char *end;
        long n = strtol(de->d_name, &end, 10);
        if (end != de->d_name && strcmp(end, ".log") == 0 && n < below && n > best) {
            best = (int)n;
        }
    }
    if (d) {
        closedir(d);
    }
    return best;
}

/* The instance whose log is read, as the kubelet's validateContainerLogStatus picks it. 0, or
 * -1 after answering with the reason. */
static int pick_attempt(ek_kubelet_t *kl, ek_http_req_t *req, const json_t *pod, const char *ctr,
                        bool previous, int *attempt)
{
    const char *uid = ek_json_str(pod, "metadata", "uid", NULL);
    const char *name = ek_json_str(pod, "metadata", "name", NULL);
    kl_pod_t *p = ek_map_get(&kl->by_uid, uid);
    kl_ctr_t *c = p ? ek__kl_ctr_by_name(p, ctr) : NULL;
    if (!c || (c->attempt < 0 && p->frozen)) {
        ek_autofree char *dir =
            ek_xasprintf("%s/%s_%s_%s/%s", kl->log_dir,
                         ek_json_str(pod, "metadata", "namespace", NULL), name, uid, ctr);
        int cur = newest_log(dir, INT32_MAX);
        *attempt = previous && cur >= 0 ? newest_log(dir, cur) : cur;
    } else if (c->attempt < 0) {
        reply(req, 400, "container \"%s\" in pod \"%s\" is waiting to start: %s", ctr, name,
              c->reason ? c->reason : "ContainerCreating");
        return -1;
    } else {
        bool waiting_again = c->reason && c->cur.state == EK_RT_EXITED;
        *attempt = !previous || waiting_again ? c->attempt : c->have_prev ? c->prev_attempt : -1;
    }
    if (*attempt < 0) {
        if (previous) {
            reply(req, 400, "previous terminated container \"%s\" in pod \"%s\" not found", ctr,
                  name);
        } else {
            reply(req, 400,
                  "container \"%s\" in pod \"%s\" is waiting to start: "
                  "ContainerCreating",
                  ctr, name);
        }
        return -1;
    }
    return 0;
}

static bool has_container(const json_t *pod, const char *name)
{
    const char *lists[] = { "containers", "initContainers", "ephemeralContainers" };
    for (size_t l = 0; l < 3; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (ek_json_path(pod, "spec", lists[l], NULL), i, c) {
            if (ek_streq(ek_json_str(c, "name", NULL), name)) {
                return true;
            }
        }
    }
    return false;
}

static int64_t since_ns(const char *query)
{
    int64_t secs = q_int(query, "sinceSeconds", 0);
    if (secs > 0) {
        struct timespec now;
        ek_wall_now(&now);
        return ((int64_t)now.tv_sec - secs) * 1000000000LL + now.tv_nsec;
    }
    ek_autofree char *t = ek_http_query_get(query, "sinceTime");
    struct timespec ts;
    if (t && ek_time_parse_rfc3339(t, &ts) == 0) {
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    }
    return 0;
}

static void container_logs(ek_kubelet_t *kl, ek_http_req_t *req, const char *ns, const char *name,
                           const char *ctr)
{
    json_t *pod = kl->pods ? ek_informer_get(kl->pods, ns, name) : NULL;
    if (!pod) {
        reply(req, 404, "pod \"%s\" not found", name);
        return;
    }
    if (!has_container(pod, ctr)) {
        reply(req, 400, "container \"%s\" in pod \"%s\" is not available", ctr, name);
        return;
    }
    bool previous = q_bool(req->query, "previous");
    int attempt;
    if (pick_attempt(kl, req, pod, ctr, previous, &attempt) < 0) {
        return;
    }
    kl_logreq_t *r = ek_new(kl_logreq_t);
    r->kl = kl;
    r->req = req;
    r->uid = ek_xstrdup(ek_json_str(pod, "metadata", "uid", NULL));
    r->ctr = ek_xstrdup(ctr);
    r->attempt = attempt;
    r->path = ek__kl_log_path(kl, ns, name, r->uid, ctr, attempt);
    r->follow = q_bool(req->query, "follow") && !previous;
    r->timestamps = q_bool(req->query, "timestamps");
    r->tail = q_int(req->query, "tailLines", -1);
    r->limit = q_int(req->query, "limitBytes", -1);
    r->since_ns = since_ns(req->query);
    r->fd = -1;
    uv_timer_init(kl->loop, &r->timer);
    r->timer.data = r;
    r->handles = 1;
    kl->closing++;
    r->next = kl->logs;
    kl->logs = r;
    ek_http_req_on_close(req, on_client_gone, r);
    ek_http_stream_begin(req, 200, "text/plain");
    schedule_read(r);
}

static bool authorized(const ek_http_req_t *req)
{
    const ek_tls_peer_t *peer = req->peer;
    for (size_t i = 0; peer && i < peer->n_organizations; i++) {
        if (strcmp(peer->organizations[i], "system:masters") == 0) {
            return true;
        }
    }
    return false;
}

static void handler(ek_http_req_t *req, void *data)
{
    ek_kubelet_t *kl = data;
    if (!authorized(req)) {
        reply(req, 403, "Forbidden (user=%s, verb=get, resource=nodes, subresource=proxy)",
              req->peer ? req->peer->common_name : "system:anonymous");
        return;
    }
    if (strcmp(req->path, "/healthz") == 0) {
        reply(req, 200, "ok");
        return;
    }
    char ns[254], name[254], ctr[254];
    int end = 0;
    if (strcmp(req->method, "GET") == 0 &&
        sscanf(req->path, "/containerLogs/%253[^/]/%253[^/]/%253[^/]%n", ns, name, ctr, &end) ==
            3 &&
        req->path[end] == '\0') {
        if (kl->stopping) {
            reply(req, 503, "the kubelet is stopping");
            return;
        }
        container_logs(kl, req, ns, name, ctr);
        return;
    }
    if (ek_has_prefix(req->path, "/exec/") || ek_has_prefix(req->path, "/attach/") ||
        ek_has_prefix(req->path, "/portForward/")) {
        ek__kl_stream_handle(kl, req);
        return;
    }
    if (ek__kl_stats_handle(kl, req)) {
        return;
    }
    reply(req, 404, "404 page not found");
}

int ek__kl_logs_start(ek_kubelet_t *kl, const ek_agent_options_t *o, ek_error_t **err)
{
    if (!o->serving_cert_pem || !o->serving_key_pem || !o->client_ca_pem) {
        EK_LOG(EK_WARN, "kubelet",
               "no serving certificate: the kubelet endpoint is off "
               "(kubectl logs will not work)");
        return 0;
    }
    kl->tls = ek_tls_server_config_new(o->serving_cert_pem, o->serving_key_pem, o->client_ca_pem,
                                       EK_TLS_CLIENT_CERT_REQUIRED, err);
    if (!kl->tls) {
        return ek_error_wrap(err, "kubelet serving certificate");
    }
    ek_http_server_options_t so = {
        .host = "0.0.0.0",
        .port = o->kubelet_port == 0  ? 10250
                : o->kubelet_port < 0 ? 0
                                      : o->kubelet_port,
        .tls = kl->tls,
        .handler = handler,
        .data = kl,
    };
    if (ek_http_server_start(kl->loop, &so, &kl->http, err) < 0) {
        return ek_error_wrap(err, "kubelet endpoint on port %d", so.port);
    }
    kl->port = ek_http_server_port(kl->http);
    return 0;
}

static void http_closed(void *data)
{
    ek_kubelet_t *kl = data;
    kl->closing--;
    ek__kl_maybe_finish_stop(kl);
}

void ek__kl_logs_stop(ek_kubelet_t *kl)
{
    ek__kl_streams_stop(kl);
    for (kl_logreq_t *r = kl->logs, *next; r; r = next) {
        next = r->next;
        if (!r->busy && !r->ended) {
            end_stream(r);
        }
    }
    if (kl->http) {
        kl->closing++;
        ek_http_server_close(kl->http, http_closed, kl);
        kl->http = NULL;
    }
}
