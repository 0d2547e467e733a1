// SPDX-License-Identifier: GPL-2.0
/* Routes: host + path prefix. The prefix syntax and segment-boundary match
 * (lib/hostmap), and xlbd's per-request lookup (xlbd/state) on real,
 * unpinned BPF maps: longest prefix, wildcard hosts, conflicts, and the
 * pinned xlb_hosts keys that xlbctl reads. Needs CAP_BPF for the state
 * part; without it those cases are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/hostmap.h"
#include "xlb/map_types.h"
#include "xlbd/state.h"

/* ---- prefixes ----------------------------------------------------------------- */

static void test_path_normalize(void **state)
{
	char out[XLB_PATH_SIZE];
	const char *why;
	char longp[XLB_PATH_MAX + 2];

	(void)state;
	assert_int_equal(xlb_path_normalize("/api/", 5, out, &why), 0);
	assert_string_equal(out, "/api");
	assert_int_equal(xlb_path_normalize("/", 1, out, &why), 0);
	assert_string_equal(out, "/");
	assert_int_equal(xlb_path_normalize("/a/b%20c", 8, out, &why), 0);
	assert_string_equal(out, "/a/b%20c");
	assert_int_equal(xlb_path_normalize("/api", 2, out, &why), 0); /* len, not NUL */
	assert_string_equal(out, "/a");
	assert_int_equal(xlb_path_normalize("api", 3, out, &why), -EINVAL);
	assert_string_equal(why, "does not start with '/'");
	assert_int_equal(xlb_path_normalize("", 0, out, &why), -EINVAL);
	assert_int_equal(xlb_path_normalize("/a/../b", 7, out, &why), -EINVAL);
	assert_string_equal(why, "has a '.' or '..' segment");
	assert_int_equal(xlb_path_normalize("/a/.", 4, out, &why), -EINVAL);
	assert_int_equal(xlb_path_normalize("/a//b", 5, out, &why), -EINVAL);
	assert_int_equal(xlb_path_normalize("/a\tb", 4, out, &why), -EINVAL);
	assert_int_equal(xlb_path_normalize("/a\x7f", 3, out, &why), -EINVAL);
	assert_int_equal(xlb_path_normalize("/a?b", 4, out, &why), -EINVAL);
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	assert_int_equal(xlb_path_normalize(longp, XLB_PATH_MAX, out, &why), 0);
	assert_int_equal(xlb_path_normalize(longp, XLB_PATH_MAX + 1, out, &why), -EINVAL);
}

static int match(const char *prefix, const char *path)
{
	return xlb_path_match(prefix, strlen(prefix), path, strlen(path));
}

static void test_path_match(void **state)
{
	(void)state;
	assert_int_equal(match("/api", "/api"), 4);
	assert_int_equal(match("/api", "/api/"), 4);
	assert_int_equal(match("/api", "/api/x"), 4);
	assert_int_equal(match("/api", "/api?q=1"), 4);
	assert_int_equal(match("/api", "/apix"), -1);
	assert_int_equal(match("/api", "/ap"), -1);
	assert_int_equal(match("/api", "/API"), -1); /* paths are case-sensitive */
	assert_int_equal(match("/api", "/"), -1);
	assert_int_equal(match("/", "/anything"), 0);
	assert_int_equal(match("/", ""), 0);
	assert_int_equal(match("/a/b", "/a/b/c"), 4);
	assert_int_equal(match("/a/b", "/a/bc"), -1);
}

/* ---- state ---------------------------------------------------------------------- */

struct fixture {
	struct xlb_state_maps m;
	struct xlb_state *st;
};

static int map(enum bpf_map_type type, size_t key, size_t val, uint32_t max, int inner)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .inner_map_fd = (uint32_t)inner);

	if (type == BPF_MAP_TYPE_HASH)
		o.map_flags = BPF_F_NO_PREALLOC;
	return bpf_map_create(type, NULL, (uint32_t)key, (uint32_t)val, max,
			      inner >= 0 ? &o : NULL);
}

