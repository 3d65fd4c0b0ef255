/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Joining nodes: join token forms, node passwords, the CSR checks of the approver and signer,
 * and the whole join (node/bootstrap.c against a real API server with its controllers, on
 * this loop, while the join's blocking calls run on a thread): CA hash checked, token
 * refused or accepted, a CSR approved and signed, credentials stored, reused and renewed, a
 * second agent under the same node name refused, and the node's certificate confined to its
 * own Node.
 */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_csr.h>
#include <sys/stat.h>
#include <time.h>

#include "node/node.h"
#include "server/apiserver/apiserver-internal.h"
#include "server/controllers/controllers-internal.h"
#include "server/server.h"
#include "tests/unit/http_testutil.h"
#include "tests/unit/test.h"

#define WAIT_MS 20000

/* ---- join tokens ---- */

static const char HASH[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(join_token_forms)
{
    ek_join_token_t t;
    ek_error_t *err = NULL;
    ek_autofree char *full = ek_xasprintf("  K10%s::server:s3cret\n", HASH);
    ASSERT_OK(ek_join_token_parse(full, &t, &err), &err);
    ASSERT_STREQ(t.ca_hash, HASH);
    ASSERT_STREQ(t.user, "server");
    ASSERT_STREQ(t.secret, "s3cret");
    ASSERT_TRUE(t.bootstrap_id == NULL);
    ek_join_token_clear(&t);

    /* The hash is compared lowercased. */
    ek_autofree char *upper = ek_xasprintf("K10%s::server:x", "0123456789ABCDEF0123456789ABCDEF"
                                                              "0123456789ABCDEF0123456789ABCDEF");
    ASSERT_OK(ek_join_token_parse(upper, &t, &err), &err);
    ASSERT_STREQ(t.ca_hash, HASH);
    ek_join_token_clear(&t);

    ek_autofree char *boot = ek_xasprintf("K10%s::abcdef.0123456789abcdef", HASH);
    ASSERT_OK(ek_join_token_parse(boot, &t, &err), &err);
    ASSERT_STREQ(t.bootstrap_id, "abcdef");
    ASSERT_STREQ(t.secret, "abcdef.0123456789abcdef");
    ASSERT_TRUE(t.user == NULL);
    ek_join_token_clear(&t);

    ASSERT_OK(ek_join_token_parse("abcdef.0123456789abcdef", &t, &err), &err);
    ASSERT_STREQ(t.bootstrap_id, "abcdef");
    ASSERT_TRUE(t.ca_hash == NULL);
    ek_join_token_clear(&t);

    ASSERT_OK(ek_join_token_parse("just-a-secret", &t, &err), &err);
    ASSERT_STREQ(t.secret, "just-a-secret");
    ASSERT_TRUE(t.ca_hash == NULL && t.user == NULL && t.bootstrap_id == NULL);
    ek_join_token_clear(&t);

    /* An empty hash (K10::user:secret) names no CA. */
    ASSERT_OK(ek_join_token_parse("K10::server:abc", &t, &err), &err);
    ASSERT_TRUE(t.ca_hash == NULL);
    ASSERT_STREQ(t.secret, "abc");
    ek_join_token_clear(&t);

    static const char *const bad[] = {
        "", "   ", "K10abc::server:x", "K10" /* hash only */ "::", "a b", "K10::server:"
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        ASSERT_EQ(ek_join_token_parse(bad[i], &t, &err), -1);
        ASSERT_EQ(err->status, 400);
        ek_error_clear(&err);
        ASSERT_TRUE(t.secret == NULL);
    }
}

TEST(join_bootstrap_token_syntax)
{
    ASSERT_TRUE(ek_bootstrap_token_syntax("abcdef.0123456789abcdef", 23));
    ASSERT_FALSE(ek_bootstrap_token_syntax("ABCDEF.0123456789abcdef", 23));
    ASSERT_FALSE(ek_bootstrap_token_syntax("abcdef-0123456789abcdef", 23));
    ASSERT_FALSE(ek_bootstrap_token_syntax("abcdef.0123456789abcde", 22));
    ASSERT_FALSE(ek_bootstrap_token_syntax("abcde.0123456789abcdefg", 23));
}

TEST(join_ca_hash_and_renewal_point)
{
    char h[65];
    ek_join_ca_hash("abc", 3, h);
    ASSERT_STREQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ(ek_join_renew_at(0, 300), 200);
    ASSERT_EQ(ek_join_renew_at(1000, 1000 + 365 * 86400), 1000 + 365 * 86400 * 2 / 3);
}

/* ---- node passwords ---- */

static ek_pki_t *test_pki(void)
{
    ek_autofree char *dir = ek_test_path("tls");
    ek_pki_options_t po = { .dir = dir, .hostname = "test" };
    ek_pki_t *pki = NULL;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_pki_load_or_create(&po, &pki, &err), &err);
    return pki;
}

TEST(join_node_password_hash)
{
    ek_auto(ek_pki_t) pki = test_pki();
    ek_error_t *err = NULL;
    ek_autofree char *h1 = ek_pki_password_hash(pki, "pw-1", &err);
    ek_autofree char *h2 = ek_pki_password_hash(pki, "pw-1", &err);
    ASSERT_NOT_NULL(h1);
    ASSERT_TRUE(ek_has_prefix(h1, "sha256$"));
    ASSERT_TRUE(strcmp(h1, h2) != 0); /* salted */
    ASSERT_TRUE(ek_pki_password_check(h1, "pw-1"));
    ASSERT_TRUE(ek_pki_password_check(h2, "pw-1"));
    ASSERT_FALSE(ek_pki_password_check(h1, "pw-2"));
    ASSERT_FALSE(ek_pki_password_check(h1, ""));
    ASSERT_FALSE(ek_pki_password_check(NULL, "pw-1"));
    ASSERT_FALSE(ek_pki_password_check("sha256$zz$00", "pw-1"));
    ASSERT_FALSE(ek_pki_password_check("md5$00", "pw-1"));
    /* A truncated digest never matches. */
    h1[strlen(h1) - 1] = 0;
    ASSERT_FALSE(ek_pki_password_check(h1, "pw-1"));
}

/* ---- CSR checks ---- */

/* A CSR made with openssl-compatible mbedtls: subject and optional DNS SAN. */
static char *csr_pem(const char *subject)
{
    mbedtls_entropy_context e;
    mbedtls_ctr_drbg_context d;
    mbedtls_entropy_init(&e);
    mbedtls_ctr_drbg_init(&d);
    ASSERT_EQ(mbedtls_ctr_drbg_seed(&d, mbedtls_entropy_func, &e, NULL, 0), 0);
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    ASSERT_EQ(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    ASSERT_EQ(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                  mbedtls_ctr_drbg_random, &d),
              0);
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    ASSERT_EQ(mbedtls_x509write_csr_set_subject_name(&w, subject), 0);
    mbedtls_x509write_csr_set_key(&w, &key);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    unsigned char buf[4096];
    ASSERT_EQ(mbedtls_x509write_csr_pem(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random, &d), 0);
    mbedtls_x509write_csr_free(&w);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&d);
    mbedtls_entropy_free(&e);
    return ek_xstrdup((const char *)buf);
}

