/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A container's environment and command line, exactly as the kubelet and containerd build
 * them: envFrom and env (with $(VAR) expansion and valueFrom configMapKeyRef, secretKeyRef,
 * fieldRef and resourceFieldRef), Docker-link variables for Services, then the image's
 * defaults (Env, Entrypoint, Cmd) merged in. Pure functions over JSON objects: the informer
 * caches come in through ek__kl_sources_t, so the unit tests drive this file directly.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "node/kubelet-internal.h"

/* ---- $(VAR) expansion ---- */

char *ek__kl_expand(const char *in, ek__kl_lookup_fn lookup, void *data)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    size_t n = strlen(in);
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '$' || i + 1 == n) {
            ek_buf_putc(&b, in[i]);
            continue;
        }
        char next = in[i + 1];
        if (next == '$') { /* escaped operator */
            ek_buf_putc(&b, '$');
            i++;
            continue;
        }
        if (next != '(') { /* not an expression: the operator and the next byte stay */
            ek_buf_putc(&b, '$');
            ek_buf_putc(&b, next);
            i++;
            continue;
        }
        const char *close = strchr(in + i + 2, ')');
        if (!close) { /* incomplete reference: "$(" stays, scanning goes on after it */
            ek_buf_puts(&b, "$(");
            i++;
            continue;
        }
        ek_autofree char *name = ek_xstrndup(in + i + 2, (size_t)(close - (in + i + 2)));
        const char *v = lookup ? lookup(name, data) : NULL;
        if (v) {
            ek_buf_puts(&b, v);
        } else {
            ek_buf_printf(&b, "$(%s)", name);
        }
        i = (size_t)(close - in);
    }
    return ek_buf_steal(&b, NULL);
}

/* ---- ordered environment ---- */

void ek__kl_env_set(ek__kl_env_t *e, const char *name, const char *value)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->names[i], name) == 0) {
            free(e->values[i]);
            e->values[i] = ek_xstrdup(value);
            return;
        }
    }
    e->names = ek_xrealloc(e->names, (e->n + 1) * sizeof(char *));
    e->values = ek_xrealloc(e->values, (e->n + 1) * sizeof(char *));
    e->names[e->n] = ek_xstrdup(name);
    e->values[e->n] = ek_xstrdup(value);
    e->n++;
}

const char *ek__kl_env_get(const ek__kl_env_t *e, const char *name)
{
    for (size_t i = e->n; i-- > 0;) {
        if (strcmp(e->names[i], name) == 0) {
            return e->values[i];
        }
    }
    return NULL;
}

void ek__kl_env_free(ek__kl_env_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->names[i]);
        free(e->values[i]);
    }
    free(e->names);
    free(e->values);
    memset(e, 0, sizeof(*e));
}

/* ---- Docker-link variables for Services ---- */

static char *env_name(const char *s)
{
    char *o = ek_xstrdup(s);
    for (char *p = o; *p; p++) {
        *p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    }
    return o;
}

static bool service_ip_set(const json_t *svc)
{
    const char *ip = ek_json_str(svc, "spec", "clusterIP", NULL);
    return ip && *ip && strcmp(ip, "None") != 0;
}

static void lower(char *s)
{
    for (; *s; s++) {
        *s = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
    }
}

