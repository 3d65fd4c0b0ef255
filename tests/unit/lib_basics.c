/* SPDX-License-Identifier: Apache-2.0 */
/* errors, buffers, files, time parsing, logging configuration and flags. */
#include <errno.h>
#include <sys/stat.h>

#include "tests/unit/test.h"

static int inner(ek_error_t **err)
{
    return ek_error_make(err, ENOENT, "open `%s`", "/nope");
}

static int outer(ek_error_t **err)
{
    if (inner(err) < 0) {
        return ek_error_wrap(err, "load config");
    }
    return 0;
}

TEST(error_wrap_adds_context)
{
    ek_error_t *err = NULL;
    ASSERT_EQ(outer(&err), -1);
    ASSERT_STREQ(ek_error_msg(err), "load config: open `/nope`: No such file or directory");
    ASSERT_EQ(err->errnum, ENOENT);
    ek_error_clear(&err);
    ASSERT_TRUE(err == NULL);
    ek_error_status(&err, 409, "conflict on %s", "x");
    ASSERT_EQ(err->status, 409);
    ASSERT_STREQ(ek_error_msg(err), "conflict on x");
    /* A second error does not replace the first. */
    ek_error_make(&err, 0, "second");
    ASSERT_STREQ(ek_error_msg(err), "conflict on x");
    ek_error_free(err);
}

TEST(buf_grows_and_consumes)
{
    ek_autobuf b = EK_BUF_INIT;
    for (int i = 0; i < 1000; i++) {
        ek_buf_printf(&b, "%04d", i);
    }
    ASSERT_EQ(b.len, 4000);
    ASSERT_TRUE(memcmp(b.data + 3996, "0999", 4) == 0);
    ek_buf_consume(&b, 3996);
    ASSERT_STREQ(b.data, "0999");
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ek_buf_printf(&b, "%s", big);
    ASSERT_EQ(b.len, 4 + 999);
}

TEST(fs_atomic_write_and_rm_rf)
{
    ek_error_t *err = NULL;
    ek_autofree char *dir = ek_test_path("a/b/c");
    ASSERT_OK(ek_mkdir_p(dir, 0755, &err), &err);
    ek_autofree char *f = ek_test_path("a/b/c/file");
    ASSERT_OK(ek_file_write_atomic(f, "hello", 5, 0600, &err), &err);
    struct stat st;
    ASSERT_EQ(stat(f, &st), 0);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    size_t len;
    ek_autofree char *data = ek_file_read(f, 0, &len, &err);
    ASSERT_STREQ(data, "hello");
    ASSERT_TRUE(ek_file_read(f, 3, &len, &err) == NULL);
    ASSERT_EQ(err->errnum, EFBIG);
    ek_error_clear(&err);
    ek_autofree char *top = ek_test_path("a");
    ASSERT_OK(ek_rm_rf(top, &err), &err);
    ASSERT_FALSE(ek_path_exists(top));
    ASSERT_OK(ek_rm_rf(top, &err), &err);
}

TEST(time_rfc3339)
{
    struct timespec ts;
    ASSERT_EQ(ek_time_parse_rfc3339("2026-11-25T10:20:30Z", &ts), 0);
    char buf[31];
    ASSERT_STREQ(ek_time_rfc3339(ts.tv_sec, buf), "2026-11-25T10:20:30Z");
    ASSERT_EQ(ek_time_parse_rfc3339("2026-11-25T12:20:30.5+02:00", &ts), 0);
    ASSERT_STREQ(ek_time_rfc3339_nano(&ts, buf), "2026-11-25T10:20:30.500000000Z");
    ASSERT_EQ(ek_time_parse_rfc3339("2026-11-25", &ts), -1);
    ASSERT_EQ(ek_time_parse_rfc3339("2026-13-25T10:20:30Z", &ts), -1);
}

