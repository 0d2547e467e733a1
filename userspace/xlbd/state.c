// SPDX-License-Identifier: GPL-2.0
#include "state.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "lib/hostmap.h"
#include "lib/log.h"
#include "maglev.h"

struct be {
	struct xlb_endpoint ep;
	uint32_t id;
	uint32_t weight;
	uint8_t state;
	uint8_t origin;	   /* enum xlb_origin */
	bool down;	   /* failing its health check: out of the table */
	bool stopping;	   /* Docker: stopping, paused or unhealthy: out too */
	int64_t rr_credit; /* the proxy's weighted round robin */
};

struct svc {
	char name[XLB_NAME_LEN];
	bool has_listen;
	struct xlb_endpoint listen;
	bool tls; /* hosts are SNI names */
	bool proxy_v2;
	bool strip_path;
	bool backend_tls;
	bool no_forward_headers; /* not pinned: back from the config or Docker */
	bool acme;		 /* the same, and the three below */
	bool https_redirect;
	bool https_only;
	bool hsts;
	uint32_t hsts_secs;
	uint8_t hsts_flags;
	char (*hosts)[XLB_HOST_LEN]; /* route i: hosts[i] with paths[i] */
	struct xlb_cfg_path *paths;
	size_t n_hosts;
	uint32_t id;
	uint8_t origin;	    /* enum xlb_origin */
	uint64_t table_sig; /* signature of the active set in the table */
	uint32_t *table;    /* where the next Maglev table is built before the swap */
	struct be *bes;
	size_t n_bes;
};

/* The proxy's routes: a host's routes are one run of ents, longest prefix
 * first, and the host map gives the index of the run's first entry. */
struct route_ent {
	char prefix[XLB_PATH_SIZE];
	uint32_t plen;
	uint32_t svc_id;
	uint32_t end;	  /* the index after the run (in its first entry) */
	bool https;	  /* its TLS is terminated on the TLS listeners */
	const char *host; /* while building only */
};

struct route_table {
	struct xlb_hostmap hosts; /* host -> index of its first route */
	struct route_ent *ents;
	size_t n;
};

struct xlb_state {
	struct xlb_state_maps m;
	struct svc **svcs;
	size_t n_svcs;
	uint8_t svc_used[XLB_MAX_SERVICES];
	uint8_t be_used[XLB_MAX_BACKENDS];
	uint32_t *slots; /* 0..XLB_MAGLEV_SIZE-1, keys for the batch update */
	struct route_table http_routes;
	struct route_table tls_routes;
	/* where requests for unknown names go; "": nowhere */
	char default_host[XLB_HOST_LEN];
	xlb_state_be_gone_fn be_gone; /* a backend left: its proxied connections end */
	void *be_gone_arg;
	xlb_state_be_new_fn be_new; /* an L4 backend is about to be published */
	void *be_new_arg;
	xlb_state_health_fn health; /* a new backend's health */
	void *health_arg;
};

static int fail(struct xlb_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct xlb_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

int xlb_state_new(const struct xlb_state_maps *maps, struct xlb_state **out)
{
	struct xlb_state *st = calloc(1, sizeof(*st));

	if (!st)
		return -ENOMEM;
	st->m = *maps;
	st->slots = calloc(XLB_MAGLEV_SIZE, sizeof(*st->slots));
	if (!st->slots) {
		xlb_state_free(st);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < XLB_MAGLEV_SIZE; i++)
		st->slots[i] = i;
	st->be_used[0] = 1; /* id 0 means "no backend" in Maglev tables */
	*out = st;
	return 0;
}

static void route_table_clear(struct route_table *t)
{
	xlb_hostmap_clear(&t->hosts);
	free(t->ents);
	t->ents = NULL;
	t->n = 0;
}

static void svc_free(struct svc *s)
{
	if (s) {
		free(s->bes);
		free(s->hosts);
		free(s->paths);
		free(s->table);
	}
	free(s);
}

void xlb_state_free(struct xlb_state *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n_svcs; i++)
		svc_free(st->svcs[i]);
	free(st->svcs);
	free(st->slots);
	route_table_clear(&st->http_routes);
	route_table_clear(&st->tls_routes);
	free(st);
}

size_t xlb_state_service_count(const struct xlb_state *st)
{
	return st->n_svcs;
}

/* ---- lookups -------------------------------------------------------------- */

static struct svc *svc_find(const struct xlb_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_svcs; i++)
		if (strcmp(st->svcs[i]->name, name) == 0)
			return st->svcs[i];
	return NULL;
}

static struct svc *svc_find_listen(const struct xlb_state *st, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < st->n_svcs; i++)
		if (st->svcs[i]->has_listen && xlb_endpoint_equal(&st->svcs[i]->listen, ep))
			return st->svcs[i];
	return NULL;
}

static struct svc *svc_find_id(const struct xlb_state *st, uint32_t id)
{
	for (size_t i = 0; i < st->n_svcs; i++)
		if (st->svcs[i]->id == id)
			return st->svcs[i];
	return NULL;
}

static struct be *be_find(const struct svc *s, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < s->n_bes; i++)
		if (xlb_endpoint_equal(&s->bes[i].ep, ep))
			return &s->bes[i];
	return NULL;
}

static int id_alloc(uint8_t *used, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!used[i]) {
			used[i] = 1;
			return (int)i;
		}
	}
	return -ENOSPC;
}

/* ---- map writes ----------------------------------------------------------- */

static void svc_key_of(const struct xlb_endpoint *ep, struct xlb_svc_key *key)
{
	memset(key, 0, sizeof(*key));
	key->vip = ep->addr;
	key->port = htons(ep->port);
	key->proto = ep->proto;
	key->family = ep->family;
}

static int map_write(int fd, const void *key, const void *val)
{
	return bpf_map_update_elem(fd, key, val, BPF_ANY) ? -errno : 0;
}

static const char *origin_name(uint8_t origin)
{
	switch (origin) {
	case XLB_ORIGIN_RUNTIME:
		return "runtime";
	case XLB_ORIGIN_DOCKER:
		return "docker";
	default:
		return "config";
	}
}

static uint32_t be_origin_flags(uint8_t origin)
{
	return origin == XLB_ORIGIN_RUNTIME  ? XLB_BE_F_RUNTIME
	       : origin == XLB_ORIGIN_DOCKER ? XLB_BE_F_DOCKER
					     : 0;
}

static uint8_t be_origin_of_flags(uint32_t flags)
{
	return flags & XLB_BE_F_RUNTIME	 ? XLB_ORIGIN_RUNTIME
	       : flags & XLB_BE_F_DOCKER ? XLB_ORIGIN_DOCKER
					 : XLB_ORIGIN_CONFIG;
}

/* In the Maglev table: not drained by an operator, not failing checks. */
static bool be_serving(const struct be *b)
{
	return b->state == XLB_BE_ACTIVE && !b->down && !b->stopping;
}

static void be_to_map(const struct svc *s, const struct be *b, struct xlb_backend *v)
{
	memset(v, 0, sizeof(*v));
	v->addr = b->ep.addr;
	v->port = htons(b->ep.port);
	v->family = b->ep.family;
	/* a failing backend keeps its flows, like a drained one */
	v->state = b->state == XLB_BE_ACTIVE && !be_serving(b) ? XLB_BE_DRAINING : b->state;
	v->svc_id = s->id;
	v->weight = b->weight;
	v->flags = be_origin_flags(b->origin) | (b->down ? XLB_BE_F_DOWN : 0) |
		   (b->stopping ? XLB_BE_F_STOPPING : 0) |
		   (b->state == XLB_BE_DRAINING ? XLB_BE_F_DRAINED : 0);
}

static int be_write(const struct xlb_state *st, const struct svc *s, const struct be *b)
{
	struct xlb_backend v;

	be_to_map(s, b, &v);
	return map_write(st->m.backends, &b->id, &v);
}

