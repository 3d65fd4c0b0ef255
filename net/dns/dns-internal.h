/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net/dns's private contract, shared by its files: the DNS wire format (wire.c), the index
 * of cluster records built from Kubernetes objects (records.c), the answers for the cluster
 * domain (answer.c), the cache of forwarded answers (cache.c), the upstream client
 * (forward.c) and the listeners (server.c). Tests and the fuzz target use these directly.
 *
 * Names inside the module are kept in DNS wire format (length-prefixed labels ending in a
 * zero byte, at most 255 bytes) so a query's name is never converted to text on the fast path.
 */
#ifndef EK_NET_DNS_INTERNAL_H
#define EK_NET_DNS_INTERNAL_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "net/net.h"

/* ---- wire format (wire.c) ---- */

#define EK__DNS_HDR_LEN   12
#define EK__DNS_NAME_MAX  255 /* wire length, root byte included (RFC 1035 3.1) */
#define EK__DNS_LABEL_MAX 63
#define EK__DNS_UDP_PLAIN 512 /* the limit for clients without EDNS (RFC 1035 4.2.1) */
#define EK__DNS_EDNS_SIZE                                                   \
    1232 /* what we advertise and send at most over UDP (DNS flag day 2020) \
          */
#define EK__DNS_MSG_MAX    65535
#define EK__DNS_OPT_LEN    11 /* an OPT RR without options */
#define EK__DNS_COMP_SLOTS 256

enum {
    EK__DNS_T_A = 1,
    EK__DNS_T_NS = 2,
    EK__DNS_T_CNAME = 5,
    EK__DNS_T_SOA = 6,
    EK__DNS_T_PTR = 12,
    EK__DNS_T_MX = 15,
    EK__DNS_T_TXT = 16,
    EK__DNS_T_AAAA = 28,
    EK__DNS_T_SRV = 33,
    EK__DNS_T_OPT = 41,
    EK__DNS_T_IXFR = 251,
    EK__DNS_T_AXFR = 252,
    EK__DNS_T_ANY = 255,
};
enum { EK__DNS_C_IN = 1, EK__DNS_C_ANY = 255 };
enum {
    EK__DNS_NOERROR = 0,
    EK__DNS_FORMERR = 1,
    EK__DNS_SERVFAIL = 2,
    EK__DNS_NXDOMAIN = 3,
    EK__DNS_NOTIMP = 4,
    EK__DNS_REFUSED = 5,
    EK__DNS_BADVERS = 16, /* extended: needs an OPT record to carry the upper bits */
};
/* Header flag bits (second 16-bit word). */
#define EK__DNS_F_QR     0x8000
#define EK__DNS_F_OPCODE 0x7800
#define EK__DNS_F_AA     0x0400
#define EK__DNS_F_TC     0x0200
#define EK__DNS_F_RD     0x0100
#define EK__DNS_F_RA     0x0080
#define EK__DNS_F_RCODE  0x000f

enum { EK__DNS_QD = 0, EK__DNS_AN = 1, EK__DNS_NS = 2, EK__DNS_AR = 3 };

static inline uint16_t ek__dns_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t ek__dns_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void ek__dns_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline uint8_t ek__dns_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* A name in wire format with the offset of each label, so suffixes can be compared cheaply. */
typedef struct ek__dns_name {
    uint8_t wire[EK__DNS_NAME_MAX];
    uint8_t len;     /* bytes in wire, the root byte included */
    uint8_t nlabels; /* not counting the root */
    uint8_t label[128];
} ek__dns_name_t;

/*
 * Reads the (possibly compressed) name at *off in msg into out (case kept) and advances *off
 * past it. A compression pointer must point strictly before the label that holds it, which
 * makes loops impossible; names longer than 255 bytes, labels over 63 and the reserved label
 * types are refused. Returns 0, or -1 for a malformed name.
 */
int ek__dns_read_name(const uint8_t *msg, size_t len, size_t *off, ek__dns_name_t *out);
/* Fills label offsets and counts for a wire name; -1 if it is not a valid uncompressed name. */
int ek__dns_name_index(ek__dns_name_t *n, const uint8_t *wire, size_t maxlen);
/* "foo.bar" (no escapes; a trailing dot is optional) into wire format; -1 if invalid. */
int ek__dns_name_from_text(ek__dns_name_t *n, const char *text);
/* Wire name as dotted text with a trailing dot; escapes bytes outside [a-zA-Z0-9-_*]. buf >= 1010.
 */
