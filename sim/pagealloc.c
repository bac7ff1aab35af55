/*
 * sim/pagealloc.c - the machine's page allocator, with zones.
 *
 * Owns: which RAM pages are free, allocated or reserved, and the zone
 * boundaries (DMA below zone_dma_limit, DMA32 below 4 GiB, NORMAL the
 * rest).  Plays the part of the OS's page allocator for the library
 * (platform alloc_pages) and for tests and workloads.  Must never decide
 * DMA policy and never include anything from src/.
 *
 * Invariants (under pa.lock):
 *   - free memory is a sorted extent list of whole pages (RAM can be
 *     16 TiB, so no bitmaps); an allocation is one carve out of one extent.
 *   - a page is in exactly one of: free, reserved, allocated (neither list).
 *   - free and reserved extents lie inside RAM; since RAM mappings never
 *     touch, a free extent never spans two mappings, so every allocation
 *     is contiguous in the CPU view too.
 *   - an allocation lies inside one zone.
 * A free of pages that are not all allocated (double free, never
 * allocated, reserved, not RAM) changes nothing and is counted in
 * bad_frees: a buggy caller must not corrupt the allocator.
 */
#include <errno.h>

#include "sim_internal.h"

static void set_zones(struct sim_machine *m)
{
	uint64_t dl = m->zone_dma_limit;
	m->zone_lo[SIM_ZONE_DMA] = 0;
	m->zone_hi[SIM_ZONE_DMA] = dl;
	/* Empty (lo > hi) when ZONE_DMA already reaches 4 GiB (arm64). */
	m->zone_lo[SIM_ZONE_DMA32] = dl + 1;
	m->zone_hi[SIM_ZONE_DMA32] = SIM_4G - 1;
	m->zone_lo[SIM_ZONE_NORMAL] = dl + 1 > SIM_4G ? dl + 1 : SIM_4G;
	m->zone_hi[SIM_ZONE_NORMAL] = SIM_PHYS_LIMIT - 1;
}

int simi_pagealloc_init(struct sim_machine *m)
{
	struct simi_pagealloc *pa = &m->pa;
	set_zones(m);
	if (pthread_mutex_init(&pa->lock, NULL))
		return -ENOMEM;
	for (unsigned int i = 0; i < m->nmap; i++) {
		if (simi_ext_add(&pa->free, m->map[i].base, m->map[i].end)) {
			simi_pagealloc_fini(m);
			return -ENOMEM;
		}
	}
	return 0;
}

void simi_pagealloc_fini(struct sim_machine *m)
{
	simi_ext_free(&m->pa.free);
	simi_ext_free(&m->pa.reserved);
	pthread_mutex_destroy(&m->pa.lock);
}

/*
 * First fit at the lowest address: [s, s + bytes) aligned to `align`
 * inside [wlo, whi] (inclusive) and inside one free extent.  Called with
 * pa.lock held.  0 and *phys, or -ENOMEM.  Cost: one binary search, then
 * a walk over extents too small or misaligned for the request (none in
 * the common case).
 */
static int take_first_fit(struct simi_pagealloc *pa, uint64_t wlo,
			  uint64_t whi, uint64_t bytes, uint64_t align,
			  uint64_t *phys)
{
	struct simi_extents *x = &pa->free;
	for (size_t i = simi_ext_find(x, wlo); i < x->n; i++) {
		const struct simi_extent *e = &x->v[i];
		if (e->base > whi)
			break;
		uint64_t s = e->base > wlo ? e->base : wlo;
		s = (s + align - 1) & ~(align - 1); /* < 2^49: no wrap */
		/* Candidates only grow along the list, so past whi is final. */
		if (s > whi)
			break;
		if (s >= e->end || bytes > e->end - s)
			continue; /* too small once aligned; a later one may fit */
		if (bytes - 1 > whi - s)
			break; /* fits the extent, not the window: nor will later */
		if (simi_ext_remove(x, s, s + bytes))
			return -ENOMEM;
		*phys = s;
		return 0;
	}
	return -ENOMEM;
}

int sim_alloc_pages(struct sim_machine *m, uint64_t npages,
		    uint64_t align_pages, uint64_t lo, uint64_t hi,
		    uint64_t *phys)
{
	if (align_pages == 0)
		align_pages = 1;
	if (npages == 0 || (align_pages & (align_pages - 1)) || lo > hi)
		return -EINVAL;
	/* Beyond 2^48 bytes nothing can fit anyway. */
	if (npages > (SIM_PHYS_LIMIT >> SIM_PAGE_SHIFT) ||
	    align_pages > (SIM_PHYS_LIMIT >> SIM_PAGE_SHIFT))
		return -ENOMEM;
	uint64_t bytes = npages << SIM_PAGE_SHIFT;
	uint64_t align = align_pages << SIM_PAGE_SHIFT;

	struct simi_pagealloc *pa = &m->pa;
	int rc = -ENOMEM;
	pthread_mutex_lock(&pa->lock);
	/* Highest zone first: low memory is scarce and used last. */
	for (int z = SIM_ZONE_NORMAL; z >= SIM_ZONE_DMA && rc; z--) {
		uint64_t wlo = lo > m->zone_lo[z] ? lo : m->zone_lo[z];
		uint64_t whi = hi < m->zone_hi[z] ? hi : m->zone_hi[z];
		if (wlo > whi || bytes - 1 > whi - wlo)
			continue;
		rc = take_first_fit(pa, wlo, whi, bytes, align, phys);
	}
	pthread_mutex_unlock(&pa->lock);
	return rc;
}

