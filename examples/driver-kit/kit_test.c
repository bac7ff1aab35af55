/*
 * examples/driver-kit/kit_test.c - the driver test kit in one program:
 * the example NIC driver (ringnic.c, Linux names only) bound to a 32-bit
 * non-coherent simulated device whose buffers lie above 4 GiB, one frame
 * received through its ring, the checker's reports as the verdict.
 *
 * Owns: the test (the device's side of the ring and the stack's
 * receive queue).  Exit 0 and "kit: ok" when the frame arrived byte for
 * byte and the checker reported nothing; 1 otherwise.
 */
#include "ringnic.c"

static struct sk_buff *received;
void (*netstub_deliver)(struct sk_buff *skb);
static void deliver(struct sk_buff *skb)
{
	received = skb;
}

int main(void)
{
	struct dmamap_kit *kit;
	char err[256];
	if (dmamap_kit_create(&(struct dmamap_kit_opts){ .kmalloc_high = true }, &kit, err, sizeof(err)))
		return fprintf(stderr, "kit: %s\n", err), 1;
	struct device dev = { 0 }; /* as embedded in a bus structure */
	struct ringnic nic;
	(void)ringnic_xmit; /* tx is exercised by tests/lib/test_kit_nic.c */
	(void)ringnic_clean_tx;
	netstub_deliver = deliver;
	if (dmamap_kit_bind(kit, &dev, &(struct dmamap_kit_dev_opts){ .name = "ringnic",
		.bus = DMAMAP_BUS_PCI, .addr_bits = 32 }) || ringnic_probe(&nic, &dev))
		return 1;

	/* The device: DMA the frame into the buffer of descriptor 0, then set DD. */
	struct sim_device *hw = dmamap_kit_hw(kit, &dev);
	const char frame[] = "a frame through the ring, above 4 GiB";
	struct ringnic_desc d;
	sim_dma_read(hw, nic.rx_ring_dma, &d, sizeof(d));
	sim_dma_write(hw, d.addr, frame, sizeof(frame));
	d.length = sizeof(frame);
	d.status = RINGNIC_DD | RINGNIC_EOP;
	sim_dma_write(hw, nic.rx_ring_dma, &d, sizeof(d));

	int ok = ringnic_clean_rx(&nic, 8) == 1 && received && received->len == sizeof(frame) &&
		 memcmp(received->data, frame, sizeof(frame)) == 0;
	kfree_skb(received);
	ringnic_remove(&nic);
	uint64_t leaked = 1;
	dmamap_kit_unbind(kit, &dev, &leaked);
	unsigned int reports = dmamap_kit_check(kit, stderr);
	dmamap_kit_destroy(kit);
	printf("kit: %s\n", ok && !leaked && !reports ? "ok" : "FAILED");
	return ok && !leaked && !reports ? 0 : 1;
}
