/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's pure parts: pod requests, tolerations, node selectors, each filter and its
 * reason, the FitError and preemption messages word for word, scoring primitives and whole
 * scheduling cycles over a small cache (placement by selectors, affinity, anti-affinity,
 * spreading, preemption), the queue's ordering and backoff.
 */
#include <stdarg.h>

#include "server/scheduler/scheduler-internal.h"
#include "tests/unit/test.h"

/* ---- building objects ---- */

/* JSON from a printf format written with single quotes (turned into double quotes). */
static json_t *J(const char *fmt, ...) EK_PRINTF(1, 2);
static json_t *J(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    ek_assert(vasprintf(&s, fmt, ap) >= 0);
    va_end(ap);
    for (char *c = s; *c; c++) {
        *c = *c == '\'' ? '"' : *c;
    }
    ek_error_t *err = NULL;
    json_t *v = ek_json_parse(s, strlen(s), &err);
    if (!v) {
        ek__test_fail(__FILE__, __LINE__, "bad test JSON %s: %s", s, ek_error_msg(err));
    }
    free(s);
    return v;
}

/* A node with cpu / memory / pods allocatable; extra is more top-level members (",'spec':{}"). */
static json_t *node_json(const char *name, const char *cpu, const char *mem, const char *labels,
                         const char *spec)
{
    return J("{'apiVersion':'v1','kind':'Node','metadata':{'name':'%s','labels':{'kubernetes.io/"
             "hostname':'%s'%s%s}},'spec':{%s},'status':{'allocatable':{'cpu':'%s','memory':'%s',"
             "'pods':'110','ephemeral-storage':'10Gi'}}}",
             name, name, labels && *labels ? "," : "", labels ? labels : "", spec ? spec : "", cpu,
             mem);
}

static sched_node_t *add_node(sched_cache_t *c, const char *name, const char *cpu, const char *mem,
                              const char *labels, const char *spec)
{
    json_t *n = node_json(name, cpu, mem, labels, spec);
    sched_node_t *r = sched_cache_set_node(c, n);
    json_decref(n);
    return r;
}

/* A pod; spec is the inside of "spec" after the containers, labels the inside of "labels". */
static sched_pod_t *pod_with(sched_cache_t *c, const char *name, const char *labels,
                             const char *requests, const char *spec)
{
    json_t *p = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'default',"
                  "'uid':'uid-%s','labels':{%s}},'spec':{'containers':[{'name':'c','image':"
                  "'busybox','resources':{'requests':{%s}}}]%s%s}}",
                  name, name, labels ? labels : "", requests ? requests : "",
                  spec && *spec ? "," : "", spec ? spec : "");
    sched_pod_t *r = sched_pod_new(c, p);
    json_decref(p);
    return r;
}

/* A pod with the whole inside of "spec" given. */
static sched_pod_t *pod_full(sched_cache_t *c, const char *name, const char *labels,
                             const char *spec)
{
    json_t *p = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'%s','namespace':'default',"
                  "'uid':'uid-%s','labels':{%s}},'spec':{%s}}",
                  name, name, labels ? labels : "", spec);
    sched_pod_t *r = sched_pod_new(c, p);
    json_decref(p);
    return r;
}

static sched_pod_t *pod(sched_cache_t *c, const char *name, const char *requests)
{
    return pod_with(c, name, NULL, requests, NULL);
}

/* Runs one cycle; a chosen node gets the pod (bound); returns the node name or the message. */
static char *run(sched_cache_t *c, sched_pod_t *p)
{
    sched_result_t r;
    sched_schedule(c, p, &r);
    char *out;
    if (r.node) {
        out = ek_xstrdup(r.node->name);
        sched_cache_place(c, p, r.node->name, POD_BOUND);
    } else {
        out = ek_xstrdup(r.message);
        sched_pod_free(c, p);
    }
    sched_result_free(&r);
    return out;
}

#define EXPECT_RUN(c, p, want)      \
    do {                            \
        char *got_ = run((c), (p)); \
        ASSERT_STREQ(got_, (want)); \
        free(got_);                 \
    } while (0)

static void place(sched_cache_t *c, sched_pod_t *p, const char *node)
{
    sched_cache_place(c, p, node, POD_BOUND);
}

/* ---- requests, tolerations, selectors ---- */

