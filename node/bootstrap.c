/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joining a cluster (the agent's side of a join; node/node.h explains the flow). Every step
 * is a blocking HTTPS call (ek_http_fetch): this runs before the agent's loop starts, and a
 * renewal runs on a worker thread. Nothing secret is sent before the CA has been checked
 * against the token's hash: /cacerts is the only request made without verifying the server.
 */
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"

#define SIGNER            "kubernetes.io/kube-apiserver-client-kubelet"
#define AGENT_SIGNER      "kubernetes.io/kube-apiserver-client"
#define CSR_PATH          "/apis/certificates.k8s.io/v1/certificatesigningrequests"
#define PASSWORD_HEADER   "Edgek-Node-Password"
#define FILE_MAX          (1u << 20)
#define CALL_TIMEOUT_MS   15000
#define DEFAULT_TIMEOUT_S 60

void ek_join_ca_hash(const char *text, size_t len, char out[65])
{
    unsigned char d[32];
    mbedtls_sha256_ret((const unsigned char *)text, len, d, 0);
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(d); i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[64] = 0;
}

int64_t ek_join_renew_at(int64_t not_before, int64_t not_after)
{
    return not_before + (not_after - not_before) * 2 / 3;
}

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void ek_join_creds_clear(ek_join_creds_t *c)
{
    free(c->ca_pem);
    free(c->cert_pem);
    free_secret(c->key_pem);
    free(c->agent_cert_pem);
    free_secret(c->agent_key_pem);
    free(c->kubeconfig_path);
    memset(c, 0, sizeof(*c));
}

static int tls_error(ek_error_t **err, int rc, const char *what)
{
    char buf[160];
    mbedtls_strerror(rc, buf, sizeof(buf));
    return ek_error_make(err, 0, "%s: %s", what, buf);
}

/* ---- HTTPS ---- */

typedef struct reply {
    int status;
    ek_buf_t body;
} reply_t;

/* One call; bearer (may be NULL) as Authorization, password (may be NULL) as the node
 * password header. -1 only when no answer came. */
static int call(const char *server, ek_tls_config_t *tls, const char *method, const char *path,
                const char *bearer, const char *password, const char *body, reply_t *out,
                ek_error_t **err)
{
    ek_autofree char *url = ek_xasprintf("%s%s", server, path);
    ek_autofree char *auth = bearer ? ek_xasprintf("Bearer %s", bearer) : NULL;
    ek_http_header_t h[4];
    size_t n = 0;
    h[n++] = (ek_http_header_t){ "Accept", "application/json" };
    if (body) {
        h[n++] = (ek_http_header_t){ "Content-Type", "application/json" };
    }
    if (auth) {
        h[n++] = (ek_http_header_t){ "Authorization", auth };
    }
    if (password) {
        h[n++] = (ek_http_header_t){ PASSWORD_HEADER, (char *)password };
    }
    ek_http_call_options_t co = {
        .method = method,
        .url = url,
        .headers = h,
        .n_headers = n,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .timeout_ms = CALL_TIMEOUT_MS,
        .tls = tls,
    };
    out->status = ek_http_fetch(&co, &out->body, err);
    if (auth) {
        explicit_bzero(auth, strlen(auth));
    }
    if (out->status < 0) {
        return ek_error_wrap(err, "%s %s", method, url);
    }
    return 0;
}

/* The message of a Status answer, else the body's first line. Borrowed from buf or static. */
static char *answer_message(const reply_t *r)
{
    ek_auto(json_t) st = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    const char *m = ek_json_str(st, "message", NULL);
    if (m) {
        return ek_xstrdup(m);
    }
    size_t n = r->body.len ? strcspn(r->body.data, "\n") : 0;
    return n ? ek_xstrndup(r->body.data, n) : ek_xstrdup(ek_http_status_text(r->status));
}

/* ---- the CA ---- */

static int fetch_ca(const char *server, const char *want_hash, char **ca_pem, ek_error_t **err)
{
    ek_tls_config_t *insecure = ek_tls_client_config_new(NULL, NULL, NULL, true, err);
    if (!insecure) {
        return -1;
    }
    reply_t r = { 0 };
    int rc = call(server, insecure, "GET", "/cacerts", NULL, NULL, NULL, &r, err);
    ek_tls_config_unref(insecure);
    if (rc < 0) {
        return ek_error_wrap(err, "fetch the cluster CA");
    }
    if (r.status != 200 || !r.body.len || !strstr(r.body.data, "-----BEGIN CERTIFICATE-----")) {
        ek_autofree char *m = answer_message(&r);
        ek_buf_free(&r.body);
        return ek_error_make(err, 0, "fetch the cluster CA from %s/cacerts: status %d (%s)", server,
                             r.status, m);
    }
    char got[65];
    ek_join_ca_hash(r.body.data, r.body.len, got);
    if (want_hash && strcmp(got, want_hash) != 0) {
        ek_buf_free(&r.body);
        return ek_error_make(err, 0,
                             "the CA certificate of %s has hash %s, but the token names CA hash "
                             "%s: refusing to join (a token of another cluster, or not the "
                             "server it claims to be)",
                             server, got, want_hash);
    }
    if (!want_hash) {
        EK_LOG(EK_WARN, "join",
               "the token names no CA hash: trusting the CA the server sent (hash %s); use the "
               "K10<hash>::... form to verify it",
               got);
    }
    *ca_pem = ek_buf_steal(&r.body, NULL);
    return 0;
}

/* ---- keys and requests ---- */

typedef struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
} rng_t;

