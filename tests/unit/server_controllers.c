/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The controllers' pure decisions: Endpoints subsets and EndpointSlice groups for a Service and
 * its pods, named target ports, the garbage collector's verdict on an object, taint eviction
 * delays, zone states and namespace deletion conditions.
 */
#include "server/controllers/controllers-internal.h"
#include "tests/unit/test.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON: %s: %s", e.text, text);
    }
    return v;
}

/* A pod in namespace ns with labels app=web, serving port "http" on number port. */
static json_t *pod(const char *name, const char *ip, int port, bool ready, const char *extra)
{
    json_t *p =
        json_pack("{s:{s:s,s:s,s:s,s:{s:s}},s:{s:s,s:[{s:s,s:[{s:s,s:i}]}]},"
                  "s:{s:s,s:s,s:[{s:s,s:s}]}}",
                  "metadata", "name", name, "namespace", "ns", "uid", name, "labels", "app", "web",
                  "spec", "nodeName", "n1", "containers", "name", "c", "ports", "name", "http",
                  "containerPort", port, "status", "phase", "Running", "podIP", ip, "conditions",
                  "type", "Ready", "status", ready ? "True" : "False");
    if (extra) {
        json_t *x = J(extra);
        json_object_update_recursive(p, x);
        json_decref(x);
    }
    return p;
}

static json_t *service(const char *extra)
{
    json_t *s = J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\",\"uid\":\"svc-uid\"},"
                  "\"spec\":{\"selector\":{\"app\":\"web\"},\"clusterIP\":\"10.43.0.5\","
                  "\"ipFamilies\":[\"IPv4\"],"
                  "\"ports\":[{\"name\":\"h\",\"port\":80,\"protocol\":\"TCP\","
                  "\"targetPort\":\"http\"}]}}");
    if (extra) {
        json_t *x = J(extra);
        json_object_update_recursive(s, x);
        json_decref(x);
    }
    return s;
}

static const char *ip_at(const json_t *subsets, size_t ss, const char *list, size_t i)
{
    return ek_json_str(json_array_get(json_object_get(json_array_get(subsets, ss), list), i), "ip",
                       NULL);
}

static size_t count_at(const json_t *subsets, size_t ss, const char *list)
{
    return json_array_size(json_object_get(json_array_get(subsets, ss), list));
}

TEST(endpoints_ready_not_ready_and_named_ports)
{
    json_t *svc = service(NULL);
    json_t *pods[] = {
        pod("a", "10.42.0.2", 8080, true, NULL),
        pod("b", "10.42.0.3", 8080, false, NULL),
        pod("c", "10.42.0.4", 9090, true, NULL), /* the same name, another number */
        pod("d", "10.42.0.5", 8080, true, "{\"metadata\":{\"deletionTimestamp\":\"x\"}}"),
        pod("e", "", 8080, true, NULL),
        pod("f", "10.42.0.7", 8080, true, "{\"status\":{\"phase\":\"Succeeded\"}}"),
    };
    json_t *subsets = endpoints_subsets(svc, pods, EK_ARRAY_SIZE(pods));
    ASSERT_EQ(json_array_size(subsets), 2);
    /* Sorted by address set; find the 8080 subset. */
    size_t s80 =
        ek_json_int(json_array_get(json_object_get(json_array_get(subsets, 0), "ports"), 0), 0,
                    "port", NULL) == 8080
            ? 0
            : 1;
    ASSERT_EQ(count_at(subsets, s80, "addresses"), 1);
    ASSERT_STREQ(ip_at(subsets, s80, "addresses", 0), "10.42.0.2");
    ASSERT_EQ(count_at(subsets, s80, "notReadyAddresses"), 1);
    ASSERT_STREQ(ip_at(subsets, s80, "notReadyAddresses", 0), "10.42.0.3");
    const json_t *p = json_array_get(json_object_get(json_array_get(subsets, s80), "ports"), 0);
    ASSERT_STREQ(ek_json_str(p, "name", NULL), "h");
    ASSERT_STREQ(ek_json_str(p, "protocol", NULL), "TCP");
    ASSERT_STREQ(ip_at(subsets, 1 - s80, "addresses", 0), "10.42.0.4");
    ASSERT_EQ(
        ek_json_int(json_array_get(json_object_get(json_array_get(subsets, 1 - s80), "ports"), 0),
                    0, "port", NULL),
        9090);
    const json_t *a = json_array_get(json_object_get(json_array_get(subsets, s80), "addresses"), 0);
    ASSERT_STREQ(ek_json_str(a, "nodeName", NULL), "n1");
    ASSERT_STREQ(ek_json_str(a, "targetRef", "kind", NULL), "Pod");
    ASSERT_STREQ(ek_json_str(a, "targetRef", "name", NULL), "a");
    json_decref(subsets);
    for (size_t i = 0; i < EK_ARRAY_SIZE(pods); i++) {
        json_decref(pods[i]);
    }
    json_decref(svc);
}

