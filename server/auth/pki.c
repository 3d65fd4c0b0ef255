/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster PKI: the CA, the API server's serving certificate, the admin client
 * certificate and the service-account signing key, kept in <data-dir>/server/tls; plus
 * issuing client certificates, signing CSRs for joining nodes and writing the admin
 * kubeconfig. Everything is mbedtls 2.28 and ECDSA P-256.
 *
 * Start-up must be fast and must not write to an SD card for nothing, so loading inspects
 * what is on disk and only (re)issues a certificate that is missing, broken, no longer signed
 * by the CA, near expiry or describing the wrong identity. mbedtls 2.28 lacks writers for
 * subjectAltName with IP addresses and for extendedKeyUsage, and merges repeated O= values,
 * so those parts of a certificate are encoded here.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_csr.h>

#include "server/auth/auth-internal.h"

#define COMP "pki"

#define CA_CRT    "server-ca.crt"
#define CA_KEY    "server-ca.key"
#define SERVE_CRT "serving.crt"
#define SERVE_KEY "serving.key"
#define ADMIN_CRT "client-admin.crt"
#define ADMIN_KEY "client-admin.key"
#define SA_KEY    "service-account.key"
#define SA_PUB    "service-account.pub"
#define FILE_MODE 0600

#define DAY_S      86400
#define BACKDATE_S 3600 /* boards without an RTC boot with a clock that lags a little */
#define MAX_PEM    (256 * 1024)
#define KEY_BUF    1024
#define MAX_ORGS   8
#define MAX_RDNS   16

/* ---- small helpers ---- */

int ek__pki_tls_error(ek_error_t **err, int rc, const char *fmt, ...)
{
    char ctx[256], msg[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof(ctx), fmt, ap);
    va_end(ap);
    mbedtls_strerror(rc, msg, sizeof(msg));
    return ek_error_make(err, 0, "%s: %s (-0x%04x)", ctx, msg, (unsigned)(rc < 0 ? -rc : rc));
}

int ek__pki_random(ek_pki_t *pki, void *buf, size_t len, ek_error_t **err)
{
    int rc = mbedtls_ctr_drbg_random(&pki->drbg, buf, len);
    return rc ? ek__pki_tls_error(err, rc, "draw random bytes") : 0;
}

void ek__hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Private keys do not linger in freed memory. */
static void free_secret(char *s)
{
    if (s) {
        mbedtls_platform_zeroize(s, strlen(s));
        free(s);
    }
}

static void pk_cleanup(mbedtls_pk_context *k)
{
    mbedtls_pk_free(k);
}
static void crt_cleanup(mbedtls_x509_crt *c)
{
    mbedtls_x509_crt_free(c);
}
static void csr_cleanup(mbedtls_x509_csr *c)
{
    mbedtls_x509_csr_free(c);
}
#define auto_pk  __attribute__((cleanup(pk_cleanup))) mbedtls_pk_context
#define auto_crt __attribute__((cleanup(crt_cleanup))) mbedtls_x509_crt
#define auto_csr __attribute__((cleanup(csr_cleanup))) mbedtls_x509_csr

static time_t x509_time_unix(const mbedtls_x509_time *t)
{
    struct tm tm = {
        .tm_year = t->year - 1900,
        .tm_mon = t->mon - 1,
        .tm_mday = t->day,
        .tm_hour = t->hour,
        .tm_min = t->min,
        .tm_sec = t->sec,
    };
    return timegm(&tm);
}

/* "YYYYMMDDhhmmss" in UTC, as mbedtls_x509write_crt_set_validity wants it. */
static void x509_time_str(time_t t, char out[16])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* Reads dir/name into *data (caller frees); *data stays NULL when the file does not exist. */
static int read_opt(const char *dir, const char *name, char **data, size_t *len, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/%s", dir, name);
    ek_error_t *e = NULL;
    *data = ek_file_read(path, MAX_PEM, len, &e);
    if (*data) {
        return 0;
    }
    if (e->errnum == ENOENT) {
        ek_error_free(e);
        return 0;
    }
    if (err && !*err) {
        *err = e;
    } else {
        ek_error_free(e);
    }
    return -1;
}

static int write_file(const ek_pki_t *pki, const char *name, const char *data, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/%s", pki->dir, name);
    return ek_file_write_atomic(path, data, strlen(data), FILE_MODE, err);
}

static bool is_p256(const mbedtls_pk_context *k)
{
    return mbedtls_pk_get_type(k) == MBEDTLS_PK_ECKEY &&
           mbedtls_pk_ec(*k)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/*
 * Whether key is the private half of the public key pub. Key files carry their public point
 * (SEC 1 as written here, and mbedtls derives it at parse time when a file lacks it), so
 * comparing points suffices; mbedtls_pk_check_pair would also redo the scalar multiplication,
 * about 1 ms per key on x86 and 15 ms on a Pi 3, at every start, to catch a corrupted private
 * scalar that atomic writes already make implausible.
 */
static bool key_matches(const mbedtls_pk_context *pub, const mbedtls_pk_context *key)
{
    if (mbedtls_pk_get_type(pub) != MBEDTLS_PK_ECKEY ||
        mbedtls_pk_get_type(key) != MBEDTLS_PK_ECKEY) {
        return mbedtls_pk_check_pair(pub, key) == 0;
    }
    const mbedtls_ecp_keypair *a = mbedtls_pk_ec(*pub), *b = mbedtls_pk_ec(*key);
    return a->grp.id == b->grp.id && mbedtls_ecp_point_cmp(&a->Q, &b->Q) == 0;
}

static int gen_key(ek_pki_t *pki, mbedtls_pk_context *key, ek_error_t **err)
{
    int rc = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
    if (rc == 0) {
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                                 mbedtls_ctr_drbg_random, &pki->drbg);
    }
    return rc ? ek__pki_tls_error(err, rc, "generate a P-256 key") : 0;
}

/* SEC 1 "EC PRIVATE KEY" PEM, as k3s writes its keys. Caller frees with free_secret. */
static char *key_to_pem(mbedtls_pk_context *key, ek_error_t **err)
{
    unsigned char buf[KEY_BUF];
    int rc = mbedtls_pk_write_key_pem(key, buf, sizeof(buf));
    if (rc) {
        ek__pki_tls_error(err, rc, "encode private key");
        return NULL;
    }
    char *s = ek_xstrdup((const char *)buf);
    mbedtls_platform_zeroize(buf, sizeof(buf));
    return s;
}

