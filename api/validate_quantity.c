/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small, exact resource.Quantity for validation and defaulting: parsing with Kubernetes'
 * grammar (sign, digits, fraction, SI / binary / exponent suffix), comparison, rounding up
 * to a power of ten, and the canonical String() form ("1000m" reads back as "1", "1024Mi" as
 * "1Gi") that kube-apiserver writes and quotes in its messages. Values are kept as a 128-bit
 * mantissa times a power of ten, which covers every quantity a real manifest carries.
 * TODO: switch to api/quantity.c (ek_quantity_*) once that module lands on this branch.
 */
#include <stdio.h>

#include "api/validate-internal.h"

#define NANO_SCALE (-9)

static const __int128 I128_MAX = (__int128)(((unsigned __int128)1 << 127) - 1);

static bool mul_ok(__int128 a, __int128 b, __int128 *out)
{
    if (a == 0 || b == 0) {
        *out = 0;
        return true;
    }
    __int128 aa = a < 0 ? -a : a, bb = b < 0 ? -b : b;
    if (aa > I128_MAX / bb) {
        return false;
    }
    *out = a * b;
    return true;
}

static __int128 pow10i(int n)
{
    __int128 r = 1;
    while (n-- > 0) {
        r *= 10;
    }
    return r;
}

/* The suffixes quantitySuffixer.interpret knows: base, exponent, format. */
static bool interpret_suffix(const char *s, int *base, int *exp, ek__qfmt_t *fmt)
{
    static const struct {
        const char *s;
        int base, exp;
        ek__qfmt_t fmt;
    } table[] = {
        { "", 10, 0, EK_QF_DECIMAL_SI },   { "n", 10, -9, EK_QF_DECIMAL_SI },
        { "u", 10, -6, EK_QF_DECIMAL_SI }, { "m", 10, -3, EK_QF_DECIMAL_SI },
        { "k", 10, 3, EK_QF_DECIMAL_SI },  { "M", 10, 6, EK_QF_DECIMAL_SI },
        { "G", 10, 9, EK_QF_DECIMAL_SI },  { "T", 10, 12, EK_QF_DECIMAL_SI },
        { "P", 10, 15, EK_QF_DECIMAL_SI }, { "E", 10, 18, EK_QF_DECIMAL_SI },
        { "Ki", 2, 10, EK_QF_BINARY_SI },  { "Mi", 2, 20, EK_QF_BINARY_SI },
        { "Gi", 2, 30, EK_QF_BINARY_SI },  { "Ti", 2, 40, EK_QF_BINARY_SI },
        { "Pi", 2, 50, EK_QF_BINARY_SI },  { "Ei", 2, 60, EK_QF_BINARY_SI },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(table); i++) {
        if (strcmp(s, table[i].s) == 0) {
            *base = table[i].base;
            *exp = table[i].exp;
            *fmt = table[i].fmt;
            return true;
        }
    }
    if ((s[0] == 'e' || s[0] == 'E') && s[1]) {
        char *end;
        long v = strtol(s + 1, &end, 10);
        if (*end || v < -1000 || v > 1000) {
            return false;
        }
        *base = 10;
        *exp = (int)v;
        *fmt = EK_QF_DECIMAL_EXP;
        return true;
    }
    return false;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Splits s like parseQuantityString: sign, integer digits, fraction digits, suffix. */
static int split(const char *s, bool *neg, const char **num, size_t *nnum, const char **den,
                 size_t *nden, const char **suf)
{
    const char *p = s;
    *neg = false;
    if (*p == '-' || *p == '+') {
        *neg = *p == '-';
        p++;
    }
    *num = p;
    while (is_digit(*p)) {
        p++;
    }
    *nnum = (size_t)(p - *num);
    *den = p;
    *nden = 0;
    if (*p == '.') {
        *den = ++p;
        while (is_digit(*p)) {
            p++;
        }
        *nden = (size_t)(p - *den);
    }
    *suf = p;
    /* Suffix: letters from "eEinumkKMGTP", then an optional sign and digits, and nothing else. */
    while (*p && strchr("eEinumkKMGTP", *p)) {
        p++;
    }
    if (*p == '-' || *p == '+') {
        p++;
    }
    while (is_digit(*p)) {
        p++;
    }
    return *p ? -1 : 0;
}

/* Rounds q up (away from zero) so that its scale is at least `scale`. */
void ek__qty_round_up(ek__qty_t *q, int scale)
{
    if (q->scale >= scale) {
        return;
    }
    int diff = scale - q->scale;
    if (diff > 38) {
        q->v = q->v > 0 ? 1 : q->v < 0 ? -1 : 0;
        q->scale = scale;
        return;
    }
    __int128 d = pow10i(diff);
    __int128 r = q->v / d;
    if (q->v % d != 0) {
        r += q->v > 0 ? 1 : -1;
    }
    q->v = r;
    q->scale = scale;
}

static int parse_digits(const char *num, size_t nnum, const char *den, size_t nden, __int128 *out)
{
    __int128 v = 0;
    for (size_t i = 0; i < nnum + nden; i++) {
        char c = i < nnum ? num[i] : den[i - nnum];
        if (!mul_ok(v, 10, &v) || v > I128_MAX - (c - '0')) {
            return -1;
        }
        v += c - '0';
    }
    *out = v;
    return 0;
}

int ek__qty_parse(const char *s, ek__qty_t *q)
{
    bool neg;
    const char *num, *den, *suf;
    size_t nnum, nden;
    int base, exp;
    ek__qfmt_t fmt;
    if (!s || !*s || split(s, &neg, &num, &nnum, &den, &nden, &suf) < 0 ||
        !interpret_suffix(suf, &base, &exp, &fmt)) {
        return -1;
    }
    __int128 v;
    if (parse_digits(num, nnum, den, nden, &v) < 0) {
        return -1;
    }
    q->format = fmt;
    q->scale = -(int)nden;
    if (base == 10) {
        q->scale += exp;
    } else if (!mul_ok(v, (__int128)1 << exp, &v)) {
        return -1;
    }
    /* Binary quantities are capped at the largest int64, as ParseQuantity does. */
    if (base == 2 && q->scale == 0 && v > (__int128)INT64_MAX) {
        v = INT64_MAX;
    }
    q->v = neg ? -v : v;
    /* Anything finer than a nano unit is rounded up to one, as Kubernetes does. */
    ek__qty_round_up(q, NANO_SCALE);
    if (q->format == EK_QF_BINARY_SI) {
        ek__qty_t one = { 1, 0, EK_QF_DECIMAL_SI };
        if (q->v > 0 && ek__qty_cmp(q, &one) < 0) {
            q->format = EK_QF_DECIMAL_SI;
        }
    }
    return 0;
}

int ek__qty_from_json(const json_t *v, ek__qty_t *q)
{
    if (json_is_string(v)) {
        return ek__qty_parse(json_string_value(v), q);
    }
    if (json_is_integer(v)) {
        q->v = json_integer_value(v);
        q->scale = 0;
        q->format = EK_QF_DECIMAL_SI;
        return 0;
    }
    if (json_is_real(v)) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.9f", json_real_value(v));
        return ek__qty_parse(buf, q);
    }
    return -1;
}

