// SPDX-License-Identifier: GPL-2.0
#include "hc_answer.h"

#include <stdbool.h>
#include <string.h>

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The status code of "HTTP/1.x NNN[ reason]", or -1. */
static int status_code(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !is_digit(line[7]) || line[8] != ' ' ||
	    !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
	    (len > 12 && line[12] != ' '))
		return -1;
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

enum xlb_hc_verdict xlb_hc_judge_answer(const char *buf, size_t len, int *code, const char **why)
{
	const char *nl = memchr(buf, '\n', len);

	*code = -1;
	*why = NULL;
	if (!nl && len < XLB_HC_ANSWER_MAX)
		return XLB_HC_MORE;
	if (!nl) {
		*why = "status line too long";
		return XLB_HC_FAIL;
	}
	*code = status_code(buf, (size_t)(nl - buf));
	if (*code < 0) {
		*why = "malformed status line";
		return XLB_HC_FAIL;
	}
	return *code >= 200 && *code <= 399 ? XLB_HC_PASS : XLB_HC_FAIL;
}
