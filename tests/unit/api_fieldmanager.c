/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side apply (api/fieldset.c, api/fieldmanager.c): FieldsV1 as kube-apiserver 1.32
 * writes it for a Deployment created by kubectl (client-side and server-side apply), the apply
 * merge of list-maps, removal of fields a manager stopped applying, conflicts and force,
 * ownership moving with Update writes, and kubectl's migration from client-side apply. The
 * expected FieldsV1 documents are the ones a real cluster shows for the same manifests.
 */
#include "api/api.h"
#include "tests/unit/test.h"

static json_t *J(const char *s)
{
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON %s: %s", s, ek_error_msg(err));
    }
    return v;
}

static ek_ssa_schema_t deploy_schema(void)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
    ek_ssa_schema_t sc = { ek_schema_type("Deployment"), NULL };
    ASSERT_NOT_NULL(sc.type);
    return sc;
}

static ek_ssa_op_t op(const char *manager, const char *now)
{
    return (ek_ssa_op_t){ manager, "apps/v1", "", now, EK_SSA_TRACK_NO_STATUS, false };
}

/* The managedFields entry of manager (Apply or Update), borrowed from obj. */
static const json_t *entry(const json_t *obj, const char *manager, const char *operation)
{
    size_t i;
    json_t *e;
    json_array_foreach (ek_json_path(obj, "metadata", "managedFields", NULL), i, e) {
        if (!strcmp(ek_json_str(e, "manager", NULL), manager) &&
            !strcmp(ek_json_str(e, "operation", NULL), operation)) {
            return e;
        }
    }
    return NULL;
}

static char *fields_of(const json_t *obj, const char *manager, const char *operation)
{
    const json_t *e = entry(obj, manager, operation);
    return e ? ek_json_dumps(json_object_get(e, "fieldsV1")) : NULL;
}

/* kubectl apply's create body after kube-apiserver's defaulting. */
static const char *csa_deployment =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"annotations\":{"
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"apps/v1\\\","
    "\\\"kind\\\":\\\"Deployment\\\",\\\"metadata\\\":{\\\"annotations\\\":{},\\\"labels\\\":{"
    "\\\"app\\\":\\\"web\\\"},\\\"name\\\":\\\"web\\\",\\\"namespace\\\":\\\"default\\\"},"
    "\\\"spec\\\":{\\\"replicas\\\":2,\\\"selector\\\":{\\\"matchLabels\\\":{\\\"app\\\":"
    "\\\"web\\\"}},\\\"template\\\":{\\\"metadata\\\":{\\\"labels\\\":{\\\"app\\\":\\\"web\\\"}},"
    "\\\"spec\\\":{\\\"containers\\\":[{\\\"env\\\":[{\\\"name\\\":\\\"A\\\",\\\"value\\\":"
    "\\\"1\\\"}],\\\"image\\\":\\\"nginx:1.25\\\",\\\"name\\\":\\\"nginx\\\",\\\"ports\\\":[{"
    "\\\"containerPort\\\":80}]}]}}}}\\n\"},\"labels\":{\"app\":\"web\"},\"name\":\"web\","
    "\"namespace\":\"default\",\"uid\":\"u1\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\","
    "\"generation\":1},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{"
    "\"env\":[{\"name\":\"A\",\"value\":\"1\"}],\"image\":\"nginx:1.25\",\"name\":\"nginx\","
    "\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}],\"resources\":{},"
    "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
    "\"imagePullPolicy\":\"IfNotPresent\"}],\"restartPolicy\":\"Always\","
    "\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":\"ClusterFirst\",\"securityContext\":{},"
    "\"schedulerName\":\"default-scheduler\"}},\"strategy\":{\"type\":\"RollingUpdate\","
    "\"rollingUpdate\":{\"maxUnavailable\":\"25%\",\"maxSurge\":\"25%\"}},"
    "\"revisionHistoryLimit\":10,\"progressDeadlineSeconds\":600}}";

