/*
 * sim/sim_internal.h - what the simulator's files share and nobody else sees.
 *
 * Owns: the machine and device structures, and the cross-file helpers
 * between memory, the page allocator, the cache model, devices and the
 * platform glue.  Never included by src/ (the library), by drivers or by
 * tests; never includes anything from src/.
 *
 * Naming: public symbols are sim_* (sim.h), cross-file internals simi_*
 * (declared here), file-local ones are static.
 *
 * Lock order (outer first):
 *   IOMMU registry (m->iommus.lock, a rwlock) -> domain lock -> IOMMU lock
 *   (IOTLB, faults, stats);  domain lock -> page allocator lock -> cache
 *   lock;  IOMMU registry -> hypervisor lock (xen.c) -> page allocator
 *   lock -> cache lock.
 * An IOMMU lock is never held while taking the page allocator lock, and
 * no IOMMU lock is held while a device moves data (translation first,
 * then the bytes).  A device lock is never held while taking another
 * lock.  No lock is held while calling outside the simulator.
 */
#ifndef DMAMAP_SIM_INTERNAL_H
#define DMAMAP_SIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sim.h"

#define SIM_PAGE_SHIFT 12
#define SIM_PAGE_SIZE (1ULL << SIM_PAGE_SHIFT)
#define SIM_PAGE_MASK (SIM_PAGE_SIZE - 1)
#define SIM_LINE_MASK ((uint64_t)SIM_CACHE_LINE - 1)
#define SIM_LINES_PER_PAGE (SIM_PAGE_SIZE / SIM_CACHE_LINE) /* 64: one bit each */
#define SIM_PHYS_BITS 48
#define SIM_PHYS_LIMIT (1ULL << SIM_PHYS_BITS) /* first address not modelled */
#define SIM_4G (1ULL << 32)
#define SIM_DEFAULT_ZONE_DMA_LIMIT ((16ULL << 20) - 1)
#define SIM_DEV_EVENTS 64 /* events kept per device */
#define SIM_DEV_STRAYS 64 /* strays queued per device for the DMA API checker */

/* A bus range the library said is live for a device (the checker's watch). */
struct simi_dbg_range {
	uint64_t bus;
	uint64_t size;
};

/* A half-open physical interval [base, end); used for extent lists. */
struct simi_extent {
	uint64_t base;
	uint64_t end;
};

/*
 * A sorted, non-overlapping, non-adjacent list of extents (adjacent ones
 * are merged on insertion).  The caller's lock guards it.
 */
struct simi_extents {
	struct simi_extent *v;
	size_t n;
	size_t cap;
};

/*
 * One CPU mapping of RAM.  Adjacent RAM ranges of the description are
 * merged into one mapping, so a physically contiguous RAM range is always
 * contiguous in the CPU view too; between two mappings there is a hole.
 * cpu maps memfd offsets [base, end): the memfd is machine memory, its
 * offset is the machine address (under a hypervisor: the OS's
 * guest-physical address; see m->xen_other for the rest).
 */
struct simi_mapping {
	uint64_t base;
	uint64_t end;  /* exclusive */
	uint8_t *cpu;
};

/* The page allocator's state; `lock` guards every field. */
struct simi_pagealloc {
	pthread_mutex_t lock;
	struct simi_extents free;     /* free RAM, page granular */
	struct simi_extents reserved; /* taken out by sim_reserve */
	uint64_t bad_frees;           /* frees of pages not allocated (ignored) */
	uint64_t lost_bytes;          /* frees dropped for lack of host memory */
};

struct simi_cpage;

/*
 * The cache model's state; `lock` guards every field except npages, which
 * is also written under the lock but read without it by the coherent fast
 * path (a hint: coherent writes take the lock only when something is
 * tracked).
 */
