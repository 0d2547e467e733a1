// SPDX-License-Identifier: GPL-2.0
/* The Host/SNI proxy. A connection goes through three states:
 *   PEEK     the request head or ClientHello is read with MSG_PEEK (nothing
 *            is consumed), until the peeker decides or a limit is hit;
 *   CONNECT  a non-blocking connect to the backend the state picked (the
 *            same Maglev table and flow hash as XDP), retried once on
 *            another backend;
 *   SPLICE   each direction moves socket -> pipe -> socket with splice(2),
 *            so the payload, the peeked head included, never enters
 *            userspace. A pipe holds at most its capacity, so a slow
 *            reader stops the other side's reads: memory stays bounded.
 * All sockets are edge-triggered: every handler drains until EAGAIN. */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "hostmap.h"
#include "log.h"
#include "peek_http.h"
#include "peek_tls.h"

#define SPLICE_CHUNK (1 << 16)
#define ACCEPT_BATCH 64
#define DRAIN_BYTES (64 * 1024)

enum conn_state { C_PEEK, C_CONNECT, C_SPLICE, C_DEAD };

struct listener {
	struct xlb_watch w;
	struct xlb_proxy *p;
	struct xlb_endpoint ep;
	bool tls;
	struct xlb_proxy_counters c;
};

struct conn;

struct side {
	struct xlb_watch w;
	struct conn *c;
};

/* One direction: src socket -> pipe -> dst socket. */
struct flow_dir {
	int rd, wr;	/* pipe ends */
	size_t queued;	/* bytes in the pipe */
	bool src_eof;
	bool dst_shut;
};

struct conn {
	struct side client;
	struct side backend;
	struct xlb_proxy *p;
	struct listener *l;
	enum conn_state state;
	uint64_t deadline_ms;
	uint64_t last_active_ms;
	struct xlb_flow_key flow;
	char host[XLB_HOSTNAME_SIZE];
	char peer[XLB_EP_STRLEN];
	uint32_t svc_id;
	uint32_t be_id;
	bool retried;
	struct flow_dir up;	/* client -> backend */
	struct flow_dir down;	/* backend -> client */
	struct conn *prev, *next;
};

struct xlb_proxy {
	struct xlb_loop *loop;
	struct xlb_state *st;
	struct xlb_proxy_limits lim;
	struct listener *listeners[XLB_MAX_LISTENERS];
	size_t n_listeners;
	struct conn *conns;	/* live connections */
	struct conn *dead;	/* closed during this loop iteration */
	size_t n_conns;
	char *peekbuf;
	struct xlb_proxy_counters svc_c[XLB_MAX_SERVICES];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connection bookkeeping ----------------------------------------------- */

static void conn_link(struct xlb_proxy *p, struct conn *c)
{
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->n_conns++;
}

static void conn_unlink(struct xlb_proxy *p, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->n_conns--;
}

static void fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void side_close(struct xlb_proxy *p, struct side *s, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (s->w.fd < 0)
		return;
	xlb_loop_del(p->loop, &s->w);
	if (reset)
		setsockopt(s->w.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	fd_close(&s->w.fd);
}

static void dir_close(struct flow_dir *d)
{
	fd_close(&d->rd);
	fd_close(&d->wr);
}

/* Closes at once but frees later: another event of this batch may still
 * point at the connection. reset sends RST instead of FIN. */
static void conn_close(struct conn *c, bool reset)
{
	struct xlb_proxy *p = c->p;

	if (c->state == C_DEAD)
		return;
	side_close(p, &c->client, reset);
	side_close(p, &c->backend, reset);
	dir_close(&c->up);
	dir_close(&c->down);
	c->state = C_DEAD;
	conn_unlink(p, c);
	c->next = p->dead;
	p->dead = c;
}

void xlb_proxy_reap(struct xlb_proxy *p)
{
	while (p->dead) {
		struct conn *c = p->dead;

		p->dead = c->next;
		free(c);
	}
}

static struct xlb_proxy_counters *svc_counters(struct conn *c)
{
	return c->svc_id < XLB_MAX_SERVICES ? &c->p->svc_c[c->svc_id] : NULL;
}

/* ---- answers that end a connection ------------------------------------------ */

/* Unread input makes close() send RST, which can destroy the answer
 * before the client reads it: discard what is queued first. */
static void drain_input(int fd)
{
	for (int i = 0; i < 16; i++) {
		if (recv(fd, NULL, DRAIN_BYTES, MSG_TRUNC | MSG_DONTWAIT) <= 0)
			return;
	}
}

static void http_answer(struct conn *c, int code, const char *reason)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     code, reason, strlen(reason) + 1, reason);
	drain_input(c->client.w.fd);
	send(c->client.w.fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->client.w.fd, SHUT_WR);
	conn_close(c, false);
}

