/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/image: reference normalisation, SHA-256, the tar reader (ustar, GNU, PAX, links,
 * devices, xattrs), layer unpacking (whiteouts, opaque dirs, escapes), imports of archives
 * built by tests/fixtures/mkimage.sh (OCI, docker save legacy and Docker 25, compressed,
 * several images, index platform selection), GC and holds, crash safety, bad input, pulls
 * from a fake registry on loopback (bearer tokens, redirects, 500s, bad digests, stalls),
 * registries.yaml and the air-gap directory watcher.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "node/image/image-internal.h"
#include "tests/unit/http_testutil.h"
#include "tests/unit/test.h"

/* ---- helpers ---- */

static void sh(const char *fmt, ...) EK_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = NULL;
    ek_assert(vasprintf(&cmd, fmt, ap) >= 0);
    va_end(ap);
    int rc = system(cmd);
    if (rc != 0) {
        ek__test_fail(__FILE__, __LINE__, "command failed (%d): %s", rc, cmd);
    }
    free(cmd);
}

/* Builds an archive with the fixture script: env is "VAR=x VAR2=y" or "". */
static char *mkimage(const char *env, const char *format, const char *file, const char *name)
{
    char *path = ek_test_path(file);
    sh("%s tests/fixtures/mkimage.sh %s %s '%s'", env, format, path, name);
    return path;
}

static ek_image_store_t *open_store(const char *platform, uint64_t max_layer)
{
    ek_autofree char *dir = ek_test_path("store");
    ek_autofree char *reg = ek_test_path("registries.yaml");
    ek_image_store_options_t o = { .registries_yaml = reg,
                                   .platform = platform,
                                   .max_layer_bytes = max_layer };
    ek_error_t *err = NULL;
    ek_image_store_t *s = ek_image_store_open(dir, &o, &err);
    ASSERT_OK(s ? 0 : -1, &err);
    return s;
}

static size_t count_dir(const char *rel)
{
    ek_autofree char *p = ek_test_path(rel);
    ek_autofree char *cmd = ek_xasprintf("ls -A '%s' | wc -l", p);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    ek_assert(fscanf(f, "%zu", &n) == 1);
    pclose(f);
    return n;
}

/* A tar built in memory. */
static void tar_header(ek_buf_t *b, const char *name, char type, unsigned mode, uint64_t size,
                       const char *link, unsigned devmaj, unsigned devmin)
{
    char h[512] = { 0 };
    snprintf(h, 100, "%s", name);
    snprintf(h + 100, 8, "%07o", mode);
    snprintf(h + 108, 8, "%07o", 1000);
    snprintf(h + 116, 8, "%07o", 1000);
    snprintf(h + 124, 12, "%011llo", (unsigned long long)size);
    snprintf(h + 136, 12, "%011o", 1700000000);
    memset(h + 148, ' ', 8);
    h[156] = type;
    snprintf(h + 157, 100, "%s", link ? link : "");
    memcpy(h + 257,
           "ustar\0"
           "00",
           8);
    snprintf(h + 329, 8, "%07o", devmaj);
    snprintf(h + 337, 8, "%07o", devmin);
    unsigned sum = 0;
    for (int i = 0; i < 512; i++) {
        sum += (unsigned char)h[i];
    }
    snprintf(h + 148, 8, "%06o", sum);
    ek_buf_append(b, h, 512);
}

static void tar_data(ek_buf_t *b, const char *data, size_t len)
{
    ek_buf_append(b, data, len);
    static const char zeros[512];
    ek_buf_append(b, zeros, (512 - len % 512) % 512);
}

static void tar_file(ek_buf_t *b, const char *name, const char *content)
{
    tar_header(b, name, '0', 0644, strlen(content), NULL, 0, 0);
    tar_data(b, content, strlen(content));
}

/* One PAX record "<len> key=value\n" (the length counts itself). */
static void pax_rec(ek_buf_t *b, const char *key, const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3, len = body + 1;
    while (snprintf(NULL, 0, "%zu", len) + body != len) {
        len++;
    }
    ek_buf_printf(b, "%zu %s=%s\n", len, key, value);
}

static void tar_pax(ek_buf_t *b, const char *records)
{
    tar_header(b, "PaxHeader", 'x', 0644, strlen(records), NULL, 0, 0);
    tar_data(b, records, strlen(records));
}

static void tar_end(ek_buf_t *b)
{
    static const char zeros[1024];
    ek_buf_append(b, zeros, sizeof(zeros));
}

