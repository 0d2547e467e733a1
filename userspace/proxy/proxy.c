// SPDX-License-Identifier: GPL-2.0
/* The Host/SNI proxy. A connection goes through three states:
 *   PEEK     the request head or ClientHello is read with MSG_PEEK (nothing
 *            is consumed), until the peeker decides or a limit is hit;
 *   HANDSHAKE a ClientHello whose name an https service claims: xlb
 *            completes the TLS handshake and hands the connection to the
 *            per-request engine (exchange.c);
 *   CONNECT  a non-blocking connect to the backend the state picked (by
 *            smooth weighted round robin: xlb_state_route), retried once
 *            on another backend;
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
#include <linux/sockios.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "acme/chall.h"
#include "lib/hostmap.h"
#include "exchange.h"
#include "handshake.h"
#include "http1.h"
#include "lib/queue.h"
#include "lib/log.h"
#include "peek_http.h"
#include "peek_tls.h"
#include "sock.h"
#include "source_limit.h"
#include "tls_outcome.h"
#include "xlb/tls_names.h"

#define SPLICE_CHUNK XLB_PIPE_BYTES
#define ACCEPT_BATCH 64

/* Both sockets of a connection are registered for these from the start
 * (the peek and connect handlers ignore what they do not need), so that
 * routing a connection changes no registration: two epoll_ctl less per
 * connection. */
#define MOVE_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
/* sockmap EOF rechecks: after 1 ms, doubling up to this, then the tick's */
#define EOF_RECHECK_MAX_MS 128

enum conn_state { C_PEEK, C_HANDSHAKE, C_CONNECT, C_SPLICE, C_SOCKMAP, C_DEAD };

struct listener {
	struct xlb_watch w;
	struct xlb_proxy *p;
	struct xlb_endpoint ep;
	bool tls;
	bool paused; /* out of descriptors: not in epoll until the next tick */
	struct xlb_proxy_counters c;
};

struct conn;

struct side {
	struct xlb_watch w;
	struct conn *c;
	uint32_t ev; /* events registered with the loop, 0: none */
};

/* One direction: src socket -> pipe (or buffer) -> dst socket. */
struct flow_dir {
	int rd, wr;    /* pipe ends (splice) */
	char *buf;     /* copy path */
	size_t off;    /* copy path: first unsent byte in buf */
	size_t queued; /* bytes in the pipe or buf */
	bool src_eof;
	bool dst_shut;
	uint64_t cookie; /* sockmap path: the source socket's cookie */
	uint64_t seen;	 /* sockmap path: bytes counted so far */
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
	bool proxy_v2;
	uint32_t hdr_sent;    /* PROXY header bytes written to the backend */
	SSL *ssl;	      /* HANDSHAKE: the session being set up */
	uint32_t tls_svc;     /* HANDSHAKE: the service its SNI names */
	struct flow_dir up;   /* client -> backend */
	struct flow_dir down; /* backend -> client */
	/* HANDSHAKE: its socket and SSL as the pool's job (the alerts either
	 * side sent are recorded there in the loop too); away: a worker has
	 * it, and nothing here may touch the socket, the SSL or the job */
	struct xlb_hs_job hs;
	bool away;
	bool src_counted;      /* in the source limit: put back when it closes */
	struct xlb_qnode pend; /* in p->pending while in PEEK */
	uint64_t accepted_ms;
	/* PEEK: when the head or hello is parsed again (each parse starts
	 * at its first byte; pacing keeps a slow sender's cost linear) */
	union {
		struct xlb_http1_pace http;
		struct xlb_tls_pace tls;
	} pace;
	struct conn *prev, *next;
};

struct xlb_proxy {
	struct xlb_loop *loop;
	struct xlb_state *st;
	struct xlb_proxy_limits lim;
	struct listener *listeners[XLB_MAX_LISTENERS];
	size_t n_listeners;
	bool accept_told;   /* a pause for want of descriptors was logged */
	struct conn *conns; /* live connections */
	struct conn *dead;  /* closed during this loop iteration */
	size_t n_conns;
	char *peekbuf;
	struct xlb_proxy_sockmap sm;
	struct xlb_proxy_counters svc_c[XLB_MAX_SERVICES];
	struct xlb_http_counters http_c[XLB_MAX_SERVICES]; /* request mode's, by service */
	struct xlb_tls_counters tls_c[XLB_MAX_SERVICES];   /* terminated handshakes, by service */
	struct xlb_watch eof_w; /* one-shot timer: sockmap EOFs still to pass on */
	bool eof_armed;
	uint32_t eof_delay_ms;
	/* the per-request engine: the HTTP listeners' (--http-mode request)
	 * and the terminated TLS connections' */
	struct xlb_exchange *ex;
	SSL_CTX *tls_ctx;	     /* terminating TLS: certificates by SNI, or NULL */
	unsigned int handshakes;     /* connections in HANDSHAKE, away ones too */
	struct xlb_srclim *srclim;   /* connections per source, both engines' */
	struct xlb_queue pending;    /* conn.pend: in PEEK, oldest first */
	struct xlb_hs_pool *hs_pool; /* with tls_ctx and lim.tls_workers */
};

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

/* Registers s for ev, or changes its events; no syscall when they are
 * already ev. */
static int side_watch(struct xlb_proxy *p, struct side *s, uint32_t ev)
{
	int err;

	if (s->ev == ev)
		return 0;
	err = s->ev ? xlb_loop_mod(p->loop, &s->w, ev) : xlb_loop_add(p->loop, &s->w, ev);
	if (!err)
		s->ev = ev;
	return err;
}

/* No EPOLL_CTL_DEL: closing the socket's only descriptor takes it out of
 * the epoll set (one syscall less per socket). */
static void side_close(struct xlb_proxy *p, struct side *s, bool reset)
{
	(void)p;
	s->ev = 0;
	xlb_sock_close(&s->w.fd, reset);
}

static void dir_close(struct xlb_proxy *p, struct flow_dir *d)
{
	xlb_fd_close(&d->rd);
	xlb_fd_close(&d->wr);
	free(d->buf);
	d->buf = NULL;
	if (d->cookie) {
		bpf_map_delete_elem(p->sm.pairs_fd, &d->cookie);
		bpf_map_delete_elem(p->sm.peer_fd, &d->cookie);
	}
	d->cookie = 0;
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
	dir_close(p, &c->up);
	dir_close(p, &c->down);
	if (c->state == C_HANDSHAKE)
		p->handshakes--;
	if (c->src_counted)
		xlb_srclim_put(p->srclim, &c->flow);
	c->src_counted = false;
	xlb_queue_remove(&p->pending, &c->pend);
	SSL_free(c->ssl);
	c->ssl = NULL;
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
	if (p->ex)
		xlb_exchange_reap(p->ex);
}

