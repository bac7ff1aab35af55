/*
 * src/mapping.c - the dispatcher: the one place that validates a driver's
 * call, picks the device's backend, calls it and counts.
 *
 * Owns: every driver-API entry point of dma.h except masks/parameters
 * (core.c) and DMA pools (pool.c); scatterlist helpers.  Must never
 * decide whether to bounce (direct.c) or manage slots (swiotlb.c).
 *
 * Fast path: a device with ops == NULL calls dma-direct directly (as
 * Linux's dma_map_direct), with no indirect call.
 *
 * The DMA API checker (debug.c) is called after the backend, only when
 * dev->debug is set: one predictable branch per call when it is off.
 */
#include "backend.h"
#include "dma-debug.h"
#include "exhaustion.h"

#include <stdlib.h>
#include <string.h>

static inline bool dm_valid_dir(enum dmamap_data_direction dir)
{
	return (unsigned int)dir <= DMAMAP_FROM_DEVICE;
}

/* Says what is wrong with a call dm_bad_call refused (out of line). */
static __attribute__((noinline, cold)) void dm_bad_call_report(struct dmamap_device *dev,
							       const char *fn,
							       enum dmamap_data_direction dir,
							       size_t size)
{
	if (!dev)
		return;
	if (!dm_valid_dir(dir))
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: %s with invalid direction %d",
		       dev->name, fn, (int)dir);
	else if (size == 0)
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: %s of 0 bytes", dev->name, fn);
}

/*
 * A call with no device, an invalid direction or 0 bytes: reported (but
 * for a missing device), never crashes.  Inline, the three tests OR-ed
 * into one branch; the message is written out of line.
 */
static inline __attribute__((always_inline)) bool
dm_bad_call(struct dmamap_device *dev, const char *fn, enum dmamap_data_direction dir,
	    size_t size)
{
	if (dm_likely((dev != NULL) & dm_valid_dir(dir) & (size != 0)))
		return false;
	dm_bad_call_report(dev, fn, dir, size);
	return true;
}

/*
 * A streaming map must lie in RAM: one that runs past its end would hand
 * the device an address beyond it on a path that does not bounce (Linux's
 * dma_direct_map_phys checks only the mask).  One compare on the hot path.
 */
static inline bool dm_past_ram(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size)
{
	dmamap_phys_addr_t end = dev->ctx->plat.max_ram_end;
	if (dm_likely(phys <= end && size - 1 <= end - phys))
		return false;
	dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: map of 0x%llx+%zu runs past the end of RAM (0x%llx): refused",
	       dev->name, (unsigned long long)phys, size, (unsigned long long)end);
	return true;
}

static __attribute__((noinline)) void dm_count_map_slow(struct dmamap_device *dev,
							 dmamap_dma_addr_t a, size_t size)
{
	struct dm_pcpu_stats *st = dm_dev_stats(dev);
	if (a != DMAMAP_MAPPING_ERROR) {
		dm_stat_add(&st->opened, 1);
		dm_stat_add(&st->bytes_mapped, size);
	} else {
		dm_stat_add(&st->map_failures, 1);
	}
}

/* A map counted: in the thread's own slot, plain adds; else out of line. */
static inline void dm_count_map(struct dmamap_device *dev, dmamap_dma_addr_t a,
				size_t size)
{
	struct dm_pcpu_stats *st = dm_own_stats(dev);
	if (dm_likely(st != NULL && a != DMAMAP_MAPPING_ERROR)) {
		dm_own_add(&st->opened, 1);
		dm_own_add(&st->bytes_mapped, size);
		return;
	}
	dm_count_map_slow(dev, a, size);
}

static __attribute__((noinline)) void dm_count_unmap_slow(struct dmamap_device *dev, int rc)
{
	dm_stat_add(dm_likely(!rc) ? &dm_dev_stats(dev)->closed : &dm_dev_stats(dev)->refused, 1);
}

/* An unmap counted; a refused one closed nothing (live_mappings must not wrap). */
static inline void dm_count_unmap(struct dmamap_device *dev, int rc)
{
	struct dm_pcpu_stats *st = dm_own_stats(dev);
	if (dm_likely(st != NULL && !rc)) {
		dm_own_add(&st->closed, 1);
		return;
	}
	dm_count_unmap_slow(dev, rc);
}

/*
 * The checker's origin of a single map or unmap (struct dm_site: the
 * macro's "file:line" or the caller's return address) is taken in the
 * public entry point and handed to the general path, so it is the
 * driver's; with the checker off its only trace on the general path is
 * one predictable branch on dev->debug.
 */
#define DM_INLINE static inline __attribute__((always_inline))

/*
 * The single map: validate, call the backend, apply the exhaustion policy
 * on its failure, count, tell the checker.  call: a per-call policy (the
 * wait and deferred forms), NULL for the device's.  0 and *dma, or a
 * negative errno with *dma = DMAMAP_MAPPING_ERROR.  The general path: the
 * public entry points take it (out of line, below) for whatever their
 * fast path does not handle, passing the driver's call site.
 */
