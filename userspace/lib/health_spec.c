// SPDX-License-Identifier: GPL-2.0
/* Health-check specs: labels and config values -> struct xlb_hc_spec,
 * with one short reason for anything refused. */
#include "health_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HC_ECHO "%.40s" /* how much of a bad value an error message repeats */

__attribute__((format(printf, 3, 4))) static int hc_error(char *err, size_t errlen, const char *fmt,
							  ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void xlb_hc_spec_init(struct xlb_hc_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->kind = XLB_HC_NONE;
	spec->interval_ms = XLB_HC_INTERVAL_DEFAULT_MS;
	spec->timeout_ms = XLB_HC_TIMEOUT_DEFAULT_MS;
	spec->rise = XLB_HC_RISE_DEFAULT;
	spec->fall = XLB_HC_FALL_DEFAULT;
}

/* The path goes verbatim into the request line: a space or a control
 * character there would let a label write its own request. */
static int check_path(const char *path, char *err, size_t errlen)
{
	size_t len = strnlen(path, XLB_HC_PATH_SIZE);

	if (path[0] != '/')
		return hc_error(err, errlen, "http path must start with '/'");
	if (len == XLB_HC_PATH_SIZE)
		return hc_error(err, errlen, "http path longer than %d characters",
				XLB_HC_PATH_SIZE - 1);
	for (size_t i = 0; i < len; i++) {
		if (path[i] <= ' ' || path[i] >= 0x7f)
			return hc_error(err, errlen,
					"http path has a space or a non-printable character");
	}
	return 0;
}

int xlb_hc_parse(const char *s, struct xlb_hc_spec *spec, char *err, size_t errlen)
{
	int ret;

	if (strcmp(s, "tcp") == 0) {
		spec->kind = XLB_HC_TCP;
		memset(spec->path, 0, sizeof(spec->path));
		return 0;
	}
	if (strcmp(s, "http") == 0)
		return hc_error(err, errlen, "http check needs a path (http:/path)");
	if (strncmp(s, "http:", 5) == 0) {
		ret = check_path(s + 5, err, errlen);
		if (ret)
			return ret;
		spec->kind = XLB_HC_HTTP;
		memset(spec->path, 0, sizeof(spec->path));
		strcpy(spec->path, s + 5); /* check_path bounded it */
		return 0;
	}
	return hc_error(err, errlen, "unknown check kind \"" HC_ECHO "\" (want tcp or http:/path)",
			s);
}

/* Saturates instead of overflowing, so that a huge number reads as out of
 * range rather than wrapping into range. */
#define HC_DIGITS_MAX 1000000000000ULL

/* Digits, then "ms", "s", "m" or nothing (seconds). No sign, no fraction,
 * no space: a label that says "1.5s" gets an error, not a guess. */
static int parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t v = 0, unit;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v <= HC_DIGITS_MAX)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (strcmp(p, "ms") == 0)
		unit = 1;
	else if (strcmp(p, "s") == 0 || *p == '\0')
		unit = 1000;
	else if (strcmp(p, "m") == 0)
		unit = 60000;
	else
		return -EINVAL;
	*ms = v * unit;
	return 0;
}

/* "2s", "1500ms", "60m": the unit a user would have written. */
static const char *format_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

static int set_duration(uint32_t *out, const char *key, const char *val, uint32_t min, uint32_t max,
			char *err, size_t errlen)
{
	char lo[24], hi[24];
	uint64_t ms;

	if (parse_duration_ms(val, &ms))
		return hc_error(err, errlen,
				"%s \"" HC_ECHO "\" is not a duration (like 500ms, 2s or 1m)", key,
				val);
	if (ms < min || ms > max)
		return hc_error(err, errlen, "%s \"" HC_ECHO "\" out of range (%s to %s)", key, val,
				format_ms(min, lo, sizeof(lo)), format_ms(max, hi, sizeof(hi)));
	*out = (uint32_t)ms;
	return 0;
}

