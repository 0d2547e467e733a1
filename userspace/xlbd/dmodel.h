/* SPDX-License-Identifier: GPL-2.0 */
/* Docker's JSON to xlb's model: pure functions over the bytes the Engine
 * API returns (container inspect, container list, event stream lines), so
 * they are unit-tested and fuzzed without a daemon.
 *
 * Labels read on a container (all optional but one of host/listen):
 *   xlb.host=api.app.dev[,more]   route these names (Host or SNI) to it
 *   xlb.port=8000                 its port (default: its only exposed port)
 *   xlb.listen=[ADDR:]8080/tcp    publish an L4 VIP port through XDP
 *   xlb.weight=N                  1..65535 (default 1)
 *   xlb.network=NAME              which network's address (when several)
 *   xlb.proto=http|tls            which shared listener routes the names
 *   xlb.healthcheck=tcp|http:/p   xlbd's own checks, with
 *   xlb.healthcheck.{interval,timeout,rise,fall}
 *   xlb.forward_headers=false     no X-Forwarded-* / X-Real-IP added
 * and, when no xlb.host is set, VIRTUAL_HOST / VIRTUAL_PORT from the
 * environment (dockercloud-haproxy, nginx-proxy); on a container without
 * xlb labels also VIRTUAL_PROTO and VIRTUAL_HOST_MULTIPORTS (several
 * ports, one service each: struct xlb_dpart). From the environment
 * too, dockercloud-haproxy's SSL_CERT and DEFAULT_SSL_CERT: certificates
 * the model passes on untouched (envcerts.c decides where they serve). */
#ifndef XLB_DMODEL_H
#define XLB_DMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/config.h"
#include "lib/health_spec.h"

#define XLB_DOCKER_ID_LEN 65 /* 64 hex digits */
#define XLB_DOCKER_NAME_LEN 128
#define XLB_CERT_NAME_LEN 128 /* CERT_NAME, a file stem */

/* A container's addresses on one of its networks. */
struct xlb_dnet_addr {
	bool has_addr4, has_addr6;
	struct xlb_addr addr4, addr6;
};

/* One port of a container with nginx-proxy's VIRTUAL_HOST_MULTIPORTS:
 * a service of its own, "SERVICE-PORT", with "-https" when the backend
 * is reached over TLS and "-strip" when the path prefix is stripped
 * (compose's replicas share SERVICE, so they share its parts too). Its
 * routes are the container's [first, first + n_hosts); the rest of the
 * service (addresses, state, weight, checks) is the container's. */
struct xlb_dpart {
	char service[XLB_NAME_LEN];
	uint16_t port;
	bool backend_tls;
	bool strip_path;
	size_t first, n_hosts;
};