static int setup(void **state)
{
	static struct fixture f;
	int inner = map(BPF_MAP_TYPE_ARRAY, 4, 4, XLB_MAGLEV_SIZE, -1);

	memset(&f, 0, sizeof(f));
	f.m = (struct xlb_state_maps){
		.hosts = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_host_key),
			     sizeof(struct xlb_host_val), 4 * XLB_MAX_SERVICES, -1),
		.services = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_svc_key),
				sizeof(struct xlb_svc), XLB_MAX_SERVICES, -1),
		.svc_info = map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct xlb_svc_info),
				XLB_MAX_SERVICES, -1),
		.backends = map(BPF_MAP_TYPE_ARRAY, 4, sizeof(struct xlb_backend), XLB_MAX_BACKENDS,
				-1),
		.maglev = map(BPF_MAP_TYPE_ARRAY_OF_MAPS, 4, 4, XLB_MAX_SERVICES, inner),
		.flows = map(BPF_MAP_TYPE_LRU_HASH, sizeof(struct xlb_flow_key),
			     sizeof(struct xlb_flow), 1024, -1),
		.rnat_eps = map(BPF_MAP_TYPE_HASH, sizeof(struct xlb_ep_key),
				sizeof(struct xlb_ep_listeners), XLB_MAX_BACKENDS, -1),
	};
	if (inner >= 0)
		close(inner);
	if (inner < 0 || f.m.hosts < 0 || f.m.services < 0 || f.m.svc_info < 0 ||
	    f.m.backends < 0 || f.m.maglev < 0 || f.m.flows < 0 || f.m.rnat_eps < 0) {
		*state = NULL; /* no BPF here: the state cases skip */
		return 0;
	}
	if (xlb_state_new(&f.m, &f.st))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int *fds;

	if (!f)
		return 0;
	xlb_state_free(f->st);
	fds = &f->m.hosts;
	for (size_t i = 0; i < sizeof(f->m) / sizeof(int); i++)
		close(fds[i]);
	return 0;
}

/* A service with one backend 10.0.0.N:80 and routes "host" or "host/path". */
static int add_svc(struct xlb_state *st, const char *name, uint8_t n, bool strip,
		   struct xlb_err *err, size_t n_routes, const char *const *routes)
{
	char hosts[8][XLB_HOST_LEN];
	struct xlb_cfg_path paths[8];
	struct xlb_endpoint be = { .family = AF_INET, .port = 80 };
	struct xlb_svc_spec spec = { .name = name, .n_hosts = n_routes, .strip_path = strip };
	int e;

	memset(paths, 0, sizeof(paths));
	for (size_t i = 0; i < n_routes; i++) {
		const char *slash = strchr(routes[i], '/');
		size_t hl = slash ? (size_t)(slash - routes[i]) : strlen(routes[i]);

		snprintf(hosts[i], sizeof(hosts[i]), "%.*s", (int)hl, routes[i]);
		snprintf(paths[i].prefix, sizeof(paths[i].prefix), "%s", slash ? slash : "/");
	}
	spec.hosts = (const char(*)[XLB_HOST_LEN])hosts;
	spec.paths = paths;
	e = xlb_state_service_add(st, &spec, true, err);
	if (e)
		return e;
	be.addr.v4 = htonl(0x0a000000u | n);
	return xlb_state_backend_add(st, name, &be, 1, true, err);
}

/* The backend's last octet that serves host + path, or -errno. */
static int route(struct xlb_state *st, const char *host, const char *path, struct xlb_route *r)
{
	int e = xlb_state_route_request(st, false, host, path, strlen(path), 0, r);

	return e ? e : (int)(ntohl(r->backend.addr.v4) & 0xff);
}

static void test_longest_prefix(void **state)
{
	struct fixture *f = *state;
	struct xlb_route r;
	struct xlb_err err;

	if (!f)
		skip();
	assert_int_equal(add_svc(f->st, "app", 1, false, &err, 1, (const char *[]){ "app.dev" }),
			 0);
	assert_int_equal(add_svc(f->st, "api", 2, true, &err, 2,
				 (const char *[]){ "app.dev/api", "api.dev" }),
			 0);
	assert_int_equal(
		add_svc(f->st, "v2", 3, false, &err, 1, (const char *[]){ "app.dev/api/v2" }), 0);
	assert_int_equal(route(f->st, "app.dev", "/", &r), 1);
	assert_int_equal(route(f->st, "APP.dev", "/apix", &r), 1); /* not on a boundary */
	assert_int_equal(route(f->st, "app.dev", "/api", &r), 2);
	assert_true(r.strip_path);
	assert_int_equal(r.prefix_len, 4);
	assert_int_equal(route(f->st, "app.dev", "/api/x?q", &r), 2);
	assert_int_equal(route(f->st, "app.dev", "/api?q", &r), 2);
	assert_int_equal(route(f->st, "app.dev", "/api/v2/users", &r), 3);
	assert_false(r.strip_path);
	assert_int_equal(r.prefix_len, 7);
	assert_int_equal(route(f->st, "app.dev", "/api/v22", &r), 2);
	assert_int_equal(route(f->st, "api.dev", "/anything", &r), 2);
	assert_int_equal(r.prefix_len, 0);
	/* connection-level routing is a request for "/" */
	assert_int_equal(xlb_state_route(f->st, false, "app.dev", 0, &r), 0);
	assert_int_equal(ntohl(r.backend.addr.v4) & 0xff, 1);
	assert_int_equal(route(f->st, "other.dev", "/", &r), -ENOENT);
	assert_int_equal(xlb_state_service_del(f->st, "app", &err), 0);
	assert_int_equal(route(f->st, "app.dev", "/", &r), -ENOENT); /* no "/" route left */
	assert_int_equal(route(f->st, "app.dev", "/api/1", &r), 2);
	assert_int_equal(xlb_state_service_del(f->st, "api", &err), 0);
	assert_int_equal(xlb_state_service_del(f->st, "v2", &err), 0);
}

