/*
 * tests/sim/test_sim.c - the machine simulator on its own (sim.h only).
 *
 * Owns: proofs that the hardware model does what hardware does: sparse
 * memory, zones and the page allocator, DMA engines (truncation, bus
 * errors, dma-ranges), the non-coherent cache model, events and counters.
 * Never touches the library (src/); every assertion is an exact byte or
 * counter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/sim/sim.h>
#include "testutil.h"

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)
#define PAGE 4096ULL

/* ---- helpers -------------------------------------------------------------- */

/* RAM 0-2 GiB and 4-8 GiB: both zones below 4 GiB and one above, a hole. */
static struct sim_machine *std_machine(void)
{
	struct sim_machine_desc d = { .arch = DMAMAP_ARCH_X86, .ncpus = 2 };
	d.ram[d.nram++] = (struct sim_ram_range){ 0, 2 * GIB };
	d.ram[d.nram++] = (struct sim_ram_range){ 4 * GIB, 4 * GIB };
	struct sim_machine *m = NULL;
	const char *why = "unset";
	assert_int_equal(sim_machine_create(&d, &m, &why), 0);
	assert_null(why);
	assert_non_null(m);
	return m;
}

static struct sim_machine *one_range_machine(uint64_t size, uint64_t dma_limit)
{
	struct sim_machine_desc d = { .arch = DMAMAP_ARCH_ARM64,
				      .zone_dma_limit = dma_limit };
	d.ram[d.nram++] = (struct sim_ram_range){ 0, size };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	return m;
}

static void clean(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	const struct dmamap_platform *p = sim_platform(m);
	p->ops->cache_clean(p->priv, phys, size);
}

static void inval(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	const struct dmamap_platform *p = sim_platform(m);
	p->ops->cache_invalidate(p->priv, phys, size);
}

static void uncached(struct sim_machine *m, uint64_t phys, uint64_t size,
		     bool on)
{
	const struct dmamap_platform *p = sim_platform(m);
	p->ops->set_uncached(p->priv, phys, size, on);
}

static struct sim_cache_stats cstats(struct sim_machine *m)
{
	struct sim_cache_stats st;
	memset(&st, 0xa5, sizeof(st));
	sim_cache_get_stats(m, &st);
	return st;
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

static bool all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---- memory ------------------------------------------------------------------ */

static void test_sparse_machine(void **state)
{
	(void)state;
	struct sim_machine_desc d = { .arch = DMAMAP_ARCH_ARM64, .ncpus = 8 };
	d.ram[d.nram++] = (struct sim_ram_range){ 0, 2 * GIB };
	d.ram[d.nram++] = (struct sim_ram_range){ 4 * GIB, 4 * GIB };
	d.ram[d.nram++] = (struct sim_ram_range){ 16 * TIB, 1 * TIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);

	uint64_t r0 = sim_resident_bytes(m);
	tu_assert_lt(r0, 4 * MIB);
	/* Touch both ends of every range. */
	uint64_t spots[] = { 0, 2 * GIB - 1, 4 * GIB, 8 * GIB - 1, 16 * TIB,
			     17 * TIB - 1 };
	for (unsigned int i = 0; i < 6; i++)
		*tu_sim_cpu(m, spots[i]) = (uint8_t)(0x10 + i);
	for (unsigned int i = 0; i < 6; i++) {
		assert_int_equal(*tu_sim_cpu(m, spots[i]), 0x10 + i);
		uint64_t back = 0;
		assert_int_equal(sim_cpu_to_phys(m, tu_sim_cpu(m, spots[i]), &back), 0);
		assert_int_equal(back, spots[i]);
	}
	uint64_t r1 = sim_resident_bytes(m);
	tu_assert_ge(r1, r0 + 6 * PAGE);
	tu_assert_lt(r1, 16 * MIB); /* a few MiB at most, for 1 TiB + 6 GiB */

	/* Holes. */
	assert_null(sim_phys_to_cpu(m, 2 * GIB));
	assert_null(sim_phys_to_cpu(m, 3 * GIB));
	assert_null(sim_phys_to_cpu(m, 8 * GIB));
	assert_null(sim_phys_to_cpu(m, 17 * TIB));
	assert_null(sim_phys_to_cpu(m, 1ULL << 48));
	assert_true(sim_is_ram(m, 0, 2 * GIB));
	assert_false(sim_is_ram(m, 0, 2 * GIB + 1));
	assert_false(sim_is_ram(m, 2 * GIB - 4, 8));
	assert_true(sim_is_ram(m, 16 * TIB + 5, 100));
	assert_false(sim_is_ram(m, ~0ULL - 4, 8)); /* wraps */
	int local = 0;
	uint64_t ph = 1;
	assert_int_equal(sim_cpu_to_phys(m, &local, &ph), -EFAULT);

	/* The platform's facts. */
	const struct dmamap_platform *p = sim_platform(m);
	assert_ptr_equal(p->priv, m);
	assert_int_equal(p->arch, DMAMAP_ARCH_ARM64);
	assert_int_equal(p->ncpus, 8);
	assert_int_equal(p->max_ram_end, 17 * TIB - 1);
	assert_int_equal(p->total_ram, 6 * GIB + TIB);
	assert_int_equal(p->zone_dma_limit, 16 * MIB - 1);
	assert_int_equal(p->nlinear, 3);
	assert_ptr_equal(p->linear[2].cpu, tu_sim_cpu(m, 16 * TIB));
	assert_int_equal(p->linear[2].phys, 16 * TIB);
	assert_int_equal(p->linear[2].size, TIB);
	assert_int_equal(p->linear[1].phys, 4 * GIB);
	assert_int_equal(p->linear[1].size, 4 * GIB);
	assert_null(p->ops->hv);
	assert_null(p->ops->iommu);
	assert_ptr_equal(p->ops->phys_to_virt(p->priv, 4 * GIB + 3),
			 tu_sim_cpu(m, 4 * GIB) + 3);
	assert_int_equal(p->ops->virt_to_phys(p->priv, tu_sim_cpu(m, 7), &ph), 0);
	assert_int_equal(ph, 7);
	assert_true(p->ops->phys_is_ram(p->priv, 4 * GIB, PAGE));
	assert_false(p->ops->phys_is_ram(p->priv, 3 * GIB, PAGE));
	sim_machine_destroy(m);
}

static void expect_bad(const struct sim_machine_desc *d, const char *needle)
{
	struct sim_machine *m = (struct sim_machine *)&m; /* poison */
	const char *why = NULL;
	assert_int_equal(sim_machine_create(d, &m, &why), -EINVAL);
	assert_null(m);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("why '%s' does not mention '%s'", why, needle);
}

static void test_bad_descs(void **state)
{
	(void)state;
	struct sim_machine_desc d = { 0 };
	expect_bad(&d, "no RAM");
	d.nram = SIM_MAX_RAM_RANGES + 1;
	expect_bad(&d, "more than");

	memset(&d, 0, sizeof(d));
	d.nram = 1;
	d.ram[0] = (struct sim_ram_range){ 0, 0 };
	expect_bad(&d, "size 0");
	d.ram[0] = (struct sim_ram_range){ 100, PAGE };
	expect_bad(&d, "aligned");
	d.ram[0] = (struct sim_ram_range){ 0, PAGE + 1 };
	expect_bad(&d, "aligned");
	d.ram[0] = (struct sim_ram_range){ (1ULL << 48) - PAGE, 2 * PAGE };
	expect_bad(&d, "2^48");
	d.ram[0] = (struct sim_ram_range){ 1ULL << 48, PAGE };
	expect_bad(&d, "2^48");
	d.ram[0] = (struct sim_ram_range){ PAGE, ~0ULL & ~(PAGE - 1) };
	expect_bad(&d, "2^48"); /* base + size wraps */

	d.nram = 2;
	d.ram[0] = (struct sim_ram_range){ 0, 2 * MIB };
	d.ram[1] = (struct sim_ram_range){ 1 * MIB, 2 * MIB };
	expect_bad(&d, "overlapping");
	d.ram[0] = (struct sim_ram_range){ 4 * MIB, 2 * MIB };
	d.ram[1] = (struct sim_ram_range){ 0, 2 * MIB };
	expect_bad(&d, "unsorted");

	d.ram[0] = (struct sim_ram_range){ 0, 2 * MIB };
	d.ram[1] = (struct sim_ram_range){ 4 * MIB, 2 * MIB };
	d.zone_dma_limit = 1000;
	expect_bad(&d, "zone_dma_limit");

	/* Touching ranges are fine and become one linear range. */
	d.zone_dma_limit = 0;
	d.ram[1] = (struct sim_ram_range){ 2 * MIB, 2 * MIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	const struct dmamap_platform *p = sim_platform(m);
	assert_int_equal(p->nlinear, 1);
	assert_int_equal(p->linear[0].size, 4 * MIB);
	assert_int_equal(p->ncpus, 1); /* 0 means 1 */
	/* An allocation may span the seam: it is contiguous in the CPU view. */
	uint64_t ph;
	assert_int_equal(sim_alloc_pages(m, 1024, 1, 0, ~0ULL, &ph), 0);
	assert_int_equal(ph, 0);
	sim_machine_destroy(m);

	/* The very top of the modelled space is fine. */
	struct sim_machine_desc top = { .nram = 1 };
	top.ram[0] = (struct sim_ram_range){ (1ULL << 48) - GIB, GIB };
	assert_int_equal(sim_machine_create(&top, &m, NULL), 0);
	*tu_sim_cpu(m, (1ULL << 48) - 1) = 0x42;
	assert_int_equal(sim_platform(m)->max_ram_end, (1ULL << 48) - 1);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), (1ULL << 48) - GIB);
	sim_machine_destroy(m);

