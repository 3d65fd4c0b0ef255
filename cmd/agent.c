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
#include <uv.h>

#include "cmd/cmd.h"
#include "node/node.h"
#include "server/server.h"

struct ek_cmd_agent_flags ek_cmd_agent_flags;
struct ek_cmd_health_flags ek_cmd_health_flags;

static char *data_dir = "/var/lib/edgek";
static char *server_url;
static char *kubeconfig;
static char *token;
static char *node_name;
static ek_strlist_t node_ips;
static char *cluster_cidr = "10.42.0.0/16";
static char *cluster_dns = "10.43.0.10";
static char *cluster_domain = "cluster.local";
static char *service_cidr = "10.43.0.0/16";

static const ek_flag_t agent_flags[] = {
    { "server", 's', EK_FLAG_STRING, &server_url, "EDGEK_URL", "URL",
      "the API server, https://HOST:6443 (default: the kubeconfig's)" },
    { "kubeconfig", 0, EK_FLAG_STRING, &kubeconfig, "EDGEK_AGENT_KUBECONFIG", "FILE",
      "credentials to talk to the API server with" },
    { "token", 't', EK_FLAG_STRING, &token, "EDGEK_TOKEN", "TOKEN",
      "join token (not supported yet: use --kubeconfig)" },
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "where the node's state lives (default /var/lib/edgek)" },
    { "node-name", 0, EK_FLAG_STRING, &node_name, "EDGEK_NODE_NAME", "NAME",
      "this node's name (default: the host name)" },
    { "node-ip", 0, EK_FLAG_LIST, &node_ips, NULL, "IP", "this node's address (repeatable)" },
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

void ek_cmd_worker_threads(void)
{
    setenv("UV_THREADPOOL_SIZE", "16", 0);
}

/* ---- kubeconfig ---- */

typedef struct creds {
    char *server, *ca, *cert, *key, *token;
    bool insecure;
} creds_t;

static void creds_clear(creds_t *c)
{
    free(c->server);
    free(c->ca);
    free(c->cert);
    free(c->key);
    free(c->token);
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
    int stopping;
};

static void on_stopped(void *data)
{
    struct agent_state *st = data;
    st->agent = NULL;
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct agent_state *st = h->data;
    if (st->stopping++) {
        EK_LOG(EK_WARN, "agent", "second signal: exiting now signal=%d", signum);
        exit(1);
    }
    EK_LOG(EK_INFO, "agent", "stopping signal=%d (pods keep running)", signum);
    ek_agent_stop(st->agent, on_stopped, st);
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

static int start(struct agent_state *st, ek_error_t **err)
{
    if (token) {
        return ek_error_make(err, 0,
                             "--token: joining with a token is not supported yet; "
                             "give the agent a --kubeconfig");
    }
    if (!kubeconfig) {
        return ek_error_make(err, 0,
                             "--kubeconfig is required (joining with a token comes "
                             "later)");
    }
    creds_t c = { 0 };
    int rc = -1;
    ek_autofree char *name = NULL, *cert = NULL, *key = NULL;
    if (load_kubeconfig(kubeconfig, &c, err) < 0) {
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
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    name = ek_xstrdup(node_name ? node_name : host);
    for (char *p = name; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    if (serving_cert(name, &cert, &key, err) < 0) {
        ek_api_client_free(client, NULL, NULL);
        goto out;
    }
    ek_agent_options_t o = {
        .data_dir = data_dir,
        .node_name = name,
        .node_ips = (const char *const *)node_ips.v,
        .n_node_ips = node_ips.n,
        .cluster_cidr = cluster_cidr,
        .cluster_dns = cluster_dns,
        .cluster_domain = cluster_domain,
        .service_cidr = service_cidr,
        .serving_cert_pem = cert,
        .serving_key_pem = key,
        .client_ca_pem = c.ca,
    };
    ek_cmd_agent_options(&o);
    rc = ek_agent_start(client, &o, &st->agent, err);
out:
    creds_clear(&c);
    return rc;
}

static int run_agent(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek agent: takes no arguments\n");
        return 2;
    }
    ek_cmd_worker_threads();
    struct agent_state st = { .loop = uv_default_loop() };
    ek_error_t *err = NULL;
    int rc = 0;
    if (start(&st, &err) < 0) {
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
