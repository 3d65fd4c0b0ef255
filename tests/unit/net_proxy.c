/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net/proxy: the rules each kind of Service gets, read back from the kernel as `nft list table
 * ip edgek-proxy` prints them (ClusterIP, named target ports, NodePort, LoadBalancer and
 * external IPs, both traffic policies, session affinity, no endpoints, terminating endpoints,
 * protocols, headless and ExternalName left alone), kube-proxy's chain names, incremental
 * syncs that send only what changed (counted in netlink messages), stale chains deleted later,
 * addresses two services claim, a full resync giving the very table the increments built, UDP
 * flows moved off a removed endpoint (conntrack), /metrics, and other tables left alone.
 *
 * Each test unshares a network namespace of its own: nothing touches the host's ruleset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>

#include "net/proxy/proxy-internal.h"
#include "tests/unit/test.h"

/* ---- fixture ---- */

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t guard;
    ek_proxy_t *p;
    int syncs;
    ek_proxy_stats_t st;
    char err[512];
} fx_t;

static void on_sync(const ek_proxy_stats_t *st, const ek_error_t *err, void *data)
{
    fx_t *f = data;
    f->syncs++;
    f->st = *st;
    snprintf(f->err, sizeof(f->err), "%s", err ? ek_error_msg(err) : "");
    uv_stop(&f->loop);
}

static void new_netns(void)
{
    if (geteuid() != 0) {
        ek_test_skip("needs root to create network namespaces");
    }
    if (unshare(CLONE_NEWNET) < 0) {
        ek_test_skip("cannot create a network namespace: %s", strerror(errno));
    }
    ek_test_need_nftables();
    ASSERT_EQ(system("ip link set lo up"), 0);
}

static void fx_init_cfg(fx_t *f, const char *node, uint32_t stale_ms, bool node_ips)
{
    memset(f, 0, sizeof(*f));
    new_netns();
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    ek_strlist_t ips = { 0 };
    ek_strlist_add(&ips, "192.168.60.1");
    ek_proxy_config_t cfg = { .node_name = node,
                              .node_ips = node_ips ? &ips : NULL,
                              .cluster_cidr = "10.42.0.0/16",
                              .service_cidr = "10.43.0.0/16",
                              .netns_fd = -1,
                              .min_sync_ms = 1,
                              .stale_chain_ms = stale_ms };
    ek_error_t *err = NULL;
    f->p = ek_proxy_new(&f->loop, &cfg, &err);
    ASSERT_OK(f->p ? 0 : -1, &err);
    ek_strlist_free(&ips);
    ek_proxy_on_sync(f->p, on_sync, f);
}

static void fx_init(fx_t *f)
{
    fx_init_cfg(f, "n1", 0, true);
}

static json_t *docs(const char *yaml)
{
    ek_error_t *err = NULL;
    json_t *d = ek_yaml_to_json_docs(yaml, strlen(yaml), &err);
    ASSERT_OK(d ? 0 : -1, &err);
    return d;
}

static void apply(fx_t *f, const char *yaml)
{
    ek_auto(json_t) d = docs(yaml);
    size_t i;
    json_t *o;
    json_array_foreach (d, i, o) {
        ek_error_t *err = NULL;
        ASSERT_OK(ek_proxy_object_upsert(f->p, o, &err), &err);
    }
}

static void delete_objs(fx_t *f, const char *yaml)
{
    ek_auto(json_t) d = docs(yaml);
    size_t i;
    json_t *o;
    json_array_foreach (d, i, o) {
        ek_proxy_object_delete(f->p, o);
    }
}

