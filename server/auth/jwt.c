/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service-account tokens: compact JWS signed with ES256, byte-compatible with what
 * kube-apiserver issues (header {"alg":"ES256","kid":...}, claims with sorted keys, raw r||s
 * signature), and their verification for the API server's authenticator. Tokens arrive from
 * anyone who can reach the API, so verification is strict and cheap to reject: a length cap,
 * exact base64url, the header checked before the signature, and the claims parsed only once
 * the signature holds.
 */
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/sha256.h>

#include "server/auth/auth-internal.h"

#define JWT_MAX_LEN  (64 * 1024)
#define JWT_LEEWAY_S 60 /* go-jose's DefaultLeeway, which kube-apiserver applies */
#define SIG_LEN      64 /* P-256: r and s, 32 bytes each */

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t ek__b64url_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

void ek__b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        out[o++] = b64url_chars[v >> 6 & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (n - i) {
        uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64url_chars[v >> 18 & 63];
        out[o++] = b64url_chars[v >> 12 & 63];
        if (n - i == 2) {
            out[o++] = b64url_chars[v >> 6 & 63];
        }
    }
    out[o] = '\0';
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/*
 * Strict decoding: the URL alphabet only, no padding, and the unused low bits of the last
 * character zero, so that one token has exactly one spelling. out needs n * 3 / 4 bytes.
 * Returns the decoded length or -1.
 */
static ssize_t b64url_decode(const char *in, size_t n, unsigned char *out)
{
    if (n % 4 == 1) {
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(in[i]);
        if (v < 0) {
            return -1;
        }
        acc = ((acc << 6) | (uint32_t)v) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) {
        return -1;
    }
    return (ssize_t)o;
}

static void b64url_append(ek_buf_t *b, const void *data, size_t n)
{
    size_t len = ek__b64url_len(n);
    ek_buf_reserve(b, len + 1);
    ek__b64url_encode(data, n, b->data + b->len);
    b->len += len;
}

int ek__jwt_sign_input(ek_pki_t *pki, const char *input, size_t len, char **token, ek_error_t **err)
{
    unsigned char hash[32], sig[SIG_LEN];
    mbedtls_sha256_ret((const unsigned char *)input, len, hash, 0);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pki->sa_key);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    /* RFC 6979 nonces: a weak DRBG cannot leak the key through them. */
    int rc = mbedtls_ecdsa_sign_det_ext(&ec->grp, &r, &s, &ec->d, hash, sizeof(hash),
                                        MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random, &pki->drbg);
    if (rc == 0) {
        rc = mbedtls_mpi_write_binary(&r, sig, SIG_LEN / 2);
    }
    if (rc == 0) {
        rc = mbedtls_mpi_write_binary(&s, sig + SIG_LEN / 2, SIG_LEN / 2);
    }
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    if (rc) {
        return ek__pki_tls_error(err, rc, "sign token");
    }
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_append(&b, input, len);
    ek_buf_putc(&b, '.');
    b64url_append(&b, sig, sizeof(sig));
    *token = ek_buf_steal(&b, NULL);
    return 0;
}

int ek_jwt_sign(ek_pki_t *pki, const json_t *claims, char **token, ek_error_t **err)
{
    if (!json_is_object(claims)) {
        return ek_error_status(err, 400, "token claims must be a JSON object");
    }
    ek_auto(json_t) header = json_pack("{s:s, s:s}", "alg", "ES256", "kid", pki->sa_kid);
    ek_autofree char *h = ek_json_dumps(header);
    ek_autofree char *c = ek_json_dumps(claims);
    ek_autobuf input = EK_BUF_INIT;
    b64url_append(&input, h, strlen(h));
    ek_buf_putc(&input, '.');
    b64url_append(&input, c, strlen(c));
    return ek__jwt_sign_input(pki, input.data, input.len, token, err);
}

/* Decodes one base64url segment holding a JSON object. Caller owns the result. */
static json_t *segment_json(const char *seg, size_t len, const char *what, ek_error_t **err)
{
    ek_autofree unsigned char *raw = ek_xmalloc(len * 3 / 4 + 1);
    ssize_t n = b64url_decode(seg, len, raw);
    if (n < 0) {
        ek_error_status(err, 401, "malformed token: %s is not base64url", what);
        return NULL;
    }
    ek_error_t *e = NULL;
    json_t *v = ek_json_parse((const char *)raw, (size_t)n, &e);
    if (!v || !json_is_object(v)) {
        ek_error_status(err, 401, "malformed token: %s is not a JSON object", what);
        ek_error_free(e);
        json_decref(v);
        return NULL;
    }
    return v;
}

static int check_header(const ek_pki_t *pki, const char *seg, size_t len, ek_error_t **err)
{
    ek_auto(json_t) h = segment_json(seg, len, "header", err);
    if (!h) {
        return -1;
    }
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (!alg || strcmp(alg, "ES256") != 0) {
        return ek_error_status(err, 401, "unexpected token signing algorithm `%s`", alg ? alg : "");
    }
    json_t *kid = json_object_get(h, "kid");
    if (kid && (!json_is_string(kid) || strcmp(json_string_value(kid), pki->sa_kid) != 0)) {
        return ek_error_status(err, 401, "token signed by an unknown key");
    }
    /* RFC 7515 §4.1.11: extensions we do not understand must not be ignored. */
    if (json_object_get(h, "crit")) {
        return ek_error_status(err, 401, "token has critical header parameters");
    }
    return 0;
}

