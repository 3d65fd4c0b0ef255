/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the HTTP, TLS and WebSocket unit tests: a throwaway PKI made with mbedtls'
 * x509write (ECDSA P-256), a blocking loopback client (plain or TLS through lib/tls.h's
 * engine) that runs on a thread while the test's loop serves, and small readers for HTTP
 * responses and WebSocket frames. Test code only: failures end the test.
 */
#ifndef EK_TESTS_UNIT_HTTP_TESTUTIL_H
#define EK_TESTS_UNIT_HTTP_TESTUTIL_H

#include <uv.h>

#include "tests/unit/test.h"

typedef struct ek_test_cert {
    char *cert_pem;
    char *key_pem;
    char *subject; /* "CN=...,O=..." */
} ek_test_cert_t;

/* A self-signed CA. */
void ek_test_make_ca(ek_test_cert_t *ca, const char *subject);
/* A leaf signed by ca. sans: NULL or "DNS:localhost,IP:127.0.0.1". */
void ek_test_make_cert(ek_test_cert_t *out, const ek_test_cert_t *ca, const char *subject,
                       const char *sans);
void ek_test_cert_free(ek_test_cert_t *c);

/* Runs fn(arg) on a new thread while running loop, until fn returns. */
void ek_test_run_thread(uv_loop_t *loop, void (*fn)(void *arg), void *arg);
/* Runs loop until *flag is true (fails the test after timeout_ms). */
void ek_test_run_until(uv_loop_t *loop, const bool *flag, uint64_t timeout_ms);
/* Closes every handle still open on loop, runs it dry and asserts uv_loop_close == 0. */
void ek_test_loop_finish(uv_loop_t *loop);

/* A blocking client connection to 127.0.0.1 (thread side). */
typedef struct ek_test_client {
    int fd;
    ek_tls_session_t *tls;
    char *raw;     /* ciphertext fed to the engine (borrowed by it until consumed) */
    char *pending; /* plaintext received beyond what a reader wanted */
    size_t pending_len;
} ek_test_client_t;

/* Connects (and with tls, handshakes as server_name; returns -1 if the handshake fails). */
int ek_test_client_open(ek_test_client_t *c, int port, ek_tls_config_t *tls,
                        const char *server_name);
void ek_test_client_send(ek_test_client_t *c, const void *data, size_t len);
void ek_test_client_sends(ek_test_client_t *c, const char *s);
/* > 0 bytes, 0 on EOF, -1 on error or after timeout_ms without data. */
ssize_t ek_test_client_recv(ek_test_client_t *c, void *buf, size_t cap, int timeout_ms);
/* Reads until EOF (or timeout); returns what came (caller frees). */
char *ek_test_client_read_all(ek_test_client_t *c, size_t *len, int timeout_ms);
/* Reads exactly n bytes (fails the test on EOF/timeout). */
void ek_test_client_read_n(ek_test_client_t *c, void *buf, size_t n);
void ek_test_client_close(ek_test_client_t *c);

typedef struct ek_test_response {
    int status;
    char *head; /* raw header block */
    ek_buf_t body;
    bool keep_alive;
} ek_test_response_t;

/* Reads one response (status, raw head, de-chunked body); -1 on EOF/timeout first. */
int ek_test_client_response(ek_test_client_t *c, ek_test_response_t *r, int timeout_ms);
void ek_test_response_free(ek_test_response_t *r);

#endif
