/*
 * kit/kit.c - the driver test kit (see kit.h): a simulated machine and a
 * checked libdmamap context, wired to the Linux names of linux-compat.h.
 *
 * Owns: the kit's machine, context, bound devices and allocations.  Uses
 * the library and the simulator through their public headers only; never
 * includes anything from src/ and never decides policy.
 */
#include "kit.h"

#include <string.h>

#include <dmamap/iomap.h>

#include <dmamap/sim/dt.h>
#include <dmamap/sim/iommu.h>

#define KIT_MAX_DEVS 16
#define KIT_MAX_ALLOCS 4096
#define GIB (1ULL << 30)

struct kit_dev {
	struct device *dev;
	struct sim_device *hw;
	int domain;
};

struct kit_alloc {
	void *cpu;
	uint64_t phys, npages;
};

struct dmamap_kit {
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	struct sim_dt *dt;
	int iommu;
	bool high;
	struct kit_dev devs[KIT_MAX_DEVS];
	struct kit_alloc allocs[KIT_MAX_ALLOCS];
	unsigned int nallocs;
	struct dmamap_linux_hooks hooks;
};

/* kmalloc and the hooks have no device argument: the kit made last. */
static struct dmamap_kit *kit_current;

static int kit_v2p(void *priv, const void *cpu, phys_addr_t *phys)
{
	struct dmamap_kit *kit = priv;
	uint64_t p;
	if (sim_cpu_to_phys(kit->m, cpu, &p))
		return -EFAULT;
	*phys = p;
	return 0;
}

static void *kit_p2v(void *priv, phys_addr_t phys)
{
	return sim_phys_to_cpu(((struct dmamap_kit *)priv)->m, phys);
}

static void kit_barrier(void *priv, int kind)
{
	struct dmamap_kit *kit = priv;
	if (kind == 'w')
		dmamap_wmb(kit->ctx);
	else if (kind == 'r')
		dmamap_rmb(kit->ctx);
	else
		dmamap_mb(kit->ctx);
}

/*
 * A CPU read of a DMA buffer: asked of each bound device (the checker
 * looks for that device's mappings), stopping at the first report so
 * one read gives at most one, as dmamap_debug_cpu_access promises.
 */
static void kit_cpu_read(void *priv, const void *cpu, size_t len)
{
	struct dmamap_kit *kit = priv;
	for (unsigned int i = 0; i < KIT_MAX_DEVS; i++)
		if (kit->devs[i].dev && dmamap_debug_cpu_access(kit->devs[i].dev->dmamap, cpu, len))
			return;
}

int dmamap_kit_create(const struct dmamap_kit_opts *o, struct dmamap_kit **out, char *err,
		      size_t errlen)
{
	static const struct dmamap_kit_opts defaults;
	if (!o)
		o = &defaults;
	if (err && errlen)
		err[0] = '\0';
	struct dmamap_kit *kit = calloc(1, sizeof(*kit));
	if (!kit)
		return -ENOMEM;
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 1, .virtual_clock = true };
	char bootargs[512] = "";
	int rc;
	if (o->dts) {
		char e[256] = "";
		rc = sim_dt_load(o->dts, &kit->dt, e, sizeof(e));
		if (!rc)
			rc = sim_dt_machine_desc(kit->dt, &md, e, sizeof(e));
		if (rc) {
			if (err)
				snprintf(err, errlen, "%s", e);
			goto fail;
		}
		sim_dt_zone_dma(kit->dt, &md);
		md.virtual_clock = true;
		if (kit->dt->bootargs)
			snprintf(bootargs, sizeof(bootargs), "%s", kit->dt->bootargs);
	} else {
		uint64_t low = o->low_gib || o->high_gib ? o->low_gib : 3;
		uint64_t high = o->low_gib || o->high_gib ? o->high_gib : 1;
		if (low > 3 || (!low && !high)) {
			rc = -EINVAL;
			if (err)
				snprintf(err, errlen, "RAM: low_gib is at most 3 and some RAM is needed");
			goto fail;
		}
		if (low)
			md.ram[md.nram++] = (struct sim_ram_range){ 0, low * GIB };
		if (high)
			md.ram[md.nram++] = (struct sim_ram_range){ 4 * GIB, high * GIB };
	}
	const char *why = "";
	rc = sim_machine_create(&md, &kit->m, &why);
	if (rc) {
		if (err)
			snprintf(err, errlen, "machine: %s", why);
		goto fail;
	}
	/* IOMMUs exist before the OS boots (sim/iommu.h). */
	if (o->iommu) {
		rc = sim_iommu_create(kit->m, &(struct sim_iommu_desc){ .name = "kit-iommu" },
				      &kit->iommu);
		if (rc)
			goto fail;
	}
	if (o->bootargs) {
		size_t n = strlen(bootargs);
		snprintf(bootargs + n, sizeof(bootargs) - n, "%s%s", n ? " " : "", o->bootargs);
	}
	struct dmamap_config cfg = { .bootargs = bootargs, .dma_debug = !o->checker_off,
				     .deferred = DMAMAP_DEFERRED_MANUAL };
	rc = dmamap_ctx_create(sim_platform(kit->m), &cfg, &kit->ctx);
	if (rc) {
		if (err)
			snprintf(err, errlen, "context: %s", dmamap_strerror(rc));
		goto fail;
	}
	kit->high = o->kmalloc_high;
	kit->hooks = (struct dmamap_linux_hooks){ .priv = kit, .virt_to_phys = kit_v2p,
						   .phys_to_virt = kit_p2v,
						   .barrier = kit_barrier,
						   .cpu_read = kit_cpu_read };
	dmamap_linux_set_hooks(&kit->hooks);
	kit_current = kit;
	*out = kit;
	return 0;
