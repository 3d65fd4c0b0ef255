/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod and container specs and container statuses as JSON, the form they take in a pod's state
 * directory (pod.json, containers/<name>/spec.json and state.json): the agent writes specs,
 * the shim reads them (a spec can be larger than one control message, and keeping it on disk
 * lets exec and a new agent read it again), and the shim writes statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>

#include "node/runtime/runtime-internal.h"

bool ek__rt_name_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

int ek__rt_write_file(const char *path, const char *data, size_t len, ek_error_t **err)
{
    ek_autofree char *tmp = ek_xasprintf("%s.tmp", path);
    ek_autoclose int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", tmp);
    }
    if (write(fd, data, len) != (ssize_t)len) {
        int e = errno;
        unlink(tmp);
        return ek_error_make(err, e, "write `%s`", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return ek_error_make(err, e, "rename `%s`", tmp);
    }
    return 0;
}

int ek__rt_write_json(const char *path, const json_t *j, ek_error_t **err)
{
    ek_autofree char *s = ek_json_dumps(j);
    return ek__rt_write_file(path, s, strlen(s), err);
}

json_t *ek__rt_strv_json(const char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; v && v[i]; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

const char **ek__rt_strv(const json_t *j)
{
    if (!json_is_array(j)) {
        return NULL;
    }
    size_t n = json_array_size(j);
    const char **v = ek_xcalloc(n + 1, sizeof(*v));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(j, i));
        if (s) {
            v[k++] = s;
        }
    }
    return v;
}

static json_t *resources_json(const ek_rt_resources_t *r)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I}", "memoryLimit", (json_int_t)r->memory_limit,
                     "cpuQuotaUs", (json_int_t)r->cpu_quota_us, "cpuPeriodUs",
                     (json_int_t)r->cpu_period_us, "cpuShares", (json_int_t)r->cpu_shares,
                     "pidsLimit", (json_int_t)r->pids_limit);
}

static void resources_from(const json_t *j, ek_rt_resources_t *r)
{
    r->memory_limit = ek_json_int(j, 0, "memoryLimit", NULL);
    r->cpu_quota_us = ek_json_int(j, 0, "cpuQuotaUs", NULL);
    r->cpu_period_us = ek_json_int(j, 0, "cpuPeriodUs", NULL);
    r->cpu_shares = ek_json_int(j, 0, "cpuShares", NULL);
    r->pids_limit = ek_json_int(j, 0, "pidsLimit", NULL);
}

static void set_opt_str(json_t *o, const char *key, const char *s)
{
    if (s) {
        json_object_set_new(o, key, json_string(s));
    }
}

static void set_opt_strv(json_t *o, const char *key, const char *const *v)
{
    if (v) {
        json_object_set_new(o, key, ek__rt_strv_json(v));
    }
}

json_t *ek__rt_pod_spec_to_json(const ek_rt_pod_spec_t *spec)
{
    json_t *o = json_object();
    set_opt_str(o, "uid", spec->uid);
    set_opt_str(o, "name", spec->name);
    set_opt_str(o, "namespace", spec->namespace);
    set_opt_str(o, "hostname", spec->hostname);
    json_object_set_new(o, "hostNetwork", json_boolean(spec->host_network));
    json_object_set_new(o, "hostIPC", json_boolean(spec->host_ipc));
    json_object_set_new(o, "hostPID", json_boolean(spec->host_pid));
    json_object_set_new(o, "sharePID", json_boolean(spec->share_pid));
    json_object_set_new(o, "qos", json_integer(spec->qos));
    json_object_set_new(o, "resources", resources_json(&spec->resources));
    set_opt_strv(o, "sysctls", spec->sysctls);
    json_object_set_new(o, "shmSize", json_integer(spec->shm_size));
    return o;
}