TEST(fm_update_create_deployment_fieldsv1)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_auto(json_t) obj = J(csa_deployment);
    ek_ssa_op_t o = op("kubectl-client-side-apply", "2026-01-01T00:00:00Z");
    ek_ssa_update(&sc, NULL, obj, &o);
    const json_t *e = entry(obj, "kubectl-client-side-apply", "Update");
    ASSERT_NOT_NULL(e);
    ASSERT_STREQ(ek_json_str(e, "apiVersion", NULL), "apps/v1");
    ASSERT_STREQ(ek_json_str(e, "time", NULL), "2026-01-01T00:00:00Z");
    ASSERT_STREQ(ek_json_str(e, "fieldsType", NULL), "FieldsV1");
    ASSERT_TRUE(json_object_get(e, "subresource") == NULL);
    ek_autofree char *got = ek_json_dumps(json_object_get(e, "fieldsV1"));
    ASSERT_STREQ(
        got,
        "{\"f:metadata\":{\"f:annotations\":{\".\":{},"
        "\"f:kubectl.kubernetes.io/last-applied-configuration\":{}},"
        "\"f:labels\":{\".\":{},\"f:app\":{}}},"
        "\"f:spec\":{\"f:progressDeadlineSeconds\":{},\"f:replicas\":{},"
        "\"f:revisionHistoryLimit\":{},\"f:selector\":{},"
        "\"f:strategy\":{\"f:rollingUpdate\":{\".\":{},\"f:maxSurge\":{},\"f:maxUnavailable\":{}},"
        "\"f:type\":{}},"
        "\"f:template\":{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},"
        "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"nginx\\\"}\":{\".\":{},"
        "\"f:env\":{\".\":{},\"k:{\\\"name\\\":\\\"A\\\"}\":{\".\":{},\"f:name\":{},"
        "\"f:value\":{}}},"
        "\"f:image\":{},\"f:imagePullPolicy\":{},\"f:name\":{},"
        "\"f:ports\":{\".\":{},\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{"
        "\".\":{},\"f:containerPort\":{},\"f:protocol\":{}}},"
        "\"f:resources\":{},\"f:terminationMessagePath\":{},\"f:terminationMessagePolicy\":{}}},"
        "\"f:dnsPolicy\":{},\"f:restartPolicy\":{},\"f:schedulerName\":{},"
        "\"f:securityContext\":{},\"f:terminationGracePeriodSeconds\":{}}}}}");
}

static const char *ssa_config =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"labels\":{\"app\":"
    "\"web\"},\"name\":\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":2,"
    "\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":{"
    "\"app\":\"web\"}},\"spec\":{\"containers\":[{\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
    "\"image\":\"nginx:1.25\",\"name\":\"nginx\",\"ports\":[{\"containerPort\":80}]}]}}}}";

TEST(fm_apply_create_fieldsv1)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_auto(json_t) cfg = J(ssa_config);
    ek_ssa_op_t o = op("kubectl", "2026-01-01T00:00:00Z");
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = ek_ssa_apply(&sc, NULL, cfg, &o, NULL, &err);
    ASSERT_OK(obj ? 0 : -1, &err);
    ek_autofree char *got = fields_of(obj, "kubectl", "Apply");
    /* The config's own fields only; the port key carries protocol's default. */
    ASSERT_STREQ(got, "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
                      "\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},"
                      "\"f:template\":{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},"
                      "\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"nginx\\\"}\":{\".\":{},"
                      "\"f:env\":{\"k:{\\\"name\\\":\\\"A\\\"}\":{\".\":{},\"f:name\":{},"
                      "\"f:value\":{}}},\"f:image\":{},\"f:name\":{},"
                      "\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{"
                      "\".\":{},\"f:containerPort\":{}}}}}}}}}");
    ASSERT_EQ(json_array_size(ek_json_path(obj, "metadata", "managedFields", NULL)), 1);
    ASSERT_EQ(ek_json_int(obj, 0, "spec", "replicas", NULL), 2);
}

