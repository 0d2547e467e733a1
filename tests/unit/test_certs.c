// SPDX-License-Identifier: GPL-2.0
/* The certificate store and the server TLS context, judged as a client
 * sees them: every test builds its certificates with OpenSSL into a
 * fresh directory (a local CA, names of their own, a wildcard, a
 * default, and broken ones), opens a store on it, and shakes hands in
 * memory over a BIO pair to see which certificate the client receives,
 * with which protocol version and ALPN. The store's log lines are read
 * back from stderr where a user would read them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "tls/cert.h"
#include "tls/certs.h"
#include "tls/server.h"
#include "tls/sni.h"

#define DAY (24 * 3600L)

struct pki {
	EVP_PKEY *ca_key;
	X509 *ca;
};

/* what one test works on: the directory, its store and what it logged */
struct fixture {
	char dir[64];
	struct xlb_tls_server *srv;
	struct xlb_certs *store;
	SSL_CTX *front;
	char *open_log; /* what opening the store logged */
	time_t wild_not_after;
};

static struct pki pki;

/* --- making certificates ---------------------------------------------------- */

struct leaf_spec {
	const char *cn;
	const char *san; /* "DNS:a,DNS:b", or NULL */
	long serial;
	long from, to; /* seconds from now */
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static X509 *cert_make(EVP_PKEY *key, const struct leaf_spec *spec, X509 *issuer,
		       EVP_PKEY *issuer_key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), spec->serial);
	X509_gmtime_adj(X509_getm_notBefore(x), spec->from);
	X509_gmtime_adj(X509_getm_notAfter(x), spec->to);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)spec->cn, -1,
				   -1, 0);
	X509_set_subject_name(x, name);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509_NAME_free(name);
	if (!issuer)
		add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE");
	if (spec->san)
		add_ext(x, issuer, NID_subject_alt_name, spec->san);
	assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static char *bio_text(BIO *bio)
{
	char *data;
	long n = BIO_get_mem_data(bio, &data);
	char *s = malloc((size_t)n + 1);

	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(bio);
	return s;
}

/* the leaf, then the CA: a chain as a CA hands it out */
static char *chain_pem(X509 *leaf)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_X509(bio, leaf), 1);
	assert_int_equal(PEM_write_bio_X509(bio, pki.ca), 1);
	return bio_text(bio);
}

static char *key_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());

	assert_int_equal(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL), 1);
	return bio_text(bio);
}

/* As renewal tools do: a temporary file renamed over the old one. */
static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(tmp, mode), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static void remove_file(const char *dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
}

static time_t unix_of(const ASN1_TIME *t)
{
	struct tm tm;

	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return timegm(&tm);
}

enum layout { CRT_KEY, PEM_ONE, KEY_OF_OTHER };

/* Writes NAME.crt + NAME.key (or NAME.pem) for a new key; returns the
 * certificate's not-after. */
static time_t write_pair(const char *dir, const char *stem, const struct leaf_spec *spec,
			 enum layout layout, mode_t key_mode)
{
	EVP_PKEY *key = EVP_EC_gen("P-256"), *other = NULL;
	X509 *leaf = cert_make(key, spec, pki.ca, pki.ca_key);
	char *crt = chain_pem(leaf), *k, name[128];
	time_t not_after = unix_of(X509_get0_notAfter(leaf));

	if (layout == KEY_OF_OTHER)
		other = EVP_EC_gen("P-256");
	k = key_pem(other ? other : key);
	if (layout == PEM_ONE) {
		char *both = malloc(strlen(crt) + strlen(k) + 1);

		assert_non_null(both);
		strcpy(both, crt);
		strcat(both, k);
		snprintf(name, sizeof(name), "%s.pem", stem);
		write_file(dir, name, both, key_mode);
		free(both);
	} else {
		snprintf(name, sizeof(name), "%s.crt", stem);
		write_file(dir, name, crt, 0644);
		snprintf(name, sizeof(name), "%s.key", stem);
		write_file(dir, name, k, key_mode);
	}
	free(crt);
	free(k);
	X509_free(leaf);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return not_after;
}

/* PEM text of a chain and its key, as ACME brings it; key first, as
 * dockercloud-haproxy's SSL_CERT has it */
static char *pair_text_ordered(const struct leaf_spec *spec, bool key_first)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *leaf = cert_make(key, spec, pki.ca, pki.ca_key);
	char *crt = chain_pem(leaf), *k = key_pem(key);
	char *both = malloc(strlen(crt) + strlen(k) + 1);

	assert_non_null(both);
	strcpy(both, key_first ? k : crt);
	strcat(both, key_first ? crt : k);
	free(crt);
	free(k);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return both;
}

static char *pair_text(const struct leaf_spec *spec)
{
	return pair_text_ordered(spec, false);
}

/* --- reading what was logged ------------------------------------------------ */

struct capture {
	FILE *f;
	int saved;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->f = tmpfile();
	assert_non_null(c->f);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(fileno(c->f), STDERR_FILENO) >= 0);
}

/* what was logged since capture_start */
static char *capture_end(struct capture *c)
{
	long n;
	char *s;

	fflush(stderr);
	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	n = ftell(c->f);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	rewind(c->f);
	assert_int_equal(fread(s, 1, (size_t)n, c->f), (size_t)n);
	fclose(c->f);
	return s;
}

