// SPDX-License-Identifier: GPL-2.0
/* Active health checks. Each watched target (service, backend) runs one
 * check at a time: IDLE -> CONNECTING [-> SENDING -> READING] -> IDLE,
 * with the check's socket watched (level-triggered) in xlbd's loop and
 * every deadline kept by one timerfd, armed for the earliest of them.
 *
 * The loop hands out events in batches. An event already taken out of
 * epoll still points at its target after a callback in the same batch has
 * unwatched it, so an unwatched target is only marked dead, and freed two
 * timer runs later: the timerfd appears at most once per batch, so by then
 * no batch that could hold its events is still being dispatched. */
#include "health.h"
#include "hc_answer.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/log.h"

/* ---- targets ------------------------------------------------------------------ */

enum hc_phase { HC_IDLE, HC_CONNECTING, HC_SENDING, HC_READING };

/* Holds the request (a path of 255, a Host of 53 and the fixed lines). */
#define HC_IO_SIZE 512
#define HC_BUCKETS 256
#define HC_NEVER UINT64_MAX
/* The timer fires on multiples of this: targets due within the same slot
 * are served by one wake-up and one walk of the list, so thousands of
 * targets cost at most 100 walks a second, for a delay of under 10 ms. */
#define HC_SLOT_MS 10

struct hc_target {
	struct xlb_watch w; /* the running check's socket; fd -1 between checks */
	struct xlb_health *h;
	char svc[XLB_NAME_LEN];
	struct xlb_endpoint ep;
	char name[XLB_EP_STRLEN]; /* "10.0.0.1:8000": logs and the Host header */
	struct xlb_hc_spec spec;
	uint32_t hash;
	enum hc_phase phase;
	bool reported; /* the first result has been passed on */
	bool up;
	bool ever_up;
	bool dead;		/* unwatched, waiting to be freed */
	uint32_t passes, fails; /* current run of equal results */
	uint64_t checks;	/* checks started */
	uint64_t next_ms;	/* when the next check starts */
	uint64_t deadline_ms;	/* when the running check fails */
	uint64_t dead_tick;
	char io[HC_IO_SIZE];
	size_t io_len, io_off;
	struct hc_target *next;	 /* every target, dead ones until freed */
	struct hc_target *hnext; /* bucket chain: live targets only */
};

struct xlb_health {
	struct xlb_loop *loop;
	xlb_health_fn fn;
	void *arg;
	struct xlb_watch timer;
	uint64_t armed_ms; /* when the timer fires; HC_NEVER when disarmed */
	uint64_t tick;	   /* timer runs so far */
	struct hc_target *all;
	struct hc_target *bucket[HC_BUCKETS];
	size_t n_live;
};

/* Only the bytes of the family count: callers need not zero the rest. */
static size_t addr_len(const struct xlb_endpoint *ep)
{
	return ep->family == AF_INET ? 4 : 16;
}

static uint32_t fnv1a(uint32_t x, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		x = (x ^ p[i]) * 16777619u;
	return x;
}

static uint32_t target_hash(const char *svc, const struct xlb_endpoint *ep)
{
	uint32_t x = fnv1a(2166136261u, svc, strlen(svc));

	x = fnv1a(x, &ep->family, sizeof(ep->family));
	x = fnv1a(x, &ep->port, sizeof(ep->port));
	return fnv1a(x, &ep->addr, addr_len(ep));
}

static bool target_is(const struct hc_target *t, const char *svc, const struct xlb_endpoint *ep)
{
	return t->ep.family == ep->family && t->ep.port == ep->port &&
	       memcmp(&t->ep.addr, &ep->addr, addr_len(ep)) == 0 && strcmp(t->svc, svc) == 0;
}

static struct hc_target *target_find(const struct xlb_health *h, const char *svc,
				     const struct xlb_endpoint *ep)
{
	struct hc_target *t = h->bucket[target_hash(svc, ep) % HC_BUCKETS];

	while (t && !target_is(t, svc, ep))
		t = t->hnext;
	return t;
}

static void bucket_remove(struct xlb_health *h, struct hc_target *t)
{
	struct hc_target **pp = &h->bucket[t->hash % HC_BUCKETS];

	while (*pp != t)
		pp = &(*pp)->hnext;
	*pp = t->hnext;
}

/* ---- the timer ------------------------------------------------------------------ */

static uint64_t slot_end(uint64_t when_ms)
{
	if (when_ms == HC_NEVER)
		return HC_NEVER;
	return (when_ms + HC_SLOT_MS - 1) / HC_SLOT_MS * HC_SLOT_MS;
}