fail:
	if (kit->m)
		sim_machine_destroy(kit->m);
	if (kit->dt)
		sim_dt_free(kit->dt);
	free(kit);
	return rc;
}

int dmamap_kit_destroy(struct dmamap_kit *kit)
{
	for (unsigned int i = 0; i < KIT_MAX_DEVS; i++)
		if (kit->devs[i].dev)
			return -EBUSY;
	for (unsigned int i = 0; i < kit->nallocs; i++)
		sim_free_pages(kit->m, kit->allocs[i].phys, kit->allocs[i].npages);
	dmamap_ctx_destroy(kit->ctx);
	sim_machine_destroy(kit->m);
	if (kit->dt)
		sim_dt_free(kit->dt);
	if (kit_current == kit) {
		kit_current = NULL;
		dmamap_linux_set_hooks(NULL);
	}
	free(kit);
	return 0;
}

static struct kit_dev *kit_find(struct dmamap_kit *kit, const struct device *dev)
{
	for (unsigned int i = 0; i < KIT_MAX_DEVS; i++)
		if (kit->devs[i].dev == dev)
			return &kit->devs[i];
	return NULL;
}

int dmamap_kit_bind(struct dmamap_kit *kit, struct device *dev, const struct dmamap_kit_dev_opts *o)
{
	struct kit_dev *slot = kit_find(kit, NULL);
	if (!slot)
		return -ENOSPC;
	if (o->iommu && !kit->iommu)
		return -EINVAL;
	struct sim_device_desc sd = { .name = o->name, .bus = o->bus,
				      .addr_bits = o->addr_bits ? o->addr_bits : 64,
				      .coherent = o->coherent };
	if (o->dt_node) {
		const struct sim_dt_device *n = kit->dt ? sim_dt_find(kit->dt, o->dt_node) : NULL;
		if (!n)
			return -EINVAL;
		sim_dt_device_desc(n, sd.addr_bits, &sd);
		sd.name = o->name; /* the driver's name in reports, not the node's */
	}
	struct sim_device *hw;
	int rc = sim_device_create(kit->m, &sd, &hw);
	if (rc)
		return rc;
	int dom = 0;
	if (o->iommu) {
		rc = sim_iommu_domain_create(kit->m, kit->iommu, SIM_IOMMU_DOMAIN_TRANSLATED, &dom);
		if (!rc)
			rc = sim_iommu_attach(hw, dom);
		if (rc)
			return rc;
	}
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(hw, &dd);
	dd.iommu_id = o->iommu ? kit->iommu : 0;
	dd.iommu_domain = dom;
	struct dmamap_device *d;
	rc = dmamap_device_add(kit->ctx, &dd, &d);
	if (rc) {
		if (dom) {
			sim_iommu_detach(hw);
			sim_iommu_domain_destroy(kit->m, dom);
		}
		return rc;
	}
	dmamap_linux_device_init(dev, d, o->name, sd.coherent);
	dev->bus_dma_limit = sd.bus_dma_limit;
	*slot = (struct kit_dev){ dev, hw, dom };
	return 0;
}

