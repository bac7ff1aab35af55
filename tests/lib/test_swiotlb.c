/*
 * tests/lib/test_swiotlb.c - the bounce-buffer pool (src/swiotlb.c), through
 * its internal interface (swiotlb.h) and the public statistics and
 * restricted-pool calls.
 *
 * Owns: exact checks of Linux's observable swiotlb behaviour: slot
 * geometry, min_align_mask / alloc_align_mask / segment boundary
 * placement, the maximum mapping size, when bytes are copied, exhaustion
 * and its rate-limited message, statistics, dynamic growth, restricted
 * pools, the bookkeeping budget, and a 4-thread run that must leave the
 * pool empty.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"
#include "swiotlb.h"
#include "testing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KIB 1024u
#define SLOT 2048u

static unsigned int log_count(const struct tu_env *e, const char *needle)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < e->nlog; i++)
		if (strstr(e->log[i], needle))
			n++;
	return n;
}

static uint8_t *pool_cpu(struct tu_env *e, dmamap_phys_addr_t tlb)
{
	uint8_t *p = sim_phys_to_cpu(e->m, tlb);
	assert_non_null(p);
	return p;
}

static void stats(struct tu_env *e, struct dmamap_swiotlb_stats *st)
{
	dmamap_swiotlb_get_stats(e->ctx, NULL, st);
}

/* A buffer of npages in low RAM; *phys its physical address. */
static uint8_t *buf(struct tu_env *e, uint64_t npages, uint64_t *phys)
{
	return tu_alloc_low(e, npages, phys);
}

/* ---- geometry ------------------------------------------------------------ */

/* Every test that maps ends the same way: the pool back to empty, then teardown. */
static void finish_empty(struct tu_env *e, struct tu_dev *d, void *b, uint64_t npages)
{
	struct dmamap_swiotlb_stats st;
	stats(e, &st);
	assert_int_equal(st.used_bytes, 0);
	tu_free(e, b, npages);
	tu_dev_remove(d);
	tu_env_fini(e);
}

static void test_geometry(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	assert_non_null(mem);
	uint64_t phys;
	uint8_t *b = buf(&e, 80, &phys);
	static const size_t sizes[] = { 1, 100, 2048, 2049, 4095, 4096, 4097, 6000,
					8192, 65536, 200000, 262144 };
	for (unsigned int off = 0; off < 3; off++) {
		uint64_t o = phys + off * 0x123;
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t sz = sizes[i];
			tu_fill(b + off * 0x123, sz, (uint32_t)(i + 1));
			dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, o, sz, 0,
								  DMAMAP_TO_DEVICE, 0);
			assert_int_not_equal(t, DM_SWIOTLB_ERROR);
			assert_true(dm_swiotlb_contains(mem, t));
			assert_true(dm_swiotlb_contains(mem, t + sz - 1));
			/* No min_align_mask: slot aligned, page aligned from 4 KiB. */
			assert_int_equal(t % SLOT, 0);
			if (sz >= 4096)
				assert_int_equal(t % 4096, 0);
			assert_int_equal(tu_check(pool_cpu(&e, t), sz, (uint32_t)(i + 1)), -1);
			dm_swiotlb_tbl_unmap(d.dev, mem, t, sz, DMAMAP_TO_DEVICE, 0);
		}
	}
	assert_false(dm_swiotlb_contains(mem, phys));
	finish_empty(&e, &d, b, 80);
}

/*
 * Free slots and the pad slots in front of an aligned mapping belong to no
 * original (Linux marks them INVALID_PHYS_ADDR): a sync that starts there
 * copies nothing.  Before, they kept the original of the slot's last user,
 * and the sync wrote pool bytes into that old buffer.
 */
