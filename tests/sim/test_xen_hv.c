/*
 * tests/sim/test_xen_hv.c - the simulated Xen-like hypervisor on its own
 * (sim/xen.h, sim.h and the platform seam's hv ops; no library).
 *
 * Owns: proofs that the hypervisor model does what the design says: the
 * platform facts and hooks, the three p2m layouts (identity, scattered,
 * coloured) exactly, device DMA by machine address and through the
 * hypervisor's IOMMU (own, foreign and stray bytes), the exchange of
 * frames for machine-contiguous low memory and its exhaustion, grants and
 * foreign mappings, cache maintenance of foreign pages for non-coherent
 * devices, and the refusal of the simulator's IOMMUs under a hypervisor.
 * Every assertion is an exact byte, frame or counter.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/sim/iommu.h>
#include "testutil.h"
#include <dmamap/sim/sim.h>
#include <dmamap/sim/xen.h>

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define PAGE 4096ULL
#define F4G ((4 * GIB) / PAGE) /* first frame at 4 GiB */

/* ---- helpers -------------------------------------------------------------- */

static struct sim_machine *machine(enum dmamap_arch arch,
				   const struct sim_ram_range *r, unsigned int n)
{
	struct sim_machine_desc d = { .arch = arch, .ncpus = 2 };
	memcpy(d.ram, r, n * sizeof(*r));
	d.nram = n;
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	return m;
}

/* The usual x86 guest: [0, 1 GiB) and [4 GiB, 5 GiB), 2 GiB in all. */
static struct sim_machine *x86_guest(void)
{
	const struct sim_ram_range r[] = { { 0, GIB }, { 4 * GIB, GIB } };
	return machine(DMAMAP_ARCH_X86, r, 2);
}

static struct sim_xen *mkxen(struct sim_machine *m, const struct sim_xen_desc *d)
{
	struct sim_xen *x = NULL;
	const char *why = "unset";
	assert_int_equal(sim_xen_create(m, d, &x, &why), 0);
	assert_null(why);
	assert_non_null(x);
	return x;
}

static int create_err(struct sim_machine *m, const struct sim_xen_desc *d)
{
	struct sim_xen *x = NULL;
	const char *why = NULL;
	int rc = sim_xen_create(m, d, &x, &why);
	assert_null(x);
	assert_non_null(why);
	return rc;
}

static uint64_t p2m(struct sim_xen *x, uint64_t pfn)
{
	uint64_t mfn = ~0ULL;
	assert_int_equal(sim_xen_p2m(x, pfn, &mfn), 0);
	return mfn;
}

static struct sim_xen_stats xstats(struct sim_xen *x)
{
	struct sim_xen_stats st;
	memset(&st, 0xa5, sizeof(st));
	sim_xen_get_stats(x, &st);
	return st;
}

static const struct dmamap_hv_ops *hv(struct sim_machine *m)
{
	const struct dmamap_hv_ops *h = sim_platform(m)->ops->hv;
	assert_non_null(h);
	return h;
}

static void *priv(struct sim_machine *m)
{
	return sim_platform(m)->priv;
}

static bool all_bytes(const uint8_t *b, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != v)
			return false;
	return true;
}

/* ---- facts and hooks ---------------------------------------------------------- */

static void test_facts_and_hooks(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	const struct dmamap_platform *plat = sim_platform(m);
	/* Bare metal: no facts, no hook, no hypervisor. */
	assert_int_equal(plat->xen_mode, DMAMAP_XEN_NONE);
	assert_false(plat->xen_initial_domain);
	assert_int_equal(plat->xen_features, 0);
	assert_null(plat->ops->hv);
	assert_null(sim_xen_of(m));

	/* Bad descriptions say why and change nothing. */
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_NONE };
	assert_int_equal(create_err(m, &d), -EINVAL);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_ARM }; /* x86 machine */
	assert_int_equal(create_err(m, &d), -EINVAL);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH, .features = 1u << 9 };
	assert_int_equal(create_err(m, &d), -EINVAL);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH, .ncolors = 12 };
	assert_int_equal(create_err(m, &d), -EINVAL);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH,
				   .features = DMAMAP_XENFEAT_DIRECT_MAPPED,
				   .p2m = SIM_XEN_P2M_SCATTERED };
	assert_int_equal(create_err(m, &d), -EINVAL);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH,
				   .foreign_frames = (2 * GIB / PAGE) / 4 + 1 };
	assert_int_equal(create_err(m, &d), -EINVAL);
	/* IDENTITY with host RAM that misses the OS's [4 GiB, 5 GiB). */
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PVH, .nhost = 1,
				   .host_ram = { { 0, 4 * GIB } } };
	assert_int_equal(create_err(m, &d), -EINVAL);
	/* SCATTERED on a host too small for 2 GiB of OS. */
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PV, .nhost = 1,
				   .p2m = SIM_XEN_P2M_SCATTERED,
				   .host_ram = { { 0, 2 * GIB } } };
	assert_int_equal(create_err(m, &d), -EINVAL);
	assert_null(plat->ops->hv);
	assert_int_equal(plat->xen_mode, DMAMAP_XEN_NONE);

	d = (struct sim_xen_desc){
		.mode = DMAMAP_XEN_PVH, .initial_domain = true,
		.features = DMAMAP_XENFEAT_DOM0_IOMMU | DMAMAP_XENFEAT_DIRECT_MAPPED,
	};
	struct sim_xen *x = mkxen(m, &d);
	assert_ptr_equal(sim_xen_of(m), x);
	assert_int_equal(plat->xen_mode, DMAMAP_XEN_PVH);
	assert_true(plat->xen_initial_domain);
	assert_int_equal(plat->xen_features,
			 DMAMAP_XENFEAT_DOM0_IOMMU | DMAMAP_XENFEAT_DIRECT_MAPPED);
	const struct dmamap_hv_ops *h = hv(m);
	assert_non_null(h->pfn_to_bfn);
	assert_non_null(h->bfn_to_pfn);
	assert_non_null(h->exchange_contiguous);
	assert_non_null(h->destroy_contiguous);
	assert_non_null(h->cache_flush_bfn);
	assert_non_null(h->grant_map);
	assert_non_null(h->grant_unmap);
	/* The platform's other facts are the OS's, unchanged. */
	assert_int_equal(plat->total_ram, 2 * GIB);
	assert_int_equal(plat->max_ram_end, 5 * GIB - 1);

	/* The 4096 foreign pfns at the top of the OS's RAM are reserved. */
	uint64_t fbase = 5 * GIB / PAGE - 4096;
	assert_int_equal(sim_reserve(m, fbase * PAGE, PAGE), -EBUSY);
	assert_int_equal(sim_reserve(m, (fbase - 1) * PAGE, PAGE), 0);
	uint64_t mfn;
	assert_int_equal(sim_xen_p2m(x, fbase, &mfn), -ENOENT);
	assert_int_equal(sim_xen_p2m(x, fbase + 4095, &mfn), -ENOENT);
	assert_int_equal(p2m(x, fbase - 1), fbase - 1);
	/* No lowmem below 4 GiB: the identity host is the OS's RAM. */
	assert_int_equal(xstats(x).lowmem_total, 0);

	/* Only one hypervisor. */
	struct sim_xen *x2 = NULL;
	assert_int_equal(sim_xen_create(m, &d, &x2, NULL), -EBUSY);
	assert_null(x2);
	sim_machine_destroy(m);
}

