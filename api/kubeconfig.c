/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client's credentials: kubeconfig files (written as k3s writes them, read as kubectl reads
 * the fields edgek's own tools need) and join tokens in k3s's forms. Both sides of a join use
 * these: the server when it writes the admin kubeconfig and checks tokens, the agent and the
 * CLIs when they read them. No I/O beyond the one file read.
 */
#include <ctype.h>
#include <stdio.h>

#include "api/api.h"

#define TOKEN_PREFIX     "K10"
#define CA_HASH_HEX_LEN  64
#define KUBECONFIG_LIMIT (1u << 20)

/* Secrets do not linger in freed memory. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

char *ek_kubeconfig_render(const char *server_url, const char *name, const char *ca_pem,
                           const char *cert_pem, const char *key_pem)
{
    name = name ? name : "default";
    server_url = server_url ? server_url : "https://127.0.0.1:6443";
    ek_autofree char *ca = ek_base64_encode(ca_pem, strlen(ca_pem));
    ek_autofree char *crt = ek_base64_encode(cert_pem, strlen(cert_pem));
    char *key = ek_base64_encode(key_pem, strlen(key_pem));
    /* Key order as kubectl and k3s write it. */
    ek_auto(json_t) cfg = json_pack(
        "{s:s, s:[{s:{s:s, s:s}, s:s}], s:[{s:{s:s, s:s}, s:s}], s:s, s:s, s:{},"
        " s:[{s:s, s:{s:s, s:s}}]}",
        "apiVersion", "v1", "clusters", "cluster", "certificate-authority-data", ca, "server",
        server_url, "name", name, "contexts", "context", "cluster", name, "user", name, "name",
        name, "current-context", name, "kind", "Config", "preferences", "users", "name", name,
        "user", "client-certificate-data", crt, "client-key-data", key);
    free_secret(key);
    ek_assert(cfg);
    return ek_json_to_yaml(cfg);
}

void ek_kubeconfig_clear(ek_kubeconfig_t *k)
{
    free(k->server);
    free(k->ca_pem);
    free(k->cert_pem);
    free_secret(k->key_pem);
    free_secret(k->token);
    memset(k, 0, sizeof(*k));
}

/* The entry of a kubeconfig list (clusters, contexts, users) called name. Borrowed. */
static const json_t *named(const json_t *list, const char *name, const char *field)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        if (name && ek_streq(ek_json_str(e, "name", NULL), name)) {
            return json_object_get(e, field);
        }
    }
    return NULL;
}

/* `<field>-data` (base64) or the file named by `<field>` (relative to dir), or NULL. */
static int pem_field(const json_t *obj, const char *field, const char *dir, char **out,
                     ek_error_t **err)
{
    char dkey[64];
    snprintf(dkey, sizeof(dkey), "%s-data", field);
    const char *data = ek_json_str(obj, dkey, NULL);
    if (data) {
        size_t len;
        *out = ek_base64_decode(data, &len);
        return *out ? 0 : ek_error_make(err, 0, "%s is not base64", dkey);
    }
    const char *file = ek_json_str(obj, field, NULL);
    if (!file) {
        return 0;
    }
    ek_autofree char *path = file[0] == '/' ? ek_xstrdup(file) : ek_xasprintf("%s/%s", dir, file);
    *out = ek_file_read(path, KUBECONFIG_LIMIT, NULL, err);
    return *out ? 0 : ek_error_wrap(err, "%s", field);
}

int ek_kubeconfig_load(const char *path, ek_kubeconfig_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    size_t len = 0;
    char *text = ek_file_read(path, KUBECONFIG_LIMIT, &len, err);
    ek_auto(json_t) kc = text ? ek_yaml_to_json(text, len, err) : NULL;
    free_secret(text);
    if (!kc) {
        return ek_error_wrap(err, "kubeconfig `%s`", path);
    }
    const char *cur = ek_json_str(kc, "current-context", NULL);
    const json_t *ctx = named(json_object_get(kc, "contexts"), cur, "context");
    const json_t *cluster =
        named(json_object_get(kc, "clusters"), ek_json_str(ctx, "cluster", NULL), "cluster");
    const json_t *user =
        named(json_object_get(kc, "users"), ek_json_str(ctx, "user", NULL), "user");
    const char *server = ek_json_str(cluster, "server", NULL);
    if (!server || !*server) {
        return ek_error_make(err, 0, "kubeconfig `%s`: its current context names no server", path);
    }
    ek_autofree char *dir = ek_path_dirname(path);
    out->server = ek_xstrdup(server);
    out->insecure = ek_json_bool(cluster, 0, "insecure-skip-tls-verify", NULL);
    const char *token = ek_json_str(user, "token", NULL);
    out->token = token ? ek_xstrdup(token) : NULL;
    if (pem_field(cluster, "certificate-authority", dir, &out->ca_pem, err) < 0 ||
        pem_field(user, "client-certificate", dir, &out->cert_pem, err) < 0 ||
        pem_field(user, "client-key", dir, &out->key_pem, err) < 0) {
        ek_kubeconfig_clear(out);
        return ek_error_wrap(err, "kubeconfig `%s`", path);
    }
    return 0;
}

