// SPDX-License-Identifier: GPL-2.0
#include "renew.h"

time_t xlb_acme_renew_at(time_t not_before, time_t not_after)
{
	if (not_after <= not_before)
		return not_before;
	return not_before + (not_after - not_before) / 3 * 2 + (not_after - not_before) % 3 * 2 / 3;
}

time_t xlb_acme_retry_at(time_t failed_at, unsigned fails)
{
	time_t delay = XLB_ACME_RETRY_MIN_SECS;

	for (unsigned i = 1; i < fails && delay < XLB_ACME_RETRY_MAX_SECS; i++)
		delay *= 2;
	if (delay > XLB_ACME_RETRY_MAX_SECS)
		delay = XLB_ACME_RETRY_MAX_SECS;
	return failed_at + delay;
}

time_t xlb_acme_next_attempt(time_t now, int have_cert, time_t not_before, time_t not_after,
			     unsigned fails, time_t failed_at)
{
	time_t at = have_cert ? xlb_acme_renew_at(not_before, not_after) : now;
	time_t retry;

	if (fails) {
		retry = xlb_acme_retry_at(failed_at, fails);
		if (retry > at)
			at = retry;
	}
	return at;
}
