// SPDX-License-Identifier: GPL-2.0
/* How a terminated handshake is counted (proxy/tls_outcome.c): the suite
 * of a completed one, the reason of a failed one from OpenSSL's error and
 * the alerts, checked on the mappings alone and on real handshakes in
 * memory; and the metrics' TLS families (xlbd/metrics.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "proxy/tls_outcome.h"
#include "xlb/tls_names.h"
#include "xlbd/metrics.h"

/* ---- the mappings ------------------------------------------------------------------ */

static void test_every_suite_and_reason_has_a_name(void **state)
{
	(void)state;
	for (int k = 0; k < XLB_TLS_SUITES; k++) {
		assert_non_null(xlb_tls_suite_names[k]);
		for (int j = 0; j < k; j++)
			if (!strcmp(xlb_tls_suite_version(j), xlb_tls_suite_version(k)))
				assert_string_not_equal(xlb_tls_suite_names[j],
							xlb_tls_suite_names[k]);
	}
	for (int k = 0; k < XLB_TLS_FAILS; k++)
		assert_non_null(xlb_tls_fail_names[k]);
	assert_string_equal(xlb_tls_suite_version(XLB_TLS13_OTHER), "1.3");
	assert_string_equal(xlb_tls_suite_version(XLB_TLS12_OTHER), "1.2");
}

static void test_tls13_suites(void **state)
{
	(void)state;
	assert_int_equal(xlb_tls_suite_of(TLS1_3_VERSION, 0x1301), XLB_TLS13_AES_128_GCM_SHA256);
	assert_int_equal(xlb_tls_suite_of(TLS1_3_VERSION, 0x1302), XLB_TLS13_AES_256_GCM_SHA384);
	assert_int_equal(xlb_tls_suite_of(TLS1_3_VERSION, 0x1303),
			 XLB_TLS13_CHACHA20_POLY1305_SHA256);
	/* TLS_AES_128_CCM_SHA256: not in OpenSSL's default list */
	assert_int_equal(xlb_tls_suite_of(TLS1_3_VERSION, 0x1304), XLB_TLS13_OTHER);
	assert_int_equal(xlb_tls_suite_of(TLS1_3_VERSION, 0xc02b), XLB_TLS13_OTHER);
}

static void test_tls12_suites(void **state)
{
	static const struct {
		uint16_t id;
		enum xlb_tls_suite suite;
	} cases[] = {
		{ 0xc02b, XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256 },
		{ 0xc02f, XLB_TLS12_ECDHE_RSA_AES128_GCM_SHA256 },
		{ 0xc02c, XLB_TLS12_ECDHE_ECDSA_AES256_GCM_SHA384 },
		{ 0xc030, XLB_TLS12_ECDHE_RSA_AES256_GCM_SHA384 },
		{ 0xcca9, XLB_TLS12_ECDHE_ECDSA_CHACHA20_POLY1305 },
		{ 0xcca8, XLB_TLS12_ECDHE_RSA_CHACHA20_POLY1305 },
		{ 0x009c, XLB_TLS12_OTHER }, /* AES128-GCM-SHA256: no ECDHE */
		{ 0x1301, XLB_TLS12_OTHER }, /* a TLS 1.3 suite under 1.2 */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(xlb_tls_suite_of(TLS1_2_VERSION, cases[i].id), cases[i].suite);
}

static enum xlb_tls_fail fail_of(int ssl_error, int lib, int reason, int sent, int received)
{
	const struct xlb_tls_end end = {
		.ssl_error = ssl_error,
		.err = reason ? ERR_PACK(lib, 0, reason) : 0,
		.alerts = { .sent = sent, .received = received },
	};

	return xlb_tls_fail_of(&end);
}

static void test_client_closed(void **state)
{
	(void)state;
	/* a reset or a FIN seen as such, OpenSSL 3's unexpected EOF, a close_notify */
	assert_int_equal(fail_of(SSL_ERROR_SYSCALL, 0, 0, -1, -1), XLB_TLS_FAIL_CLIENT_CLOSED);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING, -1,
				 -1),
			 XLB_TLS_FAIL_CLIENT_CLOSED);
	assert_int_equal(fail_of(SSL_ERROR_ZERO_RETURN, 0, 0, -1, -1), XLB_TLS_FAIL_CLIENT_CLOSED);
	assert_int_equal(fail_of(SSL_ERROR_SSL, 0, 0, -1, SSL_AD_CLOSE_NOTIFY),
			 XLB_TLS_FAIL_CLIENT_CLOSED);
}

