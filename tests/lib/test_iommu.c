/*
 * tests/lib/test_iommu.c - the dma-iommu backend (src/iommu.c) on the
 * simulated IOMMU: IOVAs, strict and lazy invalidation, the PCI 32-bit
 * first rule, scatterlist coalescing, untrusted bouncing, coherent memory
 * from scattered pages, passthrough, and the hybrid windows of seed 004.
 *
 * Owns: proofs through the public API plus what the simulated device and
 * IOMMU observed (bytes, faults, stale IOTLB hits, invalidations).
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmamap/sim/iommu.h>

struct ifx {
	struct tu_env e;
	int iommu, dom;
};

/* A machine with RAM low and high, one IOMMU and one translated domain. */
static void ifx_init_opts(struct ifx *f, const char *bootargs, uint64_t ram_gib, bool virtual_clock,
			  bool deferred_thread)
{
	tu_env_init(&f->e, &(struct tu_opts){ .ram_gib = ram_gib ? ram_gib : 8,
					      .virtual_clock = virtual_clock,
					      .deferred_thread = deferred_thread,
					      .bootargs = bootargs });
	assert_int_equal(sim_iommu_create(f->e.m, &(struct sim_iommu_desc){ .name = "smmu0" },
					  &f->iommu), 0);
	assert_int_equal(sim_iommu_domain_create(f->e.m, f->iommu, SIM_IOMMU_DOMAIN_TRANSLATED,
						 &f->dom), 0);
}

static void ifx_init_clock(struct ifx *f, const char *bootargs, uint64_t ram_gib, bool virtual_clock)
{
	ifx_init_opts(f, bootargs, ram_gib, virtual_clock, false);
}

/*
 * The virtual clock by default: a lazy domain's 10 ms timeout must not
 * depend on how fast the host runs the test (under ASan on a loaded
 * machine 257 lazy unmaps took longer than 10 ms and flushed twice).
 */
static void ifx_init(struct ifx *f, const char *bootargs, uint64_t ram_gib)
{
	ifx_init_clock(f, bootargs, ram_gib, true);
}

/* Firmware: the device sits in the domain; the driver sets its mask. */
static void ifx_dev(struct ifx *f, struct tu_dev *d, const char *name, unsigned int bits,
		    bool coherent, struct dmamap_device_desc *extra)
{
	struct sim_device_desc sd = { .name = name, .bus = DMAMAP_BUS_PCI, .addr_bits = 64,
				      .coherent = coherent };
	assert_int_equal(sim_device_create(f->e.m, &sd, &d->sd), 0);
	assert_int_equal(sim_iommu_attach(d->sd, f->dom), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	if (extra) {
		dd.untrusted = extra->untrusted;
		memcpy(dd.iommu_reserved, extra->iommu_reserved, sizeof(dd.iommu_reserved));
		dd.niommu_reserved = extra->niommu_reserved;
		dd.iommu_window_base = extra->iommu_window_base;
		dd.iommu_window_size = extra->iommu_window_size;
		dd.has_bypass = extra->has_bypass;
		dd.bypass_offset = extra->bypass_offset;
		dd.iommu_linear = extra->iommu_linear;
	}
	dd.iommu_id = f->iommu;
	dd.iommu_domain = f->dom;
	assert_int_equal(dmamap_device_add(f->e.ctx, &dd, &d->dev), 0);
	assert_int_equal(dmamap_set_mask_and_coherent(d->dev, DMAMAP_BIT_MASK(bits)), 0);
}

static void ifx_fini(struct ifx *f, struct tu_dev *devs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t leaked = 1;
		assert_int_equal(dmamap_device_remove(devs[i].dev, &leaked), 0);
		assert_int_equal(leaked, 0);
		sim_iommu_detach(devs[i].sd);
	}
	assert_int_equal(sim_iommu_domain_destroy(f->e.m, f->dom), 0);
	tu_env_fini(&f->e);
}

static struct sim_iommu_stats istats(struct ifx *f)
{
	struct sim_iommu_stats st;
	assert_int_equal(sim_iommu_get_stats(f->e.m, f->iommu, &st), 0);
	return st;
}

/* A high buffer reaches a 44-bit GPU through an IOVA below 4 GiB (PCI:
 * 32-bit first); strict unmap invalidates, so a late access faults. */
