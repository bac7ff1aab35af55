/*
 * sim/sim.h - the simulated machine: hardware side of dmamap.
 *
 * Owns: sparse machine memory, the page allocator with zones, devices with
 * DMA engines, the CPU write-back cache model for non-coherent devices, and
 * a struct dmamap_platform that lets libdmamap run on all of it.
 *
 * Must never decide DMA policy (bounce or not, which backend): that is the
 * library's job.  The simulator only does what hardware and firmware do:
 * it stores bytes, truncates addresses to a device's real width, and tells
 * the library about devices through platform.h.
 *
 * Thread safety: every call may be made from several threads at once.
 */
#ifndef DMAMAP_SIM_H
#define DMAMAP_SIM_H

#include <dmamap/platform.h>

#define SIM_MAX_RAM_RANGES 16
#define SIM_CACHE_LINE 64

/* Zones, as Linux's: below 16 MiB, below 4 GiB, the rest. */
enum sim_zone {
	SIM_ZONE_DMA = 0,
	SIM_ZONE_DMA32 = 1,
	SIM_ZONE_NORMAL = 2,
	SIM_NR_ZONES = 3,
};

struct sim_ram_range {
	uint64_t base; /* 4 KiB aligned */
	uint64_t size; /* 4 KiB multiple, > 0 */
};

struct sim_machine_desc {
	enum dmamap_arch arch;
	unsigned int ncpus;                  /* 0: 1 */
	struct sim_ram_range ram[SIM_MAX_RAM_RANGES];
	unsigned int nram;                   /* ranges sorted, not overlapping */
	uint64_t zone_dma_limit;             /* 0: 16 MiB - 1 */
	/*
	 * The library's clock (platform now_ns) is the machine's own, which
	 * moves only by sim_clock_advance: timeouts (the IOMMU flush queue's
	 * 10 ms) then fall at the same operation on every run.  false: the
	 * host's clock.
	 */
	bool virtual_clock;
};

struct sim_machine;

/*
 * Builds a machine.  Physical addresses up to 2^48 (256 TiB) are modelled;
 * host memory is used only for pages that are touched.  0, -EINVAL (bad
 * ranges; *why says which) or -ENOMEM.
 */
int sim_machine_create(const struct sim_machine_desc *desc,
		       struct sim_machine **out, const char **why);
void sim_machine_destroy(struct sim_machine *m);

/* The platform libdmamap runs on; valid until sim_machine_destroy. */
const struct dmamap_platform *sim_platform(struct sim_machine *m);

/* A virtual_clock machine's clock: moves it on by ns; reads it (ns). */
void sim_clock_advance(struct sim_machine *m, uint64_t ns);
uint64_t sim_clock_now(struct sim_machine *m);

/*
 * A confidential VM's shared memory: the platform's set_decrypted calls,
 * recorded (the model does not encrypt; it says what was asked).
 */
struct sim_cc_stats {
	uint64_t decrypt_calls;   /* set_decrypted(..., true) */
	uint64_t encrypt_calls;   /* set_decrypted(..., false) */
	uint64_t shared_bytes;    /* decrypted now: decrypted less re-encrypted bytes */
	uint64_t last_phys;       /* the latest call */
	uint64_t last_size;
	bool last_decrypted;
};
void sim_cc_get_stats(struct sim_machine *m, struct sim_cc_stats *st);

/* ---- memory --------------------------------------------------------------- */

/* CPU pointer for RAM phys (through the CPU's cache), NULL if not RAM. */
void *sim_phys_to_cpu(struct sim_machine *m, uint64_t phys);
/* 0 or -EFAULT. */
int sim_cpu_to_phys(struct sim_machine *m, const void *cpu, uint64_t *phys);
bool sim_is_ram(struct sim_machine *m, uint64_t phys, uint64_t size);
/* Host bytes actually backing touched pages (resident set of the model). */
uint64_t sim_resident_bytes(struct sim_machine *m);

/*
 * One contiguous CPU mapping of npages scattered RAM pages (4 KiB
 * aligned), an alias of the same memory; sim_cpu_to_phys answers inside
 * it.  NULL on bad pages or no host address space.
 */
void *sim_vmap(struct sim_machine *m, const uint64_t *pages, uint64_t npages);
void sim_vunmap(struct sim_machine *m, void *cpu, uint64_t npages);

/* ---- page allocator ---------------------------------------------------------- */

/*
 * npages contiguous pages, aligned to align_pages (power of two; 0 = 1),
 * lying entirely inside [lo, hi] (hi inclusive).  Takes the highest zone
 * the range allows first and falls back downward, so low memory is used
 * last; within a zone the lowest free address that fits.  0 or -ENOMEM.
 */
int sim_alloc_pages(struct sim_machine *m, uint64_t npages,
		    uint64_t align_pages, uint64_t lo, uint64_t hi,
		    uint64_t *phys);
