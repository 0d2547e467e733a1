// SPDX-License-Identifier: GPL-2.0
/* Health checks: the label parser with every error message, and real
 * checks against real sockets on 127.0.0.1 and ::1, run by a real
 * xlb_loop until a condition holds (or a generous deadline fails the test). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xlbd/health.h"
#include "lib/log.h"

/* ---- the spec ---------------------------------------------------------------- */

static void test_spec_defaults(void **state)
{
	struct xlb_hc_spec s;
	char err[160] = "";

	(void)state;
	memset(&s, 0xaa, sizeof(s));
	xlb_hc_spec_init(&s);
	assert_int_equal(s.kind, XLB_HC_NONE);
	assert_int_equal(s.interval_ms, 2000);
	assert_int_equal(s.timeout_ms, 1000);
	assert_int_equal(s.rise, 2);
	assert_int_equal(s.fall, 3);
	assert_string_equal(s.path, "");
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0);
}

static void test_parse_kinds(void **state)
{
	struct xlb_hc_spec s;
	char err[160] = "", label[300];

	(void)state;
	xlb_hc_spec_init(&s);
	s.interval_ms = 500;
	assert_int_equal(xlb_hc_parse("http:/healthz?full=1&x=%20", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, XLB_HC_HTTP);
	assert_string_equal(s.path, "/healthz?full=1&x=%20");
	/* the kind does not reset options given before it */
	assert_int_equal(s.interval_ms, 500);
	assert_int_equal(xlb_hc_parse("tcp", &s, err, sizeof(err)), 0);
	assert_int_equal(s.kind, XLB_HC_TCP);
	assert_string_equal(s.path, "");
	assert_int_equal(xlb_hc_parse("http:/", &s, err, sizeof(err)), 0);
	assert_string_equal(s.path, "/");

	/* 255 characters fit */
	memset(label, 'a', sizeof(label));
	memcpy(label, "http:/", 6);
	label[5 + 255] = '\0';
	assert_int_equal(xlb_hc_parse(label, &s, err, sizeof(err)), 0);
	assert_int_equal(strlen(s.path), 255);
	assert_string_equal(s.path, label + 5);
	s.timeout_ms = 500;
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

struct parse_case {
	const char *in;
	const char *msg;
};

static void test_parse_errors(void **state)
{
	static const struct parse_case cases[] = {
		{ "", "unknown check kind \"\" (want tcp or http:/path)" },
		{ "udp", "unknown check kind \"udp\" (want tcp or http:/path)" },
		{ "TCP", "unknown check kind \"TCP\" (want tcp or http:/path)" },
		{ "tcp ", "unknown check kind \"tcp \" (want tcp or http:/path)" },
		{ "https:/x", "unknown check kind \"https:/x\" (want tcp or http:/path)" },
		{ "none", "unknown check kind \"none\" (want tcp or http:/path)" },
		{ "http", "http check needs a path (http:/path)" },
		{ "http:", "http path must start with '/'" },
		{ "http:healthz", "http path must start with '/'" },
		{ "http: /healthz", "http path must start with '/'" },
		{ "http:/health z", "http path has a space or a non-printable character" },
		{ "http:/a\tb", "http path has a space or a non-printable character" },
		{ "http:/a\r\nX-Evil: 1", "http path has a space or a non-printable character" },
		{ "http:/\x7f", "http path has a space or a non-printable character" },
		{ "http:/caf\xc3\xa9", "http path has a space or a non-printable character" },
		/* an echoed value is cut at 40 characters */
		{ "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
		  "unknown check kind \"abcdefghijklmnopqrstuvwxyzabcdefghijklmn\" "
		  "(want tcp or http:/path)" },
	};
	char err[160], label[310];
	struct xlb_hc_spec s, before;

	(void)state;
	xlb_hc_spec_init(&s);
	assert_int_equal(xlb_hc_parse("http:/keep", &s, err, sizeof(err)), 0);
	before = s;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(err, 0, sizeof(err));
		if (xlb_hc_parse(cases[i].in, &s, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", cases[i].in);
		assert_string_equal(err, cases[i].msg);
		/* a refused label leaves the spec as it was */
		assert_memory_equal(&s, &before, sizeof(s));
	}
	/* 256 characters do not */
	memcpy(label, "http:/", 6);
	memset(label + 6, 'a', 255);
	label[261] = '\0';
	assert_int_equal(xlb_hc_parse(label, &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "http path longer than 255 characters");
	/* a NULL or short err buffer is fine */
	assert_int_equal(xlb_hc_parse("udp", &s, NULL, 0), -EINVAL);
	assert_int_equal(xlb_hc_parse("udp", &s, err, 8), -EINVAL);
	assert_string_equal(err, "unknown");
}

struct option_case {
	const char *key, *val;
	uint32_t want;
};

static uint32_t option_field(const struct xlb_hc_spec *s, const char *key)
{
	if (strcmp(key, "interval") == 0)
		return s->interval_ms;
	if (strcmp(key, "timeout") == 0)
		return s->timeout_ms;
	return strcmp(key, "rise") == 0 ? s->rise : s->fall;
}

static void test_options(void **state)
{
	static const struct option_case cases[] = {
		{ "interval", "500ms", 500 },
		{ "interval", "2s", 2000 },
		{ "interval", "2", 2000 },
		{ "interval", "1m", 60000 },
		{ "interval", "100ms", 100 },
		{ "interval", "60m", 3600000 },
		{ "interval", "3600s", 3600000 },
		{ "interval", "3600000ms", 3600000 },
		{ "interval", "0100ms", 100 },
		{ "timeout", "10ms", 10 },
		{ "timeout", "750ms", 750 },
		{ "timeout", "5", 5000 },
		{ "rise", "1", 1 },
		{ "rise", "100", 100 },
		{ "fall", "7", 7 },
		{ "fall", "007", 7 },
	};
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xlb_hc_spec s;

		xlb_hc_spec_init(&s);
		err[0] = '\0';
		if (xlb_hc_set_option(&s, cases[i].key, cases[i].val, err, sizeof(err)))
			fail_msg("%s=%s refused: %s", cases[i].key, cases[i].val, err);
		assert_int_equal(option_field(&s, cases[i].key), cases[i].want);
	}
}

struct option_error {
	const char *key, *val, *msg;
};

#define NOT_DURATION(k, v)                                                    \
	{                                                                     \
		k, v, k " \"" v "\" is not a duration (like 500ms, 2s or 1m)" \
	}
#define INTERVAL_RANGE(v)                                                       \
	{                                                                       \
		"interval", v, "interval \"" v "\" out of range (100ms to 60m)" \
	}
#define TIMEOUT_RANGE(v)                                                     \
	{                                                                    \
		"timeout", v, "timeout \"" v "\" out of range (10ms to 60m)" \
	}
#define WANT_KEYS "(want interval, timeout, rise or fall)"
#define NOT_COUNT(k, v)                                                  \
	{                                                                \
		k, v, k " \"" v "\" is not a whole number from 1 to 100" \
	}

static void assert_option_errors(const struct option_error *cases, size_t n)
{
	char err[160];

	for (size_t i = 0; i < n; i++) {
		struct xlb_hc_spec s, before;

		xlb_hc_spec_init(&s);
		before = s;
		memset(err, 0, sizeof(err));
		if (xlb_hc_set_option(&s, cases[i].key, cases[i].val, err, sizeof(err)) != -EINVAL)
			fail_msg("%s=\"%s\" accepted", cases[i].key, cases[i].val);
		assert_string_equal(err, cases[i].msg);
		assert_memory_equal(&s, &before, sizeof(s));
	}
}

/* Durations, every odd shape a label could have. */
static void test_duration_errors(void **state)
{
	static const struct option_error cases[] = {
		INTERVAL_RANGE("0"),
		INTERVAL_RANGE("0ms"),
		INTERVAL_RANGE("0m"),
		NOT_DURATION("interval", "-1"),
		NOT_DURATION("interval", "+2s"),
		NOT_DURATION("interval", "1.5s"),
		NOT_DURATION("interval", "1,5s"),
		NOT_DURATION("interval", "1e3ms"),
		NOT_DURATION("interval", "0x10"),
		NOT_DURATION("interval", ""),
		NOT_DURATION("interval", " 2s"),
		NOT_DURATION("interval", "2s "),
		NOT_DURATION("interval", "2 s"),
		NOT_DURATION("interval", "2S"),
		NOT_DURATION("interval", "2MS"),
		NOT_DURATION("interval", "2h"),
		NOT_DURATION("interval", "2sec"),
		NOT_DURATION("interval", "2s2"),
		NOT_DURATION("interval", "1m30s"),
		NOT_DURATION("interval", "ms"),
		NOT_DURATION("interval", "s"),
		NOT_DURATION("timeout", "fast"),
		INTERVAL_RANGE("10ms"),
		INTERVAL_RANGE("99ms"),
		INTERVAL_RANGE("3600001ms"),
		INTERVAL_RANGE("3601"),
		INTERVAL_RANGE("61m"),
		INTERVAL_RANGE("99999999999s"),
		INTERVAL_RANGE("4294967296ms"), /* 2^32: must not wrap to 0 */
		INTERVAL_RANGE("4294967396ms"), /* 2^32 + 100: must not wrap to 100 */
		INTERVAL_RANGE("18446744073709551617ms"),
		INTERVAL_RANGE("99999999999999999999999m"),
		TIMEOUT_RANGE("0"),
		TIMEOUT_RANGE("9ms"),
		TIMEOUT_RANGE("3600001ms"),
		{ "interval", "12345678901234567890123456789012345678901234567890",
		  "interval \"1234567890123456789012345678901234567890\" out of range "
		  "(100ms to 60m)" },
	};

	(void)state;
	assert_option_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_option_errors(void **state)
{
	static const struct option_error cases[] = {
		NOT_COUNT("rise", "0"),
		NOT_COUNT("rise", "101"),
		NOT_COUNT("rise", "99999999999999999999"),
		NOT_COUNT("rise", ""),
		NOT_COUNT("fall", "-1"),
		NOT_COUNT("fall", "1.0"),
		NOT_COUNT("fall", "3x"),
		NOT_COUNT("fall", " 3"),
		NOT_COUNT("fall", "three"),
		{ "retries", "3", "unknown health check option \"retries\" " WANT_KEYS },
		{ "Interval", "2s", "unknown health check option \"Interval\" " WANT_KEYS },
		{ "", "2s", "unknown health check option \"\" " WANT_KEYS },
	};

	(void)state;
	assert_option_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

static void assert_invalid(const struct xlb_hc_spec *s, const char *msg)
{
	char err[160] = "";

	assert_int_equal(xlb_hc_validate(s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
}

static void test_validate(void **state)
{
	struct xlb_hc_spec s;
	char err[160] = "";

	(void)state;
	xlb_hc_spec_init(&s);
	s.kind = XLB_HC_TCP;
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0);

	/* the options come in any order: only validate sees them together */
	assert_int_equal(xlb_hc_set_option(&s, "timeout", "3s", err, sizeof(err)), 0);
	assert_invalid(&s, "timeout 3s is longer than interval 2s");
	assert_int_equal(xlb_hc_set_option(&s, "interval", "3s", err, sizeof(err)), 0);
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0); /* equal is fine */
	s.interval_ms = 1000;
	s.timeout_ms = 1500;
	assert_invalid(&s, "timeout 1500ms is longer than interval 1s");
	s.interval_ms = 120000;
	s.timeout_ms = 180000;
	assert_invalid(&s, "timeout 3m is longer than interval 2m");

	/* fields set by hand are checked as well */
	xlb_hc_spec_init(&s);
	s.kind = XLB_HC_TCP;
	s.interval_ms = 50;
	assert_invalid(&s, "interval 50ms out of range (100ms to 60m)");
	s.interval_ms = 3600001;
	assert_invalid(&s, "interval 3600001ms out of range (100ms to 60m)");
	s.interval_ms = 2000;
	s.timeout_ms = 0;
	assert_invalid(&s, "timeout 0ms out of range (10ms to 60m)");
	s.timeout_ms = 1000;
	s.rise = 0;
	assert_invalid(&s, "rise 0 out of range (1 to 100)");
	s.rise = 2;
	s.fall = 101;
	assert_invalid(&s, "fall 101 out of range (1 to 100)");
	s.fall = 3;
	s.kind = XLB_HC_HTTP;
	strcpy(s.path, "no-slash");
	assert_invalid(&s, "http path must start with '/'");
	strcpy(s.path, "/a b");
	assert_invalid(&s, "http path has a space or a non-printable character");
	memset(s.path, 'a', sizeof(s.path)); /* not even terminated */
	s.path[0] = '/';
	assert_invalid(&s, "http path longer than 255 characters");
	s.kind = (enum xlb_hc_kind)7;
	assert_invalid(&s, "unknown check kind 7");

	/* kind NONE has nothing to check */
	xlb_hc_spec_init(&s);
	s.timeout_ms = 5000;
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0);
}

static void test_spec_equal(void **state)
{
	struct xlb_hc_spec a, b;
	char err[160];

	(void)state;
	xlb_hc_spec_init(&a);
	xlb_hc_spec_init(&b);
	assert_true(xlb_hc_spec_equal(&a, &b));
	assert_int_equal(xlb_hc_parse("http:/a", &a, err, sizeof(err)), 0);
	assert_false(xlb_hc_spec_equal(&a, &b));
	assert_int_equal(xlb_hc_parse("http:/b", &b, err, sizeof(err)), 0);
	assert_false(xlb_hc_spec_equal(&a, &b));
	assert_int_equal(xlb_hc_parse("http:/a", &b, err, sizeof(err)), 0);
	assert_true(xlb_hc_spec_equal(&a, &b));
	b.fall = 4;
	assert_false(xlb_hc_spec_equal(&a, &b));
	b.fall = a.fall;
	b.rise = 1;
	assert_false(xlb_hc_spec_equal(&a, &b));
	b.rise = a.rise;
	b.timeout_ms = 999;
	assert_false(xlb_hc_spec_equal(&a, &b));
	b.timeout_ms = a.timeout_ms;
	b.interval_ms = 2001;
	assert_false(xlb_hc_spec_equal(&a, &b));
	b.interval_ms = a.interval_ms;
	assert_true(xlb_hc_spec_equal(&a, &b));
	/* an HTTP path left behind does not matter to a TCP check */
	a.kind = b.kind = XLB_HC_TCP;
	strcpy(b.path, "/other");
	assert_true(xlb_hc_spec_equal(&a, &b));
}

/* ---- a test fixture: loop, health, in-loop servers ------------------------------- */

#define WAIT_MS 10000 /* a hang guard, far above any expected time */
#define MAX_EVENTS 512
#define MAX_SERVERS 4
#define MAX_CONNS 256

enum srv_mode {
	SRV_ACCEPT, /* accept and close: a TCP check's peer */
	SRV_ANSWER, /* read a request, answer from the script, close */
	SRV_SILENT, /* read a request, never answer, wait for the peer's close */
};

struct server;

struct srv_conn {
	struct xlb_watch w;
	struct server *s;
	char req[2048];
	size_t len;
	bool got_request;
};

struct server {
	struct xlb_watch lw;
	struct xlb_loop *loop;
	enum srv_mode mode;
	struct xlb_endpoint ep;
	const char *const *script; /* raw answers in order; the last repeats */
	size_t script_len;
	size_t accepted, requests, answered, peer_closed;
	char last_req[2048];
	struct srv_conn *conns[MAX_CONNS];
};

struct event {
	char svc[XLB_NAME_LEN];
	struct xlb_endpoint ep;
	bool up;
	size_t answered; /* what ctx->counted had answered by then */
};

struct ctx {
	struct xlb_loop *loop;
	struct xlb_health *h;
	struct server *srv[MAX_SERVERS];
	size_t n_srv;
	struct server *counted;
	struct event ev[MAX_EVENTS];
	size_t n_ev;
	/* optional: runs after an event is recorded */
	void (*then)(struct ctx *c, const struct event *e);
	struct xlb_endpoint other; /* for `then` */
	struct xlb_hc_spec other_spec;
	int closed_port_fd; /* closed by teardown, -1 when none */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the loop until cond holds; fails the test at the hang guard. */
#define RUN_UNTIL(c, cond)                                                  \
	do {                                                                \
		uint64_t deadline_ = now_ms() + WAIT_MS;                    \
		while (!(cond)) {                                           \
			if (now_ms() > deadline_)                           \
				fail_msg("not reached in time: %s", #cond); \
			assert_true(xlb_loop_run_once((c)->loop, 20) >= 0); \
		}                                                           \
	} while (0)

static void on_health(void *arg, const char *svc, const struct xlb_endpoint *ep, bool up)
{
	struct ctx *c = arg;
	struct event *e;

	if (c->n_ev == MAX_EVENTS)
		fail_msg("too many health events");
	e = &c->ev[c->n_ev++];
	snprintf(e->svc, sizeof(e->svc), "%s", svc);
	e->ep = *ep;
	e->up = up;
	e->answered = c->counted ? c->counted->answered : 0;
	if (c->then)
		c->then(c, e);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->closed_port_fd = -1;
	xlb_log_set_prog("test_health");
	xlb_log_set_level(XLB_LOG_WARN);
	if (xlb_loop_new(&c->loop) || xlb_health_new(c->loop, on_health, c, &c->h))
		return -1;
	*state = c;
	return 0;
}

static void conn_free(struct srv_conn *sc)
{
	struct server *s = sc->s;

	for (size_t i = 0; i < MAX_CONNS; i++)
		if (s->conns[i] == sc)
			s->conns[i] = NULL;
	xlb_loop_del(s->loop, &sc->w);
	close(sc->w.fd);
	free(sc);
}

static void server_free(struct server *s)
{
	for (size_t i = 0; i < MAX_CONNS; i++)
		if (s->conns[i])
			conn_free(s->conns[i]);
	if (s->lw.fd >= 0) {
		xlb_loop_del(s->loop, &s->lw);
		close(s->lw.fd);
	}
	free(s);
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	xlb_health_free(c->h);
	for (size_t i = 0; i < c->n_srv; i++)
		server_free(c->srv[i]);
	if (c->closed_port_fd >= 0)
		close(c->closed_port_fd);
	xlb_loop_free(c->loop);
	free(c);
	return 0;
}

static void conn_answer(struct srv_conn *sc)
{
	struct server *s = sc->s;
	const char *a = s->script[s->answered < s->script_len ? s->answered : s->script_len - 1];

	assert_int_equal(send(sc->w.fd, a, strlen(a), MSG_NOSIGNAL), (ssize_t)strlen(a));
	s->answered++;
	conn_free(sc);
}

static void on_conn(struct xlb_watch *w, uint32_t events)
{
	struct srv_conn *sc = xlb_container_of(w, struct srv_conn, w);
	struct server *s = sc->s;
	ssize_t n = recv(w->fd, sc->req + sc->len, sizeof(sc->req) - 1 - sc->len, MSG_DONTWAIT);

	(void)events;
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN) {
			s->peer_closed++;
			conn_free(sc);
		}
		return;
	}
	sc->len += (size_t)n;
	sc->req[sc->len] = '\0';
	if (sc->got_request || !strstr(sc->req, "\r\n\r\n"))
		return;
	sc->got_request = true;
	s->requests++;
	snprintf(s->last_req, sizeof(s->last_req), "%s", sc->req);
	if (s->mode == SRV_ANSWER)
		conn_answer(sc);
}

static void conn_add(struct server *s, int fd)
{
	struct srv_conn *sc = calloc(1, sizeof(*sc));
	size_t i = 0;

	assert_non_null(sc);
	while (i < MAX_CONNS && s->conns[i])
		i++;
	assert_true(i < MAX_CONNS);
	s->conns[i] = sc;
	sc->s = s;
	sc->w.fd = fd;
	sc->w.fn = on_conn;
	assert_int_equal(xlb_loop_add(s->loop, &sc->w, EPOLLIN), 0);
}

static void on_listener(struct xlb_watch *w, uint32_t events)
{
	struct server *s = xlb_container_of(w, struct server, lw);
	int fd;

	(void)events;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		s->accepted++;
		if (s->mode == SRV_ACCEPT)
			close(fd);
		else
			conn_add(s, fd);
	}
}

static struct xlb_endpoint loopback(int family, uint16_t port)
{
	struct xlb_endpoint ep;
	uint8_t fam;

	memset(&ep, 0, sizeof(ep));
	assert_int_equal(xlb_parse_addr(family == AF_INET ? "127.0.0.1" : "::1", &ep.addr, &fam),
			 0);
	ep.family = fam;
	ep.port = port;
	return ep;
}

/* A socket bound to a free loopback port: listening or not. */
static int bound_socket(int family, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1;
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss,
			      family == AF_INET ? sizeof(struct sockaddr_in)
						: sizeof(struct sockaddr_in6)),
			 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port); /* same offset in both */
	return fd;
}

static struct server *server_new(struct ctx *c, int family, enum srv_mode mode,
				 const char *const *script, size_t script_len)
{
	struct server *s = calloc(1, sizeof(*s));
	uint16_t port;

	assert_non_null(s);
	assert_true(c->n_srv < MAX_SERVERS);
	c->srv[c->n_srv++] = s;
	s->lw.fd = -1;
	s->loop = c->loop;
	s->mode = mode;
	s->script = script;
	s->script_len = script_len;
	s->lw.fd = bound_socket(family, &port);
	s->lw.fn = on_listener;
	assert_int_equal(listen(s->lw.fd, 512), 0);
	assert_int_equal(xlb_loop_add(c->loop, &s->lw, EPOLLIN), 0);
	s->ep = loopback(family, port);
	return s;
}

static struct xlb_hc_spec spec_of(const char *label, uint32_t interval_ms, uint32_t timeout_ms,
				  uint32_t rise, uint32_t fall)
{
	struct xlb_hc_spec s;
	char err[160];

	xlb_hc_spec_init(&s);
	if (xlb_hc_parse(label, &s, err, sizeof(err)))
		fail_msg("%s: %s", label, err);
	s.interval_ms = interval_ms;
	s.timeout_ms = timeout_ms;
	s.rise = rise;
	s.fall = fall;
	assert_int_equal(xlb_hc_validate(&s, err, sizeof(err)), 0);
	return s;
}

/* 100 ms checks, as fast as the limits allow */
static struct xlb_hc_spec fast(const char *label)
{
	return spec_of(label, 100, 100, 2, 3);
}

#define ANSWER(status) "HTTP/1.1 " status "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
static const char *const ok200[] = { ANSWER("200 OK") };
static const char *const err500[] = { ANSWER("500 Internal Server Error") };

/* ---- the watch list ---------------------------------------------------------------- */

static void test_watch_arguments(void **state)
{
	struct ctx *c = *state;
	struct xlb_endpoint ep = loopback(AF_INET, 1);
	struct xlb_hc_spec s = fast("tcp"), none;
	char long_name[XLB_NAME_LEN + 1];

	xlb_hc_spec_init(&none);
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &none), -EINVAL);
	s.timeout_ms = 200; /* longer than the interval */
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &s), -EINVAL);
	s = fast("tcp");
	ep.port = 0;
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &s), -EINVAL);
	ep.port = 1;
	ep.family = AF_UNIX;
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &s), -EINVAL);
	ep = loopback(AF_INET, 1);
	memset(long_name, 'a', XLB_NAME_LEN);
	long_name[XLB_NAME_LEN] = '\0';
	assert_int_equal(xlb_health_watch(c->h, long_name, &ep, &s), -ENAMETOOLONG);
	long_name[XLB_NAME_LEN - 1] = '\0';
	assert_int_equal(xlb_health_watch(c->h, long_name, &ep, &s), 0);
	assert_int_equal(xlb_health_count(c->h), 1);

	/* not watched: up; watched: down until its first check passes, and
	 * watch itself never calls back */
	assert_true(xlb_health_is_up(c->h, "api", &ep));
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &s), 0);
	assert_false(xlb_health_is_up(c->h, "api", &ep));
	assert_int_equal(c->n_ev, 0);
	/* the same backend in another service is another target */
	assert_true(xlb_health_is_up(c->h, "web", &ep));
	/* the protocol of the endpoint does not matter */
	ep.proto = IPPROTO_TCP;
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &s), 0);
	assert_int_equal(xlb_health_count(c->h), 2);
	xlb_health_unwatch(c->h, "api", &ep);
	xlb_health_unwatch(c->h, "api", &ep); /* twice is fine */
	assert_int_equal(xlb_health_count(c->h), 1);
	assert_true(xlb_health_is_up(c->h, "api", &ep));
	assert_int_equal(c->n_ev, 0);
}

