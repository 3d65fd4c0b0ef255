/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server/: the control plane — apiserver/ (REST API), auth/ (PKI, tokens, RBAC),
 * controllers/, scheduler/. This is the part's one public header.
 */
#ifndef EK_SERVER_SERVER_H
#define EK_SERVER_SERVER_H

#include "lib/lib.h"

/* ---- auth: PKI and credentials (server/auth/pki.c) ---- */

/* ---- the server process (server/apiserver/) ---- */

typedef struct ek_pki ek_pki_t;
typedef struct ek_apiserver ek_apiserver_t;

typedef struct ek_apiserver_options {
    const char *data_dir;          /* <data-dir>; the store lives in <data-dir>/server/db */
    const char *bind_address;      /* default "0.0.0.0" */
    int port;                      /* default 6443 */
    const char *service_cidr;      /* default 10.43.0.0/16 */
    const char *cluster_cidr;      /* default 10.42.0.0/16 */
    const char *cluster_dns;       /* default 10.43.0.10 */
    const char *cluster_domain;    /* default cluster.local */
    int node_port_min, node_port_max;
    int64_t volatile_flush_ms;
    size_t watch_window;           /* events kept per resource for watches from the past */
    int64_t event_ttl_s;           /* default 3600 */
    bool kv_no_sync;               /* benchmarks only */
} ek_apiserver_options_t;

/* Opens the store, loads the cache, creates first-start objects and starts serving HTTPS
 * with tls (borrowed; must outlive the server). Loop thread only. */
int ek_apiserver_start(uv_loop_t *loop, const ek_apiserver_options_t *opts, ek_pki_t *pki,
                       ek_tls_config_t *tls, ek_apiserver_t **out, ek_error_t **err);
/* The bound port (when 0 was asked). */
int ek_apiserver_port(const ek_apiserver_t *s);
/* Stops serving, ends watches, flushes and closes the store, then calls cb. */
void ek_apiserver_close(ek_apiserver_t *s, void (*cb)(void *data), void *data);

#endif
