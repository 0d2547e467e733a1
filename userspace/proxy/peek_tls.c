// SPDX-License-Identifier: GPL-2.0
/* The ClientHello peeker (RFC 8446 4.1.2, RFC 6066 3). A reader walks the
 * handshake bytes across record boundaries without copying them, so a
 * ClientHello split over records or reads is parsed like a whole one.
 * Every vector length is checked against its container before it is
 * read: a length that cannot fit is BAD at once, and running out of bytes
 * inside a length that fits is MORE. The verdict waits for the whole
 * ClientHello, so that every prefix of a valid one is MORE. */
#include <stdbool.h>
#include <string.h>

#include "lib/hostmap.h"
#include "peek_tls.h"

#define TLS_RECORD_HEADER 5
#define TLS_CONTENT_HANDSHAKE 22
#define TLS_HANDSHAKE_CLIENT_HELLO 1
#define TLS_RANDOM_LEN 32
#define TLS_SESSION_ID_MAX 32
#define TLS_EXT_SERVER_NAME 0
#define TLS_NAME_TYPE_HOST_NAME 0

/* A cursor over the handshake bytes carried by the records in buf. */
struct hs_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;	      /* next handshake byte in buf */
	size_t rec_end;	      /* end of the current record's fragment (may be > len) */
	size_t off;	      /* handshake bytes consumed, across records */
	enum xlb_peek status; /* MORE or BAD once a read has failed */
	const char *why;
};

/* Where the server name goes, and whether one was found. */
struct sni_out {
	char *name;
	size_t size;
	bool found;
	bool seen_extension;
};

static bool stop(struct hs_reader *r, enum xlb_peek status, const char *why)
{
	r->status = status;
	r->why = why;
	return false;
}

/* ---- records ------------------------------------------------------------------ */

/* Checks the record header at r->pos as far as it has arrived, so that
 * what is not TLS (an HTTP request on the TLS port) is refused at once. */
static bool next_record(struct hs_reader *r)
{
	size_t avail = r->len - r->pos;
	const uint8_t *h;
	size_t frag;

	if (avail == 0)
		return stop(r, XLB_PEEK_MORE, NULL);
	h = r->buf + r->pos;
	if (r->pos == 0 && (h[0] & 0x80))
		return stop(r, XLB_PEEK_BAD, "SSLv2 hello");
	if (h[0] != TLS_CONTENT_HANDSHAKE)
		return stop(r, XLB_PEEK_BAD, "not a handshake record");
	if (avail >= 2 && h[1] != 3)
		return stop(r, XLB_PEEK_BAD, "bad record version");
	if (avail >= 3 && (h[2] < 1 || h[2] > 4))
		return stop(r, XLB_PEEK_BAD, "bad record version");
	if (avail < TLS_RECORD_HEADER)
		return stop(r, XLB_PEEK_MORE, NULL);
	frag = (size_t)h[3] << 8 | h[4];
	/* RFC 8446 5.1: no empty handshake fragments, at most 2^14 bytes */
	if (frag == 0 || frag > XLB_TLS_RECORD_MAX)
		return stop(r, XLB_PEEK_BAD, "bad record length");
	r->pos += TLS_RECORD_HEADER;
	r->rec_end = r->pos + frag;
	return true;
}

/* Reads n handshake bytes into out (or skips them when out is NULL). */
static bool read_bytes(struct hs_reader *r, uint8_t *out, size_t n)
{
	while (n > 0) {
		size_t chunk;

		if (r->pos == r->rec_end && !next_record(r))
			return false;
		if (r->pos >= r->len)
			return stop(r, XLB_PEEK_MORE, NULL);
		chunk = r->rec_end - r->pos;
		if (chunk > r->len - r->pos)
			chunk = r->len - r->pos;
		if (chunk > n)
			chunk = n;
		if (out) {
			memcpy(out, r->buf + r->pos, chunk);
			out += chunk;
		}
		r->pos += chunk;
		r->off += chunk;
		n -= chunk;
	}
	return true;
}

