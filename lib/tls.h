/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS over mbedtls (TLS 1.2+), as a memory-BIO engine that lib/http drives over libuv
 * streams: server configs (certificate chain + key, optional client-certificate
 * verification against a CA, SNI with per-name certificates) and client configs (CA bundle
 * or the system's, optional client certificate, server name verification).
 */
#ifndef EK_LIB_TLS_H
#define EK_LIB_TLS_H

#include "lib/common.h"
#include "lib/error.h"

typedef struct ek_tls_config ek_tls_config_t;
typedef struct ek_tls_session ek_tls_session_t;

/* Identity of a verified client certificate (for authentication). */
typedef struct ek_tls_peer {
    char *common_name;    /* subject CN */
    char **organizations; /* subject O values, NULL-terminated */
    size_t n_organizations;
} ek_tls_peer_t;

typedef enum {
    EK_TLS_CLIENT_CERT_NONE,     /* never ask */
    EK_TLS_CLIENT_CERT_OPTIONAL, /* ask; verify if given (the API server: certs or tokens) */
    EK_TLS_CLIENT_CERT_REQUIRED,
} ek_tls_client_cert_mode_t;

/* PEM text inputs (NUL-terminated). cert_pem may hold a chain. */
ek_tls_config_t *ek_tls_server_config_new(const char *cert_pem, const char *key_pem,
                                          const char *client_ca_pem,
                                          ek_tls_client_cert_mode_t mode, ek_error_t **err);
/* Adds a certificate served when the client's SNI matches name (wildcards "*.x" allowed). */
int ek_tls_server_config_add_sni(ek_tls_config_t *cfg, const char *name, const char *cert_pem,
                                 const char *key_pem, ek_error_t **err);
/* ca_pem NULL = system bundle (/etc/ssl/certs/ca-certificates.crt). Client cert optional. */
ek_tls_config_t *ek_tls_client_config_new(const char *ca_pem, const char *cert_pem,
                                          const char *key_pem, bool insecure_skip_verify,
                                          ek_error_t **err);
/* Reference counting: configs are shared by servers, clients and sessions. */
ek_tls_config_t *ek_tls_config_ref(ek_tls_config_t *cfg);
void ek_tls_config_unref(ek_tls_config_t *cfg);

/*
 * Session engine. Feed received ciphertext with ek_tls_feed; read plaintext with ek_tls_read;
 * write plaintext with ek_tls_write; send what ek_tls_take_output returns to the peer.
 */
ek_tls_session_t *ek_tls_session_new(ek_tls_config_t *cfg, const char *server_name,
                                     ek_error_t **err);
void ek_tls_session_free(ek_tls_session_t *s);
int ek_tls_feed(ek_tls_session_t *s, const void *data, size_t len);
/* Advances the handshake: 1 done, 0 needs more input, -1 failed (err set). */
int ek_tls_handshake(ek_tls_session_t *s, ek_error_t **err);
/* Plaintext into buf: > 0 bytes, 0 nothing yet, -1 error/closed (err set). */
ssize_t ek_tls_read(ek_tls_session_t *s, void *buf, size_t cap, ek_error_t **err);
int ek_tls_write(ek_tls_session_t *s, const void *data, size_t len, ek_error_t **err);
/* Ciphertext to send; *len bytes at the returned pointer, valid until the next call. */
const void *ek_tls_take_output(ek_tls_session_t *s, size_t *len);
void ek_tls_close_notify(ek_tls_session_t *s);
/* The verified client certificate, or NULL. Borrowed from the session. */
const ek_tls_peer_t *ek_tls_peer(ek_tls_session_t *s);
void ek_tls_peer_free(ek_tls_peer_t *p);

#endif
