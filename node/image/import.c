/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Importing archives: OCI image layouts (index.json + blobs/), `docker save` output in the
 * legacy form (manifest.json + <id>/layer.tar + <hex>.json) and Docker 25+'s (both), as .tar,
 * .tar.gz/.tgz or .tar.zst, several images per archive.
 *
 * An uncompressed archive is scanned once by seeking over data (headers only), and each
 * layer is then unpacked straight from its offset in the archive — no copy of the blob is
 * written. A compressed archive cannot be read at offsets, so its members are first staged
 * as files in the job's directory. Layers unpack in parallel on libuv's worker threads;
 * layers the store already has are not touched again. Nothing becomes visible until
 * ek__job_commit, so a failure or a crash leaves only staging debris that is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "node/image/image-internal.h"

#define MAX_JSON (16 << 20)
#define MAX_NEST 4

struct member {
    char *name;
    char *link; /* symlink target, resolved to a member name */
    uint64_t off, size;
    char *staged; /* file holding the data (compressed archives) */
};

struct archive {
    const char *path;
    int fd;
    struct member *m;
    size_t n, cap;
    ek__job_t *job;
    const char *platform;
    json_t *docker_manifest; /* manifest.json, when present */
    ek__layer_task_t **tasks;
    size_t n_tasks;
};

static char *clean_name(const char *n)
{
    while (n[0] == '.' && n[1] == '/') {
        n += 2;
    }
    while (*n == '/') {
        n++;
    }
    return ek_xstrdup(n);
}

static struct member *find_member(struct archive *a, const char *name, int depth)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->m[i].name, name) == 0) {
            if (a->m[i].link) {
                return depth < 8 ? find_member(a, a->m[i].link, depth + 1) : NULL;
            }
            return &a->m[i];
        }
    }
    return NULL;
}

/* docker save links a layer shared by two images: "<id>/layer.tar -> ../<id2>/layer.tar". */
static char *resolve_link(const char *name, const char *target)
{
    ek_autobuf b = EK_BUF_INIT;
    const char *slash = strrchr(name, '/');
    if (target[0] != '/' && slash) {
        ek_buf_append(&b, name, (size_t)(slash - name));
    }
    for (const char *p = target; *p;) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            char *last = b.len ? memrchr(b.data, '/', b.len) : NULL;
            b.len = last ? (size_t)(last - b.data) : 0;
            b.data[b.len] = '\0';
        } else if (len > 0 && !(len == 1 && *p == '.')) {
            if (b.len) {
                ek_buf_putc(&b, '/');
            }
            ek_buf_append(&b, p, len);
        }
        p = *end ? end + 1 : end;
    }
    return ek_buf_steal(&b, NULL);
}

static int stage_member(struct archive *a, ek__tar_t *t, struct member *m, ek_error_t **err)
{
    m->staged = ek_xasprintf("%s/m%zu", a->job->tmp, a->n);
    ek_autoclose int fd = open(m->staged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", m->staged);
    }
    ek_autofree char *buf = ek_xmalloc(256 * 1024);
    for (;;) {
        ssize_t r = ek__tar_read(t, buf, 256 * 1024, err);
        if (r <= 0) {
            return (int)r;
        }
        if (write(fd, buf, (size_t)r) != r) {
            return ek_error_make(err, errno, "write `%s`", m->staged);
        }
    }
}

/* Lists the archive's files (and stages them when it is compressed). */
static int scan(struct archive *a, ek_error_t **err)
{
    ek__stream_t *st = ek__stream_new(a->fd, 0, UINT64_MAX, true);
    ek__stream_limit(st, a->job->max_image_bytes);
    ek__tar_t *t = ek__tar_new(ek__stream_read_cb, ek__stream_skip_cb, st);
    int r;
    for (;;) {
        const ek__tar_entry_t *e;
        r = ek__tar_next(t, &e, err);
        if (r <= 0) {
            break;
        }
        if (e->type != '0' && e->type != '2' && e->type != '1') {
            continue;
        }
        if (a->n == a->cap) {
            a->cap = a->cap ? a->cap * 2 : 64;
            a->m = ek_xrealloc(a->m, a->cap * sizeof(*a->m));
        }
        struct member *m = &a->m[a->n];
        memset(m, 0, sizeof(*m));
        m->name = clean_name(e->path);
        m->off = e->data_offset;
        m->size = e->size;
        if (e->type == '2') {
            m->link = resolve_link(m->name, e->link);
        } else if (e->type == '1') {
            m->link = clean_name(e->link);
        } else if (ek__stream_codec(st) != EK_CODEC_NONE && stage_member(a, t, m, err) < 0) {
            free(m->name);
            r = -1;
            break;
        }
        a->n++;
    }
    ek__tar_free(t);
    ek__stream_free(st);
    return r;
}

