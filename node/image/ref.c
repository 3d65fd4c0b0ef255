/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Docker image references and platforms, as pure functions. References normalise the way
 * Docker's reference.ParseNormalizedNamed does, so "busybox", "library/busybox" and
 * "docker.io/library/busybox:latest" are one image and the names shown are the ones
 * kubectl users see in pod status. Platforms match the way containerd's default matcher
 * does for the three architectures edgek ships for (arm/v7 runs v6 and v5 images too).
 */
#include <stdio.h>
#include <sys/utsname.h>

#include "node/image/image-internal.h"

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool path_component_ok(const char *p, size_t len)
{
    size_t i = 0;
    for (;;) {
        if (i >= len || !is_lower_alnum(p[i])) {
            return false;
        }
        while (i < len && is_lower_alnum(p[i])) {
            i++;
        }
        if (i == len) {
            return true;
        }
        if (p[i] == '.') {
            i++;
        } else if (p[i] == '_') {
            i += (i + 1 < len && p[i + 1] == '_') ? 2 : 1;
        } else if (p[i] == '-') {
            while (i < len && p[i] == '-') {
                i++;
            }
        } else {
            return false;
        }
    }
}

/* host[:port] with host a dotted name, "localhost" or a bracketed IPv6 literal. */
static bool domain_ok(const char *d, size_t len)
{
    const char *end = d + len;
    const char *colon = NULL;
    if (len > 0 && d[0] == '[') {
        const char *close = memchr(d, ']', len);
        if (!close || close == d + 1) {
            return false;
        }
        for (const char *p = d + 1; p < close; p++) {
            if (!(is_alnum(*p) || *p == ':' || *p == '.')) {
                return false;
            }
        }
        colon = close + 1 < end ? close + 1 : NULL;
        if (colon && *colon != ':') {
            return false;
        }
    } else {
        colon = memchr(d, ':', len);
        const char *hend = colon ? colon : end;
        if (hend == d) {
            return false;
        }
        for (const char *p = d; p < hend;) {
            const char *dot = memchr(p, '.', (size_t)(hend - p));
            const char *cend = dot ? dot : hend;
            if (cend == p || !is_alnum(p[0]) || !is_alnum(cend[-1])) {
                return false;
            }
            for (const char *q = p; q < cend; q++) {
                if (!is_alnum(*q) && *q != '-') {
                    return false;
                }
            }
            p = dot ? dot + 1 : hend;
            if (dot && p == hend) {
                return false;
            }
        }
    }
    if (colon) {
        if (colon + 1 == end || end - colon > 6) {
            return false;
        }
        for (const char *p = colon + 1; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return false;
            }
        }
    }
    return true;
}

static bool tag_ok(const char *t)
{
    size_t len = strlen(t);
    if (len == 0 || len > 128 || !(is_alnum(t[0]) || t[0] == '_')) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (!(is_alnum(t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-')) {
            return false;
        }
    }
    return true;
}

static bool is_hex64(const char *s)
{
    if (strlen(s) != 64) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) {
            return false;
        }
    }
    return true;
}

void ek_image_ref_free(ek_image_ref_t *r)
{
    if (!r) {
        return;
    }
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    free(r->name);
    free(r->full);
    memset(r, 0, sizeof(*r));
}

static int split_domain(ek_image_ref_t *out, const char *name, const char *orig, ek_error_t **err)
{
    const char *slash = strchr(name, '/');
    const char *rest = name;
    if (slash) {
        size_t dl = (size_t)(slash - name);
        bool lower = true;
        for (size_t i = 0; i < dl; i++) {
            lower = lower && !(name[i] >= 'A' && name[i] <= 'Z');
        }
        if (memchr(name, '.', dl) || memchr(name, ':', dl) ||
            (dl == 9 && !memcmp(name, "localhost", 9)) || !lower) {
            if (!domain_ok(name, dl)) {
                return ek_error_status(err, 400, "invalid reference `%s`: bad registry host", orig);
            }
            out->domain = ek_xstrndup(name, dl);
            rest = slash + 1;
        }
    }
    if (!out->domain || strcmp(out->domain, "index.docker.io") == 0) {
        free(out->domain);
        out->domain = ek_xstrdup("docker.io");
    }
    if (strcmp(out->domain, "docker.io") == 0 && !strchr(rest, '/')) {
        out->path = ek_xasprintf("library/%s", rest);
    } else {
        out->path = ek_xstrdup(rest);
    }
    return 0;
}

static int check_path(const char *path, const char *orig, ek_error_t **err)
{
    for (const char *p = path;;) {
        const char *end = strchrnul(p, '/');
        if (!path_component_ok(p, (size_t)(end - p))) {
            for (const char *q = p; q < end; q++) {
                if (*q >= 'A' && *q <= 'Z') {
                    return ek_error_status(err, 400,
                                           "invalid reference `%s`: repository name must be "
                                           "lowercase",
                                           orig);
                }
            }
            return ek_error_status(err, 400, "invalid reference `%s`: bad repository name", orig);
        }
        if (!*end) {
            return 0;
        }
        p = end + 1;
    }
}