	assert_int_equal(sim_machine_create(&d, NULL, NULL), -EINVAL);
	m = (struct sim_machine *)&m;
	assert_int_equal(sim_machine_create(NULL, &m, NULL), -EINVAL);
	assert_null(m);
}

/* ---- page allocator ----------------------------------------------------------- */

static void test_zones(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	assert_int_equal(sim_zone_end(m, SIM_ZONE_DMA), 16 * MIB - 1);
	assert_int_equal(sim_zone_end(m, SIM_ZONE_DMA32), 4 * GIB - 1);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA), 16 * MIB);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), 2 * GIB - 16 * MIB);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL), 4 * GIB);

	uint64_t p;
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA, 2, &p), 0);
	assert_int_equal(p, 0);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA32, 2, &p), 0);
	assert_int_equal(p, 16 * MIB);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_NORMAL, 2, &p), 0);
	assert_int_equal(p, 4 * GIB);
	/* Highest zone the range allows, lowest address in it. */
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), 4 * GIB + 2 * PAGE);
	assert_int_equal(tu_sim_alloc(m, 1, 0, 4 * GIB - 1), 16 * MIB + 2 * PAGE);
	assert_int_equal(tu_sim_alloc(m, 1, 0, 16 * MIB - 1), 2 * PAGE);
	/* lo / hi are honoured inside a zone, hi inclusive. */
	assert_int_equal(tu_sim_alloc(m, 1, 1 * GIB, 4 * GIB - 1), 1 * GIB);
	assert_int_equal(tu_sim_alloc(m, 2, 0, 2 * GIB - 1), 16 * MIB + 3 * PAGE);
	assert_int_equal(tu_sim_alloc(m, 1, 6 * GIB, 6 * GIB + PAGE - 1), 6 * GIB);
	assert_int_equal(sim_alloc_pages(m, 2, 1, 7 * GIB, 7 * GIB + PAGE, &p),
			 -ENOMEM); /* 2 pages do not fit in 4 KiB + 1 */
	assert_int_equal(sim_alloc_pages(m, 1, 1, 2 * GIB, 4 * GIB - 1, &p),
			 -ENOMEM); /* the hole */
	/* Nothing straddles a zone boundary. */
	assert_int_equal(tu_sim_alloc(m, 2, 16 * MIB - PAGE, ~0ULL), 4 * GIB + 3 * PAGE);
	assert_int_equal(tu_sim_alloc(m, 2, 16 * MIB - PAGE, 4 * GIB - 1),
			 16 * MIB + 5 * PAGE);
	assert_int_equal(sim_alloc_pages(m, 2, 1, 16 * MIB - PAGE,
					 16 * MIB + PAGE - 1, &p),
			 -ENOMEM);
	/* Bad arguments. */
	assert_int_equal(sim_alloc_pages(m, 0, 1, 0, ~0ULL, &p), -EINVAL);
	assert_int_equal(sim_alloc_pages(m, 1, 3, 0, ~0ULL, &p), -EINVAL);
	assert_int_equal(sim_alloc_pages(m, 1, 1, 5, 4, &p), -EINVAL);
	assert_int_equal(sim_alloc_pages(m, 1ULL << 40, 1, 0, ~0ULL, &p),
			 -ENOMEM);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_NR_ZONES, 1, &p), -EINVAL);
	sim_machine_destroy(m);
}

static void test_fallback(void **state)
{
	(void)state;
	/* 64 MiB of RAM: no NORMAL zone, 48 MiB of DMA32, 16 MiB of DMA. */
	struct sim_machine *m = one_range_machine(64 * MIB, 0);
	uint64_t p;
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_NORMAL, 1, &p), -ENOMEM);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), 16 * MIB);
	sim_free_pages(m, 16 * MIB, 1);
	/* Exhaust DMA32 in one block; then DMA is next; then nothing. */
	assert_int_equal(tu_sim_alloc(m, 48 * MIB / PAGE, 0, ~0ULL), 16 * MIB);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), 0);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), 0);
	assert_int_equal(tu_sim_alloc(m, 4095, 0, ~0ULL), PAGE);
	assert_int_equal(sim_alloc_pages(m, 1, 1, 0, ~0ULL, &p), -ENOMEM);
	assert_int_equal(sim_alloc_pages(m, 1, 1, 4 * GIB, ~0ULL, &p), -ENOMEM);
	sim_machine_destroy(m);

	/* arm64 with a 30-bit ZONE_DMA (a Raspberry Pi 4). */
	m = one_range_machine(2 * GIB, 1 * GIB - 1);
	assert_int_equal(sim_zone_end(m, SIM_ZONE_DMA), 1 * GIB - 1);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA), 1 * GIB);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), 1 * GIB);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), 1 * GIB);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA, 1, &p), 0);
	assert_int_equal(p, 0);
	sim_machine_destroy(m);

	/* A 32-bit ZONE_DMA leaves DMA32 empty. */
	m = one_range_machine(8 * GIB, 4 * GIB - 1);
	assert_int_equal(sim_zone_end(m, SIM_ZONE_DMA32), 4 * GIB - 1);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), 0);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA), 4 * GIB);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA32, 1, &p), -ENOMEM);
	assert_int_equal(tu_sim_alloc(m, 1, 0, 4 * GIB - 1), 0);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), 4 * GIB);
	sim_machine_destroy(m);
}

