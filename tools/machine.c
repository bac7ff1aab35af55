/*
 * tools/machine.c - the machine a scenario describes (see machine.h).
 *
 * Owns: the platform a scenario builds (machine from the tree and the
 * file, reserved memory, restricted pools, IOMMUs, the hypervisor and its
 * domUs, devices, hot-plug), its teardown, the report's record of what
 * became of it, and replay's handle on it (run_platform_*).
 * Must never run workloads, judge `expect` (judge.c) beyond refusing
 * unknown counter names up front, print reports (report_text.c), or
 * decide DMA policy: devices are described as firmware would describe
 * them, drivers set their masks, and whatever ops the library picks is
 * what the report shows.  Never includes src/ headers.
 *
 * Determinism: one thread and the simulator's allocator is deterministic,
 * so the same file builds the same machine byte for byte.
 */
#include "machine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <dmamap/dma.h>

#include <dmamap/sim/dt.h>
#include <dmamap/sim/iommu.h>
#include "judge.h"

#define MACH_DEFAULT_CPUS 4      /* machines described inline */
/* The simulator models physical addresses below 2^48 (sim.h). */
#define MACH_PHYS_LIMIT (1ULL << 48)
#define MACH_TREE_DEFAULT_BITS 32 /* tree devices no entry describes: Linux's default mask */

