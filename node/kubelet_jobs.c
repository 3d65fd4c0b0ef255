/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The blocking steps of a pod, each a job on a libuv worker thread: volumes on disk, the
 * sandbox (shim, event stream, pod network, /etc files), container create+start, signals,
 * teardown, log removal; plus image pulls (asynchronous on the loop) and the adoption of the
 * shims a previous agent left running. A job copies what it needs on the loop, touches only
 * that and the thread-safe parts (runtime, image store, the pod network under its mutex)
 * while it runs, and applies its outcome to the pod record back on the loop.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/stat.h>

#include "node/kubelet-internal.h"

static void job_fail_event(kl_pod_t *p, const char *reason, const ek_error_t *err)
{
    ek__kl_event(p, "Warning", reason, "%s", ek_error_msg(err));
}

/* Small files the containers read; on tmpfs or not, nothing to fsync: they are rewritten
 * whenever the sandbox is made again. */
static int write_small(const char *path, const char *text, ek_error_t **err)
{
    ek_autofree char *tmp = ek_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchmod(fd, 0644) < 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return ek_error_make(err, e, "write `%s`", path);
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        return ek_error_make(err, errno, "rename `%s`", tmp);
    }
    return 0;
}

/* ---- volumes ---- */

struct vol_job {
    kl_job_t j;
    json_t *plan;
    char *hash, *dir;
};

static void vol_run(kl_job_t *j)
{
    struct vol_job *v = ek_container_of(j, struct vol_job, j);
    ek__kl_volumes_apply(v->dir, v->plan, &j->err);
}

static void vol_done(kl_job_t *j)
{
    struct vol_job *v = ek_container_of(j, struct vol_job, j);
    kl_pod_t *p = j->pod;
    if (j->err) {
        job_fail_event(p, "FailedMount", j->err);
        free(p->vol_error);
        p->vol_error = ek_xstrdup(ek_error_msg(j->err));
        p->vol_retry_at = ek_wall_ms() + 10000;
        ek__kl_pod_wake(p, p->vol_retry_at);
    } else {
        free(p->vol_applied);
        p->vol_applied = ek_xstrdup(v->hash);
        free(p->vol_error);
        p->vol_error = NULL;
        p->vol_retry_at = 0;
    }
    ek_error_free(j->err);
    json_decref(v->plan);
    free(v->hash);
    free(v->dir);
    free(v);
    ek__kl_pod_job_end(p);
}

void ek__kl_job_volumes(kl_pod_t *p, json_t *plan, const char *hash)
{
    struct vol_job *v = ek_new(struct vol_job);
    v->j.pod = p;
    v->j.run = vol_run;
    v->j.done = vol_done;
    v->plan = plan;
    v->hash = ek_xstrdup(hash);
    v->dir = ek__kl_pod_dir(p->kl, p->uid);
    ek__kl_job_queue(p->kl, &v->j);
}

/* ---- the sandbox ---- */

struct sandbox_job {
    kl_job_t j;
    ek_rt_pod_spec_t spec;
    char *hostname, *pod_dir, *resolv, *node_ip;
    char **sysctls;
    json_t *pod;
    ek_podnet_hostport_t *hp;
    size_t nhp;
    /* out */
    ek_rt_pod_t *rt;
    int ev_fd;
    char *ip;
};

static ek_podnet_hostport_t *host_ports(const json_t *pod, size_t *n)
{
    ek_podnet_hostport_t *hp = NULL;
    *n = 0;
    const char *lists[] = { "initContainers", "containers" };
    for (size_t l = 0; l < 2; l++) {
        size_t i, k;
        json_t *c, *port;
        json_array_foreach (ek_json_path(pod, "spec", lists[l], NULL), i, c) {
            json_array_foreach (json_object_get(c, "ports"), k, port) {
                long long h = ek_json_int(port, 0, "hostPort", NULL);
                if (h <= 0 || h > 65535) {
                    continue;
                }
                const char *proto = ek_json_str(port, "protocol", NULL) ?: "TCP";
                hp = ek_xrealloc(hp, (*n + 1) * sizeof(*hp));
                hp[*n] = (ek_podnet_hostport_t){
                    .proto = strcmp(proto, "UDP") == 0    ? IPPROTO_UDP
                             : strcmp(proto, "SCTP") == 0 ? IPPROTO_SCTP
                                                          : IPPROTO_TCP,
                    .host_port = (uint16_t)h,
                    .container_port = (uint16_t)ek_json_int(port, 0, "containerPort", NULL),
                };
                const char *hip = ek_json_str(port, "hostIP", NULL);
                if (hip) {
                    inet_pton(AF_INET, hip, &hp[*n].host_ip);
                }
                (*n)++;
            }
        }
    }
    return hp;
}

static int attach_network(struct sandbox_job *s, ek_error_t **err)
{
    ek_kubelet_t *kl = s->j.kl;
    ek_podnet_pod_t pp = { .id = s->spec.uid,
                           .netns_fd = -1,
                           .netns_path = ek_rt_pod_netns(s->rt),
                           .hostports = s->hp,
                           .n_hostports = s->nhp };
    struct in_addr ip;
    uv_mutex_lock(&kl->net_mu);
    int rc = kl->net ? ek_podnet_attach(kl->net, &pp, &ip, err)
                     : ek_error_make(err, ENETDOWN, "the pod network is not set up");
    uv_mutex_unlock(&kl->net_mu);
    if (rc < 0) {
        return ek_error_wrap(err, "set up the pod network");
    }
    char buf[INET_ADDRSTRLEN];
    s->ip = ek_xstrdup(inet_ntop(AF_INET, &ip, buf, sizeof(buf)));
    return 0;
}