DM_INLINE int dm_map_phys_body(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			       enum dmamap_data_direction dir, unsigned long attrs,
			       enum dm_dbg_type type, const void *cpu, struct dm_site site,
			       const struct dm_ex_call *call, dmamap_dma_addr_t *dma)
{
	*dma = DMAMAP_MAPPING_ERROR;
	if (dm_bad_call(dev, "map", dir, size) || dm_unlikely(dm_past_ram(dev, phys, size))) {
		if (dev)
			dm_stat_add(&dm_dev_stats(dev)->map_failures, 1);
		return -EINVAL;
	}
	dmamap_dma_addr_t a = DMAMAP_MAPPING_ERROR;
	int err = dm_backend_map_phys(dev, phys, size, dir, attrs, &a);
	/* Out of bounce slots, quota or IOVAs: the exhaustion policy (exhaust.c). */
	if (dm_unlikely(err))
		a = dm_exhaust_map_failed(dev, phys, size, dir, attrs, err, call, &err);
	dm_count_map(dev, a, size);
	if (dm_unlikely(dev->debug))
		dm_debug_map(dev, type, cpu, phys, true, size, dir, attrs, a, site);
	*dma = a;
	return err;
}

DM_INLINE void dm_unmap_body(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			     enum dmamap_data_direction dir, unsigned long attrs,
			     enum dm_dbg_type type, struct dm_site site)
{
	if (dm_bad_call(dev, "unmap", dir, size))
		return;
	if (dm_unlikely(addr == DMAMAP_MAPPING_ERROR)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: unmap of DMAMAP_MAPPING_ERROR",
		       dev->name);
		if (dev->debug)
			dm_debug_unmap(dev, type, addr, size, dir, site);
		return;
	}
	/*
	 * The checker knows every live mapping: one it does not know (stale,
	 * double, another size) is refused before the backend sees it, on
	 * every backend (dma-direct and the IOMMU cannot tell by themselves).
	 */
	int rc = -EINVAL;
	if (dm_likely(!dev->debug) || dm_debug_unmap(dev, type, addr, size, dir, site))
		rc = dm_backend_unmap_phys(dev, addr, size, dir, attrs);
	dm_count_unmap(dev, rc);
}

DM_INLINE int dm_map_single_body(struct dmamap_device *dev, void *cpu, size_t size,
				 enum dmamap_data_direction dir, unsigned long attrs,
				 enum dm_dbg_type type, struct dm_site site,
				 const struct dm_ex_call *call, dmamap_dma_addr_t *dma)
{
	dmamap_phys_addr_t phys;
	*dma = DMAMAP_MAPPING_ERROR;
	if (dm_unlikely(!dev))
		return -EINVAL;
	if (dm_unlikely(dm_virt_to_phys(dev->ctx, cpu, &phys))) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR,
		       "%s: map_single of %p: not in RAM's linear map (stack or foreign memory?)",
		       dev->name, cpu);
		dm_stat_add(&dm_dev_stats(dev)->map_failures, 1);
		if (dev->debug)
			dm_debug_map(dev, type, cpu, 0, false, size, dir, attrs,
				     DMAMAP_MAPPING_ERROR, site);
		return -EINVAL;
	}
	return dm_map_phys_body(dev, phys, size, dir, attrs, type, cpu, site, call, dma);
}

int dm_map_call(struct dmamap_device *dev, void *cpu, dmamap_phys_addr_t phys, size_t size,
		enum dmamap_data_direction dir, unsigned long attrs,
		const struct dm_ex_call *call, dmamap_dma_addr_t *dma)
{
	struct dm_site site = DM_SITE(NULL);
	if (cpu)
		return dm_map_single_body(dev, cpu, size, dir, attrs, DM_DBG_SINGLE, site, call, dma);
	return dm_map_phys_body(dev, phys, size, dir, attrs, DM_DBG_PHYS, NULL, site, call, dma);
}

/*
 * The general path of each public entry point, out of line, with at most
 * six arguments (the call type is in the name; the _at forms pass their
 * origin for attrs, which they do not take): the fast path's fallback is
 * then a tail call, and the fast path saves no registers.  pc: the
 * driver's return address (the checker's origin when there is no "file:line").
 */
#define DM_SLOW __attribute__((noinline)) static
#define DM_SLOW_MAP(name, type)                                                            \
	DM_SLOW dmamap_dma_addr_t name(struct dmamap_device *dev, void *cpu, size_t size,   \
				       enum dmamap_data_direction dir, unsigned long attrs, \
				       const void *pc)                                      \
	{                                                                                  \
		dmamap_dma_addr_t a;                                                       \
		dm_map_single_body(dev, cpu, size, dir, attrs, type,                       \
				   (struct dm_site){ NULL, pc }, NULL, &a);                \
		return a;                                                                  \
	}
