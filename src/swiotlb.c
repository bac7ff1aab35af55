/*
 * src/swiotlb.c - the software bounce-buffer pool (see swiotlb.h).
 *
 * Owns: slot allocation, the bounce copies, pools (boot, grown, transient,
 * restricted) and their statistics.  Never decides whether to bounce and
 * never does cache maintenance (the callers do, on the bounce address).
 *
 * Bookkeeping, per 2 KiB slot: 12.125 bytes (Linux: about 24).
 *   - 1 bit: a 128-bit free bitmap per 128-slot segment (bit set = free);
 *   - 8 bytes: orig[], the original's phys address that the START of the
 *     slot corresponds to (orig - offset-in-slot + k * 2 KiB), so any
 *     address inside a mapping finds its original without a search,
 *     except in a mapping's first data slot, which holds the original
 *     itself: its offset under min_align_mask tells where the mapping
 *     starts in the slot, and a sync that begins before it copies
 *     nothing; all address bits set for coherent allocations and free or
 *     pad slots (nothing to copy).
 *     Bits 52..63 of an allocation's first data slot hold its device's
 *     tag (0 in every other slot): an unmap or free is executed only when
 *     its address starts a live allocation of that device and its size is
 *     the allocation's, so a stale or double unmap cannot free a slot
 *     another mapping holds now (Linux leaves that to dma-debug);
 *   - 4 bytes: meta[], bits 0..18 the bytes from the slot's start to the
 *     mapping's end (0 past it: clamps syncs), and in a mapping's first
 *     data slot also bits 19..25 the pad slots in front, bit 26 set when
 *     the allocation is charged to its device's bounce quota, and bits
 *     27..31 log2 of the allocation alignment (at most 18: a larger one
 *     cannot fit a segment), from which release recomputes the slot count
 *     exactly as map computed it.
 * Plus one 64-byte area record per area and one pool header per pool.
 *
 * Search: every area has a spinlock, its own counters and a cursor, the
 * segment where it last allocated or freed.  A request first tries that
 * segment (the slots just freed are still in the CPU cache, so the bounce
 * copy lands in hot memory), then walks the area's other segments next-fit.
 * Inside a segment the candidates for a run of n free slots come from
 * shift-and over the bitmap, masked by the valid start positions
 * (alignment, min_align_mask match, segment boundary), lowest first.  The
 * areas interleave by segment (segment s belongs to area s & (nareas-1)),
 * so finding a slot's area costs a mask, and each area's bitmaps lie in
 * their own cache lines.  No global atomic on the map/unmap path.
 *
 * Placement rules (Linux's): an allocation of >= 4 KiB without
 * alloc_align_mask and min_align_mask starts on a 4 KiB boundary (of the
 * bus address); with min_align_mask the slot's bus address matches the
 * original above the bits the in-slot offset (and pad slots) reproduce.
 *
 * Pools: the boot pool is pools[0]; grown pools are appended to a fixed
 * array published with an atomic count and never removed before destroy,
 * so readers walk it without a lock.  Transient pools (one request each,
 * made while growing) live in a small table of packed (pfn, npages) words
 * so contains() never touches freed memory; they are freed when their
 * mapping is released.
 *
 * Statistics: used/hiwater/total cover the boot and grown pools; bounced
 * bytes cover every pool; full failures are counted in the area of the
 * thread whose request failed (retries of queued requests are not).
 *
 * Exhaustion (exhaust.c decides what to do): a full pool is -ENOMEM, a
 * quota refusal -EDQUOT, returned up to the dispatcher; every release, after
 * the area lock is dropped, serves the context's queue of deferred and
 * waiting requests when it is not empty (one relaxed load otherwise).  A
 * device with a bounce quota takes an out-of-line copy of the map that
 * reserves its slots' bytes before the search (an atomic add); the
 * allocation's meta bit 26 tells release to give them back.  Poisoning (off by default) fills an
 * allocation's slots with DMAMAP_SWIOTLB_POISON before they are freed.
 * What the hot path pays when neither is used: a load and a branch on
 * the device's quota at map; at release one OR of the pool's rel_slow
 * word into the meta bit test and one load of dm_ex_waiting.
 */
#include "exhaustion.h"
#include "swiotlb.h"
#include "testing.h"

#include <dmamap/exhaust.h>

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#ifndef __SIZEOF_INT128__
#error "swiotlb.c needs a compiler with unsigned __int128 (the segment bitmaps)"
#endif
__extension__ typedef unsigned __int128 dm_u128;

#define DM_SLOT_MASK ((uint64_t)DM_IO_TLB_SIZE - 1)
#define DM_SEG_BYTES ((uint64_t)DM_IO_TLB_SIZE * DM_IO_TLB_SEGSIZE) /* 256 KiB */
#define DM_ORIG_TAG_SHIFT 52     /* physical addresses stay below 2^52 */
#define DM_ORIG_ADDR ((1ULL << DM_ORIG_TAG_SHIFT) - 1)
#define DM_ORIG_NONE DM_ORIG_ADDR /* a coherent allocation: no original */
#define DM_TAG_NODEV 0xfffu      /* allocations made without a device */
#define DM_META_REM_MASK 0x7ffffu /* 19 bits: up to 256 KiB inclusive */
#define DM_META_PAD_SHIFT 19
#define DM_META_QUOTA (1u << 26) /* charged to the device's bounce quota */
#define DM_META_ALIGN_SHIFT 27
#define DM_MAX_POOLS 64          /* boot + grown */
#define DM_MAX_TRANSIENT 64      /* live one-request pools */
#define DM_TR_NPAGES_BITS 12     /* packed transient range: pfn << 12 | npages */

#define DM_U128(hi, lo) (((dm_u128)(hi) << 64) | (dm_u128)(lo))
#define DM_ALL_ONES (~(dm_u128)0)

/* Bits at multiples of 2^i, for periods 1..128. */
static const dm_u128 dm_rep[8] = {
	DM_U128(~0ULL, ~0ULL),
	DM_U128(0x5555555555555555ULL, 0x5555555555555555ULL),
	DM_U128(0x1111111111111111ULL, 0x1111111111111111ULL),
	DM_U128(0x0101010101010101ULL, 0x0101010101010101ULL),
	DM_U128(0x0001000100010001ULL, 0x0001000100010001ULL),
	DM_U128(0x0000000100000001ULL, 0x0000000100000001ULL),
	DM_U128(1, 1),
	DM_U128(0, 1),
};

struct dm_swiotlb_area {
	DM_ALIGNED_CL dm_spinlock_t lock;
	uint32_t cur;             /* local segment tried first */
	uint32_t nsegs;           /* segments owned */
	uint32_t total;           /* slots owned */
	dm_u128 *bits;            /* free bitmaps of the owned segments */
	/* Written under the lock, read without it (statistics). */
	_Atomic uint64_t used;    /* slots */
	_Atomic uint64_t hiwater; /* slots */
	_Atomic uint64_t bounced; /* bytes copied in at map time */
	_Atomic uint64_t failures;/* full failures of requests starting here */
};

struct dm_swiotlb_pool {
	dmamap_phys_addr_t start; /* 2 KiB aligned */
	uint64_t len;             /* nslabs << 11 */
	uint8_t *vaddr;           /* CPU pointer of start (one linear range) */
	uint64_t *orig;
	uint32_t *meta;
	struct dm_swiotlb_area *areas;
	unsigned int nareas;      /* power of two */
	unsigned int ashift;      /* log2(nareas) */
	uint64_t nslabs;
	uint32_t nsegs;
	bool owned;               /* pages from alloc_pages, freed at destroy */
	bool transient;
	bool shared;              /* decrypted for a confidential VM; private again at free */
	uint64_t npages;          /* owned pages */
	dm_u128 *bits_mem;
	size_t bits_n;            /* entries in bits_mem */
};

struct dmamap_swiotlb {
	/* Hot, read-only after create; h first (swiotlb.h's inline contains). */
	struct dm_swiotlb_head h;
	struct dm_swiotlb_pool *boot;
	struct dmamap_ctx *ctx;
	bool force;
	bool restricted;
	bool late;                     /* made after boot (dm_swiotlb_mark_late) */
	/*
	 * DM_META_QUOTA while poisoning is on, else 0: OR-ed into the released
	 * allocation's meta, one test sends release to its slow part.
	 */
	_Atomic uint32_t rel_slow;
	_Atomic unsigned int npools;   /* published pools[] entries */
	_Atomic unsigned int ntr_hi;   /* transient table entries in use, upper bound */

	dmamap_phys_addr_t phys_limit;
	unsigned int nareas;           /* of the boot pool */
	struct dm_swiotlb_pool *_Atomic pools[DM_MAX_POOLS];
	pthread_mutex_t grow_lock;     /* one grower at a time (trylock) */

	pthread_mutex_t tr_lock;       /* transient table writers, tr_* below */
	_Atomic uint64_t tr_range[DM_MAX_TRANSIENT];
	struct dm_swiotlb_pool *_Atomic tr_pool[DM_MAX_TRANSIENT];
	_Atomic uint64_t tr_made;      /* transient pools ever made */
	_Atomic uint64_t refused;      /* unmaps and frees refused (not live) */
	uint64_t tr_bounced;           /* folded in from freed transients */

	struct dm_ratelimit rl_full;
	struct dm_ratelimit rl_big;
	struct dm_ratelimit rl_quota;
	struct dm_ratelimit rl_before;
};

