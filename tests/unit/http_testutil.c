/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helpers for lib_http.c and lib_ws.c: certificate generation, a thread runner that
 * keeps the test's loop serving while a blocking client script runs, and that client
 * (plain TCP or TLS through the library's own session engine) with response readers.
 */
#include "tests/unit/http_testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <http_parser.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#define RAW_CAP 17408

/* ---- certificates ---- */

static mbedtls_ctr_drbg_context *test_rng(void)
{
    static mbedtls_entropy_context entropy;
    static mbedtls_ctr_drbg_context drbg;
    static bool ready;
    if (!ready) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        ek_assert(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) == 0);
        ready = true;
    }
    return &drbg;
}

static void gen_key(mbedtls_pk_context *pk)
{
    mbedtls_pk_init(pk);
    ek_assert(mbedtls_pk_setup(pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    ek_assert(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*pk),
                                  mbedtls_ctr_drbg_random, test_rng()) == 0);
}

static char *key_pem(mbedtls_pk_context *pk)
{
    unsigned char buf[2048];
    ek_assert(mbedtls_pk_write_key_pem(pk, buf, sizeof(buf)) == 0);
    return ek_xstrdup((char *)buf);
}

/* subjectAltName as DER: SEQUENCE { [2] dNSName | [7] iPAddress ... } (short lengths). */
static size_t san_der(const char *sans, unsigned char *der, size_t cap)
{
    size_t n = 2;
    ek_autofree char *copy = ek_xstrdup(sans);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (ek_has_prefix(tok, "DNS:")) {
            size_t len = strlen(tok + 4);
            ek_assert(n + 2 + len < cap);
            der[n++] = 0x82;
            der[n++] = (unsigned char)len;
            memcpy(der + n, tok + 4, len);
            n += len;
        } else if (ek_has_prefix(tok, "IP:")) {
            ek_assert(n + 6 < cap);
            der[n++] = 0x87;
            der[n++] = 4;
            ek_assert(inet_pton(AF_INET, tok + 3, der + n) == 1);
            n += 4;
        }
    }
    ek_assert(n - 2 < 128);
    der[0] = 0x30;
    der[1] = (unsigned char)(n - 2);
    return n;
}

/*
 * x509_string_to_names keeps one value per attribute type, but Kubernetes groups are several
 * O values: set the rest of the subject from the string, then prepend each O ourselves.
 */
static void set_subject(mbedtls_x509write_cert *w, const char *subject)
{
    ek_autofree char *copy = ek_xstrdup(subject);
    ek_autobuf rest = EK_BUF_INIT;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!ek_has_prefix(tok, "O=")) {
            ek_buf_printf(&rest, "%s%s", rest.len ? "," : "", tok);
        }
    }
    ek_assert(mbedtls_x509write_crt_set_subject_name(w, rest.data) == 0);
    ek_autofree char *copy2 = ek_xstrdup(subject);
    for (char *tok = strtok_r(copy2, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!ek_has_prefix(tok, "O=")) {
            continue;
        }
        mbedtls_asn1_named_data *n = ek_xcalloc(1, sizeof(*n));
        n->oid.len = MBEDTLS_OID_SIZE(MBEDTLS_OID_AT_ORGANIZATION);
        n->oid.p = ek_xmalloc(n->oid.len);
        memcpy(n->oid.p, MBEDTLS_OID_AT_ORGANIZATION, n->oid.len);
        n->val.tag = MBEDTLS_ASN1_UTF8_STRING;
        n->val.len = strlen(tok + 2);
        n->val.p = (unsigned char *)ek_xstrdup(tok + 2);
        n->next = w->subject;
        w->subject = n;
    }
}

static char *write_cert(mbedtls_pk_context *subject_key, mbedtls_pk_context *issuer_key,
                        const char *subject, const char *issuer, bool is_ca, const char *sans)
{
    static int serial_counter = 1;
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, serial_counter++);
    ek_assert(mbedtls_x509write_crt_set_serial(&w, &serial) == 0);
    ek_assert(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20491231235959") == 0);
    set_subject(&w, subject);
    ek_assert(mbedtls_x509write_crt_set_issuer_name(&w, issuer) == 0);
    mbedtls_x509write_crt_set_subject_key(&w, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&w, issuer_key);
    ek_assert(mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, -1) == 0);
    ek_assert(mbedtls_x509write_crt_set_key_usage(
                  &w, is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
                            : MBEDTLS_X509_KU_DIGITAL_SIGNATURE) == 0);
    if (sans) {
        unsigned char der[256];
        size_t len = san_der(sans, der, sizeof(der));
        ek_assert(mbedtls_x509write_crt_set_extension(
                      &w, MBEDTLS_OID_SUBJECT_ALT_NAME,
                      MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, der, len) == 0);
    }
    unsigned char buf[4096];
    ek_assert(
        mbedtls_x509write_crt_pem(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random, test_rng()) == 0);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    return ek_xstrdup((char *)buf);
}

