/*
 * dmamap/dma.h - the driver API: what a device driver calls.
 *
 * Owns: the Linux-shaped DMA mapping calls under the dmamap_ prefix.
 * Drivers include only this header (or linux-compat.h).  It must never
 * expose backend or platform internals.
 *
 * Return rules (stated once, true for every call below):
 *  - map calls returning dmamap_dma_addr_t return DMAMAP_MAPPING_ERROR on
 *    failure; check with dmamap_mapping_error().
 *  - dmamap_map_sg returns the number of bus segments (> 0) or 0 on
 *    failure; never < 0 (Linux's rule).
 *  - dmamap_map_sgtable returns 0, -EINVAL (bad arguments), -ENOMEM (bounce
 *    pool or IOVA space exhausted: retrying later may succeed) or -EIO (the
 *    device cannot reach the memory and nothing can bounce it).
 *  - int-returning calls return 0 or a negative errno.
 *  - nothing here exits or prints; warnings go to the context's log
 *    callback, if any.
 */
#ifndef DMAMAP_DMA_H
#define DMAMAP_DMA_H

#include <dmamap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is its ABI. */
#pragma GCC visibility push(default)

/* ---- pages --------------------------------------------------------- */

/*
 * A page handle is the CPU address of a page-aligned page (the linear
 * map).  It exists so Linux's dma_map_page(dev, page, offset, ...) shape
 * compiles unchanged.
 */
struct dmamap_page;

static inline struct dmamap_page *dmamap_virt_to_page(const void *cpu)
{
	return (struct dmamap_page *)((uintptr_t)cpu &
				      ~(uintptr_t)(DMAMAP_PAGE_SIZE - 1));
}

static inline void *dmamap_page_address(const struct dmamap_page *page)
{
	return (void *)(uintptr_t)page;
}

/* ---- streaming mappings ------------------------------------------- */

dmamap_dma_addr_t dmamap_map_single_attrs(struct dmamap_device *dev,
					  void *cpu, size_t size,
					  enum dmamap_data_direction dir,
					  unsigned long attrs);
void dmamap_unmap_single_attrs(struct dmamap_device *dev,
			       dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir,
			       unsigned long attrs);

dmamap_dma_addr_t dmamap_map_page_attrs(struct dmamap_device *dev,
					struct dmamap_page *page,
					size_t offset, size_t size,
					enum dmamap_data_direction dir,
					unsigned long attrs);
void dmamap_unmap_page_attrs(struct dmamap_device *dev,
			     dmamap_dma_addr_t addr, size_t size,
			     enum dmamap_data_direction dir,
			     unsigned long attrs);

/* A physical range that is RAM (embedders that hold physical addresses). */
dmamap_dma_addr_t dmamap_map_phys(struct dmamap_device *dev,
				  dmamap_phys_addr_t phys, size_t size,
				  enum dmamap_data_direction dir,
				  unsigned long attrs);
void dmamap_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr,
		       size_t size, enum dmamap_data_direction dir,
		       unsigned long attrs);

/*
 * MMIO (for example a peer device's BAR).  Never bounced: when the device
 * cannot reach it, the map fails.
 */
dmamap_dma_addr_t dmamap_map_resource(struct dmamap_device *dev,
				      dmamap_phys_addr_t phys, size_t size,
				      enum dmamap_data_direction dir,
				      unsigned long attrs);
void dmamap_unmap_resource(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			   size_t size, enum dmamap_data_direction dir,
			   unsigned long attrs);

/*
 * Where a map call was made, for the DMA API checker (debug.h): a
 * "file:line" string literal.  The short map macros below pass it to the
 * *_at calls, which are the plain calls plus that origin (attrs 0); a
 * driver calling the *_at functions itself passes DMAMAP_HERE.
 */
#define DMAMAP__STR2(x) #x
#define DMAMAP__STR(x) DMAMAP__STR2(x)
#define DMAMAP_HERE (__FILE__ ":" DMAMAP__STR(__LINE__))

dmamap_dma_addr_t dmamap_map_single_at(struct dmamap_device *dev, void *cpu,
				       size_t size,
				       enum dmamap_data_direction dir,
				       const char *origin);
dmamap_dma_addr_t dmamap_map_page_at(struct dmamap_device *dev,
				     struct dmamap_page *page, size_t offset,
				     size_t size,
				     enum dmamap_data_direction dir,
				     const char *origin);

#define dmamap_map_single(d, p, s, r) dmamap_map_single_at(d, p, s, r, DMAMAP_HERE)
#define dmamap_unmap_single(d, a, s, r) dmamap_unmap_single_attrs(d, a, s, r, 0)
#define dmamap_map_page(d, pg, o, s, r) dmamap_map_page_at(d, pg, o, s, r, DMAMAP_HERE)
#define dmamap_unmap_page(d, a, s, r) dmamap_unmap_page_attrs(d, a, s, r, 0)

