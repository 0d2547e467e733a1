/* SPDX-License-Identifier: GPL-2.0 */
/* The framing of Docker's /events stream, apart from the client
 * (docker.c) so that a fuzzer can take it without the event loop. */
#ifndef XLB_DOCKER_LINES_H
#define XLB_DOCKER_LINES_H

#include <stddef.h>

/* The /events stream's body as curl hands it over, in reads of any size
 * (the chunked encoding undone): one JSON object per line, a line split
 * across reads kept until it ends. */
struct xlb_docker_lines {
	char *buf; /* the unfinished line */
	size_t len, cap;
};

typedef void (*xlb_docker_line_fn)(void *arg, const char *line, size_t len);

/* Takes one read, bytes[0..n): passes each line it ends to fn (without
 * its '\n'; empty lines are skipped) and keeps the rest. Returns 0,
 * -E2BIG when a line is longer than max (the stream is then cut), or
 * -ENOMEM. */
int xlb_docker_lines_feed(struct xlb_docker_lines *l, const char *bytes, size_t n, size_t max,
			  xlb_docker_line_fn fn, void *arg);
void xlb_docker_lines_free(struct xlb_docker_lines *l);

#endif
