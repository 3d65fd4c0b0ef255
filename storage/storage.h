/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage/: the cluster's memory. kv/ is a revisioned key-value store (kine-like) on SQLite;
 * provision/ (later) creates volumes. This is the part's one public header.
 *
 * The store: every write gets the next global revision (monotonic across restarts — never
 * reused, even after a crash that lost unflushed volatile writes). Writes are asynchronous:
 * they go to a writer thread that group-commits (all writes waiting while the previous
 * transaction syncs share the next transaction and its fsync) and are acknowledged on the loop
 * thread only once durable. Watches are fed from the commit path, in revision order, before
 * the write's own callback runs. Reads are synchronous and cheap. Every function here is for
 * the loop thread that opened the store, unless it says otherwise.
 */
#ifndef EK_STORAGE_STORAGE_H
#define EK_STORAGE_STORAGE_H

#include <uv.h>

#include "lib/lib.h"

typedef struct ek_kv ek_kv_t;
typedef struct ek_kv_watch ek_kv_watch_t;

typedef struct ek_kv_options {
    const char *path;          /* database file; parent directories are created */
    int64_t volatile_flush_ms; /* max delay before volatile writes reach disk; default 300000 */
    int64_t
        history_revisions; /* compaction keeps at least this many past revisions; default 10000 */
    size_t watch_window; /* recent events kept in memory for watches from the past; default 10000 */
    bool no_sync;        /* tests/benchmarks only: skip fsync */
} ek_kv_options_t;

/* An immutable, reference-counted record. */
typedef struct ek_kv_entry {
    const char *key;
    const char *value; /* NUL-terminated for convenience; value_len excludes the NUL */
    size_t value_len;
    int64_t create_rev;
    int64_t mod_rev;
    int64_t expires_at; /* unix seconds, 0 = no TTL */
} ek_kv_entry_t;

const ek_kv_entry_t *ek_kv_entry_ref(const ek_kv_entry_t *e);
void ek_kv_entry_unref(const ek_kv_entry_t *e);

typedef enum { EK_KV_ADDED = 1, EK_KV_MODIFIED, EK_KV_DELETED } ek_kv_event_type_t;

typedef struct ek_kv_event {
    ek_kv_event_type_t type;
    int64_t rev;
    const ek_kv_entry_t *entry; /* the new value; for DELETED the last value, mod_rev = rev */
    const ek_kv_entry_t *prev;  /* previous value (NULL for ADDED) */
} ek_kv_event_t;

/*
 * Opens (creating if needed) the store: runs a quick integrity check (a corrupt database is
 * refused with a message naming `edgek db restore`), loads the current revision.
 */
int ek_kv_open(uv_loop_t *loop, const ek_kv_options_t *opts, ek_kv_t **out, ek_error_t **err);
/*
 * Flushes volatile writes, finishes queued writes (their callbacks run; writes submitted after
 * this fail 503), stops the threads, then calls cb. Watches still registered are freed: do not
 * cancel them after cb.
 */
void ek_kv_close(ek_kv_t *kv, void (*cb)(void *data), void *data);

/* Write flags. */
#define EK_KV_VOLATILE 0x1 /* visible at once, persisted at most every volatile_flush_ms */

/*
 * Write completion, on the loop thread. On success err is NULL, rev is the write's revision
 * and entry the stored record (borrowed for the call; ref it to keep it). Errors carry a
 * status: 409 with errnum EEXIST (create: key exists) or ESTALE (revision mismatch, entry =
 * current record), 404 with ENOENT (update/delete of a missing key), 507 (disk full),
 * 503 (read-only or closing), 500 otherwise. err is borrowed for the call.
 */
typedef void (*ek_kv_write_cb)(int64_t rev, const ek_kv_entry_t *entry, const ek_error_t *err,
                               void *data);

/* Creates key; fails if it exists. ttl_s > 0 makes the key expire (a DELETED event then). */
void ek_kv_create(ek_kv_t *kv, const char *key, const void *value, size_t len, int64_t ttl_s,
                  int flags, ek_kv_write_cb cb, void *data);
/* Replaces key's value if its mod_rev equals expected_rev (0 = any; the key must exist). */
void ek_kv_update(ek_kv_t *kv, const char *key, const void *value, size_t len, int64_t expected_rev,
                  int64_t ttl_s, int flags, ek_kv_write_cb cb, void *data);
/* Deletes key if its mod_rev equals expected_rev (0 = any). */
void ek_kv_delete(ek_kv_t *kv, const char *key, int64_t expected_rev, ek_kv_write_cb cb,
                  void *data);

/* Current value of key (caller unrefs), or NULL when absent. */
const ek_kv_entry_t *ek_kv_get(ek_kv_t *kv, const char *key);
int64_t ek_kv_current_rev(ek_kv_t *kv);

/*
 * Lists keys starting with prefix, in key order, as of revision at_rev (0 = current; an
 * at_rev compacted away fails with status 410, one newer than the store's 504). Starts after
 * the key encoded in cont (an opaque token from a previous page, which also pins the
 * revision; a malformed or foreign token fails 400) or from the beginning when cont is NULL
 * or "". At most limit entries (0 = all). On return rev is the list's revision, next_cont a
 * token for the next page or NULL at the end, and remaining the number of further keys. The
 * result is the caller's: free it with ek_kv_list_result_free.
 */
typedef struct ek_kv_list_result {
    const ek_kv_entry_t **entries;
    size_t n;
    int64_t rev;
    char *next_cont;
    int64_t remaining;
} ek_kv_list_result_t;
int ek_kv_list(ek_kv_t *kv, const char *prefix, const char *cont, size_t limit, int64_t at_rev,
               ek_kv_list_result_t *out, ek_error_t **err);
void ek_kv_list_result_free(ek_kv_list_result_t *r);

/*
 * Watches keys under prefix. Events with rev > from_rev are delivered in revision order,
 * starting on a later loop iteration (never from inside this call): first those still in the
 * in-memory window, then new ones as they commit. from_rev 0 = only future events. A from_rev older
 * than the window fails with status 410 (Expired). cb runs on the loop thread; the event is
 * borrowed for the call.
 */
typedef void (*ek_kv_watch_cb)(const ek_kv_event_t *ev, void *data);
ek_kv_watch_t *ek_kv_watch(ek_kv_t *kv, const char *prefix, int64_t from_rev, ek_kv_watch_cb cb,
                           void *data, ek_error_t **err);
void ek_kv_watch_cancel(ek_kv_watch_t *w);

/* Counters for /metrics and benchmarks. */
typedef struct ek_kv_stats {
    int64_t rev;
    int64_t keys;
    int64_t writes;  /* acknowledged writes */
    int64_t commits; /* transactions (fsyncs) */
    int64_t volatile_pending;
    int64_t compacted_rev;
    int64_t db_bytes; /* database + WAL file sizes */
} ek_kv_stats_t;
void ek_kv_stats(ek_kv_t *kv, ek_kv_stats_t *out);

/*
 * Online, consistent copy of the database into path (blocking; any thread). It holds what is
 * durable: volatile values not yet flushed are not in it, as after a crash.
 */
int ek_kv_snapshot(ek_kv_t *kv, const char *path, ek_error_t **err);
/* The same for a database given by its path, open in another process or not (`edgek db`). */
int ek_kv_snapshot_path(const char *db_path, const char *path, ek_error_t **err);
/*
 * Offline: replaces the database at db_path with the snapshot (verified first; fails 503 while
 * a store has db_path open). Revisions continue above any the old database handed out.
 */
int ek_kv_restore(const char *snapshot, const char *db_path, ek_error_t **err);

#endif
