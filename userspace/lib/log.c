// SPDX-License-Identifier: GPL-2.0
#include "log.h"
#include "thread.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

static enum xlb_log_level log_level = XLB_LOG_INFO;
static const char *log_prog = "xlb";
static bool libbpf_quiet;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void xlb_log_set_level(enum xlb_log_level lvl)
{
	log_level = lvl;
}

void xlb_log_set_prog(const char *prog)
{
	log_prog = prog;
}

int xlb_log_parse_level(const char *s, enum xlb_log_level *lvl)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl = (enum xlb_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool xlb_log_enabled(enum xlb_log_level lvl)
{
	return lvl <= log_level;
}

/* ---- the writer thread --------------------------------------------------------
 * A log read slowly (a full pipe to a stopped reader, a slow journal)
 * would block whoever writes to it. Once xlb_log_async_start() has run,
 * lines go to a ring that a thread of their own writes out, blocking in
 * its place; when the ring is full a line is dropped and counted, and
 * the count is written as a line of its own when there is room again. */

#define RING_BYTES (256 * 1024)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake, drained;
	pthread_t thread;
	bool running, stopping;
	char buf[RING_BYTES];
	size_t head, len; /* bytes buf[head..head+len) (mod size) are queued */
	unsigned long dropped;
} ring = { .lock = PTHREAD_MUTEX_INITIALIZER,
	   .wake = PTHREAD_COND_INITIALIZER,
	   .drained = PTHREAD_COND_INITIALIZER };

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDERR_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to log to: nothing to report it on */
		p += w;
		n -= (size_t)w;
	}
}

/* Called with the lock held; room for n bytes has been checked. */
static void ring_put(const char *p, size_t n)
{
	size_t tail = (ring.head + ring.len) % RING_BYTES;
	size_t first = n < RING_BYTES - tail ? n : RING_BYTES - tail;

	memcpy(ring.buf + tail, p, first);
	memcpy(ring.buf, p + first, n - first);
	ring.len += n;
}

static void ring_put_dropped(void)
{
	char line[128];
	int n;

	if (!ring.dropped)
		return;
	n = snprintf(
		line, sizeof(line),
		"%s: level=warn event=log_dropped lines=%lu reason=\"log not read fast enough\"\n",
		log_prog, ring.dropped);
	if (n > 0 && (size_t)n <= RING_BYTES - ring.len) {
		ring_put(line, (size_t)n);
		ring.dropped = 0;
	}
}

static void *ring_writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ring.lock);
	for (;;) {
		while (!ring.len && !ring.stopping)
			pthread_cond_wait(&ring.wake, &ring.lock);
		if (!ring.len && ring.stopping)
			break;
		/* write the contiguous part without the lock */
		size_t n = ring.len < RING_BYTES - ring.head ? ring.len : RING_BYTES - ring.head;
		const char *p = ring.buf + ring.head;

		pthread_mutex_unlock(&ring.lock);
		write_all(p, n);
		pthread_mutex_lock(&ring.lock);
		ring.head = (ring.head + n) % RING_BYTES;
		ring.len -= n;
		ring_put_dropped();
		if (!ring.len)
			pthread_cond_broadcast(&ring.drained);
	}
	pthread_mutex_unlock(&ring.lock);
	return NULL;
}

int xlb_log_async_start(void)
{
	int err = xlb_thread_start(&ring.thread, "xlbd-log", ring_writer, NULL);

	if (!err) {
		pthread_mutex_lock(&ring.lock);
		ring.running = true;
		pthread_mutex_unlock(&ring.lock);
	}
	return err;
}

void xlb_log_async_stop(void)
{
	pthread_mutex_lock(&ring.lock);
	if (!ring.running) {
		pthread_mutex_unlock(&ring.lock);
		return;
	}
	ring.stopping = true;
	pthread_cond_signal(&ring.wake);
	pthread_mutex_unlock(&ring.lock);
	pthread_join(ring.thread, NULL);
	ring.running = false;
	ring.stopping = false;
}

static void emit(const char *line, size_t n)
{
	pthread_mutex_lock(&ring.lock);
	if (!ring.running) {
		write_all(line, n);
	} else if (n > RING_BYTES - ring.len) {
		ring.dropped++;
	} else {
		ring_put(line, n);
		pthread_cond_signal(&ring.wake);
	}
	pthread_mutex_unlock(&ring.lock);
}

/* Every line: "<prog>: level=<l> <message>", so a grep for the program
 * name or a level finds each event on exactly one line. */