TEST(endpoints_publish_not_ready_addresses)
{
    json_t *svc = service("{\"spec\":{\"publishNotReadyAddresses\":true}}");
    json_t *pods[] = {
        pod("b", "10.42.0.3", 8080, false, NULL),
        pod("d", "10.42.0.5", 8080, true, "{\"metadata\":{\"deletionTimestamp\":\"x\"}}"),
    };
    json_t *subsets = endpoints_subsets(svc, pods, 2);
    ASSERT_EQ(json_array_size(subsets), 1);
    ASSERT_EQ(count_at(subsets, 0, "addresses"), 2);
    ASSERT_EQ(count_at(subsets, 0, "notReadyAddresses"), 0);
    ASSERT_STREQ(ip_at(subsets, 0, "addresses", 0), "10.42.0.3");
    ASSERT_STREQ(ip_at(subsets, 0, "addresses", 1), "10.42.0.5");
    json_decref(subsets);
    json_decref(pods[0]);
    json_decref(pods[1]);
    json_decref(svc);
}

TEST(endpoints_repack_ports_and_headless)
{
    /* Two ports served by the same pods: one subset listing both ports. */
    json_t *svc = service("{\"spec\":{\"ports\":[{\"name\":\"h\",\"port\":80,\"protocol\":\"TCP\","
                          "\"targetPort\":8080},{\"name\":\"m\",\"port\":81,\"protocol\":\"TCP\","
                          "\"targetPort\":9100}]}}");
    json_t *pods[] = { pod("b", "10.42.0.10", 8080, true, NULL),
                       pod("a", "10.42.0.9", 8080, true, NULL) };
    json_t *subsets = endpoints_subsets(svc, pods, 2);
    ASSERT_EQ(json_array_size(subsets), 1);
    ASSERT_EQ(count_at(subsets, 0, "ports"), 2);
    ASSERT_STREQ(ip_at(subsets, 0, "addresses", 0), "10.42.0.9"); /* numeric order */
    ASSERT_STREQ(ip_at(subsets, 0, "addresses", 1), "10.42.0.10");
    json_decref(subsets);
    json_decref(svc);
    /* A headless Service without ports still lists its pods, in a subset without ports. */
    svc = service("{\"spec\":{\"clusterIP\":\"None\",\"ports\":[]}}");
    subsets = endpoints_subsets(svc, pods, 2);
    ASSERT_EQ(json_array_size(subsets), 1);
    ASSERT_EQ(count_at(subsets, 0, "addresses"), 2);
    ASSERT_TRUE(json_object_get(json_array_get(subsets, 0), "ports") == NULL);
    json_decref(subsets);
    json_decref(svc);
    json_decref(pods[0]);
    json_decref(pods[1]);
}

TEST(find_port_named_numbered_sidecar)
{
    json_t *p = pod("a", "10.42.0.2", 8080, true,
                    "{\"spec\":{\"initContainers\":[{\"name\":\"s\",\"restartPolicy\":\"Always\","
                    "\"ports\":[{\"name\":\"side\",\"containerPort\":7000}]},{\"name\":\"i\","
                    "\"ports\":[{\"name\":\"init\",\"containerPort\":7001}]}]}}");
    json_t *sp = J("{\"port\":80,\"protocol\":\"TCP\",\"targetPort\":\"http\"}");
    ASSERT_EQ(pod_find_port(p, sp), 8080);
    json_object_set_new(sp, "protocol", json_string("UDP"));
    ASSERT_EQ(pod_find_port(p, sp), -1); /* named ports match the protocol too */
    json_object_set_new(sp, "protocol", json_string("TCP"));
    json_object_set_new(sp, "targetPort", json_integer(1234));
    ASSERT_EQ(pod_find_port(p, sp), 1234);
    json_object_set_new(sp, "targetPort", json_string("side"));
    ASSERT_EQ(pod_find_port(p, sp), 7000);
    json_object_set_new(sp, "targetPort", json_string("init"));
    ASSERT_EQ(pod_find_port(p, sp), -1); /* plain init containers serve nothing */
    json_decref(sp);
    json_decref(p);
}

