// SPDX-License-Identifier: GPL-2.0
/* xlbd: loads and attaches the data path, keeps the maps in line with the
 * config, Docker's containers and the control socket, and leaves
 * everything pinned on exit so a restart does not drop a flow (unless told
 * --teardown-on-exit, as the compose service is). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "lib/attach.h"
#include "caps.h"
#include "lib/config.h"
#include "control.h"
#include "docker.h"
#include "health.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "metrics.h"
#include "lib/netlink.h"
#include "lib/pins.h"
#include "proxy/proxy.h"
#include "state.h"
#include "takeover.h"
#include "xlb.skel.h"

#define MAX_UPLINKS 16
#define MAX_LISTEN 16
#define RECHECK_INTERVAL_S 5
#define PROXY_TICK_MS 250
#define FAST_RECHECKS 8	/* ticks: 2 s of looking again for pending links */
#define STATS_EVERY_TICKS 4
#define EXIT_USAGE 2

struct opts {
	const char *config;
	const char *pin_dir;
	const char *control;
	const char *ifnames[MAX_UPLINKS];
	int ifindexes[MAX_UPLINKS];
	int n_ifaces;
	struct xlb_endpoint http_listen[MAX_LISTEN];
	int n_http;
	struct xlb_endpoint tls_listen[MAX_LISTEN];
	int n_tls;
	struct xlb_proxy_limits lim;
	bool docker;
	const char *docker_socket;
	uint32_t docker_resync_ms;
	uint32_t docker_min_listen_port;
	bool has_vip;
	struct xlb_endpoint vip;
	bool teardown_on_exit;
	uint32_t flow_entries;	/* 0: the compiled-in XLB_FLOW_ENTRIES */
	bool has_metrics;
	struct xlb_endpoint metrics;
	bool takeover;		/* take the running xlbd's listeners */
	uint32_t drain_ms;	/* what the old one gets to finish its connections */
};

struct daemon {
	struct opts o;
	struct xlb_config cfg;
	struct xlb *skel;
	struct xlb_state *state;
	struct xlb_control *ctl;
	struct xlb_proxy *proxy;
	struct xlb_loop *loop;
	struct xlb_docker *docker;
	struct xlb_health *health;
	struct xlb_metrics *metrics;
	struct xlb_dhealth *checks;	/* what health watches for Docker */
	size_t n_checks;
	struct xlb_dhealth *cfg_checks;	/* ... and for the config file */
	size_t n_cfg_checks;
	struct xlb_attach_ctx actx;
	bool links_pending;	/* a backend's link was not ready at the last look */
	unsigned fast_rechecks;	/* ticks left to look again soon after a change */
	struct xlb_watch sig_w, recheck_w, tick_w;
	unsigned ticks;
	bool stop;
	bool skel_loaded;	/* something was pinned or attached: teardown has work */
	/* takeover, new side: the listeners handed over, until adopted */
	struct xlb_handed_listener handed[XLB_TAKEOVER_MAX];
	size_t n_handed;
	/* takeover, old side: the new xlbd's socket, answered after this loop
	 * iteration; then only the open connections are served */
	int handover_fd;
	uint32_t handover_drain_ms;
	bool draining;
	uint64_t drain_end_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xlbd [--config FILE] [--docker [SOCKET]] [--iface IF]... [--vip ADDR]\n"
		   "            [--pin-dir DIR] [--control PATH] [--log-level error|warn|info|debug]\n"
		   "            [--docker-resync-ms N] [--docker-min-listen-port N]\n"
		   "            [--teardown-on-exit] [--flow-table-size N]\n"
		   "            [--http-listen ADDR:PORT]... [--tls-listen ADDR:PORT]...\n"
		   "            [--peek-timeout-ms N] [--max-head BYTES] [--max-conns N]\n"
		   "            [--idle-timeout-ms N] [--proxy-path splice|sockmap|copy]\n"
		   "            [--metrics ADDR:PORT] [--takeover] [--drain-timeout-ms N]\n");
}

static int add_listen(struct xlb_endpoint *eps, int *n, const char *opt, const char *arg)
{
	const char *why = "invalid";

	if (*n == MAX_LISTEN)
		return pr_err("too many --%s (max %d)", opt, MAX_LISTEN), -EINVAL;
	if (xlb_parse_endpoint(arg, XLB_EP_NO_PROTO, &eps[*n], &why))
		return pr_err("bad --%s '%s': %s", opt, arg, why), -EINVAL;
	(*n)++;
	return 0;
}

