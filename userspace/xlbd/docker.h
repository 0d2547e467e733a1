/* SPDX-License-Identifier: GPL-2.0 */
/* Docker discovery: the Engine API over its unix socket with libcurl's
 * multi interface inside xlbd's event loop (no thread, no blocking call).
 *
 * On start and on every reconnect: list the running containers and
 * inspect each; then follow /events and inspect again what an event
 * names. Every resync_ms the whole list is read again (level-triggered:
 * a missed event heals). When dockerd goes away the last known state keeps
 * serving and the client reconnects with backoff. Every change hands the
 * resulting model to the caller, who applies it to the maps. */
#ifndef XLB_DOCKER_H
#define XLB_DOCKER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/addr.h"
#include "dmodel.h"
#include "docker_lines.h"
#include "lib/loop.h"

/* The Engine API version xlbd speaks (Docker 20.10 and later). */
#define XLB_DOCKER_API "v1.41"
#define XLB_DOCKER_SOCKET "/var/run/docker.sock"
/* Labels publish L4 listeners from this port up unless xlbd is told
 * otherwise (--docker-min-listen-port): the privileged ports of the host's
 * own address are the operator's. */
#define XLB_DOCKER_MIN_LISTEN_PORT 1024

struct xlb_docker_opts {
	const char *socket;
	const struct xlb_endpoint *vip;		    /* for xlb.listen=PORT/PROTO; NULL: none */
	uint16_t min_listen_port;		    /* see struct xlb_dmodel_opts */
	const struct xlb_listen_rule *listen_allow; /* likewise; copied */
	size_t n_listen_allow;
	const char *const *networks; /* --docker-network, in order; copied */
	size_t n_networks;
	uint32_t resync_ms;
	/* see struct xlb_dmodel_opts */
	bool (*has_cert)(void *arg, const char *host, const char *stem);
	void *cert_arg;
};

/* warn(warn_arg, msg) reports a conflict found while applying; each
 * distinct message is logged once. */
typedef void (*xlb_docker_apply_fn)(void *arg, const struct xlb_dmodel *m, xlb_dmodel_warn_fn warn,
				    void *warn_arg);

struct xlb_docker;

int xlb_docker_new(struct xlb_loop *loop, const struct xlb_docker_opts *o, xlb_docker_apply_fn fn,
		   void *arg, struct xlb_docker **out);
/* Builds and applies the model again from the containers known, when
 * something outside Docker that it reads changed (the certificates that
 * has_cert answers from). */
void xlb_docker_rebuild(struct xlb_docker *d);
/* Reconnects and resyncs when due; call a few times a second. */
void xlb_docker_tick(struct xlb_docker *d);

/* How the sync with dockerd goes, for the metrics. */
struct xlb_docker_stats {
	bool connected;		   /* event stream up and the first sync done */
	uint64_t last_sync_unix_s; /* end of the last full sync; 0: none yet */
	uint64_t events;	   /* events read from the stream */
	uint64_t errors;	   /* failed requests, unreadable answers, lost streams */
};

void xlb_docker_get_stats(const struct xlb_docker *d, struct xlb_docker_stats *out);
void xlb_docker_free(struct xlb_docker *d);

#endif
