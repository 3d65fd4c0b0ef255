/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The SQLite backend: one database in WAL mode holding one row per live key and a revision
 * high-water mark. History is not stored: the store serves old revisions from memory, so a
 * write replaces its key's row in place and the file stops growing under churn without a
 * delete pass (fewer page writes, which is what wears an SD card). synchronous=FULL makes
 * SQLite fsync the WAL at every commit, so a commit that returned survives power loss.
 *
 * Errors become the statuses the API shows: a full disk 507, a read-only disk 503, a corrupt
 * database a message naming `edgek db restore`.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include "storage/kv/kv-internal.h"

#define SCHEMA_VERSION 1
/* How far a restored database's revisions jump ahead of anything clients may have seen. */
#define RESTORE_REV_BUMP ((int64_t)EK__KV_REV_BLOCK * 10)

typedef struct be {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *begin, *commit, *rollback, *put, *del, *reserve;
} be_t;

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS kv (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
    " create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
    " value BLOB NOT NULL);"
    "INSERT OR IGNORE INTO meta(name, value) VALUES ('schema', 1), ('reserved_rev', 0);";

static int corrupt_error(ek_error_t **err, const char *path, const char *detail)
{
    return ek_error_status(err, 500,
                           "database `%s` is corrupt (%s); stop edgek and restore the last "
                           "snapshot with `edgek db restore FILE`",
                           path, detail);
}

/* Turns a failed SQLite call into an error with the status the API edge needs. */
static int db_error(sqlite3 *db, int rc, const char *path, const char *what, ek_error_t **err)
{
    int prim = rc & 0xff;
    int sys = (db && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN || prim == SQLITE_FULL ||
                      prim == SQLITE_READONLY))
                  ? sqlite3_system_errno(db)
                  : 0;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int status = 500, errnum = sys;
    if (prim == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT) {
        ek_error_status(err, 507, "disk full: cannot write database `%s` (%s: %s)", path, what,
                        msg);
        status = 507;
        errnum = ENOSPC;
    } else if (prim == SQLITE_READONLY || sys == EROFS) {
        ek_error_status(err, 503, "read-only disk: cannot write database `%s` (%s: %s)", path, what,
                        msg);
        status = 503;
        errnum = EROFS;
    } else if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB) {
        return corrupt_error(err, path, msg);
    } else {
        ek_error_status(err, 500, "database `%s`: %s: %s", path, what, msg);
    }
    if (err && *err && (*err)->status == status && !(*err)->errnum) {
        (*err)->errnum = errnum;
    }
    return -1;
}

static int exec(be_t *b, const char *sql, ek_error_t **err)
{
    int rc = sqlite3_exec(b->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_error(b->db, rc, b->path, sql, err);
}

/* Runs a one-value pragma and checks its answer (journal_mode answers with the new mode). */
static int pragma_expect(be_t *b, const char *sql, const char *want, ek_error_t **err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return db_error(b->db, rc, b->path, sql, err);
    }
    rc = sqlite3_step(st);
    const char *got = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    int r = 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = db_error(b->db, rc, b->path, sql, err);
    } else if (want && (!got || strcmp(got, want) != 0)) {
        r = ek_error_make(err, 0, "database `%s`: %s answered `%s`, want `%s`", b->path, sql,
                          got ? got : "", want);
    }
    sqlite3_finalize(st);
    return r;
}

/* Quick integrity check: structure of every page and index, not a full cross-check. */
static int check_integrity(sqlite3 *db, const char *path, const char *pragma, ek_error_t **err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, pragma, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return db_error(db, rc, path, "integrity check", err);
    }
    rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0) {
            r = corrupt_error(err, path, res ? res : "integrity check failed");
        }
    } else if (rc != SQLITE_DONE) {
        r = db_error(db, rc, path, "integrity check", err);
    }
    sqlite3_finalize(st);
    return r;
}

