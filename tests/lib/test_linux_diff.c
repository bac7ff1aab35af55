/*
 * tests/test_linux_diff.c - the differences from Linux that issue 16
 * fixed (docs/LINUX-AUDIT.md, docs/DIFFERENCES.md): each test pins the
 * behaviour of the Linux function named above it, with exact addresses,
 * bytes, error codes and counters.
 *
 * Owns: one proof per fixed difference (restricted-pool and swiotlb-xen
 * coherent alignment, maps above max_mapping_size, the Xen exchange's
 * address width, dma_supported behind an IOMMU, the transient pool's
 * limit, iommu=off and swiotlb detection, a sync before a mapping's
 * start, a confidential VM's shared memory and its pool's size).  Reaches into src/ only for exact error codes (backend.h).
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/xen.h>

#include "backend.h"
#include <dmamap/sim/iommu.h>
#include "swiotlb.h"
#include <dmamap/sim/xen.h>

#define PG 4096u
#define SLOT 2048u
#define KIB 1024u

static struct dmamap_swiotlb_stats pool_stats(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool)
{
	struct dmamap_swiotlb_stats st;
	dmamap_swiotlb_get_stats(ctx, pool, &st);
	return st;
}

static struct dmamap_device_stats dev_stats(struct dmamap_device *dev)
{
	struct dmamap_device_stats st;
	dmamap_device_get_stats(dev, &st);
	return st;
}

/* ---- 1a: restricted-pool coherent allocations (kernel/dma/swiotlb.c: swiotlb_alloc) ---- */

/*
 * Since v6.9 swiotlb_alloc asks for slots aligned to the allocation's
 * order; the slot count is not rounded up.  A 1 MiB pool at a 1 MiB
 * boundary: 4 KiB at +0, then 8 KiB must skip +0x1000 for +0x2000, then
 * 16 KiB lands at +0x4000 (slots 8..15), and 12 KiB (order 2) at +0x8000
 * while taking only 6 slots.
 */
static void test_restricted_coherent_order_aligned(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, NULL);
	uint64_t rphys;
	assert_int_equal(sim_alloc_pages(e.m, 256, 256, 0, 4 * TU_GIB - 1, &rphys), 0);
	assert_int_equal(rphys % TU_MIB, 0);
	struct dmamap_swiotlb *pool = NULL;
	assert_int_equal(dmamap_restricted_pool_create(e.ctx, rphys, TU_MIB, &pool), 0);
	struct sim_device_desc sd = { .name = "wifi", .bus = DMAMAP_BUS_PLATFORM,
				      .addr_bits = 32, .coherent = true };
	struct tu_dev d;
	tu_dev_add_desc(&e, &d, &sd, pool);

	dmamap_dma_addr_t h4, h8, h16, h12;
	void *c4 = dmamap_alloc_coherent(d.dev, 4 * KIB, &h4);
	void *c8 = dmamap_alloc_coherent(d.dev, 8 * KIB, &h8);
	void *c16 = dmamap_alloc_coherent(d.dev, 16 * KIB, &h16);
	void *c12 = dmamap_alloc_coherent(d.dev, 12 * KIB, &h12);
	assert_non_null(c4);
	assert_non_null(c8);
	assert_non_null(c16);
	assert_non_null(c12);
	assert_int_equal(h4, rphys + 0x0000);
	assert_int_equal(h8, rphys + 0x2000);
	assert_int_equal(h16, rphys + 0x4000);
	assert_int_equal(h12, rphys + 0x8000);
	assert_ptr_equal(c8, tu_sim_cpu(e.m, rphys + 0x2000));
	/* Slots: 2 + 4 + 8 + 6 (the 12 KiB block is aligned, not rounded up). */
	assert_int_equal(pool_stats(e.ctx, pool).used_bytes, 20 * SLOT);
	/* The slots the alignment skipped (+0x1000, +0xb000) are still free:
	 * a 4 KiB allocation takes the first of them. */
	dmamap_dma_addr_t hgap;
	void *cgap = dmamap_alloc_coherent(d.dev, 4 * KIB, &hgap);
	assert_non_null(cgap);
	assert_int_equal(hgap, rphys + 0x1000);

	dmamap_free_coherent(d.dev, 4 * KIB, cgap, hgap);
	dmamap_free_coherent(d.dev, 12 * KIB, c12, h12);
	dmamap_free_coherent(d.dev, 16 * KIB, c16, h16);
	dmamap_free_coherent(d.dev, 8 * KIB, c8, h8);
	dmamap_free_coherent(d.dev, 4 * KIB, c4, h4);
	struct dmamap_swiotlb_stats st = pool_stats(e.ctx, pool);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.refused_unmaps, 0);
	tu_dev_remove(&d);
	assert_int_equal(dmamap_restricted_pool_destroy(pool), 0);
	sim_free_pages(e.m, rphys, 256);
	tu_env_fini(&e);
}

