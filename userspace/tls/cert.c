// SPDX-License-Identifier: GPL-2.0
#include "cert.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* a DNS name is at most 253 characters; a wildcard adds nothing to that */
#define DNS_NAME_MAX 253

/* An encrypted key has no one to type its passphrase: refuse it. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

static BIO *bio_of(const char *text, size_t len)
{
	if (len > INT_MAX)
		return NULL;
	return BIO_new_mem_buf(text, (int)len);
}

/* The leaf and what follows it; the first certificate in the text is
 * the leaf, as in nginx's and haproxy's files. */
static int read_certs(const char *text, size_t len, struct xlb_tls_cert *c, const char **why)
{
	BIO *bio = bio_of(text, len);
	X509 *x;
	int err = 0;

	if (!bio)
		return -ENOMEM;
	c->chain = sk_X509_new_null();
	if (!c->chain) {
		err = -ENOMEM;
		goto out;
	}
	/* the end of the text is an error in OpenSSL's queue: keep it out of
	 * the caller's */
	ERR_set_mark();
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
		if (!c->leaf) {
			c->leaf = x;
		} else if (!sk_X509_push(c->chain, x)) {
			X509_free(x);
			err = -ENOMEM;
			break;
		}
	}
	ERR_pop_to_mark();
	if (!err && !c->leaf) {
		*why = "no certificate in PEM";
		err = -EINVAL;
	}
out:
	BIO_free(bio);
	return err;
}

static int read_key(const char *text, size_t len, struct xlb_tls_cert *c, const char **why)
{
	BIO *bio = bio_of(text, len);

	if (!bio)
		return -ENOMEM;
	ERR_set_mark();
	c->key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	ERR_pop_to_mark();
	BIO_free(bio);
	if (!c->key) {
		*why = "no private key in PEM, or an encrypted one";
		return -EINVAL;
	}
	return 0;
}

/* Lower case, without a final dot; NULL for what cannot be a DNS name
 * (empty, too long, a NUL inside). */
static char *dns_name_dup(const unsigned char *s, size_t len)
{
	char *name;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || memchr(s, '\0', len))
		return NULL;
	name = malloc(len + 1);
	if (!name)
		return NULL;
	for (size_t i = 0; i < len; i++)
		name[i] = (char)tolower(s[i]);
	name[len] = '\0';
	return name;
}

static int add_name(struct xlb_tls_cert *c, const unsigned char *s, size_t len)
{
	char *name = dns_name_dup(s, len);
	char **names;

	if (!name)
		return 0; /* not a DNS name: nothing to index */
	for (size_t i = 0; i < c->n_names; i++) {
		if (strcmp(c->names[i], name) == 0) {
			free(name);
			return 0;
		}
	}
	names = realloc(c->names, (c->n_names + 1) * sizeof(*names));
	if (!names) {
		free(name);
		return -ENOMEM;
	}
	c->names = names;
	c->names[c->n_names++] = name;
	return 0;
}

static int names_from_san(struct xlb_tls_cert *c)
{
	GENERAL_NAMES *san = X509_get_ext_d2i(c->leaf, NID_subject_alt_name, NULL, NULL);
	int err = 0;

	for (int i = 0; san && i < sk_GENERAL_NAME_num(san) && !err; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(san, i);

		if (gn->type != GEN_DNS)
			continue;
		err = add_name(c, ASN1_STRING_get0_data(gn->d.dNSName),
			       (size_t)ASN1_STRING_length(gn->d.dNSName));
	}
	GENERAL_NAMES_free(san);
	return err;
}

/* Only for a certificate without DNS names in subjectAltName, as
 * RFC 6125 asks: a CN is never looked at beside a SAN. */
static int name_from_cn(struct xlb_tls_cert *c)
{
	const X509_NAME *subject = X509_get_subject_name(c->leaf);
	int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int len, err;

	if (idx < 0)
		return 0;
	len = ASN1_STRING_to_UTF8(&utf8,
				  X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx)));
	if (len < 0)
		return 0;
	err = add_name(c, utf8, (size_t)len);
	OPENSSL_free(utf8);
	return err;
}

static int asn1_time_to_unix(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

static void fill_issuer(struct xlb_tls_cert *c)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	if (bio && X509_NAME_print_ex(bio, X509_get_issuer_name(c->leaf), 0, XN_FLAG_RFC2253) >= 0)
		n = BIO_read(bio, c->issuer, sizeof(c->issuer) - 1);
	c->issuer[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

static int fill_serial(struct xlb_tls_cert *c)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->leaf), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	int err = 0;

	if (!hex)
		err = -ENOMEM;
	else if (strlen(hex) >= sizeof(c->serial))
		err = -EINVAL; /* longer than RFC 5280 allows */
	else
		strcpy(c->serial, hex);
	OPENSSL_free(hex);
	BN_free(bn);
	return err;
}

static int check_leaf(struct xlb_tls_cert *c, time_t now, const char **why)
{
	if (asn1_time_to_unix(X509_get0_notBefore(c->leaf), &c->not_before) ||
	    asn1_time_to_unix(X509_get0_notAfter(c->leaf), &c->not_after)) {
		*why = "unreadable validity dates";
		return -EINVAL;
	}
	if (now < c->not_before) {
		*why = "certificate not yet valid";
		return -EINVAL;
	}
	if (now > c->not_after) {
		*why = "certificate expired";
		return -EINVAL;
	}
	if (X509_check_private_key(c->leaf, c->key) != 1) {
		ERR_clear_error();
		*why = "private key does not match the certificate";
		return -EINVAL;
	}
	if (fill_serial(c)) {
		*why = "unreadable serial number";
		return -EINVAL;
	}
	fill_issuer(c);
	return 0;
}

int xlb_tls_cert_parse(const char *crt, size_t crt_len, const char *key, size_t key_len, time_t now,
		       struct xlb_tls_cert **out, const char **why)
{
	struct xlb_tls_cert *c = calloc(1, sizeof(*c));
	int err;

	*why = NULL;
	if (!c)
		return -ENOMEM;
	err = read_certs(crt, crt_len, c, why);
	if (!err)
		err = key ? read_key(key, key_len, c, why) : read_key(crt, crt_len, c, why);
	if (!err)
		err = check_leaf(c, now, why);
	if (!err)
		err = names_from_san(c);
	if (!err && c->n_names == 0)
		err = name_from_cn(c);
	if (err == -ENOMEM && !*why)
		*why = "out of memory";
	if (err) {
		xlb_tls_cert_free(c);
		return err;
	}
	*out = c;
	return 0;
}

void xlb_tls_cert_free(struct xlb_tls_cert *c)
{
	if (!c)
		return;
	X509_free(c->leaf);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	for (size_t i = 0; i < c->n_names; i++)
		free(c->names[i]);
	free(c->names);
	free(c);
}

int xlb_tls_pem_unescape(const char *in, char **out)
{
	char *s = malloc(strlen(in) + 1), *o = s;

	if (!s)
		return -ENOMEM;
	for (const char *p = in; *p; p++) {
		if (p[0] == '\\' && p[1] == 'n') {
			*o++ = '\n';
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	*out = s;
	return 0;
}
