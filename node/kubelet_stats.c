/* SPDX-License-Identifier: Apache-2.0 */
#include "node/kubelet-internal.h"

bool ek__kl_stats_handle(ek_kubelet_t *kl, ek_http_req_t *req)
{
    EK_UNUSED(kl);
    EK_UNUSED(req);
    return false;
}
