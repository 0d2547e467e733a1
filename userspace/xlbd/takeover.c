// SPDX-License-Identifier: GPL-2.0
#include "takeover.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

/* The old xlbd answers from its event loop: a busy one still answers
 * within milliseconds; this bounds a wedged one. */
#define TAKEOVER_REPLY_MS 5000

/* ---- old side --------------------------------------------------------------- */

int xlb_takeover_format_answer(const struct xlb_handed_listener *l, size_t n, char *text,
			       size_t cap)
{
	char ep[XLB_EP_STRLEN];
	size_t len = 0;
	int k;

	for (size_t i = 0; i < n; i++) {
		k = snprintf(text + len, cap - len, "listener %s %s\n", l[i].tls ? "tls" : "http",
			     xlb_format_endpoint(&l[i].ep, ep, sizeof(ep)));
		if (k < 0 || (size_t)k >= cap - len)
			return -E2BIG;
		len += (size_t)k;
	}
	k = snprintf(text + len, cap - len, "ok\n");
	if (k < 0 || (size_t)k >= cap - len)
		return -E2BIG;
	return (int)(len + (size_t)k);
}

int xlb_takeover_send(int fd, const struct xlb_handed_listener *l, size_t n)
{
	char text[XLB_TAKEOVER_ANSWER_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int) * XLB_TAKEOVER_MAX)];
		struct cmsghdr align;
	} ctl = {};
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int len;

	if (n > XLB_TAKEOVER_MAX)
		return -E2BIG;
	len = xlb_takeover_format_answer(l, n, text, sizeof(text));
	if (len < 0)
		return len;
	iov = (struct iovec){ text, (size_t)len };
	if (n) {
		struct cmsghdr *cm;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		for (size_t i = 0; i < n; i++)
			memcpy(CMSG_DATA(cm) + i * sizeof(int), &l[i].fd, sizeof(int));
	}
	/* the whole answer fits a fresh unix socket's buffer: one send */
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)len)
		return -errno ? -errno : -EIO;
	return 0;
}

/* ---- new side --------------------------------------------------------------- */

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* An error line counts once it has ended: the reason is logged whole. */
bool xlb_takeover_answer_ended(const char *text)
{
	const char *err = strstr(text, "error: ");

	return strstr(text, "ok\n") || (err && strchr(err, '\n'));
}

/* Reads the answer to the end, keeping every descriptor it carries. */
static int read_answer(int fd, char *text, size_t cap, int *fds, size_t max, size_t *nfds)
{
	size_t len = 0;

	*nfds = 0;
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * XLB_TAKEOVER_MAX)];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { text + len, cap - 1 - len };
		struct msghdr msg = { .msg_iov = &iov,
				      .msg_iovlen = 1,
				      .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf) };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, TAKEOVER_REPLY_MS) == 0)
			return -ETIMEDOUT;
		r = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (r < 0)
			return -errno;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			size_t k;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int got;

				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*nfds < max)
					fds[(*nfds)++] = got;
				else
					close(got);
			}
		}
		len += (size_t)r;
		text[len] = '\0';
		if (r == 0 || xlb_takeover_answer_ended(text) || len == cap - 1)
			return 0;
	}
}

/* One "listener http|tls ADDR:PORT" line, word by word, and nothing more:
 * a kind this xlbd does not know, or words it would skip, are not taken
 * for something else. */
static int parse_listener(char *line, struct xlb_handed_listener *l)
{
	static const char space[] = " \t\r\v\f";
	char *save = NULL, *w[4] = { NULL };
	const char *why;
	int n = 0;

	for (char *t = strtok_r(line, space, &save); t && n < 4; t = strtok_r(NULL, space, &save))
		w[n++] = t;
	if (n != 3 || strcmp(w[0], "listener") != 0 ||
	    (strcmp(w[1], "http") != 0 && strcmp(w[1], "tls") != 0) ||
	    xlb_parse_endpoint(w[2], XLB_EP_NO_PROTO, &l->ep, &why))
		return -EPROTO;
	l->tls = strcmp(w[1], "tls") == 0;
	return 0;
}

int xlb_takeover_parse_answer(char *text, const int *fds, size_t nfds,
			      struct xlb_handed_listener *out, size_t *n, const char **reason)
{
	char *save = NULL, *line;
	size_t i = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strcmp(line, "ok") == 0)
			return i == nfds ? (*n = i, 0) : -EPROTO;
		if (strncmp(line, "error: ", 7) == 0) {
			*reason = line + 7;
			return -EBUSY;
		}
		if (i == nfds || parse_listener(line, &out[i]))
			return -EPROTO;
		out[i].fd = fds[i];
		i++;
	}
	return -EPROTO;
}

int xlb_takeover_request(const char *ctl_path, uint32_t drain_ms, struct xlb_handed_listener *out,
			 size_t max, size_t *n)
{
	char text[XLB_TAKEOVER_ANSWER_MAX], req[64];
	const char *reason = "";
	int fds[XLB_TAKEOVER_MAX];
	size_t nfds = 0;
	int fd, err;

	*n = 0;
	fd = ctl_connect(ctl_path);
	if (fd < 0)
		return fd;
	snprintf(req, sizeof(req), "takeover drain_ms=%u\n", drain_ms);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		err = -errno;
	else
		err = read_answer(fd, text, sizeof(text), fds,
				  max < XLB_TAKEOVER_MAX ? max : XLB_TAKEOVER_MAX, &nfds);
	close(fd);
	if (!err)
		err = xlb_takeover_parse_answer(text, fds, nfds, out, n, &reason);
	if (err == -EBUSY)
		pr_err("takeover: the running xlbd refused: %s", reason);
	if (err) {
		close_fds(fds, nfds);
		*n = 0;
		if (err != -EBUSY)
			pr_err("takeover: %s: %s", ctl_path,
			       err == -EPROTO ? "malformed answer" : strerror(-err));
	}
	return err;
}

int xlb_takeover_fetch(const char *ctl_path, uint32_t drain_ms, struct xlb_handed *h)
{
	int err = xlb_takeover_request(ctl_path, drain_ms, h->l, XLB_TAKEOVER_MAX, &h->n);

	if (err == -ENOENT || err == -ECONNREFUSED) {
		pr_info("event=takeover_none control=%s", ctl_path);
		return 0;
	}
	if (!err)
		pr_info("event=takeover listeners=%zu drain_ms=%u", h->n, drain_ms);
	return err;
}

int xlb_handed_take(struct xlb_handed *h, const struct xlb_endpoint *ep, bool tls)
{
	for (size_t i = 0; i < h->n; i++) {
		struct xlb_handed_listener *l = &h->l[i];
		int fd = l->fd;

		if (fd >= 0 && l->tls == tls && xlb_endpoint_equal(&l->ep, ep)) {
			l->fd = -1;
			return fd;
		}
	}
	return -1;
}

void xlb_handed_close_rest(struct xlb_handed *h)
{
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < h->n; i++) {
		if (h->l[i].fd < 0)
			continue;
		pr_warn("event=takeover_listener_closed addr=%s reason=\"not configured here\"",
			xlb_format_endpoint(&h->l[i].ep, buf, sizeof(buf)));
		close(h->l[i].fd);
		h->l[i].fd = -1;
	}
	h->n = 0;
}