static void test_alignment(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	uint64_t p;
	assert_int_equal(tu_sim_alloc(m, 1, 4 * GIB, ~0ULL), 4 * GIB);
	assert_int_equal(sim_alloc_pages(m, 1, 512, 0, ~0ULL, &p), 0);
	assert_int_equal(p, 4 * GIB + 2 * MIB);
	assert_int_equal(sim_alloc_pages(m, 16, 16, 0, ~0ULL, &p), 0);
	assert_int_equal(p, 4 * GIB + 16 * PAGE);
	/* The gaps the aligned ones left are still found, lowest first. */
	assert_int_equal(sim_alloc_pages(m, 1, 0, 0, ~0ULL, &p), 0);
	assert_int_equal(p, 4 * GIB + PAGE);
	assert_int_equal(sim_alloc_pages(m, 15, 1, 0, ~0ULL, &p), 0);
	assert_int_equal(p, 4 * GIB + 32 * PAGE); /* 2..15 is 14 pages: too small */
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL),
			 4 * GIB - (1 + 1 + 16 + 1 + 15) * PAGE);
	/* Alignment against a window start that is not aligned. */
	assert_int_equal(sim_alloc_pages(m, 1, 1024, 5 * GIB + PAGE, ~0ULL, &p), 0);
	assert_int_equal(p, 5 * GIB + 4 * MIB);
	/* 1 GiB alignment inside DMA32: only 1 GiB itself qualifies. */
	assert_int_equal(sim_alloc_pages(m, 1, 1ULL << 18, 0, 4 * GIB - 1, &p), 0);
	assert_int_equal(p, 1 * GIB);
	assert_int_equal(sim_alloc_pages(m, 1, 1ULL << 18, 16 * MIB,
					 2 * GIB - 1, &p), -ENOMEM);
	sim_machine_destroy(m);
}

static void test_coalescing(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	enum { N = 4096 }; /* every page of ZONE_DMA */
	uint64_t *pg = malloc(N * sizeof(*pg));
	assert_non_null(pg);
	for (unsigned int i = 0; i < N; i++) {
		assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA, 1, &pg[i]), 0);
		assert_int_equal(pg[i], i * PAGE);
	}
	uint64_t p;
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA, 1, &p), -ENOMEM);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA), 0);
	/* Free in a scrambled order (odd stride): every merge case happens. */
	for (unsigned int i = 0; i < N; i++)
		sim_free_pages(m, pg[(i * 1237u) % N], 1);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA), 16 * MIB);
	assert_int_equal(sim_alloc_pages_zone(m, SIM_ZONE_DMA, N, &p), 0);
	assert_int_equal(p, 0);
	sim_free_pages(m, 0, N);
	/* Freed next to the rest of DMA32: DMA32's first fit starts at 16 MiB. */
	assert_int_equal(tu_sim_alloc(m, N, 0, 4 * GIB - 1), 16 * MIB);
	free(pg);
	sim_machine_destroy(m);
}

static void test_bad_frees(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	uint64_t a = tu_sim_alloc(m, 4, 0, ~0ULL);
	uint64_t b = tu_sim_alloc(m, 4, 0, ~0ULL);
	assert_int_equal(a, 4 * GIB);
	assert_int_equal(b, 4 * GIB + 4 * PAGE);
	uint64_t free0 = sim_free_bytes(m, SIM_ZONE_NORMAL);
	sim_free_pages(m, a, 4);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL), free0 + 4 * PAGE);
	/* Double free, partially-free range, never-allocated, hole, unaligned. */
	sim_free_pages(m, a, 4);
	sim_free_pages(m, a + 2 * PAGE, 4); /* half free, half b */
	sim_free_pages(m, 6 * GIB, 1);
	sim_free_pages(m, 3 * GIB, 1);
	sim_free_pages(m, b + 1, 1);
	sim_free_pages(m, 2 * GIB - PAGE, 2); /* runs into the hole */
	sim_free_pages(m, b, 0);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL), free0 + 4 * PAGE);
	/* State is intact: a is reused whole, b is still allocated. */
	assert_int_equal(tu_sim_alloc(m, 4, 0, ~0ULL), a);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), b + 4 * PAGE);
	sim_free_pages(m, b, 4);
	assert_int_equal(tu_sim_alloc(m, 4, 0, ~0ULL), b);
	sim_machine_destroy(m);
}

static void test_reserve(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	uint64_t d32 = sim_free_bytes(m, SIM_ZONE_DMA32);
	assert_int_equal(sim_reserve(m, 1 * GIB, 16 * MIB), 0);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), d32 - 16 * MIB);
	uint64_t p;
	assert_int_equal(sim_alloc_pages(m, 1, 1, 1 * GIB, 1 * GIB + 16 * MIB - 1,
					 &p), -ENOMEM);
	assert_int_equal(sim_reserve(m, 1 * GIB + 8 * MIB, PAGE), -EBUSY);
	assert_int_equal(sim_reserve(m, 3 * GIB, MIB), -EINVAL);
	assert_int_equal(sim_reserve(m, 2 * GIB - PAGE, 2 * PAGE), -EINVAL);
	assert_int_equal(sim_reserve(m, 0, 0), -EINVAL);
	uint64_t a = tu_sim_alloc(m, 1, 0, ~0ULL);
	assert_int_equal(sim_reserve(m, a, PAGE), -EBUSY);
	assert_int_equal(sim_reserve(m, a - PAGE, 3 * PAGE), -EINVAL); /* 4G-4K: hole */
	assert_int_equal(sim_reserve(m, a + PAGE, 2 * PAGE), 0);
	assert_int_equal(sim_reserve(m, a, 2 * PAGE), -EBUSY);
	/* Unaligned: rounded outward to pages. */
	assert_int_equal(sim_reserve(m, a + 3 * PAGE + 10, 100), 0);
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), a + 4 * PAGE);
	/* Freeing reserved pages is ignored. */
	uint64_t n0 = sim_free_bytes(m, SIM_ZONE_NORMAL);
	sim_free_pages(m, a + PAGE, 1);
	sim_free_pages(m, 1 * GIB, 1);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL), n0);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_DMA32), d32 - 16 * MIB);
	sim_machine_destroy(m);
}

