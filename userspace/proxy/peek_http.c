// SPDX-License-Identifier: GPL-2.0
/* The HTTP/1.x request head peeker (RFC 9112). It parses complete lines
 * only, so a valid head is MORE at every prefix; the incomplete last line
 * is checked just for bytes that no continuation can make valid (a NUL, a
 * control character), so binary junk such as a TLS hello on the HTTP port
 * is refused at once instead of at the peek deadline. Lines end in CRLF:
 * a bare CR or LF is refused, because a backend that splits lines
 * differently would read other requests than the ones routed. */
#include <stdbool.h>
#include <string.h>

#include "lib/hostmap.h"
#include "peek_http.h"

/* What the head says, as far as it has been read. */
struct http_req {
	bool have_request_line;
	bool http11;			/* HTTP/1.1 or a later 1.x: Host required */
	const char *authority;		/* of an absolute-form target, or NULL */
	size_t authority_len;
	const char *host;		/* the Host value, OWS trimmed, or NULL */
	size_t host_len;
	unsigned int n_host;
	unsigned int n_content_length;
	unsigned int n_transfer_encoding;
};

/* ---- characters ------------------------------------------------------------ */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2 tchar: the characters of methods and header names. */
static bool is_tchar(char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive: is s[0..n) the lowercase word? */
static bool word_is(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n && word[i]; i++)
		if (lower(s[i]) != word[i])
			return false;
	return i == n && word[i] == '\0';
}

/* Why the bytes of one line (without its LF) are unacceptable, or NULL.
 * A partial line may end in the CR of its CRLF. */
static const char *line_bytes_error(const char *p, size_t n, bool partial)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\0')
			return "NUL byte";
		if (c == '\r' && i + 1 != n)
			return "bare CR";
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return "control character";
	}
	if (!partial && (n == 0 || p[n - 1] != '\r'))
		return "bare LF";
	return NULL;
}

/* ---- hosts ------------------------------------------------------------------ */

