/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Printers for networking (Ingress, IngressClass, NetworkPolicy), discovery
 * (EndpointSlice), coordination (Lease), rbac (RoleBinding, ClusterRoleBinding), storage
 * (StorageClass, VolumeAttachment, CSINode, CSIDriver), scheduling (PriorityClass),
 * certificates (CertificateSigningRequest), admissionregistration (webhook configurations)
 * and node (RuntimeClass). Role and ClusterRole have no printer in Kubernetes: they get the
 * default one.
 */
#include <stdio.h>

#include "api/printers-internal.h"

#define MAX_LISTED 3

/* ---- Ingress, IngressClass, NetworkPolicy ---- */

static const ek_column_t ingress_columns[] = {
    EK__COL_NAME,
    EK__COL("Class", "string", "The IngressClass that handles the ingress."),
    EK__COL("Hosts", "string", "Host names the rules match (* for any)."),
    EK__COL("Address", "string", "Addresses the ingress is reachable at."),
    EK__COL("Ports", "string", "Ports it listens on: 80, and 443 with TLS."),
    EK__COL_AGE,
};

/* The first three rule hosts; rules without a host only count towards "+ N more...". */
static void ingress_hosts_cell(json_t *cells, const json_t *ing)
{
    const json_t *rules = ek_json_path(ing, "spec", "rules", NULL);
    ek_autobuf b = EK_BUF_INIT;
    size_t i, listed = 0;
    bool more = false;
    const json_t *r;
    json_array_foreach (rules, i, r) {
        const char *host = ek_json_str(r, "host", NULL);
        more = more || listed == MAX_LISTED;
        if (!more && host && *host) {
            ek_buf_printf(&b, "%s%s", listed++ ? "," : "", host);
        }
    }
    if (listed == 0) {
        ek__cell_str(cells, "*");
    } else if (more) {
        ek__cell_strf(cells, "%s + %zu more...", b.data, ek__printer_len(rules) - MAX_LISTED);
    } else {
        ek__cell_str(cells, b.data);
    }
}

static void ingress_row(const json_t *ing, time_t now, json_t *cells)
{
    ek__cell_name(cells, ing);
    ek__cell_str(cells, ek__or(ek_json_str(ing, "spec", "ingressClassName", NULL), "<none>"));
    ingress_hosts_cell(cells, ing);
    ek__cell_take(cells,
                  ek__lb_ingress(ek_json_path(ing, "status", "loadBalancer", "ingress", NULL)));
    ek__cell_str(cells, ek__printer_len(ek_json_path(ing, "spec", "tls", NULL)) ? "80, 443" : "80");
    ek__cell_age(cells, ing, now);
}

const ek_printer_t ek__printer_ingress = EK__PRINTER(ingress_columns, ingress_row);

static const ek_column_t ingressclass_columns[] = {
    EK__COL_NAME,
    EK__COL("Controller", "string", "The controller that implements the class."),
    EK__COL("Parameters", "string", "The resource with the class's parameters."),
    EK__COL_AGE,
};

static void ingressclass_row(const json_t *ic, time_t now, json_t *cells)
{
    const json_t *params = ek_json_path(ic, "spec", "parameters", NULL);
    ek__cell_name(cells, ic);
    ek__cell_str(cells, ek_json_str(ic, "spec", "controller", NULL));
    if (!json_is_object(params)) {
        ek__cell_str(cells, "<none>");
    } else {
        const char *group = ek_json_str(params, "apiGroup", NULL);
        ek__cell_strf(cells, "%s%s%s/%s", ek__or(ek_json_str(params, "kind", NULL), ""),
                      group ? "." : "", group ? group : "",
                      ek__or(ek_json_str(params, "name", NULL), ""));
    }
    ek__cell_age(cells, ic, now);
}

const ek_printer_t ek__printer_ingressclass = EK__PRINTER(ingressclass_columns, ingressclass_row);

static const ek_column_t networkpolicy_columns[] = {
    EK__COL_NAME,
    EK__COL("Pod-Selector", "string", "Labels of the pods the policy applies to."),
    EK__COL_AGE,
};

