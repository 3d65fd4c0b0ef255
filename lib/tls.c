/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS configs and sessions on mbedtls 2.28. The session is a memory-BIO engine: mbedtls'
 * recv callback reads from bytes the caller fed (borrowed, so the common path copies nothing
 * beyond mbedtls' own record buffer) and its send callback appends to an output buffer the
 * caller takes over and hands to uv_write without another copy. The transport (lib/http_sock.c)
 * decides when bytes move; nothing here blocks or does I/O.
 *
 * Verification policy beyond mbedtls: in OPTIONAL client-certificate mode a certificate that
 * is given but does not verify fails the handshake (as Go's VerifyClientCertIfGiven does),
 * and clients connecting to an IP literal match it against the certificate's iPAddress
 * names, which mbedtls 2.28 does not do itself.
 */
#include "lib/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <strings.h>

#include "lib/buf.h"

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct sni_entry {
    char *name;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
};

struct ek_tls_config {
    int refs;
    bool server;
    bool insecure;
    bool has_ca;
    ek_tls_client_cert_mode_t mode;
    mbedtls_ssl_config conf;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    struct sni_entry *sni;
    size_t n_sni;
};

struct ek_tls_session {
    ek_tls_config_t *cfg;
    mbedtls_ssl_context ssl;
    const unsigned char *in; /* fed ciphertext not yet consumed (borrowed) */
    size_t in_len;
    ek_buf_t out; /* ciphertext waiting to be taken */
    bool done;    /* handshake finished and checked */
    bool peer_loaded;
    bool ip_name; /* server_name is an IP literal: check iPAddress SANs ourselves */
    unsigned char ip[16];
    size_t ip_len;
    ek_tls_peer_t *peer;
};

/*
 * Server preference order: ECDHE + AEAD only. AES-GCM first where AES-NI makes it cheapest;
 * on boards without AES instructions (Raspberry Pi) ChaCha20-Poly1305 is several times faster.
 */
static const int ciphersuites[] = {
#if defined(__x86_64__) || defined(__i386__)
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
#else
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
#if defined(__x86_64__) || defined(__i386__)
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
#else
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

/* We only speak HTTP/1.1: a client offering h2 and http/1.1 gets http/1.1. */
static const char *alpn_protocols[] = { "http/1.1", NULL };

static int tls_error(ek_error_t **err, int ret, const char *what)
{
    char msg[160];
    mbedtls_strerror(ret, msg, sizeof(msg));
    return ek_error_make(err, 0, "%s: %s (-0x%04x)", what, msg, (unsigned)-ret);
}

static ek_tls_config_t *config_alloc(bool server)
{
    ek_tls_config_t *cfg = ek_new(ek_tls_config_t);
    cfg->refs = 1;
    cfg->server = server;
    mbedtls_ssl_config_init(&cfg->conf);
    mbedtls_entropy_init(&cfg->entropy);
    mbedtls_ctr_drbg_init(&cfg->drbg);
    mbedtls_x509_crt_init(&cfg->ca);
    mbedtls_x509_crt_init(&cfg->cert);
    mbedtls_pk_init(&cfg->key);
    return cfg;
}

static void config_free(ek_tls_config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_sni; i++) {
        free(cfg->sni[i].name);
        mbedtls_x509_crt_free(&cfg->sni[i].cert);
        mbedtls_pk_free(&cfg->sni[i].key);
    }
    free(cfg->sni);
    mbedtls_ssl_config_free(&cfg->conf);
    mbedtls_x509_crt_free(&cfg->ca);
    mbedtls_x509_crt_free(&cfg->cert);
    mbedtls_pk_free(&cfg->key);
    mbedtls_ctr_drbg_free(&cfg->drbg);
    mbedtls_entropy_free(&cfg->entropy);
    free(cfg);
}

EK_DEFINE_CLEANUP(ek_tls_config_t, ek_tls_config_unref)

/* Defaults shared by both sides: TLS 1.2+, our suites, a seeded DRBG. */
static int config_setup(ek_tls_config_t *cfg, ek_error_t **err)
{
    static const char pers[] = "edgek-tls";
    int ret = mbedtls_ctr_drbg_seed(&cfg->drbg, mbedtls_entropy_func, &cfg->entropy,
                                    (const unsigned char *)pers, sizeof(pers) - 1);
    if (ret != 0) {
        return tls_error(err, ret, "seed random generator");
    }
    ret = mbedtls_ssl_config_defaults(&cfg->conf,
                                      cfg->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0) {
        return tls_error(err, ret, "TLS defaults");
    }
    mbedtls_ssl_conf_rng(&cfg->conf, mbedtls_ctr_drbg_random, &cfg->drbg);
    mbedtls_ssl_conf_min_version(&cfg->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&cfg->conf, ciphersuites);
    ret = mbedtls_ssl_conf_alpn_protocols(&cfg->conf, alpn_protocols);
    if (ret != 0) {
        return tls_error(err, ret, "ALPN");
    }
    return 0;
}

/* PEM text must be passed to mbedtls with its terminating NUL counted. */
static int parse_cert_key(mbedtls_x509_crt *crt, mbedtls_pk_context *key, const char *cert_pem,
                          const char *key_pem, ek_error_t **err)
{
    if (!cert_pem || !key_pem) {
        return ek_error_make(err, EINVAL, "certificate and key are both required");
    }
    int ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)cert_pem, strlen(cert_pem) + 1);
    if (ret != 0) {
        return tls_error(err, ret, "parse certificate");
    }
    ret = mbedtls_pk_parse_key(key, (const unsigned char *)key_pem, strlen(key_pem) + 1, NULL, 0);
    if (ret != 0) {
        return tls_error(err, ret, "parse private key");
    }
    ret = mbedtls_pk_check_pair(&crt->pk, key);
    if (ret != 0) {
        return tls_error(err, ret, "certificate does not match private key");
    }
    return 0;
}

