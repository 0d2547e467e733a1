/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The address family values map keys and socket hooks compare against:
 * a BPF object has no libc header to take them from. */
#ifndef XLB_AF_H
#define XLB_AF_H

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

#endif
