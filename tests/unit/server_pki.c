/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server/auth: the cluster PKI (creation, warm load, renewal, SAN changes), CSR signing,
 * kubeconfig, join token and service-account JWTs. Certificates are cross-checked with the
 * openssl CLI and kubeconfigs with kubectl when they are installed; checks through mbedtls
 * run either way, so a missing tool weakens a test but never empties it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>

#include "server/auth/auth-internal.h"
#include "server/server.h"
#include "tests/unit/test.h"

static const char *const pki_files[] = {
    "server-ca.crt",    "server-ca.key",    "serving.crt",         "serving.key",
    "client-admin.crt", "client-admin.key", "service-account.key", "service-account.pub",
};

/* ---- helpers ---- */

static bool have(const char *tool)
{
    ek_autofree char *cmd = ek_xasprintf("command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* Runs a shell command; returns its exit status and its stdout+stderr in *out (caller frees). */
EK_PRINTF(2, 3) static int sh(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    ASSERT_TRUE(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    ek_autofree char *full = ek_xasprintf("(%s) 2>&1", cmd);
    free(cmd);
    FILE *p = popen(full, "r");
    ASSERT_NOT_NULL(p);
    ek_autobuf b = EK_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        ek_buf_append(&b, chunk, n);
    }
    int st = pclose(p);
    if (out) {
        *out = ek_buf_steal(&b, NULL);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const test_node_ips[] = { "192.168.7.10", "fd00::7" };
static const char *const test_sans[] = { "edge.example.com", "10.9.8.7", "*.apps.example.com" };

static void opts_init(ek_pki_options_t *o, const char *dir)
{
    *o = (ek_pki_options_t){
        .dir = dir,
        .hostname = "Edge-Host",
        .node_ips = test_node_ips,
        .n_node_ips = EK_ARRAY_SIZE(test_node_ips),
        .tls_sans = test_sans,
        .n_tls_sans = EK_ARRAY_SIZE(test_sans),
    };
}

static ek_pki_t *load(const ek_pki_options_t *o)
{
    ek_error_t *err = NULL;
    ek_pki_t *pki = NULL;
    ASSERT_OK(ek_pki_load_or_create(o, &pki, &err), &err);
    return pki;
}

static char *tls_dir(void)
{
    return ek_test_path("server/tls");
}

static char *file_in(const char *dir, const char *name)
{
    return ek_xasprintf("%s/%s", dir, name);
}

struct snap {
    ino_t ino[EK_ARRAY_SIZE(pki_files)];
    struct timespec mtime[EK_ARRAY_SIZE(pki_files)];
};

static void snapshot(const char *dir, struct snap *s)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(pki_files); i++) {
        ek_autofree char *p = file_in(dir, pki_files[i]);
        struct stat st;
        ASSERT_EQ(stat(p, &st), 0);
        s->ino[i] = st.st_ino;
        s->mtime[i] = st.st_mtim;
    }
}

/* Whether file i is untouched: atomic replacement gives a new inode, so a rewrite shows. */
static bool same_file(const struct snap *a, const struct snap *b, size_t i)
{
    return a->ino[i] == b->ino[i] && a->mtime[i].tv_sec == b->mtime[i].tv_sec &&
           a->mtime[i].tv_nsec == b->mtime[i].tv_nsec;
}

static size_t file_index(const char *name)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(pki_files); i++) {
        if (strcmp(pki_files[i], name) == 0) {
            return i;
        }
    }
    ek_assert(!"unknown file");
    return 0;
}

static void parse_crt(mbedtls_x509_crt *crt, const char *pem)
{
    mbedtls_x509_crt_init(crt);
    ASSERT_EQ(mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1), 0);
}

static time_t crt_not_after(const mbedtls_x509_crt *c)
{
    struct tm tm = { .tm_year = c->valid_to.year - 1900,
                     .tm_mon = c->valid_to.mon - 1,
                     .tm_mday = c->valid_to.day,
                     .tm_hour = c->valid_to.hour,
                     .tm_min = c->valid_to.min,
                     .tm_sec = c->valid_to.sec };
    return timegm(&tm);
}

/* "CN=..., O=..." as mbedtls prints a subject. */
static void crt_subject(const mbedtls_x509_crt *c, char *buf, size_t n)
{
    ASSERT_CMP(mbedtls_x509_dn_gets(buf, n, &c->subject), >, 0);
}

static bool crt_has_san(const mbedtls_x509_crt *c, int type, const void *data, size_t len)
{
    for (const mbedtls_x509_sequence *s = &c->subject_alt_names; s && s->buf.p; s = s->next) {
        if ((s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK) == type && s->buf.len == len &&
            memcmp(s->buf.p, data, len) == 0) {
            return true;
        }
    }
    return false;
}

static bool crt_has_name(const mbedtls_x509_crt *c, const char *name)
{
    unsigned char ip[16];
    if (inet_pton(AF_INET, name, ip) == 1) {
        return crt_has_san(c, MBEDTLS_X509_SAN_IP_ADDRESS, ip, 4);
    }
    if (inet_pton(AF_INET6, name, ip) == 1) {
        return crt_has_san(c, MBEDTLS_X509_SAN_IP_ADDRESS, ip, 16);
    }
    return crt_has_san(c, MBEDTLS_X509_SAN_DNS_NAME, name, strlen(name));
}

static size_t crt_san_count(const mbedtls_x509_crt *c)
{
    size_t n = 0;
    for (const mbedtls_x509_sequence *s = &c->subject_alt_names; s && s->buf.p; s = s->next) {
        n++;
    }
    return n;
}

/* Verifies crt (and its chain) against the PEM CA with mbedtls. */
static void assert_signed_by(const char *crt_pem, const char *ca_pem)
{
    mbedtls_x509_crt crt, ca;
    parse_crt(&crt, crt_pem);
    parse_crt(&ca, ca_pem);
    uint32_t flags = 0;
    int rc = mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL);
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    if (rc != 0) {
        ek__test_fail(__FILE__, __LINE__, "certificate does not verify: flags 0x%x", flags);
    }
}

/* A test-side random generator, independent of the PKI's. */
struct rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static void rng_init(struct rng *r)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    ASSERT_EQ(mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, NULL, 0), 0);
}

static void rng_free(struct rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

/*
 * A PKCS#10 CSR for subject made with mbedtls. With tamper, one byte of the signed part (the
 * last character of the CN) is changed after signing, so the self-signature breaks.
 */
static char *make_csr(const char *subject, const char *cn_tail, bool tamper)
{
    struct rng r;
    rng_init(&r);
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    ASSERT_EQ(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    ASSERT_EQ(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                  mbedtls_ctr_drbg_random, &r.drbg),
              0);
    mbedtls_x509write_csr w;
    mbedtls_x509write_csr_init(&w);
    ASSERT_EQ(mbedtls_x509write_csr_set_subject_name(&w, subject), 0);
    mbedtls_x509write_csr_set_key(&w, &key);
    mbedtls_x509write_csr_set_md_alg(&w, MBEDTLS_MD_SHA256);
    unsigned char der[2048];
    int len = mbedtls_x509write_csr_der(&w, der, sizeof(der), mbedtls_ctr_drbg_random, &r.drbg);
    ASSERT_CMP(len, >, 0);
    unsigned char *start = der + sizeof(der) - len;
    if (tamper) {
        size_t tl = strlen(cn_tail);
        unsigned char *hit = memmem(start, (size_t)len, cn_tail, tl);
        ASSERT_NOT_NULL(hit);
        hit[tl - 1] ^= 0x01;
    }
    unsigned char pem[4096];
    size_t olen = 0;
    ASSERT_EQ(mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE REQUEST-----\n",
                                       "-----END CERTIFICATE REQUEST-----\n", start, (size_t)len,
                                       pem, sizeof(pem), &olen),
              0);
    mbedtls_x509write_csr_free(&w);
    mbedtls_pk_free(&key);
    rng_free(&r);
    return ek_xstrdup((const char *)pem);
}