static int rng_init(rng_t *g, ek_error_t **err)
{
    mbedtls_entropy_init(&g->entropy);
    mbedtls_ctr_drbg_init(&g->drbg);
    static const char pers[] = "edgek-join";
    int rc = mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->entropy,
                                   (const unsigned char *)pers, sizeof(pers) - 1);
    return rc ? tls_error(err, rc, "seed the random generator") : 0;
}

static void rng_free(rng_t *g)
{
    mbedtls_ctr_drbg_free(&g->drbg);
    mbedtls_entropy_free(&g->entropy);
}

/* A new P-256 key and a CSR for subject ("CN=...,O=..."). Caller frees both. */
static int make_csr(const char *subject, char **key_pem, char **csr_pem, ek_error_t **err)
{
    rng_t g;
    mbedtls_pk_context key;
    mbedtls_x509write_csr w;
    mbedtls_pk_init(&key);
    mbedtls_x509write_csr_init(&w);
    unsigned char buf[4096];
    int rc = rng_init(&g, err);
    if (rc == 0) {
        rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
        rc = rc ? rc
                : mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                      mbedtls_ctr_drbg_random, &g.drbg);
        if (rc) {
            tls_error(err, rc, "generate a P-256 key");
        }
    }
    if (rc == 0) {
        mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
        mbedtls_x509write_csr_set_key(&w, &key);
        rc = mbedtls_x509write_csr_set_subject_name(&w, subject);
        rc = rc ? rc
                : mbedtls_x509write_csr_pem(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random, &g.drbg);
        if (rc) {
            tls_error(err, rc, "write the certificate request");
        } else {
            *csr_pem = ek_xstrdup((const char *)buf);
            rc = mbedtls_pk_write_key_pem(&key, buf, sizeof(buf));
            if (rc) {
                tls_error(err, rc, "encode the key");
                free(*csr_pem);
                *csr_pem = NULL;
            } else {
                *key_pem = ek_xstrdup((const char *)buf);
            }
        }
    }
    mbedtls_platform_zeroize(buf, sizeof(buf));
    mbedtls_x509write_csr_free(&w);
    mbedtls_pk_free(&key);
    rng_free(&g);
    return rc ? -1 : 0;
}

/* ---- certificates ---- */

static int64_t x509_time(const mbedtls_x509_time *t)
{
    struct tm tm = { .tm_year = t->year - 1900,
                     .tm_mon = t->mon - 1,
                     .tm_mday = t->day,
                     .tm_hour = t->hour,
                     .tm_min = t->min,
                     .tm_sec = t->sec };
    return (int64_t)timegm(&tm);
}