static void test_pad_slots_have_no_original(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nvme", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 4, &phys);
	/* A slot never used: a sync there copies nothing (not to physical address 0). */
	dmamap_phys_addr_t pstart;
	uint64_t psize;
	assert_int_equal(dmamap_swiotlb_get_pool_range(e.ctx, NULL, 0, &pstart, &psize), 0);
	uint8_t *last = pool_cpu(&e, pstart + psize - 2048), *zero = pool_cpu(&e, 0);
	memset(last, 0x5a, 2048);
	uint8_t zero_before[2048];
	memcpy(zero_before, zero, sizeof(zero_before));
	dm_swiotlb_sync_for_cpu(d.dev, mem, pstart + psize - 2048, 2048, DMAMAP_FROM_DEVICE);
	assert_memory_equal(zero, zero_before, sizeof(zero_before));
	/* X: 4 KiB at a page start; its slots are the hot ones afterwards. */
	tu_fill(b, 4096, 1);
	dmamap_phys_addr_t tx = dm_swiotlb_tbl_map(d.dev, mem, phys, 4096, 0, DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(tx, DM_SWIOTLB_ERROR);
	assert_int_equal(dm_swiotlb_tbl_unmap(d.dev, mem, tx, 4096, DMAMAP_TO_DEVICE, 0), 0);
	memset(b, 0xa5, 4096); /* X's memory, reused by its driver */
	/* A sync of X's old, now free slots. */
	dm_swiotlb_sync_for_cpu(d.dev, mem, tx, 4096, DMAMAP_FROM_DEVICE);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(b[i], 0xa5);
	/*
	 * Y at page offset 0x900, min_align_mask and alloc_align_mask 4 KiB
	 * (the untrusted IOMMU path's request): one pad slot, X's first.
	 */
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 4095), 0);
	tu_fill(b + 8192 + 0x900, 1024, 2);
	dmamap_phys_addr_t ty = dm_swiotlb_tbl_map(d.dev, mem, phys + 8192 + 0x900, 1024, 4095,
						   DMAMAP_BIDIRECTIONAL, 0);
	assert_int_not_equal(ty, DM_SWIOTLB_ERROR);
	assert_int_equal(ty, tx + 0x900);
	/* A sync that starts in the pad slot, before the mapping. */
	dm_swiotlb_sync_for_cpu(d.dev, mem, tx, 2048, DMAMAP_FROM_DEVICE);
	for (unsigned int i = 0; i < 4096; i++)
		assert_int_equal(b[i], 0xa5);
	assert_int_equal(dm_swiotlb_tbl_unmap(d.dev, mem, ty, 1024, DMAMAP_BIDIRECTIONAL, 0), 0);
	assert_int_equal(tu_check(b + 8192 + 0x900, 1024, 2), -1);
	tu_free(&e, b, 4);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_min_align_mask(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nvme", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 4095), 0);
	uint64_t phys;
	uint8_t *b = buf(&e, 80, &phys);
	static const uint64_t offs[] = { 0, 0x200, 0x7ff, 0x800, 0xe00, 0xfff };
	static const size_t sizes[] = { 512, 4096, 8192, 65536, 262144 - 4096 };
	/* Keep them all live so placement is exercised away from the first slots. */
	dmamap_phys_addr_t live[6 * 5];
	unsigned int nlive = 0;
	for (unsigned int i = 0; i < 6; i++) {
		for (unsigned int j = 0; j < 5; j++) {
			uint64_t o = phys + 4096 * (i + 1) + offs[i];
			size_t sz = sizes[j];
			tu_fill(b + (o - phys), sz, i * 10 + j);
			dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, o, sz, 0,
								  DMAMAP_FROM_DEVICE, 0);
			assert_int_not_equal(t, DM_SWIOTLB_ERROR);
			assert_int_equal(t & 4095, o & 4095);
			assert_int_equal(tu_check(pool_cpu(&e, t), sz, i * 10 + j), -1);
			live[nlive++] = t;
		}
	}
	nlive = 0;
	for (unsigned int i = 0; i < 6; i++)
		for (unsigned int j = 0; j < 5; j++)
			dm_swiotlb_tbl_unmap(d.dev, mem, live[nlive++], sizes[j],
					     DMAMAP_TO_DEVICE, 0);
	/* A 16 KiB mask: bits above the slot come from the slot's address. */
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0x3fff), 0);
	for (uint64_t off = 0; off < 0x4000; off += 0x5c3) {
		dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, phys + off, 3000, 0,
							  DMAMAP_TO_DEVICE, 0);
		assert_int_not_equal(t, DM_SWIOTLB_ERROR);
		assert_int_equal(t & 0x3fff, (phys + off) & 0x3fff);
		dm_swiotlb_tbl_unmap(d.dev, mem, t, 3000, DMAMAP_TO_DEVICE, 0);
	}
	finish_empty(&e, &d, b, 80);
}

static void test_alloc_align_mask(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 32, &phys);
	(void)b;
	/* Occupy one slot so the next fit is not trivially aligned. */
	dmamap_phys_addr_t t0 = dm_swiotlb_tbl_map(d.dev, mem, phys, 100, 0,
						   DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t0, DM_SWIOTLB_ERROR);
	dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, phys + 0x345, 5000, 0xffff,
						  DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	assert_int_equal(t & 0xffff, 0); /* no min_align_mask: no offset kept */
	dm_swiotlb_tbl_unmap(d.dev, mem, t, 5000, DMAMAP_TO_DEVICE, 0);
	/* min_align_mask 4095 + 64 KiB allocation alignment: offset kept, rest aligned. */
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 4095), 0);
	t = dm_swiotlb_tbl_map(d.dev, mem, phys + 0x1e00, 5000, 0xffff, DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	assert_int_equal(t & 0xffff, 0xe00);
	/* Pad slots are counted: 0xe00 offset -> 1 pad slot + 0x600 + 5000 -> 64 KiB. */
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.used_bytes, SLOT + 65536);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, 5000, DMAMAP_TO_DEVICE, 0);
	dm_swiotlb_tbl_unmap(d.dev, mem, t0, 100, DMAMAP_TO_DEVICE, 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	tu_free(&e, b, 32);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_segment_boundary(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	assert_int_equal(dmamap_set_seg_boundary(d.dev, 0xffff), 0);
	uint64_t phys;
	uint8_t *b = buf(&e, 32, &phys);
	(void)b;
	enum { LIVE = 64 };
	dmamap_phys_addr_t t[LIVE] = { 0 };
	size_t sz[LIVE] = { 0 };
	uint64_t rng = 12345;
	for (unsigned int it = 0; it < 20000; it++) {
		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		unsigned int k = (unsigned int)(rng >> 33) % LIVE;
		if (sz[k]) {
			dm_swiotlb_tbl_unmap(d.dev, mem, t[k], sz[k], DMAMAP_TO_DEVICE, 0);
			sz[k] = 0;
			continue;
		}
		size_t s = 1 + (size_t)((rng >> 13) % 65536);
		unsigned int min_align = (it & 1) ? 4095 : 0;
		assert_int_equal(dmamap_set_min_align_mask(d.dev, min_align), 0);
		uint64_t o = phys + ((rng >> 45) % 8192);
		dmamap_phys_addr_t a = dm_swiotlb_tbl_map(d.dev, mem, o, s, 0,
							  DMAMAP_TO_DEVICE, DMAMAP_ATTR_NO_WARN);
		/*
		 * With min_align_mask the in-slot offset is kept and the slot's
		 * bit 11 must match the original's, so an odd first slot needs
		 * one slot more of the 32 a 64 KiB window has.
		 */
		uint64_t need = s + (min_align ? (o & (SLOT - 1)) : 0);
		uint64_t nslots = (need + SLOT - 1) / SLOT;
		if (nslots + (min_align ? (o >> 11) & 1 : 0) > 32) {
			assert_int_equal(a, DM_SWIOTLB_ERROR);
			continue;
		}
		assert_int_not_equal(a, DM_SWIOTLB_ERROR);
		if (min_align)
			assert_int_equal(a & 4095, o & 4095);
		/* The whole allocation (from its slot start) stays inside 64 KiB. */
		uint64_t start = a & ~(uint64_t)(SLOT - 1);
		assert_int_equal(start >> 16, (a + s - 1) >> 16);
		t[k] = a;
		sz[k] = s;
	}
	for (unsigned int k = 0; k < LIVE; k++)
		if (sz[k])
			dm_swiotlb_tbl_unmap(d.dev, mem, t[k], sz[k], DMAMAP_TO_DEVICE, 0);
	/* A mapping larger than the boundary can never fit. */
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0), 0);
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 65537, 0, DMAMAP_TO_DEVICE,
					    DMAMAP_ATTR_NO_WARN),
			 DM_SWIOTLB_ERROR);
	finish_empty(&e, &d, b, 32);
}

