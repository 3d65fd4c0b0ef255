/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CSR cleaner, as kube-controller-manager's: CertificateSigningRequests are not kept
 * forever (every join and every renewal makes one). When each goes is csr_cleanup_at's
 * decision (csrutil.c); a request syncs again at that time, so nothing polls.
 */
#include <stdio.h>
#include <time.h>

#include "server/controllers/controllers-internal.h"

typedef struct cleaner {
    ctrl_t *c;
    ek_informer_t *csrs;
} cleaner_t;

static void sync_csr(ctrl_t *c, const char *key, void *data)
{
    cleaner_t *t = data;
    json_t *csr = ek_informer_get(t->csrs, NULL, key);
    int64_t at = csr ? csr_cleanup_at(csr) : 0;
    int64_t now = time(NULL);
    if (!at) {
        ctrl_done(c, key, SYNC_OK);
        return;
    }
    if (at > now) {
        ctrl_done(c, key, (int)EK_MIN((at - now) * 1000 + 500, 24 * 3600 * 1000));
        return;
    }
    EK_LOG(EK_INFO, "controllers", "deleting an old certificate signing request name=%s", key);
    delete_seen_object(c, key, res_of("certificates.k8s.io", "v1", "certificatesigningrequests"),
                       NULL, csr);
}

static void on_csr(json_t *csr, void *data)
{
    cleaner_t *t = data;
    ctrl_enqueue_obj(t->c, csr);
}

static void on_csr_update(json_t *old, json_t *csr, void *data)
{
    EK_UNUSED(old);
    on_csr(csr, data);
}

void csrcleaner_controller_start(ctrl_manager_t *m)
{
    cleaner_t *t = ek_new(cleaner_t);
    t->csrs = mgr_informer(m, "certificates.k8s.io", "v1", "certificatesigningrequests");
    t->c = ctrl_new(m, "csrcleaner", sync_csr, t, 1);
    static const ek_informer_handlers_t h = { .on_add = on_csr, .on_update = on_csr_update };
    ek_informer_add_handlers(t->csrs, &h, t);
    mgr_own(m, t, free);
}
