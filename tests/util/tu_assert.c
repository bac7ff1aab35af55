/*
 * tests/util/tu_assert.c - the failure half of tu_assert.h's ordering
 * assertions: compare two typed values, print both on failure.
 */
#include "tu_assert.h"

#include <stdio.h>

static long double tu_val_ld(struct tu_val v)
{
	if (v.kind == TU_VAL_F)
		return v.f;
	return v.kind == TU_VAL_S ? (long double)v.s : (long double)v.u;
}

/* -1, 0, 1 as a is below, equal to or above b; 2 if unordered (NaN). */
static int tu_val_order(struct tu_val a, struct tu_val b)
{
	if (a.kind == TU_VAL_F || b.kind == TU_VAL_F) {
		long double x = tu_val_ld(a), y = tu_val_ld(b);

		if (x != x || y != y)
			return 2;
		return x < y ? -1 : x > y;
	}
	if (a.kind == TU_VAL_S && b.kind == TU_VAL_S)
		return a.s < b.s ? -1 : a.s > b.s;
	if (a.kind == TU_VAL_S && a.s < 0)
		return -1;
	if (b.kind == TU_VAL_S && b.s < 0)
		return 1;
	uintmax_t x = a.kind == TU_VAL_S ? (uintmax_t)a.s : a.u;
	uintmax_t y = b.kind == TU_VAL_S ? (uintmax_t)b.s : b.u;

	return x < y ? -1 : x > y;
}

static void tu_val_print(char *buf, size_t len, struct tu_val v)
{
	switch (v.kind) {
	case TU_VAL_S:
		snprintf(buf, len, "%jd", v.s);
		break;
	case TU_VAL_U:
		if (v.u > 9)
			snprintf(buf, len, "%ju (%#jx)", v.u, v.u);
		else
			snprintf(buf, len, "%ju", v.u);
		break;
	case TU_VAL_F:
		snprintf(buf, len, "%.17Lg", v.f);
		break;
	}
}

void tu_assert_cmp(struct tu_val a, enum tu_op op, struct tu_val b,
		   const char *expr, const char *file, int line)
{
	int o = tu_val_order(a, b);
	int ok = 0;

	switch (op) {
	case TU_LT: ok = o == -1; break;
	case TU_LE: ok = o == -1 || o == 0; break;
	case TU_GT: ok = o == 1; break;
	case TU_GE: ok = o == 1 || o == 0; break;
	case TU_EQ: ok = o == 0; break;
	case TU_NE: ok = o != 0; break;
	}
	if (ok)
		return;
	char x[64], y[64];

	tu_val_print(x, sizeof(x), a);
	tu_val_print(y, sizeof(y), b);
	print_error("%s: %s vs %s\n", expr, x, y);
	_fail(file, line);
}
