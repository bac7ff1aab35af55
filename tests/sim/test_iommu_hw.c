/*
 * tests/sim/test_iommu_hw.c - the simulated IOMMU hardware on its own
 * (sim/iommu.h and sim.h only).
 *
 * Owns: proofs that the IOMMU model does what IOMMU hardware does: page
 * tables in machine memory with 4 KiB / 2 MiB / 1 GiB leaves, translation
 * of device accesses page by page, permission and unmapped faults, the
 * IOTLB (stale entries until invalidated, LRU, counted cost), shared and
 * identity domains, and the platform seam's IOMMU ops.  Never touches the
 * library (src/); every assertion is an exact byte or counter.
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

#include <dmamap/sim/iommu.h>
#include "testutil.h"
#include <dmamap/sim/sim.h>

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)
#define PAGE 4096ULL

#define R DMAMAP_IOMMU_READ
#define W DMAMAP_IOMMU_WRITE
#define RW (DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE)

/* The entry format iommu.h documents. */
#define PTE_P 0x1ULL
#define PTE_R 0x2ULL
#define PTE_W 0x4ULL
#define PTE_LEAF 0x80ULL
#define PTE_ADDR 0x0000fffffffff000ULL

/* ---- helpers -------------------------------------------------------------- */

/* RAM 0-2 GiB and 4-8 GiB (sparse: only touched pages cost). */
static struct sim_machine *std_machine(void)
{
	struct sim_machine_desc d = { .arch = DMAMAP_ARCH_X86, .ncpus = 2 };
	d.ram[d.nram++] = (struct sim_ram_range){ 0, 2 * GIB };
	d.ram[d.nram++] = (struct sim_ram_range){ 4 * GIB, 4 * GIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	return m;
}

static struct sim_device *mkdev_desc(struct sim_machine *m,
				     struct sim_device_desc *d)
{
	struct sim_device *dev = NULL;
	assert_int_equal(sim_device_create(m, d, &dev), 0);
	return dev;
}

static int mkiommu(struct sim_machine *m, const struct sim_iommu_desc *d)
{
	int id = -1;
	assert_int_equal(sim_iommu_create(m, d, &id), 0);
	tu_assert_gt(id, 0);
	return id;
}

static int mkdomain(struct sim_machine *m, int iommu,
		    enum sim_iommu_domain_type type)
{
	int id = -1;
	assert_int_equal(sim_iommu_domain_create(m, iommu, type, &id), 0);
	tu_assert_gt(id, 0);
	return id;
}

static uint64_t free_all(struct sim_machine *m)
{
	return sim_free_bytes(m, SIM_ZONE_DMA) +
	       sim_free_bytes(m, SIM_ZONE_DMA32) +
	       sim_free_bytes(m, SIM_ZONE_NORMAL);
}

static struct sim_iommu_stats istats(struct sim_machine *m, int iommu)
{
	struct sim_iommu_stats st;
	memset(&st, 0xa5, sizeof(st));
	assert_int_equal(sim_iommu_get_stats(m, iommu, &st), 0);
	return st;
}

static struct sim_iommu_domain_info dinfo(struct sim_machine *m, int dom)
{
	struct sim_iommu_domain_info in;
	memset(&in, 0xa5, sizeof(in));
	assert_int_equal(sim_iommu_domain_info(m, dom, &in), 0);
	return in;
}

/* The leaf size the tables use at iova (asserts it is mapped). */
static uint64_t leaf_at(struct sim_machine *m, int dom, uint64_t iova,
			uint64_t want_phys)
{
	uint64_t phys = 0, size = 0;
	unsigned int prot = 0;
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, iova, &phys, &prot,
						&size), 0);
	assert_int_equal(phys, want_phys);
	return size;
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

/* One table entry of the table page at phys, read from machine memory. */
static uint64_t pte(struct sim_machine *m, uint64_t table, unsigned int idx)
{
	uint64_t e;
	memcpy(&e, tu_sim_cpu(m, table + idx * 8ULL), 8);
	return e;
}

/* ---- instances and domains -------------------------------------------------- */

static void test_create(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	assert_int_equal(sim_iommu_page_sizes(m, u), PAGE | 2 * MIB | GIB);
	assert_int_equal(sim_iommu_page_sizes(m, u + 1), 0);
	assert_int_equal(sim_iommu_page_sizes(m, 0), 0);
	struct sim_iommu_desc d = { .name = "smmu-small",
				    .page_sizes = PAGE | 2 * MIB };
	int u2 = mkiommu(m, &d);
	assert_int_not_equal(u2, u);
	assert_int_equal(sim_iommu_page_sizes(m, u2), PAGE | 2 * MIB);

	/* Bad descriptions: no 4K, unknown sizes, IOTLB too large. */
	int id = 77;
	d = (struct sim_iommu_desc){ .page_sizes = 2 * MIB };
	assert_int_equal(sim_iommu_create(m, &d, &id), -EINVAL);
	d = (struct sim_iommu_desc){ .page_sizes = PAGE | 64 * KIB };
	assert_int_equal(sim_iommu_create(m, &d, &id), -EINVAL);
	d = (struct sim_iommu_desc){ .iotlb_entries = SIM_IOMMU_MAX_IOTLB + 1 };
	assert_int_equal(sim_iommu_create(m, &d, &id), -EINVAL);
	assert_int_equal(id, 77);

	/* A translated domain costs one page (the root) at once. */
	uint64_t f0 = free_all(m);
	int t1 = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(free_all(m), f0 - PAGE);
	struct sim_iommu_domain_info in = dinfo(m, t1);
	assert_int_equal(in.iommu_id, u);
	assert_int_equal(in.type, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(in.pt_pages, 1);
	assert_int_equal(in.mapped_bytes, 0);
	assert_int_equal(in.ndevices, 0);
	assert_true(sim_is_ram(m, in.root, PAGE));
	assert_true(all_bytes(tu_sim_cpu(m, in.root), PAGE, 0));
	/* An identity domain has no tables. */
	int i1 = mkdomain(m, u2, SIM_IOMMU_DOMAIN_IDENTITY);
	assert_int_equal(free_all(m), f0 - PAGE);
	in = dinfo(m, i1);
	assert_int_equal(in.root, 0);
	assert_int_equal(in.pt_pages, 0);
	assert_int_equal(in.iommu_id, u2);
	assert_int_not_equal(t1, i1);
	tu_assert_gt(t1, 0);
	tu_assert_gt(i1, 0);
	assert_int_equal(istats(m, u).pt_pages, 1);
	assert_int_equal(istats(m, u2).pt_pages, 0);

	assert_int_equal(sim_iommu_domain_create(m, 99, SIM_IOMMU_DOMAIN_TRANSLATED,
						 &id), -EINVAL);
	assert_int_equal(sim_iommu_domain_create(m, u, 7, &id), -EINVAL);
	assert_int_equal(sim_iommu_domain_info(m, 0, &in), -EINVAL);

	/* Destroy gives the root back; ids are not reused. */
	assert_int_equal(sim_iommu_domain_destroy(m, t1), 0);
	assert_int_equal(free_all(m), f0);
	assert_int_equal(sim_iommu_domain_destroy(m, t1), -EINVAL);
	assert_int_equal(sim_iommu_domain_info(m, t1, &in), -EINVAL);
	int t2 = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_not_equal(t2, t1);
	assert_int_not_equal(t2, i1);
	assert_int_equal(istats(m, u).pt_pages, 1);
	sim_machine_destroy(m);
}

/* ---- tables ---------------------------------------------------------------- */

static void test_map_page_sizes(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	uint64_t root = dinfo(m, dom).root;
	uint64_t f = free_all(m);

	/* 4 KiB at 0x1000: three new tables (levels 2, 1 and 0). */
	assert_int_equal(sim_iommu_map(m, dom, 0x1000, 0x7000, PAGE, R), 0);
	assert_int_equal(free_all(m), f - 3 * PAGE);
	assert_int_equal(dinfo(m, dom).pt_pages, 4);
	assert_int_equal(leaf_at(m, dom, 0x1234, 0x7234), PAGE);
	/* The entries really are in machine memory, in the documented format. */
	uint64_t e3 = pte(m, root, 0);
	assert_true((e3 & PTE_P) && !(e3 & PTE_LEAF));
	uint64_t e2 = pte(m, e3 & PTE_ADDR, 0);
	assert_true((e2 & PTE_P) && !(e2 & PTE_LEAF));
	uint64_t e1 = pte(m, e2 & PTE_ADDR, 0);
	assert_true((e1 & PTE_P) && !(e1 & PTE_LEAF));
	assert_int_equal(pte(m, e1 & PTE_ADDR, 1), 0x7000 | PTE_P | PTE_R | PTE_LEAF);
	assert_int_equal(pte(m, e1 & PTE_ADDR, 0), 0);
	assert_true(sim_is_ram(m, e3 & PTE_ADDR, PAGE));

	/* 2 MiB at 2 MiB: a level-1 leaf in the existing table, no new page. */
	f = free_all(m);
	assert_int_equal(sim_iommu_map(m, dom, 2 * MIB, 6 * MIB, 2 * MIB, RW), 0);
	assert_int_equal(free_all(m), f);
	assert_int_equal(leaf_at(m, dom, 3 * MIB, 7 * MIB), 2 * MIB);
	assert_int_equal(pte(m, e2 & PTE_ADDR, 1),
			 6 * MIB | PTE_P | PTE_R | PTE_W | PTE_LEAF);

	/* 1 GiB at 1 GiB: a level-2 leaf, no new page. */
	assert_int_equal(sim_iommu_map(m, dom, GIB, 4 * GIB, GIB, RW), 0);
	assert_int_equal(free_all(m), f);
	assert_int_equal(leaf_at(m, dom, GIB + 0x12345, 4 * GIB + 0x12345), GIB);
	assert_int_equal(pte(m, e3 & PTE_ADDR, 1),
			 4 * GIB | PTE_P | PTE_R | PTE_W | PTE_LEAF);

	/* 2 MiB under a new root entry (1 TiB): two new tables. */
	assert_int_equal(sim_iommu_map(m, dom, TIB, 4 * GIB, 2 * MIB, R), 0);
	assert_int_equal(free_all(m), f - 2 * PAGE);
	assert_int_equal(leaf_at(m, dom, TIB, 4 * GIB), 2 * MIB);

	/* 2 MiB + 4 KiB, both aligned: one 2 MiB leaf and one 4 KiB leaf. */
	f = free_all(m);
	assert_int_equal(sim_iommu_map(m, dom, 4 * MIB, 8 * MIB,
				       2 * MIB + PAGE, R), 0);
	assert_int_equal(leaf_at(m, dom, 4 * MIB, 8 * MIB), 2 * MIB);
	assert_int_equal(leaf_at(m, dom, 6 * MIB, 10 * MIB), PAGE);
	assert_int_equal(free_all(m), f - PAGE); /* the 4 KiB leaf's table */

	/* phys only 4 KiB aligned: 512 leaves of 4 KiB, one new table. */
	f = free_all(m);
	assert_int_equal(sim_iommu_map(m, dom, 10 * MIB, 12 * MIB + PAGE,
				       2 * MIB, R), 0);
	assert_int_equal(leaf_at(m, dom, 10 * MIB, 12 * MIB + PAGE), PAGE);
	assert_int_equal(leaf_at(m, dom, 12 * MIB - PAGE, 14 * MIB), PAGE);
	assert_int_equal(free_all(m), f - PAGE);

	/* 1 GiB aligned, 1 GiB + 2 MiB + 4 KiB long: all three sizes. */
	assert_int_equal(sim_iommu_map(m, dom, 8 * GIB, 5 * GIB,
				       GIB + 2 * MIB + PAGE, RW), 0);
	assert_int_equal(leaf_at(m, dom, 8 * GIB, 5 * GIB), GIB);
	assert_int_equal(leaf_at(m, dom, 9 * GIB, 6 * GIB), 2 * MIB);
	assert_int_equal(leaf_at(m, dom, 9 * GIB + 2 * MIB, 6 * GIB + 2 * MIB), PAGE);

	struct sim_iommu_domain_info in = dinfo(m, dom);
	assert_int_equal(in.mapped_bytes,
			 PAGE + 2 * MIB + GIB + 2 * MIB + (2 * MIB + PAGE) + 2 * MIB +
			 (GIB + 2 * MIB + PAGE));
	assert_int_equal(istats(m, u).maps, 7);
	assert_int_equal(istats(m, u).pt_pages, in.pt_pages);
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 0, NULL, NULL, NULL),
			 -ENOENT);

	/* An IOMMU with 4 KiB pages only never uses large leaves. */
	struct sim_iommu_desc d4 = { .page_sizes = PAGE };
	int u4 = mkiommu(m, &d4);
	int dom4 = mkdomain(m, u4, SIM_IOMMU_DOMAIN_TRANSLATED);
	f = free_all(m);
	assert_int_equal(sim_iommu_map(m, dom4, GIB, 4 * GIB, 4 * MIB, R), 0);
	assert_int_equal(leaf_at(m, dom4, GIB + 2 * MIB, 4 * GIB + 2 * MIB), PAGE);
	/* levels 2 and 1, then two level-0 tables */
	assert_int_equal(free_all(m), f - 4 * PAGE);

	/* Destroy gives every table page back. */
	f = free_all(m);
	uint64_t held = dinfo(m, dom).pt_pages;
	assert_int_equal(sim_iommu_domain_destroy(m, dom), 0);
	assert_int_equal(free_all(m), f + held * PAGE);
	assert_int_equal(istats(m, u).pt_pages, 0);
	sim_machine_destroy(m);
}

