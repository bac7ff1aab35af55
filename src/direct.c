/*
 * src/direct.c - dma-direct: bus address = phys translated by dma-ranges.
 *
 * Owns: the capable check, the decision to bounce (policy of the mapping,
 * as Linux's direct.h), cache maintenance for non-coherent devices, and
 * coherent / non-coherent allocations from the page allocator.  Must never
 * manage bounce slots itself (swiotlb.c does) and never bounce non-RAM.
 *
 * A mapping bounces when the device is forced to (restricted pool,
 * swiotlb=force) or when [dma, dma + size) is not capable: beyond
 * min(mask, bus limit) or outside every dma-ranges window.  With no pool,
 * that mapping fails instead.
 */
#include "backend.h"
#include "swiotlb.h"

#include <stdint.h>
#include <string.h>

/* The slow path: bounce (Linux's dma_direct_map_phys calling swiotlb_map). */
int dm_direct_bounce(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			    enum dmamap_data_direction dir, unsigned long attrs,
			    dmamap_dma_addr_t *dma)
{
	struct dmamap_ctx *ctx = dev->ctx;
	if (dev->swiotlb && !dm_phys_is_ram(ctx, phys, size)) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: 0x%llx+%zu is not RAM: refusing to bounce MMIO",
		       dev->name, (unsigned long long)phys, size);
		return -EIO;
	}
	dmamap_phys_addr_t tlb;
	/* Its reach: dm_reach_direct, this file's capable check, inline there. */
	int rc = dm_swiotlb_map_direct(dev, phys, size, dir, attrs,
				       dev->force_bounce ? "forced" : "DMA address overflow",
				       &tlb, dma);
	if (rc)
		return rc;
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC))
		dm_cache_for_device(ctx, tlb, size);
	return 0;
}

void dm_direct_sync_for_cpu(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			    size_t size, enum dmamap_data_direction dir)
{
	dmamap_phys_addr_t phys = dm_dma_to_phys(dev, addr);
	if (!dev->coherent)
		dm_cache_for_cpu(dev->ctx, phys, size, dir);
	if (dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys))
		dm_swiotlb_sync_for_cpu(dev, dev->swiotlb, phys, size, dir);
}

void dm_direct_sync_for_device(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			       size_t size, enum dmamap_data_direction dir)
{
	dmamap_phys_addr_t phys = dm_dma_to_phys(dev, addr);
	if (dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys))
		dm_swiotlb_sync_for_device(dev, dev->swiotlb, phys, size, dir);
	if (!dev->coherent)
		dm_cache_for_device(dev->ctx, phys, size);
}

int dm_direct_unmap_phys(struct dmamap_device *dev, dmamap_dma_addr_t addr,
			 size_t size, enum dmamap_data_direction dir,
			 unsigned long attrs)
{
	return dm_direct_unmap_inline(dev, addr, size, dir, attrs);
}

int dm_direct_unmap_bounced(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			    enum dmamap_data_direction dir, unsigned long attrs)
{
	/*
	 * Bounced.  The slot's cache lines go before the copy back, and only
	 * for a live mapping of this device: a stale or double unmap must not
	 * touch someone else's slot.  dm_swiotlb_tbl_unmap checks, copies
	 * back (unless SKIP_CPU_SYNC) and releases, or refuses.
	 */
	if (!dev->coherent && !(attrs & DMAMAP_ATTR_SKIP_CPU_SYNC)) {
		if (dm_unlikely(!dm_swiotlb_unmap_ok(dev, dev->swiotlb, phys, size)))
			return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
		dm_cache_for_cpu(dev->ctx, phys, size, dir);
	}
	return dm_swiotlb_tbl_unmap(dev, dev->swiotlb, phys, size, dir, attrs);
}

int dm_direct_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		     enum dmamap_data_direction dir, unsigned long attrs)
{
	struct dmamap_ctx *ctx = dev->ctx;
	int i, err = -EIO;
	for (i = 0; i < nents; i++) {
		dmamap_phys_addr_t phys;
		if (dm_virt_to_phys(ctx, sg[i].cpu, &phys)) {
			err = -EINVAL;
			dm_log(ctx, DMAMAP_LOG_ERR, "%s: sg entry %d: %p is not RAM",
			       dev->name, i, sg[i].cpu);
			goto undo;
		}
		err = dm_direct_map_phys(dev, phys, sg[i].length, dir, attrs, &sg[i].dma_address);
		if (err)
			goto undo;
		sg[i].dma_length = sg[i].length;
	}
	return nents;
undo:
	while (--i >= 0)
		dm_direct_unmap_phys(dev, sg[i].dma_address, sg[i].dma_length, dir,
				     attrs | DMAMAP_ATTR_SKIP_CPU_SYNC);
	return err;
}

void dm_direct_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
			enum dmamap_data_direction dir, unsigned long attrs)
{
	for (int i = 0; i < nents; i++)
		dm_direct_unmap_phys(dev, sg[i].dma_address, sg[i].dma_length, dir, attrs);
}

