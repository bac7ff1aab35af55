/*
 * src/xen.c - Xen: which devices need swiotlb-xen, and swiotlb-xen itself.
 *
 * Owns: the per-device choice under a hypervisor (Linux's global rule as a
 * mode, and the per-device default), the bounce pool's exchange for
 * machine-contiguous low frames (x86 PV; a p2m-aware non-1:1 dom0), the
 * pool made late when a PCI device first appears in a PV domU, the record
 * of grant-mapped (foreign) pages and their machine frames, and the
 * swiotlb-xen ops: translate guest frames to bus frames per 4 KiB page,
 * bounce what straddles or is out of reach, and clean or invalidate
 * foreign pages of non-coherent devices through the hypervisor.
 *
 * Must never model the hypervisor (sim/ does) or manage bounce slots
 * (swiotlb.c does): it asks the platform's hv hooks and the pool.
 *
 * Invariants: a foreign page is in the table from its grant_map until its
 * grant_unmap, keyed both ways (pfn and bfn), under `lock` (a rwlock:
 * maps read it).  Pool chunks the library exchanged are given back before
 * the pool's pages are freed.
 */
#include "backend.h"
#include "swiotlb.h"
#include "swiotlb-xen.h"

#include <dmamap/xen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DM_XEN_PAGE_SHIFT 12
#define DM_XEN_PAGE_SIZE (1ULL << DM_XEN_PAGE_SHIFT)
#define DM_XEN_PFN(a) ((uint64_t)(a) >> DM_XEN_PAGE_SHIFT)
#define DM_XEN_OFF(a) ((uint64_t)(a) & (DM_XEN_PAGE_SIZE - 1))
/* Linux's xen_swiotlb_fixup: chunks of one 128-slot segment (256 KiB),
 * first asked for below 2^(order + PAGE_SHIFT), widened a bit per refusal
 * up to MAX_DMA_BITS. */
#define DM_XEN_CHUNK_BYTES ((uint64_t)DM_IO_TLB_SEGSIZE << DM_IO_TLB_SHIFT)
#define DM_XEN_CHUNK_ORDER 6u   /* 256 KiB = 2^6 pages */
#define DM_XEN_MAX_DMA_BITS 32u
/*
 * Linux's swiotlb_init_late (the late pool of pci_xen_swiotlb_init_late)
 * takes its pool as one __get_free_pages block, shrinking the order until
 * one is found: never more than the page allocator's largest block,
 * 2^(MAX_ORDER - 1) pages = 4 MiB on x86 (MAX_ORDER 11, 4 KiB pages).
 * Seen on Debian's 6.1 in a PV domU under Xen 4.17 (docs/XEN-FIDELITY.md:
 * "software IO TLB: only able to allocate 4 MB").
 */
#define DM_XEN_LATE_POOL_MAX (4ULL << 20)

struct dm_xen_foreign {
	uint64_t pfn, bfn;
};

/* An allocation the library exchanged (coherent memory of a device). */
struct dm_xen_remap {
	dmamap_phys_addr_t phys;
	unsigned int order;
};

struct dm_xen {
	pthread_rwlock_t lock;            /* the foreign tables */
	struct dm_xen_foreign *by_pfn;    /* sorted by pfn */
	struct dm_xen_foreign *by_bfn;    /* the same entries, sorted by bfn */
	size_t nforeign, cap;
	_Atomic size_t nforeign_hint;     /* readable without the lock */

	pthread_mutex_t pool_lock;        /* late pool, exchanged chunks, remaps */
	bool pool_fixed;                  /* the default pool's chunks were exchanged */
	bool pool_late;
	struct dm_xen_remap *remaps;
	size_t nremaps, remaps_cap;

	_Atomic uint64_t exchanged_bytes, exchange_calls, exchange_failures;
	_Atomic uint64_t foreign_maps, straddle_bounces, reach_bounces;
	_Atomic uint64_t cache_flush_calls;
};

