/*
 * src/context.h - the library's two objects, the context and the device,
 * and what every file does with them: the CPU index, logging, counters,
 * bus-address translation, RAM lookups and cache maintenance.
 *
 * Owns: struct dmamap_ctx, struct dmamap_device and their inline helpers.
 * Never included by drivers, the simulator or embedders; never includes a
 * sim/ header.  A backend's per-device state is its own (dev->iommu,
 * dev->xen): declared here, defined in the backend's header.
 *
 * Naming: public symbols are dmamap_*, cross-file internals dm_*,
 * file-local ones are static.
 */
#ifndef DM_CONTEXT_H
#define DM_CONTEXT_H

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include "base.h"
#include "bootargs.h"

#include <errno.h>
#include <pthread.h>

/* ---- per-CPU index ---------------------------------------------------- */

/*
 * Each thread counts as one logical CPU: the first call hands out the next
 * number, dmamap_set_cpu() overrides it.  One TLS load on the fast path.
 */
extern DM_TLS_IE _Thread_local int dm_tls_cpu;
unsigned int dm_cpu_slow(void);
static inline unsigned int dm_cpu(void)
{
	int c = dm_tls_cpu;
	return dm_likely(c >= 0) ? (unsigned int)c : dm_cpu_slow();
}
/* ---- logging ------------------------------------------------------------ */

void dm_log(struct dmamap_ctx *ctx, enum dmamap_log_level lvl,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Linux's ratelimit defaults: at most 10 messages per 5 s interval; the
 * number suppressed is reported when the next interval opens.
 */
struct dm_ratelimit {
	pthread_mutex_t lock;
	uint64_t begin_ns;
	unsigned int printed;
	unsigned int missed;
};
#define DM_RATELIMIT_BURST 10
#define DM_RATELIMIT_INTERVAL_NS (5ULL * 1000000000ULL)
void dm_ratelimit_init(struct dm_ratelimit *rl);
/* True when the caller may print; reports suppressed counts itself. */
bool dm_ratelimit_ok(struct dmamap_ctx *ctx, struct dm_ratelimit *rl,
		     const char *what);
/* The platform's clock (ops->now_ns), else CLOCK_MONOTONIC; ns. */
uint64_t dm_now_ns(const struct dmamap_ctx *ctx);
/* ---- the context ----------------------------------------------------------- */

struct dm_iommu_domain;
struct dm_iommu_dev;
struct dm_xen;
struct dm_xen_dev;
struct dm_debug;
struct dm_deferred;
struct dm_exq;
struct dm_map_ops;
struct dm_live_allocs;

struct dmamap_ctx {
	struct dmamap_platform plat;     /* copied at create; facts are constant */
	/*
	 * The platform's linear ranges, copied and ordered largest first: the
	 * inline lookups below try them in this order, so a buffer in the
	 * largest range (the likeliest place for one) costs one compare.
	 * plat.linear keeps the platform's own order for those who need it.
	 */
	struct dmamap_linear_range *lin;
	unsigned int nlin;
	/*
	 * plat.max_ram_end, but below DMAMAP_MAPPING_ERROR: a map that ends at
	 * or below it can neither run past RAM nor be the error value (the
	 * dispatcher's fast path tests only this).
	 */
	dmamap_phys_addr_t fast_ram_end;
	struct dmamap_config cfg;        /* bootargs points at bootargs_copy */
	char *bootargs_copy;
	struct dm_bootopts opts;
	/* The default bounce pool; NULL when swiotlb is off. */
	struct dmamap_swiotlb *swiotlb;
	pthread_mutex_t lock;            /* guards devices, ndevices */
	struct dmamap_device **devices;
	unsigned int ndevices, devices_cap;
	unsigned int nrestricted;        /* restricted pools alive */
	/* IOMMU domains in use (iommu.c), under lock. */
	struct dm_iommu_domain *domains;
	/* Xen state (xen.c); NULL unless the platform is a Xen guest. */
	struct dm_xen *xen;
	/* ---- exhaustion policies (exhaust.c) ---- */
	_Atomic unsigned int ex_nwait;   /* requests queued in this context now */
	struct dm_exq *_Atomic exq;      /* the FIFO, made at the first queued request */
	/* ---- DMA API checker (debug.c); NULL while it is off ---- */
	struct dm_debug *debug;
	/* ---- deferred work (deferred.c): the flush-queue timer ---- */
	_Atomic bool deferred_armed;     /* work is pending; the thread knows */
	struct dm_deferred *deferred;    /* the thread; NULL until first armed */
	pthread_mutex_t deferred_lock;   /* deferred, its start and stop */
};

/* ---- devices ------------------------------------------------------------------ */

/*
 * Per-thread device counters: no shared cache line on the map path.  A
 * thread owns its slot (claimed at its first count, given back when it
 * exits), so a relaxed load+store (no locked instruction) is exact
 * whatever CPU numbers threads use (dmamap_set_cpu may give two threads
 * one CPU).  Threads beyond DM_NR_PCPU_STATS - 1 live ones share the last
 * slot and add atomically.
 */
struct dm_pcpu_stats {
	/*
	 * opened counts map calls and allocations; maps is derived
	 * (opened - coherent_allocs + sg_extra) so a single map costs two
	 * counter updates, not three.
	 */
	DM_ALIGNED_CL _Atomic uint64_t opened;
	_Atomic uint64_t sg_extra;  /* sg entries beyond the first, per map_sg */
	_Atomic uint64_t map_failures;
	_Atomic uint64_t bytes_mapped;
	_Atomic uint64_t bounced_maps;
	_Atomic uint64_t bounced_bytes;
	_Atomic uint64_t closed;   /* unmaps and frees */
	_Atomic uint64_t refused;  /* unmaps refused: not a live mapping */
	_Atomic uint64_t coherent_allocs;
	_Atomic uint64_t coherent_bytes;
};
#define DM_NR_PCPU_STATS 64 /* slots; the last is the shared one */

/*
 * This thread's counter slot (-1: none yet).  The last slot is the shared
 * one (never owned), so "shared" needs no flag of its own: the slot number
 * says it, and the hot paths test ownership with one unsigned compare
 * (dm_own_stats) on the one TLS load they make.
 */
#define DM_STAT_SHARED (DM_NR_PCPU_STATS - 1)
extern DM_TLS_IE _Thread_local int dm_tls_stat;
unsigned int dm_stat_slot_slow(void);

static inline unsigned int dm_stat_slot(void)
{
	int s = dm_tls_stat;
	return dm_likely(s >= 0) ? (unsigned int)s : dm_stat_slot_slow();
}

/* Adds to a counter of this thread's slot (dm_dev_stats: claimed already). */
static inline void dm_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	if (dm_unlikely(dm_tls_stat == DM_STAT_SHARED))
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
}

