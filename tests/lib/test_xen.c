/*
 * tests/lib/test_xen.c - Xen through the library: detection, the per-device
 * choice, swiotlb-xen and the late pool, on the simulated hypervisor.
 * One test (or a pair) per claim of seeds 000-003 (DESIGN.md scenarios
 * 1-4), each asserting the bytes the device and the domains saw and the
 * counters the library and the hypervisor kept.
 *
 * Owns: proofs through the public API (dma.h, xen.h) and the simulator's
 * observations (sim/xen.h).  Never reaches into src/.
 */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/xen.h>

#include <dmamap/sim/xen.h>

#define PG 4096u

struct xfx {
	struct tu_env e;            /* m, ctx, log */
	struct sim_xen *x;
};

struct xfx_opts {
	enum dmamap_arch arch;
	struct sim_ram_range ram[4];     /* the OS's RAM */
	unsigned int nram;
	struct sim_xen_desc xd;
	const char *bootargs;
	enum dmamap_xen_policy policy;
};

static void xfx_init(struct xfx *f, const struct xfx_opts *o)
{
	memset(f, 0, sizeof(*f));
	struct sim_machine_desc md = { .arch = o->arch, .ncpus = 2 };
	memcpy(md.ram, o->ram, sizeof(o->ram));
	md.nram = o->nram;
	const char *why = NULL;
	assert_int_equal(sim_machine_create(&md, &f->e.m, &why), 0);
	int rc = sim_xen_create(f->e.m, &o->xd, &f->x, &why);
	if (rc)
		fprintf(stderr, "sim_xen_create: %s\n", why ? why : "?");
	assert_int_equal(rc, 0);
	struct dmamap_config cfg = { .bootargs = o->bootargs, .log = tu_log_cb,
				     .log_priv = &f->e, .xen_policy = o->policy };
	assert_int_equal(dmamap_ctx_create(sim_platform(f->e.m), &cfg, &f->e.ctx), 0);
}

/* A device as firmware describes it; behind the hypervisor's IOMMU when asked. */
static void xfx_dev(struct xfx *f, struct tu_dev *d, const char *name, unsigned int bits,
		    bool coherent, enum dmamap_bus bus, bool xen_iommu)
{
	struct sim_device_desc sd = { .name = name, .bus = bus, .addr_bits = bits,
				      .coherent = coherent };
	assert_int_equal(sim_device_create(f->e.m, &sd, &d->sd), 0);
	if (xen_iommu)
		assert_int_equal(sim_xen_iommu_attach(d->sd), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	dd.xen_iommu = xen_iommu;
	assert_int_equal(dmamap_device_add(f->e.ctx, &dd, &d->dev), 0);
	assert_int_equal(dmamap_set_mask_and_coherent(d->dev, DMAMAP_BIT_MASK(bits)), 0);
}

static void xfx_fini(struct xfx *f, struct tu_dev *devs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t leaked = 1;
		assert_int_equal(dmamap_device_remove(devs[i].dev, &leaked), 0);
		assert_int_equal(leaked, 0);
	}
	assert_int_equal(dmamap_ctx_destroy(f->e.ctx), 0);
	f->e.ctx = NULL;
	/* Every exchanged frame was given back to the hypervisor. */
	struct sim_xen_stats hs;
	sim_xen_get_stats(f->x, &hs);
	assert_int_equal(hs.lowmem_used, 0);
	sim_machine_destroy(f->e.m);
}

static struct dmamap_device_stats dstats(struct tu_dev *d)
{
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d->dev, &st);
	return st;
}

static struct dmamap_xen_stats xstats(struct xfx *f)
{
	struct dmamap_xen_stats st;
	dmamap_xen_get_stats(f->e.ctx, &st);
	return st;
}

static struct sim_xen_stats hstats(struct xfx *f)
{
	struct sim_xen_stats st;
	sim_xen_get_stats(f->x, &st);
	return st;
}

/* npages of the OS's RAM inside [lo, hi] and its CPU pointer. */
static uint8_t *xfx_alloc(struct xfx *f, uint64_t npages, uint64_t lo, uint64_t hi,
			  uint64_t *phys)
{
	*phys = tu_sim_alloc(f->e.m, npages, lo, hi);
	return tu_sim_cpu(f->e.m, *phys);
}

/*
 * One TO_DEVICE map of buf: the device reads it and must see pattern
 * seed; returns true when every byte arrived.  One FROM_DEVICE map: the
 * device writes pattern seed + 1; the caller checks where it landed.
 */
