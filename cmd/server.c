/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek server`: the control plane (API server on the SQLite store) in one process on one
 * libuv loop. First start creates the PKI, the join token and the admin kubeconfig; later
 * starts load them and write nothing. SIGINT/SIGTERM stop it cleanly.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "cmd/cmd.h"
#include "node/node.h"
#include "server/server.h"

static char *data_dir = "/var/lib/edgek";
static char *bind_address = "0.0.0.0";
static int port = 6443;
static ek_strlist_t tls_sans;
static char *kubeconfig = "/etc/edgek/edgek.yaml";
static char *token_flag;
static char *token_file;
static char *kubeconfig_mode = "0600";
static bool disable_agent;
static bool disable_scheduler;
static char *node_name;
static ek_strlist_t node_ips;
static char *cluster_cidr = "10.42.0.0/16";
static char *service_cidr = "10.43.0.0/16";
static char *cluster_dns = "10.43.0.10";
static char *cluster_domain = "cluster.local";
static char *node_port_range = "30000-32767";
static int64_t volatile_flush_ms = 300000;
static int64_t node_monitor_grace_ms = 40000;
static int64_t pod_eviction_ms = 300000;
static int sim_nodes;
static char *sim_cpu = "4";
static char *sim_memory = "8Gi";
static char *sim_pods = "110";

static const ek_flag_t server_flags[] = {
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "where the cluster's state lives (default /var/lib/edgek)" },
    { "bind-address", 0, EK_FLAG_STRING, &bind_address, NULL, "ADDR",
      "address the API server listens on (default 0.0.0.0)" },
    { "https-listen-port", 0, EK_FLAG_INT, &port, NULL, "PORT", "API server port (default 6443)" },
    { "tls-san", 0, EK_FLAG_LIST, &tls_sans, NULL, "NAME",
      "extra host name or IP in the serving certificate (repeatable)" },
    { "write-kubeconfig", 'o', EK_FLAG_STRING, &kubeconfig, "EDGEK_KUBECONFIG_OUTPUT", "FILE",
      "where to write the admin kubeconfig (default /etc/edgek/edgek.yaml)" },
    { "write-kubeconfig-mode", 0, EK_FLAG_STRING, &kubeconfig_mode, "EDGEK_KUBECONFIG_MODE", "MODE",
      "file mode of the kubeconfig (default 0600)" },
    { "token", 't', EK_FLAG_STRING, &token_flag, "EDGEK_TOKEN", "TOKEN",
      "the server token agents join with (default: <data-dir>/server/token, made at first start)" },
    { "token-file", 0, EK_FLAG_STRING, &token_file, "EDGEK_TOKEN_FILE", "FILE",
      "read the server token from FILE" },
    { "disable-agent", 0, EK_FLAG_BOOL, &disable_agent, NULL, NULL,
      "run the control plane only, without a local node" },
    { "disable-scheduler", 0, EK_FLAG_BOOL, &disable_scheduler, NULL, NULL,
      "do not run the scheduler (pods stay Pending unless another scheduler binds them)" },
    { "node-name", 0, EK_FLAG_STRING, &node_name, "EDGEK_NODE_NAME", "NAME",
      "this node's name (default: the host name)" },
    { "node-ip", 0, EK_FLAG_LIST, &node_ips, NULL, "IP", "this node's address (repeatable)" },
    { "cluster-cidr", 0, EK_FLAG_STRING, &cluster_cidr, NULL, "CIDR",
      "pod addresses (default 10.42.0.0/16)" },
    { "service-cidr", 0, EK_FLAG_STRING, &service_cidr, NULL, "CIDR",
      "Service cluster IPs (default 10.43.0.0/16)" },
    { "cluster-dns", 0, EK_FLAG_STRING, &cluster_dns, NULL, "IP",
      "cluster DNS address (default 10.43.0.10)" },
    { "cluster-domain", 0, EK_FLAG_STRING, &cluster_domain, NULL, "DOMAIN",
      "cluster domain (default cluster.local)" },
    { "service-node-port-range", 0, EK_FLAG_STRING, &node_port_range, NULL, "RANGE",
      "NodePort range (default 30000-32767)" },
    { "volatile-flush", 0, EK_FLAG_DURATION, &volatile_flush_ms, NULL, "DURATION",
      "longest delay before heartbeat-only writes reach the disk (default 5m)" },
    EK_CMD_AGENT_FLAGS,
    EK_CMD_HEALTH_FLAGS,
    EK_CMD_PROXY_FLAGS,
    { "node-monitor-grace-period", 0, EK_FLAG_DURATION, &node_monitor_grace_ms, NULL, "DURATION",
      "how long a node may go without a heartbeat before it is marked NotReady (default 40s)" },
    { "pod-eviction-timeout", 0, EK_FLAG_DURATION, &pod_eviction_ms, NULL, "DURATION",
      "how long new pods tolerate a not-ready or unreachable node before they are evicted "
      "(default 5m)" },
    { "simulate-nodes", 0, EK_FLAG_INT, &sim_nodes, NULL, "N",
      "register N simulated nodes that run nothing (tests and benchmarks only)" },
    { "simulate-node-cpu", 0, EK_FLAG_STRING, &sim_cpu, NULL, "CPU",
      "CPU capacity of each simulated node (default 4)" },
    { "simulate-node-memory", 0, EK_FLAG_STRING, &sim_memory, NULL, "MEM",
      "memory capacity of each simulated node (default 8Gi)" },
    { "simulate-node-pods", 0, EK_FLAG_STRING, &sim_pods, NULL, "N",
      "pod capacity of each simulated node (default 110)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

struct server_state {
    uv_loop_t *loop;
    ek_apiserver_t *api;
    ek_controllers_t *ctrls;
    ek_scheduler_t *sched;
    ek_simnodes_t *sim;
    ek_agent_t *agent;
    uv_signal_t sigint, sigterm;
    int stopping;
};

static void on_api_closed(void *data)
{
    struct server_state *st = data;
    st->api = NULL;
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
}

static void on_ctrls_stopped(void *data)
{
    struct server_state *st = data;
    st->ctrls = NULL;
    ek_apiserver_close(st->api, on_api_closed, st);
}

static void on_sched_stopped(void *data)
{
    struct server_state *st = data;
    st->sched = NULL;
    if (st->ctrls) {
        ek_controllers_stop(st->ctrls, on_ctrls_stopped, st);
    } else {
        ek_apiserver_close(st->api, on_api_closed, st);
    }
}

/* Shutdown runs in order: the local agent, simulated nodes, scheduler, controllers, then the API
 * server they talk to. */
static void on_sim_stopped(void *data)
{
    struct server_state *st = data;
    st->sim = NULL;
    if (st->sched) {
        ek_scheduler_stop(st->sched, on_sched_stopped, st);
    } else {
        on_sched_stopped(st);
    }
}

static void on_agent_stopped(void *data)
{
    struct server_state *st = data;
    st->agent = NULL;
    if (st->sim) {
        ek_simnodes_stop(st->sim, on_sim_stopped, st);
    } else {
        on_sim_stopped(st);
    }
}

/* Shutdown: the local agent first (its pods keep running), then the rest. */
static void on_signal(uv_signal_t *h, int signum)
{
    struct server_state *st = h->data;
    if (st->stopping++) {
        EK_LOG(EK_WARN, "server", "second signal: exiting now signal=%d", signum);
        exit(1);
    }
    EK_LOG(EK_INFO, "server", "stopping signal=%d", signum);
    if (st->agent) {
        ek_agent_stop(st->agent, on_agent_stopped, st);
    } else {
        on_agent_stopped(st);
    }
}

static int parse_mode(const char *s, mode_t *out, ek_error_t **err)
{
    char *end;
    long v = strtol(s, &end, 8);
    if (!*s || *end || v < 0 || v > 07777) {
        return ek_error_make(err, 0, "--write-kubeconfig-mode: `%s` is not an octal file mode", s);
    }
    *out = (mode_t)v;
    return 0;
}

static int parse_range(const char *s, int *lo, int *hi, ek_error_t **err)
{
    if (sscanf(s, "%d-%d", lo, hi) != 2 || *lo < 1 || *hi > 65535 || *lo > *hi) {
        return ek_error_make(err, 0, "--service-node-port-range: `%s` is not a port range", s);
    }
    return 0;
}

/* The node's name: --node-name, else the host name in lower case. Caller frees. */
static char *local_node_name(void)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    char *name = ek_xstrdup(node_name && *node_name ? node_name : host);
    for (char *p = name; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    return name;
}

/* The local agent talks to the API server in-process as its node, with a serving certificate
 * from the cluster CA. Until node authorization exists it is also in system:masters. */
static int start_agent(struct server_state *st, ek_pki_t *pki, ek_error_t **err)
{
    ek_autofree char *name = local_node_name();
    ek_autofree char *user = ek_xasprintf("system:node:%s", name);
    ek_autofree char *cert = NULL, *key = NULL;
    const char *sans[16] = { name, "localhost", "127.0.0.1" };
    size_t n = 3;
    for (size_t i = 0; i < node_ips.n && n < EK_ARRAY_SIZE(sans); i++) {
        sans[n++] = node_ips.v[i];
    }
    if (ek_pki_issue_serving_cert(pki, name, sans, n, 0, &cert, &key, err) < 0) {
        return -1;
    }
    static const char *const groups[] = { "system:nodes", "system:masters", NULL };
    ek_api_client_t *client = ek_apiserver_client(st->api, user, groups);
    ek_agent_options_t o = {
        .data_dir = data_dir,
        .node_name = name,
        .node_ips = (const char *const *)node_ips.v,
        .n_node_ips = node_ips.n,
        .control_plane = true,
        .cluster_cidr = cluster_cidr,
        .cluster_dns = cluster_dns,
        .cluster_domain = cluster_domain,
        .service_cidr = service_cidr,
        .serving_cert_pem = cert,
        .serving_key_pem = key,
        .client_ca_pem = ek_pki_ca_cert_pem(pki),
    };
    ek_cmd_agent_options(&o);
    return ek_agent_start(client, &o, &st->agent, err);
}

/*
 * Every client connection and watch is a file descriptor: the usual soft limit of 1,024 would
 * refuse connections long before memory runs short, so take the hard limit (as Go's runtime
 * does for kube-apiserver).
 */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        EK_LOG(EK_WARN, "server", "cannot read the open files limit err=\"%s\"", strerror(errno));
        return;
    }
    if (rl.rlim_cur == rl.rlim_max) {
        return;
    }
    rlim_t soft = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        EK_LOG(EK_WARN, "server",
               "cannot raise the open files limit soft=%llu hard=%llu err=\"%s\"",
               (unsigned long long)soft, (unsigned long long)rl.rlim_max, strerror(errno));
    }
}

/* The server token: --token / --token-file when given (and then kept in the token file),
 * else the token file, created at first start. *token: caller frees. */
static int server_token(ek_pki_t *pki, char **token, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/server/token", data_dir);
    if (!token_flag && !token_file) {
        return ek_pki_token_load_or_create(pki, path, token, err);
    }
    ek_autofree char *from_file = NULL;
    if (!token_flag) {
        from_file = ek_file_read(token_file, 4096, NULL, err);
        if (!from_file) {
            return ek_error_wrap(err, "--token-file");
        }
    }
    return ek_pki_token_set(pki, path, token_flag ? token_flag : from_file, token, err);
}

static int start(struct server_state *st, ek_pki_t **pki_out, ek_tls_config_t **tls_out,
                 ek_error_t **err)
{
    mode_t mode = 0600;
    int lo = 30000, hi = 32767;
    if (parse_mode(kubeconfig_mode, &mode, err) < 0 ||
        parse_range(node_port_range, &lo, &hi, err) < 0) {
        return -1;
    }
    ek_autofree char *tls_dir = ek_xasprintf("%s/server/tls", data_dir);
    ek_pki_options_t po = {
        .dir = tls_dir,
        .node_name = node_name,
        .node_ips = (const char *const *)node_ips.v,
        .n_node_ips = node_ips.n,
        .tls_sans = (const char *const *)tls_sans.v,
        .n_tls_sans = tls_sans.n,
        .cluster_domain = cluster_domain,
    };
    if (ek_pki_load_or_create(&po, pki_out, err) < 0) {
        return ek_error_wrap(err, "cluster certificates");
    }
    ek_autofree char *token = NULL;
    if (server_token(*pki_out, &token, err) < 0) {
        return -1;
    }
    *tls_out = ek_tls_server_config_new(
        ek_pki_serving_cert_pem(*pki_out), ek_pki_serving_key_pem(*pki_out),
        ek_pki_ca_cert_pem(*pki_out), EK_TLS_CLIENT_CERT_OPTIONAL, err);
    if (!*tls_out) {
        return ek_error_wrap(err, "TLS configuration");
    }
    ek_apiserver_options_t ao = {
        .data_dir = data_dir,
        .bind_address = bind_address,
        .port = port,
        .service_cidr = service_cidr,
        .cluster_cidr = cluster_cidr,
        .cluster_dns = cluster_dns,
        .cluster_domain = cluster_domain,
        .node_port_min = lo,
        .node_port_max = hi,
        .volatile_flush_ms = volatile_flush_ms,
        .token = token,
        /* Whole seconds, rounded up: a toleration of 0 s would mean "evict at once". */
        .default_toleration_s = (pod_eviction_ms + 999) / 1000,
    };
    if (ek_apiserver_start(st->loop, &ao, *pki_out, *tls_out, &st->api, err) < 0) {
        return -1;
    }
    /* The controllers talk to the API server in-process, as the control plane's own user. */
    static const char *const ctrl_groups[] = { "system:masters", NULL };
    ek_api_client_t *client =
        ek_apiserver_client(st->api, "system:kube-controller-manager", ctrl_groups);
    ek_controllers_options_t co = {
        .node_monitor_grace_ms = node_monitor_grace_ms,
        .pod_eviction_ms = pod_eviction_ms,
        .root_ca_pem = ek_pki_ca_cert_pem(*pki_out),
        .cluster_cidr = cluster_cidr,
        .pki = *pki_out,
    };
    if (ek_controllers_start(client, &co, &st->ctrls, err) < 0) {
        return ek_error_wrap(err, "start the controllers");
    }
    if (!disable_scheduler) {
        static const char *const sched_groups[] = { "system:masters", NULL };
        ek_api_client_t *schc = ek_apiserver_client(st->api, "system:kube-scheduler", sched_groups);
        if (ek_scheduler_start(schc, NULL, &st->sched, err) < 0) {
            return ek_error_wrap(err, "start the scheduler");
        }
    }
    if (sim_nodes > 0) {
        static const char *const sim_groups[] = { "system:nodes", "system:masters", NULL };
        /* Simulated kubelets renew their Leases as real ones do: every 10 s, or a quarter of
         * a shortened grace period so that they are not taken for dead between renewals. */
        ek_simnodes_options_t so = { .count = sim_nodes,
                                     .cpu = sim_cpu,
                                     .memory = sim_memory,
                                     .pods = sim_pods,
                                     .lease_ms =
                                         EK_MAX(100, EK_MIN(10000, node_monitor_grace_ms / 4)) };
        ek_api_client_t *sc = ek_apiserver_client(st->api, "system:node:simulated", sim_groups);
        if (ek_simnodes_start(sc, &so, &st->sim, err) < 0) {
            return ek_error_wrap(err, "start the simulated nodes");
        }
    }
    if (!disable_agent && start_agent(st, *pki_out, err) < 0) {
        return ek_error_wrap(err, "start the local agent");
    }
    const char *host = strcmp(bind_address, "0.0.0.0") == 0 || strcmp(bind_address, "::") == 0
                           ? "127.0.0.1"
                           : bind_address;
    ek_autofree char *url = ek_xasprintf("https://%s:%d", host, ek_apiserver_port(st->api));
    if (ek_pki_write_kubeconfig(*pki_out, kubeconfig, mode, url, NULL, err) < 0) {
        return ek_error_wrap(err, "write the kubeconfig");
    }
    EK_LOG(EK_INFO, "server", "kubeconfig written path=%s", kubeconfig);
    return 0;
}

static int run_server(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek server: takes no arguments\n");
        return 2;
    }
    ek_error_t *ferr = NULL;
    if (ek_cmd_agent_flags_check(&ferr) < 0) {
        return ek_cmd_fail(ferr);
    }
    ek_cmd_worker_threads();
    struct server_state st = { .loop = uv_default_loop() };
    raise_nofile();
    ek_error_t *err = NULL;
    ek_pki_t *pki = NULL;
    ek_tls_config_t *tls = NULL;
    int rc = 0;
    if (start(&st, &pki, &tls, &err) < 0) {
        rc = ek_cmd_fail(err);
        /* What did start stops in the usual order: the controllers' in-process client must
         * not outlive the API server. */
        uv_signal_init(st.loop, &st.sigint);
        uv_signal_init(st.loop, &st.sigterm);
        st.stopping = 1;
        if (st.agent) {
            ek_agent_stop(st.agent, on_agent_stopped, &st);
        } else if (st.api) {
            on_agent_stopped(&st);
        } else {
            uv_close((uv_handle_t *)&st.sigint, NULL);
            uv_close((uv_handle_t *)&st.sigterm, NULL);
        }
        uv_run(st.loop, UV_RUN_DEFAULT);
    } else {
        uv_signal_init(st.loop, &st.sigint);
        uv_signal_init(st.loop, &st.sigterm);
        st.sigint.data = st.sigterm.data = &st;
        uv_signal_start(&st.sigint, on_signal, SIGINT);
        uv_signal_start(&st.sigterm, on_signal, SIGTERM);
        uv_run(st.loop, UV_RUN_DEFAULT);
        EK_LOG(EK_INFO, "server", "stopped");
    }
    if (tls) {
        ek_tls_config_unref(tls);
    }
    ek_pki_free(pki);
    uv_loop_close(st.loop);
    return rc;
}

const ek_cmd_t ek_cmd_server = {
    .name = "server",
    .summary = "run the control plane (API server on SQLite, controllers) and a local node",
    .usage = "",
    .flags = server_flags,
    .run = run_server,
    .default_config = "/etc/edgek/config.yaml",
};
