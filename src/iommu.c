/*
 * src/iommu.c - the dma-iommu backend: IOVAs for devices behind an IOMMU,
 * and the direct windows some IOMMUs offer beside translation.
 *
 * Owns: DMA domains as the OS sees them (one per hardware domain id,
 * shared by the devices in it), IOVA allocation policy (granule, the PCI
 * 32-bit-first rule, reserved regions), strict and lazy invalidation (a
 * per-CPU flush queue), scatterlist coalescing, untrusted-device
 * bouncing, coherent allocations from scattered pages, passthrough
 * (iommu=pt/off/soft: all RAM mapped 1:1), the powerpc-style bypass window
 * and the compressed linear window.  Must never model hardware (page
 * tables and IOTLBs are the platform's, reached through
 * struct dmamap_iommu_hw_ops) and never manage bounce slots (swiotlb.c).
 *
 * Invariants:
 *  - an IOVA is handed out again only after the IOTLB was invalidated for
 *    it: strict mode syncs before freeing; lazy mode frees a queued IOVA
 *    only once a flush_all younger than its unmap has completed;
 *  - the linear window and passthrough mappings are made once per domain
 *    and reserved in the IOVA allocator, so dynamic IOVAs never overlap;
 *  - a device only ever gets a bus address in a window its domain has
 *    mapped (translated, bypass or linear): never a wrong address.
 */
#include "backend.h"
#include "deferred.h"
#include "dma-iommu.h"
#include "exhaustion.h"
#include "iova.h"
#include "swiotlb.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DM_FQ_SIZE 256                    /* Linux's IOVA_FQ_SIZE */
#define DM_FQ_TIMEOUT_NS 10000000ULL      /* 10 ms, Linux's IOVA_FQ_TIMEOUT */
#define DM_IOVA_BITS 48
#define DM_LINEAR_ALIGN (1ULL << 30)      /* keep 1 GiB pages usable */
#define DM_SG_STACK 32                    /* map_sg entries tracked on the stack */
#define DM_NR_FQ 64                       /* per-CPU queues; CPUs beyond share */
#define DM_NO_PHYS (~(dmamap_phys_addr_t)0)     /* no page behind an IOVA */

struct dm_fq_entry {
	uint64_t pfn, npages;
	uint64_t gen;                     /* d->flush_start at unmap */
	uint64_t t_ns;                    /* dm_fq_now() at unmap */
};

/*
 * One per CPU (CPUs beyond DM_NR_FQ share).  The lock is a spinlock: it
 * is this CPU's and almost never contended (a shared queue, a drain), and
 * an uncontended pthread mutex costs two locked instructions where this
 * costs one.  Holders never sleep: a flush command, a few frees.
 */
struct dm_fq {
	DM_ALIGNED_CL dm_spinlock_t lock;
	unsigned int head, n;
	struct dm_fq_entry e[DM_FQ_SIZE]; /* ring */
};

struct dm_iommu_domain {
	struct dm_iommu_domain *next;     /* ctx->domains, ctx->lock */
	struct dmamap_ctx *ctx;
	int id, iommu_id;
	unsigned int refs;                /* devices in it, ctx->lock */
	unsigned int shift;               /* log2(granule) */
	uint64_t granule;
	struct dm_iova_domain *iovad;
	bool strict;
	/* Made once, under map_lock. */
	pthread_mutex_t map_lock;
	bool passthrough;                 /* all RAM mapped at iova == phys */
	bool linear;                      /* the compressed linear window exists */
	struct dmamap_dma_range lin[DMAMAP_MAX_DMA_RANGES]; /* cpu -> iova */
	unsigned int nlin;
	dmamap_dma_addr_t lin_end;        /* last IOVA of the linear window */
	/* Lazy mode. */
	clockid_t fq_clock;               /* CLOCK_MONOTONIC_COARSE where it is fine enough */
	uint64_t (*fq_now_fn)(void *plat); /* the platform's clock instead, when it has one */
	uint64_t fq_timeout_ns;           /* DM_FQ_TIMEOUT_NS less that clock's resolution */
	/*
	 * Linux's fq_flush_start_cnt / fq_flush_finish_cnt: flush_all calls
	 * begun and completed.  A queued IOVA records the begun count; it is
	 * free once the completed count passes it, i.e. once a flush that
	 * began after the IOVA was unmapped has finished.
	 */
	_Atomic uint64_t flush_start;
	_Atomic uint64_t flush_finish;
	struct dm_fq fq[DM_NR_FQ];
};

static void dm_fq_clock_init(struct dm_iommu_domain *d);

static const struct dmamap_iommu_hw_ops *dm_hw(const struct dmamap_ctx *ctx)
{
	return ctx->plat.ops->iommu;
}

static unsigned int dm_prot(enum dmamap_data_direction dir)
{
	/* The device reads what goes to it and writes what comes from it. */
	switch (dir) {
	case DMAMAP_TO_DEVICE:
		return DMAMAP_IOMMU_READ;
	case DMAMAP_FROM_DEVICE:
		return DMAMAP_IOMMU_WRITE;
	default:
		return DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE;
	}
}

/* ---- domains ------------------------------------------------------------- */

static void dm_domain_free(struct dm_iommu_domain *d)
{
	pthread_mutex_destroy(&d->map_lock);
	if (d->iovad)
		dm_iova_domain_destroy(d->iovad);
	free(d);
}

