// SPDX-License-Identifier: GPL-2.0
#include "docker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "host_ports.h"
#include "lib/log.h"

/* An inspect answer is a few KiB; a list of thousands of containers some
 * MiB. Anything larger is not Docker talking. */
#define BODY_MAX (32u << 20)
#define EVENT_LINE_MAX (1u << 20)
#define REQUEST_TIMEOUT_MS 10000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define MAX_CONNECTIONS 8

enum req_kind { REQ_LIST, REQ_INSPECT, REQ_EVENTS };

struct req {
	struct xlb_docker *d;
	struct req *next, **pprev; /* every request out, to drop them together */
	CURL *easy;
	enum req_kind kind;
	char id[XLB_DOCKER_ID_LEN];
	uint64_t sync_gen; /* the full sync this inspect belongs to, or 0 */
	char *buf;
	size_t len, cap;
	bool too_big;
	struct xlb_docker_lines lines; /* REQ_EVENTS: the unfinished line */
};

/* One container as last seen, with the error its labels gave (logged once). */
struct known {
	struct xlb_dcontainer c;
	bool valid;    /* c filled (labels good) */
	bool stopping; /* a stop, kill or pause was seen: draining until it
				 * starts again, whatever inspect says meanwhile */
	uint64_t seen_gen;
	char err[320];
};

struct sockw {
	struct xlb_watch w;
	struct xlb_docker *d;
};

enum conn_state { DOWN, SYNCING, LIVE };

struct xlb_docker {
	struct xlb_loop *loop;
	char socket[108];
	bool has_vip;
	struct xlb_endpoint vip;
	uint16_t min_listen_port;
	struct xlb_listen_rule *listen_allow;
	size_t n_listen_allow;
	/* for containers on several networks (struct xlb_dmodel_opts): the
	 * operator's networks, then those of xlbd's own container, if xlbd
	 * runs in one (own_id) that is not on the host's network */
	char **op_nets;
	size_t n_op_nets;
	char own_id[XLB_DOCKER_ID_LEN];
	char **own_nets;
	size_t n_own_nets;
	uint32_t resync_ms;
	bool (*has_cert)(void *arg, const char *host, const char *stem);
	void *cert_arg;
	xlb_docker_apply_fn apply;
	void *arg;

	CURLM *multi;
	struct xlb_watch timer; /* curl's timeouts */
	enum conn_state state;
	struct req *events;
	struct req *reqs;
	uint64_t gen;	     /* current full sync */
	size_t sync_pending; /* inspects of it still out (+1 for the list) */
	uint64_t next_try_ms, next_resync_ms;
	uint32_t backoff_ms;
	bool dirty; /* the model changed since the last apply */

	struct xlb_devent *evq; /* read inside curl's callback, handled after it */
	size_t n_evq;
	struct known *known;
	size_t n_known;
	char **warned; /* the last apply's warnings, to log each once */
	size_t n_warned;
	char **warns_new;
	size_t n_warns_new;
	struct xlb_dholds held;	       /* the last applied model's: kept by the next */
	struct xlb_docker_stats stats; /* connected is derived from state */
};

/* ---- the container table ----------------------------------------------------- */

static struct known *known_find(struct xlb_docker *d, const char *id)
{
	for (size_t i = 0; i < d->n_known; i++)
		if (strcmp(d->known[i].c.id, id) == 0)
			return &d->known[i];
	return NULL;
}

static struct known *known_get(struct xlb_docker *d, const char *id)
{
	struct known *k = known_find(d, id), *more;

	if (k)
		return k;
	more = realloc(d->known, (d->n_known + 1) * sizeof(*more));
	if (!more)
		return NULL;
	d->known = more;
	k = &more[d->n_known++];
	memset(k, 0, sizeof(*k));
	snprintf(k->c.id, sizeof(k->c.id), "%s", id);
	return k;
}

static void known_remove(struct xlb_docker *d, struct known *k)
{
	xlb_dcontainer_free(&k->c);
	*k = d->known[--d->n_known];
	d->dirty = true;
}