int dm_direct_map_resource(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			   enum dmamap_data_direction dir, unsigned long attrs,
			   dmamap_dma_addr_t *dma)
{
	(void)dir;
	(void)attrs;
	/* MMIO is never bounced and, as in Linux, not translated by dma-ranges. */
	uint64_t end = phys + (size ? size - 1 : 0);
	if (end < phys || end > dev->direct_limit) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR,
		       "%s: MMIO 0x%llx+%zu is beyond the device's reach (limit 0x%llx); MMIO is never bounced",
		       dev->name, (unsigned long long)phys, size,
		       (unsigned long long)dev->direct_limit);
		return -EIO;
	}
	*dma = phys;
	return 0;
}

/* ---- limits ----------------------------------------------------------------- */

/* Highest bus address RAM has for this device. */
static dmamap_dma_addr_t dm_max_ram_dma(const struct dmamap_device *dev)
{
	dmamap_phys_addr_t top = dev->ctx->plat.max_ram_end;
	dmamap_dma_addr_t dma = dm_phys_to_dma(dev, top);
	if (dma != DMAMAP_MAPPING_ERROR)
		return dma;
	/* RAM's top is outside every window: the highest window end is needed. */
	dmamap_dma_addr_t best = 0;
	for (unsigned int i = 0; i < dev->nranges; i++) {
		uint64_t e = dev->ranges[i].dma + dev->ranges[i].size - 1;
		if (e > best)
			best = e;
	}
	return best;
}

static uint64_t dm_mask_covering(uint64_t v)
{
	unsigned int n = 0;
	while (n < 64 && (v >> n))
		n++;
	return DMAMAP_BIT_MASK(n ? n : 1);
}

uint64_t dm_direct_required_mask(struct dmamap_device *dev)
{
	return dm_mask_covering(dm_max_ram_dma(dev));
}

int dm_direct_supported(struct dmamap_device *dev, uint64_t mask)
{
	/*
	 * Linux's rule: 32-bit masks are always satisfiable (ZONE_DMA32 or an
	 * IOMMU); narrower ones only if they reach the top of the DMA zone
	 * (or all of RAM when it is smaller).
	 */
	if (mask >= DMAMAP_BIT_MASK(32))
		return 1;
	const struct dmamap_platform *p = &dev->ctx->plat;
	dmamap_phys_addr_t min_mask = p->max_ram_end & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
	if (p->zone_dma_limit && p->zone_dma_limit < min_mask)
		min_mask = p->zone_dma_limit;
	dmamap_dma_addr_t need = dm_phys_to_dma(dev, min_mask);
	if (need == DMAMAP_MAPPING_ERROR)
		need = min_mask;
	return mask >= need;
}

size_t dm_direct_max_mapping_size(struct dmamap_device *dev)
{
	if (dev->swiotlb &&
	    (dev->force_bounce || dev->direct_limit < dm_direct_required_mask(dev)))
		return dm_swiotlb_max_mapping_size(dev);
	return SIZE_MAX;
}

/* ---- allocations ------------------------------------------------------------- */

static uint64_t dm_order_pages(uint64_t npages)
{
	uint64_t a = 1;
	while (a < npages)
		a <<= 1;
	return a;
}

/*
 * Pages for a coherent-mask-limited allocation: the zone the limit allows
 * first, then lower zones when the result is not reachable (Linux's
 * dma_direct_alloc retry).
 */
static int dm_alloc_reachable(struct dmamap_device *dev, uint64_t npages,
			      uint64_t coh_limit, dmamap_phys_addr_t *out)
{
	const struct dmamap_platform *p = &dev->ctx->plat;
	dmamap_phys_addr_t plim = dm_phys_limit(dev, coh_limit);
	dmamap_phys_addr_t zdma = p->zone_dma_limit ? p->zone_dma_limit : (16ULL << 20) - 1;
	dmamap_phys_addr_t ladder[3];
	unsigned int n = 0;
	if (plim > DM_SZ_4G - 1)
		ladder[n++] = plim;
	if (plim > zdma)
		ladder[n++] = plim < DM_SZ_4G - 1 ? plim : DM_SZ_4G - 1;
	ladder[n++] = plim < zdma ? plim : zdma;
	uint64_t align = dm_order_pages(npages);
	if (align > 1024)
		align = 1024; /* capped at 4 MiB, the buddy allocator's largest order */
	for (unsigned int i = 0; i < n; i++) {
		dmamap_phys_addr_t phys;
		if (p->ops->alloc_pages(p->priv, npages, align, ladder[i], &phys))
			continue;
		if (dm_capable(dev, dm_phys_to_dma(dev, phys), npages << DMAMAP_PAGE_SHIFT,
			       coh_limit)) {
			*out = phys;
			return 0;
		}
		p->ops->free_pages(p->priv, phys, npages);
	}
	return -ENOMEM;
}

