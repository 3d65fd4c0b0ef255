/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON merge patch, JSON patch and strategic merge patch: the RFC 7386 / RFC 6902 appendix
 * examples, the quirks of evanphx/json-patch the API server inherits, and the strategic merge
 * patches kubectl really sends (trace 13 of the kubectl reference), with results worked out
 * by hand from apimachinery's strategicpatch.
 */
#include "api/api.h"
#include "tests/unit/test.h"

/* Success rows leave status and msg out; zero is what they mean. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

typedef enum { MERGE, JSONP, SMP } kind_t;

typedef struct pcase {
    const char *doc, *patch;
    const char *want; /* NULL: an error with status and msg */
    int status;
    const char *msg;
} pcase_t;

static json_t *J(const char *s)
{
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON %s: %s", s, ek_error_msg(err));
    }
    return v;
}

static void run_case(kind_t kind, const pcase_t *c, const ek_smp_schema_t *schema, int line)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) doc = J(c->doc);
    ek_auto(json_t) patch = J(c->patch);
    ek_autofree char *doc_before = ek_json_dumps(doc);
    ek_autofree char *patch_before = ek_json_dumps(patch);
    ek_auto(json_t) got = kind == MERGE   ? ek_patch_merge(doc, patch, &err)
                          : kind == JSONP ? ek_patch_json(doc, patch, &err)
                                          : ek_patch_strategic(doc, patch, schema, &err);
    /* Inputs are never modified. */
    ek_autofree char *doc_after = ek_json_dumps(doc);
    ek_autofree char *patch_after = ek_json_dumps(patch);
    if (strcmp(doc_before, doc_after) != 0 || strcmp(patch_before, patch_after) != 0) {
        ek__test_fail(__FILE__, line, "input modified");
    }
    if (!c->want) {
        if (got) {
            ek_autofree char *s = ek_json_dumps(got);
            ek__test_fail(__FILE__, line, "expected error %s, got %s", c->msg, s);
        }
        if (err->status != c->status || strcmp(ek_error_msg(err), c->msg) != 0) {
            ek__test_fail(__FILE__, line, "error:\n got  %d %s\n want %d %s", err->status,
                          ek_error_msg(err), c->status, c->msg);
        }
        ek_error_free(err);
        return;
    }
    if (!got) {
        ek__test_fail(__FILE__, line, "unexpected error %s", ek_error_msg(err));
    }
    ek_auto(json_t) want = J(c->want);
    if (!json_equal(got, want)) {
        ek_autofree char *s = ek_json_dumps(got);
        ek__test_fail(__FILE__, line, "result:\n got  %s\n want %s", s, c->want);
    }
}

#define RUN(kind, cases, schema)                                             \
    do {                                                                     \
        for (size_t i_ = 0; i_ < EK_ARRAY_SIZE(cases); i_++) {               \
            run_case(kind, &(cases)[i_], schema, __LINE__ * 1000 + (int)i_); \
        }                                                                    \
    } while (0)

/* ---- JSON merge patch ---- */

