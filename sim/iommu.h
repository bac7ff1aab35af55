/*
 * sim/iommu.h - the simulated IOMMU hardware (simulator side, sim_iommu_*).
 *
 * Owns: IOMMU instances (name, supported page sizes, IOTLB, modelled cost
 * of an invalidation, fault ring, counters), domains (translated, with
 * 4-level I/O page tables kept in machine memory, or identity) and which
 * device is attached to which domain.  This is what firmware and tests
 * drive; the library reaches the same calls through platform.h's struct
 * dmamap_iommu_hw_ops (sim_platform(m)->ops->iommu), which is NULL until
 * the machine's first IOMMU is created: create IOMMUs before handing the
 * platform to the library, as firmware does before the OS boots.
 *
 * Must never decide DMA policy (which device gets a domain, what is
 * mapped where, when to invalidate: the library's job) and never include
 * anything from src/.
 *
 * Model:
 *   - IOVAs are 48 bits; tables are a 4-level radix, 9 bits per level,
 *     of 4 KiB pages from the machine's page allocator (sim_alloc_pages),
 *     holding 8-byte entries in the host's byte order.  Leaves are 4 KiB
 *     (level 0), 2 MiB (level 1) or 1 GiB (level 2), as the IOMMU's page
 *     sizes allow.  Entry bits: 0 present, 1 read, 2 write, 3 priv,
 *     7 leaf (set on every leaf), 12..47 the address.  The walker is
 *     coherent: it reads the CPU view of machine memory.
 *   - A domain's root table is allocated when the domain is created.
 *     Unmap never frees tables (as Linux's io-pgtable); a map of a large
 *     page over an empty subtable frees that subtable; destroying the
 *     domain frees them all.
 *   - Unmapping part of a large leaf splits it into next-level leaves
 *     (one new table page, counted in `splits`) and unmaps the part.
 *   - The IOTLB caches leaf translations keyed by (domain, leaf), LRU.
 *     Only iotlb_sync and flush_all remove entries (and domain destroy,
 *     which is bookkeeping): an entry whose translation was unmapped keeps
 *     translating, exactly as hardware does, and each access through it is
 *     counted in stale_hits.  Permission is checked on what the entry
 *     caches.
 *   - A blocked access records a fault (ring of the last 64 per IOMMU)
 *     and moves nothing; see sim_dma_read in sim.h for the bus path.
 *   - DMAMAP_IOMMU_PRIV is stored in the entry but never checked: the
 *     model's devices make no privileged accesses.
 *   - A translated domain may have powerpc-style hybrid windows
 *     (sim_iommu_domain_set_windows): a translated window that goes
 *     through the tables and a bypass window that maps RAM linearly
 *     at a bus offset; an access outside both is blocked.  By default
 *     every address goes through the tables.
 *
 * Ids: IOMMU ids and domain ids are machine-wide positive ints, never
 * reused; 0 means "none".  Every call returns 0 or a negative errno.
 * Thread safety: every call may be made from several threads at once.
 */
#ifndef DMAMAP_SIM_IOMMU_H
#define DMAMAP_SIM_IOMMU_H

#include "sim.h"

#define SIM_IOMMU_PGSIZE_4K (1ULL << 12)
#define SIM_IOMMU_PGSIZE_2M (1ULL << 21)
#define SIM_IOMMU_PGSIZE_1G (1ULL << 30)
#define SIM_IOMMU_DEFAULT_PGSIZES \
	(SIM_IOMMU_PGSIZE_4K | SIM_IOMMU_PGSIZE_2M | SIM_IOMMU_PGSIZE_1G)
/*
 * A 16 KiB-granule IOMMU (Apple's DART: 16 KiB pages, 32 MiB blocks).  Its
 * page tables are modelled with 4 KiB leaves; what the OS sees is the
 * advertised sizes, so IOVAs and mappings are 16 KiB-granular.
 */
#define SIM_IOMMU_PGSIZE_16K (1ULL << 14)
#define SIM_IOMMU_PGSIZE_32M (1ULL << 25)
#define SIM_IOMMU_DEFAULT_INVAL_NS 1000ULL
#define SIM_IOMMU_DEFAULT_IOTLB 64
#define SIM_IOMMU_MAX_IOTLB 4096
#define SIM_IOMMU_FAULTS 64        /* faults kept per IOMMU */
#define SIM_IOMMU_IOVA_BITS 48

struct sim_iommu_desc {
	const char *name;          /* copied; NULL: "sim-iommu" */
	/* Bit n: 2^n-byte pages.  0: 4K|2M|1G.  Must hold 4K, within 4K|2M|1G. */
	uint64_t page_sizes;
	uint64_t inval_cost_ns;    /* per invalidation; 0: 1000 (see set_inval_cost) */
	unsigned int iotlb_entries; /* 0: 64; at most SIM_IOMMU_MAX_IOTLB */
};