static int parse_limit(const char *opt, const char *arg, uint32_t min, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || end == arg || v < min || v > UINT32_MAX)
		return pr_err("bad --%s '%s' (a number >= %u)", opt, arg, min), -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_metrics(const char *arg, struct xlb_endpoint *ep)
{
	const char *why = "invalid";

	if (xlb_parse_endpoint(arg, XLB_EP_NO_PROTO, ep, &why))
		return pr_err("bad --metrics '%s': %s (ADDR:PORT, e.g. 127.0.0.1:9120)", arg, why),
		       -EINVAL;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "iface", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "http-listen", required_argument, NULL, 'H' },
		{ "tls-listen", required_argument, NULL, 'T' },
		{ "peek-timeout-ms", required_argument, NULL, 1 },
		{ "max-head", required_argument, NULL, 2 },
		{ "max-conns", required_argument, NULL, 3 },
		{ "idle-timeout-ms", required_argument, NULL, 4 },
		{ "proxy-path", required_argument, NULL, 5 },
		{ "docker", optional_argument, NULL, 6 },
		{ "vip", required_argument, NULL, 7 },
		{ "docker-resync-ms", required_argument, NULL, 8 },
		{ "teardown-on-exit", no_argument, NULL, 9 },
		{ "flow-table-size", required_argument, NULL, 10 },
		{ "metrics", required_argument, NULL, 11 },
		{ "docker-min-listen-port", required_argument, NULL, 12 },
		{ "takeover", no_argument, NULL, 13 },
		{ "drain-timeout-ms", required_argument, NULL, 14 },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const struct xlb_proxy_limits defaults = XLB_PROXY_DEFAULT_LIMITS;
	enum xlb_log_level lvl;
	int c, err = 0;

	o->pin_dir = XLB_DEFAULT_PIN_DIR;
	o->control = XLB_DEFAULT_CONTROL;
	o->lim = defaults;
	o->docker_min_listen_port = XLB_DOCKER_MIN_LISTEN_PORT;
	o->drain_ms = XLB_DRAIN_TIMEOUT_MS;
	while (!err && (c = getopt_long(argc, argv, "c:i:p:s:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 'H': err = add_listen(o->http_listen, &o->n_http, "http-listen", optarg); break;
		case 'T': err = add_listen(o->tls_listen, &o->n_tls, "tls-listen", optarg); break;
		case 1: err = parse_limit("peek-timeout-ms", optarg, 1, &o->lim.peek_timeout_ms); break;
		case 2: err = parse_limit("max-head", optarg, 64, &o->lim.max_head); break;
		case 3: err = parse_limit("max-conns", optarg, 1, &o->lim.max_conns); break;
		case 4: err = parse_limit("idle-timeout-ms", optarg, 1, &o->lim.idle_timeout_ms); break;
		case 5:
			err = xlb_proxy_path_parse(optarg, &o->lim.path);
			if (err)
				pr_err("bad --proxy-path '%s' (splice, sockmap or copy)", optarg);
			break;
		case 6:
			o->docker = true;
			/* "--docker SOCKET" as well as "--docker=SOCKET" */
			if (!optarg && optind < argc && argv[optind][0] == '/')
				optarg = argv[optind++];
			o->docker_socket = optarg ? optarg : XLB_DOCKER_SOCKET;
			break;
		case 7:
			if (xlb_parse_addr(optarg, &o->vip.addr, &o->vip.family))
				return pr_err("bad --vip '%s' (an IPv4 or IPv6 address)", optarg), -EINVAL;
			o->has_vip = true;
			break;
		case 8: err = parse_limit("docker-resync-ms", optarg, 100, &o->docker_resync_ms); break;
		case 9: o->teardown_on_exit = true; break;
		case 10: err = parse_limit("flow-table-size", optarg, 1024, &o->flow_entries); break;
		case 12:
			err = parse_limit("docker-min-listen-port", optarg, 1,
					  &o->docker_min_listen_port);
			if (!err && o->docker_min_listen_port > 65535) {
				pr_err("bad --docker-min-listen-port '%s' (1-65535)", optarg);
				err = -EINVAL;
			}
			break;
		case 13: o->takeover = true; break;
		case 14: err = parse_limit("drain-timeout-ms", optarg, 0, &o->drain_ms); break;
		case 11:
			err = parse_metrics(optarg, &o->metrics);
			o->has_metrics = !err;
			break;
		case 'c': o->config = optarg; break;
		case 'p': o->pin_dir = optarg; break;
		case 's': o->control = optarg; break;
		case 'i':
			if (o->n_ifaces == MAX_UPLINKS)
				return pr_err("too many --iface (max %d)", MAX_UPLINKS), -EINVAL;
			o->ifnames[o->n_ifaces++] = optarg;
			break;
		case 'l':
			if (xlb_log_parse_level(optarg, &lvl))
				return pr_err("bad --log-level '%s'", optarg), -EINVAL;
			xlb_log_set_level(lvl);
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (err)
		return err;
	if (optind < argc)
		return pr_err("unexpected argument '%s'", argv[optind]), -EINVAL;
	if (!o->config && !o->docker)
		return pr_err("--config FILE or --docker is required"), -EINVAL;
	return 0;
}

static int resolve_ifaces(struct opts *o)
{
	for (int i = 0; i < o->n_ifaces; i++) {
		o->ifindexes[i] = (int)if_nametoindex(o->ifnames[i]);
		if (!o->ifindexes[i])
			return pr_err("unknown interface '%s'", o->ifnames[i]), -ENODEV;
	}
	return 0;
}

static int load_config(struct daemon *d)
{
	char err[512];
	int e;

	if (!d->o.config)
		return 0;
	e = xlb_config_load(d->o.config, &d->cfg, err, sizeof(err));

	if (e)
		pr_err("%s", err);
	return e;
}

/* ---- BPF ------------------------------------------------------------------ */

/* The devmap is reused by hand (see maps.bpf.h): take the pinned one if
 * there is one, else pin the new one after load. */
static int devmap_reuse(struct bpf_map *m, const char *pin_dir, bool *reused)
{
	char path[PATH_MAX];
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
	*reused = false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map__reuse_fd(m, fd);
	close(fd);
	*reused = err == 0;
	return err;
}

static int devmap_pin(struct bpf_map *m, const char *pin_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
	return bpf_map__pin(m, path);
}

/* The flow table is sized before it is created; a pinned one keeps its
 * size, and libbpf would refuse it with a bare EINVAL: say why first. */
static int size_flow_tables(struct daemon *d)
{
	struct bpf_map *maps[] = { d->skel->maps.xlb_flows };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	if (!d->o.flow_entries)
		return 0;
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", d->o.pin_dir, bpf_map__name(maps[i]));
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			err = bpf_obj_get_info_by_fd(fd, &info, &len);
			close(fd);
			if (!err && info.max_entries != d->o.flow_entries)
				return pr_err("--flow-table-size %u: the pinned %s has %u entries "
					      "(xlbctl teardown first, which drops every flow)",
					      d->o.flow_entries, bpf_map__name(maps[i]),
					      info.max_entries), -EEXIST;
		}
		err = bpf_map__set_max_entries(maps[i], d->o.flow_entries);
		if (err)
			return pr_err("--flow-table-size: %s", strerror(-err)), err;
	}
	return 0;
}