#define DM_SLOW_MAP_AT(name, type)                                                         \
	DM_SLOW dmamap_dma_addr_t name(struct dmamap_device *dev, void *cpu, size_t size,   \
				       enum dmamap_data_direction dir, const char *where,   \
				       const void *pc)                                      \
	{                                                                                  \
		dmamap_dma_addr_t a;                                                       \
		dm_map_single_body(dev, cpu, size, dir, 0, type, (struct dm_site){ where, pc }, \
				   NULL, &a);                                              \
		return a;                                                                  \
	}
DM_SLOW_MAP(dm_slow_map_single, DM_DBG_SINGLE)
DM_SLOW_MAP_AT(dm_slow_map_single_at, DM_DBG_SINGLE)
DM_SLOW_MAP(dm_slow_map_page, DM_DBG_PAGE)
DM_SLOW_MAP_AT(dm_slow_map_page_at, DM_DBG_PAGE)
DM_SLOW dmamap_dma_addr_t dm_slow_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys,
					   size_t size, enum dmamap_data_direction dir,
					   unsigned long attrs, const void *pc)
{
	dmamap_dma_addr_t a;
	dm_map_phys_body(dev, phys, size, dir, attrs, DM_DBG_PHYS, NULL,
			 (struct dm_site){ NULL, pc }, NULL, &a);
	return a;
}
#define DM_SLOW_UNMAP(name, type)                                                          \
	DM_SLOW void name(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,  \
			  enum dmamap_data_direction dir, unsigned long attrs, const void *pc) \
	{                                                                                  \
		dm_unmap_body(dev, addr, size, dir, attrs, type, (struct dm_site){ NULL, pc }); \
	}
DM_SLOW_UNMAP(dm_slow_unmap_single, DM_DBG_SINGLE)
DM_SLOW_UNMAP(dm_slow_unmap_page, DM_DBG_PAGE)
DM_SLOW_UNMAP(dm_slow_unmap_phys, DM_DBG_PHYS)

/*
 * The fast paths (Linux's dma_map_page_attrs with dma_map_direct and
 * dma_direct_map_phys inline): a device whose dev->direct_plain says it
 * is plain dma-direct (no ops, not forced to bounce, no dma-ranges,
 * coherent, no checker: attrs then change nothing) mapping a buffer
 * inside RAM that it can reach, counted by a thread that owns its counter
 * slot: the bus address is the physical address, one capable check, two
 * plain counter adds.  Everything else, errors included, goes to the
 * general path above, which answers these calls the same way: the fast
 * paths are a subset of it, never a different answer.  Nothing on the
 * way is a call.
 */

/* Valid arguments: a device, a direction, a size. */
DM_INLINE bool dm_args_ok(const struct dmamap_device *dev, enum dmamap_data_direction dir,
			  size_t size)
{
	return dev && dm_valid_dir(dir) && size;
}

/* True (and *dma) when the fast path mapped [phys, phys + size); size > 0. */
DM_INLINE bool dm_map_fast(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			   dmamap_dma_addr_t *dma)
{
	dmamap_phys_addr_t end = dev->ctx->fast_ram_end; /* below MAPPING_ERROR */
	if (!dev->direct_plain || !(phys <= end && size - 1 <= end - phys) ||
	    !(phys + (size - 1) <= dev->direct_limit))
		return false;
	struct dm_pcpu_stats *st = dm_own_stats(dev);
	if (dm_unlikely(!st))
		return false;
	dm_own_add(&st->opened, 1);
	dm_own_add(&st->bytes_mapped, size);
	*dma = phys;
	return true;
}

/* A CPU pointer in the largest linear range (the one tried inline). */
DM_INLINE bool dm_map_fast_cpu(struct dmamap_device *dev, const void *cpu, size_t size,
			       dmamap_dma_addr_t *dma)
{
	const struct dmamap_ctx *ctx = dev->ctx;
	uintptr_t p = (uintptr_t)cpu;
	if (dm_unlikely(ctx->nlin == 0))
		return false;
	const struct dmamap_linear_range *r = &ctx->lin[0];
	return dm_likely(p - (uintptr_t)r->cpu < r->size) &&
	       dm_map_fast(dev, r->phys + (p - (uintptr_t)r->cpu), size, dma);
}

/* True when the fast path unmapped addr: a plain device's, not a bounce slot. */
DM_INLINE bool dm_unmap_fast(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			     enum dmamap_data_direction dir)
{
	if (!dm_args_ok(dev, dir, size) || addr == DMAMAP_MAPPING_ERROR || !dev->direct_plain ||
	    dm_swiotlb_maybe_contains(dev->swiotlb, addr))
		return false;
	struct dm_pcpu_stats *st = dm_own_stats(dev);
	if (dm_unlikely(!st))
		return false;
	dm_own_add(&st->closed, 1); /* dm_direct_unmap_inline: nothing else to do */
	return true;
}

#define DM_PC __builtin_return_address(0)

dmamap_dma_addr_t dmamap_map_phys(struct dmamap_device *dev, dmamap_phys_addr_t phys,
				  size_t size, enum dmamap_data_direction dir,
				  unsigned long attrs)
{
	dmamap_dma_addr_t a;
	if (dm_likely(dm_args_ok(dev, dir, size) && dm_map_fast(dev, phys, size, &a)))
		return a;
	return dm_slow_map_phys(dev, phys, size, dir, attrs, DM_PC);
}