static void test_map_errors(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	int idn = mkdomain(m, u, SIM_IOMMU_DOMAIN_IDENTITY);
	assert_int_equal(sim_iommu_map(m, dom, 0x10000, 0x20000, PAGE, RW), 0);
	uint64_t f = free_all(m);

	/* Already mapped, wholly or in part: nothing changes. */
	assert_int_equal(sim_iommu_map(m, dom, 0x10000, 0x30000, PAGE, RW),
			 -EEXIST);
	assert_int_equal(sim_iommu_map(m, dom, 0xf000, 0x30000, 2 * PAGE, RW),
			 -EEXIST);
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 0xf000, NULL, NULL, NULL),
			 -ENOENT);
	/* A large page over a small one. */
	assert_int_equal(sim_iommu_map(m, dom, 0, 0, 2 * MIB, RW), -EEXIST);
	assert_int_equal(leaf_at(m, dom, 0x10000, 0x20000), PAGE);
	assert_int_equal(free_all(m), f);

	/* Bad alignment, size, range, prot, domain. */
	assert_int_equal(sim_iommu_map(m, dom, 0x100, 0x30000, PAGE, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30100, PAGE, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30000, 100, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30000, 0, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, (1ULL << 48) - PAGE, 0x30000,
				       2 * PAGE, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 1ULL << 48, 0x30000, PAGE, RW),
			 -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 1ULL << 48, PAGE, RW),
			 -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30000, PAGE, 0), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30000, PAGE,
				       DMAMAP_IOMMU_PRIV), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, 0x30000, PAGE, 0x10 | R),
			 -EINVAL);
	assert_int_equal(sim_iommu_map(m, idn, 0x40000, 0x30000, PAGE, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, 0, 0x40000, 0x30000, PAGE, RW), -EINVAL);
	assert_int_equal(sim_iommu_map(m, 999, 0x40000, 0x30000, PAGE, RW), -EINVAL);
	/* The highest page is fine; PRIV with READ is accepted. */
	assert_int_equal(sim_iommu_map(m, dom, (1ULL << 48) - PAGE, 0x30000, PAGE,
				       R | DMAMAP_IOMMU_PRIV), 0);

	uint64_t un = 5;
	assert_int_equal(sim_iommu_unmap(m, dom, 0x10001, PAGE, &un), -EINVAL);
	assert_int_equal(un, 0);
	assert_int_equal(sim_iommu_unmap(m, dom, 0x10000, 0, &un), -EINVAL);
	assert_int_equal(sim_iommu_unmap(m, idn, 0x10000, PAGE, &un), -EINVAL);
	assert_int_equal(sim_iommu_unmap(m, 999, 0x10000, PAGE, &un), -EINVAL);
	/* A hole unmaps nothing, successfully. */
	un = 5;
	assert_int_equal(sim_iommu_unmap(m, dom, 0x80000, 4 * PAGE, &un), 0);
	assert_int_equal(un, 0);
	/* Holes around a mapping are not counted. */
	assert_int_equal(sim_iommu_unmap(m, dom, 0, MIB, &un), 0);
	assert_int_equal(un, PAGE);
	assert_int_equal(sim_iommu_unmap(m, dom, 0, MIB, NULL), 0);

	assert_int_equal(sim_iommu_iotlb_sync(m, dom, 0, 0), -EINVAL);
	assert_int_equal(sim_iommu_iotlb_sync(m, dom, ~0ULL, 2), -EINVAL);
	assert_int_equal(sim_iommu_iotlb_sync(m, idn, 0, PAGE), -EINVAL);
	assert_int_equal(sim_iommu_flush_all(m, idn), -EINVAL);
	assert_int_equal(sim_iommu_flush_all(m, 999), -EINVAL);
	assert_int_equal(sim_iommu_iova_to_phys(m, idn, 0, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(istats(m, u).invalidations, 0);
	sim_machine_destroy(m);
}

/* Takes every free page; returns how many extents were taken. */
static size_t exhaust(struct sim_machine *m, uint64_t *base, uint64_t *np,
		      size_t max)
{
	size_t n = 0;
	for (uint64_t want = 1ULL << 20; want; want >>= 1)
		while (n < max && sim_alloc_pages(m, want, 1, 0, ~0ULL,
						  &base[n]) == 0)
			np[n++] = want;
	assert_int_equal(free_all(m), 0);
	return n;
}

static void test_map_enomem(void **state)
{
	(void)state;
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_ARM64 };
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 16 * MIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&md, &m, NULL), 0);
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_map(m, dom, 0, 0x100000, PAGE, RW), 0);
	uint64_t base[64], np[64];
	size_t n = exhaust(m, base, np, 64);
	uint64_t pt = dinfo(m, dom).pt_pages;

	/* Needs new tables: nothing is left, nothing mapped. */
	assert_int_equal(sim_iommu_map(m, dom, GIB, 0x100000, PAGE, RW), -ENOMEM);
	/* The first page fits an existing table, the second needs one: rolled back. */
	assert_int_equal(sim_iommu_map(m, dom, 2 * MIB - PAGE, 0x200000,
				       2 * PAGE, RW), -ENOMEM);
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 2 * MIB - PAGE, NULL,
						NULL, NULL), -ENOENT);
	assert_int_equal(dinfo(m, dom).mapped_bytes, PAGE);
	assert_int_equal(dinfo(m, dom).pt_pages, pt);
	/* Within existing tables a map still works. */
	assert_int_equal(sim_iommu_map(m, dom, PAGE, 0x200000, PAGE, R), 0);
	assert_int_equal(sim_iommu_unmap(m, dom, 0, 2 * PAGE, NULL), 0);
	for (size_t i = 0; i < n; i++)
		sim_free_pages(m, base[i], np[i]);
	/* A split needs a page: -ENOMEM, the whole leaf stays. */
	assert_int_equal(sim_iommu_map(m, dom, 2 * MIB, 4 * MIB, 2 * MIB, RW), 0);
	n = exhaust(m, base, np, 64);
	uint64_t un = 9;
	assert_int_equal(sim_iommu_unmap(m, dom, 2 * MIB, PAGE, &un), -ENOMEM);
	assert_int_equal(un, 0);
	assert_int_equal(leaf_at(m, dom, 2 * MIB, 4 * MIB), 2 * MIB);
	/* No IOMMU call leaked a page: only the four tables are held. */
	assert_int_equal(dinfo(m, dom).pt_pages, 4);
	for (size_t i = 0; i < n; i++)
		sim_free_pages(m, base[i], np[i]);
	assert_int_equal(free_all(m), 16 * MIB - dinfo(m, dom).pt_pages * PAGE);
	sim_machine_destroy(m);
}

