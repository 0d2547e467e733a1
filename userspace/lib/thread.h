/* SPDX-License-Identifier: GPL-2.0 */
/* Helper threads of a daemon (the log writer, TLS handshake workers, the
 * ACME client): started the one way that keeps them harmless. */
#ifndef XLB_THREAD_H
#define XLB_THREAD_H

#include <pthread.h>
#include <stdbool.h>

/* Starts fn(arg) on a new thread that
 *  - takes no signal: the daemon reads its own from a signalfd, which
 *    works only while every thread blocks them (a SIGTERM delivered to a
 *    helper thread would end the process at once);
 *  - holds no capability: capabilities are a thread's own, and one
 *    started before the daemon drops its own would keep all of root's.
 *    The drop is done before this returns (so it cannot race with a
 *    seccomp filter loaded later); a thread that cannot drop them runs
 *    nothing of fn, and this returns the error.
 * name (at most 15 characters) shows in top -H. Returns 0 or -errno. */
int xlb_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg);

/* While keep is set, new threads keep CAP_SETUID and CAP_SETGID: a user
 * switch ahead (setresuid and friends) is carried out by glibc in every
 * thread, and it aborts the process when one thread fails it; the switch
 * itself then clears every capability those threads have left. */
void xlb_thread_keep_setid(bool keep);

#endif