static bool xfx_tx(struct tu_dev *d, void *buf, size_t len, uint32_t seed,
		   dmamap_dma_addr_t *bus_out)
{
	tu_fill(buf, len, seed);
	dmamap_dma_addr_t bus = dmamap_map_single(d->dev, buf, len, DMAMAP_TO_DEVICE);
	if (bus_out)
		*bus_out = bus;
	if (bus == DMAMAP_MAPPING_ERROR)
		return false;
	uint8_t *got = malloc(len);
	assert_non_null(got);
	sim_dma_read(d->sd, bus, got, len);
	bool ok = tu_check(got, len, seed) < 0;
	free(got);
	dmamap_unmap_single(d->dev, bus, len, DMAMAP_TO_DEVICE);
	return ok;
}

static dmamap_dma_addr_t xfx_rx(struct tu_dev *d, void *buf, size_t len, uint32_t seed)
{
	memset(buf, 0, len);
	dmamap_dma_addr_t bus = dmamap_map_single(d->dev, buf, len, DMAMAP_FROM_DEVICE);
	if (bus == DMAMAP_MAPPING_ERROR)
		return bus;
	uint8_t *src = malloc(len);
	assert_non_null(src);
	tu_fill(src, len, seed);
	sim_dma_write(d->sd, bus, src, len);
	free(src);
	dmamap_unmap_single(d->dev, bus, len, DMAMAP_FROM_DEVICE);
	return bus;
}

/* ---- seed 000: PVH dom0, 8 GiB, a 44-bit GPU and a 32-bit NIC ------------------ */

static void pvh_opts(struct xfx_opts *o, const char *bootargs)
{
	memset(o, 0, sizeof(*o));
	o->arch = DMAMAP_ARCH_X86;
	o->ram[0] = (struct sim_ram_range){ 0, 2 * TU_GIB };
	o->ram[1] = (struct sim_ram_range){ 4 * TU_GIB, 6 * TU_GIB };
	o->nram = 2;
	o->xd = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH, .initial_domain = true,
				       .p2m = SIM_XEN_P2M_SCATTERED, .seed = 7 };
	o->bootargs = bootargs;
}

#define NIC_LOW 40
#define NIC_HIGH 24
#define NIC_LEN 1514

static void test_pvh_dom0_gpu_nic(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pvh_opts(&o, NULL);
	xfx_init(&f, &o);
	struct tu_dev gpu, nic;
	/* Xen requires its IOMMU for a PVH dom0: every device sits behind it. */
	xfx_dev(&f, &gpu, "gpu", 44, true, DMAMAP_BUS_PCI, true);
	xfx_dev(&f, &nic, "nic", 32, true, DMAMAP_BUS_PCI, true);
	assert_string_equal(dmamap_device_ops_name(gpu.dev), "direct");
	assert_string_equal(dmamap_device_ops_name(nic.dev), "direct");
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "hypervisor's IOMMU"));
	assert_false(xstats(&f).swiotlb_xen);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(f.e.ctx, NULL, &ss);
	assert_true(ss.enabled); /* RAM above 4 GiB: x86's global swiotlb */

	/* The GPU: 64 KiB buffers high in guest memory, whose machine frames
	 * are scattered: translated by the hypervisor's IOMMU, never bounced. */
	for (uint32_t i = 0; i < 16; i++) {
		uint64_t phys;
		uint8_t *buf = xfx_alloc(&f, 16, 4 * TU_GIB, 10 * TU_GIB - 1, &phys);
		assert_true(xfx_tx(&gpu, buf, 16 * PG, 100 + i, NULL));
		dmamap_dma_addr_t bus = xfx_rx(&gpu, buf, 16 * PG, 200 + i);
		assert_int_equal(bus, phys); /* guest-physical */
		assert_int_equal(tu_check(buf, 16 * PG, 200 + i), -1);
		tu_free(&f.e, buf, 16);
	}
	assert_int_equal(dstats(&gpu).bounced_bytes, 0);

	/* The NIC: frames below 4 GiB go direct, those above bounce, exactly. */
	for (uint32_t i = 0; i < NIC_LOW + NIC_HIGH; i++) {
		bool high = i >= NIC_LOW;
		uint64_t phys;
		uint8_t *buf = high ? xfx_alloc(&f, 1, 4 * TU_GIB, 10 * TU_GIB - 1, &phys)
				    : xfx_alloc(&f, 1, 16 * TU_MIB, 2 * TU_GIB - 1, &phys);
		dmamap_dma_addr_t bus;
		assert_true(xfx_tx(&nic, buf, NIC_LEN, i, &bus));
		tu_assert_le(bus + NIC_LEN - 1, DMAMAP_BIT_MASK(32));
		if (!high)
			assert_int_equal(bus, phys);
		tu_free(&f.e, buf, 1);
	}
	struct dmamap_device_stats ns = dstats(&nic);
	assert_int_equal(ns.bounced_maps, NIC_HIGH);
	assert_int_equal(ns.bounced_bytes, (uint64_t)NIC_HIGH * NIC_LEN);
	assert_int_equal(ns.map_failures, 0);
	assert_int_equal(hstats(&f).dma_stray_bytes, 0);
	assert_int_equal(hstats(&f).lowmem_used, 0); /* nothing exchanged */
	struct tu_dev devs[] = { gpu, nic };
	xfx_fini(&f, devs, 2);
}

