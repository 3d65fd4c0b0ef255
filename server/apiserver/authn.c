/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authentication: a client certificate signed by the cluster CA (user = CN, groups = O), or a
 * bearer token — a service-account JWT signed by the server's key (checked against the
 * ServiceAccount it names, so deleting the account revokes its tokens), or a join token: the
 * server token (<data-dir>/server/token, its secret alone, `server:<secret>` or the whole K10
 * form) or a bootstrap token stored as a kube-system Secret `bootstrap-token-<id>`, as
 * Kubernetes' bootstrap token authenticator reads them. Join tokens make a user
 * system:bootstrap:<id> in system:bootstrappers, who may only ask for a node certificate. No
 * anonymous access: anything else is 401 (only /cacerts is served before this, server.c).
 */
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

#define BOOTSTRAP_USER_PREFIX   "system:bootstrap:"
#define BOOTSTRAP_GROUP         "system:bootstrappers"
#define BOOTSTRAP_TOKEN_NS      "kube-system"
#define BOOTSTRAP_TOKEN_TYPE    "bootstrap.kubernetes.io/token"
#define BOOTSTRAP_SECRET_PREFIX "bootstrap-token-"

static void send_unauthorized(apireq_t *r)
{
    ek_auto(json_t) st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion",
                                   "v1", "metadata", "status", "Failure", "message", "Unauthorized",
                                   "reason", "Unauthorized", "code", 401);
    apireq_respond_json(r, 401, st);
}

/* Validates a service-account token; fills u. */
static int sa_token_user(ek_apiserver_t *s, const char *token, user_t *u, ek_error_t **err)
{
    json_t *claims = NULL;
    if (ek_jwt_verify(s->pki, token, time(NULL), &claims, err) < 0) {
        return -1;
    }
    const char *sub = ek_json_str(claims, "sub", NULL);
    const char *ns = ek_json_str(claims, "kubernetes.io", "namespace", NULL);
    const char *name = ek_json_str(claims, "kubernetes.io", "serviceaccount", "name", NULL);
    const char *uid = ek_json_str(claims, "kubernetes.io", "serviceaccount", "uid", NULL);
    if (!sub || !ns || !name) {
        json_decref(claims);
        return ek_error_status(err, 401, "token has no service account");
    }
    obj_t *sa = store_get(&s->store, ek_resource_find("", "v1", "serviceaccounts"), ns, name);
    const char *have = sa ? ek_json_str(sa->json, "metadata", "uid", NULL) : NULL;
    if (!sa || (uid && (!have || strcmp(uid, have) != 0))) {
        json_decref(claims);
        return ek_error_status(err, 401, "service account %s/%s has been deleted", ns, name);
    }
    const char *pod = ek_json_str(claims, "kubernetes.io", "pod", "name", NULL);
    const char *pod_uid = ek_json_str(claims, "kubernetes.io", "pod", "uid", NULL);
    if (pod) {
        obj_t *p = store_get(&s->store, ek_resource_find("", "v1", "pods"), ns, pod);
        const char *puid = p ? ek_json_str(p->json, "metadata", "uid", NULL) : NULL;
        if (!p || (pod_uid && (!puid || strcmp(pod_uid, puid) != 0))) {
            json_decref(claims);
            return ek_error_status(err, 401, "pod %s/%s bound to the token is gone", ns, pod);
        }
    }
    u->name = ek_xstrdup(sub);
    u->uid = uid ? ek_xstrdup(uid) : NULL;
    ek_strlist_add(&u->groups, "system:serviceaccounts");
    char g[300];
    snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
    ek_strlist_add(&u->groups, g);
    ek_strlist_add(&u->groups, "system:authenticated");
    json_decref(claims);
    return 0;
}

/* Equal strings, in time that depends only on their lengths. */
static bool secret_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b)) {
        return false;
    }
    unsigned char diff = 0;
    for (size_t i = 0; i < n; i++) {
        diff |= (unsigned char)(a[i] ^ b[i]);
    }
    return diff == 0;
}

char *secret_data(const json_t *secret, const char *key)
{
    const char *v = ek_json_str(secret, "data", key, NULL);
    size_t len;
    char *d = v ? ek_base64_decode(v, &len) : NULL;
    if (d && strlen(d) != len) {
        free(d);
        return NULL;
    }
    return d;
}

/* Checks a bootstrap token `<id>.<secret>` against its Secret, as the bootstrap token
 * authenticator does: type, secret, usage-bootstrap-authentication and expiration. */