static char *b64url_decode_str(const char *s, size_t n, size_t *out_len)
{
    /* Back to standard base64 with padding, then mbedtls decodes it. */
    ek_autobuf b = EK_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        ek_buf_putc(&b, s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i]);
    }
    while (b.len % 4) {
        ek_buf_putc(&b, '=');
    }
    unsigned char *out = ek_xmalloc(n + 1);
    size_t olen = 0;
    ASSERT_EQ(mbedtls_base64_decode(out, n + 1, &olen, (const unsigned char *)b.data, b.len), 0);
    out[olen] = 0;
    *out_len = olen;
    return (char *)out;
}

static char *b64url_encode_str(const void *data, size_t n)
{
    size_t olen = 0;
    mbedtls_base64_encode(NULL, 0, &olen, data, n);
    char *out = ek_xmalloc(olen + 1);
    ASSERT_EQ(mbedtls_base64_encode((unsigned char *)out, olen + 1, &olen, data, n), 0);
    char *w = out;
    for (char *p = out; *p; p++) {
        if (*p != '=') {
            *w++ = *p == '+' ? '-' : *p == '/' ? '_' : *p;
        }
    }
    *w = 0;
    return out;
}

/* ---- PKI creation and loading ---- */

TEST(pki_first_creation_writes_every_file_0600)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki),
              EK_PKI_GEN_CA | EK_PKI_GEN_SERVING | EK_PKI_GEN_ADMIN | EK_PKI_GEN_SA_KEY);
    struct stat st;
    ASSERT_EQ(stat(dir, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0700);
    for (size_t i = 0; i < EK_ARRAY_SIZE(pki_files); i++) {
        ek_autofree char *p = file_in(dir, pki_files[i]);
        ASSERT_EQ(stat(p, &st), 0);
        if ((st.st_mode & 0777) != 0600) {
            ek__test_fail(__FILE__, __LINE__, "%s has mode %o", pki_files[i], st.st_mode & 0777);
        }
    }
    /* Accessors return what is on disk; chains are leaf then CA. */
    ek_autofree char *ca_path = file_in(dir, "server-ca.crt");
    ek_autofree char *ca = ek_file_read(ca_path, 0, NULL, NULL);
    ASSERT_STREQ(ek_pki_ca_cert_pem(pki), ca);
    ASSERT_TRUE(ek_has_suffix(ek_pki_serving_cert_pem(pki), ca));
    ASSERT_TRUE(ek_has_suffix(ek_pki_admin_cert_pem(pki), ca));
    ASSERT_CONTAINS(ek_pki_serving_key_pem(pki), "BEGIN EC PRIVATE KEY");
    ASSERT_CONTAINS(ek_pki_sa_public_key_pem(pki), "BEGIN PUBLIC KEY");
    assert_signed_by(ek_pki_serving_cert_pem(pki), ca);
    assert_signed_by(ek_pki_admin_cert_pem(pki), ca);
    mbedtls_x509_crt c;
    parse_crt(&c, ca);
    ASSERT_EQ(c.ca_istrue, 1);
    ASSERT_CMP(crt_not_after(&c) - time(NULL), >, 3649LL * 86400);
    mbedtls_x509_crt_free(&c);
}

TEST(pki_files_pass_openssl)
{
    if (!have("openssl")) {
        ek_test_skip("openssl CLI not installed: mbedtls checks in the other tests still run");
    }
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_pki_free(load(&o));
    ek_autofree char *out = NULL, *ca = NULL, *srv = NULL, *adm = NULL;
    ASSERT_EQ(sh(&out,
                 "cd %s && openssl verify -CAfile server-ca.crt -purpose sslserver "
                 "serving.crt && openssl verify -CAfile server-ca.crt -purpose sslclient "
                 "client-admin.crt",
                 dir),
              0);
    ASSERT_CONTAINS(out, "serving.crt: OK");
    ASSERT_CONTAINS(out, "client-admin.crt: OK");
    ASSERT_EQ(sh(&ca, "openssl x509 -noout -text -in %s/server-ca.crt", dir), 0);
    ASSERT_CONTAINS(ca, "CA:TRUE");
    ASSERT_CONTAINS(ca, "Certificate Sign");
    ASSERT_CONTAINS(ca, "Subject: CN = edgek-server-ca@");
    ASSERT_CONTAINS(ca, "ASN1 OID: prime256v1");
    ASSERT_EQ(sh(&srv, "openssl x509 -noout -text -in %s/serving.crt", dir), 0);
    ASSERT_CONTAINS(srv, "TLS Web Server Authentication");
    ASSERT_CONTAINS(srv, "ecdsa-with-SHA256");
    /* The SAN line, entry by entry: exactly these, in openssl's spelling. */
    ek_autofree char *san = NULL;
    ASSERT_EQ(sh(&san,
                 "openssl x509 -noout -ext subjectAltName -in %s/serving.crt | tail -n 1 "
                 "| sed 's/^ *//; s/, /\\n/g'",
                 dir),
              0);
    static const char *const want[] = {
        "DNS:edge-host",
        "DNS:localhost",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        "DNS:edge.example.com",
        "DNS:*.apps.example.com",
        "IP Address:127.0.0.1",
        "IP Address:0:0:0:0:0:0:0:1",
        "IP Address:10.43.0.1",
        "IP Address:192.168.7.10",
        "IP Address:10.9.8.7",
        "IP Address:FD00:0:0:0:0:0:0:7",
    };
    size_t n = 0;
    for (char *line = strtok(san, "\n"); line; line = strtok(NULL, "\n"), n++) {
        bool found = false;
        for (size_t i = 0; i < EK_ARRAY_SIZE(want); i++) {
            found = found || strcmp(line, want[i]) == 0;
        }
        if (!found) {
            ek__test_fail(__FILE__, __LINE__, "unexpected SAN `%s`", line);
        }
    }
    ASSERT_EQ(n, EK_ARRAY_SIZE(want)); /* entries are unique, so all of want is there */
    ASSERT_EQ(sh(&adm,
                 "openssl x509 -noout -subject -ext extendedKeyUsage -in "
                 "%s/client-admin.crt",
                 dir),
              0);
    ASSERT_CONTAINS(adm, "O = system:masters");
    ASSERT_CONTAINS(adm, "CN = system:admin");
    ASSERT_CONTAINS(adm, "TLS Web Client Authentication");
    /* Each key belongs to its certificate, by openssl's own reading of both. */
    static const char *const pairs[][2] = { { "server-ca.crt", "server-ca.key" },
                                            { "serving.crt", "serving.key" },
                                            { "client-admin.crt", "client-admin.key" } };
    for (size_t i = 0; i < EK_ARRAY_SIZE(pairs); i++) {
        ek_autofree char *a = NULL, *b = NULL;
        ASSERT_EQ(sh(&a, "openssl x509 -noout -pubkey -in %s/%s", dir, pairs[i][0]), 0);
        ASSERT_EQ(sh(&b, "openssl pkey -pubout -in %s/%s", dir, pairs[i][1]), 0);
        ASSERT_STREQ(a, b);
    }
}

TEST(pki_serving_cert_has_every_required_san)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    o.node_name = "pi-node-1";
    o.cluster_domain = "edge.local";
    o.service_ip = "10.96.0.1";
    ek_auto(ek_pki_t) pki = load(&o);
    mbedtls_x509_crt c;
    parse_crt(&c, ek_pki_serving_cert_pem(pki));
    static const char *const want[] = {
        "edge-host",
        "pi-node-1",
        "localhost",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.edge.local",
        "127.0.0.1",
        "::1",
        "10.96.0.1",
        "192.168.7.10",
        "fd00::7",
        "edge.example.com",
        "10.9.8.7",
        "*.apps.example.com",
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(want); i++) {
        if (!crt_has_name(&c, want[i])) {
            ek__test_fail(__FILE__, __LINE__, "SAN %s missing", want[i]);
        }
    }
    /* Nothing else: the default service IP and domain were replaced, not added. */
    ASSERT_EQ(crt_san_count(&c), EK_ARRAY_SIZE(want));
    ASSERT_FALSE(crt_has_name(&c, "10.43.0.1"));
    ASSERT_EQ(mbedtls_x509_crt_check_extended_key_usage(&c, MBEDTLS_OID_SERVER_AUTH,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
              0);
    mbedtls_x509_crt_free(&c);
}