static void on_guard(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until the next sync reports (5 s at most); asserts it succeeded. */
static void sync_wait(fx_t *f)
{
    int before = f->syncs;
    ek_proxy_start(f->p);
    uv_timer_init(&f->loop, &f->guard);
    uv_timer_start(&f->guard, on_guard, 5000, 0);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&f->guard, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    ASSERT_CMP(f->syncs, >, before);
    ASSERT_STREQ(f->err, "");
}

/* Runs the loop for ms, counting syncs (for "nothing happens" checks). */
static int run_for(fx_t *f, uint64_t ms)
{
    int before = f->syncs;
    uint64_t end = ek_now_ms() + ms;
    while (ek_now_ms() < end) {
        uv_timer_init(&f->loop, &f->guard);
        uv_timer_start(&f->guard, on_guard, end - ek_now_ms(), 0);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        uv_close((uv_handle_t *)&f->guard, NULL);
        uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    return f->syncs - before;
}

static void fx_close(fx_t *f)
{
    ek_proxy_close(f->p, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&f->loop), 0);
}

/* ---- reading the kernel's table ---- */

static char *run_cmd(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    ek_buf_t buf = EK_BUF_INIT;
    char line[4096];
    while (fgets(line, sizeof(line), p)) {
        ek_buf_puts(&buf, line);
    }
    pclose(p);
    return ek_buf_steal(&buf, NULL);
}

static char *table(void)
{
    return run_cmd("nft list table ip edgek-proxy 2>&1");
}

/* The rules of a chain, one per line without indentation ("" for an empty chain, NULL when
 * the chain does not exist). Caller frees. */
static char *chain_rules(const char *listing, const char *chain)
{
    ek_autofree char *head = ek_xasprintf("\tchain %s {\n", chain);
    const char *s = strstr(listing, head);
    if (!s) {
        return NULL;
    }
    s += strlen(head);
    ek_buf_t out = EK_BUF_INIT;
    while (*s && strncmp(s, "\t}", 2) != 0) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        while (len && *s == '\t') {
            s++, len--;
        }
        if (len && strncmp(s, "type ", 5) != 0) {
            ek_buf_append(&out, s, len);
            ek_buf_putc(&out, '\n');
        }
        s += len + (nl ? 1 : 0);
    }
    return ek_buf_steal(&out, NULL);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A map's or set's elements, sorted, one per line ("" when empty). Caller frees. */
static char *elements(const char *listing, const char *map)
{
    ek_autofree char *head = ek_xasprintf("map %s {\n", map);
    const char *s = strstr(listing, head);
    if (!s) {
        free(head);
        head = ek_xasprintf("set %s {\n", map);
        s = strstr(listing, head);
    }
    ASSERT_NOT_NULL(s);
    const char *end = strstr(s, "\n\t}");
    const char *el = strstr(s, "elements = {");
    if (!el || el > end) {
        return ek_xstrdup("");
    }
    el += strlen("elements = {");
    const char *close = strstr(el, "}\n");
    ek_autofree char *body = ek_xstrndup(el, (size_t)(close - el));
    char *items[256];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(body, ",", &save); tok && n < 256;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t' || *tok == '\n') {
            tok++;
        }
        size_t len = strlen(tok);
        while (len && (tok[len - 1] == ' ' || tok[len - 1] == '\n' || tok[len - 1] == '\t')) {
            tok[--len] = '\0';
        }
        items[n++] = tok;
    }
    qsort(items, n, sizeof(*items), cmp_str);
    ek_buf_t out = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_buf_printf(&out, "%s\n", items[i]);
    }
    return ek_buf_steal(&out, NULL);
}

#define ASSERT_CHAIN(listing, chain, want)                    \
    do {                                                      \
        ek_autofree char *got_ = chain_rules(listing, chain); \
        ASSERT_STREQ(got_, want);                             \
    } while (0)
#define ASSERT_ELEMS(listing, map, want)                 \
    do {                                                 \
        ek_autofree char *got_ = elements(listing, map); \
        ASSERT_STREQ(got_, want);                        \
    } while (0)

/* ---- objects ---- */

/* A ClusterIP service with a named target port: the slice carries the resolved number. */
static const char WEB[] = "apiVersion: v1\n"
                          "kind: Service\n"
                          "metadata: {name: web, namespace: demo}\n"
                          "spec:\n"
                          "  clusterIP: 10.43.0.50\n"
                          "  ports: [{name: http, port: 80, targetPort: http}]\n"
                          "---\n"
                          "apiVersion: discovery.k8s.io/v1\n"
                          "kind: EndpointSlice\n"
                          "metadata: {name: web-1, namespace: demo,\n"
                          "           labels: {kubernetes.io/service-name: web}}\n"
                          "addressType: IPv4\n"
                          "ports: [{name: http, port: 8080, protocol: TCP}]\n"
                          "endpoints:\n"
                          "- {addresses: [10.42.1.5], nodeName: n1}\n"
                          "- {addresses: [10.42.2.7], nodeName: n2, conditions: {ready: true}}\n"
                          "- {addresses: [10.42.1.9], nodeName: n1, conditions: {ready: false}}\n";

TEST(proxy_chain_names_are_kube_proxys)
{
    /* The examples in kube-proxy's nftables proxier. */
    ek_autofree char *svc = ek__chain_name("service-", "ns1/svc1/tcp/p80");
    ek_autofree char *ep = ek__chain_name("endpoint-", "ns1/svc1/tcp/p80__10.180.0.1/80");
    ASSERT_STREQ(svc, "service-ULMVA6XW-ns1/svc1/tcp/p80");
    ASSERT_STREQ(ep, "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80");
}

/* Chain names as kube-proxy derives them. Caller frees. */
static char *svc_chain(const char *prefix, const char *base)
{
    return ek__chain_name(prefix, base);
}

static char *ep_chain(const char *base, const char *ep)
{
    ek_autofree char *n = ek_xasprintf("%s__%s", base, ep);
    return ek__chain_name("endpoint-", n);
}