static int dm_domain_new(struct dmamap_ctx *ctx, const struct dmamap_device_desc *desc,
			 struct dm_iommu_domain **out)
{
	const struct dmamap_iommu_hw_ops *hw = dm_hw(ctx);
	uint64_t sizes = hw->page_sizes(ctx->plat.priv, desc->iommu_id);
	if (!sizes)
		return -ENODEV;
	/* aligned_alloc: calloc would not honour the flush queues' alignment. */
	struct dm_iommu_domain *d = aligned_alloc(DM_CACHELINE, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d, 0, sizeof(*d));
	d->ctx = ctx;
	d->id = desc->iommu_domain;
	d->iommu_id = desc->iommu_id;
	d->shift = (unsigned int)__builtin_ctzll(sizes);
	if (d->shift < DMAMAP_PAGE_SHIFT)
		d->shift = DMAMAP_PAGE_SHIFT;
	d->granule = 1ULL << d->shift;
	/* Linux's default: lazy on x86, strict elsewhere; iommu.strict= decides. */
	d->strict = ctx->opts.iommu_strict == 1 ||
		    (ctx->opts.iommu_strict == -1 && ctx->plat.arch != DMAMAP_ARCH_X86);
	pthread_mutex_init(&d->map_lock, NULL);
	dm_fq_clock_init(d);
	/* The translated window bounds the IOVA space; IOVA 0 is never used. */
	uint64_t base = desc->iommu_window_base, size = desc->iommu_window_size;
	uint64_t top = size ? base + size - 1 : (1ULL << DM_IOVA_BITS) - 1;
	uint64_t start = base >> d->shift;
	int rc = dm_iova_domain_init(&d->iovad, d->granule, start ? start : 1, top >> d->shift,
				     ctx->plat.ncpus);
	for (unsigned int i = 0; !rc && i < desc->niommu_reserved; i++) {
		const struct dmamap_dma_range *r = &desc->iommu_reserved[i];
		if (r->size)
			rc = dm_iova_reserve(d->iovad, r->dma >> d->shift,
					     (r->dma + r->size - 1) >> d->shift);
	}
	if (rc) {
		dm_domain_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int dm_iommu_attach(struct dmamap_device *dev, const struct dmamap_device_desc *desc)
{
	struct dmamap_ctx *ctx = dev->ctx;
	if (!desc->iommu_domain)
		return 0;
	if (!dm_hw(ctx)) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: behind IOMMU domain %d, but the platform has no "
		       "IOMMU driver", dev->name, desc->iommu_domain);
		return -ENODEV;
	}
	struct dm_iommu_dev *idev = calloc(1, sizeof(*idev));
	if (!idev)
		return -ENOMEM;
	*idev = (struct dm_iommu_dev){
		.untrusted = desc->untrusted,
		/* Linux's iommu_dma_set_pci_32bit_workaround: unless iommu.forcedac=1. */
		.pci_32bit_first = desc->bus == DMAMAP_BUS_PCI && !ctx->opts.iommu_forcedac,
		.has_bypass = desc->has_bypass,
		.linear_ok = desc->iommu_linear,
		.bypass_offset = desc->bypass_offset,
		.win_base = desc->iommu_window_base,
		.win_size = desc->iommu_window_size,
	};
	pthread_mutex_lock(&ctx->lock);
	struct dm_iommu_domain *d = ctx->domains;
	while (d && d->id != desc->iommu_domain)
		d = d->next;
	int rc = 0;
	if (!d && !(rc = dm_domain_new(ctx, desc, &d))) {
		d->next = ctx->domains;
		ctx->domains = d;
	}
	if (!rc) {
		d->refs++;
		idev->domain = d;
		dev->iommu = idev;
		/* An untrusted device never sees a stale IOTLB entry (Linux: no flush queue). */
		if (idev->untrusted)
			d->strict = true;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (rc)
		free(idev);
	if (rc)
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: IOMMU domain %d could not be set up (%s)",
		       dev->name, desc->iommu_domain, dmamap_strerror(rc));
	return rc;
}

/* ---- invalidation ----------------------------------------------------------- */

/*
 * The flush queue's clock.  Only the 10 ms timeout reads it, once per
 * lazy unmap, so it is on the map+unmap path: CLOCK_MONOTONIC costs a
 * ~23 ns vDSO read on the development VM, CLOCK_MONOTONIC_COARSE (the
 * time of the last tick, like the jiffies Linux's flush-queue timer
 * counts in) ~3 ns.  Each coarse reading trails the true time by less
 * than one resolution step (the tick: 4 ms at HZ=250), so an age measured
 * with it is within one step of the true age, and the timeout is
 * shortened by one step: whenever the oldest entry may be older than
 * 10 ms, the unmap flushes.  Never late, early by up to two ticks (an
 * extra invalidation, only when unmaps are too sparse to fill the queue).
 * A coarse clock of more than 5 ms (HZ < 200), or none, falls back to
 * CLOCK_MONOTONIC.
 */
static void dm_fq_clock_init(struct dm_iommu_domain *d)
{
	d->fq_clock = CLOCK_MONOTONIC;
	d->fq_timeout_ns = DM_FQ_TIMEOUT_NS;
	d->fq_now_fn = d->ctx->plat.ops->now_ns;
	if (d->fq_now_fn)
		return; /* the platform's clock: exact, no tick to allow for */
#ifdef CLOCK_MONOTONIC_COARSE
	struct timespec res;
	if (!clock_getres(CLOCK_MONOTONIC_COARSE, &res) && res.tv_sec == 0 &&
	    res.tv_nsec > 0 && res.tv_nsec <= 5000000) {
		d->fq_clock = CLOCK_MONOTONIC_COARSE;
		d->fq_timeout_ns = DM_FQ_TIMEOUT_NS - (uint64_t)res.tv_nsec;
	}
#endif
}

