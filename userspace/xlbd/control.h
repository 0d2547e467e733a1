/* SPDX-License-Identifier: GPL-2.0 */
/* xlbd's control socket: a root-only unix stream socket taking one
 * request line per connection and answering output lines, then "ok" or
 * "error: <message>" (protocol in the README). */
#ifndef XLB_CONTROL_H
#define XLB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/loop.h"
#include "control_requests.h"
#include "state.h"

struct xlb_control;

/* Called after a request changed the state (xlbd then re-checks links). */
typedef void (*xlb_control_changed_fn)(void *arg);

/* Listens on path (0600) and serves requests from loop: each client is
 * its own non-blocking watch, so a slow or silent client never stalls the
 * loop; one that has not sent its line within a second is dropped by
 * xlb_control_tick. */
int xlb_control_open(const char *path, struct xlb_loop *loop, struct xlb_state *st,
		     xlb_control_changed_fn changed, void *arg, struct xlb_control **out);
void xlb_control_tick(struct xlb_control *c);

/* "takeover drain_ms=N" from a new xlbd (takeover.h): fn gets the
 * client's socket, to dup and answer on later, and returns 0, or -errno
 * with the reason in err (then the control socket answers the error). */
typedef int (*xlb_control_takeover_fn)(void *arg, int fd, uint32_t drain_ms, struct xlb_err *err);
void xlb_control_on_takeover(struct xlb_control *c, xlb_control_takeover_fn fn);

/* A read-only request of one word (e.g. "certs") answered by the owner of
 * what it asks about: fn sets *output to the answer's lines (malloc'd,
 * each ending in a newline; the control socket frees it) and returns 0,
 * or returns -errno with the reason in err. -ENOSPC when the table of
 * queries is full. */
typedef int (*xlb_control_query_fn)(void *arg, char **output, struct xlb_err *err);
int xlb_control_on_query(struct xlb_control *c, const char *word, xlb_control_query_fn fn,
			 void *arg);
void xlb_control_close(struct xlb_control *c);

#endif
