// SPDX-License-Identifier: GPL-2.0
/* The Prometheus text: escaping, families (HELP and TYPE once, their
 * samples together), and the series a scrape must show. The per-CPU sums
 * it reads are lib/percpu's (test_percpu.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlbd/metrics.h"
#include "xlb/reason_names.h"

static char *format(const struct xlb_metrics_snapshot *s)
{
	struct xlb_mbuf b = {};

	assert_int_equal(xlb_metrics_format(s, &b), 0);
	assert_non_null(b.p);
	assert_int_equal(strlen(b.p), b.len);
	return b.p;
}

/* text has a line that is exactly line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static void assert_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("no line '%s' in:\n%s", line, text);
}

static struct xlb_metrics_service svcs[] = {
	{ .id = 3, .name = "api", .backends = 2, .c = { 42, 4200, 7 } },
	{ .id = 5,
	  .name = "web",
	  .flags = XLB_SVC_F_HOST,
	  .backends = 1,
	  .proxy = { .routed = 10,
		     .connect_failed = 2,
		     .splice_conns = 9,
		     .copy_conns = 1,
		     .spliced_bytes = 12345,
		     .accepted = 12 },
	  /* five first bytes: 0.5 ms, 3 ms twice, 200 ms, 30 s (above every bound) */
	  .http = { .responses = { 1, 7, 0, 2, 3 },
		    .reused = 8,
		    .connects = 4,
		    .fb_buckets = { [0] = 1, [2] = 2, [7] = 1 },
		    .fb_count = 5,
		    .fb_sum_ns = 500000ull + 2 * 3000000ull + 200000000ull + 30000000000ull } },
	{ .id = 6,
	  .name = "tls",
	  .flags = XLB_SVC_F_HOST | XLB_SVC_F_TLS,
	  .proxy = { .accepted = 4, .routed = 4 } },
};

static struct xlb_metrics_backend bes[] = {
	{ .id = 1,
	  .service = "api",
	  .endpoint = "10.0.0.1:80",
	  .state = XLB_BE_ACTIVE,
	  .weight = 1,
	  .c = { 40, 4000, 6 },
	  .active_flows = 6 },
	{ .id = 2,
	  .service = "api",
	  .endpoint = "[fd00::2]:80",
	  .state = XLB_BE_DRAINING,
	  .weight = 3,
	  .c = { 2, 200, 1 },
	  .active_flows = 1 },
	{ .id = 9,
	  .service = "web",
	  .endpoint = "10.0.0.9:8080",
	  .state = XLB_BE_DRAINING,
	  .flags = XLB_BE_F_DOWN,
	  .weight = 1 },
};

static struct xlb_metrics_listener listeners[] = {
	{ .endpoint = "0.0.0.0:80",
	  .c = { .accepted = 15, .routed = 10, .no_route = 3, .bad_request = 1, .timeouts = 1 } },
};

static struct xlb_metrics_snapshot full_snapshot(void)
{
	struct xlb_metrics_snapshot s = {
		.version = "1.2.3",
		.start_time_s = 1700000000,
		.svcs = svcs,
		.n_svcs = 3,
		.http = true,
		.bes = bes,
		.n_bes = 3,
		.listeners = listeners,
		.n_listeners = 1,
		.flows_counted = true,
		.flows = 7,
		.flow_capacity = 262144,
		.docker = true,
		.docker_stats = { .connected = true,
				  .last_sync_unix_s = 1700000100,
				  .events = 12,
				  .errors = 1 },
	};

	s.reasons[XLB_R_FWD_REDIRECT] = (struct xlb_reason_count){ 40, 4000 };
	s.reasons[XLB_R_DROP_NO_BACKEND] = (struct xlb_reason_count){ 3, 180 };
	return s;
}

static void test_escape_label_value(void **state)
{
	struct xlb_mbuf b = {};

	(void)state;
	xlb_metrics_escape_label(&b, "a\\b\"c\nd");
	assert_string_equal(b.p, "a\\\\b\\\"c\\nd");
	xlb_mbuf_free(&b);
}

