/*
 * tests/lib/test_kit_compat.c - linux-compat.h's names against what the
 * Linux functions they are named after do (lib/scatterlist.c,
 * kernel/dma/mapping.c, include/linux/dma-mapping.h), on the kit: an
 * embedded struct device, chains and end marks, sg_miter/sg_copy, devres,
 * the remaining allocation calls, masks, and a kit built from a tree.
 *
 * Owns: these checks only; exact values, bytes and error codes.
 */
#include <dmamap/sim/kit.h>

#include "testutil.h"

/* A bus structure embedding struct device, as PCI does. */
struct fake_pci_dev {
	unsigned int devfn;
	u64 dma_mask;
	struct device_dma_parameters dma_parms;
	struct device dev;
};

struct fx {
	struct dmamap_kit *kit;
	struct fake_pci_dev pdev;
	struct device *dev;
};

static void fx_init(struct fx *f, const struct dmamap_kit_opts *ko, bool coherent)
{
	char err[256];
	memset(f, 0, sizeof(*f));
	assert_int_equal(dmamap_kit_create(ko, &f->kit, err, sizeof(err)), 0);
	f->pdev.dev.dma_mask = &f->pdev.dma_mask; /* the bus's own storage, as pci_setup_device */
	f->pdev.dev.dma_parms = &f->pdev.dma_parms;
	f->dev = &f->pdev.dev;
	assert_int_equal(dmamap_kit_bind(f->kit, f->dev, &(struct dmamap_kit_dev_opts){
		.name = "compat", .bus = DMAMAP_BUS_PCI, .addr_bits = 64, .coherent = coherent }), 0);
}

