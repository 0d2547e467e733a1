// SPDX-License-Identifier: GPL-2.0
#include "handover.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/loop.h"

void xlb_handover_init(struct xlb_handover *h, const struct xlb_handover_ops *ops, void *arg)
{
	*h = (struct xlb_handover){ .ops = ops, .arg = arg, .fd = -1 };
}

int xlb_handover_request(struct xlb_handover *h, int fd, uint32_t drain_ms, struct xlb_err *err)
{
	if (h->fd >= 0 || h->draining) {
		snprintf(err->msg, sizeof(err->msg), "a takeover is already under way");
		return -EBUSY;
	}
	h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (h->fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "dup: %s", strerror(errno));
		return -errno;
	}
	h->drain_ms = drain_ms;
	return 0;
}

/* Everything the new xlbd binds or owns goes first, then the listeners
 * are sent. */
static void hand_over(struct xlb_handover *h)
{
	struct xlb_handed_listener l[XLB_TAKEOVER_MAX];
	size_t n = h->ops->listeners(h->arg, l, XLB_TAKEOVER_MAX);
	int err;

	h->ops->release(h->arg);
	err = xlb_takeover_send(h->fd, l, n);
	close(h->fd);
	h->fd = -1;
	h->ops->stop_accepting(h->arg);
	h->draining = true;
	h->drain_end_ms = xlb_loop_now_ms() + h->drain_ms;
	if (err)
		pr_err("event=handover_failed listeners=%zu err=\"%s\"", n, strerror(-err));
	else
		pr_info("event=handover listeners=%zu open_conns=%zu drain_ms=%u", n,
			h->ops->open_conns(h->arg), h->drain_ms);
}

static bool drained(const struct xlb_handover *h)
{
	size_t open = h->ops->open_conns(h->arg);

	if (open && xlb_loop_now_ms() < h->drain_end_ms)
		return false;
	pr_info("event=drained open_conns=%zu%s", open, open ? " reason=drain_timeout" : "");
	return true;
}

bool xlb_handover_done(struct xlb_handover *h)
{
	if (h->fd >= 0)
		hand_over(h);
	return h->draining && drained(h);
}

bool xlb_handover_draining(const struct xlb_handover *h)
{
	return h->draining;
}

void xlb_handover_close(struct xlb_handover *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
}
