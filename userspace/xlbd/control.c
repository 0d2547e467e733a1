// SPDX-License-Identifier: GPL-2.0
#include "control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define CTL_RECV_TIMEOUT_MS 1000
#define CTL_MAX_QUERIES 4

/* ---- socket --------------------------------------------------------------- */

#define CTL_MAX_CLIENTS 16

struct client {
	struct xlb_watch w;
	struct xlb_control *ctl;
	char buf[XLB_CONTROL_LINE_MAX];
	size_t len;
	struct timespec since;
	char *out; /* an answer longer than the socket took at once */
	size_t out_len, out_off;
};

struct query {
	const char *word;
	xlb_control_query_fn fn;
	void *arg;
};

struct xlb_control {
	struct xlb_watch w;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct xlb_loop *loop;
	struct xlb_state *st;
	xlb_control_changed_fn changed;
	void *arg;
	xlb_control_takeover_fn takeover;
	bool accept_paused; /* out of descriptors: not listening until the tick */
	bool accept_told;   /* ... and said so */
	struct query queries[CTL_MAX_QUERIES];
	struct client *clients[CTL_MAX_CLIENTS];
};

static int mkdir_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A socket file nobody answers on is left from a killed xlbd. */
static bool socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int control_bind(struct xlb_control *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->path);
	if (bind(c->w.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	if (socket_is_live(&sa))
		return -EADDRINUSE;
	unlink(c->path);
	return bind(c->w.fd, (struct sockaddr *)&sa, sizeof(sa)) ? -errno : 0;
}

static bool peer_is_root(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0;
}

/* Answers are a few lines: they fit the socket buffer of a fresh
 * connection, so one non-blocking send delivers them. */
static void reply(int fd, const char *text)
{
	send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void client_close(struct client *cl)
{
	struct xlb_control *c = cl->ctl;

	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i] == cl)
			c->clients[i] = NULL;
	xlb_loop_del(c->loop, &cl->w);
	close(cl->w.fd);
	free(cl->out);
	free(cl);
}

static void client_answer(struct client *cl, int e, const struct xlb_err *err)
{
	char out[XLB_CONTROL_LINE_MAX + 16];

	if (e)
		snprintf(out, sizeof(out), "error: %s\n", err->msg);
	else
		snprintf(out, sizeof(out), "ok\n");
	reply(cl->w.fd, out);
	client_close(cl);
}

/* Returns true when the request was a takeover (answered or handed on). */
static bool client_takeover(struct client *cl)
{
	struct xlb_control *c = cl->ctl;
	struct xlb_err err = { "" };
	uint32_t drain_ms = 0;
	int e = xlb_control_parse_takeover(cl->buf, &drain_ms, &err);

	if (e == -ENOENT)
		return false;
	if (!e && !c->takeover) {
		snprintf(err.msg, sizeof(err.msg), "takeover is not possible here");
		e = -EINVAL;
	}
	if (!e)
		e = c->takeover(c->arg, cl->w.fd, drain_ms, &err);
	pr_info("event=control request=takeover drain_ms=%u result=%s", drain_ms,
		e ? "error" : "accepted");
	if (e)
		client_answer(cl, e, &err);
	else
		client_close(cl);
	return true;
}

/* Sends what is left of a long answer; closes the client once it is all
 * out (or the client is gone). */
static void client_flush(struct client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->w.fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		cl->out_off += (size_t)n;
	}
	client_close(cl);
}

static void on_client_writable(struct xlb_watch *w, uint32_t events)
{
	(void)events;
	client_flush((struct client *)w);
}

/* A query's answer may be longer than the socket buffer: what the first
 * send leaves waits for the socket to drain, within the client's time. */
static void client_answer_output(struct client *cl, char *output)
{
	size_t len = strlen(output);
	char *all = malloc(len + 4);

	if (!all) {
		free(output);
		client_answer(cl, -ENOMEM, &(struct xlb_err){ "out of memory" });
		return;
	}
	memcpy(all, output, len);
	memcpy(all + len, "ok\n", 4);
	free(output);
	cl->out = all;
	cl->out_len = len + 3;
	cl->w.fn = on_client_writable;
	if (xlb_loop_mod(cl->ctl->loop, &cl->w, EPOLLOUT)) {
		client_close(cl);
		return;
	}
	client_flush(cl);
}

/* Returns true when the request was a registered query (answered). */
static bool client_query(struct client *cl)
{
	struct xlb_control *c = cl->ctl;
	struct xlb_err err = { "" };
	const char *word = cl->buf + strspn(cl->buf, " \t");
	size_t wlen = strcspn(word, " \t");
	char *output = NULL;
	int e;

	for (int i = 0; i < CTL_MAX_QUERIES && c->queries[i].fn; i++) {
		const struct query *q = &c->queries[i];

		if (strlen(q->word) != wlen || strncmp(word, q->word, wlen) != 0)
			continue;
		e = word[wlen + strspn(word + wlen, " \t")] != '\0' ? -EINVAL : 0;
		if (e)
			snprintf(err.msg, sizeof(err.msg), "usage: %s", q->word);
		else
			e = q->fn(q->arg, &output, &err);
		pr_debug("event=control request=%s result=%s", q->word, e ? "error" : "ok");
		if (e)
			client_answer(cl, e, &err);
		else
			client_answer_output(cl, output);
		return true;
	}
	return false;
}

