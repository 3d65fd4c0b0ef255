/* SPDX-License-Identifier: Apache-2.0 */
/*
 * storage/kv: the revisioned store. Conflicts, MVCC lists and continue tokens, watches from
 * the past and the window's 410, compaction under load, revisions across restarts, TTL,
 * volatile (coalesced) keys, group commit, snapshot/restore, a corrupt database, a crash test
 * (a child killed with SIGKILL while writing; every acknowledged write must survive) and a
 * full disk (a small tmpfs in the test's own mount namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "storage/kv/kv-internal.h"
#include "tests/unit/test.h"

/* ---- helpers ---- */

typedef struct env {
    uv_loop_t loop;
    ek_kv_t *kv;
    char *path;
    ek_kv_options_t opts;
} env_t;

typedef struct wres {
    bool done;
    int64_t rev;
    int status;
    int errnum;
    const ek_kv_entry_t *entry;
} wres_t;

static void on_write(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    wres_t *r = data;
    r->done = true;
    r->rev = rev;
    r->status = err ? err->status : 0;
    r->errnum = err ? err->errnum : 0;
    r->entry = ek_kv_entry_ref(e);
}

static void wres_clear(wres_t *r)
{
    ek_kv_entry_unref(r->entry);
    memset(r, 0, sizeof(*r));
}

static void run_until(env_t *t, const bool *flag)
{
    while (!*flag) {
        uv_run(&t->loop, UV_RUN_ONCE);
    }
}

static void on_timer_flag(uv_timer_t *h)
{
    *(bool *)h->data = true;
}

/* Runs the loop for about ms milliseconds. */
static void run_for(env_t *t, int ms)
{
    bool fired = false;
    uv_timer_t timer;
    uv_timer_init(&t->loop, &timer);
    timer.data = &fired;
    uv_timer_start(&timer, on_timer_flag, (uint64_t)ms, 0);
    run_until(t, &fired);
    uv_close((uv_handle_t *)&timer, NULL);
    uv_run(&t->loop, UV_RUN_NOWAIT);
}

static void env_open_opts(env_t *t, const ek_kv_options_t *o)
{
    if (!t->path) {
        t->path = ek_test_path("server/db/state.db");
        ek_assert(uv_loop_init(&t->loop) == 0);
    }
    t->opts = *o;
    t->opts.path = t->path;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_kv_open(&t->loop, &t->opts, &t->kv, &err), &err);
}

static void env_open(env_t *t)
{
    ek_kv_options_t o = { .no_sync = true };
    env_open_opts(t, &o);
}

static void set_flag(void *data)
{
    *(bool *)data = true;
}

static void env_close(env_t *t)
{
    bool closed = false;
    ek_kv_close(t->kv, set_flag, &closed);
    run_until(t, &closed);
    t->kv = NULL;
}

static void env_reopen(env_t *t)
{
    env_close(t);
    env_open_opts(t, &t->opts);
}

static void env_fini(env_t *t)
{
    if (t->kv) {
        env_close(t);
    }
    uv_run(&t->loop, UV_RUN_NOWAIT);
    ASSERT_EQ(uv_loop_close(&t->loop), 0);
    free(t->path);
}

static wres_t do_create(env_t *t, const char *key, const char *val, int64_t ttl, int flags)
{
    wres_t r = { 0 };
    ek_kv_create(t->kv, key, val, strlen(val), ttl, flags, on_write, &r);
    ASSERT_FALSE(r.done); /* never completes inside the call */
    run_until(t, &r.done);
    return r;
}

static wres_t do_update(env_t *t, const char *key, const char *val, int64_t expected, int flags)
{
    wres_t r = { 0 };
    ek_kv_update(t->kv, key, val, strlen(val), expected, 0, flags, on_write, &r);
    ASSERT_FALSE(r.done);
    run_until(t, &r.done);
    return r;
}

static wres_t do_delete(env_t *t, const char *key, int64_t expected)
{
    wres_t r = { 0 };
    ek_kv_delete(t->kv, key, expected, on_write, &r);
    ASSERT_FALSE(r.done);
    run_until(t, &r.done);
    return r;
}

/* Creates key=val and returns its revision (the write must succeed). */
static int64_t put_new(env_t *t, const char *key, const char *val)
{
    wres_t r = do_create(t, key, val, 0, 0);
    ASSERT_EQ(r.status, 0);
    int64_t rev = r.rev;
    wres_clear(&r);
    return rev;
}

static int64_t put_upd(env_t *t, const char *key, const char *val, int flags)
{
    wres_t r = do_update(t, key, val, 0, flags);
    ASSERT_EQ(r.status, 0);
    int64_t rev = r.rev;
    wres_clear(&r);
    return rev;
}

static void expect_value(env_t *t, const char *key, const char *val)
{
    const ek_kv_entry_t *e = ek_kv_get(t->kv, key);
    if (!val) {
        ASSERT_TRUE(e == NULL);
        return;
    }
    ASSERT_NOT_NULL(e);
    ASSERT_STREQ(e->value, val);
    ek_kv_entry_unref(e);
}

static char *key_of(int i)
{
    return ek_xasprintf("/registry/pods/default/p%05d", i);
}

/* ---- conflicts and basics ---- */

TEST(kv_create_update_delete_conflicts)
{
    env_t t = { 0 };
    env_open(&t);
    int64_t r1 = put_new(&t, "/a", "one");
    ASSERT_CMP(r1, >, 0);

    wres_t r = do_create(&t, "/a", "again", 0, 0);
    ASSERT_EQ(r.status, 409);
    ASSERT_EQ(r.errnum, EEXIST);
    wres_clear(&r);

    r = do_update(&t, "/a", "two", r1 + 100, 0);
    ASSERT_EQ(r.status, 409);
    ASSERT_EQ(r.errnum, ESTALE);
    ASSERT_NOT_NULL(r.entry); /* the current record comes with a revision conflict */
    ASSERT_EQ(r.entry->mod_rev, r1);
    wres_clear(&r);

    r = do_update(&t, "/a", "two", r1, 0);
    ASSERT_EQ(r.status, 0);
    int64_t r2 = r.rev;
    ASSERT_CMP(r2, >, r1);
    ASSERT_EQ(r.entry->create_rev, r1);
    ASSERT_EQ(r.entry->mod_rev, r2);
    ASSERT_STREQ(r.entry->value, "two");
    wres_clear(&r);

    r = do_update(&t, "/missing", "x", 0, 0);
    ASSERT_EQ(r.status, 404);
    ASSERT_EQ(r.errnum, ENOENT);
    wres_clear(&r);
    r = do_delete(&t, "/missing", 0);
    ASSERT_EQ(r.status, 404);
    wres_clear(&r);
    r = do_delete(&t, "/a", r1);
    ASSERT_EQ(r.status, 409);
    wres_clear(&r);
    r = do_create(&t, "", "x", 0, 0);
    ASSERT_EQ(r.status, 400);
    wres_clear(&r);

    r = do_delete(&t, "/a", r2);
    ASSERT_EQ(r.status, 0);
    ASSERT_CMP(r.rev, >, r2);
    ASSERT_STREQ(r.entry->value, "two"); /* a delete returns the last value */
    wres_clear(&r);
    expect_value(&t, "/a", NULL);
    ASSERT_EQ(ek_kv_current_rev(t.kv), r2 + 1);

    /* Re-created after a delete: a new life with a new create_rev. */
    int64_t r4 = put_new(&t, "/a", "three");
    const ek_kv_entry_t *e = ek_kv_get(t.kv, "/a");
    ASSERT_EQ(e->create_rev, r4);
    ek_kv_entry_unref(e);

    /* Two updates in flight that expect the same revision: the second one loses. */
    wres_t a = { 0 }, b = { 0 };
    ek_kv_update(t.kv, "/a", "x", 1, r4, 0, 0, on_write, &a);
    ek_kv_update(t.kv, "/a", "y", 1, r4, 0, 0, on_write, &b);
    run_until(&t, &a.done);
    run_until(&t, &b.done);
    ASSERT_EQ(a.status, 0);
    ASSERT_EQ(b.status, 409);
    ASSERT_EQ(b.entry->mod_rev, a.rev);
    wres_clear(&a);
    wres_clear(&b);
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.keys, 1);
    env_fini(&t);
}