char *ek__dns_name_to_text(const uint8_t *wire, char *buf, size_t cap);
/* Case-insensitive equality of two uncompressed wire names. */
bool ek__dns_name_eq(const uint8_t *a, const uint8_t *b);
/* True if the last `nsuffix` labels of n equal the wire name suffix (case-insensitively). */
bool ek__dns_name_has_suffix(const ek__dns_name_t *n, const ek__dns_name_t *suffix);

/* A parsed query: one question plus what its EDNS OPT record says. */
typedef struct ek__dns_query {
    uint16_t id;
    uint16_t flags;
    ek__dns_name_t qname; /* as the client spelled it */
    uint16_t qtype;
    uint16_t qclass;
    bool edns;
    uint8_t edns_version;
    uint16_t udp_size; /* the client's advertised payload size (>= 512), 512 without EDNS */
} ek__dns_query_t;

/*
 * Parses a query. Returns 0 for a query to answer; an rcode (FORMERR, NOTIMP, BADVERS) for a
 * message to answer with that error (q->id, q->flags and, when it parsed, the question are
 * set; q->qname.len is 0 if not); -1 for a message to drop without answer: shorter than a
 * header, or a response (QR set), which must never be answered (no reflection loops).
 */
int ek__dns_parse_query(const uint8_t *msg, size_t len, ek__dns_query_t *q);

/*
 * The message writer. RRs are written one at a time into buf; an RR that would end past
 * `limit` is rolled back and the writer stops taking RRs ("full"), setting TC when the RR
 * belonged to the answer or authority section (a missing additional record is not a
 * truncation, RFC 2181 9). Names are compressed against every name written before them.
 */
typedef struct ek__dns_wr {
    uint8_t *buf;
    size_t cap;   /* bytes available in buf */
    size_t limit; /* RRs must end at or before this (room for OPT is kept after it) */
    size_t len;
    uint16_t count[4];
    bool full;      /* an RR did not fit: nothing more is added */
    bool truncated; /* ... and it was a required one: TC */
    bool compress;
    size_t rr_start;
    size_t rr_rdlen_at;
    int rr_section;
    unsigned rr_ncomp;
    unsigned ncomp;
    uint16_t comp[EK__DNS_COMP_SLOTS]; /* offsets of labels written uncompressed */
} ek__dns_wr_t;

void ek__dns_wr_init(ek__dns_wr_t *w, uint8_t *buf, size_t cap, size_t limit);
/* Header with zero counts; call first. */
void ek__dns_wr_header(ek__dns_wr_t *w, uint16_t id, uint16_t flags);
/* The question. Its name is what answer owners point at (owner NULL below). */
void ek__dns_wr_question(ek__dns_wr_t *w, const uint8_t *name, uint16_t qtype, uint16_t qclass);
/*
 * Starts an RR in section (AN, NS, AR; in that order). owner NULL means the question's name.
 * Returns false when the writer is full: skip the RR (do not call ek__dns_wr_rr_end).
 */
bool ek__dns_wr_rr_begin(ek__dns_wr_t *w, int section, const uint8_t *owner, uint16_t type,
                         uint16_t klass, uint32_t ttl);
/* Rdata pieces. */
void ek__dns_wr_name(ek__dns_wr_t *w, const uint8_t *name, bool compress);
void ek__dns_wr_u16(ek__dns_wr_t *w, uint16_t v);
void ek__dns_wr_u32(ek__dns_wr_t *w, uint32_t v);
void ek__dns_wr_bytes(ek__dns_wr_t *w, const void *p, size_t n);
/* Ends the RR; false if it did not fit and was rolled back. */
bool ek__dns_wr_rr_end(ek__dns_wr_t *w);
/*
 * Copies the rdata of an RR of `type` found at msg[rdoff..rdoff+rdlen): names inside rdata of
 * the types that carry them are decompressed and written again (compressed only where RFC
 * 1035/3597 allow). Returns -1 if the rdata is malformed.
 */