static void fx_fini(struct fx *f)
{
	uint64_t leaked = 99;
	assert_int_equal(dmamap_kit_unbind(f->kit, f->dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(dmamap_kit_check(f->kit, stderr), 0);
	assert_int_equal(dmamap_kit_destroy(f->kit), 0);
}

static void test_embedded_device_and_masks(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL, true);
	/* The mirrors start at the library's defaults (32 bits) in the bus's storage. */
	assert_ptr_equal(f.dev->dma_mask, &f.pdev.dma_mask);
	assert_int_equal(f.pdev.dma_mask, DMA_BIT_MASK(32));
	assert_int_equal(f.dev->coherent_dma_mask, DMA_BIT_MASK(32));
	assert_int_equal(f.pdev.dma_parms.max_segment_size, 65536);
	assert_true(f.dev->dma_coherent);
	assert_string_equal(dev_name(f.dev), "compat");
	assert_int_equal(dma_set_mask(f.dev, DMA_BIT_MASK(40)), 0);
	assert_int_equal(f.pdev.dma_mask, DMA_BIT_MASK(40));
	assert_int_equal(dma_get_mask(f.dev), DMA_BIT_MASK(40));
	assert_int_equal(dma_set_coherent_mask(f.dev, DMA_BIT_MASK(36)), 0);
	assert_int_equal(f.dev->coherent_dma_mask, DMA_BIT_MASK(36));
	/* Linux's dma_set_mask refuses without dev->dma_mask. */
	u64 *saved = f.dev->dma_mask;
	f.dev->dma_mask = NULL;
	assert_int_equal(dma_set_mask(f.dev, DMA_BIT_MASK(32)), -EIO);
	assert_int_equal(dma_get_mask(f.dev), DMA_BIT_MASK(40));
	f.dev->dma_mask = saved;
	/* dma_coerce_mask_and_coherent: dma_mask now points at coherent_dma_mask. */
	assert_int_equal(dma_coerce_mask_and_coherent(f.dev, DMA_BIT_MASK(48)), 0);
	assert_ptr_equal(f.dev->dma_mask, &f.dev->coherent_dma_mask);
	assert_int_equal(f.dev->coherent_dma_mask, DMA_BIT_MASK(48));
	assert_int_equal(dmamap_get_coherent_mask(f.dev->dmamap), DMA_BIT_MASK(48));
	assert_int_equal(dma_set_max_seg_size(f.dev, 4096), 0);
	assert_int_equal(f.pdev.dma_parms.max_segment_size, 4096);
	assert_int_equal(dma_set_seg_boundary(f.dev, 0xffff), 0);
	assert_int_equal(f.pdev.dma_parms.segment_boundary_mask, 0xffff);
	assert_int_equal(dma_get_cache_alignment(), 64);
	dev_set_drvdata(f.dev, &f);
	assert_ptr_equal(dev_get_drvdata(f.dev), &f);
	/* Barriers: fences plus the platform's barrier; nothing to observe without MMIO. */
	dma_wmb();
	dma_rmb();
	wmb();
	rmb();
	mb();
	fx_fini(&f);
}

/* Chains, end marks and counts, as lib/scatterlist.c. */
static void test_sg_chain_and_counts(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL, true);
	uint8_t *buf = kmalloc(8 * PAGE_SIZE, GFP_KERNEL);
	struct scatterlist a[3];
	struct scatterlist *b = calloc(2, sizeof(*b)); /* heap: GCC cannot bound a chained walk */
	sg_init_table(a, 3);
	sg_init_table(b, 2);
	assert_true(sg_is_last(&a[2]));
	sg_set_buf(&a[0], buf + 10, 100);
	sg_set_buf(&a[1], buf + PAGE_SIZE + 7, 200);
	sg_chain(a, 3, b); /* a[2] becomes the link */
	assert_true(sg_is_chain(&a[2]));
	assert_false(sg_is_last(&a[2]));
	assert_int_equal(a[2].length, 0);
	sg_set_buf(&b[0], buf + 3 * PAGE_SIZE, 300);
	sg_set_page(&b[1], virt_to_page(buf + 5 * PAGE_SIZE), 400, 16);
	assert_ptr_equal(sg_next(&a[1]), &b[0]);
	assert_true(sg_is_last(&b[1])); /* sg_next(&b[1]) would be NULL */
	assert_int_equal(sg_nents(a), 4);
	assert_int_equal(sg_nents_for_len(a, 0), 0);
	assert_int_equal(sg_nents_for_len(a, 100), 1);
	assert_int_equal(sg_nents_for_len(a, 101), 2);
	assert_int_equal(sg_nents_for_len(a, 1000), 4);
	assert_int_equal(sg_nents_for_len(a, 1001), -EINVAL);
	assert_ptr_equal(sg_last(a, 4), &b[1]);
	assert_int_equal(a[0].offset, 10);
	assert_ptr_equal(sg_page(&a[1]), virt_to_page(buf + PAGE_SIZE));
	assert_ptr_equal(sg_virt(&b[1]), buf + 5 * PAGE_SIZE + 16);
	phys_addr_t p0 = virt_to_phys(buf);
	assert_int_not_equal(p0, (phys_addr_t)-1);
	assert_int_equal(sg_phys(&b[1]), p0 + 5 * PAGE_SIZE + 16);
	/* sg_mark_end cuts the list there. */
	sg_mark_end(&b[0]);
	assert_int_equal(sg_nents(a), 3);
	sg_unmark_end(&b[0]);
	assert_int_equal(sg_nents(a), 4);

	/* A chained list maps, moves bytes and unmaps through the library's flat view. */
	for (unsigned int i = 0; i < 8 * PAGE_SIZE; i++)
		buf[i] = (uint8_t)(i * 7);
	int n = dma_map_sg(f.dev, a, 4, DMA_TO_DEVICE);
	assert_int_equal(n, 4);
	struct scatterlist *s;
	int i;
	unsigned int total = 0;
	for_each_sg(a, s, n, i) {
		uint8_t got[400];
		assert_int_equal(sim_dma_read(dmamap_kit_hw(f.kit, f.dev), sg_dma_address(s), got,
					      sg_dma_len(s)), 0);
		assert_int_equal(memcmp(got, sg_virt(s), sg_dma_len(s)), 0);
		total += sg_dma_len(s);
	}
	assert_int_equal(total, 1000);
	dma_sync_sg_for_device(f.dev, a, 4, DMA_TO_DEVICE);
	dma_unmap_sg(f.dev, a, 4, DMA_TO_DEVICE);

	/* sg_table forms: orig_nents CPU entries, nents bus segments. */
	struct sg_table t;
	assert_int_equal(sg_alloc_table(&t, 0, GFP_KERNEL), -EINVAL);
	assert_int_equal(sg_alloc_table(&t, 2, GFP_KERNEL), 0);
	sg_set_buf(&t.sgl[0], buf, 64);
	sg_set_buf(&t.sgl[1], buf + 2 * PAGE_SIZE, 64);
	assert_int_equal(dma_map_sgtable(f.dev, &t, DMA_BIDIRECTIONAL, 0), 0);
	assert_int_equal(t.nents, 2);
	unsigned int k = 0;
	for_each_sgtable_dma_sg(&t, s, i)
		k += sg_dma_len(s);
	assert_int_equal(k, 128);
	k = 0;
	for_each_sgtable_sg(&t, s, i)
		k++;
	assert_int_equal(k, 2);
	dma_sync_sgtable_for_cpu(f.dev, &t, DMA_BIDIRECTIONAL);
	dma_sync_sgtable_for_device(f.dev, &t, DMA_BIDIRECTIONAL);
	dma_unmap_sgtable(f.dev, &t, DMA_BIDIRECTIONAL, 0);
	sg_free_table(&t);
	free(b);
	kfree(buf);
	fx_fini(&f);
}