TEST(sched_pod_requests)
{
    json_t *spec = J("{'containers':[{'resources':{'requests':{'cpu':'250m','memory':'64Mi'}}},"
                     "{'resources':{'requests':{'cpu':'0'}}},{}],"
                     "'initContainers':[{'resources':{'requests':{'cpu':'1','memory':'1Gi'}}},"
                     "{'restartPolicy':'Always','resources':{'requests':{'cpu':'100m',"
                     "'example.com/gpu':'2'}}}],'overhead':{'cpu':'10m'}}");
    sched_res_t r;
    sched_pod_requests(spec, false, &r);
    /* max(250m + sidecar 100m, init 1) + overhead 10m */
    ASSERT_EQ(r.cpu, 1010);
    ASSERT_EQ(r.mem, 1024LL * 1024 * 1024);
    ASSERT_EQ(sched_res_scalar(&r, "example.com/gpu"), 2);
    sched_res_free(&r);
    /* Scoring defaults fill only missing requests: 250m + 0 + 100m + sidecar 100m. */
    json_t *plain = J("{'containers':[{'resources':{'requests':{'cpu':'250m'}}},"
                      "{'resources':{'requests':{'cpu':'0'}}},{}]}");
    sched_pod_requests(plain, true, &r);
    ASSERT_EQ(r.cpu, 350);
    ASSERT_EQ(r.mem, 3 * SCHED_DEFAULT_MEM);
    sched_res_free(&r);
    json_decref(spec);
    json_decref(plain);
}

TEST(sched_tolerations)
{
    sched_taint_t t = { "dedicated", "gpu", EFFECT_NO_SCHEDULE };
    sched_toleration_t eq = { "dedicated", "gpu", TOL_EQUAL, EFFECT_NO_SCHEDULE };
    sched_toleration_t other_val = { "dedicated", "cpu", TOL_EQUAL, EFFECT_ANY };
    sched_toleration_t exists = { "dedicated", "", TOL_EXISTS, EFFECT_ANY };
    sched_toleration_t all = { "", "", TOL_EXISTS, EFFECT_ANY };
    sched_toleration_t wrong_effect = { "dedicated", "gpu", TOL_EQUAL, EFFECT_NO_EXECUTE };
    ASSERT_TRUE(sched_toleration_tolerates(&eq, &t));
    ASSERT_FALSE(sched_toleration_tolerates(&other_val, &t));
    ASSERT_TRUE(sched_toleration_tolerates(&exists, &t));
    ASSERT_TRUE(sched_toleration_tolerates(&all, &t));
    ASSERT_FALSE(sched_toleration_tolerates(&wrong_effect, &t));
    ASSERT_EQ(sched_effect_parse("PreferNoSchedule"), EFFECT_PREFER_NO_SCHEDULE);
    ASSERT_EQ(sched_effect_parse(""), EFFECT_ANY);
}

TEST(sched_node_selector_terms)
{
    json_t *labels = J("{'zone':'a','gen':'3','gpu':'yes'}");
    json_t *terms = J("[{'matchExpressions':[{'key':'zone','operator':'In','values':['a','b']},"
                      "{'key':'gen','operator':'Gt','values':['2']}]},"
                      "{},"
                      "{'matchFields':[{'key':'metadata.name','operator':'In','values':['n9']}]}]");
    sched_nodesel_t s;
    sched_nodesel_parse(&s, terms, false);
    ASSERT_EQ(s.nterms, 2); /* the empty term selects nothing and is dropped */
    ASSERT_TRUE(sched_nodesel_matches(&s, "n1", labels));
    json_t *l2 = J("{'zone':'c','gen':'9'}");
    ASSERT_FALSE(sched_nodesel_matches(&s, "n1", l2));
    ASSERT_TRUE(sched_nodesel_matches(&s, "n9", l2));
    sched_nodesel_free(&s);
    json_t *ops = J("[{'matchExpressions':[{'key':'zone','operator':'NotIn','values':['b']},"
                    "{'key':'gpu','operator':'Exists'},{'key':'old','operator':'DoesNotExist'},"
                    "{'key':'gen','operator':'Lt','values':['4']}]}]");
    sched_nodesel_parse(&s, ops, false);
    ASSERT_TRUE(sched_nodesel_matches(&s, "x", labels));
    ASSERT_FALSE(sched_nodesel_matches(&s, "x", l2));
    sched_nodesel_free(&s);
    json_t *broken = J("[{'matchExpressions':[{'key':'gen','operator':'Gt','values':['x']}]}]");
    sched_nodesel_parse(&s, broken, false);
    ASSERT_FALSE(sched_nodesel_matches(&s, "x", labels));
    sched_nodesel_free(&s);
    json_t *pref = J("[{'weight':5,'preference':{'matchExpressions':[{'key':'zone','operator':"
                     "'In','values':['a']}]}},{'weight':3,'preference':{'matchExpressions':"
                     "[{'key':'gpu','operator':'Exists'}]}},{'weight':0,'preference':"
                     "{'matchExpressions':[{'key':'gpu','operator':'Exists'}]}}]");
    sched_nodesel_parse(&s, pref, true);
    ASSERT_EQ(sched_nodesel_score(&s, "x", labels), 8);
    ASSERT_EQ(sched_nodesel_score(&s, "x", l2), 0);
    sched_nodesel_free(&s);
    json_decref(labels);
    json_decref(l2);
    json_decref(terms);
    json_decref(ops);
    json_decref(broken);
    json_decref(pref);
}

