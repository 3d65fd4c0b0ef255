/* SPDX-License-Identifier: Apache-2.0 */
/* Time helpers. */
#include "lib/timeutil.h"

#include <ctype.h>
#include <stdio.h>

uint64_t ek_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ek_now_ms(void)
{
    return ek_now_ns() / 1000000ull;
}

void ek_wall_now(struct timespec *ts)
{
    clock_gettime(CLOCK_REALTIME, ts);
}

int64_t ek_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *ek_time_rfc3339(time_t t, char buf[static 21])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

char *ek_time_rfc3339_nano(const struct timespec *ts, char buf[static 31])
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t n = strftime(buf, 31, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 31 - n, ".%09ldZ", ts->tv_nsec);
    return buf;
}

char *ek_time_rfc3339_micro(const struct timespec *ts, char buf[static 28])
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    size_t n = strftime(buf, 28, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 28 - n, ".%06ldZ", ts->tv_nsec / 1000);
    return buf;
}

static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)**p)) {
            return -1;
        }
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    return v;
}

int ek_time_parse_rfc3339(const char *s, struct timespec *out)
{
    const char *p = s;
    struct tm tm = { 0 };
    int y = digits(&p, 4);
    if (y < 0 || *p++ != '-') {
        return -1;
    }
    int mo = digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-') {
        return -1;
    }
    int d = digits(&p, 2);
    if (d < 1 || d > 31 || (*p != 'T' && *p != 't' && *p != ' ')) {
        return -1;
    }
    p++;
    int h = digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':') {
        return -1;
    }
    int mi = digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':') {
        return -1;
    }
    int sec = digits(&p, 2);
    if (sec < 0 || sec > 60) {
        return -1;
    }
    long nsec = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (isdigit((unsigned char)*p)) {
            if (nd < 9) {
                nsec = nsec * 10 + (*p - '0');
                nd++;
            }
            p++;
        }
        if (nd == 0) {
            return -1;
        }
        while (nd++ < 9) {
            nsec *= 10;
        }
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int oh = digits(&p, 2);
        if (oh < 0 || *p++ != ':') {
            return -1;
        }
        int om = digits(&p, 2);
        if (om < 0) {
            return -1;
        }
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p) {
        return -1;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    out->tv_sec = timegm(&tm) - off;
    out->tv_nsec = nsec;
    return 0;
}

int ek_duration_parse_ms(const char *s, int64_t *ms, ek_error_t **err)
{
    const char *p = s;
    double total = 0;
    bool any = false;
    if (!*p) {
        return ek_error_make(err, 0, "invalid duration `%s`", s);
    }
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || v < 0) {
            return ek_error_make(err, 0, "invalid duration `%s`", s);
        }
        p = end;
        double unit;
        if (ek_has_prefix(p, "ms")) {
            unit = 1, p += 2;
        } else if (ek_has_prefix(p, "us") || ek_has_prefix(p, "µs")) {
            unit = 0.001, p += (*p == 'u') ? 2 : 3;
        } else if (ek_has_prefix(p, "ns")) {
            unit = 0.000001, p += 2;
        } else if (*p == 'h') {
            unit = 3600000, p++;
        } else if (*p == 'm') {
            unit = 60000, p++;
        } else if (*p == 's') {
            unit = 1000, p++;
        } else if (*p == '\0' && !any) {
            unit = 1000; /* a bare number: seconds */
        } else {
            return ek_error_make(err, 0, "invalid duration `%s` (want e.g. 10s, 5m, 1h30m)", s);
        }
        total += v * unit;
        any = true;
    }
    *ms = (int64_t)(total + 0.5);
    return 0;
}