static inline uint64_t dm_fq_now(const struct dm_iommu_domain *d)
{
	if (d->fq_now_fn) /* the platform's own (virtual) clock */
		return d->fq_now_fn(d->ctx->plat.priv);
	struct timespec ts;
	clock_gettime(d->fq_clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Frees queued IOVAs that a completed flush covers; the queue's lock held (fq_ring_free). */
static void dm_fq_reap(struct dm_iommu_domain *d, struct dm_fq *q)
{
	uint64_t done = atomic_load_explicit(&d->flush_finish, memory_order_acquire);
	while (q->n && q->e[q->head].gen < done) {
		struct dm_fq_entry *e = &q->e[q->head];
		dm_iova_free_fast(d->iovad, e->pfn, e->npages);
		q->head = (q->head + 1) % DM_FQ_SIZE;
		q->n--;
	}
}

/* Linux's fq_flush_iotlb: begun, the hardware flush, completed. */
static void dm_flush_all(struct dm_iommu_domain *d)
{
	atomic_fetch_add_explicit(&d->flush_start, 1, memory_order_seq_cst);
	dm_hw(d->ctx)->flush_all(d->ctx->plat.priv, d->id);
	atomic_fetch_add_explicit(&d->flush_finish, 1, memory_order_release);
}

/* An unmapped IOVA range becomes reusable: now (strict) or after a flush. */
static void dm_iova_retire(struct dm_iommu_domain *d, uint64_t pfn, uint64_t npages)
{
	struct dmamap_ctx *ctx = d->ctx;
	if (d->strict) {
		dm_hw(ctx)->iotlb_sync(ctx->plat.priv, d->id, pfn << d->shift, npages << d->shift);
		dm_iova_free_fast(d->iovad, pfn, npages);
		dm_exhaust_released(ctx); /* queued requests (exhaust.c) */
		return;
	}
	struct dm_fq *q = &d->fq[dm_cpu() % DM_NR_FQ];
	uint64_t now = dm_fq_now(d);
	dm_spin_lock(&q->lock);
	dm_fq_reap(d, q);
	/*
	 * Full, or the oldest may have waited 10 ms: one flush covers every
	 * queue.  (now can trail an entry's time stamp taken by another
	 * thread sharing this queue: that is no timeout.)
	 */
	if (q->n == DM_FQ_SIZE ||
	    (q->n && now > q->e[q->head].t_ns && now - q->e[q->head].t_ns > d->fq_timeout_ns)) {
		dm_flush_all(d);
		dm_fq_reap(d, q);
	}
	/*
	 * The begun count, read after the page-table update (seq_cst, as
	 * Linux's smp_mb() in queue_iova): a flush already begun may have
	 * emptied the IOTLB before this IOVA was unmapped, and does not count.
	 */
	unsigned int tail = (q->head + q->n) % DM_FQ_SIZE;
	q->e[tail] = (struct dm_fq_entry){ pfn, npages,
		atomic_load_explicit(&d->flush_start, memory_order_seq_cst), now };
	q->n++;
	dm_spin_unlock(&q->lock);
	dm_deferred_arm(ctx); /* the timeout flushes it even if no unmap follows */
	dm_exhaust_released(ctx); /* the reap may have freed IOVAs */
}

/* One flush, then every CPU's queue freed of what it covers. */
static void dm_fq_flush_reap(struct dm_iommu_domain *d)
{
	dm_flush_all(d);
	for (unsigned int i = 0; i < DM_NR_FQ; i++) {
		dm_spin_lock(&d->fq[i].lock);
		dm_fq_reap(d, &d->fq[i]);
		dm_spin_unlock(&d->fq[i].lock);
	}
}

/* Every queued IOVA of the domain, invalidated and freed. */
static void dm_fq_drain(struct dm_iommu_domain *d)
{
	dm_fq_flush_reap(d);
	dm_exhaust_released(d->ctx);
}

/* The time stamp of the domain's oldest queued IOVA; false when none is queued. */
static bool dm_fq_oldest(struct dm_iommu_domain *d, uint64_t *t)
{
	bool any = false;
	for (unsigned int i = 0; i < DM_NR_FQ; i++) {
		struct dm_fq *q = &d->fq[i];
		dm_spin_lock(&q->lock);
		if (q->n && (!any || q->e[q->head].t_ns < *t)) {
			*t = q->e[q->head].t_ns;
			any = true;
		}
		dm_spin_unlock(&q->lock);
	}
	return any;
}

/*
 * Linux's fq_flush_timeout: every domain whose oldest queued IOVA is older
 * than the timeout is flushed once and all its queues freed.  ctx->lock
 * keeps the domains alive (detach unlinks under it); queued requests are
 * served after it is dropped.
 */
unsigned int dm_iommu_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns)
{
	unsigned int flushed = 0;
	uint64_t next = UINT64_MAX;
	pthread_mutex_lock(&ctx->lock);
	for (struct dm_iommu_domain *d = ctx->domains; d; d = d->next) {
		uint64_t oldest;
		if (!dm_fq_oldest(d, &oldest))
			continue;
		uint64_t now = dm_fq_now(d);
		uint64_t age = now > oldest ? now - oldest : 0;
		if (age > d->fq_timeout_ns) {
			dm_fq_flush_reap(d);
			flushed++;
			/* Queued while the flush ran: due a full timeout from their unmap. */
			if (!dm_fq_oldest(d, &oldest))
				continue;
			age = now > oldest ? now - oldest : 0;
		}
		uint64_t left = age > d->fq_timeout_ns ? 1 : d->fq_timeout_ns - age + 1;
		if (left < next)
			next = left;
	}
	pthread_mutex_unlock(&ctx->lock);
	if (flushed)
		dm_exhaust_released(ctx);
	*next_ns = next;
	return flushed;
}



void dm_iommu_detach(struct dmamap_device *dev)
{
	if (!dev->iommu)
		return;
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	/* Queued IOVAs (the domain may have turned strict since) are released. */
	bool queued = false;
	for (unsigned int i = 0; i < DM_NR_FQ && !queued; i++) {
		dm_spin_lock(&d->fq[i].lock);
		queued = d->fq[i].n != 0;
		dm_spin_unlock(&d->fq[i].lock);
	}
	if (queued)
		dm_fq_drain(d);
	pthread_mutex_lock(&ctx->lock);
	bool last = --d->refs == 0;
	if (last) {
		struct dm_iommu_domain **pp = &ctx->domains;
		while (*pp != d)
			pp = &(*pp)->next;
		*pp = d->next;
	}
	pthread_mutex_unlock(&ctx->lock);
	free(dev->iommu);
	dev->iommu = NULL;
	if (!last)
		return;
	/* The last user: take the long-lived mappings down too. */
	const struct dmamap_iommu_hw_ops *hw = dm_hw(ctx);
	uint64_t unmapped;
	for (unsigned int i = 0; i < d->nlin; i++)
		hw->unmap(ctx->plat.priv, d->id, d->lin[i].dma, d->lin[i].size, &unmapped);
	if (d->nlin)
		dm_flush_all(d);
	dm_domain_free(d);
}

/* ---- IOVAs ------------------------------------------------------------------- */

/* Highest IOVA the device may be given for a mask. */
static uint64_t dm_iova_limit(const struct dmamap_device *dev, uint64_t mask)
{
	uint64_t lim = mask;
	if (dev->bus_dma_limit && dev->bus_dma_limit < lim)
		lim = dev->bus_dma_limit;
	if (dev->iommu->win_size && dev->iommu->win_base + dev->iommu->win_size - 1 < lim)
		lim = dev->iommu->win_base + dev->iommu->win_size - 1;
	return lim;
}

static uint64_t dm_alloc_iova(struct dmamap_device *dev, uint64_t npages, uint64_t mask)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	uint64_t lim = dm_iova_limit(dev, mask);
	/*
	 * Linux's rule for PCI: a 32-bit IOVA first (some devices and bridges
	 * mishandle DAC); after the first miss the device uses its full mask.
	 */
	if (dev->iommu->pci_32bit_first && lim > DM_SZ_4G - 1) {
		uint64_t pfn = dm_iova_alloc_fast(d->iovad, npages, (DM_SZ_4G - 1) >> d->shift, false);
		if (pfn)
			return pfn;
		dev->iommu->pci_32bit_first = false;
		dm_log(dev->ctx, DMAMAP_LOG_INFO, "%s: 32-bit IOVA space full: using %u-bit DMA "
		       "addresses", dev->name, dm_fls64(lim));
	}
	return dm_iova_alloc_fast(d->iovad, npages, lim >> d->shift, true);
}