static void test_max_mapping_size(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 80, &phys);
	assert_int_equal(dm_swiotlb_max_mapping_size(d.dev), 262144);
	tu_fill(b, 262144, 7);
	dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, phys, 262144, 0,
						  DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	assert_int_equal(tu_check(pool_cpu(&e, t), 262144, 7), -1);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, 262144, DMAMAP_TO_DEVICE, 0);
	assert_false(tu_log_has(&e, "exceeds the maximum"));
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 262145, 0, DMAMAP_TO_DEVICE, 0),
			 DM_SWIOTLB_ERROR);
	assert_true(tu_log_has(&e, "dev: swiotlb: mapping of 262145 bytes exceeds the maximum 262144"));

	assert_int_equal(dmamap_set_min_align_mask(d.dev, 4095), 0);
	assert_int_equal(dm_swiotlb_max_mapping_size(d.dev), 262144 - 4096);
	/* The largest mapping fits whatever its offset. */
	for (uint64_t off = 0; off < 4096; off += 0x7ff) {
		t = dm_swiotlb_tbl_map(d.dev, mem, phys + off, 262144 - 4096, 0,
				       DMAMAP_TO_DEVICE, 0);
		assert_int_not_equal(t, DM_SWIOTLB_ERROR);
		assert_int_equal(t & 4095, off);
		dm_swiotlb_tbl_unmap(d.dev, mem, t, 262144 - 4096, DMAMAP_TO_DEVICE, 0);
	}
	/*
	 * Past max_mapping_size is refused only when it cannot fit (Linux's
	 * swiotlb_tbl_map_single): page-aligned, 258049 bytes fit one
	 * segment; at offset 0x400 (kept by min_align_mask) 256 KiB - 0x400 + 1
	 * bytes cannot, as no segment holds 0x400 + that.
	 */
	t = dm_swiotlb_tbl_map(d.dev, mem, phys, 262144 - 4095, 0, DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	assert_int_equal(t & 4095, 0);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, 262144 - 4095, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys + 0x400, 262144 - 0x400 + 1, 0,
					    DMAMAP_TO_DEVICE, 0),
			 DM_SWIOTLB_ERROR);
	t = dm_swiotlb_tbl_map(d.dev, mem, phys + 0x400, 262144 - 0x400, 0, DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, 262144 - 0x400, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0x7ff), 0);
	assert_int_equal(dm_swiotlb_max_mapping_size(d.dev), 262144 - 2048);
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.full_failures, 0); /* too big is not "full" */
	tu_free(&e, b, 80);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- copies -------------------------------------------------------------- */

