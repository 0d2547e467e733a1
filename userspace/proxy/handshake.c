// SPDX-License-Identifier: GPL-2.0
/* The handshake pool's two sides: the workers (each a thread with its
 * own epoll, an inbox and its handshakes under way) and the loop's end
 * (the queue of jobs back). Which side owns a job is always clear: the
 * loop until xlb_hs_submit queues it, the worker from the moment it
 * takes its inbox until it queues the job back, the loop again from the
 * moment it takes that queue. */
#include "handshake.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <openssl/err.h>

#include "lib/thread.h"

#define EVENTS_BATCH 64

struct worker {
	struct xlb_hs_pool *pool;
	unsigned idx;
	pthread_t thread;
	bool started;
	int epfd;
	int efd;	      /* the inbox has jobs, or stop: in the epoll with a NULL job */
	pthread_mutex_t lock; /* the inbox and stop */
	struct xlb_hs_job *in_head, *in_tail;
	bool stop;
	struct xlb_hs_job *held; /* the worker's own: handshakes under way */
	unsigned assigned;	 /* the loop's own: submitted and not back yet */
};

struct xlb_hs_pool {
	struct xlb_loop *loop;
	xlb_hs_done_fn done;
	void *arg;
	struct xlb_watch done_w;   /* eventfd: jobs are back */
	pthread_mutex_t done_lock; /* the queue of jobs back */
	struct xlb_hs_job *done_head, *done_tail;
	unsigned n;
	struct worker w[];
};

/* One wakeup per write; the reader drains the count before taking the
 * queue it stands for. */
static void efd_signal(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0) {
		/* only EAGAIN, at a count of 2^64 - 2: the reader is awake */
	}
}

static void efd_drain(int fd)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing since the last read */
	}
}

/* Appends job to the queue (*head, *tail) under lock; true when the
 * queue was empty, so that its reader is woken only once per batch. */
static bool queue_push(pthread_mutex_t *lock, struct xlb_hs_job **head, struct xlb_hs_job **tail,
		       struct xlb_hs_job *job)
{
	bool was_empty;

	job->next = NULL;
	pthread_mutex_lock(lock);
	was_empty = !*head;
	if (*tail)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
	pthread_mutex_unlock(lock);
	return was_empty;
}

/* ---- the worker ------------------------------------------------------------------- */

static void held_link(struct worker *w, struct xlb_hs_job *job)
{
	job->prev = NULL;
	job->next = w->held;
	if (w->held)
		w->held->prev = job;
	w->held = job;
}

static void held_unlink(struct worker *w, struct xlb_hs_job *job)
{
	if (job->prev)
		job->prev->next = job->next;
	else
		w->held = job->next;
	if (job->next)
		job->next->prev = job->prev;
}

/* The job goes back to the loop: out of this epoll first, as the loop
 * may hand the socket on (or close it, and the number be reused). */
static void job_back(struct worker *w, struct xlb_hs_job *job, enum xlb_hs_result result)
{
	struct xlb_hs_pool *p = w->pool;

	if (job->ev)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, job->fd, NULL);
	job->ev = 0;
	held_unlink(w, job);
	job->result = result;
	if (queue_push(&p->done_lock, &p->done_head, &p->done_tail, job))
		efd_signal(p->done_w.fd);
}

/* Edge-triggered like the loop's sockets; EPOLLOUT only while OpenSSL
 * waits to write (a handshake's flight nearly always fits the socket). */
static void job_watch(struct worker *w, struct xlb_hs_job *job, uint32_t ev)
{
	struct epoll_event e = { .events = ev | EPOLLRDHUP | EPOLLET, .data.ptr = job };

	if (job->ev == e.events)
		return;
	if (epoll_ctl(w->epfd, job->ev ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, job->fd, &e)) {
		job->error = -errno;
		job_back(w, job, XLB_HS_ERROR);
		return;
	}
	job->ev = e.events;
}

/* OpenSSL's error queue is per thread: what a failure left in it is read
 * here, into the job, and cleared. */
static void job_step(struct worker *w, struct xlb_hs_job *job)
{
	int r;

	ERR_clear_error();
	r = SSL_accept(job->ssl);
	if (r == 1) {
		job_back(w, job, XLB_HS_DONE);
		return;
	}
	xlb_tls_end_read(job->ssl, r, &job->alerts, &job->end);
	ERR_clear_error();
	if (job->end.ssl_error == SSL_ERROR_WANT_READ)
		job_watch(w, job, EPOLLIN);
	else if (job->end.ssl_error == SSL_ERROR_WANT_WRITE)
		job_watch(w, job, EPOLLIN | EPOLLOUT);
	else
		job_back(w, job, XLB_HS_FAILED);
}

/* Takes the inbox and starts each job at once: its ClientHello is
 * already in the socket. true when the worker is to stop. */
static bool inbox_take(struct worker *w)
{
	struct xlb_hs_job *job, *next;
	bool stop;

	efd_drain(w->efd);
	pthread_mutex_lock(&w->lock);
	job = w->in_head;
	w->in_head = w->in_tail = NULL;
	stop = w->stop;
	pthread_mutex_unlock(&w->lock);
	if (stop)
		return true;
	for (; job; job = next) {
		next = job->next;
		held_link(w, job);
		job_step(w, job);
	}
	return false;
}