static bool dm_is_bounce(const struct dmamap_device *dev, dmamap_phys_addr_t phys)
{
	return dev->iommu->untrusted && dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys);
}

/*
 * An untrusted device must not see the rest of a page it was given a
 * part of: the buffer moves to a granule-aligned bounce slot whose
 * padding is zeroed (Linux's iommu_dma_map_phys with swiotlb).  The IOMMU
 * maps the slot, so any slot is in reach.
 */
static int dm_untrusted_bounce(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			       enum dmamap_data_direction dir, unsigned long attrs,
			       dmamap_phys_addr_t *tlb)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	int rc = dm_swiotlb_map(dev, phys, size, (unsigned int)(d->granule - 1), dir, attrs,
				"untrusted sub-page buffer", NULL, tlb, NULL);
	if (rc)
		return rc;
	/* Zero what the device could see around the buffer in its granules. */
	dmamap_phys_addr_t start = *tlb & ~(d->granule - 1);
	dmamap_phys_addr_t end = (*tlb + size + d->granule - 1) & ~(d->granule - 1);
	uint8_t *cpu = dm_phys_to_virt(ctx, start);
	memset(cpu, 0, *tlb - start);
	memset(cpu + (*tlb + size - start), 0, end - (*tlb + size));
	if (!dev->coherent)
		dm_cache_for_device(ctx, start, end - start);
	return 0;
}

static int dm_iommu_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			     enum dmamap_data_direction dir, unsigned long attrs,
			     dmamap_dma_addr_t *dma)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	uint64_t gmask = d->granule - 1;
	bool bounced = false;
	int rc;
	if (dev->iommu->untrusted && ((phys | size) & gmask)) {
		if ((rc = dm_untrusted_bounce(dev, phys, size, dir, attrs, &phys)))
			return rc;
		bounced = true;
	} else if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC)) {
		dm_cache_for_device(ctx, phys, size);
	}
	uint64_t off = phys & gmask, len = (off + size + gmask) & ~gmask;
	uint64_t pfn = dm_alloc_iova(dev, len >> d->shift, dev->dma_mask);
	if (!pfn) {
		rc = -ENOMEM; /* exhaustion: the device's policy applies */
		if (!(attrs & DMAMAP_ATTR_NO_WARN))
			dm_log(ctx, DMAMAP_LOG_ERR, "%s: IOVA space exhausted for %llu bytes",
			       dev->name, (unsigned long long)len);
		goto fail;
	}
	if (dm_hw(ctx)->map(ctx->plat.priv, d->id, pfn << d->shift, phys - off, len,
			    dm_prot(dir))) {
		dm_iova_free_fast(d->iovad, pfn, len >> d->shift);
		rc = -EIO;
		goto fail;
	}
	*dma = (pfn << d->shift) + off;
	return 0;
fail:
	if (bounced)
		dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir,
				     attrs | DMAMAP_ATTR_SKIP_CPU_SYNC);
	return rc;
}

static dmamap_phys_addr_t dm_iova_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr)
{
	dmamap_phys_addr_t phys;
	if (dm_hw(dev->ctx)->iova_to_phys(dev->ctx->plat.priv, dev->iommu->domain->id, addr, &phys))
		return DM_NO_PHYS;
	return phys;
}

/*
 * A sync of [addr, addr + size) in IOVA space.  The range may span pages
 * a coalesced scatterlist put side by side in IOVA space from anywhere in
 * memory, so it is walked granule by granule and maintained one
 * physically contiguous run at a time (found by fuzz_api: syncing a
 * coalesced bus segment as one physical range missed all but its first
 * page).
 */
