// SPDX-License-Identifier: GPL-2.0
/* The per-request HTTP/1.1 engine (--http-mode request). A client
 * connection goes through these states:
 *   HEAD     the next request head is read (recv into a scratch buffer,
 *            bytes of an unfinished head carried over) until http1 says it
 *            is complete; the request is routed (route_request) and its
 *            head rewritten; body bytes that came with the head go out
 *            with it, bytes of a pipelined next request wait in the carry;
 *   CONNECT  a non-blocking connect to the chosen backend (skipped when
 *            the pool has an idle connection to it), retried once on
 *            another backend;
 *   EXCHANGE the rewritten head is sent, the rest of the request body
 *            moved (up) while the response head is read and the rest of
 *            its body moved (down); a response head goes to the client in
 *            one write with the body bytes read along with it, the rest of
 *            a body goes socket -> pipe -> socket by splice(2), framed by
 *            Content-Length or the chunked decoder, whose framing bytes
 *            alone are read into userspace (and written into the pipe, in
 *            order with the data);
 *   TUNNEL   after a 101 or a 2xx to CONNECT: bytes both ways, until both
 *            sides are done.
 * After a response, the connection goes back to HEAD (keep-alive) or is
 * closed; the backend connection goes to the pool when it may be reused.
 * The next request is not parsed before the response is complete, so
 * pipelined requests wait (in the carry or the socket) and are answered
 * in order.
 *
 * The cost of a request is its system calls, so the engine makes few: a
 * small exchange on a kept-alive or pooled connection is four (recv and
 * send each way) and the epoll waits. All sockets are edge-triggered and
 * a side is read only while it may have bytes (an event said so and no
 * read has come back short since); idle backend connections stay in
 * epoll while pooled, so taking one and giving it back costs no call;
 * the client socket joins epoll only once the engine must wait for it;
 * pipes are opened only for a body larger than what came with its head.
 * drive() runs the steps until none makes progress. */
#include "exchange.h"
#include "lib/queue.h"
#include "source_limit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acme/chall.h"
#include "http1.h"
#include "sock.h"
#include "lib/hostmap.h"
#include "lib/log.h"

#define SPLICE_CHUNK XLB_PIPE_BYTES
/* Framing bytes peeked at a time. A peek copies whatever follows the
 * framing too, chunk data included: 64 bytes hold the CRLF ending a
 * chunk and the next size line with a short extension, so a chunked body
 * costs userspace about 64 bytes per chunk, not a page; longer lines and
 * trailers take a few more turns. */
#define FRAME_PEEK 64
#define MAX_FIELDS 128
/* room for the headers the proxy adds to a head */
#define HEAD_EXTRA 1024
/* room before the request head for a PROXY v2 header */
#define PP2_ROOM 64
/* the pool of idle backend connections: bounded per backend and in all;
 * closed before common backend keep-alive timeouts (5 s and more) */
#define POOL_PER_BACKEND 32
#define POOL_TOTAL 1024
#define POOL_IDLE_MS 2000
/* request buffers kept for reuse once their request is done */
#define SPARE_BUFS 64
/* what a TLS client connection's body moves through, a direction at a
 * time (splice cannot see the plaintext): 4 records of 16 KiB */
#define TLS_BUF (64 * 1024)
#define EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)
#define READ_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)

enum xstate { X_HEAD, X_CONNECT, X_EXCH, X_TUNNEL, X_DEAD };
enum ustate { U_HEAD, U_LEN, U_CHUNK, U_DONE };
enum dstate { D_HEAD, D_SENDHEAD, D_LEN, D_CHUNK, D_CLOSE, D_TUNNEL, D_DONE };

struct xconn;

struct xside {
	struct xlb_watch w;
	struct xconn *c;
	bool rd;      /* may have bytes: an event said so, no read came back short since */
	bool watched; /* in epoll (it joins once the engine waits for it) */
	bool nodelay; /* TCP_NODELAY is set */
};

/* A backend connection: owned by the client connection whose request it
 * carries, or idle in the pool. It stays in epoll either way, so an idle
 * one that the backend closes leaves the pool at once. */
struct bconn {
	struct xlb_watch w;
	struct xlb_exchange *x;
	struct xconn *owner; /* NULL while pooled */
	uint32_t be_id;
	uint32_t slot; /* its place in the pool while pooled */
	uint64_t since_ms;
	bool rd;  /* as for xside */
	bool hup; /* the backend closed or reset it */
	bool dead;
	/* backend_tls: its session, kept while pooled; a pooled connection
	 * is taken only for its backend (so its service) and only by a
	 * request that wants TLS */
	SSL *ssl;
	bool tls_more;	    /* its last read() filled what OpenSSL asked for */
	struct bconn *next; /* the list of closed ones, freed by reap */
};

/* Bytes read from a socket and not yet used: an unfinished head, or
 * what followed a message (a pipelined request, an interim response's
 * successor). Allocated while it holds bytes. */
struct carry {
	char *p;
	size_t len;
	struct xlb_http1_pace pace; /* of the head it holds */
};

/* One direction of a body: src socket -> pipe -> dst socket; when
 * either side is TLS, src -> buf -> dst, that side through its session. */
struct xdir {
	int rd, wr;
	char *buf;     /* TLS: instead of the pipe */
	size_t boff;   /* TLS: where buf's queued bytes begin */
	size_t queued; /* bytes in the pipe (or buf) */
	uint64_t left; /* Content-Length bytes still to read */
	struct xlb_chunk ck;
	bool framed;   /* chunked: the last framing byte is read */
	bool src_eof;  /* tunnel */
	bool dst_shut; /* tunnel */
};

struct xlb_exchange {
	struct xlb_loop *loop;
	struct xlb_state *st;
	struct xlb_exchange_limits lim;
	struct xlb_proxy_counters *svc_c;
	struct xlb_http_counters *http_c;
	struct xconn *conns, *dead;
	struct bconn *dead_b;
	size_t n_conns;
	char *scratch; /* max_head: what a head is read and parsed in */
	char framebuf[FRAME_PEEK];
	struct xlb_http1_field fields[MAX_FIELDS];
	struct bconn *pool[POOL_TOTAL];
	size_t n_pool;
	uint8_t pooled_per_be[XLB_MAX_BACKENDS];
	char *spare[SPARE_BUFS];
	size_t n_spare;
	struct xlb_cidr *trusted; /* proxies whose forwarding headers are kept */
	size_t n_trusted;
	struct xlb_acme_challs *acme; /* HTTP-01 tokens answered here, or NULL */
	struct xlb_srclim *srclim;    /* the proxy's: connections per source */
	struct xlb_queue pending;     /* xconn.pend: no whole first head yet, oldest first */
	SSL_CTX *be_tls;	      /* the backend_tls services' client context */
};

struct xconn {
	struct xside client;
	bool src_counted;      /* in the source limit: put back when it closes */
	struct xlb_qnode pend; /* in x->pending until its first head is read */
	uint64_t accepted_ms;
	SSL *ssl;	    /* the client's TLS session (terminated here), or NULL */
	bool tls_sock_more; /* its last read() filled what OpenSSL asked for */
	struct bconn *be;
	struct xlb_exchange *x;
	struct xlb_proxy_counters *lc;
	enum xstate state;
	enum ustate us;
	enum dstate ds;
	enum dstate after_head; /* where D_SENDHEAD goes */
	uint64_t deadline_ms;
	uint64_t last_active_ms;
	struct xlb_flow_key flow;
	char peer[XLB_EP_STRLEN];
	char addr[INET6_ADDRSTRLEN];
	uint16_t lport;
	char host[XLB_HOSTNAME_SIZE];
	uint32_t svc_id;
	uint32_t be_id;
	struct xlb_endpoint be_ep;
	bool proxy_v2;
	bool backend_tls;   /* the route's backends speak TLS */
	bool hsts;	    /* TLS: answers get Strict-Transport-Security ... */
	uint32_t hsts_secs; /* ... with this max-age */
	uint8_t hsts_flags; /* ... and these directives (XLB_HSTS_*) */
	bool retried;	    /* the connect retry is used */
	bool reuse_retried; /* the retry after a pooled connection died is used */
	bool pooled;	    /* the backend connection came from the pool */
	bool answered;	    /* bytes of this request's response reached the client */
	bool peeked;	    /* bytes of the next head have arrived */
	bool rdhup;	    /* the client shut its side */
	bool upgrade;	    /* the request asks for an Upgrade */
	bool client_keep;
	bool backend_keep;
	enum xlb_http1_method method;
	enum xlb_http1_body req_body;
	bool req_keep;
	uint8_t req_minor;
	uint32_t path_off, path_len; /* in the rewritten head */
	struct xlb_route route;	     /* the head's route, before the head is built */
	int route_err;		     /* ... or why it has none */
	bool routed;		     /* route/route_err wait for connect_backend */
	bool counted;		     /* the request counts in its service's accepted */
	bool forward;		     /* the head got the forwarding headers */
	bool stripped;		     /* strip_path applied to this request: */
	char prefix[XLB_PATH_SIZE];  /* ... the prefix taken out */
	size_t prefix_len;
	/* The request's buffer (buf_get), while it has one:
	 *   out:  [PP2_ROOM | rewritten request head (head_cap) | body bytes
	 *         that came with the head (pre_len, max_head)]; the body bytes
	 *         move up behind the head once the head is final;
	 *   rout: the rewritten response head and the body bytes that came
	 *         with it. */
	char *out;
	size_t out_start, out_end, head_len, pre_len;
	bool pre_placed;
	char *rout;
	size_t rout_off, rout_len;
	struct carry cin, bin; /* the client's and the backend's unused bytes */
	struct xdir up, down;
	unsigned int requests;
	uint16_t status;  /* the response head being sent to the client */
	bool first_byte;  /* this request's first response byte is timed */
	uint64_t sent_ns; /* when its head was sent (0: not yet) */
	struct xconn *prev, *next;
};

static size_t head_cap(const struct xlb_exchange *x)
{
	return (size_t)x->lim.max_head + HEAD_EXTRA;
}

static size_t body_off(const struct xlb_exchange *x)
{
	return PP2_ROOM + head_cap(x);
}

static size_t out_cap(const struct xlb_exchange *x)
{
	return body_off(x) + x->lim.max_head;
}

static size_t rout_cap(const struct xlb_exchange *x)
{
	return head_cap(x);
}

static int bfd(const struct xconn *c)
{
	return c->be ? c->be->w.fd : -1;
}

/* ---- buffers --------------------------------------------------------------- */

/* A request's out and rout, one allocation; done requests give theirs
 * back, so idle keep-alive connections hold none. */
static bool buf_get(struct xconn *c)
{
	struct xlb_exchange *x = c->x;
	char *b;

	if (c->out)
		return true;
	b = x->n_spare ? x->spare[--x->n_spare] : malloc(out_cap(x) + rout_cap(x));
	if (!b)
		return false;
	c->out = b;
	c->rout = b + out_cap(x);
	return true;
}