struct xlb_dcontainer {
	char id[XLB_DOCKER_ID_LEN];
	char name[XLB_DOCKER_NAME_LEN]; /* without the leading '/' */
	char service[XLB_NAME_LEN];	/* compose "project_service", else the name */
	bool running;			/* a backend at all (draining unless serving) */
	bool serving;			/* running, not paused, healthy if checked */
	char why_not[48];		/* when not serving: "paused", "health=starting" */
	bool has_addr4, has_addr6;
	struct xlb_addr addr4, addr6; /* on the chosen network */
	bool host_network;	      /* network_mode host: addr4 is 127.0.0.1 */
	uint16_t port;
	uint32_t weight;
	bool tls;
	bool https;	     /* xlb.proto=https: its routes' TLS is terminated by xlb */
	bool acme;	     /* xlb.tls.acme=true: xlbd gets its https names' certificates */
	bool https_redirect; /* xlb.tls.redirect=true, or FORCE_SSL */
	bool https_only;     /* xlb.tls.https_only=true, or HTTPS_METHOD=nohttp */
	bool hsts;	     /* xlb.tls.hsts=SECONDS, or HSTS_MAX_AGE */
	uint32_t hsts_secs;
	uint8_t hsts_flags; /* XLB_HSTS_* */
	/* nginx-proxy's: a route is also https where a certificate file
	 * serves its host (the build asks xlb_dmodel_opts.has_cert), the
	 * file cert_name.crt/.pem when CERT_NAME names one; cert_redirect,
	 * no HTTPS_METHOD: such routes get its default, the redirect with
	 * HSTS (unless HSTS=off, hsts_off) */
	bool cert_https;
	bool cert_redirect;
	bool hsts_off;
	char cert_name[XLB_CERT_NAME_LEN];
	bool has_listen;
	struct xlb_endpoint listen;  /* family 0: on the VIP the caller gives */
	char (*hosts)[XLB_HOST_LEN]; /* routes: hosts[i] with paths[i] */
	struct xlb_cfg_path *paths;  /* parallel to hosts, "/" for none */
	size_t n_hosts;
	bool strip_path;	 /* xlb.path.strip, VIRTUAL_DEST=/ */
	bool no_forward_headers; /* xlb.forward_headers=false */
	bool backend_tls;	 /* VIRTUAL_PROTO=https: connect to the backend with TLS */
	struct xlb_hc_spec hc;	 /* kind XLB_HC_NONE: not checked */
	/* VIRTUAL_HOST_MULTIPORTS: the services the container is served as,
	 * each a slice of its routes (ordered by part); none: one service,
	 * its own, at port */
	struct xlb_dpart *parts;
	size_t n_parts;
	/* SSL_CERT and DEFAULT_SSL_CERT as its environment has them ("\n"
	 * maybe two characters), or NULL: a private key, never logged */
	char *ssl_cert;
	char *default_ssl_cert;
	/* Docker's Created, nanoseconds since 1970; UINT64_MAX when unreadable,
	 * so that a container of unknown age never wins by age */
	uint64_t created_ns;
	/* Where compose says it comes from: its project, working_dir and
	 * config_files labels in one string (each length-prefixed, so that no
	 * two label sets read alike), or NULL outside compose. Replicas of one
	 * compose file share it; a copied project/service label alone does not. */
	char *origin;
	char **networks; /* the names of the networks it is attached to */
	size_t n_networks;
	struct xlb_dnet_addr *net_addrs; /* parallel to networks */
	/* on several networks without xlb.network: addr4/addr6 are unset
	 * until xlb_dmodel_build chooses the network (see its options) */
	bool network_open;
};

/* The id of the Docker container this process runs in, from the text of
 * /proc/self/mountinfo (Docker mounts the container's own hostname,
 * hosts and resolv.conf from .../containers/ID/). Returns 0, or -ENOENT
 * outside a container. */
int xlb_dmodel_own_id(const char *mountinfo, char id[XLB_DOCKER_ID_LEN]);

/* The networks of one /containers/{id}/json answer (xlbd's own
 * container's): *names gets a NULL-terminated array (free each and it),
 * *n its length; none for a container on the host's network, which
 * reaches every bridge network. Returns 0, -EINVAL or -ENOMEM. */
int xlb_dmodel_own_networks(const char *json, size_t len, char ***names, size_t *n);

/* Reads one /containers/{id}/json answer. Returns 1 when the container asks
 * to be balanced (labels valid), 0 when it has no xlb labels, VIRTUAL_HOST
 * or VIRTUAL_HOST_MULTIPORTS (ignored), or -EINVAL with one line in err that names the
 * container and the label ("container web_1: label xlb.port='abc': not a port
 * number (1-65535)"). Free with xlb_dcontainer_free() after 1. */
int xlb_dmodel_container(const char *json, size_t len, struct xlb_dcontainer *c, char *err,
			 size_t errlen);
void xlb_dcontainer_free(struct xlb_dcontainer *c);

/* Reads a /containers/json answer: the ids, in order. Returns the count
 * (ids malloc'ed, free with free()) or -EINVAL. */
int xlb_dmodel_list_ids(const char *json, size_t len, char (**ids)[XLB_DOCKER_ID_LEN]);

/* One line of the /events stream. */
enum xlb_devent_kind {
	XLB_DEV_IGNORE = 0, /* not about a container's serving */
	XLB_DEV_REFRESH,    /* inspect the container again */
	XLB_DEV_GONE,	    /* stopping or gone: stop serving it now */
};

struct xlb_devent {
	enum xlb_devent_kind kind;
	char id[XLB_DOCKER_ID_LEN];
	char action[32];
};

/* Returns 0 (ev filled; kind IGNORE for the rest) or -EINVAL. */
int xlb_dmodel_event(const char *json, size_t len, struct xlb_devent *ev);

/* xlbd's own checks of one backend. */
struct xlb_dhealth {
	char service[XLB_NAME_LEN];
	struct xlb_endpoint ep;
	struct xlb_hc_spec spec;
};

/* A certificate a running container offers in its environment. Anyone
 * who can start a container sets it: it is served only for names the
 * container's service holds. */