static inline uint64_t dm_ld(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

static inline void dm_st(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
}

static inline dm_u128 dm_lowbits(unsigned int n)
{
	return n >= 128 ? DM_ALL_ONES : (((dm_u128)1 << n) - 1);
}

static inline unsigned int dm_ctz128(dm_u128 x)
{
	uint64_t lo = (uint64_t)x;
	return lo ? (unsigned int)__builtin_ctzll(lo)
		  : 64u + (unsigned int)__builtin_ctzll((uint64_t)(x >> 64));
}

static inline dm_u128 dm_rotr128(dm_u128 x, unsigned int r)
{
	r &= 127;
	return r ? (x >> r) | (x << (128 - r)) : x;
}

/* Bit p set: bits p .. p+n-1 of f are all set. */
static inline dm_u128 dm_runs(dm_u128 f, unsigned int n)
{
	unsigned int have = 1;
	while (have < n) {
		unsigned int s = have < n - have ? have : n - have;
		f &= f >> s;
		have += s;
	}
	return f;
}

static uint64_t dm_roundup_pow2(uint64_t x)
{
	return x <= 1 ? 1 : 1ULL << dm_fls64(x - 1);
}

/* ---- a request's geometry ----------------------------------------------- */

struct dm_req {
	unsigned int nslots;   /* whole allocation, pad slots included */
	unsigned int pad;      /* slots in front of the first data slot */
	unsigned int off_low;  /* offset of the data in its first slot */
	unsigned int rem;      /* off_low + mapping size: bytes from the first data slot */
	unsigned int alog;     /* size alignment: log2, 0 for none */
	uint64_t amask;        /* bus slot number & amask must equal aval */
	uint64_t aval;
	uint64_t bslots;       /* segment boundary in slots; 0: none */
};

/* The device's segment boundary in slots; 0: none (mask all ones). */
static inline uint64_t dm_boundary_slots(const struct dmamap_device *dev)
{
	uint64_t bmask = dev ? dev->seg_boundary_mask : ~0ULL;
	if (bmask + 1 == 0)
		return 0;
	uint64_t b = (bmask + 1) >> DM_IO_TLB_SHIFT;
	return b ? b : 1;
}

/*
 * Computes slot counts and placement constraints.  False when the request
 * cannot fit a segment.
 */
static inline __attribute__((always_inline)) bool
dm_req_init(const struct dmamap_device *dev, dmamap_phys_addr_t orig,
	    size_t mapping_size, unsigned int alloc_align_mask, struct dm_req *rq)
{
	uint64_t min_mask = dev ? dev->min_align_mask : 0;
	if (mapping_size == 0)
		mapping_size = 1; /* one slot; nothing is copied past the size */
	if (mapping_size > DM_SEG_BYTES)
		return false;
	unsigned int alog = dm_fls64(alloc_align_mask);
	uint64_t offset = orig & min_mask & ((uint64_t)alloc_align_mask | DM_SLOT_MASK);
	uint64_t size = mapping_size + offset;
	size = (size + (1ULL << alog) - 1) & ~((1ULL << alog) - 1);
	if (size > DM_SEG_BYTES)
		return false;
	rq->nslots = (unsigned int)((size + DM_SLOT_MASK) >> DM_IO_TLB_SHIFT);
	rq->pad = (unsigned int)(offset >> DM_IO_TLB_SHIFT);
	rq->off_low = (unsigned int)(offset & DM_SLOT_MASK);
	rq->rem = (unsigned int)(rq->off_low + mapping_size);
	rq->alog = alog;

	uint64_t aam = alloc_align_mask;
	if (!aam && !min_mask && size >= DMAMAP_PAGE_SIZE)
		aam = DMAMAP_PAGE_SIZE - 1;
	aam |= DM_SLOT_MASK;
	uint64_t iot = min_mask & ~aam;
	rq->amask = (aam | iot) >> DM_IO_TLB_SHIFT;
	rq->aval = (orig & iot) >> DM_IO_TLB_SHIFT;

	rq->bslots = dm_boundary_slots(dev);
	return true;
}

/* Valid start positions in the segment whose first slot is bus slot g. */
static dm_u128 dm_seg_valid(const struct dm_req *rq, uint64_t g)
{
	dm_u128 m = DM_ALL_ONES;
	uint64_t am = rq->amask;
	if (am) {
		if (dm_is_low_mask(am) && am < 128) {
			m = dm_rep[dm_fls64(am)] << ((rq->aval - g) & am);
		} else if (dm_is_low_mask(am)) {
			uint64_t p0 = (rq->aval - g) & am;
			m = p0 < 128 ? (dm_u128)1 << p0 : 0;
		} else {
			m = 0;
			for (unsigned int p = 0; p < 128; p++)
				if (((g + p) & am) == rq->aval)
					m |= (dm_u128)1 << p;
		}
	}
	uint64_t b = rq->bslots;
	if (b) {
		unsigned int n = rq->nslots;
		if (n > b)
			return 0;
		uint64_t ph = g & (b - 1);
		if (b <= 128) {
			dm_u128 pat = dm_rep[dm_ilog2_pow2(b)] * dm_lowbits((unsigned int)(b - n + 1));
			m &= dm_rotr128(pat, (unsigned int)ph);
		} else if (ph && b - ph < 128) {
			unsigned int pb = (unsigned int)(b - ph); /* boundary inside */
			unsigned int lo = pb + 1 > n ? pb + 1 - n : 0;
			m &= ~(dm_lowbits(pb) & ~dm_lowbits(lo));
		}
	}
	return m;
}

/*
 * True when one start mask serves every segment of a pool whose first bus
 * slot is g0 (alignment periods up to a segment, boundaries on segments).
 */
static inline bool dm_req_uniform(const struct dm_req *rq, uint64_t g0)
{
	uint64_t am = rq->amask, b = rq->bslots;
	return (am == 0 || (am < 128 && dm_is_low_mask(am))) &&
	       (b == 0 || b <= 128 || (g0 & 127) == 0);
}

/* ---- pools ---------------------------------------------------------------- */

static void dm_pool_free(struct dmamap_ctx *ctx, struct dm_swiotlb_pool *pool)
{
	if (!pool)
		return;
	bool private = true;
	if (pool->shared &&
	    ctx->plat.ops->set_decrypted(ctx->plat.priv, pool->start, pool->len, false)) {
		/* As Linux's swiotlb_free_tlb: memory that cannot be made private again is leaked. */
		dm_log(ctx, DMAMAP_LOG_ERR, "swiotlb: 0x%llx+0x%llx cannot be made private again: leaked",
		       (unsigned long long)pool->start, (unsigned long long)pool->len);
		private = false;
	}
	if (pool->owned && private)
		ctx->plat.ops->free_pages(ctx->plat.priv, pool->start, pool->npages);
	free(pool->orig);
	free(pool->meta);
	free(pool->bits_mem);
	free(pool->areas);
	free(pool);
}

static size_t dm_round_cl(size_t n)
{
	return (n + DM_CACHELINE - 1) & ~(size_t)(DM_CACHELINE - 1);
}

/*
 * Builds the bookkeeping over [phys, phys + nslabs * 2 KiB), which must be
 * one linear CPU range.  nareas: a power of two, at most the segments.
 */
static struct dm_swiotlb_pool *dm_pool_new(struct dmamap_ctx *ctx,
					   dmamap_phys_addr_t phys,
					   uint64_t nslabs, unsigned int nareas)
{
	uint64_t len = nslabs << DM_IO_TLB_SHIFT;
	uint8_t *vaddr = dm_phys_to_virt(ctx, phys);
	if (!vaddr || (uint8_t *)dm_phys_to_virt(ctx, phys + len - 1) != vaddr + len - 1)
		return NULL;
	struct dm_swiotlb_pool *pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->start = phys;
	pool->len = len;
	pool->vaddr = vaddr;
	pool->nslabs = nslabs;
	pool->nsegs = (uint32_t)((nslabs + DM_IO_TLB_SEGSIZE - 1) / DM_IO_TLB_SEGSIZE);
	pool->nareas = nareas;
	pool->ashift = dm_ilog2_pow2(nareas);
	pool->orig = calloc(nslabs, sizeof(*pool->orig));
	pool->meta = calloc(nslabs, sizeof(*pool->meta));
	pool->areas = aligned_alloc(DM_CACHELINE, dm_round_cl(nareas * sizeof(*pool->areas)));
	/* Each area's bitmaps start on their own cache line (4 per line). */
	size_t per_line = DM_CACHELINE / sizeof(dm_u128);
	size_t nbits = 0;
	for (unsigned int a = 0; a < nareas; a++) {
		size_t n = pool->nsegs / nareas + (a < pool->nsegs % nareas);
		nbits += (n + per_line - 1) / per_line * per_line;
	}
	pool->bits_n = nbits;
	pool->bits_mem = aligned_alloc(DM_CACHELINE, nbits * sizeof(dm_u128));
	if (!pool->orig || !pool->meta || !pool->areas || !pool->bits_mem) {
		/* The host's shortage, said as one (the caller returns -ENOMEM). */
		dm_log(ctx, DMAMAP_LOG_ERR, "swiotlb: this host cannot allocate %llu bytes of "
		       "bookkeeping for a pool of %llu slots",
		       (unsigned long long)(nslabs * (sizeof(*pool->orig) + sizeof(*pool->meta)) +
					    nbits * sizeof(dm_u128) +
					    dm_round_cl(nareas * sizeof(*pool->areas))),
		       (unsigned long long)nslabs);
		dm_pool_free(ctx, pool);
		return NULL;
	}
	memset(pool->areas, 0, nareas * sizeof(*pool->areas));
	/* No slot has an original until mapped (pad slots never get one). */
	for (uint64_t i = 0; i < nslabs; i++)
		pool->orig[i] = DM_ORIG_NONE;
	memset(pool->bits_mem, 0, nbits * sizeof(dm_u128));
	size_t at = 0;
	for (unsigned int a = 0; a < nareas; a++) {
		struct dm_swiotlb_area *ar = &pool->areas[a];
		atomic_init(&ar->lock, 0);
		ar->nsegs = (uint32_t)(pool->nsegs / nareas + (a < pool->nsegs % nareas));
		ar->bits = pool->bits_mem + at;
		at += (ar->nsegs + per_line - 1) / per_line * per_line;
		for (uint32_t ls = 0; ls < ar->nsegs; ls++) {
			uint64_t gs = ((uint64_t)ls << pool->ashift) + a;
			uint64_t left = nslabs - gs * DM_IO_TLB_SEGSIZE;
			unsigned int n = left < DM_IO_TLB_SEGSIZE ? (unsigned int)left
								  : DM_IO_TLB_SEGSIZE;
			ar->bits[ls] = dm_lowbits(n);
			ar->total += n;
		}
	}
	return pool;
}

/*
 * A confidential VM's bounce pool is shared with the host, or the host's
 * device could not read it (Linux: swiotlb_update_mem_attributes for the
 * boot pool, swiotlb_alloc_tlb for grown and transient ones,
 * rmem_swiotlb_device_init for restricted ones).  Without the platform's
 * hook the pool stays private (the context said so at creation).  False
 * when the platform refused: the caller frees the pool.
 */
static bool dm_pool_share(struct dmamap_ctx *ctx, struct dm_swiotlb_pool *pool)
{
	if (!ctx->cfg.cc_guest || !ctx->plat.ops->set_decrypted)
		return true;
	if (ctx->plat.ops->set_decrypted(ctx->plat.priv, pool->start, pool->len, true))
		return false;
	pool->shared = true;
	return true;
}

/* Pool memory from the platform: slots rounded to segments, areas limited. */
static struct dm_swiotlb_pool *dm_pool_alloc(struct dmamap_ctx *ctx, uint64_t nslabs,
					     unsigned int nareas,
					     dmamap_phys_addr_t limit)
{
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	nslabs = (nslabs + DM_IO_TLB_SEGSIZE - 1) / DM_IO_TLB_SEGSIZE * DM_IO_TLB_SEGSIZE;
	uint64_t nsegs = nslabs / DM_IO_TLB_SEGSIZE;
	nareas = (unsigned int)dm_roundup_pow2(nareas ? nareas : 1);
	while (nareas > nsegs)
		nareas >>= 1;
	uint64_t npages = (nslabs << DM_IO_TLB_SHIFT) >> DMAMAP_PAGE_SHIFT;
	dmamap_phys_addr_t phys;
	/* Segment-aligned when possible: one start mask then fits all segments. */
	if (ops->alloc_pages(ctx->plat.priv, npages, DM_SEG_BYTES >> DMAMAP_PAGE_SHIFT,
			     limit, &phys) &&
	    ops->alloc_pages(ctx->plat.priv, npages, 1, limit, &phys))
		return NULL;
	struct dm_swiotlb_pool *pool = dm_pool_new(ctx, phys, nslabs, nareas);
	if (!pool) {
		ops->free_pages(ctx->plat.priv, phys, npages);
		return NULL;
	}
	pool->owned = true;
	pool->npages = npages;
	if (!dm_pool_share(ctx, pool)) {
		dm_pool_free(ctx, pool);
		return NULL;
	}
	return pool;
}

static struct dmamap_swiotlb *dm_mem_new(struct dmamap_ctx *ctx,
					 struct dm_swiotlb_pool *boot)
{
	struct dmamap_swiotlb *mem = aligned_alloc(DM_CACHELINE, dm_round_cl(sizeof(*mem)));
	if (!mem)
		return NULL;
	memset(mem, 0, sizeof(*mem));
	mem->ctx = ctx;
	mem->boot = boot;
	mem->h.boot_start = boot->start;
	mem->h.boot_len = boot->len;
	mem->nareas = boot->nareas;
	atomic_init(&mem->pools[0], boot);
	atomic_init(&mem->npools, 1);
	pthread_mutex_init(&mem->grow_lock, NULL);
	pthread_mutex_init(&mem->tr_lock, NULL);
	dm_ratelimit_init(&mem->rl_full);
	dm_ratelimit_init(&mem->rl_big);
	dm_ratelimit_init(&mem->rl_quota);
	dm_ratelimit_init(&mem->rl_before);
	/* The bootarg wins over the configuration; by default poisoning is on
	 * exactly when the DMA API checker is (it is a debugging aid: the
	 * release path pays for the fill). */
	int bp = ctx->opts.swiotlb_poison;
	bool poison = bp >= 0 ? bp == 1
		      : ctx->cfg.swiotlb_poison == DMAMAP_POISON_DEFAULT ? ctx->debug != NULL
		      : ctx->cfg.swiotlb_poison == DMAMAP_POISON_ON;
	atomic_init(&mem->rel_slow, poison ? DM_META_QUOTA : 0);
	return mem;
}

int dm_swiotlb_create(struct dmamap_ctx *ctx, const struct dm_swiotlb_params *p,
		      struct dmamap_swiotlb **out)
{
	if (!ctx || !p || !out || p->nslabs == 0)
		return -EINVAL;
	if (p->nslabs > DMAMAP_SWIOTLB_MAX_POOL_BYTES >> DM_IO_TLB_SHIFT)
		return -E2BIG;
	*out = NULL;
	unsigned int nareas = p->nareas ? p->nareas : ctx->plat.ncpus;
	struct dm_swiotlb_pool *boot = dm_pool_alloc(ctx, p->nslabs, nareas, p->phys_limit);
	if (!boot)
		return -ENOMEM;
	struct dmamap_swiotlb *mem = dm_mem_new(ctx, boot);
	if (!mem) {
		dm_pool_free(ctx, boot);
		return -ENOMEM;
	}
	mem->h.dynamic = p->dynamic;
	mem->force = p->force;
	mem->phys_limit = p->phys_limit;
	*out = mem;
	return 0;
}

int dm_swiotlb_create_at(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys,
			 uint64_t size, struct dmamap_swiotlb **out)
{
	if (!ctx || !out || (phys & DM_SLOT_MASK) || size < DM_IO_TLB_SIZE ||
	    phys + size - 1 < phys)
		return -EINVAL;
	*out = NULL;
	if (size > DMAMAP_SWIOTLB_MAX_POOL_BYTES)
		return -E2BIG;
	/* Linearly mapped first: dm_pool_new's NULL is then the host's shortage. */
	uint8_t *vaddr = dm_phys_to_virt(ctx, phys);
	if (!vaddr || (uint8_t *)dm_phys_to_virt(ctx, phys + size - 1) != vaddr + size - 1)
		return -EINVAL;
	struct dm_swiotlb_pool *pool = dm_pool_new(ctx, phys, size >> DM_IO_TLB_SHIFT, 1);
	if (!pool)
		return -ENOMEM;
	if (!dm_pool_share(ctx, pool)) {
		dm_pool_free(ctx, pool);
		return -EIO;
	}
	struct dmamap_swiotlb *mem = dm_mem_new(ctx, pool);
	if (!mem) {
		dm_pool_free(ctx, pool);
		return -ENOMEM;
	}
	mem->restricted = true;
	mem->force = true; /* its users bounce every mapping */
	mem->phys_limit = phys + size - 1;
	*out = mem;
	return 0;
}

void dm_swiotlb_destroy(struct dmamap_swiotlb *mem)
{
	if (!mem)
		return;
	struct dmamap_ctx *ctx = mem->ctx;
	unsigned int n = atomic_load(&mem->npools);
	for (unsigned int i = 0; i < n; i++)
		dm_pool_free(ctx, atomic_load(&mem->pools[i]));
	for (unsigned int i = 0; i < DM_MAX_TRANSIENT; i++)
		dm_pool_free(ctx, atomic_load(&mem->tr_pool[i]));
	pthread_mutex_destroy(&mem->grow_lock);
	pthread_mutex_destroy(&mem->tr_lock);
	pthread_mutex_destroy(&mem->rl_full.lock);
	pthread_mutex_destroy(&mem->rl_big.lock);
	pthread_mutex_destroy(&mem->rl_quota.lock);
	pthread_mutex_destroy(&mem->rl_before.lock);
	free(mem);
}

void dm_swiotlb_mark_late(struct dmamap_swiotlb *mem)
{
	mem->late = true;
}

bool dm_swiotlb_is_force(const struct dmamap_swiotlb *mem)
{
	return mem && mem->force;
}

/* ---- which pool holds an address ------------------------------------------- */

static inline bool dm_tr_hit(uint64_t r, dmamap_phys_addr_t phys)
{
	if (!r)
		return false;
	uint64_t base = (r >> DM_TR_NPAGES_BITS) << DMAMAP_PAGE_SHIFT;
	uint64_t len = (r & ((1u << DM_TR_NPAGES_BITS) - 1)) << DMAMAP_PAGE_SHIFT;
	return phys - base < len;
}

static __attribute__((noinline)) struct dm_swiotlb_pool *
dm_pool_of_slow(struct dmamap_swiotlb *mem, dmamap_phys_addr_t phys, int *tidx)
{
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	for (unsigned int i = 1; i < n; i++) {
		struct dm_swiotlb_pool *p =
			atomic_load_explicit(&mem->pools[i], memory_order_relaxed);
		if (phys - p->start < p->len)
			return p;
	}
	unsigned int hi = atomic_load_explicit(&mem->ntr_hi, memory_order_acquire);
	for (unsigned int i = 0; i < hi; i++) {
		if (dm_tr_hit(atomic_load_explicit(&mem->tr_range[i], memory_order_acquire),
			      phys)) {
			*tidx = (int)i;
			return atomic_load_explicit(&mem->tr_pool[i], memory_order_acquire);
		}
	}
	return NULL;
}

/* The pool holding phys (*tidx: transient table index, else -1), or NULL. */
static inline struct dm_swiotlb_pool *dm_pool_of(struct dmamap_swiotlb *mem,
						 dmamap_phys_addr_t phys, int *tidx)
{
	*tidx = -1;
	if (dm_likely(phys - mem->h.boot_start < mem->h.boot_len))
		return mem->boot;
	if (!mem->h.dynamic)
		return NULL;
	return dm_pool_of_slow(mem, phys, tidx);
}

bool dm_swiotlb_contains(const struct dmamap_swiotlb *mem, dmamap_phys_addr_t phys)
{
	if (!mem)
		return false;
	if (dm_likely(phys - mem->h.boot_start < mem->h.boot_len))
		return true;
	if (dm_likely(!mem->h.dynamic))
		return false;
	int tidx;
	return dm_pool_of((struct dmamap_swiotlb *)mem, phys, &tidx) != NULL;
}

/* ---- slot search ---------------------------------------------------------- */

static inline uint64_t dm_pool_bus_slot(const struct dmamap_device *dev,
					const struct dm_swiotlb_pool *pool)
{
	dmamap_dma_addr_t bus = dev ? dm_phys_to_dma(dev, pool->start) : pool->start;
	if (bus == DMAMAP_MAPPING_ERROR)
		bus = pool->start;
	return bus >> DM_IO_TLB_SHIFT;
}

/* Called with the area locked.  First slot of the allocation, or -1. */
static int64_t dm_area_search(struct dm_swiotlb_pool *pool, unsigned int a,
			      const struct dm_req *rq, uint64_t g0, bool uniform,
			      dm_u128 umask)
{
	struct dm_swiotlb_area *ar = &pool->areas[a];
	unsigned int n = rq->nslots;
	if (ar->total - dm_ld(&ar->used) < n)
		return -1;
	uint32_t nsegs = ar->nsegs, ls = ar->cur;
	dm_u128 *bits = ar->bits;
	for (uint32_t k = 0; k < nsegs; k++) {
		dm_u128 f = bits[ls];
		if (f) {
			dm_u128 c = dm_runs(f, n);
			if (c) {
				uint64_t gs = ((uint64_t)ls << pool->ashift) + a;
				c &= uniform ? umask
					     : dm_seg_valid(rq, g0 + gs * DM_IO_TLB_SEGSIZE);
				if (c) {
					unsigned int p = dm_ctz128(c);
					bits[ls] = f & ~(dm_lowbits(n) << p);
					ar->cur = ls;
					return (int64_t)(gs * DM_IO_TLB_SEGSIZE + p);
				}
			}
		}
		if (++ls == nsegs)
			ls = 0;
	}
	return -1;
}

/* Counts an allocation of n slots made in the locked area. */
static inline void dm_area_account(struct dm_swiotlb_area *ar, unsigned int n,
				   size_t bounce)
{
	uint64_t used = dm_ld(&ar->used) + n;
	dm_st(&ar->used, used);
	if (used > dm_ld(&ar->hiwater))
		dm_st(&ar->hiwater, used);
	if (bounce)
		dm_st(&ar->bounced, dm_ld(&ar->bounced) + bounce);
}

/* Tries every area of the pool, the caller's first.  Slot or -1. */
static __attribute__((noinline)) int64_t
dm_pool_find_slow(const struct dmamap_device *dev, struct dm_swiotlb_pool *pool,
		  unsigned int cpu, const struct dm_req *rq, size_t bounce)
{
	uint64_t g0 = dm_pool_bus_slot(dev, pool);
	bool uniform = dm_req_uniform(rq, g0);
	dm_u128 umask = uniform ? dm_seg_valid(rq, g0) : 0;
	if (uniform && !umask)
		return -1;
	unsigned int amask = pool->nareas - 1;
	for (unsigned int i = 0; i <= amask; i++) {
		unsigned int a = (cpu + i) & amask;
		struct dm_swiotlb_area *ar = &pool->areas[a];
		dm_spin_lock(&ar->lock);
		int64_t slot = dm_area_search(pool, a, rq, g0, uniform, umask);
		if (slot >= 0) {
			dm_area_account(ar, rq->nslots, bounce);
			dm_spin_unlock(&ar->lock);
			return slot;
		}
		dm_spin_unlock(&ar->lock);
	}
	return -1;
}

/*
 * The fast path: the caller's area, the segment it last used, one start
 * mask for all segments.  Everything else goes to dm_pool_find_slow.
 */
static inline __attribute__((always_inline)) int64_t
dm_pool_find(const struct dmamap_device *dev, struct dm_swiotlb_pool *pool,
	     unsigned int cpu, const struct dm_req *rq, size_t bounce)
{
	uint64_t g0 = dm_pool_bus_slot(dev, pool);
	uint64_t am = rq->amask;
	/*
	 * A segment boundary no slot of this pool straddles (PCI's 4 GiB one,
	 * for a pool that does not cross a 4 GiB line in bus space) constrains
	 * nothing: the fast search applies.  bslots is a power of two.
	 */
	uint64_t bs = rq->bslots;
	bool no_boundary = bs == 0 || ((g0 ^ (g0 + pool->nslabs - 1)) & ~(bs - 1)) == 0;
	if (dm_likely(am < 128 && dm_is_low_mask(am) && no_boundary)) {
		dm_u128 umask = dm_rep[dm_fls64(am)] << ((rq->aval - g0) & am);
		unsigned int a = cpu & (pool->nareas - 1), n = rq->nslots;
		struct dm_swiotlb_area *ar = &pool->areas[a];
		dm_spin_lock(&ar->lock);
		uint32_t ls = ar->cur;
		dm_u128 f = ar->bits[ls];
		dm_u128 c = dm_runs(f, n) & umask;
		if (dm_likely(c)) {
			unsigned int p = dm_ctz128(c);
			ar->bits[ls] = f & ~(dm_lowbits(n) << p);
			dm_area_account(ar, n, bounce);
			dm_spin_unlock(&ar->lock);
			return (int64_t)((((uint64_t)ls << pool->ashift) + a) *
					 DM_IO_TLB_SEGSIZE + p);
		}
		dm_spin_unlock(&ar->lock);
	}
	return dm_pool_find_slow(dev, pool, cpu, rq, bounce);
}

/* The tag bits of dev's allocations in orig[] (never 0). */
static inline uint64_t dm_tag(const struct dmamap_device *dev)
{
	return (uint64_t)(dev ? dev->slot_tag : DM_TAG_NODEV) << DM_ORIG_TAG_SHIFT;
}

/*
 * Gives the allocation starting at slot `first` (n slots, first data slot
 * s) back, if s still carries tag: checked and cleared under the area's
 * lock, so of two racing unmaps of one mapping only one releases it.
 */
static inline bool dm_pool_release(struct dm_swiotlb_pool *pool, uint64_t first, unsigned int n,
				   uint64_t s, uint64_t tag)
{
	uint64_t gs = first / DM_IO_TLB_SEGSIZE;
	unsigned int a = (unsigned int)(gs & (pool->nareas - 1));
	uint32_t ls = (uint32_t)(gs >> pool->ashift);
	unsigned int p = (unsigned int)(first % DM_IO_TLB_SEGSIZE);
	struct dm_swiotlb_area *ar = &pool->areas[a];
	dm_spin_lock(&ar->lock);
	if (dm_unlikely((pool->orig[s] & ~DM_ORIG_ADDR) != tag)) {
		dm_spin_unlock(&ar->lock);
		return false;
	}
	/* Free slots have no original (Linux: INVALID_PHYS_ADDR): a stray sync copies nothing. */
	for (uint64_t i = first; i < first + n; i++)
		pool->orig[i] = DM_ORIG_NONE;
	ar->bits[ls] |= dm_lowbits(n) << p;
	dm_st(&ar->used, dm_ld(&ar->used) - n);
	ar->cur = ls;
	dm_spin_unlock(&ar->lock);
	return true;
}

/* ---- growth ------------------------------------------------------------------- */

static void dm_tr_free(struct dmamap_swiotlb *mem, int tidx, struct dm_swiotlb_pool *pool)
{
	pthread_mutex_lock(&mem->tr_lock);
	atomic_store_explicit(&mem->tr_range[tidx], 0, memory_order_release);
	atomic_store_explicit(&mem->tr_pool[tidx], NULL, memory_order_release);
	mem->tr_bounced += dm_ld(&pool->areas[0].bounced);
	pthread_mutex_unlock(&mem->tr_lock);
	dm_pool_free(mem->ctx, pool);
}

/*
 * A one-request pool, placed so that the request's alignment can be met,
 * with the request already allocated in it and bounced bytes counted.
 */
static struct dm_swiotlb_pool *dm_tr_make(const struct dmamap_device *dev,
					  struct dmamap_swiotlb *mem,
					  const struct dm_req *rq, size_t bounce,
					  int64_t *slot)
{
	struct dmamap_ctx *ctx = mem->ctx;
	uint64_t period = rq->amask && dm_is_low_mask(rq->amask) ? rq->amask + 1 : 1;
	uint64_t lead = period > 1 ? rq->aval & (period - 1) : 0;
	uint64_t nslots = lead + rq->nslots;
	if (nslots > 2 * DM_IO_TLB_SEGSIZE)
		return NULL;
	uint64_t npages = (nslots + 1) / 2;
	uint64_t align = dm_roundup_pow2(npages);
	if (period / 2 > align)
		align = period / 2;
	/*
	 * As Linux's swiotlb_find_slots (CONFIG_SWIOTLB_DYNAMIC): a pool for
	 * one request is placed below the device's reach,
	 * min_not_zero(dma_mask, bus_dma_limit), not below the default pool's
	 * phys_limit (that one is for pools every device shares, dm_grow).
	 * dmamap also translates the reach through the device's windows.
	 */
	dmamap_phys_addr_t limit = mem->phys_limit;
	if (dev && dev->direct_limit) {
		limit = dm_phys_limit(dev, dev->direct_limit);
		if (!limit)
			return NULL; /* no window below the reach: no pool helps */
	}
	dmamap_phys_addr_t phys;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	if (ops->alloc_pages(ctx->plat.priv, npages, align, limit, &phys))
		return NULL;
	struct dm_swiotlb_pool *pool = dm_pool_new(ctx, phys, npages * 2, 1);
	if (!pool) {
		ops->free_pages(ctx->plat.priv, phys, npages);
		return NULL;
	}
	pool->owned = true;
	pool->npages = npages;
	pool->transient = true;
	if (!dm_pool_share(ctx, pool)) {
		dm_pool_free(ctx, pool);
		return NULL;
	}
	*slot = dm_pool_find(dev, pool, 0, rq, bounce);
	if (*slot < 0) {
		dm_pool_free(ctx, pool);
		return NULL;
	}
	/* Publish: contains() and release find it from here on. */
	pthread_mutex_lock(&mem->tr_lock);
	int idx = -1;
	for (int i = 0; i < DM_MAX_TRANSIENT; i++) {
		if (!atomic_load_explicit(&mem->tr_range[i], memory_order_relaxed)) {
			idx = i;
			break;
		}
	}
	if (idx < 0) {
		pthread_mutex_unlock(&mem->tr_lock);
		dm_pool_free(ctx, pool);
		return NULL;
	}
	atomic_store_explicit(&mem->tr_pool[idx], pool, memory_order_release);
	atomic_store_explicit(&mem->tr_range[idx],
			      ((phys >> DMAMAP_PAGE_SHIFT) << DM_TR_NPAGES_BITS) | npages,
			      memory_order_release);
	if ((unsigned int)idx >= atomic_load_explicit(&mem->ntr_hi, memory_order_relaxed))
		atomic_store_explicit(&mem->ntr_hi, (unsigned int)idx + 1,
				      memory_order_release);
	atomic_fetch_add_explicit(&mem->tr_made, 1, memory_order_relaxed);
	pthread_mutex_unlock(&mem->tr_lock);
	return pool;
}

/* Adds a pool of the boot pool's size (halved down to 1 MiB on failure). */
static void dm_grow(struct dmamap_swiotlb *mem, unsigned int seen)
{
	if (pthread_mutex_trylock(&mem->grow_lock))
		return; /* another thread is growing */
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_relaxed);
	if (n == seen && n < DM_MAX_POOLS) {
		uint64_t nslabs = mem->boot->nslabs;
		struct dm_swiotlb_pool *pool;
		for (;;) {
			pool = dm_pool_alloc(mem->ctx, nslabs, mem->nareas, mem->phys_limit);
			if (pool || nslabs <= DM_IO_TLB_MIN_SLABS)
				break;
			nslabs /= 2;
			if (nslabs < DM_IO_TLB_MIN_SLABS)
				nslabs = DM_IO_TLB_MIN_SLABS;
		}
		/* Silent, as Linux: the map path may run with NO_WARN. */
		if (pool) {
			atomic_store_explicit(&mem->pools[n], pool, memory_order_relaxed);
			atomic_store_explicit(&mem->npools, n + 1, memory_order_release);
		}
	}
	pthread_mutex_unlock(&mem->grow_lock);
}

