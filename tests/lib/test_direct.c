/*
 * tests/lib/test_direct.c - dma-direct, masks, the dispatcher, scatterlists,
 * coherent allocations and DMA pools, asserted on exact bytes, codes and
 * counters.
 */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "context.h"

/* Maps a buffer for the device to read, returns the device's view. */
static void dev_reads(struct tu_dev *d, dmamap_dma_addr_t a, void *out, size_t len)
{
	assert_int_equal(sim_dma_read(d->sd, a, out, len), 0);
}

static void test_bootargs(void **state)
{
	(void)state;
	struct dm_bootopts o;
	const char *bad;
	assert_int_equal(dm_parse_bootargs("quiet swiotlb=32768,force iommu.strict=1", &o, &bad), 0);
	assert_true(o.swiotlb_set);
	assert_int_equal(o.swiotlb_nslabs, 32768);
	assert_true(o.swiotlb_force);
	assert_int_equal(o.iommu_strict, 1);
	assert_int_equal(dm_parse_bootargs("swiotlb=100,3", &o, &bad), 0);
	assert_int_equal(o.swiotlb_nslabs, 128); /* rounded up to a segment */
	assert_int_equal(o.swiotlb_nareas, 4);   /* rounded up to a power of two */
	assert_int_equal(dm_parse_bootargs("swiotlb=noforce iommu=pt", &o, &bad), 0);
	assert_true(o.swiotlb_noforce);
	assert_int_equal(o.iommu_mode, DM_IOMMU_PT);
	assert_int_equal(dm_parse_bootargs("iommu=soft", &o, &bad), 0);
	assert_int_equal(o.iommu_mode, DM_IOMMU_SOFT);
	assert_int_equal(dm_parse_bootargs("a=1 swiotlb=12x", &o, &bad), -EINVAL);
	assert_int_equal(strncmp(bad, "swiotlb=12x", 11), 0);
	assert_int_equal(dm_parse_bootargs("iommu.strict=2", &o, &bad), -EINVAL);
	assert_false(o.iommu_forcedac);
	assert_int_equal(dm_parse_bootargs("iommu.forcedac=1", &o, &bad), 0);
	assert_true(o.iommu_forcedac);
	assert_int_equal(dm_parse_bootargs("iommu.forcedac=yes", &o, &bad), -EINVAL);
	assert_int_equal(strncmp(bad, "iommu.forcedac=yes", 18), 0);
	assert_int_equal(dm_parse_bootargs("swiotlb=", &o, &bad), -EINVAL);
	assert_int_equal(dm_parse_bootargs("swiotlb=1,2,force,9", &o, &bad), -EINVAL);
}

static void test_ctx_bad_bootargs(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_opts o = { .bootargs = "swiotlb=lots" };
	assert_int_equal(tu_env_try_init(&e, &o), -EINVAL);
	assert_true(tu_log_has(&e, "bootargs: malformed option 'swiotlb=lots'"));
	tu_env_fini(&e);
	struct dmamap_ctx *ctx;
	assert_int_equal(dmamap_ctx_create(NULL, NULL, &ctx), -EINVAL);
}

static void test_swiotlb_detection(void **state)
{
	(void)state;
	struct tu_env e;
	struct dmamap_swiotlb_stats ss;
	/* 3 GiB: everything is below 4 GiB, no pool. */
	tu_env_init(&e, &(struct tu_opts){ .ram_gib = 3 });
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_false(ss.enabled);
	tu_env_fini(&e);
	/* 8 GiB: the default 64 MiB pool, all below 4 GiB. */
	tu_env_init(&e, NULL);
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_true(ss.enabled);
	assert_int_equal(ss.boot_total_bytes, 64 * TU_MIB);
	assert_int_equal(ss.below_4g_bytes, 64 * TU_MIB);
	tu_env_fini(&e);
	/* swiotlb=<slabs> sizes it; noforce removes it. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=8192" });
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.boot_total_bytes, 8192ull * 2048);
	tu_env_fini(&e);
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=noforce" });
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_false(ss.enabled);
	tu_env_fini(&e);
	/* Even a tiny pool goes in low memory, where 32-bit devices reach it. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=128" });
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.boot_total_bytes, 256 * 1024);
	assert_int_equal(ss.below_4g_bytes, 256 * 1024);
	tu_env_fini(&e);
	/* Confidential VM: 6% of RAM, clamped to 64 MiB..1 GiB. */
	tu_env_init(&e, &(struct tu_opts){ .ram_gib = 16, .cc_guest = true });
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_true(ss.force);
	assert_int_equal(ss.boot_total_bytes, (16 * TU_GIB * 6 / 100 + 262143) / 262144 * 262144);
	tu_env_fini(&e);
	tu_env_init(&e, &(struct tu_opts){ .ram_gib = 1, .cc_guest = true }); /* 6% < 64 MiB */
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.boot_total_bytes, 64 * TU_MIB);
	tu_env_fini(&e);
}