TEST(proxy_rules_clusterip)
{
    fx_t f;
    fx_init(&f);
    apply(&f, WEB);
    sync_wait(&f);
    ASSERT_TRUE(f.st.last_full);
    ek_autofree char *t = table();
    ek_autofree char *svc = svc_chain("service-", "demo/web/tcp/http");
    ek_autofree char *e1 = ep_chain("demo/web/tcp/http", "10.42.1.5/8080");
    ek_autofree char *e2 = ep_chain("demo/web/tcp/http", "10.42.2.7/8080");
    ek_autofree char *want = ek_xasprintf(
        "ip daddr 10.43.0.50 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "numgen random mod 2 0 goto %s\n"
        "goto %s\n",
        e1, e2);
    ASSERT_CHAIN(t, svc, want);
    /* Named target port: the endpoint's number comes from the slice. */
    ASSERT_CHAIN(t, e1,
                 "ip saddr 10.42.1.5 jump mark-for-masquerade\n"
                 "meta l4proto tcp dnat to 10.42.1.5:8080\n");
    ASSERT_TRUE(strstr(t, "10.42.1.9") == NULL); /* not ready: no chain */
    ek_autofree char *el = ek_xasprintf("10.43.0.50 . tcp . 80 : goto %s\n", svc);
    ASSERT_ELEMS(t, "service-ips", el);
    ASSERT_ELEMS(t, "cluster-ips", "10.43.0.50\n");
    ASSERT_ELEMS(t, "service-nodeports", "");
    ASSERT_ELEMS(t, "no-endpoint-services", "");
    ASSERT_TRUE(strstr(t, "external-") == NULL && strstr(t, "local-") == NULL);
    /* The static part, as kube-proxy's (plus TCP resets, see reject-chain). */
    ASSERT_CHAIN(t, "services",
                 "ip daddr . meta l4proto . th dport vmap @service-ips\n"
                 "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n");
    ASSERT_CHAIN(t, "masquerading",
                 "meta mark & 0x00004000 == 0x00000000 return\n"
                 "meta mark set meta mark & 0xffffbfff\n"
                 "masquerade fully-random\n");
    ASSERT_CHAIN(t, "reject-chain", "reject with tcp reset\nreject\n");
    ASSERT_CHAIN(t, "cluster-ips-check",
                 "ip daddr @cluster-ips goto reject-chain\nip daddr 10.43.0.0/16 drop\n");
    ASSERT_EQ(f.st.services, 1);
    ASSERT_EQ(f.st.endpoints, 2);
    fx_close(&f);
}

static const char LB[] =
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: lb, namespace: demo}\n"
    "spec:\n"
    "  type: LoadBalancer\n"
    "  clusterIP: 10.43.0.60\n"
    "  externalIPs: [203.0.113.50]\n"
    "  ports: [{name: http, port: 80, nodePort: 30080}]\n"
    "status: {loadBalancer: {ingress: [{ip: 192.168.60.1}, {ip: 192.168.60.2, ipMode: VIP},\n"
    "                                  {ip: 198.51.100.7, ipMode: Proxy}]}}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: lb-1, namespace: demo, labels: {kubernetes.io/service-name: lb}}\n"
    "addressType: IPv4\n"
    "ports: [{name: http, port: 80}]\n"
    "endpoints:\n"
    "- {addresses: [10.42.1.5], nodeName: n1}\n"
    "- {addresses: [10.42.2.7], nodeName: n2}\n";

TEST(proxy_rules_nodeport_loadbalancer_external_ips)
{
    fx_t f;
    fx_init(&f);
    apply(&f, LB);
    sync_wait(&f);
    ek_autofree char *t = table();
    ek_autofree char *svc = svc_chain("service-", "demo/lb/tcp/http");
    ek_autofree char *ext = svc_chain("external-", "demo/lb/tcp/http");
    /* Cluster policy: the endpoint may be on another node, so external traffic is marked. */
    ek_autofree char *want = ek_xasprintf("jump mark-for-masquerade\ngoto %s\n", svc);
    ASSERT_CHAIN(t, ext, want);
    ek_autofree char *el = ek_xasprintf("10.43.0.60 . tcp . 80 : goto %s\n"
                                        "192.168.60.1 . tcp . 80 : goto %s\n"
                                        "192.168.60.2 . tcp . 80 : goto %s\n"
                                        "203.0.113.50 . tcp . 80 : goto %s\n",
                                        svc, ext, ext, ext);
    ASSERT_ELEMS(t, "service-ips", el); /* ipMode Proxy is the load balancer's to handle */
    ek_autofree char *np = ek_xasprintf("tcp . 30080 : goto %s\n", ext);
    ASSERT_ELEMS(t, "service-nodeports", np);
    ASSERT_ELEMS(t, "nodeport-ips", "192.168.60.1\n");
    fx_close(&f);
}

static const char LOCAL[] =
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: loc, namespace: demo}\n"
    "spec:\n"
    "  type: NodePort\n"
    "  clusterIP: 10.43.0.70\n"
    "  externalTrafficPolicy: Local\n"
    "  ports: [{port: 80, nodePort: 30081}]\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: loc-1, namespace: demo, labels: {kubernetes.io/service-name: loc}}\n"
    "addressType: IPv4\n"
    "ports: [{port: 80}]\n"
    "endpoints:\n"
    "- {addresses: [10.42.1.5], nodeName: n1}\n"
    "- {addresses: [10.42.2.7], nodeName: n2}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: itl, namespace: demo}\n"
    "spec:\n"
    "  clusterIP: 10.43.0.80\n"
    "  internalTrafficPolicy: Local\n"
    "  ports: [{port: 80}]\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: itl-1, namespace: demo, labels: {kubernetes.io/service-name: itl}}\n"
    "addressType: IPv4\n"
    "ports: [{port: 80}]\n"
    "endpoints:\n"
    "- {addresses: [10.42.1.5], nodeName: n1}\n"
    "- {addresses: [10.42.2.7], nodeName: n2}\n";

