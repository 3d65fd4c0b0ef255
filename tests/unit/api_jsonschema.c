/* SPDX-License-Identifier: Apache-2.0 */
/* Structural schemas of custom resources: pruning, defaulting, validation wording. */
#include "api/api.h"
#include "tests/unit/test.h"

static json_t *J(const char *s)
{
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad JSON in test: %s", ek_error_msg(err));
    }
    return v;
}

static const char *SCHEMA =
    "{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"required\":[\"size\"],"
    "\"properties\":{\"size\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"],\"default\":\"a\"},"
    "\"name\":{\"type\":\"string\",\"pattern\":\"^\\\\d{3}-\\\\w+$\",\"maxLength\":8},"
    "\"ports\":{\"type\":\"array\",\"maxItems\":2,\"items\":{\"type\":\"object\","
    "\"properties\":{\"port\":{\"x-kubernetes-int-or-string\":true}}}},"
    "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}},"
    "\"free\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true},"
    "\"opt\":{\"type\":\"string\",\"nullable\":true}}},"
    "\"status\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}";

TEST(jsonschema_prune_keeps_known_and_preserved)
{
    ek_auto(json_t) s = J(SCHEMA);
    ek_auto(json_t) o = J("{\"apiVersion\":\"x/v1\",\"kind\":\"K\",\"metadata\":{\"name\":\"n\"},"
                          "\"spec\":{\"size\":2,\"bogus\":1,\"ports\":[{\"port\":80,\"x\":1}],"
                          "\"labels\":{\"a\":\"b\"},\"free\":{\"anything\":[1]}},\"extra\":true}");
    ek_auto(json_t) pruned = json_array();
    ek_jsonschema_prune(s, o, pruned);
    ek_autofree char *p = ek_json_dumps(pruned);
    ASSERT_STREQ(p, "[\"spec.bogus\",\"spec.ports[0].x\",\"extra\"]");
    ASSERT_NOT_NULL(ek_json_path(o, "spec", "free", "anything", NULL));
    ASSERT_NOT_NULL(ek_json_path(o, "metadata", "name", NULL));
    ASSERT_STREQ(ek_json_str(o, "spec", "labels", "a", NULL), "b");
}

TEST(jsonschema_defaults_and_nulls)
{
    ek_auto(json_t) s = J(SCHEMA);
    ek_auto(json_t) o = J("{\"spec\":{\"size\":2,\"mode\":null,\"opt\":null,\"name\":null}}");
    ek_jsonschema_default(s, o);
    ASSERT_STREQ(ek_json_str(o, "spec", "mode", NULL), "a");
    ASSERT_TRUE(json_is_null(ek_json_path(o, "spec", "opt", NULL)));
    ASSERT_TRUE(ek_json_path(o, "spec", "name", NULL) == NULL);
}

static char *errors_text(ek_field_errors_t *e)
{
    ek_buf_t b = EK_BUF_INIT;
    for (size_t i = 0; i < e->n; i++) {
        ek_buf_printf(&b, "%s: %s\n", e->v[i].field, e->v[i].message);
    }
    return ek_buf_steal(&b, NULL);
}

TEST(jsonschema_validation_wording)
{
    ek_auto(json_t) s = J(SCHEMA);
    ek_auto(json_t) o = J("{\"spec\":{\"size\":\"big\",\"mode\":\"c\",\"name\":\"12-abcdefgh\","
                          "\"ports\":[{\"port\":true},{},{}]}}");
    ek_field_errors_t e = { 0 };
    ek_jsonschema_validate(s, o, &e);
    ek_autofree char *t = errors_text(&e);
    ASSERT_CONTAINS(t, "spec.size: Invalid value: \"string\": spec.size in body must be of type "
                       "integer: \"string\"\n");
    ASSERT_CONTAINS(t, "spec.mode: Unsupported value: \"c\": supported values: \"a\", \"b\"\n");
    ASSERT_CONTAINS(t, "spec.name: Invalid value: \"12-abcdefgh\": spec.name in body should "
                       "match '^\\d{3}-\\w+$'\n");
    ASSERT_CONTAINS(t, "spec.name: Too long: may not be more than 8 bytes\n");
    ASSERT_CONTAINS(t, "spec.ports: Too many: ");
    ASSERT_CONTAINS(t, "spec.ports[0].port: Invalid value: \"boolean\": spec.ports[0].port in "
                       "body must be of type integer,string: \"boolean\"\n");
    ek_field_errors_free(&e);
    ek_auto(json_t) ok =
        J("{\"spec\":{\"size\":5,\"name\":\"123-ab\",\"ports\":[{\"port\":\"http\"}]}}");
    ek_field_errors_t e2 = { 0 };
    ASSERT_EQ(ek_jsonschema_validate(s, ok, &e2), 0);
    ek_auto(json_t) missing = J("{\"spec\":{\"size\":0}}");
    ASSERT_EQ(ek_jsonschema_validate(s, missing, &e2), 1);
    ASSERT_CONTAINS(e2.v[0].message, "should be greater than or equal to 1");
    ek_field_errors_free(&e2);
    ek_auto(json_t) nospec = J("{\"spec\":{}}");
    ek_field_errors_t e3 = { 0 };
    ASSERT_EQ(ek_jsonschema_validate(s, nospec, &e3), 1);
    ASSERT_STREQ(e3.v[0].field, "spec.size");
    ASSERT_STREQ(e3.v[0].message, "Required value");
    ek_field_errors_free(&e3);
}

TEST(jsonschema_combinators_and_structural)
{
    ek_auto(json_t) s = J("{\"type\":\"object\",\"properties\":{\"v\":{\"type\":\"integer\","
                          "\"oneOf\":[{\"minimum\":10},{\"maximum\":0}]}}}");
    ek_auto(json_t) bad = J("{\"v\":5}");
    ek_field_errors_t e = { 0 };
    ASSERT_EQ(ek_jsonschema_validate(s, bad, &e), 1);
    ASSERT_CONTAINS(e.v[0].message, "must validate one and only one schema (oneOf)");
    ek_field_errors_free(&e);
    char msg[256];
    ek_auto(json_t) ns = J("{\"type\":\"object\",\"properties\":{\"spec\":{\"properties\":{}}}}");
    ASSERT_EQ(ek_jsonschema_check_structural(ns, msg, sizeof(msg)), -1);
    ASSERT_CONTAINS(msg, "openAPIV3Schema.properties[spec].type: Required value");
    ASSERT_EQ(ek_jsonschema_check_structural(s, msg, sizeof(msg)), 0);
}