/* Checks that cert_pem is signed by ca_pem and has CN want; fills the validity. */
static int check_cert(const char *ca_pem, const char *cert_pem, const char *want,
                      int64_t *not_before, int64_t *not_after, ek_error_t **err)
{
    mbedtls_x509_crt ca, crt;
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&crt);
    int rc = mbedtls_x509_crt_parse(&ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1);
    if (rc == 0) {
        rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cert_pem, strlen(cert_pem) + 1);
    }
    if (rc) {
        tls_error(err, rc, "parse the node certificate");
        goto out;
    }
    uint32_t flags = 0;
    rc = mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL);
    if (rc) {
        ek_error_make(err, 0, "the node certificate is not valid under the cluster CA (flags %#x)",
                      flags);
        goto out;
    }
    char cn[300] = "";
    for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len < sizeof(cn)) {
            memcpy(cn, n->val.p, n->val.len);
            cn[n->val.len] = 0;
        }
    }
    if (strcmp(cn, want) != 0) {
        rc = -1;
        ek_error_make(err, 0, "the node certificate is for `%s`, not `%s`", cn, want);
        goto out;
    }
    *not_before = x509_time(&crt.valid_from);
    *not_after = x509_time(&crt.valid_to);
out:
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    return rc ? -1 : 0;
}

/* ---- the request ---- */

/* Creates the CSR and waits for its certificate. */
static int request_cert(const ek_join_options_t *o, ek_tls_config_t *tls, const char *bearer,
                        const char *password, const char *signer, const char *csr_pem,
                        char **cert_pem, ek_error_t **err)
{
    ek_autofree char *b64 = ek_base64_encode(csr_pem, strlen(csr_pem));
    ek_auto(json_t) body =
        json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:s,s:[s,s,s]}}", "apiVersion", "certificates.k8s.io/v1",
                  "kind", "CertificateSigningRequest", "metadata", "generateName", "node-csr-",
                  "spec", "request", b64, "signerName", signer, "usages", "digital signature",
                  "key encipherment", "client auth");
    if (o->cert_seconds > 0) {
        json_object_set_new(json_object_get(body, "spec"), "expirationSeconds",
                            json_integer(o->cert_seconds));
    }
    ek_autofree char *text = json_dumps(body, JSON_COMPACT);
    reply_t r = { 0 };
    if (call(o->server, tls, "POST", CSR_PATH, bearer, password, text, &r, err) < 0) {
        return -1;
    }
    ek_auto(json_t) created = r.body.len ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    if (r.status != 201 && r.status != 200) {
        ek_autofree char *m = answer_message(&r);
        ek_buf_free(&r.body);
        if (r.status == 401) {
            return ek_error_status(err, 401,
                                   "the server refused the join token (401 Unauthorized): check "
                                   "--token");
        }
        return ek_error_status(err, r.status,
                               "the server refused the node's certificate "
                               "request (%d): %s",
                               r.status, m);
    }
    ek_buf_free(&r.body);
    const char *name = ek_json_str(created, "metadata", "name", NULL);
    if (!name) {
        return ek_error_make(err, 0, "the created CertificateSigningRequest has no name");
    }
    ek_autofree char *path = ek_xasprintf(CSR_PATH "/%s", name);
    int timeout_s = o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S;
    uint64_t deadline = ek_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    useconds_t pause = 20000;
    for (;;) {
        if (call(o->server, tls, "GET", path, bearer, NULL, NULL, &r, err) < 0) {
            return -1;
        }
        ek_auto(json_t) csr = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
        ek_autofree char *m = r.status == 200 ? NULL : answer_message(&r);
        ek_buf_free(&r.body);
        if (!csr) {
            return ek_error_status(err, r.status, "read CertificateSigningRequest %s: %s", name,
                                   m ? m : "not JSON");
        }
        size_t i;
        json_t *c;
        json_array_foreach (ek_json_path(csr, "status", "conditions", NULL), i, c) {
            const char *type = ek_json_str(c, "type", NULL);
            if ((ek_streq(type, "Denied") || ek_streq(type, "Failed")) &&
                !ek_streq(ek_json_str(c, "status", NULL), "False")) {
                return ek_error_make(err, 0, "CertificateSigningRequest %s was %s: %s", name,
                                     ek_streq(type, "Denied") ? "denied" : "not signed",
                                     ek_json_str(c, "message", NULL) ?: "(no message)");
            }
        }
        const char *crt = ek_json_str(csr, "status", "certificate", NULL);
        if (crt && *crt) {
            size_t len;
            *cert_pem = ek_base64_decode(crt, &len);
            if (!*cert_pem) {
                return ek_error_make(err, 0, "CertificateSigningRequest %s: bad certificate", name);
            }
            EK_LOG(EK_INFO, "join", "node certificate issued csr=%s", name);
            return 0;
        }
        if (ek_now_ns() > deadline) {
            return ek_error_make(err, ETIMEDOUT,
                                 "CertificateSigningRequest %s was not approved and signed "
                                 "within %d s (`kubectl get csr %s` shows why; `kubectl "
                                 "certificate approve %s` approves it)",
                                 name, timeout_s, name, name);
        }
        usleep(pause);
        pause = pause < 500000 ? pause * 2 : pause;
    }
}