static void buf_put(struct xconn *c)
{
	struct xlb_exchange *x = c->x;

	if (!c->out)
		return;
	if (x->n_spare < SPARE_BUFS)
		x->spare[x->n_spare++] = c->out;
	else
		free(c->out);
	c->out = c->rout = NULL;
}

static void carry_drop(struct carry *cy)
{
	free(cy->p);
	*cy = (struct carry){ 0 };
}

/* Keeps p[0, len) (at most max_head bytes) for the next read of a side. */
/* parsed: p holds an unfinished head just parsed (else bytes after a
 * message, not parsed yet) */
static int carry_keep(struct xlb_exchange *x, struct carry *cy, const char *p, size_t len,
		      bool parsed)
{
	if (!len) {
		carry_drop(cy);
		return 0;
	}
	if (!cy->p) {
		cy->p = malloc(x->lim.max_head);
		if (!cy->p)
			return -ENOMEM;
	}
	memmove(cy->p, p, len);
	cy->len = len;
	cy->pace = parsed ? (struct xlb_http1_pace){ len, len } : (struct xlb_http1_pace){ 0 };
	return 0;
}

/* ---- the client's bytes: the socket, or its TLS session ---------------------------- */

/* A TLS call's failure as recv(2)/send(2) would give it: EAGAIN while the
 * session waits for the socket either way (edge-triggered epoll watches
 * both), 0 for the peer's close_notify or a plain EOF. */
static ssize_t tls_result(SSL *ssl, int r)
{
	int saved = errno;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (!saved)
			return 0; /* EOF without close_notify */
		errno = saved;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

/* The socket BIO's reads, seen from the TLS session: a read that got less
 * than OpenSSL asked for emptied the socket, so epoll (edge-triggered)
 * tells when more comes, as for a plain socket. */
static long on_tls_sock_io(BIO *b, int oper, const char *argp, size_t len, int argi, long argl,
			   int ret, size_t *processed)
{
	bool *more = (bool *)BIO_get_callback_arg(b);

	(void)argp, (void)argi, (void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN))
		*more = ret > 0 && processed && *processed == len;
	return ret;
}

/* more: the side's flag that on_tls_sock_io keeps. */
static void watch_tls_reads(SSL *ssl, bool *more)
{
	BIO *rbio = SSL_get_rbio(ssl);

	*more = true; /* until a read says otherwise */
	if (!rbio)
		return;
	BIO_set_callback_arg(rbio, (char *)more);
	BIO_set_callback_ex(rbio, on_tls_sock_io);
}

/* More of a side's bytes without waiting for epoll: records OpenSSL
 * holds (read ahead) or a socket the last read did not empty. */
static bool tls_may_have_more(SSL *ssl, bool more)
{
	return more || SSL_has_pending(ssl);
}

static ssize_t tls_read(SSL *ssl, void *buf, size_t n, bool peek)
{
	int want = n > INT32_MAX ? INT32_MAX : (int)n;
	int r;

	ERR_clear_error();
	errno = 0;
	r = peek ? SSL_peek(ssl, buf, want) : SSL_read(ssl, buf, want);
	return r > 0 ? r : tls_result(ssl, r);
}

static ssize_t tls_write(SSL *ssl, const void *buf, size_t n)
{
	int want = n > INT32_MAX ? INT32_MAX : (int)n;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_write(ssl, buf, want);
	if (r > 0)
		return r;
	r = (int)tls_result(ssl, r);
	if (r == 0)
		errno = EPIPE;
	return -1;
}

/* No more bytes toward a side: its TLS session says so first. */
static void tls_shut_wr(SSL *ssl, int fd)
{
	if (ssl) {
		ERR_clear_error();
		SSL_shutdown(ssl);
	}
	shutdown(fd, SHUT_WR);
}

static ssize_t client_read(struct xconn *c, void *buf, size_t n, bool peek)
{
	if (!c->ssl)
		return recv(c->client.w.fd, buf, n, MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
	return tls_read(c->ssl, buf, n, peek);
}

static ssize_t client_write(struct xconn *c, const void *buf, size_t n)
{
	if (!c->ssl)
		return send(c->client.w.fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	return tls_write(c->ssl, buf, n);
}

static void client_shut_wr(struct xconn *c)
{
	tls_shut_wr(c->ssl, c->client.w.fd);
}

static ssize_t backend_read(struct xconn *c, void *buf, size_t n, bool peek)
{
	if (!c->be->ssl)
		return recv(c->be->w.fd, buf, n, MSG_DONTWAIT | (peek ? MSG_PEEK : 0));
	return tls_read(c->be->ssl, buf, n, peek);
}

static ssize_t backend_write(struct xconn *c, const void *buf, size_t n)
{
	if (!c->be->ssl)
		return send(c->be->w.fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	return tls_write(c->be->ssl, buf, n);
}

/* Whether a read that came back short may have left bytes to read
 * without an event: a TLS read returns a record at a time, maybe with
 * more in OpenSSL's buffer or still in the socket. */
static bool side_tls_more(const struct xconn *c, bool client)
{
	if (client)
		return c->ssl && tls_may_have_more(c->ssl, c->tls_sock_more);
	return c->be->ssl && tls_may_have_more(c->be->ssl, c->be->tls_more);
}

/* Bodies go through userspace when either side is TLS (splice cannot
 * see the plaintext). */
static bool copies(const struct xconn *c)
{
	return c->ssl || (c->be && c->be->ssl);
}

/* What a side has for a head: its carried bytes, then what it holds,
 * read into buf (cap bytes) when it may hold some. */
struct got {
	size_t len;
	bool fresh; /* bytes came from the socket */
	bool eof;
	bool held; /* an unfinished head, kept in its carry: not worth parsing yet */
	int err;
};

/* Reads what a head needs: into buf, or, while an unfinished head is
 * carried, onto the end of its carry, which goes to buf only when the
 * head is worth parsing again (xlb_http1_pace_due); else g.held. */
static struct got gather(struct xconn *c, bool client, char *buf, size_t cap)
{
	bool *rd = client ? &c->client.rd : &c->be->rd;
	bool hup = client ? c->rdhup : c->be->hup;
	struct carry *cy = client ? &c->cin : &c->bin;
	char *dst = cy->len ? cy->p : buf;
	struct got g = { .len = cy->len };
	ssize_t n = 0;

	if (*rd && g.len < cap) {
		if (client)
			n = client_read(c, dst + g.len, cap - g.len, false);
		else
			n = backend_read(c, dst + g.len, cap - g.len, false);
	}
	if (n > 0) {
		/* short: the socket is empty now, epoll says when it is not;
		 * but an EOF that came with these bytes has had its event, and
		 * a TLS session may hold more (side_tls_more) */
		*rd = (size_t)n == cap - g.len || hup || side_tls_more(c, client);
		g.len += (size_t)n;
		g.fresh = true;
	} else if (n == 0 && *rd && g.len < cap) {
		*rd = false;
		g.eof = true;
	} else if (n < 0 && errno == EAGAIN) {
		*rd = false;
	} else if (n < 0) {
		*rd = false;
		g.err = -errno;
	}
	if (dst == buf)
		return g;
	cy->len = g.len;
	if (!g.eof && !g.err && !hup && g.len < cap &&
	    !xlb_http1_pace_due(&cy->pace, cy->p, g.len)) {
		g.held = true;
		return g;
	}
	memcpy(buf, cy->p, g.len);
	return g;
}

/* ---- bookkeeping ------------------------------------------------------------- */

/* Set before a body is spliced behind a head: without it, Nagle held a
 * short tail behind the head until the peer's delayed ACK (40 ms per
 * request, measured). A head that goes out with its whole body is one
 * write and needs none. */
static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void client_nodelay(struct xconn *c)
{
	if (c->client.nodelay)
		return;
	nodelay(c->client.w.fd);
	c->client.nodelay = true;
}

static void pool_remove(struct xlb_exchange *x, struct bconn *b);

/* Closes b and queues it for reap: a later event of this loop turn may
 * still name it. */
static void bconn_bury(struct bconn *b, bool reset)
{
	struct xlb_exchange *x = b->x;

	if (b->ssl && !reset && SSL_is_init_finished(b->ssl)) {
		ERR_clear_error();
		SSL_shutdown(b->ssl); /* close_notify: the backend sees a clean end */
	}
	SSL_free(b->ssl);
	b->ssl = NULL;
	xlb_sock_close(&b->w.fd, reset); /* leaves epoll with its last descriptor */
	b->dead = true;
	b->owner = NULL;
	b->next = x->dead_b;
	x->dead_b = b;
}

static void bconn_close(struct bconn *b, bool reset)
{
	if (b->dead)
		return;
	if (!b->owner)
		pool_remove(b->x, b);
	else if (b->owner->be == b)
		b->owner->be = NULL;
	bconn_bury(b, reset);
}

static void backend_close(struct xconn *c, bool reset)
{
	if (c->be)
		bconn_close(c->be, reset);
}

static void dir_close(struct xdir *d)
{
	xlb_fd_close(&d->rd);
	xlb_fd_close(&d->wr);
	free(d->buf);
	d->buf = NULL;
}

static void conn_close(struct xconn *c, bool reset)
{
	struct xlb_exchange *x = c->x;

	if (c->state == X_DEAD)
		return;
	xlb_sock_close(&c->client.w.fd, reset);
	backend_close(c, reset);
	dir_close(&c->up);
	dir_close(&c->down);
	SSL_free(c->ssl);
	c->ssl = NULL;
	buf_put(c);
	carry_drop(&c->cin);
	carry_drop(&c->bin);
	if (c->src_counted)
		xlb_srclim_put(x->srclim, &c->flow);
	c->src_counted = false;
	xlb_queue_remove(&x->pending, &c->pend);
	c->state = X_DEAD;
	if (c->prev)
		c->prev->next = c->next;
	else
		x->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	x->n_conns--;
	c->prev = NULL;
	c->next = x->dead;
	x->dead = c;
}

void xlb_exchange_reap(struct xlb_exchange *x)
{
	while (x->dead) {
		struct xconn *c = x->dead;

		x->dead = c->next;
		free(c);
	}
	while (x->dead_b) {
		struct bconn *b = x->dead_b;

		x->dead_b = b->next;
		free(b);
	}
}

static struct xlb_proxy_counters *svc_counters(struct xconn *c)
{
	return c->svc_id < XLB_MAX_SERVICES ? &c->x->svc_c[c->svc_id] : NULL;
}

/* ---- counting ---------------------------------------------------------------- */

static struct xlb_http_counters *http_counters(struct xconn *c)
{
	return c->svc_id < XLB_MAX_SERVICES ? &c->x->http_c[c->svc_id] : NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A response head the client gets, the proxy's own too, by its class;
 * only once the request has a service. */
static void count_response(struct xconn *c, int status)
{
	struct xlb_http_counters *h = http_counters(c);

	if (h && status >= 100 && status <= 599)
		h->responses[status / 100 - 1]++;
}

/* The first byte of the backend's response head: the time since the
 * request head went out, into the service's histogram (le inclusive). */
static void count_first_byte(struct xconn *c)
{
	static const uint64_t bounds_us[XLB_HTTP_FB_BUCKETS] = XLB_HTTP_FB_BOUNDS_US;
	struct xlb_http_counters *h = http_counters(c);
	uint64_t now, ns;

	if (c->first_byte || !h)
		return;
	c->first_byte = true;
	now = now_ns();
	ns = c->sent_ns && now > c->sent_ns ? now - c->sent_ns : 0; /* 0: answered early */
	for (size_t i = 0; i < XLB_HTTP_FB_BUCKETS; i++) {
		if (ns <= bounds_us[i] * 1000) {
			h->fb_buckets[i]++;
			break;
		}
	}
	h->fb_count++;
	h->fb_sum_ns += ns;
}

static void count_moved(struct xconn *c, size_t n)
{
	c->lc->spliced_bytes += n;
	if (svc_counters(c))
		svc_counters(c)->spliced_bytes += n;
}

static void touch(struct xconn *c)
{
	c->last_active_ms = xlb_loop_now_ms();
}

/* ---- answers from the proxy ----------------------------------------------------- */

/* Ends the client connection after what was sent: FIN, not RST (what
 * the client sent and nobody read is discarded first, unless epoll
 * watches the socket and no read came back short since). */
static void close_client(struct xconn *c)
{
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl); /* close_notify: the client knows nothing was cut */
	}
	if (!c->client.watched || c->client.rd)
		xlb_sock_drain(c->client.w.fd);
	conn_close(c, false);
}

static const char *status_reason(int code);

/* Sends n bytes of buf, a whole response of the proxy's own with status
 * code (n 0: it did not fit, the client sees the close alone), and ends
 * the connection. */
static void answer_raw(struct xconn *c, int code, const char *buf, int n)
{
	count_response(c, code);
	if (!c->ssl) /* a TLS session's unread records are its own to read */
		xlb_sock_drain(c->client.w.fd);
	client_write(c, buf, n > 0 ? (size_t)n : 0);
	client_shut_wr(c);
	xlb_sock_drain(c->client.w.fd);
	conn_close(c, false);
}

static void answer_body(struct xconn *c, int code, const char *type, const char *body)
{
	char buf[640];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n%s",
		     code, status_reason(code), type, strlen(body), body);
	answer_raw(c, code, buf, (size_t)n < sizeof(buf) ? n : 0);
}

/* https_redirect: a plain HTTP request for an https route goes to the
 * same URL on https (308 keeps the method and body, RFC 9110 15.4.9). */
static void answer_redirect(struct xconn *c, const char *b, const struct xlb_http1_request *rq)
{
	size_t path_len = rq->path.len, query_len = rq->query.len;
	char buf[XLB_HOSTNAME_SIZE + 2 * XLB_PATH_SIZE + 256];
	int n;

	/* a longer target is cut, not refused: the answer is the proxy's */
	if (path_len > XLB_PATH_SIZE)
		path_len = XLB_PATH_SIZE;
	if (query_len > XLB_PATH_SIZE)
		query_len = XLB_PATH_SIZE;
	n = snprintf(buf, sizeof(buf),
		     "HTTP/1.1 308 Permanent Redirect\r\nLocation: https://%s%.*s%s%.*s\r\n"
		     "Content-Length: 0\r\nConnection: close\r\n\r\n",
		     c->host, (int)(path_len ? path_len : 1), path_len ? b + rq->path.off : "/",
		     rq->has_query ? "?" : "", (int)query_len, b + rq->query.off);
	answer_raw(c, 308, buf, (size_t)n < sizeof(buf) ? n : 0);
}

/* An answer of the proxy's own (why in its body), then the connection
 * ends. */
static void answer(struct xconn *c, int code, const char *why)
{
	char body[320];

	pr_info_rl("event=proxy_refuse client=%s host=%s code=%d reason=\"%s\"", c->peer,
		   c->host[0] ? c->host : "-", code, why);
	snprintf(body, sizeof(body), "%s\n", why);
	answer_body(c, code, "text/plain", body);
}

/* An ACME server's HTTP-01 validation of a name xlb gets a certificate
 * for: answered here, before any routing (RFC 8555 8.3). A token that is
 * not xlb's goes on to the routes: a backend may run its own client.
 * True when answered. */
static bool answer_http01(struct xconn *c, const char *b, const struct xlb_http1_request *rq)
{
	static const char prefix[] = XLB_ACME_HTTP01_PREFIX;
	char token[128], keyauth[256];
	size_t len = rq->path.len - (sizeof(prefix) - 1);

	if (!c->x->acme || rq->method != XLB_HTTP1_M_GET || rq->path.len <= sizeof(prefix) - 1 ||
	    len >= sizeof(token) || memcmp(b + rq->path.off, prefix, sizeof(prefix) - 1) != 0)
		return false;
	memcpy(token, b + rq->path.off + sizeof(prefix) - 1, len);
	token[len] = '\0';
	if (xlb_acme_http01_lookup(c->x->acme, token, keyauth, sizeof(keyauth)))
		return false;
	pr_info_rl("event=acme_http01_answered client=%s host=%s", c->peer, rq->host);
	answer_body(c, 200, "application/octet-stream", keyauth);
	return true;
}

static const char *status_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	default:
		return "Gateway Timeout";
	}
}