/*
 * The allocator against a page-state model that computes the exact answer
 * the contract promises (highest allowed zone first, lowest aligned fit in
 * it), for random sizes, alignments, windows, frees and bad frees.
 */
#define MODEL_RAM_END (24 * MIB) /* RAM [0, 8M) + [12M, 24M) + [4G, 4G+4M) */
enum { MODEL_LOW_PAGES = MODEL_RAM_END / PAGE, MODEL_PAGES = MODEL_LOW_PAGES + 1024 };

static int model_index(uint64_t phys)
{
	if (phys < 8 * MIB || (phys >= 12 * MIB && phys < MODEL_RAM_END))
		return (int)(phys / PAGE);
	if (phys >= 4 * GIB && phys < 4 * GIB + 4 * MIB)
		return MODEL_LOW_PAGES + (int)((phys - 4 * GIB) / PAGE);
	return -1;
}

static bool model_free_run(const bool *used, uint64_t s, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int k = model_index(s + i * PAGE);
		if (k < 0 || used[k])
			return false;
	}
	return true;
}

static uint64_t model_expect(const bool *used, uint64_t n, uint64_t align,
			     uint64_t lo, uint64_t hi)
{
	static const uint64_t zlo[3] = { 0, 4 * MIB, 4 * GIB };
	static const uint64_t zhi[3] = { 4 * MIB - 1, 4 * GIB - 1,
					 4 * GIB + 4 * MIB - 1 };
	for (int z = 2; z >= 0; z--) {
		uint64_t wlo = lo > zlo[z] ? lo : zlo[z];
		uint64_t whi = hi < zhi[z] ? hi : zhi[z];
		if (z == 1 && whi >= MODEL_RAM_END)
			whi = MODEL_RAM_END - 1; /* nothing above: saves time */
		uint64_t a = align * PAGE;
		for (uint64_t s = (wlo + a - 1) / a * a;
		     wlo <= whi && s <= whi && n * PAGE - 1 <= whi - s; s += a)
			if (model_free_run(used, s, n))
				return s;
	}
	return ~0ULL;
}

static void test_alloc_model(void **state)
{
	(void)state;
	struct sim_machine_desc d = { .zone_dma_limit = 4 * MIB - 1, .nram = 3 };
	d.ram[0] = (struct sim_ram_range){ 0, 8 * MIB };
	d.ram[1] = (struct sim_ram_range){ 12 * MIB, 12 * MIB };
	d.ram[2] = (struct sim_ram_range){ 4 * GIB, 4 * MIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	static bool used[MODEL_PAGES];
	struct { uint64_t phys, n; } live[512];
	unsigned int nlive = 0;
	uint32_t x = 2024;
	static const uint64_t bounds[] = { 0, 2 * MIB, 4 * MIB, 6 * MIB,
					   8 * MIB, 13 * MIB, 4 * GIB,
					   4 * GIB + MIB, ~0ULL };
	for (unsigned int it = 0; it < 6000; it++) {
		x = x * 1103515245u + 12345u;
		unsigned int r = x >> 16;
		if (nlive == 512 || (nlive && r % 5 < 2)) {
			unsigned int k = r % nlive;
			uint64_t fp = live[k].phys, fn = live[k].n;
			sim_free_pages(m, fp, fn);
			for (uint64_t i = 0; i < fn; i++)
				used[model_index(fp + i * PAGE)] = false;
			live[k] = live[--nlive];
			if (r % 7 == 0) /* and a double free, ignored */
				sim_free_pages(m, fp, fn);
			continue;
		}
		uint64_t n = 1 + r % 37 % 9;
		uint64_t align = 1ULL << (r / 9 % 4);
		uint64_t lo = bounds[(r / 50) % 8];
		uint64_t hi = bounds[(r / 400) % 9];
		if (hi != ~0ULL)
			hi -= 1;
		if (lo > hi)
			continue;
		uint64_t want = model_expect(used, n, align, lo, hi);
		uint64_t got = 0;
		int rc = sim_alloc_pages(m, n, align, lo, hi, &got);
		if (want == ~0ULL) {
			assert_int_equal(rc, -ENOMEM);
			continue;
		}
		assert_int_equal(rc, 0);
		if (got != want)
			fail_msg("alloc n=%lu align=%lu [%#lx, %#lx]: got %#lx want %#lx",
				 (unsigned long)n, (unsigned long)align,
				 (unsigned long)lo, (unsigned long)hi,
				 (unsigned long)got, (unsigned long)want);
		for (uint64_t i = 0; i < n; i++)
			used[model_index(got + i * PAGE)] = true;
		live[nlive].phys = got;
		live[nlive++].n = n;
	}
	uint64_t free_model[3] = { 0, 0, 0 };
	for (int k = 0; k < MODEL_PAGES; k++) {
		uint64_t phys = k < MODEL_LOW_PAGES ? (uint64_t)k * PAGE
			      : 4 * GIB + (uint64_t)(k - MODEL_LOW_PAGES) * PAGE;
		if (model_index(phys) >= 0 && !used[k])
			free_model[phys < 4 * MIB ? 0 : phys < 4 * GIB ? 1 : 2] += PAGE;
	}
	for (int z = 0; z < 3; z++)
		assert_int_equal(sim_free_bytes(m, (enum sim_zone)z), free_model[z]);
	sim_machine_destroy(m);
}

/* A million alloc/free pairs on a fragmented allocator leave it as it was. */
static void test_alloc_churn(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	/* Some fragmentation first, as a workload leaves behind. */
	uint64_t keep[64];
	for (unsigned int i = 0; i < 64; i++)
		keep[i] = tu_sim_alloc(m, 1 + i % 3, 0, ~0ULL);
	for (unsigned int i = 0; i < 64; i += 2)
		sim_free_pages(m, keep[i], 1 + i % 3);
	uint64_t before = sim_free_bytes(m, SIM_ZONE_NORMAL) + sim_free_bytes(m, SIM_ZONE_DMA32);
	uint64_t p = 0, q = 0;
	for (unsigned int i = 0; i < 1000000; i++) {
		if (sim_alloc_pages(m, 1, 1, 0, ~0ULL, &p) ||
		    sim_alloc_pages(m, 1, 1, 0, 4 * GIB - 1, &q))
			fail();
		sim_free_pages(m, p, 1);
		sim_free_pages(m, q, 1);
	}
	tu_assert_le(q, 4 * GIB - PAGE);
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL) + sim_free_bytes(m, SIM_ZONE_DMA32),
			 before);
	sim_machine_destroy(m);
}

/* ---- devices and the bus -------------------------------------------------------- */

