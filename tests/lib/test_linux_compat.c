/*
 * tests/lib/test_linux_compat.c - a Linux-shaped driver
 * (tests/drivers/toy_nic.c, Linux names only) runs on the simulated
 * machine; every byte checked.
 */
#include "../drivers/toy_nic.c"

#include "testutil.h"

static void test_toy_nic(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "toy", 32, true, DMAMAP_BUS_PCI);
	struct device devobj = { 0 }; /* a bus would embed it; probe points it at d.dev */
	struct device *dev = &devobj;
	dmamap_linux_device_init(dev, d.dev, "toy", true);
	struct toy_nic nic;
	assert_int_equal(toy_probe(&nic, dev, 32), 0);
	assert_int_equal(dma_get_mask(dev), DMA_BIT_MASK(32));
	tu_assert_le(nic.ring_dma + TOY_RING * sizeof(struct toy_desc) - 1,
		     DMA_BIT_MASK(32));

	void *bufs[TOY_RING];
	for (int i = 0; i < TOY_RING; i++)
		bufs[i] = (i & 1) ? tu_alloc_high(&e, 1, NULL) : tu_alloc_low(&e, 1, NULL);
	assert_int_equal(toy_post_rx(&nic, bufs), 0);
	for (int i = 0; i < TOY_RING; i++) {
		/* The device reads the descriptor from the coherent ring, then DMAs. */
		struct toy_desc desc;
		assert_int_equal(sim_dma_read(d.sd, nic.ring_dma + (uint64_t)i * sizeof(desc), &desc,
					      sizeof(desc)), 0);
		assert_int_equal(desc.addr, nic.buf_dma[i]);
		assert_int_equal(desc.len, TOY_BUF);
		uint8_t pkt[TOY_BUF];
		tu_fill(pkt, sizeof(pkt), 50 + (uint32_t)i);
		assert_int_equal(sim_dma_write(d.sd, desc.addr, pkt, sizeof(pkt)), 0);
		void *got = toy_rx_complete(&nic, i);
		assert_ptr_equal(got, bufs[i]);
		assert_int_equal(tu_check(got, TOY_BUF, 50 + (uint32_t)i), -1);
	}

	dma_addr_t hh;
	void *hdr = dma_pool_alloc(nic.pool, GFP_ATOMIC, &hh);
	assert_non_null(hdr);
	uint8_t *payload = tu_alloc_high(&e, 1, NULL);
	tu_fill(hdr, 64, 60);
	tu_fill(payload + 100, 900, 61);
	struct scatterlist sg[2];
	assert_int_equal(toy_xmit_sg(&nic, sg, hdr, payload + 100, 900), 2);
	uint8_t got[900];
	assert_int_equal(sim_dma_read(d.sd, nic.ring[0].addr, got, 64), 0);
	assert_int_equal(tu_check(got, 64, 60), -1);
	assert_int_equal(sim_dma_read(d.sd, nic.ring[1].addr, got, 900), 0);
	assert_int_equal(tu_check(got, 900, 61), -1);
	dma_unmap_sg(dev, sg, 2, DMA_TO_DEVICE);
	dma_pool_free(nic.pool, hdr, hh);
	toy_remove(&nic);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.live_mappings, 0);
	assert_int_equal(st.bounced_maps, TOY_RING / 2 + 1); /* the high rx buffers and payload */
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_toy_nic) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