/* ---- subjectAltName sets ---- */

/* One GeneralName: a dNSName (lowercase text) or an iPAddress (4 or 16 bytes). */
struct san {
    unsigned char type; /* MBEDTLS_X509_SAN_DNS_NAME or MBEDTLS_X509_SAN_IP_ADDRESS */
    unsigned char len;
    unsigned char data[253];
};

struct san_list {
    struct san *v;
    size_t n, cap;
};

static void san_list_free(struct san_list *l)
{
    free(l->v);
}
#define auto_sans __attribute__((cleanup(san_list_free))) struct san_list

static void san_push(struct san_list *l, unsigned char type, const void *data, size_t len)
{
    ek_assert(len <= sizeof(l->v[0].data));
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].type == type && l->v[i].len == len && memcmp(l->v[i].data, data, len) == 0) {
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = ek_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct san *s = &l->v[l->n++];
    s->type = type;
    s->len = (unsigned char)len;
    memcpy(s->data, data, len);
}

static int san_cmp(const void *a, const void *b)
{
    const struct san *x = a, *y = b;
    if (x->type != y->type) {
        return x->type - y->type;
    }
    if (x->len != y->len) {
        return x->len - y->len;
    }
    return memcmp(x->data, y->data, x->len);
}

static void san_sort(struct san_list *l)
{
    if (l->n > 1) {
        qsort(l->v, l->n, sizeof(*l->v), san_cmp);
    }
}

static bool sans_equal(const struct san_list *a, const struct san_list *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (san_cmp(&a->v[i], &b->v[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* Host names as certificates carry them: labels of letters, digits, '-' and '_', an optional
 * leading "*." wildcard. Anything else (a URL, a port, a space) is a typo worth refusing. */
static bool dns_name_ok(const char *s)
{
    if (ek_has_prefix(s, "*.")) {
        s += 2;
    }
    size_t label = 0;
    for (; *s; s++) {
        if (*s == '.') {
            if (label == 0) {
                return false;
            }
            label = 0;
        } else if (isalnum((unsigned char)*s) || *s == '-' || *s == '_') {
            if (++label > 63) {
                return false;
            }
        } else {
            return false;
        }
    }
    return label > 0;
}

static bool parse_ip(const char *s, unsigned char ip[16], size_t *len)
{
    if (inet_pton(AF_INET, s, ip) == 1) {
        *len = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip) == 1) {
        *len = 16;
        return true;
    }
    return false;
}

/* Adds name as an iPAddress when it reads as one, else as a (lowercased) dNSName. */
static int san_add_name(struct san_list *l, const char *name, ek_error_t **err)
{
    unsigned char ip[16];
    size_t n;
    if (parse_ip(name, ip, &n)) {
        san_push(l, MBEDTLS_X509_SAN_IP_ADDRESS, ip, n);
        return 0;
    }
    char lower[254] = { 0 };
    n = strlen(name);
    if (n == 0 || n >= sizeof(lower)) {
        return ek_error_status(err, 400, "`%s` is neither an IP address nor a DNS name", name);
    }
    for (size_t i = 0; i <= n; i++) {
        lower[i] = (char)tolower((unsigned char)name[i]);
    }
    if (!dns_name_ok(lower)) {
        return ek_error_status(err, 400, "`%s` is neither an IP address nor a DNS name", name);
    }
    san_push(l, MBEDTLS_X509_SAN_DNS_NAME, lower, n);
    return 0;
}

static int san_add_ip(struct san_list *l, const char *s, ek_error_t **err)
{
    unsigned char ip[16];
    size_t n;
    if (!parse_ip(s, ip, &n)) {
        return ek_error_status(err, 400, "`%s` is not an IP address", s);
    }
    san_push(l, MBEDTLS_X509_SAN_IP_ADDRESS, ip, n);
    return 0;
}

/* Interfaces whose addresses come and go with pods and container engines: listing them would
 * churn the serving certificate on every restart. */
static bool transient_iface(const char *name)
{
    static const char *const prefixes[] = { "ek", "veth", "docker", "cni", "flannel", "br-" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(prefixes); i++) {
        if (ek_has_prefix(name, prefixes[i])) {
            return true;
        }
    }
    return false;
}

/* The host's up, non-loopback addresses; IPv6 link-local ones need a zone, so they are left out. */
static int san_add_host_ips(struct san_list *l, ek_error_t **err)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) < 0) {
        return ek_error_make(err, errno, "list network interfaces");
    }
    for (struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK) ||
            transient_iface(i->ifa_name)) {
            continue;
        }
        if (i->ifa_addr->sa_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            san_push(l, MBEDTLS_X509_SAN_IP_ADDRESS, &a->sin_addr, 4);
        } else if (i->ifa_addr->sa_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)i->ifa_addr;
            if (!IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) {
                san_push(l, MBEDTLS_X509_SAN_IP_ADDRESS, &a->sin6_addr, 16);
            }
        }
    }
    freeifaddrs(list);
    return 0;
}

/* A name we derived ourselves (the hostname) is skipped with a warning when unusable: a
 * strange hostname must not keep the server from starting. */
static void san_add_derived(struct san_list *l, const char *name)
{
    ek_error_t *e = NULL;
    if (name && *name && san_add_name(l, name, &e) < 0) {
        EK_LOG(EK_WARN, COMP, "not adding to SANs name=%s reason=\"%s\"", name, ek_error_msg(e));
        ek_error_free(e);
    }
}