static void test_direct_no_bounce(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "gpu", 44, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_mask_and_coherent(d.dev, DMAMAP_BIT_MASK(44)), 0);
	assert_string_equal(dmamap_device_ops_name(d.dev), "direct");
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 2, &phys);
	tu_fill(b + 100, 5000, 1);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, b + 100, 5000, DMAMAP_TO_DEVICE);
	assert_int_equal(a, phys + 100); /* direct: bus == phys */
	uint8_t got[5000];
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 1), -1);
	dmamap_unmap_single(d.dev, a, 5000, DMAMAP_TO_DEVICE);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.maps, 1);
	assert_int_equal(st.bytes_mapped, 5000);
	assert_int_equal(st.bounced_bytes, 0);
	assert_int_equal(st.live_mappings, 0);
	assert_int_equal(dmamap_max_mapping_size(d.dev), SIZE_MAX);
	tu_free(&e, b, 2);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_bounce_high_only(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 32, true, DMAMAP_BUS_PCI);
	uint64_t lphys, hphys;
	uint8_t *lo = tu_alloc_low(&e, 1, &lphys), *hi = tu_alloc_high(&e, 1, &hphys);
	tu_fill(lo, 1514, 2);
	tu_fill(hi, 1514, 3);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, lo, 1514, DMAMAP_TO_DEVICE);
	assert_int_equal(a, lphys);
	dmamap_unmap_single(d.dev, a, 1514, DMAMAP_TO_DEVICE);
	a = dmamap_map_single(d.dev, hi, 1514, DMAMAP_BIDIRECTIONAL);
	assert_int_not_equal(a, hphys);
	tu_assert_le(a + 1513, 0xffffffffULL);
	uint8_t got[1514];
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 3), -1);
	/* The device answers; the CPU sees it after unmap. */
	tu_fill(got, sizeof(got), 4);
	assert_int_equal(sim_dma_write(d.sd, a, got, sizeof(got)), 0);
	assert_int_equal(tu_check(hi, 1514, 3), -1); /* not yet: still bounced */
	dmamap_unmap_single(d.dev, a, 1514, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(tu_check(hi, 1514, 4), -1);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.bounced_maps, 1);
	assert_int_equal(st.bounced_bytes, 1514);
	assert_int_equal(dmamap_max_mapping_size(d.dev), 256 * 1024);
	assert_true(dmamap_addressing_limited(d.dev));
	assert_int_equal(dmamap_get_required_mask(d.dev), DMAMAP_BIT_MASK(34)); /* RAM ends at 9 GiB */
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_no_pool_fails(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=noforce" });
	tu_dev_add(&e, &d, "nic", 32, true, DMAMAP_BUS_PCI);
	uint8_t *hi = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, hi, 64, DMAMAP_TO_DEVICE);
	assert_int_equal(a, DMAMAP_MAPPING_ERROR);
	assert_int_equal(dmamap_mapping_error(d.dev, a), -ENOMEM);
	assert_true(tu_log_has(&e, "overflow"));
	struct dmamap_sg sg[2];
	dmamap_sg_init_table(sg, 2);
	dmamap_sg_set_buf(&sg[0], tu_alloc_low(&e, 1, NULL), 512);
	dmamap_sg_set_buf(&sg[1], hi, 512);
	struct dmamap_sg_table t = { .sgl = sg, .orig_nents = 2 };
	assert_int_equal(dmamap_map_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, 0), -EIO);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 2, DMAMAP_TO_DEVICE), 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.map_failures, 3);
	assert_int_equal(st.live_mappings, 0);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_masks(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "hba", 32, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_get_mask(d.dev), DMAMAP_BIT_MASK(32));
	char reason[DM_REASON_LEN];
	strcpy(reason, dmamap_device_ops_reason(d.dev));
	/* Queries are pure. */
	assert_int_equal(dmamap_supported(d.dev, DMAMAP_BIT_MASK(64)), 1);
	assert_int_equal(dmamap_supported(d.dev, DMAMAP_BIT_MASK(24)), 1); /* the DMA zone */
	assert_int_equal(dmamap_supported(d.dev, DMAMAP_BIT_MASK(20)), 0);
	assert_string_equal(dmamap_device_ops_reason(d.dev), reason);
	assert_int_equal(dmamap_get_mask(d.dev), DMAMAP_BIT_MASK(32));
	/* A refused mask changes nothing. */
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(20)), -EIO);
	assert_int_equal(dmamap_set_mask_and_coherent(d.dev, DMAMAP_BIT_MASK(16)), -EIO);
	assert_int_equal(dmamap_get_mask(d.dev), DMAMAP_BIT_MASK(32));
	assert_int_equal(dmamap_get_coherent_mask(d.dev), DMAMAP_BIT_MASK(32));
	assert_string_equal(dmamap_device_ops_reason(d.dev), reason);
	/* Setting switches, and the reason says why. */
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(64)), 0);
	assert_non_null(strstr(dmamap_device_ops_reason(d.dev), "nothing bounces"));
	assert_false(dmamap_addressing_limited(d.dev));
	/* Coherent narrower than streaming: coherent memory stays below 4 GiB. */
	assert_int_equal(dmamap_set_coherent_mask(d.dev, DMAMAP_BIT_MASK(32)), 0);
	for (int i = 0; i < 16; i++) {
		dmamap_dma_addr_t h;
		void *c = dmamap_alloc_coherent(d.dev, 64 * 1024, &h);
		assert_non_null(c);
		tu_assert_le(h + 64 * 1024 - 1, DMAMAP_BIT_MASK(32));
		assert_int_equal(h % (64 * 1024), 0); /* order-aligned */
		assert_int_equal(((uint8_t *)c)[100], 0);
		dmamap_free_coherent(d.dev, 64 * 1024, c, h);
	}
	/* A 24-bit coherent mask takes the DMA zone. */
	assert_int_equal(dmamap_set_coherent_mask(d.dev, DMAMAP_BIT_MASK(24)), 0);
	dmamap_dma_addr_t h;
	void *c = dmamap_alloc_coherent(d.dev, 4096, &h);
	assert_non_null(c);
	tu_assert_lt(h, 16u << 20);
	dmamap_free_coherent(d.dev, 4096, c, h);
	/* A full 64-bit coherent mask prefers high memory (low memory is scarce). */
	assert_int_equal(dmamap_set_coherent_mask(d.dev, DMAMAP_BIT_MASK(64)), 0);
	c = dmamap_alloc_coherent(d.dev, 4096, &h);
	tu_assert_ge(h, 4 * TU_GIB);
	struct dmamap_device_stats st0, st;
	dmamap_device_get_stats(d.dev, &st0);
	/* A wrong handle is refused, not freed. */
	dmamap_free_coherent(d.dev, 4096, c, h + 4096);
	assert_true(tu_log_has(&e, "refused: no live allocation of this device has that handle"));
	/* So is a wrong size, and a free the checker is not there to catch twice. */
	dmamap_free_coherent(d.dev, 8192, c, h);
	assert_true(tu_log_has(&e, "refused: the allocation has another size or CPU address"));
	dmamap_free_coherent(d.dev, 4096, c, h);
	dmamap_free_coherent(d.dev, 4096, c, h);
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.refused_unmaps - st0.refused_unmaps, 3);
	assert_int_equal(st.live_mappings, st0.live_mappings - 1);
	/* The refused frees gave nothing back: the pages are allocated once. */
	void *c2 = dmamap_alloc_coherent(d.dev, 4096, &h);
	assert_non_null(c2);
	dmamap_free_coherent(d.dev, 4096, c2, h);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_params(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nvme", 32, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_get_max_seg_size(d.dev), 65536);
	/* PCI's defaults, as Linux's pci_device_add; a platform device has no boundary. */
	assert_int_equal(dmamap_get_seg_boundary(d.dev), 0xffffffffULL);
	struct tu_dev p;
	tu_dev_add(&e, &p, "mmc", 32, true, DMAMAP_BUS_PLATFORM);
	assert_int_equal(dmamap_get_seg_boundary(p.dev), ~0ULL);
	tu_dev_remove(&p);
	assert_int_equal(dmamap_get_min_align_mask(d.dev), 0);
	assert_int_equal(dmamap_set_max_seg_size(d.dev, 0), -EINVAL);
	assert_int_equal(dmamap_set_seg_boundary(d.dev, 0x1234), -EINVAL);
	assert_int_equal(dmamap_set_seg_boundary(d.dev, 0xffff), 0);
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0x1001), -EINVAL);
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 4095), 0);
	/* Linux: 256 KiB less the min_align_mask round-up. */
	assert_int_equal(dmamap_max_mapping_size(d.dev), 256 * 1024 - 4096);
	/* The bounce address keeps the low bits under min_align_mask. */
	uint64_t hphys;
	uint8_t *hi = tu_alloc_high(&e, 2, &hphys);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, hi + 0x234, 3000, DMAMAP_TO_DEVICE);
	assert_int_not_equal(a, DMAMAP_MAPPING_ERROR);
	assert_int_equal(a & 4095, 0x234);
	dmamap_unmap_single(d.dev, a, 3000, DMAMAP_TO_DEVICE);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_dma_ranges(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	/* A bus that sees RAM [0, 3 GiB) at bus 0x80000000 and nothing else. */
	struct sim_device_desc sd = {
		.name = "soc-dma", .bus = DMAMAP_BUS_PLATFORM, .addr_bits = 40, .coherent = true,
		.ranges = { { .cpu = 0, .dma = 0x80000000ULL, .size = 3 * TU_GIB } },
		.nranges = 1,
	};
	tu_dev_add_desc(&e, &d, &sd, NULL);
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(40)), 0);
	uint64_t lphys, hphys;
	uint8_t *lo = tu_alloc_low(&e, 1, &lphys), *hi = tu_alloc_high(&e, 1, &hphys);
	tu_fill(lo, 256, 7);
	tu_fill(hi, 256, 8);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, lo, 256, DMAMAP_TO_DEVICE);
	assert_int_equal(a, lphys + 0x80000000ULL);
	uint8_t got[256];
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 7), -1);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_TO_DEVICE);
	/* Outside every window: bounce into the pool, which the window covers. */
	a = dmamap_map_single(d.dev, hi, 256, DMAMAP_TO_DEVICE);
	assert_int_not_equal(a, DMAMAP_MAPPING_ERROR);
	tu_assert_ge(a, 0x80000000ULL);
	tu_assert_lt(a, 0x80000000ULL + 3 * TU_GIB);
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 8), -1);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_TO_DEVICE);
	/* MMIO is never bounced, not translated, and needs to be reachable. */
	assert_int_equal(dmamap_map_resource(d.dev, 0xfe000000ULL, 4096, DMAMAP_TO_DEVICE, 0),
			 0xfe000000ULL);
	assert_int_equal(dmamap_map_resource(d.dev, 0x100000000000ULL, 4096, DMAMAP_TO_DEVICE, 0),
			 DMAMAP_MAPPING_ERROR);
	assert_int_equal(dmamap_map_resource(d.dev, lphys, 4096, DMAMAP_TO_DEVICE, 0),
			 DMAMAP_MAPPING_ERROR); /* RAM is not a resource */
	dmamap_unmap_resource(d.dev, 0xfe000000ULL, 4096, DMAMAP_TO_DEVICE, 0);
	tu_dev_remove(&d);
	/* Overlapping windows are refused at add time. */
	struct dmamap_device_desc bad = { .name = "bad", .nranges = 2,
		.ranges = { { 0, 0, TU_GIB }, { TU_GIB / 2, 8 * TU_GIB, TU_GIB } } };
	struct dmamap_device *bd;
	assert_int_equal(dmamap_device_add(e.ctx, &bad, &bd), -EINVAL);
	assert_true(tu_log_has(&e, "overlap"));
	tu_env_fini(&e);
}

