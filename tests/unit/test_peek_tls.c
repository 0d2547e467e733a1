// SPDX-License-Identifier: GPL-2.0
/* The ClientHello peeker, on real ClientHellos captured from openssl,
 * curl and Chromium (tests/fuzz/capture_clienthello.sh wrote them into
 * tests/fuzz/corpus/tls/), and on hellos built here to break one layer at
 * a time. Every call gets a heap copy of exactly the bytes under test, so
 * ASan catches a read one byte too far. Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostmap.h"
#include "proxy/peek_tls.h"

#define CORPUS "tests/fuzz/corpus/tls/"
#define BUF_MAX 8192

struct bytes {
	uint8_t b[BUF_MAX];
	size_t n;
};

struct peeked {
	enum xlb_peek verdict;
	char sni[XLB_HOSTNAME_SIZE];
	const char *why;
};

static struct peeked peek_n(const uint8_t *buf, size_t n)
{
	struct peeked p = { 0 };
	uint8_t *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	memcpy(copy, buf, n);
	p.verdict = xlb_peek_tls(copy, n, p.sni, sizeof(p.sni), &p.why);
	free(copy);
	return p;
}

static struct peeked peek(const struct bytes *b)
{
	return peek_n(b->b, b->n);
}

static const char *verdict_name(enum xlb_peek v)
{
	switch (v) {
	case XLB_PEEK_MORE:
		return "MORE";
	case XLB_PEEK_OK:
		return "OK";
	case XLB_PEEK_BAD:
		return "BAD";
	case XLB_PEEK_NONE:
		return "NONE";
	}
	return "?";
}

static void assert_verdict(const struct peeked *p, enum xlb_peek want)
{
	if (p->verdict != want)
		fail_msg("%s (%s) instead of %s", verdict_name(p->verdict), p->why ? p->why : "-",
			 verdict_name(want));
}

static void assert_sni(const struct bytes *b, const char *sni)
{
	struct peeked p = peek(b);

	assert_verdict(&p, XLB_PEEK_OK);
	assert_null(p.why);
	assert_string_equal(p.sni, sni);
}

static void assert_bad(const struct bytes *b, const char *why)
{
	struct peeked p = peek(b);

	assert_verdict(&p, XLB_PEEK_BAD);
	assert_non_null(p.why);
	assert_string_equal(p.why, why);
}

static void assert_prefixes_more(const struct bytes *b)
{
	for (size_t n = 0; n < b->n; n++) {
		struct peeked p = peek_n(b->b, n);

		if (p.verdict != XLB_PEEK_MORE)
			fail_msg("prefix %zu of %zu: %s (%s)", n, b->n, verdict_name(p.verdict),
				 p.why ? p.why : "-");
	}
}

static void load(const char *name, struct bytes *b)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), CORPUS "%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	b->n = fread(b->b, 1, sizeof(b->b), f);
	assert_true(feof(f));
	fclose(f);
}

/* ---- building hellos ---------------------------------------------------------- */