static void check_tcp_up(struct ctx *c, int family)
{
	struct server *s = server_new(c, family, SRV_ACCEPT, NULL, 0);
	struct xlb_hc_spec spec = fast("tcp");

	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_true(c->ev[0].up);
	assert_string_equal(c->ev[0].svc, "api");
	/* the backend comes back as it was given */
	assert_int_equal(c->ev[0].ep.family, family);
	assert_true(xlb_endpoint_equal(&c->ev[0].ep, &s->ep));
	assert_true(xlb_health_is_up(c->h, "api", &s->ep));
	assert_int_equal(s->accepted, 1);
	/* it keeps checking, and stays up without another callback */
	RUN_UNTIL(c, s->accepted >= 3);
	assert_int_equal(c->n_ev, 1);
}

static void test_tcp_up_v4(void **state)
{
	check_tcp_up(*state, AF_INET);
}

static void test_tcp_up_v6(void **state)
{
	check_tcp_up(*state, AF_INET6);
}

static void check_tcp_refused(struct ctx *c, int family)
{
	struct xlb_hc_spec spec = fast("tcp");
	struct xlb_endpoint ep;
	uint16_t port;

	/* bound, not listening: the port stays ours, and a SYN gets RST */
	c->closed_port_fd = bound_socket(family, &port);
	ep = loopback(family, port);
	assert_int_equal(xlb_health_watch(c->h, "api", &ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_false(c->ev[0].up);
	assert_false(xlb_health_is_up(c->h, "api", &ep));
}

static void test_tcp_refused_v4(void **state)
{
	check_tcp_refused(*state, AF_INET);
}

static void test_tcp_refused_v6(void **state)
{
	check_tcp_refused(*state, AF_INET6);
}

static void check_http_up(struct ctx *c, int family, const char *host)
{
	struct server *s = server_new(c, family, SRV_ANSWER, ok200, 1);
	struct xlb_hc_spec spec = fast("http:/healthz?probe=1");
	char want[256];

	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_true(c->ev[0].up);
	assert_true(xlb_health_is_up(c->h, "api", &s->ep));
	snprintf(want, sizeof(want),
		 "GET /healthz?probe=1 HTTP/1.0\r\nHost: %s:%u\r\nUser-Agent: xlb-health\r\n"
		 "Connection: close\r\n\r\n",
		 host, s->ep.port);
	assert_string_equal(s->last_req, want);
}

static void test_http_200_up_v4(void **state)
{
	check_http_up(*state, AF_INET, "127.0.0.1");
}

static void test_http_200_up_v6(void **state)
{
	check_http_up(*state, AF_INET6, "[::1]");
}

static void test_http_500_down(void **state)
{
	struct ctx *c = *state;
	struct server *s = server_new(c, AF_INET, SRV_ANSWER, err500, 1);
	struct xlb_hc_spec spec = fast("http:/");

	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_false(c->ev[0].up);
	assert_false(xlb_health_is_up(c->h, "api", &s->ep));
	/* later failures are no transition */
	RUN_UNTIL(c, s->answered >= 4);
	assert_int_equal(c->n_ev, 1);
}

struct status_case {
	const char *answer;
	bool up;
};

/* The module reads at most 256 bytes looking for the end of the line. */
static char long_line[300], fits_line[300];

static void fill_status_line(char *buf, size_t line_len)
{
	memset(buf, 'K', line_len);
	memcpy(buf, "HTTP/1.1 200 OK", 15);
	memcpy(buf + line_len, "\r\n\r\n", 5);
}

/* What counts as a passing answer: 2xx and 3xx status lines only. */
static void test_http_status_lines(void **state)
{
	const struct status_case cases[] = {
		{ ANSWER("200 OK"), true },
		{ ANSWER("204"), true },	    /* no reason phrase */
		{ "HTTP/1.0 204\nX: y\n\n", true }, /* bare LF */
		{ ANSWER("301 Moved Permanently"), true },
		{ ANSWER("399 Whatever"), true },
		{ ANSWER("199 Early"), false },
		{ ANSWER("404 Not Found"), false },
		{ ANSWER("503 Service Unavailable"), false },
		{ "HTTP/2 200 OK\r\n\r\n", false },
		{ "HTTP/1.1 2000 OK\r\n\r\n", false },
		{ "HTTP/1.1 200OK\r\n\r\n", false },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", false },
		{ "ICY 200 OK\r\n\r\n", false },
		{ "http/1.1 200 OK\r\n\r\n", false },
		{ "HTTP/1.1 200 OK", false }, /* closed before the line ended */
		{ "", false },		      /* closed without a word */
		{ long_line, false },	      /* longer than the read bound */
		{ fits_line, true },	      /* just within it */
	};
	struct ctx *c = *state;
	struct xlb_hc_spec spec = fast("http:/");
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct server *s = server_new(c, AF_INET, SRV_ANSWER, NULL, 0);
	char svc[16];

	fill_status_line(long_line, 256); /* 256 bytes and no '\n' in them */
	fill_status_line(fits_line, 254); /* "\r\n" ends at byte 256 */
	/* one target (service) per case, one after the other, same server */
	for (size_t i = 0; i < n; i++) {
		s->script = &cases[i].answer;
		s->script_len = 1;
		snprintf(svc, sizeof(svc), "case%zu", i);
		assert_int_equal(xlb_health_watch(c->h, svc, &s->ep, &spec), 0);
		RUN_UNTIL(c, c->n_ev == i + 1);
		if (c->ev[i].up != cases[i].up)
			fail_msg("answer %zu \"%.20s\": up=%d", i, cases[i].answer, c->ev[i].up);
		assert_string_equal(c->ev[i].svc, svc);
		xlb_health_unwatch(c->h, svc, &s->ep);
	}
}

static void test_http_silent_times_out(void **state)
{
	struct ctx *c = *state;
	struct server *s = server_new(c, AF_INET6, SRV_SILENT, NULL, 0);
	struct xlb_hc_spec spec = fast("http:/slow");

	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_false(c->ev[0].up);
	/* the request had arrived: down at the timeout, not by a refusal */
	assert_int_equal(s->requests, 1);
	/* and the timed-out check's socket is closed */
	RUN_UNTIL(c, s->peer_closed >= 1);
	assert_false(xlb_health_is_up(c->h, "api", &s->ep));
}

/* Runs the script to its end and checks each transition came after
 * exactly the answer it should. With `churn`, the target's spec is
 * re-applied, alternating its interval, on every turn of the loop: an
 * update in place must not lose the runs of passes and failures. */
static void run_script(struct ctx *c, const char *const *script, size_t len, uint32_t rise,
		       uint32_t fall, const struct event *want, size_t n_want, bool churn)
{
	struct server *s = server_new(c, AF_INET, SRV_ANSWER, script, len);
	struct xlb_hc_spec a = spec_of("http:/flip", 100, 100, rise, fall), b = a;
	uint64_t deadline = now_ms() + WAIT_MS * 2;
	bool flip = false;

	b.interval_ms = 101;
	c->counted = s;
	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &a), 0);
	/* two answers past the script's end: the results before are in */
	while (s->answered < len + 2) {
		if (now_ms() > deadline)
			fail_msg("script not done in time: %zu answers", s->answered);
		assert_true(xlb_loop_run_once(c->loop, 20) >= 0);
		if (churn) {
			flip = !flip;
			assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, flip ? &b : &a), 0);
		}
	}
	for (size_t i = 0; i < c->n_ev && i < n_want; i++) {
		if (c->ev[i].up != want[i].up || c->ev[i].answered != want[i].answered)
			fail_msg("transition %zu: up=%d after %zu answers, want up=%d after %zu", i,
				 c->ev[i].up, c->ev[i].answered, want[i].up, want[i].answered);
	}
	assert_int_equal(c->n_ev, n_want);
	assert_int_equal(xlb_health_count(c->h), 1);
}