/* ---- lists ---- */

static void list_all(env_t *t, const char *prefix, int64_t rev, ek_kv_list_result_t *out)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_kv_list(t->kv, prefix, NULL, 0, rev, out, &err), &err);
}

TEST(kv_list_pagination_consistent_while_writing)
{
    env_t t = { 0 };
    env_open(&t);
    for (int i = 0; i < 200; i += 2) {
        ek_autofree char *k = key_of(i);
        put_new(&t, k, k);
    }
    put_new(&t, "/registry/pods/defaulz", "outside the prefix");
    const char *prefix = "/registry/pods/default/";
    ek_kv_list_result_t want;
    list_all(&t, prefix, 0, &want);
    ASSERT_EQ(want.n, 100);

    ek_error_t *err = NULL;
    ek_kv_list_result_t page;
    ASSERT_OK(ek_kv_list(t.kv, prefix, NULL, 7, 0, &page, &err), &err);
    ASSERT_EQ(page.n, 7);
    ASSERT_EQ(page.remaining, 93);
    ASSERT_EQ(page.rev, want.rev);
    size_t got = 0;
    int round = 0;
    for (;;) {
        for (size_t i = 0; i < page.n; i++, got++) {
            ASSERT_STREQ(page.entries[i]->key, want.entries[got]->key);
            ASSERT_STREQ(page.entries[i]->value, want.entries[got]->value);
            ASSERT_EQ(page.entries[i]->mod_rev, want.entries[got]->mod_rev);
        }
        if (!page.next_cont) {
            break;
        }
        /* Writers between pages: new keys in the gaps, updates and deletes of listed ones. */
        ek_autofree char *add = key_of(2 * round + 1);
        ek_autofree char *upd = key_of(199 - 2 * round - 1);
        ek_autofree char *del = key_of(2 * round + 2);
        put_new(&t, add, "new");
        put_upd(&t, upd, "changed", 0);
        wres_t r = do_delete(&t, del, 0);
        ASSERT_EQ(r.status, 0);
        wres_clear(&r);
        round++;
        ek_autofree char *cont = ek_xstrdup(page.next_cont);
        ek_kv_list_result_free(&page);
        ASSERT_OK(ek_kv_list(t.kv, prefix, cont, 7, 0, &page, &err), &err);
        ASSERT_EQ(page.rev, want.rev);
    }
    ek_kv_list_result_free(&page);
    ASSERT_EQ(got, want.n);
    ASSERT_CMP(round, >, 10);

    /* The present differs from the snapshot the pages showed. */
    ek_kv_list_result_t now;
    list_all(&t, prefix, 0, &now);
    ASSERT_CMP(now.rev, >, want.rev);
    ASSERT_EQ(now.n, 100); /* one added and one deleted per round */
    ek_kv_list_result_free(&now);
    ek_kv_list_result_free(&want);
    env_fini(&t);
}

TEST(kv_continue_token_rejects_garbage)
{
    env_t t = { 0 };
    env_open(&t);
    for (int i = 0; i < 5; i++) {
        ek_autofree char *k = key_of(i);
        put_new(&t, k, "v");
    }
    ek_error_t *err = NULL;
    ek_kv_list_result_t r;
    ASSERT_OK(ek_kv_list(t.kv, "/registry/", NULL, 2, 0, &r, &err), &err);
    ek_autofree char *good = ek_xstrdup(r.next_cont);
    ek_kv_list_result_free(&r);

    ek_autofree char *zero = ek__kv_cont_encode(0, "/registry/x");
    ek_autofree char *neg = ek__kv_cont_encode(-5, "/registry/x");
    ek_autofree char *nokey = ek__kv_cont_encode(3, "");
    const char *bad[] = {
        "garbage!",
        "a",
        "ZWsxOjM6", /* "ek1:3:" */
        "ZWsyOjM6L3JlZ2lzdHJ5",
        /* ek2: */ "ZWsxOng6L3I", /* ek1:x:/r */
        "ZWsxOjM",
        /* ek1:3 */ zero,
        neg,
        nokey,
        "ZWsxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6L3I", /* huge rev */
        "ZWsxOjM6L3IAeA",
        /* NUL in key */ "Zh", /* bits left over */
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        int rc = ek_kv_list(t.kv, "/registry/", bad[i], 2, 0, &r, &err);
        if (rc == 0) {
            ek__test_fail(__FILE__, __LINE__, "token %zu `%s` accepted", i, bad[i]);
        }
        ASSERT_EQ(err->status, 400);
        ASSERT_CONTAINS(ek_error_msg(err), "continue token");
        ek_error_clear(&err);
    }
    /* A good token for another prefix is refused too. */
    ASSERT_EQ(ek_kv_list(t.kv, "/other/", good, 2, 0, &r, &err), -1);
    ASSERT_EQ(err->status, 400);
    ek_error_clear(&err);
    /* Round trip of the decoder with an odd length key. */
    int64_t rev = 0;
    char *key = NULL;
    ek_autofree char *tok = ek__kv_cont_encode(123456, "/k/ab");
    ASSERT_OK(ek__kv_cont_decode(tok, &rev, &key, &err), &err);
    ASSERT_EQ(rev, 123456);
    ASSERT_STREQ(key, "/k/ab");
    free(key);
    ASSERT_OK(ek_kv_list(t.kv, "/registry/", good, 2, 0, &r, &err), &err);
    ASSERT_EQ(r.n, 2);
    ek_kv_list_result_free(&r);
    /* Future revisions and negative ones. */
    ASSERT_EQ(ek_kv_list(t.kv, "/registry/", NULL, 0, ek_kv_current_rev(t.kv) + 5, &r, &err), -1);
    ASSERT_EQ(err->status, 504);
    ek_error_clear(&err);
    env_fini(&t);
}

/* ---- watches ---- */

typedef struct rec {
    ek_kv_event_t ev[64];
    int n;
    int order[64]; /* 1 = watch event, 2 = write callback */
    int norder;
    ek_kv_watch_t *cancel_at_3;
} rec_t;

static void on_event(const ek_kv_event_t *ev, void *data)
{
    rec_t *r = data;
    ek_assert(r->n < 64);
    r->ev[r->n] = *ev;
    ek_kv_entry_ref(ev->entry);
    ek_kv_entry_ref(ev->prev);
    r->n++;
    if (r->norder < 64) {
        r->order[r->norder++] = 1;
    }
    if (r->cancel_at_3 && r->n == 3) {
        ek_kv_watch_cancel(r->cancel_at_3);
    }
}

