/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resource.Quantity: parsing and the string Kubernetes serialises back (including the inputs
 * its fast path keeps verbatim), errors, comparison, milli/whole values with overflow.
 */
#include <errno.h>

#include "api/api.h"
#include "tests/unit/test.h"

#define ERR_FORMAT \
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

static ek_quantity_t Q(const char *s)
{
    ek_quantity_t q;
    ek_error_t *err = NULL;
    if (ek_quantity_parse(s, &q, &err) < 0) {
        ek__test_fail(__FILE__, __LINE__, "parse %s: %s", s, ek_error_msg(err));
    }
    return q;
}

TEST(quantity_parse_and_format)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "0", "0" },
        { "00", "0" },
        { "-0", "0" },
        { "0m", "0" },
        { "0Ki", "0" },
        { "0.000", "0" },
        { "100m", "100m" },
        { "1000m", "1" },
        { "0.5", "500m" },
        { ".5", "500m" },
        { "1.5", "1500m" },
        { "1", "1" },
        { "1k", "1k" },
        { "1000", "1k" },
        { "1024", "1024" },
        { "1500", "1500" },
        { "15000", "15k" },
        { "500M", "500M" },
        { "5000M", "5G" },
        { "1Ki", "1Ki" },
        { "8Ki", "8Ki" },
        { "1024Ki", "1Mi" },
        { "1024Mi", "1Gi" },
        { "1536Mi", "1536Mi" },
        { "1.5Gi", "1536Mi" },
        { "0.5Ki", "512" },
        { "0.1Ki", "102400m" },
        { "1000Ki", "1000Ki" },
        { "2000", "2k" },
        { "1e3", "1e3" },
        { "1E3", "1E3" },
        { "1e-3", "1e-3" },
        { "12e3", "12e3" },
        { "1e2", "100" },
        { "10e3", "10e3" },
        { "1e21", "1e21" },
        { "100e20", "10e21" },
        { "+5", "+5" },
        { "+100m", "+100m" },
        { "-1", "-1" },
        { "-100m", "-100m" },
        { "-1.5", "-1500m" },
        { "-1Ki", "-1Ki" },
        { "-1024", "-1024" },
        { "-2048Ki", "-2Mi" },
        { "0.0000000001", "1n" },
        { "-0.0000000001", "-1n" },
        { "1.0000000001", "1000000001n" },
        { "1.999999999999", "2" },
        { "1n", "1n" },
        { "1u", "1u" },
        { "1000n", "1u" },
        { "010", "010" },
        { "1.500", "1.500" },
        { "1.100k", "1.100k" },
        { "1.000", "1" },
        { "1.G", "1.G" },
        { "5.", "5." },
        { ".", "0" },
        { "+", "0" },
        { "-", "0" },
        { "1e4294967296", "1e4294967296" },
        { "7Ei", "7Ei" },
        { "8Ei", "9223372036854775807" },
        { "-8Ei", "-9223372036854775807" },
        { "1Pi", "1Pi" },
        { "1Ti", "1Ti" },
        { "1000E", "1e21" },
        { "1E", "1E" },
        { "123456789012345678901234567890", "123456789012345678901234567890" },
        { "1234567890123456789", "1234567890123456789" },
        { "0.1234567891", "123456790n" },
        { "12345678901234567890Ki", "9223372036854775807" },
        { "3.000000001Gi", "3221225473073741824n" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t q = Q(cases[i].in);
        char buf[EK_QUANTITY_STRLEN];
        ek_quantity_format(&q, buf);
        if (strcmp(buf, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%s: got %s want %s", cases[i].in, buf, cases[i].out);
        }
        /* Whatever the input, the output parses back to the same value. */
        ek_quantity_t back = Q(buf);
        ASSERT_EQ(ek_quantity_cmp(&q, &back), 0);
    }
}

