/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Capabilities: the default set a Kubernetes container gets from containerd, the
 * securityContext add/drop rules (containerd's order: "ALL" first, then single names), and
 * applying the result with capset(2) directly so that no libcap is needed. Inheritable and
 * ambient sets stay empty (CVE-2022-24769), so a non-root user ends with no capabilities after
 * exec, as with containerd.
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "node/runtime/runtime-internal.h"

static const char *const cap_names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

/* containerd's default capabilities for CRI containers. */
static const int default_caps[] = { 0 /* CHOWN */,
                                    1 /* DAC_OVERRIDE */,
                                    4 /* FSETID */,
                                    3 /* FOWNER */,
                                    27 /* MKNOD */,
                                    13 /* NET_RAW */,
                                    6 /* SETGID */,
                                    7 /* SETUID */,
                                    31 /* SETFCAP */,
                                    8 /* SETPCAP */,
                                    10 /* NET_BIND_SERVICE */,
                                    18 /* SYS_CHROOT */,
                                    5 /* KILL */,
                                    29 /* AUDIT_WRITE */ };

int ek__rt_cap_from_name(const char *name)
{
    if (strncasecmp(name, "CAP_", 4) == 0) {
        name += 4;
    }
    for (size_t i = 0; i < EK_ARRAY_SIZE(cap_names); i++) {
        if (strcasecmp(name, cap_names[i]) == 0) {
            return (int)i;
        }
    }
    return -1;
}

int ek__rt_cap_last(void)
{
    ek_autofree char *s = ek_file_read("/proc/sys/kernel/cap_last_cap", 64, NULL, NULL);
    int last = s ? atoi(s) : (int)EK_ARRAY_SIZE(cap_names) - 1;
    return last > 0 && last < 64 ? last : (int)EK_ARRAY_SIZE(cap_names) - 1;
}

static bool has_all(const char *const *v)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (strcasecmp(v[i], "ALL") == 0) {
            return true;
        }
    }
    return false;
}

/* Applies single names (not "ALL") of v to *mask: set or cleared. */
static int apply_names(const char *const *v, bool set, uint64_t *mask, ek_error_t **err)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (strcasecmp(v[i], "ALL") == 0) {
            continue;
        }
        int c = ek__rt_cap_from_name(v[i]);
        if (c < 0) {
            return ek_error_make(err, EINVAL, "unknown capability `%s`", v[i]);
        }
        *mask = set ? *mask | (1ULL << c) : *mask & ~(1ULL << c);
    }
    return 0;
}

int ek__rt_caps_mask(const ek_rt_container_spec_t *spec, int last_cap, uint64_t *mask,
                     ek_error_t **err)
{
    uint64_t all = last_cap >= 63 ? ~0ULL : (1ULL << (last_cap + 1)) - 1;
    if (spec->privileged) {
        *mask = all;
        return 0;
    }
    uint64_t m = 0;
    for (size_t i = 0; i < EK_ARRAY_SIZE(default_caps); i++) {
        m |= 1ULL << default_caps[i];
    }
    if (has_all(spec->cap_add)) {
        m = all;
    }
    if (has_all(spec->cap_drop)) {
        m = 0;
    }
    if (apply_names(spec->cap_add, true, &m, err) < 0 ||
        apply_names(spec->cap_drop, false, &m, err) < 0) {
        return -1;
    }
    *mask = m & all;
    return 0;
}

int ek__rt_caps_drop_bounding(uint64_t mask, int last_cap, ek_error_t **err)
{
    for (int c = 0; c <= last_cap; c++) {
        if (!(mask & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
            return ek_error_make(err, errno, "drop capability %d from the bounding set", c);
        }
    }
    return 0;
}

int ek__rt_caps_apply(uint64_t mask, ek_error_t **err)
{
    struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    /* Nobody gets more than the runtime has (a privileged container in a confined agent). */
    if (syscall(SYS_capget, &hdr, data) == 0) {
        mask &= (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    }
    memset(data, 0, sizeof(data));
    data[0].effective = data[0].permitted = (uint32_t)mask;
    data[1].effective = data[1].permitted = (uint32_t)(mask >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) {
        return ek_error_make(err, errno, "set capabilities");
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        return ek_error_make(err, errno, "clear ambient capabilities");
    }
    return 0;
}