static void test_pvh_dom0_noswiotlb(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pvh_opts(&o, "swiotlb=noforce");
	xfx_init(&f, &o);
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 32, true, DMAMAP_BUS_PCI, true);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(f.e.ctx, NULL, &ss);
	assert_false(ss.enabled);
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "swiotlb is off"));
	for (uint32_t i = 0; i < NIC_LOW + NIC_HIGH; i++) {
		bool high = i >= NIC_LOW;
		uint64_t phys;
		uint8_t *buf = high ? xfx_alloc(&f, 1, 4 * TU_GIB, 10 * TU_GIB - 1, &phys)
				    : xfx_alloc(&f, 1, 16 * TU_MIB, 2 * TU_GIB - 1, &phys);
		dmamap_dma_addr_t bus;
		assert_int_equal(xfx_tx(&nic, buf, NIC_LEN, i, &bus), !high);
		assert_int_equal(bus == DMAMAP_MAPPING_ERROR, high);
		tu_free(&f.e, buf, 1);
	}
	struct dmamap_device_stats ns = dstats(&nic);
	assert_int_equal(ns.map_failures, NIC_HIGH);
	assert_int_equal(ns.bounced_bytes, 0);
	assert_true(tu_log_has(&f.e, "no swiotlb to bounce it"));
	xfx_fini(&f, &nic, 1);
}

/* ---- seeds 001/002: arm dom0 mapped 1:1, PV backends on domU pages ------------- */

static void arm_opts(struct xfx_opts *o, uint32_t features, enum dmamap_xen_policy policy)
{
	memset(o, 0, sizeof(*o));
	o->arch = DMAMAP_ARCH_ARM64;
	o->ram[0] = (struct sim_ram_range){ 0, TU_GIB };
	o->nram = 1;
	o->xd = (struct sim_xen_desc){ .mode = DMAMAP_XEN_ARM, .initial_domain = true,
				       .p2m = SIM_XEN_P2M_IDENTITY, .features = features };
	o->xd.host_ram[0] = (struct sim_ram_range){ 0, 4 * TU_GIB };
	o->xd.nhost = 1;
	o->policy = policy;
}

/* A domU page with pattern seed, granted and mapped into dom0. */
struct grant {
	uint16_t domid;
	uint64_t gfn;
	uint32_t gref;
	void *cpu;
	uint64_t phys;
};

static void grant_page(struct xfx *f, struct grant *g, uint16_t domid, uint64_t gfn,
		       uint32_t seed, bool readonly)
{
	g->domid = domid;
	g->gfn = gfn;
	uint8_t *page = sim_xen_domu_page(f->x, domid, gfn);
	assert_non_null(page);
	tu_fill(page, PG, seed);
	assert_int_equal(sim_xen_grant(f->x, domid, gfn, readonly, &g->gref), 0);
	assert_int_equal(dmamap_xen_grant_map(f->e.ctx, domid, g->gref, readonly, &g->cpu,
					      &g->phys), 0);
	/* dom0 sees the domU's bytes at its own new (foreign) frame. */
	assert_int_equal(tu_check(g->cpu, PG, seed), -1);
}

static void ungrant_page(struct xfx *f, struct grant *g)
{
	assert_int_equal(dmamap_xen_grant_unmap(f->e.ctx, g->phys), 0);
	assert_int_equal(sim_xen_grant_end(f->x, g->domid, g->gref), 0);
}

