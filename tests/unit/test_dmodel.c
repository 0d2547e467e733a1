// SPDX-License-Identifier: GPL-2.0
/* Docker's JSON -> xlb's model, on real Engine API v1.41 answers captured
 * by tests/unit/fixtures/dmodel/capture.sh (containers xlbdm-*): each case
 * takes one captured answer, changes the one field it is about, and checks
 * what xlbd would act on, errors by their exact one-line message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "xlbd/dmodel.h"

#define FIXTURES "tests/unit/fixtures/dmodel/"

/* The captured containers' ids (Id in inspect_*.json). */
#define ID_WEB_1 "4b854e2e55d856f51c0e9988db5496745a2b97ec0885c280e50803d66dc70a70"
#define ID_WEB_2 "32d588b45e77dc895c3e33909e2ac294480149b12f0f266d6ea28a76cf75e9d1"
#define ID_VHOST "d1ff1de2ab664b2d149361d8c745493ca35dac57f8b744de1826d3ab33f807f7"
#define ID_PLAIN "9751a34ea8c595f485712997d1e9048086719635c58a84cdf772a6d5911dec7e"
#define ID_MULTI "0f7aaed10d727ccef0ca593d086d82d07b9adc1b1ada15c2459bf33ac3ac6444"
#define ID_PAUSED "024d36551e2eb92a72bf1fcaf6e64d8ead1f9ddfc0d1af43063d7ffc0fac9b47"
#define ID_STOPPED "c4c9e545497d2afb63baf72724a45d77571a14f32f8b87ee7af8faabf9a848be"
#define ID_HC_STARTING "287339f542a0c0d6b3d00d06a7f9ea10617578451ca14a2cfb1248c206631b22"
#define ID_HC_HEALTHY "1005e6c1cf679c448b46a4ff0141d4a20ac9362ec10c34360ffb582095eec971"
#define ID_HC_UNHEALTHY "097f255960d4da30cbe9d00761d39a682f49483548e1707a359e05bd5de8d84b"

/* ---- fixtures ------------------------------------------------------------------ */

static char *slurp(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf;
	long size;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from the repository root)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

static json_t *load(const char *name)
{
	json_error_t jerr;
	size_t len;
	char *text = slurp(name, &len);
	json_t *root = json_loadb(text, len, 0, &jerr);

	free(text);
	if (!root)
		fail_msg("%s: %s", name, jerr.text);
	return root;
}

/* Sets (or, with val NULL, deletes) one of Config.Labels. */
static void label_set(json_t *root, const char *key, const char *val)
{
	json_t *labels = json_object_get(json_object_get(root, "Config"), "Labels");

	assert_true(json_is_object(labels));
	if (val)
		assert_int_equal(json_object_set_new(labels, key, json_string(val)), 0);
	else
		assert_int_equal(json_object_del(labels, key), 0);
}

static json_t *state_of(json_t *root)
{
	json_t *state = json_object_get(root, "State");

	assert_true(json_is_object(state));
	return state;
}

/* The one network's address fields. */
static void net_addrs_set(json_t *root, const char *net, const char *a4, const char *a6)
{
	json_t *n = json_object_get(
		json_object_get(json_object_get(root, "NetworkSettings"), "Networks"), net);

	assert_true(json_is_object(n));
	json_object_set_new(n, "IPAddress", json_string(a4));
	json_object_set_new(n, "GlobalIPv6Address", json_string(a6));
}

/* Another container of the same shape: replicas made from one capture. */
static void identity_set(json_t *root, const char *id, const char *name)
{
	json_object_set_new(root, "Id", json_string(id));
	json_object_set_new(root, "Name", json_string(name));
}

static int parse_json(json_t *root, struct xlb_dcontainer *c, char *err, size_t errlen)
{
	char *text = json_dumps(root, JSON_COMPACT);
	int rc;

	assert_non_null(text);
	err[0] = '\0';
	rc = xlb_dmodel_container(text, strlen(text), c, err, errlen);
	free(text);
	return rc;
}

/* A container's environment, as nginx-proxy's containers have it: no
 * xlb label is added (see env_set). */
static void env_only(json_t *root, json_t *env)
{
	json_object_set_new(json_object_get(root, "Config"), "Env", env);
}

/* Parses a fixture that must be accepted; frees root. */
static void parse_ok(json_t *root, struct xlb_dcontainer *c)
{
	char err[512];
	int rc = parse_json(root, c, err, sizeof(err));

	json_decref(root);
	if (rc != 1)
		fail_msg("rc=%d err=%s", rc, err);
}

static void assert_addr(uint8_t family, const struct xlb_addr *got, const char *want)
{
	struct xlb_addr a;

	memset(&a, 0, sizeof(a));
	assert_int_equal(inet_pton(family, want, family == AF_INET ? (void *)&a.v4 : (void *)a.v6),
			 1);
	assert_memory_equal(got, &a, family == AF_INET ? sizeof(a.v4) : sizeof(a.v6));
}

/* ---- one container ------------------------------------------------------------- */

static void test_compose_container(void **state)
{
	struct xlb_dcontainer c;

	(void)state;
	parse_ok(load("inspect_web_1.json"), &c);
	assert_string_equal(c.id, ID_WEB_1);
	assert_string_equal(c.name, "xlbdm-web-1");
	assert_string_equal(c.service, "xlbdm_web");
	assert_true(c.running);
	assert_true(c.serving);
	assert_string_equal(c.why_not, "");
	assert_int_equal(c.n_hosts, 2);
	assert_string_equal(c.hosts[0], "a.example");
	assert_string_equal(c.hosts[1], "b.example"); /* "B.example": lowercased */
	assert_int_equal(c.port, 8000);
	assert_int_equal(c.weight, 3);
	assert_true(c.tls);
	assert_false(c.has_listen);
	assert_int_equal(c.hc.kind, XLB_HC_HTTP);
	assert_string_equal(c.hc.path, "/healthz");
	assert_int_equal(c.hc.interval_ms, 5000);
	assert_int_equal(c.hc.timeout_ms, 500);
	assert_int_equal(c.hc.rise, 1);
	assert_int_equal(c.hc.fall, 4);
	assert_true(c.has_addr4);
	assert_addr(AF_INET, &c.addr4, "172.30.99.2");
	assert_true(c.has_addr6);
	assert_addr(AF_INET6, &c.addr6, "fd00:d0d0::2");
	xlb_dcontainer_free(&c);
}

/* Without the optional labels: weight 1, http, no check, no listener. */
static void test_defaults(void **state)
{
	json_t *root = load("inspect_web_1.json");
	static const char *const optional[] = { "xlb.weight",
						"xlb.proto",
						"xlb.healthcheck",
						"xlb.healthcheck.interval",
						"xlb.healthcheck.timeout",
						"xlb.healthcheck.rise",
						"xlb.healthcheck.fall" };
	struct xlb_dcontainer c;

	(void)state;
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		label_set(root, optional[i], NULL);
	parse_ok(root, &c);
	assert_int_equal(c.weight, 1);
	assert_false(c.tls);
	assert_int_equal(c.hc.kind, XLB_HC_NONE);
	assert_false(c.has_listen);
	assert_int_equal(c.n_hosts, 2);
	xlb_dcontainer_free(&c);
}

static void test_port_from_only_exposed_port(void **state)
{
	json_t *root = load("inspect_web_1.json"); /* ExposedPorts {"8000/tcp"} */
	struct xlb_dcontainer c;

	(void)state;
	label_set(root, "xlb.port", NULL);
	parse_ok(root, &c);
	assert_int_equal(c.port, 8000);
	xlb_dcontainer_free(&c);

	root = load("inspect_web_1.json");
	label_set(root, "xlb.port", NULL);
	json_object_set_new(json_object_get(root, "Config"), "ExposedPorts",
			    json_pack("{s:{}}", "53/udp"));
	parse_ok(root, &c);
	assert_int_equal(c.port, 53);
	xlb_dcontainer_free(&c);
}

/* nginx-proxy's VIRTUAL_HOST/VIRTUAL_PORT: the port picks one of two
 * exposed ports, the host is lowercased. */
static void test_virtual_host_env(void **state)
{
	struct xlb_dcontainer c;

	(void)state;
	parse_ok(load("inspect_vhost.json"), &c);
	assert_string_equal(c.id, ID_VHOST);
	assert_string_equal(c.name, "xlbdm-vhost");
	assert_string_equal(c.service, "xlbdm-vhost"); /* not compose: its name */
	assert_int_equal(c.n_hosts, 1);
	assert_string_equal(c.hosts[0], "shop.example");
	assert_int_equal(c.port, 9090);
	assert_int_equal(c.weight, 1);
	assert_false(c.tls);
	assert_int_equal(c.hc.kind, XLB_HC_NONE);
	assert_true(c.running);
	assert_true(c.serving);
	assert_true(c.has_addr4);
	assert_addr(AF_INET, &c.addr4, "172.17.0.4");
	assert_false(c.has_addr6); /* GlobalIPv6Address "" on the default bridge */
	xlb_dcontainer_free(&c);
}

static void test_labels_win_over_virtual_env(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	label_set(root, "xlb.host", "Label.Example");
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 1);
	assert_string_equal(c.hosts[0], "label.example");
	assert_int_equal(c.port, 9090); /* no xlb.port: VIRTUAL_PORT still */
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	label_set(root, "xlb.port", "8080");
	parse_ok(root, &c);
	assert_string_equal(c.hosts[0], "shop.example");
	assert_int_equal(c.port, 8080);
	xlb_dcontainer_free(&c);
}

static void assert_ignored(json_t *root)
{
	struct xlb_dcontainer c;
	char err[256] = "untouched";

	assert_int_equal(parse_json(root, &c, err, sizeof(err)), 0);
	json_decref(root);
	assert_int_equal(c.n_hosts, 0);
	assert_null(c.hosts); /* nothing for the caller to free */
}

static void test_ignored_without_xlb_labels(void **state)
{
	json_t *root;

	(void)state;
	assert_ignored(load("inspect_plain.json"));
	/* look-alikes of the labels and the variable */
	root = load("inspect_plain.json");
	label_set(root, "xlbx.host", "a.example");
	label_set(root, "com.xlb.host", "a.example");
	label_set(root, "XLB.HOST", "a.example");
	assert_ignored(root);
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOSTS=a.example", "VIRTUAL_HOST"));
	assert_ignored(root);
	/* VIRTUAL_HOST="" switches a container off, as for nginx-proxy: no
	 * error */
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=", "VIRTUAL_PORT=9090"));
	assert_ignored(root);
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST= "));
	assert_ignored(root);
}

/* ---- bad labels: -EINVAL and one line naming the container ---------------------- */

struct bad_label {
	const char *fixture;
	const char *key;
	const char *val; /* NULL: the label removed */
	const char *err;
};