TEST(sched_image_names)
{
    char *a = sched_image_normalize("nginx");
    char *b = sched_image_normalize("registry:5000/app");
    char *c = sched_image_normalize("nginx:1.27");
    ASSERT_STREQ(a, "nginx:latest");
    ASSERT_STREQ(b, "registry:5000/app:latest");
    ASSERT_STREQ(c, "nginx:1.27");
    free(a);
    free(b);
    free(c);
}

/* ---- filters, one at a time ---- */

static void expect_local(sched_cache_t *c, sched_pod_t *p, const char *node, int code,
                         const char *reason)
{
    sched_status_t st;
    bool ok = sched_filter_local(p, sched_cache_node(c, node), &st);
    if (!reason) {
        ASSERT_TRUE(ok);
        return;
    }
    ASSERT_FALSE(ok);
    ASSERT_EQ(st.code, code);
    ASSERT_STREQ(st.reasons[0], reason);
}

TEST(sched_filter_each)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    add_node(&c, "cordoned", "4", "8Gi", NULL, "'unschedulable':true");
    add_node(&c, "tainted", "4", "8Gi", NULL,
             "'taints':[{'key':'soft','effect':'PreferNoSchedule'},"
             "{'key':'dedicated','value':'gpu','effect':'NoSchedule'}]");
    add_node(&c, "small", "1", "1Gi", "'disk':'ssd'", NULL);
    sched_pod_t *p = pod(&c, "p", "'cpu':'2','memory':'2Gi','example.com/gpu':'1'");
    expect_local(&c, p, "cordoned", ST_UNRESOLVABLE, "node(s) were unschedulable");
    expect_local(&c, p, "tainted", ST_UNRESOLVABLE,
                 "node(s) had untolerated taint {dedicated: gpu}");
    sched_status_t st;
    ASSERT_FALSE(sched_filter_local(p, sched_cache_node(&c, "small"), &st));
    ASSERT_EQ(st.code, ST_UNSCHEDULABLE);
    ASSERT_EQ(st.nreasons, 3);
    ASSERT_STREQ(st.reasons[0], "Insufficient cpu");
    ASSERT_STREQ(st.reasons[1], "Insufficient memory");
    ASSERT_STREQ(st.reasons[2], "Insufficient example.com/gpu");
    sched_pod_free(&c, p);
    /* Tolerating the taint and the cordon. */
    p = pod_with(&c, "t", NULL, NULL,
                 "'tolerations':[{'key':'dedicated','operator':'Equal','value':'gpu','effect':"
                 "'NoSchedule'},{'key':'node.kubernetes.io/unschedulable','operator':'Exists'}]");
    expect_local(&c, p, "tainted", 0, NULL);
    expect_local(&c, p, "cordoned", 0, NULL);
    sched_pod_free(&c, p);
    p = pod_with(&c, "sel", NULL, NULL, "'nodeSelector':{'disk':'hdd'}");
    expect_local(&c, p, "small", ST_UNRESOLVABLE,
                 "node(s) didn't match Pod's node affinity/selector");
    sched_pod_free(&c, p);
    sched_cache_free(&c);
}

TEST(sched_filter_ports_and_pod_count)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    json_t *n = J("{'metadata':{'name':'n'},'status':{'allocatable':{'cpu':'4','memory':'8Gi',"
                  "'pods':'2'}}}");
    sched_cache_set_node(&c, n);
    json_decref(n);
    place(&c,
          pod_full(&c, "web", NULL,
                   "'containers':[{'name':'c','ports':[{"
                   "'containerPort':80,'hostPort':8080,'hostIP':"
                   "'10.0.0.1'}]}]"),
          "n");
    sched_pod_t *any = pod_full(&c, "any", NULL,
                                "'containers':[{'name':'c','ports':[{'containerPort':80,"
                                "'hostPort':8080}]}]");
    expect_local(&c, any, "n", ST_UNSCHEDULABLE,
                 "node(s) didn't have free ports for the requested pod ports");
    sched_pod_t *other_ip = pod_full(&c, "o", NULL,
                                     "'containers':[{'name':'c','ports':[{'containerPort':80,"
                                     "'hostPort':8080,'hostIP':'10.0.0.2'}]}]");
    expect_local(&c, other_ip, "n", 0, NULL);
    sched_pod_t *udp = pod_full(&c, "u", NULL,
                                "'containers':[{'name':'c','ports':[{'containerPort':80,"
                                "'hostPort':8080,'protocol':'UDP'}]}]");
    expect_local(&c, udp, "n", 0, NULL);
    place(&c, udp, "n");
    expect_local(&c, other_ip, "n", ST_UNSCHEDULABLE, "Too many pods");
    sched_pod_free(&c, any);
    sched_pod_free(&c, other_ip);
    /* Removing a pod gives its port and its slot back. */
    ASSERT_NOT_NULL(sched_cache_remove_pod(&c, "default/web"));
    any = pod_full(&c, "any", NULL,
                   "'containers':[{'name':'c','ports':[{'containerPort':80,'hostPort':8080}]}]");
    expect_local(&c, any, "n", 0, NULL);
    sched_pod_free(&c, any);
    sched_cache_free(&c);
}