static void test_copy_rules(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 4, &phys);
	const size_t n = 6000;

	/* FROM_DEVICE: the original is copied in at map (no stale pool data). */
	tu_fill(b, n, 1);
	dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, phys, n, 0,
						  DMAMAP_FROM_DEVICE, 0);
	assert_int_not_equal(t, DM_SWIOTLB_ERROR);
	assert_int_equal(tu_check(pool_cpu(&e, t), n, 1), -1);
	tu_fill(pool_cpu(&e, t), n, 2); /* the device writes */
	dm_swiotlb_tbl_unmap(d.dev, mem, t, n, DMAMAP_FROM_DEVICE, 0);
	assert_int_equal(tu_check(b, n, 2), -1);

	/* ... even with SKIP_CPU_SYNC, which then skips the copy back. */
	tu_fill(b, n, 3);
	t = dm_swiotlb_tbl_map(d.dev, mem, phys, n, 0, DMAMAP_FROM_DEVICE,
			       DMAMAP_ATTR_SKIP_CPU_SYNC);
	assert_int_equal(tu_check(pool_cpu(&e, t), n, 3), -1);
	tu_fill(pool_cpu(&e, t), n, 4);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, n, DMAMAP_FROM_DEVICE, DMAMAP_ATTR_SKIP_CPU_SYNC);
	assert_int_equal(tu_check(b, n, 3), -1);

	/* TO_DEVICE: never copied back. */
	t = dm_swiotlb_tbl_map(d.dev, mem, phys, n, 0, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(tu_check(pool_cpu(&e, t), n, 3), -1);
	tu_fill(pool_cpu(&e, t), n, 5);
	dm_swiotlb_tbl_unmap(d.dev, mem, t, n, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(tu_check(b, n, 3), -1);

	/* BIDIRECTIONAL: both ways; only the mapped bytes come back. */
	tu_fill(b, 3 * 4096, 6);
	t = dm_swiotlb_tbl_map(d.dev, mem, phys + 100, n, 0, DMAMAP_BIDIRECTIONAL, 0);
	uint8_t *bp = pool_cpu(&e, t);
	uint8_t ref[3 * 4096];
	tu_fill(ref, sizeof(ref), 6);
	assert_memory_equal(bp, ref + 100, n);
	memset(bp, 0x5a, n + 100);        /* the mapping and 100 bytes past it */
	dm_swiotlb_tbl_unmap(d.dev, mem, t, n, DMAMAP_BIDIRECTIONAL, 0);
	assert_memory_equal(b, ref, 100);
	for (size_t i = 100; i < 100 + n; i++)
		assert_int_equal(b[i], 0x5a);
	assert_memory_equal(b + 100 + n, ref + 100 + n, 3 * 4096 - 100 - n);

	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.bounced_bytes, 4 * n);
	assert_int_equal(st.used_bytes, 0);
	tu_free(&e, b, 4);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_sync_inside_mapping(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 8, &phys);
	for (unsigned int ma = 0; ma < 2; ma++) {
		assert_int_equal(dmamap_set_min_align_mask(d.dev, ma ? 4095 : 0), 0);
		const uint64_t off = 0x9a4;
		const size_t n = 16384;
		uint8_t *o = b + off;
		static uint8_t ref[16384 + 16];
		tu_fill(o, n + 16, 10);
		tu_fill(ref, n + 16, 10);
		dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, mem, phys + off, n, 0,
							  DMAMAP_BIDIRECTIONAL, 0);
		assert_int_not_equal(t, DM_SWIOTLB_ERROR);
		uint8_t *bp = pool_cpu(&e, t);
		/* The device writes 3000 bytes at 5000; sync just those for the CPU. */
		memset(bp + 5000, 0x77, 3000);
		memset(bp + 9000, 0x66, 10); /* not synced */
		dm_swiotlb_sync_for_cpu(d.dev, mem, t + 5000, 3000, DMAMAP_FROM_DEVICE);
		for (size_t i = 0; i < n; i++) {
			if (i >= 5000 && i < 8000)
				assert_int_equal(o[i], 0x77);
			else
				assert_int_equal(o[i], ref[i]);
		}
		/* TO_DEVICE sync for the CPU copies nothing. */
		memset(bp + 100, 0x11, 10);
		dm_swiotlb_sync_for_cpu(d.dev, mem, t + 100, 10, DMAMAP_TO_DEVICE);
		assert_memory_equal(o + 100, ref + 100, 10);
		/* The CPU writes 100 bytes at 12000; sync for the device. */
		memset(o + 12000, 0x44, 100);
		dm_swiotlb_sync_for_device(d.dev, mem, t + 12000, 100, DMAMAP_TO_DEVICE);
		for (size_t i = 12000; i < 12100; i++)
			assert_int_equal(bp[i], 0x44);
		memset(o + 13000, 0x45, 10);
		dm_swiotlb_sync_for_device(d.dev, mem, t + 13000, 10, DMAMAP_FROM_DEVICE);
		assert_memory_equal(bp + 13000, ref + 13000, 10);
		/* A sync running past the mapping is clamped to it. */
		memset(bp + n - 10, 0x33, 10);
		if (ma)
			memset(bp + n, 0x99, 10); /* still inside the last slot */
		dm_swiotlb_sync_for_cpu(d.dev, mem, t + n - 10, 20, DMAMAP_FROM_DEVICE);
		assert_int_equal(o[n - 1], 0x33);
		assert_memory_equal(o + n, ref + n, 16);
		dm_swiotlb_tbl_unmap(d.dev, mem, t, n, DMAMAP_TO_DEVICE, 0);
	}
	tu_free(&e, b, 8);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- exhaustion ---------------------------------------------------------- */

