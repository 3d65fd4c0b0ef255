/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label and field selectors, parsed and matched as k8s.io/apimachinery's pkg/labels and
 * pkg/fields do it, down to the wording of their errors: kubectl prints those messages to
 * users, so they must read the same. The label grammar is scanned into tokens first (as
 * Kubernetes does), which is what lets `in` and `notin` also be values. Field selectors are
 * split on unescaped commas and each term on its first operator. Selectors are immutable once
 * built, so matching needs no locks.
 */
#include "api/api.h"

#include <errno.h>
#include <limits.h>

/* ---- Go-flavoured text for error messages ---- */

/* Length of the valid UTF-8 sequence at p, or 0 when p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }
    return n;
}

/* Go's %q (strconv.Quote) for the strings selectors carry. */
static void go_quote(ek_buf_t *b, const char *s)
{
    ek_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_len(p);
        if (n > 1) {
            ek_buf_append(b, p, n);
            p += n;
            continue;
        }
        unsigned char c = *p++;
        const char *esc = NULL;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\a':
            esc = "\\a";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\v':
            esc = "\\v";
            break;
        }
        if (esc) {
            ek_buf_puts(b, esc);
        } else if (c < 0x20 || c >= 0x7f) {
            ek_buf_printf(b, "\\x%02x", c);
        } else {
            ek_buf_putc(b, (char)c);
        }
    }
    ek_buf_putc(b, '"');
}

/* strconv.ParseInt(s, 10, 64): optional sign, decimal digits only, no overflow. */
static bool go_parse_int64(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    if (!*s) {
        return false;
    }
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* ---- validation (k8s.io/apimachinery/pkg/util/validation) ---- */

#define QNAME_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define QNAME_MSG                                                                               \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
    "alphanumeric character"
#define QNAME_EXAMPLES  "(e.g. 'MyName',  or 'my.name',  or '123-abc', "
#define QNAME_REGEX_ERR QNAME_MSG " " QNAME_EXAMPLES "regex used for validation is '" QNAME_FMT "')"
#define DNS_LABEL_FMT   "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS_SUBDOMAIN_REGEX_ERR                                                                   \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "  \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used " \
    "for validation is '" DNS_LABEL_FMT "(\\." DNS_LABEL_FMT ")*')"
#define LABEL_VALUE_REGEX_ERR                                                                   \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
    "'my_value',  or '12345', regex used for validation is '(" QNAME_FMT ")?')"

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ */
static bool qname_ok(const char *s, size_t n)
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

/* One RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])? */
static bool dns_label_ok(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        bool lower_alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
        if (!lower_alnum && (s[i] != '-' || i == 0 || i == n - 1)) {
            return false;
        }
    }
    return true;
}

static bool dns_subdomain_ok(const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!dns_label_ok(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

static void join_detail(ek_buf_t *b, const char *msg)
{
    if (b->len) {
        ek_buf_puts(b, "; ");
    }
    ek_buf_puts(b, msg);
}

/* IsQualifiedName's complaints joined with "; ", or NULL when k is valid. Caller frees. */
static char *qualified_name_errors(const char *k)
{
    ek_autobuf b = EK_BUF_INIT;
    const char *slash = strchr(k, '/');
    const char *name = k;
    if (slash && strchr(slash + 1, '/')) {
        return ek_xstrdup("a qualified name " QNAME_REGEX_ERR
                          " with an optional DNS subdomain prefix and '/' (e.g. "
                          "'example.com/MyName')");
    }
    if (slash) {
        size_t plen = (size_t)(slash - k);
        name = slash + 1;
        if (plen == 0) {
            join_detail(&b, "prefix part must be non-empty");
        } else {
            if (plen > 253) {
                join_detail(&b, "prefix part must be no more than 253 characters");
            }
            if (!dns_subdomain_ok(k, plen)) {
                join_detail(&b, "prefix part " DNS_SUBDOMAIN_REGEX_ERR);
            }
        }
    }
    size_t nlen = strlen(name);
    if (nlen == 0) {
        join_detail(&b, "name part must be non-empty");
    } else if (nlen > 63) {
        join_detail(&b, "name part must be no more than 63 characters");
    }
    if (!qname_ok(name, nlen)) {
        join_detail(&b, "name part " QNAME_REGEX_ERR);
    }
    return b.len ? ek_buf_steal(&b, NULL) : NULL;
}

/* IsValidLabelValue's complaints, or NULL. Caller frees. */
static char *label_value_errors(const char *v)
{
    ek_autobuf b = EK_BUF_INIT;
    size_t n = strlen(v);
    if (n > 63) {
        join_detail(&b, "must be no more than 63 characters");
    }
    if (n > 0 && !qname_ok(v, n)) {
        join_detail(&b, LABEL_VALUE_REGEX_ERR);
    }
    return b.len ? ek_buf_steal(&b, NULL) : NULL;
}

/* A field.ErrorList: messages in order; utilerrors.Aggregate drops repeated ones. */
typedef struct errlist {
    char **msgs;
    size_t n;
} errlist_t;

static void errlist_addv(errlist_t *l, char *msg)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->msgs[i], msg) == 0) {
            free(msg);
            return;
        }
    }
    l->msgs = ek_xrealloc(l->msgs, (l->n + 1) * sizeof(char *));
    l->msgs[l->n++] = msg;
}