static void put(struct bytes *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put_uint(struct bytes *b, uint32_t v, size_t width)
{
	for (size_t i = width; i-- > 0;) {
		uint8_t c = (uint8_t)(v >> (8 * i));

		put(b, &c, 1);
	}
}

static void set_uint(struct bytes *b, size_t at, uint32_t v, size_t width)
{
	for (size_t i = 0; i < width; i++)
		b->b[at + i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

/* Opens a length-prefixed vector; close_vec fills in its length. */
static size_t open_vec(struct bytes *b, size_t width)
{
	put_uint(b, 0, width);
	return b->n;
}

static void close_vec(struct bytes *b, size_t start, size_t width)
{
	set_uint(b, start - width, (uint32_t)(b->n - start), width);
}

/* Where each length of a built hello is, to break it in a test. */
struct layout {
	size_t record_len;	  /* u16 */
	size_t hs_type;		  /* u8 */
	size_t hs_len;		  /* u24 */
	size_t version;		  /* u16 */
	size_t session_id_len;	  /* u8 */
	size_t cipher_suites_len; /* u16 */
	size_t compression_len;	  /* u8 */
	size_t extensions_len;	  /* u16 */
	size_t sni_ext_len;	  /* u16 */
	size_t sni_list_len;	  /* u16 */
	size_t sni_name_len;	  /* u16 */
};

static void put_extension(struct bytes *b, uint16_t type, const void *data, size_t n)
{
	put_uint(b, type, 2);
	put_uint(b, (uint32_t)n, 2);
	put(b, data, n);
}

static void put_sni(struct bytes *b, const char *name, struct layout *l)
{
	size_t ext, list;

	put_uint(b, 0, 2); /* server_name */
	ext = open_vec(b, 2);
	list = open_vec(b, 2);
	put_uint(b, 0, 1); /* host_name */
	l->sni_name_len = b->n;
	put_uint(b, (uint32_t)strlen(name), 2);
	put(b, name, strlen(name));
	close_vec(b, list, 2);
	close_vec(b, ext, 2);
	l->sni_ext_len = ext - 2;
	l->sni_list_len = list - 2;
}

/* The hello body up to the extensions (TLS 1.3 shaped). */
static void put_hello_fields(struct bytes *b, struct layout *l)
{
	static const uint8_t suites[] = { 0x13, 0x01, 0x13, 0x02, 0x13, 0x03 };
	uint8_t random[32], session[32];

	memset(random, 0xa5, sizeof(random));
	memset(session, 0x5a, sizeof(session));
	l->version = b->n;
	put_uint(b, 0x0303, 2);
	put(b, random, sizeof(random));
	l->session_id_len = b->n;
	put_uint(b, sizeof(session), 1);
	put(b, session, sizeof(session));
	l->cipher_suites_len = b->n;
	put_uint(b, sizeof(suites), 2);
	put(b, suites, sizeof(suites));
	l->compression_len = b->n;
	put_uint(b, 1, 1);
	put_uint(b, 0, 1);
}

/* One record, one ClientHello: supported_versions, then server_name for
 * sni (none when NULL), then supported_groups. */
static void build_hello(struct bytes *b, const char *sni, struct layout *l)
{
	static const uint8_t versions[] = { 0x02, 0x03, 0x04 };
	static const uint8_t groups[] = { 0x00, 0x04, 0x00, 0x1d, 0x11, 0xec };
	size_t record, hs, exts;

	memset(l, 0, sizeof(*l));
	b->n = 0;
	put_uint(b, 22, 1);
	put_uint(b, 0x0301, 2);
	record = open_vec(b, 2);
	l->record_len = record - 2;
	l->hs_type = b->n;
	put_uint(b, 1, 1);
	hs = open_vec(b, 3);
	l->hs_len = hs - 3;
	put_hello_fields(b, l);
	exts = open_vec(b, 2);
	l->extensions_len = exts - 2;
	put_extension(b, 0x002b, versions, sizeof(versions));
	if (sni)
		put_sni(b, sni, l);
	put_extension(b, 0x000a, groups, sizeof(groups));
	close_vec(b, exts, 2);
	close_vec(b, hs, 3);
	close_vec(b, record, 2);
}

/* Re-frames the handshake bytes of the records in in as records of at
 * most frag bytes each. */
static void reframe(const struct bytes *in, size_t frag, struct bytes *out)
{
	struct bytes hs = { .n = 0 };

	for (size_t pos = 0; pos + 5 <= in->n;) {
		size_t len = (size_t)in->b[pos + 3] << 8 | in->b[pos + 4];

		assert_true(pos + 5 + len <= in->n);
		put(&hs, in->b + pos + 5, len);
		pos += 5 + len;
	}
	out->n = 0;
	for (size_t pos = 0; pos < hs.n; pos += frag) {
		size_t len = hs.n - pos < frag ? hs.n - pos : frag;

		put_uint(out, 22, 1);
		put_uint(out, 0x0301, 2);
		put_uint(out, (uint32_t)len, 2);
		put(out, hs.b + pos, len);
	}
}

/* ---- real ClientHellos ---------------------------------------------------------- */

static void test_captured_hellos(void **state)
{
	static const struct {
		const char *file, *sni;
	} cases[] = {
		{ "openssl_sni.bin", "api.app.dev" },
		{ "openssl_tls12.bin", "api.app.dev" },
		{ "curl_sni.bin", "app.app.dev" },
		{ "chromium_pq.bin", "pq.app.dev" },
	};
	struct bytes b;
	struct peeked p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(cases[i].file, &b);
		assert_sni(&b, cases[i].sni);
	}
	load("openssl_nosni.bin", &b);
	p = peek(&b);
	assert_verdict(&p, XLB_PEEK_NONE);
	assert_null(p.why);
}

static void test_captured_prefixes_are_more(void **state)
{
	static const char *const files[] = {
		"openssl_sni.bin", "openssl_nosni.bin", "openssl_tls12.bin",
		"curl_sni.bin",	   "chromium_pq.bin",
	};
	struct bytes b;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		load(files[i], &b);
		assert_prefixes_more(&b);
	}
}

/* Is the 2-byte group with a key share of key_len bytes in b? */
static bool has_key_share(const struct bytes *b, uint16_t group, uint16_t key_len)
{
	const uint8_t want[] = { group >> 8, group & 0xff, key_len >> 8, key_len & 0xff };

	for (size_t i = 0; i + sizeof(want) <= b->n; i++)
		if (memcmp(b->b + i, want, sizeof(want)) == 0)
			return true;
	return false;
}

/* X25519MLKEM768 makes the hello larger than one 1448-byte TCP segment
 * (a 1500-byte MTU with timestamps): the first segment is MORE. */
static void test_post_quantum_over_two_segments(void **state)
{
	struct bytes b;
	struct peeked p;

	(void)state;
	load("chromium_pq.bin", &b);
	assert_true(has_key_share(&b, 0x11ec, 1216));
	assert_true(b.n > 1448);
	p = peek_n(b.b, 1448);
	assert_verdict(&p, XLB_PEEK_MORE);
	p = peek_n(b.b, b.n);
	assert_verdict(&p, XLB_PEEK_OK);
	assert_string_equal(p.sni, "pq.app.dev");
}

/* The same hello in 2 records, in records of 100 and of 1 byte, and with
 * the next record already behind it. */
static void test_records(void **state)
{
	static const uint8_t ccs[] = { 20, 0x03, 0x03, 0x00, 0x01, 0x01 };
	struct bytes b, split;

	(void)state;
	load("chromium_pq.bin", &b);
	reframe(&b, (b.n - 5 + 1) / 2, &split);
	assert_int_equal(split.n, b.n + 5);
	assert_sni(&split, "pq.app.dev");
	assert_prefixes_more(&split);
	reframe(&b, 100, &split);
	assert_sni(&split, "pq.app.dev");
	load("curl_sni.bin", &b);
	reframe(&b, 1, &split);
	assert_sni(&split, "app.app.dev");
	put(&b, ccs, sizeof(ccs));
	assert_sni(&b, "app.app.dev");
}

/* The other seeds of the fuzz corpus: each is what its name says. */
static void test_corpus_seeds(void **state)
{
	static const struct {
		const char *file, *sni, *why;
	} cases[] = {
		{ "split_two_records_pq.bin", "pq.app.dev", NULL },
		{ "split_small_records_curl.bin", "app.app.dev", NULL },
		{ "trailing_ccs_curl.bin", "app.app.dev", NULL },
		{ "bad_sslv2_hello.bin", NULL, "SSLv2 hello" },
		{ "bad_http_on_tls.bin", NULL, "not a handshake record" },
		{ "bad_record_length.bin", NULL, "bad record length" },
		{ "bad_handshake_length.bin", NULL, "bad session id" },
		{ "bad_extension_overruns.bin", NULL, "extension overruns" },
		{ "bad_sni_list_empty.bin", NULL, "empty SNI list" },
	};
	struct bytes b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(cases[i].file, &b);
		if (cases[i].sni)
			assert_sni(&b, cases[i].sni);
		else
			assert_bad(&b, cases[i].why);
	}
}