static void test_exhaustion(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	/* One segment: 128 slots. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=128" });
	tu_dev_add(&e, &d, "nic0", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.total_bytes, 128 * SLOT);
	assert_int_equal(st.nareas, 1);
	uint64_t phys;
	uint8_t *b = buf(&e, 1, &phys);
	(void)b;
	dmamap_phys_addr_t t[128];
	for (unsigned int i = 0; i < 128; i++) {
		t[i] = dm_swiotlb_tbl_map(d.dev, mem, phys, 1000, 0, DMAMAP_TO_DEVICE, 0);
		assert_int_not_equal(t[i], DM_SWIOTLB_ERROR);
	}
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 128 * SLOT);
	assert_int_equal(st.full_failures, 0);
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 1000, 0, DMAMAP_TO_DEVICE, 0),
			 DM_SWIOTLB_ERROR);
	stats(&e, &st);
	assert_int_equal(st.full_failures, 1);
	assert_int_equal(log_count(&e, "swiotlb buffer is full"), 1);
	assert_true(tu_log_has(&e, "nic0: swiotlb buffer is full (sz: 1000 bytes), "
				   "total 128 (slots), used 128 (slots)"));
	/* NO_WARN: counted, not logged. */
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 1000, 0, DMAMAP_TO_DEVICE,
					    DMAMAP_ATTR_NO_WARN),
			 DM_SWIOTLB_ERROR);
	stats(&e, &st);
	assert_int_equal(st.full_failures, 2);
	assert_int_equal(log_count(&e, "swiotlb buffer is full"), 1);
	/* Rate limited: 10 messages per interval. */
	for (unsigned int i = 0; i < 15; i++)
		assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 1000, 0,
						    DMAMAP_TO_DEVICE, 0),
				 DM_SWIOTLB_ERROR);
	stats(&e, &st);
	assert_int_equal(st.full_failures, 17);
	assert_int_equal(log_count(&e, "swiotlb buffer is full"), 10);
	/* One slot free again: a one-slot mapping fits, a two-slot one does not. */
	dm_swiotlb_tbl_unmap(d.dev, mem, t[77], 1000, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(dm_swiotlb_tbl_map(d.dev, mem, phys, 2049, 0, DMAMAP_TO_DEVICE,
					    DMAMAP_ATTR_NO_WARN),
			 DM_SWIOTLB_ERROR);
	t[77] = dm_swiotlb_tbl_map(d.dev, mem, phys, 2048, 0, DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(t[77], DM_SWIOTLB_ERROR);
	/* Each unmap names its mapping's size (t[77] is 2048 bytes now). */
	for (unsigned int i = 0; i < 128; i++)
		assert_int_equal(dm_swiotlb_tbl_unmap(d.dev, mem, t[i], i == 77 ? 2048 : 1000,
						      DMAMAP_TO_DEVICE, 0), 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.refused_unmaps, 0);
	assert_int_equal(st.used_hiwater_bytes, 128 * SLOT);
	assert_int_equal(st.full_failures, 18);
	tu_free(&e, b, 1);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- statistics ---------------------------------------------------------- */

static void test_stats(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, &(struct tu_opts){ .ncpus = 4 });
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_true(st.enabled);
	assert_false(st.force);
	assert_int_equal(st.nareas, 4);
	assert_int_equal(st.npools, 1);
	assert_int_equal(st.total_bytes, 64 * TU_MIB);
	assert_int_equal(st.boot_total_bytes, 64 * TU_MIB);
	assert_int_equal(st.used_bytes, 0);
	uint64_t phys;
	uint8_t *b = buf(&e, 4, &phys);
	(void)b;
	dmamap_set_cpu(0);
	dmamap_phys_addr_t t1 = dm_swiotlb_tbl_map(d.dev, mem, phys, 4096, 0, DMAMAP_TO_DEVICE, 0);
	dmamap_phys_addr_t t2 = dm_swiotlb_tbl_map(d.dev, mem, phys, 4096, 0, DMAMAP_TO_DEVICE, 0);
	dmamap_set_cpu(2);
	dmamap_phys_addr_t t3 = dm_swiotlb_tbl_map(d.dev, mem, phys, 100, 0, DMAMAP_TO_DEVICE, 0);
	dmamap_phys_addr_t t4 = dm_swiotlb_tbl_map(d.dev, mem, phys, 9000, 0, DMAMAP_TO_DEVICE, 0);
	dmamap_set_cpu(7); /* area 3 */
	dmamap_phys_addr_t t5 = dm_swiotlb_tbl_map(d.dev, mem, phys, 2048, 0, DMAMAP_TO_DEVICE, 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, (2 + 2 + 1 + 5 + 1) * SLOT);
	assert_int_equal(st.used_hiwater_bytes, (2 + 2 + 1 + 5 + 1) * SLOT);
	assert_int_equal(st.bounced_bytes, 4096 + 4096 + 100 + 9000 + 2048);
	struct dmamap_swiotlb_area_stats as;
	uint64_t want_used[4] = { 4, 0, 6, 1 };
	for (unsigned int a = 0; a < 4; a++) {
		assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, a, &as), 0);
		assert_int_equal(as.total_slots, 32768 / 4);
		assert_int_equal(as.used_slots, want_used[a]);
		assert_int_equal(as.hiwater_slots, want_used[a]);
	}
	assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, 4, &as), -EINVAL);
	dm_swiotlb_tbl_unmap(d.dev, mem, t4, 9000, DMAMAP_TO_DEVICE, 0);
	dm_swiotlb_tbl_unmap(d.dev, mem, t1, 4096, DMAMAP_TO_DEVICE, 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, (2 + 1 + 1) * SLOT);
	assert_int_equal(st.used_hiwater_bytes, 11 * SLOT);
	assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, 2, &as), 0);
	assert_int_equal(as.used_slots, 1);
	assert_int_equal(as.hiwater_slots, 6);
	dm_swiotlb_tbl_unmap(d.dev, mem, t2, 4096, DMAMAP_TO_DEVICE, 0);
	dm_swiotlb_tbl_unmap(d.dev, mem, t3, 100, DMAMAP_TO_DEVICE, 0);
	dm_swiotlb_tbl_unmap(d.dev, mem, t5, 2048, DMAMAP_TO_DEVICE, 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.full_failures, 0);
	assert_int_equal(st.transient_pools, 0);
	/* Bookkeeping: at most 16 bytes per slot, headers included. */
	uint64_t nslots = 0;
	uint64_t bytes = dm_swiotlb_bookkeeping_bytes(mem, &nslots);
	assert_int_equal(nslots, 32768);
	tu_assert_le(bytes, 16 * nslots);
	tu_assert_ge(bytes, 12 * nslots);
	dmamap_set_cpu(0);
	tu_free(&e, b, 4);
	tu_dev_remove(&d);
	tu_env_fini(&e);

	/* No pool: all zero, enabled false; area stats -ENODEV. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=noforce" });
	memset(&st, 0xff, sizeof(st));
	stats(&e, &st);
	assert_false(st.enabled);
	assert_int_equal(st.total_bytes, 0);
	assert_int_equal(st.nareas, 0);
	assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, 0, &as), -ENODEV);
	tu_env_fini(&e);
}

static void test_nareas_limited(void **state)
{
	(void)state;
	struct tu_env e;
	/* 3 segments cannot feed 8 areas: 2 areas, every area a segment at least. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=384", .ncpus = 8 });
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.nareas, 2);
	struct dmamap_swiotlb_area_stats as;
	assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, 0, &as), 0);
	assert_int_equal(as.total_slots, 256);
	assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, 1, &as), 0);
	assert_int_equal(as.total_slots, 128);
	tu_env_fini(&e);
	/* ncpus 3 rounds up to 4 areas. */
	tu_env_init(&e, &(struct tu_opts){ .ncpus = 3 });
	stats(&e, &st);
	assert_int_equal(st.nareas, 4);
	tu_env_fini(&e);
}

