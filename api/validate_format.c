/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The string formats of apimachinery's util/validation: DNS-1123 labels and subdomains,
 * DNS-1035 labels, qualified names (label keys), label values, ConfigMap keys, environment
 * variable names, port names and numbers, percentages, HTTP header names, IP addresses and
 * CIDRs, and the per-kind object-name rules built on them. The regular expressions are
 * matched by hand; the messages are Kubernetes' own, word for word, because kubectl users
 * read them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "api/validate-internal.h"

#define DNS1123_LABEL_FMT     "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1035_LABEL_FMT     "[a-z]([-a-z0-9]*[a-z0-9])?"
#define QNAME_FMT             "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_ERR                                                                               \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
    "alphanumeric character"

void ek__msgs_init(ek__msgs_t *m)
{
    m->len = 0;
    m->n = 0;
    m->buf[0] = 0;
}

void ek__msgs_add(ek__msgs_t *m, const char *fmt, ...)
{
    size_t room = sizeof(m->buf) - m->len;
    if (room < 2) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(m->buf + m->len, room - 1, fmt, ap);
    va_end(ap);
    if (w < 0) {
        return;
    }
    size_t used = (size_t)w < room - 1 ? (size_t)w : room - 2;
    m->len += used + 1;
    m->buf[m->len] = 0;
    m->n++;
}

/* Go's validation.RegexError: msg (e.g. 'a',  or 'b', regex used for validation is 'fmt'). */
static void regex_error(ek__msgs_t *m, const char *prefix, const char *msg, const char *fmt,
                        const char *const *examples)
{
    char ex[512] = "";
    size_t off = 0;
    for (size_t i = 0; examples && examples[i]; i++) {
        off +=
            (size_t)snprintf(ex + off, sizeof(ex) - off, "%s'%s', ", i ? " or " : "", examples[i]);
        if (off >= sizeof(ex)) {
            break;
        }
    }
    if (examples && examples[0]) {
        ek__msgs_add(m, "%s%s (e.g. %sregex used for validation is '%s')", prefix, msg, ex, fmt);
    } else {
        ek__msgs_add(m, "%s%s (regex used for validation is '%s')", prefix, msg, fmt);
    }
}

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ over s[0..n). */
static bool match_label(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

static bool match_subdomain(const char *s)
{
    const char *p = s;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!match_label(p, n)) {
            return false;
        }
        if (!dot) {
            return true;
        }
        p = dot + 1;
    }
}

int ek__is_dns1123_label(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    if (strlen(s) > 63) {
        ek__msgs_add(m, "must be no more than 63 characters");
    }
    if (!match_label(s, strlen(s))) {
        if (match_subdomain(s)) {
            ek__msgs_add(m, "must not contain dots");
        } else {
            static const char *const ex[] = { "my-name", "123-abc", NULL };
            regex_error(m, "",
                        "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric "
                        "character",
                        DNS1123_LABEL_FMT, ex);
        }
    }
    return m->n - before;
}

int ek__is_dns1123_subdomain(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    if (strlen(s) > 253) {
        ek__msgs_add(m, "must be no more than 253 characters");
    }
    if (!match_subdomain(s)) {
        static const char *const ex[] = { "example.com", NULL };
        regex_error(m, "",
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric "
                    "character",
                    DNS1123_SUBDOMAIN_FMT, ex);
    }
    return m->n - before;
}

int ek__is_dns1035_label(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    size_t n = strlen(s);
    if (n > 63) {
        ek__msgs_add(m, "must be no more than 63 characters");
    }
    if (!match_label(s, n) || !(s[0] >= 'a' && s[0] <= 'z')) {
        static const char *const ex[] = { "my-name", "abc-123", NULL };
        regex_error(m, "",
                    "a DNS-1035 label must consist of lower case alphanumeric characters or "
                    "'-', start with an alphabetic character, and end with an alphanumeric "
                    "character",
                    DNS1035_LABEL_FMT, ex);
    }
    return m->n - before;
}

int ek__is_wildcard_dns1123_subdomain(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    if (strlen(s) > 253) {
        ek__msgs_add(m, "must be no more than 253 characters");
    }
    if (strncmp(s, "*.", 2) != 0 || !match_subdomain(s + 2)) {
        static const char *const ex[] = { "*.example.com", NULL };
        regex_error(m, "",
                    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS "
                    "subdomain, which must consist of lower case alphanumeric characters, '-' or "
                    "'.' and end with an alphanumeric character",
                    "\\*\\." DNS1123_SUBDOMAIN_FMT, ex);
    }
    return m->n - before;
}