static void test_map_strict(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev gpu;
	ifx_init(&f, "iommu.strict=1", 8);
	ifx_dev(&f, &gpu, "gpu", 44, true, NULL);
	assert_string_equal(dmamap_device_ops_name(gpu.dev), "iommu");
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 2, &phys);
	tu_fill(buf + 100, 6000, 7);
	dmamap_dma_addr_t a = dmamap_map_single(gpu.dev, buf + 100, 6000, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(gpu.dev, a));
	tu_assert_lt(a, 1ULL << 32);
	assert_int_equal(a & 4095, 100);
	uint8_t got[6000];
	assert_int_equal(sim_dma_read(gpu.sd, a, got, 6000), 0);
	assert_int_equal(tu_check(got, 6000, 7), -1);
	/* TO_DEVICE is read-only for the device. */
	assert_int_equal(sim_dma_write(gpu.sd, a, got, 16), -EFAULT);
	assert_int_equal(tu_check(buf + 100, 6000, 7), -1);
	struct sim_iommu_stats before = istats(&f);
	dmamap_unmap_single(gpu.dev, a, 6000, DMAMAP_TO_DEVICE);
	struct sim_iommu_stats after = istats(&f);
	assert_int_equal(after.invalidations - before.invalidations, 1);
	assert_int_equal(sim_dma_read(gpu.sd, a, got, 16), -EFAULT);
	assert_int_equal(istats(&f).stale_hits, 0);
	tu_free(&f.e, buf, 2);
	ifx_fini(&f, &gpu, 1);
}

/* Lazy: unmap leaves the IOTLB alone (a stale access succeeds, as real
 * hardware allows) until the flush queue flushes; IOVAs wait for it. */
static void test_map_lazy(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev nic;
	ifx_init(&f, "iommu.strict=0", 8);
	ifx_dev(&f, &nic, "nic", 64, true, NULL);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	uint8_t got[64];
	dmamap_dma_addr_t a = dmamap_map_single(nic.dev, buf, 64, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), 0); /* fills the IOTLB */
	dmamap_unmap_single(nic.dev, a, 64, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(istats(&f).invalidations, 0);
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), 0);
	assert_int_equal(istats(&f).stale_hits, 1);
	/* The IOVA is not reused while its invalidation is pending. */
	dmamap_dma_addr_t b = dmamap_map_single(nic.dev, buf, 64, DMAMAP_BIDIRECTIONAL);
	assert_int_not_equal(b, a);
	dmamap_unmap_single(nic.dev, b, 64, DMAMAP_BIDIRECTIONAL);
	/* 256 queued unmaps: the next one flushes everything at once. */
	for (int i = 0; i < 256; i++) {
		dmamap_dma_addr_t c = dmamap_map_single(nic.dev, buf, 64, DMAMAP_TO_DEVICE);
		dmamap_unmap_single(nic.dev, c, 64, DMAMAP_TO_DEVICE);
	}
	assert_int_equal(istats(&f).invalidations, 1);
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), -EFAULT);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &nic, 1);
}

/* Maps 64 bytes, lets the device read them (the IOTLB caches the IOVA), unmaps; the IOVA. */
static dmamap_dma_addr_t map_read_unmap(struct tu_dev *d, uint8_t *buf)
{
	uint8_t got[64];
	dmamap_dma_addr_t a = dmamap_map_single(d->dev, buf, 64, DMAMAP_TO_DEVICE);
	assert_int_equal(sim_dma_read(d->sd, a, got, 64), 0);
	dmamap_unmap_single(d->dev, a, 64, DMAMAP_TO_DEVICE);
	return a;
}

/*
 * Lazy: the flush queue's 10 ms timeout, on the platform's (virtual)
 * clock: an unmap flushes once the oldest queued entry is older than
 * 10 ms, not before, however few entries are queued.
 */