static int be_clear(const struct xlb_state *st, uint32_t id)
{
	struct xlb_backend zero = {};

	return map_write(st->m.backends, &id, &zero);
}

static uint32_t svc_active_count(const struct svc *s)
{
	uint32_t n = 0;

	for (size_t i = 0; i < s->n_bes; i++)
		n += be_serving(&s->bes[i]);
	return n;
}

static uint32_t svc_flags(const struct svc *s)
{
	return (s->origin == XLB_ORIGIN_RUNTIME ? XLB_SVC_F_RUNTIME : 0) |
	       (s->origin == XLB_ORIGIN_DOCKER ? XLB_SVC_F_DOCKER : 0) |
	       (s->n_hosts ? XLB_SVC_F_HOST : 0) | (s->tls ? XLB_SVC_F_TLS : 0) |
	       (s->proxy_v2 ? XLB_SVC_F_PROXY_V2 : 0) | (s->strip_path ? XLB_SVC_F_STRIP_PATH : 0) |
	       (s->backend_tls ? XLB_SVC_F_BACKEND_TLS : 0);
}

static int svc_info_write(const struct xlb_state *st, const struct svc *s)
{
	struct xlb_svc_info info = {};

	snprintf(info.name, sizeof(info.name), "%s", s->name);
	if (s->has_listen)
		svc_key_of(&s->listen, &info.key);
	info.flags = svc_flags(s);
	info.backends = svc_active_count(s);
	return map_write(st->m.svc_info, &s->id, &info);
}

static uint64_t sig_mix(uint64_t h, uint64_t v)
{
	h = (h ^ v) * 0x100000001b3ULL;
	return h ^ (h >> 31);
}

/* Order-independent signature of the active (backend id, key, weight) set:
 * an unchanged set needs no new table. */
static uint64_t table_signature(const struct svc *s)
{
	uint64_t sum = 0x9e37;

	for (size_t i = 0; i < s->n_bes; i++) {
		const struct be *b = &s->bes[i];
		uint64_t h = 0xcbf29ce484222325ULL;

		if (!be_serving(b))
			continue;
		h = sig_mix(h, b->id);
		h = sig_mix(h, b->weight);
		h = sig_mix(h, b->ep.port);
		for (int w = 0; w < 4; w++)
			h = sig_mix(h, b->ep.addr.v6[w]);
		sum += h;
	}
	return sum;
}

static int maglev_fill(struct svc *s)
{
	struct xlb_maglev_backend *mb = calloc(s->n_bes ? s->n_bes : 1, sizeof(*mb));
	char(*keys)[XLB_EP_STRLEN] = calloc(s->n_bes ? s->n_bes : 1, sizeof(*keys));
	size_t n = 0;
	int err = -ENOMEM;

	if (!mb || !keys)
		goto out;
	for (size_t i = 0; i < s->n_bes; i++) {
		if (!be_serving(&s->bes[i]))
			continue;
		xlb_format_endpoint(&s->bes[i].ep, keys[n], sizeof(keys[n]));
		mb[n] = (struct xlb_maglev_backend){ keys[n], s->bes[i].id, s->bes[i].weight };
		n++;
	}
	if (!s->table)
		s->table = calloc(XLB_MAGLEV_SIZE, sizeof(*s->table));
	err = s->table ? xlb_maglev_build(mb, n, s->table, XLB_MAGLEV_SIZE) : -ENOMEM;
out:
	free(mb);
	free(keys);
	return err;
}

/* A new inner map, filled, then swapped into the outer slot in one
 * update: readers see the old table or the new one, never a mix. */
static int maglev_swap_in(struct xlb_state *st, const struct svc *s)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = XLB_MAGLEV_SIZE;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xlb_maglev_tbl", sizeof(__u32), sizeof(__u32),
			    XLB_MAGLEV_SIZE, NULL);
	if (fd < 0)
		return -errno;
	if (bpf_map_update_batch(fd, st->slots, s->table, &count, &opts))
		err = -errno;
	else
		err = map_write(st->m.maglev, &s->id, &fd);
	close(fd);
	return err;
}

static int svc_table_sync(struct xlb_state *st, struct svc *s)
{
	uint64_t sig = table_signature(s);
	int err;

	if (sig == s->table_sig)
		return 0;
	err = maglev_fill(s);
	if (!err)
		err = maglev_swap_in(st, s);
	if (err)
		return err;
	s->table_sig = sig;
	pr_debug("event=maglev_swap service=%s active=%u", s->name, svc_active_count(s));
	return 0;
}

/* ---- reverse NAT: backend endpoint -> L4 listeners (xlb_rnat_eps) ---------- */

static void ep_key_of(const struct svc *s, const struct be *b, struct xlb_ep_key *k)
{
	memset(k, 0, sizeof(*k));
	k->addr = b->ep.addr;
	k->port = htons(b->ep.port);
	k->proto = s->listen.proto;
	k->family = b->ep.family;
}

static bool ep_key_is(const struct svc *s, const struct be *b, const struct xlb_ep_key *k)
{
	struct xlb_ep_key mine;

	if (!s->has_listen)
		return false;
	ep_key_of(s, b, &mine);
	return memcmp(&mine, k, sizeof(mine)) == 0;
}