/* sg_alloc_table_from_pages merges contiguous pages; sg_miter walks page by page. */
static void test_sg_pages_miter_copy(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL, true);
	uint8_t *buf = kmalloc(6 * PAGE_SIZE, GFP_KERNEL);
	struct page *pages[4] = { virt_to_page(buf), virt_to_page(buf + PAGE_SIZE),
				  virt_to_page(buf + 4 * PAGE_SIZE), virt_to_page(buf + 5 * PAGE_SIZE) };
	struct sg_table t;
	assert_int_equal(sg_alloc_table_from_pages(&t, pages, 4, 100, 4 * PAGE_SIZE - 200,
						   GFP_KERNEL), 0);
	assert_int_equal(t.orig_nents, 2);
	assert_int_equal(t.sgl[0].offset, 100);
	assert_int_equal(t.sgl[0].length, 2 * PAGE_SIZE - 100);
	assert_ptr_equal(sg_page(&t.sgl[1]), pages[2]);
	assert_int_equal(t.sgl[1].offset, 0);
	assert_int_equal(t.sgl[1].length, 2 * PAGE_SIZE - 100);

	/* The iterator: at most the rest of a page per step. */
	struct sg_mapping_iter m;
	size_t steps[8], nsteps = 0;
	sg_miter_start(&m, t.sgl, t.orig_nents, SG_MITER_FROM_SG);
	while (sg_miter_next(&m)) {
		assert_true(nsteps < 8);
		steps[nsteps++] = m.length;
	}
	sg_miter_stop(&m);
	assert_int_equal(nsteps, 4);
	assert_int_equal(steps[0], PAGE_SIZE - 100);
	assert_int_equal(steps[1], PAGE_SIZE);
	assert_int_equal(steps[2], PAGE_SIZE);
	assert_int_equal(steps[3], PAGE_SIZE - 100);
	/* A step partly consumed resumes where it stopped. */
	sg_miter_start(&m, t.sgl, t.orig_nents, SG_MITER_TO_SG);
	assert_true(sg_miter_next(&m));
	m.consumed = 10;
	assert_true(sg_miter_next(&m));
	assert_ptr_equal(m.addr, buf + 110);
	assert_int_equal(m.length, PAGE_SIZE - 110);
	sg_miter_stop(&m);
	sg_miter_start(&m, t.sgl, t.orig_nents, 0);
	assert_true(sg_miter_skip(&m, 2 * PAGE_SIZE - 100 + 5));
	assert_true(sg_miter_next(&m));
	assert_ptr_equal(m.addr, buf + 4 * PAGE_SIZE + 5);
	sg_miter_stop(&m);
	sg_miter_start(&m, t.sgl, t.orig_nents, 0);
	assert_false(sg_miter_skip(&m, 4 * PAGE_SIZE));

	/* Copies, with and without skip; the count is what fitted. */
	uint8_t *lin = kmalloc(4 * PAGE_SIZE, GFP_KERNEL);
	tu_fill(lin, 4 * PAGE_SIZE, 1200);
	assert_int_equal(sg_copy_from_buffer(t.sgl, t.orig_nents, lin, 4 * PAGE_SIZE),
			 4 * PAGE_SIZE - 200);
	assert_int_equal(tu_check(buf + 100, 2 * PAGE_SIZE - 100, 1200), -1);
	assert_int_equal(memcmp(buf + 4 * PAGE_SIZE, lin + 2 * PAGE_SIZE - 100,
				2 * PAGE_SIZE - 100), 0);
	memset(lin, 0, 4 * PAGE_SIZE);
	assert_int_equal(sg_pcopy_to_buffer(t.sgl, t.orig_nents, lin, 300, 2 * PAGE_SIZE - 150), 300);
	assert_int_equal(memcmp(lin, buf + 2 * PAGE_SIZE - 50, 50), 0);
	assert_int_equal(memcmp(lin + 50, buf + 4 * PAGE_SIZE, 250), 0);
	assert_int_equal(sg_copy_to_buffer(t.sgl, 1, lin, 4 * PAGE_SIZE), 2 * PAGE_SIZE - 100);
	/* kmap_local_page is the linear map. */
	void *k = kmap_local_page(pages[2]);
	assert_ptr_equal(k, buf + 4 * PAGE_SIZE);
	kunmap_local(k);
	sg_free_table(&t);
	kfree(lin);
	kfree(buf);
	fx_fini(&f);
}

