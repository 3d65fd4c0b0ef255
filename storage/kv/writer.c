/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The writer thread: group commit. It sleeps until jobs arrive, takes the whole queue, writes
 * it in one transaction and commits once (one fsync), then hands the jobs back to the loop
 * through uv_async. Writes that arrive while a commit syncs wait in the queue and share the
 * next transaction, so throughput grows with the number of writes in flight while each write
 * still waits for at most about two syncs.
 *
 * After a failed transaction (disk full, read-only disk) the writer fails every job it gets
 * until the loop sends RESET. The loop validated the writes queued behind the failed one
 * against a state that included it; committing them would store a history that never
 * happened. RESET marks the point after which the loop validated against the truth again.
 */
#include <signal.h>

#include "storage/kv/kv-internal.h"

static bool is_client_write(const ek__kv_job_t *j)
{
    return j->kind == EK__KV_JOB_PUT || j->kind == EK__KV_JOB_DEL;
}

static bool is_marker(const ek__kv_job_t *j)
{
    return j->kind == EK__KV_JOB_RESET || j->kind == EK__KV_JOB_STOP;
}

/*
 * Jobs queued during one loop iteration reach the writer together (ek__kv_writer_flush at the
 * end of the store's async callback): an idle writer woken by the first of 64 writes would
 * otherwise commit it alone and make the other 63 wait a whole sync.
 */
void ek__kv_writer_push(ek_kv_t *kv, ek__kv_job_t *job)
{
    job->next = NULL;
    job->err = NULL;
    job->txn_end = false;
    if (kv->lq_tail) {
        kv->lq_tail->next = job;
    } else {
        kv->lq_head = job;
        uv_async_send(&kv->wake);
    }
    kv->lq_tail = job;
}

void ek__kv_writer_flush(ek_kv_t *kv)
{
    if (!kv->lq_head) {
        return;
    }
    pthread_mutex_lock(&kv->mu);
    if (kv->wq_tail) {
        kv->wq_tail->next = kv->lq_head;
    } else {
        kv->wq_head = kv->lq_head;
        pthread_cond_signal(&kv->cond);
    }
    kv->wq_tail = kv->lq_tail;
    pthread_mutex_unlock(&kv->mu);
    kv->lq_head = kv->lq_tail = NULL;
}

ek__kv_job_t *ek__kv_writer_take_done(ek_kv_t *kv)
{
    pthread_mutex_lock(&kv->mu);
    ek__kv_job_t *j = kv->done_head;
    kv->done_head = kv->done_tail = NULL;
    pthread_mutex_unlock(&kv->mu);
    return j;
}

/* Hands a finished chain first..last back to the loop thread. */
static void deliver(ek_kv_t *kv, ek__kv_job_t *first, ek__kv_job_t *last)
{
    last->next = NULL;
    pthread_mutex_lock(&kv->mu);
    if (kv->done_tail) {
        kv->done_tail->next = first;
    } else {
        kv->done_head = first;
    }
    kv->done_tail = last;
    pthread_mutex_unlock(&kv->mu);
    uv_async_send(&kv->wake);
}

static int exec_job(ek_kv_t *kv, ek__kv_job_t *j, ek_error_t **err)
{
    switch (j->kind) {
    case EK__KV_JOB_PUT:
        return kv->ops->put(kv->be, j->entry, err);
    case EK__KV_JOB_DEL:
        return kv->ops->del(kv->be, j->key, err);
    case EK__KV_JOB_FLUSH:
        for (size_t i = 0; i < j->nrows; i++) {
            if (kv->ops->put(kv->be, j->rows[i], err) < 0) {
                return -1;
            }
        }
        return 0;
    case EK__KV_JOB_RESERVE:
        return kv->ops->reserve(kv->be, j->value, err);
    default:
        return 0;
    }
}