static void test_help_escapes_backslash_and_newline_only(void **state)
{
	struct xlb_mbuf b = {};

	(void)state;
	xlb_metrics_family(&b, "x_total", "counter", "say \"hi\"\\\nbye");
	assert_string_equal(b.p, "# HELP x_total say \"hi\"\\\\\\nbye\n# TYPE x_total counter\n");
	xlb_mbuf_free(&b);
}

static void test_sample_shapes(void **state)
{
	const struct xlb_label l[] = { { "service", "a\"b" }, { "backend", "[::1]:80" } };
	struct xlb_mbuf b = {};

	(void)state;
	xlb_metrics_sample(&b, "x", NULL, 0, 0);
	xlb_metrics_sample(&b, "y", l, 2, UINT64_MAX);
	assert_string_equal(b.p, "x 0\ny{service=\"a\\\"b\",backend=\"[::1]:80\"} "
				 "18446744073709551615\n");
	xlb_mbuf_free(&b);
}

/* The metric name of a sample line: up to '{' or ' '. */
static void sample_name(const char *line, size_t len, char *out, size_t cap)
{
	size_t n = strcspn(line, "{ ");

	if (n > len)
		n = len;
	assert_true(n < cap);
	memcpy(out, line, n);
	out[n] = '\0';
}

/* A histogram's series: fam_bucket, fam_sum, fam_count. */
static bool histogram_series(const char *name, const char *fam)
{
	size_t n = strlen(fam);

	return strncmp(name, fam, n) == 0 &&
	       (strcmp(name + n, "_bucket") == 0 || strcmp(name + n, "_sum") == 0 ||
		strcmp(name + n, "_count") == 0);
}

/* Every family: HELP then TYPE, each once, then at least one sample of
 * its own name, with no other family's sample in between; counters end
 * in _total. Returns how many families there are. */
static size_t check_families(const char *text)
{
	char fam[128] = "", seen[64][128], name[128], type[16] = "";
	size_t n_seen = 0, samples = 1;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = (size_t)(nl - p);

		assert_non_null(nl);
		if (strncmp(p, "# HELP ", 7) == 0) {
			assert_true(samples > 0); /* the family before had samples */
			sample_name(p + 7, len - 7, fam, sizeof(fam));
			for (size_t i = 0; i < n_seen; i++)
				if (strcmp(seen[i], fam) == 0)
					fail_msg("family %s twice", fam);
			assert_true(n_seen < 64);
			strcpy(seen[n_seen++], fam);
			samples = 0;
			p = nl + 1;
			nl = strchr(p, '\n');
			assert_non_null(nl);
			assert_int_equal(sscanf(p, "# TYPE %127s %15s", name, type), 2);
			assert_string_equal(name, fam);
			if (strcmp(type, "counter") == 0)
				assert_string_equal(fam + strlen(fam) - 6, "_total");
			else if (strcmp(type, "histogram") != 0)
				assert_string_equal(type, "gauge");
		} else {
			assert_true(p[0] != '#');
			sample_name(p, len, name, sizeof(name));
			if (strcmp(type, "histogram") == 0 && !histogram_series(name, fam))
				fail_msg("sample of %s inside histogram %s", name, fam);
			if (strcmp(type, "histogram") != 0 && strcmp(name, fam) != 0)
				fail_msg("sample of %s inside family %s", name, fam);
			samples++;
		}
		p = nl + 1;
	}
	assert_true(samples > 0);
	return n_seen;
}

static void test_families_are_whole_and_typed(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	/* build 2, service 4, backend 7, flow table 3, reasons 2, proxy 5, http 5, docker 4 */
	assert_int_equal(check_families(text), 32);
	free(text);
}