/* dmam_: released when the device goes away, newest first; plain ones leak. */
static void test_devres(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, NULL, false);
	dma_addr_t h1, h2, h3;
	void *a = dmam_alloc_coherent(f.dev, 4096, &h1, GFP_KERNEL);
	void *b = dmam_alloc_attrs(f.dev, 8192, &h2, GFP_KERNEL, DMA_ATTR_WRITE_COMBINE);
	struct dma_pool *pool = dmam_pool_create("hdr", f.dev, 64, 64, 0);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(pool);
	assert_ptr_equal(f.dev->devres_head->pool, pool); /* newest first */
	void *blk = dma_pool_alloc(pool, GFP_KERNEL, &h3);
	assert_non_null(blk);
	dma_pool_free(pool, blk, h3);
	dmam_free_coherent(f.dev, 4096, a, h1);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f.dev->dmamap, &st);
	assert_int_equal(st.coherent_allocs, 2 + 1); /* a, b and the pool's page */
	/* The device goes away: b and the pool released, nothing leaks. */
	assert_int_equal(devres_release_all(f.dev), 2);
	assert_null(f.dev->devres_head);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_ANY), 0);
	/* A plain allocation is a leak at unbind, reported by the checker. */
	void *c = dma_alloc_coherent(f.dev, 4096, &h1, GFP_KERNEL);
	assert_non_null(c);
	uint64_t leaked = 0;
	assert_int_equal(dmamap_kit_unbind(f.kit, f.dev, &leaked), 0);
	assert_int_equal(leaked, 1);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_LEAK_AT_REMOVE), 1);
	assert_int_equal(dmamap_kit_check(f.kit, NULL), 1);
	assert_int_equal(dmamap_kit_destroy(f.kit), 0);
}

