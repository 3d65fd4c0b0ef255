/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Working inside another network namespace without moving the calling thread: a helper
 * thread joins the namespace, runs one function (typically opening a netlink socket, which
 * stays bound to that namespace for its whole life) and ends. Plus the small parsers for
 * CIDRs and MAC addresses the rest of podnet and its callers share.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

#include "net/podnet/podnet-internal.h"

struct netns_call {
    int fd;
    int (*fn)(void *arg);
    void *arg;
    int ret;
    int err;
};

static void *netns_thread(void *p)
{
    struct netns_call *c = p;
    if (setns(c->fd, CLONE_NEWNET) < 0) {
        c->ret = -1;
        c->err = errno;
        return NULL;
    }
    errno = 0;
    c->ret = c->fn(c->arg);
    c->err = errno;
    return NULL;
}

int ek_netns_run(int netns_fd, int (*fn)(void *arg), void *arg)
{
    if (netns_fd < 0) {
        return fn(arg);
    }
    struct netns_call c = { .fd = netns_fd, .fn = fn, .arg = arg, .ret = -1 };
    pthread_t t;
    int rc = pthread_create(&t, NULL, netns_thread, &c);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    pthread_join(t, NULL);
    errno = c.err;
    return c.ret;
}

uint32_t ek_cidr_mask(int prefix)
{
    return prefix <= 0 ? 0 : htonl(prefix >= 32 ? 0xffffffffu : ~(0xffffffffu >> prefix));
}

int ek_cidr_parse(const char *s, struct in_addr *net, int *prefix, ek_error_t **err)
{
    char addr[INET_ADDRSTRLEN];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t len = s ? (slash ? (size_t)(slash - s) : strlen(s)) : 0;
    int p = 32;
    if (!s || len == 0 || len >= sizeof(addr)) {
        return ek_error_make(err, EINVAL, "bad CIDR `%s`", s ? s : "");
    }
    memcpy(addr, s, len);
    addr[len] = '\0';
    if (slash) {
        char *end;
        errno = 0;
        long v = strtol(slash + 1, &end, 10);
        if (errno || end == slash + 1 || *end || v < 0 || v > 32) {
            return ek_error_make(err, EINVAL, "bad prefix length in `%s`", s);
        }
        p = (int)v;
    }
    if (inet_pton(AF_INET, addr, net) != 1) {
        return ek_error_make(err, EINVAL, "bad IPv4 address in `%s`", s);
    }
    *prefix = p;
    return 0;
}

char *ek__cidr_format(struct in_addr net, int prefix, char *buf)
{
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &net, a, sizeof(a));
    snprintf(buf, 19, "%s/%d", a, prefix);
    return buf;
}

int ek_mac_parse(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (!s || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &tail) != 6) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

char *ek_mac_format(const uint8_t mac[6], char *buf)
{
    snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
             mac[5]);
    return buf;
}
