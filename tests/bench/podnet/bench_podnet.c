/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod network setup time: creates a node namespace and N pod namespaces of its own (as root),
 * sets the node up, then times ek_podnet_attach for each pod (veth pair, addresses, routes,
 * loopback; every other pod also one hostPort, which costs an nftables transaction) and
 * ek_podnet_detach. Prints p50/p99 in milliseconds:
 *   attach_p50_ms=... attach_p99_ms=... attach_hostport_p50_ms=... detach_p50_ms=...
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <time.h>

#include "net/net.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int i = (int)(p * (n - 1) + 0.5);
    return v[i];
}

static int new_netns(void)
{
    if (unshare(CLONE_NEWNET) < 0) {
        perror("unshare(CLONE_NEWNET)");
        exit(1);
    }
    return open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int n = argc > 2 ? atoi(argv[2]) : 100;
    if (n < 2 || n > 250) {
        fprintf(stderr, "usage: bench_podnet DIR [N 2..250]\n");
        return 2;
    }
    int *pods = calloc((size_t)n, sizeof(*pods));
    double *att = calloc((size_t)n, sizeof(*att)), *det = calloc((size_t)n, sizeof(*det));
    double *atth = calloc((size_t)n, sizeof(*atth));
    int n_att = 0, n_atth = 0;
    for (int i = 0; i < n; i++) {
        pods[i] = new_netns();
    }
    new_netns(); /* the node; we stay in it */
    ek_error_t *err = NULL;
    ek_podnet_config_t cfg = { .data_dir = dir,
                               .cluster_cidr = "10.42.0.0/16",
                               .node_cidr = "10.42.1.0/24",
                               .node_ip = "10.0.0.1",
                               .backend = EK_PODNET_VXLAN,
                               .mtu = 1500,
                               .netns_fd = -1 };
    ek_podnet_t *pn = ek_podnet_open(&cfg, &err);
    if (!pn || ek_podnet_setup(pn, &err) < 0) {
        fprintf(stderr, "setup: %s\n", ek_error_msg(err));
        return 1;
    }
    ek_podnet_hostport_t hp = { .proto = IPPROTO_TCP, .container_port = 80 };
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "bench-pod-%d", i);
        hp.host_port = (uint16_t)(20000 + i);
        ek_podnet_pod_t pod = {
            .id = id, .netns_fd = pods[i], .hostports = &hp, .n_hostports = (size_t)(i % 2)
        };
        struct in_addr ip;
        double t0 = now_ms();
        if (ek_podnet_attach(pn, &pod, &ip, &err) < 0) {
            fprintf(stderr, "attach: %s\n", ek_error_msg(err));
            return 1;
        }
        if (i % 2) {
            atth[n_atth++] = now_ms() - t0;
        } else {
            att[n_att++] = now_ms() - t0;
        }
    }
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "bench-pod-%d", i);
        hp.host_port = (uint16_t)(20000 + i);
        ek_podnet_pod_t pod = {
            .id = id, .netns_fd = pods[i], .hostports = &hp, .n_hostports = (size_t)(i % 2)
        };
        double t0 = now_ms();
        if (ek_podnet_detach(pn, &pod, &err) < 0) {
            fprintf(stderr, "detach: %s\n", ek_error_msg(err));
            return 1;
        }
        det[i] = now_ms() - t0;
    }
    double a50 = pct(att, n_att, 0.5), a99 = pct(att, n_att, 0.99);
    double h50 = pct(atth, n_atth, 0.5), d50 = pct(det, n, 0.5);
    printf("attach_p50_ms=%.2f attach_p99_ms=%.2f attach_hostport_p50_ms=%.2f "
           "detach_p50_ms=%.2f pods=%d\n",
           a50, a99, h50, d50, n);
    ek_podnet_close(pn);
    return 0;
}