static void dm_iommu_sync(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			  enum dmamap_data_direction dir, bool for_cpu)
{
	uint64_t g = dev->iommu->domain->granule;
	while (size) {
		dmamap_phys_addr_t phys = dm_iova_phys(dev, addr);
		if (phys == DM_NO_PHYS)
			return;
		size_t len = g - (addr & (g - 1));
		if (len > size)
			len = size;
		while (len < size && dm_iova_phys(dev, addr + len) == phys + len)
			len += size - len < g ? size - len : g;
		bool bounce = dm_is_bounce(dev, phys);
		if (for_cpu) {
			if (!dev->coherent)
				dm_cache_for_cpu(dev->ctx, phys, len, dir);
			if (bounce)
				dm_swiotlb_sync_for_cpu(dev, dev->swiotlb, phys, len, dir);
		} else {
			if (bounce)
				dm_swiotlb_sync_for_device(dev, dev->swiotlb, phys, len, dir);
			if (!dev->coherent)
				dm_cache_for_device(dev->ctx, phys, len);
		}
		addr += len;
		size -= len;
	}
}

static void dm_iommu_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				  size_t size, enum dmamap_data_direction dir)
{
	dm_iommu_sync(dev, addr, size, dir, true);
}

static void dm_iommu_sync_for_device(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				     size_t size, enum dmamap_data_direction dir)
{
	dm_iommu_sync(dev, addr, size, dir, false);
}

/*
 * As Linux's iommu_dma_unmap_page: cache maintenance, then the IOMMU
 * mapping goes (unmapped and, strict as an untrusted device's domain
 * always is, invalidated), and only then is a bounce slot copied back and
 * released: until the IOTLB forgets the IOVA the device can still reach
 * the slot, which must not belong to another mapping by then.
 */
static int dm_iommu_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir, unsigned long attrs)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	uint64_t gmask = d->granule - 1;
	dmamap_phys_addr_t phys = 0;
	bool bounced = false;
	/* Only cache maintenance and bounce buffers need the physical page. */
	if (!dev->coherent || dev->iommu->untrusted) {
		phys = dm_iova_phys(dev, addr);
		if (phys == DM_NO_PHYS)
			goto not_mapped;
		bounced = dm_is_bounce(dev, phys);
		/* A stale or double unmap: refused before anything is torn down. */
		if (bounced && !dm_swiotlb_unmap_ok(dev, dev->swiotlb, phys, size))
			return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
		if (!(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC) && !dev->coherent)
			dm_cache_for_cpu(ctx, phys, size, dir);
	}
	uint64_t off = addr & gmask, len = (off + size + gmask) & ~gmask;
	uint64_t unmapped = 0;
	dm_hw(ctx)->unmap(ctx->plat.priv, d->id, addr - off, len, &unmapped);
	/* Nothing was there: freeing the IOVA would corrupt the allocator. */
	if (!unmapped)
		goto not_mapped;
	dm_iova_retire(d, (addr - off) >> d->shift, len >> d->shift);
	if (bounced)
		return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
	return 0;
not_mapped:
	dm_log(ctx, DMAMAP_LOG_ERR, "%s: unmap of IOVA 0x%llx that is not mapped", dev->name,
	       (unsigned long long)addr);
	return -EINVAL;
}

/* ---- scatterlists ------------------------------------------------------------------ */

/*
 * One IOVA range for the whole list: each segment keeps its offset within
 * its first granule, segments follow each other granule-aligned, padded so
 * none crosses the segment boundary; then consecutive segments that meet
 * exactly (one ends on a granule end, the next starts at offset 0) merge
 * into one bus segment while it stays within max_segment_size and the
 * boundary (Linux's iommu_dma_map_sg / __finalise_sg).
 */