/* lines of log holding every one of the NULL-terminated needles */
static int lines_with(const char *log, ...)
{
	int count = 0;

	for (const char *line = log; *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char *copy = strndup(line, len);
		bool all = true;
		va_list ap;

		va_start(ap, log);
		for (const char *n = va_arg(ap, const char *); n; n = va_arg(ap, const char *))
			all = all && strstr(copy, n);
		va_end(ap);
		count += all;
		free(copy);
		line += len + (end ? 1 : 0);
	}
	return count;
}

/* --- a handshake in memory ------------------------------------------------------ */

struct client_opts {
	const char *sni;
	const char *alpn; /* wire form */
	int max_version;  /* 0: any */
	SSL_SESSION *resume;
};

struct handshake {
	bool ok;
	char serial[XLB_TLS_SERIAL_LEN]; /* of the certificate the client got */
	long verify;			 /* the client's verdict on it */
	int version;
	char alpn[32];
	char cipher[64];
	int alert; /* the fatal alert the client received, or -1 */
	bool reused;
	SSL_SESSION *session;
};

static void on_client_info(const SSL *ssl, int where, int ret)
{
	struct handshake *h = SSL_get_app_data(ssl);

	if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && (ret >> 8) == SSL3_AL_FATAL)
		h->alert = ret & 0xff;
}

static SSL *client_new(const struct client_opts *o, struct handshake *h)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *c;

	assert_non_null(ctx);
	X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), pki.ca);
	if (o->max_version) {
		/* an old client: let it offer what OpenSSL 3 no longer does */
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, o->max_version);
	}
	c = SSL_new(ctx);
	SSL_CTX_free(ctx);
	assert_non_null(c);
	SSL_set_app_data(c, h);
	SSL_set_info_callback(c, on_client_info);
	if (o->sni) {
		SSL_set_tlsext_host_name(c, o->sni);
		SSL_set1_host(c, o->sni);
	}
	if (o->alpn)
		assert_int_equal(SSL_set_alpn_protos(c, (const unsigned char *)o->alpn,
						     (unsigned)strlen(o->alpn)),
				 0);
	if (o->resume)
		SSL_set_session(c, o->resume);
	SSL_set_connect_state(c);
	return c;
}

/* One step of one side: 1 done, -1 failed, 0 waiting for the other. */
static int step(SSL *ssl, int state)
{
	int r, e;

	if (state)
		return state;
	r = SSL_do_handshake(ssl);
	if (r == 1)
		return 1;
	e = SSL_get_error(ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void handshake_read_result(SSL *c, struct handshake *h)
{
	X509 *peer = SSL_get1_peer_certificate(c);
	const unsigned char *alpn;
	unsigned alpn_len;
	char byte;

	/* TLS 1.3 tickets come after the handshake */
	SSL_read(c, &byte, 1);
	if (peer) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), NULL);
		char *hex = BN_bn2hex(bn);

		snprintf(h->serial, sizeof(h->serial), "%s", hex);
		OPENSSL_free(hex);
		BN_free(bn);
		X509_free(peer);
	}
	h->verify = SSL_get_verify_result(c);
	h->version = SSL_version(c);
	SSL_get0_alpn_selected(c, &alpn, &alpn_len);
	snprintf(h->alpn, sizeof(h->alpn), "%.*s", (int)alpn_len, (const char *)alpn);
	snprintf(h->cipher, sizeof(h->cipher), "%s", SSL_get_cipher_name(c));
	h->reused = SSL_session_reused(c);
	h->session = SSL_get1_session(c);
}

static struct handshake handshake_with(SSL_CTX *server_ctx, const struct client_opts *o)
{
	struct handshake h = { .alert = -1 };
	SSL *c = client_new(o, &h), *s = SSL_new(server_ctx);
	BIO *cb, *sb;
	int cs = 0, ss = 0;

	assert_non_null(s);
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_accept_state(s);
	for (int i = 0; i < 64 && !(cs && ss); i++) {
		cs = step(c, cs);
		ss = step(s, ss);
	}
	h.ok = cs == 1 && ss == 1;
	if (h.ok) {
		handshake_read_result(c, &h);
		/* a connection freed unclosed spoils its session for resumption */
		SSL_shutdown(c);
	}
	ERR_clear_error();
	SSL_free(c);
	SSL_free(s);
	return h;
}

static struct handshake handshake(struct fixture *f, const char *sni)
{
	struct client_opts o = { .sni = sni, .alpn = "\x08http/1.1" };

	return handshake_with(f->front, &o);
}

/* the serial of the certificate a client asking for sni receives */
static const char *served(struct fixture *f, const char *sni)
{
	static char serial[XLB_TLS_SERIAL_LEN];
	struct handshake h = handshake(f, sni);

	snprintf(serial, sizeof(serial), "%s", h.ok ? h.serial : "refused");
	SSL_SESSION_free(h.session);
	return serial;
}

/* --- fixtures ----------------------------------------------------------------- */

static int pki_setup(void **state)
{
	struct leaf_spec ca = { "xlb test CA", NULL, 1, -DAY, 365 * DAY };

	(void)state;
	pki.ca_key = EVP_EC_gen("P-256");
	pki.ca = cert_make(pki.ca_key, &ca, NULL, NULL);
	return 0;
}

static int pki_teardown(void **state)
{
	(void)state;
	X509_free(pki.ca);
	EVP_PKEY_free(pki.ca_key);
	return 0;
}

static const struct leaf_spec spec_a = { "a.test", "DNS:a.test", 0xA1, -DAY, 90 * DAY };
static const struct leaf_spec spec_b = { "b.test", "DNS:b.test,DNS:www.b.test", 0xB1, -DAY,
					 90 * DAY };
