/* SPDX-License-Identifier: Apache-2.0 */
/* YAML → JSON conversion as kubectl does it, and JSON → YAML round trips. */
#include "tests/unit/test.h"

static json_t *conv(const char *yaml)
{
    ek_error_t *err = NULL;
    json_t *v = ek_yaml_to_json(yaml, strlen(yaml), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "convert failed: %s", ek_error_msg(err));
    }
    return v;
}

static void expect_json(const char *yaml, const char *json)
{
    ek_auto(json_t) v = conv(yaml);
    ek_autofree char *s = ek_json_dumps(v);
    ASSERT_STREQ(s, json);
}

TEST(yaml_scalar_typing)
{
    expect_json("a: yes\nb: \"on\"\nc: off\nd: 0x1F\ne: 1e3\nf: ~\ng: 012\nh: 1_000\n",
                "{\"a\":true,\"b\":\"on\",\"c\":false,\"d\":31,\"e\":1000,\"f\":null,\"g\":10,"
                "\"h\":1000}");
    expect_json("a: 1.5\nb: -7\nc: 0o17\nd: +12\ne: .5\nf: 0b101\ng: 3.\n",
                "{\"a\":1.5,\"b\":-7,\"c\":15,\"d\":12,\"e\":0.5,\"f\":5,\"g\":3}");
    expect_json("a: '123'\nb: \"true\"\nc: 2026-11-25T00:00:00Z\nd: 1.2.3\ne:\nf: null\n",
                "{\"a\":\"123\",\"b\":\"true\",\"c\":\"2026-11-25T00:00:00Z\",\"d\":\"1.2.3\","
                "\"e\":null,\"f\":null}");
    expect_json("a: !!str 123\nb: !!int \"42\"\n", "{\"a\":\"123\",\"b\":42}");
}

TEST(yaml_keys_become_strings)
{
    /* go-yaml v2 reads y/n/on/off as booleans, in keys as well as values. */
    expect_json("on: push\n1: one\ntrue: t\n~: x\nn: 1\n\"y\": 2\n",
                "{\"true\":\"t\",\"1\":\"one\",\"null\":\"x\",\"false\":1,\"y\":2}");
}

TEST(yaml_block_scalars)
{
    expect_json("a: |\n  line1\n  line2\nb: >\n  folded\n  text\nc: |-\n  keep\n",
                "{\"a\":\"line1\\nline2\\n\",\"b\":\"folded text\\n\",\"c\":\"keep\"}");
}

TEST(yaml_flow_and_block)
{
    expect_json("spec: {replicas: 3, selector: {matchLabels: {app: web}}}\nports: [80, 443]\n",
                "{\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}}},"
                "\"ports\":[80,443]}");
    expect_json("list:\n- a\n- b: 1\n  c: 2\n- - x\n",
                "{\"list\":[\"a\",{\"b\":1,\"c\":2},[\"x\"]]}");
}

TEST(yaml_anchors_and_merge)
{
    expect_json(
        "base: &b\n  cpu: 100m\n  mem: 1Gi\nx:\n  <<: *b\n  mem: 2Gi\nz: *b\n",
        "{\"base\":{\"cpu\":\"100m\",\"mem\":\"1Gi\"},\"x\":{\"cpu\":\"100m\",\"mem\":\"2Gi\"},"
        "\"z\":{\"cpu\":\"100m\",\"mem\":\"1Gi\"}}");
    expect_json("a: &a {p: 1}\nb: &b {p: 2, q: 2}\nc:\n  <<: [*a, *b]\n",
                "{\"a\":{\"p\":1},\"b\":{\"p\":2,\"q\":2},\"c\":{\"p\":1,\"q\":2}}");
}

TEST(yaml_multi_document)
{
    const char *y = "# leading comment\n---\napiVersion: v1\nkind: ConfigMap\n---\n# only a "
                    "comment\n---\napiVersion: v1\nkind: Secret\n...\n---\n";
    ek_error_t *err = NULL;
    ek_auto(json_t) docs = ek_yaml_to_json_docs(y, strlen(y), &err);
    ASSERT_NOT_NULL(docs);
    ASSERT_EQ(json_array_size(docs), 2);
    ASSERT_STREQ(ek_json_str(json_array_get(docs, 1), "kind", NULL), "Secret");
    /* A single-document call on a stream refuses. */
    ASSERT_TRUE(ek_yaml_to_json(y, strlen(y), &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "one YAML document");
    ek_error_free(err);
}

TEST(yaml_json_input)
{
    expect_json("{\"kind\": \"Pod\", \"n\": [1, 2.5, true, null]}",
                "{\"kind\":\"Pod\",\"n\":[1,2.5,true,null]}");
}

TEST(yaml_errors_have_line_and_column)
{
    const char *bad = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n   bad: indent\n";
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_yaml_to_json(bad, strlen(bad), &err) == NULL);
    ASSERT_EQ(err->status, 400);
    ASSERT_CONTAINS(ek_error_msg(err), "5:");
    ASSERT_CONTAINS(ek_error_msg(err), "mapping values are not allowed");
    ek_error_clear(&err);
    const char *tabs = "a:\n\t- b\n";
    ASSERT_TRUE(ek_yaml_to_json(tabs, strlen(tabs), &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "2:");
    ek_error_clear(&err);
    const char *alias = "a: *nope\n";
    ASSERT_TRUE(ek_yaml_to_json(alias, strlen(alias), &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "1:4: unknown anchor 'nope' referenced");
    ek_error_clear(&err);
    const char *inf = "a: .inf\n";
    ASSERT_TRUE(ek_yaml_to_json(inf, strlen(inf), &err) == NULL);
    ek_error_free(err);
}

TEST(yaml_billion_laughs_is_refused)
{
    ek_test_native_only("CPU-heavy: under emulation on a loaded machine it outlasts the timeout");
    ek_autobuf b = EK_BUF_INIT;
    ek_buf_puts(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 12; i++) {
        ek_buf_printf(&b, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) {
            ek_buf_printf(&b, "%s*a%d", k ? ", " : "", i - 1);
        }
        ek_buf_puts(&b, "]\n");
    }
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_yaml_to_json(b.data, b.len, &err) == NULL);
    ASSERT_CONTAINS(ek_error_msg(err), "excessive aliasing");
    ek_error_free(err);
}

TEST(yaml_deep_nesting_is_refused)
{
    ek_autobuf b = EK_BUF_INIT;
    for (int i = 0; i < 2000; i++) {
        ek_buf_putc(&b, '[');
    }
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_yaml_to_json(b.data, b.len, &err) == NULL);
    ek_error_free(err);
}

TEST(yaml_emit_round_trip)
{
    const char *y = "kind: Deployment\nspec:\n  replicas: 3\n  template:\n    spec:\n"
                    "      containers:\n      - name: web\n        image: nginx\n        args:\n"
                    "        - \"yes\"\n        - '8080'\n        - \"\"\n        - \"a: b\"\n"
                    "      script: |\n        echo hi\n        exit 0\n  empty: {}\n  none: []\n"
                    "  flag: true\n  ratio: 0.5\n";
    ek_auto(json_t) v = conv(y);
    ek_autofree char *out = ek_json_to_yaml(v);
    ek_auto(json_t) back = conv(out);
    ASSERT_TRUE(json_equal(v, back));
    ASSERT_CONTAINS(out, "- \"yes\"");
    ASSERT_CONTAINS(out, "script: |\n");
}