/* Every name the API server answers to, sorted so that two sets compare element-wise. */
static int serving_sans(const ek_pki_options_t *o, struct san_list *l, ek_error_t **err)
{
    char host[256] = "";
    const char *hostname = o->hostname;
    if (!hostname && gethostname(host, sizeof(host) - 1) == 0) {
        hostname = host;
    }
    san_add_derived(l, hostname);
    static const char *const fixed[] = {
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "127.0.0.1", "::1",
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(fixed); i++) {
        san_add_name(l, fixed[i], NULL);
    }
    ek_autofree char *fqdn = ek_xasprintf("kubernetes.default.svc.%s",
                                          o->cluster_domain ? o->cluster_domain : "cluster.local");
    if (san_add_name(l, fqdn, err) < 0 ||
        san_add_ip(l, o->service_ip ? o->service_ip : "10.43.0.1", err) < 0 ||
        (o->node_name && san_add_name(l, o->node_name, err) < 0)) {
        return -1;
    }
    for (size_t i = 0; i < o->n_node_ips; i++) {
        if (san_add_ip(l, o->node_ips[i], err) < 0) {
            return ek_error_wrap(err, "node IP");
        }
    }
    if (o->n_node_ips == 0 && san_add_host_ips(l, err) < 0) {
        return -1;
    }
    for (size_t i = 0; i < o->n_tls_sans; i++) {
        if (san_add_name(l, o->tls_sans[i], err) < 0) {
            return ek_error_wrap(err, "--tls-san");
        }
    }
    san_sort(l);
    return 0;
}

/* The SANs a certificate carries, sorted. Entries we never write (URIs, e-mail) are kept with
 * their type so that they make the set differ. */
static void crt_sans(const mbedtls_x509_crt *crt, struct san_list *l)
{
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next) {
        unsigned char type = (unsigned char)(s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK);
        san_push(l, type, s->buf.p, EK_MIN(s->buf.len, sizeof(l->v[0].data)));
    }
    san_sort(l);
}

/* ---- writing certificates ---- */

/*
 * A subject or issuer as mbedtls_x509write_cert holds it: a list whose head is the last RDN.
 * The nodes are ours, not mbedtls_calloc'd, because mbedtls_asn1_store_named_data would merge
 * repeated O= values; they are detached before mbedtls_x509write_crt_free.
 */
struct name_list {
    mbedtls_asn1_named_data node[MAX_RDNS];
    size_t n;
    mbedtls_asn1_named_data *head;
};

static int name_push(struct name_list *nl, const mbedtls_asn1_buf *oid, const void *val, size_t len,
                     int tag)
{
    if (nl->n == EK_ARRAY_SIZE(nl->node)) {
        return -1;
    }
    mbedtls_asn1_named_data *d = &nl->node[nl->n++];
    memset(d, 0, sizeof(*d));
    d->oid = *oid;
    d->val.tag = tag;
    d->val.p = (unsigned char *)(uintptr_t)val;
    d->val.len = len;
    d->next = nl->head;
    nl->head = d;
    return 0;
}

static const mbedtls_asn1_buf oid_cn = { MBEDTLS_ASN1_OID, MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_CN),
                                         (unsigned char *)MBEDTLS_OID_AT_CN };
static const mbedtls_asn1_buf oid_org = { MBEDTLS_ASN1_OID,
                                          MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION),
                                          (unsigned char *)MBEDTLS_OID_AT_ORGANIZATION };

enum cert_kind { KIND_CA, KIND_SERVER, KIND_CLIENT };

struct cert_spec {
    enum cert_kind kind;
    const char *cn;
    const char *const *orgs;
    size_t n_orgs;
    const struct san_list *sans; /* KIND_SERVER */
    int days;
    int64_t seconds; /* validity in seconds instead of days, when > 0 */
};

static int build_names(const ek_pki_t *pki, const struct cert_spec *spec, struct name_list *subject,
                       struct name_list *issuer)
{
    if (name_push(subject, &oid_cn, spec->cn, strlen(spec->cn), MBEDTLS_ASN1_UTF8_STRING) < 0) {
        return -1;
    }
    for (size_t i = 0; i < spec->n_orgs; i++) {
        if (name_push(subject, &oid_org, spec->orgs[i], strlen(spec->orgs[i]),
                      MBEDTLS_ASN1_UTF8_STRING) < 0) {
            return -1;
        }
    }
    if (spec->kind == KIND_CA) {
        *issuer = *subject;
        /* The copy's pointers still point into subject's array; re-link them into its own. */
        for (size_t i = 0; i < issuer->n; i++) {
            issuer->node[i].next = i ? &issuer->node[i - 1] : NULL;
        }
        issuer->head = issuer->n ? &issuer->node[issuer->n - 1] : NULL;
        return 0;
    }
    /* The issuer is the CA's subject byte for byte, so chains build whatever wrote the CA. */
    for (const mbedtls_x509_name *n = &pki->ca.subject; n && n->oid.p; n = n->next) {
        if (name_push(issuer, &n->oid, n->val.p, n->val.len, n->val.tag) < 0) {
            return -1;
        }
    }
    return 0;
}

static int set_serial(ek_pki_t *pki, mbedtls_x509write_cert *crt)
{
    unsigned char raw[16];
    int rc = mbedtls_ctr_drbg_random(&pki->drbg, raw, sizeof(raw));
    if (rc) {
        return rc;
    }
    raw[0] &= 0x7f; /* positive */
    raw[15] |= 1;   /* non-zero */
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    rc = mbedtls_mpi_read_binary(&serial, raw, sizeof(raw));
    if (rc == 0) {
        rc = mbedtls_x509write_crt_set_serial(crt, &serial);
    }
    mbedtls_mpi_free(&serial);
    return rc;
}

static int set_validity(const ek_pki_t *pki, mbedtls_x509write_cert *crt,
                        const struct cert_spec *spec)
{
    time_t now = time(NULL), start = now;
    if (spec->kind != KIND_CA) {
        /* A board without an RTC may run with a clock behind the CA's creation until NTP
         * answers: count the validity from no earlier than that, so the certificate is not
         * already expired once the clock is right. */
        start = EK_MAX(now, x509_time_unix(&pki->ca.valid_from) + BACKDATE_S);
    }
    time_t not_after =
        start + (spec->seconds > 0 ? (time_t)spec->seconds : (time_t)spec->days * DAY_S);
    if (spec->kind != KIND_CA) {
        /* A certificate cannot be trusted past its CA; do not pretend otherwise. */
        not_after = EK_MIN(not_after, x509_time_unix(&pki->ca.valid_to));
    }
    char from[16], to[16];
    x509_time_str(now - BACKDATE_S, from);
    x509_time_str(not_after, to);
    return mbedtls_x509write_crt_set_validity(crt, from, to);
}