/* ---- Xen fixtures ------------------------------------------------------------------ */

struct xfx {
	struct tu_env e;
	struct sim_xen *x;
};

static void xfx_init(struct xfx *f, const struct sim_ram_range *ram, unsigned int nram,
		     const struct sim_xen_desc *xd, const char *bootargs)
{
	memset(f, 0, sizeof(*f));
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 2 };
	memcpy(md.ram, ram, nram * sizeof(*ram));
	md.nram = nram;
	const char *why = NULL;
	assert_int_equal(sim_machine_create(&md, &f->e.m, &why), 0);
	int rc = sim_xen_create(f->e.m, xd, &f->x, &why);
	if (rc)
		fprintf(stderr, "sim_xen_create: %s\n", why ? why : "?");
	assert_int_equal(rc, 0);
	struct dmamap_config cfg = { .bootargs = bootargs, .log = tu_log_cb, .log_priv = &f->e };
	assert_int_equal(dmamap_ctx_create(sim_platform(f->e.m), &cfg, &f->e.ctx), 0);
}

static void xfx_dev(struct xfx *f, struct tu_dev *d, const char *name, unsigned int bits)
{
	struct sim_device_desc sd = { .name = name, .bus = DMAMAP_BUS_PCI, .addr_bits = bits,
				      .coherent = true };
	assert_int_equal(sim_device_create(f->e.m, &sd, &d->sd), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	assert_int_equal(dmamap_device_add(f->e.ctx, &dd, &d->dev), 0);
	assert_int_equal(dmamap_set_mask_and_coherent(d->dev, DMAMAP_BIT_MASK(bits)), 0);
}

static void xfx_fini(struct xfx *f, struct tu_dev *d)
{
	if (d) {
		uint64_t leaked = 1;
		assert_int_equal(dmamap_device_remove(d->dev, &leaked), 0);
		assert_int_equal(leaked, 0);
	}
	assert_int_equal(dmamap_ctx_destroy(f->e.ctx), 0);
	struct sim_xen_stats hs;
	sim_xen_get_stats(f->x, &hs);
	assert_int_equal(hs.lowmem_used, 0); /* every exchanged frame went back */
	sim_machine_destroy(f->e.m);
}

static struct dmamap_xen_stats xstats(struct xfx *f)
{
	struct dmamap_xen_stats st;
	dmamap_xen_get_stats(f->e.ctx, &st);
	return st;
}

/* ---- 1b: swiotlb-xen coherent alignment (drivers/xen/swiotlb-xen.c:
 *      xen_swiotlb_alloc_coherent, range_requires_alignment) ---------------------------- */

/*
 * A cache-coloured PV dom0 owning colours 1..8 of 16: every run of 8 guest
 * frames starts on an odd machine frame, so an order-1 block, aligned in
 * the guest, is machine-contiguous and reachable but only 4 KiB aligned on
 * the bus.  Linux exchanges it for an aligned machine block.
 */
static void test_xen_coherent_bus_aligned(void **state)
{
	(void)state;
	struct xfx f;
	const struct sim_ram_range ram[1] = { { 0, 512 * TU_MIB } };
	struct sim_xen_desc xd = { .mode = DMAMAP_XEN_PV, .initial_domain = true,
				   .p2m = SIM_XEN_P2M_COLORED, .ncolors = 16, .colors = 0x1fe };
	xd.host_ram[0] = (struct sim_ram_range){ 0, 4 * TU_GIB };
	xd.nhost = 1;
	xfx_init(&f, ram, 1, &xd, "swiotlb=512" /* a 1 MiB pool */);
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 64);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "swiotlb-xen");
	uint64_t calls = xstats(&f).exchange_calls;
	uint64_t bytes = xstats(&f).exchanged_bytes;

	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(nic.dev, 2 * PG, &h);
	assert_non_null(ring);
	assert_int_equal(h % (2 * PG), 0);
	assert_int_equal(xstats(&f).exchange_calls, calls + 1);
	assert_int_equal(xstats(&f).exchanged_bytes, bytes + 2 * PG);
	/* The device reaches exactly the CPU's block. */
	uint8_t src[2 * PG];
	tu_fill(src, sizeof(src), 31);
	assert_int_equal(sim_dma_write(nic.sd, h, src, sizeof(src)), 0);
	assert_int_equal(tu_check(ring, sizeof(src), 31), -1);
	dmamap_free_coherent(nic.dev, 2 * PG, ring, h);
	assert_int_equal(xstats(&f).exchanged_bytes, bytes);

	/* One page has nothing to align: no exchange. */
	uint8_t *one = dmamap_alloc_coherent(nic.dev, PG, &h);
	assert_non_null(one);
	assert_int_equal(xstats(&f).exchange_calls, calls + 1);
	dmamap_free_coherent(nic.dev, PG, one, h);
	xfx_fini(&f, &nic);
}

