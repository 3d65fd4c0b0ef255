/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML → JSON as kubectl does it (sigs.k8s.io/yaml over go-yaml v2), built on libyaml's
 * event parser. Plain scalars are typed with YAML 1.1 rules; anchors are remembered as JSON
 * values and deep-copied at each alias, with a cap on the total expanded size (so "billion
 * laughs" documents fail instead of exhausting memory); `<<` merges mappings in, explicit keys
 * winning. JSON → YAML emits block style, quoting every string YAML would otherwise retype.
 */
#include "lib/yaml.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <yaml.h>

#define MAX_DEPTH       512
#define MAX_TOTAL_NODES (1000 * 1000)
#define MAX_ANCHORS     10000

struct anchor {
    char *name;
    json_t *value;
    size_t nodes;
};

struct conv {
    yaml_parser_t parser;
    struct anchor *anchors;
    size_t n_anchors;
    size_t total_nodes; /* nodes produced, aliases counted at their expanded size */
    int depth;
    ek_error_t **err;
};

static int conv_fail(struct conv *c, const yaml_mark_t *m, const char *fmt, ...) EK_PRINTF(3, 4);
static int conv_fail(struct conv *c, const yaml_mark_t *m, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return ek_error_status(c->err, 400, "%zu:%zu: %s", m->line + 1, m->column + 1, msg);
}

static int parser_fail(struct conv *c)
{
    const yaml_parser_t *p = &c->parser;
    const yaml_mark_t *m = &p->problem_mark;
    if (p->error == YAML_MEMORY_ERROR) {
        return ek_error_status(c->err, 400, "out of memory parsing YAML");
    }
    if (p->context) {
        return ek_error_status(c->err, 400, "%zu:%zu: %s %s", m->line + 1, m->column + 1,
                               p->problem ? p->problem : "syntax error", p->context);
    }
    return ek_error_status(c->err, 400, "%zu:%zu: %s", m->line + 1, m->column + 1,
                           p->problem ? p->problem : "syntax error");
}

static int next_event(struct conv *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev)) {
        return parser_fail(c);
    }
    return 0;
}

/* ---- scalar typing (go-yaml v2 resolve) ---- */

static bool is_one_of(const char *s, const char *const *list)
{
    for (; *list; list++) {
        if (strcmp(s, *list) == 0) {
            return true;
        }
    }
    return false;
}

static const char *const nulls[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const trues[] = { "y",  "Y",  "yes",  "Yes",  "YES",  "on",
                                     "On", "ON", "true", "True", "TRUE", NULL };
static const char *const falses[] = { "n",   "N",   "no",    "No",    "NO",    "off",
                                      "Off", "OFF", "false", "False", "FALSE", NULL };
static const char *const infs[] = { ".inf",  ".Inf",  ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
                                    "-.Inf", "-.INF", ".nan", ".NaN",  ".NAN",  NULL };

/* Go's strconv.ParseInt(s, 0, 64) after underscores are removed; also 0b and 0o prefixes. */
static bool parse_int(const char *s, long long *out, bool *overflow)
{
    const char *p = s;
    bool neg = false;
    *overflow = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        p++;
    }
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16, p += 2;
    } else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B')) {
        base = 2, p += 2;
    } else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O')) {
        base = 8, p += 2;
    } else if (p[0] == '0' && p[1]) {
        base = 8, p += 1;
    }
    if (!*p) {
        return false;
    }
    unsigned long long v = 0;
    for (; *p; p++) {
        int d;
        if (isdigit((unsigned char)*p)) {
            d = *p - '0';
        } else if (isxdigit((unsigned char)*p)) {
            d = tolower((unsigned char)*p) - 'a' + 10;
        } else {
            return false;
        }
        if (d >= base) {
            return false;
        }
        if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base) {
            *overflow = true;
            return false;
        }
        v = v * (unsigned)base + (unsigned)d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            *overflow = true;
            return false;
        }
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) {
            *overflow = true;
            return false;
        }
        *out = (long long)v;
    }
    return true;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool is_yaml_float(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    } else {
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                p++;
            }
        }
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') {
            p++;
        }
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        while (isdigit((unsigned char)*p)) {
            p++;
        }
    }
    return *p == '\0';
}