static const struct bad_label bad_labels[] = {
	{ "web_1", "xlb.port", "abc",
	  "container xlbdm-web-1: label xlb.port='abc': not a port number (1-65535)" },
	{ "web_1", "xlb.port", "0",
	  "container xlbdm-web-1: label xlb.port='0': not a port number (1-65535)" },
	{ "web_1", "xlb.port", "70000",
	  "container xlbdm-web-1: label xlb.port='70000': not a port number (1-65535)" },
	{ "web_1", "xlb.port", "99999999999",
	  "container xlbdm-web-1: label xlb.port='99999999999': not a port number (1-65535)" },
	{ "web_1", "xlb.port", "",
	  "container xlbdm-web-1: label xlb.port='': not a port number (1-65535)" },
	{ "web_1", "xlb.host", "a example",
	  "container xlbdm-web-1: label xlb.host='a example': invalid host name 'a example'" },
	{ "web_1", "xlb.host", "a.example:80",
	  "container xlbdm-web-1: label xlb.host='a.example:80': invalid host name "
	  "'a.example:80'" },
	{ "web_1", "xlb.host", "",
	  "container xlbdm-web-1: label xlb.host='': empty or too long host name" },
	{ "web_1", "xlb.host", "a.example, ,b.example",
	  "container xlbdm-web-1: label xlb.host='a.example, ,b.example': empty or too long "
	  "host name" },
	{ "web_1", "xlb.host", "a.example,",
	  "container xlbdm-web-1: label xlb.host='a.example,': empty or too long host name" },
	{ "web_1", "xlb.listen", "8080",
	  "container xlbdm-web-1: label xlb.listen='8080': want PORT/tcp, PORT/udp or "
	  "ADDR:PORT/PROTO" },
	{ "web_1", "xlb.listen", "8080/sctp",
	  "container xlbdm-web-1: label xlb.listen='8080/sctp': want PORT/tcp, PORT/udp or "
	  "ADDR:PORT/PROTO" },
	{ "web_1", "xlb.listen", "x:8080/tcp",
	  "container xlbdm-web-1: label xlb.listen='x:8080/tcp': invalid IPv4 address" },
	{ "web_1", "xlb.listen", "0/tcp",
	  "container xlbdm-web-1: label xlb.listen='0/tcp': not a port number (1-65535)" },
	{ "web_1", "xlb.weight", "0",
	  "container xlbdm-web-1: label xlb.weight='0': not a weight (1-65535)" },
	{ "web_1", "xlb.weight", "65536",
	  "container xlbdm-web-1: label xlb.weight='65536': not a weight (1-65535)" },
	{ "web_1", "xlb.weight", "1.5",
	  "container xlbdm-web-1: label xlb.weight='1.5': not a weight (1-65535)" },
	{ "web_1", "xlb.proto", "udp",
	  "container xlbdm-web-1: label xlb.proto='udp': want http, https or tls" },
	{ "web_1", "xlb.proto", "TLS",
	  "container xlbdm-web-1: label xlb.proto='TLS': want http, https or tls" },
	{ "web_1", "xlb.hots", "a.example", "container xlbdm-web-1: unknown label 'xlb.hots'" },
	{ "web_1", "xlb.healthcheck", "udp",
	  "container xlbdm-web-1: label xlb.healthcheck='udp': unknown check kind 'udp' "
	  "(want tcp or http:/path)" },
	{ "web_1", "xlb.healthcheck", "http:healthz",
	  "container xlbdm-web-1: label xlb.healthcheck='http:healthz': http path must start "
	  "with '/'" },
	{ "web_1", "xlb.healthcheck.interval", "1.5s",
	  "container xlbdm-web-1: label xlb.healthcheck.interval='1.5s': interval '1.5s' is "
	  "not a duration (like 500ms, 2s or 1m)" },
	{ "web_1", "xlb.healthcheck.rise", "0",
	  "container xlbdm-web-1: label xlb.healthcheck.rise='0': rise '0' is not a whole "
	  "number from 1 to 100" },
	{ "web_1", "xlb.healthcheck.retries", "3",
	  "container xlbdm-web-1: label xlb.healthcheck.retries='3': unknown health check "
	  "option 'retries' (want interval, timeout, rise or fall)" },
	/* options without the check they tune */
	{ "web_1", "xlb.healthcheck", NULL,
	  "container xlbdm-web-1: labels xlb.healthcheck.* need label xlb.healthcheck (tcp or "
	  "http:/path)" },
	/* each option alone is valid; together they are not */
	{ "web_1", "xlb.healthcheck.timeout", "10s",
	  "container xlbdm-web-1: label xlb.healthcheck: timeout 10s is longer than interval "
	  "5s" },
	{ "hc_healthy", "xlb.host", NULL,
	  "container xlbdm-hc-healthy: has xlb labels but neither xlb.host nor xlb.listen" },
	{ "hc_healthy", "xlb.port", NULL,
	  "container xlbdm-hc-healthy: no label xlb.port and no exposed port" },
	{ "multi", "xlb.port", NULL,
	  "container xlbdm-multi: several exposed ports (8000/tcp, 9000/tcp): set label "
	  "xlb.port" },
	{ "multi", "xlb.network", "xlbdm-v4",
	  "container xlbdm-multi: label xlb.network='xlbdm-v4': not on that network (on: "
	  "bridge, xlbdm-v6)" },
	{ "vhost", "xlb.network", "host",
	  "container xlbdm-vhost: label xlb.network='host': not on that network (on: "
	  "bridge)" },
};

static void assert_rejected(json_t *root, const char *want)
{
	struct xlb_dcontainer c;
	char err[512];
	int rc = parse_json(root, &c, err, sizeof(err));

	json_decref(root);
	if (rc != -EINVAL)
		fail_msg("rc=%d, want -EINVAL and: %s", rc, want);
	assert_string_equal(err, want);
	assert_null(strpbrk(err, "\n\r\"")); /* one line, fits in err="..." */
	assert_null(c.hosts);
	assert_int_equal(c.n_hosts, 0);
}

static void test_bad_labels(void **state)
{
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad_labels) / sizeof(bad_labels[0]); i++) {
		const struct bad_label *b = &bad_labels[i];
		json_t *root;

		snprintf(name, sizeof(name), "inspect_%s.json", b->fixture);
		root = load(name);
		label_set(root, b->key, b->val);
		assert_rejected(root, b->err);
	}
}

/* A label with 20,000 names (each compared with the others at every
 * apply) is refused in one line; 1,024 routes are still taken. */
static void test_too_many_routes(void **state)
{
	size_t cap = 20000 * 16, len = 0;
	char *val = malloc(cap);
	struct xlb_dcontainer c;
	char err[512];
	json_t *root;

	(void)state;
	assert_non_null(val);
	for (int i = 0; i < 20000; i++)
		len += (size_t)snprintf(val + len, cap - len, "%sh%d.t", i ? "," : "", i);
	root = load("inspect_web_1.json");
	label_set(root, "xlb.host", val);
	assert_rejected(root,
			"container xlbdm-web-1: more than 1024 routes (host names times paths)");
	/* 1024 names: all routed */
	len = 0;
	for (int i = 0; i < 1024; i++)
		len += (size_t)snprintf(val + len, cap - len, "%sh%d.t", i ? "," : "", i);
	root = load("inspect_web_1.json");
	label_set(root, "xlb.host", val);
	assert_int_equal(parse_json(root, &c, err, sizeof(err)), 1);
	assert_int_equal(c.n_hosts, 1024);
	json_decref(root);
	xlb_dcontainer_free(&c);
	free(val);
}

static void test_bad_virtual_env(void **state)
{
	json_t *root = load("inspect_vhost.json");

	(void)state;
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=shop.example", "VIRTUAL_PORT=http"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_PORT='http': not a port number "
			      "(1-65535)");
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST=shop_example"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST='shop_example': invalid "
			      "host name 'shop_example'");
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST=~^(a"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST='~^(a': bad regex at "
			      "offset 3: missing closing parenthesis");
}

/* Replaces Config.Env; the capture's two exposed ports need a port. */
static void env_set(json_t *root, json_t *env)
{
	label_set(root, "xlb.port", "9090");
	env_only(root, env);
}

static void assert_route(const struct xlb_dcontainer *c, size_t i, const char *host,
			 const char *path, uint8_t scheme)
{
	assert_true(i < c->n_hosts);
	assert_string_equal(c->hosts[i], host);
	assert_string_equal(c->paths[i].prefix, path);
	assert_int_equal(c->paths[i].scheme, scheme);
}

/* xlb.host items with paths, xlb.path for the others, xlb.path.strip. */
static void test_label_routes(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	label_set(root, "xlb.host", "api.app.dev, App.app.dev/api/");
	label_set(root, "xlb.path", "/v1,/v2");
	label_set(root, "xlb.path.strip", "true");
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 3);
	assert_route(&c, 0, "api.app.dev", "/v1", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "app.app.dev", "/api", XLB_SCHEME_HTTP);
	assert_route(&c, 2, "api.app.dev", "/v2", XLB_SCHEME_HTTP);
	assert_true(c.strip_path);
	xlb_dcontainer_free(&c);

	/* one route named twice, with and without its "/", or with the path
	 * xlb.path gives it, is one route */
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev, b.dev/v1, a.dev/, b.dev, a.dev");
	label_set(root, "xlb.path", "/v1");
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 3);
	assert_route(&c, 0, "a.dev", "/v1", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "b.dev", "/v1", XLB_SCHEME_HTTP);
	assert_route(&c, 2, "a.dev", "/", XLB_SCHEME_HTTP);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json"); /* VIRTUAL_PATH is not for xlb.host */
	label_set(root, "xlb.host", "a.dev");
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=b.dev", "VIRTUAL_PATH=/x"));
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 1);
	assert_route(&c, 0, "a.dev", "/", XLB_SCHEME_HTTP);
	assert_false(c.strip_path);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json"); /* xlb.proto=https: every route is https */
	label_set(root, "xlb.host", "a.dev,b.dev/api");
	label_set(root, "xlb.proto", "https");
	label_set(root, "xlb.tls.acme", "true");
	label_set(root, "xlb.tls.redirect", "true");
	label_set(root, "xlb.tls.hsts", "86400");
	parse_ok(root, &c);
	assert_true(c.acme);
	assert_true(c.https_redirect);
	assert_true(c.hsts);
	assert_int_equal(c.hsts_secs, 86400);
	assert_int_equal(c.n_hosts, 2);
	assert_route(&c, 0, "a.dev", "/", XLB_SCHEME_HTTPS);
	assert_route(&c, 1, "b.dev", "/api", XLB_SCHEME_HTTPS);
	assert_false(c.tls);
	xlb_dcontainer_free(&c);
}

/* nginx-proxy's VIRTUAL_PATH and VIRTUAL_DEST; dockercloud-haproxy's
 * VIRTUAL_HOST=[scheme://]domain[:port][/path] items. */
static void test_virtual_routes(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_set(root, json_pack("[sss]", "VIRTUAL_HOST=shop.example,www.shop.example",
				"VIRTUAL_PATH=/api/", "VIRTUAL_DEST=/"));
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 2);
	assert_route(&c, 0, "shop.example", "/api", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "www.shop.example", "/api", XLB_SCHEME_HTTP);
	assert_true(c.strip_path);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	env_set(root,
		json_pack("[ss]",
			  "VIRTUAL_HOST=http://App.app.dev/api, https://x.y, ws://w.dev:8080/ws,"
			  " wss://s.dev:443",
			  "VIRTUAL_PORT=9090"));
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 4);
	assert_route(&c, 0, "app.app.dev", "/api", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "x.y", "/", XLB_SCHEME_HTTPS);
	assert_route(&c, 2, "w.dev", "/ws", XLB_SCHEME_HTTP);
	assert_route(&c, 3, "s.dev", "/", XLB_SCHEME_HTTPS);
	assert_false(c.strip_path);
	assert_false(c.https_redirect);
	assert_int_equal(c.port, 9090);
	xlb_dcontainer_free(&c);

	/* nginx-proxy's wildcards and regex; a regex keeps its case and its
	 * ':' is no port */
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[s]", "VIRTUAL_HOST=Shop.*, *.shop.example, ~^(?:API)\\d+\\.x$"));
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 3);
	assert_route(&c, 0, "shop.*", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "*.shop.example", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 2, "~^(?:API)\\d+\\.x$", "/", XLB_SCHEME_HTTP);
	xlb_dcontainer_free(&c);
}

/* dockercloud-haproxy's certificates are passed on as given (with its
 * "\n" of two characters, '=' and all); with one, a VIRTUAL_HOST item
 * without a scheme is https (dockercloud-haproxy served it on 443 too),
 * an item with one keeps it. */
static void test_virtual_host_with_ssl_cert(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_set(root,
		json_pack("[ss]",
			  "VIRTUAL_HOST=bare.example, http://plain.example, https://tls.example,"
			  " ws://w.example",
			  "SSL_CERT=-----BEGIN PRIVATE KEY-----\\nAB==\\n"));
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 4);
	assert_route(&c, 0, "bare.example", "/", XLB_SCHEME_HTTPS);
	assert_route(&c, 1, "plain.example", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 2, "tls.example", "/", XLB_SCHEME_HTTPS);
	assert_route(&c, 3, "w.example", "/", XLB_SCHEME_HTTP);
	assert_string_equal(c.ssl_cert, "-----BEGIN PRIVATE KEY-----\\nAB==\\n");
	assert_null(c.default_ssl_cert);
	xlb_dcontainer_free(&c);
	assert_null(c.ssl_cert);

	/* a container's DEFAULT_SSL_CERT is a certificate of its own too */
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=bare.example", "DEFAULT_SSL_CERT=pem"));
	parse_ok(root, &c);
	assert_route(&c, 0, "bare.example", "/", XLB_SCHEME_HTTPS);
	assert_null(c.ssl_cert);
	assert_string_equal(c.default_ssl_cert, "pem");
	xlb_dcontainer_free(&c);

	/* an empty one is none: the items stay plain */
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=bare.example", "SSL_CERT="));
	parse_ok(root, &c);
	assert_route(&c, 0, "bare.example", "/", XLB_SCHEME_HTTP);
	assert_null(c.ssl_cert);
	xlb_dcontainer_free(&c);

	/* routes from labels keep their proto; the certificate still goes on */
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=bare.example", "SSL_CERT=pem"));
	label_set(root, "xlb.host", "label.example");
	parse_ok(root, &c);
	assert_int_equal(c.n_hosts, 1);
	assert_route(&c, 0, "label.example", "/", XLB_SCHEME_HTTP);
	assert_string_equal(c.ssl_cert, "pem");
	xlb_dcontainer_free(&c);
}

/* A bad label skips the container, certificate and all, and its error
 * line never holds the certificate. */
static void test_ssl_cert_not_in_errors(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;
	char err[512];

	(void)state;
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=bare.example", "SSL_CERT=SECRETKEY"));
	label_set(root, "xlb.port", "eighty");
	assert_int_equal(parse_json(root, &c, err, sizeof(err)), -EINVAL);
	json_decref(root);
	assert_null(strstr(err, "SECRETKEY"));
	assert_null(c.ssl_cert);
}

