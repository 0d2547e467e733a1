/* SPDX-License-Identifier: GPL-2.0 */
/* The old side of a takeover (takeover.h): a new xlbd's request is taken
 * from the control socket and answered after the loop turn it came in (so
 * the control client that sent it is no longer being served); from then
 * on this xlbd only serves the connections it has open, until they end
 * or the drain time is up. What is given up and counted belongs to the
 * daemon, which says how through the ops. */
#ifndef XLB_HANDOVER_H
#define XLB_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "takeover.h"

struct xlb_handover_ops {
	/* The listeners still accepting, to send. */
	size_t (*listeners)(void *arg, struct xlb_handed_listener *out, size_t max);
	/* Gives up everything the new xlbd binds or owns (control socket,
	 * metrics port, Docker, health checks): from here the data path
	 * and the maps are the new one's. */
	void (*release)(void *arg);
	/* Closes the listeners sent; open connections go on. */
	void (*stop_accepting)(void *arg);
	/* Connections still open. */
	size_t (*open_conns)(void *arg);
};

struct xlb_handover {
	const struct xlb_handover_ops *ops;
	void *arg;
	int fd;		   /* the new xlbd's socket, until answered; -1: none */
	uint32_t drain_ms; /* what it gives us to finish our connections */
	bool draining;
	uint64_t drain_end_ms;
};

void xlb_handover_init(struct xlb_handover *h, const struct xlb_handover_ops *ops, void *arg);
/* A new xlbd's "takeover drain_ms=N" on the control client socket fd
 * (dup'ed here). Returns 0, or -errno with the reason in err. */
int xlb_handover_request(struct xlb_handover *h, int fd, uint32_t drain_ms, struct xlb_err *err);
/* After every loop turn: sends the listeners when asked to, and tells
 * whether the drain is over (then the daemon stops). */
bool xlb_handover_done(struct xlb_handover *h);
/* Handed over: the maps and links are no longer this xlbd's to change. */
bool xlb_handover_draining(const struct xlb_handover *h);
void xlb_handover_close(struct xlb_handover *h);

#endif