/* ---- find + record --------------------------------------------------------------- */

/* The grown pools, then a transient pool.  Slot or -1. */
static __attribute__((noinline)) int64_t
dm_find_dynamic(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		unsigned int cpu, const struct dm_req *rq, size_t bounce,
		struct dm_swiotlb_pool **pool)
{
	int64_t slot = -1;
	unsigned int from = 1;
	for (int round = 0; round < 2; round++) {
		unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
		for (unsigned int i = from; i < n; i++) {
			struct dm_swiotlb_pool *p =
				atomic_load_explicit(&mem->pools[i], memory_order_relaxed);
			slot = dm_pool_find(dev, p, cpu, rq, bounce);
			if (slot >= 0) {
				*pool = p;
				return slot;
			}
		}
		if (round == 0 && atomic_load_explicit(&mem->npools, memory_order_acquire) != n) {
			from = n; /* grown meanwhile: look there first */
			continue;
		}
		/* All full: a pool just for this request, and grow for later ones. */
		struct dm_swiotlb_pool *tp = dm_tr_make(dev, mem, rq, bounce, &slot);
		dm_grow(mem, n);
		if (tp) {
			*pool = tp;
			return slot;
		}
		return -1;
	}
	return -1;
}

/* Slot of the allocation in *pool, or -1 (nothing free anywhere). */
static inline __attribute__((always_inline)) int64_t
dm_find(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
	const struct dm_req *rq, size_t bounce, struct dm_swiotlb_pool **pool)
{
	unsigned int cpu = dm_cpu();
	int64_t slot = dm_pool_find(dev, mem->boot, cpu, rq, bounce);
	if (dm_likely(slot >= 0)) {
		*pool = mem->boot;
		return slot;
	}
	if (!mem->h.dynamic)
		return -1;
	return dm_find_dynamic(dev, mem, cpu, rq, bounce, pool);
}

