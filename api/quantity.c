/* SPDX-License-Identifier: Apache-2.0 */
/*
 * resource.Quantity: "100m" of cpu, "1.5Gi" of memory. Parsing follows ParseQuantity step by
 * step (its scanner accepts odd strings such as "." or "+" and its fast path keeps some
 * inputs verbatim for serialisation, and clients see both), but the arithmetic is exact
 * decimal on digit strings, so no value needs a bignum library: value = digits * 10^exp,
 * rounded up to nano units as Kubernetes rounds them. Formatting reproduces
 * Quantity.CanonicalizeBytes: exponents in multiples of three with SI suffixes, binary
 * suffixes only for exact multiples of 1024.
 */
#include "api/api.h"

#include <errno.h>
#include <stdio.h>

#define ERR_FORMAT \
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define ERR_NUMERIC "unable to parse numeric part of quantity"
#define ERR_SUFFIX  "unable to parse quantity's suffix"

/* The largest binary quantity Kubernetes keeps: 2^63-1. */
static const char MAX_BINARY[] = "9223372036854775807";

/* A decimal being worked on: d[0..n) most significant first, value = d * 10^e. */
typedef struct dnum {
    char *d;
    size_t n;
    int64_t e;
} dnum_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void dnum_strip(dnum_t *x)
{
    size_t lead = 0;
    while (lead < x->n && x->d[lead] == '0') {
        lead++;
    }
    memmove(x->d, x->d + lead, x->n - lead);
    x->n -= lead;
    while (x->n && x->d[x->n - 1] == '0') {
        x->n--;
        x->e++;
    }
}

/* x *= m for a small m; d must have room for 10 more digits. */
static void dnum_mul_small(dnum_t *x, uint32_t m)
{
    uint64_t carry = 0;
    for (size_t i = x->n; i-- > 0;) {
        uint64_t v = (uint64_t)(x->d[i] - '0') * m + carry;
        x->d[i] = (char)('0' + v % 10);
        carry = v / 10;
    }
    char head[24];
    size_t h = 0;
    while (carry) {
        head[h++] = (char)('0' + carry % 10);
        carry /= 10;
    }
    memmove(x->d + h, x->d, x->n);
    for (size_t i = 0; i < h; i++) {
        x->d[i] = head[h - 1 - i];
    }
    x->n += h;
}

/* Rounds away from zero to a multiple of 10^scale (inf.RoundUp); d needs room for one more
 * digit. ParseQuantity rounds to nano units (scale -9). */
static void dnum_round_up(dnum_t *x, int64_t scale)
{
    if (x->e >= scale || x->n == 0) {
        return;
    }
    uint64_t drop = (uint64_t)(scale - x->e);
    if (drop >= x->n) {
        x->d[0] = '1'; /* any non-zero amount becomes one unit */
        x->n = 1;
        x->e = scale;
        return;
    }
    size_t keep = x->n - (size_t)drop;
    bool inexact = false;
    for (size_t i = keep; i < x->n; i++) {
        inexact |= x->d[i] != '0';
    }
    x->n = keep;
    x->e = scale;
    if (!inexact) {
        return;
    }
    size_t i = keep;
    while (i > 0 && x->d[i - 1] == '9') {
        x->d[--i] = '0';
    }
    if (i > 0) {
        x->d[i - 1]++;
    } else {
        memmove(x->d + 1, x->d, x->n);
        x->d[0] = '1';
        x->n++;
    }
}

/* Compares two magnitudes without leading or trailing zeros. */
static int mag_cmp(const char *a, size_t an, int64_t ae, const char *b, size_t bn, int64_t be)
{
    if (an == 0 || bn == 0) {
        return (an != 0) - (bn != 0);
    }
    int64_t ia = (int64_t)an + ae, ib = (int64_t)bn + be;
    if (ia != ib) {
        return ia < ib ? -1 : 1;
    }
    for (size_t i = 0; i < EK_MAX(an, bn); i++) {
        char ca = i < an ? a[i] : '0', cb = i < bn ? b[i] : '0';
        if (ca != cb) {
            return ca < cb ? -1 : 1;
        }
    }
    return 0;
}

