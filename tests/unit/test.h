/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The unit-test harness. `TEST(name) { ... }` registers a test; the runner forks each test
 * with a timeout and prints TAP. Inside a test: ASSERT_* macros, ek_test_skip("reason")
 * (exit 77), ek_test_tmpdir() (a fresh directory the runner removes afterwards).
 */
#ifndef EK_TESTS_UNIT_TEST_H
#define EK_TESTS_UNIT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/lib.h"

typedef void (*ek_test_fn)(void);

void ek__test_register(const char *name, ek_test_fn fn, int timeout_s, const char *file);
EK_NORETURN void ek__test_fail(const char *file, int line, const char *fmt, ...) EK_PRINTF(3, 4);
EK_NORETURN void ek_test_skip(const char *fmt, ...) EK_PRINTF(1, 2);
/* The name of the emulator the tests run under (`make check-arm64` sets EK_TEST_EMULATOR to
 * qemu-aarch64-static), or NULL when they run natively. */
const char *ek_test_emulator(void);
/* Skips the test when it runs under an emulator, saying why the emulator cannot run it
 * (a syscall qemu-user lacks, timing that a ~20x slowdown breaks); native runs cover it. */
void ek_test_native_only(const char *why);
/* Skips the test when it runs under an emulator that does not translate nftables' netlink
 * (qemu-user); natively a missing nftables stays the failure it is. */
void ek_test_need_nftables(void);
/* A directory private to this test, removed after it ends. Borrowed. */
const char *ek_test_tmpdir(void);
/* Path inside ek_test_tmpdir(); caller frees. */
char *ek_test_path(const char *name);

#define TEST_T(name, timeout_s)                                     \
    static void test_##name(void);                                  \
    __attribute__((constructor)) static void register_##name(void)  \
    {                                                               \
        ek__test_register(#name, test_##name, timeout_s, __FILE__); \
    }                                                               \
    static void test_##name(void)
#define TEST(name) TEST_T(name, 60)

#define ASSERT_TRUE(c)                                                  \
    do {                                                                \
        if (!(c)) {                                                     \
            ek__test_fail(__FILE__, __LINE__, "expected true: %s", #c); \
        }                                                               \
    } while (0)
#define ASSERT_FALSE(c) ASSERT_TRUE(!(c))
#define ASSERT_EQ(a, b)                                                                  \
    do {                                                                                 \
        long long a_ = (long long)(a), b_ = (long long)(b);                              \
        if (a_ != b_) {                                                                  \
            ek__test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
        }                                                                                \
    } while (0)
#define ASSERT_NE(a, b)                                                           \
    do {                                                                          \
        long long a_ = (long long)(a), b_ = (long long)(b);                       \
        if (a_ == b_) {                                                           \
            ek__test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, a_); \
        }                                                                         \
    } while (0)
#define ASSERT_CMP(a, op, b)                                                                  \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        if (!(a_ op b_)) {                                                                    \
            ek__test_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld", #a, #op, #b, a_, b_); \
        }                                                                                     \
    } while (0)
#define ASSERT_STREQ(a, b)                                                          \
    do {                                                                            \
        const char *a_ = (a), *b_ = (b);                                            \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                    \
            ek__test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                          a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
        }                                                                           \
    } while (0)
#define ASSERT_CONTAINS(hay, needle)                                                      \
    do {                                                                                  \
        const char *h_ = (hay), *n_ = (needle);                                           \
        if (!h_ || !strstr(h_, n_)) {                                                     \
            ek__test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #hay, n_, \
                          h_ ? h_ : "(null)");                                            \
        }                                                                                 \
    } while (0)
/* Asserts a call returned >= 0 (or non-NULL) and prints the ek_error_t otherwise. */
#define ASSERT_OK(expr, errp)                                                                 \
    do {                                                                                      \
        if ((long long)(expr) < 0) {                                                          \
            ek__test_fail(__FILE__, __LINE__, "%s failed: %s", #expr, ek_error_msg(*(errp))); \
        }                                                                                     \
    } while (0)
#define ASSERT_NOT_NULL(p)                                       \
    do {                                                         \
        if ((p) == NULL) {                                       \
            ek__test_fail(__FILE__, __LINE__, "%s is NULL", #p); \
        }                                                        \
    } while (0)

#endif