struct mem {
    const char *p;
    size_t len, off;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n, ek_error_t **err)
{
    struct mem *m = ctx;
    EK_UNUSED(err);
    size_t k = EK_MIN(n, m->len - m->off);
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

/* Unpacks a tar buffer into <tmp>/<dir>; returns the unpack result. */
static int unpack_buf(const ek_buf_t *b, const char *dir, ek_error_t **err)
{
    ek_autofree char *p = ek_test_path(dir);
    mkdir(p, 0755);
    ek_autoclose int fd = open(p, O_RDONLY | O_DIRECTORY);
    struct mem m = { b->data, b->len, 0 };
    ek__tar_t *t = ek__tar_new(mem_read, NULL, &m);
    int r = ek__unpack(t, fd, NULL, err);
    ek__tar_free(t);
    return r;
}

/* ---- references ---- */

TEST(image_ref_normalize)
{
    static const char *const cases[][2] = {
        { "busybox", "docker.io/library/busybox:latest" },
        { "busybox:1.36", "docker.io/library/busybox:1.36" },
        { "library/busybox", "docker.io/library/busybox:latest" },
        { "docker.io/busybox", "docker.io/library/busybox:latest" },
        { "index.docker.io/library/busybox:x", "docker.io/library/busybox:x" },
        { "rancher/k3s:v1.30", "docker.io/rancher/k3s:v1.30" },
        { "localhost/app", "localhost/app:latest" },
        { "localhost:5000/app:1", "localhost:5000/app:1" },
        { "registry.local:5000/a/b/c:tag", "registry.local:5000/a/b/c:tag" },
        { "quay.io/x/y", "quay.io/x/y:latest" },
        { "[::1]:5000/app", "[::1]:5000/app:latest" },
        { "my_repo__x-y/a.b", "docker.io/my_repo__x-y/a.b:latest" },
        { "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "docker.io/library/busybox@sha256:"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
        { "busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
          "docker.io/library/busybox:1@sha256:"
          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_autofree char *n = ek_image_ref_normalize(cases[i][0], &err);
        ASSERT_OK(n ? 0 : -1, &err);
        ASSERT_STREQ(n, cases[i][1]);
    }
    ek_image_ref_t r;
    ASSERT_OK(ek_image_ref_parse("localhost:5000/team/app:v2", &r, NULL), &(ek_error_t *){ 0 });
    ASSERT_STREQ(r.domain, "localhost:5000");
    ASSERT_STREQ(r.path, "team/app");
    ASSERT_STREQ(r.tag, "v2");
    ASSERT_TRUE(r.digest == NULL);
    ek_image_ref_free(&r);
    static const char *const bad[][2] = {
        { "", "empty" },
        { "Busybox", "lowercase" },
        { "docker.io/Library/x", "lowercase" },
        { "busybox:", "bad tag" },
        { "busybox:-x", "bad tag" },
        { "a//b", "bad repository" },
        { "a/-b", "bad repository" },
        { "a__-b", "bad repository" },
        { "busybox@sha256:abc", "bad digest" },
        { "busybox@md5:0123456789abcdef0123456789abcdef", "bad digest" },
        { "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "reserved" },
        { "host:99999999/x", "bad registry" },
        { "-host.com/x", "bad registry" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(bad); i++) {
        ek_error_t *err = NULL;
        char *n = ek_image_ref_normalize(bad[i][0], &err);
        if (n) {
            ek__test_fail(__FILE__, __LINE__, "`%s` accepted as %s", bad[i][0], n);
        }
        ASSERT_CONTAINS(ek_error_msg(err), bad[i][1]);
        ASSERT_EQ(err->status, 400);
        ek_error_free(err);
    }
}

TEST(image_platform_match)
{
    ASSERT_EQ(ek__platform_match("linux/arm64", "linux", "arm64", ""), 4);
    ASSERT_EQ(ek__platform_match("linux/arm64", "linux", "arm64", "v8"), 3);
    ASSERT_EQ(ek__platform_match("linux/arm/v7", "linux", "arm", "v7"), 4);
    ASSERT_CMP(ek__platform_match("linux/arm/v7", "linux", "arm", "v6"), >, 0);
    ASSERT_CMP(ek__platform_match("linux/arm/v7", "linux", "arm", "v6"), <, 4);
    ASSERT_EQ(ek__platform_match("linux/arm/v6", "linux", "arm", "v7"), 0);
    ASSERT_EQ(ek__platform_match("linux/amd64", "linux", "arm64", ""), 0);
    ASSERT_EQ(ek__platform_match("linux/amd64", "unknown", "unknown", ""), 0);
    ASSERT_EQ(ek__platform_match("all", "linux", "s390x", ""), 1);
    ASSERT_TRUE(ek__platform_valid("linux/arm/v7"));
    ASSERT_FALSE(ek__platform_valid("linux"));
    ASSERT_FALSE(ek__platform_valid("linux//x"));
    ASSERT_EQ(ek_image_pull_policy_parse(NULL, "busybox"), EK_IMAGE_PULL_ALWAYS);
    ASSERT_EQ(ek_image_pull_policy_parse("", "busybox:1.36"), EK_IMAGE_PULL_IF_NOT_PRESENT);
    ASSERT_EQ(ek_image_pull_policy_parse("Never", "busybox"), EK_IMAGE_PULL_NEVER);
    ASSERT_EQ(ek_image_pull_policy_parse("sometimes", "busybox"), -1);
}

TEST(image_sha256)
{
    char d[72];
    ek__sha256_digest("abc", 3, d);
    ASSERT_STREQ(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ek__sha256_digest("", 0, d);
    ASSERT_STREQ(d, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Any split gives the same digest as one call (buffering across blocks). */
    char *big = ek_xmalloc(100000);
    for (size_t i = 0; i < 100000; i++) {
        big[i] = (char)(i * 7 + i / 13);
    }
    char whole[72], parts[72];
    ek__sha256_digest(big, 100000, whole);
    ek__sha256_t c;
    ek__sha256_init(&c);
    for (size_t off = 0, step = 1; off < 100000; off += step, step = step * 3 % 1000 + 1) {
        ek__sha256_update(&c, big + off, EK_MIN(step, 100000 - off));
    }
    ek__sha256_final(&c, parts);
    ASSERT_STREQ(whole, parts);
    free(big);
    ASSERT_TRUE(ek__digest_valid(whole));
    ASSERT_FALSE(ek__digest_valid("sha256:ABC"));
}

/* ---- tar ---- */

TEST(image_tar_formats)
{
    ek_autobuf b = EK_BUF_INIT;
    tar_file(&b, "plain.txt", "hello");
    /* ustar prefix field */
    {
        char h[512];
        tar_header(&b, "leaf", '0', 0600, 0, NULL, 0, 0);
        memcpy(h, b.data + b.len - 512, 512);
        snprintf(h + 345, 155, "%s", "some/prefix");
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++) {
            sum += (unsigned char)h[i];
        }
        snprintf(h + 148, 8, "%06o", sum);
        memcpy(b.data + b.len - 512, h, 512);
    }
    /* GNU long name */
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    tar_header(&b, "././@LongLink", 'L', 0644, strlen(longname) + 1, NULL, 0, 0);
    tar_data(&b, longname, strlen(longname) + 1);
    tar_file(&b, "truncated-name", "x");
    /* PAX path, mtime, uid and xattrs */
    ek_autobuf pax = EK_BUF_INIT;
    pax_rec(&pax, "path", "pax/very/long/name.bin");
    pax_rec(&pax, "mtime", "1700000000.123456789");
    pax_rec(&pax, "uid", "4242");
    pax_rec(&pax, "SCHILY.xattr.user.color", "blue");
    tar_pax(&b, pax.data);
    tar_file(&b, "short", "data!");
    tar_header(&b, "hard", '1', 0644, 0, "plain.txt", 0, 0);
    tar_header(&b, "sym", '2', 0777, 0, "/etc/target", 0, 0);
    tar_header(&b, "dev/tty", '3', 0620, 0, NULL, 5, 0);
    tar_header(&b, "dir/", '5', 0755, 0, NULL, 0, 0);
    tar_end(&b);

    struct mem m = { b.data, b.len, 0 };
    ek__tar_t *t = ek__tar_new(mem_read, NULL, &m);
    const ek__tar_entry_t *e;
    ek_error_t *err = NULL;
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_STREQ(e->path, "plain.txt");
    char buf[16];
    ASSERT_EQ(ek__tar_read(t, buf, sizeof(buf), &err), 5);
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_STREQ(e->path, "some/prefix/leaf");
    ASSERT_OK(ek__tar_next(t, &e, &err), &err);
    ASSERT_STREQ(e->path, longname);
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_STREQ(e->path, "pax/very/long/name.bin");
    ASSERT_EQ(e->uid, 4242);
    ASSERT_EQ(e->gid, 1000);
    ASSERT_EQ(e->mtime, 1700000000);
    ASSERT_EQ(e->mtime_nsec, 123456789);
    ASSERT_EQ(e->n_xattrs, 1);
    ASSERT_STREQ(e->xattrs[0].name, "user.color");
    ASSERT_STREQ(e->xattrs[0].value, "blue");
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_EQ(e->type, '1');
    ASSERT_STREQ(e->link, "plain.txt");
    ASSERT_EQ(e->n_xattrs, 0); /* PAX values apply to one entry only */
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_EQ(e->type, '2');
    ASSERT_STREQ(e->link, "/etc/target");
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_EQ(e->type, '3');
    ASSERT_EQ(e->devmajor, 5);
    ASSERT_EQ(e->mode, 0620);
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_EQ(e->type, '5');
    ASSERT_EQ(ek__tar_next(t, &e, &err), 0);
    ek__tar_free(t);
}

TEST(image_tar_bad)
{
    ek_autobuf b = EK_BUF_INIT;
    tar_file(&b, "a", "0123456789");
    tar_end(&b);
    /* Truncated inside the data. */
    struct mem m = { b.data, 515, 0 };
    ek__tar_t *t = ek__tar_new(mem_read, NULL, &m);
    const ek__tar_entry_t *e;
    ek_error_t *err = NULL;
    char buf[64];
    ASSERT_EQ(ek__tar_next(t, &e, &err), 1);
    ASSERT_EQ(ek__tar_read(t, buf, sizeof(buf), &err), 3);
    ASSERT_EQ(ek__tar_read(t, buf, sizeof(buf), &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "truncated");
    ek_error_clear(&err);
    ek__tar_free(t);
    /* Bad checksum. */
    b.data[0] = 'b';
    m = (struct mem){ b.data, b.len, 0 };
    t = ek__tar_new(mem_read, NULL, &m);
    ASSERT_EQ(ek__tar_next(t, &e, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "checksum");
    ek_error_clear(&err);
    ek__tar_free(t);
    /* A PAX record whose length lies. */
    ek_buf_reset(&b);
    tar_pax(&b, "99 path=x\n");
    tar_file(&b, "y", "");
    tar_end(&b);
    m = (struct mem){ b.data, b.len, 0 };
    t = ek__tar_new(mem_read, NULL, &m);
    ASSERT_EQ(ek__tar_next(t, &e, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "PAX");
    ek_error_clear(&err);
    ek__tar_free(t);
}

/* ---- unpack ---- */

TEST(image_unpack_metadata)
{
    if (geteuid() != 0) {
        ek_test_skip("needs root for ownership and device nodes");
    }
    ek_autobuf b = EK_BUF_INIT;
    tar_header(&b, "./", '5', 0755, 0, NULL, 0, 0);
    tar_header(&b, "./etc/", '5', 0750, 0, NULL, 0, 0);
    ek_autobuf pax = EK_BUF_INIT;
    pax_rec(&pax, "SCHILY.xattr.user.edgek", "layered");
    pax_rec(&pax, "SCHILY.xattr.trusted.overlay.redirect", "x");
    tar_pax(&b, pax.data);
    tar_file(&b, "./etc/conf", "setting=1\n");
    tar_header(&b, "./etc/conf-link", '1', 0644, 0, "etc/conf", 0, 0);
    tar_header(&b, "./etc/abs", '2', 0777, 0, "/etc/conf", 0, 0);
    tar_header(&b, "./dev/", '5', 0755, 0, NULL, 0, 0);
    tar_header(&b, "./dev/null", '3', 0666, 0, NULL, 1, 3);
    tar_header(&b, "./dev/fifo", '6', 0600, 0, NULL, 0, 0);
    tar_header(&b, "./bin/", '5', 0755, 0, NULL, 0, 0);
    tar_header(&b, "./bin/suid", '0', 04755, 0, NULL, 0, 0);
    tar_end(&b);
    ek_error_t *err = NULL;
    ASSERT_OK(unpack_buf(&b, "root", &err), &err);
    ek_autofree char *conf = ek_test_path("root/etc/conf");
    ek_autofree char *link = ek_test_path("root/etc/conf-link");
    ek_autofree char *etc = ek_test_path("root/etc");
    struct stat st, st2;
    ASSERT_EQ(stat(conf, &st), 0);
    ASSERT_EQ(st.st_uid, 1000);
    ASSERT_EQ(st.st_mode & 07777, 0644);
    ASSERT_EQ(st.st_mtime, 1700000000);
    ASSERT_EQ(stat(link, &st2), 0);
    ASSERT_EQ(st.st_ino, st2.st_ino);
    ASSERT_EQ(st.st_nlink, 2);
    char v[32] = "";
    ASSERT_EQ(getxattr(conf, "user.edgek", v, sizeof(v)), 7);
    ASSERT_EQ(getxattr(conf, "trusted.overlay.redirect", v, sizeof(v)), -1);
    ASSERT_EQ(stat(etc, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 0750);
    ASSERT_EQ(st.st_mtime, 1700000000);
    ek_autofree char *abs = ek_test_path("root/etc/abs");
    char target[64] = "";
    ASSERT_EQ(readlink(abs, target, sizeof(target)), 9);
    ek_autofree char *dn = ek_test_path("root/dev/null");
    ASSERT_EQ(lstat(dn, &st), 0);
    ASSERT_TRUE(S_ISCHR(st.st_mode));
    ASSERT_EQ(major(st.st_rdev), 1);
    ASSERT_EQ(minor(st.st_rdev), 3);
    ek_autofree char *ff = ek_test_path("root/dev/fifo");
    ASSERT_EQ(lstat(ff, &st), 0);
    ASSERT_TRUE(S_ISFIFO(st.st_mode));
    ek_autofree char *suid = ek_test_path("root/bin/suid");
    ASSERT_EQ(stat(suid, &st), 0);
    ASSERT_EQ(st.st_mode & 07777, 04755);
}

TEST(image_unpack_whiteouts)
{
    if (geteuid() != 0) {
        ek_test_skip("needs root for whiteout devices and trusted xattrs");
    }
    ek_autobuf b = EK_BUF_INIT;
    tar_header(&b, "etc/", '5', 0755, 0, NULL, 0, 0);
    tar_file(&b, "etc/.wh.passwd", "");
    tar_file(&b, "etc/kept", "k");
    tar_header(&b, "var/", '5', 0755, 0, NULL, 0, 0);
    tar_file(&b, "var/new", "n");
    /* The opaque marker after the directory's own entries still applies to the lower ones. */
    tar_file(&b, "var/.wh..wh..opq", "");
    tar_file(&b, "tmp/.wh..wh.plnk", "");
    tar_end(&b);
    ek_error_t *err = NULL;
    ASSERT_OK(unpack_buf(&b, "layer", &err), &err);
    struct stat st;
    ek_autofree char *wh = ek_test_path("layer/etc/passwd");
    ASSERT_EQ(lstat(wh, &st), 0);
    ASSERT_TRUE(S_ISCHR(st.st_mode));
    ASSERT_EQ(st.st_rdev, makedev(0, 0));
    ek_autofree char *marker = ek_test_path("layer/etc/.wh.passwd");
    ASSERT_EQ(lstat(marker, &st), -1);
    ek_autofree char *var = ek_test_path("layer/var");
    char v[4] = "";
    ASSERT_EQ(getxattr(var, "trusted.overlay.opaque", v, sizeof(v)), 1);
    ASSERT_EQ(v[0], 'y');
    ek_autofree char *nw = ek_test_path("layer/var/new");
    ASSERT_EQ(lstat(nw, &st), 0);
    /* Bad whiteout names are refused. */
    ek_buf_reset(&b);
    tar_file(&b, "etc/.wh..", "");
    tar_end(&b);
    ASSERT_EQ(unpack_buf(&b, "layer2", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "bad whiteout");
    ek_error_free(err);
}

TEST(image_unpack_escapes)
{
    ek_test_native_only("no openat2 in qemu-user 7.2, and the fallback names the symlink instead");
    ek_autobuf b = EK_BUF_INIT;
    ek_error_t *err = NULL;
    ek_autofree char *outside = ek_test_path("outside");
    mkdir(outside, 0755);

    /* ".." in a name */
    tar_file(&b, "../outside/x", "evil");
    tar_end(&b);
    ASSERT_EQ(unpack_buf(&b, "r1", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "escapes");
    ek_error_clear(&err);

    /* an absolute symlink, then a file through it */
    ek_buf_reset(&b);
    tar_header(&b, "link", '2', 0777, 0, outside, 0, 0);
    tar_file(&b, "link/x", "evil");
    tar_end(&b);
    ASSERT_EQ(unpack_buf(&b, "r2", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "escapes");
    ek_error_clear(&err);

    /* a relative symlink climbing out */
    ek_buf_reset(&b);
    tar_header(&b, "up", '2', 0777, 0, "../outside", 0, 0);
    tar_file(&b, "up/y", "evil");
    tar_end(&b);
    ASSERT_EQ(unpack_buf(&b, "r3", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "escapes");
    ek_error_clear(&err);

    /* a hard link to a file outside */
    ek_buf_reset(&b);
    tar_header(&b, "hl", '1', 0644, 0, "../outside/z", 0, 0);
    tar_end(&b);
    ASSERT_EQ(unpack_buf(&b, "r4", &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "escapes");
    ek_error_clear(&err);

    /* absolute names are taken relative to the root; a symlink inside is followed */
    ek_buf_reset(&b);
    tar_header(&b, "/usr/", '5', 0755, 0, NULL, 0, 0);
    tar_header(&b, "/lib", '2', 0777, 0, "usr", 0, 0);
    tar_file(&b, "/lib/inside", "ok");
    tar_end(&b);
    ASSERT_OK(unpack_buf(&b, "r5", &err), &err);
    ek_autofree char *in = ek_test_path("r5/usr/inside");
    ASSERT_TRUE(ek_path_exists(in));
    ASSERT_EQ(count_dir("outside"), 0);
}

/* ---- import ---- */

static void assert_image(ek_image_store_t *s, const char *ref, size_t n_layers)
{
    ek_error_t *err = NULL;
    ek_auto(ek_image_info_t) im = ek_image_resolve(s, ref, &err);
    ASSERT_OK(im ? 0 : -1, &err);
    ASSERT_EQ(im->n_layers, n_layers);
    ASSERT_TRUE(ek__digest_valid(im->id));
    ASSERT_CMP(im->size, >, 1000000);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(im->config, "Cmd"), 0)),
                 "/bin/sh");
    ASSERT_STREQ(ek_json_str(im->config, "WorkingDir", NULL), "/");
    ASSERT_TRUE(json_object_get(ek_json_path(im->config, "ExposedPorts", NULL), "80/tcp"));
    for (size_t i = 0; i < im->n_layers; i++) {
        ASSERT_TRUE(ek_path_exists(im->layers[i]));
    }
    ek_autofree char *bb = ek_xasprintf("%s/bin/busybox", im->layers[0]);
    ASSERT_TRUE(ek_path_exists(bb));
    ek_autofree char *lower = ek_image_lowerdir(im);
    ASSERT_TRUE(ek_has_prefix(lower, im->layers[im->n_layers - 1]));
}

TEST_T(image_import_formats, 120)
{
    ek_autofree char *oci = mkimage("", "oci", "oci.tar", "docker.io/library/bb:oci");
    ek_autofree char *dk = mkimage("", "docker", "dk.tar", "bb:legacy");
    ek_autofree char *d25 = mkimage("", "docker25", "d25.tar", "bb:d25");
    ek_autofree char *gz = mkimage("COMPRESS=zstd", "oci", "z.tar.gz", "bb:gz");
    ek_autofree char *zst = mkimage("COMPRESS=none", "docker", "l.tar.zst", "bb:zst");
    ek_image_store_t *s = open_store(NULL, 0);
    const char *files[] = { oci, dk, d25, gz, zst };
    const char *names[] = { "bb:oci", "bb:legacy", "bb:d25", "bb:gz", "bb:zst" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(files); i++) {
        ek_error_t *err = NULL;
        ek_strlist_t got = { 0 };
        ASSERT_OK(ek_image_import(s, files[i], NULL, &got, &err), &err);
        ASSERT_EQ(got.n, 1);
        ek_strlist_free(&got);
        assert_image(s, names[i], 2);
    }
    /* Same layers whatever the format: the base and the extra layer, unpacked once. */
    ASSERT_EQ(count_dir("store/layers"), 2);
    ASSERT_EQ(count_dir("store/tmp"), 0);
    size_t n;
    ek_image_info_t **list = ek_image_list(s, &n, NULL);
    ASSERT_CMP(n, >=, 3);
    for (size_t i = 0; i < n; i++) {
        ek_image_info_free(list[i]);
    }
    free(list);
    /* Importing again changes nothing and is cheap. */
    ek_error_t *err = NULL;
    ASSERT_OK(ek_image_import(s, oci, NULL, NULL, &err), &err);
    ek_image_store_close(s);
}

TEST_T(image_import_multi_and_platforms, 120)
{
    ek_autofree char *keep = ek_test_path("first");
    ek_autofree char *env1 = ek_xasprintf("LAYERS=base,tag:one KEEP=%s", keep);
    ek_autofree char *one = mkimage(env1, "oci", "one.tar", "example.com/one:1");
    ek_autofree char *env2 = ek_xasprintf("LAYERS=base,tag:two EXTRA=%s", keep);
    ek_autofree char *two = mkimage(env2, "oci", "both.tar", "example.com/two:2");
    ek_autofree char *idx = mkimage("INDEX=1", "oci", "idx.tar", "example.com/multi:1");
    EK_UNUSED(one);
    ek_image_store_t *s = open_store(NULL, 0);
    ek_error_t *err = NULL;
    ek_strlist_t got = { 0 };
    ASSERT_OK(ek_image_import(s, two, NULL, &got, &err), &err);
    ASSERT_EQ(got.n, 2);
    ek_strlist_free(&got);
    assert_image(s, "example.com/one:1", 2);
    assert_image(s, "example.com/two:2", 2);
    ASSERT_EQ(count_dir("store/layers"), 3); /* base shared */

    /* The index (amd64, arm64/v8, unknown): the node's platform, or arm64 when asked, or all
     * of them; a node of another platform (a cross build's armhf) finds nothing. */
    const char *node = ek_image_node_platform();
    const char *want = strcmp(node, "linux/amd64") == 0   ? "linux/amd64"
                       : strcmp(node, "linux/arm64") == 0 ? "linux/arm64/v8"
                                                          : NULL;
    if (want) {
        ASSERT_OK(ek_image_import(s, idx, NULL, NULL, &err), &err);
        ek_auto(ek_image_info_t) im = ek_image_resolve(s, "example.com/multi:1", &err);
        ASSERT_OK(im ? 0 : -1, &err);
        ASSERT_STREQ(im->platform, want);
    } else {
        ASSERT_EQ(ek_image_import(s, idx, NULL, NULL, &err), -1);
        ASSERT_CONTAINS(ek_error_msg(err), node);
        ek_error_clear(&err);
    }
    ek_image_store_close(s);

    ek_autofree char *store = ek_test_path("store");
    ek_rm_rf(store, NULL);
    s = open_store("linux/arm64", 0);
    ASSERT_OK(ek_image_import(s, idx, NULL, NULL, &err), &err);
    ek_auto(ek_image_info_t) arm = ek_image_resolve(s, "example.com/multi:1", &err);
    ASSERT_OK(arm ? 0 : -1, &err);
    ASSERT_STREQ(arm->platform, "linux/arm64/v8");
    ek_image_import_options_t all = { .platform = "all" };
    ASSERT_OK(ek_image_import(s, idx, &all, NULL, &err), &err);
    ek_image_import_options_t ppc = { .platform = "linux/ppc64le" };
    ASSERT_EQ(ek_image_import(s, idx, &ppc, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "no manifest for platform linux/ppc64le");
    ek_error_free(err);
    ek_image_store_close(s);
}

TEST_T(image_gc_and_holds, 120)
{
    ek_autofree char *a = mkimage("LAYERS=base,tag:a", "oci", "a.tar", "x/a:1");
    ek_autofree char *b = mkimage("LAYERS=base,tag:b", "docker", "b.tar", "x/b:1");
    ek_image_store_t *s = open_store(NULL, 0);
    ek_error_t *err = NULL;
    ASSERT_OK(ek_image_import(s, a, NULL, NULL, &err), &err);
    ASSERT_OK(ek_image_import(s, b, NULL, NULL, &err), &err);
    ASSERT_EQ(count_dir("store/layers"), 3);
    ek_auto(ek_image_info_t) ia = ek_image_resolve(s, "x/a:1", &err);
    ASSERT_OK(ia ? 0 : -1, &err);

    /* A held image survives the removal of its name until released and pruned. */
    ASSERT_OK(ek_image_hold(s, "container-1", ia->id, &err), &err);
    ASSERT_OK(ek_image_remove(s, "x/a:1", &err), &err);
    ASSERT_EQ(count_dir("store/layers"), 3);
    ek_autofree char *byid = ek_xstrndup(ia->id + 7, 12);
    ek_auto(ek_image_info_t) still = ek_image_resolve(s, byid, &err);
    ASSERT_OK(still ? 0 : -1, &err);
    ASSERT_EQ(still->n_names, 0);
    ASSERT_EQ(ek_image_remove(s, ia->id, &err), -1);
    ASSERT_EQ(err->status, 409);
    ek_error_clear(&err);
    ASSERT_EQ(ek_image_prune(s, &err), 0);
    ASSERT_EQ(count_dir("store/layers"), 3);
    ASSERT_OK(ek_image_release(s, "container-1", &err), &err);
    ASSERT_CMP(ek_image_prune(s, &err), >, 0);
    /* The shared base stays for b. */
    ASSERT_EQ(count_dir("store/layers"), 2);
    assert_image(s, "x/b:1", 2);
    ASSERT_OK(ek_image_remove(s, "x/b:1", &err), &err);
    ASSERT_EQ(count_dir("store/layers"), 0);
    ASSERT_EQ(count_dir("store/blobs/sha256"), 0);
    ASSERT_EQ(ek_image_remove(s, "x/b:1", &err), -1);
    ASSERT_EQ(err->status, 404);
    ek_error_free(err);
    ek_image_store_close(s);
}

TEST_T(image_import_crash_safety, 120)
{
    ek_autofree char *big =
        mkimage("LAYERS=base,big:24,small:300 COMPRESS=gzip", "oci", "big.tar.gz", "x/big:1");
    ek_autofree char *dir = ek_test_path("store");
    /* Kill imports at different moments: afterwards the image is either whole or absent,
     * and reopening the store leaves no staging debris. */
    static const int delays_ms[] = { 5, 30, 80, 150, 300 };
    for (size_t i = 0; i < EK_ARRAY_SIZE(delays_ms); i++) {
        pid_t pid = fork();
        ASSERT_CMP(pid, >=, 0);
        if (pid == 0) {
            ek_image_store_t *s = ek_image_store_open(dir, NULL, NULL);
            ek_image_import(s, big, NULL, NULL, NULL);
            _exit(0);
        }
        usleep((useconds_t)delays_ms[i] * 1000);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ek_image_store_t *s = open_store(NULL, 0);
        ASSERT_EQ(count_dir("store/tmp"), 0);
        ek_error_t *err = NULL;
        ek_image_info_t *im = ek_image_resolve(s, "x/big:1", &err);
        if (im) {
            for (size_t k = 0; k < im->n_layers; k++) {
                ASSERT_TRUE(ek_path_exists(im->layers[k]));
            }
            ek_image_info_free(im);
            ek_image_remove(s, "x/big:1", NULL);
        } else {
            ASSERT_EQ(err->status, 404);
            ek_error_free(err);
        }
        ek_image_gc(s, NULL);
        ASSERT_EQ(count_dir("store/layers"), 0);
        ek_image_store_close(s);
    }
}

TEST_T(image_import_bad_input, 120)
{
    ek_autofree char *keep = ek_test_path("layout");
    ek_autofree char *env = ek_xasprintf("KEEP=%s", keep);
    ek_autofree char *good = mkimage(env, "oci", "good.tar", "x/good:1");
    ek_image_store_t *s = open_store(NULL, 0);
    ek_error_t *err = NULL;

    /* Truncated. */
    ek_autofree char *trunc = ek_test_path("trunc.tar");
    sh("head -c 600000 %s > %s", good, trunc);
    ASSERT_EQ(ek_image_import(s, trunc, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "trunc.tar");
    ASSERT_CONTAINS(ek_error_msg(err), "truncated");
    ek_error_clear(&err);

    /* A layer blob whose content does not match its digest. */
    ek_autofree char *bad = ek_test_path("bad.tar");
    sh("cd %s && f=$(ls -S blobs/sha256 | head -1) && printf X | dd of=blobs/sha256/$f bs=1 "
       "seek=5000 conv=notrunc 2>/dev/null && tar -cf %s .",
       keep, bad);
    ASSERT_EQ(ek_image_import(s, bad, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "x/good:1");
    ASSERT_CONTAINS(ek_error_msg(err), "digest mismatch");
    ek_error_clear(&err);

    /* An unknown layer media type (the manifest is rewritten and its digest fixed). */
    ek_autofree char *mt = ek_test_path("mt.tar");
    sh("cd %s && m=$(sed 's/.*\"digest\":\"sha256:\\([0-9a-f]*\\)\".*/\\1/' index.json) && "
       "sed -i 's/tar+gzip/x-edgek-unknown/' blobs/sha256/$m && n=$(sha256sum blobs/sha256/$m "
       "| cut -c1-64) && mv blobs/sha256/$m blobs/sha256/$n && sed -i \"s/$m/$n/; "
       "s/\\\"size\\\":[0-9]*/\\\"size\\\":$(stat -c %%s blobs/sha256/$n)/\" index.json && "
       "tar -cf %s .",
       keep, mt);
    ASSERT_EQ(ek_image_import(s, mt, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "unknown media type");
    ek_error_clear(&err);

    /* Not an image archive at all. */
    ek_autofree char *junk = ek_test_path("junk.tar");
    sh("tar -C tests/fixtures -cf %s mkimage.sh", junk);
    ASSERT_EQ(ek_image_import(s, junk, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "neither an OCI layout");
    ek_error_clear(&err);
    ASSERT_EQ(count_dir("store/layers"), 0);
    ASSERT_EQ(count_dir("store/tmp"), 0);
    ek_image_store_close(s);

    /* A decompression bomb, as far as the limit is concerned. */
    ek_autofree char *store = ek_test_path("store");
    ek_rm_rf(store, NULL);
    s = open_store(NULL, 1 << 20);
    ASSERT_EQ(ek_image_import(s, good, NULL, NULL, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "exceeds the limit");
    ek_error_free(err);
    ASSERT_EQ(count_dir("store/tmp"), 0);
    ek_image_store_close(s);
}

/* ---- registries ---- */

TEST(image_registries_config)
{
    ek_autofree char *p = ek_test_path("reg.yaml");
    static const char yaml[] = "mirrors:\n"
                               "  docker.io:\n"
                               "    endpoint: [\"https://mirror.local:5000\", "
                               "\"http://plain.local/custom/path\"]\n"
                               "    rewrite:\n"
                               "      \"^rancher/(.*)\": \"mirrored/rancher/$1\"\n"
                               "configs:\n"
                               "  mirror.local:5000:\n"
                               "    auth: { username: u, password: p }\n"
                               "  other.io:\n"
                               "    auth: { auth: dXNlcjpwYXNz }\n";
    ASSERT_OK(ek_file_write_atomic(p, yaml, strlen(yaml), 0600, NULL), &(ek_error_t *){ 0 });
    ek_error_t *err = NULL;
    ek_auto(json_t) reg = ek__registries_load(p, &err);
    ASSERT_OK(reg ? 0 : -1, &err);
    ek_image_ref_t r;
    ASSERT_OK(ek_image_ref_parse("rancher/k3s:v1", &r, &err), &err);
    ek__endpoint_t *e;
    size_t n;
    ASSERT_OK(ek__registries_endpoints(reg, &r, &e, &n, &err), &err);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(e[0].base, "https://mirror.local:5000");
    ASSERT_STREQ(e[0].prefix, "/v2");
    ASSERT_STREQ(e[0].repo, "mirrored/rancher/k3s");
    ASSERT_STREQ(e[1].base, "http://plain.local");
    ASSERT_STREQ(e[1].prefix, "/custom/path");
    ASSERT_STREQ(e[2].base, "https://registry-1.docker.io");
    ASSERT_STREQ(e[2].repo, "rancher/k3s");
    ek__endpoints_free(e, n);
    ek_image_ref_free(&r);

    ek__creds_t c;
    ASSERT_EQ(ek__registries_creds(reg, NULL, "mirror.local:5000", &c), 0);
    ASSERT_STREQ(c.username, "u");
    ek__creds_free(&c);
    ASSERT_EQ(ek__registries_creds(reg, NULL, "other.io", &c), 0);
    ASSERT_STREQ(c.password, "pass");
    ek__creds_free(&c);
    /* imagePullSecrets first; Docker Hub's keys match docker.io's registry host. */
    static const char secret[] =
        "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOnNlY3JldA==\"}}}";
    ASSERT_EQ(ek__registries_creds(reg, secret, "registry-1.docker.io", &c), 0);
    ASSERT_STREQ(c.username, "hub");
    ASSERT_STREQ(c.password, "secret");
    ek__creds_free(&c);
    ASSERT_EQ(ek__registries_creds(reg, secret, "nothing.io", &c), 1);

    char *scheme, *realm, *service, *scope;
    ASSERT_EQ(ek__parse_www_authenticate("Bearer realm=\"https://auth.docker.io/token\","
                                         "service=\"registry.docker.io\",scope=\"repository:a/"
                                         "b:pull\"",
                                         &scheme, &realm, &service, &scope),
              0);
    ASSERT_STREQ(scheme, "bearer");
    ASSERT_STREQ(realm, "https://auth.docker.io/token");
    ASSERT_STREQ(service, "registry.docker.io");
    ASSERT_STREQ(scope, "repository:a/b:pull");
    free(scheme), free(realm), free(service), free(scope);

    /* A broken file is an error naming it. */
    ASSERT_OK(ek_file_write_atomic(p, "mirrors: [\n", 11, 0600, NULL), &err);
    ASSERT_TRUE(ek__registries_load(p, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "reg.yaml");
    ek_error_free(err);
}

/* ---- pulls from a fake registry on loopback ---- */

struct fake {
    uv_loop_t loop;
    ek_http_server_t *srv;
    char *layout;
    const char *mode; /* "bearer", "redirect", "500", "stall", "bad" */
    int tokens, blob_gets;
    ek_http_req_t *stalled[4];
    int n_stalled;
};

static char *layout_blob(struct fake *f, const char *digest, size_t *len)
{
    if (!ek__digest_valid(digest)) {
        return NULL;
    }
    ek_autofree char *p = ek_xasprintf("%s/blobs/sha256/%s", f->layout, digest + 7);
    return ek_file_read(p, 0, len, NULL);
}

static void fake_manifest(struct fake *f, ek_http_req_t *r, const char *ref)
{
    ek_autofree char *digest = NULL;
    if (!ek_has_prefix(ref, "sha256:")) {
        ek_autofree char *ip = ek_xasprintf("%s/index.json", f->layout);
        ek_autofree char *text = ek_file_read(ip, 0, NULL, NULL);
        ek_auto(json_t) j = ek_json_parse(text, strlen(text), NULL);
        digest = ek_xstrdup(
            ek_json_str(json_array_get(json_object_get(j, "manifests"), 0), "digest", NULL));
    } else {
        digest = ek_xstrdup(ref);
    }
    size_t len;
    ek_autofree char *body = layout_blob(f, digest, &len);
    if (!body) {
        static const char nf[] =
            "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"no\"}]}";
        ek_http_respond(r, 404, "application/json", nf, strlen(nf));
        return;
    }
    ek_auto(json_t) j = ek_json_parse(body, len, NULL);
    ek_http_respond(r, 200, ek_json_str(j, "mediaType", NULL), body, len);
}

static void fake_handler(ek_http_req_t *r, void *data)
{
    struct fake *f = data;
    const char *authz = ek_http_req_header(r, "Authorization");
    if (strcmp(r->path, "/token") == 0) {
        f->tokens++;
        static const char tok[] = "{\"token\":\"t0k\"}";
        ek_http_respond(r, 200, "application/json", tok, strlen(tok));
        return;
    }
    if (ek_has_prefix(r->path, "/storage/")) {
        /* Redirect target: must not see the registry's credentials. */
        ek_assert(authz == NULL);
        size_t len;
        ek_autofree char *b = layout_blob(f, r->path + 9, &len);
        ek_http_respond(r, b ? 200 : 404, "application/octet-stream", b, b ? len : 0);
        return;
    }
    if (strcmp(f->mode, "bearer") == 0 && !ek_streq(authz, "Bearer t0k")) {
        int port = ek_http_server_port(f->srv);
        ek_autofree char *h = ek_xasprintf("Bearer realm=\"http://127.0.0.1:%d/token\","
                                           "service=\"fake\",scope=\"repository:test/bb:pull\"",
                                           port);
        ek_http_add_header(r, "WWW-Authenticate", h);
        ek_http_respond(r, 401, "application/json", "{}", 2);
        return;
    }
    if (strcmp(f->mode, "500") == 0) {
        ek_http_respond(r, 500, "text/plain", "boom", 4);
        return;
    }
    const char *m = strstr(r->path, "/manifests/");
    const char *b = strstr(r->path, "/blobs/");
    if (m) {
        fake_manifest(f, r, m + 11);
        return;
    }
    if (b) {
        f->blob_gets++;
        size_t len;
        ek_autofree char *body = layout_blob(f, b + 7, &len);
        bool is_layer = body && len > 100000;
        if (is_layer && strcmp(f->mode, "stall") == 0) {
            f->stalled[f->n_stalled++] = r; /* answered only after the pull gave up */
            return;
        }
        if (is_layer && strcmp(f->mode, "redirect") == 0) {
            ek_autofree char *loc = ek_xasprintf("/storage/%s", b + 7);
            ek_http_add_header(r, "Location", loc);
            ek_http_respond(r, 307, "text/plain", "", 0);
            return;
        }
        if (is_layer && strcmp(f->mode, "bad") == 0) {
            body[len / 2] ^= 1;
        }
        ek_http_respond(r, body ? 200 : 404, "application/octet-stream", body, body ? len : 0);
        return;
    }
    ek_http_respond(r, 404, "text/plain", "", 0);
}

struct pulled {
    bool done;
    ek_image_info_t *info;
    char *err;
};

static void pulled_cb(ek_image_info_t *info, ek_error_t *err, void *data)
{
    struct pulled *p = data;
    p->done = true;
    p->info = info;
    p->err = err ? ek_xstrdup(ek_error_msg(err)) : NULL;
}

static void srv_closed(void *data)
{
    EK_UNUSED(data);
}

/* Pulls test/bb:1 from a fake registry in the given mode; returns the error or NULL. */
static char *fake_pull(const char *mode, ek_image_info_t **out)
{
    struct fake f = { .mode = mode };
    f.layout = ek_test_path("layout");
    if (!ek_path_exists(f.layout)) {
        ek_autofree char *env = ek_xasprintf("KEEP=%s LAYERS=base,small:50", f.layout);
        free(mkimage(env, "oci", "pushed.tar", "test/bb:1"));
    }
    uv_loop_init(&f.loop);
    ek_http_server_options_t o = { .host = "127.0.0.1", .handler = fake_handler, .data = &f };
    ek_error_t *err = NULL;
    ASSERT_OK(ek_http_server_start(&f.loop, &o, &f.srv, &err), &err);
    int port = ek_http_server_port(f.srv);
    ek_autofree char *reg = ek_test_path("registries.yaml");
    ek_autofree char *yaml = ek_xasprintf(
        "mirrors:\n  \"127.0.0.1:%d\":\n    endpoint: [\"http://127.0.0.1:%d\"]\n", port, port);
    ek_file_write_atomic(reg, yaml, strlen(yaml), 0600, NULL);
    ek_image_store_t *s = open_store(NULL, 0);
    ek_autofree char *ref = ek_xasprintf("127.0.0.1:%d/test/bb:1", port);
    struct pulled p = { 0 };
    ek_image_pull_options_t po = { .timeout_ms = 500 };
    ASSERT_OK(
        ek_image_ensure(s, &f.loop, ref, EK_IMAGE_PULL_IF_NOT_PRESENT, &po, pulled_cb, &p, &err),
        &err);
    ek_test_run_until(&f.loop, &p.done, 20000);
    for (int i = 0; i < f.n_stalled; i++) {
        ek_http_respond(f.stalled[i], 500, "text/plain", "", 0);
    }
    if (strcmp(mode, "bearer") == 0) {
        ASSERT_CMP(f.tokens, >=, 1);
    }
    ek_http_server_close(f.srv, srv_closed, NULL);
    ek_test_loop_finish(&f.loop);
    ASSERT_EQ(count_dir("store/tmp"), 0);
    if (!p.err) {
        /* A second ensure with IfNotPresent is answered from the store. */
        ASSERT_EQ(f.blob_gets > 0, 1);
    }
    if (out) {
        *out = p.info;
    } else {
        ek_image_info_free(p.info);
    }
    ek_image_store_close(s);
    free(f.layout);
    return p.err;
}

TEST_T(image_pull_bearer_and_redirect, 120)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    ek_image_info_t *im = NULL;
    ek_autofree char *e1 = fake_pull("bearer", &im);
    if (e1) {
        ek__test_fail(__FILE__, __LINE__, "bearer pull: %s", e1);
    }
    ASSERT_EQ(im->n_layers, 2);
    ASSERT_TRUE(ek_path_exists(im->layers[1]));
    ek_image_info_free(im);
    ek_autofree char *store = ek_test_path("store");
    ek_rm_rf(store, NULL);
    ek_autofree char *e2 = fake_pull("redirect", NULL);
    if (e2) {
        ek__test_fail(__FILE__, __LINE__, "redirect pull: %s", e2);
    }
}

TEST_T(image_pull_failures, 120)
{
    ek_autofree char *e500 = fake_pull("500", NULL);
    ASSERT_CONTAINS(e500, "test/bb:1");
    ASSERT_CONTAINS(e500, "500");
    ek_autofree char *ebad = fake_pull("bad", NULL);
    ASSERT_CONTAINS(ebad, "digest mismatch");
    ek_autofree char *estall = fake_pull("stall", NULL);
    ASSERT_CONTAINS(estall, "no data for 500 ms");
    ASSERT_EQ(count_dir("store/layers"), 0);
}

/* ---- air-gap directory ---- */

static void airgap_stopped(void *data)
{
    *(bool *)data = true;
}

TEST_T(image_airgap_dir, 120)
{
    ek_autofree char *one = mkimage("LAYERS=base,tag:one", "oci", "one.tar", "air/one:1");
    ek_autofree char *two = mkimage("LAYERS=base,tag:two", "docker", "two.tar", "air/two:1");
    ek_image_store_t *s = open_store(NULL, 0);
    ek_autofree char *dir = ek_xstrdup(ek_image_store_dir(s));
    sh("cp %s %s/", one, dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ek_error_t *err = NULL;
    ek_image_airgap_t *a = ek_image_airgap_start(s, &loop, dir, &err);
    ASSERT_OK(a ? 0 : -1, &err);
    uint64_t deadline = ek_now_ms() + 20000;
    while (ek_image_airgap_imports(a) < 1 && ek_now_ms() < deadline) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_image(s, "air/one:1", 2);
    /* An archive that appears while running (copied in two steps, like a slow copy). */
    sh("head -c 100000 %s > %s/two.tar.part && cat %s > %s/two.tar && rm %s/two.tar.part", two, dir,
       two, dir, dir);
    while (ek_image_airgap_imports(a) < 2 && ek_now_ms() < deadline) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_image(s, "air/two:1", 2);
    ASSERT_EQ(ek_image_airgap_imports(a), 2);
    bool stopped = false;
    ek_image_airgap_stop(a, airgap_stopped, &stopped);
    ek_test_run_until(&loop, &stopped, 5000);
    ek_test_loop_finish(&loop);
    /* A restart does not import the same archives again; a pre-pull list of images that
     * are present is answered from the store. */
    ek_autofree char *list = ek_xasprintf("%s/prepull.txt", dir);
    static const char lines[] = "# images to have\n  air/one:1  # present\n\nair/two:1\n";
    ASSERT_OK(ek_file_write_atomic(list, lines, strlen(lines), 0644, NULL), &err);
    uv_loop_init(&loop);
    a = ek_image_airgap_start(s, &loop, dir, &err);
    for (int i = 0; i < 20; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(10000);
    }
    ASSERT_EQ(ek_image_airgap_imports(a), 0);
    stopped = false;
    ek_image_airgap_stop(a, airgap_stopped, &stopped);
    ek_test_run_until(&loop, &stopped, 5000);
    ek_test_loop_finish(&loop);
    ek_image_store_close(s);
}