/* 0 when addr is a valid mapping, -ENOMEM when it is the error value. */
int dmamap_mapping_error(struct dmamap_device *dev, dmamap_dma_addr_t addr);

/* ---- scatterlists --------------------------------------------------- */

/*
 * One CPU-side segment and, after mapping, one bus segment.  A mapped
 * list may have fewer bus segments than CPU segments (an IOMMU merges
 * them); bus segment i is in entry i's dma_address/dma_length.
 * Lists are flat arrays; the last entry has DMAMAP_SG_END set.
 */
struct dmamap_sg {
	void *cpu;                      /* CPU address of the segment */
	unsigned int length;            /* bytes */
	unsigned int flags;             /* DMAMAP_SG_END */
	dmamap_dma_addr_t dma_address;  /* set by map */
	unsigned int dma_length;        /* set by map */
	unsigned int dma_flags;         /* private to the library */
};

#define DMAMAP_SG_END 0x1u

struct dmamap_sg_table {
	struct dmamap_sg *sgl;
	unsigned int nents;      /* bus segments after mapping */
	unsigned int orig_nents; /* CPU segments */
};

void dmamap_sg_init_table(struct dmamap_sg *sg, unsigned int nents);
void dmamap_sg_set_buf(struct dmamap_sg *sg, void *buf, unsigned int len);
void dmamap_sg_set_page(struct dmamap_sg *sg, struct dmamap_page *page,
			unsigned int len, unsigned int offset);
void dmamap_sg_init_one(struct dmamap_sg *sg, void *buf, unsigned int len);
struct dmamap_sg *dmamap_sg_next(struct dmamap_sg *sg); /* NULL after END */
int dmamap_sg_alloc_table(struct dmamap_sg_table *sgt, unsigned int nents);
void dmamap_sg_free_table(struct dmamap_sg_table *sgt);

int dmamap_map_sg_attrs(struct dmamap_device *dev, struct dmamap_sg *sg,
			int nents, enum dmamap_data_direction dir,
			unsigned long attrs);
/* nents is the value passed to map, not the value it returned. */
void dmamap_unmap_sg_attrs(struct dmamap_device *dev, struct dmamap_sg *sg,
			   int nents, enum dmamap_data_direction dir,
			   unsigned long attrs);
int dmamap_map_sgtable(struct dmamap_device *dev, struct dmamap_sg_table *sgt,
		       enum dmamap_data_direction dir, unsigned long attrs);
void dmamap_unmap_sgtable(struct dmamap_device *dev,
			  struct dmamap_sg_table *sgt,
			  enum dmamap_data_direction dir, unsigned long attrs);

int dmamap_map_sg_at(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		     enum dmamap_data_direction dir, const char *origin);

#define dmamap_map_sg(d, s, n, r) dmamap_map_sg_at(d, s, n, r, DMAMAP_HERE)
#define dmamap_unmap_sg(d, s, n, r) dmamap_unmap_sg_attrs(d, s, n, r, 0)

/* ---- syncs ------------------------------------------------------------ */

/*
 * for_cpu: make the device's writes visible to the CPU (invalidate caches,
 * copy a bounce buffer back).  for_device: make the CPU's writes visible to
 * the device (clean caches, copy into the bounce buffer).  addr is any
 * address inside a live mapping; the range must lie inside it.
 */
void dmamap_sync_single_for_cpu(struct dmamap_device *dev,
				dmamap_dma_addr_t addr, size_t size,
				enum dmamap_data_direction dir);
void dmamap_sync_single_for_device(struct dmamap_device *dev,
				   dmamap_dma_addr_t addr, size_t size,
				   enum dmamap_data_direction dir);
void dmamap_sync_single_range_for_cpu(struct dmamap_device *dev,
				      dmamap_dma_addr_t addr, size_t offset,
				      size_t size,
				      enum dmamap_data_direction dir);
void dmamap_sync_single_range_for_device(struct dmamap_device *dev,
					 dmamap_dma_addr_t addr, size_t offset,
					 size_t size,
					 enum dmamap_data_direction dir);
/* nents is the value passed to map. */
void dmamap_sync_sg_for_cpu(struct dmamap_device *dev, struct dmamap_sg *sg,
			    int nents, enum dmamap_data_direction dir);
void dmamap_sync_sg_for_device(struct dmamap_device *dev, struct dmamap_sg *sg,
			       int nents, enum dmamap_data_direction dir);
void dmamap_sync_sgtable_for_cpu(struct dmamap_device *dev,
				 struct dmamap_sg_table *sgt,
				 enum dmamap_data_direction dir);
void dmamap_sync_sgtable_for_device(struct dmamap_device *dev,
				    struct dmamap_sg_table *sgt,
				    enum dmamap_data_direction dir);

/* ---- allocations -------------------------------------------------------- */

/*
 * Coherent memory: CPU and device see each other's writes without syncs
 * (for a non-coherent device the CPU mapping is uncached).  Zeroed.  The
 * bus address fits the coherent mask.  NULL on failure.
 */