void dmamap_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
		       enum dmamap_data_direction dir, unsigned long attrs)
{
	if (dm_likely(dm_unmap_fast(dev, addr, size, dir)))
		return;
	dm_slow_unmap_phys(dev, addr, size, dir, attrs, DM_PC);
}

dmamap_dma_addr_t dmamap_map_single_attrs(struct dmamap_device *dev, void *cpu,
					  size_t size, enum dmamap_data_direction dir,
					  unsigned long attrs)
{
	dmamap_dma_addr_t a;
	if (dm_likely(dm_args_ok(dev, dir, size) && dm_map_fast_cpu(dev, cpu, size, &a)))
		return a;
	return dm_slow_map_single(dev, cpu, size, dir, attrs, DM_PC);
}

dmamap_dma_addr_t dmamap_map_single_at(struct dmamap_device *dev, void *cpu,
				       size_t size, enum dmamap_data_direction dir,
				       const char *origin)
{
	dmamap_dma_addr_t a;
	if (dm_likely(dm_args_ok(dev, dir, size) && dm_map_fast_cpu(dev, cpu, size, &a)))
		return a;
	return dm_slow_map_single_at(dev, cpu, size, dir, origin, DM_PC);
}

void dmamap_unmap_single_attrs(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			       size_t size, enum dmamap_data_direction dir,
			       unsigned long attrs)
{
	if (dm_likely(dm_unmap_fast(dev, addr, size, dir)))
		return;
	dm_slow_unmap_single(dev, addr, size, dir, attrs, DM_PC);
}

dmamap_dma_addr_t dmamap_map_page_attrs(struct dmamap_device *dev,
					struct dmamap_page *page, size_t offset,
					size_t size, enum dmamap_data_direction dir,
					unsigned long attrs)
{
	void *cpu = (char *)dmamap_page_address(page) + offset;
	dmamap_dma_addr_t a;
	if (dm_likely(dm_args_ok(dev, dir, size) && dm_map_fast_cpu(dev, cpu, size, &a)))
		return a;
	return dm_slow_map_page(dev, cpu, size, dir, attrs, DM_PC);
}

dmamap_dma_addr_t dmamap_map_page_at(struct dmamap_device *dev,
				     struct dmamap_page *page, size_t offset,
				     size_t size, enum dmamap_data_direction dir,
				     const char *origin)
{
	void *cpu = (char *)dmamap_page_address(page) + offset;
	dmamap_dma_addr_t a;
	if (dm_likely(dm_args_ok(dev, dir, size) && dm_map_fast_cpu(dev, cpu, size, &a)))
		return a;
	return dm_slow_map_page_at(dev, cpu, size, dir, origin, DM_PC);
}

void dmamap_unmap_page_attrs(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			     size_t size, enum dmamap_data_direction dir,
			     unsigned long attrs)
{
	if (dm_likely(dm_unmap_fast(dev, addr, size, dir)))
		return;
	dm_slow_unmap_page(dev, addr, size, dir, attrs, DM_PC);
}

dmamap_dma_addr_t dmamap_map_resource(struct dmamap_device *dev, dmamap_phys_addr_t phys,
				      size_t size, enum dmamap_data_direction dir,
				      unsigned long attrs)
{
	if (dm_bad_call(dev, "map_resource", dir, size))
		return DMAMAP_MAPPING_ERROR;
	if (dm_phys_is_ram(dev->ctx, phys, size)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR,
		       "%s: map_resource of RAM 0x%llx+%zu: use map_phys/map_single",
		       dev->name, (unsigned long long)phys, size);
		dm_stat_add(&dm_dev_stats(dev)->map_failures, 1);
		return DMAMAP_MAPPING_ERROR;
	}
	dmamap_dma_addr_t a = DMAMAP_MAPPING_ERROR;
	if (!dev->ops || !dev->ops->map_resource)
		dm_direct_map_resource(dev, phys, size, dir, attrs, &a);
	else
		dev->ops->map_resource(dev, phys, size, dir, attrs, &a);
	dm_count_map(dev, a, size);
	if (dm_unlikely(dev->debug))
		dm_debug_map(dev, DM_DBG_RESOURCE, NULL, phys, true, size, dir, attrs,
			     a, DM_SITE(NULL));
	return a;
}

void dmamap_unmap_resource(struct dmamap_device *dev, dmamap_dma_addr_t addr, size_t size,
			   enum dmamap_data_direction dir, unsigned long attrs)
{
	if (dm_bad_call(dev, "unmap_resource", dir, size))
		return;
	if (dev->ops && dev->ops->unmap_resource)
		dev->ops->unmap_resource(dev, addr, size, dir, attrs);
	dm_stat_add(&dm_dev_stats(dev)->closed, 1);
	if (dm_unlikely(dev->debug))
		dm_debug_unmap(dev, DM_DBG_RESOURCE, addr, size, dir, DM_SITE(NULL));
}