int machine_err(struct machine *e, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (e->err && e->errlen)
		vsnprintf(e->err, e->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

static void mach_log(void *priv, enum dmamap_log_level lvl, const char *msg)
{
	struct machine *e = priv;
	snprintf(e->last_log, sizeof(e->last_log), "%s", msg);
	if (e->verbose)
		fprintf(stderr, "  [dmamap %d] %s\n", (int)lvl, msg);
}

static unsigned int mask_bits(uint64_t mask)
{
	return mask ? 64 - (unsigned int)__builtin_clzll(mask) : 0;
}

static uint64_t bits_mask(unsigned int bits)
{
	return bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1;
}

/* ---- devices: who they are ---------------------------------------------- */

struct mach_dev *machine_dev_find(struct machine *e, const char *name)
{
	for (unsigned int i = 0; i < e->ndevs; i++)
		if (!strcmp(e->devs[i].name, name))
			return &e->devs[i];
	return NULL;
}

/* A device named by the file: declared, or a tree node on first mention. */
static int dev_note(struct machine *e, const char *name,
		    const struct scn_device *decl, int line)
{
	if (machine_dev_find(e, name))
		return 0;
	const struct sim_dt_device *node = NULL;
	if (name[0] == '/') {
		/* The loader guarantees a dt exists when a tree path is used. */
		node = e->dt ? sim_dt_find(e->dt, name) : NULL;
		if (!node)
			return machine_err(e, -EINVAL, "%s:%d: device '%s' is not a DMA master in %s "
				       "(`dmamap explain %s` lists them)", e->file, line, name,
				       e->dt ? e->dt->file : "the tree", e->dt ? e->dt->file : "the tree");
	}
	if (e->ndevs == MACH_MAX_DEVS)
		return machine_err(e, -EINVAL, "%s:%d: too many devices", e->file, line);
	struct mach_dev *d = &e->devs[e->ndevs++];
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->decl = decl;
	d->node = node;
	d->line = decl ? decl->line : line;
	d->dma_bits = decl ? decl->dma_bits : MACH_TREE_DEFAULT_BITS;
	d->hotplug = decl && decl->hotplug;
	/* Behind an IOMMU: the file says so, or the tree (enabled IOMMUs only). */
	if (decl && decl->iommu[0])
		d->iommu = decl->iommu;
	else if (node && node->has_iommu && node->iommu_enabled && node->iommu_path)
		d->iommu = node->iommu_path;
	/* A PCI function in the tree: its host's iommu-map by requester ID (of_map_id). */
	if (!d->iommu && node && node->is_pci_dev && node->has_rid) {
		const struct sim_dt_iommu_map *m =
			sim_dt_map_rid(&e->dt->devices[node->host], node->rid, NULL);
		if (m && m->iommu_enabled)
			d->iommu = m->iommu_path;
	}
	for (unsigned int k = 0; !d->iommu && node && k < node->niommu_map; k++)
		if (node->iommu_map[k].iommu_enabled && node->iommu_map[k].iommu_path)
			d->iommu = node->iommu_map[k].iommu_path;
	if (decl && decl->untrusted && !d->iommu)
		return machine_err(e, -EINVAL, "%s:%d: device '%s' is untrusted but sits behind no "
			       "iommu (untrusted devices are isolated by one)", e->file, line, name);
	return 0;
}

/* ---- the hypervisor ---------------------------------------------------- */

static const char *const xen_mode_names[] = {
	[DMAMAP_XEN_NONE] = "none", [DMAMAP_XEN_PV] = "pv", [DMAMAP_XEN_PVH] = "pvh",
	[DMAMAP_XEN_HVM] = "hvm", [DMAMAP_XEN_ARM] = "arm",
};
static const char *const xen_p2m_names[] = {
	[SIM_XEN_P2M_IDENTITY] = "identity", [SIM_XEN_P2M_SCATTERED] = "scattered",
	[SIM_XEN_P2M_COLORED] = "colored",
};
static const struct { unsigned int scn; uint32_t feat; const char *name; } xen_feats[] = {
	{ SCN_FEAT_DIRECT_MAPPED, DMAMAP_XENFEAT_DIRECT_MAPPED, "direct_mapped" },
	{ SCN_FEAT_NOT_DIRECT_MAPPED, DMAMAP_XENFEAT_NOT_DIRECT_MAPPED, "not_direct_mapped" },
	{ SCN_FEAT_DOM0_IOMMU, DMAMAP_XENFEAT_DOM0_IOMMU, "dom0_iommu" },
	{ SCN_FEAT_P2M_QUERY, DMAMAP_XENFEAT_P2M_QUERY, "p2m_query" },
};
#define NXEN_FEATS (sizeof(xen_feats) / sizeof(xen_feats[0]))

static bool any_xen_backend(const struct scn *s)
{
	for (unsigned int i = 0; i < s->nworkloads; i++)
		if (s->workloads[i].kind == SCN_KIND_XEN_BACKEND)
			return true;
	return false;
}

/*
 * The hypervisor the file (its `hypervisor` key) or the tree (a Xen
 * node: an arm dom0, 1:1) asks for, defaults resolved, into e->xd; the
 * machine's arch follows it when the file describes the machine.
 */
static int xen_resolve(struct machine *e, struct sim_machine_desc *md)
{
	const struct scn *s = e->s;
	const struct scn_hypervisor *hv = &s->hv;
	e->xen_on = s->has_hypervisor || (e->dt && e->dt->xen);
	if (!e->xen_on) {
		for (unsigned int i = 0; i < s->nworkloads; i++)
			if (s->workloads[i].kind == SCN_KIND_XEN_BACKEND)
				return machine_err(e, -EINVAL, "%s:%d: kind: xen-backend needs a hypervisor, "
					       "but %s has no Xen node and the file no hypervisor key",
					       e->file, s->workloads[i].line,
					       e->dt ? e->dt->file : "the machine");
		return 0;
	}
	/* A file with no hypervisor key and a Xen tree: hv is all zeros (defaults). */
	bool arm;
	if (hv->arch)
		arm = hv->arch == SCN_HV_ARCH_ARM;
	else if (hv->mode)
		arm = false;
	else if (e->dt)
		arm = e->dt->xen || md->arch == DMAMAP_ARCH_ARM64;
	else
		arm = false;
	if (e->dt && arm != (md->arch == DMAMAP_ARCH_ARM64))
		return machine_err(e, -EINVAL, "%s:%d: hypervisor.%s: %s, but %s describes %s machine",
			       e->file, hv->arch_line ? hv->arch_line : hv->mode_line,
			       hv->arch ? "arch" : "mode", arm ? "arm" : "x86", e->dt->file,
			       md->arch == DMAMAP_ARCH_ARM64 ? "an arm64" : "an x86");
	if (!e->dt)
		md->arch = arm ? DMAMAP_ARCH_ARM64 : DMAMAP_ARCH_X86;

	struct sim_xen_desc *xd = &e->xd;
	memset(xd, 0, sizeof(*xd));
	if (arm)
		xd->mode = DMAMAP_XEN_ARM;
	else
		xd->mode = hv->mode == SCN_HV_PVH ? DMAMAP_XEN_PVH :
			   hv->mode == SCN_HV_HVM ? DMAMAP_XEN_HVM : DMAMAP_XEN_PV;
	xd->initial_domain = hv->domain != SCN_HV_DOMU;
	switch (hv->p2m) {
	case SCN_P2M_IDENTITY: xd->p2m = SIM_XEN_P2M_IDENTITY; break;
	case SCN_P2M_SCATTERED: xd->p2m = SIM_XEN_P2M_SCATTERED; break;
	case SCN_P2M_COLORED: xd->p2m = SIM_XEN_P2M_COLORED; break;
	case SCN_P2M_UNSET:
		/* A 1:1 arm dom0, auto-translated x86 guests; PV (and arm domUs) scattered. */
		xd->p2m = (arm && xd->initial_domain) || xd->mode == DMAMAP_XEN_PVH ||
				  xd->mode == DMAMAP_XEN_HVM ? SIM_XEN_P2M_IDENTITY
							     : SIM_XEN_P2M_SCATTERED;
		break;
	}
	if (hv->has_features) {
		for (unsigned int i = 0; i < NXEN_FEATS; i++)
			if (hv->features & xen_feats[i].scn)
				xd->features |= xen_feats[i].feat;
	} else if (xd->p2m == SIM_XEN_P2M_COLORED) {
		xd->features = DMAMAP_XENFEAT_NOT_DIRECT_MAPPED;
	} else if (arm && xd->initial_domain && xd->p2m == SIM_XEN_P2M_IDENTITY) {
		xd->features = DMAMAP_XENFEAT_DIRECT_MAPPED;
	}
	for (unsigned int i = 0; i < hv->nhost_ram; i++) {
		const struct scn_range *r = &hv->host_ram[i];
		uint64_t b = (r->base + 4095) & ~4095ULL, end = (r->base + r->size) & ~4095ULL;
		if (r->base > UINT64_MAX - 4095 || end <= b)
			return machine_err(e, -EINVAL, "%s:%d: hypervisor.host_ram: 0x%llx+0x%llx holds "
				       "no whole 4 KiB page", e->file, r->line,
				       (unsigned long long)r->base, (unsigned long long)r->size);
		xd->host_ram[xd->nhost++] = (struct sim_ram_range){ b, end - b };
	}
	xd->lowmem_bytes = hv->lowmem;
	xd->seed = hv->has_seed ? hv->seed : 0;
	xd->ncolors = hv->colors;
	xd->colors = hv->os_colors;
	e->xen_policy = hv->policy == SCN_POLICY_LINUX ? DMAMAP_XEN_POLICY_LINUX
						       : DMAMAP_XEN_POLICY_PER_DEVICE;
	e->ndomus = hv->has_domus ? hv->domus : any_xen_backend(s) ? 1 : 0;
	if (!xd->initial_domain)
		e->ndomus = 0; /* the loader refused domus and backends in a domU */

	/* The hypervisor owns the IOMMU: what the OS would program does not apply. */
	for (unsigned int i = 0; i < s->niommus; i++) {
		const struct scn_iommu *x = &s->iommus[i];
		if (x->window || x->bypass || x->linear)
			return machine_err(e, -EINVAL, "%s:%d: iommu '%s': window, bypass and linear "
				       "describe an IOMMU the OS programs; under Xen the hypervisor's "
				       "IOMMU mirrors the OS's p2m", e->file, x->line, x->name);
	}
	for (unsigned int i = 0; i < e->ndevs; i++) {
		struct mach_dev *d = &e->devs[i];
		if (d->decl && d->decl->untrusted)
			return machine_err(e, -EINVAL, "%s:%d: device '%s': untrusted is not modelled "
				       "under Xen (the hypervisor's IOMMU maps whole pages)", e->file,
				       d->decl->line, d->name);
		/*
		 * Xen gives PVH and HVM guests' devices an IOMMU always.  A PV
		 * guest programs machine addresses, which Xen's IOMMU maps 1:1
		 * for it: there the IOMMU translates nothing the guest could
		 * see, so a device naming one is left untranslated.
		 */
		d->xen_iommu = xd->mode == DMAMAP_XEN_PVH || xd->mode == DMAMAP_XEN_HVM ||
			       (d->iommu && xd->mode != DMAMAP_XEN_PV);
	}
	return 0;
}

/* The hypervisor under the machine, and the domUs its backends serve. */
static int xen_up(struct machine *e)
{
	const char *why = NULL;
	int line = e->s->has_hypervisor ? e->s->hv.line : 0;
	int rc = sim_xen_create(e->m, &e->xd, &e->xen, &why);
	if (rc) {
		if (line)
			return machine_err(e, rc == -ENOMEM ? -ENOMEM : -EINVAL,
				       "%s:%d: hypervisor: the simulator refused it (%s): %s", e->file,
				       line, dmamap_strerror(rc), why ? why : "no reason given");
		return machine_err(e, rc == -ENOMEM ? -ENOMEM : -EINVAL,
			       "%s:%d: dt: %s: /hypervisor: the simulator refused the tree's Xen "
			       "(%s): %s", e->file, e->s->dt_line, e->dt->file, dmamap_strerror(rc),
			       why ? why : "no reason given");
	}
	for (unsigned int i = 0; i < e->ndomus; i++) {
		rc = sim_xen_domu_create(e->xen, WL_XEN_DOMU_PAGES, &e->domids[i]);
		if (rc)
			return machine_err(e, rc == -ENOMEM ? -ENOMEM : -EINVAL,
				       "%s:%d: hypervisor: domU %u of %u could not be created (%s): "
				       "give host_ram room for it", e->file, line, i + 1, e->ndomus,
				       dmamap_strerror(rc));
	}
	return 0;
}

/* ---- the machine --------------------------------------------------------- */

/*
 * Inline RAM replaces the tree's /memory (which firmware often fills in at
 * boot); the arm64 DMA zone is then sized for the RAM actually used.
 */
static int machine_desc(struct machine *e, struct sim_machine_desc *md, int *lines)
{
	char why[512];
	memset(md, 0, sizeof(*md));
	if (e->dt) {
		if (sim_dt_machine_desc(e->dt, md, why, sizeof(why)))
			return machine_err(e, -EINVAL, "%s:%d: dt: %s", e->file, e->s->dt_line, why);
	} else {
		md->arch = DMAMAP_ARCH_X86;
		md->ncpus = MACH_DEFAULT_CPUS;
	}
	/* The scenario's RAM replaces the tree's /memory (firmware fills it in). */
	if (e->dt && e->s->nram)
		md->nram = 0;
	for (unsigned int k = 0; k < md->nram; k++)
		lines[k] = -e->s->dt_line; /* negative: the tree's (its dt: line) */
	for (unsigned int i = 0; i < e->s->nram; i++) {
		const struct scn_range *r = &e->s->ram[i];
		/* Pages are whole: a range is never trimmed behind the file's back. */
		if ((r->base | r->size) & 4095)
			return machine_err(e, -EINVAL, "%s:%d: ram: 0x%llx+0x%llx: %s is not a multiple "
				       "of 4 KiB (RAM comes in whole pages)", e->file, r->line,
				       (unsigned long long)r->base, (unsigned long long)r->size,
				       r->base & 4095 ? "the base" : "the size");
		if (r->base >= MACH_PHYS_LIMIT || r->size > MACH_PHYS_LIMIT - r->base)
			return machine_err(e, -EINVAL, "%s:%d: ram: 0x%llx+0x%llx ends beyond 2^48 "
				       "(256 TiB), the most the simulator models", e->file, r->line,
				       (unsigned long long)r->base, (unsigned long long)r->size);
		uint64_t b = r->base, end = r->base + r->size;
		unsigned int k;
		for (k = 0; k < md->nram; k++)
			if (md->ram[k].base == b)
				break;
		if (k == md->nram) {
			if (md->nram == SIM_MAX_RAM_RANGES)
				return machine_err(e, -EINVAL, "%s:%d: ram: more than %d ranges", e->file,
					       r->line, SIM_MAX_RAM_RANGES);
			md->nram++;
		}
		md->ram[k] = (struct sim_ram_range){ b, end - b };
		lines[k] = r->line;
	}
	/* Sorted, and no two overlap. */
	for (unsigned int i = 1; i < md->nram; i++)
		for (unsigned int k = i; k > 0 && md->ram[k - 1].base > md->ram[k].base; k--) {
			struct sim_ram_range t = md->ram[k];
			int tl = lines[k];
			md->ram[k] = md->ram[k - 1];
			lines[k] = lines[k - 1];
			md->ram[k - 1] = t;
			lines[k - 1] = tl;
		}
	if (md->nram == 0)
		return machine_err(e, -EINVAL, "%s: %s has no /memory (firmware fills it in): give "
			       "platform.ram", e->file, e->dt ? e->dt->file : "the platform");
	for (unsigned int i = 0; i < md->nram; i++) {
		const struct sim_ram_range *r = &md->ram[i];
		if (r->base >= MACH_PHYS_LIMIT || r->size > MACH_PHYS_LIMIT - r->base)
			return machine_err(e, -EINVAL, "%s:%d: dt: %s: RAM 0x%llx+0x%llx ends beyond 2^48 "
				       "(256 TiB), the most the simulator models", e->file, -lines[i],
				       e->dt->file, (unsigned long long)r->base,
				       (unsigned long long)r->size);
		if (i && md->ram[i - 1].base + md->ram[i - 1].size > r->base) {
			/* The file's range is the one to blame; two of the tree's: the dt: line. */
			int l = lines[i] > 0 ? lines[i] : lines[i - 1] > 0 ? lines[i - 1] : -lines[i];
			return machine_err(e, -EINVAL, "%s:%d: ram: 0x%llx+0x%llx overlaps 0x%llx+0x%llx%s",
				       e->file, l, (unsigned long long)md->ram[i - 1].base,
				       (unsigned long long)md->ram[i - 1].size,
				       (unsigned long long)r->base, (unsigned long long)r->size,
				       lines[i] > 0 && lines[i - 1] > 0 ? "" : " (the tree's RAM)");
		}
	}
	if (e->dt)
		sim_dt_zone_dma(e->dt, md);
	return 0;
}

/*
 * The largest stretch of this process's address space no mapping uses,
 * below the x86-64/arm64 user limit of 2^47: the largest RAM range the
 * simulator can map whole.  0 when /proc/self/maps cannot be read.
 */
static uint64_t host_largest_gap(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 0;
	uint64_t prev = 0x10000, best = 0; /* below mmap_min_addr nothing maps */
	unsigned long long lo, hi;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx-%llx", &lo, &hi) != 2)
			continue;
		if (lo >= (1ULL << 47))
			break;
		if (lo > prev && lo - prev > best)
			best = lo - prev;
		if (hi > prev)
			prev = hi;
	}
	fclose(f);
	if ((1ULL << 47) > prev && (1ULL << 47) - prev > best)
		best = (1ULL << 47) - prev;
	return best;
}

/*
 * The machine could not be built for want of host resources: which
 * resource, and the host's limit, never "the scenario is wrong".
 */
static int machine_host_err(struct machine *e, const struct sim_machine_desc *md,
			    const int *lines)
{
	char a[32], b[32];
	/* Touching ranges are one mapping in the simulator. */
	uint64_t gap = host_largest_gap(), total = 0;
	for (unsigned int i = 0; i < md->nram; i++) {
		unsigned int k = i;
		uint64_t size = md->ram[i].size;
		while (k + 1 < md->nram && md->ram[k].base + md->ram[k].size == md->ram[k + 1].base)
			size += md->ram[++k].size;
		total += size;
		if (gap && size > gap) {
			int l = lines[i] > 0 ? lines[i] : -lines[i];
			return machine_err(e, -ENOMEM, "%s:%d: %s0x%llx+0x%llx (%s) cannot be mapped on "
				       "this host: the simulator maps each RAM range whole, and the "
				       "largest free stretch of this host's address space is %s",
				       e->file, l, lines[i] > 0 ? "ram: " : "dt: RAM ",
				       (unsigned long long)md->ram[i].base, (unsigned long long)size,
				       rpt_human(size, a, sizeof(a)), rpt_human(gap, b, sizeof(b)));
		}
		i = k;
	}
	struct rlimit rl;
	int l = md->nram ? (lines[0] > 0 ? lines[0] : -lines[0]) : 0;
	if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY && total > rl.rlim_cur)
		return machine_err(e, -ENOMEM, "%s:%d: the machine's %s of RAM cannot be mapped on this "
			       "host: its address-space limit (ulimit -v) is %s", e->file, l,
			       rpt_human(total, a, sizeof(a)), rpt_human(rl.rlim_cur, b, sizeof(b)));
	return machine_err(e, -ENOMEM, "%s:%d: this host is out of memory: cannot allocate the "
		       "simulator's bookkeeping for %s of RAM", e->file, l, rpt_human(total, a, sizeof(a)));
}

