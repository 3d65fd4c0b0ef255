/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Registry configuration in k3s's registries.yaml format — `mirrors:` (per registry host or
 * "*": endpoint URLs tried in order, then the registry itself; `rewrite:` regular expressions
 * applied to the repository path on mirrors) and `configs:` (per host: auth username/password,
 * auth (base64 user:pass) or identitytoken; tls ca_file, cert_file, key_file,
 * insecure_skip_verify) — plus credentials from kubernetes.io/dockerconfigjson Secrets, and
 * the parsing of WWW-Authenticate challenges.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <strings.h>

#include "node/image/image-internal.h"

json_t *ek__registries_load(const char *path, ek_error_t **err)
{
    size_t len;
    ek_error_t *e = NULL;
    ek_autofree char *text = ek_file_read(path, 1 << 20, &len, &e);
    if (!text) {
        if (e && e->errnum == ENOENT) {
            ek_error_free(e);
            return json_object();
        }
        if (err && !*err) {
            *err = e;
        } else {
            ek_error_free(e);
        }
        return NULL;
    }
    json_t *j = ek_yaml_to_json(text, len, err);
    if (!j) {
        ek_error_wrap(err, "%s", path);
        return NULL;
    }
    if (json_is_null(j)) {
        json_decref(j);
        return json_object();
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ek_error_make(err, 0, "%s: not a mapping", path);
        return NULL;
    }
    return j;
}

void ek__endpoints_free(ek__endpoint_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].base);
        free(e[i].prefix);
        free(e[i].host);
        free(e[i].repo);
    }
    free(e);
}

/* Applies the first matching rewrite rule ("regex": "replacement with $1"). */
static char *rewrite_repo(json_t *rules, const char *repo)
{
    const char *re;
    json_t *v;
    json_object_foreach (rules, re, v) {
        const char *repl = json_string_value(v);
        regex_t rx;
        if (!repl || regcomp(&rx, re, REG_EXTENDED) != 0) {
            continue;
        }
        regmatch_t m[10];
        if (regexec(&rx, repo, 10, m, 0) != 0) {
            regfree(&rx);
            continue;
        }
        ek_autobuf b = EK_BUF_INIT;
        ek_buf_append(&b, repo, (size_t)m[0].rm_so);
        for (const char *p = repl; *p; p++) {
            if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
                int g = p[1] - '0';
                if (m[g].rm_so >= 0) {
                    ek_buf_append(&b, repo + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
                }
                p++;
            } else {
                ek_buf_putc(&b, *p);
            }
        }
        ek_buf_puts(&b, repo + m[0].rm_eo);
        regfree(&rx);
        return ek_buf_steal(&b, NULL);
    }
    return ek_xstrdup(repo);
}

static int add_endpoint(ek__endpoint_t **out, size_t *n, const char *url, const char *repo,
                        bool mirror, ek_error_t **err)
{
    const char *scheme_end = strstr(url, "://");
    const char *hoststart = scheme_end ? scheme_end + 3 : url;
    if (scheme_end && !ek_has_prefix(url, "http://") && !ek_has_prefix(url, "https://")) {
        return ek_error_make(err, 0, "registries.yaml: endpoint `%s`: unsupported scheme", url);
    }
    const char *slash = strchr(hoststart, '/');
    size_t hlen = slash ? (size_t)(slash - hoststart) : strlen(hoststart);
    if (hlen == 0) {
        return ek_error_make(err, 0, "registries.yaml: endpoint `%s` has no host", url);
    }
    *out = ek_xrealloc(*out, (*n + 1) * sizeof(**out));
    ek__endpoint_t *e = &(*out)[(*n)++];
    e->host = ek_xstrndup(hoststart, hlen);
    e->base = ek_xasprintf("%s://%s", ek_has_prefix(url, "http://") ? "http" : "https", e->host);
    /* A path on the endpoint replaces /v2 (k3s and containerd's override_path). */
    const char *path = slash ? slash : "";
    size_t plen = strlen(path);
    while (plen > 0 && path[plen - 1] == '/') {
        plen--;
    }
    e->prefix = plen ? ek_xstrndup(path, plen) : ek_xstrdup("/v2");
    e->repo = ek_xstrdup(repo);
    e->mirror = mirror;
    return 0;
}

