/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod volumes (core validation's ValidateVolumes and validateVolumeSource): a name that is a
 * DNS-1123 label and unique, exactly one source, and the rules of the sources edge clusters
 * use (emptyDir, hostPath, configMap, secret, persistentVolumeClaim, downwardAPI, projected,
 * nfs, csi, ephemeral). The cloud-provider sources are recognised and counted so that "more
 * than one volume type" is reported as Kubernetes does, with their required fields checked.
 */
#include <stdio.h>

#include "api/validate-internal.h"

#define FILE_MODE_MSG "must be a number between 0 and 0777 (octal), both inclusive"

/* No ".." path elements (validatePathNoBacksteps). */
static void v_no_backsteps(ek_field_errors_t *e, const char *p, const char *path)
{
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            ek__fe_invalid_s(e, path, p, "must not contain '..'");
            break;
        }
        if (!slash) {
            break;
        }
        s = slash + 1;
    }
}

/* A relative path without ".." elements (validateLocalDescendingPath). */
void ek__v_local_descending(ek_field_errors_t *e, const char *p, const char *path)
{
    if (p[0] == '/') {
        ek__fe_invalid_s(e, path, p, "must be a relative path");
    }
    v_no_backsteps(e, p, path);
}

static void v_local_non_reserved(ek_field_errors_t *e, const char *p, const char *path)
{
    ek__v_local_descending(e, p, path);
    if (strncmp(p, "..", 2) == 0 && strncmp(p, "../", 3) != 0) {
        ek__fe_invalid_s(e, path, p, "must not start with '..'");
    }
}

static void v_mode(ek_field_errors_t *e, const json_t *o, const char *key, const char *base)
{
    long long m;
    if (ek__int(o, key, &m) && (m < 0 || m > 0777)) {
        ek_autofree char *p = ek__p("%s.%s", base, key);
        ek__fe_invalid_i(e, p, m, FILE_MODE_MSG);
    }
}

static void required_str(ek_field_errors_t *e, const json_t *o, const char *key, const char *base)
{
    if (!*ek__sstr(o, key)) {
        ek_autofree char *p = ek__p("%s.%s", base, key);
        ek__fe_required(e, p, "");
    }
}

static void v_key_to_path(ek_field_errors_t *e, const json_t *kp, const char *path)
{
    required_str(e, kp, "key", path);
    required_str(e, kp, "path", path);
    ek_autofree char *pp = ek__p("%s.path", path);
    v_local_non_reserved(e, ek__sstr(kp, "path"), pp);
    v_mode(e, kp, "mode", path);
}

static void v_items(ek_field_errors_t *e, const json_t *src, const char *path)
{
    size_t i;
    json_t *kp;
    json_array_foreach (ek__arr(src, "items"), i, kp) {
        ek_autofree char *p = ek__p("%s.items[%zu]", path, i);
        v_key_to_path(e, kp, p);
    }
}

static void v_empty_dir(ek_field_errors_t *e, const json_t *s, const char *path)
{
    ek_quantity_t q;
    const json_t *lim = json_object_get(s, "sizeLimit");
    if (lim && ek__quantity_from_json(lim, &q) == 0 && q.sign < 0) {
        ek_autofree char *p = ek__p("%s.sizeLimit", path);
        ek__fe_forbidden(e, p, "SizeLimit field must be a valid resource quantity");
    }
}

static void v_host_path(ek_field_errors_t *e, const json_t *s, const char *path)
{
    const char *hp = ek__sstr(s, "path");
    ek_autofree char *pp = ek__p("%s.path", path);
    if (!*hp) {
        ek__fe_required(e, pp, "");
        return;
    }
    v_no_backsteps(e, hp, pp);
    const char *t = ek__str(s, "type");
    static const char *const types[] = {
        "",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
        "File", "FileOrCreate", "Socket",     NULL
    };
    bool ok = !t;
    for (size_t i = 0; t && types[i]; i++) {
        ok |= strcmp(t, types[i]) == 0;
    }
    if (!ok) {
        ek_autofree char *tp = ek__p("%s.type", path);
        ek__fe_not_supported_s(e, tp, t, types);
    }
}

static void v_secret(ek_field_errors_t *e, const json_t *s, const char *path)
{
    required_str(e, s, "secretName", path);
    v_mode(e, s, "defaultMode", path);
    v_items(e, s, path);
}

static void v_config_map(ek_field_errors_t *e, const json_t *s, const char *path)
{
    required_str(e, s, "name", path);
    v_mode(e, s, "defaultMode", path);
    v_items(e, s, path);
}

