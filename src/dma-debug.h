/*
 * src/dma-debug.h - the DMA API checker's hooks, as the rest of src/ calls them.
 *
 * Owns: the interface between the dispatcher (mapping.c), the pools
 * (pool.c), contexts and devices (core.c) and the checker (debug.c).
 * Every hook is called only when dev->debug is set (the dispatcher's one
 * predictable branch), after the backend did its work, and never changes
 * what a mapping does: it records, checks and reports.  Must never be
 * included outside src/.
 */
#ifndef DM_DMA_DEBUG_H
#define DM_DMA_DEBUG_H

#include "context.h"

#include <dmamap/debug.h>

/* What kind of call made a mapping; unmaps must use the matching kind. */
enum dm_dbg_type {
	DM_DBG_SINGLE = 0,  /* map_single / unmap_single */
	DM_DBG_PAGE,        /* map_page / unmap_page */
	DM_DBG_PHYS,        /* map_phys / unmap_phys */
	DM_DBG_RESOURCE,    /* map_resource / unmap_resource */
	DM_DBG_SG,          /* map_sg, map_sgtable / unmap_sg, unmap_sgtable */
	DM_DBG_COHERENT,    /* alloc_attrs / free_attrs (DMA pools' chunks too) */
	DM_DBG_NONCOHERENT, /* alloc_noncoherent / free_noncoherent */
};

/*
 * Where a call came from: `where` is the "file:line" string the driver
 * API's macros capture (dma.h), NULL when the call went through a plain
 * function; pc is then the caller's return address.
 */
struct dm_site {
	const char *where;
	const void *pc;
};

/* In a public entry point (or a function always inlined into one). */
#define DM_SITE(w) ((struct dm_site){ (w), __builtin_return_address(0) })

/* ---- life ---- */

/* At context create when the checker is asked for: 0 or -ENOMEM. */
int dm_debug_init(struct dmamap_ctx *ctx);
void dm_debug_fini(struct dmamap_ctx *ctx);
/* After a device joined a context whose checker is on. */
void dm_debug_device_added(struct dmamap_device *dev);
/* Before a device is freed: leaks are reported, its records dropped. */
void dm_debug_device_removed(struct dmamap_device *dev);

/* ---- mappings ---- */

/*
 * A single-buffer map returned `dma` (DMAMAP_MAPPING_ERROR when it
 * failed).  cpu is the driver's pointer (NULL for phys/resource); phys is
 * meaningful when phys_ok.
 */
void dm_debug_map(struct dmamap_device *dev, enum dm_dbg_type type,
		  const void *cpu, dmamap_phys_addr_t phys, bool phys_ok,
		  size_t size, enum dmamap_data_direction dir,
		  unsigned long attrs, dmamap_dma_addr_t dma,
		  struct dm_site site);
/*
 * Called before the backend unmaps: 1 when (dma, size) is a live mapping
 * of dev's (its record goes); 0 when it is not (never mapped, already
 * unmapped, or another size): reported, and the dispatcher refuses the
 * unmap, so a stale or wrong-size unmap never reaches the backend; -1
 * when the checker cannot tell (it has turned itself off).
 */
int dm_debug_unmap(struct dmamap_device *dev, enum dm_dbg_type type,
		   dmamap_dma_addr_t dma, size_t size,
		   enum dmamap_data_direction dir, struct dm_site site);
/* mapped: bus segments (> 0), or <= 0 when the map failed. */
void dm_debug_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg,
		     int nents, int mapped, enum dmamap_data_direction dir,
		     unsigned long attrs, struct dm_site site);
void dm_debug_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg,
		       int nents, enum dmamap_data_direction dir,
		       struct dm_site site);
void dm_debug_sync(struct dmamap_device *dev, dmamap_dma_addr_t dma,
		   size_t size, enum dmamap_data_direction dir, bool for_cpu,
		   struct dm_site site);
void dm_debug_sync_sg(struct dmamap_device *dev, struct dmamap_sg *sg,
		      int nents, enum dmamap_data_direction dir, bool for_cpu,
		      struct dm_site site);
void dm_debug_mapping_error(struct dmamap_device *dev, dmamap_dma_addr_t dma);

/* ---- allocations ---- */

/* type COHERENT or NONCOHERENT; cpu NULL when the allocation failed. */
void dm_debug_alloc(struct dmamap_device *dev, enum dm_dbg_type type,
		    const void *cpu, size_t size, dmamap_dma_addr_t dma,
		    enum dmamap_data_direction dir, struct dm_site site);
/* freed: the library is about to free it (false: it refused). */
void dm_debug_free(struct dmamap_device *dev, enum dm_dbg_type type,
		   const void *cpu, size_t size, dmamap_dma_addr_t dma,
		   enum dmamap_data_direction dir, bool freed,
		   struct dm_site site);
void dm_debug_pool_busy(struct dmamap_device *dev, const char *pool,
			uint64_t busy, const void *created_pc,
			struct dm_site site);

#endif /* DM_DMA_DEBUG_H */