/* extendedKeyUsage ::= SEQUENCE OF KeyPurposeId, here a single serverAuth or clientAuth. */
static int set_eku(mbedtls_x509write_cert *crt, bool server)
{
    unsigned char buf[32], *p = buf + sizeof(buf);
    size_t len = 0;
    int ret;
    /* Both purposes are id-kp arcs of the same length. */
    const char *oid = server ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH;
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_oid(&p, buf, oid, MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_EXTENDED_KEY_USAGE,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
                                               p, len);
}

/* GeneralNames: dNSName [2] and iPAddress [7] are IMPLICIT, so each entry is a context tag
 * over the raw bytes. ASN.1 is written backwards, hence the reverse loop. */
static int write_sans(unsigned char *buf, size_t size, const struct san_list *l,
                      unsigned char **start)
{
    unsigned char *p = buf + size;
    size_t len = 0;
    int ret;
    for (size_t i = l->n; i-- > 0;) {
        const struct san *s = &l->v[i];
        MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, s->data, s->len));
        MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, s->len));
        MBEDTLS_ASN1_CHK_ADD(
            len, mbedtls_asn1_write_tag(&p, buf,
                                        (unsigned char)(MBEDTLS_ASN1_CONTEXT_SPECIFIC | s->type)));
    }
    MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
    MBEDTLS_ASN1_CHK_ADD(
        len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
    *start = p;
    return (int)len;
}

static int set_sans(mbedtls_x509write_cert *crt, const struct san_list *l)
{
    size_t size = l->n * (sizeof(l->v[0].data) + 8) + 16;
    ek_autofree unsigned char *buf = ek_xmalloc(size);
    unsigned char *start = NULL;
    int len = write_sans(buf, size, l, &start);
    if (len < 0) {
        return len;
    }
    return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                               MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                               start, (size_t)len);
}

static int set_extensions(mbedtls_x509write_cert *crt, const struct cert_spec *spec)
{
    bool ca = spec->kind == KIND_CA;
    int rc = mbedtls_x509write_crt_set_basic_constraints(crt, ca, -1);
    if (rc == 0) {
        rc = mbedtls_x509write_crt_set_key_usage(
            crt, ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN |
                          MBEDTLS_X509_KU_DIGITAL_SIGNATURE
                    : MBEDTLS_X509_KU_DIGITAL_SIGNATURE | MBEDTLS_X509_KU_KEY_ENCIPHERMENT);
    }
    if (rc == 0) {
        rc = mbedtls_x509write_crt_set_subject_key_identifier(crt);
    }
    if (rc == 0 && !ca) {
        rc = mbedtls_x509write_crt_set_authority_key_identifier(crt);
    }
    if (rc == 0 && !ca) {
        rc = set_eku(crt, spec->kind == KIND_SERVER);
    }
    if (rc == 0 && spec->kind == KIND_SERVER) {
        rc = set_sans(crt, spec->sans);
    }
    return rc;
}

/*
 * Issues a certificate for subject_key under spec, signed by the CA (self-signed for
 * KIND_CA, whose key is then subject_key). Returns the PEM of the certificate alone; caller
 * frees.
 */
static char *issue(ek_pki_t *pki, const struct cert_spec *spec, mbedtls_pk_context *subject_key,
                   ek_error_t **err)
{
    struct name_list subject = { 0 }, issuer = { 0 };
    if (build_names(pki, spec, &subject, &issuer) < 0) {
        ek_error_status(err, 400, "certificate subject has too many attributes");
        return NULL;
    }
    mbedtls_x509write_cert crt;
    mbedtls_x509write_crt_init(&crt);
    crt.subject = subject.head;
    crt.issuer = issuer.head;
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&crt, spec->kind == KIND_CA ? subject_key : &pki->ca_key);
    /* Room for the DER and its PEM (4/3 plus line breaks) with every SAN at full length. */
    size_t size = 8192 + (spec->sans ? spec->sans->n * 400 : 0);
    ek_autofree unsigned char *buf = ek_xmalloc(size);
    int rc = set_serial(pki, &crt);
    if (rc == 0) {
        rc = set_validity(pki, &crt, spec);
    }
    if (rc == 0) {
        rc = set_extensions(&crt, spec);
    }
    if (rc == 0) {
        rc = mbedtls_x509write_crt_pem(&crt, buf, size, mbedtls_ctr_drbg_random, &pki->drbg);
    }
    crt.subject = crt.issuer = NULL;
    mbedtls_x509write_crt_free(&crt);
    if (rc) {
        ek__pki_tls_error(err, rc, "issue certificate CN=%s", spec->cn);
        return NULL;
    }
    return ek_xstrdup((const char *)buf);
}

static char *chain_pem(const ek_pki_t *pki, const char *leaf)
{
    return ek_xasprintf("%s%s", leaf, pki->ca_pem);
}

/* ---- the CA ---- */

static int create_ca(ek_pki_t *pki, int days, ek_error_t **err)
{
    if (gen_key(pki, &pki->ca_key, err) < 0) {
        return -1;
    }
    /* A unique name per cluster, as k3s does: clients that cache issuers by name never mix
     * up two clusters' CAs. */
    ek_autofree char *cn = ek_xasprintf("edgek-server-ca@%lld", (long long)time(NULL));
    struct cert_spec spec = { .kind = KIND_CA, .cn = cn, .days = days };
    ek_autofree char *pem = issue(pki, &spec, &pki->ca_key, err);
    char *key = pem ? key_to_pem(&pki->ca_key, err) : NULL;
    if (!key) {
        return -1;
    }
    /* Key first: a crash in between leaves a key without a certificate, which reads as "no CA
     * yet" next time. The other order would leave a CA nobody can sign with. */
    int rc = write_file(pki, CA_KEY, key, err);
    free_secret(key);
    if (rc < 0 || write_file(pki, CA_CRT, pem, err) < 0) {
        return -1;
    }
    rc = mbedtls_x509_crt_parse(&pki->ca, (const unsigned char *)pem, strlen(pem) + 1);
    if (rc) {
        return ek__pki_tls_error(err, rc, "parse the new CA certificate");
    }
    pki->ca_pem = ek_steal(&pem);
    pki->generated |= EK_PKI_GEN_CA;
    return 0;
}

