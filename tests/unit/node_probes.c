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

/* A server frame: 9-byte head then payload. */
static void frame(ek_buf_t *b, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
                  size_t len)
{
    uint8_t h[9] = { (uint8_t)(len >> 16),
                     (uint8_t)(len >> 8),
                     (uint8_t)len,
                     type,
                     flags,
                     (uint8_t)(stream >> 24),
                     (uint8_t)(stream >> 16),
                     (uint8_t)(stream >> 8),
                     (uint8_t)stream };
    ek_buf_append(b, h, sizeof(h));
    if (len) {
        ek_buf_append(b, p, len);
    }
}

TEST(grpc_request_bytes)
{
    size_t len = 0;
    ek_autofree char *req = ek__kl_grpc_request("10.42.0.5:9000", "app", &len);
    ASSERT_TRUE(len > 24 + 9);
    ASSERT_TRUE(memcmp(req, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24) == 0);
    /* An empty SETTINGS frame, then HEADERS on stream 1 with END_HEADERS. */
    const uint8_t *f = (const uint8_t *)req + 24;
    ASSERT_EQ(f[3], 0x4);
    ASSERT_EQ(f[0] | f[1] | f[2], 0);
    f += 9;
    size_t hl = ((size_t)f[0] << 16) | ((size_t)f[1] << 8) | f[2];
    ASSERT_EQ(f[3], 0x1);
    ASSERT_EQ(f[4], 0x4);
    ASSERT_EQ(f[8], 1);
    ASSERT_TRUE(memmem(f + 9, hl, "/grpc.health.v1.Health/Check", 28) != NULL);
    ASSERT_TRUE(memmem(f + 9, hl, "10.42.0.5:9000", 14) != NULL);
    ASSERT_TRUE(memmem(f + 9, hl, "application/grpc", 16) != NULL);
    /* DATA with END_STREAM: uncompressed, 5 bytes of HealthCheckRequest{service: "app"}. */
    f += 9 + hl;
    ASSERT_EQ(f[3], 0x0);
    ASSERT_EQ(f[4], 0x1);
    ASSERT_EQ(f[2], 10);
    ASSERT_TRUE(memcmp(f + 9,
                       "\x00\x00\x00\x00\x05\x0a\x03"
                       "app",
                       10) == 0);
    ASSERT_EQ((size_t)(f + 19 - (const uint8_t *)req), len);
}

TEST(grpc_reader)
{
    ek_autobuf b = EK_BUF_INIT;
    frame(&b, 0x4, 0, 0, "\x00\x03\x00\x00\x00\x64", 6); /* SETTINGS */
    frame(&b, 0x6, 0, 0, "12345678", 8);                 /* PING */
    frame(&b, 0x1, 0x4, 1, "\x88", 1);                   /* HEADERS :status 200 */
    /* DATA, padded: pad length 2, message {status: NOT_SERVING}, 2 bytes of padding. */
    frame(&b, 0x0, 0x8, 1, "\x02\x00\x00\x00\x00\x02\x08\x02\x00\x00", 10);
    frame(&b, 0x1, 0x5, 1, "\x40", 1); /* trailers, END_STREAM */
    /* Fed one byte more each time, as a socket may deliver it: the same outcome. */
    for (size_t step = 1; step <= b.len; step += 7) {
        ek__kl_grpc_reader_t r = { .status = -1, .data = EK_BUF_INIT };
        size_t have = 0, used = 0;
        while (have < b.len) {
            have = EK_MIN(have + step, b.len);
            ek_error_t *err = NULL;
            ssize_t n = ek__kl_grpc_feed(&r, (const uint8_t *)b.data + used, have - used, &err);
            ASSERT_TRUE(n >= 0);
            used += (size_t)n;
        }
        ASSERT_EQ(used, b.len);
        ASSERT_EQ(r.status, 2);
        ASSERT_TRUE(r.ended);
        ASSERT_EQ(r.acks_due, 1);
        ASSERT_TRUE(r.ping_due);
        ASSERT_TRUE(memcmp(r.ping, "12345678", 8) == 0);
        ek_buf_free(&r.data);
    }
    /* A trailers-only answer (an RPC error): ended without a status. */
    ek_autobuf e = EK_BUF_INIT;
    frame(&e, 0x1, 0x5, 1, "\x88", 1);
    ek__kl_grpc_reader_t r = { .status = -1, .data = EK_BUF_INIT };
    ASSERT_EQ(ek__kl_grpc_feed(&r, (const uint8_t *)e.data, e.len, NULL), (ssize_t)e.len);
    ASSERT_TRUE(r.ended);
    ASSERT_EQ(r.status, -1);
    /* Frames no server may send are errors, not crashes. */
    ek_autobuf bad = EK_BUF_INIT;
    frame(&bad, 0x0, 0x8, 1, "\x09\x00", 2); /* padding longer than the frame */
    ek_error_t *err = NULL;
    ASSERT_EQ(ek__kl_grpc_feed(&r, (const uint8_t *)bad.data, bad.len, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "padding");
    ek_error_clear(&err);
    ek_buf_free(&r.data);
}
