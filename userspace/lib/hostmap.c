// SPDX-License-Identifier: GPL-2.0
/* Host names and the host map. The map is one array kept sorted by
 * (kind, name): exact names first, then leading wildcards stored by their
 * suffix ("*.api.app.dev" as "api.app.dev"), then trailing wildcards by
 * their prefix ("api.app.*" as "api.app"). A lookup is a binary search
 * for the exact name; then one per dot of the host, left to right, for
 * the suffix after that dot (the first found is the longest leading
 * wildcard); then one per dot, right to left, for the prefix before it
 * (the longest trailing wildcard): nginx's order, which nginx-proxy's
 * users rely on. That is O(labels * log n) with no allocation, and the
 * array is small and rebuilt rarely, so inserting by memmove is fine. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hostmap.h"

enum host_kind { HOST_EXACT, HOST_WILDCARD, HOST_TRAILING };

struct xlb_host_entry {
	char *name; /* lowercased; a wildcard without its "*." or ".*" */
	size_t len;
	enum host_kind kind;
	uint32_t value;
};

/* ---- host name syntax ----------------------------------------------------- */

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

/* One RFC 1123 label: 1..63 of [A-Za-z0-9-], no '-' at either end. */
static bool valid_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_label_char(s[i]))
			return false;
	return true;
}

