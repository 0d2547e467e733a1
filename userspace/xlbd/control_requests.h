/* SPDX-License-Identifier: GPL-2.0 */
/* The control protocol's requests, one line each (protocol in
 * docs/xlbctl.md), without the socket they come on (control.h). */
#ifndef XLB_CONTROL_REQUESTS_H
#define XLB_CONTROL_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "state.h"

/* The longest request line, its newline included. */
#define XLB_CONTROL_LINE_MAX 512

/* Executes one request line against st. Returns 0, or -errno with the
 * reason in err. *changed tells whether the state changed. */
int xlb_control_exec(struct xlb_state *st, const char *line, bool *changed, struct xlb_err *err);

/* Parses a takeover line: 0, -ENOENT (another request) or -EINVAL. */
int xlb_control_parse_takeover(const char *line, uint32_t *drain_ms, struct xlb_err *err);

#endif