/* The L4 services other than skip that have this endpoint as a backend. */
static unsigned ep_listener_count(const struct xlb_state *st, const struct xlb_ep_key *k,
				  const struct svc *skip)
{
	unsigned n = 0;

	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *t = st->svcs[i];

		if (t == skip)
			continue;
		for (size_t j = 0; j < t->n_bes; j++) {
			if (ep_key_is(t, &t->bes[j], k)) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* Rewrites one endpoint's entry from the model: every L4 service that has
 * it as a backend, in any state (a draining backend's replies still need
 * their VIP back). No service left: the entry goes. */
static int rnat_ep_sync(const struct xlb_state *st, const struct xlb_ep_key *k)
{
	struct xlb_ep_listeners v = {};

	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *t = st->svcs[i];

		for (size_t j = 0; j < t->n_bes && v.n < XLB_EP_MAX_LISTENERS; j++) {
			if (!ep_key_is(t, &t->bes[j], k))
				continue;
			v.l[v.n].vip = t->listen.addr;
			v.l[v.n].vport = htons(t->listen.port);
			v.l[v.n].svc_id = t->id;
			v.n++;
			break;
		}
	}
	if (!v.n) {
		bpf_map_delete_elem(st->m.rnat_eps, k);
		return 0;
	}
	return map_write(st->m.rnat_eps, k, &v);
}

static int rnat_eps_sync_svc(const struct xlb_state *st, const struct svc *s)
{
	struct xlb_ep_key k;
	int err = 0;

	for (size_t i = 0; s->has_listen && i < s->n_bes && !err; i++) {
		ep_key_of(s, &s->bes[i], &k);
		err = rnat_ep_sync(st, &k);
	}
	return err;
}

/* Takes s's listener out of its endpoints' entries (it goes, or moves). */
static void rnat_eps_drop_svc(const struct xlb_state *st, struct svc *s)
{
	struct xlb_ep_key k;

	if (!s->has_listen)
		return;
	s->has_listen = false;
	for (size_t i = 0; i < s->n_bes; i++) {
		ep_key_of(s, &s->bes[i], &k);
		rnat_ep_sync(st, &k);
	}
	s->has_listen = true;
}

static int be_write_serving(struct xlb_state *st, const struct svc *s, bool serving)
{
	int err = 0;

	for (size_t i = 0; i < s->n_bes && !err; i++)
		if (be_serving(&s->bes[i]) == serving)
			err = be_write(st, s, &s->bes[i]);
	return err;
}

/* Writes everything of one service. Serving backends go before the table,
 * so that it never points at a slot the data path cannot read yet; the
 * ones leaving it (drained, down) after it: marked first, they would be
 * picked by the old table and refused, and the new flows hashed to them
 * in the meantime (the swap waits for RCU) dropped (measured: the soak's
 * client retransmitted 2 SYNs at every drain). */
static int svc_sync(struct xlb_state *st, struct svc *s)
{
	struct xlb_svc_key key;
	struct xlb_svc val = { .id = s->id };
	int err;

	err = be_write_serving(st, s, true);
	if (!err)
		err = rnat_eps_sync_svc(st, s);
	if (!err)
		err = svc_table_sync(st, s);
	if (!err)
		err = be_write_serving(st, s, false);
	if (!err)
		err = svc_info_write(st, s);
	if (!err && s->has_listen) {
		svc_key_of(&s->listen, &key);
		val.flags = svc_flags(s);
		err = map_write(st->m.services, &key, &val);
	}
	if (err)
		pr_err("event=map_write_failed service=%s err=\"%s\"", s->name, strerror(-err));
	return err;
}

/* Deletes the flows that run to a backend, or to any backend of a
 * service when be_id is 0. Keys are collected first: deleting while
 * walking with get_next_key would restart the walk. */
static bool flow_is_dead(const struct xlb_flow *v, uint32_t be_id, uint32_t svc_id)
{
	return be_id ? v->backend_id == be_id : v->svc_id == svc_id;
}

/* Between the walk and the delete the data path may have recorded the
 * key again, for a new connection on the same tuple to a live backend
 * (a client reusing its port): deleting that entry would leave the
 * connection's replies un-NATed, and the client would reset it (seen in
 * the soak). So the entry goes only if it still runs to the dead
 * backend; one taken by mistake in the moment between is put back. */
static void flow_delete_if(int fd, const struct xlb_flow_key *key, uint32_t be_id, uint32_t svc_id)
{
	struct xlb_flow v;

	if (bpf_map_lookup_and_delete_elem(fd, key, &v) == 0) {
		if (!flow_is_dead(&v, be_id, svc_id))
			bpf_map_update_elem(fd, key, &v, BPF_NOEXIST);
		return;
	}
	if (errno == ENOENT)
		return;
	/* a kernel without lookup-and-delete for hash maps (before 5.14) */
	if (bpf_map_lookup_elem(fd, key, &v) == 0 && flow_is_dead(&v, be_id, svc_id))
		bpf_map_delete_elem(fd, key);
}

static void flows_prune(const struct xlb_state *st, uint32_t be_id, uint32_t svc_id)
{
	struct xlb_flow_key key, next, *prev = NULL, *dead = NULL, *more;
	struct xlb_flow v;
	size_t cap = 0, n = 0;
	int fd = st->m.flows;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) || !flow_is_dead(&v, be_id, svc_id))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			more = realloc(dead, cap * sizeof(*dead));
			if (!more)
				break;
			dead = more;
		}
		dead[n++] = key;
	}
	for (size_t i = 0; i < n; i++)
		flow_delete_if(fd, &dead[i], be_id, svc_id);
	free(dead);
}

/* ---- services ------------------------------------------------------------- */

static int svc_append(struct xlb_state *st, struct svc *s)
{
	struct svc **more = realloc(st->svcs, (st->n_svcs + 1) * sizeof(*more));

	if (!more)
		return -ENOMEM;
	st->svcs = more;
	st->svcs[st->n_svcs++] = s;
	return 0;
}

static struct svc *svc_create(struct xlb_state *st, const char *name, int id, uint8_t origin)
{
	struct svc *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->origin = origin;
	s->id = (uint32_t)id;
	if (svc_append(st, s)) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- routes --------------------------------------------------------------- */

static const char *svc_path(const struct svc *s, size_t i)
{
	return s->paths[i].prefix;
}

/* The pinned key: the host, its NUL, then the path unless it is "/". */
static bool host_key_of(const char *host, const char *path, struct xlb_host_key *key)
{
	size_t hlen = strlen(host);

	memset(key, 0, sizeof(*key));
	if (strcmp(path, "/") == 0)
		path = "";
	if (hlen + strlen(path) + 2 > sizeof(key->name))
		return false;
	memcpy(key->name, host, hlen);
	memcpy(key->name + hlen + 1, path, strlen(path));
	return true;
}

static void hosts_unpin(const struct xlb_state *st, const struct svc *s)
{
	struct xlb_host_key key;

	for (size_t i = 0; i < s->n_hosts; i++)
		if (host_key_of(s->hosts[i], svc_path(s, i), &key))
			bpf_map_delete_elem(st->m.hosts, &key);
}

static int hosts_pin(const struct xlb_state *st, const struct svc *s)
{
	struct xlb_host_val val = { .svc_id = s->id };
	struct xlb_host_key key;
	int err = 0;

	for (size_t i = 0; i < s->n_hosts && !err; i++) {
		val.flags = (s->tls ? XLB_SVC_F_TLS : 0) |
			    (s->strip_path ? XLB_SVC_F_STRIP_PATH : 0) |
			    (s->paths[i].scheme == XLB_SCHEME_HTTPS ? XLB_SVC_F_HTTPS : 0);
		if (host_key_of(s->hosts[i], svc_path(s, i), &key))
			err = map_write(st->m.hosts, &key, &val);
	}
	return err;
}

/* Orders a table's entries by host, then longest prefix first. */
static int route_ent_cmp(const void *a, const void *b)
{
	const struct route_ent *x = a, *y = b;
	int c = strcmp(x->host, y->host);

	if (c)
		return c;
	if (x->plen != y->plen)
		return x->plen > y->plen ? -1 : 1;
	return strcmp(x->prefix, y->prefix);
}

/* Adds every route of the services with this tls to t, unsorted. */
static int route_table_fill(struct xlb_state *st, struct route_table *t, bool tls)
{
	size_t n = 0;

	for (size_t i = 0; i < st->n_svcs; i++)
		n += st->svcs[i]->tls == tls ? st->svcs[i]->n_hosts : 0;
	t->ents = calloc(n ? n : 1, sizeof(*t->ents));
	if (!t->ents)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *s = st->svcs[i];

		for (size_t h = 0; s->tls == tls && h < s->n_hosts; h++) {
			struct route_ent *e = &t->ents[t->n++];

			snprintf(e->prefix, sizeof(e->prefix), "%s", svc_path(s, h));
			e->plen = (uint32_t)strlen(e->prefix);
			e->svc_id = s->id;
			e->https = s->paths[h].scheme == XLB_SCHEME_HTTPS;
			e->host = s->hosts[h];
		}
	}
	return 0;
}

/* Sorts t into runs, one per host, each indexed by the host map. The same
 * route twice (a model that let it in) keeps one. */
static void route_table_index(struct route_table *t)
{
	size_t w = 0, start = 0;

	qsort(t->ents, t->n, sizeof(*t->ents), route_ent_cmp);
	for (size_t r = 0; r < t->n; r++) {
		struct route_ent *e = &t->ents[r];

		if (w > start && strcmp(t->ents[w - 1].host, e->host) == 0 &&
		    strcmp(t->ents[w - 1].prefix, e->prefix) == 0) {
			pr_warn("event=host_skipped host=%s path=%s service_id=%u", e->host,
				e->prefix, e->svc_id);
			continue;
		}
		if (w > start && strcmp(t->ents[start].host, e->host) != 0)
			start = w;
		t->ents[w] = *e;
		if (w == start && xlb_hostmap_add(&t->hosts, e->host, (uint32_t)w))
			pr_warn("event=host_skipped host=%s service_id=%u", e->host, e->svc_id);
		t->ents[start].end = (uint32_t)++w;
	}
	t->n = w;
	for (size_t i = 0; i < t->n; i++)
		t->ents[i].host = NULL; /* the services' names may go */
}