/* A fatal unrecognized_name (112) alert, sent before the ClientHello is
 * answered, tells the client why (RFC 6066 3). */
static void tls_refuse(struct conn *c)
{
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70 };

	drain_input(c->client.w.fd);
	send(c->client.w.fd, alert, sizeof(alert), MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(c, false);
}

static void refuse(struct conn *c, int code, const char *reason)
{
	pr_info("event=proxy_refuse client=%s host=%s code=%d reason=\"%s\"", c->peer,
		c->host[0] ? c->host : "-", code, reason);
	if (c->l->tls)
		tls_refuse(c);
	else
		http_answer(c, code, reason);
}

/* ---- splice ----------------------------------------------------------------- */

static int dir_open(struct flow_dir *d)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	d->rd = fds[0];
	d->wr = fds[1];
	return 0;
}

/* Moves what it can from src to dst; 0, or -errno on a broken side. */
static int pump(struct conn *c, struct flow_dir *d, int src, int dst)
{
	ssize_t n;

	for (;;) {
		if (d->queued) {
			n = splice(d->rd, NULL, dst, NULL, d->queued,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n < 0)
				return errno == EAGAIN ? 0 : -errno;
			d->queued -= (size_t)n;
			c->l->c.spliced_bytes += (uint64_t)n;
			if (svc_counters(c))
				svc_counters(c)->spliced_bytes += (uint64_t)n;
			continue;
		}
		if (d->src_eof)
			break;
		n = splice(src, NULL, d->wr, NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			d->src_eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		d->queued += (size_t)n;
	}
	/* everything read from src reached dst: pass the FIN on */
	if (!d->dst_shut) {
		shutdown(dst, SHUT_WR);
		d->dst_shut = true;
	}
	return 0;
}

static void splice_both(struct conn *c)
{
	int err;

	c->last_active_ms = now_ms();
	err = pump(c, &c->up, c->client.w.fd, c->backend.w.fd);
	if (!err)
		err = pump(c, &c->down, c->backend.w.fd, c->client.w.fd);
	if (err) {
		pr_debug("event=proxy_reset client=%s err=\"%s\"", c->peer, strerror(-err));
		conn_close(c, true);
		return;
	}
	if (c->up.dst_shut && c->down.dst_shut)
		conn_close(c, false);
}

static void on_splice_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;

	(void)events;
	if (s->c->state == C_SPLICE)
		splice_both(s->c);
}

static int start_splice(struct conn *c)
{
	const uint32_t ev = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	int err;

	err = dir_open(&c->up);
	if (!err)
		err = dir_open(&c->down);
	if (err)
		return err;
	c->client.w.fn = on_splice_event;
	c->backend.w.fn = on_splice_event;
	err = xlb_loop_mod(c->p->loop, &c->client.w, ev);
	if (!err)
		err = xlb_loop_mod(c->p->loop, &c->backend.w, ev);
	if (err)
		return err;
	c->state = C_SPLICE;
	c->l->c.splice_conns++;
	c->l->c.routed++;
	if (svc_counters(c)) {
		svc_counters(c)->routed++;
		svc_counters(c)->splice_conns++;
	}
	splice_both(c);
	return 0;
}

/* ---- connect ------------------------------------------------------------------ */

static socklen_t sockaddr_of(const struct xlb_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(ep->port);
		sin->sin_addr.s_addr = ep->addr.v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(ep->port);
	memcpy(&sin6->sin6_addr, ep->addr.v6, 16);
	return sizeof(*sin6);
}

static void on_connect_event(struct xlb_watch *w, uint32_t events);
static void connect_failed(struct conn *c, int err);

static int connect_backend(struct conn *c, uint32_t skip_be)
{
	struct xlb_route r;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	err = xlb_state_route(c->p->st, c->l->tls, c->host, &c->flow, skip_be, &r);
	if (err)
		return err;
	c->svc_id = r.svc_id;
	c->be_id = r.be_id;
	fd = socket(r.backend.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->backend.w.fd = fd;
	c->backend.w.fn = on_connect_event;
	len = sockaddr_of(&r.backend, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		fd_close(&c->backend.w.fd);
		return err;
	}
	err = xlb_loop_add(c->p->loop, &c->backend.w, EPOLLOUT | EPOLLET);
	if (err) {
		fd_close(&c->backend.w.fd);
		return err;
	}
	c->state = C_CONNECT;
	return 0;
}

/* One retry on another backend, then a 502 (HTTP) or a close (TLS). */
static void connect_failed(struct conn *c, int err)
{
	uint32_t failed = c->be_id;

	side_close(c->p, &c->backend, false);
	pr_info("event=proxy_connect_failed client=%s host=%s backend_id=%u err=\"%s\" retry=%s",
		c->peer, c->host, failed, strerror(-err), c->retried ? "no" : "yes");
	if (!c->retried) {
		c->retried = true;
		if (connect_backend(c, failed) == 0)
			return;
	}
	c->l->c.connect_failed++;
	if (svc_counters(c))
		svc_counters(c)->connect_failed++;
	refuse(c, 502, "Bad Gateway");
}

static void on_connect_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;
	struct conn *c = s->c;
	socklen_t len = sizeof(int);
	int soerr = 0, err;

	(void)events;
	if (c->state != C_CONNECT)
		return;
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		connect_failed(c, -(soerr ? soerr : errno));
		return;
	}
	err = start_splice(c);
	if (err)
		conn_close(c, true);
}