static bool sni_match(const char *pattern, const char *name, size_t len)
{
    if (pattern[0] == '*' && pattern[1] == '.') {
        /* "*.example.com" covers exactly one extra label. */
        const char *dot = memchr(name, '.', len);
        if (!dot || dot == name) {
            return false;
        }
        size_t rest = len - (size_t)(dot - name);
        return strlen(pattern + 1) == rest && strncasecmp(pattern + 1, dot, rest) == 0;
    }
    return strlen(pattern) == len && strncasecmp(pattern, name, len) == 0;
}

static int sni_select(void *data, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    ek_tls_config_t *cfg = data;
    for (size_t i = 0; i < cfg->n_sni; i++) {
        struct sni_entry *e = &cfg->sni[i];
        if (sni_match(e->name, (const char *)name, len)) {
            return mbedtls_ssl_set_hs_own_cert(ssl, &e->cert, &e->key);
        }
    }
    return 0; /* no match: the default certificate */
}

ek_tls_config_t *ek_tls_server_config_new(const char *cert_pem, const char *key_pem,
                                          const char *client_ca_pem, ek_tls_client_cert_mode_t mode,
                                          ek_error_t **err)
{
    ek_auto(ek_tls_config_t) cfg = config_alloc(true);
    if (config_setup(cfg, err) < 0 ||
        parse_cert_key(&cfg->cert, &cfg->key, cert_pem, key_pem, err) < 0) {
        ek_error_wrap(err, "TLS server config");
        return NULL;
    }
    int ret = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->cert, &cfg->key);
    if (ret != 0) {
        tls_error(err, ret, "TLS server config: own certificate");
        return NULL;
    }
    cfg->mode = mode;
    if (mode != EK_TLS_CLIENT_CERT_NONE) {
        if (!client_ca_pem) {
            ek_error_make(err, EINVAL, "TLS server config: client certificates need a CA");
            return NULL;
        }
        ret = mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)client_ca_pem,
                                     strlen(client_ca_pem) + 1);
        if (ret != 0) {
            tls_error(err, ret, "TLS server config: parse client CA");
            return NULL;
        }
        cfg->has_ca = true;
        mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    }
    mbedtls_ssl_conf_authmode(&cfg->conf,
                              mode == EK_TLS_CLIENT_CERT_REQUIRED   ? MBEDTLS_SSL_VERIFY_REQUIRED
                              : mode == EK_TLS_CLIENT_CERT_OPTIONAL ? MBEDTLS_SSL_VERIFY_OPTIONAL
                                                                    : MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_sni(&cfg->conf, sni_select, cfg);
    return ek_steal(&cfg);
}

