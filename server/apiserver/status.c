/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metav1.Status responses, worded exactly as kube-apiserver words them: kubectl rebuilds its
 * error lines ("Error from server (NotFound): pods \"x\" not found", "The Deployment \"x\" is
 * invalid: ...") from these fields.
 */
#include <stdarg.h>
#include <stdio.h>

#include "server/apiserver/apiserver-internal.h"

const char *resource_qualified(const ek_resource_t *res, char buf[static 160])
{
    if (!res) {
        buf[0] = '\0';
    } else if (*res->group) {
        snprintf(buf, 160, "%s.%s", res->plural, res->group);
    } else {
        snprintf(buf, 160, "%s", res->plural);
    }
    return buf;
}

static json_t *status_object(int code, const char *reason, const char *message)
{
    json_t *st = json_object();
    ek_json_set_str(st, "kind", "Status");
    ek_json_set_str(st, "apiVersion", "v1");
    json_object_set_new(st, "metadata", json_object());
    ek_json_set_str(st, "status", code < 400 ? "Success" : "Failure");
    if (message) {
        ek_json_set_str(st, "message", message);
    }
    if (reason) {
        ek_json_set_str(st, "reason", reason);
    }
    json_object_set_new(st, "code", json_integer(code));
    return st;
}

static void add_details(json_t *st, const ek_resource_t *res, const char *name, bool kind_name)
{
    if (!res && !name) {
        return;
    }
    json_t *d = json_object();
    if (name) {
        ek_json_set_str(d, "name", name);
    }
    if (res) {
        if (*res->group) {
            ek_json_set_str(d, "group", res->group);
        }
        ek_json_set_str(d, "kind", kind_name ? res->kind : res->plural);
    }
    json_object_set_new(st, "details", d);
}

void send_status(apireq_t *r, int code, const char *reason, const char *details_name,
                 const ek_resource_t *res, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ek_auto(json_t) st = status_object(code, reason, msg);
    add_details(st, res, details_name, false);
    apireq_respond_json(r, code, st);
}

void send_not_found(apireq_t *r, const ek_resource_t *res, const char *name)
{
    char q[160];
    send_status(r, 404, "NotFound", name, res, "%s \"%s\" not found", resource_qualified(res, q),
                name);
}

void send_success_status(apireq_t *r, const ek_resource_t *res, const char *name, const char *uid)
{
    ek_auto(json_t) st = status_object(200, NULL, NULL);
    add_details(st, res, name, false);
    if (uid) {
        ek_json_set_str(json_object_get(st, "details"), "uid", uid);
    }
    apireq_respond_json(r, 200, st);
}

void send_invalid(apireq_t *r, const ek_resource_t *res, const char *name,
                  const ek_field_errors_t *errs)
{
    ek_autobuf msg = EK_BUF_INIT;
    ek_buf_printf(&msg, "%s%s%s \"%s\" is invalid: ", res->kind, *res->group ? "." : "", res->group,
                  name ? name : "");
    if (errs->n > 1) {
        ek_buf_putc(&msg, '[');
    }
    json_t *causes = json_array();
    for (size_t i = 0; i < errs->n; i++) {
        const ek_field_error_t *e = &errs->v[i];
        ek_buf_printf(&msg, "%s%s: %s", i ? ", " : "", e->field, e->message);
        json_t *c = json_object();
        ek_json_set_str(c, "reason", e->type);
        ek_json_set_str(c, "message", e->message);
        ek_json_set_str(c, "field", e->field);
        json_array_append_new(causes, c);
    }
    if (errs->n > 1) {
        ek_buf_putc(&msg, ']');
    }
    ek_auto(json_t) st = status_object(422, "Invalid", msg.data);
    add_details(st, res, name, true);
    json_object_set_new(json_object_get(st, "details"), "causes", causes);
    apireq_respond_json(r, 422, st);
}

static const char *reason_for(int code)
{
    switch (code) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 406:
        return "NotAcceptable";
    case 409:
        return "Conflict";
    case 410:
        return "Expired";
    case 413:
        return "RequestEntityTooLarge";
    case 415:
        return "UnsupportedMediaType";
    case 422:
        return "Invalid";
    case 429:
        return "TooManyRequests";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "Timeout";
    default:
        return "InternalError";
    }
}

void send_error(apireq_t *r, const ek_resource_t *res, const char *name, const ek_error_t *err)
{
    int code = err && err->status ? err->status : 500;
    if (code == 507) {
        /* Kubernetes has no reason for a full disk: an InternalError that says so. */
        send_status(r, 500, "InternalError", name, res, "Internal error occurred: %s",
                    ek_error_msg(err));
        return;
    }
    if (code >= 500) {
        send_status(r, code, reason_for(code), name, res, "Internal error occurred: %s",
                    ek_error_msg(err));
        return;
    }
    send_status(r, code, reason_for(code), name, res, "%s", ek_error_msg(err));
}