static void test_bad_routes(void **state)
{
	json_t *root = load("inspect_vhost.json");

	(void)state;
	env_set(root, json_pack("[s]", "VIRTUAL_HOST=ftp://a.dev"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST='ftp://a.dev': unknown "
			      "scheme 'ftp' (want http, https, ws or wss)");
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[s]", "VIRTUAL_HOST=a.dev:http/x"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST='a.dev:http/x': bad port "
			      "in 'a.dev:http/x'");
	root = load("inspect_vhost.json");
	env_set(root, json_pack("[ss]", "VIRTUAL_HOST=a.dev", "VIRTUAL_PATH=/a/../b"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_PATH='/a/../b': bad path "
			      "'/a/../b': has a '.' or '..' segment");
	root = load("inspect_vhost.json");
	env_set(root,
		json_pack("[sss]", "VIRTUAL_HOST=a.dev", "VIRTUAL_PATH=/a", "VIRTUAL_DEST=/b"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_DEST='/b': only / (strip the "
			      "VIRTUAL_PATH prefix) is supported");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev/x y");
	assert_rejected(root, "container xlbdm-vhost: label xlb.host='a.dev/x y': bad path '/x y': "
			      "has a space or control character");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.path.strip", "yes");
	assert_rejected(root, "container xlbdm-vhost: label xlb.path.strip='yes': want true or "
			      "false");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev/x");
	label_set(root, "xlb.proto", "tls");
	assert_rejected(root, "container xlbdm-vhost: route a.dev/x: paths need xlb.proto=http");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.tls.acme", "yes");
	assert_rejected(root,
			"container xlbdm-vhost: label xlb.tls.acme='yes': want true or false");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.forward_headers", "no");
	assert_rejected(root, "container xlbdm-vhost: label xlb.forward_headers='no': want true or "
			      "false");
}

/* xlb.forward_headers=false: the service's requests go without the
 * forwarding headers; true and no label: with them. */
static void test_forward_headers_label(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.forward_headers", "false");
	parse_ok(root, &c);
	assert_true(c.no_forward_headers);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.forward_headers", "true");
	parse_ok(root, &c);
	assert_false(c.no_forward_headers);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "a.dev");
	parse_ok(root, &c);
	assert_false(c.no_forward_headers);
	xlb_dcontainer_free(&c);
}

/* A label's value lands in one log line inside err="...": a newline or a
 * quote in it must not end the line or the value. */
static void test_error_stays_one_line(void **state)
{
	json_t *root = load("inspect_web_1.json");

	(void)state;
	label_set(root, "xlb.healthcheck.interval", "1\nevent=forged x=\"y");
	assert_rejected(root, "container xlbdm-web-1: label xlb.healthcheck.interval="
			      "'1\\x0aevent=forged x=\\x22y': interval '1\\x0aevent=forged "
			      "x='y' is not a duration (like 500ms, 2s or 1m)");
	root = load("inspect_web_1.json");
	label_set(root, "xlb.\"x\"\n", "1");
	assert_rejected(root, "container xlbdm-web-1: unknown label 'xlb.\\x22x\\x22\\x0a'");
	root = load("inspect_web_1.json");
	label_set(root, "xlb.healthcheck.\"x", "1");
	assert_rejected(root, "container xlbdm-web-1: label xlb.healthcheck.'x='1': unknown "
			      "health check option ''x' (want interval, timeout, rise or fall)");
	/* Docker's names are tame; the message does not rely on it */
	root = load("inspect_web_1.json");
	identity_set(root, ID_WEB_1, "/web\"\n");
	label_set(root, "xlb.port", "abc");
	assert_rejected(root, "container web'\\x0a: label xlb.port='abc': not a port number "
			      "(1-65535)");
}

static void test_not_an_inspect_answer(void **state)
{
	static const char *const bad[] = { "", "[]", "\"x\"", "{", "{\"Id\":\"a\",\"Id\":\"b\"}" };
	/* as the fuzzer found: an empty Id would be a container without a key */
	static const char *const no_id[] = {
		"{}",
		"{\"Id\":\"\",\"Name\":\"/x\",\"Config\":{\"Labels\":{\"xlb.host\":\"a.example\"}}}",
		"{\"Id\":7,\"Name\":\"/x\"}",
		"{\"Id\":\"abc\"}",
	};
	struct xlb_dcontainer c;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(xlb_dmodel_container(bad[i], strlen(bad[i]), &c, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "container inspect: not a JSON object");
	}
	for (size_t i = 0; i < sizeof(no_id) / sizeof(no_id[0]); i++) {
		assert_int_equal(xlb_dmodel_container(no_id[i], strlen(no_id[i]), &c, err,
						      sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "container ?: inspect answer without Id or Name");
	}
}

/* ---- state and networks ------------------------------------------------------- */

struct state_case {
	const char *fixture;
	const char *status; /* non-NULL: State.Status/Running/Restarting as while restarting */
	bool running, serving;
	const char *why_not;
};

static const struct state_case state_cases[] = {
	{ "web_1", NULL, true, true, "" },
	{ "paused", NULL, true, false, "paused" },
	{ "web_1", "restarting", true, false, "restarting" },
	{ "stopped", NULL, false, false, "not running" },
	{ "hc_starting", NULL, true, false, "health=starting" },
	{ "hc_unhealthy", NULL, true, false, "health=unhealthy" },
	{ "hc_healthy", NULL, true, true, "" },
};

static void test_states(void **state)
{
	char name[64];

	(void)state;
	for (size_t i = 0; i < sizeof(state_cases) / sizeof(state_cases[0]); i++) {
		const struct state_case *s = &state_cases[i];
		struct xlb_dcontainer c;
		json_t *root;

		snprintf(name, sizeof(name), "inspect_%s.json", s->fixture);
		root = load(name);
		if (s->status) {
			json_object_set_new(state_of(root), "Status", json_string(s->status));
			json_object_set_new(state_of(root), "Restarting", json_true());
		}
		parse_ok(root, &c);
		if (c.running != s->running || c.serving != s->serving ||
		    strcmp(c.why_not, s->why_not))
			fail_msg("%s %s: running=%d serving=%d why_not=%s", s->fixture,
				 s->status ? s->status : "", c.running, c.serving, c.why_not);
		xlb_dcontainer_free(&c);
	}
}

/* A running container without an address (network mode none, or torn
 * down) has nothing to balance to. */
static void test_running_without_address(void **state)
{
	json_t *root = load("inspect_web_1.json");
	struct xlb_dcontainer c;

	(void)state;
	net_addrs_set(root, "xlbdm-v6", "", "");
	parse_ok(root, &c);
	assert_false(c.running);
	assert_false(c.serving);
	assert_string_equal(c.why_not, "no address");
	assert_false(c.has_addr4);
	assert_false(c.has_addr6);
	xlb_dcontainer_free(&c);
}

static void test_paused_listener(void **state)
{
	struct xlb_dcontainer c;

	(void)state;
	parse_ok(load("inspect_paused.json"), &c);
	assert_string_equal(c.id, ID_PAUSED);
	assert_true(c.has_listen);
	assert_int_equal(c.listen.family, 0); /* on the VIP xlbd is given */
	assert_int_equal(c.listen.port, 5353);
	assert_int_equal(c.listen.proto, IPPROTO_UDP);
	assert_int_equal(c.port, 53);
	assert_int_equal(c.n_hosts, 0);
	xlb_dcontainer_free(&c);
}

static void test_listen_with_address(void **state)
{
	json_t *root = load("inspect_paused.json");
	struct xlb_dcontainer c;

	(void)state;
	label_set(root, "xlb.listen", "[fd00::100]:53/tcp");
	parse_ok(root, &c);
	assert_true(c.has_listen);
	assert_int_equal(c.listen.family, AF_INET6);
	assert_addr(AF_INET6, &c.listen.addr, "fd00::100");
	assert_int_equal(c.listen.port, 53);
	assert_int_equal(c.listen.proto, IPPROTO_TCP);
	xlb_dcontainer_free(&c);
}

static void test_network_choice(void **state)
{
	json_t *root;
	struct xlb_dcontainer c;

	(void)state;
	parse_ok(load("inspect_multi.json"), &c); /* xlb.network=xlbdm-v6 */
	assert_string_equal(c.id, ID_MULTI);
	assert_int_equal(c.port, 9000);
	assert_true(c.has_addr4);
	assert_addr(AF_INET, &c.addr4, "172.30.99.4");
	assert_true(c.has_addr6);
	assert_addr(AF_INET6, &c.addr6, "fd00:d0d0::4");
	xlb_dcontainer_free(&c);

	root = load("inspect_multi.json");
	label_set(root, "xlb.network", "bridge");
	parse_ok(root, &c);
	assert_true(c.has_addr4);
	assert_addr(AF_INET, &c.addr4, "172.17.0.7");
	assert_false(c.has_addr6);
	xlb_dcontainer_free(&c);
}

static void test_ipv6_only(void **state)
{
	json_t *root = load("inspect_web_1.json");
	struct xlb_dcontainer c;

	(void)state;
	net_addrs_set(root, "xlbdm-v6", "", "fd00:d0d0::2");
	parse_ok(root, &c);
	assert_false(c.has_addr4);
	assert_true(c.has_addr6);
	assert_addr(AF_INET6, &c.addr6, "fd00:d0d0::2");
	assert_true(c.running);
	assert_true(c.serving);
	xlb_dcontainer_free(&c);
}

/* ---- container list ------------------------------------------------------------ */

static void test_list_ids(void **state)
{
	static const char *const want[] = { ID_HC_UNHEALTHY, ID_HC_HEALTHY, ID_HC_STARTING,
					    ID_PAUSED,	     ID_MULTI,	    ID_PLAIN,
					    ID_VHOST,	     ID_WEB_2,	    ID_WEB_1 };
	char(*ids)[XLB_DOCKER_ID_LEN];
	size_t len;
	char *text = slurp("list.json", &len);

	(void)state;
	assert_int_equal(xlb_dmodel_list_ids(text, len, &ids), 9);
	for (size_t i = 0; i < 9; i++)
		assert_string_equal(ids[i], want[i]);
	free(ids);
	free(text);
}

static void test_list_odd_answers(void **state)
{
	static const char skipping[] =
		"[{\"Names\":[\"/no-id\"]},{\"Id\":\"abc\"},42,null,{\"Id\":7},"
		"{\"Id\":\"0123456789012345678901234567890123456789012345678901234567890123x\"},"
		"{\"Id\":\"def\"}]";
	static const char *const bad[] = { "{}", "\"[]\"", "[", "", "not json" };
	char(*ids)[XLB_DOCKER_ID_LEN];

	(void)state;
	assert_int_equal(xlb_dmodel_list_ids("[]", 2, &ids), 0);
	free(ids);
	assert_int_equal(xlb_dmodel_list_ids(skipping, strlen(skipping), &ids), 2);
	assert_string_equal(ids[0], "abc");
	assert_string_equal(ids[1], "def");
	free(ids);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ids = (void *)1;
		assert_int_equal(xlb_dmodel_list_ids(bad[i], strlen(bad[i]), &ids), -EINVAL);
		assert_null(ids);
	}
}

/* ---- events -------------------------------------------------------------------- */

/* The first captured line with this Type, Action and Actor name (and
 * signal, when given); malloc'ed. */
static char *event_line(const char *type, const char *action, const char *name, const char *signal)
{
	size_t len;
	char *text = slurp("events.jsonl", &len), *line, *save = NULL, *found = NULL;

	for (line = strtok_r(text, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *ev = json_loads(line, 0, NULL);
		json_t *attrs = json_object_get(json_object_get(ev, "Actor"), "Attributes");
		const char *sig = json_string_value(json_object_get(attrs, "signal"));

		if (!strcmp(json_string_value(json_object_get(ev, "Type")), type) &&
		    !strcmp(json_string_value(json_object_get(ev, "Action")), action) &&
		    !strcmp(json_string_value(json_object_get(attrs, "name")), name) &&
		    (!signal || (sig && !strcmp(sig, signal))))
			found = strdup(line);
		json_decref(ev);
	}
	free(text);
	if (!found)
		fail_msg("no %s %s event of %s in events.jsonl", type, action, name);
	return found;
}

struct event_case {
	const char *type, *action, *name, *signal;
	enum xlb_devent_kind kind;
	const char *id; /* "" when ignored */
};

static const struct event_case event_cases[] = {
	{ "container", "start", "xlbdm-web-1", NULL, XLB_DEV_REFRESH, ID_WEB_1 },
	{ "container", "unpause", "xlbdm-paused", NULL, XLB_DEV_REFRESH, ID_PAUSED },
	{ "container", "health_status: healthy", "xlbdm-hc-healthy", NULL, XLB_DEV_REFRESH,
	  ID_HC_HEALTHY },
	{ "container", "health_status: unhealthy", "xlbdm-hc-unhealthy", NULL, XLB_DEV_REFRESH,
	  ID_HC_UNHEALTHY },
	{ "container", "die", "xlbdm-stopped", NULL, XLB_DEV_GONE, ID_STOPPED },
	{ "container", "stop", "xlbdm-stopped", NULL, XLB_DEV_GONE, ID_STOPPED },
	{ "container", "pause", "xlbdm-paused", NULL, XLB_DEV_GONE, ID_PAUSED },
	{ "container", "destroy", "xlbdm-stopped", NULL, XLB_DEV_GONE, ID_STOPPED },
	{ "container", "kill", "xlbdm-stopped", "15", XLB_DEV_GONE, ID_STOPPED },
	{ "container", "kill", "xlbdm-stopped", "9", XLB_DEV_GONE, ID_STOPPED },
	{ "container", "kill", "xlbdm-web-2", "1", XLB_DEV_IGNORE, "" },
	{ "container", "create", "xlbdm-web-1", NULL, XLB_DEV_IGNORE, "" },
	{ "container", "exec_start: /bin/sh -c true", "xlbdm-hc-healthy", NULL, XLB_DEV_IGNORE,
	  "" },
	{ "container", "exec_die", "xlbdm-hc-healthy", NULL, XLB_DEV_IGNORE, "" },
	/* the network's own Actor.ID is not the container's */
	{ "network", "connect", "xlbdm-v6", NULL, XLB_DEV_REFRESH, ID_WEB_1 },
	{ "network", "disconnect", "xlbdm-v6", NULL, XLB_DEV_REFRESH, ID_MULTI },
	{ "network", "create", "xlbdm-v6", NULL, XLB_DEV_IGNORE, "" },
	{ "image", "tag", "xlbdm/tag:capture", NULL, XLB_DEV_IGNORE, "" },
};

static void test_events(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(event_cases) / sizeof(event_cases[0]); i++) {
		const struct event_case *e = &event_cases[i];
		char *line = event_line(e->type, e->action, e->name, e->signal);
		struct xlb_devent ev;

		assert_int_equal(xlb_dmodel_event(line, strlen(line), &ev), 0);
		if (ev.kind != e->kind || strcmp(ev.id, e->id) || strcmp(ev.action, e->action))
			fail_msg("%s %s of %s: kind=%d id=%s action=%s", e->type, e->action,
				 e->name, ev.kind, ev.id, ev.action);
		free(line);
	}
}

/* Docker sends "oom" before the "die"; none was captured (it needs a
 * container killed for memory): the captured die line, renamed. */
static void test_event_oom(void **state)
{
	char *line = event_line("container", "die", "xlbdm-stopped", NULL);
	json_t *ev = json_loads(line, 0, NULL);
	struct xlb_devent out;
	char *text;

	(void)state;
	json_object_set_new(ev, "status", json_string("oom"));
	json_object_set_new(ev, "Action", json_string("oom"));
	text = json_dumps(ev, JSON_COMPACT);
	assert_int_equal(xlb_dmodel_event(text, strlen(text), &out), 0);
	assert_int_equal(out.kind, XLB_DEV_GONE);
	assert_string_equal(out.id, ID_STOPPED);
	free(text);
	json_decref(ev);
	free(line);
}

static void test_event_odd_lines(void **state)
{
	static const char *const ignored[] = {
		"{}",
		"{\"Type\":\"container\",\"Action\":\"start\"}", /* no Actor.ID */
		"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":7}}",
		"{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"\"}}",
		"{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n\"}}",
		"{\"Type\":\"volume\",\"Action\":\"destroy\",\"Actor\":{\"ID\":\"v\"}}",
	};
	static const char *const bad[] = { "", "{", "[]", "null", "{\"Type\":1,\"Type\":2}" };
	struct xlb_devent ev;

	(void)state;
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++) {
		assert_int_equal(xlb_dmodel_event(ignored[i], strlen(ignored[i]), &ev), 0);
		assert_int_equal(ev.kind, XLB_DEV_IGNORE);
		assert_string_equal(ev.id, "");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(xlb_dmodel_event(bad[i], strlen(bad[i]), &ev), -EINVAL);
}

