/* SPDX-License-Identifier: GPL-2.0 */
/* The socket and pipe chores of a proxied connection, shared by the
 * connection-level proxy (proxy.c) and the per-request engine
 * (exchange.c): how big a pipe and a receive buffer are, how a
 * descriptor, a pipe or a socket is opened, drained and closed, and what
 * goes to a backend before the client's bytes (a PROXY v2 header). */
#ifndef XLB_PROXY_SOCK_H
#define XLB_PROXY_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlb/map_types.h"

/* Pipe capacity per direction: larger pipes mean fewer splice calls per
 * byte (measured: 64 KiB -> 256 KiB cut xlbd's CPU per GB), and bound the
 * memory a slow reader can pin: 2 pipes per connection. */
#define XLB_PIPE_BYTES (256 * 1024)

/* The receive buffers of both proxied sockets are fixed (SO_RCVBUF, which
 * also turns autotuning off): with this machine's autotuning maximum
 * (32 MiB), the socket facing the fast side queued tens of MB behind a
 * slow reader (measured; TCP_WINDOW_CLAMP alone did not hold, autotuning
 * raises the clamp again). 1 MiB (the kernel doubles it) still keeps the
 * pipe full at full speed on a host-local path. */
#define XLB_RCV_BUF_BYTES (1 << 20)

/* Closes *fd if open and marks it closed (-1). */
void xlb_fd_close(int *fd);
/* Closes a socket, with an RST instead of a FIN when reset. */
void xlb_sock_close(int *fd, bool reset);
/* Discards what a socket has queued (bounded work), so that closing it
 * sends a FIN rather than an RST and an answer already written reaches
 * the client. */
void xlb_sock_drain(int fd);
/* Fixes a socket's receive buffer at XLB_RCV_BUF_BYTES. */
void xlb_sock_bound_rcvbuf(int fd);
/* A non-blocking pipe of XLB_PIPE_BYTES (best effort: unprivileged
 * limits may refuse, 64 KiB still works): 0, or -errno. */
int xlb_pipe_open(int *rd, int *wr);

/* The longest PROXY protocol v2 header written here (TCP over IPv6). */
#define XLB_PROXY_V2_MAX (16 + 36)
/* Writes the PROXY protocol v2 header (haproxy's spec, section 2.2) for
 * flow: the client's address and the one it connected to, which the
 * backend reads before any byte of the client's. Returns its length. */
size_t xlb_proxy_v2_header(const struct xlb_flow_key *flow, uint8_t *out);
/* The one log line of a failed backend connect. */
void xlb_log_connect_failed(const char *client, const char *host, uint32_t be_id, int err,
			    bool retry);

#endif
