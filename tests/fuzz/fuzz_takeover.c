// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for what a new xlbd reads from the old one in a
 * takeover (xlbd/takeover.h): the answer's bytes, read as read_answer
 * reads them (until its end is seen, the buffer is full or the stream
 * ends), then parsed. The first input byte is the number of descriptors
 * that came with it, the second how the bytes arrive (the sizes of the
 * reads); the rest is the answer. Beyond the sanitizers it traps on a
 * broken promise: the verdict is 0 (one listener per descriptor, in
 * order), -EBUSY (with the old xlbd's reason) or -EPROTO; the same bytes
 * in any reads give the same verdict and listeners; each listener is what
 * its line says, word for word ("listener", "http" or "tls", and an
 * address the endpoint parser reads as it); and listeners written by the
 * old side's writer, in any reads, are read back as they were. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xlbd/takeover.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

#define CAP XLB_TAKEOVER_ANSWER_MAX

struct outcome {
	int e;
	size_t n;
	struct xlb_handed_listener l[XLB_TAKEOVER_MAX];
	char reason[CAP];
};

static const int fds[XLB_TAKEOVER_MAX] = { 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110,
					   111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121,
					   122, 123, 124, 125, 126, 127, 128, 129, 130, 131 };

/* As read_answer reads: into a buffer of CAP, reads of the sizes the plan
 * says (plan 0: all at once), until the answer has ended, the buffer is
 * full or the bytes are all read (the old side closed). */
static size_t read_answer(const uint8_t *data, size_t len, unsigned plan, char *text)
{
	size_t have = 0, step = 0;

	text[0] = '\0';
	while (have < len) {
		size_t n = plan ? 1 + (plan * 7u + step++ * 13u) % 61u : len;

		if (n > len - have)
			n = len - have;
		if (n > CAP - 1 - have)
			n = CAP - 1 - have;
		memcpy(text + have, data + have, n);
		have += n;
		text[have] = '\0';
		if (xlb_takeover_answer_ended(text) || have == CAP - 1)
			break;
	}
	return have;
}

static void parse(const uint8_t *data, size_t len, unsigned plan, size_t nfds, struct outcome *o)
{
	char *text = malloc(CAP);
	const char *reason = NULL;
	size_t have;

	CHECK(text);
	have = read_answer(data, len, plan, text);
	memset(o, 0, sizeof(*o));
	o->n = 12345;
	o->e = xlb_takeover_parse_answer(text, fds, nfds, o->l, &o->n, &reason);
	CHECK(o->e == 0 || o->e == -EBUSY || o->e == -EPROTO);
	CHECK((o->e == 0) == (o->n != 12345));
	CHECK((o->e == -EBUSY) == (reason != NULL));
	if (reason) {
		CHECK(reason >= text && reason <= text + have);
		snprintf(o->reason, sizeof(o->reason), "%s", reason);
	}
	if (o->e == 0) {
		CHECK(o->n == nfds);
		for (size_t i = 0; i < o->n; i++) {
			const struct xlb_endpoint *ep = &o->l[i].ep;

			CHECK(o->l[i].fd == fds[i]);
			CHECK((ep->family == AF_INET || ep->family == AF_INET6) && ep->port &&
			      ep->proto == 0);
		}
	}
	free(text);
}

static bool same(const struct outcome *a, const struct outcome *b)
{
	if (a->e != b->e || strcmp(a->reason, b->reason) != 0)
		return false;
	if (a->e)
		return true;
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->l[i].tls != b->l[i].tls || a->l[i].fd != b->l[i].fd ||
		    !xlb_endpoint_equal(&a->l[i].ep, &b->l[i].ep))
			return false;
	return true;
}

/* Each listener line of an accepted answer, split into words: "listener",
 * its kind, and its address, which alone parses to the listener's. */
static void check_lines(const uint8_t *data, size_t len, const struct outcome *o)
{
	char *text = malloc(CAP), *save = NULL, *line;
	size_t i = 0;

	CHECK(text);
	read_answer(data, len, 0, text);
	for (line = strtok_r(text, "\n", &save); line && strcmp(line, "ok") != 0;
	     line = strtok_r(NULL, "\n", &save), i++) {
		char *w[4] = { NULL }, *wsave = NULL;
		struct xlb_endpoint ep;
		const char *why;
		int k = 0;

		for (char *t = strtok_r(line, " \t\r\v\f", &wsave); t && k < 4;
		     t = strtok_r(NULL, " \t\r\v\f", &wsave))
			w[k++] = t;
		CHECK(i < o->n && k == 3 && strcmp(w[0], "listener") == 0);
		CHECK(strcmp(w[1], o->l[i].tls ? "tls" : "http") == 0);
		CHECK(xlb_parse_endpoint(w[2], XLB_EP_NO_PROTO, &ep, &why) == 0);
		CHECK(xlb_endpoint_equal(&ep, &o->l[i].ep));
	}
	CHECK(line && i == o->n);
	free(text);
}

/* Listeners made from the input's bytes, written, read back. */
static void check_written(const uint8_t *data, size_t len, unsigned plan)
{
	struct outcome want = { .n = len ? data[0] % (XLB_TAKEOVER_MAX + 1) : 0 }, got;
	char text[CAP];
	size_t at = 1;
	int n;

	for (size_t i = 0; i < want.n; i++) {
		struct xlb_handed_listener *l = &want.l[i];
		uint8_t b[20] = { 0 };

		for (size_t k = 0; k < sizeof(b); k++, at++)
			b[k] = at < len ? data[at] : (uint8_t)(i * 37 + k);
		l->tls = b[0] & 1;
		l->fd = fds[i];
		l->ep.family = b[0] & 2 ? AF_INET6 : AF_INET;
		l->ep.port = (uint16_t)(b[1] << 8 | b[2]) ? (uint16_t)(b[1] << 8 | b[2]) : 1;
		memcpy(&l->ep.addr, b + 3, l->ep.family == AF_INET ? 4 : 16);
	}
	n = xlb_takeover_format_answer(want.l, want.n, text, sizeof(text));
	CHECK(n > 0 && (size_t)n < sizeof(text) && text[n - 1] == '\n');
	parse((const uint8_t *)text, (size_t)n, plan, want.n, &got);
	CHECK(same(&got, &want));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	size_t nfds = len > 0 ? data[0] % (XLB_TAKEOVER_MAX + 1) : 0;
	unsigned plan = len > 1 ? data[1] : 0;
	const uint8_t *answer = len > 2 ? data + 2 : data;
	size_t n = len > 2 ? len - 2 : 0;
	struct outcome whole, pieces;

	parse(answer, n, 0, nfds, &whole);
	parse(answer, n, plan, nfds, &pieces);
	CHECK(same(&whole, &pieces));
	if (whole.e == 0)
		check_lines(answer, n, &whole);
	check_written(data, len, plan);
	return 0;
}
