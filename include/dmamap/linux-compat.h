/*
 * dmamap/linux-compat.h - Linux's DMA API names over libdmamap, so the DMA
 * calls of a Linux driver compile unchanged.
 *
 * Owns: name mapping only (static inline wrappers, so arguments are type
 * checked).  Must never add behaviour.  A driver gets its struct device *
 * from dmamap_linux_dev(); struct device and struct page stay incomplete
 * types (a driver only holds pointers to them).
 */
#ifndef DMAMAP_LINUX_COMPAT_H
#define DMAMAP_LINUX_COMPAT_H

#include <dmamap/dma.h>
#include <errno.h>

typedef dmamap_dma_addr_t dma_addr_t;
typedef dmamap_phys_addr_t phys_addr_t;
typedef unsigned int gfp_t;
typedef uint64_t u64;
typedef uint32_t u32;

#define GFP_KERNEL 0u
#define GFP_ATOMIC 0u
#define GFP_NOWAIT 0u
#define GFP_DMA 0u
#define GFP_DMA32 0u
#define __GFP_ZERO 0u
#define __GFP_NOWARN 0u

#define DMA_MAPPING_ERROR DMAMAP_MAPPING_ERROR
#define DMA_BIT_MASK(n) DMAMAP_BIT_MASK(n)
#define PAGE_SIZE DMAMAP_PAGE_SIZE
#define PAGE_SHIFT DMAMAP_PAGE_SHIFT

#define DMA_ATTR_WEAK_ORDERING DMAMAP_ATTR_WEAK_ORDERING
#define DMA_ATTR_WRITE_COMBINE DMAMAP_ATTR_WRITE_COMBINE
#define DMA_ATTR_NO_KERNEL_MAPPING DMAMAP_ATTR_NO_KERNEL_MAPPING
#define DMA_ATTR_SKIP_CPU_SYNC DMAMAP_ATTR_SKIP_CPU_SYNC
#define DMA_ATTR_FORCE_CONTIGUOUS DMAMAP_ATTR_FORCE_CONTIGUOUS
#define DMA_ATTR_ALLOC_SINGLE_PAGES DMAMAP_ATTR_ALLOC_SINGLE_PAGES
#define DMA_ATTR_NO_WARN DMAMAP_ATTR_NO_WARN
#define DMA_ATTR_PRIVILEGED DMAMAP_ATTR_PRIVILEGED

enum dma_data_direction {
	DMA_BIDIRECTIONAL = DMAMAP_BIDIRECTIONAL,
	DMA_TO_DEVICE = DMAMAP_TO_DEVICE,
	DMA_FROM_DEVICE = DMAMAP_FROM_DEVICE,
	DMA_NONE = DMAMAP_NONE,
};

struct device;
struct page;
struct dma_pool;
#define scatterlist dmamap_sg
#define sg_table dmamap_sg_table

static inline struct device *dmamap_linux_dev(struct dmamap_device *d)
{
	return (struct device *)(void *)d;
}

static inline struct dmamap_device *dmamap__dev(struct device *d)
{
	return (struct dmamap_device *)(void *)d;
}

#define DM__DIR(d) ((enum dmamap_data_direction)(d))

static inline struct page *virt_to_page(const void *p)
{
	return (struct page *)(void *)dmamap_virt_to_page(p);
}
static inline void *page_address(const struct page *pg)
{
	return dmamap_page_address((const struct dmamap_page *)(const void *)pg);
}