/* ---- parsing ---- */

typedef struct scan {
    bool positive;
    const char *value; /* sign, number and fraction as written */
    size_t value_len;
    const char *num; /* integer digits without leading zeros; "0" if none */
    size_t num_len;
    const char *denom; /* fraction digits as written */
    size_t denom_len;
    const char *suffix;
} scan_t;

/* parseQuantityString: sign, digits, '.', digits, suffix letters, [sign] digits. */
static int scan_quantity(const char *s, scan_t *sc)
{
    size_t pos = 0, end = strlen(s);
    *sc = (scan_t){ true, s, 0, "0", 1, "", 0, s + end };
    if (s[0] == '-' || s[0] == '+') {
        sc->positive = s[0] == '+';
        pos++;
    }
    while (pos < end && s[pos] == '0') {
        pos++;
    }
    if (pos >= end) {
        sc->value = "0";
        sc->value_len = 1;
        return 0;
    }
    size_t i = pos;
    while (i < end && is_digit(s[i])) {
        i++;
    }
    if (i > pos) {
        sc->num = s + pos;
        sc->num_len = i - pos;
    }
    pos = i;
    if (pos < end && s[pos] == '.') {
        pos++;
        for (i = pos; i < end && is_digit(s[i]); i++) {
        }
        sc->denom = s + pos;
        sc->denom_len = i - pos;
        pos = i;
    }
    sc->value_len = pos;
    sc->suffix = s + pos;
    while (pos < end && strchr("eEinumkKMGTP", s[pos])) {
        pos++;
    }
    if (pos < end && (s[pos] == '-' || s[pos] == '+')) {
        pos++;
    }
    while (pos < end && is_digit(s[pos])) {
        pos++;
    }
    return pos < end ? -1 : 0;
}

typedef struct suffix {
    int base; /* 10 or 2 */
    int32_t exp;
    ek_quantity_format_t format;
} suffix_t;

static const struct {
    const char *s;
    suffix_t v;
} suffixes[] = {
    { "", { 10, 0, EK_QUANTITY_DECIMAL_SI } },   { "n", { 10, -9, EK_QUANTITY_DECIMAL_SI } },
    { "u", { 10, -6, EK_QUANTITY_DECIMAL_SI } }, { "m", { 10, -3, EK_QUANTITY_DECIMAL_SI } },
    { "k", { 10, 3, EK_QUANTITY_DECIMAL_SI } },  { "M", { 10, 6, EK_QUANTITY_DECIMAL_SI } },
    { "G", { 10, 9, EK_QUANTITY_DECIMAL_SI } },  { "T", { 10, 12, EK_QUANTITY_DECIMAL_SI } },
    { "P", { 10, 15, EK_QUANTITY_DECIMAL_SI } }, { "E", { 10, 18, EK_QUANTITY_DECIMAL_SI } },
    { "Ki", { 2, 10, EK_QUANTITY_BINARY_SI } },  { "Mi", { 2, 20, EK_QUANTITY_BINARY_SI } },
    { "Gi", { 2, 30, EK_QUANTITY_BINARY_SI } },  { "Ti", { 2, 40, EK_QUANTITY_BINARY_SI } },
    { "Pi", { 2, 50, EK_QUANTITY_BINARY_SI } },  { "Ei", { 2, 60, EK_QUANTITY_BINARY_SI } },
};