TEST(fm_fieldsv1_roundtrip_and_paths)
{
    const char *doc = "{\"f:a\":{\".\":{},\"f:b\":{}},\"f:l\":{\"k:{\\\"n\\\":10}\":{},"
                      "\"k:{\\\"n\\\":9}\":{}},\"f:s\":{\"v:\\\"x\\\"\":{}},\"f:z\":{}}";
    ek_auto(json_t) j = J(doc);
    ek_error_t *err = NULL;
    ek_auto(ek_fieldset_t) s = ek_fieldset_decode(j, &err);
    ASSERT_NOT_NULL(s);
    ek_auto(json_t) back = ek_fieldset_encode(s);
    ek_autofree char *txt = ek_json_dumps(back);
    /* Keys compare as values: 9 sorts before 10. */
    ASSERT_STREQ(txt, "{\"f:a\":{\".\":{},\"f:b\":{}},\"f:l\":{\"k:{\\\"n\\\":9}\":{},"
                      "\"k:{\\\"n\\\":10}\":{}},\"f:s\":{\"v:\\\"x\\\"\":{}},\"f:z\":{}}");
    ek_auto(json_t) bad = J("{\"x:y\":{}}");
    ASSERT_TRUE(ek_fieldset_decode(bad, &err) == NULL);
    ASSERT_EQ(err->status, 400);
    ek_error_free(err);
}

TEST(fm_apply_merges_list_maps_and_prunes)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_error_t *err = NULL;
    ek_ssa_op_t o = op("mgr", "2026-01-01T00:00:00Z");
    ek_auto(json_t) c1 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
                           "\"name\":\"w\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{"
                           "\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":"
                           "\"i\",\"env\":[{\"name\":\"X\",\"value\":\"1\"},{\"name\":\"Y\","
                           "\"value\":\"2\"}]}]}}}}");
    ek_auto(json_t) o1 = ek_ssa_apply(&sc, NULL, c1, &o, NULL, &err);
    ASSERT_NOT_NULL(o1);
    /* Another manager adds a sidecar and an env var of its own (an Update). */
    ek_auto(json_t) u = json_deep_copy(o1);
    json_t *ctrs = ek_json_path(u, "spec", "template", "spec", "containers", NULL);
    json_array_append_new(ctrs, J("{\"name\":\"side\",\"image\":\"s\"}"));
    json_array_append_new(json_object_get(json_array_get(ctrs, 0), "env"),
                          J("{\"name\":\"Z\",\"value\":\"3\"}"));
    ek_ssa_op_t uo = op("editor", "2026-01-01T00:00:01Z");
    ek_ssa_update(&sc, o1, u, &uo);
    /* The applier drops label b and env Y, changes X. */
    ek_auto(json_t) c2 = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
                           "\"name\":\"w\",\"labels\":{\"a\":\"1\"}},\"spec\":{\"template\":{"
                           "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\",\"env\":[{"
                           "\"name\":\"X\",\"value\":\"9\"}]}]}}}}");
    ek_auto(json_t) o2 = ek_ssa_apply(&sc, u, c2, &o, NULL, &err);
    ASSERT_OK(o2 ? 0 : -1, &err);
    ASSERT_TRUE(ek_json_str(o2, "metadata", "labels", "b", NULL) == NULL);
    ASSERT_STREQ(ek_json_str(o2, "metadata", "labels", "a", NULL), "1");
    json_t *c = ek_json_path(o2, "spec", "template", "spec", "containers", NULL);
    ASSERT_EQ(json_array_size(c), 2);
    ASSERT_STREQ(ek_json_str(json_array_get(c, 1), "name", NULL), "side");
    ek_autofree char *env = ek_json_dumps(json_object_get(json_array_get(c, 0), "env"));
    ASSERT_STREQ(env, "[{\"name\":\"X\",\"value\":\"9\"},{\"name\":\"Z\",\"value\":\"3\"}]");
    ek_autofree char *ed = fields_of(o2, "editor", "Update");
    ASSERT_CONTAINS(ed, "k:{\\\"name\\\":\\\"side\\\"}");
    ASSERT_CONTAINS(ed, "k:{\\\"name\\\":\\\"Z\\\"}");
}

