// SPDX-License-Identifier: GPL-2.0
#include "table.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static void widen_to_cells(size_t *width, size_t ncols, char cells[][XLB_CELL_LEN])
{
	for (size_t c = 0; c < ncols; c++) {
		size_t len = strnlen(cells[c], XLB_CELL_LEN);

		if (len > width[c])
			width[c] = len;
	}
}

/* Empties the cells a row fills. Resetting only the first byte (not the
 * whole XLB_CELL_LEN) keeps a quarter-million-row flow table cheap; a
 * filler that writes nothing leaves an empty cell. */
static void clear_cells(size_t ncols, char cells[][XLB_CELL_LEN])
{
	for (size_t c = 0; c < ncols; c++)
		cells[c][0] = '\0';
}

static void measure_columns(const struct xlb_table_col *cols, size_t ncols, size_t nrows,
			    xlb_table_row_fn fill_row, void *ctx, size_t *width)
{
	char cells[XLB_TABLE_MAX_COLS][XLB_CELL_LEN];

	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(cols[c].header);
	for (size_t r = 0; r < nrows; r++) {
		clear_cells(ncols, cells);
		fill_row(ctx, r, cells);
		widen_to_cells(width, ncols, cells);
	}
}

/* The last column is not padded when left-aligned: no trailing blanks for
 * diff or grep to trip over. */
static void print_line(FILE *out, const struct xlb_table_col *cols, size_t ncols,
		       const size_t *width, char cells[][XLB_CELL_LEN])
{
	for (size_t c = 0; c < ncols; c++) {
		int w = (int)width[c];
		bool last = c + 1 == ncols;

		if (c > 0)
			fputs("  ", out);
		if (cols[c].align == XLB_ALIGN_RIGHT)
			fprintf(out, "%*.*s", w, XLB_CELL_LEN, cells[c]);
		else if (last)
			fprintf(out, "%.*s", XLB_CELL_LEN, cells[c]);
		else
			fprintf(out, "%-*.*s", w, XLB_CELL_LEN, cells[c]);
	}
	fputc('\n', out);
}

static void print_header(FILE *out, const struct xlb_table_col *cols, size_t ncols,
			 const size_t *width)
{
	char cells[XLB_TABLE_MAX_COLS][XLB_CELL_LEN];

	for (size_t c = 0; c < ncols; c++)
		snprintf(cells[c], XLB_CELL_LEN, "%s", cols[c].header);
	print_line(out, cols, ncols, width, cells);
}

int xlb_table_print(FILE *out, const struct xlb_table_col *cols, size_t ncols, size_t nrows,
		    xlb_table_row_fn fill_row, void *ctx)
{
	char cells[XLB_TABLE_MAX_COLS][XLB_CELL_LEN];
	size_t width[XLB_TABLE_MAX_COLS];

	if (ncols == 0 || ncols > XLB_TABLE_MAX_COLS)
		return -EINVAL;
	measure_columns(cols, ncols, nrows, fill_row, ctx, width);
	print_header(out, cols, ncols, width);
	for (size_t r = 0; r < nrows; r++) {
		clear_cells(ncols, cells);
		fill_row(ctx, r, cells);
		print_line(out, cols, ncols, width, cells);
	}
	return ferror(out) ? -EIO : 0;
}
