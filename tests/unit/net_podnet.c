/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net/podnet: IPAM (round-robin, persistence across a restart, reconcile), the rtnetlink and
 * nftables layers (errors naming what failed, all-or-nothing transactions, the kube-proxy
 * shapes the service proxy will build), and the pod network itself: three pods on a bridge
 * pinging each other, two "nodes" joined by a veth pair reaching each other's pods over
 * host-gw and VXLAN, egress masquerade, hostPort DNAT, detach, reconcile and cleanup.
 *
 * Every namespace is the test's own: the forked test process unshares new network namespaces
 * (node, pods, "the internet") and never sees the host's interfaces or ruleset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/netfilter.h>

#include "net/net.h"
#include "tests/unit/test.h"

/* ---- helpers ---- */

static struct in_addr ip4(const char *s)
{
    struct in_addr a;
    ek_assert(inet_pton(AF_INET, s, &a) == 1);
    return a;
}

static const char *ipstr(struct in_addr a)
{
    static char buf[4][INET_ADDRSTRLEN];
    static int i;
    i = (i + 1) % 4;
    return inet_ntop(AF_INET, &a, buf[i], sizeof(buf[i]));
}

/* A fresh network namespace; the calling process is left inside it. */
static int new_netns(void)
{
    if (geteuid() != 0) {
        ek_test_skip("needs root to create network namespaces");
    }
    if (unshare(CLONE_NEWNET) < 0) {
        ek_test_skip("cannot create a network namespace: %s", strerror(errno));
    }
    ek_test_need_nftables();
    int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_CMP(fd, >=, 0);
    return fd;
}

/* Runs busybox with args inside ns; returns its exit status. */
static int busybox_in(int ns, const char *const *args)
{
    pid_t pid = fork();
    ASSERT_CMP(pid, >=, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        if (setns(ns, CLONE_NEWNET) < 0) {
            _exit(126);
        }
        execv("/bin/busybox", (char *const *)args);
        _exit(127);
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* One echo reply within three tries: a lone packet may be lost while neighbours resolve on a
 * loaded machine; a broken path loses all three. */
static bool pings(int ns, struct in_addr to)
{
    const char *args[] = { "busybox", "ping", "-c", "1", "-W", "2", ipstr(to), NULL };
    for (int attempt = 0; attempt < 3; attempt++) {
        if (busybox_in(ns, args) == 0) {
            return true;
        }
    }
    return false;
}

static int make_tcp(void *arg)
{
    *(int *)arg = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return *(int *)arg;
}

/* A TCP socket living in ns (a socket keeps the namespace it was created in). */
static int tcp_in(int ns)
{
    int fd = -1;
    ASSERT_CMP(ek_netns_run(ns, make_tcp, &fd), >=, 0);
    return fd;
}

static int listen_in(int ns, uint16_t port)
{
    int fd = tcp_in(ns);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ASSERT_EQ(listen(fd, 8), 0);
    return fd;
}

/*
 * Connects from client_ns to to:port and accepts on listener; returns the source address the
 * server saw (0.0.0.0 if the connection did not arrive).
 */
static struct in_addr connect_seen(int client_ns, int listener, struct in_addr to, uint16_t port)
{
    ek_autoclose int c = tcp_in(client_ns);
    struct timeval tv = { .tv_sec = 3 };
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = to };
    struct in_addr seen = { 0 };
    if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return seen;
    }
    struct pollfd p = { .fd = listener, .events = POLLIN };
    if (poll(&p, 1, 3000) != 1) {
        return seen;
    }
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    ek_autoclose int a = accept(listener, (struct sockaddr *)&peer, &len);
    if (a >= 0) {
        seen = peer.sin_addr;
    }
    return seen;
}

static ek_podnet_config_t node_cfg(const char *dir, const char *cidr, const char *ip,
                                   ek_podnet_backend_t be, int ns)
{
    return (ek_podnet_config_t){ .data_dir = dir,
                                 .cluster_cidr = "10.42.0.0/16",
                                 .node_cidr = cidr,
                                 .node_ip = ip,
                                 .backend = be,
                                 .mtu = 1500,
                                 .netns_fd = ns };
}

static struct in_addr attach(ek_podnet_t *pn, const char *id, int ns)
{
    ek_error_t *err = NULL;
    struct in_addr ip;
    ek_podnet_pod_t pod = { .id = id, .netns_fd = ns };
    ASSERT_OK(ek_podnet_attach(pn, &pod, &ip, &err), &err);
    return ip;
}

static int link_mtu(int ns, const char *name)
{
    ek_error_t *err = NULL;
    ek_auto(ek_nl_t) nl = ek_nl_open(ns, &err);
    ek_nl_link_t l;
    ASSERT_NOT_NULL(nl);
    if (ek_nl_link_get(nl, name, &l, &err) < 0) {
        int e = err->errnum;
        ek_error_free(err);
        return -e;
    }
    return l.mtu;
}

/* ---- IPAM ---- */