static const struct leaf_spec spec_wild = { "example.com", "DNS:*.example.com", 0xC1, -DAY,
					    10 * DAY };
/* no subjectAltName: indexed by its CN */
static const struct leaf_spec spec_default = { "cn-only.test", NULL, 0xD1, -DAY, 90 * DAY };
static const struct leaf_spec spec_expired = { "expired.test", "DNS:expired.test", 0xE1, -10 * DAY,
					       -DAY };
static const struct leaf_spec spec_notyet = { "notyet.test", "DNS:notyet.test", 0xE2, DAY,
					      10 * DAY };
static const struct leaf_spec spec_mismatch = { "mismatch.test", "DNS:mismatch.test", 0xE3, -DAY,
						90 * DAY };
static const struct leaf_spec spec_open = { "open.test", "DNS:open.test", 0xF1, -DAY, 90 * DAY };

static void write_fixture_dir(struct fixture *f)
{
	write_pair(f->dir, "a.test", &spec_a, CRT_KEY, 0600);
	write_pair(f->dir, "b.test", &spec_b, PEM_ONE, 0600);
	f->wild_not_after = write_pair(f->dir, "example.com", &spec_wild, CRT_KEY, 0600);
	write_pair(f->dir, "default", &spec_default, CRT_KEY, 0600);
	write_pair(f->dir, "expired.test", &spec_expired, CRT_KEY, 0600);
	write_pair(f->dir, "notyet.test", &spec_notyet, CRT_KEY, 0600);
	write_pair(f->dir, "mismatch.test", &spec_mismatch, KEY_OF_OTHER, 0600);
	write_pair(f->dir, "open.test", &spec_open, CRT_KEY, 0644);
	/* files nginx-proxy keeps beside the pairs: not certificates to load */
	write_file(f->dir, "dhparam.pem", "-----BEGIN DH PARAMETERS-----\n", 0644);
	write_file(f->dir, "b.test.chain.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
}

static int store_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct capture cap;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/xlb-test-certs.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	write_fixture_dir(f);
	assert_int_equal(xlb_tls_server_new(NULL, &f->srv), 0);
	capture_start(&cap);
	assert_int_equal(xlb_certs_new(f->srv, f->dir, &f->store), 0);
	f->open_log = capture_end(&cap);
	f->front = xlb_tls_sni_ctx_new(f->srv, f->store);
	assert_non_null(f->front);
	*state = f;
	return 0;
}

static void dir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			remove_file(dir, de->d_name);
	closedir(d);
	assert_int_equal(rmdir(dir), 0);
}

static int store_teardown(void **state)
{
	struct fixture *f = *state;

	SSL_CTX_free(f->front);
	xlb_certs_free(f->store);
	xlb_tls_server_put(f->srv);
	dir_remove(f->dir);
	free(f->open_log);
	free(f);
	return 0;
}

/* The watch reports the change, and the rescan it calls for is what a
 * daemon runs; the log of the rescan is returned. */
static char *rescan_after_change(struct fixture *f, int want_changed)
{
	struct pollfd pfd = { .fd = xlb_certs_watch_fd(f->store), .events = POLLIN };
	struct capture cap;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_true(xlb_certs_watch_drain(f->store) > 0);
	capture_start(&cap);
	assert_int_equal(xlb_certs_rescan(f->store), want_changed);
	return capture_end(&cap);
}

/* --- selection by SNI ------------------------------------------------------------ */

static void test_exact_names(void **state)
{
	struct fixture *f = *state;
	struct handshake h = handshake(f, "a.test");

	assert_true(h.ok);
	assert_string_equal(h.serial, "A1");
	assert_int_equal(h.verify, X509_V_OK); /* valid for the name asked */
	SSL_SESSION_free(h.session);
	/* NAME.pem holding both, every name of its subjectAltName */
	assert_string_equal(served(f, "b.test"), "B1");
	assert_string_equal(served(f, "www.b.test"), "B1");
	/* a key readable by others is warned about, not refused */
	assert_string_equal(served(f, "open.test"), "F1");
}

static void test_names_ignore_case(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(served(f, "A.TEST"), "A1");
	assert_string_equal(served(f, "Www.B.Test"), "B1");
	assert_string_equal(served(f, "X.Example.COM"), "C1");
	assert_ptr_equal(xlb_certs_pick(f->store, "a.test."), xlb_certs_pick(f->store, "a.test"));
}

static void test_wildcard_one_label(void **state)
{
	struct fixture *f = *state;
	struct handshake h = handshake(f, "shop.example.com");

	assert_true(h.ok);
	assert_string_equal(h.serial, "C1");
	assert_int_equal(h.verify, X509_V_OK);
	SSL_SESSION_free(h.session);
	/* neither two labels deep nor the bare domain: the default */
	assert_string_equal(served(f, "a.b.example.com"), "D1");
	assert_string_equal(served(f, "example.com"), "D1");
}

static void test_default_for_unknown_and_no_sni(void **state)
{
	struct fixture *f = *state;

	assert_string_equal(served(f, "unknown.test"), "D1");
	assert_string_equal(served(f, NULL), "D1");
	/* the default has no subjectAltName: its CN is its name */
	assert_string_equal(served(f, "cn-only.test"), "D1");
}

