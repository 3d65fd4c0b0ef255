/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server/: the control plane — apiserver/ (REST API), auth/ (PKI, tokens, RBAC),
 * controllers/, scheduler/. This is the part's one public header.
 */
#ifndef EK_SERVER_SERVER_H
#define EK_SERVER_SERVER_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- auth: PKI and credentials (server/auth/pki.c) ---- */

/*
 * The cluster PKI in <data-dir>/server/tls (ECDSA P-256 throughout, as k3s):
 *   server-ca.crt/.key        the cluster CA (10 years); signs every other certificate
 *   serving.crt/.key          the API server's certificate (leaf + CA chain)
 *   client-admin.crt/.key     CN=system:admin, O=system:masters (leaf + CA chain)
 *   service-account.key/.pub  signs service-account JWTs
 * Keys are 0600; every file is replaced atomically. Loading checks what is on disk and
 * regenerates only what is missing, broken, not signed by the CA, near expiry (less than
 * renew_days left) or, for the serving certificate, carrying a different SAN set; a warm
 * start writes nothing. A missing CA certificate means a new cluster: everything is created.
 * A CA certificate without its key, or an unreadable CA or service-account key, is an error
 * rather than a silent rotation: nodes and tokens already trust them.
 *
 * An ek_pki_t is not thread-safe (its DRBG and the EC groups' caches change on use): one
 * thread at a time, the loop thread in the server. All calls block on files and crypto.
 */
typedef struct ek_pki ek_pki_t;

typedef struct ek_pki_options {
    const char *dir;             /* <data-dir>/server/tls; created 0700 */
    const char *hostname;        /* NULL = gethostname() */
    const char *node_name;       /* --node-name, added as a DNS SAN; NULL if none */
    const char *const *node_ips; /* --node-ip; none = every up, non-loopback, global address */
    size_t n_node_ips;
    const char *const *tls_sans; /* --tls-san: DNS names and IP addresses mixed */
    size_t n_tls_sans;
    const char *service_ip;     /* the `kubernetes` Service's ClusterIP; NULL = 10.43.0.1 */
    const char *cluster_domain; /* NULL = cluster.local */
    int ca_days;                /* 0 = 3650 */
    int leaf_days;              /* 0 = 365 */
    int renew_days;             /* 0 = 90 (k3s's rule) */
} ek_pki_options_t;

/* What the last load had to write (ek_pki_generated); 0 on a warm start. */
enum {
    EK_PKI_GEN_CA = 1u << 0,
    EK_PKI_GEN_SERVING = 1u << 1,
    EK_PKI_GEN_ADMIN = 1u << 2,
    EK_PKI_GEN_SA_KEY = 1u << 3,
};

/* Loads the PKI from opts->dir, creating or renewing what needs it. *out: caller frees. */
int ek_pki_load_or_create(const ek_pki_options_t *opts, ek_pki_t **out, ek_error_t **err);
void ek_pki_free(ek_pki_t *pki);
EK_DEFINE_CLEANUP(ek_pki_t, ek_pki_free)
unsigned ek_pki_generated(const ek_pki_t *pki);

/* Borrowed PEM text, valid until ek_pki_free. */
const char *ek_pki_ca_cert_pem(const ek_pki_t *pki); /* exactly server-ca.crt: serve as /cacerts */
const char *ek_pki_serving_cert_pem(const ek_pki_t *pki); /* leaf, then the CA */
const char *ek_pki_serving_key_pem(const ek_pki_t *pki);
const char *ek_pki_admin_cert_pem(const ek_pki_t *pki); /* leaf, then the CA */
const char *ek_pki_admin_key_pem(const ek_pki_t *pki);
const char *ek_pki_sa_public_key_pem(const ek_pki_t *pki); /* PKIX "PUBLIC KEY" */
/* Lowercase hex SHA-256 of ek_pki_ca_cert_pem()'s bytes, as k3s hashes /cacerts. Borrowed. */
const char *ek_pki_ca_hash(const ek_pki_t *pki);

/*
 * Issues a client certificate (clientAuth) for a fresh P-256 key: subject CN=cn and one O= per
 * orgs entry (at most 8). days 0 = the PKI's leaf validity. *cert_pem (leaf, then the CA) and
 * *key_pem: caller frees.
 */
int ek_pki_issue_client_cert(ek_pki_t *pki, const char *cn, const char *const *orgs, size_t n_orgs,
                             int days, char **cert_pem, char **key_pem, ek_error_t **err);

/*
 * Issues a serving certificate (serverAuth) for a fresh P-256 key: CN=cn, SANs from sans (IP
 * addresses and DNS names mixed; at least one). For kubelet endpoints. days 0 = the PKI's leaf
 * validity. *cert_pem (leaf, then the CA) and *key_pem: caller frees.
 */
int ek_pki_issue_serving_cert(ek_pki_t *pki, const char *cn, const char *const *sans, size_t n_sans,
                              int days, char **cert_pem, char **key_pem, ek_error_t **err);

