/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded schema: it loads, references resolve, and checking reports like Kubernetes. */
#include "api/api.h"
#include "tests/unit/test.h"

struct issues {
    ek_buf_t text;
};

static void collect(ek_schema_issue_kind_t kind, const char *path, const char *detail, void *data)
{
    static const char *const names[] = { "unknown", "type", "enum", "required" };
    struct issues *is = data;
    ek_buf_printf(&is->text, "%s %s%s%s\n", names[kind], path, detail ? ": " : "",
                  detail ? detail : "");
}

TEST(schema_loads_and_resolves)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
    const ek_schema_type_t *om = ek_schema_type("ObjectMeta");
    ASSERT_NOT_NULL(om);
    const ek_schema_field_t *owners = ek_schema_field(om, "ownerReferences");
    ASSERT_NOT_NULL(owners);
    ASSERT_STREQ(owners->merge_key, "uid");
    ASSERT_EQ(owners->ty->kind, EK_ST_ARRAY);
    ASSERT_EQ(owners->ty->elem->kind, EK_ST_REF);
    ASSERT_TRUE(owners->ty->elem->ref == ek_schema_type("OwnerReference"));
    char name[128];
    ASSERT_STREQ(ek_schema_openapi_name(om, name, sizeof(name)),
                 "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    const ek_schema_type_t *all;
    size_t n = ek_schema_types(&all);
    for (size_t i = 1; i < n; i++) {
        ASSERT_CMP(strcmp(all[i - 1].id, all[i].id), <, 0);
    }
}

TEST(schema_check_reports_like_kubernetes)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
    const char *doc = "{\"name\":\"x\",\"bogus\":1,\"labels\":{\"a\":\"b\"},\"generation\":\"7\","
                      "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"K\",\"name\":\"n\","
                      "\"extra\":true}],\"finalizers\":\"notalist\"}";
    ek_auto(json_t) obj = ek_json_parse(doc, strlen(doc), &err);
    ASSERT_NOT_NULL(obj);
    struct issues is = { EK_BUF_INIT };
    int n = ek_schema_check(ek_schema_type("ObjectMeta"), obj, collect, &is);
    ASSERT_EQ(n, 5);
    ASSERT_CONTAINS(is.text.data, "unknown bogus\n");
    ASSERT_CONTAINS(is.text.data, "type generation: cannot unmarshal string into Go struct "
                                  "field ObjectMeta.generation of type int64\n");
    ASSERT_CONTAINS(is.text.data, "unknown ownerReferences[0].extra\n");
    ASSERT_CONTAINS(is.text.data, "required ownerReferences[0].uid\n");
    ASSERT_CONTAINS(is.text.data, "type finalizers: cannot unmarshal string into Go struct "
                                  "field ObjectMeta.finalizers of type []string\n");
    ek_buf_free(&is.text);

    const char *sel = "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Maybe\"}]}";
    ek_auto(json_t) s = ek_json_parse(sel, strlen(sel), &err);
    struct issues is2 = { EK_BUF_INIT };
    ASSERT_EQ(ek_schema_check(ek_schema_type("LabelSelector"), s, collect, &is2), 1);
    ASSERT_STREQ(is2.text.data, "enum matchExpressions[0].operator: supported values: \"In\", "
                                "\"NotIn\", \"Exists\", \"DoesNotExist\"\n");
    ek_buf_free(&is2.text);
}

TEST(schema_enums_accept_empty_and_check_list_elements)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
    const char *doc = "{\"accessModes\":[\"ReadWriteOnce\",\"ReadSometimes\"],"
                      "\"volumeMode\":\"\"}";
    ek_auto(json_t) obj = ek_json_parse(doc, strlen(doc), &err);
    struct issues is = { EK_BUF_INIT };
    ASSERT_EQ(ek_schema_check(ek_schema_type("PersistentVolumeClaimSpec"), obj, collect, &is), 1);
    ASSERT_CONTAINS(is.text.data, "enum accessModes[1]: supported values:");
    ek_buf_free(&is.text);
}

TEST(schema_check_drop_removes_exactly_the_unknown_fields)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
    /* Names that read like paths must not take known fields with them. */
    const char *doc = "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a.b/c\":\"d\"}},"
                      "\"metadata.name\":1,\"spec[0]\":2,\"spec\":{\"containers\":[{\"name\":"
                      "\"c\",\"image\":\"i\",\"extra\":{\"deep\":1}}],\"bogus.x\":3}}";
    ek_auto(json_t) obj = ek_json_parse(doc, strlen(doc), &err);
    ASSERT_NOT_NULL(obj);
    struct issues is = { EK_BUF_INIT };
    ASSERT_EQ(ek_schema_check_drop(ek_schema_type("Pod"), obj, collect, &is), 4);
    ASSERT_CONTAINS(is.text.data, "unknown metadata.name\n");
    ASSERT_CONTAINS(is.text.data, "unknown spec[0]\n");
    ASSERT_CONTAINS(is.text.data, "unknown spec.containers[0].extra\n");
    ASSERT_CONTAINS(is.text.data, "unknown spec.bogus.x\n");
    ek_buf_free(&is.text);
    ek_autofree char *got = ek_json_dumps(obj);
    ASSERT_STREQ(got, "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a.b/c\":\"d\"}},\"spec\":"
                      "{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}");
    struct issues again = { EK_BUF_INIT };
    ASSERT_EQ(ek_schema_check(ek_schema_type("Pod"), obj, collect, &again), 0);
    ek_buf_free(&again.text);
}
