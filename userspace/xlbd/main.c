// SPDX-License-Identifier: GPL-2.0
/* xlbd: loads and attaches the data path, keeps the maps in line with the
 * config, Docker's containers and the control socket, and leaves
 * everything pinned on exit so a restart does not drop a flow (unless told
 * --teardown-on-exit, as the compose service is). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
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
#include <jansson.h>

#include "caps.h"
#include "checks.h"
#include "control.h"
#include "datapath.h"
#include "docker.h"
#include "envcerts.h"
#include "handover.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/loop.h"
#include "lib/netlink.h"
#include "lib/pins.h"
#include "lib/thread.h"
#include "metrics.h"
#include "options.h"
#include "seccomp.h"
#include "sock_lb.h"
#include "user.h"
#include "proxy/handshake.h"
#include "proxy/proxy.h"
#include "state.h"
#include "takeover.h"
#include "acme/acme.h"
#include "tls/certs.h"
#include "tls/server.h"
#include "tls/sni.h"
#include "xlb.skel.h"

#define MAX_UPLINKS 16
#define MAX_LISTEN 16
#define PROXY_TICK_MS 250
#define FAST_RECHECKS 8 /* ticks: 2 s of looking again for pending links */
#define STATS_EVERY_TICKS 4
/* --tls-workers by default: one per online CPU, up to this many (past a
 * few cores the loop, not the handshakes, is the bound) */
#define TLS_WORKERS_DEFAULT_MAX 8
/* descriptors a proxied connection may hold, and those kept for the rest
 * (maps, listeners, the control socket, Docker, metrics, certificates) */
#define FDS_PER_CONN 6
#define FDS_RESERVED 256
/* a certificate directory written to without pause is read every second */
#define CERTS_SETTLE_MAX_TICKS 4
/* Let's Encrypt's production directory: the ACME CA when --acme-directory
 * names none */
#define ACME_DEFAULT_DIRECTORY "https://acme-v02.api.letsencrypt.org/directory"
#define EXIT_USAGE 2
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

struct endpoints {
	struct xlb_endpoint v[MAX_LISTEN];
	size_t n;
};

struct opts {
	const char *config;
	const char *pin_dir;
	const char *control;
	const char *ifnames[MAX_UPLINKS];
	int ifindexes[MAX_UPLINKS];
	int n_ifaces;
	enum xlb_attach_mode attach; /* --attach: the uplinks' program */
	bool attach_given;	     /* ... given: over the config's attach */
	struct endpoints http_listen;
	struct endpoints tls_listen;
	struct xlb_proxy_limits lim;
	bool docker;
	const char *docker_socket;
	uint32_t docker_resync_ms;
	uint32_t docker_min_listen_port;
	struct xlb_listen_rule *listen_allow; /* --docker-listen-allow */
	size_t n_listen_allow;
	char **docker_networks; /* --docker-network, in order */
	size_t n_docker_networks;
	bool has_vip;
	struct xlb_endpoint vip;
	bool teardown_on_exit;
	uint32_t flow_entries; /* 0: the compiled-in XLB_FLOW_ENTRIES */
	bool has_hash_seed;    /* --hash-seed: over the config's hash_seed */
	uint64_t hash_seed;
	bool has_metrics;
	struct xlb_endpoint metrics;
	bool takeover;		  /* take the running xlbd's listeners */
	uint32_t drain_ms;	  /* what the old one gets to finish its connections */
	struct xlb_cidr *trusted; /* --trusted-proxies, before the config's */
	size_t n_trusted;
	/* --default-host, else the config's */
	const char *default_host;
	const char *tls_certs; /* --tls-certs, else the config's [tls] certs */
	/* ACME, on with --acme-state */
	const char *acme_directory;
	const char *acme_email;
	const char *acme_state;
	const char *acme_ca;
	enum xlb_acme_chall acme_challenge;
	uint32_t log_rate;    /* lines a second per client-caused event; 0: all */
	bool no_seccomp;      /* debugging: no system call filter after set-up */
	struct xlb_user user; /* --user: who xlbd runs as after set-up */

	/* the cgroup socket hooks for local clients: --no-socket-lb, and
	 * --socket-lb-cgroup (NULL: the config's, else the cgroup v2 mount) */
	bool no_socket_lb;
	const char *socket_lb_cgroup;
};

struct daemon {
	struct opts o;
	struct xlb_config cfg;
	struct xlb *skel;
	struct xlb_links links;
	struct xlb_sock_lb *sock_lb; /* the local clients' hooks, or NULL */
	struct xlb_state *state;
	struct xlb_control *ctl;
	struct xlb_proxy *proxy;
	struct xlb_loop *loop;
	struct xlb_docker *docker;
	struct xlb_checks *checks;
	struct xlb_metrics *metrics;
	struct xlb_tls_server *tls_srv;	  /* TLS termination's policy ... */
	struct xlb_certs *certs;	  /* ... and certificates, or NULL */
	struct xlb_watch certs_w;	  /* the certificate directory's inotify */
	bool certs_pending;		  /* it changed; read it once it settles */
	unsigned certs_first, certs_last; /* ticks of the first and last change */
	struct xlb_acme *acme;		  /* certificates from ACME, or NULL */
	struct xlb_watch acme_w;	  /* its certificates are ready */
	char *acme_names;		  /* the names it was last given, joined */
	struct xlb_envcerts *envcerts;	  /* certificates from the environment, or NULL */
	struct xlb_handover handover;	  /* when a new xlbd takes over from us */
	unsigned fast_rechecks;		  /* ticks left to look again soon after a change */
	struct xlb_watch sig_w, recheck_w, tick_w;
	unsigned ticks;
	bool stop;
	bool skel_loaded; /* something was pinned or attached: teardown has work */
};

