// SPDX-License-Identifier: GPL-2.0
/* Seconds as doubles, for the intervals of stats --watch and trace. */
#include <time.h>

#include "xlbctl.h"

double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double monotonic_s(void)
{
	return clock_s(CLOCK_MONOTONIC);
}