TEST(proxy_rules_traffic_policies)
{
    ek_autofree char *svc = svc_chain("service-", "demo/loc/tcp/");
    ek_autofree char *loc = svc_chain("local-", "demo/loc/tcp/");
    ek_autofree char *ext = svc_chain("external-", "demo/loc/tcp/");
    ek_autofree char *e1 = ep_chain("demo/loc/tcp/", "10.42.1.5/80");
    ek_autofree char *e2 = ep_chain("demo/loc/tcp/", "10.42.2.7/80");
    ek_autofree char *iloc = svc_chain("local-", "demo/itl/tcp/");
    ek_autofree char *isvc = svc_chain("service-", "demo/itl/tcp/");
    ek_autofree char *ie1 = ep_chain("demo/itl/tcp/", "10.42.1.5/80");

    fx_t f;
    fx_init_cfg(&f, "n1", 0, true); /* a node with one endpoint of each service */
    apply(&f, LOCAL);
    sync_wait(&f);
    ek_autofree char *t = table();
    ek_autofree char *w1 = ek_xasprintf(
        "ip daddr 10.43.0.70 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "numgen random mod 2 0 goto %s\n"
        "goto %s\n",
        e1, e2);
    ASSERT_CHAIN(t, svc, w1); /* ClusterIP traffic still uses every endpoint */
    ek_autofree char *w2 = ek_xasprintf("goto %s\n", e1);
    ASSERT_CHAIN(t, loc, w2);
    /* Pods and the node itself are not subject to the policy; everyone else keeps their
     * address and reaches only this node's endpoints. */
    ek_autofree char *w3 = ek_xasprintf("ip saddr 10.42.0.0/16 goto %s\n"
                                        "fib saddr type local jump mark-for-masquerade\n"
                                        "fib saddr type local goto %s\n"
                                        "goto %s\n",
                                        svc, svc, loc);
    ASSERT_CHAIN(t, ext, w3);
    /* internalTrafficPolicy Local: the ClusterIP leads to this node's endpoints only. */
    ek_autofree char *w4 = ek_xasprintf(
        "ip daddr 10.43.0.80 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "goto %s\n",
        ie1);
    ASSERT_CHAIN(t, iloc, w4);
    ASSERT_TRUE(chain_rules(t, isvc) == NULL);
    ek_autofree char *el = ek_xasprintf("10.43.0.70 . tcp . 80 : goto %s\n"
                                        "10.43.0.80 . tcp . 80 : goto %s\n",
                                        svc, iloc);
    ASSERT_ELEMS(t, "service-ips", el);
    fx_close(&f);

    /* A node without local endpoints: external traffic from outside is dropped (not
     * rejected: the service has endpoints elsewhere), ClusterIP traffic with
     * internalTrafficPolicy Local too. */
    fx_init_cfg(&f, "n3", 0, true);
    apply(&f, LOCAL);
    sync_wait(&f);
    ek_autofree char *t3 = table();
    ek_autofree char *w5 = ek_xasprintf("ip saddr 10.42.0.0/16 goto %s\n"
                                        "fib saddr type local jump mark-for-masquerade\n"
                                        "fib saddr type local goto %s\n",
                                        svc, svc);
    ASSERT_CHAIN(t3, ext, w5);
    ASSERT_TRUE(chain_rules(t3, loc) == NULL);
    ek_autofree char *np = ek_xasprintf("tcp . 30081 : goto %s\n", ext);
    ASSERT_ELEMS(t3, "service-nodeports", np);
    ASSERT_ELEMS(t3, "no-endpoint-nodeports", "tcp . 30081 : drop\n");
    ASSERT_ELEMS(t3, "no-endpoint-services", "10.43.0.80 . tcp . 80 : drop\n");
    fx_close(&f);
}