static void test_lazy_timeout_platform_clock(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev nic;
	ifx_init_clock(&f, "iommu.strict=0", 8, true);
	ifx_dev(&f, &nic, "nic", 64, true, NULL);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	dmamap_dma_addr_t a = dmamap_map_single(nic.dev, buf, 64, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(nic.dev, a, 64, DMAMAP_TO_DEVICE); /* queued at t = 0 */
	sim_clock_advance(f.e.m, 10000000); /* exactly 10 ms: not older than the timeout */
	dmamap_dma_addr_t b = dmamap_map_single(nic.dev, buf, 64, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(nic.dev, b, 64, DMAMAP_TO_DEVICE);
	assert_int_equal(istats(&f).invalidations, 0);
	sim_clock_advance(f.e.m, 1); /* the entry queued at 0 is now past 10 ms */
	dmamap_dma_addr_t c = dmamap_map_single(nic.dev, buf, 64, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(nic.dev, c, 64, DMAMAP_TO_DEVICE);
	assert_int_equal(istats(&f).invalidations, 1);
	assert_int_equal(sim_clock_now(f.e.m), 10000001);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &nic, 1);
}

/*
 * Linux's fq_timer: a lone lazy unmap and then quiet.  The deferred work,
 * run by the embedder on the platform's (virtual) clock, flushes the
 * domain once its oldest IOVA is older than 10 ms, not before; after that
 * the device's stale IOTLB entry is gone and its read faults.
 */
static void test_lazy_quiet_flushed_by_deferred_work(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev nic;
	ifx_init_clock(&f, "iommu.strict=0", 8, true);
	ifx_dev(&f, &nic, "nic", 64, true, NULL);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	uint8_t got[64];
	uint64_t next = 0;
	assert_int_equal(dmamap_run_deferred(f.e.ctx, &next), 0);
	assert_int_equal(next, UINT64_MAX); /* nothing pending */
	dmamap_dma_addr_t a = map_read_unmap(&nic, buf);
	sim_clock_advance(f.e.m, 4000000);
	assert_int_equal(dmamap_run_deferred(f.e.ctx, &next), 0);
	assert_int_equal(next, 6000001); /* due when older than 10 ms */
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), 0); /* still stale, as lazy allows */
	sim_clock_advance(f.e.m, 6000001);
	assert_int_equal(dmamap_run_deferred(f.e.ctx, &next), 1);
	assert_int_equal(next, UINT64_MAX);
	assert_int_equal(istats(&f).invalidations, 1);
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), -EFAULT);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &nic, 1);
}

/*
 * The default: the library's own timer thread does the same on the host's
 * clock.  Shown causally (the invalidation happens with no further call
 * into the library), not by timing: the wait is bounded only so that a
 * broken thread fails the test instead of hanging it.
 */
static void test_lazy_quiet_flushed_by_timer_thread(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev nic;
	ifx_init_opts(&f, "iommu.strict=0", 8, false, true);
	ifx_dev(&f, &nic, "nic", 64, true, NULL);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	uint8_t got[64];
	dmamap_dma_addr_t a = map_read_unmap(&nic, buf);
	for (int i = 0; i < 60000 && istats(&f).invalidations == 0; i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	assert_int_equal(istats(&f).invalidations, 1);
	assert_int_equal(sim_dma_read(nic.sd, a, got, 64), -EFAULT);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &nic, 1);
}

/*
 * The flush queue's counters (Linux's fq_flush_start_cnt and
 * fq_flush_finish_cnt): an IOVA queued by another CPU while a flush is
 * between the hardware invalidation and its completion count must not be
 * taken as covered by that flush.  The hook runs in that window: CPU 1
 * maps, the device caches the translation in the IOTLB, CPU 1 unmaps
 * (queued).  Then CPU 1 keeps mapping and unmapping other pages: with one
 * "flushes completed" counter the reap freed the queued IOVA at once, a
 * new mapping got it for another page, and the device read the old page
 * through the stale IOTLB entry.
 */
struct fq_race {
	struct tu_dev *d;
	uint8_t *victim;
	dmamap_dma_addr_t iova;
	int fired;
};

static void fq_race_hook(void *arg, int domain_id)
{
	struct fq_race *r = arg;
	(void)domain_id;
	if (r->fired++)
		return;
	unsigned int cpu = dmamap_current_cpu();
	dmamap_set_cpu(1);
	r->iova = map_read_unmap(r->d, r->victim);
	dmamap_set_cpu(cpu);
}

