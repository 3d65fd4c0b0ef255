/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet's streaming endpoints: /exec/{ns}/{pod}/{container}, /attach/... and
 * /portForward/{ns}/{pod}, reached through the API server's upgrade proxy.
 *
 * Transports. exec and attach speak WebSocket with the channel protocol (v5.channel.k8s.io:
 * every binary message starts with its channel, 0 stdin, 1 stdout, 2 stderr, 3 status,
 * 4 resize, 255 "close this channel"; v4 without the last) or SPDY/3.1 with
 * X-Stream-Protocol-Version v4.channel.k8s.io (the client opens one stream per channel, named
 * by its streamtype header; the process starts once all it asked for are open). Port-forward
 * speaks SPDY/3.1 (portforward.k8s.io), raw after the upgrade or inside WebSocket binary
 * messages (SPDY/3.1+portforward.k8s.io, kubectl 1.31+): per forwarded connection an "error"
 * and a "data" stream with the same requestid header.
 *
 * exec runs the command through the pod's shim (ek_rt_exec_start: the container's namespaces,
 * cgroup, root, identity, capabilities and environment) with pipes, or with a pseudo-terminal
 * for tty (resize messages set its window size). The status channel carries a metav1.Status:
 * Success, or NonZeroExitCode with the code as the ExitCode cause (kubectl exits with it).
 * attach follows the container's CRI log from its current end (stdout and stderr as they were
 * written) until the container exits; its stdin is not supported. Port-forward connects to
 * localhost:port inside the pod's network namespace (a worker thread enters it with setns
 * just to create and connect the socket).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <termios.h>
#include <unistd.h>

#include "node/kubelet-internal.h"

#define CHUNK           32768
#define HIGH_WATER      (4u << 20)
#define STREAM_WAIT_MS  30000
#define DRAIN_MS        2000
#define SPDY_MAX_FRAME  (1u << 20)
#define MAX_STDIN_QUEUE (8u << 20)

enum { T_WS, T_SPDY, T_SPDY_WS };
enum { K_EXEC, K_ATTACH, K_PF };
enum { CH_STDIN = 0, CH_STDOUT, CH_STDERR, CH_ERROR, CH_RESIZE, CH_N };

typedef struct kl_stream kl_stream_t;

/* One forwarded connection of a port-forward session. */
typedef struct pf_conn {
    struct pf_conn *next;
    kl_stream_t *s;
    char *request_id;
    int port;
    uint32_t err_sid, data_sid;
    int fd;
    uv_poll_t poll;
    bool polling, poll_init;
    int events;
    ek_buf_t to_pod;
    bool client_fin, pod_eof, connecting, closed, done;
} pf_conn_t;

struct kl_stream {
    kl_stream_t *next;
    ek_kubelet_t *kl;
    int transport, kind;
    ek_ws_t *ws;
    ek_conn_t *conn;
    bool v5;
    /* SPDY */
    ek_spdy_zstream_t *zin, *zout;
    ek_buf_t in;
    uint32_t sid[CH_N];
    bool fin_sent[CH_N];
    bool goaway;
    /* what was asked */
    char *ns, *pod, *uid, *ctr, *rt_ctr, *netns;
    ek_strlist_t cmd;
    bool want[CH_N];
    bool tty;
    /* the process (exec) */
    int in_fd, out_fd, err_fd;
    uv_poll_t out_poll, err_poll, in_poll, exit_poll;
    bool out_on, err_on, in_on, exit_on;
    bool out_eof, err_eof, stdin_eof;
    ek_rt_exec_t *ex;
    ek_buf_t stdin_q;
    ek_buf_t resize_q;
    bool started, exited, finished, throttled;
    int exit_code;
    unsigned short rows, cols;
    /* attach */
    int log_fd;
    char *log_path;
    int attempt;
    pid_t ctr_pid; /* the container's first process (agent's PID namespace) */
    ek_buf_t log_carry;
    /* port-forward */
    pf_conn_t *pfs;
    /* life */
    uv_timer_t timer;
    int handles;
    int jobs;
    bool closing;
    bool counted_in_stop;
};

static void s_unref(kl_stream_t *s);
static void s_finish(kl_stream_t *s, int code, const char *reason, const char *fmt, ...)
    EK_PRINTF(4, 5);
static void pf_conn_close(pf_conn_t *pc);
static void pf_update_poll(pf_conn_t *pc);
static void on_tick(uv_timer_t *t);

/* ---- status (pure) ---- */

json_t *ek__kl_exec_status(int exit_code, const char *reason, const char *message)
{
    if (!reason && exit_code == 0) {
        return json_pack("{s:{},s:s}", "metadata", "status", "Success");
    }
    if (!reason) {
        ek_autofree char *code = ek_xasprintf("%d", exit_code);
        ek_autofree char *msg =
            ek_xasprintf("command terminated with non-zero exit code: exit status %d", exit_code);
        return json_pack("{s:{},s:s,s:s,s:s,s:{s:[{s:s,s:s}]}}", "metadata", "status", "Failure",
                         "message", msg, "reason", "NonZeroExitCode", "details", "causes", "reason",
                         "ExitCode", "message", code);
    }
    return json_pack("{s:{},s:s,s:s,s:s,s:i}", "metadata", "status", "Failure", "message",
                     message ? message : reason, "reason", reason, "code", 500);
}

int ek__kl_parse_resize(const char *json, size_t len, unsigned short *cols, unsigned short *rows)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    json_int_t w = json_integer_value(json_object_get(j, "Width"));
    json_int_t h = json_integer_value(json_object_get(j, "Height"));
    json_decref(j);
    if (w < 0 || h < 0 || w > 65535 || h > 65535) {
        return -1;
    }
    *cols = (unsigned short)w;
    *rows = (unsigned short)h;
    return 0;
}

/* ---- sending ---- */

static size_t s_pending(kl_stream_t *s)
{
    if (s->ws) {
        return ek_ws_pending(s->ws);
    }
    return s->conn ? ek_conn_pending(s->conn) : 0;
}