static void known_set(struct xlb_docker *d, struct known *k, const struct xlb_dcontainer *c, int rc,
		      const char *err)
{
	char id[XLB_DOCKER_ID_LEN];

	memcpy(id, k->c.id, sizeof(id));
	xlb_dcontainer_free(&k->c);
	k->valid = rc == 1;
	if (k->valid) {
		k->c = *c;
		if (k->stopping && k->c.serving) {
			k->c.serving = false;
			snprintf(k->c.why_not, sizeof(k->c.why_not), "stopping");
		}
	} else {
		memset(&k->c, 0, sizeof(k->c));
		memcpy(k->c.id, id, sizeof(id));
	}
	if (rc < 0 && strcmp(k->err, err)) {
		/* the container is skipped; everything else keeps working */
		pr_err("event=docker_bad_labels id=%.12s err=\"%s\"", id, err);
	}
	snprintf(k->err, sizeof(k->err), "%s", rc < 0 ? err : "");
	d->dirty = true;
}

/* ---- applying -------------------------------------------------------------------- */

static bool warned_before(const struct xlb_docker *d, const char *msg)
{
	for (size_t i = 0; i < d->n_warned; i++)
		if (strcmp(d->warned[i], msg) == 0)
			return true;
	return false;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void collect_warning(void *arg, const char *msg)
{
	struct xlb_docker *d = arg;
	char **more = realloc(d->warns_new, (d->n_warns_new + 1) * sizeof(*more));

	if (!more)
		return;
	d->warns_new = more;
	more[d->n_warns_new] = strdup(msg);
	if (more[d->n_warns_new])
		d->n_warns_new++;
	if (!warned_before(d, msg))
		pr_warn("event=docker_conflict msg=\"%s\"", msg);
}

static void apply_now(struct xlb_docker *d)
{
	const struct xlb_dcontainer **cs = calloc(d->n_known + 1, sizeof(*cs));
	const char **nets = calloc(d->n_op_nets + d->n_own_nets + 1, sizeof(*nets));
	struct xlb_dmodel_opts mo = { .vip = d->has_vip ? &d->vip : NULL,
				      .min_listen_port = d->min_listen_port,
				      .allow = d->listen_allow,
				      .n_allow = d->n_listen_allow,
				      .port_owner = xlb_host_port_owner,
				      .networks = nets,
				      .n_networks = d->n_op_nets + d->n_own_nets,
				      .has_cert = d->has_cert,
				      .cert_arg = d->cert_arg,
				      .held = &d->held };
	struct xlb_dmodel m;
	size_t n = 0;

	if (!cs || !nets) {
		free(cs);
		free(nets);
		return;
	}
	for (size_t i = 0; i < d->n_op_nets; i++)
		nets[i] = d->op_nets[i];
	for (size_t i = 0; i < d->n_own_nets; i++)
		nets[d->n_op_nets + i] = d->own_nets[i];
	for (size_t i = 0; i < d->n_known; i++)
		if (d->known[i].valid)
			cs[n++] = &d->known[i].c;
	d->warns_new = NULL;
	d->n_warns_new = 0;
	if (xlb_dmodel_build(cs, n, &mo, &m, collect_warning, d) == 0) {
		d->apply(d->arg, &m, collect_warning, d);
		xlb_dmodel_keep_holds(&m, &d->held);
		xlb_dmodel_free(&m);
		d->dirty = false;
	}
	strv_free(d->warned, d->n_warned);
	d->warned = d->warns_new;
	d->n_warned = d->n_warns_new;
	d->warns_new = NULL;
	free(nets);
	free(cs);
}

/* Single changes apply at once; a full sync applies when it is complete, so
 * containers not yet inspected are not taken for gone. */
static void apply_if_settled(struct xlb_docker *d)
{
	if (d->dirty && d->sync_pending == 0)
		apply_now(d);
}

void xlb_docker_rebuild(struct xlb_docker *d)
{
	d->dirty = true;
	if (d->state != DOWN)
		apply_if_settled(d);
}

/* ---- requests ----------------------------------------------------------------- */

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userp);
static size_t events_write(char *ptr, size_t size, size_t nmemb, void *userp);

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
	}
	if (r->easy) {
		curl_multi_remove_handle(r->d->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	free(r->buf);
	xlb_docker_lines_free(&r->lines);
	free(r);
}

static const char *req_path(enum req_kind kind)
{
	switch (kind) {
	case REQ_LIST:
		return "/containers/json";
	case REQ_INSPECT:
		return "/containers/{id}/json";
	default:
		return "/events";
	}
}

static int req_start(struct xlb_docker *d, enum req_kind kind, const char *id, struct req **out)
{
	struct req *r = calloc(1, sizeof(*r));
	char url[256];

	if (!r)
		return -ENOMEM;
	r->d = d;
	r->kind = kind;
	if (id)
		snprintf(r->id, sizeof(r->id), "%s", id);
	switch (kind) {
	case REQ_LIST:
		snprintf(url, sizeof(url), "http://docker/" XLB_DOCKER_API "/containers/json");
		break;
	case REQ_INSPECT:
		snprintf(url, sizeof(url), "http://docker/" XLB_DOCKER_API "/containers/%s/json",
			 id);
		break;
	case REQ_EVENTS:
		/* %7B%22type%22%3A%5B...: filters={"type":["container","network"]} */
		snprintf(url, sizeof(url),
			 "http://docker/" XLB_DOCKER_API "/events?filters="
			 "%%7B%%22type%%22%%3A%%5B%%22container%%22%%2C%%22network%%22%%5D%%7D");
		break;
	}
	r->easy = curl_easy_init();
	if (!r->easy) {
		free(r);
		return -ENOMEM;
	}
	curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION,
			 kind == REQ_EVENTS ? events_write : body_write);
	/* the event stream is open for as long as dockerd runs */
	if (kind != REQ_EVENTS)
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	if (curl_multi_add_handle(d->multi, r->easy) != CURLM_OK) {
		curl_easy_cleanup(r->easy);
		free(r);
		return -ENOMEM;
	}
	r->next = d->reqs;
	if (d->reqs)
		d->reqs->pprev = &r->next;
	d->reqs = r;
	r->pprev = &d->reqs;
	if (out)
		*out = r;
	return 0;
}