static void v_pvc_source(ek_field_errors_t *e, const json_t *s, const char *path)
{
    required_str(e, s, "claimName", path);
}

static void v_nfs(ek_field_errors_t *e, const json_t *s, const char *path)
{
    required_str(e, s, "server", path);
    required_str(e, s, "path", path);
    const char *p = ek__sstr(s, "path");
    if (p[0] != '/') {
        ek_autofree char *pp = ek__p("%s.path", path);
        ek__fe_invalid_s(e, pp, p, "must be an absolute path");
    }
}

/* The downward API field paths a volume may project. */
static const char *const volume_field_paths[] = { "metadata.annotations", "metadata.labels",
                                                  "metadata.name",        "metadata.namespace",
                                                  "metadata.uid",         NULL };

static void v_downward_file(ek_field_errors_t *e, const json_t *f, const char *path)
{
    required_str(e, f, "path", path);
    ek_autofree char *pp = ek__p("%s.path", path);
    v_local_non_reserved(e, ek__sstr(f, "path"), pp);
    const json_t *fr = ek__obj(f, "fieldRef"), *rf = ek__obj(f, "resourceFieldRef");
    if (fr) {
        ek_autofree char *p = ek__p("%s.fieldRef", path);
        ek__v_field_selector(e, fr, volume_field_paths, p);
        if (rf) {
            ek__fe_invalid_s(e, path, "resource",
                             "fieldRef and resourceFieldRef can not be specified simultaneously");
        }
    } else if (rf) {
        ek_autofree char *p = ek__p("%s.resourceFieldRef", path);
        ek__v_resource_field_selector(e, rf, true, p);
    } else {
        ek__fe_required(e, path, "one of fieldRef and resourceFieldRef is required");
    }
    v_mode(e, f, "mode", path);
}

static void v_downward_api(ek_field_errors_t *e, const json_t *s, const char *path)
{
    v_mode(e, s, "defaultMode", path);
    size_t i;
    json_t *f;
    /* Kubernetes reports item errors against the source itself, without an index. */
    json_array_foreach (ek__arr(s, "items"), i, f) {
        v_downward_file(e, f, path);
    }
}

/* Projected paths must be unique across all sources. */
static void note_path(ek_field_errors_t *e, json_t *seen, const char *p, const char *path,
                      const char *value)
{
    if (!*p) {
        return;
    }
    if (json_object_get(seen, p)) {
        ek__fe_invalid_s(e, path, value, "conflicting duplicate paths");
    }
    json_object_set_new(seen, p, json_true());
}

static void v_projected_items(ek_field_errors_t *e, const json_t *src, const char *sp,
                              const char *path, json_t *seen)
{
    required_str(e, src, "name", sp);
    size_t i;
    json_t *kp;
    json_array_foreach (ek__arr(src, "items"), i, kp) {
        ek_autofree char *ip = ek__p("%s.items[%zu]", sp, i);
        v_key_to_path(e, kp, ip);
        note_path(e, seen, ek__sstr(kp, "path"), path, ek__sstr(src, "name"));
    }
}

static void v_sa_token(ek_field_errors_t *e, const json_t *t, const char *sp, const char *path)
{
    long long exp = ek__intd(t, "expirationSeconds", 0);
    ek_autofree char *xp = ek__p("%s.expirationSeconds", sp);
    if (exp < 600) {
        ek__fe_invalid_i(e, xp, exp, "may not specify a duration less than 10 minutes");
    }
    if (exp > (1LL << 32)) {
        ek__fe_invalid_i(e, xp, exp, "may not specify a duration larger than 2^32 seconds");
    }
    ek_autofree char *pp = ek__p("%s.path", path);
    if (!*ek__sstr(t, "path")) {
        ek__fe_required(e, pp, "");
    } else {
        v_local_non_reserved(e, ek__sstr(t, "path"), pp);
    }
}