/* field.Invalid(path, value, detail).Error(): `path: Invalid value: "v": detail`. */
static void errlist_invalid(errlist_t *l, const char *path, const char *value, const char *detail)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_printf(&b, "%s: Invalid value: ", path);
    go_quote(&b, value);
    ek_buf_printf(&b, ": %s", detail);
    errlist_addv(l, ek_buf_steal(&b, NULL));
}

/* Ends the list: one message as is, several as "[a, b]" (status 400). Returns -1 if any. */
static int errlist_finish(errlist_t *l, ek_error_t **err)
{
    ek_autobuf b = EK_BUF_INIT;
    for (size_t i = 0; i < l->n; i++) {
        ek_buf_printf(&b, "%s%s", i ? ", " : "", l->msgs[i]);
        free(l->msgs[i]);
    }
    free(l->msgs);
    if (l->n == 0) {
        return 0;
    }
    return l->n == 1 ? ek_error_status(err, 400, "%s", b.data)
                     : ek_error_status(err, 400, "[%s]", b.data);
}

/* ---- label selectors ---- */

struct ek_labelsel {
    bool nothing;
    size_t n;
    ek_labelsel_req_t *reqs; /* key and values owned */
};

static void req_clear(ek_labelsel_req_t *r)
{
    free((char *)r->key);
    for (size_t i = 0; i < r->nvalues; i++) {
        free((char *)r->values[i]);
    }
    free((void *)r->values);
}

void ek_labelsel_free(ek_labelsel_t *sel)
{
    if (!sel) {
        return;
    }
    for (size_t i = 0; i < sel->n; i++) {
        req_clear(&sel->reqs[i]);
    }
    free(sel->reqs);
    free(sel);
}

ek_labelsel_t *ek_labelsel_everything(void)
{
    return ek_new(ek_labelsel_t);
}

ek_labelsel_t *ek_labelsel_nothing(void)
{
    ek_labelsel_t *s = ek_new(ek_labelsel_t);
    s->nothing = true;
    return s;
}

/* Go's %#v of a []string: []string(nil), []string{}, []string{"a", "b"}. */
static char *go_string_slice(const char *const *v, size_t n, bool nil_if_empty)
{
    ek_buf_t b = EK_BUF_INIT;
    if (n == 0 && nil_if_empty) {
        ek_buf_puts(&b, "[]string(nil)");
        return ek_buf_steal(&b, NULL);
    }
    ek_buf_puts(&b, "[]string{");
    for (size_t i = 0; i < n; i++) {
        if (i) {
            ek_buf_puts(&b, ", ");
        }
        go_quote(&b, v[i]);
    }
    ek_buf_putc(&b, '}');
    return ek_buf_steal(&b, NULL);
}

static void errlist_invalid_slice(errlist_t *l, const char *const *v, size_t n, bool nil_if_empty,
                                  const char *detail)
{
    ek_autofree char *sv = go_string_slice(v, n, nil_if_empty);
    errlist_addv(l, ek_xasprintf("values: Invalid value: %s: %s", sv, detail));
}

/*
 * labels.NewRequirement's checks. key_path is where a bad key is reported ("key" for
 * NewRequirement; the parser checks keys itself first). values_nil says an empty value list
 * was a nil slice (it prints differently).
 */
static int check_requirement(const char *key, ek_selop_t op, const char *const *vals, size_t n,
                             bool values_nil, ek_error_t **err)
{
    errlist_t l = { NULL, 0 };
    ek_autofree char *kerr = qualified_name_errors(key);
    if (kerr) {
        errlist_invalid(&l, "key", key, kerr);
    }
    switch (op) {
    case EK_SELOP_IN:
    case EK_SELOP_NOT_IN:
        if (n == 0) {
            errlist_invalid_slice(&l, vals, n, values_nil,
                                  "for 'in', 'notin' operators, values set can't be empty");
        }
        break;
    case EK_SELOP_EQUALS:
    case EK_SELOP_DOUBLE_EQUALS:
    case EK_SELOP_NOT_EQUALS:
        if (n != 1) {
            errlist_invalid_slice(&l, vals, n, values_nil,
                                  "exact-match compatibility requires one single value");
        }
        break;
    case EK_SELOP_EXISTS:
    case EK_SELOP_DOES_NOT_EXIST:
        if (n != 0) {
            errlist_invalid_slice(&l, vals, n, values_nil,
                                  "values set must be empty for exists and does not exist");
        }
        break;
    case EK_SELOP_GT:
    case EK_SELOP_LT:
        if (n != 1) {
            errlist_invalid_slice(&l, vals, n, values_nil,
                                  "for 'Gt', 'Lt' operators, exactly one value is required");
        }
        for (size_t i = 0; i < n; i++) {
            int64_t v;
            if (!go_parse_int64(vals[i], &v)) {
                ek_autofree char *path = ek_xasprintf("values[%zu]", i);
                errlist_invalid(&l, path, vals[i],
                                "for 'Gt', 'Lt' operators, the value must be an integer");
            }
        }
        break;
    }
    for (size_t i = 0; i < n; i++) {
        ek_autofree char *verr = label_value_errors(vals[i]);
        if (verr) {
            ek_autofree char *path = ek_xasprintf("values[%zu][%s]", i, key);
            errlist_invalid(&l, path, vals[i], verr);
        }
    }
    return errlist_finish(&l, err);
}