static void test_refusals_by_alert_and_reason(void **state)
{
	(void)state;
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_UNSUPPORTED_PROTOCOL,
				 SSL_AD_PROTOCOL_VERSION, -1),
			 XLB_TLS_FAIL_PROTOCOL_VERSION);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_VERSION_TOO_LOW, -1, -1),
			 XLB_TLS_FAIL_PROTOCOL_VERSION);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_NO_SHARED_CIPHER,
				 SSL_AD_HANDSHAKE_FAILURE, -1),
			 XLB_TLS_FAIL_NO_SHARED_CIPHER);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_NO_SHARED_GROUPS,
				 SSL_AD_HANDSHAKE_FAILURE, -1),
			 XLB_TLS_FAIL_NO_SHARED_CIPHER);
	/* the servername callback's refusal: OpenSSL says only "callback
	 * failed", the alert says why */
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_CALLBACK_FAILED,
				 SSL_AD_UNRECOGNIZED_NAME, -1),
			 XLB_TLS_FAIL_UNRECOGNIZED_NAME);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_NO_APPLICATION_PROTOCOL,
				 SSL_AD_NO_APPLICATION_PROTOCOL, -1),
			 XLB_TLS_FAIL_NO_APP_PROTOCOL);
}

static void test_client_alert_and_other(void **state)
{
	(void)state;
	/* a client that refuses xlb's certificate */
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_TLSV1_ALERT_UNKNOWN_CA, -1,
				 SSL_AD_UNKNOWN_CA),
			 XLB_TLS_FAIL_ALERT_FROM_CLIENT);
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_SSL, SSL_R_BAD_PACKET_LENGTH,
				 SSL_AD_DECODE_ERROR, -1),
			 XLB_TLS_FAIL_OTHER);
	/* a reason number is OpenSSL's SSL library's only */
	assert_int_equal(fail_of(SSL_ERROR_SSL, ERR_LIB_EVP, SSL_R_NO_SHARED_CIPHER, -1, -1),
			 XLB_TLS_FAIL_OTHER);
	assert_int_equal(fail_of(SSL_ERROR_SSL, 0, 0, -1, -1), XLB_TLS_FAIL_OTHER);
}

/* ---- real handshakes, in memory -------------------------------------------------------- */

struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *server, *client;
	struct xlb_tls_alerts alerts;
	int r; /* the server's last SSL_accept */
};