/* wc, pages, noncontiguous, get_sgtable, mmap, declared memory, unmap state. */
static void test_alloc_family(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ .iommu = false }, false);
	struct sim_device *hw = dmamap_kit_hw(f.kit, f.dev);
	dma_addr_t h;
	void *wc = dma_alloc_wc(f.dev, 3 * PAGE_SIZE, &h, GFP_KERNEL);
	assert_non_null(wc);
	/* get_sgtable: contiguous memory is one entry covering the pages. */
	struct sg_table t;
	assert_int_equal(dma_get_sgtable(f.dev, &t, wc, h, 3 * PAGE_SIZE - 10), 0);
	assert_int_equal(t.orig_nents, 1);
	assert_int_equal(t.sgl[0].length, 3 * PAGE_SIZE);
	assert_ptr_equal(sg_virt(t.sgl), wc);
	sg_free_table(&t);
	/* mmap: Linux's -ENXIO checks, then where the process would see it. */
	struct vm_area_struct vma = { .vm_start = 0x10000, .vm_end = 0x10000 + 2 * PAGE_SIZE,
				      .vm_pgoff = 1 };
	assert_int_equal(dma_mmap_wc(f.dev, &vma, wc, h, 3 * PAGE_SIZE), 0);
	assert_ptr_equal(vma.dmamap_cpu, (char *)wc + PAGE_SIZE);
	assert_int_equal(vma.vm_page_prot.pgprot, DMAMAP_LINUX_PROT_WRITECOMBINE);
	vma.vm_pgoff = 2;
	assert_int_equal(dma_mmap_coherent(f.dev, &vma, wc, h, 3 * PAGE_SIZE), -ENXIO);
	vma.vm_pgoff = 3;
	assert_int_equal(dma_mmap_coherent(f.dev, &vma, wc, h, 3 * PAGE_SIZE), -ENXIO);
	dma_free_wc(f.dev, 3 * PAGE_SIZE, wc, h);

	/* dma_alloc_pages: device-owned until synced; bytes move both ways. */
	struct page *pg = dma_alloc_pages(f.dev, PAGE_SIZE, &h, DMA_BIDIRECTIONAL, GFP_KERNEL);
	assert_non_null(pg);
	uint8_t pat[256];
	tu_fill(pat, sizeof(pat), 1300);
	assert_int_equal(sim_dma_write(hw, h + 64, pat, sizeof(pat)), 0);
	dma_sync_single_for_cpu(f.dev, h, PAGE_SIZE, DMA_BIDIRECTIONAL);
	assert_int_equal(tu_check((uint8_t *)page_address(pg) + 64, sizeof(pat), 1300), -1);
	dma_free_pages(f.dev, PAGE_SIZE, pg, h, DMA_BIDIRECTIONAL);

	/* dma_alloc_noncontiguous: one segment; vmap gives its CPU view. */
	struct sg_table *sgt = dma_alloc_noncontiguous(f.dev, 2 * PAGE_SIZE, DMA_FROM_DEVICE,
						       GFP_KERNEL, 0);
	assert_non_null(sgt);
	assert_int_equal(sgt->nents, 1);
	uint8_t *v = dma_vmap_noncontiguous(f.dev, 2 * PAGE_SIZE, sgt);
	assert_int_equal(sim_dma_write(hw, sg_dma_address(sgt->sgl) + PAGE_SIZE - 8, pat, 16), 0);
	dma_sync_sgtable_for_cpu(f.dev, sgt, DMA_FROM_DEVICE);
	assert_int_equal(memcmp(v + PAGE_SIZE - 8, pat, 16), 0);
	dma_vunmap_noncontiguous(f.dev, v);
	dma_free_noncontiguous(f.dev, 2 * PAGE_SIZE, sgt, DMA_FROM_DEVICE);

	/* DEFINE_DMA_UNMAP_*: the state a driver keeps for its unmap. */
	struct { DEFINE_DMA_UNMAP_ADDR(addr); DEFINE_DMA_UNMAP_LEN(len); } st;
	uint8_t *buf = kmalloc(512, GFP_KERNEL);
	dma_unmap_addr_set(&st, addr, dma_map_single(f.dev, buf, 512, DMA_TO_DEVICE));
	dma_unmap_len_set(&st, len, 512);
	assert_int_equal(dma_mapping_error(f.dev, dma_unmap_addr(&st, addr)), 0);
	dma_unmap_single(f.dev, dma_unmap_addr(&st, addr), dma_unmap_len(&st, len), DMA_TO_DEVICE);
	kfree(buf);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_ANY), 0);
	fx_fini(&f);
}

