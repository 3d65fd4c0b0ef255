/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store on disk and its records:
 *
 *   <root>/index.json              image records (what names point at), replaced atomically
 *   <root>/blobs/sha256/<hex>      manifests, configs and indexes (small, kept for resolve)
 *   <root>/layers/<hex>/rootfs     one unpacked layer per diffid: an overlayfs lowerdir
 *   <root>/holds/<key>             a container's hold on an image id
 *   <root>/tmp/<pid>-<n>/          a running import's staging area
 *   <root>/lock                    flock serialising changes between processes
 *
 * Layer blobs are not kept once unpacked (k3s's discard_unpacked_layers): on a small board
 * the unpacked tree is what runs, and a second compressed copy would double the disk used.
 * Records name only digests; reference counts and reachability are computed from
 * index.json and holds/ whenever needed, so there is no second source of truth to go stale.
 *
 * A change happens under the lock: re-read index.json (another process may have changed
 * it), rename staged layers into layers/, write blobs, syncfs (so the files the record
 * points at are durable), then replace index.json. A crash before that last rename leaves
 * only tmp/ debris, which the next open removes once its owner is dead.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "node/image/image-internal.h"

struct ek_image_store {
    pthread_mutex_t mu; /* guards index (workers import while the loop resolves) */
    char *dir;
    int dirfd;
    int lockfd;
    char *platform;
    uint64_t max_layer, max_image;
    bool progress;
    json_t *registries;
    json_t *index; /* {"version":1,"images":[...]} as last read */
    struct stat index_st;
};

static unsigned job_counter;

const char *ek_image_store_dir(const ek_image_store_t *s)
{
    return s->dir;
}
const char *ek__store_platform(const ek_image_store_t *s)
{
    return s->platform;
}
uint64_t ek__store_max_layer(const ek_image_store_t *s)
{
    return s->max_layer;
}
uint64_t ek__store_max_image(const ek_image_store_t *s)
{
    return s->max_image;
}
bool ek__store_progress(const ek_image_store_t *s)
{
    return s->progress;
}
json_t *ek__store_registries(ek_image_store_t *s)
{
    return s->registries;
}

/* Changes take the mutex (threads of this process) and then the flock (other processes). */
static int lock_store(ek_image_store_t *s, ek_error_t **err)
{
    pthread_mutex_lock(&s->mu);
    while (flock(s->lockfd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            pthread_mutex_unlock(&s->mu);
            return ek_error_make(err, errno, "lock image store `%s`", s->dir);
        }
    }
    return 0;
}

static void unlock_store(ek_image_store_t *s)
{
    flock(s->lockfd, LOCK_UN);
    pthread_mutex_unlock(&s->mu);
}

/* Re-reads index.json when it changed on disk (another process, or our own write). */
static int load_index(ek_image_store_t *s, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/index.json", s->dir);
    struct stat st;
    if (stat(path, &st) < 0) {
        if (errno != ENOENT) {
            return ek_error_make(err, errno, "stat `%s`", path);
        }
        json_decref(s->index);
        s->index = json_pack("{s:i,s:[]}", "version", 1, "images");
        memset(&s->index_st, 0, sizeof(s->index_st));
        return 0;
    }
    if (s->index && st.st_ino == s->index_st.st_ino && st.st_size == s->index_st.st_size &&
        st.st_mtim.tv_sec == s->index_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->index_st.st_mtim.tv_nsec) {
        return 0;
    }
    size_t len;
    ek_autofree char *data = ek_file_read(path, 256 << 20, &len, err);
    if (!data) {
        return -1;
    }
    json_t *j = ek_json_parse(data, len, err);
    if (!j || !json_is_array(json_object_get(j, "images"))) {
        json_decref(j);
        return ek_error_make(err, 0, "image store `%s`: index.json is damaged", s->dir);
    }
    json_decref(s->index);
    s->index = j;
    s->index_st = st;
    return 0;
}

static int save_index(ek_image_store_t *s, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/index.json", s->dir);
    ek_autobuf b = EK_BUF_INIT;
    char *text = json_dumps(s->index, JSON_INDENT(1) | JSON_SORT_KEYS);
    ek_buf_puts(&b, text);
    free(text);
    ek_buf_putc(&b, '\n');
    if (ek_file_write_atomic(path, b.data, b.len, 0644, err) < 0) {
        return -1;
    }
    stat(path, &s->index_st);
    return 0;
}

/* Removes staging dirs whose process is gone: an import that crashed. */
static void clean_tmp(ek_image_store_t *s)
{
    ek_autofree char *tmp = ek_xasprintf("%s/tmp", s->dir);
    DIR *d = opendir(tmp);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        long pid = strtol(de->d_name, NULL, 10);
        if (pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
            continue;
        }
        if (pid == getpid()) {
            continue;
        }
        ek_autofree char *p = ek_xasprintf("%s/%s", tmp, de->d_name);
        ek_error_t *e = NULL;
        if (ek_rm_rf(p, &e) < 0) {
            EK_LOG(EK_WARN, "image", "cannot remove leftover %s: %s", p, ek_error_msg(e));
            ek_error_free(e);
        }
    }
    closedir(d);
}

