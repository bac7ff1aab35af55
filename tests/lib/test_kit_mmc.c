/*
 * tests/lib/test_kit_mmc.c - the example SD/MMC host (examples/driver-kit/
 * admmc.c, Linux names only) on the driver test kit: aligned requests
 * through the ADMA table, unaligned ones through the bounce buffer, on a
 * 32-bit device above 4 GiB, behind an IOMMU, non-coherent, and the broken
 * variant whose missing sync the checker must report.
 *
 * Owns: the card (a byte array) and the ADMA engine (walks the table
 * through the simulated device); every byte and counter checked.
 */
#include "admmc.c"

#include "kit_fixture.h"

#define CARD_BYTES (256 * 1024)

struct fx {
	struct dmamap_kit *kit;
	struct device dev;
	struct admmc_host host;
	struct sim_device *hw;
	uint8_t card[CARD_BYTES];
};

static void fx_init(struct fx *f, const struct dmamap_kit_opts *ko,
		    const struct dmamap_kit_dev_opts *dopt)
{
	memset(f, 0, sizeof(*f));
	f->hw = kit_fx_up(&f->kit, &f->dev, ko, dopt);
	assert_int_equal(admmc_probe(&f->host, &f->dev), 0);
	assert_int_equal(dma_get_max_seg_size(&f->dev), 65536);
	assert_int_equal(f->dev.dma_parms->max_segment_size, 65536);
	tu_fill(f->card, CARD_BYTES, 1000);
}

static void fx_fini(struct fx *f)
{
	admmc_remove(&f->host);
	kit_fx_down(f->kit, &f->dev);
}

/* The engine: walk the ADMA table, moving bytes between memory and the card at pos. */
static unsigned int hw_adma(struct fx *f, bool to_card, unsigned int pos)
{
	unsigned int moved = 0;
	for (unsigned int k = 0; k < ADMMC_MAX_SEGS; k++) {
		struct admmc_desc d;
		assert_int_equal(sim_dma_read(f->hw, f->host.adma_addr + k * sizeof(d), &d,
					      sizeof(d)), 0);
		assert_true(d.attr & ADMA2_VALID);
		unsigned int len = d.len ? d.len : 65536;
		if (to_card)
			assert_int_equal(sim_dma_read(f->hw, d.addr, f->card + pos + moved, len), 0);
		else
			assert_int_equal(sim_dma_write(f->hw, d.addr, f->card + pos + moved, len), 0);
		moved += len;
		if (d.attr & ADMA2_END)
			return moved;
	}
	fail_msg("no END descriptor");
	return 0;
}

/* A request of nseg pieces at buf + off[i], len[i] each; returns bytes moved. */
static unsigned int request(struct fx *f, bool write, struct scatterlist *sg, unsigned int nseg,
			    unsigned int blocks, unsigned int pos)
{
	struct mmc_data data = { .blksz = 512, .blocks = blocks,
				 .flags = write ? MMC_DATA_WRITE : MMC_DATA_READ,
				 .sg = sg, .sg_len = nseg };
	assert_int_equal(admmc_prepare_data(&f->host, &data), 0);
	unsigned int moved = hw_adma(f, write, pos);
	admmc_finish_data(&f->host, &data, 0);
	assert_int_equal(data.error, 0);
	assert_int_equal(data.bytes_xfered, blocks * 512);
	return moved;
}

/* Aligned: three pieces, mapped as a list.  Unaligned: offset 1, bounced. */
static void run_io(struct fx *f)
{
	struct page *pg = alloc_pages(GFP_KERNEL, 2); /* 16 KiB */
	assert_non_null(pg);
	uint8_t *p = page_address(pg);
	struct scatterlist sg[3];

	/* Aligned read: 512 + 1024 + 2560 bytes from card offset 4096. */
	memset(p, 0, 4 * PAGE_SIZE);
	sg_init_table(sg, 3);
	sg_set_buf(&sg[0], p, 512);
	sg_set_buf(&sg[1], p + 4096, 1024);
	sg_set_buf(&sg[2], p + 8192 + 512, 2560);
	assert_int_equal(request(f, false, sg, 3, 8, 4096), 4096);
	assert_int_equal(memcmp(p, f->card + 4096, 512), 0);
	assert_int_equal(memcmp(p + 4096, f->card + 4096 + 512, 1024), 0);
	assert_int_equal(memcmp(p + 8192 + 512, f->card + 4096 + 1536, 2560), 0);
	assert_int_equal(f->host.bounced_requests, 0);

	/* Unaligned write (offset 1): bounced; the card gets the exact bytes. */
	tu_fill(p + 1, 2048, 1100);
	sg_init_one(sg, p + 1, 2048);
	assert_int_equal(request(f, true, sg, 1, 4, 65536), 2048);
	assert_int_equal(tu_check(f->card + 65536, 2048, 1100), -1);
	assert_int_equal(f->host.bounced_requests, 1);

	/* Unaligned read across two entries (offsets 3 and 2): bounced back exactly. */
	memset(p, 0, 4 * PAGE_SIZE);
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], p + 3, 1000);
	sg_set_buf(&sg[1], p + 8192 + 2, 536);
	assert_int_equal(request(f, false, sg, 2, 3, 0), 1536);
	assert_int_equal(memcmp(p + 3, f->card, 1000), 0);
	assert_int_equal(memcmp(p + 8192 + 2, f->card + 1000, 536), 0);
	assert_int_equal(p[2], 0);
	assert_int_equal(p[1003], 0);
	assert_int_equal(f->host.bounced_requests, 2);
	__free_pages(pg, 2);
}