static inline dma_addr_t dma_map_single_attrs(struct device *dev, void *ptr, size_t size,
					      enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_single_attrs(dmamap__dev(dev), ptr, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_single_attrs(struct device *dev, dma_addr_t addr, size_t size,
					  enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_single_attrs(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline dma_addr_t dma_map_single(struct device *dev, void *ptr, size_t size,
					enum dma_data_direction dir)
{
	return dma_map_single_attrs(dev, ptr, size, dir, 0);
}
static inline void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
				    enum dma_data_direction dir)
{
	dma_unmap_single_attrs(dev, addr, size, dir, 0);
}
static inline dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page,
					    size_t offset, size_t size,
					    enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_page_attrs(dmamap__dev(dev), (struct dmamap_page *)(void *)page,
				     offset, size, DM__DIR(dir), attrs);
}
static inline dma_addr_t dma_map_page(struct device *dev, struct page *page, size_t offset,
				      size_t size, enum dma_data_direction dir)
{
	return dma_map_page_attrs(dev, page, offset, size, dir, 0);
}
static inline void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
					enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_page_attrs(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
				  enum dma_data_direction dir)
{
	dma_unmap_page_attrs(dev, addr, size, dir, 0);
}
static inline dma_addr_t dma_map_resource(struct device *dev, phys_addr_t phys, size_t size,
					  enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_resource(dmamap__dev(dev), phys, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_resource(struct device *dev, dma_addr_t addr, size_t size,
				      enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_resource(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline int dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return dmamap_mapping_error(dmamap__dev(dev), addr);
}

/* scatterlists */
static inline void sg_init_table(struct scatterlist *sg, unsigned int n)
{
	dmamap_sg_init_table(sg, n);
}
static inline void sg_init_one(struct scatterlist *sg, void *buf, unsigned int len)
{
	dmamap_sg_init_one(sg, buf, len);
}
static inline void sg_set_buf(struct scatterlist *sg, void *buf, unsigned int len)
{
	dmamap_sg_set_buf(sg, buf, len);
}
static inline void sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			       unsigned int offset)
{
	dmamap_sg_set_page(sg, (struct dmamap_page *)(void *)page, len, offset);
}
static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	return dmamap_sg_next(sg);
}
static inline void *sg_virt(struct scatterlist *sg)
{
	return sg->cpu;
}
#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)
#define for_each_sg(sglist, sg, nr, __i) \
	for ((__i) = 0, (sg) = (sglist); (__i) < (nr); (__i)++, (sg) = sg_next(sg))
#define for_each_sgtable_dma_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->nents, i)
static inline int sg_alloc_table(struct sg_table *t, unsigned int n, gfp_t gfp)
{
	(void)gfp;
	return dmamap_sg_alloc_table(t, n);
}
static inline void sg_free_table(struct sg_table *t)
{
	dmamap_sg_free_table(t);
}
static inline int dma_map_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
				   enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_sg_attrs(dmamap__dev(dev), sg, nents, DM__DIR(dir), attrs);
}
static inline int dma_map_sg(struct device *dev, struct scatterlist *sg, int nents,
			     enum dma_data_direction dir)
{
	return dma_map_sg_attrs(dev, sg, nents, dir, 0);
}
static inline void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
				      enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_sg_attrs(dmamap__dev(dev), sg, nents, DM__DIR(dir), attrs);
}
static inline void dma_unmap_sg(struct device *dev, struct scatterlist *sg, int nents,
				enum dma_data_direction dir)
{
	dma_unmap_sg_attrs(dev, sg, nents, dir, 0);
}
static inline int dma_map_sgtable(struct device *dev, struct sg_table *sgt,
				  enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_sgtable(dmamap__dev(dev), sgt, DM__DIR(dir), attrs);
}
static inline void dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				     enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_sgtable(dmamap__dev(dev), sgt, DM__DIR(dir), attrs);
}

/* syncs */
static inline void dma_sync_single_for_cpu(struct device *dev, dma_addr_t a, size_t s,
					   enum dma_data_direction dir)
{
	dmamap_sync_single_for_cpu(dmamap__dev(dev), a, s, DM__DIR(dir));
}
static inline void dma_sync_single_for_device(struct device *dev, dma_addr_t a, size_t s,
					      enum dma_data_direction dir)
{
	dmamap_sync_single_for_device(dmamap__dev(dev), a, s, DM__DIR(dir));
}
static inline void dma_sync_single_range_for_cpu(struct device *dev, dma_addr_t a,
						 unsigned long off, size_t s,
						 enum dma_data_direction dir)
{
	dmamap_sync_single_range_for_cpu(dmamap__dev(dev), a, off, s, DM__DIR(dir));
}
static inline void dma_sync_single_range_for_device(struct device *dev, dma_addr_t a,
						    unsigned long off, size_t s,
						    enum dma_data_direction dir)
{
	dmamap_sync_single_range_for_device(dmamap__dev(dev), a, off, s, DM__DIR(dir));
}
static inline void dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg, int n,
				       enum dma_data_direction dir)
{
	dmamap_sync_sg_for_cpu(dmamap__dev(dev), sg, n, DM__DIR(dir));
}
static inline void dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg, int n,
					  enum dma_data_direction dir)
{
	dmamap_sync_sg_for_device(dmamap__dev(dev), sg, n, DM__DIR(dir));
}
static inline void dma_sync_sgtable_for_cpu(struct device *dev, struct sg_table *sgt,
					    enum dma_data_direction dir)
{
	dmamap_sync_sgtable_for_cpu(dmamap__dev(dev), sgt, DM__DIR(dir));
}
static inline void dma_sync_sgtable_for_device(struct device *dev, struct sg_table *sgt,
					       enum dma_data_direction dir)
{
	dmamap_sync_sgtable_for_device(dmamap__dev(dev), sgt, DM__DIR(dir));
}