/* ---- peek ---------------------------------------------------------------------- */

static enum xlb_peek peek_parse(struct conn *c, size_t n, const char **why)
{
	size_t head_len;

	if (c->l->tls)
		return xlb_peek_tls((const uint8_t *)c->p->peekbuf, n, c->host, sizeof(c->host), why);
	return xlb_peek_http(c->p->peekbuf, n, c->host, sizeof(c->host), &head_len, why);
}

static void route(struct conn *c)
{
	int err = connect_backend(c, 0);

	if (err == -ENOENT) {
		c->l->c.no_route++;
		refuse(c, 404, "Not Found");
	} else if (err == -EHOSTUNREACH) {
		c->l->c.no_route++;
		refuse(c, 503, "Service Unavailable");
	} else if (err) {
		connect_failed(c, err);
	}
}

static void on_peek_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;
	struct conn *c = s->c;
	const char *why = "incomplete";
	enum xlb_peek v;
	ssize_t n;

	(void)events;
	if (c->state != C_PEEK)
		return;
	n = recv(w->fd, c->p->peekbuf, c->p->lim.max_head, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		conn_close(c, false); /* gone before saying anything */
		return;
	}
	if (n < 0)
		return;
	v = peek_parse(c, (size_t)n, &why);
	if (v == XLB_PEEK_MORE && (size_t)n < c->p->lim.max_head)
		return;
	if (v == XLB_PEEK_OK) {
		route(c);
		return;
	}
	if (v == XLB_PEEK_NONE) {
		c->l->c.no_route++;
		refuse(c, 404, "Not Found");
		return;
	}
	c->l->c.bad_request++;
	refuse(c, 400, v == XLB_PEEK_MORE ? "head too large" : why);
}

/* ---- accept -------------------------------------------------------------------- */

static void flow_key_of(const struct sockaddr_storage *peer, const struct sockaddr_storage *local,
			struct xlb_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->proto = IPPROTO_TCP;
	if (peer->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)peer, *b = (const void *)local;

		k->family = AF_INET;
		k->src.v4 = a->sin_addr.s_addr;
		k->dst.v4 = b->sin_addr.s_addr;
		k->sport = a->sin_port;
		k->dport = b->sin_port;
		return;
	}
	const struct sockaddr_in6 *a = (const void *)peer, *b = (const void *)local;

	k->family = AF_INET6;
	memcpy(k->src.v6, &a->sin6_addr, 16);
	memcpy(k->dst.v6, &b->sin6_addr, 16);
	k->sport = a->sin6_port;
	k->dport = b->sin6_port;
}

static void peer_name(const struct xlb_flow_key *k, char *buf, size_t len)
{
	struct xlb_endpoint ep = { .addr = k->src, .port = ntohs(k->sport), .family = k->family };

	xlb_format_endpoint(&ep, buf, len);
}

static struct conn *conn_new(struct listener *l, int fd)
{
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof(peer), llen = sizeof(local);
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->p = l->p;
	c->l = l;
	c->client = (struct side){ .w = { .fd = fd, .fn = on_peek_event }, .c = c };
	c->backend = (struct side){ .w = { .fd = -1 }, .c = c };
	c->up = (struct flow_dir){ .rd = -1, .wr = -1 };
	c->down = (struct flow_dir){ .rd = -1, .wr = -1 };
	c->svc_id = UINT32_MAX;
	c->last_active_ms = now_ms();
	c->deadline_ms = c->last_active_ms + l->p->lim.peek_timeout_ms;
	getpeername(fd, (struct sockaddr *)&peer, &plen);
	getsockname(fd, (struct sockaddr *)&local, &llen);
	flow_key_of(&peer, &local, &c->flow);
	peer_name(&c->flow, c->peer, sizeof(c->peer));
	return c;
}