/* ---- options ---------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xlbd [--config FILE] [--docker [SOCKET]] [--iface IF]... [--vip ADDR]\n"
		"            [--attach xdp|tc|auto]\n"
		"            [--pin-dir DIR] [--control PATH] [--log-level error|warn|info|debug]\n"
		"            [--log-rate LINES_PER_SECOND]\n"
		"            [--docker-resync-ms N] [--docker-min-listen-port N]\n"
		"            [--docker-listen-allow ADDR[/LEN][:PORT[-PORT]][,...]]...\n"
		"            [--docker-network NAME[,NAME]...]...\n"
		"            [--teardown-on-exit] [--flow-table-size N] [--hash-seed HEX]\n"
		"            [--http-listen ADDR:PORT]... [--tls-listen ADDR:PORT]...\n"
		"            [--peek-timeout-ms N] [--max-head BYTES] [--max-conns N]\n"
		"            [--max-conns-per-source N] [--max-pending N]\n"
		"            [--idle-timeout-ms N] [--proxy-path splice|sockmap|copy]\n"
		"            [--http-mode request|connection] [--response-timeout-ms N]\n"
		"            [--metrics ADDR:PORT] [--takeover] [--drain-timeout-ms N]\n"
		"            [--trusted-proxies CIDR[,CIDR]...]... [--default-host NAME]\n"
		"            [--tls-certs DIR]\n"
		"            [--tls-workers N]\n"
		"            [--acme-state DIR] [--acme-directory URL] [--acme-email ADDR]\n"
		"            [--acme-ca FILE] [--acme-challenge http-01|tls-alpn-01]\n"
		"            [--no-seccomp] [--user NAME]\n"
		"            [--no-socket-lb] [--socket-lb-cgroup PATH]\n");
}

/* Every option's id: a short option's is its letter. */
enum opt_id {
	OPT_CONFIG = 'c',
	OPT_IFACE = 'i',
	OPT_PIN_DIR = 'p',
	OPT_CONTROL = 's',
	OPT_LOG_LEVEL = 'l',
	OPT_HELP = 'h',
	OPT_HTTP_LISTEN = XLB_OPT_LONG_ONLY,
	OPT_LOG_RATE,
	OPT_TLS_LISTEN,
	OPT_PEEK_TIMEOUT_MS,
	OPT_MAX_HEAD,
	OPT_MAX_CONNS,
	OPT_MAX_CONNS_PER_SOURCE,
	OPT_MAX_PENDING,
	OPT_IDLE_TIMEOUT_MS,
	OPT_HTTP_MODE,
	OPT_RESPONSE_TIMEOUT_MS,
	OPT_PROXY_PATH,
	OPT_DOCKER,
	OPT_VIP,
	OPT_DOCKER_RESYNC_MS,
	OPT_TEARDOWN_ON_EXIT,
	OPT_FLOW_TABLE_SIZE,
	OPT_HASH_SEED,
	OPT_ATTACH,
	OPT_METRICS,
	OPT_DOCKER_MIN_LISTEN_PORT,
	OPT_DOCKER_LISTEN_ALLOW,
	OPT_DOCKER_NETWORK,
	OPT_TAKEOVER,
	OPT_DRAIN_TIMEOUT_MS,
	OPT_TRUSTED_PROXIES,
	OPT_DEFAULT_HOST,
	OPT_TLS_CERTS,
	OPT_TLS_WORKERS,
	OPT_ACME_DIRECTORY,
	OPT_ACME_EMAIL,
	OPT_ACME_STATE,
	OPT_ACME_CA,
	OPT_ACME_CHALLENGE,
	OPT_NO_SECCOMP,
	OPT_USER,
	OPT_NO_SOCKET_LB,
	OPT_SOCKET_LB_CGROUP,
};

/* One more endpoint of a struct endpoints. */
static int add_listen(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct endpoints *e = xlb_opt_field(opt, target);
	const char *why = "invalid";

	if (e->n == MAX_LISTEN)
		return pr_err("too many --%s (max %d)", opt->name, MAX_LISTEN), -EINVAL;
	if (xlb_parse_endpoint(arg, XLB_EP_NO_PROTO, &e->v[e->n], &why))
		return pr_err("bad --%s '%s': %s", opt->name, arg, why), -EINVAL;
	e->n++;
	return 0;
}

static int add_iface(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (o->n_ifaces == MAX_UPLINKS)
		return pr_err("too many --%s (max %d)", opt->name, MAX_UPLINKS), -EINVAL;
	o->ifnames[o->n_ifaces++] = arg;
	return 0;
}

static int set_log_level(const struct xlb_opt *opt, const char *arg, void *target)
{
	enum xlb_log_level lvl;

	(void)target;
	if (xlb_log_parse_level(arg, &lvl))
		return pr_err("bad --%s '%s'", opt->name, arg), -EINVAL;
	xlb_log_set_level(lvl);
	return 0;
}

static int set_proxy_path(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_proxy_path_parse(arg, &o->lim.path))
		return pr_err("bad --%s '%s' (splice, sockmap or copy)", opt->name, arg), -EINVAL;
	return 0;
}

static int set_acme_challenge(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_acme_chall_parse(arg, &o->acme_challenge))
		return pr_err("bad --%s '%s' (http-01 or tls-alpn-01)", opt->name, arg), -EINVAL;
	return 0;
}

static int set_http_mode(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_http_mode_parse(arg, &o->lim.http_mode))
		return pr_err("bad --%s '%s' (connection or request)", opt->name, arg), -EINVAL;
	return 0;
}

static int set_docker(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	(void)opt;
	o->docker = true;
	o->docker_socket = arg ? arg : XLB_DOCKER_SOCKET;
	return 0;
}

static int set_vip(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_parse_addr(arg, &o->vip.addr, &o->vip.family))
		return pr_err("bad --%s '%s' (an IPv4 or IPv6 address)", opt->name, arg), -EINVAL;
	o->has_vip = true;
	return 0;
}

static int set_metrics(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;
	const char *why = "invalid";

	if (xlb_parse_endpoint(arg, XLB_EP_NO_PROTO, &o->metrics, &why))
		return pr_err("bad --%s '%s': %s (ADDR:PORT, e.g. 127.0.0.1:9120)", opt->name, arg,
			      why),
		       -EINVAL;
	o->has_metrics = true;
	return 0;
}

static int set_hash_seed(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_parse_hash_seed(arg, &o->hash_seed))
		return pr_err("bad --%s '%s' (1 to 16 hex digits)", opt->name, arg), -EINVAL;
	o->has_hash_seed = true;
	return 0;
}

static int set_attach(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	if (xlb_attach_mode_parse(arg, &o->attach))
		return pr_err("bad --%s '%s' (xdp, tc or auto)", opt->name, arg), -EINVAL;
	o->attach_given = true;
	return 0;
}

static int add_trusted(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;
	char why[96] = "out of memory";

	if (xlb_parse_cidr_list(arg, &o->trusted, &o->n_trusted, why, sizeof(why)))
		return pr_err("bad --%s %s", opt->name, why), -EINVAL;
	return 0;
}

/* Looked up now: a name that is not there is a usage error, not a
 * failure after set-up. */
static int set_user(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	(void)opt;
	return xlb_user_lookup(arg, &o->user);
}

static int add_listen_allow(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;
	char why[128] = "";

	if (xlb_parse_listen_rules(arg, &o->listen_allow, &o->n_listen_allow, why, sizeof(why)))
		return pr_err("bad --%s %s", opt->name, why), -EINVAL;
	return 0;
}

