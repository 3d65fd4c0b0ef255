/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `edgek join --server URL --token TOKEN --node-name NAME`: obtains (or renews) this node's
 * client credentials with a join token and exits — the first step of `edgek agent --join`,
 * on its own for provisioning and for tests. Prints where the kubeconfig is.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "node/node.h"

static char *server_url;
static char *token;
static char *token_file;
static char *node_name;
static char *data_dir = "/var/lib/edgek";
static bool renew;
static int64_t cert_ttl_ms;

static const ek_flag_t join_flags[] = {
    { "server", 's', EK_FLAG_STRING, &server_url, "EDGEK_URL", "URL",
      "the API server, https://HOST:6443 (--join is the same)" },
    { "join", 0, EK_FLAG_STRING, &server_url, NULL, "URL", "alias of --server" },
    { "token", 't', EK_FLAG_STRING, &token, "EDGEK_TOKEN", "TOKEN", "join token" },
    { "token-file", 0, EK_FLAG_STRING, &token_file, "EDGEK_TOKEN_FILE", "FILE",
      "read the join token from FILE" },
    { "node-name", 0, EK_FLAG_STRING, &node_name, "EDGEK_NODE_NAME", "NAME",
      "this node's name (default: the host name)" },
    { "data-dir", 'd', EK_FLAG_STRING, &data_dir, "EDGEK_DATA_DIR", "DIR",
      "the credentials go to DIR/agent (default /var/lib/edgek)" },
    { "renew", 0, EK_FLAG_BOOL, &renew, NULL, NULL, "renew the certificate now" },
    { "cert-ttl", 0, EK_FLAG_DURATION, &cert_ttl_ms, NULL, "DURATION",
      "validity to ask for (default: the server's, one year)" },
    { NULL, 0, 0, NULL, NULL, NULL, NULL },
};

/* The join token from --token, else --token-file. Caller frees. */
char *ek_cmd_join_token(const char *tok, const char *file, ek_error_t **err)
{
    if (tok && *tok) {
        return ek_xstrdup(tok);
    }
    if (file && *file) {
        char *t = ek_file_read(file, 4096, NULL, err);
        if (!t) {
            ek_error_wrap(err, "--token-file");
        }
        return t;
    }
    return NULL;
}

/* The node name: given, else the host name, lowercased. Caller frees. */
char *ek_cmd_node_name(const char *given)
{
    char host[256] = "";
    if (!given || !*given) {
        gethostname(host, sizeof(host) - 1);
    }
    char *name = ek_xstrdup(given && *given ? given : host);
    for (char *p = name; *p; p++) {
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    }
    return name;
}

static int run_join(int nargs, char **argv)
{
    EK_UNUSED(argv);
    if (nargs > 0) {
        fprintf(stderr, "edgek join: takes no arguments\n");
        return 2;
    }
    if (!server_url) {
        fprintf(stderr, "edgek join: --server (or --join) is required\n");
        return 2;
    }
    ek_error_t *err = NULL;
    ek_autofree char *tok = ek_cmd_join_token(token, token_file, &err);
    if (err) {
        return ek_cmd_fail(err);
    }
    ek_autofree char *name = ek_cmd_node_name(node_name);
    ek_autofree char *dir = ek_xasprintf("%s/agent", data_dir);
    ek_join_options_t o = { .server = server_url,
                            .token = tok,
                            .node_name = name,
                            .dir = dir,
                            .cert_seconds = cert_ttl_ms / 1000 };
    ek_join_creds_t c;
    uint64_t t0 = ek_now_ns();
    int rc = renew ? ek_join_renew(&o, &c, &err) : ek_join(&o, &c, &err);
    if (tok) {
        explicit_bzero(tok, strlen(tok));
    }
    if (rc < 0) {
        return ek_cmd_fail(err);
    }
    char until[21];
    ek_time_rfc3339((time_t)c.not_after, until);
    printf("node %s: %s credentials in %s (certificate valid until %s, %.0f ms)\n", name,
           c.issued ? "new" : "existing", c.kubeconfig_path, until,
           (double)(ek_now_ns() - t0) / 1e6);
    ek_join_creds_clear(&c);
    return 0;
}

const ek_cmd_t ek_cmd_join = {
    .name = "join",
    .summary = "obtain this node's credentials with a join token, then exit",
    .usage = "",
    .flags = join_flags,
    .run = run_join,
};
