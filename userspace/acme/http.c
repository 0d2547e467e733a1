// SPDX-License-Identifier: GPL-2.0
#include "http.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

/* An ACME response is a small JSON document or a certificate chain */
#define RESP_MAX (1 << 20)
#define CONNECT_TIMEOUT_SECS 10L
#define REQUEST_TIMEOUT_SECS 30L

struct xlb_acme_http {
	CURL *curl;
	char error[CURL_ERROR_SIZE];
};

int xlb_acme_http_new(const char *ca_file, struct xlb_acme_http **out)
{
	struct xlb_acme_http *h = calloc(1, sizeof(*h));
	int err = -ENOMEM;

	if (!h)
		return -ENOMEM;
	h->curl = curl_easy_init();
	if (!h->curl)
		goto fail;
	err = -EINVAL;
	/* NOSIGNAL: this runs outside the main thread, where no alarm may
	 * interrupt a resolver */
	if (curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->error) ||
	    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "https") ||
	    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "xlbd-acme/1") ||
	    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_SECS) ||
	    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, REQUEST_TIMEOUT_SECS) ||
	    (ca_file && curl_easy_setopt(h->curl, CURLOPT_CAINFO, ca_file)))
		goto fail;
	*out = h;
	return 0;
fail:
	xlb_acme_http_free(h);
	return err;
}

void xlb_acme_http_free(struct xlb_acme_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

const char *xlb_acme_http_error(const struct xlb_acme_http *h)
{
	return h->error;
}

void xlb_acme_resp_clear(struct xlb_acme_resp *r)
{
	free(r->body);
	free(r->content_type);
	free(r->nonce);
	free(r->location);
	memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct xlb_acme_resp *r = arg;
	size_t len = size * n;
	char *body;

	if (r->len + len > RESP_MAX)
		return 0;
	body = realloc(r->body, r->len + len + 1);
	if (!body)
		return 0;
	memcpy(body + r->len, data, len);
	r->len += len;
	body[r->len] = '\0';
	r->body = body;
	return len;
}

/* Stores the value of "name: value" into *slot when line is that header. */
static int take_header(const char *line, size_t len, const char *name, char **slot)
{
	size_t nlen = strlen(name);

	if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen))
		return 0;
	line += nlen + 1;
	len -= nlen + 1;
	while (len && (*line == ' ' || *line == '\t'))
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
		len--;
	free(*slot);
	*slot = strndup(line, len);
	return *slot ? 1 : -1;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct xlb_acme_resp *r = arg;
	size_t len = size * n;

	/* a new status line (after a 100 Continue): forget the headers so far */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		free(r->nonce);
		free(r->location);
		free(r->content_type);
		r->nonce = r->location = r->content_type = NULL;
		return len;
	}
	if (take_header(line, len, "Replay-Nonce", &r->nonce) < 0 ||
	    take_header(line, len, "Location", &r->location) < 0 ||
	    take_header(line, len, "Content-Type", &r->content_type) < 0)
		return 0;
	return len;
}

static int set_method(CURL *c, enum xlb_acme_method m, const char *body)
{
	CURLcode rc;

	curl_easy_setopt(c, CURLOPT_NOBODY, m == XLB_ACME_HEAD ? 1L : 0L);
	if (m == XLB_ACME_POST) {
		rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
		if (!rc)
			rc = curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
	} else {
		rc = curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	}
	return rc ? -EINVAL : 0;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_WRITE_ERROR:
		return -EFBIG;
	default:
		return -EIO;
	}
}

static int perform(struct xlb_acme_http *h, struct curl_slist *hdrs, const char *url,
		   struct xlb_acme_resp *r)
{
	curl_off_t retry = 0;
	CURLcode rc;

	h->error[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, r);
	rc = curl_easy_perform(h->curl);
	if (rc) {
		if (!h->error[0])
			snprintf(h->error, sizeof(h->error), "%s", curl_easy_strerror(rc));
		return curl_errno(rc);
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (!curl_easy_getinfo(h->curl, CURLINFO_RETRY_AFTER, &retry) && retry > 0)
		r->retry_after = (long)retry;
	if (!r->body)
		r->body = calloc(1, 1);
	return r->body ? 0 : -ENOMEM;
}

int xlb_acme_http_do(struct xlb_acme_http *h, enum xlb_acme_method m, const char *url,
		     const char *body, const char *accept, struct xlb_acme_resp *r)
{
	struct curl_slist *hdrs = NULL, *more;
	char line[256];
	int err = -ENOMEM;

	xlb_acme_resp_clear(r);
	if (m == XLB_ACME_POST) {
		hdrs = curl_slist_append(NULL, "Content-Type: application/jose+json");
		if (!hdrs)
			return -ENOMEM;
	}
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		more = curl_slist_append(hdrs, line);
		if (!more)
			goto out;
		hdrs = more;
	}
	err = set_method(h->curl, m, body);
	if (!err)
		err = perform(h, hdrs, url, r);
	if (err)
		xlb_acme_resp_clear(r);
out:
	curl_slist_free_all(hdrs);
	return err;
}

int xlb_acme_resp_is_problem(const struct xlb_acme_resp *r)
{
	return r->content_type && strncasecmp(r->content_type, "application/problem+json", 24) == 0;
}