TEST(pki_detects_host_ips_when_none_given)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o = { .dir = dir };
    ek_auto(ek_pki_t) pki = load(&o);
    mbedtls_x509_crt c;
    parse_crt(&c, ek_pki_serving_cert_pem(pki));
    ASSERT_TRUE(crt_has_name(&c, "127.0.0.1"));
    ASSERT_TRUE(crt_has_name(&c, "10.43.0.1"));
    ASSERT_TRUE(crt_has_name(&c, "kubernetes.default.svc.cluster.local"));
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    for (char *p = host; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    ASSERT_TRUE(crt_has_name(&c, host));
    /* Every up, non-loopback IPv4 address of the host is in (as `ip -4 addr` lists them). */
    if (have("ip")) {
        ek_autofree char *out = NULL;
        /* Interfaces of pods and container engines are left out on purpose. */
        ASSERT_EQ(sh(&out, "ip -4 -o addr show up scope global | "
                           "grep -Ev '^[0-9]+: (ek|veth|docker|cni|flannel|br-)' | "
                           "awk '{print $4}' | cut -d/ -f1"),
                  0);
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (!crt_has_name(&c, line)) {
                ek__test_fail(__FILE__, __LINE__, "host address %s missing", line);
            }
        }
    }
    mbedtls_x509_crt_free(&c);
    /* Detection is stable: a second load changes nothing. */
    ek_auto(ek_pki_t) again = load(&o);
    ASSERT_EQ(ek_pki_generated(again), 0);
}

TEST(pki_warm_load_regenerates_nothing_and_is_fast)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    uint64_t t0 = ek_now_ns();
    ek_pki_t *first = load(&o);
    uint64_t create_ns = ek_now_ns() - t0;
    ek_autofree char *ca = ek_xstrdup(ek_pki_ca_cert_pem(first));
    ek_autofree char *serving = ek_xstrdup(ek_pki_serving_cert_pem(first));
    ek_pki_free(first);
    struct snap before, after;
    snapshot(dir, &before);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 5; i++) {
        t0 = ek_now_ns();
        ek_pki_t *pki = load(&o);
        best = EK_MIN(best, ek_now_ns() - t0);
        ASSERT_EQ(ek_pki_generated(pki), 0);
        ASSERT_STREQ(ek_pki_ca_cert_pem(pki), ca);
        ASSERT_STREQ(ek_pki_serving_cert_pem(pki), serving);
        ek_pki_free(pki);
    }
    snapshot(dir, &after);
    for (size_t i = 0; i < EK_ARRAY_SIZE(pki_files); i++) {
        if (!same_file(&before, &after, i)) {
            ek__test_fail(__FILE__, __LINE__, "%s was rewritten", pki_files[i]);
        }
    }
    /* SAN order in the options does not matter either. */
    static const char *const reordered[] = { "*.apps.example.com", "10.9.8.7", "EDGE.example.com" };
    o.tls_sans = reordered;
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki), 0);
    printf("# first creation %.2f ms, warm load %.2f ms (best of 5)\n", (double)create_ns / 1e6,
           (double)best / 1e6);
    /* Creation generates 4 keys and signs 3 certificates; a warm load only verifies two. */
    ASSERT_CMP(best, <, create_ns);
}

TEST(pki_near_expiry_leaf_certs_are_renewed)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    o.leaf_days = 30; /* inside the 90-day renewal window from the start */
    ek_pki_t *short_lived = load(&o);
    mbedtls_x509_crt old;
    parse_crt(&old, ek_pki_serving_cert_pem(short_lived));
    time_t old_end = crt_not_after(&old);
    mbedtls_x509_crt_free(&old);
    ASSERT_CMP(old_end - time(NULL), <, 31LL * 86400);
    ek_pki_free(short_lived);
    struct snap before, after;
    snapshot(dir, &before);

    o.leaf_days = 0;
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki), EK_PKI_GEN_SERVING | EK_PKI_GEN_ADMIN);
    snapshot(dir, &after);
    mbedtls_x509_crt c;
    parse_crt(&c, ek_pki_serving_cert_pem(pki));
    ASSERT_CMP(crt_not_after(&c) - time(NULL), >, 364LL * 86400);
    mbedtls_x509_crt_free(&c);
    ASSERT_FALSE(same_file(&before, &after, file_index("serving.crt")));
    ASSERT_FALSE(same_file(&before, &after, file_index("client-admin.crt")));
    /* The CA, the service-account key and the leaf keys themselves are kept. */
    ASSERT_TRUE(same_file(&before, &after, file_index("server-ca.crt")));
    ASSERT_TRUE(same_file(&before, &after, file_index("server-ca.key")));
    ASSERT_TRUE(same_file(&before, &after, file_index("service-account.key")));
    ASSERT_TRUE(same_file(&before, &after, file_index("serving.key")));
    ASSERT_TRUE(same_file(&before, &after, file_index("client-admin.key")));
}

TEST(pki_renewal_window_boundary)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    o.leaf_days = 100;
    ek_pki_free(load(&o));
    o.leaf_days = 0;
    ek_auto(ek_pki_t) b = load(&o); /* 100 days left > 90: kept */
    ASSERT_EQ(ek_pki_generated(b), 0);
    o.renew_days = 120;
    ek_auto(ek_pki_t) c = load(&o); /* a 120-day window: renewed */
    ASSERT_EQ(ek_pki_generated(c), EK_PKI_GEN_SERVING | EK_PKI_GEN_ADMIN);
}

TEST(pki_san_change_regenerates_serving_cert_only)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_pki_t *first = load(&o);
    ek_pki_free(first);
    struct snap before, after;
    snapshot(dir, &before);
    static const char *const more[] = { "edge.example.com", "10.9.8.7", "*.apps.example.com",
                                        "new-name.example.org" };
    o.tls_sans = more;
    o.n_tls_sans = EK_ARRAY_SIZE(more);
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki), EK_PKI_GEN_SERVING);
    snapshot(dir, &after);
    for (size_t i = 0; i < EK_ARRAY_SIZE(pki_files); i++) {
        bool changed = !same_file(&before, &after, i);
        if (changed != (strcmp(pki_files[i], "serving.crt") == 0)) {
            ek__test_fail(__FILE__, __LINE__, "%s %s", pki_files[i],
                          changed ? "was rewritten" : "was not rewritten");
        }
    }
    mbedtls_x509_crt c;
    parse_crt(&c, ek_pki_serving_cert_pem(pki));
    ASSERT_TRUE(crt_has_name(&c, "new-name.example.org"));
    mbedtls_x509_crt_free(&c);
    /* A changed node IP counts too. */
    static const char *const ips[] = { "192.168.7.11" };
    o.node_ips = ips;
    o.n_node_ips = 1;
    ek_auto(ek_pki_t) again = load(&o);
    ASSERT_EQ(ek_pki_generated(again), EK_PKI_GEN_SERVING);
}

TEST(pki_broken_or_foreign_leaf_is_reissued)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_pki_t *first = load(&o);
    ek_autofree char *ca = ek_xstrdup(ek_pki_ca_cert_pem(first));
    ek_pki_free(first);
    ek_error_t *err = NULL;
    ek_autofree char *serving = file_in(dir, "serving.crt");
    ASSERT_OK(ek_file_write_atomic(serving, "garbage\n", 8, 0600, &err), &err);
    ek_pki_t *p = load(&o);
    ASSERT_EQ(ek_pki_generated(p), EK_PKI_GEN_SERVING);
    ek_pki_free(p);
    /* An admin certificate from another cluster's CA (a restored backup) is replaced. */
    ek_autofree char *other_dir = ek_test_path("other/tls");
    ek_pki_options_t oo;
    opts_init(&oo, other_dir);
    ek_pki_t *other = load(&oo);
    ek_autofree char *adm_crt = file_in(dir, "client-admin.crt");
    ek_autofree char *adm_key = file_in(dir, "client-admin.key");
    const char *oc = ek_pki_admin_cert_pem(other), *ok = ek_pki_admin_key_pem(other);
    ASSERT_OK(ek_file_write_atomic(adm_crt, oc, strlen(oc), 0600, &err), &err);
    ASSERT_OK(ek_file_write_atomic(adm_key, ok, strlen(ok), 0600, &err), &err);
    ek_pki_free(other);
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki), EK_PKI_GEN_ADMIN);
    ASSERT_STREQ(ek_pki_ca_cert_pem(pki), ca);
    assert_signed_by(ek_pki_admin_cert_pem(pki), ca);
}

