/*
 * dmamap/iomap.h - device registers: mapping BARs and the accessors.
 *
 * Owns: the driver's view of MMIO (the pci_iomap / ioremap_wc family and
 * readl / writel / *_relaxed / barriers).  Mechanism is the platform's
 * (struct dmamap_mmio_ops in platform.h); this layer checks what a driver
 * asks for and states what each accessor promises.
 *
 * The guarantees (what a device observes, per CPU):
 *
 *  - Ordered accessors (dmamap_write{b,w,l,q}, dmamap_read{b,w,l,q}) are
 *    never combined and never reordered: before an ordered write, every
 *    earlier write from this CPU (normal memory such as DMA buffers and
 *    descriptors, and every earlier MMIO write, write-combined ones
 *    included) has reached its destination; the ordered access itself
 *    reaches the device alone, in program order.  "Write descriptor
 *    memory, then writel(doorbell)" is always safe.
 *  - Relaxed accessors (*_relaxed) on an uncached mapping reach the
 *    device in program order with respect to other accesses to the same
 *    mapping, but imply no barrier against normal memory.
 *  - Relaxed writes to a write-combining mapping may be merged with other
 *    writes to the same 64-byte line and may reach the device in any
 *    order, until a write or full barrier (dmamap_wmb / dmamap_mb), an
 *    ordered access, or any read of the same CPU drains them.  "write;
 *    wmb; read" makes a write visible and waits for it (seed 004).
 *  - dmamap_rmb orders reads only; it does not drain write combining.
 *
 * Errors: mapping calls return 0 or a negative errno and never print.  An
 * accessor outside its mapping or misaligned is dropped (reads return all
 * ones, as a PCI master abort does) and reported through the log.
 */
#ifndef DMAMAP_IOMAP_H
#define DMAMAP_IOMAP_H

#include <dmamap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct dmamap_device;
struct dmamap_ctx;
struct dmamap_iomem;

/*
 * Maps [offset, offset + maxlen) of BAR `bar` (maxlen 0: to the BAR's
 * end; a maxlen past the end is cut at the end, as Linux's pci_iomap_range
 * does).  0 and *out, or: -ENODEV (no such BAR, or the platform has no
 * MMIO), -EINVAL (offset at or past the BAR's end), -EOPNOTSUPP
 * (write-combining asked of an I/O-port BAR), -ENOMEM.
 */
int dmamap_iomap_range(struct dmamap_device *dev, int bar, uint64_t offset,
		       uint64_t maxlen, struct dmamap_iomem **out);
int dmamap_iomap(struct dmamap_device *dev, int bar, uint64_t maxlen,
		 struct dmamap_iomem **out);
int dmamap_iomap_wc_range(struct dmamap_device *dev, int bar,
			  uint64_t offset, uint64_t maxlen,
			  struct dmamap_iomem **out);
int dmamap_iomap_wc(struct dmamap_device *dev, int bar, uint64_t maxlen,
		    struct dmamap_iomem **out);
void dmamap_iounmap(struct dmamap_iomem *io);

/* Bytes the mapping covers, and whether it is write-combining. */
uint64_t dmamap_iomem_len(const struct dmamap_iomem *io);
bool dmamap_iomem_is_wc(const struct dmamap_iomem *io);
/* Accesses dropped for being outside the mapping or misaligned. */
uint64_t dmamap_iomem_bad_accesses(const struct dmamap_iomem *io);

/* Ordered accessors. */
uint8_t dmamap_readb(struct dmamap_iomem *io, uint64_t off);
uint16_t dmamap_readw(struct dmamap_iomem *io, uint64_t off);
uint32_t dmamap_readl(struct dmamap_iomem *io, uint64_t off);
uint64_t dmamap_readq(struct dmamap_iomem *io, uint64_t off);
void dmamap_writeb(struct dmamap_iomem *io, uint64_t off, uint8_t v);
void dmamap_writew(struct dmamap_iomem *io, uint64_t off, uint16_t v);
void dmamap_writel(struct dmamap_iomem *io, uint64_t off, uint32_t v);
void dmamap_writeq(struct dmamap_iomem *io, uint64_t off, uint64_t v);

/* Relaxed accessors. */
uint8_t dmamap_readb_relaxed(struct dmamap_iomem *io, uint64_t off);
uint16_t dmamap_readw_relaxed(struct dmamap_iomem *io, uint64_t off);
uint32_t dmamap_readl_relaxed(struct dmamap_iomem *io, uint64_t off);
uint64_t dmamap_readq_relaxed(struct dmamap_iomem *io, uint64_t off);
void dmamap_writeb_relaxed(struct dmamap_iomem *io, uint64_t off, uint8_t v);
void dmamap_writew_relaxed(struct dmamap_iomem *io, uint64_t off, uint16_t v);
void dmamap_writel_relaxed(struct dmamap_iomem *io, uint64_t off, uint32_t v);
void dmamap_writeq_relaxed(struct dmamap_iomem *io, uint64_t off, uint64_t v);

/* Barriers of the calling thread's CPU, on a context's platform. */
void dmamap_wmb(struct dmamap_ctx *ctx);
void dmamap_rmb(struct dmamap_ctx *ctx);
void dmamap_mb(struct dmamap_ctx *ctx);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_IOMAP_H */