/* Docker's network names: [A-Za-z0-9][A-Za-z0-9_.-]*. */
static bool docker_network_name_ok(const char *s, size_t len)
{
	if (len == 0 || len >= XLB_DOCKER_NAME_LEN || !isalnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

/* --docker-network NAME[,NAME]...: repeatable, appended in order. */
static int add_docker_network(const struct xlb_opt *opt, const char *arg, void *target)
{
	struct opts *o = target;

	for (const char *p = arg; p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char **grown;

		if (!docker_network_name_ok(p, len))
			return pr_err("bad --%s '%s' (network names, commas between)", opt->name,
				      arg),
			       -EINVAL;
		grown = realloc(o->docker_networks,
				(o->n_docker_networks + 1) * sizeof(*o->docker_networks));
		if (!grown)
			return -ENOMEM;
		o->docker_networks = grown;
		o->docker_networks[o->n_docker_networks] = strndup(p, len);
		if (!o->docker_networks[o->n_docker_networks])
			return -ENOMEM;
		o->n_docker_networks++;
		p = end ? end + 1 : NULL;
	}
	return 0;
}

static void docker_networks_free(struct opts *o)
{
	for (size_t i = 0; i < o->n_docker_networks; i++)
		free(o->docker_networks[i]);
	free(o->docker_networks);
}

static int show_help(const struct xlb_opt *opt, const char *arg, void *target)
{
	(void)opt, (void)arg, (void)target;
	usage(stdout);
	exit(0);
}

/* A row per kind of option: what it sets, and a number's limits. */
#define AT(f) offsetof(struct opts, f)
#define STRING(name, id, f)                                              \
	{                                                                \
		name, id, required_argument, xlb_opt_string, AT(f), 0, 0 \
	}
#define FLAG(name, id, f)                                        \
	{                                                        \
		name, id, no_argument, xlb_opt_true, AT(f), 0, 0 \
	}
#define NUMBER(name, id, f, min, max)                                        \
	{                                                                    \
		name, id, required_argument, xlb_opt_number, AT(f), min, max \
	}
#define LISTEN(name, id, f)                                          \
	{                                                            \
		name, id, required_argument, add_listen, AT(f), 0, 0 \
	}
#define OWN(name, id, has_arg, fn)             \
	{                                      \
		name, id, has_arg, fn, 0, 0, 0 \
	}

/* In the order getopt_long lists the candidates of an ambiguous
 * abbreviation. */
static const struct xlb_opt opt_table[] = {
	STRING("config", OPT_CONFIG, config),
	OWN("iface", OPT_IFACE, required_argument, add_iface),
	STRING("pin-dir", OPT_PIN_DIR, pin_dir),
	STRING("control", OPT_CONTROL, control),
	OWN("log-level", OPT_LOG_LEVEL, required_argument, set_log_level),
	NUMBER("log-rate", OPT_LOG_RATE, log_rate, 0, UINT32_MAX),
	LISTEN("http-listen", OPT_HTTP_LISTEN, http_listen),
	LISTEN("tls-listen", OPT_TLS_LISTEN, tls_listen),
	NUMBER("peek-timeout-ms", OPT_PEEK_TIMEOUT_MS, lim.peek_timeout_ms, 1, UINT32_MAX),
	NUMBER("max-head", OPT_MAX_HEAD, lim.max_head, 64, UINT32_MAX),
	NUMBER("max-conns", OPT_MAX_CONNS, lim.max_conns, 1, UINT32_MAX),
	NUMBER("max-conns-per-source", OPT_MAX_CONNS_PER_SOURCE, lim.max_conns_per_source, 0,
	       UINT32_MAX),
	NUMBER("max-pending", OPT_MAX_PENDING, lim.max_pending, 0, UINT32_MAX),
	NUMBER("idle-timeout-ms", OPT_IDLE_TIMEOUT_MS, lim.idle_timeout_ms, 1, UINT32_MAX),
	OWN("proxy-path", OPT_PROXY_PATH, required_argument, set_proxy_path),
	OWN("http-mode", OPT_HTTP_MODE, required_argument, set_http_mode),
	NUMBER("response-timeout-ms", OPT_RESPONSE_TIMEOUT_MS, lim.response_timeout_ms, 1,
	       UINT32_MAX),
	/* "--docker SOCKET" as well as "--docker=SOCKET" */
	OWN("docker", OPT_DOCKER, optional_argument, set_docker),
	OWN("vip", OPT_VIP, required_argument, set_vip),
	NUMBER("docker-resync-ms", OPT_DOCKER_RESYNC_MS, docker_resync_ms, 100, UINT32_MAX),
	FLAG("teardown-on-exit", OPT_TEARDOWN_ON_EXIT, teardown_on_exit),
	NUMBER("flow-table-size", OPT_FLOW_TABLE_SIZE, flow_entries, 1024, UINT32_MAX),
	OWN("hash-seed", OPT_HASH_SEED, required_argument, set_hash_seed),
	OWN("attach", OPT_ATTACH, required_argument, set_attach),
	OWN("metrics", OPT_METRICS, required_argument, set_metrics),
	NUMBER("docker-min-listen-port", OPT_DOCKER_MIN_LISTEN_PORT, docker_min_listen_port, 1,
	       65535),
	OWN("docker-listen-allow", OPT_DOCKER_LISTEN_ALLOW, required_argument, add_listen_allow),
	OWN("docker-network", OPT_DOCKER_NETWORK, required_argument, add_docker_network),
	FLAG("takeover", OPT_TAKEOVER, takeover),
	NUMBER("drain-timeout-ms", OPT_DRAIN_TIMEOUT_MS, drain_ms, 0, UINT32_MAX),
	OWN("trusted-proxies", OPT_TRUSTED_PROXIES, required_argument, add_trusted),
	STRING("default-host", OPT_DEFAULT_HOST, default_host),
	STRING("tls-certs", OPT_TLS_CERTS, tls_certs),
	NUMBER("tls-workers", OPT_TLS_WORKERS, lim.tls_workers, 0, XLB_HS_MAX_WORKERS),
	STRING("acme-directory", OPT_ACME_DIRECTORY, acme_directory),
	STRING("acme-email", OPT_ACME_EMAIL, acme_email),
	STRING("acme-state", OPT_ACME_STATE, acme_state),
	STRING("acme-ca", OPT_ACME_CA, acme_ca),
	OWN("acme-challenge", OPT_ACME_CHALLENGE, required_argument, set_acme_challenge),
	FLAG("no-seccomp", OPT_NO_SECCOMP, no_seccomp),
	OWN("user", OPT_USER, required_argument, set_user),
	FLAG("no-socket-lb", OPT_NO_SOCKET_LB, no_socket_lb),
	STRING("socket-lb-cgroup", OPT_SOCKET_LB_CGROUP, socket_lb_cgroup),
	OWN("help", OPT_HELP, no_argument, show_help),
};

#undef AT
#undef STRING
#undef FLAG
#undef NUMBER
#undef LISTEN
#undef OWN

static uint32_t default_tls_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > TLS_WORKERS_DEFAULT_MAX ? TLS_WORKERS_DEFAULT_MAX : (uint32_t)n;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	const struct xlb_proxy_limits lim = XLB_PROXY_DEFAULT_LIMITS;
	int err;

	o->pin_dir = XLB_DEFAULT_PIN_DIR;
	o->control = XLB_DEFAULT_CONTROL;
	o->lim = lim;
	o->lim.max_conns = 0; /* not given: fit_fds makes it the default that fits */
	o->lim.tls_workers = default_tls_workers();
	o->docker_min_listen_port = XLB_DOCKER_MIN_LISTEN_PORT;
	o->drain_ms = XLB_DRAIN_TIMEOUT_MS;
	o->log_rate = XLB_LOG_RL_BURST;
	err = xlb_opts_parse(opt_table, N_OF(opt_table), argc, argv, o, usage);
	if (err)
		return err;
	xlb_log_set_rate(o->log_rate);
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

/* ---- the data path ---------------------------------------------------------------- */

/* The flow hash's seed: --hash-seed over the config's hash_seed; with
 * neither, the pinned one (or, for new maps, one drawn now). */
static int apply_hash_seed(struct daemon *d, bool start)
{
	int fd = bpf_map__fd(d->skel->maps.xlb_dp_config);

	if (d->o.has_hash_seed)
		return xlb_datapath_set_hash_seed(fd, &d->o.hash_seed, "option", start);
	if (d->cfg.has_hash_seed)
		return xlb_datapath_set_hash_seed(fd, &d->cfg.hash_seed, "config", start);
	return xlb_datapath_set_hash_seed(fd, NULL, NULL, start);
}

/* Opened and loaded here, through the skeleton (generated for this file
 * alone); the pins around the load are datapath.c's. The seed is set
 * before any program goes on a link. */
static int open_data_path(struct daemon *d)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = d->o.pin_dir);
	struct xlb_reasons_carry carry;
	bool reused;
	int err;

	err = xlb_datapath_prepare_pins(d->o.pin_dir);
	if (!err)
		err = xlb_datapath_save_reasons(d->o.pin_dir, &carry);
	if (err)
		return err;
	d->skel = xlb__open_opts(&oo);
	d->skel_loaded = d->skel != NULL;
	if (!d->skel)
		return pr_err("opening BPF object: %s", strerror(errno)), -errno;
	err = xlb_datapath_prepare_maps(d->skel->maps.xlb_flows, d->skel->maps.xlb_tx_ports,
					d->o.pin_dir, d->o.flow_entries, &reused);
	if (err)
		return err;
	err = xlb__load(d->skel);
	if (err)
		return pr_err("loading BPF programs: %s", strerror(-err)), err;
	xlb_datapath_restore_reasons(d->skel->maps.xlb_reasons, &carry);
	err = apply_hash_seed(d, true);
	if (err)
		return err;
	return reused ? 0 : xlb_datapath_pin_devmap(d->skel->maps.xlb_tx_ports, d->o.pin_dir);
}