TEST(pki_ca_and_sa_key_are_never_silently_replaced)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_pki_t *first = load(&o);
    ek_pki_free(first);
    ek_error_t *err = NULL;
    ek_pki_t *pki = NULL;
    ek_autofree char *ca_key = file_in(dir, "server-ca.key");
    ek_autofree char *saved = ek_file_read(ca_key, 0, NULL, &err);
    ASSERT_EQ(unlink(ca_key), 0);
    ASSERT_EQ(ek_pki_load_or_create(&o, &pki, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "server-ca.key is missing");
    ek_error_clear(&err);
    ASSERT_OK(ek_file_write_atomic(ca_key, saved, strlen(saved), 0600, &err), &err);

    ek_autofree char *sa_key = file_in(dir, "service-account.key");
    ASSERT_OK(ek_file_write_atomic(sa_key, "not a key\n", 10, 0600, &err), &err);
    ASSERT_EQ(ek_pki_load_or_create(&o, &pki, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "service-account.key");
    ek_error_clear(&err);

    /* A CA key without its certificate is what a crash during the first start leaves: the
     * CA is created afresh. */
    ek_autofree char *dir2 = ek_test_path("crashed/tls");
    ek_pki_options_t o2;
    opts_init(&o2, dir2);
    ASSERT_OK(ek_mkdir_p(dir2, 0700, &err), &err);
    ek_autofree char *stray = file_in(dir2, "server-ca.key");
    ASSERT_OK(ek_file_write_atomic(stray, saved, strlen(saved), 0600, &err), &err);
    ek_auto(ek_pki_t) fresh = load(&o2);
    ASSERT_TRUE(ek_pki_generated(fresh) & EK_PKI_GEN_CA);
}

/* Writes server-ca.crt/.key into dir: a CA valid from `from` for 10 years. */
static void write_ca(const char *dir, time_t from)
{
    struct rng r;
    rng_init(&r);
    mbedtls_pk_context key;
    mbedtls_pk_init(&key);
    ASSERT_EQ(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    ASSERT_EQ(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                  mbedtls_ctr_drbg_random, &r.drbg),
              0);
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    ASSERT_EQ(mbedtls_x509write_crt_set_subject_name(&w, "CN=future-ca"), 0);
    ASSERT_EQ(mbedtls_x509write_crt_set_issuer_name(&w, "CN=future-ca"), 0);
    mbedtls_x509write_crt_set_subject_key(&w, &key);
    mbedtls_x509write_crt_set_issuer_key(&w, &key);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    ASSERT_EQ(mbedtls_mpi_lset(&serial, 7), 0);
    ASSERT_EQ(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    char nb[16], na[16];
    time_t to = from + 3650L * 86400;
    strftime(nb, sizeof(nb), "%Y%m%d%H%M%S", gmtime(&from));
    strftime(na, sizeof(na), "%Y%m%d%H%M%S", gmtime(&to));
    ASSERT_EQ(mbedtls_x509write_crt_set_validity(&w, nb, na), 0);
    ASSERT_EQ(mbedtls_x509write_crt_set_basic_constraints(&w, 1, -1), 0);
    ASSERT_EQ(mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_KEY_CERT_SIGN |
                                                          MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
              0);
    unsigned char pem[4096], kpem[1024];
    ASSERT_EQ(mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &r.drbg), 0);
    ASSERT_EQ(mbedtls_pk_write_key_pem(&key, kpem, sizeof(kpem)), 0);
    ek_error_t *err = NULL;
    ek_autofree char *crt_path = file_in(dir, "server-ca.crt");
    ek_autofree char *key_path = file_in(dir, "server-ca.key");
    ASSERT_OK(ek_mkdir_p(dir, 0700, &err), &err);
    ASSERT_OK(ek_file_write_atomic(key_path, kpem, strlen((char *)kpem), 0600, &err), &err);
    ASSERT_OK(ek_file_write_atomic(crt_path, pem, strlen((char *)pem), 0600, &err), &err);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&key);
    rng_free(&r);
}

TEST(pki_clock_behind_ca_still_issues_lasting_certs)
{
    /* What a board without an RTC sees before NTP: the CA was made "in the future". */
    ek_autofree char *dir = tls_dir();
    time_t ca_from = time(NULL) + 30L * 86400;
    write_ca(dir, ca_from);
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ASSERT_EQ(ek_pki_generated(pki), EK_PKI_GEN_SERVING | EK_PKI_GEN_ADMIN | EK_PKI_GEN_SA_KEY);
    const char *leaves[] = { ek_pki_serving_cert_pem(pki), ek_pki_admin_cert_pem(pki) };
    for (size_t i = 0; i < EK_ARRAY_SIZE(leaves); i++) {
        mbedtls_x509_crt c;
        parse_crt(&c, leaves[i]);
        /* Valid now by the machine's clock, and for a full term once the clock is right. */
        ASSERT_CMP(crt_not_after(&c) - ca_from, >=, 364L * 86400);
        struct tm tm = { .tm_year = c.valid_from.year - 1900,
                         .tm_mon = c.valid_from.mon - 1,
                         .tm_mday = c.valid_from.day,
                         .tm_hour = c.valid_from.hour,
                         .tm_min = c.valid_from.min,
                         .tm_sec = c.valid_from.sec };
        ASSERT_CMP(timegm(&tm), <=, time(NULL));
        mbedtls_x509_crt_free(&c);
    }
    /* The issuer is the foreign CA's name, byte for byte, and the next start is quiet. */
    ASSERT_CONTAINS(ek_pki_serving_cert_pem(pki), "-----BEGIN CERTIFICATE-----");
    ek_auto(ek_pki_t) again = load(&o);
    ASSERT_EQ(ek_pki_generated(again), 0);
}

TEST(pki_refuses_bad_tls_san)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    static const char *const bad[] = { "https://edge.example.com", "a..b", "host name",
                                       "fe80::1%eth0", "" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        o.tls_sans = &bad[i];
        o.n_tls_sans = 1;
        ek_error_t *err = NULL;
        ek_pki_t *pki = NULL;
        ASSERT_EQ(ek_pki_load_or_create(&o, &pki, &err), -1);
        ASSERT_CONTAINS(ek_error_msg(err), "--tls-san");
        ek_error_free(err);
    }
    static const char *const not_ip[] = { "node.example.com" };
    o.tls_sans = NULL;
    o.n_tls_sans = 0;
    o.node_ips = not_ip;
    o.n_node_ips = 1;
    ek_error_t *err = NULL;
    ek_pki_t *pki = NULL;
    ASSERT_EQ(ek_pki_load_or_create(&o, &pki, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "is not an IP address");
    ek_error_free(err);
}

/* ---- issuing ---- */