static void accept_one(struct listener *l, int fd)
{
	struct xlb_proxy *p = l->p;
	struct conn *c;

	l->c.accepted++;
	if (p->n_conns >= p->lim.max_conns) {
		l->c.refused++;
		close(fd); /* at the limit: refuse the new, keep the old */
		return;
	}
	c = conn_new(l, fd);
	if (!c) {
		close(fd);
		return;
	}
	conn_link(p, c);
	c->state = C_PEEK;
	if (xlb_loop_add(p->loop, &c->client.w, EPOLLIN | EPOLLRDHUP | EPOLLET)) {
		conn_close(c, true);
		return;
	}
	on_peek_event(&c->client.w, EPOLLIN);
}

static void on_accept(struct xlb_watch *w, uint32_t events)
{
	struct listener *l = (struct listener *)w;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				pr_warn("event=accept_failed err=\"%s\"", strerror(errno));
			return;
		}
		accept_one(l, fd);
	}
}

/* ---- listeners ----------------------------------------------------------------- */

static int listen_socket(const struct xlb_endpoint *ep)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(ep, &ss);
	int one = 1, fd, err;

	fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:80 and 0.0.0.0:80 are separate listeners, as configured */
	if (ep->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int xlb_proxy_listen(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls)
{
	char buf[XLB_EP_STRLEN];
	struct listener *l;
	int fd, err;

	if (p->n_listeners == XLB_MAX_LISTENERS)
		return -ENOSPC;
	fd = listen_socket(ep);
	if (fd < 0)
		return fd;
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	*l = (struct listener){ .w = { .fd = fd, .fn = on_accept }, .p = p, .ep = *ep, .tls = tls };
	err = xlb_loop_add(p->loop, &l->w, EPOLLIN);
	if (err) {
		close(fd);
		free(l);
		return err;
	}
	p->listeners[p->n_listeners++] = l;
	pr_info("event=proxy_listen addr=%s kind=%s", xlb_format_endpoint(ep, buf, sizeof(buf)),
		tls ? "tls" : "http");
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int xlb_proxy_new(struct xlb_loop *loop, struct xlb_state *st,
		  const struct xlb_proxy_limits *lim, struct xlb_proxy **out)
{
	struct xlb_proxy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->st = st;
	p->lim = *lim;
	p->peekbuf = malloc(lim->max_head);
	if (!p->peekbuf) {
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

static void conn_check_deadline(struct conn *c, uint64_t now)
{
	bool peeking = c->state == C_PEEK || c->state == C_CONNECT;

	if (peeking && now >= c->deadline_ms) {
		c->l->c.timeouts++;
		pr_info("event=proxy_timeout client=%s state=%s", c->peer,
			c->state == C_PEEK ? "peek" : "connect");
		if (c->state == C_CONNECT)
			connect_failed(c, -ETIMEDOUT);
		else
			conn_close(c, false);
		return;
	}
	if (c->state == C_SPLICE && now - c->last_active_ms >= c->p->lim.idle_timeout_ms) {
		c->l->c.timeouts++;
		conn_close(c, false);
	}
}

void xlb_proxy_tick(struct xlb_proxy *p)
{
	uint64_t now = now_ms();
	struct conn *c = p->conns, *next;

	for (; c; c = next) {
		next = c->next;
		conn_check_deadline(c, now);
	}
}

static void listener_info(const struct listener *l, struct xlb_listener *v)
{
	memset(v, 0, sizeof(*v));
	v->addr = l->ep.addr;
	v->port = htons(l->ep.port);
	v->family = l->ep.family;
	v->kind = l->tls ? XLB_LISTEN_TLS : XLB_LISTEN_HTTP;
	v->c = l->c;
}

void xlb_proxy_flush_stats(struct xlb_proxy *p, int svc_stats_fd, int listeners_fd)
{
	struct xlb_listener v;

	for (uint32_t i = 0; listeners_fd >= 0 && i < p->n_listeners; i++) {
		listener_info(p->listeners[i], &v);
		bpf_map_update_elem(listeners_fd, &i, &v, BPF_ANY);
	}
	for (uint32_t i = 0; svc_stats_fd >= 0 && i < XLB_MAX_SERVICES; i++) {
		if (p->svc_c[i].routed || p->svc_c[i].connect_failed)
			bpf_map_update_elem(svc_stats_fd, &i, &p->svc_c[i], BPF_ANY);
	}
}

size_t xlb_proxy_conn_count(const struct xlb_proxy *p)
{
	return p->n_conns;
}

void xlb_proxy_free(struct xlb_proxy *p)
{
	if (!p)
		return;
	while (p->conns)
		conn_close(p->conns, false);
	xlb_proxy_reap(p);
	for (size_t i = 0; i < p->n_listeners; i++) {
		xlb_loop_del(p->loop, &p->listeners[i]->w);
		close(p->listeners[i]->w.fd);
		free(p->listeners[i]);
	}
	free(p->peekbuf);
	free(p);
}