static inline void dm_xen_count(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static const struct dmamap_hv_ops *dm_hv(const struct dmamap_ctx *ctx)
{
	return ctx->plat.ops->hv;
}

/* ---- detection ---------------------------------------------------------- */

static bool dm_xen_arm_direct_mapped(const struct dmamap_ctx *ctx)
{
	uint32_t f = ctx->plat.xen_features;
	/* Linux's xen_swiotlb_detect(): the flag, or the legacy dom0 case. */
	return (f & DMAMAP_XENFEAT_DIRECT_MAPPED) ||
	       (!(f & DMAMAP_XENFEAT_NOT_DIRECT_MAPPED) && ctx->plat.xen_initial_domain);
}

/* Guest frames are machine frames for the OS's own pages (1:1). */
static bool dm_xen_one_to_one(const struct dmamap_ctx *ctx)
{
	switch (ctx->plat.xen_mode) {
	case DMAMAP_XEN_ARM: return dm_xen_arm_direct_mapped(ctx);
	default: return false;
	}
}

/*
 * The default pool must be exchanged for machine-contiguous frames: always
 * in PV (the guest's frames are scattered), and for a p2m-aware non-1:1
 * dom0 whose hypervisor offers the exchange (per-device policy only:
 * Linux's arm stubs it out).
 */
static bool dm_xen_pool_needs_fixup(const struct dmamap_ctx *ctx)
{
	if (ctx->plat.xen_mode == DMAMAP_XEN_PV)
		return true;
	return ctx->cfg.xen_policy == DMAMAP_XEN_POLICY_PER_DEVICE &&
	       ctx->plat.xen_mode == DMAMAP_XEN_ARM && !dm_xen_one_to_one(ctx) &&
	       (ctx->plat.xen_features & DMAMAP_XENFEAT_P2M_QUERY);
}

int dm_xen_want_swiotlb(const struct dmamap_ctx *ctx)
{
	const struct dm_bootopts *o = &ctx->opts;
	switch (ctx->plat.xen_mode) {
	case DMAMAP_XEN_NONE:
		return -1;
	case DMAMAP_XEN_PV:
		/*
		 * Linux's pci_xen_swiotlb_init: dom0, or asked for (iommu=soft,
		 * swiotlb=force).  A domU otherwise has no pool (and spends no
		 * low memory) until a PCI device appears (seed 003).
		 */
		return ctx->plat.xen_initial_domain || o->swiotlb_force ||
		       o->iommu_mode == DM_IOMMU_SOFT ||
		       ctx->cfg.swiotlb_mode == DMAMAP_SWIOTLB_ON;
	case DMAMAP_XEN_ARM:
		/* arm64: swiotlb-xen detected, or RAM beyond the DMA zone.  The
		 * per-device default may give any device outside the IOMMU
		 * swiotlb-xen, so it keeps the pool too. */
		if (ctx->cfg.swiotlb_mode == DMAMAP_SWIOTLB_OFF)
			return 0;
		return ctx->cfg.xen_policy == DMAMAP_XEN_POLICY_PER_DEVICE ||
		       (dm_xen_arm_direct_mapped(ctx) &&
			!(ctx->plat.xen_features & DMAMAP_XENFEAT_DOM0_IOMMU)) ||
		       ctx->plat.max_ram_end > ctx->plat.zone_dma_limit;
	default:
		return -1; /* PVH, HVM: the bare-metal rule */
	}
}

/* ---- foreign pages --------------------------------------------------------- */

static size_t dm_xen_lower(const struct dm_xen_foreign *v, size_t n, uint64_t key,
			   bool by_bfn)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k = by_bfn ? v[mid].bfn : v[mid].pfn;
		if (k < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool dm_xen_lookup(struct dm_xen *x, uint64_t key, bool by_bfn, uint64_t *other)
{
	if (dm_likely(atomic_load_explicit(&x->nforeign_hint, memory_order_relaxed) == 0))
		return false;
	bool hit = false;
	pthread_rwlock_rdlock(&x->lock);
	const struct dm_xen_foreign *v = by_bfn ? x->by_bfn : x->by_pfn;
	size_t i = dm_xen_lower(v, x->nforeign, key, by_bfn);
	if (i < x->nforeign && (by_bfn ? v[i].bfn : v[i].pfn) == key) {
		*other = by_bfn ? v[i].pfn : v[i].bfn;
		hit = true;
	}
	pthread_rwlock_unlock(&x->lock);
	return hit;
}

static void dm_xen_vec_insert(struct dm_xen_foreign *v, size_t n, struct dm_xen_foreign e,
			      bool by_bfn)
{
	size_t i = dm_xen_lower(v, n, by_bfn ? e.bfn : e.pfn, by_bfn);
	memmove(&v[i + 1], &v[i], (n - i) * sizeof(*v));
	v[i] = e;
}

static void dm_xen_vec_erase(struct dm_xen_foreign *v, size_t n, uint64_t key, bool by_bfn)
{
	size_t i = dm_xen_lower(v, n, key, by_bfn);
	if (i < n)
		memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
}

int dmamap_xen_grant_map(struct dmamap_ctx *ctx, uint16_t domid, uint32_t gref,
			 bool readonly, void **cpu, dmamap_phys_addr_t *phys)
{
	if (!ctx || !phys)
		return -EINVAL;
	struct dm_xen *x = ctx->xen;
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	if (!x || !hv || !hv->grant_map) {
		dm_log(ctx, DMAMAP_LOG_ERR, "xen: grant map of %u/%u: not a Xen guest with grant tables",
		       domid, gref);
		return -ENODEV;
	}
	pthread_rwlock_wrlock(&x->lock);
	if (x->nforeign == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 64;
		struct dm_xen_foreign *a = realloc(x->by_pfn, cap * sizeof(*a));
		if (a)
			x->by_pfn = a;
		struct dm_xen_foreign *b = a ? realloc(x->by_bfn, cap * sizeof(*b)) : NULL;
		if (b)
			x->by_bfn = b;
		if (!a || !b) {
			pthread_rwlock_unlock(&x->lock);
			return -ENOMEM;
		}
		x->cap = cap;
	}
	uint64_t pfn, bfn;
	int rc = hv->grant_map(ctx->plat.priv, domid, gref, readonly, &pfn, &bfn);
	if (rc) {
		pthread_rwlock_unlock(&x->lock);
		dm_log(ctx, DMAMAP_LOG_ERR, "xen: grant map of domain %u ref %u: %s", domid, gref,
		       dmamap_strerror(rc));
		return rc;
	}
	struct dm_xen_foreign e = { .pfn = pfn, .bfn = bfn };
	dm_xen_vec_insert(x->by_pfn, x->nforeign, e, false);
	dm_xen_vec_insert(x->by_bfn, x->nforeign, e, true);
	x->nforeign++;
	atomic_store(&x->nforeign_hint, x->nforeign);
	pthread_rwlock_unlock(&x->lock);
	*phys = pfn << DM_XEN_PAGE_SHIFT;
	if (cpu)
		*cpu = dm_phys_to_virt(ctx, *phys);
	return 0;
}

int dmamap_xen_grant_unmap(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys)
{
	if (!ctx)
		return -EINVAL;
	struct dm_xen *x = ctx->xen;
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	if (!x || !hv || !hv->grant_unmap)
		return -ENODEV;
	uint64_t pfn = DM_XEN_PFN(phys), bfn;
	pthread_rwlock_wrlock(&x->lock);
	size_t i = dm_xen_lower(x->by_pfn, x->nforeign, pfn, false);
	if (DM_XEN_OFF(phys) || i == x->nforeign || x->by_pfn[i].pfn != pfn) {
		pthread_rwlock_unlock(&x->lock);
		dm_log(ctx, DMAMAP_LOG_ERR, "xen: grant unmap of 0x%llx: not a page this guest grant-mapped",
		       (unsigned long long)phys);
		return -EINVAL;
	}
	bfn = x->by_pfn[i].bfn;
	int rc = hv->grant_unmap(ctx->plat.priv, pfn);
	if (rc == 0) {
		dm_xen_vec_erase(x->by_pfn, x->nforeign, pfn, false);
		dm_xen_vec_erase(x->by_bfn, x->nforeign, bfn, true);
		x->nforeign--;
		atomic_store(&x->nforeign_hint, x->nforeign);
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

/* ---- translation -------------------------------------------------------------- */

/*
 * One frame translated for this device, guest -> bus (to_bus) or back,
 * and whether it is foreign.  Foreign frames come from the table
 * (recorded at grant map, as Linux's phys_to_mach tree); own frames are
 * 1:1 where the guest is direct-mapped (Linux's assumption on arm) or
 * asked of the hypervisor's p2m.
 */
static int dm_xen_xlate(struct dmamap_device *dev, uint64_t in, bool to_bus, uint64_t *out,
			bool *foreign)
{
	struct dmamap_ctx *ctx = dev->ctx;
	*foreign = dm_xen_lookup(ctx->xen, in, !to_bus, out);
	if (*foreign)
		return 0;
	if (dev->xen->xlate == DM_XEN_XLATE_ONE_TO_ONE) {
		*out = in;
		return 0;
	}
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	int (*op)(void *, uint64_t, uint64_t *) = !hv ? NULL : to_bus ? hv->pfn_to_bfn
								      : hv->bfn_to_pfn;
	return op ? op(ctx->plat.priv, in, out) : -EOPNOTSUPP;
}

static int dm_xen_pfn_to_bfn(struct dmamap_device *dev, uint64_t pfn, uint64_t *bfn,
			     bool *foreign)
{
	return dm_xen_xlate(dev, pfn, true, bfn, foreign);
}

static int dm_xen_bfn_to_pfn(struct dmamap_device *dev, uint64_t bfn, uint64_t *pfn,
			     bool *foreign)
{
	return dm_xen_xlate(dev, bfn, false, pfn, foreign);
}

/*
 * Bus address of [phys, phys + size): the first frame's bus frame plus the
 * offset, through the device's dma-ranges.  *straddles: some later 4 KiB
 * frame is not machine-contiguous with the first (Linux's
 * range_straddles_page_boundary).  *foreign: the first frame is foreign.
 */
static int dm_xen_phys_to_dma(struct dmamap_device *dev, dmamap_phys_addr_t phys,
			      size_t size, dmamap_dma_addr_t *dma, bool *straddles,
			      bool *foreign)
{
	uint64_t pfn = DM_XEN_PFN(phys), bfn0, bfn;
	bool f;
	int rc = dm_xen_pfn_to_bfn(dev, pfn, &bfn0, foreign);
	if (rc)
		return rc;
	*straddles = false;
	uint64_t last = DM_XEN_PFN(phys + (size ? size - 1 : 0));
	for (uint64_t p = pfn + 1; p <= last; p++) {
		if (dm_xen_pfn_to_bfn(dev, p, &bfn, &f) || bfn != bfn0 + (p - pfn)) {
			*straddles = true;
			break;
		}
	}
	*dma = dm_phys_to_dma(dev, (bfn0 << DM_XEN_PAGE_SHIFT) | DM_XEN_OFF(phys));
	return 0;
}

/* Guest-physical address behind a bus address this device was given. */
static int dm_xen_dma_to_phys(struct dmamap_device *dev, dmamap_dma_addr_t dma,
			      dmamap_phys_addr_t *phys, bool *foreign)
{
	dmamap_phys_addr_t mach = dm_dma_to_phys(dev, dma);
	uint64_t pfn;
	if (mach == DMAMAP_MAPPING_ERROR)
		return -EINVAL;
	int rc = dm_xen_bfn_to_pfn(dev, DM_XEN_PFN(mach), &pfn, foreign);
	if (rc)
		return rc;
	*phys = (pfn << DM_XEN_PAGE_SHIFT) | DM_XEN_OFF(mach);
	return 0;
}

/* ---- cache maintenance ---------------------------------------------------------- */

/*
 * Clean (for the device) or invalidate (for the CPU) a buffer of a
 * non-coherent device.  Own pages go through the platform's cache calls
 * by guest-physical address; foreign pages through the hypervisor, by
 * machine frame, page by page (Linux's xen_dma_cache_maint).
 */
static void dm_xen_cache(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			 bool foreign, bool invalidate)
{
	struct dmamap_ctx *ctx = dev->ctx;
	if (!foreign) {
		/* Callers invalidate only for a direction the device may write. */
		if (invalidate)
			dm_cache_for_cpu(ctx, phys, size, DMAMAP_FROM_DEVICE);
		else
			dm_cache_for_device(ctx, phys, size);
		return;
	}
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	while (size) {
		uint64_t off = DM_XEN_OFF(phys);
		uint64_t len = DM_XEN_PAGE_SIZE - off < size ? DM_XEN_PAGE_SIZE - off : size;
		uint64_t bfn;
		bool f;
		if (!dm_xen_pfn_to_bfn(dev, DM_XEN_PFN(phys), &bfn, &f)) {
			hv->cache_flush_bfn(ctx->plat.priv, bfn, (uint32_t)off, (uint32_t)len,
					    invalidate ? 1 : 0);
			dm_xen_count(&ctx->xen->cache_flush_calls, 1);
		}
		phys += len;
		size -= len;
	}
}

/* ---- the swiotlb-xen ops ----------------------------------------------------------- */

static int dm_xen_fail(struct dmamap_device *dev, unsigned long attrs, int err,
		       const char *fmt, unsigned long long a, size_t size)
{
	if (!(attrs & DMAMAP_ATTR_NO_WARN)) {
		char what[160];
		snprintf(what, sizeof(what), fmt, a, size);
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: swiotlb-xen: %s", dev->name, what);
	}
	return err;
}

/* A bounce slot's bus address, if it is machine-contiguous and in reach. */
static int dm_xen_reach(struct dmamap_device *dev, dmamap_phys_addr_t tlb, size_t size,
			dmamap_dma_addr_t *dma)
{
	bool straddles, foreign;
	if (dm_xen_phys_to_dma(dev, tlb, size, dma, &straddles, &foreign) || straddles ||
	    !dm_capable(dev, *dma, size, dev->direct_limit))
		return -EIO;
	return 0;
}

/* Linux's xen_swiotlb_map_phys. */
static int dm_xen_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			   enum dmamap_data_direction dir, unsigned long attrs,
			   dmamap_dma_addr_t *dma)
{
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_xen *x = ctx->xen;
	if (dev->xen->xlate == DM_XEN_XLATE_UNKNOWN)
		return dm_xen_fail(dev, attrs, -EIO,
				   "0x%llx+%zu: no bus address is known for this device's buffers "
				   "(not 1:1, not behind the hypervisor's IOMMU, p2m not exposed)",
				   (unsigned long long)phys, size);
	bool straddles, foreign;
	if (dm_xen_phys_to_dma(dev, phys, size, dma, &straddles, &foreign))
		return dm_xen_fail(dev, attrs, -EIO, "0x%llx+%zu: the hypervisor has no frame for it",
				   (unsigned long long)phys, size);
	if (foreign)
		dm_xen_count(&x->foreign_maps, 1);
	bool capable = dm_capable(dev, *dma, size, dev->direct_limit);
	/* Linux's xen_arch_need_swiotlb: a foreign page a non-coherent device
	 * uses cannot be cleaned without the hypervisor's cache flush. */
	bool no_flush = foreign && !dev->coherent && !dm_hv(ctx)->cache_flush_bfn;
	if (!capable || straddles || no_flush || dev->force_bounce) {
		dmamap_phys_addr_t tlb;
		int rc = dm_swiotlb_map(dev, phys, size, 0, dir, attrs,
					straddles ? "not machine-contiguous"
					: !capable ? "out of the device's reach"
					: no_flush ? "a foreign page the hypervisor cannot flush"
						   : "forced",
					dm_xen_reach, &tlb, dma);
		if (rc)
			return rc;
		/* Forced bounces (swiotlb=force) count as neither. */
		if (straddles)
			dm_xen_count(&x->straddle_bounces, 1);
		else if (!capable)
			dm_xen_count(&x->reach_bounces, 1);
		phys = tlb;
		foreign = false;
	}
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
		dm_xen_cache(dev, phys, size, foreign, false);
	return 0;
}

static int dm_xen_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t dma, size_t size,
			     enum dmamap_data_direction dir, unsigned long attrs)
{
	dmamap_phys_addr_t phys;
	bool foreign;
	if (dm_xen_dma_to_phys(dev, dma, &phys, &foreign)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: swiotlb-xen: unmap of 0x%llx: not a bus address it gave",
		       dev->name, (unsigned long long)dma);
		return -EINVAL;
	}
	bool bounced = !foreign && dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys);
	/* A stale or double unmap must not touch someone else's slot. */
	if (bounced && !dm_swiotlb_unmap_ok(dev, dev->swiotlb, phys, size))
		return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC) && dir != DMAMAP_TO_DEVICE)
		dm_xen_cache(dev, phys, size, foreign, true);
	if (bounced)
		return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
	return 0;
}