int ek_image_ref_parse(const char *s, ek_image_ref_t *out, ek_error_t **err)
{
    memset(out, 0, sizeof(*out));
    if (!s || !*s) {
        return ek_error_status(err, 400, "invalid reference: empty");
    }
    if (strlen(s) > 1024) {
        return ek_error_status(err, 400, "invalid reference: too long");
    }
    ek_autofree char *copy = ek_xstrdup(s);
    char *at = strchr(copy, '@');
    if (at) {
        *at = '\0';
        if (!ek__digest_valid(at + 1)) {
            return ek_error_status(err, 400, "invalid reference `%s`: bad digest", s);
        }
        out->digest = ek_xstrdup(at + 1);
    }
    char *slash = strrchr(copy, '/');
    char *colon = strrchr(copy, ':');
    if (colon && (!slash || colon > slash)) {
        *colon = '\0';
        if (!tag_ok(colon + 1)) {
            ek_image_ref_free(out);
            return ek_error_status(err, 400, "invalid reference `%s`: bad tag", s);
        }
        out->tag = ek_xstrdup(colon + 1);
    }
    if (!*copy || split_domain(out, copy, s, err) < 0 || check_path(out->path, s, err) < 0) {
        if (!*copy) {
            ek_error_status(err, 400, "invalid reference `%s`: no repository", s);
        }
        ek_image_ref_free(out);
        return -1;
    }
    if (is_hex64(out->path + (ek_has_prefix(out->path, "library/") ? 8 : 0)) && !slash) {
        ek_image_ref_free(out);
        return ek_error_status(err, 400,
                               "invalid reference `%s`: 64-character hexadecimal names are "
                               "reserved for image ids",
                               s);
    }
    out->name = ek_xasprintf("%s/%s", out->domain, out->path);
    if (strlen(out->name) > 255) {
        ek_image_ref_free(out);
        return ek_error_status(err, 400, "invalid reference `%s`: name longer than 255", s);
    }
    if (!out->tag && !out->digest) {
        out->tag = ek_xstrdup("latest");
    }
    out->full = ek_xasprintf("%s%s%s%s%s", out->name, out->tag ? ":" : "", out->tag ? out->tag : "",
                             out->digest ? "@" : "", out->digest ? out->digest : "");
    return 0;
}

char *ek_image_ref_normalize(const char *s, ek_error_t **err)
{
    ek_image_ref_t r;
    if (ek_image_ref_parse(s, &r, err) < 0) {
        return NULL;
    }
    char *full = ek_steal(&r.full);
    ek_image_ref_free(&r);
    return full;
}

const char *ek_image_node_platform(void)
{
#if defined(__x86_64__)
    return "linux/amd64";
#elif defined(__aarch64__)
    return "linux/arm64";
#elif defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7
    return "linux/arm/v7";
#elif defined(__arm__)
    return "linux/arm/v6";
#else
    static char buf[64];
    struct utsname u;
    if (!buf[0] && uname(&u) == 0) {
        snprintf(buf, sizeof(buf), "linux/%s", u.machine);
    }
    return buf;
#endif
}

bool ek__platform_valid(const char *s)
{
    if (!s || !*s) {
        return false;
    }
    if (strcmp(s, "all") == 0) {
        return true;
    }
    int parts = 1;
    for (const char *p = s; *p; p++) {
        if (*p == '/') {
            if (p == s || p[1] == '/' || p[1] == '\0') {
                return false;
            }
            parts++;
        } else if (!is_lower_alnum(*p) && *p != '_' && *p != '.' && *p != '-') {
            return false;
        }
    }
    return parts == 2 || parts == 3;
}

static int variant_num(const char *v)
{
    return (v && v[0] == 'v' && v[1] >= '0' && v[1] <= '9') ? atoi(v + 1) : -1;
}

int ek__platform_match(const char *want, const char *os, const char *arch, const char *variant)
{
    if (!os || !arch || strcmp(os, "unknown") == 0 || strcmp(arch, "unknown") == 0) {
        return 0; /* attestation manifests and the like */
    }
    if (strcmp(want, "all") == 0) {
        return 1;
    }
    char wos[32] = "", warch[32] = "", wvar[32] = "";
    sscanf(want, "%31[^/]/%31[^/]/%31s", wos, warch, wvar);
    variant = variant ? variant : "";
    if (strcmp(os, wos) != 0 || strcmp(arch, warch) != 0) {
        return 0;
    }
    if (strcmp(arch, "arm64") == 0) {
        bool v8 = !*variant || strcmp(variant, "v8") == 0;
        return strcmp(variant, wvar) == 0 ? 4 : v8 ? 3 : 0;
    }
    if (strcmp(arch, "arm") == 0) {
        int w = variant_num(*wvar ? wvar : "v7");
        int c = variant_num(*variant ? variant : "v7");
        return (c < 0 || c > w) ? 0 : 4 - EK_MIN(w - c, 3);
    }
    if (strcmp(arch, "amd64") == 0) {
        return (!*variant || strcmp(variant, "v1") == 0) ? 3 : 1;
    }
    return strcmp(variant, wvar) == 0 ? 4 : !*variant ? 3 : 0;
}