static void rec_clear(rec_t *r)
{
    for (int i = 0; i < r->n; i++) {
        ek_kv_entry_unref(r->ev[i].entry);
        ek_kv_entry_unref(r->ev[i].prev);
    }
    memset(r, 0, sizeof(*r));
}

static void on_write_order(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    rec_t *r = data;
    r->order[r->norder++] = 2;
}

TEST(kv_watch_from_old_revision)
{
    env_t t = { 0 };
    env_open(&t);
    int64_t r1 = put_new(&t, "/w/a", "a1");
    int64_t r2 = put_new(&t, "/w/b", "b1");
    int64_t r3 = put_upd(&t, "/w/a", "a2", 0);
    put_new(&t, "/x/other", "not watched");
    wres_t d = do_delete(&t, "/w/b", 0);
    int64_t r4 = d.rev;
    wres_clear(&d);

    rec_t rec = { 0 };
    ek_error_t *err = NULL;
    ek_kv_watch_t *w = ek_kv_watch(t.kv, "/w/", r1, on_event, &rec, &err);
    ASSERT_NOT_NULL(w);
    ASSERT_EQ(rec.n, 0); /* nothing from inside the call */
    run_for(&t, 20);
    ASSERT_EQ(rec.n, 3);
    ASSERT_EQ(rec.ev[0].type, EK_KV_ADDED);
    ASSERT_EQ(rec.ev[0].rev, r2);
    ASSERT_TRUE(rec.ev[0].prev == NULL);
    ASSERT_EQ(rec.ev[1].type, EK_KV_MODIFIED);
    ASSERT_EQ(rec.ev[1].rev, r3);
    ASSERT_STREQ(rec.ev[1].entry->value, "a2");
    ASSERT_STREQ(rec.ev[1].prev->value, "a1");
    ASSERT_EQ(rec.ev[2].type, EK_KV_DELETED);
    ASSERT_EQ(rec.ev[2].rev, r4);
    ASSERT_EQ(rec.ev[2].entry->mod_rev, r4);
    ASSERT_STREQ(rec.ev[2].entry->value, "b1");
    ASSERT_STREQ(rec.ev[2].prev->value, "b1");

    /* Live events follow, each before its write's own callback. */
    rec.norder = 0;
    ek_kv_create(t.kv, "/w/c", "c1", 2, 0, 0, on_write_order, &rec);
    while (rec.norder < 2) {
        uv_run(&t.loop, UV_RUN_ONCE);
    }
    ASSERT_EQ(rec.n, 4);
    ASSERT_EQ(rec.order[0], 1);
    ASSERT_EQ(rec.order[1], 2);

    /* A watch that cancels itself from its own callback gets nothing more. */
    rec_t rec2 = { 0 };
    ek_kv_watch_t *w2 = ek_kv_watch(t.kv, "/w/", r1, on_event, &rec2, &err);
    rec2.cancel_at_3 = w2;
    run_for(&t, 20);
    ASSERT_EQ(rec2.n, 3);
    put_new(&t, "/w/d", "d1");
    ASSERT_EQ(rec2.n, 3);
    ASSERT_EQ(rec.n, 5);
    ASSERT_EQ(rec.ev[4].rev, ek_kv_current_rev(t.kv));

    /* from_rev 0: only what comes next. */
    rec_t rec3 = { 0 };
    ek_kv_watch_t *w3 = ek_kv_watch(t.kv, "", 0, on_event, &rec3, &err);
    put_upd(&t, "/x/other", "v2", 0);
    ASSERT_EQ(rec3.n, 1);
    ASSERT_STREQ(rec3.ev[0].entry->key, "/x/other");
    ek_kv_watch_cancel(w3);
    ek_kv_watch_cancel(w);
    rec_clear(&rec);
    rec_clear(&rec2);
    rec_clear(&rec3);
    env_fini(&t);
}

TEST(kv_watch_expired_window_410)
{
    env_t t = { 0 };
    ek_kv_options_t o = { .no_sync = true, .watch_window = 8 };
    env_open_opts(&t, &o);
    int64_t first = put_new(&t, "/k/0", "v");
    for (int i = 1; i < 30; i++) {
        ek_autofree char *k = ek_xasprintf("/k/%d", i);
        put_new(&t, k, "v");
    }
    ek_error_t *err = NULL;
    rec_t rec = { 0 };
    ASSERT_TRUE(ek_kv_watch(t.kv, "/k/", first, on_event, &rec, &err) == NULL);
    ASSERT_EQ(err->status, 410);
    ek_error_clear(&err);
    /* Just inside the window works and replays exactly the rest. */
    int64_t cur = ek_kv_current_rev(t.kv);
    ek_kv_watch_t *w = ek_kv_watch(t.kv, "/k/", cur - 8, on_event, &rec, &err);
    ASSERT_NOT_NULL(w);
    run_for(&t, 10);
    ASSERT_EQ(rec.n, 8);
    ASSERT_EQ(rec.ev[7].rev, cur);
    ek_kv_watch_cancel(w);
    rec_clear(&rec);

    /* After a restart the window starts empty: older revisions are 410, the current is fine. */
    env_reopen(&t);
    ASSERT_TRUE(ek_kv_watch(t.kv, "/k/", cur, on_event, &rec, &err) == NULL);
    ASSERT_EQ(err->status, 410);
    ek_error_clear(&err);
    w = ek_kv_watch(t.kv, "/k/", ek_kv_current_rev(t.kv), on_event, &rec, &err);
    ASSERT_NOT_NULL(w);
    ek_kv_watch_cancel(w);
    env_fini(&t);
}

/* ---- compaction ---- */

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* n updates spread over 20 keys with 1 KiB values, 32 in flight. */
static void churn(env_t *t, int n, int seed)
{
    static char val[1024];
    int done = 0, issued = 0, inflight = 0;
    wres_t res[32];
    memset(res, 0, sizeof(res));
    while (done < n) {
        while (inflight < 32 && issued < n) {
            int slot = issued % 32;
            ek_autofree char *k = ek_xasprintf("/churn/%02d", (issued * 7 + seed) % 20);
            memset(val, 'a' + (issued % 26), sizeof(val) - 1);
            res[slot] = (wres_t){ 0 };
            ek_kv_update(t->kv, k, val, sizeof(val) - 1, 0, 0, 0, on_write, &res[slot]);
            issued++;
            inflight++;
        }
        uv_run(&t->loop, UV_RUN_ONCE);
        for (int s = 0; s < 32; s++) {
            if (res[s].done) {
                ASSERT_EQ(res[s].status, 0);
                wres_clear(&res[s]);
                done++;
                inflight--;
            }
        }
    }
}

