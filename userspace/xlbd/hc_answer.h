/* SPDX-License-Identifier: GPL-2.0 */
/* What an HTTP health check makes of a backend's answer: a pure judge of
 * its first bytes, apart from the checker (health.c) so that a fuzzer can
 * take it without the event loop. */
#ifndef XLB_HC_ANSWER_H
#define XLB_HC_ANSWER_H

#include <stddef.h>

/* An HTTP check reads at most this much of the backend's answer. */
#define XLB_HC_ANSWER_MAX 256

enum xlb_hc_verdict { XLB_HC_MORE, XLB_HC_PASS, XLB_HC_FAIL };

/* Judges the first len bytes (at most XLB_HC_ANSWER_MAX) that a backend
 * answered to an HTTP check: MORE until its status line "HTTP/1.x NNN
 * [reason]" has ended in LF or CRLF, then PASS for a 2xx or 3xx status,
 * FAIL for another, for a malformed line or for XLB_HC_ANSWER_MAX bytes
 * without a line end. Once decided, *code is the status, or -1 with the
 * reason in *why (static); *why is NULL otherwise. What follows the
 * status line is not looked at. */
enum xlb_hc_verdict xlb_hc_judge_answer(const char *buf, size_t len, int *code, const char **why);

#endif