/* envvars.FromServices for one service. */
static void service_vars(const json_t *svc, ek__kl_env_t *out)
{
    ek_autofree char *nm = env_name(ek_json_str(svc, "metadata", "name", NULL));
    const char *ip = ek_json_str(svc, "spec", "clusterIP", NULL);
    json_t *ports = ek_json_path(svc, "spec", "ports", NULL);
    char k[512], v[512];
    snprintf(k, sizeof(k), "%s_SERVICE_HOST", nm);
    ek__kl_env_set(out, k, ip);
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        long long port = ek_json_int(p, 0, "port", NULL);
        const char *pname = ek_json_str(p, "name", NULL);
        snprintf(v, sizeof(v), "%lld", port);
        if (i == 0) {
            snprintf(k, sizeof(k), "%s_SERVICE_PORT", nm);
            ek__kl_env_set(out, k, v);
        }
        if (pname && *pname) {
            ek_autofree char *pn = env_name(pname);
            snprintf(k, sizeof(k), "%s_SERVICE_PORT_%s", nm, pn);
            ek__kl_env_set(out, k, v);
        }
    }
    json_array_foreach (ports, i, p) {
        long long port = ek_json_int(p, 0, "port", NULL);
        ek_autofree char *proto = ek_xstrdup(ek_json_str(p, "protocol", NULL) ?: "TCP");
        ek_autofree char *uproto = env_name(proto);
        lower(proto);
        snprintf(v, sizeof(v), "%s://%s:%lld", proto, ip, port);
        if (i == 0) {
            snprintf(k, sizeof(k), "%s_PORT", nm);
            ek__kl_env_set(out, k, v);
        }
        snprintf(k, sizeof(k), "%s_PORT_%lld_%s", nm, port, uproto);
        ek__kl_env_set(out, k, v);
        const char *sfx[3][2] = { { "PROTO", proto }, { "PORT", NULL }, { "ADDR", ip } };
        snprintf(v, sizeof(v), "%lld", port);
        for (size_t s = 0; s < 3; s++) {
            ek_autofree char *key = ek_xasprintf("%s_PORT_%lld_%s_%s", nm, port, uproto, sfx[s][0]);
            ek__kl_env_set(out, key, sfx[s][1] ? sfx[s][1] : v);
        }
    }
}

static int cmp_svc(const void *a, const void *b)
{
    return strcmp(ek_json_str(*(json_t *const *)a, "metadata", "name", NULL),
                  ek_json_str(*(json_t *const *)b, "metadata", "name", NULL));
}

/* The kubelet's getServiceEnvVarMap: default/kubernetes always, the pod namespace's services
 * with enableServiceLinks; by name, sorted. */
static void service_env(const json_t *pod, const ek__kl_sources_t *src, ek__kl_env_t *out)
{
    if (!src->services) {
        return;
    }
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    bool links = ek_json_bool(pod, true, "spec", "enableServiceLinks", NULL);
    ek_autofree json_t **all = src->services(ns, src->data);
    size_t n = 0;
    for (size_t i = 0; all && all[i]; i++) {
        n++;
    }
    ek_autofree json_t **pick = ek_xcalloc(n + 1, sizeof(json_t *));
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *s = all[i];
        const char *sns = ek_json_str(s, "metadata", "namespace", NULL);
        const char *name = ek_json_str(s, "metadata", "name", NULL);
        if (!name || !service_ip_set(s)) {
            continue;
        }
        bool master = ek_streq(sns, "default") && strcmp(name, "kubernetes") == 0;
        bool local = ek_streq(sns, ns) && links;
        size_t j;
        for (j = 0; j < np; j++) {
            if (strcmp(ek_json_str(pick[j], "metadata", "name", NULL), name) == 0) {
                break;
            }
        }
        if (master && j == np) {
            pick[np++] = s;
        } else if (local && !master) {
            pick[j] = s; /* a same-named service of the pod's namespace wins */
            np += j == np;
        }
    }
    qsort(pick, np, sizeof(json_t *), cmp_svc);
    for (size_t i = 0; i < np; i++) {
        service_vars(pick[i], out);
    }
}

/* ---- valueFrom ---- */

/* Go's %q for the ASCII a label value can hold. */
static void go_quote(ek_buf_t *b, const char *s)
{
    ek_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            ek_buf_printf(b, "\\%c", *p);
        } else if (*p == '\n') {
            ek_buf_puts(b, "\\n");
        } else if (*p == '\t') {
            ek_buf_puts(b, "\\t");
        } else if (*p < 0x20 || *p == 0x7f) {
            ek_buf_printf(b, "\\x%02x", *p);
        } else {
            ek_buf_putc(b, (char)*p);
        }
    }
    ek_buf_putc(b, '"');
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* fieldpath.FormatMap: `k="v"` lines sorted by key. */
static char *format_map(const json_t *m)
{
    size_t n = json_object_size(m), i = 0;
    ek_autofree const char **keys = ek_xcalloc(n + 1, sizeof(char *));
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)m, k, v) {
        keys[i++] = k;
    }
    qsort(keys, n, sizeof(char *), cmp_str);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (i = 0; i < n; i++) {
        ek_buf_printf(&b, "%s=", keys[i]);
        go_quote(&b, json_string_value(json_object_get(m, keys[i])) ?: "");
        ek_buf_putc(&b, '\n');
    }
    return ek_buf_steal(&b, NULL);
}