/* Reads a small member (JSON) whole. Caller frees. */
static char *read_member(struct archive *a, struct member *m, size_t *len, ek_error_t **err)
{
    if (m->size > MAX_JSON) {
        ek_error_make(err, EFBIG, "`%s` is too large for metadata", m->name);
        return NULL;
    }
    ek_autoclose int sfd = m->staged ? open(m->staged, O_RDONLY | O_CLOEXEC) : -1;
    int fd = m->staged ? sfd : a->fd;
    uint64_t off = m->staged ? 0 : m->off;
    ek_autofree char *buf = ek_xmalloc((size_t)m->size + 1);
    size_t got = 0;
    while (fd >= 0 && got < m->size) {
        ssize_t r = pread(fd, buf + got, (size_t)m->size - got, (off_t)(off + got));
        if (r <= 0) {
            ek_error_make(err, r < 0 ? errno : 0, "read `%s`%s", m->name,
                          r == 0 ? ": truncated" : "");
            return NULL;
        }
        got += (size_t)r;
    }
    if (fd < 0) {
        ek_error_make(err, errno, "open `%s`", m->staged);
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return ek_steal(&buf);
}

/* Reads blobs/sha256/<hex> and checks its digest. Caller frees. */
static char *read_blob(struct archive *a, const char *digest, size_t *len, ek_error_t **err)
{
    ek_autofree char *name = ek_xasprintf("blobs/sha256/%s", ek__digest_hex(digest));
    struct member *m = find_member(a, name, 0);
    if (!m) {
        ek_error_make(err, 0, "blob %s is missing from the archive", digest);
        return NULL;
    }
    char *data = read_member(a, m, len, err);
    char got[72];
    if (data) {
        ek__sha256_digest(data, *len, got);
        if (strcmp(got, digest) != 0) {
            ek_error_make(err, 0, "blob %s: digest mismatch (content is %s)", digest, got);
            free(data);
            return NULL;
        }
    }
    return data;
}

static ek__layer_task_t *find_task(struct archive *a, const char *diffid)
{
    for (size_t i = 0; i < a->n_tasks; i++) {
        if (ek_streq(a->tasks[i]->want_diffid, diffid)) {
            return a->tasks[i];
        }
    }
    return NULL;
}

/* Schedules a layer unless the store or this archive already provides it. */
static int want_layer(struct archive *a, const char *member, const char *blob, const char *diffid,
                      const char *label, ek_error_t **err)
{
    if (ek__store_has_layer(a->job->store, diffid) || find_task(a, diffid)) {
        return 0;
    }
    struct member *m = find_member(a, member, 0);
    if (!m) {
        return ek_error_make(err, 0, "layer `%s` is missing from the archive", member);
    }
    ek__layer_task_t *t = ek_new(ek__layer_task_t);
    t->job = a->job;
    t->fd = a->fd;
    t->off = m->off;
    t->len = m->size;
    if (m->staged) {
        t->fd = open(m->staged, O_RDONLY | O_CLOEXEC);
        t->own_fd = true;
        t->off = 0;
    }
    t->want_blob = blob ? ek_xstrdup(blob) : NULL;
    t->want_diffid = ek_xstrdup(diffid);
    t->label = ek_xstrdup(label);
    a->tasks = ek_xrealloc(a->tasks, (a->n_tasks + 1) * sizeof(*a->tasks));
    a->tasks[a->n_tasks++] = t;
    return 0;
}

static ek__image_add_t *add_image(struct archive *a, const char *digest)
{
    a->job->images = ek_xrealloc(a->job->images, (a->job->n_images + 1) * sizeof(ek__image_add_t));
    ek__image_add_t *im = &a->job->images[a->job->n_images++];
    memset(im, 0, sizeof(*im));
    im->digest = ek_xstrdup(digest);
    return im;
}

static ek__manifest_add_t *add_manifest(ek__image_add_t *im, const char *digest,
                                        const char *platform, const char *config,
                                        const ek__config_t *cfg)
{
    im->manifests = ek_xrealloc(im->manifests, (im->n_manifests + 1) * sizeof(*im->manifests));
    ek__manifest_add_t *m = &im->manifests[im->n_manifests++];
    memset(m, 0, sizeof(*m));
    m->digest = ek_xstrdup(digest);
    m->platform = ek_xstrdup(platform);
    m->config = ek_xstrdup(config);
    m->layers = ek_xcalloc(cfg->n_diff_ids + 1, sizeof(*m->layers));
    m->n_layers = cfg->n_diff_ids;
    for (size_t i = 0; i < cfg->n_diff_ids; i++) {
        m->layers[i].diffid = ek_xstrdup(cfg->diff_ids[i]);
    }
    return m;
}

/* Reads and checks a manifest's config; adds both to the job. */
static int load_config(struct archive *a, const char *digest, ek__config_t *cfg, size_t n_layers,
                       ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = read_blob(a, digest, &len, err);
    if (!text || ek__config_parse(text, len, cfg, err) < 0) {
        return ek_error_wrap(err, "config %s", digest);
    }
    if (cfg->n_diff_ids != n_layers) {
        ek__config_free(cfg);
        return ek_error_make(err, 0, "config %s lists %zu diff_ids for %zu layers", digest,
                             cfg->n_diff_ids, n_layers);
    }
    ek__job_add_blob(a->job, digest, text, len);
    return 0;
}

static int import_manifest(struct archive *a, ek__image_add_t *im, const ek__desc_t *d,
                           const char *label, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = read_blob(a, d->digest, &len, err);
    ek__manifest_t m;
    if (!text || ek__manifest_parse(text, len, d->media_type, &m, err) < 0) {
        return -1;
    }
    if (m.kind != EK_MT_MANIFEST) {
        ek__manifest_free(&m);
        return ek_error_make(err, 0, "%s: expected an image manifest", d->digest);
    }
    ek__config_t cfg;
    int r = load_config(a, m.config.digest, &cfg, m.n_descs, err);
    for (size_t i = 0; r == 0 && i < m.n_descs; i++) {
        ek_autofree char *member =
            ek_xasprintf("blobs/sha256/%s", ek__digest_hex(m.descs[i].digest));
        r = want_layer(a, member, m.descs[i].digest, cfg.diff_ids[i], label, err);
    }
    if (r == 0) {
        ek__job_add_blob(a->job, d->digest, text, len);
        add_manifest(im, d->digest, d->platform ? d->platform : cfg.platform, m.config.digest,
                     &cfg);
        ek__config_free(&cfg);
    }
    ek__manifest_free(&m);
    return r;
}

/* A descriptor from index.json or a nested index: a manifest, or an index to choose from. */
static int import_desc(struct archive *a, ek__image_add_t *im, const ek__desc_t *d,
                       const char *label, int depth, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = read_blob(a, d->digest, &len, err);
    ek__manifest_t m;
    if (!text || ek__manifest_parse(text, len, d->media_type, &m, err) < 0) {
        return -1;
    }
    if (m.kind == EK_MT_MANIFEST) {
        ek__manifest_free(&m);
        return import_manifest(a, im, d, label, err);
    }
    ek__job_add_blob(a->job, d->digest, text, len);
    int r = 0;
    if (depth >= MAX_NEST) {
        r = ek_error_make(err, 0, "index %s: nested too deeply", d->digest);
    } else if (strcmp(a->platform, "all") != 0) {
        const ek__desc_t *pick = ek__index_select(&m, a->platform);
        r = pick ? import_desc(a, im, pick, label, depth + 1, err)
                 : ek_error_make(err, 0, "no manifest for platform %s in index %s", a->platform,
                                 d->digest);
    } else {
        size_t done = 0;
        for (size_t i = 0; r == 0 && i < m.n_descs; i++) {
            const ek__desc_t *c = &m.descs[i];
            ek_autofree char *bn = ek_xasprintf("blobs/sha256/%s", ek__digest_hex(c->digest));
            /* Exports often carry only some platforms' blobs: import what is there. */
            if (!c->platform || strstr(c->platform, "unknown") || !find_member(a, bn, 0)) {
                continue;
            }
            r = import_desc(a, im, c, label, depth + 1, err);
            done++;
        }
        if (r == 0 && done == 0) {
            r = ek_error_make(err, 0, "index %s: no platform's blobs are in the archive",
                              d->digest);
        }
    }
    ek__manifest_free(&m);
    return r;
}

static void add_name(ek__image_add_t *im, const char *name, const char *archive)
{
    ek_error_t *e = NULL;
    ek_autofree char *n = ek_image_ref_normalize(name, &e);
    if (!n) {
        EK_LOG(EK_WARN, "image", "archive=%s ignoring bad image name: %s", archive,
               ek_error_msg(e));
        ek_error_free(e);
        return;
    }
    for (size_t i = 0; i < im->names.n; i++) {
        if (strcmp(im->names.v[i], n) == 0) {
            return;
        }
    }
    ek_strlist_add(&im->names, n);
}

/* Docker 25+ writes tags in manifest.json; match its entries by config. */
static void names_from_docker_manifest(struct archive *a, ek__image_add_t *im)
{
    size_t i, k;
    json_t *e, *tag;
    for (size_t x = 0; x < im->n_manifests; x++) {
        ek_autofree char *cfg =
            ek_xasprintf("blobs/sha256/%s", ek__digest_hex(im->manifests[x].config));
        json_array_foreach (a->docker_manifest, i, e) {
            if (ek_streq(ek_json_str(e, "Config", NULL), cfg)) {
                json_array_foreach (json_object_get(e, "RepoTags"), k, tag) {
                    add_name(im, json_string_value(tag), a->path);
                }
            }
        }
    }
}

static int import_oci(struct archive *a, struct member *idx, ek_error_t **err)
{
    size_t len;
    ek_autofree char *text = read_member(a, idx, &len, err);
    ek__manifest_t m;
    if (!text ||
        ek__manifest_parse(text, len, "application/vnd.oci.image.index.v1+json", &m, err) < 0) {
        return ek_error_wrap(err, "index.json");
    }
    ek_auto(json_t) j = ek_json_parse(text, len, NULL);
    json_t *descs = json_object_get(j, "manifests");
    int r = 0;
    for (size_t i = 0; r == 0 && i < m.n_descs; i++) {
        json_t *ann = json_object_get(json_array_get(descs, i), "annotations");
        const char *full = ek_json_str(ann, "io.containerd.image.name", NULL);
        const char *refname = ek_json_str(ann, "org.opencontainers.image.ref.name", NULL);
        ek__image_add_t *im = add_image(a, m.descs[i].digest);
        if (full) {
            add_name(im, full, a->path);
        } else if (refname && strpbrk(refname, ":/@")) {
            add_name(im, refname, a->path);
        }
        const char *label = im->names.n ? im->names.v[0] : m.descs[i].digest;
        r = import_desc(a, im, &m.descs[i], label, 0, err);
        if (r == 0 && im->names.n == 0 && a->docker_manifest) {
            names_from_docker_manifest(a, im);
        }
        if (r < 0) {
            ek_error_wrap(err, "image %s", label);
        }
    }
    ek__manifest_free(&m);
    return r;
}

/* A manifest for a legacy docker save image, which has none: OCI, uncompressed layers. */
static char *synth_manifest(const char *cfg_digest, size_t cfg_len, const ek__config_t *cfg,
                            json_t *layer_sizes)
{
    json_t *layers = json_array();
    for (size_t i = 0; i < cfg->n_diff_ids; i++) {
        json_array_append_new(layers,
                              json_pack("{s:s,s:s,s:O}", "mediaType",
                                        "application/vnd.oci.image.layer.v1.tar", "digest",
                                        cfg->diff_ids[i], "size", json_array_get(layer_sizes, i)));
    }
    json_t *m = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                          "application/vnd.oci.image.manifest.v1+json", "config", "mediaType",
                          "application/vnd.oci.image.config.v1+json", "digest", cfg_digest, "size",
                          (json_int_t)cfg_len, "layers", layers);
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(m);
    return s;
}