/* The lookup tables are small and rebuilt whole on every change. */
static void hostmaps_rebuild(struct xlb_state *st)
{
	route_table_clear(&st->http_routes);
	route_table_clear(&st->tls_routes);
	if (route_table_fill(st, &st->http_routes, false) ||
	    route_table_fill(st, &st->tls_routes, true)) {
		pr_warn("event=routes_lost err=\"out of memory\"");
		return;
	}
	route_table_index(&st->http_routes);
	route_table_index(&st->tls_routes);
}

/* Across protocols too: an http and a tls service cannot share a route,
 * since the pinned xlb_hosts key (host, path) has no room for the
 * protocol, and the config file refuses it the same way. */
static const struct svc *route_owner(const struct xlb_state *st, const char *host, const char *path,
				     const struct svc *except)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *s = st->svcs[i];

		if (s == except)
			continue;
		for (size_t h = 0; h < s->n_hosts; h++)
			if (strcasecmp(s->hosts[h], host) == 0 && strcmp(svc_path(s, h), path) == 0)
				return s;
	}
	return NULL;
}

static const char *spec_path(const struct xlb_svc_spec *spec, size_t i)
{
	return spec->paths && spec->paths[i].prefix[0] ? spec->paths[i].prefix : "/";
}

/* "host" for "/", "host/path" otherwise. */
static const char *route_str(const char *host, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", host, strcmp(path, "/") == 0 ? "" : path);
	return buf;
}

static int route_check(const struct xlb_state *st, const struct xlb_svc_spec *spec, size_t i,
		       const struct svc *self, struct xlb_err *err)
{
	const char *path = spec_path(spec, i), *why = NULL;
	char norm[XLB_PATH_SIZE], name[XLB_HOST_LEN + XLB_PATH_SIZE];
	const char *what = strcmp(path, "/") == 0 ? "host" : "route";
	const struct svc *other = route_owner(st, spec->hosts[i], path, self);
	struct xlb_host_key key;

	route_str(spec->hosts[i], path, name, sizeof(name));
	if (!xlb_valid_host_name(spec->hosts[i]))
		return fail(err, -EINVAL, "invalid host name '%s'", spec->hosts[i]);
	if (xlb_path_normalize(path, strlen(path), norm, &why) || strcmp(norm, path) != 0)
		return fail(err, -EINVAL, "bad path '%s': %s", path, why ? why : "ends with '/'");
	if (spec->tls && strcmp(path, "/") != 0)
		return fail(err, -EINVAL, "route %s: paths need proto http", name);
	if (!host_key_of(spec->hosts[i], path, &key))
		return fail(err, -EINVAL,
			    "route %s is too long (host and path at most %d characters)", name,
			    XLB_HOST_KEY_LEN - 2);
	for (size_t j = 0; j < i; j++)
		if (strcasecmp(spec->hosts[j], spec->hosts[i]) == 0 &&
		    strcmp(spec_path(spec, j), path) == 0)
			return fail(err, -EEXIST, "%s %s given twice", what, name);
	if (other)
		return fail(err, -EEXIST, "%s %s already used by service %s", what, name,
			    other->name);
	return 0;
}

static int hosts_check(const struct xlb_state *st, const struct xlb_svc_spec *spec,
		       const struct svc *self, struct xlb_err *err)
{
	for (size_t i = 0; i < spec->n_hosts; i++) {
		int e = route_check(st, spec, i, self, err);

		if (e)
			return e;
	}
	return 0;
}

static int hosts_set(struct svc *s, const struct xlb_svc_spec *spec)
{
	char(*copy)[XLB_HOST_LEN] = NULL;
	struct xlb_cfg_path *paths = NULL;

	if (spec->n_hosts) {
		copy = calloc(spec->n_hosts, sizeof(*copy));
		paths = calloc(spec->n_hosts, sizeof(*paths));
		if (!copy || !paths) {
			free(copy);
			free(paths);
			return -ENOMEM;
		}
		memcpy(copy, spec->hosts, spec->n_hosts * sizeof(*copy));
		for (size_t i = 0; i < spec->n_hosts; i++) {
			snprintf(paths[i].prefix, sizeof(paths[i].prefix), "%s",
				 spec_path(spec, i));
			paths[i].scheme = spec->paths ? spec->paths[i].scheme : XLB_SCHEME_HTTP;
		}
	}
	free(s->hosts);
	free(s->paths);
	s->hosts = copy;
	s->paths = paths;
	s->n_hosts = spec->n_hosts;
	s->tls = spec->tls;
	s->proxy_v2 = spec->proxy_v2;
	s->strip_path = spec->strip_path;
	s->backend_tls = spec->backend_tls;
	s->no_forward_headers = spec->no_forward_headers;
	s->acme = spec->acme;
	s->https_redirect = spec->https_redirect;
	s->https_only = spec->https_only;
	s->hsts = spec->hsts;
	s->hsts_secs = spec->hsts_secs;
	s->hsts_flags = spec->hsts_flags;
	return 0;
}

/* ---- services, continued ----------------------------------------------------- */

static int spec_check(const struct xlb_state *st, const struct xlb_svc_spec *spec,
		      const struct svc *self, struct xlb_err *err)
{
	char buf[XLB_EP_STRLEN];
	const struct svc *other;

	if (!xlb_valid_service_name(spec->name))
		return fail(err, -EINVAL, "invalid service name '%s'", spec->name);
	if (!spec->listen && !spec->n_hosts)
		return fail(err, -EINVAL, "service %s needs a listen address or a host name",
			    spec->name);
	if (spec->backend_tls && (spec->tls || !spec->n_hosts))
		return fail(err, -EINVAL, "service %s: backend_tls needs host names routed by HTTP",
			    spec->name);
	other = spec->listen ? svc_find_listen(st, spec->listen) : NULL;
	if (other && other != self)
		return fail(err, -EEXIST, "listen %s already used by service %s",
			    xlb_format_endpoint(spec->listen, buf, sizeof(buf)), other->name);
	return hosts_check(st, spec, self, err);
}

/* Gives s the listener and names of spec, updating the pinned maps. */
static int svc_apply_spec(struct xlb_state *st, struct svc *s, const struct xlb_svc_spec *spec)
{
	struct xlb_svc_key key;
	int err;

	if (s->has_listen && (!spec->listen || !xlb_endpoint_equal(&s->listen, spec->listen))) {
		svc_key_of(&s->listen, &key);
		bpf_map_delete_elem(st->m.services, &key);
		rnat_eps_drop_svc(st, s);
		flows_prune(st, 0, s->id);
	}
	s->has_listen = spec->listen != NULL;
	if (spec->listen)
		s->listen = *spec->listen;
	hosts_unpin(st, s);
	err = hosts_set(s, spec);
	if (!err)
		err = hosts_pin(st, s);
	hostmaps_rebuild(st);
	return err;
}

/* Adds a service to the model and pins its names; the caller syncs it to
 * the maps (once, after adding its backends, when it has them). */
static int svc_add(struct xlb_state *st, const struct xlb_svc_spec *spec, uint8_t origin,
		   struct xlb_err *err, struct svc **out)
{
	char buf[XLB_EP_STRLEN];
	struct svc *s;
	int id, e;

	if (svc_find(st, spec->name))
		return fail(err, -EEXIST, "service %s already exists", spec->name);
	e = spec_check(st, spec, NULL, err);
	if (e)
		return e;
	id = id_alloc(st->svc_used, XLB_MAX_SERVICES);
	if (id < 0)
		return fail(err, id, "too many services (max %d)", XLB_MAX_SERVICES);
	s = svc_create(st, spec->name, id, origin);
	if (!s) {
		st->svc_used[id] = 0;
		return fail(err, -ENOMEM, "out of memory");
	}
	pr_info("event=service_add service=%s id=%d listen=%s hosts=%zu proto=%s origin=%s",
		spec->name, id,
		spec->listen ? xlb_format_endpoint(spec->listen, buf, sizeof(buf)) : "-",
		spec->n_hosts, spec->tls ? "tls" : "http", origin_name(origin));
	if (svc_apply_spec(st, s, spec))
		return fail(err, -EIO, "writing service %s to the maps failed", spec->name);
	*out = s;
	return 0;
}

