/*
 * src/internal.h - what the library's files share and nobody else sees.
 *
 * Owns: the context and device structures, the backend ops table, the
 * per-CPU index, logging helpers, boot options.  Never included by
 * drivers, the simulator or embedders; never includes a sim/ header.
 *
 * Naming: public symbols are dmamap_*, cross-file internals dm_*,
 * file-local ones are static.
 */
#ifndef DM_INTERNAL_H
#define DM_INTERNAL_H

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#define dm_likely(x) __builtin_expect(!!(x), 1)
#define dm_unlikely(x) __builtin_expect(!!(x), 0)
#define DM_CACHELINE 64
#define DM_ALIGNED_CL _Alignas(DM_CACHELINE)

#define DM_SZ_4G (1ULL << 32)

/* ---- per-CPU index ---------------------------------------------------- */

/*
 * Each thread counts as one logical CPU: the first call hands out the next
 * number, dmamap_set_cpu() overrides it.  One TLS load on the fast path.
 */
extern _Thread_local int dm_tls_cpu;
unsigned int dm_cpu_slow(void);
static inline unsigned int dm_cpu(void)
{
	int c = dm_tls_cpu;
	return dm_likely(c >= 0) ? (unsigned int)c : dm_cpu_slow();
}

/* ---- boot options (kernel command line) -------------------------------- */

enum dm_iommu_mode {
	DM_IOMMU_DEFAULT = 0, /* translate when an IOMMU is present */
	DM_IOMMU_PT,          /* iommu=pt: identity (passthrough) domains */
	DM_IOMMU_NOPT,        /* iommu=nopt */
	DM_IOMMU_SOFT,        /* iommu=soft: use the software bounce pool */
	DM_IOMMU_OFF,         /* iommu=off */
};

struct dm_bootopts {
	bool swiotlb_set;         /* swiotlb=<slabs> given */
	uint64_t swiotlb_nslabs;  /* rounded up to a 128-slot segment */
	unsigned int swiotlb_nareas; /* 0: not given; else a power of two */
	bool swiotlb_force;       /* swiotlb=...,force */
	bool swiotlb_noforce;     /* swiotlb=noforce: no swiotlb at all */
	enum dm_iommu_mode iommu_mode;
	int iommu_strict;         /* -1 unset, 0 lazy, 1 strict */
	int swiotlb_poison;       /* swiotlb_poison=0|1 (swiotlb.c, exhaust.h); -1 unset */
	/* ---- DMA API checker (debug.c): dma_debug=on|off ---- */
	bool dma_debug_set;       /* dma_debug= given */
	bool dma_debug;           /* its value */
};

/*
 * Parses a kernel command line.  Words it does not know are ignored (a
 * command line carries many subsystems' options); a malformed value of a
 * known option is -EINVAL with *bad_word pointing at it.
 */
int dm_parse_bootargs(const char *args, struct dm_bootopts *o,
		      const char **bad_word);

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

/* ---- backends -------------------------------------------------------------- */

/*
 * A backend.  dma-direct is not one of these: a device with ops == NULL
 * takes the inline direct path (as Linux's dma_map_direct()).  Return
 * rules are the driver API's (dma.h); map_sg returns > 0 or a negative
 * errno, which the dispatcher turns into 0 for dmamap_map_sg.
 */
struct dm_ops {
	const char *name;
	dmamap_dma_addr_t (*map_phys)(struct dmamap_device *dev,
				      dmamap_phys_addr_t phys, size_t size,
				      enum dmamap_data_direction dir,
				      unsigned long attrs);
	/* 0, or -EINVAL: refused (no such live mapping), nothing done. */
	int (*unmap_phys)(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			  size_t size, enum dmamap_data_direction dir,
			  unsigned long attrs);
	int (*map_sg)(struct dmamap_device *dev, struct dmamap_sg *sg,
		      int nents, enum dmamap_data_direction dir,
		      unsigned long attrs);
	void (*unmap_sg)(struct dmamap_device *dev, struct dmamap_sg *sg,
			 int nents, enum dmamap_data_direction dir,
			 unsigned long attrs);
	void (*sync_for_cpu)(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			     size_t size, enum dmamap_data_direction dir);
	void (*sync_for_device)(struct dmamap_device *dev,
				dmamap_dma_addr_t addr, size_t size,
				enum dmamap_data_direction dir);
	void *(*alloc)(struct dmamap_device *dev, size_t size,
		       dmamap_dma_addr_t *handle, unsigned long attrs);
	void (*free)(struct dmamap_device *dev, size_t size, void *cpu,
		     dmamap_dma_addr_t handle, unsigned long attrs);
	dmamap_dma_addr_t (*map_resource)(struct dmamap_device *dev,
					  dmamap_phys_addr_t phys, size_t size,
					  enum dmamap_data_direction dir,
					  unsigned long attrs);
	void (*unmap_resource)(struct dmamap_device *dev,
			       dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir,
			       unsigned long attrs);
	size_t (*max_mapping_size)(struct dmamap_device *dev);
	size_t (*opt_mapping_size)(struct dmamap_device *dev);
};