/*
 * The backend: the device reads a granted page (a disk write) and writes
 * another (a disk read).  Returns how many of the two reached the right
 * bytes: the device saw the domU's data, the domU's page got the device's.
 */
static int backend_round(struct xfx *f, struct tu_dev *d, uint16_t domid, uint64_t gfn,
			 uint32_t seed)
{
	struct grant out, in;
	grant_page(f, &out, domid, gfn, seed, true);
	grant_page(f, &in, domid, gfn + 1, 0, false);
	int good = 0;
	dmamap_dma_addr_t bus = dmamap_map_single(d->dev, out.cpu, PG, DMAMAP_TO_DEVICE);
	assert_int_not_equal(bus, DMAMAP_MAPPING_ERROR);
	uint8_t got[PG];
	sim_dma_read(d->sd, bus, got, PG);
	good += tu_check(got, PG, seed) < 0;
	dmamap_unmap_single(d->dev, bus, PG, DMAMAP_TO_DEVICE);

	bus = dmamap_map_single(d->dev, in.cpu, PG, DMAMAP_FROM_DEVICE);
	assert_int_not_equal(bus, DMAMAP_MAPPING_ERROR);
	uint8_t src[PG];
	tu_fill(src, PG, seed + 1);
	sim_dma_write(d->sd, bus, src, PG);
	dmamap_unmap_single(d->dev, bus, PG, DMAMAP_FROM_DEVICE);
	ungrant_page(f, &out);
	ungrant_page(f, &in);
	good += tu_check(sim_xen_domu_page(f->x, domid, gfn + 1), PG, seed + 1) < 0;
	return good;
}

static void test_arm_dom0_backend_swiotlb_xen(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	arm_opts(&o, DMAMAP_XENFEAT_DIRECT_MAPPED, DMAMAP_XEN_POLICY_PER_DEVICE);
	xfx_init(&f, &o);
	uint16_t domid;
	assert_int_equal(sim_xen_domu_create(f.x, 64, &domid), 0);
	/* The NIC sits outside any IOMMU (a Raspberry Pi 4); the SATA
	 * controller behind the SMMU Xen drives. */
	struct tu_dev nic, sata;
	xfx_dev(&f, &nic, "nic", 32, false, DMAMAP_BUS_PLATFORM, false);
	xfx_dev(&f, &sata, "sata", 40, true, DMAMAP_BUS_PLATFORM, true);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "swiotlb-xen");
	assert_string_equal(dmamap_device_ops_name(sata.dev), "direct");
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "foreign"));
	assert_true(xstats(&f).swiotlb_xen);

	for (uint32_t r = 0; r < 8; r++)
		assert_int_equal(backend_round(&f, &nic, domid, 2 * r, 10 * r + 1), 2);
	struct dmamap_xen_stats xs = xstats(&f);
	assert_int_equal(xs.foreign_maps, 16);
	/* Non-coherent NIC: a clean per TO map, a clean and an invalidate per
	 * FROM map, all by machine frame through the hypervisor. */
	assert_int_equal(xs.cache_flush_calls, 8 * 3);
	assert_int_equal(hstats(&f).cache_flushes, 8 * 3);
	assert_int_equal(dstats(&nic).bounced_bytes, 0);
	assert_int_equal(xs.foreign_pages, 0);

	/* Behind the SMMU the guest-physical address is enough. */
	for (uint32_t r = 0; r < 8; r++)
		assert_int_equal(backend_round(&f, &sata, domid, 20 + 2 * r, 10 * r + 5), 2);
	assert_int_equal(xstats(&f).foreign_maps, 16); /* sata never asked */
	struct sim_xen_stats hs = hstats(&f);
	assert_int_equal(hs.dma_stray_bytes, 0);
	assert_int_equal(hs.dma_foreign_bytes, (8 + 8) * 2 * PG);
	assert_int_equal(hs.grants_mapped, 0);
	struct tu_dev devs[] = { nic, sata };
	xfx_fini(&f, devs, 2);
}

/*
 * Without swiotlb-xen (the Linux rule once dom0_iommu is set, as the RFC
 * proposes) a device outside the IOMMU gets the foreign page's
 * guest-physical address: its DMA misses the domU's page both ways.
 */
