/* SPDX-License-Identifier: GPL-2.0 */
/* nginx-proxy's VIRTUAL_HOST_MULTIPORTS: routes of one container to
 * several of its ports, in YAML (or JSON, which YAML reads too):
 *
 *   www.example.org:              a host without paths: "/"
 *   api.example.org:
 *     "/":        { port: 8000 }
 *     "/admin":   { port: 9443, proto: https, dest: "/" }
 *
 * Every level may be left out: a path without port goes to the
 * container's default port, proto is http, dest "" passes the path as it
 * came and "/" strips the matched prefix (no other dest: xlb does not
 * rewrite paths). external_http_port and external_https_port are refused:
 * xlb's listeners are xlbd's, not a container's to choose. The parser
 * does no I/O, so that it is unit-tested and fuzzed alone. */
#ifndef XLB_MULTIPORTS_H
#define XLB_MULTIPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

/* Routes one variable may give: as many as one container may declare
 * (dmodel.c), since each is compared with the others at every build. */
#define XLB_MULTIPORTS_MAX 1024

struct xlb_mport {
	char host[XLB_HOST_LEN];  /* checked and lowercased; a "~regex" as written */
	char path[XLB_PATH_SIZE]; /* normal form (hostmap.h); "/" for a host without paths */
	uint16_t port;		  /* 0: the container's default port */
	bool https;		  /* proto https: the backend is reached over TLS */
	bool strip;		  /* dest "/": the path prefix is stripped */
};

/* Reads text[0..len) into *out (*n entries, sorted by host, then path;
 * free() it). Returns 0; -EINVAL with one line in why that says what is
 * wrong and where ("line 2 column 7: mapping values are not allowed in
 * this context", "host 'a.example' path '/x': port '0': not a port number
 * (1-65535)"), *out NULL; or -ENOMEM. */
int xlb_multiports_parse(const char *text, size_t len, struct xlb_mport **out, size_t *n, char *why,
			 size_t whylen);

#endif
