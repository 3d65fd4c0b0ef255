/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/image's private interface: digests, byte streams with transparent decompression and
 * size limits, the tar reader, layer unpacking, manifest parsing, the store's record layer
 * (index.json under an flock) and the registry configuration. Only the files in node/image, the
 * unit tests and the fuzz targets include this.
 */
#ifndef EK_NODE_IMAGE_INTERNAL_H
#define EK_NODE_IMAGE_INTERNAL_H

#include <sys/types.h>

#include "node/node.h"

/* ---- digests (digest.c) ---- */

typedef struct ek__sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
} ek__sha256_t;
void ek__sha256_init(ek__sha256_t *c);
void ek__sha256_update(ek__sha256_t *c, const void *data, size_t len);
/* Writes "sha256:<64 hex>" (72 bytes with the NUL) into out. */
void ek__sha256_final(ek__sha256_t *c, char out[static 72]);
/* One-shot digest of a buffer into out. */
void ek__sha256_digest(const void *data, size_t len, char out[static 72]);
/* "sha256:<64 lowercase hex>" — the only algorithm the store accepts. */
bool ek__digest_valid(const char *d);
/* The hex part of a valid digest. Borrowed from d. */
static inline const char *ek__digest_hex(const char *d)
{
    return d + 7;
}

/* ---- byte streams (stream.c) ---- */

typedef enum { EK_CODEC_NONE, EK_CODEC_GZIP, EK_CODEC_ZSTD } ek__codec_t;

/*
 * Reads a region of a file (pread: several streams may share one fd) and, if the first bytes
 * are a gzip or zstd magic, decompresses it. Optional digests of the raw bytes and of the
 * decompressed output; a limit on the output size (decompression bombs).
 */
typedef struct ek__stream ek__stream_t;
/* len UINT64_MAX = up to EOF. fd is borrowed. Caller frees. */
ek__stream_t *ek__stream_new(int fd, uint64_t off, uint64_t len, bool decompress);
void ek__stream_free(ek__stream_t *s);
void ek__stream_hash_raw(ek__stream_t *s, bool on);
void ek__stream_hash_out(ek__stream_t *s, bool on);
void ek__stream_limit(ek__stream_t *s, uint64_t max_out);
/* > 0 bytes, 0 at the end, -1 with err. */
ssize_t ek__stream_read(ek__stream_t *s, void *buf, size_t n, ek_error_t **err);
/* Skips n output bytes (seeks when the stream neither decompresses nor hashes). */
int ek__stream_skip(ek__stream_t *s, uint64_t n, ek_error_t **err);
/* Reads to the end (so digests cover everything). */
int ek__stream_drain(ek__stream_t *s, ek_error_t **err);
/* Reads the rest of the raw input without decoding it (to check the raw digest after a
 * decoding error: a corrupt blob is better reported as a digest mismatch). */
int ek__stream_drain_raw(ek__stream_t *s, ek_error_t **err);
ek__codec_t ek__stream_codec(ek__stream_t *s);
/* Output bytes so far; raw bytes consumed so far. */
uint64_t ek__stream_out_bytes(const ek__stream_t *s);
uint64_t ek__stream_raw_bytes(const ek__stream_t *s);
/* Digests (valid after the end was reached). */
void ek__stream_raw_digest(ek__stream_t *s, char out[static 72]);
void ek__stream_out_digest(ek__stream_t *s, char out[static 72]);
/* Adapter for the tar reader: ctx is an ek__stream_t. */
ssize_t ek__stream_read_cb(void *ctx, void *buf, size_t n, ek_error_t **err);
int ek__stream_skip_cb(void *ctx, uint64_t n, ek_error_t **err);

/* ---- tar reader (tar.c) ---- */

typedef struct ek__tar_xattr {
    char *name;
    char *value;
    size_t len;
} ek__tar_xattr_t;

typedef struct ek__tar_entry {
    char *path;    /* as in the archive (PAX/GNU long names applied) */
    char *link;    /* symlink target or hard link source, "" if none */
    char type;     /* '0' file, '1' hard link, '2' symlink, '3' char, '4' block, '5' dir, '6'
                      fifo */
    uint32_t mode; /* permission bits incl. setuid/setgid/sticky */
    uint32_t uid, gid;
    uint64_t size; /* data bytes */
    int64_t mtime; /* seconds */
    uint32_t mtime_nsec;
    uint32_t devmajor, devminor;
    ek__tar_xattr_t *xattrs;
    size_t n_xattrs;
    uint64_t data_offset; /* offset of the data in the tar stream */
} ek__tar_entry_t;

