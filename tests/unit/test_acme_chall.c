// SPDX-License-Identifier: GPL-2.0
/* What the CA validates and what it signs: the key authorization, the
 * TLS-ALPN-01 certificate (RFC 8737: one dNSName, the critical
 * acmeIdentifier holding SHA-256 of the key authorization), the
 * challenge table the listeners read, and the CSR sent at finalize. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "acme/chall.h"
#include "acme/csr.h"
#include "acme/jws.h"
#include "acme/tlsalpn.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define THUMB "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static void test_key_authz_format(void **state)
{
	char *ka = NULL;

	(void)state;
	assert_int_equal(xlb_acme_key_authz(TOKEN, THUMB, &ka), 0);
	assert_string_equal(ka, TOKEN "." THUMB);
	free(ka);
	/* the token is the CA's: one that is not base64url is refused */
	assert_int_equal(xlb_acme_key_authz("../etc", THUMB, &ka), -EINVAL);
	assert_int_equal(xlb_acme_key_authz("", THUMB, &ka), -EINVAL);
	assert_int_equal(xlb_acme_key_authz("a=b", THUMB, &ka), -EINVAL);
}

static void test_chall_names(void **state)
{
	enum xlb_acme_chall t;

	(void)state;
	assert_int_equal(xlb_acme_chall_parse("tls-alpn-01", &t), 0);
	assert_int_equal(t, XLB_ACME_TLSALPN01);
	assert_string_equal(xlb_acme_chall_name(t), "tls-alpn-01");
	assert_int_equal(xlb_acme_chall_parse("http-01", &t), 0);
	assert_string_equal(xlb_acme_chall_name(t), "http-01");
	assert_int_equal(xlb_acme_chall_parse("dns-01", &t), -EINVAL);
}

static void test_tlsalpn_cert_extension(void **state)
{
	static const char ka[] = TOKEN "." THUMB;
	uint8_t want[2 + SHA256_DIGEST_LENGTH] = { 0x04, 0x20 };
	ASN1_OBJECT *oid = OBJ_txt2obj(XLB_ACME_IDENTIFIER_OID, 1);
	GENERAL_NAMES *sans;
	const GENERAL_NAME *gn;
	X509_EXTENSION *ext;
	const ASN1_OCTET_STRING *value;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int idx;

	(void)state;
	assert_int_equal(xlb_acme_tlsalpn_cert("a.example.test", ka, &x, &key), 0);
	/* self-signed by the key that comes with it */
	assert_int_equal(X509_verify(x, key), 1);
	assert_int_equal(X509_check_private_key(x, key), 1);
	idx = X509_get_ext_by_OBJ(x, oid, -1);
	assert_true(idx >= 0);
	assert_int_equal(X509_get_ext_by_OBJ(x, oid, idx), -1); /* just one */
	ext = X509_get_ext(x, idx);
	assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
	/* extnValue: the DER of an OCTET STRING of the digest */
	SHA256((const uint8_t *)ka, strlen(ka), want + 2);
	value = X509_EXTENSION_get_data(ext);
	assert_int_equal(ASN1_STRING_length(value), sizeof(want));
	assert_memory_equal(ASN1_STRING_get0_data(value), want, sizeof(want));
	/* exactly one dNSName, the name being validated */
	sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(sans);
	assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
	gn = sk_GENERAL_NAME_value(sans, 0);
	assert_int_equal(gn->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.dNSName), "a.example.test");
	assert_int_equal(X509_check_host(x, "a.example.test", 0, 0, NULL), 1);
	GENERAL_NAMES_free(sans);
	ASN1_OBJECT_free(oid);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_table_http01(void **state)
{
	struct xlb_acme_challs *t = xlb_acme_challs_new();
	char out[128], tiny[8];

	(void)state;
	assert_int_equal(xlb_acme_http01_lookup(t, TOKEN, out, sizeof(out)), -ENOENT);
	assert_int_equal(xlb_acme_challs_add_http01(t, TOKEN, TOKEN "." THUMB), 0);
	assert_int_equal(xlb_acme_http01_lookup(t, TOKEN, out, sizeof(out)), 0);
	assert_string_equal(out, TOKEN "." THUMB);
	assert_int_equal(xlb_acme_http01_lookup(t, TOKEN, tiny, sizeof(tiny)), -ENOSPC);
	/* tokens are case-sensitive, unlike names */
	assert_int_equal(xlb_acme_http01_lookup(t, "EVAGXFADS6PSRB2LAV9IZF17DT3JUXGJ-PCT92WR-OA",
						out, sizeof(out)),
			 -ENOENT);
	assert_int_equal(xlb_acme_challs_add_http01(t, TOKEN, "replaced"), 0);
	assert_int_equal(xlb_acme_challs_count(t), 1);
	assert_int_equal(xlb_acme_http01_lookup(t, TOKEN, out, sizeof(out)), 0);
	assert_string_equal(out, "replaced");
	assert_int_equal(xlb_acme_challs_add_http01(t, "../x", "y"), -EINVAL);
	xlb_acme_challs_del_http01(t, TOKEN);
	assert_int_equal(xlb_acme_http01_lookup(t, TOKEN, out, sizeof(out)), -ENOENT);
	xlb_acme_challs_free(t);
}

