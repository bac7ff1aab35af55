/*
 * sim/platform.c - the simulated machine seen through platform.h.
 *
 * Owns: the struct dmamap_platform the library runs on (the ops table and
 * the facts filled once at machine creation).  Each op is a thin wrapper
 * over the machine's own calls.  Must never decide DMA policy, never call
 * into the library and never include anything from src/.  A bare-metal
 * machine: no hypervisor (hv NULL); guest physical == machine address.
 * Under the hypervisor (xen.c, simi_platform_enable_xen) hv and the Xen
 * facts are filled, and the cache operations go through xen.c, which
 * sends a foreign page's guest address to its storage.
 * The DMA API checker's hooks (debug) state facts only: device.c watches
 * a device's accesses against the live bus ranges the library names,
 * cache.c says which lines hold device writes the CPU has not seen.
 * The clock (now_ns) is the machine's virtual one when it was asked for
 * (sim_clock_advance moves it), else NULL: the host's.
 * IOMMU hooks (iommu) appear once the machine has IOMMU hardware (the
 * first sim_iommu_create): a machine without any says iommu NULL, so the
 * ops table is a per-machine copy of the static one below.
 */
#include <errno.h>

#include "iommu.h"
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
	struct sim_machine *m = plat;
	if (m->xen)
		simi_xen_cache_op(m, phys, size, SIMI_CACHE_CLEAN);
	else
		simi_cache_clean(m, phys, size);
}

static void plat_cache_invalidate(void *plat, dmamap_phys_addr_t phys,
				  uint64_t size)
{
	struct sim_machine *m = plat;
	if (m->xen)
		simi_xen_cache_op(m, phys, size, SIMI_CACHE_INVALIDATE);
	else
		simi_cache_invalidate(m, phys, size);
}

static void plat_set_uncached(void *plat, dmamap_phys_addr_t phys,
			      uint64_t size, bool uncached)
{
	struct sim_machine *m = plat;
	if (m->xen)
		simi_xen_cache_op(m, phys, size, uncached ? SIMI_CACHE_UNCACHED
							  : SIMI_CACHE_CACHED);
	else
		simi_cache_set_uncached(m, phys, size, uncached);
}

/*
 * A confidential VM's shared memory: recorded, not modelled (the machine
 * has no encryption; tests check what the library asked for).
 */
static int plat_set_decrypted(void *plat, dmamap_phys_addr_t phys, uint64_t size,
			      bool decrypted)
{
	struct sim_machine *m = plat;
	if (size == 0 || !sim_phys_to_cpu(m, phys) || !sim_phys_to_cpu(m, phys + size - 1))
		return -EINVAL;
	pthread_mutex_lock(&m->cc_lock);
	if (decrypted) {
		m->cc.decrypt_calls++;
		m->cc.shared_bytes += size;
	} else {
		m->cc.encrypt_calls++;
		m->cc.shared_bytes -= size < m->cc.shared_bytes ? size : m->cc.shared_bytes;
	}
	m->cc.last_phys = phys;
	m->cc.last_size = size;
	m->cc.last_decrypted = decrypted;
	pthread_mutex_unlock(&m->cc_lock);
	return 0;
}

void sim_cc_get_stats(struct sim_machine *m, struct sim_cc_stats *st)
{
	pthread_mutex_lock(&m->cc_lock);
	*st = m->cc;
	pthread_mutex_unlock(&m->cc_lock);
}

static uint64_t plat_iommu_page_sizes(void *plat, int iommu_id)
{
	return sim_iommu_page_sizes(plat, iommu_id);
}

static int plat_iommu_map(void *plat, int domain_id, dmamap_dma_addr_t iova,
			  dmamap_phys_addr_t phys, uint64_t size,
			  unsigned int prot)
{
	return sim_iommu_map(plat, domain_id, iova, phys, size, prot);
}

static int plat_iommu_unmap(void *plat, int domain_id, dmamap_dma_addr_t iova,
			    uint64_t size, uint64_t *unmapped)
{
	return sim_iommu_unmap(plat, domain_id, iova, size, unmapped);
}

static int plat_iommu_iotlb_sync(void *plat, int domain_id,
				 dmamap_dma_addr_t iova, uint64_t size)
{
	return sim_iommu_iotlb_sync(plat, domain_id, iova, size);
}

static int plat_iommu_flush_all(void *plat, int domain_id)
{
	return sim_iommu_flush_all(plat, domain_id);
}

static int plat_iommu_iova_to_phys(void *plat, int domain_id, dmamap_dma_addr_t iova,
				   dmamap_phys_addr_t *phys)
{
	return sim_iommu_iova_to_phys(plat, domain_id, iova, phys, NULL, NULL);
}

