/*
 * sim/iommu.c - the simulated IOMMU hardware: tables, IOTLB, faults.
 *
 * Owns: IOMMU instances and their IOTLBs, fault rings and counters;
 * domains and their 4-level I/O page tables, which live in machine memory
 * (pages from the machine's page allocator, 8-byte entries written
 * through the CPU view); device attachment; the translation of a device
 * access (called by device.c, which still owns the bus path and moving
 * the bytes).  The model is described in iommu.h.
 *
 * Must never decide DMA policy (what is mapped, when to invalidate, which
 * device gets a domain: the library's and firmware's job) and never
 * include anything from src/.
 *
 * Invariants:
 *   - m->iommus.lock (rwlock) guards the registry arrays, every device's
 *     iommu_dom and every domain's ndevices and windows (so a translation,
 *     which holds it for reading throughout, routes a whole access by one
 *     set of windows).  A domain is only reached
 *     through the registry or a device, so holding it for reading keeps
 *     the domain alive; destroy takes it for writing.  IOMMUs live until
 *     the machine dies.
 *   - A domain's lock guards its tables (every read or write of an entry),
 *     pt_pages and mapped_bytes.  Walks for the IOTLB happen under it and
 *     the walked entry is inserted before it is released, so an
 *     iotlb_sync that follows an unmap can never be overtaken by the
 *     insertion of what the unmap removed.
 *   - An IOMMU's lock guards its IOTLB, fault ring, cost and counters.
 *     Taken after a domain lock, never before; never held while taking
 *     the page allocator lock.  Its maps and unmaps are counted per
 *     domain instead, under the domain's lock that map and unmap hold
 *     anyway (no IOMMU lock and no atomic on that path); a destroyed
 *     domain's counts move to its IOMMU's `gone` totals under the
 *     registry's write lock, so a snapshot (registry read-locked) sees
 *     each count exactly once.
 *   - `tlb_valid` counts the IOTLB entries with a domain; it changes only
 *     under the IOMMU's lock, with the entry.  An entry of domain D is
 *     inserted only with D's lock held, so an unmap holding D's lock that
 *     reads 0 knows no entry of D can be in the IOTLB (a concurrent
 *     decrement only removes entries), and skips the stale-marking scan.
 *   - A domain's `ptmap` caches the machine mapping of its last table
 *     page looked up (d->lock); machine mappings never change while the
 *     machine lives, so a hit is always right.
 *   - Tables hold only what map wrote: a present entry is a leaf (leaf
 *     bit, or level 0) or points to a table page this domain allocated.
 *     No leaf at level 3.  pt_pages counts every table page, root
 *     included.
 *   - IOTLB entries are leaves as walked; `stale` is bookkeeping, never
 *     behaviour: it is set when an unmap removes or splits what the entry
 *     caches, and only counts hits.
 *   - A domain's windows are valid as set_windows checks them: tr_size 0
 *     implies tr_base 0; !bypass implies bypass_offset == bypass_size == 0;
 *     a set translated window and the bypass window do not overlap.
 *     Identity domains keep them all 0.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "iommu.h"
#include "sim_internal.h"

#define PTE_P (1ULL << 0)
#define PTE_R (1ULL << 1)
#define PTE_W (1ULL << 2)
#define PTE_PRIV (1ULL << 3)
#define PTE_LEAF (1ULL << 7)
#define PTE_ADDR 0x0000fffffffff000ULL
#define PTE_PROT (PTE_R | PTE_W | PTE_PRIV)

#define PT_LEVELS 4      /* 3 (root) .. 0 (4 KiB leaves) */
#define PT_BITS 9
#define PT_ENTRIES 512
#define IOVA_LIMIT (1ULL << SIM_IOMMU_IOVA_BITS)
#define PROT_ALL (DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE | DMAMAP_IOMMU_PRIV)

struct iotlb_entry {
	int domain;          /* 0: invalid */
	bool stale;
	unsigned int prot;   /* DMAMAP_IOMMU_* */
	uint64_t iova;       /* leaf base */
	uint64_t size;       /* leaf size */
	uint64_t phys;       /* leaf base */
	uint64_t used;       /* LRU stamp */
};

struct simi_iommu {
	int id;                     /* immutable, like the three below */
	char *name;
	uint64_t page_sizes;
	unsigned int ntlb;

	pthread_mutex_t lock;       /* guards the fields below */
	uint64_t cost_ns;
	struct iotlb_entry *tlb;
	uint64_t clock;             /* LRU stamps */
	struct sim_iommu_stats st;  /* but maps and unmaps: per domain */
	uint64_t gone_maps, gone_unmaps; /* of destroyed domains */
	_Atomic unsigned int tlb_valid; /* entries with a domain */
	struct sim_iommu_fault faults[SIM_IOMMU_FAULTS]; /* ring */
	uint64_t nfaults;           /* faults ever recorded */
};

struct simi_domain {
	int id;                         /* immutable, like type and iommu */
	enum sim_iommu_domain_type type;
	struct simi_iommu *iommu;
	unsigned int ndevices;          /* m->iommus.lock */
	/* Hybrid windows (iommu.h), m->iommus.lock; all 0: the default. */
	uint64_t tr_base, tr_size;
	bool bypass;
	uint64_t bypass_offset, bypass_size;

	simi_spinlock lock;             /* guards the fields below and the tables */
	uint64_t root;                  /* 0: identity */
	const struct simi_mapping *ptmap; /* see the invariants; may be NULL */
	uint64_t pt_pages;
	uint64_t mapped_bytes;
	uint64_t maps, unmaps;          /* calls that succeeded */
};

/* A leaf as found in the tables. */
struct leaf {
	uint64_t iova, size, phys;
	unsigned int prot;
};

static unsigned int level_shift(int lvl)
{
	return SIM_PAGE_SHIFT + PT_BITS * (unsigned int)lvl;
}

static uint64_t level_span(int lvl)
{
	return 1ULL << level_shift(lvl);
}