int ek_tls_server_config_add_sni(ek_tls_config_t *cfg, const char *name, const char *cert_pem,
                                 const char *key_pem, ek_error_t **err)
{
    ek_assert(cfg->server);
    cfg->sni = ek_xrealloc(cfg->sni, (cfg->n_sni + 1) * sizeof(*cfg->sni));
    struct sni_entry *e = &cfg->sni[cfg->n_sni];
    mbedtls_x509_crt_init(&e->cert);
    mbedtls_pk_init(&e->key);
    if (parse_cert_key(&e->cert, &e->key, cert_pem, key_pem, err) < 0) {
        mbedtls_x509_crt_free(&e->cert);
        mbedtls_pk_free(&e->key);
        return ek_error_wrap(err, "SNI certificate for `%s`", name);
    }
    e->name = ek_xstrdup(name);
    cfg->n_sni++;
    return 0;
}

ek_tls_config_t *ek_tls_client_config_new(const char *ca_pem, const char *cert_pem,
                                          const char *key_pem, bool insecure_skip_verify,
                                          ek_error_t **err)
{
    ek_auto(ek_tls_config_t) cfg = config_alloc(false);
    if (config_setup(cfg, err) < 0) {
        ek_error_wrap(err, "TLS client config");
        return NULL;
    }
    cfg->insecure = insecure_skip_verify;
    if (!insecure_skip_verify) {
        int ret;
        if (ca_pem) {
            ret =
                mbedtls_x509_crt_parse(&cfg->ca, (const unsigned char *)ca_pem, strlen(ca_pem) + 1);
        } else {
            /* A positive result counts certificates mbedtls cannot use; the rest load. */
            ret = mbedtls_x509_crt_parse_file(&cfg->ca, SYSTEM_CA_BUNDLE);
            ret = ret > 0 && cfg->ca.version != 0 ? 0 : ret;
        }
        if (ret != 0) {
            tls_error(err, ret, ca_pem ? "TLS client config: parse CA" : SYSTEM_CA_BUNDLE);
            return NULL;
        }
        cfg->has_ca = true;
        mbedtls_ssl_conf_ca_chain(&cfg->conf, &cfg->ca, NULL);
    }
    mbedtls_ssl_conf_authmode(&cfg->conf, insecure_skip_verify ? MBEDTLS_SSL_VERIFY_NONE
                                                               : MBEDTLS_SSL_VERIFY_REQUIRED);
    if (cert_pem || key_pem) {
        if (parse_cert_key(&cfg->cert, &cfg->key, cert_pem, key_pem, err) < 0) {
            ek_error_wrap(err, "TLS client config: client certificate");
            return NULL;
        }
        int ret = mbedtls_ssl_conf_own_cert(&cfg->conf, &cfg->cert, &cfg->key);
        if (ret != 0) {
            tls_error(err, ret, "TLS client config: client certificate");
            return NULL;
        }
    }
    return ek_steal(&cfg);
}

/* Atomic, so loops on different threads (ek_http_fetch from a CLI thread, say) can share a
 * config; mbedtls' CTR_DRBG locks itself (MBEDTLS_THREADING_C). */
ek_tls_config_t *ek_tls_config_ref(ek_tls_config_t *cfg)
{
    if (cfg) {
        __atomic_fetch_add(&cfg->refs, 1, __ATOMIC_RELAXED);
    }
    return cfg;
}

void ek_tls_config_unref(ek_tls_config_t *cfg)
{
    if (cfg && __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        config_free(cfg);
    }
}

bool ek_tls_config_is_server(const ek_tls_config_t *cfg)
{
    return cfg->server;
}

