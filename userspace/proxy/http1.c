// SPDX-License-Identifier: GPL-2.0
/* HTTP/1.1 message heads and chunked framing (RFC 9112), without I/O.
 *
 * A head is parsed a complete line at a time, from its first byte on each
 * call: lines end in CRLF, and a bare CR or LF is refused, because a next
 * hop that splits lines differently would read other messages than the
 * ones the proxy framed. The incomplete last line is checked only for
 * bytes no continuation can make valid (a NUL, a control character), so
 * binary junk such as a TLS hello on the HTTP port is refused at once
 * instead of at the caller's deadline. */
#include <string.h>

#include "http1.h"

/* ---- characters ------------------------------------------------------------ */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 5.6.2 tchar: the characters of methods, header names, tokens. */
static bool is_tchar(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static unsigned int hex_value(unsigned char c)
{
	return is_digit(c) ? (unsigned int)(c - '0') : (unsigned int)((c | 0x20) - 'a' + 10);
}

/* RFC 9110 5.5: VCHAR and obs-text, what a field value is made of (with
 * SP and HTAB between). */
static bool is_field_vchar(unsigned char c)
{
	return c > ' ' && c != 0x7f;
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

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_digit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static struct xlb_http1_span span(size_t off, size_t len)
{
	return (struct xlb_http1_span){ .off = (uint32_t)off, .len = (uint32_t)len };
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
		if (!is_digit((unsigned char)s[i]))
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
		if (!is_hex((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
			return false;
	for (size_t i = 0; i < lit; i++)
		out[i] = lower(s[i]);
	out[lit] = '\0';
	return true;
}

/* uri-host [":" port] (RFC 9110 7.2) -> the host, lowercased, without port
 * and without one trailing dot ("api.app.dev." names the same host). A
 * registered name must be a DNS name: userinfo, percent-encoding and the
 * like are refused. */
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

/* authority-form (RFC 9112 3.2.3): uri-host ":" port, the port not empty. */
static bool valid_authority_form(const char *s, size_t n)
{
	char scratch[XLB_HOSTNAME_SIZE];
	const char *after_host = n > 0 && s[0] == '[' ? memchr(s, ']', n) : s;

	if (!after_host || !memchr(after_host, ':', n - (size_t)(after_host - s)))
		return false;
	return is_digit((unsigned char)s[n - 1]) && copy_host(s, n, scratch, sizeof(scratch));
}

/* ---- the parse of one head ----------------------------------------------------- */

/* What the head says, as far as it has been read. */
struct parse {
	const char *buf;
	struct xlb_http1_head *head;
	struct xlb_http1_request *req; /* one of req and resp */
	struct xlb_http1_response *resp;
	enum xlb_http1_method method;	/* resp: what the request was */
	struct xlb_http1_field *fields; /* or NULL: not recorded */
	unsigned int max_fields;
	unsigned int n_host;
	unsigned int n_content_length;
	unsigned int n_transfer_encoding;
	struct xlb_http1_span host; /* the Host value, OWS trimmed */
};

/* ---- the request line ---------------------------------------------------------- */

static const struct {
	const char *name;
	enum xlb_http1_method method;
} methods[] = {
	{ "GET", XLB_HTTP1_M_GET },	    { "HEAD", XLB_HTTP1_M_HEAD },
	{ "POST", XLB_HTTP1_M_POST },	    { "PUT", XLB_HTTP1_M_PUT },
	{ "DELETE", XLB_HTTP1_M_DELETE },   { "CONNECT", XLB_HTTP1_M_CONNECT },
	{ "OPTIONS", XLB_HTTP1_M_OPTIONS }, { "TRACE", XLB_HTTP1_M_TRACE },
	{ "PATCH", XLB_HTTP1_M_PATCH },
};

/* Methods are case-sensitive (RFC 9110 9.1): "get" is another method. */
static enum xlb_http1_method method_of(const char *s, size_t n)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strlen(methods[i].name) == n && memcmp(methods[i].name, s, n) == 0)
			return methods[i].method;
	return XLB_HTTP1_M_OTHER;
}

bool xlb_http1_method_idempotent(enum xlb_http1_method m)
{
	return m == XLB_HTTP1_M_GET || m == XLB_HTTP1_M_HEAD || m == XLB_HTTP1_M_PUT ||
	       m == XLB_HTTP1_M_DELETE || m == XLB_HTTP1_M_OPTIONS || m == XLB_HTTP1_M_TRACE;
}

/* "HTTP/1.x" exactly (RFC 9112 2.3: case-sensitive, one digit each). */
static bool parse_version(struct xlb_http1_head *head, const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/1.", 7) != 0 || !is_digit((unsigned char)v[7]))
		return false;
	head->minor = (uint8_t)(v[7] - '0');
	return true;
}

/* scheme "://" (RFC 3986 3.1): the length of that prefix of t, or 0. */
static size_t scheme_prefix_len(const char *t, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alpha((unsigned char)t[0]))
		return 0;
	while (i < n && (is_alpha((unsigned char)t[i]) || is_digit((unsigned char)t[i]) ||
			 t[i] == '+' || t[i] == '-' || t[i] == '.'))
		i++;
	if (n - i < 3 || memcmp(t + i, "://", 3) != 0)
		return 0;
	return i + 3;
}

/* Splits t[from, end) into the path and, after a '?', the query. */
static void split_path_query(struct xlb_http1_request *req, size_t from, size_t end,
			     const char *buf)
{
	const char *q = memchr(buf + from, '?', end - from);
	size_t path_end = q ? (size_t)(q - buf) : end;

	req->path = span(from, path_end - from);
	req->has_query = q != NULL;
	req->query = q ? span(path_end + 1, end - path_end - 1) : span(end, 0);
}

/* absolute-form (RFC 9112 3.2.2): scheme "://" authority [path-abempty
 * ["?" query]]; the authority ends at the first '/' or '?'. */
static void parse_absolute_form(struct xlb_http1_request *req, const char *buf, size_t scheme)
{
	size_t from = req->target.off + scheme, end = req->target.off + req->target.len, a;

	for (a = from; a < end && buf[a] != '/' && buf[a] != '?'; a++)
		;
	req->authority = span(from, a - from);
	split_path_query(req, a, end, buf);
}

/* The request-target's form (RFC 9112 3.2); a target of none of them, or
 * of one its method does not take, is a bad request line. A '#' is never
 * sent (a fragment stays with the client): refused, so that no two hops
 * route on different paths. */
static const char *parse_target(struct xlb_http1_request *req, const char *buf)
{
	const char *t = buf + req->target.off;
	size_t n = req->target.len, scheme = scheme_prefix_len(t, n);
	bool connect = req->method == XLB_HTTP1_M_CONNECT;

	if (memchr(t, '#', n))
		return "bad request line";
	if (connect) {
		if (!valid_authority_form(t, n))
			return "bad request line";
		req->form = XLB_HTTP1_T_AUTHORITY;
		req->authority = req->target;
	} else if (n == 1 && t[0] == '*') {
		req->form = XLB_HTTP1_T_ASTERISK;
	} else if (t[0] == '/') {
		req->form = XLB_HTTP1_T_ORIGIN;
		split_path_query(req, req->target.off, req->target.off + n, buf);
	} else if (scheme) {
		req->form = XLB_HTTP1_T_ABSOLUTE;
		parse_absolute_form(req, buf, scheme);
	} else {
		return "bad request line";
	}
	return NULL;
}

/* method SP request-target SP HTTP-version, single spaces (RFC 9112 3);
 * the target is visible ASCII only. */
static const char *parse_request_line(struct parse *p, size_t off, size_t n)
{
	struct xlb_http1_request *req = p->req;
	const char *line = p->buf + off;
	size_t m = 0, t;

	while (m < n && is_tchar((unsigned char)line[m]))
		m++;
	if (m == 0 || m == n || line[m] != ' ')
		return "bad request line";
	for (t = m + 1; t < n && line[t] > ' ' && line[t] < 0x7f; t++)
		;
	if (t == m + 1 || t == n || line[t] != ' ')
		return "bad request line";
	if (!parse_version(p->head, line + t + 1, n - t - 1))
		return "bad request line";
	req->method = method_of(line, m);
	req->method_name = span(off, m);
	req->target = span(off + m + 1, t - m - 1);
	return parse_target(req, p->buf);
}

/* ---- the status line ----------------------------------------------------------- */

/* HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 4), the status in
 * 100..599 (RFC 9110 15). A missing SP before an empty reason is taken:
 * it leaves no doubt about the message. */
static const char *parse_status_line(struct parse *p, size_t off, size_t n)
{
	struct xlb_http1_response *resp = p->resp;
	const char *line = p->buf + off;

	if (n < 12 || !parse_version(p->head, line, 8) || line[8] != ' ' ||
	    !all_digits(line + 9, 3) || (n > 12 && line[12] != ' '))
		return "bad status line";
	resp->status =
		(unsigned int)((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
	if (resp->status < 100 || resp->status > 599)
		return "bad status line";
	resp->reason = n > 12 ? span(off + 13, n - 13) : span(off + n, 0);
	return NULL;
}

/* ---- header fields ------------------------------------------------------------- */

static const struct {
	const char *name;
	enum xlb_http1_field_kind kind;
} field_kinds[] = {
	{ "host", XLB_HTTP1_F_HOST },
	{ "content-length", XLB_HTTP1_F_CONTENT_LENGTH },
	{ "transfer-encoding", XLB_HTTP1_F_TRANSFER_ENCODING },
	{ "connection", XLB_HTTP1_F_CONNECTION },
	{ "keep-alive", XLB_HTTP1_F_KEEP_ALIVE },
	{ "proxy-connection", XLB_HTTP1_F_PROXY_CONNECTION },
	{ "upgrade", XLB_HTTP1_F_UPGRADE },
	{ "te", XLB_HTTP1_F_TE },
	{ "trailer", XLB_HTTP1_F_TRAILER },
	{ "expect", XLB_HTTP1_F_EXPECT },
	{ "forwarded", XLB_HTTP1_F_FORWARDED },
	{ "x-forwarded-for", XLB_HTTP1_F_X_FORWARDED_FOR },
	{ "x-forwarded-host", XLB_HTTP1_F_X_FORWARDED_HOST },
	{ "x-forwarded-proto", XLB_HTTP1_F_X_FORWARDED_PROTO },
	{ "x-forwarded-port", XLB_HTTP1_F_X_FORWARDED_PORT },
	{ "x-forwarded-prefix", XLB_HTTP1_F_X_FORWARDED_PREFIX },
};

static enum xlb_http1_field_kind field_kind(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(field_kinds) / sizeof(field_kinds[0]); i++)
		if (word_is(name, n, field_kinds[i].name))
			return field_kinds[i].kind;
	return XLB_HTTP1_F_OTHER;
}

/* transfer-coding *( OWS "," OWS transfer-coding ), with "chunked" last
 * and only there (RFC 9112 6.1, 7). Anything else leaves the body's end to
 * each parser's guess (a request: RFC 9112 6.3 makes it a 400; a response
 * would read to the close, a shape no backend of ours sends). Parameters
 * are refused too. */
static bool valid_transfer_encoding(const char *v, size_t n)
{
	size_t i = 0, start;
	bool chunked_last = false;

	for (;;) {
		if (chunked_last)
			return false; /* chunked before another coding */
		for (start = i; i < n && is_tchar((unsigned char)v[i]); i++)
			;
		if (i == start)
			return false;
		chunked_last = word_is(v + start, i - start, "chunked");
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
		if (i == n)
			return chunked_last;
		if (v[i++] != ',')
			return false;
		while (i < n && is_ows((unsigned char)v[i]))
			i++;
	}
}

/* Transfer-Encoding: one header line, a valid list, and HTTP/1.1 (an
 * HTTP/1.0 message with it has faulty framing, RFC 9112 6.1). */
static const char *note_transfer_encoding(struct parse *p, const char *v, size_t n)
{
	if (++p->n_transfer_encoding > 1)
		return "two Transfer-Encoding headers";
	if (p->head->minor == 0)
		return "Transfer-Encoding in HTTP/1.0";
	if (!valid_transfer_encoding(v, n))
		return "bad Transfer-Encoding";
	p->head->chunked = true;
	return NULL;
}

/* One Content-Length line of 1 to 18 digits: no next hop's 64-bit parse
 * can overflow, and a list ("5, 5") or a second line, which RFC 9112 6.3
 * lets a recipient either refuse or merge, is refused. */
static const char *note_content_length(struct parse *p, const char *v, size_t n)
{
	uint64_t length = 0;

	if (++p->n_content_length > 1)
		return "two Content-Length headers";
	if (!all_digits(v, n) || n > 18)
		return "bad Content-Length";
	for (size_t i = 0; i < n; i++)
		length = length * 10 + (uint64_t)(v[i] - '0');
	p->head->content_length = length;
	p->head->has_content_length = true;
	return NULL;
}

/* Connection: a list of options (RFC 9110 7.6.1); empty elements and
 * options other than these three are allowed and only ignored here. */
static void note_connection(struct xlb_http1_head *head, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;

		while (i < n && (is_ows((unsigned char)v[i]) || v[i] == ','))
			i++;
		for (start = i; i < n && v[i] != ','; i++)
			;
		for (end = i; end > start && is_ows((unsigned char)v[end - 1]); end--)
			;
		if (word_is(v + start, end - start, "close"))
			head->connection |= XLB_HTTP1_CONN_CLOSE;
		else if (word_is(v + start, end - start, "keep-alive"))
			head->connection |= XLB_HTTP1_CONN_KEEP_ALIVE;
		else if (word_is(v + start, end - start, "upgrade"))
			head->connection |= XLB_HTTP1_CONN_UPGRADE;
	}
}

/* The fields that only a request's meaning depends on. */
static const char *note_request_field(struct parse *p, enum xlb_http1_field_kind kind,
				      struct xlb_http1_span value)
{
	const char *v = p->buf + value.off;

	if (kind == XLB_HTTP1_F_HOST) {
		if (++p->n_host > 1)
			return "two Host headers";
		p->host = value;
	} else if (kind == XLB_HTTP1_F_EXPECT && word_is(v, value.len, "100-continue")) {
		p->req->expect_continue = true;
	}
	return NULL;
}

/* The fields that frame a message or end its connection. */
static const char *note_framing_field(struct parse *p, enum xlb_http1_field_kind kind,
				      const char *v, size_t n)
{
	if (kind == XLB_HTTP1_F_CONTENT_LENGTH)
		return note_content_length(p, v, n);
	if (kind == XLB_HTTP1_F_TRANSFER_ENCODING)
		return note_transfer_encoding(p, v, n);
	if (kind == XLB_HTTP1_F_CONNECTION)
		note_connection(p->head, v, n);
	else if (kind == XLB_HTTP1_F_UPGRADE)
		p->head->upgrade = true;
	return NULL;
}

/* Notes the fields that route or frame the message. Framing matters
 * because the next hop must see exactly one way to find the body's end. */
static const char *note_field(struct parse *p, enum xlb_http1_field_kind kind,
			      struct xlb_http1_span value)
{
	const char *why = p->req ? note_request_field(p, kind, value) : NULL;

	if (!why)
		why = note_framing_field(p, kind, p->buf + value.off, value.len);
	if (why)
		return why;
	if (p->n_content_length && p->n_transfer_encoding)
		return "Content-Length with Transfer-Encoding";
	return NULL;
}

/* Keeps the line's place for the proxy, which rewrites heads by lines. */
static const char *record_field(struct parse *p, const struct xlb_http1_field *f)
{
	if (!p->fields) {
		p->head->n_fields++;
		return NULL;
	}
	if (p->head->n_fields >= p->max_fields)
		return "too many header fields";
	p->fields[p->head->n_fields++] = *f;
	return NULL;
}

/* field-name ":" OWS field-value OWS (RFC 9112 5); off is the line's
 * start, n its length without CRLF. No obs-fold (5.2: a server MUST
 * refuse it or replace it, and a proxy that forwards it unchanged could
 * make the next hop read another header). */
static const char *parse_field_line(struct parse *p, size_t off, size_t n)
{
	const char *line = p->buf + off, *colon, *why;
	struct xlb_http1_field f;
	size_t name_len, v, end;

	if (is_ows((unsigned char)line[0]))
		return "obs-fold";
	colon = memchr(line, ':', n);
	if (!colon)
		return "header without colon";
	name_len = (size_t)(colon - line);
	if (name_len > 0 && is_ows((unsigned char)line[name_len - 1]))
		return "whitespace before colon"; /* 5.1: MUST be refused */
	if (name_len == 0)
		return "bad header name";
	for (size_t i = 0; i < name_len; i++)
		if (!is_tchar((unsigned char)line[i]))
			return "bad header name";
	for (v = name_len + 1; v < n && is_ows((unsigned char)line[v]); v++)
		;
	for (end = n; end > v && is_ows((unsigned char)line[end - 1]); end--)
		;
	f = (struct xlb_http1_field){
		.line = span(off, n + 2),
		.name = span(off, name_len),
		.value = span(off + v, end - v),
		.kind = field_kind(line, name_len),
	};
	why = record_field(p, &f);
	return why ? why : note_field(p, f.kind, f.value);
}

/* ---- the complete head --------------------------------------------------------- */

/* RFC 9112 9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with
 * "keep-alive". */
static bool persists(const struct xlb_http1_head *head)
{
	if (head->connection & XLB_HTTP1_CONN_CLOSE)
		return false;
	return head->minor > 0 || (head->connection & XLB_HTTP1_CONN_KEEP_ALIVE);
}

/* The host of a complete request: the target's authority over Host
 * (RFC 9112 3.2.2), but a bad or missing Host is refused either way
 * (RFC 9112 3.2: a server MUST answer such a request with 400). */
static const char *finish_request_host(struct parse *p)
{
	struct xlb_http1_request *req = p->req;
	const char *host = p->buf + p->host.off;

	if (p->n_host == 0 && p->head->minor > 0)
		return "no Host header";
	if (p->host.len && !copy_host(host, p->host.len, req->host, sizeof(req->host)))
		return "bad host";
	if (req->form == XLB_HTTP1_T_ABSOLUTE &&
	    !copy_host(p->buf + req->authority.off, req->authority.len, req->host,
		       sizeof(req->host)))
		return "bad host";
	return NULL;
}

/* RFC 9112 6.3 for requests: chunked, else Content-Length, else none. */
static const char *finish_request(struct parse *p)
{
	struct xlb_http1_head *head = p->head;
	const char *why = finish_request_host(p);

	if (why)
		return why;
	if (head->chunked)
		head->body = XLB_HTTP1_BODY_CHUNKED;
	else if (head->has_content_length)
		head->body = XLB_HTTP1_BODY_LENGTH;
	else
		head->body = XLB_HTTP1_BODY_NONE;
	head->keep_alive = persists(head);
	return NULL;
}

/* RFC 9112 6.3 for responses, given the request's method. */
static enum xlb_http1_body response_body(const struct xlb_http1_response *resp,
					 enum xlb_http1_method method)
{
	unsigned int s = resp->status;

	if (s == 101 || (method == XLB_HTTP1_M_CONNECT && s / 100 == 2))
		return XLB_HTTP1_BODY_TUNNEL;
	if (method == XLB_HTTP1_M_HEAD || s / 100 == 1 || s == 204 || s == 304)
		return XLB_HTTP1_BODY_NONE;
	if (resp->head.chunked)
		return XLB_HTTP1_BODY_CHUNKED;
	if (resp->head.has_content_length)
		return XLB_HTTP1_BODY_LENGTH;
	return XLB_HTTP1_BODY_CLOSE;
}

static void finish_response(struct parse *p)
{
	struct xlb_http1_response *resp = p->resp;
	struct xlb_http1_head *head = p->head;

	head->body = response_body(resp, p->method);
	resp->interim = resp->status / 100 == 1 && resp->status != 101;
	head->keep_alive = persists(head) && head->body != XLB_HTTP1_BODY_CLOSE &&
			   head->body != XLB_HTTP1_BODY_TUNNEL;
}

/* One complete line at off, n bytes without its CRLF. Empty lines before
 * a request line are skipped (RFC 9112 2.2: a server SHOULD ignore at
 * least one); a response has none. */
static const char *parse_line(struct parse *p, size_t off, size_t n, bool first)
{
	if (!first)
		return parse_field_line(p, off, n);
	p->head->start = (uint32_t)off;
	return p->req ? parse_request_line(p, off, n) : parse_status_line(p, off, n);
}

/* Runs over the complete lines of buf[0, len) up to the blank line that
 * ends the head; head_len is set on OK. */
static enum xlb_http1 parse_lines(struct parse *p, size_t len)
{
	struct xlb_http1_head *head = p->head;
	bool first = true;
	size_t pos = 0;

	while (pos < len) {
		const char *line = p->buf + pos;
		const char *lf = memchr(line, '\n', len - pos);
		size_t n, off = pos;

		if (!lf) {
			head->why = line_bytes_error(line, len - pos, true);
			return head->why ? XLB_HTTP1_BAD : XLB_HTTP1_MORE;
		}
		n = (size_t)(lf - line);
		head->why = line_bytes_error(line, n, false);
		if (head->why)
			return XLB_HTTP1_BAD;
		pos += n + 1;
		n--; /* the CR */
		if (n == 0 && !first) {
			head->head_len = pos;
			return XLB_HTTP1_OK;
		}
		if (n == 0 && p->req)
			continue; /* an empty line before the request line */
		head->why = parse_line(p, off, n, first);
		if (head->why)
			return XLB_HTTP1_BAD;
		first = false;
	}
	return XLB_HTTP1_MORE;
}

/* Offsets are 32 bits: beyond 4 GiB a head is incomplete, and the
 * caller's limit, far lower, ends it. */
static size_t clamp_len(size_t len)
{
	return len > UINT32_MAX ? UINT32_MAX : len;
}

/* Parses the lines, then decides on the complete head. A refused or
 * incomplete head has no framing, no host and no fields. */
static enum xlb_http1 parse_head(struct parse *p, size_t len)
{
	struct xlb_http1_head *head = p->head;
	enum xlb_http1 v = parse_lines(p, clamp_len(len));

	if (v == XLB_HTTP1_OK && p->req)
		head->why = finish_request(p);
	else if (v == XLB_HTTP1_OK)
		finish_response(p);
	if (v == XLB_HTTP1_OK && !head->why)
		return XLB_HTTP1_OK;
	head->body = XLB_HTTP1_BODY_UNKNOWN;
	head->keep_alive = false;
	head->n_fields = 0;
	if (p->req)
		p->req->host[0] = '\0';
	return head->why ? XLB_HTTP1_BAD : XLB_HTTP1_MORE;
}

enum xlb_http1 xlb_http1_parse_request(const char *buf, size_t len, struct xlb_http1_request *req,
				       struct xlb_http1_field *fields, unsigned int max_fields)
{
	struct parse p = { .buf = buf,
			   .head = &req->head,
			   .req = req,
			   .fields = fields,
			   .max_fields = max_fields };

	memset(req, 0, sizeof(*req));
	return parse_head(&p, len);
}

enum xlb_http1 xlb_http1_parse_response(const char *buf, size_t len, enum xlb_http1_method method,
					struct xlb_http1_response *resp,
					struct xlb_http1_field *fields, unsigned int max_fields)
{
	struct parse p = { .buf = buf,
			   .head = &resp->head,
			   .resp = resp,
			   .method = method,
			   .fields = fields,
			   .max_fields = max_fields };

	memset(resp, 0, sizeof(*resp));
	return parse_head(&p, len);
}

/* ---- chunked bodies ------------------------------------------------------------ */

/* Where the decoder is in RFC 9112 7.1's grammar:
 *   chunked-body = *chunk last-chunk trailer-section CRLF
 *   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   chunk-ext    = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val      = token / quoted-string */
enum chunk_state {
	CS_SIZE_FIRST,	 /* the first hex digit of chunk-size */
	CS_SIZE,	 /* more digits, or what may follow them */
	CS_EXT_BWS,	 /* BWS before ";" */
	CS_EXT_NAME_BWS, /* BWS after ";" */
	CS_EXT_NAME,
	CS_EXT_NAME_END,  /* BWS after a name: "=" or ";" */
	CS_EXT_VALUE_BWS, /* BWS after "=" */
	CS_EXT_TOKEN,
	CS_EXT_QUOTED,
	CS_EXT_QUOTED_PAIR, /* after a backslash */
	CS_EXT_QUOTE_END,   /* after the closing quote */
	CS_SIZE_LF,	    /* the CR of the size line was read */
	CS_DATA,	    /* the caller moves chunk data */
	CS_DATA_CR,	    /* the CRLF after chunk data */
	CS_DATA_LF,
	CS_TRAILER_LINE, /* a trailer field's name, or the final CRLF */
	CS_TRAILER_NAME,
	CS_TRAILER_VALUE,
	CS_TRAILER_LF,
	CS_END_LF, /* the LF of the final CRLF */
	CS_DONE,
	CS_BAD,
};

/* What one byte did. */
enum chunk_step { STEP_ON, STEP_DATA, STEP_DONE, STEP_BAD };

/* A chunk-size of 16 hex digits or fewer fits 64 bits; leading zeros count
 * too, so that no next hop with a fixed digit limit reads another size. */
#define CHUNK_SIZE_DIGITS 16

void xlb_chunk_init(struct xlb_chunk *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CS_SIZE_FIRST;
}

static enum chunk_step chunk_bad(struct xlb_chunk *c, const char *why)
{
	c->why = why;
	c->state = CS_BAD;
	return STEP_BAD;
}

static enum chunk_step chunk_to(struct xlb_chunk *c, enum chunk_state s)
{
	c->state = (uint8_t)s;
	return STEP_ON;
}

/* A byte where a line may not hold it: an LF out of place is a bare LF
 * (the line ends at CRLF only), anything else is why. */
static enum chunk_step chunk_refuse(struct xlb_chunk *c, unsigned char ch, const char *why)
{
	return chunk_bad(c, ch == '\n' ? "bare LF" : why);
}

/* A size line's end: the LF after its CR. */
static enum chunk_step size_line_end(struct xlb_chunk *c, unsigned char ch)
{
	if (ch != '\n')
		return chunk_bad(c, "bare CR");
	c->line_len = 0;
	if (c->size == 0)
		return chunk_to(c, CS_TRAILER_LINE); /* last-chunk */
	c->state = CS_DATA;
	return STEP_DATA;
}

/* After a size, an extension name or value: BWS ";", ";", or the CR. */
static enum chunk_step after_size_item(struct xlb_chunk *c, unsigned char ch, const char *why)
{
	if (is_ows(ch))
		return chunk_to(c, CS_EXT_BWS);
	if (ch == ';')
		return chunk_to(c, CS_EXT_NAME_BWS);
	if (ch == '\r')
		return chunk_to(c, CS_SIZE_LF);
	return chunk_refuse(c, ch, why);
}

static enum chunk_step size_digit(struct xlb_chunk *c, unsigned char ch)
{
	if (++c->digits > CHUNK_SIZE_DIGITS)
		return chunk_bad(c, "chunk size too large");
	c->size = c->size << 4 | hex_value(ch);
	return chunk_to(c, CS_SIZE);
}

static enum chunk_step size_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (is_hex(ch))
		return size_digit(c, ch);
	if (c->state == CS_SIZE_FIRST)
		return chunk_refuse(c, ch, "bad chunk size");
	return after_size_item(c, ch, "bad chunk size");
}

/* qdtext and quoted-pair (RFC 9110 5.6.4). */
static enum chunk_step quoted_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (c->state == CS_EXT_QUOTED_PAIR)
		return is_ows(ch) || is_field_vchar(ch)
			       ? chunk_to(c, CS_EXT_QUOTED)
			       : chunk_refuse(c, ch, "bad chunk extension");
	if (ch == '"')
		return chunk_to(c, CS_EXT_QUOTE_END);
	if (ch == '\\')
		return chunk_to(c, CS_EXT_QUOTED_PAIR);
	if (is_ows(ch) || is_field_vchar(ch))
		return STEP_ON;
	return chunk_refuse(c, ch, "bad chunk extension");
}