int ek__qty_sign(const ek__qty_t *q)
{
    return q->v > 0 ? 1 : q->v < 0 ? -1 : 0;
}

int ek__qty_cmp(const ek__qty_t *a, const ek__qty_t *b)
{
    __int128 av = a->v, bv = b->v;
    int diff = a->scale - b->scale;
    bool ok = true;
    if (diff > 0) {
        ok = diff <= 38 && mul_ok(av, pow10i(diff), &av);
    } else if (diff < 0) {
        ok = -diff <= 38 && mul_ok(bv, pow10i(-diff), &bv);
    }
    if (!ok) {
        /* Only magnitude can overflow; the one that overflowed is the bigger in size. */
        int sa = ek__qty_sign(a), sb = ek__qty_sign(b);
        if (sa != sb) {
            return sa < sb ? -1 : 1;
        }
        return diff > 0 ? sa : -sa;
    }
    return av < bv ? -1 : av > bv ? 1 : 0;
}

bool ek__qty_is_integer(const ek__qty_t *q)
{
    ek__qty_t m = *q;
    m.scale += 3; /* value * 1000 */
    ek__qty_round_up(&m, 0);
    __int128 milli = m.v;
    if (m.scale > 0) {
        if (!mul_ok(milli, pow10i(m.scale), &milli)) {
            return true;
        }
    }
    return milli % 1000 == 0;
}

static void put_i128(char *buf, size_t len, __int128 v)
{
    char tmp[48];
    size_t n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u && n < sizeof(tmp));
    size_t o = 0;
    if (neg && o + 1 < len) {
        buf[o++] = '-';
    }
    while (n && o + 1 < len) {
        buf[o++] = tmp[--n];
    }
    buf[o] = 0;
}

static const char *decimal_suffix(int exp)
{
    static const char *const s[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };
    return exp >= -9 && exp <= 18 && exp % 3 == 0 ? s[(exp + 9) / 3] : NULL;
}

/* AsCanonicalBytes: strip factors of ten, then make the exponent a multiple of three. */
static void canonical_decimal(const ek__qty_t *q, char *buf, size_t len)
{
    __int128 v = q->v;
    int exp = q->scale;
    while (v != 0 && v % 10 == 0) {
        v /= 10;
        exp++;
    }
    int r = ((exp % 3) + 3) % 3;
    for (; r > 0; r--) {
        v *= 10;
        exp--;
    }
    char num[48];
    put_i128(num, sizeof(num), v);
    const char *suf = q->format == EK_QF_DECIMAL_SI ? decimal_suffix(exp) : NULL;
    if (exp == 0) {
        snprintf(buf, len, "%s", num);
    } else if (suf) {
        snprintf(buf, len, "%s%s", num, suf);
    } else {
        snprintf(buf, len, "%se%d", num, exp);
    }
}

const char *ek__qty_string(const ek__qty_t *q, char *buf, size_t len)
{
    if (q->v == 0) {
        snprintf(buf, len, "0");
        return buf;
    }
    ek__qty_t d = *q;
    if (q->format == EK_QF_BINARY_SI) {
        ek__qty_t lo = { -1024, 0, EK_QF_DECIMAL_SI }, hi = { 1024, 0, EK_QF_DECIMAL_SI };
        ek__qty_t whole = *q;
        ek__qty_round_up(&whole, 0);
        bool exact = ek__qty_cmp(&whole, q) == 0;
        if ((ek__qty_cmp(q, &lo) > 0 && ek__qty_cmp(q, &hi) < 0) || !exact) {
            d.format = EK_QF_DECIMAL_SI;
        } else {
            __int128 v = whole.v;
            for (int i = 0; i < whole.scale; i++) {
                v *= 10;
            }
            int e = 0;
            while (v != 0 && v % 1024 == 0 && e < 6) {
                v /= 1024;
                e++;
            }
            static const char *const bs[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
            char num[48];
            put_i128(num, sizeof(num), v);
            snprintf(buf, len, "%s%s", num, bs[e]);
            return buf;
        }
    }
    canonical_decimal(&d, buf, len);
    return buf;
}
