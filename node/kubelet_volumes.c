/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod volumes. On the loop, the pod's volumes become a plan: for configMap, secret,
 * downwardAPI and projected volumes the exact files (path, bytes, mode) from the informer
 * caches, for emptyDir and hostPath what to create and check. A missing ConfigMap or Secret
 * (not optional) stops the plan with the kubelet's message; the pod then waits in
 * ContainerCreating until the object appears. On a worker the plan becomes directories,
 * tmpfs mounts (emptyDir medium Memory, secret and projected volumes) and files written the
 * way the kubelet's AtomicWriter does: a new timestamped directory, then one rename of the
 * `..data` symlink, so a container never sees half an update; unchanged content is not
 * rewritten (SD cards).
 *
 * Layout: <data>/agent/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>, as the kubelet's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "node/kubelet-internal.h"

/* ---- the plan (loop thread) ---- */

static void add_file(json_t *files, const char *path, const char *text, const char *b64,
                     long long mode)
{
    json_t *f = json_pack("{s:I}", "mode", (json_int_t)mode);
    ek_json_set_str(f, b64 ? "b64" : "text", b64 ? b64 : text);
    json_object_set_new(files, path, f);
}

static long long item_mode(const json_t *item, long long def)
{
    return ek_json_int(item, def, "mode", NULL);
}

/* configMap / secret source into files. */
static int object_files(json_t *files, const json_t *src, bool secret, const char *ns,
                        const ek__kl_sources_t *s, long long def_mode, ek_error_t **err)
{
    const char *name = ek_json_str(src, secret ? "secretName" : "name", NULL);
    if (!name) {
        name = ek_json_str(src, "name", NULL);
    }
    bool optional = ek_json_bool(src, false, "optional", NULL);
    json_t *obj = (secret ? s->secret : s->configmap)(ns, name ? name : "", s->data);
    if (!obj) {
        if (optional) {
            return 0;
        }
        return ek_error_status(err, 404, "%s \"%s\" not found", secret ? "secret" : "configmap",
                               name ? name : "");
    }
    json_t *items = json_object_get(src, "items");
    if (!json_array_size(items)) {
        const char *fields[] = { "data", "binaryData" };
        for (size_t f = 0; f < (secret ? 1u : 2u); f++) {
            const char *k;
            json_t *v;
            json_object_foreach (json_object_get(obj, fields[f]), k, v) {
                bool b64 = secret || f == 1;
                add_file(files, k, b64 ? NULL : json_string_value(v),
                         b64 ? json_string_value(v) : NULL, def_mode);
            }
        }
        return 0;
    }
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        const char *key = ek_json_str(it, "key", NULL) ?: "";
        const char *path = ek_json_str(it, "path", NULL) ?: key;
        const char *text = secret ? NULL : ek_json_str(obj, "data", key, NULL);
        const char *b64 = secret ? ek_json_str(obj, "data", key, NULL)
                          : text ? NULL
                                 : ek_json_str(obj, "binaryData", key, NULL);
        if (!text && !b64) {
            if (optional) {
                continue;
            }
            return ek_error_status(err, 404, "%s references non-existent %s key: %s",
                                   secret ? "secret" : "configmap", secret ? "secret" : "config",
                                   key);
        }
        add_file(files, path, text, b64, item_mode(it, def_mode));
    }
    return 0;
}

static int downward_files(json_t *files, const json_t *items, kl_pod_t *p,
                          const ek__kl_sources_t *s, long long def_mode, ek_error_t **err)
{
    size_t i;
    json_t *it;
    json_array_foreach (items, i, it) {
        const char *path = ek_json_str(it, "path", NULL) ?: "";
        json_t *fr = json_object_get(it, "fieldRef");
        json_t *rr = json_object_get(it, "resourceFieldRef");
        ek_autofree char *v = NULL;
        if (fr) {
            v = ek__kl_field_ref(p->obj, ek_json_str(fr, "fieldPath", NULL) ?: "", s, err);
        } else if (rr) {
            v = ek__kl_resource_ref(p->obj, ek_json_str(rr, "containerName", NULL) ?: "", rr, s,
                                    err);
        }
        if (!v) {
            return err && *err ? -1 : 0;
        }
        add_file(files, path, v, NULL, item_mode(it, def_mode));
    }
    return 0;
}

