/* SPDX-License-Identifier: Apache-2.0 */
/* The Deployment controller's arithmetic and the pod-template-hash, against the values
 * Kubernetes' deployment_util.go and controller.ComputeHash produce. */
#include "server/controllers/controllers-internal.h"
#include "tests/unit/test.h"

static json_t *dep(int replicas, const char *type, json_t *surge, json_t *unavail)
{
    json_t *d =
        json_pack("{s:{s:i,s:{s:s}}}", "spec", "replicas", replicas, "strategy", "type", type);
    if (surge || unavail) {
        json_t *ru = json_object();
        if (surge) {
            json_object_set_new(ru, "maxSurge", surge);
        }
        if (unavail) {
            json_object_set_new(ru, "maxUnavailable", unavail);
        }
        json_object_set_new(ek_json_path(d, "spec", "strategy", NULL), "rollingUpdate", ru);
    }
    return d;
}

static int scaled(const char *s, int total, bool up)
{
    json_t *v = json_string(s);
    int out = -99;
    ASSERT_EQ(intstr_scaled(v, total, up, &out), 0);
    json_decref(v);
    return out;
}

TEST(deployment_intstr_percent_rounding)
{
    ASSERT_EQ(scaled("25%", 3, true), 1);  /* maxSurge rounds up */
    ASSERT_EQ(scaled("25%", 3, false), 0); /* maxUnavailable rounds down */
    ASSERT_EQ(scaled("50%", 5, true), 3);
    ASSERT_EQ(scaled("50%", 5, false), 2);
    ASSERT_EQ(scaled("100%", 7, false), 7);
    ASSERT_EQ(scaled("0%", 7, true), 0);
    ASSERT_EQ(scaled("33%", 10, true), 4);
    int out;
    json_t *i = json_integer(2);
    ASSERT_EQ(intstr_scaled(i, 10, true, &out), 0);
    ASSERT_EQ(out, 2);
    json_decref(i);
    json_t *bad = json_string("10");
    ASSERT_EQ(intstr_scaled(bad, 10, true, &out), -1);
    json_decref(bad);
    bad = json_string("x%");
    ASSERT_EQ(intstr_scaled(bad, 10, true, &out), -1);
    json_decref(bad);
    ASSERT_EQ(intstr_scaled(NULL, 10, true, &out), 0);
    ASSERT_EQ(out, 0);
}

TEST(deployment_fenceposts)
{
    json_t *d = dep(3, "RollingUpdate", json_string("25%"), json_string("25%"));
    ASSERT_EQ(deploy_max_surge(d), 1);
    ASSERT_EQ(deploy_max_unavailable(d), 0);
    json_decref(d);
    /* Both resolve to zero: one pod may be unavailable. */
    d = dep(3, "RollingUpdate", json_integer(0), json_string("25%"));
    ASSERT_EQ(deploy_max_surge(d), 0);
    ASSERT_EQ(deploy_max_unavailable(d), 1);
    json_decref(d);
    /* Capped at spec.replicas; zero replicas or Recreate: none. */
    d = dep(2, "RollingUpdate", json_integer(1), json_integer(5));
    ASSERT_EQ(deploy_max_unavailable(d), 2);
    json_decref(d);
    d = dep(0, "RollingUpdate", json_integer(1), json_integer(5));
    ASSERT_EQ(deploy_max_unavailable(d), 0);
    json_decref(d);
    d = dep(4, "Recreate", NULL, NULL);
    ASSERT_EQ(deploy_max_surge(d), 0);
    ASSERT_EQ(deploy_max_unavailable(d), 0);
    json_decref(d);
}

TEST(deployment_new_rs_replicas)
{
    json_t *d = dep(10, "RollingUpdate", json_integer(3), json_integer(2));
    ASSERT_EQ(deploy_new_rs_replicas(d, 10, 0), 3); /* surge room */
    ASSERT_EQ(deploy_new_rs_replicas(d, 13, 3), 3); /* at 10+3 */
    ASSERT_EQ(deploy_new_rs_replicas(d, 11, 3), 5); /* two more fit */
    ASSERT_EQ(deploy_new_rs_replicas(d, 9, 9), 10); /* never past spec.replicas */
    json_decref(d);
    d = dep(4, "Recreate", NULL, NULL);
    ASSERT_EQ(deploy_new_rs_replicas(d, 4, 0), 4);
    json_decref(d);
}