static json_t *number_value(double d)
{
    /* Go's encoding/json prints integral floats without a fraction ("1e3" -> 1000). */
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        return json_integer((json_int_t)d);
    }
    return json_real(d);
}

/* Types a plain scalar. Returns NULL with an error for values JSON cannot hold (.inf). */
static json_t *resolve_plain(struct conv *c, const yaml_event_t *ev, const char *s)
{
    if (is_one_of(s, nulls)) {
        return json_null();
    }
    if (is_one_of(s, trues)) {
        return json_true();
    }
    if (is_one_of(s, falses)) {
        return json_false();
    }
    if (is_one_of(s, infs)) {
        conv_fail(c, &ev->start_mark, "json: unsupported value: %s", s);
        return NULL;
    }
    if (!strchr("+-0123456789.", s[0])) {
        return json_string(s);
    }
    char plain[128];
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '_') {
            continue;
        }
        if (n + 1 >= sizeof(plain)) {
            return json_string(s);
        }
        plain[n++] = *p;
    }
    plain[n] = '\0';
    long long iv;
    bool overflow;
    if (parse_int(plain, &iv, &overflow)) {
        return json_integer(iv);
    }
    if (is_yaml_float(plain) || overflow) {
        errno = 0;
        double d = strtod(plain, NULL);
        if (overflow && !is_yaml_float(plain)) {
            /* Beyond int64 with a base prefix: go-yaml keeps it a string. */
            return json_string(s);
        }
        if (isinf(d) || isnan(d)) {
            conv_fail(c, &ev->start_mark, "json: unsupported value: %s", s);
            return NULL;
        }
        return number_value(d);
    }
    return json_string(s);
}

static json_t *scalar_value(struct conv *c, const yaml_event_t *ev)
{
    const char *s = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    if (strlen(s) != ev->data.scalar.length) {
        conv_fail(c, &ev->start_mark, "NUL byte in scalar");
        return NULL;
    }
    if (tag && strcmp(tag, "!") != 0) {
        if (strcmp(tag, YAML_STR_TAG) == 0 || strcmp(tag, "tag:yaml.org,2002:binary") == 0) {
            return json_string(s);
        }
        if (strcmp(tag, YAML_NULL_TAG) == 0) {
            return json_null();
        }
        if (strcmp(tag, YAML_BOOL_TAG) == 0 || strcmp(tag, YAML_INT_TAG) == 0 ||
            strcmp(tag, YAML_FLOAT_TAG) == 0) {
            json_t *v = resolve_plain(c, ev, s);
            if (v && json_is_string(v)) {
                json_decref(v);
                conv_fail(c, &ev->start_mark, "cannot decode `%s` as the tagged type", s);
                return NULL;
            }
            return v;
        }
        if (strcmp(tag, YAML_TIMESTAMP_TAG) == 0) {
            return json_string(s);
        }
        conv_fail(c, &ev->start_mark, "unsupported tag %s", tag);
        return NULL;
    }
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && strcmp(tag, "!") == 0)) {
        return json_string(s);
    }
    return resolve_plain(c, ev, s);
}

/* The JSON object key for a resolved key value, as sigs.k8s.io/yaml writes it. */
static char *key_string(const json_t *k)
{
    if (!k) {
        return NULL;
    }
    switch (json_typeof(k)) {
    case JSON_STRING:
        return ek_xstrdup(json_string_value(k));
    case JSON_INTEGER:
        return ek_xasprintf("%lld", (long long)json_integer_value(k));
    case JSON_REAL:
        return ek_xasprintf("%g", json_real_value(k));
    case JSON_TRUE:
        return ek_xstrdup("true");
    case JSON_FALSE:
        return ek_xstrdup("false");
    case JSON_NULL:
        return ek_xstrdup("null");
    default:
        return NULL;
    }
}

/* ---- tree building ---- */

static int parse_node(struct conv *c, yaml_event_t *ev, json_t **out, size_t *nodes);