static void test_arm_dom0_backend_without_swiotlb_xen(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	arm_opts(&o, DMAMAP_XENFEAT_DIRECT_MAPPED | DMAMAP_XENFEAT_DOM0_IOMMU,
		 DMAMAP_XEN_POLICY_LINUX);
	xfx_init(&f, &o);
	uint16_t domid;
	assert_int_equal(sim_xen_domu_create(f.x, 64, &domid), 0);
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 32, true, DMAMAP_BUS_PLATFORM, false);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "direct");
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "dom0_iommu"));
	for (uint32_t r = 0; r < 4; r++)
		assert_int_equal(backend_round(&f, &nic, domid, 2 * r, 7 * r + 3), 0);
	struct sim_xen_stats hs = hstats(&f);
	assert_int_equal(hs.dma_foreign_bytes, 0);
	assert_int_equal(hs.dma_stray_bytes, 4 * 2 * PG);
	assert_false(xstats(&f).swiotlb_xen);
	xfx_fini(&f, &nic, 1);
}

/* ---- seed 002: a cache-coloured dom0 (never 1:1) ---------------------------------- */

static void colored_opts(struct xfx_opts *o, uint32_t features, enum dmamap_xen_policy policy)
{
	memset(o, 0, sizeof(*o));
	o->arch = DMAMAP_ARCH_ARM64;
	o->ram[0] = (struct sim_ram_range){ 0, 512 * TU_MIB };
	o->nram = 1;
	o->xd = (struct sim_xen_desc){ .mode = DMAMAP_XEN_ARM, .initial_domain = true,
				       .p2m = SIM_XEN_P2M_COLORED, .ncolors = 16,
				       .colors = 0x0f, .features = features };
	o->xd.host_ram[0] = (struct sim_ram_range){ 0, 4 * TU_GIB };
	o->xd.nhost = 1;
	o->policy = policy;
}

/* A coloured dom0 with a 32-bit platform NIC, behind the hypervisor's
 * IOMMU or not. */
static void colored_setup(struct xfx *f, struct tu_dev *nic, uint32_t features,
			  enum dmamap_xen_policy policy, const char *bootargs, bool covered)
{
	struct xfx_opts o;
	colored_opts(&o, features, policy);
	o.bootargs = bootargs;
	xfx_init(f, &o);
	xfx_dev(f, nic, "nic", 32, true, DMAMAP_BUS_PLATFORM, covered);
}

/* Linux's rule: not direct-mapped, so no swiotlb-xen; a NIC outside any
 * IOMMU is given guest-physical addresses and writes someone else's page. */
static void test_colored_dom0_linux_corrupts(void **state)
{
	(void)state;
	struct xfx f;
	struct tu_dev nic;
	colored_setup(&f, &nic, DMAMAP_XENFEAT_NOT_DIRECT_MAPPED, DMAMAP_XEN_POLICY_LINUX, NULL, false);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "direct");
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "wrong machine frames"));
	/* dom0 page 5 is not machine frame 5 (frames below 2 MiB are Xen's):
	 * the NIC's write lands in the hypervisor's memory. */
	uint64_t phys, pfn, mfn;
	uint8_t *buf = xfx_alloc(&f, 1, 5 * PG, 6 * PG - 1, &phys);
	assert_int_equal(phys, 5 * PG);
	assert_int_equal(sim_xen_m2p(f.x, 5, &pfn), -ENOENT);
	dmamap_dma_addr_t bus = xfx_rx(&nic, buf, PG, 77);
	assert_int_equal(bus, phys);
	tu_assert_ge(tu_check(buf, PG, 77), 0); /* the buffer did not get it */
	assert_int_equal(hstats(&f).dma_stray_bytes, PG);

	/* Worse: a dom0 page q whose machine frame q has one of dom0's colours
	 * belongs to another dom0 page v, which the NIC then overwrites. */
	uint64_t q = 600;
	while (sim_xen_m2p(f.x, q, &pfn) || pfn == q)
		q++;
	uint64_t vphys;
	uint8_t *victim = xfx_alloc(&f, 1, pfn * PG, (pfn + 1) * PG - 1, &vphys);
	uint8_t *qbuf = xfx_alloc(&f, 1, q * PG, (q + 1) * PG - 1, &phys);
	assert_int_equal(sim_xen_p2m(f.x, q, &mfn), 0);
	assert_int_not_equal(mfn, q);
	tu_fill(victim, PG, 1);
	xfx_rx(&nic, qbuf, PG, 90);
	tu_assert_ge(tu_check(qbuf, PG, 90), 0);  /* not where it belongs */
	assert_int_equal(tu_check(victim, PG, 90), -1); /* dom0 page v corrupted */
	assert_int_equal(hstats(&f).dma_stray_bytes, PG);
	assert_int_equal(hstats(&f).dma_own_bytes, PG);
	xfx_fini(&f, &nic, 1);
}

