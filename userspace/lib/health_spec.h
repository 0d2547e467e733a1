/* SPDX-License-Identifier: GPL-2.0 */
/* What a health check of a backend is, as container labels and the config
 * file ask for it:
 *   xlb.healthcheck=tcp | http:/path
 *   xlb.healthcheck.interval=2s  .timeout=1s  .rise=2  .fall=3
 * (config: check, check_interval, check_timeout, check_rise, check_fall).
 * A TCP check passes when a connect succeeds within the timeout; an HTTP
 * check when "GET <path> HTTP/1.0" is answered with a 2xx or 3xx status
 * line within the timeout. Only the spec lives here, so that the config
 * and label parsers need not link the checker (xlbd/health.h). */
#ifndef XLB_LIB_HEALTH_SPEC_H
#define XLB_LIB_HEALTH_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xlb_hc_kind { XLB_HC_NONE = 0, XLB_HC_TCP, XLB_HC_HTTP };

#define XLB_HC_PATH_SIZE 256

#define XLB_HC_INTERVAL_DEFAULT_MS 2000
#define XLB_HC_INTERVAL_MIN_MS 100
#define XLB_HC_INTERVAL_MAX_MS 3600000
#define XLB_HC_TIMEOUT_DEFAULT_MS 1000
/* Below 10 ms even a loopback check under load can miss; such a value is
 * more likely a typo than a wish. */
#define XLB_HC_TIMEOUT_MIN_MS 10
#define XLB_HC_RISE_DEFAULT 2
#define XLB_HC_FALL_DEFAULT 3
#define XLB_HC_COUNT_MAX 100

struct xlb_hc_spec {
	enum xlb_hc_kind kind;
	char path[XLB_HC_PATH_SIZE]; /* HTTP: request target, starts with '/' */
	uint32_t interval_ms;	     /* default 2000; 100..3600000 */
	uint32_t timeout_ms;	     /* default 1000; 10..interval */
	uint32_t rise;		     /* consecutive successes to come back up, default 2; 1..100 */
	uint32_t fall;		     /* consecutive failures to go down, default 3; 1..100 */
};

/* Defaults for everything, kind NONE. */
void xlb_hc_spec_init(struct xlb_hc_spec *spec);
/* "tcp" or "http:/path" (path: printable ASCII without spaces, starts with
 * '/'). Sets only the kind and the path, so labels apply in any order. On
 * error returns -EINVAL, leaves spec alone and writes one short reason to
 * err ("unknown check kind \"x\" (want tcp or http:/path)"). */
int xlb_hc_parse(const char *s, struct xlb_hc_spec *spec, char *err, size_t errlen);
/* key: "interval" | "timeout" (durations: "500ms", "2s", "1m", or a bare
 * number of seconds) | "rise" | "fall" (whole numbers 1..100). Errors as
 * for xlb_hc_parse. */
int xlb_hc_set_option(struct xlb_hc_spec *spec, const char *key, const char *val, char *err,
		      size_t errlen);
/* After all options: every field in range and timeout <= interval. A spec
 * of kind NONE has nothing to check and is valid. */
int xlb_hc_validate(const struct xlb_hc_spec *spec, char *err, size_t errlen);
bool xlb_hc_spec_equal(const struct xlb_hc_spec *a, const struct xlb_hc_spec *b);

#endif
