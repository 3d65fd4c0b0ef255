/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the certificate controllers decide about a CertificateSigningRequest, without I/O (so
 * the unit tests cover it): its conditions, its decoded request, and the shape each signer
 * accepts — Kubernetes' ValidateKubeletClientCSR and kubelet-serving rules, and edgek's own
 * agent identity (system:edgek-agent:<node>, asked for by that node). Messages are
 * Kubernetes' where it has them.
 */
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

const json_t *csr_condition(const json_t *csr, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (ek_json_path(csr, "status", "conditions", NULL), i, c) {
        if (ek_streq(ek_json_str(c, "type", NULL), type) &&
            !ek_streq(ek_json_str(c, "status", NULL), "False")) {
            return c;
        }
    }
    return NULL;
}

int csr_read(const json_t *csr, ek_pki_csr_info_t *info, char **pem)
{
    const char *req = ek_json_str(csr, "spec", "request", NULL);
    size_t len;
    char *p = req ? ek_base64_decode(req, &len) : NULL;
    if (!p || strlen(p) != len || ek_pki_csr_inspect(p, info, NULL) < 0) {
        free(p);
        return -1;
    }
    if (pem) {
        *pem = p;
    } else {
        free(p);
    }
    return 0;
}

/* The usages, as a sorted space-separated string ("client auth digital signature"). */
static char *usage_set(const json_t *usages)
{
    ek_strlist_t l = { 0 };
    size_t i;
    json_t *u;
    json_array_foreach (usages, i, u) {
        if (json_is_string(u)) {
            ek_strlist_add(&l, json_string_value(u));
        }
    }
    for (size_t a = 1; a < l.n; a++) { /* a handful: insertion sort */
        for (size_t b = a; b > 0 && strcmp(l.v[b - 1], l.v[b]) > 0; b--) {
            char *t = l.v[b];
            l.v[b] = l.v[b - 1];
            l.v[b - 1] = t;
        }
    }
    ek_buf_t out = EK_BUF_INIT;
    for (size_t k = 0; k < l.n; k++) {
        if (k == 0 || strcmp(l.v[k], l.v[k - 1]) != 0) {
            ek_buf_printf(&out, "%s%s", out.len ? " " : "", l.v[k]);
        }
    }
    ek_strlist_free(&l);
    return out.data ? out.data : ek_xstrdup("");
}

static bool usages_are(const json_t *usages, const char *with_key_enc, const char *without)
{
    ek_autofree char *set = usage_set(usages);
    return strcmp(set, with_key_enc) == 0 || strcmp(set, without) == 0;
}

static bool only_org(const ek_pki_csr_info_t *i, const char *org)
{
    return i->orgs.n == 1 && strcmp(i->orgs.v[0], org) == 0;
}

const char *csr_kubelet_client_problem(const ek_pki_csr_info_t *i, const json_t *usages)
{
    if (!only_org(i, "system:nodes")) {
        return "subject organization is not system:nodes";
    }
    if (i->dns.n) {
        return "DNS subjectAltNames are not allowed";
    }
    if (i->ips.n) {
        return "IP subjectAltNames are not allowed";
    }
    if (i->n_other_sans) {
        return "Email and URI subjectAltNames are not allowed";
    }
    if (i->n_cn != 1 || !ek_has_prefix(i->cn, CSR_NODE_PREFIX) || !i->cn[strlen(CSR_NODE_PREFIX)]) {
        return "subject common name does not begin with system:node:";
    }
    if (!usages_are(usages, "client auth digital signature key encipherment",
                    "client auth digital signature")) {
        return "usages did not match [client auth digital signature key encipherment]";
    }
    return NULL;
}

const char *csr_kubelet_serving_problem(const ek_pki_csr_info_t *i, const json_t *usages)
{
    if (!only_org(i, "system:nodes")) {
        return "subject organization is not system:nodes";
    }
    if (i->dns.n + i->ips.n == 0) {
        return "DNS or IP subjectAltName is required";
    }
    if (i->n_other_sans) {
        return "Email and URI subjectAltNames are not allowed";
    }
    if (i->n_cn != 1 || !ek_has_prefix(i->cn, CSR_NODE_PREFIX) || !i->cn[strlen(CSR_NODE_PREFIX)]) {
        return "subject common name does not begin with system:node:";
    }
    if (!usages_are(usages, "digital signature key encipherment server auth",
                    "digital signature server auth")) {
        return "usages did not match [digital signature key encipherment server auth]";
    }
    return NULL;
}