static int remember_anchor(struct conv *c, const yaml_char_t *anchor, json_t *v, size_t nodes,
                           const yaml_mark_t *m)
{
    if (!anchor) {
        return 0;
    }
    for (size_t i = 0; i < c->n_anchors; i++) {
        if (strcmp(c->anchors[i].name, (const char *)anchor) == 0) {
            json_decref(c->anchors[i].value);
            c->anchors[i].value = json_incref(v);
            c->anchors[i].nodes = nodes;
            return 0;
        }
    }
    if (c->n_anchors == MAX_ANCHORS) {
        return conv_fail(c, m, "too many anchors");
    }
    c->anchors = ek_xrealloc(c->anchors, (c->n_anchors + 1) * sizeof(*c->anchors));
    c->anchors[c->n_anchors++] =
        (struct anchor){ ek_xstrdup((const char *)anchor), json_incref(v), nodes };
    return 0;
}

static int count_nodes(struct conv *c, size_t n, const yaml_mark_t *m)
{
    c->total_nodes += n;
    if (c->total_nodes > MAX_TOTAL_NODES) {
        return conv_fail(c, m, "document contains excessive aliasing");
    }
    return 0;
}

static int merge_into(struct conv *c, json_t *obj, json_t *explicit_keys, json_t *src,
                      const yaml_mark_t *m)
{
    if (json_is_array(src)) {
        size_t i;
        json_t *item;
        /* Earlier mappings in a merge sequence take precedence over later ones. */
        json_array_foreach (src, i, item) {
            if (!json_is_object(item)) {
                return conv_fail(c, m, "map merge requires map or sequence of maps");
            }
            const char *k;
            json_t *v;
            json_object_foreach (item, k, v) {
                if (!json_object_get(obj, k)) {
                    json_object_set(obj, k, v);
                }
            }
        }
        return 0;
    }
    if (!json_is_object(src)) {
        return conv_fail(c, m, "map merge requires map or sequence of maps");
    }
    const char *k;
    json_t *v;
    json_object_foreach (src, k, v) {
        if (!json_object_get(explicit_keys, k)) {
            json_object_set(obj, k, v);
        }
    }
    return 0;
}

static int parse_mapping(struct conv *c, yaml_event_t *start, json_t **out, size_t *nodes)
{
    ek_auto(json_t) obj = json_object();
    ek_auto(json_t) explicit_keys = json_object();
    yaml_mark_t mark = start->start_mark;
    ek_autofree yaml_char_t *anchor =
        start->data.mapping_start.anchor
            ? (yaml_char_t *)ek_xstrdup((const char *)start->data.mapping_start.anchor)
            : NULL;
    size_t n = 1;
    for (;;) {
        yaml_event_t kev;
        if (next_event(c, &kev) < 0) {
            return -1;
        }
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            break;
        }
        bool is_merge = kev.type == YAML_SCALAR_EVENT &&
                        kev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                        strcmp((const char *)kev.data.scalar.value, "<<") == 0;
        yaml_mark_t kmark = kev.start_mark;
        json_t *key = NULL;
        size_t kn = 0;
        if (is_merge) {
            yaml_event_delete(&kev);
        } else if (parse_node(c, &kev, &key, &kn) < 0) {
            return -1;
        }
        yaml_event_t vev;
        if (next_event(c, &vev) < 0) {
            json_decref(key);
            return -1;
        }
        json_t *val = NULL;
        size_t vn = 0;
        if (parse_node(c, &vev, &val, &vn) < 0) {
            json_decref(key);
            return -1;
        }
        n += kn + vn;
        if (is_merge) {
            int rc = merge_into(c, obj, explicit_keys, val, &kmark);
            json_decref(val);
            if (rc < 0) {
                return -1;
            }
            continue;
        }
        ek_autofree char *ks = key_string(key);
        json_decref(key);
        if (!ks) {
            json_decref(val);
            return conv_fail(c, &kmark, "mapping keys must be scalars");
        }
        json_object_set_new(obj, ks, val);
        json_object_set_new(explicit_keys, ks, json_true());
    }
    if (remember_anchor(c, anchor, obj, n, &mark) < 0) {
        return -1;
    }
    *nodes = n;
    *out = ek_steal(&obj);
    return 0;
}

static int parse_sequence(struct conv *c, yaml_event_t *start, json_t **out, size_t *nodes)
{
    ek_auto(json_t) arr = json_array();
    yaml_mark_t mark = start->start_mark;
    ek_autofree yaml_char_t *anchor =
        start->data.sequence_start.anchor
            ? (yaml_char_t *)ek_xstrdup((const char *)start->data.sequence_start.anchor)
            : NULL;
    size_t n = 1;
    for (;;) {
        yaml_event_t ev;
        if (next_event(c, &ev) < 0) {
            return -1;
        }
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        json_t *item = NULL;
        size_t in = 0;
        if (parse_node(c, &ev, &item, &in) < 0) {
            return -1;
        }
        n += in;
        json_array_append_new(arr, item);
    }
    if (remember_anchor(c, anchor, arr, n, &mark) < 0) {
        return -1;
    }
    *nodes = n;
    *out = ek_steal(&arr);
    return 0;
}