static int etc_files(struct sandbox_job *s, ek_error_t **err)
{
    ek_kubelet_t *kl = s->j.kl;
    ek_autofree char *hosts = ek__kl_hosts_file(s->pod, s->ip, kl->cluster_domain, kl->host_hosts);
    ek_autofree char *hn = ek_xasprintf("%s\n", s->hostname);
    ek_autofree char *p1 = ek_xasprintf("%s/etc-hosts", s->pod_dir);
    ek_autofree char *p2 = ek_xasprintf("%s/etc-hostname", s->pod_dir);
    ek_autofree char *p3 = ek_xasprintf("%s/resolv.conf", s->pod_dir);
    if (ek_mkdir_p(s->pod_dir, 0750, err) < 0 || write_small(p1, hosts, err) < 0 ||
        write_small(p2, hn, err) < 0 || write_small(p3, s->resolv, err) < 0) {
        return -1;
    }
    return 0;
}

static void sandbox_run(kl_job_t *j)
{
    struct sandbox_job *s = ek_container_of(j, struct sandbox_job, j);
    s->ev_fd = -1;
    if (ek_rt_pod_create(j->kl->rt, &s->spec, &s->rt, &j->err) < 0) {
        return;
    }
    s->ev_fd = ek_rt_pod_events(s->rt, &j->err);
    if (s->ev_fd < 0 || (!s->spec.host_network && attach_network(s, &j->err) < 0) ||
        etc_files(s, &j->err) < 0) {
        if (s->ev_fd >= 0) {
            close(s->ev_fd);
            s->ev_fd = -1;
        }
        if (s->ip) {
            ek_podnet_pod_t pp = {
                .id = s->spec.uid, .netns_fd = -1, .hostports = s->hp, .n_hostports = s->nhp
            };
            uv_mutex_lock(&j->kl->net_mu);
            ek_podnet_detach(j->kl->net, &pp, NULL);
            uv_mutex_unlock(&j->kl->net_mu);
        }
        ek_rt_pod_remove(s->rt, NULL);
        s->rt = NULL;
    }
}

static void sandbox_free(struct sandbox_job *s)
{
    for (size_t i = 0; s->sysctls && s->sysctls[i]; i++) {
        free(s->sysctls[i]);
    }
    free(s->sysctls);
    free(s->hostname);
    free(s->pod_dir);
    free(s->resolv);
    free(s->ip);
    free(s->hp);
    json_decref(s->pod);
    free(s);
}

static void sandbox_done(kl_job_t *j)
{
    struct sandbox_job *s = ek_container_of(j, struct sandbox_job, j);
    kl_pod_t *p = j->pod;
    if (j->err) {
        ek__kl_event(p, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s",
                     ek_error_msg(j->err));
        EK_LOG(EK_WARN, "kubelet", "pod sandbox failed pod=%s/%s err=\"%s\"", p->ns, p->name,
               ek_error_msg(j->err));
        p->sandbox_backoff = p->sandbox_backoff ? EK_MIN(p->sandbox_backoff * 2, 60000) : 1000;
        p->sandbox_retry_at = ek_wall_ms() + p->sandbox_backoff;
        ek__kl_pod_wake(p, p->sandbox_retry_at);
        ek_error_free(j->err);
    } else {
        p->rt = s->rt;
        p->rt_dead = false;
        p->torn_down = false;
        p->killing = p->sigkilled = false;
        p->sandbox_backoff = 0;
        if (s->ip) {
            free(p->ip);
            p->ip = ek_steal(&s->ip);
        }
        ek__kl_pod_start_events(p, s->ev_fd);
    }
    sandbox_free(s);
    ek__kl_pod_job_end(p);
}

static char **sysctls_of(const json_t *pod)
{
    json_t *a = ek_json_path(pod, "spec", "securityContext", "sysctls", NULL);
    char **v = ek_xcalloc(json_array_size(a) + 1, sizeof(char *));
    size_t i;
    json_t *s;
    json_array_foreach (a, i, s) {
        v[i] = ek_xasprintf("%s=%s", ek_json_str(s, "name", NULL) ?: "",
                            ek_json_str(s, "value", NULL) ?: "");
    }
    return v;
}