const char *csr_agent_client_problem(const ek_pki_csr_info_t *i, const json_t *usages,
                                     const char *username)
{
    if (!only_org(i, CSR_AGENT_GROUP)) {
        return "subject organization is not " CSR_AGENT_GROUP;
    }
    if (i->dns.n + i->ips.n + i->n_other_sans) {
        return "subjectAltNames are not allowed";
    }
    const char *node = username && ek_has_prefix(username, CSR_NODE_PREFIX)
                           ? username + strlen(CSR_NODE_PREFIX)
                           : NULL;
    if (!node || !*node || i->n_cn != 1 || !ek_has_prefix(i->cn, CSR_AGENT_PREFIX) ||
        strcmp(i->cn + strlen(CSR_AGENT_PREFIX), node) != 0) {
        return "only node <name> may ask for " CSR_AGENT_PREFIX "<name>";
    }
    if (!usages_are(usages, "client auth digital signature key encipherment",
                    "client auth digital signature")) {
        return "usages did not match [client auth digital signature key encipherment]";
    }
    return NULL;
}

/* Each SAN is the node's name or one of its status.addresses. */
bool csr_sans_match_node(const ek_pki_csr_info_t *i, const json_t *node)
{
    const char *name = ek_json_str(node, "metadata", "name", NULL);
    const json_t *addrs = ek_json_path(node, "status", "addresses", NULL);
    const ek_strlist_t *lists[] = { &i->dns, &i->ips };
    for (size_t l = 0; l < 2; l++) {
        for (size_t k = 0; k < lists[l]->n; k++) {
            const char *san = lists[l]->v[k];
            bool ok = l == 0 && ek_streq(san, name);
            size_t j;
            json_t *a;
            json_array_foreach (addrs, j, a) {
                ok = ok || ek_streq(ek_json_str(a, "address", NULL), san);
            }
            if (!ok) {
                return false;
            }
        }
    }
    return true;
}

int64_t csr_duration_s(const json_t *csr)
{
    long long s = ek_json_int(csr, 0, "spec", "expirationSeconds", NULL);
    return s >= 600 ? s : 0; /* below 10 minutes the API refuses it anyway */
}

/* Unix seconds of an RFC 3339 time, or 0. */
static int64_t ts_of(const char *s)
{
    struct timespec ts;
    return s && ek_time_parse_rfc3339(s, &ts) == 0 ? (int64_t)ts.tv_sec : 0;
}

/* When a condition was last set: lastUpdateTime, else lastTransitionTime. */
static int64_t cond_time(const json_t *c)
{
    int64_t t = ts_of(ek_json_str(c, "lastUpdateTime", NULL));
    return t ? t : ts_of(ek_json_str(c, "lastTransitionTime", NULL));
}

/* The NotAfter of the first certificate of a PEM chain, or 0. */
static int64_t cert_not_after(const char *b64)
{
    size_t len;
    ek_autofree char *pem = b64 ? ek_base64_decode(b64, &len) : NULL;
    if (!pem) {
        return 0;
    }
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int64_t t = 0;
    if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, len + 1) >= 0 && crt.version) {
        const mbedtls_x509_time *v = &crt.valid_to;
        struct tm tm = { .tm_year = v->year - 1900,
                         .tm_mon = v->mon - 1,
                         .tm_mday = v->day,
                         .tm_hour = v->hour,
                         .tm_min = v->min,
                         .tm_sec = v->sec };
        t = (int64_t)timegm(&tm);
    }
    mbedtls_x509_crt_free(&crt);
    return t;
}

int64_t csr_cleanup_at(const json_t *csr)
{
    const json_t *c;
    int64_t created = ts_of(ek_json_str(csr, "metadata", "creationTimestamp", NULL));
    const char *cert = ek_json_str(csr, "status", "certificate", NULL);
    if ((c = csr_condition(csr, "Denied")) || (c = csr_condition(csr, "Failed"))) {
        int64_t t = cond_time(c);
        return (t ? t : created) + CSR_DECIDED_TTL_S;
    }
    if ((c = csr_condition(csr, "Approved")) && cert && *cert) {
        int64_t t = cond_time(c);
        int64_t at = (t ? t : created) + CSR_DECIDED_TTL_S;
        int64_t expires = cert_not_after(cert);
        return expires && expires < at ? expires : at;
    }
    if (!c) {
        return created ? created + CSR_PENDING_TTL_S : 0;
    }
    return 0; /* approved, not yet signed: the signer's */
}
