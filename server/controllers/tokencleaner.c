/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bootstrap token cleaner, as kube-controller-manager's tokencleaner: a join token made by
 * `edgek token create --ttl` (a kube-system Secret of type bootstrap.kubernetes.io/token) is
 * deleted once its expiration has passed. Authentication refuses an expired token on its own;
 * this only keeps `edgek token list` and the namespace tidy. Each token syncs again at its
 * expiry, so nothing polls.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

#define TOKEN_NS   "kube-system"
#define TOKEN_TYPE "bootstrap.kubernetes.io/token"

typedef struct cleaner {
    ctrl_t *c;
    ek_informer_t *secrets;
} cleaner_t;

/* Unix seconds of data.expiration, or 0 when the token does not expire (or says nonsense). */
static int64_t expiry(const json_t *secret)
{
    const char *b64 = ek_json_str(secret, "data", "expiration", NULL);
    size_t len;
    ek_autofree char *s = b64 ? ek_base64_decode(b64, &len) : NULL;
    struct timespec ts;
    return s && ek_time_parse_rfc3339(s, &ts) == 0 ? (int64_t)ts.tv_sec : 0;
}

static void sync_token(ctrl_t *c, const char *key, void *data)
{
    cleaner_t *t = data;
    ek_autofree char *ns = NULL, *name = NULL;
    key_split(key, &ns, &name);
    json_t *secret = ek_informer_get(t->secrets, ns, name);
    int64_t exp = secret ? expiry(secret) : 0;
    int64_t now = time(NULL);
    if (!exp) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    if (exp > now) {
        ctrl_done(c, key, (int)EK_MIN((exp - now) * 1000 + 500, 24 * 3600 * 1000));
        return;
    }
    EK_LOG(EK_INFO, "controllers", "deleting expired bootstrap token secret=%s", name);
    delete_seen_object(c, key, res_of("", "v1", "secrets"), ns, secret);
}

static void on_secret(json_t *secret, void *data)
{
    cleaner_t *t = data;
    ctrl_enqueue_obj(t->c, secret);
}

static void on_secret_update(json_t *old, json_t *secret, void *data)
{
    EK_UNUSED(old);
    on_secret(secret, data);
}

void tokencleaner_controller_start(ctrl_manager_t *m)
{
    cleaner_t *t = ek_new(cleaner_t);
    /* Only kube-system's bootstrap tokens: a selective informer of its own, not the shared
     * cache of every Secret. The manager starts, waits for and frees it with the others. */
    t->secrets = ek_informer_new(m->client, res_of("", "v1", "secrets"), TOKEN_NS, NULL,
                                 "type=" TOKEN_TYPE, 30 * 60 * 1000);
    ek_map_put(&m->informers, "tokencleaner/kube-system/secrets", t->secrets);
    t->c = ctrl_new(m, "tokencleaner", sync_token, t, 1);
    static const ek_informer_handlers_t h = { .on_add = on_secret, .on_update = on_secret_update };
    ek_informer_add_handlers(t->secrets, &h, t);
    mgr_own(m, t, free);
}