#define A200 ANSWER("200 OK")
#define A500 ANSWER("500 Oops")

/* rise 2, fall 3: failures that are not consecutive never take it down */
static const char *const flip_script[] = {
	A200,		  /* 1: first pass: up at once */
	A500, A500, A200, /* 2-4: two failures, then a pass resets them */
	A500, A500, A500, /* 5-7: the third failure in a row: down */
	A200, A500,	  /* 8-9: one pass is not enough */
	A200, A200,	  /* 10-11: the second pass in a row: up */
	A200,
};
static const struct event flip_want[] = {
	{ .up = true, .answered = 1 },
	{ .up = false, .answered = 7 },
	{ .up = true, .answered = 11 },
};

static void test_fall_rise_counts(void **state)
{
	run_script(*state, flip_script, sizeof(flip_script) / sizeof(flip_script[0]), 2, 3,
		   flip_want, 3, false);
}

static void test_update_in_place_keeps_runs(void **state)
{
	run_script(*state, flip_script, sizeof(flip_script) / sizeof(flip_script[0]), 2, 3,
		   flip_want, 3, true);
}

/* A new target that fails first is reported down once; its first pass
 * then brings it up at once, whatever rise says. */
static void test_first_failure_then_first_pass(void **state)
{
	static const char *const script[] = { A500, A500, A500, A200, A500, A200 };
	static const struct event want[] = {
		{ .up = false, .answered = 1 },
		{ .up = true, .answered = 4 },
	};

	run_script(*state, script, sizeof(script) / sizeof(script[0]), 3, 5, want, 2, false);
}