int dmamap_mapping_error(struct dmamap_device *dev, dmamap_dma_addr_t addr)
{
	if (addr == DMAMAP_MAPPING_ERROR)
		return -ENOMEM;
	if (dev && dm_unlikely(dev->debug)) /* the checker: it was checked */
		dm_debug_mapping_error(dev, addr);
	return 0;
}

/* ---- scatterlists ---------------------------------------------------------- */

void dmamap_sg_init_table(struct dmamap_sg *sg, unsigned int nents)
{
	if (!sg || nents == 0)
		return;
	memset(sg, 0, nents * sizeof(*sg));
	sg[nents - 1].flags = DMAMAP_SG_END;
}

void dmamap_sg_set_buf(struct dmamap_sg *sg, void *buf, unsigned int len)
{
	sg->cpu = buf;
	sg->length = len;
}

void dmamap_sg_set_page(struct dmamap_sg *sg, struct dmamap_page *page,
			unsigned int len, unsigned int offset)
{
	sg->cpu = (char *)dmamap_page_address(page) + offset;
	sg->length = len;
}

void dmamap_sg_init_one(struct dmamap_sg *sg, void *buf, unsigned int len)
{
	dmamap_sg_init_table(sg, 1);
	dmamap_sg_set_buf(sg, buf, len);
}

struct dmamap_sg *dmamap_sg_next(struct dmamap_sg *sg)
{
	return (!sg || (sg->flags & DMAMAP_SG_END)) ? NULL : sg + 1;
}

int dmamap_sg_alloc_table(struct dmamap_sg_table *sgt, unsigned int nents)
{
	if (!sgt || nents == 0)
		return -EINVAL;
	sgt->sgl = calloc(nents, sizeof(*sgt->sgl));
	if (!sgt->sgl)
		return -ENOMEM;
	dmamap_sg_init_table(sgt->sgl, nents);
	sgt->orig_nents = nents;
	sgt->nents = 0;
	return 0;
}

void dmamap_sg_free_table(struct dmamap_sg_table *sgt)
{
	if (!sgt)
		return;
	free(sgt->sgl);
	sgt->sgl = NULL;
	sgt->nents = sgt->orig_nents = 0;
}

/* The list must have nents entries and no zero-length segment. */
static int dm_check_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		       enum dmamap_data_direction dir)
{
	if (!dev)
		return -EINVAL;
	if (!sg || nents <= 0 || !dm_valid_dir(dir)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: map_sg with %s", dev->name,
		       !sg ? "no list" : nents <= 0 ? "no entries" : "an invalid direction");
		return -EINVAL;
	}
	for (int i = 0; i < nents; i++) {
		if (sg[i].length == 0 || !sg[i].cpu) {
			dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: map_sg entry %d is empty",
			       dev->name, i);
			return -EINVAL;
		}
		if ((sg[i].flags & DMAMAP_SG_END) && i != nents - 1) {
			dm_log(dev->ctx, DMAMAP_LOG_ERR,
			       "%s: map_sg of %d entries but entry %d ends the list",
			       dev->name, nents, i);
			return -EINVAL;
		}
	}
	return 0;
}

DM_INLINE int dm_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			enum dmamap_data_direction dir, unsigned long attrs,
			const char *where)
{
	int rc = dm_check_sg(dev, sg, nents, dir);
	/* Every entry lies in RAM (one outside its linear map the backend reports). */
	for (int i = 0; !rc && i < nents; i++) {
		dmamap_phys_addr_t phys;
		if (!dm_virt_to_phys(dev->ctx, sg[i].cpu, &phys) &&
		    dm_unlikely(dm_past_ram(dev, phys, sg[i].length)))
			rc = -EINVAL;
	}
	if (rc) {
		if (dev)
			dm_stat_add(&dm_dev_stats(dev)->map_failures, 1);
		return rc;
	}
	if (dm_likely(!dev->ops))
		rc = dm_direct_map_sg(dev, sg, nents, dir, attrs);
	else
		rc = dev->ops->map_sg(dev, sg, nents, dir, attrs);
	struct dm_pcpu_stats *st = dm_dev_stats(dev);
	if (rc > 0) {
		uint64_t bytes = 0;
		for (int i = 0; i < nents; i++)
			bytes += sg[i].length;
		dm_stat_add(&st->sg_extra, (uint64_t)nents - 1);
		dm_stat_add(&st->bytes_mapped, bytes);
		dm_stat_add(&st->opened, 1);
	} else {
		dm_stat_add(&st->map_failures, 1); /* lists fail at once: no policy */
	}
	if (dm_unlikely(dev->debug))
		dm_debug_map_sg(dev, sg, nents, rc, dir, attrs, DM_SITE(where));
	return rc;
}

int dmamap_map_sg_attrs(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			enum dmamap_data_direction dir, unsigned long attrs)
{
	int rc = dm_map_sg(dev, sg, nents, dir, attrs, NULL);
	return rc > 0 ? rc : 0;
}

int dmamap_map_sg_at(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		     enum dmamap_data_direction dir, const char *origin)
{
	int rc = dm_map_sg(dev, sg, nents, dir, 0, origin);
	return rc > 0 ? rc : 0;
}

