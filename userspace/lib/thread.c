// SPDX-License-Identifier: GPL-2.0
#include "thread.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/capability.h>

#include "log.h"

static atomic_bool keep_setid;

void xlb_thread_keep_setid(bool keep)
{
	atomic_store(&keep_setid, keep);
}

/* What the new thread and its creator share until it has dropped. */
struct start {
	void *(*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	int err;
};

/* This thread's capabilities cut to none, or to CAP_SETUID and
 * CAP_SETGID while a user switch is ahead (see thread.h). */
static int drop_caps(void)
{
	static const cap_value_t setid[] = { CAP_SETUID, CAP_SETGID };
	cap_t caps = cap_init();
	int err = caps ? 0 : -errno;

	if (!err && atomic_load(&keep_setid) &&
	    (cap_set_flag(caps, CAP_PERMITTED, 2, setid, CAP_SET) ||
	     cap_set_flag(caps, CAP_EFFECTIVE, 2, setid, CAP_SET)))
		err = -errno;
	if (!err && cap_set_proc(caps))
		err = -errno;
	cap_free(caps);
	return err;
}

static void *trampoline(void *p)
{
	struct start *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;
	int err = drop_caps();

	pthread_mutex_lock(&s->lock);
	s->err = err;
	s->done = true;
	pthread_cond_signal(&s->done_cv);
	pthread_mutex_unlock(&s->lock);
	/* s is the creator's again from here */
	return err ? NULL : fn(arg);
}

int xlb_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	struct start s = { .fn = fn,
			   .arg = arg,
			   .lock = PTHREAD_MUTEX_INITIALIZER,
			   .done_cv = PTHREAD_COND_INITIALIZER };
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(t, NULL, trampoline, &s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	/* it runs nothing of fn before its capabilities are gone */
	pthread_mutex_lock(&s.lock);
	while (!s.done)
		pthread_cond_wait(&s.done_cv, &s.lock);
	pthread_mutex_unlock(&s.lock);
	if (s.err) {
		pthread_join(*t, NULL);
		return pr_err("event=thread_start_failed thread=%s err=\"capabilities not dropped: %d\"",
			      name, -s.err),
		       s.err;
	}
	pthread_setname_np(*t, name); /* for top -H; a failure is harmless */
	return 0;
}
