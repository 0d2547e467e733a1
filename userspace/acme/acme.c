// SPDX-License-Identifier: GPL-2.0
/* The worker thread. An order is dozens of dependent HTTPS requests with
 * waits of seconds between polls, key generation and signatures; as
 * blocking code in a thread it reads like the steps of RFC 8555, and the
 * loop only ever sees an eventfd. libcurl's multi interface would make
 * each step a callback in the loop, for nothing: orders are rare (one per
 * name every few weeks) and the loop never waits on them. What the two
 * threads share (the names, the queue of certificates, the challenge
 * table) is under locks, held only to copy. */
#include "acme.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/log.h"
#include "lib/thread.h"
#include "renew.h"
#include "state.h"

/* The longest sleep: the worker looks at the clock again at least this
 * often, so that a clock set forward is noticed. */
#define IDLE_MAX_SECS 3600

struct name_entry {
	char *name;
	enum xlb_acme_chall type;
	bool loaded; /* the state dir was looked at */
	bool have_cert;
	bool force;
	time_t not_before;
	time_t not_after;
	unsigned fails;
	time_t failed_at;
};

struct xlb_acme {
	struct xlb_acme_config cfg;
	struct xlb_acme_challs *challs;
	struct xlb_acme_client *client; /* the worker's alone */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_bool stop;
	bool curl_ready; /* curl_global_init() to balance */
	int efd;
	struct name_entry *names;
	size_t n_names;
	struct xlb_acme_cert **ready;
	size_t n_ready;
	struct xlb_acme_stats stats;
};

/* What the worker takes out of an entry to work on it unlocked */
struct job {
	char name[254];
	enum xlb_acme_chall type;
	bool load;
};

static void *worker(void *arg);

static void entries_free(struct name_entry *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i].name);
	free(names);
}

static void cfg_free(struct xlb_acme_config *cfg)
{
	free((char *)cfg->directory_url);
	free((char *)cfg->contact);
	free((char *)cfg->ca_file);
	free((char *)cfg->state_dir);
}

static char *dup_opt(const char *s, int *err)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*err = -ENOMEM;
	return d;
}

static int cfg_copy(struct xlb_acme_config *dst, const struct xlb_acme_config *src)
{
	int err = src->directory_url && src->state_dir ? 0 : -EINVAL;

	dst->directory_url = dup_opt(src->directory_url, &err);
	dst->contact = dup_opt(src->contact, &err);
	dst->ca_file = dup_opt(src->ca_file, &err);
	dst->state_dir = dup_opt(src->state_dir, &err);
	return err;
}

static void acme_free(struct xlb_acme *a)
{
	for (size_t i = 0; i < a->n_ready; i++)
		xlb_acme_cert_free(a->ready[i]);
	free(a->ready);
	entries_free(a->names, a->n_names);
	xlb_acme_client_free(a->client);
	if (a->curl_ready)
		curl_global_cleanup();
	xlb_acme_challs_free(a->challs);
	if (a->efd >= 0)
		close(a->efd);
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->lock);
	cfg_free(&a->cfg);
	free(a);
}