static unsigned int level_index(uint64_t iova, int lvl)
{
	return (unsigned int)(iova >> level_shift(lvl)) & (PT_ENTRIES - 1);
}

static uint64_t prot_to_pte(unsigned int prot)
{
	return (prot & DMAMAP_IOMMU_READ ? PTE_R : 0) |
	       (prot & DMAMAP_IOMMU_WRITE ? PTE_W : 0) |
	       (prot & DMAMAP_IOMMU_PRIV ? PTE_PRIV : 0);
}

static unsigned int pte_to_prot(uint64_t pte)
{
	return (pte & PTE_R ? DMAMAP_IOMMU_READ : 0) |
	       (pte & PTE_W ? DMAMAP_IOMMU_WRITE : 0) |
	       (pte & PTE_PRIV ? DMAMAP_IOMMU_PRIV : 0);
}

static bool overlaps(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	/* Sizes >= 1; compare last bytes so ranges ending at 2^64 work. */
	return a <= b + (bsize - 1) && b <= a + (asize - 1);
}

/* u->lock held.  Empties an IOTLB entry that holds a translation. */
static void tlb_drop(struct simi_iommu *u, struct iotlb_entry *t)
{
	t->domain = 0;
	atomic_store_explicit(&u->tlb_valid,
			      atomic_load_explicit(&u->tlb_valid, memory_order_relaxed) - 1,
			      memory_order_relaxed);
}

/* ---- registry ----------------------------------------------------------- */

void simi_iommu_init(struct sim_machine *m)
{
	memset(&m->iommus, 0, sizeof(m->iommus));
	m->iommus.ready = true;
}

void simi_lock_wait(unsigned int *spins)
{
	if (++*spins < 128) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ __volatile__("yield");
#endif
		return;
	}
	*spins = 0;
	sched_yield();
}

static void domain_free(struct simi_domain *d)
{
	free(d);
}

void simi_iommu_fini(struct sim_machine *m)
{
	struct simi_iommus *r = &m->iommus;
	if (!r->ready)
		return;
	for (unsigned int i = 0; i < r->ndom; i++)
		if (r->dom[i])
			domain_free(r->dom[i]);
	for (unsigned int i = 0; i < r->niommu; i++) {
		struct simi_iommu *u = r->iommu[i];
		pthread_mutex_destroy(&u->lock);
		free(u->tlb);
		free(u->name);
		free(u);
	}
	free(r->dom);
	free(r->iommu);
	r->ready = false;
}

/* Registry lock held (either way). */
static struct simi_iommu *iommu_get(struct sim_machine *m, int id)
{
	if (id <= 0 || (unsigned int)id > m->iommus.niommu)
		return NULL;
	return m->iommus.iommu[id - 1];
}

static struct simi_domain *domain_get(struct sim_machine *m, int id)
{
	if (id <= 0 || (unsigned int)id > m->iommus.ndom)
		return NULL;
	return m->iommus.dom[id - 1];
}

/* Registry read-locked; a translated domain or NULL. */
static struct simi_domain *translated_get(struct sim_machine *m, int id)
{
	struct simi_domain *d = domain_get(m, id);
	return d && d->type == SIM_IOMMU_DOMAIN_TRANSLATED ? d : NULL;
}

