// SPDX-License-Identifier: GPL-2.0
/* What xlbctl writes: the one error line, endpoints and table cells,
 * tables, and JSON documents. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/addr.h"
#include "lib/table.h"
#include "xlbctl.h"
#include "xlb/map_types.h"

/* ---- errors ----------------------------------------------------------------- */

/* Every xlbctl error is one line "xlbctl: ..." on stderr. Returns code so
 * that callers can write `return complain(CTL_USAGE, ...)`. */
int __attribute__((format(printf, 2, 3))) complain(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("xlbctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* ---- formatting ------------------------------------------------------------- */

const char *format_ep(uint8_t family, const struct xlb_addr *addr, __be16 port, uint8_t proto,
		      char *buf, size_t len)
{
	struct xlb_endpoint ep = {
		.addr = *addr,
		.port = ntohs(port),
		.family = family,
		.proto = proto,
	};

	return xlb_format_endpoint(&ep, buf, len);
}

const char *format_backend(const struct xlb_backend *be, char *buf, size_t len)
{
	return format_ep(be->family, &be->addr, be->port, 0, buf, len);
}

void cell_u64(char *cell, __u64 v)
{
	snprintf(cell, XLB_CELL_LEN, "%llu", (unsigned long long)v);
}

void cell_str(char *cell, const char *s)
{
	snprintf(cell, XLB_CELL_LEN, "%s", s ? s : "-");
}

/* Keeps the order of the table printers and the JSON builders in one
 * place: packets, bytes, new flows. */
void cells_counters(char cells[][XLB_CELL_LEN], const struct xlb_counters *c)
{
	cell_u64(cells[0], c->packets);
	cell_u64(cells[1], c->bytes);
	cell_u64(cells[2], c->new_flows);
}

int print_table(const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		xlb_table_row_fn fill_row, void *ctx)
{
	int rc = xlb_table_print(stdout, cols, ncols, nrows, fill_row, ctx);

	return rc ? complain(CTL_FAIL, "cannot write output: %s", strerror(-rc)) : CTL_OK;
}

/* ---- JSON ------------------------------------------------------------------- */

/* jansson constructors return NULL on allocation failure and the setters
 * then fail: remember it once here instead of checking every call. */
static bool json_failed;

void jset(json_t *obj, const char *key, json_t *val)
{
	if (!obj || json_object_set_new(obj, key, val))
		json_failed = true;
}

void jpush(json_t *arr, json_t *val)
{
	if (!arr || json_array_append_new(arr, val))
		json_failed = true;
}

json_t *jint(__u64 v)
{
	return json_integer((json_int_t)v);
}

json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

void jset_counters(json_t *obj, const struct xlb_counters *c)
{
	jset(obj, "packets", jint(c->packets));
	jset(obj, "bytes", jint(c->bytes));
	jset(obj, "flows", jint(c->new_flows));
}

/* Prints root as one indented document and releases it. */
int emit_json(json_t *root)
{
	char *text = json_failed || !root ? NULL : json_dumps(root, JSON_INDENT(2));
	int rc = CTL_OK;

	if (!text)
		rc = complain(CTL_FAIL, "cannot build JSON output: out of memory");
	else if (puts(text) == EOF || fflush(stdout))
		rc = complain(CTL_FAIL, "cannot write output: %s", strerror(errno));
	free(text);
	json_decref(root);
	return rc;
}

/* Prints obj on one line and releases it: the streams of stats --watch
 * and trace, one object per sample or event. */
void emit_json_line(json_t *obj)
{
	json_dumpf(obj, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(obj);
}