static void spdy_out(kl_stream_t *s, ek_buf_t *b)
{
    if (s->transport == T_SPDY_WS) {
        if (s->ws) {
            ek_ws_send(s->ws, EK_WS_BINARY, b->data, b->len);
        }
    } else if (s->conn) {
        ek_conn_write(s->conn, b->data, b->len);
    }
}

static void spdy_data(kl_stream_t *s, uint32_t sid, uint8_t flags, const void *data, size_t len)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_spdy_encode_data(&b, sid, flags, data, len);
    spdy_out(s, &b);
}

/* Sends on an exec channel. */
static void ch_send(kl_stream_t *s, int ch, const void *data, size_t len)
{
    if (s->transport == T_WS) {
        if (s->ws) {
            ek_ws_send_prefixed(s->ws, EK_WS_BINARY, (uint8_t)ch, data, len);
        }
        return;
    }
    if (s->sid[ch] && !s->fin_sent[ch]) {
        while (len > 0) {
            size_t n = EK_MIN(len, (size_t)CHUNK);
            spdy_data(s, s->sid[ch], 0, data, n);
            data = (const char *)data + n;
            len -= n;
        }
    }
}

static void ch_fin(kl_stream_t *s, int ch)
{
    if (s->transport != T_WS && s->sid[ch] && !s->fin_sent[ch]) {
        s->fin_sent[ch] = true;
        spdy_data(s, s->sid[ch], EK_SPDY_FLAG_FIN, NULL, 0);
    }
}

/* ---- life ---- */

static void handle_closed(uv_handle_t *h)
{
    s_unref(h->data);
}

static void close_handle(kl_stream_t *s, uv_handle_t *h, bool *on)
{
    if (*on) {
        *on = false;
        uv_close(h, handle_closed);
    }
}

static void s_free(kl_stream_t *s)
{
    ek_kubelet_t *kl = s->kl;
    for (kl_stream_t **pp = &kl->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    ek_spdy_zstream_free(s->zin);
    ek_spdy_zstream_free(s->zout);
    ek_buf_free(&s->in);
    ek_buf_free(&s->stdin_q);
    ek_buf_free(&s->resize_q);
    ek_buf_free(&s->log_carry);
    free(s->ns);
    free(s->pod);
    free(s->uid);
    free(s->ctr);
    free(s->rt_ctr);
    free(s->netns);
    free(s->log_path);
    ek_strlist_free(&s->cmd);
    if (s->ex) {
        ek_rt_exec_free(s->ex);
    }
    if (s->in_fd >= 0 && s->in_fd != s->out_fd) {
        close(s->in_fd);
    }
    if (s->out_fd >= 0) {
        close(s->out_fd);
    }
    if (s->err_fd >= 0 && s->err_fd != s->out_fd) {
        close(s->err_fd);
    }
    if (s->log_fd >= 0) {
        close(s->log_fd);
    }
    bool counted = s->counted_in_stop;
    free(s);
    if (counted) {
        kl->closing--;
        ek__kl_maybe_finish_stop(kl);
    }
}

static void s_unref(kl_stream_t *s)
{
    if (--s->handles == 0) {
        s_free(s);
    }
}

/* Tears everything down; the session is freed once its handles and jobs are done. */
static void s_close(kl_stream_t *s)
{
    if (s->closing) {
        return;
    }
    s->closing = true;
    close_handle(s, (uv_handle_t *)&s->out_poll, &s->out_on);
    close_handle(s, (uv_handle_t *)&s->err_poll, &s->err_on);
    close_handle(s, (uv_handle_t *)&s->in_poll, &s->in_on);
    close_handle(s, (uv_handle_t *)&s->exit_poll, &s->exit_on);
    if (s->ex && !s->exited) {
        ek_rt_exec_kill(s->ex, SIGKILL, NULL);
    }
    while (s->pfs) {
        pf_conn_t *pc = s->pfs;
        s->pfs = pc->next;
        pf_conn_close(pc);
    }
    if (s->ws) {
        ek_ws_close(s->ws, EK_WS_CLOSE_NORMAL, "");
    } else if (s->conn) {
        ek_conn_close(s->conn);
    }
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, handle_closed);
}

/* Sends the final status on the status channel and ends the session. */
static void s_finish(kl_stream_t *s, int code, const char *reason, const char *fmt, ...)
{
    if (s->finished || s->closing) {
        return;
    }
    s->finished = true;
    char msg[1024] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    if (s->kind != K_PF) {
        json_t *st = ek__kl_exec_status(code, reason, fmt ? msg : NULL);
        ek_autofree char *text = json_dumps(st, JSON_COMPACT);
        json_decref(st);
        ch_fin(s, CH_STDOUT);
        ch_fin(s, CH_STDERR);
        ch_send(s, CH_ERROR, text, strlen(text));
        ch_fin(s, CH_ERROR);
    }
    if (s->transport != T_WS) {
        ek_autobuf b = EK_BUF_INIT;
        ek_spdy_encode_goaway(&b, 0, 0);
        spdy_out(s, &b);
    }
    s_close(s);
}

/* ---- the process (exec) ---- */