void ek__kl_job_sandbox(kl_pod_t *p)
{
    ek_kubelet_t *kl = p->kl;
    struct sandbox_job *s = ek_new(struct sandbox_job);
    const json_t *pod = p->obj;
    s->j.pod = p;
    s->j.run = sandbox_run;
    s->j.done = sandbox_done;
    s->pod = json_incref(p->obj);
    s->hostname = ek__kl_pod_hostname(pod, kl->hostname);
    s->pod_dir = ek__kl_pod_dir(kl, p->uid);
    s->resolv = ek__kl_resolv_conf(pod, kl->host_resolv, kl->cluster_dns, kl->cluster_domain);
    s->sysctls = sysctls_of(pod);
    s->hp = host_ports(pod, &s->nhp);
    const char *qos = ek_json_str(pod, "status", "qosClass", NULL) ?: ek__kl_qos_class(pod);
    s->spec = (ek_rt_pod_spec_t){
        .uid = p->uid,
        .name = p->name,
        .namespace = p->ns,
        .hostname = s->hostname,
        .host_network = ek_json_bool(pod, false, "spec", "hostNetwork", NULL),
        .host_ipc = ek_json_bool(pod, false, "spec", "hostIPC", NULL),
        .host_pid = ek_json_bool(pod, false, "spec", "hostPID", NULL),
        .share_pid = ek_json_bool(pod, false, "spec", "shareProcessNamespace", NULL),
        .qos = strcmp(qos, "Guaranteed") == 0   ? EK_RT_QOS_GUARANTEED
               : strcmp(qos, "BestEffort") == 0 ? EK_RT_QOS_BESTEFFORT
                                                : EK_RT_QOS_BURSTABLE,
        .sysctls = (const char *const *)s->sysctls,
    };
    ek__kl_pod_resources(pod, kl->pod_max_pids, &s->spec.resources);
    ek__kl_job_queue(kl, &s->j);
}

/* ---- starting containers ---- */

struct start_item {
    kl_ctr_t *c;
    kl_cspec_t *cs;
    int attempt;
    char *remove_name, *remove_log, *remove_term;
    bool hold;
    bool created;
    json_t *spec; /* the container's spec, for its postStart hook */
    char *host;   /* the pod IP, for httpGet hooks */
    int64_t grace_ms;
    char *hook_err; /* postStart failed: the container was killed */
    ek_error_t *err, *start_err;
    ek_rt_status_t st;
};

struct start_job {
    kl_job_t j;
    ek_rt_pod_t *rt;
    struct start_item *it;
    size_t n;
};

static void touch_file(const char *path)
{
    ek_autofree char *dir = ek_path_dirname(path);
    ek_mkdir_p(dir, 0755, NULL);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0) {
        fchmod(fd, 0666);
        close(fd);
    }
}

static void start_one(struct start_job *s, struct start_item *it)
{
    ek_kubelet_t *kl = s->j.kl;
    kl_cspec_t *cs = it->cs;
    if (it->remove_name) {
        ek_rt_container_remove(s->rt, it->remove_name, NULL);
        unlink(it->remove_log);
        unlink(it->remove_term);
    }
    for (size_t i = 0; i < cs->mkdirs.n; i++) {
        if (!ek_path_exists(cs->mkdirs.v[i])) {
            ek_mkdir_p(cs->mkdirs.v[i], 0755, NULL);
        }
    }
    if (cs->term_path) {
        touch_file(cs->term_path);
    }
    if (it->hold && ek_image_hold(kl->images, cs->hold_key, cs->image_id, &it->err) < 0) {
        return;
    }
    if (ek_rt_container_create(s->rt, &cs->s, &it->err) < 0) {
        return;
    }
    it->created = true;
    if (ek_rt_container_start(s->rt, cs->rt_name, &it->start_err) == 0) {
        ek__kl_poststart_run(kl, s->rt, cs->rt_name, it->host, it->spec, it->grace_ms,
                             &it->hook_err);
    }
    if (ek_rt_container_status(s->rt, cs->rt_name, &it->st, NULL) < 0) {
        it->st.name = ek_xstrdup(cs->rt_name);
        it->st.state = it->start_err ? EK_RT_EXITED : EK_RT_RUNNING;
    }
}

static void start_run(kl_job_t *j)
{
    struct start_job *s = ek_container_of(j, struct start_job, j);
    for (size_t i = 0; i < s->n; i++) {
        start_one(s, &s->it[i]);
    }
}

static void start_result(kl_pod_t *p, struct start_item *it)
{
    kl_ctr_t *c = it->c;
    if (!it->created) {
        ek__kl_set_reason(c, "CreateContainerError", ek_error_msg(it->err));
        ek__kl_event(p, "Warning", "Failed", "Error: %s", ek_error_msg(it->err));
        ek__kl_pod_wake(p, ek_wall_ms() + 10000);
        return;
    }
    if (c->attempt >= 0) {
        ek_rt_status_clear(&c->prev);
        c->prev = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
        c->prev_attempt = c->attempt;
        c->have_prev = true;
        free(c->prev_msg);
        c->prev_msg = ek_steal(&c->cur_msg);
    }
    c->attempt = it->attempt;
    c->cur = it->st;
    memset(&it->st, 0, sizeof(it->st));
    ek__kl_set_reason(c, NULL, NULL);
    ek__kl_event(p, "Normal", "Created", "Created container: %s", c->name);
    if (it->start_err) {
        const char *why = c->cur.message ? c->cur.message : ek_error_msg(it->start_err);
        ek__kl_event(p, "Warning", "Failed", "Error: %s", why);
    } else {
        ek__kl_event(p, "Normal", "Started", "Started container %s", c->name);
    }
    if (it->hook_err) {
        ek__kl_event(p, "Warning", "FailedPostStartHook", "%s", it->hook_err);
        ek__kl_event(p, "Normal", "Killing", "FailedPostStartHook");
    }
    if (c->cur.state == EK_RT_EXITED) {
        free(c->cur_msg);
        c->cur_msg = ek__kl_termination_message(p, c);
    }
}