/* Pages from one zone only. */
int sim_alloc_pages_zone(struct sim_machine *m, enum sim_zone zone,
			 uint64_t npages, uint64_t *phys);
void sim_free_pages(struct sim_machine *m, uint64_t phys, uint64_t npages);
/* Take a range out of the allocator (reserved-memory).  0, -EBUSY, -EINVAL. */
int sim_reserve(struct sim_machine *m, uint64_t phys, uint64_t size);
uint64_t sim_free_bytes(struct sim_machine *m, enum sim_zone zone);
uint64_t sim_zone_end(struct sim_machine *m, enum sim_zone zone); /* last byte */

/* ---- devices ------------------------------------------------------------------- */

struct sim_device_desc {
	const char *name;
	enum dmamap_bus bus;
	unsigned int addr_bits;   /* the DMA engine's real address width, 1..64 */
	bool coherent;            /* snoops CPU caches */
	/* The interconnect's windows (dma-ranges); 0: bus == phys. */
	struct dmamap_dma_range ranges[DMAMAP_MAX_DMA_RANGES];
	unsigned int nranges;
	uint64_t bus_dma_limit;   /* 0: none */
};

struct sim_device;

int sim_device_create(struct sim_machine *m, const struct sim_device_desc *d,
		      struct sim_device **out);
const struct sim_device_desc *sim_device_desc(const struct sim_device *dev);

/*
 * What firmware tells the OS about this device (fills the library's
 * description from the hardware's).  Masks are left 0 (Linux defaults).
 */
void sim_device_firmware_desc(const struct sim_device *dev,
			      struct dmamap_device_desc *out);

/*
 * The device's DMA engine.  The bus address is truncated to addr_bits
 * (the upper bits are simply not wired, as in hardware), translated by the
 * interconnect windows, then memory is accessed: through the cache model
 * when the device is not coherent.  Returns 0, or -EFAULT when any part
 * is not RAM or outside every window (a bus error: nothing is written and
 * a read returns 0xff bytes).  Truncation is not an error to the device:
 * it is recorded as an event.
 *
 * A device attached to a translated IOMMU domain (sim/iommu.h): after
 * truncation and the bus_dma_limit check, the address is an IOVA that the
 * IOMMU translates page by page; its output is the physical address (the
 * dma-ranges windows are not applied, as Linux's iommu-dma never offsets
 * an IOVA).  A blocked access (unmapped, or without the permission) also
 * returns -EFAULT, moves nothing, reads 0xff and counts in iommu_faults.
 * An identity domain is the untranslated path above, windows included.
 * A translated access may also return -ENOMEM (host memory, nothing done).
 */
int sim_dma_read(struct sim_device *dev, uint64_t bus_addr, void *dst,
		 size_t len);
int sim_dma_write(struct sim_device *dev, uint64_t bus_addr, const void *src,
		  size_t len);

enum sim_event_kind {
	SIM_EV_TRUNCATED = 1, /* an address had bits above addr_bits */
	SIM_EV_BUS_ERROR = 2, /* not RAM, or outside every window */
};

struct sim_event {
	enum sim_event_kind kind;
	bool write;
	uint64_t bus_addr;   /* what the driver programmed */
	uint64_t emitted;    /* what the engine put on the bus */
	uint64_t len;
};

struct sim_device_stats {
	uint64_t reads, writes;
	uint64_t bytes_read, bytes_written;
	uint64_t truncated;   /* accesses whose address lost bits */
	uint64_t bus_errors;
	uint64_t iommu_faults; /* accesses the IOMMU blocked (sim/iommu.h) */
};

void sim_device_get_stats(struct sim_device *dev, struct sim_device_stats *st);
/*
 * The most recent events (up to max, newest last); returns how many were
 * copied.  The device keeps the last 64.
 */
unsigned int sim_device_events(struct sim_device *dev, struct sim_event *ev,
			       unsigned int max);

/* ---- the cache model ------------------------------------------------------------- */

/*
 * A write-back CPU cache, per 64-byte line, as seen by non-coherent
 * devices.  The CPU always sees its own writes.  A line enters the model at
 * its first clean or non-coherent device write; from then on, what the CPU
 * writes reaches memory (and a non-coherent device) only through a clean,
 * and a non-coherent device's write reaches the CPU only through an
 * invalidate.  A tracked line the CPU wrote and nobody cleaned stays dirty
 * forever (the adversarial but legal choice), so a missing sync shows up
 * as a wrong byte every time, not sometimes.  An untracked line reads as
 * memory == CPU view.  Uncached ranges bypass the model.
 */
struct sim_cache_stats {
	uint64_t lines_cleaned;
	uint64_t lines_invalidated;
	uint64_t tracked_lines;   /* lines whose memory copy differs in state */
	uint64_t stale_device_reads; /* device read a line with dirty CPU data
				      * not yet cleaned */
};
void sim_cache_get_stats(struct sim_machine *m, struct sim_cache_stats *st);

#endif /* DMAMAP_SIM_H */
