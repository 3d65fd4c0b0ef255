/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: resource quantities on arbitrary bytes. A parsed quantity's serialised
 * form parses back to an equal value and formats to the same string, and the int64
 * conversions either succeed or report ERANGE.
 */
#include <errno.h>

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = ek_xstrndup((const char *)data, size);
    ek_error_t *err = NULL;
    ek_quantity_t q, back, again;
    if (ek_quantity_parse(s, &q, &err) < 0) {
        ek_assert(err && err->status == 400);
        ek_error_free(err);
        free(s);
        return 0;
    }
    char buf[EK_QUANTITY_STRLEN], buf2[EK_QUANTITY_STRLEN];
    ek_quantity_format(&q, buf);
    ek_assert(strlen(buf) < EK_QUANTITY_STRLEN);
    ek_assert(ek_quantity_parse(buf, &back, &err) == 0);
    ek_assert(ek_quantity_cmp(&q, &back) == 0);
    ek_quantity_format(&back, buf2);
    ek_assert(strcmp(buf, buf2) == 0);
    ek_assert(ek_quantity_parse(buf2, &again, &err) == 0);
    ek_assert(ek_quantity_cmp(&again, &q) == 0);
    int64_t v;
    if (ek_quantity_milli(&q, &v, &err) < 0) {
        ek_assert(err->errnum == ERANGE);
        ek_error_clear(&err);
    }
    if (ek_quantity_value(&q, &v, &err) < 0) {
        ek_assert(err->errnum == ERANGE);
        ek_error_clear(&err);
    } else {
        ek_quantity_t from;
        ek_quantity_from_int64(&from, v, 0, q.format);
        ek_assert(ek_quantity_cmp(&from, &q) * q.sign >= 0); /* rounded away from zero */
    }
    free(s);
    return 0;
}
