// SPDX-License-Identifier: GPL-2.0
/* xlbd: loads and attaches the data path, keeps the maps in line with the
 * config and the control socket, and leaves everything pinned on exit so
 * a restart does not drop a flow. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "attach.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "netlink.h"
#include "pins.h"
#include "state.h"
#include "xlb.skel.h"

#define MAX_UPLINKS 16
#define MAX_LINKS 1024
#define RECHECK_INTERVAL_S 5
#define EXIT_USAGE 2

struct opts {
	const char *config;
	const char *pin_dir;
	const char *control;
	const char *ifnames[MAX_UPLINKS];
	int ifindexes[MAX_UPLINKS];
	int n_ifaces;
};

struct daemon {
	struct opts o;
	struct xlb_config cfg;
	struct xlb *skel;
	struct xlb_state *state;
	struct xlb_control *ctl;
	struct xlb_attach_ctx actx;
	int backend_links[MAX_LINKS]; /* ifindexes already given the return path */
	int n_backend_links;
	int sfd, tfd, epfd;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: xlbd --config FILE --iface IF [--iface IF ...] [--pin-dir DIR]\n"
		   "            [--control PATH] [--log-level error|warn|info|debug]\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "iface", required_argument, NULL, 'i' },
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	enum xlb_log_level lvl;
	int c;

	o->pin_dir = XLB_DEFAULT_PIN_DIR;
	o->control = XLB_DEFAULT_CONTROL;
	while ((c = getopt_long(argc, argv, "c:i:p:s:l:h", lo, NULL)) != -1) {
		switch (c) {
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
	if (optind < argc)
		return pr_err("unexpected argument '%s'", argv[optind]), -EINVAL;
	if (!o->config)
		return pr_err("--config FILE is required"), -EINVAL;
	if (!o->n_ifaces)
		return pr_err("at least one --iface is required"), -EINVAL;
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
	int e = xlb_config_load(d->o.config, &d->cfg, err, sizeof(err));

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

static int open_data_path(struct daemon *d)
{
	bool reused;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = d->o.pin_dir);
	int err;

	err = xlb_pins_prepare(d->o.pin_dir);
	if (err)
		return pr_err("pin dir %s: %s", d->o.pin_dir, strerror(-err)), err;
	d->skel = xlb__open_opts(&oo);
	if (!d->skel)
		return pr_err("opening BPF object: %s", strerror(errno)), -errno;
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

static bool link_known(const struct daemon *d, int ifindex)
{
	for (int i = 0; i < d->n_backend_links; i++)
		if (d->backend_links[i] == ifindex)
			return true;
	return false;
}

/* Backend-facing links are found by route lookup, per backend address. */
static void ensure_backend_link(const struct xlb_endpoint *ep, void *arg)
{
	struct daemon *d = arg;
	char buf[XLB_EP_STRLEN];
	int oif, err;

	err = xlb_nl_route_oif(ep->family, &ep->addr, &oif);
	if (err) {
		pr_warn("event=no_route backend=%s err=\"%s\"",
			xlb_format_endpoint(ep, buf, sizeof(buf)), strerror(-err));
		return;
	}
	if (link_known(d, oif) || d->n_backend_links == MAX_LINKS)
		return;
	err = xlb_attach_backend_link(&d->actx, oif);
	if (err) {
		pr_warn("event=backend_link_failed ifindex=%d err=\"%s\"", oif, strerror(-err));
		return;
	}
	d->backend_links[d->n_backend_links++] = oif;
}

static void ensure_backend_links(struct daemon *d)
{
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
		.rnat = bpf_map__fd(d->skel->maps.xlb_rnat),
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
		return pr_err("%s: %s", d->o.config, err.msg), e;
	return 0;
}

/* ---- event loop ----------------------------------------------------------- */

static int epoll_add(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

static int setup_loop(struct daemon *d)
{
	struct itimerspec its = { .it_interval = { RECHECK_INTERVAL_S, 0 },
				  .it_value = { RECHECK_INTERVAL_S, 0 } };
	sigset_t mask;
	int err;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sfd < 0 || d->tfd < 0 || d->epfd < 0)
		return -errno;
	if (timerfd_settime(d->tfd, 0, &its, NULL))
		return -errno;
	err = epoll_add(d->epfd, d->sfd);
	if (!err)
		err = epoll_add(d->epfd, d->tfd);
	if (!err)
		err = epoll_add(d->epfd, xlb_control_fd(d->ctl));
	return err;
}

static void reload_config(struct daemon *d)
{
	struct xlb_config fresh = {};
	struct xlb_err err = { "" };
	char msg[512];

	if (xlb_config_load(d->o.config, &fresh, msg, sizeof(msg))) {
		pr_err("event=reload_failed %s", msg);
		return;
	}
	xlb_config_free(&d->cfg);
	d->cfg = fresh;
	if (xlb_state_apply_config(d->state, &d->cfg, &err))
		pr_err("event=reload_failed %s", err.msg);
	else
		pr_info("event=reload config=%s", d->o.config);
	ensure_backend_links(d);
}

/* Returns false when the daemon should stop. */
static bool handle_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	if (read(d->sfd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo == SIGHUP) {
		reload_config(d);
		return true;
	}
	pr_info("event=stop signal=%s", strsignal((int)si.ssi_signo));
	return false;
}

static void run_loop(struct daemon *d)
{
	struct epoll_event evs[8];
	uint64_t ticks;

	for (;;) {
		int n = epoll_wait(d->epfd, evs, 8, -1);

		if (n < 0 && errno != EINTR)
			return;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == d->sfd && !handle_signal(d))
				return;
			if (fd == d->tfd && read(d->tfd, &ticks, sizeof(ticks)) > 0)
				ensure_backend_links(d);
			if (fd == xlb_control_fd(d->ctl) && xlb_control_serve(d->ctl, d->state))
				ensure_backend_links(d);
		}
	}
}

static void cleanup(struct daemon *d)
{
	xlb_control_close(d->ctl);
	xlb_state_free(d->state);
	/* programs stay attached and maps pinned: only our fds go */
	xlb__destroy(d->skel);
	xlb_config_free(&d->cfg);
	if (d->sfd > 0)
		close(d->sfd);
	if (d->tfd > 0)
		close(d->tfd);
	if (d->epfd > 0)
		close(d->epfd);
}

static int start(struct daemon *d)
{
	int err;

	err = open_data_path(d);
	if (!err)
		err = init_state(d);
	if (!err)
		err = attach_uplinks(d);
	if (err)
		return err;
	ensure_backend_links(d);
	err = xlb_control_open(d->o.control, &d->ctl);
	if (err)
		return pr_err("control socket %s: %s", d->o.control, strerror(-err)), err;
	err = setup_loop(d);
	if (err)
		return pr_err("event loop: %s", strerror(-err)), err;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .sfd = -1, .tfd = -1, .epfd = -1 };
	int err;

	xlb_log_set_prog("xlbd");
	xlb_log_route_libbpf();
	if (parse_args(argc, argv, &d.o) || load_config(&d) || resolve_ifaces(&d.o))
		return EXIT_USAGE;
	err = start(&d);
	if (!err) {
		pr_info("event=ready services=%zu uplinks=%d pin_dir=%s control=%s",
			xlb_state_service_count(d.state), d.o.n_ifaces, d.o.pin_dir, d.o.control);
		run_loop(&d);
	}
	cleanup(&d);
	return err ? 1 : 0;
}
