// SPDX-License-Identifier: GPL-2.0
/* base64url round trips and strictness, the JWK thumbprint against RFC
 * 7638's example, and a JWS made by the client checked with OpenSSL
 * alone, from the key its own header carries. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include "acme/b64url.h"
#include "acme/jws.h"

/* RFC 7638 section 3.1 */
static const char rfc7638_n[] =
	"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
	"BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
	"65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
	"bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_"
	"xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumb[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

static void test_b64url_vectors(void **state)
{
	/* RFC 4648 section 10, without padding, and the two url-safe
	 * characters */
	static const struct {
		const char *in, *out;
	} v[] = { { "", "" },
		  { "f", "Zg" },
		  { "fo", "Zm8" },
		  { "foo", "Zm9v" },
		  { "foob", "Zm9vYg" },
		  { "fooba", "Zm9vYmE" },
		  { "foobar", "Zm9vYmFy" },
		  { "\xfb\xff", "-_8" } };
	char out[32];
	uint8_t back[32];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].in);

		assert_int_equal(xlb_b64url_encode((const uint8_t *)v[i].in, n, out, sizeof(out)),
				 strlen(v[i].out));
		assert_string_equal(out, v[i].out);
		assert_int_equal(XLB_B64URL_LEN(n), strlen(v[i].out));
		assert_int_equal(xlb_b64url_decode(out, strlen(out), back, sizeof(back)), n);
		assert_memory_equal(back, v[i].in, n);
	}
}

static void test_b64url_round_trip_all_lengths(void **state)
{
	uint8_t in[256], back[256];
	char out[400];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		int len = xlb_b64url_encode(in, n, out, sizeof(out));

		assert_int_equal(len, XLB_B64URL_LEN(n));
		assert_int_equal(xlb_b64url_decode(out, (size_t)len, back, sizeof(back)), n);
		assert_memory_equal(back, in, n);
	}
}

static void test_b64url_rejects(void **state)
{
	uint8_t out[16];
	char small[4];

	(void)state;
	assert_int_equal(xlb_b64url_decode("Zg==", 4, out, sizeof(out)), -EINVAL); /* padding */
	assert_int_equal(xlb_b64url_decode("Zm+v", 4, out, sizeof(out)), -EINVAL); /* not url */
	assert_int_equal(xlb_b64url_decode("Z", 1, out, sizeof(out)), -EINVAL);	   /* 6 bits */
	assert_int_equal(xlb_b64url_decode("Zh", 2, out, sizeof(out)), -EINVAL);   /* spare bits */
	assert_int_equal(xlb_b64url_decode("Zm9vYmFy", 8, out, 5), -ENOSPC);
	assert_int_equal(xlb_b64url_encode((const uint8_t *)"foo", 3, small, 4), -ENOSPC);
}

static BIGNUM *b64_bn(const char *s)
{
	uint8_t buf[512];
	int n = xlb_b64url_decode(s, strlen(s), buf, sizeof(buf));

	assert_true(n > 0);
	return BN_bin2bn(buf, n, NULL);
}

/* An EVP_PKEY from OSSL_PARAMs built by fill */
static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	assert_non_null(params);
	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params), 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return key;
}

static void test_thumbprint_rfc7638(void **state)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *n = b64_bn(rfc7638_n), *e = b64_bn("AQAB");
	char thumb[XLB_JWS_THUMB_LEN + 1], *jwk = NULL, *want = NULL;
	EVP_PKEY *key;

	(void)state;
	assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
	assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
	key = key_from_params("RSA", bld);
	assert_int_equal(xlb_jws_jwk(key, &jwk), 0);
	assert_true(asprintf(&want, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n) >
		    0);
	assert_string_equal(jwk, want);
	assert_int_equal(xlb_jws_thumbprint(key, thumb), 0);
	assert_string_equal(thumb, rfc7638_thumb);
	assert_int_equal(xlb_jws_thumbprint_of(want, thumb), 0);
	assert_string_equal(thumb, rfc7638_thumb);
	free(want);
	free(jwk);
	EVP_PKEY_free(key);
	BN_free(e);
	BN_free(n);
	OSSL_PARAM_BLD_free(bld);
}

static void test_ec_jwk_shape(void **state)
{
	static const char ec_prefix[] = "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"";
	EVP_PKEY *key = xlb_jws_keygen();
	json_t *j;
	char *jwk = NULL;
	uint8_t coord[64];

	(void)state;
	assert_non_null(key);
	assert_int_equal(xlb_jws_jwk(key, &jwk), 0);
	/* members in lexicographic order, no whitespace: RFC 7638's form */
	assert_int_equal(strncmp(jwk, ec_prefix, strlen(ec_prefix)), 0);
	assert_null(strchr(jwk, ' '));
	j = json_loads(jwk, 0, NULL);
	assert_non_null(j);
	/* fixed-width coordinates, leading zeros kept */
	assert_int_equal(xlb_b64url_decode(json_string_value(json_object_get(j, "x")), 43, coord,
					   sizeof(coord)),
			 32);
	assert_int_equal(xlb_b64url_decode(json_string_value(json_object_get(j, "y")), 43, coord,
					   sizeof(coord)),
			 32);
	json_decref(j);
	free(jwk);
	EVP_PKEY_free(key);
}

