/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Label and field selectors against the behaviour of k8s.io/apimachinery's labels.Parse,
 * LabelSelectorAsSelector and fields.ParseSelector: canonical strings, matching, and the exact
 * error messages kubectl prints.
 */
#include "api/api.h"
#include "tests/unit/test.h"

#define QNAME_ERR                                                                               \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "      \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_ERR                                                                               \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or " \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "          \
    "'my_value',  or '12345', regex used for validation is "                                    \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

static json_t *J(const char *s)
{
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON %s: %s", s, ek_error_msg(err));
    }
    return v;
}

TEST(labelsel_parse_canonical_strings)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "", "" },
        { "x=a,y=b,z=c", "x=a,y=b,z=c" },
        { "x==a", "x==a" },
        { "x!=a", "x!=a" },
        { "x=", "x=" },
        { "x= ,z= ", "x=,z=" },
        { "x in (a,b)", "x in (a,b)" },
        { "x in (b,a,b)", "x in (a,b)" },
        { "x notin (a)", "x notin (a)" },
        { "x notin(a)", "x notin (a)" },
        { "x in ()", "x in ()" },
        { "x in (,a)", "x in (,a)" },
        { "x in (a,,b)", "x in (,a,b)" },
        { "x in (a,)", "x in (,a)" },
        { "x,!y", "x,!y" },
        { "!y,x", "x,!y" },
        { "z,a=b", "a=b,z" },
        { "x>1", "x>1" },
        { "x==", "x==" },
        { "  x  =  a  ", "x=a" },
        { "x=a\t,\ny=b\r", "x=a,y=b" },
        { "in=notin", "in=notin" },
        { "x in (in,notin)", "x in (in,notin)" },
        { "example.com/app=web", "example.com/app=web" },
        { "a.b-c_d=e.f-g_h", "a.b-c_d=e.f-g_h" },
        { "b=1,a=2,b=0", "a=2,b=1,b=0" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_auto(ek_labelsel_t) s = ek_labelsel_parse(cases[i].in, &err);
        if (!s) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: %s", cases[i].in, ek_error_msg(err));
        }
        ek_autofree char *str = ek_labelsel_string(s);
        if (strcmp(str, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: got %s want %s", cases[i].in, str,
                          cases[i].out);
        }
        /* The canonical form parses back to itself. */
        ek_auto(ek_labelsel_t) again = ek_labelsel_parse(str, &err);
        ASSERT_NOT_NULL(again);
        ek_autofree char *str2 = ek_labelsel_string(again);
        ASSERT_STREQ(str2, str);
    }
}

TEST(labelsel_parse_requirements)
{
    ek_error_t *err = NULL;
    ek_auto(ek_labelsel_t) s = ek_labelsel_parse("x in (c,a),!y,z", &err);
    ASSERT_NOT_NULL(s);
    ASSERT_EQ(ek_labelsel_count(s), 3);
    const ek_labelsel_req_t *r = ek_labelsel_req(s, 0);
    ASSERT_STREQ(r->key, "x");
    ASSERT_EQ(r->op, EK_SELOP_IN);
    ASSERT_EQ(r->nvalues, 2);
    ASSERT_STREQ(r->values[0], "a");
    ASSERT_STREQ(r->values[1], "c");
    ASSERT_EQ(ek_labelsel_req(s, 1)->op, EK_SELOP_DOES_NOT_EXIST);
    ASSERT_EQ(ek_labelsel_req(s, 2)->op, EK_SELOP_EXISTS);
    ASSERT_EQ(ek_labelsel_req(s, 2)->nvalues, 0);
    ASSERT_FALSE(ek_labelsel_empty(s));

    ek_auto(ek_labelsel_t) e = ek_labelsel_parse("x=a,y in (b),z in (c,d),w!=e", &err);
    ASSERT_STREQ(ek_labelsel_exact(e, "x"), "a");
    ASSERT_STREQ(ek_labelsel_exact(e, "y"), "b");
    ASSERT_TRUE(ek_labelsel_exact(e, "z") == NULL);
    ASSERT_TRUE(ek_labelsel_exact(e, "w") == NULL);
    ASSERT_TRUE(ek_labelsel_exact(e, "nope") == NULL);
}