/*
 * The hot paths' form: the slot this thread owns, for dm_own_add, or NULL
 * when it owns none (not claimed yet, or shared): then dm_dev_stats and
 * dm_stat_add, out of the way.
 */
struct dmamap_device;
static inline struct dm_pcpu_stats *dm_own_stats(struct dmamap_device *dev);

/* A counter of a slot this thread owns: a plain load and store, no lock. */
static inline void dm_own_add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* How a device's ops were chosen; set with the mask. */
#define DM_REASON_LEN 384

struct dmamap_device {
	/* --- hot: read on every map, written only when masks change --- */
	const struct dm_map_ops *ops;    /* NULL: inline dma-direct (backend.h) */
	/* min_not_zero(dma_mask, bus_dma_limit): the capable check's limit */
	dmamap_dma_addr_t direct_limit;
	struct dmamap_swiotlb *swiotlb;  /* pool to bounce through, or NULL */
	struct dmamap_ctx *ctx;
	bool coherent;
	bool force_bounce;               /* restricted pool or swiotlb=force / cc */
	uint16_t slot_tag;               /* 1..4094: marks its bounce allocations */
	/* DMA API checker (debug.c): ctx->debug != NULL, fixed at add; the
	 * dispatcher's one branch when the checker is off. */
	bool debug;
	/*
	 * The dispatcher's fast path applies (mapping.c): no ops, not forced
	 * to bounce, no dma-ranges, coherent, no checker.  Derived from those
	 * fields by dm_dev_refresh_plain, which dm_policy_select calls after
	 * every choice (and core.c when the checker takes the device).
	 */
	bool direct_plain;
	unsigned int nranges;            /* 0: bus == phys */
	struct dmamap_dma_range ranges[DMAMAP_MAX_DMA_RANGES];

