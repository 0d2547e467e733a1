// SPDX-License-Identifier: GPL-2.0
#include "envcerts.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* "env:" + a container's name + ":DEFAULT_SSL_CERT" */
#define SOURCE_LEN (XLB_DOCKER_NAME_LEN + 32)
#define DETAIL_LEN 512

/* One certificate a container offered, as last handed to the store. */
struct offer {
	char id[XLB_DOCKER_ID_LEN];
	const char *var;	 /* static: "SSL_CERT" or "DEFAULT_SSL_CERT" */
	char source[SOURCE_LEN]; /* what the store keeps it under */
	uint64_t pem_sig;	 /* a new PEM is reported afresh */
	int result;		 /* the store's last answer, logged when it changes */
	bool seen;		 /* offered in the current sync */
};

struct xlb_envcerts {
	struct xlb_envcerts_store store;
	struct offer *offers;
	size_t n_offers;
};

/* Routed names and who holds their TLS, for one sync; the strings are
 * the state's, unchanged while the sync runs. */
struct holder {
	const char *host;
	const char *service; /* a Docker service's name, or NULL */
};

struct holders {
	struct holder *v;
	size_t n;
	const char **allowed, **denied; /* for one offer, NULL-terminated */
	int err;
};

bool xlb_envcerts_wanted(bool docker)
{
	const char *deflt = getenv("DEFAULT_SSL_CERT");

	return docker || (deflt && *deflt);
}

/* The operator's default, as dockercloud-haproxy's balancer container
 * took it. */
static int default_from_env(const struct xlb_envcerts_store *st)
{
	const char *env = getenv("DEFAULT_SSL_CERT");
	char *pem;
	int err;

	if (!env || !*env)
		return 0;
	err = st->unescape(env, &pem);
	if (err)
		return err;
	/* the store reports a refusal; xlbd serves on without a default */
	err = st->add_pem(st->certs, "env", pem, strlen(pem), st->as_default);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	return err == -ENOMEM ? err : 0;
}

int xlb_envcerts_new(const struct xlb_envcerts_store *store, struct xlb_envcerts **out)
{
	struct xlb_envcerts *ec = calloc(1, sizeof(*ec));
	int err;

	if (!ec)
		return -ENOMEM;
	ec->store = *store;
	err = default_from_env(&ec->store);
	if (err) {
		free(ec);
		return err;
	}
	*out = ec;
	return 0;
}

void xlb_envcerts_free(struct xlb_envcerts *ec)
{
	if (!ec)
		return;
	free(ec->offers);
	free(ec);
}

/* --- who holds what ------------------------------------------------------ */

/* Only a Docker service's names are a container's to hold: a config or
 * xlbctl service of the same name keeps the containers out of it. */
static void holder_add(const char *host, const char *service, enum xlb_origin origin, void *arg)
{
	struct holders *h = arg;
	struct holder *v;

	if (h->err)
		return;
	v = realloc(h->v, (h->n + 1) * sizeof(*v));
	if (!v) {
		h->err = -ENOMEM;
		return;
	}
	h->v = v;
	v[h->n++] = (struct holder){ host, origin == XLB_ORIGIN_DOCKER ? service : NULL };
}

static int holders_read(const struct xlb_state *st, struct holders *h)
{
	memset(h, 0, sizeof(*h));
	xlb_state_for_each_tls_holder(st, holder_add, h);
	if (!h->err) {
		h->allowed = calloc(h->n + 1, sizeof(*h->allowed));
		h->denied = calloc(h->n + 1, sizeof(*h->denied));
		if (!h->allowed || !h->denied)
			h->err = -ENOMEM;
	}
	return h->err;
}

static void holders_free(struct holders *h)
{
	free(h->v);
	free(h->allowed);
	free(h->denied);
}

/* The names service holds (allowed), and every other routed name. */
static void holders_split(struct holders *h, const char *service)
{
	size_t na = 0, nd = 0;

	for (size_t i = 0; i < h->n; i++) {
		if (h->v[i].service && strcmp(h->v[i].service, service) == 0)
			h->allowed[na++] = h->v[i].host;
		else
			h->denied[nd++] = h->v[i].host;
	}
	h->allowed[na] = NULL;
	h->denied[nd] = NULL;
}