int dmamap_kit_unbind(struct dmamap_kit *kit, struct device *dev, uint64_t *leaked)
{
	struct kit_dev *k = dev ? kit_find(kit, dev) : NULL;
	if (!k)
		return -ENOENT;
	dmamap_linux_device_exit(dev);
	int rc = dmamap_device_remove(dev->dmamap, leaked);
	if (rc)
		return rc;
	if (k->domain) {
		sim_iommu_detach(k->hw);
		sim_iommu_domain_destroy(kit->m, k->domain);
	}
	dev->dmamap = NULL;
	*k = (struct kit_dev){ 0 };
	return 0;
}

struct sim_device *dmamap_kit_hw(struct dmamap_kit *kit, struct device *dev)
{
	struct kit_dev *k = dev ? kit_find(kit, dev) : NULL;
	return k ? k->hw : NULL;
}

struct sim_machine *dmamap_kit_machine(struct dmamap_kit *kit)
{
	return kit->m;
}

struct dmamap_ctx *dmamap_kit_ctx(struct dmamap_kit *kit)
{
	return kit->ctx;
}

int dmamap_kit_iommu(struct dmamap_kit *kit)
{
	return kit->iommu;
}

unsigned int dmamap_kit_reports(struct dmamap_kit *kit, struct dmamap_debug_report *out,
				unsigned int max)
{
	return dmamap_debug_reports(kit->ctx, out, max);
}

uint64_t dmamap_kit_count(struct dmamap_kit *kit, enum dmamap_debug_kind kind)
{
	return dmamap_debug_count(kit->ctx, kind);
}

unsigned int dmamap_kit_check(struct dmamap_kit *kit, FILE *out)
{
	uint64_t n = dmamap_debug_count(kit->ctx, DMAMAP_DEBUG_ANY);
	if (n && out) {
		static struct dmamap_debug_report r[DMAMAP_DEBUG_KEEP];
		unsigned int got = dmamap_debug_reports(kit->ctx, r, DMAMAP_DEBUG_KEEP);
		for (unsigned int i = 0; i < got; i++)
			fprintf(out, "dma-debug: %s: %s: origin %s: %s\n",
				dmamap_debug_kind_name(r[i].kind), r[i].device, r[i].origin, r[i].msg);
		if (n > got)
			fprintf(out, "dma-debug: (%llu older reports not kept)\n",
				(unsigned long long)(n - got));
	}
	dmamap_debug_clear(kit->ctx);
	return (unsigned int)n;
}

/* ---- kmalloc and pages ------------------------------------------------------------ */

static void *kit_pages(uint64_t npages, uint64_t align_pages)
{
	struct dmamap_kit *kit = kit_current;
	if (!kit || kit->nallocs == KIT_MAX_ALLOCS)
		return NULL;
	uint64_t lo = kit->high ? 4 * GIB : 0, hi = kit->high ? ~0ULL : 4 * GIB - 1, phys;
	if (sim_alloc_pages(kit->m, npages, align_pages, lo, hi, &phys))
		return NULL;
	void *cpu = sim_phys_to_cpu(kit->m, phys);
	kit->allocs[kit->nallocs++] = (struct kit_alloc){ cpu, phys, npages };
	return cpu;
}

static void kit_unpages(const void *cpu)
{
	struct dmamap_kit *kit = kit_current;
	if (!kit || !cpu)
		return;
	for (unsigned int i = 0; i < kit->nallocs; i++) {
		if (kit->allocs[i].cpu == cpu) {
			sim_free_pages(kit->m, kit->allocs[i].phys, kit->allocs[i].npages);
			kit->allocs[i] = kit->allocs[--kit->nallocs];
			return;
		}
	}
}

void *kmalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return size ? kit_pages((size + PAGE_SIZE - 1) / PAGE_SIZE, 1) : NULL;
}

void *kzalloc(size_t size, gfp_t gfp)
{
	void *p = kmalloc(size, gfp);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(const void *p)
{
	kit_unpages(p);
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	(void)gfp;
	void *p = kit_pages(1ULL << order, 1ULL << order);
	return p ? virt_to_page(p) : NULL;
}

void __free_pages(struct page *page, unsigned int order)
{
	(void)order;
	kit_unpages(page_address(page));
}