static int open_data_path(struct daemon *d)
{
	bool reused;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = d->o.pin_dir);
	int err;

	err = xlb_pins_prepare(d->o.pin_dir);
	if (err)
		return pr_err("pin dir %s: %s", d->o.pin_dir, strerror(-err)), err;
	err = xlb_pins_remove_obsolete(d->o.pin_dir);
	if (err > 0)
		pr_info("event=obsolete_pins_removed pin_dir=%s count=%d", d->o.pin_dir, err);
	else if (err < 0)
		pr_warn("event=obsolete_pins_kept pin_dir=%s err=\"%s\"", d->o.pin_dir,
			strerror(-err));
	d->skel = xlb__open_opts(&oo);
	if (!d->skel)
		return pr_err("opening BPF object: %s", strerror(errno)), -errno;
	err = size_flow_tables(d);
	if (err)
		return err;
	err = devmap_reuse(d->skel->maps.xlb_tx_ports, d->o.pin_dir, &reused);
	if (err)
		return pr_err("reusing pinned xlb_tx_ports: %s", strerror(-err)), err;
	err = xlb__load(d->skel);
	if (err)
		return pr_err("loading BPF programs: %s", strerror(-err)), err;
	if (!reused && (err = devmap_pin(d->skel->maps.xlb_tx_ports, d->o.pin_dir)))
		return pr_err("pinning xlb_tx_ports: %s", strerror(-err)), err;
	d->actx = (struct xlb_attach_ctx){
		.pin_dir = d->o.pin_dir,
		.ifaces_fd = bpf_map__fd(d->skel->maps.xlb_ifaces),
		.tx_ports_fd = bpf_map__fd(d->skel->maps.xlb_tx_ports),
		.ingress_fd = bpf_program__fd(d->skel->progs.xlb_ingress),
		.return_fd = bpf_program__fd(d->skel->progs.xlb_return),
		.peer_pass_fd = bpf_program__fd(d->skel->progs.xlb_peer_pass),
	};
	return 0;
}

static int attach_uplinks(struct daemon *d)
{
	for (int i = 0; i < d->o.n_ifaces; i++) {
		int err = xlb_attach_uplink(&d->actx, d->o.ifindexes[i]);

		if (err)
			return pr_err("attaching XDP to %s: %s", d->o.ifnames[i], strerror(-err)),
			       err;
		pr_info("event=uplink_attached iface=%s ifindex=%d", d->o.ifnames[i],
			d->o.ifindexes[i]);
	}
	return 0;
}

/* Backend-facing links (behind a bridge: the backend's bridge port too)
 * are found by route lookup, per backend address, on every recheck: cheap
 * when nothing changed, and it follows a backend whose MAC moved. */
static void ensure_backend_link(const struct xlb_endpoint *ep, void *arg)
{
	struct daemon *d = arg;
	char buf[XLB_EP_STRLEN];
	int err = xlb_attach_backend_route(&d->actx, ep);

	if (err == -EAGAIN) /* the kernel forwards to it meanwhile */
		d->links_pending = true;
	if (err == -EAGAIN)
		pr_debug("event=backend_link_pending backend=%s retry_s=%d",
			 xlb_format_endpoint(ep, buf, sizeof(buf)), RECHECK_INTERVAL_S);
	else if (err)
		pr_warn("event=backend_link_failed backend=%s err=\"%s\"",
			xlb_format_endpoint(ep, buf, sizeof(buf)), strerror(-err));
}