static void sel_add(ek_labelsel_t *s, char *key, ek_selop_t op, char **vals, size_t n)
{
    s->reqs = ek_xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
    s->reqs[s->n++] = (ek_labelsel_req_t){ key, op, (const char *const *)vals, n };
}

/* Stable insertion sort by key: the lists are short and Go's sort of them is stable too. */
static void sel_sort(ek_labelsel_t *s)
{
    for (size_t i = 1; i < s->n; i++) {
        ek_labelsel_req_t r = s->reqs[i];
        size_t j = i;
        for (; j > 0 && strcmp(s->reqs[j - 1].key, r.key) > 0; j--) {
            s->reqs[j] = s->reqs[j - 1];
        }
        s->reqs[j] = r;
    }
}

/* -- the lexer: the whole string becomes a list of tokens before parsing -- */

typedef enum tok {
    T_EOS,
    T_CLOSE,
    T_COMMA,
    T_NOT,
    T_DEQ,
    T_EQ,
    T_GT,
    T_ID,
    T_IN,
    T_LT,
    T_NEQ,
    T_NOTIN,
    T_OPEN,
} tok_t;

typedef struct item {
    tok_t tok;
    const char *lit;
    int len;
} item_t;

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
    return c && strchr("=!(),><", c);
}

/* The token a run of special characters spells, or -1. */
static int special_tok(const char *p, size_t n)
{
    if (n == 2) {
        return p[0] == '=' && p[1] == '=' ? T_DEQ : p[0] == '!' && p[1] == '=' ? T_NEQ : -1;
    }
    switch (p[0]) {
    case ')':
        return T_CLOSE;
    case ',':
        return T_COMMA;
    case '!':
        return T_NOT;
    case '=':
        return T_EQ;
    case '>':
        return T_GT;
    case '<':
        return T_LT;
    case '(':
        return T_OPEN;
    }
    return -1;
}

/* Scans s into items; the last item is always T_EOS. Caller frees. */
static item_t *lex(const char *s, size_t *count)
{
    item_t *items = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        while (is_ws(*s)) {
            s++;
        }
        item_t it = { T_EOS, s, 0 };
        if (is_special(*s)) {
            /* The longest run that is still a token: "!=" and "==" are the only two-char ones. */
            size_t len = 1;
            while (len < 2 && is_special(s[len]) && special_tok(s, len + 1) >= 0) {
                len++;
            }
            it.tok = (tok_t)special_tok(s, len);
            it.len = (int)len;
        } else if (*s) {
            size_t len = 0;
            while (s[len] && !is_special(s[len]) && !is_ws(s[len])) {
                len++;
            }
            it.len = len > INT_MAX ? INT_MAX : (int)len;
            it.tok = T_ID;
            if (len == 2 && memcmp(s, "in", 2) == 0) {
                it.tok = T_IN;
            } else if (len == 5 && memcmp(s, "notin", 5) == 0) {
                it.tok = T_NOTIN;
            }
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            items = ek_xrealloc(items, cap * sizeof(*items));
        }
        items[n++] = it;
        if (it.tok == T_EOS) {
            break;
        }
        s += it.len;
    }
    *count = n;
    return items;
}

/* -- the parser, a transcription of labels.Parser's recursive descent -- */

typedef struct parser {
    item_t *items;
    size_t pos;
    ek_labelsel_t *sel;
    char **vals; /* the value set being built */
    size_t nvals;
} parser_t;

/* In the Values context `in` and `notin` are plain identifiers. */
static item_t *peek(parser_t *p, bool values, tok_t *tok)
{
    item_t *it = &p->items[p->pos];
    *tok = it->tok;
    if (values && (*tok == T_IN || *tok == T_NOTIN)) {
        *tok = T_ID;
    }
    return it;
}

static item_t *next(parser_t *p, bool values, tok_t *tok)
{
    item_t *it = peek(p, values, tok);
    p->pos++;
    return it;
}