/* ---- built hellos --------------------------------------------------------------- */

static void test_nothing_yet(void **state)
{
	char sni[XLB_HOSTNAME_SIZE];
	const char *why = "unset";

	(void)state;
	assert_int_equal(xlb_peek_tls(NULL, 0, sni, sizeof(sni), &why), XLB_PEEK_MORE);
	assert_null(why);
}

static void test_built_hello(void **state)
{
	struct layout l;
	struct bytes b, split;
	struct peeked p;

	(void)state;
	build_hello(&b, "API.App.Dev", &l);
	assert_sni(&b, "api.app.dev");
	assert_prefixes_more(&b);
	reframe(&b, 40, &split);
	assert_sni(&split, "api.app.dev");
	assert_prefixes_more(&split);
	build_hello(&b, NULL, &l);
	p = peek(&b);
	assert_verdict(&p, XLB_PEEK_NONE);
}

static void test_no_extensions(void **state)
{
	struct layout l;
	struct bytes b;
	struct peeked p;
	size_t record, hs;

	(void)state;
	b.n = 0;
	put_uint(&b, 22, 1);
	put_uint(&b, 0x0301, 2);
	record = open_vec(&b, 2);
	put_uint(&b, 1, 1);
	hs = open_vec(&b, 3);
	put_hello_fields(&b, &l);
	close_vec(&b, hs, 3);
	close_vec(&b, record, 2);
	p = peek(&b);
	assert_verdict(&p, XLB_PEEK_NONE);
	assert_prefixes_more(&b);
}