static void test_lazy_flush_counter_race(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev nic;
	ifx_init_clock(&f, "iommu.strict=0", 8, true);
	ifx_dev(&f, &nic, "nic", 64, true, NULL);
	uint64_t phys;
	uint8_t *victim = tu_alloc_high(&f.e, 1, &phys), *other = tu_alloc_high(&f.e, 1, &phys);
	memset(victim, 0x11, 64);
	memset(other, 0x22, 64);
	struct fq_race r = { &nic, victim, 0, 0 };
	sim_iommu_set_flush_hook(f.e.m, fq_race_hook, &r);
	/* CPU 0 fills its queue: the 257th unmap flushes, and the hook runs. */
	dmamap_set_cpu(0);
	for (int i = 0; i < 257; i++) {
		dmamap_dma_addr_t c = dmamap_map_single(nic.dev, other, 64, DMAMAP_TO_DEVICE);
		dmamap_unmap_single(nic.dev, c, 64, DMAMAP_TO_DEVICE);
	}
	assert_int_equal(r.fired, 1);
	sim_iommu_set_flush_hook(f.e.m, NULL, NULL);
	/* CPU 1 maps other pages: none may get the IOVA still cached for the victim. */
	dmamap_set_cpu(1);
	for (int i = 0; i < 64; i++) {
		dmamap_dma_addr_t c = dmamap_map_single(nic.dev, other, 64, DMAMAP_TO_DEVICE);
		assert_int_not_equal(c, r.iova);
		uint8_t got[64];
		assert_int_equal(sim_dma_read(nic.sd, c, got, 64), 0);
		assert_int_equal(got[0], 0x22);
		dmamap_unmap_single(nic.dev, c, 64, DMAMAP_TO_DEVICE);
	}
	assert_int_equal(istats(&f).stale_hits, 0);
	dmamap_set_cpu(0);
	tu_free(&f.e, victim, 1);
	tu_free(&f.e, other, 1);
	ifx_fini(&f, &nic, 1);
}

/* PCI devices try a 32-bit IOVA first and move to their full mask for
 * good after the first miss. */
static void test_32bit_first(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	struct dmamap_device_desc x = { .niommu_reserved = 1 };
	/* Leave 1 MiB of 32-bit IOVA space: 255 pages (IOVA 0 is never used). */
	x.iommu_reserved[0] = (struct dmamap_dma_range){ .dma = 1 << 20,
							 .size = (1ULL << 32) - (1 << 20) };
	ifx_init(&f, "iommu.strict=1", 8);
	ifx_dev(&f, &d, "hba", 48, true, &x);
	uint64_t phys;
	uint8_t *buf = tu_alloc_low(&f.e, 1, &phys);
	dmamap_dma_addr_t a[256];
	for (int i = 0; i < 256; i++) {
		a[i] = dmamap_map_single(d.dev, buf, 4096, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(d.dev, a[i]));
		if (i < 255)
			tu_assert_lt(a[i], 1 << 20);
	}
	tu_assert_ge(a[255], 1ULL << 32);
	assert_true(tu_log_has(&f.e, "using 48-bit DMA addresses"));
	for (int i = 0; i < 256; i++)
		dmamap_unmap_single(d.dev, a[i], 4096, DMAMAP_TO_DEVICE);
	/*
	 * The switch sticks: 256 KiB (too large for the IOVA caches) would fit
	 * in the free low megabyte, yet goes high: no 32-bit try any more.
	 */
	uint8_t *big = tu_alloc_low(&f.e, 64, &phys);
	dmamap_dma_addr_t b = dmamap_map_single(d.dev, big, 256 << 10, DMAMAP_TO_DEVICE);
	tu_assert_ge(b, 1ULL << 32);
	dmamap_unmap_single(d.dev, b, 256 << 10, DMAMAP_TO_DEVICE);
	tu_free(&f.e, big, 64);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &d, 1);
}

/* iommu.forcedac=1: a PCI device's IOVAs come from its full mask at once
 * (the top of the space, as the allocator hands out top-down), and a
 * 32-bit device's still stay below 4 GiB. */
static void test_forcedac(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d[2];
	ifx_init(&f, "iommu.strict=1 iommu.forcedac=1", 8);
	ifx_dev(&f, &d[0], "nvme", 48, true, NULL);
	ifx_dev(&f, &d[1], "old-hba", 32, true, NULL);
	uint64_t phys;
	uint8_t *buf = tu_alloc_low(&f.e, 1, &phys);
	dmamap_dma_addr_t a = dmamap_map_single(d[0].dev, buf, 4096, DMAMAP_TO_DEVICE);
	dmamap_dma_addr_t b = dmamap_map_single(d[1].dev, buf, 4096, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d[0].dev, a));
	assert_false(dmamap_mapping_error(d[1].dev, b));
	tu_assert_ge(a, 1ULL << 32);
	tu_assert_lt(a, 1ULL << 48);
	tu_assert_lt(b, 1ULL << 32);
	assert_false(tu_log_has(&f.e, "32-bit IOVA space full"));
	dmamap_unmap_single(d[0].dev, a, 4096, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d[1].dev, b, 4096, DMAMAP_TO_DEVICE);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, d, 2);
}

