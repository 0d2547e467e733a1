// SPDX-License-Identifier: GPL-2.0
#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "b64url.h"
#include "csr.h"
#include "http.h"
#include "jws.h"
#include "lib/log.h"
#include "state.h"

/* Pebble rejects a share of good nonces on purpose, and a real CA may
 * have dropped ours; a few fresh ones in a row succeed or nothing will. */
#define BAD_NONCE_TRIES 5
/* How long an authorization or an order may stay pending or processing */
#define POLL_DEADLINE_SECS 120
/* Between polls when the server names no Retry-After, and the most any
 * Retry-After may make us wait in one go */
#define POLL_DEFAULT_SECS 1
#define POLL_MAX_SECS 10
#define PEM_CHAIN_TYPE "application/pem-certificate-chain"
#define PROBLEM_NS "urn:ietf:params:acme:error:"

struct xlb_acme_client {
	const struct xlb_acme_config *cfg;
	struct xlb_acme_challs *challs;
	const atomic_bool *stop;
	struct xlb_acme_http *http;
	EVP_PKEY *key;
	char thumb[XLB_JWS_THUMB_LEN + 1];
	char *kid;
	char *nonce;
	char *new_nonce_url;
	char *new_account_url;
	char *new_order_url;
	unsigned bad_nonces;
	char err[768];
};

/* An order in progress */
struct order {
	const char *name;
	enum xlb_acme_chall type;
	char *url;
	json_t *obj;
};