/* An extension name, and what may follow it. */
static enum chunk_step ext_name_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (is_tchar(ch))
		return STEP_ON;
	if (ch == '=')
		return chunk_to(c, CS_EXT_VALUE_BWS);
	if (is_ows(ch))
		return chunk_to(c, CS_EXT_NAME_END);
	return after_size_item(c, ch, "bad chunk extension");
}

/* The states of chunk-ext where only BWS and one kind of byte go on. */
static enum chunk_step ext_bws_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (is_ows(ch))
		return STEP_ON;
	if (c->state == CS_EXT_NAME_BWS && is_tchar(ch))
		return chunk_to(c, CS_EXT_NAME);
	if (c->state == CS_EXT_VALUE_BWS && is_tchar(ch))
		return chunk_to(c, CS_EXT_TOKEN);
	if (c->state == CS_EXT_VALUE_BWS && ch == '"')
		return chunk_to(c, CS_EXT_QUOTED);
	if (c->state == CS_EXT_NAME_END && ch == '=')
		return chunk_to(c, CS_EXT_VALUE_BWS);
	if ((c->state == CS_EXT_BWS || c->state == CS_EXT_NAME_END) && ch == ';')
		return chunk_to(c, CS_EXT_NAME_BWS);
	return chunk_refuse(c, ch, "bad chunk extension");
}