static int check_ca(ek_pki_t *pki, const char *key, size_t key_len, ek_error_t **err)
{
    if (!pki->ca.ca_istrue) {
        return ek_error_make(err, 0, CA_CRT " is not a CA certificate");
    }
    int rc = mbedtls_pk_parse_key(&pki->ca_key, (const unsigned char *)key, key_len + 1, NULL, 0);
    if (rc) {
        return ek__pki_tls_error(err, rc, "parse " CA_KEY);
    }
    if (!key_matches(&pki->ca.pk, &pki->ca_key)) {
        return ek_error_make(err, 0, CA_KEY " does not belong to " CA_CRT);
    }
    time_t end = x509_time_unix(&pki->ca.valid_to), now = time(NULL);
    if (end <= now) {
        return ek_error_make(err, 0, "the cluster CA expired on %04d-%02d-%02d",
                             pki->ca.valid_to.year, pki->ca.valid_to.mon, pki->ca.valid_to.day);
    }
    if (end - now < (time_t)pki->renew_days * DAY_S) {
        EK_LOG(EK_WARN, COMP, "the cluster CA expires soon days_left=%lld",
               (long long)((end - now) / DAY_S));
    }
    if (x509_time_unix(&pki->ca.valid_from) > now) {
        EK_LOG(EK_WARN, COMP,
               "the system clock is behind the cluster CA's creation: TLS "
               "clients will refuse certificates until it is set (NTP)");
    }
    return 0;
}

static int load_ca(ek_pki_t *pki, int days, ek_error_t **err)
{
    ek_autofree char *crt = NULL;
    char *key = NULL;
    size_t crt_len = 0, key_len = 0;
    if (read_opt(pki->dir, CA_CRT, &crt, &crt_len, err) < 0) {
        return -1;
    }
    if (!crt) {
        return create_ca(pki, days, err);
    }
    if (strlen(crt) != crt_len) {
        return ek_error_make(err, 0, CA_CRT " contains a NUL byte");
    }
    int rc = mbedtls_x509_crt_parse(&pki->ca, (const unsigned char *)crt, crt_len + 1);
    if (rc) {
        return ek__pki_tls_error(err, rc, "parse " CA_CRT);
    }
    if (read_opt(pki->dir, CA_KEY, &key, &key_len, err) < 0) {
        return -1;
    }
    if (!key) {
        return ek_error_make(err, ENOENT,
                             CA_CRT " exists but " CA_KEY " is missing: restore the key, or "
                                    "remove the whole directory to create a new cluster CA");
    }
    rc = check_ca(pki, key, key_len, err);
    free_secret(key);
    if (rc < 0) {
        return -1;
    }
    pki->ca_pem = ek_steal(&crt);
    return 0;
}

/* ---- leaf certificates ---- */

/* A subject's CN and O values (other attributes are counted but not kept). */
struct subject {
    char *cn;
    char *orgs[MAX_ORGS];
    size_t n_orgs;
    size_t n_cn, n_other;
};

static void subject_free(struct subject *s)
{
    free(s->cn);
    for (size_t i = 0; i < s->n_orgs; i++) {
        free(s->orgs[i]);
    }
}
#define auto_subject __attribute__((cleanup(subject_free))) struct subject

/* Returns -1 for values no certificate of ours would carry (NUL bytes, too many O=). */
static int subject_read(const mbedtls_x509_name *name, struct subject *s)
{
    for (const mbedtls_x509_name *n = name; n && n->oid.p; n = n->next) {
        if (memchr(n->val.p, 0, n->val.len)) {
            return -1;
        }
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
            if (s->n_cn++ == 0) {
                s->cn = ek_xstrndup((const char *)n->val.p, n->val.len);
            }
        } else if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_ORGANIZATION, &n->oid) == 0) {
            if (s->n_orgs == MAX_ORGS) {
                return -1;
            }
            s->orgs[s->n_orgs++] = ek_xstrndup((const char *)n->val.p, n->val.len);
        } else {
            s->n_other++;
        }
    }
    return 0;
}

static bool contains(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return true;
        }
    }
    return false;
}

/* Same O values, ignoring order (each side contained in the other, same count). */
static bool orgs_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        if (!contains(b, nb, a[i]) || !contains(a, na, b[i])) {
            return false;
        }
    }
    return true;
}

static bool subject_matches(const mbedtls_x509_name *name, const struct cert_spec *spec)
{
    auto_subject s = { 0 };
    return subject_read(name, &s) == 0 && s.n_cn == 1 && s.n_other == 0 &&
           strcmp(s.cn, spec->cn) == 0 &&
           orgs_equal((const char *const *)s.orgs, s.n_orgs, spec->orgs, spec->n_orgs);
}

/* Why the certificate on disk must be reissued, or NULL when it is still good. */
static const char *leaf_problem(ek_pki_t *pki, const struct cert_spec *spec, const char *pem,
                                size_t len, mbedtls_pk_context *key)
{
    auto_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (mbedtls_x509_crt_parse(&crt, (const unsigned char *)pem, len + 1) != 0) {
        return "unreadable certificate";
    }
    if (!key_matches(&crt.pk, key)) {
        return "key does not match";
    }
    time_t now = time(NULL);
    if (x509_time_unix(&crt.valid_from) > now) {
        return "not valid yet";
    }
    if (x509_time_unix(&crt.valid_to) - now < (time_t)pki->renew_days * DAY_S) {
        return "near expiry";
    }
    /* Time flags are left out: the leaf's times were judged above, and a CA that looks
     * "future" to a lagging clock still signed it (mbedtls checks signatures regardless). */
    uint32_t flags = 0;
    mbedtls_x509_crt_verify(&crt, &pki->ca, NULL, NULL, &flags, NULL, NULL);
    if (flags & ~(uint32_t)(MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCERT_EXPIRED)) {
        return "not signed by the cluster CA";
    }
    if (!subject_matches(&crt.subject, spec)) {
        return "subject changed";
    }
    const char *eku = spec->kind == KIND_SERVER ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH;
    if (mbedtls_x509_crt_check_extended_key_usage(&crt, eku,
                                                  MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH))) {
        return "wrong key usage";
    }
    if (spec->kind == KIND_SERVER) {
        auto_sans have = { 0 };
        crt_sans(&crt, &have);
        if (!sans_equal(&have, spec->sans)) {
            return "SANs changed";
        }
    }
    return NULL;
}

struct leaf {
    const char *what; /* for logs */
    const char *crt_name, *key_name;
    unsigned gen_bit;
    struct cert_spec spec;
};