/* ---- dynamic growth ------------------------------------------------------ */

static void test_dynamic_growth(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=128", .dynamic = true });
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_swiotlb *mem = e.ctx->swiotlb;
	uint64_t phys;
	uint8_t *b = buf(&e, 2, &phys);
	tu_fill(b, 8192, 9);
	dmamap_phys_addr_t t[64];
	for (unsigned int i = 0; i < 64; i++) {
		t[i] = dm_swiotlb_tbl_map(d.dev, mem, phys, 4096, 0, DMAMAP_TO_DEVICE, 0);
		assert_int_not_equal(t[i], DM_SWIOTLB_ERROR);
	}
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.npools, 1);
	assert_int_equal(st.transient_pools, 0);
	/* Full: this one gets a pool of its own, and the pool grows. */
	dmamap_phys_addr_t tr = dm_swiotlb_tbl_map(d.dev, mem, phys, 8192, 0,
						   DMAMAP_BIDIRECTIONAL, 0);
	assert_int_not_equal(tr, DM_SWIOTLB_ERROR);
	assert_int_equal(tr % 4096, 0);
	assert_true(dm_swiotlb_contains(mem, tr));
	assert_true(dm_swiotlb_contains(mem, tr + 8191));
	/* The public query names the transient pool, which get_pool_range does not list. */
	dmamap_phys_addr_t pstart;
	uint64_t psize;
	bool ptr = false;
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, tr + 8191, &pstart, &psize, &ptr), 0);
	assert_true(ptr);
	assert_int_equal(pstart, tr);
	assert_int_equal(psize, 8192);
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, t[0], &pstart, &psize, &ptr), 0);
	assert_false(ptr);
	assert_int_equal(psize, 128 * SLOT);
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, phys, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(tu_check(pool_cpu(&e, tr), 8192, 9), -1);
	stats(&e, &st);
	assert_int_equal(st.transient_pools, 1);
	assert_int_equal(st.npools, 2);
	assert_int_equal(st.boot_total_bytes, 128 * SLOT);
	assert_int_equal(st.total_bytes, 2 * 128 * SLOT);
	assert_int_equal(st.full_failures, 0);
	assert_false(tu_log_has(&e, "buffer is full"));
	/* The next request finds room in the grown pool. */
	dmamap_phys_addr_t g = dm_swiotlb_tbl_map(d.dev, mem, phys, 4096, 0,
						  DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(g, DM_SWIOTLB_ERROR);
	assert_true(dm_swiotlb_contains(mem, g));
	stats(&e, &st);
	assert_int_equal(st.transient_pools, 1);
	/* The transient pool's 4 slots count as used, as in Linux. */
	assert_int_equal(st.used_bytes, (128 + 2 + 4) * SLOT);
	assert_int_equal(st.transient_used_bytes, 4 * SLOT);
	/* Syncs and copy-back work in the transient pool; unmap frees it. */
	memset(pool_cpu(&e, tr) + 10, 0x5e, 20);
	dm_swiotlb_sync_for_cpu(d.dev, mem, tr + 10, 20, DMAMAP_FROM_DEVICE);
	assert_int_equal(b[29], 0x5e);
	memset(pool_cpu(&e, tr) + 4000, 0x4d, 8);
	dm_swiotlb_tbl_unmap(d.dev, mem, tr, 8192, DMAMAP_BIDIRECTIONAL, 0);
	assert_int_equal(b[4007], 0x4d);
	assert_false(dm_swiotlb_contains(mem, tr));
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, tr, NULL, NULL, NULL), -ENOENT);
	/* The grown pool is listed and found. */
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, g, &pstart, &psize, &ptr), 0);
	assert_false(ptr);
	dmamap_phys_addr_t grown;
	assert_int_equal(dmamap_swiotlb_get_pool_range(e.ctx, NULL, 1, &grown, NULL), 0);
	assert_int_equal(pstart, grown);
	dm_swiotlb_tbl_unmap(d.dev, mem, g, 4096, DMAMAP_TO_DEVICE, 0);
	for (unsigned int i = 0; i < 64; i++)
		dm_swiotlb_tbl_unmap(d.dev, mem, t[i], 4096, DMAMAP_TO_DEVICE, 0);
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.transient_used_bytes, 0);
	assert_int_equal(st.npools, 2);
	assert_int_equal(st.bounced_bytes, 64 * 4096 + 8192 + 4096);
	tu_free(&e, b, 2);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- restricted pools ------------------------------------------------------ */