/* Fills orig/meta for the allocation; returns the bounce address. */
static inline dmamap_phys_addr_t dm_record(struct dm_swiotlb_pool *pool, uint64_t first,
					   const struct dm_req *rq,
					   dmamap_phys_addr_t orig, uint64_t tag)
{
	uint64_t s = first + rq->pad, end = first + rq->nslots;
	uint64_t o = orig - rq->off_low;
	unsigned int rem = rq->rem;
	pool->orig[s] = orig | tag; /* the original itself: dm_bounce finds the start */
	pool->meta[s] = rem | (rq->pad << DM_META_PAD_SHIFT) | (rq->alog << DM_META_ALIGN_SHIFT);
	for (uint64_t i = s + 1; i < end; i++) {
		o += DM_IO_TLB_SIZE;
		rem = rem > DM_IO_TLB_SIZE ? rem - DM_IO_TLB_SIZE : 0;
		pool->orig[i] = o;
		pool->meta[i] = rem;
	}
	return pool->start + (s << DM_IO_TLB_SHIFT) + rq->off_low;
}

/* Slots of the allocation whose first data slot is s (meta m). */
static inline void dm_alloc_of(uint32_t m, uint64_t s, uint64_t *first, unsigned int *n)
{
	unsigned int pad = (m >> DM_META_PAD_SHIFT) & 127;
	unsigned int alog = m >> DM_META_ALIGN_SHIFT;
	uint64_t size = ((uint64_t)pad << DM_IO_TLB_SHIFT) + (m & DM_META_REM_MASK);
	size = (size + (1ULL << alog) - 1) & ~((1ULL << alog) - 1);
	*n = (unsigned int)((size + DM_SLOT_MASK) >> DM_IO_TLB_SHIFT);
	if (*n == 0)
		*n = 1;
	*first = s - pad;
}

