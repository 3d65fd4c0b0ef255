/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek token create [--ttl D] [--description T] | list | delete ID...`: join tokens besides
 * the server token, as k3s's and kubeadm's `token` commands make them — bootstrap tokens
 * `<id>.<secret>` stored as kube-system Secrets `bootstrap-token-<id>` of type
 * bootstrap.kubernetes.io/token (so Kubernetes' tools read them too), expiring after --ttl
 * (default 24h; 0 = never). `create` prints the token in the secure form
 * `K10<sha256 of the cluster CA>::<id>.<secret>`. Talks to the API server with --kubeconfig.
 */
#include <stdio.h>
#include <time.h>

#include "api/api.h"
#include "cmd/cmd.h"
#include "node/node.h"

#define TOKEN_NS     "kube-system"
#define TOKEN_TYPE   "bootstrap.kubernetes.io/token"
#define TOKEN_PREFIX "bootstrap-token-"
#define NODE_GROUP   "system:bootstrappers:edgek:default-node-token"
#define SECRETS_PATH "/api/v1/namespaces/" TOKEN_NS "/secrets"

static char *kubeconfig;
static int64_t ttl_ms = 24 * 3600 * 1000LL;
static char *description;

static const ek_flag_t token_flags[] = {
    { "kubeconfig", 'k', EK_FLAG_STRING, &kubeconfig, "KUBECONFIG", "FILE",
      "admin credentials (default /etc/edgek/edgek.yaml)" },
    { "ttl", 0, EK_FLAG_DURATION, &ttl_ms, NULL, "DURATION",
      "create: how long the token is valid (default 24h; 0 = it never expires)" },
    { "description", 0, EK_FLAG_STRING, &description, NULL, "TEXT",
      "create: a note shown by `token list`" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

typedef struct conn {
    ek_kubeconfig_t kc;
    ek_tls_config_t *tls;
} conn_t;

static int conn_open(conn_t *c, ek_error_t **err)
{
    const char *path = kubeconfig && *kubeconfig ? kubeconfig : "/etc/edgek/edgek.yaml";
    if (ek_kubeconfig_load(path, &c->kc, err) < 0) {
        return -1;
    }
    c->tls =
        ek_tls_client_config_new(c->kc.ca_pem, c->kc.cert_pem, c->kc.key_pem, c->kc.insecure, err);
    return c->tls ? 0 : -1;
}

static void conn_close(conn_t *c)
{
    if (c->tls) {
        ek_tls_config_unref(c->tls);
    }
    ek_kubeconfig_clear(&c->kc);
}

/* One call; the answer's status, body in *out (caller frees), -1 when none came. */
static int request(conn_t *c, const char *method, const char *path, const char *body, ek_buf_t *out,
                   ek_error_t **err)
{
    ek_autofree char *url = ek_xasprintf("%s%s", c->kc.server, path);
    ek_autofree char *auth = c->kc.token ? ek_xasprintf("Bearer %s", c->kc.token) : NULL;
    ek_http_header_t h[3] = { { "Accept", "application/json" },
                              { "Content-Type", "application/json" } };
    size_t n = 2;
    if (auth) {
        h[n++] = (ek_http_header_t){ "Authorization", auth };
    }
    ek_http_call_options_t o = { .method = method,
                                 .url = url,
                                 .headers = h,
                                 .n_headers = n,
                                 .body = body,
                                 .body_len = body ? strlen(body) : 0,
                                 .timeout_ms = 30000,
                                 .tls = c->tls };
    int st = ek_http_fetch(&o, out, err);
    return st < 0 ? ek_error_wrap(err, "%s %s", method, url) : st;
}

static int answer_error(int st, ek_buf_t *b, const char *what, ek_error_t **err)
{
    ek_auto(json_t) j = b->len ? json_loadb(b->data, b->len, 0, NULL) : NULL;
    const char *m = ek_json_str(j, "message", NULL);
    return ek_error_status(err, st, "%s: %s", what, m ? m : (b->len ? b->data : "no answer"));
}

static void random_chars(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n;) {
        unsigned char r;
        ek_random_bytes(&r, 1);
        if (r < 252) { /* 252 = 7 * 36: no bias */
            out[i++] = alphabet[r % 36];
        }
    }
    out[n] = 0;
}

static json_t *b64(const char *s)
{
    ek_autofree char *e = ek_base64_encode(s, strlen(s));
    return json_string(e);
}

static int token_create(conn_t *c, ek_error_t **err)
{
    /* The CA hash comes from what the server serves at /cacerts, verified by the kubeconfig's
     * CA, so it is the hash a joining agent computes. */
    ek_autobuf ca = EK_BUF_INIT;
    int st = request(c, "GET", "/cacerts", NULL, &ca, err);
    if (st < 0) {
        return -1;
    }
    if (st != 200) {
        return answer_error(st, &ca, "fetch the cluster CA", err);
    }
    char hash[65];
    ek_join_ca_hash(ca.data, ca.len, hash);
    char id[EK_BOOTSTRAP_ID_LEN + 1], secret[EK_BOOTSTRAP_SECRET_LEN + 1];
    random_chars(id, EK_BOOTSTRAP_ID_LEN);
    random_chars(secret, EK_BOOTSTRAP_SECRET_LEN);
    ek_autofree char *name = ek_xasprintf(TOKEN_PREFIX "%s", id);
    json_t *data =
        json_pack("{s:o,s:o,s:o,s:o,s:o}", "token-id", b64(id), "token-secret", b64(secret),
                  "usage-bootstrap-authentication", b64("true"), "usage-bootstrap-signing",
                  b64("true"), "auth-extra-groups", b64(NODE_GROUP));
    char exp[21] = "";
    if (ttl_ms > 0) {
        ek_time_rfc3339(time(NULL) + (time_t)((ttl_ms + 999) / 1000), exp);
        json_object_set_new(data, "expiration", b64(exp));
    }
    if (description && *description) {
        json_object_set_new(data, "description", b64(description));
    }
    ek_auto(json_t) secret_obj =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:s,s:o}", "apiVersion", "v1", "kind", "Secret", "metadata",
                  "name", name, "namespace", TOKEN_NS, "type", TOKEN_TYPE, "data", data);
    ek_autofree char *body = json_dumps(secret_obj, JSON_COMPACT);
    ek_autobuf ans = EK_BUF_INIT;
    st = request(c, "POST", SECRETS_PATH, body, &ans, err);
    explicit_bzero(body, strlen(body));
    if (st < 0) {
        return -1;
    }
    if (st != 201 && st != 200) {
        return answer_error(st, &ans, "create the token", err);
    }
    printf("K10%s::%s.%s\n", hash, id, secret);
    explicit_bzero(secret, sizeof(secret));
    return 0;
}

static char *data_str(const json_t *s, const char *key)
{
    const char *v = ek_json_str(s, "data", key, NULL);
    size_t len;
    return v ? ek_base64_decode(v, &len) : NULL;
}

static void human_ttl(int64_t s, char *out, size_t n)
{
    if (s <= 0) {
        snprintf(out, n, "<expired>");
    } else if (s >= 86400) {
        snprintf(out, n, "%lldd", (long long)(s / 86400));
    } else if (s >= 3600) {
        snprintf(out, n, "%lldh", (long long)(s / 3600));
    } else if (s >= 60) {
        snprintf(out, n, "%lldm", (long long)(s / 60));
    } else {
        snprintf(out, n, "%llds", (long long)s);
    }
}

static int token_list(conn_t *c, ek_error_t **err)
{
    ek_autobuf ans = EK_BUF_INIT;
    int st = request(c, "GET", SECRETS_PATH, NULL, &ans, err);
    if (st < 0) {
        return -1;
    }
    if (st != 200) {
        return answer_error(st, &ans, "list tokens", err);
    }
    ek_auto(json_t) list = json_loadb(ans.data, ans.len, 0, NULL);
    printf("%-24s%-10s%-22s%-26s%-20s%s\n", "TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION",
           "EXTRA GROUPS");
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(list, "items"), i, s) {
        if (!ek_streq(ek_json_str(s, "type", NULL), TOKEN_TYPE)) {
            continue;
        }
        ek_autofree char *id = data_str(s, "token-id"), *sec = data_str(s, "token-secret");
        ek_autofree char *exp = data_str(s, "expiration"), *desc = data_str(s, "description");
        ek_autofree char *groups = data_str(s, "auth-extra-groups");
        ek_autofree char *ua = data_str(s, "usage-bootstrap-authentication");
        ek_autofree char *us = data_str(s, "usage-bootstrap-signing");
        if (!id || !sec) {
            continue;
        }
        char ttl[32] = "<forever>";
        struct timespec ts;
        if (exp && ek_time_parse_rfc3339(exp, &ts) == 0) {
            human_ttl((int64_t)ts.tv_sec - time(NULL), ttl, sizeof(ttl));
        }
        char usages[64] = "";
        snprintf(usages, sizeof(usages), "%s%s%s", ek_streq(ua, "true") ? "authentication" : "",
                 ek_streq(ua, "true") && ek_streq(us, "true") ? "," : "",
                 ek_streq(us, "true") ? "signing" : "");
        ek_autofree char *tok = ek_xasprintf("%s.%s", id, sec);
        printf("%-24s%-10s%-22s%-26s%-20s%s\n", tok, ttl, exp ? exp : "<never>",
               *usages ? usages : "<none>", desc && *desc ? desc : "<none>", groups ? groups : "");
        explicit_bzero(tok, strlen(tok));
        explicit_bzero(sec, strlen(sec));
    }
    return 0;
}

static int token_delete(conn_t *c, int n, char **ids, ek_error_t **err)
{
    for (int i = 0; i < n; i++) {
        /* An id, `<id>.<secret>` or the K10 form. */
        ek_join_token_t t;
        char id[EK_BOOTSTRAP_ID_LEN + 1];
        if (ek_join_token_parse(ids[i], &t, NULL) == 0 && t.bootstrap_id) {
            snprintf(id, sizeof(id), "%s", t.bootstrap_id);
        } else if (strlen(ids[i]) == EK_BOOTSTRAP_ID_LEN) {
            snprintf(id, sizeof(id), "%s", ids[i]);
        } else {
            ek_join_token_clear(&t);
            return ek_error_make(err, 0, "`%s` is not a token id (6 characters [a-z0-9])", ids[i]);
        }
        ek_join_token_clear(&t);
        ek_autofree char *path = ek_xasprintf(SECRETS_PATH "/" TOKEN_PREFIX "%s", id);
        ek_autobuf ans = EK_BUF_INIT;
        int st = request(c, "DELETE", path, NULL, &ans, err);
        if (st < 0) {
            return -1;
        }
        if (st == 404) {
            return ek_error_status(err, 404, "no token with id %s", id);
        }
        if (st != 200 && st != 202) {
            return answer_error(st, &ans, "delete the token", err);
        }
        printf("bootstrap token \"%s\" deleted\n", id);
    }
    return 0;
}

static int run_token(int nargs, char **argv)
{
    const char *sub = nargs >= 1 ? argv[1] : "";
    bool create = strcmp(sub, "create") == 0, list = strcmp(sub, "list") == 0;
    bool del = strcmp(sub, "delete") == 0;
    if (!((create || list) && nargs == 1) && !(del && nargs >= 2)) {
        fprintf(stderr, "edgek token: want `create`, `list` or `delete ID...`\n");
        return 2;
    }
    conn_t c = { 0 };
    ek_error_t *err = NULL;
    int rc = conn_open(&c, &err);
    if (rc == 0) {
        rc = create ? token_create(&c, &err)
             : list ? token_list(&c, &err)
                    : token_delete(&c, nargs - 1, argv + 2, &err);
    }
    conn_close(&c);
    return rc < 0 ? ek_cmd_fail(err) : 0;
}

const ek_cmd_t ek_cmd_token = {
    .name = "token",
    .summary = "create, list and delete join tokens (bootstrap tokens that expire)",
    .usage = "create|list|delete ID...",
    .flags = token_flags,
    .run = run_token,
};