static void test_noncoherent_syncs(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 32, false, DMAMAP_BUS_PLATFORM);
	uint8_t *b = tu_alloc_low(&e, 1, NULL);
	uint8_t got[1024];
	/* A mapping reused for two transmits: the second needs sync_for_device. */
	tu_fill(b, 1024, 10);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, b, 1024, DMAMAP_TO_DEVICE);
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 10), -1);
	tu_fill(b, 1024, 11);
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 10), -1); /* stale: missing sync */
	dmamap_sync_single_for_device(d.dev, a, 1024, DMAMAP_TO_DEVICE);
	dev_reads(&d, a, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 11), -1);
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_TO_DEVICE);
	/* Receive: the CPU sees the device's bytes only after sync_for_cpu. */
	a = dmamap_map_single(d.dev, b, 1024, DMAMAP_FROM_DEVICE);
	tu_fill(got, sizeof(got), 12);
	assert_int_equal(sim_dma_write(d.sd, a, got, sizeof(got)), 0);
	assert_int_not_equal(tu_check(b, 1024, 12), -1);
	dmamap_sync_single_range_for_cpu(d.dev, a, 0, 512, DMAMAP_FROM_DEVICE);
	assert_int_equal(tu_check(b, 512, 12), -1);
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	assert_int_equal(tu_check(b, 1024, 12), -1);
	/* Coherent memory of a non-coherent device needs no syncs. */
	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(d.dev, 4096, &h);
	assert_non_null(ring);
	tu_fill(ring, 256, 13);
	dev_reads(&d, h, got, 256);
	assert_int_equal(tu_check(got, 256, 13), -1);
	tu_fill(got, 256, 14);
	assert_int_equal(sim_dma_write(d.sd, h, got, 256), 0);
	assert_int_equal(tu_check(ring, 256, 14), -1);
	dmamap_free_coherent(d.dev, 4096, ring, h);
	/* Non-coherent allocations: cacheable, the driver syncs. */
	uint8_t *nc = dmamap_alloc_noncoherent(d.dev, 4096, &h, DMAMAP_TO_DEVICE);
	assert_non_null(nc);
	tu_fill(nc, 256, 15);
	dmamap_sync_single_for_device(d.dev, h, 4096, DMAMAP_TO_DEVICE);
	dev_reads(&d, h, got, 256);
	assert_int_equal(tu_check(got, 256, 15), -1);
	dmamap_free_noncoherent(d.dev, 4096, nc, h, DMAMAP_TO_DEVICE);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_truncation_caught(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 32, true, DMAMAP_BUS_PCI);
	/* The bug: the driver claims 64 bits for 32-bit hardware. */
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(64)), 0);
	uint64_t hphys;
	uint8_t *hi = tu_alloc_high(&e, 1, &hphys);
	tu_assert_ge(hphys, 4 * TU_GIB);
	tu_assert_lt(hphys, 64 * TU_GIB); /* a 36-bit address */
	uint8_t *victim = sim_phys_to_cpu(e.m, hphys & 0xffffffffULL);
	tu_fill(victim, 512, 20);
	tu_fill(hi, 512, 21);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, hi, 512, DMAMAP_FROM_DEVICE);
	assert_int_equal(a, hphys); /* not bounced */
	uint8_t data[512];
	tu_fill(data, sizeof(data), 22);
	assert_int_equal(sim_dma_write(d.sd, a, data, sizeof(data)), 0);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_FROM_DEVICE);
	assert_int_equal(tu_check(victim, 512, 22), -1); /* low memory corrupted */
	assert_int_equal(tu_check(hi, 512, 21), -1);     /* data never arrived */
	struct sim_device_stats st;
	sim_device_get_stats(d.sd, &st);
	assert_int_equal(st.truncated, 1);
	struct sim_event ev;
	assert_int_equal(sim_device_events(d.sd, &ev, 1), 1);
	assert_int_equal(ev.kind, SIM_EV_TRUNCATED);
	assert_int_equal(ev.bus_addr, hphys);
	assert_int_equal(ev.emitted, hphys & 0xffffffffULL);
	/* With the right mask the same buffer bounces and arrives. */
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(32)), 0);
	a = dmamap_map_single(d.dev, hi, 512, DMAMAP_FROM_DEVICE);
	tu_assert_le(a, 0xffffffffULL);
	assert_int_equal(sim_dma_write(d.sd, a, data, sizeof(data)), 0);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_FROM_DEVICE);
	assert_int_equal(tu_check(hi, 512, 22), -1);
	sim_device_get_stats(d.sd, &st);
	assert_int_equal(st.truncated, 1);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_scatterlist(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "blk", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_sg_table t;
	assert_int_equal(dmamap_sg_alloc_table(&t, 4), 0);
	uint8_t *bufs[4];
	for (int i = 0; i < 4; i++) {
		bufs[i] = (i & 1) ? tu_alloc_high(&e, 1, NULL) : tu_alloc_low(&e, 1, NULL);
		tu_fill(bufs[i], 4096, 30 + (uint32_t)i);
		dmamap_sg_set_page(&t.sgl[i], dmamap_virt_to_page(bufs[i]), 4096, 0);
	}
	assert_null(dmamap_sg_next(&t.sgl[3]));
	assert_int_equal(dmamap_map_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, 0), 0);
	assert_int_equal(t.nents, 4);
	uint8_t got[4096];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(t.sgl[i].dma_length, 4096);
		dev_reads(&d, t.sgl[i].dma_address, got, sizeof(got));
		assert_int_equal(tu_check(got, sizeof(got), 30 + (uint32_t)i), -1);
	}
	dmamap_unmap_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.maps, 4);
	assert_int_equal(st.bounced_maps, 2);
	assert_int_equal(st.live_mappings, 0);
	/* Bad lists. */
	t.sgl[2].length = 0;
	assert_int_equal(dmamap_map_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, 0), -EINVAL);
	assert_int_equal(dmamap_map_sg(d.dev, t.sgl, 0, DMAMAP_TO_DEVICE), 0);
	t.sgl[2].length = 4096;
	assert_int_equal(dmamap_map_sg(d.dev, t.sgl, 4, (enum dmamap_data_direction)7), 0);
	dmamap_sg_free_table(&t);
	assert_null(t.sgl);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_sg_pool_exhausted(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	/* A 1 MiB pool cannot bounce 5 x 256 KiB. */
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=512,1" });
	tu_dev_add(&e, &d, "blk", 32, true, DMAMAP_BUS_PCI);
	struct dmamap_sg sg[5];
	dmamap_sg_init_table(sg, 5);
	for (int i = 0; i < 5; i++)
		dmamap_sg_set_buf(&sg[i], tu_alloc_high(&e, 64, NULL), 256 * 1024);
	struct dmamap_sg_table t = { .sgl = sg, .orig_nents = 5 };
	assert_int_equal(dmamap_map_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, DMAMAP_ATTR_NO_WARN),
			 -ENOMEM);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.used_bytes, 0); /* the partial mapping was undone */
	assert_int_equal(ss.full_failures, 1);
	/* Too big to bounce at all: -EINVAL. */
	dmamap_sg_init_table(sg, 1);
	dmamap_sg_set_buf(&sg[0], tu_alloc_high(&e, 65, NULL), 256 * 1024 + 4096);
	t.orig_nents = 1;
	assert_int_equal(dmamap_map_sgtable(d.dev, &t, DMAMAP_TO_DEVICE, 0), -EINVAL);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_misuse(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 32, true, DMAMAP_BUS_PCI);
	int on_stack;
	assert_int_equal(dmamap_map_single(d.dev, &on_stack, 4, DMAMAP_TO_DEVICE),
			 DMAMAP_MAPPING_ERROR);
	assert_true(tu_log_has(&e, "not in RAM's linear map"));
	uint8_t *b = tu_alloc_low(&e, 1, NULL);
	assert_int_equal(dmamap_map_single(d.dev, b, 0, DMAMAP_TO_DEVICE), DMAMAP_MAPPING_ERROR);
	assert_int_equal(dmamap_map_single(d.dev, b, 8, DMAMAP_NONE), DMAMAP_MAPPING_ERROR);
	assert_true(tu_log_has(&e, "invalid direction 3"));
	dmamap_unmap_single(d.dev, DMAMAP_MAPPING_ERROR, 8, DMAMAP_TO_DEVICE);
	assert_true(tu_log_has(&e, "unmap of DMAMAP_MAPPING_ERROR"));
	assert_int_equal(dmamap_map_single(NULL, b, 8, DMAMAP_TO_DEVICE), DMAMAP_MAPPING_ERROR);
	assert_int_equal(dmamap_set_mask(NULL, 0), -EIO);
	/* Removing a device with a live mapping reports the leak. */
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, b, 8, DMAMAP_TO_DEVICE);
	assert_int_not_equal(a, DMAMAP_MAPPING_ERROR);
	uint64_t leaked = 0;
	assert_int_equal(dmamap_device_remove(d.dev, &leaked), 0);
	assert_int_equal(leaked, 1);
	assert_true(tu_log_has(&e, "removed with 1 live"));
	tu_env_fini(&e);
}