static json_t *csr_obj(const char *pem, const char *usages_json)
{
    ek_autofree char *b64 = ek_base64_encode(pem, strlen(pem));
    json_t *usages = json_loads(usages_json, 0, NULL);
    return json_pack("{s:{s:s},s:{s:s,s:s,s:o}}", "metadata", "name", "c", "spec", "request", b64,
                     "signerName", SIGNER_KUBELET_CLIENT, "usages", usages);
}

static const char *problem_of(const char *subject, const char *usages)
{
    ek_autofree char *pem = csr_pem(subject);
    ek_auto(json_t) csr = csr_obj(pem, usages);
    ek_pki_csr_info_t info;
    ASSERT_EQ(csr_read(csr, &info, NULL), 0);
    const char *p = csr_kubelet_client_problem(&info, ek_json_path(csr, "spec", "usages", NULL));
    ek_pki_csr_info_clear(&info);
    return p;
}

TEST(join_kubelet_client_csr_shape)
{
    static const char ok_usages[] = "[\"digital signature\",\"key encipherment\",\"client auth\"]";
    ASSERT_TRUE(problem_of("CN=system:node:pi-1,O=system:nodes", ok_usages) == NULL);
    ASSERT_TRUE(problem_of("CN=system:node:pi-1,O=system:nodes",
                           "[\"digital signature\",\"client auth\"]") == NULL);
    /* Kubernetes' ValidateKubeletClientCSR refusals. */
    ASSERT_NOT_NULL(problem_of("CN=system:node:pi-1,O=system:masters", ok_usages));
    ASSERT_NOT_NULL(problem_of("CN=admin,O=system:nodes", ok_usages));
    ASSERT_NOT_NULL(problem_of("CN=system:node:pi-1,O=system:nodes",
                               "[\"digital signature\",\"server auth\"]"));
    ASSERT_NOT_NULL(problem_of("CN=system:node:pi-1,O=system:nodes,O=system:masters", ok_usages));

    /* spec.request that is not a CSR. */
    ek_auto(json_t) junk = csr_obj("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", ok_usages);
    ek_pki_csr_info_t info;
    ASSERT_EQ(csr_read(junk, &info, NULL), -1);
}

