// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for how xlbd cuts Docker's /events stream into events
 * (xlb_docker_lines_feed, xlbd/docker.h): the body as libcurl hands it
 * over, the chunked encoding undone, in reads of any size. The first
 * input byte picks the reads' sizes, the second the longest line taken;
 * the rest is the stream. Beyond the sanitizers it traps on a broken
 * promise: however the same bytes are split into reads, the same lines
 * reach the event reader in the same order, the same events come out of
 * them, and the stream is cut at the same line: the first one longer than
 * the limit. The lines are the stream's non-empty '\n'-ended lines, each
 * handed over whole and without its '\n'. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd/dmodel.h"
#include "xlbd/docker_lines.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

#define MAX_LINES 4096

/* What reached the event reader: each line's place in the stream, and
 * its event. */
struct seen {
	const uint8_t *stream;
	size_t n;
	size_t off[MAX_LINES], len[MAX_LINES];
	int rc[MAX_LINES];
	struct xlb_devent ev[MAX_LINES];
	const char *expect; /* the next line must be at this offset */
};

static void on_line(void *arg, const char *line, size_t len)
{
	struct seen *s = arg;
	size_t off = (size_t)((const uint8_t *)s->expect - s->stream);

	CHECK(s->n < MAX_LINES && len > 0 && !memchr(line, '\n', len));
	/* the line is a copy of the stream's next non-empty line */
	while (*s->expect == '\n')
		s->expect++, off++;
	CHECK(memcmp(line, s->expect, len) == 0 && s->expect[len] == '\n');
	s->off[s->n] = off;
	s->len[s->n] = len;
	memset(&s->ev[s->n], 0, sizeof(s->ev[s->n]));
	s->rc[s->n] = xlb_dmodel_event(line, len, &s->ev[s->n]);
	s->n++;
	s->expect += len + 1;
}

/* Feeds the stream in reads of the plan's sizes (plan 0: one read);
 * returns the feed's last status. */
static int feed(const uint8_t *stream, size_t len, unsigned plan, size_t max, struct seen *s)
{
	struct xlb_docker_lines l = { 0 };
	size_t at = 0, step = 0;
	int e = 0;

	s->stream = stream;
	s->n = 0;
	s->expect = (const char *)stream;
	while (at < len && !e) {
		size_t n = plan ? 1 + (plan * 7u + step++ * 29u) % (plan % 61u + 1u) : len;
		char *read;

		if (n > len - at)
			n = len - at;
		read = malloc(n); /* exact size: ASan sees a read past it */
		CHECK(read);
		memcpy(read, stream + at, n);
		e = xlb_docker_lines_feed(&l, read, n, max, on_line, s);
		free(read);
		CHECK(e == 0 || e == -E2BIG);
		at += n;
	}
	xlb_docker_lines_free(&l);
	return e;
}

static bool same(const struct seen *a, const struct seen *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		if (a->off[i] != b->off[i] || a->len[i] != b->len[i] || a->rc[i] != b->rc[i])
			return false;
		if (a->rc[i] == 0 &&
		    (a->ev[i].kind != b->ev[i].kind || strcmp(a->ev[i].id, b->ev[i].id) != 0 ||
		     strcmp(a->ev[i].action, b->ev[i].action) != 0))
			return false;
	}
	return true;
}

/* The lines the stream should give: every non-empty line up to the first
 * one longer than max (which cuts it), ended or not. */
static int expected(const uint8_t *stream, size_t len, size_t max, size_t *n_lines)
{
	size_t start = 0;

	*n_lines = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && stream[i] != '\n') {
			if (i - start + 1 > max)
				return -E2BIG;
			continue;
		}
		if (i < len && i > start)
			++*n_lines;
		start = i + 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct seen whole, pieces;
	unsigned plan = len > 0 ? data[0] : 1;
	size_t max = len > 1 ? 16 + data[1] * 4u : 1024, want;
	const uint8_t *stream = len > 2 ? data + 2 : data;
	size_t n = len > 2 ? len - 2 : 0;
	int e_whole, e_pieces, e_want;
	uint8_t *copy = malloc(n + 1);

	/* the copy ends in a '\n' past its end, for on_line's look-ahead */
	CHECK(copy);
	memcpy(copy, stream, n);
	copy[n] = '\n';
	e_want = expected(copy, n, max, &want);
	e_whole = feed(copy, n, 0, max, &whole);
	e_pieces = feed(copy, n, plan ? plan : 1, max, &pieces);
	CHECK(e_whole == e_want && whole.n == want);
	CHECK(e_pieces == e_want && same(&whole, &pieces));
	/* without a limit in reach, nothing is cut */
	CHECK(feed(copy, n, plan, SIZE_MAX / 2, &pieces) == 0);
	free(copy);
	return 0;
}
