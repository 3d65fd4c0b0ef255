/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek podnet ACTION`: the pod network library driven by hand, for tests, benchmarks and
 * debugging on a node (hidden; the agent calls the same functions). Each run opens the node's
 * state afresh, as an agent restart would, so it also exercises adoption of existing links.
 *
 *   setup | cleanup | vtep-mac
 *   attach --id ID --pod-netns PATH [--hostport tcp:8080:80[:HOSTIP]]...   prints the IP
 *   detach --id ID [--hostport ...] | reconcile --live ID,ID,...
 *   remote-add|remote-del --pod-cidr CIDR --remote-ip IP [--vtep-mac MAC]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "net/net.h"

static char *data_dir, *cluster_cidr, *node_cidr, *node_ip, *uplink, *backend, *netns_path;
static char *pod_id, *pod_netns, *pod_cidr, *remote_ip, *vtep_mac;
static int mtu;
static ek_strlist_t hostports, live;

static const ek_flag_t podnet_flags[] = {
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR", "data directory" },
    { "cluster-cidr", 0, EK_FLAG_STRING, &cluster_cidr, NULL, "CIDR", "default 10.42.0.0/16" },
    { "node-cidr", 0, EK_FLAG_STRING, &node_cidr, NULL, "CIDR", "this node's pod subnet" },
    { "node-ip", 0, EK_FLAG_STRING, &node_ip, NULL, "IP", "this node's address" },
    { "uplink", 0, EK_FLAG_STRING, &uplink, NULL, "DEV", "device carrying the node IP" },
    { "pod-network-backend", 0, EK_FLAG_STRING, &backend, NULL, "NAME",
      "host-gw, vxlan (default) or none" },
    { "mtu", 0, EK_FLAG_INT, &mtu, NULL, "N", "the uplink's MTU (default 1500)" },
    { "netns", 0, EK_FLAG_STRING, &netns_path, NULL, "PATH", "the node's netns (default: own)" },
    { "id", 0, EK_FLAG_STRING, &pod_id, NULL, "ID", "pod id (attach, detach)" },
    { "pod-netns", 0, EK_FLAG_STRING, &pod_netns, NULL, "PATH", "the pod's netns (attach)" },
    { "hostport", 0, EK_FLAG_LIST, &hostports, NULL, "PROTO:HOST:CONTAINER[:HOSTIP]",
      "hostPort mapping (attach, detach)" },
    { "live", 0, EK_FLAG_LIST, &live, NULL, "ID,...", "pods still alive (reconcile)" },
    { "pod-cidr", 0, EK_FLAG_STRING, &pod_cidr, NULL, "CIDR", "remote node's pod subnet" },
    { "remote-ip", 0, EK_FLAG_STRING, &remote_ip, NULL, "IP", "remote node's address" },
    { "vtep-mac", 0, EK_FLAG_STRING, &vtep_mac, NULL, "MAC", "remote node's VTEP MAC" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

static int parse_hostport(const char *s, ek_podnet_hostport_t *hp, ek_error_t **err)
{
    char proto[8], ip[INET_ADDRSTRLEN] = "";
    unsigned host, cont;
    int n = sscanf(s, "%7[a-z]:%u:%u:%15s", proto, &host, &cont, ip);
    memset(hp, 0, sizeof(*hp));
    hp->proto = ek_streq(proto, "tcp") ? IPPROTO_TCP : ek_streq(proto, "udp") ? IPPROTO_UDP : 0;
    if (n < 3 || !hp->proto || host == 0 || host > 65535 || cont == 0 || cont > 65535 ||
        (n == 4 && inet_pton(AF_INET, ip, &hp->host_ip) != 1)) {
        return ek_error_make(err, EINVAL, "bad --hostport `%s` (want tcp:8080:80[:IP])", s);
    }
    hp->host_port = (uint16_t)host;
    hp->container_port = (uint16_t)cont;
    return 0;
}

static int pod_action(ek_podnet_t *pn, bool attach, ek_error_t **err)
{
    ek_podnet_hostport_t hps[16];
    if (!pod_id || hostports.n > EK_ARRAY_SIZE(hps)) {
        return ek_error_make(err, EINVAL, "want --id (and at most 16 --hostport)");
    }
    for (size_t i = 0; i < hostports.n; i++) {
        if (parse_hostport(hostports.v[i], &hps[i], err) < 0) {
            return -1;
        }
    }
    ek_podnet_pod_t pod = { .id = pod_id,
                            .netns_fd = -1,
                            .netns_path = pod_netns,
                            .hostports = hps,
                            .n_hostports = hostports.n };
    if (!attach) {
        return ek_podnet_detach(pn, &pod, err);
    }
    struct in_addr ip;
    if (ek_podnet_attach(pn, &pod, &ip, err) < 0) {
        return -1;
    }
    char a[INET_ADDRSTRLEN];
    printf("%s\n", inet_ntop(AF_INET, &ip, a, sizeof(a)));
    return 0;
}

static int remote_action(ek_podnet_t *pn, bool add, ek_error_t **err)
{
    ek_podnet_remote_t r = { 0 };
    if (ek_cidr_parse(pod_cidr, &r.pod_net, &r.pod_prefix, err) < 0 ||
        ek_cidr_parse(remote_ip, &r.node_ip, &(int){ 0 }, err) < 0) {
        return ek_error_wrap(err, "want --pod-cidr and --remote-ip");
    }
    if (vtep_mac && ek_mac_parse(vtep_mac, r.vtep_mac) < 0) {
        return ek_error_make(err, EINVAL, "bad --vtep-mac `%s`", vtep_mac);
    }
    return add ? ek_podnet_remote_add(pn, &r, err) : ek_podnet_remote_del(pn, &r, err);
}

static int node_action(ek_podnet_t *pn, const char *action, ek_error_t **err)
{
    if (ek_streq(action, "setup")) {
        return ek_podnet_setup(pn, err);
    }
    if (ek_streq(action, "attach") || ek_streq(action, "detach")) {
        return pod_action(pn, ek_streq(action, "attach"), err);
    }
    if (ek_streq(action, "remote-add") || ek_streq(action, "remote-del")) {
        return remote_action(pn, ek_streq(action, "remote-add"), err);
    }
    if (ek_streq(action, "reconcile")) {
        int n = ek_podnet_reconcile(pn, (const char *const *)live.v, live.n, err);
        if (n >= 0) {
            printf("released %d\n", n);
        }
        return n;
    }
    if (ek_streq(action, "vtep-mac")) {
        uint8_t mac[6];
        char s[18];
        if (ek_podnet_vtep_mac(pn, mac, err) < 0) {
            return -1;
        }
        printf("%s\n", ek_mac_format(mac, s));
        return 0;
    }
    return ek_error_make(err, EINVAL, "unknown action `%s`", action);
}

static int run_podnet(int nargs, char **argv)
{
    if (nargs != 1) {
        fprintf(stderr, "edgek podnet: want one action (see `edgek help podnet`)\n");
        return 2;
    }
    ek_error_t *err = NULL;
    ek_autoclose int ns = netns_path ? open(netns_path, O_RDONLY | O_CLOEXEC) : -1;
    if (netns_path && ns < 0) {
        ek_error_make(&err, errno, "open `%s`", netns_path);
        return ek_cmd_fail(err);
    }
    ek_podnet_config_t cfg = {
        .data_dir = data_dir ? data_dir : "/var/lib/edgek",
        .cluster_cidr = cluster_cidr ? cluster_cidr : "10.42.0.0/16",
        .node_cidr = node_cidr ? node_cidr : "10.42.0.0/24",
        .node_ip = node_ip,
        .uplink = uplink,
        .mtu = mtu,
        .netns_fd = ns,
    };
    if (ek_podnet_backend_parse(backend ? backend : "vxlan", &cfg.backend, &err) < 0) {
        return ek_cmd_fail(err);
    }
    if (ek_streq(argv[1], "cleanup")) {
        return ek_podnet_cleanup(&cfg, &err) < 0 ? ek_cmd_fail(err) : 0;
    }
    ek_auto(ek_podnet_t) pn = ek_podnet_open(&cfg, &err);
    if (!pn || node_action(pn, argv[1], &err) < 0) {
        return ek_cmd_fail(err);
    }
    return 0;
}

const ek_cmd_t ek_cmd_podnet = {
    .name = "podnet",
    .summary = "drive the pod network by hand (tests and debugging)",
    .usage = "setup|attach|detach|reconcile|remote-add|remote-del|vtep-mac|cleanup",
    .flags = podnet_flags,
    .run = run_podnet,
    .hidden = true,
};