TEST(deployment_proportional_scaling)
{
    /* A stuck rollout 8 old + 5 new (max-replicas 13) scaled from 10 to 20, maxSurge 3: each
     * keeps its share of 23, largest first: 8*23/13 = 14.2 → 14, 5*23/13 = 8.8 → 9. */
    prop_rs_t up[] = { { 8, 13, 0 }, { 5, 13, 0 } };
    deploy_scale_proportionally(up, 2, 20, 3, 13);
    ASSERT_EQ(up[0].new_size, 14);
    ASSERT_EQ(up[1].new_size, 9);
    /* And back down to 10 (allowed 13): 14*13/23 = 7.9 → 8, then the rest: 5. */
    prop_rs_t down[] = { { 14, 23, 0 }, { 9, 23, 0 } };
    deploy_scale_proportionally(down, 2, 10, 3, 23);
    ASSERT_EQ(down[0].new_size, 8);
    ASSERT_EQ(down[1].new_size, 5);
    /* Rounding leftovers go to the first ReplicaSet. */
    prop_rs_t left[] = { { 1, 3, 0 }, { 1, 3, 0 }, { 1, 3, 0 } };
    deploy_scale_proportionally(left, 3, 4, 0, 3);
    ASSERT_EQ(left[0].new_size, 2);
    ASSERT_EQ(left[1].new_size, 1);
    ASSERT_EQ(left[2].new_size, 1);
    /* To zero: everything goes. */
    prop_rs_t zero[] = { { 4, 6, 0 }, { 2, 6, 0 } };
    deploy_scale_proportionally(zero, 2, 0, 1, 6);
    ASSERT_EQ(zero[0].new_size, 0);
    ASSERT_EQ(zero[1].new_size, 0);
    /* No max-replicas annotation: the deployment's status.replicas is the base. */
    prop_rs_t manual[] = { { 4, 0, 0 } };
    deploy_scale_proportionally(manual, 1, 8, 0, 4);
    ASSERT_EQ(manual[0].new_size, 8);
}

TEST(deployment_revision_history)
{
    char *h = deploy_revision_history(NULL, "1", 2000);
    ASSERT_STREQ(h, "1");
    free(h);
    h = deploy_revision_history("1,3", "5", 2000);
    ASSERT_STREQ(h, "1,3,5");
    free(h);
    h = deploy_revision_history("1,2,3", "4", 5); /* the oldest entries give way */
    ASSERT_STREQ(h, "2,3,4");
    free(h);
    h = deploy_revision_history("10,11,12", "13", 6);
    ASSERT_STREQ(h, "12,13");
    free(h);
    ASSERT_TRUE(deploy_revision_history("1", "123", 2) == NULL);
}

TEST(deployment_template_equality)
{
    json_t *a = json_pack("{s:{s:{s:s,s:s}},s:{s:[{s:s,s:s,s:{}}]}}", "metadata", "labels", "app",
                          "web", POD_TEMPLATE_HASH_LABEL, "abc", "spec", "containers", "name", "c",
                          "image", "nginx", "resources");
    json_t *b = json_pack("{s:{s:{s:s},s:n},s:{s:[{s:s,s:s}],s:b}}", "metadata", "labels", "app",
                          "web", "creationTimestamp", "spec", "containers", "name", "c", "image",
                          "nginx", "hostNetwork", 0);
    ASSERT_TRUE(template_equal_ignore_hash(a, b));
    json_object_set_new(json_array_get(ek_json_path(b, "spec", "containers", NULL), 0), "image",
                        json_string("nginx:2"));
    ASSERT_FALSE(template_equal_ignore_hash(a, b));
    json_decref(a);
    json_decref(b);
}

static json_t *web_template(void)
{
    return json_pack(
        "{s:{s:n,s:{s:s}},s:{s:[{s:s,s:s,s:[{s:i,s:s}],s:{s:{s:s},s:{s:s,s:s}},s:s,s:s,"
        "s:s}],s:s,s:i,s:s,s:{},s:s}}",
        "metadata", "creationTimestamp", "labels", "app", "web", "spec", "containers", "name",
        "nginx", "image", "nginx:1.25", "ports", "containerPort", 80, "protocol", "TCP",
        "resources", "limits", "memory", "128Mi", "requests", "cpu", "100m", "memory", "64Mi",
        "terminationMessagePath", "/dev/termination-log", "terminationMessagePolicy", "File",
        "imagePullPolicy", "IfNotPresent", "restartPolicy", "Always",
        "terminationGracePeriodSeconds", 30, "dnsPolicy", "ClusterFirst", "securityContext",
        "schedulerName", "default-scheduler");
}

