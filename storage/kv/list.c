/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lists: a walk of the in-memory index from the prefix (or from after the continue token's
 * key), taking each key's value as of the list's revision. Pages of one list all read the
 * same revision, so a paginated list is one consistent snapshot while writers keep going,
 * until compaction drops that revision (410).
 *
 * The continue token is base64url("ek1:<rev>:<last key>"): opaque to clients, and decoded
 * strictly, because it comes back from the network.
 */
#include <errno.h>
#include <stdio.h>

#include "storage/kv/kv-internal.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url_encode(const unsigned char *in, size_t len)
{
    char *out = ek_xmalloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < len) {
            out[o++] = b64[(v >> 6) & 63];
        }
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

/* Decodes unpadded base64url; NULL on any character or length that cannot occur. */
static unsigned char *b64url_decode(const char *in, size_t len, size_t *out_len)
{
    if (len % 4 == 1) {
        return NULL;
    }
    unsigned char *out = ek_xmalloc(len / 4 * 3 + 3);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Leftover bits must be zero, or two tokens would decode to the same bytes. */
    if (acc != 0) {
        free(out);
        return NULL;
    }
    *out_len = o;
    return out;
}

char *ek__kv_cont_encode(int64_t rev, const char *key)
{
    ek_autofree char *raw = ek_xasprintf("ek1:%lld:%s", (long long)rev, key);
    return b64url_encode((const unsigned char *)raw, strlen(raw));
}

static int bad_token(ek_error_t **err, const char *why)
{
    return ek_error_status(err, 400, "invalid continue token: %s", why);
}

int ek__kv_cont_decode(const char *tok, int64_t *rev, char **key, ek_error_t **err)
{
    size_t len = strnlen(tok, 4 * (EK__KV_MAX_KEY + 32) / 3 + 1);
    if (len == 0 || len > 4 * (EK__KV_MAX_KEY + 32) / 3) {
        return bad_token(err, "bad length");
    }
    size_t n = 0;
    ek_autofree unsigned char *raw = b64url_decode(tok, len, &n);
    if (!raw) {
        return bad_token(err, "not base64url");
    }
    if (n < 7 || memcmp(raw, "ek1:", 4) != 0) {
        return bad_token(err, "unknown format");
    }
    size_t i = 4;
    int64_t r = 0;
    for (; i < n && raw[i] >= '0' && raw[i] <= '9'; i++) {
        if (i - 4 >= 18) {
            return bad_token(err, "revision out of range");
        }
        r = r * 10 + (raw[i] - '0');
    }
    if (i == 4 || raw[4] == '0' || i >= n || raw[i] != ':') {
        return bad_token(err, "bad revision");
    }
    size_t klen = n - i - 1;
    if (klen == 0 || klen > EK__KV_MAX_KEY || memchr(raw + i + 1, '\0', klen)) {
        return bad_token(err, "bad key");
    }
    *rev = r;
    *key = ek_xstrndup((const char *)raw + i + 1, klen);
    return 0;
}

/* Where the list starts and at which revision; fails 400, 410 or 504. */
static int list_start(ek_kv_t *kv, const char *prefix, const char *cont, int64_t at_rev,
                      int64_t *rev, char **after, ek_error_t **err)
{
    *rev = at_rev;
    if (cont && *cont) {
        if (ek__kv_cont_decode(cont, rev, after, err) < 0) {
            return -1;
        }
        if (!*after || !ek_has_prefix(*after, prefix)) {
            return bad_token(err, "it belongs to another list");
        }
    }
    if (*rev < 0) {
        return ek_error_status(err, 400, "invalid revision %lld", (long long)*rev);
    }
    if (*rev == 0) {
        *rev = kv->rev;
    }
    if (*rev < kv->compacted_rev) {
        return ek_error_status(err, 410, "revision %lld has been compacted (oldest is %lld)",
                               (long long)*rev, (long long)kv->compacted_rev);
    }
    if (*rev > kv->rev) {
        return ek_error_status(err, 504, "revision %lld is newer than the store's %lld",
                               (long long)*rev, (long long)kv->rev);
    }
    return 0;
}

int ek_kv_list(ek_kv_t *kv, const char *prefix, const char *cont, size_t limit, int64_t at_rev,
               ek_kv_list_result_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    prefix = prefix ? prefix : "";
    int64_t rev;
    ek_autofree char *after = NULL;
    if (list_start(kv, prefix, cont, at_rev, &rev, &after, err) < 0) {
        return -1;
    }
    size_t plen = strlen(prefix), cap = limit && limit < 256 ? limit : 256;
    out->entries = ek_xmalloc(cap * sizeof(*out->entries));
    out->rev = rev;
    ek__kv_node_t *n = after ? ek__kv_index_seek(&kv->index, after, true)
                             : ek__kv_index_seek(&kv->index, prefix, false);
    for (; n && strncmp(n->key, prefix, plen) == 0; n = n->next[0]) {
        const ek_kv_entry_t *e = ek__kv_node_at(n, rev);
        if (!e) {
            continue;
        }
        if (limit && out->n == limit) {
            out->remaining++;
            continue;
        }
        if (out->n == cap) {
            cap *= 2;
            out->entries = ek_xrealloc(out->entries, cap * sizeof(*out->entries));
        }
        out->entries[out->n++] = ek_kv_entry_ref(e);
    }
    if (out->remaining) {
        out->next_cont = ek__kv_cont_encode(rev, out->entries[out->n - 1]->key);
    }
    return 0;
}

void ek_kv_list_result_free(ek_kv_list_result_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        ek_kv_entry_unref(r->entries[i]);
    }
    free(r->entries);
    free(r->next_cont);
    memset(r, 0, sizeof(*r));
}
