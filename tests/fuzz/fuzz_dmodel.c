// SPDX-License-Identifier: GPL-2.0
/* libFuzzer target for the bytes xlbd reads from Docker: each input goes to
 * the inspect reader (and, when accepted, through the service builder), to
 * the container list reader and to the event line reader. Beyond the
 * sanitizers it traps on a broken promise of dmodel.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xlbd/dmodel.h"

#define CHECK(cond)                       \
	do {                              \
		if (!(cond))              \
			__builtin_trap(); \
	} while (0)

/* An exact-size heap copy, so ASan sees any read past len. */
static char *copy_of(const uint8_t *data, size_t len)
{
	char *copy = malloc(len ? len : 1);

	CHECK(copy);
	memcpy(copy, data, len);
	return copy;
}

static bool lowercase(const char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

/* -EINVAL: one line that names the container and fits in err="...". */
static void check_rejected(const char *err)
{
	CHECK(strncmp(err, "container ", 10) == 0);
	CHECK(strpbrk(err, "\n\r\"") == NULL);
}

/* VIRTUAL_HOST_MULTIPORTS: the parts slice the routes, in order, and
 * differ in port, backend protocol or stripping; each is named after the
 * container's service. */
static void check_parts(const struct xlb_dcontainer *c)
{
	size_t next = 0, len = strlen(c->service);

	for (size_t i = 0; i < c->n_parts; i++) {
		const struct xlb_dpart *p = &c->parts[i];

		CHECK(p->first == next && p->n_hosts > 0);
		next += p->n_hosts;
		CHECK(p->port != 0);
		CHECK(xlb_valid_service_name(p->service));
		CHECK(strncmp(p->service, c->service, len) == 0 && p->service[len] == '-');
		for (size_t k = 0; k < i; k++)
			CHECK(c->parts[k].port != p->port ||
			      c->parts[k].backend_tls != p->backend_tls ||
			      c->parts[k].strip_path != p->strip_path);
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(c->parts[k].service, p->service) != 0);
	}
	CHECK(c->n_parts == 0 || next == c->n_hosts);
	CHECK(c->n_parts == 0 || (!c->has_listen && !c->ssl_cert && !c->default_ssl_cert));
}

static void check_accepted(const struct xlb_dcontainer *c)
{
	char why[160];

	CHECK(c->id[0] != '\0');
	CHECK(xlb_valid_service_name(c->service));
	CHECK(c->n_hosts > 0 || c->has_listen);
	for (size_t i = 0; i < c->n_hosts; i++)
		/* a regex is kept as written; names are folded to lower case */
		CHECK(xlb_valid_host_name(c->hosts[i]) &&
		      (c->hosts[i][0] == '~' || lowercase(c->hosts[i])));
	CHECK(c->port != 0);
	CHECK(c->weight >= 1 && c->weight <= XLB_WEIGHT_MAX);
	CHECK(xlb_hc_validate(&c->hc, why, sizeof(why)) == 0);
	CHECK(!c->serving || c->running);
	CHECK(c->serving || c->why_not[0] != '\0');
	/* on several networks, the build picks one and its addresses */
	CHECK(!c->running || c->has_addr4 || c->has_addr6 || c->network_open);
	if (c->has_listen)
		CHECK(c->listen.port != 0 &&
		      (c->listen.proto == IPPROTO_TCP || c->listen.proto == IPPROTO_UDP));
	check_parts(c);
}

static void count_warning(void *arg, const char *msg)
{
	CHECK(msg[0] != '\0');
	++*(size_t *)arg;
}

/* What the service named s is of c: its part, or c itself. */
static void check_service_of(const struct xlb_dcontainer *c, const struct xlb_cfg_service *s)
{
	const struct xlb_dpart *p = NULL;

	for (size_t i = 0; i < c->n_parts; i++)
		if (strcmp(c->parts[i].service, s->name) == 0)
			p = &c->parts[i];
	CHECK(p || strcmp(s->name, c->service) == 0);
	CHECK(s->n_hosts == (p ? p->n_hosts : c->n_hosts));
	CHECK(s->strip_path == (p ? p->strip_path : c->strip_path));
	CHECK(s->backend_tls == (p ? p->backend_tls : c->backend_tls));
	CHECK(s->n_backends <= (c->running ? 1u : 0u));
	if (s->n_backends)
		CHECK(s->backends[0].draining == !c->serving &&
		      s->backends[0].ep.port == (p ? p->port : c->port));
}

/* One container is one service at most (one per part with
 * VIRTUAL_HOST_MULTIPORTS), with at most one backend, and nothing to
 * conflict with. */
static void check_build(const struct xlb_dcontainer *c, const struct xlb_endpoint *vip)
{
	const struct xlb_dcontainer *cs[1] = { c };
	struct xlb_dmodel_opts o = { .vip = vip, .min_listen_port = 1024 };
	size_t warnings = 0, n_backends = 0;
	struct xlb_dmodel m;

	CHECK(xlb_dmodel_build(cs, 1, &o, &m, count_warning, &warnings) == 0);
	/* one for the service, one for a network chosen among several */
	CHECK(m.cfg.n_services <= (c->n_parts ? c->n_parts : 1));
	CHECK(warnings <= 1u + c->network_open);
	for (size_t i = 0; i < m.cfg.n_services; i++) {
		check_service_of(c, &m.cfg.services[i]);
		n_backends += m.cfg.services[i].n_backends;
	}
	CHECK(m.n_checks == (c->hc.kind != XLB_HC_NONE ? n_backends : 0));
	xlb_dmodel_free(&m);
}

static void fuzz_container(const char *json, size_t len)
{
	struct xlb_endpoint vip = { .family = AF_INET, .addr.v4 = htonl(0x0ac80064) };
	struct xlb_dcontainer c;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = xlb_dmodel_container(json, len, &c, err, sizeof(err));
	CHECK(rc == 1 || rc == 0 || rc == -EINVAL);
	if (rc == -EINVAL && strncmp(err, "container inspect:", 18))
		check_rejected(err);
	if (rc != 1)
		return;
	check_accepted(&c);
	check_build(&c, NULL);
	check_build(&c, &vip);
	xlb_dcontainer_free(&c);
}

static void fuzz_list(const char *json, size_t len)
{
	char(*ids)[XLB_DOCKER_ID_LEN];
	int n = xlb_dmodel_list_ids(json, len, &ids);

	CHECK(n >= 0 || n == -EINVAL);
	CHECK((n >= 0) == (ids != NULL));
	for (int i = 0; i < n; i++)
		CHECK(strnlen(ids[i], XLB_DOCKER_ID_LEN) < XLB_DOCKER_ID_LEN);
	free(ids);
}

static void fuzz_event(const char *json, size_t len)
{
	struct xlb_devent ev;
	int rc = xlb_dmodel_event(json, len, &ev);

	CHECK(rc == 0 || rc == -EINVAL);
	CHECK(ev.kind == XLB_DEV_IGNORE || ev.kind == XLB_DEV_REFRESH || ev.kind == XLB_DEV_GONE);
	/* a refresh or a gone always says which container */
	CHECK((ev.kind == XLB_DEV_IGNORE) == (ev.id[0] == '\0'));
	CHECK(strnlen(ev.action, sizeof(ev.action)) < sizeof(ev.action));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char *json = copy_of(data, len);

	fuzz_container(json, len);
	fuzz_list(json, len);
	fuzz_event(json, len);
	free(json);
	return 0;
}
