/*
 * src/dma-iommu.h - the dma-iommu backend's hooks and its per-device state
 * (Linux's drivers/iommu/dma-iommu.c as the rest of the library sees it).
 *
 * Owns: struct dm_iommu_dev (a device's IOMMU facts and its domain) and
 * the calls core.c, policy.c and deferred.c make into iommu.c.  The ops
 * tables are in backend.h.  Never programs hardware itself: iommu.c does,
 * through the platform's IOMMU ops.
 */
#ifndef DM_DMA_IOMMU_H
#define DM_DMA_IOMMU_H

#include "context.h"

/* A device behind an IOMMU (dev->iommu; NULL: not behind one). */
struct dm_iommu_dev {
	struct dm_iommu_domain *domain;  /* shared with the domain's other devices */
	bool untrusted;                  /* sub-page buffers bounce (padding zeroed) */
	bool pci_32bit_first;            /* try a 32-bit IOVA first (cleared on a miss) */
	bool has_bypass;
	bool linear_ok;                  /* the platform allows a linear window */
	dmamap_dma_addr_t bypass_offset; /* bus = phys + offset, all RAM */
	dmamap_dma_addr_t win_base;      /* the translated window's bus range */
	uint64_t win_size;               /* 0: the whole IOVA space */
};

/* At device add: joins (or creates) the device's domain.  0 or -errno. */
int dm_iommu_attach(struct dmamap_device *dev, const struct dmamap_device_desc *desc);
/* At device remove: drains its lazy invalidations, leaves the domain. */
void dm_iommu_detach(struct dmamap_device *dev);
/* Policy for a device behind an IOMMU: sets ops, ops_name and reason. */
void dm_iommu_select(struct dmamap_device *dev);
/*
 * The deferred work (deferred.c's thread, dmamap_run_deferred): flushes
 * the domains whose queued IOVAs are due; returns how many.  *next_ns:
 * when the next is due (UINT64_MAX: none).
 */
unsigned int dm_iommu_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns);

/* The IOVA space a device's maps draw from (exhaustion keys), or NULL. */
static inline const void *dm_iommu_space(const struct dmamap_device *dev)
{
	return dev->iommu ? (const void *)dev->iommu->domain : NULL;
}

#endif /* DM_DMA_IOMMU_H */