static void test_partial_unmap_splits(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "nvme", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);

	/* A 2 MiB leaf, cached by one device access. */
	assert_int_equal(sim_iommu_map(m, dom, 2 * MIB, 4 * GIB, 2 * MIB, RW), 0);
	uint8_t b[16];
	assert_int_equal(sim_dma_read(dev, 2 * MIB, b, sizeof(b)), 0);
	uint64_t f = free_all(m), pt = dinfo(m, dom).pt_pages;

	/* Unmapping 4 KiB inside it splits it into 512 leaves, one new table. */
	uint64_t un = 0;
	assert_int_equal(sim_iommu_unmap(m, dom, 2 * MIB + 2 * PAGE, PAGE, &un), 0);
	assert_int_equal(un, PAGE);
	assert_int_equal(free_all(m), f - PAGE);
	assert_int_equal(dinfo(m, dom).pt_pages, pt + 1);
	assert_int_equal(istats(m, u).splits, 1);
	assert_int_equal(dinfo(m, dom).mapped_bytes, 2 * MIB - PAGE);
	assert_int_equal(leaf_at(m, dom, 2 * MIB, 4 * GIB), PAGE);
	assert_int_equal(leaf_at(m, dom, 2 * MIB + 3 * PAGE + 5, 4 * GIB + 3 * PAGE + 5),
			 PAGE);
	unsigned int prot = 0;
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 4 * MIB - 1, NULL, &prot,
						NULL), 0);
	assert_int_equal(prot, RW);
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 2 * MIB + 2 * PAGE, NULL,
						NULL, NULL), -ENOENT);

	/* The cached 2 MiB entry still translates the hole until a sync. */
	struct sim_iommu_stats st0 = istats(m, u);
	assert_int_equal(sim_dma_read(dev, 2 * MIB + 2 * PAGE, b, sizeof(b)), 0);
	assert_int_equal(istats(m, u).stale_hits, st0.stale_hits + 1);
	assert_int_equal(sim_iommu_iotlb_sync(m, dom, 2 * MIB + 2 * PAGE, PAGE), 0);
	assert_int_equal(sim_dma_read(dev, 2 * MIB + 2 * PAGE, b, sizeof(b)),
			 -EFAULT);
	assert_int_equal(sim_dma_read(dev, 2 * MIB + 3 * PAGE, b, sizeof(b)), 0);

	/* A 1 GiB leaf losing its first-but-one page: split twice. */
	assert_int_equal(sim_iommu_map(m, dom, GIB, 4 * GIB, GIB, RW), 0);
	f = free_all(m);
	assert_int_equal(sim_iommu_unmap(m, dom, GIB + PAGE, PAGE, &un), 0);
	assert_int_equal(un, PAGE);
	assert_int_equal(free_all(m), f - 2 * PAGE);
	assert_int_equal(istats(m, u).splits, 3);
	assert_int_equal(leaf_at(m, dom, GIB, 4 * GIB), PAGE);
	assert_int_equal(leaf_at(m, dom, GIB + 2 * MIB, 4 * GIB + 2 * MIB), 2 * MIB);
	assert_int_equal(leaf_at(m, dom, 2 * GIB - 1, 5 * GIB - 1), 2 * MIB);

	/* A range covering whole leaves and holes counts only what was mapped. */
	assert_int_equal(sim_iommu_unmap(m, dom, GIB, 4 * MIB, &un), 0);
	assert_int_equal(un, 4 * MIB - PAGE);
	assert_int_equal(sim_iommu_unmap(m, dom, GIB, GIB, &un), 0);
	assert_int_equal(un, GIB - 4 * MIB);
	assert_int_equal(dinfo(m, dom).mapped_bytes, 2 * MIB - PAGE);

	/* Unmap never frees tables; a large map over an empty one does. */
	assert_int_equal(sim_iommu_map(m, dom, 8 * MIB, 0x10000, PAGE, RW), 0);
	f = free_all(m);
	assert_int_equal(sim_iommu_unmap(m, dom, 8 * MIB, PAGE, &un), 0);
	assert_int_equal(free_all(m), f);
	assert_int_equal(sim_iommu_map(m, dom, 8 * MIB, 0, 2 * MIB, R), 0);
	assert_int_equal(free_all(m), f + PAGE);
	assert_int_equal(leaf_at(m, dom, 8 * MIB, 0), 2 * MIB);
	sim_machine_destroy(m);
}

/* ---- device accesses ------------------------------------------------------- */

static void test_dma_scattered(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "nic", 64, true);
	assert_int_equal(sim_device_iommu_domain(dev), 0);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	assert_int_equal(sim_device_iommu_domain(dev), dom);
	assert_int_equal(dinfo(m, dom).ndevices, 1);

	/* Three IOVA pages onto three scattered physical pages, out of order. */
	uint64_t hi = tu_sim_alloc(m, 4, 4 * GIB, ~0ULL);
	uint64_t p[3] = { hi + 3 * PAGE, tu_sim_alloc(m, 1, 0, 16 * MIB - 1), hi };
	const uint64_t iova = 0x10000000;
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(sim_iommu_map(m, dom, iova + i * PAGE, p[i], PAGE,
					       RW), 0);
		fill(tu_sim_cpu(m, p[i]), PAGE, (uint8_t)(i * 50));
	}
	/* Read 8 KiB from the middle of the first page. */
	static uint8_t got[2 * PAGE], want[2 * PAGE];
	memcpy(want, tu_sim_cpu(m, p[0]) + 0x800, PAGE - 0x800);
	memcpy(want + PAGE - 0x800, tu_sim_cpu(m, p[1]), PAGE);
	memcpy(want + 2 * PAGE - 0x800, tu_sim_cpu(m, p[2]), 0x800);
	assert_int_equal(sim_dma_read(dev, iova + 0x800, got, sizeof(got)), 0);
	assert_memory_equal(got, want, sizeof(got));
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.iotlb_misses, 3);
	assert_int_equal(st.walks, 3);
	assert_int_equal(st.iotlb_hits, 0);

	/* Write 8 KiB + 2 across the same pages: exact bytes, nothing around. */
	static uint8_t src[2 * PAGE + 2];
	fill(src, sizeof(src), 201);
	for (unsigned int i = 0; i < 3; i++)
		memset(tu_sim_cpu(m, p[i]), 0x5a, PAGE);
	assert_int_equal(sim_dma_write(dev, iova + PAGE / 2 - 1, src,
				       sizeof(src)), 0);
	assert_true(all_bytes(tu_sim_cpu(m, p[0]), PAGE / 2 - 1, 0x5a));
	assert_memory_equal(tu_sim_cpu(m, p[0]) + PAGE / 2 - 1, src, PAGE / 2 + 1);
	assert_memory_equal(tu_sim_cpu(m, p[1]), src + PAGE / 2 + 1, PAGE);
	assert_memory_equal(tu_sim_cpu(m, p[2]), src + 3 * PAGE / 2 + 1, PAGE / 2 + 1);
	assert_true(all_bytes(tu_sim_cpu(m, p[2]) + PAGE / 2 + 1, PAGE / 2 - 1, 0x5a));
	st = istats(m, u);
	assert_int_equal(st.iotlb_misses, 3);
	assert_int_equal(st.walks, 3);
	assert_int_equal(st.iotlb_hits, 3);
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.reads, 1);
	assert_int_equal(ds.writes, 1);
	assert_int_equal(ds.bytes_read, 2 * PAGE);
	assert_int_equal(ds.bytes_written, 2 * PAGE + 2);
	assert_int_equal(ds.bus_errors, 0);
	assert_int_equal(ds.iommu_faults, 0);

	/* Through a 1 GiB leaf: one walk for accesses far apart. */
	assert_int_equal(sim_iommu_map(m, dom, 2 * GIB, 4 * GIB, GIB, RW), 0);
	uint8_t b[64];
	fill(b, sizeof(b), 3);
	assert_int_equal(sim_dma_write(dev, 2 * GIB + 0x3ffff000 + 7, b,
				       sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, 4 * GIB + 0x3ffff000 + 7), b, sizeof(b));
	assert_int_equal(sim_dma_read(dev, 2 * GIB + 0x12345, b, sizeof(b)), 0);
	assert_memory_equal(b, tu_sim_cpu(m, 4 * GIB + 0x12345), sizeof(b));
	st = istats(m, u);
	assert_int_equal(st.walks, 4);
	assert_int_equal(st.iotlb_hits, 4);

	/* Detached: bus == phys again, the IOMMU sees nothing. */
	assert_int_equal(sim_iommu_detach(dev), 0);
	assert_int_equal(sim_device_iommu_domain(dev), 0);
	assert_int_equal(dinfo(m, dom).ndevices, 0);
	fill(b, sizeof(b), 9);
	assert_int_equal(sim_dma_write(dev, 0x500000, b, sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, 0x500000), b, sizeof(b));
	assert_int_equal(sim_iommu_detach(dev), 0); /* idempotent */
	st = istats(m, u);
	assert_int_equal(st.walks, 4);
	assert_int_equal(st.iotlb_hits, 4);
	assert_int_equal(sim_iommu_attach(dev, 999), -EINVAL);
	sim_machine_destroy(m);
}

static void test_noncoherent_through_iommu(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "dsp", 32, false);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	uint64_t p = tu_sim_alloc(m, 1, 4 * GIB, ~0ULL);
	assert_int_equal(sim_iommu_map(m, dom, 0x1000, p, PAGE, RW), 0);
	uint8_t b[128];
	fill(b, sizeof(b), 77);
	assert_int_equal(sim_dma_write(dev, 0x1000 + 64, b, sizeof(b)), 0);
	/* The cache model is behind the IOMMU: the CPU sees it after invalidate. */
	assert_true(all_bytes(tu_sim_cpu(m, p + 64), sizeof(b), 0));
	const struct dmamap_platform *pl = sim_platform(m);
	pl->ops->cache_invalidate(pl->priv, p, PAGE);
	assert_memory_equal(tu_sim_cpu(m, p + 64), b, sizeof(b));
	sim_machine_destroy(m);
}

