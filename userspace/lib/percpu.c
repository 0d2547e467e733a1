// SPDX-License-Identifier: GPL-2.0
#include "percpu.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "vg.h"

void xlb_percpu_fold(const uint64_t *percpu, int ncpus, size_t size, void *out)
{
	size_t nwords = size / sizeof(uint64_t);

	for (size_t w = 0; w < nwords; w++) {
		uint64_t sum = 0;

		for (int cpu = 0; cpu < ncpus; cpu++)
			sum += percpu[(size_t)cpu * nwords + w];
		/* out is a struct of u64 members, not an array: copy, not index */
		memcpy((char *)out + w * sizeof(sum), &sum, sizeof(sum));
	}
}

int xlb_percpu_sum(int map_fd, uint32_t key, int ncpus, uint64_t *scratch, void *out, size_t size)
{
	uint64_t *buf = scratch;
	int err = 0;

	if (ncpus <= 0 || !size || size % sizeof(uint64_t))
		return -EINVAL;
	if (!buf)
		buf = calloc(XLB_PERCPU_WORDS(ncpus, size), sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	if (bpf_map_lookup_elem(map_fd, &key, buf)) {
		err = -errno;
	} else {
		/* valgrind does not know per-CPU value sizes */
		XLB_KERNEL_WROTE(buf, XLB_PERCPU_WORDS(ncpus, size) * sizeof(*buf));
		xlb_percpu_fold(buf, ncpus, size, out);
	}
	if (buf != scratch)
		free(buf);
	return err;
}