/* ---- layouts ------------------------------------------------------------------ */

static void test_identity(void **state)
{
	(void)state;
	const struct sim_ram_range r[] = { { GIB, 2 * GIB }, { 4 * GIB, GIB } };
	for (int q = 0; q < 2; q++) {
		struct sim_machine *m = machine(DMAMAP_ARCH_ARM64, r, 2);
		struct sim_xen_desc d = {
			.mode = DMAMAP_XEN_ARM, .initial_domain = true,
			.nhost = 1, .host_ram = { { 0, 8 * GIB } },
			.features = DMAMAP_XENFEAT_DIRECT_MAPPED |
				    (q ? DMAMAP_XENFEAT_P2M_QUERY : 0),
		};
		struct sim_xen *x = mkxen(m, &d);
		uint64_t fbase = 5 * GIB / PAGE - 4096;
		/* p2m == 1:1 and m2p its inverse, sampled over all OS RAM. */
		for (int i = 0; i < 2; i++) {
			uint64_t b = r[i].base / PAGE, e = b + r[i].size / PAGE;
			for (uint64_t p = b; p < e && p < fbase; p += 997) {
				assert_int_equal(p2m(x, p), p);
				uint64_t back = 0;
				assert_int_equal(sim_xen_m2p(x, p, &back), 0);
				assert_int_equal(back, p);
			}
			assert_int_equal(p2m(x, b), b);
		}
		uint64_t v = 0;
		assert_int_equal(sim_xen_p2m(x, 3 * GIB / PAGE, &v), -ENOENT);
		assert_int_equal(sim_xen_p2m(x, 0, &v), -ENOENT);
		/* Host frames the OS does not own are nobody's pfn. */
		assert_int_equal(sim_xen_m2p(x, 3 * GIB / PAGE, &v), -ENOENT);
		assert_int_equal(sim_xen_m2p(x, 6 * GIB / PAGE, &v), -ENOENT);
		/* The lowmem region: [4 GiB - 128 MiB, 4 GiB), free host RAM. */
		assert_int_equal(xstats(x).lowmem_total, 128 * MIB);

		const struct dmamap_hv_ops *h = hv(m);
		uint64_t pfn = GIB / PAGE + 5, out = 0;
		if (!q) {
			/* ARM without the query: the guest must assume 1:1. */
			assert_int_equal(h->pfn_to_bfn(priv(m), pfn, &out), -EOPNOTSUPP);
			assert_int_equal(h->bfn_to_pfn(priv(m), pfn, &out), -EOPNOTSUPP);
			assert_int_equal(h->exchange_contiguous(priv(m), pfn, 0, 32,
								&out), -EOPNOTSUPP);
			assert_int_equal(h->destroy_contiguous(priv(m), pfn, 0),
					 -EOPNOTSUPP);
			assert_int_equal(xstats(x).p2m_queries, 0);
		} else {
			assert_int_equal(h->pfn_to_bfn(priv(m), pfn, &out), 0);
			assert_int_equal(out, pfn);
			assert_int_equal(h->bfn_to_pfn(priv(m), pfn + 1, &out), 0);
			assert_int_equal(out, pfn + 1);
			assert_int_equal(h->pfn_to_bfn(priv(m), 3 * GIB / PAGE, &out),
					 -ENOENT);
			assert_int_equal(h->bfn_to_pfn(priv(m), 3 * GIB / PAGE, &out),
					 -ENOENT);
			assert_int_equal(xstats(x).p2m_queries, 2);
		}
		sim_machine_destroy(m);
	}
}

/* The whole OS p2m of the x86 guest: a bijection onto host frames. */
static void check_bijection(struct sim_xen *x, uint64_t host_frames,
			    uint64_t *out_identical)
{
	uint8_t *seen = calloc(host_frames / 8 + 1, 1);
	assert_non_null(seen);
	uint64_t fbase = 5 * GIB / PAGE - 4096, n = 0, same = 0;
	const uint64_t rb[2] = { 0, F4G }, re[2] = { GIB / PAGE, fbase };
	for (int i = 0; i < 2; i++) {
		for (uint64_t p = rb[i]; p < re[i]; p++) {
			uint64_t mfn = p2m(x, p), back = ~0ULL;
			tu_assert_lt(mfn, host_frames);
			assert_false(seen[mfn / 8] & (1u << (mfn % 8)));
			seen[mfn / 8] |= (uint8_t)(1u << (mfn % 8));
			assert_int_equal(sim_xen_m2p(x, mfn, &back), 0);
			assert_int_equal(back, p);
			/* Room above 4 GiB for all of it: nothing below. */
			tu_assert_ge(mfn, F4G);
			same += mfn == p;
			n++;
		}
	}
	assert_int_equal(n, 2 * GIB / PAGE - 4096);
	*out_identical = same;
	free(seen);
}

