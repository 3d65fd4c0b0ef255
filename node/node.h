/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/: the kubelet — pod workers, status, probes, volumes, logs/exec/port-forward, stats;
 * runtime/ (pod shim, containers, cgroups, mounts); image/ (store, import, registry pull).
 * This is the part's one public header.
 */
#ifndef EK_NODE_NODE_H
#define EK_NODE_NODE_H

#include "api/api.h"
#include "lib/lib.h"

/* ---- images (node/image) ---- */

/*
 * The image store: content-addressed metadata blobs (manifests, configs, indexes) under
 * <root>/blobs/sha256/, every layer unpacked once under <root>/layers/<diffid>/rootfs (an
 * overlayfs lower directory shared by every image that has that layer), and <root>/index.json
 * (image records and their names, replaced atomically). Reference counts are derived from
 * index.json and the container holds (<root>/holds/) at open; garbage collection removes what
 * neither names nor holds reach. Several processes may share a store (an flock serialises
 * changes). Unless a comment says otherwise, functions are blocking and run on one thread
 * (the loop thread in the agent); the asynchronous calls need the store's loop.
 */
typedef struct ek_image_store ek_image_store_t;

/* One image as the kubelet needs it. Caller frees with ek_image_info_free. */
typedef struct ek_image_info {
    char *id;       /* image id: the config digest, "sha256:<hex>" */
    char *digest;   /* repo digest: what the name points at (index or manifest) */
    char *manifest; /* the platform manifest's digest */
    char *platform; /* "linux/arm64", "linux/arm/v7", ... */
    char **names;   /* normalised references ("docker.io/library/busybox:latest") */
    size_t n_names;
    uint64_t size;  /* bytes of the unpacked layers */
    json_t *config; /* the config's "config" object: Entrypoint, Cmd, Env, WorkingDir, User,
                       ExposedPorts, ... ({} when absent); owned */
    char **layers;  /* unpacked layer directories, lowest first (absolute paths) */
    size_t n_layers;
} ek_image_info_t;
void ek_image_info_free(ek_image_info_t *info);
EK_DEFINE_CLEANUP(ek_image_info_t, ek_image_info_free)
/* overlayfs lowerdir= value: the layers topmost first, ':'-separated. Caller frees. */
char *ek_image_lowerdir(const ek_image_info_t *info);

/* A parsed, normalised Docker reference (pure; see ek_image_ref_parse). */
typedef struct ek_image_ref {
    char *domain; /* "docker.io", "registry.local:5000" */
    char *path;   /* "library/busybox" */
    char *tag;    /* "latest", or NULL when only a digest was given */
    char *digest; /* "sha256:<hex>" or NULL */
    char *name;   /* domain/path */
    char *full;   /* domain/path[:tag][@digest] */
} ek_image_ref_t;
/* Docker's normalisation: "busybox" → docker.io/library/busybox:latest, "index.docker.io" →
 * docker.io, a tag-less digest reference keeps no tag. Errors name the reference. */
int ek_image_ref_parse(const char *s, ek_image_ref_t *out, ek_error_t **err);
void ek_image_ref_free(ek_image_ref_t *r);
/* The normalised form of s (caller frees), or NULL with err. */
char *ek_image_ref_normalize(const char *s, ek_error_t **err);

/* The node's platform ("linux/amd64", "linux/arm64", "linux/arm/v7"). Borrowed, static. */
const char *ek_image_node_platform(void);

typedef struct ek_image_store_options {
    const char *registries_yaml; /* NULL: /etc/edgek/registries.yaml (missing file = none) */
    const char *platform;        /* NULL: the node's */
    uint64_t max_layer_bytes;    /* uncompressed size limit per layer; 0 = 16 GiB */
    uint64_t max_image_bytes;    /* uncompressed size limit per import/pull; 0 = 64 GiB */
    bool progress;               /* pulls draw a progress line on stderr */
} ek_image_store_options_t;

/* Opens (creating if needed) the store in dir, e.g. <data-dir>/agent/images. Removes
 * leftovers of imports that crashed. Caller closes. opts may be NULL. */
ek_image_store_t *ek_image_store_open(const char *dir, const ek_image_store_options_t *opts,
                                      ek_error_t **err);
void ek_image_store_close(ek_image_store_t *s);
/* The store's root directory. Borrowed. */
const char *ek_image_store_dir(const ek_image_store_t *s);

typedef struct ek_image_import_options {
    const char *platform; /* NULL: the store's; "all": every platform */
} ek_image_import_options_t;
/*
 * Imports an OCI layout or `docker save` archive (.tar, .tar.gz/.tgz, .tar.zst), every image
 * in it. Blocking (decompresses and unpacks; layers in parallel on a private loop's worker
 * threads). On success *names (if not NULL) holds the imported references or digests
 * (caller frees with ek_strlist_free). On failure nothing of the archive is visible.
 */