static void timer_set(struct xlb_health *h, uint64_t when_ms)
{
	struct itimerspec its;

	when_ms = slot_end(when_ms);
	memset(&its, 0, sizeof(its));
	if (when_ms != HC_NEVER) {
		its.it_value.tv_sec = (time_t)(when_ms / 1000);
		/* an all-zero it_value would disarm instead */
		its.it_value.tv_nsec = (long)(when_ms % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(h->timer.fd, TFD_TIMER_ABSTIME, &its, NULL))
		pr_warn("event=health_timer_error err=\"%s\"", strerror(errno));
	h->armed_ms = when_ms;
}

static void timer_arm_at(struct xlb_health *h, uint64_t when_ms)
{
	if (slot_end(when_ms) < h->armed_ms)
		timer_set(h, when_ms);
}

/* The earliest thing any target waits for; dead targets want the next
 * two timer runs to come at once, so that they are freed. */
static void timer_rearm(struct xlb_health *h)
{
	uint64_t when = HC_NEVER, now = xlb_loop_now_ms();

	for (struct hc_target *t = h->all; t; t = t->next) {
		uint64_t due = t->dead ? now : t->phase == HC_IDLE ? t->next_ms : t->deadline_ms;

		if (due < when)
			when = due;
	}
	timer_set(h, when);
}

/* ---- one check ------------------------------------------------------------------ */

static void check_close(struct hc_target *t)
{
	if (t->w.fd >= 0) {
		xlb_loop_del(t->h->loop, &t->w);
		close(t->w.fd);
		t->w.fd = -1;
	}
	t->phase = HC_IDLE;
}

/* First result: whatever it says. Then a target that has never been up
 * comes up on its first pass (a new container gets traffic as soon as it
 * answers); otherwise it takes `fall` failures in a row to go down and
 * `rise` passes in a row to come back. */
static bool next_state(const struct hc_target *t, bool ok)
{
	if (!t->reported)
		return ok;
	if (t->up)
		return t->fails < t->spec.fall;
	return ok && (!t->ever_up || t->passes >= t->spec.rise);
}

static void count_result(struct hc_target *t, bool ok, const char *reason)
{
	if (ok) {
		t->fails = 0;
		if (t->passes < UINT32_MAX)
			t->passes++;
		return;
	}
	t->passes = 0;
	if (t->fails < UINT32_MAX)
		t->fails++;
	pr_debug("event=health_check_fail service=%s backend=%s fails=%u fall=%u reason=\"%s\"",
		 t->svc, t->name, t->fails, t->spec.fall, reason);
}

/* Ends the running check. The callback comes last: it may unwatch t. */
static void check_done(struct hc_target *t, bool ok, const char *reason)
{
	struct xlb_health *h = t->h;
	bool up;

	check_close(t);
	count_result(t, ok, reason);
	up = next_state(t, ok);
	if (t->reported && up == t->up)
		return;
	t->reported = true;
	t->up = up;
	t->ever_up |= up;
	pr_info("event=health_change service=%s backend=%s state=%s reason=\"%s\"", t->svc, t->name,
		up ? "up" : "down", reason);
	h->fn(h->arg, t->svc, &t->ep, up);
}

static void check_fail_errno(struct hc_target *t, const char *what, int err)
{
	char reason[96];

	snprintf(reason, sizeof(reason), "%s: %s", what, strerror(err));
	check_done(t, false, reason);
}

/* Reads at most XLB_HC_ANSWER_MAX bytes in all, and judges the first line. */
static void read_status(struct hc_target *t)
{
	ssize_t n = recv(t->w.fd, t->io + t->io_len, XLB_HC_ANSWER_MAX - t->io_len, MSG_DONTWAIT);
	enum xlb_hc_verdict v;
	const char *why;
	char reason[32];
	int code;

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			check_fail_errno(t, "recv", errno);
		return;
	}
	if (n == 0) {
		check_done(t, false, "closed before the status line");
		return;
	}
	t->io_len += (size_t)n;
	v = xlb_hc_judge_answer(t->io, t->io_len, &code, &why);
	if (v == XLB_HC_MORE)
		return;
	if (code >= 0) {
		snprintf(reason, sizeof(reason), "status %d", code);
		why = reason;
	}
	check_done(t, v == XLB_HC_PASS, why);
}

static void send_request(struct hc_target *t)
{
	int err;

	while (t->io_off < t->io_len) {
		ssize_t n = send(t->w.fd, t->io + t->io_off, t->io_len - t->io_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				check_fail_errno(t, "send", errno);
			return; /* EPOLLOUT is still asked for */
		}
		t->io_off += (size_t)n;
	}
	t->phase = HC_READING;
	t->io_len = 0;
	err = xlb_loop_mod(t->h->loop, &t->w, EPOLLIN);
	if (err)
		check_fail_errno(t, "epoll", -err);
}