static void test_scattered(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_PV, .initial_domain = true,
				  .p2m = SIM_XEN_P2M_SCATTERED, .seed = 42 };
	struct sim_xen *x = mkxen(m, &d);
	/* Default host: [0, 4 GiB) + 2 x 2 GiB + 256 MiB above. */
	uint64_t host_frames = (8 * GIB + 256 * MIB) / PAGE;
	uint64_t same = 0;
	check_bijection(x, host_frames, &same);
	tu_assert_lt(same, 64); /* not 1:1: a chance chunk at most */
	/* Chunks of 16 frames: machine-contiguous and aligned. */
	uint64_t moved = 0;
	for (uint64_t c = 0; c < GIB / PAGE; c += 16) {
		uint64_t b = p2m(x, c);
		assert_int_equal(b % 16, 0);
		for (uint64_t i = 1; i < 16; i++)
			assert_int_equal(p2m(x, c + i), b + i);
		/* Consecutive chunks are not consecutive in machine memory. */
		moved += c && p2m(x, c - 1) + 1 != b;
	}
	tu_assert_gt(moved, (GIB / PAGE / 16) * 9 / 10);
	/* PV sees its p2m: pfn_to_bfn answers for its own frames. */
	uint64_t out = 0;
	assert_int_equal(hv(m)->pfn_to_bfn(priv(m), 77, &out), 0);
	assert_int_equal(out, p2m(x, 77));
	assert_int_equal(hv(m)->bfn_to_pfn(priv(m), out, &out), 0);
	assert_int_equal(out, 77);
	assert_int_equal(hv(m)->pfn_to_bfn(priv(m), 2 * GIB / PAGE, &out), -ENOENT);
	assert_int_equal(xstats(x).p2m_queries, 2);
	/* Lowmem sits at the top of the first 4 GiB, untouched by the OS. */
	assert_int_equal(xstats(x).lowmem_total, 128 * MIB);

	/* Same seed, same layout; another seed, another. */
	struct sim_machine *m2 = x86_guest();
	struct sim_xen *x2 = mkxen(m2, &d);
	struct sim_machine *m3 = x86_guest();
	d.seed = 43;
	struct sim_xen *x3 = mkxen(m3, &d);
	uint64_t differ = 0, samples = 0;
	for (uint64_t p = 0; p < GIB / PAGE; p += 16 * 7, samples++) {
		assert_int_equal(p2m(x2, p), p2m(x, p));
		differ += p2m(x3, p) != p2m(x, p);
	}
	tu_assert_gt(differ, samples * 9 / 10);
	sim_machine_destroy(m3);
	sim_machine_destroy(m2);
	sim_machine_destroy(m);

	/* Order 9: 2 MiB chunks. */
	m = x86_guest();
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_PV, .scatter_order = 9,
				   .p2m = SIM_XEN_P2M_SCATTERED, .seed = 1 };
	x = mkxen(m, &d);
	for (uint64_t c = 0; c < GIB / PAGE; c += 512) {
		uint64_t b = p2m(x, c);
		assert_int_equal(b % 512, 0);
		tu_assert_ge(b, F4G);
		assert_int_equal(p2m(x, c + 511), b + 511);
		assert_int_equal(p2m(x, c + 200), b + 200);
	}
	sim_machine_destroy(m);
}

static void test_colored(void **state)
{
	(void)state;
	const struct sim_ram_range r[] = { { GIB, GIB } };
	struct sim_machine *m = machine(DMAMAP_ARCH_ARM64, r, 1);
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_ARM, .initial_domain = true,
				  .p2m = SIM_XEN_P2M_COLORED,
				  .features = DMAMAP_XENFEAT_NOT_DIRECT_MAPPED };
	struct sim_xen *x = mkxen(m, &d);
	/*
	 * 16 colours, the OS has 0..7: from 2 MiB (frame 512, colour 0) up,
	 * runs of 8 frames every 16.  Exact for every own frame.
	 */
	uint64_t b = GIB / PAGE, n = GIB / PAGE - 4096, same = 0, runs = 0;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t mfn = p2m(x, b + k);
		assert_int_equal(mfn, 512 + 16 * (k / 8) + k % 8);
		tu_assert_lt(mfn % 16, 8);
		same += mfn == b + k;
		if (k && mfn != p2m(x, b + k - 1) + 1)
			runs++;
	}
	assert_int_equal(same, 0);
	assert_int_equal(runs, n / 8 - 1);
	assert_int_equal(xstats(x).lowmem_total, 128 * MIB);
	sim_machine_destroy(m);

	/* 8 colours, the OS has 1 and 2: runs of 2 every 8. */
	m = machine(DMAMAP_ARCH_ARM64, r, 1);
	d.ncolors = 8;
	d.colors = 0x6;
	x = mkxen(m, &d);
	/* (Below the lowmem region, which k < 200000 stays under.) */
	for (uint64_t k = 0; k < 200000; k += 331) {
		uint64_t mfn = p2m(x, b + k);
		assert_int_equal(mfn, 512 + 8 * (k / 2) + 1 + k % 2);
	}
	sim_machine_destroy(m);

	/*
	 * The lowmem region is skipped: a 3 GiB OS on a host whose colours
	 * run into [4 GiB - 128 MiB, 4 GiB) continues above it.
	 */
	const struct sim_ram_range r3[] = { { GIB, 3 * GIB } };
	m = machine(DMAMAP_ARCH_ARM64, r3, 1);
	d = (struct sim_xen_desc){ .mode = DMAMAP_XEN_ARM, .initial_domain = true,
				   .p2m = SIM_XEN_P2M_COLORED, .ncolors = 2,
				   .colors = 1 };
	x = mkxen(m, &d);
	uint64_t lo = F4G - 128 * MIB / PAGE;
	for (uint64_t k = 0; k < 3 * GIB / PAGE - 4096; k += 4093) {
		uint64_t mfn = p2m(x, GIB / PAGE + k);
		assert_int_equal(mfn % 2, 0);
		assert_false(mfn >= lo && mfn < F4G);
	}
	/* Frame just below lowmem, then the first one at 4 GiB. */
	uint64_t k_last = (lo - 512) / 2 - 1;
	assert_int_equal(p2m(x, GIB / PAGE + k_last), lo - 2);
	assert_int_equal(p2m(x, GIB / PAGE + k_last + 1), F4G);
	sim_machine_destroy(m);
}

/* ---- device DMA ------------------------------------------------------------------- */

