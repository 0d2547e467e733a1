/* SPDX-License-Identifier: GPL-2.0 */
/* One element of a PERCPU_ARRAY, summed over the CPUs. Every per-CPU
 * value xlb keeps (xlb_counters, xlb_reason_count, xlb_trace_stats) is a
 * struct of u64 counters only: a lookup returns one copy per possible CPU,
 * each rounded up to 8 bytes, which for such a struct is its own size, so
 * the sum is word by word. xlbd's /metrics and xlbctl both read them so. */
#ifndef XLB_PERCPU_H
#define XLB_PERCPU_H

#include <stddef.h>
#include <stdint.h>

/* The words of scratch that reading a value of size bytes takes. */
#define XLB_PERCPU_WORDS(ncpus, size) ((size_t)(ncpus) * ((size) / sizeof(uint64_t)))

/* Sums ncpus consecutive copies of a size-byte value (a multiple of 8),
 * as a lookup returns them, into out. */
void xlb_percpu_fold(const uint64_t *percpu, int ncpus, size_t size, void *out);

/* Reads element key of the per-CPU array map_fd and sums it over ncpus
 * (libbpf_num_possible_cpus()) into out, size bytes. scratch holds
 * XLB_PERCPU_WORDS(ncpus, size) words, so that a caller reading many
 * elements allocates once; NULL has one allocated for this read. Prints
 * nothing (the caller knows the map's name). Returns 0 or -errno: -EINVAL
 * for a size that is not a multiple of 8, -ENOMEM, or the lookup's
 * (-ENOENT for a key past the end); out is left as it was on error. */
int xlb_percpu_sum(int map_fd, uint32_t key, int ncpus, uint64_t *scratch, void *out, size_t size);

#endif