TEST(pki_admin_cert_is_system_masters)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    mbedtls_x509_crt c;
    parse_crt(&c, ek_pki_admin_cert_pem(pki));
    char subj[256];
    crt_subject(&c, subj, sizeof(subj));
    ASSERT_STREQ(subj, "CN=system:admin, O=system:masters");
    ASSERT_EQ(mbedtls_x509_crt_check_extended_key_usage(&c, MBEDTLS_OID_CLIENT_AUTH,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
              0);
    ASSERT_NE(mbedtls_x509_crt_check_extended_key_usage(&c, MBEDTLS_OID_SERVER_AUTH,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
              0);
    ASSERT_EQ(c.ca_istrue, 0);
    mbedtls_x509_crt_free(&c);
}

TEST(pki_issue_client_cert_with_several_orgs)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    static const char *const orgs[] = { "system:nodes", "edge:team" };
    ek_autofree char *crt = NULL, *key = NULL;
    ASSERT_OK(ek_pki_issue_client_cert(pki, "system:node:pi-9", orgs, 2, 7, &crt, &key, &err),
              &err);
    assert_signed_by(crt, ek_pki_ca_cert_pem(pki));
    mbedtls_x509_crt c;
    parse_crt(&c, crt);
    char subj[256];
    crt_subject(&c, subj, sizeof(subj));
    /* Both O values survive (mbedtls's own name writer would merge them). */
    ASSERT_STREQ(subj, "CN=system:node:pi-9, O=system:nodes, O=edge:team");
    ASSERT_CMP(crt_not_after(&c) - time(NULL), <, 8LL * 86400);
    mbedtls_pk_context k;
    mbedtls_pk_init(&k);
    ASSERT_EQ(mbedtls_pk_parse_key(&k, (const unsigned char *)key, strlen(key) + 1, NULL, 0), 0);
    ASSERT_EQ(mbedtls_pk_check_pair(&c.pk, &k), 0);
    mbedtls_pk_free(&k);
    mbedtls_x509_crt_free(&c);
    ASSERT_EQ(ek_pki_issue_client_cert(pki, "", NULL, 0, 0, &crt, &key, &err), -1);
    ek_error_free(err);
}

static const char *const node_orgs[] = { "system:nodes" };

TEST(pki_sign_csr_accepts_valid_and_refuses_tampered_or_mismatched)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    ek_pki_csr_policy_t pol = { .cn = "system:node:pi-1", .orgs = node_orgs, .n_orgs = 1 };

    ek_autofree char *csr = make_csr("CN=system:node:pi-1,O=system:nodes", NULL, false);
    ek_autofree char *crt = NULL;
    ASSERT_OK(ek_pki_sign_csr(pki, csr, &pol, &crt, &err), &err);
    assert_signed_by(crt, ek_pki_ca_cert_pem(pki));
    mbedtls_x509_crt c;
    parse_crt(&c, crt);
    char subj[256];
    crt_subject(&c, subj, sizeof(subj));
    ASSERT_STREQ(subj, "CN=system:node:pi-1, O=system:nodes");
    mbedtls_x509_crt_free(&c);

    ek_autofree char *tampered = make_csr("CN=system:node:pi-1,O=system:nodes", "pi-1", true);
    char *bad = NULL;
    ASSERT_EQ(ek_pki_sign_csr(pki, tampered, &pol, &bad, &err), -1);
    ASSERT_EQ(err->status, 400);
    ASSERT_CONTAINS(ek_error_msg(err), "signature does not verify");
    ek_error_clear(&err);

    pol.cn = "system:node:pi-2";
    ASSERT_EQ(ek_pki_sign_csr(pki, csr, &pol, &bad, &err), -1);
    ASSERT_EQ(err->status, 403);
    ASSERT_CONTAINS(ek_error_msg(err), "expected `system:node:pi-2`");
    ek_error_clear(&err);

    /* A node asking for cluster-admin through its organization is refused. */
    pol.cn = "system:node:pi-1";
    ek_autofree char *greedy = make_csr("CN=system:node:pi-1,O=system:masters", NULL, false);
    ASSERT_EQ(ek_pki_sign_csr(pki, greedy, &pol, &bad, &err), -1);
    ASSERT_EQ(err->status, 403);
    ek_error_clear(&err);

    ASSERT_EQ(ek_pki_sign_csr(pki, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", &pol, &bad, &err),
              -1);
    ASSERT_EQ(err->status, 400);
    ek_error_free(err);
}

TEST(pki_sign_server_csr_gets_policy_sans)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    static const char *const sans[] = { "pi-1", "192.168.1.20" };
    ek_pki_csr_policy_t pol = { .cn = "system:node:pi-1",
                                .orgs = node_orgs,
                                .n_orgs = 1,
                                .server = true,
                                .sans = sans,
                                .n_sans = 2,
                                .days = 10 };
    ek_autofree char *csr = make_csr("CN=system:node:pi-1,O=system:nodes", NULL, false);
    ek_autofree char *crt = NULL;
    ASSERT_OK(ek_pki_sign_csr(pki, csr, &pol, &crt, &err), &err);
    mbedtls_x509_crt c;
    parse_crt(&c, crt);
    ASSERT_TRUE(crt_has_name(&c, "pi-1"));
    ASSERT_TRUE(crt_has_name(&c, "192.168.1.20"));
    ASSERT_EQ(crt_san_count(&c), 2);
    ASSERT_EQ(mbedtls_x509_crt_check_extended_key_usage(&c, MBEDTLS_OID_SERVER_AUTH,
                                                        MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
              0);
    ASSERT_CMP(crt_not_after(&c) - time(NULL), <, 11LL * 86400);
    mbedtls_x509_crt_free(&c);
    pol.n_sans = 0;
    char *bad = NULL;
    ASSERT_EQ(ek_pki_sign_csr(pki, csr, &pol, &bad, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "at least one SAN");
    ek_error_free(err);
}

TEST(pki_sign_openssl_csr)
{
    if (!have("openssl")) {
        ek_test_skip("openssl CLI not installed (mbedtls-made CSRs are tested elsewhere)");
    }
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    const char *tmp = ek_test_tmpdir();
    ek_autofree char *out = NULL;
    ASSERT_EQ(sh(&out,
                 "cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
                 "-nodes -subj '/O=system:nodes/CN=system:node:pi-3' -keyout n.key -out n.csr",
                 tmp),
              0);
    ek_autofree char *csr_path = ek_test_path("n.csr");
    ek_error_t *err = NULL;
    ek_autofree char *csr = ek_file_read(csr_path, 0, NULL, &err);
    ASSERT_NOT_NULL(csr);
    ek_pki_csr_policy_t pol = { .cn = "system:node:pi-3", .orgs = node_orgs, .n_orgs = 1 };
    ek_autofree char *crt = NULL;
    ASSERT_OK(ek_pki_sign_csr(pki, csr, &pol, &crt, &err), &err);
    ek_autofree char *crt_path = ek_test_path("n.crt");
    ASSERT_OK(ek_file_write_atomic(crt_path, crt, strlen(crt), 0600, &err), &err);
    ek_autofree char *v = NULL;
    ASSERT_EQ(sh(&v,
                 "cd %s && openssl verify -CAfile %s/server-ca.crt -purpose sslclient n.crt "
                 "&& openssl x509 -noout -subject -in n.crt",
                 tmp, dir),
              0);
    ASSERT_CONTAINS(v, "n.crt: OK");
    ASSERT_CONTAINS(v, "CN = system:node:pi-3");
    ASSERT_CONTAINS(v, "O = system:nodes");
}

/* ---- kubeconfig ---- */

static char *b64_decode(const char *s)
{
    size_t n = strlen(s), olen = 0;
    unsigned char *out = ek_xmalloc(n + 1);
    ASSERT_EQ(mbedtls_base64_decode(out, n, &olen, (const unsigned char *)s, n), 0);
    out[olen] = 0;
    return (char *)out;
}

TEST(kubeconfig_parses_and_embeds_certs)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    ek_autofree char *path = ek_test_path("etc/edgek/edgek.yaml");
    ASSERT_OK(ek_pki_write_kubeconfig(pki, path, 0640, "https://127.0.0.1:6443", NULL, &err), &err);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0640);
    size_t len = 0;
    ek_autofree char *text = ek_file_read(path, 0, &len, &err);
    ek_auto(json_t) cfg = ek_yaml_to_json(text, len, &err);
    ASSERT_NOT_NULL(cfg);
    ASSERT_STREQ(ek_json_str(cfg, "kind", NULL), "Config");
    ASSERT_STREQ(ek_json_str(cfg, "current-context", NULL), "default");
    json_t *cluster = json_array_get(json_object_get(cfg, "clusters"), 0);
    json_t *ctx = json_array_get(json_object_get(cfg, "contexts"), 0);
    json_t *user = json_array_get(json_object_get(cfg, "users"), 0);
    ASSERT_STREQ(ek_json_str(cluster, "name", NULL), "default");
    ASSERT_STREQ(ek_json_str(cluster, "cluster", "server", NULL), "https://127.0.0.1:6443");
    ASSERT_STREQ(ek_json_str(ctx, "context", "cluster", NULL), "default");
    ASSERT_STREQ(ek_json_str(ctx, "context", "user", NULL), "default");
    ASSERT_STREQ(ek_json_str(user, "name", NULL), "default");
    ek_autofree char *ca =
        b64_decode(ek_json_str(cluster, "cluster", "certificate-authority-data", NULL));
    ek_autofree char *crt = b64_decode(ek_json_str(user, "user", "client-certificate-data", NULL));
    ek_autofree char *key = b64_decode(ek_json_str(user, "user", "client-key-data", NULL));
    ASSERT_STREQ(ca, ek_pki_ca_cert_pem(pki));
    ASSERT_STREQ(crt, ek_pki_admin_cert_pem(pki));
    ASSERT_STREQ(key, ek_pki_admin_key_pem(pki));

    /* A restart with the same content writes nothing; a new mode is applied in place. */
    ino_t ino = st.st_ino;
    ASSERT_OK(ek_pki_write_kubeconfig(pki, path, 0600, "https://127.0.0.1:6443", NULL, &err), &err);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_ino, ino);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_OK(ek_pki_write_kubeconfig(pki, path, 0600, "https://10.0.0.5:6443", "edge", &err),
              &err);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_NE(st.st_ino, ino);
}