/* ---- files ---- */

static char *path_in(const ek_join_options_t *o, const char *file)
{
    return ek_xasprintf("%s/%s", o->dir, file);
}

static char *node_cn(const ek_join_options_t *o)
{
    return ek_xasprintf("system:node:%s", o->node_name);
}

/* The node password: made once per data dir, like k3s's /etc/rancher/node/password. */
static char *node_password(const ek_join_options_t *o, ek_error_t **err)
{
    ek_autofree char *p = path_in(o, "node-password");
    ek_error_t *e = NULL;
    size_t len;
    char *pw = ek_file_read(p, 4096, &len, &e);
    if (pw) {
        ek_error_free(e);
        pw[strcspn(pw, "\r\n")] = 0;
        if (*pw) {
            return pw;
        }
        free(pw);
    } else if (e->errnum != ENOENT) {
        if (err && !*err) {
            *err = e;
        } else {
            ek_error_free(e);
        }
        return NULL;
    } else {
        ek_error_free(e);
    }
    unsigned char raw[16];
    ek_random_bytes(raw, sizeof(raw));
    char hex[33];
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    ek_autofree char *line = ek_xasprintf("%s\n", hex);
    if (ek_file_write_atomic(p, line, strlen(line), 0600, err) < 0) {
        return NULL;
    }
    return ek_xstrdup(hex);
}

static int store(const ek_join_options_t *o, ek_join_creds_t *c, ek_error_t **err)
{
    ek_autofree char *ca = path_in(o, "server-ca.crt");
    ek_autofree char *crt = path_in(o, "client-kubelet.crt");
    ek_autofree char *key = path_in(o, "client-kubelet.key");
    c->kubeconfig_path = path_in(o, "kubelet.kubeconfig");
    ek_autofree char *kc =
        ek_kubeconfig_render(o->server, "default", c->ca_pem, c->cert_pem, c->key_pem);
    if (ek_file_write_atomic(ca, c->ca_pem, strlen(c->ca_pem), 0644, err) < 0 ||
        ek_file_write_atomic(key, c->key_pem, strlen(c->key_pem), 0600, err) < 0 ||
        ek_file_write_atomic(crt, c->cert_pem, strlen(c->cert_pem), 0644, err) < 0 ||
        ek_file_write_atomic(c->kubeconfig_path, kc, strlen(kc), 0600, err) < 0) {
        explicit_bzero(kc, strlen(kc));
        return ek_error_wrap(err, "store the node's credentials");
    }
    explicit_bzero(kc, strlen(kc));
    return 0;
}

/* Credentials already in the directory, for this node. 1 = loaded, 0 = none usable. */
static int load_existing(const ek_join_options_t *o, ek_join_creds_t *c)
{
    ek_autofree char *ca = path_in(o, "server-ca.crt");
    ek_autofree char *crt = path_in(o, "client-kubelet.crt");
    ek_autofree char *key = path_in(o, "client-kubelet.key");
    ek_autofree char *cn = node_cn(o);
    c->ca_pem = ek_file_read(ca, FILE_MAX, NULL, NULL);
    c->cert_pem = ek_file_read(crt, FILE_MAX, NULL, NULL);
    c->key_pem = ek_file_read(key, FILE_MAX, NULL, NULL);
    ek_error_t *e = NULL;
    if (!c->ca_pem || !c->cert_pem || !c->key_pem ||
        check_cert(c->ca_pem, c->cert_pem, cn, &c->not_before, &c->not_after, &e) < 0) {
        if (e) {
            EK_LOG(EK_WARN, "join", "stored node credentials are not usable err=\"%s\"",
                   ek_error_msg(e));
            ek_error_free(e);
        }
        ek_join_creds_clear(c);
        return 0;
    }
    c->kubeconfig_path = path_in(o, "kubelet.kubeconfig");
    return 1;
}

