/*
 * sim/xen.c - a Xen-like hypervisor under the simulated machine (sim/xen.h).
 *
 * Owns: the host's machine frames and who owns each (the OS, a domU, or
 * the hypervisor's free memory), the OS's p2m, the hypervisor's low memory
 * for exchanges, domUs and their grant tables, the OS's foreign (grant)
 * mappings, the hypervisor calls of platform.h (struct dmamap_hv_ops), the
 * hypervisor's IOMMU for the devices it covers, and the turning of a
 * device's bus address into storage for device.c.  Must never decide DMA
 * policy (swiotlb-xen or not, bounce or not: the library's), never include
 * anything from src/, and never change how the OS's own memory is stored:
 * the CPU view, the page allocator and the cache model keep working on the
 * OS's guest-physical addresses exactly as on bare metal.
 *
 * Storage.  The machine's memfd at offset == guest-physical address holds
 * the OS's own frames (that is sim_machine_create's memory, untouched).
 * Every machine frame the OS does not own (free hypervisor memory, domU
 * frames) lives at SIMI_XEN_OTHER_BASE + mfn * 4 KiB of the same sparse
 * memfd, seen through one MAP_SHARED mapping (m->xen_other) that is not
 * RAM to the OS.  So storage(mfn) is pfn * 4 KiB when the OS owns mfn as
 * pfn, else OTHER + mfn * 4 KiB; storage(pfn) is pfn * 4 KiB for the OS's
 * own frames and OTHER + mfn * 4 KiB for a foreign (grant-mapped) pfn,
 * whose page of the OS's linear map is re-mmapped onto that storage.  A
 * p2m change of an own frame (exchange, destroy) therefore moves no byte:
 * the data stays at pfn * 4 KiB while the machine frame behind it changes.
 * The cache model is keyed by storage address.
 *
 * Invariants (under `lock`, a rwlock: DMA translations, queries and
 * cache operations read; every change writes):
 *   - frame table (ft) and p2m are two-level sparse tables with 1 GiB
 *     leaves, allocated on demand; an absent leaf reads 0 (FREE / no
 *     entry), so untouched host memory costs nothing.
 *   - ft[mfn] = OS(pfn) iff p2m[pfn] = mfn and pfn is not foreign;
 *     ft[mfn] = DOMU(domid, gfn) iff that domU's gfn is mfn.
 *   - a host frame that is FREE is in exactly one of: the frames below
 *     2 MiB (the hypervisor's own, never handed out), the lowmem region
 *     [lm_lo, lm_hi) (exchanges only), the free list `free` (frame
 *     numbers; domUs and destroy_contiguous), or lost (a free-list
 *     insertion failed for host memory: unreachable, harmless).
 *   - a foreign pfn is in [fbase, fbase + nforeign) (sim_reserve'd in the
 *     OS) and has a p2m entry only while its slot is mapped.
 * Lock order: the IOMMU registry (creation only) -> xen lock -> page
 * allocator -> cache lock.  The cache model never takes the xen lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_internal.h"
#include "xen.h"

#define OTHER SIMI_XEN_OTHER_BASE
#define PAGE SIM_PAGE_SIZE
#define LEAF_BITS 18                     /* 2^18 frames: 1 GiB per leaf */
#define LEAF_N (1ULL << LEAF_BITS)
#define XEN_OWN_FRAMES ((2ULL << 20) >> SIM_PAGE_SHIFT) /* below 2 MiB */
#define FRAMES_4G (SIM_4G >> SIM_PAGE_SHIFT)
#define DEFAULT_LOWMEM (128ULL << 20)
#define DEFAULT_FOREIGN 4096ULL
#define DEFAULT_SCATTER_ORDER 4
#define DEFAULT_NCOLORS 16
#define GRANT_ENTRIES 4096u
#define DOMU_CHUNK 16ULL                 /* domU frames come in 64 KiB chunks */
#define MAX_DOMUS 1024u
#define MAX_ORDER 18                     /* exchange: at most 1 GiB at once */
#define NO_RUN UINT64_MAX

/* Frame table entries: kind in bits 0-1, domid 2-17, pfn / gfn from 18. */
#define FT_FREE 0ULL
#define FT_OS 1ULL
#define FT_DOMU 2ULL
#define FT_KIND(e) ((e) & 3ULL)
#define FT_DOMID(e) ((uint16_t)(((e) >> 2) & 0xffffULL))
#define FT_INDEX(e) ((e) >> 18)
#define FT_MAKE(kind, domid, idx) \
	((kind) | ((uint64_t)(domid) << 2) | ((uint64_t)(idx) << 18))

/* p2m entries: 0 none; else present, read-only bit, mfn from bit 2. */
#define P2M_PRESENT 1ULL
#define P2M_RO 2ULL
#define P2M_MFN(e) ((e) >> 2)
#define P2M_MAKE(mfn, ro) (((uint64_t)(mfn) << 2) | P2M_PRESENT | \
			   ((ro) ? P2M_RO : 0))

struct sparse {
	uint64_t **leaf;
	uint64_t nleaf;
};

struct grant {
	bool used;
	bool ro;
	uint64_t gfn;
	uint32_t maps;      /* foreign mappings of this grant by the OS now */
};

struct domu {
	uint16_t domid;
	uint64_t npages;
	uint64_t *mfn;      /* gfn -> mfn */
	uint32_t *maps;     /* gfn -> foreign mappings by the OS now */
	struct grant *grants; /* GRANT_ENTRIES */
};

/* A foreign pfn of the OS: fbase + its index. */
struct fslot {
	bool used;
	bool ro;
	uint16_t domid;
	uint32_t gref;
	uint64_t gfn;
	uint64_t mfn;
};

struct sim_xen {
	struct sim_machine *m;           /* immutable after creation, down to nforeign */
	enum dmamap_xen_mode mode;
	bool dom0;
	uint32_t features;
	bool p2m_visible;                /* PV, or DMAMAP_XENFEAT_P2M_QUERY */
	uint64_t seed;
	struct simi_extent host[SIM_MAX_RAM_RANGES]; /* frames, merged, sorted */
	unsigned int nhost;
	uint64_t host_frames_end;        /* exclusive */
	uint64_t lm_lo, lm_hi;           /* lowmem region, frames */
	uint64_t fbase, nforeign;        /* foreign pfns */

	pthread_rwlock_t lock;           /* guards everything below */
	struct sparse ft;                /* mfn -> FT_* */
	struct sparse p2m;               /* pfn -> P2M_* */
	struct simi_extents free;        /* frame numbers */
	uint64_t nfree;                  /* frames in `free` */
	struct fslot *fslots;            /* nforeign */
	struct domu **domus;             /* domid - 1 */
	unsigned int ndomu;
	struct sim_xen_stats st;         /* non-atomic fields */

	/* Counted by readers (under the read lock, or none). */
	_Atomic uint64_t nmapped;        /* foreign slots in use: cache fast path */
	_Atomic uint64_t cache_flushes, p2m_queries;
	_Atomic uint64_t dma_own, dma_foreign, dma_stray;
};

/* ---- small helpers ------------------------------------------------------------ */