TEST(fm_conflict_then_force)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_error_t *err = NULL;
    ek_auto(json_t) cfg = J(ssa_config);
    ek_ssa_op_t o = op("kubectl", "2026-01-01T00:00:00Z");
    ek_auto(json_t) live = ek_ssa_apply(&sc, NULL, cfg, &o, NULL, &err);
    ASSERT_NOT_NULL(live);
    ek_auto(json_t) c2 = J(ssa_config);
    json_object_set_new(json_object_get(c2, "spec"), "replicas", json_integer(3));
    ek_ssa_op_t other = op("other", "2026-01-01T00:00:05Z");
    json_t *causes = NULL;
    ASSERT_TRUE(ek_ssa_apply(&sc, live, c2, &other, &causes, &err) == NULL);
    ASSERT_EQ(err->status, 409);
    ASSERT_STREQ(ek_error_msg(err),
                 "Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
    ek_error_free(err);
    err = NULL;
    ek_autofree char *cs = ek_json_dumps(causes);
    ASSERT_STREQ(cs, "[{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with "
                     "\\\"kubectl\\\"\",\"field\":\".spec.replicas\"}]");
    json_decref(causes);
    /* The same value is no conflict: both own it. */
    ek_auto(json_t) same = ek_ssa_apply(&sc, live, cfg, &other, NULL, &err);
    ASSERT_NOT_NULL(same);
    ek_autofree char *f1 = fields_of(same, "kubectl", "Apply");
    ek_autofree char *f2 = fields_of(same, "other", "Apply");
    ASSERT_CONTAINS(f1, "f:replicas");
    ASSERT_CONTAINS(f2, "f:replicas");
    /* Forced: other takes the field. */
    other.force = true;
    ek_auto(json_t) forced = ek_ssa_apply(&sc, live, c2, &other, NULL, &err);
    ASSERT_NOT_NULL(forced);
    ASSERT_EQ(ek_json_int(forced, 0, "spec", "replicas", NULL), 3);
    ek_autofree char *k = fields_of(forced, "kubectl", "Apply");
    ASSERT_TRUE(strstr(k, "f:replicas") == NULL);
    ek_autofree char *ot = fields_of(forced, "other", "Apply");
    ASSERT_STREQ(ot, "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{"
                     "\"f:replicas\":{},\"f:selector\":{},\"f:template\":{\"f:metadata\":{"
                     "\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:containers\":{"
                     "\"k:{\\\"name\\\":\\\"nginx\\\"}\":{\".\":{},\"f:env\":{"
                     "\"k:{\\\"name\\\":\\\"A\\\"}\":{\".\":{},\"f:name\":{},\"f:value\":{}}},"
                     "\"f:image\":{},\"f:name\":{},\"f:ports\":{"
                     "\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
                     "\"f:containerPort\":{}}}}}}}}}");
}

TEST(fm_conflicts_with_several_managers)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = J(csa_deployment);
    ek_ssa_op_t csa = op("kubectl-client-side-apply", "2026-01-01T00:00:00Z");
    ek_ssa_update(&sc, NULL, obj, &csa);
    ek_auto(json_t) cfg = J(ssa_config);
    json_object_set_new(json_object_get(cfg, "spec"), "replicas", json_integer(5));
    json_t *c0 =
        json_array_get(ek_json_path(cfg, "spec", "template", "spec", "containers", NULL), 0);
    json_object_set_new(c0, "image", json_string("nginx:1.27"));
    ek_ssa_op_t o = op("other", "2026-01-01T00:00:05Z");
    ASSERT_TRUE(ek_ssa_apply(&sc, obj, cfg, &o, NULL, &err) == NULL);
    ASSERT_STREQ(ek_error_msg(err),
                 "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" "
                 "using apps/v1:\n- .spec.replicas\n"
                 "- .spec.template.spec.containers[name=\"nginx\"].image");
    ek_error_free(err);
}

