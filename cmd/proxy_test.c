/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek proxy-test`: a test tool, hidden from help. It runs the agent's service proxy
 * (net/proxy) alone, fed from a file of Kubernetes objects (YAML or JSON; Services and
 * EndpointSlices; `---`-separated documents or a List) instead of informers, in the network
 * namespace given, so e2e tests and benchmarks can send real traffic through its rules without
 * a cluster. SIGHUP reloads the file (objects gone from it are deleted, as informer deletes
 * would); SIGUSR1 asks for a full rebuild; SIGINT/SIGTERM stop (the table stays, as with the
 * agent; --cleanup removes it and exits).
 *
 *   edgek proxy-test --objects objs.yaml --netns /run/netns/n1 --node-name n1 \
 *       --node-ip 192.168.60.1 --cluster-cidr 10.42.0.0/16 --service-cidr 10.43.0.0/16
 *
 * After every sync it prints one line on stdout:
 *   synced full=1 messages=123 chains=.. rules=.. elements=.. plan_ms=.. apply_ms=..
 * or `sync-failed err=...`; --metrics-listen IP:PORT serves the proxy's /metrics.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "net/net.h"

static char *objects_path, *netns_path, *node_name, *cluster_cidr, *service_cidr, *table;
static char *metrics_listen;
static ek_strlist_t node_ips;
static int min_sync_ms, stale_chain_ms;
static bool cleanup, print_script;

static const ek_flag_t proxy_test_flags[] = {
    { "objects", 0, EK_FLAG_STRING, &objects_path, NULL, "FILE",
      "Services and EndpointSlices (YAML/JSON documents or a List)" },
    { "netns", 0, EK_FLAG_STRING, &netns_path, NULL, "PATH", "the node's netns (default: own)" },
    { "node-name", 0, EK_FLAG_STRING, &node_name, NULL, "NAME", "this node (Local policies)" },
    { "node-ip", 0, EK_FLAG_LIST, &node_ips, NULL, "IP",
      "NodePorts answer here (repeatable; default: every local address)" },
    { "cluster-cidr", 0, EK_FLAG_STRING, &cluster_cidr, NULL, "CIDR", "the pod range" },
    { "service-cidr", 0, EK_FLAG_STRING, &service_cidr, NULL, "CIDR", "the ClusterIP range" },
    { "table", 0, EK_FLAG_STRING, &table, NULL, "NAME", "nftables table (default edgek-proxy)" },
    { "min-sync-ms", 0, EK_FLAG_INT, &min_sync_ms, NULL, "MS", "coalescing delay (default 10)" },
    { "stale-chain-ms", 0, EK_FLAG_INT, &stale_chain_ms, NULL, "MS",
      "delay before unused chains are deleted (default 1000)" },
    { "metrics-listen", 0, EK_FLAG_STRING, &metrics_listen, NULL, "IP:PORT", "serve /metrics" },
    { "print-script", 0, EK_FLAG_BOOL, &print_script, NULL, NULL,
      "print the ruleset as an nft script and exit" },
    { "cleanup", 0, EK_FLAG_BOOL, &cleanup, NULL, NULL, "remove the table and exit" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

struct state {
    uv_loop_t *loop;
    ek_proxy_t *proxy;
    ek_http_server_t *http;
    json_t *objects; /* what was loaded last, to delete on reload */
    uv_signal_t sigs[4];
};

static json_t *load_objects(const char *path, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = ek_file_read(path, 256 << 20, &len, err);
    if (!text) {
        return NULL;
    }
    ek_auto(json_t) docs = ek_yaml_to_json_docs(text, len, err);
    if (!docs) {
        ek_error_wrap(err, "%s", path);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *doc;
    json_array_foreach (docs, i, doc) {
        json_t *items = ek_json_path(doc, "items", NULL);
        if (json_is_array(items)) {
            json_array_extend(out, items);
        } else if (json_is_object(doc)) {
            json_array_append(out, doc);
        }
    }
    return out;
}

static char *obj_id(const json_t *o)
{
    return ek_xasprintf("%s/%s/%s", ek_json_str(o, "kind", NULL) ?: "",
                        ek_json_str(o, "metadata", "namespace", NULL) ?: "",
                        ek_json_str(o, "metadata", "name", NULL) ?: "");
}

/* Deletes what the file no longer has, then upserts everything it has. */
static int load(struct state *st, ek_error_t **err)
{
    json_t *objs = load_objects(objects_path, err);
    if (!objs) {
        return -1;
    }
    ek_map_t now = EK_MAP_INIT;
    size_t i;
    json_t *o;
    json_array_foreach (objs, i, o) {
        ek_autofree char *id = obj_id(o);
        ek_map_put(&now, id, o);
    }
    json_array_foreach (st->objects, i, o) {
        ek_autofree char *id = obj_id(o);
        if (!ek_map_get(&now, id)) {
            ek_proxy_object_delete(st->proxy, o);
        }
    }
    ek_map_free(&now);
    json_decref(st->objects);
    st->objects = objs;
    json_array_foreach (objs, i, o) {
        if (ek_proxy_object_upsert(st->proxy, o, err) < 0) {
            return ek_error_wrap(err, "object %zu", i);
        }
    }
    return 0;
}

static void on_sync(const ek_proxy_stats_t *s, const ek_error_t *err, void *data)
{
    if (err) {
        printf("sync-failed err=\"%s\"\n", ek_error_msg(err));
    } else {
        printf("synced full=%d messages=%zu services=%zu endpoints=%zu chains=%zu rules=%zu "
               "elements=%zu sets=%zu plan_ms=%.2f apply_ms=%.2f\n",
               s->last_full, s->last_messages, s->services, s->endpoints, s->chains, s->rules,
               s->elements, s->sets, s->last_plan_ms, s->last_apply_ms);
    }
    fflush(stdout);
}

static void on_metrics(ek_http_req_t *req, void *data)
{
    struct state *st = data;
    if (strcmp(req->path, "/metrics") != 0) {
        ek_http_respond(req, 404, "text/plain", "not found\n", 10);
        return;
    }
    ek_buf_t body = EK_BUF_INIT;
    ek_proxy_metrics(st->proxy, &body);
    ek_http_respond_buf(req, 200, "text/plain; version=0.0.4", &body);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct state *st = h->data;
    ek_error_t *err = NULL;
    if (signum == SIGHUP) {
        if (load(st, &err) < 0) {
            printf("reload-failed err=\"%s\"\n", ek_error_msg(err));
            fflush(stdout);
            ek_error_free(err);
        }
        return;
    }
    if (signum == SIGUSR1) {
        ek_proxy_resync(st->proxy);
        return;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(st->sigs); i++) {
        uv_close((uv_handle_t *)&st->sigs[i], NULL);
    }
    if (st->http) {
        ek_http_server_close(st->http, NULL, NULL);
    }
    ek_proxy_close(st->proxy, NULL, NULL);
}

static int start_metrics(struct state *st, ek_error_t **err)
{
    char host[64];
    int port;
    if (sscanf(metrics_listen, "%63[^:]:%d", host, &port) != 2) {
        return ek_error_make(err, EINVAL, "bad --metrics-listen `%s`", metrics_listen);
    }
    ek_http_server_options_t o = { .host = host, .port = port, .handler = on_metrics, .data = st };
    return ek_http_server_start(st->loop, &o, &st->http, err);
}

static int start(struct state *st, int netns_fd, ek_error_t **err)
{
    ek_proxy_config_t cfg = {
        .node_name = node_name,
        .node_ips = &node_ips,
        .cluster_cidr = cluster_cidr,
        .service_cidr = service_cidr,
        .netns_fd = netns_fd,
        .table = table,
        .min_sync_ms = (uint32_t)(min_sync_ms > 0 ? min_sync_ms : 0),
        .stale_chain_ms = (uint32_t)(stale_chain_ms > 0 ? stale_chain_ms : 0),
    };
    st->proxy = ek_proxy_new(st->loop, &cfg, err);
    if (!st->proxy || (objects_path && load(st, err) < 0)) {
        return -1;
    }
    if (print_script) {
        ek_autofree char *s = ek_proxy_ruleset_script(st->proxy);
        fputs(s, stdout);
        return 1;
    }
    if (metrics_listen && start_metrics(st, err) < 0) {
        return -1;
    }
    ek_proxy_on_sync(st->proxy, on_sync, st);
    ek_proxy_start(st->proxy);
    return 0;
}

static int run_proxy_test(int nargs, char **argv)
{
    ek_error_t *err = NULL;
    ek_autoclose int netns_fd = -1;
    if (netns_path && (netns_fd = open(netns_path, O_RDONLY | O_CLOEXEC)) < 0) {
        ek_error_make(&err, errno, "open `%s`", netns_path);
        return ek_cmd_fail(err);
    }
    if (cleanup) {
        if (ek_proxy_cleanup(netns_fd, table, &err) < 0) {
            return ek_cmd_fail(err);
        }
        return 0;
    }
    struct state st = { .loop = uv_default_loop() };
    int rc = start(&st, netns_fd, &err);
    if (rc != 0) {
        ek_proxy_close(st.proxy, NULL, NULL);
        uv_run(st.loop, UV_RUN_DEFAULT);
        json_decref(st.objects);
        return rc < 0 ? ek_cmd_fail(err) : 0;
    }
    static const int signums[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
    for (size_t i = 0; i < EK_ARRAY_SIZE(st.sigs); i++) {
        uv_signal_init(st.loop, &st.sigs[i]);
        st.sigs[i].data = &st;
        uv_signal_start(&st.sigs[i], on_signal, signums[i]);
    }
    uv_run(st.loop, UV_RUN_DEFAULT);
    json_decref(st.objects);
    rc = uv_loop_close(st.loop) == 0 ? 0 : 1;
    ek_strlist_free(&node_ips);
    return rc;
}

const ek_cmd_t ek_cmd_proxy_test = {
    .name = "proxy-test",
    .summary = "test tool: run the service proxy from a file of Kubernetes objects",
    .usage = "",
    .flags = proxy_test_flags,
    .run = run_proxy_test,
    .hidden = true,
};