/* ---- the flow ---- */

static int check_options(const ek_join_options_t *o, ek_error_t **err)
{
    if (!o->server || !ek_has_prefix(o->server, "https://")) {
        return ek_error_make(err, 0, "the server must be an https:// URL, got `%s`",
                             o->server ? o->server : "");
    }
    if (!o->node_name || !*o->node_name || strchr(o->node_name, ',') || strchr(o->node_name, '=')) {
        return ek_error_make(err, 0, "invalid node name `%s`", o->node_name ? o->node_name : "");
    }
    if (ek_mkdir_p(o->dir, 0700, err) < 0) {
        return ek_error_wrap(err, "credentials directory");
    }
    return 0;
}

/* A new certificate: with bearer (the token) or with the TLS client identity in creds. */
static int obtain(const ek_join_options_t *o, const char *ca_pem, const char *bearer,
                  const ek_join_creds_t *with, ek_join_creds_t *out, ek_error_t **err)
{
    ek_autofree char *password = node_password(o, err);
    if (!password) {
        return ek_error_wrap(err, "node password");
    }
    ek_autofree char *csr = NULL, *cn = node_cn(o);
    ek_autofree char *subject = ek_xasprintf("CN=%s,O=system:nodes", cn);
    char *key = NULL;
    if (make_csr(subject, &key, &csr, err) < 0) {
        free_secret(password);
        password = NULL;
        return -1;
    }
    ek_tls_config_t *tls = ek_tls_client_config_new(ca_pem, with ? with->cert_pem : NULL,
                                                    with ? with->key_pem : NULL, false, err);
    ek_autofree char *cert = NULL;
    int rc = tls ? request_cert(o, tls, bearer, password, SIGNER, csr, &cert, err) : -1;
    if (tls) {
        ek_tls_config_unref(tls);
    }
    explicit_bzero(password, strlen(password));
    if (rc == 0) {
        out->ca_pem = ek_xstrdup(ca_pem);
        out->cert_pem = ek_steal(&cert);
        out->key_pem = key;
        key = NULL;
        rc = check_cert(out->ca_pem, out->cert_pem, cn, &out->not_before, &out->not_after, err);
        rc = rc < 0 ? -1 : store(o, out, err);
        out->issued = true;
    }
    free_secret(key);
    if (rc < 0) {
        ek_join_creds_clear(out);
    }
    return rc;
}

static int join_with_token(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err)
{
    if (!o->token || !*o->token) {
        return ek_error_make(err, 0,
                             "a join token is required (--token, --token-file or "
                             "EDGEK_TOKEN)");
    }
    ek_join_token_t t;
    if (ek_join_token_parse(o->token, &t, err) < 0) {
        return ek_error_wrap(err, "--token");
    }
    ek_autofree char *ca = NULL;
    int rc = fetch_ca(o->server, t.ca_hash, &ca, err);
    if (rc == 0) {
        /* The server takes the token in any of its forms; send it as given. */
        ek_autofree char *bearer =
            t.user ? ek_xasprintf("%s:%s", t.user, t.secret) : ek_xstrdup(t.secret);
        rc = obtain(o, ca, bearer, NULL, out, err);
        explicit_bzero(bearer, strlen(bearer));
    }
    ek_join_token_clear(&t);
    return rc;
}

static int renew_node(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    if (check_options(o, err) < 0) {
        return -1;
    }
    ek_join_creds_t cur = { 0 };
    if (load_existing(o, &cur) == 1 && cur.not_after > time(NULL)) {
        ek_error_t *e = NULL;
        int rc = obtain(o, cur.ca_pem, NULL, &cur, out, &e);
        ek_join_creds_clear(&cur);
        if (rc == 0) {
            EK_LOG(EK_INFO, "join", "node certificate renewed node=%s", o->node_name);
            return 0;
        }
        EK_LOG(EK_WARN, "join", "renewal with the node's own certificate failed err=\"%s\"",
               ek_error_msg(e));
        ek_error_free(e);
    }
    ek_join_creds_clear(&cur);
    return join_with_token(o, out, err);
}