/* ---- the context ----------------------------------------------------------- */

struct dm_iommu_domain;
struct dm_xen;
struct dm_debug;
struct dm_deferred;

struct dmamap_ctx {
	struct dmamap_platform plat;     /* copied at create; facts are constant */
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

/*
 * Deferred work (deferred.c).  dm_deferred_arm: work is pending (a lazy
 * domain queued an IOVA); cheap when already armed.  dm_deferred_fini:
 * stops the thread (ctx destroy).  dm_iommu_run_deferred (iommu.c):
 * flushes the due domains, returns how many; *next_ns as
 * dmamap_run_deferred's.
 */
void dm_deferred_arm_slow(struct dmamap_ctx *ctx);
static inline void dm_deferred_arm(struct dmamap_ctx *ctx)
{
	if (dm_unlikely(!atomic_load_explicit(&ctx->deferred_armed, memory_order_relaxed)))
		dm_deferred_arm_slow(ctx);
}
void dm_deferred_fini(struct dmamap_ctx *ctx);
unsigned int dm_iommu_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns);

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

/* This thread's counter slot (-1: none yet), and whether it is shared. */
extern _Thread_local int dm_tls_stat;
extern _Thread_local bool dm_tls_stat_shared;
unsigned int dm_stat_slot_slow(void);

static inline unsigned int dm_stat_slot(void)
{
	int s = dm_tls_stat;
	return dm_likely(s >= 0) ? (unsigned int)s : dm_stat_slot_slow();
}

static inline void dm_stat_add(_Atomic uint64_t *c, uint64_t v)
{
	if (dm_unlikely(dm_tls_stat_shared))
		atomic_fetch_add_explicit(c, v, memory_order_relaxed);
	else
		atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
				      memory_order_relaxed);
}

/* How swiotlb-xen finds a device's bus frames (xen.c). */
enum dm_xen_xlate {
	DM_XEN_XLATE_OFF = 0,     /* not swiotlb-xen */
	DM_XEN_XLATE_ONE_TO_ONE,  /* own frames 1:1, foreign ones from the grant record */
	DM_XEN_XLATE_P2M,         /* every frame through the hypervisor's p2m */
	DM_XEN_XLATE_UNKNOWN,     /* no way to know: maps fail */
};

/* How a device's ops were chosen; set with the mask. */
#define DM_REASON_LEN 384

struct dmamap_device {
	/* --- hot: read on every map, written only when masks change --- */
	const struct dm_ops *ops;        /* NULL: inline dma-direct */
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

	/* --- IOMMU (iommu.c); iommu NULL: not behind one --- */
	struct dm_iommu_domain *iommu;
	bool untrusted;                  /* sub-page buffers bounce (padding zeroed) */
	bool pci_32bit_first;            /* try a 32-bit IOVA first (cleared on a miss) */
	bool has_bypass;
	dmamap_dma_addr_t bypass_offset; /* bus = phys + offset, all RAM */
	dmamap_dma_addr_t win_base;      /* the translated window's bus range */
	uint64_t win_size;               /* 0: the whole IOVA space */
	bool linear_ok;                  /* the platform allows a linear window */

	/* --- Xen (xen.c) --- */
	bool xen_iommu;                  /* the hypervisor's IOMMU covers it */
	enum dm_xen_xlate xen_xlate;     /* OFF unless its ops are swiotlb-xen */

	/* --- identity --- */
	enum dmamap_bus bus;
	void *hw;                        /* the platform's handle (MMIO hooks) */
	char *name;
	bool restricted;                 /* swiotlb is a restricted pool */
	const char *ops_name;
	char reason[DM_REASON_LEN];

	struct dm_pcpu_stats stats[DM_NR_PCPU_STATS];
};

