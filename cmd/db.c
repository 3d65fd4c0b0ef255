/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek db snapshot FILE` and `edgek db restore FILE`: the store's backup and recovery.
 * A snapshot is online and consistent (a running server keeps writing meanwhile); a restore
 * is offline (it refuses while a server has the database open), verifies the snapshot fully
 * first and makes revisions continue above any the replaced database handed out, so clients'
 * resourceVersions never go backwards.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "storage/storage.h"

#define DEFAULT_DATA_DIR "/var/lib/edgek"

static char *data_dir;

static const ek_flag_t db_flags[] = {
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "data directory (default " DEFAULT_DATA_DIR "); the database is server/db/state.db" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

static char *db_path(void)
{
    const char *dir = data_dir && *data_dir ? data_dir : DEFAULT_DATA_DIR;
    return ek_xasprintf("%s/server/db/state.db", dir);
}

static int snapshot(const char *db, const char *file)
{
    ek_error_t *err = NULL;
    if (ek_kv_snapshot_path(db, file, &err) < 0) {
        return ek_cmd_fail(err);
    }
    struct stat st;
    long long size = stat(file, &st) == 0 ? (long long)st.st_size : 0;
    printf("snapshot of %s written to %s (%lld bytes)\n", db, file, size);
    return 0;
}

static int restore(const char *db, const char *file)
{
    ek_error_t *err = NULL;
    if (ek_kv_restore(file, db, &err) < 0) {
        return ek_cmd_fail(err);
    }
    printf("restored %s into %s; start `edgek server` to use it\n", file, db);
    return 0;
}

static int run_db(int nargs, char **argv)
{
    if (nargs != 2) {
        fprintf(stderr, "edgek db: want `snapshot FILE` or `restore FILE`\n");
        return 2;
    }
    ek_autofree char *db = db_path();
    if (strcmp(argv[1], "snapshot") == 0) {
        return snapshot(db, argv[2]);
    }
    if (strcmp(argv[1], "restore") == 0) {
        return restore(db, argv[2]);
    }
    fprintf(stderr, "edgek db: unknown action `%s`; want snapshot or restore\n", argv[1]);
    return 2;
}

const ek_cmd_t ek_cmd_db = {
    .name = "db",
    .summary = "snapshot the cluster's database (online) or restore one (server stopped)",
    .usage = "snapshot|restore FILE",
    .flags = db_flags,
    .run = run_db,
};
