/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's loop-thread side: open and close, client writes, and their completion in order.
 *
 * A write is validated when it is submitted, against each key's `latest` value (which already
 * includes the writes still in flight), gets the next revision and joins one FIFO of every
 * write in submission order. Durable writes also go to the writer thread; volatile ones are
 * ready at once. The FIFO completes from its head: a write applies (versions, watch events,
 * then its callback) only after every earlier write has, so events and acknowledgements come
 * in revision order even when a volatile write overtakes a durable one that is still syncing.
 *
 * Revisions: the database proves a high-water mark (its rows' revisions and a reserved mark
 * written ahead in blocks). Volatile writes use only revisions below the durable mark, so
 * after a crash that lost them no revision is ever handed out twice. A restart resumes above
 * the mark.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "storage/kv/kv-internal.h"

ek_error_t *ek__kv_error_dup(const ek_error_t *e)
{
    if (!e) {
        return NULL;
    }
    ek_error_t *d = ek_new(ek_error_t);
    d->errnum = e->errnum;
    d->status = e->status;
    d->msg = ek_xstrdup(ek_error_msg(e));
    return d;
}

static void set_latest(ek__kv_node_t *n, const ek_kv_entry_t *e)
{
    if (n->latest != e) {
        ek_kv_entry_unref(n->latest);
        n->latest = ek_kv_entry_ref(e);
    }
}

static void kick(ek_kv_t *kv)
{
    uv_async_send(&kv->wake);
}

/* ---- submission ---- */

static ek__kv_op_t *op_new(ek_kv_t *kv, ek__kv_op_type_t type, ek_kv_write_cb cb, void *data)
{
    ek__kv_op_t *op = ek_new(ek__kv_op_t);
    op->type = type;
    op->state = EK__KV_WAITING;
    op->seq = kv->next_seq++;
    op->cb = cb;
    op->data = data;
    if (kv->fifo_tail) {
        kv->fifo_tail->next = op;
    } else {
        kv->fifo_head = op;
    }
    kv->fifo_tail = op;
    return op;
}

EK_PRINTF(5, 6)
static void op_fail(ek_kv_t *kv, ek__kv_op_t *op, int status, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) {
        abort();
    }
    va_end(ap);
    op->err = ek_new(ek_error_t);
    op->err->status = status;
    op->err->errnum = errnum;
    op->err->msg = msg;
    op->state = EK__KV_FAILED;
    kick(kv);
}

/* Checks what every write needs; fails op and returns -1 otherwise. */
static int check_write(ek_kv_t *kv, ek__kv_op_t *op, const char *key, size_t len)
{
    if (kv->closing) {
        op_fail(kv, op, 503, ESHUTDOWN, "store is closing");
        return -1;
    }
    size_t klen = key ? strnlen(key, EK__KV_MAX_KEY + 1) : 0;
    if (klen == 0 || klen > EK__KV_MAX_KEY) {
        op_fail(kv, op, 400, EINVAL, "invalid key: want 1 to %d bytes", EK__KV_MAX_KEY);
        return -1;
    }
    if (len > EK__KV_MAX_VALUE) {
        op_fail(kv, op, 413, EFBIG, "value of `%s` is %zu bytes, the limit is %u", key, len,
                EK__KV_MAX_VALUE);
        return -1;
    }
    return 0;
}

static void attach(ek__kv_op_t *op, ek__kv_node_t *n)
{
    op->node = n;
    n->inflight++;
}

/* Queues a job for the writer; jobs carry the seq of the first op that may depend on them. */
static void push_job(ek_kv_t *kv, ek__kv_job_kind_t kind, uint64_t seq, int64_t value)
{
    ek__kv_job_t *j = ek_new(ek__kv_job_t);
    j->kind = kind;
    j->seq = seq;
    j->value = value;
    ek__kv_writer_push(kv, j);
}

/*
 * The next revision. The durable mark is kept at least half a block ahead, and the job that
 * raises it is queued before the write that uses the revision, so a delete (which leaves no
 * row behind) still proves its revision after a crash.
 */