static const char MISC[] =
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: none, namespace: demo}\n"
    "spec: {type: NodePort, clusterIP: 10.43.0.90, ports: [{port: 80, nodePort: 30082}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: term, namespace: demo}\n"
    "spec: {clusterIP: 10.43.0.91, ports: [{port: 80}]}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: term-1, namespace: demo, labels: {kubernetes.io/service-name: term}}\n"
    "addressType: IPv4\n"
    "ports: [{port: 80}]\n"
    "endpoints:\n"
    "- addresses: [10.42.1.5]\n"
    "  conditions: {ready: false, serving: true, terminating: true}\n"
    "- addresses: [10.42.2.7]\n"
    "  conditions: {ready: false, serving: false, terminating: true}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: aff, namespace: demo}\n"
    "spec:\n"
    "  clusterIP: 10.43.0.100\n"
    "  sessionAffinity: ClientIP\n"
    "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n"
    "  ports: [{name: dns, port: 53, protocol: UDP}, {name: sctp, port: 9, protocol: SCTP}]\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: aff-1, namespace: demo, labels: {kubernetes.io/service-name: aff}}\n"
    "addressType: IPv4\n"
    "ports: [{name: dns, port: 5353, protocol: UDP}, {name: sctp, port: 9, protocol: SCTP}]\n"
    "endpoints: [{addresses: [10.42.1.5]}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: hl, namespace: demo}\n"
    "spec: {clusterIP: None, ports: [{port: 80}]}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: xn, namespace: demo}\n"
    "spec: {type: ExternalName, externalName: example.com}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Service\n"
    "metadata: {name: other, namespace: demo,\n"
    "           labels: {service.kubernetes.io/service-proxy-name: someone-else}}\n"
    "spec: {clusterIP: 10.43.0.110, ports: [{port: 80}]}\n"
    "---\n"
    "apiVersion: discovery.k8s.io/v1\n"
    "kind: EndpointSlice\n"
    "metadata: {name: hl-1, namespace: demo, labels: {kubernetes.io/service-name: hl}}\n"
    "addressType: IPv4\n"
    "ports: [{port: 80}]\n"
    "endpoints: [{addresses: [10.42.1.6]}]\n";

TEST(proxy_rules_no_endpoints_terminating_affinity_protocols)
{
    fx_t f;
    fx_init(&f);
    apply(&f, MISC);
    sync_wait(&f);
    ek_autofree char *t = table();
    /* No endpoints at all: refused, on the ClusterIP and on the NodePort. */
    ASSERT_ELEMS(t, "no-endpoint-services", "10.43.0.90 . tcp . 80 : goto reject-chain\n");
    ASSERT_ELEMS(t, "no-endpoint-nodeports", "tcp . 30082 : goto reject-chain\n");
    ASSERT_TRUE(strstr(t, "demo/none/") == NULL);
    /* None ready: the serving terminating endpoint takes the traffic. */
    ek_autofree char *tsvc = svc_chain("service-", "demo/term/tcp/");
    ek_autofree char *te1 = ep_chain("demo/term/tcp/", "10.42.1.5/80");
    ek_autofree char *w1 = ek_xasprintf(
        "ip daddr 10.43.0.91 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "goto %s\n",
        te1);
    ASSERT_CHAIN(t, tsvc, w1);
    /* ClientIP affinity: a known client goes back to its endpoint; UDP and SCTP. */
    ek_autofree char *asvc = svc_chain("service-", "demo/aff/udp/dns");
    ek_autofree char *ae = ep_chain("demo/aff/udp/dns", "10.42.1.5/5353");
    ek_autofree char *aset = ek_xasprintf("affinity-%s", ae + strlen("endpoint-"));
    ek_autofree char *w2 = ek_xasprintf(
        "ip daddr 10.43.0.100 udp dport 53 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "ip saddr @%s goto %s\n"
        "goto %s\n",
        aset, ae, ae);
    ASSERT_CHAIN(t, asvc, w2);
    ek_autofree char *w3 = ek_xasprintf("ip saddr 10.42.1.5 jump mark-for-masquerade\n"
                                        "update @%s { ip saddr }\n"
                                        "meta l4proto udp dnat to 10.42.1.5:5353\n",
                                        aset);
    ASSERT_CHAIN(t, ae, w3);
    ek_autofree char *setdef = ek_xasprintf("set %s {\n\t\ttype ipv4_addr\n\t\tsize 65535\n"
                                            "\t\tflags dynamic,timeout\n\t\ttimeout 1m\n",
                                            aset);
    ASSERT_CONTAINS(t, setdef);
    ek_autofree char *se = ep_chain("demo/aff/sctp/sctp", "10.42.1.5/9");
    ek_autofree char *w4 = ek_xasprintf("ip saddr 10.42.1.5 jump mark-for-masquerade\n"
                                        "update @affinity-%s { ip saddr }\n"
                                        "meta l4proto sctp dnat to 10.42.1.5:9\n",
                                        se + strlen("endpoint-"));
    ASSERT_CHAIN(t, se, w4);
    ASSERT_CONTAINS(t, "10.43.0.100 . sctp . 9 : goto service-");
    /* Left alone: headless, ExternalName, another proxy's. */
    ASSERT_TRUE(strstr(t, "demo/hl/") == NULL && strstr(t, "10.42.1.6") == NULL);
    ASSERT_TRUE(strstr(t, "demo/xn/") == NULL && strstr(t, "10.43.0.110") == NULL);
    ASSERT_ELEMS(t, "cluster-ips", "10.43.0.100\n10.43.0.90\n10.43.0.91\n");

    /* A ready endpoint again: it is preferred over the terminating one. */
    apply(&f, "apiVersion: discovery.k8s.io/v1\n"
              "kind: EndpointSlice\n"
              "metadata: {name: term-1, namespace: demo,\n"
              "           labels: {kubernetes.io/service-name: term}}\n"
              "addressType: IPv4\n"
              "ports: [{port: 80}]\n"
              "endpoints:\n"
              "- addresses: [10.42.1.5]\n"
              "  conditions: {ready: false, serving: true, terminating: true}\n"
              "- addresses: [10.42.2.7]\n");
    sync_wait(&f);
    ek_autofree char *t2 = table();
    ek_autofree char *te2 = ep_chain("demo/term/tcp/", "10.42.2.7/80");
    ek_autofree char *w5 = ek_xasprintf(
        "ip daddr 10.43.0.91 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n"
        "goto %s\n",
        te2);
    ASSERT_CHAIN(t2, tsvc, w5);
    ek_autofree char *stale = chain_rules(t2, te1); /* flushed, deleted later */
    ASSERT_STREQ(stale, "");
    fx_close(&f);
}