static void test_dma_machine_addresses(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_PV, .initial_domain = true,
				  .p2m = SIM_XEN_P2M_SCATTERED, .seed = 7 };
	struct sim_xen *x = mkxen(m, &d);
	struct sim_device *dev = tu_sim_dev(m, "nic", 64, true);
	uint8_t buf[8192], back[8192];

	/* An OS page above 4 GiB, reached at its machine address. */
	uint64_t phys = tu_sim_alloc(m, 1, 4 * GIB, ~0ULL);
	uint64_t pfn = phys / PAGE, mfn = p2m(x, pfn);
	assert_int_not_equal(mfn, pfn);
	uint8_t *cpu = tu_sim_cpu(m, phys);
	memset(cpu, 0, PAGE);
	tu_fill(buf, 300, 1);
	assert_int_equal(sim_dma_write(dev, mfn * PAGE + 100, buf, 300), 0);
	assert_int_equal(tu_check(cpu + 100, 300, 1), -1);
	assert_true(all_bytes(cpu, 100, 0) && all_bytes(cpu + 400, PAGE - 400, 0));
	assert_int_equal(sim_dma_read(dev, mfn * PAGE + 100, back, 300), 0);
	assert_int_equal(tu_check(back, 300, 1), -1);
	struct sim_xen_stats st = xstats(x);
	assert_int_equal(st.dma_own_bytes, 600);
	assert_int_equal(st.dma_stray_bytes, 0);

	/*
	 * The untranslated guest address as a bus address: lands in the
	 * machine frame pfn, which is another OS page (m2p says which).
	 */
	uint64_t other = 0;
	assert_int_equal(sim_xen_m2p(x, pfn, &other), 0);
	assert_int_not_equal(other, pfn);
	tu_fill(buf, 64, 2);
	assert_int_equal(sim_dma_write(dev, pfn * PAGE, buf, 64), 0);
	assert_int_equal(tu_check(tu_sim_cpu(m, other * PAGE), 64, 2), -1);
	assert_int_equal(tu_check(cpu + 100, 300, 1), -1);
	assert_true(all_bytes(cpu, 100, 0));

	/* An OS page below 4 GiB: its pfn is free hypervisor memory (stray). */
	uint64_t low = tu_sim_alloc(m, 1, 16 * MIB, GIB - 1);
	uint8_t *lcpu = tu_sim_cpu(m, low);
	memset(lcpu, 0x11, PAGE);
	tu_fill(buf, PAGE, 3);
	assert_int_equal(sim_dma_write(dev, low, buf, PAGE), 0);
	assert_true(all_bytes(lcpu, PAGE, 0x11));
	/* The wrong bytes are somewhere: the device reads them back. */
	assert_int_equal(sim_dma_read(dev, low, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 3), -1);
	st = xstats(x);
	assert_int_equal(st.dma_own_bytes, 664);
	assert_int_equal(st.dma_stray_bytes, 2 * PAGE);
	assert_int_equal(st.dma_foreign_bytes, 0);

	/* Beyond host RAM: a bus error, nothing counted as moved. */
	memset(back, 0, 16);
	assert_int_equal(sim_dma_read(dev, 100 * GIB, back, 16), -EFAULT);
	assert_true(all_bytes(back, 16, 0xff));
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.bus_errors, 1);
	assert_int_equal(ds.iommu_faults, 0);
	assert_int_equal(ds.writes, 3);
	assert_int_equal(ds.reads, 2);

	/* The hypervisor's IOMMU: guest addresses, page by page. */
	assert_false(sim_xen_iommu_covers(dev));
	struct sim_device *gpu = tu_sim_dev(m, "gpu", 64, true);
	assert_int_equal(sim_xen_iommu_attach(gpu), 0);
	assert_int_equal(sim_xen_iommu_attach(gpu), -EBUSY);
	assert_true(sim_xen_iommu_covers(gpu));
	/* Two guest pages across a chunk edge: machine frames apart. */
	uint64_t g = 4 * GIB + 16 * 100 * PAGE + 15 * PAGE;
	assert_int_not_equal(p2m(x, g / PAGE) + 1, p2m(x, g / PAGE + 1));
	assert_int_equal(sim_reserve(m, g, 2 * PAGE), 0);
	tu_fill(buf, 8192, 4);
	assert_int_equal(sim_dma_write(gpu, g + 0, buf, 8192), 0);
	assert_int_equal(tu_check(tu_sim_cpu(m, g), 8192, 4), -1);
	/* The device without the IOMMU at the same address reaches frame g. */
	assert_int_equal(sim_dma_read(dev, p2m(x, g / PAGE) * PAGE, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 4), -1);
	/* No p2m entry (a hole in the OS's RAM): an IOMMU fault. */
	memset(back, 0, 16);
	assert_int_equal(sim_dma_read(gpu, 2 * GIB, back, 16), -EFAULT);
	assert_true(all_bytes(back, 16, 0xff));
	assert_int_equal(sim_dma_write(gpu, 2 * GIB - 8, buf, 16), -EFAULT);
	ds = tu_sim_dstats(gpu);
	assert_int_equal(ds.iommu_faults, 2);
	assert_int_equal(ds.bus_errors, 0);
	assert_int_equal(ds.writes, 1);

	/* Not under a hypervisor: nothing to attach to. */
	struct sim_machine *bare = x86_guest();
	assert_int_equal(sim_xen_iommu_attach(tu_sim_dev(bare, "d", 64, true)),
			 -EINVAL);
	sim_machine_destroy(bare);
	sim_machine_destroy(m);
}

/* ---- exchange ---------------------------------------------------------------------- */