/* 0 and *id, -EINVAL (bad description), -EBUSY (the machine is under a
 * hypervisor, which owns the IOMMUs: sim/xen.h) or -ENOMEM. */
int sim_iommu_create(struct sim_machine *m, const struct sim_iommu_desc *d,
		     int *id);
/* The supported page sizes; 0 for an unknown id. */
uint64_t sim_iommu_page_sizes(struct sim_machine *m, int iommu_id);
/* The modelled cost of each later invalidation (0 allowed).  0 or -EINVAL. */
int sim_iommu_set_inval_cost(struct sim_machine *m, int iommu_id,
			     uint64_t ns);

enum sim_iommu_domain_type {
	SIM_IOMMU_DOMAIN_TRANSLATED = 0, /* page tables, IOTLB, faults */
	SIM_IOMMU_DOMAIN_IDENTITY = 1,   /* passthrough: bus == phys, no tables */
};

/*
 * A domain on IOMMU iommu_id.  A translated domain takes one page of
 * machine memory (its root table) at once.  0 and *domain_id, -EINVAL
 * (unknown IOMMU, bad type) or -ENOMEM.
 */
int sim_iommu_domain_create(struct sim_machine *m, int iommu_id,
			    enum sim_iommu_domain_type type, int *domain_id);
/*
 * Frees the domain's tables (back to the page allocator) and drops its
 * IOTLB entries.  0, -EINVAL (unknown) or -EBUSY (devices attached).
 */
int sim_iommu_domain_destroy(struct sim_machine *m, int domain_id);

/*
 * Puts dev behind the domain (replacing any previous attachment; several
 * devices may share a domain, as a PCI alias group or a powerpc PE).
 * Accesses already under way finish on the old route.  0 or -EINVAL.
 */
int sim_iommu_attach(struct sim_device *dev, int domain_id);
/* Back to direct access.  0 (also when not attached). */
int sim_iommu_detach(struct sim_device *dev);
/* The domain id dev is attached to, or 0. */
int sim_device_iommu_domain(const struct sim_device *dev);

/*
 * Hybrid windows of a translated domain, as a powerpc PHB gives a PE a
 * 32-bit TCE window at bus 0 and a 64-bit "bypass" window at a high
 * offset.  A device access, after the engine's address truncation and
 * the interconnect's bus limit, is routed by its whole extent
 * [bus, bus + len):
 *   - inside [bypass_offset, bypass_offset + bypass_size) (when bypass):
 *     reaches physical (bus - bypass_offset) directly: no IOTLB, no walk,
 *     counted in bypass_accesses (a target that is not RAM is then a bus
 *     error, as on the direct path);
 *   - inside [tr_base, tr_base + tr_size): through the tables and IOTLB
 *     as before.  tr_size 0 (then tr_base must be 0): the translated
 *     window is every address the bypass window does not claim, which
 *     with no bypass is the default, untouched behaviour;
 *   - otherwise, or when the access straddles a window's edge (even into
 *     the other window): blocked, no byte moved, an IOMMU fault with
 *     reason SIM_IOMMU_FAULT_OUTSIDE_WINDOW at the first byte outside the
 *     window holding the access's first byte (the first byte itself when
 *     no window holds it).  No walk is made for a blocked access.
 * Bases and sizes are 4 KiB aligned; the translated window lies below
 * 2^48, the bypass window within 2^64 and at most 2^48 bytes (the
 * physical space).  Windows may not overlap.  Without bypass,
 * bypass_offset and bypass_size must be 0.  (0, 0, false, 0, 0) restores
 * the default.  Takes effect for accesses that start after it returns
 * (accesses under way finish on the old route); the IOTLB is left alone.
 * 0 or -EINVAL (unknown or identity domain, bad or overlapping windows).
 */
int sim_iommu_domain_set_windows(struct sim_machine *m, int domain_id,
				 uint64_t tr_base, uint64_t tr_size,
				 bool bypass, uint64_t bypass_offset,
				 uint64_t bypass_size);

/*
 * Maps [iova, iova + size) to [phys, phys + size) with prot
 * (DMAMAP_IOMMU_READ / WRITE / PRIV, at least one of READ and WRITE), in
 * the largest supported pages that alignment allows.  All or nothing.
 * -EINVAL (unknown or identity domain, size 0, not 4 KiB aligned, beyond
 * 2^48, bad prot), -EEXIST (some page already mapped), -ENOMEM (no
 * page-table memory).
 */
int sim_iommu_map(struct sim_machine *m, int domain_id, uint64_t iova,
		  uint64_t phys, uint64_t size, unsigned int prot);