static struct xlb_proxy_counters *svc_counters(struct conn *c)
{
	return c->svc_id < XLB_MAX_SERVICES ? &c->p->svc_c[c->svc_id] : NULL;
}

/* ---- answers that end a connection ------------------------------------------ */

static void http_answer(struct conn *c, int code, const char *reason)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s\n",
		     code, reason, strlen(reason) + 1, reason);
	xlb_sock_drain(c->client.w.fd);
	send(c->client.w.fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(c->client.w.fd, SHUT_WR);
	conn_close(c, false);
}

/* A fatal unrecognized_name (112) alert, sent before the ClientHello is
 * answered, tells the client why (RFC 6066 3). */
static void tls_refuse(struct conn *c)
{
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70 };

	xlb_sock_drain(c->client.w.fd);
	send(c->client.w.fd, alert, sizeof(alert), MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close(c, false);
}

static void refuse(struct conn *c, int code, const char *reason)
{
	pr_info_rl("event=proxy_refuse client=%s host=%s code=%d reason=\"%s\"", c->peer,
		   c->host[0] ? c->host : "-", code, reason);
	if (c->l->tls)
		tls_refuse(c);
	else
		http_answer(c, code, reason);
}

/* ---- splice ----------------------------------------------------------------- */

static int dir_open(struct flow_dir *d)
{
	return xlb_pipe_open(&d->rd, &d->wr);
}

/* On the splice and copy paths the bound is set where it costs no extra
 * syscall per connection: on the listener, whose accepted sockets inherit
 * it, and on the backend socket before its connect. The sockmap path
 * keeps autotuning (a connection that falls back to splice is bounded
 * then). */
static bool rcvbuf_preset(const struct xlb_proxy *p)
{
	return p->lim.path != XLB_PATH_SOCKMAP;
}

static void count_moved(struct conn *c, size_t n)
{
	c->l->c.spliced_bytes += n;
	if (svc_counters(c))
		svc_counters(c)->spliced_bytes += n;
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
			count_moved(c, (size_t)n);
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

/* The baseline path: the same loop through a userspace buffer. */
static int pump_copy(struct conn *c, struct flow_dir *d, int src, int dst)
{
	ssize_t n;

	for (;;) {
		if (d->queued) {
			n = send(dst, d->buf + d->off, d->queued, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0)
				return errno == EAGAIN ? 0 : -errno;
			d->off += (size_t)n;
			d->queued -= (size_t)n;
			count_moved(c, (size_t)n);
			continue;
		}
		if (d->src_eof)
			break;
		n = recv(src, d->buf, SPLICE_CHUNK, MSG_DONTWAIT);
		if (n == 0) {
			d->src_eof = true;
			break;
		}
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		d->off = 0;
		d->queued = (size_t)n;
	}
	if (!d->dst_shut) {
		shutdown(dst, SHUT_WR);
		d->dst_shut = true;
	}
	return 0;
}

static int pump_dir(struct conn *c, struct flow_dir *d, int src, int dst)
{
	return d->buf ? pump_copy(c, d, src, dst) : pump(c, d, src, dst);
}

static void splice_done(struct conn *c, int err)
{
	if (err) {
		pr_debug("event=proxy_reset client=%s err=\"%s\"", c->peer, strerror(-err));
		conn_close(c, true);
		return;
	}
	if (c->up.dst_shut && c->down.dst_shut)
		conn_close(c, false);
}

static void splice_both(struct conn *c)
{
	int err;

	c->last_active_ms = xlb_loop_now_ms();
	err = pump_dir(c, &c->up, c->client.w.fd, c->backend.w.fd);
	if (!err)
		err = pump_dir(c, &c->down, c->backend.w.fd, c->client.w.fd);
	splice_done(c, err);
}

/* Events that can let bytes leave a socket: data, its end, or an error. */
#define READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

/* Only the directions an event can unblock: a readable side feeds the
 * direction it sends on; a writable side drains the direction it
 * receives, if bytes wait there. Pumping both on every event cost a
 * splice that returned EAGAIN per event (a third of xlbd's splices with
 * keep-alive, measured with strace). */
static void on_splice_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;
	struct conn *c = s->c;
	bool client = s == &c->client;
	struct flow_dir *from = client ? &c->up : &c->down;
	struct flow_dir *to = client ? &c->down : &c->up;
	int other = client ? c->backend.w.fd : c->client.w.fd;
	int err = 0;

	if (c->state != C_SPLICE)
		return;
	c->last_active_ms = xlb_loop_now_ms();
	if (events & READ_EVENTS)
		err = pump_dir(c, from, w->fd, other);
	if (!err && (events & EPOLLOUT) && to->queued)
		err = pump_dir(c, to, other, w->fd);
	splice_done(c, err);
}

static int dir_open_copy(struct flow_dir *d)
{
	d->buf = malloc(SPLICE_CHUNK);
	return d->buf ? 0 : -ENOMEM;
}

static void count_path(struct conn *c, enum xlb_proxy_path path)
{
	struct xlb_proxy_counters *sc = svc_counters(c);

	c->l->c.routed++;
	if (sc)
		sc->routed++;
	if (path == XLB_PATH_SPLICE) {
		c->l->c.splice_conns++;
		if (sc)
			sc->splice_conns++;
	} else if (path == XLB_PATH_COPY) {
		c->l->c.copy_conns++;
		if (sc)
			sc->copy_conns++;
	} else {
		c->l->c.sockmap_conns++;
		if (sc)
			sc->sockmap_conns++;
	}
}

/* Both sockets to the moving state's handler: the connection is routed. */
static int watch_both(struct conn *c, xlb_watch_fn fn, uint32_t ev, enum conn_state state,
		      enum xlb_proxy_path path)
{
	int err;

	c->client.w.fn = fn;
	c->backend.w.fn = fn;
	err = side_watch(c->p, &c->client, ev);
	if (!err)
		err = side_watch(c->p, &c->backend, ev);
	if (err)
		return err;
	c->state = state;
	count_path(c, path);
	return 0;
}

static int start_splice_as(struct conn *c, enum xlb_proxy_path path)
{
	bool copy = path == XLB_PATH_COPY;
	int err;

	err = copy ? dir_open_copy(&c->up) : dir_open(&c->up);
	if (!err)
		err = copy ? dir_open_copy(&c->down) : dir_open(&c->down);
	if (err)
		return err;
	if (!rcvbuf_preset(c->p)) {
		xlb_sock_bound_rcvbuf(c->client.w.fd);
		xlb_sock_bound_rcvbuf(c->backend.w.fd);
	}
	err = watch_both(c, on_splice_event, MOVE_EVENTS, C_SPLICE, path);
	if (err)
		return err;
	splice_both(c);
	return 0;
}

static int start_splice(struct conn *c)
{
	return start_splice_as(c, c->p->lim.path);
}