static void token_done(int status, json_t *body, const ek_error_t *err, void *data);

struct token_call {
    kl_pod_t *pod;
    char *key;
};

/* A bound service account token for projected source src, fetched through TokenRequest and
 * refreshed when 80% of its life has passed. Returns the cached token or NULL (a request is
 * under way; the pod is synced again when it answers). */
static const char *sa_token(kl_pod_t *p, const char *vol, const json_t *src)
{
    const char *path = ek_json_str(src, "path", NULL) ?: "token";
    ek_autofree char *key = ek_xasprintf("%s/%s", vol, path);
    json_t *have = json_object_get(p->tokens, key);
    int64_t now = time(NULL);
    bool fresh = have && now < ek_json_int(have, 0, "refresh", NULL);
    if (fresh || (have && json_is_true(json_object_get(have, "busy")))) {
        return ek_json_str(have, "token", NULL);
    }
    if (!p->tokens) {
        p->tokens = json_object();
    }
    if (!have) {
        have = json_object();
        json_object_set_new(p->tokens, key, have);
    }
    json_object_set_new(have, "busy", json_true());
    long long exp = ek_json_int(src, 3600, "expirationSeconds", NULL);
    const char *aud = ek_json_str(src, "audience", NULL);
    json_t *req = json_pack("{s:s,s:s,s:{s:I,s:{s:s,s:s,s:s,s:s}}}", "apiVersion",
                            "authentication.k8s.io/v1", "kind", "TokenRequest", "spec",
                            "expirationSeconds", (json_int_t)exp, "boundObjectRef", "kind", "Pod",
                            "apiVersion", "v1", "name", p->name, "uid", p->uid);
    if (aud && *aud) {
        json_object_set_new(json_object_get(req, "spec"), "audiences", json_pack("[s]", aud));
    }
    const char *sa = ek_json_str(p->obj, "spec", "serviceAccountName", NULL) ?: "default";
    ek_autofree char *url =
        ek_xasprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", p->ns, sa);
    struct token_call *tc = ek_new(struct token_call);
    tc->pod = p;
    tc->key = ek_xstrdup(key);
    p->calls++;
    ek__kl_call_begin(p->kl);
    ek_api_request(p->kl->client, "POST", url, NULL, req, token_done, tc);
    json_decref(req);
    return ek_json_str(have, "token", NULL);
}

static void token_done(int status, json_t *body, const ek_error_t *err, void *data)
{
    struct token_call *tc = data;
    kl_pod_t *p = tc->pod;
    json_t *have = json_object_get(p->tokens, tc->key);
    p->calls--;
    if (have) {
        json_object_set_new(have, "busy", json_false());
    }
    const char *tok = ek_json_str(body, "status", "token", NULL);
    if (err || !tok || !have) {
        ek__kl_event(p, "Warning", "FailedMount",
                     "MountVolume.SetUp failed for volume \"%.*s\" : "
                     "failed to fetch token: %s",
                     (int)strcspn(tc->key, "/"), tc->key,
                     err ? ek_error_msg(err) : "no token in the answer");
        if (have) {
            json_object_set_new(have, "refresh", json_integer(time(NULL) + 10));
        }
    } else {
        struct timespec exp = { 0 };
        ek_time_parse_rfc3339(ek_json_str(body, "status", "expirationTimestamp", NULL) ?: "", &exp);
        int64_t now = time(NULL), life = exp.tv_sec > now ? exp.tv_sec - now : 600;
        ek_json_set_str(have, "token", tok);
        json_object_set_new(have, "refresh", json_integer(now + life * 8 / 10));
        ek__kl_pod_wake(p, (now + life * 8 / 10 + 1) * 1000);
    }
    EK_UNUSED(status);
    free(tc->key);
    free(tc);
    ek__kl_pod_sync(p);
    ek__kl_call_end(p->kl);
}