int sim_alloc_pages_zone(struct sim_machine *m, enum sim_zone zone,
			 uint64_t npages, uint64_t *phys)
{
	if ((unsigned int)zone >= SIM_NR_ZONES)
		return -EINVAL;
	if (m->zone_lo[zone] > m->zone_hi[zone])
		return -ENOMEM; /* an empty zone */
	return sim_alloc_pages(m, npages, 1, m->zone_lo[zone],
			       m->zone_hi[zone], phys);
}

void sim_free_pages(struct sim_machine *m, uint64_t phys, uint64_t npages)
{
	struct simi_pagealloc *pa = &m->pa;
	if (npages == 0)
		return;
	uint64_t bytes = npages << SIM_PAGE_SHIFT;
	bool sane = !(phys & SIM_PAGE_MASK) &&
		    npages <= (SIM_PHYS_LIMIT >> SIM_PAGE_SHIFT) &&
		    simi_mapping_of(m, phys, bytes);
	pthread_mutex_lock(&pa->lock);
	if (!sane || simi_ext_intersects(&pa->free, phys, phys + bytes) ||
	    simi_ext_intersects(&pa->reserved, phys, phys + bytes)) {
		pa->bad_frees++;
		pthread_mutex_unlock(&pa->lock);
		return;
	}
	/*
	 * Drop the cache model's state while the pages are still ours: once
	 * they are on the free list another thread may allocate and use them,
	 * and reused memory must not inherit stale shadows or uncached marks.
	 */
	simi_cache_forget(m, phys, bytes);
	if (simi_ext_add(&pa->free, phys, phys + bytes))
		pa->lost_bytes += bytes; /* no host memory: leak, stay consistent */
	pthread_mutex_unlock(&pa->lock);
}

int sim_reserve(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	if (size == 0 || phys >= SIM_PHYS_LIMIT || size > SIM_PHYS_LIMIT - phys)
		return -EINVAL;
	/* Reserved memory is page granular: round outward. */
	uint64_t base = phys & ~SIM_PAGE_MASK;
	uint64_t end = (phys + size + SIM_PAGE_MASK) & ~SIM_PAGE_MASK;
	if (!simi_mapping_of(m, base, end - base))
		return -EINVAL;
	struct simi_pagealloc *pa = &m->pa;
	int rc = -EBUSY;
	pthread_mutex_lock(&pa->lock);
	/* Free pages are all inside one extent only if none is taken. */
	if (simi_ext_contains(&pa->free, base, end)) {
		rc = -ENOMEM;
		if (!simi_ext_add(&pa->reserved, base, end)) {
			if (!simi_ext_remove(&pa->free, base, end))
				rc = 0;
			else
				simi_ext_remove(&pa->reserved, base, end);
		}
	}
	pthread_mutex_unlock(&pa->lock);
	return rc;
}

uint64_t sim_free_bytes(struct sim_machine *m, enum sim_zone zone)
{
	if ((unsigned int)zone >= SIM_NR_ZONES)
		return 0;
	uint64_t zlo = m->zone_lo[zone], zend = m->zone_hi[zone] + 1;
	uint64_t sum = 0;
	struct simi_pagealloc *pa = &m->pa;
	pthread_mutex_lock(&pa->lock);
	const struct simi_extents *x = &pa->free;
	for (size_t i = simi_ext_find(x, zlo); i < x->n && x->v[i].base < zend;
	     i++) {
		uint64_t b = x->v[i].base > zlo ? x->v[i].base : zlo;
		uint64_t e = x->v[i].end < zend ? x->v[i].end : zend;
		if (e > b)
			sum += e - b;
	}
	pthread_mutex_unlock(&pa->lock);
	return sum;
}

/*
 * The last byte of the zone's address span (not of RAM in it): DMA ends at
 * zone_dma_limit, DMA32 at 4 GiB - 1 (or where DMA ends when DMA32 is
 * empty), NORMAL at 2^48 - 1.
 */
uint64_t sim_zone_end(struct sim_machine *m, enum sim_zone zone)
{
	switch (zone) {
	case SIM_ZONE_DMA:
		return m->zone_hi[SIM_ZONE_DMA];
	case SIM_ZONE_DMA32:
		return m->zone_lo[SIM_ZONE_DMA32] > m->zone_hi[SIM_ZONE_DMA32]
			       ? m->zone_hi[SIM_ZONE_DMA]
			       : m->zone_hi[SIM_ZONE_DMA32];
	default:
		return m->zone_hi[SIM_ZONE_NORMAL];
	}
}