/* ---- the pool of idle backend connections ------------------------------------------ */

static void pool_remove(struct xlb_exchange *x, struct bconn *b)
{
	struct bconn *last = x->pool[--x->n_pool];

	x->pool[b->slot] = last;
	last->slot = b->slot;
	x->pooled_per_be[b->be_id]--;
}

/* A backend connection whose response is done: idle in the pool, or
 * closed when the pool has no room. */
static void pool_put(struct xlb_exchange *x, struct bconn *b)
{
	if (x->pooled_per_be[b->be_id] >= POOL_PER_BACKEND || x->n_pool >= POOL_TOTAL) {
		bconn_bury(b, false);
		return;
	}
	b->owner = NULL;
	b->since_ms = xlb_loop_now_ms();
	b->slot = (uint32_t)x->n_pool;
	x->pool[x->n_pool++] = b;
	x->pooled_per_be[b->be_id]++;
}

/* The most recently pooled connection to be_id, TLS or not as tls says
 * (a service's backend_tls may change on reload), or NULL. A pooled
 * connection that the backend closed, or that got bytes nobody asked
 * for, has left the pool already (on_backend_event). */
static struct bconn *pool_take(struct xlb_exchange *x, uint32_t be_id, bool tls)
{
	if (!x->pooled_per_be[be_id])
		return NULL;
	for (size_t i = x->n_pool; i-- > 0;) {
		struct bconn *b = x->pool[i];

		if (b->be_id != be_id || !b->ssl != !tls)
			continue;
		pool_remove(x, b);
		return b;
	}
	return NULL;
}

static void pool_expire(struct xlb_exchange *x, uint64_t now)
{
	for (size_t i = x->n_pool; i-- > 0;)
		if (now - x->pool[i]->since_ms >= POOL_IDLE_MS)
			bconn_close(x->pool[i], false);
}

/* ---- head rewriting ------------------------------------------------------------ */

struct wbuf {
	char *p;
	size_t len, cap;
	bool over;
};