static void test_mmc_32bit_above_4g(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	fx_init(f, &(struct dmamap_kit_opts){ .kmalloc_high = true },
		&(struct dmamap_kit_dev_opts){ .name = "admmc", .addr_bits = 32, .coherent = true });
	run_io(f);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f->dev.dmamap, &st);
	/* The bounce buffer once at probe, the aligned read's three entries. */
	assert_int_equal(st.bounced_maps, 1 + 3);
	fx_fini(f);
	free(f);
}

static void test_mmc_iommu(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	fx_init(f, &(struct dmamap_kit_opts){ .kmalloc_high = true, .iommu = true },
		&(struct dmamap_kit_dev_opts){ .name = "admmc", .addr_bits = 64, .coherent = true,
					       .iommu = true });
	assert_string_equal(dmamap_device_ops_name(f->dev.dmamap), "iommu");
	run_io(f);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f->dev.dmamap, &st);
	assert_int_equal(st.bounced_maps, 0);
	fx_fini(f);
	free(f);
}

static void test_mmc_noncoherent(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	fx_init(f, &(struct dmamap_kit_opts){ 0 },
		&(struct dmamap_kit_dev_opts){ .name = "admmc", .addr_bits = 32, .coherent = false });
	run_io(f);
	struct sim_cache_stats cs;
	sim_cache_get_stats(dmamap_kit_machine(f->kit), &cs);
	assert_int_equal(cs.stale_device_reads, 0);
	fx_fini(f);
	free(f);
}

/* The broken variant: a bounced read copied out before dma_sync_single_for_cpu. */
static void test_mmc_missing_sync_caught(void **state)
{
	(void)state;
	struct fx *f = calloc(1, sizeof(*f));
	fx_init(f, &(struct dmamap_kit_opts){ 0 },
		&(struct dmamap_kit_dev_opts){ .name = "admmc", .addr_bits = 32, .coherent = false });
	f->host.bug_no_bounce_sync = true;
	uint8_t *buf = kmalloc(2048, GFP_KERNEL);
	struct scatterlist sg;
	sg_init_one(&sg, buf + 1, 1024);
	assert_int_equal(request(f, false, &sg, 1, 2, 512), 1024);
	assert_true(memcmp(buf + 1, f->card + 512, 1024) != 0); /* stale */
	assert_int_equal(dmamap_kit_count(f->kit, DMAMAP_DEBUG_ANY), 1);
	struct dmamap_debug_report r;
	assert_int_equal(dmamap_kit_reports(f->kit, &r, 1), 1);
	assert_int_equal(r.kind, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC);
	assert_string_equal(r.device, "admmc");
	assert_non_null(strstr(r.origin, "admmc.c:"));
	assert_int_equal(dmamap_kit_check(f->kit, NULL), 1);
	/* Fixed: the same request is clean and byte-exact. */
	f->host.bug_no_bounce_sync = false;
	assert_int_equal(request(f, false, &sg, 1, 2, 512), 1024);
	assert_int_equal(memcmp(buf + 1, f->card + 512, 1024), 0);
	assert_int_equal(dmamap_kit_count(f->kit, DMAMAP_DEBUG_ANY), 0);
	kfree(buf);
	fx_fini(f);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmc_32bit_above_4g),
		cmocka_unit_test(test_mmc_iommu),
		cmocka_unit_test(test_mmc_noncoherent),
		cmocka_unit_test(test_mmc_missing_sync_caught),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