static int64_t next_rev(ek_kv_t *kv, uint64_t seq)
{
    int64_t rev = ++kv->last_rev;
    if (rev + EK__KV_REV_BLOCK / 2 > kv->reserved_requested) {
        kv->reserved_requested = rev + EK__KV_REV_BLOCK;
        push_job(kv, EK__KV_JOB_RESERVE, seq, kv->reserved_requested);
    }
    return rev;
}

static int64_t expiry(int64_t ttl_s)
{
    return ttl_s > 0 ? ek_wall_ms() / 1000 + ttl_s : 0;
}

/* Hands a validated create/update on: to the writer, or straight to the FIFO if volatile. */
static void submit_put(ek_kv_t *kv, ek__kv_op_t *op, const ek_kv_entry_t *e, int flags)
{
    op->entry = e;
    op->rev = e->mod_rev;
    set_latest(op->node, e);
    if ((flags & EK_KV_VOLATILE) && op->rev <= kv->reserved_durable) {
        op->state = EK__KV_READY;
        kick(kv);
        return;
    }
    op->durable = true;
    op->job.kind = EK__KV_JOB_PUT;
    op->job.entry = e;
    op->job.seq = op->seq;
    ek__kv_writer_push(kv, &op->job);
}

void ek_kv_create(ek_kv_t *kv, const char *key, const void *value, size_t len, int64_t ttl_s,
                  int flags, ek_kv_write_cb cb, void *data)
{
    ek__kv_op_t *op = op_new(kv, EK__KV_CREATE, cb, data);
    if (check_write(kv, op, key, len) < 0) {
        return;
    }
    attach(op, ek__kv_index_insert(&kv->index, key));
    if (op->node->latest) {
        op_fail(kv, op, 409, EEXIST, "key `%s` already exists", key);
        return;
    }
    int64_t rev = next_rev(kv, op->seq);
    submit_put(kv, op, ek__kv_entry_new(key, strlen(key), value, len, rev, rev, expiry(ttl_s)),
               flags);
}

/* Finds key for an update or delete and checks expected_rev; fails op otherwise. */
static int check_existing(ek_kv_t *kv, ek__kv_op_t *op, const char *key, int64_t expected_rev)
{
    ek__kv_node_t *n = ek__kv_index_find(&kv->index, key);
    if (!n || !n->latest) {
        op_fail(kv, op, 404, ENOENT, "key `%s` not found", key);
        return -1;
    }
    attach(op, n);
    if (expected_rev && n->latest->mod_rev != expected_rev) {
        op_fail(kv, op, 409, ESTALE, "key `%s` has revision %lld, expected %lld", key,
                (long long)n->latest->mod_rev, (long long)expected_rev);
        return -1;
    }
    return 0;
}

void ek_kv_update(ek_kv_t *kv, const char *key, const void *value, size_t len, int64_t expected_rev,
                  int64_t ttl_s, int flags, ek_kv_write_cb cb, void *data)
{
    ek__kv_op_t *op = op_new(kv, EK__KV_UPDATE, cb, data);
    if (check_write(kv, op, key, len) < 0 || check_existing(kv, op, key, expected_rev) < 0) {
        return;
    }
    int64_t rev = next_rev(kv, op->seq);
    int64_t create_rev = op->node->latest->create_rev;
    submit_put(kv, op,
               ek__kv_entry_new(key, strlen(key), value, len, create_rev, rev, expiry(ttl_s)),
               flags);
}

void ek_kv_delete(ek_kv_t *kv, const char *key, int64_t expected_rev, ek_kv_write_cb cb, void *data)
{
    ek__kv_op_t *op = op_new(kv, EK__KV_DELETE, cb, data);
    if (check_write(kv, op, key, 0) < 0 || check_existing(kv, op, key, expected_rev) < 0) {
        return;
    }
    op->rev = next_rev(kv, op->seq);
    set_latest(op->node, NULL);
    op->durable = true;
    op->job.kind = EK__KV_JOB_DEL;
    op->job.key = op->node->key;
    op->job.seq = op->seq;
    ek__kv_writer_push(kv, &op->job);
}

/* ---- completion ---- */