static void *plat_vmap(void *plat, const dmamap_phys_addr_t *pages, uint64_t npages)
{
	return sim_vmap(plat, pages, npages);
}

static void plat_vunmap(void *plat, void *cpu, uint64_t npages)
{
	sim_vunmap(plat, cpu, npages);
}

/* ---- facts for the DMA API checker (the library decides what is a bug) ---- */

static void plat_dbg_watch(void *plat, void *hw, bool on)
{
	(void)plat;
	simi_dev_dbg_watch(hw, on);
}

static void plat_dbg_mapping(void *plat, void *hw, dmamap_dma_addr_t dma,
			     uint64_t size, bool live)
{
	(void)plat;
	simi_dev_dbg_mapping(hw, dma, size, live);
}

static unsigned int plat_dbg_strays(void *plat, void *hw,
				    struct dmamap_hw_stray *out, unsigned int max)
{
	(void)plat;
	return simi_dev_dbg_strays(hw, out, max);
}

static uint64_t plat_dbg_cpu_stale(void *plat, dmamap_phys_addr_t phys,
				   uint64_t size, dmamap_phys_addr_t *first)
{
	struct sim_machine *m = plat;
	if (!m->xen)
		return simi_cache_stale_lines(m, phys, size, first);
	/* Under the hypervisor the model is keyed by storage, page by page. */
	uint64_t n = 0, end = phys + size;
	for (uint64_t a = phys; a < end && a >= phys;) {
		uint64_t next = (a & ~SIM_PAGE_MASK) + SIM_PAGE_SIZE;
		uint64_t len = (next < end ? next : end) - a;
		uint64_t f = 0, k;
		k = simi_cache_stale_lines(m, simi_xen_storage_of(m, a), len, &f);
		if (k && !n && first)
			*first = (a & ~SIM_PAGE_MASK) + (f & SIM_PAGE_MASK);
		n += k;
		a = next;
	}
	return n;
}

static const struct dmamap_debug_hw_ops sim_debug_ops = {
	.watch = plat_dbg_watch,
	.mapping = plat_dbg_mapping,
	.strays = plat_dbg_strays,
	.cpu_stale = plat_dbg_cpu_stale,
};

static const struct dmamap_iommu_hw_ops sim_iommu_ops = {
	.page_sizes = plat_iommu_page_sizes,
	.map = plat_iommu_map,
	.unmap = plat_iommu_unmap,
	.iotlb_sync = plat_iommu_iotlb_sync,
	.flush_all = plat_iommu_flush_all,
	.iova_to_phys = plat_iommu_iova_to_phys,
};

static uint64_t plat_now_ns(void *plat)
{
	struct sim_machine *m = plat;
	return atomic_load_explicit(&m->clock_ns, memory_order_relaxed);
}

void sim_clock_advance(struct sim_machine *m, uint64_t ns)
{
	atomic_fetch_add_explicit(&m->clock_ns, ns, memory_order_relaxed);
}

uint64_t sim_clock_now(struct sim_machine *m)
{
	return plat_now_ns(m);
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
	.vmap = plat_vmap,
	.vunmap = plat_vunmap,
	.iommu = NULL, /* simi_platform_enable_iommu */
	.mmio = &simi_mmio_ops,
	.debug = &sim_debug_ops,
	.set_decrypted = plat_set_decrypted,
};

void simi_platform_init(struct sim_machine *m)
{
	simi_iommu_init(m);
	/* Default attributes: glibc's init cannot fail, and the lock has no failure path here. */
	pthread_mutex_init(&m->cc_lock, NULL);
	m->plat_ops = sim_platform_ops;
	/* NULL: the library reads the host's clock. */
	m->plat_ops.now_ns = m->virtual_clock ? plat_now_ns : NULL;
	m->plat = (struct dmamap_platform){
		.ops = &m->plat_ops,
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

/*
 * Firmware fills the hook when it finds IOMMU hardware; the library reads
 * ops once it is given the platform, so IOMMUs are created before that
 * (as firmware describes them before the OS boots).
 */
void simi_platform_enable_iommu(struct sim_machine *m)
{
	m->plat_ops.iommu = &sim_iommu_ops;
}

/*
 * Like the IOMMU hook: filled before the library is given the platform
 * (the hypervisor boots before the OS), never changed afterwards.
 */
void simi_platform_enable_xen(struct sim_machine *m, enum dmamap_xen_mode mode,
			      bool initial_domain, uint32_t features)
{
	m->plat_ops.hv = &simi_xen_hv_ops;
	m->plat.xen_mode = mode;
	m->plat.xen_initial_domain = initial_domain;
	m->plat.xen_features = features;
}

const struct dmamap_platform *sim_platform(struct sim_machine *m)
{
	return &m->plat;
}
