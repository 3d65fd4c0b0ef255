/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI and Docker v2 manifests, indexes (manifest lists) and image configs: parsing with
 * errors that say what is wrong, media type classification, and platform selection from an
 * index. Documents come from archives and registries, so every field is checked for type
 * and every digest for form before anything uses it.
 */
#include <stdio.h>

#include "node/image/image-internal.h"

static const struct {
    const char *mt;
    ek__mtkind_t kind;
} media_types[] = {
    { "application/vnd.oci.image.index.v1+json", EK_MT_INDEX },
    { "application/vnd.docker.distribution.manifest.list.v2+json", EK_MT_INDEX },
    { "application/vnd.oci.image.manifest.v1+json", EK_MT_MANIFEST },
    { "application/vnd.docker.distribution.manifest.v2+json", EK_MT_MANIFEST },
    { "application/vnd.oci.image.config.v1+json", EK_MT_CONFIG },
    { "application/vnd.docker.container.image.v1+json", EK_MT_CONFIG },
    { "application/vnd.oci.image.layer.v1.tar", EK_MT_LAYER },
    { "application/vnd.oci.image.layer.v1.tar+gzip", EK_MT_LAYER },
    { "application/vnd.oci.image.layer.v1.tar+zstd", EK_MT_LAYER },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar", EK_MT_LAYER },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", EK_MT_LAYER },
    { "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", EK_MT_LAYER },
    { "application/vnd.docker.image.rootfs.diff.tar", EK_MT_LAYER },
    { "application/vnd.docker.image.rootfs.diff.tar.gzip", EK_MT_LAYER },
    { "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", EK_MT_LAYER },
};

ek__mtkind_t ek__media_kind(const char *mt)
{
    if (!mt) {
        return EK_MT_UNKNOWN;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(media_types); i++) {
        if (strcmp(mt, media_types[i].mt) == 0) {
            return media_types[i].kind;
        }
    }
    return EK_MT_UNKNOWN;
}

static void desc_free(ek__desc_t *d)
{
    free(d->media_type);
    free(d->digest);
    free(d->platform);
    memset(d, 0, sizeof(*d));
}

void ek__manifest_free(ek__manifest_t *m)
{
    if (!m) {
        return;
    }
    desc_free(&m->config);
    for (size_t i = 0; i < m->n_descs; i++) {
        desc_free(&m->descs[i]);
    }
    free(m->descs);
    memset(m, 0, sizeof(*m));
}

static int parse_desc(json_t *j, ek__desc_t *d, const char *what, bool platform, ek_error_t **err)
{
    const char *mt = ek_json_str(j, "mediaType", NULL);
    const char *digest = ek_json_str(j, "digest", NULL);
    json_t *size = json_object_get(j, "size");
    if (!json_is_object(j) || !digest) {
        return ek_error_make(err, 0, "%s: descriptor without a digest", what);
    }
    if (!ek__digest_valid(digest)) {
        return ek_error_make(err, 0, "%s: unsupported digest `%.80s`", what, digest);
    }
    if (size && (!json_is_integer(size) || json_integer_value(size) < 0)) {
        return ek_error_make(err, 0, "%s %s: bad size", what, digest);
    }
    d->media_type = ek_xstrdup(mt ? mt : "");
    d->digest = ek_xstrdup(digest);
    d->size = size ? json_integer_value(size) : -1;
    json_t *p = json_object_get(j, "platform");
    if (platform && json_is_object(p)) {
        const char *os = ek_json_str(p, "os", NULL), *arch = ek_json_str(p, "architecture", NULL);
        const char *var = ek_json_str(p, "variant", NULL);
        if (os && arch) {
            d->platform =
                ek_xasprintf("%s/%s%s%s", os, arch, var && *var ? "/" : "", var && *var ? var : "");
        }
    }
    return 0;
}

static int parse_descs(json_t *arr, ek__manifest_t *m, const char *what, bool platform,
                       ek_error_t **err)
{
    if (!json_is_array(arr)) {
        return ek_error_make(err, 0, "%s: missing `%s` array", what,
                             platform ? "manifests" : "layers");
    }
    size_t n = json_array_size(arr);
    if (n > 4096) {
        return ek_error_make(err, 0, "%s: too many entries (%zu)", what, n);
    }
    m->descs = ek_xcalloc(n ? n : 1, sizeof(ek__desc_t));
    for (size_t i = 0; i < n; i++) {
        if (parse_desc(json_array_get(arr, i), &m->descs[i], what, platform, err) < 0) {
            return -1;
        }
        m->n_descs++;
        if (!platform && ek__media_kind(m->descs[i].media_type) != EK_MT_LAYER) {
            return ek_error_make(err, 0, "layer %s: unknown media type `%.100s`",
                                 m->descs[i].digest, m->descs[i].media_type);
        }
    }
    return 0;
}

