/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host requirement checks (node/hostcheck.c) on crafted system files under a fake root: the
 * parsers of /proc/cgroups, /proc/filesystems, kernel command lines and kernel configs, and
 * whole reports for the machines users have — Raspberry Pi OS with the memory controller
 * disabled (the fix must name the right cmdline.txt, or say "reboot" when it is already
 * there), cgroup v2, hybrid and v1 layouts, old kernels, a kernel without memcg.
 */
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "node/node.h"
#include "tests/unit/test.h"

/* Writes text at <tmpdir>/<path>, creating the parents. */
static void put(const char *path, const char *text)
{
    ek_autofree char *full = ek_test_path(path);
    ek_autofree char *dir = ek_path_dirname(full);
    ek_error_t *err = NULL;
    ASSERT_OK(ek_mkdir_p(dir, 0755, &err), &err);
    FILE *f = fopen(full, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
}

static const ek_hc_item_t *find(const ek_hc_report_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->items[i].name, name) == 0) {
            return &r->items[i];
        }
    }
    ek__test_fail(__FILE__, __LINE__, "no item `%s` in the report", name);
}

static const char *const proc_cgroups_all =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t0\t1\t1\ncpu\t0\t1\t1\ncpuacct\t0\t1\t1\nblkio\t0\t1\t1\n"
    "memory\t0\t1\t1\ndevices\t0\t1\t1\nfreezer\t0\t1\t1\npids\t0\t1\t1\n";

/* Raspberry Pi OS 12 on a Pi 4: cgroup v2, and the kernel's own command line (from the
 * firmware) disables the memory controller. */
static const char *const rpi_proc_cgroups =
    "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
    "cpuset\t0\t63\t1\ncpu\t0\t63\t1\ncpuacct\t0\t63\t1\nblkio\t0\t63\t1\n"
    "memory\t0\t63\t0\ndevices\t0\t63\t1\nfreezer\t0\t63\t1\nnet_cls\t0\t1\t1\n"
    "pids\t0\t63\t1\n";
static const char *const rpi_cmdline =
    "coherent_pool=1M 8250.nr_uarts=0 snd_bcm2835.enable_headphones=0 cgroup_disable=memory "
    "bcm2708_fb.fbwidth=656 smsc95xx.macaddr=DC:A6:32:01:02:03 vc_mem.mem_base=0x3ec00000 "
    "console=ttyS0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes "
    "rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n";
static const char *const mountinfo_v2 =
    "22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "29 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
static const char *const mountinfo_hybrid =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void put_rpi(void)
{
    put("proc/cgroups", rpi_proc_cgroups);
    put("proc/cmdline", rpi_cmdline);
    put("proc/self/mountinfo", mountinfo_v2);
    put("sys/fs/cgroup/cgroup.controllers", "cpuset cpu io pids\n");
}

TEST(hostcheck_parse_proc_cgroups)
{
    int h = -1, en = -1;
    ASSERT_EQ(ek_hc_proc_cgroups(rpi_proc_cgroups, "memory", &h, &en), 1);
    ASSERT_EQ(h, 0);
    ASSERT_EQ(en, 0);
    ASSERT_EQ(ek_hc_proc_cgroups(rpi_proc_cgroups, "pids", &h, &en), 1);
    ASSERT_EQ(en, 1);
    /* "cpu" must not match the cpuset or cpuacct rows, nor a missing controller anything. */
    ASSERT_EQ(ek_hc_proc_cgroups("cpuset\t3\t1\t1\ncpuacct\t2\t1\t0\n", "cpu", &h, &en), 0);
    ASSERT_EQ(ek_hc_proc_cgroups(rpi_proc_cgroups, "hugetlb", &h, &en), 0);
    ASSERT_EQ(ek_hc_proc_cgroups("memory\t4\t333\t1", "memory", &h, &en), 1); /* no newline */
    ASSERT_EQ(h, 4);
    ASSERT_EQ(ek_hc_proc_cgroups("memory\tgarbage\n", "memory", &h, &en), 0);
}

