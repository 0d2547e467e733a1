/* SPDX-License-Identifier: GPL-2.0 */
/* When to act on a name: renew once two thirds of its certificate's
 * lifetime have passed (a 90-day certificate at 60 days, leaving a month
 * for retries before it expires), and after a failure retry with an
 * exponential backoff. Pure functions of their arguments. */
#ifndef XLB_ACME_RENEW_H
#define XLB_ACME_RENEW_H

#include <time.h>

/* first retry a minute after a failure, doubling up to a day */
#define XLB_ACME_RETRY_MIN_SECS 60
#define XLB_ACME_RETRY_MAX_SECS (24 * 3600)

/* The time two thirds of the way from not_before to not_after. */
time_t xlb_acme_renew_at(time_t not_before, time_t not_after);

/* The time of the next attempt after the fails-th failure in a row
 * (fails >= 1), the last at failed_at. */
time_t xlb_acme_retry_at(time_t failed_at, unsigned fails);

/* The next attempt for a name: now when it has no certificate and no
 * failure is pending; else the later of its renewal time (if it has a
 * certificate) and its retry time (if it failed, fails > 0). */
time_t xlb_acme_next_attempt(time_t now, int have_cert, time_t not_before, time_t not_after,
			     unsigned fails, time_t failed_at);

#endif