static int dm_iommu_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			   enum dmamap_data_direction dir, unsigned long attrs)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	uint64_t gmask = d->granule - 1, bmask = dev->seg_boundary_mask;
	/* Short lists (the common case) need no allocation on this path. */
	uint64_t pos_s[DM_SG_STACK];
	dmamap_phys_addr_t phys_s[DM_SG_STACK];
	bool small = nents <= DM_SG_STACK;
	uint64_t *pos = small ? pos_s : malloc((size_t)nents * sizeof(*pos));
	dmamap_phys_addr_t *phys = small ? phys_s : malloc((size_t)nents * sizeof(*phys));
	int rc = -ENOMEM, i;
	if (!pos || !phys)
		goto out;
	if (dev->iommu->untrusted) {
		/* Each segment on its own, each maybe bounced (no merging). */
		for (i = 0; i < nents; i++) {
			dmamap_phys_addr_t p;
			if (dm_virt_to_phys(ctx, sg[i].cpu, &p)) {
				rc = -EINVAL;
				break;
			}
			rc = dm_iommu_map_phys(dev, p, sg[i].length, dir, attrs, &sg[i].dma_address);
			if (rc)
				break;
			sg[i].dma_length = sg[i].length;
		}
		if (i == nents) {
			rc = nents;
			goto out;
		}
		while (--i >= 0)
			dm_iommu_unmap_phys(dev, sg[i].dma_address, sg[i].dma_length, dir,
					    attrs | DMAMAP_ATTR_SKIP_CPU_SYNC);
		goto out;
	}
	uint64_t total = 0;
	for (i = 0; i < nents; i++) {
		if (dm_virt_to_phys(ctx, sg[i].cpu, &phys[i])) {
			dm_log(ctx, DMAMAP_LOG_ERR, "%s: sg entry %d: %p is not RAM", dev->name, i,
			       sg[i].cpu);
			rc = -EINVAL;
			goto out;
		}
		uint64_t off = phys[i] & gmask, len = (off + sg[i].length + gmask) & ~gmask;
		/* Pad to the boundary rather than let a segment cross it. */
		uint64_t room = bmask - (total & bmask) + 1;
		if (bmask != UINT64_MAX && len <= bmask + 1 && len > room)
			total += room;
		pos[i] = total;
		total += len;
		if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
			dm_cache_for_device(ctx, phys[i], sg[i].length);
	}
	uint64_t pfn = dm_alloc_iova(dev, total >> d->shift, dev->dma_mask);
	if (!pfn) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t base = pfn << d->shift;
	unsigned int prot = dm_prot(dir);
	for (i = 0; i < nents; i++) {
		uint64_t off = phys[i] & gmask, len = (off + sg[i].length + gmask) & ~gmask;
		if (dm_hw(ctx)->map(ctx->plat.priv, d->id, base + pos[i], phys[i] - off, len, prot))
			break;
	}
	if (i < nents) {
		uint64_t unmapped;
		while (--i >= 0) {
			uint64_t off = phys[i] & gmask, len = (off + sg[i].length + gmask) & ~gmask;
			dm_hw(ctx)->unmap(ctx->plat.priv, d->id, base + pos[i], len, &unmapped);
		}
		dm_iova_retire(d, pfn, total >> d->shift);
		rc = -ENOMEM;
		goto out;
	}
	/* Bus segments: merge what meets exactly, within the device's rules. */
	int k = -1;
	uint64_t cur_end = 0;
	for (i = 0; i < nents; i++) {
		uint64_t start = base + pos[i] + (phys[i] & gmask);
		uint64_t len = sg[i].length;
		bool merge = k >= 0 && start == cur_end &&
			     (uint64_t)sg[k].dma_length + len <= dev->max_seg_size &&
			     (sg[k].dma_address & ~bmask) == ((start + len - 1) & ~bmask);
		if (merge) {
			sg[k].dma_length += (unsigned int)len;
		} else {
			k++;
			sg[k].dma_address = start;
			sg[k].dma_length = (unsigned int)len;
		}
		cur_end = start + len;
	}
	/* Entries past the last bus segment carry none. */
	for (i = k + 1; i < nents; i++)
		sg[i].dma_length = 0;
	rc = k + 1;
out:
	if (!small) {
		free(pos);
		free(phys);
	}
	return rc;
}

static void dm_iommu_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			      enum dmamap_data_direction dir, unsigned long attrs)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	if (dev->iommu->untrusted) {
		for (int i = 0; i < nents; i++)
			dm_iommu_unmap_phys(dev, sg[i].dma_address, sg[i].dma_length, dir, attrs);
		return;
	}
	uint64_t gmask = d->granule - 1;
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
		for (int i = 0; i < nents; i++) {
			dmamap_phys_addr_t p;
			if (!dm_virt_to_phys(ctx, sg[i].cpu, &p))
				dm_cache_for_cpu(ctx, p, sg[i].length, dir);
		}
	/* The range runs from the first bus segment to the end of the last. */
	uint64_t start = sg[0].dma_address & ~gmask, end = start;
	for (int i = 0; i < nents && sg[i].dma_length; i++)
		end = sg[i].dma_address + sg[i].dma_length;
	end = (end + gmask) & ~gmask;
	uint64_t unmapped;
	dm_hw(ctx)->unmap(ctx->plat.priv, d->id, start, end - start, &unmapped);
	dm_iova_retire(d, start >> d->shift, (end - start) >> d->shift);
}

/* ---- coherent allocations --------------------------------------------------------- */

/*
 * Scattered granules made contiguous twice: in IOVA space by the IOMMU and
 * in the CPU's view by the platform's vmap.  Without vmap, one contiguous
 * block (anywhere in RAM: the IOMMU makes it reachable).
 */
static void *dm_iommu_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
			    unsigned long attrs)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	(void)attrs;
	if (!size || (!dev->coherent && !ops->set_uncached))
		return NULL;
	uint64_t len = (size + d->granule - 1) & ~(d->granule - 1);
	uint64_t nchunks = len >> d->shift, chunk_pages = d->granule >> DMAMAP_PAGE_SHIFT;
	uint64_t npages = len >> DMAMAP_PAGE_SHIFT;
	dmamap_phys_addr_t *pages = calloc(npages, sizeof(*pages));
	void *cpu = NULL;
	uint64_t got = 0;
	if (!pages)
		return NULL;
	bool scattered = ops->vmap && nchunks > 1;
	if (scattered) {
		for (; got < nchunks; got++) {
			dmamap_phys_addr_t p;
			if (ops->alloc_pages(ctx->plat.priv, chunk_pages, chunk_pages, UINT64_MAX, &p))
				goto fail;
			for (uint64_t k = 0; k < chunk_pages; k++)
				pages[got * chunk_pages + k] = p + (k << DMAMAP_PAGE_SHIFT);
		}
		cpu = ops->vmap(ctx->plat.priv, pages, npages);
	} else {
		dmamap_phys_addr_t p;
		if (ops->alloc_pages(ctx->plat.priv, npages, chunk_pages, UINT64_MAX, &p))
			goto fail;
		got = nchunks;
		for (uint64_t k = 0; k < npages; k++)
			pages[k] = p + (k << DMAMAP_PAGE_SHIFT);
		cpu = dm_phys_to_virt(ctx, p);
	}
	if (!cpu)
		goto fail;
	uint64_t pfn = dm_alloc_iova(dev, nchunks, dev->coherent_dma_mask);
	if (!pfn)
		goto fail_unmap;
	uint64_t i;
	for (i = 0; i < nchunks; i++)
		if (dm_hw(ctx)->map(ctx->plat.priv, d->id, (pfn + i) << d->shift,
				    pages[i * chunk_pages], d->granule,
				    DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE))
			break;
	if (i < nchunks) {
		uint64_t unmapped;
		dm_hw(ctx)->unmap(ctx->plat.priv, d->id, pfn << d->shift, i << d->shift, &unmapped);
		dm_iova_retire(d, pfn, nchunks);
		goto fail_unmap;
	}
	memset(cpu, 0, len);
	for (i = 0; !dev->coherent && i < nchunks; i++) {
		dm_cache_for_device(ctx, pages[i * chunk_pages], d->granule);
		ops->set_uncached(ctx->plat.priv, pages[i * chunk_pages], d->granule, true);
	}
	free(pages);
	*handle = pfn << d->shift;
	return cpu;