static void test_no_default_is_unrecognized_name(void **state)
{
	struct fixture *f = *state;
	struct handshake h;
	char *log;

	remove_file(f->dir, "default.crt");
	remove_file(f->dir, "default.key");
	log = rescan_after_change(f, 1);
	assert_int_equal(lines_with(log, "event=cert_removed", "default.crt", NULL), 1);
	free(log);
	h = handshake(f, "unknown.test");
	assert_false(h.ok);
	assert_int_equal(h.alert, SSL_AD_UNRECOGNIZED_NAME);
	assert_null(xlb_certs_pick(f->store, "unknown.test"));
	assert_string_equal(served(f, "a.test"), "A1");
}

/* --- refused files ----------------------------------------------------------------- */

static void test_broken_files_reported_once(void **state)
{
	struct fixture *f = *state;
	const char *log = f->open_log;
	struct capture cap;
	char *again;

	assert_int_equal(lines_with(log, "level=error", "event=cert_refused", NULL), 3);
	assert_int_equal(lines_with(log, "event=cert_refused", "/expired.test.crt",
				    "certificate expired", NULL),
			 1);
	assert_int_equal(lines_with(log, "event=cert_refused", "/notyet.test.crt", "not yet valid",
				    NULL),
			 1);
	assert_int_equal(lines_with(log, "event=cert_refused", "/mismatch.test.crt",
				    "/mismatch.test.key", "does not match", NULL),
			 1);
	assert_int_equal(lines_with(log, "level=warn", "event=cert_key_exposed", "/open.test.key",
				    "mode=0644", NULL),
			 1);
	assert_int_equal(lines_with(log, "level=warn", NULL), 1);
	/* the chain and dhparam files beside the pairs are no error */
	assert_int_equal(lines_with(log, "chain.pem", NULL), 0);
	assert_int_equal(lines_with(log, "dhparam", NULL), 0);
	/* no key material in the log */
	assert_int_equal(lines_with(log, "PRIVATE", NULL), 0);
	/* their names get the default */
	assert_string_equal(served(f, "expired.test"), "D1");
	assert_string_equal(served(f, "notyet.test"), "D1");
	assert_string_equal(served(f, "mismatch.test"), "D1");
	/* nothing changed: nothing read, nothing said again */
	capture_start(&cap);
	assert_int_equal(xlb_certs_rescan(f->store), 0);
	again = capture_end(&cap);
	assert_string_equal(again, "");
	free(again);
}

