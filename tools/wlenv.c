/*
 * tools/wlenv.c - where a workload's bus addresses land (see wlenv.h).
 *
 * Owns: the translation of a bus address back to the OS's physical
 * address, through the device's windows, its IOMMU domain (or bypass) or
 * the hypervisor's p2m, exactly as the simulated device would reach it.
 * Must never include trace.h or workloads.h, call the library, or decide
 * policy: it only asks the simulator where an address goes.
 */
#include "wlenv.h"

#include <dmamap/sim/iommu.h>
#include <dmamap/sim/sim.h>
#include <dmamap/sim/xen.h>

#define WL_PAGE 4096ULL

uint64_t wl_bus_to_phys(const struct wl_env *e, dmamap_dma_addr_t bus)
{
	if (e->iommu_domain) {
		uint64_t phys;
		if (e->bypass && bus >= e->bypass)
			return bus - e->bypass;
		return sim_iommu_iova_to_phys(e->m, e->iommu_domain, bus, &phys, NULL, NULL)
			       ? UINT64_MAX : phys;
	}
	uint64_t at = UINT64_MAX;
	if (!e->nranges)
		at = bus;
	for (unsigned int i = 0; i < e->nranges && at == UINT64_MAX; i++) {
		const struct dmamap_dma_range *r = &e->ranges[i];
		if (bus >= r->dma && bus - r->dma < r->size)
			at = r->cpu + (bus - r->dma);
	}
	/* Under a hypervisor with no IOMMU of its for the device: a machine address. */
	if (at != UINT64_MAX && e->xen && !e->xen_iommu) {
		uint64_t pfn;
		if (sim_xen_m2p(e->xen, at / WL_PAGE, &pfn))
			return UINT64_MAX;
		at = pfn * WL_PAGE + (at & (WL_PAGE - 1));
	}
	return at;
}

bool wl_bounced(const struct wl_env *e, const void *cpu, dmamap_dma_addr_t bus, uint64_t *at)
{
	uint64_t phys = UINT64_MAX, to = wl_bus_to_phys(e, bus);
	sim_cpu_to_phys(e->m, cpu, &phys);
	if (at)
		*at = to;
	return to != phys;
}