static void test_exchange(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_PV, .initial_domain = true,
				  .p2m = SIM_XEN_P2M_SCATTERED, .seed = 9,
				  .lowmem_bytes = MIB };
	struct sim_xen *x = mkxen(m, &d);
	const struct dmamap_hv_ops *h = hv(m);
	struct sim_device *dev = tu_sim_dev(m, "nic32", 32, true);
	assert_int_equal(xstats(x).lowmem_total, MIB);

	/* 16 ranges of 16 pages (order 4), each with its own pattern. */
	uint64_t pfn[17], old[17][16], bfn = 0;
	for (int r = 0; r < 17; r++) {
		uint64_t phys = 0;
		assert_int_equal(sim_alloc_pages(m, 16, 16, 0, ~0ULL, &phys), 0);
		pfn[r] = phys / PAGE;
		tu_fill(tu_sim_cpu(m, phys), 16 * PAGE, 100 + (uint32_t)r);
		for (int i = 0; i < 16; i++)
			old[r][i] = p2m(x, pfn[r] + i);
	}
	/* Nothing below 2 GiB in lowmem ([4 GiB - 1 MiB, 4 GiB)): refused. */
	assert_int_equal(h->exchange_contiguous(priv(m), pfn[0], 4, 31, &bfn),
			 -ENOMEM);
	assert_int_equal(xstats(x).exchange_failures, 1);
	assert_int_equal(p2m(x, pfn[0]), old[0][0]);

	for (int r = 0; r < 16; r++) {
		assert_int_equal(h->exchange_contiguous(priv(m), pfn[r], 4, 32,
							&bfn), 0);
		/* From the top down, aligned, below 2^32. */
		assert_int_equal(bfn, F4G - 16 * (uint64_t)(r + 1));
		for (uint64_t i = 0; i < 16; i++) {
			assert_int_equal(p2m(x, pfn[r] + i), bfn + i);
			uint64_t back = 0;
			assert_int_equal(sim_xen_m2p(x, bfn + i, &back), 0);
			assert_int_equal(back, pfn[r] + i);
			assert_int_equal(sim_xen_m2p(x, old[r][i], &back), -ENOENT);
		}
		/* The data stayed; a 32-bit device reads it in one go. */
		assert_int_equal(tu_check(tu_sim_cpu(m, pfn[r] * PAGE), 16 * PAGE,
					  100 + (uint32_t)r), -1);
		uint8_t *b = malloc(16 * PAGE);
		assert_int_equal(sim_dma_read(dev, bfn * PAGE, b, 16 * PAGE), 0);
		assert_int_equal(tu_check(b, 16 * PAGE, 100 + (uint32_t)r), -1);
		free(b);
		assert_int_equal(xstats(x).lowmem_used, 64 * KIB * (uint64_t)(r + 1));
	}
	struct sim_xen_stats st = xstats(x);
	assert_int_equal(st.lowmem_used, MIB);
	assert_int_equal(st.lowmem_hiwater, MIB);
	assert_int_equal(st.exchanges, 16);
	assert_int_equal(st.exchange_failures, 1);
	assert_int_equal(st.dma_own_bytes, 16 * 16 * PAGE);

	/* Exhausted: -ENOMEM and the p2m of the range is untouched. */
	assert_int_equal(h->exchange_contiguous(priv(m), pfn[16], 0, 32, &bfn),
			 -ENOMEM);
	for (int i = 0; i < 16; i++)
		assert_int_equal(p2m(x, pfn[16] + i), old[16][i]);
	assert_int_equal(xstats(x).exchange_failures, 2);
	assert_int_equal(xstats(x).lowmem_used, MIB);

	/* Bad ranges: a foreign pfn, a hole, a range never exchanged. */
	uint64_t fbase = 5 * GIB / PAGE - 4096;
	assert_int_equal(h->exchange_contiguous(priv(m), fbase, 0, 32, &bfn), -EINVAL);
	assert_int_equal(h->exchange_contiguous(priv(m), 2 * GIB / PAGE, 0, 32,
						&bfn), -EINVAL);
	assert_int_equal(h->destroy_contiguous(priv(m), pfn[16], 4), -EINVAL);
	assert_int_equal(xstats(x).exchange_failures, 2);

	/* Destroy gives it all back; the data stays, frames come from high. */
	for (int r = 0; r < 16; r++) {
		assert_int_equal(h->destroy_contiguous(priv(m), pfn[r], 4), 0);
		for (uint64_t i = 0; i < 16; i++)
			tu_assert_ge(p2m(x, pfn[r] + i), F4G);
		assert_int_equal(tu_check(tu_sim_cpu(m, pfn[r] * PAGE), 16 * PAGE,
					  100 + (uint32_t)r), -1);
	}
	st = xstats(x);
	assert_int_equal(st.lowmem_used, 0);
	assert_int_equal(st.lowmem_hiwater, MIB);
	/* And it can be had again, from the top. */
	assert_int_equal(h->exchange_contiguous(priv(m), pfn[16], 4, 32, &bfn), 0);
	assert_int_equal(bfn, F4G - 16);
	assert_int_equal(tu_check(tu_sim_cpu(m, pfn[16] * PAGE), 16 * PAGE, 116), -1);
	assert_int_equal(xstats(x).lowmem_used, 64 * KIB);
	sim_machine_destroy(m);
}

/* ---- grants and foreign pages ------------------------------------------------------- */

/* An identity PVH dom0 of [0, 1 GiB) + [4 GiB, 5 GiB) on a 6 GiB host. */
static struct sim_xen *identity_dom0(struct sim_machine *m, bool dom0)
{
	struct sim_xen_desc d = {
		.mode = DMAMAP_XEN_PVH, .initial_domain = dom0, .nhost = 2,
		.host_ram = { { 0, 4 * GIB }, { 4 * GIB, 2 * GIB } },
	};
	return mkxen(m, &d);
}