void ek_test_make_ca(ek_test_cert_t *ca, const char *subject)
{
    mbedtls_pk_context key;
    gen_key(&key);
    ca->cert_pem = write_cert(&key, &key, subject, subject, true, NULL);
    ca->key_pem = key_pem(&key);
    ca->subject = ek_xstrdup(subject);
    mbedtls_pk_free(&key);
}

void ek_test_make_cert(ek_test_cert_t *out, const ek_test_cert_t *ca, const char *subject,
                       const char *sans)
{
    mbedtls_pk_context key, ca_key;
    gen_key(&key);
    mbedtls_pk_init(&ca_key);
    ek_assert(mbedtls_pk_parse_key(&ca_key, (const unsigned char *)ca->key_pem,
                                   strlen(ca->key_pem) + 1, NULL, 0) == 0);
    out->cert_pem = write_cert(&key, &ca_key, subject, ca->subject, false, sans);
    out->key_pem = key_pem(&key);
    out->subject = ek_xstrdup(subject);
    mbedtls_pk_free(&key);
    mbedtls_pk_free(&ca_key);
}

void ek_test_cert_free(ek_test_cert_t *c)
{
    free(c->cert_pem);
    free(c->key_pem);
    free(c->subject);
    memset(c, 0, sizeof(*c));
}

/* ---- loop helpers ---- */

struct thread_run {
    void (*fn)(void *arg);
    void *arg;
    uv_async_t async;
    atomic_bool done;
};

static void *thread_main(void *p)
{
    struct thread_run *t = p;
    t->fn(t->arg);
    atomic_store(&t->done, true);
    uv_async_send(&t->async);
    return NULL;
}

static void async_noop(uv_async_t *a)
{
}

void ek_test_run_thread(uv_loop_t *loop, void (*fn)(void *arg), void *arg)
{
    struct thread_run t = { .fn = fn, .arg = arg };
    atomic_init(&t.done, false);
    uv_async_init(loop, &t.async, async_noop);
    pthread_t th;
    ek_assert(pthread_create(&th, NULL, thread_main, &t) == 0);
    while (!atomic_load(&t.done)) {
        uv_run(loop, UV_RUN_ONCE);
    }
    pthread_join(th, NULL);
    uv_close((uv_handle_t *)&t.async, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void run_until_timeout(uv_timer_t *t)
{
    ek__test_fail(__FILE__, __LINE__, "loop did not reach the expected state in time");
}

void ek_test_run_until(uv_loop_t *loop, const bool *flag, uint64_t timeout_ms)
{
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, run_until_timeout, timeout_ms, 0);
    uv_unref((uv_handle_t *)&timer);
    while (!*flag) {
        uv_run(loop, UV_RUN_ONCE);
    }
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void walk_report(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h)) {
        fprintf(stderr, "leaked handle type=%s\n", uv_handle_type_name(h->type));
        (*(int *)arg)++;
    }
}

void ek_test_loop_finish(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    int leaked = 0;
    uv_walk(loop, walk_report, &leaked);
    ASSERT_EQ(leaked, 0);
    ASSERT_EQ(uv_loop_close(loop), 0);
}

/* ---- blocking client ---- */

static int wait_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    do {
        r = poll(&p, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r;
}

static ssize_t raw_recv(int fd, void *buf, size_t cap, int timeout_ms)
{
    if (wait_readable(fd, timeout_ms) <= 0) {
        return -1;
    }
    ssize_t n = recv(fd, buf, cap, 0);
    return n < 0 ? (errno == ECONNRESET ? 0 : -1) : n;
}

static void raw_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* the server closed: the test's reads will tell */
        }
        p += n;
        len -= (size_t)n;
    }
}

static void flush_tls(ek_test_client_t *c)
{
    size_t len;
    char *out = ek_tls_take_output(c->tls, &len);
    if (out) {
        raw_send(c->fd, out, len);
        free(out);
    }
}

/* The engine borrows fed bytes until it reports "need more", so they live in the client. */
static char *raw_buffer(ek_test_client_t *c)
{
    if (!c->raw) {
        c->raw = ek_xmalloc(RAW_CAP);
    }
    return c->raw;
}