static void set_error(struct xlb_acme_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(struct xlb_acme_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
}

const char *xlb_acme_client_error(const struct xlb_acme_client *c)
{
	return c->err;
}

unsigned xlb_acme_client_bad_nonces(const struct xlb_acme_client *c)
{
	return c->bad_nonces;
}

int xlb_acme_client_new(const struct xlb_acme_config *cfg, struct xlb_acme_challs *challs,
			const atomic_bool *stop, struct xlb_acme_client **out)
{
	struct xlb_acme_client *c;
	int err;

	if (!cfg->directory_url || !cfg->state_dir)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cfg = cfg;
	c->challs = challs;
	c->stop = stop;
	err = xlb_acme_http_new(cfg->ca_file, &c->http);
	if (err) {
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void xlb_acme_client_free(struct xlb_acme_client *c)
{
	if (!c)
		return;
	xlb_acme_http_free(c->http);
	EVP_PKEY_free(c->key);
	free(c->kid);
	free(c->nonce);
	free(c->new_nonce_url);
	free(c->new_account_url);
	free(c->new_order_url);
	free(c);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool status_is(const json_t *o, const char *status)
{
	const char *s = jstr(o, "status");

	return s && strcmp(s, status) == 0;
}

static int dup_field(const json_t *o, const char *key, char **out)
{
	const char *s = jstr(o, key);

	if (!s)
		return -EPROTO;
	free(*out);
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

/* Sleeps secs, in steps, so that a stop request is seen within 100 ms. */
static int wait_secs(struct xlb_acme_client *c, long secs)
{
	struct timespec step = { 0, 100 * 1000 * 1000 };

	for (long i = 0; i < secs * 10; i++) {
		if (c->stop && atomic_load(c->stop))
			return -ECANCELED;
		nanosleep(&step, NULL);
	}
	return c->stop && atomic_load(c->stop) ? -ECANCELED : 0;
}

static int http_do(struct xlb_acme_client *c, enum xlb_acme_method m, const char *url,
		   const char *body, const char *accept, struct xlb_acme_resp *r)
{
	int err = xlb_acme_http_do(c->http, m, url, body, accept, r);

	if (err)
		set_error(c, "url=%s err=\"%s\"", url, xlb_acme_http_error(c->http));
	return err;
}

static int load_json(struct xlb_acme_client *c, const struct xlb_acme_resp *r, const char *url,
		     json_t **out)
{
	json_error_t jerr;

	*out = json_loadb(r->body, r->len, 0, &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		set_error(c, "url=%s status=%ld err=\"not a JSON object\"", url, r->status);
		return -EPROTO;
	}
	return 0;
}

static int fetch_directory(struct xlb_acme_client *c)
{
	struct xlb_acme_resp r = { 0 };
	json_t *dir = NULL;
	int err;

	if (c->new_order_url)
		return 0;
	err = http_do(c, XLB_ACME_GET, c->cfg->directory_url, NULL, NULL, &r);
	if (!err && r.status != 200) {
		set_error(c, "url=%s status=%ld err=\"directory unavailable\"",
			  c->cfg->directory_url, r.status);
		err = -EPROTO;
	}
	if (!err)
		err = load_json(c, &r, c->cfg->directory_url, &dir);
	if (!err)
		err = dup_field(dir, "newNonce", &c->new_nonce_url);
	if (!err)
		err = dup_field(dir, "newAccount", &c->new_account_url);
	if (!err)
		err = dup_field(dir, "newOrder", &c->new_order_url);
	if (err == -EPROTO && dir)
		set_error(c, "url=%s err=\"directory lacks newNonce, newAccount or newOrder\"",
			  c->cfg->directory_url);
	if (err) {
		free(c->new_order_url);
		c->new_order_url = NULL;
	}
	json_decref(dir);
	xlb_acme_resp_clear(&r);
	return err;
}

static int fetch_nonce(struct xlb_acme_client *c)
{
	struct xlb_acme_resp r = { 0 };
	int err = http_do(c, XLB_ACME_HEAD, c->new_nonce_url, NULL, NULL, &r);

	if (!err && !r.nonce) {
		set_error(c, "url=%s status=%ld err=\"no Replay-Nonce\"", c->new_nonce_url,
			  r.status);
		err = -EPROTO;
	}
	if (!err) {
		free(c->nonce);
		c->nonce = r.nonce;
		r.nonce = NULL;
	}
	xlb_acme_resp_clear(&r);
	return err;
}

/* Maps a problem type to an errno the scheduler can tell apart. */
static int problem_errno(const char *type)
{
	if (!type || strncmp(type, PROBLEM_NS, strlen(PROBLEM_NS)))
		return -EPROTO;
	type += strlen(PROBLEM_NS);
	if (strcmp(type, "rateLimited") == 0)
		return -EAGAIN;
	if (strcmp(type, "unauthorized") == 0 || strcmp(type, "accountDoesNotExist") == 0)
		return -EACCES;
	return -EPROTO;
}

/* Records a problem document (or any error status) as the error, and
 * says whether it is a badNonce, which post() retries. */
static int record_problem(struct xlb_acme_client *c, const char *url, const struct xlb_acme_resp *r,
			  bool *bad_nonce)
{
	json_t *p = xlb_acme_resp_is_problem(r) ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	const char *type = jstr(p, "type"), *detail = jstr(p, "detail");
	int err = problem_errno(type);

	*bad_nonce = type && strcmp(type, PROBLEM_NS "badNonce") == 0;
	set_error(c, "url=%s status=%ld type=%s detail=\"%s\"", url, r->status,
		  type ? type : "none", detail ? detail : "");
	json_decref(p);
	return err;
}

/* A signed POST (RFC 8555 section 6.2): payload is JSON text, or NULL
 * for a POST-as-GET. Signs with the account's kid once there is one,
 * else with the JWK (newAccount). Retries on badNonce; any status of 400
 * or more is an error. */
static int post(struct xlb_acme_client *c, const char *url, const char *payload, const char *accept,
		struct xlb_acme_resp *r)
{
	bool bad_nonce = true;
	char *jws = NULL;
	int err = 0;

	for (int try = 0; try < BAD_NONCE_TRIES && bad_nonce && !err; try++) {
		bad_nonce = false;
		if (!c->nonce)
			err = fetch_nonce(c);
		if (!err)
			err = xlb_jws_sign(c->key, c->kid, c->nonce, url, payload, &jws);
		free(c->nonce);
		c->nonce = NULL; /* used up, whatever happens next */
		if (!err)
			err = http_do(c, XLB_ACME_POST, url, jws, accept, r);
		free(jws);
		jws = NULL;
		if (err)
			break;
		c->nonce = r->nonce;
		r->nonce = NULL;
		if (r->status >= 400)
			err = record_problem(c, url, r, &bad_nonce);
		if (bad_nonce) {
			c->bad_nonces++;
			pr_debug("event=acme_bad_nonce url=%s try=%d", url, try + 1);
			err = try + 1 < BAD_NONCE_TRIES ? 0 : err;
		}
	}
	return err;
}

/* A POST whose answer is a JSON object, into *out. */
static int post_json(struct xlb_acme_client *c, const char *url, const char *payload,
		     struct xlb_acme_resp *r, json_t **out)
{
	int err = post(c, url, payload, NULL, r);

	return err ? err : load_json(c, r, url, out);
}

static int load_or_make_key(struct xlb_acme_client *c)
{
	int err;

	if (c->key)
		return 0;
	err = xlb_acme_state_init(c->cfg->state_dir);
	if (!err)
		err = xlb_acme_state_load_key(c->cfg->state_dir, &c->key);
	if (err == -ENOENT) {
		c->key = xlb_jws_keygen();
		err = c->key ? xlb_acme_state_save_key(c->cfg->state_dir, c->key) : -ENOMEM;
	}
	if (!err)
		err = xlb_jws_thumbprint(c->key, c->thumb);
	if (err) {
		set_error(c, "state=%s err=\"account key: %s\"", c->cfg->state_dir, strerror(-err));
		EVP_PKEY_free(c->key);
		c->key = NULL;
	}
	return err;
}

static char *account_payload(const char *contact)
{
	json_t *p = json_pack("{s:b}", "termsOfServiceAgreed", 1);
	char *mailto = NULL, *text = NULL;

	if (!p)
		return NULL;
	if (contact && (asprintf(&mailto, "mailto:%s", contact) < 0 ||
			json_object_set_new(p, "contact", json_pack("[s]", mailto))))
		goto out;
	text = json_dumps(p, JSON_COMPACT);
out:
	free(mailto);
	json_decref(p);
	return text;
}

static int register_account(struct xlb_acme_client *c)
{
	struct xlb_acme_resp r = { 0 };
	char *payload = NULL;
	int err;

	if (c->kid)
		return 0;
	payload = account_payload(c->cfg->contact);
	err = payload ? post(c, c->new_account_url, payload, NULL, &r) : -ENOMEM;
	if (!err && !r.location) {
		set_error(c, "url=%s status=%ld err=\"no account Location\"", c->new_account_url,
			  r.status);
		err = -EPROTO;
	}
	if (!err) {
		c->kid = r.location;
		r.location = NULL;
		pr_info("event=acme_account url=%s new=%s", c->kid, r.status == 201 ? "yes" : "no");
		/* a record for the operator; the key alone finds the account */
		if (xlb_acme_state_save_url(c->cfg->state_dir, c->kid))
			pr_warn("event=acme_state_write state=%s file=account.url",
				c->cfg->state_dir);
	}
	free(payload);
	xlb_acme_resp_clear(&r);
	return err;
}

static int new_order(struct xlb_acme_client *c, struct order *o)
{
	struct xlb_acme_resp r = { 0 };
	char *payload = NULL;
	json_t *p = json_pack("{s:[{s:s, s:s}]}", "identifiers", "type", "dns", "value", o->name);
	int err = -ENOMEM;

	if (p)
		payload = json_dumps(p, JSON_COMPACT);
	if (payload)
		err = post_json(c, c->new_order_url, payload, &r, &o->obj);
	if (!err && !r.location) {
		set_error(c, "url=%s status=%ld err=\"no order Location\"", c->new_order_url,
			  r.status);
		err = -EPROTO;
	}
	if (!err) {
		o->url = r.location;
		r.location = NULL;
		pr_info("event=acme_order name=%s type=%s url=%s", o->name,
			xlb_acme_chall_name(o->type), o->url);
	}
	free(payload);
	json_decref(p);
	xlb_acme_resp_clear(&r);
	return err;
}

/* The next pause while polling: what the server asked for, within
 * limits. */
static long poll_pause(const struct xlb_acme_resp *r)
{
	long secs = r->retry_after > 0 ? r->retry_after : POLL_DEFAULT_SECS;

	return secs > POLL_MAX_SECS ? POLL_MAX_SECS : secs;
}

/* POST-as-GET url until its "status" is none of the busy ones (a
 * NULL-terminated list), into *out. */
static int poll_status(struct xlb_acme_client *c, const char *url, const char *const *busy,
		       json_t **out)
{
	time_t deadline = time(NULL) + POLL_DEADLINE_SECS;
	struct xlb_acme_resp r = { 0 };
	bool waiting = true;
	int err = 0;

	*out = NULL;
	while (waiting && !err) {
		json_decref(*out);
		*out = NULL;
		err = post_json(c, url, NULL, &r, out);
		waiting = false;
		for (const char *const *b = busy; !err && *b && !waiting; b++)
			waiting = status_is(*out, *b);
		if (waiting && time(NULL) >= deadline) {
			set_error(c, "url=%s status=%s err=\"still busy after %ds\"", url,
				  jstr(*out, "status"), POLL_DEADLINE_SECS);
			err = -ETIMEDOUT;
		}
		if (waiting && !err)
			err = wait_secs(c, poll_pause(&r));
	}
	if (err) {
		json_decref(*out);
		*out = NULL;
	}
	xlb_acme_resp_clear(&r);
	return err;
}

static json_t *find_challenge(json_t *authz, enum xlb_acme_chall type)
{
	json_t *ch;
	size_t i;

	json_array_foreach (json_object_get(authz, "challenges"), i, ch)
		if (jstr(ch, "type") && strcmp(jstr(ch, "type"), xlb_acme_chall_name(type)) == 0)
			return ch;
	return NULL;
}

static int publish(struct xlb_acme_client *c, const struct order *o, const char *token,
		   const char *key_authz)
{
	if (o->type == XLB_ACME_TLSALPN01)
		return xlb_acme_challs_add_tlsalpn01(c->challs, o->name, key_authz);
	return xlb_acme_challs_add_http01(c->challs, token, key_authz);
}

static void unpublish(struct xlb_acme_client *c, const struct order *o, const char *token)
{
	if (o->type == XLB_ACME_TLSALPN01)
		xlb_acme_challs_del_tlsalpn01(c->challs, o->name);
	else
		xlb_acme_challs_del_http01(c->challs, token);
}

/* The challenge's error (a problem document) as the client's error. */
static int challenge_failed(struct xlb_acme_client *c, const struct order *o, json_t *authz)
{
	json_t *ch = find_challenge(authz, o->type), *perr = json_object_get(ch, "error");

	set_error(c, "name=%s challenge=%s status=%s type=%s detail=\"%s\"", o->name,
		  xlb_acme_chall_name(o->type), jstr(authz, "status"),
		  jstr(perr, "type") ? jstr(perr, "type") : "none",
		  jstr(perr, "detail") ? jstr(perr, "detail") : "");
	return -EACCES;
}

/* Tells the server the challenge is ready, then waits for the verdict
 * on the authorization. */
static int answer_challenge(struct xlb_acme_client *c, const struct order *o, const char *authz_url,
			    json_t *ch)
{
	static const char *const busy[] = { "pending", NULL };
	const char *token = jstr(ch, "token"), *url = jstr(ch, "url");
	struct xlb_acme_resp r = { 0 };
	char *key_authz = NULL;
	json_t *authz = NULL;
	int err;

	if (!token || !url) {
		set_error(c, "url=%s err=\"challenge without token or url\"", authz_url);
		return -EPROTO;
	}
	err = xlb_acme_key_authz(token, c->thumb, &key_authz);
	if (!err)
		err = publish(c, o, token, key_authz);
	if (err) {
		set_error(c, "name=%s err=\"cannot publish challenge: %s\"", o->name,
			  strerror(-err));
		goto out;
	}
	/* the empty object says "validate now" (RFC 8555 section 7.5.1) */
	err = post(c, url, "{}", NULL, &r);
	if (!err)
		err = poll_status(c, authz_url, busy, &authz);
	if (!err && !status_is(authz, "valid"))
		err = challenge_failed(c, o, authz);
	if (!err)
		pr_info("event=acme_challenge name=%s type=%s status=valid", o->name,
			xlb_acme_chall_name(o->type));
	unpublish(c, o, token);
out:
	json_decref(authz);
	xlb_acme_resp_clear(&r);
	free(key_authz);
	return err;
}

static int authorize(struct xlb_acme_client *c, const struct order *o, const char *authz_url)
{
	struct xlb_acme_resp r = { 0 };
	json_t *authz = NULL, *ch;
	const char *status;
	int err = post_json(c, authz_url, NULL, &r, &authz);

	if (err)
		goto out;
	status = jstr(authz, "status");
	/* a CA may reuse a recent authorization for the same account */
	if (status_is(authz, "valid")) {
		pr_info("event=acme_challenge name=%s type=reused status=valid", o->name);
		goto out;
	}
	ch = find_challenge(authz, o->type);
	if (!status_is(authz, "pending") || !ch) {
		set_error(c, "name=%s url=%s status=%s err=\"no pending %s challenge\"", o->name,
			  authz_url, status ? status : "none", xlb_acme_chall_name(o->type));
		err = -EPROTO;
		goto out;
	}
	err = answer_challenge(c, o, authz_url, ch);
out:
	json_decref(authz);
	xlb_acme_resp_clear(&r);
	return err;
}

static int authorize_all(struct xlb_acme_client *c, const struct order *o)
{
	json_t *authzs = json_object_get(o->obj, "authorizations"), *a;
	size_t i;
	int err = json_array_size(authzs) ? 0 : -EPROTO;

	if (err)
		set_error(c, "url=%s err=\"order without authorizations\"", o->url);
	json_array_foreach (authzs, i, a) {
		if (!err && !json_string_value(a))
			err = -EPROTO;
		if (!err)
			err = authorize(c, o, json_string_value(a));
	}
	return err;
}

/* Waits for the order to leave busy, and requires it to be in want. */
static int order_wait(struct xlb_acme_client *c, struct order *o, const char *const *busy,
		      const char *want)
{
	json_t *obj = NULL;
	int err = poll_status(c, o->url, busy, &obj);

	if (err)
		return err;
	json_decref(o->obj);
	o->obj = obj;
	if (!status_is(obj, want)) {
		json_t *perr = json_object_get(obj, "error");

		set_error(c, "url=%s status=%s want=%s type=%s detail=\"%s\"", o->url,
			  jstr(obj, "status"), want,
			  jstr(perr, "type") ? jstr(perr, "type") : "none",
			  jstr(perr, "detail") ? jstr(perr, "detail") : "");
		return -EPROTO;
	}
	return 0;
}

static char *finalize_payload(const char *name, EVP_PKEY *key)
{
	uint8_t *der = NULL;
	size_t len = 0;
	char *csr64 = NULL, *text = NULL;
	json_t *p = NULL;

	if (xlb_acme_csr(name, key, &der, &len))
		return NULL;
	csr64 = xlb_b64url_encode_alloc(der, len);
	p = csr64 ? json_pack("{s:s}", "csr", csr64) : NULL;
	text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_decref(p);
	free(csr64);
	free(der);
	return text;
}

/* Sends the CSR and waits for the order to be valid. */
static int finalize(struct xlb_acme_client *c, struct order *o, EVP_PKEY *key)
{
	static const char *const ready_busy[] = { "pending", NULL };
	static const char *const valid_busy[] = { "processing", "ready", NULL };
	struct xlb_acme_resp r = { 0 };
	const char *url = NULL;
	char *payload = NULL;
	int err = order_wait(c, o, ready_busy, "ready");

	if (!err)
		url = jstr(o->obj, "finalize");
	if (!err && !url) {
		set_error(c, "url=%s err=\"order without finalize\"", o->url);
		err = -EPROTO;
	}
	if (!err) {
		payload = finalize_payload(o->name, key);
		err = payload ? post(c, url, payload, NULL, &r) : -ENOMEM;
	}
	if (!err)
		err = order_wait(c, o, valid_busy, "valid");
	free(payload);
	xlb_acme_resp_clear(&r);
	return err;
}

static int download(struct xlb_acme_client *c, const struct order *o, char **chain)
{
	const char *url = jstr(o->obj, "certificate");
	struct xlb_acme_resp r = { 0 };
	int err;

	if (!url) {
		set_error(c, "url=%s err=\"valid order without certificate\"", o->url);
		return -EPROTO;
	}
	err = post(c, url, NULL, PEM_CHAIN_TYPE, &r);
	if (!err) {
		*chain = r.body;
		r.body = NULL;
	}
	xlb_acme_resp_clear(&r);
	return err;
}

static int make_cert(struct xlb_acme_client *c, const char *name, char *chain, EVP_PKEY *key,
		     struct xlb_acme_cert **out)
{
	struct xlb_acme_cert *cert = calloc(1, sizeof(*cert));
	int err = -ENOMEM;

	if (!cert) {
		free(chain);
		return -ENOMEM;
	}
	cert->chain_pem = chain;
	cert->name = strdup(name);
	cert->key_pem = xlb_acme_key_pem(key);
	if (cert->name && cert->key_pem)
		err = xlb_acme_cert_parse(cert);
	if (err == -EINVAL)
		set_error(c, "name=%s err=\"the certificate does not parse or match its key\"",
			  name);
	if (err) {
		xlb_acme_cert_free(cert);
		return err;
	}
	*out = cert;
	return 0;
}

static int prepare(struct xlb_acme_client *c)
{
	int err = load_or_make_key(c);

	if (!err)
		err = fetch_directory(c);
	if (!err)
		err = register_account(c);
	return err;
}

int xlb_acme_client_issue(struct xlb_acme_client *c, const char *name, enum xlb_acme_chall type,
			  struct xlb_acme_cert **out)
{
	struct order o = { .name = name, .type = type };
	EVP_PKEY *key = NULL;
	char *chain = NULL;
	int err;

	c->err[0] = '\0';
	if (!xlb_acme_name_ok(name)) {
		set_error(c, "name=%s err=\"not a name to order\"", name);
		return -EINVAL;
	}
	err = prepare(c);
	if (!err)
		err = new_order(c, &o);
	if (!err)
		err = authorize_all(c, &o);
	if (!err) {
		key = xlb_jws_keygen();
		err = key ? finalize(c, &o, key) : -ENOMEM;
	}
	if (!err)
		err = download(c, &o, &chain);
	if (!err)
		err = make_cert(c, name, chain, key, out);
	/* a server that forgot the account (a reset test CA) gets a new one
	 * on the next attempt */
	if (err == -EACCES && strstr(c->err, "accountDoesNotExist")) {
		free(c->kid);
		c->kid = NULL;
	}
	EVP_PKEY_free(key);
	json_decref(o.obj);
	free(o.url);
	return err;
}