/* The maps the state writes; the metrics read three of them too. */
static struct xlb_state_maps state_maps(const struct xlb *skel)
{
	return (struct xlb_state_maps){
		.hosts = bpf_map__fd(skel->maps.xlb_hosts),
		.services = bpf_map__fd(skel->maps.xlb_services),
		.svc_info = bpf_map__fd(skel->maps.xlb_svc_info),
		.backends = bpf_map__fd(skel->maps.xlb_backends),
		.maglev = bpf_map__fd(skel->maps.xlb_maglev),
		.flows = bpf_map__fd(skel->maps.xlb_flows),
		.rnat_eps = bpf_map__fd(skel->maps.xlb_rnat_eps),
	};
}

static int init_state(struct daemon *d)
{
	const struct xlb_state_maps m = state_maps(d->skel);
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

static void ensure_backend_links(struct daemon *d)
{
	if (d->o.n_ifaces) /* no XDP: the proxy alone needs nothing on the links */
		xlb_links_ensure_backends(&d->links, d->state);
}

/* XDP on the uplinks, then the return path to every backend. */
static int attach_links(struct daemon *d)
{
	d->links.ctx = (struct xlb_attach_ctx){
		.pin_dir = d->o.pin_dir,
		.ifaces_fd = bpf_map__fd(d->skel->maps.xlb_ifaces),
		.tx_ports_fd = bpf_map__fd(d->skel->maps.xlb_tx_ports),
		.be_links_fd = bpf_map__fd(d->skel->maps.xlb_be_links),
		.ingress_fd = bpf_program__fd(d->skel->progs.xlb_ingress),
		.ingress_tc_fd = bpf_program__fd(d->skel->progs.xlb_ingress_tc),
		.return_fd = bpf_program__fd(d->skel->progs.xlb_return),
		.peer_pass_fd = bpf_program__fd(d->skel->progs.xlb_peer_pass),
	};
	enum xlb_attach_mode mode = d->o.attach_given || !d->cfg.has_attach
					    ? d->o.attach
					    : (enum xlb_attach_mode)d->cfg.attach;

	for (int i = 0; i < d->o.n_ifaces; i++) {
		int err = xlb_links_attach_uplink(&d->links, d->o.ifnames[i], d->o.ifindexes[i],
						  mode);

		if (err)
			return err;
	}
	ensure_backend_links(d);
	return 0;
}

/* ---- socket-level balancing ---------------------------------------------------------- */

/* The cgroup the hooks go on: the option's, the config's, or the cgroup
 * v2 mount (every process of the host below it). */
static int socket_lb_cgroup(const struct daemon *d, char *buf, size_t len)
{
	const char *given = d->o.socket_lb_cgroup ? d->o.socket_lb_cgroup : d->cfg.socket_lb_cgroup;

	if (!given)
		return xlb_sock_lb_default_cgroup(buf, len);
	return snprintf(buf, len, "%s", given) < (int)len ? 0 : -ENAMETOOLONG;
}

/* Local clients of L4 VIPs, served at their sockets. A failure is one
 * line and no more: remote clients (XDP) and the proxy do not depend on
 * it, and a local client then goes the way it went without it. */
static int attach_socket_lb(struct daemon *d)
{
	char cgroup[PATH_MAX] = "-";
	int err;

	if (d->o.no_socket_lb || d->cfg.no_socket_lb)
		return 0;
	err = socket_lb_cgroup(d, cgroup, sizeof(cgroup));
	if (!err)
		err = xlb_sock_lb_attach(d->o.pin_dir, cgroup, &d->sock_lb);
	if (err)
		pr_err("event=socket_lb_failed cgroup=%s err=\"%s\" effect=\"local clients of L4 VIPs are not balanced\"",
		       cgroup, strerror(-err));
	return 0;
}

/* "socket-lb": whether the hooks are on, and where. */
static int query_socket_lb(void *arg, char **output, struct xlb_err *err)
{
	struct daemon *d = arg;
	char text[PATH_MAX + 64] = "off";

	if (d->sock_lb && xlb_sock_lb_describe(d->sock_lb, text, sizeof(text)))
		snprintf(text, sizeof(text), "on");
	if (asprintf(output, "%s\n", text) < 0) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* ---- the proxy -------------------------------------------------------------------- */

/* Enough descriptors for many proxied connections: two sockets each,
 * and two pipes while a long body moves. Without --max-conns the default
 * is what the limit serves at that worst case, so that the proxy refuses
 * a connection it could not finish rather than run out of descriptors in
 * the middle of one; a --max-conns above it is lowered, and said once. */
static void fit_fds(struct daemon *d)
{
	const struct xlb_proxy_limits dflt = XLB_PROXY_DEFAULT_LIMITS;
	uint32_t *max = &d->o.lim.max_conns;
	struct rlimit rl = { 0 };
	rlim_t fit = dflt.max_conns;

	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl))
				getrlimit(RLIMIT_NOFILE, &rl);
		}
		fit = rl.rlim_cur > FDS_RESERVED + FDS_PER_CONN
			      ? (rl.rlim_cur - FDS_RESERVED) / FDS_PER_CONN
			      : 1;
	}
	if (!*max) {
		*max = fit < dflt.max_conns ? (uint32_t)fit : dflt.max_conns;
		return;
	}
	if (fit >= *max)
		return;
	pr_warn("event=max_conns_lowered max_conns=%u to=%llu reason=\"RLIMIT_NOFILE is %llu, %d a connection\"",
		*max, (unsigned long long)fit, (unsigned long long)rl.rlim_cur, FDS_PER_CONN);
	*max = (uint32_t)fit;
}

static void flush_proxy_stats(struct daemon *d)
{
	xlb_proxy_flush_stats(d->proxy, bpf_map__fd(d->skel->maps.xlb_proxy_svc_stats),
			      bpf_map__fd(d->skel->maps.xlb_listeners));
	xlb_proxy_flush_http_stats(d->proxy, bpf_map__fd(d->skel->maps.xlb_http_svc_stats));
	xlb_proxy_flush_tls_stats(d->proxy, bpf_map__fd(d->skel->maps.xlb_tls_svc_stats));
}