/* Issues the leaf for key (a fresh one unless key_ok) and writes key, then certificate. */
static int reissue_leaf(ek_pki_t *pki, const struct leaf *lf, mbedtls_pk_context *key, bool key_ok,
                        char **crt_out, char **key_out, ek_error_t **err)
{
    if (!key_ok) {
        mbedtls_pk_free(key);
        mbedtls_pk_init(key);
        free_secret(*key_out);
        *key_out = NULL;
        if (gen_key(pki, key, err) < 0 || !(*key_out = key_to_pem(key, err)) ||
            write_file(pki, lf->key_name, *key_out, err) < 0) {
            return -1;
        }
    }
    ek_autofree char *leaf = issue(pki, &lf->spec, key, err);
    if (!leaf) {
        return -1;
    }
    free(*crt_out);
    *crt_out = chain_pem(pki, leaf);
    if (write_file(pki, lf->crt_name, *crt_out, err) < 0) {
        return -1;
    }
    pki->generated |= lf->gen_bit;
    return 0;
}

/* Loads a leaf certificate and its key, reissuing them when needed. Outputs: caller frees. */
static int ensure_leaf(ek_pki_t *pki, const struct leaf *lf, char **crt_out, char **key_out,
                       ek_error_t **err)
{
    size_t crt_len = 0, key_len = 0;
    if (read_opt(pki->dir, lf->crt_name, crt_out, &crt_len, err) < 0 ||
        read_opt(pki->dir, lf->key_name, key_out, &key_len, err) < 0) {
        return -1;
    }
    auto_pk key;
    mbedtls_pk_init(&key);
    /* A good key is kept across renewals: fewer writes, and pinned keys stay valid. */
    bool key_ok =
        *key_out &&
        mbedtls_pk_parse_key(&key, (const unsigned char *)*key_out, key_len + 1, NULL, 0) == 0 &&
        is_p256(&key);
    const char *why = !*crt_out ? "missing"
                      : !key_ok ? "unusable key"
                                : leaf_problem(pki, &lf->spec, *crt_out, crt_len, &key);
    if (!why) {
        return 0;
    }
    EK_LOG(EK_INFO, COMP, "issuing certificate cert=%s reason=\"%s\"", lf->what, why);
    return reissue_leaf(pki, lf, &key, key_ok, crt_out, key_out, err);
}

/* ---- the service-account key ---- */

static int sa_public(ek_pki_t *pki, ek_error_t **err)
{
    unsigned char der[256], hash[32];
    int len = mbedtls_pk_write_pubkey_der(&pki->sa_key, der, sizeof(der));
    if (len < 0) {
        return ek__pki_tls_error(err, len, "encode the service-account public key");
    }
    /* kube-apiserver's key ID: base64url(SHA-256(PKIX DER of the public key)). */
    mbedtls_sha256_ret(der + sizeof(der) - len, (size_t)len, hash, 0);
    ek__b64url_encode(hash, sizeof(hash), pki->sa_kid);
    unsigned char pem[512];
    int rc = mbedtls_pk_write_pubkey_pem(&pki->sa_key, pem, sizeof(pem));
    if (rc) {
        return ek__pki_tls_error(err, rc, "encode the service-account public key");
    }
    pki->sa_pub_pem = ek_xstrdup((const char *)pem);
    ek_autofree char *old = NULL;
    size_t old_len = 0;
    if (read_opt(pki->dir, SA_PUB, &old, &old_len, err) < 0) {
        return -1;
    }
    if (old && strcmp(old, pki->sa_pub_pem) == 0) {
        return 0;
    }
    return write_file(pki, SA_PUB, pki->sa_pub_pem, err);
}

static int load_sa_key(ek_pki_t *pki, ek_error_t **err)
{
    char *pem = NULL;
    size_t len = 0;
    if (read_opt(pki->dir, SA_KEY, &pem, &len, err) < 0) {
        return -1;
    }
    int rc;
    if (!pem) {
        if (gen_key(pki, &pki->sa_key, err) < 0 || !(pem = key_to_pem(&pki->sa_key, err))) {
            return -1;
        }
        rc = write_file(pki, SA_KEY, pem, err);
        free_secret(pem);
        pki->generated |= EK_PKI_GEN_SA_KEY;
    } else {
        /* Not regenerated when broken: that would silently invalidate every token. */
        rc = mbedtls_pk_parse_key(&pki->sa_key, (const unsigned char *)pem, len + 1, NULL, 0);
        free_secret(pem);
        if (rc) {
            return ek__pki_tls_error(err, rc, "parse " SA_KEY);
        }
        if (!is_p256(&pki->sa_key)) {
            return ek_error_make(err, 0, SA_KEY " is not an ECDSA P-256 key (ES256 needs one)");
        }
    }
    return rc < 0 ? -1 : sa_public(pki, err);
}

/* ---- load or create ---- */

static ek_pki_t *pki_new(const ek_pki_options_t *o, ek_error_t **err)
{
    ek_pki_t *pki = ek_new(ek_pki_t);
    pki->dir = ek_xstrdup(o->dir);
    pki->leaf_days = o->leaf_days > 0 ? o->leaf_days : 365;
    pki->renew_days = o->renew_days > 0 ? o->renew_days : 90;
    mbedtls_entropy_init(&pki->entropy);
    mbedtls_ctr_drbg_init(&pki->drbg);
    mbedtls_x509_crt_init(&pki->ca);
    mbedtls_pk_init(&pki->ca_key);
    mbedtls_pk_init(&pki->sa_key);
    static const char pers[] = "edgek-pki";
    int rc = mbedtls_ctr_drbg_seed(&pki->drbg, mbedtls_entropy_func, &pki->entropy,
                                   (const unsigned char *)pers, sizeof(pers) - 1);
    if (rc) {
        ek_pki_free(pki);
        ek__pki_tls_error(err, rc, "seed the random generator");
        return NULL;
    }
    return pki;
}

