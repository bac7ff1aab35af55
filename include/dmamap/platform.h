/*
 * dmamap/platform.h - the seam between libdmamap and a machine.
 *
 * Owns: what the library needs from a machine (memory, caches, and the
 * hooks for hypervisors and IOMMU hardware), how a machine describes its
 * devices to the library (the firmware's job), and the system-level calls
 * an OS makes (create a context, add devices, read statistics).
 *
 * Must never contain policy (which backend a device gets: src/) or a
 * hardware model (sim/).  The simulator is one implementation of
 * struct dmamap_platform; an embedder writes another.
 *
 * Preconditions common to every callback: `plat` is the platform's own
 * pointer from struct dmamap_platform.priv; callbacks are called from any
 * thread the driver calls the library from and must be thread-safe; none
 * may call back into the library.
 */
#ifndef DMAMAP_PLATFORM_H
#define DMAMAP_PLATFORM_H

#include <dmamap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; what is declared here is its ABI. */
#pragma GCC visibility push(default)

/*
 * A linear range: CPU pointers [cpu, cpu + size) are physical addresses
 * [phys, phys + size).  When the platform lists these, the library turns
 * CPU pointers into physical addresses inline (the dma-direct fast path)
 * instead of calling virt_to_phys.
 */
struct dmamap_linear_range {
	void *cpu;
	dmamap_phys_addr_t phys;
	uint64_t size;
};

/* Which Linux architecture's rules to follow where they differ. */
enum dmamap_arch {
	DMAMAP_ARCH_X86 = 0,
	DMAMAP_ARCH_ARM64 = 1,
	DMAMAP_ARCH_POWERPC = 2,
};

struct dmamap_platform_ops {
	/* ---- memory (required) ---- */

	/* CPU pointer for a RAM physical address; NULL when not RAM. */
	void *(*phys_to_virt)(void *plat, dmamap_phys_addr_t phys);
	/* 0 and *phys set, or -EFAULT when cpu is not in RAM's linear map. */
	int (*virt_to_phys)(void *plat, const void *cpu,
			    dmamap_phys_addr_t *phys);
	/* True when all of [phys, phys + size) is RAM. */
	bool (*phys_is_ram)(void *plat, dmamap_phys_addr_t phys,
			    uint64_t size);
	/*
	 * Physically contiguous pages whose last byte is at or below `limit`,
	 * start aligned to align_pages pages (a power of two).  Platforms
	 * prefer the highest zone the limit allows (low memory is scarce).
	 * 0 and *phys set, or -ENOMEM.  Contents are unspecified.
	 */
	int (*alloc_pages)(void *plat, uint64_t npages, uint64_t align_pages,
			   dmamap_phys_addr_t limit, dmamap_phys_addr_t *phys);
	void (*free_pages)(void *plat, dmamap_phys_addr_t phys,
			   uint64_t npages);

	/* ---- caches (required when any device is non-coherent) ---- */

	/* Write dirty CPU cache lines covering the range back to memory. */
	void (*cache_clean)(void *plat, dmamap_phys_addr_t phys, uint64_t size);
	/*
	 * Discard CPU cache lines covering the range so the CPU next reads
	 * memory.  Partial lines at either end are cleaned first (the bytes
	 * outside the range are kept), as arm64 does.
	 */
	void (*cache_invalidate)(void *plat, dmamap_phys_addr_t phys,
				 uint64_t size);
	/*
	 * Make the CPU's view of the range uncached (true) or cached again
	 * (false): coherent allocations for non-coherent devices.  Optional.
	 */
	void (*set_uncached)(void *plat, dmamap_phys_addr_t phys, uint64_t size,
			     bool uncached);

	/*
	 * Optional: one contiguous CPU mapping of scattered pages (Linux's
	 * vmap), so an IOMMU's coherent allocation needs no contiguous
	 * memory.  virt_to_phys must answer for addresses inside it.  NULL
	 * when it cannot be made.
	 */
	void *(*vmap)(void *plat, const dmamap_phys_addr_t *pages,
		      uint64_t npages);
	void (*vunmap)(void *plat, void *cpu, uint64_t npages);