static int import_docker_entry(struct archive *a, json_t *e, ek_error_t **err)
{
    const char *cfgname = ek_json_str(e, "Config", NULL);
    json_t *layers = json_object_get(e, "Layers");
    struct member *cm = cfgname ? find_member(a, cfgname, 0) : NULL;
    if (!cm || !json_is_array(layers)) {
        return ek_error_make(err, 0, "manifest.json: entry without Config or Layers");
    }
    size_t len;
    ek_autofree char *text = read_member(a, cm, &len, err);
    if (!text) {
        return -1;
    }
    char cfgd[72];
    ek__sha256_digest(text, len, cfgd);
    ek__config_t cfg;
    if (ek__config_parse(text, len, &cfg, err) < 0) {
        return -1;
    }
    ek__job_add_blob(a->job, cfgd, text, len);
    json_t *sizes = json_array();
    int r = cfg.n_diff_ids == json_array_size(layers)
                ? 0
                : ek_error_make(err, 0, "config lists %zu diff_ids for %zu layers", cfg.n_diff_ids,
                                json_array_size(layers));
    json_t *tags = json_object_get(e, "RepoTags");
    const char *label = json_string_value(json_array_get(tags, 0));
    for (size_t i = 0; r == 0 && i < cfg.n_diff_ids; i++) {
        const char *ln = json_string_value(json_array_get(layers, i));
        struct member *lm = ln ? find_member(a, ln, 0) : NULL;
        json_array_append_new(sizes, json_integer(lm ? (json_int_t)lm->size : 0));
        /* No blob digest to check: legacy layers are plain tars named by id; the diffid is
         * verified while unpacking. */
        r = ln ? want_layer(a, ln, NULL, cfg.diff_ids[i], label ? label : cfgd, err)
               : ek_error_make(err, 0, "manifest.json: bad layer entry");
    }
    if (r == 0) {
        ek_autofree char *man = synth_manifest(cfgd, len, &cfg, sizes);
        char md[72];
        ek__sha256_digest(man, strlen(man), md);
        ek__job_add_blob(a->job, md, man, strlen(man));
        ek__image_add_t *im = add_image(a, md);
        size_t i;
        json_t *t;
        json_array_foreach (tags, i, t) {
            add_name(im, json_string_value(t), a->path);
        }
        add_manifest(im, md, cfg.platform, cfgd, &cfg);
    }
    json_decref(sizes);
    ek__config_free(&cfg);
    return r < 0 ? ek_error_wrap(err, "image %s", label ? label : cfgd) : 0;
}

