// SPDX-License-Identifier: GPL-2.0
/* The HTTP/1.x request head peeker: the request head parser of http1.c,
 * run on the bytes peeked so far, and its host in the caller's buffer. The
 * parser's verdicts already have the peeker's shape: it parses complete
 * lines only, so a valid head is MORE at every prefix, and it refuses a
 * bad line (or bad bytes in the incomplete last one) at once. */
#include <string.h>

#include "http1.h"
#include "peek_http.h"

/* OK with the host, NONE when the request names none, BAD when it does
 * not fit the caller's buffer (a longer host is refused, not cut). */
static enum xlb_peek give_host(const struct xlb_http1_request *req, char *host, size_t host_len,
			       const char **why)
{
	size_t n = strlen(req->host);

	if (n == 0)
		return XLB_PEEK_NONE;
	if (n >= host_len) {
		*why = "bad host";
		return XLB_PEEK_BAD;
	}
	memcpy(host, req->host, n + 1);
	return XLB_PEEK_OK;
}

enum xlb_peek xlb_peek_http(const char *buf, size_t len, char *host, size_t host_len,
			    size_t *head_len, const char **why)
{
	struct xlb_http1_request req;

	*why = NULL;
	switch (xlb_http1_parse_request(buf, len, &req, NULL, 0)) {
	case XLB_HTTP1_MORE:
		return XLB_PEEK_MORE;
	case XLB_HTTP1_BAD:
		*why = req.head.why;
		return XLB_PEEK_BAD;
	case XLB_HTTP1_OK:
		break;
	}
	*head_len = req.head.head_len;
	return give_host(&req, host, host_len, why);
}