TEST(labelsel_parse_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        { "x=a,,", "found ',', expected: identifier after ','" },
        { "x,", "found '', expected: identifier after ','" },
        { ",x", "found ',', expected: !, identifier, or 'end of string'" },
        { "=a", "found '=', expected: !, identifier, or 'end of string'" },
        { "x in (", "unable to parse requirement: found '', expected: ',', ')' or identifier" },
        { "x in a", "unable to parse requirement: found 'a' expected: '('" },
        { "x (a)",
          "unable to parse requirement: found '(', expected: '=', '!=', '==', 'in', notin'" },
        { "x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'" },
        { "x in (a", "unable to parse requirement: found '', expected: ',' or ')'" },
        { "x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier" },
        { "x=a b", "found 'b', expected: ',' or 'end of string'" },
        { "x=(", "unable to parse requirement: found '(', expected: identifier" },
        { "!x=y", "found '=', expected: ',' or 'end of string'" },
        { "!", "unable to parse requirement: found '', expected: identifier" },
        { "!!x", "unable to parse requirement: found '!', expected: identifier" },
        { "x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
                 "operators, the value must be an integer" },
        { "x>99999999999999999999",
          "unable to parse requirement: values[0]: Invalid value: \"99999999999999999999\": "
          "for 'Gt', 'Lt' operators, the value must be an integer" },
        { "x<-1", "unable to parse requirement: values[0][x]: Invalid value: \"-1\": " VALUE_ERR },
        { "x>-a",
          "unable to parse requirement: [values[0]: Invalid value: \"-a\": for 'Gt', 'Lt' "
          "operators, the value must be an integer, values[0][x]: Invalid value: \"-a\": " VALUE_ERR
          "]" },
        { "x=a||y=b",
          "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": " VALUE_ERR },
        { "-x=y",
          "unable to parse requirement: <nil>: Invalid value: \"-x\": name part " QNAME_ERR },
        { "a/b/c=d", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified "
                     "name " QNAME_ERR
                     " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')" },
        { "/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be "
                "non-empty" },
        { "a/", "unable to parse requirement: <nil>: Invalid value: \"a/\": name part must be "
                "non-empty; name part " QNAME_ERR },
        { "Example.com/a",
          "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a "
          "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
          "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
          "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
          "[a-z0-9])?)*')" },
        { "k\"\x01\xff=v", "unable to parse requirement: <nil>: Invalid value: "
                           "\"k\\\"\\x01\\xff\": name part " QNAME_ERR },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=b",
          "unable to parse requirement: <nil>: Invalid value: "
          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": name part must "
          "be no more than 63 characters" },
        { "a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
          "unable to parse requirement: values[0][a]: Invalid value: "
          "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\": must be no more "
          "than 63 characters" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_labelsel_t *s = ek_labelsel_parse(cases[i].in, &err);
        if (s) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: unexpectedly valid", cases[i].in);
        }
        ASSERT_EQ(err->status, 400);
        if (strcmp(ek_error_msg(err), cases[i].msg) != 0) {
            ek__test_fail(__FILE__, __LINE__, "parse %s:\n got  %s\n want %s", cases[i].in,
                          ek_error_msg(err), cases[i].msg);
        }
        ek_error_free(err);
    }
}

