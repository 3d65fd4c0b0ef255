/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Protobuf request bodies (api/protobuf.c): real kubectl 1.32 bodies decode to the JSON that
 * kubectl 1.27 sends for the same command; the special types, negative numbers, maps, inlined
 * and nested repeated messages decode as Go would; malformed bodies give clear 400s; and the
 * schema numbers every type the protobuf-speaking kubectl commands reach, once each.
 */
#include "api/api.h"
#include "tests/unit/test.h"

static void load(void)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_schema_load(&err), &err);
}

static ek_buf_t unhex(const char *hex)
{
    ek_buf_t b = EK_BUF_INIT;
    for (const char *p = hex; p[0] && p[1]; p += 2) {
        unsigned v;
        ASSERT_EQ(sscanf(p, "%2x", &v), 1);
        ek_buf_putc(&b, (char)v);
    }
    return b;
}

/* magic + runtime.Unknown{typeMeta{av, kind}, raw}; empties raw. */
static ek_buf_t envelope(const char *av, const char *kind, ek_buf_t *raw)
{
    ek_buf_t tm = EK_BUF_INIT, out = EK_BUF_INIT;
    ek_pb_string(&tm, 1, av);
    ek_pb_string(&tm, 2, kind);
    ek_buf_append(&out, "k8s", 4);
    ek_pb_message(&out, 1, &tm);
    ek_pb_message(&out, 2, raw);
    ek_buf_free(&tm);
    return out;
}

static json_t *decode(const ek_buf_t *b, unsigned flags, ek_error_t **err)
{
    return ek_protobuf_decode(b->data, b->len, NULL, NULL, flags, err);
}

/* Decodes b (strictly: every field of a real body must be known) and compares with want. */
static void expect_json(const ek_buf_t *b, const char *want)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) got = decode(b, EK_PROTOBUF_STRICT, &err);
    if (!got) {
        ek__test_fail(__FILE__, __LINE__, "decode failed: %s", ek_error_msg(err));
    }
    ek_auto(json_t) exp = ek_json_parse(want, strlen(want), &err);
    ASSERT_NOT_NULL(exp);
    if (!json_equal(got, exp)) {
        ek_autofree char *text = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        ek__test_fail(__FILE__, __LINE__, "got %s\nwant %s", text, want);
    }
}

/* Like expect_json, without EK_PROTOBUF_STRICT (unknown fields skipped, as the server does). */
static void expect_json_lenient(const ek_buf_t *b, const char *want)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) got = decode(b, 0, &err);
    ek_auto(json_t) exp = ek_json_parse(want, strlen(want), &err);
    ASSERT_NOT_NULL(exp);
    if (!got || !json_equal(got, exp)) {
        ek_autofree char *text = got ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
        ek__test_fail(__FILE__, __LINE__, "got %s", text ? text : ek_error_msg(err));
    }
}

/* Decoding b fails with this status and a message containing needle. */
static void expect_error(const ek_buf_t *b, unsigned flags, int status, const char *needle)
{
    ek_error_t *err = NULL;
    ek_auto(json_t) got = decode(b, flags, &err);
    if (got) {
        ek_autofree char *text = json_dumps(got, JSON_COMPACT);
        ek__test_fail(__FILE__, __LINE__, "decoded %s, want error \"%s\"", text, needle);
    }
    ASSERT_NOT_NULL(err);
    ASSERT_EQ(err->status, status);
    ASSERT_CONTAINS(err->msg, needle);
    ek_error_free(err);
}

/* ---- real bodies ---- */

/* kubectl 1.32 `create configmap cm1 --from-literal=a=b` (trace 50). */
static const char cm_hex[] = "6b3873000a0f0a0276311209436f6e6669674d6170121d0a130a03636d3112001a"
                             "0022002a0032003800420012060a01611201621a002200";
/* kubectl 1.32 `create namespace ns1` (trace 50). */
static const char ns_hex[] = "6b3873000a0f0a02763112094e616d657370616365121b0a130a036e733112001a"
                             "0022002a0032003800420012001a020a001a002200";

TEST(protobuf_trace_configmap_is_the_json_body)
{
    load();
    ek_autobuf b = unhex(cm_hex);
    /* What kubectl 1.27 sends for the same command (trace 11), name aside. */
    expect_json(&b, "{\"kind\":\"ConfigMap\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"cm1\","
                    "\"creationTimestamp\":null},\"data\":{\"a\":\"b\"}}");
}

