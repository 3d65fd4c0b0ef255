/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Basics every file needs: allocation that aborts on out-of-memory, assertions that stay on
 * in release builds, cleanup attributes for synchronous code, container_of and a few small
 * macros. Nothing here knows about Kubernetes.
 */
#ifndef EK_LIB_COMMON_H
#define EK_LIB_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Build identity (lib/version.c). */
extern const char ek_version[];
extern const char ek_git_commit[];
extern const char ek_kube_version[]; /* the Kubernetes API level implemented: "v1.32.4" */

#define EK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define EK_UNUSED(x)     ((void)(x))
#define EK_MIN(a, b)     ((a) < (b) ? (a) : (b))
#define EK_MAX(a, b)     ((a) > (b) ? (a) : (b))

#define ek_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#define EK_PRINTF(fmt_idx, args_idx) __attribute__((format(printf, fmt_idx, args_idx)))
#define EK_NORETURN                  __attribute__((noreturn))
#define EK_LIKELY(x)                 __builtin_expect(!!(x), 1)
#define EK_UNLIKELY(x)               __builtin_expect(!!(x), 0)

/* Aborts with file:line and the failed expression. Stays on in release builds. */
EK_NORETURN void ek__assert_fail(const char *expr, const char *file, int line, const char *func);
#define ek_assert(expr) \
    (EK_LIKELY(expr) ? (void)0 : ek__assert_fail(#expr, __FILE__, __LINE__, __func__))

/* Allocation: out-of-memory aborts, so callers never check. */
void *ek_xmalloc(size_t n);
void *ek_xcalloc(size_t nmemb, size_t n);
void *ek_xrealloc(void *p, size_t n);
char *ek_xstrdup(const char *s);
char *ek_xstrndup(const char *s, size_t n);
/* printf into a fresh string; caller frees. */
char *ek_xasprintf(const char *fmt, ...) EK_PRINTF(1, 2);
#define ek_new(type) ((type *)ek_xcalloc(1, sizeof(type)))

/* Cleanup attributes for synchronous code. */
void ek__freep(void *p);
void ek__closep(int *fd);
void ek__fclosep(void *f);
#define ek_autofree   __attribute__((cleanup(ek__freep)))
#define ek_autoclose  __attribute__((cleanup(ek__closep)))
#define ek_autofclose __attribute__((cleanup(ek__fclosep)))
/* ek_auto(T) x = ...; calls ek_cleanup_T(&x) at scope exit (define it with EK_DEFINE_CLEANUP). */
#define ek_auto(type) __attribute__((cleanup(ek_cleanup_##type))) type *
#define EK_DEFINE_CLEANUP(type, fn)                \
    static inline void ek_cleanup_##type(type **p) \
    {                                              \
        if (*p) {                                  \
            fn(*p);                                \
        }                                          \
    }

/* Hands ownership on: returns *pp and sets *pp to NULL. */
static inline void *ek__steal(void **pp)
{
    void *p = *pp;
    *pp = NULL;
    return p;
}
#define ek_steal(pp) ek__steal((void **)(pp))
static inline int ek_steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

static inline bool ek_streq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}
static inline bool ek_has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}
bool ek_has_suffix(const char *s, const char *suffix);

#endif
