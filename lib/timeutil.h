/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks, RFC 3339 timestamps as Kubernetes writes them, and Go-style durations. */
#ifndef EK_LIB_TIMEUTIL_H
#define EK_LIB_TIMEUTIL_H

#include <time.h>

#include "lib/common.h"
#include "lib/error.h"

/* Monotonic clock. */
uint64_t ek_now_ns(void);
uint64_t ek_now_ms(void);
/* Wall clock. */
int64_t ek_wall_ms(void);
void ek_wall_now(struct timespec *ts);

/* "2026-11-25T00:00:13Z" (seconds). buf needs 21 bytes. Returns buf. */
char *ek_time_rfc3339(time_t t, char buf[static 21]);
/* "2026-11-25T00:00:13.123456789Z" (CRI logs, micro-time). buf needs 31 bytes. */
char *ek_time_rfc3339_nano(const struct timespec *ts, char buf[static 31]);
/* "2026-11-25T00:00:13.123456Z" (metav1.MicroTime). buf needs 28 bytes. */
char *ek_time_rfc3339_micro(const struct timespec *ts, char buf[static 28]);
/* Parses RFC 3339 with optional fraction and Z or ±hh:mm offset. */
int ek_time_parse_rfc3339(const char *s, struct timespec *out);
/* Go-style duration "1h30m", "10s", "250ms", "1.5s"; a bare number means seconds. */
int ek_duration_parse_ms(const char *s, int64_t *ms, ek_error_t **err);

#endif