/* Every line of the captured stream, as xlbd reads it. */
static void test_event_stream(void **state)
{
	size_t len, n = 0, counts[3] = { 0 };
	char *text = slurp("events.jsonl", &len), *line, *save = NULL;
	struct xlb_devent ev;

	(void)state;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(xlb_dmodel_event(line, strlen(line), &ev), 0);
		counts[ev.kind]++;
		n++;
	}
	free(text);
	assert_int_equal(n, 90);
	/* 10 start, unpause, 2 health_status, 7 network connect/disconnect */
	assert_int_equal(counts[XLB_DEV_REFRESH], 20);
	/* pause, 11 kill by 15 or 9, 10 die, stop, 10 destroy */
	assert_int_equal(counts[XLB_DEV_GONE], 33);
}

/* ---- services ------------------------------------------------------------------ */

struct warnings {
	char msg[8][512];
	size_t n;
};

static void collect(void *arg, const char *msg)
{
	struct warnings *w = arg;

	assert_true(w->n < 8);
	snprintf(w->msg[w->n++], sizeof(w->msg[0]), "%s", msg);
}

/* Replica i of xlbdm_web (xlbdm-web-1 made over): its own id, name and
 * addresses .1+i on the captured network. */
static json_t *web_replica(int i)
{
	json_t *root = load("inspect_web_1.json");
	char id[XLB_DOCKER_ID_LEN], name[32], a4[32], a6[32];

	snprintf(id, sizeof(id), "%064x", i);
	snprintf(name, sizeof(name), "xlbdm-web-%d", i);
	snprintf(a4, sizeof(a4), "172.30.99.%d", i + 1);
	snprintf(a6, sizeof(a6), "fd00:d0d0::%d", i + 1);
	identity_set(root, id, name);
	net_addrs_set(root, "xlbdm-v6", a4, a6);
	return root;
}

static void created_set(json_t *root, const char *when)
{
	json_object_set_new(root, "Created", json_string(when));
}

/* The compose labels that say which checkout made a container. */
static void origin_set(json_t *root, const char *dir)
{
	char files[256];

	snprintf(files, sizeof(files), "%s/docker-compose.yml", dir);
	label_set(root, "com.docker.compose.project.working_dir", dir);
	label_set(root, "com.docker.compose.project.config_files", files);
}

/* Puts its one network's entry under another network's name. */
static void net_rename(json_t *root, const char *from, const char *to)
{
	json_t *nets = json_object_get(json_object_get(root, "NetworkSettings"), "Networks");
	json_t *n = json_object_get(nets, from);

	assert_true(json_is_object(n));
	json_incref(n);
	assert_int_equal(json_object_del(nets, from), 0);
	assert_int_equal(json_object_set_new(nets, to, n), 0);
}

/* Container NAME outside compose, created at WHEN, with xlb.host=hc.example
 * (xlbdm-hc-healthy made over); i makes its id. */
static json_t *claimant(const char *name, const char *when, int i)
{
	json_t *root = load("inspect_hc_healthy.json");
	char id[XLB_DOCKER_ID_LEN];

	snprintf(id, sizeof(id), "%064x", 0xc1a1000 + i);
	identity_set(root, id, name);
	if (when)
		created_set(root, when);
	else
		assert_int_equal(json_object_del(root, "Created"), 0);
	return root;
}

static const struct xlb_cfg_service *service_named(const struct xlb_dmodel *m, const char *name)
{
	for (size_t i = 0; i < m->cfg.n_services; i++)
		if (!strcmp(m->cfg.services[i].name, name))
			return &m->cfg.services[i];
	fail_msg("no service %s", name);
	return NULL;
}

static void free_all(struct xlb_dcontainer *cs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		xlb_dcontainer_free(&cs[i]);
}

static void build_with(struct xlb_dcontainer *cs, size_t n, const struct xlb_dmodel_opts *o,
		       struct xlb_dmodel *m, struct warnings *w)
{
	const struct xlb_dcontainer *ptrs[8];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &cs[i];
	memset(w, 0, sizeof(*w));
	assert_int_equal(xlb_dmodel_build(ptrs, n, o, m, collect, w), 0);
}

static void build(struct xlb_dcontainer *cs, size_t n, const struct xlb_endpoint *vip,
		  struct xlb_dmodel *m, struct warnings *w)
{
	build_with(cs, n, &(struct xlb_dmodel_opts){ .vip = vip }, m, w);
}

/* A build after one whose holds are in *held, which then holds this one's. */
static void build_after(struct xlb_dcontainer *cs, size_t n, const struct xlb_endpoint *vip,
			struct xlb_dholds *held, struct xlb_dmodel *m, struct warnings *w)
{
	build_with(cs, n, &(struct xlb_dmodel_opts){ .vip = vip, .held = held }, m, w);
	xlb_dmodel_keep_holds(m, held);
}

/* Bit i set when 172.30.99.(i+1):8000 is among the backends. */
static unsigned backend_set(const struct xlb_cfg_service *s)
{
	unsigned set = 0;

	for (size_t i = 0; i < s->n_backends; i++) {
		uint32_t a = ntohl(s->backends[i].ep.addr.v4);

		assert_int_equal(s->backends[i].ep.family, AF_INET);
		assert_int_equal(s->backends[i].ep.port, 8000);
		assert_int_equal(a >> 8, 0xac1e63); /* 172.30.99.0/24 */
		assert_false(set & (1u << ((a & 0xff) - 1)));
		set |= 1u << ((a & 0xff) - 1);
	}
	return set;
}

static void test_build_replicas(void **state)
{
	static const int order[5] = { 3, 1, 5, 2, 4 };
	struct xlb_dcontainer cs[5];
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;
	unsigned checked = 0;

	(void)state;
	for (int i = 0; i < 5; i++)
		parse_ok(web_replica(order[i]), &cs[i]);
	build(cs, 5, NULL, &m, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(m.cfg.n_services, 1);
	s = &m.cfg.services[0];
	assert_string_equal(s->name, "xlbdm_web");
	assert_true(s->tls);
	assert_false(s->has_listen);
	assert_int_equal(s->n_hosts, 2);
	assert_string_equal(s->hosts[0], "a.example");
	assert_string_equal(s->hosts[1], "b.example");
	assert_int_equal(s->n_backends, 5);
	/* host-routed, with both families: the IPv4 address */
	assert_int_equal(backend_set(s), 0x3e); /* .2 .. .6 */
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(s->backends[i].weight, 3);
		assert_false(s->backends[i].draining);
	}
	assert_int_equal(m.n_checks, 5);
	for (size_t i = 0; i < m.n_checks; i++) {
		assert_string_equal(m.checks[i].service, "xlbdm_web");
		assert_int_equal(m.checks[i].spec.kind, XLB_HC_HTTP);
		assert_string_equal(m.checks[i].spec.path, "/healthz");
		assert_int_equal(m.checks[i].spec.interval_ms, 5000);
		assert_int_equal(m.checks[i].ep.port, 8000);
		checked |= 1u << ((ntohl(m.checks[i].ep.addr.v4) & 0xff) - 1);
	}
	assert_int_equal(checked, 0x3e);
	xlb_dmodel_free(&m);
	free_all(cs, 5);
}

/* Paused: a draining backend (its flows finish). Stopped: none at all. */
static void test_build_draining_and_stopped(void **state)
{
	struct xlb_dcontainer cs[3];
	json_t *paused = web_replica(2), *stopped = web_replica(3);
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	json_object_set_new(state_of(paused), "Paused", json_true());
	json_object_set_new(state_of(stopped), "Running", json_false());
	parse_ok(web_replica(1), &cs[0]);
	parse_ok(paused, &cs[1]);
	parse_ok(stopped, &cs[2]);
	build(cs, 3, NULL, &m, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(m.cfg.n_services, 1);
	s = &m.cfg.services[0];
	assert_int_equal(s->n_backends, 2);
	assert_int_equal(backend_set(s), 0x6); /* .2 and .3 */
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(s->backends[i].draining,
				 ntohl(s->backends[i].ep.addr.v4) == 0xac1e6303);
	assert_int_equal(m.n_checks, 2); /* the stopped one is not checked */
	xlb_dmodel_free(&m);
	free_all(cs, 3);
}

static void env_add(json_t *root, const char *item)
{
	json_t *config = json_object_get(root, "Config"), *env = json_object_get(config, "Env");

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(config, "Env", env);
	}
	assert_int_equal(json_array_append_new(env, json_string(item)), 0);
}

/* Certificates go with running containers, in the model's order, also
 * from a container whose service lost every name (envcerts.c refuses it
 * by the container's name); a stopped container offers none. */
static void test_build_cert_offers(void **state)
{
	json_t *winner = load("inspect_hc_healthy.json"),
	       *loser = load("inspect_hc_unhealthy.json");
	json_t *stopped = web_replica(3);
	struct xlb_dcontainer cs[3];
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	env_add(winner, "SSL_CERT=pem-winner");
	env_add(loser, "SSL_CERT=pem-loser");
	env_add(loser, "DEFAULT_SSL_CERT=pem-loser-default");
	env_add(stopped, "SSL_CERT=pem-stopped");
	json_object_set_new(state_of(stopped), "Running", json_false());
	parse_ok(loser, &cs[0]);
	parse_ok(stopped, &cs[1]);
	parse_ok(winner, &cs[2]);
	build(cs, 3, NULL, &m, &w);
	assert_int_equal(w.n, 1); /* hc.example went to xlbdm-hc-healthy */
	assert_int_equal(m.n_certs, 3);
	assert_string_equal(m.certs[0].container, "xlbdm-hc-healthy");
	assert_string_equal(m.certs[0].service, "xlbdm-hc-healthy");
	assert_string_equal(m.certs[0].id, ID_HC_HEALTHY);
	assert_string_equal(m.certs[0].var, "SSL_CERT");
	assert_ptr_equal(m.certs[0].pem, cs[2].ssl_cert);
	assert_string_equal(m.certs[1].container, "xlbdm-hc-unhealthy");
	assert_string_equal(m.certs[1].var, "SSL_CERT");
	assert_string_equal(m.certs[1].pem, "pem-loser");
	assert_string_equal(m.certs[2].container, "xlbdm-hc-unhealthy");
	assert_string_equal(m.certs[2].var, "DEFAULT_SSL_CERT");
	assert_string_equal(m.certs[2].pem, "pem-loser-default");
	xlb_dmodel_free(&m);
	assert_null(m.certs);
	free_all(cs, 3);
}