TEST(protobuf_trace_namespace_is_the_json_body)
{
    load();
    ek_autobuf b = unhex(ns_hex);
    expect_json(&b, "{\"kind\":\"Namespace\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"ns1\","
                    "\"creationTimestamp\":null},\"spec\":{},\"status\":{}}");
}

TEST(protobuf_envelope_fields)
{
    load();
    ek_autobuf b = unhex(cm_hex);
    ek_protobuf_unknown_t u;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_protobuf_unwrap(b.data, b.len, EK_PROTOBUF_STRICT, &u, &err), &err);
    ASSERT_STREQ(u.api_version, "v1");
    ASSERT_STREQ(u.kind, "ConfigMap");
    ASSERT_STREQ(u.content_encoding, "");
    ASSERT_STREQ(u.content_type, "");
    ASSERT_EQ(u.raw_len, 0x1d);
    ASSERT_EQ(u.raw[0], 0x0a);
    ek_protobuf_unknown_clear(&u);
    ASSERT_TRUE(u.kind == NULL);
}

/* Every recorded kubectl 1.32 body (tests/fixtures/protobuf/README.md) decodes, with every
 * field known, to the JSON body kubectl 1.27 sends for the same command. */
TEST(protobuf_kubectl_bodies_are_the_json_bodies)
{
    static const char *const names[] = {
        "configmap",
        "namespace",
        "secret-generic",
        "secret-docker-registry",
        "deployment",
        "job",
        "cronjob",
        "job-from-cronjob",
        "role",
        "rolebinding",
        "clusterrole",
        "clusterrole-aggregation",
        "clusterrolebinding",
        "quota",
        "pdb-min-available",
        "pdb-max-unavailable",
        "ingress",
        "ingress-default-backend",
        "serviceaccount",
        "priorityclass",
        "service-clusterip",
        "service-nodeport",
        "service-loadbalancer",
        "service-externalname",
        "service-headless",
        "token",
        "token-audiences",
        "can-i",
        "can-i-nonresource",
        "can-i-subresource",
        "can-i-list",
        "whoami",
        "certificate-approve",
        "certificate-deny",
        "drain-delete",
    };
    load();
    for (size_t i = 0; i < EK_ARRAY_SIZE(names); i++) {
        ek_error_t *err = NULL;
        ek_autofree char *hp = ek_xasprintf("tests/fixtures/protobuf/%s.hex", names[i]);
        ek_autofree char *jp = ek_xasprintf("tests/fixtures/protobuf/%s.json", names[i]);
        ek_autofree char *hex = ek_file_read(hp, 1 << 20, NULL, &err);
        ek_autofree char *want = ek_file_read(jp, 1 << 20, NULL, &err);
        if (!hex || !want) {
            ek__test_fail(__FILE__, __LINE__, "%s: %s", names[i], ek_error_msg(err));
        }
        ek_autobuf b = unhex(hex);
        ek_auto(json_t) got = decode(&b, EK_PROTOBUF_STRICT, &err);
        ek_auto(json_t) exp = ek_json_parse(want, strlen(want), &err);
        ASSERT_NOT_NULL(exp);
        if (!got || !json_equal(got, exp)) {
            ek_autofree char *text = got ? json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
            ek__test_fail(__FILE__, __LINE__, "%s: got %s", names[i],
                          text ? text : ek_error_msg(err));
        }
    }
}

TEST(protobuf_kind_without_numbers_is_415_naming_it)
{
    load();
    ek_error_t *err = NULL;
    ek_autofree char *hex =
        ek_file_read("tests/fixtures/protobuf/autoscale.hex", 1 << 20, NULL, &err);
    ASSERT_NOT_NULL(hex);
    ek_autobuf b = unhex(hex);
    /* kubectl autoscale sends an autoscaling/v1 HorizontalPodAutoscaler; edgek has only v2. */
    expect_error(&b, 0, 415,
                 "protobuf is not supported for HorizontalPodAutoscaler autoscaling/v1");
    ek_autobuf raw = EK_BUF_INIT;
    ek_autobuf crd = envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", &raw);
    expect_error(&crd, 0, 415, "CustomResourceDefinition");
    ek_autobuf none = envelope("", "", &raw);
    expect_error(&none, 0, 415, "objects without a kind");
    /* The request's own kind fills in an envelope without type meta. */
    ek_auto(json_t) j = ek_protobuf_decode(none.data, none.len, "v1", "ConfigMap", 0, &err);
    ASSERT_NOT_NULL(j);
    ASSERT_STREQ(ek_json_str(j, "kind", NULL), "ConfigMap");
}