TEST(duration_parse)
{
    int64_t ms;
    ek_error_t *err = NULL;
    ASSERT_OK(ek_duration_parse_ms("1h30m", &ms, &err), &err);
    ASSERT_EQ(ms, 5400000);
    ASSERT_OK(ek_duration_parse_ms("250ms", &ms, &err), &err);
    ASSERT_EQ(ms, 250);
    ASSERT_OK(ek_duration_parse_ms("1.5s", &ms, &err), &err);
    ASSERT_EQ(ms, 1500);
    ASSERT_OK(ek_duration_parse_ms("60", &ms, &err), &err);
    ASSERT_EQ(ms, 60000);
    ASSERT_EQ(ek_duration_parse_ms("10x", &ms, &err), -1);
    ek_error_free(err);
}

TEST(log_levels_per_component)
{
    ek_error_t *err = NULL;
    ASSERT_OK(ek_log_configure("warn,kv=debug", &err), &err);
    ASSERT_TRUE(ek_log_enabled(EK_DEBUG, "kv"));
    ASSERT_FALSE(ek_log_enabled(EK_TRACE, "kv"));
    ASSERT_FALSE(ek_log_enabled(EK_INFO, "http"));
    ASSERT_TRUE(ek_log_enabled(EK_WARN, "http"));
    ASSERT_EQ(ek__log_max, EK_DEBUG);
    ASSERT_EQ(ek_log_configure("loud", &err), -1);
    ek_error_free(err);
}