static int init_sync(struct xlb_acme *a)
{
	pthread_condattr_t attr;
	int err;

	/* waits are measured on the monotonic clock; due times on the wall
	 * clock, converted per wait */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	err = -pthread_cond_init(&a->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (!err)
		err = -pthread_mutex_init(&a->lock, NULL);
	return err;
}

static int start_worker(struct xlb_acme *a)
{
	return xlb_thread_start(&a->thread, "xlbd-acme", worker, a);
}

int xlb_acme_start(const struct xlb_acme_config *cfg, struct xlb_acme **out)
{
	struct xlb_acme *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	a->efd = -1;
	err = init_sync(a);
	if (err) {
		free(a);
		return err;
	}
	err = cfg_copy(&a->cfg, cfg);
	if (!err)
		err = xlb_acme_state_init(a->cfg.state_dir);
	if (!err)
		err = (a->challs = xlb_acme_challs_new()) ? 0 : -ENOMEM;
	if (!err)
		err = (a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0 ? 0 : -errno;
	/* before any thread: curl_global_init is not thread-safe */
	if (!err)
		err = curl_global_init(CURL_GLOBAL_DEFAULT) ? -ENOMEM : 0;
	a->curl_ready = !err;
	if (!err)
		err = xlb_acme_client_new(&a->cfg, a->challs, &a->stop, &a->client);
	if (!err)
		err = start_worker(a);
	if (err) {
		pr_warn("event=acme_start_failed state=%s err=\"%s\"",
			cfg->state_dir ? cfg->state_dir : "none", strerror(-err));
		acme_free(a);
		return err;
	}
	*out = a;
	return 0;
}

void xlb_acme_stop(struct xlb_acme *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	atomic_store(&a->stop, true);
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	pthread_join(a->thread, NULL);
	acme_free(a);
}

int xlb_acme_fd(const struct xlb_acme *a)
{
	return a->efd;
}

struct xlb_acme_challs *xlb_acme_challs(struct xlb_acme *a)
{
	return a->challs;
}

void xlb_acme_get_stats(struct xlb_acme *a, struct xlb_acme_stats *s)
{
	pthread_mutex_lock(&a->lock);
	*s = a->stats;
	pthread_mutex_unlock(&a->lock);
}

struct xlb_acme_cert *xlb_acme_take(struct xlb_acme *a)
{
	struct xlb_acme_cert *c = NULL;
	uint64_t count;

	/* drained first: a certificate queued after this read makes the fd
	 * readable again, so none waits unseen */
	if (read(a->efd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		pr_debug("event=acme_eventfd_read err=\"%s\"", strerror(errno));
	pthread_mutex_lock(&a->lock);
	if (a->n_ready) {
		c = a->ready[0];
		memmove(a->ready, a->ready + 1, --a->n_ready * sizeof(*a->ready));
	}
	pthread_mutex_unlock(&a->lock);
	return c;
}

static struct name_entry *find_name(struct name_entry *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i].name, name) == 0)
			return &names[i];
	return NULL;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* The new set, keeping what is known of names already in the old one;
 * called under the lock. */
static int build_names(const struct xlb_acme *a, const struct xlb_acme_name *names, size_t n,
		       struct name_entry **out, size_t *n_out)
{
	struct name_entry *e = calloc(n ? n : 1, sizeof(*e)), *old;
	size_t m = 0;
	char *lname;
	int err = e ? 0 : -ENOMEM;

	for (size_t i = 0; i < n && !err; i++) {
		lname = xlb_acme_name_ok(names[i].name) ? lower_dup(names[i].name) : NULL;
		if (!lname) {
			err = xlb_acme_name_ok(names[i].name) ? -ENOMEM : -EINVAL;
			break;
		}
		if (find_name(e, m, lname)) {
			free(lname);
			continue;
		}
		old = find_name(a->names, a->n_names, lname);
		if (old)
			e[m] = *old;
		e[m].name = lname;
		e[m++].type = names[i].type;
	}
	if (err) {
		entries_free(e, m);
		return err;
	}
	*out = e;
	*n_out = m;
	return 0;
}

int xlb_acme_set_names(struct xlb_acme *a, const struct xlb_acme_name *names, size_t n)
{
	struct name_entry *e = NULL;
	size_t m = 0;
	int err;

	pthread_mutex_lock(&a->lock);
	err = build_names(a, names, n, &e, &m);
	if (!err) {
		entries_free(a->names, a->n_names);
		a->names = e;
		a->n_names = m;
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->lock);
	if (err)
		pr_warn("event=acme_set_names_failed names=%zu err=\"%s\"", n, strerror(-err));
	return err;
}

int xlb_acme_renew(struct xlb_acme *a, const char *name)
{
	struct name_entry *e;
	char *lname = lower_dup(name);

	if (!lname)
		return -ENOMEM;
	pthread_mutex_lock(&a->lock);
	e = find_name(a->names, a->n_names, lname);
	if (e) {
		e->force = true;
		pthread_cond_signal(&a->wake);
	}
	pthread_mutex_unlock(&a->lock);
	free(lname);
	return e ? 0 : -ENOENT;
}

static time_t entry_due(const struct name_entry *e, time_t now)
{
	if (!e->loaded || e->force)
		return now;
	return xlb_acme_next_attempt(now, e->have_cert, e->not_before, e->not_after, e->fails,
				     e->failed_at);
}

/* The entry due first, and when (under the lock). */
static struct name_entry *next_due(struct xlb_acme *a, time_t now, time_t *at)
{
	struct name_entry *best = NULL;

	for (size_t i = 0; i < a->n_names; i++) {
		time_t t = entry_due(&a->names[i], now);

		if (!best || t < *at) {
			best = &a->names[i];
			*at = t;
		}
	}
	return best;
}

static void sleep_until(struct xlb_acme *a, time_t at, time_t now)
{
	time_t secs = at - now;
	struct timespec ts;

	if (secs > IDLE_MAX_SECS)
		secs = IDLE_MAX_SECS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += secs;
	pthread_cond_timedwait(&a->wake, &a->lock, &ts);
}

/* Hands c to the loop (under the lock). */
static void deliver(struct xlb_acme *a, struct xlb_acme_cert *c)
{
	struct xlb_acme_cert **q = realloc(a->ready, (a->n_ready + 1) * sizeof(*q));
	uint64_t one = 1;

	if (!q) {
		pr_warn("event=acme_deliver_failed name=%s err=\"%s\"", c->name, strerror(ENOMEM));
		xlb_acme_cert_free(c);
		return;
	}
	a->ready = q;
	a->ready[a->n_ready++] = c;
	if (write(a->efd, &one, sizeof(one)) < 0)
		pr_debug("event=acme_eventfd_write err=\"%s\"", strerror(errno));
}

static void note_cert(struct name_entry *e, const struct xlb_acme_cert *c)
{
	e->have_cert = true;
	e->not_before = c->not_before;
	e->not_after = c->not_after;
}

/* Reads name's certificate from the state dir (unlocked). */
static struct xlb_acme_cert *load_stored(struct xlb_acme *a, const char *name)
{
	struct xlb_acme_cert *c = NULL;
	int err = xlb_acme_state_load_cert(a->cfg.state_dir, name, &c);

	if (err && err != -ENOENT)
		pr_warn("event=acme_state_unreadable state=%s name=%s err=\"%s\"", a->cfg.state_dir,
			name, strerror(-err));
	if (!err && c->not_after <= time(NULL)) {
		pr_info("event=acme_cert_expired name=%s serial=%s", name, c->serial);
		xlb_acme_cert_free(c);
		c = NULL;
	}
	return c;
}

static void log_cert(const char *event, const struct xlb_acme_cert *c)
{
	char nb[32], na[32], renew[32];
	time_t at = xlb_acme_renew_at(c->not_before, c->not_after);
	struct tm tm;

	strftime(nb, sizeof(nb), "%FT%TZ", gmtime_r(&c->not_before, &tm));
	strftime(na, sizeof(na), "%FT%TZ", gmtime_r(&c->not_after, &tm));
	strftime(renew, sizeof(renew), "%FT%TZ", gmtime_r(&at, &tm));
	pr_info("event=%s name=%s serial=%s not_before=%s not_after=%s renew_at=%s", event, c->name,
		c->serial, nb, na, renew);
}

/* Orders name's certificate and stores it (unlocked); NULL on failure,
 * logged here, once, with the reason. */
static struct xlb_acme_cert *order(struct xlb_acme *a, const struct job *j, unsigned fails)
{
	struct xlb_acme_cert *c = NULL;
	int err = xlb_acme_client_issue(a->client, j->name, j->type, &c);
	time_t retry;

	if (err) {
		retry = xlb_acme_retry_at(time(NULL), fails + 1) - time(NULL);
		pr_warn("event=acme_order_failed name=%s type=%s err=\"%s\" %s fails=%u "
			"retry_in=%llds",
			j->name, xlb_acme_chall_name(j->type), strerror(-err),
			xlb_acme_client_error(a->client), fails + 1, (long long)retry);
		return NULL;
	}
	log_cert("acme_issued", c);
	err = xlb_acme_state_save_cert(a->cfg.state_dir, c);
	/* still used: only a restart would order it again */
	if (err)
		pr_warn("event=acme_state_write state=%s name=%s err=\"%s\"", a->cfg.state_dir,
			c->name, strerror(-err));
	return c;
}

/* Records the outcome of a job on its entry, if the name is still
 * wanted, and delivers the certificate (under the lock). */
static void finish_job(struct xlb_acme *a, const struct job *j, struct xlb_acme_cert *c)
{
	struct name_entry *e = find_name(a->names, a->n_names, j->name);

	if (e && j->load) {
		e->loaded = true;
		a->stats.loaded += c != NULL;
	} else if (e) {
		e->force = false;
		e->fails = c ? 0 : e->fails + 1;
		e->failed_at = c ? 0 : time(NULL);
		a->stats.issued += c != NULL;
		a->stats.failures += c == NULL;
	}
	a->stats.bad_nonces = xlb_acme_client_bad_nonces(a->client);
	if (e && c) {
		note_cert(e, c);
		deliver(a, c);
	} else {
		xlb_acme_cert_free(c);
	}
}

static void run_job(struct xlb_acme *a, struct name_entry *e)
{
	struct xlb_acme_cert *c;
	struct job j = { .type = e->type, .load = !e->loaded };
	unsigned fails = e->fails;

	snprintf(j.name, sizeof(j.name), "%s", e->name);
	if (!j.load)
		a->stats.orders++;
	pthread_mutex_unlock(&a->lock);
	c = j.load ? load_stored(a, j.name) : order(a, &j, fails);
	if (j.load && c)
		log_cert("acme_loaded", c);
	pthread_mutex_lock(&a->lock);
	finish_job(a, &j, c);
}

static void *worker(void *arg)
{
	struct xlb_acme *a = arg;
	struct name_entry *e;
	time_t now, at = 0;

	pthread_mutex_lock(&a->lock);
	while (!atomic_load(&a->stop)) {
		now = time(NULL);
		e = next_due(a, now, &at);
		if (!e)
			sleep_until(a, now + IDLE_MAX_SECS, now);
		else if (at > now)
			sleep_until(a, at, now);
		else
			run_job(a, e);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}