/* ---- 3: the exchange's address width (drivers/xen/swiotlb-xen.c: xen_swiotlb_fixup) ---- */

/*
 * A PV domU whose hypervisor low memory is the top of the first 4 GiB:
 * only 32-bit exchanges succeed.  Linux widens dma_bits from 18 once and
 * keeps the width for the following chunks; a halved pool starts at 18
 * again (swiotlb_init_late calls the fixup anew).
 */
static void pv_domu(struct xfx *f, uint64_t lowmem)
{
	const struct sim_ram_range ram[1] = { { 0, 6 * TU_GIB } };
	struct sim_xen_desc xd = { .mode = DMAMAP_XEN_PV, .initial_domain = false,
				   .p2m = SIM_XEN_P2M_SCATTERED, .seed = 3,
				   .lowmem_bytes = lowmem };
	xfx_init(f, ram, 1, &xd, NULL);
}

static void test_xen_exchange_width_carried(void **state)
{
	(void)state;
	struct xfx f;
	pv_domu(&f, 128 * TU_MIB);
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 32);
	struct dmamap_xen_stats xs = xstats(&f);
	/* The late pool: 4 MiB (swiotlb_init_late's one page-allocator block). */
	assert_int_equal(xs.pool_bytes, 4 * TU_MIB);
	/* 18..31 refused once, then 16 chunks at 32 bits. */
	assert_int_equal(xs.exchange_failures, 14);
	assert_int_equal(xs.exchange_calls, 16 + 14);
	assert_int_equal(xs.exchanged_bytes, 4 * TU_MIB);
	struct sim_xen_stats hs;
	sim_xen_get_stats(f.x, &hs);
	assert_int_equal(hs.exchange_failures, 14);
	assert_int_equal(hs.exchanges, 16);
	xfx_fini(&f, &nic);

	/*
	 * 3 MiB of low memory: the 4 MiB pool gets 12 chunks (14 + 1 + 11
	 * calls), the 13th fails at 32 bits, and the 2 MiB pool starts at 18
	 * bits again (14 + 1 + 7 calls).
	 */
	pv_domu(&f, 3 * TU_MIB);
	xfx_dev(&f, &nic, "nic", 32);
	xs = xstats(&f);
	assert_int_equal(xs.pool_bytes, 2 * TU_MIB);
	assert_int_equal(xs.exchange_failures, 14 + 1 + 14);
	assert_int_equal(xs.exchange_calls, (14 + 1 + 11 + 1) + (14 + 1 + 7));
	assert_int_equal(xs.exchanged_bytes, 2 * TU_MIB);
	assert_true(tu_log_has(&f.e, "trying a pool of 2048 KiB"));
	xfx_fini(&f, &nic);
}

/* ---- 2: maps above max_mapping_size (kernel/dma/swiotlb.c: swiotlb_tbl_map_single) ---- */

/*
 * swiotlb_max_mapping_size is a query: the map fails only when no run of
 * slots can hold the size plus the min_align_mask offset.  With
 * min_align_mask 0xfff the query says 252 KiB, yet 256 KiB from a 4 KiB
 * aligned buffer fits one segment exactly; from offset 0x400 it cannot.
 */