/* Makes a completed write visible: new version, history, event, then the callback. */
static void apply(ek_kv_t *kv, ek__kv_op_t *op)
{
    ek__kv_node_t *n = op->node;
    const ek_kv_entry_t *prev = ek__kv_node_current(n);
    bool superseded = n->nvers > 0;
    const ek_kv_entry_t *e;
    ek_kv_event_type_t type;
    if (op->type == EK__KV_DELETE) {
        ek_assert(prev);
        e = ek__kv_entry_tombstone(prev, op->rev);
        type = EK_KV_DELETED;
        kv->nkeys--;
    } else {
        e = ek_kv_entry_ref(op->entry);
        type = prev ? EK_KV_MODIFIED : EK_KV_ADDED;
        kv->nkeys += prev ? 0 : 1;
    }
    /* Both are held across the callbacks below, which may call back into the store. */
    ek_kv_entry_ref(prev);
    ek__kv_node_push(n, ek_kv_entry_ref(e));
    kv->rev = op->rev;
    kv->writes++;
    if (op->durable) {
        ek__kv_vol_remove(kv, n);
        kv->last_commit_ns = op->job.commit_ns;
    } else {
        ek__kv_vol_add(kv, n);
    }
    ek__kv_maint_note_version(kv, n, e, superseded);
    ek__kv_watch_emit(kv, type, e, prev);
    ek_kv_entry_unref(prev);
    if (op->cb) {
        op->cb(op->rev, e, NULL, op->data);
    }
    ek_kv_entry_unref(e);
}

static void complete_failed(ek__kv_op_t *op)
{
    const ek_kv_entry_t *cur = NULL;
    if (op->err->errnum == ESTALE && op->node) {
        cur = ek__kv_node_current(op->node);
    }
    if (op->cb) {
        op->cb(0, cur, op->err, op->data);
    }
}

static void op_release(ek_kv_t *kv, ek__kv_op_t *op)
{
    ek__kv_node_t *n = op->node;
    if (n && --n->inflight == 0) {
        set_latest(n, ek__kv_node_current(n));
        ek__kv_node_gc(kv, n);
    }
    ek_kv_entry_unref(op->entry);
    ek_error_free(op->err);
    free(op);
}

/* Completes writes from the FIFO's head while they are ready. */
static void drain(ek_kv_t *kv)
{
    ek__kv_op_t *op;
    while ((op = kv->fifo_head) && op->state != EK__KV_WAITING) {
        kv->fifo_head = op->next;
        if (!kv->fifo_head) {
            kv->fifo_tail = NULL;
        }
        if (op->state == EK__KV_READY) {
            apply(kv, op);
        } else {
            complete_failed(op);
        }
        op_release(kv, op);
    }
}

/*
 * A transaction failed: every write submitted from `cut` on was validated against a state
 * that included a failed write, and the writer is failing them. Fail the volatile ones too,
 * recompute each touched key's latest value from what will still apply, and tell the writer
 * (RESET) where writes validated against the truth begin again.
 */
static void fail_in_flight(ek_kv_t *kv, uint64_t cut, const ek_error_t *cause)
{
    EK_LOG(EK_WARN, "kv", "write failed, failing the writes in flight err=\"%s\"",
           ek_error_msg(cause));
    kv->awaiting_reset = true;
    push_job(kv, EK__KV_JOB_RESET, kv->next_seq, 0);
    for (ek__kv_op_t *op = kv->fifo_head; op; op = op->next) {
        if (op->seq < cut) {
            continue;
        }
        if (op->node) {
            set_latest(op->node, ek__kv_node_current(op->node));
        }
        if (op->state == EK__KV_READY) {
            op->state = EK__KV_FAILED;
            op->err = ek__kv_error_dup(cause);
        }
    }
    for (ek__kv_op_t *op = kv->fifo_head; op && op->seq < cut; op = op->next) {
        if (op->state == EK__KV_READY && op->node) {
            set_latest(op->node, op->type == EK__KV_DELETE ? NULL : op->entry);
        }
    }
}

