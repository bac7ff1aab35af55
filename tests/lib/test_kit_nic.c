/*
 * tests/lib/test_kit_nic.c - the example NIC driver (examples/driver-kit/
 * ringnic.c, Linux names only) on the driver test kit: a 32-bit device
 * with its buffers above 4 GiB (bounced), behind an IOMMU, non-coherent,
 * and the broken variant whose missing sync the checker must report.
 *
 * Owns: the device's side of the rings (through the simulated device) and
 * the stack's receive queue; every byte and counter checked.
 */
#include "ringnic.c"

#include "kit_fixture.h"

#include <dmamap/sim/iommu.h>

static struct sk_buff *rxq[RINGNIC_RING * 2];
static unsigned int nrx;
void (*netstub_deliver)(struct sk_buff *skb);
static void deliver(struct sk_buff *skb)
{
	assert_true(nrx < RINGNIC_RING * 2);
	rxq[nrx++] = skb;
}

struct fx {
	struct dmamap_kit *kit;
	struct device dev;
	struct ringnic nic;
	struct sim_device *hw;
};

static void fx_init(struct fx *f, const struct dmamap_kit_opts *ko,
		    const struct dmamap_kit_dev_opts *dopt)
{
	memset(f, 0, sizeof(*f));
	f->hw = kit_fx_up(&f->kit, &f->dev, ko, dopt);
	assert_int_equal(ringnic_probe(&f->nic, &f->dev), 0);
	assert_int_equal(*f->dev.dma_mask, DMA_BIT_MASK(32));
	assert_int_equal(f->dev.coherent_dma_mask, DMA_BIT_MASK(32));
	netstub_deliver = deliver;
	nrx = 0;
}

static void fx_fini(struct fx *f)
{
	for (unsigned int i = 0; i < nrx; i++)
		kfree_skb(rxq[i]);
	ringnic_remove(&f->nic);
	kit_fx_down(f->kit, &f->dev); /* the dmam_ rings were released, not leaked */
}

/* The device receives one frame into the next rx slot. */
static void hw_rx(struct fx *f, unsigned int slot, const void *frame, unsigned int len)
{
	struct ringnic_desc d;
	uint64_t at = f->nic.rx_ring_dma + slot * sizeof(d);
	assert_int_equal(sim_dma_read(f->hw, at, &d, sizeof(d)), 0);
	assert_int_equal(d.status, 0);
	assert_true(d.addr + RINGNIC_RXBUF - 1 <= DMA_BIT_MASK(32));
	assert_int_equal(sim_dma_write(f->hw, d.addr, frame, len), 0);
	d.length = (u16)len;
	d.status = RINGNIC_DD | RINGNIC_EOP;
	assert_int_equal(sim_dma_write(f->hw, at, &d, sizeof(d)), 0);
}

/* The device sends what the tx ring holds from slot; returns the bytes gathered. */
static unsigned int hw_tx(struct fx *f, unsigned int slot, uint8_t *out)
{
	unsigned int got = 0;
	for (;;) {
		struct ringnic_desc d;
		uint64_t at = f->nic.tx_ring_dma + (slot % RINGNIC_RING) * sizeof(d);
		assert_int_equal(sim_dma_read(f->hw, at, &d, sizeof(d)), 0);
		assert_true(d.addr + d.length - 1 <= DMA_BIT_MASK(32));
		assert_int_equal(sim_dma_read(f->hw, d.addr, out + got, d.length), 0);
		got += d.length;
		d.status = RINGNIC_DD;
		assert_int_equal(sim_dma_write(f->hw, at, &d, sizeof(d)), 0);
		if (d.cmd & RINGNIC_EOP)
			return got;
		slot++;
	}
}

/* Frames of 100 and 256 bytes (copybreak) and 1500 and 2048 (handed up whole), then tx. */
static void run_traffic(struct fx *f)
{
	static const unsigned int lens[] = { 100, 1500, 256, 2048 };
	uint8_t frame[RINGNIC_RXBUF];
	for (unsigned int i = 0; i < 4; i++) {
		tu_fill(frame, lens[i], 700 + i);
		hw_rx(f, i, frame, lens[i]);
	}
	assert_int_equal(ringnic_clean_rx(&f->nic, 16), 4);
	assert_int_equal(nrx, 4);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(rxq[i]->len, lens[i]);
		assert_int_equal(tu_check(rxq[i]->data, lens[i], 700 + i), -1);
	}
	assert_int_equal(f->nic.rx_copybreak, 2);
	assert_int_equal(f->nic.rx_tail, 3);

	/* tx: a 64-byte header and two page fragments, one crossing into a second page. */
	uint8_t *hdr = kmalloc(64, GFP_KERNEL);
	struct page *pg = alloc_pages(GFP_KERNEL, 1);
	assert_non_null(hdr);
	assert_non_null(pg);
	uint8_t *p = page_address(pg);
	tu_fill(hdr, 64, 800);
	tu_fill(p + 100, 1000, 801);
	tu_fill(p + 3000, 2000, 802);
	struct page *pages[2] = { pg, pg };
	unsigned int offs[2] = { 100, 3000 }, flen[2] = { 1000, 2000 };
	assert_int_equal(ringnic_xmit(&f->nic, hdr, 64, pages, offs, flen, 2), 0);
	assert_int_equal(f->nic.tx_tail, f->nic.tx_next_to_use);
	uint8_t wire[3064];
	assert_int_equal(hw_tx(f, 0, wire), 3064);
	assert_int_equal(tu_check(wire, 64, 800), -1);
	assert_int_equal(tu_check(wire + 64, 1000, 801), -1);
	assert_int_equal(tu_check(wire + 1064, 2000, 802), -1);
	assert_int_equal(ringnic_clean_tx(&f->nic), 1);
	assert_int_equal(f->nic.tx_packets, 1);
	kfree(hdr);
	__free_pages(pg, 1);
}