static void networkpolicy_row(const json_t *np, time_t now, json_t *cells)
{
    ek__cell_name(cells, np);
    /* The pod selector is not optional: a missing one selects every pod and prints "<none>". */
    const json_t *sel = ek_json_path(np, "spec", "podSelector", NULL);
    ek__cell_take(cells, sel ? ek__format_selector(sel) : ek_xstrdup("<none>"));
    ek__cell_age(cells, np, now);
}

const ek_printer_t ek__printer_networkpolicy =
    EK__PRINTER(networkpolicy_columns, networkpolicy_row);

/* ---- EndpointSlice ---- */

static const ek_column_t endpointslice_columns[] = {
    EK__COL_NAME,
    EK__COL("AddressType", "string", "IPv4, IPv6 or FQDN."),
    EK__COL("Ports", "string", "The first few ports (by number, else by name)."),
    EK__COL("Endpoints", "string", "The first few endpoint addresses."),
    EK__COL_AGE,
};

struct short_list {
    ek_buf_t text;
    size_t listed, total;
};

static void short_list_add(struct short_list *l, const char *s)
{
    if (l->listed < MAX_LISTED) {
        ek_buf_printf(&l->text, "%s%s", l->listed++ ? "," : "", s);
    }
    l->total++;
}

/* "a,b,c + 2 more...", or "<unset>" for an empty list. */
static void short_list_cell(json_t *cells, struct short_list *l)
{
    if (l->total > MAX_LISTED) {
        ek__cell_strf(cells, "%s + %zu more...", l->text.data, l->total - MAX_LISTED);
    } else {
        ek__cell_str(cells, l->total ? l->text.data : "<unset>");
    }
    ek_buf_free(&l->text);
}

static void endpointslice_row(const json_t *es, time_t now, json_t *cells)
{
    struct short_list ports = { .text = EK_BUF_INIT }, addrs = { .text = EK_BUF_INIT };
    size_t i, j;
    const json_t *p, *e, *a;
    json_array_foreach (ek_json_path(es, "ports", NULL), i, p) {
        const json_t *num = ek_json_path(p, "port", NULL);
        const char *name = ek_json_str(p, "name", NULL);
        char buf[24];
        snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(num));
        short_list_add(&ports, json_is_integer(num) ? buf : name ? name : "*");
    }
    json_array_foreach (ek_json_path(es, "endpoints", NULL), i, e) {
        json_array_foreach (ek_json_path(e, "addresses", NULL), j, a) {
            short_list_add(&addrs, ek__or(json_string_value(a), ""));
        }
    }
    ek__cell_name(cells, es);
    ek__cell_str(cells, ek_json_str(es, "addressType", NULL));
    short_list_cell(cells, &ports);
    short_list_cell(cells, &addrs);
    ek__cell_age(cells, es, now);
}

const ek_printer_t ek__printer_endpointslice =
    EK__PRINTER(endpointslice_columns, endpointslice_row);

/* ---- Lease ---- */

static const ek_column_t lease_columns[] = {
    EK__COL_NAME,
    EK__COL("Holder", "string", "Who holds the lease."),
    EK__COL_AGE,
};

static void lease_row(const json_t *lease, time_t now, json_t *cells)
{
    ek__cell_name(cells, lease);
    ek__cell_str(cells, ek_json_str(lease, "spec", "holderIdentity", NULL));
    ek__cell_age(cells, lease, now);
}

const ek_printer_t ek__printer_lease = EK__PRINTER(lease_columns, lease_row);

/* ---- RoleBinding, ClusterRoleBinding ---- */

static const ek_column_t rolebinding_columns[] = {
    EK__COL_NAME,
    EK__COL("Role", "string", "The role granted, as Kind/name."),
    EK__COL_AGE,
    EK__COL_WIDE("Users", "string", "Users in the binding."),
    EK__COL_WIDE("Groups", "string", "Groups in the binding."),
    EK__COL_WIDE("ServiceAccounts", "string", "Service accounts in the binding."),
};