/* "metadata.labels['a.b/c']" → "a.b/c" for the given prefix; NULL if path is not one. */
static char *subscript(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0 || path[n] != '[' || path[n + 1] != '\'') {
        return NULL;
    }
    const char *start = path + n + 2;
    size_t len = strlen(start);
    if (len < 2 || start[len - 1] != ']' || start[len - 2] != '\'') {
        return NULL;
    }
    return ek_xstrndup(start, len - 2);
}

static char *ips_joined(const json_t *pod, const char *field, const char *fallback)
{
    json_t *a = ek_json_path(pod, "status", field, NULL);
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    size_t i;
    json_t *e;
    json_array_foreach (a, i, e) {
        ek_buf_printf(&b, "%s%s", b.len ? "," : "", ek_json_str(e, "ip", NULL) ?: "");
    }
    if (!b.len && fallback) {
        ek_buf_puts(&b, fallback);
    }
    return ek_buf_steal(&b, NULL);
}

char *ek__kl_field_ref(const json_t *pod, const char *path, const ek__kl_sources_t *src,
                       ek_error_t **err)
{
    static const char *const meta[] = { "name", "namespace", "uid", NULL };
    for (size_t i = 0; meta[i]; i++) {
        char p[64];
        snprintf(p, sizeof(p), "metadata.%s", meta[i]);
        if (strcmp(path, p) == 0) {
            return ek_xstrdup(ek_json_str(pod, "metadata", meta[i], NULL) ?: "");
        }
    }
    const char *maps[] = { "labels", "annotations" };
    for (size_t i = 0; i < 2; i++) {
        char p[64];
        snprintf(p, sizeof(p), "metadata.%s", maps[i]);
        ek_autofree char *key = subscript(path, p);
        if (key) {
            return ek_xstrdup(ek_json_str(pod, "metadata", maps[i], key, NULL) ?: "");
        }
        if (strcmp(path, p) == 0) {
            return format_map(ek_json_path(pod, "metadata", maps[i], NULL));
        }
    }
    if (strcmp(path, "spec.nodeName") == 0) {
        return ek_xstrdup(ek_json_str(pod, "spec", "nodeName", NULL) ?: src->node_name ?: "");
    }
    if (strcmp(path, "spec.serviceAccountName") == 0) {
        return ek_xstrdup(ek_json_str(pod, "spec", "serviceAccountName", NULL) ?: "");
    }
    if (strcmp(path, "status.hostIP") == 0) {
        return ek_xstrdup(src->host_ip ?: "");
    }
    if (strcmp(path, "status.hostIPs") == 0) {
        return ek_xstrdup(src->host_ip ?: "");
    }
    if (strcmp(path, "status.podIP") == 0) {
        return ek_xstrdup(src->pod_ip ?: "");
    }
    if (strcmp(path, "status.podIPs") == 0) {
        return src->pod_ip ? ek_xstrdup(src->pod_ip) : ips_joined(pod, "podIPs", NULL);
    }
    ek_error_status(err, 400, "unsupported fieldPath: %s", path);
    return NULL;
}

static const json_t *find_container(const json_t *pod, const char *name)
{
    const char *lists[] = { "containers", "initContainers" };
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *c;
        json_array_foreach (ek_json_path(pod, "spec", lists[l], NULL), i, c) {
            if (ek_streq(ek_json_str(c, "name", NULL), name)) {
                return c;
            }
        }
    }
    return NULL;
}