/* ---- incremental syncs ---- */

/* A listing with its blocks (chains, maps, sets) sorted and elements in order: the same for
 * two tables with the same contents whatever order they were built in. Caller frees. */
static char *normalized(const char *listing)
{
    char *blocks[4096];
    size_t n = 0;
    const char *s = strchr(listing, '\n');
    while (s && (s = strstr(s, "\n\t")) && n < 4096) {
        s++;
        const char *end = strstr(s, "\n\t}");
        ASSERT_NOT_NULL(end);
        ek_autofree char *block = ek_xstrndup(s, (size_t)(end - s));
        char *el = strstr(block, "elements = {");
        if (el) {
            /* the name line, then the sorted elements */
            char name[300] = "";
            ASSERT_EQ(sscanf(block, "%*s %299s", name), 1);
            ek_autofree char *sorted = elements(listing, name);
            *el = '\0';
            blocks[n++] = ek_xasprintf("%s%s", block, sorted);
        } else {
            blocks[n++] = ek_xstrdup(block);
        }
        s = end + 3;
    }
    qsort(blocks, n, sizeof(*blocks), cmp_str);
    ek_buf_t out = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_buf_printf(&out, "%s\n", blocks[i]);
        free(blocks[i]);
    }
    return ek_buf_steal(&out, NULL);
}

static const char WEB_ONE[] = "apiVersion: discovery.k8s.io/v1\n"
                              "kind: EndpointSlice\n"
                              "metadata: {name: web-1, namespace: demo,\n"
                              "           labels: {kubernetes.io/service-name: web}}\n"
                              "addressType: IPv4\n"
                              "ports: [{name: http, port: 8080, protocol: TCP}]\n"
                              "endpoints:\n"
                              "- {addresses: [10.42.1.5], nodeName: n1}\n";

TEST(proxy_incremental_sends_only_what_changed)
{
    fx_t f;
    fx_init(&f); /* unused chains wait 1 s before they are deleted */
    apply(&f, WEB);
    apply(&f, LB);
    sync_wait(&f);
    ASSERT_TRUE(f.st.last_full);
    ek_autofree char *lb_before = table();
    ek_autofree char *lbsvc = svc_chain("service-", "demo/lb/tcp/http");
    ek_autofree char *lb_rules = chain_rules(lb_before, lbsvc);

    /* One endpoint goes: web's service chain is rewritten (flush, masquerade rule, the goto
     * to the remaining endpoint), the endpoint's chain flushed: 4. */
    apply(&f, WEB_ONE);
    sync_wait(&f);
    ASSERT_FALSE(f.st.last_full);
    ASSERT_EQ(f.st.last_messages, 4);
    ek_autofree char *t = table();
    ek_autofree char *e2 = ep_chain("demo/web/tcp/http", "10.42.2.7/8080");
    ek_autofree char *gone = chain_rules(t, e2);
    ASSERT_STREQ(gone, "");
    ek_autofree char *lb_after = chain_rules(t, lbsvc);
    ASSERT_STREQ(lb_after, lb_rules);
    /* A second later the unused chain is deleted, alone. */
    sync_wait(&f);
    ASSERT_EQ(f.st.last_messages, 1);
    ek_autofree char *t2 = table();
    ASSERT_TRUE(chain_rules(t2, e2) == NULL);

    /* It comes back: a chain with its two rules, and web's service chain again (flush,
     * masquerade, numgen rule, goto): 3 + 4. */
    apply(&f, WEB);
    sync_wait(&f);
    ASSERT_EQ(f.st.last_messages, 7);
    /* The same objects again: nothing to do, no transaction. */
    apply(&f, WEB);
    apply(&f, LB);
    ASSERT_EQ(run_for(&f, 100), 0);

    /* The port changes: the ClusterIP element is replaced (2) and the service chain's
     * masquerade rule names the new port (flush + 3); endpoint chains stay. */
    apply(&f, "apiVersion: v1\n"
              "kind: Service\n"
              "metadata: {name: web, namespace: demo}\n"
              "spec:\n"
              "  clusterIP: 10.43.0.50\n"
              "  ports: [{name: http, port: 81, targetPort: http}]\n");
    sync_wait(&f);
    ASSERT_EQ(f.st.last_messages, 6);

    /* The increments built exactly what a full rebuild builds. */
    ek_autofree char *inc = table();
    ek_autofree char *inc_n = normalized(inc);
    ek_proxy_resync(f.p);
    sync_wait(&f);
    ASSERT_TRUE(f.st.last_full);
    ek_autofree char *full = table();
    ek_autofree char *full_n = normalized(full);
    ASSERT_STREQ(inc_n, full_n);

    /* A deleted service leaves nothing behind, once its chains are deleted. */
    delete_objs(&f, WEB);
    sync_wait(&f);
    sync_wait(&f);
    ek_autofree char *t3 = table();
    ASSERT_TRUE(strstr(t3, "demo/web/") == NULL);
    ASSERT_TRUE(strstr(t3, "10.43.0.50") == NULL);
    ASSERT_EQ(f.st.services, 1);
    fx_close(&f);
}