	/* --- masks and parameters --- */
	uint64_t dma_mask;
	uint64_t coherent_dma_mask;
	dmamap_dma_addr_t bus_dma_limit; /* 0: none */
	unsigned int max_seg_size;
	uint64_t seg_boundary_mask;
	unsigned int min_align_mask;

	/*
	 * --- exhaustion policy and bounce quota (exhaust.c, swiotlb.c) ---
	 * bq_limit is read on every bounce map (beside min_align_mask); the
	 * rest is written only on slow paths, bq_held only for devices with a
	 * quota.
	 */
	struct {
		uint64_t bq_limit;             /* bounce quota, bytes; 0: none */
		int policy;                    /* enum dmamap_exhaust_policy */
		uint64_t timeout_ns;
		_Atomic uint64_t bq_held;      /* bytes held by mappings made under a quota */
		_Atomic uint64_t bq_hiwater;
		_Atomic uint64_t bq_refusals;
		/* Counters: see struct dmamap_exhaust_stats. */
		_Atomic uint64_t exhausted, failed_now, deferred, waited, served,
			timeouts, cancelled, errors, queued;
	} ex;

	/* --- backend state, owned by its backend; NULL where it does not apply --- */
	struct dm_iommu_dev *iommu;         /* behind an IOMMU (iommu.c, dma-iommu.h) */
	struct dm_xen_dev *xen;             /* in a Xen guest (xen.c, swiotlb-xen.h) */
	/* Its live coherent and non-coherent allocations (mapping.c); NULL: none yet. */
	struct dm_live_allocs *_Atomic allocs;

	/* --- identity --- */
	enum dmamap_bus bus;
	void *hw;                        /* the platform's handle (MMIO hooks) */
	char *name;
	bool restricted;                 /* swiotlb is a restricted pool */
	const char *ops_name;
	char reason[DM_REASON_LEN];

	struct dm_pcpu_stats stats[DM_NR_PCPU_STATS];
};

static inline void dm_dev_refresh_plain(struct dmamap_device *dev)
{
	dev->direct_plain = !dev->ops && !dev->force_bounce && dev->nranges == 0 &&
			    dev->coherent && !dev->debug;
}

/* At device removal: forgets its allocations' records (mapping.c). */
void dm_live_allocs_fini(struct dmamap_device *dev);

static inline struct dm_pcpu_stats *dm_dev_stats(struct dmamap_device *dev)
{
	return &dev->stats[dm_stat_slot()];
}

static inline struct dm_pcpu_stats *dm_own_stats(struct dmamap_device *dev)
{
	unsigned int s = (unsigned int)dm_tls_stat; /* -1 wraps to "not owned" */
	return dm_likely(s < DM_STAT_SHARED) ? &dev->stats[s] : NULL;
}
/* ---- address translation (dma-ranges) ------------------------------------------ */

/* Bus address of phys for this device, or DMAMAP_MAPPING_ERROR when no window covers it. */
static inline dmamap_dma_addr_t dm_phys_to_dma(const struct dmamap_device *dev,
					       dmamap_phys_addr_t phys)
{
	if (dm_likely(dev->nranges == 0))
		return phys;
	for (unsigned int i = 0; i < dev->nranges; i++) {
		const struct dmamap_dma_range *r = &dev->ranges[i];
		if (phys >= r->cpu && phys - r->cpu < r->size)
			return phys - r->cpu + r->dma;
	}
	return DMAMAP_MAPPING_ERROR;
}

/* Phys behind a bus address, or DMAMAP_MAPPING_ERROR when no window covers it. */
static inline dmamap_phys_addr_t dm_dma_to_phys(const struct dmamap_device *dev,
						dmamap_dma_addr_t dma)
{
	if (dm_likely(dev->nranges == 0))
		return dma;
	for (unsigned int i = 0; i < dev->nranges; i++) {
		const struct dmamap_dma_range *r = &dev->ranges[i];
		if (dma >= r->dma && dma - r->dma < r->size)
			return dma - r->dma + r->cpu;
	}
	return DMAMAP_MAPPING_ERROR;
}

/*
 * Highest phys whose bus address is at or below limit (0 if none): where
 * memory for the device may come from (coherent allocations, transient
 * bounce pools).
 */