/* Given in the other order: the older service keeps the host. */
static void test_build_host_conflict(void **state)
{
	struct xlb_dcontainer cs[2];
	json_t *loser = load("inspect_hc_unhealthy.json");
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	label_set(loser, "xlb.host", "hc.example, other.example");
	parse_ok(loser, &cs[0]);
	parse_ok(load("inspect_hc_healthy.json"), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0],
			    "service xlbdm-hc-unhealthy: host hc.example is held by service "
			    "xlbdm-hc-healthy; not routed to container xlbdm-hc-unhealthy");
	assert_int_equal(m.cfg.n_services, 2);
	s = service_named(&m, "xlbdm-hc-healthy");
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "hc.example");
	assert_int_equal(s->n_backends, 1);
	assert_false(s->backends[0].draining);
	s = service_named(&m, "xlbdm-hc-unhealthy");
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "other.example");
	assert_int_equal(s->n_backends, 1);
	assert_true(s->backends[0].draining); /* Docker says unhealthy */
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

/* The loser had only that name and no listener: nothing left to serve it
 * by, so neither it nor its checks are in the model. */
static void test_build_drops_service_without_names(void **state)
{
	struct xlb_dcontainer cs[2];
	json_t *loser = load("inspect_hc_unhealthy.json");
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	label_set(loser, "xlb.healthcheck", "tcp");
	parse_ok(loser, &cs[0]);
	parse_ok(load("inspect_hc_healthy.json"), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0],
			    "service xlbdm-hc-unhealthy: host hc.example is held by service "
			    "xlbdm-hc-healthy; not routed to container xlbdm-hc-unhealthy");
	assert_int_equal(m.cfg.n_services, 1);
	assert_string_equal(m.cfg.services[0].name, "xlbdm-hc-healthy");
	assert_int_equal(m.n_checks, 0);
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

/* Host names are per proto: the same name over http and over tls is two
 * routes, no conflict. */
static void test_build_same_host_other_proto(void **state)
{
	struct xlb_dcontainer cs[2];
	json_t *tls = load("inspect_hc_unhealthy.json");
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	label_set(tls, "xlb.proto", "tls");
	parse_ok(tls, &cs[0]);
	parse_ok(load("inspect_hc_healthy.json"), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	/* one route, one service, whatever the protocols: the older one's */
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.msg[0], "hc.example is held by service xlbdm-hc-healthy"));
	assert_int_equal(m.cfg.n_services, 1);
	assert_string_equal(service_named(&m, "xlbdm-hc-healthy")->hosts[0], "hc.example");
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

static void test_build_listen_on_vip(void **state)
{
	struct xlb_endpoint vip = { .family = AF_INET };
	struct xlb_dcontainer c;
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "10.200.0.100", &vip.addr.v4), 1);
	parse_ok(load("inspect_paused.json"), &c);
	build(&c, 1, &vip, &m, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(m.cfg.n_services, 1);
	s = &m.cfg.services[0];
	assert_string_equal(s->name, "xlbdm-paused");
	assert_true(s->has_listen);
	assert_int_equal(s->listen.family, AF_INET);
	assert_addr(AF_INET, &s->listen.addr, "10.200.0.100");
	assert_int_equal(s->listen.port, 5353);
	assert_int_equal(s->listen.proto, IPPROTO_UDP);
	assert_int_equal(s->n_hosts, 0);
	assert_int_equal(s->n_backends, 1);
	assert_int_equal(s->backends[0].ep.family, AF_INET);
	assert_addr(AF_INET, &s->backends[0].ep.addr, "172.17.0.3");
	assert_int_equal(s->backends[0].ep.port, 53);
	assert_true(s->backends[0].draining); /* paused */
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

/* An IPv6 VIP takes the backends' IPv6 addresses. */
static void test_build_listen_on_ipv6_vip(void **state)
{
	struct xlb_endpoint vip = { .family = AF_INET6 };
	json_t *root = load("inspect_web_1.json");
	struct xlb_dcontainer c;
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	assert_int_equal(inet_pton(AF_INET6, "fd00::100", vip.addr.v6), 1);
	label_set(root, "xlb.listen", "8443/tcp");
	parse_ok(root, &c);
	build(&c, 1, &vip, &m, &w);
	s = &m.cfg.services[0];
	assert_true(s->has_listen);
	assert_int_equal(s->listen.family, AF_INET6);
	assert_addr(AF_INET6, &s->listen.addr, "fd00::100");
	assert_int_equal(s->n_backends, 1);
	assert_int_equal(s->backends[0].ep.family, AF_INET6);
	assert_addr(AF_INET6, &s->backends[0].ep.addr, "fd00:d0d0::2");
	assert_int_equal(s->n_hosts, 2); /* and still routed by name */
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

/* On the default VIP (the host's own address) a label must not take a
 * privileged port: the listener is not published, the names still are. */
static void test_build_listen_below_min_port(void **state)
{
	struct xlb_endpoint vip = { .family = AF_INET };
	json_t *root = load("inspect_web_1.json");
	struct xlb_dmodel_opts o = { .vip = &vip, .min_listen_port = 1024 };
	const struct xlb_dcontainer *ptrs[1];
	struct xlb_dcontainer c;
	struct xlb_dmodel m;
	struct warnings w = { 0 };

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "10.200.0.1", &vip.addr.v4), 1);
	label_set(root, "xlb.listen", "22/tcp");
	parse_ok(root, &c);
	ptrs[0] = &c;
	assert_int_equal(xlb_dmodel_build(ptrs, 1, &o, &m, collect, &w), 0);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0],
			    "service xlbdm_web: label xlb.listen on container xlbdm-web-1: "
			    "port 22 is below --docker-min-listen-port 1024; not published");
	assert_int_equal(m.cfg.n_services, 1);
	assert_false(m.cfg.services[0].has_listen);
	assert_int_equal(m.cfg.services[0].n_hosts, 2);
	xlb_dmodel_free(&m);

	/* the operator lowers the bar: published */
	o.min_listen_port = 22;
	memset(&w, 0, sizeof(w));
	assert_int_equal(xlb_dmodel_build(ptrs, 1, &o, &m, collect, &w), 0);
	assert_int_equal(w.n, 0);
	assert_true(m.cfg.services[0].has_listen);
	assert_int_equal(m.cfg.services[0].listen.port, 22);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

static void test_build_listen_without_vip(void **state)
{
	json_t *named = load("inspect_paused.json");
	struct xlb_dcontainer c;
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	parse_ok(load("inspect_paused.json"), &c);
	build(&c, 1, NULL, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service xlbdm-paused: label xlb.listen on container "
				      "xlbdm-paused needs a VIP: start xlbd with --vip or --iface");
	assert_int_equal(m.cfg.n_services, 0); /* nothing else to serve it by */
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);

	/* with a name it stays, routed by name only */
	label_set(named, "xlb.host", "dns.example");
	parse_ok(named, &c);
	build(&c, 1, NULL, &m, &w);
	assert_int_equal(w.n, 1);
	assert_int_equal(m.cfg.n_services, 1);
	s = &m.cfg.services[0];
	assert_false(s->has_listen);
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "dns.example");
	assert_int_equal(s->n_backends, 1);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

static void test_build_listen_conflict(void **state)
{
	struct xlb_endpoint vip = { .family = AF_INET };
	struct xlb_dcontainer cs[2];
	json_t *b = load("inspect_hc_healthy.json");
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "10.200.0.100", &vip.addr.v4), 1);
	label_set(b, "xlb.listen", "10.200.0.100:5353/udp");
	created_set(b, "2026-11-25T03:04:29Z"); /* older than xlbdm-paused */
	parse_ok(b, &cs[0]);
	parse_ok(load("inspect_paused.json"), &cs[1]);
	build(cs, 2, &vip, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service xlbdm-paused: listen 10.200.0.100:5353/udp is "
				      "held by service xlbdm-hc-healthy; not published for "
				      "container xlbdm-paused");
	/* xlbdm-paused had nothing but the listener */
	assert_int_equal(m.cfg.n_services, 1);
	assert_string_equal(m.cfg.services[0].name, "xlbdm-hc-healthy");
	assert_true(m.cfg.services[0].has_listen);
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

/* Replicas that disagree: the service is what its oldest container says
 * (of one age, the first by name). */
static void test_build_replicas_disagree(void **state)
{
	struct xlb_dcontainer cs[2];
	json_t *second = web_replica(2);
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	label_set(second, "xlb.proto", "http");
	label_set(second, "xlb.host", "c.example");
	label_set(second, "xlb.weight", "7");
	parse_ok(second, &cs[0]);
	parse_ok(web_replica(1), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service xlbdm_web: container xlbdm-web-2 has "
				      "xlb.proto=http but the service is tls (from container "
				      "xlbdm-web-1)");
	s = &m.cfg.services[0];
	assert_true(s->tls);
	assert_int_equal(s->n_hosts, 3); /* names merged from all */
	assert_string_equal(s->hosts[2], "c.example");
	assert_int_equal(s->n_backends, 2);
	/* weights stay per backend */
	assert_int_equal(s->backends[0].weight + s->backends[1].weight, 10);
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

static void test_build_nothing(void **state)
{
	const struct xlb_dcontainer *none[1] = { NULL };
	struct xlb_dmodel m;

	(void)state;
	assert_int_equal(xlb_dmodel_build(none, 0, &(struct xlb_dmodel_opts){ 0 }, &m, NULL, NULL),
			 0);
	assert_int_equal(m.cfg.n_services, 0);
	assert_int_equal(m.n_checks, 0);
	xlb_dmodel_free(&m);
}

/* xlb.forward_headers=false reaches the service the model builds. */
static void test_build_forward_headers(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	label_set(root, "xlb.host", "a.dev");
	label_set(root, "xlb.forward_headers", "false");
	parse_ok(root, &c);
	build(&c, 1, NULL, &m, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(m.cfg.n_services, 1);
	assert_true(m.cfg.services[0].no_forward_headers);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

/* ---- labels are anyone's: contested names, forged compose labels ------------------ */

/* Nothing held yet (xlbd just started): a contested name goes to the
 * service created first, not to the one whose name sorts first; of one age,
 * the first by name; a container whose age is unknown is the youngest. */
static void test_build_claims_by_creation_time(void **state)
{
	static const struct {
		const char *api, *evil, *winner;
	} cases[] = {
		{ "2026-11-25T03:04:30.5Z", "2026-11-25T03:04:30.500000001Z", "api" },
		{ "2026-11-25T03:04:30.5Z", "2026-11-25T04:04:30.4+01:00", "0evil" },
		{ "2026-11-25T03:04:30.5Z", "2026-11-25T03:04:30.5Z", "0evil" },
		{ "2026-11-25T03:04:30.5Z", NULL, "api" },
		{ "2026-11-25T03:04:30.5Z", "yesterday", "api" },
	};
	struct xlb_dcontainer cs[2];
	struct xlb_dmodel m;
	struct warnings w;
	char want[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *loser = strcmp(cases[i].winner, "api") ? "api" : "0evil";

		parse_ok(claimant("api", cases[i].api, 1), &cs[0]);
		parse_ok(claimant("0evil", cases[i].evil, 2), &cs[1]);
		build(cs, 2, NULL, &m, &w);
		assert_int_equal(m.cfg.n_services, 1);
		assert_string_equal(m.cfg.services[0].name, cases[i].winner);
		snprintf(want, sizeof(want),
			 "service %s: host hc.example is held by service %s; not routed to "
			 "container %s",
			 loser, cases[i].winner, loser);
		assert_int_equal(w.n, 1);
		assert_string_equal(w.msg[0], want);
		xlb_dmodel_free(&m);
		free_all(cs, 2);
	}
}

/* Who holds a name keeps it while it has containers, whoever is older; a
 * name whose holder is gone goes to the next claimant, which holds it
 * then. */
static void test_build_holder_keeps_name(void **state)
{
	struct xlb_dholds held = { 0 };
	struct xlb_dcontainer cs[2];
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	/* api alone holds hc.example */
	parse_ok(claimant("api", "2026-11-25T03:04:30Z", 1), &cs[0]);
	build_after(cs, 1, NULL, &held, &m, &w);
	assert_int_equal(m.cfg.n_services, 1);
	xlb_dmodel_free(&m);
	/* 0evil is older (it was stopped, say): api keeps the name */
	parse_ok(claimant("0evil", "2026-11-25T03:00:00Z", 2), &cs[1]);
	build_after(cs, 2, NULL, &held, &m, &w);
	assert_int_equal(m.cfg.n_services, 1);
	assert_string_equal(m.cfg.services[0].name, "api");
	assert_int_equal(m.cfg.services[0].n_backends, 1);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service 0evil: host hc.example is held by service api; "
				      "not routed to container 0evil");
	xlb_dmodel_free(&m);
	/* api's last container is gone: the name is free, 0evil gets it */
	build_after(cs + 1, 1, NULL, &held, &m, &w);
	assert_int_equal(w.n, 0);
	assert_string_equal(m.cfg.services[0].name, "0evil");
	xlb_dmodel_free(&m);
	/* and holds it against a new api container */
	xlb_dcontainer_free(&cs[0]);
	parse_ok(claimant("api", "2026-11-25T03:10:00Z", 3), &cs[0]);
	build_after(cs, 2, NULL, &held, &m, &w);
	assert_string_equal(m.cfg.services[0].name, "0evil");
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service api: host hc.example is held by service 0evil; "
				      "not routed to container api");
	xlb_dmodel_free(&m);
	xlb_dholds_free(&held);
	free_all(cs, 2);
}

/* The same for a listener: held, it stays with its service against an
 * older claimant. */
static void test_build_listen_holder_keeps_it(void **state)
{
	struct xlb_endpoint vip = { .family = AF_INET };
	struct xlb_dholds held = { 0 };
	struct xlb_dcontainer cs[2];
	json_t *older = load("inspect_hc_healthy.json");
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	assert_int_equal(inet_pton(AF_INET, "10.200.0.100", &vip.addr.v4), 1);
	parse_ok(load("inspect_paused.json"), &cs[0]);
	build_after(cs, 1, &vip, &held, &m, &w);
	assert_true(m.cfg.services[0].has_listen);
	xlb_dmodel_free(&m);
	label_set(older, "xlb.listen", "10.200.0.100:5353/udp");
	created_set(older, "2026-11-25T03:04:29Z"); /* before xlbdm-paused */
	parse_ok(older, &cs[1]);
	build_after(cs, 2, &vip, &held, &m, &w);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service xlbdm-hc-healthy: listen 10.200.0.100:5353/udp is "
				      "held by service xlbdm-paused; not published for container "
				      "xlbdm-hc-healthy");
	assert_true(service_named(&m, "xlbdm-paused")->has_listen);
	assert_false(service_named(&m, "xlbdm-hc-healthy")->has_listen);
	xlb_dmodel_free(&m);
	xlb_dholds_free(&held);
	free_all(cs, 2);
}