static void start_done(kl_job_t *j)
{
    struct start_job *s = ek_container_of(j, struct start_job, j);
    kl_pod_t *p = j->pod;
    for (size_t i = 0; i < s->n; i++) {
        struct start_item *it = &s->it[i];
        start_result(p, it);
        ek__kl_cspec_free(it->cs);
        free(it->remove_name);
        free(it->remove_log);
        free(it->remove_term);
        ek_error_free(it->err);
        ek_error_free(it->start_err);
        ek_rt_status_clear(&it->st);
        json_decref(it->spec);
        free(it->host);
        free(it->hook_err);
    }
    free(s->it);
    free(s);
    ek__kl_pod_job_end(p);
}

static bool config_error(kl_pod_t *p, kl_ctr_t *c, const ek_error_t *err)
{
    const char *reason = err->status == 404 ? "CreateContainerConfigError" : "CreateContainerError";
    if (!ek_streq(c->message, ek_error_msg(err))) {
        ek__kl_event(p, "Warning", "Failed", "Error: %s", ek_error_msg(err));
    }
    ek__kl_set_reason(c, reason, ek_error_msg(err));
    ek__kl_pod_wake(p, ek_wall_ms() + 10000);
    return false;
}

void ek__kl_job_start(kl_pod_t *p, kl_ctr_t **cs, size_t n)
{
    ek_kubelet_t *kl = p->kl;
    struct start_job *s = ek_new(struct start_job);
    s->j.pod = p;
    s->j.run = start_run;
    s->j.done = start_done;
    s->rt = p->rt;
    s->it = ek_xcalloc(n, sizeof(*s->it));
    ek_autofree char *dir = ek__kl_pod_dir(kl, p->uid);
    for (size_t i = 0; i < n; i++) {
        kl_ctr_t *c = cs[i];
        int attempt = c->attempt + 1;
        ek_error_t *err = NULL;
        kl_cspec_t *spec = ek__kl_cspec_build(p, c, attempt, &err);
        if (!spec) {
            config_error(p, c, err);
            ek_error_free(err);
            continue;
        }
        struct start_item *it = &s->it[s->n++];
        it->c = c;
        it->cs = spec;
        it->attempt = attempt;
        it->hold = c->attempt < 0;
        it->spec = json_incref(ek__kl_ctr_spec(p, c));
        const char *ip = ek__kl_pod_is_host_network(p) ? ek__kl_node_ip(kl) : p->ip;
        it->host = ip ? ek_xstrdup(ip) : NULL;
        long long g = ek_json_int(p->obj, 30, "spec", "terminationGracePeriodSeconds", NULL);
        it->grace_ms = g > 0 ? g * 1000 : 0;
        if (c->have_prev) {
            it->remove_name = ek__kl_rt_name(c, c->prev_attempt);
            it->remove_log = ek__kl_log_path(kl, p->ns, p->name, p->uid, c->name, c->prev_attempt);
            it->remove_term =
                ek_xasprintf("%s/containers/%s/%d-termination-log", dir, c->base, c->prev_attempt);
        }
    }
    if (s->n == 0) {
        free(s->it);
        free(s);
        return;
    }
    ek__kl_job_queue(kl, &s->j);
}

/* ---- signals ---- */

struct kill_job {
    kl_job_t j;
    ek_rt_pod_t *rt;
    ek_strlist_t names;
    int sig;
};

static void kill_run(kl_job_t *j)
{
    struct kill_job *k = ek_container_of(j, struct kill_job, j);
    for (size_t i = 0; i < k->names.n; i++) {
        ek_error_t *err = NULL;
        if (ek_rt_container_kill(k->rt, k->names.v[i], k->sig, &err) < 0) {
            EK_LOG(EK_DEBUG, "kubelet", "kill container=%s: %s", k->names.v[i], ek_error_msg(err));
            ek_error_free(err);
        }
    }
}

static void kill_done(kl_job_t *j)
{
    struct kill_job *k = ek_container_of(j, struct kill_job, j);
    kl_pod_t *p = j->pod;
    ek_strlist_free(&k->names);
    free(k);
    ek__kl_pod_job_end(p);
}

void ek__kl_job_kill(kl_pod_t *p, int sig)
{
    struct kill_job *k = ek_new(struct kill_job);
    k->j.pod = p;
    k->j.run = kill_run;
    k->j.done = kill_done;
    k->rt = p->rt;
    k->sig = sig;
    for (size_t i = 0; i < p->nc; i++) {
        kl_ctr_t *c = &p->c[i];
        if (c->attempt >= 0 && (c->cur.state == EK_RT_RUNNING || c->cur.state == EK_RT_CREATED)) {
            char *n = ek__kl_rt_name(c, c->attempt);
            ek_strlist_add(&k->names, n);
            free(n);
        }
    }
    ek__kl_job_queue(p->kl, &k->j);
}

/* ---- teardown ---- */

struct teardown_job {
    kl_job_t j;
    ek_rt_pod_t *rt;
    char *uid, *pod_dir, *log_dir;
    bool host_net, keep_volumes;
    ek_podnet_hostport_t *hp;
    size_t nhp;
    ek_strlist_t holds;
};