TEST(kv_compaction_under_load)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    env_t t = { 0 };
    ek_kv_options_t o = { .no_sync = true, .history_revisions = 300 };
    env_open_opts(&t, &o);
    for (int i = 0; i < 20; i++) {
        ek_autofree char *k = ek_xasprintf("/churn/%02d", i);
        put_new(&t, k, "start");
    }
    ek_kv_list_result_t old;
    list_all(&t, "/churn/", 0, &old);
    ASSERT_EQ(old.n, 20);

    churn(&t, 3000, 1);
    /* A list at a revision inside the window is still answered from history. */
    int64_t mid = ek_kv_current_rev(t.kv) - 100;
    ek_kv_list_result_t at_mid;
    list_all(&t, "/churn/", mid, &at_mid);
    ASSERT_EQ(at_mid.n, 20);
    for (size_t i = 0; i < at_mid.n; i++) {
        ASSERT_CMP(at_mid.entries[i]->mod_rev, <=, mid);
    }

    /* The main file fills as checkpoints copy the WAL in; measure it once that happened. */
    churn(&t, 6000, 3);
    int64_t size1 = file_size(t.path);
    churn(&t, 6000, 5);
    run_for(&t, 1200); /* compaction runs by itself */
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    ASSERT_CMP(st.compacted_rev, >=, st.rev - 300);
    ASSERT_CMP(st.compacted_rev, >, mid);
    /* Memory history is bounded by the window, not by the 15000 writes. */
    ASSERT_CMP(ek__kv_history_len(t.kv), <=, 20 + 300 + 20);
    /* Batches are short: no long stall of the loop (generous for sanitizers). */
    ASSERT_CMP(ek__kv_compact_max_us(t.kv), <, 100000);

    ek_error_t *err = NULL;
    ek_kv_list_result_t r;
    ASSERT_EQ(ek_kv_list(t.kv, "/churn/", NULL, 0, old.rev, &r, &err), -1);
    ASSERT_EQ(err->status, 410);
    ek_error_clear(&err);
    ASSERT_EQ(ek_kv_list(t.kv, "/churn/", NULL, 0, mid, &r, &err), -1);
    ASSERT_EQ(err->status, 410);
    ek_error_clear(&err);
    list_all(&t, "/churn/", st.compacted_rev, &r);
    ASSERT_EQ(r.n, 20);
    ek_kv_list_result_free(&r);

    /* The same keys churned twice as long: the database file did not grow. */
    int64_t size2 = file_size(t.path);
    ASSERT_CMP(size1, >, 8 * 4096); /* the checkpoints did fill it */
    ASSERT_CMP(size2, <=, size1 + 8192);
    ek_autofree char *wal = ek_xasprintf("%s-wal", t.path);
    ASSERT_CMP(file_size(wal), <=, 5 * 1024 * 1024);
    ek_kv_list_result_free(&old);
    ek_kv_list_result_free(&at_mid);
    env_fini(&t);
}

/* ---- restarts ---- */

TEST(kv_revision_survives_restart)
{
    env_t t = { 0 };
    ek_kv_options_t o = { 0 }; /* durable */
    env_open_opts(&t, &o);
    put_new(&t, "/r/a", "a");
    int64_t rb = put_new(&t, "/r/b", "b");
    wres_t d = do_delete(&t, "/r/b", rb);
    int64_t last = d.rev;
    wres_clear(&d);
    ASSERT_EQ(ek_kv_current_rev(t.kv), last);
    for (int i = 0; i < 3; i++) {
        env_reopen(&t);
        /* The delete left no row behind, yet its revision is not forgotten. */
        ASSERT_CMP(ek_kv_current_rev(t.kv), >=, last);
        expect_value(&t, "/r/a", "a");
        expect_value(&t, "/r/b", NULL);
        int64_t r = put_upd(&t, "/r/a", "a", 0);
        ASSERT_CMP(r, >, last);
        last = r;
    }
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.keys, 1);
    env_fini(&t);
}

