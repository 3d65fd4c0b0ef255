/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS over mbedtls (TLS 1.2), as a memory-BIO engine that lib/http drives over libuv
 * streams: server configs (certificate chain + key, optional client-certificate
 * verification against a CA, SNI with per-name certificates) and client configs (CA bundle
 * or the system's, optional client certificate, server name verification).
 *
 * A config owns one entropy source + CTR_DRBG shared by all its sessions. A session belongs
 * to one thread; a config, once set up (SNI names added), may be shared across threads.
 */
#ifndef EK_LIB_TLS_H
#define EK_LIB_TLS_H

#include <sys/types.h>

#include "lib/common.h"
#include "lib/error.h"

typedef struct ek_tls_config ek_tls_config_t;
typedef struct ek_tls_session ek_tls_session_t;

/* Identity of the peer's verified certificate (client certs: authentication). */
typedef struct ek_tls_peer {
    char *common_name;    /* subject CN, "" if none */
    char **organizations; /* subject O values, NULL-terminated */
    size_t n_organizations;
} ek_tls_peer_t;

typedef enum {
    EK_TLS_CLIENT_CERT_NONE,     /* never ask */
    EK_TLS_CLIENT_CERT_OPTIONAL, /* ask; a given cert must verify (the API server: certs or
                                    tokens) */
    EK_TLS_CLIENT_CERT_REQUIRED,
} ek_tls_client_cert_mode_t;

/*
 * PEM text inputs (NUL-terminated). cert_pem may hold a chain. client_ca_pem may be NULL
 * when mode is NONE. Caller owns the result (ek_tls_config_unref).
 */
ek_tls_config_t *ek_tls_server_config_new(const char *cert_pem, const char *key_pem,
                                          const char *client_ca_pem, ek_tls_client_cert_mode_t mode,
                                          ek_error_t **err);
/* Adds a certificate served when the client's SNI matches name (wildcards "*.x" match one
 * label). Names are compared case-insensitively; the first match wins. */
int ek_tls_server_config_add_sni(ek_tls_config_t *cfg, const char *name, const char *cert_pem,
                                 const char *key_pem, ek_error_t **err);
/* ca_pem NULL = system bundle (/etc/ssl/certs/ca-certificates.crt). Client cert optional
 * (both cert_pem and key_pem, or neither). */
ek_tls_config_t *ek_tls_client_config_new(const char *ca_pem, const char *cert_pem,
                                          const char *key_pem, bool insecure_skip_verify,
                                          ek_error_t **err);
/* Reference counting (atomic): configs are shared by servers, clients and sessions. */
ek_tls_config_t *ek_tls_config_ref(ek_tls_config_t *cfg);
void ek_tls_config_unref(ek_tls_config_t *cfg);
bool ek_tls_config_is_server(const ek_tls_config_t *cfg);

/*
 * Session engine (no I/O of its own). The caller moves bytes:
 *   received ciphertext → ek_tls_feed, then ek_tls_handshake until it returns 1, then
 *   ek_tls_read until it returns 0; plaintext to send → ek_tls_write; after any of these,
 *   ek_tls_take_output returns the ciphertext to send to the peer.
 * server_name: for clients, the name to send as SNI and verify (an IP literal is matched
 * against the certificate's IP addresses instead); ignored for servers. The session holds a
 * reference on cfg. Allocates mbedtls' record buffers (~34 KiB): create sessions lazily.
 */
ek_tls_session_t *ek_tls_session_new(ek_tls_config_t *cfg, const char *server_name,
                                     ek_error_t **err);
void ek_tls_session_free(ek_tls_session_t *s);
/*
 * Offers received ciphertext. The bytes are borrowed, not copied: the caller calls
 * ek_tls_handshake / ek_tls_read until they return 0 ("need more input"), which consumes
 * all of them (mbedtls keeps a partial record itself), before the memory goes away.
 */
void ek_tls_feed(ek_tls_session_t *s, const void *data, size_t len);
/* Advances the handshake: 1 done, 0 needs more input, -1 failed (err set). */
int ek_tls_handshake(ek_tls_session_t *s, ek_error_t **err);
bool ek_tls_handshake_done(const ek_tls_session_t *s);
/* Plaintext into buf: > 0 bytes, 0 needs more input, -1 peer closed or error (err set). */
ssize_t ek_tls_read(ek_tls_session_t *s, void *buf, size_t cap, ek_error_t **err);
/* Encrypts all of data into the pending output. 0, or -1 (err set). */
int ek_tls_write(ek_tls_session_t *s, const void *data, size_t len, ek_error_t **err);
/* Ciphertext to send: a heap buffer of *len bytes the caller frees, or NULL when none. */
char *ek_tls_take_output(ek_tls_session_t *s, size_t *len);
bool ek_tls_has_output(const ek_tls_session_t *s);
/* Queues a close_notify alert (take the output afterwards). */
void ek_tls_close_notify(ek_tls_session_t *s);
/* The peer's verified certificate, or NULL (none given, or not verified). Borrowed from the
 * session, valid until it is freed. */
const ek_tls_peer_t *ek_tls_peer(ek_tls_session_t *s);
/* Deep copy (caller frees with ek_tls_peer_free); NULL for NULL. */
ek_tls_peer_t *ek_tls_peer_dup(const ek_tls_peer_t *p);
void ek_tls_peer_free(ek_tls_peer_t *p);

#endif
