/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit-test runner: forks every registered test (so a crash or a leak report stays with its
 * test), enforces a timeout, runs up to -j tests at once and prints TAP. Exit status 77 from
 * a test means skipped; its last output line says why.
 *
 *   unit [-j N] [-l] [PATTERN...]    PATTERN matches test names or file names by substring
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <linux/netlink.h>

#include "tests/unit/test.h"

struct test {
    const char *name;
    const char *file;
    ek_test_fn fn;
    int timeout_s;
};

static struct test *tests;
static size_t n_tests, cap_tests;
static char tmpdir_buf[256];

void ek__test_register(const char *name, ek_test_fn fn, int timeout_s, const char *file)
{
    if (n_tests == cap_tests) {
        cap_tests = cap_tests ? cap_tests * 2 : 64;
        tests = realloc(tests, cap_tests * sizeof(*tests));
        if (!tests) {
            abort();
        }
    }
    tests[n_tests++] = (struct test){ name, file, fn, timeout_s };
}

void ek__test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    _exit(1);
}

void ek_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\nSKIP: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    _exit(77);
}

const char *ek_test_emulator(void)
{
    const char *e = getenv("EK_TEST_EMULATOR");
    return e && *e ? e : NULL;
}

void ek_test_native_only(const char *why)
{
    if (ek_test_emulator()) {
        ek_test_skip("under %s: %s (the native run covers it)", ek_test_emulator(), why);
    }
}

void ek_test_need_nftables(void)
{
    if (!ek_test_emulator()) {
        return;
    }
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        ek_test_skip("under %s: no nftables netlink (%s); the native run covers it",
                     ek_test_emulator(), strerror(errno));
    }
    close(fd);
}

const char *ek_test_tmpdir(void)
{
    return tmpdir_buf;
}

char *ek_test_path(const char *name)
{
    return ek_xasprintf("%s/%s", tmpdir_buf, name);
}

struct running {
    pid_t pid;
    size_t idx;
    int out_fd;
    uint64_t deadline_ms;
    uint64_t start_ms;
    char tmp[256];
    bool killed;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool matches(const struct test *t, int npat, char **pats)
{
    if (npat == 0) {
        return true;
    }
    for (int i = 0; i < npat; i++) {
        if (strstr(t->name, pats[i]) || strstr(t->file, pats[i])) {
            return true;
        }
    }
    return false;
}

static void start(struct running *r, size_t idx)
{
    const struct test *t = &tests[idx];
    snprintf(r->tmp, sizeof(r->tmp), "/tmp/ek-unit-%s-XXXXXX", t->name);
    if (!mkdtemp(r->tmp)) {
        perror("mkdtemp");
        exit(2);
    }
    r->out_fd = memfd_create("test-output", MFD_CLOEXEC);
    r->idx = idx;
    r->killed = false;
    r->start_ms = mono_ms();
    r->deadline_ms = r->start_ms + (uint64_t)t->timeout_s * 1000;
    fflush(NULL);
    r->pid = fork();
    if (r->pid == 0) {
        setpgid(0, 0);
        dup2(r->out_fd, 1);
        dup2(r->out_fd, 2);
        snprintf(tmpdir_buf, sizeof(tmpdir_buf), "%s", r->tmp);
        setenv("EK_TEST_TMPDIR", r->tmp, 1);
        signal(SIGPIPE, SIG_IGN);
        t->fn();
        fflush(NULL);
        exit(0);
    }
}

static void print_output(int fd, bool failed, char *skip_reason, size_t skip_len)
{
    off_t size = lseek(fd, 0, SEEK_END);
    if (size <= 0) {
        return;
    }
    char *data = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
        return;
    }
    const char *skip = NULL;
    for (const char *p = data; p < data + size;) {
        const char *nl = memchr(p, '\n', (size_t)(data + size - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(data + size - p);
        if (len > 6 && memcmp(p, "SKIP: ", 6) == 0) {
            skip = p + 6;
            snprintf(skip_reason, skip_len, "%.*s", (int)(len - 6), skip);
        }
        if (failed) {
            printf("#   %.*s\n", (int)len, p);
        }
        p += len + 1;
    }
    munmap(data, (size_t)size);
}

static int finish(struct running *r, int status, int num)
{
    const struct test *t = &tests[r->idx];
    uint64_t ms = mono_ms() - r->start_ms;
    int rc = 0;
    char skip[512] = "";
    if (r->killed) {
        printf("not ok %d - %s (timeout after %d s)\n", num, t->name, t->timeout_s);
        print_output(r->out_fd, true, skip, sizeof(skip));
        rc = 1;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %d - %s (%llu ms)\n", num, t->name, (unsigned long long)ms);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        print_output(r->out_fd, false, skip, sizeof(skip));
        printf("ok %d - %s # SKIP %s\n", num, t->name, skip);
    } else {
        if (WIFSIGNALED(status)) {
            printf("not ok %d - %s (signal %d)\n", num, t->name, WTERMSIG(status));
        } else {
            printf("not ok %d - %s (exit %d)\n", num, t->name, WEXITSTATUS(status));
        }
        print_output(r->out_fd, true, skip, sizeof(skip));
        rc = 1;
    }
    fflush(stdout);
    close(r->out_fd);
    ek_error_t *err = NULL;
    if (ek_rm_rf(r->tmp, &err) < 0) {
        printf("# cleanup of %s failed: %s\n", r->tmp, ek_error_msg(err));
        ek_error_free(err);
    }
    return rc;
}

static int cmp_tests(const void *a, const void *b)
{
    const struct test *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    int jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    bool list = false;
    int npat = 0;
    char **pats = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
            jobs = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-l") == 0) {
            list = true;
        } else {
            pats[npat++] = argv[i];
        }
    }
    if (jobs < 1) {
        jobs = 1;
    }
    qsort(tests, n_tests, sizeof(*tests), cmp_tests);
    size_t *sel = calloc(n_tests + 1, sizeof(size_t));
    size_t nsel = 0;
    for (size_t i = 0; i < n_tests; i++) {
        if (matches(&tests[i], npat, pats)) {
            sel[nsel++] = i;
        }
    }
    if (list) {
        for (size_t i = 0; i < nsel; i++) {
            printf("%s (%s)\n", tests[sel[i]].name, tests[sel[i]].file);
        }
        return 0;
    }
    printf("TAP version 13\n1..%zu\n", nsel);
    struct running *run = calloc((size_t)jobs, sizeof(*run));
    int active = 0, failed = 0, num = 0;
    size_t next = 0;
    while (next < nsel || active > 0) {
        while (active < jobs && next < nsel) {
            for (int s = 0; s < jobs; s++) {
                if (run[s].pid == 0) {
                    start(&run[s], sel[next++]);
                    active++;
                    break;
                }
            }
        }
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0) {
            uint64_t now = mono_ms();
            for (int s = 0; s < jobs; s++) {
                if (run[s].pid > 0 && !run[s].killed && now > run[s].deadline_ms) {
                    kill(-run[s].pid, SIGKILL);
                    kill(run[s].pid, SIGKILL);
                    run[s].killed = true;
                }
            }
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            continue;
        }
        for (int s = 0; s < jobs; s++) {
            if (run[s].pid == pid) {
                failed += finish(&run[s], status, ++num);
                run[s].pid = 0;
                active--;
                /* A test may leave children in its process group: end them, they are ours. */
                kill(-pid, SIGKILL);
                break;
            }
        }
    }
    printf("# %d of %zu failed\n", failed, nsel);
    free(run);
    free(sel);
    free(pats);
    return failed ? 1 : 0;
}
