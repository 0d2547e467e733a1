// SPDX-License-Identifier: GPL-2.0
#include "cert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>

X509 *xlb_acme_cert_leaf(const char *chain_pem)
{
	BIO *b = BIO_new_mem_buf(chain_pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return x;
}

char *xlb_acme_key_pem(EVP_PKEY *key)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *pem = NULL;
	long len;

	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
		len = BIO_get_mem_data(b, &data);
		pem = len > 0 ? strndup(data, (size_t)len) : NULL;
	}
	BIO_free(b);
	return pem;
}

static EVP_PKEY *read_key(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	return k;
}

static int asn1_time_to_time_t(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

static int serial_hex(X509 *x, char out[XLB_ACME_SERIAL_LEN])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int err = -EINVAL;

	if (hex && strlen(hex) < XLB_ACME_SERIAL_LEN) {
		strcpy(out, hex);
		err = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return err;
}

int xlb_acme_cert_parse(struct xlb_acme_cert *c)
{
	X509 *leaf = c->chain_pem ? xlb_acme_cert_leaf(c->chain_pem) : NULL;
	EVP_PKEY *key = c->key_pem ? read_key(c->key_pem) : NULL;
	int err = -EINVAL;

	if (!leaf || !key || X509_check_private_key(leaf, key) != 1)
		goto out;
	err = asn1_time_to_time_t(X509_get0_notBefore(leaf), &c->not_before);
	if (!err)
		err = asn1_time_to_time_t(X509_get0_notAfter(leaf), &c->not_after);
	if (!err)
		err = serial_hex(leaf, c->serial);
out:
	EVP_PKEY_free(key);
	X509_free(leaf);
	return err;
}

void xlb_acme_cert_free(struct xlb_acme_cert *c)
{
	if (!c)
		return;
	free(c->name);
	free(c->chain_pem);
	if (c->key_pem)
		OPENSSL_cleanse(c->key_pem, strlen(c->key_pem));
	free(c->key_pem);
	free(c);
}