/*
 * What a CSR may become. The signer decides, the CSR only proposes: its self-signature must
 * verify, its subject must hold exactly one CN (equal to cn when cn is set) and exactly the
 * O values in orgs (any order; none when n_orgs is 0) and nothing else, or it is refused
 * (status 403 for a policy mismatch, 400 for a malformed CSR). SAN requests in the CSR are
 * ignored: a serving certificate gets the sans given here.
 */
typedef struct ek_pki_csr_policy {
    const char *cn; /* required CN, e.g. "system:node:pi-1"; NULL accepts any */
    const char *const *orgs;
    size_t n_orgs;
    bool server;             /* serverAuth (needs sans) instead of clientAuth */
    const char *const *sans; /* DNS names and IPs mixed */
    size_t n_sans;
    int days;        /* 0 = the PKI's leaf validity */
    int64_t seconds; /* when > 0: the validity in seconds instead (a CSR's expirationSeconds) */
} ek_pki_csr_policy_t;

/* What a CSR asks for, as an approver reads it (server/auth/csr.c). */
typedef struct ek_pki_csr_info {
    char *cn;               /* the first CN, or NULL */
    int n_cn;               /* how many CN values the subject has */
    ek_strlist_t orgs;      /* O values, in order */
    size_t n_other_subject; /* subject attributes other than CN and O */
    ek_strlist_t dns;       /* DNS SANs */
    ek_strlist_t ips;       /* IP SANs, as text */
    size_t n_other_sans;    /* email, URI and other SANs */
    const char *key_type;   /* "ecdsa", "rsa" or "other"; static */
} ek_pki_csr_info_t;
/* Parses a PEM CSR (its self-signature is the signer's business). Errors have status 400.
 * *out: clear with ek_pki_csr_info_clear. */
int ek_pki_csr_inspect(const char *csr_pem, ek_pki_csr_info_t *out, ek_error_t **err);
void ek_pki_csr_info_clear(ek_pki_csr_info_t *info);

/* Signs a PKCS#10 CSR (PEM) under policy. *cert_pem (leaf, then the CA): caller frees. */
int ek_pki_sign_csr(ek_pki_t *pki, const char *csr_pem, const ek_pki_csr_policy_t *policy,
                    char **cert_pem, ek_error_t **err);

/* Kubeconfigs are rendered by ek_kubeconfig_render (api/api.h). */
/*
 * Writes the admin kubeconfig to path (--write-kubeconfig) with exactly mode
 * (--write-kubeconfig-mode), creating its directory (0755). An identical file is left alone
 * (only its mode is fixed), so restarts do not wear the SD card.
 */
int ek_pki_write_kubeconfig(const ek_pki_t *pki, const char *path, mode_t mode,
                            const char *server_url, const char *name, ek_error_t **err);

/* Join token (server/auth/token.c). */

/*
 * The server token at path (<data-dir>/server/token, 0600) in k3s's secure form
 * `K10<ek_pki_ca_hash>::server:<32 hex>`, created with a DRBG secret when missing. A file
 * holding a bare secret or `user:secret` is upgraded to the secure form (user "server"); one
 * whose CA hash names another CA is an error. *token: caller frees.
 */
int ek_pki_token_load_or_create(ek_pki_t *pki, const char *path, char **token, ek_error_t **err);
/*
 * Sets the server token from a given one (--token / --token-file / EDGEK_TOKEN): the file is
 * written in the secure form with its secret (user "server" unless it names one) when it
 * holds something else. A given token naming another CA is an error. *token: caller frees.
 */
int ek_pki_token_set(ek_pki_t *pki, const char *path, const char *given, char **token,
                     ek_error_t **err);
/*
 * Splits a token the way k3s does (ek_join_token_parse): `K10<hash>::<user>:<secret>` (hash 64
 * hex or empty), `K10<hash>::<id>.<secret>` (a bootstrap token, returned whole as the secret)
 * or a bare secret. Surrounding whitespace is ignored. Outputs (each may be NULL to skip): *ca_hash
 * lowercase or NULL when absent, *user NULL when empty, *secret never empty; caller frees.
 * Errors have status 400.
 */
int ek_pki_token_parse(const char *str, char **ca_hash, char **user, char **secret,
                       ek_error_t **err);

/*
 * Node passwords (k3s's scheme: an agent proves it is the node that first joined under a name):
 * stored as "sha256$<salt hex>$<SHA-256 of salt and password, hex>". The hash: caller frees.
 * Checking takes constant time in the digest.
 */
char *ek_pki_password_hash(ek_pki_t *pki, const char *password, ek_error_t **err);
bool ek_pki_password_check(const char *hash, const char *password);

/* Service-account tokens (server/auth/jwt.c). */

/*
 * Compact JWS, as kube-apiserver issues them: header {"alg":"ES256","kid":<base64url SHA-256
 * of the public key's DER>}, ECDSA P-256 with SHA-256, signature r||s (64 bytes, not DER).
 * claims must be an object; *token: caller frees.
 */