/* ---- the FitError message ---- */

static void diag_reason(sched_diag_t *d, size_t node, int code, const char *reason)
{
    sched_status_t st = { .code = code, .plugin = PL_NODE_RESOURCES_FIT };
    st.reasons[st.nreasons++] = reason;
    sched_diag_add(d, node, &st);
}

TEST(sched_fit_error_message)
{
    sched_diag_t d;
    sched_diag_init(&d, 3);
    diag_reason(&d, 0, ST_UNRESOLVABLE, "node(s) had untolerated taint {key: value}");
    diag_reason(&d, 1, ST_UNSCHEDULABLE, "Insufficient cpu");
    diag_reason(&d, 2, ST_UNSCHEDULABLE, "Insufficient cpu");
    char *m = sched_diag_message(&d, "preemption: 0/3 nodes are available: x.");
    ASSERT_STREQ(m, "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 "
                    "Insufficient cpu. preemption: 0/3 nodes are available: x.");
    free(m);
    sched_diag_free(&d);
    /* Sorted as strings: "10 ..." comes before "2 ...", as Go's sort.Strings puts it. */
    sched_diag_init(&d, 12);
    for (size_t i = 0; i < 10; i++) {
        diag_reason(&d, i, ST_UNSCHEDULABLE, "Too many pods");
    }
    diag_reason(&d, 10, ST_UNSCHEDULABLE, "Insufficient memory");
    diag_reason(&d, 11, ST_UNSCHEDULABLE, "Insufficient memory");
    m = sched_diag_message(&d, NULL);
    ASSERT_STREQ(m, "0/12 nodes are available: 10 Too many pods, 2 Insufficient memory.");
    free(m);
    sched_diag_free(&d);
    /* Nodes a PreFilter left out count under its reason. */
    sched_diag_init(&d, 4);
    d.absent_reason = ek_xstrdup("node(s) didn't satisfy plugin(s) [NodeAffinity]");
    diag_reason(&d, 0, ST_UNSCHEDULABLE, "Insufficient cpu");
    m = sched_diag_message(&d, NULL);
    ASSERT_STREQ(m, "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy "
                    "plugin(s) [NodeAffinity].");
    free(m);
    sched_diag_free(&d);
}

/* ---- whole cycles ---- */

static void three_nodes(sched_cache_t *c)
{
    sched_cache_init(c, NULL, 0);
    add_node(c, "n1", "2", "4Gi", "'zone':'a','disk':'ssd'", NULL);
    add_node(c, "n2", "2", "4Gi", "'zone':'b'", NULL);
    add_node(c, "n3", "2", "4Gi", "'zone':'b'",
             "'taints':[{'key':'key','value':'value',"
             "'effect':'NoSchedule'}]");
}

TEST(sched_cycle_messages)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    EXPECT_RUN(&c, pod(&c, "p", NULL), "no nodes available to schedule pods");
    sched_cache_free(&c);
    three_nodes(&c);
    EXPECT_RUN(&c, pod(&c, "big", "'cpu':'3'"),
               "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 "
               "Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not "
               "helpful for scheduling, 2 No preemption victims found for incoming pod.");
    EXPECT_RUN(&c, pod_with(&c, "sel", NULL, NULL, "'nodeSelector':{'zone':'c'}"),
               "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 node(s) "
               "didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
               "3 Preemption is not helpful for scheduling.");
    EXPECT_RUN(&c, pod_with(&c, "never", NULL, "'cpu':'3'", "'preemptionPolicy':'Never'"),
               "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 "
               "Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.");
    EXPECT_RUN(&c,
               pod_with(&c, "named", NULL, NULL,
                        "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata."
                        "name','operator':'In','values':['n3']}]}]}}}"),
               "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 node(s) "
               "didn't satisfy plugin(s) [NodeAffinity]. preemption: 0/3 nodes are available: 3 "
               "Preemption is not helpful for scheduling.");
    sched_cache_free(&c);
}