static void vals_insert(parser_t *p, const char *s, int len)
{
    for (size_t i = 0; i < p->nvals; i++) {
        if ((int)strlen(p->vals[i]) == len && memcmp(p->vals[i], s, (size_t)len) == 0) {
            return;
        }
    }
    p->vals = ek_xrealloc(p->vals, (p->nvals + 1) * sizeof(char *));
    p->vals[p->nvals++] = ek_xstrndup(s, (size_t)len);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void vals_free(parser_t *p)
{
    for (size_t i = 0; i < p->nvals; i++) {
        free(p->vals[i]);
    }
    free(p->vals);
    p->vals = NULL;
    p->nvals = 0;
}

static int parse_identifiers(parser_t *p, ek_error_t **err)
{
    for (;;) {
        tok_t t, t2;
        item_t *it = next(p, true, &t);
        if (t == T_ID) {
            vals_insert(p, it->lit, it->len);
            item_t *la = peek(p, true, &t2);
            if (t2 == T_CLOSE) {
                return 0;
            }
            if (t2 != T_COMMA) {
                return ek_error_status(err, 400, "found '%.*s', expected: ',' or ')'", la->len,
                                       la->lit);
            }
            continue;
        }
        if (t != T_COMMA) {
            return ek_error_status(err, 400, "found '%.*s', expected: ',', or identifier", it->len,
                                   it->lit);
        }
        /* "(," ",)" and ",," all stand for the empty value. */
        if (p->nvals == 0) {
            vals_insert(p, "", 0);
        }
        peek(p, true, &t2);
        if (t2 == T_CLOSE) {
            vals_insert(p, "", 0);
            return 0;
        }
        if (t2 == T_COMMA) {
            p->pos++;
            vals_insert(p, "", 0);
        }
    }
}

static int parse_values(parser_t *p, ek_error_t **err)
{
    tok_t t;
    item_t *it = next(p, true, &t);
    if (t != T_OPEN) {
        return ek_error_status(err, 400, "found '%.*s' expected: '('", it->len, it->lit);
    }
    it = peek(p, true, &t);
    if (t == T_ID || t == T_COMMA) {
        if (parse_identifiers(p, err) < 0) {
            return -1;
        }
        p->pos++; /* the ')' parse_identifiers stopped at */
        return 0;
    }
    if (t == T_CLOSE) {
        p->pos++;
        vals_insert(p, "", 0);
        return 0;
    }
    return ek_error_status(err, 400, "found '%.*s', expected: ',', ')' or identifier", it->len,
                           it->lit);
}

static int parse_exact_value(parser_t *p, ek_error_t **err)
{
    tok_t t;
    peek(p, true, &t);
    if (t == T_EOS || t == T_COMMA) {
        vals_insert(p, "", 0);
        return 0;
    }
    item_t *it = next(p, true, &t);
    if (t != T_ID) {
        return ek_error_status(err, 400, "found '%.*s', expected: identifier", it->len, it->lit);
    }
    vals_insert(p, it->lit, it->len);
    return 0;
}

static int parse_operator(parser_t *p, ek_selop_t *op, ek_error_t **err)
{
    tok_t t;
    item_t *it = next(p, false, &t);
    switch (t) {
    case T_IN:
        *op = EK_SELOP_IN;
        return 0;
    case T_EQ:
        *op = EK_SELOP_EQUALS;
        return 0;
    case T_DEQ:
        *op = EK_SELOP_DOUBLE_EQUALS;
        return 0;
    case T_GT:
        *op = EK_SELOP_GT;
        return 0;
    case T_LT:
        *op = EK_SELOP_LT;
        return 0;
    case T_NOTIN:
        *op = EK_SELOP_NOT_IN;
        return 0;
    case T_NEQ:
        *op = EK_SELOP_NOT_EQUALS;
        return 0;
    default:
        /* Sic: Kubernetes' message lacks the quote before notin. */
        return ek_error_status(err, 400, "found '%.*s', expected: '=', '!=', '==', 'in', notin'",
                               it->len, it->lit);
    }
}

/* The key, `!key`, or the exists-form; leaves *op at -1 when an operator must follow. */
static char *parse_key(parser_t *p, int *op, ek_error_t **err)
{
    tok_t t;
    *op = -1;
    item_t *it = next(p, true, &t);
    if (t == T_NOT) {
        *op = EK_SELOP_DOES_NOT_EXIST;
        it = next(p, true, &t);
    }
    if (t != T_ID) {
        ek_error_status(err, 400, "found '%.*s', expected: identifier", it->len, it->lit);
        return NULL;
    }
    char *key = ek_xstrndup(it->lit, (size_t)it->len);
    ek_autofree char *kerr = qualified_name_errors(key);
    if (kerr) {
        /* The parser validates with a nil field path, which Go prints as <nil>. */
        ek_autobuf b = EK_BUF_INIT;
        go_quote(&b, key);
        ek_error_status(err, 400, "<nil>: Invalid value: %s: %s", b.data, kerr);
        free(key);
        return NULL;
    }
    peek(p, true, &t);
    if ((t == T_EOS || t == T_COMMA) && *op < 0) {
        *op = EK_SELOP_EXISTS;
    }
    return key;
}

static int parse_requirement(parser_t *p, ek_error_t **err)
{
    int iop;
    ek_autofree char *key = parse_key(p, &iop, err);
    if (!key) {
        return -1;
    }
    ek_selop_t op = (ek_selop_t)iop;
    if (iop < 0) {
        if (parse_operator(p, &op, err) < 0) {
            return -1;
        }
        int r = op == EK_SELOP_IN || op == EK_SELOP_NOT_IN ? parse_values(p, err)
                                                           : parse_exact_value(p, err);
        if (r < 0) {
            return -1;
        }
    }
    if (p->nvals > 1) {
        qsort(p->vals, p->nvals, sizeof(char *), cmp_str);
    }
    if (check_requirement(key, op, (const char *const *)p->vals, p->nvals, false, err) < 0) {
        return -1;
    }
    sel_add(p->sel, ek_steal(&key), op, p->vals, p->nvals);
    p->vals = NULL;
    p->nvals = 0;
    return 0;
}

static int parse_all(parser_t *p, ek_error_t **err)
{
    for (;;) {
        tok_t t;
        item_t *it = peek(p, true, &t);
        if (t == T_EOS) {
            return 0;
        }
        if (t != T_ID && t != T_NOT) {
            return ek_error_status(err, 400,
                                   "found '%.*s', expected: !, identifier, or 'end of string'",
                                   it->len, it->lit);
        }
        if (parse_requirement(p, err) < 0) {
            vals_free(p);
            return ek_error_wrap(err, "unable to parse requirement");
        }
        it = next(p, true, &t);
        if (t == T_EOS) {
            return 0;
        }
        if (t != T_COMMA) {
            return ek_error_status(err, 400, "found '%.*s', expected: ',' or 'end of string'",
                                   it->len, it->lit);
        }
        it = peek(p, true, &t);
        if (t != T_ID && t != T_NOT) {
            return ek_error_status(err, 400, "found '%.*s', expected: identifier after ','",
                                   it->len, it->lit);
        }
    }
}

ek_labelsel_t *ek_labelsel_parse(const char *s, ek_error_t **err)
{
    size_t n;
    ek_autofree item_t *items = lex(s ? s : "", &n);
    parser_t p = { items, 0, ek_labelsel_everything(), NULL, 0 };
    if (parse_all(&p, err) < 0) {
        ek_labelsel_free(p.sel);
        return NULL;
    }
    sel_sort(p.sel);
    return p.sel;
}

/* -- metav1.LabelSelector -- */

static int from_match_labels(ek_labelsel_t *s, const json_t *ml, ek_error_t **err)
{
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)ml, k, v) {
        if (!json_is_string(v)) {
            return ek_error_status(err, 400,
                                   "json: cannot unmarshal %s into Go struct field "
                                   "LabelSelector.matchLabels of type string",
                                   ek_json_type_name(v));
        }
        const char *val = json_string_value(v);
        if (check_requirement(k, EK_SELOP_EQUALS, &val, 1, false, err) < 0) {
            return -1;
        }
        char **vals = ek_xmalloc(sizeof(char *));
        vals[0] = ek_xstrdup(val);
        sel_add(s, ek_xstrdup(k), EK_SELOP_EQUALS, vals, 1);
    }
    return 0;
}

