/* SPDX-License-Identifier: GPL-2.0 */
/* The system calls xlbd may make once it is set up: an allow-list in a
 * seccomp filter (libseccomp), over every thread of the process. A call
 * not on the list fails with EPERM, so a rare path that was missed fails
 * softly with its own logged error; the few calls on the deny-list, which
 * only someone who took over the process would make, kill the process.
 * docs/security.md says why, and how it compares with its peers. */
#ifndef XLB_SECCOMP_H
#define XLB_SECCOMP_H

#include <stdbool.h>

/* Installs the filter on every thread of the process, and on every thread
 * it starts later. Returns how many system calls it allows, or a negative
 * errno (the kernel or libseccomp refused; the process is as before). */
int xlb_seccomp_install(void);

/* The daemon's boundary: installs the filter when enabled and logs one line
 * either way (event=seccomp mode=filter syscalls=N, or mode=off, also
 * where seccomp filters are not supported, as under valgrind). Returns 0,
 * or the negative errno of a failed install, logged. */
int xlb_seccomp_enter(bool enabled);

#endif