/* Scattered pages become one bus segment, split by max_segment_size and
 * the boundary; a segment starting mid-page starts a new one. */
static void test_sg_coalesce(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	ifx_init(&f, NULL, 8);
	ifx_dev(&f, &d, "blk", 64, true, NULL);
	uint8_t *pg[8];
	struct dmamap_sg sg[8];
	dmamap_sg_init_table(sg, 8);
	for (int i = 0; i < 8; i++) {
		uint64_t p;
		/* Every other page: never physically contiguous. */
		pg[i] = tu_alloc_high(&f.e, 2, &p);
		tu_fill(pg[i], 4096, 100 + (uint32_t)i);
		dmamap_sg_set_buf(&sg[i], pg[i], 4096);
	}
	int n = dmamap_map_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	assert_int_equal(n, 1);
	assert_int_equal(sg[0].dma_length, 32768);
	uint8_t got[4096];
	for (int i = 0; i < 8; i++) {
		assert_int_equal(sim_dma_read(d.sd, sg[0].dma_address + 4096 * (uint64_t)i, got, 4096), 0);
		assert_int_equal(tu_check(got, 4096, 100 + (uint32_t)i), -1);
	}
	dmamap_unmap_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);

	assert_int_equal(dmamap_set_max_seg_size(d.dev, 8192), 0);
	n = dmamap_map_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	assert_int_equal(n, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(sg[i].dma_length, 8192);
	dmamap_unmap_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);

	assert_int_equal(dmamap_set_max_seg_size(d.dev, 65536), 0);
	assert_int_equal(dmamap_set_seg_boundary(d.dev, 0x3fff), 0);
	dmamap_sg_set_buf(&sg[2], pg[2] + 512, 3584); /* mid-page: breaks the run */
	n = dmamap_map_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	/* [0,8K) | [8K+512,16K) | [16K,32K): merged up to each 16 KiB edge. */
	assert_int_equal(n, 3);
	assert_int_equal(sg[0].dma_length, 8192);
	assert_int_equal(sg[1].dma_length, 7680);
	assert_int_equal(sg[2].dma_length, 16384);
	for (int i = 0; i < n; i++) {
		uint64_t s = sg[i].dma_address, e = s + sg[i].dma_length - 1;
		assert_int_equal(s & ~0x3fffULL, e & ~0x3fffULL);
	}
	assert_int_equal(sim_dma_read(d.sd, sg[1].dma_address, got, 3584), 0);
	assert_memory_equal(got, pg[2] + 512, 3584);
	dmamap_unmap_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	for (int i = 0; i < 8; i++)
		tu_free(&f.e, pg[i], 2);
	ifx_fini(&f, &d, 1);
}

/*
 * A non-coherent device writes a coalesced list of scattered pages and the
 * driver syncs it for the CPU segment by segment: every page, not only the
 * first of each bus segment, must show the device's bytes (fuzz_api found
 * syncs treating a bus segment as one physical range).
 */
static void test_sg_sync_noncoherent(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	ifx_init(&f, NULL, 8);
	ifx_dev(&f, &d, "dma", 64, false, NULL);
	uint8_t *pg[4];
	struct dmamap_sg sg[4];
	dmamap_sg_init_table(sg, 4);
	for (int i = 0; i < 4; i++) {
		uint64_t p;
		pg[i] = tu_alloc_high(&f.e, 2, &p); /* every other page */
		memset(pg[i], 0x55, 4096);
		dmamap_sg_set_buf(&sg[i], pg[i], 4096);
	}
	int n = dmamap_map_sg(d.dev, sg, 4, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(n, 1);
	uint8_t src[16384];
	tu_fill(src, sizeof(src), 7);
	assert_int_equal(sim_dma_write(d.sd, sg[0].dma_address, src, sizeof(src)), 0);
	dmamap_sync_sg_for_cpu(d.dev, sg, n, DMAMAP_BIDIRECTIONAL);
	for (int i = 0; i < 4; i++)
		assert_memory_equal(pg[i], src + 4096 * i, 4096);
	/* And back: the CPU's new bytes reach the device on every page. */
	for (int i = 0; i < 4; i++)
		tu_fill(pg[i], 4096, 20 + (uint32_t)i);
	dmamap_sync_sg_for_device(d.dev, sg, n, DMAMAP_BIDIRECTIONAL);
	uint8_t got[4096];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(sim_dma_read(d.sd, sg[0].dma_address + 4096 * (uint64_t)i, got,
					      4096), 0);
		assert_int_equal(tu_check(got, 4096, 20 + (uint32_t)i), -1);
	}
	dmamap_unmap_sg(d.dev, sg, 4, DMAMAP_BIDIRECTIONAL);
	for (int i = 0; i < 4; i++)
		tu_free(&f.e, pg[i], 2);
	ifx_fini(&f, &d, 1);
}