/* fall 1, rise 1: every change of answer is a transition */
static void test_fall_rise_one(void **state)
{
	static const char *const script[] = { A200, A500, A200, A200, A500, A500, A200 };
	static const struct event want[] = {
		{ .up = true, .answered = 1 }, { .up = false, .answered = 2 },
		{ .up = true, .answered = 3 }, { .up = false, .answered = 5 },
		{ .up = true, .answered = 7 },
	};

	run_script(*state, script, sizeof(script) / sizeof(script[0]), 1, 1, want, 5, false);
}

static void test_update_spec_in_place(void **state)
{
	struct ctx *c = *state;
	struct server *s = server_new(c, AF_INET, SRV_ANSWER, ok200, 1);
	struct xlb_hc_spec a = fast("http:/a"), b = spec_of("http:/b", 200, 150, 5, 7);

	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &a), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_true(c->ev[0].up);
	assert_non_null(strstr(s->last_req, "GET /a HTTP/1.0\r\n"));
	/* a new path and timing: still one target, still up, no callback */
	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &b), 0);
	assert_int_equal(xlb_health_count(c->h), 1);
	assert_true(xlb_health_is_up(c->h, "api", &s->ep));
	RUN_UNTIL(c, strstr(s->last_req, "GET /b HTTP/1.0\r\n"));
	RUN_UNTIL(c, s->answered >= 4);
	assert_int_equal(c->n_ev, 1);
	assert_true(xlb_health_is_up(c->h, "api", &s->ep));
	/* from http to tcp: still the same target */
	a = fast("tcp");
	assert_int_equal(xlb_health_watch(c->h, "api", &s->ep, &a), 0);
	assert_true(xlb_health_is_up(c->h, "api", &s->ep));
	assert_int_equal(xlb_health_count(c->h), 1);
}

