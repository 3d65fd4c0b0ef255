/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation that never returns NULL, assertion failure, and the cleanup helpers. */
#include "lib/common.h"

#include <stdarg.h>
#include <stdio.h>

void ek__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "edgek: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    abort();
}

static EK_NORETURN void oom(size_t n)
{
    fprintf(stderr, "edgek: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ek_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *ek_xcalloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p) {
        oom(nmemb * n);
    }
    return p;
}

void *ek_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

char *ek_xstrdup(const char *s)
{
    return ek_xstrndup(s, strlen(s));
}

char *ek_xstrndup(const char *s, size_t n)
{
    char *p = ek_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ek_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0) {
        oom(0);
    }
    return p;
}

void ek__freep(void *p)
{
    free(*(void **)p);
}

void ek__closep(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
    }
}

void ek__fclosep(void *f)
{
    FILE **fp = f;
    if (*fp) {
        fclose(*fp);
    }
}

bool ek_has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}