/* A linear walk: a worker holds at most the proxy's handshake limit, and
 * each handshake costs far more than its turn here. */
static void expire(struct worker *w, uint64_t now)
{
	struct xlb_hs_job *job, *next;

	for (job = w->held; job; job = next) {
		next = job->next;
		if (job->deadline_ms <= now)
			job_back(w, job, XLB_HS_TIMEOUT);
	}
}

static int next_timeout_ms(const struct worker *w, uint64_t now)
{
	uint64_t soonest = UINT64_MAX;

	for (const struct xlb_hs_job *job = w->held; job; job = job->next)
		if (job->deadline_ms < soonest)
			soonest = job->deadline_ms;
	if (soonest == UINT64_MAX)
		return -1;
	if (soonest <= now)
		return 0;
	return soonest - now > INT_MAX ? INT_MAX : (int)(soonest - now);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event ev[EVENTS_BATCH];

	for (;;) {
		int n = epoll_wait(w->epfd, ev, EVENTS_BATCH,
				   next_timeout_ms(w, xlb_loop_now_ms()));

		for (int i = 0; i < n; i++) {
			if (!ev[i].data.ptr) {
				if (inbox_take(w))
					return NULL;
			} else {
				job_step(w, ev[i].data.ptr);
			}
		}
		expire(w, xlb_loop_now_ms());
	}
}

/* ---- the loop's end ------------------------------------------------------------------ */

void xlb_hs_submit(struct xlb_hs_pool *p, struct xlb_hs_job *job)
{
	struct worker *w = &p->w[0];

	for (unsigned i = 1; i < p->n; i++)
		if (p->w[i].assigned < w->assigned)
			w = &p->w[i];
	job->worker = w->idx;
	job->ev = 0;
	w->assigned++;
	if (queue_push(&w->lock, &w->in_head, &w->in_tail, job))
		efd_signal(w->efd);
}

/* The count first, then the queue: a job queued after the take signals
 * again. done may free the job: its successor is read before. */
static void on_jobs_back(struct xlb_watch *watch, uint32_t events)
{
	struct xlb_hs_pool *p = xlb_container_of(watch, struct xlb_hs_pool, done_w);
	struct xlb_hs_job *job, *next;

	(void)events;
	efd_drain(watch->fd);
	pthread_mutex_lock(&p->done_lock);
	job = p->done_head;
	p->done_head = p->done_tail = NULL;
	pthread_mutex_unlock(&p->done_lock);
	for (; job; job = next) {
		next = job->next;
		p->w[job->worker].assigned--;
		p->done(job, p->arg);
	}
}

/* ---- start and stop ---------------------------------------------------------------- */

static int worker_open(struct worker *w)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->efd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->efd, &e))
		return -errno;
	return 0;
}

static int worker_start(struct worker *w)
{
	char name[16];
	int err;

	snprintf(name, sizeof(name), "xlbd-tls%u", w->idx);
	err = xlb_thread_start(&w->thread, name, worker_main, w);
	if (err)
		return err;
	w->started = true;
	return 0;
}

static void worker_stop(struct worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
	efd_signal(w->efd);
}

static void worker_close(struct worker *w)
{
	if (w->started)
		pthread_join(w->thread, NULL);
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->lock);
}

void xlb_hs_pool_free(struct xlb_hs_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		worker_stop(&p->w[i]);
	for (unsigned i = 0; i < p->n; i++)
		worker_close(&p->w[i]);
	if (p->done_w.fd >= 0) {
		xlb_loop_del(p->loop, &p->done_w);
		close(p->done_w.fd);
	}
	pthread_mutex_destroy(&p->done_lock);
	free(p);
}

int xlb_hs_pool_new(struct xlb_loop *loop, unsigned n, xlb_hs_done_fn done, void *arg,
		    struct xlb_hs_pool **out)
{
	struct xlb_hs_pool *p;
	int err = 0;

	if (n < 1 || n > XLB_HS_MAX_WORKERS)
		return -EINVAL;
	p = calloc(1, sizeof(*p) + n * sizeof(p->w[0]));
	if (!p)
		return -ENOMEM;
	p->loop = loop;
	p->done = done;
	p->arg = arg;
	p->n = n;
	pthread_mutex_init(&p->done_lock, NULL);
	for (unsigned i = 0; i < n; i++) {
		p->w[i] = (struct worker){ .pool = p, .idx = i, .epfd = -1, .efd = -1 };
		pthread_mutex_init(&p->w[i].lock, NULL);
	}
	p->done_w = (struct xlb_watch){ .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
					.fn = on_jobs_back };
	if (p->done_w.fd < 0)
		err = -errno;
	if (!err)
		err = xlb_loop_add(loop, &p->done_w, EPOLLIN);
	for (unsigned i = 0; !err && i < n; i++)
		err = worker_open(&p->w[i]);
	for (unsigned i = 0; !err && i < n; i++)
		err = worker_start(&p->w[i]);
	if (err) {
		xlb_hs_pool_free(p); /* joins what started */
		return err;
	}
	*out = p;
	return 0;
}
