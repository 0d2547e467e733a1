/* SPDX-License-Identifier: GPL-2.0 */
/* Host names as the proxy routes them: their syntax, and a map from names
 * ("api.app.dev") and wildcards ("*.api.app.dev") to a value such as a
 * service index. The map is rebuilt when the config or the discovered
 * services change, and looked up once per proxied connection, without
 * allocating. */
#ifndef XLB_HOSTMAP_H
#define XLB_HOSTMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest DNS name in text form (RFC 1035: 253 characters), and a buffer
 * that holds one with its NUL. */
#define XLB_HOSTNAME_MAX 253
#define XLB_HOSTNAME_SIZE (XLB_HOSTNAME_MAX + 1)

/* Checks that name[0..len) is a DNS host name (RFC 1123 labels of 1..63
 * [A-Za-z0-9-] without '-' at either end, dot-separated, at most 253
 * characters, no trailing dot) and writes it lowercased and NUL-terminated
 * to out. name need not be NUL-terminated. Returns len, -EINVAL for a bad
 * name, or -ENOSPC when out_len <= len. */
int xlb_host_normalize(const char *name, size_t len, char *out, size_t out_len);

struct xlb_host_entry;
struct xlb_host_regex;

struct xlb_hostmap {
	struct xlb_host_entry *entries; /* sorted: see hostmap.c */
	size_t n;
	size_t cap;
	struct xlb_host_regex *res; /* in the order added */
	size_t n_res;
	size_t cap_res;
};

#define XLB_HOSTMAP_INIT               \
	{                              \
		NULL, 0, 0, NULL, 0, 0 \
	}

/* Whether name is a pattern rather than one name: a wildcard, "*.suffix"
 * or "prefix.*", or a regular expression, "~regex" (not checked further). */
bool xlb_host_is_pattern(const char *name);

/* A host given as "~regex" (nginx's and nginx-proxy's form): a PCRE2
 * pattern, matched against the request's host lowercased and without
 * its port, unanchored unless the pattern says ^ and $. Checks that src
 * (with its '~') compiles; on error writes the reason to why and returns
 * -EINVAL. Matching is bounded (PCRE2's match and depth limits), so a
 * pattern from an untrusted label cannot stall the proxy. */
int xlb_host_regex_check(const char *src, char *why, size_t why_len);

/* Adds an exact name, a "*.suffix" wildcard or a "prefix.*" one (any
 * case; stored lowercased), or a "~regex". A leading wildcard matches
 * names with one or more labels before the suffix, a trailing one names
 * with one or more labels after the prefix, never the suffix or prefix
 * itself. Returns 0, -EINVAL for a bad name or pattern, -EEXIST when the
 * name (compared case-insensitively; a pattern, exactly) is already
 * there, or -ENOMEM. */
int xlb_hostmap_add(struct xlb_hostmap *m, const char *name, uint32_t value);

/* Finds host (any case): the exact name first, then the longest matching
 * leading wildcard, then the longest matching trailing one, then the first
 * matching regex in the order added (nginx's order). Only the regex step
 * allocates (PCRE2's match block). Returns 0 and sets *value, or
 * -ENOENT. */
int xlb_hostmap_lookup(const struct xlb_hostmap *m, const char *host, uint32_t *value);

/* Frees the entries and patterns; the map is empty and reusable afterwards. */
void xlb_hostmap_clear(struct xlb_hostmap *m);

/* Path prefixes of routes ("app.app.dev/api" routes the requests for /api,
 * /api/, /api/x and /api?q to a service, not /apix). A prefix starts with
 * '/', has at most XLB_PATH_MAX characters of printable ASCII but for
 * space, '?' and '#', no empty, "." or ".." segment; its normal form has
 * no trailing '/' (but "/" itself, which matches every path). */
#define XLB_PATH_MAX 127
#define XLB_PATH_SIZE (XLB_PATH_MAX + 1)

/* Checks path[0..len) as a route prefix and writes its normal form to out
 * (XLB_PATH_SIZE bytes). Returns 0, or -EINVAL and sets *why (a phrase
 * such as "has a '..' segment"). */
int xlb_path_normalize(const char *path, size_t len, char *out, const char **why);

/* Whether the normal-form prefix[0..plen) matches the request path
 * path[0..len) (a request-target's path, maybe with its '?query') on a
 * segment boundary. Returns the bytes of path the prefix covers (0 for
 * "/": stripping it removes nothing), or -1. */
int xlb_path_match(const char *prefix, size_t plen, const char *path, size_t len);

#endif