/* ---- the special types ---- */

static ek_buf_t meta_named(const char *name)
{
    ek_buf_t md = EK_BUF_INIT;
    ek_pb_string(&md, 1, name);
    return md;
}

TEST(protobuf_quantity_map_and_intstr)
{
    load();
    ek_autobuf spec = EK_BUF_INIT, entry = EK_BUF_INIT, q = EK_BUF_INIT, raw = EK_BUF_INIT;
    /* ResourceQuotaSpec.hard is map<string, Quantity {1: string}>. */
    ek_pb_string(&entry, 1, "cpu");
    ek_pb_string(&q, 1, "500m");
    ek_pb_message(&entry, 2, &q);
    ek_pb_message(&spec, 1, &entry);
    ek_pb_string(&entry, 1, "pods"); /* no value: Go's zero Quantity */
    ek_pb_message(&spec, 1, &entry);
    ek_autobuf md = meta_named("q");
    ek_pb_message(&raw, 1, &md);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b = envelope("v1", "ResourceQuota", &raw);
    expect_json(&b,
                "{\"apiVersion\":\"v1\",\"kind\":\"ResourceQuota\",\"metadata\":{\"name\":\"q\"},"
                "\"spec\":{\"hard\":{\"cpu\":\"500m\",\"pods\":\"0\"}}}");

    /* IntOrString {1: type, 2: intVal, 3: strVal}: a pointer keeps int 0 (minAvailable), a
     * value field (ServicePort.targetPort) drops it. */
    ek_autobuf is = EK_BUF_INIT, pdb = EK_BUF_INIT;
    ek_pb_uint(&is, 1, 0);
    ek_pb_uint(&is, 2, 0);
    ek_pb_string(&is, 3, "");
    ek_pb_message(&pdb, 1, &is);
    ek_pb_uint(&is, 1, 1);
    ek_pb_uint(&is, 2, 0);
    ek_pb_string(&is, 3, "25%");
    ek_pb_message(&pdb, 3, &is);
    ek_pb_message(&raw, 2, &pdb);
    ek_autobuf b2 = envelope("policy/v1", "PodDisruptionBudget", &raw);
    expect_json(&b2, "{\"apiVersion\":\"policy/v1\",\"kind\":\"PodDisruptionBudget\","
                     "\"spec\":{\"minAvailable\":0,\"maxUnavailable\":\"25%\"}}");

    ek_autobuf port = EK_BUF_INIT, svc = EK_BUF_INIT;
    ek_pb_uint(&port, 3, 80);
    ek_pb_uint(&is, 1, 0);
    ek_pb_uint(&is, 2, 0);
    ek_pb_message(&port, 4, &is); /* targetPort left unset */
    ek_pb_message(&svc, 1, &port);
    ek_pb_uint(&port, 3, 81);
    ek_pb_uint(&is, 1, 1);
    ek_pb_string(&is, 3, "http");
    ek_pb_message(&port, 4, &is);
    ek_pb_message(&svc, 1, &port);
    ek_pb_message(&raw, 2, &svc);
    ek_autobuf b3 = envelope("v1", "Service", &raw);
    expect_json(&b3,
                "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"ports\":[{\"port\":80},"
                "{\"port\":81,\"targetPort\":\"http\"}]}}");

    ek_pb_uint(&is, 1, 2);
    ek_pb_message(&port, 4, &is);
    ek_pb_message(&svc, 1, &port);
    ek_pb_message(&raw, 2, &svc);
    ek_autobuf bad = envelope("v1", "Service", &raw);
    expect_error(&bad, 0, 400, "spec.ports.targetPort: int-or-string type 2");
}