TEST(join_csr_conditions_and_duration)
{
    ek_auto(json_t) csr = json_loads(
        "{\"spec\":{\"expirationSeconds\":3600},\"status\":{\"conditions\":["
        "{\"type\":\"Approved\",\"status\":\"True\"},{\"type\":\"Denied\",\"status\":\"False\"}]}}",
        0, NULL);
    ASSERT_NOT_NULL(csr_condition(csr, "Approved"));
    ASSERT_TRUE(csr_condition(csr, "Denied") == NULL);
    ASSERT_TRUE(csr_condition(csr, "Failed") == NULL);
    ASSERT_EQ(csr_duration_s(csr), 3600);
    ek_auto(json_t) none = json_loads("{\"spec\":{}}", 0, NULL);
    ASSERT_EQ(csr_duration_s(none), 0);
}

/* ---- the whole join against a real server ---- */

typedef struct jfx {
    uv_loop_t loop;
    char *dir;
    ek_pki_t *pki;
    ek_tls_config_t *stls;
    ek_apiserver_t *srv;
    ek_controllers_t *ctrls;
    char *token;
    char *url;
    bool done;
} jfx_t;

static void on_flag(void *data)
{
    *(bool *)data = true;
}

static void jfx_init(jfx_t *f)
{
    memset(f, 0, sizeof(*f));
    ASSERT_EQ(uv_loop_init(&f->loop), 0);
    f->dir = ek_test_path("data");
    ek_autofree char *tls_dir = ek_xasprintf("%s/server/tls", f->dir);
    ek_pki_options_t po = { .dir = tls_dir, .hostname = "test" };
    ek_error_t *err = NULL;
    ASSERT_OK(ek_pki_load_or_create(&po, &f->pki, &err), &err);
    ek_autofree char *tok_path = ek_xasprintf("%s/server/token", f->dir);
    ASSERT_OK(ek_pki_token_load_or_create(f->pki, tok_path, &f->token, &err), &err);
    f->stls =
        ek_tls_server_config_new(ek_pki_serving_cert_pem(f->pki), ek_pki_serving_key_pem(f->pki),
                                 ek_pki_ca_cert_pem(f->pki), EK_TLS_CLIENT_CERT_OPTIONAL, &err);
    ASSERT_OK(f->stls ? 0 : -1, &err);
    ek_apiserver_options_t o = { .data_dir = f->dir,
                                 .bind_address = "127.0.0.1",
                                 .port = 0,
                                 .kv_no_sync = true,
                                 .token = f->token };
    ASSERT_OK(ek_apiserver_start(&f->loop, &o, f->pki, f->stls, &f->srv, &err), &err);
    ek_test_run_until(&f->loop, &f->srv->ready, WAIT_MS);
    f->url = ek_xasprintf("https://127.0.0.1:%d", ek_apiserver_port(f->srv));
    static const char *const masters[] = { "system:masters", NULL };
    ek_api_client_t *c = ek_apiserver_client(f->srv, "system:kube-controller-manager", masters);
    ek_controllers_options_t co = { .pki = f->pki };
    ASSERT_OK(ek_controllers_start(c, &co, &f->ctrls, &err), &err);
}