typedef ssize_t (*ek__read_fn)(void *ctx, void *buf, size_t n, ek_error_t **err);
typedef int (*ek__skip_fn)(void *ctx, uint64_t n, ek_error_t **err);
typedef struct ek__tar ek__tar_t;
/* skip may be NULL (then data is read and dropped). Caller frees. */
ek__tar_t *ek__tar_new(ek__read_fn read, ek__skip_fn skip, void *ctx);
void ek__tar_free(ek__tar_t *t);
/* Advances to the next entry (skipping unread data): 1 with *e (borrowed until the next call),
 * 0 at the end of the archive, -1 with err (truncated, bad checksum, bad header). */
int ek__tar_next(ek__tar_t *t, const ek__tar_entry_t **e, ek_error_t **err);
/* Reads the current entry's data: > 0, 0 at its end, -1 with err (truncated). */
ssize_t ek__tar_read(ek__tar_t *t, void *buf, size_t n, ek_error_t **err);

/* ---- layer unpacking (unpack.c) ---- */

typedef struct ek__unpack_stats {
    uint64_t bytes;   /* bytes of file data written */
    uint64_t entries; /* entries applied */
} ek__unpack_stats_t;

/*
 * Unpacks the tar stream t into the empty directory dirfd refers to, as an overlayfs layer:
 * ownership (when root), modes, xattrs, mtimes, hard links, symlinks, device nodes; `.wh.X`
 * becomes a 0/0 character device X, `.wh..wh..opq` the opaque xattr on its directory.
 * Refuses `..` components, links and entries that resolve outside the root.
 */
int ek__unpack(ek__tar_t *t, int dirfd, ek__unpack_stats_t *st, ek_error_t **err);

/* ---- references and platforms (ref.c) ---- */

/* True when s is a valid platform "os/arch[/variant]". */
bool ek__platform_valid(const char *s);
/* Score of candidate platform for want (higher is better; 0 = unusable). "all" matches all. */
int ek__platform_match(const char *want, const char *os, const char *arch, const char *variant);

/* ---- manifests (manifest.c) ---- */

typedef enum {
    EK_MT_UNKNOWN = 0,
    EK_MT_INDEX,
    EK_MT_MANIFEST,
    EK_MT_CONFIG,
    EK_MT_LAYER,
} ek__mtkind_t;
/* What a media type is, by the OCI and Docker names. */
ek__mtkind_t ek__media_kind(const char *mt);

typedef struct ek__desc {
    char *media_type;
    char *digest;
    int64_t size;
    char *platform; /* "os/arch[/variant]" in indexes, else NULL */
} ek__desc_t;

typedef struct ek__manifest {
    ek__mtkind_t kind; /* INDEX or MANIFEST */
    ek__desc_t config; /* manifests */
    ek__desc_t *descs; /* index: manifests; manifest: layers */
    size_t n_descs;
} ek__manifest_t;
/* Parses an index or manifest (media type from the document, else from hint). Errors say
 * what is wrong (unknown media type, bad digest, missing field). */
int ek__manifest_parse(const char *data, size_t len, const char *hint, ek__manifest_t *m,
                       ek_error_t **err);
void ek__manifest_free(ek__manifest_t *m);
/* Picks the best entry of an index for platform (NULL: none fits). Borrowed from m. */
const ek__desc_t *ek__index_select(const ek__manifest_t *m, const char *platform);

typedef struct ek__config {
    char **diff_ids;
    size_t n_diff_ids;
    char *platform;
    json_t *config; /* the "config" object, {} if absent; owned */
} ek__config_t;
int ek__config_parse(const char *data, size_t len, ek__config_t *c, ek_error_t **err);
void ek__config_free(ek__config_t *c);

/* ---- the store's records (store.c) ---- */

/* An image being added: layers are unpacked in staging dirs (tmp/<job>/<diffid-hex>) or
 * already in layers/; blobs are metadata kept in memory until commit. */
typedef struct ek__layer_add {
    char *diffid;
    uint64_t size;
    char *staged; /* directory to rename into layers/<hex>, or NULL when already present */
} ek__layer_add_t;

typedef struct ek__manifest_add {
    char *digest; /* platform manifest */
    char *platform;
    char *config; /* config digest */
    ek__layer_add_t *layers;
    size_t n_layers;
} ek__manifest_add_t;

typedef struct ek__image_add {
    char *digest; /* what names point at */
    ek_strlist_t names;
    ek__manifest_add_t *manifests;
    size_t n_manifests;
} ek__image_add_t;

typedef struct ek__blob_add {
    char *digest;
    char *data;
    size_t len;
} ek__blob_add_t;

/* One import or pull in progress: a private staging directory, blobs and images to add. */
typedef struct ek__job {
    ek_image_store_t *store;
    char *tmp; /* <root>/tmp/<pid>-<random> */
    ek__blob_add_t *blobs;
    size_t n_blobs;
    ek__image_add_t *images;
    size_t n_images;
    uint64_t max_layer_bytes, max_image_bytes, total_bytes;
    bool synced; /* the caller ran syncfs after the last layer was unpacked */
} ek__job_t;

