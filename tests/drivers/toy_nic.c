/*
 * tests/drivers/toy_nic.c - a driver-shaped file written only with Linux's
 * DMA API names: it must compile unchanged against linux-compat.h.
 * It is included first by test_linux_compat.c, before any other header,
 * so nothing but linux-compat.h is visible to it.
 */
#include <dmamap/linux-compat.h>

#define TOY_RING 8
#define TOY_BUF 1536

struct toy_desc {
	u64 addr;
	u32 len;
	u32 flags;
};

struct toy_nic {
	struct device *dev;
	struct toy_desc *ring;
	dma_addr_t ring_dma;
	struct dma_pool *pool;
	void *bufs[TOY_RING];
	dma_addr_t buf_dma[TOY_RING];
};

static int toy_probe(struct toy_nic *nic, struct device *dev, int addr_bits)
{
	nic->dev = dev;
	if (dma_set_mask_and_coherent(dev, DMA_BIT_MASK(addr_bits)))
		return -EIO;
	nic->ring = dma_alloc_coherent(dev, TOY_RING * sizeof(*nic->ring), &nic->ring_dma,
				       GFP_KERNEL);
	if (!nic->ring)
		return -ENOMEM;
	nic->pool = dma_pool_create("toy-hdr", dev, 64, 64, 4096);
	if (!nic->pool) {
		dma_free_coherent(dev, TOY_RING * sizeof(*nic->ring), nic->ring, nic->ring_dma);
		return -ENOMEM;
	}
	return 0;
}

/* Posts receive buffers: map each FROM_DEVICE and write a descriptor. */
static int toy_post_rx(struct toy_nic *nic, void *bufs[TOY_RING])
{
	for (int i = 0; i < TOY_RING; i++) {
		nic->bufs[i] = bufs[i];
		nic->buf_dma[i] = dma_map_single(nic->dev, bufs[i], TOY_BUF, DMA_FROM_DEVICE);
		if (dma_mapping_error(nic->dev, nic->buf_dma[i])) {
			while (--i >= 0)
				dma_unmap_single(nic->dev, nic->buf_dma[i], TOY_BUF, DMA_FROM_DEVICE);
			return -ENOMEM;
		}
		nic->ring[i].addr = nic->buf_dma[i];
		nic->ring[i].len = TOY_BUF;
		nic->ring[i].flags = 1;
	}
	return 0;
}

/* The device filled slot i: hand it to the CPU. */
static void *toy_rx_complete(struct toy_nic *nic, int i)
{
	dma_sync_single_for_cpu(nic->dev, nic->buf_dma[i], TOY_BUF, DMA_FROM_DEVICE);
	dma_unmap_single(nic->dev, nic->buf_dma[i], TOY_BUF, DMA_FROM_DEVICE);
	return nic->bufs[i];
}

/* Transmits a scatterlist of two fragments. */
static int toy_xmit_sg(struct toy_nic *nic, struct scatterlist sg[2], void *hdr, void *payload,
		       unsigned int plen)
{
	sg_init_table(sg, 2);
	sg_set_buf(&sg[0], hdr, 64);
	sg_set_page(&sg[1], virt_to_page(payload),
		    plen, (unsigned int)((char *)payload - (char *)page_address(virt_to_page(payload))));
	int n = dma_map_sg(nic->dev, sg, 2, DMA_TO_DEVICE);
	if (n == 0)
		return -EIO;
	struct scatterlist *s;
	int i;
	for_each_sg(sg, s, n, i) {
		nic->ring[i].addr = sg_dma_address(s);
		nic->ring[i].len = sg_dma_len(s);
	}
	return n;
}

static void toy_remove(struct toy_nic *nic)
{
	dma_pool_destroy(nic->pool);
	dma_free_coherent(nic->dev, TOY_RING * sizeof(*nic->ring), nic->ring, nic->ring_dma);
}