static int bad(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Fisher-Yates with a seeded generator: the same seed, the same order. */
static void shuffle(uint64_t *v, uint64_t n, uint64_t seed)
{
	uint64_t s = seed;
	for (uint64_t i = n; i > 1; i--) {
		uint64_t j = splitmix(&s) % i;
		uint64_t t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static int sparse_init(struct sparse *t, uint64_t nidx)
{
	t->nleaf = (nidx + LEAF_N - 1) >> LEAF_BITS;
	t->leaf = calloc(t->nleaf ? t->nleaf : 1, sizeof(*t->leaf));
	return t->leaf ? 0 : -ENOMEM;
}

static void sparse_fini(struct sparse *t)
{
	for (uint64_t i = 0; t->leaf && i < t->nleaf; i++)
		free(t->leaf[i]);
	free(t->leaf);
	t->leaf = NULL;
	t->nleaf = 0;
}

static uint64_t sparse_get(const struct sparse *t, uint64_t i)
{
	uint64_t l = i >> LEAF_BITS;
	if (l >= t->nleaf || !t->leaf[l])
		return 0;
	return t->leaf[l][i & (LEAF_N - 1)];
}

/* Makes index i storable; 0, -EINVAL (beyond the table) or -ENOMEM. */
static int sparse_ensure(struct sparse *t, uint64_t i)
{
	uint64_t l = i >> LEAF_BITS;
	if (l >= t->nleaf)
		return -EINVAL;
	/* calloc of 2 MiB maps fresh zero pages: untouched parts cost nothing. */
	if (!t->leaf[l] && !(t->leaf[l] = calloc(LEAF_N, sizeof(uint64_t))))
		return -ENOMEM;
	return 0;
}

/* Stores v at i; never fails once sparse_ensure(i) succeeded, or for v 0. */
static int sparse_set(struct sparse *t, uint64_t i, uint64_t v)
{
	uint64_t l = i >> LEAF_BITS;
	if (!v && (l >= t->nleaf || !t->leaf[l]))
		return 0;
	int rc = sparse_ensure(t, i);
	if (rc)
		return rc;
	t->leaf[l][i & (LEAF_N - 1)] = v;
	return 0;
}

static bool host_has(const struct sim_xen *x, uint64_t mfn)
{
	unsigned int lo = 0, hi = x->nhost;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		if (x->host[mid].end <= mfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < x->nhost && x->host[lo].base <= mfn;
}

static bool in_lowmem(const struct sim_xen *x, uint64_t mfn)
{
	return mfn >= x->lm_lo && mfn < x->lm_hi;
}

static bool is_foreign_pfn(const struct sim_xen *x, uint64_t pfn)
{
	return pfn - x->fbase < x->nforeign;
}

/* Storage of machine frame mfn (host RAM) whose frame entry is e. */
static uint64_t storage_of(uint64_t mfn, uint64_t e)
{
	if (FT_KIND(e) == FT_OS)
		return FT_INDEX(e) << SIM_PAGE_SHIFT;
	return OTHER + (mfn << SIM_PAGE_SHIFT);
}

static struct domu *domu_get(const struct sim_xen *x, uint16_t domid)
{
	return domid >= 1 && domid <= x->ndomu ? x->domus[domid - 1] : NULL;
}

/*
 * A frame going back to the hypervisor: it is FREE from now on and, when
 * it is neither its own (below 2 MiB) nor lowmem, on the free list.
 * Its entry's leaf exists (it was owned).  Write lock held.
 */
static void frame_release(struct sim_xen *x, uint64_t mfn)
{
	(void)sparse_set(&x->ft, mfn, FT_FREE);
	if (mfn < XEN_OWN_FRAMES || in_lowmem(x, mfn))
		return;
	if (simi_ext_add(&x->free, mfn, mfn + 1) == 0)
		x->nfree++;
	/* else lost: FREE but unreachable, which only wastes the frame */
}

/*
 * The top n frames of the free list, highest first, into out (not yet
 * taken: frames_take does that).  Leaves of their entries are made
 * storable.  0 or -ENOMEM (nothing changed).  Write lock held.
 */
static int frames_peek(struct sim_xen *x, uint64_t n, uint64_t *out)
{
	if (x->nfree < n)
		return -ENOMEM;
	uint64_t k = 0;
	for (size_t i = x->free.n; i-- > 0 && k < n;) {
		for (uint64_t f = x->free.v[i].end; f-- > x->free.v[i].base && k < n;) {
			if (sparse_ensure(&x->ft, f))
				return -ENOMEM;
			out[k++] = f;
		}
	}
	return 0;
}

/* Takes what frames_peek returned (its last frame is the lowest). */
static void frames_take(struct sim_xen *x, uint64_t n, const uint64_t *peeked)
{
	if (!n)
		return;
	/* From the lowest one to the end: only trims, never fails. */
	(void)simi_ext_remove(&x->free, peeked[n - 1], UINT64_MAX);
	x->nfree -= n;
}

/* Forgets the cache model's state of mfn's frame-of-others storage. */
static void forget_other(struct sim_xen *x, uint64_t mfn, uint64_t n)
{
	simi_cache_forget(x->m, OTHER + (mfn << SIM_PAGE_SHIFT),
			  n << SIM_PAGE_SHIFT);
}

/* ---- building ------------------------------------------------------------- */

/* The host ranges, merged into frames; 0 or -EINVAL. */
static int set_host(struct sim_xen *x, const struct sim_xen_desc *d,
		    const char **why)
{
	struct sim_machine *m = x->m;
	struct sim_ram_range r[SIM_MAX_RAM_RANGES];
	unsigned int n = 0;
	if (d->nhost > SIM_MAX_RAM_RANGES)
		return bad(why, "more than SIM_MAX_RAM_RANGES host RAM ranges");
	if (d->nhost) {
		memcpy(r, d->host_ram, d->nhost * sizeof(r[0]));
		n = d->nhost;
	} else if (d->p2m == SIM_XEN_P2M_IDENTITY) {
		for (unsigned int i = 0; i < m->nmap; i++)
			r[n++] = (struct sim_ram_range){
				m->map[i].base, m->map[i].end - m->map[i].base };
	} else {
		r[n++] = (struct sim_ram_range){ 0, SIM_4G };
		r[n++] = (struct sim_ram_range){
			SIM_4G, 2 * m->total_ram + (256ULL << 20) };
	}
	uint64_t prev = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (!r[i].size || ((r[i].base | r[i].size) & SIM_PAGE_MASK))
			return bad(why, "host RAM range empty or not 4 KiB aligned");
		if (r[i].base >= OTHER || r[i].size > OTHER - r[i].base)
			return bad(why, "host RAM must end below 2^47");
		if (i && r[i].base < prev)
			return bad(why, "host RAM ranges unsorted or overlapping");
		prev = r[i].base + r[i].size;
		uint64_t b = r[i].base >> SIM_PAGE_SHIFT, e = prev >> SIM_PAGE_SHIFT;
		if (x->nhost && x->host[x->nhost - 1].end == b)
			x->host[x->nhost - 1].end = e;
		else
			x->host[x->nhost++] = (struct simi_extent){ b, e };
	}
	x->host_frames_end = x->host[x->nhost - 1].end;
	return 0;
}

/*
 * The lowmem region: among the runs of free host RAM in [2 MiB, 4 GiB)
 * that no domain uses, the highest one holding `want` frames gives its
 * top `want` frames; if none does, the largest run (the highest of equal
 * ones) is all there is (possibly nothing).  A region is one run so that
 * machine-contiguous exchanges can come from it.
 */
static int pick_lowmem(struct sim_xen *x, uint64_t want, bool identity)
{
	struct simi_extents fr = { 0 };
	int rc = 0;
	for (unsigned int i = 0; i < x->nhost && !rc; i++) {
		uint64_t b = x->host[i].base, e = x->host[i].end;
		b = b > XEN_OWN_FRAMES ? b : XEN_OWN_FRAMES;
		e = e < FRAMES_4G ? e : FRAMES_4G;
		if (b < e)
			rc = simi_ext_add(&fr, b, e);
	}
	for (unsigned int i = 0; identity && i < x->m->nmap && !rc; i++)
		rc = simi_ext_remove(&fr, x->m->map[i].base >> SIM_PAGE_SHIFT,
				     x->m->map[i].end >> SIM_PAGE_SHIFT);
	if (rc) {
		simi_ext_free(&fr);
		return rc;
	}
	size_t best = fr.n;
	for (size_t i = fr.n; i-- > 0;) {
		uint64_t len = fr.v[i].end - fr.v[i].base;
		if (len >= want) {
			best = i;
			break;
		}
		if (best == fr.n || len > fr.v[best].end - fr.v[best].base)
			best = i;
	}
	if (best < fr.n) {
		uint64_t len = fr.v[best].end - fr.v[best].base;
		x->lm_hi = fr.v[best].end;
		x->lm_lo = x->lm_hi - (len < want ? len : want);
	}
	simi_ext_free(&fr);
	return 0;
}

/* p2m[pfn] = mfn for an own frame. */
static int own(struct sim_xen *x, uint64_t pfn, uint64_t mfn)
{
	int rc = sparse_set(&x->p2m, pfn, P2M_MAKE(mfn, false));
	return rc ? rc : sparse_set(&x->ft, mfn, FT_MAKE(FT_OS, 0, pfn));
}

static int layout_identity(struct sim_xen *x, const char **why)
{
	struct sim_machine *m = x->m;
	for (unsigned int i = 0; i < m->nmap; i++) {
		uint64_t b = m->map[i].base >> SIM_PAGE_SHIFT;
		uint64_t e = m->map[i].end >> SIM_PAGE_SHIFT;
		bool inside = false;
		for (unsigned int h = 0; h < x->nhost; h++)
			inside |= x->host[h].base <= b && e <= x->host[h].end;
		if (!inside)
			return bad(why, "IDENTITY: an OS RAM range is not inside host RAM");
		for (uint64_t p = b; p < e; p++)
			if (own(x, p, p))
				return -ENOMEM;
	}
	return 0;
}

/* True when machine chunk c (2^order frames) may hold OS frames. */
static bool chunk_ok(const struct sim_xen *x, uint64_t c, unsigned int order)
{
	uint64_t b = c << order, e = (c + 1) << order;
	return b >= XEN_OWN_FRAMES && (e <= x->lm_lo || b >= x->lm_hi);
}

static int layout_scattered(struct sim_xen *x, unsigned int order,
			    const char **why)
{
	struct sim_machine *m = x->m;
	uint64_t nos = 0;
	for (unsigned int i = 0; i < m->nmap; i++)
		nos += (((m->map[i].end >> SIM_PAGE_SHIFT) - 1) >> order) -
		       ((m->map[i].base >> SIM_PAGE_SHIFT) >> order) + 1;
	uint64_t *mc = malloc(nos * sizeof(*mc));
	if (!mc)
		return -ENOMEM;
	uint64_t got = 0;
	/* Above 4 GiB upward first (as Xen populates), then below it downward. */
	for (unsigned int i = 0; i < x->nhost && got < nos; i++) {
		uint64_t b = x->host[i].base > FRAMES_4G ? x->host[i].base : FRAMES_4G;
		uint64_t e = x->host[i].end;
		for (uint64_t c = (b + (1ULL << order) - 1) >> order;
		     b < e && (c + 1) << order <= e && got < nos; c++)
			if (chunk_ok(x, c, order))
				mc[got++] = c;
	}
	for (unsigned int i = x->nhost; i-- > 0 && got < nos;) {
		uint64_t b = x->host[i].base;
		uint64_t e = x->host[i].end < FRAMES_4G ? x->host[i].end : FRAMES_4G;
		uint64_t cb = (b + (1ULL << order) - 1) >> order;
		for (uint64_t c = e >> order; b < e && c-- > cb && got < nos;)
			if (chunk_ok(x, c, order))
				mc[got++] = c;
	}
	if (got < nos) {
		free(mc);
		return bad(why, "SCATTERED: host RAM too small for the OS's frames");
	}
	shuffle(mc, nos, x->seed);
	uint64_t k = 0;
	for (unsigned int i = 0; i < m->nmap; i++) {
		uint64_t b = m->map[i].base >> SIM_PAGE_SHIFT;
		uint64_t e = m->map[i].end >> SIM_PAGE_SHIFT;
		for (uint64_t c = b >> order; c << order < e; c++) {
			uint64_t mb = mc[k++] << order;
			uint64_t p0 = c << order > b ? c << order : b;
			uint64_t p1 = (c + 1) << order < e ? (c + 1) << order : e;
			for (uint64_t p = p0; p < p1; p++) {
				if (own(x, p, mb + (p - (c << order)))) {
					free(mc);
					return -ENOMEM;
				}
			}
		}
	}
	free(mc);
	return 0;
}

static int layout_colored(struct sim_xen *x, unsigned int ncolors,
			  uint64_t colors, const char **why)
{
	struct sim_machine *m = x->m;
	unsigned int r = 0;
	uint64_t p = m->map[0].base >> SIM_PAGE_SHIFT;
	for (unsigned int h = 0; h < x->nhost && r < m->nmap; h++) {
		uint64_t f = x->host[h].base > XEN_OWN_FRAMES ? x->host[h].base
							       : XEN_OWN_FRAMES;
		for (; f < x->host[h].end && r < m->nmap; f++) {
			if (in_lowmem(x, f)) {
				f = x->lm_hi - 1;
				continue;
			}
			if (!((colors >> (f & (ncolors - 1))) & 1))
				continue;
			if (own(x, p, f))
				return -ENOMEM;
			if (++p == m->map[r].end >> SIM_PAGE_SHIFT && ++r < m->nmap)
				p = m->map[r].base >> SIM_PAGE_SHIFT;
		}
	}
	if (r < m->nmap)
		return bad(why, "COLORED: host RAM has too few frames of the OS's colours");
	return 0;
}

/*
 * The foreign pfns leave the p2m as ballooned pages do; their machine
 * frames go back to the hypervisor (before the free list is built).
 */
static int take_foreign(struct sim_xen *x)
{
	x->fslots = calloc(x->nforeign ? x->nforeign : 1, sizeof(*x->fslots));
	if (!x->fslots)
		return -ENOMEM;
	for (uint64_t i = 0; i < x->nforeign; i++) {
		uint64_t e = sparse_get(&x->p2m, x->fbase + i);
		(void)sparse_set(&x->p2m, x->fbase + i, 0);
		(void)sparse_set(&x->ft, P2M_MFN(e), FT_FREE);
	}
	return 0;
}

/* Every FREE host frame from 2 MiB up, outside lowmem, onto the free list. */
static int build_free(struct sim_xen *x)
{
	for (unsigned int h = 0; h < x->nhost; h++) {
		uint64_t run = NO_RUN;
		uint64_t b = x->host[h].base > XEN_OWN_FRAMES ? x->host[h].base
							       : XEN_OWN_FRAMES;
		for (uint64_t f = b; f <= x->host[h].end; f++) {
			bool fr = f < x->host[h].end && !in_lowmem(x, f) &&
				  FT_KIND(sparse_get(&x->ft, f)) == FT_FREE;
			if (fr && run == NO_RUN)
				run = f;
			if (!fr && run != NO_RUN) {
				if (simi_ext_add(&x->free, run, f))
					return -ENOMEM;
				x->nfree += f - run;
				run = NO_RUN;
			}
		}
	}
	return 0;
}

static void xen_free(struct sim_xen *x)
{
	if (!x)
		return;
	for (unsigned int i = 0; i < x->ndomu; i++) {
		free(x->domus[i]->mfn);
		free(x->domus[i]->maps);
		free(x->domus[i]->grants);
		free(x->domus[i]);
	}
	free(x->domus);
	free(x->fslots);
	simi_ext_free(&x->free);
	sparse_fini(&x->ft);
	sparse_fini(&x->p2m);
	free(x);
}

static int check_desc(const struct sim_machine *m, const struct sim_xen_desc *d,
		      const char **why)
{
	switch (d->mode) {
	case DMAMAP_XEN_PV:
	case DMAMAP_XEN_PVH:
	case DMAMAP_XEN_HVM:
		if (m->arch != DMAMAP_ARCH_X86)
			return bad(why, "mode: PV, PVH and HVM are x86 guests");
		break;
	case DMAMAP_XEN_ARM:
		if (m->arch != DMAMAP_ARCH_ARM64)
			return bad(why, "mode: ARM needs an arm64 machine");
		break;
	default:
		return bad(why, "mode: must be PV, PVH, HVM or ARM");
	}
	if ((unsigned int)d->p2m > SIM_XEN_P2M_COLORED)
		return bad(why, "p2m: unknown layout");
	if (d->scatter_order > 9)
		return bad(why, "scatter_order: 0..9");
	unsigned int nc = d->ncolors ? d->ncolors : DEFAULT_NCOLORS;
	if (nc < 2 || nc > 64 || (nc & (nc - 1)))
		return bad(why, "ncolors: a power of two, 2..64");
	if (nc < 64 && (d->colors >> nc))
		return bad(why, "colors: a colour beyond ncolors");
	uint32_t known = DMAMAP_XENFEAT_DIRECT_MAPPED |
			 DMAMAP_XENFEAT_NOT_DIRECT_MAPPED |
			 DMAMAP_XENFEAT_DOM0_IOMMU | DMAMAP_XENFEAT_P2M_QUERY;
	if (d->features & ~known)
		return bad(why, "features: unknown DMAMAP_XENFEAT_ bits");
	if ((d->features & DMAMAP_XENFEAT_DIRECT_MAPPED) &&
	    (d->features & DMAMAP_XENFEAT_NOT_DIRECT_MAPPED))
		return bad(why, "features: both direct_mapped and not_direct_mapped");
	if ((d->features & DMAMAP_XENFEAT_DIRECT_MAPPED) &&
	    d->p2m != SIM_XEN_P2M_IDENTITY)
		return bad(why, "features: direct_mapped needs the IDENTITY p2m");
	if (m->ram_end > OTHER)
		return bad(why, "the OS's RAM must end below 2^47");
	uint64_t nf = d->foreign_frames ? d->foreign_frames : DEFAULT_FOREIGN;
	const struct simi_mapping *top = &m->map[m->nmap - 1];
	if (nf > (m->total_ram >> SIM_PAGE_SHIFT) / 4 ||
	    nf > (top->end - top->base) >> SIM_PAGE_SHIFT)
		return bad(why, "foreign_frames: more than 1/4 of the OS's RAM "
			   "or than its highest RAM range");
	return 0;
}

/* Frames-of-others storage: the memfd grows (sparse) and gets one mapping. */
static int map_other(struct sim_xen *x, uint8_t **cpu)
{
	struct sim_machine *m = x->m;
	uint64_t len = x->host_frames_end << SIM_PAGE_SHIFT;
	struct stat st;
	if (fstat(m->memfd, &st) ||
	    ((uint64_t)st.st_size < OTHER + len &&
	     ftruncate(m->memfd, (off_t)(OTHER + len))))
		return -ENOMEM;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_NORESERVE, m->memfd, (off_t)OTHER);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*cpu = p;
	return 0;
}

int sim_xen_create(struct sim_machine *m, const struct sim_xen_desc *d,
		   struct sim_xen **out, const char **why)
{
	if (why)
		*why = NULL;
	if (!m || !d || !out)
		return bad(why, "no machine, description or output pointer");
	int rc = check_desc(m, d, why);
	if (rc)
		return rc;
	if (!m->iommus.ready)
		return -ENOMEM;
	if (m->xen)
		return -EBUSY;

	struct sim_xen *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->m = m;
	x->mode = d->mode;
	x->dom0 = d->initial_domain;
	x->features = d->features;
	x->p2m_visible = d->mode == DMAMAP_XEN_PV ||
			 (d->features & DMAMAP_XENFEAT_P2M_QUERY);
	x->seed = d->seed;
	x->nforeign = d->foreign_frames ? d->foreign_frames : DEFAULT_FOREIGN;
	x->fbase = (m->map[m->nmap - 1].end >> SIM_PAGE_SHIFT) - x->nforeign;
	if (pthread_rwlock_init(&x->lock, NULL)) {
		free(x);
		return -ENOMEM;
	}
	uint8_t *other = NULL;
	rc = set_host(x, d, why);
	if (!rc && (sparse_init(&x->ft, x->host_frames_end) ||
		    sparse_init(&x->p2m, m->ram_end >> SIM_PAGE_SHIFT)))
		rc = -ENOMEM;
	uint64_t want = (d->lowmem_bytes ? d->lowmem_bytes : DEFAULT_LOWMEM) >>
			SIM_PAGE_SHIFT;
	if (!rc)
		rc = pick_lowmem(x, want, d->p2m == SIM_XEN_P2M_IDENTITY);
	if (!rc && d->p2m == SIM_XEN_P2M_IDENTITY)
		rc = layout_identity(x, why);
	else if (!rc && d->p2m == SIM_XEN_P2M_SCATTERED)
		rc = layout_scattered(x, d->scatter_order ? d->scatter_order
							  : DEFAULT_SCATTER_ORDER,
				      why);
	else if (!rc) {
		unsigned int nc = d->ncolors ? d->ncolors : DEFAULT_NCOLORS;
		uint64_t cm = d->colors ? d->colors : (1ULL << (nc / 2)) - 1;
		rc = layout_colored(x, nc, cm, why);
	}
	if (!rc)
		rc = take_foreign(x);
	if (!rc)
		rc = build_free(x);
	if (!rc)
		rc = map_other(x, &other);
	if (rc) {
		if (rc == -ENOMEM && why)
			*why = "out of host memory or address space";
		pthread_rwlock_destroy(&x->lock);
		xen_free(x);
		return rc;
	}
	x->st.lowmem_total = (x->lm_hi - x->lm_lo) << SIM_PAGE_SHIFT;

	/*
	 * Publish under the IOMMU registry's write lock: sim_iommu_create
	 * checks m->xen under the same lock, so the machine ends up with
	 * either IOMMUs or a hypervisor, never both.
	 */
	simi_write_lock(&m->iommus.lock);
	if (m->xen || m->iommus.niommu) {
		rc = -EBUSY;
		if (why)
			*why = m->xen ? "already under a hypervisor"
				      : "the machine has IOMMUs (the hypervisor owns them)";
	} else {
		rc = sim_reserve(m, x->fbase << SIM_PAGE_SHIFT,
				 x->nforeign << SIM_PAGE_SHIFT);
		if (rc && why)
			*why = "the top of the OS's RAM (foreign frames) is "
			       "already in use";
	}
	if (!rc) {
		m->xen_other = (struct simi_mapping){
			OTHER, OTHER + (x->host_frames_end << SIM_PAGE_SHIFT),
			other };
		m->xen = x;
		simi_platform_enable_xen(m, d->mode, d->initial_domain,
					 d->features);
	}
	simi_write_unlock(&m->iommus.lock);
	if (rc) {
		munmap(other, x->host_frames_end << SIM_PAGE_SHIFT);
		pthread_rwlock_destroy(&x->lock);
		xen_free(x);
		return rc;
	}
	*out = x;
	return 0;
}

void simi_xen_fini(struct sim_machine *m)
{
	struct sim_xen *x = m->xen;
	if (!x)
		return;
	munmap(m->xen_other.cpu, m->xen_other.end - m->xen_other.base);
	m->xen_other = (struct simi_mapping){ 0 };
	m->xen = NULL;
	pthread_rwlock_destroy(&x->lock);
	xen_free(x);
}

struct sim_xen *sim_xen_of(struct sim_machine *m)
{
	return m ? m->xen : NULL;
}

/* ---- the OS's frames --------------------------------------------------------- */

int sim_xen_p2m(struct sim_xen *x, uint64_t pfn, uint64_t *mfn)
{
	if (!x || !mfn)
		return -EINVAL;
	pthread_rwlock_rdlock(&x->lock);
	uint64_t e = sparse_get(&x->p2m, pfn);
	pthread_rwlock_unlock(&x->lock);
	if (!e)
		return -ENOENT;
	*mfn = P2M_MFN(e);
	return 0;
}

int sim_xen_m2p(struct sim_xen *x, uint64_t mfn, uint64_t *pfn)
{
	if (!x || !pfn)
		return -EINVAL;
	pthread_rwlock_rdlock(&x->lock);
	uint64_t e = sparse_get(&x->ft, mfn);
	pthread_rwlock_unlock(&x->lock);
	if (FT_KIND(e) != FT_OS)
		return -ENOENT;
	*pfn = FT_INDEX(e);
	return 0;
}

/* ---- other domains ------------------------------------------------------------ */

static void domu_free(struct domu *u)
{
	if (!u)
		return;
	free(u->mfn);
	free(u->maps);
	free(u->grants);
	free(u);
}

/* Fresh frames read zero, as Xen scrubs them: punch the storage. */
static void scrub(struct sim_xen *x, uint64_t mfn, uint64_t n)
{
	(void)fallocate(x->m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			(off_t)(OTHER + (mfn << SIM_PAGE_SHIFT)),
			(off_t)(n << SIM_PAGE_SHIFT));
	forget_other(x, mfn, n);
}

int sim_xen_domu_create(struct sim_xen *x, uint64_t npages, uint16_t *domid)
{
	if (!x || !domid || !npages || npages > (1ULL << 40))
		return -EINVAL;
	/* An early answer (checked again below) before any big allocation. */
	pthread_rwlock_rdlock(&x->lock);
	bool room = x->nfree >= npages && x->ndomu < MAX_DOMUS;
	pthread_rwlock_unlock(&x->lock);
	if (!room)
		return -ENOMEM;
	struct domu *u = calloc(1, sizeof(*u));
	uint64_t nch = (npages + DOMU_CHUNK - 1) / DOMU_CHUNK;
	uint64_t *order = malloc(nch * sizeof(*order));
	uint64_t *taken = malloc(npages * sizeof(*taken));
	struct domu **v = NULL;
	int rc = 0;
	if (!u || !order || !taken ||
	    !(u->mfn = malloc(npages * sizeof(*u->mfn))) ||
	    !(u->maps = calloc(npages, sizeof(*u->maps))) ||
	    !(u->grants = calloc(GRANT_ENTRIES, sizeof(*u->grants))))
		rc = -ENOMEM;
	bool locked = !rc;
	if (locked)
		pthread_rwlock_wrlock(&x->lock);
	if (!rc && x->ndomu >= MAX_DOMUS)
		rc = -ENOMEM;
	else if (!rc && !(v = realloc(x->domus, (x->ndomu + 1) * sizeof(*v))))
		rc = -ENOMEM;
	else if (!rc)
		x->domus = v;
	/* The frames, highest first (frames_peek's order). */
	if (!rc && (rc = frames_peek(x, npages, taken)) == 0)
		frames_take(x, npages, taken);
	if (rc) {
		if (locked)
			pthread_rwlock_unlock(&x->lock);
		domu_free(u);
		free(order);
		free(taken);
		return rc;
	}
	u->npages = npages;
	u->domid = (uint16_t)(x->ndomu + 1);
	/* Fresh frames read zero: scrub them in runs of consecutive frames. */
	for (uint64_t i = 0, r = 0; i < npages; i++) {
		if (i + 1 == npages || taken[i + 1] + 1 != taken[i]) {
			scrub(x, taken[i], i - r + 1);
			r = i + 1;
		}
	}
	/*
	 * Chunks of 16 frames (ascending inside a chunk) in a shuffled order:
	 * scattered as a populated guest is, deterministic per seed and domid.
	 * A short last chunk stays last, so gfn chunks stay 16-aligned.
	 */
	for (uint64_t c = 0; c < nch; c++)
		order[c] = c;
	shuffle(order, npages / DOMU_CHUNK,
		x->seed ^ (u->domid * 0xD1B54A32D192ED03ULL));
	uint64_t g = 0;
	for (uint64_t k = 0; k < nch; k++) {
		uint64_t c0 = order[k] * DOMU_CHUNK;
		uint64_t c1 = c0 + DOMU_CHUNK < npages ? c0 + DOMU_CHUNK : npages;
		for (uint64_t i = c1; i-- > c0;)
			u->mfn[g++] = taken[i];
	}
	for (g = 0; g < npages; g++)
		(void)sparse_set(&x->ft, u->mfn[g], FT_MAKE(FT_DOMU, u->domid, g));
	x->domus[x->ndomu++] = u;
	*domid = u->domid;
	pthread_rwlock_unlock(&x->lock);
	free(order);
	free(taken);
	return 0;
}

void *sim_xen_domu_page(struct sim_xen *x, uint16_t domid, uint64_t gfn)
{
	if (!x)
		return NULL;
	pthread_rwlock_rdlock(&x->lock);
	struct domu *u = domu_get(x, domid);
	void *p = u && gfn < u->npages
			  ? x->m->xen_other.cpu + (u->mfn[gfn] << SIM_PAGE_SHIFT)
			  : NULL;
	pthread_rwlock_unlock(&x->lock);
	return p;
}

int sim_xen_domu_mfn(struct sim_xen *x, uint16_t domid, uint64_t gfn,
		     uint64_t *mfn)
{
	if (!x || !mfn)
		return -EINVAL;
	pthread_rwlock_rdlock(&x->lock);
	struct domu *u = domu_get(x, domid);
	int rc = u && gfn < u->npages ? 0 : -ENOENT;
	if (!rc)
		*mfn = u->mfn[gfn];
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

int sim_xen_grant(struct sim_xen *x, uint16_t domid, uint64_t gfn,
		  bool readonly, uint32_t *gref)
{
	if (!x || !gref)
		return -EINVAL;
	pthread_rwlock_wrlock(&x->lock);
	struct domu *u = domu_get(x, domid);
	int rc = u && gfn < u->npages ? -ENOSPC : -ENOENT;
	for (uint32_t i = 0; rc == -ENOSPC && i < GRANT_ENTRIES; i++) {
		if (u->grants[i].used)
			continue;
		u->grants[i] = (struct grant){ .used = true, .ro = readonly,
					       .gfn = gfn };
		*gref = i;
		rc = 0;
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

int sim_xen_grant_end(struct sim_xen *x, uint16_t domid, uint32_t gref)
{
	if (!x)
		return -EINVAL;
	pthread_rwlock_wrlock(&x->lock);
	struct domu *u = domu_get(x, domid);
	int rc = !u || gref >= GRANT_ENTRIES || !u->grants[gref].used ? -ENOENT
		 : u->grants[gref].maps					? -EBUSY
									: 0;
	if (!rc)
		u->grants[gref] = (struct grant){ 0 };
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

/* ---- the hypervisor's IOMMU ----------------------------------------------------- */

int sim_xen_iommu_attach(struct sim_device *dev)
{
	if (!dev || !dev->m->xen)
		return -EINVAL;
	bool no = false;
	if (atomic_load_explicit(&dev->iommu_domain, memory_order_acquire) ||
	    !atomic_compare_exchange_strong(&dev->xen_iommu, &no, true))
		return -EBUSY;
	return 0;
}

bool sim_xen_iommu_covers(const struct sim_device *dev)
{
	return dev && atomic_load_explicit(&dev->xen_iommu, memory_order_acquire);
}

/* ---- the device path ------------------------------------------------------------ */

/*
 * Appends a storage piece, merging with the last one when contiguous on
 * the same side of OTHER (the OS's mappings never touch one another, so a
 * merged piece always lies inside one storage mapping).
 */
static int push(struct simi_xlate *xl, uint64_t s, uint64_t len)
{
	struct simi_dma_piece *l = xl->n ? &xl->v[xl->n - 1] : NULL;
	if (l && l->phys + l->len == s && (l->phys >= OTHER) == (s >= OTHER)) {
		l->len += len;
		return 0;
	}
	if (xl->n == xl->cap) {
		size_t ncap = xl->cap * 2;
		struct simi_dma_piece *v;
		if (xl->v == xl->small) {
			v = malloc(ncap * sizeof(*v));
			if (v)
				memcpy(v, xl->small, sizeof(xl->small));
		} else {
			v = realloc(xl->v, ncap * sizeof(*v));
		}
		if (!v)
			return -ENOMEM;
		xl->v = v;
		xl->cap = ncap;
	}
	xl->v[xl->n++] = (struct simi_dma_piece){ s, len };
	return 0;
}

int simi_xen_translate(struct sim_device *dev, uint64_t addr, uint64_t len,
		       bool write, struct simi_xlate *xl)
{
	xl->v = xl->small;
	xl->n = 0;
	xl->cap = sizeof(xl->small) / sizeof(xl->small[0]);
	struct sim_xen *x = dev->m->xen;
	bool iommu = atomic_load_explicit(&dev->xen_iommu, memory_order_acquire);
	uint64_t own_b = 0, foreign_b = 0, stray_b = 0;
	int rc = 0;
	pthread_rwlock_rdlock(&x->lock);
	for (uint64_t a = addr, rem = len; rem && !rc;) {
		uint64_t off = a & SIM_PAGE_MASK;
		uint64_t n = PAGE - off < rem ? PAGE - off : rem;
		uint64_t mfn = a >> SIM_PAGE_SHIFT;
		if (iommu) {
			uint64_t e = sparse_get(&x->p2m, mfn);
			if (!e || (write && (e & P2M_RO))) {
				rc = -EFAULT;
				break;
			}
			mfn = P2M_MFN(e);
		}
		if (!host_has(x, mfn)) {
			rc = -ENXIO;
			break;
		}
		uint64_t fe = sparse_get(&x->ft, mfn);
		if (FT_KIND(fe) == FT_OS) {
			own_b += n;
		} else if (FT_KIND(fe) == FT_DOMU) {
			struct domu *u = domu_get(x, FT_DOMID(fe));
			if (u && u->maps[FT_INDEX(fe)])
				foreign_b += n;
			else
				stray_b += n;
		} else {
			stray_b += n;
		}
		rc = push(xl, storage_of(mfn, fe) + off, n);
		a += n;
		rem -= n;
	}
	pthread_rwlock_unlock(&x->lock);
	if (!rc) {
		atomic_fetch_add_explicit(&x->dma_own, own_b, memory_order_relaxed);
		atomic_fetch_add_explicit(&x->dma_foreign, foreign_b,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&x->dma_stray, stray_b,
					  memory_order_relaxed);
	}
	return rc;
}

/* ---- the CPU's cache operations by guest-physical address ----------------------- */

static void cache_do(struct sim_machine *m, uint64_t s, uint64_t size,
		     enum simi_cache_op op)
{
	switch (op) {
	case SIMI_CACHE_CLEAN:
		simi_cache_clean(m, s, size);
		break;
	case SIMI_CACHE_INVALIDATE:
		simi_cache_invalidate(m, s, size);
		break;
	case SIMI_CACHE_UNCACHED:
	case SIMI_CACHE_CACHED:
		simi_cache_set_uncached(m, s, size, op == SIMI_CACHE_UNCACHED);
		break;
	}
}

void simi_xen_cache_op(struct sim_machine *m, uint64_t phys, uint64_t size,
		       enum simi_cache_op op)
{
	struct sim_xen *x = m->xen;
	uint64_t fb = x->fbase << SIM_PAGE_SHIFT;
	uint64_t fe = (x->fbase + x->nforeign) << SIM_PAGE_SHIFT;
	/* No foreign page mapped, or none in range: storage == phys. */
	if (!size || phys >= fe ||
	    !atomic_load_explicit(&x->nmapped, memory_order_relaxed) ||
	    (phys < fb && size <= fb - phys)) {
		cache_do(m, phys, size, op);
		return;
	}
	/* phys < fe < 2^47 and the model stops at 2^48 anyway. */
	uint64_t end = size > SIM_PHYS_LIMIT - phys ? SIM_PHYS_LIMIT : phys + size;
	/* Runs of own pages go as they are; each foreign page to its storage. */
	pthread_rwlock_rdlock(&x->lock);
	uint64_t run = phys;
	for (uint64_t a = phys; a < end;) {
		uint64_t pn = (a | SIM_PAGE_MASK) + 1;
		uint64_t n = (pn < end ? pn : end) - a;
		uint64_t pfn = a >> SIM_PAGE_SHIFT;
		if (is_foreign_pfn(x, pfn) && x->fslots[pfn - x->fbase].used) {
			if (a > run)
				cache_do(m, run, a - run, op);
			cache_do(m, OTHER + (x->fslots[pfn - x->fbase].mfn
					     << SIM_PAGE_SHIFT) +
					    (a & SIM_PAGE_MASK),
				 n, op);
			run = a + n;
		}
		a += n;
	}
	if (end > run)
		cache_do(m, run, end - run, op);
	pthread_rwlock_unlock(&x->lock);
}

uint64_t simi_xen_storage_of(struct sim_machine *m, uint64_t phys)
{
	struct sim_xen *x = m->xen;
	uint64_t pfn = phys >> SIM_PAGE_SHIFT;
	if (!x || !atomic_load_explicit(&x->nmapped, memory_order_relaxed) ||
	    !is_foreign_pfn(x, pfn))
		return phys;
	pthread_rwlock_rdlock(&x->lock);
	uint64_t s = phys;
	if (x->fslots[pfn - x->fbase].used)
		s = OTHER + (x->fslots[pfn - x->fbase].mfn << SIM_PAGE_SHIFT) +
		    (phys & SIM_PAGE_MASK);
	pthread_rwlock_unlock(&x->lock);
	return s;
}

/* ---- hypervisor calls (struct dmamap_hv_ops) --------------------------------------- */

static struct sim_xen *xen_of(void *plat)
{
	return ((struct sim_machine *)plat)->xen;
}

static int hv_pfn_to_bfn(void *plat, uint64_t pfn, uint64_t *bfn)
{
	struct sim_xen *x = xen_of(plat);
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&x->lock);
	if (is_foreign_pfn(x, pfn)) {
		/* Foreign frames: always answered (the guest knows them). */
		if (x->fslots[pfn - x->fbase].used) {
			*bfn = x->fslots[pfn - x->fbase].mfn;
			rc = 0;
		}
	} else if (!x->p2m_visible) {
		rc = -EOPNOTSUPP;
	} else {
		uint64_t e = sparse_get(&x->p2m, pfn);
		if (e) {
			*bfn = P2M_MFN(e);
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&x->lock);
	/* Counted: every call the hypervisor answered (found or -ENOENT). */
	if (rc != -EOPNOTSUPP)
		atomic_fetch_add_explicit(&x->p2m_queries, 1, memory_order_relaxed);
	return rc;
}

static int hv_bfn_to_pfn(void *plat, uint64_t bfn, uint64_t *pfn)
{
	struct sim_xen *x = xen_of(plat);
	int rc = -ENOENT;
	pthread_rwlock_rdlock(&x->lock);
	uint64_t e = host_has(x, bfn) ? sparse_get(&x->ft, bfn) : FT_FREE;
	struct domu *u = FT_KIND(e) == FT_DOMU ? domu_get(x, FT_DOMID(e)) : NULL;
	if (u && u->maps[FT_INDEX(e)]) {
		for (uint64_t i = 0; i < x->nforeign; i++) {
			if (x->fslots[i].used && x->fslots[i].mfn == bfn) {
				*pfn = x->fbase + i;
				rc = 0;
				break;
			}
		}
	} else if (!x->p2m_visible) {
		rc = -EOPNOTSUPP;
	} else if (FT_KIND(e) == FT_OS) {
		*pfn = FT_INDEX(e);
		rc = 0;
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

/* True when [pfn, pfn + n) are all the OS's own frames (write lock held). */
static bool own_range(const struct sim_xen *x, uint64_t pfn, uint64_t n,
		      bool lowmem)
{
	for (uint64_t p = pfn; p < pfn + n; p++) {
		uint64_t e = sparse_get(&x->p2m, p);
		if (!e || is_foreign_pfn(x, p) || (e & P2M_RO) ||
		    FT_KIND(sparse_get(&x->ft, P2M_MFN(e))) != FT_OS)
			return false;
		if (lowmem && !in_lowmem(x, P2M_MFN(e)))
			return false;
	}
	return true;
}

/*
 * The highest run of n free lowmem frames, aligned to n, ending below
 * frame `limit`; NO_RUN when none (write lock held).
 */
static uint64_t find_lowmem_run(const struct sim_xen *x, uint64_t n,
				uint64_t limit)
{
	uint64_t hi = x->lm_hi < limit ? x->lm_hi : limit;
	if (hi < n)
		return NO_RUN;
	for (uint64_t s = (hi - n) & ~(n - 1); s >= x->lm_lo;) {
		uint64_t bad_at = NO_RUN;
		for (uint64_t f = s + n; f-- > s;) {
			if (FT_KIND(sparse_get(&x->ft, f)) != FT_FREE) {
				bad_at = f;
				break;
			}
		}
		if (bad_at == NO_RUN)
			return s;
		/* The next candidate must end at or below the busy frame. */
		if (bad_at < n)
			break;
		s = (bad_at - n) & ~(n - 1);
	}
	return NO_RUN;
}

static int hv_exchange(void *plat, uint64_t pfn, unsigned int order,
		       unsigned int address_bits, uint64_t *bfn)
{
	struct sim_xen *x = xen_of(plat);
	if (!x->p2m_visible)
		return -EOPNOTSUPP;
	if (order > MAX_ORDER || !address_bits)
		return -EINVAL;
	uint64_t n = 1ULL << order;
	uint64_t limit = address_bits >= 64 ? UINT64_MAX
		       : address_bits <= SIM_PAGE_SHIFT
			       ? 0
			       : 1ULL << (address_bits - SIM_PAGE_SHIFT);
	int rc = 0;
	pthread_rwlock_wrlock(&x->lock);
	uint64_t s = NO_RUN;
	if (pfn > UINT64_MAX - n || !own_range(x, pfn, n, false)) {
		rc = -EINVAL;
	} else if ((s = find_lowmem_run(x, n, limit)) == NO_RUN) {
		x->st.exchange_failures++; /* the hypervisor's lowmem ran out */
		rc = -ENOMEM;
	}
	for (uint64_t i = 0; !rc && i < n; i++)
		rc = sparse_ensure(&x->ft, s + i);
	for (uint64_t i = 0; !rc && i < n; i++) {
		uint64_t old = P2M_MFN(sparse_get(&x->p2m, pfn + i));
		if (in_lowmem(x, old))
			x->st.lowmem_used -= PAGE; /* a re-exchange gives it back */
		frame_release(x, old);
		forget_other(x, old, 1);
		(void)own(x, pfn + i, s + i);
	}
	if (!rc) {
		/* The data stays at pfn's storage; the new frames' old
		 * frames-of-others storage must not haunt anyone. */
		forget_other(x, s, n);
		x->st.lowmem_used += n << SIM_PAGE_SHIFT;
		if (x->st.lowmem_used > x->st.lowmem_hiwater)
			x->st.lowmem_hiwater = x->st.lowmem_used;
		x->st.exchanges++;
		*bfn = s;
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

static int hv_destroy(void *plat, uint64_t pfn, unsigned int order)
{
	struct sim_xen *x = xen_of(plat);
	if (!x->p2m_visible)
		return -EOPNOTSUPP;
	if (order > MAX_ORDER)
		return -EINVAL;
	uint64_t n = 1ULL << order;
	uint64_t *nf = malloc(n * sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	pthread_rwlock_wrlock(&x->lock);
	int rc = pfn <= UINT64_MAX - n && own_range(x, pfn, n, true) ? 0 : -EINVAL;
	if (!rc)
		rc = frames_peek(x, n, nf);
	if (!rc) {
		frames_take(x, n, nf);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t old = P2M_MFN(sparse_get(&x->p2m, pfn + i));
			frame_release(x, old); /* back to the lowmem region */
			forget_other(x, old, 1);
			forget_other(x, nf[i], 1);
			(void)own(x, pfn + i, nf[i]);
		}
		x->st.lowmem_used -= n << SIM_PAGE_SHIFT;
	}
	pthread_rwlock_unlock(&x->lock);
	free(nf);
	return rc;
}

static int hv_cache_flush_bfn(void *plat, uint64_t bfn, uint32_t offset,
			      uint32_t size, int op)
{
	struct sim_xen *x = xen_of(plat);
	if ((op != 0 && op != 1) || (uint64_t)offset + size > PAGE)
		return -EINVAL;
	pthread_rwlock_rdlock(&x->lock);
	int rc = host_has(x, bfn) ? 0 : -EINVAL;
	if (!rc) {
		uint64_t s = storage_of(bfn, sparse_get(&x->ft, bfn)) + offset;
		/* Lock order xen -> cache: the model never takes ours. */
		cache_do(x->m, s, size, op ? SIMI_CACHE_INVALIDATE : SIMI_CACHE_CLEAN);
	}
	pthread_rwlock_unlock(&x->lock);
	if (!rc)
		atomic_fetch_add_explicit(&x->cache_flushes, 1, memory_order_relaxed);
	return rc;
}

/* Puts the page at the OS's linear address of pfn onto storage s. */
static int remap(struct sim_xen *x, uint64_t pfn, uint64_t s)
{
	void *cpu = sim_phys_to_cpu(x->m, pfn << SIM_PAGE_SHIFT);
	if (!cpu || mmap(cpu, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 x->m->memfd, (off_t)s) == MAP_FAILED)
		return -ENOMEM;
	return 0;
}

static int hv_grant_map(void *plat, uint16_t domid, uint32_t gref,
			bool readonly, uint64_t *pfn, uint64_t *bfn)
{
	struct sim_xen *x = xen_of(plat);
	if (!x->dom0)
		return -EOPNOTSUPP;
	pthread_rwlock_wrlock(&x->lock);
	struct domu *u = domu_get(x, domid);
	struct grant *g = u && gref < GRANT_ENTRIES && u->grants[gref].used
				  ? &u->grants[gref] : NULL;
	int rc = !g ? -ENOENT : (!readonly && g->ro) ? -EPERM : -ENOSPC;
	uint64_t slot = 0;
	while (rc == -ENOSPC && slot < x->nforeign) {
		if (!x->fslots[slot].used)
			rc = 0; /* the lowest free foreign pfn */
		else
			slot++;
	}
	uint64_t p = x->fbase + slot, mfn = g ? u->mfn[g->gfn] : 0;
	if (!rc)
		rc = sparse_ensure(&x->p2m, p);
	/*
	 * The CPU's view at p becomes the domU's frame.  Writable even for a
	 * read-only mapping: the model does not police CPU stores.
	 */
	if (!rc)
		rc = remap(x, p, OTHER + (mfn << SIM_PAGE_SHIFT));
	if (!rc) {
		(void)sparse_set(&x->p2m, p, P2M_MAKE(mfn, readonly));
		x->fslots[slot] = (struct fslot){
			.used = true, .ro = readonly, .domid = domid,
			.gref = gref, .gfn = g->gfn, .mfn = mfn };
		g->maps++;
		u->maps[g->gfn]++;
		atomic_fetch_add_explicit(&x->nmapped, 1, memory_order_relaxed);
		x->st.grants_mapped++;
		x->st.grant_maps++;
		/* Own storage at p is not reachable while mapped: drop its state. */
		simi_cache_forget(x->m, p << SIM_PAGE_SHIFT, PAGE);
		*pfn = p;
		*bfn = mfn;
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

static int hv_grant_unmap(void *plat, uint64_t pfn)
{
	struct sim_xen *x = xen_of(plat);
	if (!x->dom0)
		return -EOPNOTSUPP;
	pthread_rwlock_wrlock(&x->lock);
	struct fslot *f = is_foreign_pfn(x, pfn) ? &x->fslots[pfn - x->fbase] : NULL;
	int rc = f && f->used ? remap(x, pfn, pfn << SIM_PAGE_SHIFT) : -ENOENT;
	if (!rc) {
		struct domu *u = domu_get(x, f->domid);
		u->grants[f->gref].maps--;
		if (--u->maps[f->gfn] == 0)
			forget_other(x, f->mfn, 1);
		(void)sparse_set(&x->p2m, pfn, 0);
		*f = (struct fslot){ 0 };
		atomic_fetch_sub_explicit(&x->nmapped, 1, memory_order_relaxed);
		x->st.grants_mapped--;
	}
	pthread_rwlock_unlock(&x->lock);
	return rc;
}

const struct dmamap_hv_ops simi_xen_hv_ops = {
	.pfn_to_bfn = hv_pfn_to_bfn,
	.bfn_to_pfn = hv_bfn_to_pfn,
	.exchange_contiguous = hv_exchange,
	.destroy_contiguous = hv_destroy,
	.cache_flush_bfn = hv_cache_flush_bfn,
	.grant_map = hv_grant_map,
	.grant_unmap = hv_grant_unmap,
};

/* ---- figures --------------------------------------------------------------------- */

void sim_xen_get_stats(struct sim_xen *x, struct sim_xen_stats *st)
{
	if (!x || !st)
		return;
	pthread_rwlock_rdlock(&x->lock);
	*st = x->st;
	pthread_rwlock_unlock(&x->lock);
	st->cache_flushes = atomic_load(&x->cache_flushes);
	st->p2m_queries = atomic_load(&x->p2m_queries);
	st->dma_own_bytes = atomic_load(&x->dma_own);
	st->dma_foreign_bytes = atomic_load(&x->dma_foreign);
	st->dma_stray_bytes = atomic_load(&x->dma_stray);
}
