// SPDX-License-Identifier: GPL-2.0
/* nginx-proxy's VIRTUAL_HOST_MULTIPORTS: the examples of its own
 * documentation and tests, in YAML and in JSON, the defaults of every
 * level, names and paths as the rest of dmodel takes them, and each error
 * by its exact one-line message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd/multiports.h"

struct parsed {
	struct xlb_mport *v;
	size_t n;
};

static struct parsed parse_ok(const char *text)
{
	struct parsed p;
	char why[320] = "";
	int rc = xlb_multiports_parse(text, strlen(text), &p.v, &p.n, why, sizeof(why));

	if (rc != 0)
		fail_msg("rc=%d why=%s for:\n%s", rc, why, text);
	assert_string_equal(why, "");
	return p;
}

static void assert_rejected(const char *text, const char *want)
{
	struct xlb_mport *v = (struct xlb_mport *)&v;
	char why[320] = "";
	size_t n = 7;

	assert_int_equal(xlb_multiports_parse(text, strlen(text), &v, &n, why, sizeof(why)),
			 -EINVAL);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_string_equal(why, want);
}

/* Entry i is host + path to port (0: the default), with proto and dest. */
static void assert_entry(const struct parsed *p, size_t i, const char *host, const char *path,
			 uint16_t port, bool https, bool strip)
{
	assert_true(i < p->n);
	assert_string_equal(p->v[i].host, host);
	assert_string_equal(p->v[i].path, path);
	assert_int_equal(p->v[i].port, port);
	assert_int_equal(p->v[i].https, https);
	assert_int_equal(p->v[i].strip, strip);
}

static void assert_same(const struct parsed *a, const struct parsed *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->v, b->v, a->n * sizeof(*a->v));
}

/* "Multiple ports routed to different hostnames", both forms. */
static void test_doc_hostnames(void **state)
{
	struct parsed yaml, json;

	(void)state;
	yaml = parse_ok("www.example.org:\n"
			"service1.example.org:\n"
			"  \"/\":\n"
			"    port: 8000\n"
			"service2.example.org:\n"
			"  \"/\":\n"
			"    port: 9000\n");
	assert_int_equal(yaml.n, 3);
	assert_entry(&yaml, 0, "service1.example.org", "/", 8000, false, false);
	assert_entry(&yaml, 1, "service2.example.org", "/", 9000, false, false);
	assert_entry(&yaml, 2, "www.example.org", "/", 0, false, false);
	json = parse_ok(
		"{\n"
		"  \"www.example.org\": {},\n"
		"  \"service1.example.org\": { \"/\": { \"port\": 8000, \"dest\": \"\" } },\n"
		"  \"service2.example.org\": { \"/\": { \"port\": 9000, \"dest\": \"\" } }\n"
		"}");
	assert_same(&yaml, &json);
	free(yaml.v);
	free(json.v);
}

/* "Multiple ports routed to same hostname and different paths". */
static void test_doc_paths(void **state)
{
	struct parsed yaml, json;

	(void)state;
	yaml = parse_ok("www.example.org:\n"
			"  \"/\":\n"
			"  \"/service1\":\n"
			"    port: 8000\n"
			"    dest: \"/\"\n"
			"  \"/service2\":\n"
			"    port: 9443\n"
			"    proto: \"https\"\n"
			"    dest: \"/\"\n");
	assert_int_equal(yaml.n, 3);
	assert_entry(&yaml, 0, "www.example.org", "/", 0, false, false);
	assert_entry(&yaml, 1, "www.example.org", "/service1", 8000, false, true);
	assert_entry(&yaml, 2, "www.example.org", "/service2", 9443, true, true);
	json = parse_ok(
		"{\n"
		"  \"www.example.org\": {\n"
		"    \"/\": {},\n"
		"    \"/service1\": { \"port\": 8000, \"dest\": \"/\" },\n"
		"    \"/service2\": { \"port\": 9443, \"proto\": \"https\", \"dest\": \"/\" }\n"
		"  }\n"
		"}");
	assert_same(&yaml, &json);
	free(yaml.v);
	free(json.v);
}

/* nginx-proxy's test_multiports-base-yaml: a host alone, and "/" alone. */
static void test_nginx_proxy_base(void **state)
{
	struct parsed p;

	(void)state;
	p = parse_ok("notskipped.nginx-proxy.tld:");
	assert_int_equal(p.n, 1);
	assert_entry(&p, 0, "notskipped.nginx-proxy.tld", "/", 0, false, false);
	free(p.v);
	p = parse_ok("port80.a.nginx-proxy.tld:\n"
		     "port80.b.nginx-proxy.tld:\n"
		     "port80.c.nginx-proxy.tld:\n"
		     "  \"/\":\n");
	assert_int_equal(p.n, 3);
	assert_entry(&p, 2, "port80.c.nginx-proxy.tld", "/", 0, false, false);
	free(p.v);
}

