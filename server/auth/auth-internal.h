/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to server/auth/: the definition of ek_pki_t, which pki.c builds and jwt.c and
 * token.c read (the service-account key, the CA hash, the DRBG), and the few helpers those
 * files share. Nothing outside server/auth/ includes this, except the unit tests and the
 * fuzz target of this part.
 */
#ifndef EK_SERVER_AUTH_INTERNAL_H
#define EK_SERVER_AUTH_INTERNAL_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "server/server.h"

/* base64url of a SHA-256 digest without padding: 43 characters. */
#define EK__JWT_KID_LEN 43

struct ek_pki {
    char *dir;
    int leaf_days;      /* validity of leaf certificates issued at load and by default */
    int renew_days;     /* leaf certificates with less time left are renewed at load */
    unsigned generated; /* EK_PKI_GEN_* bits of this load */

    /* One DRBG per PKI: key generation, serials, token secrets, ECDSA blinding. */
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;

    mbedtls_x509_crt ca;
    mbedtls_pk_context ca_key;
    char *ca_pem; /* the exact bytes of server-ca.crt: what /cacerts serves and the token hashes */
    char ca_hash[65];

    char *serving_pem; /* leaf followed by the CA */
    char *serving_key_pem;
    char *admin_pem; /* leaf followed by the CA */
    char *admin_key_pem;

    mbedtls_pk_context sa_key; /* ECDSA P-256, signs service-account JWTs */
    char *sa_pub_pem;
    char sa_kid[EK__JWT_KID_LEN + 1];
};

/* Formats "context: <mbedtls message> (-0xNNNN)" into *err. Returns -1. */
int ek__pki_tls_error(ek_error_t **err, int rc, const char *fmt, ...) EK_PRINTF(3, 4);
/* Fills buf with len bytes from the PKI's DRBG. */
int ek__pki_random(ek_pki_t *pki, void *buf, size_t len, ek_error_t **err);
/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void ek__hex(const unsigned char *in, size_t n, char *out);

/* base64url without padding (RFC 7515 §2). out needs ek__b64url_len(n) + 1 bytes. */
size_t ek__b64url_len(size_t n);
void ek__b64url_encode(const unsigned char *in, size_t n, char *out);

/*
 * Signs a JWS signing input ("<b64url header>.<b64url payload>", exactly as given) with the
 * service-account key and returns the compact token "<input>.<b64url r||s>" (caller frees).
 * ek_jwt_sign builds the input from JSON; the fuzz target signs arbitrary bytes with it so
 * that ek_jwt_verify's claim checks see inputs past the signature.
 */
int ek__jwt_sign_input(ek_pki_t *pki, const char *input, size_t len, char **token,
                       ek_error_t **err);

#endif