/* The dom0-IOMMU flag with the NIC behind the IOMMU: guest-physical
 * addresses are translated, so the same DMA is right. */
static void test_colored_dom0_iommu_flag(void **state)
{
	(void)state;
	struct xfx f;
	struct tu_dev nic;
	colored_setup(&f, &nic, DMAMAP_XENFEAT_NOT_DIRECT_MAPPED | DMAMAP_XENFEAT_DOM0_IOMMU,
		      DMAMAP_XEN_POLICY_LINUX, NULL, true);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "direct");
	for (uint64_t p = 4; p < 36; p++) {
		uint64_t phys;
		uint8_t *buf = xfx_alloc(&f, 2, p * PG, (p + 2) * PG - 1, &phys);
		assert_true(xfx_tx(&nic, buf, 2 * PG, (uint32_t)p, NULL));
		xfx_rx(&nic, buf, 2 * PG, (uint32_t)p + 100);
		assert_int_equal(tu_check(buf, 2 * PG, (uint32_t)p + 100), -1);
		tu_free(&f.e, buf, 2);
	}
	assert_int_equal(hstats(&f).dma_stray_bytes, 0);
	assert_int_equal(dstats(&nic).bounced_bytes, 0);
	xfx_fini(&f, &nic, 1);
}

/* Beyond Linux: with the p2m exposed, swiotlb-xen translates every frame
 * for a device outside the IOMMU and bounces what straddles colour runs. */
static void test_colored_dom0_p2m_aware(void **state)
{
	(void)state;
	struct xfx f;
	struct tu_dev nic;
	colored_setup(&f, &nic, DMAMAP_XENFEAT_NOT_DIRECT_MAPPED | DMAMAP_XENFEAT_P2M_QUERY,
		      DMAMAP_XEN_POLICY_PER_DEVICE, "swiotlb=4096" /* an 8 MiB pool */, false);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "swiotlb-xen");
	assert_non_null(strstr(dmamap_device_ops_reason(nic.dev), "p2m-aware"));
	/* The pool was exchanged for machine-contiguous frames. */
	assert_int_equal(hstats(&f).lowmem_used, 8 * TU_MIB);
	assert_int_equal(xstats(&f).exchanged_bytes, 8 * TU_MIB);

	/* Within one page: the machine frame, no bounce. */
	uint64_t phys, mfn;
	uint8_t *buf = xfx_alloc(&f, 1, 17 * PG, 18 * PG - 1, &phys);
	assert_int_equal(sim_xen_p2m(f.x, 17, &mfn), 0);
	dmamap_dma_addr_t bus;
	assert_true(xfx_tx(&nic, buf, 1500, 3, &bus));
	assert_int_equal(bus, mfn * PG);
	assert_int_equal(xfx_rx(&nic, buf, 1500, 4), mfn * PG);
	assert_int_equal(tu_check(buf, 1500, 4), -1);
	assert_int_equal(dstats(&nic).bounced_bytes, 0);

	/* Pages 3-4 straddle colour runs (4 colours: runs of 4 frames): bounced. */
	uint64_t phys2, m3, m4;
	uint8_t *two = xfx_alloc(&f, 2, 3 * PG, 5 * PG - 1, &phys2);
	assert_int_equal(sim_xen_p2m(f.x, 3, &m3), 0);
	assert_int_equal(sim_xen_p2m(f.x, 4, &m4), 0);
	assert_int_not_equal(m4, m3 + 1);
	assert_true(xfx_tx(&nic, two, 2 * PG, 9, NULL));
	xfx_rx(&nic, two, 2 * PG, 10);
	assert_int_equal(tu_check(two, 2 * PG, 10), -1);
	assert_int_equal(xstats(&f).straddle_bounces, 2);
	assert_int_equal(dstats(&nic).bounced_bytes, 4 * PG);
	assert_int_equal(hstats(&f).dma_stray_bytes, 0);

	/* Coherent memory: machine-contiguous, reachable, the device's writes
	 * seen by the CPU. */
	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(nic.dev, 4 * PG, &h);
	assert_non_null(ring);
	uint8_t src[4 * PG];
	tu_fill(src, sizeof(src), 44);
	assert_int_equal(sim_dma_write(nic.sd, h, src, sizeof(src)), 0);
	assert_int_equal(tu_check(ring, sizeof(src), 44), -1);
	dmamap_free_coherent(nic.dev, 4 * PG, ring, h);
	xfx_fini(&f, &nic, 1);
}