	/* ---- hooks filled by later platforms (NULL: not present) ---- */

	/*
	 * The platform's monotonic clock, in nanoseconds, for the library's
	 * timeouts (the IOMMU flush queue's 10 ms, log rate limits).  NULL:
	 * the host's CLOCK_MONOTONIC.  A simulation that must behave the same
	 * on every run gives a virtual clock here.
	 */
	uint64_t (*now_ns)(void *plat);

	/* Hypervisor calls (Xen-like); see struct dmamap_hv_ops. */
	const struct dmamap_hv_ops *hv;
	/* IOMMU hardware drivers; see struct dmamap_iommu_hw_ops. */
	const struct dmamap_iommu_hw_ops *iommu;
	/* Device registers (BARs); see struct dmamap_mmio_ops. */
	const struct dmamap_mmio_ops *mmio;
	/* What the hardware saw, for the DMA API checker; see struct dmamap_debug_hw_ops. */
	const struct dmamap_debug_hw_ops *debug;
};

/*
 * Hypervisor calls (Xen-like).  Frames are 4 KiB ("Xen pages"); a bfn is
 * a bus frame: the machine frame a device reaches when no IOMMU of the
 * hypervisor translates for it.  Every call returns 0 or a negative errno.
 * A call the hypervisor does not offer returns -EOPNOTSUPP (the hook may
 * also be NULL).
 */
struct dmamap_hv_ops {
	/*
	 * The machine frame behind guest frame pfn, as the hypervisor's p2m
	 * says: -ENOENT when pfn has no frame.  For the guest's own frames
	 * the answer is only given where the p2m is visible to the guest (x86
	 * PV, or DMAMAP_XENFEAT_P2M_QUERY): -EOPNOTSUPP otherwise, and the
	 * guest must assume what Linux assumes (auto-translated: 1:1).
	 * Foreign frames (grant_map) are not asked for: the guest records
	 * their bfn when it maps them, as Linux does.
	 */
	int (*pfn_to_bfn)(void *plat, uint64_t pfn, uint64_t *bfn);
	/* Guest frame that machine frame bfn is mapped at, or -ENOENT. */
	int (*bfn_to_pfn)(void *plat, uint64_t bfn, uint64_t *pfn);
	/*
	 * Replace the machine frames behind [pfn, pfn + 2^order) with
	 * machine-contiguous frames, aligned to 2^order frames, whose last
	 * byte is below 2^address_bits (Xen's XENMEM_exchange as
	 * xen_create_contiguous_region uses it).  The guest's data in the
	 * range is kept.  *bfn receives the first new machine frame.  -ENOMEM
	 * when the hypervisor has no such frames left (its low memory is
	 * limited: seed 003); nothing changes then.
	 */
	int (*exchange_contiguous)(void *plat, uint64_t pfn,
				   unsigned int order,
				   unsigned int address_bits, uint64_t *bfn);
	/* Give back what exchange_contiguous took (the range gets ordinary frames). */
	int (*destroy_contiguous)(void *plat, uint64_t pfn,
				  unsigned int order);
	/*
	 * Cache maintenance by machine address (Xen's GNTTABOP_cache_flush):
	 * op 0 cleans, op 1 invalidates [bfn * 4 KiB + offset, + size) with
	 * offset + size <= 4 KiB.  For foreign pages, which the guest's own
	 * cache operations by guest address cannot be trusted to reach.
	 */
	int (*cache_flush_bfn)(void *plat, uint64_t bfn, uint32_t offset,
			       uint32_t size, int op);
	/*
	 * Map the page domain domid granted as gref into the guest's physmap
	 * at a new guest frame (a "foreign page"), which the hypervisor
	 * chooses: *pfn receives it and *bfn the machine frame behind it
	 * (Xen's dev_bus_addr).  -ENOENT bad domain or grant, -EPERM a
	 * read-only grant mapped writable, -ENOSPC no guest frame left.
	 */
	int (*grant_map)(void *plat, uint16_t domid, uint32_t gref,
			 bool readonly, uint64_t *pfn, uint64_t *bfn);
	/* Undo grant_map for the foreign frame pfn; -ENOENT if not one. */
	int (*grant_unmap)(void *plat, uint64_t pfn);
};

