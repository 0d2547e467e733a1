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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "hostmap.h"

enum host_kind { HOST_EXACT, HOST_WILDCARD, HOST_TRAILING };

struct xlb_host_entry {
	char *name; /* lowercased; a wildcard without its "*." or ".*" */
	size_t len;
	enum host_kind kind;
	uint32_t value;
};

struct xlb_host_regex {
	char *src; /* as given, with its '~' */
	pcre2_code *re;
	uint32_t value;
};

/* Bounds on one regex match against a host of at most 253 characters:
 * far above what a sane host pattern takes (a few hundred steps), far
 * below what a pathological one could (exponential backtracking). */
#define REGEX_MATCH_LIMIT 100000
#define REGEX_DEPTH_LIMIT 1000

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

bool xlb_host_is_pattern(const char *name)
{
	size_t len = strlen(name);

	return name[0] == '~' || strncmp(name, "*.", 2) == 0 ||
	       (len >= 2 && strcmp(name + len - 2, ".*") == 0);
}

/* ---- regular expressions ----------------------------------------------------- */

static pcre2_code *regex_compile(const char *src, char *why, size_t why_len)
{
	PCRE2_UCHAR msg[120];
	PCRE2_SIZE off;
	pcre2_code *re;
	int code;

	if (src[0] != '~' || src[1] == '\0') {
		snprintf(why, why_len, "empty regex");
		return NULL;
	}
	/* hosts are ASCII: no UTF (which a pattern could switch on with
	 * (*UTF)), no \C; inline (*LIMIT_...) settings can only lower the
	 * limits regex_find sets */
	re = pcre2_compile((PCRE2_SPTR)(src + 1), PCRE2_ZERO_TERMINATED,
			   PCRE2_NEVER_BACKSLASH_C | PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &code, &off,
			   NULL);
	if (!re) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(why, why_len, "bad regex at offset %zu: %s", (size_t)off, (char *)msg);
	}
	return re;
}

int xlb_host_regex_check(const char *src, char *why, size_t why_len)
{
	pcre2_code *re = regex_compile(src, why, why_len);

	if (!re)
		return -EINVAL;
	pcre2_code_free(re);
	return 0;
}

static int regex_add(struct xlb_hostmap *m, const char *src, uint32_t value)
{
	struct xlb_host_regex *grown;
	char why[160];
	pcre2_code *re;
	char *copy;

	for (size_t i = 0; i < m->n_res; i++)
		if (strcmp(m->res[i].src, src) == 0)
			return -EEXIST;
	if (m->n_res == m->cap_res) {
		size_t cap = m->cap_res ? m->cap_res * 2 : 4;

		grown = realloc(m->res, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		m->res = grown;
		m->cap_res = cap;
	}
	re = regex_compile(src, why, sizeof(why));
	if (!re)
		return -EINVAL;
	copy = strdup(src);
	if (!copy) {
		pcre2_code_free(re);
		return -ENOMEM;
	}
	m->res[m->n_res++] = (struct xlb_host_regex){ .src = copy, .re = re, .value = value };
	return 0;
}

/* A pattern looked up by its own text (no request's host starts with
 * '~'), as a wildcard's own text finds its entry. */
static int regex_own(const struct xlb_hostmap *m, const char *src, uint32_t *value)
{
	for (size_t i = 0; i < m->n_res; i++)
		if (strcmp(m->res[i].src, src) == 0) {
			*value = m->res[i].value;
			return 0;
		}
	return -ENOENT;
}

/* The first regex that matches host[0..len) (lowercased), or NULL. A
 * match that hits a limit is no match. */
static const struct xlb_host_regex *regex_find(const struct xlb_hostmap *m, const char *host,
					       size_t len)
{
	const struct xlb_host_regex *found = NULL;
	pcre2_match_context *mctx;
	pcre2_match_data *md;

	if (!m->n_res)
		return NULL;
	mctx = pcre2_match_context_create(NULL);
	md = pcre2_match_data_create(1, NULL);
	if (mctx && md) {
		pcre2_set_match_limit(mctx, REGEX_MATCH_LIMIT);
		pcre2_set_depth_limit(mctx, REGEX_DEPTH_LIMIT);
		for (size_t i = 0; i < m->n_res && !found; i++)
			if (pcre2_match(m->res[i].re, (PCRE2_SPTR)host, len, 0, 0, md, mctx) >= 0)
				found = &m->res[i];
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mctx);
	return found;
}

int xlb_hostmap_add(struct xlb_hostmap *m, const char *name, uint32_t value)
{
	enum host_kind kind = HOST_EXACT;
	char lower[XLB_HOSTNAME_SIZE];
	size_t at, nlen = strlen(name);
	int len;

	if (name[0] == '~')
		return regex_add(m, name, value);
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
	const struct xlb_host_regex *re;
	char lower[XLB_HOSTNAME_SIZE];
	size_t len, at;

	if (host[0] == '~')
		return regex_own(m, host, value);
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
	re = regex_find(m, lower, len);
	if (!re)
		return -ENOENT;
	*value = re->value;
	return 0;
found:
	*value = m->entries[at].value;
	return 0;
}

void xlb_hostmap_clear(struct xlb_hostmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].name);
	free(m->entries);
	for (size_t i = 0; i < m->n_res; i++) {
		free(m->res[i].src);
		pcre2_code_free(m->res[i].re);
	}
	free(m->res);
	*m = (struct xlb_hostmap)XLB_HOSTMAP_INIT;
}