void *dm_direct_alloc(struct dmamap_device *dev, size_t size, dmamap_dma_addr_t *handle,
		      unsigned long attrs, bool coherent_mapping)
{
	struct dmamap_ctx *ctx = dev->ctx;
	const struct dmamap_platform_ops *ops = ctx->plat.ops;
	(void)attrs;
	if (size == 0)
		return NULL;
	bool uncached = coherent_mapping && !dev->coherent;
	if (uncached && !ops->set_uncached) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "%s: coherent allocation for a non-coherent device needs uncached mappings, which the platform lacks",
		       dev->name);
		return NULL;
	}
	/*
	 * Linux's force_dma_unencrypted: a confidential VM's device reads
	 * only memory shared with the host, so its coherent memory is made
	 * shared (dma_set_decrypted); a restricted pool already is.
	 */
	bool share = ctx->cfg.cc_guest && !dev->restricted;
	if (share && !ops->set_decrypted) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "%s: a confidential VM's coherent memory must be shared with the host, which the platform cannot do",
		       dev->name);
		return NULL;
	}
	uint64_t npages = (size + DMAMAP_PAGE_SIZE - 1) >> DMAMAP_PAGE_SHIFT;
	dmamap_phys_addr_t phys;
	uint64_t lim = dev->coherent_dma_mask;
	if (dev->bus_dma_limit && dev->bus_dma_limit < lim)
		lim = dev->bus_dma_limit;
	if (dev->restricted) {
		uint64_t bytes = npages << DMAMAP_PAGE_SHIFT;
		void *cpu = dm_swiotlb_alloc(dev, dev->swiotlb, bytes, &phys);
		if (!cpu)
			return NULL;
		/*
		 * Linux's dma_coherent_ok: the pool's block must be reachable
		 * through the coherent mask and the windows, or the device
		 * would be handed an address it truncates (or none at all).
		 */
		if (!dm_capable(dev, dm_phys_to_dma(dev, phys), bytes, lim)) {
			dm_swiotlb_free(dev, dev->swiotlb, phys, bytes);
			dm_log(ctx, DMAMAP_LOG_ERR,
			       "%s: restricted pool memory at 0x%llx is beyond the coherent mask 0x%llx or outside the device's windows",
			       dev->name, (unsigned long long)phys, (unsigned long long)lim);
			return NULL;
		}
	} else if (dm_alloc_reachable(dev, npages, lim, &phys)) {
		return NULL;
	} else if (share &&
		   ops->set_decrypted(ctx->plat.priv, phys, npages << DMAMAP_PAGE_SHIFT, true)) {
		/* Linux's dma_direct_alloc: refused conversion, the pages are still private. */
		ops->free_pages(ctx->plat.priv, phys, npages);
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: coherent memory 0x%llx+0x%llx could not be shared with the host",
		       dev->name, (unsigned long long)phys,
		       (unsigned long long)(npages << DMAMAP_PAGE_SHIFT));
		return NULL;
	}
	/* Zeroed after the conversion, which leaves the contents undefined. */
	void *cpu = dm_phys_to_virt(ctx, phys);
	memset(cpu, 0, npages << DMAMAP_PAGE_SHIFT);
	if (uncached) {
		/* Write the zeroes back and drop the lines before going uncached. */
		dm_cache_for_device(ctx, phys, npages << DMAMAP_PAGE_SHIFT);
		ops->set_uncached(ctx->plat.priv, phys, npages << DMAMAP_PAGE_SHIFT, true);
	}
	*handle = dm_phys_to_dma(dev, phys);
	return cpu;
}

void dm_direct_free(struct dmamap_device *dev, size_t size, void *cpu,
		    dmamap_dma_addr_t handle, unsigned long attrs, bool coherent_mapping)
{
	struct dmamap_ctx *ctx = dev->ctx;
	(void)attrs;
	(void)cpu;
	uint64_t npages = (size + DMAMAP_PAGE_SIZE - 1) >> DMAMAP_PAGE_SHIFT;
	dmamap_phys_addr_t phys = dm_dma_to_phys(dev, handle);
	if (coherent_mapping && !dev->coherent)
		ctx->plat.ops->set_uncached(ctx->plat.priv, phys, npages << DMAMAP_PAGE_SHIFT,
					    false);
	if (dev->restricted &&
	    dm_swiotlb_free(dev, dev->swiotlb, phys, npages << DMAMAP_PAGE_SHIFT))
		return;
	if (ctx->cfg.cc_guest && ctx->plat.ops->set_decrypted &&
	    ctx->plat.ops->set_decrypted(ctx->plat.priv, phys, npages << DMAMAP_PAGE_SHIFT, false)) {
		/* Linux's dma_direct_free: memory still shared is leaked, never reused as private. */
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: coherent memory 0x%llx+0x%llx could not be made private again: leaked",
		       dev->name, (unsigned long long)phys,
		       (unsigned long long)(npages << DMAMAP_PAGE_SHIFT));
		return;
	}
	ctx->plat.ops->free_pages(ctx->plat.priv, phys, npages);
}
