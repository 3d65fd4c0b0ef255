/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the service proxy's reading of Services and EndpointSlices (net/proxy
 * model and rules) on arbitrary JSON. Input: one object or an array of objects. Each is
 * upserted (bad ones must fail with 400 and a message), the whole ruleset is written as an nft
 * script (every chain and element the rules produce), then every object is deleted and the
 * script must be back to the empty table's. Nothing touches the kernel: the proxy is never
 * started.
 */
#include <uv.h>

#include "net/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!in) {
        return 0;
    }
    if (!json_is_array(in)) {
        json_t *a = json_array();
        json_array_append_new(a, in);
        in = a;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    ek_strlist_t ips = { 0 };
    ek_strlist_add(&ips, "192.168.60.1");
    ek_proxy_config_t cfg = { .node_name = "n1",
                              .node_ips = &ips,
                              .cluster_cidr = "10.42.0.0/16",
                              .service_cidr = "10.43.0.0/16",
                              .netns_fd = -1 };
    ek_proxy_t *p = ek_proxy_new(&loop, &cfg, NULL);
    ek_assert(p);
    char *empty = ek_proxy_ruleset_script(p);
    size_t i;
    json_t *o;
    json_array_foreach (in, i, o) {
        ek_error_t *err = NULL;
        if (ek_proxy_object_upsert(p, o, &err) < 0) {
            ek_assert(err && err->status == 400 && err->msg && *err->msg);
            ek_error_free(err);
        }
    }
    free(ek_proxy_ruleset_script(p));
    json_array_foreach (in, i, o) {
        ek_proxy_object_delete(p, o);
    }
    char *after = ek_proxy_ruleset_script(p);
    ek_assert(strcmp(empty, after) == 0);
    free(empty);
    free(after);
    ek_proxy_close(p, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    ek_strlist_free(&ips);
    json_decref(in);
    return 0;
}
