/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek dns-test`: a test tool, hidden from help. It runs the agent's cluster DNS server
 * (net/dns) alone, fed from a file of Kubernetes objects (YAML or JSON; Namespaces, Services,
 * EndpointSlices, Pods; `---`-separated documents or a List) instead of informers, so e2e
 * tests and benchmarks can query it with real DNS clients without a cluster. SIGHUP reloads
 * the file (objects gone from it are deleted, as informer deletes would); SIGINT/SIGTERM stop.
 *
 *   edgek dns-test --records objs.yaml --listen 127.0.0.53:53 --upstream 127.0.0.1:5300
 *
 * Once listening it prints one line `ready port=<port of the first listener>` on stdout.
 */
#include <signal.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "net/net.h"

static char *records_path, *resolv_conf, *domain;
static ek_strlist_t listen_addrs, upstreams, dns_ips;
static int ttl, timeout_ms, cache_max_ttl;

static const ek_flag_t dns_test_flags[] = {
    { "records", 0, EK_FLAG_STRING, &records_path, NULL, "FILE",
      "Kubernetes objects to serve (YAML/JSON documents or a List)" },
    { "listen", 0, EK_FLAG_LIST, &listen_addrs, NULL, "IP:PORT",
      "listen on UDP and TCP (repeatable; default 127.0.0.1:53)" },
    { "upstream", 0, EK_FLAG_LIST, &upstreams, NULL, "IP[:PORT]",
      "forward other names there (repeatable; default: the resolv.conf's nameservers)" },
    { "resolv-conf", 0, EK_FLAG_STRING, &resolv_conf, NULL, "FILE",
      "take upstreams from this file when --upstream is not given" },
    { "cluster-domain", 0, EK_FLAG_STRING, &domain, NULL, "DOMAIN",
      "cluster domain (default cluster.local)" },
    { "cluster-dns", 0, EK_FLAG_LIST, &dns_ips, NULL, "IP", "address(es) of ns.dns.<domain>" },
    { "ttl", 0, EK_FLAG_INT, &ttl, NULL, "S", "TTL of cluster answers (default 5)" },
    { "upstream-timeout-ms", 0, EK_FLAG_INT, &timeout_ms, NULL, "MS",
      "per-try upstream timeout (default 2000)" },
    { "cache-max-ttl", 0, EK_FLAG_INT, &cache_max_ttl, NULL, "S",
      "cap on cached TTLs (default 30)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

struct state {
    uv_loop_t *loop;
    ek_dns_t *dns;
    json_t *objects; /* what was loaded last, to delete on reload */
    uv_signal_t sigint, sigterm, sighup;
};

/* The objects in the file as one flat array (documents, and the items of any List). */
static json_t *load_objects(const char *path, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = ek_file_read(path, 64 << 20, &len, err);
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

static void delete_object(ek_dns_t *d, const json_t *obj)
{
    const char *kind = ek_json_str(obj, "kind", NULL);
    if (ek_streq(kind, "Namespace")) {
        ek_dns_namespace_delete(d, obj);
    } else if (ek_streq(kind, "Service")) {
        ek_dns_service_delete(d, obj);
    } else if (ek_streq(kind, "EndpointSlice")) {
        ek_dns_endpointslice_delete(d, obj);
    } else if (ek_streq(kind, "Pod")) {
        ek_dns_pod_delete(d, obj);
    }
}

static int load(struct state *st, ek_error_t **err)
{
    json_t *objs = load_objects(records_path, err);
    if (!objs) {
        return -1;
    }
    size_t i;
    json_t *o;
    if (st->objects) {
        json_array_foreach (st->objects, i, o) {
            delete_object(st->dns, o);
        }
        json_decref(st->objects);
    }
    st->objects = objs;
    json_array_foreach (objs, i, o) {
        if (ek_dns_object_upsert(st->dns, o, err) < 0) {
            return ek_error_wrap(err, "object %zu", i);
        }
    }
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct state *st = h->data;
    if (signum == SIGHUP) {
        ek_error_t *err = NULL;
        if (records_path && load(st, &err) < 0) {
            EK_LOG(EK_ERROR, "dns", "reload failed: %s", ek_error_msg(err));
            ek_error_free(err);
        }
        return;
    }
    uv_close((uv_handle_t *)&st->sigint, NULL);
    uv_close((uv_handle_t *)&st->sigterm, NULL);
    uv_close((uv_handle_t *)&st->sighup, NULL);
    ek_dns_close(st->dns, NULL, NULL);
}

static int start(struct state *st, ek_error_t **err)
{
    ek_strlist_t from_file = { 0 };
    if (upstreams.n == 0 && ek_dns_resolv_conf(resolv_conf ? resolv_conf : "/etc/resolv.conf",
                                               &from_file, resolv_conf ? err : NULL) < 0) {
        return -1;
    }
    ek_dns_config_t cfg = {
        .domain = domain,
        .ttl = (uint32_t)(ttl > 0 ? ttl : 0),
        .upstreams = upstreams.n ? &upstreams : &from_file,
        .upstream_timeout_ms = (uint32_t)(timeout_ms > 0 ? timeout_ms : 0),
        .cache_max_ttl = (uint32_t)(cache_max_ttl > 0 ? cache_max_ttl : 0),
        .ns_ips = &dns_ips,
    };
    st->dns = ek_dns_new(st->loop, &cfg, err);
    ek_strlist_free(&from_file);
    if (!st->dns) {
        return -1;
    }
    if (records_path && load(st, err) < 0) {
        return -1;
    }
    if (listen_addrs.n == 0) {
        ek_strlist_add(&listen_addrs, "127.0.0.1:53");
    }
    for (size_t i = 0; i < listen_addrs.n; i++) {
        if (ek_dns_listen(st->dns, listen_addrs.v[i], err) < 0) {
            return -1;
        }
    }
    printf("ready port=%d\n", ek_dns_listen_port(st->dns, 0));
    fflush(stdout);
    return 0;
}

static int run_dns_test(int nargs, char **argv)
{
    struct state st = { .loop = uv_default_loop() };
    ek_error_t *err = NULL;
    if (start(&st, &err) < 0) {
        ek_dns_close(st.dns, NULL, NULL);
        uv_run(st.loop, UV_RUN_DEFAULT);
        json_decref(st.objects);
        return ek_cmd_fail(err);
    }
    uv_signal_init(st.loop, &st.sigint);
    uv_signal_init(st.loop, &st.sigterm);
    uv_signal_init(st.loop, &st.sighup);
    st.sigint.data = st.sigterm.data = st.sighup.data = &st;
    uv_signal_start(&st.sigint, on_signal, SIGINT);
    uv_signal_start(&st.sigterm, on_signal, SIGTERM);
    uv_signal_start(&st.sighup, on_signal, SIGHUP);
    uv_run(st.loop, UV_RUN_DEFAULT);
    json_decref(st.objects);
    int rc = uv_loop_close(st.loop) == 0 ? 0 : 1;
    ek_strlist_free(&listen_addrs);
    return rc;
}

const ek_cmd_t ek_cmd_dns_test = {
    .name = "dns-test",
    .summary = "test tool: serve cluster DNS from a file of Kubernetes objects",
    .usage = "",
    .flags = dns_test_flags,
    .run = run_dns_test,
    .hidden = true,
};