int ek__dns_wr_rdata(ek__dns_wr_t *w, uint16_t type, const uint8_t *msg, size_t msglen,
                     size_t rdoff, size_t rdlen);
/*
 * Finishes: writes the counts, TC if truncated, the rcode's low bits and, when edns, an OPT
 * RR advertising EK__DNS_EDNS_SIZE with the rcode's upper bits. Returns the message length.
 */
size_t ek__dns_wr_finish(ek__dns_wr_t *w, int rcode, bool edns);

/* One RR as ek__dns_rr_next found it; rdata stays in the message. */
typedef struct ek__dns_rr {
    ek__dns_name_t name;
    uint16_t type;
    uint16_t klass;
    uint32_t ttl;
    uint16_t rdlen;
    size_t rdoff;
} ek__dns_rr_t;

/* Reads the RR at *off (advancing past its rdata); -1 if malformed or past len. */
int ek__dns_rr_next(const uint8_t *msg, size_t len, size_t *off, ek__dns_rr_t *rr);

/* The size limit for an answer to q over UDP (512, or the EDNS size capped at ours). */
size_t ek__dns_udp_limit(const ek__dns_query_t *q);
/* Writes a header-and-question answer carrying only rcode (FORMERR, SERVFAIL, ...). */
size_t ek__dns_error_reply(const ek__dns_query_t *q, int rcode, uint8_t *out, size_t cap);

/* ---- addresses ---- */

typedef struct ek__dns_ip {
    uint8_t fam; /* 4 or 6; 0 = none */
    uint8_t a[16];
} ek__dns_ip_t;

/* Parses a textual IPv4/IPv6 address; -1 if invalid. */
int ek__dns_ip_parse(const char *s, ek__dns_ip_t *ip);
/* Canonical text (inet_ntop); buf >= 46. */
const char *ek__dns_ip_text(const ek__dns_ip_t *ip, char *buf, size_t cap);
/*
 * The address a reverse name (d.c.b.a.in-addr.arpa, nibbles.ip6.arpa) stands for; -1 if the
 * name is not a complete address in those zones.
 */
int ek__dns_ip_from_reverse(const ek__dns_name_t *n, ek__dns_ip_t *ip);

/* ---- the index of cluster records (records.c) ---- */

enum { EK__DNS_SVC_CLUSTERIP, EK__DNS_SVC_HEADLESS, EK__DNS_SVC_EXTERNAL };
enum { EK__DNS_PROTO_TCP, EK__DNS_PROTO_UDP, EK__DNS_PROTO_SCTP, EK__DNS_PROTO_OTHER };

typedef struct ek__dns_port {
    char *name;   /* "" when unnamed; lowercase */
    int32_t port; /* -1: an endpoint slice without ports (addresses only) */
    uint8_t proto;
} ek__dns_port_t;

typedef struct ek__dns_svc {
    char *ns, *name;
    uint8_t kind;
    uint8_t nips;
    ek__dns_ip_t ips[2]; /* spec.clusterIPs */
    ek__dns_name_t ext;  /* spec.externalName, lowercase (EXTERNAL only) */
    bool ext_is_ip;      /* an IP there answers nothing, as CoreDNS */
    size_t nports;
    ek__dns_port_t *ports;
} ek__dns_svc_t;

typedef struct ek__dns_ep {
    ek__dns_ip_t ip;
    char *hostname; /* endpoint hostname, or NULL */
    char *pod;      /* targetRef name when it is a Pod, or NULL */
} ek__dns_ep_t;

typedef struct ek__dns_slice {
    char *key;     /* "ns/name" */
    char *svc_key; /* "svc.ns": the bucket it belongs to, or NULL without a service-name label */
    struct ek__dns_slice *next; /* in the bucket */
    size_t nports;
    ek__dns_port_t *ports;
    size_t neps; /* ready endpoints only */
    ek__dns_ep_t *eps;
} ek__dns_slice_t;

/* What a service name leads to: the Service (if known) and its EndpointSlices. */
typedef struct ek__dns_bucket {
    ek__dns_svc_t *svc;
    ek__dns_slice_t *slices;
} ek__dns_bucket_t;

