/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod address management for one node's subnet, on disk like CNI host-local: a file per
 * allocated address (named by the address, holding its owner's id), `last_reserved_ip` for
 * round-robin, and an flock on `lock` around every operation so two processes (an agent and
 * `edgek agent --cleanup`, say) never hand out one address twice.
 *
 * Files are not fsynced: a power loss kills every pod with it, so an allocation lost that way
 * frees an address nobody holds any more, and reconcile clears allocations that outlived
 * their pods. SD cards are spared a sync per pod.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "net/podnet/podnet-internal.h"

#define LAST_FILE "last_reserved_ip"
#define ID_MAX    256

struct ek_ipam {
    char *dir;
    uint32_t net;         /* host order */
    uint32_t first, last; /* the range handed out, host order, inclusive */
    int prefix;
};

ek_ipam_t *ek_ipam_open(const char *dir, const char *cidr, ek_error_t **err)
{
    struct in_addr net;
    int prefix;
    if (ek_cidr_parse(cidr, &net, &prefix, err) < 0) {
        return NULL;
    }
    if (prefix < 16 || prefix > 30) {
        ek_error_make(err, EINVAL, "pod subnet %s: want a prefix between /16 and /30", cidr);
        return NULL;
    }
    if (ek_mkdir_p(dir, 0700, err) < 0) {
        ek_error_wrap(err, "IPAM directory");
        return NULL;
    }
    ek_ipam_t *ipam = ek_new(ek_ipam_t);
    ipam->dir = ek_xstrdup(dir);
    ipam->prefix = prefix;
    ipam->net = ntohl(net.s_addr & ek_cidr_mask(prefix));
    /* .0 is the network, .1 the gateway, the last address the broadcast. */
    ipam->first = ipam->net + 2;
    ipam->last = ipam->net + (1u << (32 - prefix)) - 2;
    return ipam;
}

void ek_ipam_close(ek_ipam_t *ipam)
{
    if (ipam) {
        free(ipam->dir);
        free(ipam);
    }
}

struct in_addr ek_ipam_gateway(const ek_ipam_t *ipam)
{
    return (struct in_addr){ .s_addr = htonl(ipam->net + 1) };
}

int ek_ipam_prefix(const ek_ipam_t *ipam)
{
    return ipam->prefix;
}

/* Takes the directory's lock; returns the fd holding it (closing it releases). */
static int lock_dir(ek_ipam_t *ipam, ek_error_t **err)
{
    ek_autofree char *path = ek_xasprintf("%s/lock", ipam->dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return ek_error_make(err, errno, "open `%s`", path);
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return ek_error_make(err, e, "lock `%s`", path);
        }
    }
    return fd;
}

/* Reads the id in an allocation file into id (NUL-terminated); -1 if unreadable. */
static int read_id(int dirfd, const char *name, char id[ID_MAX])
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, id, ID_MAX - 1);
    close(fd);
    if (n < 0) {
        return -1;
    }
    id[n] = '\0';
    id[strcspn(id, "\r\n")] = '\0'; /* host-local writes "id\nifname" */
    return 0;
}

typedef int (*scan_cb)(ek_ipam_t *ipam, int dirfd, const char *name, uint32_t ip, const char *id,
                       void *arg);

/* Calls cb for every allocation file; stops at a cb returning non-zero (returned). */
static int scan(ek_ipam_t *ipam, scan_cb cb, void *arg, ek_error_t **err)
{
    DIR *d = opendir(ipam->dir);
    if (!d) {
        return ek_error_make(err, errno, "open `%s`", ipam->dir);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        struct in_addr a;
        char id[ID_MAX];
        if (inet_pton(AF_INET, de->d_name, &a) != 1 || read_id(dirfd(d), de->d_name, id) < 0) {
            continue;
        }
        rc = cb(ipam, dirfd(d), de->d_name, ntohl(a.s_addr), id, arg);
    }
    closedir(d);
    return rc;
}

struct find {
    const char *id;
    uint32_t ip;
};

static int find_cb(ek_ipam_t *ipam, int dirfd, const char *name, uint32_t ip, const char *id,
                   void *arg)
{
    struct find *f = arg;
    if (strcmp(id, f->id) == 0 && ip >= ipam->first && ip <= ipam->last) {
        f->ip = ip;
        return 1;
    }
    return 0;
}

static int lookup_locked(ek_ipam_t *ipam, const char *id, struct in_addr *out, ek_error_t **err)
{
    struct find f = { .id = id };
    int rc = scan(ipam, find_cb, &f, err);
    if (rc > 0) {
        out->s_addr = htonl(f.ip);
    }
    return rc;
}