/* Static reserved-memory regions leave the allocator, as at boot. */
static void reserve_tree_regions(struct machine *e)
{
	for (unsigned int i = 0; e->dt && i < e->dt->nrmem; i++) {
		const struct sim_dt_rmem *r = &e->dt->rmem[i];
		if (!r->dynamic && r->size)
			sim_reserve(e->m, r->base, r->size);
	}
}

/* The restricted pool for a tree region or an inline size, shared per region. */
static int pool_for(struct machine *e, struct mach_dev *d, struct dmamap_swiotlb **out)
{
	*out = NULL;
	int rmem = d->node ? d->node->restricted_pool : -1;
	uint64_t want = d->decl && (d->decl->given & SCN_HAS_RESTRICTED_POOL) ?
			d->decl->restricted_pool : 0;
	if (want)
		rmem = -1; /* the file's size overrides the tree's region */
	if (rmem < 0 && !want)
		return 0;
	for (unsigned int i = 0; rmem >= 0 && i < e->npools; i++)
		if (e->pools[i].rmem == rmem) {
			*out = e->pools[i].pool;
			return 0;
		}
	if (e->npools == MACH_MAX_POOLS)
		return machine_err(e, -EINVAL, "%s:%d: device '%s': more than %d restricted pools",
			       e->file, d->line, d->name, MACH_MAX_POOLS);
	struct mach_pool *p = &e->pools[e->npools];
	memset(p, 0, sizeof(*p));
	p->rmem = rmem;
	if (rmem >= 0 && !e->dt->rmem[rmem].dynamic) {
		p->base = e->dt->rmem[rmem].base;
		p->size = e->dt->rmem[rmem].size;
	} else {
		/* Sized only: place it where the device reaches, low first. */
		p->size = (rmem >= 0 ? e->dt->rmem[rmem].size : want);
		p->size = (p->size + 4095) & ~4095ULL;
		uint64_t lo = 0, hi = bits_mask(d->dma_bits);
		if (d->hw.nranges) {
			lo = d->hw.ranges[0].cpu;
			hi = d->hw.ranges[0].cpu + d->hw.ranges[0].size - 1;
		}
		if (!p->size || sim_alloc_pages(e->m, p->size >> 12, 1, lo, hi, &p->base))
			return machine_err(e, -EINVAL, "%s:%d: device '%s': no RAM for a %llu-byte "
				       "restricted pool it can reach", e->file, d->line, d->name,
				       (unsigned long long)p->size);
		p->owned_pages = true;
	}
	e->last_log[0] = '\0';
	int rc = dmamap_restricted_pool_create(e->ctx, p->base, p->size, &p->pool);
	if (rc) {
		if (p->owned_pages)
			sim_free_pages(e->m, p->base, p->size >> 12);
		/* -ENOMEM is the host's: the library's line says how many bytes. */
		const char *why = rc == -E2BIG ? "larger than the 16 GiB a bounce pool may be"
				  : rc == -ENOMEM ? (e->last_log[0] ? e->last_log
						     : "this host cannot allocate its bookkeeping")
						  : "it must be RAM";
		char from[SCN_PATH_MAX + 32] = "";
		if (rmem >= 0)
			snprintf(from, sizeof(from), " (a region of %s)", e->dt->file);
		return machine_err(e, rc == -ENOMEM ? -ENOMEM : -EINVAL,
			       "%s:%d: device '%s': restricted pool 0x%llx+0x%llx refused (%s): %s%s",
			       e->file, d->line, d->name, (unsigned long long)p->base,
			       (unsigned long long)p->size, dmamap_strerror(rc), why, from);
	}
	e->npools++;
	*out = p->pool;
	return 0;
}