TEST(labelsel_matches)
{
    static const struct {
        const char *sel, *labels;
        bool want;
    } cases[] = {
        { "x=a", "{\"x\":\"a\"}", true },
        { "x==a", "{\"x\":\"a\"}", true },
        { "x=a", "{\"x\":\"b\"}", false },
        { "x=a", "{}", false },
        { "x!=a", "{\"x\":\"a\"}", false },
        { "x!=a", "{\"x\":\"b\"}", true },
        { "y!=a", "{\"x\":\"a\"}", true },
        { "x in (a,b)", "{\"x\":\"b\"}", true },
        { "x in (a,b)", "{\"x\":\"c\"}", false },
        { "x notin (a)", "{\"x\":\"a\"}", false },
        { "y notin (a)", "{\"x\":\"a\"}", true },
        { "x", "{\"x\":\"\"}", true },
        { "x", "{\"y\":\"\"}", false },
        { "!x", "{\"x\":\"a\"}", false },
        { "!y", "{\"x\":\"a\"}", true },
        { "x=", "{\"x\":\"\"}", true },
        { "x in ()", "{\"x\":\"\"}", true },
        { "n>1", "{\"n\":\"2\"}", true },
        { "n>1", "{\"n\":\"1\"}", false },
        { "n>1", "{\"n\":\"x\"}", false },
        { "n>1", "{}", false },
        { "n<1", "{\"n\":\"-5\"}", true },
        { "n>2", "{\"n\":\"+3\"}", true },
        { "n<9223372036854775807", "{\"n\":\"9223372036854775808\"}", false },
        { "x=a,y=b", "{\"x\":\"a\",\"y\":\"b\",\"z\":\"c\"}", true },
        { "x=a,y=b", "{\"x\":\"a\",\"y\":\"c\"}", false },
        { "", "{\"x\":\"a\"}", true },
        { "x", "{\"x\":1}", false },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_auto(ek_labelsel_t) s = ek_labelsel_parse(cases[i].sel, &err);
        ASSERT_NOT_NULL(s);
        ek_auto(json_t) l = J(cases[i].labels);
        if (ek_labelsel_matches(s, l) != cases[i].want) {
            ek__test_fail(__FILE__, __LINE__, "%s on %s: want %d", cases[i].sel, cases[i].labels,
                          cases[i].want);
        }
    }
    ek_error_t *err = NULL;
    ek_auto(ek_labelsel_t) ex = ek_labelsel_parse("x", &err);
    ek_auto(ek_labelsel_t) nx = ek_labelsel_parse("!x", &err);
    ASSERT_FALSE(ek_labelsel_matches(ex, NULL));
    ASSERT_TRUE(ek_labelsel_matches(nx, NULL));
    ek_auto(json_t) jnull = json_null();
    ASSERT_TRUE(ek_labelsel_matches(nx, jnull));
}

TEST(labelsel_everything_and_nothing)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) labels = J("{\"a\":\"b\"}");
    ek_auto(json_t) jempty = J("{}");
    ek_auto(ek_labelsel_t) all = ek_labelsel_from_json(jempty, &err);
    ASSERT_NOT_NULL(all);
    ASSERT_TRUE(ek_labelsel_empty(all));
    ASSERT_TRUE(ek_labelsel_matches(all, labels));
    ASSERT_TRUE(ek_labelsel_matches(all, NULL));
    ek_auto(ek_labelsel_t) none = ek_labelsel_from_json(NULL, &err);
    ASSERT_TRUE(ek_labelsel_is_nothing(none));
    ASSERT_FALSE(ek_labelsel_empty(none));
    ASSERT_FALSE(ek_labelsel_matches(none, labels));
    ASSERT_FALSE(ek_labelsel_matches(none, NULL));
    ek_autofree char *s = ek_labelsel_string(none);
    ASSERT_STREQ(s, "");
    ek_auto(json_t) jnull = json_null();
    ek_auto(ek_labelsel_t) none2 = ek_labelsel_from_json(jnull, &err);
    ASSERT_TRUE(ek_labelsel_is_nothing(none2));
    ek_auto(json_t) jlists = J("{\"matchLabels\":{},\"matchExpressions\":[]}");
    ek_auto(ek_labelsel_t) empty_lists = ek_labelsel_from_json(jlists, &err);
    ASSERT_TRUE(ek_labelsel_empty(empty_lists));
    ek_auto(ek_labelsel_t) every = ek_labelsel_everything();
    ASSERT_TRUE(ek_labelsel_matches(every, labels));
    ek_auto(ek_labelsel_t) nothing = ek_labelsel_nothing();
    ASSERT_FALSE(ek_labelsel_matches(nothing, labels));
}