static void dm_xen_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t dma, size_t size,
				enum dmamap_data_direction dir)
{
	dmamap_phys_addr_t phys;
	bool foreign;
	if (dm_xen_dma_to_phys(dev, dma, &phys, &foreign))
		return;
	if (!dev->coherent && dir != DMAMAP_TO_DEVICE)
		dm_xen_cache(dev, phys, size, foreign, true);
	if (!foreign && dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys))
		dm_swiotlb_sync_for_cpu(dev, dev->swiotlb, phys, size, dir);
}

static void dm_xen_sync_for_device(struct dmamap_device *dev, dmamap_dma_addr_t dma,
				   size_t size, enum dmamap_data_direction dir)
{
	dmamap_phys_addr_t phys;
	bool foreign;
	if (dm_xen_dma_to_phys(dev, dma, &phys, &foreign))
		return;
	if (!foreign && dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys))
		dm_swiotlb_sync_for_device(dev, dev->swiotlb, phys, size, dir);
	if (!dev->coherent)
		dm_xen_cache(dev, phys, size, foreign, false);
}

static int dm_xen_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			 enum dmamap_data_direction dir, unsigned long attrs)
{
	/* One mapping per entry, as Linux's swiotlb-xen: no merging. */
	for (int i = 0; i < nents; i++) {
		dmamap_phys_addr_t phys;
		if (dm_virt_to_phys(dev->ctx, sg[i].cpu, &phys))
			goto fail;
		if (dm_xen_map_phys(dev, phys, sg[i].length, dir, attrs, &sg[i].dma_address)) {
fail:
			for (int k = 0; k < i; k++)
				dm_xen_unmap_phys(dev, sg[k].dma_address, sg[k].dma_length, dir,
						  attrs | DMAMAP_ATTR_SKIP_CPU_SYNC);
			return -EIO;
		}
		sg[i].dma_length = sg[i].length;
	}
	return nents;
}