/* The verdict program goes on the sockhash before any socket does. */
static int sockmap_attach(struct daemon *d)
{
	int err;

	if (d->o.lim.path != XLB_PATH_SOCKMAP)
		return 0;
	err = bpf_prog_attach(bpf_program__fd(d->skel->progs.xlb_sk_verdict),
			      bpf_map__fd(d->skel->maps.xlb_sock_pairs), BPF_SK_SKB_STREAM_VERDICT,
			      0);
	if (err)
		return pr_err("attaching the sockmap verdict program: %s", strerror(errno)), -errno;
	return 0;
}

/* The proxy's trusted proxies: the command line's, then the config's. */
static int set_trusted(struct daemon *d)
{
	size_t n = d->o.n_trusted + d->cfg.n_trusted;
	struct xlb_cidr *all = n ? calloc(n, sizeof(*all)) : NULL;
	int err;

	if (n && !all)
		return pr_err("trusted proxies: out of memory"), -ENOMEM;
	if (d->o.n_trusted)
		memcpy(all, d->o.trusted, d->o.n_trusted * sizeof(*all));
	if (d->cfg.n_trusted)
		memcpy(all + d->o.n_trusted, d->cfg.trusted, d->cfg.n_trusted * sizeof(*all));
	err = xlb_proxy_set_trusted(d->proxy, all, n);
	free(all);
	if (err)
		pr_err("trusted proxies: %s", strerror(-err));
	return err;
}

/* Where requests for unknown names go: the command line's, else the
 * config's default host. */
static int set_default_host(struct daemon *d)
{
	const char *host = d->o.default_host ? d->o.default_host : d->cfg.default_host;
	int err = xlb_state_set_default_host(d->state, host);

	if (err)
		pr_err("bad --default-host '%s' (one host name, no wildcard)", host);
	return err;
}

static int open_proxy(struct daemon *d)
{
	const struct xlb_proxy_sockmap sm = { bpf_map__fd(d->skel->maps.xlb_sock_pairs),
					      bpf_map__fd(d->skel->maps.xlb_sock_peer) };
	int err = sockmap_attach(d);

	if (!err)
		err = xlb_proxy_new(d->loop, d->state, &d->o.lim, &sm, &d->proxy);
	if (!err)
		err = set_trusted(d);
	return err ? err : set_default_host(d);
}

/* A change in the certificate directory: changed files are read again
 * (a broken one is reported and its old certificate kept) once writing
 * has paused for a tick, because a renewal writes NAME.crt and NAME.key
 * one after the other and the pair in between does not match. */
static void on_certs_event(struct xlb_watch *w, uint32_t events)
{
	struct daemon *d = xlb_container_of(w, struct daemon, certs_w);

	(void)events;
	if (xlb_certs_watch_drain(d->certs) <= 0)
		return;
	if (!d->certs_pending)
		d->certs_first = d->ticks;
	d->certs_pending = true;
	d->certs_last = d->ticks;
}

/* Quiet for a whole tick (250-500 ms after the last write), or changing
 * for a second without pause: read the directory. */
static void rescan_settled_certs(struct daemon *d)
{
	if (!d->certs_pending ||
	    (d->ticks - d->certs_last < 2 && d->ticks - d->certs_first < CERTS_SETTLE_MAX_TICKS))
		return;
	d->certs_pending = false;
	/* which routes are https may follow the files (has_cert) */
	if (xlb_certs_rescan(d->certs) > 0 && d->docker)
		xlb_docker_rebuild(d->docker);
}

/* Certificates from ACME join the store; the one a name had stays in
 * service until its successor is in. */
static void on_acme_event(struct xlb_watch *w, uint32_t events)
{
	struct daemon *d = xlb_container_of(w, struct daemon, acme_w);
	struct xlb_acme_cert *c;

	(void)events;
	while ((c = xlb_acme_take(d->acme))) {
		size_t chain = strlen(c->chain_pem), key = strlen(c->key_pem);
		char *pem = malloc(chain + key + 2);

		if (pem) {
			memcpy(pem, c->chain_pem, chain);
			pem[chain] = '\n';
			memcpy(pem + chain + 1, c->key_pem, key + 1);
			if (!xlb_certs_add_pem(d->certs, "acme", pem, chain + 1 + key, 0))
				pr_info("event=acme_cert_installed name=%s serial=%s from=%s",
					c->name, c->serial, c->from_state ? "state" : "issued");
			explicit_bzero(pem, chain + 1 + key);
			free(pem);
		}
		xlb_acme_cert_free(c);
	}
}

struct acme_names {
	struct xlb_acme_name *v;
	size_t n, cap;
	char *joined; /* "a.dev b.dev ", to tell a change */
	size_t len;
	enum xlb_acme_chall type;
	bool nomem;
};

static void acme_name_add(const char *name, void *arg)
{
	struct acme_names *a = arg;
	size_t len = strlen(name);
	char *joined;

	for (size_t i = 0; i < a->n; i++)
		if (!strcasecmp(a->v[i].name, name))
			return;
	if (a->n == a->cap) {
		struct xlb_acme_name *v = realloc(a->v, (a->cap * 2 + 8) * sizeof(*v));

		if (!v) {
			a->nomem = true;
			return;
		}
		a->v = v;
		a->cap = a->cap * 2 + 8;
	}
	joined = realloc(a->joined, a->len + len + 2);
	if (!joined) {
		a->nomem = true;
		return;
	}
	a->joined = joined;
	memcpy(a->joined + a->len, name, len);
	a->len += len;
	a->joined[a->len++] = ' ';
	a->joined[a->len] = '\0';
	a->v[a->n++] = (struct xlb_acme_name){ .name = name, .type = a->type };
}

/* The names of the acme services' https routes, given to the ACME worker
 * when they changed (services come and go with the config, Docker and
 * xlbctl; looked at every tick, a few times a second). */
static void sync_acme_names(struct daemon *d)
{
	struct acme_names a = { .type = d->o.acme_challenge };

	if (!d->acme)
		return;
	xlb_state_for_each_acme_name(d->state, acme_name_add, &a);
	if (!a.nomem && strcmp(a.joined ? a.joined : "", d->acme_names ? d->acme_names : "")) {
		if (!xlb_acme_set_names(d->acme, a.v, a.n)) {
			pr_info("event=acme_names names=\"%s\"", a.joined ? a.joined : "");
			free(d->acme_names);
			d->acme_names = a.joined;
			a.joined = NULL;
		}
	}
	free(a.v);
	free(a.joined);
}

/* TLS-ALPN-01: a CA's handshake for a name with a challenge pending gets
 * the challenge's certificate (RFC 8737). Like on_servername, it runs on
 * a handshake worker (--tls-workers): it reads only what is set before
 * the workers start (d->acme) and the challenge table, which locks. */
