/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what a joining node sends: the PKCS#10 request read by
 * ek_pki_csr_inspect (the approver's view of spec.request, including the extensionRequest
 * walk done by hand) and the join token forms of ek_join_token_parse. The input is tried as
 * PEM text, and wrapped as the DER body of a PEM block (to reach the ASN.1 walk more often);
 * also as an agent's --node-taint.
 */
#include <stdio.h>

#include "api/api.h"
#include "node/node.h"
#include "server/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ek_log_configure("error", NULL);
    return 0;
}

static void inspect(const char *pem)
{
    ek_pki_csr_info_t info;
    ek_error_t *err = NULL;
    if (ek_pki_csr_inspect(pem, &info, &err) == 0) {
        ek_assert(info.n_cn == 0 || info.cn);
        ek_assert(info.key_type);
        ek_pki_csr_info_clear(&info);
    } else {
        ek_assert(err);
        ek_error_free(err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = ek_xstrndup((const char *)data, size);
    inspect(text);
    ek_join_token_t t;
    if (ek_join_token_parse(text, &t, NULL) == 0) {
        ek_assert(t.secret && *t.secret);
        ek_assert(!t.ca_hash || strlen(t.ca_hash) == 64);
        ek_assert(!t.bootstrap_id || strlen(t.bootstrap_id) == EK_BOOTSTRAP_ID_LEN);
        ek_join_token_clear(&t);
    }
    json_t *taint = ek_agent_taint_parse(text, NULL);
    if (taint) {
        ek_assert(ek_json_str(taint, "key", NULL) && ek_json_str(taint, "effect", NULL));
        json_decref(taint);
    }
    free(text);
    char *b64 = ek_base64_encode(data, size);
    char *pem = ek_xasprintf("-----BEGIN CERTIFICATE REQUEST-----\n%s\n"
                             "-----END CERTIFICATE REQUEST-----\n",
                             b64);
    inspect(pem);
    free(pem);
    free(b64);
    return 0;
}
