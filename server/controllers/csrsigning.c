/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSR signer, as kube-controller-manager's csrsigning controller: an approved request for
 * one of Kubernetes' signers gets its certificate from the cluster CA in status.certificate
 * (leaf, then the CA). kube-apiserver-client-kubelet and kubelet-serving requests must have
 * the shape Kubernetes requires of them; kube-apiserver-client requests (approved by a person,
 * or edgek's agent identities) keep their subject. The signer, not the request, decides what
 * the certificate holds (ek_pki_sign_csr): a serving certificate gets exactly the names the
 * approver checked. A request the signer refuses is marked Failed (SignerValidationFailure).
 * Validity: spec.expirationSeconds when given, else the PKI's leaf validity (one year).
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

typedef struct signer {
    ctrl_t *c;
    ek_informer_t *csrs;
    ek_pki_t *pki;
} signer_t;

static bool wants_signing(const json_t *csr)
{
    return csr_condition(csr, "Approved") && !csr_condition(csr, "Denied") &&
           !csr_condition(csr, "Failed") && !ek_json_str(csr, "status", "certificate", NULL);
}

/* The usages a client certificate may ask for: client auth, with signing and key use. */
static const char *client_usage_problem(const json_t *usages)
{
    bool client = false;
    size_t i;
    json_t *u;
    json_array_foreach (usages, i, u) {
        const char *s = json_string_value(u);
        if (ek_streq(s, "client auth")) {
            client = true;
        } else if (!ek_streq(s, "digital signature") && !ek_streq(s, "key encipherment")) {
            return "usages may only be client auth, digital signature and key encipherment";
        }
    }
    return client ? NULL : "usages must include client auth";
}

#define MAX_SANS 64

/* Fills pol for the CSR's signer; returns why it cannot be signed, or NULL. *ours = false for
 * signers this controller does not serve (left alone). sans: room for MAX_SANS names. */
static const char *policy_for(const json_t *csr, const ek_pki_csr_info_t *info,
                              ek_pki_csr_policy_t *pol, const char **sans, bool *ours)
{
    const char *signer = ek_json_str(csr, "spec", "signerName", NULL);
    const json_t *usages = ek_json_path(csr, "spec", "usages", NULL);
    *ours = true;
    pol->orgs = (const char *const *)info->orgs.v;
    pol->n_orgs = info->orgs.n;
    pol->seconds = csr_duration_s(csr);
    if (ek_streq(signer, SIGNER_KUBELET_CLIENT)) {
        pol->cn = info->cn;
        return csr_kubelet_client_problem(info, usages);
    }
    if (ek_streq(signer, SIGNER_KUBELET_SERVING)) {
        size_t n = 0;
        for (size_t i = 0; i < info->dns.n && n < MAX_SANS; i++) {
            sans[n++] = info->dns.v[i];
        }
        for (size_t i = 0; i < info->ips.n && n < MAX_SANS; i++) {
            sans[n++] = info->ips.v[i];
        }
        pol->cn = info->cn;
        pol->server = true;
        pol->sans = sans;
        pol->n_sans = n;
        return csr_kubelet_serving_problem(info, usages);
    }
    if (ek_streq(signer, SIGNER_APISERVER_CLIENT)) {
        if (info->n_other_sans || info->dns.n || info->ips.n) {
            return "subjectAltNames are not allowed in client certificates";
        }
        return client_usage_problem(usages);
    }
    *ours = false;
    return NULL;
}

static void mark_failed(signer_t *s, pending_t *p, const json_t *csr, const char *why)
{
    ek_auto(json_t) copy = json_deep_copy(csr);
    json_t *st = ek_json_obj_ensure(copy, "status");
    json_t *conds = json_object_get(st, "conditions");
    if (!json_is_array(conds)) {
        conds = json_array();
        json_object_set_new(st, "conditions", conds);
    }
    char ts[21];
    ek_time_rfc3339(time(NULL), ts);
    json_array_append_new(conds, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "Failed", "status",
                                           "True", "reason", "SignerValidationFailure", "message",
                                           why, "lastUpdateTime", ts, "lastTransitionTime", ts));
    EK_LOG(EK_WARN, "controllers", "csr not signed name=%s err=\"%s\"",
           ek_json_str(csr, "metadata", "name", NULL), why);
    pending_add(p);
    ek_api_update(ctrl_manager(s->c)->client,
                  res_of("certificates.k8s.io", "v1", "certificatesigningrequests"), NULL, copy,
                  EK_SUB_STATUS, pending_call_done, p);
}