static void dm_xen_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			    enum dmamap_data_direction dir, unsigned long attrs)
{
	for (int i = 0; i < nents; i++)
		dm_xen_unmap_phys(dev, sg[i].dma_address, sg[i].dma_length, dir, attrs);
}

/* ---- exchanges ------------------------------------------------------------------------ */

/*
 * Exchange [phys, phys + 2^order pages) for machine-contiguous frames
 * below 2^*bits, widening *bits one at a time up to max_bits after each
 * refusal (Linux's xen_swiotlb_fixup loop).  *bits is left at the width
 * tried last, so the next chunk of a pool starts where this one succeeded
 * (xen_swiotlb_fixup keeps dma_bits across its chunks) instead of
 * repeating every refused width.
 */
static int dm_xen_exchange(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys, unsigned int order,
			   unsigned int *bits, unsigned int max_bits)
{
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	struct dm_xen *x = ctx->xen;
	if (!hv || !hv->exchange_contiguous)
		return -EOPNOTSUPP;
	for (;; ++*bits) {
		uint64_t bfn;
		dm_xen_count(&x->exchange_calls, 1);
		int rc = hv->exchange_contiguous(ctx->plat.priv, DM_XEN_PFN(phys), order, *bits,
						 &bfn);
		if (rc == 0) {
			dm_xen_count(&x->exchanged_bytes, DM_XEN_PAGE_SIZE << order);
			return 0;
		}
		dm_xen_count(&x->exchange_failures, 1);
		if (rc != -ENOMEM || *bits >= max_bits)
			return rc;
	}
}