/* Consumes ev (always deleted) and the events of its subtree. */
static int parse_node(struct conv *c, yaml_event_t *ev, json_t **out, size_t *nodes)
{
    int rc = 0;
    yaml_mark_t mark = ev->start_mark;
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        *out = scalar_value(c, ev);
        *nodes = 1;
        if (!*out) {
            rc = -1;
        } else {
            rc = remember_anchor(c, ev->data.scalar.anchor, *out, 1, &mark);
        }
        if (rc == 0) {
            rc = count_nodes(c, 1, &mark);
        }
        break;
    case YAML_ALIAS_EVENT: {
        const char *name = (const char *)ev->data.alias.anchor;
        rc = conv_fail(c, &mark, "unknown anchor '%s' referenced", name);
        for (size_t i = c->n_anchors; i-- > 0;) {
            if (strcmp(c->anchors[i].name, name) == 0) {
                ek_error_clear(c->err);
                rc = count_nodes(c, c->anchors[i].nodes, &mark);
                if (rc == 0) {
                    *out = json_deep_copy(c->anchors[i].value);
                    *nodes = c->anchors[i].nodes;
                }
                break;
            }
        }
        break;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT:
        if (++c->depth > MAX_DEPTH) {
            rc = conv_fail(c, &mark, "exceeded max depth of %d", MAX_DEPTH);
        } else if (ev->type == YAML_MAPPING_START_EVENT) {
            rc = parse_mapping(c, ev, out, nodes);
        } else {
            rc = parse_sequence(c, ev, out, nodes);
        }
        c->depth--;
        break;
    default:
        rc = conv_fail(c, &mark, "unexpected YAML event");
        break;
    }
    yaml_event_delete(ev);
    return rc;
}

static void conv_reset_anchors(struct conv *c)
{
    for (size_t i = 0; i < c->n_anchors; i++) {
        free(c->anchors[i].name);
        json_decref(c->anchors[i].value);
    }
    free(c->anchors);
    c->anchors = NULL;
    c->n_anchors = 0;
}

/* Parses the whole stream; each document's value is appended to docs (null for empty ones). */
static int parse_stream(const char *data, size_t len, json_t *docs, ek_error_t **err)
{
    struct conv c = { .err = err };
    if (!yaml_parser_initialize(&c.parser)) {
        return ek_error_status(err, 500, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)data, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(&c, &ev)) < 0) {
            break;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        yaml_event_t root;
        if ((rc = next_event(&c, &root)) < 0) {
            break;
        }
        json_t *v = NULL;
        size_t n = 0;
        if (root.type == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&root);
            json_array_append_new(docs, json_null());
            continue;
        }
        if ((rc = parse_node(&c, &root, &v, &n)) < 0) {
            break;
        }
        json_array_append_new(docs, v);
        conv_reset_anchors(&c); /* anchors do not cross documents */
        yaml_event_t end;
        if ((rc = next_event(&c, &end)) < 0) {
            break;
        }
        yaml_event_delete(&end);
    }
    conv_reset_anchors(&c);
    yaml_parser_delete(&c.parser);
    return rc;
}

json_t *ek_yaml_to_json_docs(const char *data, size_t len, ek_error_t **err)
{
    ek_auto(json_t) all = json_array();
    if (parse_stream(data, len, all, err) < 0) {
        return NULL;
    }
    json_t *docs = json_array();
    size_t i;
    json_t *d;
    json_array_foreach (all, i, d) {
        if (!json_is_null(d)) {
            json_array_append(docs, d);
        }
    }
    return docs;
}

json_t *ek_yaml_to_json(const char *data, size_t len, ek_error_t **err)
{
    ek_auto(json_t) all = json_array();
    if (parse_stream(data, len, all, err) < 0) {
        return NULL;
    }
    size_t n = json_array_size(all);
    if (n > 1) {
        ek_error_status(err, 400, "expected one YAML document, found %zu", n);
        return NULL;
    }
    return n == 1 ? json_incref(json_array_get(all, 0)) : json_null();
}