static void store_certificate(signer_t *s, pending_t *p, const json_t *csr, const char *cert)
{
    ek_auto(json_t) copy = json_deep_copy(csr);
    ek_autofree char *b64 = ek_base64_encode(cert, strlen(cert));
    ek_json_set_str(ek_json_obj_ensure(copy, "status"), "certificate", b64);
    EK_LOG(EK_INFO, "controllers", "csr signed name=%s signer=%s",
           ek_json_str(csr, "metadata", "name", NULL),
           ek_json_str(csr, "spec", "signerName", NULL));
    pending_add(p);
    ek_api_update(ctrl_manager(s->c)->client,
                  res_of("certificates.k8s.io", "v1", "certificatesigningrequests"), NULL, copy,
                  EK_SUB_STATUS, pending_call_done, p);
}

static void sign(signer_t *s, pending_t *p, const json_t *csr)
{
    ek_pki_csr_info_t info;
    ek_autofree char *pem = NULL;
    if (csr_read(csr, &info, &pem) < 0) {
        mark_failed(s, p, csr, "the request is not a valid PEM certificate request");
        return;
    }
    ek_pki_csr_policy_t pol = { 0 };
    const char *sans[MAX_SANS];
    bool ours;
    const char *problem = policy_for(csr, &info, &pol, sans, &ours);
    if (!ours) {
        ek_pki_csr_info_clear(&info);
        return;
    }
    ek_autofree char *cert = NULL;
    ek_error_t *err = NULL;
    if (problem) {
        mark_failed(s, p, csr, problem);
    } else if (ek_pki_sign_csr(s->pki, pem, &pol, &cert, &err) < 0) {
        mark_failed(s, p, csr, ek_error_msg(err));
        ek_error_free(err);
    } else {
        store_certificate(s, p, csr, cert);
    }
    ek_pki_csr_info_clear(&info);
}

static void sync_csr(ctrl_t *c, const char *key, void *data)
{
    signer_t *s = data;
    json_t *csr = ek_informer_get(s->csrs, NULL, key);
    if (!csr || !wants_signing(csr)) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    pending_t *p = pending_new(c, key);
    sign(s, p, csr);
    pending_arm(p);
}

static void on_csr(json_t *csr, void *data)
{
    signer_t *s = data;
    if (wants_signing(csr)) {
        ctrl_enqueue_obj(s->c, csr);
    }
}

static void on_csr_update(json_t *old, json_t *csr, void *data)
{
    EK_UNUSED(old);
    on_csr(csr, data);
}

void csrsigning_controller_start(ctrl_manager_t *m)
{
    if (!m->opts.pki) {
        EK_LOG(EK_WARN, "controllers", "no cluster CA given: certificate requests stay unsigned");
        return;
    }
    signer_t *s = ek_new(signer_t);
    s->pki = m->opts.pki;
    s->csrs = mgr_informer(m, "certificates.k8s.io", "v1", "certificatesigningrequests");
    s->c = ctrl_new(m, "csrsigning", sync_csr, s, 1);
    static const ek_informer_handlers_t h = { .on_add = on_csr, .on_update = on_csr_update };
    ek_informer_add_handlers(s->csrs, &h, s);
    mgr_own(m, s, free);
}