/* Copied compose labels do not make a replica: a container joins xlbdm_web
 * with the service's working_dir and config_files (then whatever its
 * network); one from elsewhere is a service of its own, whose names the
 * service keeps and whose certificate never names the service. */
static void test_build_forged_compose_labels(void **state)
{
	json_t *real1 = web_replica(1), *real2 = web_replica(2), *forged = web_replica(3);
	struct xlb_dcontainer cs[3];
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	origin_set(real1, "/src/app");
	origin_set(real2, "/src/app");
	origin_set(forged, "/tmp/evil");
	created_set(real2, "2026-11-25T03:04:40Z");
	created_set(forged, "2026-11-25T03:05:00Z");
	net_rename(real2, "xlbdm-v6", "xlbdm-other");
	net_rename(forged, "xlbdm-v6", "bridge");
	env_add(forged, "SSL_CERT=pem-forged");
	parse_ok(forged, &cs[0]);
	parse_ok(real2, &cs[1]);
	parse_ok(real1, &cs[2]);
	build(cs, 3, NULL, &m, &w);
	assert_int_equal(m.cfg.n_services, 1); /* the forged one lost every name */
	s = service_named(&m, "xlbdm_web");
	assert_int_equal(s->n_backends, 2);
	assert_int_equal(backend_set(s), 0x6); /* .2 and .3 */
	assert_int_equal(w.n, 3);
	assert_string_equal(w.msg[0],
			    "service xlbdm_web: container xlbdm-web-3 is not one of its containers "
			    "(its compose project, working_dir or config_files differ, and it "
			    "shares no network with them); served as service "
			    "xlbdm_web.xlbdm-web-3");
	assert_string_equal(w.msg[1], "service xlbdm_web.xlbdm-web-3: host a.example is held by "
				      "service xlbdm_web; not routed to container xlbdm-web-3");
	assert_string_equal(w.msg[2], "service xlbdm_web.xlbdm-web-3: host b.example is held by "
				      "service xlbdm_web; not routed to container xlbdm-web-3");
	assert_int_equal(m.n_certs, 1);
	assert_string_equal(m.certs[0].service, "xlbdm_web.xlbdm-web-3");
	xlb_dmodel_free(&m);
	free_all(cs, 3);
}

/* nginx-proxy's port rule for a container with its variables only:
 * VIRTUAL_PORT, else the only exposed port, else 80. */
static void test_virtual_port_default_80(void **state)
{
	json_t *root = load("inspect_vhost.json"); /* exposes 8080 and 9090 */
	struct xlb_dcontainer c;

	(void)state;
	env_only(root, json_pack("[s]", "VIRTUAL_HOST=shop.example"));
	parse_ok(root, &c);
	assert_int_equal(c.port, 80);
	xlb_dcontainer_free(&c);
}

/* network_mode host: reached on loopback (the proxy runs in the host's
 * namespace); no L4 listener, which XDP could not forward to loopback. */
static void test_host_network(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=shop.example", "VIRTUAL_PORT=8088"));
	json_object_set_new(json_object_get(root, "HostConfig"), "NetworkMode",
			    json_string("host"));
	json_object_set_new(json_object_get(root, "NetworkSettings"), "Networks",
			    json_pack("{s{ss}}", "host", "IPAddress", ""));
	parse_ok(root, &c);
	assert_true(c.host_network);
	assert_true(c.has_addr4);
	assert_addr(AF_INET, &c.addr4, "127.0.0.1");
	assert_false(c.has_addr6);
	assert_int_equal(c.port, 8088);
	assert_true(c.serving);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_PORT=8088"));
	label_set(root, "xlb.listen", "9000/tcp");
	label_set(root, "xlb.port", "8088");
	json_object_set_new(json_object_get(root, "HostConfig"), "NetworkMode",
			    json_string("host"));
	assert_rejected(root, "container xlbdm-vhost: label xlb.listen: a container on the host's "
			      "network (network_mode host) is reached on loopback, where XDP "
			      "cannot forward");
}

/* nginx-proxy's HTTPS_METHOD and HSTS, on a container with its variables
 * only; with xlb labels, they are not read. */
static void test_https_method(void **state)
{
	static const struct {
		const char *method, *hsts;
		bool redirect, only, hsts_on, https;
		uint32_t secs;
	} cases[] = {
		{ "redirect", NULL, true, false, true, true, 31536000 },
		{ "redirect", "off", true, false, false, true, 0 },
		{ "noredirect", "max-age=60", false, false, false, true, 0 },
		{ "nohttp", "max-age=60; preload", false, true, true, true, 60 },
		{ "nohttps", NULL, false, false, false, false, 0 },
		{ NULL, "max-age=60", false, false, true, true, 60 },
	};
	struct xlb_dcontainer c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *root = load("inspect_vhost.json");
		json_t *env =
			json_pack("[ss]", "VIRTUAL_HOST=https://shop.example", "VIRTUAL_PORT=1");

		if (cases[i].method)
			json_array_append_new(env,
					      json_sprintf("HTTPS_METHOD=%s", cases[i].method));
		if (cases[i].hsts)
			json_array_append_new(env, json_sprintf("HSTS=%s", cases[i].hsts));
		env_only(root, env);
		parse_ok(root, &c);
		assert_int_equal(c.https_redirect, cases[i].redirect);
		assert_int_equal(c.https_only, cases[i].only);
		assert_int_equal(c.hsts, cases[i].hsts_on);
		if (cases[i].hsts_on)
			assert_int_equal(c.hsts_secs, cases[i].secs);
		assert_int_equal(c.paths[0].scheme,
				 cases[i].https ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP);
		xlb_dcontainer_free(&c);
	}
	json_t *root = load("inspect_vhost.json");

	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "HTTPS_METHOD=always"));
	assert_rejected(root, "container xlbdm-vhost: env HTTPS_METHOD='always': want redirect, "
			      "noredirect, nohttp or nohttps");
}

/* The certificate files test_cert_files has: one names b.example, a
 * wildcard covers *.w.example, "shared" names nothing of the tests'. */
static bool fake_has_cert(void *arg, const char *host, const char *stem)
{
	const char *dot = strchr(host, '.');

	++*(int *)arg;
	if (stem)
		return strcmp(stem, "shared") == 0;
	return strcmp(host, "b.example") == 0 || (dot && strcmp(dot, ".w.example") == 0);
}

/* nginx-proxy's rule: a route is https where a certificate file serves
 * its host (or CERT_NAME's file is there), with its default redirect
 * and HSTS unless HTTPS_METHOD or HSTS say otherwise. */
static void cert_files_case(const char *const *env, bool https_a, bool https_b, bool redirect,
			    bool hsts)
{
	json_t *root = load("inspect_vhost.json");
	json_t *e = json_pack("[ss]", "VIRTUAL_HOST=a.example,b.example,x.w.example",
			      "VIRTUAL_PORT=8000");
	int asked = 0;
	struct xlb_dmodel_opts o = { .has_cert = fake_has_cert, .cert_arg = &asked };
	const struct xlb_cfg_service *s;
	struct xlb_dcontainer c;
	struct xlb_dmodel m;
	struct warnings w;

	for (; env && *env; env++)
		json_array_append_new(e, json_string(*env));
	env_only(root, e);
	parse_ok(root, &c);
	build_with(&c, 1, &o, &m, &w);
	s = &m.cfg.services[0];
	assert_int_equal(s->n_hosts, 3);
	assert_int_equal(s->paths[0].scheme, https_a ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP);
	assert_int_equal(s->paths[1].scheme, https_b ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP);
	assert_int_equal(s->paths[2].scheme, https_b ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP);
	assert_int_equal(s->https_redirect, redirect);
	assert_int_equal(s->hsts_set, hsts);
	if (hsts && !env)
		assert_int_equal(s->hsts_secs, 31536000);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

static void test_cert_files(void **state)
{
	(void)state;
	cert_files_case(NULL, false, true, true, true);
	cert_files_case((const char *[]){ "HSTS=off", NULL }, false, true, true, false);
	cert_files_case((const char *[]){ "HTTPS_METHOD=noredirect", NULL }, false, true, false,
			false);
	cert_files_case((const char *[]){ "HTTPS_METHOD=nohttps", NULL }, false, false, false,
			false);
	cert_files_case((const char *[]){ "CERT_NAME=shared", NULL }, true, true, true, true);
	cert_files_case((const char *[]){ "CERT_NAME=absent", NULL }, false, false, false, false);

	/* without a certificate directory, or with xlb labels, nothing is
	 * asked: the container says where https is */
	json_t *root = load("inspect_vhost.json");
	int asked = 0;
	struct xlb_dmodel_opts o = { .has_cert = fake_has_cert, .cert_arg = &asked };
	struct xlb_dcontainer c;
	struct xlb_dmodel m;
	struct warnings w;

	label_set(root, "xlb.host", "b.example");
	parse_ok(root, &c);
	build_with(&c, 1, &o, &m, &w);
	assert_int_equal(asked, 0);
	assert_int_equal(m.cfg.services[0].paths[0].scheme, XLB_SCHEME_HTTP);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "CERT_NAME=../etc/x"));
	assert_rejected(root, "container xlbdm-vhost: env CERT_NAME='../etc/x': not a certificate "
			      "file's name (letters, digits, '.', '_', '-')");
}

/* acme-companion's LETSENCRYPT_HOST: those of the container's names are
 * https and get their certificates from xlbd's ACME client, redirected
 * as nginx-proxy does by default; other names stay plain. */
static void test_letsencrypt_host(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_only(root, json_pack("[sss]", "VIRTUAL_HOST=a.example,b.example,c.example",
				 "VIRTUAL_PORT=8000",
				 "LETSENCRYPT_HOST= B.example,c.example , z.example"));
	parse_ok(root, &c);
	assert_true(c.acme);
	assert_route(&c, 0, "a.example", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "b.example", "/", XLB_SCHEME_HTTPS);
	assert_route(&c, 2, "c.example", "/", XLB_SCHEME_HTTPS);
	assert_true(c.https_redirect);
	assert_true(c.hsts);
	assert_int_equal(c.hsts_secs, 31536000);
	xlb_dcontainer_free(&c);

	/* HTTPS_METHOD=noredirect: both sites; none of its names: no ACME */
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[sss]", "VIRTUAL_HOST=a.example", "HTTPS_METHOD=noredirect",
				 "LETSENCRYPT_HOST=a.example"));
	parse_ok(root, &c);
	assert_true(c.acme);
	assert_false(c.https_redirect);
	assert_false(c.hsts);
	xlb_dcontainer_free(&c);
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "LETSENCRYPT_HOST=b.example"));
	parse_ok(root, &c);
	assert_false(c.acme);
	assert_false(c.https_redirect);
	assert_route(&c, 0, "a.example", "/", XLB_SCHEME_HTTP);
	xlb_dcontainer_free(&c);
}

/* xlbd's own container: found by the mount of its hostname file, not
 * by a container directory mounted elsewhere (as the host's mountinfo
 * shows every container's shm). */
static void test_own_id(void **state)
{
	static const char id[] = "3c1f5b8d2e4a6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e";
	char line[1024], got[XLB_DOCKER_ID_LEN];

	(void)state;
	snprintf(line, sizeof(line),
		 "812 790 0:52 / /dev/shm rw - tmpfs shm rw\n"
		 "813 790 254:1 /var/lib/docker/containers/%s/resolv.conf /etc/resolv.conf rw - "
		 "ext4 /dev/vda1 rw\n"
		 "814 790 254:1 /var/lib/docker/containers/%s/hostname /etc/hostname rw - ext4 "
		 "/dev/vda1 rw\n",
		 id, id);
	assert_int_equal(xlb_dmodel_own_id(line, got), 0);
	assert_string_equal(got, id);
	snprintf(
		line, sizeof(line),
		"90 29 0:48 / /var/lib/docker/containers/%s/mounts/shm rw - tmpfs shm rw\n"
		"91 29 254:1 /var/lib/docker/containers/%s/hostname /mnt/x rw - ext4 /dev/vda1 rw\n",
		id, id);
	assert_int_equal(xlb_dmodel_own_id(line, got), -ENOENT);
	assert_int_equal(xlb_dmodel_own_id("", got), -ENOENT);
}

