/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's own state, shared by its event loop (shim.c) and its container and exec
 * operations (shim_ctr.c). The shim is one single-threaded process per pod, so this is one
 * global: no locks, and every fd it owns is registered in one epoll set whose data pointer
 * leads to a struct that starts with a `kind`.
 */
#ifndef EK_NODE_RUNTIME_SHIM_INTERNAL_H
#define EK_NODE_RUNTIME_SHIM_INTERNAL_H

#include "node/runtime/runtime-internal.h"

enum { W_SIGNAL = 1, W_LISTEN, W_CONN, W_STREAM };

struct ctr;

typedef struct stream {
    int kind; /* W_STREAM */
    int fd;   /* read end of the container's stdout or stderr pipe; -1 when closed */
    struct ctr *ctr;
    const char *name; /* "stdout" / "stderr" */
    ek__rt_carry_t carry;
} stream_t;

typedef struct conn {
    int kind; /* W_CONN */
    int fd;
    struct conn *next;
    char wait_for[64]; /* a container whose exit this connection waits for */
    bool wait_all;     /* waits until no container runs (pod stop) */
    bool shutdown;     /* the pod goes away once no container runs */
    bool events;       /* subscribed: gets every container state change */
} conn_t;

typedef struct ctr {
    struct ctr *next;
    char name[64];
    char *dir; /* <pod>/containers/<name> */
    ek_rt_status_t st;
    pid_t pid; /* in the shim's PID namespace */
    int pidfd;
    int sync_fd; /* to the child until it has exec'd */
    bool own_pidns;
    int stop_signal;
    uint64_t kill_at_ms; /* monotonic deadline for SIGKILL; 0 = none */
    uint64_t oom_base;
    ek__cg_t cg;
    ek__rt_log_t log;
    stream_t out, err;
} ctr_t;

typedef struct xproc {
    struct xproc *next;
    pid_t pid;
    int pidfd;
    conn_t *conn; /* gets {"exit": code}; NULL once it has gone */
} xproc_t;

typedef struct shim {
    char *dir;
    int epfd;
    bool new_pidns; /* the shim is the pod's PID 1 (shared PID namespace) */
    bool host_pid;
    int own_pidns_fd;
    int last_cap;
    char *shm_dir; /* NULL with hostIPC */
    ek__cg_t pod_cg;
    ctr_t *ctrs;
    conn_t *conns;
    xproc_t *xprocs;
    bool done; /* leave the loop */
} shim_t;

extern shim_t ek__shim;

/* Operations: each returns a reply (caller sends and frees) or NULL after filling err. A
 * deferred operation returns NULL without an error and answers later on c. */
json_t *ek__shim_create(const json_t *req, ek_error_t **err);
json_t *ek__shim_start(const json_t *req, ek_error_t **err);
json_t *ek__shim_kill(const json_t *req, ek_error_t **err);
json_t *ek__shim_stop(conn_t *c, const json_t *req, ek_error_t **err);
json_t *ek__shim_wait(conn_t *c, const json_t *req, ek_error_t **err);
json_t *ek__shim_status(const json_t *req, ek_error_t **err);
json_t *ek__shim_list(void);
json_t *ek__shim_remove(const json_t *req, ek_error_t **err);
json_t *ek__shim_exec(conn_t *c, const json_t *req, int *fds, size_t nfds, ek_error_t **err);
json_t *ek__shim_exec_signal(conn_t *c, const json_t *req, ek_error_t **err);
/* Pod stop: the stop signal to every running container, SIGKILL after grace; answers on c
 * when none runs (then, with shutdown, tears the pod down and ends the loop). */
json_t *ek__shim_stop_all(conn_t *c, const json_t *req, bool shutdown, ek_error_t **err);

/* Sends {"event": status} to every subscribed connection. */
void ek__shim_broadcast(const ek_rt_status_t *st);

/* Loop services for the operations. */
void ek__shim_watch(void *w, int fd);
void ek__shim_unwatch(int fd);
void ek__shim_reply(conn_t *c, json_t *reply);
json_t *ek__shim_ok(void);
/* After a child exit: reap, record, answer waiters. */
void ek__shim_reap(void);
/* SIGKILL for containers past their grace; returns ms until the next deadline or -1. */
int ek__shim_timers(void);
/* Drains a container stream into its log (until EAGAIN, or EOF which closes it). */
void ek__shim_pump(stream_t *s, bool drain);
void ek__shim_forget_conn(conn_t *c);
/* Frees p once the current batch of events is handled (set its kind to 0 first). */
void ek__shim_defer_free(void *p);
/* Unmounts the pod's pins and removes cgroups: the pod is going away. */
void ek__shim_teardown(void);

#endif
