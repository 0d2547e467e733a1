// SPDX-License-Identifier: GPL-2.0
#include "checks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "lib/log.h"

struct check_list {
	struct xlb_dhealth *v;
	size_t n;
};

struct xlb_checks {
	struct xlb_health *health;
	struct xlb_state *st;
	struct check_list docker;      /* what health watches for Docker */
	struct check_list config;      /* ... and for the config file */
	struct check_list config_next; /* watched, until the config's apply is done */
};

static void on_health(void *arg, const char *svc, const struct xlb_endpoint *ep, bool up)
{
	struct xlb_checks *c = arg;
	struct xlb_endpoint be = *ep;

	be.proto = 0; /* backends are keyed without one */
	xlb_state_backend_set_health(c->st, svc, &be, up);
}

static bool health_probe(void *arg, const char *svc, const struct xlb_endpoint *ep)
{
	struct xlb_checks *c = arg;

	return xlb_health_is_up(c->health, svc, ep);
}

int xlb_checks_new(struct xlb_loop *loop, struct xlb_state *st, struct xlb_checks **out)
{
	struct xlb_checks *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return -ENOMEM;
	c->st = st;
	err = xlb_health_new(loop, on_health, c, &c->health);
	if (err) {
		free(c);
		return err;
	}
	xlb_state_health_probe(st, health_probe, c);
	*out = c;
	return 0;
}

void xlb_checks_free(struct xlb_checks *c)
{
	if (!c)
		return;
	xlb_health_free(c->health);
	xlb_state_health_probe(c->st, NULL, NULL);
	free(c->docker.v);
	free(c->config.v);
	free(c->config_next.v);
	free(c);
}

static bool check_listed(const struct check_list *l, const struct xlb_dhealth *c)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].service, c->service) == 0 &&
		    xlb_endpoint_equal(&l->v[i].ep, &c->ep))
			return true;
	return false;
}

static void watch_all(struct xlb_checks *c, const struct xlb_dhealth *v, size_t n)
{
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < n; i++)
		if (xlb_health_watch(c->health, v[i].service, &v[i].ep, &v[i].spec))
			pr_warn("event=health_watch_failed service=%s backend=%s", v[i].service,
				xlb_format_endpoint(&v[i].ep, buf, sizeof(buf)));
}

/* ---- the config's ----------------------------------------------------------------- */

static struct check_list config_checks_list(const struct xlb_config *cfg)
{
	struct check_list l = { NULL, 0 };
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_services; i++)
		if (cfg->services[i].check.kind != XLB_HC_NONE)
			n += cfg->services[i].n_backends;
	if (n && !(l.v = calloc(n, sizeof(*l.v)))) {
		pr_err("event=health_watch_failed err=\"out of memory\" checks=%zu", n);
		return l;
	}
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct xlb_cfg_service *s = &cfg->services[i];

		for (size_t b = 0; b < s->n_backends && s->check.kind != XLB_HC_NONE; b++) {
			struct xlb_dhealth *h = &l.v[l.n++];

			snprintf(h->service, sizeof(h->service), "%s", s->name);
			h->ep = s->backends[b].ep;
			h->spec = s->check;
		}
	}
	return l;
}

void xlb_checks_watch_config(struct xlb_checks *c, const struct xlb_config *cfg)
{
	free(c->config_next.v);
	c->config_next = config_checks_list(cfg);
	watch_all(c, c->config_next.v, c->config_next.n);
}

void xlb_checks_replace_config(struct xlb_checks *c)
{
	for (size_t i = 0; i < c->config.n; i++) {
		const struct xlb_dhealth *h = &c->config.v[i];

		if (check_listed(&c->config_next, h))
			continue;
		xlb_health_unwatch(c->health, h->service, &h->ep);
		xlb_state_backend_set_health(c->st, h->service, &h->ep, true);
	}
	free(c->config.v);
	c->config = c->config_next;
	c->config_next = (struct check_list){ NULL, 0 };
}

void xlb_checks_start_config(struct xlb_checks *c, const struct xlb_config *cfg)
{
	xlb_checks_watch_config(c, cfg);
	xlb_checks_replace_config(c);
}

/* ---- Docker's ------------------------------------------------------------------------ */

void xlb_checks_watch_docker(struct xlb_checks *c, const struct xlb_dmodel *m)
{
	watch_all(c, m->checks, m->n_checks);
}

void xlb_checks_replace_docker(struct xlb_checks *c, const struct xlb_dmodel *m)
{
	const struct check_list now = { m->checks, m->n_checks };
	struct xlb_dhealth *copy = NULL;

	for (size_t i = 0; i < c->docker.n; i++)
		if (!check_listed(&now, &c->docker.v[i]))
			xlb_health_unwatch(c->health, c->docker.v[i].service, &c->docker.v[i].ep);
	if (m->n_checks) {
		copy = malloc(m->n_checks * sizeof(*copy));
		if (copy)
			memcpy(copy, m->checks, m->n_checks * sizeof(*copy));
	}
	free(c->docker.v);
	c->docker = (struct check_list){ copy, copy ? m->n_checks : 0 };
	for (size_t i = 0; i < c->docker.n; i++) {
		const struct xlb_dhealth *h = &c->docker.v[i];

		xlb_state_backend_set_health(c->st, h->service, &h->ep,
					     xlb_health_is_up(c->health, h->service, &h->ep));
	}
}
