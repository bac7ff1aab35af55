/*
 * src/policy.c - which backend a device gets, and why.
 *
 * Owns: the decision, made when a mask is set (never when one is merely
 * queried: seed 004), and its one-line reason.  Must never map, copy or
 * touch memory: mechanism lives in the backends.
 *
 * Invariant: after dm_policy_select, dev->direct_limit is
 * min_not_zero(dma_mask, bus_dma_limit), the limit every dma-direct
 * capable check uses.
 */
#include "backend.h"
#include "dma-iommu.h"
#include "swiotlb.h"
#include "swiotlb-xen.h"

#include <stdio.h>
#include <string.h>

static unsigned int dm_mask_bits(uint64_t mask)
{
	unsigned int n = 0;
	while (n < 64 && (mask >> n))
		n++;
	return n;
}

/*
 * True unless some RAM range the platform lists lies (partly) outside
 * every dma-ranges window: then buffers there bounce however wide the
 * mask, and the reason must say so.  Without a RAM list, assume covered.
 */
static bool dm_windows_cover_ram(const struct dmamap_device *dev)
{
	const struct dmamap_platform *p = &dev->ctx->plat;
	for (unsigned int i = 0; dev->nranges && i < p->nlinear; i++) {
		dmamap_phys_addr_t at = p->linear[i].phys;
		dmamap_phys_addr_t end = at + p->linear[i].size; /* exclusive; sizes > 0 */
		while (at < end) {
			const struct dmamap_dma_range *w = NULL;
			for (unsigned int k = 0; k < dev->nranges; k++)
				if (at >= dev->ranges[k].cpu &&
				    at - dev->ranges[k].cpu < dev->ranges[k].size)
					w = &dev->ranges[k];
			if (!w)
				return false;
			dmamap_phys_addr_t wlast = w->cpu + (w->size - 1);
			if (wlast >= end - 1)
				break;
			at = wlast + 1;
		}
	}
	return true;
}

static uint64_t dm_set_direct_limit(struct dmamap_device *dev)
{
	uint64_t limit = dev->dma_mask;
	if (dev->bus_dma_limit && dev->bus_dma_limit < limit)
		limit = dev->bus_dma_limit;
	dev->direct_limit = limit;
	dev->ops = NULL;
	return limit;
}

/* The choice without a hypervisor (or one whose IOMMU covers the device). */
static void dm_policy_native(struct dmamap_device *dev)
{
	struct dmamap_ctx *ctx = dev->ctx;
	uint64_t limit = dm_set_direct_limit(dev);

	if (dev->iommu) {
		dm_iommu_select(dev);
		return;
	}
	uint64_t required = dm_direct_required_mask(dev);
	unsigned int bits = dm_mask_bits(dev->dma_mask);
	const char *limiter = dev->bus_dma_limit && dev->bus_dma_limit < dev->dma_mask
				      ? "bus limit" : "mask";

	if (dev->restricted) {
		dev->force_bounce = true;
		dev->ops_name = "swiotlb";
		snprintf(dev->reason, sizeof(dev->reason),
			 "restricted-dma-pool: every mapping and coherent allocation uses the device's own pool");
		return;
	}
	if (dev->swiotlb && dm_swiotlb_is_force(dev->swiotlb)) {
		dev->force_bounce = true;
		dev->ops_name = "swiotlb";
		snprintf(dev->reason, sizeof(dev->reason),
			 "swiotlb=force%s: every mapping bounces",
			 ctx->cfg.cc_guest ? " (confidential VM)" : "");
		return;
	}
	dev->force_bounce = false;
	dev->ops_name = "direct";
	if (!dm_windows_cover_ram(dev))
		snprintf(dev->reason, sizeof(dev->reason),
			 "dma-ranges windows cover only part of RAM: buffers outside them %s",
			 dev->swiotlb ? "bounce through swiotlb" : "fail to map (swiotlb is off)");
	else if (limit >= required)
		snprintf(dev->reason, sizeof(dev->reason),
			 "%u-bit mask reaches all RAM (required mask 0x%llx): nothing bounces",
			 bits, (unsigned long long)required);
	else if (dev->swiotlb)
		snprintf(dev->reason, sizeof(dev->reason),
			 "%s 0x%llx is below RAM's top (required 0x%llx): buffers beyond it bounce through swiotlb",
			 limiter, (unsigned long long)limit, (unsigned long long)required);
	else
		snprintf(dev->reason, sizeof(dev->reason),
			 "%s 0x%llx is below RAM's top (required 0x%llx) and swiotlb is off: maps beyond it fail",
			 limiter, (unsigned long long)limit, (unsigned long long)required);
}

static void dm_policy_choose(struct dmamap_device *dev)
{
	const char *prefix = "";
	dm_set_direct_limit(dev);
	if (dev->ctx->xen && dm_xen_select(dev, &prefix))
		return;
	dm_policy_native(dev);
	if (*prefix) {
		char tail[DM_REASON_LEN];
		memcpy(tail, dev->reason, sizeof(tail));
		snprintf(dev->reason, sizeof(dev->reason), "%.200s%.180s", prefix, tail);
	}
}

/* The choice, then the dispatcher's fast-path flag derived from it. */
void dm_policy_select(struct dmamap_device *dev)
{
	dm_policy_choose(dev);
	dm_dev_refresh_plain(dev);
}