static void names_join(const char *const *names, char *buf, size_t size)
{
	size_t off = 0;

	snprintf(buf, size, "-");
	for (size_t i = 0; names[i] && off < size; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? "," : "", names[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

/* --- offers ------------------------------------------------------------- */

static struct offer *offer_find(struct xlb_envcerts *ec, const struct xlb_dcert *c)
{
	for (size_t i = 0; i < ec->n_offers; i++)
		if (strcmp(ec->offers[i].id, c->id) == 0 && strcmp(ec->offers[i].var, c->var) == 0)
			return &ec->offers[i];
	return NULL;
}

/* From a container, DEFAULT_SSL_CERT would let anyone who can start one
 * answer every unknown name: it counts as that container's SSL_CERT. */
static void warn_not_default(const struct xlb_dcert *c)
{
	pr_warn("event=env_cert_not_default container=%s service=%s var=DEFAULT_SSL_CERT "
		"reason=\"a container's DEFAULT_SSL_CERT is served as its SSL_CERT, for its "
		"service's names only; the default comes from xlbd's own environment\"",
		c->container, c->service);
}

static struct offer *offer_get(struct xlb_envcerts *ec, const struct xlb_dcert *c)
{
	struct offer *o = offer_find(ec, c);

	if (o)
		return o;
	o = realloc(ec->offers, (ec->n_offers + 1) * sizeof(*o));
	if (!o)
		return NULL;
	ec->offers = o;
	o = &o[ec->n_offers++];
	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "%s", c->id);
	o->var = strcmp(c->var, "SSL_CERT") == 0 ? "SSL_CERT" : "DEFAULT_SSL_CERT";
	if (o->var[0] == 'D')
		warn_not_default(c);
	return o;
}

/* FNV-1a: only to tell a changed PEM, which the store checks itself. */
static uint64_t pem_sig(const char *pem)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)pem; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static void log_refusal(const struct xlb_dcert *c, int err, const char *detail,
			const char *const *held)
{
	char names[512];

	if (err == -EINVAL) {
		pr_err("event=env_cert_refused container=%s service=%s var=%s reason=\"%s\"",
		       c->container, c->service, c->var, detail);
	} else if (err == -ENOENT) {
		names_join(held, names, sizeof(names));
		pr_err("event=env_cert_refused container=%s service=%s var=%s names=%s held=%s "
		       "reason=\"its service holds none of the certificate's names as an https "
		       "host\"",
		       c->container, c->service, c->var, detail, names);
	} else if (err) {
		pr_err("event=env_cert_failed container=%s var=%s err=\"%s\"", c->container, c->var,
		       strerror(-err));
	}
}

/* Where the store keeps it: the container's name says whose it is in
 * the listing and the log. */
static void source_of(const struct xlb_dcert *c, char *buf)
{
	snprintf(buf, SOURCE_LEN, "env:%s%s", c->container,
		 strcmp(c->var, "SSL_CERT") ? ":DEFAULT_SSL_CERT" : "");
}

static int offer_install(struct xlb_envcerts *ec, struct holders *h, const char *source,
			 const struct xlb_dcert *c, char *detail)
{
	char *pem;
	int err = ec->store.unescape(c->pem, &pem);

	if (err)
		return err;
	holders_split(h, c->service);
	err = ec->store.add_scoped(ec->store.certs, source, pem, strlen(pem), h->allowed, h->denied,
				   detail, DETAIL_LEN);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	return err;
}

/* A source another container took over in this sync (a name reused by a
 * new container, or handed on in renames) is not taken out under it. */
static bool source_taken(const struct xlb_envcerts *ec, const struct offer *self,
			 const char *source)
{
	for (size_t i = 0; i < ec->n_offers; i++)
		if (&ec->offers[i] != self && ec->offers[i].seen &&
		    strcmp(ec->offers[i].source, source) == 0)
			return true;
	return false;
}

static void offer_sync(struct xlb_envcerts *ec, struct holders *h, const struct xlb_dcert *c)
{
	struct offer *o = offer_get(ec, c);
	char source[SOURCE_LEN], detail[DETAIL_LEN] = "";
	uint64_t sig = pem_sig(c->pem);
	int err;

	if (!o) {
		pr_err("event=env_cert_failed container=%s var=%s err=\"%s\"", c->container, c->var,
		       strerror(ENOMEM));
		return;
	}
	source_of(c, source);
	if (o->source[0] && strcmp(o->source, source) != 0 && !source_taken(ec, o, o->source))
		ec->store.remove_scoped(ec->store.certs, o->source); /* renamed */
	memcpy(o->source, source, sizeof(o->source));
	err = offer_install(ec, h, source, c, detail);
	if (err != o->result || sig != o->pem_sig)
		log_refusal(c, err, detail, h->allowed);
	o->result = err;
	o->pem_sig = sig;
	o->seen = true;
}

/* A container gone (or no longer balanced) takes its certificate along;
 * a replica offering the same one keeps serving it under its own. */
static void offers_drop_unseen(struct xlb_envcerts *ec)
{
	for (size_t i = ec->n_offers; i-- > 0;) {
		struct offer *o = &ec->offers[i];

		if (o->seen)
			continue;
		if (!source_taken(ec, o, o->source))
			ec->store.remove_scoped(ec->store.certs, o->source);
		*o = ec->offers[--ec->n_offers];
	}
}

void xlb_envcerts_sync(struct xlb_envcerts *ec, const struct xlb_state *st,
		       const struct xlb_dmodel *m)
{
	struct holders h;

	if (!ec)
		return;
	if (holders_read(st, &h)) {
		/* nothing changes: the next sync tries again */
		pr_err("event=env_certs_failed err=\"%s\"", strerror(ENOMEM));
		holders_free(&h);
		return;
	}
	for (size_t i = 0; i < ec->n_offers; i++)
		ec->offers[i].seen = false;
	for (size_t i = 0; i < m->n_certs; i++)
		offer_sync(ec, &h, &m->certs[i]);
	offers_drop_unseen(ec);
	holders_free(&h);
}