/* Users, groups and "namespace/name" service accounts, each list joined with ", ". */
static void subjects_cells(json_t *cells, const json_t *subjects)
{
    ek_autobuf users = EK_BUF_INIT;
    ek_autobuf groups = EK_BUF_INIT;
    ek_autobuf sas = EK_BUF_INIT;
    ek_buf_puts(&users, "");
    ek_buf_puts(&groups, "");
    ek_buf_puts(&sas, "");
    size_t i;
    const json_t *s;
    json_array_foreach (subjects, i, s) {
        const char *kind = ek__or(ek_json_str(s, "kind", NULL), "");
        const char *name = ek__or(ek_json_str(s, "name", NULL), "");
        if (strcmp(kind, "User") == 0) {
            ek_buf_printf(&users, "%s%s", users.len ? ", " : "", name);
        } else if (strcmp(kind, "Group") == 0) {
            ek_buf_printf(&groups, "%s%s", groups.len ? ", " : "", name);
        } else if (strcmp(kind, "ServiceAccount") == 0) {
            ek_buf_printf(&sas, "%s%s/%s", sas.len ? ", " : "",
                          ek__or(ek_json_str(s, "namespace", NULL), ""), name);
        }
    }
    ek__cell_str(cells, users.data);
    ek__cell_str(cells, groups.data);
    ek__cell_str(cells, sas.data);
}

static void rolebinding_row(const json_t *rb, time_t now, json_t *cells)
{
    ek__cell_name(cells, rb);
    ek__cell_strf(cells, "%s/%s", ek__or(ek_json_str(rb, "roleRef", "kind", NULL), ""),
                  ek__or(ek_json_str(rb, "roleRef", "name", NULL), ""));
    ek__cell_age(cells, rb, now);
    subjects_cells(cells, ek_json_path(rb, "subjects", NULL));
}

const ek_printer_t ek__printer_rolebinding = EK__PRINTER(rolebinding_columns, rolebinding_row);

static const ek_column_t clusterrolebinding_columns[] = {
    EK__COL_NAME,
    EK__COL("Role", "string", "The cluster role granted, as ClusterRole/name."),
    EK__COL_AGE,
    EK__COL_WIDE("Users", "string", "Users in the binding."),
    EK__COL_WIDE("Groups", "string", "Groups in the binding."),
    EK__COL_WIDE("ServiceAccounts", "string", "Service accounts in the binding."),
};

const ek_printer_t ek__printer_clusterrolebinding =
    EK__PRINTER(clusterrolebinding_columns, rolebinding_row);

/* ---- StorageClass, VolumeAttachment, CSINode, CSIDriver ---- */

static const ek_column_t storageclass_columns[] = {
    EK__COL_NAME,
    EK__COL("Provisioner", "string", "The provisioner that creates the class's volumes."),
    EK__COL("ReclaimPolicy", "string", "What happens to a volume when its claim goes."),
    EK__COL("VolumeBindingMode", "string", "Immediate, or WaitForFirstConsumer."),
    EK__COL("AllowVolumeExpansion", "string", "Whether claims may grow their volumes."),
    EK__COL_AGE,
};

static bool annotation_true(const json_t *obj, const char *key)
{
    return ek_streq(ek_json_str(obj, "metadata", "annotations", key, NULL), "true");
}

static void storageclass_row(const json_t *sc, time_t now, json_t *cells)
{
    const char *name = ek__or(ek_json_str(sc, "metadata", "name", NULL), "");
    bool is_default = annotation_true(sc, "storageclass.kubernetes.io/is-default-class") ||
                      annotation_true(sc, "storageclass.beta.kubernetes.io/is-default-class");
    ek__cell_strf(cells, "%s%s", name, is_default ? " (default)" : "");
    ek__cell_str(cells, ek_json_str(sc, "provisioner", NULL));
    ek__cell_str(cells, ek__or(ek_json_str(sc, "reclaimPolicy", NULL), "Delete"));
    ek__cell_str(cells, ek__or(ek_json_str(sc, "volumeBindingMode", NULL), "Immediate"));
    ek__cell_bool(cells, ek_json_bool(sc, false, "allowVolumeExpansion", NULL));
    ek__cell_age(cells, sc, now);
}

const ek_printer_t ek__printer_storageclass = EK__PRINTER(storageclass_columns, storageclass_row);

static const ek_column_t volumeattachment_columns[] = {
    EK__COL_NAME,
    { "Attacher", "string", "name", "The CSI driver that attaches the volume.", 0 },
    EK__COL("PV", "string", "The persistent volume being attached."),
    EK__COL("Node", "string", "The node the volume is attached to."),
    EK__COL("Attached", "boolean", "Whether the attach operation has finished."),
    EK__COL_AGE,
};