static void test_map_above_max_mapping_size(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=force" });
	struct tu_dev d;
	tu_dev_add(&e, &d, "nvme", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0xfff), 0);
	assert_int_equal(dmamap_max_mapping_size(d.dev), 256 * KIB - 4 * KIB);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&e, 65, &phys);
	const size_t n = 256 * KIB;
	tu_fill(buf, n, 5);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, buf, n, DMAMAP_BIDIRECTIONAL);
	assert_false(dmamap_mapping_error(d.dev, a));
	/* The whole of one segment: the pool is segment aligned. */
	assert_int_equal(a % (256 * KIB), 0);
	assert_true(dmamap_swiotlb_find_pool(e.ctx, NULL, a, NULL, NULL, NULL) == 0);
	uint8_t *got = malloc(n);
	assert_non_null(got);
	assert_int_equal(sim_dma_read(d.sd, a, got, n), 0);
	assert_int_equal(tu_check(got, n, 5), -1);
	tu_fill(got, n, 6);
	assert_int_equal(sim_dma_write(d.sd, a, got, n), 0);
	dmamap_unmap_single(d.dev, a, n, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(tu_check(buf, n, 6), -1);
	free(got);

	/* From offset 0x400: 257 KiB of slots, more than a segment: -EINVAL, not "full". */
	dmamap_dma_addr_t dma = 0x1234;
	assert_int_equal(dm_backend_map_phys(d.dev, phys + 0x400, n, DMAMAP_TO_DEVICE, 0, &dma),
			 -EINVAL);
	assert_int_equal(dma, 0x1234);
	assert_true(tu_log_has(&e, "nvme: swiotlb: mapping of 262144 bytes exceeds the maximum 258048"));
	/* The largest that fits from there: 256 KiB - 0x400. */
	a = dmamap_map_single(d.dev, buf + 0x400, n - 0x400, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d.dev, a));
	assert_int_equal(a & 0xfff, 0x400);
	dmamap_unmap_single(d.dev, a, n - 0x400, DMAMAP_TO_DEVICE);
	/* Never anything above a segment. */
	assert_int_equal(dm_backend_map_phys(d.dev, phys, n + 1, DMAMAP_TO_DEVICE, 0, &dma),
			 -EINVAL);

	struct dmamap_swiotlb_stats st = pool_stats(e.ctx, NULL);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.full_failures, 0);
	assert_int_equal(st.bounced_bytes, n + (n - 0x400));
	struct dmamap_device_stats ds = dev_stats(d.dev);
	assert_int_equal(ds.bounced_maps, 2);
	tu_free(&e, buf, 65);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- 5: dma_supported behind an IOMMU (kernel/dma/mapping.c: dma_supported) ---- */

static void iommu_dev(struct tu_env *e, int iommu, int dom, struct tu_dev *d)
{
	struct sim_device_desc sd = { .name = "fpga", .bus = DMAMAP_BUS_PCI, .addr_bits = 64,
				      .coherent = true };
	assert_int_equal(sim_device_create(e->m, &sd, &d->sd), 0);
	assert_int_equal(sim_iommu_attach(d->sd, dom), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	dd.iommu_id = iommu;
	dd.iommu_domain = dom;
	assert_int_equal(dmamap_device_add(e->ctx, &dd, &d->dev), 0);
}

/*
 * A dma-iommu device accepts any mask (the IOMMU puts the IOVA under it);
 * only a dma-direct device, identity domains included, must reach
 * ZONE_DMA (16 MiB here) with a narrow mask.
 */
static void test_dma_supported_behind_iommu(void **state)
{
	(void)state;
	for (int pt = 0; pt < 2; pt++) {
		struct tu_env e;
		tu_env_init(&e, &(struct tu_opts){ .bootargs = pt ? "iommu=pt" : "iommu.strict=1" });
		int iommu, dom;
		assert_int_equal(sim_iommu_create(e.m, &(struct sim_iommu_desc){ .name = "vtd0" },
						  &iommu), 0);
		assert_int_equal(sim_iommu_domain_create(e.m, iommu, SIM_IOMMU_DOMAIN_TRANSLATED,
							 &dom), 0);
		struct tu_dev d;
		iommu_dev(&e, iommu, dom, &d);
		if (pt) {
			assert_string_equal(dmamap_device_ops_name(d.dev), "direct");
			assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(20)), -EIO);
			assert_int_equal(dmamap_get_mask(d.dev), DMAMAP_BIT_MASK(32));
			assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(24)), 0);
		} else {
			assert_string_equal(dmamap_device_ops_name(d.dev), "iommu");
			assert_int_equal(dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(20)), 0);
			assert_int_equal(dmamap_get_mask(d.dev), DMAMAP_BIT_MASK(20));
			uint64_t phys;
			uint8_t *buf = tu_alloc_high(&e, 1, &phys);
			tu_fill(buf, PG, 12);
			dmamap_dma_addr_t a = dmamap_map_single(d.dev, buf, PG, DMAMAP_TO_DEVICE);
			assert_false(dmamap_mapping_error(d.dev, a));
			assert_true(a + PG - 1 <= DMAMAP_BIT_MASK(20));
			uint8_t got[PG];
			assert_int_equal(sim_dma_read(d.sd, a, got, PG), 0);
			assert_int_equal(tu_check(got, PG, 12), -1);
			dmamap_unmap_single(d.dev, a, PG, DMAMAP_TO_DEVICE);
			tu_free(&e, buf, 1);
		}
		tu_dev_remove(&d);
		sim_iommu_detach(d.sd);
		assert_int_equal(sim_iommu_domain_destroy(e.m, dom), 0);
		tu_env_fini(&e);
	}
}

