/* SPDX-License-Identifier: GPL-2.0 */
/* xlbd's control socket: a root-only unix stream socket taking one
 * request line per connection and answering output lines, then "ok" or
 * "error: <message>" (protocol in the README). */
#ifndef XLB_CONTROL_H
#define XLB_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"

struct xlb_control;

int xlb_control_open(const char *path, struct xlb_control **out);
int xlb_control_fd(const struct xlb_control *c);
/* Serves one pending connection. Returns true when the request changed
 * the state (the caller then re-checks backend links). */
bool xlb_control_serve(struct xlb_control *c, struct xlb_state *st);
void xlb_control_close(struct xlb_control *c);

/* Executes one request line against st. Returns 0, or -errno with the
 * reason in err. *changed tells whether the state changed. */
int xlb_control_exec(struct xlb_state *st, const char *line, bool *changed,
		     struct xlb_err *err);

#endif