static int load_leaves(ek_pki_t *pki, const ek_pki_options_t *o, ek_error_t **err)
{
    auto_sans sans = { 0 };
    if (serving_sans(o, &sans, err) < 0) {
        return -1;
    }
    const struct leaf serving = {
        .what = "serving",
        .crt_name = SERVE_CRT,
        .key_name = SERVE_KEY,
        .gen_bit = EK_PKI_GEN_SERVING,
        .spec = { .kind = KIND_SERVER,
                  .cn = "kube-apiserver",
                  .sans = &sans,
                  .days = pki->leaf_days },
    };
    static const char *const masters[] = { "system:masters" };
    const struct leaf admin = {
        .what = "admin",
        .crt_name = ADMIN_CRT,
        .key_name = ADMIN_KEY,
        .gen_bit = EK_PKI_GEN_ADMIN,
        .spec = { .kind = KIND_CLIENT,
                  .cn = "system:admin",
                  .orgs = masters,
                  .n_orgs = 1,
                  .days = pki->leaf_days },
    };
    if (ensure_leaf(pki, &serving, &pki->serving_pem, &pki->serving_key_pem, err) < 0) {
        return ek_error_wrap(err, "serving certificate");
    }
    if (ensure_leaf(pki, &admin, &pki->admin_pem, &pki->admin_key_pem, err) < 0) {
        return ek_error_wrap(err, "admin certificate");
    }
    return 0;
}

int ek_pki_load_or_create(const ek_pki_options_t *opts, ek_pki_t **out, ek_error_t **err)
{
    uint64_t t0 = ek_now_ns();
    if (!opts->dir || !*opts->dir) {
        return ek_error_status(err, 400, "PKI directory not set");
    }
    ek_auto(ek_pki_t) pki = pki_new(opts, err);
    if (!pki) {
        return -1;
    }
    if (ek_mkdir_p(opts->dir, 0700, err) < 0 ||
        load_ca(pki, opts->ca_days > 0 ? opts->ca_days : 3650, err) < 0) {
        return ek_error_wrap(err, "cluster CA in `%s`", opts->dir);
    }
    unsigned char hash[32];
    mbedtls_sha256_ret((const unsigned char *)pki->ca_pem, strlen(pki->ca_pem), hash, 0);
    ek__hex(hash, sizeof(hash), pki->ca_hash);
    if (load_leaves(pki, opts, err) < 0) {
        return ek_error_wrap(err, "PKI in `%s`", opts->dir);
    }
    if (load_sa_key(pki, err) < 0) {
        return ek_error_wrap(err, "service-account key in `%s`", opts->dir);
    }
    EK_LOG(EK_INFO, COMP, "ready dir=%s generated=0x%x ms=%.1f", pki->dir, pki->generated,
           (double)(ek_now_ns() - t0) / 1e6);
    *out = ek_steal(&pki);
    return 0;
}

void ek_pki_free(ek_pki_t *pki)
{
    if (!pki) {
        return;
    }
    mbedtls_x509_crt_free(&pki->ca);
    mbedtls_pk_free(&pki->ca_key);
    mbedtls_pk_free(&pki->sa_key);
    mbedtls_ctr_drbg_free(&pki->drbg);
    mbedtls_entropy_free(&pki->entropy);
    free_secret(pki->serving_key_pem);
    free_secret(pki->admin_key_pem);
    free(pki->serving_pem);
    free(pki->admin_pem);
    free(pki->ca_pem);
    free(pki->sa_pub_pem);
    free(pki->dir);
    free(pki);
}

unsigned ek_pki_generated(const ek_pki_t *pki)
{
    return pki->generated;
}

const char *ek_pki_ca_cert_pem(const ek_pki_t *pki)
{
    return pki->ca_pem;
}

const char *ek_pki_serving_cert_pem(const ek_pki_t *pki)
{
    return pki->serving_pem;
}

const char *ek_pki_serving_key_pem(const ek_pki_t *pki)
{
    return pki->serving_key_pem;
}

const char *ek_pki_admin_cert_pem(const ek_pki_t *pki)
{
    return pki->admin_pem;
}

const char *ek_pki_admin_key_pem(const ek_pki_t *pki)
{
    return pki->admin_key_pem;
}

const char *ek_pki_sa_public_key_pem(const ek_pki_t *pki)
{
    return pki->sa_pub_pem;
}

const char *ek_pki_ca_hash(const ek_pki_t *pki)
{
    return pki->ca_hash;
}

/* ---- issuing on request ---- */

static int check_identity(const char *cn, const char *const *orgs, size_t n_orgs, ek_error_t **err)
{
    if (!cn || !*cn) {
        return ek_error_status(err, 400, "a certificate needs a common name");
    }
    if (n_orgs > MAX_ORGS) {
        return ek_error_status(err, 400, "at most %d organizations per certificate", MAX_ORGS);
    }
    for (size_t i = 0; i < n_orgs; i++) {
        if (!orgs[i] || !*orgs[i]) {
            return ek_error_status(err, 400, "empty organization");
        }
    }
    return 0;
}

int ek_pki_issue_client_cert(ek_pki_t *pki, const char *cn, const char *const *orgs, size_t n_orgs,
                             int days, char **cert_pem, char **key_pem, ek_error_t **err)
{
    if (check_identity(cn, orgs, n_orgs, err) < 0) {
        return -1;
    }
    auto_pk key;
    mbedtls_pk_init(&key);
    if (gen_key(pki, &key, err) < 0) {
        return -1;
    }
    struct cert_spec spec = { .kind = KIND_CLIENT,
                              .cn = cn,
                              .orgs = orgs,
                              .n_orgs = n_orgs,
                              .days = days > 0 ? days : pki->leaf_days };
    ek_autofree char *leaf = issue(pki, &spec, &key, err);
    char *kp = leaf ? key_to_pem(&key, err) : NULL;
    if (!kp) {
        return ek_error_wrap(err, "client certificate for `%s`", cn);
    }
    *cert_pem = chain_pem(pki, leaf);
    *key_pem = kp;
    return 0;
}