static void ensure_backend_links(struct daemon *d)
{
	if (!d->o.n_ifaces)
		return; /* no XDP: the proxy alone needs nothing on the links */
	d->links_pending = false;
	xlb_state_for_each_backend(d->state, ensure_backend_link, d);
}

static int init_state(struct daemon *d)
{
	struct xlb_state_maps m = {
		.hosts = bpf_map__fd(d->skel->maps.xlb_hosts),
		.services = bpf_map__fd(d->skel->maps.xlb_services),
		.svc_info = bpf_map__fd(d->skel->maps.xlb_svc_info),
		.backends = bpf_map__fd(d->skel->maps.xlb_backends),
		.maglev = bpf_map__fd(d->skel->maps.xlb_maglev),
		.flows = bpf_map__fd(d->skel->maps.xlb_flows),
		.rnat_eps = bpf_map__fd(d->skel->maps.xlb_rnat_eps),
	};
	struct xlb_err err = { "" };
	int e;

	e = xlb_state_new(&m, &d->state);
	if (!e)
		e = xlb_state_adopt(d->state);
	if (e)
		return pr_err("reading pinned state: %s", strerror(-e)), e;
	e = xlb_state_apply_config(d->state, &d->cfg, &err);
	if (e)
		return pr_err("%s: %s", d->o.config ? d->o.config : "config", err.msg), e;
	return 0;
}

/* ---- proxy ------------------------------------------------------------------ */

/* A handed-over listener for (ep, tls), taken out of the list, or -1. */
static int handed_take(struct daemon *d, const struct xlb_endpoint *ep, bool tls)
{
	for (size_t i = 0; i < d->n_handed; i++) {
		struct xlb_handed_listener *h = &d->handed[i];

		if (h->fd >= 0 && h->tls == tls && xlb_endpoint_equal(&h->ep, ep)) {
			int fd = h->fd;

			h->fd = -1;
			return fd;
		}
	}
	return -1;
}

/* Handed-over listeners this config no longer has: their queued
 * connections are reset when the last descriptor closes. */
static void handed_close_rest(struct daemon *d)
{
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < d->n_handed; i++) {
		if (d->handed[i].fd < 0)
			continue;
		pr_warn("event=takeover_listener_closed addr=%s reason=\"not configured here\"",
			xlb_format_endpoint(&d->handed[i].ep, buf, sizeof(buf)));
		close(d->handed[i].fd);
		d->handed[i].fd = -1;
	}
	d->n_handed = 0;
}

/* --takeover: the running xlbd's listeners, just before ours would open,
 * so it serves until then. Nobody running is not an error. */
static int takeover_fetch(struct daemon *d)
{
	int err;

	if (!d->o.takeover)
		return 0;
	err = xlb_takeover_request(d->o.control, d->o.drain_ms, d->handed, XLB_TAKEOVER_MAX,
				   &d->n_handed);
	if (err == -ENOENT || err == -ECONNREFUSED) {
		pr_info("event=takeover_none control=%s", d->o.control);
		return 0;
	}
	if (err)
		return err;
	pr_info("event=takeover listeners=%zu drain_ms=%u", d->n_handed, d->o.drain_ms);
	return 0;
}

/* Listeners from the command line and from the config's [http]/[tls]. */
static int open_listeners(struct daemon *d)
{
	struct { const struct xlb_endpoint *eps; size_t n; bool tls; } sets[] = {
		{ d->o.http_listen, (size_t)d->o.n_http, false },
		{ d->o.tls_listen, (size_t)d->o.n_tls, true },
		{ d->cfg.http_listen, d->cfg.n_http_listen, false },
		{ d->cfg.tls_listen, d->cfg.n_tls_listen, true },
	};
	char buf[XLB_EP_STRLEN];
	int err;

	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		for (size_t i = 0; i < sets[s].n; i++) {
			int fd = handed_take(d, &sets[s].eps[i], sets[s].tls);

			if (fd >= 0)
				err = xlb_proxy_adopt_listener(d->proxy, &sets[s].eps[i], sets[s].tls, fd);
			else
				err = xlb_proxy_listen(d->proxy, &sets[s].eps[i], sets[s].tls);
			if (err)
				return pr_err("listening on %s: %s",
					      xlb_format_endpoint(&sets[s].eps[i], buf, sizeof(buf)),
					      strerror(-err)), err;
		}
	}
	return 0;
}

/* Enough descriptors for many proxied connections (six each). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void flush_proxy_stats(struct daemon *d)
{
	xlb_proxy_flush_stats(d->proxy, bpf_map__fd(d->skel->maps.xlb_proxy_svc_stats),
			      bpf_map__fd(d->skel->maps.xlb_listeners));
}

/* ---- metrics ---------------------------------------------------------------- */

/* Before each scrape: the proxy's counters as of now, Docker's sync. */
static bool metrics_prepare(void *arg, struct xlb_docker_stats *docker)
{
	struct daemon *d = arg;

	flush_proxy_stats(d);
	if (!d->docker)
		return false;
	xlb_docker_get_stats(d->docker, docker);
	return true;
}

