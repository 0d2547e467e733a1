/* SPDX-License-Identifier: GPL-2.0 */
/* Restart without refusing a connection: a new xlbd started with
 * --takeover asks the running one, over the control socket, for its proxy
 * listeners. The old one gives up its control socket and metrics port,
 * sends the listening sockets (SCM_RIGHTS), stops accepting and exits once
 * the connections it holds have finished. The listening sockets never
 * close, so connection attempts during the restart wait in their accept
 * queues instead of being refused. */
#ifndef XLB_TAKEOVER_H
#define XLB_TAKEOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"

#define XLB_TAKEOVER_MAX 32
#define XLB_DRAIN_TIMEOUT_MS 30000

struct xlb_handed_listener {
	struct xlb_endpoint ep;
	bool tls;
	int fd;
};

/* New side: asks the xlbd at ctl_path for its listeners and tells it to
 * finish its connections within drain_ms. Returns 0 with *n listeners
 * (fds close-on-exec, owned by the caller), -ECONNREFUSED or -ENOENT when
 * no xlbd answers there, or another -errno (logged). */
int xlb_takeover_request(const char *ctl_path, uint32_t drain_ms, struct xlb_handed_listener *out,
			 size_t max, size_t *n);

/* The listeners a takeover handed over, until the proxy adopts them. */
struct xlb_handed {
	struct xlb_handed_listener l[XLB_TAKEOVER_MAX];
	size_t n;
};

/* New side, at start (--takeover): asks the xlbd at ctl_path for its
 * listeners into *h, just before ours would open, so it serves until
 * then. Nobody running there is not an error (0 with none). Returns 0 or
 * -errno (logged). */
int xlb_takeover_fetch(const char *ctl_path, uint32_t drain_ms, struct xlb_handed *h);
/* The handed-over listening socket for (ep, tls), taken out of h (the
 * caller owns it), or -1. */
int xlb_handed_take(struct xlb_handed *h, const struct xlb_endpoint *ep, bool tls);
/* Closes the handed-over listeners nobody took (this config does not have
 * them): their queued connections are reset with the last descriptor. */
void xlb_handed_close_rest(struct xlb_handed *h);

/* Old side: sends the listeners on the requesting client's socket, one
 * line each, then "ok". Returns 0 or -errno. */
int xlb_takeover_send(int fd, const struct xlb_handed_listener *l, size_t n);

/* The answer's text, pure, for the tests: at most XLB_TAKEOVER_ANSWER_MAX
 * bytes with its NUL. */
#define XLB_TAKEOVER_ANSWER_MAX (XLB_TAKEOVER_MAX * (XLB_EP_STRLEN + 16) + 64)
/* Writes the answer for l[0..n): "listener http|tls ADDR:PORT" lines, then
 * "ok". Returns its length (without the NUL), or -E2BIG. */
int xlb_takeover_format_answer(const struct xlb_handed_listener *l, size_t n, char *text,
			       size_t cap);
/* Whether the answer read so far (NUL-terminated) is complete: it has its
 * "ok" or an "error: " line. */
bool xlb_takeover_answer_ended(const char *text);
/* Parses an answer (text is cut into lines), its listener lines one per
 * descriptor of fds[0..nfds), in order. Returns 0 with *n listeners in
 * out, -EBUSY when the old xlbd refused (*reason points at its message in
 * text), or -EPROTO for anything else. */
int xlb_takeover_parse_answer(char *text, const int *fds, size_t nfds,
			      struct xlb_handed_listener *out, size_t *n, const char **reason);

#endif