TEST(hostcheck_parse_filesystems)
{
    const char *fs = "nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n\tvfat\n";
    ASSERT_TRUE(ek_hc_filesystems_has(fs, "overlay"));
    ASSERT_TRUE(ek_hc_filesystems_has(fs, "ext4"));
    ASSERT_TRUE(ek_hc_filesystems_has(fs, "vfat"));
    ASSERT_FALSE(ek_hc_filesystems_has(fs, "lay"));
    ASSERT_FALSE(ek_hc_filesystems_has("nodev\toverlayfs\n", "overlay"));
    ASSERT_FALSE(ek_hc_filesystems_has("nodev\tfuse\n", "overlay"));
    ASSERT_FALSE(ek_hc_filesystems_has("", "overlay"));
}

TEST(hostcheck_parse_cmdline)
{
    ASSERT_EQ(ek_hc_cmdline_cgroup(rpi_cmdline, "memory"), 0);
    ASSERT_EQ(ek_hc_cmdline_cgroup(rpi_cmdline, "cpu"), -1);
    /* The last word wins: what Raspberry Pi's documentation tells users to append. */
    ASSERT_EQ(ek_hc_cmdline_cgroup("cgroup_disable=memory cgroup_memory=1 cgroup_enable=memory",
                                   "memory"),
              1);
    ASSERT_EQ(ek_hc_cmdline_cgroup("cgroup_enable=memory cgroup_memory=0", "memory"), 0);
    ASSERT_EQ(ek_hc_cmdline_cgroup("cgroup_disable=cpu,memory,pids", "pids"), 0);
    ASSERT_EQ(ek_hc_cmdline_cgroup("cgroup_disable=cpuset", "cpu"), -1);
    ASSERT_EQ(ek_hc_cmdline_cgroup("cgroup_memory=1", "cpu"), -1);
    /* Words after "--" are init's, not the kernel's. */
    ASSERT_EQ(ek_hc_cmdline_cgroup("quiet -- cgroup_disable=memory", "memory"), -1);
    ASSERT_EQ(ek_hc_cmdline_cgroup("", "memory"), -1);
    ASSERT_EQ(ek_hc_cmdline_cgroup("  cgroup_enable=memory\n", "memory"), 1);
}

TEST(hostcheck_parse_config_and_release)
{
    const char *cfg = "#\n# CONFIG_USER_NS is not set\nCONFIG_NET_NS=y\nCONFIG_NETFILTER=y\n"
                      "CONFIG_NF_TABLES=m\nCONFIG_NET=y\nCONFIG_HZ=250\n";
    ASSERT_EQ(ek_hc_config_value(cfg, "NET_NS"), 'y');
    ASSERT_EQ(ek_hc_config_value(cfg, "NF_TABLES"), 'm');
    ASSERT_EQ(ek_hc_config_value(cfg, "USER_NS"), 0);
    ASSERT_EQ(ek_hc_config_value(cfg, "NET"), 'y');
    ASSERT_EQ(ek_hc_config_value(cfg, "NETFILTER_XT"), 0);
    ASSERT_EQ(ek_hc_config_value(cfg, "HZ"), 0);
    int maj = 0, min = 0;
    ASSERT_EQ(ek_hc_parse_release("6.1.21-v8+\n", &maj, &min), 0);
    ASSERT_EQ(maj, 6);
    ASSERT_EQ(min, 1);
    ASSERT_EQ(ek_hc_parse_release("linux", &maj, &min), -1);
}

/* The classic failure: the report says exactly what to add to which file. */
TEST(hostcheck_rpi_memory_disabled)
{
    put_rpi();
    put("boot/firmware/cmdline.txt", "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02"
                                     " rootfstype=ext4 fsck.repair=yes rootwait\n");
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    ASSERT_STREQ(r.cgroup_mode, "v2");
    ASSERT_STREQ(find(&r, "hierarchy")->detail, "v2 (cgroup2 at /sys/fs/cgroup)");
    const ek_hc_item_t *mem = find(&r, "memory controller");
    ASSERT_EQ(mem->state, EK_HC_MISSING);
    ASSERT_TRUE(mem->required);
    ASSERT_STREQ(mem->detail, "disabled on the kernel command line");
    ASSERT_STREQ(mem->fix, "add `cgroup_memory=1 cgroup_enable=memory` to "
                           "/boot/firmware/cmdline.txt (or /boot/cmdline.txt on older images) "
                           "and reboot");
    ASSERT_EQ(find(&r, "cpu controller")->state, EK_HC_OK);
    ASSERT_EQ(find(&r, "cpuset controller")->state, EK_HC_OK);
    ASSERT_EQ(find(&r, "pids controller")->state, EK_HC_OK);
    /* v1-only controllers are not asked of a v2 system. */
    for (size_t i = 0; i < r.n; i++) {
        ASSERT_TRUE(strcmp(r.items[i].name, "devices controller") != 0);
    }
    ASSERT_EQ(ek_hc_count(&r, true, EK_HC_MISSING), 1);
    ek_hc_report_free(&r);
}