static bool is_alnum(char c)
{
    return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ over s[0..n). */
static bool match_qname(const char *s, size_t n)
{
    if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 1; i + 1 < n; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

int ek__is_qualified_name(const char *s, ek__msgs_t *m)
{
    static const char *const ex[] = { "MyName", "my.name", "123-abc", NULL };
    int before = m->n;
    const char *slash = strchr(s, '/');
    const char *name = s;
    if (slash && strchr(slash + 1, '/')) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", QNAME_ERR);
        ek__msgs_t tmp;
        ek__msgs_init(&tmp);
        regex_error(&tmp, "a qualified name ", msg, QNAME_FMT, ex);
        ek__msgs_add(m,
                     "%s with an optional DNS subdomain prefix and '/' (e.g. "
                     "'example.com/MyName')",
                     tmp.buf);
        return m->n - before;
    }
    if (slash) {
        size_t plen = (size_t)(slash - s);
        name = slash + 1;
        if (plen == 0) {
            ek__msgs_add(m, "prefix part must be non-empty");
        } else {
            char *prefix = ek_xstrndup(s, plen);
            ek__msgs_t pm;
            ek__msgs_init(&pm);
            ek__is_dns1123_subdomain(prefix, &pm);
            for (const char *p = pm.buf; *p; p += strlen(p) + 1) {
                ek__msgs_add(m, "prefix part %s", p);
            }
            free(prefix);
        }
    }
    size_t n = strlen(name);
    if (n == 0) {
        ek__msgs_add(m, "name part must be non-empty");
    } else if (n > 63) {
        ek__msgs_add(m, "name part must be no more than 63 characters");
    }
    if (!match_qname(name, n)) {
        regex_error(m, "name part ", QNAME_ERR, QNAME_FMT, ex);
    }
    return m->n - before;
}

int ek__is_label_value(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    size_t n = strlen(s);
    if (n > 63) {
        ek__msgs_add(m, "must be no more than 63 characters");
    }
    if (n > 0 && !match_qname(s, n)) {
        static const char *const ex[] = { "MyValue", "my_value", "12345", NULL };
        regex_error(m, "",
                    "a valid label must be an empty string or consist of alphanumeric "
                    "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character",
                    "(" QNAME_FMT ")?", ex);
    }
    return m->n - before;
}

static void chdir_prefix(const char *s, ek__msgs_t *m)
{
    if (strcmp(s, ".") == 0) {
        ek__msgs_add(m, "must not be '.'");
    } else if (strcmp(s, "..") == 0) {
        ek__msgs_add(m, "must not be '..'");
    } else if (strncmp(s, "..", 2) == 0) {
        ek__msgs_add(m, "must not start with '..'");
    }
}

int ek__is_config_map_key(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    size_t n = strlen(s);
    if (n > 253) {
        ek__msgs_add(m, "must be no more than 253 characters");
    }
    bool ok = n > 0;
    for (size_t i = 0; i < n && ok; i++) {
        ok = is_alnum(s[i]) || s[i] == '-' || s[i] == '.' || s[i] == '_';
    }
    if (!ok) {
        static const char *const ex[] = { "key.name", "KEY_NAME", "key-name", NULL };
        regex_error(m, "",
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                    "[-._a-zA-Z0-9]+", ex);
    }
    chdir_prefix(s, m);
    return m->n - before;
}

/*
 * Kubernetes 1.32 enables RelaxedEnvironmentVariableValidation (beta, on by default): any
 * printable ASCII except '=' is accepted.
 */
int ek__is_env_var_name(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    if (!*s) {
        ek__msgs_add(m, "environment variable name must be non-empty");
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '=') {
            ek__msgs_add(m, "a valid environment variable name must consist only of printable "
                            "ASCII characters other than '='");
            break;
        }
    }
    return m->n - before;
}

int ek__is_port_name(const char *s, ek__msgs_t *m)
{
    int before = m->n;
    size_t n = strlen(s);
    if (n > 15) {
        ek__msgs_add(m, "must be no more than 15 characters");
    }
    bool charset = n > 0, letter = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z') {
            letter = true;
        } else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-') {
            charset = false;
        }
    }
    if (!charset) {
        ek__msgs_add(m, "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
    }
    if (!letter) {
        ek__msgs_add(m, "must contain at least one letter (a-z)");
    }
    if (strstr(s, "--")) {
        ek__msgs_add(m, "must not contain consecutive hyphens");
    }
    if (n > 0 && (s[0] == '-' || s[n - 1] == '-')) {
        ek__msgs_add(m, "must not begin or end with a hyphen");
    }
    return m->n - before;
}

bool ek__is_port_num(long long p)
{
    return p >= 1 && p <= 65535;
}