TEST(proxy_full_resync_is_idempotent)
{
    fx_t f;
    fx_init(&f);
    apply(&f, WEB);
    apply(&f, LB);
    apply(&f, LOCAL);
    apply(&f, MISC);
    sync_wait(&f);
    ek_autofree char *t1 = table();
    size_t m1 = f.st.last_messages;
    ek_proxy_stats_t s1 = f.st;
    ek_proxy_resync(f.p);
    sync_wait(&f);
    ek_autofree char *t2 = table();
    ASSERT_STREQ(t2, t1);
    ASSERT_EQ(f.st.last_messages, m1);
    ASSERT_EQ(f.st.chains, s1.chains);
    ASSERT_EQ(f.st.rules, s1.rules);
    ASSERT_EQ(f.st.elements, s1.elements);
    ASSERT_EQ(f.st.sets, s1.sets);
    /* The counts are the table's. */
    ek_autofree char *nchains = run_cmd("nft list table ip edgek-proxy | grep -c '^\tchain '");
    ASSERT_EQ(atoi(nchains), (long long)f.st.chains);
    /* The nft script of the same state builds the same table through the nft CLI. */
    ek_autofree char *script = ek_proxy_ruleset_script(f.p);
    ek_autofree char *path = ek_test_path("rules.nft");
    ek_error_t *err = NULL;
    ASSERT_OK(ek_file_write_atomic(path, script, strlen(script), 0600, &err), &err);
    ek_autofree char *cmd = ek_xasprintf("nft -f %s 2>&1", path);
    ek_autofree char *out = run_cmd(cmd);
    ASSERT_STREQ(out, "");
    ek_autofree char *t3 = table();
    ek_autofree char *n1 = normalized(t1);
    ek_autofree char *n3 = normalized(t3);
    ASSERT_STREQ(n3, n1);
    fx_close(&f);
}

TEST(proxy_address_claimed_twice)
{
    static const char A[] = "apiVersion: v1\n"
                            "kind: Service\n"
                            "metadata: {name: a, namespace: demo}\n"
                            "spec: {clusterIP: 10.43.0.120, externalIPs: [203.0.113.60],\n"
                            "       ports: [{port: 80}]}\n";
    static const char B[] = "apiVersion: v1\n"
                            "kind: Service\n"
                            "metadata: {name: b, namespace: demo}\n"
                            "spec: {clusterIP: 10.43.0.121, externalIPs: [203.0.113.60],\n"
                            "       ports: [{port: 80}]}\n";
    fx_t f;
    fx_init(&f);
    apply(&f, A);
    sync_wait(&f);
    apply(&f, B);
    sync_wait(&f); /* b cannot have the address: a keeps it, the transaction still works */
    ek_autofree char *t = table();
    ASSERT_ELEMS(t, "no-endpoint-services",
                 "10.43.0.120 . tcp . 80 : goto reject-chain\n"
                 "10.43.0.121 . tcp . 80 : goto reject-chain\n"
                 "203.0.113.60 . tcp . 80 : goto reject-chain\n");
    delete_objs(&f, A);
    sync_wait(&f); /* a lets go; b takes it in the same sync or the next */
    run_for(&f, 200);
    ek_autofree char *t2 = table();
    ASSERT_ELEMS(t2, "no-endpoint-services",
                 "10.43.0.121 . tcp . 80 : goto reject-chain\n"
                 "203.0.113.60 . tcp . 80 : goto reject-chain\n");
    ek_autofree char *full = ek_xstrdup(t2);
    ek_proxy_resync(f.p);
    sync_wait(&f);
    ek_autofree char *t3 = table();
    ASSERT_STREQ(t3, full);
    fx_close(&f);
}

/* ---- UDP conntrack ---- */