typedef struct ek__dns_pod {
    char *ns, *name;
    char *hostname, *subdomain;
    size_t nips;
    ek__dns_ip_t *ips;
} ek__dns_pod_t;

/* One reverse (PTR) entry: which objects use an address. Rebuilt lazily after changes. */
typedef struct ek__dns_rev {
    const ek__dns_svc_t *svc; /* first service with this cluster IP */
    size_t neps;
    struct ek__dns_rev_ep {
        const char *bucket_key; /* "svc.ns" */
        const ek__dns_ep_t *ep;
    } * eps;
    const ek__dns_pod_t *pod;
} ek__dns_rev_t;

typedef struct ek__dns_index {
    ek_map_t namespaces; /* name -> (void *)1 */
    ek_map_t buckets;    /* "svc.ns" -> ek__dns_bucket_t */
    ek_map_t slices;     /* "ns/name" -> ek__dns_slice_t */
    ek_map_t pods;       /* "ns/name" -> ek__dns_pod_t */
    ek_map_t rev;        /* canonical IP text -> ek__dns_rev_t (lazy) */
    bool rev_dirty;
    uint32_t serial; /* SOA serial: wall-clock seconds of the last change */
} ek__dns_index_t;

void ek__dns_index_init(ek__dns_index_t *ix);
void ek__dns_index_free(ek__dns_index_t *ix);
/* Borrowed; NULL if unknown. key is "svc.ns" lowercase. */
ek__dns_bucket_t *ek__dns_index_bucket(ek__dns_index_t *ix, const char *key);
bool ek__dns_index_has_ns(ek__dns_index_t *ix, const char *ns);
const ek__dns_pod_t *ek__dns_index_pod(ek__dns_index_t *ix, const char *ns, const char *name);
/* The reverse entry for ip (rebuilding the reverse map first if needed); NULL if none. */
const ek__dns_rev_t *ek__dns_index_rev(ek__dns_index_t *ix, const ek__dns_ip_t *ip);
/*
 * The DNS label of an endpoint (CoreDNS endpointHostname): its hostname, else the hostname of
 * its Pod when that Pod's subdomain is the service, else its address with dashes. buf >= 64.
 */
const char *ek__dns_ep_label(ek__dns_index_t *ix, const char *ns, const char *svc,
                             const ek__dns_ep_t *ep, char *buf, size_t cap);

/* ---- answers for the cluster domain (answer.c) ---- */

/* What the server does with a query after ek__dns_answer. */
enum {
    EK__DNS_ANSWERED, /* the reply is in the writer */
    EK__DNS_FORWARD,  /* not ours: forward the question upstream */
    EK__DNS_CHASE,    /* an ExternalName: reply = CNAME + the upstream answer for the target */
};

typedef struct ek__dns_settings {
    ek__dns_name_t domain; /* lowercase, e.g. cluster.local */
    uint32_t ttl;
    size_t n_ns_ips;
    ek__dns_ip_t ns_ips[4];
} ek__dns_settings_t;

/*
 * Answers q from the index, writing the whole reply into w (already initialised with its size
 * limit). For EK__DNS_CHASE, *target is the name to look up upstream (same qtype).
 */
int ek__dns_answer(ek__dns_index_t *ix, const ek__dns_settings_t *st, const ek__dns_query_t *q,
                   ek__dns_wr_t *w, ek__dns_name_t *target);

/* ---- cache of forwarded answers (cache.c) ---- */

typedef struct ek__dns_cache ek__dns_cache_t;
typedef struct ek__dns_centry {
    const uint8_t *msg; /* the upstream response, validated */
    size_t len;
    uint64_t expires_ms;
} ek__dns_centry_t;

/* max_entries and max_bytes bound it (least recently used entries go first). */
ek__dns_cache_t *ek__dns_cache_new(size_t max_entries, size_t max_bytes, uint32_t max_ttl);
void ek__dns_cache_free(ek__dns_cache_t *c);
/* The live entry for the question, or NULL (an expired one is dropped). Borrowed until the next
 * cache call. */
const ek__dns_centry_t *ek__dns_cache_get(ek__dns_cache_t *c, const uint8_t *name, uint16_t type,
                                          uint16_t klass, uint64_t now_ms);
