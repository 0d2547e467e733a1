// SPDX-License-Identifier: GPL-2.0
/* `xlbctl certs`: the TLS certificates xlbd serves. They live in xlbd's
 * memory, not in a pinned map, so this command asks xlbd over the control
 * socket; xlbd answers one JSON array, which is printed as a table or
 * passed on with --json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "xlbctl.h"

/* Names as one cell: cut to fit, ",+N" for the N left out. */
static void cell_names(char *cell, json_t *names)
{
	size_t i, len = 0, n = json_array_size(names);
	char tail[24];

	cell[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *s = json_string_value(json_array_get(names, i));
		size_t need = strlen(s ? s : "") + (i ? 1 : 0);

		snprintf(tail, sizeof(tail), ",+%zu", n - i);
		if (len + need + strlen(tail) >= XLB_CELL_LEN && i + 1 < n)
			break;
		if (len + need >= XLB_CELL_LEN)
			break;
		len += (size_t)snprintf(cell + len, XLB_CELL_LEN - len, "%s%s", i ? "," : "",
					s ? s : "");
	}
	if (i < n)
		snprintf(cell + len, XLB_CELL_LEN - len, ",+%zu", n - i);
	if (!n)
		snprintf(cell, XLB_CELL_LEN, "-");
}

static void cell_time(char *cell, json_int_t t)
{
	time_t sec = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&sec, &tm) || !strftime(cell, XLB_CELL_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(cell, XLB_CELL_LEN, "%lld", (long long)t);
}

static const char *str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && s[0] ? s : "-";
}

static void fill_cert_row(void *ctx, size_t row, char cells[][XLB_CELL_LEN])
{
	json_t *c = json_array_get(ctx, row);

	cell_names(cells[0], json_object_get(c, "names"));
	cell_str(cells[1], str_of(c, "source"));
	cell_time(cells[2], json_integer_value(json_object_get(c, "not_after")));
	cell_str(cells[3], str_of(c, "serial"));
	cell_str(cells[4], json_is_true(json_object_get(c, "default")) ? "yes" : "no");
	cell_str(cells[5], str_of(c, "issuer"));
}

/* ISSUER last: it holds spaces, the other columns never do. */
static int print_certs(json_t *arr)
{
	static const struct xlb_table_col cols[] = {
		{ "NAMES", XLB_ALIGN_LEFT },	 { "SOURCE", XLB_ALIGN_LEFT },
		{ "NOT_AFTER", XLB_ALIGN_LEFT }, { "SERIAL", XLB_ALIGN_LEFT },
		{ "DEFAULT", XLB_ALIGN_LEFT },	 { "ISSUER", XLB_ALIGN_LEFT },
	};
	size_t n = json_array_size(arr);
	int rc = print_table(cols, sizeof(cols) / sizeof(cols[0]), n, fill_cert_row, arr);

	if (!rc)
		printf("%zu certificate%s\n", n, n == 1 ? "" : "s");
	return rc;
}

int cmd_certs(struct ctl *ctl, int argc, char **argv)
{
	json_error_t jerr;
	json_t *arr = NULL;
	char *output = NULL;
	int rc;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		print_usage(stdout);
		return CTL_OK;
	}
	if (argc > 1)
		return complain(CTL_USAGE, "certs: unexpected argument '%s'", argv[1]);
	rc = control_query(ctl, "certs", &output);
	if (rc == CTL_OK) {
		arr = json_loads(output, 0, &jerr);
		if (!json_is_array(arr))
			rc = complain(CTL_FAIL, "certs: xlbd's answer is not a JSON array: %s",
				      jerr.text);
	}
	if (rc == CTL_OK)
		rc = ctl->json ? emit_json(json_incref(arr)) : print_certs(arr);
	json_decref(arr);
	free(output);
	return rc;
}