static void test_coherent_dma(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "gpu", 64, true);
	uint64_t ph = tu_sim_alloc(m, 4, 4 * GIB, ~0ULL);
	uint8_t *c = tu_sim_cpu(m, ph);
	enum { LEN = 3 * 4096 + 77, OFF = 1001 };
	static uint8_t src[LEN], dst[LEN];
	fill(c + OFF, LEN, 3);
	assert_int_equal(sim_dma_read(dev, ph + OFF, dst, LEN), 0);
	assert_memory_equal(dst, c + OFF, LEN);
	fill(src, LEN, 99);
	assert_int_equal(sim_dma_write(dev, ph + OFF, src, LEN), 0);
	assert_memory_equal(c + OFF, src, LEN);
	assert_true(all_bytes(c, OFF, 0));
	assert_true(all_bytes(c + OFF + LEN, 4 * PAGE - OFF - LEN, 0));

	struct sim_device_stats st = tu_sim_dstats(dev);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.bytes_read, LEN);
	assert_int_equal(st.bytes_written, LEN);
	assert_int_equal(st.truncated, 0);
	assert_int_equal(st.bus_errors, 0);
	assert_int_equal(sim_dma_write(dev, ph, src, 0), 0); /* no-op */
	st = tu_sim_dstats(dev);
	assert_int_equal(st.writes, 1);
	struct sim_event ev[4];
	assert_int_equal(sim_device_events(dev, ev, 4), 0);
	/* Coherent traffic never enters the cache model. */
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.tracked_lines, 0);
	sim_machine_destroy(m);
}

static void test_truncation(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *nic = tu_sim_dev(m, "nic32", 32, true);
	uint8_t src[100], dst[100];
	fill(src, sizeof(src), 7);
	/* A 36-bit address (60 GiB: not even RAM) on a 32-bit engine. */
	uint64_t bus = 0xF00002010ULL;
	assert_int_equal(sim_dma_write(nic, bus, src, sizeof(src)), 0);
	assert_memory_equal(tu_sim_cpu(m, 0x2010), src, sizeof(src));
	/* 4 GiB + 0x3000 is RAM, yet the engine writes low memory. */
	assert_int_equal(sim_dma_write(nic, 4 * GIB + 0x3000, src, 10), 0);
	assert_memory_equal(tu_sim_cpu(m, 0x3000), src, 10);
	assert_true(all_bytes(tu_sim_cpu(m, 4 * GIB + 0x3000), 10, 0));
	assert_int_equal(sim_dma_read(nic, 0x100002010ULL, dst, sizeof(dst)), 0);
	assert_memory_equal(dst, src, sizeof(dst));
	/* In range: no event. */
	assert_int_equal(sim_dma_read(nic, 0x2010, dst, 1), 0);

	struct sim_event ev[8];
	assert_int_equal(sim_device_events(nic, ev, 8), 3);
	assert_int_equal(ev[0].kind, SIM_EV_TRUNCATED);
	assert_true(ev[0].write);
	assert_int_equal(ev[0].bus_addr, bus);
	assert_int_equal(ev[0].emitted, 0x2010);
	assert_int_equal(ev[0].len, 100);
	assert_int_equal(ev[1].bus_addr, 4 * GIB + 0x3000);
	assert_int_equal(ev[1].emitted, 0x3000);
	assert_false(ev[2].write);
	assert_int_equal(ev[2].emitted, 0x2010);
	assert_int_equal(ev[2].len, 100);
	struct sim_device_stats st = tu_sim_dstats(nic);
	assert_int_equal(st.truncated, 3);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.reads, 2);
	assert_int_equal(st.bytes_written, 110);
	assert_int_equal(st.bytes_read, 101);
	assert_int_equal(st.bus_errors, 0);

	/* Truncated into a hole: both events. */
	struct sim_device *d31 = tu_sim_dev(m, "dev31", 31, true);
	assert_int_equal(sim_dma_write(d31, 0x80000000ULL, src, 4), 0); /* -> 0 */
	assert_memory_equal(tu_sim_cpu(m, 0), src, 4);
	struct sim_device *d33 = tu_sim_dev(m, "dev33", 33, true);
	assert_int_equal(sim_dma_write(d33, 0x280000000ULL, src, 4), -EFAULT);
	assert_int_equal(sim_device_events(d33, ev, 8), 2);
	assert_int_equal(ev[0].kind, SIM_EV_TRUNCATED);
	assert_int_equal(ev[1].kind, SIM_EV_BUS_ERROR);
	assert_int_equal(ev[1].emitted, 0x80000000ULL);
	assert_int_equal(ev[1].bus_addr, 0x280000000ULL);
	sim_machine_destroy(m);
}

static void test_bus_error(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "dev", 64, true);
	uint8_t src[32], dst[32];
	fill(src, sizeof(src), 1);
	uint8_t *below = tu_sim_cpu(m, 2 * GIB - 16);
	memset(below, 0x5a, 16);
	/* Straddling RAM's end into the hole: nothing at all is written. */
	assert_int_equal(sim_dma_write(dev, 2 * GIB - 16, src, 32), -EFAULT);
	assert_true(all_bytes(below, 16, 0x5a));
	assert_int_equal(sim_dma_write(dev, 3 * GIB, src, 32), -EFAULT);
	memset(dst, 0, sizeof(dst));
	assert_int_equal(sim_dma_read(dev, 3 * GIB, dst, 32), -EFAULT);
	assert_true(all_bytes(dst, 32, 0xff));
	memset(dst, 0, sizeof(dst));
	assert_int_equal(sim_dma_read(dev, 2 * GIB - 16, dst, 32), -EFAULT);
	assert_true(all_bytes(dst, 32, 0xff));
	assert_int_equal(sim_dma_read(dev, ~0ULL - 7, dst, 16), -EFAULT); /* wraps */

	struct sim_device_stats st = tu_sim_dstats(dev);
	assert_int_equal(st.bus_errors, 5);
	assert_int_equal(st.reads, 0);
	assert_int_equal(st.writes, 0);
	assert_int_equal(st.bytes_read, 0);
	assert_int_equal(st.bytes_written, 0);
	struct sim_event ev[8];
	assert_int_equal(sim_device_events(dev, ev, 8), 5);
	assert_int_equal(ev[0].kind, SIM_EV_BUS_ERROR);
	assert_true(ev[0].write);
	assert_int_equal(ev[0].bus_addr, 2 * GIB - 16);
	assert_int_equal(ev[0].emitted, 2 * GIB - 16);
	assert_int_equal(ev[0].len, 32);
	assert_false(ev[2].write);
	assert_int_equal(ev[2].bus_addr, 3 * GIB);
	sim_machine_destroy(m);
}