static const char *upstream_host(const char *domain)
{
    return strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
}

int ek__registries_endpoints(json_t *reg, const ek_image_ref_t *ref, ek__endpoint_t **out,
                             size_t *n, ek_error_t **err)
{
    *out = NULL;
    *n = 0;
    json_t *mirrors = json_object_get(reg, "mirrors");
    json_t *mirror = json_object_get(mirrors, ref->domain);
    if (!mirror) {
        mirror = json_object_get(mirrors, "*");
    }
    json_t *eps = json_object_get(mirror, "endpoint"), *v;
    size_t i;
    ek_autofree char *rewritten = rewrite_repo(json_object_get(mirror, "rewrite"), ref->path);
    bool have_self = false;
    json_array_foreach (eps, i, v) {
        const char *url = json_string_value(v);
        if (!url) {
            continue;
        }
        if (add_endpoint(out, n, url, rewritten, true, err) < 0) {
            ek__endpoints_free(*out, *n);
            *out = NULL;
            *n = 0;
            return -1;
        }
        /* An endpoint naming the registry itself is the default one: no rewrite there. */
        ek__endpoint_t *e = &(*out)[*n - 1];
        if (strcmp(e->host, ref->domain) == 0 || strcmp(e->host, upstream_host(ref->domain)) == 0) {
            free(e->repo);
            e->repo = ek_xstrdup(ref->path);
            e->mirror = false;
            have_self = true;
        }
    }
    if (have_self) {
        return 0;
    }
    ek_autofree char *up = ek_xasprintf("https://%s", upstream_host(ref->domain));
    return add_endpoint(out, n, up, ref->path, false, err);
}

void ek__creds_free(ek__creds_t *c)
{
    free(c->username);
    free(c->password);
    free(c->identity_token);
    memset(c, 0, sizeof(*c));
}

/* Compares a dockerconfig key ("https://index.docker.io/v1/", "host:5000") with a host. */
static bool auth_key_matches(const char *key, const char *host)
{
    const char *k = strstr(key, "://") ? strstr(key, "://") + 3 : key;
    size_t klen = strcspn(k, "/");
    static const char *const hub[] = { "docker.io", "index.docker.io", "registry-1.docker.io" };
    bool khub = false, hhub = false;
    for (size_t i = 0; i < EK_ARRAY_SIZE(hub); i++) {
        khub = khub || (strlen(hub[i]) == klen && strncmp(k, hub[i], klen) == 0);
        hhub = hhub || strcmp(host, hub[i]) == 0;
    }
    return (khub && hhub) || (strlen(host) == klen && strncasecmp(k, host, klen) == 0);
}

static int fill_creds(json_t *a, ek__creds_t *c)
{
    const char *user = ek_json_str(a, "username", NULL), *pass = ek_json_str(a, "password", NULL);
    const char *auth = ek_json_str(a, "auth", NULL);
    const char *tok = ek_json_str(a, "identitytoken", NULL);
    if (!tok) {
        tok = ek_json_str(a, "identity_token", NULL);
    }
    if ((!user || !*user) && auth && *auth) {
        size_t len;
        ek_autofree char *dec = ek_base64_decode(auth, &len);
        char *colon = dec ? strchr(dec, ':') : NULL;
        if (colon) {
            c->username = ek_xstrndup(dec, (size_t)(colon - dec));
            c->password = ek_xstrdup(colon + 1);
        }
    } else if (user && *user) {
        c->username = ek_xstrdup(user);
        c->password = ek_xstrdup(pass ? pass : "");
    }
    if (tok && *tok) {
        c->identity_token = ek_xstrdup(tok);
    }
    return c->username || c->identity_token ? 0 : 1;
}

