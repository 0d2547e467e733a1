// SPDX-License-Identifier: GPL-2.0
#include "csr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

static int add_san(X509_REQ *req, const char *name)
{
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *ext = NULL;
	char *value = NULL;
	int err = -ENOMEM;

	if (!exts || asprintf(&value, "DNS:%s", name) < 0) {
		value = NULL;
		goto out;
	}
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, value);
	if (!ext) {
		err = -EINVAL;
		goto out;
	}
	if (!sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	/* the extension belongs to the stack now, and goes with it */
	err = X509_REQ_add_extensions(req, exts) ? 0 : -ENOMEM;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	free(value);
	return err;
}

static int fill_req(X509_REQ *req, const char *name, EVP_PKEY *key)
{
	X509_NAME *subj = X509_REQ_get_subject_name(req);
	int err;

	/* CN holds at most 64 characters (RFC 5280 ub-common-name); a longer
	 * name goes in the SAN alone */
	if (strlen(name) <= 64 &&
	    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const uint8_t *)name, -1, -1, 0))
		return -ENOMEM;
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, key))
		return -ENOMEM;
	err = add_san(req, name);
	if (!err && !X509_REQ_sign(req, key, EVP_sha256()))
		err = -EINVAL;
	return err;
}

int xlb_acme_csr(const char *name, EVP_PKEY *key, uint8_t **der, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	uint8_t *buf = NULL;
	int n, err = -ENOMEM;

	if (!req)
		return -ENOMEM;
	err = fill_req(req, name, key);
	if (err)
		goto out;
	n = i2d_X509_REQ(req, &buf);
	if (n <= 0) {
		err = -ENOMEM;
		goto out;
	}
	/* OpenSSL allocated it; hand the caller memory free() can release */
	*der = malloc((size_t)n);
	if (*der) {
		memcpy(*der, buf, (size_t)n);
		*len = (size_t)n;
	}
	err = *der ? 0 : -ENOMEM;
	OPENSSL_free(buf);
out:
	X509_REQ_free(req);
	return err;
}