TEST(protobuf_times)
{
    load();
    ek_autobuf md = EK_BUF_INIT, t = EK_BUF_INIT, raw = EK_BUF_INIT;
    ek_pb_string(&md, 1, "x");
    ek_pb_uint(&t, 1, 1700000000);
    ek_pb_uint(&t, 2, 999999999); /* metav1.Time keeps whole seconds */
    ek_pb_message(&md, 8, &t);
    ek_pb_uint(&t, 1, 1700000000);
    ek_pb_message(&md, 9, &t); /* deletionTimestamp: a pointer, same form */
    ek_pb_message(&raw, 1, &md);
    ek_autobuf b = envelope("v1", "ConfigMap", &raw);
    expect_json(&b, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\","
                    "\"creationTimestamp\":\"2023-11-14T22:13:20Z\","
                    "\"deletionTimestamp\":\"2023-11-14T22:13:20Z\"}}");

    /* MicroTime (Lease renewTime) has microseconds; nanos outside [0, 1e9) carry into the
     * seconds as Go's time.Unix does; the epoch itself is a real time, not Go's zero. */
    ek_autobuf spec = EK_BUF_INIT;
    ek_pb_uint(&t, 1, 1700000000);
    ek_pb_uint(&t, 2, 123456789);
    ek_pb_message(&spec, 4, &t);
    ek_pb_uint(&t, 1, 1700000001);
    ek_pb_uint(&t, 2, (uint64_t)(int64_t)-1000); /* ten-byte negative varint */
    ek_pb_message(&spec, 3, &t);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b2 = envelope("coordination.k8s.io/v1", "Lease", &raw);
    expect_json(&b2, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"spec\":{"
                     "\"renewTime\":\"2023-11-14T22:13:20.123456Z\","
                     "\"acquireTime\":\"2023-11-14T22:13:20.999999Z\"}}");

    ek_pb_uint(&t, 1, 0);
    ek_pb_message(&spec, 3, &t);
    ek_pb_message(&spec, 4, &t); /* empty: zero time */
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b3 = envelope("coordination.k8s.io/v1", "Lease", &raw);
    expect_json(&b3, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"spec\":{"
                     "\"acquireTime\":\"1970-01-01T00:00:00.000000Z\",\"renewTime\":null}}");

    ek_pb_uint(&t, 1, (uint64_t)400000000000LL);
    ek_pb_message(&spec, 3, &t);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf far = envelope("coordination.k8s.io/v1", "Lease", &raw);
    expect_error(&far, 0, 400, "spec.acquireTime: time 400000000000 is out of range");
}