TEST(merge_patch_rfc7386_appendix)
{
    static const pcase_t cases[] = {
        { "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
        { "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
        { "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
        { "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
        { "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
        { "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}" },
        { "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
        { "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
        { "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
        { "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
        { "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
        { "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
        /* evanphx refuses what the RFC would turn into the document itself. */
        { "{\"a\":\"foo\"}", "null", NULL, 400, "Invalid JSON Patch" },
        { "{\"a\":\"foo\"}", "\"bar\"", NULL, 400, "Invalid JSON Patch" },
        { "{\"a\":\"foo\"}", "7", NULL, 400, "Invalid JSON Patch" },
        { "null", "{\"a\":1}", NULL, 400, "Invalid JSON Document" },
    };
    RUN(MERGE, cases, NULL);
}

TEST(merge_patch_kubectl_and_nulls)
{
    static const pcase_t cases[] = {
        /* kubectl label / annotate / scale (trace 13) */
        { "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\"}}}",
          "{\"metadata\":{\"labels\":{\"tier\":\"fe\"}}}",
          "{\"metadata\":{\"name\":\"web\",\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}}}" },
        { "{\"metadata\":{\"annotations\":{\"note\":\"old\"}}}",
          "{\"metadata\":{\"annotations\":{\"note\":\"hi\"}}}",
          "{\"metadata\":{\"annotations\":{\"note\":\"hi\"}}}" },
        { "{\"spec\":{\"replicas\":4,\"paused\":true}}", "{\"spec\":{\"replicas\":2}}",
          "{\"spec\":{\"replicas\":2,\"paused\":true}}" },
        { "{\"metadata\":{\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}}}",
          "{\"metadata\":{\"labels\":{\"tier\":null}}}",
          "{\"metadata\":{\"labels\":{\"app\":\"web\"}}}" },
        /* Nulls inside arrays taken from the patch are pruned when the target was missing... */
        { "{}", "{\"a\":[{\"b\":null,\"c\":1},null]}", "{\"a\":[{\"c\":1},null]}" },
        /* ...or was not an object, but not when an object is replaced by an array. */
        { "{\"a\":1}", "{\"a\":[{\"b\":null}]}", "{\"a\":[{}]}" },
        { "{\"a\":{\"x\":1}}", "{\"a\":[{\"b\":null}]}", "{\"a\":[{\"b\":null}]}" },
        { "{\"a\":null}", "{\"a\":{\"b\":null,\"c\":2}}", "{\"a\":{\"c\":2}}" },
        { "{\"a\":{\"b\":{\"c\":1,\"d\":2}}}", "{\"a\":{\"b\":{\"c\":null,\"e\":{\"f\":null}}}}",
          "{\"a\":{\"b\":{\"d\":2,\"e\":{}}}}" },
        { "{\"a\":1}", "{}", "{\"a\":1}" },
    };
    RUN(MERGE, cases, NULL);
}

/* ---- JSON patch ---- */

TEST(json_patch_rfc6902_appendix)
{
    static const pcase_t cases[] = {
        { "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
          "{\"baz\":\"qux\",\"foo\":\"bar\"}" },
        { "{\"foo\":[\"bar\",\"baz\"]}", "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
          "{\"foo\":[\"bar\",\"qux\",\"baz\"]}" },
        { "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
          "{\"foo\":\"bar\"}" },
        { "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
          "{\"foo\":[\"bar\",\"baz\"]}" },
        { "{\"baz\":\"qux\",\"foo\":\"bar\"}",
          "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
          "{\"baz\":\"boo\",\"foo\":\"bar\"}" },
        { "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
          "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
          "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}" },
        { "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
          "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
          "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}" },
        { "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
          "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
          "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
          "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}" },
        { "{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", NULL, 422,
          "testing value /baz failed: test failed" },
        { "{\"foo\":\"bar\"}",
          "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
          "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}" },
        { "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":123}]",
          "{\"foo\":\"bar\",\"baz\":\"qux\"}" },
        { "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", NULL,
          422, "add operation does not apply: doc is missing path: \"/baz/bat\": missing value" },
        { "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
          "{\"/\":9,\"~1\":10}" },
        { "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", NULL,
          422, "testing value /~01 failed: test failed" },
        { "{\"foo\":[\"bar\"]}",
          "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
          "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}" },
        { "{\"a/b\":1,\"m~n\":2}",
          "[{\"op\":\"remove\",\"path\":\"/a~1b\"},{\"op\":\"replace\",\"path\":\"/m~0n\","
          "\"value\":3}]",
          "{\"m~n\":3}" },
    };
    RUN(JSONP, cases, NULL);
}

TEST(json_patch_kubernetes_behaviour)
{
    static const pcase_t cases[] = {
        /* kubectl patch --type=json (trace 13) */
        { "{\"spec\":{\"replicas\":5}}",
          "[{\"op\":\"replace\",\"path\":\"/spec/replicas\","
          "\"value\":6}]",
          "{\"spec\":{\"replicas\":6}}" },
        /* arrays: '-' appends, negative indices count from the end */
        { "{\"f\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/f/-\",\"value\":3}]", "{\"f\":[1,2,3]}" },
        { "{\"f\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/f/2\",\"value\":3}]", "{\"f\":[1,2,3]}" },
        { "{\"f\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/f/0\",\"value\":0}]", "{\"f\":[0,1,2]}" },
        { "{\"f\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/f/-1\",\"value\":3}]", "{\"f\":[1,2,3]}" },
        { "{\"f\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/f/-3\",\"value\":0}]", "{\"f\":[0,1,2]}" },
        { "{\"f\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/f/-1\"}]", "{\"f\":[1,2]}" },
        { "{\"f\":[1,2,3]}", "[{\"op\":\"replace\",\"path\":\"/f/-3\",\"value\":9}]",
          "{\"f\":[9,2,3]}" },
        { "{\"f\":[{\"a\":1}]}", "[{\"op\":\"add\",\"path\":\"/f/0/b\",\"value\":2}]",
          "{\"f\":[{\"a\":1,\"b\":2}]}" },
        { "{\"f\":[{\"a\":1}]}", "[{\"op\":\"add\",\"path\":\"/f/-1/b\",\"value\":2}]",
          "{\"f\":[{\"a\":1,\"b\":2}]}" },
        { "{\"f\":[1]}", "[{\"op\":\"add\",\"path\":\"/f/5\",\"value\":3}]", NULL, 422,
          "error in add for path: '/f/5': Unable to access invalid index: 5: invalid index "
          "referenced" },
        { "{\"f\":[1]}", "[{\"op\":\"add\",\"path\":\"/f/-3\",\"value\":3}]", NULL, 422,
          "error in add for path: '/f/-3': Unable to access invalid index: -3: invalid index "
          "referenced" },
        { "{\"f\":[1]}", "[{\"op\":\"add\",\"path\":\"/f/x\",\"value\":3}]", NULL, 422,
          "error in add for path: '/f/x': value was not a proper array index: 'x': "
          "strconv.Atoi: parsing \"x\": invalid syntax" },
        { "{\"f\":[1]}", "[{\"op\":\"remove\",\"path\":\"/f/1\"}]", NULL, 422,
          "error in remove for path: '/f/1': Unable to access invalid index: 1: invalid index "
          "referenced" },
        { "{\"f\":[1]}", "[{\"op\":\"remove\",\"path\":\"/f/99999999999999999999\"}]", NULL, 422,
          "error in remove for path: '/f/99999999999999999999': strconv.Atoi: parsing "
          "\"99999999999999999999\": value out of range" },
        { "{\"f\":[1]}", "[{\"op\":\"replace\",\"path\":\"/f/1\",\"value\":2}]", NULL, 422,
          "replace operation does not apply: doc is missing key: /f/1: missing value" },
        { "{\"f\":[[1]]}", "[{\"op\":\"add\",\"path\":\"/f/0/0\",\"value\":0}]",
          "{\"f\":[[0,1]]}" },
        /* objects: replace of a missing member sets it; remove of one fails */
        { "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]", "{\"a\":1,\"b\":2}" },
        { "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/nope\"}]", NULL, 422,
          "error in remove for path: '/nope': Unable to remove nonexistent key: nope: missing "
          "value" },
        { "{\"a\":{}}", "[{\"op\":\"remove\",\"path\":\"/b/c\"}]", NULL, 422,
          "remove operation does not apply: doc is missing path: \"/b/c\": missing value" },
        { "{\"a\":\"s\"}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", NULL, 422,
          "add operation does not apply: doc is missing path: \"/a/b\": missing value" },
        { "{\"a\":null}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":1}]", NULL, 422,
          "add operation does not apply: doc is missing path: \"/a/b\": missing value" },
        { "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":1}]", NULL, 422,
          "add operation does not apply: doc is missing path: \"\": missing value" },
        { "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/\",\"value\":2}]", "{\"a\":1,\"\":2}" },
        /* Go ignores the first path segment, whatever it is. */
        { "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"x/b\",\"value\":2}]", "{\"a\":1,\"b\":2}" },
        { "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\"}]", "{\"a\":1,\"b\":null}" },
        { "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"z\":0}}]", "{\"z\":0}" },
        { "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":5}]", "{\"a\":1}" },
        /* move and copy */
        { "{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]",
          "{\"a\":{\"b\":1},\"c\":{\"b\":1}}" },
        { "{\"a\":{\"b\":1}}",
          "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"},"
          "{\"op\":\"replace\",\"path\":\"/c/b\",\"value\":2}]",
          "{\"a\":{\"b\":1},\"c\":{\"b\":2}}" },
        { "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/nope\",\"path\":\"/b\"}]",
          "{\"a\":1,\"b\":null}" },
        { "{\"a\":[1,2]}", "[{\"op\":\"copy\",\"from\":\"/a/0\",\"path\":\"/a/-\"}]",
          "{\"a\":[1,2,1]}" },
        { "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/nope\",\"path\":\"/b\"}]", NULL, 422,
          "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing "
          "value" },
        { "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/c\"}]", NULL, 422,
          "move operation does not apply: doc is missing destination path: /a/c: missing "
          "value" },
        { "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}" },
        { "{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/a\"}]", NULL, 422,
          "move operation failed to decode from: operation, missing from field: missing value" },
        { "{\"a\":1}", "[{\"op\":\"copy\",\"path\":\"/a\"}]", NULL, 422,
          "copy operation failed to decode from: operation, missing from field: missing value" },
        /* test: null matches missing */
        { "{\"a\":null}",
          "[{\"op\":\"test\",\"path\":\"/b\",\"value\":null},"
          "{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]",
          "{\"a\":null}" },
        { "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\"}]", NULL, 422,
          "testing value /a failed: test failed" },
        { "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0}]", NULL, 422,
          "testing value /a failed: test failed" },
        { "{\"a\":[1,{\"b\":2}]}",
          "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"a\":[1,{\"b\":2}]}}]",
          "{\"a\":[1,{\"b\":2}]}" },
        { "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"\",\"value\":{}}]", NULL, 422,
          "testing value  failed: test failed" },
        /* malformed operations */
        { "{\"a\":1}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, 422, "Unexpected kind: frob" },
        { "{\"a\":1}", "[{\"path\":\"/a\"}]", NULL, 422, "Unexpected kind: unknown" },
        { "{\"a\":1}", "[{\"op\":5,\"path\":\"/a\"}]", NULL, 422, "Unexpected kind: unknown" },
        { "{\"a\":1}", "[null]", NULL, 422, "Unexpected kind: unknown" },
        { "{\"a\":1}", "[{\"op\":\"add\",\"value\":1}]", NULL, 422,
          "add operation failed to decode path: missing value" },
        { "{\"a\":1}", "[{\"op\":\"replace\",\"value\":1}]", NULL, 422,
          "replace operation failed to decode path: operation missing path field: missing "
          "value" },
        { "{\"a\":1}", "[{\"op\":\"test\",\"path\":7}]", NULL, 422,
          "test operation failed to decode path: json: cannot unmarshal number into Go value "
          "of type string" },
        { "{\"a\":1}", "{\"op\":\"add\"}", NULL, 400,
          "json: cannot unmarshal object into Go value of type jsonpatch.Patch" },
        { "{\"a\":1}", "[\"add\"]", NULL, 400,
          "json: cannot unmarshal string into Go value of type jsonpatch.Operation" },
        { "{\"a\":1}", "null", "{\"a\":1}" },
        { "{\"a\":1}", "[]", "{\"a\":1}" },
        /* a failing operation leaves nothing half-applied */
        { "{\"a\":1}",
          "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
          "{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]",
          NULL, 422, "testing value /a failed: test failed" },
    };
    RUN(JSONP, cases, NULL);
}

TEST(json_patch_limits)
{
    ek_test_native_only("timing-sensitive, and emulation is ~20x slower");
    ek_error_t *err = NULL;
    ek_auto(json_t) doc = J("{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}");
    ek_auto(json_t) many = json_array();
    for (int i = 0; i < 10001; i++) {
        json_array_append_new(many, J("{\"op\":\"test\",\"path\":\"/a/0\",\"value\":1}"));
    }
    ASSERT_TRUE(ek_patch_json(doc, many, &err) == NULL);
    ASSERT_EQ(err->status, 413);
    ASSERT_STREQ(ek_error_msg(err),
                 "The allowed maximum operations in a JSON patch is 10000, got 10001");
    ek_error_clear(&err);
    json_array_remove(many, 0);
    ek_auto(json_t) ok = ek_patch_json(doc, many, &err);
    ASSERT_NOT_NULL(ok);
    /* Copies that double the document are stopped before they exhaust memory. */
    ek_auto(json_t) bomb = json_array();
    json_array_append_new(bomb, J("{\"op\":\"add\",\"path\":\"/b\",\"value\":[]}"));
    for (int i = 0; i < 60; i++) {
        json_array_append_new(bomb, J("{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b/-\"}"));
        json_array_append_new(bomb, J("{\"op\":\"copy\",\"from\":\"/b\",\"path\":\"/a/-\"}"));
    }
    ASSERT_TRUE(ek_patch_json(doc, bomb, &err) == NULL);
    ASSERT_EQ(err->status, 422);
    ASSERT_CONTAINS(ek_error_msg(err), "Unable to complete the copy, the accumulated size");
    ek_error_free(err);
}

/* ---- strategic merge patch ---- */

/* The Deployment of trace 13 as the fake server stored it after `kubectl apply` of dep2.yaml
 * (annotation shortened), with server defaults added. */
#define DEP2                                                                                      \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{"         \
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"v2\"},\"labels\":{\"app\":\"web\"},"  \
    "\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"uid-web\"},\"spec\":{\"replicas\":2,"   \
    "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{\"rollingUpdate\":{"          \
    "\"maxSurge\":1,\"maxUnavailable\":\"25%\"},\"type\":\"RollingUpdate\"},\"template\":{"       \
    "\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"env\":[{\"name\":"  \
    "\"A\",\"value\":\"1\"},{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"C\",\"value\":\"3\"}],"  \
    "\"image\":\"nginx:1.25\",\"name\":\"nginx\",\"ports\":[{\"containerPort\":80}]},{\"image\":" \
    "\"busybox\",\"name\":\"sidecar\"}],\"restartPolicy\":\"Always\"}}}}"

/* The same after dep3.yaml: strategy Recreate, env C then A, nginx 1.26, no sidecar. */
#define DEP3                                                                                     \
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{"        \
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"v3\"},\"labels\":{\"app\":\"web\"}," \
    "\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"uid-web\"},\"spec\":{\"replicas\":2,"  \
    "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"strategy\":{\"type\":\"Recreate\"},"     \
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"      \
    "\"env\":[{\"name\":\"C\",\"value\":\"3\"},{\"name\":\"A\",\"value\":\"1\"}],\"image\":"     \
    "\"nginx:1.26\",\"name\":\"nginx\",\"ports\":[{\"containerPort\":80}]}],\"restartPolicy\":"  \
    "\"Always\"}}}}"

TEST(smp_kubectl_trace_bodies)
{
    /* The bodies are those of trace 13, byte for byte except the annotation's value. */
    static const pcase_t cases[] = {
        /* kubectl apply -f dep3.yaml */
        { DEP2,
          "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
          "\"v3\"}},\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":null,"
          "\"type\":\"Recreate\"},\"template\":{\"spec\":{\"$setElementOrder/containers\":[{"
          "\"name\":\"nginx\"}],\"containers\":[{\"$setElementOrder/env\":[{\"name\":\"C\"},{"
          "\"name\":\"A\"}],\"env\":[{\"$patch\":\"delete\",\"name\":\"B\"}],\"image\":"
          "\"nginx:1.26\",\"name\":\"nginx\"},{\"$patch\":\"delete\",\"name\":\"sidecar\"}]}}}}",
          DEP3 },
        /* kubectl patch deploy web -p '{"spec":{"replicas":4}}' */
        { DEP3, "{\"spec\":{\"replicas\":4}}", NULL, 0, NULL },
        /* kubectl set image deploy/web nginx=nginx:1.27 */
        { DEP3,
          "{\"spec\":{\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":"
          "\"nginx\"}],\"containers\":[{\"image\":\"nginx:1.27\",\"name\":\"nginx\"}]}}}}",
          NULL, 0, NULL },
        /* kubectl rollout restart / pause / resume */
        { DEP3,
          "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/"
          "restartedAt\":\"2026-11-25T00:02:23Z\"}}}}}",
          NULL, 0, NULL },
        { DEP3, "{\"spec\":{\"paused\":true}}", NULL, 0, NULL },
        { DEP3, "{\"spec\":{\"paused\":null}}", DEP3 },
        /* kubectl edit: only the annotation changes */
        { DEP3,
          "{\"metadata\":{\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":"
          "\"v3\"}}}",
          DEP3 },
    };
    ek_smp_schema_t s = ek_smp_schema_builtin("apps", "Deployment");
    run_case(SMP, &cases[0], &s, __LINE__);
    run_case(SMP, &cases[5], &s, __LINE__);
    run_case(SMP, &cases[6], &s, __LINE__);

    /* The others are checked by what they change. */
    ek_error_t *err = NULL;
    ek_auto(json_t) dep3 = J(DEP3);
    ek_auto(json_t) p1 = J(cases[1].patch);
    ek_auto(json_t) r1 = ek_patch_strategic(dep3, p1, &s, &err);
    ASSERT_EQ(ek_json_int(r1, 0, "spec", "replicas", NULL), 4);
    ek_auto(json_t) p2 = J(cases[2].patch);
    ek_auto(json_t) r2 = ek_patch_strategic(dep3, p2, &s, &err);
    json_t *c = json_array_get(ek_json_path(r2, "spec", "template", "spec", "containers", NULL), 0);
    ASSERT_STREQ(ek_json_str(c, "image", NULL), "nginx:1.27");
    ASSERT_EQ(json_array_size(json_object_get(c, "env")), 2);
    ASSERT_EQ(json_array_size(json_object_get(c, "ports")), 1);
    ek_auto(json_t) p3 = J(cases[3].patch);
    ek_auto(json_t) r3 = ek_patch_strategic(dep3, p3, &s, &err);
    ASSERT_STREQ(ek_json_str(r3, "spec", "template", "metadata", "annotations",
                             "kubectl.kubernetes.io/restartedAt", NULL),
                 "2026-11-25T00:02:23Z");
    ASSERT_STREQ(ek_json_str(r3, "spec", "template", "metadata", "labels", "app", NULL), "web");
    ek_auto(json_t) p4 = J(cases[4].patch);
    ek_auto(json_t) r4 = ek_patch_strategic(dep3, p4, &s, &err);
    ASSERT_TRUE(ek_json_bool(r4, 0, "spec", "paused", NULL));
    ek_auto(json_t) p5 = J(cases[5].patch);
    ek_auto(json_t) r5 = ek_patch_strategic(r4, p5, &s, &err);
    ASSERT_TRUE(json_equal(r5, dep3));
}

#define POD(containers) \
    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":" containers "}}"

TEST(smp_lists_by_merge_key)
{
    static const pcase_t cases[] = {
        /* a new element goes before the existing ones without $setElementOrder... */
        { POD("[{\"name\":\"a\",\"image\":\"x\"}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"y\"}]}}",
          POD("[{\"name\":\"b\",\"image\":\"y\"},{\"name\":\"a\",\"image\":\"x\"}]") },
        /* ...and where $setElementOrder puts it with one */
        { POD("[{\"name\":\"a\",\"image\":\"x\"}]"),
          "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"},{\"name\":\"b\"}],"
          "\"containers\":[{\"name\":\"b\",\"image\":\"y\"}]}}",
          POD("[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\",\"image\":\"y\"}]") },
        { POD("[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]"),
          "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"c\"},{\"name\":\"a\"},"
          "{\"name\":\"b\"}]}}",
          POD("[{\"name\":\"c\"},{\"name\":\"a\"},{\"name\":\"b\"}]") },
        /* existing elements merge in place and keep the fields the patch does not name */
        { POD("[{\"name\":\"a\",\"image\":\"x\",\"args\":[\"1\"]},{\"name\":\"b\"}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"z\"},{\"name\":\"a\","
          "\"image\":\"y\",\"args\":[\"2\"]}]}}",
          POD("[{\"name\":\"b\",\"image\":\"z\"},{\"name\":\"a\",\"image\":\"y\",\"args\":"
              "[\"2\"]}]") },
        /* $patch: delete on a container, with and without the element present */
        { POD("[{\"name\":\"a\"},{\"name\":\"side\"}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"side\"}]}}",
          POD("[{\"name\":\"a\"}]") },
        { POD("[{\"name\":\"a\"}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"nope\"}]}}",
          POD("[{\"name\":\"a\"}]") },
        { POD("[{\"name\":\"a\",\"i\":1},{\"name\":\"b\"},{\"name\":\"a\",\"i\":2}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"name\":\"a\"}]}}",
          POD("[{\"name\":\"b\"}]") },
        /* env var removal and order */
        { POD("[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\"}]}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"$patch\":\"delete\","
          "\"name\":\"X\"},{\"name\":\"Z\",\"value\":\"3\"}]}]}}",
          POD("[{\"name\":\"a\",\"env\":[{\"name\":\"Z\",\"value\":\"3\"},{\"name\":\"Y\"}]}]") },
        { POD("[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":\"1\"}]}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"value\":null,"
          "\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"spec.nodeName\"}}}]}]}}",
          POD("[{\"name\":\"a\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"fieldRef\":"
              "{\"fieldPath\":\"spec.nodeName\"}}}]}]") },
        /* container ports by containerPort */
        { POD("[{\"name\":\"a\",\"ports\":[{\"containerPort\":80,\"name\":\"http\"}]}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":443},"
          "{\"containerPort\":80,\"protocol\":\"TCP\"}]}]}}",
          POD("[{\"name\":\"a\",\"ports\":[{\"containerPort\":443},{\"containerPort\":80,"
              "\"name\":\"http\",\"protocol\":\"TCP\"}]}]") },
        /* $patch: replace inside a list replaces the whole list */
        { POD("[{\"name\":\"a\",\"image\":\"x\"},{\"name\":\"b\"}]"),
          "{\"spec\":{\"containers\":[{\"name\":\"c\"},{\"$patch\":\"replace\"}]}}",
          POD("[{\"name\":\"c\"}]") },
        /* a list element without its merge key */
        { POD("[{\"name\":\"a\"}]"), "{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}", NULL, 500,
          "map: map[image:x] does not contain declared merge key: name" },
        { POD("[{\"name\":\"a\"}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"delete\",\"image\":\"x\",\"n\":1.5}]}}", NULL,
          500,
          "map: map[$patch:delete image:x n:1.5] does not contain declared merge key: "
          "name" },
        { POD("[{\"name\":\"a\"}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"merge\",\"name\":\"a\"}]}}", NULL, 500,
          "merging lists cannot yet be specified in the patch" },
        { POD("[{\"name\":\"a\"}]"),
          "{\"spec\":{\"containers\":[{\"$patch\":\"frob\",\"name\":\"a\"}]}}", NULL, 500,
          "unknown patch type: frob in map: map[$patch:frob name:a]" },
        { POD("[{\"name\":\"a\"}]"),
          "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":[{"
          "\"name\":\"b\"}]}}",
          NULL, 500,
          "The order in patch list:\n[map[name:b]]\n doesn't match $setElementOrder list:\n"
          "[map[name:a]]\n" },
        { POD("[{\"name\":\"a\"}]"), "{\"spec\":{\"$setElementOrder/containers\":5}}", NULL, 500,
          "expected a []interface {}, but received a int64" },
        { POD("[{\"name\":\"a\"}]"), "{\"spec\":{\"$setElementOrderX\":[]}}", NULL, 400,
          "invalid patch format of setElementOrder list" },
        { POD("[{\"name\":\"a\"}]"), "{\"spec\":{\"containers\":[{\"name\":\"a\"},5]}}", NULL, 500,
          "list element types are not identical: [[map[name:a]] [map[name:a] 5]]" },
        /* an original element without the merge key (found by fuzzing: a double free) */
        { "{\"spec\":{\"volumes\":[{\"x\":\"v\",\"emptyDir\":{}}]}}",
          "{\"spec\":{\"volumes\":[{\"name\":\"v\"}]}}", NULL, 500,
          "map: map[emptyDir:map[] x:v] does not contain declared merge key: name" },
        { "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
          "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":"
          "[{\"name\":\"a\"},7]}}",
          NULL, 500, "expected a map[string]interface {}, but received a int64" },
        /* a list that was missing is taken from the patch, minus elements with $patch */
        { "{\"spec\":{}}",
          "{\"spec\":{\"containers\":[{\"name\":\"a\",\"x\":null},{\"$patch\":\"delete\","
          "\"name\":\"b\"}]}}",
          "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}" },
        { "{\"spec\":{}}",
          "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"b\"},{\"name\":\"a\"}],"
          "\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"},{\"$patch\":\"delete\",\"name\":"
          "\"c\"}]}}",
          "{\"spec\":{\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}" },
    };
    ek_smp_schema_t s = ek_smp_schema_builtin("", "Pod");
    RUN(SMP, cases, &s);
}

TEST(smp_primitive_lists_and_finalizers)
{
    static const pcase_t cases[] = {
        /* finalizers (patchStrategy merge, no key) are unioned; new ones go first */
        { "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
          "{\"metadata\":{\"finalizers\":[\"c\"]}}",
          "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
          "{\"metadata\":{\"$setElementOrder/finalizers\":[\"a\",\"b\",\"c\"],\"finalizers\":"
          "[\"c\"]}}",
          "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}",
          "{\"metadata\":{\"finalizers\":[\"b\",\"a\",\"b\"]}}",
          "{\"metadata\":{\"finalizers\":[\"b\",\"a\"]}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\",\"b\"]}}",
          "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
          "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
          "{\"metadata\":{\"$setElementOrder/finalizers\":[\"c\",\"a\",\"d\"],"
          "\"$deleteFromPrimitiveList/finalizers\":[\"b\"],\"finalizers\":[\"d\"]}}",
          "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"d\"]}}" },
        { "{\"metadata\":{}}", "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
          "{\"metadata\":{}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}",
          "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":null}}", "{\"metadata\":{}}" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}",
          "{\"metadata\":{\"$deleteFromPrimitiveListX\":[\"a\"]}}", NULL, 400,
          "invalid patch format of primitive list" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":null}}",
          "{\"metadata\":{}}" },
        /* lists without a strategy (tolerations, args, envFrom) are replaced */
        { "{\"spec\":{\"tolerations\":[{\"key\":\"a\"}],\"containers\":[{\"name\":\"c\","
          "\"args\":[\"x\",\"y\"]}]}}",
          "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\","
          "\"args\":[\"z\"]}]}}",
          "{\"spec\":{\"tolerations\":[{\"key\":\"b\"}],\"containers\":[{\"name\":\"c\","
          "\"args\":[\"z\"]}]}}" },
        /* lists of lists */
        { "{\"metadata\":{\"finalizers\":[]}}", "{\"metadata\":{\"finalizers\":[[\"b\"]]}}", NULL,
          422, "lists of lists are not supported" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[1]}}", NULL,
          500, "list element types are not identical: [[a] [1]]" },
        { "{\"metadata\":{\"finalizers\":[\"a\"]}}", "{\"metadata\":{\"finalizers\":[]}}",
          "{\"metadata\":{\"finalizers\":[\"a\"]}}" },
        { "{\"metadata\":{\"finalizers\":[]}}", "{\"metadata\":{\"finalizers\":[]}}",
          "{\"metadata\":{\"finalizers\":[]}}" },
        { "{\"metadata\":{\"finalizers\":[{\"a\":1}]}}", "{\"metadata\":{\"finalizers\":[{}]}}",
          NULL, 500, "cannot merge lists without merge key for finalizers" },
        /* ownerReferences by uid, on any kind */
        { "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"}]}}",
          "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"controller\":true}]}}",
          "{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\",\"controller\":"
          "true}]}}" },
    };
    ek_smp_schema_t s = ek_smp_schema_builtin("", "Pod");
    RUN(SMP, cases, &s);
    ek_smp_schema_t cm = ek_smp_schema_builtin("", "ConfigMap");
    run_case(SMP, &cases[EK_ARRAY_SIZE(cases) - 1], &cm, __LINE__);
    run_case(SMP, &cases[0], &cm, __LINE__);
}

TEST(smp_maps_and_directives)
{
    static const pcase_t cases[] = {
        /* $retainKeys on strategy, both ways */
        { "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}",
          "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"rollingUpdate\",\"type\"],"
          "\"rollingUpdate\":{\"maxSurge\":1},\"type\":\"RollingUpdate\"}}}",
          "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":1},\"type\":"
          "\"RollingUpdate\"}}}" },
        { "{\"spec\":{\"strategy\":{\"rollingUpdate\":{\"maxSurge\":1},\"type\":"
          "\"RollingUpdate\"}}}",
          "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}}",
          "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}" },
        { "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}",
          "{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":{}}}}", NULL, 400,
          "invalid patch format of retainKeys" },
        { "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"}}}",
          "{\"spec\":{\"strategy\":{\"$retainKeys\":\"type\"}}}", NULL, 400,
          "invalid patch format of retainKeys" },
        /* $patch on maps */
        { "{\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"1\"},\"matchExpressions\":[]}}}",
          "{\"spec\":{\"selector\":{\"$patch\":\"replace\",\"matchLabels\":{\"b\":\"2\"}}}}",
          "{\"spec\":{\"selector\":{\"matchLabels\":{\"b\":\"2\"}}}}" },
        { "{\"spec\":{\"strategy\":{\"type\":\"Recreate\"},\"replicas\":1}}",
          "{\"spec\":{\"strategy\":{\"$patch\":\"delete\"}}}",
          "{\"spec\":{\"strategy\":{},\"replicas\":1}}" },
        { "{\"a\":1,\"b\":{\"c\":2}}", "{\"$patch\":\"replace\",\"x\":{\"y\":null}}",
          "{\"x\":{\"y\":null}}" },
        { "{\"a\":1}", "{\"$patch\":\"delete\"}", "{}" },
        { "{\"a\":1}", "{\"$patch\":\"merge\",\"a\":2}", NULL, 500,
          "unknown patch type: merge in map: map[$patch:merge a:2]" },
        { "{\"a\":1}", "{\"$patch\":7}", NULL, 500,
          "unknown patch type: %!s(int64=7) in map: map[$patch:7]" },
        /* nulls delete; unmatched nulls do nothing; inserted maps lose their nulls */
        { "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
          "{\"metadata\":{\"labels\":{\"a\":null,\"c\":null}}}",
          "{\"metadata\":{\"labels\":{\"b\":\"2\"}}}" },
        { "{\"spec\":{}}", "{\"spec\":{\"x\":{\"a\":null,\"b\":1,\"c\":[{\"d\":null}]}}}",
          "{\"spec\":{\"x\":{\"b\":1,\"c\":[{}]}}}" },
        { "{\"spec\":{\"x\":\"s\"}}", "{\"spec\":{\"x\":{\"a\":null,\"b\":1}}}",
          "{\"spec\":{\"x\":{\"b\":1}}}" },
        /* values of another type replace; scalars replace */
        { "{\"spec\":{\"replicas\":2}}", "{\"spec\":{\"replicas\":\"3\"}}",
          "{\"spec\":{\"replicas\":\"3\"}}" },
        { "{\"spec\":{\"paused\":false}}", "{\"spec\":{\"paused\":true}}",
          "{\"spec\":{\"paused\":true}}" },
        { "{\"spec\":{\"a\":[1]}}", "{\"spec\":{\"a\":{\"b\":1}}}",
          "{\"spec\":{\"a\":{\"b\":1}}}" },
        { "{\"spec\":{\"a\":{\"b\":1}}}", "{\"spec\":{\"a\":[1]}}", "{\"spec\":{\"a\":[1]}}" },
        /* directive keys that would survive in inserted values are dropped */
        { "{\"spec\":{}}",
          "{\"spec\":{\"m\":{\"$setElementOrder/x\":[1],\"$retainKeys\":[\"x\"],\"x\":[1]}}}",
          "{\"spec\":{\"m\":{\"x\":[1]}}}" },
        { "{\"spec\":{\"t\":[{\"k\":\"a\"}]}}",
          "{\"spec\":{\"t\":[{\"k\":\"b\",\"$patch\":\"delete\"}]}}",
          "{\"spec\":{\"t\":[{\"k\":\"b\"}]}}" },
        { "{\"spec\":{}}", "{\"spec\":{\"m\":{\"$patch\":\"delete\",\"a\":1}}}", "{\"spec\":{}}" },
        /* patch documents */
        { "{\"a\":1}", "null", "{\"a\":1}" },
        { "{\"a\":1}", "{}", "{\"a\":1}" },
        { "{\"a\":1}", "[1]", NULL, 400,
          "json: cannot unmarshal array into Go value of type map[string]interface {}" },
        { "[1]", "{}", NULL, 400, "invalid JSON document" },
    };
    ek_smp_schema_t s = ek_smp_schema_builtin("apps", "Deployment");
    RUN(SMP, cases, &s);
}

TEST(smp_builtin_schemas)
{
    static const struct {
        const char *group, *kind;
        pcase_t c;
    } cases[] = {
        /* volumes by name with $retainKeys on the volume source */
        { "",
          "Pod",
          { "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}},{\"name\":\"w\"}]}}",
            "{\"spec\":{\"volumes\":[{\"$retainKeys\":[\"name\",\"secret\"],\"name\":\"v\","
            "\"secret\":{\"secretName\":\"s\"}}]}}",
            "{\"spec\":{\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"s\"}},"
            "{\"name\":\"w\"}]}}" } },
        { "",
          "Pod",
          { "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"},{\"type\":"
            "\"Initialized\",\"status\":\"True\"}]}}",
            "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
            "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":"
            "\"Initialized\",\"status\":\"True\"}]}}" } },
        { "",
          "Pod",
          { "{\"spec\":{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"mountPath\":\"/x\","
            "\"name\":\"v\"}]}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"mountPath\":\"/x\","
            "\"readOnly\":true}]}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"a\",\"volumeMounts\":[{\"mountPath\":\"/x\","
            "\"name\":\"v\",\"readOnly\":true}]}]}}" } },
        { "",
          "Pod",
          { "{\"spec\":{\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"a\"]}],"
            "\"imagePullSecrets\":[{\"name\":\"r\"}]}}",
            "{\"spec\":{\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"b\"]}],"
            "\"imagePullSecrets\":[{\"name\":\"s\"}]}}",
            "{\"spec\":{\"hostAliases\":[{\"ip\":\"1.2.3.4\",\"hostnames\":[\"b\"]}],"
            "\"imagePullSecrets\":[{\"name\":\"s\"},{\"name\":\"r\"}]}}" } },
        { "",
          "Pod",
          { "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"E\"}]}],"
            "\"topologySpreadConstraints\":[{\"topologyKey\":\"zone\",\"maxSkew\":1}]}}",
            "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"F\"}]}],"
            "\"topologySpreadConstraints\":[{\"topologyKey\":\"zone\",\"maxSkew\":2}]}}",
            "{\"spec\":{\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"F\"},{\"name\":"
            "\"E\"}]}],\"topologySpreadConstraints\":[{\"topologyKey\":\"zone\",\"maxSkew\":2}]}"
            "}" } },
        /* envFrom has no strategy: replaced */
        { "",
          "Pod",
          { "{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"prefix\":\"x\"}]}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"prefix\":\"y\"}]}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"prefix\":\"y\"}]}]}}" } },
        { "",
          "Service",
          { "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080},{\"port\":443}]}}",
            "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090}]}}",
            "{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":9090},{\"port\":443}]}}" } },
        { "",
          "Node",
          { "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.1\"},"
            "{\"type\":\"Hostname\",\"address\":\"n1\"}],\"conditions\":[{\"type\":\"Ready\","
            "\"status\":\"False\"}]}}",
            "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.2\"}],"
            "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
            "{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.0.0.2\"},"
            "{\"type\":\"Hostname\",\"address\":\"n1\"}],\"conditions\":[{\"type\":\"Ready\","
            "\"status\":\"True\"}]}}" } },
        { "",
          "Node",
          { "{\"spec\":{\"podCIDRs\":[\"10.42.0.0/24\"]}}",
            "{\"spec\":{\"podCIDRs\":[\"fd00::/64\"]}}",
            "{\"spec\":{\"podCIDRs\":[\"fd00::/64\",\"10.42.0.0/24\"]}}" } },
        { "batch",
          "CronJob",
          { "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{"
            "\"name\":\"a\",\"image\":\"x\"}]}}}}}}",
            "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{"
            "\"name\":\"a\",\"image\":\"y\"}]}}}}}}",
            "{\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[{"
            "\"name\":\"a\",\"image\":\"y\"}]}}}}}}" } },
        { "batch",
          "Job",
          { "{\"spec\":{\"template\":{\"metadata\":{\"finalizers\":[\"a\"]},\"spec\":{"
            "\"containers\":[{\"name\":\"a\"}]}}}}",
            "{\"spec\":{\"template\":{\"metadata\":{\"finalizers\":[\"b\"]},\"spec\":{"
            "\"containers\":[{\"name\":\"b\"}]}}}}",
            "{\"spec\":{\"template\":{\"metadata\":{\"finalizers\":[\"b\",\"a\"]},\"spec\":{"
            "\"containers\":[{\"name\":\"b\"},{\"name\":\"a\"}]}}}}" } },
        { "apps",
          "StatefulSet",
          { "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"}]}},"
            "\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"d\"}}]}}",
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\"}]"
            "}},\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"e\"}}]}}",
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\"}]"
            "}},\"volumeClaimTemplates\":[{\"metadata\":{\"name\":\"e\"}}]}}" } },
        { "apps",
          "DaemonSet",
          { "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}}}",
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}}}",
            "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"b\"},{\"name\":"
            "\"a\"}]}}}}" } },
        { "apps",
          "ReplicaSet",
          { "{\"status\":{\"conditions\":[{\"type\":\"A\"}]}}",
            "{\"status\":{\"conditions\":[{\"type\":\"B\"}]}}",
            "{\"status\":{\"conditions\":[{\"type\":\"B\"},{\"type\":\"A\"}]}}" } },
        /* Deployment containers are not at spec.containers: that list is just replaced */
        { "apps",
          "Deployment",
          { "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}",
            "{\"spec\":{\"containers\":[{\"name\":\"b\"}]}}" } },
        /* no schema: every list is replaced, maps still merge */
        { NULL,
          NULL,
          { "{\"spec\":{\"containers\":[{\"name\":\"a\"}],\"m\":{\"x\":1}}}",
            "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"m\":{\"y\":2}}}",
            "{\"spec\":{\"containers\":[{\"name\":\"b\"}],\"m\":{\"x\":1,\"y\":2}}}" } },
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_smp_schema_t s = ek_smp_schema_builtin(cases[i].group, cases[i].kind);
        run_case(SMP, &cases[i].c, cases[i].kind ? &s : NULL, __LINE__ * 1000 + (int)i);
    }
}

static bool replace_labels(const char *const *path, size_t depth, ek_smp_field_t *out, void *data)
{
    EK_UNUSED(data);
    if (depth == 2 && strcmp(path[0], "metadata") == 0 && strcmp(path[1], "labels") == 0) {
        *out = (ek_smp_field_t){ NULL, false, true, false };
        return true;
    }
    return false;
}

TEST(smp_custom_schema)
{
    /* patchStrategy replace on a map replaces it whole. */
    static const pcase_t c = { "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"annotations\":{\"b\":"
                               "\"2\"}}}",
                               "{\"metadata\":{\"labels\":{\"c\":\"3\"},\"annotations\":{\"d\":"
                               "\"4\"}}}",
                               "{\"metadata\":{\"labels\":{\"c\":\"3\"},\"annotations\":{\"b\":"
                               "\"2\",\"d\":\"4\"}}}" };
    ek_smp_schema_t s = { replace_labels, NULL };
    run_case(SMP, &c, &s, __LINE__);
}