ek_image_store_t *ek_image_store_open(const char *dir, const ek_image_store_options_t *opts,
                                      ek_error_t **err)
{
    static const ek_image_store_options_t defaults = { 0 };
    const ek_image_store_options_t *o = opts ? opts : &defaults;
    if (o->platform && !ek__platform_valid(o->platform)) {
        ek_error_make(err, 0, "bad platform `%s` (want os/arch[/variant])", o->platform);
        return NULL;
    }
    static const char *const subdirs[] = { "blobs/sha256", "layers", "tmp", "holds" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(subdirs); i++) {
        ek_autofree char *p = ek_xasprintf("%s/%s", dir, subdirs[i]);
        if (ek_mkdir_p(p, 0700, err) < 0) {
            ek_error_wrap(err, "image store");
            return NULL;
        }
    }
    ek_image_store_t *s = ek_new(ek_image_store_t);
    pthread_mutex_init(&s->mu, NULL);
    s->dir = ek_xstrdup(dir);
    s->lockfd = -1;
    s->platform = ek_xstrdup(o->platform ? o->platform : ek_image_node_platform());
    s->max_layer = o->max_layer_bytes ? o->max_layer_bytes : (16ULL << 30);
    s->max_image = o->max_image_bytes ? o->max_image_bytes : (64ULL << 30);
    s->progress = o->progress;
    s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ek_autofree char *lock = ek_xasprintf("%s/lock", dir);
    s->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->dirfd < 0 || s->lockfd < 0) {
        ek_error_make(err, errno, "open image store `%s`", dir);
        ek_image_store_close(s);
        return NULL;
    }
    s->registries = ek__registries_load(
        o->registries_yaml ? o->registries_yaml : "/etc/edgek/registries.yaml", err);
    if (!s->registries || lock_store(s, err) < 0) {
        ek_image_store_close(s);
        return NULL;
    }
    clean_tmp(s);
    int r = load_index(s, err);
    unlock_store(s);
    if (r < 0) {
        ek_image_store_close(s);
        return NULL;
    }
    return s;
}