/* allocations */
static inline void *dma_alloc_attrs(struct device *dev, size_t size, dma_addr_t *handle,
				    gfp_t gfp, unsigned long attrs)
{
	(void)gfp;
	return dmamap_alloc_attrs(dmamap__dev(dev), size, handle, attrs);
}
static inline void *dma_alloc_coherent(struct device *dev, size_t size, dma_addr_t *handle,
				       gfp_t gfp)
{
	return dma_alloc_attrs(dev, size, handle, gfp, 0);
}
static inline void dma_free_attrs(struct device *dev, size_t size, void *cpu,
				  dma_addr_t handle, unsigned long attrs)
{
	dmamap_free_attrs(dmamap__dev(dev), size, cpu, handle, attrs);
}
static inline void dma_free_coherent(struct device *dev, size_t size, void *cpu,
				     dma_addr_t handle)
{
	dma_free_attrs(dev, size, cpu, handle, 0);
}
static inline void *dma_alloc_noncoherent(struct device *dev, size_t size, dma_addr_t *handle,
					  enum dma_data_direction dir, gfp_t gfp)
{
	(void)gfp;
	return dmamap_alloc_noncoherent(dmamap__dev(dev), size, handle, DM__DIR(dir));
}
static inline void dma_free_noncoherent(struct device *dev, size_t size, void *cpu,
					dma_addr_t handle, enum dma_data_direction dir)
{
	dmamap_free_noncoherent(dmamap__dev(dev), size, cpu, handle, DM__DIR(dir));
}

/* masks and limits */
static inline int dma_supported(struct device *dev, u64 mask)
{
	return dmamap_supported(dmamap__dev(dev), mask);
}
static inline int dma_set_mask(struct device *dev, u64 mask)
{
	return dmamap_set_mask(dmamap__dev(dev), mask);
}
static inline int dma_set_coherent_mask(struct device *dev, u64 mask)
{
	return dmamap_set_coherent_mask(dmamap__dev(dev), mask);
}
static inline int dma_set_mask_and_coherent(struct device *dev, u64 mask)
{
	return dmamap_set_mask_and_coherent(dmamap__dev(dev), mask);
}
static inline u64 dma_get_mask(struct device *dev)
{
	return dmamap_get_mask(dmamap__dev(dev));
}
static inline u64 dma_get_required_mask(struct device *dev)
{
	return dmamap_get_required_mask(dmamap__dev(dev));
}
static inline size_t dma_max_mapping_size(struct device *dev)
{
	return dmamap_max_mapping_size(dmamap__dev(dev));
}
static inline size_t dma_opt_mapping_size(struct device *dev)
{
	return dmamap_opt_mapping_size(dmamap__dev(dev));
}
static inline int dma_addressing_limited(struct device *dev)
{
	return dmamap_addressing_limited(dmamap__dev(dev));
}
static inline int dma_need_sync(struct device *dev, dma_addr_t a)
{
	return dmamap_need_sync(dmamap__dev(dev), a);
}
static inline int dma_set_max_seg_size(struct device *dev, unsigned int size)
{
	return dmamap_set_max_seg_size(dmamap__dev(dev), size);
}
static inline unsigned int dma_get_max_seg_size(struct device *dev)
{
	return dmamap_get_max_seg_size(dmamap__dev(dev));
}
static inline int dma_set_seg_boundary(struct device *dev, unsigned long mask)
{
	return dmamap_set_seg_boundary(dmamap__dev(dev), mask);
}
static inline unsigned long dma_get_seg_boundary(struct device *dev)
{
	return (unsigned long)dmamap_get_seg_boundary(dmamap__dev(dev));
}
static inline void dma_set_min_align_mask(struct device *dev, unsigned int mask)
{
	(void)dmamap_set_min_align_mask(dmamap__dev(dev), mask);
}
static inline unsigned int dma_get_min_align_mask(struct device *dev)
{
	return dmamap_get_min_align_mask(dmamap__dev(dev));
}

/* DMA pools */
static inline struct dma_pool *dma_pool_create(const char *name, struct device *dev,
					       size_t size, size_t align, size_t boundary)
{
	return (struct dma_pool *)(void *)dmamap_pool_create(name, dmamap__dev(dev), size,
							     align, boundary);
}
static inline void *dma_pool_alloc(struct dma_pool *pool, gfp_t gfp, dma_addr_t *handle)
{
	(void)gfp;
	return dmamap_pool_alloc((struct dmamap_pool *)(void *)pool, handle);
}
static inline void *dma_pool_zalloc(struct dma_pool *pool, gfp_t gfp, dma_addr_t *handle)
{
	(void)gfp;
	return dmamap_pool_zalloc((struct dmamap_pool *)(void *)pool, handle);
}
static inline void dma_pool_free(struct dma_pool *pool, void *vaddr, dma_addr_t handle)
{
	(void)dmamap_pool_free((struct dmamap_pool *)(void *)pool, vaddr, handle);
}
/* Linux's returns nothing; a refusal (-EBUSY: busy blocks) is logged by the library. */
static inline void dma_pool_destroy(struct dma_pool *pool)
{
	(void)dmamap_pool_destroy((struct dmamap_pool *)(void *)pool);
}

#endif /* DMAMAP_LINUX_COMPAT_H */