struct simi_cache {
	pthread_mutex_t lock;
	struct simi_cpage *tab;   /* open addressing, linear probing */
	size_t cap;               /* power of two */
	size_t used;              /* live entries (tracked pages) */
	_Atomic size_t npages;    /* == used, readable without the lock */
	uint64_t tracked_lines;   /* sum of popcount(valid) over entries */
	uint64_t lines_cleaned;
	uint64_t lines_invalidated;
	uint64_t stale_device_reads;
	struct simi_extents uncached; /* line granular */
	uint8_t **spare;          /* recycled page shadows */
	size_t nspare;
};

struct simi_iommu;
struct simi_domain;

/*
 * The simulated IOMMU's locks (iommu.c, xen.c).  pthread's rwlock and
 * mutex cost about 100 instructions a pair on the map/unmap path, where
 * the sections they guard are a few table entries; these cost one atomic
 * each way.  Waiters spin with a pause, then give the CPU up every 128
 * spins (the holder may be preempted).  The simulator has its own: it
 * never includes the library's src/base.h.
 *
 * simi_rwlock: readers first, like pthread's default (a reader that
 * already holds it may take it again while a writer waits): a count of
 * readers, or SIMI_RW_WRITER while a writer holds it.
 */
typedef _Atomic unsigned int simi_rwlock;
typedef _Atomic unsigned int simi_spinlock;
#define SIMI_RW_WRITER 0x80000000u

void simi_lock_wait(unsigned int *spins); /* iommu.c: pause or yield */

static inline void simi_read_lock(simi_rwlock *l)
{
	unsigned int v = atomic_load_explicit(l, memory_order_relaxed), spins = 0;
	for (;;) {
		if (!(v & SIMI_RW_WRITER) &&
		    atomic_compare_exchange_weak_explicit(l, &v, v + 1, memory_order_acquire,
							  memory_order_relaxed))
			return;
		if (v & SIMI_RW_WRITER) {
			simi_lock_wait(&spins);
			v = atomic_load_explicit(l, memory_order_relaxed);
		}
	}
}

static inline void simi_read_unlock(simi_rwlock *l)
{
	atomic_fetch_sub_explicit(l, 1, memory_order_release);
}

static inline void simi_write_lock(simi_rwlock *l)
{
	unsigned int spins = 0, v = 0;
	while (!atomic_compare_exchange_weak_explicit(l, &v, SIMI_RW_WRITER, memory_order_acquire,
						      memory_order_relaxed)) {
		simi_lock_wait(&spins);
		v = 0;
	}
}