static void test_permission_faults(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "eth0", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	uint64_t ro = tu_sim_alloc(m, 1, 0, ~0ULL), wo = tu_sim_alloc(m, 1, 0, ~0ULL);
	assert_int_equal(sim_iommu_map(m, dom, 0x20000, ro, PAGE, R), 0);
	assert_int_equal(sim_iommu_map(m, dom, 0x21000, wo, PAGE, W), 0);
	fill(tu_sim_cpu(m, ro), PAGE, 1);
	fill(tu_sim_cpu(m, wo), PAGE, 2);
	static uint8_t before_ro[PAGE], before_wo[PAGE];
	memcpy(before_ro, tu_sim_cpu(m, ro), PAGE);
	memcpy(before_wo, tu_sim_cpu(m, wo), PAGE);

	/* Write to the read-only page: blocked, memory untouched. */
	uint8_t b[32];
	fill(b, sizeof(b), 99);
	assert_int_equal(sim_dma_write(dev, 0x20010, b, sizeof(b)), -EFAULT);
	assert_memory_equal(tu_sim_cpu(m, ro), before_ro, PAGE);
	/* Read of the write-only page: blocked, 0xff. */
	assert_int_equal(sim_dma_read(dev, 0x21020, b, sizeof(b)), -EFAULT);
	assert_true(all_bytes(b, sizeof(b), 0xff));
	/* A write from the read-only page into the write-only one: blocked
	 * whole, the write-only page untouched too. */
	static uint8_t big[PAGE];
	fill(big, sizeof(big), 5);
	assert_int_equal(sim_dma_write(dev, 0x20800, big, PAGE), -EFAULT);
	assert_memory_equal(tu_sim_cpu(m, wo), before_wo, PAGE);
	/* Allowed directions work. */
	assert_int_equal(sim_dma_read(dev, 0x20010, b, sizeof(b)), 0);
	assert_memory_equal(b, tu_sim_cpu(m, ro) + 0x10, sizeof(b));
	assert_int_equal(sim_dma_write(dev, 0x21000, b, sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, wo), b, sizeof(b));

	struct sim_iommu_fault f[8];
	assert_int_equal(sim_iommu_faults(m, u, f, 8), 3);
	assert_string_equal(f[0].device, "eth0");
	assert_int_equal(f[0].domain_id, dom);
	assert_int_equal(f[0].iova, 0x20010);
	assert_true(f[0].write);
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_PERMISSION);
	assert_int_equal(f[1].iova, 0x21020);
	assert_false(f[1].write);
	assert_int_equal(f[1].reason, SIM_IOMMU_FAULT_PERMISSION);
	assert_int_equal(f[2].iova, 0x20800);
	assert_true(f[2].write);
	assert_int_equal(f[2].reason, SIM_IOMMU_FAULT_PERMISSION);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.faults, 3);
	assert_int_equal(st.faults_permission, 3);
	assert_int_equal(st.faults_unmapped, 0);
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.iommu_faults, 3);
	assert_int_equal(ds.bus_errors, 0);
	assert_int_equal(ds.reads, 1);
	assert_int_equal(ds.writes, 1);
	assert_int_equal(ds.bytes_read, sizeof(b));
	assert_int_equal(ds.bytes_written, sizeof(b));
	sim_machine_destroy(m);
}

static void test_unmapped_faults(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "ssd", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	uint64_t p = tu_sim_alloc(m, 1, 0, ~0ULL);
	memset(tu_sim_cpu(m, p), 0x33, PAGE);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000, p, PAGE, RW), 0);

	uint8_t b[64];
	memset(b, 0, sizeof(b));
	assert_int_equal(sim_dma_read(dev, 0x50000, b, sizeof(b)), -EFAULT);
	assert_true(all_bytes(b, sizeof(b), 0xff));
	/* A write that runs off the mapped page: nothing written, not even the
	 * mapped part; the fault is at the first unmapped byte. */
	memset(b, 0x77, sizeof(b));
	assert_int_equal(sim_dma_write(dev, 0x41000 - 16, b, sizeof(b)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, p), PAGE, 0x33));
	/* Beyond 48 bits: unmapped, no walk. */
	uint64_t walks = istats(m, u).walks;
	assert_int_equal(sim_dma_read(dev, 1ULL << 48, b, 8), -EFAULT);
	assert_int_equal(istats(m, u).walks, walks);
	/* Physical bus errors stay bus errors: a mapping onto a hole. */
	assert_int_equal(sim_iommu_map(m, dom, 0x60000, 3 * GIB, PAGE, RW), 0);
	assert_int_equal(sim_dma_write(dev, 0x60000, b, 8), -EFAULT);

	struct sim_iommu_fault f[8];
	assert_int_equal(sim_iommu_faults(m, u, f, 8), 3);
	assert_int_equal(f[0].iova, 0x50000);
	assert_false(f[0].write);
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(f[1].iova, 0x41000);
	assert_true(f[1].write);
	assert_int_equal(f[1].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(f[2].iova, 1ULL << 48);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.faults, 3);
	assert_int_equal(st.faults_unmapped, 3);
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.iommu_faults, 3);
	assert_int_equal(ds.bus_errors, 1);
	assert_int_equal(ds.reads, 0);
	assert_int_equal(ds.writes, 0);
	struct sim_event ev[4];
	assert_int_equal(sim_device_events(dev, ev, 4), 1);
	assert_int_equal(ev[0].kind, SIM_EV_BUS_ERROR);
	assert_int_equal(ev[0].emitted, 0x60000);
	sim_machine_destroy(m);
}

static void test_fault_ring(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *a = tu_sim_dev(m, "a", 64, true);
	struct sim_device *b = tu_sim_dev(m, "b", 64, true);
	assert_int_equal(sim_iommu_attach(a, dom), 0);
	assert_int_equal(sim_iommu_attach(b, dom), 0);
	uint8_t x = 0;
	for (unsigned int i = 0; i < 70; i++)
		assert_int_equal(sim_dma_write(i % 2 ? b : a, i * PAGE, &x, 1),
				 -EFAULT);
	struct sim_iommu_fault f[80];
	assert_int_equal(sim_iommu_faults(m, u, f, 80), SIM_IOMMU_FAULTS);
	for (unsigned int i = 0; i < SIM_IOMMU_FAULTS; i++) {
		assert_int_equal(f[i].iova, (i + 6) * PAGE);
		assert_string_equal(f[i].device, (i + 6) % 2 ? "b" : "a");
	}
	assert_int_equal(sim_iommu_faults(m, u, f, 2), 2);
	assert_int_equal(f[1].iova, 69 * PAGE);
	assert_int_equal(f[0].iova, 68 * PAGE);
	assert_int_equal(sim_iommu_faults(m, u + 1, f, 2), 0);
	assert_int_equal(istats(m, u).faults, 70);
	assert_int_equal(tu_sim_dstats(a).iommu_faults, 35);
	assert_int_equal(tu_sim_dstats(b).iommu_faults, 35);
	sim_machine_destroy(m);
}

/* ---- the IOTLB -------------------------------------------------------------- */

static void test_stale_iotlb(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "hba", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	uint64_t p = tu_sim_alloc(m, 1, 0, ~0ULL);
	fill(tu_sim_cpu(m, p), PAGE, 40);
	assert_int_equal(sim_iommu_map(m, dom, 0x70000, p, PAGE, RW), 0);
	uint8_t b[100], w[100];
	assert_int_equal(sim_dma_read(dev, 0x70000, b, sizeof(b)), 0);

	/* Unmap without invalidation: the IOTLB still translates. */
	uint64_t un = 0;
	assert_int_equal(sim_iommu_unmap(m, dom, 0x70000, PAGE, &un), 0);
	assert_int_equal(un, PAGE);
	assert_int_equal(sim_iommu_iova_to_phys(m, dom, 0x70000, NULL, NULL, NULL),
			 -ENOENT);
	memset(b, 0, sizeof(b));
	assert_int_equal(sim_dma_read(dev, 0x70000 + 8, b, sizeof(b)), 0);
	assert_memory_equal(b, tu_sim_cpu(m, p) + 8, sizeof(b));
	fill(w, sizeof(w), 7);
	assert_int_equal(sim_dma_write(dev, 0x70000 + 500, w, sizeof(w)), 0);
	assert_memory_equal(tu_sim_cpu(m, p) + 500, w, sizeof(w));
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.stale_hits, 2);
	assert_int_equal(st.iotlb_hits, 2);
	assert_int_equal(st.walks, 1);
	assert_int_equal(st.invalidations, 0);
	assert_int_equal(st.inval_cost_ns, 0);
	assert_int_equal(tu_sim_dstats(dev).iommu_faults, 0);

	/* A sync elsewhere does not help. */
	assert_int_equal(sim_iommu_iotlb_sync(m, dom, 0x71000, PAGE), 0);
	assert_int_equal(sim_dma_read(dev, 0x70000, b, 1), 0);
	st = istats(m, u);
	assert_int_equal(st.stale_hits, 3);
	assert_int_equal(st.invalidations, 1);
	assert_int_equal(st.inval_cost_ns, 1000);

	/* A sync overlapping the entry (unaligned, 1 byte) drops it. */
	assert_int_equal(sim_iommu_iotlb_sync(m, dom, 0x70fff, 1), 0);
	assert_int_equal(sim_dma_read(dev, 0x70000, b, 1), -EFAULT);
	st = istats(m, u);
	assert_int_equal(st.invalidations, 2);
	assert_int_equal(st.inval_cost_ns, 2000);
	assert_int_equal(st.stale_hits, 3);
	assert_int_equal(st.walks, 2);
	assert_int_equal(tu_sim_dstats(dev).iommu_faults, 1);

	/* Cost is configurable; flush_all is one invalidation too. */
	assert_int_equal(sim_iommu_set_inval_cost(m, u, 250), 0);
	assert_int_equal(sim_iommu_set_inval_cost(m, 99, 250), -EINVAL);
	assert_int_equal(sim_iommu_map(m, dom, 0x70000, p, PAGE, RW), 0);
	assert_int_equal(sim_iommu_map(m, dom, 0x90000, p, PAGE, RW), 0);
	assert_int_equal(sim_dma_read(dev, 0x70000, b, 1), 0);
	assert_int_equal(sim_dma_read(dev, 0x90000, b, 1), 0);
	assert_int_equal(sim_iommu_unmap(m, dom, 0x70000, 0x21000, &un), 0);
	assert_int_equal(un, 2 * PAGE);
	assert_int_equal(sim_dma_read(dev, 0x90000, b, 1), 0);
	assert_int_equal(sim_iommu_flush_all(m, dom), 0);
	assert_int_equal(sim_dma_read(dev, 0x90000, b, 1), -EFAULT);
	assert_int_equal(sim_dma_read(dev, 0x70000, b, 1), -EFAULT);
	st = istats(m, u);
	assert_int_equal(st.invalidations, 3);
	assert_int_equal(st.inval_cost_ns, 2250);
	assert_int_equal(st.stale_hits, 4);

	/* A remap without invalidation: the stale entry still wins. */
	uint64_t q = tu_sim_alloc(m, 1, 0, ~0ULL);
	fill(tu_sim_cpu(m, q), PAGE, 200);
	assert_int_equal(sim_iommu_map(m, dom, 0xa0000, p, PAGE, RW), 0);
	assert_int_equal(sim_dma_read(dev, 0xa0000, b, 4), 0);
	assert_int_equal(sim_iommu_unmap(m, dom, 0xa0000, PAGE, NULL), 0);
	assert_int_equal(sim_iommu_map(m, dom, 0xa0000, q, PAGE, RW), 0);
	assert_int_equal(sim_dma_read(dev, 0xa0000, b, 4), 0);
	assert_memory_equal(b, tu_sim_cpu(m, p), 4);
	assert_int_equal(sim_iommu_iotlb_sync(m, dom, 0xa0000, PAGE), 0);
	assert_int_equal(sim_dma_read(dev, 0xa0000, b, 4), 0);
	assert_memory_equal(b, tu_sim_cpu(m, q), 4);
	st = istats(m, u);
	assert_int_equal(st.stale_hits, 5);
	assert_int_equal(st.invalidations, 4);
	assert_int_equal(st.inval_cost_ns, 2500);

	/* A custom default cost. */
	struct sim_iommu_desc d = { .inval_cost_ns = 3 };
	int u2 = mkiommu(m, &d);
	int dom2 = mkdomain(m, u2, SIM_IOMMU_DOMAIN_TRANSLATED);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sim_iommu_flush_all(m, dom2), 0);
	assert_int_equal(istats(m, u2).invalidations, 5);
	assert_int_equal(istats(m, u2).inval_cost_ns, 15);
	assert_int_equal(istats(m, u).invalidations, 4);
	sim_machine_destroy(m);
}