static void jfx_finish(jfx_t *f)
{
    bool stopped = false, closed = false;
    ek_controllers_stop(f->ctrls, on_flag, &stopped);
    ek_test_run_until(&f->loop, &stopped, WAIT_MS);
    ek_apiserver_close(f->srv, on_flag, &closed);
    ek_test_run_until(&f->loop, &closed, WAIT_MS);
    ek_tls_config_unref(f->stls);
    ek_pki_free(f->pki);
    free(f->token);
    free(f->url);
    free(f->dir);
    ek_test_loop_finish(&f->loop);
}

/* One join on a thread while the loop serves. */
typedef struct job {
    jfx_t *f;
    ek_join_options_t o;
    bool renew;
    int rc;
    ek_join_creds_t creds;
    ek_error_t *err;
} job_t;

static void job_run(void *arg)
{
    job_t *j = arg;
    j->rc =
        j->renew ? ek_join_renew(&j->o, &j->creds, &j->err) : ek_join(&j->o, &j->creds, &j->err);
}

static void run_join(jfx_t *f, job_t *j, const char *token, const char *node, const char *dir)
{
    j->f = f;
    j->o = (ek_join_options_t){
        .server = f->url, .token = token, .node_name = node, .dir = dir, .timeout_s = 15
    };
    j->rc = 0;
    j->err = NULL;
    memset(&j->creds, 0, sizeof(j->creds));
    ek_test_run_thread(&f->loop, job_run, j);
}

/* A call with the node's certificate, on a thread. */
typedef struct req {
    jfx_t *f;
    const ek_join_creds_t *c;
    const char *method, *path, *body;
    int status;
    ek_buf_t out;
} req_t;

static void req_run(void *arg)
{
    req_t *r = arg;
    ek_error_t *err = NULL;
    ek_tls_config_t *tls =
        ek_tls_client_config_new(r->c->ca_pem, r->c->cert_pem, r->c->key_pem, false, &err);
    ASSERT_OK(tls ? 0 : -1, &err);
    ek_autofree char *url = ek_xasprintf("%s%s", r->f->url, r->path);
    ek_http_header_t h[] = { { "Content-Type",
                               r->body && r->body[0] == '{' && strcmp(r->method, "PATCH") == 0
                                   ? "application/merge-patch+json"
                                   : "application/json" } };
    ek_http_call_options_t o = { .method = r->method,
                                 .url = url,
                                 .headers = h,
                                 .n_headers = 1,
                                 .body = r->body,
                                 .body_len = r->body ? strlen(r->body) : 0,
                                 .timeout_ms = 10000,
                                 .tls = tls };
    r->status = ek_http_fetch(&o, &r->out, &err);
    ek_error_free(err);
    ek_tls_config_unref(tls);
}

static int node_call(jfx_t *f, const ek_join_creds_t *c, const char *method, const char *path,
                     const char *body)
{
    req_t r = { .f = f, .c = c, .method = method, .path = path, .body = body };
    ek_test_run_thread(&f->loop, req_run, &r);
    ek_buf_free(&r.out);
    return r.status;
}

