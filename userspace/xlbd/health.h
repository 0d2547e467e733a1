/* SPDX-License-Identifier: GPL-2.0 */
/* xlbd's own active health checks of backends, with the spec of
 * lib/health_spec.h. Every socket is non-blocking in xlbd's one epoll
 * loop, and the module schedules itself with its own timerfd. */
#ifndef XLB_HEALTH_H
#define XLB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/addr.h"
#include "lib/health_spec.h"
#include "lib/loop.h"
#include "xlb/consts.h"

struct xlb_health;
/* Called on every transition of a target, and once for its first result.
 * Only ever called from the loop (never from watch, unwatch or free); it
 * may watch and unwatch targets, its own included, but not free h. */
typedef void (*xlb_health_fn)(void *arg, const char *svc, const struct xlb_endpoint *ep, bool up);

int xlb_health_new(struct xlb_loop *loop, xlb_health_fn fn, void *arg, struct xlb_health **out);
/* Closes every socket, no callbacks. Not from inside a callback. */
void xlb_health_free(struct xlb_health *h);
/* Starts checking svc's backend ep (ep->port is the port checked; ep->proto
 * is ignored), or updates its spec in place (keeping its state) when it is
 * already watched. A new target is down until its first check passes; that
 * check starts on the loop's next turn. -EINVAL for a spec that does not
 * validate (kind NONE included: unwatch instead), -ENAMETOOLONG for a
 * service name of XLB_NAME_LEN or more, -ENOMEM. */
int xlb_health_watch(struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep,
		     const struct xlb_hc_spec *spec);
/* Stops checking and closes the target's socket at once; nothing when it
 * is not watched. */
void xlb_health_unwatch(struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep);
/* True when watched and up, or when not watched at all. */
bool xlb_health_is_up(const struct xlb_health *h, const char *svc, const struct xlb_endpoint *ep);
/* Number of watched targets (for logs and tests). */
size_t xlb_health_count(const struct xlb_health *h);

#endif