static inline struct dm_pcpu_stats *dm_dev_stats(struct dmamap_device *dev)
{
	return &dev->stats[dm_stat_slot()];
}

/* ---- exhaustion policies (exhaust.c) ------------------------------------------------ */

/*
 * Exhaustion sites (a full bounce pool, a quota refusal, no IOVA) note why
 * in this thread-local; the dispatcher's failure path reads and clears it
 * to decide whether the device's policy applies.  Only failure paths touch
 * it.  dm_tls_ex_retry is set while a queued request is retried, so the
 * retry is not counted (or logged) as a new failure.
 */
#define DM_EX_SPACE 1 /* no bounce slot / IOVA free */
#define DM_EX_QUOTA 2 /* the device's bounce quota is reached */
extern _Thread_local int dm_tls_exhausted;
extern _Thread_local bool dm_tls_ex_retry;
/* Requests queued in all contexts: the one word release paths read. */
extern _Atomic unsigned int dm_ex_waiting;
static inline void dm_exhaust_note(int why)
{
	dm_tls_exhausted = why;
}
static inline void dm_exhaust_clear(void)
{
	dm_tls_exhausted = 0;
}
/* Serves the queue; never called with a library lock held. */
void dm_exhaust_kick(struct dmamap_ctx *ctx);
/* After space was released (slots, quota, IOVAs), with no lock held. */
static inline void dm_exhaust_released(struct dmamap_ctx *ctx)
{
	if (dm_unlikely(atomic_load_explicit(&dm_ex_waiting, memory_order_relaxed)))
		dm_exhaust_kick(ctx);
}
/*
 * The dispatcher's single-map failure path: applies the policy (WAIT may
 * still return a mapping).  The address or DMAMAP_MAPPING_ERROR.
 */
dmamap_dma_addr_t dm_exhaust_map_failed(struct dmamap_device *dev,
					dmamap_phys_addr_t phys, size_t size,
					enum dmamap_data_direction dir,
					unsigned long attrs);
/* At device removal: ends its DEFER requests (-ENODEV); -EBUSY, changing
 * nothing, while a thread WAITs on it. */
int dm_exhaust_device_gone(struct dmamap_device *dev);
/* At context destroy (every device is gone, so the queue is empty). */
void dm_exhaust_fini(struct dmamap_ctx *ctx);

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
 * Linux's dma_capable(): [dma, dma + size) lies below the limit and in one
 * window.  size 0 counts as 1 byte.
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

/* CPU pointer -> phys through the platform's linear ranges or callback. */
static inline int dm_virt_to_phys(const struct dmamap_ctx *ctx, const void *cpu,
				  dmamap_phys_addr_t *phys)
{
	uintptr_t p = (uintptr_t)cpu;
	for (unsigned int i = 0; i < ctx->plat.nlinear; i++) {
		const struct dmamap_linear_range *r = &ctx->plat.linear[i];
		if (p >= (uintptr_t)r->cpu && p - (uintptr_t)r->cpu < r->size) {
			*phys = r->phys + (p - (uintptr_t)r->cpu);
			return 0;
		}
	}
	return ctx->plat.ops->virt_to_phys(ctx->plat.priv, cpu, phys);
}

static inline void *dm_phys_to_virt(const struct dmamap_ctx *ctx,
				    dmamap_phys_addr_t phys)
{
	for (unsigned int i = 0; i < ctx->plat.nlinear; i++) {
		const struct dmamap_linear_range *r = &ctx->plat.linear[i];
		if (phys >= r->phys && phys - r->phys < r->size)
			return (char *)r->cpu + (phys - r->phys);
	}
	return ctx->plat.ops->phys_to_virt(ctx->plat.priv, phys);
}

/* RAM check: the linear ranges answer inline; the platform otherwise. */
static inline bool dm_phys_is_ram(const struct dmamap_ctx *ctx,
				  dmamap_phys_addr_t phys, uint64_t size)
{
	for (unsigned int i = 0; i < ctx->plat.nlinear; i++) {
		const struct dmamap_linear_range *r = &ctx->plat.linear[i];
		if (phys >= r->phys && phys - r->phys < r->size &&
		    size <= r->size - (phys - r->phys))
			return true;
	}
	return ctx->plat.ops->phys_is_ram(ctx->plat.priv, phys, size);
}

/* ---- dma-direct (direct.c) --------------------------------------------------------- */

/*
 * Map with the reason for a failure: -EIO (unreachable, nothing to bounce
 * with, or not RAM), -ENOMEM (bounce pool full), -EINVAL (too large to
 * bounce).  *err is only written on failure.
 */