int xlb_state_service_add(struct xlb_state *st, const struct xlb_svc_spec *spec, bool runtime,
			  struct xlb_err *err)
{
	struct svc *s;
	int e = svc_add(st, spec, runtime ? XLB_ORIGIN_RUNTIME : XLB_ORIGIN_CONFIG, err, &s);

	if (e)
		return e;
	return svc_sync(st, s)
		       ? fail(err, -EIO, "writing service %s to the maps failed", spec->name)
		       : 0;
}

static void be_gone(const struct xlb_state *st, uint32_t id)
{
	if (st->be_gone)
		st->be_gone(st->be_gone_arg, id);
}

void xlb_state_on_backend_gone(struct xlb_state *st, xlb_state_be_gone_fn fn, void *arg)
{
	st->be_gone = fn;
	st->be_gone_arg = arg;
}

void xlb_state_on_backend_new(struct xlb_state *st, xlb_state_be_new_fn fn, void *arg)
{
	st->be_new = fn;
	st->be_new_arg = arg;
}

void xlb_state_health_probe(struct xlb_state *st, xlb_state_health_fn fn, void *arg)
{
	st->health = fn;
	st->health_arg = arg;
}

static void svc_remove_from_list(struct xlb_state *st, struct svc *s)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		if (st->svcs[i] == s) {
			st->svcs[i] = st->svcs[--st->n_svcs];
			return;
		}
	}
}

static void svc_destroy(struct xlb_state *st, struct svc *s)
{
	struct xlb_svc_info zero = {};
	struct xlb_svc_key key;

	if (s->has_listen) {
		svc_key_of(&s->listen, &key);
		bpf_map_delete_elem(st->m.services, &key);
		rnat_eps_drop_svc(st, s);
	}
	hosts_unpin(st, s);
	bpf_map_delete_elem(st->m.maglev, &s->id);
	for (size_t i = 0; i < s->n_bes; i++) {
		be_clear(st, s->bes[i].id);
		st->be_used[s->bes[i].id] = 0;
		be_gone(st, s->bes[i].id);
	}
	map_write(st->m.svc_info, &s->id, &zero);
	flows_prune(st, 0, s->id);
	st->svc_used[s->id] = 0;
	pr_info("event=service_del service=%s id=%u", s->name, s->id);
	svc_remove_from_list(st, s);
	svc_free(s);
	hostmaps_rebuild(st);
}

int xlb_state_service_del(struct xlb_state *st, const char *name, struct xlb_err *err)
{
	struct svc *s = svc_find(st, name);

	if (!s)
		return fail(err, -ENOENT, "no service %s", name);
	svc_destroy(st, s);
	return 0;
}

/* ---- proxy routing ---------------------------------------------------------- */

/* Smooth weighted round robin (as nginx does it): every pick adds each
 * serving backend's weight to its credit and takes the richest, which then
 * pays the total. Over any run of sum(weights) picks each backend gets
 * exactly its weight, interleaved: 20 connections to 5 equal replicas
 * reach every one of them 4 times. */
static struct be *be_pick_round_robin(struct svc *s, uint32_t skip_be)
{
	struct be *best = NULL;
	int64_t total = 0;

	for (size_t i = 0; i < s->n_bes; i++) {
		struct be *b = &s->bes[i];

		if (!be_serving(b) || b->id == skip_be)
			continue;
		b->rr_credit += b->weight;
		total += b->weight;
		if (!best || b->rr_credit > best->rr_credit)
			best = b;
	}
	if (best)
		best->rr_credit -= total;
	return best;
}

/* The first of host's routes in t, or, for a name no route has, of the
 * default host's (plain HTTP only: a TLS name is routed before any
 * request is seen, and passed through as it is). */
static int host_routes(const struct xlb_state *st, const struct route_table *t, bool tls,
		       const char *host, uint32_t *first)
{
	if (!xlb_hostmap_lookup(&t->hosts, host, first) && *first < t->n)
		return 0;
	if (tls || !st->default_host[0])
		return -ENOENT;
	if (!xlb_hostmap_lookup(&t->hosts, st->default_host, first) && *first < t->n)
		return 0;
	return -ENOENT;
}

int xlb_state_route_request(struct xlb_state *st, bool tls, const char *host, const char *path,
			    size_t path_len, uint32_t skip_be, struct xlb_route *out)
{
	const struct route_table *t = tls ? &st->tls_routes : &st->http_routes;
	const struct route_ent *e = NULL;
	uint32_t first;
	struct svc *s;
	struct be *b;
	int covered = -1;

	if (host_routes(st, t, tls, host, &first))
		return -ENOENT;
	for (uint32_t i = first; i < t->ents[first].end && covered < 0; i++) {
		e = &t->ents[i];
		covered = xlb_path_match(e->prefix, e->plen, path, path_len);
	}
	if (covered < 0)
		return -ENOENT;
	s = svc_find_id(st, e->svc_id);
	if (!s)
		return -ENOENT;
	b = be_pick_round_robin(s, skip_be);
	if (!b)
		return -EHOSTUNREACH;
	*out = (struct xlb_route){ .svc_id = s->id,
				   .be_id = b->id,
				   .backend = b->ep,
				   .proxy_v2 = s->proxy_v2,
				   .strip_path = s->strip_path,
				   .backend_tls = s->backend_tls,
				   .prefix_len = (uint16_t)covered,
				   .no_forward_headers = s->no_forward_headers,
				   .https = e->https,
				   .https_redirect = e->https && s->https_redirect,
				   .https_only = e->https && s->https_only,
				   .hsts = e->https && s->hsts,
				   .hsts_secs = s->hsts_secs,
				   .hsts_flags = s->hsts_flags };
	return 0;
}

bool xlb_state_terminates(const struct xlb_state *st, const char *sni)
{
	const struct route_table *t = &st->http_routes;
	uint32_t first;

	if (!xlb_hostmap_lookup(&st->tls_routes.hosts, sni, &first))
		return false; /* passed through: its service has its own certificate */
	if (xlb_hostmap_lookup(&t->hosts, sni, &first) || first >= t->n)
		return false;
	for (uint32_t i = first; i < t->ents[first].end; i++)
		if (t->ents[i].https)
			return true;
	return false;
}

/* A run is sorted longest prefix first: its last https route has the
 * shortest prefix, "/" when the host has one. */
int xlb_state_tls_service(const struct xlb_state *st, const char *sni, uint32_t *svc_id)
{
	const struct route_table *t = &st->http_routes;
	uint32_t first;
	int err = -ENOENT;

	if (!xlb_state_terminates(st, sni) || xlb_hostmap_lookup(&t->hosts, sni, &first))
		return -ENOENT;
	for (uint32_t i = first; i < t->ents[first].end; i++) {
		if (t->ents[i].https) {
			*svc_id = t->ents[i].svc_id;
			err = 0;
		}
	}
	return err;
}

void xlb_state_for_each_acme_name(const struct xlb_state *st,
				  void (*fn)(const char *name, void *arg), void *arg)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *s = st->svcs[i];

		for (size_t h = 0; s->acme && h < s->n_hosts; h++)
			if (s->paths[h].scheme == XLB_SCHEME_HTTPS &&
			    !xlb_host_is_pattern(s->hosts[h]))
				fn(s->hosts[h], arg);
	}
}

/* host's run in the HTTP routes (*first) and the service holding its
 * TLS (*holder: that of its https route with the shortest prefix, as
 * for a terminated connection; false when xlb does not terminate it). A
 * wildcard finds its own run: no exact name has a '*', a "*.d" host's
 * leading lookup starts with the suffix after its first dot, and a "p.*"
 * host's trailing lookup with the prefix before its last dot. */