static void flush_failed(ek_kv_t *kv, ek__kv_job_t *j)
{
    for (size_t i = 0; i < j->nrows; i++) {
        ek__kv_node_t *n = ek__kv_index_find(&kv->index, j->rows[i]->key);
        /* Still the newest value: it must reach the disk with a later flush. */
        if (n && ek__kv_node_current(n) == j->rows[i]) {
            ek__kv_vol_add(kv, n);
        }
    }
    if (kv->closing) {
        EK_LOG(EK_WARN, "kv", "volatile values lost at close keys=%zu err=\"%s\"", j->nrows,
               ek_error_msg(j->err));
    }
}

static void free_job(ek__kv_job_t *j)
{
    for (size_t i = 0; i < j->nrows; i++) {
        ek_kv_entry_unref(j->rows[i]);
    }
    free(j->rows);
    ek_error_free(j->err);
    free(j);
}

/* Takes one finished job back from the writer. */
static void job_done(ek_kv_t *kv, ek__kv_job_t *j)
{
    if (j->txn_end && !j->err) {
        kv->commits++;
    }
    if (j->err && !kv->awaiting_reset && j->kind != EK__KV_JOB_RESET) {
        fail_in_flight(kv, j->seq, j->err);
    }
    if (j->kind == EK__KV_JOB_PUT || j->kind == EK__KV_JOB_DEL) {
        ek__kv_op_t *op = ek_container_of(j, ek__kv_op_t, job);
        op->state = j->err ? EK__KV_FAILED : EK__KV_READY;
        op->err = j->err;
        j->err = NULL;
        return;
    }
    switch (j->kind) {
    case EK__KV_JOB_FLUSH:
        if (j->err) {
            flush_failed(kv, j);
        }
        break;
    case EK__KV_JOB_RESERVE:
        if (j->err) {
            kv->reserved_requested = kv->reserved_durable;
        } else {
            kv->reserved_durable = EK_MAX(kv->reserved_durable, j->value);
        }
        break;
    case EK__KV_JOB_RESET:
        kv->awaiting_reset = false;
        break;
    case EK__KV_JOB_STOP:
        kv->writer_stopped = true;
        break;
    default:
        break;
    }
    free_job(j);
}

static void finish_close(ek_kv_t *kv);

/* Closing: once every write has completed, flush volatile values and stop the writer. */
static void close_step(ek_kv_t *kv)
{
    if (!kv->closing || kv->fifo_head) {
        return;
    }
    if (!kv->stop_sent) {
        ek__kv_flush_volatile(kv);
        push_job(kv, EK__KV_JOB_STOP, kv->next_seq, 0);
        kv->stop_sent = true;
    } else if (kv->writer_stopped && !kv->finishing) {
        finish_close(kv);
    }
}

static void on_wake(uv_async_t *h)
{
    ek_kv_t *kv = ek_container_of(h, ek_kv_t, wake);
    ek__kv_job_t *j = ek__kv_writer_take_done(kv);
    while (j) {
        ek__kv_job_t *next = j->next;
        job_done(kv, j);
        j = next;
    }
    drain(kv);
    ek__kv_watch_start_pending(kv);
    close_step(kv);
    if (!kv->finishing) {
        ek__kv_writer_flush(kv);
    }
}

/* ---- open and close ---- */

static int take_lock(const char *path, int *fd_out, ek_error_t **err)
{
    ek_autofree char *lock = ek_xasprintf("%s.lock", path);
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "open lock file `%s`", lock);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            return ek_error_status(err, 503,
                                   "database `%s` is in use by another edgek process (stop "
                                   "`edgek server` first)",
                                   path);
        }
        return ek_error_make(err, e, "lock `%s`", lock);
    }
    *fd_out = fd;
    return 0;
}

static int load_row(void *data, const ek_kv_entry_t *row, ek_error_t **err)
{
    ek_kv_t *kv = data;
    if (!row->key[0]) {
        return ek_error_make(err, 0, "database `%s` holds an empty key", kv->path);
    }
    ek__kv_node_t *n = ek__kv_index_insert(&kv->index, row->key);
    ek__kv_node_push(n, ek_kv_entry_ref(row));
    set_latest(n, row);
    kv->nkeys++;
    ek__kv_maint_note_version(kv, n, row, false);
    return 0;
}

/*
 * Writes the first revision reservation. A full or read-only disk does not stop the store
 * from opening (reads must keep working): until a reservation reaches the disk, volatile
 * writes are made durable and every write first retries the reservation, so writes fail with
 * a clear status and succeed again once there is space.
 */