TEST(endpointslice_conditions_and_groups)
{
    json_t *svc = service(NULL);
    json_t *pods[] = {
        pod("b", "10.42.0.3", 8080, false, NULL),
        pod("a", "10.42.0.2", 8080, true, "{\"spec\":{\"hostname\":\"h0\",\"subdomain\":\"web\"}}"),
        pod("d", "10.42.0.5", 8080, true, "{\"metadata\":{\"deletionTimestamp\":\"x\"}}"),
        pod("c", "10.42.0.4", 9090, true, NULL),
        pod("e", "", 8080, true, NULL),
    };
    json_t *groups = endpointslice_groups(svc, pods, EK_ARRAY_SIZE(pods), NULL);
    ASSERT_EQ(json_array_size(groups), 2);
    const json_t *g80 = json_array_get(groups, 0); /* sorted by ports: 8080 before 9090 */
    const json_t *port = json_array_get(json_object_get(g80, "ports"), 0);
    ASSERT_EQ(ek_json_int(port, 0, "port", NULL), 8080);
    ASSERT_STREQ(ek_json_str(port, "name", NULL), "h");
    const json_t *eps = json_object_get(g80, "endpoints");
    ASSERT_EQ(json_array_size(eps), 3); /* terminating pods stay, with their conditions */
    const json_t *a = json_array_get(eps, 0), *b = json_array_get(eps, 1),
                 *d = json_array_get(eps, 2);
    ASSERT_STREQ(ek_json_str(a, "targetRef", "name", NULL), "a");
    ASSERT_TRUE(ek_json_bool(a, 0, "conditions", "ready", NULL));
    ASSERT_STREQ(ek_json_str(a, "hostname", NULL), "h0");
    ASSERT_STREQ(ek_json_str(a, "nodeName", NULL), "n1");
    ASSERT_FALSE(ek_json_bool(b, 1, "conditions", "ready", NULL));
    ASSERT_FALSE(ek_json_bool(b, 1, "conditions", "serving", NULL));
    ASSERT_FALSE(ek_json_bool(d, 1, "conditions", "ready", NULL));
    ASSERT_TRUE(ek_json_bool(d, 0, "conditions", "serving", NULL));
    ASSERT_TRUE(ek_json_bool(d, 0, "conditions", "terminating", NULL));
    ASSERT_STREQ(ek_json_str(json_array_get(json_object_get(a, "addresses"), 0), NULL),
                 "10.42.0.2");
    json_decref(groups);
    json_decref(svc);
    /* publishNotReadyAddresses: ready even when not serving or terminating. */
    svc = service("{\"spec\":{\"publishNotReadyAddresses\":true}}");
    groups = endpointslice_groups(svc, pods, EK_ARRAY_SIZE(pods), NULL);
    eps = json_object_get(json_array_get(groups, 0), "endpoints");
    for (size_t i = 0; i < json_array_size(eps); i++) {
        ASSERT_TRUE(ek_json_bool(json_array_get(eps, i), 0, "conditions", "ready", NULL));
    }
    json_decref(groups);
    json_decref(svc);
    for (size_t i = 0; i < EK_ARRAY_SIZE(pods); i++) {
        json_decref(pods[i]);
    }
}