static int expr_operator(const json_t *e, ek_selop_t *op, ek_error_t **err)
{
    static const struct {
        const char *name;
        ek_selop_t op;
    } ops[] = { { "In", EK_SELOP_IN },
                { "NotIn", EK_SELOP_NOT_IN },
                { "Exists", EK_SELOP_EXISTS },
                { "DoesNotExist", EK_SELOP_DOES_NOT_EXIST } };
    const char *name = ek_json_str(e, "operator", NULL);
    for (size_t i = 0; i < EK_ARRAY_SIZE(ops); i++) {
        if (ek_streq(name, ops[i].name)) {
            *op = ops[i].op;
            return 0;
        }
    }
    ek_autobuf b = EK_BUF_INIT;
    go_quote(&b, name ? name : "");
    return ek_error_status(err, 400, "%s is not a valid label selector operator", b.data);
}

static int from_expression(ek_labelsel_t *s, const json_t *e, ek_error_t **err)
{
    ek_selop_t op = EK_SELOP_EXISTS;
    if (!json_is_object(e)) {
        return ek_error_status(err, 400,
                               "json: cannot unmarshal %s into Go struct field "
                               "LabelSelector.matchExpressions of type "
                               "v1.LabelSelectorRequirement",
                               ek_json_type_name(e));
    }
    if (expr_operator(e, &op, err) < 0) {
        return -1;
    }
    const char *key = ek_json_str(e, "key", NULL);
    json_t *jv = json_object_get(e, "values");
    size_t n = json_is_array(jv) ? json_array_size(jv) : 0;
    char **vals = ek_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(json_array_get(jv, i));
        vals[i] = ek_xstrdup(v ? v : "");
    }
    if (check_requirement(key ? key : "", op, (const char *const *)vals, n, true, err) < 0) {
        for (size_t i = 0; i < n; i++) {
            free(vals[i]);
        }
        free(vals);
        return -1;
    }
    sel_add(s, ek_xstrdup(key ? key : ""), op, vals, n);
    return 0;
}

