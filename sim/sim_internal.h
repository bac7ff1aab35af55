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
 * Lock order (outer first): page allocator lock -> cache lock.  A device
 * lock is never held while taking another lock.  No lock is held while
 * calling outside the simulator.
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
 * offset is the machine address.
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

	struct dmamap_linear_range linear[SIM_MAX_RAM_RANGES];
	struct dmamap_platform plat;
};

struct sim_device {
	struct sim_machine *m;           /* immutable */
	struct sim_device *next;         /* m->dev_lock */
	struct sim_device_desc desc;     /* immutable; desc.name is owned */

	pthread_mutex_t lock;            /* guards the fields below */
	struct sim_device_stats st;
	struct sim_event ev[SIM_DEV_EVENTS]; /* ring */
	uint64_t nev;                    /* events ever recorded */
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

/* ---- device.c -------------------------------------------------------------- */

void simi_devices_fini(struct sim_machine *m);

/* ---- platform.c ------------------------------------------------------------- */

void simi_platform_init(struct sim_machine *m);

#endif /* DMAMAP_SIM_INTERNAL_H */