TEST(gc_decisions)
{
    /* No owners: never collected. */
    ASSERT_EQ(gc_decide(0, 0, 0, false, false, false, false), GC_KEEP);
    /* A live owner keeps it; gone or waiting owners' references are dropped. */
    ASSERT_EQ(gc_decide(1, 0, 0, false, false, false, false), GC_KEEP);
    ASSERT_EQ(gc_decide(1, 1, 0, false, false, false, false), GC_REMOVE_REFS);
    ASSERT_EQ(gc_decide(1, 0, 1, true, false, false, false), GC_REMOVE_REFS);
    /* Every owner gone: deleted, with its own finalizers choosing the propagation. */
    ASSERT_EQ(gc_decide(0, 2, 0, true, false, false, false), GC_DELETE_BACKGROUND);
    ASSERT_EQ(gc_decide(0, 1, 0, false, false, true, false), GC_DELETE_ORPHAN);
    ASSERT_EQ(gc_decide(0, 1, 0, false, false, false, true), GC_DELETE_FOREGROUND);
    /* An owner deleting in foreground: a leaf goes in background, a dependent with its own
     * dependents in foreground (unblocking first if one of those waits too). */
    ASSERT_EQ(gc_decide(0, 0, 1, false, false, false, false), GC_DELETE_BACKGROUND);
    ASSERT_EQ(gc_decide(0, 0, 1, true, false, false, false), GC_DELETE_FOREGROUND);
    ASSERT_EQ(gc_decide(0, 1, 1, true, true, false, false), GC_UNBLOCK_DELETE_FOREGROUND);
}

TEST(eviction_delays)
{
    json_t *taints = J("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\"},"
                       "{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoSchedule\"}]");
    json_t *none = json_array();
    ASSERT_EQ(eviction_delay_ms(taints, none), 0); /* not tolerated: at once */
    json_t *defaults = J("[{\"key\":\"node.kubernetes.io/not-ready\",\"operator\":\"Exists\","
                         "\"effect\":\"NoExecute\",\"tolerationSeconds\":300},"
                         "{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
                         "\"effect\":\"NoExecute\",\"tolerationSeconds\":300}]");
    ASSERT_EQ(eviction_delay_ms(taints, defaults), 300000);
    json_t *forever = J("[{\"operator\":\"Exists\"}]");
    ASSERT_EQ(eviction_delay_ms(taints, forever), -1);
    json_t *zero = J("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Exists\","
                     "\"tolerationSeconds\":0}]");
    ASSERT_EQ(eviction_delay_ms(taints, zero), 0);
    json_t *wrong_value = J("[{\"key\":\"node.kubernetes.io/unreachable\",\"operator\":\"Equal\","
                            "\"value\":\"x\",\"effect\":\"NoExecute\"}]");
    ASSERT_EQ(eviction_delay_ms(taints, wrong_value), 0);
    json_t *noschedule_only = J("[{\"key\":\"a\",\"effect\":\"NoSchedule\"}]");
    ASSERT_EQ(eviction_delay_ms(noschedule_only, none), -1); /* nothing to evict for */
    json_decref(noschedule_only);
    json_decref(wrong_value);
    json_decref(zero);
    json_decref(forever);
    json_decref(defaults);
    json_decref(none);
    json_decref(taints);
}

TEST(zone_states)
{
    ASSERT_EQ(zone_state(3, 0), 1);
    ASSERT_EQ(zone_state(2, 1), 1);
    ASSERT_EQ(zone_state(0, 1), 3);  /* every node down: fully disrupted */
    ASSERT_EQ(zone_state(1, 2), 1);  /* partial needs more than two down */
    ASSERT_EQ(zone_state(2, 3), 2);  /* 60 % down */
    ASSERT_EQ(zone_state(10, 3), 1); /* 23 % down */
}