int ek_test_client_open(ek_test_client_t *c, int port, ek_tls_config_t *tls,
                        const char *server_name)
{
    memset(c, 0, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ek_assert(c->fd >= 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    if (!tls) {
        return 0;
    }
    ek_error_t *err = NULL;
    c->tls = ek_tls_session_new(tls, server_name ? server_name : "127.0.0.1", &err);
    ASSERT_NOT_NULL(c->tls);
    for (;;) {
        int r = ek_tls_handshake(c->tls, &err);
        flush_tls(c);
        if (r == 1) {
            return 0;
        }
        if (r < 0) {
            fprintf(stderr, "test client handshake: %s\n", ek_error_msg(err));
            ek_error_free(err);
            return -1;
        }
        ssize_t n = raw_recv(c->fd, raw_buffer(c), RAW_CAP, 5000);
        if (n <= 0) {
            return -1;
        }
        ek_tls_feed(c->tls, raw_buffer(c), (size_t)n);
    }
}

void ek_test_client_send(ek_test_client_t *c, const void *data, size_t len)
{
    if (!c->tls) {
        raw_send(c->fd, data, len);
        return;
    }
    ek_error_t *err = NULL;
    ASSERT_OK(ek_tls_write(c->tls, data, len, &err), &err);
    flush_tls(c);
}

void ek_test_client_sends(ek_test_client_t *c, const char *s)
{
    ek_test_client_send(c, s, strlen(s));
}

ssize_t ek_test_client_recv(ek_test_client_t *c, void *buf, size_t cap, int timeout_ms)
{
    if (c->pending_len > 0) {
        size_t n = EK_MIN(cap, c->pending_len);
        memcpy(buf, c->pending, n);
        memmove(c->pending, c->pending + n, c->pending_len - n);
        c->pending_len -= n;
        return (ssize_t)n;
    }
    if (!c->tls) {
        return raw_recv(c->fd, buf, cap, timeout_ms);
    }
    for (;;) {
        ek_error_t *err = NULL;
        ssize_t n = ek_tls_read(c->tls, buf, cap, &err);
        flush_tls(c);
        if (n != 0) {
            ek_error_free(err);
            return n > 0 ? n : 0;
        }
        ssize_t r = raw_recv(c->fd, raw_buffer(c), RAW_CAP, timeout_ms);
        if (r <= 0) {
            return r;
        }
        ek_tls_feed(c->tls, raw_buffer(c), (size_t)r);
    }
}

char *ek_test_client_read_all(ek_test_client_t *c, size_t *len, int timeout_ms)
{
    ek_buf_t b = EK_BUF_INIT;
    char tmp[4096];
    ssize_t n;
    while ((n = ek_test_client_recv(c, tmp, sizeof(tmp), timeout_ms)) > 0) {
        ek_buf_append(&b, tmp, (size_t)n);
    }
    ek_buf_append(&b, "", 0);
    if (len) {
        *len = b.len;
    }
    return b.data;
}

void ek_test_client_read_n(ek_test_client_t *c, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = ek_test_client_recv(c, p, n, 5000);
        ASSERT_CMP(r, >, 0);
        p += r;
        n -= (size_t)r;
    }
}

void ek_test_client_close(ek_test_client_t *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    ek_tls_session_free(c->tls);
    free(c->raw);
    free(c->pending);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
}

/* ---- response reader ---- */

struct resp_parse {
    ek_test_response_t *r;
    bool done;
};

static int rp_field(http_parser *p, const char *at, size_t len)
{
    struct resp_parse *rp = p->data;
    ek_buf_t b = { rp->r->head, rp->r->head ? strlen(rp->r->head) : 0, 0 };
    b.cap = b.len + 1;
    ek_buf_append(&b, at, len);
    ek_buf_puts(&b, ": ");
    rp->r->head = b.data;
    return 0;
}

static int rp_value(http_parser *p, const char *at, size_t len)
{
    struct resp_parse *rp = p->data;
    ek_buf_t b = { rp->r->head, strlen(rp->r->head), 0 };
    b.cap = b.len + 1;
    ek_buf_append(&b, at, len);
    ek_buf_puts(&b, "\n");
    rp->r->head = b.data;
    return 0;
}

static int rp_body(http_parser *p, const char *at, size_t len)
{
    struct resp_parse *rp = p->data;
    ek_buf_append(&rp->r->body, at, len);
    return 0;
}

static int rp_complete(http_parser *p)
{
    struct resp_parse *rp = p->data;
    rp->done = true;
    rp->r->status = p->status_code;
    rp->r->keep_alive = http_should_keep_alive(p);
    http_parser_pause(p, 1);
    return 0;
}

int ek_test_client_response(ek_test_client_t *c, ek_test_response_t *r, int timeout_ms)
{
    static const http_parser_settings s = {
        .on_header_field = rp_field,
        .on_header_value = rp_value,
        .on_body = rp_body,
        .on_message_complete = rp_complete,
    };
    memset(r, 0, sizeof(*r));
    struct resp_parse rp = { r, false };
    http_parser p;
    http_parser_init(&p, HTTP_RESPONSE);
    p.data = &rp;
    char buf[8192];
    while (!rp.done) {
        ssize_t n = ek_test_client_recv(c, buf, sizeof(buf), timeout_ms);
        if (n <= 0) {
            http_parser_execute(&p, &s, NULL, 0);
            return rp.done ? 0 : -1;
        }
        size_t used = http_parser_execute(&p, &s, buf, (size_t)n);
        if (rp.done && used < (size_t)n) {
            /* The rest goes back in front of anything still pending. */
            size_t rest = (size_t)n - used;
            c->pending = ek_xrealloc(c->pending, c->pending_len + rest);
            memmove(c->pending + rest, c->pending, c->pending_len);
            memcpy(c->pending, buf + used, rest);
            c->pending_len += rest;
        } else if (!rp.done && HTTP_PARSER_ERRNO(&p) != HPE_OK) {
            return -1;
        }
    }
    if (!r->head) {
        r->head = ek_xstrdup("");
    }
    return 0;
}

void ek_test_response_free(ek_test_response_t *r)
{
    free(r->head);
    ek_buf_free(&r->body);
}