static size_t body_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct req *r = userp;
	size_t n = size * nmemb;

	if (r->len + n > BODY_MAX) {
		r->too_big = true;
		return 0; /* aborts the transfer */
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = (r->len + n + 1) * 2;
		char *more = realloc(r->buf, cap);

		if (!more)
			return 0;
		r->buf = more;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, ptr, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return n;
}

/* ---- events ------------------------------------------------------------------- */

static void inspect(struct xlb_docker *d, const char *id, uint64_t gen)
{
	struct req *r;

	if (req_start(d, REQ_INSPECT, id, &r) == 0) {
		r->sync_gen = gen;
		if (gen)
			d->sync_pending++;
	}
}

static void event_queue(void *arg, const char *line, size_t len)
{
	struct xlb_docker *d = arg;
	struct xlb_devent ev, *more;

	d->stats.events++;
	if (xlb_dmodel_event(line, len, &ev)) {
		pr_debug("event=docker_event_unreadable len=%zu", len);
		return;
	}
	if (ev.kind == XLB_DEV_IGNORE)
		return;
	more = realloc(d->evq, (d->n_evq + 1) * sizeof(*more));
	if (!more)
		return; /* the next resync heals it */
	d->evq = more;
	more[d->n_evq++] = ev;
}

static void event_handle(struct xlb_docker *d, const struct xlb_devent *e)
{
	struct xlb_devent ev = *e;
	struct known *k;

	pr_debug("event=docker_event action=%s id=%.12s", ev.action, ev.id);
	k = known_find(d, ev.id);
	if (k && ev.kind == XLB_DEV_REFRESH &&
	    (!strcmp(ev.action, "start") || !strcmp(ev.action, "unpause") ||
	     !strcmp(ev.action, "restart")))
		k->stopping = false;
	if (k && ev.kind == XLB_DEV_GONE)
		k->stopping = true;
	if (!strcmp(ev.action, "die") && k && k->valid && k->c.running) {
		/* its process is gone: no backend any more (the proxy resets what
		 * it carried), without waiting for an inspect that dockerd answers
		 * only after tearing the network down */
		k->c.running = k->c.serving = false;
		snprintf(k->c.why_not, sizeof(k->c.why_not), "exited");
		d->dirty = true;
		apply_if_settled(d);
	}
	if (ev.kind == XLB_DEV_GONE && k && k->valid && k->c.serving) {
		/* draining before the process is gone: no new request reaches a
		 * stopping container, the ones it has may finish; inspect tells
		 * the rest */
		k->c.serving = false;
		snprintf(k->c.why_not, sizeof(k->c.why_not), "%s", ev.action);
		d->dirty = true;
		apply_if_settled(d);
	}
	if (strcmp(ev.action, "destroy") == 0) {
		if (k)
			known_remove(d, k);
		apply_if_settled(d);
		return;
	}
	inspect(d, ev.id, 0);
}