static void volumeattachment_row(const json_t *va, time_t now, json_t *cells)
{
    ek__cell_name(cells, va);
    ek__cell_str(cells, ek_json_str(va, "spec", "attacher", NULL));
    ek__cell_str(cells, ek_json_str(va, "spec", "source", "persistentVolumeName", NULL));
    ek__cell_str(cells, ek_json_str(va, "spec", "nodeName", NULL));
    ek__cell_bool(cells, ek_json_bool(va, false, "status", "attached", NULL));
    ek__cell_age(cells, va, now);
}

const ek_printer_t ek__printer_volumeattachment =
    EK__PRINTER(volumeattachment_columns, volumeattachment_row);

static const ek_column_t csinode_columns[] = {
    EK__COL_NAME,
    EK__COL("Drivers", "integer", "Number of CSI drivers registered on the node."),
    EK__COL_AGE,
};

static void csinode_row(const json_t *cn, time_t now, json_t *cells)
{
    ek__cell_name(cells, cn);
    ek__cell_int(cells, (long long)ek__printer_len(ek_json_path(cn, "spec", "drivers", NULL)));
    ek__cell_age(cells, cn, now);
}

const ek_printer_t ek__printer_csinode = EK__PRINTER(csinode_columns, csinode_row);

static const ek_column_t csidriver_columns[] = {
    EK__COL_NAME,
    EK__COL("AttachRequired", "boolean", "Whether volumes need an attach step."),
    EK__COL("PodInfoOnMount", "boolean", "Whether mounts receive the pod's details."),
    EK__COL("StorageCapacity", "boolean", "Whether the driver reports storage capacity."),
    EK__COL("TokenRequests", "string", "Audiences of the service account tokens it gets."),
    EK__COL("RequiresRepublish", "boolean", "Whether volumes are mounted again periodically."),
    EK__COL("Modes", "string", "Volume lifecycle modes: Persistent, Ephemeral."),
    EK__COL_AGE,
};

static void csidriver_row(const json_t *cd, time_t now, json_t *cells)
{
    const json_t *spec = ek_json_path(cd, "spec", NULL);
    const json_t *tokens = ek_json_path(spec, "tokenRequests", NULL);
    ek__cell_name(cells, cd);
    ek__cell_bool(cells, ek_json_bool(spec, true, "attachRequired", NULL));
    ek__cell_bool(cells, ek_json_bool(spec, false, "podInfoOnMount", NULL));
    ek__cell_bool(cells, ek_json_bool(spec, false, "storageCapacity", NULL));
    if (!json_is_array(tokens)) {
        ek__cell_str(cells, "<unset>");
    } else {
        ek_autobuf b = EK_BUF_INIT;
        ek_buf_puts(&b, "");
        size_t i;
        const json_t *t;
        json_array_foreach (tokens, i, t) {
            ek_buf_printf(&b, "%s%s", i ? "," : "", ek__or(ek_json_str(t, "audience", NULL), ""));
        }
        ek__cell_str(cells, b.data);
    }
    ek__cell_bool(cells, ek_json_bool(spec, false, "requiresRepublish", NULL));
    ek_autobuf modes = EK_BUF_INIT;
    size_t i;
    const json_t *m;
    json_array_foreach (ek_json_path(spec, "volumeLifecycleModes", NULL), i, m) {
        ek_buf_printf(&modes, "%s%s", i ? "," : "", ek__or(json_string_value(m), ""));
    }
    ek__cell_str(cells, modes.len ? modes.data : "<none>");
    ek__cell_age(cells, cd, now);
}

const ek_printer_t ek__printer_csidriver = EK__PRINTER(csidriver_columns, csidriver_row);

/* ---- PriorityClass, RuntimeClass ---- */

static const ek_column_t priorityclass_columns[] = {
    EK__COL_NAME,
    EK__COL("Value", "integer", "The priority pods of this class get."),
    EK__COL("Global-Default", "boolean", "Whether pods without a class get this one."),
    EK__COL_AGE,
    EK__COL("PreemptionPolicy", "string", "Whether pods of this class preempt others."),
};