/* The hardware as the tree and the file describe it. */
static void dev_hw(struct mach_dev *d)
{
	const struct scn_device *c = d->decl;
	if (d->node)
		sim_dt_device_desc(d->node, d->dma_bits, &d->hw);
	else
		d->hw = (struct sim_device_desc){ .name = d->name, .addr_bits = d->dma_bits };
	if (!c)
		return;
	if (!d->node || (c->given & SCN_HAS_BUS))
		d->hw.bus = c->bus == SCN_BUS_PCI ? DMAMAP_BUS_PCI : DMAMAP_BUS_PLATFORM;
	if (!d->node || (c->given & SCN_HAS_COHERENT))
		d->hw.coherent = c->coherent;
	if (c->given & SCN_HAS_DMA_RANGES) {
		d->hw.nranges = c->ndma_ranges;
		for (unsigned int i = 0; i < c->ndma_ranges; i++)
			d->hw.ranges[i] = (struct dmamap_dma_range){
				c->dma_ranges[i].cpu, c->dma_ranges[i].dma, c->dma_ranges[i].size };
	}
	if (c->given & SCN_HAS_BUS_DMA_LIMIT)
		d->hw.bus_dma_limit = c->bus_dma_limit;
}

/* Firmware describes it, the OS adds it, the driver sets its masks. */
int machine_dev_add(struct machine *e, struct mach_dev *d)
{
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	dd.restricted_pool = d->pool;
	if (d->domain) {
		const struct scn_iommu *x = d->iommu_decl;
		dd.iommu_id = d->iommu_id;
		dd.iommu_domain = d->domain;
		dd.untrusted = d->decl && d->decl->untrusted;
		dd.iommu_window_size = x ? x->window : 0;
		dd.has_bypass = x && x->bypass;
		dd.bypass_offset = x ? x->bypass : 0;
		dd.iommu_linear = x && x->linear;
	}
	dd.xen_iommu = d->xen_iommu;
	e->last_log[0] = '\0';
	int rc = dmamap_device_add(e->ctx, &dd, &d->dev);
	if (rc) {
		/*
		 * The OS goes on without it; the verdict says why (judge).  Even
		 * -ENOMEM is the machine's answer (a PV guest's bounce pool finds
		 * no low memory in the hypervisor: seed 003), not the host's.
		 */
		d->dev = NULL;
		d->add_rc = rc;
		snprintf(d->add_why, sizeof(d->add_why), "%s",
			 e->last_log[0] ? e->last_log : "the library logged nothing");
		return 0;
	}
	/*
	 * A driver asks for what its engine can do.  Above 32 bits it may fall
	 * back to 32, as Linux drivers do; a narrower engine has nowhere to
	 * fall back to (widening would hand it addresses it truncates), so a
	 * refusal is judged as a problem.
	 */
	d->mask_rc = dmamap_set_mask_and_coherent(d->dev, bits_mask(d->dma_bits));
	if (d->mask_rc && d->dma_bits > 32 &&
	    !dmamap_set_mask_and_coherent(d->dev, bits_mask(32)))
		d->mask_rc = 0;
	return 0;
}