static void test_grants(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen *x = identity_dom0(m, true);
	const struct dmamap_hv_ops *h = hv(m);
	uint64_t fbase = 5 * GIB / PAGE - 4096;

	uint16_t dom = 0;
	assert_int_equal(sim_xen_domu_create(x, 64, &dom), 0);
	assert_int_equal(dom, 1);
	/* DomU frames: high, scattered, scrubbed, nobody's pfn. */
	uint64_t mfn5 = 0, mfn7 = 0;
	assert_int_equal(sim_xen_domu_mfn(x, dom, 5, &mfn5), 0);
	assert_int_equal(sim_xen_domu_mfn(x, dom, 7, &mfn7), 0);
	tu_assert_ge(mfn5, 5 * GIB / PAGE);
	tu_assert_lt(mfn5, 6 * GIB / PAGE);
	uint64_t v;
	assert_int_equal(sim_xen_m2p(x, mfn5, &v), -ENOENT);
	assert_int_equal(sim_xen_domu_mfn(x, dom, 64, &v), -ENOENT);
	assert_null(sim_xen_domu_page(x, dom, 64));
	assert_null(sim_xen_domu_page(x, 2, 0));
	uint8_t *page5 = sim_xen_domu_page(x, dom, 5);
	uint8_t *page7 = sim_xen_domu_page(x, dom, 7);
	assert_non_null(page5);
	assert_true(all_bytes(page5, PAGE, 0));
	tu_fill(page5, PAGE, 50);

	/* The OS's own bytes at the first foreign pfn (reserved, unused). */
	uint8_t *fcpu = tu_sim_cpu(m, fbase * PAGE);
	memset(fcpu, 0x0a, PAGE);

	uint32_t gref = 99, rogref = 99;
	assert_int_equal(sim_xen_grant(x, dom, 5, false, &gref), 0);
	assert_int_equal(sim_xen_grant(x, dom, 7, true, &rogref), 0);
	assert_int_not_equal(gref, rogref);
	uint32_t nogref = 1234;
	assert_int_equal(sim_xen_grant(x, dom, 64, false, &nogref), -ENOENT);
	assert_int_equal(nogref, 1234);

	uint64_t pfn = 0, bfn = 0;
	assert_int_equal(h->grant_map(priv(m), 3, gref, false, &pfn, &bfn), -ENOENT);
	assert_int_equal(h->grant_map(priv(m), dom, 4000, false, &pfn, &bfn), -ENOENT);
	assert_int_equal(h->grant_map(priv(m), dom, rogref, false, &pfn, &bfn),
			 -EPERM);
	assert_int_equal(h->grant_map(priv(m), dom, gref, false, &pfn, &bfn), 0);
	assert_int_equal(pfn, fbase);
	assert_int_equal(bfn, mfn5);
	/* The CPU sees the domU's frame at the foreign pfn, both ways. */
	assert_int_equal(tu_check(fcpu, PAGE, 50), -1);
	fcpu[9] = 0x99;
	assert_int_equal(page5[9], 0x99);
	tu_fill(page5, PAGE, 50);
	assert_int_equal(p2m(x, pfn), bfn);
	/* Foreign frames are answered without the p2m query feature. */
	uint64_t out = 0;
	assert_int_equal(h->pfn_to_bfn(priv(m), pfn, &out), 0);
	assert_int_equal(out, bfn);
	assert_int_equal(h->bfn_to_pfn(priv(m), bfn, &out), 0);
	assert_int_equal(out, pfn);
	assert_int_equal(h->pfn_to_bfn(priv(m), pfn + 1, &out), -ENOENT);
	assert_int_equal(h->pfn_to_bfn(priv(m), 5, &out), -EOPNOTSUPP);
	assert_int_equal(sim_xen_grant_end(x, dom, gref), -EBUSY);

	/* A device at machine address bfn reaches the domU's page. */
	struct sim_device *dev = tu_sim_dev(m, "blkback", 64, true);
	uint8_t buf[PAGE], back[PAGE];
	tu_fill(buf, 512, 51);
	assert_int_equal(sim_dma_write(dev, bfn * PAGE + 1024, buf, 512), 0);
	assert_int_equal(tu_check(page5 + 1024, 512, 51), -1);
	assert_int_equal(tu_check(fcpu + 1024, 512, 51), -1);
	assert_int_equal(xstats(x).dma_foreign_bytes, 512);
	/* At the guest address pfn (1:1 dom0, no translation): not there. */
	tu_fill(buf, 256, 52);
	assert_int_equal(sim_dma_write(dev, pfn * PAGE, buf, 256), 0);
	assert_int_equal(tu_check(page5, 256, 50), -1);
	struct sim_xen_stats st = xstats(x);
	assert_int_equal(st.dma_stray_bytes, 256);
	assert_int_equal(st.dma_foreign_bytes, 512);
	/* A domU frame the OS has not mapped is stray too (and gets hit). */
	assert_int_equal(sim_dma_write(dev, mfn7 * PAGE, buf, 256), 0);
	assert_int_equal(tu_check(page7, 256, 52), -1);
	assert_int_equal(xstats(x).dma_stray_bytes, 512);

	/* Read-only grant mapped read-only: a second foreign pfn. */
	uint64_t ropfn = 0, robfn = 0;
	tu_fill(page7, PAGE, 70);
	assert_int_equal(h->grant_map(priv(m), dom, rogref, true, &ropfn, &robfn), 0);
	assert_int_equal(ropfn, fbase + 1);
	assert_int_equal(robfn, mfn7);

	/* The hypervisor's IOMMU: guest addresses of foreign pfns work. */
	struct sim_device *gpu = tu_sim_dev(m, "gpu", 64, true);
	assert_int_equal(sim_xen_iommu_attach(gpu), 0);
	tu_fill(buf, PAGE, 53);
	assert_int_equal(sim_dma_write(gpu, pfn * PAGE, buf, PAGE), 0);
	assert_int_equal(tu_check(page5, PAGE, 53), -1);
	/* Reading the read-only one is fine, writing it faults. */
	assert_int_equal(sim_dma_read(gpu, ropfn * PAGE, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 70), -1);
	assert_int_equal(sim_dma_write(gpu, ropfn * PAGE + 8, buf, 8), -EFAULT);
	assert_int_equal(tu_check(page7, PAGE, 70), -1);
	struct sim_device_stats ds = tu_sim_dstats(gpu);
	assert_int_equal(ds.iommu_faults, 1);
	assert_int_equal(ds.writes, 1);
	assert_int_equal(ds.reads, 1);
	/* An unmapped foreign pfn has no p2m entry: a fault too. */
	assert_int_equal(sim_dma_read(gpu, (fbase + 2) * PAGE, back, 4), -EFAULT);
	assert_int_equal(tu_sim_dstats(gpu).iommu_faults, 2);
	st = xstats(x);
	assert_int_equal(st.dma_foreign_bytes, 512 + 2 * PAGE);
	assert_int_equal(st.grants_mapped, 2);
	assert_int_equal(st.grant_maps, 2);

	/* Unmap: the OS's own page is back, the domU's keeps its bytes. */
	assert_int_equal(h->grant_unmap(priv(m), pfn), 0);
	assert_true(all_bytes(fcpu, PAGE, 0x0a));
	assert_int_equal(tu_check(page5, PAGE, 53), -1);
	assert_int_equal(sim_xen_p2m(x, pfn, &v), -ENOENT);
	assert_int_equal(h->grant_unmap(priv(m), pfn), -ENOENT);
	assert_int_equal(h->grant_unmap(priv(m), 5), -ENOENT);
	assert_int_equal(h->pfn_to_bfn(priv(m), pfn, &out), -ENOENT);
	assert_int_equal(h->bfn_to_pfn(priv(m), bfn, &out), -EOPNOTSUPP);
	/* Now a device at bfn is stray again. */
	uint64_t stray0 = xstats(x).dma_stray_bytes;
	assert_int_equal(sim_dma_write(dev, bfn * PAGE, buf, 16), 0);
	assert_int_equal(xstats(x).dma_stray_bytes, stray0 + 16);
	assert_int_equal(sim_xen_grant_end(x, dom, gref), 0);
	assert_int_equal(sim_xen_grant_end(x, dom, gref), -ENOENT);
	/* The freed slot is the lowest again. */
	uint32_t g2 = 0;
	assert_int_equal(sim_xen_grant(x, dom, 5, false, &g2), 0);
	assert_int_equal(h->grant_map(priv(m), dom, g2, false, &pfn, &bfn), 0);
	assert_int_equal(pfn, fbase);
	st = xstats(x);
	assert_int_equal(st.grants_mapped, 2);
	assert_int_equal(st.grant_maps, 3);
	sim_machine_destroy(m);

	/* Not dom0: no grant mapping. */
	m = x86_guest();
	x = identity_dom0(m, false);
	assert_int_equal(sim_xen_domu_create(x, 4, &dom), 0);
	assert_int_equal(sim_xen_grant(x, dom, 0, false, &gref), 0);
	assert_int_equal(hv(m)->grant_map(priv(m), dom, gref, false, &pfn, &bfn),
			 -EOPNOTSUPP);
	assert_int_equal(hv(m)->grant_unmap(priv(m), fbase), -EOPNOTSUPP);
	assert_false(sim_platform(m)->xen_initial_domain);
	sim_machine_destroy(m);
}