static bool parse_int64(const char *s, int64_t *out)
{
    bool neg = *s == '-';
    if (*s == '+' || *s == '-') {
        s++;
    }
    if (!*s) {
        return false;
    }
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (!is_digit(*s) || v > (limit - (uint64_t)(*s - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static bool interpret_suffix(const char *s, suffix_t *out)
{
    for (size_t i = 0; i < EK_ARRAY_SIZE(suffixes); i++) {
        if (strcmp(s, suffixes[i].s) == 0) {
            *out = suffixes[i].v;
            return true;
        }
    }
    int64_t e;
    if (strlen(s) > 1 && (s[0] == 'e' || s[0] == 'E') && parse_int64(s + 1, &e)) {
        /* Kubernetes keeps int32(e): the wrap-around is part of its behaviour. */
        *out = (suffix_t){ 10, (int32_t)(uint32_t)(uint64_t)e, EK_QUANTITY_DECIMAL_EXPONENT };
        return true;
    }
    return false;
}

/* Uint64 value of a digit run, or false when it does not fit an int64. */
static bool digits_int64(const char *a, size_t an, const char *b, size_t bn, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < an + bn; i++) {
        char c = i < an ? a[i] : b[i - an];
        if (v > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return true;
}

/*
 * ParseQuantity's int64 fast path: whether it applies (else the inf.Dec path runs) and whether
 * it keeps the input string as the serialised form.
 */
static bool fast_path(const scan_t *sc, const suffix_t *sx, bool *keep_str)
{
    int64_t precision, scale = 0;
    *keep_str = false;
    if (sx->base == 10) {
        scale = (int64_t)sx->exp - (int64_t)sc->denom_len;
        precision = 18 - (int64_t)(sc->num_len + sc->denom_len);
    } else if (sc->denom_len == 0) {
        precision = 15 - (int64_t)sc->num_len - sx->exp * 3 / 10 - 1;
    } else {
        return false;
    }
    uint64_t v;
    if (precision < 0 || scale < -9 ||
        !digits_int64(sc->num, sc->num_len, sc->denom, sc->denom_len, &v)) {
        return false;
    }
    if (sx->base == 2) {
        if (sx->exp >= 63 || v > ((uint64_t)INT64_MAX >> sx->exp)) {
            return false;
        }
        *keep_str = sx->exp % 10 == 0 && (v & 7) != 0;
        return true;
    }
    /* shifted = num+denom must not end in "000" (the zeros may straddle the point). */
    size_t total = sc->num_len + sc->denom_len;
    bool ends_000 = total >= 3;
    for (size_t k = total >= 3 ? total - 3 : total; k < total; k++) {
        char c = k < sc->num_len ? sc->num[k] : sc->denom[k - sc->num_len];
        ends_000 &= c == '0';
    }
    *keep_str = scale % 3 == 0 && !ends_000 && sc->num[0] != '0';
    return true;
}

/* value = sign * num.denom * base^exp, exactly, then ParseQuantity's rounding and caps. */
static int compute(const scan_t *sc, const suffix_t *sx, ek_quantity_t *q, ek_error_t **err)
{
    size_t cap = sc->num_len + sc->denom_len + 32;
    ek_autofree char *buf = ek_xmalloc(cap);
    memcpy(buf, sc->num, sc->num_len);
    memcpy(buf + sc->num_len, sc->denom, sc->denom_len);
    dnum_t x = { buf, sc->num_len + sc->denom_len, -(int64_t)sc->denom_len };
    dnum_strip(&x);
    if (sx->base == 2 && x.n) {
        for (int32_t left = sx->exp; left > 0; left -= 30) {
            dnum_mul_small(&x, (uint32_t)1 << EK_MIN(left, 30));
        }
    } else {
        x.e += sx->exp;
    }
    dnum_round_up(&x, -9);
    dnum_strip(&x);
    q->format = sx->format;
    if (x.n == 0) {
        return 0;
    }
    if (sx->base == 2) {
        if (mag_cmp(x.d, x.n, x.e, MAX_BINARY, sizeof(MAX_BINARY) - 1, 0) > 0) {
            memcpy(x.d, MAX_BINARY, sizeof(MAX_BINARY) - 1);
            x.n = sizeof(MAX_BINARY) - 1;
            x.e = 0;
        }
        if ((int64_t)x.n + x.e <= 0) {
            q->format = EK_QUANTITY_DECIMAL_SI; /* below one: shown as decimal */
        }
    }
    if (x.n > EK_QUANTITY_MAX_DIGITS) {
        return ek_error_status(err, 400, "quantity has more than %d significant digits",
                               EK_QUANTITY_MAX_DIGITS);
    }
    q->sign = sc->positive ? 1 : -1;
    q->ndigits = (int)x.n;
    memcpy(q->digits, x.d, x.n);
    q->exp = x.e;
    return 0;
}

int ek_quantity_parse(const char *s, ek_quantity_t *q, ek_error_t **err)
{
    memset(q, 0, sizeof(*q));
    if (!s || !*s) {
        return ek_error_status(err, 400, ERR_FORMAT);
    }
    if (strcmp(s, "0") == 0) {
        strcpy(q->str, "0");
        return 0;
    }
    scan_t sc;
    suffix_t sx;
    if (scan_quantity(s, &sc) < 0) {
        return ek_error_status(err, 400, ERR_FORMAT);
    }
    if (!interpret_suffix(sc.suffix, &sx)) {
        return ek_error_status(err, 400, ERR_SUFFIX);
    }
    bool keep = false;
    bool fast = fast_path(&sc, &sx, &keep);
    if (!fast) {
        /* inf.Dec refuses a number part without digits, such as "+" or "." */
        bool digits = false;
        for (size_t i = 0; i < sc.value_len; i++) {
            digits |= is_digit(sc.value[i]);
        }
        if (!digits) {
            return ek_error_status(err, 400, ERR_NUMERIC);
        }
    }
    if (compute(&sc, &sx, q, err) < 0) {
        return -1;
    }
    if (fast && keep && strlen(s) < sizeof(q->str)) {
        strcpy(q->str, s);
    }
    return 0;
}

void ek_quantity_from_int64(ek_quantity_t *q, int64_t value, int scale, ek_quantity_format_t format)
{
    memset(q, 0, sizeof(*q));
    q->format = format;
    if (value == 0) {
        return;
    }
    q->sign = value < 0 ? -1 : 1;
    uint64_t m = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)m);
    dnum_t x = { tmp, (size_t)n, scale };
    dnum_strip(&x);
    memcpy(q->digits, x.d, x.n);
    q->ndigits = (int)x.n;
    q->exp = x.e;
}

bool ek_quantity_round_up(ek_quantity_t *q, int64_t scale)
{
    if (q->sign == 0 || q->exp >= scale) {
        return true;
    }
    /* Digits carry no trailing zeros: a digit below 10^scale is not zero, so this is inexact. */
    char buf[EK_QUANTITY_MAX_DIGITS + 1];
    memcpy(buf, q->digits, (size_t)q->ndigits);
    dnum_t x = { buf, (size_t)q->ndigits, q->exp };
    dnum_round_up(&x, scale);
    dnum_strip(&x);
    memcpy(q->digits, x.d, x.n);
    q->ndigits = (int)x.n;
    q->exp = x.e;
    q->str[0] = '\0';
    return false;
}

int ek_quantity_cmp(const ek_quantity_t *a, const ek_quantity_t *b)
{
    if (a->sign != b->sign) {
        return a->sign < b->sign ? -1 : 1;
    }
    int c = mag_cmp(a->digits, (size_t)a->ndigits, a->exp, b->digits, (size_t)b->ndigits, b->exp);
    return a->sign < 0 ? -c : c;
}

/* value * 10^shift rounded away from zero, or ERANGE. */
static int scaled(const ek_quantity_t *q, int shift, int64_t *out, ek_error_t **err)
{
    *out = 0;
    if (q->sign == 0) {
        return 0;
    }
    int64_t e = q->exp + shift;
    int64_t int_digits = q->ndigits + e;
    uint64_t limit = q->sign < 0 ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    if (int_digits > 19) {
        return ek_error_make(err, ERANGE, "quantity does not fit an int64");
    }
    for (int64_t i = 0; i < int_digits; i++) {
        uint64_t d = i < q->ndigits ? (uint64_t)(q->digits[i] - '0') : 0;
        if (v > (limit - d) / 10) {
            return ek_error_make(err, ERANGE, "quantity does not fit an int64");
        }
        v = v * 10 + d;
    }
    if (e < 0) {
        /* Trailing zeros are stripped, so a fraction is never zero: round it up. */
        if (v == limit) {
            return ek_error_make(err, ERANGE, "quantity does not fit an int64");
        }
        v++;
    }
    *out = q->sign < 0 ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int ek_quantity_milli(const ek_quantity_t *q, int64_t *out, ek_error_t **err)
{
    return scaled(q, 3, out, err);
}

int ek_quantity_value(const ek_quantity_t *q, int64_t *out, ek_error_t **err)
{
    return scaled(q, 0, out, err);
}

/* ---- formatting ---- */

static const char *const dec_suffix[] = { "n", "u", "m", "", "k", "M", "G", "T", "P", "E" };
static const char *const bin_suffix[] = { "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };

/* Exponent floored to a multiple of three, the digits padded with zeros to make up for it. */
static char *format_decimal(const ek_quantity_t *q, ek_quantity_format_t format, char *buf)
{
    int64_t e = q->exp;
    int pad = (int)(((e % 3) + 3) % 3);
    e -= pad;
    char *p = buf;
    p += sprintf(p, "%s%.*s%.*s", q->sign < 0 ? "-" : "", q->ndigits, q->digits, pad, "00");
    if (format == EK_QUANTITY_DECIMAL_SI && e >= -9 && e <= 18) {
        strcpy(p, dec_suffix[(e + 9) / 3]);
    } else if (e != 0) {
        /* DecimalSI has no suffix beyond E (10^18); Kubernetes falls back to "e" notation. */
        sprintf(p, "e%lld", (long long)e);
    }
    return buf;
}

/*
 * An exact integer as a multiple of the largest power of 1024 dividing it, or false when that
 * power is beyond Ei (Kubernetes would print no suffix and so a wrong value).
 */
static bool format_binary(const ek_quantity_t *q, char *buf)
{
    char digits[EK_QUANTITY_STRLEN];
    size_t n = (size_t)q->ndigits + (size_t)q->exp;
    memcpy(digits, q->digits, (size_t)q->ndigits);
    memset(digits + q->ndigits, '0', (size_t)q->exp);
    size_t times = 0;
    for (;;) {
        char quot[EK_QUANTITY_STRLEN];
        size_t qn = 0;
        uint32_t rem = 0;
        for (size_t i = 0; i < n; i++) {
            rem = rem * 10 + (uint32_t)(digits[i] - '0');
            if (qn || rem >= 1024) {
                quot[qn++] = (char)('0' + rem / 1024);
            }
            rem %= 1024;
        }
        if (rem != 0 || qn == 0) {
            break;
        }
        memcpy(digits, quot, qn);
        n = qn;
        times++;
    }
    if (times >= EK_ARRAY_SIZE(bin_suffix)) {
        return false;
    }
    sprintf(buf, "%s%.*s%s", q->sign < 0 ? "-" : "", (int)n, digits, bin_suffix[times]);
    return true;
}

char *ek_quantity_format(const ek_quantity_t *q, char buf[EK_QUANTITY_STRLEN])
{
    if (q->sign == 0) {
        return strcpy(buf, "0");
    }
    if (q->str[0]) {
        return strcpy(buf, q->str);
    }
    if (q->format == EK_QUANTITY_BINARY_SI) {
        static const char k1024[] = "1024";
        /* |v| < 1024 or a fraction is shown as decimal rather than rounded. */
        bool small = mag_cmp(q->digits, (size_t)q->ndigits, q->exp, k1024, 4, 0) < 0;
        bool whole = q->exp >= 0 && q->ndigits + q->exp < EK_QUANTITY_STRLEN - 8;
        if (!small && whole && format_binary(q, buf)) {
            return buf;
        }
        return format_decimal(q, EK_QUANTITY_DECIMAL_SI, buf);
    }
    return format_decimal(q, q->format, buf);
}