static void test_iotlb_lru(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_iommu_desc d = { .iotlb_entries = 4 };
	int u = mkiommu(m, &d);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *dev = tu_sim_dev(m, "x", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(sim_iommu_map(m, dom, i * PAGE, i * PAGE, PAGE, RW),
				 0);
	uint8_t b;
	for (uint64_t i = 1; i <= 4; i++)
		assert_int_equal(sim_dma_read(dev, i * PAGE, &b, 1), 0);
	assert_int_equal(istats(m, u).walks, 4);
	assert_int_equal(sim_dma_read(dev, 1 * PAGE, &b, 1), 0); /* hit */
	assert_int_equal(sim_dma_read(dev, 5 * PAGE, &b, 1), 0); /* evicts 2 */
	assert_int_equal(sim_dma_read(dev, 1 * PAGE, &b, 1), 0); /* hit */
	assert_int_equal(sim_dma_read(dev, 3 * PAGE, &b, 1), 0); /* hit */
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.walks, 5);
	assert_int_equal(st.iotlb_hits, 3);
	assert_int_equal(st.iotlb_misses, 5);
	assert_int_equal(sim_dma_read(dev, 2 * PAGE, &b, 1), 0); /* evicts 4 */
	assert_int_equal(sim_dma_read(dev, 4 * PAGE, &b, 1), 0); /* evicts 5 */
	assert_int_equal(sim_dma_read(dev, 1 * PAGE, &b, 1), 0); /* hit */
	st = istats(m, u);
	assert_int_equal(st.walks, 7);
	assert_int_equal(st.iotlb_hits, 4);
	sim_machine_destroy(m);
}

/* ---- domains shared and identity ---------------------------------------------- */

static void test_shared_domain(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	uint64_t f0 = free_all(m);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct sim_device *fn0 = tu_sim_dev(m, "pci0000:01:00.0", 64, true);
	struct sim_device *fn1 = tu_sim_dev(m, "pci0000:01:00.1", 64, true);
	struct sim_device *other = tu_sim_dev(m, "other", 64, true);
	assert_int_equal(sim_iommu_attach(fn0, dom), 0);
	assert_int_equal(sim_iommu_attach(fn1, dom), 0);
	assert_int_equal(sim_iommu_attach(fn1, dom), 0); /* again: no change */
	assert_int_equal(dinfo(m, dom).ndevices, 2);
	uint64_t p = tu_sim_alloc(m, 2, 0, ~0ULL);
	assert_int_equal(sim_iommu_map(m, dom, 0xbeef000, p, 2 * PAGE, RW), 0);

	uint8_t w[300], r[300];
	fill(w, sizeof(w), 17);
	assert_int_equal(sim_dma_write(fn0, 0xbeef000 + PAGE - 100, w, sizeof(w)), 0);
	assert_int_equal(sim_dma_read(fn1, 0xbeef000 + PAGE - 100, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(r));
	assert_memory_equal(tu_sim_cpu(m, p + PAGE - 100), w, sizeof(w));
	/* One IOTLB, keyed by domain: fn1 hit what fn0 walked. */
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.walks, 2);
	assert_int_equal(st.iotlb_hits, 2);
	/* A device outside the domain goes direct: iova is not RAM here. */
	assert_int_equal(sim_dma_read(other, 0xbeef000, r, 8), 0);
	assert_int_equal(sim_dma_read(other, 3 * GIB, r, 8), -EFAULT);
	assert_int_equal(tu_sim_dstats(other).bus_errors, 1);
	assert_int_equal(tu_sim_dstats(other).iommu_faults, 0);

	/* A second domain on the same IOMMU does not see the first's entries. */
	int dom2 = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_attach(fn1, dom2), 0); /* moves */
	assert_int_equal(sim_device_iommu_domain(fn1), dom2);
	assert_int_equal(dinfo(m, dom).ndevices, 1);
	assert_int_equal(dinfo(m, dom2).ndevices, 1);
	assert_int_equal(sim_dma_read(fn1, 0xbeef000, r, 8), -EFAULT);
	assert_int_equal(sim_dma_read(fn0, 0xbeef000, r, 8), 0);

	/* Busy while attached; then every table page comes back. */
	assert_int_equal(sim_iommu_domain_destroy(m, dom), -EBUSY);
	assert_int_equal(sim_iommu_detach(fn0), 0);
	assert_int_equal(sim_iommu_detach(fn1), 0);
	assert_int_equal(sim_iommu_domain_destroy(m, dom), 0);
	assert_int_equal(sim_iommu_domain_destroy(m, dom2), 0);
	sim_free_pages(m, p, 2);
	assert_int_equal(free_all(m), f0);
	assert_int_equal(istats(m, u).pt_pages, 0);
	/* Attaching to a dead domain fails. */
	assert_int_equal(sim_iommu_attach(fn0, dom), -EINVAL);
	sim_machine_destroy(m);
}

static void test_identity_and_bus_path(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	int u = mkiommu(m, NULL);
	int idn = mkdomain(m, u, SIM_IOMMU_DOMAIN_IDENTITY);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	/* Bus [0, 1 GiB) reaches CPU [5 GiB, 6 GiB); 32-bit engine. */
	struct sim_device_desc dd = { .name = "win", .bus = DMAMAP_BUS_PLATFORM,
				      .addr_bits = 32, .coherent = true,
				      .nranges = 1,
				      .bus_dma_limit = 0x7fffffff };
	dd.ranges[0] = (struct dmamap_dma_range){ .cpu = 5 * GIB, .dma = 0,
						  .size = GIB };
	struct sim_device *dev = mkdev_desc(m, &dd);
	uint8_t b[16];
	fill(b, sizeof(b), 61);

	/* Identity: exactly the untranslated path, windows included. */
	assert_int_equal(sim_iommu_attach(dev, idn), 0);
	assert_int_equal(sim_device_iommu_domain(dev), idn);
	assert_int_equal(sim_dma_write(dev, 0x1000, b, sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, 5 * GIB + 0x1000), b, sizeof(b));
	assert_int_equal(sim_dma_write(dev, GIB + 0x1000, b, sizeof(b)), -EFAULT);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.walks, 0);
	assert_int_equal(st.iotlb_hits, 0);
	assert_int_equal(st.faults, 0);
	assert_int_equal(tu_sim_dstats(dev).bus_errors, 1);

	/* Translated: truncation first, then the IOMMU; windows not applied. */
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	assert_int_equal(sim_iommu_map(m, dom, 0x1000, 0x9000, PAGE, RW), 0);
	assert_int_equal(sim_iommu_map(m, dom, 0x40000000, 0xa000, PAGE, RW), 0);
	fill(b, sizeof(b), 62);
	assert_int_equal(sim_dma_write(dev, 0x500001000ULL, b, sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, 0x9000), b, sizeof(b));
	/* Outside the window but below the bus limit: translated fine. */
	assert_int_equal(sim_dma_write(dev, 0x40000000, b, sizeof(b)), 0);
	assert_memory_equal(tu_sim_cpu(m, 0xa000), b, sizeof(b));
	/* Above the bus limit: the interconnect drops it, not the IOMMU. */
	assert_int_equal(sim_iommu_map(m, dom, 0x80000000, 0xb000, PAGE, RW), 0);
	assert_int_equal(sim_dma_write(dev, 0x80000000, b, sizeof(b)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, 0xb000), sizeof(b), 0));
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.truncated, 1);
	assert_int_equal(ds.writes, 3);
	assert_int_equal(ds.bus_errors, 2);
	assert_int_equal(ds.iommu_faults, 0);
	st = istats(m, u);
	assert_int_equal(st.faults, 0);
	assert_int_equal(st.walks, 2);
	sim_machine_destroy(m);
}

/* ---- the platform seam ------------------------------------------------------------ */