static void v_projection(ek_field_errors_t *e, const json_t *src, const char *sp, const char *path,
                         json_t *seen)
{
    int n = 0;
    const json_t *x;
    if ((x = ek__obj(src, "secret"))) {
        n++;
        ek_autofree char *p = ek__p("%s.secret", sp);
        v_projected_items(e, x, p, path, seen);
    }
    if ((x = ek__obj(src, "configMap"))) {
        n++;
        ek_autofree char *p = ek__p("%s.configMap", sp);
        v_projected_items(e, x, p, path, seen);
    }
    if ((x = ek__obj(src, "downwardAPI"))) {
        n++;
        ek_autofree char *p = ek__p("%s.downwardAPI", sp);
        size_t i;
        json_t *f;
        json_array_foreach (ek__arr(x, "items"), i, f) {
            v_downward_file(e, f, p);
            note_path(e, seen, ek__sstr(f, "path"), path, ek__sstr(f, "path"));
        }
    }
    if ((x = ek__obj(src, "serviceAccountToken"))) {
        n++;
        ek_autofree char *p = ek__p("%s.serviceAccountToken", sp);
        v_sa_token(e, x, p, path);
    }
    if ((x = ek__obj(src, "clusterTrustBundle"))) {
        n++;
        ek_autofree char *p = ek__p("%s.clusterTrustBundle", sp);
        required_str(e, x, "path", p);
    }
    if (n > 1) {
        ek__fe_forbidden(e, sp, "may not specify more than 1 volume type per source");
    }
}

static void v_projected(ek_field_errors_t *e, const json_t *s, const char *path)
{
    v_mode(e, s, "defaultMode", path);
    ek_auto(json_t) seen = json_object();
    size_t i;
    json_t *src;
    json_array_foreach (ek__arr(s, "sources"), i, src) {
        ek_autofree char *sp = ek__p("%s.sources[%zu]", path, i);
        v_projection(e, src, sp, path, seen);
    }
}

void ek__v_csi_driver(ek_field_errors_t *e, const char *driver, const char *path)
{
    if (!*driver) {
        ek__fe_required(e, path, "");
    }
    if (strlen(driver) > 63) {
        ek__fe_too_long(e, path, 63);
    }
    ek_autofree char *lower = ek_xstrdup(driver);
    for (char *p = lower; *p; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            *p = (char)(*p - 'A' + 'a');
        }
    }
    ek__msgs_t m;
    ek__msgs_init(&m);
    if (ek__is_dns1123_subdomain(lower, &m)) {
        ek__fe_invalid_msgs(e, path, driver, &m);
    }
}

static void v_csi(ek_field_errors_t *e, const json_t *s, const char *path)
{
    ek_autofree char *dp = ek__p("%s.driver", path);
    ek__v_csi_driver(e, ek__sstr(s, "driver"), dp);
    const json_t *ref = ek__obj(s, "nodePublishSecretRef");
    if (ref) {
        const char *n = ek__sstr(ref, "name");
        ek_autofree char *np = ek__p("%s.nodePublishSecretRef.name", path);
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*n) {
            ek__fe_required(e, np, "");
        } else if (ek__is_dns1123_subdomain(n, &m)) {
            ek_autofree char *p2 = ek__p("%s.name", path);
            ek__fe_invalid_msgs(e, p2, n, &m);
        }
    }
}

static void v_ephemeral(ek_field_errors_t *e, const json_t *s, const char *path)
{
    const json_t *t = ek__obj(s, "volumeClaimTemplate");
    ek_autofree char *tp = ek__p("%s.volumeClaimTemplate", path);
    if (!t) {
        ek__fe_required(e, tp, "");
        return;
    }
    const json_t *meta = ek__obj(t, "metadata");
    ek_autofree char *ap = ek__p("%s.metadata.annotations", tp);
    ek_autofree char *lp = ek__p("%s.metadata.labels", tp);
    ek__v_annotations(e, ek__obj(meta, "annotations"), ap);
    ek__v_labels(e, ek__obj(meta, "labels"), lp);
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)meta, k, v) {
        if (strcmp(k, "labels") != 0 && strcmp(k, "annotations") != 0 && !json_is_null(v)) {
            ek_autofree char *fp = ek__p("%s.metadata.%s", tp, k);
            ek__fe_forbidden(e, fp, "cannot be set");
        }
    }
    ek_autofree char *sp = ek__p("%s.spec", tp);
    ek__v_pvc_spec(e, ek__obj(t, "spec"), sp);
}

/* Required string fields of the sources edgek does not use but must still count. */
static void v_required_fields(ek_field_errors_t *e, const json_t *s, const char *path,
                              const char *fields)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", fields);
    for (char *save = NULL, *f = strtok_r(buf, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
        const json_t *v = json_object_get(s, f);
        bool empty = !v || (json_is_string(v) && !*json_string_value(v)) ||
                     (json_is_array(v) && json_array_size(v) == 0);
        if (empty) {
            ek_autofree char *p = ek__p("%s.%s", path, f);
            ek__fe_required(e, p, "");
        }
    }
}

typedef void (*source_fn)(ek_field_errors_t *e, const json_t *s, const char *path);