TEST(protobuf_raw_extension_bytes_and_embedded_objects)
{
    load();
    /* ControllerRevision.data is a RawExtension {1: raw}: JSON, or an embedded protobuf
     * object with its own envelope. */
    ek_autobuf ext = EK_BUF_INIT, raw = EK_BUF_INIT;
    ek_pb_string(&ext, 1, "{\"spec\":{\"template\":{}}}");
    ek_pb_message(&raw, 2, &ext);
    ek_pb_uint(&raw, 3, 7);
    ek_autobuf b = envelope("apps/v1", "ControllerRevision", &raw);
    expect_json(&b, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\","
                    "\"data\":{\"spec\":{\"template\":{}}},\"revision\":7}");

    ek_autobuf cm = unhex(cm_hex);
    ek_pb_bytes(&ext, 1, cm.data, cm.len);
    ek_pb_message(&raw, 2, &ext);
    ek_autobuf b2 = envelope("apps/v1", "ControllerRevision", &raw);
    expect_json(&b2, "{\"apiVersion\":\"apps/v1\",\"kind\":\"ControllerRevision\",\"data\":{"
                     "\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm1\","
                     "\"creationTimestamp\":null},\"data\":{\"a\":\"b\"}}}");

    ek_pb_string(&ext, 1, "{broken");
    ek_pb_message(&raw, 2, &ext);
    ek_autobuf bad = envelope("apps/v1", "ControllerRevision", &raw);
    expect_error(&bad, 0, 400, "data: embedded JSON");

    /* bytes fields are base64 in JSON, including the empty value and binary data. */
    ek_autobuf entry = EK_BUF_INIT;
    ek_pb_string(&entry, 1, "bin");
    ek_pb_bytes(&entry, 2, "\x00\xff\x10", 3);
    ek_pb_message(&raw, 2, &entry);
    ek_pb_string(&entry, 1, "empty");
    ek_pb_bytes(&entry, 2, "", 0);
    ek_pb_message(&raw, 2, &entry);
    ek_pb_string(&entry, 1, "novalue");
    ek_pb_message(&raw, 2, &entry);
    ek_autobuf b3 = envelope("v1", "Secret", &raw);
    expect_json(&b3, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{\"bin\":\"AP8Q\","
                     "\"empty\":\"\",\"novalue\":\"\"}}");
}

TEST(protobuf_negative_numbers_and_pointers)
{
    load();
    ek_autobuf raw = EK_BUF_INIT, spec = EK_BUF_INIT, tmpl = EK_BUF_INIT, pod = EK_BUF_INIT,
               sc = EK_BUF_INIT;
    ek_pb_uint(&spec, 1, 0);                     /* replicas *int32 = 0: kept */
    ek_pb_uint(&spec, 5, 0);                     /* minReadySeconds int32 = 0: unset */
    ek_pb_bool(&spec, 7, false);                 /* paused bool = false: unset */
    ek_pb_uint(&spec, 6, (uint64_t)(int64_t)-3); /* revisionHistoryLimit: negative int32 */
    ek_pb_uint(&sc, 2, (uint64_t)(int64_t)-1);   /* runAsUser int64 */
    ek_pb_uint(&sc, 6, (uint64_t)INT64_MIN);     /* runAsGroup */
    ek_pb_uint(&sc, 4, 5);                       /* supplementalGroups, unpacked */
    {
        /* ...and packed: one LEN field holding varints 6 and -7. */
        ek_autobuf packed = EK_BUF_INIT;
        ek_pb_varint(&packed, 6);
        ek_pb_varint(&packed, (uint64_t)(int64_t)-7);
        ek_pb_message(&sc, 4, &packed);
    }
    ek_pb_message(&pod, 14, &sc);
    ek_pb_message(&tmpl, 2, &pod);
    ek_pb_message(&spec, 3, &tmpl);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b = envelope("apps/v1", "Deployment", &raw);
    expect_json(&b, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"replicas\":0,"
                    "\"revisionHistoryLimit\":-3,\"template\":{\"spec\":{\"securityContext\":{"
                    "\"runAsUser\":-1,\"runAsGroup\":-9223372036854775808,"
                    "\"supplementalGroups\":[5,6,-7]}}}}}");
    /* Go keeps the low 32 bits of an over-long int32. */
    ek_pb_uint(&spec, 1, 0x100000005ULL);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b2 = envelope("apps/v1", "Deployment", &raw);
    expect_json(&b2,
                "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"spec\":{\"replicas\":5}}");
}

TEST(protobuf_maps_merge_and_repeated_messages)
{
    load();
    ek_autobuf md = EK_BUF_INIT, e = EK_BUF_INIT, raw = EK_BUF_INIT;
    ek_pb_string(&md, 1, "first");
    ek_pb_string(&e, 1, "app");
    ek_pb_string(&e, 2, "web");
    ek_pb_message(&md, 11, &e);
    ek_pb_string(&e, 1, "app"); /* the last entry for a key wins, as in a Go map */
    ek_pb_string(&e, 2, "api");
    ek_pb_message(&md, 11, &e);
    ek_pb_string(&e, 2, "no key");
    ek_pb_message(&md, 12, &e);
    ek_pb_message(&raw, 1, &md);
    /* A message field that occurs twice merges; a scalar's last occurrence wins. */
    ek_pb_string(&md, 1, "second");
    ek_pb_string(&md, 3, "ns");
    ek_pb_message(&raw, 1, &md);
    /* Role rules: repeated messages holding repeated strings. */
    ek_autobuf rule = EK_BUF_INIT;
    ek_pb_string(&rule, 1, "get");
    ek_pb_string(&rule, 1, "list");
    ek_pb_string(&rule, 2, "");
    ek_pb_string(&rule, 3, "pods");
    ek_pb_message(&raw, 2, &rule);
    ek_pb_string(&rule, 1, "*");
    ek_pb_string(&rule, 5, "/healthz");
    ek_pb_message(&raw, 2, &rule);
    ek_autobuf b = envelope("rbac.authorization.k8s.io/v1", "Role", &raw);
    expect_json(&b, "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\","
                    "\"metadata\":{\"name\":\"second\",\"namespace\":\"ns\",\"labels\":{\"app\":"
                    "\"api\"},\"annotations\":{\"\":\"no key\"}},\"rules\":[{\"verbs\":[\"get\","
                    "\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},{\"verbs\":[\"*\"],"
                    "\"nonResourceURLs\":[\"/healthz\"]}]}");

    /* UserInfo.extra is map<string, ExtraValue {1: repeated string}>. */
    ek_autobuf spec = EK_BUF_INIT, items = EK_BUF_INIT;
    ek_pb_string(&spec, 3, "alice");
    ek_pb_string(&e, 1, "scopes");
    ek_pb_string(&items, 1, "a");
    ek_pb_string(&items, 1, "b");
    ek_pb_message(&e, 2, &items);
    ek_pb_message(&spec, 5, &e);
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b2 = envelope("authorization.k8s.io/v1", "SubjectAccessReview", &raw);
    expect_json(&b2, "{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SubjectAccessReview\","
                     "\"spec\":{\"user\":\"alice\",\"extra\":{\"scopes\":[\"a\",\"b\"]}}}");
}

TEST(protobuf_inlined_embedded_messages)
{
    load();
    /* Volume {1: name, 2: VolumeSource{2: emptyDir, 19: configMap{1: LocalObjectReference}}}
     * and Probe {1: ProbeHandler{2: httpGet}, 4: periodSeconds}: JSON has them flat. */
    ek_autobuf vol = EK_BUF_INIT, src = EK_BUF_INIT, empty = EK_BUF_INIT, cmv = EK_BUF_INIT,
               ref = EK_BUF_INIT, pod = EK_BUF_INIT, raw = EK_BUF_INIT;
    ek_pb_string(&vol, 1, "scratch");
    ek_pb_message(&src, 2, &empty);
    ek_pb_message(&vol, 2, &src);
    ek_pb_message(&pod, 1, &vol);
    ek_pb_string(&vol, 1, "conf");
    ek_pb_string(&ref, 1, "settings");
    ek_pb_message(&cmv, 1, &ref);
    ek_pb_uint(&cmv, 3, 0420);
    ek_pb_message(&src, 19, &cmv);
    ek_pb_message(&vol, 2, &src);
    ek_pb_message(&pod, 1, &vol);
    ek_autobuf c = EK_BUF_INIT, probe = EK_BUF_INIT, handler = EK_BUF_INIT, get = EK_BUF_INIT,
               is = EK_BUF_INIT;
    ek_pb_string(&c, 1, "app");
    ek_pb_string(&get, 1, "/ready");
    ek_pb_uint(&is, 1, 0);
    ek_pb_uint(&is, 2, 8080);
    ek_pb_message(&get, 2, &is);
    ek_pb_message(&handler, 2, &get);
    ek_pb_message(&probe, 1, &handler);
    ek_pb_uint(&probe, 4, 5);
    ek_pb_message(&c, 11, &probe);
    ek_pb_message(&pod, 2, &c);
    ek_pb_message(&raw, 2, &pod);
    ek_autobuf b = envelope("v1", "Pod", &raw);
    expect_json(&b, "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"spec\":{\"volumes\":[{\"name\":"
                    "\"scratch\",\"emptyDir\":{}},{\"name\":\"conf\",\"configMap\":{\"name\":"
                    "\"settings\",\"defaultMode\":272}}],\"containers\":[{\"name\":\"app\","
                    "\"readinessProbe\":{\"httpGet\":{\"path\":\"/ready\",\"port\":8080},"
                    "\"periodSeconds\":5}}]}}");
}

/* ---- malformed bodies ---- */

TEST(protobuf_malformed_bodies_are_clear_400s)
{
    load();
    ek_autobuf cm = unhex(cm_hex);
    ek_autobuf wrong = EK_BUF_INIT;
    ek_buf_append(&wrong, "{\"kind\":\"ConfigMap\"}", 20);
    expect_error(&wrong, 0, 400, "expected prefix [107 56 115 0]");

    /* Every cut of a real body inside a field is refused, never half-decoded. Cuts between
     * the envelope's fields (after the magic, typeMeta, raw, contentEncoding) leave a shorter
     * message that is valid protobuf, as it would be for Kubernetes. */
    for (size_t n = 0; n < cm.len; n++) {
        bool boundary = n == 4 || n == 21 || n == 52 || n == 54;
        ek_buf_t cut = EK_BUF_INIT;
        ek_buf_append(&cut, cm.data, n);
        ek_error_t *err = NULL;
        json_t *j = decode(&cut, 0, &err);
        if (!boundary) {
            ASSERT_TRUE(j == NULL);
            ASSERT_EQ(err->status, 400);
        } else {
            ASSERT_TRUE(j || err->status == 415); /* n == 4: no kind at all */
        }
        json_decref(j);
        ek_error_free(err);
        ek_buf_free(&cut);
    }
    ek_autobuf cut = EK_BUF_INIT;
    ek_buf_append(&cut, cm.data, 40);
    expect_error(&cut, 0, 400, "runs past the end");

    /* replicas (varint) sent as a string. */
    ek_autobuf spec = EK_BUF_INIT, raw = EK_BUF_INIT;
    ek_pb_string(&spec, 1, "3");
    ek_pb_message(&raw, 2, &spec);
    ek_autobuf b = envelope("apps/v1", "Deployment", &raw);
    expect_error(&b, 0, 400, "spec.replicas: wire type length-delimited where varint");

    /* Wire types 3, 4 (groups), 6 and 7 do not occur in Kubernetes' messages. */
    ek_buf_putc(&raw, (char)((9 << 3) | 3));
    ek_autobuf g = envelope("v1", "ConfigMap", &raw);
    expect_error(&g, 0, 400, "unsupported wire type");

    /* Unknown field numbers are skipped, as Kubernetes' decoder skips them; strict mode
     * (tests) names them. */
    ek_pb_string(&raw, 99, "future field");
    ek_autobuf md = meta_named("u");
    ek_pb_message(&raw, 1, &md);
    ek_autobuf unk = envelope("v1", "ConfigMap", &raw);
    expect_json_lenient(&unk,
                        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                        "\"u\"}}");
    expect_error(&unk, EK_PROTOBUF_STRICT, 400, "unknown field number 99 of ConfigMap");

    /* Strings must be UTF-8 without NUL (as JSON bodies must be). */
    ek_pb_bytes(&md, 1, "a\xff", 2);
    ek_pb_message(&raw, 1, &md);
    ek_autobuf utf = envelope("v1", "ConfigMap", &raw);
    expect_error(&utf, 0, 400, "metadata.name: string is not valid UTF-8");
    ek_pb_bytes(&md, 1, "a\0b", 3);
    ek_pb_message(&raw, 1, &md);
    ek_autobuf nul = envelope("v1", "ConfigMap", &raw);
    expect_error(&nul, 0, 400, "metadata.name: string is not valid UTF-8");

    ek_autobuf enc = EK_BUF_INIT, tm = EK_BUF_INIT;
    ek_buf_append(&enc, "k8s", 4);
    ek_pb_string(&tm, 1, "v1");
    ek_pb_string(&tm, 2, "ConfigMap");
    ek_pb_message(&enc, 1, &tm);
    ek_pb_string(&enc, 3, "gzip");
    expect_error(&enc, 0, 400, "content encoding \"gzip\" is not supported");
}

TEST(protobuf_deep_nesting_is_refused)
{
    load();
    /* RawExtensions holding enveloped objects holding RawExtensions...: bounded. */
    ek_autobuf body = EK_BUF_INIT;
    ek_pb_uint(&body, 3, 1);
    ek_autobuf b = envelope("apps/v1", "ControllerRevision", &body);
    for (int i = 0; i < 70; i++) {
        ek_autobuf ext = EK_BUF_INIT, raw = EK_BUF_INIT;
        ek_pb_bytes(&ext, 1, b.data, b.len);
        ek_pb_message(&raw, 2, &ext);
        ek_buf_free(&b);
        b = envelope("apps/v1", "ControllerRevision", &raw);
    }
    expect_error(&b, 0, 400, "nested deeper than 64");
}

/* ---- the schema numbers ---- */

TEST(protobuf_schema_numbers_every_kind_kubectl_sends)
{
    load();
    static const char *const kinds[][2] = {
        { "v1", "ConfigMap" },
        { "v1", "Secret" },
        { "v1", "Namespace" },
        { "v1", "ServiceAccount" },
        { "v1", "Service" },
        { "v1", "ResourceQuota" },
        { "v1", "Pod" },
        { "apps/v1", "Deployment" },
        { "batch/v1", "Job" },
        { "batch/v1", "CronJob" },
        { "rbac.authorization.k8s.io/v1", "Role" },
        { "rbac.authorization.k8s.io/v1", "RoleBinding" },
        { "rbac.authorization.k8s.io/v1", "ClusterRole" },
        { "rbac.authorization.k8s.io/v1", "ClusterRoleBinding" },
        { "policy/v1", "PodDisruptionBudget" },
        { "policy/v1", "Eviction" },
        { "networking.k8s.io/v1", "Ingress" },
        { "scheduling.k8s.io/v1", "PriorityClass" },
        { "authentication.k8s.io/v1", "TokenRequest" },
        { "authentication.k8s.io/v1", "SelfSubjectReview" },
        { "authorization.k8s.io/v1", "SelfSubjectAccessReview" },
        { "authorization.k8s.io/v1", "SelfSubjectRulesReview" },
        { "certificates.k8s.io/v1", "CertificateSigningRequest" },
        { "autoscaling/v2", "HorizontalPodAutoscaler" },
        { "autoscaling/v1", "Scale" },
        { "apps/v1", "DeleteOptions" }, /* meta.v1, under every group */
    };
    for (size_t i = 0; i < EK_ARRAY_SIZE(kinds); i++) {
        const ek_schema_type_t *t = ek_schema_type_for_kind(kinds[i][0], kinds[i][1]);
        if (!t || !t->pb) {
            ek__test_fail(__FILE__, __LINE__, "%s %s: %s", kinds[i][0], kinds[i][1],
                          t ? "not protobuf-capable" : "no schema type");
        }
    }
    ASSERT_TRUE(ek_schema_type_for_kind("apps/v1", "ConfigMap") == NULL);
    ASSERT_TRUE(ek_schema_type_for_kind("v1", "Event") == ek_schema_type("Event"));
    ASSERT_TRUE(ek_schema_type_for_kind("events.k8s.io/v1", "Event") ==
                ek_schema_type("events.v1.Event"));
    ASSERT_TRUE(ek_schema_type_for_kind("apps/v1beta1", "Deployment") == NULL);
    ASSERT_TRUE(ek_schema_type_for_kind("v1/x", "Pod") == NULL);
    ASSERT_TRUE(ek_schema_type_for_kind("v1", "") == NULL);

    /* Every field of every built-in type has a number (or pb=-), once per type; only
     * apiextensions (whose numbers kubectl does not carry; CRDs never come as protobuf from
     * kubectl) is left out. */
    const ek_schema_type_t *all;
    size_t n = ek_schema_types(&all);
    size_t numbered = 0;
    for (size_t i = 0; i < n; i++) {
        const ek_schema_type_t *t = &all[i];
        if (ek_has_prefix(t->package, "apiextensions.")) {
            ASSERT_FALSE(t->pb);
            continue;
        }
        for (size_t k = 0; k < t->n_fields; k++) {
            const ek_schema_field_t *f = &t->fields[k];
            if (!f->pb[0] && !(f->flags & EK_SF_PB_NONE)) {
                ek__test_fail(__FILE__, __LINE__, "%s.%s has no protobuf number", t->id, f->name);
            }
            for (size_t j = 0; f->pb[0] && j < k; j++) {
                if (memcmp(f->pb, t->fields[j].pb, sizeof(f->pb)) == 0) {
                    ek__test_fail(__FILE__, __LINE__, "%s: %s and %s share a number", t->id,
                                  t->fields[j].name, f->name);
                }
            }
            /* Only the type meta of kinds lives outside the message. */
            if (f->flags & EK_SF_PB_NONE) {
                ASSERT_TRUE(strcmp(f->name, "apiVersion") == 0 || strcmp(f->name, "kind") == 0);
            }
        }
        ASSERT_TRUE(t->pb);
        numbered++;
    }
    ASSERT_CMP(numbered, >, 300);
    /* Spot checks against k8s.io/api's generated.proto. */
    const ek_schema_type_t *ds = ek_schema_type("DeploymentSpec");
    ASSERT_EQ(ek_schema_field(ds, "progressDeadlineSeconds")->pb[0], 9);
    ASSERT_TRUE(ek_schema_field(ds, "replicas")->flags & EK_SF_PB_PTR);
    ASSERT_FALSE(ek_schema_field(ds, "minReadySeconds")->flags & EK_SF_PB_PTR);
    const ek_schema_field_t *cm = ek_schema_field(ek_schema_type("Volume"), "configMap");
    ASSERT_EQ(cm->pb[0], 2);
    ASSERT_EQ(cm->pb[1], 19);
    ASSERT_TRUE(ek_schema_field(ek_schema_type("LeaseSpec"), "renewTime")->flags & EK_SF_MICRO);
}
