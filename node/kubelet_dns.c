/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The three files the kubelet writes for every pod and binds into each container:
 * /etc/resolv.conf (per dnsPolicy ClusterFirst, ClusterFirstWithHostNet, Default, None, with
 * dnsConfig merged in as the kubelet's DNS configurer does), /etc/hosts (the kubelet-managed
 * file with the pod's address, hostname/subdomain FQDN and hostAliases; hostNetwork pods get
 * the node's file plus their aliases) and /etc/hostname. Pure text builders.
 */
#include <stdio.h>

#include "node/kubelet-internal.h"

#define MAX_NAMESERVERS 3
#define MAX_SEARCHES    32

typedef struct resolv {
    ek_strlist_t ns, search, options;
} resolv_t;

static void resolv_free(resolv_t *r)
{
    ek_strlist_free(&r->ns);
    ek_strlist_free(&r->search);
    ek_strlist_free(&r->options);
}

static bool has(const ek_strlist_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

static void add_unique(ek_strlist_t *l, const char *s)
{
    if (*s && !has(l, s)) {
        ek_strlist_add(l, s);
    }
}

/* An option "name[:value]" replaces one with the same name (dnsConfig overrides the host). */
static void add_option(ek_strlist_t *l, const char *opt)
{
    size_t nlen = strcspn(opt, ":");
    for (size_t i = 0; i < l->n; i++) {
        if (strncmp(l->v[i], opt, nlen) == 0 && (l->v[i][nlen] == ':' || !l->v[i][nlen])) {
            free(l->v[i]);
            l->v[i] = ek_xstrdup(opt);
            return;
        }
    }
    ek_strlist_add(l, opt);
}

/* Nameservers, search domains and options of a resolv.conf text (the last search or domain
 * line wins, as in glibc). */
static void parse_resolv(const char *text, resolv_t *r)
{
    ek_autofree char *copy = ek_xstrdup(text ? text : "");
    for (char *line = copy, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        char *save = NULL;
        char *key = strtok_r(line, " \t\r", &save);
        if (!key || key[0] == '#' || key[0] == ';') {
            continue;
        }
        bool search = strcmp(key, "search") == 0 || strcmp(key, "domain") == 0;
        if (search) {
            ek_strlist_free(&r->search);
        }
        for (char *w; (w = strtok_r(NULL, " \t\r", &save));) {
            if (strcmp(key, "nameserver") == 0) {
                ek_strlist_add(&r->ns, w);
                break;
            } else if (search) {
                add_unique(&r->search, w);
            } else if (strcmp(key, "options") == 0) {
                add_option(&r->options, w);
            }
        }
    }
}

static void merge_dns_config(const json_t *cfg, resolv_t *r)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(cfg, "nameservers"), i, v) {
        add_unique(&r->ns, json_string_value(v) ?: "");
    }
    json_array_foreach (json_object_get(cfg, "searches"), i, v) {
        add_unique(&r->search, json_string_value(v) ?: "");
    }
    json_array_foreach (json_object_get(cfg, "options"), i, v) {
        const char *name = ek_json_str(v, "name", NULL);
        const char *val = ek_json_str(v, "value", NULL);
        if (name && *name) {
            ek_autofree char *o = val ? ek_xasprintf("%s:%s", name, val) : ek_xstrdup(name);
            add_option(&r->options, o);
        }
    }
}