static bool tls_holder(const struct xlb_state *st, const char *host, uint32_t *first,
		       uint32_t *holder)
{
	const struct route_table *t = &st->http_routes;
	bool held = false;
	uint32_t passed;

	if (xlb_hostmap_lookup(&t->hosts, host, first) || *first >= t->n) {
		*first = UINT32_MAX; /* not routed (a name the index skipped) */
		return false;
	}
	if (!xlb_hostmap_lookup(&st->tls_routes.hosts, host, &passed))
		return false; /* passed through: its service has its own certificate */
	for (uint32_t i = *first; i < t->ents[*first].end; i++)
		if (t->ents[i].https) {
			*holder = t->ents[i].svc_id;
			held = true;
		}
	return held;
}

static bool host_earlier(const struct svc *s, size_t h)
{
	for (size_t i = 0; i < h; i++)
		if (strcasecmp(s->hosts[i], s->hosts[h]) == 0)
			return true;
	return false;
}

void xlb_state_for_each_tls_holder(const struct xlb_state *st,
				   void (*fn)(const char *host, const char *service,
					      enum xlb_origin origin, void *arg),
				   void *arg)
{
	for (size_t i = 0; i < st->n_svcs; i++) {
		const struct svc *s = st->svcs[i];

		for (size_t h = 0; !s->tls && h < s->n_hosts; h++) {
			uint32_t first = UINT32_MAX, holder = 0;
			bool held = tls_holder(st, s->hosts[h], &first, &holder);

			if (first == UINT32_MAX || host_earlier(s, h))
				continue;
			/* once per host: by its holder, or by its run's first */
			if (held && holder == s->id)
				fn(s->hosts[h], s->name, s->origin, arg);
			else if (!held && st->http_routes.ents[first].svc_id == s->id)
				fn(s->hosts[h], NULL, s->origin, arg);
		}
	}
}

int xlb_state_set_default_host(struct xlb_state *st, const char *host)
{
	if (!host || !*host) {
		st->default_host[0] = '\0';
		return 0;
	}
	if (strlen(host) >= sizeof(st->default_host) || !xlb_valid_host_name(host) ||
	    xlb_host_is_pattern(host))
		return -EINVAL;
	snprintf(st->default_host, sizeof(st->default_host), "%s", host);
	return 0;
}

int xlb_state_route(struct xlb_state *st, bool tls, const char *host, uint32_t skip_be,
		    struct xlb_route *out)
{
	return xlb_state_route_request(st, tls, host, "/", 1, skip_be, out);
}

/* ---- backends ------------------------------------------------------------- */

static int be_check(const struct xlb_state *st, const struct svc *s, const struct xlb_endpoint *ep,
		    struct xlb_err *err)
{
	char buf[XLB_EP_STRLEN];
	struct xlb_ep_key k;
	struct be probe = { .ep = *ep };

	if (ep->port == 0)
		return fail(err, -EINVAL, "backend needs a port");
	if (s->has_listen && ep->family != s->listen.family)
		return fail(err, -EINVAL, "backend %s: address family differs from service %s",
			    xlb_format_endpoint(ep, buf, sizeof(buf)), s->name);
	if (be_find(s, ep))
		return fail(err, -EEXIST, "backend %s already in service %s",
			    xlb_format_endpoint(ep, buf, sizeof(buf)), s->name);
	/* the return path knows this many listeners per endpoint */
	ep_key_of(s, &probe, &k);
	if (s->has_listen && ep_listener_count(st, &k, s) >= XLB_EP_MAX_LISTENERS)
		return fail(err, -ENOSPC,
			    "backend %s already serves %d L4 services, the most one backend can",
			    xlb_format_endpoint(ep, buf, sizeof(buf)), XLB_EP_MAX_LISTENERS);
	return 0;
}

static struct be *be_append(struct svc *s)
{
	struct be *more = realloc(s->bes, (s->n_bes + 1) * sizeof(*more));

	if (!more)
		return NULL;
	s->bes = more;
	memset(&s->bes[s->n_bes], 0, sizeof(s->bes[0]));
	return &s->bes[s->n_bes++];
}

/* Adds a backend to the model only; the caller syncs the service. */
static int be_insert(struct xlb_state *st, struct svc *s, const struct xlb_endpoint *ep,
		     uint32_t weight, uint8_t origin, struct xlb_err *err)
{
	char buf[XLB_EP_STRLEN];
	struct be *b;
	int id, e;

	e = be_check(st, s, ep, err);
	if (e)
		return e;
	if (weight < 1 || weight > XLB_WEIGHT_MAX)
		return fail(err, -EINVAL, "weight %u out of range 1..%d", weight, XLB_WEIGHT_MAX);
	id = id_alloc(st->be_used, XLB_MAX_BACKENDS);
	if (id < 0)
		return fail(err, id, "too many backends (max %d)", XLB_MAX_BACKENDS - 1);
	b = be_append(s);
	if (!b) {
		st->be_used[id] = 0;
		return fail(err, -ENOMEM, "out of memory");
	}
	*b = (struct be){ .ep = *ep,
			  .id = (uint32_t)id,
			  .weight = weight,
			  .state = XLB_BE_ACTIVE,
			  .origin = origin };
	b->ep.proto = 0;
	/* a checked backend serves once its first check passed */
	b->down = st->health && !st->health(st->health_arg, s->name, &b->ep);
	/* a reply that passed its link before the return program was there
	 * would reach the client un-NATed, and be reset */
	if (s->has_listen && st->be_new)
		st->be_new(&b->ep, st->be_new_arg);
	pr_info("event=backend_add service=%s backend=%s id=%d weight=%u", s->name,
		xlb_format_endpoint(ep, buf, sizeof(buf)), id, weight);
	return 0;
}

int xlb_state_backend_add(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			  uint32_t weight, bool runtime, struct xlb_err *err)
{
	struct svc *s = svc_find(st, svc);
	int e;

	if (!s)
		return fail(err, -ENOENT, "no service %s", svc);
	e = be_insert(st, s, ep, weight, runtime ? XLB_ORIGIN_RUNTIME : XLB_ORIGIN_CONFIG, err);
	if (e)
		return e;
	return svc_sync(st, s) ? fail(err, -EIO, "writing service %s to the maps failed", svc) : 0;
}

static struct be *be_lookup(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			    struct svc **sp, struct xlb_err *err, int *code)
{
	char buf[XLB_EP_STRLEN];
	struct svc *s = svc_find(st, svc);
	struct be *b;

	if (!s) {
		*code = fail(err, -ENOENT, "no service %s", svc);
		return NULL;
	}
	b = be_find(s, ep);
	if (!b) {
		*code = fail(err, -ENOENT, "no backend %s in service %s",
			     xlb_format_endpoint(ep, buf, sizeof(buf)), svc);
		return NULL;
	}
	*sp = s;
	return b;
}

int xlb_state_backend_drain(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			    struct xlb_err *err)
{
	char buf[XLB_EP_STRLEN];
	struct svc *s;
	int code = 0;
	struct be *b = be_lookup(st, svc, ep, &s, err, &code);

	if (!b)
		return code;
	b->state = XLB_BE_DRAINING;
	pr_info("event=backend_drain service=%s backend=%s id=%u", s->name,
		xlb_format_endpoint(ep, buf, sizeof(buf)), b->id);
	return svc_sync(st, s) ? fail(err, -EIO, "writing service %s to the maps failed", svc) : 0;
}

/* Out of the table first, then the slot, then its flows: a packet racing
 * the removal finds the slot unused and picks again. */
static int be_remove(struct xlb_state *st, struct svc *s, struct be *b)
{
	char buf[XLB_EP_STRLEN];
	uint32_t id = b->id;
	struct xlb_ep_key k;
	int err;

	xlb_format_endpoint(&b->ep, buf, sizeof(buf));
	ep_key_of(s, b, &k);
	*b = s->bes[--s->n_bes];
	err = svc_sync(st, s);
	if (s->has_listen)
		rnat_ep_sync(st, &k);
	be_clear(st, id);
	flows_prune(st, id, 0);
	st->be_used[id] = 0;
	be_gone(st, id);
	pr_info("event=backend_del service=%s backend=%s id=%u", s->name, buf, id);
	return err;
}

