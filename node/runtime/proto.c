/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The wire between the agent and a shim, and two process primitives both sides use. A control
 * connection is a SOCK_SEQPACKET unix socket: one datagram is one JSON request or reply, so
 * there is no framing to get wrong, and exec's stdio descriptors ride along as SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "node/runtime/runtime-internal.h"

int ek__rt_send(int fd, const char *data, size_t len, const int *fds, size_t nfds, ek_error_t **err)
{
    ek_assert(nfds <= EK__RT_MAX_FDS);
    if (len > EK__RT_MSG_MAX) {
        return ek_error_make(err, EMSGSIZE, "control message of %zu bytes", len);
    }
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    union {
        char buf[CMSG_SPACE(sizeof(int) * EK__RT_MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        memset(&u, 0, sizeof(u));
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    ssize_t n;
    do {
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return ek_error_make(err, errno, "send control message");
    }
    return 0;
}

int ek__rt_send_json(int fd, const json_t *j, const int *fds, size_t nfds, ek_error_t **err)
{
    ek_autofree char *s = ek_json_dumps(j);
    return ek__rt_send(fd, s, strlen(s), fds, nfds, err);
}

ssize_t ek__rt_recv(int fd, char *buf, size_t cap, int *fds, size_t *nfds, ek_error_t **err)
{
    struct iovec iov = { .iov_base = buf, .iov_len = cap - 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int) * EK__RT_MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof(u.buf);
    if (nfds) {
        *nfds = 0;
    }
    ssize_t n;
    do {
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return ek_error_make(err, errno, "receive control message");
    }
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int got[EK__RT_MAX_FDS + 4];
        k = EK_MIN(k, EK_ARRAY_SIZE(got));
        memcpy(got, CMSG_DATA(cm), k * sizeof(int));
        for (size_t i = 0; i < k; i++) {
            if (fds && nfds && *nfds < EK__RT_MAX_FDS) {
                fds[(*nfds)++] = got[i];
            } else {
                close(got[i]);
            }
        }
    }
    if (msg.msg_flags & MSG_TRUNC) {
        return ek_error_make(err, EMSGSIZE, "control message larger than %zu bytes", cap - 1);
    }
    buf[n] = '\0';
    return n;
}

int ek__rt_connect(const char *path, ek_error_t **err)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    ek_autoclose int dirfd = -1;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        /* Too long for sun_path: go through an O_PATH descriptor of the directory. */
        ek_autofree char *dir = ek_path_dirname(path);
        dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            return ek_error_make(err, errno, "open `%s`", dir);
        }
        snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
                 strrchr(path, '/') + 1);
    } else {
        memcpy(sa.sun_path, path, strlen(path) + 1);
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return ek_error_make(err, errno, "socket");
    }
    int rc;
    do {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int e = errno;
        close(fd);
        return ek_error_make(err, e, "connect to shim `%s`", path);
    }
    return fd;
}

pid_t ek__rt_clone(unsigned long flags, int *pidfd)
{
    /* Fork semantics (no new stack). The pidfd comes back through parent_tid, the third
     * argument on every architecture's clone. */
    return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, pidfd, NULL, NULL);
}

pid_t ek__rt_pidfd_pid(int pidfd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
    ek_autofree char *data = ek_file_read(path, 8192, NULL, NULL);
    const char *p = data ? strstr(data, "\nPid:") : NULL;
    return p ? (pid_t)strtol(p + 5, NULL, 10) : -1;
}