TEST(deployment_pod_template_spew)
{
    json_t *t = web_template();
    char *s = pod_template_spew(t);
    ASSERT_CONTAINS(s, "(v1.PodTemplateSpec){ObjectMeta:(v1.ObjectMeta){Name:(string) "
                       "GenerateName:(string) Namespace:(string) SelfLink:(string) "
                       "UID:(types.UID) ResourceVersion:(string) Generation:(int64)0 "
                       "CreationTimestamp:(v1.Time){Time:(time.Time){wall:(uint64)0 ext:(int64)0 "
                       "loc:(*time.Location)<nil>}} DeletionTimestamp:(*v1.Time)<nil> ");
    ASSERT_CONTAINS(s,
                    "Labels:(map[string]string)map[app:web] Annotations:(map[string]string)<nil>");
    ASSERT_CONTAINS(
        s, "Spec:(v1.PodSpec){Volumes:([]v1.Volume)<nil> InitContainers:([]v1.Container)"
           "<nil> Containers:([]v1.Container)[{Name:(string)nginx Image:(string)nginx:1.25 "
           "Command:([]string)<nil>");
    ASSERT_CONTAINS(s, "Ports:([]v1.ContainerPort)[{Name:(string) HostPort:(int32)0 "
                       "ContainerPort:(int32)80 Protocol:(v1.Protocol)TCP HostIP:(string)}]");
    ASSERT_CONTAINS(s, "Limits:(v1.ResourceList)map[memory:{i:(resource.int64Amount){value:(int64)"
                       "134217728 scale:(resource.Scale)0} d:(resource.infDecAmount){Dec:(*inf.Dec)"
                       "<nil>} s:(string) Format:(resource.Format)BinarySI}]");
    /* ParseQuantity keeps the text of "100m" (canonical) but not of "128Mi" (its heuristic
     * keeps binary text only for values not divisible by 8). */
    ASSERT_CONTAINS(s, "cpu:{i:(resource.int64Amount){value:(int64)100 scale:(resource.Scale)-3} "
                       "d:(resource.infDecAmount){Dec:(*inf.Dec)<nil>} s:(string)100m ");
    ASSERT_CONTAINS(s,
                    "TerminationGracePeriodSeconds:(*int64)30 ActiveDeadlineSeconds:(*int64)<nil>");
    ASSERT_CONTAINS(s, "SecurityContext:(*v1.PodSecurityContext){SELinuxOptions:"
                       "(*v1.SELinuxOptions)<nil>");
    ASSERT_CONTAINS(s, "Resources:(*v1.ResourceRequirements)<nil>}}");
    free(s);
    json_decref(t);
}

TEST(deployment_pod_template_hash)
{
    json_t *t = web_template();
    char *h1 = pod_template_hash(t, NULL);
    char *h1b = pod_template_hash(t, NULL);
    ASSERT_STREQ(h1, h1b);                               /* deterministic */
    ASSERT_TRUE(strspn(h1, "456789bcdf") == strlen(h1)); /* SafeEncodeString of decimal digits */
    ASSERT_TRUE(strlen(h1) >= 1 && strlen(h1) <= 10);
    json_t *one = json_integer(1);
    char *h2 = pod_template_hash(t, one);
    ASSERT_TRUE(strcmp(h1, h2) != 0); /* a collision count changes it */
    json_object_set_new(ek_json_path(t, "metadata", "labels", NULL), "tier", json_string("x"));
    char *h3 = pod_template_hash(t, NULL);
    ASSERT_TRUE(strcmp(h1, h3) != 0);
    free(h1);
    free(h1b);
    free(h2);
    free(h3);
    json_decref(one);
    json_decref(t);
}

TEST(deployment_pod_template_hash_golden)
{
    /* go-spew 1.1.1 and Go's FNV-32a, run over Go types with these fields, print the same text
     * and give this hash; a change here changes every Deployment's ReplicaSet names. */
    const char *tmpl =
        "{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\",\"tier\":\"fe\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.25\",\"ports\":[{"
        "\"containerPort\":80,\"protocol\":\"TCP\"}],\"env\":[{\"name\":\"A\",\"value\":\"1\"}],"
        "\"resources\":{\"requests\":{\"cpu\":\"100m\",\"memory\":\"64Mi\"}},\"readinessProbe\":"
        "{\"httpGet\":{\"path\":\"/\",\"port\":80,\"scheme\":\"HTTP\"},\"timeoutSeconds\":1,"
        "\"periodSeconds\":10,\"successThreshold\":1,\"failureThreshold\":3},"
        "\"terminationMessagePath\":\"/dev/termination-log\",\"terminationMessagePolicy\":\"File\","
        "\"imagePullPolicy\":\"IfNotPresent\"}],\"volumes\":[{\"name\":\"v\",\"emptyDir\":{}}],"
        "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30,\"dnsPolicy\":"
        "\"ClusterFirst\",\"nodeName\":\"sim-0\",\"securityContext\":{},\"schedulerName\":"
        "\"default-scheduler\"}}";
    json_t *t = json_loads(tmpl, 0, NULL);
    ASSERT_TRUE(t != NULL);
    char *h = pod_template_hash(t, NULL);
    ASSERT_STREQ(h, "7bfbf68897");
    char *s = pod_template_spew(t);
    ASSERT_CONTAINS(s, "ReadinessProbe:(*v1.Probe){ProbeHandler:(v1.ProbeHandler){Exec:"
                       "(*v1.ExecAction)<nil> HTTPGet:(*v1.HTTPGetAction){Path:(string)/ "
                       "Port:(intstr.IntOrString){Type:(intstr.Type)0 IntVal:(int32)80 "
                       "StrVal:(string)} Host:(string) Scheme:(v1.URIScheme)HTTP");
    ASSERT_CONTAINS(s, "Volumes:([]v1.Volume)[{Name:(string)v VolumeSource:(v1.VolumeSource){"
                       "HostPath:(*v1.HostPathVolumeSource)<nil> EmptyDir:"
                       "(*v1.EmptyDirVolumeSource){Medium:(v1.StorageMedium) "
                       "SizeLimit:(*resource.Quantity)<nil>}");
    free(s);
    free(h);
    json_decref(t);
}