TEST(flags_cli_env_config_precedence)
{
    char *data_dir = "/var/lib/edgek";
    char *token = NULL;
    int port = 6443;
    bool disable = false;
    int64_t flush = 60000;
    ek_strlist_t sans = { 0 };
    const ek_flag_t flags[] = {
        { "data-dir", 'd', EK_FLAG_STRING, &data_dir, NULL, "DIR", "data" },
        { "token", 't', EK_FLAG_STRING, &token, "EK_TEST_TOKEN", "T", "token" },
        { "https-listen-port", 0, EK_FLAG_INT, &port, NULL, "PORT", "port" },
        { "disable-agent", 0, EK_FLAG_BOOL, &disable, NULL, NULL, "no agent" },
        { "volatile-flush", 0, EK_FLAG_DURATION, &flush, NULL, "D", "flush" },
        { "tls-san", 0, EK_FLAG_LIST, &sans, NULL, "SAN", "sans" },
        { NULL, 0, 0, NULL, NULL, NULL, NULL },
    };
    ek_error_t *err = NULL;
    ek_autofree char *cfg = ek_test_path("config.yaml");
    const char *text = "data-dir: /from/config\nhttps-listen-port: 7443\ntoken: cfgtoken\n"
                       "tls-san: [a.example, b.example]\nagent-only-key: x\n";
    ASSERT_OK(ek_file_write_atomic(cfg, text, strlen(text), 0600, &err), &err);
    setenv("EK_TEST_TOKEN", "envtoken", 1);
    char *argv[] = { "server",
                     "pos1",
                     "--config",
                     cfg,
                     "-d",
                     "/from/cli",
                     "--disable-agent",
                     "--volatile-flush=2m",
                     "--tls-san",
                     "c.example",
                     "pos2",
                     NULL };
    int nargs = 0;
    ASSERT_OK(ek_flags_parse(flags, 11, argv, &nargs, &err), &err);
    ASSERT_EQ(nargs, 2);
    ASSERT_STREQ(argv[1], "pos1");
    ASSERT_STREQ(argv[2], "pos2");
    ASSERT_STREQ(data_dir, "/from/cli");
    ASSERT_STREQ(token, "envtoken");
    ASSERT_EQ(port, 7443);
    ASSERT_TRUE(disable);
    ASSERT_EQ(flush, 120000);
    ASSERT_EQ(sans.n, 1); /* the command line wins over the config file for lists too */
    ASSERT_STREQ(sans.v[0], "c.example");
    ek_flags_free(flags);

    char *bad[] = { "server", "--nope", NULL };
    ASSERT_EQ(ek_flags_parse(flags, 2, bad, &nargs, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "unknown flag `--nope`");
    ek_error_clear(&err);
    char *bad2[] = { "server", "--https-listen-port", "abc", NULL };
    ASSERT_EQ(ek_flags_parse(flags, 3, bad2, &nargs, &err), -1);
    ASSERT_CONTAINS(ek_error_msg(err), "wants an integer");
    ek_error_free(err);
}

TEST(map_put_get_del_against_reference)
{
    /* Random operations checked against a plain array model. */
    enum { N = 2000 };
    static int model[N];
    ek_map_t m = EK_MAP_INIT;
    unsigned seed = 42;
    for (int step = 0; step < 50000; step++) {
        seed = seed * 1103515245 + 12345;
        int k = (int)((seed >> 8) % N);
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        if ((seed >> 4) % 3 == 0) {
            void *v = ek_map_del(&m, key);
            ASSERT_EQ((intptr_t)v, model[k]);
            model[k] = 0;
        } else {
            int val = step + 1;
            void *prev = ek_map_put(&m, key, (void *)(intptr_t)val);
            ASSERT_EQ((intptr_t)prev, model[k]);
            model[k] = val;
        }
    }
    size_t count = 0;
    for (int k = 0; k < N; k++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", k);
        ASSERT_EQ((intptr_t)ek_map_get(&m, key), model[k]);
        count += model[k] != 0;
    }
    ASSERT_EQ(m.n, count);
    size_t it = 0, seen = 0;
    const char *key;
    void *val;
    while (ek_map_next(&m, &it, &key, &val)) {
        seen++;
    }
    ASSERT_EQ(seen, count);
    ek_map_free(&m);
}

TEST(base64_round_trips)
{
    const char *cases[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t i = 0; i < EK_ARRAY_SIZE(cases); i++) {
        ek_autofree char *e = ek_base64_encode(cases[i], strlen(cases[i]));
        ASSERT_STREQ(e, std[i]);
        size_t len;
        ek_autofree char *d = ek_base64_decode(e, &len);
        ASSERT_EQ(len, strlen(cases[i]));
        ASSERT_STREQ(d, cases[i]);
    }
    unsigned char bin[] = { 0xfb, 0xff, 0xfe };
    ek_autofree char *u = ek_base64url_encode(bin, 3);
    ASSERT_STREQ(u, "-__-");
    ASSERT_TRUE(ek_base64_decode("Zm9v!", NULL) == NULL);
    ASSERT_TRUE(ek_base64url_decode("A", NULL) == NULL);
}

TEST(pb_write_and_read)
{
    ek_autobuf msg = EK_BUF_INIT;
    ek_autobuf inner = EK_BUF_INIT;
    ek_pb_string(&inner, 1, "apps");
    ek_pb_uint(&inner, 2, 300);
    ek_pb_message(&msg, 7, &inner);
    ek_pb_bool(&msg, 3, true);
    ek_pb_double(&msg, 4, 1.5);
    /* Field 7 (len 7: "apps" tag+len+4, 300 = 0xac 0x02 with tag) */
    ASSERT_EQ((unsigned char)msg.data[0], (7 << 3) | 2);
    ek_pb_reader_t r;
    ek_pb_field_t f;
    ek_pb_reader_init(&r, msg.data, msg.len);
    ASSERT_EQ(ek_pb_next(&r, &f), 1);
    ASSERT_EQ(f.number, 7);
    ek_pb_reader_t ri;
    ek_pb_reader_init(&ri, f.data, f.len);
    ek_pb_field_t g;
    ASSERT_EQ(ek_pb_next(&ri, &g), 1);
    ASSERT_EQ(g.len, 4);
    ASSERT_TRUE(memcmp(g.data, "apps", 4) == 0);
    ASSERT_EQ(ek_pb_next(&ri, &g), 1);
    ASSERT_EQ(g.varint, 300);
    ASSERT_EQ(ek_pb_next(&ri, &g), 0);
    ASSERT_EQ(ek_pb_next(&r, &f), 1);
    ASSERT_EQ(f.varint, 1);
    ASSERT_EQ(ek_pb_next(&r, &f), 1);
    double d;
    memcpy(&d, &f.varint, 8);
    ASSERT_TRUE(d == 1.5);
    ASSERT_EQ(ek_pb_next(&r, &f), 0);
    const uint8_t bad[] = { 0x0a, 0x05, 'a' }; /* length beyond the end */
    ek_pb_reader_init(&r, bad, sizeof(bad));
    ASSERT_EQ(ek_pb_next(&r, &f), -1);
}