/*
 * Unmaps whatever is mapped in [iova, iova + size) (4 KiB aligned), splitting
 * large leaves that stick out; *unmapped (may be NULL) gets the bytes
 * unmapped (holes are not counted: 0 when nothing was mapped).  Leaves
 * the IOTLB alone.  -EINVAL, or -ENOMEM when a split found no table
 * page (what was unmapped before stays unmapped and is counted).
 */
int sim_iommu_unmap(struct sim_machine *m, int domain_id, uint64_t iova,
		    uint64_t size, uint64_t *unmapped);
/*
 * One invalidation command each, costing the IOMMU's inval_cost_ns:
 * iotlb_sync drops the domain's entries overlapping [iova, iova + size)
 * (size > 0, no alignment needed), flush_all all the domain's entries.
 * -EINVAL for an unknown or identity domain or a bad range.
 */
int sim_iommu_iotlb_sync(struct sim_machine *m, int domain_id, uint64_t iova,
			 uint64_t size);
int sim_iommu_flush_all(struct sim_machine *m, int domain_id);
/*
 * Test hook: fn(arg, domain_id) runs at the end of every flush_all, after
 * the IOTLB was emptied and before the call returns to the library (the
 * window in which a flush has happened but its caller has not yet said
 * so).  NULL removes it.  Only one; not for use while DMA runs on other
 * threads.
 */
void sim_iommu_set_flush_hook(struct sim_machine *m, void (*fn)(void *arg, int domain_id),
			      void *arg);

/*
 * What the tables (not the IOTLB) say about iova: 0 with the physical
 * address of that byte, the leaf's prot and size; -ENOENT when unmapped;
 * -EINVAL (unknown or identity domain).  Counts nothing.  Any out pointer
 * may be NULL.
 */
int sim_iommu_iova_to_phys(struct sim_machine *m, int domain_id,
			   uint64_t iova, uint64_t *phys, unsigned int *prot,
			   uint64_t *leaf_size);

struct sim_iommu_domain_info {
	int iommu_id;
	enum sim_iommu_domain_type type;
	unsigned int ndevices;     /* attached now */
	uint64_t root;             /* physical address of the root table; 0 identity */
	uint64_t pt_pages;         /* table pages held now, root included */
	uint64_t mapped_bytes;     /* bytes mapped now */
	/* The windows as last set (all 0: the default; see set_windows). */
	uint64_t tr_base, tr_size;
	bool bypass;
	uint64_t bypass_offset, bypass_size;
};
int sim_iommu_domain_info(struct sim_machine *m, int domain_id,
			  struct sim_iommu_domain_info *out);

struct sim_iommu_stats {
	uint64_t iotlb_hits;       /* page translations served by the IOTLB */
	uint64_t iotlb_misses;     /* ... that needed a walk */
	uint64_t stale_hits;       /* hits through an entry the tables no
				    * longer hold (unmapped or split) */
	uint64_t walks;            /* table walks (one per miss) */
	uint64_t invalidations;    /* iotlb_sync + flush_all commands */
	uint64_t inval_cost_ns;    /* sum of each invalidation's cost */
	uint64_t faults;           /* = faults_unmapped + faults_permission
				    *   + faults_window */
	uint64_t faults_unmapped;
	uint64_t faults_permission;
	uint64_t maps, unmaps;     /* successful calls */
	uint64_t splits;           /* large leaves split by partial unmaps */
	uint64_t pt_pages;         /* table pages held by all its domains */
	uint64_t bypass_accesses;  /* accesses routed through a bypass window */
	uint64_t faults_window;    /* accesses outside every window */
};
int sim_iommu_get_stats(struct sim_machine *m, int iommu_id,
			struct sim_iommu_stats *st);

enum sim_iommu_fault_reason {
	SIM_IOMMU_FAULT_UNMAPPED = 1,   /* no translation (or IOVA >= 2^48) */
	SIM_IOMMU_FAULT_PERMISSION = 2, /* write to read-only, read to write-only */
	SIM_IOMMU_FAULT_OUTSIDE_WINDOW = 3, /* outside every window (or
					     * straddling an edge) */
};

struct sim_iommu_fault {
	const char *device;   /* the device's name; valid while the machine lives */
	int domain_id;
	uint64_t iova;        /* the first blocked byte */
	bool write;
	enum sim_iommu_fault_reason reason;
};

/*
 * The most recent faults of an IOMMU (up to max, newest last); returns
 * how many were copied (0 for an unknown id).
 */
unsigned int sim_iommu_faults(struct sim_machine *m, int iommu_id,
			      struct sim_iommu_fault *out, unsigned int max);

#endif /* DMAMAP_SIM_IOMMU_H */
