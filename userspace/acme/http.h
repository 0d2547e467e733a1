/* SPDX-License-Identifier: GPL-2.0 */
/* The HTTPS exchanges of the ACME client, over one blocking libcurl
 * handle (kept, so that requests reuse the connection): a response's
 * status, body and the headers ACME gives meaning to. */
#ifndef XLB_ACME_HTTP_H
#define XLB_ACME_HTTP_H

#include <stddef.h>

struct xlb_acme_resp {
	long status;
	char *body; /* NUL-terminated; len excludes the NUL */
	size_t len;
	char *content_type;
	char *nonce;	  /* Replay-Nonce */
	char *location;	  /* Location */
	long retry_after; /* Retry-After in seconds (a date is converted), 0: none */
};

struct xlb_acme_http;

/* ca_file: the bundle that the server's certificate must chain to (a
 * test CA such as Pebble's has its own), or NULL for the system's. */
int xlb_acme_http_new(const char *ca_file, struct xlb_acme_http **out);
void xlb_acme_http_free(struct xlb_acme_http *h);

enum xlb_acme_method { XLB_ACME_GET, XLB_ACME_HEAD, XLB_ACME_POST };

/* One request. POST sends body as application/jose+json. accept: an
 * Accept header value, or NULL. Any HTTP status is a success here;
 * -EIO (or -ETIMEDOUT, -ECONNREFUSED, -EFBIG) when there is no response,
 * with the reason in xlb_acme_http_error. r is cleared first. */
int xlb_acme_http_do(struct xlb_acme_http *h, enum xlb_acme_method m, const char *url,
		     const char *body, const char *accept, struct xlb_acme_resp *r);
/* Why the last request had no response. */
const char *xlb_acme_http_error(const struct xlb_acme_http *h);

/* Frees what r holds and zeroes it. */
void xlb_acme_resp_clear(struct xlb_acme_resp *r);

/* Whether r's body is a problem document (RFC 7807). */
int xlb_acme_resp_is_problem(const struct xlb_acme_resp *r);

#endif