TEST(kv_second_open_is_refused)
{
    env_t t = { 0 };
    env_open(&t);
    uv_loop_t loop2;
    uv_loop_init(&loop2);
    ek_kv_t *kv2 = NULL;
    ek_error_t *err = NULL;
    ek_kv_options_t o = { .path = t.path };
    ASSERT_EQ(ek_kv_open(&loop2, &o, &kv2, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "in use");
    ek_error_free(err);
    ASSERT_EQ(uv_loop_close(&loop2), 0);
    env_fini(&t);
}

/* ---- TTL ---- */

TEST(kv_ttl_expiry)
{
    env_t t = { 0 };
    env_open(&t);
    rec_t rec = { 0 };
    ek_error_t *err = NULL;
    ek_kv_watch_t *w = ek_kv_watch(t.kv, "/events/", 0, on_event, &rec, &err);
    wres_t r = do_create(&t, "/events/e1", "ev", 1, 0);
    ASSERT_EQ(r.status, 0);
    ASSERT_CMP(r.entry->expires_at, >, 0);
    wres_clear(&r);
    put_new(&t, "/events/keep", "no ttl");
    r = do_create(&t, "/events/e2", "ev", 3600, 0);
    wres_clear(&r);
    /* An update that drops the TTL keeps the key. */
    r = do_create(&t, "/events/e3", "ev", 1, 0);
    wres_clear(&r);
    put_upd(&t, "/events/e3", "kept", 0);

    uint64_t t0 = ek_now_ms();
    /* e1, keep, e2, e3 added, e3 modified; then e1 expires. */
    while (rec.n < 6 && ek_now_ms() - t0 < 4000) {
        uv_run(&t.loop, UV_RUN_ONCE);
    }
    ASSERT_EQ(rec.n, 6);
    ASSERT_EQ(rec.ev[5].type, EK_KV_DELETED);
    ASSERT_STREQ(rec.ev[5].entry->key, "/events/e1");
    ASSERT_STREQ(rec.ev[5].prev->value, "ev");
    expect_value(&t, "/events/e1", NULL);
    expect_value(&t, "/events/e3", "kept");
    expect_value(&t, "/events/keep", "no ttl");
    ek_kv_watch_cancel(w);
    rec_clear(&rec);

    /* Expiry survives a restart. */
    r = do_create(&t, "/events/e4", "ev", 1, 0);
    wres_clear(&r);
    env_reopen(&t);
    expect_value(&t, "/events/e2", "ev");
    t0 = ek_now_ms();
    const ek_kv_entry_t *e;
    while ((e = ek_kv_get(t.kv, "/events/e4")) && ek_now_ms() - t0 < 4000) {
        ek_kv_entry_unref(e);
        run_for(&t, 50);
    }
    ASSERT_TRUE(e == NULL);
    env_fini(&t);
}

/* ---- volatile keys ---- */

static int64_t count_rows(const char *path, const char *key, int64_t *mod_rev, char **value)
{
    sqlite3 *db = NULL;
    ek_assert(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ek_assert(sqlite3_prepare_v2(db, "SELECT mod_rev, value FROM kv WHERE key = ?1", -1, &st,
                                 NULL) == SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int64_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        *mod_rev = sqlite3_column_int64(st, 0);
        free(*value);
        *value = ek_xstrdup((const char *)sqlite3_column_text(st, 1));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

TEST(kv_volatile_visible_at_once_flushed_later)
{
    env_t t = { 0 };
    ek_kv_options_t o = { .volatile_flush_ms = 1000 };
    env_open_opts(&t, &o);
    const char *lease = "/registry/leases/kube-node-lease/n1";
    int64_t r0 = put_new(&t, lease, "renew-0");
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    int64_t commits0 = st.commits;

    rec_t rec = { 0 };
    ek_error_t *err = NULL;
    ek_kv_watch_t *w = ek_kv_watch(t.kv, lease, 0, on_event, &rec, &err);
    int64_t last = 0;
    uint64_t t0 = ek_now_ms();
    for (int i = 1; i <= 40; i++) {
        char v[32];
        snprintf(v, sizeof(v), "renew-%d", i);
        last = put_upd(&t, lease, v, EK_KV_VOLATILE);
        expect_value(&t, lease, v); /* readers see it at once */
        ASSERT_EQ(rec.n, i);        /* and so do watchers */
    }
    ASSERT_CMP(ek_now_ms() - t0, <, 800); /* never waited for a disk (nor the flush) */
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.commits, commits0); /* nothing written yet */
    ASSERT_EQ(st.volatile_pending, 1);
    int64_t rev = 0;
    ek_autofree char *val = NULL;
    ASSERT_EQ(count_rows(t.path, lease, &rev, &val), 1);
    ASSERT_EQ(rev, r0);

    run_for(&t, 1300);
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.commits, commits0 + 1); /* forty renewals, one transaction */
    ASSERT_EQ(st.volatile_pending, 0);
    ASSERT_EQ(count_rows(t.path, lease, &rev, &val), 1);
    ASSERT_EQ(rev, last);
    ASSERT_STREQ(val, "renew-40");

    /* A durable write to the key supersedes the pending value at once. */
    put_upd(&t, lease, "renew-41", EK_KV_VOLATILE);
    int64_t rd = put_upd(&t, lease, "durable", 0);
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.volatile_pending, 0);
    ASSERT_EQ(count_rows(t.path, lease, &rev, &val), 1);
    ASSERT_EQ(rev, rd);

    /* A volatile write never overtakes a durable one still syncing: acks in revision order. */
    put_new(&t, "/other", "x");
    wres_t dur = { 0 }, vol = { 0 };
    ek_kv_update(t.kv, "/other", "y", 1, 0, 0, 0, on_write, &dur);
    ek_kv_update(t.kv, lease, "z", 1, 0, 0, EK_KV_VOLATILE, on_write, &vol);
    while (!vol.done) {
        uv_run(&t.loop, UV_RUN_ONCE);
    }
    ASSERT_TRUE(dur.done); /* completed first although the volatile one was ready at once */
    ASSERT_EQ(vol.rev, dur.rev + 1);
    ASSERT_EQ(rec.n, 43);
    ASSERT_EQ(rec.ev[42].rev, vol.rev);
    wres_clear(&dur);
    wres_clear(&vol);

    /* Close flushes what is pending. */
    last = put_upd(&t, lease, "renew-42", EK_KV_VOLATILE);
    ek_kv_watch_cancel(w);
    rec_clear(&rec);
    env_reopen(&t);
    expect_value(&t, lease, "renew-42");
    const ek_kv_entry_t *e = ek_kv_get(t.kv, lease);
    ASSERT_EQ(e->mod_rev, last);
    ek_kv_entry_unref(e);
    env_fini(&t);
}

static void volatile_crash_child(const char *path, int fd)
{
    env_t t = { 0 };
    t.path = ek_xstrdup(path);
    uv_loop_init(&t.loop);
    ek_kv_options_t o = { .volatile_flush_ms = 600000 };
    env_open_opts(&t, &o);
    int64_t rev = 0;
    for (int i = 0; i < 20; i++) {
        rev = put_upd(&t, "/lease", i == 19 ? "lost" : "renew", EK_KV_VOLATILE);
    }
    if (write(fd, &rev, sizeof(rev)) != sizeof(rev)) {
        _exit(3);
    }
    pause();
    _exit(0);
}

TEST(kv_volatile_lost_in_crash_never_reuses_revisions)
{
    env_t t = { 0 };
    ek_kv_options_t o = { 0 };
    env_open_opts(&t, &o);
    int64_t durable = put_new(&t, "/lease", "durable");
    env_close(&t);

    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        volatile_crash_child(t.path, fds[1]);
    }
    close(fds[1]);
    int64_t seen = 0;
    ASSERT_EQ(read(fds[0], &seen, sizeof(seen)), sizeof(seen));
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);

    env_open_opts(&t, &o);
    /* The renewals were lost (the documented window), their revisions were not reused. */
    expect_value(&t, "/lease", "durable");
    ASSERT_CMP(seen, >, durable);
    ASSERT_CMP(ek_kv_current_rev(t.kv), >=, seen);
    ASSERT_CMP(put_upd(&t, "/lease", "after", 0), >, seen);
    env_fini(&t);
}

/* ---- group commit ---- */

TEST(kv_group_commit_shares_transactions)
{
    env_t t = { 0 };
    ek_kv_options_t o = { 0 }; /* durable: the batching is what is measured */
    env_open_opts(&t, &o);
    ek_kv_stats_t st0, st1;
    ek_kv_stats(t.kv, &st0);
    enum { N = 256 };
    static wres_t res[N];
    for (int i = 0; i < N; i++) {
        ek_autofree char *k = key_of(i);
        res[i] = (wres_t){ 0 };
        ek_kv_create(t.kv, k, "v", 1, 0, 0, on_write, &res[i]);
    }
    run_until(&t, &res[N - 1].done);
    int64_t prev = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(res[i].done);
        ASSERT_EQ(res[i].status, 0);
        ASSERT_CMP(res[i].rev, >, prev); /* acknowledged in revision order */
        prev = res[i].rev;
        wres_clear(&res[i]);
    }
    ek_kv_stats(t.kv, &st1);
    ASSERT_EQ(st1.writes - st0.writes, N);
    ASSERT_CMP(st1.commits - st0.commits, <=, N / 4);

    /* One transaction per write when asked (the benchmark's peer). */
    ek__kv_set_max_batch(t.kv, 1);
    for (int i = 0; i < 16; i++) {
        ek_autofree char *k = key_of(1000 + i);
        res[i] = (wres_t){ 0 };
        ek_kv_create(t.kv, k, "v", 1, 0, 0, on_write, &res[i]);
    }
    run_until(&t, &res[15].done);
    for (int i = 0; i < 16; i++) {
        wres_clear(&res[i]);
    }
    ek_kv_stats_t st2;
    ek_kv_stats(t.kv, &st2);
    ASSERT_EQ(st2.commits - st1.commits, 16);
    env_fini(&t);
}

TEST(kv_close_completes_writes_in_flight)
{
    env_t t = { 0 };
    ek_kv_options_t o = { 0 };
    env_open_opts(&t, &o);
    enum { N = 100 };
    static wres_t res[N];
    for (int i = 0; i < N; i++) {
        ek_autofree char *k = key_of(i);
        res[i] = (wres_t){ 0 };
        ek_kv_create(t.kv, k, "v", 1, 0, i % 2 ? EK_KV_VOLATILE : 0, on_write, &res[i]);
    }
    bool closed = false;
    ek_kv_close(t.kv, set_flag, &closed);
    wres_t late = { 0 };
    ek_kv_create(t.kv, "/late", "v", 1, 0, 0, on_write, &late);
    run_until(&t, &closed);
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(res[i].done);
        ASSERT_EQ(res[i].status, 0);
        wres_clear(&res[i]);
    }
    ASSERT_TRUE(late.done);
    ASSERT_EQ(late.status, 503);
    wres_clear(&late);
    t.kv = NULL;
    env_open_opts(&t, &o);
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.keys, N);
    env_fini(&t);
}