static void teardown_run(kl_job_t *j)
{
    struct teardown_job *t = ek_container_of(j, struct teardown_job, j);
    ek_kubelet_t *kl = j->kl;
    if (t->rt && ek_rt_pod_remove(t->rt, &j->err) < 0) {
        EK_LOG(EK_WARN, "kubelet", "remove pod sandbox uid=%s: %s", t->uid, ek_error_msg(j->err));
        ek_error_clear(&j->err);
    }
    if (!t->host_net) {
        ek_podnet_pod_t pp = {
            .id = t->uid, .netns_fd = -1, .hostports = t->hp, .n_hostports = t->nhp
        };
        uv_mutex_lock(&kl->net_mu);
        if (kl->net && ek_podnet_detach(kl->net, &pp, &j->err) < 0) {
            EK_LOG(EK_WARN, "kubelet", "detach pod uid=%s: %s", t->uid, ek_error_msg(j->err));
            ek_error_clear(&j->err);
        }
        uv_mutex_unlock(&kl->net_mu);
    }
    if (!t->keep_volumes) {
        ek__kl_volumes_cleanup(t->pod_dir, NULL);
        for (size_t i = 0; i < t->holds.n; i++) {
            ek_image_release(kl->images, t->holds.v[i], NULL);
        }
    }
    if (t->log_dir) {
        ek_rm_rf(t->log_dir, NULL);
    }
}

static bool pod_deleting(const kl_pod_t *p)
{
    return p->gone || ek_json_str(p->obj, "metadata", "deletionTimestamp", NULL);
}

static void teardown_done(kl_job_t *j)
{
    struct teardown_job *t = ek_container_of(j, struct teardown_job, j);
    kl_pod_t *p = j->pod;
    p->rt = NULL; /* ek_rt_pod_remove freed the handle */
    if (!p->terminal && !pod_deleting(p)) {
        /* The sandbox died under a running pod: it is made again, with its volumes. */
        p->rt_dead = p->killing = p->sigkilled = false;
    } else {
        p->torn_down = true;
        free(p->vol_applied);
        p->vol_applied = NULL;
    }
    p->logs_removed = p->logs_removed || t->log_dir;
    free(t->uid);
    free(t->pod_dir);
    free(t->log_dir);
    free(t->hp);
    ek_strlist_free(&t->holds);
    free(t);
    ek__kl_pod_job_end(p);
}

static char *pod_log_dir(const ek_kubelet_t *kl, const kl_pod_t *p)
{
    return ek_xasprintf("%s/%s_%s_%s", kl->log_dir, p->ns, p->name, p->uid);
}

void ek__kl_job_teardown(kl_pod_t *p, bool remove_logs)
{
    ek_kubelet_t *kl = p->kl;
    ek__kl_pod_stop_events(p);
    struct teardown_job *t = ek_new(struct teardown_job);
    t->j.pod = p;
    t->j.run = teardown_run;
    t->j.done = teardown_done;
    t->rt = p->rt;
    t->uid = ek_xstrdup(p->uid);
    t->pod_dir = ek__kl_pod_dir(kl, p->uid);
    t->log_dir = remove_logs ? pod_log_dir(kl, p) : NULL;
    t->host_net = ek__kl_pod_is_host_network(p);
    t->keep_volumes = !p->terminal && !pod_deleting(p);
    t->hp = host_ports(p->obj, &t->nhp);
    for (size_t i = 0; i < p->nc; i++) {
        char *key = ek_xasprintf("%s-%s", p->uid, p->c[i].base);
        ek_strlist_add(&t->holds, key);
        free(key);
    }
    ek__kl_job_queue(kl, &t->j);
}

struct rmlogs_job {
    kl_job_t j;
    char *dir;
};

static void rmlogs_run(kl_job_t *j)
{
    struct rmlogs_job *r = ek_container_of(j, struct rmlogs_job, j);
    ek_rm_rf(r->dir, NULL);
}

static void rmlogs_done(kl_job_t *j)
{
    struct rmlogs_job *r = ek_container_of(j, struct rmlogs_job, j);
    kl_pod_t *p = j->pod;
    p->logs_removed = true;
    free(r->dir);
    free(r);
    ek__kl_pod_job_end(p);
}

void ek__kl_job_remove_logs(kl_pod_t *p)
{
    struct rmlogs_job *r = ek_new(struct rmlogs_job);
    r->j.pod = p;
    r->j.run = rmlogs_run;
    r->j.done = rmlogs_done;
    r->dir = pod_log_dir(p->kl, p);
    ek__kl_job_queue(p->kl, &r->j);
}

/* ---- termination messages ---- */

char *ek__kl_termination_message(kl_pod_t *p, kl_ctr_t *c)
{
    ek_autofree char *dir = ek__kl_pod_dir(p->kl, p->uid);
    ek_autofree char *path =
        ek_xasprintf("%s/containers/%s/%d-termination-log", dir, c->base, c->attempt);
    size_t len = 0;
    char *msg = ek_file_read(path, 65536, &len, NULL);
    if (msg && len > 4096) {
        msg[4096] = '\0';
    }
    if (msg && *msg) {
        return msg;
    }
    free(msg);
    json_t *spec = ek__kl_ctr_spec(p, c);
    if (c->cur.exit_code != 0 &&
        ek_streq(ek_json_str(spec, "terminationMessagePolicy", NULL), "FallbackToLogsOnError")) {
        ek_autofree char *log = ek__kl_log_path(p->kl, p->ns, p->name, p->uid, c->name, c->attempt);
        return ek__kl_log_tail(log, 80, 2048);
    }
    return NULL;
}

