/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The Internet checksum (RFC 1071) computed from scratch, byte by byte,
 * the slow obvious way: the reference the incremental updates of the
 * data path are checked against. Shares no code with bpf/csum.h. */
#ifndef XLB_TEST_INET_CSUM_H
#define XLB_TEST_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Adds bytes as big-endian 16-bit words; an odd last byte is padded with
 * a zero byte. The sum is kept wide and folded only at the end. */
static inline uint64_t inet_sum(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint64_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint64_t)p[n - 1] << 8;
	return sum;
}

static inline uint16_t inet_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The value to store in a checksum field that held zero while summing. */
static inline uint16_t inet_csum_value(uint64_t sum)
{
	return (uint16_t)~inet_fold(sum);
}

/* Pseudo-header sum of TCP/UDP/ICMPv6 (RFC 793, RFC 8200 8.1). Addresses
 * are raw network-order bytes: 4 for IPv4, 16 for IPv6. */
static inline uint64_t inet_pseudo_sum(int family, const uint8_t *src, const uint8_t *dst,
				       uint8_t proto, uint32_t l4_len)
{
	size_t alen = family == AF_INET ? 4 : 16;
	uint64_t sum = 0;

	sum = inet_sum(sum, src, alen);
	sum = inet_sum(sum, dst, alen);
	sum += proto;
	sum += l4_len >> 16;
	sum += l4_len & 0xffff;
	return sum;
}

#endif
