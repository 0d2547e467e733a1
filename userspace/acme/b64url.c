// SPDX-License-Identifier: GPL-2.0
#include "b64url.h"

#include <errno.h>
#include <stdlib.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int xlb_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_len)
{
	size_t need = XLB_B64URL_LEN(n), o = 0, i = 0;

	if (need >= out_len || need > INT32_MAX)
		return -ENOSPC;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i == 1) {
		out[o++] = alphabet[in[i] >> 2];
		out[o++] = alphabet[(in[i] & 3) << 4];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];

		out[o++] = alphabet[v >> 10];
		out[o++] = alphabet[(v >> 4) & 63];
		out[o++] = alphabet[(v & 15) << 2];
	}
	out[o] = '\0';
	return (int)o;
}

char *xlb_b64url_encode_alloc(const uint8_t *in, size_t n)
{
	size_t len = XLB_B64URL_LEN(n) + 1;
	char *out = malloc(len);

	if (out && xlb_b64url_encode(in, n, out, len) < 0) {
		free(out);
		out = NULL;
	}
	return out;
}

static int sextet(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int xlb_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_len)
{
	size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0), o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* one character left over carries 6 bits: not even one byte */
	if (n % 4 == 1 || n > INT32_MAX)
		return -EINVAL;
	if (need > out_len)
		return -ENOSPC;
	for (size_t i = 0; i < n; i++) {
		int v = sextet(in[i]);

		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* the bits past the last byte must be zero */
	if (acc)
		return -EINVAL;
	return (int)o;
}
