// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the chunked body decoder (proxy/http1.h). The first
 * byte picks one of two games:
 *  - encode: the input is a chunking plan and a body. The body is encoded
 *    as the plan says (chunk sizes, hex case, leading zeros, extensions of
 *    each shape, trailers) with the next message behind it; decoded in
 *    arbitrary pieces, with data moved in arbitrary pieces as the proxy
 *    splices it, it must give exactly the body and end where the encoding
 *    ends.
 *  - bytes: arbitrary bytes, decoded whole and in arbitrary pieces, must
 *    give the same chunks, verdict, reason and position; every chunk's
 *    data starts right after its size line's LF, and the decoder goes on
 *    past a chunk's data only over its CRLF (a DATA never overran). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/http1.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)
#define MAX_CHUNKS 64

/* Splits and choices drawn from the input's own bytes. */
struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return r->s;
}

static struct rng rng_seed(const uint8_t *data, size_t len)
{
	struct rng r = { 0x9e3779b97f4a7c15ull };

	for (size_t i = 0; i < len && i < 64; i++)
		r.s = (r.s ^ data[i]) * 0x100000001b3ull;
	r.s |= 1;
	return r;
}

/* A piece length in 1..max, often small, sometimes all of it. */
static size_t piece(struct rng *r, size_t max)
{
	uint64_t x = rng_next(r);

	if (max == 0)
		return 0;
	if ((x & 7) == 0)
		return max;
	x = 1 + (x >> 8) % 9;
	return x < max ? (size_t)x : max;
}

/* What a decode saw. */
struct trace {
	enum xlb_chunk_verdict verdict;
	const char *why;
	size_t end; /* DONE: the next message; BAD: the bad byte */
	size_t n_chunks;
	size_t chunk_at[MAX_CHUNKS]; /* where each chunk's data starts */
	uint64_t chunk_size[MAX_CHUNKS];
	char *body; /* the data bytes, in order */
	size_t body_len;
};

/* The proxy's part after DATA: move up to what is due, in pieces (split)
 * or all that is there (whole). */
static size_t move_data(struct xlb_chunk *c, const char *buf, size_t left, struct trace *t,
			struct rng *r, bool split)
{
	uint64_t due = xlb_chunk_data_left(c);
	size_t n = due < left ? (size_t)due : left;

	if (split)
		n = piece(r, n);
	memcpy(t->body + t->body_len, buf, n);
	t->body_len += n;
	xlb_chunk_data_done(c, n);
	return n;
}

static void note_chunk(struct trace *t, struct xlb_chunk *c, const char *buf, size_t pos)
{
	CHECK(pos > 0 && buf[pos - 1] == '\n' && xlb_chunk_data_left(c) > 0);
	if (t->n_chunks < MAX_CHUNKS) {
		t->chunk_at[t->n_chunks] = pos;
		t->chunk_size[t->n_chunks] = xlb_chunk_data_left(c);
	}
	t->n_chunks++;
}

/* Decodes buf[0, len) (an exact-size heap copy), fed in pieces if split. */
static void decode(const char *buf, size_t len, struct trace *t, struct rng *r, bool split)
{
	struct xlb_chunk c;
	size_t pos = 0, used, data_end = SIZE_MAX;

	memset(t, 0, sizeof(*t));
	t->body = malloc(len ? len : 1);
	CHECK(t->body);
	xlb_chunk_init(&c);
	t->verdict = XLB_CHUNK_MORE;
	while (pos < len) {
		size_t n = split ? piece(r, len - pos) : len - pos;
		bool fresh = xlb_chunk_data_left(&c) == 0;

		t->verdict = xlb_chunk_feed(&c, buf + pos, n, &used);
		CHECK(used <= n);
		pos += used;
		/* past a chunk's data, only its CRLF */
		if (data_end != SIZE_MAX && pos > data_end)
			CHECK(buf[data_end] == '\r' &&
			      (pos == data_end + 1 || buf[data_end + 1] == '\n'));
		if (pos >= data_end + 2 || t->verdict == XLB_CHUNK_BAD)
			data_end = SIZE_MAX;
		if (t->verdict != XLB_CHUNK_DATA && t->verdict != XLB_CHUNK_MORE)
			break;
		if (t->verdict == XLB_CHUNK_DATA && fresh)
			note_chunk(t, &c, buf, pos);
		if (t->verdict == XLB_CHUNK_DATA) {
			pos += move_data(&c, buf + pos, len - pos, t, r, split);
			if (xlb_chunk_data_left(&c) == 0)
				data_end = pos;
		}
	}
	t->why = c.why;
	t->end = pos;
	CHECK((t->why != NULL) == (t->verdict == XLB_CHUNK_BAD));
}