struct xlb_dcert {
	char id[XLB_DOCKER_ID_LEN];
	char container[XLB_DOCKER_NAME_LEN];
	char service[XLB_NAME_LEN];
	const char *var; /* "SSL_CERT" or "DEFAULT_SSL_CERT" */
	const char *pem; /* the container's: valid while the containers built from are */
};

/* What one service of a build holds: its routes and listener, and the
 * compose origin it had, so that the next build keeps them with it while
 * it has containers (whatever newer containers claim). */
struct xlb_dheld {
	char service[XLB_NAME_LEN];
	char *origin; /* as its containers' origin; NULL outside compose */
	char (*hosts)[XLB_HOST_LEN];
	struct xlb_cfg_path *paths; /* parallel to hosts */
	size_t n_hosts;
	bool has_listen;
	struct xlb_endpoint listen;
};

struct xlb_dholds {
	struct xlb_dheld *v;
	size_t n;
};

void xlb_dholds_free(struct xlb_dholds *h);

struct xlb_dmodel {
	struct xlb_config cfg; /* services and their serving backends */
	struct xlb_dhealth *checks;
	size_t n_checks;
	struct xlb_dcert *certs; /* by service, then container name; also
				  * of containers whose service lost all its
				  * names */
	size_t n_certs;
	struct xlb_dholds holds; /* for the next build: xlb_dmodel_keep_holds() */
};

typedef void (*xlb_dmodel_warn_fn)(void *arg, const char *msg);

/* What the operator lets labels publish. */
struct xlb_dmodel_opts {
	const struct xlb_endpoint *vip; /* address of listeners given as a port
					 * only; NULL: none */
	/* xlb.listen below this port is not published (warned): on the
	 * default VIP, the uplink's own address, a label could otherwise take
	 * the host's SSH or DNS traffic. 0 or 1: any port. */
	uint16_t min_listen_port;
	/* --docker-listen-allow: where labels may publish (address blocks and
	 * port ranges); none: the VIP, from min_listen_port up. Multicast,
	 * broadcast and unspecified addresses never are. */
	const struct xlb_listen_rule *allow;
	size_t n_allow;
	/* who on the host already takes an endpoint's traffic (host_ports.h):
	 * a listener there is not published over it; NULL: not asked */
	int (*port_owner)(const struct xlb_endpoint *ep, uint8_t proto, char *owner, size_t len);
	/* For a container on several networks without xlb.network, the
	 * networks to reach it on, in order of preference: the operator's
	 * (--docker-network), then those of xlbd's own container, which it
	 * shares with the container, as nginx-proxy does. None of them: the
	 * first of its networks by name, with a warning (xlbd on the host
	 * reaches every bridge network, so any one serves). */
	const char *const *networks;
	size_t n_networks;
	/* whether a certificate file serves host (with stem: whether the
	 * file stem.crt/.pem is in service), for containers with
	 * cert_https; NULL: there is no certificate directory */
	bool (*has_cert)(void *arg, const char *host, const char *stem);
	void *cert_arg;
	/* what the last build's services held (xlb_dmodel_keep_holds); NULL
	 * or empty: nothing yet (the first build after xlbd starts) */
	const struct xlb_dholds *held;
};

/* Groups containers into services: one per compose service (so replicas
 * are one service's backends), names merged, the rest taken from the
 * service's oldest container; a container with parts is a container per
 * part, each in its part's service. Labels are anyone's to write, so:
 *  - A container joins a service only if it has the origin of the
 *    service's containers (the one the service held, else its oldest
 *    container's), or shares a network other than Docker's predefined
 *    ones (bridge, host, none) with an older member. Otherwise it is a
 *    service of its own, "SERVICE.CONTAINER" (warned; not served when that
 *    name is taken or too long).
 *  - A route or listener that o->held gives a service stays with it while
 *    it has containers and still claims it; other claims are refused
 *    (warned). A free one goes to the service whose oldest container was
 *    created first (ties: that container's name), services split off as
 *    above after all others.
 * out->holds is what the next build should be given as held. */
int xlb_dmodel_build(const struct xlb_dcontainer *const *cs, size_t n,
		     const struct xlb_dmodel_opts *o, struct xlb_dmodel *out,
		     xlb_dmodel_warn_fn warn, void *arg);
/* Moves m's holds into *into, freeing what *into held before. */
void xlb_dmodel_keep_holds(struct xlb_dmodel *m, struct xlb_dholds *into);
void xlb_dmodel_free(struct xlb_dmodel *m);

#endif