static int prepare(be_t *b, sqlite3_stmt **st, const char *sql, ek_error_t **err)
{
    int rc = sqlite3_prepare_v3(b->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    return rc == SQLITE_OK ? 0 : db_error(b->db, rc, b->path, sql, err);
}

static int prepare_all(be_t *b, ek_error_t **err)
{
    if (prepare(b, &b->begin, "BEGIN IMMEDIATE", err) < 0 ||
        prepare(b, &b->commit, "COMMIT", err) < 0 ||
        prepare(b, &b->rollback, "ROLLBACK", err) < 0 ||
        prepare(b, &b->put,
                "INSERT INTO kv(key, create_rev, mod_rev, expires_at, value)"
                " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(key) DO UPDATE SET"
                " create_rev = excluded.create_rev, mod_rev = excluded.mod_rev,"
                " expires_at = excluded.expires_at, value = excluded.value",
                err) < 0 ||
        prepare(b, &b->del, "DELETE FROM kv WHERE key = ?1", err) < 0 ||
        prepare(b, &b->reserve,
                "UPDATE meta SET value = max(value, ?1) WHERE name = 'reserved_rev'", err) < 0) {
        return -1;
    }
    return 0;
}

static int64_t query_int(sqlite3 *db, const char *sql, int64_t dflt)
{
    sqlite3_stmt *st = NULL;
    int64_t v = dflt;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return v;
}

static void be_close(void *p)
{
    be_t *b = p;
    if (!b) {
        return;
    }
    sqlite3_stmt *sts[] = { b->begin, b->commit, b->rollback, b->put, b->del, b->reserve };
    for (size_t i = 0; i < EK_ARRAY_SIZE(sts); i++) {
        sqlite3_finalize(sts[i]);
    }
    /* The last connection's close checkpoints the WAL and removes it. */
    sqlite3_close(b->db);
    free(b->path);
    free(b);
}

static int configure(be_t *b, bool no_sync, ek_error_t **err)
{
    if (pragma_expect(b, "PRAGMA journal_mode=WAL", "wal", err) < 0 ||
        exec(b, no_sync ? "PRAGMA synchronous=OFF" : "PRAGMA synchronous=FULL", err) < 0 ||
        exec(b,
             "PRAGMA temp_store=MEMORY; PRAGMA secure_delete=FAST;"
             " PRAGMA journal_size_limit=4194304; PRAGMA wal_autocheckpoint=1000;",
             err) < 0) {
        return -1;
    }
    if (exec(b, schema_sql, err) < 0) {
        return -1;
    }
    int64_t v = query_int(b->db, "SELECT value FROM meta WHERE name = 'schema'", 0);
    if (v != SCHEMA_VERSION) {
        return ek_error_make(err, 0, "database `%s` has schema %lld, this edgek knows %d", b->path,
                             (long long)v, SCHEMA_VERSION);
    }
    return prepare_all(b, err);
}

static int be_open(const char *path, bool no_sync, void **out, ek_error_t **err)
{
    be_t *b = ek_new(be_t);
    b->path = ek_xstrdup(path);
    int rc = sqlite3_open_v2(
        path, &b->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_error(b->db, rc, path, "open", err);
        be_close(b);
        return -1;
    }
    sqlite3_extended_result_codes(b->db, 1);
    sqlite3_busy_timeout(b->db, 10000);
    if (check_integrity(b->db, path, "PRAGMA quick_check(3)", err) < 0 ||
        configure(b, no_sync, err) < 0) {
        be_close(b);
        return -1;
    }
    *out = b;
    return 0;
}

static int be_load(void *p, ek__kv_row_cb cb, void *data, ek__kv_meta_t *meta, ek_error_t **err)
{
    be_t *b = p;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(b->db, "SELECT key, value, create_rev, mod_rev, expires_at FROM kv",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return db_error(b->db, rc, b->path, "load", err);
    }
    int64_t max_rev = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        const void *val = sqlite3_column_blob(st, 1);
        size_t vlen = (size_t)sqlite3_column_bytes(st, 1);
        int64_t mod_rev = sqlite3_column_int64(st, 3);
        const ek_kv_entry_t *e =
            ek__kv_entry_new(key ? key : "", klen, val, vlen, sqlite3_column_int64(st, 2), mod_rev,
                             sqlite3_column_int64(st, 4));
        int r = cb(data, e, err);
        ek_kv_entry_unref(e);
        if (r < 0) {
            sqlite3_finalize(st);
            return -1;
        }
        max_rev = EK_MAX(max_rev, mod_rev);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        return db_error(b->db, rc, b->path, "load", err);
    }
    int64_t reserved = query_int(b->db, "SELECT value FROM meta WHERE name = 'reserved_rev'", 0);
    meta->max_rev = EK_MAX(max_rev, reserved);
    return 0;
}