/* Neither 1:1 nor behind an IOMMU nor a p2m: maps fail instead of corrupting. */
static void test_colored_dom0_no_p2m_refuses(void **state)
{
	(void)state;
	struct xfx f;
	struct tu_dev nic;
	colored_setup(&f, &nic, DMAMAP_XENFEAT_NOT_DIRECT_MAPPED, DMAMAP_XEN_POLICY_PER_DEVICE, NULL,
		      false);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "swiotlb-xen(no-p2m)");
	uint64_t phys;
	uint8_t *buf = xfx_alloc(&f, 1, 5 * PG, 6 * PG - 1, &phys);
	assert_int_equal(xfx_rx(&nic, buf, PG, 1), DMAMAP_MAPPING_ERROR);
	assert_int_equal(dstats(&nic).map_failures, 1);
	assert_true(tu_log_has(&f.e, "no bus address is known"));
	assert_int_equal(hstats(&f).dma_stray_bytes, 0);
	xfx_fini(&f, &nic, 1);
}

/* ---- seed 003: a PV domU with 6 GiB and no PCI device at boot -------------------- */

static void pv_opts(struct xfx_opts *o, uint64_t lowmem)
{
	memset(o, 0, sizeof(*o));
	o->arch = DMAMAP_ARCH_X86;
	o->ram[0] = (struct sim_ram_range){ 0, 6 * TU_GIB };
	o->nram = 1;
	o->xd = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PV, .initial_domain = false,
				       .p2m = SIM_XEN_P2M_SCATTERED, .seed = 3,
				       .lowmem_bytes = lowmem };
}

static void test_pv_domu_no_pool_until_hotplug(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pv_opts(&o, 128 * TU_MIB);
	xfx_init(&f, &o);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(f.e.ctx, NULL, &ss);
	assert_false(ss.enabled);
	struct dmamap_xen_stats xs = xstats(&f);
	assert_int_equal(xs.pool_bytes, 0);
	assert_int_equal(xs.exchanged_bytes, 0);
	assert_int_equal(xs.exchange_calls, 0);
	assert_int_equal(hstats(&f).lowmem_used, 0);

	/* A 32-bit passthrough NIC appears: the pool is made now, in low
	 * machine memory, 256 KiB at a time, and only 4 MiB of it: Linux's
	 * swiotlb_init_late takes one page-allocator block (seen on Debian's
	 * 6.1 under Xen 4.17: docs/XEN-FIDELITY.md). */
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 32, true, DMAMAP_BUS_PCI, false);
	assert_string_equal(dmamap_device_ops_name(nic.dev), "swiotlb-xen");
	xs = xstats(&f);
	assert_true(xs.pool_late);
	assert_int_equal(xs.pool_bytes, 4 * TU_MIB);
	/* Made late: nothing of it existed at boot. */
	dmamap_swiotlb_get_stats(f.e.ctx, NULL, &ss);
	assert_true(ss.enabled);
	assert_int_equal(ss.boot_total_bytes, 0);
	assert_int_equal(ss.total_bytes, 4 * TU_MIB);
	assert_int_equal(xs.exchanged_bytes, 4 * TU_MIB);
	assert_int_equal(hstats(&f).lowmem_used, 4 * TU_MIB);
	assert_int_equal(hstats(&f).exchanges, 16);
	assert_true(tu_log_has(&f.e, "bounce pool made now"));

	/* Its DMA is right: guest frames lie above 4 GiB in machine memory,
	 * so every buffer bounces through the exchanged pool. */
	for (uint32_t i = 0; i < 32; i++) {
		uint64_t phys;
		uint8_t *buf = xfx_alloc(&f, 1, 0, 6 * TU_GIB - 1, &phys);
		dmamap_dma_addr_t bus;
		assert_true(xfx_tx(&nic, buf, 2048, i, &bus));
		tu_assert_le(bus + 2047, DMAMAP_BIT_MASK(32));
		xfx_rx(&nic, buf, 2048, i + 50);
		assert_int_equal(tu_check(buf, 2048, i + 50), -1);
		tu_free(&f.e, buf, 1);
	}
	assert_int_equal(dstats(&nic).bounced_maps, 64);
	assert_int_equal(xstats(&f).reach_bounces, 64);
	assert_int_equal(hstats(&f).dma_stray_bytes, 0);

	/* Coherent memory is exchanged into reach, and given back on free. */
	dmamap_dma_addr_t h;
	uint8_t *ring = dmamap_alloc_coherent(nic.dev, 2 * PG, &h);
	assert_non_null(ring);
	tu_assert_le(h + 2 * PG - 1, DMAMAP_BIT_MASK(32));
	assert_int_equal(hstats(&f).lowmem_used, 4 * TU_MIB + 2 * PG);
	uint8_t src[2 * PG];
	tu_fill(src, sizeof(src), 9);
	assert_int_equal(sim_dma_write(nic.sd, h, src, sizeof(src)), 0);
	assert_int_equal(tu_check(ring, sizeof(src), 9), -1);
	dmamap_free_coherent(nic.dev, 2 * PG, ring, h);
	assert_int_equal(hstats(&f).lowmem_used, 4 * TU_MIB);
	xfx_fini(&f, &nic, 1); /* checks lowmem_used is back to 0 */
}