static int projected_files(json_t *files, const json_t *vol, kl_pod_t *p, const ek__kl_sources_t *s,
                           ek_error_t **err)
{
    const json_t *pr = json_object_get(vol, "projected");
    long long mode = ek_json_int(pr, 0644, "defaultMode", NULL);
    size_t i;
    json_t *src;
    json_array_foreach (json_object_get(pr, "sources"), i, src) {
        json_t *x;
        if ((x = json_object_get(src, "configMap")) || (x = json_object_get(src, "secret"))) {
            bool secret = json_object_get(src, "secret") != NULL;
            if (object_files(files, x, secret, p->ns, s, mode, err) < 0) {
                return -1;
            }
        } else if ((x = json_object_get(src, "downwardAPI"))) {
            if (downward_files(files, json_object_get(x, "items"), p, s, mode, err) < 0) {
                return -1;
            }
        } else if ((x = json_object_get(src, "serviceAccountToken"))) {
            const char *tok = sa_token(p, ek_json_str(vol, "name", NULL), x);
            if (!tok) {
                return ek_error_make(err, EAGAIN, "waiting for a service account token");
            }
            ek_autofree char *b64 = ek_base64_encode(tok, strlen(tok));
            add_file(files, ek_json_str(x, "path", NULL) ?: "token", NULL, b64, mode);
        }
    }
    return 0;
}

static json_t *files_volume(kl_pod_t *p, const json_t *vol, const ek__kl_sources_t *s,
                            ek_error_t **err)
{
    json_t *files = json_object();
    json_t *x;
    int rc = 0;
    bool tmpfs = false;
    if ((x = json_object_get(vol, "configMap")) || (x = json_object_get(vol, "secret"))) {
        tmpfs = json_object_get(vol, "secret") != NULL;
        rc =
            object_files(files, x, tmpfs, p->ns, s, ek_json_int(x, 0644, "defaultMode", NULL), err);
    } else if ((x = json_object_get(vol, "downwardAPI"))) {
        rc = downward_files(files, json_object_get(x, "items"), p, s,
                            ek_json_int(x, 0644, "defaultMode", NULL), err);
    } else {
        tmpfs = true;
        rc = projected_files(files, vol, p, s, err);
    }
    if (rc < 0) {
        json_decref(files);
        return NULL;
    }
    return json_pack("{s:s,s:o,s:b}", "kind", "files", "files", files, "tmpfs", tmpfs);
}

static json_t *volume_entry(kl_pod_t *p, const json_t *vol, const ek__kl_sources_t *s,
                            ek_error_t **err)
{
    json_t *x;
    if ((x = json_object_get(vol, "hostPath"))) {
        return json_pack("{s:s,s:s}", "kind", "hostPath", "type",
                         ek_json_str(x, "type", NULL) ?: "");
    }
    if ((x = json_object_get(vol, "emptyDir"))) {
        ek_quantity_t q;
        int64_t size = 0;
        const char *lim = ek_json_str(x, "sizeLimit", NULL);
        if (lim && ek_quantity_parse(lim, &q, NULL) == 0) {
            ek_quantity_value(&q, &size, NULL);
        }
        bool mem = ek_streq(ek_json_str(x, "medium", NULL), "Memory");
        return json_pack("{s:s,s:b,s:I}", "kind", "emptyDir", "memory", mem, "size",
                         (json_int_t)(mem && size <= 0 ? p->kl->memory : size));
    }
    if (json_object_get(vol, "configMap") || json_object_get(vol, "secret") ||
        json_object_get(vol, "downwardAPI") || json_object_get(vol, "projected")) {
        return files_volume(p, vol, s, err);
    }
    ek_error_status(err, 501, "this node does not support the type of volume \"%s\" yet",
                    ek_json_str(vol, "name", NULL));
    return NULL;
}

json_t *ek__kl_volume_plan(kl_pod_t *p, ek_error_t **err)
{
    ek__kl_sources_t s;
    ek__kl_sources(p, &s);
    json_t *fs = ek_json_path(p->obj, "spec", "securityContext", "fsGroup", NULL);
    json_t *plan = json_pack("{s:[],s:I}", "volumes", "fsGroup",
                             (json_int_t)(json_is_integer(fs) ? json_integer_value(fs) : -1));
    size_t i;
    json_t *vol;
    json_array_foreach (ek_json_path(p->obj, "spec", "volumes", NULL), i, vol) {
        const char *name = ek_json_str(vol, "name", NULL) ?: "";
        json_t *e = volume_entry(p, vol, &s, err);
        if (!e) {
            json_decref(plan);
            ek_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\" ", name);
            return NULL;
        }
        ek_autofree char *path = ek__kl_volume_path(p->kl, p->obj, vol);
        ek_json_set_str(e, "name", name);
        ek_json_set_str(e, "path", path);
        json_array_append_new(json_object_get(plan, "volumes"), e);
    }
    return plan;
}