void ek_image_store_close(ek_image_store_t *s)
{
    if (!s) {
        return;
    }
    if (s->dirfd >= 0) {
        close(s->dirfd);
    }
    if (s->lockfd >= 0) {
        close(s->lockfd);
    }
    json_decref(s->index);
    json_decref(s->registries);
    free(s->platform);
    free(s->dir);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

char *ek__store_read_blob(ek_image_store_t *s, const char *digest, size_t *len)
{
    if (!ek__digest_valid(digest)) {
        return NULL;
    }
    ek_autofree char *p = ek_xasprintf("%s/blobs/sha256/%s", s->dir, ek__digest_hex(digest));
    return ek_file_read(p, 64 << 20, len, NULL);
}

bool ek__store_has_layer(ek_image_store_t *s, const char *diffid)
{
    ek_autofree char *p = ek_xasprintf("layers/%s/rootfs", ek__digest_hex(diffid));
    struct stat st;
    return fstatat(s->dirfd, p, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* ---- holds ---- */

static bool hold_key_ok(const char *key)
{
    if (!key || !*key || strlen(key) > 200 || key[0] == '.') {
        return false;
    }
    for (const char *p = key; *p; p++) {
        if (*p == '/' || *p < 32) {
            return false;
        }
    }
    return true;
}

int ek_image_hold(ek_image_store_t *s, const char *key, const char *image_id, ek_error_t **err)
{
    if (!hold_key_ok(key) || !ek__digest_valid(image_id)) {
        return ek_error_make(err, EINVAL, "hold `%s` on `%s`", key ? key : "", image_id);
    }
    ek_autofree char *p = ek_xasprintf("%s/holds/%s", s->dir, key);
    return ek_file_write_atomic(p, image_id, strlen(image_id), 0600, err);
}

int ek_image_release(ek_image_store_t *s, const char *key, ek_error_t **err)
{
    if (!hold_key_ok(key)) {
        return ek_error_make(err, EINVAL, "release `%s`", key ? key : "");
    }
    ek_autofree char *p = ek_xasprintf("%s/holds/%s", s->dir, key);
    if (unlink(p) < 0 && errno != ENOENT) {
        return ek_error_make(err, errno, "release `%s`", key);
    }
    return 0;
}

/* The image ids that containers hold, as a JSON object used as a set. */
static json_t *read_holds(ek_image_store_t *s)
{
    json_t *set = json_object();
    ek_autofree char *dir = ek_xasprintf("%s/holds", s->dir);
    DIR *d = opendir(dir);
    if (!d) {
        return set;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        ek_autofree char *p = ek_xasprintf("%s/%s", dir, de->d_name);
        ek_autofree char *id = ek_file_read(p, 128, NULL, NULL);
        if (id && ek__digest_valid(id)) {
            json_object_set_new(set, id, json_true());
        }
    }
    closedir(d);
    return set;
}

static bool record_held(json_t *rec, json_t *holds)
{
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(rec, "manifests"), i, m) {
        const char *cfg = ek_json_str(m, "config", NULL);
        if (cfg && json_object_get(holds, cfg)) {
            return true;
        }
    }
    return false;
}

/* ---- records → image info ---- */

void ek_image_info_free(ek_image_info_t *info)
{
    if (!info) {
        return;
    }
    free(info->id);
    free(info->digest);
    free(info->manifest);
    free(info->platform);
    for (size_t i = 0; i < info->n_names; i++) {
        free(info->names[i]);
    }
    free(info->names);
    for (size_t i = 0; i < info->n_layers; i++) {
        free(info->layers[i]);
    }
    free(info->layers);
    json_decref(info->config);
    free(info);
}

char *ek_image_lowerdir(const ek_image_info_t *info)
{
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (size_t i = info->n_layers; i-- > 0;) {
        ek_buf_printf(&b, "%s%s", b.len ? ":" : "", info->layers[i]);
    }
    return ek_buf_steal(&b, NULL);
}

/* The record's manifest for the store's platform (the only one, whatever it is, if just
 * one was imported). Borrowed. */
static json_t *pick_manifest(ek_image_store_t *s, json_t *rec)
{
    json_t *ms = json_object_get(rec, "manifests");
    json_t *best = json_array_get(ms, 0), *m;
    int best_score = 0;
    size_t i;
    json_array_foreach (ms, i, m) {
        char os[32] = "", arch[32] = "", var[32] = "";
        sscanf(ek_json_str(m, "platform", NULL) ? ek_json_str(m, "platform", NULL) : "",
               "%31[^/]/%31[^/]/%31s", os, arch, var);
        int score = ek__platform_match(s->platform, os, arch, var);
        if (score > best_score) {
            best = m;
            best_score = score;
        }
    }
    return best;
}

static ek_image_info_t *info_from_record(ek_image_store_t *s, json_t *rec, ek_error_t **err)
{
    json_t *m = pick_manifest(s, rec);
    const char *cfgd = ek_json_str(m, "config", NULL);
    size_t len;
    ek_autofree char *cfgtext = cfgd ? ek__store_read_blob(s, cfgd, &len) : NULL;
    ek__config_t cfg;
    if (!cfgtext || ek__config_parse(cfgtext, len, &cfg, err) < 0) {
        ek_error_make(err, 0, "image %s: config blob missing or damaged",
                      ek_json_str(rec, "digest", NULL));
        return NULL;
    }
    ek_image_info_t *info = ek_new(ek_image_info_t);
    info->id = ek_xstrdup(cfgd);
    info->digest = ek_xstrdup(ek_json_str(rec, "digest", NULL));
    info->manifest = ek_xstrdup(ek_json_str(m, "digest", NULL));
    info->platform = ek_xstrdup(ek_json_str(m, "platform", NULL) ? ek_json_str(m, "platform", NULL)
                                                                 : cfg.platform);
    info->config = json_incref(cfg.config);
    ek__config_free(&cfg);
    json_t *names = json_object_get(rec, "names"), *v;
    size_t i;
    info->names = ek_xcalloc(json_array_size(names) + 1, sizeof(char *));
    json_array_foreach (names, i, v) {
        info->names[info->n_names++] = ek_xstrdup(json_string_value(v));
    }
    json_t *layers = json_object_get(m, "layers");
    info->layers = ek_xcalloc(json_array_size(layers) + 1, sizeof(char *));
    json_array_foreach (layers, i, v) {
        const char *d = ek_json_str(v, "diffid", NULL);
        info->layers[info->n_layers++] =
            ek_xasprintf("%s/layers/%s/rootfs", s->dir, d ? ek__digest_hex(d) : "?");
        info->size += (uint64_t)ek_json_int(v, 0, "size", NULL);
    }
    return info;
}

static bool is_hex_prefix(const char *s)
{
    size_t n = strlen(s);
    if (n < 12 || n > 64) {
        return false;
    }
    return strspn(s, "0123456789abcdef") == n;
}

static bool record_has_name(json_t *rec, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(rec, "names"), i, v) {
        if (ek_streq(json_string_value(v), name)) {
            return true;
        }
    }
    return false;
}

/* Does the record match an id, digest or hex prefix (of its digest, manifests, configs)? */
static bool record_matches_id(json_t *rec, const char *hex)
{
    size_t n = strlen(hex), i;
    const char *d = ek_json_str(rec, "digest", NULL);
    if (d && strncmp(d + 7, hex, n) == 0) {
        return true;
    }
    json_t *m;
    json_array_foreach (json_object_get(rec, "manifests"), i, m) {
        const char *md = ek_json_str(m, "digest", NULL), *cd = ek_json_str(m, "config", NULL);
        if ((md && strncmp(md + 7, hex, n) == 0) || (cd && strncmp(cd + 7, hex, n) == 0)) {
            return true;
        }
    }
    return false;
}

/* Finds the record for ref (a name, a digest reference, an id or id prefix). Borrowed. With
 * by_id set to whether ref named the image itself rather than one of its names. */
static json_t *find_record(ek_image_store_t *s, const char *ref, bool *by_id, char **name,
                           ek_error_t **err)
{
    json_t *images = json_object_get(s->index, "images"), *rec, *found = NULL;
    size_t i;
    *by_id = false;
    *name = NULL;
    const char *hex = ek_has_prefix(ref, "sha256:") ? ref + 7 : ref;
    if (is_hex_prefix(hex) && (ek_has_prefix(ref, "sha256:") || !strchr(ref, '/'))) {
        json_array_foreach (images, i, rec) {
            if (record_matches_id(rec, hex)) {
                if (found) {
                    ek_error_status(err, 409, "image id prefix `%s` is ambiguous", ref);
                    return NULL;
                }
                found = rec;
            }
        }
        if (found || ek_has_prefix(ref, "sha256:")) {
            *by_id = true;
            if (!found) {
                ek_error_status(err, 404, "image `%s` not found", ref);
            }
            return found;
        }
    }
    ek_image_ref_t r;
    if (ek_image_ref_parse(ref, &r, err) < 0) {
        return NULL;
    }
    json_array_foreach (images, i, rec) {
        if (r.tag && record_has_name(rec, r.full)) {
            found = rec;
            break;
        }
        if (!r.tag && record_matches_id(rec, r.digest + 7)) {
            found = rec;
            *by_id = true;
            break;
        }
    }
    if (!found) {
        ek_error_status(err, 404, "image `%s` not found", r.full);
    } else {
        *name = ek_xstrdup(r.full);
    }
    ek_image_ref_free(&r);
    return found;
}

ek_image_info_t *ek_image_resolve(ek_image_store_t *s, const char *ref, ek_error_t **err)
{
    pthread_mutex_lock(&s->mu);
    bool by_id;
    ek_autofree char *name = NULL;
    json_t *rec = load_index(s, err) < 0 ? NULL : find_record(s, ref, &by_id, &name, err);
    ek_image_info_t *info = rec ? info_from_record(s, rec, err) : NULL;
    pthread_mutex_unlock(&s->mu);
    return info;
}

static int cmp_info(const void *a, const void *b)
{
    const ek_image_info_t *x = *(ek_image_info_t *const *)a, *y = *(ek_image_info_t *const *)b;
    const char *nx = x->n_names ? x->names[0] : "~", *ny = y->n_names ? y->names[0] : "~";
    int c = strcmp(nx, ny);
    return c ? c : strcmp(x->digest, y->digest);
}

ek_image_info_t **ek_image_list(ek_image_store_t *s, size_t *n, ek_error_t **err)
{
    *n = 0;
    pthread_mutex_lock(&s->mu);
    if (load_index(s, err) < 0) {
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    json_t *images = json_object_get(s->index, "images"), *rec;
    ek_image_info_t **out = ek_xcalloc(json_array_size(images) + 1, sizeof(*out));
    size_t i;
    json_array_foreach (images, i, rec) {
        ek_error_t *e = NULL;
        ek_image_info_t *info = info_from_record(s, rec, &e);
        if (!info) {
            EK_LOG(EK_WARN, "image", "skipping damaged image record: %s", ek_error_msg(e));
            ek_error_free(e);
            continue;
        }
        out[(*n)++] = info;
    }
    pthread_mutex_unlock(&s->mu);
    qsort(out, *n, sizeof(*out), cmp_info);
    return out;
}

/* ---- removal and garbage collection ---- */

static uint64_t du_total;
static int du_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    EK_UNUSED(p), EK_UNUSED(flag), EK_UNUSED(f);
    du_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

/* Disk usage of a tree (called under the store lock, so the static total is not shared). */
static uint64_t disk_usage(const char *path)
{
    du_total = 0;
    nftw(path, du_cb, 16, FTW_PHYS | FTW_MOUNT);
    return du_total;
}

/* Removes layers and blobs no record reaches. Caller holds the lock with a fresh index. */
static int64_t gc_locked(ek_image_store_t *s, ek_error_t **err)
{
    json_t *keep = json_object(), *rec, *m, *l;
    size_t i, j, k;
    json_array_foreach (json_object_get(s->index, "images"), i, rec) {
        json_object_set_new(keep, ek_json_str(rec, "digest", NULL), json_true());
        json_array_foreach (json_object_get(rec, "manifests"), j, m) {
            json_object_set_new(keep, ek_json_str(m, "digest", NULL), json_true());
            json_object_set_new(keep, ek_json_str(m, "config", NULL), json_true());
            json_array_foreach (json_object_get(m, "layers"), k, l) {
                json_object_set_new(keep, ek_json_str(l, "diffid", NULL), json_true());
            }
        }
    }
    int64_t freed = 0;
    static const char *const kinds[] = { "layers", "blobs/sha256" };
    for (size_t x = 0; x < EK_ARRAY_SIZE(kinds); x++) {
        ek_autofree char *dir = ek_xasprintf("%s/%s", s->dir, kinds[x]);
        DIR *d = opendir(dir);
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            char digest[80] = "sha256:";
            if (de->d_name[0] == '.' || strlen(de->d_name) != 64) {
                continue;
            }
            memcpy(digest + 7, de->d_name, 65);
            if (json_object_get(keep, digest)) {
                continue;
            }
            ek_autofree char *p = ek_xasprintf("%s/%s", dir, de->d_name);
            if (x == 0) {
                /* Out of sight first (one rename), then the slow removal. */
                ek_autofree char *dead = ek_xasprintf("%s/tmp/%d-gc-%u", s->dir, (int)getpid(),
                                                      __atomic_add_fetch(&job_counter, 1, 0));
                freed += (int64_t)disk_usage(p);
                if (rename(p, dead) == 0) {
                    ek_rm_rf(dead, NULL);
                }
            } else {
                struct stat st;
                if (stat(p, &st) == 0) {
                    freed += st.st_blocks * 512;
                }
                unlink(p);
            }
        }
        if (d) {
            closedir(d);
        }
    }
    json_decref(keep);
    EK_UNUSED(err);
    return freed;
}

int64_t ek_image_gc(ek_image_store_t *s, ek_error_t **err)
{
    if (lock_store(s, err) < 0) {
        return -1;
    }
    int64_t r = load_index(s, err) < 0 ? -1 : gc_locked(s, err);
    unlock_store(s);
    return r;
}

static int remove_locked(ek_image_store_t *s, const char *ref, ek_error_t **err)
{
    bool by_id;
    ek_autofree char *name = NULL;
    json_t *rec = find_record(s, ref, &by_id, &name, err);
    if (!rec) {
        return -1;
    }
    json_t *names = json_object_get(rec, "names");
    if (by_id) {
        json_array_clear(names);
    } else {
        for (size_t i = json_array_size(names); i-- > 0;) {
            if (ek_streq(json_string_value(json_array_get(names, i)), name)) {
                json_array_remove(names, i);
            }
        }
    }
    if (json_array_size(names) == 0) {
        ek_auto(json_t) holds = read_holds(s);
        if (record_held(rec, holds)) {
            if (by_id) {
                return ek_error_status(err, 409, "image `%s` is in use by a container", ref);
            }
        } else {
            json_t *images = json_object_get(s->index, "images");
            for (size_t i = 0; i < json_array_size(images); i++) {
                if (json_array_get(images, i) == rec) {
                    json_array_remove(images, i);
                    break;
                }
            }
        }
    }
    return save_index(s, err);
}

int ek_image_remove(ek_image_store_t *s, const char *ref, ek_error_t **err)
{
    if (lock_store(s, err) < 0) {
        return -1;
    }
    int r = -1;
    if (load_index(s, err) == 0 && remove_locked(s, ref, err) == 0) {
        r = gc_locked(s, err) < 0 ? -1 : 0;
    }
    unlock_store(s);
    if (r < 0) {
        /* The in-memory copy may hold an unsaved edit: force a re-read. */
        memset(&s->index_st, 0, sizeof(s->index_st));
        json_decref(s->index);
        s->index = NULL;
        load_index(s, NULL);
    }
    return r;
}

int64_t ek_image_prune(ek_image_store_t *s, ek_error_t **err)
{
    if (lock_store(s, err) < 0) {
        return -1;
    }
    int64_t r = -1;
    if (load_index(s, err) == 0) {
        ek_auto(json_t) holds = read_holds(s);
        json_t *images = json_object_get(s->index, "images");
        size_t before = json_array_size(images);
        for (size_t i = json_array_size(images); i-- > 0;) {
            json_t *rec = json_array_get(images, i);
            if (json_array_size(json_object_get(rec, "names")) == 0 && !record_held(rec, holds)) {
                json_array_remove(images, i);
            }
        }
        if (json_array_size(images) == before || save_index(s, err) == 0) {
            r = gc_locked(s, err);
        }
    }
    unlock_store(s);
    return r;
}

/* ---- jobs: staging and commit ---- */

int ek__job_init(ek_image_store_t *s, ek__job_t *j, ek_error_t **err)
{
    memset(j, 0, sizeof(*j));
    j->store = s;
    j->max_layer_bytes = s->max_layer;
    j->max_image_bytes = s->max_image;
    unsigned n = __atomic_add_fetch(&job_counter, 1, __ATOMIC_RELAXED);
    j->tmp = ek_xasprintf("%s/tmp/%d-%u", s->dir, (int)getpid(), n);
    if (mkdir(j->tmp, 0700) < 0) {
        ek_error_make(err, errno, "create `%s`", j->tmp);
        free(j->tmp);
        j->tmp = NULL;
        return -1;
    }
    return 0;
}

static void image_add_free(ek__image_add_t *im)
{
    free(im->digest);
    ek_strlist_free(&im->names);
    for (size_t i = 0; i < im->n_manifests; i++) {
        ek__manifest_add_t *m = &im->manifests[i];
        free(m->digest);
        free(m->platform);
        free(m->config);
        for (size_t k = 0; k < m->n_layers; k++) {
            free(m->layers[k].diffid);
            free(m->layers[k].staged);
        }
        free(m->layers);
    }
    free(im->manifests);
}

void ek__job_cleanup(ek__job_t *j)
{
    if (j->tmp) {
        ek_rm_rf(j->tmp, NULL);
        free(j->tmp);
    }
    for (size_t i = 0; i < j->n_blobs; i++) {
        free(j->blobs[i].digest);
        free(j->blobs[i].data);
    }
    free(j->blobs);
    for (size_t i = 0; i < j->n_images; i++) {
        image_add_free(&j->images[i]);
    }
    free(j->images);
    memset(j, 0, sizeof(*j));
}

void ek__job_add_blob(ek__job_t *j, const char *digest, const char *data, size_t len)
{
    for (size_t i = 0; i < j->n_blobs; i++) {
        if (strcmp(j->blobs[i].digest, digest) == 0) {
            return;
        }
    }
    j->blobs = ek_xrealloc(j->blobs, (j->n_blobs + 1) * sizeof(*j->blobs));
    ek__blob_add_t *b = &j->blobs[j->n_blobs++];
    b->digest = ek_xstrdup(digest);
    b->data = ek_xmalloc(len + 1);
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    b->len = len;
}

static int verify_layer(ek__stream_t *st, const char *want_blob, const char *want_diffid,
                        char out_diffid[static 72], ek_error_t **err)
{
    char got[72];
    if (want_blob) {
        ek__stream_raw_digest(st, got);
        if (strcmp(got, want_blob) != 0) {
            return ek_error_make(err, 0, "layer %s: digest mismatch (content is %s)", want_blob,
                                 got);
        }
    }
    ek__stream_out_digest(st, out_diffid);
    if (want_diffid && strcmp(out_diffid, want_diffid) != 0) {
        return ek_error_make(err, 0, "layer %s: uncompressed digest %s does not match diff_id %s",
                             want_blob ? want_blob : "", out_diffid, want_diffid);
    }
    return 0;
}

int ek__job_unpack(ek__job_t *j, int fd, uint64_t off, uint64_t len, const char *want_blob,
                   const char *want_diffid, char out_diffid[static 72], char **staged,
                   uint64_t *size, ek_error_t **err)
{
    unsigned n = __atomic_add_fetch(&job_counter, 1, __ATOMIC_RELAXED);
    ek_autofree char *dir = ek_xasprintf("%s/L%u", j->tmp, n);
    ek_autofree char *rootfs = ek_xasprintf("%s/rootfs", dir);
    if (mkdir(dir, 0700) < 0 || mkdir(rootfs, 0755) < 0) {
        return ek_error_make(err, errno, "create `%s`", rootfs);
    }
    ek_autoclose int rfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ek__stream_t *st = ek__stream_new(fd, off, len, true);
    ek__stream_hash_raw(st, want_blob != NULL);
    ek__stream_hash_out(st, true);
    ek__stream_limit(st, j->max_layer_bytes);
    ek__tar_t *t = ek__tar_new(ek__stream_read_cb, NULL, st);
    ek__unpack_stats_t stats = { 0 };
    int r = rfd < 0 ? ek_error_make(err, errno, "open `%s`", rootfs) : 0;
    if (r == 0) {
        r = ek__unpack(t, rfd, &stats, err);
    }
    if (r == 0) {
        r = ek__stream_drain(st, err);
    }
    if (r == 0) {
        r = verify_layer(st, want_blob, want_diffid, out_diffid, err);
    } else if (want_blob && ek__stream_drain_raw(st, NULL) == 0) {
        /* Garbage in a layer usually means a corrupt blob: say so if it is. */
        char got[72];
        ek__stream_raw_digest(st, got);
        if (strcmp(got, want_blob) != 0) {
            ek_error_clear(err);
            ek_error_make(err, 0, "layer %s: digest mismatch (content is %s)", want_blob, got);
        }
    }
    uint64_t total =
        r == 0 ? __atomic_add_fetch(&j->total_bytes, ek__stream_out_bytes(st), __ATOMIC_RELAXED)
               : 0;
    if (r == 0 && total > j->max_image_bytes) {
        r = ek_error_make(err, EFBIG, "image exceeds the size limit of %llu bytes",
                          (unsigned long long)j->max_image_bytes);
    }
    ek__tar_free(t);
    ek__stream_free(st);
    if (r < 0) {
        ek_rm_rf(dir, NULL);
        return -1;
    }
    *staged = ek_steal(&dir);
    *size = stats.bytes;
    return 0;
}

/* Puts the job's layers in place; verifies that reused ones still exist. */
static int commit_layers(ek__job_t *j, ek_error_t **err)
{
    ek_image_store_t *s = j->store;
    for (size_t i = 0; i < j->n_images; i++) {
        ek__image_add_t *im = &j->images[i];
        for (size_t k = 0; k < im->n_manifests; k++) {
            ek__manifest_add_t *m = &im->manifests[k];
            for (size_t l = 0; l < m->n_layers; l++) {
                ek__layer_add_t *la = &m->layers[l];
                ek_autofree char *dst =
                    ek_xasprintf("%s/layers/%s", s->dir, ek__digest_hex(la->diffid));
                if (la->staged && rename(la->staged, dst) < 0 && errno != EEXIST &&
                    errno != ENOTEMPTY) {
                    return ek_error_make(err, errno, "move layer %s into place", la->diffid);
                }
                if (!ek__store_has_layer(s, la->diffid)) {
                    return ek_error_make(err, 0, "layer %s vanished (removed concurrently?)",
                                         la->diffid);
                }
            }
        }
    }
    ek_autofree char *layers = ek_xasprintf("%s/layers", s->dir);
    return ek_fsync_dir(layers, err);
}

static int commit_blobs(ek__job_t *j, ek_error_t **err)
{
    ek_image_store_t *s = j->store;
    for (size_t i = 0; i < j->n_blobs; i++) {
        ek_autofree char *rel = ek_xasprintf("blobs/sha256/%s", ek__digest_hex(j->blobs[i].digest));
        if (faccessat(s->dirfd, rel, F_OK, 0) == 0) {
            continue;
        }
        ek_autofree char *tmp = ek_xasprintf("%s/blob-%zu", j->tmp, i);
        ek_autofree char *dst = ek_xasprintf("%s/%s", s->dir, rel);
        ek_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, j->blobs[i].data, j->blobs[i].len) != (ssize_t)j->blobs[i].len ||
            rename(tmp, dst) < 0) {
            return ek_error_make(err, errno, "write blob %s", j->blobs[i].digest);
        }
    }
    return 0;
}