/* An untrusted device given 100 bytes sees zeros around them, not the
 * rest of the page; a trusted one sees the page. */
static void test_untrusted_bounce(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev ext, in;
	struct dmamap_device_desc x = { .untrusted = true };
	ifx_init(&f, NULL, 8);
	ifx_dev(&f, &ext, "thunderbolt", 64, true, &x);
	ifx_dev(&f, &in, "internal", 64, true, NULL);
	assert_non_null(strstr(dmamap_device_ops_reason(ext.dev), "untrusted"));
	uint64_t phys;
	uint8_t *page = tu_alloc_low(&f.e, 1, &phys);
	memset(page, 0x5e, 4096);          /* the kernel's secrets */
	tu_fill(page + 200, 100, 9);       /* the grant */
	uint8_t got[4096];

	dmamap_dma_addr_t a = dmamap_map_single(ext.dev, page + 200, 100, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(ext.dev, a));
	uint64_t g = a & ~4095ULL;
	assert_int_equal(sim_dma_read(ext.sd, g, got, 4096), 0);
	assert_int_equal(tu_check(got + (a - g), 100, 9), -1);
	for (uint64_t i = 0; i < 4096; i++)
		if (i < a - g || i >= a - g + 100)
			assert_int_equal(got[i], 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(ext.dev, &st);
	assert_int_equal(st.bounced_maps, 1);
	dmamap_unmap_single(ext.dev, a, 100, DMAMAP_TO_DEVICE);
	/* An untrusted device makes its domain strict: no stale IOTLB access. */
	assert_int_equal(sim_dma_read(ext.sd, a, got, 16), -EFAULT);
	assert_int_equal(istats(&f).stale_hits, 0);

	dmamap_dma_addr_t b = dmamap_map_single(in.dev, page + 200, 100, DMAMAP_TO_DEVICE);
	assert_int_equal(sim_dma_read(in.sd, b & ~4095ULL, got, 4096), 0);
	assert_int_equal(got[0], 0x5e); /* the trusted device sees the whole page */
	dmamap_unmap_single(in.dev, b, 100, DMAMAP_TO_DEVICE);
	tu_free(&f.e, page, 1);
	struct tu_dev both[2] = { ext, in };
	ifx_fini(&f, both, 2);
}

/* Coherent memory: scattered pages, one IOVA range, one CPU range. */
static void test_coherent_scattered(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	ifx_init(&f, NULL, 8);
	ifx_dev(&f, &d, "nvme", 64, false, NULL);
	struct sim_iommu_domain_info d0;
	assert_int_equal(sim_iommu_domain_info(f.e.m, f.dom, &d0), 0);
	uint64_t pt_before = d0.pt_pages;
	uint64_t free_before = sim_free_bytes(f.e.m, SIM_ZONE_NORMAL) +
			       sim_free_bytes(f.e.m, SIM_ZONE_DMA32);
	dmamap_dma_addr_t h;
	uint8_t *cpu = dmamap_alloc_coherent(d.dev, 65536, &h);
	assert_non_null(cpu);
	tu_assert_le(h + 65535, DMAMAP_BIT_MASK(32)); /* PCI: 32-bit first */
	for (int i = 0; i < 65536; i++)
		assert_int_equal(cpu[i], 0);
	tu_fill(cpu, 65536, 3);
	uint8_t got[65536];
	assert_int_equal(sim_dma_read(d.sd, h, got, 65536), 0);
	assert_int_equal(tu_check(got, 65536, 3), -1);
	tu_fill(got, 65536, 4);
	assert_int_equal(sim_dma_write(d.sd, h, got, 65536), 0);
	assert_int_equal(tu_check(cpu, 65536, 4), -1);
	dmamap_free_coherent(d.dev, 65536, cpu, h);
	/*
	 * A second free (no checker on) is refused before the backend: it
	 * would give the IOVA back twice, and two later mappings would share it.
	 */
	dmamap_free_coherent(d.dev, 65536, cpu, h);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.refused_unmaps, 1);
	assert_int_equal(st.live_mappings, 0);
	dmamap_dma_addr_t h1, h2;
	uint8_t *c1 = dmamap_alloc_coherent(d.dev, 65536, &h1);
	uint8_t *c2 = dmamap_alloc_coherent(d.dev, 65536, &h2);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_true(h1 + 65536 <= h2 || h2 + 65536 <= h1);
	dmamap_free_coherent(d.dev, 65536, c2, h2);
	dmamap_free_coherent(d.dev, 65536, c1, h1);
	/* Everything came back but the IOMMU's page-table pages (kept, as
	 * Linux's io-pgtable keeps them). */
	struct sim_iommu_domain_info di;
	assert_int_equal(sim_iommu_domain_info(f.e.m, f.dom, &di), 0);
	assert_int_equal(sim_free_bytes(f.e.m, SIM_ZONE_NORMAL) +
			 sim_free_bytes(f.e.m, SIM_ZONE_DMA32) + (di.pt_pages - pt_before) * 4096,
			 free_before);
	ifx_fini(&f, &d, 1);
}