static int bootstrap_token_user(ek_apiserver_t *s, const ek_join_token_t *t, user_t *u,
                                ek_error_t **err)
{
    char name[64];
    snprintf(name, sizeof(name), BOOTSTRAP_SECRET_PREFIX "%s", t->bootstrap_id);
    obj_t *o =
        store_get(&s->store, ek_resource_find("", "v1", "secrets"), BOOTSTRAP_TOKEN_NS, name);
    const json_t *sec = o ? o->json : NULL;
    if (!sec || !ek_streq(ek_json_str(sec, "type", NULL), BOOTSTRAP_TOKEN_TYPE) ||
        ek_json_str(sec, "metadata", "deletionTimestamp", NULL)) {
        return ek_error_status(err, 401, "no bootstrap token with id %s", t->bootstrap_id);
    }
    ek_autofree char *want = secret_data(sec, "token-secret");
    ek_autofree char *usage = secret_data(sec, "usage-bootstrap-authentication");
    ek_autofree char *exp = secret_data(sec, "expiration");
    ek_autofree char *extra = secret_data(sec, "auth-extra-groups");
    const char *given = t->secret + EK_BOOTSTRAP_ID_LEN + 1;
    if (!want || !secret_equal(want, given)) {
        return ek_error_status(err, 401, "bootstrap token %s: wrong secret", t->bootstrap_id);
    }
    if (!ek_streq(usage, "true")) {
        return ek_error_status(err, 401, "bootstrap token %s is not for authentication",
                               t->bootstrap_id);
    }
    struct timespec ts;
    if (exp && (ek_time_parse_rfc3339(exp, &ts) < 0 || ts.tv_sec <= time(NULL))) {
        return ek_error_status(err, 401, "bootstrap token %s has expired", t->bootstrap_id);
    }
    u->name = ek_xasprintf(BOOTSTRAP_USER_PREFIX "%s", t->bootstrap_id);
    ek_strlist_add(&u->groups, BOOTSTRAP_GROUP);
    /* Extra groups must stay inside system:bootstrappers:, as Kubernetes validates them. */
    char *save = NULL;
    for (char *g = extra ? strtok_r(extra, ",", &save) : NULL; g; g = strtok_r(NULL, ",", &save)) {
        if (ek_has_prefix(g, BOOTSTRAP_GROUP ":") && !user_in_group(u, g)) {
            ek_strlist_add(&u->groups, g);
        }
    }
    ek_strlist_add(&u->groups, "system:authenticated");
    return 0;
}

/* The server token: its secret alone, `<user>:<secret>` or the K10 form naming its user. */
static bool server_token_matches(ek_apiserver_t *s, const ek_join_token_t *t)
{
    if (t->user) {
        return ek_streq(t->user, s->join_user) && secret_equal(t->secret, s->join_secret);
    }
    if (secret_equal(t->secret, s->join_secret)) {
        return true;
    }
    const char *colon = strchr(t->secret, ':');
    return colon && strlen(s->join_user) == (size_t)(colon - t->secret) &&
           strncmp(t->secret, s->join_user, (size_t)(colon - t->secret)) == 0 &&
           secret_equal(colon + 1, s->join_secret);
}

/* A join token as a bearer token. 1 = it was one and u is filled, 0 = not a join token,
 * -1 = a join token that does not authenticate. */
static int join_token_user(ek_apiserver_t *s, const char *token, user_t *u, ek_error_t **err)
{
    ek_join_token_t t;
    if (ek_join_token_parse(token, &t, NULL) < 0) {
        return 0;
    }
    int rc = 0;
    if (t.ca_hash && !ek_streq(t.ca_hash, ek_pki_ca_hash(s->pki))) {
        rc = ek_error_status(err, 401, "the token names another cluster CA");
    } else if (t.bootstrap_id) {
        rc = bootstrap_token_user(s, &t, u, err) < 0 ? -1 : 1;
    } else if (s->join_secret && server_token_matches(s, &t)) {
        u->name = ek_xstrdup(BOOTSTRAP_USER_PREFIX "server");
        ek_strlist_add(&u->groups, BOOTSTRAP_GROUP);
        ek_strlist_add(&u->groups, EK_DEFAULT_NODE_TOKEN_GROUP);
        ek_strlist_add(&u->groups, "system:authenticated");
        rc = 1;
    }
    ek_join_token_clear(&t);
    return rc;
}

/* Any bearer token: a join token, else a service-account JWT. */
static int bearer_user(ek_apiserver_t *s, const char *token, user_t *u, ek_error_t **err)
{
    int rc = join_token_user(s, token, u, err);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    return sa_token_user(s, token, u, err);
}

bool authn_request(apireq_t *r, const ek_tls_peer_t *peer)
{
    if (peer && peer->common_name) {
        r->user.name = ek_xstrdup(peer->common_name);
        for (size_t i = 0; i < peer->n_organizations; i++) {
            ek_strlist_add(&r->user.groups, peer->organizations[i]);
        }
        ek_strlist_add(&r->user.groups, "system:authenticated");
        return true;
    }
    const char *auth = apireq_header(r, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        const char *token = auth + 7;
        while (*token == ' ') {
            token++;
        }
        ek_error_t *err = NULL;
        if (bearer_user(r->srv, token, &r->user, &err) == 0) {
            return true;
        }
        EK_LOG(EK_DEBUG, "apiserver", "bearer token rejected err=\"%s\"", ek_error_msg(err));
        ek_error_free(err);
        user_clear(&r->user);
    }
    send_unauthorized(r);
    return false;
}