static json_t *mounts_json(const ek_rt_mount_t *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        set_opt_str(o, "destination", m[i].destination);
        set_opt_str(o, "source", m[i].source);
        set_opt_str(o, "options", m[i].options);
        json_object_set_new(o, "tmpfs", json_boolean(m[i].tmpfs));
        json_object_set_new(o, "readonly", json_boolean(m[i].readonly));
        json_object_set_new(o, "propagation", json_integer(m[i].propagation));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *ek__rt_container_spec_to_json(const ek_rt_container_spec_t *s)
{
    json_t *o = json_object();
    set_opt_str(o, "name", s->name);
    set_opt_strv(o, "layers", s->layers);
    set_opt_str(o, "upperDir", s->upper_dir);
    set_opt_str(o, "workDir", s->work_dir);
    set_opt_str(o, "rootfsDir", s->rootfs_dir);
    set_opt_strv(o, "args", s->args);
    set_opt_strv(o, "env", s->env);
    set_opt_str(o, "cwd", s->cwd);
    set_opt_str(o, "imageUser", s->image_user);
    json_object_set_new(o, "runAsUser", json_integer(s->run_as_user));
    json_object_set_new(o, "runAsGroup", json_integer(s->run_as_group));
    json_object_set_new(o, "runAsNonRoot", json_boolean(s->run_as_non_root));
    json_t *g = json_array();
    for (size_t i = 0; i < s->n_supplemental_groups; i++) {
        json_array_append_new(g, json_integer(s->supplemental_groups[i]));
    }
    json_object_set_new(o, "supplementalGroups", g);
    set_opt_strv(o, "capAdd", s->cap_add);
    set_opt_strv(o, "capDrop", s->cap_drop);
    json_object_set_new(o, "privileged", json_boolean(s->privileged));
    json_object_set_new(o, "noNewPrivs", json_boolean(s->no_new_privs));
    json_object_set_new(o, "readonlyRootfs", json_boolean(s->readonly_rootfs));
    json_object_set_new(o, "unmaskedProc", json_boolean(s->unmasked_proc));
    set_opt_strv(o, "maskedPaths", s->masked_paths);
    set_opt_strv(o, "readonlyPaths", s->readonly_paths);
    json_object_set_new(o, "mounts", mounts_json(s->mounts, s->n_mounts));
    json_object_set_new(o, "resources", resources_json(&s->resources));
    set_opt_str(o, "logPath", s->log_path);
    json_object_set_new(o, "logMaxSize", json_integer(s->log_max_size));
    json_object_set_new(o, "logMaxFiles", json_integer(s->log_max_files));
    json_object_set_new(o, "stopSignal", json_integer(s->stop_signal));
    return o;
}

/* Decodes a string array into c->arrays (so that ek__rt_cspec_free frees it). */
static const char *const *strv_field(ek__rt_cspec_t *c, size_t *slot, const char *key)
{
    const char **v = ek__rt_strv(json_object_get(c->json, key));
    if (v) {
        ek_assert(*slot < EK_ARRAY_SIZE(c->arrays));
        c->arrays[(*slot)++] = v;
    }
    return v;
}

static int mounts_from(ek__rt_cspec_t *c, ek_error_t **err)
{
    json_t *a = json_object_get(c->json, "mounts");
    size_t n = json_array_size(a);
    c->mounts = ek_xcalloc(n + 1, sizeof(*c->mounts));
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(a, i);
        ek_rt_mount_t *t = &c->mounts[i];
        t->destination = ek_json_str(m, "destination", NULL);
        t->source = ek_json_str(m, "source", NULL);
        t->options = ek_json_str(m, "options", NULL);
        t->tmpfs = ek_json_bool(m, false, "tmpfs", NULL);
        t->readonly = ek_json_bool(m, false, "readonly", NULL);
        t->propagation = (ek_rt_propagation_t)ek_json_int(m, 0, "propagation", NULL);
        if (!t->destination || t->destination[0] != '/' || (!t->tmpfs && !t->source)) {
            return ek_error_make(err, EINVAL,
                                 "mount %zu: needs an absolute destination and a "
                                 "source (or tmpfs)",
                                 i);
        }
    }
    c->s.mounts = c->mounts;
    c->s.n_mounts = n;
    return 0;
}

static void groups_from(ek__rt_cspec_t *c)
{
    json_t *a = json_object_get(c->json, "supplementalGroups");
    size_t n = json_array_size(a);
    c->groups = ek_xcalloc(n + 1, sizeof(gid_t));
    for (size_t i = 0; i < n; i++) {
        c->groups[i] = (gid_t)json_integer_value(json_array_get(a, i));
    }
    c->s.supplemental_groups = c->groups;
    c->s.n_supplemental_groups = n;
}