/* A self-signed P-256 certificate for "t.test", made in memory. */
static void use_test_cert(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();

	assert_non_null(key);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"t.test", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, key);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void pair_open(struct pair *p, int client_max_version)
{
	BIO *sb, *cb;

	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(p->sctx);
	assert_non_null(p->cctx);
	SSL_CTX_set_min_proto_version(p->sctx, TLS1_2_VERSION);
	use_test_cert(p->sctx);
	SSL_CTX_set_max_proto_version(p->cctx, client_max_version);
	SSL_CTX_set_security_level(p->cctx, 0); /* TLS 1.1 may be offered */
	p->server = SSL_new(p->sctx);
	p->client = SSL_new(p->cctx);
	assert_int_equal(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(p->server, sb, sb);
	SSL_set_bio(p->client, cb, cb);
	assert_int_equal(xlb_tls_alerts_watch(p->server, &p->alerts), 0);
}

/* Steps both sides until the server's handshake ends or stalls. */
static int pair_run(struct pair *p)
{
	int err = SSL_ERROR_WANT_READ;

	for (int i = 0; i < 20 && (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE);
	     i++) {
		SSL_connect(p->client);
		ERR_clear_error();
		p->r = SSL_accept(p->server);
		if (p->r == 1)
			return 1;
		err = SSL_get_error(p->server, p->r);
	}
	return p->r;
}

static void pair_close(struct pair *p)
{
	xlb_tls_alerts_unwatch(p->server);
	SSL_free(p->server);
	SSL_free(p->client);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	ERR_clear_error();
}

static void test_handshake_tls13_suite(void **state)
{
	struct pair p = { 0 };

	(void)state;
	pair_open(&p, TLS1_3_VERSION);
	assert_int_equal(SSL_set_ciphersuites(p.client, "TLS_CHACHA20_POLY1305_SHA256"), 1);
	assert_int_equal(pair_run(&p), 1);
	assert_int_equal(xlb_tls_suite_of_ssl(p.server), XLB_TLS13_CHACHA20_POLY1305_SHA256);
	/* the name printed is OpenSSL's */
	assert_string_equal(xlb_tls_suite_names[XLB_TLS13_CHACHA20_POLY1305_SHA256],
			    SSL_get_cipher_name(p.server));
	pair_close(&p);
}

static void test_handshake_tls12_suite(void **state)
{
	struct pair p = { 0 };

	(void)state;
	pair_open(&p, TLS1_2_VERSION);
	assert_int_equal(SSL_set_cipher_list(p.client, "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
	assert_int_equal(pair_run(&p), 1);
	assert_int_equal(xlb_tls_suite_of_ssl(p.server), XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256);
	assert_string_equal(xlb_tls_suite_names[XLB_TLS12_ECDHE_ECDSA_AES128_GCM_SHA256],
			    SSL_get_cipher_name(p.server));
	pair_close(&p);
}

static void test_handshake_tls11_refused(void **state)
{
	struct pair p = { 0 };
	struct xlb_tls_end end;

	(void)state;
	pair_open(&p, TLS1_1_VERSION);
	SSL_set_cipher_list(p.client, "DEFAULT:@SECLEVEL=0");
	assert_int_not_equal(pair_run(&p), 1);
	xlb_tls_end_read(p.server, p.r, &p.alerts, &end);
	assert_int_equal(end.alerts.sent, SSL_AD_PROTOCOL_VERSION);
	assert_int_equal(xlb_tls_fail_of(&end), XLB_TLS_FAIL_PROTOCOL_VERSION);
	pair_close(&p);
}

static void test_handshake_no_shared_cipher(void **state)
{
	struct pair p = { 0 };
	struct xlb_tls_end end;

	(void)state;
	pair_open(&p, TLS1_2_VERSION);
	/* an RSA-only suite against an ECDSA certificate */
	assert_int_equal(SSL_set_cipher_list(p.client, "ECDHE-RSA-AES128-GCM-SHA256"), 1);
	assert_int_not_equal(pair_run(&p), 1);
	xlb_tls_end_read(p.server, p.r, &p.alerts, &end);
	assert_int_equal(xlb_tls_fail_of(&end), XLB_TLS_FAIL_NO_SHARED_CIPHER);
	pair_close(&p);
}

/* ---- the metrics' families ---------------------------------------------------------- */

static void test_tls_metrics(void **state)
{
	struct xlb_metrics_service svcs[2] = {
		{ .id = 1, .name = "web", .flags = XLB_SVC_F_HOST },
		{ .id = 2, .name = "plain", .flags = XLB_SVC_F_HOST },
	};
	struct xlb_metrics_snapshot s = { .version = "t", .svcs = svcs, .n_svcs = 2 };
	struct xlb_mbuf b = {};

	(void)state;
	svcs[0].tls.handshakes[XLB_TLS13_AES_128_GCM_SHA256] = 3;
	svcs[0].tls.handshakes[XLB_TLS12_ECDHE_ECDSA_CHACHA20_POLY1305] = 2;
	svcs[0].tls.failures[XLB_TLS_FAIL_PROTOCOL_VERSION] = 1;
	assert_int_equal(xlb_metrics_format(&s, &b), 0);
	assert_non_null(strstr(b.p, "\nxlb_tls_handshakes_total{service=\"web\",version=\"1.3\","
				    "cipher=\"TLS_AES_128_GCM_SHA256\"} 3\n"));
	assert_non_null(strstr(b.p, "\nxlb_tls_handshakes_total{service=\"web\",version=\"1.2\","
				    "cipher=\"ECDHE-ECDSA-CHACHA20-POLY1305\"} 2\n"));
	/* the whole fixed set, zeros included */
	assert_non_null(strstr(b.p, "\nxlb_tls_handshakes_total{service=\"web\",version=\"1.2\","
				    "cipher=\"other\"} 0\n"));
	assert_non_null(strstr(b.p, "\nxlb_tls_handshake_failures_total{service=\"web\","
				    "reason=\"protocol_version\"} 1\n"));
	assert_non_null(strstr(b.p, "\nxlb_tls_handshake_failures_total{service=\"web\","
				    "reason=\"handshake_limit\"} 0\n"));
	/* a service whose TLS xlb never ended has none */
	assert_null(strstr(b.p, "service=\"plain\",version"));
	assert_null(strstr(b.p, "failures_total{service=\"plain\""));
	xlb_mbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_suite_and_reason_has_a_name),
		cmocka_unit_test(test_tls13_suites),
		cmocka_unit_test(test_tls12_suites),
		cmocka_unit_test(test_client_closed),
		cmocka_unit_test(test_refusals_by_alert_and_reason),
		cmocka_unit_test(test_client_alert_and_other),
		cmocka_unit_test(test_handshake_tls13_suite),
		cmocka_unit_test(test_handshake_tls12_suite),
		cmocka_unit_test(test_handshake_tls11_refused),
		cmocka_unit_test(test_handshake_no_shared_cipher),
		cmocka_unit_test(test_tls_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
