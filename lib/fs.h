/* SPDX-License-Identifier: Apache-2.0 */
/* Files and directories: whole-file reads, atomic replacement, mkdir -p, rm -rf. */
#ifndef EK_LIB_FS_H
#define EK_LIB_FS_H

#include <sys/types.h>

#include "lib/common.h"
#include "lib/error.h"

/*
 * Reads a whole file, at most max bytes (0 = no limit; larger files fail with EFBIG).
 * Returns a NUL-terminated buffer (caller frees) and its length in *len (if not NULL).
 */
char *ek_file_read(const char *path, size_t max, size_t *len, ek_error_t **err);
/*
 * Replaces path atomically: writes a temp file beside it, fsyncs, renames over path and
 * fsyncs the directory. A crash leaves either the old or the new content, never a mix.
 */
int ek_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         ek_error_t **err);
/* mkdir -p with mode for the directories it creates. */
int ek_mkdir_p(const char *path, mode_t mode, ek_error_t **err);
/* rm -rf that does not follow symlinks and stays on one filesystem. Missing path: 0. */
int ek_rm_rf(const char *path, ek_error_t **err);
/* fsync a directory so renames and creations inside it are durable. */
int ek_fsync_dir(const char *dir, ek_error_t **err);
bool ek_path_exists(const char *path);
/* Directory part of path (caller frees); "." when there is none. */
char *ek_path_dirname(const char *path);

#endif
