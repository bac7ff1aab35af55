/*
 * examples/driver-kit/ringnic.c - an example NIC driver's DMA code, written
 * only with Linux names and idioms: a coherent descriptor ring each way,
 * rx buffers mapped FROM_DEVICE, copybreak (small frames copied out of a
 * buffer that stays mapped: sync for the CPU, copy, sync for the device),
 * and tx scatter-gather (header + page fragments through dma_map_sg).
 *
 * Owns: the driver only.  The hardware is the test's (it reads and writes
 * the rings through the simulated device); the stack above is netstub.h.
 * Must never call a dmamap_ function: what it needs from the kernel is a
 * Linux name.  `bug_no_rx_sync` is the deliberately broken variant: the
 * copybreak path forgets dma_sync_single_for_cpu, which the checker must
 * report.
 */
#include "netstub.h"

#define RINGNIC_RING 16
#define RINGNIC_RXBUF 2048
#define RINGNIC_MAX_FRAGS 4

/* Descriptor status and command bits. */
#define RINGNIC_DD 0x01  /* descriptor done (written by the device) */
#define RINGNIC_EOP 0x02 /* end of packet */

struct ringnic_desc {
	__le64 addr;
	__le16 length;
	u8 cmd;
	u8 status;
	u8 pad[4];
};

struct ringnic_rx_buffer {
	void *data;
	DEFINE_DMA_UNMAP_ADDR(dma);
};

struct ringnic_tx_buffer {
	struct scatterlist sg[RINGNIC_MAX_FRAGS + 1];
	int nents;      /* as passed to dma_map_sg; 0: not the packet's first slot */
	unsigned int count; /* descriptors the packet used */
};

struct ringnic {
	struct device *dev;
	struct ringnic_desc *rx_ring, *tx_ring;
	dma_addr_t rx_ring_dma, tx_ring_dma;
	struct ringnic_rx_buffer rx_buf[RINGNIC_RING];
	struct ringnic_tx_buffer tx_buf[RINGNIC_RING];
	unsigned int rx_next, tx_next_to_use, tx_next_to_clean;
	/* The doorbells a real device has as registers (writel after wmb). */
	u32 rx_tail, tx_tail;
	unsigned int copybreak;
	bool bug_no_rx_sync;
	u64 rx_packets, rx_copybreak, tx_packets;
};

static int ringnic_alloc_rx_buffer(struct ringnic *nic, unsigned int i)
{
	struct ringnic_rx_buffer *b = &nic->rx_buf[i];
	dma_addr_t dma;

	b->data = kmalloc(RINGNIC_RXBUF, GFP_ATOMIC);
	if (!b->data)
		return -ENOMEM;
	dma = dma_map_single(nic->dev, b->data, RINGNIC_RXBUF, DMA_FROM_DEVICE);
	if (dma_mapping_error(nic->dev, dma)) {
		kfree(b->data);
		b->data = NULL;
		return -ENOMEM;
	}
	dma_unmap_addr_set(b, dma, dma);
	nic->rx_ring[i].addr = cpu_to_le64(dma);
	nic->rx_ring[i].length = 0;
	nic->rx_ring[i].status = 0;
	return 0;
}

static void ringnic_give_rx(struct ringnic *nic, unsigned int i)
{
	/* The descriptor is complete before the device may see the new tail. */
	dma_wmb();
	nic->rx_ring[i].status = 0;
	wmb();
	nic->rx_tail = i;
}

static int ringnic_probe(struct ringnic *nic, struct device *dev)
{
	int err;

	memset(nic, 0, sizeof(*nic));
	nic->dev = dev;
	nic->copybreak = 256;
	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (err)
		return err;
	nic->rx_ring = dmam_alloc_coherent(dev, RINGNIC_RING * sizeof(struct ringnic_desc),
					   &nic->rx_ring_dma, GFP_KERNEL);
	nic->tx_ring = dmam_alloc_coherent(dev, RINGNIC_RING * sizeof(struct ringnic_desc),
					   &nic->tx_ring_dma, GFP_KERNEL);
	if (!nic->rx_ring || !nic->tx_ring)
		return -ENOMEM;
	for (unsigned int i = 0; i < RINGNIC_RING; i++) {
		err = ringnic_alloc_rx_buffer(nic, i);
		if (err)
			return err;
	}
	wmb();
	nic->rx_tail = RINGNIC_RING - 1;
	return 0;
}