/* ---- 6: the transient pool's limit (kernel/dma/swiotlb.c: swiotlb_find_slots) ---- */

/* Takes every free page of a zone; returns how many blocks it holds in blk. */
static unsigned int drain_zone(struct tu_env *e, enum sim_zone z, uint64_t (*blk)[2],
			       unsigned int max)
{
	unsigned int n = 0;
	for (uint64_t np = 1ULL << 20; np; np >>= 1) {
		uint64_t p;
		while (n < max && sim_alloc_pages_zone(e->m, z, np, &p) == 0) {
			blk[n][0] = p;
			blk[n][1] = np;
			n++;
		}
	}
	assert_int_equal(sim_free_bytes(e->m, z), 0);
	return n;
}

/*
 * With every pool full, Linux makes a transient pool below
 * min_not_zero(dma_mask, bus_dma_limit), the device's reach, not below
 * the default pool's phys_limit.  A 64-bit device with no memory left
 * below 4 GiB still gets its bounce, above 4 GiB.
 */
static void test_transient_pool_device_reach(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=512,force", .dynamic = true });
	struct tu_dev d;
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_mask_and_coherent(d.dev, DMAMAP_BIT_MASK(64)), 0);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&e, 1, &phys);
	tu_fill(buf, SLOT, 8);
	static dmamap_dma_addr_t a[512];
	for (unsigned int i = 0; i < 512; i++) {
		a[i] = dmamap_map_single(d.dev, buf, SLOT, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(d.dev, a[i]));
		assert_true(a[i] < 4 * TU_GIB);
	}
	assert_int_equal(pool_stats(e.ctx, NULL).used_bytes, 512 * SLOT);
	static uint64_t blk[2][64][2];
	unsigned int n32 = drain_zone(&e, SIM_ZONE_DMA32, blk[0], 64);
	unsigned int n16 = drain_zone(&e, SIM_ZONE_DMA, blk[1], 64);

	dmamap_dma_addr_t t = dmamap_map_single(d.dev, buf, SLOT, DMAMAP_BIDIRECTIONAL);
	assert_false(dmamap_mapping_error(d.dev, t));
	assert_true(t >= 4 * TU_GIB);
	bool transient = false;
	assert_int_equal(dmamap_swiotlb_find_pool(e.ctx, NULL, t, NULL, NULL, &transient), 0);
	assert_true(transient);
	struct dmamap_swiotlb_stats st = pool_stats(e.ctx, NULL);
	assert_int_equal(st.transient_pools, 1);
	assert_int_equal(st.npools, 1); /* growth stays below 4 GiB, and failed */
	assert_int_equal(st.full_failures, 0);
	uint8_t got[SLOT];
	assert_int_equal(sim_dma_read(d.sd, t, got, SLOT), 0);
	assert_int_equal(tu_check(got, SLOT, 8), -1);
	memset(got, 0x3c, SLOT);
	assert_int_equal(sim_dma_write(d.sd, t, got, SLOT), 0);
	dmamap_unmap_single(d.dev, t, SLOT, DMAMAP_BIDIRECTIONAL);
	for (unsigned int i = 0; i < SLOT; i++)
		assert_int_equal(buf[i], 0x3c);

	for (unsigned int i = 0; i < n32; i++)
		sim_free_pages(e.m, blk[0][i][0], blk[0][i][1]);
	for (unsigned int i = 0; i < n16; i++)
		sim_free_pages(e.m, blk[1][i][0], blk[1][i][1]);
	for (unsigned int i = 0; i < 512; i++)
		dmamap_unmap_single(d.dev, a[i], SLOT, DMAMAP_TO_DEVICE);
	st = pool_stats(e.ctx, NULL);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.transient_used_bytes, 0);
	tu_free(&e, buf, 1);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- 7: iommu=off (arch/x86/kernel/pci-dma.c: pci_swiotlb_detect) ---- */