TEST(podnet_ipam_round_robin)
{
    ek_error_t *err = NULL;
    ek_autofree char *dir = ek_test_path("ipam");
    /* A /29: .0 network, .1 gateway, .7 broadcast, so .2 to .6 are handed out. */
    ek_auto(ek_ipam_t) ipam = ek_ipam_open(dir, "10.42.1.0/29", &err);
    ASSERT_NOT_NULL(ipam);
    ASSERT_STREQ(ipstr(ek_ipam_gateway(ipam)), "10.42.1.1");
    struct in_addr a, b;
    ASSERT_OK(ek_ipam_alloc(ipam, "a", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.1.2");
    ASSERT_OK(ek_ipam_alloc(ipam, "b", &b, &err), &err);
    ASSERT_STREQ(ipstr(b), "10.42.1.3");
    ASSERT_OK(ek_ipam_alloc(ipam, "a", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.1.2"); /* the same owner gets its address again */
    ASSERT_EQ(ek_ipam_release(ipam, "b", &err), 1);
    /* Round-robin: b's .3 is not handed out again at once. */
    ASSERT_OK(ek_ipam_alloc(ipam, "c", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.1.4");
    ASSERT_OK(ek_ipam_alloc(ipam, "d", &a, &err), &err);
    ASSERT_OK(ek_ipam_alloc(ipam, "e", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.1.6");
    ASSERT_OK(ek_ipam_alloc(ipam, "f", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.1.3"); /* wrapped around, skipping .2 (a) */
    ASSERT_EQ(ek_ipam_alloc(ipam, "g", &a, &err), -1);
    ASSERT_EQ(err->errnum, ENOSPC);
    ek_error_clear(&err);
    ASSERT_EQ(ek_ipam_release(ipam, "nobody", &err), 0);
    ASSERT_EQ(ek_ipam_alloc(ipam, "bad\nid", &a, &err), -1);
    ek_error_clear(&err);
    ASSERT_TRUE(ek_ipam_open(dir, "10.42.1.0/31", &err) == NULL);
    ek_error_clear(&err);
}

TEST(podnet_ipam_restart_and_reconcile)
{
    ek_error_t *err = NULL;
    ek_autofree char *dir = ek_test_path("ipam");
    struct in_addr a, x;
    {
        ek_auto(ek_ipam_t) ipam = ek_ipam_open(dir, "10.42.3.0/24", &err);
        ASSERT_NOT_NULL(ipam);
        const char *ids[] = { "pod-a", "pod-b", "pod-c" };
        for (size_t i = 0; i < 3; i++) {
            ASSERT_OK(ek_ipam_alloc(ipam, ids[i], &a, &err), &err);
        }
    }
    /* A stale file from when the node had another subnet. */
    ek_autofree char *stale = ek_xasprintf("%s/10.42.9.9", dir);
    ASSERT_OK(ek_file_write_atomic(stale, "old", 3, 0600, &err), &err);
    /* "Restart": a new handle on the same directory. */
    ek_auto(ek_ipam_t) ipam = ek_ipam_open(dir, "10.42.3.0/24", &err);
    ASSERT_NOT_NULL(ipam);
    ASSERT_EQ(ek_ipam_lookup(ipam, "pod-b", &x, &err), 1);
    ASSERT_STREQ(ipstr(x), "10.42.3.3");
    ASSERT_OK(ek_ipam_alloc(ipam, "pod-d", &a, &err), &err);
    ASSERT_STREQ(ipstr(a), "10.42.3.5"); /* continues after the last one before the restart */
    /* pod-b and pod-c died while the agent was down. */
    const char *live[] = { "pod-a", "pod-d" };
    ASSERT_EQ(ek_ipam_reconcile(ipam, live, 2, &err), 3);
    ASSERT_FALSE(ek_path_exists(stale));
    ASSERT_EQ(ek_ipam_lookup(ipam, "pod-b", &x, &err), 0);
    ASSERT_EQ(ek_ipam_lookup(ipam, "pod-a", &x, &err), 1);
    ASSERT_STREQ(ipstr(x), "10.42.3.2");
    ASSERT_EQ(ek_ipam_reconcile(ipam, live, 2, &err), 0);
}

/* ---- rtnetlink and nftables layers ---- */

TEST(podnet_netlink_errors_say_what_failed)
{
    ek_error_t *err = NULL;
    new_netns();
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    ASSERT_NOT_NULL(nl);
    ek_nl_link_t l;
    ASSERT_EQ(ek_nl_link_get(nl, "nope0", &l, &err), -1);
    ASSERT_EQ(err->errnum, ENODEV);
    ASSERT_CONTAINS(ek_error_msg(err), "get link nope0");
    ek_error_clear(&err);
    ASSERT_OK(ek_nl_bridge_add(nl, "tbr0", 0, NULL, &err), &err);
    ASSERT_EQ(ek_nl_bridge_add(nl, "tbr0", 0, NULL, &err), -1);
    ASSERT_EQ(err->errnum, EEXIST);
    ASSERT_CONTAINS(ek_error_msg(err), "add link tbr0 (bridge)");
    ek_error_clear(&err);
    ASSERT_OK(ek_nl_link_get(nl, "tbr0", &l, &err), &err);
    ASSERT_STREQ(l.kind, "bridge");
    /* A gateway nothing says is reachable. */
    ek_nl_route_t r = { .dst = ip4("10.99.0.0"), .prefix = 16, .gw = ip4("192.0.2.1") };
    ASSERT_EQ(ek_nl_route(nl, EK_NL_ADD, &r, &err), -1);
    ASSERT_EQ(err->errnum, ENETUNREACH);
    ASSERT_CONTAINS(ek_error_msg(err), "add route 10.99.0.0/16 via 192.0.2.1");
    ek_error_clear(&err);
    /* In a batch, the good requests apply and the first failure is reported. */
    ek_nl_batch_begin(nl);
    ASSERT_EQ(ek_nl_addr(nl, EK_NL_ADD, l.index, ip4("10.1.0.1"), 24, &err), 0);
    ASSERT_EQ(ek_nl_addr(nl, EK_NL_ADD, 9999, ip4("10.2.0.1"), 24, &err), 0);
    ASSERT_EQ(ek_nl_batch_commit(nl, &err), -1);
    ASSERT_EQ(err->errnum, ENODEV);
    ASSERT_CONTAINS(ek_error_msg(err), "add address 10.2.0.1/24 on link 9999");
    ek_error_clear(&err);
    ASSERT_EQ(ek_nl_addr(nl, EK_NL_DEL, l.index, ip4("10.1.0.1"), 24, &err), 0);
    /* Batches larger than one sendmsg buffer. */
    ek_nl_batch_begin(nl);
    for (int i = 0; i < 600; i++) {
        struct in_addr a = { htonl(0x0a050000u + (uint32_t)i) };
        ek_nl_addr(nl, EK_NL_ADD, l.index, a, 16, &err);
    }
    ASSERT_OK(ek_nl_batch_commit(nl, &err), &err);
    ASSERT_OK(ek_nl_link_del(nl, "tbr0", &err), &err);
}

/* The shapes of kube-proxy's nftables layout, as the service proxy will build them. */
static void proxy_like_table(ek_nft_batch_t *b, const char *t)
{
    static const ek_nft_field_t svc_key[] = { EK_NFT_IP_DADDR, EK_NFT_L4PROTO, EK_NFT_TH_DPORT };
    static const ek_nft_field_t ng_key[] = { EK_NFT_NUMGEN };
    static const ek_nft_field_t ip_key[] = { EK_NFT_IP_DADDR };
    ek_nft_table_add(b, t);
    ek_nft_set_add(b, t, "cluster-ips", ip_key, 1, false);
    ek_nft_set_add(b, t, "service-ips", svc_key, 3, true);
    ek_nft_set_add(b, t, "svc-x-eps", ng_key, 1, true);
    ek_nft_base_chain_add(b, t, "nat-prerouting", "nat", NF_INET_PRE_ROUTING, EK_NFT_PRIO_DSTNAT);
    ek_nft_chain_add(b, t, "services");
    ek_nft_chain_add(b, t, "mark-for-masquerade");
    ek_nft_chain_add(b, t, "svc-x");
    ek_nft_chain_add(b, t, "ep-1");
    ek_nft_chain_add(b, t, "ep-2");
    ek_nft_stmt_verdict(ek_nft_rule_add(b, t, "nat-prerouting"), EK_NFT_JUMP, "services");
    ek_nft_stmt_vmap(ek_nft_rule_add(b, t, "services"), svc_key, 3, "service-ips");
    ek_nft_stmt_mark_set(ek_nft_rule_add(b, t, "mark-for-masquerade"), 0x4000);
    ek_nft_rule_t *r = ek_nft_rule_add(b, t, "svc-x");
    ek_nft_match_cidr(r, EK_NFT_IP_SADDR, ip4("10.42.0.0"), 16, true);
    ek_nft_stmt_verdict(r, EK_NFT_JUMP, "mark-for-masquerade");
    ek_nft_stmt_numgen_vmap(ek_nft_rule_add(b, t, "svc-x"), 2, "svc-x-eps");
    r = ek_nft_rule_add(b, t, "ep-1");
    ek_nft_match_l4proto(r, IPPROTO_TCP);
    ek_nft_stmt_dnat(r, ip4("10.42.1.5"), 8080);
    ek_nft_stmt_reject(ek_nft_rule_add(b, t, "ep-2"));
    ek_nft_key_t k = { 0 };
    ek_nft_key_ip(&k, ip4("10.43.0.10"));
    ek_nft_key_proto(&k, IPPROTO_TCP);
    ek_nft_key_port(&k, 80);
    ek_nft_elem_add(b, t, "service-ips", &k, EK_NFT_GOTO, "svc-x");
    for (uint32_t i = 0; i < 2; i++) {
        ek_nft_key_t n = { 0 };
        ek_nft_key_u32(&n, i);
        ek_nft_elem_add(b, t, "svc-x-eps", &n, EK_NFT_GOTO, i ? "ep-2" : "ep-1");
    }
    ek_nft_key_t c = { 0 };
    ek_nft_key_ip(&c, ip4("10.43.0.10"));
    ek_nft_elem_add(b, t, "cluster-ips", &c, EK_NFT_NONE, NULL);
}

static char *ruleset(void)
{
    FILE *f = popen("nft list ruleset 2>&1", "r");
    ASSERT_NOT_NULL(f);
    ek_buf_t buf = { 0 };
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        ek_buf_append(&buf, line, strlen(line));
    }
    pclose(f);
    return ek_buf_steal(&buf, NULL);
}

TEST(podnet_nft_transactions)
{
    ek_error_t *err = NULL;
    new_netns();
    /* Somebody else's table, which nothing of ours may touch. */
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek_nft_table_add(b, "other");
    ek_nft_base_chain_add(b, "other", "input", "filter", NF_INET_LOCAL_IN, 0);
    ek_nft_stmt_counter(ek_nft_rule_add(b, "other", "input"));
    ASSERT_OK(ek_nft_batch_commit(b, -1, &err), &err);
    ek_autofree char *before = ruleset();

    proxy_like_table(b, "edgek-test");
    ASSERT_CMP(ek_nft_batch_len(b), >, 20);
    ASSERT_OK(ek_nft_batch_commit(b, -1, &err), &err);
    ek_autofree char *rs = ruleset();
    ASSERT_CONTAINS(rs, "ip daddr . meta l4proto . th dport vmap @service-ips");
    ASSERT_CONTAINS(rs, "type ipv4_addr . inet_proto . inet_service : verdict");
    ASSERT_CONTAINS(rs, "10.43.0.10 . tcp . 80 : goto svc-x");
    ASSERT_CONTAINS(rs, "numgen random mod 2 vmap @svc-x-eps");
    ASSERT_CONTAINS(rs, "ip saddr != 10.42.0.0/16 jump mark-for-masquerade");
    ASSERT_CONTAINS(rs, "meta mark set meta mark | 0x00004000");
    ASSERT_CONTAINS(rs, "dnat to 10.42.1.5:8080");
    ASSERT_EQ(ek_nft_table_exists("edgek-test", -1, &err), 1);

    /* All or nothing: a batch that fails half-way leaves no trace. */
    ek_nft_table_add(b, "edgek-broken");
    ek_nft_chain_add(b, "edgek-broken", "a");
    ek_nft_stmt_verdict(ek_nft_rule_add(b, "edgek-broken", "a"), EK_NFT_JUMP, "missing");
    ASSERT_EQ(ek_nft_batch_commit(b, -1, &err), -1);
    ASSERT_EQ(err->errnum, ENOENT);
    ASSERT_CONTAINS(ek_error_msg(err), "add rule ip edgek-broken a");
    ek_error_clear(&err);
    ASSERT_EQ(ek_nft_table_exists("edgek-broken", -1, &err), 0);

    ASSERT_OK(ek_nft_table_delete("edgek-test", -1, &err), &err);
    ASSERT_OK(ek_nft_table_delete("edgek-test", -1, &err), &err); /* idempotent */
    ek_autofree char *after = ruleset();
    ASSERT_STREQ(after, before);
}

/* ---- the pod network ---- */

TEST_T(podnet_three_pods_on_a_bridge, 120)
{
    ek_error_t *err = NULL;
    int pods[3];
    for (int i = 0; i < 3; i++) {
        pods[i] = new_netns();
    }
    int node = new_netns();
    ek_podnet_config_t cfg =
        node_cfg(ek_test_tmpdir(), "10.42.1.0/24", NULL, EK_PODNET_HOST_GW, -1);
    ek_auto(ek_podnet_t) pn = ek_podnet_open(&cfg, &err);
    ASSERT_NOT_NULL(pn);
    ASSERT_OK(ek_podnet_setup(pn, &err), &err);
    ASSERT_OK(ek_podnet_setup(pn, &err), &err); /* idempotent */
    struct in_addr ips[3];
    const char *ids[] = { "pod-0", "pod-1", "pod-2" };
    for (int i = 0; i < 3; i++) {
        ips[i] = attach(pn, ids[i], pods[i]);
    }
    ASSERT_STREQ(ipstr(ips[0]), "10.42.1.2");
    ASSERT_EQ(link_mtu(pods[0], "eth0"), 1500);
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(pings(pods[i], ip4("10.42.1.1")));
        ASSERT_TRUE(pings(pods[i], ip4("127.0.0.1"))); /* loopback is up */
        for (int j = 0; j < 3; j++) {
            ASSERT_TRUE(i == j || pings(pods[i], ips[j]));
        }
    }
    /* Attaching again (an agent retry) keeps the address. */
    struct in_addr again = attach(pn, ids[1], pods[1]);
    ASSERT_EQ(again.s_addr, ips[1].s_addr);
    ASSERT_TRUE(pings(pods[0], ips[1]));

    ek_podnet_pod_t pod1 = { .id = ids[1], .netns_fd = pods[1] };
    char veth[16];
    ASSERT_OK(ek_podnet_detach(pn, &pod1, &err), &err);
    ASSERT_OK(ek_podnet_detach(pn, &pod1, &err), &err); /* idempotent */
    ASSERT_EQ(link_mtu(node, ek_podnet_veth_name(ids[1], veth)), -ENODEV);
    ASSERT_EQ(link_mtu(pods[1], "eth0"), -ENODEV);
    ASSERT_FALSE(pings(pods[0], ips[1]));
    ek_autofree char *f = ek_xasprintf("%s/agent/ipam/%s", ek_test_tmpdir(), ipstr(ips[1]));
    ASSERT_FALSE(ek_path_exists(f));

    /* pod-2 "died while the agent was down": reconcile frees its address and veth. */
    const char *live[] = { ids[0] };
    ASSERT_EQ(ek_podnet_reconcile(pn, live, 1, &err), 1);
    ASSERT_EQ(link_mtu(node, ek_podnet_veth_name(ids[2], veth)), -ENODEV);
    ASSERT_TRUE(pings(pods[0], ip4("10.42.1.1")));
}

/* Two nodes joined by a veth pair (192.168.50.1 and .2), one pod on each. */
struct two_nodes {
    int node[2], pod[2];
    ek_podnet_t *pn[2];
    struct in_addr pod_ip[2];
};

static void two_nodes_up(struct two_nodes *t, ek_podnet_backend_t be)
{
    ek_error_t *err = NULL;
    const char *cidr[] = { "10.42.1.0/24", "10.42.2.0/24" };
    const char *nip[] = { "192.168.50.1", "192.168.50.2" };
    for (int i = 0; i < 2; i++) {
        t->pod[i] = new_netns();
        t->node[i] = new_netns();
    }
    ek_auto(ek_nl_t) nl = ek_nl_open(t->node[0], &err);
    ek_nl_veth_t v = { .name = "wire0", .peer = "wire0", .peer_netns_fd = t->node[1] };
    ASSERT_OK(ek_nl_veth_add(nl, &v, &err), &err);
    for (int i = 0; i < 2; i++) {
        ek_auto(ek_nl_t) n = ek_nl_open(t->node[i], &err);
        ek_nl_link_t l;
        ASSERT_OK(ek_nl_link_get(n, "wire0", &l, &err), &err);
        ek_nl_link_change_t up = EK_NL_LINK_CHANGE_INIT;
        up.up = 1;
        ASSERT_OK(ek_nl_link_set(n, l.index, &up, &err), &err);
        ASSERT_OK(ek_nl_link_set(n, 1, &up, &err), &err);
        ASSERT_OK(ek_nl_addr(n, EK_NL_ADD, l.index, ip4(nip[i]), 24, &err), &err);
        ek_autofree char *dir = ek_xasprintf("%s/node%d", ek_test_tmpdir(), i);
        ek_podnet_config_t cfg = node_cfg(dir, cidr[i], nip[i], be, t->node[i]);
        cfg.uplink = "wire0";
        t->pn[i] = ek_podnet_open(&cfg, &err);
        ASSERT_NOT_NULL(t->pn[i]);
        ASSERT_OK(ek_podnet_setup(t->pn[i], &err), &err);
        t->pod_ip[i] = attach(t->pn[i], i ? "pod-b" : "pod-a", t->pod[i]);
    }
    for (int i = 0; i < 2; i++) {
        ek_podnet_remote_t r = { .node_ip = ip4(nip[!i]) };
        ASSERT_OK(ek_cidr_parse(cidr[!i], &r.pod_net, &r.pod_prefix, &err), &err);
        if (be == EK_PODNET_VXLAN) {
            ASSERT_OK(ek_podnet_vtep_mac(t->pn[!i], r.vtep_mac, &err), &err);
        }
        ASSERT_OK(ek_podnet_remote_add(t->pn[i], &r, &err), &err);
        ASSERT_OK(ek_podnet_remote_add(t->pn[i], &r, &err), &err); /* idempotent */
    }
}

static void two_nodes_down(struct two_nodes *t)
{
    for (int i = 0; i < 2; i++) {
        ek_podnet_close(t->pn[i]);
    }
}

static void check_cross_node(struct two_nodes *t)
{
    ASSERT_TRUE(pings(t->pod[0], t->pod_ip[1]));
    ASSERT_TRUE(pings(t->pod[1], t->pod_ip[0]));
    /* Pod to pod keeps the pod's address (no masquerade inside the cluster CIDR). */
    ek_autoclose int l = listen_in(t->pod[1], 8000);
    struct in_addr seen = connect_seen(t->pod[0], l, t->pod_ip[1], 8000);
    ASSERT_STREQ(ipstr(seen), ipstr(t->pod_ip[0]));
}

TEST_T(podnet_two_nodes_host_gw, 120)
{
    struct two_nodes t;
    two_nodes_up(&t, EK_PODNET_HOST_GW);
    check_cross_node(&t);
    /* Removing the remote node's route cuts the path. */
    ek_error_t *err = NULL;
    ek_podnet_remote_t r = { .pod_net = ip4("10.42.2.0"),
                             .pod_prefix = 24,
                             .node_ip = ip4("192.168.50.2") };
    ASSERT_OK(ek_podnet_remote_del(t.pn[0], &r, &err), &err);
    ASSERT_OK(ek_podnet_remote_del(t.pn[0], &r, &err), &err);
    ASSERT_FALSE(pings(t.pod[0], t.pod_ip[1]));
    two_nodes_down(&t);
}

TEST_T(podnet_two_nodes_vxlan, 120)
{
    struct two_nodes t;
    two_nodes_up(&t, EK_PODNET_VXLAN);
    ASSERT_EQ(link_mtu(t.pod[0], "eth0"), 1450);
    ASSERT_EQ(link_mtu(t.node[0], EK_PODNET_VXLAN_DEV), 1450);
    check_cross_node(&t);
    ek_error_t *err = NULL;
    ek_podnet_remote_t r = { .pod_net = ip4("10.42.2.0"),
                             .pod_prefix = 24,
                             .node_ip = ip4("192.168.50.2") };
    ASSERT_OK(ek_podnet_vtep_mac(t.pn[1], r.vtep_mac, &err), &err);
    ASSERT_OK(ek_podnet_remote_del(t.pn[0], &r, &err), &err);
    ASSERT_OK(ek_podnet_remote_del(t.pn[0], &r, &err), &err);
    ASSERT_FALSE(pings(t.pod[0], t.pod_ip[1]));
    two_nodes_down(&t);
}

TEST_T(podnet_masquerade_and_hostport, 120)
{
    ek_error_t *err = NULL;
    /* "The internet" (203.0.113.9) reaches the node at 203.0.113.1 over a veth pair. */
    int inet = new_netns();
    int pod = new_netns();
    int node = new_netns();
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    ek_nl_veth_t v = { .name = "up0", .peer = "up0", .peer_netns_fd = inet, .up = true };
    ASSERT_OK(ek_nl_veth_add(nl, &v, &err), &err);
    ek_nl_link_t l;
    ASSERT_OK(ek_nl_link_get(nl, "up0", &l, &err), &err);
    ASSERT_OK(ek_nl_addr(nl, EK_NL_ADD, l.index, ip4("203.0.113.1"), 24, &err), &err);
    {
        ek_auto(ek_nl_t) in = ek_nl_open(inet, &err);
        ek_nl_link_change_t up = EK_NL_LINK_CHANGE_INIT;
        up.up = 1;
        ASSERT_OK(ek_nl_link_get(in, "up0", &l, &err), &err);
        ASSERT_OK(ek_nl_link_set(in, l.index, &up, &err), &err);
        ASSERT_OK(ek_nl_link_set(in, 1, &up, &err), &err);
        ASSERT_OK(ek_nl_addr(in, EK_NL_ADD, l.index, ip4("203.0.113.9"), 24, &err), &err);
    }
    ek_podnet_config_t cfg =
        node_cfg(ek_test_tmpdir(), "10.42.1.0/24", "203.0.113.1", EK_PODNET_HOST_GW, -1);
    ek_auto(ek_podnet_t) pn = ek_podnet_open(&cfg, &err);
    ASSERT_NOT_NULL(pn);
    ASSERT_OK(ek_podnet_setup(pn, &err), &err);
    ek_podnet_hostport_t hp = { .proto = IPPROTO_TCP, .host_port = 8080, .container_port = 80 };
    ek_podnet_pod_t p = { .id = "web", .netns_fd = pod, .hostports = &hp, .n_hostports = 1 };
    struct in_addr ip;
    ASSERT_OK(ek_podnet_attach(pn, &p, &ip, &err), &err);

    /* Egress leaves with the node's address. */
    ek_autoclose int outside = listen_in(inet, 9000);
    ASSERT_STREQ(ipstr(connect_seen(pod, outside, ip4("203.0.113.9"), 9000)), "203.0.113.1");
    /* hostPort: the node's address on 8080 answers from the pod's port 80, client kept. */
    ek_autoclose int web = listen_in(pod, 80);
    ASSERT_STREQ(ipstr(connect_seen(inet, web, ip4("203.0.113.1"), 8080)), "203.0.113.9");
    /* From the node itself, and from the pod to itself through the node (hairpin). */
    ASSERT_STREQ(ipstr(connect_seen(node, web, ip4("203.0.113.1"), 8080)), "203.0.113.1");
    ASSERT_NE(connect_seen(pod, web, ip4("203.0.113.1"), 8080).s_addr, 0);
    /* Detach removes the DNAT. */
    ASSERT_OK(ek_podnet_detach(pn, &p, &err), &err);
    ASSERT_OK(ek_podnet_attach(pn, &(ek_podnet_pod_t){ .id = "web2", .netns_fd = pod }, &ip, &err),
              &err);
    ASSERT_EQ(connect_seen(inet, web, ip4("203.0.113.1"), 8080).s_addr, 0);
    EK_UNUSED(node);
}

static int make_udp(void *arg)
{
    *(int *)arg = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return *(int *)arg;
}

/* Sends "q" from a UDP socket in client_ns to to:53; the server socket (bound in the node)
 * answers "a"; returns the address the answer came from (0.0.0.0 if none arrived). */
static struct in_addr udp_round_trip(int client_ns, int server, struct in_addr to)
{
    int c = -1;
    ASSERT_CMP(ek_netns_run(client_ns, make_udp, &c), >=, 0);
    ek_autoclose int cfd = c;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53), .sin_addr = to };
    struct in_addr from = { 0 };
    if (sendto(cfd, "q", 1, 0, (struct sockaddr *)&sa, sizeof(sa)) != 1) {
        return from;
    }
    struct pollfd p = { .fd = server, .events = POLLIN };
    if (poll(&p, 1, 3000) != 1) {
        return from;
    }
    struct sockaddr_in peer;
    socklen_t len = sizeof(peer);
    char b[4];
    ASSERT_EQ(recvfrom(server, b, sizeof(b), 0, (struct sockaddr *)&peer, &len), 1);
    ASSERT_EQ(sendto(server, "a", 1, 0, (struct sockaddr *)&peer, len), 1);
    p.fd = cfd;
    if (poll(&p, 1, 3000) != 1) {
        return from;
    }
    len = sizeof(sa);
    ASSERT_EQ(recvfrom(cfd, b, sizeof(b), 0, (struct sockaddr *)&sa, &len), 1);
    return sa.sin_addr;
}

/* The cluster DNS address's port 53 leads to the gateway's, from pods and from the node. */
TEST_T(podnet_cluster_dns_steering, 120)
{
    ek_error_t *err = NULL;
    int pod = new_netns();
    int node = new_netns();
    ek_podnet_config_t cfg =
        node_cfg(ek_test_tmpdir(), "10.42.1.0/24", NULL, EK_PODNET_HOST_GW, -1);
    cfg.cluster_dns = "10.43.0.10";
    ek_auto(ek_podnet_t) pn = ek_podnet_open(&cfg, &err);
    ASSERT_NOT_NULL(pn);
    ASSERT_STREQ(ipstr(ek_podnet_gateway(pn)), "10.42.1.1");
    ASSERT_OK(ek_podnet_setup(pn, &err), &err);
    ASSERT_OK(ek_podnet_setup(pn, &err), &err); /* idempotent */
    struct in_addr ip = attach(pn, "client", pod);
    struct in_addr dns = ip4("10.43.0.10");
    /* A node's loopback is up (local delivery after the output DNAT goes through it). */
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    ek_nl_link_change_t up = EK_NL_LINK_CHANGE_INIT;
    up.up = 1;
    ASSERT_OK(ek_nl_link_set(nl, 1, &up, &err), &err);

    /* UDP: the reply comes back from the address the client asked. */
    int s = -1;
    ASSERT_CMP(ek_netns_run(node, make_udp, &s), >=, 0);
    ek_autoclose int server = s;
    struct sockaddr_in gw = { .sin_family = AF_INET,
                              .sin_port = htons(53),
                              .sin_addr = ek_podnet_gateway(pn) };
    ASSERT_EQ(bind(server, (struct sockaddr *)&gw, sizeof(gw)), 0);
    ASSERT_STREQ(ipstr(udp_round_trip(pod, server, dns)), "10.43.0.10");
    ASSERT_STREQ(ipstr(udp_round_trip(node, server, dns)), "10.43.0.10"); /* no default route */
    /* TCP: the pod keeps its own address; the node's processes come from the gateway. */
    ek_autoclose int tcp = listen_in(node, 53);
    ASSERT_STREQ(ipstr(connect_seen(pod, tcp, dns, 53)), ipstr(ip));
    ASSERT_STREQ(ipstr(connect_seen(node, tcp, dns, 53)), "10.42.1.1");
    /* Only port 53 is steered. */
    ek_autoclose int other = listen_in(node, 54);
    ASSERT_EQ(connect_seen(pod, other, dns, 54).s_addr, 0);

    /* An agent without a cluster DNS address refills the table without the steering. */
    cfg.cluster_dns = NULL;
    ek_auto(ek_podnet_t) plain = ek_podnet_open(&cfg, &err);
    ASSERT_NOT_NULL(plain);
    ASSERT_OK(ek_podnet_setup(plain, &err), &err);
    ASSERT_EQ(connect_seen(pod, tcp, dns, 53).s_addr, 0);
    /* A bad address is refused up front. */
    cfg.cluster_dns = "10.43.0";
    ASSERT_TRUE(ek_podnet_open(&cfg, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "cluster DNS address");
    ek_error_free(err);
}

struct snapshot {
    char *links, *routes, *rules;
};

static int snap_link(const ek_nl_link_t *l, void *arg)
{
    ek_buf_t *b = arg;
    char line[64];
    snprintf(line, sizeof(line), "%s/%s/%d\n", l->name, l->kind, l->mtu);
    ek_buf_append(b, line, strlen(line));
    return 0;
}

static int snap_route(const ek_nl_route_t *r, void *arg)
{
    ek_buf_t *b = arg;
    char line[96];
    snprintf(line, sizeof(line), "%s/%d via %s dev %d proto %d\n", ipstr(r->dst), r->prefix,
             ipstr(r->gw), r->index, r->protocol);
    ek_buf_append(b, line, strlen(line));
    return 0;
}

static void snapshot(struct snapshot *s)
{
    ek_error_t *err = NULL;
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    ek_buf_t links = { 0 }, routes = { 0 };
    ASSERT_OK(ek_nl_link_list(nl, snap_link, &links, &err), &err);
    ASSERT_OK(ek_nl_route_list(nl, snap_route, &routes, &err), &err);
    s->links = ek_buf_steal(&links, NULL);
    s->routes = ek_buf_steal(&routes, NULL);
    s->rules = ruleset();
}

TEST_T(podnet_cleanup_leaves_only_what_was_there, 120)
{
    ek_error_t *err = NULL;
    int pod = new_netns();
    new_netns();
    /* The node has its own bridge, route and firewall before edgek arrives. */
    ek_auto(ek_nl_t) nl = ek_nl_open(-1, &err);
    ASSERT_OK(ek_nl_bridge_add(nl, "keep0", 0, NULL, &err), &err);
    ek_nl_link_t l;
    ASSERT_OK(ek_nl_link_get(nl, "keep0", &l, &err), &err);
    ek_nl_link_change_t up = EK_NL_LINK_CHANGE_INIT;
    up.up = 1;
    ASSERT_OK(ek_nl_link_set(nl, l.index, &up, &err), &err);
    ASSERT_OK(ek_nl_addr(nl, EK_NL_ADD, l.index, ip4("192.168.9.1"), 24, &err), &err);
    ek_nl_route_t r = { .dst = ip4("10.200.0.0"), .prefix = 16, .gw = ip4("192.168.9.2") };
    ASSERT_OK(ek_nl_route(nl, EK_NL_ADD, &r, &err), &err);
    ek_auto(ek_nft_batch_t) b = ek_nft_batch_new();
    ek_nft_table_add(b, "filter");
    ek_nft_base_chain_add(b, "filter", "forward", "filter", NF_INET_FORWARD, 0);
    ek_nft_stmt_counter(ek_nft_rule_add(b, "filter", "forward"));
    ASSERT_OK(ek_nft_batch_commit(b, -1, &err), &err);
    struct snapshot before, after;
    snapshot(&before);

    ek_podnet_config_t cfg =
        node_cfg(ek_test_tmpdir(), "10.42.1.0/24", "192.168.9.1", EK_PODNET_VXLAN, -1);
    ek_auto(ek_podnet_t) pn = ek_podnet_open(&cfg, &err);
    ASSERT_OK(ek_podnet_setup(pn, &err), &err);
    ek_podnet_hostport_t hp = { .proto = IPPROTO_UDP, .host_port = 5353, .container_port = 53 };
    ek_podnet_pod_t p = { .id = "p", .netns_fd = pod, .hostports = &hp, .n_hostports = 1 };
    struct in_addr ip;
    ASSERT_OK(ek_podnet_attach(pn, &p, &ip, &err), &err);
    ek_podnet_remote_t rem = { .pod_net = ip4("10.42.2.0"),
                               .pod_prefix = 24,
                               .node_ip = ip4("192.168.9.2") };
    ASSERT_EQ(ek_mac_parse("02:00:00:00:00:09", rem.vtep_mac), 0);
    ASSERT_OK(ek_podnet_remote_add(pn, &rem, &err), &err);
    ASSERT_EQ(ek_nft_table_exists(EK_PODNET_TABLE, -1, &err), 1);

    ASSERT_OK(ek_podnet_cleanup(&cfg, &err), &err);
    ASSERT_OK(ek_podnet_cleanup(&cfg, &err), &err); /* idempotent */
    snapshot(&after);
    ASSERT_STREQ(after.links, before.links);
    ASSERT_STREQ(after.routes, before.routes);
    ASSERT_STREQ(after.rules, before.rules);
    ASSERT_CONTAINS(after.rules, "table ip filter");
    ASSERT_EQ(link_mtu(pod, "eth0"), -ENODEV);
    free(before.links), free(before.routes), free(before.rules);
    free(after.links), free(after.routes), free(after.rules);
}