/* Its networks, unless it is on the host's network. */
static void test_own_networks(void **state)
{
	json_t *root = load("inspect_multi.json");
	char **names, *text;
	size_t n;

	(void)state;
	text = json_dumps(root, 0);
	assert_int_equal(xlb_dmodel_own_networks(text, strlen(text), &names, &n), 0);
	assert_int_equal(n, 2);
	assert_true((!strcmp(names[0], "bridge") && !strcmp(names[1], "xlbdm-v6")) ||
		    (!strcmp(names[1], "bridge") && !strcmp(names[0], "xlbdm-v6")));
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(text);
	json_object_set_new(json_object_get(root, "HostConfig"), "NetworkMode",
			    json_string("host"));
	text = json_dumps(root, 0);
	assert_int_equal(xlb_dmodel_own_networks(text, strlen(text), &names, &n), 0);
	assert_int_equal(n, 0);
	assert_null(names);
	free(text);
	json_decref(root);
	assert_int_equal(xlb_dmodel_own_networks("[]", 2, &names, &n), -EINVAL);
}

/* Several networks and no xlb.network: no error; the build takes the
 * first of its options' networks the container is on (the operator's,
 * then xlbd's own container's), else the first by name, warned. */
static void test_network_chosen_by_build(void **state)
{
	static const char *const prefer[] = { "xlbdm-none", "xlbdm-v6" };
	struct xlb_dmodel_opts o = { .networks = prefer, .n_networks = 2 };
	const struct xlb_cfg_service *s;
	struct xlb_dcontainer c;
	struct xlb_dmodel m;
	struct warnings w;
	json_t *root = load("inspect_multi.json");

	(void)state;
	label_set(root, "xlb.network", NULL);
	parse_ok(root, &c);
	assert_true(c.network_open);
	assert_false(c.has_addr4);
	build_with(&c, 1, &o, &m, &w);
	assert_int_equal(w.n, 0);
	s = service_named(&m, "xlbdm-multi");
	assert_int_equal(s->n_backends, 1);
	assert_addr(AF_INET, &s->backends[0].ep.addr, "172.30.99.4");
	xlb_dmodel_free(&m);
	/* the container itself is left as parsed */
	assert_true(c.network_open);

	build_with(&c, 1, &(struct xlb_dmodel_opts){ 0 }, &m, &w);
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.msg[0], "container xlbdm-multi is on several networks (bridge, "
					 "xlbdm-v6), none of them xlb's: using bridge"));
	s = service_named(&m, "xlbdm-multi");
	assert_addr(AF_INET, &s->backends[0].ep.addr, "172.17.0.7");
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&c);
}

/* One from elsewhere that shares the service's own network joins it (an
 * external network, a `docker run --network`); Docker's default bridge,
 * which any container is on, does not count. */
static void test_build_shared_network_joins(void **state)
{
	const char *nets[2] = { "xlbdm-v6", "bridge" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		json_t *real = web_replica(1), *other = web_replica(2);
		struct xlb_dcontainer cs[2];
		struct xlb_dmodel m;
		struct warnings w;

		origin_set(real, "/src/app");
		origin_set(other, "/srv/elsewhere");
		created_set(other, "2026-11-25T03:05:00Z");
		if (strcmp(nets[i], "xlbdm-v6")) {
			net_rename(real, "xlbdm-v6", nets[i]);
			net_rename(other, "xlbdm-v6", nets[i]);
		}
		parse_ok(other, &cs[0]);
		parse_ok(real, &cs[1]);
		build(cs, 2, NULL, &m, &w);
		assert_int_equal(m.cfg.n_services, 1);
		assert_int_equal(backend_set(service_named(&m, "xlbdm_web")), i ? 0x2 : 0x6);
		assert_int_equal(w.n, i ? 3 : 0);
		xlb_dmodel_free(&m);
		free_all(cs, 2);
	}
}

/* After a recreate every container of the service is newer than a forged
 * look-alike: the origin the service held decides who is in it (by age
 * alone the look-alike would be the service, with its names). */
static void test_build_held_origin_keeps_service(void **state)
{
	json_t *real1 = web_replica(1), *real2 = web_replica(2), *forged = web_replica(3);
	struct xlb_dholds held = { 0 };
	struct xlb_dcontainer cs[2];
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	origin_set(real1, "/src/app");
	origin_set(real2, "/src/app");
	origin_set(forged, "/tmp/evil");
	created_set(forged, "2026-11-25T03:04:30Z");
	created_set(real2, "2026-11-25T03:09:00Z");
	net_rename(forged, "xlbdm-v6", "bridge");
	parse_ok(real1, &cs[0]);
	build_after(cs, 1, NULL, &held, &m, &w);
	xlb_dmodel_free(&m);
	xlb_dcontainer_free(&cs[0]);
	parse_ok(real2, &cs[0]);
	parse_ok(forged, &cs[1]);
	build_after(cs, 2, NULL, &held, &m, &w);
	assert_int_equal(m.cfg.n_services, 1);
	assert_int_equal(backend_set(service_named(&m, "xlbdm_web")), 0x4); /* .3 */
	assert_int_equal(service_named(&m, "xlbdm_web")->n_hosts, 2);
	assert_int_equal(w.n, 3);
	assert_non_null(strstr(w.msg[0], "container xlbdm-web-3 is not one of its containers"));
	xlb_dmodel_free(&m);
	xlb_dholds_free(&held);
	free_all(cs, 2);
}

/* The split-off name is another service's: the container is not balanced. */
static void test_build_split_name_taken(void **state)
{
	json_t *real = web_replica(1), *forged = web_replica(3), *named = web_replica(4);
	struct xlb_dcontainer cs[3];
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	origin_set(forged, "/tmp/evil");
	created_set(forged, "2026-11-25T03:05:00Z");
	net_rename(forged, "xlbdm-v6", "bridge");
	label_set(named, "com.docker.compose.service", "web.xlbdm-web-3");
	label_set(named, "xlb.host", "c.example");
	parse_ok(real, &cs[0]);
	parse_ok(forged, &cs[1]);
	parse_ok(named, &cs[2]);
	build(cs, 3, NULL, &m, &w);
	assert_int_equal(m.cfg.n_services, 2);
	assert_int_equal(backend_set(service_named(&m, "xlbdm_web")), 0x2);
	assert_int_equal(backend_set(service_named(&m, "xlbdm_web.xlbdm-web-3")), 0x10);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0],
			    "service xlbdm_web: container xlbdm-web-3 is not one of its containers "
			    "(its compose project, working_dir or config_files differ, and it "
			    "shares no network with them); not balanced: no free name for a "
			    "service of its own");
	xlb_dmodel_free(&m);
	free_all(cs, 3);
}

/* Many services with many names (mixed case), each claiming its own 300,
 * and every odd one the 300 of the service before it too: each name ends
 * with the oldest claimer, and in the next build held names stay with
 * their holders even when the order of creation says otherwise. */
#define MANY_SVCS 40
#define MANY_NAMES 300

static void many_fill(struct xlb_dcontainer *c, int i, uint64_t created)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%064d", i);
	snprintf(c->name, sizeof(c->name), "many-%d", i);
	snprintf(c->service, sizeof(c->service), "many_s%d", i);
	c->running = c->serving = true;
	c->has_addr4 = true;
	c->addr4.v4 = htonl(0x0a000002u + (uint32_t)i);
	c->port = 80;
	c->weight = 1;
	c->created_ns = created;
	c->n_hosts = (i % 2 ? 2 : 1) * MANY_NAMES;
	c->hosts = calloc(c->n_hosts, sizeof(*c->hosts));
	c->paths = calloc(c->n_hosts, sizeof(*c->paths));
	assert_non_null(c->hosts);
	assert_non_null(c->paths);
	for (size_t h = 0; h < c->n_hosts; h++) {
		/* its own names, then the previous service's */
		int owner = h < MANY_NAMES ? i : i - 1;

		snprintf(c->hosts[h], sizeof(c->hosts[h]), "N%d-%zu.Many.Test", owner,
			 h % MANY_NAMES);
		snprintf(c->paths[h].prefix, sizeof(c->paths[h].prefix), "/");
	}
}

static void silent(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* s's names: how many of service k's own it has, for each k */
static void names_by_origin(const struct xlb_cfg_service *s, int *count)
{
	memset(count, 0, MANY_SVCS * sizeof(*count));
	for (size_t h = 0; h < s->n_hosts; h++) {
		int k, n;

		assert_int_equal(sscanf(s->hosts[h], "N%d-%d.", &k, &n), 2);
		count[k]++;
	}
}

static const struct xlb_cfg_service *svc_named(const struct xlb_dmodel *m, const char *name)
{
	for (size_t i = 0; i < m->cfg.n_services; i++)
		if (!strcmp(m->cfg.services[i].name, name))
			return &m->cfg.services[i];
	return NULL;
}

static void test_build_many_names_go_to_the_oldest_and_stay_held(void **state)
{
	static struct xlb_dcontainer c[MANY_SVCS];
	const struct xlb_dcontainer *cs[MANY_SVCS];
	struct xlb_dholds held = { 0 };
	struct xlb_dmodel_opts o = { .held = &held };
	struct xlb_dmodel m;
	int count[MANY_SVCS];
	char name[32];

	(void)state;
	for (int i = 0; i < MANY_SVCS; i++) {
		many_fill(&c[i], i, (uint64_t)i + 1); /* s0 oldest */
		cs[i] = &c[i];
	}
	assert_int_equal(xlb_dmodel_build(cs, MANY_SVCS, &o, &m, silent, NULL), 0);
	for (int i = 0; i < MANY_SVCS; i++) {
		const struct xlb_cfg_service *s;

		snprintf(name, sizeof(name), "many_s%d", i);
		s = svc_named(&m, name);
		assert_non_null(s);
		names_by_origin(s, count);
		/* its own names only: the older one before it keeps its own */
		assert_int_equal(count[i], MANY_NAMES);
		assert_int_equal(s->n_hosts, MANY_NAMES);
	}
	xlb_dmodel_keep_holds(&m, &held);
	xlb_dmodel_free(&m);
	/* s1 is now older than s0 (recreated with an older time, say): by
	 * age it would take s0's names, but s0 holds them */
	c[1].created_ns = 0;
	assert_int_equal(xlb_dmodel_build(cs, MANY_SVCS, &o, &m, silent, NULL), 0);
	assert_non_null(svc_named(&m, "many_s0"));
	names_by_origin(svc_named(&m, "many_s0"), count);
	assert_int_equal(count[0], MANY_NAMES);
	names_by_origin(svc_named(&m, "many_s1"), count);
	assert_int_equal(count[0], 0);
	assert_int_equal(count[1], MANY_NAMES);
	xlb_dmodel_free(&m);
	xlb_dholds_free(&held);
	/* without the holds, age decides: s1 takes s0's names, s0 is left
	 * with nothing to serve by and is not in the model */
	o.held = NULL;
	assert_int_equal(xlb_dmodel_build(cs, MANY_SVCS, &o, &m, silent, NULL), 0);
	assert_null(svc_named(&m, "many_s0"));
	names_by_origin(svc_named(&m, "many_s1"), count);
	assert_int_equal(count[0], MANY_NAMES);
	xlb_dmodel_free(&m);
	for (int i = 0; i < MANY_SVCS; i++)
		xlb_dcontainer_free(&c[i]);
}

/* ---- nginx-proxy's VIRTUAL_PROTO and VIRTUAL_HOST_MULTIPORTS ------------------- */

/* nginx-proxy's second example, with every variable it overrides set to
 * what would be an error if it were read. */
#define DOC_PATHS                  \
	"VIRTUAL_HOST_MULTIPORTS=" \
	"www.example.org:\n"       \
	"  \"/\":\n"               \
	"  \"/service1\":\n"       \
	"    port: 8000\n"         \
	"    dest: \"/\"\n"        \
	"  \"/service2\":\n"       \
	"    port: 9443\n"         \
	"    proto: \"https\"\n"   \
	"    dest: \"/\"\n"        \
	"API.example.org:\n"       \
	"  \"/\": { port: 8000 }\n"

static void assert_part(const struct xlb_dcontainer *c, size_t i, const char *service,
			uint16_t port, bool backend_tls, bool strip, size_t first, size_t n_hosts)
{
	assert_true(i < c->n_parts);
	assert_string_equal(c->parts[i].service, service);
	assert_int_equal(c->parts[i].port, port);
	assert_int_equal(c->parts[i].backend_tls, backend_tls);
	assert_int_equal(c->parts[i].strip_path, strip);
	assert_int_equal(c->parts[i].first, first);
	assert_int_equal(c->parts[i].n_hosts, n_hosts);
}

/* One part per (port, proto, dest), each with its routes; ports left
 * out are the default (80: the capture exposes two ports); VIRTUAL_HOST,
 * VIRTUAL_PORT, VIRTUAL_PROTO, VIRTUAL_PATH and VIRTUAL_DEST are not read. */
static void test_multiports_parts(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_only(root,
		 json_pack("[ssssss]", DOC_PATHS, "VIRTUAL_HOST=other.example", "VIRTUAL_PORT=abc",
			   "VIRTUAL_PROTO=grpc", "VIRTUAL_PATH=/nope", "VIRTUAL_DEST=/rewrite"));
	parse_ok(root, &c);
	assert_int_equal(c.port, 80);
	assert_false(c.backend_tls);
	assert_false(c.strip_path);
	assert_int_equal(c.n_hosts, 4);
	assert_route(&c, 0, "www.example.org", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "api.example.org", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 2, "www.example.org", "/service1", XLB_SCHEME_HTTP);
	assert_route(&c, 3, "www.example.org", "/service2", XLB_SCHEME_HTTP);
	assert_int_equal(c.n_parts, 4);
	assert_part(&c, 0, "xlbdm-vhost-80", 80, false, false, 0, 1);
	assert_part(&c, 1, "xlbdm-vhost-8000", 8000, false, false, 1, 1);
	assert_part(&c, 2, "xlbdm-vhost-8000-strip", 8000, false, true, 2, 1);
	assert_part(&c, 3, "xlbdm-vhost-9443-https-strip", 9443, true, true, 3, 1);
	xlb_dcontainer_free(&c);
	assert_null(c.parts);
	assert_int_equal(c.n_parts, 0);
}

/* The default port is the only exposed one; written out, the same port
 * is the same part. */
static void test_multiports_default_port(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	json_object_set_new(json_object_get(root, "Config"), "ExposedPorts",
			    json_pack("{s:{}}", "8000/tcp"));
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS={\"a.example\": {}, "
					"\"b.example\": {\"/x\": {\"port\": 8000}}}"));
	parse_ok(root, &c);
	assert_int_equal(c.port, 8000);
	assert_int_equal(c.n_parts, 1);
	assert_part(&c, 0, "xlbdm-vhost-8000", 8000, false, false, 0, 2);
	assert_route(&c, 0, "a.example", "/", XLB_SCHEME_HTTP);
	assert_route(&c, 1, "b.example", "/x", XLB_SCHEME_HTTP);
	xlb_dcontainer_free(&c);
}