/* ---- JSON → YAML ---- */

static bool needs_quotes(const char *s)
{
    if (!*s || is_one_of(s, nulls) || is_one_of(s, trues) || is_one_of(s, falses) ||
        is_one_of(s, infs) || strcmp(s, "<<") == 0) {
        return true;
    }
    if (strchr("+-0123456789.", s[0])) {
        /* Anything that could read as a number is quoted. */
        return true;
    }
    if (strchr("!&*-?{}[],#|>@`\"'%:", s[0]) || isspace((unsigned char)s[0]) ||
        isspace((unsigned char)s[strlen(s) - 1])) {
        return true;
    }
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch == 0x7f || (p[0] == ':' && (p[1] == ' ' || p[1] == '\0')) ||
            (p[0] == ' ' && p[1] == '#')) {
            return true;
        }
    }
    return false;
}

static void emit_string(ek_buf_t *b, const char *s)
{
    if (!needs_quotes(s)) {
        ek_buf_puts(b, s);
        return;
    }
    json_t *tmp = json_string(s);
    ek_json_dump_buf(tmp, b);
    json_decref(tmp);
}

static void indent(ek_buf_t *b, int n)
{
    for (int i = 0; i < n; i++) {
        ek_buf_putc(b, ' ');
    }
}

static void emit(ek_buf_t *b, const json_t *v, int ind, bool inline_start);

static void emit_scalar_or_block(ek_buf_t *b, const json_t *v, int ind)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && strchr(s, '\n')) {
        bool printable = true;
        for (const char *p = s; *p; p++) {
            if (((unsigned char)*p < 0x20 && *p != '\n') || (p[0] == ' ' && p[1] == '\n')) {
                printable = false;
            }
        }
        if (printable && s[0] != ' ') {
            size_t len = strlen(s);
            ek_buf_puts(b, len && s[len - 1] == '\n' ? "|\n" : "|-\n");
            const char *p = s;
            while (*p) {
                const char *nl = strchr(p, '\n');
                size_t l = nl ? (size_t)(nl - p) : strlen(p);
                if (l) {
                    indent(b, ind);
                    ek_buf_append(b, p, l);
                }
                ek_buf_putc(b, '\n');
                p += l + (nl ? 1 : 0);
                if (nl && !*p) {
                    break;
                }
            }
            return;
        }
    }
    if (s) {
        emit_string(b, s);
    } else {
        ek_json_dump_buf(v, b);
    }
    ek_buf_putc(b, '\n');
}

static void emit(ek_buf_t *b, const json_t *v, int ind, bool inline_start)
{
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *val;
        bool first = true;
        json_object_foreach ((json_t *)v, k, val) {
            if (!(first && inline_start)) {
                indent(b, ind);
            }
            first = false;
            emit_string(b, k);
            ek_buf_putc(b, ':');
            if ((json_is_object(val) && json_object_size(val)) ||
                (json_is_array(val) && json_array_size(val))) {
                ek_buf_putc(b, '\n');
                emit(b, val, json_is_array(val) ? ind : ind + 2, false);
            } else {
                ek_buf_putc(b, ' ');
                emit_scalar_or_block(b, val, ind + 2);
            }
        }
        return;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *item;
        json_array_foreach ((json_t *)v, i, item) {
            if (!(i == 0 && inline_start)) {
                indent(b, ind);
            }
            ek_buf_puts(b, "- ");
            if ((json_is_object(item) && json_object_size(item)) ||
                (json_is_array(item) && json_array_size(item))) {
                emit(b, item, ind + 2, true);
            } else {
                emit_scalar_or_block(b, item, ind + 2);
            }
        }
        return;
    }
    if (json_is_object(v)) {
        ek_buf_puts(b, "{}\n");
    } else if (json_is_array(v)) {
        ek_buf_puts(b, "[]\n");
    } else {
        emit_scalar_or_block(b, v, ind);
    }
}

char *ek_json_to_yaml(const json_t *v)
{
    ek_buf_t b = EK_BUF_INIT;
    emit(&b, v, 0, false);
    return ek_buf_steal(&b, NULL);
}