int xlb_state_backend_del(struct xlb_state *st, const char *svc, const struct xlb_endpoint *ep,
			  struct xlb_err *err)
{
	struct svc *s;
	int code = 0;
	struct be *b = be_lookup(st, svc, ep, &s, err, &code);

	if (!b)
		return code;
	return be_remove(st, s, b) ? fail(err, -EIO, "writing service %s to the maps failed", svc)
				   : 0;
}

void xlb_state_for_each_backend(const struct xlb_state *st,
				void (*fn)(const struct xlb_endpoint *ep, void *arg), void *arg)
{
	for (size_t i = 0; i < st->n_svcs; i++)
		for (size_t j = 0; j < st->svcs[i]->n_bes; j++)
			fn(&st->svcs[i]->bes[j].ep, arg);
}

/* ---- adopting pinned state ------------------------------------------------ */

/* The inverse of svc_key_of. */
static void endpoint_from_key(const struct xlb_svc_key *k, struct xlb_endpoint *ep)
{
	*ep = (struct xlb_endpoint){ .addr = k->vip,
				     .port = ntohs(k->port),
				     .family = k->family,
				     .proto = k->proto };
}

static int adopt_services(struct xlb_state *st)
{
	struct xlb_svc_info info;
	struct svc *s;

	for (uint32_t id = 0; id < XLB_MAX_SERVICES; id++) {
		if (bpf_map_lookup_elem(st->m.svc_info, &id, &info) || !info.name[0])
			continue;
		info.name[sizeof(info.name) - 1] = '\0';
		s = svc_create(st, info.name, (int)id,
			       info.flags & XLB_SVC_F_RUNTIME  ? XLB_ORIGIN_RUNTIME
			       : info.flags & XLB_SVC_F_DOCKER ? XLB_ORIGIN_DOCKER
							       : XLB_ORIGIN_CONFIG);
		if (!s)
			return -ENOMEM;
		if (info.key.family) {
			s->has_listen = true;
			endpoint_from_key(&info.key, &s->listen);
		}
		s->tls = info.flags & XLB_SVC_F_TLS;
		s->proxy_v2 = info.flags & XLB_SVC_F_PROXY_V2;
		s->strip_path = info.flags & XLB_SVC_F_STRIP_PATH;
		s->backend_tls = info.flags & XLB_SVC_F_BACKEND_TLS;
		st->svc_used[id] = 1;
	}
	return 0;
}

static int host_append(struct svc *s, const char *host, const char *path, uint32_t flags)
{
	return xlb_cfg_route_append(&s->hosts, &s->paths, &s->n_hosts, host, *path ? path : "/",
				    flags & XLB_SVC_F_HTTPS ? XLB_SCHEME_HTTPS : XLB_SCHEME_HTTP);
}

static int adopt_hosts(struct xlb_state *st)
{
	struct xlb_host_key key, next, *prev = NULL;
	struct xlb_host_val val;
	const char *path;
	struct svc *s;

	while (bpf_map_get_next_key(st->m.hosts, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(st->m.hosts, &key, &val))
			continue;
		key.name[sizeof(key.name) - 1] = '\0';
		path = key.name + strlen(key.name);
		path += path < key.name + sizeof(key.name) - 1; /* after the host's NUL */
		s = svc_find_id(st, val.svc_id);
		if (s && host_append(s, key.name, path, val.flags))
			return -ENOMEM;
	}
	hostmaps_rebuild(st);
	return 0;
}

static int adopt_backends(struct xlb_state *st)
{
	struct xlb_backend v;
	struct svc *s;
	struct be *b;

	for (uint32_t id = 1; id < XLB_MAX_BACKENDS; id++) {
		if (bpf_map_lookup_elem(st->m.backends, &id, &v) || v.state == XLB_BE_UNUSED)
			continue;
		s = svc_find_id(st, v.svc_id);
		if (!s) {
			be_clear(st, id); /* orphan of a half-finished delete */
			continue;
		}
		b = be_append(s);
		if (!b)
			return -ENOMEM;
		*b = (struct be){ .id = id,
				  .weight = v.weight ? v.weight : 1,
				  .state = v.state,
				  .origin = be_origin_of_flags(v.flags),
				  .down = v.flags & XLB_BE_F_DOWN,
				  .stopping = v.flags & XLB_BE_F_STOPPING };
		/* written as draining for being down or stopping, unless the
		 * operator drained it too (an older xlbd wrote no DRAINED flag:
		 * its down and drained backends come back active) */
		if ((b->down || b->stopping) && b->state == XLB_BE_DRAINING &&
		    !(v.flags & XLB_BE_F_DRAINED))
			b->state = XLB_BE_ACTIVE;
		b->ep.addr = v.addr;
		b->ep.port = ntohs(v.port);
		b->ep.family = v.family;
		st->be_used[id] = 1;
	}
	return 0;
}

int xlb_state_adopt(struct xlb_state *st)
{
	size_t nb = 0;
	int err;

	err = adopt_services(st);
	if (!err)
		err = adopt_backends(st);
	if (!err)
		err = adopt_hosts(st);
	if (err)
		return err;
	for (size_t i = 0; i < st->n_svcs; i++) {
		nb += st->svcs[i]->n_bes;
		/* rebuild the table's signature (the result is the pinned table:
		 * Maglev depends only on the backend set), so the next change
		 * knows what is swapped in */
		err = svc_table_sync(st, st->svcs[i]);
		/* heals an entry lost with a crash, or a set pinned by an
		 * xlbd that kept a reverse table per flow */
		if (!err)
			err = rnat_eps_sync_svc(st, st->svcs[i]);
		if (err)
			return err;
	}
	if (st->n_svcs)
		pr_info("event=adopt services=%zu backends=%zu", st->n_svcs, nb);
	return 0;
}

/* ---- config reconciliation ------------------------------------------------ */

static bool cfg_has_backend(const struct xlb_cfg_service *cs, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < cs->n_backends; i++)
		if (xlb_endpoint_equal(&cs->backends[i].ep, ep))
			return true;
	return false;
}

static const struct xlb_cfg_service *cfg_find(const struct xlb_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, name) == 0)
			return &cfg->services[i];
	return NULL;
}

/* Config-owned things the config no longer names go away. */
static void remove_stale(struct xlb_state *st, const struct xlb_config *cfg)
{
	for (size_t i = st->n_svcs; i-- > 0;) {
		struct svc *s = st->svcs[i];
		const struct xlb_cfg_service *cs = cfg_find(cfg, s->name);

		if (s->origin != XLB_ORIGIN_CONFIG)
			continue;
		if (!cs) {
			svc_destroy(st, s);
			continue;
		}
		for (size_t j = s->n_bes; j-- > 0;)
			if (s->bes[j].origin == XLB_ORIGIN_CONFIG &&
			    !cfg_has_backend(cs, &s->bes[j].ep))
				be_remove(st, s, &s->bes[j]);
	}
}

static void spec_of_cfg(const struct xlb_cfg_service *cs, struct xlb_svc_spec *spec)
{
	*spec = (struct xlb_svc_spec){
		.name = cs->name,
		.listen = cs->has_listen ? &cs->listen : NULL,
		.hosts = (const char(*)[XLB_HOST_LEN])cs->hosts,
		.paths = cs->paths,
		.n_hosts = cs->n_hosts,
		.tls = cs->tls,
		.proxy_v2 = cs->proxy_v2,
		.strip_path = cs->strip_path,
		.backend_tls = cs->backend_tls,
		.no_forward_headers = cs->no_forward_headers,
		.acme = cs->acme,
		.https_redirect = cs->https_redirect,
		.https_only = cs->https_only,
		.hsts = cs->hsts_set,
		.hsts_secs = cs->hsts_secs,
		.hsts_flags = cs->hsts_flags,
	};
}

