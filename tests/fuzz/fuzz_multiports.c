// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for nginx-proxy's VIRTUAL_HOST_MULTIPORTS
 * (xlbd/multiports.h): each input is the variable's text. Beyond the
 * sanitizers (and LeakSanitizer) it traps on a broken promise: an error
 * is one non-empty line and leaves no entries; accepted entries are 1 to
 * XLB_MULTIPORTS_MAX routes with valid, lowercased host names (a regex
 * as written), paths in normal form, sorted with no route twice; and a
 * second parse gives the same entries or the same error. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/hostmap.h"
#include "xlbd/multiports.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

static bool lowercase(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

static void check_rejected(const char *why, const struct xlb_mport *v, size_t n)
{
	CHECK(v == NULL && n == 0);
	CHECK(why[0] != '\0');
	for (const char *c = why; *c; c++)
		CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
}

/* A path in normal form normalizes to itself. */
static void check_path(const char *path)
{
	char again[XLB_PATH_SIZE];
	const char *why;

	CHECK(path[0] == '/');
	CHECK(xlb_path_normalize(path, strlen(path), again, &why) == 0);
	CHECK(strcmp(again, path) == 0);
}

static void check_accepted(const struct xlb_mport *v, size_t n)
{
	CHECK(v != NULL && n >= 1 && n <= XLB_MULTIPORTS_MAX);
	for (size_t i = 0; i < n; i++) {
		CHECK(xlb_valid_host_name(v[i].host));
		CHECK(v[i].host[0] == '~' || lowercase(v[i].host));
		CHECK(strchr(v[i].host, '/') == NULL);
		check_path(v[i].path);
		if (i) {
			int d = strcmp(v[i - 1].host, v[i].host);

			CHECK(d < 0 || (d == 0 && strcmp(v[i - 1].path, v[i].path) < 0));
		}
	}
}

/* An exact-size heap copy, so ASan sees any read past len. */
static char *copy_of(const uint8_t *data, size_t len)
{
	char *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, data, len);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *text = copy_of(data, len), why[320], why2[320];
	struct xlb_mport *v, *v2;
	size_t n, n2;
	int rc = xlb_multiports_parse(text, len, &v, &n, why, sizeof(why));
	int rc2 = xlb_multiports_parse(text, len, &v2, &n2, why2, sizeof(why2));

	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(rc2 == rc);
	if (rc == 0) {
		check_accepted(v, n);
		CHECK(n2 == n && memcmp(v, v2, n * sizeof(*v)) == 0);
	} else {
		check_rejected(why, v, n);
		CHECK(strcmp(why, why2) == 0);
	}
	free(v);
	free(v2);
	free(text);
	return 0;
}