/* One transaction for the chain first..last (terminated). */
static void commit_chain(ek_kv_t *kv, ek__kv_job_t *first, ek__kv_job_t *last)
{
    ek_error_t *err = NULL;
    int r = kv->ops->begin(kv->be, &err);
    for (ek__kv_job_t *j = first; r == 0 && j; j = j->next) {
        r = exec_job(kv, j, &err);
    }
    if (r == 0) {
        r = kv->ops->commit(kv->be, &err);
    }
    if (r < 0) {
        kv->ops->rollback(kv->be);
        for (ek__kv_job_t *j = first; j; j = j->next) {
            j->err = ek__kv_error_dup(err);
        }
        kv->w_broken = true;
        kv->w_broken_err = err;
        return;
    }
    int64_t now = (int64_t)ek_now_ns();
    for (ek__kv_job_t *j = first; j; j = j->next) {
        j->commit_ns = now;
    }
    last->txn_end = true;
}

/* Broken: fails jobs up to and including the RESET (or STOP). Returns the rest. */
static ek__kv_job_t *fail_until_reset(ek_kv_t *kv, ek__kv_job_t *list, bool *stop)
{
    ek__kv_job_t *first = list, *last = list;
    for (;;) {
        if (is_marker(last)) {
            *stop = last->kind == EK__KV_JOB_STOP;
            kv->w_broken = false;
            ek_error_clear(&kv->w_broken_err);
            break;
        }
        last->err = ek__kv_error_dup(kv->w_broken_err);
        if (!last->next) {
            break;
        }
        last = last->next;
    }
    ek__kv_job_t *rest = last->next;
    deliver(kv, first, last);
    return rest;
}

/* Splits off the next transaction's jobs: up to a marker or max_batch client writes. */
static ek__kv_job_t *take_chain(ek__kv_job_t *list, int max_batch, ek__kv_job_t **last)
{
    ek__kv_job_t *end = list;
    int writes = is_client_write(end);
    while (end->next && !is_marker(end->next)) {
        if (max_batch > 0 && writes >= max_batch && is_client_write(end->next)) {
            break;
        }
        end = end->next;
        writes += is_client_write(end);
    }
    ek__kv_job_t *rest = end->next;
    end->next = NULL;
    *last = end;
    return rest;
}

/* Processes one batch taken from the queue; returns true after STOP. */
static bool process(ek_kv_t *kv, ek__kv_job_t *list)
{
    bool stop = false;
    while (list && !stop) {
        if (kv->w_broken) {
            list = fail_until_reset(kv, list, &stop);
            continue;
        }
        if (is_marker(list)) {
            ek__kv_job_t *j = list;
            list = list->next;
            stop = j->kind == EK__KV_JOB_STOP;
            deliver(kv, j, j);
            continue;
        }
        ek__kv_job_t *last;
        ek__kv_job_t *first = list;
        list = take_chain(list, __atomic_load_n(&kv->max_batch, __ATOMIC_RELAXED), &last);
        commit_chain(kv, first, last);
        deliver(kv, first, last);
    }
    /* Jobs behind STOP cannot exist: close queues STOP last and refuses writes after it. */
    ek_assert(!list);
    return stop;
}

static void *writer_main(void *arg)
{
    ek_kv_t *kv = arg;
    for (;;) {
        pthread_mutex_lock(&kv->mu);
        while (!kv->wq_head) {
            pthread_cond_wait(&kv->cond, &kv->mu);
        }
        ek__kv_job_t *list = kv->wq_head;
        kv->wq_head = kv->wq_tail = NULL;
        pthread_mutex_unlock(&kv->mu);
        if (process(kv, list)) {
            break;
        }
    }
    ek_error_clear(&kv->w_broken_err);
    return NULL;
}

int ek__kv_writer_start(ek_kv_t *kv, ek_error_t **err)
{
    /* Signals belong to the loop thread: the writer starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&kv->thread, NULL, writer_main, kv);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        return ek_error_make(err, rc, "start the store's writer thread");
    }
    pthread_setname_np(kv->thread, "ek-kv-writer");
    kv->thread_started = true;
    return 0;
}

void ek__kv_writer_join(ek_kv_t *kv)
{
    if (kv->thread_started) {
        pthread_join(kv->thread, NULL);
        kv->thread_started = false;
    }
}