/* ---- applying the plan (worker thread) ---- */

static bool is_mountpoint(const char *path)
{
    struct stat a, b;
    ek_autofree char *parent = ek_xasprintf("%s/..", path);
    return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int ensure_tmpfs(const char *path, int64_t size, const char *mode, ek_error_t **err)
{
    if (ek_mkdir_p(path, 0755, err) < 0) {
        return -1;
    }
    if (is_mountpoint(path)) {
        return 0;
    }
    char opts[64];
    if (size > 0) {
        snprintf(opts, sizeof(opts), "mode=%s,size=%lld", mode, (long long)size);
    } else {
        snprintf(opts, sizeof(opts), "mode=%s", mode);
    }
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0) {
        return ek_error_make(err, errno, "mount tmpfs on `%s`", path);
    }
    return 0;
}

static int check_host_path(const char *path, const char *type, ek_error_t **err)
{
    struct stat st;
    int rc = stat(path, &st);
    if (!*type) {
        return 0;
    }
    if (strcmp(type, "DirectoryOrCreate") == 0 && rc < 0 && errno == ENOENT) {
        return ek_mkdir_p(path, 0755, err);
    }
    if (strcmp(type, "FileOrCreate") == 0 && rc < 0 && errno == ENOENT) {
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            return ek_error_make(err, errno, "hostPath type check failed: create file %s", path);
        }
        close(fd);
        return 0;
    }
    static const struct {
        const char *type;
        mode_t fmt;
        const char *what;
    } t[] = { { "Directory", S_IFDIR, "a directory" },
              { "DirectoryOrCreate", S_IFDIR, "a directory" },
              { "File", S_IFREG, "a file" },
              { "FileOrCreate", S_IFREG, "a file" },
              { "Socket", S_IFSOCK, "a socket file" },
              { "CharDevice", S_IFCHR, "a character device" },
              { "BlockDevice", S_IFBLK, "a block device" } };
    for (size_t i = 0; i < EK_ARRAY_SIZE(t); i++) {
        if (strcmp(type, t[i].type) == 0) {
            if (rc < 0 || (st.st_mode & S_IFMT) != t[i].fmt) {
                return ek_error_make(err, 0, "hostPath type check failed: %s is not %s", path,
                                     t[i].what);
            }
            return 0;
        }
    }
    return ek_error_status(err, 400, "hostPath type \"%s\" is not known", type);
}

/* Group ownership for fsGroup, as SetVolumeOwnership: group fsGroup, g+r (g+rw when
 * writable), setgid on directories. */
static void own_tree(const char *path, int64_t gid, bool writable)
{
    struct stat st;
    if (gid < 0 || lstat(path, &st) < 0 || S_ISLNK(st.st_mode)) {
        return;
    }
    if (lchown(path, (uid_t)-1, (gid_t)gid) < 0) {
        return;
    }
    mode_t mask = writable ? 0660 : 0440;
    if (S_ISDIR(st.st_mode)) {
        mask |= S_ISGID | 0110;
    }
    chmod(path, (st.st_mode & 07777) | mask);
    if (!S_ISDIR(st.st_mode)) {
        return;
    }
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            ek_autofree char *sub = ek_xasprintf("%s/%s", path, de->d_name);
            own_tree(sub, gid, writable);
        }
    }
    if (d) {
        closedir(d);
    }
}

static int empty_dir(const json_t *v, int64_t gid, ek_error_t **err)
{
    const char *path = ek_json_str(v, "path", NULL);
    if (ek_json_bool(v, false, "memory", NULL)) {
        if (ensure_tmpfs(path, ek_json_int(v, 0, "size", NULL), "1777", err) < 0) {
            return -1;
        }
    } else if (!ek_path_exists(path)) {
        if (ek_mkdir_p(path, 0755, err) < 0 || chmod(path, 0777) < 0) {
            return ek_error_make(err, errno, "emptyDir `%s`", path);
        }
    } else {
        return 0; /* ownership was set when it was made */
    }
    own_tree(path, gid, true);
    return 0;
}