static uint64_t dm_used_slots(struct dmamap_swiotlb *mem, uint64_t *total)
{
	uint64_t used = 0, tot = 0;
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	for (unsigned int i = 0; i < n; i++) {
		struct dm_swiotlb_pool *p = atomic_load_explicit(&mem->pools[i],
								 memory_order_relaxed);
		for (unsigned int a = 0; a < p->nareas; a++)
			used += dm_ld(&p->areas[a].used);
		tot += p->nslabs;
	}
	if (total)
		*total = tot;
	return used;
}

static __attribute__((noinline)) void dm_full(struct dmamap_device *dev,
					      struct dmamap_swiotlb *mem,
					      size_t mapping_size, unsigned long attrs)
{
	struct dm_swiotlb_pool *boot = mem->boot;
	struct dm_swiotlb_area *ar = &boot->areas[dm_cpu() & (boot->nareas - 1)];
	if (dm_tls_ex_retry)
		return; /* a queued request's retry: counted when it first failed */
	atomic_fetch_add_explicit(&ar->failures, 1, memory_order_relaxed);
	if (attrs & DMAMAP_ATTR_NO_WARN)
		return;
	if (!dm_ratelimit_ok(mem->ctx, &mem->rl_full, "swiotlb_tbl_map_single"))
		return;
	uint64_t total, used = dm_used_slots(mem, &total);
	dm_log(mem->ctx, DMAMAP_LOG_WARN,
	       "%s: swiotlb buffer is full (sz: %zu bytes), total %llu (slots), used %llu (slots)",
	       dev && dev->name ? dev->name : "(no device)", mapping_size,
	       (unsigned long long)total, (unsigned long long)used);
}

static void dm_too_big(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		       size_t mapping_size, unsigned long attrs)
{
	if (attrs & DMAMAP_ATTR_NO_WARN)
		return;
	if (!dm_ratelimit_ok(mem->ctx, &mem->rl_big, "swiotlb_tbl_map_single"))
		return;
	dm_log(mem->ctx, DMAMAP_LOG_ERR, "%s: swiotlb: mapping of %zu bytes exceeds the maximum %zu "
	       "(with its offset and alignment it cannot fit one 256 KiB segment)",
	       dev && dev->name ? dev->name : "(no device)", mapping_size,
	       dm_swiotlb_max_mapping_size(dev));
}

/* ---- bounce quotas ---------------------------------------------------------------- */

/*
 * Reserves bytes of dev's quota.  False when that would pass it: noted as
 * exhaustion, counted and logged (rate-limited, not for retries or NO_WARN).
 */
static bool dm_quota_take(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			  uint64_t bytes, size_t mapping_size, unsigned long attrs)
{
	uint64_t lim = dev->ex.bq_limit;
	uint64_t h = atomic_load(&dev->ex.bq_held);
	do {
		if (h > lim || bytes > lim - h) {
			if (dm_tls_ex_retry)
				return false;
			atomic_fetch_add_explicit(&dev->ex.bq_refusals, 1, memory_order_relaxed);
			if (!(attrs & DMAMAP_ATTR_NO_WARN) &&
			    dm_ratelimit_ok(mem->ctx, &mem->rl_quota, "swiotlb bounce quota"))
				dm_log(mem->ctx, DMAMAP_LOG_WARN,
				       "%s: bounce quota of %llu bytes reached (sz: %zu bytes, %llu held)",
				       dev->name, (unsigned long long)lim, mapping_size,
				       (unsigned long long)h);
			return false;
		}
	} while (!atomic_compare_exchange_weak(&dev->ex.bq_held, &h, h + bytes));
	h += bytes;
	uint64_t hi = atomic_load_explicit(&dev->ex.bq_hiwater, memory_order_relaxed);
	while (h > hi && !atomic_compare_exchange_weak_explicit(&dev->ex.bq_hiwater, &hi, h,
								 memory_order_relaxed,
								 memory_order_relaxed))
		;
	return true;
}

/*
 * Gives quota bytes back.  The fence orders the subtraction before the
 * caller's look at the queue (a waiter that enqueued first sees the bytes).
 */