/* A quantity in milli-units (cpu) or units, from a resources map entry, or def. */
static int64_t quantity(const json_t *v, bool milli, int64_t def)
{
    const char *s = json_string_value(v);
    ek_quantity_t q;
    int64_t out;
    if (!s || ek_quantity_parse(s, &q, NULL) < 0 ||
        (milli ? ek_quantity_milli(&q, &out, NULL) : ek_quantity_value(&q, &out, NULL)) < 0) {
        return def;
    }
    return out;
}

char *ek__kl_resource_ref(const json_t *pod, const char *cname, const json_t *ref,
                          const ek__kl_sources_t *src, ek_error_t **err)
{
    const char *res = ek_json_str(ref, "resource", NULL);
    const char *want = ek_json_str(ref, "containerName", NULL);
    const json_t *c = find_container(pod, want && *want ? want : cname);
    if (!c || !res) {
        ek_error_status(err, 400, "resourceFieldRef: no container `%s`", want ? want : cname);
        return NULL;
    }
    bool limits = ek_has_prefix(res, "limits."), requests = ek_has_prefix(res, "requests.");
    const char *what = strchr(res, '.') ? strchr(res, '.') + 1 : "";
    if (!limits && !requests) {
        ek_error_status(err, 400, "unsupported container resource: %s", res);
        return NULL;
    }
    bool cpu = strcmp(what, "cpu") == 0;
    json_t *v = ek_json_path(c, "resources", limits ? "limits" : "requests", what, NULL);
    int64_t node_def = !limits                       ? 0
                       : cpu                         ? src->node_cpu_milli
                       : strcmp(what, "memory") == 0 ? src->node_memory
                                                     : 0;
    int64_t val = quantity(v, cpu, node_def);
    const char *dv = ek_json_str(ref, "divisor", NULL);
    ek_quantity_t dq;
    int64_t div = 1;
    if (dv && ek_quantity_parse(dv, &dq, NULL) == 0) {
        if (cpu ? ek_quantity_milli(&dq, &div, NULL) : ek_quantity_value(&dq, &div, NULL)) {
            div = 1;
        }
    } else if (cpu) {
        div = 1000;
    }
    if (div <= 0) {
        div = 1;
    }
    return ek_xasprintf("%lld", (long long)ceil((double)val / (double)div));
}

/* ---- environment ---- */

struct lookup_ctx {
    const ek__kl_env_t *env, *svc;
};

static const char *lookup_env(const char *name, void *data)
{
    struct lookup_ctx *c = data;
    const char *v = ek__kl_env_get(c->env, name);
    return v ? v : ek__kl_env_get(c->svc, name);
}

/* IsRelaxedEnvVarName (1.32 default): printable ASCII except '='. */
static bool env_name_ok(const char *s)
{
    if (!*s) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 32 || *p > 126 || *p == '=') {
            return false;
        }
    }
    return true;
}

/* The value of key in a ConfigMap (data, then binaryData) or Secret (base64 data). Caller
 * frees; NULL when absent. */
static char *object_value(const json_t *obj, const char *key, bool secret)
{
    const char *v = ek_json_str(obj, "data", key, NULL);
    if (v && !secret) {
        return ek_xstrdup(v);
    }
    if (!v && !secret) {
        v = ek_json_str(obj, "binaryData", key, NULL);
    }
    if (!v && secret) {
        const char *sd = ek_json_str(obj, "stringData", key, NULL);
        if (sd) {
            return ek_xstrdup(sd);
        }
    }
    if (!v) {
        return NULL;
    }
    size_t len;
    char *d = ek_base64_decode(v, &len);
    return d ? d : ek_xstrdup("");
}

static json_t *get_source(const ek__kl_sources_t *src, bool secret, const char *ns,
                          const char *name)
{
    json_t *(*fn)(const char *, const char *, void *) = secret ? src->secret : src->configmap;
    return fn && name ? fn(ns, name, src->data) : NULL;
}

