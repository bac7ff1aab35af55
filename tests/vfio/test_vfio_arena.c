/*
 * tests/vfio/test_vfio_arena.c - the VFIO platform's memory and bookkeeping
 * without VFIO: the arena (phys <-> cpu, RAM bounds, the page allocator's
 * highest-fit-under-limit rule, alignment, exhaustion), the device
 * description built from the kernel's usable IOVA ranges, and the table
 * iova_to_phys answers from.  The platform's static functions are reached
 * by including its source (this file links no libdmamap-vfio).
 */
#include "../../vfio/vfio.c"

#include "testutil.h"

#define PB DMAMAP_VFIO_PHYS_BASE

static struct dmamap_vfio *new_v(uint64_t bytes)
{
	struct dmamap_vfio *v = calloc(1, sizeof(*v));
	assert_non_null(v);
	v->container = v->group = v->device = -1;
	pthread_mutex_init(&v->lock, NULL);
	struct dmamap_vfio_opts o = { .arena_bytes = bytes, .no_hugetlb = true };
	char err[128];
	assert_int_equal(vf_arena_init(v, &o, err, sizeof(err)), 0);
	return v;
}

static void test_translation(void **state)
{
	(void)state;
	struct dmamap_vfio *v = new_v(3 << 20); /* rounded up to 4 MiB */
	assert_int_equal(v->arena_bytes, 4 << 20);
	assert_int_equal(v->npages, 1024);
	dmamap_phys_addr_t p;
	assert_int_equal(plat_virt_to_phys(v, v->arena + 5 * 4096 + 7, &p), 0);
	assert_int_equal(p, PB + 5 * 4096 + 7);
	assert_ptr_equal(plat_phys_to_virt(v, p), v->arena + 5 * 4096 + 7);
	int local;
	assert_int_equal(plat_virt_to_phys(v, &local, &p), -EFAULT);
	assert_int_equal(plat_virt_to_phys(v, v->arena + v->arena_bytes, &p), -EFAULT);
	assert_null(plat_phys_to_virt(v, PB - 1));
	assert_null(plat_phys_to_virt(v, PB + (4 << 20)));
	assert_true(plat_phys_is_ram(v, PB, 4 << 20));
	assert_false(plat_phys_is_ram(v, PB, (4 << 20) + 1));
	assert_false(plat_phys_is_ram(v, PB - 4096, 4096));
	assert_true(plat_phys_is_ram(v, PB + (4 << 20) - 4096, 4096));
	assert_false(plat_phys_is_ram(v, PB + (4 << 20) - 4096, 4097));
	dmamap_vfio_close(v);
}

static void test_page_allocator(void **state)
{
	(void)state;
	struct dmamap_vfio *v = new_v(4 << 20);
	dmamap_phys_addr_t p = 0, q = 0;
	/* Highest fit: the last page. */
	assert_int_equal(plat_alloc_pages(v, 1, 1, ~0ULL, &p), 0);
	assert_int_equal(p, PB + 1023 * 4096);
	/* Under a limit of the first MiB, 16 KiB-aligned: the last such run below it. */
	assert_int_equal(plat_alloc_pages(v, 4, 4, PB + (1 << 20) - 1, &p), 0);
	assert_int_equal(p, PB + 252 * 4096);
	/* The same again: the run below, since 252..255 is taken. */
	assert_int_equal(plat_alloc_pages(v, 4, 4, PB + (1 << 20) - 1, &q), 0);
	assert_int_equal(q, PB + 248 * 4096);
	/* A limit below the arena, a zero count, a bad alignment. */
	assert_int_equal(plat_alloc_pages(v, 1, 1, PB - 1, &q), -ENOMEM);
	assert_int_equal(plat_alloc_pages(v, 0, 1, ~0ULL, &q), -ENOMEM);
	assert_int_equal(plat_alloc_pages(v, 1, 3, ~0ULL, &q), -ENOMEM);
	/* 2 MiB-aligned in physical terms (the arena starts at 1 MiB): index 768. */
	assert_int_equal(plat_alloc_pages(v, 2, 512, ~0ULL, &q), 0);
	assert_int_equal(q, PB + 768 * 4096);
	assert_int_equal(q % (2 << 20), 0);
	/* 4 MiB-aligned: only physical 4 MiB (index 768, taken) is in the arena. */
	assert_int_equal(plat_alloc_pages(v, 1, 1024, ~0ULL, &p), -ENOMEM);
	p = PB + 252 * 4096;
	plat_free_pages(v, q, 2);
	plat_free_pages(v, p, 4);
	/* Fill what is left, then nothing more; a free makes room again. */
	unsigned int n = 0;
	while (!plat_alloc_pages(v, 1, 1, ~0ULL, &q))
		n++;
	assert_int_equal(n, 1024 - 1 - 4);
	assert_int_equal(plat_alloc_pages(v, 1, 1, ~0ULL, &q), -ENOMEM);
	plat_free_pages(v, PB + 100 * 4096, 1);
	assert_int_equal(plat_alloc_pages(v, 1, 1, ~0ULL, &q), 0);
	assert_int_equal(q, PB + 100 * 4096);
	dmamap_vfio_close(v);
}