/* ---- caches and foreign pages ---------------------------------------------------- */

static void test_foreign_cache(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen *x = identity_dom0(m, true);
	const struct dmamap_hv_ops *h = hv(m);
	const struct dmamap_platform_ops *ops = sim_platform(m)->ops;
	uint16_t dom = 0;
	uint32_t gref = 0;
	uint64_t pfn = 0, bfn = 0;
	assert_int_equal(sim_xen_domu_create(x, 8, &dom), 0);
	uint8_t *page = sim_xen_domu_page(x, dom, 3);
	tu_fill(page, PAGE, 1);
	assert_int_equal(sim_xen_grant(x, dom, 3, false, &gref), 0);
	assert_int_equal(h->grant_map(priv(m), dom, gref, false, &pfn, &bfn), 0);
	uint8_t *cpu = tu_sim_cpu(m, pfn * PAGE);
	struct sim_device *dev = tu_sim_dev(m, "dma-nc", 64, false);
	uint8_t back[PAGE];

	/* Start tracking (a clean by machine frame), then the CPU writes. */
	assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 0, PAGE, 0), 0);
	struct sim_cache_stats cs;
	sim_cache_get_stats(m, &cs);
	assert_int_equal(cs.tracked_lines, 64);
	tu_fill(cpu, PAGE, 2);
	/* The non-coherent device reads memory: the old bytes. */
	assert_int_equal(sim_dma_read(dev, bfn * PAGE, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 1), -1);
	sim_cache_get_stats(m, &cs);
	assert_int_equal(cs.stale_device_reads, 64);
	/* A clean of the OS page's own storage would not help: only by bfn. */
	assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 0, PAGE, 0), 0);
	assert_int_equal(sim_dma_read(dev, bfn * PAGE, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 2), -1);

	/* The library's clean by guest address reaches the same lines. */
	tu_fill(cpu, PAGE, 3);
	assert_int_equal(sim_dma_read(dev, bfn * PAGE, back, 64), 0);
	assert_int_equal(tu_check(back, 64, 2), -1);
	ops->cache_clean(priv(m), pfn * PAGE, PAGE);
	assert_int_equal(sim_dma_read(dev, bfn * PAGE, back, PAGE), 0);
	assert_int_equal(tu_check(back, PAGE, 3), -1);

	/* Device writes stay in memory until the CPU invalidates. */
	uint8_t w[256];
	tu_fill(w, 256, 4);
	assert_int_equal(sim_dma_write(dev, bfn * PAGE + 512, w, 256), 0);
	assert_int_equal(tu_check(cpu, PAGE, 3), -1);
	ops->cache_invalidate(priv(m), pfn * PAGE + 512, 256);
	assert_int_equal(tu_check(cpu + 512, 256, 4), -1);
	assert_int_equal(tu_check(page + 512, 256, 4), -1);
	/* ...or the hypervisor does, by machine frame. */
	tu_fill(w, 64, 5);
	assert_int_equal(sim_dma_write(dev, bfn * PAGE, w, 64), 0);
	assert_int_equal(tu_check(cpu, 64, 3), -1);
	assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 0, 64, 1), 0);
	assert_int_equal(tu_check(cpu, 64, 5), -1);

	/* A clean that straddles own and foreign pages handles both. */
	uint8_t *prev = tu_sim_cpu(m, (pfn - 1) * PAGE);
	assert_int_equal(sim_dma_write(dev, pfn * PAGE - 64, w, 64), 0);
	tu_fill(prev + PAGE - 64, 64, 6);
	tu_fill(cpu, 64, 7);
	ops->cache_clean(priv(m), pfn * PAGE - 64, 128);
	assert_int_equal(sim_dma_read(dev, pfn * PAGE - 64, back, 64), 0);
	assert_int_equal(tu_check(back, 64, 6), -1);
	assert_int_equal(sim_dma_read(dev, bfn * PAGE, back, 64), 0);
	assert_int_equal(tu_check(back, 64, 7), -1);

	/* Bad flushes. */
	assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 4000, 97, 0), -EINVAL);
	assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 0, 64, 2), -EINVAL);
	assert_int_equal(h->cache_flush_bfn(priv(m), 1ULL << 40, 0, 64, 0), -EINVAL);
	assert_int_equal(xstats(x).cache_flushes, 3);
	assert_int_equal(h->grant_unmap(priv(m), pfn), 0);
	sim_machine_destroy(m);
}

/* ---- the simulator's IOMMUs are the hypervisor's ----------------------------------- */

static void test_iommu_refusal(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	identity_dom0(m, true);
	int id = 77;
	assert_int_equal(sim_iommu_create(m, NULL, &id), -EBUSY);
	assert_int_equal(id, 77);
	assert_null(sim_platform(m)->ops->iommu);
	sim_machine_destroy(m);

	m = x86_guest();
	assert_int_equal(sim_iommu_create(m, NULL, &id), 0);
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_PVH, .initial_domain = true,
				  .nhost = 1, .host_ram = { { 0, 8 * GIB } } };
	struct sim_xen *x = NULL;
	const char *why = NULL;
	assert_int_equal(sim_xen_create(m, &d, &x, &why), -EBUSY);
	assert_non_null(why);
	assert_null(x);
	assert_null(sim_platform(m)->ops->hv);
	assert_int_equal(sim_platform(m)->xen_mode, DMAMAP_XEN_NONE);
	/* The foreign frames were not taken out of the allocator. */
	assert_int_equal(sim_reserve(m, 5 * GIB - PAGE, PAGE), 0);
	sim_machine_destroy(m);
}

/* ---- domUs ---------------------------------------------------------------------- */