static void dm_xen_unexchange(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys, unsigned int order)
{
	const struct dmamap_hv_ops *hv = dm_hv(ctx);
	if (hv->destroy_contiguous(ctx->plat.priv, DM_XEN_PFN(phys), order) == 0)
		atomic_fetch_sub(&ctx->xen->exchanged_bytes, DM_XEN_PAGE_SIZE << order);
	else
		dm_log(ctx, DMAMAP_LOG_WARN, "xen: could not give back the frames of 0x%llx (order %u)",
		       (unsigned long long)phys, order);
}

/* Gives back the first nchunks exchanged chunks of the pool at phys. */
static void dm_xen_unfix(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys, uint64_t nchunks)
{
	for (uint64_t i = 0; i < nchunks; i++)
		dm_xen_unexchange(ctx, phys + i * DM_XEN_CHUNK_BYTES, DM_XEN_CHUNK_ORDER);
}

/*
 * The default pool, made machine-contiguous chunk by chunk.  As Linux's
 * swiotlb_init_remap: when the hypervisor refuses, the pool is halved
 * (never below 1 MiB) and tried again.  Caller holds pool_lock or is the
 * only thread (boot).
 */
static int dm_xen_make_pool(struct dmamap_ctx *ctx, uint64_t bytes)
{
	uint64_t nslabs = (bytes + DM_IO_TLB_SIZE - 1) >> DM_IO_TLB_SHIFT;
	nslabs = (nslabs + DM_IO_TLB_SEGSIZE - 1) / DM_IO_TLB_SEGSIZE * DM_IO_TLB_SEGSIZE;
	for (;;) {
		struct dm_swiotlb_params p = {
			.nslabs = nslabs,
			.nareas = ctx->opts.swiotlb_nareas ? ctx->opts.swiotlb_nareas : ctx->plat.ncpus,
			/* Any guest memory: the exchange decides where the frames are. */
			.phys_limit = ~0ULL,
			/* Grown pools would not be exchanged: no growth under swiotlb-xen. */
			.dynamic = false,
			.force = ctx->opts.swiotlb_force,
		};
		struct dmamap_swiotlb *mem;
		int rc = dm_swiotlb_create(ctx, &p, &mem);
		if (rc)
			return rc;
		dmamap_phys_addr_t base;
		uint64_t size;
		dmamap_swiotlb_get_pool_range(ctx, mem, 0, &base, &size);
		uint64_t n = size / DM_XEN_CHUNK_BYTES, i;
		/*
		 * As xen_swiotlb_fixup: the width starts at a chunk's order once
		 * per attempt and stays widened for the following chunks; each
		 * halved attempt runs the fixup anew, from 2^18 again.
		 */
		unsigned int bits = DM_XEN_CHUNK_ORDER + DM_XEN_PAGE_SHIFT;
		for (i = 0; i < n; i++) {
			rc = dm_xen_exchange(ctx, base + i * DM_XEN_CHUNK_BYTES, DM_XEN_CHUNK_ORDER,
					     &bits, DM_XEN_MAX_DMA_BITS);
			if (rc)
				break;
		}
		if (i == n) {
			ctx->swiotlb = mem;
			ctx->xen->pool_fixed = true;
			return 0;
		}
		dm_xen_unfix(ctx, base, i);
		dm_swiotlb_destroy(mem);
		uint64_t half = nslabs >> 1;
		half = (half + DM_IO_TLB_SEGSIZE - 1) / DM_IO_TLB_SEGSIZE * DM_IO_TLB_SEGSIZE;
		if (rc != -ENOMEM || half < DM_IO_TLB_MIN_SLABS) {
			dm_log(ctx, DMAMAP_LOG_ERR,
			       "swiotlb-xen: the hypervisor has no machine-contiguous low memory for a bounce pool (%s)",
			       dmamap_strerror(rc));
			return rc;
		}
		nslabs = half;
		dm_log(ctx, DMAMAP_LOG_WARN, "swiotlb-xen: low memory short, trying a pool of %llu KiB",
		       (unsigned long long)(nslabs << DM_IO_TLB_SHIFT) >> 10);
	}
}