static void log_vline(enum xlb_log_level lvl, const char *fmt, va_list ap)
{
	char msg[1024], line[1100];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n < 0)
		return;
	/* libbpf terminates its lines itself; keep one event per line */
	while (n > 0 && (size_t)n < sizeof(msg) && msg[n - 1] == '\n')
		msg[--n] = '\0';
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	n = snprintf(line, sizeof(line), "%s: level=%s %s\n", log_prog, level_names[lvl], msg);
	if (n <= 0)
		return;
	if ((size_t)n >= sizeof(line)) { /* cut, but still one line */
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	emit(line, (size_t)n);
}

/* ---- rate limits ----------------------------------------------------------------
 * A call site that clients can trigger logs at most rl_burst lines a
 * second (0: no limit); what it holds back is told in one line per site when
 * its second is over (xlb_log_flush_suppressed, from the daemon's tick,
 * or its next line). */

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned rl_burst = XLB_LOG_RL_BURST; /* set before any thread logs */
static struct xlb_log_rl *rl_pending;	     /* sites holding back lines */

/* "event=NAME ..." -> NAME, for the summary line */
static void event_name(const char *fmt, char *out, size_t len)
{
	const char *p = strstr(fmt, "event=");
	size_t n;

	p = p ? p + 6 : "unknown";
	n = strcspn(p, " ");
	snprintf(out, len, "%.*s", (int)n, p);
}

/* What a site held back, copied out under rl_lock and told after. */
struct rl_due {
	const char *fmt;
	unsigned long lines;
};
#define RL_DUE_MAX 16

/* Takes out of the pending list (rl_lock held) the sites whose second
 * is over, at most RL_DUE_MAX (the rest stay for the next call). */
static size_t rl_take_due(long now, struct rl_due *due)
{
	struct xlb_log_rl **pp = &rl_pending;
	size_t n = 0;

	while (*pp && n < RL_DUE_MAX) {
		struct xlb_log_rl *rl = *pp;

		if (rl->window == now) {
			pp = &rl->next;
			continue;
		}
		due[n++] = (struct rl_due){ rl->fmt, rl->suppressed };
		rl->suppressed = 0;
		rl->listed = false;
		*pp = rl->next;
	}
	return n;
}

static void rl_report_due(const struct rl_due *due, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[64];

		event_name(due[i].fmt, name, sizeof(name));
		xlb_log(XLB_LOG_WARN,
			"event=log_suppressed what=%s lines=%lu reason=\"more than %u a second\"",
			name, due[i].lines, rl_burst);
	}
}

static long coarse_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long)ts.tv_sec;
}

void xlb_log_set_rate(unsigned lines_per_second)
{
	rl_burst = lines_per_second;
}

void xlb_log_flush_suppressed(void)
{
	struct rl_due due[RL_DUE_MAX];
	size_t n;

	pthread_mutex_lock(&rl_lock);
	n = rl_take_due(coarse_second(), due);
	pthread_mutex_unlock(&rl_lock);
	rl_report_due(due, n);
}

void xlb_log_limited(struct xlb_log_rl *rl, enum xlb_log_level lvl, const char *fmt, ...)
{
	struct rl_due due[RL_DUE_MAX];
	long now = coarse_second();
	bool allow;
	size_t n;
	va_list ap;

	if (!xlb_log_enabled(lvl))
		return;
	pthread_mutex_lock(&rl_lock);
	n = rl_take_due(now, due);
	if (rl->window != now) {
		rl->window = now;
		rl->n = 0;
	}
	allow = !rl_burst || rl->n < rl_burst;
	if (allow) {
		rl->n++;
	} else {
		rl->fmt = fmt;
		rl->suppressed++;
		if (!rl->listed) {
			rl->listed = true;
			rl->next = rl_pending;
			rl_pending = rl;
		}
	}
	pthread_mutex_unlock(&rl_lock);
	rl_report_due(due, n);
	if (!allow)
		return;
	va_start(ap, fmt);
	log_vline(lvl, fmt, ap);
	va_end(ap);
}
void xlb_log(enum xlb_log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (!xlb_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	log_vline(lvl, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level l, const char *fmt, va_list ap)
{
	enum xlb_log_level lvl = l == LIBBPF_WARN   ? XLB_LOG_WARN
				 : l == LIBBPF_INFO ? XLB_LOG_DEBUG
						    : XLB_LOG_DEBUG;
	char prefixed[512];

	if (libbpf_quiet || !xlb_log_enabled(lvl))
		return 0;
	snprintf(prefixed, sizeof(prefixed), "%s", fmt);
	log_vline(lvl, prefixed, ap);
	return 0;
}

void xlb_log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}

void xlb_log_libbpf_quiet(bool quiet)
{
	libbpf_quiet = quiet;
}
