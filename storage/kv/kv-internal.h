/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage/kv's private header: the structures shared by the files of the store. The store
 * keeps every key's recent versions in memory (an ordered skip list of nodes, each with its
 * versions oldest first) and serves reads and MVCC lists from there; the database holds one
 * row per live key plus a revision high-water mark and is written only by the writer thread.
 * The database sits behind a small backend table (ek__kv_backend_ops_t) so that a second
 * backend (PostgreSQL) can be added without touching the rest.
 *
 * Threads: everything here belongs to the loop thread except the writer queue (wq_*), the
 * done queue (done_*) and the backend, which are the writer thread's (queues under `mu`).
 */
#ifndef EK_STORAGE_KV_INTERNAL_H
#define EK_STORAGE_KV_INTERNAL_H

#include <pthread.h>

#include "storage/storage.h"

#define EK__KV_MAX_LEVEL 24
/* Revisions reserved ahead on disk, so that volatile writes never wait for a sync. */
#define EK__KV_REV_BLOCK   100000
#define EK__KV_MAX_KEY     8192
#define EK__KV_MAX_VALUE   (16u << 20)
#define EK__KV_COMPACT_MS  500  /* compaction tick while there is history to drop */
#define EK__KV_COMPACT_MAX 2000 /* versions examined per compaction batch */

/* ---- entries (entry.c) ---- */

/* Allocates an entry with one reference (any thread). */
const ek_kv_entry_t *ek__kv_entry_new(const char *key, size_t klen, const void *value, size_t vlen,
                                      int64_t create_rev, int64_t mod_rev, int64_t expires_at);
/* A tombstone for prev at revision rev: shares prev's key and value (holds a reference). */
const ek_kv_entry_t *ek__kv_entry_tombstone(const ek_kv_entry_t *prev, int64_t rev);
bool ek__kv_entry_deleted(const ek_kv_entry_t *e);

/* ---- the in-memory index (index.c) ---- */

typedef struct ek__kv_node {
    const ek_kv_entry_t **vers; /* committed versions, oldest first; tombstones included */
    const ek_kv_entry_t *one;   /* storage for vers while capvers <= 1 (most keys) */
    uint32_t nvers, capvers;
    uint32_t inflight;           /* writes submitted, not yet completed */
    int32_t vol_idx;             /* slot in kv->vol while a volatile value is unflushed, or -1 */
    const ek_kv_entry_t *latest; /* value after every in-flight write; NULL = absent */
    char *key;
    uint8_t level;
    struct ek__kv_node *next[]; /* followed by the key bytes */
} ek__kv_node_t;

typedef struct ek__kv_index {
    ek__kv_node_t *head;
    int level;
    size_t count;
    uint64_t rng;
} ek__kv_index_t;

void ek__kv_index_init(ek__kv_index_t *ix);
void ek__kv_index_free(ek__kv_index_t *ix);
ek__kv_node_t *ek__kv_index_find(ek__kv_index_t *ix, const char *key);
/* First node with key > from (after) or >= from. */
ek__kv_node_t *ek__kv_index_seek(ek__kv_index_t *ix, const char *from, bool after);
/* The node for key, created (empty) when missing. */
ek__kv_node_t *ek__kv_index_insert(ek__kv_index_t *ix, const char *key);
void ek__kv_index_remove(ek__kv_index_t *ix, ek__kv_node_t *n);

/* Appends a committed version (takes the reference). */
void ek__kv_node_push(ek__kv_node_t *n, const ek_kv_entry_t *e);
/* Newest committed version (maybe a tombstone) or NULL. Borrowed. */
const ek_kv_entry_t *ek__kv_node_newest(const ek__kv_node_t *n);
/* Newest live value (not a tombstone) or NULL. Borrowed. */
const ek_kv_entry_t *ek__kv_node_current(const ek__kv_node_t *n);
/* Live value as of revision rev, or NULL. Borrowed. */
const ek_kv_entry_t *ek__kv_node_at(const ek__kv_node_t *n, int64_t rev);
/*
 * Compaction of one key at revision rev (a version of n): drops every older version and, if
 * the version at rev is a tombstone, that one too. Returns the number of versions dropped.
 */
size_t ek__kv_node_compact(ek__kv_node_t *n, int64_t rev);

/* ---- the backend (sqlite.c) ---- */

typedef struct ek__kv_meta {
    int64_t max_rev; /* highest revision the database proves was handed out */
} ek__kv_meta_t;

/* Called for each stored row at load; the entry is borrowed (ref to keep). */
typedef int (*ek__kv_row_cb)(void *data, const ek_kv_entry_t *row, ek_error_t **err);

/*
 * What a database must do for the store. Errors carry the status the API shows: 507 for a full
 * disk, 503 for a read-only one, 500 otherwise. open..load run on the loop thread before the
 * writer starts; begin..close only on the writer thread afterwards.
 */
