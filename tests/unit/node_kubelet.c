/* SPDX-License-Identifier: Apache-2.0 */
/*
 * node/kubelet's pure parts, as a user would see their results in a container: $(VAR)
 * expansion, the environment (envFrom, env, valueFrom, missing sources and their errors), the
 * command line merged with the image's Entrypoint/Cmd, QoS classes, the pod phase, and
 * resolv.conf for ClusterFirst.
 */
#include "node/kubelet-internal.h"
#include "tests/unit/test.h"

static json_t *js(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad JSON in test: %s: %s", je.text, text);
    }
    return v;
}

static const char *fixed_lookup(const char *name, void *data)
{
    EK_UNUSED(data);
    return strcmp(name, "A") == 0 ? "x" : strcmp(name, "B") == 0 ? "y" : NULL;
}

TEST(kubelet_expand)
{
    ek_autofree char *a = ek__kl_expand("$(A)-$(B)-$$(A)-$(NOPE)-$(A", fixed_lookup, NULL);
    ASSERT_STREQ(a, "x-y-$(A)-$(NOPE)-$(A");
    ek_autofree char *b = ek__kl_expand("plain $ and $$ and $x", fixed_lookup, NULL);
    ASSERT_STREQ(b, "plain $ and $ and $x");
    ek_autofree char *c = ek__kl_expand("", fixed_lookup, NULL);
    ASSERT_STREQ(c, "");
}

static json_t *g_cm, *g_secret;

static json_t *get_cm(const char *ns, const char *name, void *data)
{
    EK_UNUSED(data);
    return strcmp(ns, "default") == 0 && strcmp(name, "cfg") == 0 ? g_cm : NULL;
}

static json_t *get_secret(const char *ns, const char *name, void *data)
{
    EK_UNUSED(data);
    return strcmp(ns, "default") == 0 && strcmp(name, "sec") == 0 ? g_secret : NULL;
}

static ek__kl_sources_t sources(void)
{
    ek__kl_sources_t s = {
        .configmap = get_cm,
        .secret = get_secret,
        .node_name = "node1",
        .host_ip = "192.0.2.1",
        .pod_ip = "10.42.0.5",
        .node_cpu_milli = 4000,
        .node_memory = 1 << 30,
    };
    return s;
}