char *ek__kl_resolv_conf(const json_t *pod, const char *host_resolv, const char *cluster_dns,
                         const char *cluster_domain)
{
    const char *policy = ek_json_str(pod, "spec", "dnsPolicy", NULL) ?: "ClusterFirst";
    bool host_net = ek_json_bool(pod, false, "spec", "hostNetwork", NULL);
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL) ?: "default";
    resolv_t host = { 0 }, r = { 0 };
    parse_resolv(host_resolv, &host);
    bool cluster = strcmp(policy, "ClusterFirstWithHostNet") == 0 ||
                   (strcmp(policy, "ClusterFirst") == 0 && !host_net);
    if (cluster && cluster_dns && *cluster_dns) {
        ek_strlist_add(&r.ns, cluster_dns);
        char d[512];
        snprintf(d, sizeof(d), "%s.svc.%s", ns, cluster_domain);
        add_unique(&r.search, d);
        snprintf(d, sizeof(d), "svc.%s", cluster_domain);
        add_unique(&r.search, d);
        add_unique(&r.search, cluster_domain);
        for (size_t i = 0; i < host.search.n; i++) {
            add_unique(&r.search, host.search.v[i]);
        }
        add_option(&r.options, "ndots:5");
    } else if (strcmp(policy, "None") != 0) {
        for (size_t i = 0; i < host.ns.n; i++) {
            ek_strlist_add(&r.ns, host.ns.v[i]);
        }
        for (size_t i = 0; i < host.search.n; i++) {
            add_unique(&r.search, host.search.v[i]);
        }
        for (size_t i = 0; i < host.options.n; i++) {
            add_option(&r.options, host.options.v[i]);
        }
    }
    merge_dns_config(ek_json_path(pod, "spec", "dnsConfig", NULL), &r);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    if (r.search.n) {
        ek_buf_puts(&b, "search");
        for (size_t i = 0; i < r.search.n && i < MAX_SEARCHES; i++) {
            ek_buf_printf(&b, " %s", r.search.v[i]);
        }
        ek_buf_putc(&b, '\n');
    }
    for (size_t i = 0; i < r.ns.n && i < MAX_NAMESERVERS; i++) {
        ek_buf_printf(&b, "nameserver %s\n", r.ns.v[i]);
    }
    if (r.options.n) {
        ek_buf_puts(&b, "options");
        for (size_t i = 0; i < r.options.n; i++) {
            ek_buf_printf(&b, " %s", r.options.v[i]);
        }
        ek_buf_putc(&b, '\n');
    }
    resolv_free(&host);
    resolv_free(&r);
    return ek_buf_steal(&b, NULL);
}

static void host_aliases(const json_t *pod, ek_buf_t *b)
{
    json_t *aliases = ek_json_path(pod, "spec", "hostAliases", NULL);
    if (!json_array_size(aliases)) {
        return;
    }
    ek_buf_puts(b, "\n# Entries added by HostAliases.\n");
    size_t i, j;
    json_t *a, *h;
    json_array_foreach (aliases, i, a) {
        ek_buf_puts(b, ek_json_str(a, "ip", NULL) ?: "");
        json_array_foreach (json_object_get(a, "hostnames"), j, h) {
            ek_buf_printf(b, "\t%s", json_string_value(h) ?: "");
        }
        ek_buf_putc(b, '\n');
    }
}

char *ek__kl_hosts_file(const json_t *pod, const char *pod_ip, const char *cluster_domain,
                        const char *host_hosts)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    if (ek_json_bool(pod, false, "spec", "hostNetwork", NULL)) {
        ek_buf_puts(&b, host_hosts ? host_hosts : "");
        host_aliases(pod, &b);
        return ek_buf_steal(&b, NULL);
    }
    ek_buf_puts(&b, "# Kubernetes-managed hosts file.\n"
                    "127.0.0.1\tlocalhost\n"
                    "::1\tlocalhost ip6-localhost ip6-loopback\n"
                    "fe00::0\tip6-localnet\n"
                    "fe00::0\tip6-mcastprefix\n"
                    "fe00::1\tip6-allnodes\n"
                    "fe00::2\tip6-allrouters\n");
    if (pod_ip && *pod_ip) {
        ek_autofree char *hn = ek__kl_pod_hostname(pod, NULL);
        const char *sub = ek_json_str(pod, "spec", "subdomain", NULL);
        if (sub && *sub) {
            ek_buf_printf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", pod_ip, hn, sub,
                          ek_json_str(pod, "metadata", "namespace", NULL) ?: "default",
                          cluster_domain, hn);
        } else {
            ek_buf_printf(&b, "%s\t%s\n", pod_ip, hn);
        }
    }
    host_aliases(pod, &b);
    return ek_buf_steal(&b, NULL);
}

char *ek__kl_pod_hostname(const json_t *pod, const char *node_hostname)
{
    if (ek_json_bool(pod, false, "spec", "hostNetwork", NULL) && node_hostname) {
        return ek_xstrdup(node_hostname);
    }
    const char *h = ek_json_str(pod, "spec", "hostname", NULL);
    if (!h || !*h) {
        h = ek_json_str(pod, "metadata", "name", NULL) ?: "";
    }
    /* At most 63 bytes, without a trailing '-' or '.' (truncatePodHostnameIfNeeded). */
    size_t n = EK_MIN(strlen(h), (size_t)63);
    while (n > 0 && (h[n - 1] == '-' || h[n - 1] == '.')) {
        n--;
    }
    return ek_xstrndup(h, n);
}