TEST(kubeconfig_is_read_by_kubectl)
{
    if (!have("kubectl")) {
        ek_test_skip("kubectl not installed (the YAML is checked by kubeconfig_parses_...)");
    }
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    ek_autofree char *path = ek_test_path("edgek.yaml");
    ASSERT_OK(ek_pki_write_kubeconfig(pki, path, 0600, "https://127.0.0.1:6443", NULL, &err), &err);
    ek_autofree char *out = NULL;
    ASSERT_EQ(sh(&out,
                 "kubectl --kubeconfig=%s config view --raw -o "
                 "jsonpath='{.current-context} {.clusters[0].cluster.server} "
                 "{.users[0].name}'",
                 path),
              0);
    ASSERT_STREQ(out, "default https://127.0.0.1:6443 default");
}

/* ---- join token ---- */

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strchr("0123456789abcdef", s[i]) || !s[i]) {
            return false;
        }
    }
    return true;
}

TEST(token_created_in_k3s_secure_form)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    ek_autofree char *path = ek_test_path("server/token");
    ek_autofree char *tok = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path, &tok, &err), &err);
    /* K10<64 hex>::server:<32 hex> */
    ASSERT_EQ(strlen(tok), 3 + 64 + 2 + 7 + 32);
    ASSERT_TRUE(ek_has_prefix(tok, "K10"));
    ASSERT_TRUE(is_lower_hex(tok + 3, 64));
    ASSERT_TRUE(strncmp(tok + 67, "::server:", 9) == 0);
    ASSERT_TRUE(is_lower_hex(tok + 76, 32));
    ASSERT_TRUE(strncmp(tok + 3, ek_pki_ca_hash(pki), 64) == 0);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ek_autofree char *content = ek_file_read(path, 0, NULL, &err);
    ek_autofree char *want = ek_xasprintf("%s\n", tok);
    ASSERT_STREQ(content, want);

    /* The hash is SHA-256 of server-ca.crt's bytes, computed independently. */
    ek_autofree char *ca_path = file_in(dir, "server-ca.crt");
    size_t len = 0;
    ek_autofree char *ca = ek_file_read(ca_path, 0, &len, &err);
    unsigned char h[32];
    char hex[65];
    mbedtls_sha256_ret((const unsigned char *)ca, len, h, 0);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    }
    ASSERT_STREQ(ek_pki_ca_hash(pki), hex);
    if (have("sha256sum")) {
        ek_autofree char *out = NULL;
        ASSERT_EQ(sh(&out, "sha256sum < %s | cut -d' ' -f1 | tr -d '\\n'", ca_path), 0);
        ASSERT_STREQ(out, ek_pki_ca_hash(pki));
    }

    /* Loading again returns the same token and writes nothing. */
    ino_t ino = st.st_ino;
    ek_autofree char *again = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path, &again, &err), &err);
    ASSERT_STREQ(again, tok);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_ino, ino);
    /* Two PKIs, two secrets. */
    ek_autofree char *path2 = ek_test_path("server/token2");
    ek_autofree char *other = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path2, &other, &err), &err);
    ASSERT_FALSE(strcmp(other + 76, tok + 76) == 0);
    /* A token file others can read is tightened without being rewritten. */
    ASSERT_EQ(chmod(path, 0644), 0);
    ek_autofree char *third = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path, &third, &err), &err);
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_EQ(st.st_ino, ino);
}

TEST(token_file_upgraded_or_refused)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_error_t *err = NULL;
    ek_autofree char *path = ek_test_path("token");
    /* A user-chosen bare secret (k3s --token) is kept and put in the secure form. */
    ASSERT_OK(ek_file_write_atomic(path, "my-secret\n", 10, 0644, &err), &err);
    ek_autofree char *tok = NULL;
    ASSERT_OK(ek_pki_token_load_or_create(pki, path, &tok, &err), &err);
    ek_autofree char *want = ek_xasprintf("K10%s::server:my-secret", ek_pki_ca_hash(pki));
    ASSERT_STREQ(tok, want);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    /* A token for another CA is an error, not silently replaced. */
    ek_autofree char *foreign = ek_xasprintf("K10%064d::server:abc\n", 0);
    ASSERT_OK(ek_file_write_atomic(path, foreign, strlen(foreign), 0600, &err), &err);
    char *t = NULL;
    ASSERT_EQ(ek_pki_token_load_or_create(pki, path, &t, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "another cluster CA");
    ek_error_clear(&err);
    ASSERT_OK(ek_file_write_atomic(path, "K10zz::x\n", 9, 0600, &err), &err);
    ASSERT_EQ(ek_pki_token_load_or_create(pki, path, &t, &err), -1);
    ek_error_free(err);
}