static void test_broken_replacement_keeps_previous(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = EVP_EC_gen("P-256");
	char *k = key_pem(other), *log;
	struct capture cap;

	write_file(f->dir, "a.test.key", k, 0600);
	log = rescan_after_change(f, 0);
	assert_int_equal(lines_with(log, "event=cert_refused", "/a.test.crt", "does not match",
				    "kept=previous", NULL),
			 1);
	assert_int_equal(lines_with(log, "level=", NULL), 1);
	free(log);
	assert_string_equal(served(f, "a.test"), "A1");
	/* said once: an unchanged broken file is not read again */
	capture_start(&cap);
	assert_int_equal(xlb_certs_rescan(f->store), 0);
	log = capture_end(&cap);
	assert_string_equal(log, "");
	free(log);
	/* a NAME.pem turned into garbage */
	write_file(f->dir, "b.test.pem", "garbage\n", 0600);
	log = rescan_after_change(f, 0);
	assert_int_equal(lines_with(log, "event=cert_refused", "/b.test.pem", NULL), 1);
	free(log);
	assert_string_equal(served(f, "www.b.test"), "B1");
	/* a certificate that is not PEM */
	write_file(f->dir, "example.com.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644);
	log = rescan_after_change(f, 0);
	assert_int_equal(lines_with(log, "event=cert_refused", "/example.com.crt", "no certificate",
				    NULL),
			 1);
	free(log);
	assert_string_equal(served(f, "x.example.com"), "C1");
	free(k);
	EVP_PKEY_free(other);
}

/* --- reload --------------------------------------------------------------------------- */

static void test_renewal_replaces_and_old_ctx_lives(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec renewed = spec_a;
	SSL_CTX *before = xlb_certs_pick(f->store, "a.test");
	struct client_opts o = { .sni = "a.test" };
	struct handshake h;
	char *log;

	assert_non_null(before);
	assert_int_equal(SSL_CTX_up_ref(before), 1);
	renewed.serial = 0xA2;
	write_pair(f->dir, "a.test", &renewed, CRT_KEY, 0600);
	log = rescan_after_change(f, 1);
	assert_int_equal(lines_with(log, "event=cert_loaded", "names=a.test", "serial=A2", NULL),
			 1);
	free(log);
	assert_string_equal(served(f, "a.test"), "A2");
	/* what was handed out before the reload still serves the old one */
	h = handshake_with(before, &o);
	assert_true(h.ok);
	assert_string_equal(h.serial, "A1");
	SSL_SESSION_free(h.session);
	SSL_CTX_free(before);
}

static void test_added_file_and_removed_file(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec c = { "c.test", "DNS:c.test", 0xCC, -DAY, 90 * DAY };
	char *log;

	write_pair(f->dir, "c.test", &c, CRT_KEY, 0600);
	free(rescan_after_change(f, 1));
	assert_string_equal(served(f, "c.test"), "CC");

	remove_file(f->dir, "a.test.crt");
	remove_file(f->dir, "a.test.key");
	log = rescan_after_change(f, 1);
	assert_int_equal(lines_with(log, "event=cert_removed", "/a.test.crt", NULL), 1);
	free(log);
	assert_string_equal(served(f, "a.test"), "D1");
}

static void test_fixed_file_is_loaded(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec fixed = spec_expired;

	fixed.from = -DAY;
	fixed.to = 30 * DAY;
	write_pair(f->dir, "expired.test", &fixed, CRT_KEY, 0600);
	free(rescan_after_change(f, 1));
	assert_string_equal(served(f, "expired.test"), "E1");
}

/* --- from memory -------------------------------------------------------------------- */

/* SSL_CERT as dockercloud-haproxy takes it: one line, "\n" escaped */
static char *escaped(const char *pem)
{
	char *s = malloc(2 * strlen(pem) + 1), *o = s;

	assert_non_null(s);
	for (const char *p = pem; *p; p++) {
		if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return s;
}

static void test_unescape(void **state)
{
	char *out;

	(void)state;
	assert_int_equal(xlb_tls_pem_unescape("a\\nb\nc\\", &out), 0);
	assert_string_equal(out, "a\nb\nc\\");
	free(out);
	assert_int_equal(xlb_tls_pem_unescape("", &out), 0);
	assert_string_equal(out, "");
	free(out);
}

static void test_pem_from_memory(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec env = { "env.test", "DNS:env.test", 0x5E, -DAY, 90 * DAY };
	char *pem = pair_text(&env), *line = escaped(pem), *unescaped, *log;
	struct capture cap;

	assert_null(strchr(line, '\n'));
	assert_int_equal(xlb_tls_pem_unescape(line, &unescaped), 0);
	assert_string_equal(unescaped, pem);
	assert_int_equal(xlb_certs_add_pem(f->store, "env", unescaped, strlen(unescaped), 0), 0);
	assert_string_equal(served(f, "env.test"), "5E");
	/* a rescan of the directory leaves it alone */
	assert_int_equal(xlb_certs_rescan(f->store), 0);
	assert_string_equal(served(f, "env.test"), "5E");
	/* the same source and first name: a renewal */
	free(pem);
	env.serial = 0x5F;
	pem = pair_text(&env);
	assert_int_equal(xlb_certs_add_pem(f->store, "env", pem, strlen(pem), 0), 0);
	assert_string_equal(served(f, "env.test"), "5F");
	/* validated as files are */
	capture_start(&cap);
	assert_int_equal(xlb_certs_add_pem(f->store, "acme", line, strlen(line), 0), -EINVAL);
	log = capture_end(&cap);
	assert_int_equal(lines_with(log, "event=cert_refused", "source=acme", NULL), 1);
	assert_int_equal(lines_with(log, "level=", NULL), 1);
	free(log);
	assert_string_equal(served(f, "env.test"), "5F");
	assert_int_equal(xlb_certs_remove_pem(f->store, "env", "ENV.test"), 0);
	assert_string_equal(served(f, "env.test"), "D1");
	assert_int_equal(xlb_certs_remove_pem(f->store, "env", "env.test"), -ENOENT);
	free(pem);
	free(line);
	free(unescaped);
}

static void test_pem_from_memory_as_default(void **state)
{
	struct leaf_spec env = { "env.test", "DNS:env.test", 0x5D, -DAY, 90 * DAY };
	struct xlb_tls_server *srv;
	struct fixture f = { 0 };
	char *pem = pair_text(&env);

	(void)state;
	assert_int_equal(xlb_tls_server_new(NULL, &srv), 0);
	assert_int_equal(xlb_certs_new(srv, NULL, &f.store), 0);
	assert_int_equal(xlb_certs_watch_fd(f.store), -1);
	f.front = xlb_tls_sni_ctx_new(srv, f.store);
	assert_string_equal(served(&f, "other.test"), "refused");
	assert_int_equal(xlb_certs_add_pem(f.store, "env", pem, strlen(pem), XLB_CERTS_AS_DEFAULT),
			 0);
	assert_string_equal(served(&f, "other.test"), "5D");
	SSL_CTX_free(f.front);
	xlb_certs_free(f.store);
	xlb_tls_server_put(srv);
	free(pem);
}

/* --- the listing ------------------------------------------------------------------------ */

static const struct xlb_cert_info *listed(const struct xlb_cert_info *l, size_t n,
					  const char *serial)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i].serial, serial) == 0)
			return &l[i];
	return NULL;
}

static void test_listing(void **state)
{
	struct fixture *f = *state;
	struct xlb_cert_info *l;
	const struct xlb_cert_info *a, *b, *w, *d;
	char want[128];
	size_t n;

	assert_int_equal(xlb_certs_list(f->store, &l, &n), 0);
	assert_int_equal(n, 5); /* a, b, wildcard, default, open */
	a = listed(l, n, "A1");
	assert_non_null(a);
	assert_int_equal(a->n_names, 1);
	assert_string_equal(a->names[0], "a.test");
	snprintf(want, sizeof(want), "%s/a.test.crt", f->dir);
	assert_string_equal(a->source, want);
	assert_string_equal(a->issuer, "CN=xlb test CA");
	assert_false(a->is_default);
	b = listed(l, n, "B1");
	assert_non_null(b);
	assert_int_equal(b->n_names, 2);
	assert_string_equal(b->names[1], "www.b.test");
	snprintf(want, sizeof(want), "%s/b.test.pem", f->dir);
	assert_string_equal(b->source, want);
	w = listed(l, n, "C1");
	assert_non_null(w);
	assert_string_equal(w->names[0], "*.example.com");
	assert_int_equal(w->not_after, f->wild_not_after);
	d = listed(l, n, "D1");
	assert_non_null(d);
	assert_true(d->is_default);
	assert_string_equal(d->names[0], "cn-only.test");
	assert_null(listed(l, n, "E1"));
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(l[i - 1].source, l[i].source) <= 0);
	/* the wildcard expires first (10 days against 90) */
	assert_int_equal(xlb_certs_soonest_not_after(f->store), f->wild_not_after);
	xlb_certs_list_free(l, n);
}