static void put(struct wbuf *w, const char *s, size_t n)
{
	if (w->over || n > w->cap - w->len) {
		w->over = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void puts_(struct wbuf *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_field(struct wbuf *w, const char *name, const char *v, size_t vlen)
{
	puts_(w, name);
	puts_(w, ": ");
	put(w, v, vlen);
	puts_(w, "\r\n");
}

static bool name_is(const char *b, struct xlb_http1_span name, const char *s)
{
	return name.len == strlen(s) && strncasecmp(b + name.off, s, name.len) == 0;
}

static bool has_field(const char *b, const struct xlb_http1_field *fields, unsigned int n,
		      const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (name_is(b, fields[i].name, name))
			return true;
	return false;
}

/* Whether a Connection field of the head lists the name of f. */
static bool named_by_connection(const char *b, const struct xlb_http1_field *fields, unsigned int n,
				const struct xlb_http1_field *f)
{
	for (unsigned int i = 0; i < n; i++) {
		const char *v = b + fields[i].value.off, *end = v + fields[i].value.len;

		if (fields[i].kind != XLB_HTTP1_F_CONNECTION)
			continue;
		while (v < end) {
			const char *t, *te;

			while (v < end && (*v == ',' || *v == ' ' || *v == '\t'))
				v++;
			t = v;
			while (v < end && *v != ',')
				v++;
			te = v;
			while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			if ((size_t)(te - t) == f->name.len &&
			    strncasecmp(t, b + f->name.off, f->name.len) == 0)
				return true;
		}
	}
	return false;
}

/* Hop-by-hop fields (RFC 9110 7.6.1), never forwarded; Upgrade is kept
 * when the message upgrades. */
static bool hop_by_hop(const char *b, const struct xlb_http1_field *fields, unsigned int n,
		       const struct xlb_http1_field *f, bool upgrade)
{
	switch (f->kind) {
	case XLB_HTTP1_F_CONNECTION:
	case XLB_HTTP1_F_KEEP_ALIVE:
	case XLB_HTTP1_F_PROXY_CONNECTION:
	case XLB_HTTP1_F_TE:
		return true;
	case XLB_HTTP1_F_UPGRADE:
		return !upgrade;
	case XLB_HTTP1_F_OTHER:
		return named_by_connection(b, fields, n, f);
	default:
		return false;
	}
}

/* Forwarding fields a client may have forged: an untrusted client's are
 * all replaced by the proxy's own (a trusted one's: trusted_kept). */
static bool forwarding(const char *b, const struct xlb_http1_field *f)
{
	switch (f->kind) {
	case XLB_HTTP1_F_FORWARDED:
	case XLB_HTTP1_F_X_FORWARDED_FOR:
	case XLB_HTTP1_F_X_FORWARDED_HOST:
	case XLB_HTTP1_F_X_FORWARDED_PROTO:
	case XLB_HTTP1_F_X_FORWARDED_PORT:
	case XLB_HTTP1_F_X_FORWARDED_PREFIX:
		return true;
	case XLB_HTTP1_F_OTHER:
		return name_is(b, f->name, "X-Real-IP");
	default:
		return false;
	}
}

/* What a trusted proxy in front knows better than xlb: kept as it sent
 * them (X-Forwarded-For is kept too, with the client appended). */
static bool trusted_kept(const struct xlb_http1_field *f)
{
	return f->kind == XLB_HTTP1_F_X_FORWARDED_HOST ||
	       f->kind == XLB_HTTP1_F_X_FORWARDED_PROTO || f->kind == XLB_HTTP1_F_X_FORWARDED_PORT;
}

static bool client_trusted(const struct xconn *c)
{
	return xlb_cidr_list_contains(c->x->trusted, c->x->n_trusted, c->flow.family, &c->flow.src);
}

/* X-Forwarded-For of a trusted client: what it sent (every such field, in
 * order, comma-joined), then the client's address. */
static void put_xff_appended(struct xconn *c, struct wbuf *w, const char *b,
			     const struct xlb_http1_field *fields, unsigned int n)
{
	puts_(w, "X-Forwarded-For: ");
	for (unsigned int i = 0; i < n; i++) {
		if (fields[i].kind != XLB_HTTP1_F_X_FORWARDED_FOR || !fields[i].value.len)
			continue;
		put(w, b + fields[i].value.off, fields[i].value.len);
		puts_(w, ", ");
	}
	puts_(w, c->addr);
	puts_(w, "\r\n");
}

/* X-Real-IP behind a trusted proxy: X-Forwarded-For read from the right,
 * skipping the addresses of trusted proxies; the first other address is
 * the client (nginx's real_ip_recursive). An item that is not an address
 * stops the walk at the last address before it; with none, the peer. */
static void real_ip(const struct xconn *c, const char *b, const struct xlb_http1_field *fields,
		    unsigned int n, char *out, size_t len)
{
	snprintf(out, len, "%s", c->addr);
	for (unsigned int i = n; i-- > 0;) {
		const char *v = b + fields[i].value.off, *end = v + fields[i].value.len;

		if (fields[i].kind != XLB_HTTP1_F_X_FORWARDED_FOR)
			continue;
		while (end > v) {
			const char *t = end, *te = end;
			char item[INET6_ADDRSTRLEN];
			struct xlb_addr a;
			uint8_t family;

			while (t > v && t[-1] != ',')
				t--;
			end = t > v ? t - 1 : v;
			while (t < te && (*t == ' ' || *t == '\t'))
				t++;
			while (te > t && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			if (te == t)
				continue;
			if ((size_t)(te - t) >= sizeof(item))
				return;
			memcpy(item, t, (size_t)(te - t));
			item[te - t] = '\0';
			if (xlb_parse_addr(item, &a, &family))
				return;
			xlb_format_addr(family, &a, out, len);
			if (!xlb_cidr_list_contains(c->x->trusted, c->x->n_trusted, family, &a))
				return;
		}
	}
}

/* The forwarding headers the proxy adds (forward_headers = yes). */
static void put_forwarding(struct xconn *c, struct wbuf *w, const char *b,
			   const struct xlb_http1_request *rq, const struct xlb_http1_field *fields,
			   bool trusted, const char *host, size_t host_len)
{
	unsigned int n = rq->head.n_fields;
	bool sent_proto = false, sent_host = false, sent_port = false;
	char port[8], rip[INET6_ADDRSTRLEN];

	for (unsigned int i = 0; trusted && i < n; i++) {
		sent_proto |= fields[i].kind == XLB_HTTP1_F_X_FORWARDED_PROTO;
		sent_host |= fields[i].kind == XLB_HTTP1_F_X_FORWARDED_HOST;
		sent_port |= fields[i].kind == XLB_HTTP1_F_X_FORWARDED_PORT;
	}
	snprintf(port, sizeof(port), "%u", c->lport);
	if (trusted)
		put_xff_appended(c, w, b, fields, n);
	else
		put_field(w, "X-Forwarded-For", c->addr, strlen(c->addr));
	if (!sent_proto)
		put_field(w, "X-Forwarded-Proto", c->ssl ? "https" : "http", c->ssl ? 5 : 4);
	if (!sent_host)
		put_field(w, "X-Forwarded-Host", host, host_len);
	if (!sent_port)
		put_field(w, "X-Forwarded-Port", port, strlen(port));
	if (trusted)
		real_ip(c, b, fields, n, rip, sizeof(rip));
	else
		snprintf(rip, sizeof(rip), "%s", c->addr);
	put_field(w, "X-Real-IP", rip, strlen(rip));
}

/* The first line of a head, with its CRLF. */
static struct xlb_http1_span first_line(const struct xlb_http1_head *h,
					const struct xlb_http1_field *fields)
{
	uint32_t end = h->n_fields ? fields[0].line.off : (uint32_t)h->head_len - 2;

	return (struct xlb_http1_span){ .off = h->start, .len = end - h->start };
}

/* The request head toward the backend, in c->out after PP2_ROOM; forward:
 * the route's service takes forwarding headers (forward_headers = yes),
 * else the client's go through as sent. */
static bool build_request(struct xconn *c, const char *b, const struct xlb_http1_request *rq,
			  const struct xlb_http1_field *fields, bool forward)
{
	struct wbuf w = { .p = c->out + PP2_ROOM, .cap = head_cap(c->x) };
	struct xlb_http1_span line = first_line(&rq->head, fields);
	const char *host = c->host;
	size_t host_len = strlen(c->host);
	bool trusted = forward && client_trusted(c);

	put(&w, b + line.off, line.len);
	for (unsigned int i = 0; i < rq->head.n_fields; i++) {
		const struct xlb_http1_field *f = &fields[i];

		if (f->kind == XLB_HTTP1_F_HOST) {
			host = b + f->value.off;
			host_len = f->value.len;
		}
		if (hop_by_hop(b, fields, rq->head.n_fields, f, c->upgrade))
			continue;
		if (forward && forwarding(b, f) && !(trusted && trusted_kept(f)))
			continue;
		put(&w, b + f->line.off, f->line.len);
	}
	if (forward)
		put_forwarding(c, &w, b, rq, fields, trusted, host, host_len);
	puts_(&w, c->upgrade ? "Connection: upgrade\r\n" : "Connection: keep-alive\r\n");
	puts_(&w, "\r\n");
	if (w.over)
		return false;
	c->head_len = w.len;
	c->path_off = rq->path.off - line.off;
	c->path_len = rq->path.len;
	c->forward = forward;
	return true;
}

/* The response head toward the client, in c->rout; conn: the Connection
 * field to add, or NULL. */
static bool build_response(struct xconn *c, const char *b, const struct xlb_http1_response *rs,
			   const struct xlb_http1_field *fields, const char *conn)
{
	struct wbuf w = { .p = c->rout, .cap = rout_cap(c->x) };
	struct xlb_http1_span line = first_line(&rs->head, fields);
	bool upgrade = rs->status == 101;

	put(&w, b + line.off, line.len);
	for (unsigned int i = 0; i < rs->head.n_fields; i++) {
		const struct xlb_http1_field *f = &fields[i];

		if (hop_by_hop(b, fields, rs->head.n_fields, f, upgrade))
			continue;
		put(&w, b + f->line.off, f->line.len);
	}
	if (conn)
		put_field(&w, "Connection", conn, strlen(conn));
	if (c->hsts && !has_field(b, fields, rs->head.n_fields, "strict-transport-security")) {
		char v[64];

		snprintf(v, sizeof(v), "max-age=%u%s%s", c->hsts_secs,
			 c->hsts_flags & XLB_HSTS_SUBDOMAINS ? "; includeSubDomains" : "",
			 c->hsts_flags & XLB_HSTS_PRELOAD ? "; preload" : "");
		put_field(&w, "Strict-Transport-Security", v, strlen(v));
	}
	puts_(&w, "\r\n");
	if (w.over)
		return false;
	c->rout_off = 0;
	c->rout_len = w.len;
	return true;
}

/* The PROXY v2 header before a fresh connection's first request. */
static void prepend_proxy_v2(struct xconn *c)
{
	uint8_t hdr[XLB_PROXY_V2_MAX];
	size_t len = xlb_proxy_v2_header(&c->flow, hdr);

	c->out_start = PP2_ROOM - len;
	memcpy(c->out + c->out_start, hdr, len);
}

/* ---- routing and connecting -------------------------------------------------------- */

/* The one place a request is routed: by its host, then by the longest
 * path prefix among that host's routes. First from the read head (the
 * route says how to build the head toward the backend), then, for a
 * connect retry, from the built head (route_again). */
static int route_request(struct xconn *c, const char *path, size_t len, uint32_t skip_be,
			 struct xlb_route *r)
{
	return xlb_state_route_request(c->x->st, false, c->host, path, len, skip_be, r);
}

/* A retry routes to the same service (the head is already built for it):
 * after the prefix left the head, the prefix alone does, since it was the
 * longest that matched. */
static int route_again(struct xconn *c, uint32_t skip_be, struct xlb_route *r)
{
	if (c->stripped)
		return route_request(c, c->prefix, c->prefix_len, skip_be, r);
	return route_request(c, c->out + PP2_ROOM + c->path_off, c->path_len, skip_be, r);
}

/* strip_path: the matched prefix leaves the request line ("/api/x" ->
 * "/x", "/api" and "/api?q" -> "/" and "/?q") and is passed on as
 * X-Forwarded-Prefix (unless forward_headers = no), so that the
 * application can still build its own URLs. Once per request: a connect
 * retry routes to the same service. False when the head outgrows its
 * room. */
static bool strip_prefix(struct xconn *c, size_t prefix_len)
{
	static const char name[] = "X-Forwarded-Prefix: ";
	char *head = c->out + PP2_ROOM;
	char *path = head + c->path_off;
	size_t keep = prefix_len == c->path_len ? 1 : 0; /* the "/" of an empty rest */
	size_t cut = prefix_len - keep;
	size_t add = c->forward ? sizeof(name) - 1 + prefix_len + 2 : 0;

	if (c->stripped || !prefix_len)
		return true;
	if (prefix_len > XLB_PATH_MAX || c->head_len - cut + add > head_cap(c->x))
		return false;
	memcpy(c->prefix, path, prefix_len);
	c->prefix_len = prefix_len;
	memmove(path + keep, path + keep + cut, c->head_len - (c->path_off + keep + cut));
	c->head_len -= cut;
	c->path_len -= cut;
	c->stripped = true;
	if (!add)
		return true;
	/* before the blank line that ends the head */
	memcpy(head + c->head_len - 2, name, sizeof(name) - 1);
	memcpy(head + c->head_len - 2 + sizeof(name) - 1, c->prefix, prefix_len);
	memcpy(head + c->head_len - 2 + add - 2, "\r\n\r\n", 4);
	c->head_len += add;
	return true;
}

static void on_client_event(struct xlb_watch *w, uint32_t events);
static void on_backend_event(struct xlb_watch *w, uint32_t events);
static void connect_failed(struct xconn *c, int err);
static void drive(struct xconn *c);

/* The pipe of a direction, or for a TLS client its buffer. */
static int dir_open(struct xconn *c, struct xdir *d)
{
	if (copies(c)) {
		if (!d->buf)
			d->buf = malloc(TLS_BUF);
		return d->buf ? 0 : -ENOMEM;
	}
	if (d->rd >= 0)
		return 0;
	return xlb_pipe_open(&d->rd, &d->wr);
}

/* Puts n bytes read into userspace (framing, a tunnel's first bytes) into
 * an empty direction, ahead of what follows them. */
static int dir_queue(struct xconn *c, struct xdir *d, const char *p, size_t n)
{
	if (copies(c)) {
		if (n > TLS_BUF)
			return -EMSGSIZE;
		memcpy(d->buf, p, n);
		d->boff = 0;
	} else if (write(d->wr, p, n) != (ssize_t)n) {
		return -EIO;
	}
	d->queued = n;
	return 0;
}

/* Reads from a direction's source: the client or the backend, each
 * through its TLS session if it has one. */
static ssize_t src_read(struct xconn *c, bool up, void *buf, size_t n, bool peek)
{
	if (up)
		return client_read(c, buf, n, peek);
	return backend_read(c, buf, n, peek);
}

/* The backend connection is open (fresh or pooled): the head goes out
 * with the body bytes that came with it, which move up behind the head
 * once (a retry sends the same bytes). */
static void begin_exchange(struct xconn *c, bool fresh)
{
	struct xlb_proxy_counters *sc = svc_counters(c);

	if (!c->pre_placed) {
		memmove(c->out + PP2_ROOM + c->head_len, c->out + body_off(c->x), c->pre_len);
		c->pre_placed = true;
	}
	c->out_start = PP2_ROOM;
	c->out_end = PP2_ROOM + c->head_len + c->pre_len;
	if (fresh && c->proxy_v2 && !c->be->ssl) /* TLS: sent before its handshake */
		prepend_proxy_v2(c);
	c->state = X_EXCH;
	c->us = U_HEAD;
	c->ds = D_HEAD;
	c->up.queued = c->down.queued = 0;
	c->first_byte = false;
	c->sent_ns = 0;
	touch(c);
	if (c->reuse_retried)
		return; /* counted when it went out on the pooled connection */
	c->lc->routed++;
	c->lc->splice_conns++;
	if (sc) {
		sc->routed++;
		sc->splice_conns++;
	}
}

/* A new backend connection for c, connecting; it joins epoll once, for
 * its whole life, pooled or not. */
static int connect_fresh(struct xconn *c)
{
	struct xlb_exchange *x = c->x;
	struct sockaddr_storage ss;
	struct bconn *b;
	socklen_t len;
	int err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->w.fn = on_backend_event;
	b->x = x;
	b->be_id = c->be_id;
	b->w.fd = socket(c->be_ep.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (b->w.fd < 0) {
		err = -errno;
		goto fail;
	}
	xlb_sock_bound_rcvbuf(b->w.fd);
	nodelay(b->w.fd);
	len = xlb_endpoint_sockaddr(&c->be_ep, &ss);
	if (connect(b->w.fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	err = xlb_loop_add(x->loop, &b->w, EVENTS);
	if (err)
		goto fail;
	b->owner = c;
	c->be = b;
	c->pooled = false;
	c->state = X_CONNECT;
	c->deadline_ms = xlb_loop_now_ms() + x->lim.peek_timeout_ms;
	return 0;
fail:
	xlb_fd_close(&b->w.fd);
	free(b);
	return err;
}

/* Takes a backend connection, pooled or new, on the route head_step found
 * (a retry routes again, skipping skip_be). */
static int connect_backend(struct xconn *c, uint32_t skip_be)
{
	struct xlb_route r = c->route;
	int err = c->route_err;
	struct bconn *b;

	if (!c->routed)
		err = route_again(c, skip_be, &r);
	c->routed = false;
	if (err)
		return err;
	if (r.strip_path && !strip_prefix(c, r.prefix_len))
		return -EMSGSIZE;
	c->svc_id = r.svc_id;
	c->be_id = r.be_id;
	c->be_ep = r.backend;
	c->proxy_v2 = r.proxy_v2;
	c->backend_tls = r.backend_tls;
	c->hsts = c->ssl && r.hsts;
	c->hsts_secs = r.hsts_secs;
	c->hsts_flags = r.hsts_flags;
	if (!c->counted && svc_counters(c)) {
		svc_counters(c)->accepted++;
		c->counted = true;
	}
	b = pool_take(c->x, r.be_id, r.backend_tls);
	if (b) {
		b->owner = c;
		c->be = b;
		c->pooled = true;
		if (http_counters(c))
			http_counters(c)->reused++;
		begin_exchange(c, false);
		return 0;
	}
	return connect_fresh(c);
}

/* One retry on another backend, then a 502; the caller logged why. */
static void connect_retry(struct xconn *c)
{
	uint32_t failed = c->be_id;
	struct xlb_proxy_counters *sc;

	backend_close(c, false);
	if (!c->retried) {
		c->retried = true;
		if (connect_backend(c, failed) == 0)
			return;
	}
	c->lc->connect_failed++;
	sc = svc_counters(c);
	if (sc)
		sc->connect_failed++;
	answer(c, 502, "Bad Gateway");
}

static void connect_failed(struct xconn *c, int err)
{
	xlb_log_connect_failed(c->peer, c->host, c->be_id, err, !c->retried);
	connect_retry(c);
}

/* ---- TLS to the backend (backend_tls) ---------------------------------------------- */

/* The client context of every backend_tls connection, made once: TLS 1.2
 * and later, ALPN http/1.1, and no certificate verification. That is
 * what nginx-proxy's VIRTUAL_PROTO=https means (nginx's proxy_ssl_verify
 * is off unless asked for): the backends are containers on a network
 * xlb already trusts, most with self-signed certificates, and none has
 * a certificate for its own address. */
static SSL_CTX *backend_tls_ctx(void)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* as for TLS clients (xlb_exchange_accept_tls): a backend's side is
	 * read until SSL_read wants more (side_tls_more), and a pooled one
	 * is quiet only with nothing buffered (backend_quiet) */
	SSL_CTX_set_read_ahead(ctx, 1);
	return ctx;
}

/* SNI carries DNS names only (RFC 6066, section 3), not an address. */
static bool sni_usable(const char *host)
{
	struct in_addr a;

	return host[0] && !strchr(host, ':') && !strchr(host, '[') &&
	       inet_pton(AF_INET, host, &a) != 1;
}

/* The PROXY v2 header goes before the TLS handshake, in the clear, as
 * nginx and HAProxy send it. A fresh socket's send buffer is empty, so
 * its 52 bytes at most go out whole. */
static int send_proxy_v2_plain(struct xconn *c)
{
	uint8_t hdr[XLB_PROXY_V2_MAX];
	size_t len = xlb_proxy_v2_header(&c->flow, hdr);
	ssize_t n = send(bfd(c), hdr, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* A session on the connected socket, named for the request's host. */
static int backend_tls_start(struct xconn *c)
{
	struct bconn *b = c->be;
	int err = c->proxy_v2 ? send_proxy_v2_plain(c) : 0;

	if (err)
		return err;
	b->ssl = SSL_new(c->x->be_tls);
	if (!b->ssl || !SSL_set_fd(b->ssl, b->w.fd))
		return -ENOMEM;
	if (sni_usable(c->host) && !SSL_set_tlsext_host_name(b->ssl, c->host))
		return -ENOMEM;
	watch_tls_reads(b->ssl, &b->tls_more);
	SSL_set_connect_state(b->ssl);
	return 0;
}

/* A handshake that failed: one line, then as for a failed connect. */
static void backend_tls_failed(struct xconn *c, int err)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	pr_info_rl("event=proxy_backend_tls_failed client=%s host=%s backend_id=%u "
		   "reason=\"%s\" retry=%s",
		   c->peer, c->host, c->be_id, why ? why : strerror(-err),
		   c->retried ? "no" : "yes");
	ERR_clear_error();
	connect_retry(c);
}

/* Moves the handshake on; the exchange begins once it is done. */
static void backend_tls_step(struct xconn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->be->ssl);
	if (r == 1) {
		begin_exchange(c, true);
		return;
	}
	if (tls_result(c->be->ssl, r) < 0 && errno == EAGAIN)
		return;
	backend_tls_failed(c, errno && errno != EAGAIN ? -errno : -ECONNRESET);
}

static void start_request(struct xconn *c)
{
	int err = connect_backend(c, 0);

	if (err == -ENOENT) {
		c->lc->no_route++;
		answer(c, 404, "Not Found");
	} else if (err == -EHOSTUNREACH) {
		c->lc->no_route++;
		answer(c, 503, "Service Unavailable");
	} else if (err == -EMSGSIZE) {
		c->lc->bad_request++;
		answer(c, 431, "Request Header Fields Too Large");
	} else if (err) {
		connect_failed(c, err);
	}
}

/* ---- failures while exchanging -------------------------------------------------------- */

/* A pooled connection the backend closed as it was reused: the request
 * goes once more on a fresh connection when that is safe. */
static bool may_retry_fresh(const struct xconn *c)
{
	return c->pooled && !c->reuse_retried && !c->answered && c->ds == D_HEAD &&
	       c->req_body == XLB_HTTP1_BODY_NONE && xlb_http1_method_idempotent(c->method);
}

static void backend_failed(struct xconn *c, int err, const char *why)
{
	if (may_retry_fresh(c)) {
		pr_debug("event=proxy_reuse_retry client=%s host=%s backend_id=%u err=\"%s\"",
			 c->peer, c->host, c->be_id, strerror(-err));
		c->reuse_retried = true;
		backend_close(c, false);
		carry_drop(&c->bin);
		err = connect_fresh(c);
		if (!err)
			return;
	}
	pr_info_rl("event=proxy_backend_error client=%s host=%s backend_id=%u reason=\"%s\" "
		   "err=\"%s\" answered=%s",
		   c->peer, c->host, c->be_id, why, strerror(-err), c->answered ? "yes" : "no");
	backend_close(c, true);
	if (!c->answered && c->ds <= D_SENDHEAD) {
		answer(c, 502, "Bad Gateway");
		return;
	}
	conn_close(c, true); /* mid-response: the client must not take it as whole */
}

static void client_failed(struct xconn *c, int err)
{
	pr_debug("event=proxy_reset client=%s host=%s err=\"%s\"", c->peer, c->host,
		 strerror(-err));
	conn_close(c, true);
}

static void side_failed(struct xconn *c, bool client, int err, const char *why)
{
	if (client)
		client_failed(c, err);
	else
		backend_failed(c, err, why);
}

/* ---- moving bodies ------------------------------------------------------------------ */

/* How many of the n bytes at p, which came with a head, belong to its
 * body: the direction's framing state moves over them. -1: the chunk
 * framing is malformed (d->ck.why says how). */
static ssize_t body_take(struct xdir *d, enum xlb_http1_body kind, const char *p, size_t n)
{
	size_t at = 0;

	switch (kind) {
	case XLB_HTTP1_BODY_LENGTH:
		at = d->left < n ? (size_t)d->left : n;
		d->left -= at;
		return (ssize_t)at;
	case XLB_HTTP1_BODY_CHUNKED:
		while (at < n && !d->framed) {
			uint64_t left = xlb_chunk_data_left(&d->ck);
			enum xlb_chunk_verdict v;
			size_t used = 0;

			if (left) {
				size_t k = left < n - at ? (size_t)left : n - at;

				xlb_chunk_data_done(&d->ck, k);
				at += k;
				continue;
			}
			v = xlb_chunk_feed(&d->ck, p + at, n - at, &used);
			at += used;
			if (v == XLB_CHUNK_BAD)
				return -1;
			d->framed = v == XLB_CHUNK_DONE;
		}
		return (ssize_t)at;
	case XLB_HTTP1_BODY_CLOSE:
	case XLB_HTTP1_BODY_TUNNEL:
		return (ssize_t)n;
	default:
		return 0;
	}
}

/* Empties d's pipe into dst: 1 progress, 0 blocked or empty, -1 failed
 * (the connection is handled). */
static int flush(struct xconn *c, struct xdir *d, bool up)
{
	int dst = up ? bfd(c) : c->client.w.fd;
	int moved = 0;

	while (d->queued) {
		ssize_t n;

		if (!copies(c))
			n = splice(d->rd, NULL, dst, NULL, d->queued,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else if (up)
			n = backend_write(c, d->buf + d->boff, d->queued);
		else
			n = client_write(c, d->buf + d->boff, d->queued);
		if (n < 0) {
			if (errno == EAGAIN)
				return moved;
			side_failed(c, !up, -errno, "write failed");
			return -1;
		}
		d->queued -= (size_t)n;
		d->boff += (size_t)n;
		count_moved(c, (size_t)n);
		if (!up)
			c->answered = true;
		moved = 1;
		touch(c);
	}
	return moved;
}

/* Reads up to max bytes from src into the pipe: >0 read, 0 EAGAIN, -1
 * failure (the connection is handled), -2 EOF when eof_ok (else a
 * failure). */
static ssize_t fill(struct xconn *c, struct xdir *d, bool up, size_t max, bool eof_ok)
{
	int src = up ? c->client.w.fd : bfd(c);
	ssize_t n;

	if (dir_open(c, d)) {
		conn_close(c, true);
		return -1;
	}
	if (copies(c)) {
		/* fills only an empty direction (pump, move_chunked) */
		n = src_read(c, up, d->buf, max < TLS_BUF ? (size_t)max : TLS_BUF, false);
		d->boff = 0;
	} else {
		n = splice(src, NULL, d->wr, NULL, max < SPLICE_CHUNK ? (size_t)max : SPLICE_CHUNK,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	}
	if (n > 0) {
		d->queued += (size_t)n;
		touch(c);
		return n;
	}
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n == 0 && eof_ok)
		return -2;
	side_failed(c, up, n == 0 ? -ECONNRESET : -errno, "body cut short");
	return -1;
}

static void dir_done(struct xconn *c, bool up)
{
	if (up)
		c->us = U_DONE;
	else
		c->ds = D_DONE;
}

/* Moves d's bytes through its pipe: d->left of them (to_eof false), or
 * until its source's EOF has gone through (to_eof). Returns PUMP_DONE
 * then, PUMP_STALLED when a side would block (*prog: whether anything
 * moved), PUMP_FAILED when the connection was closed. */
enum pump_end { PUMP_DONE, PUMP_STALLED, PUMP_FAILED };

static enum pump_end pump(struct xconn *c, struct xdir *d, bool up, bool to_eof, bool *prog)
{
	for (;;) {
		int f = flush(c, d, up);
		ssize_t n;

		if (f < 0)
			return PUMP_FAILED;
		*prog |= f > 0;
		if (d->queued)
			return PUMP_STALLED;
		if (to_eof ? d->src_eof : !d->left)
			return PUMP_DONE;
		n = fill(c, d, up, to_eof ? SPLICE_CHUNK : d->left, to_eof);
		if (n == -2)
			d->src_eof = true;
		else if (n < 0)
			return PUMP_FAILED;
		else if (n == 0)
			return PUMP_STALLED;
		else if (!to_eof)
			d->left -= (uint64_t)n;
		*prog = true;
	}
}

/* A Content-Length body: d->left bytes. */
static bool move_len(struct xconn *c, struct xdir *d, bool up)
{
	bool prog = false;
	enum pump_end r = pump(c, d, up, false, &prog);

	if (r != PUMP_DONE)
		return r == PUMP_FAILED || prog;
	dir_done(c, up);
	return true;
}

/* A close-delimited response: until the backend's EOF. */
static bool move_until_eof(struct xconn *c, struct xdir *d)
{
	bool prog = false;
	enum pump_end r = pump(c, d, false, true, &prog);

	if (r != PUMP_DONE)
		return r == PUMP_FAILED || prog;
	c->client_keep = false;
	c->backend_keep = false;
	c->ds = D_DONE;
	return true;
}

/* The rest of a chunked body: the framing bytes are read (peek, decode,
 * consume what the decoder took) and written into the pipe, the chunk
 * data is spliced; both leave the pipe in order, verbatim. Framing is
 * read only with an empty pipe, so its write (at most FRAME_PEEK bytes)
 * always fits. */
static bool move_chunked(struct xconn *c, struct xdir *d, bool up)
{
	char *fb = c->x->framebuf;
	bool prog = false;

	if (dir_open(c, d)) {
		conn_close(c, true);
		return true;
	}
	for (;;) {
		int f = flush(c, d, up);
		uint64_t left;
		size_t used = 0;
		enum xlb_chunk_verdict v;
		ssize_t n;

		if (f < 0)
			return true;
		if (d->queued)
			return prog || f;
		if (d->framed)
			break;
		left = xlb_chunk_data_left(&d->ck);
		if (left) {
			n = fill(c, d, up, left, false);
			if (n < 0)
				return true;
			if (n == 0)
				return prog || f;
			xlb_chunk_data_done(&d->ck, (uint64_t)n);
			prog = true;
			continue;
		}
		n = src_read(c, up, fb, FRAME_PEEK, true);
		if (n < 0 && errno == EAGAIN)
			return prog || f;
		if (n <= 0) {
			side_failed(c, up, n == 0 ? -ECONNRESET : -errno, "body cut short");
			return true;
		}
		v = xlb_chunk_feed(&d->ck, fb, (size_t)n, &used);
		if (v == XLB_CHUNK_BAD) {
			pr_info_rl("event=proxy_bad_chunk client=%s host=%s side=%s reason=\"%s\"",
				   c->peer, c->host, up ? "client" : "backend", d->ck.why);
			side_failed(c, up, -EPROTO, d->ck.why);
			return true;
		}
		if (used) {
			if (src_read(c, up, fb, used, false) != (ssize_t)used ||
			    dir_queue(c, d, fb, used)) {
				side_failed(c, up, -EIO, "framing");
				return true;
			}
			prog = true;
			touch(c);
		}
		if (v == XLB_CHUNK_DONE)
			d->framed = true;
	}
	dir_done(c, up);
	return true;
}

/* ---- the request's way up -------------------------------------------------------------- */

static bool up_step(struct xconn *c)
{
	ssize_t n;

	switch (c->us) {
	case U_HEAD:
		n = backend_write(c, c->out + c->out_start, c->out_end - c->out_start);
		if (n < 0) {
			if (errno == EAGAIN || errno == ENOTCONN)
				return false;
			backend_failed(c, -errno, "sending the head");
			return true;
		}
		c->out_start += (size_t)n;
		touch(c);
		if (c->out_start < c->out_end)
			return true;
		c->sent_ns = now_ns();
		if (c->req_body == XLB_HTTP1_BODY_LENGTH && c->up.left)
			c->us = U_LEN;
		else if (c->req_body == XLB_HTTP1_BODY_CHUNKED && !c->up.framed)
			c->us = U_CHUNK;
		else
			c->us = U_DONE;
		return true;
	case U_LEN:
		return move_len(c, &c->up, true);
	case U_CHUNK:
		return move_chunked(c, &c->up, true);
	default:
		return false;
	}
}

/* ---- the response's way down ------------------------------------------------------------ */

static void bad_response(struct xconn *c, const char *why)
{
	pr_info_rl("event=proxy_bad_response client=%s host=%s backend_id=%u reason=\"%s\"",
		   c->peer, c->host, c->be_id, why);
	backend_close(c, true);
	if (!c->answered)
		answer(c, 502, "Bad Gateway");
	else
		conn_close(c, true);
}

/* Where the response goes after its head, and its body's framing state;
 * conn: the Connection field the client gets. False: a 101 to a request
 * that asked for no upgrade. */
static bool classify_response(struct xconn *c, const struct xlb_http1_response *rs,
			      const char **conn)
{
	*conn = NULL;
	if (rs->interim) {
		c->after_head = D_HEAD;
		return true;
	}
	if (rs->head.body == XLB_HTTP1_BODY_TUNNEL) {
		if (rs->status == 101 && !c->upgrade)
			return false;
		c->after_head = D_TUNNEL;
		*conn = rs->status == 101 ? "upgrade" : NULL;
		c->client_keep = c->backend_keep = false;
		return true;
	}
	c->client_keep =
		c->req_keep && rs->head.keep_alive && rs->head.body != XLB_HTTP1_BODY_CLOSE;
	c->backend_keep = rs->head.keep_alive && rs->head.body != XLB_HTTP1_BODY_CLOSE;
	if (!c->client_keep)
		*conn = "close";
	else if (c->req_minor == 0)
		*conn = "keep-alive";
	switch (rs->head.body) {
	case XLB_HTTP1_BODY_LENGTH:
		c->down.left = rs->head.content_length;
		c->after_head = D_LEN;
		break;
	case XLB_HTTP1_BODY_CHUNKED:
		xlb_chunk_init(&c->down.ck);
		c->down.framed = false;
		c->after_head = D_CHUNK;
		break;
	case XLB_HTTP1_BODY_CLOSE:
		c->down.src_eof = false;
		c->after_head = D_CLOSE;
		break;
	default:
		c->after_head = D_DONE;
	}
	return true;
}

/* The body bytes read with a response head (rest bytes at p) go out
 * with it; what follows an interim head is the next head. Bytes after a
 * whole body are a backend's fault: its connection is not reused. */
static bool place_response_body(struct xconn *c, const struct xlb_http1_response *rs, const char *p,
				size_t rest)
{
	ssize_t taken;

	if (rs->interim)
		return carry_keep(c->x, &c->bin, p, rest, false) == 0;
	carry_drop(&c->bin);
	taken = body_take(&c->down, rs->head.body, p, rest);
	if (taken < 0 || c->rout_len + (size_t)taken > rout_cap(c->x))
		return false;
	if ((size_t)taken < rest)
		c->backend_keep = false;
	memcpy(c->rout + c->rout_len, p, (size_t)taken);
	c->rout_len += (size_t)taken;
	count_moved(c, (size_t)taken);
	if ((c->after_head == D_LEN && !c->down.left) ||
	    (c->after_head == D_CHUNK && c->down.framed))
		c->after_head = D_DONE;
	return true;
}

static bool response_head(struct xconn *c)
{
	struct xlb_exchange *x = c->x;
	struct xlb_http1_response rs;
	const char *conn;
	enum xlb_http1 v;
	struct got g;

	g = gather(c, false, x->scratch, x->lim.max_head);
	if (g.err || (g.eof && !g.len)) {
		backend_failed(c, g.err ? g.err : -ECONNRESET, "no response");
		return true;
	}
	if (!g.len)
		return false;
	count_first_byte(c);
	if (g.held)
		return c->be->rd;
	v = xlb_http1_parse_response(x->scratch, g.len, c->method, &rs, x->fields, MAX_FIELDS);
	if (v == XLB_HTTP1_MORE) {
		if (g.len >= x->lim.max_head) {
			bad_response(c, "response head too large");
			return true;
		}
		if (g.eof) {
			bad_response(c, "response head cut short");
			return true;
		}
		if (carry_keep(x, &c->bin, x->scratch, g.len, true)) {
			conn_close(c, true);
			return true;
		}
		return c->be->rd;
	}
	if (v == XLB_HTTP1_BAD) {
		bad_response(c, rs.head.why);
		return true;
	}
	if (!classify_response(c, &rs, &conn)) {
		bad_response(c, "101 to no Upgrade");
		return true;
	}
	if (!build_response(c, x->scratch, &rs, x->fields, conn)) {
		bad_response(c, "response head too large");
		return true;
	}
	if (!place_response_body(c, &rs, x->scratch + rs.head.head_len, g.len - rs.head.head_len)) {
		bad_response(c, c->down.ck.why ? c->down.ck.why : "response too large");
		return true;
	}
	touch(c);
	c->status = (uint16_t)rs.status;
	c->ds = D_SENDHEAD;
	return true;
}

static void start_tunnel(struct xconn *c);

static bool down_step(struct xconn *c)
{
	ssize_t n;

	switch (c->ds) {
	case D_HEAD:
		return response_head(c);
	case D_SENDHEAD:
		n = client_write(c, c->rout + c->rout_off, c->rout_len - c->rout_off);
		if (n < 0) {
			if (errno == EAGAIN)
				return false;
			client_failed(c, -errno);
			return true;
		}
		c->answered = true;
		c->rout_off += (size_t)n;
		touch(c);
		if (c->rout_off < c->rout_len)
			return true;
		count_response(c, c->status);
		c->ds = c->after_head;
		if (c->ds == D_TUNNEL)
			start_tunnel(c);
		else if (c->ds != D_HEAD && c->ds != D_DONE)
			client_nodelay(c); /* the body's tail must not wait behind the head */
		return true;
	case D_LEN:
		return move_len(c, &c->down, false);
	case D_CHUNK:
		return move_chunked(c, &c->down, false);
	case D_CLOSE:
		return move_until_eof(c, &c->down);
	default:
		return false;
	}
}

/* ---- after a response ------------------------------------------------------------------ */

/* Whether a backend connection holds no bytes after the response: known
 * when its last read came back short and no event said otherwise, else
 * looked at (a body moved by splice ends on its framing, not on EAGAIN).
 * A response's bytes must never be read as another client's. */
static bool backend_quiet(struct bconn *b)
{
	char byte;

	if (b->ssl && SSL_has_pending(b->ssl))
		return false;
	if (!b->rd)
		return true;
	if (recv(b->w.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN) {
		b->rd = false;
		return true;
	}
	return false;
}

static void finish_request(struct xconn *c)
{
	struct xlb_exchange *x = c->x;
	struct bconn *b = c->be;

	c->requests++;
	/* A connection opened with a PROXY v2 header names its client: it is
	 * never given to another one's request. */
	if (b && c->backend_keep && !c->proxy_v2 && !b->hup && !c->bin.len && backend_quiet(b)) {
		c->be = NULL;
		pool_put(x, b);
	} else {
		backend_close(c, false);
	}
	carry_drop(&c->bin);
	buf_put(c);
	if (!c->client_keep) {
		close_client(c);
		return;
	}
	c->state = X_HEAD;
	c->peeked = c->answered = c->retried = c->reuse_retried = c->pooled = false;
	c->host[0] = '\0';
	c->svc_id = UINT32_MAX;
	touch(c);
	c->deadline_ms = c->last_active_ms + x->lim.idle_timeout_ms;
}

static bool exch_step(struct xconn *c)
{
	bool prog = up_step(c);

	if (c->state != X_EXCH)
		return true;
	prog |= down_step(c);
	if (c->state != X_EXCH)
		return true;
	if (c->ds == D_DONE) {
		if (c->us != U_DONE) /* answered before the whole request came */
			c->client_keep = c->backend_keep = false;
		finish_request(c);
		return true;
	}
	return prog;
}

/* ---- tunnels ------------------------------------------------------------------------- */

/* Bytes both ways through the pipes; what the client sent after its
 * request head goes first. */
static void start_tunnel(struct xconn *c)
{
	if (c->us != U_DONE || dir_open(c, &c->up) || dir_open(c, &c->down)) {
		conn_close(c, true);
		return;
	}
	c->up = (struct xdir){ .rd = c->up.rd, .wr = c->up.wr, .buf = c->up.buf };
	c->down = (struct xdir){ .rd = c->down.rd, .wr = c->down.wr, .buf = c->down.buf };
	if (c->cin.len) {
		if (dir_queue(c, &c->up, c->cin.p, c->cin.len)) {
			conn_close(c, true);
			return;
		}
		carry_drop(&c->cin);
	}
	client_nodelay(c);
	c->state = X_TUNNEL;
}

static bool tunnel_dir(struct xconn *c, struct xdir *d, bool up)
{
	bool prog = false;
	enum pump_end r = pump(c, d, up, true, &prog);

	if (r != PUMP_DONE)
		return r == PUMP_FAILED || prog;
	if (!d->dst_shut) {
		if (up)
			tls_shut_wr(c->be->ssl, bfd(c));
		else
			client_shut_wr(c);
		d->dst_shut = true;
		prog = true;
	}
	return prog;
}

static bool tunnel_step(struct xconn *c)
{
	bool prog = tunnel_dir(c, &c->up, true);

	if (c->state != X_TUNNEL)
		return true;
	prog |= tunnel_dir(c, &c->down, false);
	if (c->state != X_TUNNEL)
		return true;
	if (c->up.dst_shut && c->down.dst_shut) {
		conn_close(c, false);
		return true;
	}
	return prog;
}

/* ---- request heads ------------------------------------------------------------------- */

static void refuse(struct xconn *c, int code, const char *why)
{
	c->lc->bad_request++;
	answer(c, code, why);
}

/* The request head read, what its route and rewriting need is kept:
 * false when the head is refused (the connection is handled). */
static bool take_request(struct xconn *c, const struct xlb_http1_request *rq, size_t len)
{
	struct xlb_exchange *x = c->x;
	const char *rest = x->scratch + rq->head.head_len;
	size_t n = len - rq->head.head_len;
	ssize_t body;

	xlb_queue_remove(&x->pending, &c->pend); /* a whole head: past its first */
	snprintf(c->host, sizeof(c->host), "%s", rq->host);
	c->method = rq->method;
	c->req_body = rq->head.body;
	c->req_keep = rq->head.keep_alive;
	c->req_minor = rq->head.minor;
	/* no Upgrade field for CONNECT: a 2xx tunnels */
	c->upgrade = rq->method != XLB_HTTP1_M_CONNECT && rq->head.upgrade &&
		     (rq->head.connection & XLB_HTTP1_CONN_UPGRADE);
	c->up.left = rq->head.body == XLB_HTTP1_BODY_LENGTH ? rq->head.content_length : 0;
	xlb_chunk_init(&c->up.ck);
	c->up.framed = false;
	body = body_take(&c->up, rq->head.body, rest, n);
	if (body < 0) {
		refuse(c, 400, c->up.ck.why);
		return false;
	}
	if (!buf_get(c) || carry_keep(x, &c->cin, rest + body, n - (size_t)body, false)) {
		conn_close(c, true);
		return false;
	}
	memcpy(c->out + body_off(x), rest, (size_t)body);
	c->pre_len = (size_t)body;
	c->pre_placed = false;
	/* routed before the head is built: the service says which headers
	 * it takes; connect_backend uses this route */
	c->stripped = false;
	c->counted = false;
	c->route_err = route_request(c, x->scratch + rq->path.off, rq->path.len, 0, &c->route);
	c->routed = true;
	/* no plain HTTP site for the route: as for a name without one */
	if (!c->route_err && c->route.https_only && !c->ssl)
		c->route_err = -ENOENT;
	if (!c->route_err && c->route.https_redirect && !c->ssl) {
		if (c->route.svc_id < XLB_MAX_SERVICES)
			c->svc_id = c->route.svc_id; /* the 308 counts in its service */
		answer_redirect(c, x->scratch, rq);
		return false;
	}
	if (!build_request(c, x->scratch, rq, x->fields,
			   c->route_err || !c->route.no_forward_headers)) {
		refuse(c, 431, "head too large");
		return false;
	}
	if (c->cin.len)
		client_nodelay(c); /* pipelined: answers go out behind unacked ones */
	c->down.src_eof = false;
	return true;
}

static bool head_step(struct xconn *c)
{
	struct xlb_exchange *x = c->x;
	struct xlb_http1_request rq;
	enum xlb_http1 v;
	struct got g;

	g = gather(c, true, x->scratch, x->lim.max_head);
	if (g.err || (g.eof && !g.len)) {
		conn_close(c, false); /* gone between requests */
		return true;
	}
	if (!g.len)
		return false;
	if (!c->peeked) {
		c->peeked = true;
		if (c->requests) /* the head's own deadline, once it has begun */
			c->deadline_ms = xlb_loop_now_ms() + x->lim.peek_timeout_ms;
	}
	if (g.held)
		return c->client.rd;
	v = xlb_http1_parse_request(x->scratch, g.len, &rq, x->fields, MAX_FIELDS);
	if (v == XLB_HTTP1_MORE) {
		if (g.len >= x->lim.max_head) {
			refuse(c, 431, "head too large");
		} else if (g.eof || c->rdhup) {
			refuse(c, 400, "incomplete request");
		} else if (carry_keep(x, &c->cin, x->scratch, g.len, true)) {
			conn_close(c, true);
		} else {
			return c->client.rd;
		}
		return true;
	}
	if (v == XLB_HTTP1_BAD) {
		if (strcmp(rq.head.why, "too many header fields") == 0)
			refuse(c, 431, "head too large");
		else
			refuse(c, 400, rq.head.why);
		return true;
	}
	if (answer_http01(c, x->scratch, &rq))
		return true;
	if (take_request(c, &rq, g.len))
		start_request(c);
	return true;
}

/* ---- events ------------------------------------------------------------------------- */

/* Whether c waits on its client (to read, or to write to it): not while
 * it connects, nor while only the backend's answer is due. */
static bool waits_on_client(const struct xconn *c)
{
	if (c->state == X_CONNECT || c->state == X_DEAD)
		return false;
	return !(c->state == X_EXCH && c->us == U_DONE && c->ds == D_HEAD);
}

static void drive(struct xconn *c)
{
	for (;;) {
		bool prog;

		switch (c->state) {
		case X_HEAD:
			prog = head_step(c);
			break;
		case X_EXCH:
			prog = exch_step(c);
			break;
		case X_TUNNEL:
			prog = tunnel_step(c);
			break;
		default:
			prog = false;
		}
		if (!prog)
			break;
	}
	if (c->client.watched || !waits_on_client(c))
		return;
	if (xlb_loop_add(c->x->loop, &c->client.w, EVENTS)) {
		conn_close(c, true);
		return;
	}
	c->client.watched = true;
}

static void on_connected(struct xconn *c, uint32_t events)
{
	socklen_t len = sizeof(int);
	int soerr = 0, err;

	/* EPOLLOUT alone: connected, no getsockopt needed */
	if (events & (EPOLLERR | EPOLLHUP)) {
		getsockopt(bfd(c), SOL_SOCKET, SO_ERROR, &soerr, &len);
		connect_failed(c, -(soerr ? soerr : ECONNREFUSED));
		return;
	}
	if (http_counters(c))
		http_counters(c)->connects++;
	if (!c->backend_tls) {
		begin_exchange(c, true);
		return;
	}
	err = backend_tls_start(c);
	if (err)
		backend_tls_failed(c, err);
	else
		backend_tls_step(c);
}

static void on_client_event(struct xlb_watch *w, uint32_t events)
{
	struct xconn *c = ((struct xside *)w)->c;

	if (c->state == X_DEAD)
		return;
	if (events & READ_EVENTS)
		c->client.rd = true;
	if (events & (EPOLLRDHUP | EPOLLHUP))
		c->rdhup = true;
	drive(c);
}

static void on_backend_event(struct xlb_watch *w, uint32_t events)
{
	struct bconn *b = (struct bconn *)w;
	struct xconn *c = b->owner;

	if (b->dead)
		return;
	if (events & READ_EVENTS)
		b->rd = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		b->hup = true;
	if (!c) {
		/* pooled: closed by the backend, or bytes nobody asked for */
		if (events & READ_EVENTS)
			bconn_close(b, false);
		return;
	}
	if (c->state == X_CONNECT && b->ssl) {
		backend_tls_step(c);
	} else if (c->state == X_CONNECT) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		on_connected(c, events);
	}
	drive(c);
}

/* ---- the engine --------------------------------------------------------------------- */

void xlb_exchange_set_acme(struct xlb_exchange *x, struct xlb_acme_challs *t)
{
	x->acme = t;
}

int xlb_exchange_set_trusted(struct xlb_exchange *x, const struct xlb_cidr *v, size_t n)
{
	return xlb_cidr_list_set(&x->trusted, &x->n_trusted, v, n);
}

int xlb_exchange_new(struct xlb_loop *loop, struct xlb_state *st,
		     const struct xlb_exchange_limits *lim, struct xlb_proxy_counters *svc_c,
		     struct xlb_http_counters *http_c, struct xlb_srclim *srclim,
		     struct xlb_exchange **out)
{
	struct xlb_exchange *x = calloc(1, sizeof(*x));

	if (!x)
		return -ENOMEM;
	x->loop = loop;
	x->st = st;
	x->lim = *lim;
	x->svc_c = svc_c;
	x->http_c = http_c;
	x->srclim = srclim;
	x->scratch = malloc(lim->max_head);
	x->be_tls = backend_tls_ctx();
	if (!x->scratch || !x->be_tls) {
		SSL_CTX_free(x->be_tls);
		free(x->scratch);
		free(x);
		return -ENOMEM;
	}
	*out = x;
	return 0;
}

static void addr_name(const struct xlb_flow_key *k, char *buf, size_t len)
{
	if (k->family == AF_INET)
		inet_ntop(AF_INET, &k->src.v4, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, k->src.v6, buf, (socklen_t)len);
}

void xlb_exchange_accept(struct xlb_exchange *x, int fd, const struct xlb_flow_key *flow,
			 uint16_t listen_port, struct xlb_proxy_counters *lc, bool src_counted)
{
	xlb_exchange_accept_tls(x, fd, NULL, flow, listen_port, lc, src_counted);
}

void xlb_exchange_accept_tls(struct xlb_exchange *x, int fd, struct ssl_st *ssl,
			     const struct xlb_flow_key *flow, uint16_t listen_port,
			     struct xlb_proxy_counters *lc, bool src_counted)
{
	struct xconn *c = calloc(1, sizeof(*c));
	struct xlb_endpoint ep;

	if (!c) {
		if (src_counted)
			xlb_srclim_put(x->srclim, flow);
		SSL_free(ssl);
		close(fd);
		return;
	}
	c->src_counted = src_counted;
	if (ssl) {
		SSL_set_mode(ssl,
			     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		/* one read() per record instead of its 5-byte header and then
		 * the rest; bytes read ahead stay in OpenSSL's buffer, which
		 * is safe here because the client side is read until
		 * SSL_read wants more (rd stays set for TLS clients) */
		SSL_set_read_ahead(ssl, 1);
	}
	c->ssl = ssl;
	if (ssl)
		watch_tls_reads(ssl, &c->tls_sock_more);
	c->x = x;
	c->lc = lc;
	/* read at once: the head often came with the handshake */
	c->client = (struct xside){ .w = { .fd = fd, .fn = on_client_event }, .c = c, .rd = true };
	c->up = (struct xdir){ .rd = -1, .wr = -1 };
	c->down = (struct xdir){ .rd = -1, .wr = -1 };
	c->svc_id = UINT32_MAX;
	c->flow = *flow;
	c->lport = listen_port;
	ep = (struct xlb_endpoint){ .addr = flow->src,
				    .port = ntohs(flow->sport),
				    .family = flow->family };
	xlb_format_endpoint(&ep, c->peer, sizeof(c->peer));
	addr_name(flow, c->addr, sizeof(c->addr));
	touch(c);
	c->accepted_ms = c->last_active_ms;
	c->deadline_ms = c->last_active_ms + x->lim.peek_timeout_ms;
	c->state = X_HEAD;
	xlb_queue_push(&x->pending, &c->pend);
	c->next = x->conns;
	if (x->conns)
		x->conns->prev = c;
	x->conns = c;
	x->n_conns++;
	drive(c);
}

size_t xlb_exchange_count(const struct xlb_exchange *x)
{
	return x->n_conns;
}

static struct xconn *oldest_pending(const struct xlb_exchange *x)
{
	return x->pending.head ? xlb_container_of(x->pending.head, struct xconn, pend) : NULL;
}

size_t xlb_exchange_pending(const struct xlb_exchange *x)
{
	return x->pending.n;
}

uint64_t xlb_exchange_oldest_pending_ms(const struct xlb_exchange *x)
{
	return x->pending.head ? oldest_pending(x)->accepted_ms : UINT64_MAX;
}

void xlb_exchange_evict_oldest(struct xlb_exchange *x)
{
	struct xconn *c = oldest_pending(x);

	if (!c)
		return;
	c->lc->timeouts++;
	pr_info_rl("event=proxy_timeout client=%s state=peek reason=evicted", c->peer);
	conn_close(c, false);
}

unsigned int xlb_exchange_close_backend(struct xlb_exchange *x, uint32_t be_id)
{
	struct xconn *c, *next;
	unsigned int n = 0;

	for (size_t i = x->n_pool; i-- > 0;)
		if (x->pool[i]->be_id == be_id)
			bconn_close(x->pool[i], false);
	for (c = x->conns; c; c = next) {
		next = c->next;
		if (c->state != X_HEAD && c->be && c->be->be_id == be_id) {
			conn_close(c, true);
			n++;
		}
	}
	return n;
}

static void check_deadline(struct xconn *c, uint64_t now)
{
	const struct xlb_exchange_limits *lim = &c->x->lim;
	uint64_t idle = now > c->last_active_ms ? now - c->last_active_ms : 0;

	switch (c->state) {
	case X_HEAD:
		if (now < c->deadline_ms)
			return;
		if (c->peeked || !c->requests) {
			c->lc->timeouts++;
			pr_info_rl("event=proxy_timeout client=%s state=peek", c->peer);
		}
		conn_close(c, false);
		return;
	case X_CONNECT:
		if (now >= c->deadline_ms) {
			c->lc->timeouts++;
			pr_info_rl("event=proxy_timeout client=%s state=connect", c->peer);
			connect_failed(c, -ETIMEDOUT);
		}
		return;
	case X_EXCH:
		if (c->ds == D_HEAD && idle >= lim->response_timeout_ms) {
			c->lc->timeouts++;
			pr_info_rl(
				"event=proxy_timeout client=%s host=%s backend_id=%u state=response",
				c->peer, c->host, c->be_id);
			backend_close(c, true);
			if (!c->answered)
				answer(c, 504, "no response in time");
			else
				conn_close(c, true);
			return;
		}
		/* fall through */
	default:
		if (idle >= lim->idle_timeout_ms) {
			c->lc->timeouts++;
			pr_info_rl("event=proxy_timeout client=%s state=idle", c->peer);
			conn_close(c, true);
		}
	}
}

void xlb_exchange_tick(struct xlb_exchange *x)
{
	uint64_t now = xlb_loop_now_ms();
	struct xconn *c, *next;

	for (c = x->conns; c; c = next) {
		next = c->next;
		check_deadline(c, now);
	}
	pool_expire(x, now);
}

void xlb_exchange_free(struct xlb_exchange *x)
{
	if (!x)
		return;
	while (x->conns)
		conn_close(x->conns, false);
	while (x->n_pool)
		bconn_close(x->pool[x->n_pool - 1], false);
	xlb_exchange_reap(x);
	while (x->n_spare)
		free(x->spare[--x->n_spare]);
	free(x->scratch);
	free(x->trusted);
	SSL_CTX_free(x->be_tls);
	free(x);
}