static void test_bad_records(void **state)
{
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15 };
	static const char http[] = "GET / HTTP/1.1\r\n";
	struct layout l;
	struct bytes b, split;

	(void)state;
	b.n = 0;
	put(&b, sslv2, sizeof(sslv2));
	assert_bad(&b, "SSLv2 hello");
	b.n = 1;
	assert_bad(&b, "SSLv2 hello"); /* from the first byte */
	b.n = 0;
	put(&b, http, 1);
	assert_bad(&b, "not a handshake record");

	build_hello(&b, "api.app.dev", &l);
	b.b[0] = 23; /* application data */
	assert_bad(&b, "not a handshake record");
	b.b[0] = 21; /* alert */
	assert_bad(&b, "not a handshake record");
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, 1, 0x0300, 2);
	assert_bad(&b, "bad record version");
	set_uint(&b, 1, 0x0305, 2);
	assert_bad(&b, "bad record version");
	set_uint(&b, 1, 0x0201, 2);
	assert_bad(&b, "bad record version");
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.record_len, 0, 2);
	assert_bad(&b, "bad record length");
	set_uint(&b, l.record_len, XLB_TLS_RECORD_MAX + 1, 2);
	assert_bad(&b, "bad record length");

	/* the second record of a split hello is not a handshake record */
	build_hello(&b, "api.app.dev", &l);
	reframe(&b, 60, &split);
	split.b[65] = 23;
	assert_bad(&split, "not a handshake record");
	split.b[65] = 0x80; /* SSLv2 is a shape of the first record only */
	assert_bad(&split, "not a handshake record");
	split.b[65] = 22;
	split.b[68] = 0;
	split.b[69] = 0;
	assert_bad(&split, "bad record length");
}

static void test_bad_handshake(void **state)
{
	struct layout l;
	struct bytes b;

	(void)state;
	build_hello(&b, "api.app.dev", &l);
	b.b[l.hs_type] = 2; /* ServerHello */
	assert_bad(&b, "not a ClientHello");

	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.hs_len, 20, 3); /* ends inside random */
	assert_bad(&b, "ClientHello overruns");
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.hs_len, 2 + 32 + 1 + 32 + 1, 3); /* ends inside cipher_suites' length */
	assert_bad(&b, "ClientHello overruns");

	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.version, 0x0203, 2);
	assert_bad(&b, "bad ClientHello version");

	build_hello(&b, "api.app.dev", &l);
	b.b[l.session_id_len] = 33;
	assert_bad(&b, "bad session id");

	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.cipher_suites_len, 5, 2);
	assert_bad(&b, "bad cipher suites");
	set_uint(&b, l.cipher_suites_len, 0, 2);
	assert_bad(&b, "bad cipher suites");
	set_uint(&b, l.cipher_suites_len, 0xfffe, 2);
	assert_bad(&b, "bad cipher suites");

	build_hello(&b, "api.app.dev", &l);
	b.b[l.compression_len] = 0;
	assert_bad(&b, "bad compression methods");
	b.b[l.compression_len] = 0xff;
	assert_bad(&b, "bad compression methods");
}