static void client_exec(struct client *cl)
{
	struct xlb_control *c = cl->ctl;
	struct xlb_err err = { "" };
	bool changed = false;
	int e;

	cl->buf[strcspn(cl->buf, "\r\n")] = '\0';
	if (client_takeover(cl) || client_query(cl))
		return;
	e = xlb_control_exec(c->st, cl->buf, &changed, &err);
	pr_debug("event=control request=\"%s\" result=%s", cl->buf, e ? "error" : "ok");
	client_answer(cl, e, &err);
	if (changed && c->changed)
		c->changed(c->arg);
}

static void on_client(struct xlb_watch *w, uint32_t events)
{
	struct client *cl = (struct client *)w;
	struct xlb_err err = { "incomplete request" };
	ssize_t n;

	(void)events;
	n = recv(w->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len, MSG_DONTWAIT);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		client_close(cl); /* gone before finishing its line */
		return;
	}
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	if (strchr(cl->buf, '\n')) {
		client_exec(cl);
		return;
	}
	if (cl->len == sizeof(cl->buf) - 1) {
		snprintf(err.msg, sizeof(err.msg), "request too long");
		client_answer(cl, -E2BIG, &err);
	}
}

static int free_slot(const struct xlb_control *c)
{
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (!c->clients[i])
			return i;
	return -1;
}

static void client_start(struct xlb_control *c, int fd)
{
	int slot = free_slot(c);
	struct client *cl;

	if (!peer_is_root(fd)) {
		reply(fd, "error: permission denied\n");
		close(fd);
		return;
	}
	cl = slot < 0 ? NULL : calloc(1, sizeof(*cl));
	if (!cl) {
		reply(fd, "error: busy\n");
		close(fd);
		return;
	}
	*cl = (struct client){ .w = { .fd = fd, .fn = on_client }, .ctl = c };
	clock_gettime(CLOCK_MONOTONIC, &cl->since);
	if (xlb_loop_add(c->loop, &cl->w, EPOLLIN)) {
		close(fd);
		free(cl);
		return;
	}
	c->clients[slot] = cl;
	on_client(&cl->w, EPOLLIN);
}

/* Out of descriptors (xlb_loop_accept_exhausted): stop listening until
 * the next tick, and say so once. */
static void on_accept(struct xlb_watch *w, uint32_t events)
{
	struct xlb_control *c = (struct xlb_control *)w;
	int fd;

	(void)events;
	while ((fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0)
		client_start(c, fd);
	if (!xlb_loop_accept_exhausted(errno) || xlb_loop_mod(c->loop, &c->w, 0))
		return;
	c->accept_paused = true;
	if (!c->accept_told)
		pr_warn("event=control_accept_paused err=\"%s\" resume=next_tick", strerror(errno));
	c->accept_told = true;
}

/* On the tick: listen again; on_accept pauses it again, quietly, while
 * descriptors are still short. */
static void resume_accept(struct xlb_control *c)
{
	if (!c->accept_paused || xlb_loop_mod(c->loop, &c->w, EPOLLIN))
		return;
	c->accept_paused = false;
	on_accept(&c->w, EPOLLIN);
	if (!c->accept_paused && c->accept_told) {
		c->accept_told = false;
		pr_info("event=control_accept_resumed");
	}
}

void xlb_control_tick(struct xlb_control *c)
{
	struct xlb_err err = { "request not sent in time" };
	struct timespec now;

	resume_accept(c);
	clock_gettime(CLOCK_MONOTONIC, &now);
	for (int i = 0; i < CTL_MAX_CLIENTS; i++) {
		struct client *cl = c->clients[i];
		long ms;

		if (!cl)
			continue;
		ms = (now.tv_sec - cl->since.tv_sec) * 1000 +
		     (now.tv_nsec - cl->since.tv_nsec) / 1000000;
		if (ms >= CTL_RECV_TIMEOUT_MS)
			client_answer(cl, -ETIMEDOUT, &err);
	}
}

int xlb_control_open(const char *path, struct xlb_loop *loop, struct xlb_state *st,
		     xlb_control_changed_fn changed, void *arg, struct xlb_control **out)
{
	struct xlb_control *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	if (strlen(path) >= sizeof(c->path)) {
		free(c);
		return -ENAMETOOLONG;
	}
	*c = (struct xlb_control){ .w = { .fn = on_accept },
				   .loop = loop,
				   .st = st,
				   .changed = changed,
				   .arg = arg };
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->w.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	err = c->w.fd < 0 ? -errno : mkdir_parent(path);
	if (!err)
		err = control_bind(c);
	if (!err && chmod(path, 0600))
		err = -errno;
	if (!err && listen(c->w.fd, 16))
		err = -errno;
	if (!err)
		err = xlb_loop_add(loop, &c->w, EPOLLIN);
	if (err) {
		if (c->w.fd >= 0)
			close(c->w.fd);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

void xlb_control_on_takeover(struct xlb_control *c, xlb_control_takeover_fn fn)
{
	c->takeover = fn;
}

int xlb_control_on_query(struct xlb_control *c, const char *word, xlb_control_query_fn fn,
			 void *arg)
{
	for (int i = 0; i < CTL_MAX_QUERIES; i++) {
		if (c->queries[i].fn)
			continue;
		c->queries[i] = (struct query){ .word = word, .fn = fn, .arg = arg };
		return 0;
	}
	return -ENOSPC;
}

void xlb_control_close(struct xlb_control *c)
{
	if (!c)
		return;
	for (int i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i])
			client_close(c->clients[i]);
	xlb_loop_del(c->loop, &c->w);
	close(c->w.fd);
	unlink(c->path);
	free(c);
}
