/*
 * dmamap/system.h - the system API: what an OS (or an embedder acting as
 * one) calls to run the library on a machine.
 *
 * Owns: contexts (one OS instance on one machine, its configuration and
 * boot arguments), restricted pools, devices as firmware describes them,
 * deferred work, and the statistics.  The machine itself is described
 * with dmamap/machine.h; drivers call dmamap/dma.h.  Must never contain
 * policy or a hardware model.
 */
#ifndef DMAMAP_SYSTEM_H
#define DMAMAP_SYSTEM_H

#include <dmamap/dma.h> /* the devices it adds are drivers' devices; dmamap_strerror */
#include <dmamap/machine.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is its ABI. */
#pragma GCC visibility push(default)

/* ---- a context: one OS instance on one platform ------------------------- */

enum dmamap_swiotlb_mode {
	DMAMAP_SWIOTLB_AUTO = 0, /* on when RAM reaches above 4 GiB (x86's rule) */
	DMAMAP_SWIOTLB_ON,
	DMAMAP_SWIOTLB_OFF,
};

/* How the library chooses swiotlb-xen under Xen (struct dmamap_config). */
enum dmamap_xen_policy {
	/*
	 * Per device (the default, beyond Linux): a device the hypervisor's
	 * IOMMU covers gets direct ops with guest-physical addresses; one it
	 * does not cover gets swiotlb-xen, which on a non-1:1 dom0 translates
	 * every frame through the p2m where the hypervisor exposes it.
	 */
	DMAMAP_XEN_POLICY_PER_DEVICE = 0,
	/*
	 * As Linux: one global choice.  arm: swiotlb-xen when direct_mapped,
	 * or in dom0 when not_direct_mapped is absent (and, following the
	 * unmerged XENFEAT_ARM_dom0_iommu RFC, not when dom0_iommu is set);
	 * x86: only in PV domains.
	 */
	DMAMAP_XEN_POLICY_LINUX,
};

/* Bounce-slot poisoning (struct dmamap_config.swiotlb_poison). */
enum dmamap_poison_mode {
	DMAMAP_POISON_DEFAULT = 0, /* on exactly when the DMA API checker is */
	DMAMAP_POISON_ON,
	DMAMAP_POISON_OFF,
};

/*
 * Who runs the library's deferred work (struct dmamap_config.deferred):
 * today the IOMMU flush queue's timeout, Linux's fq_timer, which flushes a
 * lazy domain whose oldest queued IOVA is older than 10 ms even when no
 * further unmap comes.
 */
enum dmamap_deferred_mode {
	/* A library thread, started at the first queued IOVA, stopped at destroy. */
	DMAMAP_DEFERRED_THREAD = 0,
	/*
	 * The embedder calls dmamap_run_deferred() from its own timer (at
	 * least every 10 ms of the platform's clock while work is pending),
	 * for platforms without threads or with a virtual clock.
	 */
	DMAMAP_DEFERRED_MANUAL,
};

struct dmamap_config {
	/* Kernel command line: swiotlb=, iommu=, iommu.strict=.  May be NULL. */
	const char *bootargs;
	enum dmamap_swiotlb_mode swiotlb_mode;
	/* Default pool bytes (0: 64 MiB, or 6% of RAM for a confidential VM). */
	uint64_t swiotlb_bytes;
	/* Grow the pool when full (Linux's CONFIG_SWIOTLB_DYNAMIC). */
	bool swiotlb_dynamic;
	/* Confidential VM: every mapping bounces; pool 6% of RAM, 64 MiB..1 GiB. */
	bool cc_guest;
	dmamap_log_fn log;
	void *log_priv;
	/* Under Xen (platform xen_mode != NONE): how swiotlb-xen is chosen. */
	enum dmamap_xen_policy xen_policy;
	/*
	 * Bounce-slot poisoning (see dmamap/exhaust.h): released slots are
	 * overwritten with DMAMAP_SWIOTLB_POISON (0x6b, Linux's POISON_FREE)
	 * so stale data never reaches the next user.  DEFAULT is off (the DMA
	 * API checker turns it on); the bootarg swiotlb_poison=0|1 overrides.
	 */
	enum dmamap_poison_mode swiotlb_poison;
	/* The DMA API checker (dmamap/debug.h); bootarg dma_debug=on|off overrides. */
	bool dma_debug;
	enum dmamap_deferred_mode deferred;
};

/*
 * Creates a context.  0, -EINVAL (bad config or bootargs; the log says
 * which word) or -ENOMEM (no memory for the bounce pool).
 */
int dmamap_ctx_create(const struct dmamap_platform *plat,
		      const struct dmamap_config *cfg,
		      struct dmamap_ctx **out);
/* Devices must have been removed first: -EBUSY otherwise. */
int dmamap_ctx_destroy(struct dmamap_ctx *ctx);