static void test_unwatch_closes_and_stops(void **state)
{
	struct ctx *c = *state;
	struct server *s = server_new(c, AF_INET, SRV_SILENT, NULL, 0);
	struct xlb_hc_spec spec = fast("http:/");
	struct xlb_endpoint ctl = s->ep;

	assert_int_equal(xlb_health_watch(c->h, "gone", &s->ep, &spec), 0);
	RUN_UNTIL(c, s->requests == 1);
	xlb_health_unwatch(c->h, "gone", &s->ep);
	assert_int_equal(xlb_health_count(c->h), 0);
	assert_true(xlb_health_is_up(c->h, "gone", &s->ep));
	/* its socket is closed at once */
	RUN_UNTIL(c, s->peer_closed == 1);
	/* a second target, watched later with the same timing, times out:
	 * the first would have by then */
	assert_int_equal(xlb_health_watch(c->h, "control", &ctl, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 1);
	assert_string_equal(c->ev[0].svc, "control");
	assert_false(c->ev[0].up);
}

/* The callback unwatches its own target and watches another, once from a
 * socket event (a 200) and once from the timer's walk (a timeout): the
 * deferred free must keep both safe (ASan watches). */
static void unwatch_self(struct ctx *c, const struct event *e)
{
	xlb_health_unwatch(c->h, e->svc, &e->ep);
	if (strcmp(e->svc, "first") == 0)
		assert_int_equal(xlb_health_watch(c->h, "second", &c->other, &c->other_spec), 0);
}

static void test_callback_may_unwatch(void **state)
{
	struct ctx *c = *state;
	struct server *up = server_new(c, AF_INET, SRV_ANSWER, ok200, 1);
	struct server *down = server_new(c, AF_INET6, SRV_SILENT, NULL, 0);
	struct server *third = server_new(c, AF_INET, SRV_ANSWER, ok200, 1);
	struct xlb_hc_spec spec = fast("http:/");
	size_t up_answered, down_requests;

	c->then = unwatch_self;
	c->other = down->ep;
	c->other_spec = spec;
	assert_int_equal(xlb_health_watch(c->h, "first", &up->ep, &spec), 0);
	RUN_UNTIL(c, c->n_ev == 2);
	assert_string_equal(c->ev[0].svc, "first");
	assert_true(c->ev[0].up);
	assert_string_equal(c->ev[1].svc, "second");
	assert_false(c->ev[1].up);
	assert_int_equal(xlb_health_count(c->h), 0);
	/* neither is checked any more, while a third target is checked
	 * three times */
	up_answered = up->answered;
	down_requests = down->requests;
	c->then = NULL;
	assert_int_equal(xlb_health_watch(c->h, "third", &third->ep, &spec), 0);
	RUN_UNTIL(c, third->answered == 3);
	assert_int_equal(up->answered, up_answered);
	assert_int_equal(down->requests, down_requests);
	assert_int_equal(c->n_ev, 3);
}

static void test_free_closes_every_fd(void **state)
{
	struct ctx *c = *state;
	struct server *s = server_new(c, AF_INET, SRV_SILENT, NULL, 0);
	struct xlb_hc_spec spec = spec_of("http:/", 1000, 1000, 2, 3);
	int before;
	char svc[16];

	xlb_health_free(c->h); /* the fixture's: count from nothing */
	c->h = NULL;
	before = count_fds();
	assert_int_equal(xlb_health_new(c->loop, on_health, c, &c->h), 0);
	for (int i = 0; i < 20; i++) {
		snprintf(svc, sizeof(svc), "svc%d", i);
		assert_int_equal(xlb_health_watch(c->h, svc, &s->ep, &spec), 0);
	}
	/* twenty checks in flight, each waiting for its answer */
	RUN_UNTIL(c, s->requests == 20);
	xlb_health_free(c->h);
	c->h = NULL;
	RUN_UNTIL(c, s->peer_closed == 20);
	assert_int_equal(count_fds(), before);
	assert_int_equal(c->n_ev, 0);
}

/* Many targets at once, then all gone: every one comes up, and no fd is
 * left behind. */
static void test_many_targets(void **state)
{
	struct ctx *c = *state;
	struct server *s4 = server_new(c, AF_INET, SRV_ACCEPT, NULL, 0);
	struct server *s6 = server_new(c, AF_INET6, SRV_ACCEPT, NULL, 0);
	/* a 1 s interval: only the first round runs in this test */
	struct xlb_hc_spec spec = spec_of("tcp", 1000, 1000, 2, 3);
	int before = count_fds();
	char svc[16];

	for (int i = 0; i < 150; i++) {
		snprintf(svc, sizeof(svc), "svc%d", i);
		assert_int_equal(xlb_health_watch(c->h, svc, &s4->ep, &spec), 0);
		assert_int_equal(xlb_health_watch(c->h, svc, &s6->ep, &spec), 0);
	}
	assert_int_equal(xlb_health_count(c->h), 300);
	RUN_UNTIL(c, c->n_ev == 300);
	for (int i = 0; i < 150; i++) {
		snprintf(svc, sizeof(svc), "svc%d", i);
		assert_true(xlb_health_is_up(c->h, svc, &s4->ep));
		assert_true(xlb_health_is_up(c->h, svc, &s6->ep));
	}
	for (size_t i = 0; i < c->n_ev; i++)
		assert_true(c->ev[i].up);
	assert_int_equal(s4->accepted + s6->accepted, 300);
	for (int i = 0; i < 150; i++) {
		snprintf(svc, sizeof(svc), "svc%d", i);
		xlb_health_unwatch(c->h, svc, &s4->ep);
		xlb_health_unwatch(c->h, svc, &s6->ep);
	}
	assert_int_equal(xlb_health_count(c->h), 0);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_defaults),
		cmocka_unit_test(test_parse_kinds),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_duration_errors),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_spec_equal),
		cmocka_unit_test_setup_teardown(test_watch_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_up_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_up_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_refused_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_refused_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_200_up_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_200_up_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_500_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_status_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_silent_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fall_rise_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fall_rise_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_first_failure_then_first_pass, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_update_in_place_keeps_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_spec_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch_closes_and_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_may_unwatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_closes_every_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_targets, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