static void test_restricted_pool(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, NULL);
	uint64_t rphys;
	uint8_t *region = tu_alloc_low(&e, 256, &rphys); /* 1 MiB */
	struct dmamap_swiotlb *pool = NULL;
	/* Not RAM (the hole between 3 and 4 GiB). */
	assert_int_equal(dmamap_restricted_pool_create(e.ctx, 3 * TU_GIB + 0x100000, TU_MIB,
						       &pool), -EINVAL);
	assert_null(pool);
	/* Beyond the bound on one pool (the fuzz_dt 1016 GiB finding): refused before any bookkeeping. */
	assert_int_equal(dmamap_restricted_pool_create(e.ctx, rphys,
						       DMAMAP_SWIOTLB_MAX_POOL_BYTES + TU_MIB, &pool), -E2BIG);
	assert_null(pool);
	assert_true(tu_log_has(&e, "larger than the 16 GiB a bounce pool may be"));
	assert_int_equal(dmamap_restricted_pool_create(e.ctx, rphys, TU_MIB, &pool), 0);
	assert_non_null(pool);
	assert_int_equal(e.ctx->nrestricted, 1);
	struct dmamap_swiotlb_stats st;
	dmamap_swiotlb_get_stats(e.ctx, pool, &st);
	assert_true(st.enabled);
	assert_true(st.force);
	assert_int_equal(st.nareas, 1);
	assert_int_equal(st.total_bytes, TU_MIB);

	struct sim_device_desc sd = { .name = "wifi", .bus = DMAMAP_BUS_PLATFORM,
				      .addr_bits = 32, .coherent = true };
	struct tu_dev d;
	tu_dev_add_desc(&e, &d, &sd, pool);
	assert_ptr_equal(d.dev->swiotlb, pool);
	memset(region, 0xcc, TU_MIB);
	dmamap_phys_addr_t p1, p2;
	void *c1 = dm_swiotlb_alloc(d.dev, pool, 8192, &p1);
	void *c2 = dm_swiotlb_alloc(d.dev, pool, 5000, &p2);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_int_equal(p1 % 4096, 0);
	assert_int_equal(p2 % 4096, 0);
	tu_assert_ge(p1, rphys);
	tu_assert_le(p1 + 8192, rphys + TU_MIB);
	tu_assert_ge(p2, rphys);
	tu_assert_le(p2 + 8192, rphys + TU_MIB);
	assert_ptr_equal(c1, region + (p1 - rphys));
	for (size_t i = 0; i < 8192; i++)
		assert_int_equal(((uint8_t *)c1)[i], 0);
	dmamap_swiotlb_get_stats(e.ctx, pool, &st);
	assert_int_equal(st.used_bytes, 16384);
	/* Too big for a segment. */
	dmamap_phys_addr_t p3;
	assert_null(dm_swiotlb_alloc(d.dev, pool, 256 * KIB + 4096, &p3));
	/* A streaming mapping through it. */
	uint64_t ophys;
	uint8_t *o = tu_alloc_high(&e, 1, &ophys);
	tu_fill(o, 512, 3);
	dmamap_phys_addr_t t = dm_swiotlb_tbl_map(d.dev, pool, ophys, 512, 0,
						  DMAMAP_TO_DEVICE, 0);
	tu_assert_ge(t, rphys);
	tu_assert_lt(t, rphys + TU_MIB);
	assert_int_equal(tu_check(region + (t - rphys), 512, 3), -1);

	assert_int_equal(dmamap_restricted_pool_destroy(pool), -EBUSY);
	dm_swiotlb_tbl_unmap(d.dev, pool, t, 512, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), -EBUSY);
	assert_false(dm_swiotlb_free(d.dev, pool, ophys, 4096));
	assert_true(dm_swiotlb_free(d.dev, pool, p1, 8192));
	assert_int_equal(dmamap_restricted_pool_destroy(pool), -EBUSY);
	assert_true(dm_swiotlb_free(d.dev, pool, p2, 8192));
	tu_dev_remove(&d);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), 0);
	assert_int_equal(e.ctx->nrestricted, 0);
	/* The memory was the caller's: still there, still ours to free. */
	tu_free(&e, region, 256);
	tu_free(&e, o, 1);
	/* The default pool is not a restricted pool. */
	assert_int_equal(dmamap_restricted_pool_destroy(e.ctx->swiotlb), -EINVAL);
	tu_env_fini(&e);
}

/* ---- threads --------------------------------------------------------------- */

struct th_arg {
	struct tu_env *e;
	struct dmamap_device *dev;
	unsigned int idx;
	uint8_t *buf;       /* 8 x 64 KiB */
	uint64_t phys;
	uint64_t failures;
	int bad;
};

