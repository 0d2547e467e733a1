// SPDX-License-Identifier: GPL-2.0
#include "tlsalpn.h"

#include <errno.h>
#include <string.h>

#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "jws.h"

/* The validation server only looks at this certificate for the moment of
 * one handshake; a week covers any clock skew between it and us. */
#define TLSALPN_VALID_SECS (7 * 24 * 3600L)

/* extnValue is the DER of Authorization ::= OCTET STRING (SIZE (32)),
 * so the extension carries an OCTET STRING inside its OCTET STRING. */
static X509_EXTENSION *acme_identifier_ext(const char *key_authz)
{
	uint8_t der[2 + SHA256_DIGEST_LENGTH] = { V_ASN1_OCTET_STRING, SHA256_DIGEST_LENGTH };
	ASN1_OBJECT *oid = OBJ_txt2obj(XLB_ACME_IDENTIFIER_OID, 1);
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;

	SHA256((const uint8_t *)key_authz, strlen(key_authz), der + 2);
	if (oid && value && ASN1_OCTET_STRING_set(value, der, sizeof(der)))
		ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value);
	ASN1_OCTET_STRING_free(value);
	ASN1_OBJECT_free(oid);
	return ext;
}

static int add_san(X509 *x, const char *name)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	int err = -ENOMEM;

	if (!names || !gn || !ia5 || !ASN1_STRING_set(ia5, name, (int)strlen(name)))
		goto out;
	GENERAL_NAME_set0_value(gn, GEN_DNS, ia5);
	ia5 = NULL;
	if (!sk_GENERAL_NAME_push(names, gn))
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, X509V3_ADD_REPLACE) == 1)
		err = 0;
out:
	ASN1_IA5STRING_free(ia5);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return err;
}

static int set_serial_and_times(X509 *x)
{
	uint8_t rnd[16];
	BIGNUM *bn = NULL;
	int err = -EINVAL;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	rnd[0] &= 0x7f; /* a positive INTEGER */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), -TLSALPN_VALID_SECS) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), TLSALPN_VALID_SECS))
		err = 0;
	BN_free(bn);
	return err;
}

static int fill_cert(X509 *x, EVP_PKEY *key, const char *name, const char *key_authz)
{
	X509_NAME *subj = X509_get_subject_name(x);
	X509_EXTENSION *ext;
	int err;

	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_pubkey(x, key) ||
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const uint8_t *)name, -1, -1,
					0) ||
	    !X509_set_issuer_name(x, subj))
		return -ENOMEM;
	err = set_serial_and_times(x);
	if (!err)
		err = add_san(x, name);
	if (err)
		return err;
	ext = acme_identifier_ext(key_authz);
	if (!ext)
		return -ENOMEM;
	err = X509_add_ext(x, ext, -1) ? 0 : -ENOMEM;
	X509_EXTENSION_free(ext);
	if (!err && !X509_sign(x, key, EVP_sha256()))
		err = -EINVAL;
	return err;
}

int xlb_acme_tlsalpn_cert(const char *name, const char *key_authz, X509 **cert, EVP_PKEY **key)
{
	EVP_PKEY *k = xlb_jws_keygen();
	X509 *x = X509_new();
	int err = -ENOMEM;

	if (!k || !x)
		goto fail;
	err = fill_cert(x, k, name, key_authz);
	if (err)
		goto fail;
	*cert = x;
	*key = k;
	return 0;
fail:
	X509_free(x);
	EVP_PKEY_free(k);
	return err;
}