static uint64_t dm_xen_pool_bytes(const struct dmamap_ctx *ctx)
{
	if (ctx->opts.swiotlb_set)
		return ctx->opts.swiotlb_nslabs << DM_IO_TLB_SHIFT;
	return ctx->cfg.swiotlb_bytes ? ctx->cfg.swiotlb_bytes : DM_IO_TLB_DEFAULT_SIZE;
}

int dm_xen_boot_pool(struct dmamap_ctx *ctx)
{
	if (!dm_xen_pool_needs_fixup(ctx))
		return 1; /* the ordinary pool will do */
	return dm_xen_make_pool(ctx, dm_xen_pool_bytes(ctx));
}

/* ---- coherent memory (exchanged when out of reach) ------------------------------------- */

static unsigned int dm_xen_order(size_t size)
{
	unsigned int order = 0;
	while ((DM_XEN_PAGE_SIZE << order) < size)
		order++;
	return order;
}

static void *dm_xen_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
			  unsigned long attrs)
{
	(void)attrs;
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_xen *x = ctx->xen;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	unsigned int order = dm_xen_order(size);
	uint64_t npages = 1ULL << order;
	dmamap_phys_addr_t phys;
	if (ops->alloc_pages(ctx->plat.priv, npages, npages, ~0ULL, &phys))
		return NULL;
	dmamap_dma_addr_t dma;
	bool straddles, foreign;
	uint64_t bytes = npages << DM_XEN_PAGE_SHIFT;
	int rc = dm_xen_phys_to_dma(dev, phys, bytes, &dma, &straddles, &foreign);
	/*
	 * Linux's range_requires_alignment (6.13+): the block is aligned to
	 * its order in the guest (alloc_pages aligns it), so its machine
	 * address must be too, or a driver relying on the natural alignment
	 * of dma_alloc_coherent gets a misaligned bus address.
	 */
	uint64_t bfn = 0;
	bool misaligned = !rc && !dm_xen_pfn_to_bfn(dev, DM_XEN_PFN(phys), &bfn, &foreign) &&
			  ((bfn << DM_XEN_PAGE_SHIFT) & (bytes - 1)) != 0;
	if (rc || straddles || misaligned || !dm_capable(dev, dma, bytes, dev->coherent_dma_mask)) {
		/* Linux's xen_swiotlb_alloc_coherent: exchange for frames the
		 * coherent mask reaches (no widening: the mask is the limit). */
		unsigned int bits = dm_fls64(dev->coherent_dma_mask);
		pthread_mutex_lock(&x->pool_lock);
		if (x->nremaps == x->remaps_cap) {
			size_t cap = x->remaps_cap ? x->remaps_cap * 2 : 16;
			struct dm_xen_remap *n = realloc(x->remaps, cap * sizeof(*n));
			if (!n) {
				pthread_mutex_unlock(&x->pool_lock);
				ops->free_pages(ctx->plat.priv, phys, npages);
				return NULL;
			}
			x->remaps = n;
			x->remaps_cap = cap;
		}
		rc = dm_xen_exchange(ctx, phys, order, &bits, bits);
		if (rc == 0)
			x->remaps[x->nremaps++] = (struct dm_xen_remap){ phys, order };
		pthread_mutex_unlock(&x->pool_lock);
		if (rc || dm_xen_phys_to_dma(dev, phys, bytes, &dma, &straddles, &foreign)) {
			ops->free_pages(ctx->plat.priv, phys, npages);
			dm_log(ctx, DMAMAP_LOG_ERR,
			       "%s: swiotlb-xen: no machine-contiguous memory below %u bits for %zu coherent bytes",
			       dev->name, bits, size);
			return NULL;
		}
	}
	void *cpu = dm_phys_to_virt(ctx, phys);
	memset(cpu, 0, bytes);
	if (!dev->coherent) {
		dm_cache_for_device(ctx, phys, bytes);
		if (ops->set_uncached)
			ops->set_uncached(ctx->plat.priv, phys, bytes, true);
	}
	*handle = dma;
	return cpu;
}

static void dm_xen_free(struct dmamap_device *dev, size_t size, void *cpu,
			dmamap_dma_addr_t handle, unsigned long attrs)
{
	(void)attrs;
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_xen *x = ctx->xen;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	dmamap_phys_addr_t phys, hphys;
	bool foreign;
	if (dm_virt_to_phys(ctx, cpu, &phys) || dm_xen_dma_to_phys(dev, handle, &hphys, &foreign) ||
	    hphys != phys) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "%s: free of %p with handle 0x%llx that does not belong to it: not freed",
		       dev->name, cpu, (unsigned long long)handle);
		return;
	}
	unsigned int order = dm_xen_order(size);
	uint64_t npages = 1ULL << order;
	if (!dev->coherent && ops->set_uncached)
		ops->set_uncached(ctx->plat.priv, phys, npages << DM_XEN_PAGE_SHIFT, false);
	pthread_mutex_lock(&x->pool_lock);
	for (size_t i = 0; i < x->nremaps; i++) {
		if (x->remaps[i].phys == phys) {
			dm_xen_unexchange(ctx, phys, x->remaps[i].order);
			x->remaps[i] = x->remaps[--x->nremaps];
			break;
		}
	}
	pthread_mutex_unlock(&x->pool_lock);
	ops->free_pages(ctx->plat.priv, phys, npages);
}

static size_t dm_xen_max_mapping_size(struct dmamap_device *dev)
{
	return dev->swiotlb ? dm_swiotlb_max_mapping_size(dev) : SIZE_MAX;
}

