/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The join token, in k3s's secure form `K10<sha256 of the CA PEM>::<user>:<secret>`: a
 * joining node downloads /cacerts without trusting it, checks its hash against the token,
 * and only then sends the secret. Parsing (ek_join_token_parse, api/kubeconfig.c) follows
 * k3s's rules, so that tokens move between the two. This file keeps the server token's file.
 */
#include <errno.h>
#include <mbedtls/sha256.h>
#include <sys/stat.h>

#include "server/auth/auth-internal.h"

#define TOKEN_PREFIX   "K10"
#define SECRET_BYTES   16 /* 32 hex characters, as k3s generates */
#define TOKEN_FILE_MAX 4096

int ek_pki_token_parse(const char *str, char **ca_hash, char **user, char **secret,
                       ek_error_t **err)
{
    ek_join_token_t t;
    if (ek_join_token_parse(str, &t, err) < 0) {
        return -1;
    }
    if (ca_hash) {
        *ca_hash = ek_steal(&t.ca_hash);
    }
    if (user) {
        *user = ek_steal(&t.user);
    }
    if (secret) {
        *secret = ek_steal(&t.secret);
    }
    ek_join_token_clear(&t);
    return 0;
}

static char *new_secret(ek_pki_t *pki, ek_error_t **err)
{
    unsigned char raw[SECRET_BYTES];
    if (ek__pki_random(pki, raw, sizeof(raw), err) < 0) {
        return NULL;
    }
    char *hex = ek_xmalloc(2 * sizeof(raw) + 1);
    ek__hex(raw, sizeof(raw), hex);
    return hex;
}

/* The token in its canonical form from what the file held (NULL content: a new token). */
static char *canonical(ek_pki_t *pki, const char *content, const char *path, ek_error_t **err)
{
    ek_autofree char *hash = NULL, *user = NULL, *secret = NULL;
    if (!content) {
        secret = new_secret(pki, err);
        if (!secret) {
            return NULL;
        }
    } else if (ek_pki_token_parse(content, &hash, &user, &secret, err) < 0) {
        ek_error_wrap(err, "token file `%s`", path);
        return NULL;
    }
    if (hash && strcmp(hash, pki->ca_hash) != 0) {
        ek_error_make(err, 0,
                      "token `%s` names another cluster CA (hash %.12s…, this CA is "
                      "%.12s…): remove it to create a new token",
                      path, hash, pki->ca_hash);
        return NULL;
    }
    return ek_xasprintf(TOKEN_PREFIX "%s::%s:%s", pki->ca_hash, user ? user : "server", secret);
}

/* The file's content, or NULL (with *err unset) when it does not exist. */
static int read_token_file(const char *path, char **content, ek_error_t **err)
{
    ek_error_t *e = NULL;
    size_t len = 0;
    *content = ek_file_read(path, TOKEN_FILE_MAX, &len, &e);
    if (!*content && e->errnum != ENOENT) {
        ek_error_wrap(&e, "read token");
        if (err && !*err) {
            *err = e;
        } else {
            ek_error_free(e);
        }
        return -1;
    }
    ek_error_free(e);
    if (*content && strlen(*content) != len) {
        free(*content);
        *content = NULL;
        return ek_error_make(err, 0, "token file `%s` contains a NUL byte", path);
    }
    return 0;
}

/* Writes token t to path unless it already holds it (then only a loose mode is fixed), so a
 * plain restart writes nothing. Takes t: *token on success, freed on failure. */
static int store_token(const char *path, const char *content, char *t, char **token,
                       ek_error_t **err)
{
    ek_autofree char *want = ek_xasprintf("%s\n", t);
    struct stat st;
    if (content && strcmp(content, want) == 0 && stat(path, &st) == 0 &&
        (st.st_mode & 07777) != 0600 && chmod(path, 0600) < 0) {
        free(t);
        return ek_error_make(err, errno, "chmod `%s`", path);
    }
    if (!content || strcmp(content, want) != 0) {
        ek_autofree char *dir = ek_path_dirname(path);
        if (ek_mkdir_p(dir, 0700, err) < 0 ||
            ek_file_write_atomic(path, want, strlen(want), 0600, err) < 0) {
            free(t);
            return ek_error_wrap(err, "write token");
        }
    }
    *token = t;
    return 0;
}

int ek_pki_token_load_or_create(ek_pki_t *pki, const char *path, char **token, ek_error_t **err)
{
    ek_autofree char *content = NULL;
    if (read_token_file(path, &content, err) < 0) {
        return -1;
    }
    char *t = canonical(pki, content, path, err);
    return t ? store_token(path, content, t, token, err) : -1;
}

int ek_pki_token_set(ek_pki_t *pki, const char *path, const char *given, char **token,
                     ek_error_t **err)
{
    ek_autofree char *content = NULL;
    if (read_token_file(path, &content, err) < 0) {
        return -1;
    }
    char *t = canonical(pki, given, "--token", err);
    if (!t) {
        return -1;
    }
    if (content && strncmp(content, t, strlen(t)) != 0) {
        EK_LOG(EK_WARN, "server", "the server token changes to the one given path=%s", path);
    }
    return store_token(path, content, t, token, err);
}

/* ---- node passwords ---- */

#define PW_SALT_BYTES 16

static void pw_digest(const unsigned char *salt, size_t n, const char *pw, char out[65])
{
    unsigned char d[32];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, salt, n);
    mbedtls_sha256_update_ret(&c, (const unsigned char *)pw, strlen(pw));
    mbedtls_sha256_finish_ret(&c, d);
    mbedtls_sha256_free(&c);
    ek__hex(d, sizeof(d), out);
}

char *ek_pki_password_hash(ek_pki_t *pki, const char *password, ek_error_t **err)
{
    unsigned char salt[PW_SALT_BYTES];
    if (ek__pki_random(pki, salt, sizeof(salt), err) < 0) {
        return NULL;
    }
    char salt_hex[2 * PW_SALT_BYTES + 1], digest[65];
    ek__hex(salt, sizeof(salt), salt_hex);
    pw_digest(salt, sizeof(salt), password, digest);
    return ek_xasprintf("sha256$%s$%s", salt_hex, digest);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool ek_pki_password_check(const char *hash, const char *password)
{
    const char *p = hash;
    if (!hash || !ek_has_prefix(p, "sha256$")) {
        return false;
    }
    p += strlen("sha256$");
    unsigned char salt[PW_SALT_BYTES];
    for (size_t i = 0; i < sizeof(salt); i++) {
        int hi = hexval(p[2 * i]), lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        salt[i] = (unsigned char)(hi << 4 | lo);
    }
    p += 2 * sizeof(salt);
    if (*p++ != '$' || strlen(p) != 64) {
        return false;
    }
    char digest[65];
    pw_digest(salt, sizeof(salt), password, digest);
    /* Constant time: the comparison says nothing about how much matched. */
    unsigned char diff = 0;
    for (size_t i = 0; i < 64; i++) {
        diff |= (unsigned char)(digest[i] ^ p[i]);
    }
    return diff == 0;
}