TEST(kubelet_env)
{
    g_cm = js("{\"metadata\":{\"name\":\"cfg\"},\"data\":{\"greeting\":\"hello\",\"color\":"
              "\"blue\",\"bad-name!\":\"z\"}}");
    /* "czNjcmV0" is base64 for "s3cret". */
    g_secret = js("{\"metadata\":{\"name\":\"sec\"},\"data\":{\"password\":\"czNjcmV0\"}}");
    json_t *pod = js("{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\",\"labels\":"
                     "{\"app\":\"w\"}},\"spec\":{\"enableServiceLinks\":false,\"containers\":[{"
                     "\"name\":\"c\",\"envFrom\":[{\"prefix\":\"CFG_\",\"configMapRef\":"
                     "{\"name\":\"cfg\"}},{\"prefix\":\"NO=\",\"configMapRef\":{\"name\":"
                     "\"cfg\"}}],\"env\":["
                     "{\"name\":\"GREETING\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\","
                     "\"key\":\"greeting\"}}},"
                     "{\"name\":\"PASSWORD\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"sec\","
                     "\"key\":\"password\"}}},"
                     "{\"name\":\"POD\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":"
                     "\"metadata.name\"}}},"
                     "{\"name\":\"NODE\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":"
                     "\"spec.nodeName\"}}},"
                     "{\"name\":\"WHO\",\"value\":\"who-$(GREETING)-$(LATER)\"},"
                     "{\"name\":\"LATER\",\"value\":\"l\"}]}]}}");
    json_t *ctr = json_array_get(json_object_get(json_object_get(pod, "spec"), "containers"), 0);
    ek__kl_sources_t src = sources();
    ek__kl_env_t env;
    ek_error_t *err = NULL;
    char *skipped = NULL;
    ASSERT_OK(ek__kl_make_env(pod, ctr, &src, &env, &skipped, &err), &err);
    ASSERT_STREQ(ek__kl_env_get(&env, "CFG_greeting"), "hello");
    ASSERT_STREQ(ek__kl_env_get(&env, "CFG_color"), "blue");
    /* Relaxed names (any printable but '=', Kubernetes 1.32's default); '=' is skipped. */
    ASSERT_STREQ(ek__kl_env_get(&env, "CFG_bad-name!"), "z");
    ASSERT_TRUE(ek__kl_env_get(&env, "NO=greeting") == NULL);
    ASSERT_NOT_NULL(skipped);
    ASSERT_CONTAINS(skipped, "NO=greeting");
    ASSERT_STREQ(ek__kl_env_get(&env, "GREETING"), "hello");
    ASSERT_STREQ(ek__kl_env_get(&env, "PASSWORD"), "s3cret");
    ASSERT_STREQ(ek__kl_env_get(&env, "POD"), "web");
    ASSERT_STREQ(ek__kl_env_get(&env, "NODE"), "node1");
    /* $(VAR) sees only what came before: LATER stays as written. */
    ASSERT_STREQ(ek__kl_env_get(&env, "WHO"), "who-hello-$(LATER)");
    free(skipped);
    ek__kl_env_free(&env);

    /* A missing key, then a missing ConfigMap: the kubelet's messages, status 404 (which the
     * kubelet reports as CreateContainerConfigError). */
    json_t *bad = js("{\"name\":\"c\",\"env\":[{\"name\":\"X\",\"valueFrom\":{\"configMapKeyRef\":"
                     "{\"name\":\"cfg\",\"key\":\"nokey\"}}}]}");
    ASSERT_EQ(ek__kl_make_env(pod, bad, &src, &env, NULL, &err), -1);
    ASSERT_EQ(err->status, 404);
    ASSERT_STREQ(ek_error_msg(err), "couldn't find key nokey in ConfigMap default/cfg");
    ek_error_free(err);
    err = NULL;
    json_decref(bad);
    bad = js("{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"absent\"}}]}");
    ASSERT_EQ(ek__kl_make_env(pod, bad, &src, &env, NULL, &err), -1);
    ASSERT_EQ(err->status, 404);
    ASSERT_STREQ(ek_error_msg(err), "configmap \"absent\" not found");
    ek_error_free(err);
    err = NULL;
    json_decref(bad);
    /* optional: no error, no variables. */
    bad = js("{\"name\":\"c\",\"envFrom\":[{\"configMapRef\":{\"name\":\"absent\","
             "\"optional\":true}}]}");
    ASSERT_OK(ek__kl_make_env(pod, bad, &src, &env, NULL, &err), &err);
    ASSERT_EQ(env.n, (size_t)0);
    ek__kl_env_free(&env);
    json_decref(bad);
    /* An unsupported fieldPath is the user's error (400), not a missing object. */
    char *v = ek__kl_field_ref(pod, "metadata.nonsense", &src, &err);
    ASSERT_TRUE(v == NULL);
    ASSERT_EQ(err->status, 400);
    ek_error_free(err);
    json_decref(pod);
    json_decref(g_cm);
    json_decref(g_secret);
}

static char *joined(char **v)
{
    ek_buf_t b = EK_BUF_INIT;
    ek_buf_puts(&b, "");
    for (size_t i = 0; v && v[i]; i++) {
        ek_buf_printf(&b, "%s%s", i ? "|" : "", v[i]);
        free(v[i]);
    }
    free(v);
    return ek_buf_steal(&b, NULL);
}

static char *command_of(const char *ctr_json, const char *image_json, ek_error_t **err)
{
    json_t *ctr = js(ctr_json), *img = js(image_json);
    ek__kl_env_t env = { 0 };
    ek__kl_env_set(&env, "WHO", "world");
    char **v = ek__kl_command(ctr, img, &env, err);
    ek__kl_env_free(&env);
    json_decref(ctr);
    json_decref(img);
    return v ? joined(v) : NULL;
}

