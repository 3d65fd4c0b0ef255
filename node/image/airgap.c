/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The air-gap directory (k3s's agent/images convention): archives found there at start are
 * imported, and so are archives that appear or change while the agent runs (an inotify
 * watch through uv_fs_event, debounced; a file is imported once its size stopped changing
 * between two looks, so a copy still in progress is not read half-way). Imports run one at
 * a time on a worker thread. What was imported (name, size, mtime) is remembered in
 * <store>/airgap.json, so a restart does not decompress every archive again; an archive that
 * failed is retried only when it changes. A `.txt` file there lists images to pre-pull (one
 * reference a line, `#` comments), as in k3s: each is pulled if the store lacks it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "node/image/image-internal.h"

#define SETTLE_MS 1000

struct ek_image_airgap {
    ek_image_store_t *s;
    uv_loop_t *loop;
    char *dir;
    char *state_path;
    uv_fs_event_t ev;
    uv_timer_t timer;
    json_t *seen;    /* name → {"size", "mtime"} imported (or failed) */
    json_t *pending; /* name → size at the last look */
    bool first_scan, busy, stopping, ev_started;
    unsigned imports;
    unsigned pulls; /* pre-pulls still running (stop waits for them) */
    unsigned open_handles;
    uv_work_t work;
    char *cur;
    json_t *cur_stamp;
    ek_error_t *cur_err;
    void (*stop_cb)(void *data);
    void *stop_data;
};

static const char *const suffixes[] = { ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tzst" };

static bool is_archive(const char *name)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(suffixes); i++) {
        if (ek_has_suffix(name, suffixes[i]) && name[0] != '.') {
            return true;
        }
    }
    return false;
}

static void import_work(uv_work_t *w)
{
    ek_image_airgap_t *a = ek_container_of(w, ek_image_airgap_t, work);
    ek_autofree char *path = ek_xasprintf("%s/%s", a->dir, a->cur);
    ek_strlist_t names = { 0 };
    uint64_t t0 = ek_now_ms();
    if (ek_image_import(a->s, path, NULL, &names, &a->cur_err) == 0) {
        EK_LOG(EK_INFO, "image", "air-gap import archive=%s images=%zu ms=%llu", a->cur, names.n,
               (unsigned long long)(ek_now_ms() - t0));
    }
    ek_strlist_free(&names);
}

static void scan(ek_image_airgap_t *a);
static void maybe_stopped(ek_image_airgap_t *a);

static void import_after(uv_work_t *w, int status)
{
    ek_image_airgap_t *a = ek_container_of(w, ek_image_airgap_t, work);
    EK_UNUSED(status);
    if (a->cur_err) {
        EK_LOG(EK_ERROR, "image", "air-gap import failed: %s", ek_error_msg(a->cur_err));
        ek_error_clear(&a->cur_err);
    }
    json_object_set_new(a->seen, a->cur, a->cur_stamp);
    a->cur_stamp = NULL;
    char *text = json_dumps(a->seen, JSON_COMPACT | JSON_SORT_KEYS);
    ek_file_write_atomic(a->state_path, text, strlen(text), 0600, NULL);
    free(text);
    free(a->cur);
    a->cur = NULL;
    a->busy = false;
    a->imports++;
    if (a->stopping) {
        maybe_stopped(a);
    } else {
        scan(a); /* the next one, if any */
    }
}

static json_t *stamp(const struct stat *st)
{
    return json_pack("{s:I,s:I}", "size", (json_int_t)st->st_size, "mtime",
                     (json_int_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec);
}

static void on_timer(uv_timer_t *t);

static void prepull_done(ek_image_info_t *info, ek_error_t *err, void *data)
{
    ek_image_airgap_t *a = data;
    if (err) {
        EK_LOG(EK_ERROR, "image", "air-gap pre-pull failed: %s", ek_error_msg(err));
    } else {
        EK_LOG(EK_INFO, "image", "air-gap pre-pull image=%s", info->names[0]);
    }
    ek_image_info_free(info);
    a->pulls--;
    if (a->stopping) {
        maybe_stopped(a);
    }
}

/* Starts a pull (if missing) for every reference a list names. */
static void prepull_list(ek_image_airgap_t *a, const char *path)
{
    ek_autofree char *text = ek_file_read(path, 1 << 20, NULL, NULL);
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save)) {
        line += strspn(line, " \t\r");
        line[strcspn(line, " \t\r#")] = '\0';
        if (!*line) {
            continue;
        }
        ek_error_t *err = NULL;
        if (ek_image_ensure(a->s, a->loop, line, EK_IMAGE_PULL_IF_NOT_PRESENT, NULL, prepull_done,
                            a, &err) < 0) {
            EK_LOG(EK_ERROR, "image", "air-gap list %s: %s", path, ek_error_msg(err));
            ek_error_free(err);
            continue;
        }
        a->pulls++;
    }
}