TEST(sched_cycle_node_affinity)
{
    sched_cache_t c;
    three_nodes(&c);
    EXPECT_RUN(&c, pod_with(&c, "sel", NULL, NULL, "'nodeSelector':{'disk':'ssd'}"), "n1");
    EXPECT_RUN(&c,
               pod_with(&c, "req", NULL, NULL,
                        "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuring"
                        "Execution':{'nodeSelectorTerms':[{'matchExpressions':[{'key':'zone',"
                        "'operator':'In','values':['b']}]}]}}}"),
               "n2");
    /* Preferred affinity wins while the node has room, then the pod goes elsewhere. */
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "pref%d", i);
        EXPECT_RUN(&c,
                   pod_with(&c, name, NULL, "'cpu':'600m'",
                            "'affinity':{'nodeAffinity':{'preferredDuringSchedulingIgnored"
                            "DuringExecution':[{'weight':50,'preference':{'matchExpressions':"
                            "[{'key':'zone','operator':'In','values':['a']}]}}]}}"),
                   i < 3 ? "n1" : "n2");
    }
    EXPECT_RUN(&c,
               pod_with(&c, "pref3", NULL, "'cpu':'600m'",
                        "'affinity':{'nodeAffinity':{'preferredDuringSchedulingIgnored"
                        "DuringExecution':[{'weight':50,'preference':{'matchExpressions':"
                        "[{'key':'zone','operator':'In','values':['a']}]}}]}}"),
               "n2");
    sched_cache_free(&c);
}

static const char *anti_spec =
    "'affinity':{'podAntiAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':[{"
    "'labelSelector':{'matchLabels':{'app':'db'}},'topologyKey':'kubernetes.io/hostname'}]}}";

TEST(sched_cycle_anti_affinity)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    add_node(&c, "n1", "2", "4Gi", NULL, NULL);
    add_node(&c, "n2", "2", "4Gi", NULL, NULL);
    add_node(&c, "n3", "2", "4Gi", NULL, NULL);
    bool used[3] = { false, false, false };
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "db%d", i);
        char *got = run(&c, pod_with(&c, name, "'app':'db'", NULL, anti_spec));
        ASSERT_TRUE(got[0] == 'n' && got[1] >= '1' && got[1] <= '3' && !got[2]);
        ASSERT_FALSE(used[got[1] - '1']);
        used[got[1] - '1'] = true;
        free(got);
    }
    EXPECT_RUN(&c, pod_with(&c, "db3", "'app':'db'", NULL, anti_spec),
               "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
               "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming "
               "pod.");
    /* A pod without terms is kept away by the placed pods' own anti-affinity. */
    EXPECT_RUN(&c, pod_with(&c, "plain", "'app':'db'", NULL, NULL),
               "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity "
               "rules. preemption: 0/3 nodes are available: 3 No preemption victims found for "
               "incoming pod.");
    sched_cache_free(&c);
}

TEST(sched_cycle_pod_affinity)
{
    sched_cache_t c;
    three_nodes(&c);
    const char *with_cache =
        "'affinity':{'podAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':[{"
        "'labelSelector':{'matchLabels':{'app':'cache'}},'topologyKey':'zone'}]}}";
    EXPECT_RUN(&c, pod_with(&c, "web0", "'app':'web'", NULL, with_cache),
               "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 node(s) "
               "didn't match pod affinity rules. preemption: 0/3 nodes are available: 3 "
               "Preemption is not helpful for scheduling.");
    place(&c, pod_with(&c, "cache", "'app':'cache'", NULL, NULL), "n2");
    EXPECT_RUN(&c, pod_with(&c, "web1", "'app':'web'", NULL, with_cache), "n2");
    /* The first pod of a group with affinity to itself goes anywhere. */
    const char *self = "'affinity':{'podAffinity':{'requiredDuringSchedulingIgnoredDuring"
                       "Execution':[{'labelSelector':{'matchLabels':{'app':'self'}},"
                       "'topologyKey':'zone'}]}}";
    char *first = run(&c, pod_with(&c, "s0", "'app':'self'", NULL, self));
    ASSERT_TRUE(strcmp(first, "n1") == 0 || strcmp(first, "n2") == 0);
    sched_node_t *fn = sched_cache_node(&c, first);
    EXPECT_RUN(&c, pod_with(&c, "s1", "'app':'self'", NULL, self),
               strcmp(sched_node_label(fn, "zone"), "a") == 0 ? "n1" : "n2");
    free(first);
    sched_cache_free(&c);
}

