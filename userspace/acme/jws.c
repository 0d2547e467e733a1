// SPDX-License-Identifier: GPL-2.0
#include "jws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/sha.h>

#include "b64url.h"

/* A P-256 coordinate */
#define COORD_LEN 32
/* Room for the base64url of a 16384-bit RSA modulus */
#define B64_BIG 2800

EVP_PKEY *xlb_jws_keygen(void)
{
	return EVP_EC_gen("P-256");
}

/* A big-endian BIGNUM parameter of key as base64url; pad: its fixed
 * width in bytes, or 0 for its minimal length (RSA n and e). */
static int bn_param_b64(EVP_PKEY *key, const char *param, int pad, char *out, size_t out_len)
{
	uint8_t bytes[B64_BIG / 4 * 3];
	BIGNUM *bn = NULL;
	int n, err = -EINVAL;

	if (!EVP_PKEY_get_bn_param(key, param, &bn))
		return -EINVAL;
	n = pad ? pad : BN_num_bytes(bn);
	if (n > 0 && (size_t)n <= sizeof(bytes) && BN_bn2binpad(bn, bytes, n) == n)
		err = xlb_b64url_encode(bytes, (size_t)n, out, out_len) < 0 ? -ENOSPC : 0;
	BN_free(bn);
	return err;
}

static int ec_jwk(EVP_PKEY *key, char **out)
{
	char group[32], x[64], y[64];

	if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
					    NULL) ||
	    strcmp(group, SN_X9_62_prime256v1))
		return -EINVAL;
	if (bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, COORD_LEN, x, sizeof(x)) ||
	    bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, COORD_LEN, y, sizeof(y)))
		return -EINVAL;
	/* base64url needs no escaping in a JSON string */
	return asprintf(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y) <
			       0
		       ? -ENOMEM
		       : 0;
}

static int rsa_jwk(EVP_PKEY *key, char **out)
{
	char *n = malloc(B64_BIG), e[32];
	int err;

	if (!n)
		return -ENOMEM;
	err = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0, n, B64_BIG);
	if (!err)
		err = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0, e, sizeof(e));
	if (!err && asprintf(out, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e, n) < 0)
		err = -ENOMEM;
	free(n);
	return err;
}

int xlb_jws_jwk(EVP_PKEY *key, char **out)
{
	if (EVP_PKEY_is_a(key, "EC"))
		return ec_jwk(key, out);
	if (EVP_PKEY_is_a(key, "RSA"))
		return rsa_jwk(key, out);
	return -EINVAL;
}

int xlb_jws_thumbprint_of(const char *canonical_jwk, char out[XLB_JWS_THUMB_LEN + 1])
{
	uint8_t digest[SHA256_DIGEST_LENGTH];

	SHA256((const uint8_t *)canonical_jwk, strlen(canonical_jwk), digest);
	return xlb_b64url_encode(digest, sizeof(digest), out, XLB_JWS_THUMB_LEN + 1) < 0 ? -ENOSPC
											 : 0;
}

int xlb_jws_thumbprint(EVP_PKEY *key, char out[XLB_JWS_THUMB_LEN + 1])
{
	char *jwk;
	int err = xlb_jws_jwk(key, &jwk);

	if (err)
		return err;
	err = xlb_jws_thumbprint_of(jwk, out);
	free(jwk);
	return err;
}

/* OpenSSL signs ECDSA as DER SEQUENCE { r INTEGER, s INTEGER }; JOSE
 * wants both as fixed-width big-endian numbers side by side. */
static int der_to_raw(const uint8_t *der, size_t len, uint8_t sig[XLB_ES256_SIG_LEN])
{
	const uint8_t *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *s;
	int err = -EINVAL;

	if (!es)
		return -EINVAL;
	if (p != der + len)
		goto out;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, COORD_LEN) == COORD_LEN &&
	    BN_bn2binpad(s, sig + COORD_LEN, COORD_LEN) == COORD_LEN)
		err = 0;
out:
	ECDSA_SIG_free(es);
	return err;
}

int xlb_jws_es256(EVP_PKEY *key, const void *data, size_t len, uint8_t sig[XLB_ES256_SIG_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t der[128]; /* a P-256 DER signature is at most 72 bytes */
	size_t der_len = sizeof(der);
	int err = -EINVAL;

	if (!md)
		return -ENOMEM;
	/* a larger curve's r and s would not fit the fixed 32-byte halves */
	if (EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == 256 &&
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(md, der, &der_len, data, len) == 1)
		err = der_to_raw(der, der_len, sig);
	EVP_MD_CTX_free(md);
	return err;
}

/* The protected header, serialized, into *out. */
static int protected_header(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
			    char **out)
{
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	char *jwk = NULL;
	int err = -ENOMEM;

	if (!h)
		return -ENOMEM;
	if (kid) {
		if (json_object_set_new(h, "kid", json_string(kid)))
			goto out;
	} else {
		err = xlb_jws_jwk(key, &jwk);
		if (err)
			goto out;
		err = -ENOMEM;
		if (json_object_set_new(h, "jwk", json_loads(jwk, 0, NULL)))
			goto out;
	}
	*out = json_dumps(h, JSON_COMPACT);
	err = *out ? 0 : -ENOMEM;
out:
	free(jwk);
	json_decref(h);
	return err;
}

int xlb_jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
		 const char *payload, char **out)
{
	char *hdr = NULL, *hdr64 = NULL, *pay64 = NULL, *input = NULL;
	char sig64[XLB_B64URL_LEN(XLB_ES256_SIG_LEN) + 1];
	uint8_t sig[XLB_ES256_SIG_LEN];
	json_t *jws = NULL;
	int err;

	if (!nonce || !url)
		return -EINVAL;
	err = protected_header(key, kid, nonce, url, &hdr);
	if (err)
		return err;
	err = -ENOMEM;
	hdr64 = xlb_b64url_encode_alloc((const uint8_t *)hdr, strlen(hdr));
	pay64 = xlb_b64url_encode_alloc((const uint8_t *)(payload ? payload : ""),
					payload ? strlen(payload) : 0);
	if (!hdr64 || !pay64 || asprintf(&input, "%s.%s", hdr64, pay64) < 0) {
		input = NULL;
		goto out;
	}
	/* JWS Signing Input: ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) */
	err = xlb_jws_es256(key, input, strlen(input), sig);
	if (err)
		goto out;
	xlb_b64url_encode(sig, sizeof(sig), sig64, sizeof(sig64));
	jws = json_pack("{s:s, s:s, s:s}", "protected", hdr64, "payload", pay64, "signature",
			sig64);
	*out = jws ? json_dumps(jws, JSON_COMPACT) : NULL;
	err = *out ? 0 : -ENOMEM;
out:
	json_decref(jws);
	free(input);
	free(pay64);
	free(hdr64);
	free(hdr);
	return err;
}