static void dm_quota_put(struct dmamap_device *dev, uint64_t bytes)
{
	atomic_fetch_sub(&dev->ex.bq_held, bytes);
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * The rare part of a release, while the slots are still the caller's:
 * poison them (and write the poison back for a non-coherent device, whose
 * reads come from memory), give quota bytes back.
 */
static __attribute__((noinline)) void
dm_release_extras(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		  struct dm_swiotlb_pool *pool, uint64_t first, unsigned int n, bool charged)
{
	uint64_t bytes = (uint64_t)n << DM_IO_TLB_SHIFT;
	if (atomic_load_explicit(&mem->rel_slow, memory_order_relaxed)) {
		memset(pool->vaddr + (first << DM_IO_TLB_SHIFT), DMAMAP_SWIOTLB_POISON, bytes);
		if (dev && !dev->coherent)
			dm_cache_for_device(mem->ctx, pool->start + (first << DM_IO_TLB_SHIFT),
					    bytes);
	}
	if (charged && dev)
		dm_quota_put(dev, bytes);
}

/* ---- mapping ---------------------------------------------------------------------- */

size_t dm_swiotlb_max_mapping_size(const struct dmamap_device *dev)
{
	unsigned int mask = dev ? dev->min_align_mask : 0;
	size_t min_align = mask ? ((size_t)mask + DM_SLOT_MASK) & ~(size_t)DM_SLOT_MASK : 0;
	return (size_t)DM_SEG_BYTES - min_align;
}

/*
 * The map; quota is a constant: the common copy has no quota code, the
 * copy for devices with a bounce quota charges it before the search.
 * Errors as dm_swiotlb_tbl_map's.
 */
static inline __attribute__((always_inline)) int
dm_tbl_map(struct dmamap_device *dev, struct dmamap_swiotlb *mem, dmamap_phys_addr_t orig,
	   size_t mapping_size, unsigned int alloc_align_mask, unsigned long attrs, bool quota,
	   dmamap_phys_addr_t *out)
{
	struct dm_req rq;
	/*
	 * As Linux's swiotlb_tbl_map_single: no comparison with
	 * swiotlb_max_mapping_size (a query for drivers, the size that fits
	 * whatever the buffer's offset).  What can never fit, the size plus
	 * the min_align_mask offset beyond one segment, is refused here
	 * (-EINVAL), apart from a pool that is only full (-ENOMEM below).
	 */
	if (dm_unlikely(!dm_req_init(dev, orig, mapping_size, alloc_align_mask, &rq))) {
		dm_too_big(dev, mem, mapping_size, attrs);
		return -EINVAL;
	}
	void *src = mapping_size ? dm_phys_to_virt(mem->ctx, orig) : NULL;
	if (dm_unlikely(mapping_size && !src))
		return -EIO; /* not RAM: nothing to bounce */
	struct dm_swiotlb_pool *pool;
	uint64_t qbytes = (uint64_t)rq.nslots << DM_IO_TLB_SHIFT;
	if (quota && !dm_quota_take(dev, mem, qbytes, mapping_size, attrs))
		return -EDQUOT;
	int64_t slot = dm_find(dev, mem, &rq, mapping_size, &pool);
	if (dm_unlikely(slot < 0)) {
		if (quota) {
			/* Give it back; a request of this device may have queued meanwhile. */
			dm_quota_put(dev, qbytes);
			dm_exhaust_released(mem->ctx);
		}
		dm_full(dev, mem, mapping_size, attrs);
		return -ENOMEM;
	}
	dmamap_phys_addr_t tlb = dm_record(pool, (uint64_t)slot, &rq, orig, dm_tag(dev));
	if (quota)
		pool->meta[(uint64_t)slot + rq.pad] |= DM_META_QUOTA;
	/* Always, even for FROM_DEVICE: a short device write must not leak pool data. */
	if (mapping_size)
		memcpy(pool->vaddr + (tlb - pool->start), src, mapping_size);
	*out = tlb;
	return 0;
}

static __attribute__((noinline)) int
dm_tbl_map_quota(struct dmamap_device *dev, struct dmamap_swiotlb *mem, dmamap_phys_addr_t orig,
		 size_t mapping_size, unsigned int alloc_align_mask, unsigned long attrs,
		 dmamap_phys_addr_t *out)
{
	return dm_tbl_map(dev, mem, orig, mapping_size, alloc_align_mask, attrs, true, out);
}

/* Slots for orig, filled: 0 and *tlb, or the errors of dm_swiotlb_map. */
static int dm_tbl_map_any(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			  dmamap_phys_addr_t orig, size_t mapping_size,
			  unsigned int alloc_align_mask, unsigned long attrs,
			  dmamap_phys_addr_t *tlb)
{
	if (dm_unlikely(!mem))
		return -EIO;
	/* A device with a bounce quota takes the out-of-line copy. */
	uint64_t qlim = dm_likely(dev != NULL) ? dev->ex.bq_limit : 0;
	if (dm_unlikely(qlim))
		return dm_tbl_map_quota(dev, mem, orig, mapping_size, alloc_align_mask, attrs, tlb);
	return dm_tbl_map(dev, mem, orig, mapping_size, alloc_align_mask, attrs, false, tlb);
}

/*
 * The one bounce sequence every backend uses (Linux's swiotlb_map, which
 * dma-direct, dma-iommu and swiotlb-xen all call): there must be a pool,
 * the buffer must fit a bounce, the slots are found and filled, and the
 * slot's bus address must be one the device reaches, else the slots go
 * back and the map fails.  Counted as a bounced map only when it
 * succeeds.  The messages name the device and the buffer; why says why
 * it had to bounce.
 */
static inline __attribute__((always_inline)) int
dm_swiotlb_map_body(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
		    unsigned int align_mask, enum dmamap_data_direction dir, unsigned long attrs,
		    const char *why, dm_bounce_reach_fn reach, dmamap_phys_addr_t *tlb,
		    dmamap_dma_addr_t *dma)
{
	struct dmamap_ctx *ctx = dev->ctx;
	bool warn = !(attrs & DMAMAP_ATTR_NO_WARN);
	if (!dev->swiotlb) {
		if (warn)
			dm_log(ctx, DMAMAP_LOG_ERR, "%s: 0x%llx+%zu must bounce (%s) and there is "
			       "no swiotlb to bounce it", dev->name, (unsigned long long)phys, size, why);
		return -EIO;
	}
	/* A size the slots cannot hold is the pool's to refuse (dm_tbl_map). */
	int rc = dm_tbl_map_any(dev, dev->swiotlb, phys, size, align_mask, attrs, tlb);
	if (rc)
		return rc; /* the pool said why */
	if (reach && (rc = reach(dev, *tlb, size, dma))) {
		dm_swiotlb_tbl_unmap(dev, dev->swiotlb, *tlb, size, dir,
				     attrs | DMAMAP_ATTR_SKIP_CPU_SYNC);
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: bounce buffer 0x%llx+%zu is out of the device's "
		       "reach: the pool is no use to it", dev->name, (unsigned long long)*tlb, size);
		return rc;
	}
	struct dm_pcpu_stats *st = dm_own_stats(dev);
	if (dm_likely(st != NULL)) {
		dm_own_add(&st->bounced_maps, 1);
		dm_own_add(&st->bounced_bytes, size);
	} else {
		st = dm_dev_stats(dev);
		dm_stat_add(&st->bounced_maps, 1);
		dm_stat_add(&st->bounced_bytes, size);
	}
	return 0;
}

int dm_swiotlb_map(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
		   unsigned int align_mask, enum dmamap_data_direction dir, unsigned long attrs,
		   const char *why, dm_bounce_reach_fn reach, dmamap_phys_addr_t *tlb,
		   dmamap_dma_addr_t *dma)
{
	return dm_swiotlb_map_body(dev, phys, size, align_mask, dir, attrs, why, reach, tlb, dma);
}

/* dma-direct's bounce: the same, its reach check inline (no indirect call). */
int dm_swiotlb_map_direct(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			  enum dmamap_data_direction dir, unsigned long attrs, const char *why,
			  dmamap_phys_addr_t *tlb, dmamap_dma_addr_t *dma)
{
	return dm_swiotlb_map_body(dev, phys, size, 0, dir, attrs, why, dm_reach_direct, tlb,
				   dma);
}

/* A sync that starts in the first data slot, in front of the mapping. */
static __attribute__((noinline, cold)) void
dm_before_start(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		dmamap_phys_addr_t tlb, size_t size, unsigned int start, unsigned int boff)
{
	if (!dm_ratelimit_ok(mem->ctx, &mem->rl_before, "swiotlb_bounce"))
		return;
	dm_log(mem->ctx, DMAMAP_LOG_ERR,
	       "%s: swiotlb: access before mapping start: sync of 0x%llx+%zu begins at offset "
	       "%u of its slot, the mapping at %u: nothing copied",
	       dev && dev->name ? dev->name : "(no device)", (unsigned long long)tlb, size, boff,
	       start);
}

/*
 * Copies between the bounce buffer at tlb and its original, clamped to the
 * mapping's end; a copy that would start in front of the mapping (inside
 * its first slot, before the offset min_align_mask kept) copies nothing
 * and says so, as Linux's swiotlb_bounce did from v5.16 to v6.8 ("Access
 * before mapping start").  Linux v6.9 dropped that check because it could
 * not tell the first slot from the others (so a sync there copies the
 * bytes in front of the buffer); the tag here tells, so the check stays,
 * and only for the first slot.
 */
static void dm_bounce(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		      struct dm_swiotlb_pool *pool, dmamap_phys_addr_t tlb, size_t size,
		      bool to_device)
{
	uint64_t off = tlb - pool->start;
	uint64_t s = off >> DM_IO_TLB_SHIFT;
	uint64_t raw = pool->orig[s];
	uint64_t o = raw & DM_ORIG_ADDR;
	if (o == DM_ORIG_NONE)
		return;
	unsigned int boff = (unsigned int)(off & DM_SLOT_MASK);
	if (raw & ~DM_ORIG_ADDR) {
		/* First data slot: o is the original, the mapping starts at its offset. */
		unsigned int start = (unsigned int)(o & (dev ? dev->min_align_mask : 0) &
						    DM_SLOT_MASK);
		if (dm_unlikely(boff < start)) {
			dm_before_start(dev, mem, tlb, size, start, boff);
			return;
		}
		o -= start;
	}
	unsigned int rem = pool->meta[s] & DM_META_REM_MASK;
	size_t avail = rem > boff ? rem - boff : 0;
	if (size > avail)
		size = avail;
	if (!size)
		return;
	uint8_t *cpu = dm_phys_to_virt(mem->ctx, o + boff);
	if (!cpu)
		return;
	if (to_device)
		memcpy(pool->vaddr + off, cpu, size);
	else
		memcpy(cpu, pool->vaddr + off, size);
}

/* Counts and logs an unmap or free that names no live allocation of dev's. */
static __attribute__((noinline, cold)) int
dm_refuse(struct dmamap_device *dev, struct dmamap_swiotlb *mem, dmamap_phys_addr_t tlb,
	  size_t size, bool is_free)
{
	atomic_fetch_add_explicit(&mem->refused, 1, memory_order_relaxed);
	dm_log(mem->ctx, DMAMAP_LOG_ERR,
	       "%s: %s of 0x%llx+%zu refused: not a live bounce %s of this device and size "
	       "(stale or double?)", dev ? dev->name : "swiotlb", is_free ? "free" : "unmap",
	       (unsigned long long)tlb, size, is_free ? "allocation" : "mapping");
	return -EINVAL;
}