TEST(namespace_deletion_conditions)
{
    json_t *conds = json_array();
    json_t *remaining = J("{\"pods.\":2,\"configmaps.\":1}");
    json_t *fins = J("{\"example.com/x\":1}");
    json_t *failures = json_array();
    ASSERT_TRUE(ns_deletion_conditions(conds, remaining, fins, failures, "T1"));
    ASSERT_EQ(json_array_size(conds), 5);
    const json_t *c = find_condition(conds, "NamespaceContentRemaining");
    ASSERT_STREQ(ek_json_str(c, "status", NULL), "True");
    ASSERT_STREQ(ek_json_str(c, "reason", NULL), "SomeResourcesRemain");
    ASSERT_STREQ(ek_json_str(c, "message", NULL),
                 "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 "
                 "resource instances");
    c = find_condition(conds, "NamespaceFinalizersRemaining");
    ASSERT_STREQ(ek_json_str(c, "message", NULL),
                 "Some content in the namespace has finalizers remaining: example.com/x in 1 "
                 "resource instances");
    c = find_condition(conds, "NamespaceDeletionContentFailure");
    ASSERT_STREQ(ek_json_str(c, "status", NULL), "False");
    ASSERT_STREQ(ek_json_str(c, "reason", NULL), "ContentDeleted");
    /* The same findings change nothing; a failure flips one condition with a new time. */
    ASSERT_FALSE(ns_deletion_conditions(conds, remaining, fins, failures, "T2"));
    json_array_append_new(failures, json_string("pods.: boom"));
    ASSERT_TRUE(ns_deletion_conditions(conds, remaining, fins, failures, "T3"));
    c = find_condition(conds, "NamespaceDeletionContentFailure");
    ASSERT_STREQ(ek_json_str(c, "status", NULL), "True");
    ASSERT_STREQ(ek_json_str(c, "reason", NULL), "ContentDeletionFailed");
    ASSERT_STREQ(ek_json_str(c, "message", NULL),
                 "Failed to delete all resource types, 1 remaining: pods.: boom");
    ASSERT_STREQ(ek_json_str(c, "lastTransitionTime", NULL), "T3");
    ASSERT_STREQ(
        ek_json_str(find_condition(conds, "NamespaceContentRemaining"), "lastTransitionTime", NULL),
        "T1");
    json_decref(failures);
    json_decref(fins);
    json_decref(remaining);
    json_decref(conds);
}

/* ServiceLB: every Ready, schedulable node's InternalIP, sorted and once each. */
TEST(servicelb_ingress_is_the_ready_nodes_addresses)
{
    json_t *nodes[] = {
        J("{\"metadata\":{\"name\":\"b\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}],\"addresses\":[{\"type\":\"Hostname\",\"address\":\"b\"},"
          "{\"type\":\"InternalIP\",\"address\":\"192.168.1.20\"}]}}"),
        J("{\"metadata\":{\"name\":\"a\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}],\"addresses\":[{\"type\":\"ExternalIP\",\"address\":\"1.2.3.4\"},"
          "{\"type\":\"InternalIP\",\"address\":\"192.168.1.10\"}]}}"),
        J("{\"metadata\":{\"name\":\"c\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"False\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
          "\"192.168.1.30\"}]}}"),
        J("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"unschedulable\":true},\"status\":{"
          "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],\"addresses\":[{\"type\":"
          "\"InternalIP\",\"address\":\"192.168.1.40\"}]}}"),
        J("{\"metadata\":{\"name\":\"e\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}],\"addresses\":[{\"type\":\"InternalIP\",\"address\":"
          "\"192.168.1.10\"}]}}"),
    };
    json_t *lb = J("{\"spec\":{\"type\":\"LoadBalancer\",\"ports\":[{\"port\":80}]}}");
    json_t *got = servicelb_ingress(lb, nodes, 5);
    char *s = json_dumps(got, JSON_COMPACT);
    ASSERT_STREQ(s, "[{\"ip\":\"192.168.1.10\"},{\"ip\":\"192.168.1.20\"}]");
    free(s);
    json_decref(got);
    /* No node ready: an empty list (kubectl shows <pending>). */
    got = servicelb_ingress(lb, nodes + 2, 2);
    ASSERT_EQ(json_array_size(got), 0);
    json_decref(got);
    /* Not a LoadBalancer: empty (a former ingress is removed). */
    json_t *cip = J("{\"spec\":{\"type\":\"ClusterIP\"}}");
    got = servicelb_ingress(cip, nodes, 5);
    ASSERT_TRUE(json_is_array(got) && json_array_size(got) == 0);
    json_decref(got);
    /* Another implementation's class: not ours. */
    json_t *other = J("{\"spec\":{\"type\":\"LoadBalancer\",\"loadBalancerClass\":\"x/y\"}}");
    ASSERT_TRUE(servicelb_ingress(other, nodes, 5) == NULL);
    json_decref(other);
    json_decref(cip);
    json_decref(lb);
    for (size_t i = 0; i < 5; i++) {
        json_decref(nodes[i]);
    }
}