static size_t events_write(char *ptr, size_t size, size_t nmemb, void *userp)
{
	struct req *r = userp;
	size_t n = size * nmemb;

	/* one JSON object per line */
	return xlb_docker_lines_feed(&r->lines, ptr, n, EVENT_LINE_MAX, event_queue, r->d) ? 0 : n;
}

/* ---- connection ---------------------------------------------------------------- */

static void sync_start(struct xlb_docker *d)
{
	d->gen++;
	if (req_start(d, REQ_LIST, NULL, NULL) == 0)
		d->sync_pending = 1;
	d->next_resync_ms = xlb_loop_now_ms() + d->resync_ms;
}

static void connect_start(struct xlb_docker *d)
{
	d->state = SYNCING;
	/* the stream first: whatever happens during the list is not missed */
	if (req_start(d, REQ_EVENTS, NULL, &d->events)) {
		d->events = NULL;
		d->state = DOWN;
		return;
	}
	sync_start(d);
}

static void drop_requests(struct xlb_docker *d)
{
	while (d->reqs)
		req_free(d->reqs);
	d->events = NULL;
}

static void disconnected(struct xlb_docker *d, const char *why)
{
	if (d->state != DOWN)
		pr_warn("event=docker_down socket=%s err=\"%s\" serving=last_known_state "
			"retry_ms=%u",
			d->socket, why, d->backoff_ms);
	d->stats.errors++;
	d->state = DOWN;
	d->sync_pending = 0;
	d->n_evq = 0;
	d->next_try_ms = xlb_loop_now_ms() + d->backoff_ms;
	d->backoff_ms = d->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : d->backoff_ms * 2;
	drop_requests(d);
}

static void sync_finish_one(struct xlb_docker *d)
{
	if (d->sync_pending && --d->sync_pending == 0) {
		/* containers the list no longer has are gone */
		for (size_t i = d->n_known; i-- > 0;)
			if (d->known[i].seen_gen != d->gen)
				known_remove(d, &d->known[i]);
		d->dirty = true;
		apply_if_settled(d);
		d->stats.last_sync_unix_s = (uint64_t)time(NULL);
		/* logged after the maps hold the synced state */
		if (d->state == SYNCING) {
			pr_info("event=docker_synced socket=%s containers=%zu", d->socket,
				d->n_known);
			d->state = LIVE;
			d->backoff_ms = BACKOFF_MIN_MS;
		}
	}
}

static void list_done(struct xlb_docker *d, struct req *r)
{
	char(*ids)[XLB_DOCKER_ID_LEN] = NULL;
	int n = xlb_dmodel_list_ids(r->buf ? r->buf : "", r->len, &ids);

	if (n < 0) {
		d->stats.errors++;
		pr_warn("event=docker_error request=\"GET %s\" err=\"unreadable answer\"",
			req_path(r->kind));
		free(ids);
		sync_finish_one(d);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct known *k = known_get(d, ids[i]);

		if (k)
			k->seen_gen = d->gen;
		inspect(d, ids[i], d->gen);
	}
	free(ids);
	sync_finish_one(d);
}

/* xlbd's own container's networks, from its inspect answer. */
static void own_networks_read(struct xlb_docker *d, const struct req *r)
{
	char **names;
	size_t n;

	if (xlb_dmodel_own_networks(r->buf ? r->buf : "", r->len, &names, &n))
		return;
	strv_free(d->own_nets, d->n_own_nets);
	d->own_nets = names;
	d->n_own_nets = n;
	d->dirty = true;
	pr_info("event=docker_own_networks id=%.12s networks=%zu", d->own_id, n);
}