/* Low memory short: the pool halves until it fits (Linux's retry). */
static void test_pv_domu_lowmem_short(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pv_opts(&o, 3 * TU_MIB);   /* less than the late pool's 4 MiB */
	xfx_init(&f, &o);
	struct tu_dev nic;
	xfx_dev(&f, &nic, "nic", 32, true, DMAMAP_BUS_PCI, false);
	struct dmamap_xen_stats xs = xstats(&f);
	assert_int_equal(xs.pool_bytes, 2 * TU_MIB);
	assert_int_equal(hstats(&f).lowmem_used, 2 * TU_MIB);
	tu_assert_gt(xs.exchange_failures, 0);
	assert_true(tu_log_has(&f.e, "trying a pool of 2048 KiB"));
	assert_int_equal(xs.exchanged_bytes, 2 * TU_MIB);
	xfx_fini(&f, &nic, 1);
}

/* No low memory at all: the device cannot be added, and says why. */
static void test_pv_domu_lowmem_exhausted(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pv_opts(&o, 256 * 1024); /* one chunk: less than the smallest pool (1 MiB) */
	xfx_init(&f, &o);
	struct sim_device_desc sd = { .name = "nic", .bus = DMAMAP_BUS_PCI, .addr_bits = 32,
				      .coherent = true };
	struct sim_device *s;
	assert_int_equal(sim_device_create(f.e.m, &sd, &s), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(s, &dd);
	struct dmamap_device *dev = NULL;
	assert_int_equal(dmamap_device_add(f.e.ctx, &dd, &dev), -ENOMEM);
	assert_null(dev);
	assert_true(tu_log_has(&f.e, "no machine-contiguous low memory"));
	assert_int_equal(hstats(&f).lowmem_used, 0);
	assert_int_equal(xstats(&f).pool_bytes, 0);
	xfx_fini(&f, NULL, 0);
}

/* A platform device (no PCI) never turns the pool on. */
static void test_pv_domu_platform_device_spends_nothing(void **state)
{
	(void)state;
	struct xfx f;
	struct xfx_opts o;
	pv_opts(&o, 128 * TU_MIB);
	xfx_init(&f, &o);
	struct tu_dev vdev;
	xfx_dev(&f, &vdev, "xen-vbd", 64, true, DMAMAP_BUS_PLATFORM, false);
	assert_int_equal(xstats(&f).pool_bytes, 0);
	assert_int_equal(hstats(&f).lowmem_used, 0);
	assert_non_null(strstr(dmamap_device_ops_reason(vdev.dev), "no bounce pool"));
	xfx_fini(&f, &vdev, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pvh_dom0_gpu_nic),
		cmocka_unit_test(test_pvh_dom0_noswiotlb),
		cmocka_unit_test(test_arm_dom0_backend_swiotlb_xen),
		cmocka_unit_test(test_arm_dom0_backend_without_swiotlb_xen),
		cmocka_unit_test(test_colored_dom0_linux_corrupts),
		cmocka_unit_test(test_colored_dom0_iommu_flag),
		cmocka_unit_test(test_colored_dom0_p2m_aware),
		cmocka_unit_test(test_colored_dom0_no_p2m_refuses),
		cmocka_unit_test(test_pv_domu_no_pool_until_hotplug),
		cmocka_unit_test(test_pv_domu_lowmem_short),
		cmocka_unit_test(test_pv_domu_lowmem_exhausted),
		cmocka_unit_test(test_pv_domu_platform_device_spends_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
