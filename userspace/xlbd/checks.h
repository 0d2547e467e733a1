/* SPDX-License-Identifier: GPL-2.0 */
/* The backends health watches, from the config file and from Docker, and
 * their verdicts written to the state. Each source's list is kept apart,
 * so that a change of one never stops a check the other still wants.
 *
 * Around an apply of either source: watch its new checks before (so a
 * backend new to the maps is known to be unchecked yet and stays out of
 * the tables until its first check passed), replace the old list after
 * (the checks it dropped stop). */
#ifndef XLB_CHECKS_H
#define XLB_CHECKS_H

#include "dmodel.h"
#include "lib/config.h"
#include "lib/loop.h"
#include "state.h"

struct xlb_checks;

/* Checks from loop, verdicts into st; new backends of st ask for theirs. */
int xlb_checks_new(struct xlb_loop *loop, struct xlb_state *st, struct xlb_checks **out);
/* Stops every check; st's new backends are taken as up again. */
void xlb_checks_free(struct xlb_checks *c);

/* The config's checks: every backend of a service that has one. */
void xlb_checks_watch_config(struct xlb_checks *c, const struct xlb_config *cfg);
/* After the config's apply: the checks it dropped stop, and a backend
 * that stays without its check serves again. */
void xlb_checks_replace_config(struct xlb_checks *c);
/* At start the config was applied before the checks existed: backends
 * the pins already held keep serving until their first check says
 * otherwise, so that a restart drops nothing. */
void xlb_checks_start_config(struct xlb_checks *c, const struct xlb_config *cfg);

/* Docker's checks, as the model has them. */
void xlb_checks_watch_docker(struct xlb_checks *c, const struct xlb_dmodel *m);
/* After Docker's apply: the checks the model dropped stop, and the
 * backends adopted or kept across applies take their checks' verdicts. */
void xlb_checks_replace_docker(struct xlb_checks *c, const struct xlb_dmodel *m);

#endif
