/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kubelet's health logic, pure parts: the prober state machine (defaults, initial
 * results, initialDelaySeconds, periodSeconds, failureThreshold, successThreshold, liveness
 * holding after a failure), the eviction ranking (BestEffort, then Burstable over its
 * requests, then Guaranteed; priority; critical pods last) and --eviction-hard parsing.
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

TEST(probe_defaults_and_initial_results)
{
    ek_auto(json_t) empty = js("{}");
    ek__kl_probe_t pr;
    ek__kl_probe_init(&pr, EK__KL_READINESS, empty, 1000);
    ASSERT_EQ(pr.period_ms, 10000);
    ASSERT_EQ(pr.timeout_ms, 1000);
    ASSERT_EQ(pr.failure_threshold, 3);
    ASSERT_EQ(pr.success_threshold, 1);
    ASSERT_EQ(pr.next_at, 1000); /* no initial delay: at once */
    ASSERT_EQ(pr.result, 0);     /* readiness starts as failure: not Ready */
    ek__kl_probe_init(&pr, EK__KL_LIVENESS, empty, 1000);
    ASSERT_EQ(pr.result, 1); /* liveness starts as success: nothing restarts early */
    ek__kl_probe_init(&pr, EK__KL_STARTUP, empty, 1000);
    ASSERT_EQ(pr.result, -1);
    /* successThreshold applies to readiness only (the API refuses others for liveness). */
    ek_auto(json_t) st = js("{\"successThreshold\":3,\"initialDelaySeconds\":5,"
                            "\"periodSeconds\":2,\"timeoutSeconds\":4}");
    ek__kl_probe_init(&pr, EK__KL_LIVENESS, st, 1000);
    ASSERT_EQ(pr.success_threshold, 1);
    ASSERT_EQ(pr.next_at, 6000); /* started + initialDelaySeconds */
    ASSERT_EQ(pr.timeout_ms, 4000);
    ek__kl_probe_init(&pr, EK__KL_READINESS, st, 1000);
    ASSERT_EQ(pr.success_threshold, 3);
}

TEST(probe_thresholds)
{
    ek_auto(json_t) spec = js("{\"failureThreshold\":3,\"successThreshold\":2,"
                              "\"periodSeconds\":1}");
    ek__kl_probe_t pr;
    ek__kl_probe_init(&pr, EK__KL_READINESS, spec, 0);
    /* One success is not enough with successThreshold 2. */
    ASSERT_TRUE(!ek__kl_probe_record(&pr, true, 0));
    ASSERT_EQ(pr.result, 0);
    ASSERT_EQ(pr.next_at, 1000); /* the next run one period later */
    ASSERT_TRUE(ek__kl_probe_record(&pr, true, 1000));
    ASSERT_EQ(pr.result, 1);
    ASSERT_TRUE(!ek__kl_probe_record(&pr, true, 2000)); /* no change: still success */
    /* Failures must come 3 in a row; a success in between starts the count again. */
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 3000));
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 4000));
    ASSERT_TRUE(!ek__kl_probe_record(&pr, true, 5000));
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 6000));
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 7000));
    ASSERT_EQ(pr.result, 1);
    ASSERT_TRUE(ek__kl_probe_record(&pr, false, 8000));
    ASSERT_EQ(pr.result, 0);
    ASSERT_TRUE(!pr.on_hold); /* readiness keeps probing */
    ASSERT_TRUE(!ek__kl_probe_record(&pr, true, 9000));
    ASSERT_TRUE(ek__kl_probe_record(&pr, true, 10000));
    ASSERT_EQ(pr.result, 1);
}

