/* SPDX-License-Identifier: GPL-2.0 */
/* The one event loop of xlbd: epoll over "watches", each a file
 * descriptor with the callback that handles its events. */
#ifndef XLB_LOOP_H
#define XLB_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

/* The struct that embeds a watch, from the watch a callback receives. */
#define xlb_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct xlb_watch;
typedef void (*xlb_watch_fn)(struct xlb_watch *w, uint32_t events);

struct xlb_watch {
	int fd;
	xlb_watch_fn fn;
};

struct xlb_loop;

int xlb_loop_new(struct xlb_loop **out);
void xlb_loop_free(struct xlb_loop *l);
/* events: EPOLLIN, EPOLLOUT, EPOLLET, ... Returns 0 or -errno. */
int xlb_loop_add(struct xlb_loop *l, struct xlb_watch *w, uint32_t events);
int xlb_loop_mod(struct xlb_loop *l, struct xlb_watch *w, uint32_t events);
/* Also drops w's event from the batch being dispatched, so that a
 * callback may delete and free another watch. */
void xlb_loop_del(struct xlb_loop *l, struct xlb_watch *w);
/* Waits up to timeout_ms (-1: forever) and runs the callbacks. */
int xlb_loop_run_once(struct xlb_loop *l, int timeout_ms);
/* Monotonic milliseconds, for the deadlines of the loop's users. */
uint64_t xlb_loop_now_ms(void);

/* Whether accept(2) failed for want of descriptors or memory: the pending
 * connection then stays queued and a level-triggered listener would wake
 * the loop at once, forever, so its owner takes it out of the loop until
 * a later tick. */
bool xlb_loop_accept_exhausted(int err);

#endif