/* ---- integrity, snapshot, restore ---- */

static void fill(env_t *t, int n, const char *val)
{
    for (int i = 0; i < n; i++) {
        ek_autofree char *k = key_of(i);
        wres_t r = do_create(t, k, val, 0, 0);
        ASSERT_EQ(r.status, 0);
        wres_clear(&r);
    }
}

TEST(kv_corrupt_database_is_refused)
{
    env_t t = { 0 };
    env_open(&t);
    char big[1500];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    fill(&t, 200, big);
    env_close(&t);
    /* Scribble over the headers of a few b-tree pages. */
    int fd = open(t.path, O_WRONLY);
    ASSERT_CMP(fd, >=, 0);
    char junk[64];
    memset(junk, 0xa5, sizeof(junk));
    for (int pg = 2; pg < 40; pg += 3) {
        ASSERT_EQ(pwrite(fd, junk, sizeof(junk), (off_t)pg * 4096), sizeof(junk));
    }
    close(fd);
    ek_error_t *err = NULL;
    ek_kv_options_t o = { .path = t.path, .no_sync = true };
    ASSERT_EQ(ek_kv_open(&t.loop, &o, &t.kv, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "corrupt");
    ASSERT_CONTAINS(ek_error_msg(err), "edgek db restore");
    ek_error_clear(&err);

    /* Not a database at all. */
    ASSERT_OK(ek_file_write_atomic(t.path, "hello, not sqlite\n", 18, 0600, &err), &err);
    ASSERT_EQ(ek_kv_open(&t.loop, &o, &t.kv, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "edgek db restore");
    ek_error_clear(&err);
    t.kv = NULL;
    env_fini(&t);
}

TEST(kv_snapshot_and_restore)
{
    env_t t = { 0 };
    env_open(&t);
    fill(&t, 50, "before");
    ek_autofree char *snap = ek_test_path("snap.db");
    ek_error_t *err = NULL;
    ASSERT_OK(ek_kv_snapshot(t.kv, snap, &err), &err); /* online */
    int64_t snap_rev = ek_kv_current_rev(t.kv);
    put_upd(&t, "/registry/pods/default/p00001", "after", 0);
    put_new(&t, "/only-after", "x");
    int64_t before_restore = ek_kv_current_rev(t.kv);

    /* Refused while the store is open. */
    ASSERT_EQ(ek_kv_restore(snap, t.path, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "in use");
    ek_error_clear(&err);
    env_close(&t);

    /* Garbage is refused and leaves the database alone. */
    ek_autofree char *junk = ek_test_path("junk.db");
    ASSERT_OK(ek_file_write_atomic(junk, "junk", 4, 0600, &err), &err);
    ASSERT_EQ(ek_kv_restore(junk, t.path, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "not a usable snapshot");
    ek_error_clear(&err);
    ek_autofree char *missing = ek_test_path("missing.db");
    ASSERT_EQ(ek_kv_restore(missing, t.path, &err), -1);
    ek_error_clear(&err);

    ASSERT_OK(ek_kv_restore(snap, t.path, &err), &err);
    env_open_opts(&t, &t.opts);
    expect_value(&t, "/registry/pods/default/p00001", "before");
    expect_value(&t, "/only-after", NULL);
    ek_kv_stats_t st;
    ek_kv_stats(t.kv, &st);
    ASSERT_EQ(st.keys, 50);
    /* Revisions keep going up past anything handed out before the restore. */
    ASSERT_CMP(ek_kv_current_rev(t.kv), >, before_restore);
    ASSERT_CMP(snap_rev, <, before_restore);
    ASSERT_CMP(put_new(&t, "/new", "x"), >, before_restore);

    /* A snapshot of a closed store by path works too. */
    env_close(&t);
    ek_autofree char *snap2 = ek_test_path("snap2.db");
    ASSERT_OK(ek_kv_snapshot_path(t.path, snap2, &err), &err);
    ASSERT_TRUE(ek_path_exists(snap2));
    env_fini(&t);
}

/* ---- crash test ---- */

enum { REC_INTENT = 1, REC_ACK = 2 };
enum { OP_CREATE = 1, OP_UPDATE, OP_VUPDATE, OP_DELETE };

typedef struct crash_rec {
    uint32_t kind;
    uint32_t op;
    uint32_t type;
    uint32_t key;
    int64_t rev; /* ack: the revision, 0 when the write failed */
    int64_t pad;
} crash_rec_t;

typedef struct crash_child {
    env_t t;
    int fd;
    int round;
    uint32_t next_op, next_key;
    uint64_t rng;
    int inflight;
} crash_child_t;

typedef struct crash_op {
    crash_child_t *c;
    uint32_t op;
} crash_op_t;

static void crash_key(char *buf, size_t len, int round, uint32_t key)
{
    snprintf(buf, len, "/crash/%02d/%06u", round, key);
}

static void crash_value(char *buf, size_t len, uint32_t op)
{
    snprintf(buf, len, "op-%u-", op);
    size_t n = strlen(buf);
    memset(buf + n, 'v', len - n - 1);
    buf[len - 1] = 0;
}

static void crash_send(crash_child_t *c, const crash_rec_t *r)
{
    if (write(c->fd, r, sizeof(*r)) != sizeof(*r)) {
        _exit(4);
    }
}

static void crash_issue(crash_child_t *c);

static void crash_done(int64_t rev, const ek_kv_entry_t *e, const ek_error_t *err, void *data)
{
    crash_op_t *o = data;
    crash_child_t *c = o->c;
    crash_rec_t r = { .kind = REC_ACK, .op = o->op, .rev = err ? 0 : rev };
    crash_send(c, &r);
    free(o);
    c->inflight--;
    crash_issue(c);
}

static uint32_t crash_rand(crash_child_t *c)
{
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(c->rng >> 33);
}

static void crash_issue(crash_child_t *c)
{
    while (c->inflight < 24) {
        uint32_t dice = crash_rand(c) % 100;
        crash_rec_t r = { .kind = REC_INTENT, .op = c->next_op++ };
        if (dice < 45 || c->next_key < 8) {
            r.type = OP_CREATE;
            r.key = c->next_key++;
        } else {
            r.type = dice < 75 ? OP_UPDATE : dice < 90 ? OP_VUPDATE : OP_DELETE;
            r.key = crash_rand(c) % c->next_key;
        }
        crash_send(c, &r);
        char key[64], val[200];
        crash_key(key, sizeof(key), c->round, r.key);
        crash_value(val, sizeof(val), r.op);
        crash_op_t *o = ek_new(crash_op_t);
        o->c = c;
        o->op = r.op;
        c->inflight++;
        if (r.type == OP_CREATE) {
            ek_kv_create(c->t.kv, key, val, strlen(val), 0, 0, crash_done, o);
        } else if (r.type == OP_DELETE) {
            ek_kv_delete(c->t.kv, key, 0, crash_done, o);
        } else {
            ek_kv_update(c->t.kv, key, val, strlen(val), 0, 0,
                         r.type == OP_VUPDATE ? EK_KV_VOLATILE : 0, crash_done, o);
        }
    }
}

static EK_NORETURN void crash_child_main(const char *path, int fd, int round, uint64_t seed)
{
    crash_child_t c = { .fd = fd, .round = round, .rng = seed };
    c.t.path = ek_xstrdup(path);
    uv_loop_init(&c.t.loop);
    ek_kv_options_t o = { .volatile_flush_ms = 30 }; /* durable */
    env_open_opts(&c.t, &o);
    crash_issue(&c);
    uv_run(&c.t.loop, UV_RUN_DEFAULT);
    _exit(5);
}

typedef struct crash_round {
    crash_rec_t *intents; /* by op id */
    int64_t *acks;        /* by op id: -1 none, 0 failed, > 0 revision */
    uint32_t nops, cap;
    uint32_t nkeys;
    int64_t max_rev;
} crash_round_t;

static void round_add(crash_round_t *cr, const crash_rec_t *r)
{
    if (r->op >= cr->cap) {
        uint32_t cap = cr->cap ? cr->cap * 2 : 1024;
        while (cap <= r->op) {
            cap *= 2;
        }
        cr->intents = ek_xrealloc(cr->intents, cap * sizeof(*cr->intents));
        cr->acks = ek_xrealloc(cr->acks, cap * sizeof(*cr->acks));
        for (uint32_t i = cr->cap; i < cap; i++) {
            cr->acks[i] = -1;
        }
        cr->cap = cap;
    }
    if (r->kind == REC_INTENT) {
        cr->intents[r->op] = *r;
        cr->nops = EK_MAX(cr->nops, r->op + 1);
        if (r->type == OP_CREATE) {
            cr->nkeys = EK_MAX(cr->nkeys, r->key + 1);
        }
    } else {
        cr->acks[r->op] = r->rev;
        cr->max_rev = EK_MAX(cr->max_rev, r->rev);
    }
}

/* Reads records until the deadline (ms from now, or forever for EOF). Returns false at EOF. */
static bool read_records(int fd, crash_round_t *cr, int ms, uint64_t *first_ack_ms)
{
    uint64_t end = ek_now_ms() + (uint64_t)ms;
    for (;;) {
        int wait = -1;
        if (ms >= 0) {
            uint64_t now = ek_now_ms();
            if (*first_ack_ms && now >= end) {
                return true;
            }
            wait = 5;
        }
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, wait) <= 0) {
            continue;
        }
        crash_rec_t r;
        ssize_t n = read(fd, &r, sizeof(r));
        if (n == 0) {
            return false;
        }
        ek_assert(n == sizeof(r));
        round_add(cr, &r);
        if (r.kind == REC_ACK && !*first_ack_ms) {
            *first_ack_ms = ek_now_ms();
            end = *first_ack_ms + (uint64_t)ms;
        }
    }
}

/* Does the stored state of key match what op left (absent for a delete)? */
static bool state_is(const crash_round_t *cr, uint32_t op, const ek_kv_entry_t *e)
{
    const crash_rec_t *in = &cr->intents[op];
    if (in->type == OP_DELETE) {
        return e == NULL;
    }
    char val[200];
    crash_value(val, sizeof(val), op);
    if (!e || strcmp(e->value, val) != 0) {
        return false;
    }
    return cr->acks[op] <= 0 || e->mod_rev == cr->acks[op];
}

/*
 * Every acknowledged durable write must be there: each key holds the value of its last
 * acknowledged durable write, or of a later write (in flight at the kill, or volatile).
 */
static void verify_round(env_t *t, const crash_round_t *cr, int round)
{
    for (uint32_t key = 0; key < cr->nkeys; key++) {
        char k[64];
        crash_key(k, sizeof(k), round, key);
        const ek_kv_entry_t *e = ek_kv_get(t->kv, k);
        uint32_t first = 0;
        bool any = false;
        for (uint32_t op = 0; op < cr->nops; op++) {
            const crash_rec_t *in = &cr->intents[op];
            if (in->key == key && in->kind == REC_INTENT && in->type != OP_VUPDATE &&
                cr->acks[op] > 0) {
                first = op;
                any = true;
            }
        }
        bool ok = !any && e == NULL;
        for (uint32_t op = first; op < cr->nops && !ok; op++) {
            const crash_rec_t *in = &cr->intents[op];
            if (in->key == key && in->kind == REC_INTENT && cr->acks[op] != 0) {
                ok = state_is(cr, op, e);
            }
        }
        if (!ok) {
            ek__test_fail(__FILE__, __LINE__,
                          "round %d key %s: stored %s (rev %lld) is not what the acknowledged "
                          "writes left (last durable ack op %u, rev %lld)",
                          round, k, e ? e->value : "(absent)", e ? (long long)e->mod_rev : 0LL,
                          first, any ? (long long)cr->acks[first] : 0LL);
        }
        ek_kv_entry_unref(e);
    }
}

static void integrity_check(const char *path)
{
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST_T(kv_crash_acknowledged_writes_survive_sigkill, 120)
{
    env_t t = { 0 };
    ek_kv_options_t o = { 0 };
    env_open_opts(&t, &o);
    env_close(&t);
    uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    printf("# seed %llu\n", (unsigned long long)seed);
    int64_t total_acks = 0, last_round_rev = 0;
    for (int round = 0; round < 20; round++) {
        int fds[2];
        ASSERT_EQ(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            crash_child_main(t.path, fds[1], round, seed + (uint64_t)round * 7919);
        }
        close(fds[1]);
        crash_round_t cr = { 0 };
        uint64_t first_ack = 0;
        int delay = 2 + (int)(((seed >> (round % 40)) + (uint64_t)round * 37) % 120);
        bool alive = read_records(fds[0], &cr, delay, &first_ack);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(alive && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        read_records(fds[0], &cr, -1, &first_ack); /* what it wrote before dying */
        close(fds[0]);

        integrity_check(t.path);
        env_open_opts(&t, &o);
        verify_round(&t, &cr, round);
        /* No revision goes backwards or repeats, volatile ones included. */
        ASSERT_CMP(ek_kv_current_rev(t.kv), >=, cr.max_rev);
        ASSERT_CMP(cr.max_rev, >, last_round_rev);
        last_round_rev = put_new(&t, "/crash/marker", "x");
        ASSERT_CMP(last_round_rev, >, cr.max_rev);
        wres_t d = do_delete(&t, "/crash/marker", 0);
        last_round_rev = d.rev;
        wres_clear(&d);
        for (uint32_t i = 0; i < cr.nops; i++) {
            total_acks += cr.acks[i] > 0;
        }
        env_close(&t);
        free(cr.intents);
        free(cr.acks);
    }
    printf("# %lld acknowledged writes checked over 20 rounds\n", (long long)total_acks);
    ASSERT_CMP(total_acks, >, 1000);
    env_fini(&t);
}

/* ---- full disk ---- */

/* Writes path until the filesystem has no space left. */
static void fill_disk(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_CMP(fd, >=, 0);
    static char chunk[4096];
    while (write(fd, chunk, sizeof(chunk)) > 0) {
    }
    ASSERT_EQ(errno, ENOSPC);
    close(fd);
}

static EK_NORETURN void crash_after_one_write(const char *path, int fd)
{
    env_t t = { 0 };
    t.path = ek_xstrdup(path);
    uv_loop_init(&t.loop);
    ek_kv_options_t o = { 0 };
    env_open_opts(&t, &o);
    put_new(&t, "/k", "v");
    if (write(fd, "x", 1) != 1) {
        _exit(3);
    }
    pause();
    _exit(0);
}

/*
 * Power lost on a full disk, then a restart: the store opens (the WAL and its index are still
 * there) without writing its revision reservation; reads work, and writes, volatile ones
 * included (they cannot use unreserved revisions), fail 507 until space returns. A disk with
 * no space at all and no WAL index left cannot open a WAL database: that start is refused
 * with a disk-full message.
 */
static void opens_on_full_disk(const char *dir)
{
    env_t t = { 0 };
    ASSERT_EQ(uv_loop_init(&t.loop), 0);
    t.path = ek_xasprintf("%s/first/state.db", dir);
    ek_kv_options_t o = { 0 };
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        crash_after_one_write(t.path, fds[1]);
    }
    char c;
    ASSERT_EQ(read(fds[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
    close(fds[1]);
    ek_autofree char *filler = ek_xasprintf("%s/filler0", dir);
    fill_disk(filler);
    env_open_opts(&t, &o);
    expect_value(&t, "/k", "v");
    wres_t r = do_update(&t, "/k", "v2", 0, EK_KV_VOLATILE);
    ASSERT_EQ(r.status, 507);
    wres_clear(&r);
    ASSERT_EQ(unlink(filler), 0);
    r = do_update(&t, "/k", "v3", 0, EK_KV_VOLATILE);
    ASSERT_EQ(r.status, 0);
    wres_clear(&r);
    env_reopen(&t);
    expect_value(&t, "/k", "v3");
    env_fini(&t);
}

/* After a clean close and reopen, the store holds exactly what it showed before. */
static void expect_reopen_same(env_t *t)
{
    ek_kv_list_result_t before, after;
    list_all(t, "", 0, &before);
    env_reopen(t);
    list_all(t, "", 0, &after);
    ASSERT_EQ(after.n, before.n);
    for (size_t i = 0; i < before.n; i++) {
        ASSERT_STREQ(after.entries[i]->key, before.entries[i]->key);
        ASSERT_STREQ(after.entries[i]->value, before.entries[i]->value);
        ASSERT_EQ(after.entries[i]->mod_rev, before.entries[i]->mod_rev);
        ASSERT_EQ(after.entries[i]->create_rev, before.entries[i]->create_rev);
    }
    ek_kv_list_result_free(&before);
    ek_kv_list_result_free(&after);
}

/*
 * A burst of dependent writes in flight when the disk is full: creates, durable and volatile
 * updates of those creates, deletes. All must fail together (none may apply on top of a write
 * that failed); returns how many succeeded.
 */
static int burst(env_t *t, const char *tag)
{
    enum { N = 40 };
    static wres_t res[N];
    char key[64];
    static char val[8192];
    memset(val, 'b', sizeof(val) - 1);
    for (int i = 0; i < N; i++) {
        res[i] = (wres_t){ 0 };
        snprintf(key, sizeof(key), "/burst/%s/%d", tag, i / 4);
        switch (i % 4) {
        case 0:
            ek_kv_create(t->kv, key, val, sizeof(val) - 1, 0, 0, on_write, &res[i]);
            break;
        case 1:
            ek_kv_update(t->kv, key, "v", 1, 0, 0, EK_KV_VOLATILE, on_write, &res[i]);
            break;
        case 2:
            ek_kv_update(t->kv, key, val, 100, 0, 0, 0, on_write, &res[i]);
            break;
        default:
            ek_kv_delete(t->kv, "/registry/pods/default/p00000", 0, on_write, &res[i]);
            break;
        }
    }
    run_until(t, &res[N - 1].done);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        ASSERT_TRUE(res[i].done);
        ok += res[i].status == 0;
        wres_clear(&res[i]);
    }
    return ok;
}

TEST(kv_disk_full_then_space_returns)
{
    if (geteuid() != 0) {
        ek_test_skip("needs root to mount a small tmpfs in a private mount namespace");
    }
    if (unshare(CLONE_NEWNS) < 0) {
        ek_test_skip("unshare(CLONE_NEWNS): %s", strerror(errno));
    }
    ASSERT_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    ek_autofree char *dir = ek_test_path("small");
    ASSERT_EQ(mkdir(dir, 0700), 0);
    ASSERT_EQ(mount("tmpfs", dir, "tmpfs", 0, "size=4m"), 0);

    ek_kv_options_t o = { 0 };
    opens_on_full_disk(dir);

    env_t t = { 0 };
    ASSERT_EQ(uv_loop_init(&t.loop), 0);
    t.path = ek_xasprintf("%s/server/db/state.db", dir);
    env_open_opts(&t, &o);
    /* Most of the space goes to another file, which the test frees later. */
    ek_autofree char *filler = ek_xasprintf("%s/filler", dir);
    size_t fsz = 2560 * 1024;
    ek_autofree char *zeros = ek_xcalloc(1, fsz);
    ek_error_t *err = NULL;
    ASSERT_OK(ek_file_write_atomic(filler, zeros, fsz, 0600, &err), &err);

    static char val[16384];
    memset(val, 'f', sizeof(val) - 1);
    int acked = 0, status = 0;
    for (int i = 0; i < 1000 && !status; i++) {
        ek_autofree char *k = key_of(i);
        wres_t r = do_create(&t, k, val, 0, 0);
        status = r.status;
        acked += r.status == 0;
        wres_clear(&r);
    }
    ASSERT_EQ(status, 507);
    ASSERT_CMP(acked, >, 5);
    /*
     * Fill what is left. Blocks the failed transaction allocated in the WAL stay usable, so a
     * small write may still fit; one as large as the one that failed cannot.
     */
    ek_autofree char *filler2 = ek_xasprintf("%s/filler2", dir);
    fill_disk(filler2);
    wres_t r = do_create(&t, "/after-full", val, 0, 0);
    ASSERT_EQ(r.status, 507); /* still full */
    wres_clear(&r);
    ASSERT_EQ(burst(&t, "full"), 0);
    expect_value(&t, "/burst/full/0", NULL);
    expect_value(&t, "/registry/pods/default/p00000", val);
    /* Reads keep working. */
    ek_kv_list_result_t l;
    list_all(&t, "/registry/", 0, &l);
    ASSERT_EQ(l.n, (size_t)acked);
    ek_kv_list_result_free(&l);

    ASSERT_EQ(unlink(filler), 0);
    ASSERT_EQ(unlink(filler2), 0);
    r = do_create(&t, "/after-free", "small", 0, 0);
    ASSERT_EQ(r.status, 0); /* space is back, so are writes */
    wres_clear(&r);
    /* The same burst now: everything but the repeated deletes of one key succeeds. */
    ASSERT_EQ(burst(&t, "free"), 31);
    char hundred[101];
    memset(hundred, 'b', 100);
    hundred[100] = 0;
    expect_value(&t, "/burst/free/3", hundred);
    expect_reopen_same(&t);
    expect_value(&t, "/registry/pods/default/p00000", NULL); /* the burst deleted it */
    for (int i = 1; i < acked; i++) {
        ek_autofree char *k = key_of(i);
        expect_value(&t, k, val); /* nothing committed was lost */
    }
    expect_value(&t, "/after-free", "small");
    expect_value(&t, "/after-full", NULL);
    env_fini(&t);
    ASSERT_EQ(umount2(dir, MNT_DETACH), 0);
}