static bool valid_host_name(const char *name, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > XLB_HOSTNAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '.')
			continue;
		if (!valid_label(name + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

int xlb_host_normalize(const char *name, size_t len, char *out, size_t out_len)
{
	if (!valid_host_name(name, len))
		return -EINVAL;
	if (out_len <= len)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++)
		out[i] = ascii_lower(name[i]);
	out[len] = '\0';
	return (int)len;
}

/* ---- route path prefixes ------------------------------------------------- */

/* One segment between slashes: not empty, ".", or "..". */
static const char *bad_segment(const char *seg, size_t len)
{
	if (len == 0)
		return "has an empty segment ('//')";
	if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
		return "has a '.' or '..' segment";
	return NULL;
}

int xlb_path_normalize(const char *path, size_t len, char *out, const char **why)
{
	size_t start = 1;

	*why = NULL;
	if (len == 0 || path[0] != '/')
		*why = "does not start with '/'";
	else if (len > XLB_PATH_MAX)
		*why = "is longer than 127 characters";
	while (len > 1 && path[len - 1] == '/' && !*why)
		len--; /* "/api/" is "/api" */
	for (size_t i = 1; i <= len && !*why && len > 1; i++) {
		unsigned char c = i < len ? (unsigned char)path[i] : '/';

		if (c <= ' ' || c >= 0x7f)
			*why = "has a space or control character";
		else if (c == '?' || c == '#')
			*why = "has '?' or '#' (a prefix is a path, no query)";
		else if (c == '/') {
			*why = bad_segment(path + start, i - start);
			start = i + 1;
		}
	}
	if (*why)
		return -EINVAL;
	memcpy(out, path, len);
	out[len] = '\0';
	return 0;
}

int xlb_path_match(const char *prefix, size_t plen, const char *path, size_t len)
{
	if (plen <= 1)
		return 0; /* "/" */
	if (len < plen || memcmp(prefix, path, plen) != 0)
		return -1;
	if (len > plen && path[plen] != '/' && path[plen] != '?' && path[plen] != '#')
		return -1;
	return (int)plen;
}

/* ---- the sorted array ------------------------------------------------------ */

/* Orders entries by kind, then by name bytes, shorter first on a tie. */
static int entry_cmp(const struct xlb_host_entry *e, enum host_kind kind, const char *name,
		     size_t len)
{
	int c;

	if (e->kind != kind)
		return e->kind < kind ? -1 : 1;
	c = memcmp(e->name, name, e->len < len ? e->len : len);
	if (c)
		return c;
	return e->len < len ? -1 : e->len > len;
}

/* Binary search for (kind, name[0..len)), name lowercased. Returns true when
 * found; *at is its index, or else where it would be inserted. */
static bool find_entry(const struct xlb_hostmap *m, enum host_kind kind, const char *name,
		       size_t len, size_t *at)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = entry_cmp(&m->entries[mid], kind, name, len);

		if (c == 0) {
			*at = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return false;
}

static int grow_entries(struct xlb_hostmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct xlb_host_entry *e;

	if (m->n < m->cap)
		return 0;
	e = realloc(m->entries, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	m->entries = e;
	m->cap = cap;
	return 0;
}

static int insert_entry(struct xlb_hostmap *m, size_t at, enum host_kind kind, const char *name,
			size_t len, uint32_t value)
{
	char *copy;
	int err;

	err = grow_entries(m);
	if (err)
		return err;
	copy = strndup(name, len);
	if (!copy)
		return -ENOMEM;
	memmove(&m->entries[at + 1], &m->entries[at], (m->n - at) * sizeof(m->entries[0]));
	m->entries[at] = (struct xlb_host_entry){
		.name = copy,
		.len = len,
		.kind = kind,
		.value = value,
	};
	m->n++;
	return 0;
}

/* ---- the map --------------------------------------------------------------- */

bool xlb_host_is_wildcard(const char *name)
{
	size_t len = strlen(name);

	return strncmp(name, "*.", 2) == 0 || (len >= 2 && strcmp(name + len - 2, ".*") == 0);
}

int xlb_hostmap_add(struct xlb_hostmap *m, const char *name, uint32_t value)
{
	enum host_kind kind = HOST_EXACT;
	char lower[XLB_HOSTNAME_SIZE];
	size_t at, nlen = strlen(name);
	int len;

	if (strncmp(name, "*.", 2) == 0) {
		kind = HOST_WILDCARD;
		name += 2;
		nlen -= 2;
	} else if (nlen >= 2 && strcmp(name + nlen - 2, ".*") == 0) {
		kind = HOST_TRAILING;
		nlen -= 2;
	}
	len = xlb_host_normalize(name, nlen, lower, sizeof(lower));
	if (len < 0)
		return -EINVAL;
	if (find_entry(m, kind, lower, (size_t)len, &at))
		return -EEXIST;
	return insert_entry(m, at, kind, lower, (size_t)len, value);
}

/* Lowercases host into buf; false when it cannot be a stored name. */
static bool lower_host(const char *host, char *buf, size_t buf_len, size_t *len)
{
	size_t n = strnlen(host, buf_len);

	if (n == 0 || n >= buf_len)
		return false;
	for (size_t i = 0; i < n; i++)
		buf[i] = ascii_lower(host[i]);
	buf[n] = '\0';
	*len = n;
	return true;
}

int xlb_hostmap_lookup(const struct xlb_hostmap *m, const char *host, uint32_t *value)
{
	char lower[XLB_HOSTNAME_SIZE];
	size_t len, at;

	if (!lower_host(host, lower, sizeof(lower), &len))
		return -ENOENT;
	if (find_entry(m, HOST_EXACT, lower, len, &at))
		goto found;
	/* i > 0: a wildcard needs at least one label before its suffix */
	for (size_t i = 1; i < len; i++) {
		if (lower[i] != '.')
			continue;
		if (find_entry(m, HOST_WILDCARD, lower + i + 1, len - i - 1, &at))
			goto found;
	}
	/* and at least one label after a trailing wildcard's prefix */
	for (size_t i = len - 1; i > 0; i--) {
		if (lower[i] != '.')
			continue;
		if (find_entry(m, HOST_TRAILING, lower, i, &at))
			goto found;
	}
	return -ENOENT;
found:
	*value = m->entries[at].value;
	return 0;
}

void xlb_hostmap_clear(struct xlb_hostmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].name);
	free(m->entries);
	*m = (struct xlb_hostmap)XLB_HOSTMAP_INIT;
}