static enum chunk_step ext_byte(struct xlb_chunk *c, unsigned char ch)
{
	switch (c->state) {
	case CS_EXT_NAME:
		return ext_name_byte(c, ch);
	case CS_EXT_TOKEN:
		return is_tchar(ch) ? STEP_ON : after_size_item(c, ch, "bad chunk extension");
	case CS_EXT_QUOTED:
	case CS_EXT_QUOTED_PAIR:
		return quoted_byte(c, ch);
	case CS_EXT_QUOTE_END:
		return after_size_item(c, ch, "bad chunk extension");
	default:
		return ext_bws_byte(c, ch);
	}
}

/* The CRLF that chunk data must end with: anything else means the chunk
 * was longer than its size said, which is how smuggled messages hide. */
static enum chunk_step data_end_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (c->state == CS_DATA_CR)
		return ch == '\r' ? chunk_to(c, CS_DATA_LF)
				  : chunk_bad(c, "no CRLF after chunk data");
	if (ch != '\n')
		return chunk_bad(c, "no CRLF after chunk data");
	c->line_len = 0;
	c->size = 0;
	c->digits = 0;
	return chunk_to(c, CS_SIZE_FIRST);
}

/* trailer-section = *( field-line CRLF ) (RFC 9112 7.1.2), as strict as
 * header lines: no obs-fold, no whitespace before the colon. */