ek_labelsel_t *ek_labelsel_from_json(const json_t *selector, ek_error_t **err)
{
    if (!selector || json_is_null(selector)) {
        return ek_labelsel_nothing();
    }
    if (!json_is_object(selector)) {
        ek_error_status(err, 400,
                        "json: cannot unmarshal %s into Go value of type v1.LabelSelector",
                        ek_json_type_name(selector));
        return NULL;
    }
    ek_labelsel_t *s = ek_labelsel_everything();
    json_t *ml = json_object_get(selector, "matchLabels");
    json_t *me = json_object_get(selector, "matchExpressions");
    bool bad_ml = ml && !json_is_null(ml) && !json_is_object(ml);
    if (bad_ml || (me && !json_is_null(me) && !json_is_array(me))) {
        ek_error_status(err, 400, "json: cannot unmarshal %s into Go struct field %s",
                        ek_json_type_name(bad_ml ? ml : me),
                        bad_ml ? "LabelSelector.matchLabels of type map[string]string"
                               : "LabelSelector.matchExpressions of type "
                                 "[]v1.LabelSelectorRequirement");
        goto fail;
    }
    if (json_is_object(ml) && from_match_labels(s, ml, err) < 0) {
        goto fail;
    }
    size_t i;
    json_t *e;
    json_array_foreach (me, i, e) {
        if (from_expression(s, e, err) < 0) {
            goto fail;
        }
    }
    sel_sort(s);
    return s;
fail:
    ek_labelsel_free(s);
    return NULL;
}

/* -- matching and printing -- */

static bool req_has_value(const ek_labelsel_req_t *r, const char *v)
{
    for (size_t i = 0; i < r->nvalues; i++) {
        if (strcmp(r->values[i], v) == 0) {
            return true;
        }
    }
    return false;
}

static bool req_matches(const ek_labelsel_req_t *r, const json_t *labels)
{
    const char *v =
        json_is_object(labels) ? json_string_value(json_object_get(labels, r->key)) : NULL;
    int64_t lv, rv;
    switch (r->op) {
    case EK_SELOP_IN:
    case EK_SELOP_EQUALS:
    case EK_SELOP_DOUBLE_EQUALS:
        return v && req_has_value(r, v);
    case EK_SELOP_NOT_IN:
    case EK_SELOP_NOT_EQUALS:
        return !v || !req_has_value(r, v);
    case EK_SELOP_EXISTS:
        return v != NULL;
    case EK_SELOP_DOES_NOT_EXIST:
        return v == NULL;
    case EK_SELOP_GT:
    case EK_SELOP_LT:
        if (!v || r->nvalues != 1 || !go_parse_int64(v, &lv) ||
            !go_parse_int64(r->values[0], &rv)) {
            return false;
        }
        return r->op == EK_SELOP_GT ? lv > rv : lv < rv;
    }
    return false;
}

bool ek_labelsel_matches(const ek_labelsel_t *sel, const json_t *labels)
{
    if (sel->nothing) {
        return false;
    }
    for (size_t i = 0; i < sel->n; i++) {
        if (!req_matches(&sel->reqs[i], labels)) {
            return false;
        }
    }
    return true;
}

bool ek_labelsel_empty(const ek_labelsel_t *sel)
{
    return !sel->nothing && sel->n == 0;
}

bool ek_labelsel_is_nothing(const ek_labelsel_t *sel)
{
    return sel->nothing;
}

size_t ek_labelsel_count(const ek_labelsel_t *sel)
{
    return sel->nothing ? 0 : sel->n;
}

const ek_labelsel_req_t *ek_labelsel_req(const ek_labelsel_t *sel, size_t i)
{
    ek_assert(i < sel->n);
    return &sel->reqs[i];
}

const char *ek_labelsel_exact(const ek_labelsel_t *sel, const char *key)
{
    for (size_t i = 0; !sel->nothing && i < sel->n; i++) {
        const ek_labelsel_req_t *r = &sel->reqs[i];
        if (strcmp(r->key, key) != 0) {
            continue;
        }
        bool exact =
            r->op == EK_SELOP_EQUALS || r->op == EK_SELOP_DOUBLE_EQUALS || r->op == EK_SELOP_IN;
        return exact && r->nvalues == 1 ? r->values[0] : NULL;
    }
    return NULL;
}