static json_t *manifest_json(const ek__manifest_add_t *m)
{
    json_t *layers = json_array();
    for (size_t l = 0; l < m->n_layers; l++) {
        json_array_append_new(layers, json_pack("{s:s,s:I}", "diffid", m->layers[l].diffid, "size",
                                                (json_int_t)m->layers[l].size));
    }
    return json_pack("{s:s,s:s,s:s,s:o}", "digest", m->digest, "platform", m->platform, "config",
                     m->config, "layers", layers);
}

/* Adds the job's images to the loaded index; names move to their new image. */
static void merge_records(ek__job_t *j)
{
    json_t *images = json_object_get(j->store->index, "images"), *rec;
    size_t i;
    for (size_t x = 0; x < j->n_images; x++) {
        ek__image_add_t *im = &j->images[x];
        json_t *target = NULL;
        json_array_foreach (images, i, rec) {
            if (ek_streq(ek_json_str(rec, "digest", NULL), im->digest)) {
                target = rec;
            }
            json_t *names = json_object_get(rec, "names");
            for (size_t k = json_array_size(names); k-- > 0;) {
                for (size_t n = 0; n < im->names.n; n++) {
                    if (ek_streq(json_string_value(json_array_get(names, k)), im->names.v[n])) {
                        json_array_remove(names, k);
                        break;
                    }
                }
            }
        }
        if (!target) {
            char now[21];
            target = json_pack("{s:s,s:[],s:[],s:s}", "digest", im->digest, "names", "manifests",
                               "created", ek_time_rfc3339(time(NULL), now));
            json_array_append_new(images, target);
        }
        for (size_t n = 0; n < im->names.n; n++) {
            json_array_append_new(json_object_get(target, "names"), json_string(im->names.v[n]));
        }
        json_t *ms = json_object_get(target, "manifests");
        for (size_t k = 0; k < im->n_manifests; k++) {
            bool have = false;
            json_t *m;
            json_array_foreach (ms, i, m) {
                have = have || ek_streq(ek_json_str(m, "digest", NULL), im->manifests[k].digest);
            }
            if (!have) {
                json_array_append_new(ms, manifest_json(&im->manifests[k]));
            }
        }
    }
}