TEST(fm_update_takes_ownership)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_error_t *err = NULL;
    ek_auto(json_t) cfg = J(ssa_config);
    ek_ssa_op_t o = op("kubectl", "2026-01-01T00:00:00Z");
    ek_auto(json_t) live = ek_ssa_apply(&sc, NULL, cfg, &o, NULL, &err);
    ASSERT_NOT_NULL(live);
    ek_auto(json_t) upd = json_deep_copy(live);
    json_object_set_new(json_object_get(upd, "spec"), "replicas", json_integer(5));
    ek_ssa_op_t scale = {
        "kubectl", "apps/v1", "scale", "2026-01-01T00:01:00Z", EK_SSA_TRACK_NO_STATUS, false
    };
    ek_ssa_update(&sc, live, upd, &scale);
    ek_autofree char *a = fields_of(upd, "kubectl", "Apply");
    ASSERT_TRUE(strstr(a, "f:replicas") == NULL);
    const json_t *e = entry(upd, "kubectl", "Update");
    ASSERT_NOT_NULL(e);
    ASSERT_STREQ(ek_json_str(e, "subresource", NULL), "scale");
    ek_autofree char *f = ek_json_dumps(json_object_get(e, "fieldsV1"));
    ASSERT_STREQ(f, "{\"f:spec\":{\"f:replicas\":{}}}");
    /* An update changing nothing adds no entry and leaves times alone. */
    ek_auto(json_t) again = json_deep_copy(upd);
    ek_ssa_op_t label = op("kubectl-label", "2026-01-01T00:02:00Z");
    ek_ssa_update(&sc, upd, again, &label);
    ASSERT_TRUE(entry(again, "kubectl-label", "Update") == NULL);
    ASSERT_TRUE(json_equal(again, upd));
    /* Applying replicas again now conflicts with the scale entry. */
    ASSERT_TRUE(ek_ssa_apply(&sc, upd, cfg, &o, NULL, &err) == NULL);
    ASSERT_STREQ(ek_error_msg(err), "Apply failed with 1 conflict: conflict with \"kubectl\" "
                                    "with subresource \"scale\" using apps/v1: .spec.replicas");
    ek_error_free(err);
}

TEST(fm_kubectl_takes_over_client_side_apply)
{
    ek_ssa_schema_t sc = deploy_schema();
    ek_error_t *err = NULL;
    ek_auto(json_t) obj = J(csa_deployment);
    ek_ssa_op_t csa = op("kubectl-client-side-apply", "2026-01-01T00:00:00Z");
    ek_ssa_update(&sc, NULL, obj, &csa);
    ek_auto(json_t) cfg = J(ssa_config);
    json_object_set_new(json_object_get(cfg, "spec"), "replicas", json_integer(3));
    /* "kubectl" may change what client-side apply last applied and still holds... */
    ek_ssa_op_t o = op("kubectl", "2026-01-01T00:00:05Z");
    ek_auto(json_t) out = ek_ssa_apply(&sc, obj, cfg, &o, NULL, &err);
    ASSERT_OK(out ? 0 : -1, &err);
    ASSERT_EQ(ek_json_int(out, 0, "spec", "replicas", NULL), 3);
    ek_autofree char *csaf = fields_of(out, "kubectl-client-side-apply", "Update");
    ASSERT_TRUE(strstr(csaf, "f:replicas") == NULL);
    /* ... and the annotation follows what it applied. */
    const char *la = ek_json_str(out, "metadata", "annotations",
                                 "kubectl.kubernetes.io/last-applied-configuration", NULL);
    ASSERT_CONTAINS(la, "\"replicas\":3");
    ASSERT_TRUE(la[strlen(la) - 1] == '\n');
    /* Another manager may not. */
    ek_ssa_op_t other = op("other", "2026-01-01T00:00:05Z");
    ASSERT_TRUE(ek_ssa_apply(&sc, obj, cfg, &other, NULL, &err) == NULL);
    ASSERT_STREQ(ek_error_msg(err), "Apply failed with 1 conflict: conflict with "
                                    "\"kubectl-client-side-apply\" using apps/v1: "
                                    ".spec.replicas");
    ek_error_free(err);
}