dmamap_dma_addr_t dm_direct_map_err(struct dmamap_device *dev,
				    dmamap_phys_addr_t phys, size_t size,
				    enum dmamap_data_direction dir,
				    unsigned long attrs, int *err);

dmamap_dma_addr_t dm_direct_map_phys(struct dmamap_device *dev,
				     dmamap_phys_addr_t phys, size_t size,
				     enum dmamap_data_direction dir,
				     unsigned long attrs);
int dm_direct_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			 size_t size, enum dmamap_data_direction dir,
			 unsigned long attrs);
int dm_direct_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg,
		     int nents, enum dmamap_data_direction dir,
		     unsigned long attrs);
void dm_direct_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg,
			int nents, enum dmamap_data_direction dir,
			unsigned long attrs);
void dm_direct_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			    size_t size, enum dmamap_data_direction dir);
void dm_direct_sync_for_device(struct dmamap_device *dev,
			       dmamap_dma_addr_t addr, size_t size,
			       enum dmamap_data_direction dir);
void *dm_direct_alloc(struct dmamap_device *dev, size_t size,
		      dmamap_dma_addr_t *handle, unsigned long attrs,
		      bool coherent_mapping);
void dm_direct_free(struct dmamap_device *dev, size_t size, void *cpu,
		    dmamap_dma_addr_t handle, unsigned long attrs,
		    bool coherent_mapping);
dmamap_dma_addr_t dm_direct_map_resource(struct dmamap_device *dev,
					 dmamap_phys_addr_t phys, size_t size,
					 enum dmamap_data_direction dir,
					 unsigned long attrs);
size_t dm_direct_max_mapping_size(struct dmamap_device *dev);
int dm_direct_supported(struct dmamap_device *dev, uint64_t mask);
uint64_t dm_direct_required_mask(struct dmamap_device *dev);

/* ---- policy (policy.c): which ops a device gets, and why ------------------------------ */

/*
 * Chooses ops for the device given a prospective streaming mask.  Fills
 * the device's ops, ops_name, reason, force_bounce, swiotlb.  Called with
 * the new mask already validated.
 */
void dm_policy_select(struct dmamap_device *dev);

/* ---- iommu.c: the dma-iommu backend ------------------------------------------ */

extern const struct dm_ops dm_iommu_ops;        /* translated IOVAs: "iommu" */
extern const struct dm_ops dm_iommu_bypass_ops; /* a direct window: "iommu-bypass" */
/* At device add: joins (or creates) the device's domain.  0 or -errno. */
int dm_iommu_attach(struct dmamap_device *dev, const struct dmamap_device_desc *desc);
/* At device remove: drains its lazy invalidations, leaves the domain. */
void dm_iommu_detach(struct dmamap_device *dev);
/* Policy for a device behind an IOMMU: sets ops, ops_name and reason. */
void dm_iommu_select(struct dmamap_device *dev);

/* ---- xen.c: Xen detection, policy and swiotlb-xen ------------------------------ */

/* At context create, after boot options: 0, -EINVAL, -ENOMEM. */
int dm_xen_init(struct dmamap_ctx *ctx);
/* Gives back the exchanged frames of the default pool (before it is freed). */
void dm_xen_fini_pool(struct dmamap_ctx *ctx);
void dm_xen_fini(struct dmamap_ctx *ctx);
/* Under Xen, whether the default pool is wanted at boot (0/1); -1: not
 * Xen's decision (the bare-metal rule applies). */
int dm_xen_want_swiotlb(const struct dmamap_ctx *ctx);
/* Makes the boot pool when Xen needs it exchanged: 0, -errno, or 1 when
 * the ordinary pool will do. */
int dm_xen_boot_pool(struct dmamap_ctx *ctx);
/* At device add, before policy: the late pool of a PV domU.  0 or -errno. */
int dm_xen_device_added(struct dmamap_ctx *ctx, const struct dmamap_device_desc *desc);
/*
 * Policy under Xen.  True: the device got swiotlb-xen (ops, name, reason
 * set).  False: the ordinary choice applies, its reason prefixed by
 * *prefix (never NULL).
 */
bool dm_xen_select(struct dmamap_device *dev, const char **prefix);
/* dma_supported for swiotlb-xen devices. */
int dm_xen_supported(struct dmamap_device *dev, uint64_t mask);

#endif /* DM_INTERNAL_H */