TEST(kubelet_command)
{
    const char *img = "{\"Entrypoint\":[\"/entry\"],\"Cmd\":[\"default\",\"arg\"]}";
    ek_error_t *err = NULL;
    ek_autofree char *a = command_of("{}", img, &err);
    ASSERT_STREQ(a, "/entry|default|arg");
    /* args alone replace Cmd; command alone replaces Entrypoint and drops Cmd. */
    ek_autofree char *b = command_of("{\"args\":[\"hi\",\"$(WHO)\"]}", img, &err);
    ASSERT_STREQ(b, "/entry|hi|world");
    ek_autofree char *c = command_of("{\"command\":[\"sh\",\"-c\"]}", img, &err);
    ASSERT_STREQ(c, "sh|-c");
    ek_autofree char *d =
        command_of("{\"command\":[\"echo\"],\"args\":[\"$(WHO)\",\"$$(WHO)\"]}", img, &err);
    ASSERT_STREQ(d, "echo|world|$(WHO)");
    /* An Entrypoint of [""] means none. */
    ek_autofree char *e = command_of("{}", "{\"Entrypoint\":[\"\"],\"Cmd\":[\"sh\"]}", &err);
    ASSERT_STREQ(e, "sh");
    char *f = command_of("{}", "{}", &err);
    ASSERT_TRUE(f == NULL);
    ASSERT_STREQ(ek_error_msg(err), "no command specified");
    ek_error_free(err);
}

TEST(kubelet_qos_class)
{
    json_t *g = js("{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"limits\":"
                   "{\"cpu\":\"1\",\"memory\":\"64Mi\"},\"requests\":{\"cpu\":\"1\","
                   "\"memory\":\"64Mi\"}}}]}}");
    json_t *b = js("{\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":"
                   "{\"memory\":\"64Mi\"}}},{\"name\":\"d\"}]}}");
    json_t *e = js("{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}");
    ASSERT_STREQ(ek__kl_qos_class(g), "Guaranteed");
    ASSERT_STREQ(ek__kl_qos_class(b), "Burstable");
    ASSERT_STREQ(ek__kl_qos_class(e), "BestEffort");
    json_decref(g);
    json_decref(b);
    json_decref(e);
}

static const char *phase_of(const char *policy, ek__kl_cstate_t st, int exit_code)
{
    ek_autofree char *text =
        ek_xasprintf("{\"spec\":{\"restartPolicy\":\"%s\",\"containers\":[{\"name\":\"c\"}]}}",
                     policy);
    json_t *pod = js(text);
    ek__kl_cview_t c = { .name = "c", .state = st };
    c.term.exit_code = exit_code;
    ek__kl_pview_t v = { .pod = pod, .c = &c, .n = 1, .sandbox_ready = true };
    const char *phase = ek__kl_phase(&v);
    json_decref(pod);
    return phase;
}

TEST(kubelet_phase)
{
    ASSERT_STREQ(phase_of("Never", EK__KL_TERMINATED, 0), "Succeeded");
    ASSERT_STREQ(phase_of("Never", EK__KL_TERMINATED, 3), "Failed");
    ASSERT_STREQ(phase_of("Always", EK__KL_RUNNING, 0), "Running");
    ASSERT_STREQ(phase_of("Always", EK__KL_WAITING, 0), "Pending");
    ASSERT_STREQ(phase_of("Always", EK__KL_NONE, 0), "Pending");
}

TEST(kubelet_resolv_conf)
{
    json_t *pod = js("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns1\"},\"spec\":{}}");
    ek_autofree char *r = ek__kl_resolv_conf(pod, "nameserver 192.0.2.53\nsearch example.org\n",
                                             "10.43.0.10", "cluster.local");
    ASSERT_CONTAINS(r, "nameserver 10.43.0.10");
    ASSERT_CONTAINS(r, "search ns1.svc.cluster.local svc.cluster.local cluster.local example.org");
    ASSERT_CONTAINS(r, "options ndots:5");
    ASSERT_TRUE(strstr(r, "192.0.2.53") == NULL);
    json_decref(pod);
    pod = js("{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns1\"},\"spec\":{\"dnsPolicy\":"
             "\"Default\"}}");
    ek_autofree char *d =
        ek__kl_resolv_conf(pod, "nameserver 192.0.2.53\n", "10.43.0.10", "cluster.local");
    ASSERT_CONTAINS(d, "nameserver 192.0.2.53");
    ASSERT_TRUE(strstr(d, "10.43.0.10") == NULL);
    json_decref(pod);
}
