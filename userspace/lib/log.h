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

#define pr_err(...) xlb_log(XLB_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) xlb_log(XLB_LOG_WARN, __VA_ARGS__)
#define pr_info(...) xlb_log(XLB_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) xlb_log(XLB_LOG_DEBUG, __VA_ARGS__)

#endif