TEST(quantity_parse_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        { "", ERR_FORMAT },
        { "abc", ERR_FORMAT },
        { "1x", ERR_FORMAT },
        { "1 ", ERR_FORMAT },
        { " 1", ERR_FORMAT },
        { "1.2.3", ERR_FORMAT },
        { "1--1", ERR_FORMAT },
        { "--1", "unable to parse quantity's suffix" },
        { "1Ki3", "unable to parse quantity's suffix" },
        { "1e", "unable to parse quantity's suffix" },
        { "1ee3", "unable to parse quantity's suffix" },
        { "1mi", "unable to parse quantity's suffix" },
        { "1KI", ERR_FORMAT },
        { "1e99999999999999999999", "unable to parse quantity's suffix" },
        { "+.Pi", "unable to parse numeric part of quantity" },
        { ".Ei", "unable to parse numeric part of quantity" },
        { "-Ei", "unable to parse numeric part of quantity" },
        { "1234567890123456789012345678901234567890123456789012345678901234567",
          "quantity has more than 64 significant digits" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t q;
        ek_error_t *err = NULL;
        if (ek_quantity_parse(cases[i].in, &q, &err) == 0) {
            ek__test_fail(__FILE__, __LINE__, "%s: unexpectedly valid", cases[i].in);
        }
        ASSERT_EQ(err->status, 400);
        if (strcmp(ek_error_msg(err), cases[i].msg) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%s: got %s", cases[i].in, ek_error_msg(err));
        }
        ek_error_free(err);
    }
    /* Leading zeros and rounded-away fraction digits do not count as significant. */
    Q("0000000000000000000000000000000000000000000000000000000000000000000001");
    Q("1.00000000000000000000000000000000000000000000000000000000000000000001");
}

TEST(quantity_milli_and_value)
{
    static const struct {
        const char *in;
        int64_t milli, value;
        bool milli_overflows, value_overflows;
    } cases[] = {
        { "0", 0, 0, false, false },
        { "100m", 100, 1, false, false },
        { "1.5", 1500, 2, false, false },
        { "1n", 1, 1, false, false },
        { "250m", 250, 1, false, false },
        { "2", 2000, 2, false, false },
        { "2Gi", 2147483648000LL, 2147483648LL, false, false },
        { "128974848", 128974848000LL, 128974848, false, false },
        { "-1.5", -1500, -2, false, false },
        { "-1n", -1, -1, false, false },
        { "1e18", 0, 1000000000000000000LL, true, false },
        { "9223372036854775807", 0, INT64_MAX, true, false },
        { "-9223372036854775808", 0, INT64_MIN, true, false },
        { "9223372036854775808", 0, 0, true, true },
        { "9223372036854775807.5", 0, 0, true, true },
        { "1e19", 0, 0, true, true },
        { "8Ei", 0, INT64_MAX, true, false },
        { "9223372036854775m", 9223372036854775LL, 9223372036855LL, false, false },
        { "9223372036854775807m", INT64_MAX, 9223372036854776LL, false, false },
        { "9223372036854775808m", 0, 9223372036854776LL, true, false },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t q = Q(cases[i].in);
        int64_t v = 42;
        ek_error_t *err = NULL;
        int r = ek_quantity_milli(&q, &v, &err);
        if (cases[i].milli_overflows) {
            ASSERT_EQ(r, -1);
            ASSERT_EQ(err->errnum, ERANGE);
            ek_error_clear(&err);
        } else if (r < 0 || v != cases[i].milli) {
            ek__test_fail(__FILE__, __LINE__, "%s: milli %lld", cases[i].in, (long long)v);
        }
        r = ek_quantity_value(&q, &v, &err);
        if (cases[i].value_overflows) {
            ASSERT_EQ(r, -1);
            ASSERT_EQ(err->errnum, ERANGE);
            ek_error_clear(&err);
        } else if (r < 0 || v != cases[i].value) {
            ek__test_fail(__FILE__, __LINE__, "%s: value %lld", cases[i].in, (long long)v);
        }
    }
}