static void req_string(const ek_labelsel_req_t *r, ek_buf_t *b)
{
    static const char *const ops[] = {
        [EK_SELOP_EQUALS] = "=", [EK_SELOP_DOUBLE_EQUALS] = "==", [EK_SELOP_NOT_EQUALS] = "!=",
        [EK_SELOP_IN] = " in (", [EK_SELOP_NOT_IN] = " notin (",  [EK_SELOP_GT] = ">",
        [EK_SELOP_LT] = "<",
    };
    if (r->op == EK_SELOP_DOES_NOT_EXIST) {
        ek_buf_putc(b, '!');
    }
    ek_buf_puts(b, r->key);
    if (r->op == EK_SELOP_EXISTS || r->op == EK_SELOP_DOES_NOT_EXIST) {
        return;
    }
    ek_buf_puts(b, ops[r->op]);
    /* Values print sorted whatever order they were given in. */
    const char **v = ek_xmalloc((r->nvalues ? r->nvalues : 1) * sizeof(char *));
    if (r->nvalues) {
        memcpy(v, r->values, r->nvalues * sizeof(char *));
        qsort(v, r->nvalues, sizeof(char *), cmp_str);
    }
    for (size_t i = 0; i < r->nvalues; i++) {
        if (i) {
            ek_buf_putc(b, ',');
        }
        ek_buf_puts(b, v[i]);
    }
    free(v);
    if (r->op == EK_SELOP_IN || r->op == EK_SELOP_NOT_IN) {
        ek_buf_putc(b, ')');
    }
}

char *ek_labelsel_string(const ek_labelsel_t *sel)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (size_t i = 0; !sel->nothing && i < sel->n; i++) {
        if (i) {
            ek_buf_putc(&b, ',');
        }
        req_string(&sel->reqs[i], &b);
    }
    return ek_buf_steal(&b, NULL);
}

/* ---- field selectors ---- */

struct ek_fieldsel {
    size_t n;
    ek_fieldsel_req_t *reqs; /* field and value owned */
};

void ek_fieldsel_free(ek_fieldsel_t *sel)
{
    if (!sel) {
        return;
    }
    for (size_t i = 0; i < sel->n; i++) {
        free((char *)sel->reqs[i].field);
        free((char *)sel->reqs[i].value);
    }
    free(sel->reqs);
    free(sel);
}

/* UnescapeValue: `\\`, `\,` and `\=` are the only escapes; bare `,` and `=` are errors. */
static char *unescape_value(const char *s, size_t n, ek_error_t **err)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    if (!memchr(s, '\\', n) && !memchr(s, ',', n) && !memchr(s, '=', n)) {
        ek_buf_append(&b, s, n);
        return ek_buf_steal(&b, NULL);
    }
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len((const unsigned char *)s + i);
        /* Go ranges over runes here: an invalid byte becomes U+FFFD. */
        const char *rune = len ? s + i : "\xef\xbf\xbd";
        size_t rlen = len ? len : 3;
        i += len ? len : 1;
        if (rlen == 1 && (*rune == ',' || *rune == '=')) {
            ek_buf_free(&b);
            ek_error_status(err, 400, "invalid field selector: unescaped character in value: %d",
                            *rune);
            return NULL;
        }
        if (rlen != 1 || *rune != '\\') {
            ek_buf_append(&b, rune, rlen);
            continue;
        }
        if (i >= n) {
            ek_buf_free(&b);
            ek_error_status(err, 400, "invalid field selector: invalid escape sequence: \\");
            return NULL;
        }
        len = utf8_len((const unsigned char *)s + i);
        rune = len ? s + i : "\xef\xbf\xbd";
        rlen = len ? len : 3;
        i += len ? len : 1;
        if (rlen != 1 || !strchr("\\,=", *rune)) {
            ek_buf_free(&b);
            ek_error_status(err, 400, "invalid field selector: invalid escape sequence: \\%.*s",
                            (int)rlen, rune);
            return NULL;
        }
        ek_buf_putc(&b, *rune);
    }
    return ek_buf_steal(&b, NULL);
}

/* The terms between unescaped commas, as spans into s. */
static size_t split_terms(const char *s, const char ***starts, size_t **lens)
{
    size_t n = 0, start = 0;
    bool in_slash = false;
    *starts = NULL;
    *lens = NULL;
    if (!*s) {
        return 0;
    }
    for (size_t i = 0;; i++) {
        if (s[i] && in_slash) {
            in_slash = false;
            continue;
        }
        if (s[i] == '\\') {
            in_slash = true;
            continue;
        }
        if (s[i] == ',' || !s[i]) {
            *starts = ek_xrealloc(*starts, (n + 1) * sizeof(char *));
            *lens = ek_xrealloc(*lens, (n + 1) * sizeof(size_t));
            (*starts)[n] = s + start;
            (*lens)[n++] = i - start;
            start = i + 1;
        }
        if (!s[i]) {
            return n;
        }
    }
}

