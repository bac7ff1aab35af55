/*
 * src/testing.h - the internal test interface: what the benchmark
 * (bench/) and white-box tests may call that the installed library does
 * not promise.
 *
 * Owns: nothing; it names the private calls that timing a component alone
 * needs (the slot allocator without the copy, the IOVA allocator without
 * an IOMMU).  Included in the library only by the file that defines each call
 * (swiotlb.c), never by the simulator or an embedder; never installed.  Everything else a benchmark uses
 * comes from include/dmamap/.
 */
#ifndef DM_TESTING_H
#define DM_TESTING_H

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include "iova.h"

/*
 * A device counts in this many per-thread slots (context.h); with more
 * threads than that a benchmark cannot expect exact per-thread counts.
 */
#define DM_TEST_NR_PCPU_STATS DM_NR_PCPU_STATS

/* The context's default bounce pool, or NULL when swiotlb is off. */
struct dmamap_swiotlb *dm_test_default_pool(struct dmamap_ctx *ctx);

/*
 * A bounce of orig without the bounce sequence's checks and counting
 * (dm_swiotlb_map's slots and copy only): the bounce address, or
 * DM_TEST_NO_SLOTS.  For white-box tests of the slot allocator's geometry.
 */
dmamap_phys_addr_t dm_swiotlb_tbl_map(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
				      dmamap_phys_addr_t orig, size_t mapping_size,
				      unsigned int alloc_align_mask, enum dmamap_data_direction dir,
				      unsigned long attrs);

/*
 * The slot allocator alone: finds slots for size bytes bounced from orig
 * (no copy, no accounting beyond the pool's) and releases them.
 * find_slots_raw returns DM_TEST_NO_SLOTS when none is free.
 */
#define DM_TEST_NO_SLOTS (~(dmamap_phys_addr_t)0)
dmamap_phys_addr_t dm_swiotlb_find_slots_raw(struct dmamap_device *dev,
					     struct dmamap_swiotlb *mem,
					     dmamap_phys_addr_t orig,
					     size_t size);
void dm_swiotlb_release_raw(struct dmamap_device *dev,
			    struct dmamap_swiotlb *mem,
			    dmamap_phys_addr_t tlb, size_t size);

#endif /* DM_TESTING_H */