TEST(labelsel_from_json)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) j = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":["
                          "{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"fe\",\"be\"]},"
                          "{\"key\":\"env\",\"operator\":\"Exists\"},"
                          "{\"key\":\"old\",\"operator\":\"DoesNotExist\"},"
                          "{\"key\":\"zone\",\"operator\":\"NotIn\",\"values\":[\"b\"]}]}");
    ek_auto(ek_labelsel_t) s = ek_labelsel_from_json(j, &err);
    ASSERT_NOT_NULL(s);
    ek_autofree char *str = ek_labelsel_string(s);
    ASSERT_STREQ(str, "app=web,env,!old,tier in (be,fe),zone notin (b)");
    /* Values keep their given order; only printing sorts them. */
    ASSERT_STREQ(ek_labelsel_req(s, 3)->values[0], "fe");
    static const struct {
        const char *labels;
        bool want;
    } cases[] = {
        { "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"x\"}", true },
        { "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"x\",\"zone\":\"a\"}", true },
        { "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"x\",\"zone\":\"b\"}", false },
        { "{\"app\":\"web\",\"tier\":\"fe\",\"env\":\"x\",\"old\":\"1\"}", false },
        { "{\"app\":\"web\",\"tier\":\"db\",\"env\":\"x\"}", false },
        { "{\"app\":\"web\",\"tier\":\"fe\"}", false },
        { "{\"app\":\"api\",\"tier\":\"fe\",\"env\":\"x\"}", false },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_auto(json_t) l = J(cases[i].labels);
        if (ek_labelsel_matches(s, l) != cases[i].want) {
            ek__test_fail(__FILE__, __LINE__, "%s: want %d", cases[i].labels, cases[i].want);
        }
    }
}

TEST(labelsel_from_json_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        { "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}",
          "\"Foo\" is not a valid label selector operator" },
        { "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\"}]}",
          "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't "
          "be empty" },
        { "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\","
          "\"y\"]}]}",
          "values: Invalid value: []string{\"x\", \"y\"}: values set must be empty for exists "
          "and does not exist" },
        { "{\"matchLabels\":{\"bad key\":\"v\"}}",
          "key: Invalid value: \"bad key\": name part " QNAME_ERR },
        { "{\"matchLabels\":{\"k\":\"bad value!\"}}",
          "values[0][k]: Invalid value: \"bad value!\": " VALUE_ERR },
        { "{\"matchExpressions\":[{\"key\":\"-k\",\"operator\":\"NotIn\",\"values\":[]}]}",
          "[key: Invalid value: \"-k\": name part " QNAME_ERR
          ", values: Invalid value: []string(nil): for 'in', 'notin' operators, values set "
          "can't be empty]" },
        { "{\"matchLabels\":{\"k\":1}}",
          "json: cannot unmarshal integer into Go struct field LabelSelector.matchLabels of "
          "type string" },
        { "{\"matchLabels\":[]}", "json: cannot unmarshal array into Go struct field "
                                  "LabelSelector.matchLabels of type map[string]string" },
        { "[]", "json: cannot unmarshal array into Go value of type v1.LabelSelector" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_auto(json_t) j = J(cases[i].in);
        ek_labelsel_t *s = ek_labelsel_from_json(j, &err);
        if (s) {
            ek__test_fail(__FILE__, __LINE__, "%s: unexpectedly valid", cases[i].in);
        }
        ASSERT_EQ(err->status, 400);
        if (strcmp(ek_error_msg(err), cases[i].msg) != 0) {
            ek__test_fail(__FILE__, __LINE__, "%s:\n got  %s\n want %s", cases[i].in,
                          ek_error_msg(err), cases[i].msg);
        }
        ek_error_free(err);
    }
}

/* ---- field selectors ---- */