/*
 * x86 turns swiotlb on for RAM above 4 GiB only when an IOMMU may be
 * used (!no_iommu); iommu=off sets no_iommu.  Forcing still works.
 */
static void test_iommu_off_no_swiotlb(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "iommu=off" });
	struct dmamap_swiotlb_stats st = pool_stats(e.ctx, NULL);
	assert_false(st.enabled);
	assert_int_equal(st.total_bytes, 0);
	struct tu_dev d;
	tu_dev_add(&e, &d, "nic", 32, true, DMAMAP_BUS_PCI);
	uint64_t phys;
	uint8_t *buf = tu_alloc_high(&e, 1, &phys);
	dmamap_dma_addr_t dma = 0x77;
	assert_int_equal(dm_backend_map_phys(d.dev, phys, 512, DMAMAP_TO_DEVICE, 0, &dma), -EIO);
	assert_int_equal(dma, 0x77);
	assert_true(tu_log_has(&e, "no swiotlb to bounce it"));
	assert_true(dmamap_mapping_error(d.dev, dmamap_map_single(d.dev, buf, 512,
								   DMAMAP_TO_DEVICE)) != 0);
	assert_int_equal(dev_stats(d.dev).map_failures, 1);
	tu_free(&e, buf, 1);
	tu_dev_remove(&d);
	tu_env_fini(&e);

	tu_env_init(&e, &(struct tu_opts){ .bootargs = "iommu=off swiotlb=force" });
	st = pool_stats(e.ctx, NULL);
	assert_true(st.enabled);
	assert_true(st.force);
	assert_int_equal(st.total_bytes, 64 * TU_MIB);
	tu_env_fini(&e);

	/* Without iommu=off the 4 GiB rule applies. */
	tu_env_init(&e, NULL);
	assert_int_equal(pool_stats(e.ctx, NULL).total_bytes, 64 * TU_MIB);
	tu_env_fini(&e);
}

/* ---- 8: a sync before the mapping's start (kernel/dma/swiotlb.c: swiotlb_bounce) ---- */

/*
 * min_align_mask 0xfff, a 1 KiB buffer at P+0x600: the bounce keeps the
 * 0x600 offset inside its first slot.  A sync of the 0x200 bytes in front
 * of the mapping must not copy into P+0x400..0x5ff, which the mapping
 * does not own.
 */
