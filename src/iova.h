/*
 * src/iova.h - the IOVA allocator, as the dma-iommu backend sees it.
 *
 * iova.c hands out ranges of I/O virtual address space in units of the
 * domain's granule (the smallest IOMMU page; a power of two >= 4096).  All
 * addresses here are pfns: IOVA >> shift.  It is mechanism only: it never
 * programs an IOMMU, never looks at devices or masks (the caller turns a
 * DMA mask into limit_pfn) and never prints.
 *
 * Behaviour (after Linux's drivers/iommu/iova.c; the code is not):
 *   - pfn 0 is never handed out: 0 is the failure value;
 *   - allocation is top-down from the limit: the highest free block
 *     ending at or below limit_pfn (of the tree; for 33..512 granules
 *     size-aligned, of this CPU's window: see "CPU windows" below).
 *     Linux walks down from a cached node next to its last allocation
 *     instead, so its block is the same one only when that node sits at
 *     the limit (docs/DIFFERENCES.md);
 *   - size_aligned aligns a block of n granules to roundup_pow_of_two(n);
 *   - reserved ranges (MSI windows, RAM holes) are never handed out;
 *   - a per-CPU magazine cache ("rcache") per size order 0..5 (1..32
 *     granules) in front of the tree, with a shared depot of at most 32
 *     full magazines per order (Linux up to v6.6; later kernels trim an
 *     unbounded depot in the background); the fast calls round cacheable sizes up to a
 *     power of two, as dma-iommu does before calling alloc_iova_fast().
 *
 * Search cost: free space is an AVL tree of free (and reserved) ranges
 * keyed by address, each subtree annotated with its longest free range.
 * An allocation of n granules aligned to a (a = 1 when not size-aligned)
 * first searches pruning every subtree whose longest range is shorter
 * than n + a - 1 (a range at least that long is certain to hold an
 * aligned block), so the search follows the limit down one path and then at most one more
 * root-to-leaf path: at most about 4 x the AVL height (<= 1.44 log2 n),
 * so under 6 log2 n nodes, counted in tree_visits.  The block
 * returned is the highest aligned fit among the ranges that search
 * visits; a higher range holding n but not n + a - 1 granules can be
 * passed over (Linux, scanning linearly, would take it); unaligned
 * (a = 1) nothing is.  Only when that
 * search fails (every range below the limit is shorter than n + a - 1) an
 * exact search pruning on n runs (slow_searches); it fails only when no
 * aligned fit exists, and can visit every range of length n .. n+a-2.
 *
 * CPU windows (not in Linux; issue 17, docs/PERFORMANCE.md).  Size-aligned
 * requests of DM_IOVA_WIN_MIN_NPAGES..DM_IOVA_WIN_MAX_NPAGES (33..512)
 * granules, through dm_iova_alloc or dm_iova_alloc_fast beyond the
 * magazines, are served from a window of DM_IOVA_WIN_PAGES granules that
 * the calling CPU slot took from the tree (the tree's highest
 * window-aligned fit below the first such request's limit): the highest
 * free size-aligned block of the window ending at or below the limit,
 * through a bitmap under the slot's own lock.  So the block can differ
 * from the tree's (docs/DIFFERENCES.md); it is deterministic given the
 * CPU slot and the sequence of calls.  When the window lies partly above
 * the limit and has no room below it the tree serves the request; when
 * it lies wholly below the limit and has no room it is dissolved (its
 * free runs go back to the tree, its blocks become ordinary allocated
 * space) and a new one is carved.  A tree allocation that fails
 * dissolves every window starting at or below its limit and retries
 * once; dm_iova_cache_flush and a reservation over a window dissolve
 * them too.  Frees of blocks inside a window are checked granule by
 * granule against its bitmap: a double free or a never-allocated range
 * is refused (-EINVAL, bad_frees) as the tree refuses one.
 *
 * Thread safety: every call may run concurrently with any other on the
 * same domain except destroy.
 */
#ifndef DM_IOVA_H
#define DM_IOVA_H

#include "context.h"

#define DM_IOVA_RCACHE_ORDERS 6                      /* orders 0..5 */
#define DM_IOVA_RCACHE_MAX_NPAGES (1u << (DM_IOVA_RCACHE_ORDERS - 1)) /* 32 */
#define DM_IOVA_MAG_SIZE 127                         /* pfns per magazine (1 KiB) */
#define DM_IOVA_DEPOT_MAX 32                         /* full magazines per order */

/*
 * The per-CPU windows behind the magazines (see "CPU windows" below):
 * size-aligned tree allocations of DM_IOVA_WIN_MIN_NPAGES ..
 * DM_IOVA_WIN_MAX_NPAGES granules are served from a window of
 * DM_IOVA_WIN_PAGES granules (aligned to its size) that this CPU slot took
 * from the tree, through a bitmap.
 */
#define DM_IOVA_WIN_SHIFT 13
#define DM_IOVA_WIN_PAGES (1ULL << DM_IOVA_WIN_SHIFT)  /* 8192: 32 MiB at 4 KiB */
#define DM_IOVA_WIN_MIN_NPAGES (DM_IOVA_RCACHE_MAX_NPAGES + 1)   /* 33 */
#define DM_IOVA_WIN_MAX_NPAGES (DM_IOVA_WIN_PAGES / 16)          /* 512 */

struct dm_iova_domain;