typedef struct ek__kv_backend_ops {
    const char *name;
    /* Opens and checks (quick integrity check; refuses a corrupt database). */
    int (*open)(const char *path, bool no_sync, void **be, ek_error_t **err);
    int (*load)(void *be, ek__kv_row_cb cb, void *data, ek__kv_meta_t *meta, ek_error_t **err);
    int (*begin)(void *be, ek_error_t **err);
    /* Inserts or replaces the row of e->key. */
    int (*put)(void *be, const ek_kv_entry_t *e, ek_error_t **err);
    int (*del)(void *be, const char *key, ek_error_t **err);
    /* Raises the durable revision high-water mark to rev. */
    int (*reserve)(void *be, int64_t rev, ek_error_t **err);
    /* Durable when it returns 0 (unless the store was opened no_sync). */
    int (*commit)(void *be, ek_error_t **err);
    void (*rollback)(void *be);
    void (*close)(void *be);
    /* Online copy of the database at db_path (blocking, any thread, own connection). */
    int (*snapshot)(const char *db_path, const char *out, ek_error_t **err);
    /*
     * Verifies snapshot fully and installs it at db_path (offline). Revisions continue well
     * above both the snapshot's and the replaced database's, so they never go backwards.
     */
    int (*restore)(const char *snapshot, const char *db_path, ek_error_t **err);
} ek__kv_backend_ops_t;

extern const ek__kv_backend_ops_t ek__kv_sqlite_ops;

/* ---- writer jobs (writer.c) ---- */

typedef enum {
    EK__KV_JOB_PUT = 1, /* a client create/update, or a volatile value made durable */
    EK__KV_JOB_DEL,
    EK__KV_JOB_FLUSH, /* rows of volatile keys */
    EK__KV_JOB_RESERVE,
    EK__KV_JOB_RESET, /* ends the writer's failed state (see writer.c) */
    EK__KV_JOB_STOP,
} ek__kv_job_kind_t;

typedef struct ek__kv_job {
    struct ek__kv_job *next;
    ek__kv_job_kind_t kind;
    const ek_kv_entry_t *entry; /* PUT: the row (borrowed from the op) */
    const char *key;            /* DEL (borrowed from the node) */
    const ek_kv_entry_t **rows; /* FLUSH: owned references */
    size_t nrows;
    int64_t value;     /* RESERVE: the new high-water mark */
    uint64_t seq;      /* ops submitted after this job have seq >= this */
    ek_error_t *err;   /* result, set by the writer */
    int64_t commit_ns; /* monotonic time its transaction committed */
    bool txn_end;      /* last job of its transaction */
} ek__kv_job_t;

int ek__kv_writer_start(ek_kv_t *kv, ek_error_t **err);
/* Queues a job for the writer thread (loop thread); it leaves with the next flush. */
void ek__kv_writer_push(ek_kv_t *kv, ek__kv_job_t *job);
/* Hands the jobs queued since the last flush to the writer thread at once. */
void ek__kv_writer_flush(ek_kv_t *kv);
/* Takes the finished jobs, in order (loop thread). */
ek__kv_job_t *ek__kv_writer_take_done(ek_kv_t *kv);
void ek__kv_writer_join(ek_kv_t *kv);

/* ---- client writes (kv.c) ---- */

typedef enum { EK__KV_CREATE = 1, EK__KV_UPDATE, EK__KV_DELETE } ek__kv_op_type_t;
typedef enum { EK__KV_WAITING = 1, EK__KV_READY, EK__KV_FAILED } ek__kv_op_state_t;

typedef struct ek__kv_op {
    struct ek__kv_op *next;
    ek__kv_op_type_t type;
    ek__kv_op_state_t state;
    bool durable;               /* went to the writer (job is in use) */
    ek__kv_node_t *node;        /* NULL when it failed validation before finding one */
    const ek_kv_entry_t *entry; /* create/update: the new value (owned) */
    int64_t rev;
    uint64_t seq;
    ek_error_t *err;
    ek_kv_write_cb cb;
    void *data;
    ek__kv_job_t job;
} ek__kv_op_t;

/* ---- watches (watch.c) ---- */

struct ek_kv_watch {
    ek_kv_t *kv;
    struct ek_kv_watch *next, *prev;
    char *prefix;
    size_t plen;
    ek_kv_watch_cb cb;
    void *data;
    int64_t last_rev;       /* events at or below this were queued or delivered */
    ek_kv_event_t *backlog; /* events waiting for the start (owned references) */
    size_t nbacklog, capbacklog;
    bool started, cancelled;
};

typedef struct ek__kv_window {
    ek_kv_event_t *ev; /* ring of recent events (owned references) */
    size_t cap, start, n;
    int64_t floor; /* every event with rev > floor is in the ring */
} ek__kv_window_t;

/* Records an applied event and hands it to the watchers (loop thread). */
void ek__kv_watch_emit(ek_kv_t *kv, ek_kv_event_type_t type, const ek_kv_entry_t *entry,
                       const ek_kv_entry_t *prev);