void *dmamap_alloc_attrs(struct dmamap_device *dev, size_t size,
			 dmamap_dma_addr_t *handle, unsigned long attrs);
void dmamap_free_attrs(struct dmamap_device *dev, size_t size, void *cpu,
		       dmamap_dma_addr_t handle, unsigned long attrs);
void *dmamap_alloc_coherent_at(struct dmamap_device *dev, size_t size,
			       dmamap_dma_addr_t *handle, const char *origin);
#define dmamap_alloc_coherent(d, s, h) dmamap_alloc_coherent_at(d, s, h, DMAMAP_HERE)
#define dmamap_free_coherent(d, s, c, h) dmamap_free_attrs(d, s, c, h, 0)

/*
 * Non-coherent memory: cacheable, the driver owns cache maintenance with
 * dmamap_sync_single_for_{cpu,device}.  The bus address fits the coherent
 * mask.  NULL on failure.
 */
void *dmamap_alloc_noncoherent(struct dmamap_device *dev, size_t size,
			       dmamap_dma_addr_t *handle,
			       enum dmamap_data_direction dir);
void dmamap_free_noncoherent(struct dmamap_device *dev, size_t size,
			     void *cpu, dmamap_dma_addr_t handle,
			     enum dmamap_data_direction dir);

/* ---- masks and limits ---------------------------------------------------- */

/*
 * A pure query: may this mask be set?  Changes nothing (seed 004: setting
 * the mask is what switches ops, never asking about it).  1 or 0.
 */
int dmamap_supported(struct dmamap_device *dev, uint64_t mask);

/*
 * Set the streaming mask; this selects the device's ops.  -EIO when the
 * mask is not supported, leaving the device exactly as it was.
 */
int dmamap_set_mask(struct dmamap_device *dev, uint64_t mask);
/* The coherent mask may be narrower than the streaming mask. */
int dmamap_set_coherent_mask(struct dmamap_device *dev, uint64_t mask);
/* Both, or neither: on failure nothing changes. */
int dmamap_set_mask_and_coherent(struct dmamap_device *dev, uint64_t mask);
uint64_t dmamap_get_mask(struct dmamap_device *dev);
uint64_t dmamap_get_coherent_mask(struct dmamap_device *dev);
/* The smallest mask that reaches all of RAM without bouncing. */
uint64_t dmamap_get_required_mask(struct dmamap_device *dev);
/* True when the mask (and bus limit) cannot reach all of RAM. */
bool dmamap_addressing_limited(struct dmamap_device *dev);
/* Largest single mapping (SIZE_MAX unless bounce-limited). */
size_t dmamap_max_mapping_size(struct dmamap_device *dev);
/* Largest mapping that stays on the backend's fast path. */
size_t dmamap_opt_mapping_size(struct dmamap_device *dev);
/* True when syncs do work for this device (non-coherent or may bounce). */
bool dmamap_need_sync(struct dmamap_device *dev, dmamap_dma_addr_t addr);

/* ---- per-device parameters (Linux's dma_parms) --------------------------- */

int dmamap_set_max_seg_size(struct dmamap_device *dev, unsigned int size);
unsigned int dmamap_get_max_seg_size(struct dmamap_device *dev); /* default 64 KiB */
int dmamap_set_seg_boundary(struct dmamap_device *dev, uint64_t mask);
uint64_t dmamap_get_seg_boundary(struct dmamap_device *dev); /* default ~0 */
/* mask must be 2^n - 1; bounce buffers keep these low address bits. */
int dmamap_set_min_align_mask(struct dmamap_device *dev, unsigned int mask);
unsigned int dmamap_get_min_align_mask(struct dmamap_device *dev);

/* ---- DMA pools: small coherent blocks ------------------------------------ */

struct dmamap_pool;

/*
 * Blocks of `size` bytes aligned to `align` (a power of two, 0 = 8),
 * never crossing a `boundary` (a power of two >= size, 0 = none).
 * NULL on bad arguments or no memory.
 */
struct dmamap_pool *dmamap_pool_create(const char *name,
				       struct dmamap_device *dev, size_t size,
				       size_t align, size_t boundary);
void *dmamap_pool_alloc(struct dmamap_pool *pool, dmamap_dma_addr_t *handle);
void *dmamap_pool_zalloc(struct dmamap_pool *pool, dmamap_dma_addr_t *handle);
/* -EINVAL when the block is not a busy block of this pool. */
int dmamap_pool_free(struct dmamap_pool *pool, void *cpu,
		     dmamap_dma_addr_t handle);
/* -EBUSY (and nothing freed) while any block is allocated. */
int dmamap_pool_destroy(struct dmamap_pool *pool);

/* ---- errors --------------------------------------------------------- */

/* The error name for a negative errno this library returns ("EIO"). */
const char *dmamap_strerror(int err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_DMA_H */