static int env_from(const json_t *pod, const json_t *ctr, const ek__kl_sources_t *src,
                    ek__kl_env_t *out, ek_buf_t *skipped, ek_error_t **err)
{
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    size_t i;
    json_t *ef;
    json_array_foreach (json_object_get(ctr, "envFrom"), i, ef) {
        bool secret = json_object_get(ef, "secretRef") != NULL;
        json_t *ref = json_object_get(ef, secret ? "secretRef" : "configMapRef");
        const char *name = ek_json_str(ref, "name", NULL);
        json_t *obj = get_source(src, secret, ns, name);
        if (!obj) {
            if (ek_json_bool(ref, false, "optional", NULL)) {
                continue;
            }
            return ek_error_status(err, 404, "%s \"%s\" not found", secret ? "secret" : "configmap",
                                   name ? name : "");
        }
        const char *prefix = ek_json_str(ef, "prefix", NULL) ?: "";
        const char *fields[] = { "data", secret ? "stringData" : "binaryData" };
        for (size_t f = 0; f < (secret ? 1u : 2u); f++) {
            const char *k;
            json_t *v;
            json_object_foreach (json_object_get(obj, fields[f]), k, v) {
                ek_autofree char *full = ek_xasprintf("%s%s", prefix, k);
                if (!env_name_ok(full)) {
                    ek_buf_printf(skipped, "%s%s", skipped->len ? ", " : "", full);
                    continue;
                }
                ek_autofree char *val = object_value(obj, k, secret);
                ek__kl_env_set(out, full, val ? val : "");
            }
        }
    }
    return 0;
}

/* The value of one env entry's valueFrom; *skip when an optional source is missing. */
static char *value_from(const json_t *pod, const json_t *ctr, const json_t *vf,
                        const ek__kl_sources_t *src, bool *skip, ek_error_t **err)
{
    const char *ns = ek_json_str(pod, "metadata", "namespace", NULL);
    json_t *x;
    if ((x = json_object_get(vf, "fieldRef"))) {
        return ek__kl_field_ref(pod, ek_json_str(x, "fieldPath", NULL) ?: "", src, err);
    }
    if ((x = json_object_get(vf, "resourceFieldRef"))) {
        return ek__kl_resource_ref(pod, ek_json_str(ctr, "name", NULL), x, src, err);
    }
    bool secret = json_object_get(vf, "secretKeyRef") != NULL;
    x = json_object_get(vf, secret ? "secretKeyRef" : "configMapKeyRef");
    if (!x) {
        ek_error_status(err, 400, "unsupported valueFrom");
        return NULL;
    }
    const char *name = ek_json_str(x, "name", NULL) ?: "";
    const char *key = ek_json_str(x, "key", NULL) ?: "";
    bool optional = ek_json_bool(x, false, "optional", NULL);
    json_t *obj = get_source(src, secret, ns, name);
    char *v = obj ? object_value(obj, key, secret) : NULL;
    if (v) {
        return v;
    }
    if (optional) {
        *skip = true;
        return NULL;
    }
    if (!obj) {
        ek_error_status(err, 404, "%s \"%s\" not found", secret ? "secret" : "configmap", name);
    } else {
        ek_error_status(err, 404, "couldn't find key %s in %s %s/%s", key,
                        secret ? "Secret" : "ConfigMap", ns, name);
    }
    return NULL;
}

int ek__kl_make_env(const json_t *pod, const json_t *ctr, const ek__kl_sources_t *src,
                    ek__kl_env_t *out, char **skipped, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    ek__kl_env_t svc = { 0 };
    service_env(pod, src, &svc);
    ek_autobuf skip = EK_BUF_INIT;
    if (env_from(pod, ctr, src, out, &skip, err) < 0) {
        ek__kl_env_free(&svc);
        ek__kl_env_free(out);
        return -1;
    }
    struct lookup_ctx lc = { out, &svc };
    size_t i;
    json_t *e;
    json_array_foreach (json_object_get(ctr, "env"), i, e) {
        const char *name = ek_json_str(e, "name", NULL);
        json_t *vf = json_object_get(e, "valueFrom");
        if (!name) {
            continue;
        }
        if (!vf) {
            ek_autofree char *v =
                ek__kl_expand(ek_json_str(e, "value", NULL) ?: "", lookup_env, &lc);
            ek__kl_env_set(out, name, v);
            continue;
        }
        bool skipit = false;
        ek_autofree char *v = value_from(pod, ctr, vf, src, &skipit, err);
        if (!v && !skipit) {
            ek__kl_env_free(&svc);
            ek__kl_env_free(out);
            return -1;
        }
        if (v) {
            ek__kl_env_set(out, name, v);
        }
    }
    for (i = 0; i < svc.n; i++) {
        if (!ek__kl_env_get(out, svc.names[i])) {
            ek__kl_env_set(out, svc.names[i], svc.values[i]);
        }
    }
    ek__kl_env_free(&svc);
    if (skipped) {
        *skipped = skip.len ? ek_buf_steal(&skip, NULL) : NULL;
    }
    return 0;
}