/* Grows a registry array to hold one more; 0 or -ENOMEM. */
static int grow(void **arr, unsigned int n, unsigned int *cap, size_t elem)
{
	if (n < *cap)
		return 0;
	if (n >= INT_MAX / 2)
		return -ENOMEM; /* ids are ints */
	unsigned int ncap = *cap ? *cap * 2 : 8;
	void *p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int sim_iommu_create(struct sim_machine *m, const struct sim_iommu_desc *d,
		     int *id)
{
	if (!m || !id)
		return -EINVAL;
	struct sim_iommu_desc z = { 0 };
	if (!d)
		d = &z;
	uint64_t ps = d->page_sizes ? d->page_sizes : SIM_IOMMU_DEFAULT_PGSIZES;
	/* The 4 KiB family (4K, 2M, 1G), or the 16 KiB one (16K, 32M). */
	bool ok16 = (ps & SIM_IOMMU_PGSIZE_16K) &&
		    !(ps & ~(SIM_IOMMU_PGSIZE_16K | SIM_IOMMU_PGSIZE_32M));
	bool ok4 = (ps & SIM_IOMMU_PGSIZE_4K) && !(ps & ~SIM_IOMMU_DEFAULT_PGSIZES);
	if (!(ok4 || ok16) || d->iotlb_entries > SIM_IOMMU_MAX_IOTLB)
		return -EINVAL;
	if (!m->iommus.ready)
		return -ENOMEM;
	struct simi_iommu *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->page_sizes = ps;
	u->cost_ns = d->inval_cost_ns ? d->inval_cost_ns
				      : SIM_IOMMU_DEFAULT_INVAL_NS;
	u->ntlb = d->iotlb_entries ? d->iotlb_entries : SIM_IOMMU_DEFAULT_IOTLB;
	u->name = strdup(d->name ? d->name : "sim-iommu");
	u->tlb = calloc(u->ntlb, sizeof(*u->tlb));
	if (!u->name || !u->tlb || pthread_mutex_init(&u->lock, NULL))
		goto fail;
	struct simi_iommus *r = &m->iommus;
	simi_write_lock(&r->lock);
	/*
	 * Under a hypervisor the IOMMUs are its own (xen.c); sim_xen_create
	 * checks for IOMMUs under this same lock, so never both.
	 */
	if (m->xen) {
		simi_write_unlock(&r->lock);
		pthread_mutex_destroy(&u->lock);
		free(u->tlb);
		free(u->name);
		free(u);
		return -EBUSY;
	}
	if (grow((void **)&r->iommu, r->niommu, &r->iommu_cap,
		 sizeof(*r->iommu))) {
		simi_write_unlock(&r->lock);
		pthread_mutex_destroy(&u->lock);
		goto fail;
	}
	r->iommu[r->niommu++] = u;
	u->id = (int)r->niommu;
	simi_platform_enable_iommu(m);
	simi_write_unlock(&r->lock);
	*id = u->id;
	return 0;
fail:
	free(u->tlb);
	free(u->name);
	free(u);
	return -ENOMEM;
}

uint64_t sim_iommu_page_sizes(struct sim_machine *m, int iommu_id)
{
	if (!m || !m->iommus.ready)
		return 0;
	simi_read_lock(&m->iommus.lock);
	struct simi_iommu *u = iommu_get(m, iommu_id);
	uint64_t ps = u ? u->page_sizes : 0;
	simi_read_unlock(&m->iommus.lock);
	return ps;
}

int sim_iommu_set_inval_cost(struct sim_machine *m, int iommu_id, uint64_t ns)
{
	if (!m || !m->iommus.ready)
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_iommu *u = iommu_get(m, iommu_id);
	if (u) {
		pthread_mutex_lock(&u->lock);
		u->cost_ns = ns;
		pthread_mutex_unlock(&u->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return u ? 0 : -EINVAL;
}

/* ---- table pages ----------------------------------------------------------- */

/* Table entries of the page at phys (a page this domain allocated). */
static uint64_t *pt_entries(struct sim_machine *m, uint64_t phys)
{
	return sim_phys_to_cpu(m, phys);
}

/*
 * The same, d->lock held: the walks' fast form.  Table pages come from
 * the page allocator, mostly from one machine mapping, so the domain's
 * last mapping answers without the registry's bisection.
 */
static uint64_t *dom_pt(struct sim_machine *m, struct simi_domain *d,
			uint64_t phys)
{
	const struct simi_mapping *mp = d->ptmap;
	if (!mp || phys - mp->base >= mp->end - mp->base) {
		mp = simi_mapping_of(m, phys, SIM_PAGE_SIZE);
		d->ptmap = mp;
	}
	return (uint64_t *)(void *)(mp->cpu + (phys - mp->base));
}

/* Counts a table page in and out; d->lock held (or d unpublished). */
static void pt_account(struct simi_domain *d, bool add)
{
	d->pt_pages = add ? d->pt_pages + 1 : d->pt_pages - 1;
	struct simi_iommu *u = d->iommu;
	pthread_mutex_lock(&u->lock);
	u->st.pt_pages = add ? u->st.pt_pages + 1 : u->st.pt_pages - 1;
	pthread_mutex_unlock(&u->lock);
}

/* A zeroed table page from anywhere in RAM.  0 or -ENOMEM. */
static int pt_alloc(struct sim_machine *m, struct simi_domain *d,
		    uint64_t *phys)
{
	if (sim_alloc_pages(m, 1, 1, 0, SIM_PHYS_LIMIT - 1, phys))
		return -ENOMEM;
	memset(pt_entries(m, *phys), 0, SIM_PAGE_SIZE);
	pt_account(d, true);
	return 0;
}

/* Frees a table page and every table below it (level lvl). */
static void pt_free_tree(struct sim_machine *m, struct simi_domain *d,
			 uint64_t table, int lvl)
{
	if (lvl > 0) {
		const uint64_t *t = pt_entries(m, table);
		for (unsigned int i = 0; i < PT_ENTRIES; i++)
			if ((t[i] & PTE_P) && !(t[i] & PTE_LEAF))
				pt_free_tree(m, d, t[i] & PTE_ADDR, lvl - 1);
	}
	sim_free_pages(m, table, 1);
	pt_account(d, false);
}

/* ---- domains ------------------------------------------------------------ */

int sim_iommu_domain_create(struct sim_machine *m, int iommu_id,
			    enum sim_iommu_domain_type type, int *domain_id)
{
	if (!m || !domain_id || (type != SIM_IOMMU_DOMAIN_TRANSLATED &&
				 type != SIM_IOMMU_DOMAIN_IDENTITY))
		return -EINVAL;
	if (!m->iommus.ready)
		return -ENOMEM;
	struct simi_iommus *r = &m->iommus;
	simi_read_lock(&r->lock);
	struct simi_iommu *u = iommu_get(m, iommu_id);
	simi_read_unlock(&r->lock);
	if (!u)
		return -EINVAL; /* IOMMUs never die: u stays valid */

	struct simi_domain *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->type = type;
	d->iommu = u;
	if (type == SIM_IOMMU_DOMAIN_TRANSLATED && pt_alloc(m, d, &d->root)) {
		domain_free(d);
		return -ENOMEM;
	}
	simi_write_lock(&r->lock);
	if (grow((void **)&r->dom, r->ndom, &r->dom_cap, sizeof(*r->dom))) {
		simi_write_unlock(&r->lock);
		if (d->root)
			pt_free_tree(m, d, d->root, PT_LEVELS - 1);
		domain_free(d);
		return -ENOMEM;
	}
	r->dom[r->ndom++] = d;
	d->id = (int)r->ndom;
	simi_write_unlock(&r->lock);
	*domain_id = d->id;
	return 0;
}

/* Drops every IOTLB entry of domain id (no invalidation is counted). */
static void tlb_forget_domain(struct simi_iommu *u, int id)
{
	pthread_mutex_lock(&u->lock);
	for (unsigned int i = 0; i < u->ntlb; i++)
		if (u->tlb[i].domain == id)
			tlb_drop(u, &u->tlb[i]);
	pthread_mutex_unlock(&u->lock);
}

int sim_iommu_domain_destroy(struct sim_machine *m, int domain_id)
{
	if (!m || !m->iommus.ready)
		return -EINVAL;
	struct simi_iommus *r = &m->iommus;
	simi_write_lock(&r->lock);
	struct simi_domain *d = domain_get(m, domain_id);
	int rc = !d ? -EINVAL : d->ndevices ? -EBUSY : 0;
	if (!rc) {
		r->dom[domain_id - 1] = NULL;
		pthread_mutex_lock(&d->iommu->lock);
		d->iommu->gone_maps += d->maps;
		d->iommu->gone_unmaps += d->unmaps;
		pthread_mutex_unlock(&d->iommu->lock);
	}
	simi_write_unlock(&r->lock);
	if (rc)
		return rc;
	/*
	 * Unreachable now: no device points at it and every reader that
	 * found it through the registry has finished.
	 */
	if (d->root)
		pt_free_tree(m, d, d->root, PT_LEVELS - 1);
	tlb_forget_domain(d->iommu, d->id);
	domain_free(d);
	return 0;
}

int sim_iommu_attach(struct sim_device *dev, int domain_id)
{
	if (!dev || !dev->m->iommus.ready)
		return -EINVAL;
	struct sim_machine *m = dev->m;
	simi_write_lock(&m->iommus.lock);
	struct simi_domain *d = domain_get(m, domain_id);
	if (d && dev->iommu_dom != d) {
		if (dev->iommu_dom)
			dev->iommu_dom->ndevices--;
		d->ndevices++;
		dev->iommu_dom = d;
		atomic_store_explicit(&dev->iommu_domain, d->id,
				      memory_order_release);
	}
	simi_write_unlock(&m->iommus.lock);
	return d ? 0 : -EINVAL;
}

int sim_iommu_detach(struct sim_device *dev)
{
	if (!dev || !dev->m->iommus.ready)
		return 0;
	struct sim_machine *m = dev->m;
	simi_write_lock(&m->iommus.lock);
	if (dev->iommu_dom) {
		dev->iommu_dom->ndevices--;
		dev->iommu_dom = NULL;
		atomic_store_explicit(&dev->iommu_domain, 0,
				      memory_order_release);
	}
	simi_write_unlock(&m->iommus.lock);
	return 0;
}

int sim_device_iommu_domain(const struct sim_device *dev)
{
	return dev ? atomic_load_explicit(&dev->iommu_domain,
					  memory_order_acquire)
		   : 0;
}

int sim_iommu_domain_info(struct sim_machine *m, int domain_id,
			  struct sim_iommu_domain_info *out)
{
	if (!m || !out || !m->iommus.ready)
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = domain_get(m, domain_id);
	if (d) {
		simi_spin_lock(&d->lock);
		*out = (struct sim_iommu_domain_info){
			.iommu_id = d->iommu->id,
			.type = d->type,
			.ndevices = d->ndevices,
			.root = d->root,
			.pt_pages = d->pt_pages,
			.mapped_bytes = d->mapped_bytes,
			.tr_base = d->tr_base,
			.tr_size = d->tr_size,
			.bypass = d->bypass,
			.bypass_offset = d->bypass_offset,
			.bypass_size = d->bypass_size,
		};
		simi_spin_unlock(&d->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return d ? 0 : -EINVAL;
}

/* Base and size 4 KiB aligned, size >= 1, not wrapping past 2^64. */
static bool good_window(uint64_t base, uint64_t size)
{
	return size && !((base | size) & SIM_PAGE_MASK) &&
	       base + (size - 1) >= base;
}

int sim_iommu_domain_set_windows(struct sim_machine *m, int domain_id,
				 uint64_t tr_base, uint64_t tr_size,
				 bool bypass, uint64_t bypass_offset,
				 uint64_t bypass_size)
{
	if (!m || !m->iommus.ready)
		return -EINVAL;
	/* tr_size 0 is "everything else": a base would mean nothing. */
	if (tr_size ? !good_window(tr_base, tr_size) ||
			      tr_base + (tr_size - 1) >= IOVA_LIMIT
		    : tr_base != 0)
		return -EINVAL;
	/* The bypass target is physical: at most the modelled space. */
	if (bypass ? !good_window(bypass_offset, bypass_size) ||
			     bypass_size > SIM_PHYS_LIMIT
		   : bypass_offset || bypass_size)
		return -EINVAL;
	if (bypass && tr_size &&
	    overlaps(tr_base, tr_size, bypass_offset, bypass_size))
		return -EINVAL;
	/*
	 * For writing: no translation is under way (each holds it for
	 * reading from its first window check to its last piece), so no
	 * access sees two sets of windows.
	 */
	simi_write_lock(&m->iommus.lock);
	struct simi_domain *d = translated_get(m, domain_id);
	if (d) {
		d->tr_base = tr_base;
		d->tr_size = tr_size;
		d->bypass = bypass;
		d->bypass_offset = bypass_offset;
		d->bypass_size = bypass_size;
	}
	simi_write_unlock(&m->iommus.lock);
	return d ? 0 : -EINVAL;
}

/* ---- tables: walk, map, unmap (domain lock held) --------------------------- */

/* The leaf translating iova, or false. */
static bool walk(struct sim_machine *m, struct simi_domain *d,
		 uint64_t iova, struct leaf *out)
{
	if (iova >= IOVA_LIMIT)
		return false;
	uint64_t table = d->root;
	for (int lvl = PT_LEVELS - 1; lvl >= 0; lvl--) {
		uint64_t e = dom_pt(m, d, table)[level_index(iova, lvl)];
		if (!(e & PTE_P))
			return false;
		if (lvl == 0 || (e & PTE_LEAF)) {
			uint64_t span = level_span(lvl);
			*out = (struct leaf){ .iova = iova & ~(span - 1),
					      .size = span,
					      .phys = e & PTE_ADDR,
					      .prot = pte_to_prot(e) };
			return true;
		}
		table = e & PTE_ADDR;
	}
	return false;
}

/*
 * True when a leaf lies in [lo, hi) under `table` (level lvl, covering
 * from `base`).  lo < hi, both inside the table's span.
 */
static bool any_leaf(struct sim_machine *m, uint64_t table, int lvl,
		     uint64_t base, uint64_t lo, uint64_t hi)
{
	const uint64_t *t = pt_entries(m, table);
	uint64_t span = level_span(lvl);
	unsigned int sh = level_shift(lvl);
	for (uint64_t i = (lo - base) >> sh; i <= (hi - 1 - base) >> sh; i++) {
		uint64_t e = t[i];
		if (!(e & PTE_P))
			continue;
		if (lvl == 0 || (e & PTE_LEAF))
			return true;
		uint64_t eb = base + i * span, ee = eb + span;
		if (any_leaf(m, e & PTE_ADDR, lvl - 1, eb, lo > eb ? lo : eb,
			     hi < ee ? hi : ee))
			return true;
	}
	return false;
}

/*
 * Writes one leaf of level lvl after checking, in the same descent, that
 * no leaf lies in its span: 0, -EEXIST (nothing written) or -ENOMEM
 * (tables made on the way stay, empty).  An empty table found where the
 * leaf goes is freed (as Linux's io-pgtable does before installing a
 * block).  A map of one leaf needs no other check; a longer one runs
 * any_leaf over its whole range first, to be all or nothing.
 */
static int map_leaf(struct sim_machine *m, struct simi_domain *d,
		   uint64_t iova, uint64_t phys, int lvl, uint64_t bits)
{
	uint64_t table = d->root;
	for (int l = PT_LEVELS - 1; l > lvl; l--) {
		uint64_t *e = &dom_pt(m, d, table)[level_index(iova, l)];
		if (*e & PTE_LEAF)
			return -EEXIST; /* a larger leaf covers it */
		if (!(*e & PTE_P)) {
			uint64_t np;
			int rc = pt_alloc(m, d, &np);
			if (rc)
				return rc;
			*e = np | PTE_P;
		}
		table = *e & PTE_ADDR;
	}
	uint64_t *e = &dom_pt(m, d, table)[level_index(iova, lvl)];
	if (*e & PTE_P) {
		if (lvl == 0 || (*e & PTE_LEAF) ||
		    any_leaf(m, *e & PTE_ADDR, lvl - 1, iova, iova,
			     iova + level_span(lvl)))
			return -EEXIST;
		pt_free_tree(m, d, *e & PTE_ADDR, lvl - 1);
	}
	*e = phys | bits | PTE_P | PTE_LEAF;
	return 0;
}

/*
 * A 4 KiB unmap by one descent: *done is what it cleared (0 when nothing
 * was mapped).  False, with nothing changed, when a larger leaf covers
 * the page: splitting it is unmap_level's job.
 */
static bool unmap_page(struct sim_machine *m, struct simi_domain *d,
		       uint64_t iova, uint64_t *done)
{
	uint64_t table = d->root;
	*done = 0;
	for (int l = PT_LEVELS - 1; l > 0; l--) {
		uint64_t e = dom_pt(m, d, table)[level_index(iova, l)];
		if (!(e & PTE_P))
			return true;
		if (e & PTE_LEAF)
			return false;
		table = e & PTE_ADDR;
	}
	uint64_t *e = &dom_pt(m, d, table)[level_index(iova, 0)];
	if (*e & PTE_P)
		*done = SIM_PAGE_SIZE;
	*e = 0;
	return true;
}

struct unmap_walk {
	struct sim_machine *m;
	struct simi_domain *d;
	uint64_t done;    /* bytes unmapped */
	uint64_t splits;
};

/*
 * Unmaps [lo, hi) under `table` (level lvl, covering from `base`): a leaf
 * wholly inside is cleared; a large leaf sticking out is first split
 * into a table of next-level leaves with the same prot.  0 or -ENOMEM
 * (a split found no page; what was done stays done).
 */
static int unmap_level(struct unmap_walk *w, uint64_t table, int lvl,
		       uint64_t base, uint64_t lo, uint64_t hi)
{
	uint64_t *t = pt_entries(w->m, table);
	uint64_t span = level_span(lvl);
	unsigned int sh = level_shift(lvl);
	for (uint64_t i = (lo - base) >> sh; i <= (hi - 1 - base) >> sh; i++) {
		uint64_t e = t[i];
		if (!(e & PTE_P))
			continue;
		uint64_t eb = base + i * span, ee = eb + span;
		uint64_t s = lo > eb ? lo : eb, x = hi < ee ? hi : ee;
		if (lvl == 0 || (e & PTE_LEAF)) {
			if (s == eb && x == ee) {
				t[i] = 0;
				w->done += span;
				continue;
			}
			uint64_t nt;
			int rc = pt_alloc(w->m, w->d, &nt);
			if (rc)
				return rc;
			uint64_t *n = pt_entries(w->m, nt);
			uint64_t sub = span >> PT_BITS;
			for (unsigned int j = 0; j < PT_ENTRIES; j++)
				n[j] = ((e & PTE_ADDR) + j * sub) |
				       (e & PTE_PROT) | PTE_P | PTE_LEAF;
			e = nt | PTE_P;
			t[i] = e;
			w->splits++;
		}
		int rc = unmap_level(w, e & PTE_ADDR, lvl - 1, eb, s, x);
		if (rc)
			return rc;
	}
	return 0;
}

/* Marks the domain's IOTLB entries overlapping the range stale. */
static void tlb_mark_stale(struct simi_iommu *u, int id, uint64_t iova,
			   uint64_t size)
{
	pthread_mutex_lock(&u->lock);
	for (unsigned int i = 0; i < u->ntlb; i++) {
		struct iotlb_entry *t = &u->tlb[i];
		if (t->domain == id && overlaps(t->iova, t->size, iova, size))
			t->stale = true;
	}
	pthread_mutex_unlock(&u->lock);
}

/*
 * Domain locked: what every unmap does after the tables changed.  The
 * IOTLB scan is skipped when the IOTLB is empty (see tlb_valid).
 */
static void unmap_account(struct simi_domain *d, uint64_t iova, uint64_t size,
			  uint64_t splits, bool counted)
{
	struct simi_iommu *u = d->iommu;
	if (atomic_load_explicit(&u->tlb_valid, memory_order_relaxed))
		tlb_mark_stale(u, d->id, iova, size);
	if (splits) {
		pthread_mutex_lock(&u->lock);
		u->st.splits += splits;
		pthread_mutex_unlock(&u->lock);
	}
	if (counted)
		d->unmaps++;
}

/*
 * Domain locked; range checked.  See sim_iommu_unmap.  `call`: a caller's
 * unmap (counted in unmaps), not map's rollback.
 */
static int unmap_locked(struct sim_machine *m, struct simi_domain *d,
			uint64_t iova, uint64_t size, uint64_t *unmapped,
			bool call)
{
	struct unmap_walk w = { .m = m, .d = d };
	int rc = 0;
	if (size != SIM_PAGE_SIZE || !unmap_page(m, d, iova, &w.done))
		rc = unmap_level(&w, d->root, PT_LEVELS - 1, 0, iova, iova + size);
	d->mapped_bytes -= w.done;
	unmap_account(d, iova, size, w.splits, !rc && call);
	if (unmapped)
		*unmapped = w.done;
	return rc;
}

/* The largest supported leaf that alignment and length allow (level). */
static int leaf_level(uint64_t page_sizes, uint64_t iova, uint64_t phys,
		      uint64_t left)
{
	int lvl = 2;
	for (; lvl > 0; lvl--) {
		uint64_t pg = level_span(lvl);
		if ((page_sizes & pg) && !(iova & (pg - 1)) &&
		    !(phys & (pg - 1)) && left >= pg)
			break;
	}
	return lvl;
}

/* [iova, iova + size): size > 0, 4 KiB aligned, below 2^48. */
static bool good_range(uint64_t iova, uint64_t size)
{
	return size && !((iova | size) & SIM_PAGE_MASK) && iova < IOVA_LIMIT &&
	       size <= IOVA_LIMIT - iova;
}

int sim_iommu_map(struct sim_machine *m, int domain_id, uint64_t iova,
		  uint64_t phys, uint64_t size, unsigned int prot)
{
	if (!m || !m->iommus.ready || !good_range(iova, size) ||
	    !good_range(phys, size) || (prot & ~PROT_ALL) ||
	    !(prot & (DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE)))
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = translated_get(m, domain_id);
	if (!d) {
		simi_read_unlock(&m->iommus.lock);
		return -EINVAL;
	}
	uint64_t ps = d->iommu->page_sizes, bits = prot_to_pte(prot);
	int rc = 0;
	uint64_t off = 0;
	simi_spin_lock(&d->lock);
	/* All or nothing: one leaf's own descent checks it; more need a look first. */
	if (level_span(leaf_level(ps, iova, phys, size)) < size &&
	    any_leaf(m, d->root, PT_LEVELS - 1, 0, iova, iova + size))
		rc = -EEXIST;
	while (!rc && off < size) {
		int lvl = leaf_level(ps, iova + off, phys + off, size - off);
		rc = map_leaf(m, d, iova + off, phys + off, lvl, bits);
		if (!rc)
			off += level_span(lvl);
	}
	if (!rc) {
		d->mapped_bytes += size;
		d->maps++;
	} else if (off) {
		/* Whole leaves only: no split, so this cannot fail. */
		d->mapped_bytes += off;
		unmap_locked(m, d, iova, off, NULL, false);
	}
	simi_spin_unlock(&d->lock);
	simi_read_unlock(&m->iommus.lock);
	return rc;
}

int sim_iommu_unmap(struct sim_machine *m, int domain_id, uint64_t iova,
		    uint64_t size, uint64_t *unmapped)
{
	if (unmapped)
		*unmapped = 0;
	if (!m || !m->iommus.ready || !good_range(iova, size))
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = translated_get(m, domain_id);
	int rc = -EINVAL;
	if (d) {
		simi_spin_lock(&d->lock);
		rc = unmap_locked(m, d, iova, size, unmapped, true);
		simi_spin_unlock(&d->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return rc;
}

int sim_iommu_iova_to_phys(struct sim_machine *m, int domain_id,
			   uint64_t iova, uint64_t *phys, unsigned int *prot,
			   uint64_t *leaf_size)
{
	if (!m || !m->iommus.ready)
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = translated_get(m, domain_id);
	struct leaf lf;
	int rc = -EINVAL;
	if (d) {
		simi_spin_lock(&d->lock);
		rc = walk(m, d, iova, &lf) ? 0 : -ENOENT;
		simi_spin_unlock(&d->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	if (!rc) {
		if (phys)
			*phys = lf.phys + (iova - lf.iova);
		if (prot)
			*prot = lf.prot;
		if (leaf_size)
			*leaf_size = lf.size;
	}
	return rc;
}

/* ---- the IOTLB ------------------------------------------------------------- */

/*
 * One invalidation command: drops the domain's entries overlapping
 * [iova, iova + size) (all of them when all), counts it and its cost.
 */
static int invalidate(struct sim_machine *m, int domain_id, bool all,
		      uint64_t iova, uint64_t size)
{
	if (!m || !m->iommus.ready)
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = translated_get(m, domain_id);
	if (d) {
		struct simi_iommu *u = d->iommu;
		pthread_mutex_lock(&u->lock);
		for (unsigned int i = 0; i < u->ntlb; i++) {
			struct iotlb_entry *t = &u->tlb[i];
			if (t->domain == d->id &&
			    (all || overlaps(t->iova, t->size, iova, size)))
				tlb_drop(u, t);
		}
		u->st.invalidations++;
		u->st.inval_cost_ns += u->cost_ns;
		pthread_mutex_unlock(&u->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return d ? 0 : -EINVAL;
}

int sim_iommu_iotlb_sync(struct sim_machine *m, int domain_id, uint64_t iova,
			 uint64_t size)
{
	if (!size || iova + (size - 1) < iova)
		return -EINVAL;
	return invalidate(m, domain_id, false, iova, size);
}

int sim_iommu_flush_all(struct sim_machine *m, int domain_id)
{
	int rc = invalidate(m, domain_id, true, 0, 0);
	if (m->iommus.flush_hook)
		m->iommus.flush_hook(m->iommus.flush_hook_arg, domain_id);
	return rc;
}

void sim_iommu_set_flush_hook(struct sim_machine *m, void (*fn)(void *arg, int domain_id),
			      void *arg)
{
	m->iommus.flush_hook_arg = arg;
	m->iommus.flush_hook = fn;
}

/* u->lock held.  The entry translating iova for domain id, or NULL. */
static struct iotlb_entry *tlb_find(struct simi_iommu *u, int id,
				    uint64_t iova)
{
	for (unsigned int i = 0; i < u->ntlb; i++) {
		struct iotlb_entry *t = &u->tlb[i];
		if (t->domain == id && iova - t->iova < t->size)
			return t;
	}
	return NULL;
}

/*
 * u->lock held.  Caches a walked leaf: entries of the domain overlapping
 * it go first (a TLB never holds two translations for one address), then
 * a free entry or the least recently used one is taken.
 */
static void tlb_insert(struct simi_iommu *u, int id, const struct leaf *lf)
{
	struct iotlb_entry *victim = &u->tlb[0]; /* ntlb >= 1 */
	for (unsigned int i = 0; i < u->ntlb; i++) {
		struct iotlb_entry *t = &u->tlb[i];
		if (t->domain == id && overlaps(t->iova, t->size, lf->iova,
						lf->size))
			tlb_drop(u, t);
		if (victim->domain && (!t->domain || t->used < victim->used))
			victim = t;
	}
	if (!victim->domain)
		atomic_store_explicit(&u->tlb_valid,
				      atomic_load_explicit(&u->tlb_valid, memory_order_relaxed) + 1,
				      memory_order_relaxed);
	*victim = (struct iotlb_entry){ .domain = id, .prot = lf->prot,
					.iova = lf->iova, .size = lf->size,
					.phys = lf->phys, .used = ++u->clock };
}

/* ---- translating device accesses ------------------------------------------- */

void simi_xlate_fini(struct simi_xlate *x)
{
	if (x->v != x->small)
		free(x->v);
	x->v = x->small;
	x->n = 0;
	x->cap = sizeof(x->small) / sizeof(x->small[0]);
}

/* Appends a piece, merging with a physically adjacent last one. */
static int xlate_push(struct simi_xlate *x, uint64_t phys, uint64_t len)
{
	if (x->n && x->v[x->n - 1].phys + x->v[x->n - 1].len == phys) {
		x->v[x->n - 1].len += len;
		return 0;
	}
	if (x->n == x->cap) {
		size_t ncap = x->cap * 2;
		struct simi_dma_piece *v;
		if (x->v == x->small) {
			v = malloc(ncap * sizeof(*v));
			if (v)
				memcpy(v, x->small, sizeof(x->small));
		} else {
			v = realloc(x->v, ncap * sizeof(*v));
		}
		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = ncap;
	}
	x->v[x->n++] = (struct simi_dma_piece){ phys, len };
	return 0;
}

static void record_fault(struct simi_iommu *u, const struct sim_device *dev,
			 int domain_id, uint64_t iova, bool write,
			 enum sim_iommu_fault_reason reason)
{
	pthread_mutex_lock(&u->lock);
	u->faults[u->nfaults % SIM_IOMMU_FAULTS] = (struct sim_iommu_fault){
		.device = dev->desc.name, .domain_id = domain_id,
		.iova = iova, .write = write, .reason = reason,
	};
	u->nfaults++;
	u->st.faults++;
	if (reason == SIM_IOMMU_FAULT_UNMAPPED)
		u->st.faults_unmapped++;
	else if (reason == SIM_IOMMU_FAULT_PERMISSION)
		u->st.faults_permission++;
	else
		u->st.faults_window++;
	pthread_mutex_unlock(&u->lock);
}

/*
 * The leaf translating iova: from the IOTLB, else by a walk whose result
 * is cached.  False when nothing translates it.
 */
static bool translate_page(struct sim_machine *m, struct simi_domain *d,
			   uint64_t iova, struct leaf *lf)
{
	struct simi_iommu *u = d->iommu;
	pthread_mutex_lock(&u->lock);
	struct iotlb_entry *t = tlb_find(u, d->id, iova);
	if (t) {
		t->used = ++u->clock;
		u->st.iotlb_hits++;
		if (t->stale)
			u->st.stale_hits++;
		*lf = (struct leaf){ t->iova, t->size, t->phys, t->prot };
	}
	pthread_mutex_unlock(&u->lock);
	if (t)
		return true;
	if (iova >= IOVA_LIMIT)
		return false; /* beyond the tables: no walk */
	simi_spin_lock(&d->lock);
	bool found = walk(m, d, iova, lf);
	pthread_mutex_lock(&u->lock);
	u->st.iotlb_misses++;
	u->st.walks++;
	if (found)
		tlb_insert(u, d->id, lf);
	pthread_mutex_unlock(&u->lock);
	simi_spin_unlock(&d->lock);
	return found;
}

enum route {
	ROUTE_TABLES,   /* the translated window: tables and IOTLB */
	ROUTE_BYPASS,   /* the bypass window: phys = bus - bypass_offset */
	ROUTE_BLOCKED,  /* outside every window, or straddling an edge */
};

/* True when [a, last] lies in [base, base + size) (size >= 1). */
static bool inside(uint64_t base, uint64_t size, uint64_t a, uint64_t last)
{
	return a >= base && last - base <= size - 1;
}

/*
 * Routes access [a, last] (a <= last) by d's windows (registry lock
 * held).  For ROUTE_BLOCKED, *blocked is the first byte outside the
 * window holding a, or a when none holds it.  The whole access decides,
 * so a straddling access never half-moves.
 */
static enum route route_access(const struct simi_domain *d, uint64_t a,
			       uint64_t last, uint64_t *blocked)
{
	if (d->bypass && a - d->bypass_offset < d->bypass_size) {
		if (inside(d->bypass_offset, d->bypass_size, a, last))
			return ROUTE_BYPASS;
		*blocked = d->bypass_offset + d->bypass_size;
		return ROUTE_BLOCKED;
	}
	if (d->tr_size == 0) {
		/* Everything but the bypass window: running into it is
		 * straddling its lower edge (it cannot start above it). */
		if (d->bypass && a < d->bypass_offset &&
		    last >= d->bypass_offset) {
			*blocked = d->bypass_offset;
			return ROUTE_BLOCKED;
		}
		return ROUTE_TABLES;
	}
	if (a - d->tr_base < d->tr_size) {
		if (inside(d->tr_base, d->tr_size, a, last))
			return ROUTE_TABLES;
		*blocked = d->tr_base + d->tr_size;
		return ROUTE_BLOCKED;
	}
	*blocked = a;
	return ROUTE_BLOCKED;
}

int simi_iommu_translate(struct sim_device *dev, uint64_t iova, uint64_t len,
			 bool write, bool reaches_iommu, struct simi_xlate *x)
{
	x->v = x->small;
	x->n = 0;
	x->cap = sizeof(x->small) / sizeof(x->small[0]);
	struct sim_machine *m = dev->m;
	if (!m->iommus.ready)
		return SIMI_XLATE_DIRECT;
	simi_read_lock(&m->iommus.lock);
	struct simi_domain *d = dev->iommu_dom;
	int rc = 0;
	if (!d || d->type != SIM_IOMMU_DOMAIN_TRANSLATED)
		rc = SIMI_XLATE_DIRECT;
	else if (!reaches_iommu)
		rc = -ENXIO;
	/*
	 * reaches_iommu means the interconnect checked the whole access, so
	 * iova + len - 1 does not wrap.  Windows decide before any IOTLB
	 * lookup: a bypassed or blocked access costs the tables nothing.
	 */
	uint64_t blocked = iova;
	enum route rt = rc ? ROUTE_TABLES
			   : route_access(d, iova, iova + (len - 1), &blocked);
	if (rt == ROUTE_BLOCKED) {
		record_fault(d->iommu, dev, d->id, blocked, write,
			     SIM_IOMMU_FAULT_OUTSIDE_WINDOW);
		rc = -EFAULT;
	} else if (rt == ROUTE_BYPASS) {
		struct simi_iommu *u = d->iommu;
		pthread_mutex_lock(&u->lock);
		u->st.bypass_accesses++;
		pthread_mutex_unlock(&u->lock);
		/* One piece: the bypass is linear. */
		rc = xlate_push(x, iova - d->bypass_offset, len);
	}
	unsigned int need = write ? DMAMAP_IOMMU_WRITE : DMAMAP_IOMMU_READ;
	/* Page by page (leaf by leaf): each part may land anywhere. */
	for (uint64_t a = iova, rem = len; !rc && rt == ROUTE_TABLES && rem;) {
		struct leaf lf;
		enum sim_iommu_fault_reason why = 0;
		if (!translate_page(m, d, a, &lf))
			why = SIM_IOMMU_FAULT_UNMAPPED;
		else if (!(lf.prot & need))
			why = SIM_IOMMU_FAULT_PERMISSION;
		if (why) {
			record_fault(d->iommu, dev, d->id, a, write, why);
			rc = -EFAULT;
			break;
		}
		uint64_t off = a - lf.iova;
		uint64_t n = lf.size - off < rem ? lf.size - off : rem;
		rc = xlate_push(x, lf.phys + off, n);
		a += n;
		rem -= n;
	}
	simi_read_unlock(&m->iommus.lock);
	return rc;
}

/* ---- reading the counters ---------------------------------------------------- */

int sim_iommu_get_stats(struct sim_machine *m, int iommu_id,
			struct sim_iommu_stats *st)
{
	if (!m || !st || !m->iommus.ready)
		return -EINVAL;
	simi_read_lock(&m->iommus.lock);
	struct simi_iommu *u = iommu_get(m, iommu_id);
	if (u) {
		/* Domain locks first: an IOMMU's lock is never taken before one. */
		uint64_t maps = 0, unmaps = 0;
		for (unsigned int i = 0; i < m->iommus.ndom; i++) {
			struct simi_domain *d = m->iommus.dom[i];
			if (d && d->iommu == u) {
				simi_spin_lock(&d->lock);
				maps += d->maps;
				unmaps += d->unmaps;
				simi_spin_unlock(&d->lock);
			}
		}
		pthread_mutex_lock(&u->lock);
		*st = u->st;
		st->maps = maps + u->gone_maps;
		st->unmaps = unmaps + u->gone_unmaps;
		pthread_mutex_unlock(&u->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return u ? 0 : -EINVAL;
}

unsigned int sim_iommu_faults(struct sim_machine *m, int iommu_id,
			      struct sim_iommu_fault *out, unsigned int max)
{
	if (!m || !m->iommus.ready)
		return 0;
	simi_read_lock(&m->iommus.lock);
	struct simi_iommu *u = iommu_get(m, iommu_id);
	unsigned int n = 0;
	if (u && out) {
		pthread_mutex_lock(&u->lock);
		uint64_t kept = u->nfaults < SIM_IOMMU_FAULTS ? u->nfaults
							    : SIM_IOMMU_FAULTS;
		n = kept < max ? (unsigned int)kept : max;
		/* The newest n, oldest of them first. */
		for (unsigned int i = 0; i < n; i++)
			out[i] = u->faults[(u->nfaults - n + i) %
					   SIM_IOMMU_FAULTS];
		pthread_mutex_unlock(&u->lock);
	}
	simi_read_unlock(&m->iommus.lock);
	return n;
}