fail_unmap:
	if (scattered && cpu)
		ops->vunmap(ctx->plat.priv, cpu, npages);
fail:
	for (uint64_t k = 0; k < got; k++)
		ops->free_pages(ctx->plat.priv, pages[k * chunk_pages],
				scattered ? chunk_pages : npages);
	free(pages);
	return NULL;
}

static void dm_iommu_free(struct dmamap_device *dev, size_t size, void *cpu,
			  dmamap_dma_addr_t handle, unsigned long attrs)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	(void)attrs;
	uint64_t len = (size + d->granule - 1) & ~(d->granule - 1);
	uint64_t nchunks = len >> d->shift, chunk_pages = d->granule >> DMAMAP_PAGE_SHIFT;
	bool scattered = ops->vmap && nchunks > 1;
	dmamap_phys_addr_t first = DM_NO_PHYS;
	for (uint64_t i = 0; i < nchunks; i++) {
		dmamap_phys_addr_t p = dm_iova_phys(dev, handle + (i << d->shift));
		if (p == DM_NO_PHYS)
			continue;
		if (!dev->coherent)
			ops->set_uncached(ctx->plat.priv, p, d->granule, false);
		if (scattered)
			ops->free_pages(ctx->plat.priv, p, chunk_pages);
		else if (!i)
			first = p;
	}
	uint64_t unmapped;
	dm_hw(ctx)->unmap(ctx->plat.priv, d->id, handle, len, &unmapped);
	dm_iova_retire(d, handle >> d->shift, nchunks);
	if (scattered)
		ops->vunmap(ctx->plat.priv, cpu, len >> DMAMAP_PAGE_SHIFT);
	else if (first != DM_NO_PHYS)
		ops->free_pages(ctx->plat.priv, first, len >> DMAMAP_PAGE_SHIFT);
}

static size_t dm_iommu_max_mapping_size(struct dmamap_device *dev)
{
	return dev->iommu->untrusted && dev->swiotlb ? dm_swiotlb_max_mapping_size(dev) : SIZE_MAX;
}

static size_t dm_iommu_opt_mapping_size(struct dmamap_device *dev)
{
	/* The largest size the per-CPU IOVA caches serve. */
	return (size_t)DM_IOVA_RCACHE_MAX_NPAGES << dev->iommu->domain->shift;
}

const struct dm_map_ops dm_iommu_ops = {
	.name = "iommu",
	.map_phys = dm_iommu_map_phys,
	.unmap_phys = dm_iommu_unmap_phys,
	.map_sg = dm_iommu_map_sg,
	.unmap_sg = dm_iommu_unmap_sg,
	.sync_for_cpu = dm_iommu_sync_for_cpu,
	.sync_for_device = dm_iommu_sync_for_device,
	.alloc = dm_iommu_alloc,
	.free = dm_iommu_free,
	.max_mapping_size = dm_iommu_max_mapping_size,
	.opt_mapping_size = dm_iommu_opt_mapping_size,
};

/* ---- direct windows: bypass and compressed linear -------------------------------- */

/*
 * Streaming maps go through dma-direct with the window as the device's
 * dma-ranges; coherent allocations go through the translated window when
 * the coherent mask cannot reach the direct one (seed 004's 32-bit
 * coherent + 64-bit streaming device).
 */
static void *dm_bypass_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
			     unsigned long attrs)
{
	dmamap_dma_addr_t top = dm_phys_to_dma(dev, dev->ctx->plat.max_ram_end);
	if (top == DMAMAP_MAPPING_ERROR || top > dev->coherent_dma_mask)
		return dm_iommu_alloc(dev, size, handle, attrs);
	return dm_direct_alloc(dev, size, handle, attrs, true);
}

static void dm_bypass_free(struct dmamap_device *dev, size_t size, void *cpu,
			   dmamap_dma_addr_t handle, unsigned long attrs)
{
	/* Bus addresses of the direct window are never IOVAs the domain hands out. */
	if (dm_dma_to_phys(dev, handle) != DMAMAP_MAPPING_ERROR &&
	    handle >= dev->ranges[0].dma)
		dm_direct_free(dev, size, cpu, handle, attrs, true);
	else
		dm_iommu_free(dev, size, cpu, handle, attrs);
}

/*
 * dm_iommu_ops has no .dma_supported: Linux's dma_supported is true for a
 * device dma-iommu translates.  A direct window keeps dma-direct's rule.
 */
const struct dm_map_ops dm_iommu_bypass_ops = {
	.name = "iommu-bypass",
	DM_DIRECT_STREAMING_OPS,
	.dma_supported = dm_direct_supported,
	.alloc = dm_bypass_alloc,
	.free = dm_bypass_free,
};

/*
 * Maps all RAM once, holes skipped: each range starts where the last
 * ended, rounded up to 1 GiB plus the range's own offset within 1 GiB, so
 * the IOMMU can use its largest pages.  The window starts at 4 GiB (above
 * the 32-bit translated window) unless identity (passthrough).
 */