static void test_bad_extensions(void **state)
{
	struct layout l;
	struct bytes b;
	uint32_t ext_len;

	(void)state;
	build_hello(&b, "api.app.dev", &l);
	ext_len = (uint32_t)b.b[l.extensions_len] << 8 | b.b[l.extensions_len + 1];
	set_uint(&b, l.extensions_len, ext_len + 1, 2);
	assert_bad(&b, "bad extensions length");
	set_uint(&b, l.extensions_len, ext_len - 1, 2);
	assert_bad(&b, "bad extensions length");

	/* a handshake length one longer than its content */
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.hs_len, (uint32_t)(b.n - l.hs_len - 3 + 1), 3);
	assert_bad(&b, "bad extensions length");

	/* the server_name extension runs past the block */
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.sni_ext_len, 0x100, 2);
	assert_bad(&b, "extension overruns");

	/* an extension header cut by the block's end */
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.extensions_len, ext_len + 3, 2);
	set_uint(&b, l.hs_len, (uint32_t)(b.n - l.hs_len - 3 + 3), 3);
	set_uint(&b, l.record_len, (uint32_t)(b.n - l.record_len - 2 + 3), 2);
	put_uint(&b, 0x002d, 2);
	put_uint(&b, 0, 1);
	assert_bad(&b, "extension overruns");
}

static void test_bad_server_name(void **state)
{
	struct layout l;
	struct bytes b;

	(void)state;
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.sni_list_len, 0, 2);
	assert_bad(&b, "empty SNI list");
	set_uint(&b, l.sni_list_len, 3, 2);
	assert_bad(&b, "bad server_name list");
	build_hello(&b, "api.app.dev", &l);
	set_uint(&b, l.sni_name_len, 12, 2);
	assert_bad(&b, "bad server_name list");
	set_uint(&b, l.sni_name_len, 10, 2); /* leaves one byte: a short entry */
	assert_bad(&b, "bad server_name list");

	build_hello(&b, "", &l);
	assert_bad(&b, "bad SNI");
	build_hello(&b, "api_app.dev", &l);
	assert_bad(&b, "bad SNI");
	build_hello(&b, "api.app.dev.", &l);
	assert_bad(&b, "bad SNI");
	build_hello(&b, "10.0.0.1:443", &l);
	assert_bad(&b, "bad SNI");
}

static void test_server_name_entries(void **state)
{
	struct layout l;
	struct bytes b;
	struct peeked p;
	size_t ext, list, record, hs, exts;

	(void)state;
	/* [unknown type 7 "x"], [host_name "api.app.dev"], [host_name "b.dev"] */
	for (int names = 0; names <= 2; names++) {
		b.n = 0;
		put_uint(&b, 22, 1);
		put_uint(&b, 0x0301, 2);
		record = open_vec(&b, 2);
		put_uint(&b, 1, 1);
		hs = open_vec(&b, 3);
		put_hello_fields(&b, &l);
		exts = open_vec(&b, 2);
		put_uint(&b, 0, 2);
		ext = open_vec(&b, 2);
		list = open_vec(&b, 2);
		put_uint(&b, 7, 1);
		put_uint(&b, 1, 2);
		put(&b, "x", 1);
		if (names >= 1) {
			put_uint(&b, 0, 1);
			put_uint(&b, 11, 2);
			put(&b, "api.app.dev", 11);
		}
		if (names >= 2) {
			put_uint(&b, 0, 1);
			put_uint(&b, 5, 2);
			put(&b, "b.dev", 5);
		}
		close_vec(&b, list, 2);
		close_vec(&b, ext, 2);
		close_vec(&b, exts, 2);
		close_vec(&b, hs, 3);
		close_vec(&b, record, 2);
		p = peek(&b);
		if (names == 0)
			assert_verdict(&p, XLB_PEEK_NONE);
		else if (names == 1)
			assert_sni(&b, "api.app.dev");
		else
			assert_bad(&b, "bad server_name list");
	}
}