/* ---- sessions ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ek_tls_session_t *s = ctx;
    ek_buf_append(&s->out, buf, len);
    return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ek_tls_session_t *s = ctx;
    if (s->in_len == 0) {
        return MBEDTLS_ERR_SSL_WANT_READ;
    }
    size_t n = EK_MIN(len, s->in_len);
    memcpy(buf, s->in, n);
    s->in += n;
    s->in_len -= n;
    return (int)n;
}

ek_tls_session_t *ek_tls_session_new(ek_tls_config_t *cfg, const char *server_name,
                                     ek_error_t **err)
{
    ek_tls_session_t *s = ek_new(ek_tls_session_t);
    mbedtls_ssl_init(&s->ssl);
    s->cfg = ek_tls_config_ref(cfg);
    int ret = mbedtls_ssl_setup(&s->ssl, &cfg->conf);
    if (ret != 0) {
        tls_error(err, ret, "TLS session");
        ek_tls_session_free(s);
        return NULL;
    }
    if (!cfg->server && server_name && server_name[0]) {
        if (inet_pton(AF_INET, server_name, s->ip) == 1) {
            s->ip_name = true, s->ip_len = 4;
        } else if (inet_pton(AF_INET6, server_name, s->ip) == 1) {
            s->ip_name = true, s->ip_len = 16;
        } else if ((ret = mbedtls_ssl_set_hostname(&s->ssl, server_name)) != 0) {
            tls_error(err, ret, "TLS server name");
            ek_tls_session_free(s);
            return NULL;
        }
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    return s;
}

void ek_tls_session_free(ek_tls_session_t *s)
{
    if (!s) {
        return;
    }
    mbedtls_ssl_free(&s->ssl);
    ek_buf_free(&s->out);
    ek_tls_peer_free(s->peer);
    ek_tls_config_unref(s->cfg);
    free(s);
}

void ek_tls_feed(ek_tls_session_t *s, const void *data, size_t len)
{
    /* Borrowed bytes must have been consumed before new ones arrive (see the header). */
    ek_assert(s->in_len == 0);
    s->in = data;
    s->in_len = len;
}

