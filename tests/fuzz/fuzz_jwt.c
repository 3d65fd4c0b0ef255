/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the two parsers that see credentials from the network: ek_jwt_verify
 * (bearer tokens) and ek_pki_token_parse (join tokens). Random bytes rarely carry a valid
 * signature, so an input starting with '!' has its remaining bytes signed as the claims
 * segment under the real header first: that drives the claim checks, and checks that a
 * token we signed verifies exactly when its claims are acceptable.
 */
#include <math.h>
#include <stdio.h>

#include "server/auth/auth-internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ek_pki_t *pki;
static char dir[] = "/tmp/ek-fuzz-jwt-XXXXXX";
static char header_b64[128];
static const int64_t fixed_now = 1800000000; /* 2027-01-15: inputs decide how it compares */

static void cleanup(void)
{
    ek_pki_free(pki);
    ek_rm_rf(dir, NULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ek_log_configure("error", NULL);
    ek_assert(mkdtemp(dir));
    static const char *const ips[] = { "127.0.0.2" };
    ek_pki_options_t o = { .dir = dir, .hostname = "fuzz", .node_ips = ips, .n_node_ips = 1 };
    ek_error_t *err = NULL;
    if (ek_pki_load_or_create(&o, &pki, &err) < 0) {
        fprintf(stderr, "fuzz_jwt: %s\n", ek_error_msg(err));
        abort();
    }
    atexit(cleanup);
    char *h = ek_xasprintf("{\"alg\":\"ES256\",\"kid\":\"%s\"}", pki->sa_kid);
    ek__b64url_encode((const unsigned char *)h, strlen(h), header_b64);
    free(h);
    return 0;
}

static void fuzz_token_parse(const char *s)
{
    ek_error_t *err = NULL;
    char *hash = NULL, *user = NULL, *secret = NULL;
    if (ek_pki_token_parse(s, &hash, &user, &secret, &err) < 0) {
        ek_assert(err && err->status == 400 && !hash && !user && !secret);
        ek_error_free(err);
        return;
    }
    ek_assert(secret && *secret && strlen(secret) <= strlen(s));
    ek_assert(!hash || strlen(hash) == 64);
    ek_assert(!user || *user);
    free(hash);
    free(user);
    free(secret);
}

static int verify(const char *token, json_t **claims)
{
    ek_error_t *err = NULL;
    *claims = NULL;
    if (ek_jwt_verify(pki, token, fixed_now, claims, &err) < 0) {
        ek_assert(err && err->status == 401 && !*claims);
        ek_error_free(err);
        return -1;
    }
    ek_assert(json_is_object(*claims));
    return 0;
}

/* A NumericDate as RFC 7519 and Go read it: 1 present, 0 absent, -1 not a usable number. */
static int date(const json_t *claims, const char *name, int64_t *out)
{
    const json_t *c = json_object_get(claims, name);
    if (!c) {
        return 0;
    }
    if (json_is_integer(c)) {
        *out = json_integer_value(c);
        return 1;
    }
    if (json_is_real(c) && fabs(json_real_value(c)) <= 1e15) {
        *out = (int64_t)trunc(json_real_value(c));
        return 1;
    }
    return -1;
}

/* What ek_jwt_verify must decide about claims, with the 60 s leeway on each side. */
static bool acceptable(const json_t *claims)
{
    int64_t exp = 0, nbf = 0, iat = 0;
    int e = date(claims, "exp", &exp), n = date(claims, "nbf", &nbf), i = date(claims, "iat", &iat);
    if (e != 1 || n < 0 || i < 0) {
        return false;
    }
    return exp >= fixed_now - 60 && (!n || nbf <= fixed_now + 60) && (!i || iat <= fixed_now + 60);
}

/* Signs payload as the claims segment and checks verify's verdict against acceptable(). */
static void fuzz_signed_claims(const uint8_t *payload, size_t len)
{
    ek_buf_t input = EK_BUF_INIT;
    ek_buf_puts(&input, header_b64);
    ek_buf_putc(&input, '.');
    ek_buf_reserve(&input, ek__b64url_len(len) + 1);
    ek__b64url_encode(payload, len, input.data + input.len);
    input.len += ek__b64url_len(len);
    char *token = NULL;
    ek_error_t *err = NULL;
    ek_assert(ek__jwt_sign_input(pki, input.data, input.len, &token, &err) == 0);
    ek_buf_free(&input);
    json_t *claims = NULL;
    int rc = verify(token, &claims);
    json_t *parsed = json_loadb((const char *)payload, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool want = parsed && json_is_object(parsed) && acceptable(parsed);
    ek_assert((rc == 0) == want);
    if (rc == 0) {
        ek_assert(json_equal(claims, parsed));
    }
    json_decref(parsed);
    json_decref(claims);
    free(token);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 0 && data[0] == '!') {
        fuzz_signed_claims(data + 1, size - 1);
        return 0;
    }
    char *s = ek_xstrndup((const char *)data, size);
    fuzz_token_parse(s);
    json_t *claims = NULL;
    /* Nothing but our own key's signatures verifies; random bytes never do. */
    ek_assert(verify(s, &claims) < 0);
    free(s);
    return 0;
}
