/*
 * src/backend.h - the backend contract: what a DMA-mapping strategy
 * implements and how the dispatcher calls it (the counterpart of Linux's
 * include/linux/dma-map-ops.h).
 *
 * Owns: struct dm_map_ops, the error codes a backend may return, the list
 * of backends, dma-direct's entry points (the default backend) and the
 * policy call that picks a device's backend.  Never holds state.
 *
 * Adding a backend: one file that fills a struct dm_map_ops, its extern
 * below, and a branch in the policy (policy.c, or the backend's own
 * select hook) that points dev->ops at it.  A backend reads the device
 * (context.h), calls the platform through ctx->plat, bounces with
 * dm_swiotlb_map (swiotlb.h), and never counts a mapping, calls the
 * checker or applies the exhaustion policy: the dispatcher (mapping.c)
 * does those, once, for every backend.
 *
 * Errors.  Every map op returns 0 with the bus address in *dma, or one
 * of these, having mapped (and counted in any pool) nothing:
 *   -ENOMEM  out of bounce slots or IOVA space: exhaustion, the device's
 *            policy applies (exhaustion.h);
 *   -EDQUOT  the device's bounce quota would be passed: exhaustion too;
 *   -EIO     the device cannot reach the buffer and it cannot be bounced
 *            (no pool, not RAM, a pool out of reach, no frame for it);
 *   -EINVAL  the mapping is larger than a bounce can be, or refused.
 * Only the dispatcher turns a failure into DMAMAP_MAPPING_ERROR.
 */
#ifndef DM_BACKEND_H
#define DM_BACKEND_H

#include "context.h"
#include "swiotlb.h"

/* Exhaustion: the errors on which the device's exhaustion policy applies. */
static inline bool dm_err_exhausted(int err)
{
	return err == -ENOMEM || err == -EDQUOT;
}

struct dm_map_ops {
	const char *name;
	int (*map_phys)(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			enum dmamap_data_direction dir, unsigned long attrs,
			dmamap_dma_addr_t *dma);
	/* 0, or -EINVAL: refused (no such live mapping), nothing done. */
	int (*unmap_phys)(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			  enum dmamap_data_direction dir, unsigned long attrs);
	/* The number of bus segments (> 0), or a negative errno, nothing mapped. */
	int (*map_sg)(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		      enum dmamap_data_direction dir, unsigned long attrs);
	void (*unmap_sg)(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			 enum dmamap_data_direction dir, unsigned long attrs);
	void (*sync_for_cpu)(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			     enum dmamap_data_direction dir);
	void (*sync_for_device)(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
				enum dmamap_data_direction dir);
	/* Optional (NULL: dma-direct's).  The CPU address, or NULL. */
	void *(*alloc)(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
		       unsigned long attrs);
	void (*free)(struct dmamap_device *dev, size_t size, void *cpu, dmamap_dma_addr_t handle,
		     unsigned long attrs);
	/* Optional (NULL: dma-direct's); errors as map_phys. */
	int (*map_resource)(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			    enum dmamap_data_direction dir, unsigned long attrs,
			    dmamap_dma_addr_t *dma);
	void (*unmap_resource)(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir, unsigned long attrs);
	/* Optional (NULL: dma-direct's rule): 1 when the mask can be used. */
	int (*dma_supported)(struct dmamap_device *dev, uint64_t mask);
	/* Optional (NULL: dma-direct's). */
	size_t (*max_mapping_size)(struct dmamap_device *dev);
	size_t (*opt_mapping_size)(struct dmamap_device *dev);
};

/* ---- the backends --------------------------------------------------------------- */

/*
 * dma-direct (direct.c) has no table: a device with ops == NULL takes it
 * inline, as Linux's dma_map_direct(), the dispatcher calling the
 * functions below with no indirect call.  A backend that streams through
 * dma-direct (the IOMMU's bypass window) puts DM_DIRECT_STREAMING_OPS in
 * its table.
 */
extern const struct dm_map_ops dm_iommu_ops;        /* translated IOVAs: "iommu" (iommu.c) */
extern const struct dm_map_ops dm_iommu_bypass_ops; /* a direct window: "iommu-bypass" (iommu.c) */
/* "swiotlb-xen" (xen.c): own frames 1:1 (arm), or every frame through the p2m. */
extern const struct dm_map_ops dm_xen_ops_one_to_one;
extern const struct dm_map_ops dm_xen_ops_p2m;

/* dma-direct's slow path: bounce (not capable, or forced). */
int dm_direct_bounce(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
		     enum dmamap_data_direction dir, unsigned long attrs, dmamap_dma_addr_t *dma);