static int start_metrics(struct daemon *d)
{
	struct xlb_metrics_opts mo = {
		.listen = d->o.metrics,
		.maps = {
			.svc_info = bpf_map__fd(d->skel->maps.xlb_svc_info),
			.backends = bpf_map__fd(d->skel->maps.xlb_backends),
			.svc_stats = bpf_map__fd(d->skel->maps.xlb_svc_stats),
			.be_stats = bpf_map__fd(d->skel->maps.xlb_be_stats),
			.reasons = bpf_map__fd(d->skel->maps.xlb_reasons),
			.flows = bpf_map__fd(d->skel->maps.xlb_flows),
			.proxy_svc_stats = bpf_map__fd(d->skel->maps.xlb_proxy_svc_stats),
			.listeners = bpf_map__fd(d->skel->maps.xlb_listeners),
		},
		.prepare = metrics_prepare,
		.arg = d,
	};

	if (!d->o.has_metrics)
		return 0;
	return xlb_metrics_start(d->loop, &mo, &d->metrics); /* logs its failure */
}

/* ---- event loop ----------------------------------------------------------- */

/* ---- health checks of the config's backends ----------------------------------- */

struct cfg_checks {
	struct xlb_dhealth *v;
	size_t n;
};

static bool check_listed(const struct xlb_dhealth *v, size_t n, const struct xlb_dhealth *c);

/* Every backend of a config service that has a check. */
static struct cfg_checks config_checks_list(const struct xlb_config *cfg)
{
	struct cfg_checks l = { NULL, 0 };
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
			struct xlb_dhealth *c = &l.v[l.n++];

			snprintf(c->service, sizeof(c->service), "%s", s->name);
			c->ep = s->backends[b].ep;
			c->spec = s->check;
		}
	}
	return l;
}

/* Before the config is applied, so that a backend new to it stays out of
 * the tables until its first check passed (as a new container does). */
static struct cfg_checks config_checks_watch(struct daemon *d)
{
	struct cfg_checks l = config_checks_list(&d->cfg);
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < l.n; i++)
		if (xlb_health_watch(d->health, l.v[i].service, &l.v[i].ep, &l.v[i].spec))
			pr_warn("event=health_watch_failed service=%s backend=%s", l.v[i].service,
				xlb_format_endpoint(&l.v[i].ep, buf, sizeof(buf)));
	return l;
}

/* After the apply: the checks the config dropped stop, and a backend that
 * stays without its check serves again. */
static void config_checks_replace(struct daemon *d, struct cfg_checks l)
{
	for (size_t i = 0; i < d->n_cfg_checks; i++) {
		const struct xlb_dhealth *c = &d->cfg_checks[i];

		if (check_listed(l.v, l.n, c))
			continue;
		xlb_health_unwatch(d->health, c->service, &c->ep);
		xlb_state_backend_set_health(d->state, c->service, &c->ep, true);
	}
	free(d->cfg_checks);
	d->cfg_checks = l.v;
	d->n_cfg_checks = l.n;
}

/* At start the config was applied before the checks existed: backends the
 * pins already held keep serving until their first check says otherwise,
 * so that a restart drops nothing. */
static void config_checks_start(struct daemon *d)
{
	config_checks_replace(d, config_checks_watch(d));
}

static bool listed(const struct xlb_endpoint *eps, size_t n, const struct xlb_endpoint *ep)
{
	for (size_t i = 0; i < n; i++)
		if (xlb_endpoint_equal(&eps[i], ep))
			return true;
	return false;
}

/* The config's [http]/[tls] listeners after a reload: the dropped ones
 * close (their connections go on), new ones open; the command line's
 * stay. A port that cannot be taken is one error line. */
static void reload_listeners(struct daemon *d, const struct xlb_config *old)
{
	struct { const struct xlb_endpoint *was, *now, *opt; size_t n_was, n_now, n_opt; bool tls; } k[] = {
		{ old->http_listen, d->cfg.http_listen, d->o.http_listen, old->n_http_listen,
		  d->cfg.n_http_listen, (size_t)d->o.n_http, false },
		{ old->tls_listen, d->cfg.tls_listen, d->o.tls_listen, old->n_tls_listen,
		  d->cfg.n_tls_listen, (size_t)d->o.n_tls, true },
	};
	char buf[XLB_EP_STRLEN];

	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < k[s].n_was; i++)
			if (!listed(k[s].now, k[s].n_now, &k[s].was[i]) &&
			    !listed(k[s].opt, k[s].n_opt, &k[s].was[i]))
				xlb_proxy_unlisten(d->proxy, &k[s].was[i], k[s].tls);
		for (size_t i = 0; i < k[s].n_now; i++) {
			int err = xlb_proxy_listen(d->proxy, &k[s].now[i], k[s].tls);

			if (err)
				pr_err("event=reload_failed listen=%s err=\"%s\"",
				       xlb_format_endpoint(&k[s].now[i], buf, sizeof(buf)),
				       strerror(-err));
		}
	}
}