/* dma_declare_coherent_memory: allocations from the area at its bus base. */
static void test_declared_coherent(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ .checker_off = true }, true);
	uint64_t phys;
	assert_int_equal(sim_alloc_pages(dmamap_kit_machine(f.kit), 8, 1, 0, 0xffffffffULL, &phys), 0);
	assert_int_equal(dma_declare_coherent_memory(f.dev, phys, phys, 8 * PAGE_SIZE), 0);
	assert_int_equal(dma_declare_coherent_memory(f.dev, phys, phys, 8 * PAGE_SIZE), -EINVAL);
	dma_addr_t h1, h2, h3;
	void *a = dma_alloc_coherent(f.dev, 100, &h1, GFP_KERNEL);
	void *b = dma_alloc_coherent(f.dev, 3 * PAGE_SIZE, &h2, GFP_KERNEL); /* 4 pages, aligned */
	assert_int_equal(h1, phys);
	assert_int_equal(h2, phys + 4 * PAGE_SIZE);
	assert_ptr_equal(a, sim_phys_to_cpu(dmamap_kit_machine(f.kit), phys));
	/* Full: the next falls back to the library. */
	void *c = dma_alloc_coherent(f.dev, 4 * PAGE_SIZE, &h3, GFP_KERNEL);
	assert_non_null(c);
	assert_true(h3 < phys || h3 >= phys + 8 * PAGE_SIZE);
	dma_free_coherent(f.dev, 4 * PAGE_SIZE, c, h3);
	dma_free_coherent(f.dev, 3 * PAGE_SIZE, b, h2);
	dma_free_coherent(f.dev, 100, a, h1);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f.dev->dmamap, &st);
	assert_int_equal(st.coherent_allocs, 1);
	fx_fini(&f);
	/* Freed at unbind: the area is gone. */
	assert_null(f.pdev.dev.dma_mem);
}

/* A kit from a device tree: the node's windows and coherency reach the driver. */
static void test_kit_from_tree(void **state)
{
	(void)state;
	struct dmamap_kit *kit;
	char err[256];
	assert_int_equal(dmamap_kit_create(&(struct dmamap_kit_opts){ .dts = KIT_TEST_DTS },
					   &kit, err, sizeof(err)), 0);
	struct device dev = { 0 };
	assert_int_equal(dmamap_kit_bind(kit, &dev, &(struct dmamap_kit_dev_opts){
		.name = "eth", .dt_node = "/scb/ethernet@7d580000" }), 0);
	assert_true(dev.dma_coherent);
	assert_int_equal(dma_set_mask_and_coherent(&dev, DMA_BIT_MASK(64)), 0);
	uint64_t phys;
	assert_int_equal(sim_alloc_pages(dmamap_kit_machine(kit), 1, 1, 0, (1ULL << 30) - 1, &phys), 0);
	void *cpu = sim_phys_to_cpu(dmamap_kit_machine(kit), phys);
	dma_addr_t a = dma_map_single(&dev, cpu, 256, DMA_TO_DEVICE);
	assert_int_equal(dma_mapping_error(&dev, a), 0);
	assert_int_equal(a, phys + 0xc0000000ULL); /* bus 0xc0000000 -> cpu 0 */
	dma_unmap_single(&dev, a, 256, DMA_TO_DEVICE);
	struct device nodev = { 0 };
	assert_int_equal(dmamap_kit_bind(kit, &nodev, &(struct dmamap_kit_dev_opts){
		.name = "x", .dt_node = "/nope" }), -EINVAL);
	assert_int_equal(dmamap_kit_destroy(kit), -EBUSY);
	assert_int_equal(dmamap_kit_unbind(kit, &dev, NULL), 0);
	assert_int_equal(dmamap_kit_check(kit, stderr), 0);
	assert_int_equal(dmamap_kit_destroy(kit), 0);
	assert_int_not_equal(dmamap_kit_create(&(struct dmamap_kit_opts){ .dts = "/nonexistent.dts" },
					       &kit, err, sizeof(err)), 0);
	assert_true(err[0] != '\0');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_embedded_device_and_masks),
		cmocka_unit_test(test_sg_chain_and_counts),
		cmocka_unit_test(test_sg_pages_miter_copy),
		cmocka_unit_test(test_devres),
		cmocka_unit_test(test_alloc_family),
		cmocka_unit_test(test_declared_coherent),
		cmocka_unit_test(test_kit_from_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