/* --- scoped certificates (a container's SSL_CERT) ----------------------------------------- */

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

static void names_append(char *buf, size_t size, const struct xlb_certs_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? "," : "", l->v[i]);
}

/* What a certificate with names serves under allowed and denied, as
 * "served|except" in order. */
static const char *scoped(const char *const *names, const char *const *allowed,
			  const char *const *denied)
{
	static char out[512];
	struct xlb_certs_names served, except;
	size_t n = 0;

	while (names[n])
		n++;
	assert_int_equal(xlb_certs_scope_names(names, n, allowed, denied, &served, &except), 0);
	out[0] = '\0';
	names_append(out, sizeof(out), &served);
	strcat(out, "|");
	names_append(out, sizeof(out), &except);
	xlb_certs_names_free(&served);
	xlb_certs_names_free(&except);
	return out;
}

static void test_scope_names(void **state)
{
	(void)state;
	/* exact names: those the sender holds, whatever the case */
	assert_string_equal(scoped(NAMES("a.test", "b.test"), NAMES("a.test"), NAMES("b.test")),
			    "a.test|");
	assert_string_equal(scoped(NAMES("a.test"), NAMES("A.Test"), NONE), "a.test|");
	assert_string_equal(scoped(NAMES("c.test"), NONE, NAMES("c.test")), "|");
	assert_string_equal(scoped(NAMES("*.ex.test", "z.test"), NONE, NONE), "|");
	/* a certificate's wildcard covers one label: narrowed to the names
	 * held there, each once */
	assert_string_equal(scoped(NAMES("*.ex.test"),
				   NAMES("shop.ex.test", "a.b.ex.test", "ex.test"),
				   NAMES("other.ex.test")),
			    "shop.ex.test|");
	assert_string_equal(scoped(NAMES("*.ex.test", "shop.ex.test"), NAMES("shop.ex.test"), NONE),
			    "shop.ex.test|");
	/* a wildcard route held: the wildcard, but not for the names others
	 * hold one label under it */
	assert_string_equal(scoped(NAMES("*.ex.test"), NAMES("*.ex.test"),
				   NAMES("other.ex.test", "a.b.ex.test", "*.b.ex.test")),
			    "*.ex.test|other.ex.test");
	/* names under a wildcard route go as routing sends them: an exact
	 * route first, then the longest wildcard */
	assert_string_equal(scoped(NAMES("x.ex.test", "y.ex.test", "a.b.ex.test", "c.d.ex.test"),
				   NAMES("*.ex.test"), NAMES("y.ex.test", "*.b.ex.test")),
			    "x.ex.test,c.d.ex.test|");
	/* a route's wildcard reaches deeper than a certificate's */
	assert_string_equal(scoped(NAMES("*.d.ex.test", "*.b.ex.test"), NAMES("*.ex.test"),
				   NAMES("*.b.ex.test")),
			    "*.d.ex.test|");
}

static int add_scoped(struct fixture *f, const char *source, const char *pem,
		      const char *const *allowed, const char *const *denied, char *detail)
{
	return xlb_certs_add_scoped(f->store, source, pem, strlen(pem), allowed, denied, detail,
				    256);
}

static void test_scoped_served_for_its_names(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec two = { "a.sc.test", "DNS:a.sc.test,DNS:b.sc.test", 0x51, -DAY, 90 * DAY };
	char *pem = pair_text(&two), *log, detail[256];
	const struct xlb_cert_info *info;
	struct xlb_cert_info *l;
	struct capture cap;
	size_t n;

	capture_start(&cap);
	assert_int_equal(
		add_scoped(f, "env:web_1", pem, NAMES("a.sc.test"), NAMES("b.sc.test"), detail), 0);
	log = capture_end(&cap);
	assert_int_equal(lines_with(log, "event=cert_loaded", "source=env:web_1",
				    "names=a.sc.test serial=51", NULL),
			 1);
	assert_int_equal(lines_with(log, "level=", NULL), 1);
	free(log);
	assert_string_equal(served(f, "a.sc.test"), "51");
	assert_string_equal(served(f, "b.sc.test"), "D1"); /* another's name */
	/* listed with what it serves, not as the default */
	assert_int_equal(xlb_certs_list(f->store, &l, &n), 0);
	info = listed(l, n, "51");
	assert_non_null(info);
	assert_string_equal(info->source, "env:web_1");
	assert_int_equal(info->n_names, 1);
	assert_string_equal(info->names[0], "a.sc.test");
	assert_false(info->is_default);
	xlb_certs_list_free(l, n);
	/* the same again: nothing changes, nothing is logged */
	capture_start(&cap);
	assert_int_equal(
		add_scoped(f, "env:web_1", pem, NAMES("a.sc.test"), NAMES("b.sc.test"), detail), 0);
	log = capture_end(&cap);
	assert_string_equal(log, "");
	free(log);
	/* the sender loses the name: out of service; the names go to the
	 * caller, who names the sender */
	capture_start(&cap);
	assert_int_equal(add_scoped(f, "env:web_1", pem, NONE, NAMES("a.sc.test", "b.sc.test"),
				    detail),
			 -ENOENT);
	log = capture_end(&cap);
	assert_string_equal(detail, "a.sc.test,b.sc.test");
	assert_int_equal(lines_with(log, "event=cert_removed", "source=env:web_1", NULL), 1);
	assert_int_equal(lines_with(log, "level=", NULL), 1);
	free(log);
	assert_string_equal(served(f, "a.sc.test"), "D1");
	/* ... and back */
	assert_int_equal(add_scoped(f, "env:web_1", pem, NAMES("a.sc.test"), NONE, detail), 0);
	assert_string_equal(served(f, "a.sc.test"), "51");
	/* a bad PEM is refused without a word (the caller's to say) and
	 * takes out what the sender served */
	capture_start(&cap);
	assert_int_equal(add_scoped(f, "env:web_1", "garbage", NAMES("a.sc.test"), NONE, detail),
			 -EINVAL);
	log = capture_end(&cap);
	assert_string_equal(detail, "no certificate in PEM");
	assert_int_equal(lines_with(log, "event=cert_refused", NULL), 0);
	assert_int_equal(lines_with(log, "event=cert_removed", "source=env:web_1", NULL), 1);
	free(log);
	assert_string_equal(served(f, "a.sc.test"), "D1");
	assert_int_equal(xlb_certs_remove_scoped(f->store, "env:web_1"), -ENOENT);
	free(pem);
}