TEST(token_parse_forms)
{
    static const char h[] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    struct {
        const char *in, *hash, *user, *secret;
    } ok[] = {
        { "K10"
          "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
          "::server:abc",
          h, "server", "abc" },
        { "K10"
          "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
          "::node:s:e:c",
          h, "node", "s:e:c" },
        { "abc", NULL, NULL, "abc" },
        { "  abc\n", NULL, NULL, "abc" },
        { ":::", NULL, NULL, ":::" },
        { "K10::node:abc", NULL, "node", "abc" },
        { "K10::"
          ":abc",
          NULL, NULL, "abc" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(ok); i++) {
        ek_error_t *err = NULL;
        ek_autofree char *hash = NULL, *user = NULL, *secret = NULL;
        ASSERT_OK(ek_pki_token_parse(ok[i].in, &hash, &user, &secret, &err), &err);
        if (ok[i].hash) {
            ASSERT_STREQ(hash, ok[i].hash);
        } else {
            ASSERT_TRUE(hash == NULL);
        }
        if (ok[i].user) {
            ASSERT_STREQ(user, ok[i].user);
        } else {
            ASSERT_TRUE(user == NULL);
        }
        ASSERT_STREQ(secret, ok[i].secret);
    }
    static const char *const bad[] = {
        "",
        "   ",
        "a b",
        "K10abc",
        "K10",
        "K10::abc",
        "K10"
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0"
        "::server:abc",
        "K10"
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        "::server:",
        "K10"
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00axx"
        "::server:abc",
        "abc\x01",
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        ek_error_t *err = NULL;
        char *secret = NULL;
        if (ek_pki_token_parse(bad[i], NULL, NULL, &secret, &err) != -1) {
            ek__test_fail(__FILE__, __LINE__, "token `%s` was accepted", bad[i]);
        }
        ASSERT_EQ(err->status, 400);
        ASSERT_TRUE(secret == NULL);
        ek_error_free(err);
    }
}

/* ---- service-account JWTs ---- */

static json_t *sa_claims(int64_t now, int64_t ttl)
{
    static const char *const auds[] = { "https://kubernetes.default.svc.cluster.local", "k3s" };
    ek_jwt_sa_t sa = { .audiences = auds,
                       .n_audiences = 2,
                       .ns = "kube-system",
                       .name = "coredns",
                       .uid = "8411ea6f-0000-4000-8000-000000000001",
                       .pod_name = "coredns-6799fbcd5-x",
                       .pod_uid = "6666d79e-2f95",
                       .now = now,
                       .ttl_s = ttl };
    return ek_jwt_sa_claims(&sa);
}

static char *sign(ek_pki_t *pki, const json_t *claims)
{
    ek_error_t *err = NULL;
    char *tok = NULL;
    ASSERT_OK(ek_jwt_sign(pki, claims, &tok, &err), &err);
    return tok;
}

static int verify(ek_pki_t *pki, const char *tok, int64_t now, char **msg)
{
    ek_error_t *err = NULL;
    json_t *claims = NULL;
    int rc = ek_jwt_verify(pki, tok, now, &claims, &err);
    if (rc < 0) {
        ASSERT_EQ(err->status, 401);
        *msg = ek_xstrdup(ek_error_msg(err));
        ek_error_free(err);
    } else {
        json_decref(claims);
    }
    return rc;
}

TEST(jwt_round_trip_matches_kube_apiserver_shape)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    int64_t now = time(NULL);
    ek_auto(json_t) claims = sa_claims(now, 3600);
    ek_autofree char *tok = sign(pki, claims);
    ek_error_t *err = NULL;
    ek_auto(json_t) back = NULL;
    ASSERT_OK(ek_jwt_verify(pki, tok, now, &back, &err), &err);
    ASSERT_TRUE(json_equal(back, claims));
    ASSERT_STREQ(ek_json_str(back, "sub", NULL), "system:serviceaccount:kube-system:coredns");
    ASSERT_STREQ(ek_json_str(back, "iss", NULL), "https://kubernetes.default.svc.cluster.local");
    ASSERT_STREQ(ek_json_str(back, "kubernetes.io", "serviceaccount", "name", NULL), "coredns");
    ASSERT_STREQ(ek_json_str(back, "kubernetes.io", "pod", "name", NULL), "coredns-6799fbcd5-x");
    ASSERT_EQ(ek_json_int(back, 0, "exp", NULL), now + 3600);
    ASSERT_EQ(ek_json_int(back, 0, "nbf", NULL), now);

    /* Three parts; the header is exactly kube-apiserver's; the signature is raw r||s. */
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    ASSERT_TRUE(d1 && d2 && d1 != d2);
    size_t hl = 0, sl = 0;
    ek_autofree char *hdr = b64url_decode_str(tok, (size_t)(d1 - tok), &hl);
    ek_auto(json_t) hdr_json = ek_json_parse(hdr, hl, &err);
    ASSERT_NOT_NULL(hdr_json);
    ek_autofree char *want =
        ek_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\"}", ek_json_str(hdr_json, "kid", NULL));
    ASSERT_STREQ(hdr, want);
    free(b64url_decode_str(d2 + 1, strlen(d2 + 1), &sl));
    ASSERT_EQ(sl, 64);
    /* The payload's keys come sorted, as Go's encoder writes a claims map. */
    size_t pl = 0;
    ek_autofree char *payload = b64url_decode_str(d1 + 1, (size_t)(d2 - d1 - 1), &pl);
    ASSERT_TRUE(ek_has_prefix(payload, "{\"aud\":[\"https://kubernetes.default.svc.cluster.local"
                                       "\",\"k3s\"],\"exp\":"));
    ASSERT_CONTAINS(payload, "\"kubernetes.io\":{\"namespace\":\"kube-system\",\"pod\":");
}

TEST(jwt_kid_is_sha256_of_public_key_der)
{
    if (!have("openssl")) {
        ek_test_skip("openssl CLI not installed: cannot compute the key id independently");
    }
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_auto(json_t) claims = sa_claims(time(NULL), 600);
    ek_autofree char *tok = sign(pki, claims);
    size_t hl = 0;
    ek_autofree char *hdr = b64url_decode_str(tok, (size_t)(strchr(tok, '.') - tok), &hl);
    ek_autofree char *kid = NULL;
    ASSERT_EQ(sh(&kid,
                 "openssl pkey -pubin -in %s/service-account.pub -outform DER | "
                 "openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | "
                 "tr -d '='",
                 dir),
              0);
    ek_autofree char *want = ek_xasprintf("\"kid\":\"%s\"", kid);
    ASSERT_CONTAINS(hdr, want);
}

TEST(jwt_tampered_tokens_fail)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    int64_t now = time(NULL);
    ek_auto(json_t) claims = sa_claims(now, 3600);
    ek_autofree char *tok = sign(pki, claims);
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    char *msg = NULL;
    ASSERT_EQ(verify(pki, tok, now, &msg), 0);

    /* Another subject with the original signature. */
    ek_auto(json_t) evil = json_deep_copy(claims);
    ek_json_set_str(evil, "sub", "system:serviceaccount:kube-system:admin");
    ek_autofree char *evil_json = ek_json_dumps(evil);
    ek_autofree char *evil_b64 = b64url_encode_str(evil_json, strlen(evil_json));
    ek_autofree char *forged = ek_xasprintf("%.*s.%s%s", (int)(d1 - tok), tok, evil_b64, d2);
    ASSERT_EQ(verify(pki, forged, now, &msg), -1);
    ASSERT_CONTAINS(msg, "signature is invalid");
    free(msg);

    /* One bit of the signature. */
    ek_autofree char *flipped = ek_xstrdup(tok);
    char *last = flipped + strlen(flipped) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    ASSERT_EQ(verify(pki, flipped, now, &msg), -1);
    free(msg);

    /* alg "none" and an unknown key id. */
    static const char *const headers[] = { "{\"alg\":\"none\"}",
                                           "{\"alg\":\"ES256\",\"kid\":\"other\"}",
                                           "{\"alg\":\"HS256\"}",
                                           "{\"alg\":\"ES256\",\"crit\":[\"x\"]}" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(headers); i++) {
        ek_autofree char *h = b64url_encode_str(headers[i], strlen(headers[i]));
        ek_autofree char *t = ek_xasprintf("%s%s", h, d1);
        ASSERT_EQ(verify(pki, t, now, &msg), -1);
        free(msg);
    }
    /* Shapes: two parts, four parts, padding, empty. */
    ek_autofree char *two = ek_xstrndup(tok, (size_t)(d2 - tok));
    ek_autofree char *four = ek_xasprintf("%s.x", tok);
    ek_autofree char *padded = ek_xasprintf("%s=", tok);
    const char *shapes[] = { two, four, padded, "", "..", "a.b.c" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(shapes); i++) {
        ASSERT_EQ(verify(pki, shapes[i], now, &msg), -1);
        free(msg);
    }
    /* A token from another cluster's key. */
    ek_autofree char *other_dir = ek_test_path("other/tls");
    ek_pki_options_t oo;
    opts_init(&oo, other_dir);
    ek_auto(ek_pki_t) other = load(&oo);
    ek_autofree char *foreign = sign(other, claims);
    ASSERT_EQ(verify(pki, foreign, now, &msg), -1);
    free(msg);
}

/* A token with this exact header and payload text, validly signed with pki's key. */
static char *sign_raw(ek_pki_t *pki, const char *header_b64, const char *payload_b64)
{
    ek_autofree char *input = ek_xasprintf("%s.%s", header_b64, payload_b64);
    ek_error_t *err = NULL;
    char *tok = NULL;
    ASSERT_OK(ek__jwt_sign_input(pki, input, strlen(input), &tok, &err), &err);
    return tok;
}