TEST(fm_client_written_managed_fields_are_kept)
{
    /* kubectl's migration: a JSON patch replacing managedFields. */
    ek_ssa_schema_t sc = deploy_schema();
    ek_auto(json_t) obj = J(csa_deployment);
    ek_ssa_op_t csa = op("kubectl-client-side-apply", "2026-01-01T00:00:00Z");
    ek_ssa_update(&sc, NULL, obj, &csa);
    ek_auto(json_t) mig = json_deep_copy(obj);
    json_t *e0 = json_array_get(ek_json_path(mig, "metadata", "managedFields", NULL), 0);
    json_object_set_new(e0, "manager", json_string("kubectl"));
    json_object_set_new(e0, "operation", json_string("Apply"));
    ek_ssa_op_t o = op("kubectl", "2026-01-01T00:00:09Z");
    ek_ssa_update(&sc, obj, mig, &o);
    json_t *mf = ek_json_path(mig, "metadata", "managedFields", NULL);
    ASSERT_EQ(json_array_size(mf), 1);
    ASSERT_STREQ(ek_json_str(json_array_get(mf, 0), "operation", NULL), "Apply");
    ASSERT_STREQ(ek_json_str(json_array_get(mf, 0), "time", NULL), "2026-01-01T00:00:00Z");
    /* [{}] strips them all. */
    ek_auto(json_t) strip = json_deep_copy(mig);
    json_object_set_new(json_object_get(strip, "metadata"), "managedFields", J("[{}]"));
    ek_ssa_update(&sc, mig, strip, &o);
    ASSERT_TRUE(ek_json_path(strip, "metadata", "managedFields", NULL) == NULL);
    /* A config carrying managedFields is refused. */
    ek_auto(json_t) bad = J("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
                            "\"name\":\"w\",\"managedFields\":[{}]}}");
    ek_error_t *err = NULL;
    ASSERT_TRUE(ek_ssa_apply(&sc, NULL, bad, &o, NULL, &err) == NULL);
    ASSERT_EQ(err->status, 400);
    ASSERT_STREQ(ek_error_msg(err), "metadata.managedFields must be nil");
    ek_error_free(err);
}

TEST(fm_custom_resource_lists)
{
    ek_error_t *lerr = NULL;
    ASSERT_OK(ek_schema_load(&lerr), &lerr);
    ek_auto(json_t) schema =
        J("{\"type\":\"object\",\"properties\":{\"spec\":{\"type\":\"object\",\"properties\":{"
          "\"items\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
          "\"x-kubernetes-list-map-keys\":[\"id\"],\"items\":{\"type\":\"object\","
          "\"properties\":{\"id\":{\"type\":\"string\"},\"v\":{\"type\":\"integer\"}}}},"
          "\"tags\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"set\",\"items\":{"
          "\"type\":\"string\"}},\"args\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"
          "}}}}");
    ek_ssa_schema_t sc = { NULL, schema };
    ek_auto(json_t) obj = J("{\"apiVersion\":\"x/v1\",\"kind\":\"K\",\"metadata\":{\"name\":\"a\"},"
                            "\"spec\":{\"items\":[{\"id\":\"p\",\"v\":1}],\"tags\":[\"t\"],"
                            "\"args\":[\"x\"]}}");
    ek_auto(ek_fieldset_t) s = ek_ssa_fieldset(&sc, obj);
    ek_auto(json_t) enc = ek_fieldset_encode(s);
    ek_autofree char *txt = ek_json_dumps(enc);
    ASSERT_STREQ(txt, "{\"f:apiVersion\":{},\"f:kind\":{},\"f:metadata\":{\"f:name\":{}},"
                      "\"f:spec\":{\"f:args\":{},\"f:items\":{\"k:{\\\"id\\\":\\\"p\\\"}\":{"
                      "\".\":{},\"f:id\":{},\"f:v\":{}}},\"f:tags\":{\"v:\\\"t\\\"\":{}}}}");
    /* Created by an Update: spec is new relative to an empty object, so it owns "." too. */
    ek_ssa_op_t o = { "m", "x/v1", "", "2026-01-01T00:00:00Z", EK_SSA_TRACK_ALL, false };
    ek_ssa_update(&sc, NULL, obj, &o);
    ek_autofree char *f = fields_of(obj, "m", "Update");
    ASSERT_CONTAINS(f, "\"f:spec\":{\".\":{},\"f:args\":{}");
}

TEST(fm_manager_from_user_agent)
{
    char buf[129];
    ASSERT_STREQ(ek_ssa_manager_from_user_agent("kubectl/v1.32.4 (linux/amd64) kubernetes/x", buf),
                 "kubectl");
    ASSERT_STREQ(ek_ssa_manager_from_user_agent("Go-http-client/1.1", buf), "Go-http-client");
    ASSERT_STREQ(ek_ssa_manager_from_user_agent(NULL, buf), "");
}