static void reload_config(struct daemon *d)
{
	struct cfg_checks checks;
	struct xlb_config fresh = {}, old;
	struct xlb_err err = { "" };
	char msg[512];

	if (!d->o.config) {
		pr_info("event=reload config=none");
		return;
	}
	if (xlb_config_load(d->o.config, &fresh, msg, sizeof(msg))) {
		pr_err("event=reload_failed %s", msg);
		return;
	}
	old = d->cfg;
	d->cfg = fresh;
	checks = config_checks_watch(d);
	if (xlb_state_apply_config(d->state, &d->cfg, &err))
		pr_err("event=reload_failed %s", err.msg);
	else
		pr_info("event=reload config=%s", d->o.config);
	config_checks_replace(d, checks);
	ensure_backend_links(d);
	reload_listeners(d, &old);
	xlb_config_free(&old);
}

static void on_signal(struct xlb_watch *w, uint32_t events)
{
	struct daemon *d = xlb_container_of(w, struct daemon, sig_w);
	struct signalfd_siginfo si;

	(void)events;
	if (read(w->fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		if (!d->draining)
			reload_config(d);
		return;
	}
	pr_info("event=stop signal=%s", strsignal((int)si.ssi_signo));
	d->stop = true;
}

static void on_recheck(struct xlb_watch *w, uint32_t events)
{
	struct daemon *d = xlb_container_of(w, struct daemon, recheck_w);
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) > 0 && !d->draining)
		ensure_backend_links(d);
}

static void on_tick(struct xlb_watch *w, uint32_t events)
{
	struct daemon *d = xlb_container_of(w, struct daemon, tick_w);
	uint64_t n;

	(void)events;
	if (read(w->fd, &n, sizeof(n)) <= 0)
		return;
	xlb_proxy_tick(d->proxy);
	if (d->draining)
		return; /* the maps and links are the new xlbd's */
	xlb_control_tick(d->ctl);
	if (d->docker)
		xlb_docker_tick(d->docker);
	/* a new backend's MAC and bridge port are usually known within
	 * milliseconds of the probe: look again soon rather than in 5 s */
	if (d->links_pending && d->fast_rechecks) {
		d->fast_rechecks--;
		ensure_backend_links(d);
	}
	if (++d->ticks % STATS_EVERY_TICKS == 0)
		flush_proxy_stats(d);
}

static void on_state_changed(void *arg)
{
	struct daemon *d = arg;

	d->fast_rechecks = FAST_RECHECKS;
	ensure_backend_links(d);
}

static int timer_watch(struct daemon *d, struct xlb_watch *w, xlb_watch_fn fn, long ms)
{
	struct itimerspec its = {
		.it_interval = { ms / 1000, (ms % 1000) * 1000000 },
		.it_value = { ms / 1000, (ms % 1000) * 1000000 },
	};

	w->fn = fn;
	w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (w->fd < 0 || timerfd_settime(w->fd, 0, &its, NULL))
		return -errno;
	return xlb_loop_add(d->loop, w, EPOLLIN);
}

static int setup_loop(struct daemon *d)
{
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig_w = (struct xlb_watch){ .fd = signalfd(-1, &mask, SFD_CLOEXEC), .fn = on_signal };
	if (d->sig_w.fd < 0)
		return -errno;
	err = xlb_loop_add(d->loop, &d->sig_w, EPOLLIN);
	if (!err)
		err = timer_watch(d, &d->recheck_w, on_recheck, RECHECK_INTERVAL_S * 1000);
	if (!err)
		err = timer_watch(d, &d->tick_w, on_tick, PROXY_TICK_MS);
	return err;
}

/* ---- takeover, old side ------------------------------------------------------- */

static int on_takeover(void *arg, int fd, uint32_t drain_ms, struct xlb_err *err)
{
	struct daemon *d = arg;

	if (d->handover_fd >= 0 || d->draining) {
		snprintf(err->msg, sizeof(err->msg), "a takeover is already under way");
		return -EBUSY;
	}
	d->handover_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (d->handover_fd < 0) {
		snprintf(err->msg, sizeof(err->msg), "dup: %s", strerror(errno));
		return -errno;
	}
	d->handover_drain_ms = drain_ms;
	return 0;
}

/* Everything the new xlbd binds or owns goes first (control socket,
 * metrics port, Docker and health checks), then the listeners are sent.
 * From here the data path and the maps are the new one's. */
static void hand_over(struct daemon *d)
{
	struct xlb_handed_listener l[XLB_TAKEOVER_MAX];
	size_t n = xlb_proxy_listeners(d->proxy, l, XLB_TAKEOVER_MAX);
	int err;

	flush_proxy_stats(d);
	xlb_control_close(d->ctl);
	d->ctl = NULL;
	xlb_metrics_free(d->metrics);
	d->metrics = NULL;
	xlb_docker_free(d->docker);
	d->docker = NULL;
	xlb_health_free(d->health);
	d->health = NULL;
	xlb_state_health_probe(d->state, NULL, NULL);
	err = xlb_takeover_send(d->handover_fd, l, n);
	close(d->handover_fd);
	d->handover_fd = -1;
	xlb_proxy_stop_accepting(d->proxy);
	d->draining = true;
	d->drain_end_ms = xlb_loop_now_ms() + d->handover_drain_ms;
	if (err)
		pr_err("event=handover_failed listeners=%zu err=\"%s\"", n, strerror(-err));
	else
		pr_info("event=handover listeners=%zu open_conns=%zu drain_ms=%u", n,
			xlb_proxy_conn_count(d->proxy), d->handover_drain_ms);
}