/*
 * The misuse trial: a stale unmap after the slot was reused by another
 * device, a double unmap, an unmap of an address never mapped, and a map
 * that runs past the end of RAM.  None may corrupt another mapping or wrap
 * a counter; each refusal is logged and counted.
 */
static void test_stale_and_double_unmap(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev a, b, w;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &a, "nic", 32, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &b, "disk", 32, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &w, "wide", 64, true, DMAMAP_BUS_PCI);
	uint64_t pa, pb, pc;
	uint8_t *xa = tu_alloc_high(&e, 1, &pa), *xb = tu_alloc_high(&e, 1, &pb);
	uint8_t *xc = tu_alloc_high(&e, 1, &pc);
	tu_fill(xa, 4096, 1);
	tu_fill(xb, 4096, 2);
	tu_fill(xc, 4096, 3);
	dmamap_dma_addr_t da = dmamap_map_single(a.dev, xa, 4096, DMAMAP_TO_DEVICE);
	assert_int_not_equal(da, DMAMAP_MAPPING_ERROR);
	dmamap_unmap_single(a.dev, da, 4096, DMAMAP_TO_DEVICE);
	/* The freed slot is the hot one: the disk gets it. */
	dmamap_dma_addr_t db = dmamap_map_single(b.dev, xb, 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(db, da);
	/* The nic's stale unmap of its old handle: refused, the disk's slot kept. */
	dmamap_unmap_single(a.dev, da, 4096, DMAMAP_TO_DEVICE);
	assert_true(tu_log_has(&e, "nic: unmap of 0x"));
	assert_true(tu_log_has(&e, "refused"));
	struct dmamap_device_stats st;
	dmamap_device_get_stats(a.dev, &st);
	assert_int_equal(st.live_mappings, 0);
	assert_int_equal(st.refused_unmaps, 1);
	struct dmamap_swiotlb_stats ps;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ps);
	assert_int_equal(ps.used_bytes, 4096);
	assert_int_equal(ps.refused_unmaps, 1);
	/* The nic maps again: another slot; the disk still reads its own bytes. */
	dmamap_dma_addr_t dc = dmamap_map_single(a.dev, xc, 4096, DMAMAP_TO_DEVICE);
	assert_int_not_equal(dc, DMAMAP_MAPPING_ERROR);
	assert_int_not_equal(dc, db);
	uint8_t got[4096];
	dev_reads(&b, db, got, sizeof(got));
	assert_int_equal(tu_check(got, sizeof(got), 2), -1);
	/* A size that is not the mapping's, an address inside it, one never mapped. */
	dmamap_unmap_single(b.dev, db, 2048, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(b.dev, db + 2048, 2048, DMAMAP_TO_DEVICE);
	dmamap_phys_addr_t pool_start;
	uint64_t pool_size;
	assert_int_equal(dmamap_swiotlb_get_pool_range(e.ctx, NULL, 0, &pool_start, &pool_size), 0);
	dmamap_unmap_single(b.dev, pool_start + pool_size / 2, 4096, DMAMAP_TO_DEVICE);
	dmamap_device_get_stats(b.dev, &st);
	assert_int_equal(st.refused_unmaps, 3);
	assert_int_equal(st.live_mappings, 1);
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ps);
	assert_int_equal(ps.used_bytes, 8192);
	/* The right unmap, then the same again: the second is refused. */
	dmamap_unmap_single(b.dev, db, 4096, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(b.dev, db, 4096, DMAMAP_TO_DEVICE);
	dmamap_device_get_stats(b.dev, &st);
	assert_int_equal(st.refused_unmaps, 4);
	assert_int_equal(st.live_mappings, 0);
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ps);
	assert_int_equal(ps.used_bytes, 4096);
	assert_int_equal(ps.refused_unmaps, 5);
	dmamap_unmap_single(a.dev, dc, 4096, DMAMAP_TO_DEVICE);
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ps);
	assert_int_equal(ps.used_bytes, 0);
	/* A map that runs past the end of RAM (9 GiB): refused on a device that never bounces. */
	assert_int_equal(dmamap_map_single(w.dev, xa, 1ULL << 40, DMAMAP_TO_DEVICE),
			 DMAMAP_MAPPING_ERROR);
	assert_true(tu_log_has(&e, "past the end of RAM"));
	/* A scatterlist entry 1 MiB below the end of RAM that is 4 GiB - 1 long, after a good one. */
	uint64_t ptop;
	uint8_t *top = tu_alloc(&e, 1, 9 * TU_GIB - TU_MIB, 9 * TU_GIB - 1, &ptop);
	struct dmamap_sg sg[2] = { { .cpu = xb, .length = 4096 }, { .cpu = top, .length = ~0u } };
	assert_int_equal(dmamap_map_sg(w.dev, sg, 2, DMAMAP_TO_DEVICE), 0);
	tu_free(&e, top, 1);
	dmamap_device_get_stats(w.dev, &st);
	assert_int_equal(st.map_failures, 2);
	assert_int_equal(st.live_mappings, 0);
	tu_free(&e, xa, 1);
	tu_free(&e, xb, 1);
	tu_free(&e, xc, 1);
	tu_dev_remove(&a);
	tu_dev_remove(&b);
	tu_dev_remove(&w);
	tu_env_fini(&e);
}

