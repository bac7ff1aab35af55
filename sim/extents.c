/*
 * sim/extents.c - sorted lists of physical intervals.
 *
 * Owns: the interval arithmetic shared by the page allocator (free and
 * reserved memory) and the cache model (uncached ranges).  Holds no lock:
 * the owner of each list guards it.  Must never know what the intervals
 * mean, and never decides DMA policy.
 *
 * Invariant of every list: extents are sorted by base, each is non-empty
 * (base < end), and consecutive extents are neither overlapping nor
 * adjacent (a.end < b.base) - additions merge.  So a lookup is one binary
 * search and a list never holds two ways to say the same thing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

size_t simi_ext_find(const struct simi_extents *x, uint64_t addr)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->v[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

bool simi_ext_intersects(const struct simi_extents *x, uint64_t base,
			 uint64_t end)
{
	size_t i = simi_ext_find(x, base);
	return i < x->n && x->v[i].base < end;
}

bool simi_ext_contains(const struct simi_extents *x, uint64_t base,
		       uint64_t end)
{
	size_t i = simi_ext_find(x, base);
	return i < x->n && x->v[i].base <= base && x->v[i].end >= end;
}

/* Room for `more` additional extents; 0 or -ENOMEM. */
static int ext_reserve(struct simi_extents *x, size_t more)
{
	if (x->n + more <= x->cap)
		return 0;
	size_t cap = x->cap ? x->cap : 16;
	while (cap < x->n + more)
		cap *= 2;
	struct simi_extent *v = realloc(x->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	x->v = v;
	x->cap = cap;
	return 0;
}

int simi_ext_add(struct simi_extents *x, uint64_t base, uint64_t end)
{
	if (base >= end)
		return 0;
	/* First extent that overlaps or touches [base, end): its end >= base. */
	size_t i = base ? simi_ext_find(x, base - 1) : 0;
	/* Extents i .. j-1 overlap or touch the new one: merge them. */
	size_t j = i;
	while (j < x->n && x->v[j].base <= end)
		j++;
	if (j == i) {
		if (ext_reserve(x, 1))
			return -ENOMEM;
		memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof(x->v[0]));
		x->v[i] = (struct simi_extent){ base, end };
		x->n++;
		return 0;
	}
	if (x->v[i].base < base)
		base = x->v[i].base;
	if (x->v[j - 1].end > end)
		end = x->v[j - 1].end;
	x->v[i] = (struct simi_extent){ base, end };
	memmove(&x->v[i + 1], &x->v[j], (x->n - j) * sizeof(x->v[0]));
	x->n -= j - i - 1;
	return 0;
}

int simi_ext_remove(struct simi_extents *x, uint64_t base, uint64_t end)
{
	if (base >= end)
		return 0;
	size_t i = simi_ext_find(x, base);
	if (i == x->n || x->v[i].base >= end)
		return 0;
	/* The only case that grows the list: a hole punched inside one extent. */
	if (x->v[i].base < base && x->v[i].end > end) {
		if (ext_reserve(x, 1))
			return -ENOMEM;
		memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof(x->v[0]));
		x->n++;
		x->v[i].end = base;
		x->v[i + 1].base = end;
		return 0;
	}
	/* Trim the head extent, drop those fully covered, trim the tail one. */
	if (x->v[i].base < base) {
		x->v[i].end = base;
		i++;
	}
	size_t j = i;
	while (j < x->n && x->v[j].end <= end)
		j++;
	if (j < x->n && x->v[j].base < end)
		x->v[j].base = end;
	memmove(&x->v[i], &x->v[j], (x->n - j) * sizeof(x->v[0]));
	x->n -= j - i;
	return 0;
}

void simi_ext_free(struct simi_extents *x)
{
	free(x->v);
	x->v = NULL;
	x->n = x->cap = 0;
}