/* The directory's certificate keeps its name; a scoped one never
 * answers an unknown name or a client without SNI. */
static void test_scoped_behind_trusted_never_default(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec spec = { "a.test", "DNS:a.test,DNS:own.test", 0x52, -DAY, 90 * DAY };
	char *pem = pair_text(&spec), detail[256];

	assert_int_equal(add_scoped(f, "env:c_1", pem, NAMES("a.test", "own.test"), NONE, detail),
			 0);
	assert_string_equal(served(f, "a.test"), "A1");
	assert_string_equal(served(f, "own.test"), "52");
	assert_string_equal(served(f, "unknown.test"), "D1");
	assert_string_equal(served(f, NULL), "D1");
	assert_int_equal(xlb_certs_remove_scoped(f->store, "env:c_1"), 0);
	assert_string_equal(served(f, "own.test"), "D1");
	free(pem);
}

/* Two senders' wildcards for one suffix: the later one does not answer
 * a name another holds; the earlier one still may. */
static void test_scoped_wildcard_except(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec older = { "w.test", "DNS:*.w.test", 0x61, -DAY, 90 * DAY };
	struct leaf_spec newer = { "w.test", "DNS:*.w.test", 0x62, -DAY, 90 * DAY };
	char *old_pem = pair_text(&older), *new_pem = pair_text(&newer), detail[256];

	assert_int_equal(add_scoped(f, "env:old", old_pem, NAMES("*.w.test"), NONE, detail), 0);
	assert_int_equal(add_scoped(f, "env:new", new_pem, NAMES("*.w.test"), NAMES("taken.w.test"),
				    detail),
			 0);
	assert_string_equal(served(f, "x.w.test"), "62");
	assert_string_equal(served(f, "taken.w.test"), "61");
	assert_int_equal(xlb_certs_remove_scoped(f->store, "env:old"), 0);
	assert_string_equal(served(f, "taken.w.test"), "D1");
	assert_string_equal(served(f, "x.w.test"), "62");
	free(old_pem);
	free(new_pem);
}

/* dockercloud-haproxy's SSL_CERT: the key first, on one line */
static void test_scoped_key_first_one_line(void **state)
{
	struct fixture *f = *state;
	struct leaf_spec spec = { "kf.test", "DNS:kf.test", 0x71, -DAY, 90 * DAY };
	char *pem = pair_text_ordered(&spec, true), *line = escaped(pem), *unescaped, detail[256];

	assert_int_equal(strncmp(pem, "-----BEGIN PRIVATE KEY-----", 27), 0);
	assert_int_equal(xlb_tls_pem_unescape(line, &unescaped), 0);
	assert_int_equal(add_scoped(f, "env:kf_1", unescaped, NAMES("kf.test"), NONE, detail), 0);
	assert_string_equal(served(f, "kf.test"), "71");
	free(pem);
	free(line);
	free(unescaped);
}

/* --- the TLS policy ----------------------------------------------------------------------- */

static void test_tls13_with_http11(void **state)
{
	struct fixture *f = *state;
	struct client_opts o = { .sni = "a.test", .alpn = "\x02h2\x08http/1.1" };
	struct handshake h = handshake_with(f->front, &o);

	assert_true(h.ok);
	assert_int_equal(h.version, TLS1_3_VERSION);
	assert_string_equal(h.alpn, "http/1.1");
	assert_string_equal(h.serial, "A1");
	SSL_SESSION_free(h.session);
	/* a client speaking nothing we do */
	o.alpn = "\x02h2";
	h = handshake_with(f->front, &o);
	assert_false(h.ok);
	assert_int_equal(h.alert, SSL_AD_NO_APPLICATION_PROTOCOL);
}