DM_INLINE void dm_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			   enum dmamap_data_direction dir, unsigned long attrs)
{
	if (dm_check_sg(dev, sg, nents, dir))
		return;
	if (dm_likely(!dev->ops))
		dm_direct_unmap_sg(dev, sg, nents, dir, attrs);
	else
		dev->ops->unmap_sg(dev, sg, nents, dir, attrs);
	dm_stat_add(&dm_dev_stats(dev)->closed, 1);
	if (dm_unlikely(dev->debug))
		dm_debug_unmap_sg(dev, sg, nents, dir, DM_SITE(NULL));
}

void dmamap_unmap_sg_attrs(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			   enum dmamap_data_direction dir, unsigned long attrs)
{
	dm_unmap_sg(dev, sg, nents, dir, attrs);
}

int dmamap_map_sgtable(struct dmamap_device *dev, struct dmamap_sg_table *sgt,
		       enum dmamap_data_direction dir, unsigned long attrs)
{
	if (!sgt || sgt->orig_nents == 0 || sgt->orig_nents > INT32_MAX)
		return -EINVAL;
	int rc = dm_map_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, attrs, NULL);
	if (rc < 0)
		return rc;
	sgt->nents = (unsigned int)rc;
	return 0;
}

void dmamap_unmap_sgtable(struct dmamap_device *dev, struct dmamap_sg_table *sgt,
			  enum dmamap_data_direction dir, unsigned long attrs)
{
	if (sgt)
		dm_unmap_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, attrs);
}

/* ---- syncs -------------------------------------------------------------------- */

/* One sync; `check`: the checker looks at it (sg syncs check the list once). */
DM_INLINE void dm_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			       size_t size, enum dmamap_data_direction dir, bool check)
{
	if (dm_bad_call(dev, "sync_for_cpu", dir, size))
		return;
	if (dm_likely(!dev->ops))
		dm_direct_sync_for_cpu(dev, addr, size, dir);
	else
		dev->ops->sync_for_cpu(dev, addr, size, dir);
	if (dm_unlikely(dev->debug) && check)
		dm_debug_sync(dev, addr, size, dir, true, DM_SITE(NULL));
}

DM_INLINE void dm_sync_for_device(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				  size_t size, enum dmamap_data_direction dir, bool check)
{
	if (dm_bad_call(dev, "sync_for_device", dir, size))
		return;
	if (dm_likely(!dev->ops))
		dm_direct_sync_for_device(dev, addr, size, dir);
	else
		dev->ops->sync_for_device(dev, addr, size, dir);
	if (dm_unlikely(dev->debug) && check)
		dm_debug_sync(dev, addr, size, dir, false, DM_SITE(NULL));
}

void dmamap_sync_single_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				size_t size, enum dmamap_data_direction dir)
{
	dm_sync_for_cpu(dev, addr, size, dir, true);
}

void dmamap_sync_single_for_device(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				   size_t size, enum dmamap_data_direction dir)
{
	dm_sync_for_device(dev, addr, size, dir, true);
}

void dmamap_sync_single_range_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
				      size_t offset, size_t size,
				      enum dmamap_data_direction dir)
{
	dm_sync_for_cpu(dev, addr + offset, size, dir, true);
}

void dmamap_sync_single_range_for_device(struct dmamap_device *dev,
					 dmamap_dma_addr_t addr, size_t offset,
					 size_t size, enum dmamap_data_direction dir)
{
	dm_sync_for_device(dev, addr + offset, size, dir, true);
}

/*
 * Syncs walk the CPU entries (nents as passed to map): every bus segment
 * a backend produced covers whole CPU entries, and dma-direct keeps one
 * bus segment per entry.
 */
DM_INLINE void dm_sync_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			  enum dmamap_data_direction dir, bool for_cpu)
{
	if (dm_check_sg(dev, sg, nents, dir))
		return;
	for (int i = 0; i < nents; i++) {
		if (!sg[i].dma_length)
			continue;
		if (for_cpu)
			dm_sync_for_cpu(dev, sg[i].dma_address, sg[i].dma_length, dir, false);
		else
			dm_sync_for_device(dev, sg[i].dma_address, sg[i].dma_length, dir,
					   false);
	}
	if (dm_unlikely(dev->debug))
		dm_debug_sync_sg(dev, sg, nents, dir, for_cpu, DM_SITE(NULL));
}

void dmamap_sync_sg_for_cpu(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			    enum dmamap_data_direction dir)
{
	dm_sync_sg(dev, sg, nents, dir, true);
}

void dmamap_sync_sg_for_device(struct dmamap_device *dev, struct dmamap_sg *sg,
			       int nents, enum dmamap_data_direction dir)
{
	dm_sync_sg(dev, sg, nents, dir, false);
}

void dmamap_sync_sgtable_for_cpu(struct dmamap_device *dev, struct dmamap_sg_table *sgt,
				 enum dmamap_data_direction dir)
{
	if (sgt)
		dm_sync_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, true);
}

