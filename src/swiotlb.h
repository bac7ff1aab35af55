/*
 * src/swiotlb.h - the software bounce-buffer pool, as the rest of the
 * library sees it.
 *
 * swiotlb.c is mechanism only: it finds slots, copies, releases, counts.
 * Whether to bounce is decided by its callers (direct.c, later iommu.c and
 * xen.c).  It never does cache maintenance (the caller does, on the bounce
 * address) and never looks at masks beyond the device parameters named
 * below.
 *
 * Geometry (Linux's, reproduced): 2 KiB slots; 128-slot segments (no
 * allocation crosses one, so the largest mapping is 256 KiB less the
 * min_align_mask round-up); default pool 64 MiB; nareas a power of two,
 * each area with its own lock; allocations of >= 4 KiB start page aligned.
 */
#ifndef DM_SWIOTLB_H
#define DM_SWIOTLB_H

#include "context.h"

#define DM_IO_TLB_SHIFT 11
#define DM_IO_TLB_SIZE (1u << DM_IO_TLB_SHIFT)       /* 2 KiB */
#define DM_IO_TLB_SEGSIZE 128u                        /* slots per segment */
#define DM_IO_TLB_DEFAULT_SIZE (64ULL << 20)          /* 64 MiB */
#define DM_IO_TLB_MIN_SLABS ((1u << 20) >> DM_IO_TLB_SHIFT) /* 1 MiB */

/* The raw slot allocator's failure value (testing.h calls it DM_TEST_NO_SLOTS). */
#define DM_SWIOTLB_ERROR (~(dmamap_phys_addr_t)0)

struct dm_swiotlb_params {
	uint64_t nslabs;          /* slots; rounded up to a segment */
	unsigned int nareas;      /* rounded up to a power of two, limited so
				   * each area has at least one segment */
	dmamap_phys_addr_t phys_limit; /* pool memory must end at or below */
	bool dynamic;             /* grow when full */
	bool force;               /* every mapping of its users bounces */
};

/*
 * A pool backed by memory allocated from the platform below phys_limit.
 * 0, -EINVAL, or -ENOMEM.
 */
int dm_swiotlb_create(struct dmamap_ctx *ctx, const struct dm_swiotlb_params *p,
		      struct dmamap_swiotlb **out);
/* A pool over memory the caller provides (restricted pools); 1 area. */
int dm_swiotlb_create_at(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys,
			 uint64_t size, struct dmamap_swiotlb **out);
/* Frees memory it allocated; memory given with _create_at stays. */
void dm_swiotlb_destroy(struct dmamap_swiotlb *mem);

/* Is phys inside one of mem's pools (boot, grown or transient)?  Cheap. */
bool dm_swiotlb_contains(const struct dmamap_swiotlb *mem,
			 dmamap_phys_addr_t phys);

/*
 * The first member of every struct dmamap_swiotlb, read-only after
 * create: what an inline "is this a bounce address?" reads (every
 * dma-direct unmap asks).
 */
struct dm_swiotlb_head {
	dmamap_phys_addr_t boot_start;
	uint64_t boot_len;
	bool dynamic;             /* grown and transient pools may exist */
};

/*
 * False when phys is surely not a bounce address of mem (NULL: none):
 * outside the boot pool of a pool that never grows.  No call.
 */
static inline bool dm_swiotlb_maybe_contains(const struct dmamap_swiotlb *mem,
					     dmamap_phys_addr_t phys)
{
	const struct dm_swiotlb_head *h = (const struct dm_swiotlb_head *)mem;
	return h && (phys - h->boot_start < h->boot_len || h->dynamic);
}

/* dm_swiotlb_contains, with the boot pool's test inline (mem may be NULL). */
static inline bool dm_swiotlb_contains_inline(const struct dmamap_swiotlb *mem,
					      dmamap_phys_addr_t phys)
{
	return dm_unlikely(dm_swiotlb_maybe_contains(mem, phys)) && dm_swiotlb_contains(mem, phys);
}

/*
 * Whether the device reaches a bounce slot, and at which bus address: 0
 * and *dma, or a negative errno (the slot is then given back).
 */
typedef int (*dm_bounce_reach_fn)(struct dmamap_device *dev, dmamap_phys_addr_t tlb,
				  size_t size, dmamap_dma_addr_t *dma);