/* ---- sockmap ------------------------------------------------------------------ */

static uint64_t sock_cookie(int fd)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);

	getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
	return cookie;
}

/* Bytes ever queued on fd's send side: acked + still in the queue. */
static uint64_t sock_bytes_written(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) || ioctl(fd, SIOCOUTQ, &outq))
		return 0;
	return ti.tcpi_bytes_acked + (uint64_t)outq;
}

/* Brings d->seen up to the verdict program's count for d's source. */
static void sockmap_counted(struct conn *c, struct flow_dir *d)
{
	struct xlb_sock_peer pe;

	if (bpf_map_lookup_elem(c->p->sm.peer_fd, &d->cookie, &pe) || pe.bytes == d->seen)
		return;
	count_moved(c, pe.bytes - d->seen);
	d->seen = pe.bytes;
	c->last_active_ms = xlb_loop_now_ms();
}

/* Bytes fd ever received from its peer (final once the peer's FIN came). */
static uint64_t sock_bytes_received(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return UINT64_MAX;
	return ti.tcpi_bytes_received;
}

/* sockmap does not pass a FIN on: once everything redirected from the
 * closed side is in the peer's send queue, shut the peer's send side. The
 * order matters: every byte src received must have met the verdict program
 * first (an empty receive queue is not enough: the kernel takes bytes off
 * it before the program counts them, and a shutdown in that gap makes
 * their redirect fail with EPIPE), then the peer's send side is compared
 * with the count. */
static void sockmap_pass_eof(struct conn *c, struct flow_dir *d, int src, int dst, uint32_t own)
{
	int inq = 0;

	if (!d->src_eof || d->dst_shut)
		return;
	if (ioctl(src, SIOCINQ, &inq) || inq > 0)
		return;
	sockmap_counted(c, d);
	/* tcpi_bytes_received counts the FIN's sequence number too (measured:
	 * 198 bytes and a FIN show 199), and the FIN never meets the verdict
	 * program: without the 1, every closed connection waited here forever
	 * in CLOSE-WAIT, until the idle timeout */
	if (d->seen + 1 < sock_bytes_received(src))
		return; /* the verdict program has not seen them all: the tick looks again */
	/* own: bytes xlbd wrote to dst itself (the PROXY header) */
	if (sock_bytes_written(dst) < d->seen + own)
		return; /* still in flight inside the kernel: the tick looks again */
	shutdown(dst, SHUT_WR);
	d->dst_shut = true;
}

static bool sockmap_eof_pending(const struct conn *c)
{
	return c->state == C_SOCKMAP &&
	       ((c->up.src_eof && !c->up.dst_shut) || (c->down.src_eof && !c->down.dst_shut));
}

static void on_eof_timer(struct xlb_watch *w, uint32_t events);

/* Arms the EOF recheck in p->eof_delay_ms (fresh: 1 ms, for an EOF just
 * seen). sockmap moves a side's last bytes in a kernel worker, after
 * xlbd has seen its FIN: waiting for the next tick instead added up to
 * 250 ms to every response that ends with a close. */
static void eof_recheck_soon(struct xlb_proxy *p, bool fresh)
{
	struct itimerspec its = { 0 };

	if (fresh)
		p->eof_delay_ms = 1; /* sooner than whatever is armed */
	else if (p->eof_armed)
		return;
	if (p->eof_w.fd < 0) {
		p->eof_w.fn = on_eof_timer;
		p->eof_w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (p->eof_w.fd < 0 || xlb_loop_add(p->loop, &p->eof_w, EPOLLIN)) {
			xlb_fd_close(&p->eof_w.fd);
			return; /* the tick still looks */
		}
	}
	its.it_value.tv_nsec = (long)p->eof_delay_ms * 1000000;
	p->eof_armed = timerfd_settime(p->eof_w.fd, 0, &its, NULL) == 0;
}

static void sockmap_check(struct conn *c);

static void on_eof_timer(struct xlb_watch *w, uint32_t events)
{
	struct xlb_proxy *p = xlb_container_of(w, struct xlb_proxy, eof_w);
	struct conn *c, *next;
	bool pending = false;
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) < 0 && errno == EAGAIN)
		return;
	p->eof_armed = false;
	for (c = p->conns; c; c = next) {
		next = c->next;
		if (!sockmap_eof_pending(c))
			continue;
		sockmap_check(c);
		pending |= sockmap_eof_pending(c);
	}
	if (pending && p->eof_delay_ms < EOF_RECHECK_MAX_MS) {
		p->eof_delay_ms *= 2;
		eof_recheck_soon(p, false);
	}
}

static void sockmap_check(struct conn *c)
{
	sockmap_counted(c, &c->up);
	sockmap_counted(c, &c->down);
	sockmap_pass_eof(c, &c->up, c->client.w.fd, c->backend.w.fd, c->hdr_sent);
	sockmap_pass_eof(c, &c->down, c->backend.w.fd, c->client.w.fd, 0);
	if (c->up.dst_shut && c->down.dst_shut)
		conn_close(c, false);
}

static void on_sockmap_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;
	struct conn *c = s->c;

	if (c->state != C_SOCKMAP)
		return;
	if (events & EPOLLERR) {
		int soerr = 0;
		socklen_t len = sizeof(soerr);

		getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
		pr_info_rl("event=proxy_reset client=%s host=%s reason=socket_error side=%s "
			   "err=\"%s\" up_bytes=%llu down_bytes=%llu",
			   c->peer, c->host, s == &c->client ? "client" : "backend",
			   strerror(soerr), (unsigned long long)c->up.seen,
			   (unsigned long long)c->down.seen);
		conn_close(c, true);
		return;
	}
	if (events & (EPOLLRDHUP | EPOLLHUP)) {
		if (s == &c->client)
			c->up.src_eof = true;
		else
			c->down.src_eof = true;
	}
	sockmap_check(c);
	if (sockmap_eof_pending(c))
		eof_recheck_soon(c->p, true);
}

static int sockmap_peer(struct conn *c, uint64_t from, uint64_t to)
{
	struct xlb_sock_peer pe = { .peer_cookie = to };

	return bpf_map_update_elem(c->p->sm.peer_fd, &from, &pe, BPF_ANY) ? -errno : 0;
}

static int sockmap_insert(struct conn *c, uint64_t cookie, int fd)
{
	uint64_t val = (uint64_t)fd;

	return bpf_map_update_elem(c->p->sm.pairs_fd, &cookie, &val, BPF_ANY) ? -errno : 0;
}

/* A socket's bytes are redirected from the moment it is in the sockhash,
 * its queued head first, and a redirect to a peer not in it yet drops
 * them (counted as moved): so the peers are set first, then the backend
 * goes in, which has nothing to send before the head reached it, and
 * the client last. (Client first lost the head, or more of an upload
 * that was arriving, in about one of ten 64 MB uploads.) */