int ek__job_init(ek_image_store_t *s, ek__job_t *j, ek_error_t **err);
/* Removes the staging directory and frees. */
void ek__job_cleanup(ek__job_t *j);
/* Keeps a copy of a metadata blob (deduplicated). */
void ek__job_add_blob(ek__job_t *j, const char *digest, const char *data, size_t len);
/* True when the store already has that layer unpacked. */
bool ek__store_has_layer(ek_image_store_t *s, const char *diffid);
/* Unpacks a layer stream into the job's staging dir <tmp>/<hex of want_diffid or a counter>.
 * Verifies the raw digest (want_blob, may be NULL) and the uncompressed one (want_diffid,
 * may be NULL; out_diffid gets it). Thread-safe (touches only files). */
int ek__job_unpack(ek__job_t *j, int fd, uint64_t off, uint64_t len, const char *want_blob,
                   const char *want_diffid, char out_diffid[static 72], char **staged,
                   uint64_t *size, ek_error_t **err);
/* One layer to unpack on a worker thread (uv_queue_work); done runs on the loop after. */
typedef struct ek__layer_task {
    ek__job_t *job;
    int fd; /* source; closed after when own_fd */
    bool own_fd;
    uint64_t off, len;
    char *want_blob, *want_diffid; /* owned; either may be NULL */
    char *label;                   /* image name for errors; owned */
    /* results */
    char diffid[72];
    char *staged;
    uint64_t size;
    ek_error_t *err;
    uv_work_t work;
    void (*done)(struct ek__layer_task *t, void *data);
    void *data;
} ek__layer_task_t;
void ek__layer_task_queue(uv_loop_t *loop, ek__layer_task_t *t);
void ek__layer_task_free(ek__layer_task_t *t);

/* Under the store lock: renames staged layers into place, writes blobs, adds the images and
 * names to index.json (atomically, after syncfs unless j->synced). */
int ek__job_commit(ek__job_t *j, ek_error_t **err);

/* Size recorded for a layer the store has (0 if unknown). Call after ek__store_refresh. */
uint64_t ek__store_layer_size(ek_image_store_t *s, const char *diffid);
/* Re-reads index.json if another process changed it. */
int ek__store_refresh(ek_image_store_t *s, ek_error_t **err);
/* Store accessors for the other files. */
const char *ek__store_platform(const ek_image_store_t *s);
uint64_t ek__store_max_layer(const ek_image_store_t *s);
uint64_t ek__store_max_image(const ek_image_store_t *s);
bool ek__store_progress(const ek_image_store_t *s);
/* The registries config (parsed registries.yaml, JSON; {} when absent). Borrowed. */
json_t *ek__store_registries(ek_image_store_t *s);
/* Reads a metadata blob from the store (caller frees) or NULL. */
char *ek__store_read_blob(ek_image_store_t *s, const char *digest, size_t *len);

/* ---- registries (registries.c) ---- */

/* Loads registries.yaml (k3s format) into JSON; a missing file gives {}. */
json_t *ek__registries_load(const char *path, ek_error_t **err);

typedef struct ek__endpoint {
    char *base;   /* "https://host:port" */
    char *prefix; /* API root path: "/v2" or the mirror's path */
    char *host;   /* host[:port] for config lookup */
    char *repo;   /* repository path after rewrites */
    bool mirror;  /* not the upstream registry itself */
} ek__endpoint_t;
/* The endpoints to try for a reference, mirrors first, then the registry itself. */
int ek__registries_endpoints(json_t *reg, const ek_image_ref_t *ref, ek__endpoint_t **out,
                             size_t *n, ek_error_t **err);
void ek__endpoints_free(ek__endpoint_t *e, size_t n);

typedef struct ek__creds {
    char *username;
    char *password;
    char *identity_token;
} ek__creds_t;
/* Credentials for host: imagePullSecrets JSON first (auth_json may be NULL), then
 * registries.yaml. 0 found, 1 none. */
int ek__registries_creds(json_t *reg, const char *auth_json, const char *host, ek__creds_t *c);
void ek__creds_free(ek__creds_t *c);
/* TLS for host from registries.yaml (ca_file, cert_file/key_file, insecure_skip_verify);
 * NULL with no error means "system defaults". Caller unrefs. */
ek_tls_config_t *ek__registries_tls(json_t *reg, const char *host, ek_error_t **err);
/* Parses a WWW-Authenticate header into scheme ("bearer"/"basic"), realm, service, scope.
 * Caller frees the strings. */
int ek__parse_www_authenticate(const char *h, char **scheme, char **realm, char **service,
                               char **scope);

#endif