/* Delivers the backlogs of watches created since the last call. */
void ek__kv_watch_start_pending(ek_kv_t *kv);
void ek__kv_watch_free_all(ek_kv_t *kv);

/* ---- maintenance: TTL, compaction, volatile flush (maint.c) ---- */

typedef struct ek__kv_ttl_item {
    int64_t expires_at;
    int64_t rev;
    char *key;
} ek__kv_ttl_item_t;

typedef struct ek__kv_hist_item {
    ek__kv_node_t *node;
    int64_t rev;
} ek__kv_hist_item_t;

void ek__kv_maint_init(ek_kv_t *kv);
/* Arms the timers for what open loaded (TTLs). */
void ek__kv_maint_start(ek_kv_t *kv);
/* After a version is committed: schedules its expiry and its compaction. */
void ek__kv_maint_note_version(ek_kv_t *kv, ek__kv_node_t *n, const ek_kv_entry_t *e,
                               bool superseded);
void ek__kv_maint_stop(ek_kv_t *kv);
void ek__kv_maint_free(ek_kv_t *kv);
/* Marks n's newest value as not yet on disk / as written. */
void ek__kv_vol_add(ek_kv_t *kv, ek__kv_node_t *n);
void ek__kv_vol_remove(ek_kv_t *kv, ek__kv_node_t *n);
/* Hands every unflushed volatile value to the writer now. */
void ek__kv_flush_volatile(ek_kv_t *kv);
/* One bounded compaction batch; returns true when more history is due. */
bool ek__kv_compact_batch(ek_kv_t *kv);
/* Frees an empty node that nothing refers to. */
void ek__kv_node_gc(ek_kv_t *kv, ek__kv_node_t *n);

/* ---- the store ---- */

struct ek_kv {
    uv_loop_t *loop;
    ek_kv_options_t opts;
    char *path;
    int lock_fd;
    const ek__kv_backend_ops_t *ops;
    void *be;

    ek__kv_index_t index;
    int64_t rev;                /* newest visible revision */
    int64_t last_rev;           /* newest revision handed out */
    int64_t reserved_durable;   /* high-water mark known to be on disk */
    int64_t reserved_requested; /* high-water mark queued for the writer */
    int64_t compacted_rev;
    uint64_t next_seq;

    /* Client writes in submission order; completed from the head. */
    ek__kv_op_t *fifo_head, *fifo_tail;
    bool awaiting_reset; /* a write failed; the writer fails everything until our RESET */

    /* The writer thread and its queues. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    ek__kv_job_t *lq_head, *lq_tail; /* loop thread: jobs not yet handed over */
    ek__kv_job_t *wq_head, *wq_tail;
    ek__kv_job_t *done_head, *done_tail;
    int max_batch;            /* client writes per transaction, 0 = all waiting */
    bool w_broken;            /* writer thread only */
    ek_error_t *w_broken_err; /* writer thread only */
    uv_async_t wake;

    /* Volatile keys with a value not yet on disk. */
    ek__kv_node_t **vol;
    size_t nvol, capvol;
    uv_timer_t flush_timer;
    bool flush_armed;

    /* TTL: a min-heap on expires_at. */
    ek__kv_ttl_item_t *ttl;
    size_t nttl, capttl;
    uv_timer_t ttl_timer;
    bool started; /* handles exist: timers may be armed */

    /* History of superseded versions, in revision order, for compaction. */
    ek__kv_hist_item_t *hist;
    size_t hist_cap, hist_start, hist_n;
    uv_timer_t compact_timer;
    bool compact_armed;
    int64_t compact_max_us;

    /* Watches. */
    ek__kv_window_t window;
    ek_kv_watch_t *watch_head, *watch_tail;
    bool has_dead; /* watches cancelled during a delivery, freed afterwards */
    int dispatching;
    bool watch_starts;

    /* Counters. */
    int64_t nkeys, writes, commits, last_commit_ns;

    /* Closing. */
    bool closing, stop_sent, writer_stopped, finishing;
    int handles_open;
    void (*close_cb)(void *data);
    void *close_data;
};

/* A copy of e (NULL for NULL). */
ek_error_t *ek__kv_error_dup(const ek_error_t *e);

/* ---- hooks for tests and benchmarks (not for the API server) ---- */

/* Client writes per transaction (1 = one transaction per write; 0 = group commit). */
void ek__kv_set_max_batch(ek_kv_t *kv, int n);
/* Monotonic ns when the newest applied durable write's transaction committed. */
int64_t ek__kv_last_commit_ns(ek_kv_t *kv);
/* Versions held in memory (live and history) and the longest compaction batch in µs. */
size_t ek__kv_history_len(ek_kv_t *kv);
int64_t ek__kv_compact_max_us(ek_kv_t *kv);
/* Continue tokens (list.c): encode (caller frees) and decode (400 on garbage). */
char *ek__kv_cont_encode(int64_t rev, const char *key);
int ek__kv_cont_decode(const char *tok, int64_t *rev, char **key, ek_error_t **err);

#endif