/*
 * Whether tlb starts a live allocation of dev's whose recorded size is
 * size (a mapping's bytes after its offset in the slot; a coherent
 * allocation's page-rounded size).  Read without the lock: the release
 * checks the tag again under it.
 */
static inline bool dm_live(const struct dmamap_device *dev, const struct dm_swiotlb_pool *pool,
			   uint64_t s, dmamap_phys_addr_t tlb, size_t size)
{
	if (dm_unlikely((pool->orig[s] & ~DM_ORIG_ADDR) != dm_tag(dev)))
		return false;
	uint64_t rem = pool->meta[s] & DM_META_REM_MASK;
	return rem == (tlb & DM_SLOT_MASK) + (size ? size : 1);
}

/* A release; slow is a constant: poisoning or a quota charge to undo. */
static inline __attribute__((always_inline)) int
dm_unmap_body(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
	      struct dm_swiotlb_pool *pool, int tidx, dmamap_phys_addr_t tlb, size_t size,
	      uint64_t s, uint32_t m, bool copy_back, bool slow)
{
	if (copy_back)
		dm_bounce(dev, mem, pool, tlb, size, false);
	uint64_t first;
	unsigned int n;
	dm_alloc_of(m, s, &first, &n);
	if (slow)
		dm_release_extras(dev, mem, pool, first, n, m & DM_META_QUOTA);
	if (dm_unlikely(!dm_pool_release(pool, first, n, s, dm_tag(dev))))
		return dm_refuse(dev, mem, tlb, size, false); /* a racing second unmap */
	if (dm_unlikely(tidx >= 0))
		dm_tr_free(mem, tidx, pool);
	/* Deferred or waiting requests: served here, no lock held. */
	dm_exhaust_released(mem->ctx);
	return 0;
}

static __attribute__((noinline)) int
dm_unmap_slow(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
	      struct dm_swiotlb_pool *pool, int tidx, dmamap_phys_addr_t tlb, size_t size,
	      uint64_t s, uint32_t m, bool copy_back)
{
	return dm_unmap_body(dev, mem, pool, tidx, tlb, size, s, m, copy_back, true);
}

static inline __attribute__((always_inline)) int
dm_unmap_common(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		dmamap_phys_addr_t tlb, size_t size, bool copy_back)
{
	int tidx;
	struct dm_swiotlb_pool *pool = dm_pool_of(mem, tlb, &tidx);
	if (dm_unlikely(!pool))
		return dm_refuse(dev, mem, tlb, size, false);
	/* The mapping's first data slot: its meta gives the allocation. */
	uint64_t s = (tlb - pool->start) >> DM_IO_TLB_SHIFT;
	if (dm_unlikely(!dm_live(dev, pool, s, tlb, size)))
		return dm_refuse(dev, mem, tlb, size, false);
	uint32_t m = pool->meta[s];
	/* Poisoning on, or charged to a quota (meta bit): the out-of-line copy. */
	if (dm_unlikely((m | atomic_load_explicit(&mem->rel_slow, memory_order_relaxed)) &
			DM_META_QUOTA))
		return dm_unmap_slow(dev, mem, pool, tidx, tlb, size, s, m, copy_back);
	return dm_unmap_body(dev, mem, pool, tidx, tlb, size, s, m, copy_back, false);
}

bool dm_swiotlb_unmap_ok(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			 dmamap_phys_addr_t tlb, size_t size)
{
	int tidx;
	struct dm_swiotlb_pool *pool = mem ? dm_pool_of(mem, tlb, &tidx) : NULL;
	return pool && dm_live(dev, pool, (tlb - pool->start) >> DM_IO_TLB_SHIFT, tlb, size);
}

int dm_swiotlb_tbl_unmap(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			 dmamap_phys_addr_t tlb, size_t mapping_size,
			 enum dmamap_data_direction dir, unsigned long attrs)
{
	if (dm_unlikely(!mem))
		return -EINVAL;
	bool back = !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC) &&
		    (dir == DMAMAP_FROM_DEVICE || dir == DMAMAP_BIDIRECTIONAL);
	return dm_unmap_common(dev, mem, tlb, mapping_size, back);
}

/* Copy between the original and the bounce slot of a live mapping. */
static void dm_sync(const struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		    dmamap_phys_addr_t tlb, size_t size, bool to_device)
{
	int tidx;
	struct dm_swiotlb_pool *pool = dm_pool_of(mem, tlb, &tidx);
	if (pool)
		dm_bounce(dev, mem, pool, tlb, size, to_device);
}

void dm_swiotlb_sync_for_cpu(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			     dmamap_phys_addr_t tlb, size_t size,
			     enum dmamap_data_direction dir)
{
	if (mem && (dir == DMAMAP_FROM_DEVICE || dir == DMAMAP_BIDIRECTIONAL))
		dm_sync(dev, mem, tlb, size, false);
}

void dm_swiotlb_sync_for_device(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
				dmamap_phys_addr_t tlb, size_t size,
				enum dmamap_data_direction dir)
{
	if (mem && (dir == DMAMAP_TO_DEVICE || dir == DMAMAP_BIDIRECTIONAL))
		dm_sync(dev, mem, tlb, size, true);
}

dmamap_phys_addr_t dm_swiotlb_tbl_map(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
				      dmamap_phys_addr_t orig, size_t mapping_size,
				      unsigned int alloc_align_mask, enum dmamap_data_direction dir,
				      unsigned long attrs)
{
	(void)dir;
	dmamap_phys_addr_t tlb;
	if (dm_tbl_map_any(dev, mem, orig, mapping_size, alloc_align_mask, attrs, &tlb))
		return DM_SWIOTLB_ERROR;
	return tlb;
}

struct dmamap_swiotlb *dm_test_default_pool(struct dmamap_ctx *ctx)
{
	return ctx ? ctx->swiotlb : NULL;
}

dmamap_phys_addr_t dm_swiotlb_find_slots_raw(struct dmamap_device *dev,
					     struct dmamap_swiotlb *mem,
					     dmamap_phys_addr_t orig, size_t size)
{
	struct dm_req rq;
	if (!mem || !dm_req_init(dev, orig, size, 0, &rq))
		return DM_SWIOTLB_ERROR;
	struct dm_swiotlb_pool *pool;
	int64_t slot = dm_find(dev, mem, &rq, 0, &pool);
	if (slot < 0)
		return DM_SWIOTLB_ERROR;
	return dm_record(pool, (uint64_t)slot, &rq, orig, dm_tag(dev));
}

void dm_swiotlb_release_raw(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
			    dmamap_phys_addr_t tlb, size_t size)
{
	if (mem)
		(void)dm_unmap_common(dev, mem, tlb, size, false);
}

/* ---- coherent allocations (restricted pools) ---------------------------------------- */

void *dm_swiotlb_alloc(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		       size_t size, dmamap_phys_addr_t *phys)
{
	if (!mem || !phys || size == 0 || size > DM_SEG_BYTES)
		return NULL;
	size = (size + DMAMAP_PAGE_SIZE - 1) & ~(size_t)(DMAMAP_PAGE_SIZE - 1);
	/*
	 * As Linux's swiotlb_alloc (since v6.9): the block starts aligned to
	 * the allocation's order (a driver may rely on dma_alloc_coherent's
	 * natural alignment), but its slot count is not rounded up to it, so
	 * alog stays 0.  The original address is 0, so min_align_mask only
	 * adds alignment (Linux's search matches the slot to orig 0 there).
	 */
	unsigned int nslots = (unsigned int)(size >> DM_IO_TLB_SHIFT);
	uint64_t order_bytes = dm_roundup_pow2(size);
	uint64_t amask = (order_bytes - 1) | (dev ? dev->min_align_mask : 0) | DM_SLOT_MASK;
	struct dm_req rq = {
		.nslots = nslots, .pad = 0, .off_low = 0,
		.rem = (unsigned int)size, .alog = 0,
		.amask = amask >> DM_IO_TLB_SHIFT, .aval = 0,
	};
	rq.bslots = dm_boundary_slots(dev);
	struct dm_swiotlb_pool *pool;
	int64_t slot = dm_find(dev, mem, &rq, 0, &pool);
	if (slot < 0)
		return NULL;
	uint64_t s = (uint64_t)slot;
	pool->meta[s] = (unsigned int)size;
	for (uint64_t i = s; i < s + nslots; i++)
		pool->orig[i] = DM_ORIG_NONE;
	pool->orig[s] |= dm_tag(dev);
	*phys = pool->start + (s << DM_IO_TLB_SHIFT);
	void *cpu = pool->vaddr + (s << DM_IO_TLB_SHIFT);
	memset(cpu, 0, size);
	return cpu;
}

bool dm_swiotlb_free(struct dmamap_device *dev, struct dmamap_swiotlb *mem,
		     dmamap_phys_addr_t phys, size_t size)
{
	if (!mem)
		return false;
	int tidx;
	struct dm_swiotlb_pool *pool = dm_pool_of(mem, phys, &tidx);
	if (!pool)
		return false;
	uint64_t first;
	unsigned int n;
	uint64_t s = (phys - pool->start) >> DM_IO_TLB_SHIFT;
	size_t rounded = (size + DMAMAP_PAGE_SIZE - 1) & ~(size_t)(DMAMAP_PAGE_SIZE - 1);
	if (!dm_live(dev, pool, s, phys, rounded)) {
		dm_refuse(dev, mem, phys, size, true);
		return true; /* it is the pool's address: refused, not someone else's to free */
	}
	dm_alloc_of(pool->meta[s], s, &first, &n);
	if (atomic_load_explicit(&mem->rel_slow, memory_order_relaxed))
		dm_release_extras(dev, mem, pool, first, n, false);
	if (!dm_pool_release(pool, first, n, s, dm_tag(dev))) {
		dm_refuse(dev, mem, phys, size, true);
		return true;
	}
	if (tidx >= 0)
		dm_tr_free(mem, tidx, pool);
	dm_exhaust_released(mem->ctx);
	return true;
}