/* NAPI poll: hands up to budget received frames to the stack. */
static int ringnic_clean_rx(struct ringnic *nic, int budget)
{
	int done = 0;

	while (done < budget) {
		unsigned int i = nic->rx_next;
		struct ringnic_desc *desc = &nic->rx_ring[i];
		struct ringnic_rx_buffer *b = &nic->rx_buf[i];
		struct sk_buff *skb;
		unsigned int len;

		if (!(desc->status & RINGNIC_DD))
			break;
		/* Read the length only after seeing DD. */
		dma_rmb();
		len = le16_to_cpu(desc->length);

		if (len <= nic->copybreak) {
			skb = netdev_alloc_skb(NULL, len);
			if (!skb)
				break;
			if (!nic->bug_no_rx_sync)
				dma_sync_single_for_cpu(nic->dev, dma_unmap_addr(b, dma), len,
							DMA_FROM_DEVICE);
			skb_put_data(skb, b->data, len);
			dma_sync_single_for_device(nic->dev, dma_unmap_addr(b, dma), len,
						   DMA_FROM_DEVICE);
			nic->rx_copybreak++;
		} else {
			dma_unmap_single(nic->dev, dma_unmap_addr(b, dma), RINGNIC_RXBUF,
					 DMA_FROM_DEVICE);
			skb = build_skb(b->data, RINGNIC_RXBUF);
			if (!skb)
				break;
			skb_put(skb, len);
			if (ringnic_alloc_rx_buffer(nic, i)) {
				/* No new buffer: the slot stays empty (a real driver retries later). */
				netif_receive_skb(skb);
				nic->rx_packets++;
				done++;
				nic->rx_next = (i + 1) % RINGNIC_RING;
				continue;
			}
		}
		netif_receive_skb(skb);
		nic->rx_packets++;
		ringnic_give_rx(nic, i);
		nic->rx_next = (i + 1) % RINGNIC_RING;
		done++;
	}
	return done;
}

/*
 * Transmits hdr (linear) plus nfrags page fragments as one packet:
 * NETDEV_TX_OK (0), or NETDEV_TX_BUSY (16) when the ring is full or the
 * mapping fails (the stack retries later).
 */
static int ringnic_xmit(struct ringnic *nic, void *hdr, unsigned int hlen, struct page **pages,
			const unsigned int *offs, const unsigned int *lens, int nfrags)
{
	unsigned int first = nic->tx_next_to_use;
	struct ringnic_tx_buffer *tb = &nic->tx_buf[first];
	unsigned int used = (nic->tx_next_to_use - nic->tx_next_to_clean) % RINGNIC_RING;
	struct scatterlist *sg;
	int n, i;

	if (nfrags > RINGNIC_MAX_FRAGS || used + (unsigned int)nfrags + 1 >= RINGNIC_RING)
		return 16;
	sg_init_table(tb->sg, (unsigned int)nfrags + 1);
	sg_set_buf(&tb->sg[0], hdr, hlen);
	for (i = 0; i < nfrags; i++)
		sg_set_page(&tb->sg[i + 1], pages[i], lens[i], offs[i]);
	n = dma_map_sg(nic->dev, tb->sg, nfrags + 1, DMA_TO_DEVICE);
	if (!n)
		return 16;
	tb->nents = nfrags + 1;
	tb->count = (unsigned int)n;

	for_each_sg(tb->sg, sg, n, i) {
		unsigned int j = (first + (unsigned int)i) % RINGNIC_RING;
		struct ringnic_desc *d = &nic->tx_ring[j];

		d->addr = cpu_to_le64(sg_dma_address(sg));
		d->length = cpu_to_le16((u16)sg_dma_len(sg));
		d->status = 0;
		d->cmd = i == n - 1 ? RINGNIC_EOP : 0;
		if (j != first)
			nic->tx_buf[j].nents = 0;
	}
	nic->tx_next_to_use = (first + (unsigned int)n) % RINGNIC_RING;
	/* Descriptors in memory before the doorbell. */
	wmb();
	nic->tx_tail = nic->tx_next_to_use;
	return 0;
}

/* Reclaims sent packets: unmap once the device set DD on the last slot. */
static int ringnic_clean_tx(struct ringnic *nic)
{
	int cleaned = 0;

	while (nic->tx_next_to_clean != nic->tx_next_to_use) {
		unsigned int first = nic->tx_next_to_clean;
		struct ringnic_tx_buffer *tb = &nic->tx_buf[first];
		unsigned int last = (first + tb->count - 1) % RINGNIC_RING;

		if (!(nic->tx_ring[last].status & RINGNIC_DD))
			break;
		dma_rmb();
		dma_unmap_sg(nic->dev, tb->sg, tb->nents, DMA_TO_DEVICE);
		tb->nents = 0;
		nic->tx_next_to_clean = (first + tb->count) % RINGNIC_RING;
		nic->tx_packets++;
		cleaned++;
	}
	return cleaned;
}

/* Driver remove: streaming buffers go back; the rings are managed (dmam_). */
static void ringnic_remove(struct ringnic *nic)
{
	for (unsigned int i = 0; i < RINGNIC_RING; i++) {
		struct ringnic_rx_buffer *b = &nic->rx_buf[i];

		if (!b->data)
			continue;
		dma_unmap_single(nic->dev, dma_unmap_addr(b, dma), RINGNIC_RXBUF, DMA_FROM_DEVICE);
		kfree(b->data);
		b->data = NULL;
	}
}