int ek__rt_container_spec_from_json(json_t *j, ek__rt_cspec_t *c, ek_error_t **err)
{
    memset(c, 0, sizeof(*c));
    c->json = json_incref(j);
    ek_rt_container_spec_t *s = &c->s;
    size_t slot = 0;
    s->name = ek_json_str(j, "name", NULL);
    s->layers = strv_field(c, &slot, "layers");
    s->upper_dir = ek_json_str(j, "upperDir", NULL);
    s->work_dir = ek_json_str(j, "workDir", NULL);
    s->rootfs_dir = ek_json_str(j, "rootfsDir", NULL);
    s->args = strv_field(c, &slot, "args");
    s->env = strv_field(c, &slot, "env");
    s->cwd = ek_json_str(j, "cwd", NULL);
    s->image_user = ek_json_str(j, "imageUser", NULL);
    s->run_as_user = ek_json_int(j, -1, "runAsUser", NULL);
    s->run_as_group = ek_json_int(j, -1, "runAsGroup", NULL);
    s->run_as_non_root = ek_json_bool(j, false, "runAsNonRoot", NULL);
    s->cap_add = strv_field(c, &slot, "capAdd");
    s->cap_drop = strv_field(c, &slot, "capDrop");
    s->privileged = ek_json_bool(j, false, "privileged", NULL);
    s->no_new_privs = ek_json_bool(j, false, "noNewPrivs", NULL);
    s->readonly_rootfs = ek_json_bool(j, false, "readonlyRootfs", NULL);
    s->unmasked_proc = ek_json_bool(j, false, "unmaskedProc", NULL);
    s->masked_paths = strv_field(c, &slot, "maskedPaths");
    s->readonly_paths = strv_field(c, &slot, "readonlyPaths");
    resources_from(json_object_get(j, "resources"), &s->resources);
    s->log_path = ek_json_str(j, "logPath", NULL);
    s->log_max_size = ek_json_int(j, 0, "logMaxSize", NULL);
    s->log_max_files = (int)ek_json_int(j, 0, "logMaxFiles", NULL);
    s->stop_signal = (int)ek_json_int(j, 0, "stopSignal", NULL);
    groups_from(c);
    if (mounts_from(c, err) < 0) {
        ek__rt_cspec_free(c);
        return -1;
    }
    if (!ek__rt_name_ok(s->name, 63) || !s->args || !s->args[0] || !s->log_path ||
        (!s->layers && !s->rootfs_dir)) {
        ek__rt_cspec_free(c);
        return ek_error_make(err, EINVAL,
                             "container spec needs a name, args, a log path and "
                             "layers or a rootfs directory");
    }
    return 0;
}

int ek__rt_cspec_load(const char *path, ek__rt_cspec_t *out, ek_error_t **err)
{
    size_t len;
    ek_autofree char *data = ek_file_read(path, 4 << 20, &len, err);
    if (!data) {
        return -1;
    }
    ek_auto(json_t) j = ek_json_parse(data, len, err);
    if (!j) {
        return ek_error_wrap(err, "parse `%s`", path);
    }
    return ek__rt_container_spec_from_json(j, out, err);
}

void ek__rt_cspec_free(ek__rt_cspec_t *c)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(c->arrays); i++) {
        free(c->arrays[i]);
    }
    free(c->groups);
    free(c->mounts);
    json_decref(c->json);
    memset(c, 0, sizeof(*c));
}

static const char *const state_names[] = { "created", "running", "exited", "unknown" };

json_t *ek__rt_status_to_json(const ek_rt_status_t *st)
{
    json_t *o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:b,s:I,s:I,s:I}", "name", st->name ? st->name : "",
                          "state", state_names[st->state], "pid", (int)st->pid, "exitCode",
                          st->exit_code, "signal", st->signal, "oomKilled", st->oom_killed,
                          "created", (json_int_t)st->created_ns, "started",
                          (json_int_t)st->started_ns, "finished", (json_int_t)st->finished_ns);
    set_opt_str(o, "reason", st->reason);
    set_opt_str(o, "message", st->message);
    return o;
}

static char *dup_opt(const char *s)
{
    return s ? ek_xstrdup(s) : NULL;
}

void ek__rt_status_from_json(const json_t *j, ek_rt_status_t *st)
{
    memset(st, 0, sizeof(*st));
    st->name = ek_xstrdup(ek_json_str(j, "name", NULL) ? ek_json_str(j, "name", NULL) : "");
    const char *state = ek_json_str(j, "state", NULL);
    st->state = EK_RT_UNKNOWN;
    for (size_t i = 0; state && i < EK_ARRAY_SIZE(state_names); i++) {
        if (strcmp(state, state_names[i]) == 0) {
            st->state = (ek_rt_state_t)i;
        }
    }
    st->pid = (pid_t)ek_json_int(j, 0, "pid", NULL);
    st->exit_code = (int)ek_json_int(j, 0, "exitCode", NULL);
    st->signal = (int)ek_json_int(j, 0, "signal", NULL);
    st->oom_killed = ek_json_bool(j, false, "oomKilled", NULL);
    st->created_ns = ek_json_int(j, 0, "created", NULL);
    st->started_ns = ek_json_int(j, 0, "started", NULL);
    st->finished_ns = ek_json_int(j, 0, "finished", NULL);
    st->reason = dup_opt(ek_json_str(j, "reason", NULL));
    st->message = dup_opt(ek_json_str(j, "message", NULL));
}

void ek_rt_status_clear(ek_rt_status_t *st)
{
    free(st->name);
    free(st->reason);
    free(st->message);
    memset(st, 0, sizeof(*st));
}