static enum chunk_step trailer_byte(struct xlb_chunk *c, unsigned char ch)
{
	switch (c->state) {
	case CS_TRAILER_LINE:
		if (ch == '\r')
			return chunk_to(c, CS_END_LF);
		return is_tchar(ch) ? chunk_to(c, CS_TRAILER_NAME)
				    : chunk_refuse(c, ch, "bad trailer field");
	case CS_TRAILER_NAME:
		if (ch == ':')
			return chunk_to(c, CS_TRAILER_VALUE);
		return is_tchar(ch) ? STEP_ON : chunk_refuse(c, ch, "bad trailer field");
	case CS_TRAILER_VALUE:
		if (ch == '\r')
			return chunk_to(c, CS_TRAILER_LF);
		return is_ows(ch) || is_field_vchar(ch) ? STEP_ON
							: chunk_refuse(c, ch, "bad trailer field");
	case CS_TRAILER_LF:
		if (ch != '\n')
			return chunk_bad(c, "bare CR");
		c->line_len = 0;
		return chunk_to(c, CS_TRAILER_LINE);
	default: /* CS_END_LF */
		if (ch != '\n')
			return chunk_bad(c, "bare CR");
		c->state = CS_DONE;
		return STEP_DONE;
	}
}

static bool in_trailer(const struct xlb_chunk *c)
{
	return c->state >= CS_TRAILER_LINE && c->state <= CS_END_LF;
}