static int reserve_at_open(ek_kv_t *kv, int64_t mark, ek_error_t **err)
{
    ek_error_t *e = NULL;
    if (kv->ops->begin(kv->be, &e) == 0 && kv->ops->reserve(kv->be, mark, &e) == 0 &&
        kv->ops->commit(kv->be, &e) == 0) {
        kv->reserved_durable = kv->reserved_requested = mark;
        return 0;
    }
    kv->ops->rollback(kv->be);
    if (e->status == 507 || e->status == 503) {
        EK_LOG(EK_WARN, "kv", "opened without write access err=\"%s\"", ek_error_msg(e));
        ek_error_free(e);
        return 0;
    }
    *err = e;
    return -1;
}

/* Opens the database, loads it and writes the first reservation (loop thread, no handles). */
static int open_store(ek_kv_t *kv, ek_error_t **err)
{
    ek_autofree char *dir = ek_path_dirname(kv->path);
    if (ek_mkdir_p(dir, 0700, err) < 0 || take_lock(kv->path, &kv->lock_fd, err) < 0) {
        return -1;
    }
    if (kv->ops->open(kv->path, kv->opts.no_sync, &kv->be, err) < 0) {
        return -1;
    }
    ek__kv_meta_t meta = { 0 };
    if (kv->ops->load(kv->be, load_row, kv, &meta, err) < 0) {
        return ek_error_wrap(err, "load `%s`", kv->path);
    }
    /* History before the restart is gone: it lived in memory. */
    kv->rev = kv->last_rev = kv->compacted_rev = meta.max_rev;
    kv->window.floor = meta.max_rev;
    kv->reserved_durable = kv->reserved_requested = meta.max_rev;
    if (reserve_at_open(kv, meta.max_rev + EK__KV_REV_BLOCK, err) < 0) {
        return ek_error_wrap(err, "open `%s`", kv->path);
    }
    return ek_fsync_dir(dir, err);
}

static void release_sync(ek_kv_t *kv)
{
    if (kv->be) {
        kv->ops->close(kv->be);
        kv->be = NULL;
    }
    if (kv->lock_fd >= 0) {
        close(kv->lock_fd);
        kv->lock_fd = -1;
    }
}