/* input is "<header>.<payload>" as received, sig its base64url signature. */
static int check_signature(ek_pki_t *pki, const char *input, size_t len, const char *sig_b64,
                           size_t sig_b64_len, ek_error_t **err)
{
    unsigned char sig[SIG_LEN + 3], hash[32];
    if (sig_b64_len != ek__b64url_len(SIG_LEN) ||
        b64url_decode(sig_b64, sig_b64_len, sig) != SIG_LEN) {
        return ek_error_status(err, 401, "malformed token signature");
    }
    mbedtls_sha256_ret((const unsigned char *)input, len, hash, 0);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pki->sa_key);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = mbedtls_mpi_read_binary(&r, sig, SIG_LEN / 2);
    if (rc == 0) {
        rc = mbedtls_mpi_read_binary(&s, sig + SIG_LEN / 2, SIG_LEN / 2);
    }
    if (rc == 0) {
        /* Checks 0 < r, s < n itself. */
        rc = mbedtls_ecdsa_verify(&ec->grp, hash, sizeof(hash), &ec->Q, &r, &s);
    }
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? ek_error_status(err, 401, "token signature is invalid") : 0;
}

/* A NumericDate claim: 1 when present (value in *out), 0 when absent, -1 when not a number. */
static int numeric_date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(claims, name);
    if (!v) {
        return 0;
    }
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    /* Go's NumericDate accepts fractions; bound the value before converting it. */
    double d = json_is_real(v) ? json_real_value(v) : -1e300;
    if (d < -1e15 || d > 1e15) {
        return -1;
    }
    *out = (int64_t)d;
    return 1;
}

/* kube-apiserver's rules and wording; now's arithmetic stays on the trusted side. */
static int check_times(const json_t *claims, int64_t now, ek_error_t **err)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int has_exp = numeric_date(claims, "exp", &exp);
    int has_nbf = numeric_date(claims, "nbf", &nbf);
    int has_iat = numeric_date(claims, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
        return ek_error_status(err, 401, "service account token has malformed time claims");
    }
    if (!has_exp) {
        return ek_error_status(err, 401, "service account token has no expiry");
    }
    if (now - JWT_LEEWAY_S > exp) {
        return ek_error_status(err, 401, "service account token has expired");
    }
    if (has_nbf && now + JWT_LEEWAY_S < nbf) {
        return ek_error_status(err, 401, "service account token is not valid yet");
    }
    if (has_iat && now + JWT_LEEWAY_S < iat) {
        return ek_error_status(err, 401, "service account token is issued in the future");
    }
    return 0;
}

int ek_jwt_verify(ek_pki_t *pki, const char *token, int64_t now, json_t **claims, ek_error_t **err)
{
    size_t n = strnlen(token, JWT_MAX_LEN + 1);
    if (n > JWT_MAX_LEN) {
        return ek_error_status(err, 401, "token is longer than %d bytes", JWT_MAX_LEN);
    }
    const char *d1 = memchr(token, '.', n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token))) {
        return ek_error_status(err, 401, "malformed token: not three dot-separated parts");
    }
    if (check_header(pki, token, (size_t)(d1 - token), err) < 0 ||
        check_signature(pki, token, (size_t)(d2 - token), d2 + 1, n - (size_t)(d2 + 1 - token),
                        err) < 0) {
        return -1;
    }
    json_t *c = segment_json(d1 + 1, (size_t)(d2 - d1 - 1), "claims", err);
    if (!c) {
        return -1;
    }
    if (check_times(c, now, err) < 0) {
        json_decref(c);
        return -1;
    }
    *claims = c;
    return 0;
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

json_t *ek_jwt_sa_claims(const ek_jwt_sa_t *sa)
{
    const char *iss = sa->issuer ? sa->issuer : "https://kubernetes.default.svc.cluster.local";
    int64_t ttl = sa->ttl_s > 0 ? sa->ttl_s : 3600;
    json_t *aud = json_array();
    for (size_t i = 0; i < sa->n_audiences; i++) {
        json_array_append_new(aud, json_string(sa->audiences[i]));
    }
    if (sa->n_audiences == 0) {
        json_array_append_new(aud, json_string(iss));
    }
    /* Keys in the order kube-apiserver's encoder emits them (sorted). */
    json_t *k8s = json_object();
    ek_json_set_str(k8s, "namespace", or_empty(sa->ns));
    if (sa->pod_name) {
        json_object_set_new(
            k8s, "pod",
            json_pack("{s:s, s:s}", "name", sa->pod_name, "uid", or_empty(sa->pod_uid)));
    }
    json_object_set_new(
        k8s, "serviceaccount",
        json_pack("{s:s, s:s}", "name", or_empty(sa->name), "uid", or_empty(sa->uid)));
    char *sub = ek_xasprintf("system:serviceaccount:%s:%s", or_empty(sa->ns), or_empty(sa->name));
    json_t *c = json_pack("{s:o, s:I, s:I, s:s, s:o, s:I, s:s}", "aud", aud, "exp",
                          (json_int_t)(sa->now + ttl), "iat", (json_int_t)sa->now, "iss", iss,
                          "kubernetes.io", k8s, "nbf", (json_int_t)sa->now, "sub", sub);
    free(sub);
    ek_assert(c);
    return c;
}