/*
 * The time a response may be cached, in seconds: the smallest TTL of its answer and authority
 * RRs for a positive answer; for NXDOMAIN/NODATA the SOA's min(TTL, MINIMUM) (RFC 2308 5), no
 * SOA meaning do not cache; capped at max_ttl. 0 = do not cache. -1 if the message is malformed.
 */
int ek__dns_cache_ttl(const uint8_t *msg, size_t len, uint32_t max_ttl);
/* Stores a validated response for the question (copied). */
void ek__dns_cache_put(ek__dns_cache_t *c, const uint8_t *name, uint16_t type, uint16_t klass,
                       const uint8_t *msg, size_t len, uint32_t ttl_s, uint64_t now_ms);
size_t ek__dns_cache_count(const ek__dns_cache_t *c);

/*
 * Writes the reply for q built from an upstream response: the client's id and question, the
 * response's rcode and sections (OPT dropped; ours added per the client), every TTL set to
 * ttl (or kept when ttl is UINT32_MAX). When cname is not NULL the reply starts with
 * `qname CNAME cname` (TTL cname_ttl): the ExternalName case. Returns the length, or 0 if the
 * response is malformed.
 */
size_t ek__dns_reply_from_upstream(const ek__dns_query_t *q, const uint8_t *resp, size_t rlen,
                                   uint32_t ttl, const uint8_t *cname, uint32_t cname_ttl,
                                   uint8_t *out, size_t cap, size_t limit);

/* ---- the server (server.c, forward.c) ---- */

typedef struct ek__dns_listener {
    ek_dns_t *d;
    uv_udp_t udp;
    uv_tcp_t tcp;
    int port;
    int open;    /* handles not yet closed */
    bool failed; /* could not listen: freed by its close callbacks */
} ek__dns_listener_t;

/* A TCP client connection: queries framed by a 2-byte length (RFC 1035 4.2.2, RFC 7766). */
typedef struct ek__dns_conn {
    ek_dns_t *d;
    uv_tcp_t tcp;
    uv_timer_t idle;
    int handles;
    bool closing;
    struct ek__dns_conn *prev, *next;
    struct ek__dns_waiter *waiters; /* forwarded queries still owed an answer */
    uint8_t *buf;
    size_t len, cap;
} ek__dns_conn_t;

/* A client waiting for an upstream answer. */
typedef struct ek__dns_waiter {
    struct ek__dns_waiter *next;                  /* in its pending question */
    struct ek__dns_waiter *conn_prev, *conn_next; /* in its TCP connection */
    ek__dns_query_t q;
    ek__dns_listener_t *l; /* UDP: where it came in */
    ek__dns_conn_t *conn;  /* TCP: its connection, NULL once that closed */
    bool tcp;
    bool chase; /* ExternalName: the reply starts with q.qname CNAME cname */
    ek__dns_name_t cname;
    struct sockaddr_storage peer;
} ek__dns_waiter_t;

typedef struct ek__dns_upstream {
    ek_dns_t *d;
    int idx;
    struct sockaddr_storage addr;
    char text[64];
    uv_udp_t udp; /* connected to addr, so ICMP errors come back as read errors */
    bool udp_ok;
} ek__dns_upstream_t;

typedef struct ek__dns_tcpq ek__dns_tcpq_t;

/* A question sent upstream; later clients asking the same wait on it (coalescing). */
typedef struct ek__dns_pending {
    ek_dns_t *d;
    struct ek__dns_pending *id_next, *key_next; /* hash chains */
    struct ek__dns_pending *prev, *next;        /* all pendings */
    uint16_t id;
    uint64_t key;
    ek__dns_name_t qname; /* lowercase */
    uint16_t qtype, qclass;
    int up, tries;
    bool no_edns;   /* the upstream refused our OPT: asking again without */
    bool timed_out; /* some try ended in a timeout */
    uv_timer_t timer;
    ek__dns_waiter_t *waiters;
    ek__dns_tcpq_t *tcp;
} ek__dns_pending_t;

#define EK__DNS_PEND_SLOTS 1024
#define EK__DNS_BATCH      4 /* datagrams per recvmmsg (libuv gives each 64 KiB) */
#define EK__DNS_RECV_BUF   (EK__DNS_BATCH * 64 * 1024)