void dmamap_sync_sgtable_for_device(struct dmamap_device *dev,
				    struct dmamap_sg_table *sgt,
				    enum dmamap_data_direction dir)
{
	if (sgt)
		dm_sync_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, false);
}

/* ---- allocations ----------------------------------------------------------------- */

/*
 * A device's live allocations, keyed by handle: a free must name one, with
 * its size and CPU address, or it is refused (a double free, or a free of
 * someone else's memory, would hand pages or IOVAs that are in use to the
 * next allocation; Linux relies on dma-debug here).  Allocations are a slow
 * path: an open-addressing table under the device's mutex, grown at half
 * full.  Key 0 is an empty slot, DM_ALLOC_GONE a removed one.
 */
#define DM_ALLOC_GONE (~(dmamap_dma_addr_t)0)
struct dm_live_alloc {
	dmamap_dma_addr_t key;  /* handle + 1 */
	size_t size;
	void *cpu;
};
struct dm_live_allocs {
	pthread_mutex_t lock;
	size_t cap, used;       /* used counts removed slots too, until a rebuild */
	struct dm_live_alloc *e;
};

static struct dm_live_alloc *dm_allocs_find(struct dm_live_allocs *t, dmamap_dma_addr_t key)
{
	for (size_t i = (size_t)(key >> 12) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (t->e[i].key == key)
			return &t->e[i];
		if (t->e[i].key == 0)
			return NULL;
	}
}

/* Rebuilds t at cap slots without the removed ones.  0 or -ENOMEM. */
static int dm_allocs_rebuild(struct dm_live_allocs *t, size_t cap)
{
	struct dm_live_alloc *e = calloc(cap, sizeof(*e));
	if (!e)
		return -ENOMEM;
	struct dm_live_alloc *old = t->e;
	size_t ocap = t->cap;
	t->e = e;
	t->cap = cap;
	t->used = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].key == 0 || old[i].key == DM_ALLOC_GONE)
			continue;
		size_t j = (size_t)(old[i].key >> 12) & (cap - 1);
		while (e[j].key)
			j = (j + 1) & (cap - 1);
		e[j] = old[i];
		t->used++;
	}
	free(old);
	return 0;
}

/* Records a new allocation.  0 or -ENOMEM (then the caller frees it). */
static int dm_allocs_add(struct dmamap_device *dev, dmamap_dma_addr_t handle, size_t size,
			 void *cpu)
{
	struct dm_live_allocs *t = atomic_load_explicit(&dev->allocs, memory_order_acquire);
	if (!t) {
		/* The first allocation makes the table; ctx->lock orders two firsts. */
		pthread_mutex_lock(&dev->ctx->lock);
		t = atomic_load_explicit(&dev->allocs, memory_order_relaxed);
		if (!t && (t = calloc(1, sizeof(*t))) != NULL) {
			pthread_mutex_init(&t->lock, NULL);
			if (dm_allocs_rebuild(t, 64)) {
				pthread_mutex_destroy(&t->lock);
				free(t);
				t = NULL;
			} else {
				atomic_store_explicit(&dev->allocs, t, memory_order_release);
			}
		}
		pthread_mutex_unlock(&dev->ctx->lock);
		if (!t)
			return -ENOMEM;
	}
	pthread_mutex_lock(&t->lock);
	int rc = 0;
	if ((t->used + 1) * 2 > t->cap)
		rc = dm_allocs_rebuild(t, t->used * 4 > t->cap ? t->cap * 2 : t->cap);
	if (!rc) {
		dmamap_dma_addr_t key = handle + 1;
		size_t i = (size_t)(key >> 12) & (t->cap - 1);
		while (t->e[i].key != 0 && t->e[i].key != DM_ALLOC_GONE)
			i = (i + 1) & (t->cap - 1);
		if (t->e[i].key == 0)
			t->used++;
		t->e[i] = (struct dm_live_alloc){ key, size, cpu };
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/*
 * Takes the record of the allocation a free names.  False, with a line,
 * when there is none of that handle, size and CPU address.
 */
static bool dm_allocs_take(struct dmamap_device *dev, dmamap_dma_addr_t handle, size_t size,
			   void *cpu)
{
	struct dm_live_allocs *t = atomic_load_explicit(&dev->allocs, memory_order_acquire);
	struct dm_live_alloc *a = NULL;
	bool ok = false;
	if (t) {
		pthread_mutex_lock(&t->lock);
		a = dm_allocs_find(t, handle + 1);
		ok = a && a->size == size && a->cpu == cpu;
		if (ok)
			a->key = DM_ALLOC_GONE;
		pthread_mutex_unlock(&t->lock);
	}
	if (!ok)
		dm_log(dev->ctx, DMAMAP_LOG_ERR,
		       "%s: free of %p+%zu with handle 0x%llx refused: %s", dev->name, cpu, size,
		       (unsigned long long)handle,
		       a ? "the allocation has another size or CPU address"
			 : "no live allocation of this device has that handle (a double free?)");
	return ok;
}

void dm_live_allocs_fini(struct dmamap_device *dev)
{
	struct dm_live_allocs *t = atomic_load_explicit(&dev->allocs, memory_order_relaxed);
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	free(t);
	atomic_store_explicit(&dev->allocs, NULL, memory_order_relaxed);
}

static void dm_backend_free(struct dmamap_device *dev, size_t size, void *cpu,
			    dmamap_dma_addr_t handle, unsigned long attrs, bool coherent_mapping)
{
	if (dev->ops && dev->ops->free)
		dev->ops->free(dev, size, cpu, handle, attrs);
	else
		dm_direct_free(dev, size, cpu, handle, attrs, coherent_mapping);
}

DM_INLINE void *dm_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
			 unsigned long attrs, bool coherent_mapping, enum dm_dbg_type type,
			 enum dmamap_data_direction dir, const char *where)
{
	if (!dev || !handle || size == 0) {
		if (dev)
			dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: allocation of %zu bytes%s",
			       dev->name, size, handle ? "" : " without a handle");
		return NULL;
	}
	*handle = DMAMAP_MAPPING_ERROR;
	void *cpu = dev->ops && dev->ops->alloc
			    ? dev->ops->alloc(dev, size, handle, attrs)
			    : dm_direct_alloc(dev, size, handle, attrs, coherent_mapping);
	if (cpu && dm_allocs_add(dev, *handle, size, cpu)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: no memory to record an allocation of %zu bytes",
		       dev->name, size);
		dm_backend_free(dev, size, cpu, *handle, attrs, coherent_mapping);
		*handle = DMAMAP_MAPPING_ERROR;
		cpu = NULL;
	}
	if (cpu) {
		struct dm_pcpu_stats *st = dm_dev_stats(dev);
		dm_stat_add(&st->coherent_allocs, 1);
		dm_stat_add(&st->coherent_bytes, size);
		dm_stat_add(&st->opened, 1);
	}
	if (dm_unlikely(dev->debug))
		dm_debug_alloc(dev, type, cpu, size, *handle, dir, DM_SITE(where));
	return cpu;
}