/* ---- images ---- */

struct pull_ctx {
    kl_pod_t *p;
    char *name, *ref;
    uint64_t start_ms;
};

static void fmt_secs(uint64_t ms, char *buf, size_t len)
{
    if (ms < 1000) {
        snprintf(buf, len, "%llums", (unsigned long long)ms);
    } else {
        snprintf(buf, len, "%.3fs", (double)ms / 1000.0);
    }
}

static void pull_failed(kl_pod_t *p, kl_ctr_t *c, const char *ref, const char *msg)
{
    ek__kl_event(p, "Warning", "Failed", "Failed to pull image \"%s\": %s", ref, msg);
    ek__kl_event(p, "Warning", "Failed", "Error: ErrImagePull");
    ek__kl_set_reason(c, "ErrImagePull", msg);
    int64_t now = ek_wall_ms();
    c->pull_backoff_ms = c->pull_backoff_ms && now - c->pull_updated < 2 * EK__KL_BACKOFF_MAX_MS
                             ? EK_MIN(c->pull_backoff_ms * 2, EK__KL_BACKOFF_MAX_MS)
                             : EK__KL_BACKOFF_INITIAL_MS;
    c->pull_updated = now;
    c->pull_retry_at = now + c->pull_backoff_ms;
    ek__kl_pod_wake(p, c->pull_retry_at);
}

static void use_image(kl_ctr_t *c, ek_image_info_t *info, const char *ref)
{
    if (c->image) {
        ek_image_info_free(c->image);
    }
    c->image = info;
    free(c->image_ref);
    c->image_ref = ek_xstrdup(ref);
    c->pull_backoff_ms = 0;
    c->pull_retry_at = 0;
    if (c->reason && (strstr(c->reason, "Image") || strstr(c->reason, "ErrImage"))) {
        ek__kl_set_reason(c, NULL, NULL);
    }
}

static void pull_done(ek_image_info_t *info, ek_error_t *err, void *data)
{
    struct pull_ctx *pc = data;
    kl_pod_t *p = pc->p;
    p->pulls--;
    kl_ctr_t *c = ek__kl_ctr_by_name(p, pc->name);
    if (c) {
        c->pulling = false;
    }
    if (!c || p->closing || p->freeing || p->kl->stopping) {
        if (info) {
            ek_image_info_free(info);
        }
    } else if (info) {
        char took[32];
        fmt_secs(ek_now_ms() - pc->start_ms, took, sizeof(took));
        ek__kl_event(p, "Normal", "Pulled",
                     "Successfully pulled image \"%s\" in %s (%s including waiting). Image size: "
                     "%llu bytes.",
                     pc->ref, took, took, (unsigned long long)info->size);
        use_image(c, info, pc->ref);
    } else {
        pull_failed(p, c, pc->ref, ek_error_msg(err));
    }
    free(pc->name);
    free(pc->ref);
    free(pc);
    ek__kl_pod_sync(p);
}

/* dockerconfigjson of the pod's imagePullSecrets, as one JSON array text (NULL if none). */
static char *pull_auth(kl_pod_t *p)
{
    ek_autobuf b = EK_BUF_INIT;
    size_t i;
    json_t *ref;
    json_array_foreach (ek_json_path(p->obj, "spec", "imagePullSecrets", NULL), i, ref) {
        json_t *s = ek__kl_secret(p->kl, p->ns, ek_json_str(ref, "name", NULL) ?: "");
        const char *b64 = ek_json_str(s, "data", ".dockerconfigjson", NULL);
        size_t len;
        ek_autofree char *text = b64 ? ek_base64_decode(b64, &len) : NULL;
        if (text) {
            ek_buf_printf(&b, "%s%s", b.len ? "," : "[", text);
        }
    }
    if (!b.len) {
        return NULL;
    }
    ek_buf_putc(&b, ']');
    return ek_buf_steal(&b, NULL);
}

static void start_pull(kl_pod_t *p, kl_ctr_t *c, const char *ref, ek_image_pull_policy_t policy)
{
    struct pull_ctx *pc = ek_new(struct pull_ctx);
    pc->p = p;
    pc->name = ek_xstrdup(c->name);
    pc->ref = ek_xstrdup(ref);
    pc->start_ms = ek_now_ms();
    ek_autofree char *auth = pull_auth(p);
    ek_image_pull_options_t o = { .auth_json = auth };
    ek__kl_event(p, "Normal", "Pulling", "Pulling image \"%s\"", ref);
    ek_error_t *err = NULL;
    c->pulling = true;
    p->pulls++;
    if (ek_image_ensure(p->kl->images, p->kl->loop, ref, policy, &o, pull_done, pc, &err) < 0) {
        p->pulls--;
        c->pulling = false;
        pull_failed(p, c, ref, ek_error_msg(err));
        ek_error_free(err);
        free(pc->name);
        free(pc->ref);
        free(pc);
    }
}