TEST(sched_cycle_topology_spread)
{
    sched_cache_t c;
    three_nodes(&c);
    const char *spread = "'topologySpreadConstraints':[{'maxSkew':1,'topologyKey':'zone',"
                         "'whenUnsatisfiable':'DoNotSchedule','labelSelector':{'matchLabels':"
                         "{'app':'s'}}}]";
    place(&c, pod_with(&c, "s0", "'app':'s'", NULL, NULL), "n2");
    place(&c, pod_with(&c, "s1", "'app':'s'", NULL, NULL), "n2");
    EXPECT_RUN(&c, pod_with(&c, "s2", "'app':'s'", NULL, spread), "n1");
    place(&c, pod_with(&c, "s3", "'app':'s'", NULL, NULL), "n2");
    EXPECT_RUN(&c,
               pod_with(&c, "s4", "'app':'s'", NULL,
                        "'nodeSelector':{'zone':'b'},'topologySpreadConstraints':[{'maxSkew':"
                        "1,'topologyKey':'zone','whenUnsatisfiable':'DoNotSchedule',"
                        "'nodeAffinityPolicy':'Ignore','labelSelector':{'matchLabels':"
                        "{'app':'s'}}}]"),
               "0/3 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 "
               "node(s) didn't match pod topology spread constraints, 1 node(s) had untolerated "
               "taint {key: value}. preemption: 0/3 nodes are available: 1 No preemption victims "
               "found for incoming pod, 2 Preemption is not helpful for scheduling.");
    sched_cache_free(&c);
}

TEST(sched_cycle_preemption)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    add_node(&c, "n1", "2", "4Gi", NULL, NULL);
    add_node(&c, "n2", "2", "4Gi", NULL, NULL);
    place(&c, pod_with(&c, "low1", NULL, "'cpu':'1500m'", "'priority':10"), "n1");
    place(&c, pod_with(&c, "low2", NULL, "'cpu':'1500m'", "'priority':20"), "n2");
    place(&c, pod_with(&c, "tiny", NULL, "'cpu':'100m'", "'priority':1"), "n2");
    sched_pod_t *p = pod_with(&c, "high", NULL, "'cpu':'1'", "'priority':100");
    sched_result_t r;
    sched_schedule(&c, p, &r);
    ASSERT_TRUE(r.node == NULL);
    ASSERT_STREQ(r.message, "0/2 nodes are available: 2 Insufficient cpu.");
    /* n1 loses one priority-10 pod; n2 would lose its priority-20 pod. */
    ASSERT_NOT_NULL(r.victims.node);
    ASSERT_STREQ(r.victims.node->name, "n1");
    ASSERT_EQ(r.victims.n, 1);
    ASSERT_STREQ(r.victims.pods[0]->name, "low1");
    sched_result_free(&r);
    /* Victims that would not make room do not count; equal priorities are no victims. */
    sched_pod_free(&c, p);
    p = pod_with(&c, "modest", NULL, "'cpu':'1'", "'priority':5");
    sched_schedule(&c, p, &r);
    ASSERT_STREQ(r.message, "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes "
                            "are available: 1 Insufficient cpu, 1 No preemption victims found "
                            "for incoming pod.");
    sched_result_free(&r);
    sched_pod_free(&c, p);
    sched_cache_free(&c);
}

/* ---- scores ---- */

TEST(sched_score_primitives)
{
    ASSERT_EQ(sched_least_allocated(1000, 4000), 75);
    ASSERT_EQ(sched_least_allocated(5000, 4000), 0);
    ASSERT_EQ(sched_least_allocated(1, 0), 0);
    int64_t req[2] = { 1000, 2 }, alloc[2] = { 4000, 8 };
    ASSERT_EQ(sched_balanced(req, alloc, 2), 100);
    int64_t req2[2] = { 3000, 2 };
    ASSERT_EQ(sched_balanced(req2, alloc, 2), 75); /* |0.75 - 0.25| / 2 = 0.25 */
    int64_t s[3] = { 0, 5, 10 };
    sched_normalize(s, 3, false);
    ASSERT_EQ(s[1], 50);
    ASSERT_EQ(s[2], 100);
    int64_t r[3] = { 0, 1, 2 };
    sched_normalize(r, 3, true);
    ASSERT_EQ(r[0], 100);
    ASSERT_EQ(r[2], 0);
    int64_t z[2] = { 0, 0 };
    sched_normalize(z, 2, true);
    ASSERT_EQ(z[0], 100);
    ASSERT_EQ(sched_image_score(0, 1), 0);
    ASSERT_EQ(sched_image_score(1000LL * 1024 * 1024, 1), 100);
    ASSERT_EQ(sched_nodes_to_find(0, 50), 50);
    ASSERT_EQ(sched_nodes_to_find(0, 100), 100);
    ASSERT_EQ(sched_nodes_to_find(0, 1000), 420);
    ASSERT_EQ(sched_nodes_to_find(0, 5000), 500);
    ASSERT_EQ(sched_nodes_to_find(0, 10000), 500);
    ASSERT_EQ(sched_nodes_to_find(10, 3000), 300);
}