static bool cert_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t len)
{
    for (const mbedtls_x509_sequence *san = &crt->subject_alt_names; san; san = san->next) {
        if (san->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && san->buf.len == len &&
            memcmp(san->buf.p, ip, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Checks mbedtls leaves to us once the handshake itself has succeeded. */
static int check_peer(ek_tls_session_t *s, ek_error_t **err)
{
    const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&s->ssl);
    uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
    if (s->cfg->server && s->cfg->mode == EK_TLS_CLIENT_CERT_OPTIONAL && crt && flags != 0) {
        char info[256];
        mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
        info[strcspn(info, "\n")] = '\0';
        mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
        return ek_error_make(err, 0, "TLS client certificate rejected: %s", info);
    }
    if (!s->cfg->server && s->ip_name && !s->cfg->insecure &&
        !(crt && cert_has_ip(crt, s->ip, s->ip_len))) {
        mbedtls_ssl_send_alert_message(&s->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
        return ek_error_make(err, 0, "TLS server certificate is not valid for this IP address");
    }
    return 0;
}

int ek_tls_handshake(ek_tls_session_t *s, ek_error_t **err)
{
    if (s->done) {
        return 1;
    }
    int ret = mbedtls_ssl_handshake(&s->ssl);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        return 0;
    }
    if (ret != 0) {
        uint32_t flags = mbedtls_ssl_get_verify_result(&s->ssl);
        if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 && flags != (uint32_t)-1) {
            char info[256];
            mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);
            info[strcspn(info, "\n")] = '\0';
            return ek_error_make(err, 0, "TLS handshake: certificate verification failed: %s",
                                 info);
        }
        return tls_error(err, ret, "TLS handshake");
    }
    if (check_peer(s, err) < 0) {
        return -1;
    }
    s->done = true;
    return 1;
}

bool ek_tls_handshake_done(const ek_tls_session_t *s)
{
    return s->done;
}

ssize_t ek_tls_read(ek_tls_session_t *s, void *buf, size_t cap, ek_error_t **err)
{
    for (;;) {
        size_t before = s->in_len;
        int ret = mbedtls_ssl_read(&s->ssl, buf, cap);
        if (ret > 0) {
            return ret;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            /* A record without application data (an ignored alert, say) may be followed by
             * more; stop only when the fed bytes are used up or nothing moved. */
            if (s->in_len == 0) {
                return 0;
            }
            if (s->in_len < before) {
                continue;
            }
            return ek_error_make(err, 0, "TLS read: input not consumed");
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            return ek_error_make(err, 0, "TLS peer closed the connection");
        }
        return tls_error(err, ret, "TLS read");
    }
}

int ek_tls_write(ek_tls_session_t *s, const void *data, size_t len, ek_error_t **err)
{
    const unsigned char *p = data;
    while (len > 0) {
        /* Our send callback never blocks, so each call encrypts up to one record. */
        int ret = mbedtls_ssl_write(&s->ssl, p, len);
        if (ret < 0) {
            return tls_error(err, ret, "TLS write");
        }
        p += ret;
        len -= (size_t)ret;
    }
    return 0;
}

char *ek_tls_take_output(ek_tls_session_t *s, size_t *len)
{
    if (s->out.len == 0) {
        *len = 0;
        return NULL;
    }
    return ek_buf_steal(&s->out, len);
}

bool ek_tls_has_output(const ek_tls_session_t *s)
{
    return s->out.len > 0;
}

void ek_tls_close_notify(ek_tls_session_t *s)
{
    if (s->done) {
        mbedtls_ssl_close_notify(&s->ssl);
    }
}

/* X.509 string values are length-counted; a NUL inside would truncate, so refuse those. */
static char *name_value(const mbedtls_x509_name *n)
{
    if (memchr(n->val.p, '\0', n->val.len)) {
        return NULL;
    }
    return ek_xstrndup((const char *)n->val.p, n->val.len);
}

static ek_tls_peer_t *peer_from_cert(const mbedtls_x509_crt *crt)
{
    ek_tls_peer_t *p = ek_new(ek_tls_peer_t);
    size_t n_o = 0;
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        n_o += n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0;
    }
    p->organizations = ek_xcalloc(n_o + 1, sizeof(char *));
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next) {
        if (!n->oid.p) {
            continue;
        }
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && !p->common_name) {
            p->common_name = name_value(n);
        } else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0) {
            char *o = name_value(n);
            if (o) {
                p->organizations[p->n_organizations++] = o;
            }
        }
    }
    if (!p->common_name) {
        p->common_name = ek_xstrdup("");
    }
    return p;
}

const ek_tls_peer_t *ek_tls_peer(ek_tls_session_t *s)
{
    if (!s->done) {
        return NULL;
    }
    if (!s->peer_loaded) {
        s->peer_loaded = true;
        const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&s->ssl);
        bool verified =
            s->cfg->server ? s->cfg->mode != EK_TLS_CLIENT_CERT_NONE : !s->cfg->insecure;
        if (crt && verified && mbedtls_ssl_get_verify_result(&s->ssl) == 0) {
            s->peer = peer_from_cert(crt);
        }
    }
    return s->peer;
}

ek_tls_peer_t *ek_tls_peer_dup(const ek_tls_peer_t *p)
{
    if (!p) {
        return NULL;
    }
    ek_tls_peer_t *d = ek_new(ek_tls_peer_t);
    d->common_name = ek_xstrdup(p->common_name);
    d->organizations = ek_xcalloc(p->n_organizations + 1, sizeof(char *));
    for (size_t i = 0; i < p->n_organizations; i++) {
        d->organizations[i] = ek_xstrdup(p->organizations[i]);
    }
    d->n_organizations = p->n_organizations;
    return d;
}

void ek_tls_peer_free(ek_tls_peer_t *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n_organizations; i++) {
        free(p->organizations[i]);
    }
    free(p->organizations);
    free(p->common_name);
    free(p);
}