/* The P-256 public key a JWK names */
static EVP_PKEY *key_from_jwk(json_t *jwk)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	uint8_t pub[65] = { 0x04 };
	EVP_PKEY *key;

	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
	assert_int_equal(xlb_b64url_decode(json_string_value(json_object_get(jwk, "x")), 43,
					   pub + 1, 32),
			 32);
	assert_int_equal(xlb_b64url_decode(json_string_value(json_object_get(jwk, "y")), 43,
					   pub + 33, 32),
			 32);
	assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0));
	assert_true(
		OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)));
	key = key_from_params("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* Verifies a raw r||s signature over input with OpenSSL's DER form. */
static int verify_es256(EVP_PKEY *key, const char *input, const char *sig64)
{
	uint8_t raw[64], *der = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int der_len, ok;

	assert_int_equal(xlb_b64url_decode(sig64, strlen(sig64), raw, sizeof(raw)), 64);
	assert_int_equal(
		ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)), 1);
	der_len = i2d_ECDSA_SIG(sig, &der);
	assert_true(der_len > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
	ok = EVP_DigestVerify(md, der, (size_t)der_len, (const uint8_t *)input, strlen(input));
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

static json_t *decode_part(const char *b64)
{
	uint8_t buf[2048];
	int n = xlb_b64url_decode(b64, strlen(b64), buf, sizeof(buf));

	assert_true(n >= 0);
	return json_loadb((const char *)buf, (size_t)n, 0, NULL);
}

static void test_jws_verifies_with_openssl(void **state)
{
	EVP_PKEY *key = xlb_jws_keygen(), *pub;
	json_t *jws, *hdr, *payload;
	char *text = NULL, *input = NULL;
	const char *prot, *pay, *sig;

	(void)state;
	assert_int_equal(xlb_jws_sign(key, NULL, "nonce-1", "https://ca/new-acct",
				      "{\"termsOfServiceAgreed\":true}", &text),
			 0);
	jws = json_loads(text, 0, NULL);
	assert_non_null(jws);
	prot = json_string_value(json_object_get(jws, "protected"));
	pay = json_string_value(json_object_get(jws, "payload"));
	sig = json_string_value(json_object_get(jws, "signature"));
	hdr = decode_part(prot);
	payload = decode_part(pay);
	assert_string_equal(json_string_value(json_object_get(hdr, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(hdr, "nonce")), "nonce-1");
	assert_string_equal(json_string_value(json_object_get(hdr, "url")), "https://ca/new-acct");
	assert_null(json_object_get(hdr, "kid"));
	assert_true(json_is_true(json_object_get(payload, "termsOfServiceAgreed")));
	/* the key in the header checks the signature: it is the signer's */
	pub = key_from_jwk(json_object_get(hdr, "jwk"));
	assert_true(asprintf(&input, "%s.%s", prot, pay) > 0);
	assert_int_equal(verify_es256(pub, input, sig), 1);
	input[0] ^= 1;
	assert_int_equal(verify_es256(pub, input, sig), 0);
	free(input);
	EVP_PKEY_free(pub);
	json_decref(payload);
	json_decref(hdr);
	json_decref(jws);
	free(text);
	EVP_PKEY_free(key);
}

static void test_jws_kid_and_post_as_get(void **state)
{
	EVP_PKEY *key = xlb_jws_keygen();
	json_t *jws, *hdr;
	char *text = NULL;

	(void)state;
	assert_int_equal(
		xlb_jws_sign(key, "https://ca/acct/1", "n2", "https://ca/order/1", NULL, &text), 0);
	jws = json_loads(text, 0, NULL);
	/* POST-as-GET: the payload is empty, not "{}" (RFC 8555 6.3) */
	assert_string_equal(json_string_value(json_object_get(jws, "payload")), "");
	hdr = decode_part(json_string_value(json_object_get(jws, "protected")));
	assert_string_equal(json_string_value(json_object_get(hdr, "kid")), "https://ca/acct/1");
	assert_null(json_object_get(hdr, "jwk"));
	assert_int_equal(xlb_jws_sign(key, NULL, NULL, "https://ca/x", NULL, &text), -EINVAL);
	json_decref(hdr);
	json_decref(jws);
	free(text);
	EVP_PKEY_free(key);
}

static void test_es256_rejects_other_curves(void **state)
{
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	uint8_t sig[XLB_ES256_SIG_LEN];
	char *jwk = NULL;

	(void)state;
	assert_int_equal(xlb_jws_es256(p384, "x", 1, sig), -EINVAL);
	assert_int_equal(xlb_jws_jwk(p384, &jwk), -EINVAL);
	EVP_PKEY_free(p384);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url_vectors),
		cmocka_unit_test(test_b64url_round_trip_all_lengths),
		cmocka_unit_test(test_b64url_rejects),
		cmocka_unit_test(test_thumbprint_rfc7638),
		cmocka_unit_test(test_ec_jwk_shape),
		cmocka_unit_test(test_jws_verifies_with_openssl),
		cmocka_unit_test(test_jws_kid_and_post_as_get),
		cmocka_unit_test(test_es256_rejects_other_curves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