static void test_sync_before_mapping_start(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=force" });
	struct tu_dev d;
	tu_dev_add(&e, &d, "nvme", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_min_align_mask(d.dev, 0xfff), 0);
	uint64_t p;
	uint8_t *page = tu_alloc_high(&e, 2, &p);
	memset(page, 0x11, 2 * PG);
	memset(page + 0x400, 0xaa, 0x200);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, page + 0x600, KIB, DMAMAP_FROM_DEVICE);
	assert_false(dmamap_mapping_error(d.dev, a));
	assert_int_equal(a & 0xfff, 0x600);
	uint8_t w[SLOT];
	memset(w, 0x55, SLOT);
	assert_int_equal(sim_dma_write(d.sd, a & ~(uint64_t)(SLOT - 1), w, SLOT), 0);
	unsigned int before = e.nlog_total;
	dmamap_sync_single_for_cpu(d.dev, a - 0x200, 0x200, DMAMAP_FROM_DEVICE);
	for (unsigned int i = 0x400; i < 0x600; i++)
		assert_int_equal(page[i], 0xaa);
	assert_int_equal(e.nlog_total, before + 1);
	assert_true(tu_log_has(&e, "access before mapping start"));
	/* A sync that starts inside the mapping still copies. */
	dmamap_sync_single_for_cpu(d.dev, a + 0x100, 0x10, DMAMAP_FROM_DEVICE);
	for (unsigned int i = 0x700; i < 0x710; i++)
		assert_int_equal(page[i], 0x55);
	assert_int_equal(page[0x6ff], 0x11);
	/* The unmap copies the mapping back: the device wrote its first 0x200 bytes. */
	dmamap_unmap_single(d.dev, a, KIB, DMAMAP_FROM_DEVICE);
	for (unsigned int i = 0; i < 2 * PG; i++) {
		uint8_t want = i >= 0x400 && i < 0x600 ? 0xaa : i >= 0x600 && i < 0x800 ? 0x55 : 0x11;
		assert_int_equal(page[i], want);
	}

	/*
	 * In a later slot an in-slot offset below 0x600 is inside the mapping
	 * (Linux before v6.9 refused it there too; dmamap knows the first slot).
	 */
	memset(page, 0x11, 2 * PG);
	a = dmamap_map_single(d.dev, page + 0x600, 4 * KIB, DMAMAP_FROM_DEVICE);
	assert_false(dmamap_mapping_error(d.dev, a));
	uint64_t s1 = (a & ~(uint64_t)(SLOT - 1)) + SLOT; /* the second slot */
	assert_int_equal(sim_dma_write(d.sd, s1, w, 0x100), 0);
	dmamap_sync_single_for_cpu(d.dev, s1, 0x100, DMAMAP_FROM_DEVICE);
	/* s1 is mapping byte 0x200: page offset 0x800. */
	for (unsigned int i = 0x800; i < 0x900; i++)
		assert_int_equal(page[i], 0x55);
	assert_int_equal(page[0x7ff], 0x11);
	assert_int_equal(page[0x900], 0x11);
	dmamap_unmap_single(d.dev, a, 4 * KIB, DMAMAP_FROM_DEVICE);
	assert_int_equal(pool_stats(e.ctx, NULL).used_bytes, 0);
	assert_int_equal(pool_stats(e.ctx, NULL).refused_unmaps, 0);
	tu_free(&e, page, 2);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- 10: a confidential VM's shared memory (kernel/dma/direct.c: dma_direct_alloc,
 *      dma_set_decrypted; kernel/dma/swiotlb.c: swiotlb_update_mem_attributes) ---- */

/*
 * In a confidential VM the host's devices read only memory the guest
 * shared: the bounce pool at boot, and each coherent allocation until it
 * is freed, when it becomes private again.
 */
static void test_cc_guest_shared_memory(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .cc_guest = true });
	struct dmamap_swiotlb_stats ss = pool_stats(e.ctx, NULL);
	assert_true(ss.force);
	struct sim_cc_stats cc;
	sim_cc_get_stats(e.m, &cc);
	assert_int_equal(cc.decrypt_calls, 1);
	assert_int_equal(cc.encrypt_calls, 0);
	assert_int_equal(cc.last_phys, ss.boot_base);
	assert_int_equal(cc.last_size, ss.total_bytes);
	assert_int_equal(cc.shared_bytes, ss.total_bytes);
	struct tu_dev d;
	tu_dev_add(&e, &d, "virtio-net", 64, true, DMAMAP_BUS_PCI);
	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(d.dev, 2 * PG, &h);
	assert_non_null(ring);
	sim_cc_get_stats(e.m, &cc);
	assert_int_equal(cc.decrypt_calls, 2);
	assert_int_equal(cc.last_phys, h);
	assert_int_equal(cc.last_size, 2 * PG);
	assert_true(cc.last_decrypted);
	assert_int_equal(cc.shared_bytes, ss.total_bytes + 2 * PG);
	for (unsigned int i = 0; i < 2 * PG; i++)
		assert_int_equal(ring[i], 0);
	dmamap_free_coherent(d.dev, 2 * PG, ring, h);
	sim_cc_get_stats(e.m, &cc);
	assert_int_equal(cc.encrypt_calls, 1);
	assert_int_equal(cc.last_phys, h);
	assert_int_equal(cc.last_size, 2 * PG);
	assert_false(cc.last_decrypted);
	assert_int_equal(cc.shared_bytes, ss.total_bytes);
	tu_dev_remove(&d);
	tu_env_fini(&e);

	/* Not a confidential VM: nothing shared. */
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	ring = dmamap_alloc_coherent(d.dev, PG, &h);
	assert_non_null(ring);
	dmamap_free_coherent(d.dev, PG, ring, h);
	sim_cc_get_stats(e.m, &cc);
	assert_int_equal(cc.decrypt_calls, 0);
	assert_int_equal(cc.encrypt_calls, 0);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* A platform that cannot share memory: said at creation, coherent memory refused. */