/* A lister with one ReplicaSet, "web" in default, selecting app=web. */
static json_t *the_rs;
static json_t *get_rs(void *data, const char *kind, const char *ns, const char *name)
{
    EK_UNUSED(data);
    return ek_streq(kind, "ReplicaSet") && ek_streq(ns, "default") && ek_streq(name, "web") ? the_rs
                                                                                            : NULL;
}

TEST(sched_score_default_spreading)
{
    the_rs = J("{'metadata':{'name':'web','namespace':'default'},'spec':{'selector':"
               "{'matchLabels':{'app':'web'}}}}");
    sched_listers_t l = { .get = get_rs };
    sched_cache_t c;
    sched_cache_init(&c, &l, 0);
    /* Uneven nodes: without spreading, the big node would take every pod (LeastAllocated). */
    add_node(&c, "big", "64", "256Gi", NULL, NULL);
    add_node(&c, "s1", "4", "8Gi", NULL, NULL);
    add_node(&c, "s2", "4", "8Gi", NULL, NULL);
    const char *owned = "'priority':0";
    int counts[3] = { 0, 0, 0 };
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof(name), "web-%d", i);
        json_t *p = J("{'metadata':{'name':'%s','namespace':'default','labels':{'app':'web'},"
                      "'ownerReferences':[{'apiVersion':'apps/v1','kind':'ReplicaSet','name':"
                      "'web','uid':'u','controller':true}]},'spec':{'containers':[{'name':'c'}],"
                      "%s}}",
                      name, owned);
        char *got = run(&c, sched_pod_new(&c, p));
        json_decref(p);
        counts[strcmp(got, "big") == 0 ? 0 : strcmp(got, "s1") == 0 ? 1 : 2]++;
        free(got);
    }
    ASSERT_EQ(counts[0], 2);
    ASSERT_EQ(counts[1], 2);
    ASSERT_EQ(counts[2], 2);
    sched_pod_t *probe = pod_with(&c, "probe", "'app':'web'", NULL, NULL);
    ek_labelsel_t *sel = sched_default_selector(&c, probe);
    ASSERT_TRUE(sel == NULL); /* no owner, no Service: no default spreading */
    sched_pod_free(&c, probe);
    sched_cache_free(&c);
    json_decref(the_rs);
}

TEST(sched_score_taints_prefer)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    add_node(&c, "soft", "4", "8Gi", NULL,
             "'taints':[{'key':'spot','value':'yes','effect':'PreferNoSchedule'}]");
    add_node(&c, "clean", "4", "8Gi", NULL, NULL);
    EXPECT_RUN(&c, pod(&c, "a", NULL), "clean");
    EXPECT_RUN(&c, pod(&c, "b", NULL), "clean");
    sched_cache_free(&c);
}

/* ---- the queue ---- */

static bool want_all(sched_qpod_t *qp, void *data)
{
    EK_UNUSED(qp);
    EK_UNUSED(data);
    return true;
}