struct ek_dns {
    uv_loop_t *loop;
    ek__dns_index_t ix;
    ek__dns_settings_t st;
    ek__dns_cache_t *cache;
    uint32_t max_ttl;
    uint32_t timeout_ms;
    ek__dns_listener_t **listeners;
    size_t nlisteners;
    ek__dns_upstream_t *ups;
    size_t nups;
    int prefer; /* the upstream that answered last */
    ek__dns_pending_t *by_id[EK__DNS_PEND_SLOTS];
    ek__dns_pending_t *by_key[EK__DNS_PEND_SLOTS];
    ek__dns_pending_t *pendings;
    size_t npending;
    ek__dns_conn_t *conns;
    size_t nconns;
    int handles; /* open libuv handles; the server is freed when closing and this is 0 */
    bool closing;
    void (*done)(void *);
    void *done_data;
    ek_dns_stats_t stats;
    uint8_t rnd[256];
    size_t rnd_left;
    struct {
        ek__dns_listener_t *l;
        size_t n;
        size_t len[EK__DNS_BATCH];
        struct sockaddr_storage peer[EK__DNS_BATCH];
        uint8_t buf[EK__DNS_BATCH][EK__DNS_EDNS_SIZE];
    } batch;                          /* UDP replies waiting for the end of their recvmmsg batch */
    uint8_t out[EK__DNS_MSG_MAX + 2]; /* replies are built here (2 bytes for TCP framing) */
    uint8_t rbuf[EK__DNS_RECV_BUF];   /* reads land here */
};

/*
 * Handles one message as the listeners do: returns the length of a reply written to out (0:
 * nothing to send now) and sets *action: EK__DNS_ANSWERED (out holds it, or the message is
 * dropped), or EK__DNS_FORWARD/EK__DNS_CHASE when the caller must ask upstream (q and target
 * say what). Cluster answers and cache hits never leave this function.
 */
size_t ek__dns_handle(ek_dns_t *d, const uint8_t *msg, size_t len, bool tcp, uint8_t *out,
                      size_t cap, int *action, ek__dns_query_t *q, ek__dns_name_t *target);
ek__dns_index_t *ek__dns_index(ek_dns_t *d);
/* Sends a reply to a waiter's client (UDP datagram or TCP frame). */
void ek__dns_send(ek_dns_t *d, ek__dns_waiter_t *w, const uint8_t *msg, size_t len);
void ek__dns_send_udp(ek__dns_listener_t *l, const struct sockaddr *peer, const uint8_t *msg,
                      size_t len);
void ek__dns_conn_send(ek__dns_conn_t *c, const uint8_t *msg, size_t len);
/* A handle of d finished closing (every close callback ends with this). */
void ek__dns_handle_gone(ek_dns_t *d);
/* "IP", "IP:PORT", "[IPv6]:PORT" or a bare IPv6 address. */
int ek__dns_parse_addr(const char *s, int default_port, struct sockaddr_storage *ss,
                       ek_error_t **err);

/* forward.c */
int ek__dns_upstreams_init(ek_dns_t *d, const ek_strlist_t *ups, ek_error_t **err);
/* Asks upstream for q's question (or target's, for a chase) on behalf of a client; the waiter's
 * client fields are copied from w. Answers SERVFAIL at once when there is no upstream. */
void ek__dns_forward(ek_dns_t *d, const ek__dns_waiter_t *w, const ek__dns_name_t *target);
void ek__dns_forward_close(ek_dns_t *d);
/* Detaches a closing TCP connection from the waiters that would answer on it. */
void ek__dns_conn_detach(ek__dns_conn_t *c);
/* Answers a waiter when no upstream could: SERVFAIL, or the bare CNAME for a chase. */
void ek__dns_reply_failure(ek_dns_t *d, ek__dns_waiter_t *w);
/* That reply for q (cname: the chase's target, or NULL) written to out (EK__DNS_MSG_MAX). */
size_t ek__dns_failure_reply(ek_dns_t *d, const ek__dns_query_t *q, const uint8_t *cname, bool tcp,
                             uint8_t *out);

#endif