/*
 * Runs the deferred work that is due by the platform's clock: every lazy
 * IOMMU domain whose oldest queued IOVA is older than 10 ms is flushed and
 * its queues freed.  Returns the number of domains flushed; *next_ns (may
 * be NULL) gets the nanoseconds until the next work falls due, or
 * UINT64_MAX when nothing is pending.  Safe from any thread, in either
 * deferred mode.
 */
unsigned int dmamap_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns);

/* The logical CPU the calling thread counts as (per-CPU areas, stats). */
void dmamap_set_cpu(unsigned int cpu);
unsigned int dmamap_current_cpu(void);

/* ---- restricted DMA pools (device tree: restricted-dma-pool) ------------- */

struct dmamap_swiotlb;
/*
 * The largest bounce pool (boot, grown or restricted) the library keeps
 * bookkeeping for: 16 GiB, 8 Mi slots, about 100 MiB of host memory.
 * Linux has no such bound (memblock simply fails); here a pool described
 * by a file must not make the host allocate gigabytes at once.  Linux's own
 * largest default is the 1 GiB confidential-VM pool.
 */
#define DMAMAP_SWIOTLB_MAX_POOL_BYTES (16ULL << 30)
/*
 * A bounce pool in the RAM range [phys, phys + size), which the platform
 * has already set aside.  Devices given it bounce everything through it
 * and take their coherent allocations from it.
 */
int dmamap_restricted_pool_create(struct dmamap_ctx *ctx,
				  dmamap_phys_addr_t phys, uint64_t size,
				  struct dmamap_swiotlb **out);
int dmamap_restricted_pool_destroy(struct dmamap_swiotlb *pool);

/* ---- devices: what firmware tells the OS ---------------------------------- */

/* One dma-ranges entry: bus [dma, dma + size) reaches CPU [cpu, cpu + size). */
struct dmamap_dma_range {
	dmamap_phys_addr_t cpu;
	dmamap_dma_addr_t dma;
	uint64_t size;
};

enum dmamap_bus {
	DMAMAP_BUS_PLATFORM = 0,
	DMAMAP_BUS_PCI = 1,
};

#define DMAMAP_MAX_DMA_RANGES 8

struct dmamap_device_desc {
	const char *name;
	enum dmamap_bus bus;
	bool coherent;
	/* dma-ranges composed to the root; 0 ranges: bus == phys, unlimited. */
	struct dmamap_dma_range ranges[DMAMAP_MAX_DMA_RANGES];
	unsigned int nranges;
	/* Highest bus address the interconnect passes (0: none). */
	dmamap_dma_addr_t bus_dma_limit;
	/* A restricted pool (NULL: the default pool). */
	struct dmamap_swiotlb *restricted_pool;
	/* Initial masks (0: 32 bits, Linux's default). */
	uint64_t dma_mask;
	uint64_t coherent_dma_mask;
	/* The platform's own handle for the device, given back to its MMIO
	 * hooks (NULL: the device has no registers the library can map). */
	void *hw;

	/*
	 * IOMMU (0: the device is not behind one).  iommu_domain is the DMA
	 * domain the hardware puts it in; devices sharing one (PCI aliases, a
	 * powerpc PE) share its IOVA space and must agree on windows.
	 */
	int iommu_id;
	int iommu_domain;
	/* External-facing device (Linux's untrusted PCI port): sub-page
	 * buffers are bounced so the rest of their page is not exposed. */
	bool untrusted;
	/* IOVA ranges never handed out (MSI doorbells, firmware RMRRs). */
	struct dmamap_dma_range iommu_reserved[DMAMAP_MAX_DMA_RANGES];
	unsigned int niommu_reserved;           /* dma and size used */
	/*
	 * Hybrid windows (powerpc): the IOMMU translates only bus addresses
	 * [iommu_window_base, iommu_window_base + iommu_window_size) (size 0:
	 * the whole IOVA space), and when has_bypass, bus address
	 * phys + bypass_offset reaches all RAM directly (a "bypass" window).
	 */
	dmamap_dma_addr_t iommu_window_base;
	uint64_t iommu_window_size;
	bool has_bypass;
	dmamap_dma_addr_t bypass_offset;
	/*
	 * The library may map all RAM once, holes skipped, with the largest
	 * IOMMU pages, just above the 32-bit window (a "compressed linear"
	 * window), so devices whose mask reaches its end map with no per-map
	 * IOMMU work.
	 */
	bool iommu_linear;

	/*
	 * Under Xen: the hypervisor's IOMMU covers this device and translates
	 * its bus addresses through the guest's p2m (a PVH dom0's devices; on
	 * arm, a device with an iommus property when Xen drives the SMMU).
	 * The library programs nothing for it; iommu_id stays 0.
	 */
	bool xen_iommu;
};