static void test_table_tlsalpn01(void **state)
{
	struct xlb_acme_challs *t = xlb_acme_challs_new();
	EVP_PKEY *key = NULL;
	X509 *x = NULL;

	(void)state;
	assert_int_equal(xlb_acme_tlsalpn01_lookup(t, "b.example.test", &x, &key), -ENOENT);
	assert_int_equal(xlb_acme_challs_add_tlsalpn01(t, "b.example.test", TOKEN "." THUMB), 0);
	/* an HTTP-01 token of the same spelling is another entry */
	assert_int_equal(xlb_acme_challs_add_http01(t, "b", "z"), 0);
	assert_int_equal(xlb_acme_tlsalpn01_lookup(t, "B.Example.TEST", &x, &key), 0);
	assert_int_equal(X509_check_host(x, "b.example.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_private_key(x, key), 1);
	/* the references handed out outlive the entry */
	xlb_acme_challs_del_tlsalpn01(t, "b.example.test");
	assert_int_equal(X509_check_private_key(x, key), 1);
	assert_int_equal(xlb_acme_challs_count(t), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	xlb_acme_challs_free(t);
}

static void test_csr_contents(void **state)
{
	EVP_PKEY *key = xlb_jws_keygen(), *pub;
	const uint8_t *p;
	uint8_t *der = NULL;
	size_t len = 0;
	STACK_OF(X509_EXTENSION) * exts;
	GENERAL_NAMES *sans;
	X509_REQ *req;
	char cn[128];
	int idx;

	(void)state;
	assert_int_equal(xlb_acme_csr("www.example.test", key, &der, &len), 0);
	p = der;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	assert_non_null(req);
	assert_ptr_equal(p, der + len);
	pub = X509_REQ_get0_pubkey(req);
	assert_int_equal(EVP_PKEY_eq(pub, key), 1);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(X509_REQ_get_signature_nid(req), NID_ecdsa_with_SHA256);
	assert_true(X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn,
					      sizeof(cn)) > 0);
	assert_string_equal(cn, "www.example.test");
	exts = X509_REQ_get_extensions(req);
	idx = X509v3_get_ext_by_NID(exts, NID_subject_alt_name, -1);
	assert_true(idx >= 0);
	sans = X509V3_EXT_d2i(X509v3_get_ext(exts, idx));
	assert_int_equal(sk_GENERAL_NAME_num(sans), 1);
	assert_int_equal(sk_GENERAL_NAME_value(sans, 0)->type, GEN_DNS);
	assert_string_equal(
		(const char *)ASN1_STRING_get0_data(sk_GENERAL_NAME_value(sans, 0)->d.dNSName),
		"www.example.test");
	GENERAL_NAMES_free(sans);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	free(der);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_authz_format),       cmocka_unit_test(test_chall_names),
		cmocka_unit_test(test_tlsalpn_cert_extension), cmocka_unit_test(test_table_http01),
		cmocka_unit_test(test_table_tlsalpn01),	       cmocka_unit_test(test_csr_contents),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