int ek__is_percent(const char *s, ek__msgs_t *m)
{
    size_t n = strlen(s);
    bool ok = n >= 2 && s[n - 1] == '%';
    for (size_t i = 0; ok && i + 1 < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
    }
    if (ok) {
        return 0;
    }
    static const char *const ex[] = { "1%", "93%", NULL };
    regex_error(m, "", "a valid percent string must be a numeric string followed by an ending '%'",
                "[0-9]+%", ex);
    return 1;
}

int ek__is_http_header_name(const char *s, ek__msgs_t *m)
{
    bool ok = *s != 0;
    for (const char *p = s; *p && ok; p++) {
        ok = is_alnum(*p) || *p == '-';
    }
    if (ok) {
        return 0;
    }
    static const char *const ex[] = { "X-Header-Name", NULL };
    regex_error(m, "", "a valid HTTP header must consist of alphanumeric characters or '-'",
                "[-A-Za-z0-9]+", ex);
    return 1;
}

int ek__is_path_segment_name(const char *s, ek__msgs_t *m)
{
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        ek__msgs_add(m, "may not be '%s'", s);
        return 1;
    }
    int before = m->n;
    if (strchr(s, '/')) {
        ek__msgs_add(m, "may not contain '/'");
    }
    if (strchr(s, '%')) {
        ek__msgs_add(m, "may not contain '%%'");
    }
    return m->n - before;
}

/* netutils.ParseIPSloppy: dotted quads may carry leading zeros. */
static bool parse_ipv4_sloppy(const char *s)
{
    int parts = 0;
    const char *p = s;
    while (*p) {
        int digits = 0;
        long v = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (*p - '0');
            if (++digits > 3 || v > 255) {
                return false;
            }
            p++;
        }
        if (digits == 0 || ++parts > 4) {
            return false;
        }
        if (*p == '.') {
            p++;
            if (!*p) {
                return false;
            }
        } else if (*p) {
            return false;
        }
    }
    return parts == 4;
}

int ek__ip_family(const char *s)
{
    if (!s || !*s) {
        return 0;
    }
    if (parse_ipv4_sloppy(s)) {
        return 4;
    }
    unsigned char buf[16];
    if (strchr(s, ':') && inet_pton(AF_INET6, s, buf) == 1) {
        return 6;
    }
    return 0;
}

int ek__is_cidr(const char *s)
{
    const char *slash = s ? strchr(s, '/') : NULL;
    if (!slash || !slash[1]) {
        return 0;
    }
    char *ip = ek_xstrndup(s, (size_t)(slash - s));
    int fam = ek__ip_family(ip);
    free(ip);
    int bits = 0;
    for (const char *p = slash + 1; *p; p++) {
        if (*p < '0' || *p > '9' || bits > 128) {
            return 0;
        }
        bits = bits * 10 + (*p - '0');
    }
    return fam && bits <= (fam == 4 ? 32 : 128) ? fam : 0;
}

/* apimachinery's maskTrailingDash: a generateName may end in '-'. */
static char *mask_trailing_dash(const char *name)
{
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '-') {
        char *r = ek_xstrndup(name, n - 2 + 1);
        r[n - 2] = 'a';
        r[n - 1] = 0;
        return r;
    }
    return ek_xstrdup(name);
}

int ek__name_check(ek__name_rule_t rule, const char *name, bool prefix, ek__msgs_t *m)
{
    ek_autofree char *n = prefix ? mask_trailing_dash(name) : ek_xstrdup(name);
    switch (rule) {
    case EK_NAME_SUBDOMAIN:
        return ek__is_dns1123_subdomain(n, m);
    case EK_NAME_LABEL:
        return ek__is_dns1123_label(n, m);
    case EK_NAME_DNS1035:
        return ek__is_dns1035_label(n, m);
    case EK_NAME_SEGMENT:
        return ek__is_path_segment_name(name, m);
    case EK_NAME_NONE:
        break;
    }
    return 0;
}

static int first_message(int n, const ek__msgs_t *m, char *msg, size_t len)
{
    if (n && msg && len) {
        snprintf(msg, len, "%s", m->buf);
    }
    return n ? -1 : 0;
}

int ek_validate_dns1123_subdomain(const char *s, char *msg, size_t len)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    return first_message(ek__is_dns1123_subdomain(s ? s : "", &m), &m, msg, len);
}

int ek_validate_dns1123_label(const char *s, char *msg, size_t len)
{
    ek__msgs_t m;
    ek__msgs_init(&m);
    return first_message(ek__is_dns1123_label(s ? s : "", &m), &m, msg, len);
}