static void test_dma_pool(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 32, false, DMAMAP_BUS_PCI);
	assert_null(dmamap_pool_create("bad", d.dev, 64, 3, 0));
	assert_null(dmamap_pool_create("bad", d.dev, 64, 8, 32));
	/* 96-byte blocks, 64-byte aligned (so 128 apart), never crossing 1 KiB. */
	struct dmamap_pool *p = dmamap_pool_create("desc", d.dev, 96, 64, 1024);
	assert_non_null(p);
	void *blk[100];
	dmamap_dma_addr_t h[100];
	for (int i = 0; i < 100; i++) {
		blk[i] = dmamap_pool_zalloc(p, &h[i]);
		assert_non_null(blk[i]);
		assert_int_equal(h[i] % 64, 0);
		assert_int_equal(h[i] / 1024, (h[i] + 95) / 1024);
		tu_assert_le(h[i] + 95, 0xffffffffULL);
		for (int j = 0; j < i; j++)
			assert_true(h[j] + 96 <= h[i] || h[i] + 96 <= h[j]);
		/* Coherent: the device sees CPU writes without a sync. */
		tu_fill(blk[i], 96, 40 + (uint32_t)i);
		uint8_t got[96];
		assert_int_equal(sim_dma_read(d.sd, h[i], got, 96), 0);
		assert_int_equal(tu_check(got, 96, 40 + (uint32_t)i), -1);
	}
	assert_int_equal(dmamap_pool_destroy(p), -EBUSY);
	assert_true(tu_log_has(&e, "destroyed with 100 busy blocks"));
	assert_int_equal(dmamap_pool_free(p, blk[0], h[0] + 64), -EINVAL);
	for (int i = 0; i < 100; i++)
		assert_int_equal(dmamap_pool_free(p, blk[i], h[i]), 0);
	assert_int_equal(dmamap_pool_free(p, blk[5], h[5]), -EINVAL); /* double free */
	assert_int_equal(dmamap_pool_destroy(p), 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.live_mappings, 0);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