static int join_node(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    if (check_options(o, err) < 0) {
        return -1;
    }
    ek_join_creds_t cur = { 0 };
    if (load_existing(o, &cur) == 1) {
        ek_join_token_t t = { 0 };
        char hash[65];
        ek_join_ca_hash(cur.ca_pem, strlen(cur.ca_pem), hash);
        bool same_ca = !o->token || ek_join_token_parse(o->token, &t, NULL) < 0 || !t.ca_hash ||
                       strcmp(t.ca_hash, hash) == 0;
        ek_join_token_clear(&t);
        if (same_ca && time(NULL) < ek_join_renew_at(cur.not_before, cur.not_after)) {
            *out = cur;
            return 0;
        }
        if (same_ca && time(NULL) < cur.not_after) {
            ek_join_creds_clear(&cur);
            return renew_node(o, out, err);
        }
        EK_LOG(EK_INFO, "join", "stored node credentials are %s: joining again",
               same_ca ? "expired" : "for another cluster CA");
    }
    ek_join_creds_clear(&cur);
    return join_with_token(o, out, err);
}

/* ---- the agent's own identity ---- */

/*
 * What the agent's node services (the service proxy) read is cluster-wide (every Service's
 * EndpointSlices), which a node's identity may not list. They use an identity of their own,
 * as kube-proxy does: CN system:edgek-agent:<node>, O system:edgek:agents (RBAC role
 * system:edgek:agent, reads only), requested with the node's certificate (signer
 * kube-apiserver-client; the approver grants it to that node only) whenever the node's
 * certificate is new, else reused while valid.
 */
static int agent_identity(const ek_join_options_t *o, ek_join_creds_t *c, ek_error_t **err)
{
    ek_autofree char *crt_path = path_in(o, "client-agent.crt");
    ek_autofree char *key_path = path_in(o, "client-agent.key");
    ek_autofree char *cn = ek_xasprintf("system:edgek-agent:%s", o->node_name);
    int64_t nb, na;
    if (!c->issued) {
        char *cp = ek_file_read(crt_path, FILE_MAX, NULL, NULL);
        char *kp = ek_file_read(key_path, FILE_MAX, NULL, NULL);
        if (cp && kp && check_cert(c->ca_pem, cp, cn, &nb, &na, NULL) == 0 &&
            time(NULL) < ek_join_renew_at(nb, na)) {
            c->agent_cert_pem = cp;
            c->agent_key_pem = kp;
            return 0;
        }
        free(cp);
        free_secret(kp);
    }
    ek_autofree char *subject = ek_xasprintf("CN=%s,O=system:edgek:agents", cn);
    ek_autofree char *csr = NULL, *cert = NULL;
    char *key = NULL;
    if (make_csr(subject, &key, &csr, err) < 0) {
        return ek_error_wrap(err, "the agent's own identity");
    }
    ek_tls_config_t *tls = ek_tls_client_config_new(c->ca_pem, c->cert_pem, c->key_pem, false, err);
    int rc = tls ? request_cert(o, tls, NULL, NULL, AGENT_SIGNER, csr, &cert, err) : -1;
    if (tls) {
        ek_tls_config_unref(tls);
    }
    if (rc == 0) {
        rc = check_cert(c->ca_pem, cert, cn, &nb, &na, err);
    }
    if (rc == 0 && (ek_file_write_atomic(key_path, key, strlen(key), 0600, err) < 0 ||
                    ek_file_write_atomic(crt_path, cert, strlen(cert), 0644, err) < 0)) {
        rc = -1;
    }
    if (rc < 0) {
        free_secret(key);
        return ek_error_wrap(err, "the agent's own identity");
    }
    c->agent_cert_pem = ek_steal(&cert);
    c->agent_key_pem = key;
    return 0;
}

int ek_join(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err)
{
    if (join_node(o, out, err) < 0) {
        return -1;
    }
    if (agent_identity(o, out, err) < 0) {
        ek_join_creds_clear(out);
        return -1;
    }
    return 0;
}

int ek_join_renew(const ek_join_options_t *o, ek_join_creds_t *out, ek_error_t **err)
{
    if (renew_node(o, out, err) < 0) {
        return -1;
    }
    if (agent_identity(o, out, err) < 0) {
        ek_join_creds_clear(out);
        return -1;
    }
    return 0;
}