int dmamap_device_add(struct dmamap_ctx *ctx,
		      const struct dmamap_device_desc *desc,
		      struct dmamap_device **out);
/*
 * Removes a device.  Live mappings are leaks: counted into *leaked (may be
 * NULL) and reported through the log.  Queued deferred mappings
 * (dmamap/exhaust.h) end first, their callbacks getting -ENODEV; -EBUSY,
 * and nothing changes, while a thread is blocked in a WAIT on the device.
 */
int dmamap_device_remove(struct dmamap_device *dev, uint64_t *leaked);
const char *dmamap_device_name(const struct dmamap_device *dev);
struct dmamap_ctx *dmamap_device_ctx(const struct dmamap_device *dev);

/* ---- statistics ----------------------------------------------------------- */

struct dmamap_device_stats {
	uint64_t maps;           /* successful streaming map calls (sg: per entry) */
	uint64_t map_failures;
	uint64_t bytes_mapped;
	uint64_t bounced_maps;
	uint64_t bounced_bytes;  /* bytes placed in bounce buffers by maps */
	uint64_t live_mappings;  /* maps not yet unmapped */
	uint64_t coherent_allocs;
	uint64_t coherent_bytes;
	/* Unmaps refused as stale, double or of a size not mapped (never executed). */
	uint64_t refused_unmaps;
};
void dmamap_device_get_stats(struct dmamap_device *dev,
			     struct dmamap_device_stats *st);
/* Backend name (direct, swiotlb, iommu, iommu-bypass, swiotlb-xen). */
const char *dmamap_device_ops_name(const struct dmamap_device *dev);
/* One line saying why the device got that backend. */
const char *dmamap_device_ops_reason(const struct dmamap_device *dev);

struct dmamap_swiotlb_stats {
	bool enabled;
	bool force;                 /* every mapping bounces */
	unsigned int nareas;
	unsigned int npools;        /* the boot pool plus grown pools */
	uint64_t boot_total_bytes;  /* right after boot, before growth */
	uint64_t total_bytes;
	uint64_t below_4g_bytes;
	/* Slots in use, in bytes, transient pools' included (Linux's io_tlb_used). */
	uint64_t used_bytes;
	/*
	 * Sum of per-area high-water marks: exact while one area is in use,
	 * never below the true peak (no global atomic on the hot path).
	 */
	uint64_t used_hiwater_bytes;
	uint64_t bounced_bytes;     /* bytes copied at map time */
	uint64_t full_failures;     /* maps refused because no slot was free */
	uint64_t transient_pools;   /* one-request pools made while growing */
	/* Unmaps and frees refused: no live allocation of that device and size there. */
	uint64_t refused_unmaps;
	/* Slots of the transient pools live now (io_tlb_transient_used). */
	uint64_t transient_used_bytes;
	/* Where the boot pool lies: its first byte (boot_total_bytes long). */
	dmamap_phys_addr_t boot_base;
};
/* Default pool (pool NULL) or a restricted pool. */
void dmamap_swiotlb_get_stats(struct dmamap_ctx *ctx,
			      struct dmamap_swiotlb *pool,
			      struct dmamap_swiotlb_stats *st);

struct dmamap_swiotlb_area_stats {
	uint64_t total_slots;
	uint64_t used_slots;
	uint64_t hiwater_slots;
};
int dmamap_swiotlb_get_area_stats(struct dmamap_ctx *ctx,
				  struct dmamap_swiotlb *pool,
				  unsigned int area,
				  struct dmamap_swiotlb_area_stats *st);

/*
 * Where pool number idx (0: the boot pool, then grown pools in order) of
 * the default pool (pool NULL) or a restricted pool lies in physical
 * memory.  0, -ENOENT (no such pool; transient one-request pools are not
 * listed) or -ENODEV (no bounce pool at all).
 */
int dmamap_swiotlb_get_pool_range(struct dmamap_ctx *ctx,
				  struct dmamap_swiotlb *pool,
				  unsigned int idx, dmamap_phys_addr_t *phys,
				  uint64_t *size);

/*
 * The bounce buffer of the default pool (pool NULL) or of a restricted pool
 * that holds phys, transient one-request pools included (a dynamic pool
 * makes one when every listed pool is full): its start, size and whether
 * it is transient (any output may be NULL).  0, -ENOENT (phys is in none)
 * or -ENODEV (no bounce pool at all).  A transient pool lives only as long
 * as its mapping: the answer is a snapshot.
 */
int dmamap_swiotlb_find_pool(struct dmamap_ctx *ctx,
			     struct dmamap_swiotlb *pool,
			     dmamap_phys_addr_t phys,
			     dmamap_phys_addr_t *start, uint64_t *size,
			     bool *transient);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_SYSTEM_H */