static void start_request(struct hc_target *t)
{
	int n = snprintf(t->io, sizeof(t->io),
			 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: xlb-health\r\n"
			 "Connection: close\r\n\r\n",
			 t->spec.path, t->name);

	t->io_len = (size_t)n; /* bounded by the path and name sizes */
	t->io_off = 0;
	t->phase = HC_SENDING;
	send_request(t);
}

/* An event taken out of epoll with an earlier check's, in the same batch,
 * may reach the next check's socket: ask the socket itself. */
static bool socket_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, 0) > 0;
}

static void on_connect_event(struct hc_target *t)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (!socket_ready(t->w.fd, POLLOUT))
		return;
	if (getsockopt(t->w.fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		soerr = errno;
	if (soerr) {
		check_fail_errno(t, "connect", soerr);
		return;
	}
	if (t->spec.kind == XLB_HC_TCP)
		check_done(t, true, "connected");
	else
		start_request(t);
}

/* Takes the running check as far as its socket allows, without waiting. */
static void check_step(struct hc_target *t)
{
	if (t->phase == HC_CONNECTING)
		on_connect_event(t);
	else if (t->phase == HC_SENDING)
		send_request(t);
	else if (t->phase == HC_READING)
		read_status(t);
}

static void on_check_event(struct xlb_watch *w, uint32_t events)
{
	struct hc_target *t = xlb_container_of(w, struct hc_target, w);

	(void)events;
	if (t->dead || t->w.fd < 0)
		return; /* an event of a check that has ended in this batch */
	check_step(t);
}

/* 0 with the connect under way, -errno for a local failure (no socket, no
 * epoll slot), which says nothing about the backend. A refused connect
 * is the backend's, and ends the check. */
static int check_connect(struct hc_target *t)
{
	struct sockaddr_storage ss;
	socklen_t len = xlb_endpoint_sockaddr(&t->ep, &ss);
	int err;

	t->w.fd = socket(t->ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->w.fd < 0)
		return -errno;
	err = xlb_loop_add(t->h->loop, &t->w, EPOLLOUT);
	if (err) {
		close(t->w.fd);
		t->w.fd = -1;
		return err;
	}
	t->phase = HC_CONNECTING;
	/* 0 (connected at once) also ends in EPOLLOUT */
	if (connect(t->w.fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
		check_fail_errno(t, "connect", errno);
	return 0;
}

/* The first check runs at once; the second is put off by a fixed share of
 * the interval, different per target, so that targets watched together
 * (all of them at xlbd's start) spread over the interval from then on. */
static uint32_t target_jitter_ms(const struct hc_target *t)
{
	uint32_t spread = t->spec.interval_ms / 5;

	return t->checks == 0 && spread ? t->hash % spread : 0;
}

static void check_start(struct hc_target *t, uint64_t now)
{
	int err;

	t->next_ms = now + t->spec.interval_ms + target_jitter_ms(t);
	t->deadline_ms = now + t->spec.timeout_ms;
	t->checks++;
	err = check_connect(t);
	if (err)
		pr_warn("event=health_check_error service=%s backend=%s err=\"%s\"", t->svc,
			t->name, strerror(-err));
}

static void run_due_checks(struct xlb_health *h, uint64_t now)
{
	/* callbacks may unwatch any target (it stays in the list, dead) or
	 * watch new ones (added at the head, behind this walk) */
	for (struct hc_target *t = h->all; t; t = t->next) {
		if (!t->dead && t->phase != HC_IDLE && now >= t->deadline_ms) {
			/* an answer that came in time while xlbd was busy elsewhere
			 * (its event in this same batch) still counts */
			check_step(t);
			if (!t->dead && t->phase != HC_IDLE)
				check_done(t, false, "timeout");
		}
		if (!t->dead && t->phase == HC_IDLE && now >= t->next_ms)
			check_start(t, now);
	}
}

/* Frees targets unwatched before the previous timer run (see the top). */
static void free_old_dead(struct xlb_health *h)
{
	struct hc_target **pp = &h->all;

	while (*pp) {
		struct hc_target *t = *pp;

		if (t->dead && t->dead_tick < h->tick) {
			*pp = t->next;
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

static void on_timer(struct xlb_watch *w, uint32_t events)
{
	struct xlb_health *h = xlb_container_of(w, struct xlb_health, timer);
	uint64_t expirations;

	(void)events;
	if (read(h->timer.fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		pr_warn("event=health_timer_error err=\"%s\"", strerror(errno));
	free_old_dead(h);
	h->tick++;
	h->armed_ms = HC_NEVER; /* spent: what the walk asks for is armed anew */
	run_due_checks(h, xlb_loop_now_ms());
	timer_rearm(h);
}

/* ---- the watch list ---------------------------------------------------------------- */

int xlb_health_new(struct xlb_loop *loop, xlb_health_fn fn, void *arg, struct xlb_health **out)
{
	struct xlb_health *h = calloc(1, sizeof(*h));
	int err;

	if (!h)
		return -ENOMEM;
	h->loop = loop;
	h->fn = fn;
	h->arg = arg;
	h->armed_ms = HC_NEVER;
	h->timer.fn = on_timer;
	h->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->timer.fd < 0) {
		err = -errno;
		goto err_free;
	}
	err = xlb_loop_add(loop, &h->timer, EPOLLIN);
	if (err)
		goto err_close;
	*out = h;
	return 0;

err_close:
	close(h->timer.fd);
err_free:
	free(h);
	return err;
}

void xlb_health_free(struct xlb_health *h)
{
	if (!h)
		return;
	while (h->all) {
		struct hc_target *t = h->all;

		h->all = t->next;
		check_close(t);
		free(t);
	}
	xlb_loop_del(h->loop, &h->timer);
	close(h->timer.fd);
	free(h);
}

static struct hc_target *target_new(struct xlb_health *h, const char *svc,
				    const struct xlb_endpoint *ep, const struct xlb_hc_spec *spec)
{
	struct hc_target *t = calloc(1, sizeof(*t));
	struct xlb_endpoint plain;

	if (!t)
		return NULL;
	t->w.fd = -1;
	t->w.fn = on_check_event;
	t->h = h;
	strcpy(t->svc, svc); /* the caller checked its length */
	t->ep = *ep;	     /* handed back as given, to be looked up */
	plain = *ep;
	plain.proto = 0;
	xlb_format_endpoint(&plain, t->name, sizeof(t->name));
	t->spec = *spec;
	t->hash = target_hash(svc, ep);
	t->next_ms = xlb_loop_now_ms();
	return t;
}

/* A new kind or path makes a running check test what no longer applies:
 * it is dropped (no result) and the new one runs at once. New timing
 * applies from the next check, which a shorter interval brings forward. */
static void target_update(struct xlb_health *h, struct hc_target *t, const struct xlb_hc_spec *spec)
{
	bool what_changed = t->spec.kind != spec->kind || strcmp(t->spec.path, spec->path) != 0;
	uint64_t now = xlb_loop_now_ms();

	if (xlb_hc_spec_equal(&t->spec, spec))
		return;
	t->spec = *spec;
	if (what_changed) {
		check_close(t);
		t->next_ms = now;
	} else if (t->phase == HC_IDLE && now + spec->interval_ms < t->next_ms) {
		t->next_ms = now + spec->interval_ms;
	}
	if (t->phase == HC_IDLE)
		timer_arm_at(h, t->next_ms);
	pr_debug("event=health_update service=%s backend=%s", t->svc, t->name);
}

int xlb_health_watch(struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep,
		     const struct xlb_hc_spec *spec)
{
	struct hc_target *t;

	if (spec->kind == XLB_HC_NONE || xlb_hc_validate(spec, NULL, 0) ||
	    (ep->family != AF_INET && ep->family != AF_INET6) || ep->port == 0)
		return -EINVAL;
	if (strlen(svc) >= XLB_NAME_LEN)
		return -ENAMETOOLONG;
	t = target_find(h, svc, ep);
	if (t) {
		target_update(h, t, spec);
		return 0;
	}
	t = target_new(h, svc, ep, spec);
	if (!t)
		return -ENOMEM;
	t->next = h->all;
	h->all = t;
	t->hnext = h->bucket[t->hash % HC_BUCKETS];
	h->bucket[t->hash % HC_BUCKETS] = t;
	h->n_live++;
	timer_arm_at(h, t->next_ms);
	pr_debug("event=health_watch service=%s backend=%s check=%s", t->svc, t->name,
		 spec->kind == XLB_HC_TCP ? "tcp" : spec->path);
	return 0;
}

void xlb_health_unwatch(struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep)
{
	struct hc_target *t = target_find(h, svc, ep);

	if (!t)
		return;
	bucket_remove(h, t);
	check_close(t);
	t->dead = true;
	t->dead_tick = h->tick;
	h->n_live--;
	timer_arm_at(h, xlb_loop_now_ms());
	pr_debug("event=health_unwatch service=%s backend=%s", t->svc, t->name);
}

bool xlb_health_is_up(const struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep)
{
	const struct hc_target *t = target_find(h, svc, ep);

	return !t || t->up;
}

size_t xlb_health_count(const struct xlb_health *h)
{
	return h->n_live;
}