typedef struct exec_job {
    kl_job_t job;
    kl_stream_t *s;
    int fds[3]; /* ours: stdin (write), stdout, stderr (read); pty master for all with tty */
    ek_rt_exec_t *ex;
    char *netns;
    /* port-forward */
    pf_conn_t *pc;
    int sock;
    char *why;
} exec_job_t;

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void exec_run(kl_job_t *j)
{
    exec_job_t *x = (exec_job_t *)j;
    kl_stream_t *s = x->s;
    int child[3] = { -1, -1, -1 };
    x->fds[0] = x->fds[1] = x->fds[2] = -1;
    if (s->tty) {
        /* The terminal comes from the container's own devpts (through its root as /proc
         * shows it), so that the process finds its name (/dev/pts/N) there. */
        ek_autofree char *ptmx = ek_xasprintf("/proc/%d/root/dev/pts/ptmx", (int)s->ctr_pid);
        int m = s->ctr_pid > 0 ? open(ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        if (m < 0) {
            m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        }
        if (m < 0 || unlockpt(m) < 0) {
            ek_error_make(&j->err, errno, "allocate a terminal");
            if (m >= 0) {
                close(m);
            }
            return;
        }
        int sl = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (sl < 0) {
            ek_error_make(&j->err, errno, "open the terminal's peer");
            close(m);
            return;
        }
        if (s->cols && s->rows) {
            struct winsize ws = { .ws_row = s->rows, .ws_col = s->cols };
            ioctl(m, TIOCSWINSZ, &ws);
        }
        x->fds[0] = x->fds[1] = m;
        child[0] = child[1] = child[2] = sl;
    } else {
        for (int i = 0; i < 3; i++) {
            if (!s->want[i]) {
                continue;
            }
            int p[2];
            if (pipe2(p, O_CLOEXEC) < 0) {
                ek_error_make(&j->err, errno, "pipe");
                goto fail;
            }
            x->fds[i] = i == 0 ? p[1] : p[0];
            child[i] = i == 0 ? p[0] : p[1];
        }
    }
    ek_rt_pod_t *pod = ek_rt_pod_open(j->kl->rt, s->uid, &j->err);
    if (!pod) {
        goto fail;
    }
    const char **argv = ek_xcalloc(s->cmd.n + 1, sizeof(char *));
    for (size_t i = 0; i < s->cmd.n; i++) {
        argv[i] = s->cmd.v[i];
    }
    static const char *const tty_env[] = { "TERM=xterm", NULL };
    ek_rt_exec_spec_t spec = { .args = argv,
                               .env = s->tty ? tty_env : NULL,
                               .stdin_fd = s->want[CH_STDIN] ? child[0] : -1,
                               .stdout_fd = child[1],
                               .stderr_fd = s->tty ? child[2] : child[2] };
    int rc = ek_rt_exec_start(pod, s->rt_ctr, &spec, &x->ex, &j->err);
    free(argv);
    ek_rt_pod_close(pod);
    if (rc < 0) {
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        if (child[i] >= 0 && (i == 0 || child[i] != child[i - 1])) {
            close(child[i]);
        }
    }
    return;
fail:
    for (int i = 0; i < 3; i++) {
        if (child[i] >= 0 && (i == 0 || child[i] != child[i - 1])) {
            close(child[i]);
        }
        if (x->fds[i] >= 0 && (i == 0 || x->fds[i] != x->fds[i - 1])) {
            close(x->fds[i]);
        }
        x->fds[i] = -1;
    }
}

static void s_maybe_done(kl_stream_t *s)
{
    if (!s->exited || s->closing || s->finished) {
        return;
    }
    bool drained = (s->out_fd < 0 || s->out_eof) && (s->err_fd < 0 || s->err_eof);
    if (drained) {
        s_finish(s, s->exit_code, NULL, NULL);
    }
}

static void on_drain_timeout(uv_timer_t *t)
{
    kl_stream_t *s = t->data;
    if (s->exited) {
        s_finish(s, s->exit_code, NULL, NULL);
    }
}

static void out_readable(kl_stream_t *s, int ch)
{
    int fd = ch == CH_STDOUT ? s->out_fd : s->err_fd;
    char buf[CHUNK];
    for (int round = 0; round < 8; round++) {
        if (s_pending(s) > HIGH_WATER) {
            uv_poll_stop(ch == CH_STDOUT ? &s->out_poll : &s->err_poll);
            s->throttled = true; /* on_tick resumes */
            return;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n > 0) {
            ch_send(s, ch, buf, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        /* EOF, or EIO on a terminal whose other side is gone */
        if (ch == CH_STDOUT) {
            s->out_eof = true;
            close_handle(s, (uv_handle_t *)&s->out_poll, &s->out_on);
        } else {
            s->err_eof = true;
            close_handle(s, (uv_handle_t *)&s->err_poll, &s->err_on);
        }
        s_maybe_done(s);
        return;
    }
}

static void on_out(uv_poll_t *h, int status, int events)
{
    EK_UNUSED(status);
    EK_UNUSED(events);
    kl_stream_t *s = h->data;
    out_readable(s, h == &s->out_poll ? CH_STDOUT : CH_STDERR);
}

static void on_exit_fd(uv_poll_t *h, int status, int events)
{
    EK_UNUSED(status);
    EK_UNUSED(events);
    kl_stream_t *s = h->data;
    int code = 0;
    ek_error_t *err = NULL;
    if (ek_rt_exec_wait(s->ex, 0, &code, &err) < 0) {
        if (err && err->errnum == ETIMEDOUT) {
            ek_error_free(err);
            return;
        }
        EK_LOG(EK_WARN, "kubelet", "exec in %s/%s: %s", s->ns, s->pod, ek_error_msg(err));
        ek_error_free(err);
        code = 1;
    }
    s->exited = true;
    s->exit_code = code;
    close_handle(s, (uv_handle_t *)&s->exit_poll, &s->exit_on);
    if (s->tty && s->out_fd >= 0 && !s->out_eof) {
        out_readable(s, CH_STDOUT); /* what the terminal still holds */
        s->out_eof = true;
        close_handle(s, (uv_handle_t *)&s->out_poll, &s->out_on);
    }
    uv_timer_start(&s->timer, on_drain_timeout, DRAIN_MS, 0);
    s_maybe_done(s);
}

static void stdin_flush(kl_stream_t *s);

static void on_in(uv_poll_t *h, int status, int events)
{
    EK_UNUSED(status);
    EK_UNUSED(events);
    stdin_flush(h->data);
}

static void stdin_flush(kl_stream_t *s)
{
    while (s->in_fd >= 0 && s->stdin_q.len > 0) {
        ssize_t n = write(s->in_fd, s->stdin_q.data, s->stdin_q.len);
        if (n > 0) {
            ek_buf_consume(&s->stdin_q, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (!s->in_on && !s->closing) {
                uv_poll_init(s->kl->loop, &s->in_poll, s->in_fd);
                s->in_poll.data = s;
                s->in_on = true;
                s->handles++;
            }
            if (s->in_on) {
                uv_poll_start(&s->in_poll, UV_WRITABLE, on_in);
            }
            return;
        }
        ek_buf_reset(&s->stdin_q); /* the process closed its stdin */
        break;
    }
    if (s->in_on) {
        uv_poll_stop(&s->in_poll);
    }
    if (s->stdin_eof && !s->tty && s->in_fd >= 0) {
        close_handle(s, (uv_handle_t *)&s->in_poll, &s->in_on);
        close(s->in_fd);
        s->in_fd = -1;
    }
}

static void on_stdin(kl_stream_t *s, const char *data, size_t len)
{
    if (s->kind != K_EXEC || !s->want[CH_STDIN] || (s->started && s->in_fd < 0) ||
        s->stdin_q.len > MAX_STDIN_QUEUE) {
        return;
    }
    ek_buf_append(&s->stdin_q, data, len);
    if (s->started) {
        stdin_flush(s);
    }
}

static void on_stdin_eof(kl_stream_t *s)
{
    s->stdin_eof = true;
    if (s->started) {
        stdin_flush(s);
    }
}

static void apply_resize(kl_stream_t *s)
{
    if (s->tty && s->started && s->out_fd >= 0 && s->cols && s->rows) {
        struct winsize ws = { .ws_row = s->rows, .ws_col = s->cols };
        ioctl(s->out_fd, TIOCSWINSZ, &ws);
    }
}

/* Resize messages: one JSON object per WebSocket message, newline-separated on SPDY. */
static void on_resize(kl_stream_t *s, const char *data, size_t len)
{
    ek_buf_append(&s->resize_q, data, len);
    for (;;) {
        char *nl = s->resize_q.len ? memchr(s->resize_q.data, '\n', s->resize_q.len) : NULL;
        size_t n = nl ? (size_t)(nl - s->resize_q.data) : s->resize_q.len;
        if (!nl && s->transport != T_WS) {
            break;
        }
        if (n > 0) {
            ek__kl_parse_resize(s->resize_q.data, n, &s->cols, &s->rows);
        }
        ek_buf_consume(&s->resize_q, nl ? n + 1 : n);
        if (!nl) {
            break;
        }
    }
    if (s->resize_q.len > 4096) {
        ek_buf_reset(&s->resize_q);
    }
    apply_resize(s);
}

static void start_poll(kl_stream_t *s, uv_poll_t *p, bool *on, int fd, int events, uv_poll_cb cb)
{
    uv_poll_init(s->kl->loop, p, fd);
    p->data = s;
    *on = true;
    s->handles++;
    uv_poll_start(p, events, cb);
}

static void exec_done(kl_job_t *j)
{
    exec_job_t *x = (exec_job_t *)j;
    kl_stream_t *s = x->s;
    s->jobs--;
    if (j->err || s->closing) {
        if (!s->closing) {
            s_finish(s, 1, "InternalError",
                     "Internal error occurred: error executing command in container: %s",
                     ek_error_msg(j->err));
        }
        if (x->ex) {
            ek_rt_exec_kill(x->ex, SIGKILL, NULL);
            ek_rt_exec_free(x->ex);
        }
        for (int i = 0; i < 3; i++) {
            if (x->fds[i] >= 0 && (i == 0 || x->fds[i] != x->fds[i - 1])) {
                close(x->fds[i]);
            }
        }
        ek_error_free(j->err);
        free(x);
        s_unref(s);
        return;
    }
    s->ex = x->ex;
    s->started = true;
    s->in_fd = x->fds[0];
    s->out_fd = x->fds[1];
    s->err_fd = x->fds[2];
    free(x);
    if (s->in_fd >= 0) {
        set_nonblock(s->in_fd);
    }
    if (s->out_fd >= 0) {
        set_nonblock(s->out_fd);
        start_poll(s, &s->out_poll, &s->out_on, s->out_fd, UV_READABLE, on_out);
    }
    if (s->err_fd >= 0 && s->err_fd != s->out_fd) {
        set_nonblock(s->err_fd);
        start_poll(s, &s->err_poll, &s->err_on, s->err_fd, UV_READABLE, on_out);
    } else {
        s->err_fd = -1;
    }
    start_poll(s, &s->exit_poll, &s->exit_on, ek_rt_exec_fd(s->ex), UV_READABLE, on_exit_fd);
    apply_resize(s);
    if (s->stdin_q.len || s->stdin_eof) {
        stdin_flush(s);
    }
    s_unref(s);
}

/* Resumes output reading once the client has taken what was queued. */
static void on_tick(uv_timer_t *t)
{
    kl_stream_t *s = t->data;
    if (s->closing) {
        return;
    }
    if (s_pending(s) >= HIGH_WATER) {
        return;
    }
    if (s->kind == K_EXEC && s->throttled) {
        s->throttled = false;
        if (s->out_on) {
            uv_poll_start(&s->out_poll, UV_READABLE, on_out);
        }
        if (s->err_on) {
            uv_poll_start(&s->err_poll, UV_READABLE, on_out);
        }
    }
    for (pf_conn_t *pc = s->pfs; pc; pc = pc->next) {
        pf_update_poll(pc);
    }
}

static void on_wait_timeout(uv_timer_t *t)
{
    kl_stream_t *s = t->data;
    if (!s->started && !s->jobs) {
        s_finish(s, 1, "InternalError", "timed out waiting for the client to create streams");
    }
}

static void exec_start(kl_stream_t *s)
{
    if (s->jobs || s->started) {
        return;
    }
    uv_timer_stop(&s->timer);
    exec_job_t *x = ek_new(exec_job_t);
    x->s = s;
    x->job.run = exec_run;
    x->job.done = exec_done;
    s->jobs++;
    s->handles++;
    ek__kl_job_queue(s->kl, &x->job);
    uv_timer_start(&s->timer, on_tick, 100, 100);
}

/* ---- attach: the container's log from now on ---- */

static void attach_read(kl_stream_t *s)
{
    char buf[CHUNK];
    for (int round = 0; round < 16 && s_pending(s) < HIGH_WATER; round++) {
        ssize_t n = read(s->log_fd, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        ek_buf_append(&s->log_carry, buf, (size_t)n);
        size_t off = 0;
        for (;;) {
            char *line = s->log_carry.data + off;
            char *nl = memchr(line, '\n', s->log_carry.len - off);
            if (!nl) {
                break;
            }
            int64_t ts;
            const char *stream, *text;
            size_t tlen;
            bool partial;
            if (ek__kl_cri_parse(line, (size_t)(nl - line), &ts, &stream, &partial, &text, &tlen) ==
                0) {
                int ch = strncmp(stream, "stderr", 6) == 0 ? CH_STDERR : CH_STDOUT;
                if (s->want[ch]) {
                    ek_autobuf out = EK_BUF_INIT;
                    ek_buf_append(&out, text, tlen);
                    if (!partial) {
                        ek_buf_putc(&out, '\n');
                    }
                    ch_send(s, ch, out.data, out.len);
                }
            }
            off = (size_t)(nl - s->log_carry.data) + 1;
        }
        ek_buf_consume(&s->log_carry, off);
    }
}

static void attach_tick(uv_timer_t *t)
{
    kl_stream_t *s = t->data;
    if (s->closing) {
        return;
    }
    attach_read(s);
    kl_pod_t *p = ek_map_get(&s->kl->by_uid, s->uid);
    kl_ctr_t *c = p ? ek__kl_ctr_by_name(p, s->ctr) : NULL;
    if (!c || c->attempt != s->attempt || c->cur.state != EK_RT_RUNNING) {
        attach_read(s);
        s_finish(s, 0, NULL, NULL);
    }
}

static void attach_start(kl_stream_t *s)
{
    if (s->started) {
        return;
    }
    s->started = true;
    uv_timer_stop(&s->timer);
    s->log_fd = open(s->log_path, O_RDONLY | O_CLOEXEC);
    if (s->log_fd < 0) {
        s_finish(s, 1, "InternalError", "attach: open the container's output: %s", strerror(errno));
        return;
    }
    lseek(s->log_fd, 0, SEEK_END);
    uv_timer_start(&s->timer, attach_tick, 100, 100);
}

/* ---- port-forward ---- */

static void pf_rst(kl_stream_t *s, uint32_t sid, uint32_t status)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_spdy_encode_rst(&b, sid, status);
    spdy_out(s, &b);
}

static void pf_poll_closed(uv_handle_t *h)
{
    pf_conn_t *pc = h->data;
    kl_stream_t *s = pc->s;
    ek_buf_free(&pc->to_pod);
    free(pc->request_id);
    free(pc);
    s_unref(s);
}

/* Frees pc (not linked any more). */
static void pf_conn_close(pf_conn_t *pc)
{
    kl_stream_t *s = pc->s;
    if (pc->closed) {
        return;
    }
    pc->closed = true;
    if (pc->connecting) {
        return; /* the connect job frees it */
    }
    if (pc->fd >= 0 && pc->poll_init) {
        uv_close((uv_handle_t *)&pc->poll, pf_poll_closed);
        close(pc->fd);
        pc->fd = -1;
        return;
    }
    if (pc->fd >= 0) {
        close(pc->fd);
    }
    ek_buf_free(&pc->to_pod);
    free(pc->request_id);
    free(pc);
    EK_UNUSED(s);
}

static void pf_unlink(pf_conn_t *pc)
{
    kl_stream_t *s = pc->s;
    for (pf_conn_t **pp = &s->pfs; *pp; pp = &(*pp)->next) {
        if (*pp == pc) {
            *pp = pc->next;
            return;
        }
    }
}

/* Ends one forwarded connection: FIN on its streams, the socket closed. */
static void pf_end(pf_conn_t *pc)
{
    kl_stream_t *s = pc->s;
    if (pc->data_sid) {
        spdy_data(s, pc->data_sid, EK_SPDY_FLAG_FIN, NULL, 0);
    }
    if (pc->err_sid) {
        spdy_data(s, pc->err_sid, EK_SPDY_FLAG_FIN, NULL, 0);
    }
    pf_unlink(pc);
    pf_conn_close(pc);
}

static void pf_io(uv_poll_t *h, int status, int events)
{
    pf_conn_t *pc = h->data;
    kl_stream_t *s = pc->s;
    if (status < 0) {
        pf_end(pc);
        return;
    }
    if (events & UV_WRITABLE) {
        while (pc->to_pod.len) {
            ssize_t n = send(pc->fd, pc->to_pod.data, pc->to_pod.len, MSG_NOSIGNAL);
            if (n > 0) {
                ek_buf_consume(&pc->to_pod, (size_t)n);
            } else if (n < 0 && errno == EAGAIN) {
                break;
            } else {
                pf_end(pc);
                return;
            }
        }
        if (!pc->to_pod.len && pc->client_fin) {
            shutdown(pc->fd, SHUT_WR);
        }
    }
    if ((events & UV_READABLE) && s_pending(s) < HIGH_WATER) {
        char buf[CHUNK];
        ssize_t n = recv(pc->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            spdy_data(s, pc->data_sid, 0, buf, (size_t)n);
        } else if (n == 0 || errno != EAGAIN) {
            pc->pod_eof = true;
            pf_end(pc);
            return;
        }
    }
    pf_update_poll(pc);
}

static void pf_update_poll(pf_conn_t *pc)
{
    if (pc->fd < 0 || pc->closed || !pc->poll_init) {
        return;
    }
    int ev = (pc->pod_eof || s_pending(pc->s) >= HIGH_WATER ? 0 : UV_READABLE) |
             (pc->to_pod.len ? UV_WRITABLE : 0);
    if (ev != pc->events) {
        pc->events = ev;
        if (ev) {
            uv_poll_start(&pc->poll, ev, pf_io);
        } else {
            uv_poll_stop(&pc->poll);
        }
    }
}

static int connect_local(int port, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int rc;
    if (family == AF_INET) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
        a.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    }
    if (rc < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void pf_connect_run(kl_job_t *j)
{
    exec_job_t *x = (exec_job_t *)j;
    int self = -1, target = -1;
    x->sock = -1;
    if (x->netns) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        target = open(x->netns, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
            x->why = ek_xasprintf("enter the pod's network namespace: %s", strerror(errno));
            goto out;
        }
    }
    int fd = connect_local(x->pc->port, AF_INET);
    if (fd < 0) {
        int fd6 = connect_local(x->pc->port, AF_INET6);
        if (fd6 >= 0) {
            fd = fd6;
        } else {
            x->why = ek_xasprintf("failed to connect to localhost:%d inside namespace of pod "
                                  "%s: IPv4: connect: %s",
                                  x->pc->port, x->s->uid, strerror(-fd));
        }
    }
    x->sock = fd;
    if (x->netns && setns(self, CLONE_NEWNET) < 0) {
        /* A worker thread left in a pod's namespace would run later jobs there. */
        EK_LOG(EK_ERROR, "kubelet", "port-forward: return to the host network namespace: %s",
               strerror(errno));
        abort();
    }
out:
    if (self >= 0) {
        close(self);
    }
    if (target >= 0) {
        close(target);
    }
}

static void pf_connect_done(kl_job_t *j)
{
    exec_job_t *x = (exec_job_t *)j;
    pf_conn_t *pc = x->pc;
    kl_stream_t *s = x->s;
    s->jobs--;
    pc->connecting = false;
    if (pc->closed || s->closing) {
        if (x->sock >= 0) {
            close(x->sock);
        }
        if (!pc->closed) {
            pf_unlink(pc);
        }
        ek_buf_free(&pc->to_pod);
        free(pc->request_id);
        free(pc);
    } else if (x->sock < 0) {
        ek_autofree char *msg = ek_xasprintf("error forwarding port %d to pod %s, uid : %s",
                                             pc->port, s->uid, x->why ? x->why : "connect failed");
        if (pc->err_sid) {
            spdy_data(s, pc->err_sid, 0, msg, strlen(msg));
        }
        pf_end(pc);
    } else {
        pc->fd = x->sock;
        set_nonblock(pc->fd);
        uv_poll_init_socket(s->kl->loop, &pc->poll, pc->fd);
        pc->poll.data = pc;
        pc->poll_init = true;
        s->handles++;
        pf_update_poll(pc);
    }
    free(x->why);
    free(x->netns);
    free(x);
    s_unref(s);
}

static pf_conn_t *pf_find(kl_stream_t *s, const char *rid, uint32_t sid)
{
    for (pf_conn_t *pc = s->pfs; pc; pc = pc->next) {
        if ((rid && ek_streq(pc->request_id, rid)) ||
            (sid && (pc->data_sid == sid || pc->err_sid == sid))) {
            return pc;
        }
    }
    return NULL;
}

static void pf_syn(kl_stream_t *s, uint32_t sid, const ek_spdy_headers_t *h)
{
    const char *type = ek_spdy_headers_get(h, "streamtype");
    const char *port = ek_spdy_headers_get(h, "port");
    const char *rid = ek_spdy_headers_get(h, "requestid");
    char *end = NULL;
    long p = port ? strtol(port, &end, 10) : 0;
    if (!type || !port || !end || *end || p <= 0 || p > 65535) {
        pf_rst(s, sid, EK_SPDY_RST_PROTOCOL_ERROR);
        return;
    }
    if (!rid) {
        rid = port; /* kubectl before 1.6 sent none: one connection per port at a time */
    }
    pf_conn_t *pc = pf_find(s, rid, 0);
    if (!pc) {
        pc = ek_new(pf_conn_t);
        pc->s = s;
        pc->fd = -1;
        pc->request_id = ek_xstrdup(rid);
        pc->port = (int)p;
        pc->next = s->pfs;
        s->pfs = pc;
    }
    if (strcmp(type, "error") == 0) {
        pc->err_sid = sid;
    } else if (strcmp(type, "data") == 0 && !pc->data_sid) {
        pc->data_sid = sid;
        pc->connecting = true;
        exec_job_t *x = ek_new(exec_job_t);
        x->s = s;
        x->pc = pc;
        x->netns = s->netns ? ek_xstrdup(s->netns) : NULL;
        x->job.run = pf_connect_run;
        x->job.done = pf_connect_done;
        s->jobs++;
        s->handles++;
        ek__kl_job_queue(s->kl, &x->job);
    } else {
        pf_rst(s, sid, EK_SPDY_RST_PROTOCOL_ERROR);
    }
}

static void pf_data(kl_stream_t *s, uint32_t sid, uint8_t flags, const uint8_t *data, size_t len)
{
    pf_conn_t *pc = pf_find(s, NULL, sid);
    if (!pc || sid != pc->data_sid) {
        return; /* nothing comes on the error stream from the client */
    }
    ek_buf_append(&pc->to_pod, data, len);
    if (flags & EK_SPDY_FLAG_FIN) {
        pc->client_fin = true;
    }
    if (pc->poll_init && !pc->closed) {
        pf_io(&pc->poll, 0, UV_WRITABLE);
    }
}

/* ---- SPDY input ---- */

static int chan_of(const char *type)
{
    static const char *const names[CH_N] = { "stdin", "stdout", "stderr", "error", "resize" };
    for (int i = 0; type && i < CH_N; i++) {
        if (strcmp(type, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static bool exec_streams_ready(kl_stream_t *s)
{
    for (int i = 0; i < CH_N; i++) {
        if (s->want[i] && !s->sid[i]) {
            return false;
        }
    }
    return true;
}

static void begin(kl_stream_t *s)
{
    if (s->kind == K_EXEC) {
        exec_start(s);
    } else if (s->kind == K_ATTACH) {
        attach_start(s);
    }
}

static void spdy_frame(kl_stream_t *s, const ek_spdy_frame_t *f)
{
    ek_autobuf out = EK_BUF_INIT;
    if (!f->control) {
        if (s->kind == K_PF) {
            pf_data(s, f->stream_id, f->flags, f->payload, f->len);
            return;
        }
        for (int ch = 0; ch < CH_N; ch++) {
            if (s->sid[ch] != f->stream_id) {
                continue;
            }
            if (ch == CH_STDIN) {
                on_stdin(s, (const char *)f->payload, f->len);
                if (f->flags & EK_SPDY_FLAG_FIN) {
                    on_stdin_eof(s);
                }
            } else if (ch == CH_RESIZE) {
                on_resize(s, (const char *)f->payload, f->len);
            }
        }
        return;
    }
    switch (f->type) {
    case EK_SPDY_SYN_STREAM:
    case EK_SPDY_HEADERS:
    case EK_SPDY_SYN_REPLY: {
        ek_spdy_headers_t h;
        ek_error_t *err = NULL;
        if (ek_spdy_inflate_headers(s->zin, f->headers, f->headers_len, &h, &err) < 0) {
            EK_LOG(EK_WARN, "kubelet", "spdy from the API server: %s", ek_error_msg(err));
            ek_error_free(err);
            s_close(s); /* the compression state is lost */
            return;
        }
        if (f->type == EK_SPDY_SYN_STREAM) {
            ek_spdy_headers_t none = { 0 };
            ek_spdy_encode_syn_reply(&out, s->zout, f->stream_id, 0, &none);
            spdy_out(s, &out);
            if (s->kind == K_PF) {
                pf_syn(s, f->stream_id, &h);
            } else {
                int ch = chan_of(ek_spdy_headers_get(&h, "streamtype"));
                if (ch >= 0 && !s->sid[ch]) {
                    s->sid[ch] = f->stream_id;
                    if (!s->want[ch] && ch != CH_ERROR && ch != CH_RESIZE) {
                        s->want[ch] = true; /* the client decides what it opens */
                    }
                }
                if (exec_streams_ready(s)) {
                    begin(s);
                }
            }
        }
        ek_spdy_headers_free(&h);
        break;
    }
    case EK_SPDY_PING:
        ek_spdy_encode_ping(&out, f->value);
        spdy_out(s, &out);
        break;
    case EK_SPDY_RST_STREAM:
        if (s->kind == K_PF) {
            pf_conn_t *pc = pf_find(s, NULL, f->stream_id);
            if (pc && pc->data_sid == f->stream_id) {
                pf_unlink(pc);
                pf_conn_close(pc);
            }
        } else if (f->stream_id == s->sid[CH_STDIN]) {
            on_stdin_eof(s);
        }
        break;
    case EK_SPDY_GOAWAY:
        s->goaway = true;
        if (s->kind == K_PF || !s->started) {
            s_close(s);
        }
        break;
    default:
        break; /* SETTINGS, WINDOW_UPDATE: no flow control (as the Go implementation) */
    }
}

static void spdy_input(kl_stream_t *s, const char *data, size_t len)
{
    ek_buf_append(&s->in, data, len);
    size_t off = 0;
    while (!s->closing) {
        ek_spdy_frame_t f;
        long n =
            ek_spdy_parse((const uint8_t *)s->in.data + off, s->in.len - off, SPDY_MAX_FRAME, &f);
        if (n == 0) {
            break;
        }
        if (n < 0) {
            EK_LOG(EK_WARN, "kubelet", "spdy: malformed frame from the API server");
            s_close(s);
            return;
        }
        off += (size_t)n;
        spdy_frame(s, &f);
    }
    ek_buf_consume(&s->in, off);
}

/* ---- connection callbacks ---- */

static void on_conn_data(ek_conn_t *c, char *data, size_t len, void *user)
{
    EK_UNUSED(c);
    spdy_input(user, data, len);
}

static void on_conn_close(ek_conn_t *c, void *user)
{
    kl_stream_t *s = user;
    EK_UNUSED(c);
    s->conn = NULL;
    s_close(s);
    s_unref(s);
}

static void on_ws_message(ek_ws_t *ws, uint8_t opcode, const char *data, size_t len, void *user)
{
    kl_stream_t *s = user;
    EK_UNUSED(ws);
    if (opcode != EK_WS_BINARY || s->closing) {
        return;
    }
    if (s->transport == T_SPDY_WS) {
        spdy_input(s, data, len);
        return;
    }
    if (len == 0) {
        return;
    }
    uint8_t ch = (uint8_t)data[0];
    if (ch == CH_STDIN) {
        on_stdin(s, data + 1, len - 1);
    } else if (ch == CH_RESIZE) {
        on_resize(s, data + 1, len - 1);
    } else if (ch == 255 && s->v5 && len >= 2 && data[1] == CH_STDIN) {
        on_stdin_eof(s);
    }
}

static void on_ws_close(ek_ws_t *ws, uint16_t code, const char *reason, void *user)
{
    kl_stream_t *s = user;
    EK_UNUSED(ws);
    EK_UNUSED(code);
    EK_UNUSED(reason);
    s->ws = NULL;
    s_close(s);
    s_unref(s);
}

/* ---- the request ---- */

static void reply(ek_http_req_t *req, int status, const char *fmt, ...) EK_PRINTF(3, 4);
static void reply(ek_http_req_t *req, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ek_autofree char *body = ek_xasprintf("%s\n", msg);
    ek_http_respond(req, status, "text/plain; charset=utf-8", body, strlen(body));
}

static bool q_true(const char *query, const char *key)
{
    ek_autofree char *v = ek_http_query_get(query, key);
    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

static void collect_cmd(const char *k, const char *v, void *data)
{
    if (strcmp(k, "command") == 0) {
        ek_strlist_add(data, v);
    }
}

static kl_pod_t *find_pod(ek_kubelet_t *kl, const char *ns, const char *name)
{
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        kl_pod_t *p = v;
        if (!p->gone && ek_streq(p->ns, ns) && ek_streq(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

static bool header_has(const ek_http_req_t *req, const char *name, const char *value)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0) {
            continue;
        }
        char *copy = ek_xstrdup(req->headers[i].value), *save = NULL;
        bool hit = false;
        for (char *t = strtok_r(copy, ", ", &save); t && !hit; t = strtok_r(NULL, ", ", &save)) {
            hit = strcasecmp(t, value) == 0;
        }
        free(copy);
        if (hit) {
            return true;
        }
    }
    return false;
}

void ek__kl_stream_handle(ek_kubelet_t *kl, ek_http_req_t *req)
{
    char kind_s[16], ns[254], name[254], ctr[254] = "";
    int end = 0;
    int n = sscanf(req->path, "/%15[^/]/%253[^/]/%253[^/]%n/%253[^/]%n", kind_s, ns, name, &end,
                   ctr, &end);
    int kind = strcmp(kind_s, "exec") == 0     ? K_EXEC
               : strcmp(kind_s, "attach") == 0 ? K_ATTACH
                                               : K_PF;
    if (n < 3 || req->path[end] != '\0' || (kind != K_PF && !ctr[0]) || (kind == K_PF && ctr[0])) {
        reply(req, 404, "404 page not found");
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0) {
        reply(req, 405, "method %s not allowed", req->method);
        return;
    }
    if (kl->stopping) {
        reply(req, 503, "the kubelet is stopping");
        return;
    }
    kl_pod_t *p = find_pod(kl, ns, name);
    if (!p) {
        reply(req, 404, "pod %s/%s not found on this node", ns, name);
        return;
    }
    bool ws = header_has(req, "Upgrade", "websocket");
    bool spdy = header_has(req, "Upgrade", "SPDY/3.1");
    if (!ws && !spdy) {
        reply(req, 400, "Upgrade request required");
        return;
    }
    kl_stream_t *s = ek_new(kl_stream_t);
    s->kl = kl;
    s->kind = kind;
    s->in_fd = s->out_fd = s->err_fd = s->log_fd = -1;
    s->ns = ek_xstrdup(ns);
    s->pod = ek_xstrdup(name);
    s->uid = ek_xstrdup(p->uid);
    if (kind != K_PF) {
        kl_ctr_t *c = ek__kl_ctr_by_name(p, ctr);
        if (!c) {
            reply(req, 404, "container %s is not valid for pod %s", ctr, name);
            goto fail;
        }
        if (c->attempt < 0 || c->cur.state != EK_RT_RUNNING) {
            reply(req, 400, "container %s is not running in pod %s", ctr, name);
            goto fail;
        }
        s->ctr = ek_xstrdup(ctr);
        s->rt_ctr = ek__kl_rt_name(c, c->attempt);
        s->attempt = c->attempt;
        s->ctr_pid = c->cur.pid;
        s->want[CH_STDIN] = q_true(req->query, "stdin");
        s->want[CH_STDOUT] = q_true(req->query, "stdout");
        s->want[CH_STDERR] = q_true(req->query, "stderr");
        s->tty = q_true(req->query, "tty");
        if (s->tty) {
            s->want[CH_STDERR] = false;
        }
        if (kind == K_EXEC) {
            ek_http_query_each(req->query, collect_cmd, &s->cmd);
            if (s->cmd.n == 0) {
                reply(req, 400, "you must specify at least 1 command");
                goto fail;
            }
        } else {
            if (s->want[CH_STDIN] || s->tty) {
                reply(req, 400,
                      "attaching to a container's stdin or terminal is not supported by edgek "
                      "(attach streams its output; use kubectl exec -it for a shell)");
                goto fail;
            }
            s->log_path = ek__kl_log_path(kl, p->ns, p->name, p->uid, ctr, c->attempt);
        }
    } else if (p->rt && ek_rt_pod_netns(p->rt)) {
        s->netns = ek_xstrdup(ek_rt_pod_netns(p->rt));
    } else if (!ek__kl_pod_is_host_network(p)) {
        reply(req, 503, "the sandbox of pod %s is not ready", name);
        goto fail;
    }
    s->want[CH_ERROR] = true;
    s->want[CH_RESIZE] = s->tty;
    if (ws) {
        static const char *const exec_protos[] = { "v5.channel.k8s.io", "v4.channel.k8s.io", NULL };
        static const char *const pf_protos[] = { "SPDY/3.1+portforward.k8s.io", NULL };
        ek_ws_options_t o = { .protocols = kind == K_PF ? pf_protos : exec_protos,
                              .require_protocol = true };
        static const ek_ws_callbacks_t wcb = { on_ws_message, on_ws_close };
        ek_error_t *err = NULL;
        s->ws = ek_ws_accept(req, &o, &wcb, s, &err);
        if (!s->ws) {
            if (err && err->status == 426) {
                ek_http_add_header(req, "Sec-WebSocket-Version", "13");
            }
            reply(req, err && err->status ? err->status : 400, "%s", ek_error_msg(err));
            ek_error_free(err);
            goto fail;
        }
        s->transport = kind == K_PF ? T_SPDY_WS : T_WS;
        s->v5 = ek_streq(ek_ws_protocol(s->ws), "v5.channel.k8s.io");
    } else {
        const char *want = kind == K_PF ? "portforward.k8s.io" : "v4.channel.k8s.io";
        if (!header_has(req, "X-Stream-Protocol-Version", want)) {
            reply(req, 403, "unable to upgrade: no common protocol: edgek speaks %s over SPDY",
                  want);
            goto fail;
        }
        ek_http_add_header(req, "X-Stream-Protocol-Version", want);
        static const ek_conn_callbacks_t ccb = { on_conn_data, on_conn_close };
        s->transport = T_SPDY;
        s->conn = ek_http_upgrade(req, "SPDY/3.1", &ccb, s);
        if (!s->conn) {
            goto fail;
        }
    }
    uv_timer_init(kl->loop, &s->timer);
    s->timer.data = s;
    s->handles = 2; /* the timer and the connection */
    if (s->transport != T_WS) {
        s->zin = ek_spdy_zstream_new(false);
        s->zout = ek_spdy_zstream_new(true);
    }
    s->next = kl->streams;
    kl->streams = s;
    if (s->transport == T_WS) {
        begin(s);
    } else if (kind != K_PF) {
        uv_timer_start(&s->timer, on_wait_timeout, STREAM_WAIT_MS, 0);
    } else {
        uv_timer_start(&s->timer, on_tick, 100, 100);
    }
    return;
fail:
    ek_strlist_free(&s->cmd);
    free(s->ns);
    free(s->pod);
    free(s->uid);
    free(s->ctr);
    free(s->rt_ctr);
    free(s->netns);
    free(s->log_path);
    free(s);
}

void ek__kl_streams_stop(ek_kubelet_t *kl)
{
    for (kl_stream_t *s = kl->streams; s; s = s->next) {
        if (!s->counted_in_stop) {
            s->counted_in_stop = true;
            kl->closing++;
        }
        if (!s->closing) {
            s_finish(s, 1, "ServiceUnavailable", "the kubelet is stopping");
        }
    }
}