static char *b64url_of(const char *s)
{
    return b64url_encode_str(s, strlen(s));
}

TEST(jwt_header_rules_hold_for_validly_signed_tokens)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    int64_t now = time(NULL);
    ek_auto(json_t) claims = sa_claims(now, 3600);
    ek_autofree char *claims_json = ek_json_dumps(claims);
    ek_autofree char *payload = b64url_of(claims_json);
    char *msg = NULL;
    /* Without a kid the key is still ours: accepted. */
    ek_autofree char *plain_h = b64url_of("{\"alg\":\"ES256\"}");
    ek_autofree char *plain = sign_raw(pki, plain_h, payload);
    ASSERT_EQ(verify(pki, plain, now, &msg), 0);
    static const struct {
        const char *header, *why;
    } bad[] = {
        { "{\"alg\":\"none\"}", "unexpected token signing algorithm `none`" },
        { "{\"alg\":\"HS256\"}", "unexpected token signing algorithm `HS256`" },
        { "{\"kid\":\"x\"}", "unexpected token signing algorithm ``" },
        { "{\"alg\":\"ES256\",\"kid\":\"other\"}", "token signed by an unknown key" },
        { "{\"alg\":\"ES256\",\"kid\":7}", "token signed by an unknown key" },
        { "{\"alg\":\"ES256\",\"crit\":[\"exp\"]}", "token has critical header parameters" },
        { "[\"alg\",\"ES256\"]", "malformed token: header is not a JSON object" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        ek_autofree char *h = b64url_of(bad[i].header);
        ek_autofree char *t = sign_raw(pki, h, payload);
        ASSERT_EQ(verify(pki, t, now, &msg), -1);
        ASSERT_STREQ(msg, bad[i].why);
        free(msg);
    }
    /* base64url is exact: padding, the standard alphabet and stray low bits are refused
     * even under a valid signature, so that one token has one spelling. */
    ek_autofree char *h16 = b64url_of("{\"alg\":\"ES256\"} "); /* 16 bytes: 22 chars */
    ASSERT_EQ(strlen(h16), 22);
    ek_autofree char *ok16 = sign_raw(pki, h16, payload);
    ASSERT_EQ(verify(pki, ok16, now, &msg), 0);
    ek_autofree char *h16_padded = ek_xasprintf("%s==", h16);
    ek_autofree char *hq = b64url_of("{\"alg\":\"ES256\",\"x\":\"~~~~~~~~~\"}");
    ek_autofree char *okq = sign_raw(pki, hq, payload);
    ASSERT_EQ(verify(pki, okq, now, &msg), 0);
    char *url_char = strpbrk(hq, "-_");
    ASSERT_NOT_NULL(url_char);
    ek_autofree char *hq_std = ek_xstrdup(hq);
    hq_std[url_char - hq] = *url_char == '-' ? '+' : '/';
    /* "e30" is "{}"; "e31" differs only in bits that do not fit a byte. */
    const char *const headers[] = { h16_padded, hq_std, "e31" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(headers); i++) {
        ek_autofree char *t = sign_raw(pki, headers[i], payload);
        ASSERT_EQ(verify(pki, t, now, &msg), -1);
        ASSERT_STREQ(msg, "malformed token: header is not base64url");
        free(msg);
    }
}

TEST(jwt_time_claims)
{
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    int64_t now = time(NULL);
    char *msg = NULL;
    ek_auto(json_t) expired = sa_claims(now - 7200, 3600);
    ek_autofree char *t1 = sign(pki, expired);
    ASSERT_EQ(verify(pki, t1, now, &msg), -1);
    ASSERT_STREQ(msg, "service account token has expired");
    free(msg);
    /* The same token was fine while it lived, and 60 s of skew are forgiven. */
    ASSERT_EQ(verify(pki, t1, now - 7200 + 1800, &msg), 0);
    ASSERT_EQ(verify(pki, t1, now - 3600 + 59, &msg), 0);
    ASSERT_EQ(verify(pki, t1, now - 3600 + 61, &msg), -1);
    free(msg);

    ek_auto(json_t) future = sa_claims(now + 3600, 3600);
    ek_autofree char *t2 = sign(pki, future);
    ASSERT_EQ(verify(pki, t2, now, &msg), -1);
    ASSERT_STREQ(msg, "service account token is not valid yet");
    free(msg);

    ek_auto(json_t) no_exp = sa_claims(now, 3600);
    json_object_del(no_exp, "exp");
    ek_autofree char *t3 = sign(pki, no_exp);
    ASSERT_EQ(verify(pki, t3, now, &msg), -1);
    ASSERT_STREQ(msg, "service account token has no expiry");
    free(msg);

    ek_auto(json_t) text_exp = sa_claims(now, 3600);
    json_object_set_new(text_exp, "exp", json_string("tomorrow"));
    ek_autofree char *t4 = sign(pki, text_exp);
    ASSERT_EQ(verify(pki, t4, now, &msg), -1);
    free(msg);
    /* Fractional NumericDates are accepted, as Go reads them. */
    ek_auto(json_t) real_exp = sa_claims(now, 3600);
    json_object_set_new(real_exp, "exp", json_real((double)now + 100.5));
    ek_autofree char *t5 = sign(pki, real_exp);
    ASSERT_EQ(verify(pki, t5, now, &msg), 0);
}

/* DER INTEGER of a 32-byte big-endian value: minimal, with a 0 byte when the top bit is set. */
static size_t der_int(unsigned char *out, const unsigned char *v, size_t n)
{
    while (n > 1 && v[0] == 0 && !(v[1] & 0x80)) {
        v++;
        n--;
    }
    size_t pad = (v[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad);
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

TEST(jwt_signature_verifies_with_openssl)
{
    if (!have("openssl")) {
        ek_test_skip("openssl CLI not installed: no independent ECDSA verifier");
    }
    ek_autofree char *dir = tls_dir();
    ek_pki_options_t o;
    opts_init(&o, dir);
    ek_auto(ek_pki_t) pki = load(&o);
    ek_auto(json_t) claims = sa_claims(time(NULL), 3600);
    ek_autofree char *tok = sign(pki, claims);
    const char *d2 = strrchr(tok, '.');
    size_t sl = 0;
    ek_autofree char *rs = b64url_decode_str(d2 + 1, strlen(d2 + 1), &sl);
    ASSERT_EQ(sl, 64);
    /* JOSE's r||s back to the DER ECDSA-Sig-Value openssl expects. */
    unsigned char body[80], der[82];
    size_t n = der_int(body, (const unsigned char *)rs, 32);
    n += der_int(body + n, (const unsigned char *)rs + 32, 32);
    der[0] = 0x30;
    der[1] = (unsigned char)n;
    memcpy(der + 2, body, n);
    ek_error_t *err = NULL;
    ek_autofree char *sig_path = ek_test_path("sig.der");
    ek_autofree char *in_path = ek_test_path("input");
    ek_autofree char *bad_path = ek_test_path("input.bad");
    ASSERT_OK(ek_file_write_atomic(sig_path, der, n + 2, 0600, &err), &err);
    ASSERT_OK(ek_file_write_atomic(in_path, tok, (size_t)(d2 - tok), 0600, &err), &err);
    ASSERT_OK(ek_file_write_atomic(bad_path, tok, (size_t)(d2 - tok) - 1, 0600, &err), &err);
    ek_autofree char *out = NULL, *bad = NULL;
    ASSERT_EQ(sh(&out, "openssl dgst -sha256 -verify %s/service-account.pub -signature %s %s", dir,
                 sig_path, in_path),
              0);
    ASSERT_CONTAINS(out, "Verified OK");
    /* The same check fails on other input: it is a real check. */
    ASSERT_NE(sh(&bad, "openssl dgst -sha256 -verify %s/service-account.pub -signature %s %s", dir,
                 sig_path, bad_path),
              0);
    ASSERT_CONTAINS(bad, "Verification failure");
}