/* Looks at the directory; starts one import if an archive is new or changed and its size
 * is the one seen at the previous look (at start, every archive counts as settled). */
static void scan(ek_image_airgap_t *a)
{
    if (a->busy || a->stopping) {
        return;
    }
    DIR *d = opendir(a->dir);
    if (!d) {
        return;
    }
    bool unsettled = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && !a->busy) {
        struct stat st;
        ek_autofree char *p = ek_xasprintf("%s/%s", a->dir, de->d_name);
        bool list = ek_has_suffix(de->d_name, ".txt") && de->d_name[0] != '.';
        if ((!is_archive(de->d_name) && !list) || stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
            continue;
        }
        json_t *now = stamp(&st);
        if (json_equal(json_object_get(a->seen, de->d_name), now)) {
            json_decref(now);
            continue;
        }
        json_int_t last = ek_json_int(a->pending, -1, de->d_name, NULL);
        if (!a->first_scan && last != (json_int_t)st.st_size) {
            json_object_set_new(a->pending, de->d_name, json_integer((json_int_t)st.st_size));
            json_decref(now);
            unsettled = true;
            continue;
        }
        json_object_del(a->pending, de->d_name);
        if (list) {
            prepull_list(a, p);
            json_object_set_new(a->seen, de->d_name, now);
            continue;
        }
        a->cur = ek_xstrdup(de->d_name);
        a->cur_stamp = now;
        a->busy = true;
        uv_queue_work(a->loop, &a->work, import_work, import_after);
    }
    closedir(d);
    if (!a->busy) {
        a->first_scan = false; /* the archives present at start are all done */
    }
    if (unsettled && !a->busy) {
        uv_timer_start(&a->timer, on_timer, SETTLE_MS, 0);
    }
}

static void on_timer(uv_timer_t *t)
{
    ek_image_airgap_t *a = ek_container_of(t, ek_image_airgap_t, timer);
    scan(a);
}

static void on_event(uv_fs_event_t *ev, const char *name, int events, int status)
{
    ek_image_airgap_t *a = ek_container_of(ev, ek_image_airgap_t, ev);
    EK_UNUSED(events), EK_UNUSED(status);
    /* Debounced: a copy produces a burst of events. */
    if (!a->stopping && (!name || is_archive(name) || ek_has_suffix(name, ".txt"))) {
        uv_timer_start(&a->timer, on_timer, SETTLE_MS / 2, 0);
    }
}

ek_image_airgap_t *ek_image_airgap_start(ek_image_store_t *s, uv_loop_t *loop, const char *dir,
                                         ek_error_t **err)
{
    if (ek_mkdir_p(dir, 0700, err) < 0) {
        return NULL;
    }
    ek_image_airgap_t *a = ek_new(ek_image_airgap_t);
    a->s = s;
    a->loop = loop;
    a->dir = ek_xstrdup(dir);
    a->state_path = ek_xasprintf("%s/airgap.json", ek_image_store_dir(s));
    ek_auto(json_t) prev = NULL;
    size_t len;
    ek_autofree char *text = ek_file_read(a->state_path, 4 << 20, &len, NULL);
    prev = text ? ek_json_parse(text, len, NULL) : NULL;
    a->seen = json_is_object(prev) ? json_incref(prev) : json_object();
    a->pending = json_object();
    a->first_scan = true;
    uv_timer_init(loop, &a->timer);
    uv_fs_event_init(loop, &a->ev);
    a->open_handles = 2;
    int r = uv_fs_event_start(&a->ev, on_event, dir, 0);
    a->ev_started = r == 0;
    if (r < 0) {
        /* No inotify (exhausted watches): imports at start still happen; say why. */
        EK_LOG(EK_WARN, "image", "cannot watch %s for new archives: %s", dir, uv_strerror(r));
    }
    uv_timer_start(&a->timer, on_timer, 0, 0);
    return a;
}

unsigned ek_image_airgap_imports(const ek_image_airgap_t *a)
{
    return a->imports;
}

static void handle_closed(uv_handle_t *h)
{
    ek_image_airgap_t *a = h->data;
    a->open_handles--;
    maybe_stopped(a);
}

static void maybe_stopped(ek_image_airgap_t *a)
{
    if (a->busy || a->pulls > 0 || a->open_handles > 0) {
        return;
    }
    void (*cb)(void *) = a->stop_cb;
    void *data = a->stop_data;
    json_decref(a->seen);
    json_decref(a->pending);
    free(a->dir);
    free(a->state_path);
    free(a);
    if (cb) {
        cb(data);
    }
}

void ek_image_airgap_stop(ek_image_airgap_t *a, void (*cb)(void *data), void *data)
{
    a->stopping = true;
    a->stop_cb = cb;
    a->stop_data = data;
    a->ev.data = a;
    a->timer.data = a;
    uv_close((uv_handle_t *)&a->ev, handle_closed);
    uv_close((uv_handle_t *)&a->timer, handle_closed);
}