static const struct scn_iommu *iommu_decl(const struct scn *s, const char *name)
{
	for (unsigned int i = 0; i < s->niommus; i++)
		if (!strcmp(s->iommus[i].name, name))
			return &s->iommus[i];
	return NULL;
}

/* Page sizes of the IOMMU a tree node is linked to (0: the simulator's default). */
static uint64_t tree_iommu_sizes(const struct machine *e, const struct sim_dt_device *n)
{
	if (n->has_iommu && n->iommu_enabled)
		return n->iommu_page_sizes;
	if (n->is_pci_dev && n->has_rid) {
		const struct sim_dt_iommu_map *m =
			sim_dt_map_rid(&e->dt->devices[n->host], n->rid, NULL);
		return m && m->iommu_enabled ? m->iommu_page_sizes : 0;
	}
	for (unsigned int k = 0; k < n->niommu_map; k++)
		if (n->iommu_map[k].iommu_enabled)
			return n->iommu_map[k].iommu_page_sizes;
	return 0;
}

/*
 * The IOMMU hardware, as firmware sets it up before the OS boots: one
 * IOMMU per name (file) or node (tree), one translated domain per device
 * unless devices name a shared `domain`, windows as the file describes.
 */
static int iommus_up(struct machine *e, uint64_t ram_end)
{
	for (unsigned int i = 0; i < e->ndevs; i++) {
		struct mach_dev *d = &e->devs[i];
		if (!d->iommu)
			continue;
		d->iommu_decl = iommu_decl(e->s, d->iommu);
		unsigned int k;
		for (k = 0; k < e->niommus && strcmp(e->iommus[k].name, d->iommu); k++)
			;
		if (k == e->niommus) {
			struct sim_iommu_desc idesc = { .name = d->iommu };
			for (unsigned int p = 0; d->iommu_decl && p < d->iommu_decl->npage_sizes; p++)
				idesc.page_sizes |= d->iommu_decl->page_sizes[p];
			/* Not in the file: the tree's IOMMU compatible says (a DART: 16 KiB). */
			if (!idesc.page_sizes && d->node)
				idesc.page_sizes = tree_iommu_sizes(e, d->node);
			int rc = sim_iommu_create(e->m, &idesc, &e->iommus[k].id);
			if (rc)
				return machine_err(e, -EINVAL, "%s:%d: iommu '%s': the simulator refused it "
					       "(%s): page sizes must be among 4K, 2M, 1G and include 4K, "
					       "or among 16K, 32M and include 16K",
					       e->file, d->iommu_decl ? d->iommu_decl->line : 0,
					       d->iommu, dmamap_strerror(rc));
			e->iommus[k].name = d->iommu;
			e->niommus++;
		}
		d->iommu_id = e->iommus[k].id;
		const char *dom = d->decl && d->decl->domain[0] ? d->decl->domain : d->name;
		unsigned int m;
		for (m = 0; m < e->ndomains && (strcmp(e->domains[m].iommu, d->iommu) ||
						strcmp(e->domains[m].name, dom)); m++)
			;
		if (m == e->ndomains) {
			int rc = sim_iommu_domain_create(e->m, d->iommu_id, SIM_IOMMU_DOMAIN_TRANSLATED,
							 &e->domains[m].id);
			const struct scn_iommu *x = d->iommu_decl;
			/*
			 * A linear-capable IOMMU translates its whole IOVA space (the
			 * linear window lies above the 32-bit one); `window` then only
			 * bounds the OS's dynamic IOVAs.
			 */
			if (!rc && x && ((x->window && !x->linear) || x->bypass))
				rc = sim_iommu_domain_set_windows(e->m, e->domains[m].id, 0,
								  x->linear ? 0 : x->window,
								  x->bypass != 0, x->bypass,
								  x->bypass ? (ram_end + 4096) & ~4095ULL : 0);
			if (rc)
				return machine_err(e, -EINVAL, "%s:%d: iommu '%s': windows refused by the "
					       "simulator (%s)", e->file, x ? x->line : 0, d->iommu,
					       dmamap_strerror(rc));
			e->domains[m].iommu = d->iommu;
			e->domains[m].name = dom;
			e->ndomains++;
		}
		d->domain = e->domains[m].id;
	}
	return 0;
}