static void test_platform_ops(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	const struct dmamap_platform *pl = sim_platform(m);
	/* No IOMMU hardware yet: no hooks, as on a bare machine. */
	assert_null(pl->ops->iommu);
	struct sim_iommu_desc d = { .name = "vtd0", .page_sizes = PAGE | 2 * MIB,
				    .inval_cost_ns = 700 };
	int u = mkiommu(m, &d);
	const struct dmamap_iommu_hw_ops *io = pl->ops->iommu;
	assert_non_null(io);
	assert_non_null(pl->ops->phys_to_virt);
	assert_int_equal(io->page_sizes(pl->priv, u), PAGE | 2 * MIB);
	assert_int_equal(io->page_sizes(pl->priv, u + 5), 0);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	int idn = mkdomain(m, u, SIM_IOMMU_DOMAIN_IDENTITY);
	struct sim_device *dev = tu_sim_dev(m, "gpu", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);

	/* 1 GiB is not supported here: 2 MiB leaves. */
	uint64_t f = free_all(m);
	assert_int_equal(io->map(pl->priv, dom, GIB, 4 * GIB, GIB, RW), 0);
	assert_int_equal(leaf_at(m, dom, GIB, 4 * GIB), 2 * MIB);
	assert_int_equal(free_all(m), f - 2 * PAGE);
	assert_int_equal(io->map(pl->priv, dom, GIB, 0, PAGE, RW), -EEXIST);
	assert_int_equal(io->map(pl->priv, idn, 0, 0, PAGE, RW), -EINVAL);
	assert_int_equal(io->map(pl->priv, dom, 3, 0, PAGE, RW), -EINVAL);
	assert_int_equal(io->map(pl->priv, 0, 0, 0, PAGE, RW), -EINVAL);

	uint8_t w[32], r[32];
	fill(w, sizeof(w), 88);
	assert_int_equal(sim_dma_write(dev, GIB + 5 * MIB + 3, w, sizeof(w)), 0);
	assert_memory_equal(tu_sim_cpu(m, 4 * GIB + 5 * MIB + 3), w, sizeof(w));

	uint64_t un = 0;
	assert_int_equal(io->unmap(pl->priv, dom, GIB + 4 * MIB, 2 * MIB, &un), 0);
	assert_int_equal(un, 2 * MIB);
	assert_int_equal(io->unmap(pl->priv, idn, 0, PAGE, &un), -EINVAL);
	assert_int_equal(sim_dma_read(dev, GIB + 5 * MIB + 3, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(r)); /* stale */
	assert_int_equal(io->iotlb_sync(pl->priv, dom, GIB + 4 * MIB, 2 * MIB), 0);
	assert_int_equal(sim_dma_read(dev, GIB + 5 * MIB + 3, r, sizeof(r)),
			 -EFAULT);
	assert_int_equal(io->flush_all(pl->priv, dom), 0);
	assert_int_equal(io->iotlb_sync(pl->priv, idn, 0, PAGE), -EINVAL);
	assert_int_equal(io->flush_all(pl->priv, 12345), -EINVAL);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.invalidations, 2);
	assert_int_equal(st.inval_cost_ns, 1400);
	assert_int_equal(st.stale_hits, 1);
	assert_int_equal(st.maps, 1);
	assert_int_equal(st.unmaps, 1);
	sim_machine_destroy(m);
}

/* ---- threads ------------------------------------------------------------------- */

struct worker {
	struct sim_machine *m;
	struct sim_device *dev;
	int dom;
	unsigned int idx;
	uint64_t phys;      /* 16 pages of its own */
	unsigned int failures;
};

/*
 * Each thread maps, uses through its own device, unmaps, syncs, and
 * checks the access then faults, over its own IOVA range of a shared
 * domain (so table pages are shared between threads).
 */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t iova = 0x100000000ULL + w->idx * 64 * PAGE;
	uint8_t src[200], dst[200];
	for (unsigned int it = 0; it < 300; it++) {
		unsigned int pg = it % 15;
		if (sim_iommu_map(w->m, w->dom, iova, w->phys + pg * PAGE,
				  2 * PAGE, RW))
			w->failures++;
		fill(src, sizeof(src), (uint8_t)(it + w->idx));
		if (sim_dma_write(w->dev, iova + PAGE - 100, src, sizeof(src)) ||
		    sim_dma_read(w->dev, iova + PAGE - 100, dst, sizeof(dst)) ||
		    memcmp(src, dst, sizeof(src)))
			w->failures++;
		uint64_t un = 0;
		if (sim_iommu_unmap(w->m, w->dom, iova, 2 * PAGE, &un) ||
		    un != 2 * PAGE ||
		    sim_iommu_iotlb_sync(w->m, w->dom, iova, 2 * PAGE))
			w->failures++;
		if (sim_dma_read(w->dev, iova, dst, 1) != -EFAULT)
			w->failures++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct sim_machine *m = std_machine();
	struct sim_iommu_desc d = { .iotlb_entries = 16 };
	int u = mkiommu(m, &d);
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	struct worker w[4];
	pthread_t t[4];
	char name[4][8];
	for (unsigned int i = 0; i < 4; i++) {
		snprintf(name[i], sizeof(name[i]), "w%u", i);
		w[i] = (struct worker){ .m = m, .dom = dom, .idx = i,
					.dev = tu_sim_dev(m, name[i], 64, true),
					.phys = tu_sim_alloc(m, 16, 0, ~0ULL) };
		assert_int_equal(sim_iommu_attach(w[i].dev, dom), 0);
	}
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.maps, 1200);
	assert_int_equal(st.unmaps, 1200);
	assert_int_equal(st.invalidations, 1200);
	assert_int_equal(st.inval_cost_ns, 1200000);
	assert_int_equal(st.faults, 1200);
	assert_int_equal(st.faults_unmapped, 1200);
	assert_int_equal(st.stale_hits, 0);
	assert_int_equal(dinfo(m, dom).mapped_bytes, 0);
	assert_int_equal(tu_sim_dstats(w[0].dev).iommu_faults, 300);
	sim_machine_destroy(m);
}

/* ---- hybrid windows (a powerpc PE: 32-bit TCE window + bypass) ----------------- */

#define BYPASS (1ULL << 59)

/* A powerpc box with 8 GiB of RAM at 0, no holes. */
static struct sim_machine *ppc_machine(void)
{
	struct sim_machine_desc d = { .arch = DMAMAP_ARCH_POWERPC, .ncpus = 2 };
	d.ram[d.nram++] = (struct sim_ram_range){ 0, 8 * GIB };
	struct sim_machine *m = NULL;
	assert_int_equal(sim_machine_create(&d, &m, NULL), 0);
	return m;
}

/*
 * Takes [phys, phys + npages pages) from the allocator, so that no table
 * page lands where a test pokes at fixed physical addresses.
 */
static uint64_t own(struct sim_machine *m, uint64_t phys, uint64_t npages)
{
	uint64_t p = tu_sim_alloc(m, npages, phys, phys + npages * PAGE - 1);
	assert_int_equal(p, phys);
	return p;
}

/* A translated domain: 32-bit window at 0, bypass of all 8 GiB at 2^59. */
static int hybrid_domain(struct sim_machine *m, int u)
{
	int dom = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, 0, 4 * GIB, true,
						      BYPASS, 8 * GIB), 0);
	return dom;
}

static void test_hybrid_windows(void **state)
{
	(void)state;
	struct sim_machine *m = ppc_machine();
	const uint64_t P = 6 * GIB + 3 * PAGE - 100;
	const uint64_t q0 = 7 * GIB + 5 * PAGE, q1 = 0x123000;
	own(m, 0, 1);
	own(m, 8 * GIB - PAGE, 1);
	own(m, 6 * GIB, 8);
	own(m, q0, 1);
	own(m, q1, 1);
	own(m, 5 * GIB, 1);
	int u = mkiommu(m, NULL);
	int dom = hybrid_domain(m, u);
	struct sim_iommu_domain_info in = dinfo(m, dom);
	assert_int_equal(in.tr_base, 0);
	assert_int_equal(in.tr_size, 4 * GIB);
	assert_true(in.bypass);
	assert_int_equal(in.bypass_offset, BYPASS);
	assert_int_equal(in.bypass_size, 8 * GIB);
	assert_int_equal(in.pt_pages, 1);
	assert_int_equal(in.mapped_bytes, 0);
	struct sim_device *dev = tu_sim_dev(m, "pe0", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);

	/* Bypass: bus 2^59 + P reaches P, across a page edge, exact bytes. */
	memset(tu_sim_cpu(m, P - 64), 0x5a, 512);
	static uint8_t w[300], r[300];
	fill(w, sizeof(w), 31);
	assert_int_equal(sim_dma_write(dev, BYPASS + P, w, sizeof(w)), 0);
	assert_true(all_bytes(tu_sim_cpu(m, P - 64), 64, 0x5a));
	assert_memory_equal(tu_sim_cpu(m, P), w, sizeof(w));
	assert_true(all_bytes(tu_sim_cpu(m, P + sizeof(w)), 512 - 64 - sizeof(w),
			      0x5a));
	assert_int_equal(sim_dma_read(dev, BYPASS + P - 64, r, sizeof(r)), 0);
	assert_memory_equal(r, tu_sim_cpu(m, P - 64), sizeof(r));
	/* Its first and last bytes: phys 0 and the last byte of RAM. */
	uint8_t b = 0xe1;
	assert_int_equal(sim_dma_write(dev, BYPASS, &b, 1), 0);
	assert_int_equal(*tu_sim_cpu(m, 0), 0xe1);
	b = 0xe2;
	assert_int_equal(sim_dma_write(dev, BYPASS + 8 * GIB - 1, &b, 1), 0);
	assert_int_equal(*tu_sim_cpu(m, 8 * GIB - 1), 0xe2);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 4);
	/* The bypass never touches the IOTLB or the tables. */
	assert_int_equal(st.walks, 0);
	assert_int_equal(st.iotlb_hits, 0);
	assert_int_equal(st.iotlb_misses, 0);
	assert_int_equal(st.faults, 0);

	/* Translated: an IOVA just below 4 GiB onto two scattered pages. */
	const uint64_t iova = 4 * GIB - 2 * PAGE;
	assert_int_equal(sim_iommu_map(m, dom, iova, q0, PAGE, RW), 0);
	assert_int_equal(sim_iommu_map(m, dom, iova + PAGE, q1, PAGE, RW), 0);
	memset(tu_sim_cpu(m, q0), 0x11, PAGE);
	memset(tu_sim_cpu(m, q1), 0x22, PAGE);
	fill(w, sizeof(w), 90);
	assert_int_equal(sim_dma_write(dev, iova + PAGE - 150, w, sizeof(w)), 0);
	assert_true(all_bytes(tu_sim_cpu(m, q0), PAGE - 150, 0x11));
	assert_memory_equal(tu_sim_cpu(m, q0) + PAGE - 150, w, 150);
	assert_memory_equal(tu_sim_cpu(m, q1), w + 150, 150);
	assert_true(all_bytes(tu_sim_cpu(m, q1) + 150, PAGE - 150, 0x22));
	/* The same bytes through the bypass (phys q0), then translated. */
	assert_int_equal(sim_dma_read(dev, BYPASS + q0 + PAGE - 150, r, 150), 0);
	assert_memory_equal(r, w, 150);
	assert_int_equal(sim_dma_read(dev, iova + PAGE - 150, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(r));
	st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 5);
	assert_int_equal(st.walks, 2);
	assert_int_equal(st.iotlb_misses, 2);
	assert_int_equal(st.iotlb_hits, 2);

	/* 5 GiB: RAM is behind it, but it is outside both windows. */
	memset(tu_sim_cpu(m, 5 * GIB), 0x3c, PAGE);
	fill(w, sizeof(w), 7);
	assert_int_equal(sim_dma_write(dev, 5 * GIB, w, sizeof(w)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, 5 * GIB), PAGE, 0x3c));
	memset(r, 0, sizeof(r));
	assert_int_equal(sim_dma_read(dev, 5 * GIB + 8, r, sizeof(r)), -EFAULT);
	assert_true(all_bytes(r, sizeof(r), 0xff));
	/* Just past the bypass, and between the windows. */
	assert_int_equal(sim_dma_read(dev, BYPASS + 8 * GIB, r, 1), -EFAULT);
	assert_int_equal(sim_dma_write(dev, BYPASS - PAGE, w, 8), -EFAULT);
	struct sim_iommu_fault f[8];
	assert_int_equal(sim_iommu_faults(m, u, f, 8), 4);
	assert_string_equal(f[0].device, "pe0");
	assert_int_equal(f[0].domain_id, dom);
	assert_int_equal(f[0].iova, 5 * GIB);
	assert_true(f[0].write);
	assert_int_equal(f[1].iova, 5 * GIB + 8);
	assert_false(f[1].write);
	assert_int_equal(f[2].iova, BYPASS + 8 * GIB);
	assert_false(f[2].write);
	assert_int_equal(f[3].iova, BYPASS - PAGE);
	assert_true(f[3].write);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(f[i].reason, SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
	st = istats(m, u);
	assert_int_equal(st.faults, 4);
	assert_int_equal(st.faults_window, 4);
	assert_int_equal(st.faults_unmapped, 0);
	assert_int_equal(st.faults_permission, 0);
	assert_int_equal(st.bypass_accesses, 5);
	assert_int_equal(st.walks, 2);
	struct sim_device_stats ds = tu_sim_dstats(dev);
	assert_int_equal(ds.iommu_faults, 4);
	assert_int_equal(ds.bus_errors, 0);
	assert_int_equal(ds.writes, 4);
	assert_int_equal(ds.reads, 3);
	assert_int_equal(ds.bytes_written, 300 + 1 + 1 + 300);
	assert_int_equal(ds.bytes_read, 300 + 150 + 300);

	/* Inside the translated window the tables still decide. */
	assert_int_equal(sim_dma_read(dev, 0x10000, r, 8), -EFAULT);
	assert_int_equal(sim_iommu_faults(m, u, f, 1), 1);
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_UNMAPPED);
	st = istats(m, u);
	assert_int_equal(st.faults, 5);
	assert_int_equal(st.faults_unmapped, 1);
	sim_machine_destroy(m);
}