/* Which ClientHello names xlb terminates: a host with an https route,
 * unless a passthrough (tls) service has the name. */
static void test_terminates(void **state)
{
	static const char hosts[][XLB_HOST_LEN] = { "secure.dev", "*.w.dev", "mixed.dev",
						    "pass.dev" };
	struct xlb_cfg_path paths[4] = { { "/", XLB_SCHEME_HTTPS },
					 { "/", XLB_SCHEME_HTTPS },
					 { "/api", XLB_SCHEME_HTTPS },
					 { "/", XLB_SCHEME_HTTPS } };
	struct xlb_svc_spec web = { .name = "web", .hosts = hosts, .paths = paths, .n_hosts = 3 };
	struct xlb_svc_spec pass = { .name = "pass",
				     .hosts = &hosts[3],
				     .n_hosts = 1,
				     .tls = true };
	struct xlb_svc_spec pass_web = { .name = "pass-web",
					 .hosts = &hosts[3],
					 .paths = &paths[3],
					 .n_hosts = 1 };
	struct fixture *f = *state;
	struct xlb_route r;
	struct xlb_err err;

	if (!f)
		skip();
	assert_int_equal(xlb_state_service_add(f->st, &web, true, &err), 0);
	assert_int_equal(add_svc(f->st, "plain", 2, false, &err, 2,
				 (const char *[]){ "mixed.dev", "plain.dev" }),
			 0);
	assert_int_equal(xlb_state_service_add(f->st, &pass, true, &err), 0);
	/* one name, one service, whatever the protocols */
	assert_int_equal(xlb_state_service_add(f->st, &pass_web, true, &err), -EEXIST);
	assert_string_equal(err.msg, "host pass.dev already used by service pass");
	assert_true(xlb_state_terminates(f->st, "secure.dev"));
	assert_true(xlb_state_terminates(f->st, "SECURE.dev"));
	assert_true(xlb_state_terminates(f->st, "a.w.dev")); /* wildcard */
	/* one https route of the host is enough; requests then route as HTTP */
	assert_true(xlb_state_terminates(f->st, "mixed.dev"));
	assert_int_equal(route(f->st, "mixed.dev", "/", &r), 2);
	assert_false(xlb_state_terminates(f->st, "plain.dev"));
	assert_false(xlb_state_terminates(f->st, "nope.dev"));
	/* passed through: that service has its own certificate */
	assert_false(xlb_state_terminates(f->st, "pass.dev"));
	assert_int_equal(xlb_state_service_del(f->st, "pass", &err), 0);
	assert_int_equal(xlb_state_service_add(f->st, &pass_web, true, &err), 0);
	assert_true(xlb_state_terminates(f->st, "pass.dev"));
	assert_int_equal(xlb_state_service_del(f->st, "pass-web", &err), 0);
	assert_int_equal(xlb_state_service_del(f->st, "web", &err), 0);
	assert_int_equal(xlb_state_service_del(f->st, "plain", &err), 0);
	assert_false(xlb_state_terminates(f->st, "secure.dev"));
}