int ek_ipam_lookup(ek_ipam_t *ipam, const char *id, struct in_addr *out, ek_error_t **err)
{
    ek_autoclose int lock = lock_dir(ipam, err);
    if (lock < 0) {
        return -1;
    }
    return lookup_locked(ipam, id, out, err);
}

static uint32_t read_last(ek_ipam_t *ipam)
{
    ek_autofree char *path = ek_xasprintf("%s/" LAST_FILE, ipam->dir);
    ek_autofree char *s = ek_file_read(path, 64, NULL, NULL);
    struct in_addr a;
    if (s) {
        s[strcspn(s, "\r\n")] = '\0';
    }
    if (!s || inet_pton(AF_INET, s, &a) != 1) {
        return 0;
    }
    return ntohl(a.s_addr);
}

static void write_last(ek_ipam_t *ipam, const char *ip)
{
    /* Best effort: losing it only restarts round-robin from the subnet's start. */
    ek_autofree char *path = ek_xasprintf("%s/" LAST_FILE, ipam->dir);
    ek_autoclose int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0 && write(fd, ip, strlen(ip)) < 0) {
        EK_LOG(EK_WARN, "podnet", "write %s failed err=%s", path, strerror(errno));
    }
}

/* Creates the allocation file for ip; 1 taken, 0 created, -1 error. */
static int try_claim(ek_ipam_t *ipam, uint32_t ip, const char *id, ek_error_t **err)
{
    char name[INET_ADDRSTRLEN];
    struct in_addr a = { .s_addr = htonl(ip) };
    inet_ntop(AF_INET, &a, name, sizeof(name));
    ek_autofree char *path = ek_xasprintf("%s/%s", ipam->dir, name);
    ek_autoclose int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        return 1;
    }
    if (fd < 0) {
        return ek_error_make(err, errno, "create `%s`", path);
    }
    size_t len = strlen(id);
    if (write(fd, id, len) != (ssize_t)len) {
        int e = errno;
        unlink(path);
        return ek_error_make(err, e, "write `%s`", path);
    }
    write_last(ipam, name);
    return 0;
}

int ek_ipam_alloc(ek_ipam_t *ipam, const char *id, struct in_addr *out, ek_error_t **err)
{
    if (!*id || strlen(id) >= ID_MAX || strchr(id, '\n')) {
        return ek_error_make(err, EINVAL, "bad IPAM owner id `%s`", id);
    }
    ek_autoclose int lock = lock_dir(ipam, err);
    if (lock < 0) {
        return -1;
    }
    int have = lookup_locked(ipam, id, out, err);
    if (have != 0) {
        return have < 0 ? -1 : 0;
    }
    uint32_t size = ipam->last - ipam->first + 1;
    uint32_t last = read_last(ipam);
    uint32_t start = last >= ipam->first && last <= ipam->last ? last + 1 : ipam->first;
    for (uint32_t i = 0; i < size; i++) {
        uint32_t ip = ipam->first + (start - ipam->first + i) % size;
        int rc = try_claim(ipam, ip, id, err);
        if (rc < 0) {
            return -1;
        }
        if (rc == 0) {
            out->s_addr = htonl(ip);
            return 0;
        }
    }
    return ek_error_make(err, ENOSPC, "no free address in the pod subnet for %s", id);
}

struct release {
    const char *id;
    const char *const *live;
    size_t n_live;
    int count;
    int err;
};

static bool is_live(const struct release *r, const char *id)
{
    for (size_t i = 0; i < r->n_live; i++) {
        if (strcmp(r->live[i], id) == 0) {
            return true;
        }
    }
    return false;
}

static int release_cb(ek_ipam_t *ipam, int dirfd, const char *name, uint32_t ip, const char *id,
                      void *arg)
{
    struct release *r = arg;
    bool drop =
        r->id ? strcmp(id, r->id) == 0 : ip < ipam->first || ip > ipam->last || !is_live(r, id);
    if (!drop) {
        return 0;
    }
    if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT) {
        r->err = errno;
        return -1;
    }
    r->count++;
    EK_LOG(EK_DEBUG, "podnet", "released ip=%s id=%s", name, id);
    return 0;
}

static int release(ek_ipam_t *ipam, struct release *r, ek_error_t **err)
{
    ek_autoclose int lock = lock_dir(ipam, err);
    if (lock < 0) {
        return -1;
    }
    if (scan(ipam, release_cb, r, err) < 0) {
        return ek_error_make(err, r->err, "release addresses in `%s`", ipam->dir);
    }
    return r->count;
}

int ek_ipam_release(ek_ipam_t *ipam, const char *id, ek_error_t **err)
{
    struct release r = { .id = id };
    return release(ipam, &r, err);
}

int ek_ipam_reconcile(ek_ipam_t *ipam, const char *const *live, size_t n, ek_error_t **err)
{
    struct release r = { .live = live, .n_live = n };
    return release(ipam, &r, err);
}
