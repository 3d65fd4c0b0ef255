/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource usage of a pod's or a container's cgroup, for the kubelet's stats: CPU time used
 * (v1 cpuacct.usage, v2 cpu.stat usage_usec) and memory (usage, and the working set the
 * kubelet reports: usage minus inactive file pages; v1 memory.usage_in_bytes with
 * memory.stat total_inactive_file, v2 memory.current with memory.stat inactive_file). The
 * cgroup directories come from the pod's record (pod.json), as the shim placed them.
 */
#include <errno.h>
#include <stdio.h>

#include "node/runtime/runtime-internal.h"

static bool read_u64(const char *dir, const char *file, uint64_t *out)
{
    ek_autofree char *path = ek_xasprintf("%s/%s", dir, file);
    ek_autofree char *text = ek_file_read(path, 4096, NULL, NULL);
    if (!text) {
        return false;
    }
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text) {
        return false;
    }
    *out = v;
    return true;
}

/* A "key value" line of a stat file. */
static bool read_stat(const char *dir, const char *file, const char *key, uint64_t *out)
{
    ek_autofree char *path = ek_xasprintf("%s/%s", dir, file);
    ek_autofree char *text = ek_file_read(path, 1 << 16, NULL, NULL);
    size_t kl = strlen(key);
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            *out = strtoull(line + kl + 1, NULL, 10);
            return true;
        }
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

int ek__rt_cg_usage(const ek__cg_t *cg, ek_rt_usage_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    bool cpu = false, mem = false;
    for (size_t i = 0; i < cg->n; i++) {
        const char *d = cg->dir[i];
        if (cg->version == 2) {
            uint64_t usec = 0, inactive = 0;
            if (read_stat(d, "cpu.stat", "usage_usec", &usec)) {
                out->cpu_ns = usec * 1000;
                cpu = true;
            }
            if (read_u64(d, "memory.current", &out->memory_usage)) {
                mem = true;
                read_stat(d, "memory.stat", "inactive_file", &inactive);
                out->memory_working_set =
                    out->memory_usage > inactive ? out->memory_usage - inactive : 0;
            }
        } else if (strcmp(cg->name[i], "cpuacct") == 0 || strcmp(cg->name[i], "cpu") == 0) {
            cpu = cpu || read_u64(d, "cpuacct.usage", &out->cpu_ns);
        } else if (strcmp(cg->name[i], "memory") == 0) {
            uint64_t inactive = 0;
            if (read_u64(d, "memory.usage_in_bytes", &out->memory_usage)) {
                mem = true;
                read_stat(d, "memory.stat", "total_inactive_file", &inactive);
                out->memory_working_set =
                    out->memory_usage > inactive ? out->memory_usage - inactive : 0;
            }
        }
    }
    if (!cpu && !mem) {
        return ek_error_make(err, ENOENT, "no cgroup usage at %s", cg->n ? cg->dir[0] : "?");
    }
    return 0;
}

int ek_rt_usage(ek_rt_pod_t *pod, const char *container, ek_rt_usage_t *out, ek_error_t **err)
{
    ek_autofree char *rec = ek_xasprintf("%s/pod.json", pod->dir);
    json_error_t je;
    ek_auto(json_t) j = json_load_file(rec, 0, &je);
    if (!j) {
        return ek_error_make(err, ENOENT, "pod record %s: %s", rec, je.text);
    }
    ek__cg_t cg;
    if (ek__cg_from_json(json_object_get(j, "cgroup"), &cg, err) < 0) {
        return -1;
    }
    int rc;
    if (container) {
        if (!ek__rt_name_ok(container, 255)) {
            ek__cg_free(&cg);
            return ek_error_make(err, EINVAL, "bad container name");
        }
        ek__cg_t c;
        ek__cg_child(&cg, container, &c);
        rc = ek__rt_cg_usage(&c, out, err);
        ek__cg_free(&c);
    } else {
        rc = ek__rt_cg_usage(&cg, out, err);
    }
    ek__cg_free(&cg);
    return rc;
}

int ek_rt_node_usage(ek_rt_usage_t *out, uint64_t *memory_total, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    ek_autofree char *stat = ek_file_read("/proc/stat", 1 << 20, NULL, err);
    if (!stat) {
        return -1;
    }
    unsigned long long v[8] = { 0 };
    if (sscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) < 4) {
        return ek_error_make(err, EINVAL, "/proc/stat: no cpu line");
    }
    long hz = sysconf(_SC_CLK_TCK);
    /* busy time: everything but idle (3) and iowait (4) */
    uint64_t ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    out->cpu_ns = ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
    ek_autofree char *mi = ek_file_read("/proc/meminfo", 1 << 16, NULL, err);
    if (!mi) {
        return -1;
    }
    unsigned long long total = 0, avail = 0;
    const char *t = strstr(mi, "MemTotal:"), *a = strstr(mi, "MemAvailable:");
    if (!t || !a || sscanf(t, "MemTotal: %llu", &total) != 1 ||
        sscanf(a, "MemAvailable: %llu", &avail) != 1) {
        return ek_error_make(err, EINVAL, "/proc/meminfo: no MemTotal/MemAvailable");
    }
    out->memory_usage = (total - avail) * 1024;
    out->memory_working_set = out->memory_usage;
    *memory_total = total * 1024;
    return 0;
}