static void test_service_and_backend_series(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	assert_line(text, "xlb_build_info{version=\"1.2.3\"} 1");
	assert_line(text, "xlb_service_packets_total{service=\"api\"} 42");
	assert_line(text, "xlb_service_bytes_total{service=\"api\"} 4200");
	assert_line(text, "xlb_service_new_flows_total{service=\"api\"} 7");
	assert_line(text, "xlb_service_packets_total{service=\"web\"} 0");
	assert_line(text, "xlb_service_backends{service=\"api\"} 2");
	assert_line(text, "xlb_backend_packets_total{service=\"api\",backend=\"10.0.0.1:80\"} 40");
	assert_line(text,
		    "xlb_backend_new_flows_total{service=\"api\",backend=\"[fd00::2]:80\"} 1");
	assert_line(text, "xlb_backend_weight{service=\"api\",backend=\"[fd00::2]:80\"} 3");
	assert_line(text, "xlb_backend_active_flows{service=\"api\",backend=\"10.0.0.1:80\"} 6");
	assert_line(text, "xlb_flow_table_entries 7");
	assert_line(text, "xlb_flow_table_max_entries 262144");
	free(text);
}

static void test_backend_states(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	assert_line(text, "xlb_backend_up{service=\"api\",backend=\"10.0.0.1:80\"} 1");
	assert_line(
		text,
		"xlb_backend_state{service=\"api\",backend=\"10.0.0.1:80\",state=\"active\"} 1");
	assert_line(
		text,
		"xlb_backend_state{service=\"api\",backend=\"10.0.0.1:80\",state=\"draining\"} 0");
	/* drained: still up, in state draining */
	assert_line(text, "xlb_backend_up{service=\"api\",backend=\"[fd00::2]:80\"} 1");
	assert_line(
		text,
		"xlb_backend_state{service=\"api\",backend=\"[fd00::2]:80\",state=\"draining\"} 1");
	assert_line(
		text,
		"xlb_backend_state{service=\"api\",backend=\"[fd00::2]:80\",state=\"active\"} 0");
	/* failing its check: down, whatever the state says */
	assert_line(text, "xlb_backend_up{service=\"web\",backend=\"10.0.0.9:8080\"} 0");
	assert_line(
		text,
		"xlb_backend_state{service=\"web\",backend=\"10.0.0.9:8080\",state=\"down\"} 1");
	assert_line(
		text,
		"xlb_backend_state{service=\"web\",backend=\"10.0.0.9:8080\",state=\"draining\"} 0");
	free(text);
}

static void test_reasons_all_named(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s), line[128];

	(void)state;
	for (int r = 0; r < XLB_R_MAX; r++) {
		snprintf(line, sizeof(line), "xlb_packets_total{reason=\"%s\"} ",
			 xlb_reason_names[r]);
		assert_non_null(strstr(text, line));
	}
	assert_line(text, "xlb_packets_total{reason=\"fwd_redirect\"} 40");
	assert_line(text, "xlb_bytes_total{reason=\"drop_no_backend\"} 180");
	free(text);
}

static void test_proxy_series(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	assert_line(text, "xlb_proxy_connections_total{service=\"web\",outcome=\"routed\"} 10");
	assert_line(text,
		    "xlb_proxy_connections_total{service=\"web\",outcome=\"connect_failed\"} 2");
	assert_line(text, "xlb_proxy_path_connections_total{service=\"web\",path=\"splice\"} 9");
	assert_line(text, "xlb_proxy_path_connections_total{service=\"web\",path=\"copy\"} 1");
	assert_line(text, "xlb_proxy_bytes_total{service=\"web\"} 12345");
	/* an L4-only service has no proxy series */
	assert_null(strstr(text, "xlb_proxy_connections_total{service=\"api\""));
	assert_line(text,
		    "xlb_proxy_listener_accepted_total{listener=\"0.0.0.0:80\",proto=\"http\"} 15");
	assert_line(text,
		    "xlb_proxy_listener_connections_total{listener=\"0.0.0.0:80\",proto=\"http\","
		    "outcome=\"no_route\"} 3");
	assert_line(text,
		    "xlb_proxy_listener_connections_total{listener=\"0.0.0.0:80\",proto=\"http\","
		    "outcome=\"timeout\"} 1");
	free(text);
}