static void drain_check(struct daemon *d)
{
	size_t open = xlb_proxy_conn_count(d->proxy);

	if (open && xlb_loop_now_ms() < d->drain_end_ms)
		return;
	pr_info("event=drained open_conns=%zu%s", open, open ? " reason=drain_timeout" : "");
	d->stop = true;
}

static void run_loop(struct daemon *d)
{
	while (!d->stop) {
		int err = xlb_loop_run_once(d->loop, -1);

		xlb_proxy_reap(d->proxy);
		if (d->handover_fd >= 0)
			hand_over(d);
		if (d->draining)
			drain_check(d);
		if (err < 0) {
			pr_err("event=loop_failed err=\"%s\"", strerror(-err));
			return;
		}
	}
}

static void close_watch(struct xlb_watch *w)
{
	if (w->fd > 0)
		close(w->fd);
	w->fd = -1;
}

static void cleanup(struct daemon *d)
{
	xlb_metrics_free(d->metrics);
	xlb_docker_free(d->docker);
	xlb_health_free(d->health);
	free(d->checks);
	free(d->cfg_checks);
	handed_close_rest(d);
	if (d->handover_fd >= 0)
		close(d->handover_fd);
	if (d->proxy && d->skel && !d->draining)
		flush_proxy_stats(d);
	xlb_proxy_free(d->proxy);
	xlb_control_close(d->ctl);
	xlb_state_free(d->state);
	/* programs stay attached and maps pinned: only our fds go */
	xlb__destroy(d->skel);
	xlb_config_free(&d->cfg);
	close_watch(&d->sig_w);
	close_watch(&d->recheck_w);
	close_watch(&d->tick_w);
	xlb_loop_free(d->loop);
	if (d->draining && d->o.teardown_on_exit)
		pr_info("event=teardown_skipped reason=\"handed over to a new xlbd\"");
	else if (d->o.teardown_on_exit && d->skel_loaded) {
		int err = xlb_teardown(d->o.pin_dir);

		pr_info("event=teardown pin_dir=%s err=\"%s\"", d->o.pin_dir,
			err ? strerror(-err) : "none");
	}
}

/* The verdict program goes on the sockhash before any socket does. */
static int sockmap_attach(struct daemon *d)
{
	int err;

	if (d->o.lim.path != XLB_PATH_SOCKMAP)
		return 0;
	err = bpf_prog_attach(bpf_program__fd(d->skel->progs.xlb_sk_verdict),
			      bpf_map__fd(d->skel->maps.xlb_sock_pairs),
			      BPF_SK_SKB_STREAM_VERDICT, 0);
	if (err)
		return pr_err("attaching the sockmap verdict program: %s", strerror(errno)),
		       -errno;
	return 0;
}

/* ---- Docker and health checks ------------------------------------------------ */

static bool check_listed(const struct xlb_dhealth *v, size_t n, const struct xlb_dhealth *c)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].service, c->service) == 0 && xlb_endpoint_equal(&v[i].ep, &c->ep))
			return true;
	return false;
}

/* Watch the model's checks (before the apply, so a new backend is known
 * to be unchecked yet), stop watching the ones it dropped (after). */
static void checks_watch(struct daemon *d, const struct xlb_dmodel *m)
{
	char buf[XLB_EP_STRLEN];

	for (size_t i = 0; i < m->n_checks; i++) {
		const struct xlb_dhealth *c = &m->checks[i];

		if (xlb_health_watch(d->health, c->service, &c->ep, &c->spec))
			pr_warn("event=health_watch_failed service=%s backend=%s", c->service,
				xlb_format_endpoint(&c->ep, buf, sizeof(buf)));
	}
}

static void checks_replace(struct daemon *d, const struct xlb_dmodel *m)
{
	struct xlb_dhealth *copy = NULL;

	for (size_t i = 0; i < d->n_checks; i++)
		if (!check_listed(m->checks, m->n_checks, &d->checks[i]))
			xlb_health_unwatch(d->health, d->checks[i].service, &d->checks[i].ep);
	if (m->n_checks) {
		copy = malloc(m->n_checks * sizeof(*copy));
		if (copy)
			memcpy(copy, m->checks, m->n_checks * sizeof(*copy));
	}
	free(d->checks);
	d->checks = copy;
	d->n_checks = copy ? m->n_checks : 0;
	/* backends adopted or kept across applies take the checks' verdicts */
	for (size_t i = 0; i < d->n_checks; i++)
		xlb_state_backend_set_health(d->state, d->checks[i].service, &d->checks[i].ep,
					     xlb_health_is_up(d->health, d->checks[i].service,
							      &d->checks[i].ep));
}