/* Every level's defaults: null, ~, an empty map, "" and an empty value. */
static void test_defaults(void **state)
{
	struct parsed p;

	(void)state;
	p = parse_ok("a.example: ~\n"
		     "b.example: null\n"
		     "c.example: {}\n"
		     "d.example: \"\"\n"
		     "e.example: { /x: ~, /y: {}, /z: { port: ~, proto: ~, dest: ~ } }\n"
		     "f.example: { /v: { port: \"\", proto: \"\", dest: \"\" } }\n");
	assert_int_equal(p.n, 8);
	assert_entry(&p, 0, "a.example", "/", 0, false, false);
	assert_entry(&p, 1, "b.example", "/", 0, false, false);
	assert_entry(&p, 2, "c.example", "/", 0, false, false);
	assert_entry(&p, 3, "d.example", "/", 0, false, false);
	assert_entry(&p, 4, "e.example", "/x", 0, false, false);
	assert_entry(&p, 5, "e.example", "/y", 0, false, false);
	assert_entry(&p, 6, "e.example", "/z", 0, false, false);
	assert_entry(&p, 7, "f.example", "/v", 0, false, false);
	free(p.v);
}

/* Names as VIRTUAL_HOST takes them: lowercased, wildcards, a regex kept
 * as written; paths in normal form; a port also as a string. */
static void test_names_and_paths(void **state)
{
	struct parsed p;

	(void)state;
	p = parse_ok("Shop.Example.ORG: { /API/: { port: \"8080\", proto: http } }\n"
		     "'*.wild.example': { /a/b/: { port: 65535 } }\n"
		     "'~^Api\\d+\\.re\\.test$':\n"
		     "shop.*: { /: { port: 1 } }\n");
	assert_int_equal(p.n, 4);
	assert_entry(&p, 0, "*.wild.example", "/a/b", 65535, false, false);
	assert_entry(&p, 1, "shop.*", "/", 1, false, false);
	assert_entry(&p, 2, "shop.example.org", "/API", 8080, false, false);
	assert_entry(&p, 3, "~^Api\\d+\\.re\\.test$", "/", 0, false, false);
	free(p.v);
}

/* Anchors and aliases: one map of paths for two hosts. */
static void test_aliases(void **state)
{
	struct parsed p;

	(void)state;
	p = parse_ok("a.example: &paths { /: { port: 81 }, /x: { port: 82, dest: / } }\n"
		     "b.example: *paths\n");
	assert_int_equal(p.n, 4);
	assert_entry(&p, 0, "a.example", "/", 81, false, false);
	assert_entry(&p, 1, "a.example", "/x", 82, false, true);
	assert_entry(&p, 2, "b.example", "/", 81, false, false);
	assert_entry(&p, 3, "b.example", "/x", 82, false, true);
	free(p.v);
}

static void test_bad_yaml(void **state)
{
	(void)state;
	/* nginx-proxy's test_multiports-invalid-syntax */
	assert_rejected("test1.nginx-proxy.tld\ntest2.nginx-proxy.tld:",
			"line 2 column 22: mapping values are not allowed in this context");
	assert_rejected("a.example: { /x: { port: 80 }\n",
			"line 2 column 1: did not find expected ',' or '}' while parsing a flow "
			"mapping");
	assert_rejected("a.example: *nowhere", "line 1 column 12: found undefined alias");
	assert_rejected("a.example:\n---\nb.example:\n", "more than one YAML document");
}

static void test_not_a_map(void **state)
{
	(void)state;
	assert_rejected("", "no host names");
	assert_rejected("  \n", "no host names");
	assert_rejected("{}", "no host names");
	assert_rejected("~", "no host names");
	assert_rejected("a.example", "not a map of host names");
	assert_rejected("- a.example", "not a map of host names");
	assert_rejected("[a.example]", "not a map of host names");
	assert_rejected("a.example: b.example", "host 'a.example': want a map of paths");
	assert_rejected("a.example: [/x]", "host 'a.example': want a map of paths");
	assert_rejected("a.example: { /x: 80 }",
			"host 'a.example' path '/x': want a map of port, proto and dest");
	assert_rejected("? [a.example]\n: ~", "host (not a string): not a host name");
}

