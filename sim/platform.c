/*
 * sim/platform.c - the simulated machine seen through platform.h.
 *
 * Owns: the struct dmamap_platform the library runs on (the ops table and
 * the facts filled once at machine creation).  Each op is a thin wrapper
 * over the machine's own calls.  Must never decide DMA policy, never call
 * into the library and never include anything from src/.  A bare-metal
 * machine: no hypervisor (hv NULL), no IOMMU hardware (iommu NULL);
 * guest physical == machine address.
 */
#include <errno.h>

#include "sim_internal.h"

static void *plat_phys_to_virt(void *plat, dmamap_phys_addr_t phys)
{
	return sim_phys_to_cpu(plat, phys);
}

static int plat_virt_to_phys(void *plat, const void *cpu,
			     dmamap_phys_addr_t *phys)
{
	return sim_cpu_to_phys(plat, cpu, phys);
}

static bool plat_phys_is_ram(void *plat, dmamap_phys_addr_t phys,
			     uint64_t size)
{
	return sim_is_ram(plat, phys, size);
}

static int plat_alloc_pages(void *plat, uint64_t npages, uint64_t align_pages,
			    dmamap_phys_addr_t limit, dmamap_phys_addr_t *phys)
{
	/* The zone allocator already prefers the highest zone under limit. */
	int rc = sim_alloc_pages(plat, npages, align_pages, 0, limit, phys);
	return rc ? -ENOMEM : 0;
}

static void plat_free_pages(void *plat, dmamap_phys_addr_t phys,
			    uint64_t npages)
{
	sim_free_pages(plat, phys, npages);
}

static void plat_cache_clean(void *plat, dmamap_phys_addr_t phys,
			     uint64_t size)
{
	simi_cache_clean(plat, phys, size);
}

static void plat_cache_invalidate(void *plat, dmamap_phys_addr_t phys,
				  uint64_t size)
{
	simi_cache_invalidate(plat, phys, size);
}

static void plat_set_uncached(void *plat, dmamap_phys_addr_t phys,
			      uint64_t size, bool uncached)
{
	simi_cache_set_uncached(plat, phys, size, uncached);
}

static const struct dmamap_platform_ops sim_platform_ops = {
	.phys_to_virt = plat_phys_to_virt,
	.virt_to_phys = plat_virt_to_phys,
	.phys_is_ram = plat_phys_is_ram,
	.alloc_pages = plat_alloc_pages,
	.free_pages = plat_free_pages,
	.cache_clean = plat_cache_clean,
	.cache_invalidate = plat_cache_invalidate,
	.set_uncached = plat_set_uncached,
	.hv = NULL,
	.iommu = NULL,
};

void simi_platform_init(struct sim_machine *m)
{
	m->plat = (struct dmamap_platform){
		.ops = &sim_platform_ops,
		.priv = m,
		.arch = m->arch,
		.ncpus = m->ncpus,
		.max_ram_end = m->ram_end - 1,
		.total_ram = m->total_ram,
		.zone_dma_limit = m->zone_dma_limit,
		.linear = m->linear,
		.nlinear = m->nmap,
	};
}

const struct dmamap_platform *sim_platform(struct sim_machine *m)
{
	return &m->plat;
}