bool ek__kl_image_ready(kl_pod_t *p, kl_ctr_t *c, int64_t now)
{
    json_t *spec = ek__kl_ctr_spec(p, c);
    const char *ref = ek_json_str(spec, "image", NULL) ?: "";
    if (c->image && ek_streq(c->image_ref, ref)) {
        return true;
    }
    if (c->pulling) {
        return false;
    }
    if (c->pull_retry_at > now) {
        if (!ek_streq(c->reason, "ImagePullBackOff")) {
            ek__kl_event(p, "Normal", "BackOff", "Back-off pulling image \"%s\"", ref);
            ek_autofree char *msg = ek_xasprintf("Back-off pulling image \"%s\": ErrImagePull: %s",
                                                 ref, c->message ? c->message : "");
            ek__kl_set_reason(c, "ImagePullBackOff", msg);
        }
        ek__kl_pod_wake(p, c->pull_retry_at);
        return false;
    }
    ek_error_t *err = NULL;
    ek_autofree char *norm = ek_image_ref_normalize(ref, &err);
    if (!norm) {
        ek_autofree char *msg = ek_xasprintf("Failed to apply default image tag \"%s\": couldn't "
                                             "parse image name \"%s\": invalid reference format",
                                             ref, ref);
        if (!ek_streq(c->reason, "InvalidImageName")) {
            ek__kl_event(p, "Warning", "InspectFailed", "%s", msg);
            ek__kl_event(p, "Warning", "Failed", "Error: InvalidImageName");
        }
        ek__kl_set_reason(c, "InvalidImageName", msg);
        ek_error_free(err);
        return false;
    }
    int policy = ek_image_pull_policy_parse(ek_json_str(spec, "imagePullPolicy", NULL), ref);
    if (policy != EK_IMAGE_PULL_ALWAYS) {
        ek_image_info_t *info = ek_image_resolve(p->kl->images, ref, NULL);
        if (info) {
            ek__kl_event(p, "Normal", "Pulled", "Container image \"%s\" already present on machine",
                         ref);
            use_image(c, info, ref);
            return true;
        }
        if (policy == EK_IMAGE_PULL_NEVER) {
            ek_autofree char *msg = ek_xasprintf(
                "Container image \"%s\" is not present with pull policy of Never", ref);
            if (!ek_streq(c->reason, "ErrImageNeverPull")) {
                ek__kl_event(p, "Warning", "ErrImageNeverPull", "%s", msg);
            }
            ek__kl_set_reason(c, "ErrImageNeverPull", msg);
            ek__kl_pod_wake(p, now + 5000); /* an air-gap import may bring it */
            return false;
        }
    }
    start_pull(p, c, ref, policy < 0 ? EK_IMAGE_PULL_IF_NOT_PRESENT : policy);
    return false;
}

/* ---- adoption ---- */

struct adopt_item {
    ek_rt_pod_t *rt;
    bool alive;
    int ev_fd;
    ek_rt_status_t *sts;
    size_t n;
};

struct adopt_job {
    kl_job_t j;
    struct adopt_item *it;
    size_t n;
    ek_strlist_t known; /* uids of the pods the API binds to this node */
    bool offline;       /* known comes from the local cache: leave unknown sandboxes alone */
};

static bool known_uid(const ek_strlist_t *l, const char *uid, size_t len)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strlen(l->v[i]) == len && strncmp(l->v[i], uid, len) == 0) {
            return true;
        }
    }
    return false;
}

/* Pod directories and log directories of pods that no longer exist (deleted while no agent
 * ran): their sandboxes are handled by adoption, the rest is removed here. */
static void sweep(const char *dir, const ek_strlist_t *known, bool logs)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') {
            continue;
        }
        const char *uid = logs ? strrchr(de->d_name, '_') : de->d_name;
        uid = uid && logs ? uid + 1 : uid;
        if (!uid || known_uid(known, uid, strlen(uid))) {
            continue;
        }
        ek_autofree char *p = ek_xasprintf("%s/%s", dir, de->d_name);
        if (logs) {
            ek_rm_rf(p, NULL);
        } else {
            ek__kl_volumes_cleanup(p, NULL);
        }
    }
    if (d) {
        closedir(d);
    }
}

static void adopt_run(kl_job_t *j)
{
    struct adopt_job *a = ek_container_of(j, struct adopt_job, j);
    ek_kubelet_t *kl = j->kl;
    ek_rt_pod_t **pods = NULL;
    size_t n = 0;
    if (ek_rt_adopt(kl->rt, &pods, &n, &j->err) < 0) {
        return;
    }
    a->it = ek_xcalloc(n + 1, sizeof(*a->it));
    a->n = n;
    for (size_t i = 0; i < n; i++) {
        struct adopt_item *it = &a->it[i];
        it->rt = pods[i];
        it->ev_fd = -1;
        it->alive = ek_rt_pod_alive(pods[i]);
        bool known = known_uid(&a->known, ek_rt_pod_uid(pods[i]), strlen(ek_rt_pod_uid(pods[i])));
        if (!known && a->offline) {
            /* Without the API, a sandbox the cache does not know may still be wanted. */
            ek_rt_pod_close(it->rt);
            it->rt = NULL;
            continue;
        }
        if (!known) {
            ek_rt_pod_t *gone = it->rt;
            it->rt = NULL;
            EK_LOG(EK_INFO, "kubelet", "removing the sandbox of a deleted pod uid=%s",
                   ek_rt_pod_uid(gone));
            ek_rt_pod_remove(gone, NULL);
            continue;
        }
        if (it->alive) {
            it->ev_fd = ek_rt_pod_events(pods[i], NULL); /* subscribe first, then list */
        }
        ek_rt_container_list(pods[i], &it->sts, &it->n, NULL);
    }
    free(pods);
    if (!a->offline) {
        sweep(kl->pods_dir, &a->known, false);
        sweep(kl->log_dir, &a->known, true);
    }
}

