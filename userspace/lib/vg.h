/* SPDX-License-Identifier: GPL-2.0 */
/* What valgrind cannot see the kernel do. valgrind 3.19 does not model
 * bpf()'s batch commands nor per-CPU value sizes: every byte the kernel
 * writes through them looks undefined to it, and each /metrics scrape
 * would report thousands of false errors. Marking those buffers keeps its
 * undefined-value check on for everything else (tests/bats/leaks.bats).
 * Native runs execute a few no-op instructions; builds without valgrind's
 * header (the compose image) get nothing at all. */
#ifndef XLB_VG_H
#define XLB_VG_H

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define XLB_KERNEL_WROTE(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif

#ifndef XLB_KERNEL_WROTE
#define XLB_KERNEL_WROTE(p, n) ((void)(p), (void)(n))
#endif

#endif
