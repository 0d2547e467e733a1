// SPDX-License-Identifier: GPL-2.0
#include "chall.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsalpn.h"

/* A list: a handful of challenges are pending at a time, one per name
 * being ordered, so a scan is cheaper than anything cleverer. */
struct chall_entry {
	struct chall_entry *next;
	enum xlb_acme_chall type;
	char *key; /* HTTP-01: the token; TLS-ALPN-01: the name */
	char *key_authz;
	X509 *cert;
	EVP_PKEY *pkey;
};

struct xlb_acme_challs {
	pthread_mutex_t lock;
	struct chall_entry *head;
};

const char *xlb_acme_chall_name(enum xlb_acme_chall type)
{
	return type == XLB_ACME_TLSALPN01 ? "tls-alpn-01" : "http-01";
}

int xlb_acme_chall_parse(const char *s, enum xlb_acme_chall *type)
{
	if (strcmp(s, "http-01") == 0)
		*type = XLB_ACME_HTTP01;
	else if (strcmp(s, "tls-alpn-01") == 0)
		*type = XLB_ACME_TLSALPN01;
	else
		return -EINVAL;
	return 0;
}

static bool is_b64url(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return false;
	return true;
}

int xlb_acme_key_authz(const char *token, const char *thumbprint, char **out)
{
	if (!is_b64url(token) || !is_b64url(thumbprint))
		return -EINVAL;
	return asprintf(out, "%s.%s", token, thumbprint) < 0 ? -ENOMEM : 0;
}

struct xlb_acme_challs *xlb_acme_challs_new(void)
{
	struct xlb_acme_challs *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

static void entry_free(struct chall_entry *e)
{
	X509_free(e->cert);
	EVP_PKEY_free(e->pkey);
	free(e->key_authz);
	free(e->key);
	free(e);
}

void xlb_acme_challs_free(struct xlb_acme_challs *t)
{
	if (!t)
		return;
	while (t->head) {
		struct chall_entry *e = t->head;

		t->head = e->next;
		entry_free(e);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* Names compare without case (RFC 4343); tokens exactly. */
static bool entry_is(const struct chall_entry *e, enum xlb_acme_chall type, const char *key)
{
	if (e->type != type)
		return false;
	return type == XLB_ACME_TLSALPN01 ? strcasecmp(e->key, key) == 0 : strcmp(e->key, key) == 0;
}

/* Unlinks the entry for (type, key) and returns it; the lock is held. */
static struct chall_entry *unlink_entry(struct xlb_acme_challs *t, enum xlb_acme_chall type,
					const char *key)
{
	for (struct chall_entry **p = &t->head; *p; p = &(*p)->next) {
		struct chall_entry *e = *p;

		if (entry_is(e, type, key)) {
			*p = e->next;
			return e;
		}
	}
	return NULL;
}

static struct chall_entry *find_entry(struct xlb_acme_challs *t, enum xlb_acme_chall type,
				      const char *key)
{
	for (struct chall_entry *e = t->head; e; e = e->next)
		if (entry_is(e, type, key))
			return e;
	return NULL;
}

/* Takes e over, replacing any entry under the same key. */
static void insert_entry(struct xlb_acme_challs *t, struct chall_entry *e)
{
	struct chall_entry *old;

	pthread_mutex_lock(&t->lock);
	old = unlink_entry(t, e->type, e->key);
	e->next = t->head;
	t->head = e;
	pthread_mutex_unlock(&t->lock);
	if (old)
		entry_free(old);
}

static struct chall_entry *entry_new(enum xlb_acme_chall type, const char *key,
				     const char *key_authz)
{
	struct chall_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->type = type;
	e->key = strdup(key);
	e->key_authz = strdup(key_authz);
	if (!e->key || !e->key_authz) {
		entry_free(e);
		return NULL;
	}
	return e;
}

int xlb_acme_challs_add_http01(struct xlb_acme_challs *t, const char *token, const char *key_authz)
{
	struct chall_entry *e;

	if (!is_b64url(token))
		return -EINVAL;
	e = entry_new(XLB_ACME_HTTP01, token, key_authz);
	if (!e)
		return -ENOMEM;
	insert_entry(t, e);
	return 0;
}

int xlb_acme_challs_add_tlsalpn01(struct xlb_acme_challs *t, const char *name,
				  const char *key_authz)
{
	struct chall_entry *e = entry_new(XLB_ACME_TLSALPN01, name, key_authz);
	int err;

	if (!e)
		return -ENOMEM;
	/* built outside the lock: key generation and signing take a while */
	err = xlb_acme_tlsalpn_cert(name, key_authz, &e->cert, &e->pkey);
	if (err) {
		entry_free(e);
		return err;
	}
	insert_entry(t, e);
	return 0;
}

static void del_entry(struct xlb_acme_challs *t, enum xlb_acme_chall type, const char *key)
{
	struct chall_entry *e;

	pthread_mutex_lock(&t->lock);
	e = unlink_entry(t, type, key);
	pthread_mutex_unlock(&t->lock);
	if (e)
		entry_free(e);
}

void xlb_acme_challs_del_http01(struct xlb_acme_challs *t, const char *token)
{
	del_entry(t, XLB_ACME_HTTP01, token);
}

void xlb_acme_challs_del_tlsalpn01(struct xlb_acme_challs *t, const char *name)
{
	del_entry(t, XLB_ACME_TLSALPN01, name);
}

int xlb_acme_http01_lookup(struct xlb_acme_challs *t, const char *token, char *out, size_t out_len)
{
	struct chall_entry *e;
	int err = -ENOENT;

	pthread_mutex_lock(&t->lock);
	e = find_entry(t, XLB_ACME_HTTP01, token);
	if (e)
		err = (size_t)snprintf(out, out_len, "%s", e->key_authz) < out_len ? 0 : -ENOSPC;
	pthread_mutex_unlock(&t->lock);
	return err;
}

int xlb_acme_tlsalpn01_lookup(struct xlb_acme_challs *t, const char *name, X509 **cert,
			      EVP_PKEY **key)
{
	struct chall_entry *e;
	int err = -ENOENT;

	pthread_mutex_lock(&t->lock);
	e = find_entry(t, XLB_ACME_TLSALPN01, name);
	if (e && X509_up_ref(e->cert)) {
		if (EVP_PKEY_up_ref(e->pkey)) {
			*cert = e->cert;
			*key = e->pkey;
			err = 0;
		} else {
			X509_free(e->cert);
			err = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

size_t xlb_acme_challs_count(struct xlb_acme_challs *t)
{
	size_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (struct chall_entry *e = t->head; e; e = e->next)
		n++;
	pthread_mutex_unlock(&t->lock);
	return n;
}