/* Runtime instances → the container records: the newest is the current one, the one before
 * it the last state. */
static void adopt_containers(kl_pod_t *p, struct adopt_item *it)
{
    for (size_t i = 0; i < it->n; i++) {
        ek_rt_status_t *st = &it->sts[i];
        const char *dot = st->name ? strrchr(st->name, '.') : NULL;
        kl_ctr_t *c = NULL;
        for (size_t k = 0; dot && k < p->nc; k++) {
            if (strlen(p->c[k].base) == (size_t)(dot - st->name) &&
                strncmp(p->c[k].base, st->name, (size_t)(dot - st->name)) == 0) {
                c = &p->c[k];
            }
        }
        if (!c) {
            continue;
        }
        int attempt = atoi(dot + 1);
        if (attempt > c->attempt) {
            if (c->attempt >= 0) {
                ek_rt_status_clear(&c->prev);
                c->prev = c->cur;
                c->prev_attempt = c->attempt;
                c->have_prev = true;
            }
            c->cur = *st;
            c->attempt = attempt;
        } else if (!c->have_prev || attempt > c->prev_attempt) {
            ek_rt_status_clear(&c->prev);
            c->prev = *st;
            c->prev_attempt = attempt;
            c->have_prev = true;
        } else {
            ek_rt_status_clear(st);
        }
        memset(st, 0, sizeof(*st));
    }
}

static void adopt_pod(ek_kubelet_t *kl, kl_pod_t *p, struct adopt_item *it)
{
    p->rt = it->rt;
    it->rt = NULL;
    p->rt_dead = !it->alive;
    adopt_containers(p, it);
    for (size_t k = 0; k < p->nc; k++) {
        kl_ctr_t *c = &p->c[k];
        if (c->attempt < 0) {
            continue;
        }
        p->initialized = p->initialized || !c->init;
        const char *ref = ek_json_str(ek__kl_ctr_spec(p, c), "image", NULL) ?: "";
        ek_image_info_t *info = ek_image_resolve(kl->images, ref, NULL);
        if (info) {
            c->image = info;
            c->image_ref = ek_xstrdup(ref);
        }
        if (c->cur.state == EK_RT_EXITED) {
            c->cur_msg = ek__kl_termination_message(p, c);
        }
    }
    if (it->ev_fd >= 0) {
        ek__kl_pod_start_events(p, it->ev_fd);
        it->ev_fd = -1;
    }
    EK_LOG(EK_INFO, "kubelet", "adopted pod=%s/%s alive=%d containers=%zu", p->ns, p->name,
           it->alive, it->n);
}

static void adopt_done(kl_job_t *j)
{
    struct adopt_job *a = ek_container_of(j, struct adopt_job, j);
    ek_kubelet_t *kl = j->kl;
    if (j->err) {
        EK_LOG(EK_WARN, "kubelet", "adoption: %s", ek_error_msg(j->err));
        ek_error_free(j->err);
    }
    for (size_t i = 0; i < a->n; i++) {
        struct adopt_item *it = &a->it[i];
        kl_pod_t *p = it->rt ? ek_map_get(&kl->by_uid, ek_rt_pod_uid(it->rt)) : NULL;
        if (p && !kl->stopping) {
            adopt_pod(kl, p, it);
        }
        if (it->rt) {
            ek_rt_pod_close(it->rt);
        }
        if (it->ev_fd >= 0) {
            close(it->ev_fd);
        }
        for (size_t k = 0; k < it->n; k++) {
            ek_rt_status_clear(&it->sts[k]);
        }
        free(it->sts);
    }
    free(a->it);
    ek_strlist_free(&a->known);
    free(a);
    kl->adopting = false;
    kl->adopted = true;
    if (!kl->stopping) {
        ek__kl_node_changed(kl); /* the pod network can be reconciled now */
        ek__kl_sync_all(kl);
    }
}

void ek__kl_adopt(ek_kubelet_t *kl)
{
    if (kl->adopted || kl->adopting || kl->stopping) {
        return;
    }
    kl->adopting = true;
    struct adopt_job *a = ek_new(struct adopt_job);
    a->j.run = adopt_run;
    a->j.done = adopt_done;
    a->offline = !ek_informer_synced(kl->pods); /* started from the cache (kubelet_cache.c) */
    size_t it = 0;
    const char *k;
    void *v;
    while (ek_map_next(&kl->by_uid, &it, &k, &v)) {
        ek_strlist_add(&a->known, k);
    }
    ek__kl_job_queue(kl, &a->j);
}