static void test_domus(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen_desc d = { .mode = DMAMAP_XEN_PV, .initial_domain = true,
				  .p2m = SIM_XEN_P2M_SCATTERED, .seed = 5 };
	struct sim_xen *x = mkxen(m, &d);
	uint16_t a = 0, b = 0;
	assert_int_equal(sim_xen_domu_create(x, 0, &a), -EINVAL);
	assert_int_equal(sim_xen_domu_create(x, 1000, &a), 0);
	assert_int_equal(sim_xen_domu_create(x, 1000, &b), 0);
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	/* Chunks of 16 frames, not in gfn order, all distinct, high. */
	uint64_t prev = 0, jumps = 0, mfn = 0;
	for (uint64_t g = 0; g < 1000; g++) {
		assert_int_equal(sim_xen_domu_mfn(x, a, g, &mfn), 0);
		tu_assert_ge(mfn, F4G);
		uint64_t mb = 0;
		for (uint64_t h = 0; h < 1000; h += 111) {
			assert_int_equal(sim_xen_domu_mfn(x, b, h, &mb), 0);
			assert_int_not_equal(mb, mfn);
		}
		uint64_t pf;
		assert_int_equal(sim_xen_m2p(x, mfn, &pf), -ENOENT);
		if (g % 16)
			assert_int_equal(mfn, prev + 1);
		else if (g)
			jumps += mfn != prev + 1;
		prev = mfn;
	}
	tu_assert_ge(jumps, 50);
	/* Grant table: 4096 entries. */
	uint32_t gref = 0;
	for (unsigned int i = 0; i < 4096; i++) {
		assert_int_equal(sim_xen_grant(x, a, i % 1000, i & 1, &gref), 0);
		assert_int_equal(gref, i);
	}
	assert_int_equal(sim_xen_grant(x, a, 0, false, &gref), -ENOSPC);
	assert_int_equal(sim_xen_grant_end(x, a, 17), 0);
	assert_int_equal(sim_xen_grant(x, a, 0, false, &gref), 0);
	assert_int_equal(gref, 17);
	/* Too many frames: -ENOMEM, and nothing is lost. */
	assert_int_equal(sim_xen_domu_create(x, 64ULL * GIB / PAGE, &a), -ENOMEM);
	assert_int_equal(sim_xen_domu_create(x, 16, &a), 0);
	assert_int_equal(a, 3);
	sim_machine_destroy(m);
}

/* ---- threads ----------------------------------------------------------------------- */

struct worker {
	struct sim_device *dev;
	uint64_t bus;      /* where this worker's bytes go */
	uint8_t *check;    /* CPU view of them */
	uint32_t seed;
	bool failed;
};

#define ROUNDS 2000
#define WLEN 512

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t buf[WLEN], back[WLEN];
	for (uint32_t i = 0; i < ROUNDS && !w->failed; i++) {
		tu_fill(buf, WLEN, w->seed + i);
		if (sim_dma_write(w->dev, w->bus, buf, WLEN) ||
		    sim_dma_read(w->dev, w->bus, back, WLEN) ||
		    tu_check(back, WLEN, w->seed + i) != -1 ||
		    tu_check(w->check, WLEN, w->seed + i) != -1)
			w->failed = true;
	}
	return NULL;
}

/*
 * Devices move bytes while the OS maps and unmaps grants, exchanges and
 * queries: every byte lands where it should and every byte is counted
 * exactly once, as own, foreign or stray.
 */
static void test_threads(void **state)
{
	(void)state;
	struct sim_machine *m = x86_guest();
	struct sim_xen_desc d = {
		.mode = DMAMAP_XEN_PVH, .initial_domain = true, .nhost = 1,
		.host_ram = { { 0, 6 * GIB } },
		.features = DMAMAP_XENFEAT_P2M_QUERY,
	};
	struct sim_xen *x = mkxen(m, &d);
	const struct dmamap_hv_ops *h = hv(m);
	uint16_t dom = 0;
	uint32_t gref = 0;
	assert_int_equal(sim_xen_domu_create(x, 4, &dom), 0);
	assert_int_equal(sim_xen_grant(x, dom, 2, false, &gref), 0);
	uint64_t dmfn = 0;
	assert_int_equal(sim_xen_domu_mfn(x, dom, 2, &dmfn), 0);
	uint64_t own = tu_sim_alloc(m, 1, 4 * GIB, ~0ULL);
	uint64_t ex = 0;
	assert_int_equal(sim_alloc_pages(m, 4, 4, 0, ~0ULL, &ex), 0);

	struct worker w[2] = {
		{ .dev = tu_sim_dev(m, "own", 64, true), .bus = own,
		  .check = tu_sim_cpu(m, own), .seed = 1000 },
		{ .dev = tu_sim_dev(m, "foreign", 64, true), .bus = dmfn * PAGE,
		  .check = sim_xen_domu_page(x, dom, 2), .seed = 5000 },
	};
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_run, &w[i]), 0);
	uint64_t pfn = 0, bfn = 0, out = 0;
	for (int i = 0; i < 300; i++) {
		assert_int_equal(h->grant_map(priv(m), dom, gref, false, &pfn, &bfn), 0);
		assert_int_equal(bfn, dmfn);
		assert_int_equal(h->pfn_to_bfn(priv(m), pfn, &out), 0);
		/* Not the bytes the worker moves: a clean reads the CPU view. */
		assert_int_equal(h->cache_flush_bfn(priv(m), bfn, 2048, 64, 0), 0);
		assert_int_equal(h->exchange_contiguous(priv(m), ex / PAGE, 2, 32,
							&out), 0);
		assert_int_equal(h->grant_unmap(priv(m), pfn), 0);
		assert_int_equal(h->destroy_contiguous(priv(m), ex / PAGE, 2), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_false(w[i].failed);
	}
	struct sim_xen_stats st = xstats(x);
	assert_int_equal(st.dma_own_bytes, 2ULL * ROUNDS * WLEN);
	assert_int_equal(st.dma_foreign_bytes + st.dma_stray_bytes, 2ULL * ROUNDS * WLEN);
	assert_int_equal(st.grant_maps, 300);
	assert_int_equal(st.grants_mapped, 0);
	assert_int_equal(st.exchanges, 300);
	assert_int_equal(st.lowmem_used, 0);
	assert_int_equal(st.lowmem_hiwater, 4 * PAGE);
	assert_int_equal(st.cache_flushes, 300);
	sim_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts_and_hooks),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_scattered),
		cmocka_unit_test(test_colored),
		cmocka_unit_test(test_dma_machine_addresses),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_grants),
		cmocka_unit_test(test_foreign_cache),
		cmocka_unit_test(test_iommu_refusal),
		cmocka_unit_test(test_domus),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
