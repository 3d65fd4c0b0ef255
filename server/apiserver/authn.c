/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Authentication: a client certificate signed by the cluster CA (user = CN, groups = O), or a
 * bearer token — a service-account JWT signed by the server's key (checked against the
 * ServiceAccount it names, so deleting the account revokes its tokens). No anonymous access:
 * anything else is 401.
 */
#include <stdio.h>
#include <time.h>

#include "server/apiserver/apiserver-internal.h"

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
        if (sa_token_user(r->srv, token, &r->user, &err) == 0) {
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
    if (token && sa_token_user(r->srv, token, &u, &err) == 0) {
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
