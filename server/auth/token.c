/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The join token, in k3s's secure form `K10<sha256 of the CA PEM>::<user>:<secret>`: a
 * joining node downloads /cacerts without trusting it, checks its hash against the token,
 * and only then sends the secret. Parsing follows k3s's rules (a bare secret is accepted;
 * after `::` credentials must be `user:secret`) so that tokens move between the two.
 */
#include <ctype.h>
#include <errno.h>
#include <sys/stat.h>

#include "server/auth/auth-internal.h"

#define TOKEN_PREFIX   "K10"
#define HASH_HEX_LEN   64
#define SECRET_BYTES   16 /* 32 hex characters, as k3s generates */
#define TOKEN_FILE_MAX 4096

static bool all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static char *lower_dup(const char *s, size_t n)
{
    char *r = ek_xstrndup(s, n);
    for (size_t i = 0; i < n; i++) {
        r[i] = (char)tolower((unsigned char)r[i]);
    }
    return r;
}

/* Copies [s, s+n) into *out when out is given; an empty span becomes NULL. */
static void put(char **out, const char *s, size_t n, bool lower)
{
    if (out) {
        *out = n == 0 ? NULL : lower ? lower_dup(s, n) : ek_xstrndup(s, n);
    }
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

int ek_pki_token_parse(const char *str, char **ca_hash, char **user, char **secret,
                       ek_error_t **err)
{
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
    if ((size_t)(end - s) < strlen(TOKEN_PREFIX) || !ek_has_prefix(s, TOKEN_PREFIX)) {
        /* A bare secret: k3s reads it as `K10:::secret`, i.e. no hash and no user. */
        put(ca_hash, NULL, 0, false);
        put(user, NULL, 0, false);
        put(secret, s, (size_t)(end - s), false);
        return 0;
    }
    const char *p = s + strlen(TOKEN_PREFIX), *hash = p, *creds = p;
    size_t hash_len = 0;
    const char *sep = find_sep(p, end);
    if (sep) {
        hash_len = (size_t)(sep - p);
        creds = sep + 2;
    }
    if (hash_len && (hash_len != HASH_HEX_LEN || !all_hex(hash, hash_len))) {
        return ek_error_status(err, 400, "invalid token CA hash");
    }
    const char *colon = memchr(creds, ':', (size_t)(end - creds));
    if (!colon || colon + 1 == end) {
        return ek_error_status(err, 400,
                               "invalid token format: expected K10<hash>::<user>:<secret>");
    }
    put(ca_hash, hash, hash_len, true);
    put(user, creds, (size_t)(colon - creds), false);
    put(secret, colon + 1, (size_t)(end - colon - 1), false);
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
                      "token file `%s` names another cluster CA (hash %.12s…, this CA is "
                      "%.12s…): remove it to create a new token",
                      path, hash, pki->ca_hash);
        return NULL;
    }
    return ek_xasprintf(TOKEN_PREFIX "%s::%s:%s", pki->ca_hash, user ? user : "server", secret);
}

int ek_pki_token_load_or_create(ek_pki_t *pki, const char *path, char **token, ek_error_t **err)
{
    ek_error_t *e = NULL;
    size_t len = 0;
    ek_autofree char *content = ek_file_read(path, TOKEN_FILE_MAX, &len, &e);
    if (!content && e->errnum != ENOENT) {
        ek_error_wrap(&e, "read token");
        if (err && !*err) {
            *err = e;
        } else {
            ek_error_free(e);
        }
        return -1;
    }
    ek_error_free(e);
    if (content && strlen(content) != len) {
        return ek_error_make(err, 0, "token file `%s` contains a NUL byte", path);
    }
    char *t = canonical(pki, content, path, err);
    if (!t) {
        return -1;
    }
    /* Rewritten only when it changes: a plain restart writes nothing. A secret left readable
     * by others is tightened in place. */
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