TEST(sched_queue_order_and_backoff)
{
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    sched_queue_t q;
    sched_queue_init(&q, 1000, 10000);
    sched_queue_add(&c, &q, pod_with(&c, "low", NULL, NULL, "'priority':1"), 100);
    sched_queue_add(&c, &q, pod_with(&c, "high", NULL, NULL, "'priority':9"), 200);
    sched_queue_add(&c, &q, pod_with(&c, "low2", NULL, NULL, "'priority':1"), 300);
    sched_queue_add(&c, &q, pod_with(&c, "gated", NULL, NULL, "'schedulingGates':[{'name':'g'}]"),
                    300);
    ASSERT_EQ(sched_queue_count(&q, Q_ACTIVE), 3);
    ASSERT_EQ(sched_queue_count(&q, Q_GATED), 1);
    sched_qpod_t *a = sched_queue_pop(&q), *b = sched_queue_pop(&q), *d = sched_queue_pop(&q);
    ASSERT_STREQ(a->key, "default/high");
    ASSERT_STREQ(b->key, "default/low");
    ASSERT_STREQ(d->key, "default/low2");
    ASSERT_TRUE(sched_queue_pop(&q) == NULL);
    /* Backoff doubles per attempt from 1 s, capped at 10 s. */
    uint64_t want[] = { 1000, 2000, 4000, 8000, 10000, 10000 };
    for (size_t i = 0; i < EK_ARRAY_SIZE(want); i++) {
        b->attempts = (int)i + 1;
        ASSERT_EQ(sched_queue_backoff_ms(&q, b), want[i]);
    }
    b->attempts = 1;
    sched_queue_failed(&q, b, false, 1000);
    ASSERT_EQ(sched_queue_count(&q, Q_BACKOFF), 1);
    ASSERT_EQ(sched_queue_flush_backoff(&q, 1500), 500);
    ASSERT_EQ(sched_queue_flush_backoff(&q, 2000), UINT64_MAX);
    ASSERT_EQ(sched_queue_count(&q, Q_ACTIVE), 1);
    /* Unschedulable pods wait for an event, then go back (to backoff while it lasts). */
    a->attempts = 1;
    sched_queue_failed(&q, a, true, 5000);
    sched_queue_failed(&q, d, true, 5000);
    ASSERT_EQ(sched_queue_count(&q, Q_UNSCHED), 2);
    ASSERT_EQ(sched_queue_move(&q, want_all, NULL, 5500), 2);
    ASSERT_EQ(sched_queue_count(&q, Q_BACKOFF), 2);
    ASSERT_EQ(sched_queue_count(&q, Q_UNSCHED), 0);
    sched_queue_failed(&q, sched_queue_pop(&q), true, 6000);
    ASSERT_EQ(sched_queue_flush_unschedulable(&q, 300000, 100000), 0);
    ASSERT_EQ(sched_queue_flush_unschedulable(&q, 300000, 400000), 1);
    /* Removing the gate queues the pod. */
    sched_queue_add(&c, &q, pod_with(&c, "gated", NULL, NULL, NULL), 7000);
    ASSERT_EQ(sched_queue_count(&q, Q_GATED), 0);
    sched_queue_delete(&c, &q, "default/gated");
    sched_queue_free(&c, &q);
    sched_cache_free(&c);
}

/* ---- what the informers keep ---- */

TEST(sched_trim_keeps_what_scheduling_reads)
{
    json_t *pod = J("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'p','namespace':'ns',"
                    "'uid':'u','resourceVersion':'7','labels':{'a':'b'},'annotations':{'x':'y'},"
                    "'managedFields':[{}]},'spec':{'nodeName':'n1','priority':5,'volumes':[{}],"
                    "'tolerations':[{'key':'k','operator':'Exists'}],'containers':[{'name':'c',"
                    "'image':'nginx','env':[{'name':'E'}],'resources':{'requests':{'cpu':'1'},"
                    "'limits':{'cpu':'2'}},'ports':[{'containerPort':80},{'containerPort':81,"
                    "'hostPort':81}]}]},'status':{'phase':'Running','conditions':[{'type':"
                    "'Ready','status':'True'},{'type':'PodScheduled','status':'True'}],"
                    "'containerStatuses':[{}]}}");
    json_t *t = sched_pod_trim(pod, NULL);
    ASSERT_STREQ(ek_json_str(t, "metadata", "resourceVersion", NULL), "7");
    ASSERT_STREQ(ek_json_str(t, "metadata", "labels", "a", NULL), "b");
    ASSERT_TRUE(ek_json_path(t, "metadata", "annotations", NULL) == NULL);
    ASSERT_TRUE(ek_json_path(t, "spec", "volumes", NULL) == NULL);
    ASSERT_TRUE(ek_json_path(t, "status", "containerStatuses", NULL) == NULL);
    ASSERT_EQ(json_array_size(ek_json_path(t, "status", "conditions", NULL)), 1);
    sched_cache_t c;
    sched_cache_init(&c, NULL, 0);
    sched_pod_t *a = sched_pod_new(&c, pod), *b = sched_pod_new(&c, t);
    ASSERT_EQ(a->req.cpu, b->req.cpu);
    ASSERT_EQ(a->nz_mem, b->nz_mem);
    ASSERT_EQ(b->nports, 1);
    ASSERT_EQ(b->ntols, 1);
    ASSERT_EQ(b->priority, 5);
    ASSERT_STREQ(b->images[0], "nginx:latest");
    ASSERT_TRUE(a->group == b->group);
    sched_pod_free(&c, a);
    sched_pod_free(&c, b);
    sched_cache_free(&c);
    json_decref(t);
    json_decref(pod);
    json_t *node = node_json("n1", "4", "8Gi", "'zone':'a'", "'taints':[]");
    json_t *nt = sched_node_trim(node, NULL);
    ASSERT_STREQ(ek_json_str(nt, "metadata", "labels", "zone", NULL), "a");
    ASSERT_STREQ(ek_json_str(nt, "status", "allocatable", "cpu", NULL), "4");
    ASSERT_TRUE(ek_json_path(nt, "spec", "taints", NULL) != NULL);
    json_decref(nt);
    json_decref(node);
}