int ek__kl_volumes_apply(const char *pod_dir, const json_t *plan, ek_error_t **err)
{
    EK_UNUSED(pod_dir);
    int64_t gid = ek_json_int(plan, -1, "fsGroup", NULL);
    size_t i;
    json_t *v;
    json_array_foreach (json_object_get(plan, "volumes"), i, v) {
        const char *kind = ek_json_str(v, "kind", NULL);
        const char *path = ek_json_str(v, "path", NULL);
        int rc = 0;
        if (strcmp(kind, "hostPath") == 0) {
            rc = check_host_path(path, ek_json_str(v, "type", NULL) ?: "", err);
        } else if (strcmp(kind, "emptyDir") == 0) {
            rc = empty_dir(v, gid, err);
        } else {
            rc = ek_json_bool(v, false, "tmpfs", NULL) ? ensure_tmpfs(path, 0, "755", err)
                                                       : ek_mkdir_p(path, 0755, err);
            if (rc == 0) {
                rc = ek__kl_atomic_write(path, json_object_get(v, "files"), 0, gid, err);
            }
        }
        if (rc < 0) {
            return ek_error_wrap(err, "MountVolume.SetUp failed for volume \"%s\" ",
                                 ek_json_str(v, "name", NULL));
        }
    }
    return 0;
}

/* ---- AtomicWriter ---- */

static char *file_bytes(const json_t *f, size_t *len)
{
    const char *b64 = ek_json_str(f, "b64", NULL);
    if (b64) {
        char *d = ek_base64_decode(b64, len);
        if (d) {
            return d;
        }
        *len = 0;
        return ek_xstrdup("");
    }
    const char *t = ek_json_str(f, "text", NULL) ?: "";
    *len = strlen(t);
    return ek_xstrdup(t);
}

/* True when dir/..data already holds exactly these files with these modes. */
static bool same_payload(const char *dir, const json_t *files)
{
    ek_autofree char *data = ek_xasprintf("%s/..data", dir);
    struct stat st;
    if (stat(data, &st) < 0) {
        return false;
    }
    const char *rel;
    json_t *f;
    json_object_foreach ((json_t *)files, rel, f) {
        ek_autofree char *p = ek_xasprintf("%s/%s", data, rel);
        size_t want_len, have_len;
        ek_autofree char *want = file_bytes(f, &want_len);
        ek_autofree char *have = ek_file_read(p, 64 << 20, &have_len, NULL);
        if (!have || have_len != want_len || memcmp(have, want, want_len) != 0 ||
            stat(p, &st) < 0 ||
            (st.st_mode & 07777) != (mode_t)ek_json_int(f, 0644, "mode", NULL)) {
            return false;
        }
    }
    /* And no file that is no longer wanted: count the top-level visible entries. */
    DIR *d = opendir(dir);
    size_t visible = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        visible += de->d_name[0] != '.';
    }
    if (d) {
        closedir(d);
    }
    size_t tops = 0;
    json_object_foreach ((json_t *)files, rel, f) {
        size_t n = strcspn(rel, "/");
        bool dup = false;
        const char *r2;
        json_t *f2;
        json_object_foreach ((json_t *)files, r2, f2) {
            if (r2 == rel) {
                break;
            }
            dup = dup || (strncmp(r2, rel, n) == 0 && (r2[n] == '/' || !r2[n]));
        }
        tops += !dup;
    }
    return visible == tops;
}