int ek__manifest_parse(const char *data, size_t len, const char *hint, ek__manifest_t *m,
                       ek_error_t **err)
{
    memset(m, 0, sizeof(*m));
    ek_auto(json_t) j = ek_json_parse(data, len, err);
    if (!j) {
        return ek_error_wrap(err, "manifest");
    }
    if (!json_is_object(j)) {
        return ek_error_make(err, 0, "manifest: not a JSON object");
    }
    const char *mt = ek_json_str(j, "mediaType", NULL);
    if (!mt || !*mt) {
        /* OCI allows leaving it out; the shape and the descriptor's type tell. */
        mt = hint && *hint                     ? hint
             : json_object_get(j, "manifests") ? "application/vnd.oci.image.index.v1+json"
                                               : "application/vnd.oci.image.manifest.v1+json";
    }
    m->kind = ek__media_kind(mt);
    if (ek_json_int(j, 0, "schemaVersion", NULL) != 2) {
        ek__manifest_free(m);
        return ek_error_make(err, 0, "manifest: unsupported schemaVersion (want 2)");
    }
    int r = -1;
    if (m->kind == EK_MT_INDEX) {
        r = parse_descs(json_object_get(j, "manifests"), m, "index", true, err);
    } else if (m->kind == EK_MT_MANIFEST) {
        r = parse_desc(json_object_get(j, "config"), &m->config, "manifest config", false, err);
        if (r == 0 && m->config.media_type[0] &&
            ek__media_kind(m->config.media_type) != EK_MT_CONFIG) {
            r = ek_error_make(err, 0, "manifest: unknown config media type `%.100s`",
                              m->config.media_type);
        }
        if (r == 0) {
            r = parse_descs(json_object_get(j, "layers"), m, "manifest", false, err);
        }
    } else {
        ek_error_make(err, 0, "unknown manifest media type `%.100s`", mt);
    }
    if (r < 0) {
        ek__manifest_free(m);
    }
    return r;
}

const ek__desc_t *ek__index_select(const ek__manifest_t *m, const char *platform)
{
    const ek__desc_t *best = NULL;
    int best_score = 0;
    for (size_t i = 0; i < m->n_descs; i++) {
        const ek__desc_t *d = &m->descs[i];
        if (!d->platform) {
            continue;
        }
        char os[32] = "", arch[32] = "", var[32] = "";
        sscanf(d->platform, "%31[^/]/%31[^/]/%31s", os, arch, var);
        int score = ek__platform_match(platform, os, arch, var);
        if (score > best_score) {
            best = d;
            best_score = score;
        }
    }
    return best;
}

void ek__config_free(ek__config_t *c)
{
    if (!c) {
        return;
    }
    for (size_t i = 0; i < c->n_diff_ids; i++) {
        free(c->diff_ids[i]);
    }
    free(c->diff_ids);
    free(c->platform);
    json_decref(c->config);
    memset(c, 0, sizeof(*c));
}

int ek__config_parse(const char *data, size_t len, ek__config_t *c, ek_error_t **err)
{
    memset(c, 0, sizeof(*c));
    ek_auto(json_t) j = ek_json_parse(data, len, err);
    if (!j) {
        return ek_error_wrap(err, "image config");
    }
    json_t *ids = ek_json_path(j, "rootfs", "diff_ids", NULL);
    if (!json_is_object(j) || !json_is_array(ids)) {
        return ek_error_make(err, 0, "image config: missing rootfs.diff_ids");
    }
    size_t n = json_array_size(ids);
    c->diff_ids = ek_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *d = json_string_value(json_array_get(ids, i));
        if (!ek__digest_valid(d)) {
            ek__config_free(c);
            return ek_error_make(err, 0, "image config: bad diff_id #%zu", i);
        }
        c->diff_ids[c->n_diff_ids++] = ek_xstrdup(d);
    }
    const char *os = ek_json_str(j, "os", NULL), *arch = ek_json_str(j, "architecture", NULL);
    const char *var = ek_json_str(j, "variant", NULL);
    c->platform = ek_xasprintf("%s/%s%s%s", os ? os : "linux", arch ? arch : "unknown",
                               var && *var ? "/" : "", var && *var ? var : "");
    json_t *cfg = json_object_get(j, "config");
    c->config = json_is_object(cfg) ? json_incref(cfg) : json_object();
    return 0;
}