/*
 * The bounce sequence of every backend (Linux's swiotlb_map): slots
 * found in dev->swiotlb and filled with the original (even for
 * DMA_FROM_DEVICE: a short device write must not expose stale pool data),
 * honouring dev->min_align_mask (orig's low bits reappear in *tlb),
 * align_mask (extra alignment, 0 for none) and dev->seg_boundary_mask
 * (on bus addresses), its reach re-checked by reach (NULL: the
 * caller maps the slot itself, as an IOMMU does, and *dma is untouched),
 * counted.  0 with *tlb (and *dma), or the errors of backend.h: -EIO (no
 * pool, not RAM, out of reach), -EINVAL (too large), -ENOMEM (no slot
 * free: counted, and a rate-limited "swiotlb buffer is full" message
 * unless DMAMAP_ATTR_NO_WARN), -EDQUOT (dev->ex.bq_limit would be passed).
 * Cache maintenance of the slot is the caller's.  why: a few words for
 * the messages (why it must bounce).
 */
int dm_swiotlb_map(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
		   unsigned int align_mask, enum dmamap_data_direction dir, unsigned long attrs,
		   const char *why, dm_bounce_reach_fn reach, dmamap_phys_addr_t *tlb,
		   dmamap_dma_addr_t *dma);
/*
 * dma-direct's reach (direct.c's capable check, with its dma-ranges):
 * the slot's bus address, if it is below the device's limit and inside
 * one window.  Inline here so that dm_swiotlb_map_direct makes no
 * indirect call for it.
 */
static inline int dm_reach_direct(struct dmamap_device *dev, dmamap_phys_addr_t tlb,
				  size_t size, dmamap_dma_addr_t *dma)
{
	*dma = dm_phys_to_dma(dev, tlb);
	return dm_capable(dev, *dma, size, dev->direct_limit) ? 0 : -EIO;
}

/* dm_swiotlb_map with align_mask 0 and reach dm_reach_direct (dma-direct's bounce). */
int dm_swiotlb_map_direct(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			  enum dmamap_data_direction dir, unsigned long attrs, const char *why,
			  dmamap_phys_addr_t *tlb, dmamap_dma_addr_t *dma);

/*
 * Release a mapping made by dm_swiotlb_map (tlb is what it gave).
 * Copies back first when dir is FROM_DEVICE or BIDIRECTIONAL and
 * SKIP_CPU_SYNC is not set; then poisons the slots (when the pool's
 * poisoning is on), gives quota bytes back to dev, frees the slots and,
 * with no lock held, serves queued requests (dm_exhaust_released).  The
 * same holds for dm_swiotlb_release_raw and dm_swiotlb_free.
 */
int dm_swiotlb_tbl_unmap(struct dmamap_device *dev,
			 struct dmamap_swiotlb *mem, dmamap_phys_addr_t tlb,
			 size_t mapping_size, enum dmamap_data_direction dir,
			 unsigned long attrs);
/*
 * Whether tlb starts a live mapping of dev's of mapping_size bytes: what
 * dm_swiotlb_tbl_unmap checks before anything else (it returns -EINVAL,
 * logs and counts, and touches nothing, when not).  Callers that sync
 * before unmapping ask first.
 */
bool dm_swiotlb_unmap_ok(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			 dmamap_phys_addr_t tlb, size_t mapping_size);
/* tlb may be anywhere inside a live mapping; the range must stay inside it. */
void dm_swiotlb_sync_for_cpu(struct dmamap_device *dev,
			     struct dmamap_swiotlb *mem, dmamap_phys_addr_t tlb,
			     size_t size, enum dmamap_data_direction dir);
void dm_swiotlb_sync_for_device(struct dmamap_device *dev,
				struct dmamap_swiotlb *mem,
				dmamap_phys_addr_t tlb, size_t size,
				enum dmamap_data_direction dir);

/* 256 KiB less roundup(min_align_mask, 2 KiB). */
size_t dm_swiotlb_max_mapping_size(const struct dmamap_device *dev);

/* Pages from the pool for coherent allocations (restricted pools). */
void *dm_swiotlb_alloc(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		       size_t size, dmamap_phys_addr_t *phys);
/* False when phys is not a pool allocation (caller frees elsewhere). */
bool dm_swiotlb_free(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		     dmamap_phys_addr_t phys, size_t size);

bool dm_swiotlb_is_force(const struct dmamap_swiotlb *mem);
/* The pool was made after boot: its stats say boot_total_bytes 0. */
void dm_swiotlb_mark_late(struct dmamap_swiotlb *mem);

/* The raw slot allocator (find_slots_raw, release_raw): testing.h. */

/*
 * Bookkeeping memory of mem's boot and grown pools in bytes (headers,
 * per-slot records, bitmaps, areas); *nslots (may be NULL) receives their
 * slot count.  For tests: the budget is at most 16 bytes per slot.
 */
uint64_t dm_swiotlb_bookkeeping_bytes(const struct dmamap_swiotlb *mem,
				      uint64_t *nslots);

#endif /* DM_SWIOTLB_H */