int ek_image_import(ek_image_store_t *s, const char *path, const ek_image_import_options_t *o,
                    ek_strlist_t *names, ek_error_t **err);

/* Resolves a reference (any form ek_image_ref_parse takes, an image id "sha256:<hex>", or
 * an unambiguous id prefix of at least 12 hex digits). NULL with a 404-status error when
 * absent. Caller frees. */
ek_image_info_t *ek_image_resolve(ek_image_store_t *s, const char *ref, ek_error_t **err);
/* Every image (one entry per image, all its names), sorted by first name. Caller frees
 * each and the array. */
ek_image_info_t **ek_image_list(ek_image_store_t *s, size_t *n, ek_error_t **err);
/* Removes a name; the image goes when it has no names left and no holds. An image id (or
 * prefix) removes all its names. A held image fails with status 409. */
int ek_image_remove(ek_image_store_t *s, const char *ref, ek_error_t **err);
/* Removes images without names and no holds, then unreferenced layers and blobs. Returns
 * the bytes freed. */
int64_t ek_image_prune(ek_image_store_t *s, ek_error_t **err);
/* Garbage collection only (layers and blobs no image uses). Returns the bytes freed. */
int64_t ek_image_gc(ek_image_store_t *s, ek_error_t **err);

/* Container holds: while key (a container id) holds an image id, GC, rm and prune keep it.
 * Holds are files, so they survive an agent restart. Holding again replaces. */
int ek_image_hold(ek_image_store_t *s, const char *key, const char *image_id, ek_error_t **err);
int ek_image_release(ek_image_store_t *s, const char *key, ek_error_t **err);

typedef enum {
    EK_IMAGE_PULL_IF_NOT_PRESENT = 0,
    EK_IMAGE_PULL_ALWAYS,
    EK_IMAGE_PULL_NEVER,
} ek_image_pull_policy_t;
/* "Always"/"IfNotPresent"/"Never" → policy; Kubernetes' default (Always for :latest or no
 * tag, else IfNotPresent) when s is NULL or empty. -1 for an unknown value. */
int ek_image_pull_policy_parse(const char *s, const char *ref);

/* err is borrowed; info is owned by the callback (free it). Called on the loop thread. */
typedef void (*ek_image_ensure_cb)(ek_image_info_t *info, ek_error_t *err, void *data);
typedef struct ek_image_pull_options {
    const char *auth_json; /* kubernetes.io/dockerconfigjson contents (several may be
                              concatenated as a JSON array), or NULL */
    uint64_t timeout_ms;   /* stall timeout per request; 0 = 60 s */
} ek_image_pull_options_t;
/*
 * Makes sure ref is in the store (pulling per policy) and reports its record. Asynchronous
 * on loop (loop thread only): registry I/O on the loop through lib/http, unpacking on worker
 * threads. Returns -1 (err set) only for immediate failures (bad reference); afterwards cb
 * runs exactly once. A failed pull leaves nothing behind.
 */
int ek_image_ensure(ek_image_store_t *s, uv_loop_t *loop, const char *ref,
                    ek_image_pull_policy_t policy, const ek_image_pull_options_t *o,
                    ek_image_ensure_cb cb, void *data, ek_error_t **err);
/* Blocking pull on a private loop (CLI, tests). Caller frees the result. */
ek_image_info_t *ek_image_pull(ek_image_store_t *s, const char *ref,
                               const ek_image_pull_options_t *o, ek_error_t **err);

/*
 * Air-gap directory (k3s convention): imports every archive in dir (.tar, .tar.gz, .tgz,
 * .tar.zst, .tzst) now, skipping those already imported unchanged, then watches dir and
 * imports archives that appear or change (once their size is stable). Imports run on
 * worker threads; loop thread only. Stop with ek_image_airgap_stop (cb after the last
 * handle closed; may be NULL).
 */
typedef struct ek_image_airgap ek_image_airgap_t;
ek_image_airgap_t *ek_image_airgap_start(ek_image_store_t *s, uv_loop_t *loop, const char *dir,
                                         ek_error_t **err);
/* Imports finished so far, successful or not (for tests). */
unsigned ek_image_airgap_imports(const ek_image_airgap_t *a);
void ek_image_airgap_stop(ek_image_airgap_t *a, void (*cb)(void *data), void *data);

/* ---- container runtime and pod shim (node/runtime) ---- */

/* ---- kubelet (node/) ---- */

#endif