static void test_cc_guest_without_hook(void **state)
{
	(void)state;
	struct tu_env e;
	memset(&e, 0, sizeof(e));
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 2 };
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 2 * TU_GIB };
	const char *why = NULL;
	assert_int_equal(sim_machine_create(&md, &e.m, &why), 0);
	struct dmamap_platform plat = *sim_platform(e.m);
	struct dmamap_platform_ops ops = *plat.ops;
	ops.set_decrypted = NULL;
	plat.ops = &ops;
	struct dmamap_config cfg = { .cc_guest = true, .log = tu_log_cb, .log_priv = &e };
	assert_int_equal(dmamap_ctx_create(&plat, &cfg, &e.ctx), 0);
	assert_true(tu_log_has(&e, "confidential VM: the platform cannot share memory"));
	struct tu_dev d;
	tu_dev_add(&e, &d, "virtio-blk", 64, true, DMAMAP_BUS_PCI);
	dmamap_dma_addr_t h = 0x99;
	assert_null(dmamap_alloc_coherent(d.dev, PG, &h));
	assert_true(tu_log_has(&e, "virtio-blk: a confidential VM's coherent memory must be shared"));
	/* Streaming maps still bounce through the (private) pool. */
	uint64_t phys;
	uint8_t *buf = tu_alloc_low(&e, 1, &phys);
	tu_fill(buf, 512, 4);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, buf, 512, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d.dev, a));
	assert_true(a != phys);
	uint8_t got[512];
	assert_int_equal(sim_dma_read(d.sd, a, got, 512), 0);
	assert_int_equal(tu_check(got, 512, 4), -1);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	tu_free(&e, buf, 1);
	struct sim_cc_stats cc;
	sim_cc_get_stats(e.m, &cc);
	assert_int_equal(cc.decrypt_calls, 0);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/*
 * The 6% pool of a confidential VM is x86's (mem_encrypt_setup_arch); an
 * arm64 realm keeps the default 64 MiB (arm64's mem_init has no such
 * sizing).  Both machines have 16 GiB, where 6% is about 983 MiB.
 */
static void test_cc_guest_pool_size_by_arch(void **state)
{
	(void)state;
	const enum dmamap_arch archs[] = { DMAMAP_ARCH_X86, DMAMAP_ARCH_ARM64 };
	const uint64_t want[] = { (16 * TU_GIB * 6 / 100 + 262143) / 262144 * 262144, 64 * TU_MIB };
	for (unsigned int i = 0; i < 2; i++) {
		struct tu_env e;
		memset(&e, 0, sizeof(e));
		/* ZONE_DMA: x86's 16 MiB; arm64's 32 bits (the pool's place). */
		struct sim_machine_desc md = { .arch = archs[i], .ncpus = 2,
					       .zone_dma_limit = i ? 4 * TU_GIB - 1 : 0 };
		md.ram[md.nram++] = (struct sim_ram_range){ 0, 2 * TU_GIB };
		md.ram[md.nram++] = (struct sim_ram_range){ 4 * TU_GIB, 14 * TU_GIB };
		const char *why = NULL;
		assert_int_equal(sim_machine_create(&md, &e.m, &why), 0);
		struct dmamap_config cfg = { .cc_guest = true, .log = tu_log_cb, .log_priv = &e };
		assert_int_equal(dmamap_ctx_create(sim_platform(e.m), &cfg, &e.ctx), 0);
		struct dmamap_swiotlb_stats ss;
		dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
		assert_true(ss.force);
		assert_int_equal(ss.boot_total_bytes, want[i]);
		tu_env_fini(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restricted_coherent_order_aligned),
		cmocka_unit_test(test_xen_coherent_bus_aligned),
		cmocka_unit_test(test_map_above_max_mapping_size),
		cmocka_unit_test(test_xen_exchange_width_carried),
		cmocka_unit_test(test_dma_supported_behind_iommu),
		cmocka_unit_test(test_transient_pool_device_reach),
		cmocka_unit_test(test_iommu_off_no_swiotlb),
		cmocka_unit_test(test_sync_before_mapping_start),
		cmocka_unit_test(test_cc_guest_shared_memory),
		cmocka_unit_test(test_cc_guest_without_hook),
		cmocka_unit_test(test_cc_guest_pool_size_by_arch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