TEST(probe_liveness_holds_after_failure)
{
    ek_auto(json_t) spec = js("{\"failureThreshold\":2}");
    ek__kl_probe_t pr;
    ek__kl_probe_init(&pr, EK__KL_LIVENESS, spec, 0);
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 0));
    ASSERT_EQ(pr.result, 1);
    ASSERT_TRUE(ek__kl_probe_record(&pr, false, 10000));
    ASSERT_EQ(pr.result, 0);
    ASSERT_TRUE(pr.on_hold); /* the container is restarted: no verdicts until a new instance */
    ASSERT_TRUE(!ek__kl_probe_record(&pr, true, 20000));
    ASSERT_EQ(pr.result, 0);
    /* Startup: the first success (threshold 1) decides; a failure verdict also holds. */
    ek__kl_probe_init(&pr, EK__KL_STARTUP, spec, 0);
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 0));
    ASSERT_EQ(pr.result, -1);
    ASSERT_TRUE(ek__kl_probe_record(&pr, true, 1000));
    ASSERT_EQ(pr.result, 1);
    ek__kl_probe_init(&pr, EK__KL_STARTUP, spec, 0);
    ASSERT_TRUE(!ek__kl_probe_record(&pr, false, 0));
    ASSERT_TRUE(ek__kl_probe_record(&pr, false, 1000));
    ASSERT_EQ(pr.result, 0);
    ASSERT_TRUE(pr.on_hold);
    ASSERT_STREQ(ek__kl_probe_name(EK__KL_STARTUP), "Startup");
}

TEST(evict_rank)
{
    ek__kl_evict_cand_t c[] = {
        { .uid = "guaranteed", .qos = "Guaranteed", .usage = 500, .requests = 100 },
        { .uid = "burst-under", .qos = "Burstable", .usage = 50, .requests = 100 },
        { .uid = "burst-over", .qos = "Burstable", .usage = 300, .requests = 100 },
        { .uid = "best-hi", .qos = "BestEffort", .priority = 1000, .usage = 900 },
        { .uid = "best-lo-small", .qos = "BestEffort", .usage = 10 },
        { .uid = "best-lo-big", .qos = "BestEffort", .usage = 800 },
        { .uid = "critical", .qos = "BestEffort", .critical = true, .usage = 5000 },
    };
    ek__kl_evict_rank(c, EK_ARRAY_SIZE(c));
    const char *want[] = { "best-lo-big", "best-lo-small", "best-hi", "burst-over",
                           "burst-under", "guaranteed",    "critical" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(want); i++) {
        ASSERT_STREQ(c[i].uid, want[i]);
    }
    ek__kl_evict_rank(c, 0); /* nothing to do, no crash */
}

TEST(eviction_thresholds_parse)
{
    ek__kl_thresholds_t t;
    ek_error_t *err = NULL;
    ASSERT_OK(ek__kl_thresholds_parse(
                  "memory.available<100Mi,nodefs.available<10%, imagefs.available<15%", &t, &err),
              &err);
    ASSERT_EQ(t.memory_bytes, 100 * 1024 * 1024);
    ASSERT_TRUE(t.nodefs_pct > 9.99 && t.nodefs_pct < 10.01);
    ASSERT_TRUE(t.imagefs_pct > 14.99 && t.imagefs_pct < 15.01);
    ASSERT_OK(ek__kl_thresholds_parse("nodefs.available<1Gi,pid.available<1000,"
                                      "nodefs.inodesFree<5%",
                                      &t, &err),
              &err);
    ASSERT_EQ(t.nodefs_bytes, 1024LL * 1024 * 1024);
    ASSERT_EQ(t.pids, 1000);
    ASSERT_EQ(t.memory_bytes, 0);
    ASSERT_EQ(ek__kl_thresholds_parse("memory.available>1Gi", &t, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "want SIGNAL<VALUE");
    ek_error_clear(&err);
    ASSERT_EQ(ek__kl_thresholds_parse("cpu.available<1", &t, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "is not supported");
    ek_error_clear(&err);
    ASSERT_EQ(ek__kl_thresholds_parse("memory.available<lots", &t, &err), -1);
    ek_error_clear(&err);
    ASSERT_EQ(ek__kl_thresholds_parse("nodefs.available<150%", &t, &err), -1);
    ek_error_clear(&err);
}