/* iommu=pt: the domain maps all RAM 1:1; the device is dma-direct. */
static void test_passthrough(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	ifx_init(&f, "iommu=pt", 8);
	ifx_dev(&f, &d, "nic", 64, true, NULL);
	assert_string_equal(dmamap_device_ops_name(d.dev), "direct");
	assert_non_null(strstr(dmamap_device_ops_reason(d.dev), "passthrough"));
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	tu_fill(buf, 4096, 1);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, buf, 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(a, phys);
	uint8_t got[4096];
	assert_int_equal(sim_dma_read(d.sd, a, got, 4096), 0);
	assert_int_equal(tu_check(got, 4096, 1), -1);
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &d, 1);
}

/* Seed 004: the compressed linear window.  RAM 0-3 GiB and 4-9 GiB (a
 * hole) mapped once just above 4 GiB; 40-, 44- and 47-bit devices reach it
 * and map with no IOMMU work; a 32-bit device in the same domain gets the
 * 32-bit translated window, never a wrong address. */
static void test_compressed_linear(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d[4];
	struct dmamap_device_desc x = { .iommu_linear = true };
	ifx_init(&f, "iommu.strict=1", 8);
	const unsigned int bits[4] = { 40, 44, 47, 32 };
	for (int i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "gpu%u", bits[i]);
		ifx_dev(&f, &d[i], name, bits[i], true, &x);
	}
	for (int i = 0; i < 3; i++) {
		assert_string_equal(dmamap_device_ops_name(d[i].dev), "iommu-bypass");
		assert_non_null(strstr(dmamap_device_ops_reason(d[i].dev), "compressed linear"));
	}
	assert_string_equal(dmamap_device_ops_name(d[3].dev), "iommu");
	uint64_t lo, hi;
	uint8_t *bl = tu_alloc_low(&f.e, 1, &lo), *bh = tu_alloc_high(&f.e, 1, &hi);
	tu_fill(bl, 4096, 21);
	tu_fill(bh, 4096, 22);
	struct sim_iommu_stats before = istats(&f);
	uint8_t got[4096];
	for (int i = 0; i < 3; i++) {
		dmamap_dma_addr_t a = dmamap_map_single(d[i].dev, bl, 4096, DMAMAP_TO_DEVICE);
		dmamap_dma_addr_t b = dmamap_map_single(d[i].dev, bh, 4096, DMAMAP_TO_DEVICE);
		/* Low RAM at 4 GiB + its address; high RAM right after the low 3 GiB,
		 * 1 GiB aligned: the 1 GiB hole is skipped. */
		assert_int_equal(a, (4ULL << 30) + lo);
		assert_int_equal(b, (4ULL << 30) + (3ULL << 30) + (hi - (4ULL << 30)));
		assert_int_equal(sim_dma_read(d[i].sd, a, got, 4096), 0);
		assert_int_equal(tu_check(got, 4096, 21), -1);
		assert_int_equal(sim_dma_read(d[i].sd, b, got, 4096), 0);
		assert_int_equal(tu_check(got, 4096, 22), -1);
		dmamap_unmap_single(d[i].dev, a, 4096, DMAMAP_TO_DEVICE);
		dmamap_unmap_single(d[i].dev, b, 4096, DMAMAP_TO_DEVICE);
	}
	struct sim_iommu_stats after = istats(&f);
	assert_int_equal(after.maps, before.maps);
	assert_int_equal(after.invalidations, before.invalidations);
	/* The 32-bit device: a translated IOVA below 4 GiB, same bytes. */
	dmamap_dma_addr_t c = dmamap_map_single(d[3].dev, bh, 4096, DMAMAP_TO_DEVICE);
	tu_assert_lt(c, 1ULL << 32);
	assert_int_equal(sim_dma_read(d[3].sd, c, got, 4096), 0);
	assert_int_equal(tu_check(got, 4096, 22), -1);
	dmamap_unmap_single(d[3].dev, c, 4096, DMAMAP_TO_DEVICE);
	tu_free(&f.e, bl, 1);
	tu_free(&f.e, bh, 1);
	ifx_fini(&f, d, 4);
}