int ek_pki_issue_serving_cert(ek_pki_t *pki, const char *cn, const char *const *sans, size_t n_sans,
                              int days, char **cert_pem, char **key_pem, ek_error_t **err)
{
    if (check_identity(cn, NULL, 0, err) < 0) {
        return -1;
    }
    struct san_list l = { 0 };
    for (size_t i = 0; i < n_sans; i++) {
        if (san_add_name(&l, sans[i], err) < 0) {
            san_list_free(&l);
            return ek_error_wrap(err, "serving certificate for `%s`", cn);
        }
    }
    san_sort(&l);
    auto_pk key;
    mbedtls_pk_init(&key);
    if (gen_key(pki, &key, err) < 0) {
        san_list_free(&l);
        return -1;
    }
    struct cert_spec spec = {
        .kind = KIND_SERVER, .cn = cn, .sans = &l, .days = days > 0 ? days : pki->leaf_days
    };
    ek_autofree char *leaf = issue(pki, &spec, &key, err);
    san_list_free(&l);
    char *kp = leaf ? key_to_pem(&key, err) : NULL;
    if (!kp) {
        return ek_error_wrap(err, "serving certificate for `%s`", cn);
    }
    *cert_pem = chain_pem(pki, leaf);
    *key_pem = kp;
    return 0;
}

/* mbedtls 2.28 parses a CSR without checking its self-signature; this is that check, and
 * it refuses digests weaker than SHA-256. */
static bool csr_self_signed(mbedtls_x509_csr *csr)
{
    if (csr->sig_md != MBEDTLS_MD_SHA256 && csr->sig_md != MBEDTLS_MD_SHA384 &&
        csr->sig_md != MBEDTLS_MD_SHA512) {
        return false;
    }
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(csr->sig_md);
    unsigned char hash[MBEDTLS_MD_MAX_SIZE];
    if (!md || mbedtls_md(md, csr->cri.p, csr->cri.len, hash) != 0) {
        return false;
    }
    return mbedtls_pk_verify_ext(csr->sig_pk, csr->sig_opts, &csr->pk, csr->sig_md, hash,
                                 mbedtls_md_get_size(md), csr->sig.p, csr->sig.len) == 0;
}

static int csr_check_key(const mbedtls_pk_context *pk, ek_error_t **err)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if (t == MBEDTLS_PK_ECKEY) {
        return 0;
    }
    if (t == MBEDTLS_PK_RSA && mbedtls_pk_get_bitlen(pk) >= 2048) {
        return 0;
    }
    return ek_error_status(err, 400, "CSR key must be ECDSA or RSA of at least 2048 bits");
}

/* The CSR's subject against the policy: the signer decides who the certificate names. */
static int csr_check_subject(const mbedtls_x509_csr *csr, const ek_pki_csr_policy_t *pol,
                             struct subject *s, ek_error_t **err)
{
    if (subject_read(&csr->subject, s) < 0) {
        return ek_error_status(err, 400, "CSR subject holds NUL bytes or too many O= values");
    }
    if (s->n_cn != 1 || !*s->cn) {
        return ek_error_status(err, 400, "CSR subject must hold exactly one CN");
    }
    if (s->n_other) {
        return ek_error_status(err, 403, "CSR subject may only hold CN and O");
    }
    if (pol->cn && strcmp(s->cn, pol->cn) != 0) {
        return ek_error_status(err, 403, "CSR is for `%s`, expected `%s`", s->cn, pol->cn);
    }
    if (!orgs_equal((const char *const *)s->orgs, s->n_orgs, pol->orgs, pol->n_orgs)) {
        return ek_error_status(err, 403, "CSR for `%s` asks for other organizations", s->cn);
    }
    return 0;
}

int ek_pki_sign_csr(ek_pki_t *pki, const char *csr_pem, const ek_pki_csr_policy_t *pol,
                    char **cert_pem, ek_error_t **err)
{
    auto_csr csr;
    mbedtls_x509_csr_init(&csr);
    int rc = mbedtls_x509_csr_parse(&csr, (const unsigned char *)csr_pem, strlen(csr_pem) + 1);
    if (rc) {
        char msg[128];
        mbedtls_strerror(rc, msg, sizeof(msg));
        return ek_error_status(err, 400, "malformed certificate signing request: %s", msg);
    }
    if (!csr_self_signed(&csr)) {
        return ek_error_status(err, 400, "CSR signature does not verify");
    }
    auto_subject s = { 0 };
    if (csr_check_key(&csr.pk, err) < 0 || csr_check_subject(&csr, pol, &s, err) < 0) {
        return -1;
    }
    ek_assert(s.cn); /* csr_check_subject saw exactly one CN */
    auto_sans sans = { 0 };
    for (size_t i = 0; pol->server && i < pol->n_sans; i++) {
        if (san_add_name(&sans, pol->sans[i], err) < 0) {
            return -1;
        }
    }
    if (pol->server && sans.n == 0) {
        return ek_error_status(err, 400, "a serving certificate needs at least one SAN");
    }
    san_sort(&sans);
    struct cert_spec spec = {
        .kind = pol->server ? KIND_SERVER : KIND_CLIENT,
        .cn = s.cn,
        .orgs = (const char *const *)s.orgs,
        .n_orgs = s.n_orgs,
        .sans = &sans,
        .days = pol->days > 0 ? pol->days : pki->leaf_days,
        .seconds = pol->seconds,
    };
    ek_autofree char *leaf = issue(pki, &spec, &csr.pk, err);
    if (!leaf) {
        return ek_error_wrap(err, "sign CSR for `%s`", s.cn);
    }
    *cert_pem = chain_pem(pki, leaf);
    return 0;
}

/* ---- kubeconfig ---- */

int ek_pki_write_kubeconfig(const ek_pki_t *pki, const char *path, mode_t mode,
                            const char *server_url, const char *name, ek_error_t **err)
{
    char *yaml =
        ek_kubeconfig_render(server_url, name, pki->ca_pem, pki->admin_pem, pki->admin_key_pem);
    ek_autofree char *dir = ek_path_dirname(path);
    ek_error_t *e = NULL;
    size_t old_len = 0;
    char *old = ek_file_read(path, MAX_PEM, &old_len, &e);
    ek_error_free(e);
    bool same = old && old_len == strlen(yaml) && memcmp(old, yaml, old_len) == 0;
    free_secret(old);
    int rc = 0;
    struct stat st;
    if (!same) {
        rc = ek_mkdir_p(dir, 0755, err);
        if (rc == 0) {
            rc = ek_file_write_atomic(path, yaml, strlen(yaml), mode, err);
        }
    } else if (stat(path, &st) == 0 && (st.st_mode & 07777) != mode && chmod(path, mode) < 0) {
        rc = ek_error_make(err, errno, "chmod `%s`", path);
    }
    free_secret(yaml);
    return rc < 0 ? ek_error_wrap(err, "write kubeconfig `%s`", path) : 0;
}
