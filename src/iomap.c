/*
 * src/iomap.c - device registers: BAR mappings and accessors (iomap.h).
 *
 * Owns: checking a driver's MMIO requests (which BAR, which range, WC
 * allowed, accessor inside its mapping and aligned) and turning ordered
 * and relaxed accessors into the platform's calls with the right flags.
 * Must never model hardware (write-combining buffers and what the device
 * sees belong to the platform) and never touches DMA mappings.
 *
 * The ordering contract is implemented by one rule: an ordered write is
 * preceded by a write barrier on its CPU at least as strong as Linux's
 * __iowmb before writel on each architecture, and every access, ordered or relaxed, is a single platform
 * call in program order; only relaxed writes to WC mappings may be
 * merged or reordered, by the platform.
 */
#include "context.h"

#include <dmamap/iomap.h>

#include <stdatomic.h>
#include <stdlib.h>

struct dmamap_iomem {
	struct dmamap_device *dev;
	const struct dmamap_mmio_ops *ops;
	void *plat;
	void *map;                /* the platform's mapping */
	uint64_t len;
	int bar;
	bool wc;
	_Atomic uint64_t bad;     /* dropped accesses */
};

static const struct dmamap_mmio_ops *dm_mmio_ops(struct dmamap_device *dev)
{
	const struct dmamap_platform *p = &dev->ctx->plat;
	return p->ops ? p->ops->mmio : NULL;
}

static int dm_iomap(struct dmamap_device *dev, int bar, uint64_t offset, uint64_t maxlen,
		    bool wc, struct dmamap_iomem **out)
{
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!dev)
		return -EINVAL;
	const struct dmamap_mmio_ops *ops = dm_mmio_ops(dev);
	struct dmamap_ctx *ctx = dev->ctx;
	if (!ops || !dev->hw) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: iomap: the platform maps no registers for it",
		       dev->name);
		return -ENODEV;
	}
	struct dmamap_bar_info bi = { 0 };
	if (bar < 0 || ops->bar_info(ctx->plat.priv, dev->hw, bar, &bi) || !bi.size) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: iomap: BAR %d is not implemented", dev->name, bar);
		return -ENODEV;
	}
	if (wc && !(bi.flags & DMAMAP_BAR_MEM)) {
		/* Write-combining is a memory type: I/O ports have none. */
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: iomap_wc: BAR %d is an I/O-port BAR", dev->name,
		       bar);
		return -EOPNOTSUPP;
	}
	if (offset >= bi.size) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: iomap: offset 0x%llx is past BAR %d's end (0x%llx bytes)",
		       dev->name, (unsigned long long)offset, bar, (unsigned long long)bi.size);
		return -EINVAL;
	}
	uint64_t len = bi.size - offset;
	if (maxlen && maxlen < len)
		len = maxlen;
	struct dmamap_iomem *io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	*io = (struct dmamap_iomem){ .dev = dev, .ops = ops, .plat = ctx->plat.priv, .len = len,
				     .bar = bar, .wc = wc };
	int rc = ops->map_bar(io->plat, dev->hw, bar, offset, len, wc, &io->map);
	if (rc) {
		free(io);
		return rc < 0 ? rc : -EIO;
	}
	*out = io;
	return 0;
}

int dmamap_iomap_range(struct dmamap_device *dev, int bar, uint64_t offset, uint64_t maxlen,
		       struct dmamap_iomem **out)
{
	return dm_iomap(dev, bar, offset, maxlen, false, out);
}

int dmamap_iomap(struct dmamap_device *dev, int bar, uint64_t maxlen, struct dmamap_iomem **out)
{
	return dm_iomap(dev, bar, 0, maxlen, false, out);
}

int dmamap_iomap_wc_range(struct dmamap_device *dev, int bar, uint64_t offset,
			  uint64_t maxlen, struct dmamap_iomem **out)
{
	return dm_iomap(dev, bar, offset, maxlen, true, out);
}

int dmamap_iomap_wc(struct dmamap_device *dev, int bar, uint64_t maxlen,
		    struct dmamap_iomem **out)
{
	return dm_iomap(dev, bar, 0, maxlen, true, out);
}