int ek_jwt_sign(ek_pki_t *pki, const json_t *claims, char **token, ek_error_t **err);
/*
 * Checks alg (ES256 only), kid (when present), the signature, then exp (required), nbf and
 * iat against now (Unix seconds) with kube-apiserver's 60 s leeway. The caller checks iss,
 * aud and that the service account (and pod) still exist. *claims: caller owns.
 * Errors have status 401 and kube-apiserver's wording.
 */
int ek_jwt_verify(ek_pki_t *pki, const char *token, int64_t now, json_t **claims, ek_error_t **err);

/* The claims of a bound service-account token (TokenRequest). */
typedef struct ek_jwt_sa {
    const char *issuer;           /* NULL = https://kubernetes.default.svc.cluster.local */
    const char *const *audiences; /* none = { issuer } */
    size_t n_audiences;
    const char *ns, *name, *uid;    /* the ServiceAccount */
    const char *pod_name, *pod_uid; /* the pod it is bound to, or NULL */
    int64_t now;                    /* iat and nbf */
    int64_t ttl_s;                  /* exp = now + ttl_s; 0 = 3600 */
} ek_jwt_sa_t;
/* iss, sub system:serviceaccount:<ns>:<name>, aud, exp, iat, nbf, kubernetes.io. Caller owns. */
json_t *ek_jwt_sa_claims(const ek_jwt_sa_t *sa);

/* ---- controllers (server/controllers) ---- */

typedef struct ek_controllers ek_controllers_t;

typedef struct ek_controllers_options {
    int64_t node_monitor_grace_ms; /* heartbeat age before a node is NotReady; default 40000 */
    int64_t pod_eviction_ms;       /* default toleration of unreachable/not-ready: 300000 (the
                                      API server writes it into new pods; eviction follows
                                      each pod's own tolerations) */
    int64_t gc_interval_ms;        /* resync of the garbage collector; default 30000 */
    const char *cluster_cidr; /* node pod ranges (/24 each) come from it; default 10.42.0.0/16 */
    ek_pki_t *pki; /* signs approved CSRs (borrowed, loop thread); NULL = no CSR signing */
    const char *root_ca_pem; /* published as kube-root-ca.crt in every namespace
                                (copied; NULL: nothing is published) */
} ek_controllers_options_t;

/* Starts every controller on client's loop (informers first, syncs once they have listed).
 * The controllers own the client from here on. */
int ek_controllers_start(ek_api_client_t *client, const ek_controllers_options_t *opts,
                         ek_controllers_t **out, ek_error_t **err);
/* Stops syncing, frees the informers and the client, then everything else; cb when done. */
void ek_controllers_stop(ek_controllers_t *c, void (*cb)(void *data), void *data);

/* ---- the server process (server/apiserver/) ---- */

typedef struct ek_pki ek_pki_t;
typedef struct ek_apiserver ek_apiserver_t;

typedef struct ek_apiserver_options {
    const char *data_dir;       /* <data-dir>; the store lives in <data-dir>/server/db */
    const char *bind_address;   /* default "0.0.0.0" */
    int port;                   /* default 6443 */
    const char *service_cidr;   /* default 10.43.0.0/16 */
    const char *cluster_cidr;   /* default 10.42.0.0/16 */
    const char *cluster_dns;    /* default 10.43.0.10 */
    const char *cluster_domain; /* default cluster.local */
    int node_port_min, node_port_max;
    int64_t volatile_flush_ms;
    size_t watch_window; /* events kept per resource for watches from the past */
    int64_t event_ttl_s; /* default 3600 */
    /* tolerationSeconds of the not-ready/unreachable NoExecute tolerations that the
     * DefaultTolerationSeconds admission adds to new pods; default 300 */
    int64_t default_toleration_s;
    bool kv_no_sync;   /* benchmarks only */
    const char *token; /* the server token (join token), any form ek_join_token_parse reads;
                          NULL = only bootstrap tokens join */
} ek_apiserver_options_t;

/* Opens the store, loads the cache, creates first-start objects and starts serving HTTPS
 * with tls (borrowed; must outlive the server). Loop thread only. */
int ek_apiserver_start(uv_loop_t *loop, const ek_apiserver_options_t *opts, ek_pki_t *pki,
                       ek_tls_config_t *tls, ek_apiserver_t **out, ek_error_t **err);
/* The bound port (when 0 was asked). */
int ek_apiserver_port(const ek_apiserver_t *s);
/* An API client for components in this process: requests go to the handlers directly (no
 * HTTP, no TLS), authenticated as user name in groups (NULL-terminated list). Free it with
 * ek_api_client_free before closing the server. */
ek_api_client_t *ek_apiserver_client(ek_apiserver_t *s, const char *user,
                                     const char *const *groups);
/* Stops serving, ends watches, flushes and closes the store, then calls cb. */
void ek_apiserver_close(ek_apiserver_t *s, void (*cb)(void *data), void *data);

#endif