/* A 32-bit device whose buffers all lie above 4 GiB: every streaming map bounces. */
static void test_nic_32bit_above_4g(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ .kmalloc_high = true },
		&(struct dmamap_kit_dev_opts){ .name = "ringnic", .bus = DMAMAP_BUS_PCI,
					       .addr_bits = 32, .coherent = true });
	run_traffic(&f);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f.dev.dmamap, &st);
	/* 16 rx buffers, 2 refills after whole frames, 3 tx entries: all bounced. */
	assert_int_equal(st.bounced_maps, 16 + 2 + 3);
	assert_int_equal(st.live_mappings, 16 + 2); /* the rx buffers and the two rings */
	fx_fini(&f);
}

/* Behind an IOMMU: IOVAs below 4 GiB, nothing bounced, no fault. */
static void test_nic_iommu(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ .kmalloc_high = true, .iommu = true },
		&(struct dmamap_kit_dev_opts){ .name = "ringnic", .bus = DMAMAP_BUS_PCI,
					       .addr_bits = 64, .coherent = true, .iommu = true });
	assert_string_equal(dmamap_device_ops_name(f.dev.dmamap), "iommu");
	run_traffic(&f);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f.dev.dmamap, &st);
	assert_int_equal(st.bounced_maps, 0);
	struct sim_iommu_stats is;
	assert_int_equal(sim_iommu_get_stats(dmamap_kit_machine(f.kit), dmamap_kit_iommu(f.kit), &is), 0);
	assert_int_equal(is.faults, 0);
	assert_true(is.maps >= 16 + 2 + 1);
	fx_fini(&f);
}

/* A non-coherent device: syncs do cache maintenance, the bytes still arrive. */
static void test_nic_noncoherent(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ 0 },
		&(struct dmamap_kit_dev_opts){ .name = "ringnic", .bus = DMAMAP_BUS_PLATFORM,
					       .addr_bits = 32, .coherent = false });
	struct sim_cache_stats before, after;
	sim_cache_get_stats(dmamap_kit_machine(f.kit), &before);
	run_traffic(&f);
	sim_cache_get_stats(dmamap_kit_machine(f.kit), &after);
	assert_true(after.lines_invalidated > before.lines_invalidated);
	assert_int_equal(after.stale_device_reads, 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(f.dev.dmamap, &st);
	assert_int_equal(st.bounced_maps, 0);
	fx_fini(&f);
}

/*
 * The broken variant: copybreak without dma_sync_single_for_cpu.  The
 * stack's copy reads stale bytes and the checker says exactly that, once,
 * naming the driver's map line.
 */
static void test_nic_missing_sync_caught(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ 0 },
		&(struct dmamap_kit_dev_opts){ .name = "ringnic", .bus = DMAMAP_BUS_PLATFORM,
					       .addr_bits = 32, .coherent = false });
	f.nic.bug_no_rx_sync = true;
	uint8_t frame[128];
	tu_fill(frame, sizeof(frame), 900);
	hw_rx(&f, 0, frame, sizeof(frame));
	assert_int_equal(ringnic_clean_rx(&f.nic, 16), 1);
	assert_int_equal(rxq[0]->len, sizeof(frame));
	assert_true(tu_check(rxq[0]->data, sizeof(frame), 900) != -1); /* stale */
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_ANY), 1);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC), 1);
	struct dmamap_debug_report r;
	assert_int_equal(dmamap_kit_reports(f.kit, &r, 1), 1);
	assert_int_equal(r.kind, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC);
	assert_string_equal(r.device, "ringnic");
	assert_non_null(strstr(r.origin, "ringnic.c:"));
	assert_int_equal(dmamap_kit_check(f.kit, NULL), 1);

	/* The correct driver on the same machine state: no report. */
	f.nic.bug_no_rx_sync = false;
	hw_rx(&f, 1, frame, sizeof(frame));
	assert_int_equal(ringnic_clean_rx(&f.nic, 16), 1);
	assert_int_equal(tu_check(rxq[1]->data, sizeof(frame), 900), -1);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_ANY), 0);
	fx_fini(&f);
}

/* Unbinding without the driver's remove: dmam_ memory is released, the rx maps leak. */
static void test_nic_leak_at_unbind(void **state)
{
	(void)state;
	struct fx f;
	fx_init(&f, &(struct dmamap_kit_opts){ 0 },
		&(struct dmamap_kit_dev_opts){ .name = "ringnic", .addr_bits = 32, .coherent = true });
	assert_non_null(f.dev.devres_head);
	uint64_t leaked = 0;
	assert_int_equal(dmamap_kit_unbind(f.kit, &f.dev, &leaked), 0);
	assert_null(f.dev.devres_head);
	assert_int_equal(leaked, RINGNIC_RING);
	assert_int_equal(dmamap_kit_count(f.kit, DMAMAP_DEBUG_LEAK_AT_REMOVE), RINGNIC_RING);
	assert_int_equal(dmamap_kit_check(f.kit, NULL), RINGNIC_RING);
	assert_int_equal(dmamap_kit_unbind(f.kit, &f.dev, NULL), -ENOENT);
	for (unsigned int i = 0; i < RINGNIC_RING; i++)
		kfree(f.nic.rx_buf[i].data);
	assert_int_equal(dmamap_kit_destroy(f.kit), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nic_32bit_above_4g),
		cmocka_unit_test(test_nic_iommu),
		cmocka_unit_test(test_nic_noncoherent),
		cmocka_unit_test(test_nic_missing_sync_caught),
		cmocka_unit_test(test_nic_leak_at_unbind),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