struct dm_iova_stats {
	uint64_t allocs;        /* successful allocations, both paths */
	uint64_t frees;         /* accepted frees, both paths */
	uint64_t cache_hits;    /* fast allocations a magazine served */
	uint64_t cache_misses;  /* fast allocations of cacheable size it could not */
	uint64_t cache_frees;   /* fast frees a magazine absorbed */
	uint64_t tree_allocs;   /* allocations carved from the tree or a CPU window */
	uint64_t tree_frees;    /* caller frees that went to the tree or a CPU window */
	uint64_t failures;      /* allocations that returned 0 */
	uint64_t bad_frees;     /* frees refused (-EINVAL), incl. cached ones found bad on return */
	uint64_t cache_returns; /* cached IOVAs given back to the tree (depot full, flush) */
	uint64_t flushes;       /* dm_iova_cache_flush calls, explicit or on failure */
	uint64_t depot_mags;    /* full magazines in the depots now, all orders */
	uint64_t cached;        /* IOVAs held by magazines now (CPU and depot) */
	uint64_t tree_nodes;    /* free + reserved ranges + windows in the tree now */
	uint64_t free_pages;    /* granules free in the tree and the windows now (cached ones excluded) */
	uint64_t tree_searches; /* tree allocation attempts */
	uint64_t tree_visits;   /* nodes examined by them, in total */
	uint64_t tree_visits_max; /* most nodes one attempt examined */
	uint64_t slow_searches; /* exact fallback searches (see the header comment) */
	uint64_t nomem;         /* operations refused because a node could not be allocated */
	/* The CPU windows (allocs and frees through them count in tree_allocs/tree_frees too) */
	uint64_t win_allocs;    /* tree allocations a window served */
	uint64_t win_frees;     /* tree frees that went to a window */
	uint64_t windows;       /* windows now (each one tree node, counted in tree_nodes) */
	uint64_t win_free_pages; /* granules free in windows now (counted in free_pages) */
	uint64_t win_carves;    /* windows taken from the tree */
	uint64_t win_dissolves; /* windows given back (full, flush, tree exhausted) */
};

/*
 * A domain over pfns [start_pfn, end_pfn] (end inclusive, the highest
 * usable).  granule: a power of two >= 4096; start_pfn 0 is taken as 1;
 * end_pfn << log2(granule) must fit in 64 bits.  ncpus: per-CPU cache
 * slots wanted (rounded up to a power of two; dm_cpu() picks one modulo
 * that).  0, -EINVAL, -ENOMEM.
 */
int dm_iova_domain_init(struct dm_iova_domain **out, uint64_t granule,
			uint64_t start_pfn, uint64_t end_pfn, unsigned int ncpus);
/* Frees everything; IOVAs still allocated are simply forgotten. */
void dm_iova_domain_destroy(struct dm_iova_domain *d);

uint64_t dm_iova_granule(const struct dm_iova_domain *d);
unsigned int dm_iova_shift(const struct dm_iova_domain *d);

/*
 * Takes [lo_pfn, hi_pfn] (clipped to the domain) out for good.  The range
 * may overlap free and already reserved space, not allocated space:
 * -EBUSY then (the caches are flushed and it is retried once first),
 * -EINVAL when lo > hi, -ENOMEM.
 */
int dm_iova_reserve(struct dm_iova_domain *d, uint64_t lo_pfn, uint64_t hi_pfn);

/*
 * Linux's alloc_iova(): npages granules ending at or below limit_pfn
 * (inclusive; clamped to end_pfn), from the tree, or for 33..512
 * granules size-aligned from this CPU's window.  Returns the first pfn,
 * 0 on failure.
 */
uint64_t dm_iova_alloc(struct dm_iova_domain *d, uint64_t npages,
		       uint64_t limit_pfn, bool size_aligned);
/*
 * Gives [pfn, pfn + npages) back to the tree, merging with free
 * neighbours, or to the CPU window it lies in.  -EINVAL, changing
 * nothing, when the range leaves the domain or overlaps free or reserved
 * space (a double free, a wrong size that runs into free space) or
 * straddles a window's edge.  It cannot tell a range that is
 * allocated but cut at other boundaries (that would take a record per
 * allocation).  -ENOMEM when a node is needed and malloc fails (the
 * range stays allocated).
 */
int dm_iova_free(struct dm_iova_domain *d, uint64_t pfn, uint64_t npages);

/*
 * Linux's alloc_iova_fast(): npages up to 32 is rounded up to a power of
 * two and served from this CPU's magazines when one holds an IOVA that
 * fits below limit_pfn; otherwise (and for larger sizes) the tree, always
 * size-aligned.  flush_rcache: when the tree has no room, flush every
 * cache and try once more.  0 on failure.
 */
uint64_t dm_iova_alloc_fast(struct dm_iova_domain *d, uint64_t npages,
			    uint64_t limit_pfn, bool flush_rcache);
/*
 * Linux's free_iova_fast(): for an IOVA from dm_iova_alloc_fast with the
 * same npages (unrounded is fine).  Cacheable sizes go to this CPU's
 * magazines unchecked beyond domain bounds and alignment (-EINVAL); a
 * double free there is caught only when the entry returns to the tree
 * (bad_frees).  Larger sizes: dm_iova_free.
 */
int dm_iova_free_fast(struct dm_iova_domain *d, uint64_t pfn, uint64_t npages);

/*
 * Returns every cached IOVA (all CPUs' magazines, the depots) to the tree
 * and frees the depot magazines: for memory pressure and before teardown.
 * Returns the number of IOVAs returned.
 */
uint64_t dm_iova_cache_flush(struct dm_iova_domain *d);

void dm_iova_get_stats(struct dm_iova_domain *d, struct dm_iova_stats *st);

/*
 * Checks the tree's invariants (order, disjointness, no adjacent free
 * ranges, AVL balance, subtree maxima, counts) and the windows' (one tree
 * node per window naming its slot, bitmap, summary and free count
 * agreeing).  O(n), for tests.  0 or -EIO.
 */
int dm_iova_check(struct dm_iova_domain *d);

#endif /* DM_IOVA_H */