/* ---- restricted pools, statistics ------------------------------------------------------ */

int dmamap_restricted_pool_create(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys,
				  uint64_t size, struct dmamap_swiotlb **out)
{
	if (!ctx || !out)
		return -EINVAL;
	*out = NULL;
	if (size < DM_IO_TLB_SIZE || phys + size - 1 < phys ||
	    (phys & (DMAMAP_PAGE_SIZE - 1))) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "restricted-dma-pool: 0x%llx+0x%llx is not a page-aligned range of at least one slot",
		       (unsigned long long)phys, (unsigned long long)size);
		return -EINVAL;
	}
	if (size > DMAMAP_SWIOTLB_MAX_POOL_BYTES) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "restricted-dma-pool: 0x%llx+0x%llx is larger than the %llu GiB a bounce pool may be",
		       (unsigned long long)phys, (unsigned long long)size,
		       DMAMAP_SWIOTLB_MAX_POOL_BYTES >> 30);
		return -E2BIG;
	}
	if (!ctx->plat.ops->phys_is_ram(ctx->plat.priv, phys, size)) {
		dm_log(ctx, DMAMAP_LOG_ERR, "restricted-dma-pool: 0x%llx+0x%llx is not RAM",
		       (unsigned long long)phys, (unsigned long long)size);
		return -EINVAL;
	}
	int rc = dm_swiotlb_create_at(ctx, phys, size, out);
	if (rc) {
		/* -ENOMEM: the bookkeeping's size was logged where it failed. */
		if (rc != -ENOMEM)
			dm_log(ctx, DMAMAP_LOG_ERR, "restricted-dma-pool: 0x%llx+0x%llx: %s",
			       (unsigned long long)phys, (unsigned long long)size,
			       dmamap_strerror(rc));
		return rc;
	}
	pthread_mutex_lock(&ctx->lock);
	ctx->nrestricted++;
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}

int dmamap_restricted_pool_destroy(struct dmamap_swiotlb *pool)
{
	if (!pool || !pool->restricted)
		return -EINVAL;
	if (dm_used_slots(pool, NULL))
		return -EBUSY;
	struct dmamap_ctx *ctx = pool->ctx;
	pthread_mutex_lock(&ctx->lock);
	/* A device still pointing at the pool would bounce into freed state. */
	for (unsigned int i = 0; i < ctx->ndevices; i++) {
		if (ctx->devices[i]->swiotlb == pool) {
			pthread_mutex_unlock(&ctx->lock);
			dm_log(ctx, DMAMAP_LOG_ERR,
			       "restricted pool destroyed while device %s still uses it: refused",
			       ctx->devices[i]->name);
			return -EBUSY;
		}
	}
	ctx->nrestricted--;
	pthread_mutex_unlock(&ctx->lock);
	dm_swiotlb_destroy(pool);
	return 0;
}

static struct dmamap_swiotlb *dm_mem_or_default(struct dmamap_ctx *ctx,
						struct dmamap_swiotlb *pool)
{
	return pool ? pool : ctx ? ctx->swiotlb : NULL;
}

int dmamap_swiotlb_set_poison(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool, bool on)
{
	struct dmamap_swiotlb *mem = dm_mem_or_default(ctx, pool);
	if (!mem)
		return -ENODEV;
	return atomic_exchange(&mem->rel_slow, on ? DM_META_QUOTA : 0) ? 1 : 0;
}

void dmamap_swiotlb_get_stats(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool,
			      struct dmamap_swiotlb_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	struct dmamap_swiotlb *mem = dm_mem_or_default(ctx, pool);
	if (!mem)
		return;
	st->enabled = true;
	st->force = mem->force;
	st->nareas = mem->nareas;
	/* What existed at boot: nothing of a pool made later. */
	st->boot_total_bytes = mem->late ? 0 : mem->boot->nslabs << DM_IO_TLB_SHIFT;
	st->boot_base = mem->h.boot_start;
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	st->npools = n;
	uint64_t used = 0, hi = 0, bounced = 0, fails = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct dm_swiotlb_pool *p = atomic_load_explicit(&mem->pools[i],
								 memory_order_relaxed);
		st->total_bytes += p->len;
		if (p->start < DM_SZ_4G)
			st->below_4g_bytes += (p->start + p->len <= DM_SZ_4G ? p->len
								       : DM_SZ_4G - p->start);
		for (unsigned int a = 0; a < p->nareas; a++) {
			struct dm_swiotlb_area *ar = &p->areas[a];
			used += dm_ld(&ar->used);
			hi += dm_ld(&ar->hiwater);
			bounced += dm_ld(&ar->bounced);
			fails += dm_ld(&ar->failures);
		}
	}
	/*
	 * Transient pools count in used_bytes as in Linux with
	 * CONFIG_DEBUG_FS, where swiotlb_search_pool_area() adds a transient pool's slots to
	 * total_used and swiotlb_del_transient() takes them off; tr_lock
	 * keeps them from being freed while read.
	 */
	uint64_t tr_used = 0;
	pthread_mutex_lock(&mem->tr_lock);
	bounced += mem->tr_bounced;
	for (unsigned int i = 0; i < DM_MAX_TRANSIENT; i++) {
		struct dm_swiotlb_pool *p = atomic_load(&mem->tr_pool[i]);
		if (p) {
			bounced += dm_ld(&p->areas[0].bounced);
			used += dm_ld(&p->areas[0].used);
			tr_used += p->nslabs;
		}
	}
	pthread_mutex_unlock(&mem->tr_lock);
	st->transient_used_bytes = tr_used << DM_IO_TLB_SHIFT;
	st->used_bytes = used << DM_IO_TLB_SHIFT;
	st->used_hiwater_bytes = hi << DM_IO_TLB_SHIFT;
	st->bounced_bytes = bounced;
	st->full_failures = fails;
	st->transient_pools = atomic_load_explicit(&mem->tr_made, memory_order_relaxed);
	st->refused_unmaps = atomic_load_explicit(&mem->refused, memory_order_relaxed);
}

int dmamap_swiotlb_get_area_stats(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool,
				  unsigned int area, struct dmamap_swiotlb_area_stats *st)
{
	struct dmamap_swiotlb *mem = dm_mem_or_default(ctx, pool);
	if (!mem)
		return -ENODEV;
	if (!st || area >= mem->nareas)
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	for (unsigned int i = 0; i < n; i++) {
		struct dm_swiotlb_pool *p = atomic_load_explicit(&mem->pools[i],
								 memory_order_relaxed);
		if (area >= p->nareas)
			continue;
		struct dm_swiotlb_area *ar = &p->areas[area];
		st->total_slots += ar->total;
		st->used_slots += dm_ld(&ar->used);
		st->hiwater_slots += dm_ld(&ar->hiwater);
	}
	return 0;
}

int dmamap_swiotlb_get_pool_range(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool,
				  unsigned int idx, dmamap_phys_addr_t *phys, uint64_t *size)
{
	struct dmamap_swiotlb *mem = dm_mem_or_default(ctx, pool);
	if (!mem)
		return -ENODEV;
	/* pools[] entries below npools are published and never removed. */
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	if (idx >= n)
		return -ENOENT;
	const struct dm_swiotlb_pool *p = atomic_load_explicit(&mem->pools[idx],
							       memory_order_relaxed);
	if (phys)
		*phys = p->start;
	if (size)
		*size = p->len;
	return 0;
}

/*
 * Which bounce buffer holds phys: the boot pool, a grown pool or a live
 * transient one (the set Linux's is_swiotlb_buffer() answers for).  A
 * transient range is read from its packed table word, never through the
 * pool pointer, so a pool freed meanwhile is not touched.
 */
int dmamap_swiotlb_find_pool(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool,
			     dmamap_phys_addr_t phys, dmamap_phys_addr_t *start, uint64_t *size,
			     bool *transient)
{
	struct dmamap_swiotlb *mem = dm_mem_or_default(ctx, pool);
	if (!mem)
		return -ENODEV;
	uint64_t base = 0, len = 0;
	bool tr = false;
	unsigned int n = atomic_load_explicit(&mem->npools, memory_order_acquire);
	for (unsigned int i = 0; i < n && !len; i++) {
		const struct dm_swiotlb_pool *p =
			atomic_load_explicit(&mem->pools[i], memory_order_relaxed);
		if (phys - p->start < p->len) {
			base = p->start;
			len = p->len;
		}
	}
	unsigned int hi = atomic_load_explicit(&mem->ntr_hi, memory_order_acquire);
	for (unsigned int i = 0; i < hi && !len; i++) {
		uint64_t r = atomic_load_explicit(&mem->tr_range[i], memory_order_acquire);
		if (dm_tr_hit(r, phys)) {
			base = (r >> DM_TR_NPAGES_BITS) << DMAMAP_PAGE_SHIFT;
			len = (r & ((1u << DM_TR_NPAGES_BITS) - 1)) << DMAMAP_PAGE_SHIFT;
			tr = true;
		}
	}
	if (!len)
		return -ENOENT;
	if (start)
		*start = base;
	if (size)
		*size = len;
	if (transient)
		*transient = tr;
	return 0;
}

uint64_t dm_swiotlb_bookkeeping_bytes(const struct dmamap_swiotlb *mem, uint64_t *nslots)
{
	uint64_t bytes = 0, slots = 0;
	if (mem) {
		bytes = sizeof(*mem);
		unsigned int n = atomic_load_explicit(&((struct dmamap_swiotlb *)mem)->npools,
						      memory_order_acquire);
		for (unsigned int i = 0; i < n; i++) {
			const struct dm_swiotlb_pool *p =
				atomic_load_explicit(&((struct dmamap_swiotlb *)mem)->pools[i],
						     memory_order_relaxed);
			bytes += sizeof(*p) + p->nslabs * (sizeof(*p->orig) + sizeof(*p->meta)) +
				 p->bits_n * sizeof(dm_u128) +
				 dm_round_cl(p->nareas * sizeof(*p->areas));
			slots += p->nslabs;
		}
	}
	if (nslots)
		*nslots = slots;
	return bytes;
}