static void test_wildcard_with_paths(void **state)
{
	struct fixture *f = *state;
	struct xlb_route r;
	struct xlb_err err;

	if (!f)
		skip();
	assert_int_equal(add_svc(f->st, "wild", 1, false, &err, 2,
				 (const char *[]){ "*.x.dev", "*.x.dev/static" }),
			 0);
	assert_int_equal(
		add_svc(f->st, "exact", 2, false, &err, 1, (const char *[]){ "a.x.dev/api" }), 0);
	assert_int_equal(route(f->st, "b.x.dev", "/static/a.css", &r), 1);
	assert_int_equal(route(f->st, "b.x.dev", "/", &r), 1);
	assert_int_equal(route(f->st, "a.x.dev", "/api/1", &r), 2);
	/* the exact name wins; its routes only: no fallback to the wildcard */
	assert_int_equal(route(f->st, "a.x.dev", "/static", &r), -ENOENT);
	assert_int_equal(xlb_state_service_del(f->st, "wild", &err), 0);
	assert_int_equal(xlb_state_service_del(f->st, "exact", &err), 0);
}

static void test_conflicts(void **state)
{
	struct fixture *f = *state;
	struct xlb_err err;

	if (!f)
		skip();
	assert_int_equal(add_svc(f->st, "a", 1, false, &err, 2,
				 (const char *[]){ "c.dev", "c.dev/api" }),
			 0);
	assert_int_equal(add_svc(f->st, "b", 2, false, &err, 1, (const char *[]){ "c.dev/api" }),
			 -EEXIST);
	assert_string_equal(err.msg, "route c.dev/api already used by service a");
	assert_int_equal(add_svc(f->st, "b", 2, false, &err, 1, (const char *[]){ "c.dev" }),
			 -EEXIST);
	assert_string_equal(err.msg, "host c.dev already used by service a");
	/* nor by a service of the other protocol: they would share one
	 * pinned key, and deleting one would unroute the other */
	char tls_hosts[1][XLB_HOST_LEN] = { "c.dev" };
	struct xlb_svc_spec tls_spec = { .name = "t",
					 .n_hosts = 1,
					 .tls = true,
					 .hosts = (const char(*)[XLB_HOST_LEN])tls_hosts };

	assert_int_equal(xlb_state_service_add(f->st, &tls_spec, true, &err), -EEXIST);
	assert_string_equal(err.msg, "host c.dev already used by service a");
	assert_int_equal(add_svc(f->st, "b", 2, false, &err, 1, (const char *[]){ "c.dev/api2" }),
			 0);
	assert_int_equal(add_svc(f->st, "d", 3, false, &err, 2,
				 (const char *[]){ "d.dev/x", "d.dev/x" }),
			 -EEXIST);
	assert_string_equal(err.msg, "route d.dev/x given twice");
	assert_int_equal(add_svc(f->st, "d", 3, false, &err, 1, (const char *[]){ "d.dev/x/" }),
			 -EINVAL);
	assert_int_equal(xlb_state_service_del(f->st, "a", &err), 0);
	assert_int_equal(xlb_state_service_del(f->st, "b", &err), 0);
}

/* The pinned keys: "host\0path", no path for "/"; adopted back as routes. */
static void test_pinned_routes(void **state)
{
	struct fixture *f = *state;
	struct xlb_host_key key;
	struct xlb_host_val val;
	struct xlb_state *again;
	struct xlb_route r;
	struct xlb_err err;

	if (!f)
		skip();
	assert_int_equal(
		add_svc(f->st, "p", 4, true, &err, 2, (const char *[]){ "p.dev", "p.dev/api" }), 0);
	memset(&key, 0, sizeof(key));
	strcpy(key.name, "p.dev");
	assert_int_equal(bpf_map_lookup_elem(f->m.hosts, &key, &val), 0);
	assert_true(val.flags & XLB_SVC_F_STRIP_PATH);
	strcpy(key.name + 6, "/api");
	assert_int_equal(bpf_map_lookup_elem(f->m.hosts, &key, &val), 0);
	assert_int_equal(xlb_state_new(&f->m, &again), 0);
	assert_int_equal(xlb_state_adopt(again), 0);
	assert_int_equal(route(again, "p.dev", "/api/x", &r), 4);
	assert_true(r.strip_path);
	assert_int_equal(r.prefix_len, 4);
	xlb_state_free(again);
	assert_int_equal(xlb_state_service_del(f->st, "p", &err), 0);
	assert_int_not_equal(bpf_map_lookup_elem(f->m.hosts, &key, &val), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_normalize), cmocka_unit_test(test_path_match),
		cmocka_unit_test(test_longest_prefix), cmocka_unit_test(test_wildcard_with_paths),
		cmocka_unit_test(test_conflicts),      cmocka_unit_test(test_pinned_routes),
		cmocka_unit_test(test_terminates),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
