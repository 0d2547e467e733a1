/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* TAP output for the BPF tests: "ok K - name" / "not ok K - name", each
 * failure followed by "# " lines saying what differed. A case collects its
 * diagnostics in a struct diag and prints them after its result line. */
#ifndef XLB_TEST_TAP_H
#define XLB_TEST_TAP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DIAG_LEN 4096

struct diag {
	char text[DIAG_LEN];
	size_t used;
	int failed;
};

/* Records one failed check: a "# " line. */
static inline __attribute__((format(printf, 2, 3))) void diag_fail(struct diag *d, const char *fmt,
								   ...)
{
	va_list ap;
	int n;

	d->failed = 1;
	if (d->used + 3 >= sizeof(d->text))
		return;
	d->used += (size_t)snprintf(d->text + d->used, sizeof(d->text) - d->used, "# ");
	va_start(ap, fmt);
	n = vsnprintf(d->text + d->used, sizeof(d->text) - d->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->used += (size_t)n;
	if (d->used + 1 < sizeof(d->text))
		d->text[d->used++] = '\n';
	else
		d->used = sizeof(d->text) - 1;
	d->text[d->used] = '\0';
}

/* Compares two frames byte for byte and reports the first difference. */
static inline void diag_compare_bytes(struct diag *d, const uint8_t *want, size_t want_len,
				      const uint8_t *got, size_t got_len)
{
	size_t n = want_len < got_len ? want_len : got_len;

	for (size_t i = 0; i < n; i++) {
		if (want[i] != got[i]) {
			diag_fail(
				d,
				"first differing byte at offset %zu: expected 0x%02x, actual 0x%02x",
				i, want[i], got[i]);
			break;
		}
	}
	if (want_len != got_len)
		diag_fail(d, "frame length: expected %zu, actual %zu", want_len, got_len);
}

static inline void tap_plan(int n)
{
	printf("1..%d\n", n);
}

static inline void tap_result(int num, const char *name, const struct diag *d)
{
	printf("%sok %d - %s\n", d->failed ? "not " : "", num, name);
	if (d->failed)
		fputs(d->text, stdout);
	fflush(stdout);
}

#endif