TEST_T(join_end_to_end, 120)
{
    jfx_t f;
    jfx_init(&f);
    ek_autofree char *d1 = ek_test_path("n1");
    ek_autofree char *d2 = ek_test_path("n1-imposter");
    char hash[65];
    const char *ca = ek_pki_ca_cert_pem(f.pki);
    ek_join_ca_hash(ca, strlen(ca), hash);
    ASSERT_CONTAINS(f.token, hash);

    /* A token naming another CA: refused before the token is sent, naming both hashes. */
    job_t j = { 0 };
    ek_autofree char *other = ek_xasprintf("K10%s::server:nope", HASH);
    run_join(&f, &j, other, "n1", d1);
    ASSERT_EQ(j.rc, -1);
    ASSERT_CONTAINS(ek_error_msg(j.err), hash);
    ASSERT_CONTAINS(ek_error_msg(j.err), HASH);
    ASSERT_CONTAINS(ek_error_msg(j.err), "refusing to join");
    ek_error_free(j.err);

    /* The right CA, a wrong secret: 401. */
    ek_autofree char *wrong = ek_xasprintf("K10%s::server:wrong", hash);
    run_join(&f, &j, wrong, "n1", d1);
    ASSERT_EQ(j.rc, -1);
    ASSERT_EQ(j.err->status, 401);
    ASSERT_CONTAINS(ek_error_msg(j.err), "refused the join token");
    ek_error_free(j.err);

    /* The server token. */
    run_join(&f, &j, f.token, "n1", d1);
    ASSERT_OK(j.rc, &j.err);
    ASSERT_TRUE(j.creds.issued);
    ASSERT_STREQ(j.creds.ca_pem, ca);
    ASSERT_CMP(j.creds.not_after, >, time(NULL) + 300 * 86400);
    ek_autofree char *key_path = ek_xasprintf("%s/client-kubelet.key", d1);
    struct stat st;
    ASSERT_EQ(stat(key_path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ek_autofree char *pw_path = ek_xasprintf("%s/node-password", d1);
    ASSERT_EQ(stat(pw_path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ek_kubeconfig_t kc;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_kubeconfig_load(j.creds.kubeconfig_path, &kc, &err), &err);
    ASSERT_STREQ(kc.server, f.url);
    ASSERT_STREQ(kc.cert_pem, j.creds.cert_pem);
    ek_kubeconfig_clear(&kc);
    /* The agent's own identity came with it, asked for by the node. */
    ASSERT_NOT_NULL(j.creds.agent_cert_pem);
    ASSERT_NOT_NULL(j.creds.agent_key_pem);
    ek_join_creds_t agent = { .ca_pem = j.creds.ca_pem,
                              .cert_pem = j.creds.agent_cert_pem,
                              .key_pem = j.creds.agent_key_pem };
    ASSERT_EQ(node_call(&f, &agent, "GET", "/apis/discovery.k8s.io/v1/endpointslices", NULL), 200);
    ASSERT_EQ(node_call(&f, &agent, "GET", "/api/v1/secrets", NULL), 403);
    ASSERT_EQ(node_call(&f, &agent, "PATCH", "/api/v1/nodes/n1", "{\"metadata\":{}}"), 403);
    ek_join_creds_t n1 = j.creds;

    /* Joining again reuses what is stored. */
    run_join(&f, &j, f.token, "n1", d1);
    ASSERT_OK(j.rc, &j.err);
    ASSERT_FALSE(j.creds.issued);
    ASSERT_STREQ(j.creds.cert_pem, n1.cert_pem);
    ek_join_creds_clear(&j.creds);

    /* Renewal with the node's own certificate, no token. */
    j.renew = true;
    run_join(&f, &j, NULL, "n1", d1);
    j.renew = false;
    ASSERT_OK(j.rc, &j.err);
    ASSERT_TRUE(j.creds.issued);
    ASSERT_TRUE(strcmp(j.creds.cert_pem, n1.cert_pem) != 0);
    ek_join_creds_clear(&n1);
    n1 = j.creds;

    /* Another agent (another password) claiming n1. */
    run_join(&f, &j, f.token, "n1", d2);
    ASSERT_EQ(j.rc, -1);
    ASSERT_EQ(j.err->status, 403);
    ASSERT_CONTAINS(ek_error_msg(j.err), "node \"n1\" has already joined with another node "
                                         "password");
    ek_error_free(j.err);

    /* Node identity: its own Node, not another's. */
    ASSERT_EQ(node_call(&f, &n1, "POST", "/api/v1/nodes",
                        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n1\"}}"),
              201);
    ASSERT_EQ(node_call(&f, &n1, "POST", "/api/v1/nodes",
                        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n2\"}}"),
              403);
    ASSERT_EQ(node_call(&f, &n1, "PATCH", "/api/v1/nodes/n1",
                        "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}"),
              200);
    ASSERT_EQ(node_call(&f, &n1, "GET", "/api/v1/namespaces/kube-system/secrets", NULL), 403);
    /* EndpointSlices: not for the node's identity, but for its agent's (the service proxy). */
    ASSERT_EQ(node_call(&f, &n1, "GET", "/apis/discovery.k8s.io/v1/endpointslices", NULL), 403);
    ASSERT_EQ(node_call(&f, &n1, "DELETE", "/api/v1/nodes/n2", NULL), 403);
    ek_join_creds_clear(&n1);
    jfx_finish(&f);
}

/* --token / --token-file / EDGEK_TOKEN on the server: the given token becomes the file's. */
TEST(join_server_token_given)
{
    ek_auto(ek_pki_t) pki = test_pki();
    ek_error_t *err = NULL;
    ek_autofree char *path = ek_test_path("token");
    ek_autofree char *first = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path, &first, &err), &err);
    /* A bare secret given: kept in the secure form, replacing the generated one. */
    ek_autofree char *tok = NULL;
    ASSERT_OK(ek_pki_token_set(pki, path, "chosen-secret", &tok, &err), &err);
    ek_autofree char *want = ek_xasprintf("K10%s::server:chosen-secret", ek_pki_ca_hash(pki));
    ASSERT_STREQ(tok, want);
    ek_autofree char *content = ek_file_read(path, 4096, NULL, &err);
    ASSERT_NOT_NULL(content);
    ASSERT_TRUE(ek_has_prefix(content, want));
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    /* The full secure form of this CA is accepted as it is. */
    ek_autofree char *again = NULL;
    ASSERT_OK(ek_pki_token_set(pki, path, want, &again, &err), &err);
    ASSERT_STREQ(again, want);
    /* One naming another CA is refused. */
    ek_autofree char *foreign = ek_xasprintf("K10%s::server:x", HASH);
    char *bad = NULL;
    ASSERT_EQ(ek_pki_token_set(pki, path, foreign, &bad, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "another cluster CA");
    ek_error_free(err);
}

TEST(join_csr_cleanup_times)
{
    /* Pending: a day after creation. */
    ek_auto(json_t) pending =
        json_loads("{\"metadata\":{\"creationTimestamp\":\"2026-01-01T00:00:00Z\"}}", 0, NULL);
    ASSERT_EQ(csr_cleanup_at(pending), 1767225600 + 24 * 3600);
    /* Denied or failed: an hour after the decision. */
    ek_auto(json_t) denied = json_loads(
        "{\"metadata\":{\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{\"conditions\":"
        "[{\"type\":\"Denied\",\"status\":\"True\",\"lastUpdateTime\":\"2026-01-01T00:10:00Z\"}]}}",
        0, NULL);
    ASSERT_EQ(csr_cleanup_at(denied), 1767225600 + 600 + 3600);
    /* Approved, not signed yet: the signer's business. */
    ek_auto(json_t) approved = json_loads(
        "{\"metadata\":{\"creationTimestamp\":\"2026-01-01T00:00:00Z\"},\"status\":{\"conditions\":"
        "[{\"type\":\"Approved\",\"status\":\"True\",\"lastUpdateTime\":\"2026-01-01T00:00:01Z\"}]}"
        "}",
        0, NULL);
    ASSERT_EQ(csr_cleanup_at(approved), 0);
    /* Issued: an hour after approval, or when the certificate expires if that is sooner. */
    ek_auto(ek_pki_t) pki = test_pki();
    static const char *const orgs[] = { "system:nodes" };
    ek_autofree char *cert = NULL, *key = NULL;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_pki_issue_client_cert(pki, "system:node:x", orgs, 1, 0, &cert, &key, &err), &err);
    ek_autofree char *b64 = ek_base64_encode(cert, strlen(cert));
    ek_json_set_str(ek_json_obj_ensure(approved, "status"), "certificate", b64);
    ASSERT_EQ(csr_cleanup_at(approved), 1767225600 + 1 + 3600);
    char now[21];
    ek_time_rfc3339(time(NULL), now);
    json_t *c = json_array_get(ek_json_path(approved, "status", "conditions", NULL), 0);
    ek_json_set_str(c, "lastUpdateTime", now);
    int64_t at = csr_cleanup_at(approved);
    ASSERT_CMP(at, >, time(NULL) + 3000);
    ASSERT_CMP(at, <=, time(NULL) + 3600);
}