static void test_http_series(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	/* requests are the service's accepted: one per request routed to it */
	assert_line(text, "xlb_http_requests_total{service=\"web\"} 12");
	assert_line(text, "xlb_http_responses_total{service=\"web\",class=\"1xx\"} 1");
	assert_line(text, "xlb_http_responses_total{service=\"web\",class=\"2xx\"} 7");
	assert_line(text, "xlb_http_responses_total{service=\"web\",class=\"3xx\"} 0");
	assert_line(text, "xlb_http_responses_total{service=\"web\",class=\"4xx\"} 2");
	assert_line(text, "xlb_http_responses_total{service=\"web\",class=\"5xx\"} 3");
	assert_line(text, "xlb_http_backend_connections_reused_total{service=\"web\"} 8");
	assert_line(text, "xlb_http_backend_connections_opened_total{service=\"web\"} 4");
	assert_line(text, "# TYPE xlb_http_response_first_byte_seconds histogram");
	/* neither an L4 service nor a TLS one has HTTP series */
	assert_null(strstr(text, "xlb_http_requests_total{service=\"api\"}"));
	assert_null(strstr(text, "xlb_http_requests_total{service=\"tls\"}"));
	assert_null(strstr(text, "xlb_http_response_first_byte_seconds_count{service=\"tls\"}"));
	free(text);
}

/* Buckets are cumulative (le inclusive), +Inf is the count (an
 * observation above the last bound is in no finite bucket), the sum is
 * in seconds, exactly. */
static void test_http_histogram(void **state)
{
	static const struct {
		const char *le;
		int n;
	} want[] = {
		{ "0.001", 1 }, { "0.0025", 1 }, { "0.005", 3 }, { "0.01", 3 }, { "0.025", 3 },
		{ "0.05", 3 },	{ "0.1", 3 },	 { "0.25", 4 },	 { "0.5", 4 },	{ "1", 4 },
		{ "2.5", 4 },	{ "5", 4 },	 { "10", 4 },	 { "+Inf", 5 },
	};
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s), line[160];
	const char *p, *q;

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(
			line, sizeof(line),
			"xlb_http_response_first_byte_seconds_bucket{service=\"web\",le=\"%s\"} %d",
			want[i].le, want[i].n);
		assert_line(text, line);
	}
	assert_line(text, "xlb_http_response_first_byte_seconds_sum{service=\"web\"} 30.206500000");
	assert_line(text, "xlb_http_response_first_byte_seconds_count{service=\"web\"} 5");
	/* the buckets in order of their bounds, then _sum, then _count */
	p = strstr(text, "_bucket{service=\"web\",le=\"0.001\"}");
	q = strstr(text, "_bucket{service=\"web\",le=\"+Inf\"}");
	assert_true(p && q && p < q);
	p = strstr(text, "_sum{service=\"web\"}");
	assert_true(p && q < p && p < strstr(text, "_count{service=\"web\"}"));
	free(text);
}

/* The histogram alone: no labels, nothing observed. */
static void test_histogram_empty_unlabelled(void **state)
{
	const struct xlb_http_counters h = {};
	struct xlb_mbuf b = {};

	(void)state;
	xlb_metrics_histogram(&b, "h", NULL, 0, &h);
	assert_true(has_line(b.p, "h_bucket{le=\"0.001\"} 0"));
	assert_true(has_line(b.p, "h_bucket{le=\"+Inf\"} 0"));
	assert_true(has_line(b.p, "h_sum 0.000000000"));
	assert_true(has_line(b.p, "h_count 0"));
	xlb_mbuf_free(&b);
}

/* --http-mode connection: no request counters, no HTTP series. */
static void test_http_left_out_in_connection_mode(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text;

	(void)state;
	s.http = false;
	text = format(&s);
	check_families(text);
	assert_null(strstr(text, "xlb_http_"));
	free(text);
}

static void test_docker_series(void **state)
{
	struct xlb_metrics_snapshot s = full_snapshot();
	char *text = format(&s);

	(void)state;
	assert_line(text, "xlb_docker_connected 1");
	assert_line(text, "xlb_docker_last_sync_timestamp_seconds 1700000100");
	assert_line(text, "xlb_docker_events_total 12");
	assert_line(text, "xlb_docker_errors_total 1");
	free(text);
}