/* POST authentication.k8s.io/v1 TokenReview */
void token_review(apireq_t *r, json_t *review)
{
    const char *token = ek_json_str(review, "spec", "token", NULL);
    user_t u = { 0 };
    ek_error_t *err = NULL;
    json_t *status;
    if (token && bearer_user(r->srv, token, &u, &err) == 0) {
        json_t *groups = json_array();
        for (size_t i = 0; i < u.groups.n; i++) {
            json_array_append_new(groups, json_string(u.groups.v[i]));
        }
        status = json_pack("{s:b,s:{s:s,s:s,s:o}}", "authenticated", 1, "user", "username", u.name,
                           "uid", u.uid ? u.uid : "", "groups", groups);
    } else {
        status = json_pack("{s:b,s:s}", "authenticated", 0, "error",
                           err ? ek_error_msg(err) : "no token");
    }
    ek_error_free(err);
    user_clear(&u);
    json_object_set_new(review, "status", status);
    apireq_respond_json(r, 201, review);
}

/* POST serviceaccounts/NAME/token (TokenRequest): a signed JWT for the account. */
void handle_token_request(apireq_t *r)
{
    ek_apiserver_t *s = r->srv;
    obj_t *sa = store_get(&s->store, r->rt.res, r->rt.ns, r->rt.name);
    if (!sa) {
        send_not_found(r, r->rt.res, r->rt.name);
        return;
    }
    ek_error_t *err = NULL;
    ek_auto(json_t) tr = r->body_len ? decode_body(r, NULL, &err) : json_object();
    if (!tr) {
        send_error(r, r->rt.res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    if (admission_token_request(r, tr) < 0) {
        return;
    }
    long long exp = ek_json_int(tr, 3600, "spec", "expirationSeconds", NULL);
    if (exp < 600) {
        ek_field_errors_t errs = { 0 };
        ek_field_errors_add(&errs, "FieldValueInvalid", "spec.expirationSeconds",
                            json_object_get(json_object_get(tr, "spec"), "expirationSeconds"),
                            "may not specify a duration less than 10 minutes");
        send_invalid(r, ek_resource_find("", "v1", "serviceaccounts"), r->rt.name, &errs);
        ek_field_errors_free(&errs);
        return;
    }
    time_t now = time(NULL);
    json_t *aud = json_object_get(json_object_get(tr, "spec"), "audiences");
    if (!json_array_size(aud)) {
        aud = NULL;
    }
    char sub[512];
    snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", r->rt.ns, r->rt.name);
    json_t *k8s =
        json_pack("{s:s,s:{s:s,s:s}}", "namespace", r->rt.ns, "serviceaccount", "name", r->rt.name,
                  "uid", ek_json_str(sa->json, "metadata", "uid", NULL) ?: "");
    const char *bkind = ek_json_str(tr, "spec", "boundObjectRef", "kind", NULL);
    if (bkind && strcmp(bkind, "Pod") == 0) {
        json_object_set_new(
            k8s, "pod",
            json_pack("{s:s,s:s}", "name",
                      ek_json_str(tr, "spec", "boundObjectRef", "name", NULL) ?: "", "uid",
                      ek_json_str(tr, "spec", "boundObjectRef", "uid", NULL) ?: ""));
    }
    json_t *audv =
        aud ? json_incref(aud) : json_pack("[s]", "https://kubernetes.default.svc.cluster.local");
    ek_auto(json_t) claims = json_pack("{s:s,s:s,s:o,s:I,s:I,s:I,s:o}", "iss",
                                       "https://kubernetes.default.svc.cluster.local", "sub", sub,
                                       "aud", audv, "iat", (json_int_t)now, "nbf", (json_int_t)now,
                                       "exp", (json_int_t)(now + exp), "kubernetes.io", k8s);
    ek_autofree char *token = NULL;
    if (ek_jwt_sign(s->pki, claims, &token, &err) < 0) {
        send_error(r, r->rt.res, r->rt.name, err);
        ek_error_free(err);
        return;
    }
    char ts[21];
    json_object_set_new(tr, "status",
                        json_pack("{s:s,s:s}", "token", token, "expirationTimestamp",
                                  ek_time_rfc3339(now + exp, ts)));
    ek_json_set_str(tr, "kind", "TokenRequest");
    ek_json_set_str(tr, "apiVersion", "authentication.k8s.io/v1");
    json_t *md = ek_json_obj_ensure(tr, "metadata");
    ek_json_set_str(md, "name", r->rt.name);
    ek_json_set_str(md, "namespace", r->rt.ns);
    json_object_set_new(ek_json_obj_ensure(tr, "spec"), "expirationSeconds", json_integer(exp));
    apireq_respond_json(r, 201, tr);
}