/* What kind of guest the OS is (struct dmamap_platform.xen_mode). */
enum dmamap_xen_mode {
	DMAMAP_XEN_NONE = 0, /* bare metal, or no Xen */
	DMAMAP_XEN_PV,       /* x86 PV: the guest sees machine frames (bus = bfn) */
	DMAMAP_XEN_PVH,      /* x86 PVH: auto-translated */
	DMAMAP_XEN_HVM,      /* x86 HVM: auto-translated */
	DMAMAP_XEN_ARM,      /* arm: auto-translated */
};

/* Feature flags the hypervisor exposes (struct dmamap_platform.xen_features). */
#define DMAMAP_XENFEAT_DIRECT_MAPPED     (1u << 0) /* guest frames == machine frames */
#define DMAMAP_XENFEAT_NOT_DIRECT_MAPPED (1u << 1) /* explicitly not 1:1 */
/*
 * The hypervisor's IOMMU translates the guest's frames (its p2m, foreign
 * pages included) for the devices it covers, so guest-physical addresses
 * are their bus addresses (in the spirit of XENFEAT_ARM_dom0_iommu).
 */
#define DMAMAP_XENFEAT_DOM0_IOMMU        (1u << 2)
/* pfn_to_bfn answers for the guest's own frames (not a Xen feature: the
 * hook a p2m-aware guest needs on a non-1:1 dom0). */
#define DMAMAP_XENFEAT_P2M_QUERY         (1u << 3)

/* IOMMU protection bits. */
#define DMAMAP_IOMMU_READ (1u << 0)  /* the device may read */
#define DMAMAP_IOMMU_WRITE (1u << 1) /* the device may write */
#define DMAMAP_IOMMU_PRIV (1u << 2)  /* privileged accesses only */

/* An IOMMU hardware driver.  Every call returns 0 or a negative errno. */
struct dmamap_iommu_hw_ops {
	/* Bit n set: pages of 2^n bytes supported. */
	uint64_t (*page_sizes)(void *plat, int iommu_id);
	int (*map)(void *plat, int domain_id, dmamap_dma_addr_t iova,
		   dmamap_phys_addr_t phys, uint64_t size, unsigned int prot);
	/* Bytes unmapped into *unmapped. */
	int (*unmap)(void *plat, int domain_id, dmamap_dma_addr_t iova,
		     uint64_t size, uint64_t *unmapped);
	/* Invalidate the IOTLB for a range. */
	int (*iotlb_sync)(void *plat, int domain_id, dmamap_dma_addr_t iova,
			  uint64_t size);
	int (*flush_all)(void *plat, int domain_id);
	/* What the page tables say iova translates to; -ENOENT if unmapped. */
	int (*iova_to_phys)(void *plat, int domain_id, dmamap_dma_addr_t iova,
			    dmamap_phys_addr_t *phys);
};

/* BAR kinds and properties (struct dmamap_bar_info.flags). */
#define DMAMAP_BAR_MEM (1u << 0)      /* memory space (else I/O ports) */
#define DMAMAP_BAR_PREFETCH (1u << 1) /* prefetchable memory */

struct dmamap_bar_info {
	uint64_t size;       /* bytes; 0: the BAR is not implemented */
	unsigned int flags;  /* DMAMAP_BAR_* */
};

/* How a store or load reaches the device (struct dmamap_mmio_ops). */
#define DMAMAP_MMIO_RELAXED (1u << 0) /* no barrier: may pass other accesses
				       * the platform allows it to pass */

/*
 * Device registers.  `hw` is the platform's own handle for the device
 * (struct dmamap_device_desc.hw); `map` is what map_bar returned.  `cpu`
 * is the logical CPU making the access (write-combining buffers are per
 * CPU).  The library has already checked bounds and alignment.
 */