/* Reads a big-endian integer of 1..3 bytes. */
static bool read_uint(struct hs_reader *r, size_t n, uint32_t *v)
{
	uint8_t b[3];

	if (!read_bytes(r, b, n))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return true;
}

/* Bytes left before the logical offset end (never negative: every read is
 * checked against its container first). */
static size_t left(const struct hs_reader *r, size_t end)
{
	return end - r->off;
}

/* Reads an n-byte integer that must lie before end, else BAD why. */
static bool read_field(struct hs_reader *r, size_t n, size_t end, uint32_t *v, const char *why)
{
	if (left(r, end) < n)
		return stop(r, XLB_PEEK_BAD, why);
	return read_uint(r, n, v);
}

/* ---- server_name ------------------------------------------------------------------ */

/* A host_name entry: the first one is the name, a second is refused (RFC
 * 6066 3: at most one name per type). */
static bool take_host_name(struct hs_reader *r, struct sni_out *sni, size_t name_len)
{
	if (sni->found)
		return stop(r, XLB_PEEK_BAD, "bad server_name list");
	if (name_len == 0 || name_len >= sni->size)
		return stop(r, XLB_PEEK_BAD, "bad SNI");
	if (!read_bytes(r, (uint8_t *)sni->name, name_len))
		return false;
	if (xlb_host_normalize(sni->name, name_len, sni->name, sni->size) < 0)
		return stop(r, XLB_PEEK_BAD, "bad SNI");
	sni->found = true;
	return true;
}

/* ServerNameList: u16 length, then entries of name_type u8, u16 length,
 * bytes. Entries of other types are skipped. */
static bool parse_server_name(struct hs_reader *r, struct sni_out *sni, size_t end)
{
	uint32_t list_len, type, name_len;

	if (sni->seen_extension)
		return stop(r, XLB_PEEK_BAD, "two server_name extensions");
	sni->seen_extension = true;
	if (!read_field(r, 2, end, &list_len, "bad server_name list"))
		return false;
	if (list_len == 0)
		return stop(r, XLB_PEEK_BAD, "empty SNI list");
	if (list_len != left(r, end))
		return stop(r, XLB_PEEK_BAD, "bad server_name list");
	while (r->off < end) {
		if (!read_field(r, 1, end, &type, "bad server_name list") ||
		    !read_field(r, 2, end, &name_len, "bad server_name list"))
			return false;
		if (name_len > left(r, end))
			return stop(r, XLB_PEEK_BAD, "bad server_name list");
		if (type == TLS_NAME_TYPE_HOST_NAME) {
			if (!take_host_name(r, sni, name_len))
				return false;
		} else if (!read_bytes(r, NULL, name_len)) {
			return false;
		}
	}
	return true;
}

/* ---- extensions ------------------------------------------------------------------- */

/* One extension: u16 type, u16 length, data. Only server_name is read. */
static bool parse_extension(struct hs_reader *r, struct sni_out *sni, size_t end)
{
	uint32_t type, ext_len;

	if (!read_field(r, 2, end, &type, "extension overruns") ||
	    !read_field(r, 2, end, &ext_len, "extension overruns"))
		return false;
	if (ext_len > left(r, end))
		return stop(r, XLB_PEEK_BAD, "extension overruns");
	if (type == TLS_EXT_SERVER_NAME)
		return parse_server_name(r, sni, r->off + ext_len);
	return read_bytes(r, NULL, ext_len);
}

/* The extensions block must fill the rest of the ClientHello exactly. */
static bool parse_extensions(struct hs_reader *r, struct sni_out *sni, size_t end)
{
	uint32_t block;

	if (r->off == end)
		return true; /* no extensions at all: no SNI */
	if (!read_field(r, 2, end, &block, "bad extensions length"))
		return false;
	if (block != left(r, end))
		return stop(r, XLB_PEEK_BAD, "bad extensions length");
	while (r->off < end)
		if (!parse_extension(r, sni, end))
			return false;
	return true;
}

/* ---- ClientHello ------------------------------------------------------------------ */

/* A vector with a length prefix of prefix_len bytes, whose length must be
 * in [min, max] and a multiple of unit; skipped. */
