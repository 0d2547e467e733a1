/* SPDX-License-Identifier: GPL-2.0 */
/* Socket-level balancing for local clients (bpf/sock_lb.bpf.c): the
 * cgroup socket hooks, loaded over xlbd's pinned maps and attached to one
 * cgroup v2 directory through links. The links are this process's: they
 * go when it exits, crashed or not, so nothing stays attached without an
 * xlbd to keep the maps in line. */
#ifndef XLB_SOCK_LB_H
#define XLB_SOCK_LB_H

#include <stddef.h>

struct xlb_sock_lb;

/* The cgroup v2 mount point, from /proc/self/mountinfo, into buf.
 * Returns 0, -ENOENT when there is none, or -errno. */
int xlb_sock_lb_default_cgroup(char *buf, size_t len);

/* Loads the hooks over the maps pinned in pin_dir (xlbd's, loaded first)
 * and attaches every one to the cgroup directory cgroup; logs
 * event=socket_lb_attached. Needs CAP_BPF, CAP_NET_ADMIN (and
 * CAP_SYS_ADMIN for what libbpf probes): call before the capability drop.
 * Returns 0 or -errno (not logged: the caller says what it does next). */
int xlb_sock_lb_attach(const char *pin_dir, const char *cgroup, struct xlb_sock_lb **out);

/* "on cgroup=PATH programs=N" for the control socket's socket-lb query. */
int xlb_sock_lb_describe(const struct xlb_sock_lb *s, char *buf, size_t len);

/* Detaches (closes the links) and frees; NULL is fine. */
void xlb_sock_lb_free(struct xlb_sock_lb *s);

#endif