/* Steps a prepared statement to completion and resets it for the next use. */
static int run(be_t *b, sqlite3_stmt *st, const char *what, ek_error_t **err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : db_error(b->db, rc, b->path, what, err);
}

static int be_begin(void *p, ek_error_t **err)
{
    be_t *b = p;
    return run(b, b->begin, "begin", err);
}

static int be_put(void *p, const ek_kv_entry_t *e, ek_error_t **err)
{
    be_t *b = p;
    sqlite3_bind_text(b->put, 1, e->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(b->put, 2, e->create_rev);
    sqlite3_bind_int64(b->put, 3, e->mod_rev);
    sqlite3_bind_int64(b->put, 4, e->expires_at);
    sqlite3_bind_blob64(b->put, 5, e->value, e->value_len, SQLITE_STATIC);
    return run(b, b->put, "write", err);
}

static int be_del(void *p, const char *key, ek_error_t **err)
{
    be_t *b = p;
    sqlite3_bind_text(b->del, 1, key, -1, SQLITE_STATIC);
    return run(b, b->del, "delete", err);
}

static int be_reserve(void *p, int64_t rev, ek_error_t **err)
{
    be_t *b = p;
    sqlite3_bind_int64(b->reserve, 1, rev);
    return run(b, b->reserve, "reserve revisions", err);
}

static int be_commit(void *p, ek_error_t **err)
{
    be_t *b = p;
    return run(b, b->commit, "commit", err);
}

static void be_rollback(void *p)
{
    be_t *b = p;
    /* SQLite rolls some failures back by itself; only end a transaction still open. */
    if (!sqlite3_get_autocommit(b->db)) {
        sqlite3_step(b->rollback);
        sqlite3_reset(b->rollback);
    }
}

static int fsync_path(const char *path, ek_error_t **err)
{
    ek_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        return ek_error_make(err, errno, "fsync `%s`", path);
    }
    return 0;
}

/* Renames tmp over path durably: data first, then the name, then the directory entry. */
static int install(const char *tmp, const char *path, ek_error_t **err)
{
    if (fsync_path(tmp, err) < 0) {
        return -1;
    }
    if (rename(tmp, path) < 0) {
        return ek_error_make(err, errno, "rename `%s` to `%s`", tmp, path);
    }
    ek_autofree char *dir = ek_path_dirname(path);
    return ek_fsync_dir(dir, err);
}

static int open_existing(const char *path, int flags, sqlite3 **db, ek_error_t **err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        return ek_error_make(err, errno, "database `%s`", path);
    }
    int rc = sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        db_error(*db, rc, path, "open", err);
        sqlite3_close(*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout(*db, 10000);
    return 0;
}

