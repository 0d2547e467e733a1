// SPDX-License-Identifier: GPL-2.0
#include "multiports.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* One parse: the document, the routes so far, where an error goes. */
struct mp {
	yaml_document_t *doc;
	struct xlb_mport *v;
	size_t n;
	char *why;
	size_t whylen;
};

static int mp_fail(struct mp *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The message is one line, whatever a key holds (xlb_split_route's
 * reasons quote the host name raw). */
static int mp_fail(struct mp *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->why, p->whylen, fmt, ap);
	va_end(ap);
	for (char *c = p->why; p->whylen && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -EINVAL;
}

static bool printable(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '"' && ch != '\\';
}

/* A key or value for a message, between single quotes: anything but
 * printable ASCII (and the quotes) shows as '?', so that the message stays
 * one line; long ones are cut. */
static const char *shown(const yaml_node_t *node, char *buf, size_t size)
{
	const unsigned char *s = node->data.scalar.value;
	size_t len = node->data.scalar.length, o = 0, i;

	buf[o++] = '\'';
	for (i = 0; i < len && o + 5 < size; i++)
		buf[o++] = printable(s[i]) ? (char)s[i] : '?';
	if (i < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

#define SHOWN(node) shown((node), (char[64]){ 0 }, 64)

static bool scalar_is(const yaml_node_t *node, const char *text)
{
	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == strlen(text) &&
	       memcmp(node->data.scalar.value, text, node->data.scalar.length) == 0;
}

/* An empty value, which takes the defaults: "host:" with nothing after
 * it, "", YAML's null (~, null), or an empty map ({} in JSON). */
static bool is_empty(const yaml_node_t *node)
{
	if (node->type == YAML_MAPPING_NODE)
		return node->data.mapping.pairs.start == node->data.mapping.pairs.top;
	if (node->type != YAML_SCALAR_NODE)
		return false;
	if (node->data.scalar.length == 0)
		return true;
	return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (scalar_is(node, "~") || scalar_is(node, "null") || scalar_is(node, "Null") ||
		scalar_is(node, "NULL"));
}

/* A scalar's text, when it has no NUL byte and fits size. */
static bool scalar_text(const yaml_node_t *node, char *out, size_t size)
{
	size_t len = node->data.scalar.length;

	if (node->type != YAML_SCALAR_NODE || len >= size ||
	    memchr(node->data.scalar.value, '\0', len))
		return false;
	memcpy(out, node->data.scalar.value, len);
	out[len] = '\0';
	return true;
}

static yaml_node_t *node_at(const struct mp *p, int index)
{
	return yaml_document_get_node(p->doc, index);
}

/* ---- one path ------------------------------------------------------------------ */

/* "8000" or 8000; empty: the default port (0). */
static int port_read(struct mp *p, const char *where, const yaml_node_t *v, uint16_t *port)
{
	char num[8];
	long val = 0;

	if (is_empty(v))
		return 0;
	if (!scalar_text(v, num, sizeof(num)) || !num[0] ||
	    strspn(num, "0123456789") != strlen(num))
		return mp_fail(p, "%s: port %s: not a port number (1-65535)", where,
			       v->type == YAML_SCALAR_NODE ? SHOWN(v) : "(not a number)");
	val = strtol(num, NULL, 10);
	if (val < 1 || val > 65535)
		return mp_fail(p, "%s: port %s: not a port number (1-65535)", where, SHOWN(v));
	*port = (uint16_t)val;
	return 0;
}

/* nginx-proxy's proto is the backend's: http, or https for TLS to it.
 * Its others (uwsgi, fastcgi, grpc) are not HTTP proxying xlb does. */
static int proto_read(struct mp *p, const char *where, const yaml_node_t *v, bool *https)
{
	if (is_empty(v) || scalar_is(v, "http"))
		*https = false;
	else if (scalar_is(v, "https"))
		*https = true;
	else
		return mp_fail(p, "%s: proto %s: want http or https", where,
			       v->type == YAML_SCALAR_NODE ? SHOWN(v) : "(not a string)");
	return 0;
}

/* nginx-proxy's dest replaces the path's prefix: "/" is stripping it;
 * another prefix would need rewriting, which xlb lacks. */
static int dest_read(struct mp *p, const char *where, const yaml_node_t *v, bool *strip)
{
	if (is_empty(v))
		*strip = false;
	else if (scalar_is(v, "/"))
		*strip = true;
	else
		return mp_fail(p,
			       "%s: dest %s: only \"\" (pass the path) or \"/\" (strip the path "
			       "prefix) is supported",
			       where, v->type == YAML_SCALAR_NODE ? SHOWN(v) : "(not a string)");
	return 0;
}

/* Each of port, proto and dest once. */
static int path_option(struct mp *p, const char *where, const yaml_node_t *k, const yaml_node_t *v,
		       struct xlb_mport *e, unsigned *seen)
{
	static const char *const names[] = { "port", "proto", "dest" };
	unsigned bit = 0;

	for (unsigned i = 0; i < 3 && !bit; i++)
		if (scalar_is(k, names[i]))
			bit = 1u << i;
	if (!bit)
		return mp_fail(p, "%s: unknown key %s (want port, proto or dest)", where,
			       k->type == YAML_SCALAR_NODE ? SHOWN(k) : "(not a string)");
	if (*seen & bit)
		return mp_fail(p, "%s: %s given twice", where, (const char *)k->data.scalar.value);
	*seen |= bit;
	if (bit == 1)
		return port_read(p, where, v, &e->port);
	if (bit == 2)
		return proto_read(p, where, v, &e->https);
	return dest_read(p, where, v, &e->strip);
}

static int route_add(struct mp *p, const char *host, const char *path, struct xlb_mport **e)
{
	struct xlb_mport *more;

	if (p->n == XLB_MULTIPORTS_MAX)
		return mp_fail(p, "more than %d routes (host names times paths)",
			       XLB_MULTIPORTS_MAX);
	more = realloc(p->v, (p->n + 1) * sizeof(*more));
	if (!more)
		return -ENOMEM;
	p->v = more;
	*e = &more[p->n++];
	memset(*e, 0, sizeof(**e));
	snprintf((*e)->host, sizeof((*e)->host), "%s", host);
	snprintf((*e)->path, sizeof((*e)->path), "%s", path);
	return 0;
}

/* One "path: { port, proto, dest }" of host. */
static int path_read(struct mp *p, const char *host, const yaml_node_t *k, const yaml_node_t *v)
{
	char raw[XLB_PATH_SIZE + 1], path[XLB_PATH_SIZE], where[256];
	const char *why;
	struct xlb_mport *e;
	unsigned seen = 0;
	int err;

	if (!scalar_text(k, raw, sizeof(raw)))
		return mp_fail(p, "host '%s' path %s: %s", host, SHOWN(k),
			       k->data.scalar.length < sizeof(raw) ? "has a NUL byte" : "too long");
	if (xlb_path_normalize(raw, strlen(raw), path, &why))
		return mp_fail(p, "host '%s' path %s: %s", host, SHOWN(k), why);
	snprintf(where, sizeof(where), "host '%.100s' path '%.100s'", host, path);
	err = route_add(p, host, path, &e);
	if (err || is_empty(v))
		return err;
	if (v->type != YAML_MAPPING_NODE)
		return mp_fail(p, "%s: want a map of port, proto and dest", where);
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		/* e may move with a later route_add, not within this loop */
		err = path_option(p, where, node_at(p, pr->key), node_at(p, pr->value), e, &seen);
		if (err)
			return err;
	}
	return 0;
}

/* ---- one host -------------------------------------------------------------------- */

/* The host name as dmodel's other inputs take it (xlb_split_route):
 * checked and lowercased; no path, which goes one level down. */
static int host_name(struct mp *p, const yaml_node_t *k, char host[XLB_HOST_LEN])
{
	char raw[XLB_HOST_LEN], path[XLB_PATH_SIZE], why[320];

	if (!scalar_text(k, raw, sizeof(raw)) || !raw[0])
		return mp_fail(p, "host %s: not a host name",
			       k->type == YAML_SCALAR_NODE ? SHOWN(k) : "(not a string)");
	if (strchr(raw, '/'))
		return mp_fail(p, "host %s: a host name has no '/' (paths are the keys under it)",
			       SHOWN(k));
	if (xlb_split_route(raw, strlen(raw), host, path, why, sizeof(why)))
		return mp_fail(p, "host %s: %s", SHOWN(k), why);
	return 0;
}

static bool is_external_port(const yaml_node_t *k)
{
	return scalar_is(k, "external_http_port") || scalar_is(k, "external_https_port");
}

/* A key under a host: a path, or one of nginx-proxy's per-host options. */
static int host_key(struct mp *p, const char *host, const yaml_node_t *k, const yaml_node_t *v)
{
	if (is_external_port(k))
		return mp_fail(p,
			       "host '%s': %s is not supported (xlb's listeners are xlbd's, "
			       "not a container's)",
			       host, (const char *)k->data.scalar.value);
	if (k->type != YAML_SCALAR_NODE || k->data.scalar.length == 0 ||
	    k->data.scalar.value[0] != '/')
		return mp_fail(p, "host '%s': key %s is not a path (paths start with '/')", host,
			       k->type == YAML_SCALAR_NODE ? SHOWN(k) : "(not a string)");
	return path_read(p, host, k, v);
}

static int host_read(struct mp *p, const yaml_node_t *k, const yaml_node_t *v)
{
	char host[XLB_HOST_LEN];
	struct xlb_mport *e;
	int err = host_name(p, k, host);

	if (err)
		return err;
	if (is_empty(v))
		return route_add(p, host, "/", &e);
	if (v->type != YAML_MAPPING_NODE)
		return mp_fail(p, "host '%s': want a map of paths", host);
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		err = host_key(p, host, node_at(p, pr->key), node_at(p, pr->value));
		if (err)
			return err;
	}
	return 0;
}

/* ---- the document ------------------------------------------------------------- */

static int by_route(const void *a, const void *b)
{
	const struct xlb_mport *x = a, *y = b;
	int d = strcmp(x->host, y->host);

	return d ? d : strcmp(x->path, y->path);
}

/* Two keys that read alike once normalized ("/api" and "/api/", "A.b"
 * and "a.b") name one route twice: YAML itself would take the last. */
static int routes_sort_unique(struct mp *p)
{
	qsort(p->v, p->n, sizeof(*p->v), by_route);
	for (size_t i = 1; i < p->n; i++)
		if (by_route(&p->v[i - 1], &p->v[i]) == 0)
			return mp_fail(p, "host '%s' path '%s' given twice", p->v[i].host,
				       p->v[i].path);
	return 0;
}

static int hosts_read(struct mp *p)
{
	const yaml_node_t *root = yaml_document_get_root_node(p->doc);
	int err;

	if (!root || is_empty(root))
		return mp_fail(p, "no host names");
	if (root->type != YAML_MAPPING_NODE)
		return mp_fail(p, "not a map of host names");
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		err = host_read(p, node_at(p, pr->key), node_at(p, pr->value));
		if (err)
			return err;
	}
	return routes_sort_unique(p);
}