static int set_count(uint32_t *out, const char *key, const char *val, char *err, size_t errlen)
{
	uint32_t v = 0;
	const char *p = val;

	for (; *p >= '0' && *p <= '9' && v <= XLB_HC_COUNT_MAX; p++)
		v = v * 10 + (uint32_t)(*p - '0');
	if (p == val || *p != '\0' || v < 1 || v > XLB_HC_COUNT_MAX)
		return hc_error(err, errlen,
				"%s \"" HC_ECHO "\" is not a whole number from 1 to %d", key, val,
				XLB_HC_COUNT_MAX);
	*out = v;
	return 0;
}

int xlb_hc_set_option(struct xlb_hc_spec *spec, const char *key, const char *val, char *err,
		      size_t errlen)
{
	if (strcmp(key, "interval") == 0)
		return set_duration(&spec->interval_ms, key, val, XLB_HC_INTERVAL_MIN_MS,
				    XLB_HC_INTERVAL_MAX_MS, err, errlen);
	if (strcmp(key, "timeout") == 0)
		return set_duration(&spec->timeout_ms, key, val, XLB_HC_TIMEOUT_MIN_MS,
				    XLB_HC_INTERVAL_MAX_MS, err, errlen);
	if (strcmp(key, "rise") == 0)
		return set_count(&spec->rise, key, val, err, errlen);
	if (strcmp(key, "fall") == 0)
		return set_count(&spec->fall, key, val, err, errlen);
	return hc_error(err, errlen,
			"unknown health check option \"" HC_ECHO
			"\" (want interval, timeout, rise or fall)",
			key);
}

static int check_range(const char *key, uint32_t ms, uint32_t min, uint32_t max, char *err,
		       size_t errlen)
{
	char v[24], lo[24], hi[24];

	if (ms >= min && ms <= max)
		return 0;
	return hc_error(err, errlen, "%s %s out of range (%s to %s)", key,
			format_ms(ms, v, sizeof(v)), format_ms(min, lo, sizeof(lo)),
			format_ms(max, hi, sizeof(hi)));
}

static int check_count(const char *key, uint32_t v, char *err, size_t errlen)
{
	if (v >= 1 && v <= XLB_HC_COUNT_MAX)
		return 0;
	return hc_error(err, errlen, "%s %u out of range (1 to %d)", key, v, XLB_HC_COUNT_MAX);
}

static int check_timing(const struct xlb_hc_spec *spec, char *err, size_t errlen)
{
	char t[24], i[24];

	if (check_range("interval", spec->interval_ms, XLB_HC_INTERVAL_MIN_MS,
			XLB_HC_INTERVAL_MAX_MS, err, errlen) ||
	    check_range("timeout", spec->timeout_ms, XLB_HC_TIMEOUT_MIN_MS, XLB_HC_INTERVAL_MAX_MS,
			err, errlen) ||
	    check_count("rise", spec->rise, err, errlen) ||
	    check_count("fall", spec->fall, err, errlen))
		return -EINVAL;
	/* a check still running when the next is due would have to be
	 * abandoned or doubled up: neither says anything true */
	if (spec->timeout_ms > spec->interval_ms)
		return hc_error(err, errlen, "timeout %s is longer than interval %s",
				format_ms(spec->timeout_ms, t, sizeof(t)),
				format_ms(spec->interval_ms, i, sizeof(i)));
	return 0;
}

int xlb_hc_validate(const struct xlb_hc_spec *spec, char *err, size_t errlen)
{
	switch (spec->kind) {
	case XLB_HC_NONE:
		return 0;
	case XLB_HC_TCP:
		break;
	case XLB_HC_HTTP:
		if (check_path(spec->path, err, errlen))
			return -EINVAL;
		break;
	default:
		return hc_error(err, errlen, "unknown check kind %d", (int)spec->kind);
	}
	return check_timing(spec, err, errlen);
}

bool xlb_hc_spec_equal(const struct xlb_hc_spec *a, const struct xlb_hc_spec *b)
{
	if (a->kind != b->kind || a->interval_ms != b->interval_ms ||
	    a->timeout_ms != b->timeout_ms || a->rise != b->rise || a->fall != b->fall)
		return false;
	return a->kind != XLB_HC_HTTP || strncmp(a->path, b->path, sizeof(a->path)) == 0;
}
