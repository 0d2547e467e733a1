// SPDX-License-Identifier: GPL-2.0
/* Proves xlbd's seccomp filter live, from outside the daemon: installs the
 * same filter (userspace/xlbd/seccomp.c) and then makes one kind of call,
 * named by its argument, printing one key=value line on what happened.
 *
 *   exec      execve("/bin/true"): on the deny-list, so the kernel kills
 *             the probe with SIGSYS before the line (exit status 159)
 *   unlisted  getpgid(), which xlbd never calls: fails with EPERM
 *   socket    socket(), bind() and listen() on 127.0.0.1: still work
 *
 * Exit status 0 when the call did what the filter says, 1 when not, 2 on a
 * usage error or when the filter could not be installed. Built by the
 * Makefile as BUILD/seccomp_probe; tests/bats/privilege.bats runs it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "xlbd/seccomp.h"

static int try_exec(void)
{
	char *const argv[] = { "/bin/true", NULL };

	execve(argv[0], argv, NULL);
	printf("probe=exec result=returned err=\"%s\"\n", strerror(errno));
	return 1;
}

static int try_unlisted(void)
{
	long ret = syscall(SYS_getpgid, 0);
	int err = ret < 0 ? errno : 0;

	printf("probe=unlisted ret=%ld err=\"%s\"\n", ret, err ? strerror(err) : "none");
	return err == EPERM ? 0 : 1;
}

static int try_socket(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) || listen(fd, 1))
		err = errno;
	printf("probe=socket err=\"%s\"\n", err ? strerror(err) : "none");
	if (fd >= 0)
		close(fd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	int n;

	if (argc != 2 ||
	    (strcmp(argv[1], "exec") && strcmp(argv[1], "unlisted") && strcmp(argv[1], "socket"))) {
		fprintf(stderr, "usage: seccomp_probe exec|unlisted|socket\n");
		return 2;
	}
	n = xlb_seccomp_install();
	if (n < 0) {
		printf("probe=install err=\"%s\"\n", strerror(-n));
		return 2;
	}
	printf("probe=install syscalls=%d\n", n);
	fflush(stdout);
	if (!strcmp(argv[1], "exec"))
		return try_exec();
	if (!strcmp(argv[1], "unlisted"))
		return try_unlisted();
	return try_socket();
}