static void test_bad_values(void **state)
{
	(void)state;
	assert_rejected("a.example: { /x: { port: 0 } }",
			"host 'a.example' path '/x': port '0': not a port number (1-65535)");
	assert_rejected("a.example: { /x: { port: 65536 } }",
			"host 'a.example' path '/x': port '65536': not a port number (1-65535)");
	assert_rejected("a.example: { /x: { port: abc } }",
			"host 'a.example' path '/x': port 'abc': not a port number (1-65535)");
	assert_rejected("a.example: { /x: { port: -80 } }",
			"host 'a.example' path '/x': port '-80': not a port number (1-65535)");
	assert_rejected("a.example: { /x: { port: 80.0 } }",
			"host 'a.example' path '/x': port '80.0': not a port number (1-65535)");
	assert_rejected("a.example: { /x: { port: 123456789 } }",
			"host 'a.example' path '/x': port '123456789': not a port number "
			"(1-65535)");
	assert_rejected("a.example: { /x: { port: [80] } }",
			"host 'a.example' path '/x': port (not a number): not a port number "
			"(1-65535)");
	assert_rejected("a.example: { /x: { proto: grpc } }",
			"host 'a.example' path '/x': proto 'grpc': want http or https");
	assert_rejected("a.example: { /x: { proto: HTTPS } }",
			"host 'a.example' path '/x': proto 'HTTPS': want http or https");
	assert_rejected("a.example: { /x: { dest: /port } }",
			"host 'a.example' path '/x': dest '/port': only \"\" (pass the path) or "
			"\"/\" (strip the path prefix) is supported");
	assert_rejected("a.example: { /x: { weight: 2 } }",
			"host 'a.example' path '/x': unknown key 'weight' (want port, proto or "
			"dest)");
	assert_rejected("a.example: { /x: { port: 80, port: 81 } }",
			"host 'a.example' path '/x': port given twice");
}

/* nginx-proxy's per-host external ports are refused: xlb's listeners are
 * xlbd's own. */
static void test_external_ports_refused(void **state)
{
	(void)state;
	assert_rejected("a.example:\n  external_http_port: 8080\n  /:\n    port: 81\n",
			"host 'a.example': external_http_port is not supported (xlb's listeners "
			"are xlbd's, not a container's)");
	assert_rejected("a.example: { external_https_port: 8443 }",
			"host 'a.example': external_https_port is not supported (xlb's listeners "
			"are xlbd's, not a container's)");
	assert_rejected("a.example: { port: 80 }",
			"host 'a.example': key 'port' is not a path (paths start with '/')");
}

static void test_bad_names_and_paths(void **state)
{
	(void)state;
	assert_rejected("bad_host!:", "host 'bad_host!': invalid host name 'bad_host!'");
	assert_rejected("a.example/x:",
			"host 'a.example/x': a host name has no '/' (paths are the keys under it)");
	assert_rejected("'':", "host '': not a host name");
	assert_rejected("a.example: { /x/../y: }",
			"host 'a.example' path '/x/../y': has a '.' or '..' segment");
	/* a control character never breaks the message's line */
	assert_rejected("\"a\\nb.example\":",
			"host 'a?b.example': invalid host name 'a?b.example'");
}

/* nginx-proxy's hostnamerepeat and pathrepeat, and keys that read alike
 * once normalized. */
static void test_given_twice(void **state)
{
	(void)state;
	assert_rejected("test1.nginx-proxy.tld:\ntest1.nginx-proxy.tld:",
			"host 'test1.nginx-proxy.tld' path '/' given twice");
	assert_rejected("test1.nginx-proxy.tld:\n"
			"  \"/\":\n"
			"    port: 8080\n"
			"  \"/\":\n"
			"    port: 9000\n",
			"host 'test1.nginx-proxy.tld' path '/' given twice");
	assert_rejected("A.example: { /x: }\na.example: { /x/: }",
			"host 'a.example' path '/x' given twice");
}

static char *many_hosts(size_t n)
{
	char *text = malloc(n * 32 + 1);
	size_t o = 0;

	assert_non_null(text);
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(text + o, "h%zu.example:\n", i);
	text[o] = '\0';
	return text;
}

static void test_too_many(void **state)
{
	char *text = many_hosts(XLB_MULTIPORTS_MAX);
	struct parsed p;

	(void)state;
	p = parse_ok(text);
	assert_int_equal(p.n, XLB_MULTIPORTS_MAX);
	free(p.v);
	free(text);
	text = many_hosts(XLB_MULTIPORTS_MAX + 1);
	assert_rejected(text, "more than 1024 routes (host names times paths)");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doc_hostnames),
		cmocka_unit_test(test_doc_paths),
		cmocka_unit_test(test_nginx_proxy_base),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_names_and_paths),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_bad_yaml),
		cmocka_unit_test(test_not_a_map),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_external_ports_refused),
		cmocka_unit_test(test_bad_names_and_paths),
		cmocka_unit_test(test_given_twice),
		cmocka_unit_test(test_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