static int start_sockmap(struct conn *c)
{
	const uint32_t ev = EPOLLRDHUP | EPOLLET;
	int one = 1, err;

	c->up.cookie = sock_cookie(c->client.w.fd);
	c->down.cookie = sock_cookie(c->backend.w.fd);
	if (!c->up.cookie || !c->down.cookie)
		return -EINVAL;
	err = sockmap_peer(c, c->up.cookie, c->down.cookie);
	if (!err)
		err = sockmap_peer(c, c->down.cookie, c->up.cookie);
	if (!err)
		err = sockmap_insert(c, c->down.cookie, c->backend.w.fd);
	if (!err)
		err = sockmap_insert(c, c->up.cookie, c->client.w.fd);
	if (err)
		return err;
	/* the peeked head was queued before the insert: make it flow now */
	setsockopt(c->client.w.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	setsockopt(c->backend.w.fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	return watch_both(c, on_sockmap_event, ev, C_SOCKMAP, XLB_PATH_SOCKMAP);
}

/* The kernel refuses a socket that has already received a FIN into a
 * sockhash (EOPNOTSUPP): such a connection (a client that sent its request
 * and shut its side) takes the splice path instead. */
static int start_moving(struct conn *c)
{
	int err;

	if (c->p->lim.path != XLB_PATH_SOCKMAP)
		return start_splice(c);
	err = start_sockmap(c);
	if (err != -EOPNOTSUPP)
		return err;
	dir_close(c->p, &c->up);
	dir_close(c->p, &c->down);
	c->up = (struct flow_dir){ .rd = -1, .wr = -1 };
	c->down = (struct flow_dir){ .rd = -1, .wr = -1 };
	pr_debug("event=proxy_path_fallback client=%s path=splice reason=half_closed", c->peer);
	return start_splice_as(c, XLB_PATH_SPLICE);
}

/* ---- connect ------------------------------------------------------------------ */

static void on_connect_event(struct xlb_watch *w, uint32_t events);
static void connect_failed(struct conn *c, int err);

static int connect_backend(struct conn *c, uint32_t skip_be)
{
	struct xlb_route r;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err;

	err = xlb_state_route(c->p->st, c->l->tls, c->host, skip_be, &r);
	if (err)
		return err;
	/* bytes move here unread, so no TLS can be added to them: a
	 * backend_tls service is served per request (--http-mode request) */
	if (r.backend_tls)
		return -EPROTONOSUPPORT;
	c->svc_id = r.svc_id;
	c->be_id = r.be_id;
	c->proxy_v2 = r.proxy_v2;
	fd = socket(r.backend.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	c->backend.w.fd = fd;
	c->backend.w.fn = on_connect_event;
	if (rcvbuf_preset(c->p))
		xlb_sock_bound_rcvbuf(fd);
	len = xlb_endpoint_sockaddr(&r.backend, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		xlb_fd_close(&c->backend.w.fd);
		return err;
	}
	err = side_watch(c->p, &c->backend, MOVE_EVENTS);
	if (err) {
		xlb_fd_close(&c->backend.w.fd);
		return err;
	}
	xlb_queue_remove(&c->p->pending, &c->pend);
	c->state = C_CONNECT;
	return 0;
}

/* One retry on another backend, then a 502 (HTTP) or a close (TLS). */
static void connect_failed(struct conn *c, int err)
{
	uint32_t failed = c->be_id;

	side_close(c->p, &c->backend, false);
	pr_info_rl("event=proxy_connect_failed client=%s host=%s backend_id=%u err=\"%s\" retry=%s",
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

/* PROXY protocol v2 (haproxy's spec, section 2.2): the client's address
 * and the address it connected to, before any byte of the client's. */
static int send_proxy_v2(struct conn *c)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	uint8_t hdr[16 + 36];
	bool v4 = c->flow.family == AF_INET;
	size_t alen = v4 ? 4 : 16, len = 16 + 2 * alen + 4;

	memcpy(hdr, sig, sizeof(sig));
	hdr[12] = 0x21;		    /* version 2, PROXY */
	hdr[13] = v4 ? 0x11 : 0x21; /* TCP over IPv4 / IPv6 */
	hdr[14] = 0;
	hdr[15] = (uint8_t)(2 * alen + 4);
	memcpy(hdr + 16, c->flow.src.v6, alen);
	memcpy(hdr + 16 + alen, c->flow.dst.v6, alen);
	memcpy(hdr + 16 + 2 * alen, &c->flow.sport, 2);
	memcpy(hdr + 18 + 2 * alen, &c->flow.dport, 2);
	if (send(c->backend.w.fd, hdr, len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len)
		return -EIO;
	c->hdr_sent = (uint32_t)len;
	return 0;
}

static void on_connect_event(struct xlb_watch *w, uint32_t events)
{
	struct side *s = (struct side *)w;
	struct conn *c = s->c;
	socklen_t len = sizeof(int);
	int soerr = 0, err;

	if (c->state != C_CONNECT || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr) {
		connect_failed(c, -(soerr ? soerr : errno));
		return;
	}
	err = c->proxy_v2 ? send_proxy_v2(c) : 0;
	if (!err)
		err = start_moving(c);
	if (err) {
		pr_info_rl("event=proxy_reset client=%s host=%s err=\"%s\"", c->peer, c->host,
			   strerror(-err));
		conn_close(c, true);
	}
}

/* ---- peek ---------------------------------------------------------------------- */

static enum xlb_peek peek_parse(struct conn *c, size_t n, const char **why)
{
	size_t head_len;

	if (c->l->tls)
		return xlb_peek_tls((const uint8_t *)c->p->peekbuf, n, c->host, sizeof(c->host),
				    why);
	return xlb_peek_http(c->p->peekbuf, n, c->host, sizeof(c->host), &head_len, why);
}

/* Whether the n bytes peeked are worth a parse: always at the size
 * limit and when the client has finished sending. */
static bool peek_due(struct conn *c, size_t n, uint32_t events)
{
	if (n >= c->p->lim.max_head || (events & EPOLLRDHUP))
		return true;
	if (c->l->tls)
		return xlb_peek_tls_due(&c->pace.tls, (const uint8_t *)c->p->peekbuf, n);
	return xlb_http1_pace_due(&c->pace.http, c->p->peekbuf, n);
}

static void start_handshake(struct conn *c, uint32_t svc_id);

static void route(struct conn *c)
{
	uint32_t tls_svc;
	int err;

	if (c->l->tls && c->p->tls_ctx && !xlb_state_tls_service(c->p->st, c->host, &tls_svc)) {
		start_handshake(c, tls_svc);
		return;
	}
	err = connect_backend(c, 0);

	if (svc_counters(c))
		svc_counters(c)->accepted++;
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

	if (c->state != C_PEEK || !(events & READ_EVENTS))
		return;
	n = recv(w->fd, c->p->peekbuf, c->p->lim.max_head, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		conn_close(c, false); /* gone before saying anything */
		return;
	}
	if (n < 0 || !peek_due(c, (size_t)n, events))
		return;
	v = peek_parse(c, (size_t)n, &why);
	if (v == XLB_PEEK_MORE && (events & EPOLLRDHUP)) {
		c->l->c.bad_request++;
		refuse(c, 400, "incomplete request"); /* no more is coming */
		return;
	}
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

/* ---- TLS termination ------------------------------------------------------------ */

/* Handshakes under way are bounded (a flood of ClientHellos must not
 * starve the connections already served): past this many, new ones are
 * refused at once. */
#define MAX_HANDSHAKES 256

static struct xlb_tls_counters *tls_counters(struct conn *c)
{
	return c->tls_svc < XLB_MAX_SERVICES ? &c->p->tls_c[c->tls_svc] : NULL;
}

static void count_tls_failure(struct conn *c, enum xlb_tls_fail why)
{
	if (tls_counters(c))
		tls_counters(c)->failures[why]++;
}

/* The handshake is done: the connection leaves this file for the
 * per-request engine, which watches the socket itself. */
static void hand_over(struct conn *c)
{
	struct xlb_proxy *p = c->p;
	int fd = c->client.w.fd;
	SSL *ssl = c->ssl;
	enum xlb_tls_suite suite = xlb_tls_suite_of_ssl(ssl);
	const unsigned char *alpn;
	unsigned int alpn_len;

	/* the engine keeps the SSL, not this connection's alert record */
	xlb_tls_alerts_unwatch(ssl);
	if (tls_counters(c))
		tls_counters(c)->handshakes[suite]++;
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len == sizeof(XLB_ACME_ALPN) - 1 && !memcmp(alpn, XLB_ACME_ALPN, alpn_len)) {
		/* a CA's TLS-ALPN-01 validation: the handshake was all of it */
		pr_info_rl("event=acme_tlsalpn01_answered client=%s sni=%s", c->peer, c->host);
		SSL_shutdown(ssl);
		conn_close(c, false);
		return;
	}
	if (c->client.ev) /* back from a worker, it is not */
		xlb_loop_del(p->loop, &c->client.w);
	c->client.ev = 0;
	c->client.w.fd = -1;
	c->ssl = NULL;
	pr_debug("event=tls_handshake client=%s sni=%s version=%s cipher=%s", c->peer, c->host,
		 SSL_get_version(ssl), xlb_tls_suite_names[suite]);
	xlb_exchange_accept_tls(p->ex, fd, ssl, &c->flow, c->l->ep.port, &c->l->c, c->src_counted);
	c->src_counted = false; /* the engine puts it back */
	conn_close(c, false);
}

/* One line and one count per failed handshake: why in the counters'
 * terms, and OpenSSL's own words. */
static void handshake_failed(struct conn *c, const struct xlb_tls_end *end)
{
	enum xlb_tls_fail why = xlb_tls_fail_of(end);
	const char *err = end->err ? ERR_reason_error_string(end->err) : NULL;

	c->l->c.bad_request++;
	count_tls_failure(c, why);
	pr_debug("event=tls_handshake_failed client=%s sni=%s reason=%s err=\"%s\"", c->peer,
		 c->host, xlb_tls_fail_names[why], err ? err : "connection closed");
	conn_close(c, true);
}

static void handshake_step(struct conn *c)
{
	struct xlb_tls_end end;
	int r;

	ERR_clear_error();
	r = SSL_accept(c->ssl);
	if (r == 1) {
		hand_over(c);
		return;
	}
	xlb_tls_end_read(c->ssl, r, &c->hs.alerts, &end);
	ERR_clear_error();
	if (end.ssl_error == SSL_ERROR_WANT_READ || end.ssl_error == SSL_ERROR_WANT_WRITE)
		return;
	handshake_failed(c, &end);
}

static void on_handshake_event(struct xlb_watch *w, uint32_t events)
{
	struct conn *c = ((struct side *)w)->c;

	(void)events;
	if (c->state == C_HANDSHAKE)
		handshake_step(c);
}

/* Out of the loop's epoll (the worker watches the socket now), to the
 * pool with the same deadline as in the loop. */
static void send_away(struct conn *c)
{
	struct xlb_proxy *p = c->p;

	xlb_loop_del(p->loop, &c->client.w);
	c->client.ev = 0;
	c->hs.fd = c->client.w.fd;
	c->hs.ssl = c->ssl;
	c->hs.deadline_ms = c->deadline_ms;
	c->away = true;
	xlb_hs_submit(p->hs_pool, &c->hs);
}

static void conn_timed_out(struct conn *c);

/* A job back from a worker: the connection is the loop's again, counted
 * and logged as a handshake in the loop is. */
static void on_handshake_back(struct xlb_hs_job *job, void *arg)
{
	struct conn *c = xlb_container_of(job, struct conn, hs);

	(void)arg;
	c->away = false;
	switch (job->result) {
	case XLB_HS_DONE:
		hand_over(c);
		break;
	case XLB_HS_FAILED:
		handshake_failed(c, &job->end);
		break;
	case XLB_HS_TIMEOUT:
		conn_timed_out(c);
		break;
	case XLB_HS_ERROR:
		c->l->c.bad_request++;
		count_tls_failure(c, XLB_TLS_FAIL_OTHER);
		pr_warn("event=tls_handshake_failed client=%s sni=%s reason=other err=\"%s\"",
			c->peer, c->host, strerror(-job->error));
		conn_close(c, true);
		break;
	}
}

static void start_handshake(struct conn *c, uint32_t svc_id)
{
	struct xlb_proxy *p = c->p;

	c->tls_svc = svc_id;
	if (p->handshakes >= MAX_HANDSHAKES) {
		c->l->c.refused++;
		count_tls_failure(c, XLB_TLS_FAIL_HANDSHAKE_LIMIT);
		conn_close(c, true);
		return;
	}
	c->ssl = SSL_new(p->tls_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->client.w.fd) ||
	    xlb_tls_alerts_watch(c->ssl, &c->hs.alerts)) {
		count_tls_failure(c, XLB_TLS_FAIL_OTHER);
		conn_close(c, true);
		return;
	}
	p->handshakes++;
	xlb_queue_remove(&p->pending, &c->pend);
	c->state = C_HANDSHAKE;
	if (p->hs_pool) {
		send_away(c);
		return;
	}
	c->client.w.fn = on_handshake_event;
	handshake_step(c); /* the ClientHello is in the socket: it was peeked */
}

void xlb_proxy_set_acme(struct xlb_proxy *p, struct xlb_acme_challs *t)
{
	xlb_exchange_set_acme(p->ex, t);
}

/* The workers start with the first context: no threads in an xlbd that
 * terminates no TLS. */
static int start_workers(struct xlb_proxy *p)
{
	int err;

	if (p->hs_pool || !p->lim.tls_workers)
		return 0;
	err = xlb_hs_pool_new(p->loop, p->lim.tls_workers, on_handshake_back, p, &p->hs_pool);
	if (!err)
		pr_info("event=tls_workers workers=%u", p->lim.tls_workers);
	return err;
}

int xlb_proxy_set_tls(struct xlb_proxy *p, struct ssl_ctx_st *ctx)
{
	int err = ctx ? start_workers(p) : 0;

	if (err)
		return err;
	if (ctx && !SSL_CTX_up_ref(ctx))
		return -ENOMEM;
	SSL_CTX_free(p->tls_ctx);
	p->tls_ctx = ctx;
	return 0;
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

/* The address a client connected to: the listener's own, unless it
 * listens on a wildcard address (then one getsockname). */
static void local_name(const struct listener *l, int fd, struct sockaddr_storage *local)
{
	socklen_t llen = sizeof(*local);
	static const uint8_t zero[16];

	if (memcmp(&l->ep.addr, zero, l->ep.family == AF_INET ? 4 : 16) != 0) {
		xlb_endpoint_sockaddr(&l->ep, local);
		return;
	}
	getsockname(fd, (struct sockaddr *)local, &llen);
}

static struct conn *conn_new(struct listener *l, int fd, const struct xlb_flow_key *flow)
{
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
	c->tls_svc = UINT32_MAX;
	c->last_active_ms = xlb_loop_now_ms();
	c->accepted_ms = c->last_active_ms;
	c->deadline_ms = c->last_active_ms + l->p->lim.peek_timeout_ms;
	c->flow = *flow;
	peer_name(&c->flow, c->peer, sizeof(c->peer));
	return c;
}

/* At --max-pending connections that have not sent their first head or
 * ClientHello whole, the one that has waited longest is closed to make
 * room: a slow sender's connections go first, while a real client's
 * head comes within a round trip of its connect. A cap that refused the
 * new ones instead would let a few slow senders lock everyone out. */
static void evict_pending(struct xlb_proxy *p)
{
	struct conn *c = xlb_container_of(p->pending.head, struct conn, pend);

	c->l->c.timeouts++;
	pr_info_rl("event=proxy_timeout client=%s state=peek reason=evicted", c->peer);
	conn_close(c, false);
}

static void make_room_for_pending(struct xlb_proxy *p)
{
	if (!p->lim.max_pending)
		return;
	while (p->pending.n + xlb_exchange_pending(p->ex) >= p->lim.max_pending) {
		uint64_t mine =
			p->pending.head
				? xlb_container_of(p->pending.head, struct conn, pend)->accepted_ms
				: UINT64_MAX;

		if (mine <= xlb_exchange_oldest_pending_ms(p->ex))
			evict_pending(p);
		else
			xlb_exchange_evict_oldest(p->ex);
	}
}

/* One source over its --max-conns-per-source: refused, counted, said
 * (rate-limited: a client causes it). */
static void refuse_source(struct listener *l, const struct xlb_flow_key *flow)
{
	char peer[XLB_EP_STRLEN];

	l->c.refused++;
	peer_name(flow, peer, sizeof(peer));
	pr_info_rl("event=proxy_refuse_conn client=%s reason=max_conns_per_source limit=%u", peer,
		   xlb_srclim_per_source(l->p->srclim));
}

static void accept_one(struct listener *l, int fd, const struct sockaddr_storage *peer)
{
	struct xlb_proxy *p = l->p;
	struct sockaddr_storage local;
	struct xlb_flow_key flow;
	enum xlb_srclim_verdict v;
	struct conn *c;

	l->c.accepted++;
	if (xlb_proxy_conn_count(p) >= p->lim.max_conns) {
		l->c.refused++;
		close(fd); /* at the limit: refuse the new, keep the old */
		return;
	}
	local_name(l, fd, &local);
	flow_key_of(peer, &local, &flow);
	v = xlb_srclim_take(p->srclim, &flow);
	if (v == XLB_SRC_REFUSED) {
		refuse_source(l, &flow);
		close(fd);
		return;
	}
	make_room_for_pending(p);
	if (p->lim.http_mode == XLB_HTTP_MODE_REQUEST && !l->tls) {
		xlb_exchange_accept(p->ex, fd, &flow, l->ep.port, &l->c, v == XLB_SRC_COUNTED);
		return;
	}
	c = conn_new(l, fd, &flow);
	if (!c) {
		if (v == XLB_SRC_COUNTED)
			xlb_srclim_put(p->srclim, &flow);
		close(fd);
		return;
	}
	c->src_counted = v == XLB_SRC_COUNTED;
	conn_link(p, c);
	c->state = C_PEEK;
	xlb_queue_push(&p->pending, &c->pend);
	if (side_watch(p, &c->client, MOVE_EVENTS)) {
		conn_close(c, true);
		return;
	}
	/* the head often came with the handshake: look at once */
	on_peek_event(&c->client.w, EPOLLIN);
}

/* Out of descriptors: the listener leaves epoll until the next tick
 * (xlb_loop_accept_exhausted), which is said once. */
static void accept_pause(struct listener *l, int err)
{
	struct xlb_proxy *p = l->p;
	char buf[XLB_EP_STRLEN];

	if (xlb_loop_mod(p->loop, &l->w, 0))
		return;
	l->paused = true;
	if (p->accept_told)
		return;
	p->accept_told = true;
	pr_warn("event=accept_paused listen=%s err=\"%s\" resume=next_tick",
		xlb_format_endpoint(&l->ep, buf, sizeof(buf)), strerror(err));
}

static void on_accept(struct xlb_watch *w, uint32_t events)
{
	struct listener *l = (struct listener *)w;

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		/* the peer's address comes with the accept: no getpeername */
		int fd = accept4(w->fd, (struct sockaddr *)&peer, &plen,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (xlb_loop_accept_exhausted(errno))
				accept_pause(l, errno);
			else if (errno != EAGAIN && errno != EINTR)
				pr_warn_rl("event=accept_failed err=\"%s\"", strerror(errno));
			return;
		}
		accept_one(l, fd, &peer);
	}
}

/* Listening again on the tick; on_accept pauses a listener again, quietly,
 * while descriptors are still short. */
static void accept_resume(struct xlb_proxy *p)
{
	bool paused = false;

	for (size_t i = 0; i < p->n_listeners; i++) {
		struct listener *l = p->listeners[i];

		if (!l->paused || l->w.fd < 0 || xlb_loop_mod(p->loop, &l->w, EPOLLIN))
			continue;
		l->paused = false;
		on_accept(&l->w, EPOLLIN);
		paused |= l->paused;
	}
	if (p->accept_told && !paused) {
		p->accept_told = false;
		pr_info("event=accept_resumed");
	}
}

/* ---- listeners ----------------------------------------------------------------- */

static int listen_socket(const struct xlb_endpoint *ep, bool bound_rcv)
{
	struct sockaddr_storage ss;
	socklen_t len = xlb_endpoint_sockaddr(ep, &ss);
	int one = 1, fd, err;

	fd = socket(ep->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:80 and 0.0.0.0:80 are separate listeners, as configured */
	if (ep->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* inherited by every accepted socket (see XLB_RCV_BUF_BYTES) */
	if (bound_rcv)
		xlb_sock_bound_rcvbuf(fd);
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4096)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Starts accepting on fd (a listening socket) for l; closes fd on failure. */
static int listener_start(struct listener *l, int fd, const char *how)
{
	char buf[XLB_EP_STRLEN];
	int err;

	l->w.fd = fd;
	err = xlb_loop_add(l->p->loop, &l->w, EPOLLIN);
	if (err) {
		close(fd);
		l->w.fd = -1;
		return err;
	}
	pr_info("event=proxy_listen addr=%s kind=%s socket=%s",
		xlb_format_endpoint(&l->ep, buf, sizeof(buf)), l->tls ? "tls" : "http", how);
	return 0;
}

/* Takes fd (a listening socket) as a new listener; closes it on failure. */
static int listener_add(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls, int fd,
			const char *how)
{
	struct listener *l;
	int err;

	if (p->n_listeners == XLB_MAX_LISTENERS) {
		close(fd);
		return -ENOSPC;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	*l = (struct listener){ .w = { .fn = on_accept }, .p = p, .ep = *ep, .tls = tls };
	err = listener_start(l, fd, how);
	if (err) {
		free(l);
		return err;
	}
	p->listeners[p->n_listeners++] = l;
	return 0;
}

static struct listener *listener_find(const struct xlb_proxy *p, const struct xlb_endpoint *ep,
				      bool tls)
{
	for (size_t i = 0; i < p->n_listeners; i++)
		if (p->listeners[i]->tls == tls && xlb_endpoint_equal(&p->listeners[i]->ep, ep))
			return p->listeners[i];
	return NULL;
}

/* A listener closed by a reload and configured again keeps its slot and
 * its counters. */
static int listener_reopen(struct listener *l)
{
	int fd = listen_socket(&l->ep, rcvbuf_preset(l->p));

	return fd < 0 ? fd : listener_start(l, fd, "new");
}

int xlb_proxy_listen(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls)
{
	struct listener *l = listener_find(p, ep, tls);
	int fd;

	if (l)
		return l->w.fd >= 0 ? 0 : listener_reopen(l);
	if (p->n_listeners == XLB_MAX_LISTENERS)
		return -ENOSPC;
	fd = listen_socket(ep, rcvbuf_preset(p));
	if (fd < 0)
		return fd;
	return listener_add(p, ep, tls, fd, "new");
}

static void listener_stop(struct xlb_proxy *p, struct listener *l)
{
	xlb_loop_del(p->loop, &l->w);
	close(l->w.fd);
	l->w.fd = -1;
	l->paused = false;
}

void xlb_proxy_unlisten(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls)
{
	struct listener *l = listener_find(p, ep, tls);
	char buf[XLB_EP_STRLEN];

	if (!l || l->w.fd < 0)
		return;
	listener_stop(p, l);
	pr_info("event=proxy_unlisten addr=%s kind=%s", xlb_format_endpoint(ep, buf, sizeof(buf)),
		tls ? "tls" : "http");
}

int xlb_proxy_adopt_listener(struct xlb_proxy *p, const struct xlb_endpoint *ep, bool tls, int fd)
{
	return listener_add(p, ep, tls, fd, "handed_over");
}

int xlb_proxy_listen_sets(struct xlb_proxy *p, const struct xlb_listen_set *sets, size_t n,
			  struct xlb_handed *handed)
{
	char buf[XLB_EP_STRLEN];

	for (size_t s = 0; s < n; s++) {
		for (size_t i = 0; i < sets[s].n; i++) {
			const struct xlb_endpoint *ep = &sets[s].eps[i];
			int fd = xlb_handed_take(handed, ep, sets[s].tls);
			int err = fd >= 0 ? xlb_proxy_adopt_listener(p, ep, sets[s].tls, fd)
					  : xlb_proxy_listen(p, ep, sets[s].tls);

			if (err)
				return pr_err("listening on %s: %s",
					      xlb_format_endpoint(ep, buf, sizeof(buf)),
					      strerror(-err)),
				       err;
		}
	}
	return 0;
}

static bool set_has(const struct xlb_listen_set *set, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < set->n; i++)
		if (xlb_endpoint_equal(&set->eps[i], ep))
			return true;
	return false;
}

void xlb_proxy_relisten(struct xlb_proxy *p, const struct xlb_listen_set *was,
			const struct xlb_listen_set *now, const struct xlb_listen_set *keep)
{
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < was->n; i++)
		if (!set_has(now, &was->eps[i]) && !set_has(keep, &was->eps[i]))
			xlb_proxy_unlisten(p, &was->eps[i], was->tls);
	for (size_t i = 0; i < now->n; i++) {
		int err = xlb_proxy_listen(p, &now->eps[i], now->tls);

		if (err)
			pr_err("event=reload_failed listen=%s err=\"%s\"",
			       xlb_format_endpoint(&now->eps[i], buf, sizeof(buf)), strerror(-err));
	}
}

size_t xlb_proxy_listeners(const struct xlb_proxy *p, struct xlb_handed_listener *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < p->n_listeners && n < max; i++) {
		const struct listener *l = p->listeners[i];

		if (l->w.fd >= 0)
			out[n++] = (struct xlb_handed_listener){ .ep = l->ep,
								 .tls = l->tls,
								 .fd = l->w.fd };
	}
	return n;
}

/* The listeners' structs stay: open connections count their outcomes in
 * them until they end. */
void xlb_proxy_stop_accepting(struct xlb_proxy *p)
{
	for (size_t i = 0; i < p->n_listeners; i++)
		if (p->listeners[i]->w.fd >= 0)
			listener_stop(p, p->listeners[i]);
}

/* Trusted proxies carry many clients' connections: not limited per source. */
int xlb_proxy_set_trusted(struct xlb_proxy *p, const struct xlb_cidr *v, size_t n)
{
	int err = xlb_srclim_set_exempt(p->srclim, v, n);

	return err ? err : p->ex ? xlb_exchange_set_trusted(p->ex, v, n) : 0;
}

size_t xlb_proxy_conn_count(const struct xlb_proxy *p)
{
	return p->n_conns + (p->ex ? xlb_exchange_count(p->ex) : 0);
}

/* ---- lifecycle ------------------------------------------------------------------ */

static const char *const path_names[] = {
	[XLB_PATH_SPLICE] = "splice",
	[XLB_PATH_SOCKMAP] = "sockmap",
	[XLB_PATH_COPY] = "copy",
};

const char *xlb_proxy_path_name(enum xlb_proxy_path path)
{
	return path <= XLB_PATH_COPY ? path_names[path] : "?";
}

/* The index of s among names[0..n), or -EINVAL. */
static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -EINVAL;
}

int xlb_proxy_path_parse(const char *s, enum xlb_proxy_path *path)
{
	int i = name_index(path_names, XLB_PATH_COPY + 1, s);

	if (i < 0)
		return i;
	*path = (enum xlb_proxy_path)i;
	return 0;
}

static const char *const http_mode_names[] = {
	[XLB_HTTP_MODE_CONNECTION] = "connection",
	[XLB_HTTP_MODE_REQUEST] = "request",
};

const char *xlb_http_mode_name(enum xlb_http_mode mode)
{
	return mode <= XLB_HTTP_MODE_REQUEST ? http_mode_names[mode] : "?";
}

int xlb_http_mode_parse(const char *s, enum xlb_http_mode *mode)
{
	int i = name_index(http_mode_names, XLB_HTTP_MODE_REQUEST + 1, s);

	if (i < 0)
		return i;
	*mode = (enum xlb_http_mode)i;
	return 0;
}

int xlb_proxy_new(struct xlb_loop *loop, struct xlb_state *st, const struct xlb_proxy_limits *lim,
		  const struct xlb_proxy_sockmap *sm, struct xlb_proxy **out)
{
	const struct xlb_exchange_limits xl = {
		.peek_timeout_ms = lim->peek_timeout_ms,
		.max_head = lim->max_head,
		.idle_timeout_ms = lim->idle_timeout_ms,
		.response_timeout_ms = lim->response_timeout_ms,
	};
	struct xlb_proxy *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->st = st;
	p->lim = *lim;
	p->eof_w.fd = -1;
	p->sm = *sm;
	p->peekbuf = malloc(lim->max_head);
	err = p->peekbuf ? xlb_srclim_new(lim->max_conns_per_source, lim->max_conns, &p->srclim)
			 : -ENOMEM;
	if (!err)
		err = xlb_exchange_new(loop, st, &xl, p->svc_c, p->http_c, p->srclim, &p->ex);
	if (err) {
		xlb_srclim_free(p->srclim);
		free(p->peekbuf);
		free(p);
		return err;
	}
	*out = p;
	return 0;
}

/* Past the deadline of the peek, the handshake or the connect. */
static void conn_timed_out(struct conn *c)
{
	c->l->c.timeouts++;
	pr_info_rl("event=proxy_timeout client=%s state=%s", c->peer,
		   c->state == C_PEEK	     ? "peek"
		   : c->state == C_HANDSHAKE ? "handshake"
					     : "connect");
	if (c->state == C_CONNECT) {
		connect_failed(c, -ETIMEDOUT);
		return;
	}
	if (c->state == C_HANDSHAKE)
		count_tls_failure(c, XLB_TLS_FAIL_TIMEOUT);
	conn_close(c, false);
}

/* A connection away keeps its deadline in its worker. */
static void conn_check_deadline(struct conn *c, uint64_t now)
{
	bool peeking = c->state == C_PEEK || c->state == C_HANDSHAKE || c->state == C_CONNECT;

	if (c->away)
		return;
	if (peeking && now >= c->deadline_ms) {
		conn_timed_out(c);
		return;
	}
	if (c->state == C_SOCKMAP)
		sockmap_check(c); /* may move last_active_ms past now */
	if ((c->state == C_SPLICE || c->state == C_SOCKMAP) && now > c->last_active_ms &&
	    now - c->last_active_ms >= c->p->lim.idle_timeout_ms) {
		c->l->c.timeouts++;
		pr_info_rl("event=proxy_timeout client=%s state=idle", c->peer);
		conn_close(c, false);
	}
}

void xlb_proxy_close_backend(struct xlb_proxy *p, uint32_t be_id)
{
	struct conn *c = p->conns, *next;
	unsigned n = 0;

	for (; c; c = next) {
		next = c->next;
		if (c->state != C_PEEK && c->state != C_HANDSHAKE && c->be_id == be_id) {
			conn_close(c, true);
			n++;
		}
	}
	if (p->ex)
		n += xlb_exchange_close_backend(p->ex, be_id);
	if (n)
		pr_info("event=proxy_backend_gone backend_id=%u reset=%u", be_id, n);
}

void xlb_proxy_tick(struct xlb_proxy *p)
{
	uint64_t now = xlb_loop_now_ms();
	struct conn *c = p->conns, *next;

	for (; c; c = next) {
		next = c->next;
		conn_check_deadline(c, now);
	}
	if (p->ex)
		xlb_exchange_tick(p->ex);
	accept_resume(p);
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

void xlb_proxy_flush_http_stats(struct xlb_proxy *p, int http_svc_stats_fd)
{
	static const struct xlb_http_counters zero;

	for (uint32_t i = 0; http_svc_stats_fd >= 0 && p->ex && i < XLB_MAX_SERVICES; i++) {
		if (memcmp(&p->http_c[i], &zero, sizeof(zero)))
			bpf_map_update_elem(http_svc_stats_fd, &i, &p->http_c[i], BPF_ANY);
	}
}

void xlb_proxy_flush_tls_stats(struct xlb_proxy *p, int tls_svc_stats_fd)
{
	static const struct xlb_tls_counters zero;

	for (uint32_t i = 0; tls_svc_stats_fd >= 0 && i < XLB_MAX_SERVICES; i++) {
		if (memcmp(&p->tls_c[i], &zero, sizeof(zero)))
			bpf_map_update_elem(tls_svc_stats_fd, &i, &p->tls_c[i], BPF_ANY);
	}
}

void xlb_proxy_free(struct xlb_proxy *p)
{
	if (!p)
		return;
	/* first: what the workers held is closed with the rest below */
	xlb_hs_pool_free(p->hs_pool);
	p->hs_pool = NULL;
	while (p->conns)
		conn_close(p->conns, false);
	xlb_proxy_reap(p);
	xlb_exchange_free(p->ex);
	xlb_srclim_free(p->srclim);
	SSL_CTX_free(p->tls_ctx);
	xlb_proxy_stop_accepting(p);
	if (p->eof_w.fd >= 0) {
		xlb_loop_del(p->loop, &p->eof_w);
		xlb_fd_close(&p->eof_w.fd);
	}
	for (size_t i = 0; i < p->n_listeners; i++)
		free(p->listeners[i]);
	free(p->peekbuf);
	free(p);
}