static void test_dma_ranges(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device_desc d = {
		.name = "soc-dev", .bus = DMAMAP_BUS_PLATFORM, .addr_bits = 64,
		.coherent = true, .nranges = 2, .bus_dma_limit = 2 * GIB - 1,
	};
	/* Bus 0-1G reaches RAM at 4-5G; bus 1-2G reaches RAM at 0-1G. */
	d.ranges[0] = (struct dmamap_dma_range){ .cpu = 4 * GIB, .dma = 0,
						 .size = 1 * GIB };
	d.ranges[1] = (struct dmamap_dma_range){ .cpu = 0, .dma = 1 * GIB,
						 .size = 1 * GIB };
	struct sim_device *dev = NULL;
	assert_int_equal(sim_device_create(m, &d, &dev), 0);
	uint8_t src[64], dst[64];
	fill(src, sizeof(src), 42);
	assert_int_equal(sim_dma_write(dev, 0x1000, src, 64), 0);
	assert_memory_equal(tu_sim_cpu(m, 4 * GIB + 0x1000), src, 64);
	assert_true(all_bytes(tu_sim_cpu(m, 0x1000), 64, 0));
	assert_int_equal(sim_dma_write(dev, 1 * GIB + 0x2000, src, 64), 0);
	assert_memory_equal(tu_sim_cpu(m, 0x2000), src, 64);
	assert_int_equal(sim_dma_read(dev, 1 * GIB + 0x2000, dst, 64), 0);
	assert_memory_equal(dst, src, 64);
	/* Across the two windows (contiguous on the bus, not in RAM). */
	assert_int_equal(sim_dma_write(dev, 1 * GIB - 32, src, 64), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, 5 * GIB - 32), 32, 0));
	/* Past the bus limit, and outside every window. */
	assert_int_equal(sim_dma_read(dev, 2 * GIB, dst, 1), -EFAULT);
	assert_int_equal(sim_dma_read(dev, 2 * GIB - 32, dst, 64), -EFAULT);
	assert_int_equal(sim_dma_read(dev, 2 * GIB - 32, dst, 32), 0);
	assert_memory_equal(dst, tu_sim_cpu(m, 1 * GIB - 32), 32);
	struct sim_device_stats st = tu_sim_dstats(dev);
	assert_int_equal(st.bus_errors, 3);
	assert_int_equal(st.writes, 2);
	assert_int_equal(st.reads, 2);

	/* A bus limit with no windows: a 24-bit ISA-like path. */
	struct sim_device_desc isa = { .name = "isa", .addr_bits = 32,
				       .coherent = true,
				       .bus_dma_limit = 16 * MIB - 1 };
	struct sim_device *idev = NULL;
	assert_int_equal(sim_device_create(m, &isa, &idev), 0);
	assert_int_equal(sim_dma_write(idev, 16 * MIB - 16, src, 16), 0);
	assert_int_equal(sim_dma_write(idev, 16 * MIB - 8, src, 16), -EFAULT);
	assert_int_equal(sim_dma_write(idev, 16 * MIB, src, 1), -EFAULT);

	/* Firmware's view, and the description is a private copy. */
	struct dmamap_device_desc fw;
	memset(&fw, 0x77, sizeof(fw));
	sim_device_firmware_desc(dev, &fw);
	assert_string_equal(fw.name, "soc-dev");
	assert_int_equal(fw.bus, DMAMAP_BUS_PLATFORM);
	assert_true(fw.coherent);
	assert_int_equal(fw.nranges, 2);
	assert_int_equal(fw.ranges[0].cpu, 4 * GIB);
	assert_int_equal(fw.ranges[0].dma, 0);
	assert_int_equal(fw.ranges[0].size, GIB);
	assert_int_equal(fw.ranges[1].cpu, 0);
	assert_int_equal(fw.ranges[1].dma, GIB);
	assert_int_equal(fw.bus_dma_limit, 2 * GIB - 1);
	assert_null(fw.restricted_pool);
	assert_int_equal(fw.dma_mask, 0);
	assert_int_equal(fw.coherent_dma_mask, 0);
	char name[8] = "tmp";
	struct sim_device_desc t = { .name = name, .addr_bits = 40 };
	struct sim_device *tdev = NULL;
	assert_int_equal(sim_device_create(m, &t, &tdev), 0);
	name[0] = 'X';
	assert_string_equal(sim_device_desc(tdev)->name, "tmp");
	assert_int_equal(sim_device_desc(tdev)->addr_bits, 40);

	/* Bad device descriptions. */
	t.addr_bits = 0;
	assert_int_equal(sim_device_create(m, &t, &tdev), -EINVAL);
	t.addr_bits = 65;
	assert_int_equal(sim_device_create(m, &t, &tdev), -EINVAL);
	t.addr_bits = 32;
	t.nranges = DMAMAP_MAX_DMA_RANGES + 1;
	assert_int_equal(sim_device_create(m, &t, &tdev), -EINVAL);
	t.nranges = 1; /* a window of size 0 */
	assert_int_equal(sim_device_create(m, &t, &tdev), -EINVAL);
	sim_machine_destroy(m);
}

static void test_event_ring(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "dev", 64, true);
	uint8_t b[200];
	for (unsigned int i = 1; i <= 70; i++)
		assert_int_equal(sim_dma_read(dev, 3 * GIB, b, i), -EFAULT);
	struct sim_event ev[80];
	assert_int_equal(sim_device_events(dev, ev, 80), 64);
	for (unsigned int i = 0; i < 64; i++)
		assert_int_equal(ev[i].len, 7 + i); /* the newest 64, oldest first */
	assert_int_equal(sim_device_events(dev, ev, 3), 3);
	assert_int_equal(ev[0].len, 68);
	assert_int_equal(ev[2].len, 70);
	assert_int_equal(sim_device_events(dev, ev, 0), 0);
	assert_int_equal(tu_sim_dstats(dev).bus_errors, 70);
	sim_machine_destroy(m);
}

/* ---- the cache model ------------------------------------------------------------- */

static void test_cache_clean(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	uint64_t ph = tu_sim_alloc(m, 1, 0, ~0ULL);
	uint8_t *c = tu_sim_cpu(m, ph);
	uint8_t got[128];

	/* Never tracked: memory == CPU view. */
	memset(c, 0x11, 128);
	assert_int_equal(sim_dma_read(dev, ph, got, 128), 0);
	assert_true(all_bytes(got, 128, 0x11));
	assert_int_equal(cstats(m).tracked_lines, 0);

	clean(m, ph, 128);
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.lines_cleaned, 2);
	assert_int_equal(cs.tracked_lines, 2);
	/* The CPU writes without cleaning: the device reads the old bytes. */
	memset(c, 0x22, 128);
	assert_int_equal(sim_dma_read(dev, ph, got, 128), 0);
	assert_true(all_bytes(got, 128, 0x11));
	cs = cstats(m);
	assert_int_equal(cs.stale_device_reads, 2); /* one per line */
	/* A coherent device sees the CPU's bytes all the same. */
	struct sim_device *coh = tu_sim_dev(m, "coh", 64, true);
	assert_int_equal(sim_dma_read(coh, ph, got, 128), 0);
	assert_true(all_bytes(got, 128, 0x22));
	/* Clean one line only: that line is new, the other still old. */
	clean(m, ph + 64, 1);
	assert_int_equal(sim_dma_read(dev, ph, got, 128), 0);
	assert_true(all_bytes(got, 64, 0x11));
	assert_true(all_bytes(got + 64, 64, 0x22));
	clean(m, ph, 128);
	assert_int_equal(sim_dma_read(dev, ph, got, 128), 0);
	assert_true(all_bytes(got, 128, 0x22));
	cs = cstats(m);
	assert_int_equal(cs.lines_cleaned, 5);
	assert_int_equal(cs.tracked_lines, 2);
	assert_int_equal(cs.stale_device_reads, 3);
	assert_int_equal(cs.lines_invalidated, 0);

	/* A typical NIC frame: 1514 bytes at offset 2 touch 24 lines. */
	clean(m, ph + 2, 1514);
	cs = cstats(m);
	assert_int_equal(cs.lines_cleaned, 5 + 24);
	assert_int_equal(cs.tracked_lines, 24);
	sim_machine_destroy(m);
}