static int yaml_failed(struct mp *p, const yaml_parser_t *parser)
{
	if (parser->error == YAML_MEMORY_ERROR)
		return -ENOMEM;
	return mp_fail(p, "line %zu column %zu: %s%s%s", parser->problem_mark.line + 1,
		       parser->problem_mark.column + 1,
		       parser->problem ? parser->problem : "not YAML", parser->context ? " " : "",
		       parser->context ? parser->context : "");
}

/* The first document, and no second one after it: a "---" further down
 * would otherwise go unread. */
static int document_load(struct mp *p, yaml_parser_t *parser)
{
	yaml_document_t more;
	bool second;

	if (!yaml_parser_load(parser, p->doc))
		return yaml_failed(p, parser);
	if (!yaml_parser_load(parser, &more)) {
		yaml_document_delete(p->doc);
		return yaml_failed(p, parser);
	}
	second = yaml_document_get_root_node(&more) != NULL;
	yaml_document_delete(&more);
	if (second) {
		yaml_document_delete(p->doc);
		return mp_fail(p, "more than one YAML document");
	}
	return 0;
}

int xlb_multiports_parse(const char *text, size_t len, struct xlb_mport **out, size_t *n, char *why,
			 size_t whylen)
{
	struct mp p = { .why = why, .whylen = whylen };
	yaml_parser_t parser;
	yaml_document_t doc;
	int err;

	*out = NULL;
	*n = 0;
	if (whylen)
		why[0] = '\0';
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	p.doc = &doc;
	err = document_load(&p, &parser);
	yaml_parser_delete(&parser);
	if (err)
		return err;
	err = hosts_read(&p);
	yaml_document_delete(&doc);
	if (err) {
		free(p.v);
		return err;
	}
	*out = p.v;
	*n = p.n;
	return 0;
}