static const char *pod_field(const char *field, void *data)
{
    EK_UNUSED(data);
    static const char *const fields[][2] = {
        { "metadata.name", "web-1" }, { "metadata.namespace", "default" },
        { "spec.nodeName", "n1" },    { "status.phase", "Running" },
        { "odd", "a,b=c\\d" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(fields); i++) {
        if (strcmp(fields[i][0], field) == 0) {
            return fields[i][1];
        }
    }
    return NULL;
}

TEST(fieldsel_parse)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "", "" },
        { "metadata.name=x", "metadata.name=x" },
        { "metadata.name==x", "metadata.name=x" },
        { "status.phase!=Running,spec.nodeName=n1", "spec.nodeName=n1,status.phase!=Running" },
        { "b=1,a=2", "a=2,b=1" },
        { "a=b\\,c", "a=b\\,c" },
        { "a=b\\=c\\\\d", "a=b\\=c\\\\d" },
        { "a=b,,c=d", "a=b,c=d" },
        { "=", "" },
        { "=,a=b", "a=b" },
        { "=x", "=x" },
        { "a!=", "a!=" },
        { "a=!b", "a=!b" },
        { " metadata.name = x", " metadata.name = x" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_auto(ek_fieldsel_t) s = ek_fieldsel_parse(cases[i].in, &err);
        if (!s) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: %s", cases[i].in, ek_error_msg(err));
        }
        ek_autofree char *str = ek_fieldsel_string(s);
        if (strcmp(str, cases[i].out) != 0) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: got %s want %s", cases[i].in, str,
                          cases[i].out);
        }
    }
    ek_error_t *err = NULL;
    ek_auto(ek_fieldsel_t) s = ek_fieldsel_parse("status.phase!=Running,a=b\\,c\\=d", &err);
    ASSERT_EQ(ek_fieldsel_count(s), 2);
    ASSERT_STREQ(ek_fieldsel_req(s, 0)->field, "a");
    ASSERT_STREQ(ek_fieldsel_req(s, 0)->value, "b,c=d");
    ASSERT_EQ(ek_fieldsel_req(s, 0)->op, EK_SELOP_EQUALS);
    ASSERT_STREQ(ek_fieldsel_req(s, 1)->field, "status.phase");
    ASSERT_EQ(ek_fieldsel_req(s, 1)->op, EK_SELOP_NOT_EQUALS);
    ASSERT_TRUE(ek_fieldsel_exact(s, "a") != NULL);
    ASSERT_TRUE(ek_fieldsel_exact(s, "status.phase") == NULL);
    ek_auto(ek_fieldsel_t) e = ek_fieldsel_parse("", &err);
    ASSERT_TRUE(ek_fieldsel_empty(e));
    ASSERT_FALSE(ek_fieldsel_empty(s));
}

TEST(fieldsel_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        { "abc", "invalid selector: 'abc'; can't understand 'abc'" },
        { "a=b,xyz", "invalid selector: 'a=b,xyz'; can't understand 'xyz'" },
        { "a=b=c", "invalid field selector: unescaped character in value: 61" },
        { "a!==b", "invalid field selector: unescaped character in value: 61" },
        { "a=b\\x", "invalid field selector: invalid escape sequence: \\x" },
        { "a=b\\", "invalid field selector: invalid escape sequence: \\" },
        { "a=\\\xc3\xa9", "invalid field selector: invalid escape sequence: \\\xc3\xa9" },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_fieldsel_t *s = ek_fieldsel_parse(cases[i].in, &err);
        if (s) {
            ek__test_fail(__FILE__, __LINE__, "parse %s: unexpectedly valid", cases[i].in);
        }
        ASSERT_EQ(err->status, 400);
        if (strcmp(ek_error_msg(err), cases[i].msg) != 0) {
            ek__test_fail(__FILE__, __LINE__, "parse %s:\n got  %s\n want %s", cases[i].in,
                          ek_error_msg(err), cases[i].msg);
        }
        ek_error_free(err);
    }
}

TEST(fieldsel_matches)
{
    static const struct {
        const char *sel;
        bool want;
    } cases[] = {
        { "", true },
        { "metadata.name=web-1", true },
        { "metadata.name==web-1", true },
        { "metadata.name=web-2", false },
        { "metadata.name!=web-2", true },
        { "status.phase!=Running", false },
        { "status.phase!=Succeeded,spec.nodeName=n1", true },
        { "status.phase!=Succeeded,spec.nodeName=n2", false },
        { "missing=", true },
        { "missing!=", false },
        { "missing!=x", true },
        { "odd=a\\,b\\=c\\\\d", true },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_error_t *err = NULL;
        ek_auto(ek_fieldsel_t) s = ek_fieldsel_parse(cases[i].sel, &err);
        ASSERT_NOT_NULL(s);
        if (ek_fieldsel_matches(s, pod_field, NULL) != cases[i].want) {
            ek__test_fail(__FILE__, __LINE__, "%s: want %d", cases[i].sel, cases[i].want);
        }
    }
}