static int dm_xen_supported(struct dmamap_device *dev, uint64_t mask)
{
	/* Linux's xen_swiotlb_dma_supported: the pool's top must be reachable. */
	struct dmamap_ctx *ctx = dev->ctx;
	dmamap_phys_addr_t base;
	uint64_t size;
	if (!dev->swiotlb || dev->xen->xlate == DM_XEN_XLATE_UNKNOWN ||
	    dmamap_swiotlb_get_pool_range(ctx, dev->swiotlb, 0, &base, &size))
		return 1;
	dmamap_dma_addr_t dma;
	bool straddles, foreign;
	if (dm_xen_phys_to_dma(dev, base + size - 1, 1, &dma, &straddles, &foreign))
		return 0;
	return dma <= mask;
}

/* What both swiotlb-xen tables share: the streaming side. */
#define DM_XEN_STREAMING_OPS                              \
	.name = "swiotlb-xen",                            \
	.map_phys = dm_xen_map_phys,                      \
	.unmap_phys = dm_xen_unmap_phys,                  \
	.map_sg = dm_xen_map_sg,                          \
	.unmap_sg = dm_xen_unmap_sg,                      \
	.sync_for_cpu = dm_xen_sync_for_cpu,              \
	.sync_for_device = dm_xen_sync_for_device,        \
	.dma_supported = dm_xen_supported,                \
	.max_mapping_size = dm_xen_max_mapping_size

/* arm 1:1: own pages are their own bus frames, so dma-direct's coherent
 * allocator is right as it is (alloc NULL: the dispatcher uses it). */
const struct dm_map_ops dm_xen_ops_one_to_one = { DM_XEN_STREAMING_OPS };

/* Translated through the p2m (PV, or a p2m-aware non-1:1 dom0). */
const struct dm_map_ops dm_xen_ops_p2m = {
	DM_XEN_STREAMING_OPS,
	.alloc = dm_xen_alloc,
	.free = dm_xen_free,
};

/* ---- policy --------------------------------------------------------------------------- */

static const char *dm_xen_mode_name(enum dmamap_xen_mode m)
{
	switch (m) {
	case DMAMAP_XEN_PV: return "x86 PV";
	case DMAMAP_XEN_PVH: return "x86 PVH";
	case DMAMAP_XEN_HVM: return "x86 HVM";
	case DMAMAP_XEN_ARM: return "arm";
	default: return "no";
	}
}

static bool dm_xen_use(struct dmamap_device *dev, enum dm_xen_xlate xlate, const char *why)
{
	dev->ops = xlate == DM_XEN_XLATE_ONE_TO_ONE ? &dm_xen_ops_one_to_one : &dm_xen_ops_p2m;
	dev->ops_name = xlate == DM_XEN_XLATE_UNKNOWN ? "swiotlb-xen(no-p2m)" : "swiotlb-xen";
	dev->xen->xlate = xlate;
	dev->force_bounce = dev->swiotlb && dm_swiotlb_is_force(dev->swiotlb);
	snprintf(dev->reason, sizeof(dev->reason), "%.300s%s", why,
		 xlate != DM_XEN_XLATE_UNKNOWN && !dev->swiotlb
			 ? "; no bounce pool: maps that must bounce fail" : "");
	return true;
}

bool dm_xen_select(struct dmamap_device *dev, const char **prefix)
{
	struct dmamap_ctx *ctx = dev->ctx;
	enum dmamap_xen_mode mode = ctx->plat.xen_mode;
	uint32_t f = ctx->plat.xen_features;
	bool linux_rule = ctx->cfg.xen_policy == DMAMAP_XEN_POLICY_LINUX;
	dev->xen->xlate = DM_XEN_XLATE_OFF;
	*prefix = "";
	if (mode == DMAMAP_XEN_NONE)
		return false;

	if (mode == DMAMAP_XEN_PV)
		return dm_xen_use(dev, DM_XEN_XLATE_P2M,
				  "x86 PV: bus addresses are machine frames: swiotlb-xen translates "
				  "through the p2m and bounces what straddles frames or is out of reach");
	if (linux_rule) {
		bool use = mode == DMAMAP_XEN_ARM && dm_xen_arm_direct_mapped(ctx) &&
			   !(f & DMAMAP_XENFEAT_DOM0_IOMMU);
		if (use)
			return dm_xen_use(dev, DM_XEN_XLATE_ONE_TO_ONE,
					  "Linux rule: arm dom0 direct-mapped: every device uses swiotlb-xen "
					  "(foreign pages translated, own pages 1:1)");
		if (mode != DMAMAP_XEN_ARM)
			*prefix = "Linux rule: swiotlb-xen is PV-only on x86; ";
		else if (f & DMAMAP_XENFEAT_DOM0_IOMMU)
			*prefix = "Linux rule (with the dom0_iommu RFC): dom0_iommu set, swiotlb-xen skipped; ";
		else
			*prefix = "Linux rule: not direct-mapped, no swiotlb-xen; ";
		if (!dev->xen->iommu && !dm_xen_one_to_one(ctx))
			*prefix = mode != DMAMAP_XEN_ARM
					  ? "Linux rule: no swiotlb-xen on x86 PVH/HVM, and NOT behind the hypervisor's IOMMU: "
					    "its bus addresses are guest-physical, DMA reaches the wrong machine frames; "
					  : "Linux rule: no swiotlb-xen, and NOT behind the hypervisor's IOMMU on a non-1:1 dom0: "
					    "its bus addresses are guest-physical, DMA reaches the wrong machine frames; ";
		return false;
	}
	if (dev->xen->iommu) {
		*prefix = "behind the hypervisor's IOMMU (it mirrors the p2m, foreign pages included): "
			  "guest-physical bus addresses, no swiotlb-xen; ";
		return false;
	}
	if (dm_xen_one_to_one(ctx))
		return dm_xen_use(dev, DM_XEN_XLATE_ONE_TO_ONE,
				  "arm dom0 1:1, device outside the hypervisor's IOMMU: swiotlb-xen "
				  "translates foreign (grant-mapped) pages to their machine frames");
	char why[DM_REASON_LEN];
	if (f & DMAMAP_XENFEAT_P2M_QUERY) {
		snprintf(why, sizeof(why),
			 "%s guest not 1:1, device outside the hypervisor's IOMMU: p2m-aware swiotlb-xen "
			 "translates every frame through the exposed p2m", dm_xen_mode_name(mode));
		return dm_xen_use(dev, DM_XEN_XLATE_P2M, why);
	}
	snprintf(why, sizeof(why),
		 "%s guest not 1:1, device outside the hypervisor's IOMMU, p2m not exposed: "
		 "no bus address can be known, maps fail rather than corrupt", dm_xen_mode_name(mode));
	return dm_xen_use(dev, DM_XEN_XLATE_UNKNOWN, why);
}