static void test_cache_invalidate(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	uint64_t ph = tu_sim_alloc(m, 2, 0, ~0ULL);
	uint8_t *c = tu_sim_cpu(m, ph);
	uint8_t src[256], got[256];
	memset(c, 0x33, 2 * PAGE);
	fill(src, sizeof(src), 9);

	/* A device write to an untracked line starts tracking it. */
	assert_int_equal(sim_dma_write(dev, ph + PAGE - 128, src, 256), 0);
	assert_true(all_bytes(c + PAGE - 128, 256, 0x33)); /* CPU: old */
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.tracked_lines, 4);
	/* The device reads back its own write (not a stale CPU read). */
	assert_int_equal(sim_dma_read(dev, ph + PAGE - 128, got, 256), 0);
	assert_memory_equal(got, src, 256);
	assert_int_equal(cstats(m).stale_device_reads, 0);

	inval(m, ph + PAGE - 128, 256);
	assert_memory_equal(c + PAGE - 128, src, 256);
	assert_true(all_bytes(c, PAGE - 128, 0x33));
	assert_true(all_bytes(c + PAGE + 128, PAGE - 128, 0x33));
	cs = cstats(m);
	assert_int_equal(cs.lines_invalidated, 4);
	assert_int_equal(cs.tracked_lines, 4);
	/* Invalidating untracked lines counts them and changes nothing. */
	inval(m, ph, 128);
	assert_int_equal(cstats(m).lines_invalidated, 6);
	assert_true(all_bytes(c, 128, 0x33));
	/* Still tracked after invalidate: a later CPU write is dirty again. */
	memset(c + PAGE - 128, 0x44, 64);
	assert_int_equal(sim_dma_read(dev, ph + PAGE - 128, got, 64), 0);
	assert_memory_equal(got, src, 64);
	assert_int_equal(cstats(m).stale_device_reads, 1);
	sim_machine_destroy(m);
}

static void test_cache_partial_line(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	uint64_t ph = tu_sim_alloc(m, 1, 0, ~0ULL);
	uint64_t line = ph + 5 * 64;
	uint8_t *c = tu_sim_cpu(m, line);
	uint8_t bb[64], got[64];
	memset(c, 0xaa, 64);
	clean(m, line, 64);                   /* memory: AA */
	memset(bb, 0xbb, 64);
	assert_int_equal(sim_dma_write(dev, line, bb, 64), 0); /* memory: BB */
	memset(c, 0xcc, 16);                  /* CPU data beside the buffer */
	inval(m, line + 16, 32);              /* the buffer is [16, 48) */
	assert_true(all_bytes(c, 16, 0xcc));  /* neighbour kept */
	assert_true(all_bytes(c + 16, 32, 0xbb));
	assert_true(all_bytes(c + 48, 16, 0xaa)); /* the CPU's, kept */
	/* The edges were cleaned: memory now holds the resulting line. */
	assert_int_equal(sim_dma_read(dev, line, got, 64), 0);
	assert_memory_equal(got, c, 64);
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.lines_cleaned, 1);
	assert_int_equal(cs.lines_invalidated, 1);
	assert_int_equal(cs.tracked_lines, 1);
	assert_int_equal(cs.stale_device_reads, 0);
	/* The neighbouring lines were never touched. */
	assert_true(all_bytes(tu_sim_cpu(m, line - 64), 64, 0));
	assert_true(all_bytes(tu_sim_cpu(m, line + 64), 64, 0));
	sim_machine_destroy(m);
}

static void test_cache_uncached(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	uint64_t ph = tu_sim_alloc(m, 2, 0, ~0ULL);
	uint8_t *c = tu_sim_cpu(m, ph);
	uint8_t src[64], got[64];
	clean(m, ph, 2 * PAGE);
	assert_int_equal(cstats(m).tracked_lines, 128);
	uncached(m, ph, PAGE, true);
	assert_int_equal(cstats(m).tracked_lines, 64);
	/* Uncached: CPU stores are memory; device stores are CPU-visible. */
	memset(c, 0x66, 64);
	assert_int_equal(sim_dma_read(dev, ph, got, 64), 0);
	assert_true(all_bytes(got, 64, 0x66));
	fill(src, 64, 5);
	assert_int_equal(sim_dma_write(dev, ph + 64, src, 64), 0);
	assert_memory_equal(c + 64, src, 64);
	clean(m, ph, PAGE); /* a no-op on uncached lines, though counted */
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.tracked_lines, 64);
	assert_int_equal(cs.stale_device_reads, 0);
	assert_int_equal(cs.lines_cleaned, 128 + 64);
	/* The cached page next door still behaves as cached. */
	memset(c + PAGE, 0x77, 64);
	assert_int_equal(sim_dma_read(dev, ph + PAGE, got, 64), 0);
	assert_true(all_bytes(got, 64, 0));
	/* Cached again: back to needing cleans. */
	uncached(m, ph, PAGE, false);
	clean(m, ph, 64);
	memset(c, 0x88, 64);
	assert_int_equal(sim_dma_read(dev, ph, got, 64), 0);
	assert_true(all_bytes(got, 64, 0x66));
	sim_machine_destroy(m);
}

static void test_cache_free_drops(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	uint64_t ph = tu_sim_alloc(m, 1, 0, ~0ULL);
	uint8_t *c = tu_sim_cpu(m, ph);
	uint8_t got[64];
	clean(m, ph, PAGE);
	assert_int_equal(cstats(m).tracked_lines, 64);
	uncached(m, ph + PAGE / 2, 64, true);
	assert_int_equal(cstats(m).tracked_lines, 63);
	sim_free_pages(m, ph, 1);
	assert_int_equal(cstats(m).tracked_lines, 0);
	/* Reused memory inherits nothing: untracked, cached. */
	assert_int_equal(tu_sim_alloc(m, 1, 0, ~0ULL), ph);
	memset(c, 0x99, PAGE);
	assert_int_equal(sim_dma_read(dev, ph, got, 64), 0);
	assert_true(all_bytes(got, 64, 0x99));
	clean(m, ph + PAGE / 2, 64);
	assert_int_equal(cstats(m).tracked_lines, 1); /* no longer uncached */
	/* A bad free drops nothing. */
	sim_free_pages(m, ph + PAGE, 1);
	assert_int_equal(cstats(m).tracked_lines, 1);

	/* Big free with few entries: the table is scanned, not the range. */
	uint64_t big = tu_sim_alloc(m, 8192, 0, ~0ULL);
	for (unsigned int i = 0; i < 8192; i += 700)
		clean(m, big + i * PAGE + 64, 100);
	assert_int_equal(cstats(m).tracked_lines, 1 + 12 * 2);
	sim_free_pages(m, big, 8192);
	assert_int_equal(cstats(m).tracked_lines, 1);
	/* Same, with a crowded table (probe runs collide during the scan). */
	big = tu_sim_alloc(m, 8192, 0, ~0ULL);
	uint32_t x = 777;
	unsigned int n = 0;
	for (unsigned int i = 0; i < 1500; i++) {
		x = x * 1103515245u + 12345u;
		uint64_t pa = big + (uint64_t)((x >> 8) % 8192) * PAGE;
		uint64_t before = cstats(m).tracked_lines;
		clean(m, pa, 1);
		n += cstats(m).tracked_lines != before;
	}
	tu_assert_gt(n, 1000);
	assert_int_equal(cstats(m).tracked_lines, 1 + n);
	sim_free_pages(m, big, 8192); /* 8192 pages > 4096 slots: a scan */
	assert_int_equal(cstats(m).tracked_lines, 1);
	/* Every entry left is gone from lookups too: reads see the CPU. */
	big = tu_sim_alloc(m, 1000, 0, ~0ULL);
	for (unsigned int i = 0; i < 1000; i++) {
		*tu_sim_cpu(m, big + i * PAGE) = 0x5c;
		assert_int_equal(sim_dma_read(dev, big + i * PAGE, got, 1), 0);
		assert_int_equal(got[0], 0x5c);
	}
	assert_int_equal(cstats(m).stale_device_reads, 0);
	sim_machine_destroy(m);
}