static int write_payload(const char *ts_dir, const json_t *files, int64_t gid, ek_error_t **err)
{
    const char *rel;
    json_t *f;
    json_object_foreach ((json_t *)files, rel, f) {
        if (strstr(rel, "..") || rel[0] == '/') {
            return ek_error_status(err, 400, "invalid file path `%s`", rel);
        }
        ek_autofree char *p = ek_xasprintf("%s/%s", ts_dir, rel);
        ek_autofree char *parent = ek_path_dirname(p);
        size_t len;
        ek_autofree char *bytes = file_bytes(f, &len);
        mode_t mode = (mode_t)ek_json_int(f, 0644, "mode", NULL) & 07777;
        int fd = -1;
        if (ek_mkdir_p(parent, 0755, err) < 0 ||
            (fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
            write(fd, bytes, len) != (ssize_t)len || fchmod(fd, mode) < 0) {
            int e = errno;
            if (fd >= 0) {
                close(fd);
            }
            return ek_error_make(err, e, "write `%s`", p);
        }
        close(fd);
    }
    own_tree(ts_dir, gid, false);
    return 0;
}

/* Top-level names of files (one symlink each). */
static bool wanted_top(const json_t *files, const char *name)
{
    const char *rel;
    json_t *f;
    size_t n = strlen(name);
    json_object_foreach ((json_t *)files, rel, f) {
        if (strncmp(rel, name, n) == 0 && (rel[n] == '/' || !rel[n])) {
            return true;
        }
    }
    return false;
}

static int link_tops(const char *dir, const json_t *files, ek_error_t **err)
{
    const char *rel;
    json_t *f;
    json_object_foreach ((json_t *)files, rel, f) {
        ek_autofree char *top = ek_xstrndup(rel, strcspn(rel, "/"));
        ek_autofree char *lnk = ek_xasprintf("%s/%s", dir, top);
        ek_autofree char *target = ek_xasprintf("..data/%s", top);
        if (symlink(target, lnk) < 0 && errno != EEXIST) {
            return ek_error_make(err, errno, "symlink `%s`", lnk);
        }
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] != '.' && !wanted_top(files, de->d_name)) {
            ek_autofree char *p = ek_xasprintf("%s/%s", dir, de->d_name);
            unlink(p);
        }
    }
    if (d) {
        closedir(d);
    }
    return 0;
}

int ek__kl_atomic_write(const char *dir, const json_t *files, int64_t uid, int64_t gid,
                        ek_error_t **err)
{
    EK_UNUSED(uid);
    if (same_payload(dir, files)) {
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char name[64];
    snprintf(name, sizeof(name), "..%04d_%02d_%02d_%02d_%02d_%02d.%09ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, now.tv_nsec);
    ek_autofree char *ts_dir = ek_xasprintf("%s/%s", dir, name);
    ek_autofree char *data = ek_xasprintf("%s/..data", dir);
    ek_autofree char *tmp = ek_xasprintf("%s/..data_tmp", dir);
    char old[256] = "";
    ssize_t n = readlink(data, old, sizeof(old) - 1);
    old[n > 0 ? n : 0] = '\0';
    unlink(tmp);
    if (ek_mkdir_p(ts_dir, 0755, err) < 0 || write_payload(ts_dir, files, gid, err) < 0) {
        ek_rm_rf(ts_dir, NULL);
        return -1;
    }
    if (symlink(name, tmp) < 0 || rename(tmp, data) < 0) {
        int e = errno;
        ek_rm_rf(ts_dir, NULL);
        return ek_error_make(err, e, "swap `%s`", data);
    }
    if (link_tops(dir, files, err) < 0) {
        return -1;
    }
    if (old[0] == '.' && strchr(old, '/') == NULL && strcmp(old, name) != 0) {
        ek_autofree char *od = ek_xasprintf("%s/%s", dir, old);
        ek_rm_rf(od, NULL);
    }
    return 0;
}

/* ---- cleanup ---- */

static int cmp_rev(const void *a, const void *b)
{
    return strcmp(*(char *const *)b, *(char *const *)a);
}

int ek__kl_volumes_cleanup(const char *pod_dir, ek_error_t **err)
{
    /* Unmount everything below the pod's directory, deepest first. */
    ek_autofree char *mi = ek_file_read("/proc/self/mountinfo", 0, NULL, NULL);
    ek_strlist_t mps = { 0 };
    size_t plen = strlen(pod_dir);
    for (char *line = mi, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        char mp[4096];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strncmp(mp, pod_dir, plen) == 0 &&
            (mp[plen] == '/' || !mp[plen])) {
            ek_strlist_add(&mps, mp);
        }
    }
    qsort(mps.v, mps.n, sizeof(char *), cmp_rev);
    for (size_t i = 0; i < mps.n; i++) {
        umount2(mps.v[i], MNT_DETACH);
    }
    ek_strlist_free(&mps);
    return ek_rm_rf(pod_dir, err);
}