static int import_docker(struct archive *a, ek_error_t **err)
{
    if (!json_is_array(a->docker_manifest) || json_array_size(a->docker_manifest) == 0) {
        return ek_error_make(err, 0, "manifest.json: not a list of images");
    }
    size_t i;
    json_t *e;
    json_array_foreach (a->docker_manifest, i, e) {
        if (import_docker_entry(a, e, err) < 0) {
            return -1;
        }
    }
    return 0;
}

static void task_done(ek__layer_task_t *t, void *data)
{
    EK_UNUSED(t), EK_UNUSED(data);
}

/* Unpacks the scheduled layers in parallel, then records where each one is. */
static int run_tasks(struct archive *a, ek_error_t **err)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    for (size_t i = 0; i < a->n_tasks; i++) {
        a->tasks[i]->done = task_done;
        ek__layer_task_queue(&loop, a->tasks[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop);
    ek_assert(rc == 0);
    for (size_t i = 0; i < a->n_tasks; i++) {
        ek__layer_task_t *t = a->tasks[i];
        if (t->err) {
            if (err && !*err) {
                *err = ek_steal(&t->err);
                ek_error_wrap(err, "image %s", t->label);
            }
            return -1;
        }
    }
    ek__job_t *j = a->job;
    for (size_t i = 0; i < j->n_images; i++) {
        for (size_t k = 0; k < j->images[i].n_manifests; k++) {
            ek__manifest_add_t *m = &j->images[i].manifests[k];
            for (size_t l = 0; l < m->n_layers; l++) {
                ek__layer_task_t *t = find_task(a, m->layers[l].diffid);
                if (t && t->staged) {
                    m->layers[l].staged = ek_steal(&t->staged);
                    m->layers[l].size = t->size;
                } else if (t) {
                    /* The same layer twice: the first manifest moved it; same size. */
                    m->layers[l].size = t->size;
                } else {
                    m->layers[l].size = ek__store_layer_size(j->store, m->layers[l].diffid);
                }
            }
        }
    }
    return 0;
}

static int import_archive(struct archive *a, ek_error_t **err)
{
    if (scan(a, err) < 0) {
        return -1;
    }
    struct member *idx = find_member(a, "index.json", 0);
    struct member *dm = find_member(a, "manifest.json", 0);
    if (dm) {
        size_t len;
        ek_autofree char *text = read_member(a, dm, &len, err);
        if (!text || !(a->docker_manifest = ek_json_parse(text, len, err))) {
            return ek_error_wrap(err, "manifest.json");
        }
    }
    if (!idx && !dm) {
        return ek_error_make(err, 0,
                             "neither an OCI layout (index.json) nor docker save "
                             "output (manifest.json)");
    }
    if (ek__store_refresh(a->job->store, err) < 0) {
        return -1;
    }
    int r = idx ? import_oci(a, idx, err) : import_docker(a, err);
    return r < 0 ? -1 : run_tasks(a, err);
}

int ek_image_import(ek_image_store_t *s, const char *path, const ek_image_import_options_t *o,
                    ek_strlist_t *names, ek_error_t **err)
{
    const char *platform = o && o->platform ? o->platform : ek__store_platform(s);
    if (!ek__platform_valid(platform)) {
        return ek_error_make(err, 0, "bad platform `%s`", platform);
    }
    ek_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return ek_error_make(err, errno, "import `%s`", path);
    }
    ek__job_t job;
    if (ek__job_init(s, &job, err) < 0) {
        return ek_error_wrap(err, "import `%s`", path);
    }
    struct archive a = { .path = path, .fd = fd, .job = &job, .platform = platform };
    int r = import_archive(&a, err);
    if (r == 0) {
        r = ek__job_commit(&job, err);
    }
    if (r == 0 && names) {
        for (size_t i = 0; i < job.n_images; i++) {
            ek__image_add_t *im = &job.images[i];
            for (size_t k = 0; k < im->names.n; k++) {
                ek_strlist_add(names, im->names.v[k]);
            }
            if (im->names.n == 0) {
                ek_strlist_add(names, im->digest);
            }
        }
    }
    for (size_t i = 0; i < a.n_tasks; i++) {
        ek__layer_task_free(a.tasks[i]);
    }
    free(a.tasks);
    for (size_t i = 0; i < a.n; i++) {
        free(a.m[i].name);
        free(a.m[i].link);
        free(a.m[i].staged);
    }
    free(a.m);
    json_decref(a.docker_manifest);
    ek__job_cleanup(&job);
    return r < 0 ? ek_error_wrap(err, "import `%s`", path) : 0;
}

/* ---- layer tasks (shared with pull) ---- */

static void task_work(uv_work_t *w)
{
    ek__layer_task_t *t = ek_container_of(w, ek__layer_task_t, work);
    if (ek__job_unpack(t->job, t->fd, t->off, t->len, t->want_blob, t->want_diffid, t->diffid,
                       &t->staged, &t->size, &t->err) < 0 &&
        !t->err) {
        ek_error_make(&t->err, 0, "unpack failed");
    }
}

static void task_after(uv_work_t *w, int status)
{
    ek__layer_task_t *t = ek_container_of(w, ek__layer_task_t, work);
    if (status == UV_ECANCELED && !t->err) {
        ek_error_make(&t->err, ECANCELED, "cancelled");
    }
    t->done(t, t->data);
}

void ek__layer_task_queue(uv_loop_t *loop, ek__layer_task_t *t)
{
    uv_queue_work(loop, &t->work, task_work, task_after);
}

void ek__layer_task_free(ek__layer_task_t *t)
{
    if (!t) {
        return;
    }
    if (t->own_fd && t->fd >= 0) {
        close(t->fd);
    }
    free(t->want_blob);
    free(t->want_diffid);
    free(t->label);
    free(t->staged);
    ek_error_free(t->err);
    free(t);
}