/*
 * The allocation a free names must be live, with that size and CPU
 * address; its record is taken, and from here the free goes ahead.
 */
static bool dm_free_ok(struct dmamap_device *dev, void *cpu, dmamap_dma_addr_t handle,
		       size_t size)
{
	if (!dev || !cpu || size == 0)
		return false;
	return dm_allocs_take(dev, handle, size, cpu);
}

/* A free: checked, told to the checker, done or refused, counted. */
static void dm_free(struct dmamap_device *dev, size_t size, void *cpu, dmamap_dma_addr_t handle,
		    unsigned long attrs, bool coherent_mapping, enum dm_dbg_type type,
		    enum dmamap_data_direction dir)
{
	bool ok = dm_free_ok(dev, cpu, handle, size);
	if (dev && dm_unlikely(dev->debug))
		dm_debug_free(dev, type, cpu, size, handle, dir, ok, DM_SITE(NULL));
	if (!dev)
		return;
	if (!ok) {
		/* Nothing was freed: live_mappings must not drop. */
		dm_stat_add(&dm_dev_stats(dev)->refused, 1);
		return;
	}
	dm_backend_free(dev, size, cpu, handle, attrs, coherent_mapping);
	dm_stat_add(&dm_dev_stats(dev)->closed, 1);
}

void *dmamap_alloc_attrs(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
			 unsigned long attrs)
{
	return dm_alloc(dev, size, handle, attrs, true, DM_DBG_COHERENT,
			DMAMAP_BIDIRECTIONAL, NULL);
}

void *dmamap_alloc_coherent_at(struct dmamap_device *dev, size_t size,
			       dmamap_dma_addr_t *handle, const char *origin)
{
	return dm_alloc(dev, size, handle, 0, true, DM_DBG_COHERENT,
			DMAMAP_BIDIRECTIONAL, origin);
}

void dmamap_free_attrs(struct dmamap_device *dev, size_t size, void *cpu,
		       dmamap_dma_addr_t handle, unsigned long attrs)
{
	dm_free(dev, size, cpu, handle, attrs, true, DM_DBG_COHERENT, DMAMAP_BIDIRECTIONAL);
}

void *dmamap_alloc_noncoherent(struct dmamap_device *dev, size_t size,
			       dmamap_dma_addr_t *handle, enum dmamap_data_direction dir)
{
	if (dev && !dm_valid_dir(dir))
		return NULL;
	/* Backends with their own alloc give coherent memory, which is also valid. */
	if (dev && dev->ops && dev->ops->alloc)
		return dm_alloc(dev, size, handle, 0, true, DM_DBG_NONCOHERENT, dir, NULL);
	return dm_alloc(dev, size, handle, 0, false, DM_DBG_NONCOHERENT, dir, NULL);
}

void dmamap_free_noncoherent(struct dmamap_device *dev, size_t size, void *cpu,
			     dmamap_dma_addr_t handle, enum dmamap_data_direction dir)
{
	dm_free(dev, size, cpu, handle, 0, false, DM_DBG_NONCOHERENT, dir);
}
