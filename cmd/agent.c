/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek agent`: a node on its own, talking HTTPS to `--server` with the credentials of a
 * `--kubeconfig` file (joining with a token comes next). Its kubelet endpoint serves a
 * certificate from a CA of the agent's own (<data-dir>/agent/tls), which the API server does
 * not verify, and accepts clients of the cluster CA named in the kubeconfig. SIGINT/SIGTERM
 * stop the agent; pods keep running and the next agent adopts them. Also the node flags
 * shared with `edgek server`'s local agent.
 */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <uv.h>

#include "cmd/cmd.h"
#include "net/net.h"
#include "node/node.h"
#include "server/server.h"

struct ek_cmd_agent_flags ek_cmd_agent_flags;
struct ek_cmd_health_flags ek_cmd_health_flags;

static char *data_dir = "/var/lib/edgek";
static char *server_url;
static char *kubeconfig;
static char *token;
static char *token_file;
static char *node_name;
static ek_strlist_t node_ips;
static ek_strlist_t external_ips;
static ek_strlist_t node_taints;
static bool with_node_id;
static int64_t renew_after_ms;
static char *cluster_cidr = "10.42.0.0/16";
static char *cluster_dns = "10.43.0.10";
static char *cluster_domain = "cluster.local";
static char *service_cidr = "10.43.0.0/16";
static bool cleanup;

static const ek_flag_t agent_flags[] = {
    { "cleanup", 0, EK_FLAG_BOOL, &cleanup, NULL, NULL,
      "remove what the agent put into the host's network (bridge ek0, ek.vxlan, pod veths, "
      "edgek's routes, tables ip edgek and ip edgek-proxy), then exit; stop pods first" },
    { "server", 's', EK_FLAG_STRING, &server_url, "EDGEK_URL", "URL",
      "the API server, https://HOST:6443 (default: the kubeconfig's)" },
    { "kubeconfig", 0, EK_FLAG_STRING, &kubeconfig, "EDGEK_AGENT_KUBECONFIG", "FILE",
      "credentials to talk to the API server with" },
    { "join", 0, EK_FLAG_STRING, &server_url, NULL, "URL", "alias of --server" },
    { "token", 't', EK_FLAG_STRING, &token, "EDGEK_TOKEN", "TOKEN",
      "join token (K10<CA hash>::server:<secret> or a `edgek token create` token)" },
    { "token-file", 0, EK_FLAG_STRING, &token_file, "EDGEK_TOKEN_FILE", "FILE",
      "read the join token from FILE" },
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "where the node's state lives (default /var/lib/edgek)" },
    { "node-name", 0, EK_FLAG_STRING, &node_name, "EDGEK_NODE_NAME", "NAME",
      "this node's name (default: the host name)" },
    { "node-ip", 0, EK_FLAG_LIST, &node_ips, NULL, "IP", "this node's address (repeatable)" },
    { "node-external-ip", 0, EK_FLAG_LIST, &external_ips, NULL, "IP",
      "this node's external address (repeatable)" },
    { "node-taint", 0, EK_FLAG_LIST, &node_taints, NULL, "KEY[=VALUE]:EFFECT",
      "a taint the node registers with (repeatable)" },
    { "cert-renew-after", 0, EK_FLAG_DURATION, &renew_after_ms, NULL, "DURATION",
      "renew the joined node's certificate this long after obtaining it (default: two thirds "
      "into its validity)" },
    { "with-node-id", 0, EK_FLAG_BOOL, &with_node_id, NULL, NULL,
      "append a random id, kept in <data-dir>/agent/node-id, to the node name" },
    { "cluster-cidr", 0, EK_FLAG_STRING, &cluster_cidr, NULL, "CIDR",
      "pod addresses of the cluster (default 10.42.0.0/16)" },
    { "cluster-dns", 0, EK_FLAG_STRING, &cluster_dns, NULL, "IP",
      "cluster DNS address (default 10.43.0.10)" },
    { "service-cidr", 0, EK_FLAG_STRING, &service_cidr, NULL, "CIDR",
      "Service addresses of the cluster, as the server's (default 10.43.0.0/16)" },
    { "cluster-domain", 0, EK_FLAG_STRING, &cluster_domain, NULL, "DOMAIN",
      "cluster domain (default cluster.local)" },
    EK_CMD_AGENT_FLAGS,
    EK_CMD_HEALTH_FLAGS,
    EK_CMD_PROXY_FLAGS,
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

void ek_cmd_agent_options(struct ek_agent_options *o)
{
    struct ek_cmd_agent_flags *f = &ek_cmd_agent_flags;
    o->node_labels = (const char *const *)f->node_labels.v;
    o->n_node_labels = f->node_labels.n;
    o->resolv_conf = f->resolv_conf;
    o->runtime_dir = f->runtime_dir;
    o->pod_log_dir = f->pod_log_dir;
    o->cgroup_parent = f->cgroup_parent;
    o->cgroup_nested = f->cgroup_nested;
    o->kubelet_port = f->kubelet_port;
    o->pod_max_pids = f->pod_max_pids;
    o->max_pods = f->max_pods;
    o->pod_network_backend = f->pod_network_backend;
    struct ek_cmd_health_flags *h = &ek_cmd_health_flags;
    o->eviction_hard = h->eviction_hard;
    o->image_gc_high = h->image_gc_high;
    o->image_gc_low = h->image_gc_low;
    o->image_gc_min_age_ms = h->image_min_age_ms;
    o->housekeeping_ms = h->housekeeping_ms;
    o->offline_after_ms = h->offline_after_ms;
    o->disable_proxy = f->disable_kube_proxy;
    o->proxy_metrics_addr = f->proxy_metrics_addr;
}

int ek_cmd_agent_flags_check(ek_error_t **err)
{
    ek_podnet_backend_t b;
    const char *s = ek_cmd_agent_flags.pod_network_backend;
    return s ? ek_podnet_backend_parse(s, &b, err) : 0;
}

void ek_cmd_worker_threads(void)
{
    setenv("UV_THREADPOOL_SIZE", "16", 0);
}

/* ---- kubeconfig ---- */

typedef struct creds {
    char *server, *ca, *cert, *key, *token;
    char *agent_cert, *agent_key; /* the node services' identity (joined agents) */
    bool insecure;
} creds_t;

static void creds_clear(creds_t *c)
{
    free(c->server);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->token);
    free(c->agent_cert);
    free(c->agent_key);
}

static const json_t *named(const json_t *list, const char *name, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        if (!name || ek_streq(ek_json_str(e, "name", NULL), name)) {
            return json_object_get(e, field);
        }
    }
    return NULL;
}

/* The PEM of `<field>-data` (base64) or of the file `<field>`. Caller frees. */
static char *pem(const json_t *obj, const char *field, ek_error_t **err)
{
    ek_autofree char *dkey = ek_xasprintf("%s-data", field);
    const char *data = ek_json_str(obj, dkey, NULL);
    if (data) {
        size_t len;
        char *d = ek_base64_decode(data, &len);
        if (!d) {
            ek_error_make(err, 0, "%s is not base64", dkey);
        }
        return d;
    }
    const char *file = ek_json_str(obj, field, NULL);
    return file ? ek_file_read(file, 1 << 20, NULL, err) : NULL;
}

static int load_kubeconfig(const char *path, creds_t *c, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = ek_file_read(path, 1 << 20, &len, err);
    ek_auto(json_t) kc = text ? ek_yaml_to_json(text, len, err) : NULL;
    if (!kc) {
        return ek_error_wrap(err, "kubeconfig `%s`", path);
    }
    const char *cur = ek_json_str(kc, "current-context", NULL);
    const json_t *ctx = named(json_object_get(kc, "contexts"), cur, "context");
    const json_t *cluster =
        named(json_object_get(kc, "clusters"), ek_json_str(ctx, "cluster", NULL), "cluster");
    const json_t *user =
        named(json_object_get(kc, "users"), ek_json_str(ctx, "user", NULL), "user");
    if (!cluster) {
        return ek_error_make(err, 0, "kubeconfig `%s`: no cluster for its current context", path);
    }
    c->server = ek_xstrdup(ek_json_str(cluster, "server", NULL) ?: "");
    c->insecure = ek_json_bool(cluster, false, "insecure-skip-tls-verify", NULL);
    c->ca = pem(cluster, "certificate-authority", err);
    c->cert = pem(user, "client-certificate", err);
    c->key = pem(user, "client-key", err);
    c->token =
        ek_json_str(user, "token", NULL) ? ek_xstrdup(ek_json_str(user, "token", NULL)) : NULL;
    if (err && *err) {
        return ek_error_wrap(err, "kubeconfig `%s`", path);
    }
    return 0;
}

/* ---- the agent ---- */

struct agent_state {
    uv_loop_t *loop;
    ek_agent_t *agent;
    uv_signal_t sigint, sigterm;
    uv_timer_t renew_timer;
    uv_work_t renew_work;
    int64_t renew_at; /* Unix seconds; 0 = credentials not from a join */
    bool renew, renewing, renew_ok;
    int stopping;
};

static void on_renew_timer(uv_timer_t *t);

static void on_stopped(void *data)
{
    struct agent_state *st = data;
    st->agent = NULL;
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->renew_timer, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent_state *st = h->data;
    if (st->stopping++) {
        EK_LOG(EK_WARN, "agent", "second signal: exiting now signal=%d", signum);
        exit(1);
    }
    EK_LOG(EK_INFO, "agent", "stopping signal=%d (pods keep running)", signum);
    uv_timer_stop(&st->renew_timer);
    if (st->agent) {
        ek_agent_stop(st->agent, on_stopped, st);
    } else {
        on_stopped(st);
    }
}

/* A serving certificate for the kubelet endpoint from the agent's own CA. */
static int serving_cert(const char *name, char **cert, char **key, ek_error_t **err)
{
    ek_autofree char *dir = ek_xasprintf("%s/agent/tls", data_dir);
    ek_pki_options_t po = { .dir = dir,
                            .node_name = name,
                            .node_ips = (const char *const *)node_ips.v,
                            .n_node_ips = node_ips.n };
    ek_auto(ek_pki_t) pki = NULL;
    if (ek_pki_load_or_create(&po, &pki, err) < 0) {
        return ek_error_wrap(err, "the agent's certificates");
    }
    const char *sans[16] = { name, "localhost", "127.0.0.1" };
    size_t n = 3;
    for (size_t i = 0; i < node_ips.n && n < EK_ARRAY_SIZE(sans); i++) {
        sans[n++] = node_ips.v[i];
    }
    return ek_pki_issue_serving_cert(pki, name, sans, n, 0, cert, key, err);
}

/* The node name: --node-name or the host name, with --with-node-id its id appended (made
 * once, kept in <data-dir>/agent/node-id, as k3s does). Caller frees. */
static char *agent_node_name(ek_error_t **err)
{
    char *name = ek_cmd_node_name(node_name);
    if (!with_node_id) {
        return name;
    }
    ek_autofree char *path = ek_xasprintf("%s/agent/node-id", data_dir);
    ek_autofree char *id = ek_file_read(path, 64, NULL, NULL);
    if (id) {
        id[strcspn(id, "\r\n")] = 0;
    }
    if (!id || !*id) {
        unsigned char raw[4];
        ek_random_bytes(raw, sizeof(raw));
        free(id);
        id = ek_xasprintf("%02x%02x%02x%02x", raw[0], raw[1], raw[2], raw[3]);
        ek_autofree char *dir = ek_xasprintf("%s/agent", data_dir);
        ek_autofree char *line = ek_xasprintf("%s\n", id);
        if (ek_mkdir_p(dir, 0700, err) < 0 ||
            ek_file_write_atomic(path, line, strlen(line), 0600, err) < 0) {
            free(name);
            return NULL;
        }
    }
    char *full = ek_xasprintf("%s-%s", name, id);
    free(name);
    return full;
}

/* Credentials: --kubeconfig, else a join with --server and the token (node/bootstrap.c). */
static int credentials(struct agent_state *st, const char *name, creds_t *c, ek_error_t **err)
{
    if (kubeconfig) {
        return load_kubeconfig(kubeconfig, c, err);
    }
    if (!server_url) {
        return ek_error_make(err, 0,
                             "--server (or --join) with --token, or --kubeconfig, is "
                             "required");
    }
    ek_autofree char *tok = ek_cmd_join_token(token, token_file, err);
    if (err && *err) {
        return -1;
    }
    ek_autofree char *dir = ek_xasprintf("%s/agent", data_dir);
    ek_join_options_t o = { .server = server_url, .token = tok, .node_name = name, .dir = dir };
    ek_join_creds_t jc;
    int rc = st->renew ? ek_join_renew(&o, &jc, err) : ek_join(&o, &jc, err);
    if (tok) {
        explicit_bzero(tok, strlen(tok));
    }
    if (rc < 0) {
        return ek_error_wrap(err, "join %s", server_url);
    }
    c->server = ek_xstrdup(server_url);
    c->ca = ek_steal(&jc.ca_pem);
    c->cert = ek_steal(&jc.cert_pem);
    c->key = ek_steal(&jc.key_pem);
    c->agent_cert = ek_steal(&jc.agent_cert_pem);
    c->agent_key = ek_steal(&jc.agent_key_pem);
    st->renew_at = ek_join_renew_at(jc.not_before, jc.not_after);
    ek_join_creds_clear(&jc);
    return 0;
}

static int start(struct agent_state *st, ek_error_t **err)
{
    creds_t c = { 0 };
    int rc = -1;
    ek_autofree char *name = agent_node_name(err), *cert = NULL, *key = NULL;
    if (!name) {
        return -1;
    }
    for (size_t i = 0; i < node_taints.n; i++) {
        json_t *t = ek_agent_taint_parse(node_taints.v[i], err);
        if (!t) {
            return ek_error_wrap(err, "--node-taint");
        }
        json_decref(t);
    }
    if (credentials(st, name, &c, err) < 0) {
        goto out;
    }
    const char *url = server_url ? server_url : c.server;
    ek_tls_config_t *tls = ek_tls_client_config_new(c.ca, c.cert, c.key, c.insecure, err);
    ek_api_client_t *client = tls ? ek_api_client_https(st->loop, url, tls, c.token, err) : NULL;
    if (tls) {
        ek_tls_config_unref(tls);
    }
    if (!client) {
        ek_error_wrap(err, "API client for %s", url);
        goto out;
    }
    /* The node services' own identity (a joined agent has one: see node/bootstrap.c). */
    ek_api_client_t *svc = NULL;
    if (c.agent_cert) {
        ek_tls_config_t *stls =
            ek_tls_client_config_new(c.ca, c.agent_cert, c.agent_key, false, err);
        svc = stls ? ek_api_client_https(st->loop, url, stls, NULL, err) : NULL;
        if (stls) {
            ek_tls_config_unref(stls);
        }
        if (!svc) {
            ek_api_client_free(client, NULL, NULL);
            ek_error_wrap(err, "API client for the node services");
            goto out;
        }
    }
    if (serving_cert(name, &cert, &key, err) < 0) {
        ek_api_client_free(client, NULL, NULL);
        if (svc) {
            ek_api_client_free(svc, NULL, NULL);
        }
        goto out;
    }
    ek_agent_options_t o = {
        .data_dir = data_dir,
        .node_name = name,
        .node_ips = (const char *const *)node_ips.v,
        .n_node_ips = node_ips.n,
        .node_taints = (const char *const *)node_taints.v,
        .n_node_taints = node_taints.n,
        .external_ips = (const char *const *)external_ips.v,
        .n_external_ips = external_ips.n,
        .cluster_cidr = cluster_cidr,
        .cluster_dns = cluster_dns,
        .cluster_domain = cluster_domain,
        .service_cidr = service_cidr,
        .serving_cert_pem = cert,
        .serving_key_pem = key,
        .client_ca_pem = c.ca,
        .services_client = svc,
    };
    ek_cmd_agent_options(&o);
    rc = ek_agent_start(client, &o, &st->agent, err);
    if (rc == 0 && st->renew_at) {
        int64_t in_ms =
            renew_after_ms > 0 ? renew_after_ms : (st->renew_at - (int64_t)time(NULL)) * 1000;
        uv_timer_start(&st->renew_timer, on_renew_timer, in_ms > 1000 ? (uint64_t)in_ms : 1000, 0);
    }
out:
    creds_clear(&c);
    return rc;
}

/* ---- renewal: new credentials on a worker thread, then the agent restarts with them (its
 * pods keep running, as across any agent restart) ---- */

static void renew_work(uv_work_t *w)
{
    struct agent_state *st = w->data;
    ek_autofree char *tok = ek_cmd_join_token(token, token_file, NULL);
    ek_autofree char *name = agent_node_name(NULL);
    ek_autofree char *dir = ek_xasprintf("%s/agent", data_dir);
    ek_join_options_t o = { .server = server_url, .token = tok, .node_name = name, .dir = dir };
    ek_join_creds_t jc;
    ek_error_t *err = NULL;
    st->renew_ok = ek_join_renew(&o, &jc, &err) == 0;
    if (!st->renew_ok) {
        EK_LOG(EK_WARN, "agent", "renewing the node certificate failed (retry in 1 min) err=\"%s\"",
               ek_error_msg(err));
        ek_error_free(err);
    }
    ek_join_creds_clear(&jc);
}

static void on_restarted_stop(void *data)
{
    struct agent_state *st = data;
    st->agent = NULL;
    ek_error_t *err = NULL;
    if (start(st, &err) < 0) {
        EK_LOG(EK_ERROR, "agent", "restart with renewed credentials failed err=\"%s\"",
               ek_error_msg(err));
        ek_error_free(err);
        uv_timer_start(&st->renew_timer, on_renew_timer, 10000, 0);
    }
}

static void renew_done(uv_work_t *w, int status)
{
    struct agent_state *st = w->data;
    st->renewing = false;
    if (st->stopping) {
        return;
    }
    if (status != 0 || !st->renew_ok) {
        uv_timer_start(&st->renew_timer, on_renew_timer, 60000, 0);
        return;
    }
    EK_LOG(EK_INFO, "agent", "node certificate renewed: reconnecting with it");
    if (st->agent) {
        ek_agent_stop(st->agent, on_restarted_stop, st);
    } else {
        on_restarted_stop(st);
    }
}

static void on_renew_timer(uv_timer_t *t)
{
    struct agent_state *st = t->data;
    if (st->renewing || st->stopping) {
        return;
    }
    st->renewing = true;
    st->renew_work.data = st;
    uv_queue_work(st->loop, &st->renew_work, renew_work, renew_done);
}

static int run_agent(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek agent: takes no arguments\n");
        return 2;
    }
    ek_error_t *ferr = NULL;
    if (ek_cmd_agent_flags_check(&ferr) < 0) {
        return ek_cmd_fail(ferr);
    }
    if (cleanup) {
        /* What uninstall/killall scripts call: touches only edgek's own links, routes
         * (protocol EK_RTPROT_EDGEK) and tables; every step is idempotent. */
        ek_podnet_config_t cfg = { .data_dir = data_dir, .netns_fd = -1 };
        if (ek_podnet_cleanup(&cfg, &ferr) < 0 || ek_proxy_cleanup(-1, EK_PROXY_TABLE, &ferr) < 0) {
            return ek_cmd_fail(ferr);
        }
        printf("edgek agent: pod network and service proxy rules removed\n");
        return 0;
    }
    ek_cmd_worker_threads();
    struct agent_state st = { .loop = uv_default_loop() };
    uv_timer_init(st.loop, &st.renew_timer);
    st.renew_timer.data = &st;
    ek_error_t *err = NULL;
    int rc = 0;
    if (start(&st, &err) < 0) {
        uv_close((uv_handle_t *)&st.renew_timer, NULL);
        rc = ek_cmd_fail(err);
    } else {
        uv_signal_init(st.loop, &st.sigint);
        uv_signal_init(st.loop, &st.sigterm);
        st.sigint.data = st.sigterm.data = &st;
        uv_signal_start(&st.sigint, on_signal, SIGINT);
        uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    }
    uv_run(st.loop, UV_RUN_DEFAULT);
    EK_LOG(EK_INFO, "agent", "stopped");
    uv_loop_close(st.loop);
    return rc;
}

const ek_cmd_t ek_cmd_agent = {
    .name = "agent",
    .summary = "run a node (kubelet, runtime, pod network) for a cluster's API server",
    .usage = "",
    .flags = agent_flags,
    .run = run_agent,
    .default_config = "/etc/edgek/config.yaml",
};