static void test_old_versions_refused(void **state)
{
	struct fixture *f = *state;
	struct client_opts o = { .sni = "a.test", .max_version = TLS1_1_VERSION };
	struct handshake h = handshake_with(f->front, &o);

	assert_false(h.ok);
	assert_int_equal(h.alert, SSL_AD_PROTOCOL_VERSION);
	/* TLS 1.2 is served, with forward secrecy and an AEAD */
	o.max_version = TLS1_2_VERSION;
	h = handshake_with(f->front, &o);
	assert_true(h.ok);
	assert_int_equal(h.version, TLS1_2_VERSION);
	assert_string_equal(h.serial, "A1");
	assert_non_null(strstr(h.cipher, "ECDHE"));
	assert_true(strstr(h.cipher, "GCM") || strstr(h.cipher, "CHACHA20"));
	SSL_SESSION_free(h.session);
}

static void test_tickets_resume_across_one_rotation(void **state)
{
	struct fixture *f = *state;
	struct client_opts o = { .sni = "b.test" };
	struct handshake first = handshake_with(f->front, &o), h;

	assert_true(first.ok);
	assert_non_null(first.session);
	assert_true(SSL_SESSION_is_resumable(first.session));
	o.resume = first.session;
	h = handshake_with(f->front, &o);
	assert_true(h.ok && h.reused);
	assert_string_equal(h.serial, "B1");
	SSL_SESSION_free(h.session);
	/* the previous key still reads its tickets */
	assert_int_equal(xlb_tls_server_rotate_tickets(f->srv), 0);
	h = handshake_with(f->front, &o);
	assert_true(h.ok && h.reused);
	SSL_SESSION_free(h.session);
	/* the one before is gone: a full handshake */
	assert_int_equal(xlb_tls_server_rotate_tickets(f->srv), 0);
	h = handshake_with(f->front, &o);
	assert_true(h.ok);
	assert_false(h.reused);
	assert_string_equal(h.serial, "B1");
	SSL_SESSION_free(h.session);
	SSL_SESSION_free(first.session);
}

struct alpn_seen {
	char proto[32];
};

static int on_alpn_chosen(SSL *ssl, const unsigned char *proto, unsigned len, void *arg)
{
	struct alpn_seen *seen = arg;

	(void)ssl;
	snprintf(seen->proto, sizeof(seen->proto), "%.*s", (int)len, (const char *)proto);
	return 0;
}

static void test_alpn_hook_for_acme(void **state)
{
	struct fixture *f = *state;
	static const char *const protos[] = { "http/1.1", "acme-tls/1" };
	struct alpn_seen seen = { "" };
	struct xlb_tls_server_opts opts = { protos, 2, on_alpn_chosen, &seen, 0 };
	struct xlb_tls_server *srv;
	struct xlb_certs *store;
	struct client_opts o = { .sni = "a.test",
				 .alpn = "\x0a"
					 "acme-tls/1" };
	struct handshake h;
	SSL_CTX *front;

	assert_int_equal(xlb_tls_server_new(&opts, &srv), 0);
	assert_int_equal(xlb_certs_new(srv, f->dir, &store), 0);
	front = xlb_tls_sni_ctx_new(srv, store);
	h = handshake_with(front, &o);
	assert_true(h.ok);
	assert_string_equal(h.alpn, "acme-tls/1");
	assert_string_equal(seen.proto, "acme-tls/1");
	SSL_SESSION_free(h.session);
	SSL_CTX_free(front);
	xlb_certs_free(store);
	xlb_tls_server_put(srv);
}

static void test_missing_dir_is_an_error(void **state)
{
	struct xlb_tls_server *srv;
	struct xlb_certs *store = NULL;
	struct capture cap;
	char *log;

	(void)state;
	assert_int_equal(xlb_tls_server_new(NULL, &srv), 0);
	capture_start(&cap);
	assert_int_equal(xlb_certs_new(srv, "/nonexistent/xlb-certs", &store), -ENOENT);
	log = capture_end(&cap);
	assert_int_equal(lines_with(log, "level=error", "/nonexistent/xlb-certs", NULL), 1);
	assert_null(store);
	free(log);
	xlb_tls_server_put(srv);
}

#define STORE_TEST(t) cmocka_unit_test_setup_teardown(t, store_setup, store_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(test_exact_names),
		STORE_TEST(test_names_ignore_case),
		STORE_TEST(test_wildcard_one_label),
		STORE_TEST(test_default_for_unknown_and_no_sni),
		STORE_TEST(test_no_default_is_unrecognized_name),
		STORE_TEST(test_broken_files_reported_once),
		STORE_TEST(test_broken_replacement_keeps_previous),
		STORE_TEST(test_renewal_replaces_and_old_ctx_lives),
		STORE_TEST(test_added_file_and_removed_file),
		STORE_TEST(test_fixed_file_is_loaded),
		cmocka_unit_test(test_unescape),
		STORE_TEST(test_pem_from_memory),
		cmocka_unit_test(test_pem_from_memory_as_default),
		cmocka_unit_test(test_scope_names),
		STORE_TEST(test_scoped_served_for_its_names),
		STORE_TEST(test_scoped_behind_trusted_never_default),
		STORE_TEST(test_scoped_wildcard_except),
		STORE_TEST(test_scoped_key_first_one_line),
		STORE_TEST(test_listing),
		STORE_TEST(test_tls13_with_http11),
		STORE_TEST(test_old_versions_refused),
		STORE_TEST(test_tickets_resume_across_one_rotation),
		STORE_TEST(test_alpn_hook_for_acme),
		cmocka_unit_test(test_missing_dir_is_an_error),
	};

	xlb_log_set_prog("test_certs");
	return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