/* ---- command line and image defaults ---- */

static void strv_push(char ***v, size_t *n, char *s)
{
    *v = ek_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
}

static const char *lookup_only_env(const char *name, void *data)
{
    return ek__kl_env_get(data, name);
}

char **ek__kl_command(const json_t *ctr, const json_t *image_config, const ek__kl_env_t *env,
                      ek_error_t **err)
{
    json_t *command = json_object_get(ctr, "command");
    json_t *args = json_object_get(ctr, "args");
    json_t *entry = json_object_get(image_config, "Entrypoint");
    json_t *cmd = json_object_get(image_config, "Cmd");
    char **out = NULL;
    size_t n = 0;
    size_t i;
    json_t *w;
    bool have_cmd = json_array_size(command) > 0, have_args = json_array_size(args) > 0;
    if (have_cmd) {
        json_array_foreach (command, i, w) {
            strv_push(&out, &n,
                      ek__kl_expand(json_string_value(w) ?: "", lookup_only_env, (void *)env));
        }
    } else if (!(json_array_size(entry) == 1 &&
                 ek_streq(json_string_value(json_array_get(entry, 0)), ""))) {
        /* An Entrypoint of [""] means "none" (moby's rule). */
        json_array_foreach (entry, i, w) {
            strv_push(&out, &n, ek_xstrdup(json_string_value(w) ?: ""));
        }
    }
    if (have_args) {
        json_array_foreach (args, i, w) {
            strv_push(&out, &n,
                      ek__kl_expand(json_string_value(w) ?: "", lookup_only_env, (void *)env));
        }
    } else if (!have_cmd) {
        json_array_foreach (cmd, i, w) {
            strv_push(&out, &n, ek_xstrdup(json_string_value(w) ?: ""));
        }
    }
    if (n == 0) {
        ek_error_status(err, 400, "no command specified");
        return NULL;
    }
    return out;
}

static void env_put(char ***v, size_t *n, const char *name, const char *value)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < *n; i++) {
        if (strncmp((*v)[i], name, len) == 0 && (*v)[i][len] == '=') {
            free((*v)[i]);
            (*v)[i] = ek_xasprintf("%s=%s", name, value);
            return;
        }
    }
    strv_push(v, n, ek_xasprintf("%s=%s", name, value));
}

char **ek__kl_env_strings(const json_t *image_config, const ek__kl_env_t *env, const char *hostname)
{
    char **out = NULL;
    size_t n = 0;
    /* containerd's default spec environment, then HOSTNAME, the image's, the container's. */
    strv_push(&out, &n,
              ek_xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
    if (hostname) {
        strv_push(&out, &n, ek_xasprintf("HOSTNAME=%s", hostname));
    }
    size_t i;
    json_t *w;
    json_array_foreach (json_object_get(image_config, "Env"), i, w) {
        const char *s = json_string_value(w);
        const char *eq = s ? strchr(s, '=') : NULL;
        if (eq) {
            ek_autofree char *name = ek_xstrndup(s, (size_t)(eq - s));
            env_put(&out, &n, name, eq + 1);
        }
    }
    for (i = 0; env && i < env->n; i++) {
        env_put(&out, &n, env->names[i], env->values[i]);
    }
    return out;
}