/* ---- join tokens ---- */

static bool all_of(const char *s, size_t n, int (*pred)(int))
{
    for (size_t i = 0; i < n; i++) {
        if (!pred((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static int lower_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool ek_bootstrap_token_syntax(const char *s, size_t n)
{
    return n == EK_BOOTSTRAP_TOKEN_LEN && s[EK_BOOTSTRAP_ID_LEN] == '.' &&
           all_of(s, EK_BOOTSTRAP_ID_LEN, lower_alnum) &&
           all_of(s + EK_BOOTSTRAP_ID_LEN + 1, EK_BOOTSTRAP_SECRET_LEN, lower_alnum);
}

void ek_join_token_clear(ek_join_token_t *t)
{
    free(t->ca_hash);
    free(t->user);
    free_secret(t->secret);
    free(t->bootstrap_id);
    memset(t, 0, sizeof(*t));
}

static const char *find_sep(const char *s, const char *end)
{
    for (const char *p = s; p + 1 < end; p++) {
        if (p[0] == ':' && p[1] == ':') {
            return p;
        }
    }
    return NULL;
}

/* Credentials after `K10<hash>::`: a bootstrap token or `user:secret`. */
static int parse_creds(const char *c, const char *end, ek_join_token_t *t, ek_error_t **err)
{
    if (ek_bootstrap_token_syntax(c, (size_t)(end - c))) {
        t->secret = ek_xstrndup(c, (size_t)(end - c));
        t->bootstrap_id = ek_xstrndup(c, EK_BOOTSTRAP_ID_LEN);
        return 0;
    }
    const char *colon = memchr(c, ':', (size_t)(end - c));
    if (!colon || colon + 1 == end) {
        return ek_error_status(err, 400,
                               "invalid token format: expected K10<hash>::<user>:<secret> or "
                               "K10<hash>::<id>.<secret>");
    }
    t->user = colon > c ? ek_xstrndup(c, (size_t)(colon - c)) : NULL;
    t->secret = ek_xstrndup(colon + 1, (size_t)(end - colon - 1));
    return 0;
}

int ek_join_token_parse(const char *str, ek_join_token_t *t, ek_error_t **err)
{
    memset(t, 0, sizeof(*t));
    const char *s = str, *end = str + strlen(str);
    while (s < end && isspace((unsigned char)*s)) {
        s++;
    }
    while (end > s && isspace((unsigned char)end[-1])) {
        end--;
    }
    if (s == end) {
        return ek_error_status(err, 400, "token must not be empty");
    }
    for (const char *p = s; p < end; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            return ek_error_status(err, 400, "token contains whitespace or control characters");
        }
    }
    if (!ek_has_prefix(s, TOKEN_PREFIX) || (size_t)(end - s) < strlen(TOKEN_PREFIX)) {
        /* A bare bootstrap token or a bare secret, as k3s reads them. */
        if (ek_bootstrap_token_syntax(s, (size_t)(end - s))) {
            return parse_creds(s, end, t, err);
        }
        t->secret = ek_xstrndup(s, (size_t)(end - s));
        return 0;
    }
    const char *p = s + strlen(TOKEN_PREFIX), *creds = p;
    const char *sep = find_sep(p, end);
    size_t hash_len = 0;
    if (sep) {
        hash_len = (size_t)(sep - p);
        creds = sep + 2;
    }
    if (hash_len && (hash_len != CA_HASH_HEX_LEN || !all_of(p, hash_len, isxdigit))) {
        return ek_error_status(err, 400, "invalid token CA hash");
    }
    if (parse_creds(creds, end, t, err) < 0) {
        return -1;
    }
    if (hash_len) {
        t->ca_hash = ek_xstrndup(p, hash_len);
        for (char *h = t->ca_hash; *h; h++) {
            *h = (char)tolower((unsigned char)*h);
        }
    }
    return 0;
}