static void priorityclass_row(const json_t *pc, time_t now, json_t *cells)
{
    ek__cell_name(cells, pc);
    ek__cell_int(cells, ek_json_int(pc, 0, "value", NULL));
    ek__cell_bool(cells, ek_json_bool(pc, false, "globalDefault", NULL));
    ek__cell_age(cells, pc, now);
    ek__cell_str(cells, ek_json_str(pc, "preemptionPolicy", NULL));
}

const ek_printer_t ek__printer_priorityclass =
    EK__PRINTER(priorityclass_columns, priorityclass_row);

static const ek_column_t runtimeclass_columns[] = {
    EK__COL_NAME,
    EK__COL("Handler", "string", "The runtime handler that runs pods of this class."),
    EK__COL_AGE,
};

static void runtimeclass_row(const json_t *rc, time_t now, json_t *cells)
{
    ek__cell_name(cells, rc);
    ek__cell_str(cells, ek_json_str(rc, "handler", NULL));
    ek__cell_age(cells, rc, now);
}

const ek_printer_t ek__printer_runtimeclass = EK__PRINTER(runtimeclass_columns, runtimeclass_row);

/* ---- CertificateSigningRequest ---- */

static const ek_column_t csr_columns[] = {
    EK__COL_NAME,
    EK__COL_AGE,
    EK__COL("SignerName", "string", "The signer asked to sign the certificate."),
    EK__COL("Requestor", "string", "The user who created the request."),
    EK__COL("RequestedDuration", "string", "The validity the requestor asked for."),
    EK__COL("Condition", "string", "Approved, Denied or Pending, then Failed and Issued."),
};

/* Denied beats Approved beats Pending; Failed and Issued are added after. */
static void csr_condition_cell(json_t *cells, const json_t *csr)
{
    bool approved = false, denied = false, failed = false;
    size_t i;
    const json_t *c;
    json_array_foreach (ek_json_path(csr, "status", "conditions", NULL), i, c) {
        const char *type = ek__or(ek_json_str(c, "type", NULL), "");
        approved = approved || strcmp(type, "Approved") == 0;
        denied = denied || strcmp(type, "Denied") == 0;
        failed = failed || strcmp(type, "Failed") == 0;
    }
    const char *cert = ek_json_str(csr, "status", "certificate", NULL);
    ek__cell_strf(cells, "%s%s%s",
                  denied     ? "Denied"
                  : approved ? "Approved"
                             : "Pending",
                  failed ? ",Failed" : "", cert && *cert ? ",Issued" : "");
}

static void csr_row(const json_t *csr, time_t now, json_t *cells)
{
    const json_t *secs = ek_json_path(csr, "spec", "expirationSeconds", NULL);
    ek__cell_name(cells, csr);
    ek__cell_age(cells, csr, now);
    ek__cell_str(cells, ek__or(ek_json_str(csr, "spec", "signerName", NULL), "<none>"));
    ek__cell_str(cells, ek_json_str(csr, "spec", "username", NULL));
    if (json_is_integer(secs)) {
        char buf[16];
        long long s = json_integer_value(secs);
        int64_t ns = s > INT64_MAX / 1000000000   ? INT64_MAX
                     : s < INT64_MIN / 1000000000 ? INT64_MIN
                                                  : s * 1000000000;
        ek__cell_str(cells, ek__human_duration(ns, buf));
    } else {
        ek__cell_str(cells, "<none>");
    }
    csr_condition_cell(cells, csr);
}

const ek_printer_t ek__printer_csr = EK__PRINTER(csr_columns, csr_row);

/* ---- MutatingWebhookConfiguration, ValidatingWebhookConfiguration ---- */

static const ek_column_t webhook_columns[] = {
    EK__COL_NAME,
    EK__COL("Webhooks", "integer", "Number of webhooks in the configuration."),
    EK__COL_AGE,
};

static void webhook_row(const json_t *wh, time_t now, json_t *cells)
{
    ek__cell_name(cells, wh);
    ek__cell_int(cells, (long long)ek__printer_len(ek_json_path(wh, "webhooks", NULL)));
    ek__cell_age(cells, wh, now);
}

const ek_printer_t ek__printer_mutatingwebhook = EK__PRINTER(webhook_columns, webhook_row);
const ek_printer_t ek__printer_validatingwebhook = EK__PRINTER(webhook_columns, webhook_row);