typedef struct span {
    const char *p;
    size_t n;
} span_t;

static int cmp_span(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    int c = memcmp(x->p, y->p, EK_MIN(x->n, y->n));
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Splits a term at its first operator (!= before == before =). */
static bool split_term(span_t t, span_t *lhs, ek_selop_t *op, span_t *rhs)
{
    *op = EK_SELOP_EQUALS;
    for (size_t i = 0; i < t.n; i++) {
        size_t oplen = 0;
        if (i + 1 < t.n && t.p[i] == '!' && t.p[i + 1] == '=') {
            *op = EK_SELOP_NOT_EQUALS, oplen = 2;
        } else if (i + 1 < t.n && t.p[i] == '=' && t.p[i + 1] == '=') {
            *op = EK_SELOP_EQUALS, oplen = 2;
        } else if (t.p[i] == '=') {
            *op = EK_SELOP_EQUALS, oplen = 1;
        }
        if (oplen) {
            *lhs = (span_t){ t.p, i };
            *rhs = (span_t){ t.p + i + oplen, t.n - i - oplen };
            return true;
        }
    }
    return false;
}

static int add_term(ek_fieldsel_t *sel, const char *whole, span_t t, ek_error_t **err)
{
    span_t lhs, rhs;
    ek_selop_t op;
    if (!split_term(t, &lhs, &op, &rhs)) {
        return ek_error_status(err, 400, "invalid selector: '%s'; can't understand '%.*s'", whole,
                               (int)t.n, t.p);
    }
    char *value = unescape_value(rhs.p, rhs.n, err);
    if (!value) {
        return -1;
    }
    /* A term with neither field nor value selects everything and is dropped. */
    if (lhs.n == 0 && !*value) {
        free(value);
        return 0;
    }
    sel->reqs = ek_xrealloc(sel->reqs, (sel->n + 1) * sizeof(*sel->reqs));
    sel->reqs[sel->n++] = (ek_fieldsel_req_t){ ek_xstrndup(lhs.p, lhs.n), op, value };
    return 0;
}

ek_fieldsel_t *ek_fieldsel_parse(const char *s, ek_error_t **err)
{
    s = s ? s : "";
    const char **starts;
    size_t *lens;
    size_t n = split_terms(s, &starts, &lens);
    span_t *terms = ek_xcalloc(n ? n : 1, sizeof(span_t));
    for (size_t i = 0; i < n; i++) {
        terms[i] = (span_t){ starts[i], lens[i] };
    }
    free(starts);
    free(lens);
    /* Kubernetes sorts the raw terms before parsing them. */
    if (n > 1) {
        qsort(terms, n, sizeof(span_t), cmp_span);
    }
    ek_fieldsel_t *sel = ek_new(ek_fieldsel_t);
    for (size_t i = 0; i < n; i++) {
        if (terms[i].n && add_term(sel, s, terms[i], err) < 0) {
            ek_fieldsel_free(sel);
            sel = NULL;
            break;
        }
    }
    free(terms);
    return sel;
}

bool ek_fieldsel_matches(const ek_fieldsel_t *sel, ek_fieldsel_get_cb get, void *data)
{
    for (size_t i = 0; i < sel->n; i++) {
        const char *v = get(sel->reqs[i].field, data);
        bool eq = strcmp(v ? v : "", sel->reqs[i].value) == 0;
        if (eq != (sel->reqs[i].op == EK_SELOP_EQUALS)) {
            return false;
        }
    }
    return true;
}

bool ek_fieldsel_empty(const ek_fieldsel_t *sel)
{
    return sel->n == 0;
}

size_t ek_fieldsel_count(const ek_fieldsel_t *sel)
{
    return sel->n;
}

const ek_fieldsel_req_t *ek_fieldsel_req(const ek_fieldsel_t *sel, size_t i)
{
    ek_assert(i < sel->n);
    return &sel->reqs[i];
}

const char *ek_fieldsel_exact(const ek_fieldsel_t *sel, const char *field)
{
    for (size_t i = 0; i < sel->n; i++) {
        if (sel->reqs[i].op == EK_SELOP_EQUALS && strcmp(sel->reqs[i].field, field) == 0) {
            return sel->reqs[i].value;
        }
    }
    return NULL;
}

char *ek_fieldsel_string(const ek_fieldsel_t *sel)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (size_t i = 0; i < sel->n; i++) {
        const ek_fieldsel_req_t *r = &sel->reqs[i];
        ek_buf_printf(&b, "%s%s%s", i ? "," : "", r->field, r->op == EK_SELOP_EQUALS ? "=" : "!=");
        for (const char *p = r->value; *p; p++) {
            if (*p == '\\' || *p == ',' || *p == '=') {
                ek_buf_putc(&b, '\\');
            }
            ek_buf_putc(&b, *p);
        }
    }
    return ek_buf_steal(&b, NULL);
}