static void test_cache_coherent_and_growth(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *nc = tu_sim_dev(m, "nc", 64, false);
	struct sim_device *coh = tu_sim_dev(m, "coh", 64, true);
	uint64_t ph = tu_sim_alloc(m, 1, 0, ~0ULL);
	uint8_t src[64], got[64];
	clean(m, ph, 64);
	fill(src, 64, 17);
	assert_int_equal(sim_dma_write(coh, ph, src, 64), 0);
	assert_memory_equal(tu_sim_cpu(m, ph), src, 64);
	assert_int_equal(sim_dma_read(nc, ph, got, 64), 0);
	assert_memory_equal(got, src, 64); /* memory's copy followed */
	assert_int_equal(cstats(m).stale_device_reads, 0);

	/*
	 * Many pages in and out of the model in a pseudo-random order: the
	 * hash table grows and deletes under collisions; tracked_lines must
	 * match a plain bitmap of which pages are tracked.
	 */
	enum { NP = 6000 };
	uint64_t base = tu_sim_alloc(m, NP, 0, ~0ULL);
	static bool on[NP];
	unsigned int count = 0;
	uint32_t x = 12345;
	for (unsigned int i = 0; i < 60000; i++) {
		x = x * 1103515245u + 12345u;
		unsigned int pg = (x >> 8) % NP;
		uint64_t pa = base + (uint64_t)pg * PAGE;
		if ((x >> 28) & 1) {
			clean(m, pa, PAGE);
			count += !on[pg];
			on[pg] = true;
		} else {
			uncached(m, pa, PAGE, true);
			uncached(m, pa, PAGE, false);
			count -= on[pg];
			on[pg] = false;
		}
	}
	assert_int_equal(cstats(m).tracked_lines, 1 + (uint64_t)count * 64);
	/* Every tracked page still answers with memory's copy. */
	for (unsigned int pg = 0; pg < NP; pg++) {
		uint64_t pa = base + (uint64_t)pg * PAGE;
		uint8_t *c = tu_sim_cpu(m, pa);
		c[0] = 0xee;
		assert_int_equal(sim_dma_read(nc, pa, got, 1), 0);
		assert_int_equal(got[0], on[pg] ? 0x00 : 0xee);
	}
	sim_free_pages(m, base, NP);
	assert_int_equal(cstats(m).tracked_lines, 1);
	sim_machine_destroy(m);
}

/* The NIC workload's pattern: clean, device read, device write, invalidate. */
static void test_cache_churn(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nic", 64, false);
	enum { RING = 256, FRAME = 1514 };
	uint64_t ring = tu_sim_alloc(m, RING, 0, ~0ULL);
	static uint8_t frame[FRAME], got[FRAME];
	fill(frame, FRAME, 1);
	for (unsigned int i = 0; i < 100000; i++) {
		uint64_t b = ring + (uint64_t)(i % RING) * PAGE + 2;
		clean(m, b, FRAME);
		if (sim_dma_read(dev, b, got, FRAME) ||
		    sim_dma_write(dev, b, frame, FRAME))
			fail();
		inval(m, b, FRAME);
	}
	assert_memory_equal(tu_sim_cpu(m, ring + 2), frame, FRAME);
	struct sim_cache_stats cs = cstats(m);
	assert_int_equal(cs.lines_cleaned, 100000ULL * 24);
	assert_int_equal(cs.lines_invalidated, 100000ULL * 24);
	assert_int_equal(cs.tracked_lines, RING * 24ULL);
	sim_machine_destroy(m);
}

/* ---- threads ---------------------------------------------------------------------- */

struct worker {
	struct sim_machine *m;
	struct sim_device *dev;
	unsigned int seed;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t src[300], got[300];
	for (unsigned int i = 0; i < 20000; i++) {
		uint64_t p;
		uint64_t n = 1 + (i + w->seed) % 3;
		if (sim_alloc_pages(w->m, n, 1, 0, ~0ULL, &p)) {
			w->failures++;
			continue;
		}
		uint8_t *c = sim_phys_to_cpu(w->m, p);
		fill(src, sizeof(src), (uint8_t)(i + w->seed));
		memcpy(c + 100, src, sizeof(src));
		clean(w->m, p + 100, sizeof(src));
		if (sim_dma_read(w->dev, p + 100, got, sizeof(got)) ||
		    memcmp(got, src, sizeof(src)))
			w->failures++;
		if (sim_dma_write(w->dev, p + 1000, src, sizeof(src)))
			w->failures++;
		inval(w->m, p + 1000, sizeof(src));
		if (memcmp(c + 1000, src, sizeof(src)))
			w->failures++;
		sim_free_pages(w->m, p, n);
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_device *dev = tu_sim_dev(m, "nc", 64, false);
	struct worker w[4];
	pthread_t t[4];
	for (unsigned int i = 0; i < 4; i++) {
		w[i] = (struct worker){ .m = m, .dev = dev, .seed = i * 7 };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(cstats(m).tracked_lines, 0); /* all freed */
	assert_int_equal(sim_free_bytes(m, SIM_ZONE_NORMAL), 4 * GIB);
	struct sim_device_stats st = tu_sim_dstats(dev);
	assert_int_equal(st.reads, 80000);
	assert_int_equal(st.writes, 80000);
	sim_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sparse_machine),
		cmocka_unit_test(test_bad_descs),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_bad_frees),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_alloc_model),
		cmocka_unit_test(test_alloc_churn),
		cmocka_unit_test(test_coherent_dma),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bus_error),
		cmocka_unit_test(test_dma_ranges),
		cmocka_unit_test(test_event_ring),
		cmocka_unit_test(test_cache_clean),
		cmocka_unit_test(test_cache_invalidate),
		cmocka_unit_test(test_cache_partial_line),
		cmocka_unit_test(test_cache_uncached),
		cmocka_unit_test(test_cache_free_drops),
		cmocka_unit_test(test_cache_coherent_and_growth),
		cmocka_unit_test(test_cache_churn),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
