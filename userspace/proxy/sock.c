// SPDX-License-Identifier: GPL-2.0
/* Socket and pipe chores of a proxied connection (sock.h). */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

/* recv's discard size; 16 of them at most per call */
#define DRAIN_BYTES (64 * 1024)

void xlb_fd_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void xlb_sock_close(int *fd, bool reset)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (*fd < 0)
		return;
	if (reset)
		setsockopt(*fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	xlb_fd_close(fd);
}

void xlb_sock_drain(int fd)
{
	for (int i = 0; i < 16; i++) {
		if (recv(fd, NULL, DRAIN_BYTES, MSG_TRUNC | MSG_DONTWAIT) <= 0)
			return;
	}
}

void xlb_sock_bound_rcvbuf(int fd)
{
	int bytes = XLB_RCV_BUF_BYTES;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

int xlb_pipe_open(int *rd, int *wr)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC))
		return -errno;
	*rd = fds[0];
	*wr = fds[1];
	fcntl(*wr, F_SETPIPE_SZ, XLB_PIPE_BYTES);
	return 0;
}

size_t xlb_proxy_v2_header(const struct xlb_flow_key *flow, uint8_t *out)
{
	static const uint8_t sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
					 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
	bool v4 = flow->family == AF_INET;
	size_t alen = v4 ? 4 : 16;

	memcpy(out, sig, sizeof(sig));
	out[12] = 0x21;		    /* version 2, PROXY */
	out[13] = v4 ? 0x11 : 0x21; /* TCP over IPv4 / IPv6 */
	out[14] = 0;
	out[15] = (uint8_t)(2 * alen + 4);
	memcpy(out + 16, flow->src.v6, alen);
	memcpy(out + 16 + alen, flow->dst.v6, alen);
	memcpy(out + 16 + 2 * alen, &flow->sport, 2);
	memcpy(out + 18 + 2 * alen, &flow->dport, 2);
	return 16 + 2 * alen + 4;
}

void xlb_log_connect_failed(const char *client, const char *host, uint32_t be_id, int err,
			    bool retry)
{
	pr_info_rl("event=proxy_connect_failed client=%s host=%s backend_id=%u err=\"%s\" retry=%s",
		   client, host, be_id, strerror(-err), retry ? "yes" : "no");
}
