/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a certificate signing request the way an approver needs it: the subject (CN, O and
 * whether anything else is there), the subject alternative names it asks for (DNS names and
 * IP addresses; anything else is only counted) and its key type. mbedtls 2.28 parses a CSR's
 * subject and key but not its attributes, so the extensionRequest attribute is walked here
 * with mbedtls' ASN.1 reader. Nothing is trusted from this: the signer decides what a
 * certificate holds (ek_pki_sign_csr).
 */
#include <arpa/inet.h>
#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_csr.h>

#include "server/auth/auth-internal.h"

#define MAX_NAMES 64

void ek_pki_csr_info_clear(ek_pki_csr_info_t *i)
{
    free(i->cn);
    ek_strlist_free(&i->orgs);
    ek_strlist_free(&i->dns);
    ek_strlist_free(&i->ips);
    memset(i, 0, sizeof(*i));
}

static int read_subject(const mbedtls_x509_name *name, ek_pki_csr_info_t *out)
{
    for (const mbedtls_x509_name *n = name; n && n->oid.p; n = n->next) {
        if (memchr(n->val.p, 0, n->val.len)) {
            return -1;
        }
        ek_autofree char *v = ek_xstrndup((const char *)n->val.p, n->val.len);
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            if (out->n_cn++ == 0) {
                out->cn = ek_steal(&v);
            }
        } else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0) {
            if (out->orgs.n == MAX_NAMES) {
                return -1;
            }
            ek_strlist_add(&out->orgs, v);
        } else {
            out->n_other_subject++;
        }
    }
    return 0;
}

/* One GeneralName of a SAN extension. */
static int read_general_name(unsigned char tag, const unsigned char *v, size_t len,
                             ek_pki_csr_info_t *out)
{
    if (out->dns.n + out->ips.n + out->n_other_sans >= MAX_NAMES) {
        return -1;
    }
    if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) { /* dNSName */
        if (memchr(v, 0, len)) {
            return -1;
        }
        ek_autofree char *s = ek_xstrndup((const char *)v, len);
        ek_strlist_add(&out->dns, s);
        return 0;
    }
    if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && (len == 4 || len == 16)) { /* iPAddress */
        char s[INET6_ADDRSTRLEN];
        inet_ntop(len == 4 ? AF_INET : AF_INET6, v, s, sizeof(s));
        ek_strlist_add(&out->ips, s);
        return 0;
    }
    out->n_other_sans++; /* email, URI, otherName, ... */
    return 0;
}

static int read_sans(unsigned char *p, const unsigned char *end, ek_pki_csr_info_t *out)
{
    size_t len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) {
        return -1;
    }
    const unsigned char *seq_end = p + len;
    while (p < seq_end) {
        unsigned char tag = *p++;
        if (mbedtls_asn1_get_len(&p, seq_end, &len) || read_general_name(tag, p, len, out) < 0) {
            return -1;
        }
        p += len;
    }
    return 0;
}

/* Extensions ::= SEQUENCE OF Extension; only subjectAltName is read. */
static int read_extensions(unsigned char *p, const unsigned char *end, ek_pki_csr_info_t *out)
{
    size_t len;
    const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    if (mbedtls_asn1_get_tag(&p, end, &len, seq)) {
        return -1;
    }
    const unsigned char *exts_end = p + len;
    while (p < exts_end) {
        if (mbedtls_asn1_get_tag(&p, exts_end, &len, seq)) {
            return -1;
        }
        const unsigned char *ext_end = p + len;
        mbedtls_x509_buf oid = { .tag = MBEDTLS_ASN1_OID };
        int critical = 0;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID)) {
            return -1;
        }
        oid.p = p;
        p += oid.len;
        if (p < ext_end && *p == MBEDTLS_ASN1_BOOLEAN &&
            mbedtls_asn1_get_bool(&p, ext_end, &critical)) {
            return -1;
        }
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING)) {
            return -1;
        }
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) == 0 &&
            read_sans(p, p + len, out) < 0) {
            return -1;
        }
        p = (unsigned char *)ext_end;
    }
    return 0;
}

/*
 * CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo,
 *     attributes [0] IMPLICIT SET OF Attribute }, Attribute ::= SEQUENCE { type, SET OF value }.
 */
static int read_attributes(const mbedtls_x509_buf *cri, ek_pki_csr_info_t *out)
{
    unsigned char *p = cri->p;
    const unsigned char *end = cri->p + cri->len;
    size_t len;
    const int seq = MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE;
    if (mbedtls_asn1_get_tag(&p, end, &len, seq)) {
        return -1;
    }
    end = p + len;
    /* version, subject and the key: already parsed by mbedtls, skipped here. */
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_INTEGER)) {
        return -1;
    }
    p += len;
    for (int i = 0; i < 2; i++) {
        if (mbedtls_asn1_get_tag(&p, end, &len, seq)) {
            return -1;
        }
        p += len;
    }
    if (p == end) {
        return 0;
    }
    if (mbedtls_asn1_get_tag(&p, end, &len,
                             MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 0)) {
        return -1;
    }
    const unsigned char *attrs_end = p + len;
    while (p < attrs_end) {
        if (mbedtls_asn1_get_tag(&p, attrs_end, &len, seq)) {
            return -1;
        }
        const unsigned char *attr_end = p + len;
        mbedtls_x509_buf oid = { .tag = MBEDTLS_ASN1_OID };
        if (mbedtls_asn1_get_tag(&p, attr_end, &oid.len, MBEDTLS_ASN1_OID)) {
            return -1;
        }
        oid.p = p;
        p += oid.len;
        if (mbedtls_asn1_get_tag(&p, attr_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SET)) {
            return -1;
        }
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS9_CSR_EXT_REQ, &oid) == 0 &&
            read_extensions(p, p + len, out) < 0) {
            return -1;
        }
        p = (unsigned char *)attr_end;
    }
    return 0;
}

int ek_pki_csr_inspect(const char *pem, ek_pki_csr_info_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    mbedtls_x509_csr csr;
    mbedtls_x509_csr_init(&csr);
    int rc = mbedtls_x509_csr_parse(&csr, (const unsigned char *)pem, strlen(pem) + 1);
    if (rc) {
        mbedtls_x509_csr_free(&csr);
        char msg[128];
        mbedtls_strerror(rc, msg, sizeof(msg));
        return ek_error_status(err, 400, "malformed certificate signing request: %s", msg);
    }
    out->key_type = mbedtls_pk_get_type(&csr.pk) == MBEDTLS_PK_ECKEY ? "ecdsa"
                    : mbedtls_pk_get_type(&csr.pk) == MBEDTLS_PK_RSA ? "rsa"
                                                                     : "other";
    rc = read_subject(&csr.subject, out);
    if (rc == 0) {
        rc = read_attributes(&csr.cri, out);
    }
    mbedtls_x509_csr_free(&csr);
    if (rc < 0) {
        ek_pki_csr_info_clear(out);
        (void)ek_error_status(err, 400, "malformed certificate signing request: bad attributes");
        return -1;
    }
    return 0;
}