static void test_two_server_name_extensions(void **state)
{
	struct layout l;
	struct bytes b;
	size_t record, hs, exts;

	(void)state;
	b.n = 0;
	put_uint(&b, 22, 1);
	put_uint(&b, 0x0301, 2);
	record = open_vec(&b, 2);
	put_uint(&b, 1, 1);
	hs = open_vec(&b, 3);
	put_hello_fields(&b, &l);
	exts = open_vec(&b, 2);
	put_sni(&b, "api.app.dev", &l);
	put_sni(&b, "app.app.dev", &l);
	close_vec(&b, exts, 2);
	close_vec(&b, hs, 3);
	close_vec(&b, record, 2);
	assert_bad(&b, "two server_name extensions");
}

/* A name too long for a DNS name, and one too long for the buffer. */
static void test_long_names(void **state)
{
	char name[300];
	struct layout l;
	struct bytes b;
	struct peeked p;
	char small[8];

	(void)state;
	memset(name, 'a', sizeof(name));
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	build_hello(&b, name, &l);
	assert_sni(&b, name);
	name[253] = 'a';
	name[254] = '\0';
	build_hello(&b, name, &l);
	assert_bad(&b, "bad SNI");

	build_hello(&b, "api.app.dev", &l);
	p.verdict = xlb_peek_tls(b.b, b.n, small, sizeof(small), &p.why);
	assert_verdict(&p, XLB_PEEK_BAD);
	assert_string_equal(p.why, "bad SNI");
}

/* ---- pacing ---------------------------------------------------------------------- */

/* Feeds b a byte at a time as the proxy would (parsing only when due):
 * the verdict comes with the last byte, as without pacing, and the
 * number of parses grows with log2 of the size, not with the size. */
static void assert_paced(const struct bytes *b, const char *sni)
{
	struct xlb_tls_pace pace = { 0 };
	size_t parses = 0, bound = 2;
	struct peeked p = { .verdict = XLB_PEEK_MORE };

	for (size_t n = b->n; n > 1; n /= 2)
		bound++;
	for (size_t n = 1; n <= b->n; n++) {
		if (!xlb_peek_tls_due(&pace, b->b, n))
			continue;
		parses++;
		p = peek_n(b->b, n);
		if (p.verdict != XLB_PEEK_MORE && n < b->n)
			fail_msg("a verdict at %zu of %zu", n, b->n);
	}
	assert_verdict(&p, XLB_PEEK_OK);
	assert_string_equal(p.sni, sni);
	if (parses > bound)
		fail_msg("%zu parses for %zu bytes (at most %zu)", parses, b->n, bound);
}

static void test_paced_hellos(void **state)
{
	struct bytes b, split;

	(void)state;
	load("chromium_pq.bin", &b);
	assert_paced(&b, "pq.app.dev");
	reframe(&b, 100, &split);
	assert_paced(&split, "pq.app.dev");
	load("curl_sni.bin", &b);
	assert_paced(&b, "app.app.dev");
	/* the handshake header itself split over records of one byte */
	reframe(&b, 1, &split);
	assert_paced(&split, "app.app.dev");
}

/* Not a handshake record: a parse is due at once (the parser refuses). */
static void test_paced_not_tls(void **state)
{
	static const uint8_t get[] = "GET / HTTP/1.1\r\n";
	struct xlb_tls_pace pace = { 0 };

	(void)state;
	assert_true(xlb_peek_tls_due(&pace, get, 1));
	assert_true(xlb_peek_tls_due(&pace, get, 5));
	assert_true(xlb_peek_tls_due(&pace, get, 6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured_hellos),
		cmocka_unit_test(test_captured_prefixes_are_more),
		cmocka_unit_test(test_post_quantum_over_two_segments),
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_corpus_seeds),
		cmocka_unit_test(test_nothing_yet),
		cmocka_unit_test(test_built_hello),
		cmocka_unit_test(test_no_extensions),
		cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_bad_handshake),
		cmocka_unit_test(test_bad_extensions),
		cmocka_unit_test(test_bad_server_name),
		cmocka_unit_test(test_server_name_entries),
		cmocka_unit_test(test_two_server_name_extensions),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_paced_hellos),
		cmocka_unit_test(test_paced_not_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
