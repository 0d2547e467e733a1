// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for what xlbd reads from a backend in an HTTP health
 * check (xlb_hc_judge_answer, xlbd/hc_answer.h). The first input byte
 * picks how the answer arrives (the sizes of the reads); the rest is the
 * answer. Beyond the sanitizers it traps on a broken promise: MORE exactly
 * while no line end is within the bytes read and there is room for more;
 * a decided verdict depends only on the status line, so the same bytes in
 * any reads, or with anything after the line, decide the same; *code is
 * set exactly when a status line was read (PASS: 2xx or 3xx) and *why
 * exactly when none was; and a status line written from a code and a
 * reason is read back as that code. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd/hc_answer.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

struct verdict {
	enum xlb_hc_verdict v;
	int code;
	const char *why;
};

/* Judged from an exact-size heap copy, so ASan sees any read past len. */
static struct verdict judge(const uint8_t *data, size_t len)
{
	char *copy = malloc(len ? len : 1);
	struct verdict r;

	CHECK(copy);
	memcpy(copy, data, len);
	r.v = xlb_hc_judge_answer(copy, len, &r.code, &r.why);
	free(copy);
	CHECK(r.v == XLB_HC_MORE || r.v == XLB_HC_PASS || r.v == XLB_HC_FAIL);
	if (r.v == XLB_HC_MORE)
		CHECK(r.code == -1 && r.why == NULL);
	else
		CHECK((r.code < 0) == (r.why != NULL) && r.code >= -1 && r.code <= 999);
	CHECK(r.v != XLB_HC_PASS || (r.code >= 200 && r.code <= 399));
	CHECK(r.v != XLB_HC_FAIL || r.code < 200 || r.code > 399);
	return r;
}

static bool same(const struct verdict *a, const struct verdict *b)
{
	return a->v == b->v && a->code == b->code &&
	       (a->why == b->why || (a->why && b->why && strcmp(a->why, b->why) == 0));
}

/* As the checker reads: reads of the sizes the plan says, into one
 * buffer of XLB_HC_ANSWER_MAX, judged after each, until decided or the
 * answer ends (then the check fails: closed before the status line). */
static struct verdict read_in_pieces(const uint8_t *data, size_t len, uint8_t plan)
{
	uint8_t buf[XLB_HC_ANSWER_MAX];
	struct verdict r = { XLB_HC_MORE, -1, NULL };
	size_t have = 0, step = 0;

	while (have < len && r.v == XLB_HC_MORE) {
		size_t n = 1 + (plan * 7u + step++ * 13u) % 37u;

		if (n > len - have)
			n = len - have;
		if (n > sizeof(buf) - have)
			n = sizeof(buf) - have;
		memcpy(buf + have, data + have, n);
		have += n;
		r = judge(buf, have);
	}
	return r;
}

/* "HTTP/1.x NNN reason" from the input's own bytes. */
static void check_written(const uint8_t *data, size_t len)
{
	char line[XLB_HC_ANSWER_MAX];
	unsigned code = len ? data[0] * 4u % 1000u : 200u, minor = len > 1 ? data[1] % 10u : 1u;
	size_t n, reason = 0;
	struct verdict r;

	n = (size_t)snprintf(line, sizeof(line), "HTTP/1.%u %03u", minor, code);
	if (len > 2 && data[2] & 1) { /* a reason phrase, without line ends */
		line[n++] = ' ';
		for (size_t i = 3; i < len && n < sizeof(line) - 3; i++, reason++)
			line[n++] = data[i] == '\n' ? ' ' : (char)data[i];
	}
	if (len > 2 && data[2] & 2)
		line[n++] = '\r';
	line[n++] = '\n';
	r = judge((const uint8_t *)line, n);
	CHECK(r.code == (int)code &&
	      r.v == (code >= 200 && code <= 399 ? XLB_HC_PASS : XLB_HC_FAIL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t plan = len ? data[0] : 0;
	const uint8_t *answer = len ? data + 1 : data;
	size_t n = len ? len - 1 : 0, seen = n < XLB_HC_ANSWER_MAX ? n : XLB_HC_ANSWER_MAX;
	const uint8_t *nl = memchr(answer, '\n', seen);
	struct verdict whole = judge(answer, seen), pieces, line;

	CHECK((whole.v == XLB_HC_MORE) == (!nl && seen < XLB_HC_ANSWER_MAX));
	pieces = read_in_pieces(answer, n, plan);
	CHECK(same(&pieces, &whole));
	if (nl) { /* the line alone, then with other bytes after it */
		size_t end = (size_t)(nl - answer) + 1;

		line = judge(answer, end);
		CHECK(same(&line, &whole));
		if (end < XLB_HC_ANSWER_MAX) {
			uint8_t more[XLB_HC_ANSWER_MAX];

			memcpy(more, answer, end);
			memset(more + end, plan, sizeof(more) - end);
			line = judge(more, sizeof(more));
			CHECK(same(&line, &whole));
		}
	}
	check_written(answer, n);
	return 0;
}