/* An older image keeps cmdline.txt in /boot; the user already added the words but has not
 * rebooted: the fix says so instead of asking again. */
TEST(hostcheck_rpi_fixed_but_not_rebooted)
{
    put_rpi();
    put("boot/cmdline.txt", "console=tty1 root=PARTUUID=1 rootwait cgroup_memory=1 "
                            "cgroup_enable=memory\n");
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    const ek_hc_item_t *mem = find(&r, "memory controller");
    ASSERT_EQ(mem->state, EK_HC_MISSING);
    ASSERT_STREQ(mem->fix, "/boot/cmdline.txt already enables it, but the running kernel was "
                           "started without: reboot");
    ek_hc_report_free(&r);
}

/* Disabled by the kernel, with no cmdline.txt at all (not a Raspberry Pi image). */
TEST(hostcheck_memory_disabled_elsewhere)
{
    put_rpi();
    put("proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n");
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    const ek_hc_item_t *mem = find(&r, "memory controller");
    ASSERT_STREQ(mem->detail, "disabled by the kernel (see /proc/cgroups)");
    ASSERT_CONTAINS(mem->fix, "GRUB_CMDLINE_LINUX");
    ek_hc_report_free(&r);
}

TEST(hostcheck_hybrid_all_present)
{
    put("proc/cgroups", proc_cgroups_all);
    put("proc/cmdline", "console=ttyS0 quiet\n");
    put("proc/self/mountinfo", mountinfo_hybrid);
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    ASSERT_STREQ(r.cgroup_mode, "hybrid");
    ASSERT_EQ(find(&r, "devices controller")->state, EK_HC_OK);
    ASSERT_EQ(find(&r, "freezer controller")->state, EK_HC_OK);
    ASSERT_STREQ(find(&r, "memory controller")->detail, "mounted (v1)");
    ASSERT_EQ(ek_hc_count(&r, true, EK_HC_MISSING), 0);
    ek_hc_report_free(&r);
}

/* v1 without the memory hierarchy mounted, and a kernel built without the pids controller. */
TEST(hostcheck_v1_unmounted_and_unbuilt)
{
    const char *cg = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n"
                     "cpuset\t3\t1\t1\ncpu\t1\t1\t1\ncpuacct\t2\t1\t1\nmemory\t0\t1\t1\n"
                     "devices\t5\t1\t1\nfreezer\t6\t1\t1\n";
    put("proc/cgroups", cg);
    put("proc/cmdline", "quiet\n");
    put("proc/self/mountinfo",
        "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
        "33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n"
        "34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
        "36 31 0:33 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
        "37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n");
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    ASSERT_STREQ(r.cgroup_mode, "v1");
    const ek_hc_item_t *mem = find(&r, "memory controller");
    ASSERT_EQ(mem->state, EK_HC_MISSING);
    ASSERT_CONTAINS(mem->fix, "mount -t cgroup -o memory");
    const ek_hc_item_t *pids = find(&r, "pids controller");
    ASSERT_EQ(pids->state, EK_HC_MISSING);
    ASSERT_CONTAINS(pids->detail, "CONFIG_CGROUP_PIDS");
    ASSERT_EQ(find(&r, "cpu controller")->state, EK_HC_OK);
    ASSERT_EQ(ek_hc_count(&r, true, EK_HC_MISSING), 2);
    ek_hc_report_free(&r);
}

TEST(hostcheck_no_cgroups)
{
    put("proc/self/mountinfo", "22 28 0:20 / /sys rw - sysfs sysfs rw\n");
    ek_hc_report_t r = { 0 };
    ek_hc_cgroups(&r, ek_test_tmpdir());
    ASSERT_STREQ(r.cgroup_mode, "none");
    ASSERT_EQ(find(&r, "hierarchy")->state, EK_HC_MISSING);
    ek_hc_report_free(&r);
}