/* In the order validateVolumeSource checks them; child is the name used in its paths. */
static const struct source {
    const char *key, *child;
    source_fn fn;
    const char *required;
} sources[] = {
    { "emptyDir", "emptyDir", v_empty_dir, NULL },
    { "hostPath", "hostPath", v_host_path, NULL },
    { "gitRepo", "gitRepo", NULL, "repository" },
    { "gcePersistentDisk", "persistentDisk", NULL, "pdName" },
    { "awsElasticBlockStore", "awsElasticBlockStore", NULL, "volumeID" },
    { "secret", "secret", v_secret, NULL },
    { "nfs", "nfs", v_nfs, NULL },
    { "iscsi", "iscsi", NULL, "targetPortal iqn" },
    { "glusterfs", "glusterfs", NULL, "endpoints path" },
    { "flocker", "flocker", NULL, NULL },
    { "persistentVolumeClaim", "persistentVolumeClaim", v_pvc_source, NULL },
    { "rbd", "rbd", NULL, "monitors image" },
    { "cinder", "cinder", NULL, "volumeID" },
    { "cephfs", "cephfs", NULL, "monitors" },
    { "quobyte", "quobyte", NULL, "volume" },
    { "downwardAPI", "downwardAPI", v_downward_api, NULL },
    { "fc", "fc", NULL, NULL },
    { "flexVolume", "flexVolume", NULL, "driver" },
    { "configMap", "configMap", v_config_map, NULL },
    { "azureFile", "azureFile", NULL, "secretName shareName" },
    { "vsphereVolume", "vsphereVolume", NULL, "volumePath" },
    { "photonPersistentDisk", "photonPersistentDisk", NULL, "pdID" },
    { "portworxVolume", "portworxVolume", NULL, "volumeID" },
    { "azureDisk", "azureDisk", NULL, "diskName diskURI" },
    { "storageos", "storageos", NULL, "volumeName" },
    { "projected", "projected", v_projected, NULL },
    { "scaleIO", "scaleIO", NULL, "gateway system volumeName" },
    { "csi", "csi", v_csi, NULL },
    { "ephemeral", "ephemeral", v_ephemeral, NULL },
    { "image", "image", NULL, NULL },
};

/* The Forbidden paths keep Kubernetes' own spellings ("downwarAPI", "cephFS"). */
static const char *forbidden_child(const char *key)
{
    if (strcmp(key, "downwardAPI") == 0) {
        return "downwarAPI";
    }
    if (strcmp(key, "cephfs") == 0) {
        return "cephFS";
    }
    return key;
}

static void v_volume_source(ek_field_errors_t *e, const json_t *vol, const char *path)
{
    int n = 0;
    for (size_t i = 0; i < EK_ARRAY_SIZE(sources); i++) {
        const json_t *s = ek__obj(vol, sources[i].key);
        if (!s) {
            continue;
        }
        if (n > 0) {
            ek_autofree char *fp = ek__p("%s.%s", path, forbidden_child(sources[i].key));
            ek__fe_forbidden(e, fp, "may not specify more than 1 volume type");
            continue;
        }
        n++;
        ek_autofree char *sp = ek__p("%s.%s", path, sources[i].child);
        if (sources[i].fn) {
            sources[i].fn(e, s, sp);
        } else if (sources[i].required) {
            v_required_fields(e, s, sp, sources[i].required);
        }
    }
    if (n == 0) {
        ek__fe_required(e, path, "must specify a volume type");
    }
}

json_t *ek__v_volumes(ek_field_errors_t *e, const json_t *vols, const char *path)
{
    json_t *ok = json_object();
    size_t i;
    json_t *vol;
    json_array_foreach (vols, i, vol) {
        ek_autofree char *ip = ek__p("%s[%zu]", path, i);
        ek_autofree char *np = ek__p("%s.name", ip);
        ek_field_errors_t el = { NULL, 0 };
        v_volume_source(&el, vol, ip);
        const char *name = ek__sstr(vol, "name");
        ek__msgs_t m;
        ek__msgs_init(&m);
        if (!*name) {
            ek__fe_required(&el, np, "");
        } else if (ek__is_dns1123_label(name, &m)) {
            ek__fe_invalid_msgs(&el, np, name, &m);
        }
        if (json_object_get(ok, name)) {
            ek__fe_duplicate_s(&el, np, name);
        }
        if (el.n == 0) {
            json_object_set(ok, name, vol);
        }
        ek__fe_move(e, &el);
    }
    return ok;
}