static int on_alpn_chosen(SSL *ssl, const unsigned char *proto, unsigned len, void *arg)
{
	struct daemon *d = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int ok;

	if (len != sizeof(XLB_ACME_ALPN) - 1 || memcmp(proto, XLB_ACME_ALPN, len))
		return 0;
	if (!d->acme || !sni ||
	    xlb_acme_tlsalpn01_lookup(xlb_acme_challs(d->acme), sni, &cert, &key))
		return -1;
	ok = SSL_use_cert_and_key(ssl, cert, key, NULL, 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ok == 1 ? 0 : -1;
}

/* The store's choice by SNI; a name without a certificate yet but with a
 * TLS-ALPN-01 challenge pending goes on to the ALPN hook, which sets the
 * challenge's certificate. On a handshake worker: the store is picked
 * from under its lock, with a reference (xlb_tls_sni_switch), while the
 * loop may rescan or add to it. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
	struct daemon *d = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = xlb_tls_sni_switch(ssl, d->certs, sni, alert);

	if (r == SSL_TLSEXT_ERR_OK || !d->acme || !sni ||
	    xlb_acme_tlsalpn01_lookup(xlb_acme_challs(d->acme), sni, &cert, &key))
		return r;
	X509_free(cert);
	EVP_PKEY_free(key);
	return SSL_TLSEXT_ERR_OK;
}

static int start_acme(struct daemon *d)
{
	const struct xlb_acme_config cfg = {
		.directory_url = d->o.acme_directory ? d->o.acme_directory : ACME_DEFAULT_DIRECTORY,
		.contact = d->o.acme_email,
		.ca_file = d->o.acme_ca,
		.state_dir = d->o.acme_state,
	};
	int err = xlb_acme_start(&cfg, &d->acme);

	if (!err) {
		d->acme_w = (struct xlb_watch){ .fd = xlb_acme_fd(d->acme), .fn = on_acme_event };
		err = xlb_loop_add(d->loop, &d->acme_w, EPOLLIN);
	}
	if (!err)
		xlb_proxy_set_acme(d->proxy, xlb_acme_challs(d->acme));
	return err;
}

/* DEFAULT_SSL_CERT and the containers' SSL_CERT (xlbd's modules reach
 * tls/ only through what main hands them). */
static int start_envcerts(struct daemon *d)
{
	const struct xlb_envcerts_store store = {
		.certs = d->certs,
		.add_pem = xlb_certs_add_pem,
		.as_default = XLB_CERTS_AS_DEFAULT,
		.add_scoped = xlb_certs_add_scoped,
		.remove_scoped = xlb_certs_remove_scoped,
		.unescape = xlb_tls_pem_unescape,
	};

	return xlb_envcerts_new(&store, &d->envcerts);
}

/* TLS termination for proto = https, when there is a certificate
 * directory, ACME or certificates from the environment: the store (the
 * directory's watched), and the context the proxy accepts on. */
static int open_tls(struct daemon *d)
{
	static const char *const alpn[] = { "http/1.1", XLB_ACME_ALPN };
	const struct xlb_tls_server_opts opts = {
		.alpn = alpn,
		.n_alpn = d->o.acme_state ? 2 : 1,
		.alpn_chosen = on_alpn_chosen,
		.alpn_chosen_arg = d,
	};
	const char *dir = d->o.tls_certs ? d->o.tls_certs : d->cfg.tls_certs;
	SSL_CTX *ctx = NULL;
	int err;

	if (!dir && !d->o.acme_state && !xlb_envcerts_wanted(d->o.docker))
		return 0;
	err = xlb_tls_server_new(&opts, &d->tls_srv);
	if (!err)
		err = xlb_certs_new(d->tls_srv, dir, &d->certs);
	if (!err)
		err = start_envcerts(d);
	if (!err && d->o.acme_state)
		err = start_acme(d);
	if (!err) {
		ctx = xlb_tls_sni_ctx_new(d->tls_srv, d->certs);
		if (ctx) {
			SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
			SSL_CTX_set_tlsext_servername_arg(ctx, d);
		}
		err = ctx ? xlb_proxy_set_tls(d->proxy, ctx) : -ENOMEM;
		SSL_CTX_free(ctx);
	}
	if (!err && dir) {
		d->certs_w = (struct xlb_watch){ .fd = xlb_certs_watch_fd(d->certs),
						 .fn = on_certs_event };
		err = xlb_loop_add(d->loop, &d->certs_w, EPOLLIN);
	}
	if (err)
		pr_err("event=tls_failed certs=%s acme_state=%s err=\"%s\"", dir ? dir : "-",
		       d->o.acme_state ? d->o.acme_state : "-", strerror(-err));
	return err;
}

static struct xlb_listen_set option_listeners(const struct opts *o, bool tls)
{
	const struct endpoints *e = tls ? &o->tls_listen : &o->http_listen;

	return (struct xlb_listen_set){ e->v, e->n, tls };
}

static struct xlb_listen_set config_listeners(const struct xlb_config *cfg, bool tls)
{
	if (tls)
		return (struct xlb_listen_set){ cfg->tls_listen, cfg->n_tls_listen, true };
	return (struct xlb_listen_set){ cfg->http_listen, cfg->n_http_listen, false };
}

/* Listeners from the command line and from the config's [http]/[tls];
 * with --takeover, the running xlbd's sockets, asked for just before ours
 * would open, so it serves until then. */
static int open_listeners(struct daemon *d)
{
	const struct xlb_listen_set sets[] = {
		option_listeners(&d->o, false),
		option_listeners(&d->o, true),
		config_listeners(&d->cfg, false),
		config_listeners(&d->cfg, true),
	};
	struct xlb_handed handed = { .n = 0 };
	int err = 0;

	if (d->o.takeover)
		err = xlb_takeover_fetch(d->o.control, d->o.drain_ms, &handed);
	if (!err)
		err = xlb_proxy_listen_sets(d->proxy, sets, N_OF(sets), &handed);
	xlb_handed_close_rest(&handed);
	return err;
}

/* The config's [http]/[tls] listeners after a reload; the command line's
 * stay. */
static void reload_listeners(struct daemon *d, const struct xlb_config *old)
{
	for (int tls = 0; tls <= 1; tls++) {
		const struct xlb_listen_set was = config_listeners(old, tls);
		const struct xlb_listen_set now = config_listeners(&d->cfg, tls);
		const struct xlb_listen_set keep = option_listeners(&d->o, tls);

		xlb_proxy_relisten(d->proxy, &was, &now, &keep);
	}
}

/* ---- control socket, metrics, discovery ---------------------------------------------- */

static void on_state_changed(void *arg)
{
	struct daemon *d = arg;

	d->fast_rechecks = FAST_RECHECKS;
	ensure_backend_links(d);
}

static int on_takeover(void *arg, int fd, uint32_t drain_ms, struct xlb_err *err)
{
	struct daemon *d = arg;

	return xlb_handover_request(&d->handover, fd, drain_ms, err);
}

static json_t *cert_json(const struct xlb_cert_info *ci)
{
	json_t *o = json_object(), *names = json_array();

	for (size_t j = 0; names && j < ci->n_names; j++)
		json_array_append_new(names, json_string(ci->names[j]));
	json_object_set_new(o, "names", names);
	json_object_set_new(o, "source", json_string(ci->source));
	json_object_set_new(o, "issuer", json_string(ci->issuer));
	json_object_set_new(o, "serial", json_string(ci->serial));
	json_object_set_new(o, "not_after", json_integer((json_int_t)ci->not_after));
	json_object_set_new(o, "default", json_boolean(ci->is_default));
	return o;
}

/* "certs": the certificates in service, one JSON array on one line, for
 * `xlbctl certs` to print as a table or pass on. */
static int query_certs(void *arg, char **output, struct xlb_err *err)
{
	struct daemon *d = arg;
	struct xlb_cert_info *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	char *text = NULL;
	int e = arr ? 0 : -ENOMEM;

	if (!e && d->certs)
		e = xlb_certs_list(d->certs, &list, &n);
	for (size_t i = 0; !e && i < n; i++)
		json_array_append_new(arr, cert_json(&list[i]));
	if (!e)
		text = json_dumps(arr, JSON_COMPACT);
	if (!e && (!text || asprintf(output, "%s\n", text) < 0))
		e = -ENOMEM;
	if (e)
		snprintf(err->msg, sizeof(err->msg), "listing certificates: %s", strerror(-e));
	free(text);
	json_decref(arr);
	xlb_certs_list_free(list, n);
	return e;
}

static int open_control(struct daemon *d)
{
	int err = xlb_control_open(d->o.control, d->loop, d->state, on_state_changed, d, &d->ctl);

	if (err)
		return pr_err("control socket %s: %s", d->o.control, strerror(-err)), err;
	xlb_control_on_takeover(d->ctl, on_takeover);
	err = xlb_control_on_query(d->ctl, "socket-lb", query_socket_lb, d);
	return err ? err : xlb_control_on_query(d->ctl, "certs", query_certs, d);
}

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

/* The certificates in service, a sample per name, for the expiry gauge. */
static void metrics_certs(void *arg, struct xlb_metrics_cert **out, size_t *n)
{
	struct daemon *d = arg;
	struct xlb_cert_info *list = NULL;
	struct xlb_metrics_cert *v = NULL;
	size_t n_list = 0, total = 0, k = 0;

	*out = NULL;
	*n = 0;
	if (!d->certs || xlb_certs_list(d->certs, &list, &n_list))
		return;
	for (size_t i = 0; i < n_list; i++)
		total += list[i].n_names;
	if (total)
		v = calloc(total, sizeof(*v));
	for (size_t i = 0; v && i < n_list; i++) {
		for (size_t j = 0; j < list[i].n_names; j++, k++) {
			snprintf(v[k].name, sizeof(v[k].name), "%s", list[i].names[j]);
			snprintf(v[k].source, sizeof(v[k].source), "%s", list[i].source);
			snprintf(v[k].serial, sizeof(v[k].serial), "%s", list[i].serial);
			v[k].not_after = (int64_t)list[i].not_after;
		}
	}
	xlb_certs_list_free(list, n_list);
	*out = v;
	*n = v ? total : 0;
}

static int start_metrics(struct daemon *d)
{
	const struct xlb_state_maps sm = state_maps(d->skel);
	struct xlb_metrics_opts mo = {
		.listen = d->o.metrics,
		.maps = {
			.svc_info = sm.svc_info,
			.backends = sm.backends,
			.svc_stats = bpf_map__fd(d->skel->maps.xlb_svc_stats),
			.be_stats = bpf_map__fd(d->skel->maps.xlb_be_stats),
			.reasons = bpf_map__fd(d->skel->maps.xlb_reasons),
			.flows = sm.flows,
			.proxy_svc_stats = bpf_map__fd(d->skel->maps.xlb_proxy_svc_stats),
			.listeners = bpf_map__fd(d->skel->maps.xlb_listeners),
			/* request mode's: HTTP services' accepted are requests */
			.http_svc_stats = d->o.lim.http_mode == XLB_HTTP_MODE_REQUEST
						  ? bpf_map__fd(d->skel->maps.xlb_http_svc_stats)
						  : -1,
			.tls_svc_stats = bpf_map__fd(d->skel->maps.xlb_tls_svc_stats),
		},
		.prepare = metrics_prepare,
		.certs = metrics_certs,
		.arg = d,
	};

	if (!d->o.has_metrics)
		return 0;
	return xlb_metrics_start(d->loop, &mo, &d->metrics); /* logs its failure */
}

static void on_docker_model(void *arg, const struct xlb_dmodel *m, xlb_dmodel_warn_fn warn,
			    void *warn_arg)
{
	struct daemon *d = arg;

	xlb_checks_watch_docker(d->checks, m);
	if (xlb_state_apply_docker(d->state, &m->cfg, warn, warn_arg))
		pr_err("event=docker_apply_failed err=\"writing the maps failed\"");
	xlb_envcerts_sync(d->envcerts, d->state, m);
	xlb_checks_replace_docker(d->checks, m);
	d->fast_rechecks = FAST_RECHECKS;
	ensure_backend_links(d);
}

static void on_backend_gone(void *arg, uint32_t be_id)
{
	struct daemon *d = arg;

	xlb_proxy_close_backend(d->proxy, be_id);
}

/* xlb.listen=PORT/proto needs an address: without --vip, the first
 * uplink's. */
static void default_vip(struct opts *o)
{
	char buf[64];

	if (o->has_vip || !o->n_ifaces || xlb_nl_link_addr(o->ifindexes[0], AF_INET, &o->vip.addr))
		return;
	o->vip.family = AF_INET;
	o->has_vip = true;
	pr_info("event=vip_default vip=%s iface=%s",
		xlb_format_addr(AF_INET, &o->vip.addr, buf, sizeof(buf)), o->ifnames[0]);
}

static bool docker_has_cert(void *arg, const char *host, const char *stem)
{
	const struct daemon *d = arg;

	return xlb_certs_file_serves(d->certs, host, stem);
}

static int start_docker(struct daemon *d)
{
	const struct xlb_docker_opts dopts = {
		.socket = d->o.docker_socket,
		.vip = d->o.has_vip ? &d->o.vip : NULL,
		.resync_ms = d->o.docker_resync_ms,
		.min_listen_port = (uint16_t)d->o.docker_min_listen_port,
		.listen_allow = d->o.listen_allow,
		.n_listen_allow = d->o.n_listen_allow,
		.networks = (const char *const *)d->o.docker_networks,
		.n_networks = d->o.n_docker_networks,
		.has_cert = docker_has_cert,
		.cert_arg = d,
	};
	int err = xlb_docker_new(d->loop, &dopts, on_docker_model, d, &d->docker);

	if (err)
		return pr_err("docker: %s: %s", dopts.socket, strerror(-err)), err;
	return 0;
}

/* Health checks, then Docker; the config's checks start last (see
 * xlb_checks_start_config). */
static int start_discovery(struct daemon *d)
{
	int err;

	default_vip(&d->o);
	xlb_state_on_backend_gone(d->state, on_backend_gone, d);
	if (d->o.n_ifaces)
		xlb_state_on_backend_new(d->state, xlb_links_ensure_backend, &d->links);
	err = xlb_checks_new(d->loop, d->state, &d->checks);
	if (err)
		return pr_err("health checks: %s", strerror(-err)), err;
	if (d->o.docker && (err = start_docker(d)))
		return err;
	xlb_checks_start_config(d->checks, &d->cfg);
	return 0;
}

/* ---- takeover, old side: what the handover gives up and counts -------------------- */

static size_t handover_listeners(void *arg, struct xlb_handed_listener *out, size_t max)
{
	struct daemon *d = arg;

	return xlb_proxy_listeners(d->proxy, out, max);
}

static void handover_release(void *arg)
{
	struct daemon *d = arg;

	flush_proxy_stats(d);
	xlb_control_close(d->ctl);
	d->ctl = NULL;
	xlb_metrics_free(d->metrics);
	d->metrics = NULL;
	xlb_docker_free(d->docker);
	d->docker = NULL;
	xlb_checks_free(d->checks);
	d->checks = NULL;
	/* the socket hooks stay until we exit: the new xlbd's, attached
	 * before it asked, run after ours and leave a backend's address as
	 * it is (sock_lb.bpf.c) */
}

static void handover_stop_accepting(void *arg)
{
	struct daemon *d = arg;

	xlb_proxy_stop_accepting(d->proxy);
}

static size_t handover_open_conns(void *arg)
{
	struct daemon *d = arg;

	return xlb_proxy_conn_count(d->proxy);
}

static const struct xlb_handover_ops handover_ops = {
	.listeners = handover_listeners,
	.release = handover_release,
	.stop_accepting = handover_stop_accepting,
	.open_conns = handover_open_conns,
};

/* ---- event loop ----------------------------------------------------------- */

static void reload_config(struct daemon *d)
{
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
	apply_hash_seed(d, false);
	xlb_checks_watch_config(d->checks, &d->cfg);
	if (xlb_state_apply_config(d->state, &d->cfg, &err))
		pr_err("event=reload_failed %s", err.msg);
	else
		pr_info("event=reload config=%s", d->o.config);
	xlb_checks_replace_config(d->checks);
	ensure_backend_links(d);
	reload_listeners(d, &old);
	set_trusted(d);
	set_default_host(d);
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
		if (!xlb_handover_draining(&d->handover))
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
	if (read(w->fd, &n, sizeof(n)) > 0 && !xlb_handover_draining(&d->handover))
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
	xlb_log_flush_suppressed();
	if (xlb_handover_draining(&d->handover))
		return; /* the maps and links are the new xlbd's */
	xlb_control_tick(d->ctl);
	if (d->docker)
		xlb_docker_tick(d->docker);
	/* a new backend's MAC and bridge port are usually known within
	 * milliseconds of the probe: look again soon rather than in 5 s */
	if (d->links.pending && d->fast_rechecks) {
		d->fast_rechecks--;
		ensure_backend_links(d);
	}
	if (++d->ticks % STATS_EVERY_TICKS == 0)
		flush_proxy_stats(d);
	rescan_settled_certs(d);
	sync_acme_names(d);
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

static int watch_signals_and_timers(struct daemon *d)
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
		err = timer_watch(d, &d->recheck_w, on_recheck, XLB_LINKS_RECHECK_S * 1000);
	if (!err)
		err = timer_watch(d, &d->tick_w, on_tick, PROXY_TICK_MS);
	return err;
}

static int setup_loop(struct daemon *d)
{
	int err = watch_signals_and_timers(d);

	if (err)
		return pr_err("event loop: %s", strerror(-err)), err;
	return 0;
}

static void run_loop(struct daemon *d)
{
	while (!d->stop) {
		int err = xlb_loop_run_once(d->loop, -1);

		xlb_proxy_reap(d->proxy);
		if (xlb_handover_done(&d->handover))
			d->stop = true;
		if (err < 0) {
			pr_err("event=loop_failed err=\"%s\"", strerror(-err));
			return;
		}
	}
}

/* ---- start and stop ------------------------------------------------------------- */

static int open_loop(struct daemon *d)
{
	return xlb_loop_new(&d->loop);
}

/* In order; the first failure ends the start (each logs its own but the
 * loop's and the proxy's, as ever). */
static int (*const start_steps[])(struct daemon *d) = {
	open_data_path, init_state, attach_links,    attach_socket_lb,
	open_loop,	open_proxy, open_tls,	     open_listeners,
	open_control,	setup_loop, start_discovery, start_metrics,
};

static int start(struct daemon *d)
{
	const struct xlb_user_paths paths = {
		.pin_dir = d->o.pin_dir,
		.control = d->o.control,
		.acme_state = d->o.acme_state,
	};
	int err = 0;

	fit_fds(d);
	for (size_t i = 0; i < N_OF(start_steps) && !err; i++)
		err = start_steps[i](d);
	/* before the drop: handing files over and switching ids need
	 * capabilities that the runtime does not */
	if (!err)
		err = xlb_user_switch(&d->o.user, &paths);
	xlb_thread_keep_setid(false);
	if (!err) {
		xlb_caps_drop_to_runtime(
			(d->o.n_ifaces ? XLB_CAPS_LINKS : 0) | (d->o.config ? XLB_CAPS_LISTEN : 0) |
			(xlb_user_is_unprivileged(&d->o.user) ? XLB_CAPS_USER : 0));
		xlb_user_log_switched(&d->o.user);
	}
	/* last: the drop's own calls (capset, prctl) are not on its list */
	if (!err)
		err = xlb_seccomp_enter(!d->o.no_seccomp);
	return err;
}

static void close_watch(struct xlb_watch *w)
{
	if (w->fd > 0)
		close(w->fd);
	w->fd = -1;
}

static void cleanup(struct daemon *d)
{
	bool handed_over = xlb_handover_draining(&d->handover);

	xlb_metrics_free(d->metrics);
	xlb_docker_free(d->docker);
	xlb_checks_free(d->checks);
	xlb_handover_close(&d->handover);
	if (d->proxy && d->skel && !handed_over)
		flush_proxy_stats(d);
	xlb_proxy_free(d->proxy);
	if (d->acme)
		xlb_loop_del(d->loop, &d->acme_w);
	xlb_acme_stop(d->acme);
	free(d->acme_names);
	if (d->certs && d->certs_w.fd >= 0 && d->certs_w.fn)
		xlb_loop_del(d->loop, &d->certs_w);
	xlb_envcerts_free(d->envcerts);
	xlb_certs_free(d->certs);
	xlb_tls_server_put(d->tls_srv);
	xlb_control_close(d->ctl);
	xlb_state_free(d->state);
	/* the socket hooks' links are ours: closed, they detach */
	xlb_sock_lb_free(d->sock_lb);
	/* programs stay attached and maps pinned: only our fds go */
	xlb__destroy(d->skel);
	xlb_config_free(&d->cfg);
	free(d->o.trusted);
	free(d->o.listen_allow);
	docker_networks_free(&d->o);
	close_watch(&d->sig_w);
	close_watch(&d->recheck_w);
	close_watch(&d->tick_w);
	xlb_loop_free(d->loop);
	if (handed_over && d->o.teardown_on_exit)
		pr_info("event=teardown_skipped reason=\"handed over to a new xlbd\"");
	else if (d->o.teardown_on_exit && d->skel_loaded) {
		int err = xlb_teardown(d->o.pin_dir);

		pr_info("event=teardown pin_dir=%s err=\"%s\"", d->o.pin_dir,
			err ? strerror(-err) : "none");
	}
}

int main(int argc, char **argv)
{
	struct daemon d = { .sig_w.fd = -1, .recheck_w.fd = -1, .tick_w.fd = -1 };
	int err;

	xlb_handover_init(&d.handover, &handover_ops, &d);
	xlb_log_set_prog("xlbd");
	xlb_log_route_libbpf();
	if (parse_args(argc, argv, &d.o) || load_config(&d) || resolve_ifaces(&d.o)) {
		xlb_config_free(&d.cfg);
		free(d.o.trusted);
		free(d.o.listen_allow);
		docker_networks_free(&d.o);
		return EXIT_USAGE;
	}
	/* threads started before a --user switch must be able to take part
	 * in it (lib/thread.h); start() ends that once it has switched */
	xlb_thread_keep_setid(xlb_user_is_unprivileged(&d.o.user));
	/* from here a slowly read log cannot stall the loop */
	xlb_log_async_start();
	err = start(&d);
	if (!err) {
		pr_info("event=ready services=%zu uplinks=%d pin_dir=%s control=%s proxy_path=%s",
			xlb_state_service_count(d.state), d.o.n_ifaces, d.o.pin_dir, d.o.control,
			xlb_proxy_path_name(d.o.lim.path));
		run_loop(&d);
	}
	cleanup(&d);
	xlb_log_async_stop();
	return err ? 1 : 0;
}