/* Empty, it is not set (as VIRTUAL_HOST=""); with xlb labels, not read. */
static void test_multiports_unset(void **state)
{
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST_MULTIPORTS= \n", "VIRTUAL_HOST=a.example"));
	parse_ok(root, &c);
	assert_int_equal(c.n_parts, 0);
	assert_int_equal(c.n_hosts, 1);
	assert_string_equal(c.hosts[0], "a.example");
	xlb_dcontainer_free(&c);

	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS="));
	assert_ignored(root);

	root = load("inspect_vhost.json");
	label_set(root, "xlb.host", "label.example");
	label_set(root, "xlb.port", "8080");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS=bad: [yaml"));
	parse_ok(root, &c);
	assert_int_equal(c.n_parts, 0);
	assert_string_equal(c.hosts[0], "label.example");
	xlb_dcontainer_free(&c);

	/* only MULTIPORTS: a container to balance */
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS=only.example:"));
	parse_ok(root, &c);
	assert_int_equal(c.n_parts, 1);
	assert_part(&c, 0, "xlbdm-vhost-80", 80, false, false, 0, 1);
	xlb_dcontainer_free(&c);
}

#define N60 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"

static void test_multiports_errors(void **state)
{
	json_t *root = load("inspect_vhost.json");
	char name[80];

	(void)state;
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS=a.example: { /x: { port: 0 } }"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST_MULTIPORTS: host "
			      "'a.example' path '/x': port '0': not a port number (1-65535)");
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS=test1.example\ntest2.example:"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_HOST_MULTIPORTS: line 2 column "
			      "14: mapping values are not allowed in this context");
	/* a part's name must be a service name that fits: 60 + "-80" does,
	 * 60 + "-8000" does not */
	root = load("inspect_vhost.json");
	memset(name, 'n', 61);
	name[0] = '/';
	name[61] = '\0';
	identity_set(root, ID_VHOST, name);
	env_only(root, json_pack("[s]", "VIRTUAL_HOST_MULTIPORTS=a.example: { /: { port: 8000 } "
					"}\nb.example: { /: { port: 80 } }"));
	assert_rejected(root, "container " N60 ": env VIRTUAL_HOST_MULTIPORTS: service name '" N60
			      "-8000' is longer than 63");
	/* dockercloud-haproxy's certificate is one service's */
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST_MULTIPORTS=a.example:", "SSL_CERT=SECRET"));
	assert_rejected(root, "container xlbdm-vhost: env SSL_CERT: not with "
			      "VIRTUAL_HOST_MULTIPORTS, whose names are several services' (put "
			      "the certificate in xlbd's certificate directory)");
}

/* nginx-proxy's VIRTUAL_PROTO: https is TLS to the backend; the others
 * are refused; with xlb labels it is not read. */
static void test_virtual_proto(void **state)
{
	static const char *const plain[] = { "VIRTUAL_PROTO=http",
					     "VIRTUAL_PROTO=", "VIRTUAL_PROTOCOL=https" };
	json_t *root = load("inspect_vhost.json");
	struct xlb_dcontainer c;

	(void)state;
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "VIRTUAL_PROTO=https"));
	parse_ok(root, &c);
	assert_true(c.backend_tls);
	assert_int_equal(c.n_parts, 0);
	xlb_dcontainer_free(&c);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		root = load("inspect_vhost.json");
		env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", plain[i]));
		parse_ok(root, &c);
		assert_false(c.backend_tls);
		xlb_dcontainer_free(&c);
	}
	root = load("inspect_vhost.json");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "VIRTUAL_PROTO=uwsgi"));
	assert_rejected(root, "container xlbdm-vhost: env VIRTUAL_PROTO='uwsgi': want http or "
			      "https");
	root = load("inspect_vhost.json");
	label_set(root, "xlb.port", "8080");
	env_only(root, json_pack("[ss]", "VIRTUAL_HOST=a.example", "VIRTUAL_PROTO=fastcgi"));
	parse_ok(root, &c);
	assert_false(c.backend_tls);
	xlb_dcontainer_free(&c);
}

/* Replica i of a compose service with nginx-proxy's variables only:
 * xlbdm-web-i without its xlb labels, exposing 8000. */
static json_t *np_replica(int i, const char *multiports)
{
	static const char *const xlb_labels[] = {
		"xlb.healthcheck",
		"xlb.healthcheck.fall",
		"xlb.healthcheck.interval",
		"xlb.healthcheck.rise",
		"xlb.healthcheck.timeout",
		"xlb.host",
		"xlb.port",
		"xlb.proto",
		"xlb.weight",
	};
	json_t *root = web_replica(i);
	char env[512];

	for (size_t k = 0; k < sizeof(xlb_labels) / sizeof(xlb_labels[0]); k++)
		label_set(root, xlb_labels[k], NULL);
	snprintf(env, sizeof(env), "VIRTUAL_HOST_MULTIPORTS=%s", multiports);
	env_only(root, json_pack("[s]", env));
	return root;
}

#define NP_MULTIPORTS                                             \
	"app.example: { /: {}, /svc: { port: 9000, dest: / } }\n" \
	"svc.example: { /: { port: 9000 } }\n"                    \
	"secure.example: { /: { port: 9443, proto: https } }"

/* Each port a service of its own, the replicas its backends at that port;
 * strip and backend TLS per service. */
static void test_build_multiports(void **state)
{
	struct xlb_dcontainer cs[2];
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;

	(void)state;
	parse_ok(np_replica(1, NP_MULTIPORTS), &cs[0]);
	parse_ok(np_replica(2, NP_MULTIPORTS), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	assert_int_equal(w.n, 0);
	assert_int_equal(m.cfg.n_services, 4);

	s = service_named(&m, "xlbdm_web-8000");
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "app.example");
	assert_string_equal(xlb_cfg_route_path(s, 0), "/");
	assert_false(s->strip_path);
	assert_false(s->backend_tls);
	assert_int_equal(backend_set(s), 0x6); /* .2 and .3 at 8000 */

	s = service_named(&m, "xlbdm_web-9000");
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "svc.example");
	assert_false(s->strip_path);
	assert_int_equal(s->n_backends, 2);
	for (size_t i = 0; i < s->n_backends; i++)
		assert_int_equal(s->backends[i].ep.port, 9000);

	s = service_named(&m, "xlbdm_web-9000-strip");
	assert_int_equal(s->n_hosts, 1);
	assert_string_equal(s->hosts[0], "app.example");
	assert_string_equal(xlb_cfg_route_path(s, 0), "/svc");
	assert_true(s->strip_path);
	assert_false(s->backend_tls);
	assert_int_equal(s->n_backends, 2);
	assert_int_equal(s->backends[0].ep.port, 9000);

	s = service_named(&m, "xlbdm_web-9443-https");
	assert_string_equal(s->hosts[0], "secure.example");
	assert_true(s->backend_tls);
	assert_false(s->strip_path);
	assert_int_equal(s->n_backends, 2);
	assert_int_equal(s->backends[1].ep.port, 9443);
	/* what each part's service held, for the next build */
	assert_int_equal(m.holds.n, 4);
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

/* A part's routes are claimed as any container's: a route another
 * service got first stays there (warned), the part keeps the rest. */
static void test_build_multiports_claims(void **state)
{
	struct xlb_dcontainer cs[2];
	const struct xlb_cfg_service *s;
	struct xlb_dmodel m;
	struct warnings w;
	json_t *older = load("inspect_vhost.json");

	(void)state;
	env_only(older, json_pack("[ss]", "VIRTUAL_HOST=svc.example", "VIRTUAL_PROTO=https"));
	created_set(older, "2020-01-01T00:00:00Z");
	parse_ok(older, &cs[0]);
	parse_ok(np_replica(1, NP_MULTIPORTS), &cs[1]);
	build(cs, 2, NULL, &m, &w);
	assert_int_equal(m.cfg.n_services, 4); /* xlbdm_web-9000 had only svc.example */
	s = service_named(&m, "xlbdm-vhost");
	assert_true(s->backend_tls);
	assert_string_equal(s->hosts[0], "svc.example");
	assert_int_equal(w.n, 1);
	assert_string_equal(w.msg[0], "service xlbdm_web-9000: host svc.example is held by "
				      "service xlbdm-vhost; not routed to container xlbdm-web-1");
	xlb_dmodel_free(&m);
	free_all(cs, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_container),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_port_from_only_exposed_port),
		cmocka_unit_test(test_virtual_host_env),
		cmocka_unit_test(test_labels_win_over_virtual_env),
		cmocka_unit_test(test_ignored_without_xlb_labels),
		cmocka_unit_test(test_bad_labels),
		cmocka_unit_test(test_too_many_routes),
		cmocka_unit_test(test_bad_virtual_env),
		cmocka_unit_test(test_label_routes),
		cmocka_unit_test(test_virtual_routes),
		cmocka_unit_test(test_virtual_host_with_ssl_cert),
		cmocka_unit_test(test_ssl_cert_not_in_errors),
		cmocka_unit_test(test_bad_routes),
		cmocka_unit_test(test_forward_headers_label),
		cmocka_unit_test(test_build_forward_headers),
		cmocka_unit_test(test_error_stays_one_line),
		cmocka_unit_test(test_not_an_inspect_answer),
		cmocka_unit_test(test_states),
		cmocka_unit_test(test_running_without_address),
		cmocka_unit_test(test_paused_listener),
		cmocka_unit_test(test_listen_with_address),
		cmocka_unit_test(test_network_choice),
		cmocka_unit_test(test_network_chosen_by_build),
		cmocka_unit_test(test_own_id),
		cmocka_unit_test(test_https_method),
		cmocka_unit_test(test_cert_files),
		cmocka_unit_test(test_letsencrypt_host),
		cmocka_unit_test(test_virtual_port_default_80),
		cmocka_unit_test(test_host_network),
		cmocka_unit_test(test_own_networks),
		cmocka_unit_test(test_ipv6_only),
		cmocka_unit_test(test_list_ids),
		cmocka_unit_test(test_list_odd_answers),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_event_oom),
		cmocka_unit_test(test_event_odd_lines),
		cmocka_unit_test(test_event_stream),
		cmocka_unit_test(test_build_replicas),
		cmocka_unit_test(test_build_draining_and_stopped),
		cmocka_unit_test(test_build_host_conflict),
		cmocka_unit_test(test_build_drops_service_without_names),
		cmocka_unit_test(test_build_cert_offers),
		cmocka_unit_test(test_build_same_host_other_proto),
		cmocka_unit_test(test_build_listen_on_vip),
		cmocka_unit_test(test_build_listen_on_ipv6_vip),
		cmocka_unit_test(test_build_listen_below_min_port),
		cmocka_unit_test(test_build_listen_without_vip),
		cmocka_unit_test(test_build_listen_conflict),
		cmocka_unit_test(test_build_replicas_disagree),
		cmocka_unit_test(test_build_nothing),
		cmocka_unit_test(test_build_claims_by_creation_time),
		cmocka_unit_test(test_build_holder_keeps_name),
		cmocka_unit_test(test_build_listen_holder_keeps_it),
		cmocka_unit_test(test_build_forged_compose_labels),
		cmocka_unit_test(test_build_shared_network_joins),
		cmocka_unit_test(test_build_held_origin_keeps_service),
		cmocka_unit_test(test_build_split_name_taken),
		cmocka_unit_test(test_build_many_names_go_to_the_oldest_and_stay_held),
		cmocka_unit_test(test_multiports_parts),
		cmocka_unit_test(test_multiports_default_port),
		cmocka_unit_test(test_multiports_unset),
		cmocka_unit_test(test_multiports_errors),
		cmocka_unit_test(test_virtual_proto),
		cmocka_unit_test(test_build_multiports),
		cmocka_unit_test(test_build_multiports_claims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
