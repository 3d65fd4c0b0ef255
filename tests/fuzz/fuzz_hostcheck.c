/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the host-check parsers (node/hostcheck.c) on arbitrary bytes, read as
 * /proc/cgroups, /proc/filesystems, a kernel command line, a kernel config, a release string
 * and a mountinfo. Answers stay within their documented ranges, and a command line that ends
 * in cgroup_disable=memory (with no "--" before it) disables the memory controller.
 */
#include "node/node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = ek_xstrndup((const char *)data, size);
    static const char *const names[] = { "cpu", "memory", "pids", "cpuset", "" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(names); i++) {
        int h = -7, en = -7;
        int found = ek_hc_proc_cgroups(s, names[i], &h, &en);
        ek_assert(found == 0 || found == 1);
        ek_assert(found == 1 || (h == -7 && en == -7));
        int c = ek_hc_cmdline_cgroup(s, names[i]);
        ek_assert(c >= -1 && c <= 1);
        char v = ek_hc_config_value(s, names[i]);
        ek_assert(v == 0 || v == 'y' || v == 'm');
    }
    (void)ek_hc_filesystems_has(s, "overlay");
    int major, minor;
    (void)ek_hc_parse_release(s, &major, &minor);
    char v2[256];
    const char *mode = ek_hc_mountinfo_mode(s, v2, sizeof(v2));
    ek_assert(strcmp(mode, "v1") == 0 || strcmp(mode, "v2") == 0 || strcmp(mode, "hybrid") == 0 ||
              strcmp(mode, "none") == 0);
    ek_assert((v2[0] != 0) == (strcmp(mode, "v2") == 0 || strcmp(mode, "hybrid") == 0));
    if (!strstr(s, "--")) {
        char *off = ek_xasprintf("%s cgroup_disable=memory", s);
        ek_assert(ek_hc_cmdline_cgroup(off, "memory") == 0);
        free(off);
    }
    free(s);
    return 0;
}