static void inspect_done(struct xlb_docker *d, struct req *r, long status)
{
	struct xlb_dcontainer c;
	struct known *k;
	char err[320] = "";
	int rc;

	if (status == 200 && d->own_id[0] && strcmp(r->id, d->own_id) == 0)
		own_networks_read(d, r);
	if (status == 404) {
		k = known_find(d, r->id);
		if (k)
			known_remove(d, k);
	} else {
		rc = xlb_dmodel_container(r->buf ? r->buf : "", r->len, &c, err, sizeof(err));
		k = known_get(d, r->id);
		if (k) {
			known_set(d, k, &c, rc, err);
			k->seen_gen = d->gen;
		} else if (rc == 1) {
			xlb_dcontainer_free(&c);
		}
	}
	if (r->sync_gen && r->sync_gen == d->gen)
		sync_finish_one(d);
	else if (!r->sync_gen)
		apply_if_settled(d);
}

static void req_done(struct xlb_docker *d, struct req *r, CURLcode code)
{
	long status = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r == d->events) {
		d->events = NULL;
		req_free(r);
		disconnected(d, code == CURLE_OK ? "event stream ended" : curl_easy_strerror(code));
		return;
	}
	if (code != CURLE_OK || (status != 200 && status != 404)) {
		char why[96];

		snprintf(why, sizeof(why), "%s", code != CURLE_OK ? curl_easy_strerror(code) : "");
		if (code == CURLE_OK)
			snprintf(why, sizeof(why), "HTTP %ld", status);
		pr_warn("event=docker_error request=\"GET %s\" id=%.12s err=\"%s\"",
			req_path(r->kind), r->id, why);
		req_free(r);
		disconnected(d, why);
		return;
	}
	if (r->kind == REQ_LIST)
		list_done(d, r);
	else
		inspect_done(d, r, status);
	req_free(r);
}

/* libcurl takes no new transfer from inside its callbacks: events wait
 * for its return. */
static void events_drain(struct xlb_docker *d)
{
	for (size_t i = 0; i < d->n_evq; i++)
		event_handle(d, &d->evq[i]);
	d->n_evq = 0;
}

static void check_done(struct xlb_docker *d)
{
	CURLMsg *msg;
	int left;

	events_drain(d);
	while ((msg = curl_multi_info_read(d->multi, &left))) {
		char *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		if (priv)
			req_done(d, (struct req *)(void *)priv, msg->data.result);
	}
}

/* ---- curl's sockets and timer in our loop ------------------------------------------ */

static void socket_ready(struct xlb_watch *w, uint32_t events)
{
	struct sockw *sw = xlb_container_of(w, struct sockw, w);
	struct xlb_docker *d = sw->d;
	int mask = 0, running;

	if (events & (EPOLLIN | EPOLLHUP))
		mask |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		mask |= CURL_CSELECT_OUT;
	if (events & EPOLLERR)
		mask |= CURL_CSELECT_ERR;
	curl_multi_socket_action(d->multi, w->fd, mask, &running);
	check_done(d);
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct xlb_docker *d = userp;
	struct sockw *sw = socketp;
	uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			xlb_loop_del(d->loop, &sw->w);
			curl_multi_assign(d->multi, s, NULL);
			free(sw);
		}
		return 0;
	}
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return -1;
		*sw = (struct sockw){ .w = { .fd = s, .fn = socket_ready }, .d = d };
		curl_multi_assign(d->multi, s, sw);
		return xlb_loop_add(d->loop, &sw->w, ev) ? -1 : 0;
	}
	return xlb_loop_mod(d->loop, &sw->w, ev) ? -1 : 0;
}