static int be_snapshot(const char *db_path, const char *out, ek_error_t **err)
{
    sqlite3 *db = NULL;
    /* Read-write so SQLite can use the WAL index of a live server; nothing is written. */
    if (open_existing(db_path, SQLITE_OPEN_READWRITE, &db, err) < 0 &&
        open_existing(db_path, SQLITE_OPEN_READONLY, &db, NULL) < 0) {
        return -1;
    }
    ek_error_clear(err);
    ek_autofree char *tmp = ek_xasprintf("%s.tmp.%d", out, (int)getpid());
    unlink(tmp);
    sqlite3_stmt *st = NULL;
    /* VACUUM INTO copies one read transaction: consistent while the server keeps writing. */
    int rc = sqlite3_prepare_v2(db, "VACUUM INTO ?1", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, tmp, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    int r = 0;
    if (rc != SQLITE_DONE) {
        r = db_error(db, rc, db_path, "snapshot", err);
        ek_error_wrap(err, "snapshot to `%s`", out);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (r == 0 && install(tmp, out, err) < 0) {
        r = -1;
    }
    if (r < 0) {
        unlink(tmp);
    }
    return r;
}

/* The first line of a full integrity check, or SQLite's error: NULL when all is well. */
static char *integrity_problem(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check(1)", -1, &st, NULL);
    char *problem = NULL;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0) {
            problem = ek_xstrdup(res ? res : "integrity check failed");
        }
    } else {
        problem = ek_xstrdup(sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
    return problem;
}

/* Checks a snapshot fully before it may replace anything; returns its revision or -1. */
static int64_t verify_snapshot(const char *snapshot, ek_error_t **err)
{
    sqlite3 *db = NULL;
    if (open_existing(snapshot, SQLITE_OPEN_READONLY, &db, err) < 0) {
        return -1;
    }
    int64_t rev = -1;
    ek_autofree char *problem = integrity_problem(db);
    if (problem) {
        ek_error_make(err, 0, "`%s` is not a usable snapshot (%s)", snapshot, problem);
    } else if (query_int(db, "SELECT value FROM meta WHERE name = 'schema'", -1) !=
                   SCHEMA_VERSION ||
               query_int(db, "SELECT count(*) FROM kv", -1) < 0) {
        ek_error_make(err, 0, "`%s` is not an edgek database snapshot", snapshot);
    } else {
        rev = EK_MAX(query_int(db, "SELECT max(mod_rev) FROM kv", 0),
                     query_int(db, "SELECT value FROM meta WHERE name = 'reserved_rev'", 0));
    }
    sqlite3_close(db);
    return rev;
}

/* The newest revision the database being replaced had handed out, if it is still readable. */
static int64_t old_revision(const char *db_path)
{
    sqlite3 *db = NULL;
    if (access(db_path, F_OK) < 0 || open_existing(db_path, SQLITE_OPEN_READWRITE, &db, NULL) < 0) {
        return 0;
    }
    int64_t rev = EK_MAX(query_int(db, "SELECT max(mod_rev) FROM kv", 0),
                         query_int(db, "SELECT value FROM meta WHERE name = 'reserved_rev'", 0));
    sqlite3_close(db);
    return rev;
}

static int copy_file(const char *from, const char *to, ek_error_t **err)
{
    size_t len = 0;
    ek_autofree char *data = ek_file_read(from, 0, &len, err);
    if (!data) {
        return -1;
    }
    ek_autoclose int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", to);
    }
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return ek_error_make(err, errno, "write `%s`", to);
        }
        off += (size_t)w;
    }
    return 0;
}

/* Raises the copy's high-water mark so revisions keep growing past what clients have seen. */
static int bump_revision(const char *path, int64_t rev, ek_error_t **err)
{
    sqlite3 *db = NULL;
    if (open_existing(path, SQLITE_OPEN_READWRITE, &db, err) < 0) {
        return -1;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "UPDATE meta SET value = ?1 WHERE name = 'reserved_rev'", -1,
                                &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, rev);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    int r = rc == SQLITE_DONE ? 0 : db_error(db, rc, path, "set revision", err);
    sqlite3_close(db);
    return r;
}

static int be_restore(const char *snapshot, const char *db_path, ek_error_t **err)
{
    int64_t snap_rev = verify_snapshot(snapshot, err);
    if (snap_rev < 0) {
        return ek_error_wrap(err, "restore");
    }
    int64_t rev = EK_MAX(snap_rev, old_revision(db_path)) + RESTORE_REV_BUMP;
    ek_autofree char *tmp = ek_xasprintf("%s.restore.%d", db_path, (int)getpid());
    if (copy_file(snapshot, tmp, err) < 0 || bump_revision(tmp, rev, err) < 0) {
        unlink(tmp);
        return ek_error_wrap(err, "restore");
    }
    /* The old WAL must go before the new file arrives: SQLite would replay it onto it. */
    ek_autofree char *wal = ek_xasprintf("%s-wal", db_path);
    ek_autofree char *shm = ek_xasprintf("%s-shm", db_path);
    if ((unlink(wal) < 0 && errno != ENOENT) || (unlink(shm) < 0 && errno != ENOENT)) {
        int e = errno;
        unlink(tmp);
        return ek_error_make(err, e, "restore: remove the old WAL of `%s`", db_path);
    }
    if (install(tmp, db_path, err) < 0) {
        unlink(tmp);
        return ek_error_wrap(err, "restore");
    }
    return 0;
}

const ek__kv_backend_ops_t ek__kv_sqlite_ops = {
    .name = "sqlite",
    .open = be_open,
    .load = be_load,
    .begin = be_begin,
    .put = be_put,
    .del = be_del,
    .reserve = be_reserve,
    .commit = be_commit,
    .rollback = be_rollback,
    .close = be_close,
    .snapshot = be_snapshot,
    .restore = be_restore,
};