void dmamap_iounmap(struct dmamap_iomem *io)
{
	if (!io)
		return;
	io->ops->unmap_bar(io->plat, io->map);
	free(io);
}

uint64_t dmamap_iomem_len(const struct dmamap_iomem *io)
{
	return io ? io->len : 0;
}

bool dmamap_iomem_is_wc(const struct dmamap_iomem *io)
{
	return io && io->wc;
}

uint64_t dmamap_iomem_bad_accesses(const struct dmamap_iomem *io)
{
	return io ? atomic_load_explicit(&((struct dmamap_iomem *)io)->bad,
					 memory_order_relaxed) : 0;
}

/* Inside the mapping and naturally aligned, or counted and logged. */
static bool dm_io_ok(struct dmamap_iomem *io, uint64_t off, unsigned int size)
{
	if (dm_likely(off < io->len && size <= io->len - off && !(off & (size - 1))))
		return true;
	atomic_fetch_add_explicit(&io->bad, 1, memory_order_relaxed);
	dm_log(io->dev->ctx, DMAMAP_LOG_ERR,
	       "%s: BAR %d: %u-byte access at 0x%llx dropped (mapping is 0x%llx bytes; "
	       "accesses must be naturally aligned)", io->dev->name, io->bar, size,
	       (unsigned long long)off, (unsigned long long)io->len);
	return false;
}

static void dm_io_write(struct dmamap_iomem *io, uint64_t off, uint64_t v, unsigned int size,
			bool relaxed)
{
	if (!io || !dm_io_ok(io, off, size))
		return;
	unsigned int cpu = dm_cpu();
	if (!relaxed)
		io->ops->barrier(io->plat, 'w', cpu);
	io->ops->write(io->plat, io->map, off, v, size, relaxed ? DMAMAP_MMIO_RELAXED : 0, cpu);
}

static uint64_t dm_io_read(struct dmamap_iomem *io, uint64_t off, unsigned int size,
			   bool relaxed)
{
	if (!io || !dm_io_ok(io, off, size))
		return ~0ULL >> (64 - 8 * size);
	return io->ops->read(io->plat, io->map, off, size, relaxed ? DMAMAP_MMIO_RELAXED : 0,
			     dm_cpu());
}

#define DM_IO_ACCESSORS(sfx, type, size)                                            \
	type dmamap_read##sfx(struct dmamap_iomem *io, uint64_t off)                \
	{                                                                           \
		return (type)dm_io_read(io, off, size, false);                      \
	}                                                                           \
	type dmamap_read##sfx##_relaxed(struct dmamap_iomem *io, uint64_t off)      \
	{                                                                           \
		return (type)dm_io_read(io, off, size, true);                       \
	}                                                                           \
	void dmamap_write##sfx(struct dmamap_iomem *io, uint64_t off, type v)       \
	{                                                                           \
		dm_io_write(io, off, v, size, false);                               \
	}                                                                           \
	void dmamap_write##sfx##_relaxed(struct dmamap_iomem *io, uint64_t off, type v) \
	{                                                                           \
		dm_io_write(io, off, v, size, true);                                \
	}

DM_IO_ACCESSORS(b, uint8_t, 1)
DM_IO_ACCESSORS(w, uint16_t, 2)
DM_IO_ACCESSORS(l, uint32_t, 4)
DM_IO_ACCESSORS(q, uint64_t, 8)

static void dm_barrier(struct dmamap_ctx *ctx, int kind)
{
	if (!ctx || !ctx->plat.ops || !ctx->plat.ops->mmio)
		return;
	ctx->plat.ops->mmio->barrier(ctx->plat.priv, kind, dm_cpu());
}

void dmamap_wmb(struct dmamap_ctx *ctx)
{
	dm_barrier(ctx, 'w');
}

void dmamap_rmb(struct dmamap_ctx *ctx)
{
	dm_barrier(ctx, 'r');
}

void dmamap_mb(struct dmamap_ctx *ctx)
{
	dm_barrier(ctx, 'f');
}