/* A listener or names that changed, or a service that now belongs to the
 * config. */
static int update_service(struct xlb_state *st, struct svc *s, const struct xlb_svc_spec *spec,
			  struct xlb_err *err)
{
	int e = spec_check(st, spec, s, err);

	if (e)
		return e;
	s->origin = XLB_ORIGIN_CONFIG;
	return svc_apply_spec(st, s, spec) ? fail(err, -EIO, "writing service %s failed", s->name)
					   : 0;
}

static int apply_backends(struct xlb_state *st, struct svc *s, const struct xlb_cfg_service *cs,
			  struct xlb_err *err)
{
	for (size_t i = 0; i < cs->n_backends; i++) {
		const struct xlb_cfg_backend *cb = &cs->backends[i];
		struct be *b = be_find(s, &cb->ep);
		int e;

		if (b) {
			b->weight = cb->weight;
			b->origin = XLB_ORIGIN_CONFIG;
			continue;
		}
		e = be_insert(st, s, &cb->ep, cb->weight, XLB_ORIGIN_CONFIG, err);
		if (e)
			return e;
	}
	return svc_sync(st, s) ? fail(err, -EIO, "writing service %s failed", s->name) : 0;
}

int xlb_state_apply_config(struct xlb_state *st, const struct xlb_config *cfg, struct xlb_err *err)
{
	int e;

	remove_stale(st, cfg);
	for (size_t i = 0; i < cfg->n_services; i++) {
		const struct xlb_cfg_service *cs = &cfg->services[i];
		struct xlb_svc_spec spec;
		struct svc *s;

		spec_of_cfg(cs, &spec);
		s = svc_find(st, cs->name);
		if (s)
			e = update_service(st, s, &spec, err);
		else
			e = svc_add(st, &spec, XLB_ORIGIN_CONFIG, err,
				    &s); /* synced with its backends */
		if (!e)
			e = apply_backends(st, s, cs, err);
		if (e)
			return e;
	}
	return 0;
}

/* ---- health ------------------------------------------------------------------ */

int xlb_state_backend_set_health(struct xlb_state *st, const char *svc,
				 const struct xlb_endpoint *ep, bool up)
{
	struct xlb_err err;
	struct svc *s;
	int code = 0;
	struct be *b = be_lookup(st, svc, ep, &s, &err, &code);

	if (!b)
		return code;
	if (b->down == !up)
		return 0;
	b->down = !up;
	return svc_sync(st, s);
}

/* ---- Docker reconciliation ----------------------------------------------------- */

static void warnf(xlb_state_warn_fn warn, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(xlb_state_warn_fn warn, void *arg, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (warn)
		warn(arg, msg);
}

/* Docker's services and backends that Docker no longer has go away; so do
 * Docker backends inside a service another origin took over. */
static void docker_remove_stale(struct xlb_state *st, const struct xlb_config *want)
{
	for (size_t i = st->n_svcs; i-- > 0;) {
		struct svc *s = st->svcs[i];
		const struct xlb_cfg_service *ws = cfg_find(want, s->name);

		if (s->origin == XLB_ORIGIN_DOCKER && !ws) {
			svc_destroy(st, s);
			continue;
		}
		for (size_t j = s->n_bes; j-- > 0;)
			if (s->bes[j].origin == XLB_ORIGIN_DOCKER &&
			    (s->origin != XLB_ORIGIN_DOCKER || !cfg_has_backend(ws, &s->bes[j].ep)))
				be_remove(st, s, &s->bes[j]);
	}
}

/* The part of ws that does not collide with what other origins hold. */
static size_t docker_free_hosts(const struct xlb_state *st, const struct xlb_cfg_service *ws,
				const struct svc *self, char (*out)[XLB_HOST_LEN],
				struct xlb_cfg_path *out_paths, xlb_state_warn_fn warn, void *arg)
{
	char name[XLB_HOST_LEN + XLB_PATH_SIZE];
	size_t n = 0;

	for (size_t h = 0; h < ws->n_hosts; h++) {
		const char *path = xlb_cfg_route_path(ws, h);
		const struct svc *other = route_owner(st, ws->hosts[h], path, self);

		if (other) {
			warnf(warn, arg,
			      "service %s: %s %s is already served by %s service %s; "
			      "not routed to %s",
			      ws->name, strcmp(path, "/") == 0 ? "host" : "route",
			      route_str(ws->hosts[h], path, name, sizeof(name)),
			      origin_name(other->origin), other->name, ws->name);
			continue;
		}
		memcpy(out[n], ws->hosts[h], XLB_HOST_LEN);
		snprintf(out_paths[n].prefix, XLB_PATH_SIZE, "%s", path);
		out_paths[n++].scheme = ws->paths ? ws->paths[h].scheme : XLB_SCHEME_HTTP;
	}
	return n;
}

static int docker_apply_service(struct xlb_state *st, const struct xlb_cfg_service *ws,
				xlb_state_warn_fn warn, void *arg)
{
	char(*hosts)[XLB_HOST_LEN] = calloc(ws->n_hosts ? ws->n_hosts : 1, XLB_HOST_LEN);
	struct xlb_cfg_path *paths = calloc(ws->n_hosts ? ws->n_hosts : 1, sizeof(*paths));
	struct svc *s = svc_find(st, ws->name);
	char buf[XLB_EP_STRLEN];
	struct xlb_svc_spec spec;
	struct xlb_err err;
	const struct svc *other;
	int e = 0;

	if (!hosts || !paths) {
		e = -ENOMEM;
		goto out;
	}
	if (s && s->origin != XLB_ORIGIN_DOCKER) {
		warnf(warn, arg, "service %s: the name belongs to a %s service; containers skipped",
		      ws->name, origin_name(s->origin));
		goto out;
	}
	spec_of_cfg(ws, &spec);
	spec.hosts = (const char(*)[XLB_HOST_LEN])hosts;
	spec.paths = paths;
	spec.n_hosts = docker_free_hosts(st, ws, s, hosts, paths, warn, arg);
	other = spec.listen ? svc_find_listen(st, spec.listen) : NULL;
	if (other && other != s) {
		warnf(warn, arg,
		      "service %s: listen %s is already used by service %s; not published",
		      ws->name, xlb_format_endpoint(spec.listen, buf, sizeof(buf)), other->name);
		spec.listen = NULL;
	}
	if (!spec.listen && !spec.n_hosts) {
		if (s)
			svc_destroy(st, s);
		goto out;
	}
	e = s ? svc_apply_spec(st, s, &spec) : svc_add(st, &spec, XLB_ORIGIN_DOCKER, &err, &s);
	if (e) {
		warnf(warn, arg, "service %s: %s", ws->name,
		      s ? "writing the maps failed" : err.msg);
		goto out;
	}
	for (size_t i = 0; i < ws->n_backends; i++) {
		const struct xlb_cfg_backend *cb = &ws->backends[i];
		struct be *b = be_find(s, &cb->ep);

		if (!b && be_insert(st, s, &cb->ep, cb->weight, XLB_ORIGIN_DOCKER, &err)) {
			warnf(warn, arg, "service %s: %s", ws->name, err.msg);
			continue;
		}
		b = be_find(s, &cb->ep);
		b->weight = cb->weight;
		b->stopping = cb->draining;
	}
	e = svc_sync(st, s);
out:
	free(hosts);
	free(paths);
	return e;
}

int xlb_state_apply_docker(struct xlb_state *st, const struct xlb_config *want,
			   xlb_state_warn_fn warn, void *arg)
{
	int err = 0;

	docker_remove_stale(st, want);
	for (size_t i = 0; i < want->n_services; i++)
		if (docker_apply_service(st, &want->services[i], warn, arg))
			err = -EIO;
	return err;
}