int machine_up(struct machine *e)
{
	const struct scn *s = e->s;
	char why[512];
	int rc;

	if (s->has_dt && sim_dt_load(s->dt, &e->dt, why, sizeof(why)))
		return machine_err(e, -EINVAL, "%s:%d: dt: %s", e->file, s->dt_line, why);
	for (unsigned int i = 0; i < s->ndevices; i++)
		if ((rc = dev_note(e, s->devices[i].name, &s->devices[i], s->devices[i].line)))
			return rc;
	for (unsigned int i = 0; i < s->nworkloads; i++)
		if ((rc = dev_note(e, s->workloads[i].device, NULL, s->workloads[i].line)))
			return rc;
	for (unsigned int i = 0; i < s->nexpects; i++)
		if (s->expects[i].device[0] &&
		    (rc = dev_note(e, s->expects[i].device, NULL, s->expects[i].line)))
			return rc;
	for (unsigned int i = 0; i < e->nextra; i++)
		if (e->extra[i][0] == '/' && e->dt && sim_dt_find(e->dt, e->extra[i]) &&
		    (rc = dev_note(e, e->extra[i], NULL, 0)))
			return rc;
	/* The file's counter names, before a machine costs anything to build. */
	if ((rc = judge_check_counters(s, e->file, e->err, e->errlen)))
		return rc;

	struct sim_machine_desc md;
	int ram_lines[SIM_MAX_RAM_RANGES];
	if ((rc = machine_desc(e, &md, ram_lines)) || (rc = xen_resolve(e, &md)))
		return rc;
	const char *mwhy = NULL;
	if ((rc = sim_machine_create(&md, &e->m, &mwhy)) == -ENOMEM)
		return machine_host_err(e, &md, ram_lines);
	if (rc)
		return machine_err(e, -EINVAL, "%s:%d: the machine: %s", e->file,
			       e->s->nram ? e->s->ram[0].line : e->s->dt_line,
			       mwhy ? mwhy : dmamap_strerror(rc));
	reserve_tree_regions(e);
	/* Under Xen the hypervisor owns the IOMMUs: the OS programs none. */
	if ((rc = e->xen_on ? xen_up(e) : iommus_up(e, sim_platform(e->m)->max_ram_end)))
		return rc;

	e->bootargs = s->has_bootargs ? s->bootargs : e->dt ? e->dt->bootargs : NULL;
	const char *bootargs = e->bootargs;
	/* No timer thread: a run must not depend on how fast the host is. */
	struct dmamap_config cfg = { .bootargs = bootargs, .log = mach_log, .log_priv = e,
				     .xen_policy = e->xen_policy,
				     .deferred = DMAMAP_DEFERRED_MANUAL };
	e->last_log[0] = '\0';
	if ((rc = dmamap_ctx_create(sim_platform(e->m), &cfg, &e->ctx))) {
		/* The library's line names the word, or the host's shortage. */
		const char *why = e->last_log[0] ? e->last_log : "the library said nothing more";
		int line = s->has_bootargs ? s->bootargs_line : s->dt_line;
		if (rc == -ENOMEM && strstr(why, "this host"))
			return machine_err(e, -ENOMEM, "%s:%d: %s", e->file, line, why);
		return machine_err(e, rc == -ENOMEM ? -ENOMEM : -EINVAL,
			       "%s:%d: %sbootargs \"%s\" refused (%s): %s", e->file, line,
			       s->has_bootargs ? "" : "dt: the tree's ", bootargs ? bootargs : "",
			       dmamap_strerror(rc), why);
	}

	for (unsigned int i = 0; i < e->ndevs; i++) {
		struct mach_dev *d = &e->devs[i];
		dev_hw(d);
		if ((rc = sim_device_create(e->m, &d->hw, &d->sd)))
			return machine_err(e, -EINVAL, "%s:%d: device '%s': the simulator refused it (%s)",
				       e->file, d->line, d->name, dmamap_strerror(rc));
		if (d->domain && (rc = sim_iommu_attach(d->sd, d->domain)))
			return machine_err(e, -EINVAL, "%s:%d: device '%s': could not be attached to its "
				       "IOMMU domain (%s)", e->file, d->line, d->name, dmamap_strerror(rc));
		if (d->xen_iommu && (rc = sim_xen_iommu_attach(d->sd)))
			return machine_err(e, -EINVAL, "%s:%d: device '%s': could not be put behind the "
				       "hypervisor's IOMMU (%s)", e->file, d->line, d->name,
				       dmamap_strerror(rc));
		if ((rc = pool_for(e, d, &d->pool)))
			return rc;
		if (!d->hotplug && (rc = machine_dev_add(e, d)))
			return rc;
	}
	if (e->xen) {
		struct sim_xen_stats xs;
		sim_xen_get_stats(e->xen, &xs);
		e->lowmem_at_boot = xs.lowmem_used;
	}
	return 0;
}