static void *th_main(void *p)
{
	struct th_arg *a = p;
	struct dmamap_swiotlb *mem = a->e->ctx->swiotlb;
	dmamap_set_cpu(a->idx);
	dmamap_phys_addr_t t[8] = { 0 };
	size_t sz[8] = { 0 };
	uint64_t rng = 0x9e3779b97f4a7c15ULL * (a->idx + 1);
	for (unsigned int it = 0; it < 30000; it++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		unsigned int k = (unsigned int)(rng % 8);
		uint8_t *o = a->buf + k * 65536;
		if (sz[k]) {
			uint8_t *bp = sim_phys_to_cpu(a->e->m, t[k]);
			if (tu_check(bp, sz[k], a->idx * 8 + k) != -1)
				a->bad++;
			memset(bp, (int)(a->idx + 1), sz[k]);
			dm_swiotlb_tbl_unmap(a->dev, mem, t[k], sz[k], DMAMAP_FROM_DEVICE, 0);
			for (size_t i = 0; i < sz[k]; i++)
				if (o[i] != (uint8_t)(a->idx + 1)) {
					a->bad++;
					break;
				}
			sz[k] = 0;
			continue;
		}
		size_t s = 1 + (size_t)((rng >> 20) % 65536);
		tu_fill(o, s, a->idx * 8 + k);
		dmamap_phys_addr_t r = dm_swiotlb_tbl_map(a->dev, mem, a->phys + k * 65536, s, 0,
							  DMAMAP_FROM_DEVICE, DMAMAP_ATTR_NO_WARN);
		if (r == DM_SWIOTLB_ERROR) {
			a->failures++;
			continue;
		}
		t[k] = r;
		sz[k] = s;
	}
	for (unsigned int k = 0; k < 8; k++)
		if (sz[k])
			dm_swiotlb_tbl_unmap(a->dev, mem, t[k], sz[k], DMAMAP_TO_DEVICE, 0);
	return NULL;
}

static void four_threads(bool dynamic)
{
	struct tu_env e;
	struct tu_dev d;
	/*
	 * 8 segments, 4 areas of 2: threads overflow into each other's areas.
	 * Dynamic: 4 segments, so that the pool must grow.
	 */
	const uint64_t nslabs = dynamic ? 512 : 1024;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = dynamic ? "swiotlb=512" : "swiotlb=1024",
					   .ncpus = 4, .dynamic = dynamic });
	tu_dev_add(&e, &d, "dev", 32, true, DMAMAP_BUS_PCI);
	struct th_arg a[4];
	for (unsigned int i = 0; i < 4; i++) {
		a[i] = (struct th_arg){ .e = &e, .dev = d.dev, .idx = i };
		a[i].buf = tu_alloc_high(&e, 128, &a[i].phys);
	}
	pthread_t th[4];
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, th_main, &a[i]), 0);
	uint64_t fails = 0;
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
		fails += a[i].failures;
	}
	struct dmamap_swiotlb_stats st;
	stats(&e, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.full_failures, fails);
	tu_assert_le(st.used_hiwater_bytes, st.total_bytes * 4);
	if (dynamic) {
		print_message("[ info ] %u pools, %llu transient pools, %llu failures\n",
			      st.npools, (unsigned long long)st.transient_pools,
			      (unsigned long long)fails);
		/* Growth kept up: every request found room somewhere. */
		assert_int_equal(fails, 0);
		tu_assert_ge(st.npools, 2);
		tu_assert_ge(st.transient_pools, 1);
		assert_int_equal(st.total_bytes, (uint64_t)st.npools * nslabs * SLOT);
	}
	for (unsigned int i = 0; i < 4; i++) {
		struct dmamap_swiotlb_area_stats as;
		assert_int_equal(dmamap_swiotlb_get_area_stats(e.ctx, NULL, i, &as), 0);
		assert_int_equal(as.used_slots, 0);
		assert_int_equal(as.total_slots, nslabs / 4 * st.npools);
		tu_free(&e, a[i].buf, 128);
	}
	/* Everything is free again: the whole pool maps as 4 x 256 KiB... */
	dmamap_phys_addr_t big[4];
	uint64_t phys;
	uint8_t *b = buf(&e, 64, &phys);
	for (unsigned int i = 0; i < 4; i++) {
		big[i] = dm_swiotlb_tbl_map(d.dev, e.ctx->swiotlb, phys, 262144, 0,
					    DMAMAP_TO_DEVICE, 0);
		assert_int_not_equal(big[i], DM_SWIOTLB_ERROR);
	}
	for (unsigned int i = 0; i < 4; i++)
		dm_swiotlb_tbl_unmap(d.dev, e.ctx->swiotlb, big[i], 262144, DMAMAP_TO_DEVICE, 0);
	tu_free(&e, b, 64);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_four_threads(void **state)
{
	(void)state;
	four_threads(false);
}

static void test_four_threads_dynamic(void **state)
{
	(void)state;
	four_threads(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_min_align_mask),
		cmocka_unit_test(test_pad_slots_have_no_original),
		cmocka_unit_test(test_alloc_align_mask),
		cmocka_unit_test(test_segment_boundary),
		cmocka_unit_test(test_max_mapping_size),
		cmocka_unit_test(test_copy_rules),
		cmocka_unit_test(test_sync_inside_mapping),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_nareas_limited),
		cmocka_unit_test(test_dynamic_growth),
		cmocka_unit_test(test_restricted_pool),
		cmocka_unit_test(test_four_threads),
		cmocka_unit_test(test_four_threads_dynamic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