static void on_docker_model(void *arg, const struct xlb_dmodel *m, xlb_dmodel_warn_fn warn,
			    void *warn_arg)
{
	struct daemon *d = arg;

	checks_watch(d, m);
	if (xlb_state_apply_docker(d->state, &m->cfg, warn, warn_arg))
		pr_err("event=docker_apply_failed err=\"writing the maps failed\"");
	checks_replace(d, m);
	d->fast_rechecks = FAST_RECHECKS;
	ensure_backend_links(d);
}

static void on_health(void *arg, const char *svc, const struct xlb_endpoint *ep, bool up)
{
	struct daemon *d = arg;
	struct xlb_endpoint be = *ep;

	be.proto = 0; /* backends are keyed without one */
	xlb_state_backend_set_health(d->state, svc, &be, up);
}

static bool health_probe(void *arg, const char *svc, const struct xlb_endpoint *ep)
{
	struct daemon *d = arg;

	return xlb_health_is_up(d->health, svc, ep);
}

static void on_backend_gone(void *arg, uint32_t be_id)
{
	struct daemon *d = arg;

	xlb_proxy_close_backend(d->proxy, be_id);
}

static int start_discovery(struct daemon *d)
{
	struct xlb_docker_opts dopts = {
		.socket = d->o.docker_socket,
		.vip = d->o.has_vip ? &d->o.vip : NULL,
		.resync_ms = d->o.docker_resync_ms,
		.min_listen_port = (uint16_t)d->o.docker_min_listen_port,
	};
	int err;

	/* xlb.listen=PORT/proto needs an address: the first uplink's */
	if (!d->o.has_vip && d->o.n_ifaces &&
	    xlb_nl_link_addr(d->o.ifindexes[0], AF_INET, &d->o.vip.addr) == 0) {
		char buf[64];

		d->o.vip.family = AF_INET;
		d->o.has_vip = true;
		dopts.vip = &d->o.vip;
		pr_info("event=vip_default vip=%s iface=%s",
			xlb_format_addr(AF_INET, &d->o.vip.addr, buf, sizeof(buf)), d->o.ifnames[0]);
	}
	xlb_state_on_backend_gone(d->state, on_backend_gone, d);
	if (d->o.n_ifaces)
		xlb_state_on_backend_new(d->state, ensure_backend_link, d);
	err = xlb_health_new(d->loop, on_health, d, &d->health);
	if (err)
		return pr_err("health checks: %s", strerror(-err)), err;
	xlb_state_health_probe(d->state, health_probe, d);
	if (!d->o.docker)
		return 0;
	err = xlb_docker_new(d->loop, &dopts, on_docker_model, d, &d->docker);
	if (err)
		return pr_err("docker: %s: %s", dopts.socket, strerror(-err)), err;
	return 0;
}

static int start(struct daemon *d)
{
	struct xlb_proxy_sockmap sm;
	int err;

	raise_fd_limit();
	err = open_data_path(d);
	d->skel_loaded = d->skel != NULL;
	if (!err)
		err = init_state(d);
	if (!err)
		err = attach_uplinks(d);
	if (err)
		return err;
	ensure_backend_links(d);
	sm = (struct xlb_proxy_sockmap){ bpf_map__fd(d->skel->maps.xlb_sock_pairs),
					 bpf_map__fd(d->skel->maps.xlb_sock_peer) };
	err = xlb_loop_new(&d->loop);
	if (!err)
		err = sockmap_attach(d);
	if (!err)
		err = xlb_proxy_new(d->loop, d->state, &d->o.lim, &sm, &d->proxy);
	if (!err)
		err = takeover_fetch(d);
	if (!err)
		err = open_listeners(d);
	handed_close_rest(d);
	if (err)
		return err;
	err = xlb_control_open(d->o.control, d->loop, d->state, on_state_changed, d, &d->ctl);
	if (err)
		return pr_err("control socket %s: %s", d->o.control, strerror(-err)), err;
	xlb_control_on_takeover(d->ctl, on_takeover);
	err = setup_loop(d);
	if (err)
		return pr_err("event loop: %s", strerror(-err)), err;
	err = start_discovery(d);
	if (!err)
		config_checks_start(d);
	if (!err)
		err = start_metrics(d);
	if (!err)
		xlb_caps_drop_to_runtime((d->o.n_ifaces ? XLB_CAPS_LINKS : 0) |
					 (d->o.config ? XLB_CAPS_LISTEN : 0));
	return err;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sig_w.fd = -1, .recheck_w.fd = -1, .tick_w.fd = -1,
			    .handover_fd = -1 };
	int err;

	xlb_log_set_prog("xlbd");
	xlb_log_route_libbpf();
	if (parse_args(argc, argv, &d.o) || load_config(&d) || resolve_ifaces(&d.o)) {
		xlb_config_free(&d.cfg);
		return EXIT_USAGE;
	}
	err = start(&d);
	if (!err) {
		pr_info("event=ready services=%zu uplinks=%d pin_dir=%s control=%s proxy_path=%s",
			xlb_state_service_count(d.state), d.o.n_ifaces, d.o.pin_dir, d.o.control,
			xlb_proxy_path_name(d.o.lim.path));
		run_loop(&d);
	}
	cleanup(&d);
	return err ? 1 : 0;
}
