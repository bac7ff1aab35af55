/*
 * examples/driver-kit/admmc.c - an example SD/MMC host driver's DMA code,
 * written only with Linux names and idioms: an ADMA2-style descriptor
 * table in coherent memory built from a mapped scatterlist, and, for a
 * request whose buffers the engine cannot take (an address or length not
 * 4-byte aligned), a bounce buffer mapped once at probe
 * (DMA_BIDIRECTIONAL) and filled or drained with sg_copy_to_buffer /
 * sg_copy_from_buffer around dma_sync_single_for_device / _for_cpu.
 *
 * Owns: the driver only; the card and the engine are the test's, the MMC
 * core's request structure is the small struct below.  Must never call a
 * dmamap_ function.  `bug_no_bounce_sync` is the deliberately broken
 * variant: a bounced read forgets dma_sync_single_for_cpu before copying
 * out, which the checker must report.
 */
#include <dmamap/sim/kit.h>

#define ADMMC_MAX_SEGS 32
#define ADMMC_BOUNCE_SIZE (64 * 1024)
#define ADMMC_ALIGN 4

/* ADMA2 attribute bits. */
#define ADMA2_VALID 0x1
#define ADMA2_END 0x2
#define ADMA2_TRAN 0x20

struct admmc_desc {
	__le16 attr;
	__le16 len;  /* 0 means 65536 */
	__le32 addr; /* 32-bit ADMA2 */
};

/* The MMC core's view of one data transfer (struct mmc_data's DMA part). */
#define MMC_DATA_WRITE 0x100
#define MMC_DATA_READ 0x200
struct mmc_data {
	unsigned int blksz, blocks, flags;
	struct scatterlist *sg;
	unsigned int sg_len;
	unsigned int bytes_xfered;
	int error;
};

struct admmc_host {
	struct device *dev;
	struct admmc_desc *adma_table;
	dma_addr_t adma_addr;
	void *bounce_buffer;
	dma_addr_t bounce_addr;
	int sg_count;      /* mapped bus segments, or 0 when bounced */
	bool bounced;
	bool bug_no_bounce_sync;
	u64 bounced_requests;
};

static enum dma_data_direction admmc_dir(const struct mmc_data *data)
{
	return data->flags & MMC_DATA_WRITE ? DMA_TO_DEVICE : DMA_FROM_DEVICE;
}

static int admmc_probe(struct admmc_host *host, struct device *dev)
{
	int err;

	memset(host, 0, sizeof(*host));
	host->dev = dev;
	/* A 32-bit ADMA2 engine. */
	err = dma_set_mask_and_coherent(dev, DMA_BIT_MASK(32));
	if (err)
		return err;
	dma_set_max_seg_size(dev, 65536);
	host->adma_table = dmam_alloc_coherent(dev, ADMMC_MAX_SEGS * sizeof(struct admmc_desc),
					       &host->adma_addr, GFP_KERNEL);
	if (!host->adma_table)
		return -ENOMEM;
	host->bounce_buffer = kmalloc(ADMMC_BOUNCE_SIZE, GFP_KERNEL);
	if (!host->bounce_buffer)
		return -ENOMEM;
	host->bounce_addr = dma_map_single(dev, host->bounce_buffer, ADMMC_BOUNCE_SIZE,
					   DMA_BIDIRECTIONAL);
	if (dma_mapping_error(dev, host->bounce_addr)) {
		kfree(host->bounce_buffer);
		host->bounce_buffer = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void admmc_remove(struct admmc_host *host)
{
	if (host->bounce_buffer) {
		dma_unmap_single(host->dev, host->bounce_addr, ADMMC_BOUNCE_SIZE, DMA_BIDIRECTIONAL);
		kfree(host->bounce_buffer);
		host->bounce_buffer = NULL;
	}
}

static void admmc_set_desc(struct admmc_desc *d, dma_addr_t addr, unsigned int len, bool end)
{
	d->addr = cpu_to_le32(lower_32_bits(addr));
	d->len = cpu_to_le16((u16)(len & 0xffff));
	d->attr = cpu_to_le16(ADMA2_VALID | ADMA2_TRAN | (end ? ADMA2_END : 0));
}

/* True when the engine can take every entry as it is. */
static bool admmc_sg_aligned(struct mmc_data *data)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(data->sg, sg, data->sg_len, i)
		if (!IS_ALIGNED(sg->offset, ADMMC_ALIGN) || !IS_ALIGNED(sg->length, ADMMC_ALIGN))
			return false;
	return true;
}

/* Prepares the descriptor table for data; 0 or a negative errno. */
static int admmc_prepare_data(struct admmc_host *host, struct mmc_data *data)
{
	unsigned int len = data->blksz * data->blocks;
	struct scatterlist *sg;
	int i;

	if (sg_nents_for_len(data->sg, len) < 0)
		return -EINVAL;
	host->bounced = !admmc_sg_aligned(data);
	if (host->bounced) {
		if (len > ADMMC_BOUNCE_SIZE)
			return -EINVAL;
		if (data->flags & MMC_DATA_WRITE) {
			sg_copy_to_buffer(data->sg, data->sg_len, host->bounce_buffer, len);
			dma_sync_single_for_device(host->dev, host->bounce_addr, len, DMA_TO_DEVICE);
		} else {
			/* The device owns the buffer until the read completes. */
			dma_sync_single_for_device(host->dev, host->bounce_addr, len,
						   DMA_FROM_DEVICE);
		}
		for (unsigned int off = 0, k = 0; off < len; off += 65536, k++) {
			unsigned int chunk = len - off < 65536 ? len - off : 65536;
			admmc_set_desc(&host->adma_table[k], host->bounce_addr + off, chunk,
				       off + chunk == len);
		}
		host->sg_count = 0;
		host->bounced_requests++;
	} else {
		host->sg_count = dma_map_sg(host->dev, data->sg, data->sg_len, admmc_dir(data));
		if (!host->sg_count)
			return -ENOMEM;
		if (host->sg_count > ADMMC_MAX_SEGS) {
			dma_unmap_sg(host->dev, data->sg, data->sg_len, admmc_dir(data));
			return -EINVAL;
		}
		for_each_sg(data->sg, sg, host->sg_count, i)
			admmc_set_desc(&host->adma_table[i], sg_dma_address(sg), sg_dma_len(sg),
				       i == host->sg_count - 1);
	}
	/* The table is in memory before the engine is started (a register write). */
	wmb();
	return 0;
}

/* The transfer finished (the interrupt): give the data to the MMC core. */
static void admmc_finish_data(struct admmc_host *host, struct mmc_data *data, int error)
{
	unsigned int len = data->blksz * data->blocks;

	if (host->bounced) {
		if (!error && (data->flags & MMC_DATA_READ)) {
			if (!host->bug_no_bounce_sync)
				dma_sync_single_for_cpu(host->dev, host->bounce_addr, len,
							DMA_FROM_DEVICE);
			sg_copy_from_buffer(data->sg, data->sg_len, host->bounce_buffer, len);
		}
	} else {
		dma_unmap_sg(host->dev, data->sg, data->sg_len, admmc_dir(data));
	}
	data->error = error;
	data->bytes_xfered = error ? 0 : len;
}