/* ---- devices appearing ------------------------------------------------------------------ */

int dm_xen_attach(struct dmamap_device *dev, const struct dmamap_device_desc *desc)
{
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_xen *x = ctx->xen;
	if (!x)
		return 0;
	dev->xen = calloc(1, sizeof(*dev->xen));
	if (!dev->xen)
		return -ENOMEM;
	dev->xen->iommu = desc->xen_iommu;
	/*
	 * Older Linux's pci_xen_swiotlb_init_late (current Linux decides at
	 * boot, xen_pv_pci_possible; docs/DIFFERENCES.md): the first PCI
	 * device of a PV domU (a passthrough device, seed 003) gets the pool
	 * made now, at most DM_XEN_LATE_POOL_MAX.
	 */
	if (ctx->plat.xen_mode != DMAMAP_XEN_PV || desc->bus != DMAMAP_BUS_PCI ||
	    desc->restricted_pool || ctx->opts.swiotlb_noforce)
		return 0;
	pthread_mutex_lock(&x->pool_lock);
	int rc = 0;
	if (!ctx->swiotlb) {
		uint64_t want = dm_xen_pool_bytes(ctx);
		rc = dm_xen_make_pool(ctx, want < DM_XEN_LATE_POOL_MAX ? want : DM_XEN_LATE_POOL_MAX);
		if (rc == 0) {
			x->pool_late = true;
			dm_swiotlb_mark_late(ctx->swiotlb);
			dm_log(ctx, DMAMAP_LOG_INFO,
			       "swiotlb-xen: %s is the first PCI device: bounce pool made now", desc->name);
		}
	}
	pthread_mutex_unlock(&x->pool_lock);
	return rc;
}

void dm_xen_detach(struct dmamap_device *dev)
{
	free(dev->xen);
	dev->xen = NULL;
}

/* ---- context ------------------------------------------------------------------------------ */

int dm_xen_init(struct dmamap_ctx *ctx)
{
	if (ctx->plat.xen_mode == DMAMAP_XEN_NONE)
		return 0;
	if (ctx->plat.xen_mode > DMAMAP_XEN_ARM) {
		dm_log(ctx, DMAMAP_LOG_ERR, "platform: unknown xen_mode %d", (int)ctx->plat.xen_mode);
		return -EINVAL;
	}
	struct dm_xen *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	pthread_rwlock_init(&x->lock, NULL);
	pthread_mutex_init(&x->pool_lock, NULL);
	ctx->xen = x;
	return 0;
}

void dm_xen_fini_pool(struct dmamap_ctx *ctx)
{
	struct dm_xen *x = ctx->xen;
	if (!x || !x->pool_fixed || !ctx->swiotlb)
		return;
	dmamap_phys_addr_t base;
	uint64_t size;
	if (dmamap_swiotlb_get_pool_range(ctx, ctx->swiotlb, 0, &base, &size) == 0)
		dm_xen_unfix(ctx, base, size / DM_XEN_CHUNK_BYTES);
	x->pool_fixed = false;
}

void dm_xen_fini(struct dmamap_ctx *ctx)
{
	struct dm_xen *x = ctx->xen;
	if (!x)
		return;
	for (size_t i = 0; i < x->nremaps; i++)
		dm_xen_unexchange(ctx, x->remaps[i].phys, x->remaps[i].order);
	free(x->remaps);
	free(x->by_pfn);
	free(x->by_bfn);
	pthread_rwlock_destroy(&x->lock);
	pthread_mutex_destroy(&x->pool_lock);
	free(x);
	ctx->xen = NULL;
}

void dmamap_xen_get_stats(struct dmamap_ctx *ctx, struct dmamap_xen_stats *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (!ctx || !ctx->xen)
		return;
	struct dm_xen *x = ctx->xen;
	st->mode = ctx->plat.xen_mode;
	pthread_mutex_lock(&ctx->lock);
	for (unsigned int i = 0; i < ctx->ndevices; i++)
		if (ctx->devices[i]->xen->xlate != DM_XEN_XLATE_OFF)
			st->swiotlb_xen = true;
	pthread_mutex_unlock(&ctx->lock);
	pthread_mutex_lock(&x->pool_lock);
	st->pool_late = x->pool_late;
	dmamap_phys_addr_t base;
	uint64_t size;
	if (ctx->swiotlb && dmamap_swiotlb_get_pool_range(ctx, ctx->swiotlb, 0, &base, &size) == 0)
		st->pool_bytes = size;
	pthread_mutex_unlock(&x->pool_lock);
	st->exchanged_bytes = atomic_load(&x->exchanged_bytes);
	st->exchange_calls = atomic_load(&x->exchange_calls);
	st->exchange_failures = atomic_load(&x->exchange_failures);
	st->foreign_pages = atomic_load(&x->nforeign_hint);
	st->foreign_maps = atomic_load(&x->foreign_maps);
	st->straddle_bounces = atomic_load(&x->straddle_bounces);
	st->reach_bounces = atomic_load(&x->reach_bounces);
	st->cache_flush_calls = atomic_load(&x->cache_flush_calls);
}