static void check_same(const struct trace *a, const struct trace *b)
{
	CHECK(a->verdict == b->verdict && a->end == b->end);
	CHECK(a->why == b->why || (a->why && b->why && strcmp(a->why, b->why) == 0));
	CHECK(a->n_chunks == b->n_chunks);
	for (size_t i = 0; i < a->n_chunks && i < MAX_CHUNKS; i++)
		CHECK(a->chunk_at[i] == b->chunk_at[i] && a->chunk_size[i] == b->chunk_size[i]);
	CHECK(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0);
}

static void play_bytes(const uint8_t *data, size_t len)
{
	char *buf = malloc(len ? len : 1);
	struct rng r = rng_seed(data, len);
	struct trace whole, split;

	CHECK(buf);
	memcpy(buf, data, len);
	decode(buf, len, &whole, &r, false);
	decode(buf, len, &split, &r, true);
	check_same(&whole, &split);
	free(whole.body);
	free(split.body);
	free(buf);
}

/* ---- the encoder --------------------------------------------------------- */

static const char *const extensions[] = {
	"",
	";a",
	";name=token",
	" ;\tq = \"quo;ted \\\" x\"",
	";a;b=c;d=\"\"",
	";x=\"\xc3\xa9\"",
	"\t; e",
	";n=1 ; m=2",
};

static const char *const trailers[] = {
	"X-Sum: abc\r\n",
	"Expires: Wed, 21 Oct 2015 07:28:00 GMT\r\n",
	"Empty:\r\n",
	"X-Spaces:  a \t b \r\n",
};

static const char next_message[] = "GET /next HTTP/1.1\r\nHost: a.dev\r\n\r\n";

/* One chunk-size line: the size in hex, upper or lower case, with or
 * without leading zeros, and an extension. */
static size_t put_size_line(char *out, uint64_t size, uint8_t how)
{
	const char *ext = extensions[(how >> 2) % (sizeof(extensions) / sizeof(extensions[0]))];

	return (size_t)sprintf(out, how & 1 ? "%s%llX%s\r\n" : "%s%llx%s\r\n", how & 2 ? "000" : "",
			       (unsigned long long)size, ext);
}

/* Encodes body[0, n) by plan[0, plan_len): each plan byte makes a chunk of
 * 1..16 bytes, the last one takes the rest. Returns the encoding's length
 * (the next message follows it in out). */
static size_t encode(const uint8_t *plan, size_t plan_len, uint8_t tail, const uint8_t *body,
		     size_t n, char *out)
{
	size_t at = 0, done = 0, i = 0;

	while (done < n) {
		size_t size = i < plan_len ? (size_t)(plan[i] & 0x0f) + 1 : n - done;
		uint8_t how = i < plan_len ? (uint8_t)(plan[i] >> 4) : tail;

		size = size < n - done ? size : n - done;
		at += put_size_line(out + at, size, how);
		memcpy(out + at, body + done, size);
		at += size;
		memcpy(out + at, "\r\n", 2);
		at += 2;
		done += size;
		i++;
	}
	at += put_size_line(out + at, 0, tail);
	for (unsigned int t = 0; t < (tail >> 4) % 5u; t++)
		at += (size_t)sprintf(out + at, "%s", trailers[(tail + t) % 4u]);
	memcpy(out + at, "\r\n", 2);
	return at + 2;
}

static void play_encode(const uint8_t *data, size_t len)
{
	size_t plan_len = len ? data[0] % 24u : 0, n, enc_len;
	const uint8_t *plan = data + 1, *body;
	struct rng r = rng_seed(data, len);
	struct trace t;
	uint8_t tail;
	char *out;

	if (len < 2 + plan_len)
		return;
	tail = data[1 + plan_len];
	body = data + 2 + plan_len;
	n = len - 2 - plan_len;
	/* a chunk is at most 64 bytes of framing around its data */
	out = malloc((plan_len + 2) * 64 + n + 4 * 64 + sizeof(next_message));
	CHECK(out);
	enc_len = encode(plan, plan_len, tail, body, n, out);
	memcpy(out + enc_len, next_message, sizeof(next_message) - 1);
	decode(out, enc_len + sizeof(next_message) - 1, &t, &r, true);
	CHECK(t.verdict == XLB_CHUNK_DONE && t.end == enc_len);
	CHECK(t.body_len == n && memcmp(t.body, body, n) == 0);
	free(t.body);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	if (data[0] & 1)
		play_encode(data + 1, len - 1);
	else
		play_bytes(data + 1, len - 1);
	return 0;
}