static int dm_map_ram_once(struct dm_iommu_domain *d, bool identity)
{
	struct dmamap_ctx *ctx = d->ctx;
	const struct dmamap_platform *p = &ctx->plat;
	if (!p->nlinear || p->nlinear > DMAMAP_MAX_DMA_RANGES)
		return -EOPNOTSUPP;
	uint64_t cursor = DM_SZ_4G;
	unsigned int n = 0;
	int rc = 0;
	for (unsigned int i = 0; i < p->nlinear && !rc; i++) {
		const struct dmamap_linear_range *r = &p->linear[i];
		uint64_t iova = identity ? r->phys
				: ((cursor + DM_LINEAR_ALIGN - 1) & ~(DM_LINEAR_ALIGN - 1)) +
				  (r->phys & (DM_LINEAR_ALIGN - 1));
		rc = dm_hw(ctx)->map(p->priv, d->id, iova, r->phys, r->size,
				     DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE);
		if (!rc)
			rc = dm_iova_reserve(d->iovad, iova >> d->shift,
					     (iova + r->size - 1) >> d->shift);
		d->lin[n++] = (struct dmamap_dma_range){ r->phys, iova, r->size };
		cursor = iova + r->size;
	}
	if (rc) {
		uint64_t unmapped;
		for (unsigned int i = 0; i < n; i++)
			dm_hw(ctx)->unmap(p->priv, d->id, d->lin[i].dma, d->lin[i].size, &unmapped);
		dm_flush_all(d);
		return rc;
	}
	d->nlin = n;
	d->lin_end = cursor - 1;
	d->passthrough = identity;
	d->linear = !identity;
	return 0;
}

static int dm_domain_map_ram(struct dm_iommu_domain *d, bool identity)
{
	pthread_mutex_lock(&d->map_lock);
	int rc = 0;
	if (d->nlin && d->passthrough != identity)
		rc = -EBUSY; /* the domain already has the other kind */
	else if (!d->nlin)
		rc = dm_map_ram_once(d, identity);
	pthread_mutex_unlock(&d->map_lock);
	return rc;
}

/* The device's dma-ranges become the domain's direct window. */
static void dm_use_window(struct dmamap_device *dev, const struct dmamap_dma_range *r,
			  unsigned int n)
{
	if (n)
		memcpy(dev->ranges, r, n * sizeof(*r));
	dev->nranges = n;
}

void dm_iommu_select(struct dmamap_device *dev)
{
	struct dm_iommu_domain *d = dev->iommu->domain;
	struct dmamap_ctx *ctx = dev->ctx;
	uint64_t ram_end = ctx->plat.max_ram_end;
	enum dm_iommu_mode mode = ctx->opts.iommu_mode;
	dev->force_bounce = false;
	dev->direct_limit = dm_iova_limit(dev, dev->dma_mask);

	/* iommu=pt/off/soft: the OS leaves translation alone (untrusted aside). */
	if ((mode == DM_IOMMU_PT || mode == DM_IOMMU_OFF || mode == DM_IOMMU_SOFT) &&
	    !dev->iommu->untrusted && !dm_domain_map_ram(d, true)) {
		dm_use_window(dev, NULL, 0);
		dev->ops = NULL;
		dev->ops_name = "direct";
		snprintf(dev->reason, sizeof(dev->reason),
			 "iommu=%s: domain %d maps all RAM 1:1 (passthrough); dma-direct%s",
			 mode == DM_IOMMU_PT ? "pt" : mode == DM_IOMMU_OFF ? "off" : "soft", d->id,
			 dev->swiotlb ? ", bouncing beyond the mask" : "");
		dev->direct_limit = dev->dma_mask;
		return;
	}
	if (dev->iommu->has_bypass && !dev->iommu->untrusted && ram_end <= UINT64_MAX - dev->iommu->bypass_offset &&
	    dev->iommu->bypass_offset + ram_end <= dev->dma_mask) {
		struct dmamap_dma_range w = { 0, dev->iommu->bypass_offset, ram_end + 1 };
		dm_use_window(dev, &w, 1);
		dev->ops = &dm_iommu_bypass_ops;
		dev->ops_name = "iommu-bypass";
		dev->direct_limit = dev->dma_mask;
		snprintf(dev->reason, sizeof(dev->reason),
			 "mask 0x%llx reaches the bypass window at 0x%llx: direct, no IOMMU work%s",
			 (unsigned long long)dev->dma_mask, (unsigned long long)dev->iommu->bypass_offset,
			 dev->coherent_dma_mask < dev->iommu->bypass_offset + ram_end
			 ? "; coherent memory through the IOMMU window" : "");
		return;
	}
	if (ctx->plat.ops->iommu && !dev->iommu->untrusted && dev->iommu->linear_ok &&
	    !dm_domain_map_ram(d, false) && d->linear && d->lin_end <= dev->dma_mask) {
		dm_use_window(dev, d->lin, d->nlin);
		dev->ops = &dm_iommu_bypass_ops;
		dev->ops_name = "iommu-bypass";
		dev->direct_limit = dev->dma_mask;
		snprintf(dev->reason, sizeof(dev->reason),
			 "mask 0x%llx reaches the compressed linear window 0x%llx-0x%llx (all RAM, "
			 "holes skipped, mapped once): no per-map IOMMU work",
			 (unsigned long long)dev->dma_mask, (unsigned long long)d->lin[0].dma,
			 (unsigned long long)d->lin_end);
		return;
	}
	dm_use_window(dev, NULL, 0);
	dev->ops = &dm_iommu_ops;
	dev->ops_name = "iommu";
	snprintf(dev->reason, sizeof(dev->reason),
		 "behind IOMMU %d, domain %d: IOVAs up to 0x%llx, %s invalidation%s%s",
		 d->iommu_id, d->id, (unsigned long long)dev->direct_limit,
		 d->strict ? "strict" : "lazy", dev->iommu->untrusted ? "; untrusted: sub-page buffers bounce" : "",
		 dev->iommu->has_bypass ? "; mask too narrow for the bypass window" : "");
}