static inline dmamap_phys_addr_t dm_phys_limit(const struct dmamap_device *dev, uint64_t limit)
{
	if (dev->nranges == 0)
		return limit;
	dmamap_phys_addr_t best = 0;
	for (unsigned int i = 0; i < dev->nranges; i++) {
		const struct dmamap_dma_range *r = &dev->ranges[i];
		if (r->dma > limit)
			continue;
		uint64_t span = limit - r->dma;
		if (span > r->size - 1)
			span = r->size - 1;
		if (r->cpu + span > best)
			best = r->cpu + span;
	}
	return best;
}

/*
 * Whether the device can use [dma, dma + size): below the limit, as
 * Linux's dma_capable(), and, unlike it, inside one dma-ranges window (a
 * range that runs off a window's end reaches the wrong memory;
 * docs/DIFFERENCES.md).  size 0 counts as 1 byte.
 */
static inline bool dm_capable(const struct dmamap_device *dev,
			      dmamap_dma_addr_t dma, size_t size,
			      dmamap_dma_addr_t limit)
{
	if (dma == DMAMAP_MAPPING_ERROR)
		return false;
	uint64_t end = dma + (size ? size - 1 : 0);
	if (end < dma || end > limit)
		return false;
	/* Both ends in the same window (ranges never overlap). */
	return dev->nranges == 0 ||
	       dm_dma_to_phys(dev, end) - dm_dma_to_phys(dev, dma) == end - dma;
}

/*
 * CPU pointer -> phys through the linear ranges (largest first) or the
 * platform's callback.  A range holds p when p - cpu < size: one unsigned
 * compare (p below cpu wraps past any size a range can have).
 */
static inline int dm_virt_to_phys(const struct dmamap_ctx *ctx, const void *cpu,
				  dmamap_phys_addr_t *phys)
{
	uintptr_t p = (uintptr_t)cpu;
	for (unsigned int i = 0; i < ctx->nlin; i++) {
		const struct dmamap_linear_range *r = &ctx->lin[i];
		if (p - (uintptr_t)r->cpu < r->size) {
			*phys = r->phys + (p - (uintptr_t)r->cpu);
			return 0;
		}
	}
	return ctx->plat.ops->virt_to_phys(ctx->plat.priv, cpu, phys);
}

/* The linear range holding phys, or NULL (then ask the platform). */
static inline const struct dmamap_linear_range *dm_linear_of(const struct dmamap_ctx *ctx,
							     dmamap_phys_addr_t phys)
{
	for (unsigned int i = 0; i < ctx->nlin; i++) {
		const struct dmamap_linear_range *r = &ctx->lin[i];
		if (phys - r->phys < r->size)
			return r;
	}
	return NULL;
}

static inline void *dm_phys_to_virt(const struct dmamap_ctx *ctx,
				    dmamap_phys_addr_t phys)
{
	const struct dmamap_linear_range *r = dm_linear_of(ctx, phys);
	if (dm_likely(r != NULL))
		return (char *)r->cpu + (phys - r->phys);
	return ctx->plat.ops->phys_to_virt(ctx->plat.priv, phys);
}

/* RAM check: the linear ranges answer inline; the platform otherwise. */
static inline bool dm_phys_is_ram(const struct dmamap_ctx *ctx,
				  dmamap_phys_addr_t phys, uint64_t size)
{
	const struct dmamap_linear_range *r = dm_linear_of(ctx, phys);
	if (r && size <= r->size - (phys - r->phys))
		return true;
	return ctx->plat.ops->phys_is_ram(ctx->plat.priv, phys, size);
}
/* ---- cache maintenance (non-coherent devices) ------------------------------------ */

/*
 * Linux's arch_sync_dma_for_device: clean, whatever the direction (arm64
 * does; writing back is what makes the CPU's writes visible).
 */
static inline void dm_cache_for_device(const struct dmamap_ctx *ctx, dmamap_phys_addr_t phys,
				       size_t size)
{
	if (ctx->plat.ops->cache_clean)
		ctx->plat.ops->cache_clean(ctx->plat.priv, phys, size);
}

/* Linux's arch_sync_dma_for_cpu: invalidate, unless the device only read. */
static inline void dm_cache_for_cpu(const struct dmamap_ctx *ctx, dmamap_phys_addr_t phys,
				    size_t size, enum dmamap_data_direction dir)
{
	if (dir != DMAMAP_TO_DEVICE && ctx->plat.ops->cache_invalidate)
		ctx->plat.ops->cache_invalidate(ctx->plat.priv, phys, size);
}

#endif /* DM_CONTEXT_H */