/* The certificates in service: one expiry sample per name. */
static void test_cert_expiry(void **state)
{
	struct xlb_metrics_cert certs[] = {
		{ "a.app.dev", "/etc/xlb/certs/a.app.dev.crt", "A1", 1954413253 },
		{ "*.w.app.dev", "acme", "36FB3535B99FC525", 1954413255 },
	};
	struct xlb_metrics_snapshot s = { .version = "x", .certs = certs, .n_certs = 2 };
	char *text = format(&s);

	(void)state;
	check_families(text);
	assert_line(text, "xlb_tls_certificate_expiry_timestamp_seconds{name=\"a.app.dev\","
			  "source=\"/etc/xlb/certs/a.app.dev.crt\",serial=\"A1\"} 1954413253");
	assert_line(text, "xlb_tls_certificate_expiry_timestamp_seconds{name=\"*.w.app.dev\","
			  "source=\"acme\",serial=\"36FB3535B99FC525\"} 1954413255");
	free(text);
}

/* Without --docker, without a flow count, without services: only what
 * is known, and still well-formed. */
static void test_absent_parts_are_left_out(void **state)
{
	struct xlb_metrics_snapshot s = { .version = "x" };
	char *text = format(&s);

	(void)state;
	check_families(text);
	assert_null(strstr(text, "xlb_docker_"));
	assert_null(strstr(text, "xlb_backend_"));
	assert_null(strstr(text, "xlb_service_"));
	assert_null(strstr(text, "xlb_flow_table_"));
	assert_null(strstr(text, "xlb_proxy_"));
	assert_null(strstr(text, "xlb_tls_"));
	assert_line(text, "xlb_packets_total{reason=\"pass_not_ip\"} 0");
	free(text);
}

static void test_label_values_escaped_in_output(void **state)
{
	struct xlb_metrics_service odd = { .name = "we\"ird\\name" };
	struct xlb_metrics_snapshot s = { .version = "a\nb", .svcs = &odd, .n_svcs = 1 };
	char *text = format(&s);

	(void)state;
	assert_line(text, "xlb_build_info{version=\"a\\nb\"} 1");
	assert_line(text, "xlb_service_packets_total{service=\"we\\\"ird\\\\name\"} 0");
	check_families(text);
	free(text);
}

/* Thousands of backends: the buffer grows past its first size intact. */
static void test_buffer_grows(void **state)
{
	enum { N = 3000 };
	struct xlb_metrics_backend *many = calloc(N, sizeof(*many));
	struct xlb_metrics_snapshot s = { .version = "x", .svcs = svcs, .n_svcs = 1 };
	char *text, line[160];

	(void)state;
	assert_non_null(many);
	for (int i = 0; i < N; i++) {
		snprintf(many[i].service, sizeof(many[i].service), "api");
		snprintf(many[i].endpoint, sizeof(many[i].endpoint), "10.0.%d.%d:80", i / 250,
			 i % 250);
		many[i].state = XLB_BE_ACTIVE;
		many[i].weight = (uint32_t)i;
	}
	s.bes = many;
	s.n_bes = N;
	text = format(&s);
	check_families(text);
	snprintf(line, sizeof(line),
		 "xlb_backend_weight{service=\"api\",backend=\"10.0.11.249:80\"} %d", N - 1);
	assert_line(text, line);
	free(text);
	free(many);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_label_value),
		cmocka_unit_test(test_help_escapes_backslash_and_newline_only),
		cmocka_unit_test(test_sample_shapes),
		cmocka_unit_test(test_families_are_whole_and_typed),
		cmocka_unit_test(test_service_and_backend_series),
		cmocka_unit_test(test_backend_states),
		cmocka_unit_test(test_reasons_all_named),
		cmocka_unit_test(test_proxy_series),
		cmocka_unit_test(test_http_series),
		cmocka_unit_test(test_http_histogram),
		cmocka_unit_test(test_histogram_empty_unlabelled),
		cmocka_unit_test(test_http_left_out_in_connection_mode),
		cmocka_unit_test(test_docker_series),
		cmocka_unit_test(test_cert_expiry),
		cmocka_unit_test(test_absent_parts_are_left_out),
		cmocka_unit_test(test_label_values_escaped_in_output),
		cmocka_unit_test(test_buffer_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