static void test_restricted_pool(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	struct dmamap_swiotlb *pool;
	tu_env_init(&e, NULL);
	assert_int_equal(sim_reserve(e.m, 0x40000000ULL, 2 * TU_MIB), 0);
	assert_int_equal(dmamap_restricted_pool_create(e.ctx, 0x40000000ULL, 2 * TU_MIB, &pool), 0);
	struct sim_device_desc sd = { .name = "wifi", .bus = DMAMAP_BUS_PLATFORM,
				      .addr_bits = 32, .coherent = true };
	tu_dev_add_desc(&e, &d, &sd, pool);
	assert_string_equal(dmamap_device_ops_name(d.dev), "swiotlb");
	uint64_t lphys;
	uint8_t *lo = tu_alloc_low(&e, 1, &lphys);
	tu_fill(lo, 700, 70);
	/* Reachable memory bounces anyway: the pool is the only memory it may touch. */
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, lo, 700, DMAMAP_TO_DEVICE);
	tu_assert_ge(a, 0x40000000ULL);
	tu_assert_lt(a + 699, 0x40000000ULL + 2 * TU_MIB);
	uint8_t got[700];
	assert_int_equal(sim_dma_read(d.sd, a, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 70), -1);
	dmamap_unmap_single(d.dev, a, 700, DMAMAP_TO_DEVICE);
	dmamap_dma_addr_t h;
	void *ring = dmamap_alloc_coherent(d.dev, 8192, &h);
	assert_non_null(ring);
	tu_assert_ge(h, 0x40000000ULL);
	tu_assert_lt(h + 8191, 0x40000000ULL + 2 * TU_MIB);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), -EBUSY); /* busy slots */
	dmamap_free_coherent(d.dev, 8192, ring, h);
	/* A coherent mask the pool lies beyond: refused, nothing held (found by
	 * fuzz_api: the block used to be handed out at bus 0x40000000). */
	struct dmamap_swiotlb_stats ps;
	assert_int_equal(dmamap_set_coherent_mask(d.dev, DMAMAP_BIT_MASK(30)), 0);
	assert_null(dmamap_alloc_coherent(d.dev, 4096, &h));
	assert_true(tu_log_has(&e, "beyond the coherent mask"));
	dmamap_swiotlb_get_stats(e.ctx, pool, &ps);
	assert_int_equal(ps.used_bytes, 0);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), -EBUSY); /* a user */
	assert_true(tu_log_has(&e, "still uses it"));
	tu_dev_remove(&d);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), 0);
	tu_env_fini(&e);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(dmamap_strerror(-EIO), "EIO");
	assert_string_equal(dmamap_strerror(-EBUSY), "EBUSY");
	assert_string_equal(dmamap_strerror(-9999), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bootargs),
		cmocka_unit_test(test_ctx_bad_bootargs),
		cmocka_unit_test(test_swiotlb_detection),
		cmocka_unit_test(test_direct_no_bounce),
		cmocka_unit_test(test_bounce_high_only),
		cmocka_unit_test(test_no_pool_fails),
		cmocka_unit_test(test_masks),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_dma_ranges),
		cmocka_unit_test(test_noncoherent_syncs),
		cmocka_unit_test(test_truncation_caught),
		cmocka_unit_test(test_scatterlist),
		cmocka_unit_test(test_sg_pool_exhausted),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_stale_and_double_unmap),
		cmocka_unit_test(test_dma_pool),
		cmocka_unit_test(test_restricted_pool),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