/* One framing byte: the limits first, then the grammar. */
static enum chunk_step chunk_byte(struct xlb_chunk *c, unsigned char ch)
{
	if (++c->line_len > XLB_CHUNK_LINE_MAX)
		return chunk_bad(c, "chunk line too long");
	if (in_trailer(c) && ++c->trailer_len > XLB_CHUNK_TRAILER_MAX)
		return chunk_bad(c, "trailer section too long");
	switch (c->state) {
	case CS_SIZE_FIRST:
	case CS_SIZE:
		return size_byte(c, ch);
	case CS_SIZE_LF:
		return size_line_end(c, ch);
	case CS_DATA_CR:
	case CS_DATA_LF:
		return data_end_byte(c, ch);
	default:
		return in_trailer(c) ? trailer_byte(c, ch) : ext_byte(c, ch);
	}
}

static enum xlb_chunk_verdict chunk_verdict(const struct xlb_chunk *c)
{
	switch (c->state) {
	case CS_DATA:
		return XLB_CHUNK_DATA;
	case CS_DONE:
		return XLB_CHUNK_DONE;
	case CS_BAD:
		return XLB_CHUNK_BAD;
	default:
		return XLB_CHUNK_MORE;
	}
}

enum xlb_chunk_verdict xlb_chunk_feed(struct xlb_chunk *c, const char *buf, size_t len,
				      size_t *consumed)
{
	size_t i;

	*consumed = 0;
	if (chunk_verdict(c) != XLB_CHUNK_MORE)
		return chunk_verdict(c);
	for (i = 0; i < len; i++) {
		switch (chunk_byte(c, (unsigned char)buf[i])) {
		case STEP_ON:
			break;
		case STEP_BAD:
			*consumed = i;
			return XLB_CHUNK_BAD;
		default: /* DATA, DONE: the byte ended a line */
			*consumed = i + 1;
			return chunk_verdict(c);
		}
	}
	*consumed = len;
	return XLB_CHUNK_MORE;
}