static void test_hybrid_straddle(void **state)
{
	(void)state;
	struct sim_machine *m = ppc_machine();
	const uint64_t p = own(m, 3 * GIB, 1);
	own(m, 0, 1);
	own(m, 8 * GIB - PAGE, 1);
	int u = mkiommu(m, NULL);
	int dom = hybrid_domain(m, u);
	struct sim_device *dev = tu_sim_dev(m, "pe1", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	assert_int_equal(sim_iommu_map(m, dom, 4 * GIB - PAGE, p, PAGE, RW), 0);
	memset(tu_sim_cpu(m, p), 0x44, PAGE);
	memset(tu_sim_cpu(m, 0), 0x66, PAGE);
	memset(tu_sim_cpu(m, 8 * GIB - PAGE), 0x55, PAGE);
	uint8_t w[16], r[16];
	fill(w, sizeof(w), 123);

	/* Off the top of the translated window: not even the mapped part. */
	assert_int_equal(sim_dma_write(dev, 4 * GIB - 8, w, sizeof(w)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, p), PAGE, 0x44));
	/* Into the bypass from below: its first byte is outside both. */
	assert_int_equal(sim_dma_write(dev, BYPASS - 8, w, sizeof(w)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, 0), PAGE, 0x66));
	/* Off the top of the bypass, both directions. */
	assert_int_equal(sim_dma_write(dev, BYPASS + 8 * GIB - 8, w, sizeof(w)),
			 -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, 8 * GIB - PAGE), PAGE, 0x55));
	assert_int_equal(sim_dma_read(dev, BYPASS + 8 * GIB - 8, r, sizeof(r)),
			 -EFAULT);
	assert_true(all_bytes(r, sizeof(r), 0xff));
	struct sim_iommu_fault f[8];
	assert_int_equal(sim_iommu_faults(m, u, f, 8), 4);
	assert_int_equal(f[0].iova, 4 * GIB);
	assert_true(f[0].write);
	assert_int_equal(f[1].iova, BYPASS - 8);
	assert_true(f[1].write);
	assert_int_equal(f[2].iova, BYPASS + 8 * GIB);
	assert_true(f[2].write);
	assert_int_equal(f[3].iova, BYPASS + 8 * GIB);
	assert_false(f[3].write);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(f[i].reason, SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.faults, 4);
	assert_int_equal(st.faults_window, 4);
	assert_int_equal(st.bypass_accesses, 0);
	/* Windows decide before the IOTLB: no lookup, no walk. */
	assert_int_equal(st.walks, 0);
	assert_int_equal(st.iotlb_hits, 0);
	assert_int_equal(st.iotlb_misses, 0);
	assert_int_equal(tu_sim_dstats(dev).iommu_faults, 4);
	assert_int_equal(tu_sim_dstats(dev).writes, 0);
	/* Up to the edges is fine. */
	assert_int_equal(sim_dma_write(dev, 4 * GIB - 16, w, sizeof(w)), 0);
	assert_memory_equal(tu_sim_cpu(m, p + PAGE - 16), w, sizeof(w));
	assert_int_equal(sim_dma_read(dev, BYPASS + 8 * GIB - 16, r, sizeof(r)),
			 0);
	assert_true(all_bytes(r, sizeof(r), 0x55));

	/* Adjacent windows: straddling from one into the other is blocked. */
	int adj = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_domain_set_windows(m, adj, 0, 4 * GIB, true,
						      4 * GIB, 4 * GIB), 0);
	assert_int_equal(sim_iommu_attach(dev, adj), 0);
	assert_int_equal(sim_iommu_map(m, adj, 4 * GIB - PAGE, p, PAGE, RW), 0);
	memset(tu_sim_cpu(m, p), 0x44, PAGE);
	assert_int_equal(sim_dma_write(dev, 4 * GIB - 8, w, sizeof(w)), -EFAULT);
	assert_true(all_bytes(tu_sim_cpu(m, p), PAGE, 0x44));
	assert_true(all_bytes(tu_sim_cpu(m, 0), PAGE, 0x66));
	assert_int_equal(sim_dma_write(dev, 8 * GIB - 8, w, sizeof(w)), -EFAULT);
	assert_int_equal(sim_iommu_faults(m, u, f, 2), 2);
	assert_int_equal(f[0].iova, 4 * GIB);
	assert_int_equal(f[0].domain_id, adj);
	assert_int_equal(f[1].iova, 8 * GIB);
	/* Bus 4 GiB + X is phys X. */
	assert_int_equal(sim_dma_read(dev, 4 * GIB + 8, r, 8), 0);
	assert_true(all_bytes(r, 8, 0x66));

	/* tr_size 0: the tables get every address the bypass does not claim. */
	int rest = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_domain_set_windows(m, rest, 0, 0, true,
						      BYPASS, 8 * GIB), 0);
	assert_int_equal(sim_iommu_attach(dev, rest), 0);
	assert_int_equal(sim_iommu_map(m, rest, 5 * GIB, p, PAGE, RW), 0);
	assert_int_equal(sim_dma_read(dev, 5 * GIB, r, 8), 0);
	assert_true(all_bytes(r, 8, 0x44));
	assert_int_equal(sim_dma_read(dev, BYPASS + 8 * GIB - 8, r, 8), 0);
	assert_true(all_bytes(r, 8, 0x55));
	assert_int_equal(sim_dma_read(dev, 6 * GIB, r, 8), -EFAULT);
	assert_int_equal(sim_dma_read(dev, BYPASS - 8, r, 16), -EFAULT);
	assert_int_equal(sim_dma_read(dev, BYPASS + 8 * GIB, r, 8), -EFAULT);
	assert_int_equal(sim_iommu_faults(m, u, f, 3), 3);
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(f[0].iova, 6 * GIB);
	assert_int_equal(f[1].reason, SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
	assert_int_equal(f[1].iova, BYPASS);
	/* Past the bypass is the tables' again: beyond 2^48, unmapped. */
	assert_int_equal(f[2].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(f[2].iova, BYPASS + 8 * GIB);
	st = istats(m, u);
	assert_int_equal(st.faults, 9);
	assert_int_equal(st.faults_window, 7);
	assert_int_equal(st.faults_unmapped, 2);
	assert_int_equal(st.bypass_accesses, 3);
	sim_machine_destroy(m);
}

static void test_hybrid_shared_and_bus_path(void **state)
{
	(void)state;
	struct sim_machine *m = ppc_machine();
	const uint64_t p = own(m, 2 * GIB, 1), q = own(m, 6 * GIB, 1);
	int u = mkiommu(m, NULL);
	int dom = hybrid_domain(m, u);
	/* Two functions of one PE share the domain and so both windows. */
	struct sim_device *fn0 = tu_sim_dev(m, "pe2.0", 64, true);
	struct sim_device *fn1 = tu_sim_dev(m, "pe2.1", 64, true);
	assert_int_equal(sim_iommu_attach(fn0, dom), 0);
	assert_int_equal(sim_iommu_attach(fn1, dom), 0);
	assert_int_equal(dinfo(m, dom).ndevices, 2);
	assert_int_equal(sim_iommu_map(m, dom, 0x80000000, p, PAGE, RW), 0);
	uint8_t w[40], r[40];
	fill(w, sizeof(w), 1);
	assert_int_equal(sim_dma_write(fn0, 0x80000000 + 24, w, sizeof(w)), 0);
	assert_int_equal(sim_dma_read(fn1, BYPASS + p + 24, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(r));
	fill(w, sizeof(w), 2);
	assert_int_equal(sim_dma_write(fn1, BYPASS + q, w, sizeof(w)), 0);
	assert_memory_equal(tu_sim_cpu(m, q), w, sizeof(w));
	assert_int_equal(sim_dma_read(fn0, BYPASS + q, r, sizeof(r)), 0);
	assert_memory_equal(r, w, sizeof(r));
	assert_int_equal(sim_dma_read(fn1, 0x80000000 + 24, r, sizeof(r)), 0);
	assert_memory_equal(r, tu_sim_cpu(m, p + 24), sizeof(r));
	/* Both see the same hole. */
	assert_int_equal(sim_dma_read(fn0, 5 * GIB, r, 1), -EFAULT);
	assert_int_equal(sim_dma_read(fn1, 5 * GIB, r, 1), -EFAULT);
	struct sim_iommu_fault f[2];
	assert_int_equal(sim_iommu_faults(m, u, f, 2), 2);
	assert_string_equal(f[0].device, "pe2.0");
	assert_string_equal(f[1].device, "pe2.1");
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
	assert_int_equal(f[1].reason, SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
	struct sim_iommu_stats st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 3);
	assert_int_equal(st.faults_window, 2);
	assert_int_equal(st.walks, 1);
	assert_int_equal(st.iotlb_hits, 1);

	/* Truncation comes first: a 32-bit engine cannot reach the bypass;
	 * its bus 2^59 + X is X, in the translated window. */
	struct sim_device *old = tu_sim_dev(m, "pe2.2", 32, true);
	assert_int_equal(sim_iommu_attach(old, dom), 0);
	assert_int_equal(sim_dma_read(old, BYPASS + 0x80000000 + 24, r,
				      sizeof(r)), 0);
	assert_memory_equal(r, tu_sim_cpu(m, p + 24), sizeof(r));
	assert_int_equal(tu_sim_dstats(old).truncated, 1);
	/* The bus limit too: dropped by the interconnect, not the IOMMU. */
	struct sim_device_desc dd = { .name = "pe2.3", .bus = DMAMAP_BUS_PCI,
				      .addr_bits = 64, .coherent = true,
				      .bus_dma_limit = (1ULL << 40) - 1 };
	struct sim_device *lim = mkdev_desc(m, &dd);
	assert_int_equal(sim_iommu_attach(lim, dom), 0);
	assert_int_equal(sim_dma_read(lim, BYPASS + q, r, 8), -EFAULT);
	assert_int_equal(tu_sim_dstats(lim).bus_errors, 1);
	assert_int_equal(tu_sim_dstats(lim).iommu_faults, 0);
	st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 3);
	assert_int_equal(st.faults, 2);

	/* A bypass longer than RAM: past RAM is a bus error, yet bypassed. */
	int big = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_domain_set_windows(m, big, 0, 4 * GIB, true,
						      BYPASS, 16 * GIB), 0);
	assert_int_equal(sim_iommu_attach(fn1, big), 0);
	assert_int_equal(sim_dma_write(fn1, BYPASS + 9 * GIB, w, 8), -EFAULT);
	assert_int_equal(tu_sim_dstats(fn1).bus_errors, 1);
	assert_int_equal(tu_sim_dstats(fn1).iommu_faults, 1);
	st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 4);
	assert_int_equal(st.faults, 2);

	/* Back to the default: every address goes to the tables again. */
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, 0, 0, false, 0, 0),
			 0);
	struct sim_iommu_domain_info in = dinfo(m, dom);
	assert_int_equal(in.tr_base, 0);
	assert_int_equal(in.tr_size, 0);
	assert_false(in.bypass);
	assert_int_equal(in.bypass_offset, 0);
	assert_int_equal(in.bypass_size, 0);
	assert_int_equal(sim_dma_read(fn0, BYPASS + q, r, 8), -EFAULT);
	assert_int_equal(sim_dma_read(fn0, 5 * GIB, r, 8), -EFAULT);
	assert_int_equal(sim_iommu_faults(m, u, f, 2), 2);
	assert_int_equal(f[0].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(f[1].reason, SIM_IOMMU_FAULT_UNMAPPED);
	assert_int_equal(sim_dma_read(fn0, 0x80000000, r, 8), 0);
	st = istats(m, u);
	assert_int_equal(st.bypass_accesses, 4);
	assert_int_equal(st.faults_window, 2);
	assert_int_equal(st.faults_unmapped, 2);
	assert_int_equal(st.faults, 4);
	sim_machine_destroy(m);
}