static void timer_ready(struct xlb_watch *w, uint32_t events)
{
	struct xlb_docker *d = xlb_container_of(w, struct xlb_docker, timer);
	uint64_t expirations;
	int running;

	(void)events;
	if (read(w->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(d);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct xlb_docker *d = userp;
	struct itimerspec its = {};

	(void)multi;
	if (timeout_ms >= 0) {
		/* 0 means "now": the loop's next turn, never from inside curl */
		its.it_value.tv_sec = timeout_ms / 1000;
		its.it_value.tv_nsec = (timeout_ms % 1000) * 1000000L + (timeout_ms ? 0 : 1);
	}
	return timerfd_settime(d->timer.fd, 0, &its, NULL) ? -1 : 0;
}

/* ---- life cycle --------------------------------------------------------------------- */

void xlb_docker_get_stats(const struct xlb_docker *d, struct xlb_docker_stats *out)
{
	*out = d->stats;
	out->connected = d->state == LIVE;
}

void xlb_docker_tick(struct xlb_docker *d)
{
	uint64_t now = xlb_loop_now_ms();

	if (d->state == DOWN && now >= d->next_try_ms) {
		pr_debug("event=docker_connect socket=%s", d->socket);
		connect_start(d);
	} else if (d->state == LIVE && now >= d->next_resync_ms && d->sync_pending == 0) {
		sync_start(d);
	}
}

/* The operator's --docker-listen-allow, kept for every build. */
static int networks_copy(struct xlb_docker *d, const struct xlb_docker_opts *o)
{
	if (!o->n_networks)
		return 0;
	d->op_nets = calloc(o->n_networks + 1, sizeof(*d->op_nets));
	if (!d->op_nets)
		return -ENOMEM;
	for (size_t i = 0; i < o->n_networks; i++) {
		d->op_nets[i] = strdup(o->networks[i]);
		if (!d->op_nets[i])
			return -ENOMEM;
		d->n_op_nets++;
	}
	return 0;
}

/* Whether xlbd runs in a container: then the networks it shares with a
 * container are the ones it can reach it on. */
static void own_container_find(struct xlb_docker *d)
{
	char buf[65536];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t n;

	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (xlb_dmodel_own_id(buf, d->own_id) == 0)
		pr_info("event=docker_own_container id=%.12s", d->own_id);
}

static int rules_copy(struct xlb_docker *d, const struct xlb_docker_opts *o)
{
	if (!o->n_listen_allow)
		return 0;
	d->listen_allow = malloc(o->n_listen_allow * sizeof(*d->listen_allow));
	if (!d->listen_allow)
		return -ENOMEM;
	memcpy(d->listen_allow, o->listen_allow, o->n_listen_allow * sizeof(*d->listen_allow));
	d->n_listen_allow = o->n_listen_allow;
	return 0;
}

int xlb_docker_new(struct xlb_loop *loop, const struct xlb_docker_opts *o, xlb_docker_apply_fn fn,
		   void *arg, struct xlb_docker **out)
{
	static bool curl_ready;
	struct xlb_docker *d;
	int err;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_NOTHING))
			return -ENOMEM;
		curl_ready = true;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	snprintf(d->socket, sizeof(d->socket), "%s", o->socket ? o->socket : XLB_DOCKER_SOCKET);
	if (o->vip) {
		d->has_vip = true;
		d->vip = *o->vip;
	}
	d->min_listen_port = o->min_listen_port;
	d->resync_ms = o->resync_ms ? o->resync_ms : 30000;
	d->has_cert = o->has_cert;
	d->cert_arg = o->cert_arg;
	d->apply = fn;
	d->arg = arg;
	d->backoff_ms = BACKOFF_MIN_MS;
	d->timer = (struct xlb_watch){ .fd = timerfd_create(CLOCK_MONOTONIC,
							    TFD_NONBLOCK | TFD_CLOEXEC),
				       .fn = timer_ready };
	d->multi = curl_multi_init();
	if (d->timer.fd < 0 || !d->multi) {
		err = d->timer.fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	err = rules_copy(d, o);
	if (!err)
		err = networks_copy(d, o);
	if (err)
		goto fail;
	own_container_find(d);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)MAX_CONNECTIONS);
	err = xlb_loop_add(loop, &d->timer, EPOLLIN);
	if (err)
		goto fail;
	d->state = DOWN;
	pr_info("event=docker_start socket=%s api=%s resync_ms=%u", d->socket, XLB_DOCKER_API,
		d->resync_ms);
	connect_start(d);
	*out = d;
	return 0;
fail:
	if (d->multi)
		curl_multi_cleanup(d->multi);
	if (d->timer.fd >= 0)
		close(d->timer.fd);
	free(d->listen_allow);
	strv_free(d->op_nets, d->n_op_nets);
	free(d);
	return err;
}

void xlb_docker_free(struct xlb_docker *d)
{
	if (!d)
		return;
	drop_requests(d);
	curl_multi_cleanup(d->multi);
	xlb_loop_del(d->loop, &d->timer);
	close(d->timer.fd);
	for (size_t i = 0; i < d->n_known; i++)
		xlb_dcontainer_free(&d->known[i].c);
	free(d->known);
	free(d->evq);
	strv_free(d->warned, d->n_warned);
	xlb_dholds_free(&d->held);
	free(d->listen_allow);
	strv_free(d->op_nets, d->n_op_nets);
	strv_free(d->own_nets, d->n_own_nets);
	free(d);
}