static int creds_from_dockerconfig(json_t *cfg, const char *host, ek__creds_t *c)
{
    json_t *auths = json_object_get(cfg, "auths");
    if (!auths) {
        auths = cfg; /* the legacy .dockercfg shape: keys at the top level */
    }
    const char *key;
    json_t *v;
    json_object_foreach (auths, key, v) {
        if (json_is_object(v) && auth_key_matches(key, host) && fill_creds(v, c) == 0) {
            return 0;
        }
    }
    return 1;
}

int ek__registries_creds(json_t *reg, const char *auth_json, const char *host, ek__creds_t *c)
{
    memset(c, 0, sizeof(*c));
    if (auth_json && *auth_json) {
        ek_auto(json_t) j = ek_json_parse(auth_json, strlen(auth_json), NULL);
        if (json_is_array(j)) {
            size_t i;
            json_t *v;
            json_array_foreach (j, i, v) {
                if (creds_from_dockerconfig(v, host, c) == 0) {
                    return 0;
                }
            }
        } else if (json_is_object(j) && creds_from_dockerconfig(j, host, c) == 0) {
            return 0;
        }
    }
    json_t *a = ek_json_path(reg, "configs", host, "auth", NULL);
    if (!a && strcmp(host, "registry-1.docker.io") == 0) {
        a = ek_json_path(reg, "configs", "docker.io", "auth", NULL);
    }
    return json_is_object(a) ? fill_creds(a, c) : 1;
}

ek_tls_config_t *ek__registries_tls(json_t *reg, const char *host, ek_error_t **err)
{
    json_t *tls = ek_json_path(reg, "configs", host, "tls", NULL);
    if (!json_is_object(tls)) {
        return NULL;
    }
    const char *ca = ek_json_str(tls, "ca_file", NULL), *cert = ek_json_str(tls, "cert_file", NULL);
    const char *key = ek_json_str(tls, "key_file", NULL);
    bool insecure = ek_json_bool(tls, 0, "insecure_skip_verify", NULL);
    ek_autofree char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
    if (ca && !(ca_pem = ek_file_read(ca, 1 << 20, NULL, err))) {
        ek_error_wrap(err, "registries.yaml: %s ca_file", host);
        return NULL;
    }
    if (cert && key &&
        (!(cert_pem = ek_file_read(cert, 1 << 20, NULL, err)) ||
         !(key_pem = ek_file_read(key, 1 << 20, NULL, err)))) {
        ek_error_wrap(err, "registries.yaml: %s client certificate", host);
        return NULL;
    }
    ek_tls_config_t *cfg = ek_tls_client_config_new(ca_pem, cert_pem, key_pem, insecure, err);
    if (!cfg) {
        ek_error_wrap(err, "registries.yaml: TLS for %s", host);
    }
    return cfg;
}

/* Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="..." */
int ek__parse_www_authenticate(const char *h, char **scheme, char **realm, char **service,
                               char **scope)
{
    *scheme = *realm = *service = *scope = NULL;
    while (*h == ' ') {
        h++;
    }
    size_t sl = strcspn(h, " ");
    if (sl == 0) {
        return -1;
    }
    *scheme = ek_xstrndup(h, sl);
    for (char *p = *scheme; *p; p++) {
        *p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    }
    const char *p = h + sl;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t kl = strcspn(p, "=, ");
        if (kl == 0 || p[kl] != '=') {
            break;
        }
        const char *key = p;
        p += kl + 1;
        ek_autobuf v = EK_BUF_INIT;
        ek_buf_puts(&v, "");
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                    p++;
                }
                ek_buf_putc(&v, *p);
            }
            if (*p == '"') {
                p++;
            }
        } else {
            size_t vl = strcspn(p, ",");
            ek_buf_append(&v, p, vl);
            p += vl;
        }
        char **slot = kl == 5 && !strncasecmp(key, "realm", 5)     ? realm
                      : kl == 7 && !strncasecmp(key, "service", 7) ? service
                      : kl == 5 && !strncasecmp(key, "scope", 5)   ? scope
                                                                   : NULL;
        if (slot) {
            free(*slot);
            *slot = ek_buf_steal(&v, NULL);
        }
    }
    return 0;
}