static void free_store(ek_kv_t *kv)
{
    void (*cb)(void *) = kv->close_cb;
    void *data = kv->close_data;
    ek_assert(!kv->lq_head);
    release_sync(kv);
    ek__kv_watch_free_all(kv);
    ek__kv_maint_free(kv);
    ek__kv_index_free(&kv->index);
    pthread_mutex_destroy(&kv->mu);
    pthread_cond_destroy(&kv->cond);
    free(kv->path);
    free(kv);
    if (cb) {
        cb(data);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    ek_kv_t *kv = h->data;
    if (--kv->handles_open == 0) {
        free_store(kv);
    }
}

static void close_handles(ek_kv_t *kv)
{
    uv_handle_t *hs[] = { (uv_handle_t *)&kv->wake, (uv_handle_t *)&kv->flush_timer,
                          (uv_handle_t *)&kv->ttl_timer, (uv_handle_t *)&kv->compact_timer };
    for (size_t i = 0; i < EK_ARRAY_SIZE(hs); i++) {
        uv_close(hs[i], on_handle_closed);
    }
}

static void finish_close(ek_kv_t *kv)
{
    kv->finishing = true;
    ek__kv_writer_join(kv);
    release_sync(kv);
    close_handles(kv);
}

static void init_handles(ek_kv_t *kv)
{
    ek_assert(uv_async_init(kv->loop, &kv->wake, on_wake) == 0);
    kv->wake.data = kv;
    kv->handles_open = 1;
    ek__kv_maint_init(kv);
}

static void set_defaults(ek_kv_t *kv, const ek_kv_options_t *opts)
{
    kv->opts = *opts;
    kv->opts.path = NULL;
    if (kv->opts.volatile_flush_ms <= 0) {
        kv->opts.volatile_flush_ms = 300000;
    }
    if (kv->opts.history_revisions <= 0) {
        kv->opts.history_revisions = 10000;
    }
    if (kv->opts.watch_window == 0) {
        kv->opts.watch_window = 10000;
    }
}

int ek_kv_open(uv_loop_t *loop, const ek_kv_options_t *opts, ek_kv_t **out, ek_error_t **err)
{
    if (!opts || !opts->path || !*opts->path) {
        return ek_error_make(err, EINVAL, "open store: no database path");
    }
    ek_kv_t *kv = ek_new(ek_kv_t);
    kv->loop = loop;
    kv->path = ek_xstrdup(opts->path);
    kv->lock_fd = -1;
    kv->ops = &ek__kv_sqlite_ops;
    kv->next_seq = 1;
    set_defaults(kv, opts);
    pthread_mutex_init(&kv->mu, NULL);
    pthread_cond_init(&kv->cond, NULL);
    ek__kv_index_init(&kv->index);
    kv->window.cap = kv->opts.watch_window;
    kv->window.ev = ek_xcalloc(kv->window.cap, sizeof(ek_kv_event_t));
    if (open_store(kv, err) < 0) {
        free_store(kv);
        return -1;
    }
    init_handles(kv);
    if (ek__kv_writer_start(kv, err) < 0) {
        release_sync(kv);
        close_handles(kv); /* frees kv on a later loop iteration */
        return -1;
    }
    ek__kv_maint_start(kv);
    *out = kv;
    return 0;
}

void ek_kv_close(ek_kv_t *kv, void (*cb)(void *data), void *data)
{
    ek_assert(!kv->closing);
    kv->closing = true;
    kv->close_cb = cb;
    kv->close_data = data;
    ek__kv_maint_stop(kv);
    kick(kv);
}

/* ---- reads ---- */

const ek_kv_entry_t *ek_kv_get(ek_kv_t *kv, const char *key)
{
    ek__kv_node_t *n = ek__kv_index_find(&kv->index, key);
    return n ? ek_kv_entry_ref(ek__kv_node_current(n)) : NULL;
}

int64_t ek_kv_current_rev(ek_kv_t *kv)
{
    return kv->rev;
}

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

void ek_kv_stats(ek_kv_t *kv, ek_kv_stats_t *out)
{
    ek_autofree char *wal = ek_xasprintf("%s-wal", kv->path);
    *out = (ek_kv_stats_t){
        .rev = kv->rev,
        .keys = kv->nkeys,
        .writes = kv->writes,
        .commits = kv->commits,
        .volatile_pending = (int64_t)kv->nvol,
        .compacted_rev = kv->compacted_rev,
        .db_bytes = file_size(kv->path) + file_size(wal),
    };
}

/* ---- snapshot and restore ---- */

int ek_kv_snapshot(ek_kv_t *kv, const char *path, ek_error_t **err)
{
    return kv->ops->snapshot(kv->path, path, err);
}

int ek_kv_snapshot_path(const char *db_path, const char *path, ek_error_t **err)
{
    return ek__kv_sqlite_ops.snapshot(db_path, path, err);
}

int ek_kv_restore(const char *snapshot, const char *db_path, ek_error_t **err)
{
    ek_autofree char *dir = ek_path_dirname(db_path);
    ek_autoclose int fd = -1;
    if (ek_mkdir_p(dir, 0700, err) < 0 || take_lock(db_path, &fd, err) < 0) {
        return ek_error_wrap(err, "restore `%s`", snapshot);
    }
    return ek__kv_sqlite_ops.restore(snapshot, db_path, err);
}

/* ---- hooks for tests and benchmarks ---- */

void ek__kv_set_max_batch(ek_kv_t *kv, int n)
{
    __atomic_store_n(&kv->max_batch, n, __ATOMIC_RELAXED);
}

int64_t ek__kv_last_commit_ns(ek_kv_t *kv)
{
    return kv->last_commit_ns;
}

size_t ek__kv_history_len(ek_kv_t *kv)
{
    size_t n = 0;
    for (ek__kv_node_t *x = kv->index.head->next[0]; x; x = x->next[0]) {
        n += x->nvers;
    }
    return n;
}

int64_t ek__kv_compact_max_us(ek_kv_t *kv)
{
    return kv->compact_max_us;
}