/* ":" port, with port = 0..5 digits up to 65535 (RFC 3986 allows empty). */
static bool valid_port_suffix(const char *s, size_t n)
{
	unsigned long port = 0;

	if (n == 0)
		return true;
	if (s[0] != ':' || n > 6)
		return false;
	for (size_t i = 1; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port <= 65535;
}

/* "[v6 literal]" [":" port] -> "[v6 literal]" lowercased. Only hex digits,
 * ':' and '.' inside: enough for every IPv6 text form, and a literal never
 * matches a configured name anyway (it gets a 404, not a 400). */
static bool copy_ip_literal(const char *s, size_t n, char *out, size_t out_len)
{
	const char *close = memchr(s, ']', n);
	size_t lit;

	if (!close || close == s + 1)
		return false;
	lit = (size_t)(close - s) + 1;
	if (lit >= out_len || !valid_port_suffix(close + 1, n - lit))
		return false;
	for (size_t i = 1; i + 1 < lit; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return false;
	for (size_t i = 0; i < lit; i++)
		out[i] = lower(s[i]);
	out[lit] = '\0';
	return true;
}

/* uri-host [":" port] (RFC 9110 7.2) -> the host, lowercased, without port
 * and without one trailing dot ("api.app.dev." names the same host). A
 * registered name must be a DNS name: userinfo, percent-encoding and the
 * like give "bad host". */
static bool copy_host(const char *s, size_t n, char *out, size_t out_len)
{
	const char *colon;
	size_t name;

	if (n > 0 && s[0] == '[')
		return copy_ip_literal(s, n, out, out_len);
	colon = memchr(s, ':', n);
	name = colon ? (size_t)(colon - s) : n;
	if (!valid_port_suffix(s + name, n - name))
		return false;
	if (name > 0 && s[name - 1] == '.')
		name--;
	return xlb_host_normalize(s, name, out, out_len) >= 0;
}

/* ---- the request line -------------------------------------------------------- */

/* absolute-form (RFC 9112 3.2.2): scheme "://" authority [path...]. Sets
 * the authority when target has that shape. */
static void find_authority(struct http_req *req, const char *t, size_t n)
{
	size_t i = 0, end;

	if (n == 0 || !is_alpha(t[0]))
		return;
	while (i < n && (is_alpha(t[i]) || is_digit(t[i]) || t[i] == '+' || t[i] == '-' ||
			 t[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return;
	i += 3;
	for (end = i; end < n && t[end] != '/' && t[end] != '?' && t[end] != '#'; end++)
		;
	req->authority = t + i;
	req->authority_len = end - i;
}

/* "HTTP/1.x" exactly; sets http11 for x >= 1. */
static bool parse_version(struct http_req *req, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/1.", 7) != 0 || !is_digit(v[7]))
		return false;
	req->http11 = v[7] != '0';
	return true;
}

/* method SP request-target SP HTTP-version, single spaces (RFC 9112 3). */
static const char *parse_request_line(struct http_req *req, const char *line, size_t n)
{
	size_t m = 0, t;

	while (m < n && is_tchar(line[m]))
		m++;
	if (m == 0 || m == n || line[m] != ' ')
		return "bad request line";
	for (t = m + 1; t < n && line[t] > ' ' && line[t] < 0x7f; t++)
		;
	if (t == m + 1 || t == n || line[t] != ' ')
		return "bad request line";
	if (!parse_version(req, line + t + 1, n - t - 1))
		return "bad request line";
	find_authority(req, line + m + 1, t - m - 1);
	req->have_request_line = true;
	return NULL;
}

/* ---- header lines ------------------------------------------------------------- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return n > 0;
}

/* transfer-coding *( OWS "," OWS transfer-coding ), with "chunked" last
 * and only there (RFC 9112 6.1, 7). Anything else leaves the body's end to
 * each parser's guess, and RFC 9112 6.3 makes it a 400. Parameters are
 * refused too: no client sends them on a request. */
static bool valid_transfer_encoding(const char *v, size_t n)
{
	size_t i = 0, start;
	bool chunked_last = false;

	for (;;) {
		if (chunked_last)
			return false;	/* chunked before another coding */
		for (start = i; i < n && is_tchar(v[i]); i++)
			;
		if (i == start)
			return false;
		chunked_last = word_is(v + start, i - start, "chunked");
		while (i < n && is_ows(v[i]))
			i++;
		if (i == n)
			return chunked_last;
		if (v[i++] != ',')
			return false;
		while (i < n && is_ows(v[i]))
			i++;
	}
}

/* Transfer-Encoding: one header line, a valid list, and HTTP/1.1 (an
 * HTTP/1.0 message with it has faulty framing, RFC 9112 6.1). */
static const char *note_transfer_encoding(struct http_req *req, const char *value,
					  size_t value_len)
{
	if (++req->n_transfer_encoding > 1)
		return "two Transfer-Encoding headers";
	if (!req->http11)
		return "Transfer-Encoding in HTTP/1.0";
	if (!valid_transfer_encoding(value, value_len))
		return "bad Transfer-Encoding";
	return NULL;
}

/* Notes the headers that route or frame the request. Framing matters
 * because the backend must see exactly one way to find the body's end. */
static const char *note_header(struct http_req *req, const char *name, size_t name_len,
			       const char *value, size_t value_len)
{
	const char *why;

	if (word_is(name, name_len, "host")) {
		if (++req->n_host > 1)
			return "two Host headers";
		req->host = value;
		req->host_len = value_len;
	} else if (word_is(name, name_len, "content-length")) {
		if (++req->n_content_length > 1)
			return "two Content-Length headers";
		/* 18 digits: no backend's 64-bit parse can overflow */
		if (!all_digits(value, value_len) || value_len > 18)
			return "bad Content-Length";
	} else if (word_is(name, name_len, "transfer-encoding")) {
		why = note_transfer_encoding(req, value, value_len);
		if (why)
			return why;
	}
	if (req->n_content_length && req->n_transfer_encoding)
		return "Content-Length with Transfer-Encoding";
	return NULL;
}

/* field-name ":" OWS field-value OWS (RFC 9112 5). */
static const char *parse_header_line(struct http_req *req, const char *line, size_t n)
{
	const char *colon;
	size_t name_len, v, end;

	if (is_ows(line[0]))
		return "obs-fold";
	colon = memchr(line, ':', n);
	if (!colon)
		return "header without colon";
	name_len = (size_t)(colon - line);
	if (name_len > 0 && is_ows(line[name_len - 1]))
		return "whitespace before colon";
	if (name_len == 0)
		return "bad header name";
	for (size_t i = 0; i < name_len; i++)
		if (!is_tchar(line[i]))
			return "bad header name";
	for (v = name_len + 1; v < n && is_ows(line[v]); v++)
		;
	for (end = n; end > v && is_ows(line[end - 1]); end--)
		;
	return note_header(req, line, name_len, line + v, end - v);
}

/* ---- the complete head ------------------------------------------------------- */

/* Decides on a complete head: the request target's authority over Host
 * (RFC 9112 3.2.2), but a bad or missing Host is refused either way
 * (RFC 9112 3.2: a server MUST answer such a request with 400). */
static enum xlb_peek finish(const struct http_req *req, char *host, size_t host_len,
			    const char **why)
{
	if (req->n_host == 0 && req->http11) {
		*why = "no Host header";
		return XLB_PEEK_BAD;
	}
	if (req->host_len && !copy_host(req->host, req->host_len, host, host_len)) {
		*why = "bad host";
		return XLB_PEEK_BAD;
	}
	if (req->authority) {
		if (!copy_host(req->authority, req->authority_len, host, host_len)) {
			*why = "bad host";
			return XLB_PEEK_BAD;
		}
		return XLB_PEEK_OK;
	}
	return req->host_len ? XLB_PEEK_OK : XLB_PEEK_NONE;
}

/* One complete line, CRLF stripped. Leading empty lines are skipped
 * (RFC 9112 2.2: a server SHOULD ignore at least one). */
static const char *parse_line(struct http_req *req, const char *line, size_t n)
{
	if (!req->have_request_line)
		return n ? parse_request_line(req, line, n) : NULL;
	return parse_header_line(req, line, n);
}

enum xlb_peek xlb_peek_http(const char *buf, size_t len, char *host, size_t host_len,
			    size_t *head_len, const char **why)
{
	struct http_req req = { 0 };
	size_t pos = 0;

	*why = NULL;
	while (pos < len) {
		const char *line = buf + pos;
		const char *lf = memchr(line, '\n', len - pos);
		size_t n;

		if (!lf) {
			*why = line_bytes_error(line, len - pos, true);
			return *why ? XLB_PEEK_BAD : XLB_PEEK_MORE;
		}
		n = (size_t)(lf - line);
		*why = line_bytes_error(line, n, false);
		if (*why)
			return XLB_PEEK_BAD;
		pos += n + 1;
		n--;	/* the CR */
		if (n == 0 && req.have_request_line) {
			*head_len = pos;
			return finish(&req, host, host_len, why);
		}
		*why = parse_line(&req, line, n);
		if (*why)
			return XLB_PEEK_BAD;
	}
	return XLB_PEEK_MORE;
}
