// SPDX-License-Identifier: GPL-2.0
#include "thread.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/capability.h>

#include "log.h"

struct start {
	void *(*fn)(void *);
	void *arg;
};

/* All three sets of this thread emptied. */
static int drop_all_caps(void)
{
	cap_t none = cap_init();
	int err;

	if (!none)
		return -errno;
	err = cap_set_proc(none) ? -errno : 0;
	cap_free(none);
	return err;
}

static void *trampoline(void *p)
{
	struct start s = *(struct start *)p;
	int err;

	free(p);
	err = drop_all_caps();
	if (err) {
		pr_err("event=thread_caps_failed err=%d", -err);
		return NULL;
	}
	return s.fn(s.arg);
}

int xlb_thread_start(pthread_t *t, const char *name, void *(*fn)(void *), void *arg)
{
	struct start *s = malloc(sizeof(*s));
	sigset_t all, old;
	int err;

	if (!s)
		return -ENOMEM;
	*s = (struct start){ fn, arg };
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(t, NULL, trampoline, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		free(s);
		return err;
	}
	pthread_setname_np(*t, name); /* for top -H; a failure is harmless */
	return 0;
}