static void test_driver_alloc(void **state)
{
	(void)state;
	struct dmamap_vfio *v = new_v(4 << 20);
	uint8_t *a = dmamap_vfio_alloc(v, 5000);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % 4096, 0);
	assert_ptr_equal(a, v->arena + (1024 - 2) * 4096);
	for (int i = 0; i < 8192; i++)
		assert_int_equal(a[i], 0);
	memset(a, 0xff, 8192);
	dmamap_vfio_free(v, a, 5000);
	uint8_t *b = dmamap_vfio_alloc(v, 8192);
	assert_ptr_equal(a, b);
	assert_int_equal(b[0], 0); /* zeroed again */
	assert_null(dmamap_vfio_alloc(v, 5 << 20));
	assert_null(dmamap_vfio_alloc(v, 0));
	dmamap_vfio_close(v);
}

static void test_device_desc(void **state)
{
	(void)state;
	struct dmamap_vfio *v = new_v(2 << 20);
	snprintf(v->bdf, sizeof(v->bdf), "0000:00:01.0");
	/* QEMU's VT-d as type1 reports it: the MSI window is the gap. */
	v->ranges[0] = (struct vfio_iova_range){ 0, 0xfedfffff };
	v->ranges[1] = (struct vfio_iova_range){ 0xfef00000, (1ULL << 39) - 1 };
	v->nranges = 2;
	struct dmamap_device_desc d;
	dmamap_vfio_device_desc(v, &d);
	assert_string_equal(d.name, "0000:00:01.0");
	assert_int_equal(d.bus, DMAMAP_BUS_PCI);
	assert_true(d.coherent);
	assert_ptr_equal(d.hw, v);
	assert_int_equal(d.iommu_id, DMAMAP_VFIO_IOMMU_ID);
	assert_int_equal(d.iommu_domain, DMAMAP_VFIO_DOMAIN);
	assert_int_equal(d.iommu_window_base, 0);
	assert_int_equal(d.iommu_window_size, 1ULL << 39);
	assert_int_equal(d.niommu_reserved, 1);
	assert_int_equal(d.iommu_reserved[0].dma, 0xfee00000);
	assert_int_equal(d.iommu_reserved[0].size, 0x100000);
	/* No list from the kernel: the whole space, no window. */
	v->ranges[0] = (struct vfio_iova_range){ 0, ~0ULL };
	v->nranges = 1;
	dmamap_vfio_device_desc(v, &d);
	assert_int_equal(d.iommu_window_size, 0);
	assert_int_equal(d.niommu_reserved, 0);
	/* Ten ranges, nine gaps: eight reserved, the window ends before the ninth. */
	for (unsigned int i = 0; i < 10; i++)
		v->ranges[i] = (struct vfio_iova_range){ 0x10000 + i * 0x20000,
							 0x10000 + i * 0x20000 + 0xffff };
	v->nranges = 10;
	dmamap_vfio_device_desc(v, &d);
	assert_int_equal(d.niommu_reserved, 8);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(d.iommu_reserved[i].dma, 0x20000 + i * 0x20000);
		assert_int_equal(d.iommu_reserved[i].size, 0x10000);
	}
	assert_int_equal(d.iommu_window_base, 0x10000);
	assert_int_equal(d.iommu_window_base + d.iommu_window_size, 0x20000 + 8 * 0x20000);
	dmamap_vfio_close(v);
}

static void test_iova_table(void **state)
{
	(void)state;
	struct dmamap_vfio *v = new_v(2 << 20);
	/* Out of order, as a lazy domain's IOVAs come. */
	uint64_t iova[] = { 0xfffff000, 0x1000, 0x80000, 0x7f000 };
	uint64_t size[] = { 0x1000, 0x3000, 0x2000, 0x1000 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(vf_map_insert(v, iova[i], size[i], PB + (uint64_t)i * 0x10000), 0);
	for (size_t i = 1; i < v->nmaps; i++)
		assert_true(v->maps[i - 1].iova < v->maps[i].iova);
	dmamap_phys_addr_t p;
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0x2fff, &p), 0);
	assert_int_equal(p, PB + 0x10000 + 0x1fff);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0x4000, &p), -ENOENT);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0xfff, &p), -ENOENT);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0x7f000, &p), 0);
	assert_int_equal(p, PB + 0x30000);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0x81fff, &p), 0);
	assert_int_equal(p, PB + 0x20000 + 0x1fff);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0x82000, &p), -ENOENT);
	assert_int_equal(plat_iova_to_phys(v, DMAMAP_VFIO_DOMAIN, 0xffffffff, &p), 0);
	assert_int_equal(p, PB + 0xfff);
	assert_int_equal(plat_iova_to_phys(v, 2, 0x1000, &p), -ENOENT); /* another domain */
	assert_int_equal(plat_page_sizes(v, 2), 0);
	dmamap_vfio_close(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translation),
		cmocka_unit_test(test_page_allocator),
		cmocka_unit_test(test_driver_alloc),
		cmocka_unit_test(test_device_desc),
		cmocka_unit_test(test_iova_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