static int udp_socket(const char *ip, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_CMP(fd, >=, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    ASSERT_EQ(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Sends one datagram from client to 10.43.0.9:53; returns which listener got it (0/1, -1). */
static int udp_hit(int client, const int listeners[2])
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(53) };
    inet_pton(AF_INET, "10.43.0.9", &to.sin_addr);
    ASSERT_EQ(sendto(client, "x", 1, 0, (struct sockaddr *)&to, sizeof(to)), 1);
    struct pollfd p[2] = { { listeners[0], POLLIN, 0 }, { listeners[1], POLLIN, 0 } };
    if (poll(p, 2, 2000) <= 0) {
        return -1;
    }
    int hit = p[0].revents & POLLIN ? 0 : 1;
    char buf[16];
    ASSERT_EQ(recv(listeners[hit], buf, sizeof(buf), 0), 1);
    return hit;
}

static const char *udp_objects(bool ready0, bool ready1)
{
    static char buf[1024];
    snprintf(buf, sizeof(buf),
             "apiVersion: v1\n"
             "kind: Service\n"
             "metadata: {name: dns, namespace: demo}\n"
             "spec: {clusterIP: 10.43.0.9, ports: [{name: dns, port: 53, protocol: UDP}]}\n"
             "---\n"
             "apiVersion: discovery.k8s.io/v1\n"
             "kind: EndpointSlice\n"
             "metadata: {name: dns-1, namespace: demo,\n"
             "           labels: {kubernetes.io/service-name: dns}}\n"
             "addressType: IPv4\n"
             "ports: [{name: dns, port: 5353, protocol: UDP}]\n"
             "endpoints:\n"
             "- {addresses: [10.42.1.5], conditions: {ready: %s}}\n"
             "- {addresses: [10.42.1.6], conditions: {ready: %s}}\n",
             ready0 ? "true" : "false", ready1 ? "true" : "false");
    return buf;
}

TEST(proxy_udp_flow_leaves_a_removed_endpoint)
{
    fx_t f;
    fx_init(&f);
    /* Two "endpoints" on a dummy device of this namespace; the client has its own address. */
    ASSERT_EQ(system("ip link add d0 type veth peer name d1 && ip link set d0 up && "
                     "ip addr add 10.42.1.5/32 dev d0 && ip addr add 10.42.1.6/32 dev d0 && "
                     "ip addr add 10.42.9.9/32 dev d0 && ip route add 10.43.0.0/16 dev d0"),
              0);
    ek_autoclose int l0 = udp_socket("10.42.1.5", 5353);
    ek_autoclose int l1 = udp_socket("10.42.1.6", 5353);
    ek_autoclose int client = udp_socket("10.42.9.9", 40000);
    int listeners[2] = { l0, l1 };
    apply(&f, udp_objects(true, true));
    sync_wait(&f);
    /* One flow (fixed source port) stays on one endpoint: conntrack remembers the DNAT. */
    int first = udp_hit(client, listeners);
    ASSERT_CMP(first, >=, 0);
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(udp_hit(client, listeners), first);
    }
    /* Its endpoint stops being ready (the pod still answers): the entry goes, the flow moves. */
    apply(&f, udp_objects(first != 0, first != 1));
    sync_wait(&f);
    ASSERT_EQ(f.st.conntrack_deleted, 1);
    ASSERT_EQ(udp_hit(client, listeners), 1 - first);
    ASSERT_EQ(udp_hit(client, listeners), 1 - first);
    fx_close(&f);
}

/* ---- figures, tables of others ---- */

TEST(proxy_metrics_and_other_tables)
{
    fx_t f;
    fx_init(&f);
    ASSERT_EQ(system("nft add table ip other && "
                     "nft add chain ip other input '{ type filter hook input priority 0; }' && "
                     "nft add rule ip other input ip saddr 192.0.2.99 drop"),
              0);
    ek_autofree char *before = run_cmd("nft list table ip other");
    apply(&f, WEB);
    sync_wait(&f);
    apply(&f, WEB_ONE);
    sync_wait(&f);
    ek_buf_t m = EK_BUF_INIT;
    ek_proxy_metrics(f.p, &m);
    ASSERT_CONTAINS(m.data, "kubeproxy_sync_proxy_rules_duration_seconds_count 2\n");
    ASSERT_CONTAINS(m.data, "edgek_proxy_syncs_total{mode=\"full\"} 1\n");
    ASSERT_CONTAINS(m.data, "edgek_proxy_syncs_total{mode=\"partial\"} 1\n");
    ek_autofree char *chains =
        ek_xasprintf("edgek_proxy_nftables_objects{kind=\"chains\"} %zu\n", f.st.chains);
    ASSERT_CONTAINS(m.data, chains);
    ASSERT_CONTAINS(m.data, "edgek_proxy_endpoints 1\n");
    ek_buf_free(&m);
    fx_close(&f);
    ek_autofree char *after = run_cmd("nft list table ip other");
    ASSERT_STREQ(after, before);
    /* The table outlives the proxy (traffic flows on during a restart); cleanup removes it
     * and nothing else, and may run twice. */
    ek_error_t *err = NULL;
    ASSERT_EQ(ek_nft_table_exists(EK_PROXY_TABLE, -1, &err), 1);
    ASSERT_OK(ek_proxy_cleanup(-1, NULL, &err), &err);
    ASSERT_OK(ek_proxy_cleanup(-1, NULL, &err), &err);
    ASSERT_EQ(ek_nft_table_exists(EK_PROXY_TABLE, -1, &err), 0);
    ek_autofree char *tables = run_cmd("nft list tables");
    ASSERT_STREQ(tables, "table ip other\n");
}