void machine_down(struct machine *e)
{
	for (unsigned int i = 0; i < e->ndevs; i++) {
		struct mach_dev *d = &e->devs[i];
		uint64_t leaked = 0;
		if (d->dev)
			dmamap_device_remove(d->dev, &leaked);
		d->dev = NULL;
		if (d->rep)
			d->rep->leaked = leaked; /* judged as a problem */
	}
	for (unsigned int i = 0; i < e->npools; i++) {
		dmamap_restricted_pool_destroy(e->pools[i].pool);
		if (e->pools[i].owned_pages)
			sim_free_pages(e->m, e->pools[i].base, e->pools[i].size >> 12);
	}
	e->npools = 0;
	if (e->ctx)
		dmamap_ctx_destroy(e->ctx);
	e->ctx = NULL;
	if (e->m)
		sim_machine_destroy(e->m);
	e->m = NULL;
	sim_dt_free(e->dt);
	e->dt = NULL;
}

/* ---- the report's record of the machine ----------------------------------- */

static void set_range(struct rpt_range *x, uint64_t first, uint64_t last, const char *name)
{
	x->first = first;
	x->last = last;
	snprintf(x->name, sizeof(x->name), "%s", name ? name : "");
}

/*
 * The CPU-physical ranges the device reaches without help: each window
 * clipped to the streaming mask and the bus limit.  No windows and no
 * limit below 64 bits: everything (nwindows 0).
 */
static void dev_windows(const struct mach_dev *d, uint64_t mask, struct rpt_device *out)
{
	uint64_t lim = mask;
	if (d->hw.bus_dma_limit && d->hw.bus_dma_limit < lim)
		lim = d->hw.bus_dma_limit;
	if (d->hw.addr_bits < 64 && bits_mask(d->hw.addr_bits) < lim)
		lim = bits_mask(d->hw.addr_bits);
	out->nwindows = 0;
	if (!d->hw.nranges) {
		if (lim != UINT64_MAX)
			set_range(&out->windows[out->nwindows++], 0, lim, NULL);
		return;
	}
	for (unsigned int i = 0; i < d->hw.nranges && out->nwindows < RPT_MAX_WINDOWS; i++) {
		const struct dmamap_dma_range *w = &d->hw.ranges[i];
		if (!w->size || w->dma > lim)
			continue;
		uint64_t last = w->dma + (w->size - 1);
		if (last > lim)
			last = lim;
		set_range(&out->windows[out->nwindows++], w->cpu, w->cpu + (last - w->dma), NULL);
	}
	out->reach_none = out->nwindows == 0;
}

static void dev_report(struct machine *e, struct mach_dev *d)
{
	struct rpt_device *o = d->rep;
	snprintf(o->name, sizeof(o->name), "%s", d->name);
	o->coherent = d->hw.coherent;
	o->hotplug = d->hotplug;
	if (d->sd) {
		struct sim_device_stats hs;
		sim_device_get_stats(d->sd, &hs);
		o->truncated = hs.truncated;
		o->bus_errors = hs.bus_errors;
		o->faults = hs.bus_errors + hs.iommu_faults;
	}
	o->xen_iommu = d->xen_iommu;
	o->behind_iommu = d->domain != 0 || d->xen_iommu;
	o->windows_machine = e->xen && !d->xen_iommu && e->xd.p2m != SIM_XEN_P2M_IDENTITY;
	if (!d->dev) {
		snprintf(o->ops, sizeof(o->ops), "none");
		if (d->add_rc)
			snprintf(o->reason, sizeof(o->reason), "could not be added (%s): %.200s",
				 dmamap_strerror(d->add_rc), d->add_why);
		else
			snprintf(o->reason, sizeof(o->reason),
				 "never added (hot-plugged, no workload ran)");
		return;
	}
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d->dev, &st);
	o->maps = st.maps;
	o->map_failures += st.map_failures;
	o->bytes_mapped = st.bytes_mapped;
	o->bounced_bytes = st.bounced_bytes;
	o->bounced_maps = st.bounced_maps;
	o->coherent_allocs = st.coherent_allocs;
	o->coherent_bytes = st.coherent_bytes;
	snprintf(o->ops, sizeof(o->ops), "%s", dmamap_device_ops_name(d->dev));
	snprintf(o->reason, sizeof(o->reason), "%s", dmamap_device_ops_reason(d->dev));
	uint64_t mask = dmamap_get_mask(d->dev);
	o->dma_mask_bits = mask_bits(mask);
	o->coherent_mask_bits = mask_bits(dmamap_get_coherent_mask(d->dev));
	if (o->behind_iommu)
		o->nwindows = 0; /* through IOVAs it can reach any page it is given */
	else
		dev_windows(d, mask, o);
}

/* The hypervisor's description and figures (r->xen.has false: none). */
static void xen_report(struct machine *e, struct rpt_xen *x)
{
	if (!e->xen)
		return;
	const struct sim_xen_desc *xd = &e->xd;
	x->has = true;
	snprintf(x->mode, sizeof(x->mode), "%s", xen_mode_names[xd->mode]);
	x->dom0 = xd->initial_domain;
	snprintf(x->p2m, sizeof(x->p2m), "%s", xen_p2m_names[xd->p2m]);
	x->nfeatures = 0;
	for (unsigned int i = 0; i < NXEN_FEATS && x->nfeatures < RPT_MAX_XEN_FEATURES; i++)
		if (xd->features & xen_feats[i].feat)
			snprintf(x->features[x->nfeatures++], sizeof(x->features[0]), "%s",
				 xen_feats[i].name);
	snprintf(x->policy, sizeof(x->policy), "%s",
		 e->xen_policy == DMAMAP_XEN_POLICY_LINUX ? "linux" : "per-device");
	x->domus = e->ndomus;
	struct dmamap_xen_stats ls;
	memset(&ls, 0, sizeof(ls));
	dmamap_xen_get_stats(e->ctx, &ls);
	x->swiotlb_xen = ls.swiotlb_xen;
	x->xen_pool_bytes = ls.pool_bytes;
	x->xen_pool_late = ls.pool_late;
	x->exchanged_bytes = ls.exchanged_bytes;
	x->foreign_maps = ls.foreign_maps;
	x->straddle_bounces = ls.straddle_bounces;
	x->reach_bounces = ls.reach_bounces;
	struct sim_xen_stats hs;
	memset(&hs, 0, sizeof(hs));
	sim_xen_get_stats(e->xen, &hs);
	x->lowmem_total = hs.lowmem_total;
	x->lowmem_used = hs.lowmem_used;
	x->lowmem_hiwater = hs.lowmem_hiwater;
	x->lowmem_used_at_boot = e->lowmem_at_boot;
	x->exchange_failures = hs.exchange_failures;
	x->grant_maps = hs.grant_maps;
	x->cache_flushes = hs.cache_flushes;
	x->p2m_queries = hs.p2m_queries;
	x->dma_own_bytes = hs.dma_own_bytes;
	x->dma_foreign_bytes = hs.dma_foreign_bytes;
	x->dma_stray_bytes = hs.dma_stray_bytes;
}

