/*
 * sim/xen.h - a Xen-like hypervisor under the simulated machine.
 *
 * Owns: machine frames and who owns them, the p2m of the guest the
 * library runs in (dom0, or a domU: "the OS"), other domains (domUs) with
 * their own frames, grant tables, the memory-exchange call with the
 * hypervisor's limited low memory, cache flushes by machine frame, the
 * feature flags, and the hypervisor's IOMMU that mirrors the OS's p2m for
 * the devices it covers.  Must never decide DMA policy (whether to use
 * swiotlb-xen, whether to bounce): that is the library's.
 *
 * Address spaces.  The machine built by sim_machine_create is the OS's
 * view: its RAM ranges are guest-physical, and CPU pointers, the page
 * allocator and the cache model work on guest-physical addresses exactly
 * as on bare metal.  Once sim_xen_create has run, a device's bus address
 * is a machine address (after its dma-ranges windows), or, for a device
 * the hypervisor's IOMMU covers, a guest-physical address of the OS that
 * the IOMMU translates through the OS's p2m.  A machine address that no
 * RAM frame backs is a bus error; one that backs no page of the OS lands
 * in whatever owns it (Xen's free memory or another domain): the wrong
 * bytes a missing translation produces, not a crash.
 *
 * Thread safety: every call may be made from several threads at once.
 */
#ifndef DMAMAP_SIM_XEN_H
#define DMAMAP_SIM_XEN_H

#include "sim.h"

/* How the OS's guest frames are laid on machine frames. */
enum sim_xen_p2m {
	SIM_XEN_P2M_IDENTITY = 0, /* pfn == mfn (a direct-mapped dom0) */
	/*
	 * Chunks of 2^scatter_order frames in a shuffled order (seeded), taken
	 * from high machine memory first, as Xen populates a PV guest.
	 */
	SIM_XEN_P2M_SCATTERED,
	/*
	 * Cache colouring: machine frame f has colour f % ncolors; the OS gets
	 * the frames of its colours in ascending order, so runs of as many
	 * frames as it has consecutive colours, never 1:1.
	 */
	SIM_XEN_P2M_COLORED,
};

struct sim_xen_desc {
	enum dmamap_xen_mode mode;      /* PV, PVH, HVM (x86) or ARM; not NONE */
	bool initial_domain;            /* the OS is dom0 */
	enum sim_xen_p2m p2m;
	/*
	 * The host's machine RAM.  0 ranges: the OS's RAM ranges for
	 * IDENTITY; otherwise [0, 4 GiB) plus enough above 4 GiB for twice
	 * the OS's RAM and 256 MiB for other domains.  Must hold the OS's
	 * frames (IDENTITY: every OS RAM range inside it).
	 */
	struct sim_ram_range host_ram[SIM_MAX_RAM_RANGES];
	unsigned int nhost;
	/*
	 * The hypervisor's free memory below 4 GiB that exchanges may draw
	 * on (seed 003: it is precious).  0: 128 MiB.  It is a range of host
	 * RAM below 4 GiB that no domain's frames use.
	 */
	uint64_t lowmem_bytes;
	unsigned int scatter_order;     /* SCATTERED: 0..9; 0 means 4 (64 KiB chunks) */
	uint64_t seed;                  /* SCATTERED's shuffle */
	/* COLORED: ncolors (power of two, 2..64; 0: 16) and the OS's colours
	 * as a bit mask (0: the lower half). */
	unsigned int ncolors;
	uint64_t colors;
	/* DMAMAP_XENFEAT_* the guest sees. */
	uint32_t features;
	/*
	 * Guest frames kept free for foreign (grant) mappings, taken from the
	 * top of the OS's highest RAM range and reserved there as ballooned
	 * pages are: their old machine frames go back to the hypervisor.
	 * 0: 4096 frames (16 MiB); at most 1/4 of the OS's RAM.
	 */
	uint64_t foreign_frames;
};

struct sim_xen;

/*
 * Puts machine m (already created, no device yet attached to an IOMMU)
 * under a hypervisor.  From then on sim_platform(m) carries the Xen facts
 * (xen_mode, xen_initial_domain, xen_features) and ops->hv.  The library
 * must not have been given the platform before this call.  0, -EINVAL
 * (*why says which field is wrong), -EBUSY (already under one, or an
 * IOMMU of sim/iommu.h exists: the hypervisor owns the IOMMUs) or -ENOMEM.
 * The hypervisor dies with the machine.
 */