uint64_t xlb_chunk_data_left(const struct xlb_chunk *c)
{
	return c->state == CS_DATA ? c->size : 0;
}

void xlb_chunk_data_done(struct xlb_chunk *c, uint64_t n)
{
	if (n > xlb_chunk_data_left(c)) {
		chunk_bad(c, "chunk data overrun");
		return;
	}
	if (n == 0)
		return;
	c->size -= n;
	if (c->size == 0)
		c->state = CS_DATA_CR;
}

/* ---- pacing ------------------------------------------------------------------ */

static bool ends_empty_line(const char *buf, const char *lf)
{
	return (lf - buf >= 1 && lf[-1] == '\n') ||
	       (lf - buf >= 2 && lf[-1] == '\r' && lf[-2] == '\n');
}

bool xlb_http1_pace_due(struct xlb_http1_pace *p, const char *buf, size_t len)
{
	size_t from = p->scanned > 2 ? p->scanned - 2 : 0; /* "\n\r" may end the last look */
	bool end = false;

	while (from < len && !end) {
		const char *lf = memchr(buf + from, '\n', len - from);

		if (!lf)
			break;
		end = ends_empty_line(buf, lf);
		from = (size_t)(lf - buf) + 1;
	}
	p->scanned = len;
	if (!end && p->parsed && len < 2 * p->parsed)
		return false;
	p->parsed = len;
	return true;
}
