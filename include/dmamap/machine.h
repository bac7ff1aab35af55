/*
 * dmamap/machine.h - the machine contract: what libdmamap needs from the
 * machine it runs on.
 *
 * Owns: struct dmamap_platform and its ops (memory, caches, the clock,
 * and the hooks for hypervisors, IOMMU hardware, MMIO and the checker's
 * view of the hardware).  Must never contain policy (which backend a
 * device gets: src/) or a hardware model (sim/).  The simulator is one
 * implementation; an embedder (a VFIO userspace driver, a unikernel)
 * writes another.  What an OS does with a machine (contexts, devices,
 * statistics) is dmamap/system.h.
 *
 * Preconditions common to every callback: `plat` is the platform's own
 * pointer from struct dmamap_platform.priv; callbacks are called from any
 * thread the driver calls the library from and must be thread-safe; none
 * may call back into the library.
 */
#ifndef DMAMAP_MACHINE_H
#define DMAMAP_MACHINE_H

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

	/*
	 * Confidential VMs (dmamap_config.cc_guest): make [phys, phys + size)
	 * shared with the host (decrypted true) or private again (false), as
	 * Linux's set_memory_decrypted / set_memory_encrypted; the contents
	 * are undefined afterwards.  0 or a negative errno.  Optional (NULL:
	 * the platform cannot share memory; a confidential VM's bounce pools
	 * then stay private and its coherent allocations are refused).
	 */
	int (*set_decrypted)(void *plat, dmamap_phys_addr_t phys, uint64_t size,
			     bool decrypted);
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
 * are their bus addresses (in the spirit of XENFEAT_ARM_dom0_iommu, an
 * RFC to Xen and Linux that was not merged).
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

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_MACHINE_H */