int sim_xen_create(struct sim_machine *m, const struct sim_xen_desc *d,
		   struct sim_xen **out, const char **why);
/* The hypervisor m is under, or NULL. */
struct sim_xen *sim_xen_of(struct sim_machine *m);

/* ---- the OS's frames ------------------------------------------------------ */

/* The machine frame behind the OS's guest frame pfn (foreign or own); 0 or -ENOENT. */
int sim_xen_p2m(struct sim_xen *x, uint64_t pfn, uint64_t *mfn);
/* The OS's guest frame machine frame mfn backs; 0 or -ENOENT (not the OS's). */
int sim_xen_m2p(struct sim_xen *x, uint64_t mfn, uint64_t *pfn);

/* ---- other domains --------------------------------------------------------- */

/*
 * A domU with npages frames (guest frames 0..npages-1, scattered in
 * machine memory, above 4 GiB first).  *domid >= 1.  0, -EINVAL, -ENOMEM
 * (no machine frames left).
 */
int sim_xen_domu_create(struct sim_xen *x, uint64_t npages, uint16_t *domid);
/* CPU pointer to the domU's frame gfn (4 KiB): what the domU reads and
 * writes.  NULL on a bad domain or frame. */
void *sim_xen_domu_page(struct sim_xen *x, uint16_t domid, uint64_t gfn);
/* Machine frame of a domU frame; 0 or -ENOENT. */
int sim_xen_domu_mfn(struct sim_xen *x, uint16_t domid, uint64_t gfn,
		     uint64_t *mfn);
/*
 * The domU grants frame gfn to dom0 (domain 0), read-only or writable.
 * *gref is the grant reference.  0, -ENOENT, -ENOSPC (table full: 4096).
 */
int sim_xen_grant(struct sim_xen *x, uint16_t domid, uint64_t gfn,
		  bool readonly, uint32_t *gref);
/* Ends a grant; -EBUSY while dom0 still maps it. */
int sim_xen_grant_end(struct sim_xen *x, uint16_t domid, uint32_t gref);

/* ---- the hypervisor's IOMMU ------------------------------------------------ */

/*
 * Puts dev behind the hypervisor's IOMMU: its bus addresses (after
 * truncation and its windows) are the OS's guest-physical addresses,
 * translated through the OS's p2m (foreign pages included) at every
 * access.  A frame with no p2m entry, or a write to a read-only foreign
 * frame, is an IOMMU fault: nothing moves, reads return 0xff, and the
 * device's iommu_faults counts it.  0, -EINVAL (no hypervisor), -EBUSY
 * (already behind an IOMMU).
 */
int sim_xen_iommu_attach(struct sim_device *dev);
bool sim_xen_iommu_covers(const struct sim_device *dev);

/* ---- figures ---------------------------------------------------------------- */

struct sim_xen_stats {
	uint64_t lowmem_total;        /* bytes available for exchanges */
	uint64_t lowmem_used;         /* bytes exchanges hold now */
	uint64_t lowmem_hiwater;
	uint64_t exchanges;           /* successful exchange calls */
	uint64_t exchange_failures;   /* refused for lack of frames */
	uint64_t grants_mapped;       /* foreign frames mapped now */
	uint64_t grant_maps;          /* grant_map calls that succeeded */
	uint64_t cache_flushes;       /* cache_flush_bfn calls */
	uint64_t p2m_queries;         /* pfn_to_bfn calls answered */
	/*
	 * Device accesses by machine frame owner: the OS's own frames,
	 * foreign frames (another domain's, through a grant the OS maps),
	 * and frames the OS had no business reaching (free hypervisor
	 * memory, or another domain's frame not granted): the last is the
	 * "wrong bytes" of a missing translation.
	 */
	uint64_t dma_own_bytes;
	uint64_t dma_foreign_bytes;
	uint64_t dma_stray_bytes;
};
void sim_xen_get_stats(struct sim_xen *x, struct sim_xen_stats *st);

#endif /* DMAMAP_SIM_XEN_H */