/* Seed 004: set_mask switches ops; a 64-bit streaming mask reaches the
 * bypass window while a 32-bit coherent mask keeps coherent memory in the
 * translated 32-bit window; supported() queries change nothing. */
static void test_bypass_window(void **state)
{
	(void)state;
	struct ifx f;
	struct tu_dev d;
	const uint64_t off = 1ULL << 59;
	struct dmamap_device_desc x = { .iommu_window_size = 1ULL << 32, .has_bypass = true,
					.bypass_offset = off };
	ifx_init(&f, NULL, 8);
	assert_int_equal(sim_iommu_domain_set_windows(f.e.m, f.dom, 0, 1ULL << 32, true, off,
						      16ULL << 30), 0);
	ifx_dev(&f, &d, "gpu", 32, true, &x);
	assert_string_equal(dmamap_device_ops_name(d.dev), "iommu");
	assert_int_equal(dmamap_supported(d.dev, DMAMAP_BIT_MASK(64)), 1);
	assert_string_equal(dmamap_device_ops_name(d.dev), "iommu");
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(64)), 0);
	assert_string_equal(dmamap_device_ops_name(d.dev), "iommu-bypass");
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&f.e, 1, &phys);
	tu_fill(buf, 4096, 5);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, buf, 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(a, off + phys);
	uint8_t got[4096];
	assert_int_equal(sim_dma_read(d.sd, a, got, 4096), 0);
	assert_int_equal(tu_check(got, 4096, 5), -1);
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(d.dev, 8192, &h);
	assert_non_null(ring);
	tu_assert_le(h + 8191, DMAMAP_BIT_MASK(32));
	tu_fill(ring, 8192, 6);
	uint8_t rgot[8192];
	assert_int_equal(sim_dma_read(d.sd, h, rgot, 8192), 0);
	assert_int_equal(tu_check(rgot, 8192, 6), -1);
	dmamap_free_coherent(d.dev, 8192, ring, h);
	/* Back to 32 bits: translated again. */
	assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(32)), 0);
	assert_string_equal(dmamap_device_ops_name(d.dev), "iommu");
	a = dmamap_map_single(d.dev, buf, 4096, DMAMAP_TO_DEVICE);
	tu_assert_lt(a, 1ULL << 32);
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	tu_free(&f.e, buf, 1);
	ifx_fini(&f, &d, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_strict),
		cmocka_unit_test(test_map_lazy),
		cmocka_unit_test(test_lazy_timeout_platform_clock),
		cmocka_unit_test(test_lazy_flush_counter_race),
		cmocka_unit_test(test_lazy_quiet_flushed_by_deferred_work),
		cmocka_unit_test(test_lazy_quiet_flushed_by_timer_thread),
		cmocka_unit_test(test_32bit_first),
		cmocka_unit_test(test_forcedac),
		cmocka_unit_test(test_sg_coalesce),
		cmocka_unit_test(test_sg_sync_noncoherent),
		cmocka_unit_test(test_untrusted_bounce),
		cmocka_unit_test(test_coherent_scattered),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_compressed_linear),
		cmocka_unit_test(test_bypass_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