/*
 * Linux's dma_direct_map_phys, inline in the dispatcher: one capable
 * check, one offset, cache maintenance only for a non-coherent device.
 * always_inline: the dispatcher's copy must not become a call (LTO made
 * one of it once the ops tables took its address).
 */
static inline __attribute__((always_inline)) int
dm_direct_map_inline(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
		     enum dmamap_data_direction dir, unsigned long attrs, dmamap_dma_addr_t *dma)
{
	dmamap_dma_addr_t a = dm_phys_to_dma(dev, phys);
	if (dm_unlikely(dev->force_bounce || !dm_capable(dev, a, size, dev->direct_limit)))
		return dm_direct_bounce(dev, phys, size, dir, attrs, dma);
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
		dm_cache_for_device(dev->ctx, phys, size);
	*dma = a;
	return 0;
}
static inline int dm_direct_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys,
				     size_t size, enum dmamap_data_direction dir,
				     unsigned long attrs, dmamap_dma_addr_t *dma)
{
	return dm_direct_map_inline(dev, phys, size, dir, attrs, dma);
}

/* dma-direct's unmap of a bounced mapping (direct.c): phys is in dev->swiotlb. */
int dm_direct_unmap_bounced(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			    enum dmamap_data_direction dir, unsigned long attrs);

/*
 * Linux's dma_direct_unmap_phys, inline in the dispatcher: a mapping that
 * did not bounce (its address is not in the device's pool: one inline
 * range test) has work only on a non-coherent device.
 */
static inline __attribute__((always_inline)) int
dm_direct_unmap_inline(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
		       enum dmamap_data_direction dir, unsigned long attrs)
{
	dmamap_phys_addr_t phys = dm_dma_to_phys(dev, addr);
	if (dm_unlikely(dm_swiotlb_contains_inline(dev->swiotlb, phys)))
		return dm_direct_unmap_bounced(dev, phys, size, dir, attrs);
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
		dm_cache_for_cpu(dev->ctx, phys, size, dir);
	return 0;
}
int dm_direct_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			 enum dmamap_data_direction dir, unsigned long attrs);
int dm_direct_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		     enum dmamap_data_direction dir, unsigned long attrs);
void dm_direct_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			enum dmamap_data_direction dir, unsigned long attrs);
void dm_direct_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			    enum dmamap_data_direction dir);
void dm_direct_sync_for_device(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir);
/* coherent_mapping false: dma_alloc_noncoherent's memory (cacheable). */
void *dm_direct_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
		      unsigned long attrs, bool coherent_mapping);
void dm_direct_free(struct dmamap_device *dev, size_t size, void *cpu, dmamap_dma_addr_t handle,
		    unsigned long attrs, bool coherent_mapping);
int dm_direct_map_resource(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			   enum dmamap_data_direction dir, unsigned long attrs,
			   dmamap_dma_addr_t *dma);
size_t dm_direct_max_mapping_size(struct dmamap_device *dev);
int dm_direct_supported(struct dmamap_device *dev, uint64_t mask);
uint64_t dm_direct_required_mask(struct dmamap_device *dev);

#define DM_DIRECT_STREAMING_OPS                          \
	.map_phys = dm_direct_map_phys,                  \
	.unmap_phys = dm_direct_unmap_phys,              \
	.map_sg = dm_direct_map_sg,                      \
	.unmap_sg = dm_direct_unmap_sg,                  \
	.sync_for_cpu = dm_direct_sync_for_cpu,          \
	.sync_for_device = dm_direct_sync_for_device

/* The device's backend for a single map: inline dma-direct or its ops. */
static inline __attribute__((always_inline)) int dm_backend_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys,
				      size_t size, enum dmamap_data_direction dir,
				      unsigned long attrs, dmamap_dma_addr_t *dma)
{
	if (dm_likely(!dev->ops))
		return dm_direct_map_inline(dev, phys, size, dir, attrs, dma);
	return dev->ops->map_phys(dev, phys, size, dir, attrs, dma);
}

/* The device's backend for a single unmap: inline dma-direct or its ops. */
static inline __attribute__((always_inline)) int dm_backend_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr,
					size_t size, enum dmamap_data_direction dir,
					unsigned long attrs)
{
	if (dm_likely(!dev->ops))
		return dm_direct_unmap_inline(dev, addr, size, dir, attrs);
	return dev->ops->unmap_phys(dev, addr, size, dir, attrs);
}

/* ---- policy (policy.c): which backend a device gets, and why ------------------------ */

/*
 * Chooses ops for the device given its (already validated) streaming
 * mask.  Fills the device's ops, ops_name, reason, force_bounce, swiotlb.
 */
void dm_policy_select(struct dmamap_device *dev);

#endif /* DM_BACKEND_H */