static void machine_totals(struct machine *e, struct rpt_report *r)
{
	xen_report(e, &r->xen);
	struct dmamap_swiotlb_stats st;
	dmamap_swiotlb_get_stats(e->ctx, NULL, &st);
	r->swiotlb = (struct rpt_swiotlb){
		.enabled = st.enabled, .boot_total_bytes = st.boot_total_bytes,
		.total_bytes = st.total_bytes, .below_4g_bytes = st.below_4g_bytes,
		.used_hiwater_bytes = st.used_hiwater_bytes, .bounced_bytes = st.bounced_bytes,
		.full_failures = st.full_failures,
	};
	const struct dmamap_platform *p = sim_platform(e->m);
	for (unsigned int i = 0; i < p->nlinear && r->nram < RPT_MAX_RANGES; i++)
		set_range(&r->ram[r->nram++], p->linear[i].phys,
			  p->linear[i].phys + p->linear[i].size - 1, NULL);
	dmamap_phys_addr_t base;
	uint64_t size;
	for (unsigned int i = 0; r->npools < RPT_MAX_RANGES &&
	     !dmamap_swiotlb_get_pool_range(e->ctx, NULL, i, &base, &size); i++)
		set_range(&r->pools[r->npools++], base, base + size - 1,
			  i ? "swiotlb (grown)" : "swiotlb");
	for (unsigned int i = 0; i < e->npools && r->npools < RPT_MAX_RANGES; i++) {
		const struct mach_pool *p2 = &e->pools[i];
		set_range(&r->pools[r->npools++], p2->base, p2->base + p2->size - 1,
			  p2->rmem >= 0 ? e->dt->rmem[p2->rmem].name : "restricted");
	}
	for (unsigned int i = 0; e->dt && i < e->dt->nrmem && r->nreserved < RPT_MAX_RANGES; i++) {
		const struct sim_dt_rmem *m = &e->dt->rmem[i];
		if (!m->dynamic && m->size && m->kind != SIM_DT_RMEM_RESTRICTED)
			set_range(&r->reserved[r->nreserved++], m->base, m->base + m->size - 1,
				  m->name);
	}
}

void machine_report(struct machine *e, struct rpt_report *r)
{
	for (unsigned int i = 0; i < e->ndevs; i++)
		dev_report(e, &e->devs[i]);
	machine_totals(e, r);
}

int machine_refusals(const struct machine *e, struct rpt_report *r)
{
	int rc = 0;
	for (unsigned int i = 0; i < e->ndevs && !rc; i++)
		if (e->devs[i].add_rc)
			rc = rpt_add_problem(r, "%s: the OS could not add the device (%s): %s",
					     e->devs[i].name, dmamap_strerror(e->devs[i].add_rc),
					     e->devs[i].add_why);
	for (unsigned int i = 0; i < e->ndevs && !rc; i++)
		if (e->devs[i].mask_rc)
			rc = rpt_add_problem(r, "%s: the driver's %u-bit DMA mask was refused (%s): the "
					     "device cannot work on this platform", e->devs[i].name,
					     e->devs[i].dma_bits, dmamap_strerror(e->devs[i].mask_rc));
	return rc;
}

/* ---- what a workload and the trace see ------------------------------------ */

struct wl_env machine_wl_env(const struct machine *e, const struct mach_dev *d)
{
	return (struct wl_env){
		.m = e->m, .sd = d->sd, .dev = d->dev, .ranges = d->hw.ranges,
		.nranges = d->hw.nranges, .iommu_domain = d->domain,
		.bypass = d->iommu_decl ? d->iommu_decl->bypass : 0,
		.xen = e->xen, .xen_iommu = d->xen_iommu,
	};
}

const char *machine_hypervisor(const struct machine *e)
{
	return e->xen ? xen_mode_names[e->xd.mode] : NULL;
}

/* ---- the platform alone (replay) ------------------------------------------ */

struct run_platform {
	struct machine e;
};

int run_platform_up(const struct scn *s, const char *file, const struct run_opts *o,
		    const char *const *extra, unsigned int nextra, struct run_platform **out,
		    char *err, size_t errlen)
{
	struct run_platform *p = calloc(1, sizeof(*p));
	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->e = (struct machine){ .s = s, .file = file, .verbose = o && o->verbose, .err = err,
				 .errlen = errlen, .extra = extra, .nextra = nextra };
	int rc = machine_up(&p->e);
	if (rc) {
		machine_down(&p->e);
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int run_platform_env(struct run_platform *p, const char *device, struct wl_env *we,
		     const char **why)
{
	struct machine *e = &p->e;
	struct mach_dev *d = machine_dev_find(e, device);
	*why = NULL;
	*we = (struct wl_env){ .m = e->m };
	if (!d)
		return -ENOENT;
	if (!d->dev && !d->add_rc) {
		int rc = machine_dev_add(e, d);
		if (rc)
			return rc;
	}
	if (!d->dev) {
		*why = d->add_why;
		return -ENODEV;
	}
	*we = machine_wl_env(e, d);
	return 0;
}

struct sim_machine *run_platform_machine(struct run_platform *p)
{
	return p->e.m;
}

void run_platform_down(struct run_platform *p)
{
	if (!p)
		return;
	machine_down(&p->e);
	free(p);
}