TEST(hostcheck_kernel_version)
{
    ek_hc_report_t r = { 0 };
    put("proc/sys/kernel/osrelease", "4.19.0-21-arm64\n");
    ek_hc_kernel_version(&r, ek_test_tmpdir());
    put("proc/sys/kernel/osrelease", "6.1.21-v8+\n");
    ek_hc_kernel_version(&r, ek_test_tmpdir());
    put("proc/sys/kernel/osrelease", "5.8.0\n");
    ek_hc_kernel_version(&r, ek_test_tmpdir());
    ASSERT_EQ(r.n, 3);
    ASSERT_EQ(r.items[0].state, EK_HC_MISSING);
    ASSERT_CONTAINS(r.items[0].detail, "4.19.0-21-arm64");
    ASSERT_EQ(r.items[1].state, EK_HC_OK);
    ASSERT_EQ(r.items[2].state, EK_HC_OK);
    ek_hc_report_free(&r);
}

/* /boot/config-<release> when the kernel has no /proc/config.gz, and the gzip one first. */
TEST(hostcheck_kernel_config)
{
    put("proc/sys/kernel/osrelease", "6.1.0-18-arm64\n");
    put("boot/config-6.1.0-18-arm64", "CONFIG_NAMESPACES=y\nCONFIG_MEMCG=y\nCONFIG_VXLAN=m\n");
    ek_hc_report_t r = { 0 };
    ek_hc_kernel_config(&r, ek_test_tmpdir());
    ASSERT_CONTAINS(find(&r, "config")->detail, "/boot/config-6.1.0-18-arm64");
    ASSERT_EQ(find(&r, "CONFIG_MEMCG")->state, EK_HC_OK);
    ASSERT_CONTAINS(find(&r, "CONFIG_VXLAN")->detail, "module");
    ASSERT_EQ(find(&r, "CONFIG_OVERLAY_FS")->state, EK_HC_MISSING);
    ASSERT_TRUE(find(&r, "CONFIG_OVERLAY_FS")->required);
    ek_hc_report_free(&r);

    ek_autofree char *gz = ek_test_path("proc/config.gz");
    gzFile f = gzopen(gz, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_CMP(gzputs(f, "CONFIG_OVERLAY_FS=m\n"), >, 0);
    ASSERT_EQ(gzclose(f), Z_OK);
    ek_hc_kernel_config(&r, ek_test_tmpdir());
    ASSERT_STREQ(find(&r, "config")->detail, "read from /proc/config.gz");
    ASSERT_EQ(find(&r, "CONFIG_OVERLAY_FS")->state, EK_HC_OK);
    ASSERT_EQ(find(&r, "CONFIG_MEMCG")->state, EK_HC_MISSING);
    ek_hc_report_free(&r);

    /* Neither: one optional item that says the live probes decide. */
    ek_hc_report_t none = { 0 };
    ek_hc_kernel_config(&none, "/nonexistent-root");
    ASSERT_EQ(none.n, 1);
    ASSERT_EQ(none.items[0].state, EK_HC_UNKNOWN);
    ASSERT_FALSE(none.items[0].required);
    ek_hc_report_free(&none);
}

TEST(hostcheck_overlay_and_fuse_files)
{
    put("proc/filesystems", "nodev\tsysfs\n\text4\n");
    ASSERT_FALSE(ek_hc_overlay_listed(ek_test_tmpdir()));
    put("proc/filesystems", "nodev\tsysfs\n\text4\nnodev\toverlay\n");
    ASSERT_TRUE(ek_hc_overlay_listed(ek_test_tmpdir()));
    ek_hc_report_t r = { 0 };
    ek_hc_fuse(&r, ek_test_tmpdir()); /* no dev/fuse */
    put("dev/fuse", "");              /* a regular file is not the device */
    ek_hc_fuse(&r, ek_test_tmpdir());
    ASSERT_EQ(r.items[0].state, EK_HC_MISSING);
    ASSERT_EQ(r.items[1].state, EK_HC_MISSING);
    ASSERT_FALSE(r.items[0].required);
    ek_hc_report_free(&r);
    ek_hc_fuse(&r, ""); /* the real one, when this machine has it */
    ASSERT_EQ(r.items[0].state, access("/dev/fuse", F_OK) == 0 ? EK_HC_OK : EK_HC_MISSING);
    ek_hc_report_free(&r);
}