static void test_hybrid_errors(void **state)
{
	(void)state;
	struct sim_machine *m = ppc_machine();
	int u = mkiommu(m, NULL);
	int dom = hybrid_domain(m, u);
	int idn = mkdomain(m, u, SIM_IOMMU_DOMAIN_IDENTITY);
	const uint64_t top = 1ULL << 48;
	struct {
		uint64_t tb, ts;
		bool by;
		uint64_t bo, bs;
	} bad[] = {
		/* overlapping */
		{ 0, 4 * GIB, true, 2 * GIB, 4 * GIB },
		{ 0, 4 * GIB, true, 0, 8 * GIB },
		{ 4 * GIB, 4 * GIB, true, 0, 4 * GIB + PAGE },
		{ 0, 4 * GIB, true, 0, 4 * GIB },
		/* bad translated window */
		{ 0, 4 * GIB + 1, false, 0, 0 },
		{ 0x800, 4 * GIB, false, 0, 0 },
		{ top - PAGE, 2 * PAGE, false, 0, 0 },
		{ top, PAGE, false, 0, 0 },
		{ PAGE, 0, false, 0, 0 },
		/* bad bypass */
		{ 0, 4 * GIB, true, BYPASS, 0 },
		{ 0, 4 * GIB, true, BYPASS + 8, 8 * GIB },
		{ 0, 4 * GIB, true, BYPASS, 8 * GIB + 8 },
		{ 0, 4 * GIB, true, ~0ULL - PAGE + 1, 2 * PAGE },
		{ 0, 4 * GIB, true, BYPASS, top + PAGE },
		{ 0, 4 * GIB, false, BYPASS, 0 },
		{ 0, 4 * GIB, false, 0, 8 * GIB },
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sim_iommu_domain_set_windows(m, dom, bad[i].tb,
							      bad[i].ts, bad[i].by,
							      bad[i].bo, bad[i].bs),
				 -EINVAL);
	/* Unknown, dead or identity domains, no machine. */
	assert_int_equal(sim_iommu_domain_set_windows(m, idn, 0, 4 * GIB, true,
						      BYPASS, 8 * GIB), -EINVAL);
	assert_int_equal(sim_iommu_domain_set_windows(m, idn, 0, 0, false, 0, 0),
			 -EINVAL);
	assert_int_equal(sim_iommu_domain_set_windows(m, 0, 0, 0, false, 0, 0),
			 -EINVAL);
	assert_int_equal(sim_iommu_domain_set_windows(m, 999, 0, 0, false, 0, 0),
			 -EINVAL);
	assert_int_equal(sim_iommu_domain_set_windows(NULL, dom, 0, 0, false, 0,
						      0), -EINVAL);
	int dead = mkdomain(m, u, SIM_IOMMU_DOMAIN_TRANSLATED);
	assert_int_equal(sim_iommu_domain_destroy(m, dead), 0);
	assert_int_equal(sim_iommu_domain_set_windows(m, dead, 0, 0, false, 0, 0),
			 -EINVAL);
	/* Refusals changed nothing. */
	struct sim_iommu_domain_info in = dinfo(m, dom);
	assert_int_equal(in.tr_base, 0);
	assert_int_equal(in.tr_size, 4 * GIB);
	assert_true(in.bypass);
	assert_int_equal(in.bypass_offset, BYPASS);
	assert_int_equal(in.bypass_size, 8 * GIB);
	in = dinfo(m, idn);
	assert_int_equal(in.tr_base, 0);
	assert_int_equal(in.tr_size, 0);
	assert_false(in.bypass);
	assert_int_equal(in.bypass_offset, 0);
	assert_int_equal(in.bypass_size, 0);

	/* The extremes are fine: a window ending at 2^48, a bypass at 2^64. */
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, top - PAGE, PAGE,
						      true, 0 - 8 * GIB, 8 * GIB),
			 0);
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, 0, top, true,
						      top, top), 0);
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, 4 * GIB, 4 * GIB,
						      true, 0, 4 * GIB), 0);
	assert_int_equal(sim_iommu_domain_set_windows(m, dom, top - PAGE, PAGE,
						      true, 0 - 8 * GIB, 8 * GIB),
			 0);
	in = dinfo(m, dom);
	assert_int_equal(in.tr_base, top - PAGE);
	assert_int_equal(in.tr_size, PAGE);
	assert_int_equal(in.bypass_offset, 0 - 8 * GIB);
	assert_int_equal(in.bypass_size, 8 * GIB);
	/* The very last bus address reaches the last byte of RAM. */
	struct sim_device *dev = tu_sim_dev(m, "pe3", 64, true);
	assert_int_equal(sim_iommu_attach(dev, dom), 0);
	own(m, 8 * GIB - PAGE, 1);
	uint8_t b = 0x7e;
	assert_int_equal(sim_dma_write(dev, ~0ULL, &b, 1), 0);
	assert_int_equal(*tu_sim_cpu(m, 8 * GIB - 1), 0x7e);
	assert_int_equal(istats(m, u).bypass_accesses, 1);
	/* An access wrapping past 2^64 is the interconnect's bus error. */
	uint8_t two[2];
	assert_int_equal(sim_dma_read(dev, ~0ULL, two, 2), -EFAULT);
	assert_int_equal(tu_sim_dstats(dev).bus_errors, 1);
	assert_int_equal(istats(m, u).faults, 0);
	sim_machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_map_page_sizes),
		cmocka_unit_test(test_map_errors),
		cmocka_unit_test(test_map_enomem),
		cmocka_unit_test(test_partial_unmap_splits),
		cmocka_unit_test(test_dma_scattered),
		cmocka_unit_test(test_noncoherent_through_iommu),
		cmocka_unit_test(test_permission_faults),
		cmocka_unit_test(test_unmapped_faults),
		cmocka_unit_test(test_fault_ring),
		cmocka_unit_test(test_stale_iotlb),
		cmocka_unit_test(test_iotlb_lru),
		cmocka_unit_test(test_shared_domain),
		cmocka_unit_test(test_identity_and_bus_path),
		cmocka_unit_test(test_platform_ops),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_hybrid_windows),
		cmocka_unit_test(test_hybrid_straddle),
		cmocka_unit_test(test_hybrid_shared_and_bus_path),
		cmocka_unit_test(test_hybrid_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