TEST(quantity_cmp)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        { "1", "1000m", 0 },      { "1Ki", "1024", 0 },   { "1k", "1Ki", -1 },
        { "-1", "1", -1 },        { "0", "-0.0", 0 },     { "1e3", "999", 1 },
        { "100m", "0.1", 0 },     { "1n", "0", 1 },       { "-2", "-1", -1 },
        { "1.5Gi", "1536Mi", 0 }, { "2Gi", "2G", 1 },     { "1e21", "1000E", 0 },
        { "999m", "1", -1 },      { "10", "9.99", 1 },    { "-10", "-9.99", -1 },
        { "0.1", "0.10001", -1 }, { "123", "1.23e2", 0 },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t a = Q(cases[i].a), b = Q(cases[i].b);
        if (ek_quantity_cmp(&a, &b) != cases[i].want || ek_quantity_cmp(&b, &a) != -cases[i].want) {
            ek__test_fail(__FILE__, __LINE__, "cmp(%s, %s) != %d", cases[i].a, cases[i].b,
                          cases[i].want);
        }
    }
}

TEST(quantity_from_int64)
{
    static const struct {
        int64_t v;
        int scale;
        ek_quantity_format_t f;
        const char *out;
    } cases[] = {
        { 1500, -3, EK_QUANTITY_DECIMAL_SI, "1500m" },
        { 1, 0, EK_QUANTITY_DECIMAL_SI, "1" },
        { 2147483648LL, 0, EK_QUANTITY_BINARY_SI, "2Gi" },
        { 1000, 0, EK_QUANTITY_BINARY_SI, "1k" },
        { 1025, 0, EK_QUANTITY_BINARY_SI, "1025" },
        { 2048, 0, EK_QUANTITY_BINARY_SI, "2Ki" },
        { 12345 * 1024, 0, EK_QUANTITY_BINARY_SI, "12345Ki" },
        { 0, 0, EK_QUANTITY_BINARY_SI, "0" },
        { INT64_MIN, 0, EK_QUANTITY_DECIMAL_SI, "-9223372036854775808" },
        { 1234567, -9, EK_QUANTITY_DECIMAL_SI, "1234567n" },
        { 5, 3, EK_QUANTITY_DECIMAL_EXPONENT, "5e3" },
        { 12345, 0, EK_QUANTITY_DECIMAL_EXPONENT, "12345" },
        { 12000, 0, EK_QUANTITY_DECIMAL_EXPONENT, "12e3" },
        { 1, 21, EK_QUANTITY_DECIMAL_SI, "1e21" },
        { 5, 20, EK_QUANTITY_BINARY_SI, "476837158203125Mi" },
        { 1, 30, EK_QUANTITY_BINARY_SI, "931322574615478515625Gi" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t q;
        ek_quantity_from_int64(&q, cases[i].v, cases[i].scale, cases[i].f);
        char buf[EK_QUANTITY_STRLEN];
        ek_quantity_format(&q, buf);
        if (strcmp(buf, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "case %zu: got %s want %s", i, buf, cases[i].out);
        }
    }
}

TEST(quantity_round_up)
{
    static const struct {
        const char *in;
        int scale;
        const char *out;
        bool exact;
    } cases[] = {
        /* Coarse enough already: the kept spelling stays, as Quantity.RoundUp keeps q.s. */
        { "+4", -3, "+4", true },
        { "100m", -3, "100m", true },
        { "1Gi", -3, "1Gi", true },
        { "0", 0, "0", true },
        /* Finer: rounded away from zero, printed canonically. */
        { "1500u", -3, "2m", false },
        { "0.0001", -3, "1m", false },
        { "1.0000000001", -3, "1001m", false },
        { "-1.5", 0, "-2", false },
        { "-0.1", 0, "-1", false },
        { "999.9", 0, "1k", false },
        { "9.99", 0, "10", false },
        { "1n", 3, "1k", false },
        { "0.5Gi", -3, "512Mi", true },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_quantity_t q = Q(cases[i].in);
        bool exact = ek_quantity_round_up(&q, cases[i].scale);
        char buf[EK_QUANTITY_STRLEN];
        ek_quantity_format(&q, buf);
        if (exact != cases[i].exact || strcmp(buf, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "round_up(%s, %d) = %s exact=%d, want %s exact=%d",
                          cases[i].in, cases[i].scale, buf, exact, cases[i].out, cases[i].exact);
        }
    }
}
