// SPDX-License-Identifier: GPL-2.0
#include "docker_lines.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The limit is on lines, ended or not, wherever the reads cut them: a
 * read that ends a long line cuts the stream there, after the lines
 * before it, as the same bytes in smaller reads would. */
int xlb_docker_lines_feed(struct xlb_docker_lines *l, const char *bytes, size_t n, size_t max,
			  xlb_docker_line_fn fn, void *arg)
{
	size_t start = 0, old = l->len;
	int err = 0;

	if (n == 0)
		return 0;
	if (l->len + n > l->cap) {
		size_t cap = (l->len + n) * 2;
		char *more = realloc(l->buf, cap);

		if (!more)
			return -ENOMEM;
		l->buf = more;
		l->cap = cap;
	}
	memcpy(l->buf + l->len, bytes, n);
	l->len += n;
	for (size_t i = old; i < l->len && !err; i++) { /* the kept part has no '\n' */
		if (l->buf[i] != '\n')
			continue;
		if (i - start > max)
			err = -E2BIG;
		else if (i > start)
			fn(arg, l->buf + start, i - start);
		start = i + 1;
	}
	if (!err && l->len - start > max)
		err = -E2BIG;
	memmove(l->buf, l->buf + start, l->len - start);
	l->len -= start;
	return err;
}

void xlb_docker_lines_free(struct xlb_docker_lines *l)
{
	free(l->buf);
	*l = (struct xlb_docker_lines){ 0 };
}