struct dmamap_mmio_ops {
	int (*bar_info)(void *plat, void *hw, int bar, struct dmamap_bar_info *out);
	/* Map [offset, offset + len) of a BAR, write-combining or uncached. */
	int (*map_bar)(void *plat, void *hw, int bar, uint64_t offset,
		       uint64_t len, bool wc, void **map);
	void (*unmap_bar)(void *plat, void *map);
	/* size is 1, 2, 4 or 8; flags DMAMAP_MMIO_*. */
	void (*write)(void *plat, void *map, uint64_t off, uint64_t val,
		      unsigned int size, unsigned int flags, unsigned int cpu);
	uint64_t (*read)(void *plat, void *map, uint64_t off, unsigned int size,
			 unsigned int flags, unsigned int cpu);
	/*
	 * A barrier on `cpu`: kind 'w' (write), 'r' (read) or 'f' (full).
	 * Write and full barriers drain the CPU's write-combining buffers.
	 */
	void (*barrier)(void *plat, int kind, unsigned int cpu);
};

/* A device access no live mapping covered (struct dmamap_debug_hw_ops). */
struct dmamap_hw_stray {
	dmamap_dma_addr_t dma; /* the bus address the device was given */
	uint64_t len;
	bool write;
};

/*
 * Facts for the DMA API checker (debug.h), asked only while it is on.
 * The platform reports what its hardware saw and decides nothing: what is
 * a bug is the checker's call.  `hw` is struct dmamap_device_desc.hw
 * (never NULL here).  Each hook is optional (NULL: that check is off).
 */
struct dmamap_debug_hw_ops {
	/* Start (true) or stop (false) watching hw's DMA; stopping forgets
	 * its live ranges and strays. */
	void (*watch)(void *plat, void *hw, bool on);
	/*
	 * Bus range [dma, dma + size) of hw became live (a mapping or an
	 * allocation began) or stopped being live.  Ranges may overlap; each
	 * end matches one earlier begin with the same dma and size.
	 */
	void (*mapping)(void *plat, void *hw, dmamap_dma_addr_t dma,
			uint64_t size, bool live);
	/*
	 * Hands over (oldest first, at most max) the accesses hw made while
	 * watched that no live range covered, forgetting them; returns how
	 * many.  The platform may drop some when many pile up.
	 */
	unsigned int (*strays)(void *plat, void *hw, struct dmamap_hw_stray *out,
			       unsigned int max);
	/*
	 * How many cache lines of [phys, phys + size) hold bytes a
	 * non-coherent device wrote that the CPU has not invalidated since:
	 * a CPU read there returns stale data.  *first: the first such line.
	 */
	uint64_t (*cpu_stale)(void *plat, dmamap_phys_addr_t phys,
			      uint64_t size, dmamap_phys_addr_t *first);
};

struct dmamap_platform {
	const struct dmamap_platform_ops *ops;
	void *priv;

	/* Facts, filled once at start-up. */
	enum dmamap_arch arch;
	unsigned int ncpus;              /* logical CPUs (>= 1) */
	dmamap_phys_addr_t max_ram_end;  /* last byte of the highest RAM */
	uint64_t total_ram;              /* bytes of RAM */
	/* Top of the DMA zone (x86: 16 MiB - 1; arm64: from the tree). */
	dmamap_phys_addr_t zone_dma_limit;
	const struct dmamap_linear_range *linear; /* may be NULL */
	unsigned int nlinear;

	/* Hypervisor facts (all zero on bare metal); ops->hv holds its calls. */
	enum dmamap_xen_mode xen_mode;
	bool xen_initial_domain;         /* dom0 */
	uint32_t xen_features;           /* DMAMAP_XENFEAT_* */
};

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
	 * or in dom0 when not_direct_mapped is absent (and not when
	 * dom0_iommu is set); x86: only in PV domains.
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

/* The error name for a negative errno this library returns ("EIO"). */
const char *dmamap_strerror(int err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_PLATFORM_H */