static bool skip_vector(struct hs_reader *r, size_t end, size_t prefix_len, uint32_t min,
			uint32_t max, uint32_t unit, const char *why)
{
	uint32_t n;

	if (!read_field(r, prefix_len, end, &n, "ClientHello overruns"))
		return false;
	if (n < min || n > max || n % unit || n > left(r, end))
		return stop(r, XLB_PEEK_BAD, why);
	return read_bytes(r, NULL, n);
}

/* legacy_version, random, legacy_session_id, cipher_suites,
 * legacy_compression_methods: all checked, none kept. */
static bool skip_hello_fields(struct hs_reader *r, size_t end)
{
	uint32_t version;

	if (!read_field(r, 2, end, &version, "ClientHello overruns"))
		return false;
	if (version >> 8 != 3)
		return stop(r, XLB_PEEK_BAD, "bad ClientHello version");
	if (left(r, end) < TLS_RANDOM_LEN)
		return stop(r, XLB_PEEK_BAD, "ClientHello overruns");
	return read_bytes(r, NULL, TLS_RANDOM_LEN) &&
	       skip_vector(r, end, 1, 0, TLS_SESSION_ID_MAX, 1, "bad session id") &&
	       skip_vector(r, end, 2, 2, 0xfffe, 2, "bad cipher suites") &&
	       skip_vector(r, end, 1, 1, 0xff, 1, "bad compression methods");
}

static bool parse_client_hello(struct hs_reader *r, struct sni_out *sni)
{
	uint32_t type, len;
	size_t end;

	if (!read_uint(r, 1, &type))
		return false;
	if (type != TLS_HANDSHAKE_CLIENT_HELLO)
		return stop(r, XLB_PEEK_BAD, "not a ClientHello");
	if (!read_uint(r, 3, &len))
		return false;
	end = r->off + len;
	return skip_hello_fields(r, end) && parse_extensions(r, sni, end);
}

enum xlb_peek xlb_peek_tls(const uint8_t *buf, size_t len, char *sni, size_t sni_len,
			   const char **why)
{
	struct hs_reader r = { .buf = buf, .len = len, .status = XLB_PEEK_MORE };
	struct sni_out out = { .name = sni, .size = sni_len };

	*why = NULL;
	if (!parse_client_hello(&r, &out)) {
		*why = r.why;
		return r.status;
	}
	return out.found ? XLB_PEEK_OK : XLB_PEEK_NONE;
}

/* ---- pacing ----------------------------------------------------------------------- */

/* Looks at the record headers after p->next, and at the first four
 * handshake bytes (which announce the hello's length), wherever the
 * records put them: false when a record is not a handshake record. */
static bool walk_records(struct xlb_tls_pace *p, const uint8_t *buf, size_t len)
{
	while (p->next + TLS_RECORD_HEADER <= len) {
		const uint8_t *h = buf + p->next;
		size_t frag = (size_t)h[3] << 8 | h[4];

		if (h[0] != TLS_CONTENT_HANDSHAKE)
			return false;
		if (!p->need) {
			size_t take = frag < 4 - p->hdr_n ? frag : 4 - p->hdr_n;

			if (p->next + TLS_RECORD_HEADER + take > len)
				return true; /* this record again when they are in */
			memcpy(p->hdr + p->hdr_n, h + TLS_RECORD_HEADER, take);
			p->hdr_n += take;
			if (p->hdr_n == 4)
				p->need = 4 + ((size_t)p->hdr[1] << 16 | (size_t)p->hdr[2] << 8 |
					       p->hdr[3]);
		}
		p->have += frag;
		p->next += TLS_RECORD_HEADER + frag;
	}
	return true;
}

bool xlb_peek_tls_due(struct xlb_tls_pace *p, const uint8_t *buf, size_t len)
{
	bool due = !p->parsed || len >= 2 * p->parsed;

	if (!walk_records(p, buf, len))
		due = true;
	else if (p->need && p->have >= p->need && len >= p->next - (p->have - p->need))
		due = true; /* every byte of the hello is here */
	if (due)
		p->parsed = len;
	return due;
}
