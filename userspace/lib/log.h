/* SPDX-License-Identifier: GPL-2.0 */
/* One-line key=value logging to stderr, with levels. libbpf's own messages
 * are routed here too (xlb_log_route_libbpf). */
#ifndef XLB_LOG_H
#define XLB_LOG_H

#include <stdbool.h>

enum xlb_log_level { XLB_LOG_ERROR, XLB_LOG_WARN, XLB_LOG_INFO, XLB_LOG_DEBUG };

void xlb_log_set_level(enum xlb_log_level lvl);
/* Parses "error|warn|info|debug"; returns -EINVAL for anything else. */
int xlb_log_parse_level(const char *s, enum xlb_log_level *lvl);
void xlb_log_set_prog(const char *prog);
bool xlb_log_enabled(enum xlb_log_level lvl);
void xlb_log(enum xlb_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xlb_log_route_libbpf(void);
/* Mutes libbpf's warnings around a call whose failure is expected and
 * handled (probing for a qdisc or a program that may already be there). */
void xlb_log_libbpf_quiet(bool quiet);

/* From here on lines are queued and written by a thread of their own,
 * so a log that is read slowly never blocks the caller (a full queue
 * drops lines and says how many). Before, and in programs that never
 * call it, lines are written at once. stop writes out what is queued.
 * Returns -errno when the thread cannot start (lines then stay direct). */
int xlb_log_async_start(void);
void xlb_log_async_stop(void);

/* Lines a client can cause (a refused request, a timeout) go through a
 * per-call-site limit: pr_*_rl logs at most XLB_LOG_RL_BURST lines a
 * second from one site (xlb_log_set_rate changes it; 0 lifts it), and
 * then one line "event=log_suppressed what=NAME lines=N" once the second
 * is over (at the site's next line, or at the latest from
 * xlb_log_flush_suppressed, which a daemon calls on a timer). */
#define XLB_LOG_RL_BURST 10
void xlb_log_set_rate(unsigned lines_per_second);
struct xlb_log_rl {
	const char *fmt;
	long window; /* the second counted, CLOCK_MONOTONIC_COARSE */
	unsigned n;
	unsigned long suppressed;
	struct xlb_log_rl *next;
	bool listed;
};
void xlb_log_limited(struct xlb_log_rl *rl, enum xlb_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xlb_log_flush_suppressed(void);

#define XLB_LOG_RL(lvl, ...)                                 \
	do {                                                 \
		static struct xlb_log_rl xlb_rl_;            \
		xlb_log_limited(&xlb_rl_, lvl, __VA_ARGS__); \
	} while (0)
#define pr_warn_rl(...) XLB_LOG_RL(XLB_LOG_WARN, __VA_ARGS__)
#define pr_info_rl(...) XLB_LOG_RL(XLB_LOG_INFO, __VA_ARGS__)

#define pr_err(...) xlb_log(XLB_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) xlb_log(XLB_LOG_WARN, __VA_ARGS__)
#define pr_info(...) xlb_log(XLB_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) xlb_log(XLB_LOG_DEBUG, __VA_ARGS__)

#endif