int ek__job_commit(ek__job_t *j, ek_error_t **err)
{
    ek_image_store_t *s = j->store;
    if (lock_store(s, err) < 0) {
        return -1;
    }
    int r = load_index(s, err);
    if (r == 0) {
        r = commit_layers(j, err);
    }
    if (r == 0) {
        r = commit_blobs(j, err);
    }
    /* Everything the new records point at reaches the disk before the records do. */
    if (r == 0 && !j->synced && syncfs(s->dirfd) < 0) {
        r = ek_error_make(err, errno, "syncfs `%s`", s->dir);
    }
    if (r == 0) {
        merge_records(j);
        r = save_index(s, err);
        if (r < 0) {
            memset(&s->index_st, 0, sizeof(s->index_st));
            json_decref(s->index);
            s->index = NULL;
            load_index(s, NULL);
        }
    }
    unlock_store(s);
    return r;
}

uint64_t ek__store_layer_size(ek_image_store_t *s, const char *diffid)
{
    json_t *rec, *m, *l;
    size_t i, j, k;
    uint64_t size = 0;
    pthread_mutex_lock(&s->mu);
    json_array_foreach (json_object_get(s->index, "images"), i, rec) {
        json_array_foreach (json_object_get(rec, "manifests"), j, m) {
            json_array_foreach (json_object_get(m, "layers"), k, l) {
                if (ek_streq(ek_json_str(l, "diffid", NULL), diffid)) {
                    size = (uint64_t)ek_json_int(l, 0, "size", NULL);
                }
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return size;
}

int ek__store_refresh(ek_image_store_t *s, ek_error_t **err)
{
    pthread_mutex_lock(&s->mu);
    int r = load_index(s, err);
    pthread_mutex_unlock(&s->mu);
    return r;
}
