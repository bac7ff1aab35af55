/*
 * tests/util/tu_assert.h - ordering assertions that print both values.
 *
 * cmocka has typed equality asserts (assert_int_equal, assert_ptr_equal,
 * ...) but nothing for a < b; assert_true(a < b) prints only "a < b".
 * tu_assert_lt/le/gt/ge (and tu_assert_eq/ne, for floating point, which
 * cmocka's integer asserts would truncate) print the expression and both
 * values, each in its own type (signed, unsigned or floating point).
 *
 * Each operand is evaluated exactly once.  Integers compare by value, as
 * mathematics does (a negative signed value is below every unsigned one);
 * that is what C does for every comparison that -Wsign-compare accepts.
 * If either side is floating point both compare as long double.
 *
 * Tests only; needs nothing but cmocka, so simulator-only tests use it too.
 */
#ifndef DMAMAP_TU_ASSERT_H
#define DMAMAP_TU_ASSERT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

struct tu_val {
	enum { TU_VAL_S, TU_VAL_U, TU_VAL_F } kind;
	intmax_t s;
	uintmax_t u;
	long double f;
};

static inline struct tu_val tu_val_s(intmax_t v)
{
	return (struct tu_val){ .kind = TU_VAL_S, .s = v };
}

static inline struct tu_val tu_val_u(uintmax_t v)
{
	return (struct tu_val){ .kind = TU_VAL_U, .u = v };
}

/* Plain char is signed or not by platform. */
static inline struct tu_val tu_val_c(char v)
{
	return (char)-1 < 0 ? tu_val_s(v) : tu_val_u((unsigned char)v);
}

static inline struct tu_val tu_val_f(long double v)
{
	return (struct tu_val){ .kind = TU_VAL_F, .f = v };
}

/* An integer or floating-point value with its kind; anything else
 * (a pointer, a struct) does not compile. */
#define TU_VAL(x) _Generic((x),						\
	float: tu_val_f, double: tu_val_f, long double: tu_val_f,	\
	char: tu_val_c, signed char: tu_val_s, short: tu_val_s, int: tu_val_s,		\
	long: tu_val_s, long long: tu_val_s,				\
	default: tu_val_u)(x)

enum tu_op { TU_LT, TU_LE, TU_GT, TU_GE, TU_EQ, TU_NE };

/* Fails the test (cmocka's fail_msg) with "expr (a vs b)" when
 * a op b does not hold. */
void tu_assert_cmp(struct tu_val a, enum tu_op op, struct tu_val b,
		   const char *expr, const char *file, int line);

#define TU_ASSERT_CMP(a, op, b, text)					\
	tu_assert_cmp(TU_VAL(a), op, TU_VAL(b), text, __FILE__, __LINE__)

#define tu_assert_lt(a, b) TU_ASSERT_CMP(a, TU_LT, b, #a " < " #b)
#define tu_assert_le(a, b) TU_ASSERT_CMP(a, TU_LE, b, #a " <= " #b)
#define tu_assert_gt(a, b) TU_ASSERT_CMP(a, TU_GT, b, #a " > " #b)
#define tu_assert_ge(a, b) TU_ASSERT_CMP(a, TU_GE, b, #a " >= " #b)
#define tu_assert_eq(a, b) TU_ASSERT_CMP(a, TU_EQ, b, #a " == " #b)
#define tu_assert_ne(a, b) TU_ASSERT_CMP(a, TU_NE, b, #a " != " #b)

#endif
