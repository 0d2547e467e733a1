// SPDX-License-Identifier: GPL-2.0
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define LOOP_BATCH 64

struct xlb_loop {
	int epfd;
	/* the batch being dispatched: a watch deleted by an earlier callback
	 * of the same batch (and maybe freed) must not get its event */
	struct epoll_event *batch;
	int batch_len;
};

int xlb_loop_new(struct xlb_loop **out)
{
	struct xlb_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	*out = l;
	return 0;
}

void xlb_loop_free(struct xlb_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

static int loop_ctl(struct xlb_loop *l, int op, struct xlb_watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	return epoll_ctl(l->epfd, op, w->fd, &ev) ? -errno : 0;
}

int xlb_loop_add(struct xlb_loop *l, struct xlb_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_ADD, w, events);
}

int xlb_loop_mod(struct xlb_loop *l, struct xlb_watch *w, uint32_t events)
{
	return loop_ctl(l, EPOLL_CTL_MOD, w, events);
}

void xlb_loop_del(struct xlb_loop *l, struct xlb_watch *w)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = 0; i < l->batch_len; i++)
		if (l->batch[i].data.ptr == w)
			l->batch[i].data.ptr = NULL;
}

int xlb_loop_run_once(struct xlb_loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_BATCH];
	int n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->batch = evs;
	l->batch_len = n;
	for (int i = 0; i < n; i++) {
		struct xlb_watch *w = evs[i].data.ptr;

		if (w)
			w->fn(w, evs[i].events);
	}
	l->batch = NULL;
	l->batch_len = 0;
	return n;
}

uint64_t xlb_loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool xlb_loop_accept_exhausted(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}
