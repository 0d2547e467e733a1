/* SPDX-License-Identifier: GPL-2.0 */
/* Plain aligned text tables for xlbctl: one header row, then columns as
 * wide as their widest cell, separated by two spaces. Raw integers, no
 * units, so `awk '{print $3}'` keeps working. */
#ifndef XLB_TABLE_H
#define XLB_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* Longest cell: a service name (63), a formatted endpoint (63), or a
 * list of host names (each up to 253), which xlbctl cuts to fit and ends
 * with ",+N" for the N names left out. Cells live on the stack, one row
 * at a time. */
#define XLB_CELL_LEN 512
/* The widest table: a proxy listener's address, kind and 11 counters. */
#define XLB_TABLE_MAX_COLS 16

enum xlb_align { XLB_ALIGN_LEFT, XLB_ALIGN_RIGHT };

struct xlb_table_col {
	const char *header;
	enum xlb_align align; /* numbers right, text left */
};

/* Fills cells[0..ncols-1] for row `row`. Called twice per row (once to
 * measure, once to print) so a table of a quarter million flows never
 * holds its cells in memory; it must give the same text both times. */
typedef void (*xlb_table_row_fn)(void *ctx, size_t row, char cells[][XLB_CELL_LEN]);

/* Prints the header and nrows rows. Returns 0, or -EINVAL when ncols is
 * 0 or above XLB_TABLE_MAX_COLS, or -EIO when writing fails. */
int xlb_table_print(FILE *out, const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		    xlb_table_row_fn fill_row, void *ctx);

#endif