static inline void simi_write_unlock(simi_rwlock *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

static inline void simi_spin_lock(simi_spinlock *l)
{
	unsigned int spins = 0;
	while (atomic_exchange_explicit(l, 1, memory_order_acquire)) {
		do
			simi_lock_wait(&spins);
		while (atomic_load_explicit(l, memory_order_relaxed));
	}
}

static inline void simi_spin_unlock(simi_spinlock *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

/*
 * The machine's IOMMUs and domains (iommu.c).  `lock` guards every field
 * and every device's iommu_dom: readers are DMA translations and the
 * domain calls (map, unmap, invalidations: the domain must not die under
 * them), writers create or destroy domains and attach or detach devices.
 * Ids are index + 1 and never reused; a destroyed domain leaves NULL.
 * `ready` is true from simi_iommu_init to simi_iommu_fini: outside that
 * every IOMMU call fails (creation with -ENOMEM) and no device is ever
 * attached.
 */
struct simi_iommus {
	simi_rwlock lock;
	bool ready;
	void (*flush_hook)(void *arg, int domain_id); /* sim_iommu_set_flush_hook */
	void *flush_hook_arg;
	struct simi_iommu **iommu;
	unsigned int niommu, iommu_cap;
	struct simi_domain **dom;
	unsigned int ndom, dom_cap;
};

struct sim_machine {
	enum dmamap_arch arch;
	unsigned int ncpus;
	int memfd;                       /* machine memory; offset == address */
	struct simi_mapping map[SIM_MAX_RAM_RANGES];
	unsigned int nmap;               /* sorted, with holes between */
	uint64_t total_ram;
	uint64_t ram_end;                /* exclusive end of the highest RAM */
	uint64_t zone_dma_limit;         /* last byte of ZONE_DMA */
	/* Zone spans, inclusive; zone_lo > zone_hi means empty. */
	uint64_t zone_lo[SIM_NR_ZONES];
	uint64_t zone_hi[SIM_NR_ZONES];

	struct simi_pagealloc pa;
	struct simi_cache cache;

	pthread_mutex_t dev_lock;        /* guards `devices` */
	struct sim_device *devices;      /* all devices, freed with the machine */

	struct simi_iommus iommus;       /* iommu.c */

	struct dmamap_linear_range linear[SIM_MAX_RAM_RANGES];
	struct dmamap_platform plat;
	struct dmamap_platform_ops plat_ops; /* plat.ops; platform.c */
	bool virtual_clock;              /* plat_ops.now_ns reads clock_ns */
	_Atomic uint64_t clock_ns;       /* the virtual clock; platform.c */
	/* Shared (decrypted) memory calls of a confidential VM; platform.c. */
	pthread_mutex_t cc_lock;
	struct sim_cc_stats cc;

	struct simi_mmio *mmio;          /* mmio.c: WC buffers; NULL until a BAR */
	struct simi_vmaps *vmaps;        /* vmap.c: aliases; NULL until one */

	/*
	 * xen.c: the hypervisor (NULL on bare metal), set once by
	 * sim_xen_create before the OS boots and never changed until the
	 * machine dies, so the DMA path reads it without a lock.  xen_other
	 * maps the storage of machine frames the OS does not own (memfd
	 * offsets from SIMI_XEN_OTHER_BASE); end 0 when there is none.  It is
	 * not RAM to the OS: only the device path and the cache model find it
	 * (simi_storage_mapping_of).
	 */
	struct sim_xen *xen;
	struct simi_mapping xen_other;
};

struct sim_device {
	struct sim_machine *m;           /* immutable */
	struct sim_device *next;         /* m->dev_lock */
	struct sim_device_desc desc;     /* immutable; desc.name is owned */

	pthread_mutex_t lock;            /* guards the fields below */
	struct sim_device_stats st;
	struct sim_event ev[SIM_DEV_EVENTS]; /* ring */
	uint64_t nev;                    /* events ever recorded */

	/*
	 * The IOMMU domain the device is attached to: iommu_dom under
	 * m->iommus.lock; iommu_domain is its id (0: none), written under
	 * the same lock and read without it, so the DMA path of a device
	 * that was never attached costs one relaxed load.
	 */
	struct simi_domain *iommu_dom;
	_Atomic int iommu_domain;

	struct simi_mmio_dev *mmio;      /* mmio.c, under m->mmio's lock */

	/* Behind the hypervisor's IOMMU (xen.c); set once, never cleared. */
	_Atomic bool xen_iommu;

	/*
	 * ---- The DMA API checker's watch (device.c), under `lock` ----
	 * While dbg_watch, every access with no live range covering it is
	 * queued as a stray (at most SIM_DEV_STRAYS; later ones are counted
	 * in dbg_dropped) until the library takes them (platform.h,
	 * struct dmamap_debug_hw_ops).  Facts only: nothing is refused.
	 */
	bool dbg_watch;
	struct simi_dbg_range *dbg_live; /* live bus ranges, unsorted */
	size_t dbg_nlive, dbg_cap;
	struct dmamap_hw_stray dbg_stray[SIM_DEV_STRAYS];
	unsigned int dbg_nstray;
	uint64_t dbg_dropped;
};

/* ---- extents.c ---------------------------------------------------------- */

/* Index of the first extent whose end is above addr (n when none). */
size_t simi_ext_find(const struct simi_extents *x, uint64_t addr);
/* True when some extent intersects [base, end). */
bool simi_ext_intersects(const struct simi_extents *x, uint64_t base,
			 uint64_t end);
/* True when one extent contains all of [base, end). */
bool simi_ext_contains(const struct simi_extents *x, uint64_t base,
		       uint64_t end);
/* Adds [base, end), merging; 0 or -ENOMEM (list unchanged). */
int simi_ext_add(struct simi_extents *x, uint64_t base, uint64_t end);
/* Removes [base, end) wherever it intersects; 0 or -ENOMEM (unchanged). */
int simi_ext_remove(struct simi_extents *x, uint64_t base, uint64_t end);
void simi_ext_free(struct simi_extents *x);

/* ---- memory.c ------------------------------------------------------------ */

/* The mapping holding all of [phys, phys + len) (len >= 1), or NULL. */
const struct simi_mapping *simi_mapping_of(const struct sim_machine *m,
					   uint64_t phys, uint64_t len);
/*
 * Storage address -> the mapping holding all of [s, s + len) (len >= 1):
 * the OS's RAM (m->map[]), else the hypervisor's frames of others
 * (m->xen_other), else NULL.  What the device path and the cache model
 * use; on bare metal it is simi_mapping_of plus one compare on a miss.
 */
const struct simi_mapping *simi_storage_mapping_of(const struct sim_machine *m,
						   uint64_t s, uint64_t len);

/* ---- pagealloc.c --------------------------------------------------------- */

int simi_pagealloc_init(struct sim_machine *m);
void simi_pagealloc_fini(struct sim_machine *m);

/* ---- cache.c -------------------------------------------------------------- */

int simi_cache_init(struct sim_machine *m);
void simi_cache_fini(struct sim_machine *m);
void simi_cache_clean(struct sim_machine *m, uint64_t phys, uint64_t size);
void simi_cache_invalidate(struct sim_machine *m, uint64_t phys,
			   uint64_t size);
void simi_cache_set_uncached(struct sim_machine *m, uint64_t phys,
			     uint64_t size, bool uncached);
/*
 * The model is keyed by storage address (== physical address on bare
 * metal and for the OS's own pages under a hypervisor; see xen.c), and
 * every call here takes storage addresses.
 *
 * Forgets everything the model holds for [phys, phys + size): entries and
 * uncached marks.  Called when pages go back to the allocator.
 */
void simi_cache_forget(struct sim_machine *m, uint64_t phys, uint64_t size);
/*
 * A device access to RAM [phys, phys + len), which lies inside mapping
 * mp.  Coherent devices see the CPU view; others go through the model.
 */
void simi_cache_dev_read(struct sim_machine *m, const struct simi_mapping *mp,
			 uint64_t phys, void *dst, size_t len, bool coherent);
void simi_cache_dev_write(struct sim_machine *m,
			  const struct simi_mapping *mp, uint64_t phys,
			  const void *src, size_t len, bool coherent);
/*
 * Lines of storage range [phys, phys + size) a non-coherent device wrote
 * since the CPU last cleaned or invalidated them (a CPU read there is
 * stale); *first gets the first such line's address.  Reads only.
 */
uint64_t simi_cache_stale_lines(struct sim_machine *m, uint64_t phys,
				uint64_t size, uint64_t *first);

/* ---- device.c -------------------------------------------------------------- */

/* Frees the devices, then the IOMMUs (simi_iommu_fini). */
void simi_devices_fini(struct sim_machine *m);
/* The DMA API checker's watch (platform.h, struct dmamap_debug_hw_ops). */
void simi_dev_dbg_watch(struct sim_device *dev, bool on);
void simi_dev_dbg_mapping(struct sim_device *dev, uint64_t bus, uint64_t size,
			  bool live);
unsigned int simi_dev_dbg_strays(struct sim_device *dev,
				 struct dmamap_hw_stray *out, unsigned int max);

/* ---- iommu.c --------------------------------------------------------------- */

/* Never fails (the locks need no initialisation). */
void simi_iommu_init(struct sim_machine *m);
/* Host memory only: page-table pages die with machine memory. */
void simi_iommu_fini(struct sim_machine *m);

/* A physically contiguous part of a translated access. */
struct simi_dma_piece {
	uint64_t phys;
	uint64_t len;
};

/* The pieces of one translated access; v is `small` or a heap array. */
struct simi_xlate {
	struct simi_dma_piece *v;
	size_t n, cap;
	struct simi_dma_piece small[8];
};

#define SIMI_XLATE_DIRECT 1 /* no translated domain: take the direct path */

/*
 * Translates device access [iova, iova + len) (len >= 1) for dev.  Returns
 * SIMI_XLATE_DIRECT (not attached, or an identity domain), 0 with the
 * physical pieces in *x (adjacent ones merged, in access order), -ENXIO
 * when !reaches_iommu and the domain is translated (the interconnect
 * dropped the IOVA: a bus error, not an IOMMU fault), -EFAULT when the
 * IOMMU blocked it (the fault is recorded in the IOMMU's ring; the caller
 * counts it in the device), or -ENOMEM (host memory for the pieces).
 * Always call simi_xlate_fini afterwards.  Moves no data.
 */
int simi_iommu_translate(struct sim_device *dev, uint64_t iova, uint64_t len,
			 bool write, bool reaches_iommu, struct simi_xlate *x);
void simi_xlate_fini(struct simi_xlate *x);

/* ---- mmio.c ----------------------------------------------------------------- */

struct simi_mmio;
struct simi_mmio_dev;
extern const struct dmamap_mmio_ops simi_mmio_ops;
void simi_mmio_fini(struct sim_machine *m);
void simi_mmio_dev_fini(struct sim_device *dev);

/* ---- vmap.c ------------------------------------------------------------------ */

struct simi_vmaps;
/* cpu inside an alias: 0 and *phys, else -EFAULT. */
int simi_vmap_to_phys(struct sim_machine *m, const void *cpu, uint64_t *phys);
void simi_vmap_fini(struct sim_machine *m);

/* ---- xen.c ------------------------------------------------------------------- */

/* Storage offset of machine frames the OS does not own: + mfn * 4 KiB. */
#define SIMI_XEN_OTHER_BASE (1ULL << 47)

struct sim_xen;
extern const struct dmamap_hv_ops simi_xen_hv_ops;
/* Frees the hypervisor (m->xen may be NULL). */
void simi_xen_fini(struct sim_machine *m);
/*
 * Device access [addr, addr + len) (len >= 1, no wrap) on a machine under
 * the hypervisor, addr being what the windows produced: a machine address,
 * or a guest-physical one for a device the hypervisor's IOMMU covers.
 * 0 with storage pieces in *xl (in access order, each inside one storage
 * mapping), -ENXIO (a machine address no host RAM backs: a bus error),
 * -EFAULT (the IOMMU blocked it: the caller counts it), -ENOMEM.  Counts
 * own / foreign / stray bytes on success.  Moves no data.  Always call
 * simi_xlate_fini afterwards.
 */
int simi_xen_translate(struct sim_device *dev, uint64_t addr, uint64_t len,
		       bool write, struct simi_xlate *xl);

enum simi_cache_op {
	SIMI_CACHE_CLEAN,
	SIMI_CACHE_INVALIDATE,
	SIMI_CACHE_UNCACHED,
	SIMI_CACHE_CACHED,
};
/*
 * A CPU cache operation by the OS's guest-physical address: foreign
 * (grant-mapped) pages go to their storage, the rest as they are.  One
 * atomic load more than the plain call while no foreign page is mapped.
 */
void simi_xen_cache_op(struct sim_machine *m, uint64_t phys, uint64_t size,
		       enum simi_cache_op op);
/* Storage of the OS's guest-physical address phys (phys itself unless a
 * mapped foreign page; phys when there is no hypervisor). */
uint64_t simi_xen_storage_of(struct sim_machine *m, uint64_t phys);

/* ---- platform.c ------------------------------------------------------------- */

void simi_platform_init(struct sim_machine *m);
/* Sets plat_ops.iommu (the machine now has IOMMU hardware). */
void simi_platform_enable_iommu(struct sim_machine *m);
/* Sets plat_ops.hv and the hypervisor facts (sim_xen_create). */
void simi_platform_enable_xen(struct sim_machine *m, enum dmamap_xen_mode mode,
			      bool initial_domain, uint32_t features);

#endif /* DMAMAP_SIM_INTERNAL_H */
