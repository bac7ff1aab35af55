/*
 * src/debug.c - the DMA API checker: Linux's dma-debug, and more
 * (include/dmamap/debug.h says what is checked and how).
 *
 * Owns: the record of every live mapping and allocation of the devices
 * of a context whose checker is on, the checks made against it, the
 * reports (kept, counted, logged, handed to the callback), and the
 * questions put to the platform's debug hooks (struct
 * dmamap_debug_hw_ops: live bus ranges, stray device accesses, stale
 * cache lines).  Must never change what a mapping does: every hook runs
 * after the backend and only reads the driver's arguments and the
 * device's parameters.  Must never decide DMA policy, never print (only
 * dm_log), never be reached while the checker is off (the dispatcher
 * tests dev->debug first).
 *
 * State, all under d->lock (taken after ctx->lock where both are held;
 * platform hooks are called with it held, and they never call back):
 *   - seg[]: every live bus segment (one per single mapping or
 *     allocation, one per bus segment of an sg mapping) chained in
 *     buckets by bus address >> 13, as Linux's hash.  A lookup of an
 *     address inside a segment walks back at most max_seg_len >> 13
 *     buckets.
 *   - maps: the live records, a list (leaks, lookups by physical
 *     address).  A record owns its segments and its CPU ranges.
 *   - lines[]: per 4 KiB page, how many live streaming mappings the
 *     device may write (not TO_DEVICE) touch each 64-byte line
 *     (OVERLAP_CACHELINE).
 *   - gone[]: the last DMAMAP_DEBUG_KEEP unmapped segments, to name the
 *     origin of a device access after unmap or of a double unmap.
 *   - rep[], count[]: the last DMAMAP_DEBUG_KEEP reports, exact counts.
 * Reports found under the lock are logged and handed to the callback
 * after it is released.  Out of host memory for a record, the checker
 * stops (as Linux's does) and says so once.
 */
#include "dma-debug.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DBG_GRAN_SHIFT 13          /* bus-address hash granule: 8 KiB */
#define DBG_SEG_BITS 14
#define DBG_NSEG (1u << DBG_SEG_BITS)
#define DBG_LINE_BITS 12
#define DBG_NLINES (1u << DBG_LINE_BITS)
#define DBG_LINE 64u               /* cache line (sim and Linux's L1) */
#define DBG_PAGE_SHIFT 12
#define DBG_STRAY_BATCH 16

struct dbg_range {
	dmamap_phys_addr_t phys;
	uint64_t len;             /* 0: not RAM / unknown */
};

struct dbg_map;

struct dbg_seg {
	struct dbg_seg *next;     /* bucket chain */
	struct dbg_map *map;
	dmamap_dma_addr_t dma;
	uint64_t len;
};

struct dbg_map {
	struct dbg_map *prev, *next;
	struct dmamap_device *dev;
	enum dm_dbg_type type;
	enum dmamap_data_direction dir;
	unsigned long attrs;
	struct dm_site origin;
	const void *cpu;          /* allocations: the CPU address returned */
	uint64_t size;            /* as mapped (sg: bytes of all entries) */
	int nents;                /* sg: as passed to map */
	int nsegs;
	int ncpu;
	bool checked;             /* dmamap_mapping_error saw it (or n/a) */
	bool unchecked_reported;
	bool cpu_owned;           /* last sync was for the CPU */
	bool lines_counted;       /* its CPU ranges are in lines[] */
	struct dbg_range *cpur;   /* ncpu CPU-side ranges */
	struct dbg_seg segs[];    /* nsegs, then the CPU ranges */
};

struct dbg_lines {
	struct dbg_lines *next;
	uint64_t pfn;
	uint32_t total;
	uint16_t cnt[DMAMAP_PAGE_SIZE / DBG_LINE];
};

struct dbg_gone {
	struct dmamap_device *dev; /* NULL: empty, or the device was removed */
	enum dm_dbg_type type;
	struct dm_site origin;
	dmamap_dma_addr_t dma;
	uint64_t dlen;             /* 0: no bus segment in this record */
	dmamap_phys_addr_t phys;
	uint64_t plen;             /* 0: no CPU range in this record */
	bool stray_reported;       /* one access-after-unmap report per record */
};

struct dm_debug {
	pthread_mutex_t lock;
	struct dmamap_ctx *ctx;
	bool disabled;
	uint64_t max_seg_len;
	struct dbg_map *maps;
	struct dbg_seg *seg[DBG_NSEG];
	struct dbg_lines *lines[DBG_NLINES];
	struct dbg_gone gone[DMAMAP_DEBUG_KEEP];
	uint64_t ngone;
	struct dmamap_debug_report rep[DMAMAP_DEBUG_KEEP];
	uint64_t nrep;
	uint64_t count[DMAMAP_DEBUG_NR_KINDS];
	dmamap_debug_fn fn;
	void *fn_priv;
};

/* Reports found under the lock, emitted after it. */
struct dbg_pend {
	unsigned int n, cap, dropped;
	struct dmamap_debug_report *r;
	struct dmamap_debug_report small[2];
};

static const char *const dbg_kind_names[DMAMAP_DEBUG_NR_KINDS] = {
	[DMAMAP_DEBUG_ANY] = "ANY",
	[DMAMAP_DEBUG_UNMAP_NOT_MAPPED] = "UNMAP_NOT_MAPPED",
	[DMAMAP_DEBUG_SIZE_MISMATCH] = "SIZE_MISMATCH",
	[DMAMAP_DEBUG_DIR_MISMATCH] = "DIR_MISMATCH",
	[DMAMAP_DEBUG_KIND_MISMATCH] = "KIND_MISMATCH",
	[DMAMAP_DEBUG_SG_COUNT_MISMATCH] = "SG_COUNT_MISMATCH",
	[DMAMAP_DEBUG_CPU_ADDR_MISMATCH] = "CPU_ADDR_MISMATCH",
	[DMAMAP_DEBUG_ERROR_NOT_CHECKED] = "ERROR_NOT_CHECKED",
	[DMAMAP_DEBUG_STACK_OR_INVALID] = "STACK_OR_INVALID",
	[DMAMAP_DEBUG_SYNC_NOT_MAPPED] = "SYNC_NOT_MAPPED",
	[DMAMAP_DEBUG_SYNC_OUT_OF_RANGE] = "SYNC_OUT_OF_RANGE",
	[DMAMAP_DEBUG_SYNC_DIR_MISMATCH] = "SYNC_DIR_MISMATCH",
	[DMAMAP_DEBUG_SYNC_CPU_ON_TO_DEVICE] = "SYNC_CPU_ON_TO_DEVICE",
	[DMAMAP_DEBUG_SYNC_DEVICE_ON_FROM_DEVICE] = "SYNC_DEVICE_ON_FROM_DEVICE",
	[DMAMAP_DEBUG_SG_SEGMENT_TOO_LONG] = "SG_SEGMENT_TOO_LONG",
	[DMAMAP_DEBUG_SG_CROSSES_BOUNDARY] = "SG_CROSSES_BOUNDARY",
	[DMAMAP_DEBUG_OVERLAP_CACHELINE] = "OVERLAP_CACHELINE",
	[DMAMAP_DEBUG_LEAK_AT_REMOVE] = "LEAK_AT_REMOVE",
	[DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC] = "CPU_READ_BEFORE_SYNC",
	[DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP] = "DEVICE_ACCESS_AFTER_UNMAP",
	[DMAMAP_DEBUG_POOL_DESTROY_BUSY] = "POOL_DESTROY_BUSY",
};

/* What made a mapping, as the driver API names it. */
static const char *const dbg_type_names[] = {
	[DM_DBG_SINGLE] = "single",       [DM_DBG_PAGE] = "page",
	[DM_DBG_PHYS] = "phys",           [DM_DBG_RESOURCE] = "resource",
	[DM_DBG_SG] = "sg",               [DM_DBG_COHERENT] = "coherent",
	[DM_DBG_NONCOHERENT] = "noncoherent",
};

/* The calls that make and end a mapping of each type. */
static const char *const dbg_map_call[] = {
	[DM_DBG_SINGLE] = "map_single",         [DM_DBG_PAGE] = "map_page",
	[DM_DBG_PHYS] = "map_phys",             [DM_DBG_RESOURCE] = "map_resource",
	[DM_DBG_SG] = "map_sg",                 [DM_DBG_COHERENT] = "alloc_coherent",
	[DM_DBG_NONCOHERENT] = "alloc_noncoherent",
};
static const char *const dbg_unmap_call[] = {
	[DM_DBG_SINGLE] = "unmap_single",       [DM_DBG_PAGE] = "unmap_page",
	[DM_DBG_PHYS] = "unmap_phys",           [DM_DBG_RESOURCE] = "unmap_resource",
	[DM_DBG_SG] = "unmap_sg",               [DM_DBG_COHERENT] = "free_coherent",
	[DM_DBG_NONCOHERENT] = "free_noncoherent",
};

static const char *dbg_dir(enum dmamap_data_direction dir)
{
	switch (dir) {
	case DMAMAP_BIDIRECTIONAL: return "BIDIRECTIONAL";
	case DMAMAP_TO_DEVICE: return "TO_DEVICE";
	case DMAMAP_FROM_DEVICE: return "FROM_DEVICE";
	default: return "NONE";
	}
}

static bool dbg_streaming(enum dm_dbg_type t)
{
	return t == DM_DBG_SINGLE || t == DM_DBG_PAGE || t == DM_DBG_PHYS ||
	       t == DM_DBG_SG;
}

/* ---- origins --------------------------------------------------------------- */

/* "file:line", "pc BINARY+0xOFF" (the call instruction) or "unknown". */
static void dbg_site_str(const struct dm_site *s, char *buf, size_t n, int *line)
{
	*line = 0;
	if (s && s->where) {
		snprintf(buf, n, "%s", s->where);
		const char *c = strrchr(s->where, ':');
		if (c)
			*line = atoi(c + 1);
		return;
	}
	if (s && s->pc) {
		const char *pc = (const char *)s->pc - 1;
		Dl_info info;
		if (dladdr(pc, &info) && info.dli_fname && info.dli_fbase) {
			const char *base = strrchr(info.dli_fname, '/');
			base = base ? base + 1 : info.dli_fname;
			snprintf(buf, n, "pc %s+0x%lx", base,
				 (unsigned long)((uintptr_t)pc - (uintptr_t)info.dli_fbase));
		} else {
			snprintf(buf, n, "pc %p", (const void *)pc);
		}
		return;
	}
	snprintf(buf, n, "unknown");
}

/* ---- reports ------------------------------------------------------------------ */

static void dbg_pend_init(struct dbg_pend *p)
{
	p->n = 0;
	p->dropped = 0;
	p->cap = sizeof(p->small) / sizeof(p->small[0]);
	p->r = p->small;
}

/* Keeps, counts and queues one report (lock held). */
__attribute__((format(printf, 6, 7)))
static void dbg_report(struct dm_debug *d, struct dbg_pend *p,
		       enum dmamap_debug_kind kind,
		       const struct dmamap_device *dev,
		       const struct dm_site *origin, const char *fmt, ...)
{
	struct dmamap_debug_report *r = &d->rep[d->nrep % DMAMAP_DEBUG_KEEP];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->device, sizeof(r->device), "%s", dev ? dev->name : "?");
	dbg_site_str(origin, r->origin, sizeof(r->origin), &r->line);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	d->nrep++;
	d->count[kind]++;
	d->count[DMAMAP_DEBUG_ANY]++;
	if (p->n == p->cap) {
		unsigned int cap = p->cap * 4;
		struct dmamap_debug_report *nr = malloc(cap * sizeof(*nr));
		if (!nr) {
			p->dropped++;
			return;
		}
		memcpy(nr, p->r, p->n * sizeof(*nr));
		if (p->r != p->small)
			free(p->r);
		p->r = nr;
		p->cap = cap;
	}
	p->r[p->n++] = *r;
}

/* Logs and hands over the queued reports (lock not held). */
static void dbg_flush(struct dm_debug *d, struct dbg_pend *p)
{
	if (!p->n && !p->dropped)
		return;
	pthread_mutex_lock(&d->lock);
	dmamap_debug_fn fn = d->fn;
	void *priv = d->fn_priv;
	pthread_mutex_unlock(&d->lock);
	for (unsigned int i = 0; i < p->n; i++) {
		const struct dmamap_debug_report *r = &p->r[i];
		dm_log(d->ctx, DMAMAP_LOG_ERR, "dma-debug: %s: %s: origin %s: %s",
		       dbg_kind_names[r->kind], r->device, r->origin, r->msg);
		if (fn)
			fn(priv, r);
	}
	if (p->dropped)
		dm_log(d->ctx, DMAMAP_LOG_ERR,
		       "dma-debug: %u more reports (no memory to log them; dmamap_debug_reports has them)",
		       p->dropped);
	if (p->r != p->small)
		free(p->r);
	dbg_pend_init(p);
}

/* ---- the segment hash ------------------------------------------------------------ */

static size_t dbg_bucket(uint64_t granule)
{
	return (size_t)((granule * 0x9E3779B97F4A7C15ULL) >> (64 - DBG_SEG_BITS));
}

/*
 * The live segment of dev starting at dma; among several (the same buffer
 * mapped twice), the one agreeing best with the unmap's arguments, as
 * Linux's bucket_find_exact.
 */
static struct dbg_seg *dbg_exact(struct dm_debug *d, struct dmamap_device *dev,
				 dmamap_dma_addr_t dma, enum dm_dbg_type type,
				 uint64_t size, enum dmamap_data_direction dir)
{
	struct dbg_seg *best = NULL;
	int best_score = -1;
	for (struct dbg_seg *s = d->seg[dbg_bucket(dma >> DBG_GRAN_SHIFT)]; s; s = s->next) {
		if (s->map->dev != dev || s->dma != dma)
			continue;
		int score = (s->map->type == type) + (s->len == size) + (s->map->dir == dir);
		if (score > best_score) {
			best = s;
			best_score = score;
		}
	}
	return best;
}

/* The live segment of dev containing dma. */
static struct dbg_seg *dbg_containing(struct dm_debug *d, struct dmamap_device *dev,
				      dmamap_dma_addr_t dma)
{
	uint64_t g = dma >> DBG_GRAN_SHIFT;
	uint64_t span = (d->max_seg_len >> DBG_GRAN_SHIFT) + 1;
	for (uint64_t i = 0; i <= span && i <= g; i++)
		for (struct dbg_seg *s = d->seg[dbg_bucket(g - i)]; s; s = s->next)
			if (s->map->dev == dev && dma >= s->dma && dma - s->dma < s->len)
				return s;
	return NULL;
}

/* The most recent unmapped segment of dev containing dma. */
static struct dbg_gone *dbg_gone_dma(struct dm_debug *d, struct dmamap_device *dev,
				     dmamap_dma_addr_t dma)
{
	uint64_t n = d->ngone < DMAMAP_DEBUG_KEEP ? d->ngone : DMAMAP_DEBUG_KEEP;
	for (uint64_t k = 0; k < n; k++) {
		struct dbg_gone *g = &d->gone[(d->ngone - 1 - k) % DMAMAP_DEBUG_KEEP];
		if (g->dev == dev && g->dlen && dma >= g->dma && dma - g->dma < g->dlen)
			return g;
	}
	return NULL;
}

/* The most recent unmapped CPU range of dev touching [phys, phys + len). */
static struct dbg_gone *dbg_gone_phys(struct dm_debug *d, struct dmamap_device *dev,
				      dmamap_phys_addr_t phys, uint64_t len)
{
	uint64_t n = d->ngone < DMAMAP_DEBUG_KEEP ? d->ngone : DMAMAP_DEBUG_KEEP;
	for (uint64_t k = 0; k < n; k++) {
		struct dbg_gone *g = &d->gone[(d->ngone - 1 - k) % DMAMAP_DEBUG_KEEP];
		if (g->dev == dev && g->plen && phys < g->phys + g->plen &&
		    g->phys < phys + len)
			return g;
	}
	return NULL;
}

/* ---- cache-line overlap counts ---------------------------------------------------- */

static struct dbg_lines **dbg_lines_slot(struct dm_debug *d, uint64_t pfn)
{
	struct dbg_lines **pp =
		&d->lines[(size_t)((pfn * 0x9E3779B97F4A7C15ULL) >> (64 - DBG_LINE_BITS))];
	while (*pp && (*pp)->pfn != pfn)
		pp = &(*pp)->next;
	return pp;
}

/*
 * Adds (delta 1) or removes (-1) one count on every line of the range.
 * Adding: true when some line was already counted, *first the first one;
 * -ENOMEM leaves the counts as they were (returned through *err).
 */
static bool dbg_lines_add(struct dm_debug *d, dmamap_phys_addr_t phys, uint64_t len,
			  int delta, dmamap_phys_addr_t *first, int *err)
{
	bool shared = false;
	uint64_t l0 = phys / DBG_LINE, l1 = (phys + len - 1) / DBG_LINE;
	for (uint64_t l = l0; l <= l1; l++) {
		uint64_t pfn = l / (DMAMAP_PAGE_SIZE / DBG_LINE);
		unsigned int i = (unsigned int)(l % (DMAMAP_PAGE_SIZE / DBG_LINE));
		struct dbg_lines **pp = dbg_lines_slot(d, pfn);
		struct dbg_lines *e = *pp;
		if (delta > 0) {
			if (!e) {
				e = calloc(1, sizeof(*e));
				if (!e) {
					/* Undo what this call added. */
					if (l > l0)
						dbg_lines_add(d, l0 * DBG_LINE, (l - l0) * DBG_LINE,
							      -1, NULL, NULL);
					*err = -ENOMEM;
					return false;
				}
				e->pfn = pfn;
				*pp = e;
			}
			if (e->cnt[i] && !shared) {
				shared = true;
				*first = l * DBG_LINE;
			}
			e->cnt[i]++;
			e->total++;
		} else if (e && e->cnt[i]) {
			e->cnt[i]--;
			if (--e->total == 0) {
				*pp = e->next;
				free(e);
			}
		}
	}
	return shared;
}

/* Another live record the device may write whose CPU side touches line. */
static struct dbg_map *dbg_line_owner(struct dm_debug *d, const struct dbg_map *not,
				      dmamap_phys_addr_t line)
{
	for (struct dbg_map *m = d->maps; m; m = m->next) {
		if (m == not || !m->lines_counted)
			continue;
		for (int i = 0; i < m->ncpu; i++)
			if (m->cpur[i].len && line < m->cpur[i].phys + m->cpur[i].len &&
			    m->cpur[i].phys < line + DBG_LINE)
				return m;
	}
	return NULL;
}

/* ---- records ---------------------------------------------------------------------- */

static const struct dmamap_debug_hw_ops *dbg_hw(const struct dmamap_device *dev)
{
	const struct dmamap_debug_hw_ops *h = dev->ctx->plat.ops->debug;
	return h && dev->hw ? h : NULL;
}

static void dbg_hw_mapping(struct dmamap_device *dev, dmamap_dma_addr_t dma,
			   uint64_t len, bool live)
{
	const struct dmamap_debug_hw_ops *h = dbg_hw(dev);
	if (h && h->mapping && len)
		h->mapping(dev->ctx->plat.priv, dev->hw, dma, len, live);
}

static struct dbg_map *dbg_new(struct dm_debug *d, struct dmamap_device *dev,
			       enum dm_dbg_type type, int nsegs, int ncpu)
{
	struct dbg_map *m = calloc(1, sizeof(*m) + (size_t)nsegs * sizeof(struct dbg_seg) +
					      (size_t)ncpu * sizeof(struct dbg_range));
	if (!m) {
		if (!d->disabled)
			dm_log(d->ctx, DMAMAP_LOG_ERR,
			       "dma-debug: out of memory for a mapping record: the checker stops");
		d->disabled = true;
		return NULL;
	}
	m->dev = dev;
	m->type = type;
	m->nsegs = nsegs;
	m->ncpu = ncpu;
	m->cpur = (struct dbg_range *)(void *)&m->segs[nsegs];
	return m;
}

/* Links a filled record in: segments hashed, list, the hardware told. */
static void dbg_insert(struct dm_debug *d, struct dbg_map *m)
{
	for (int i = 0; i < m->nsegs; i++) {
		struct dbg_seg *s = &m->segs[i];
		s->map = m;
		struct dbg_seg **b = &d->seg[dbg_bucket(s->dma >> DBG_GRAN_SHIFT)];
		s->next = *b;
		*b = s;
		if (s->len > d->max_seg_len)
			d->max_seg_len = s->len;
		dbg_hw_mapping(m->dev, s->dma, s->len, true);
	}
	m->prev = NULL;
	m->next = d->maps;
	if (d->maps)
		d->maps->prev = m;
	d->maps = m;
}

/* Unlinks and frees a record, remembering its segments as gone. */
static void dbg_remove(struct dm_debug *d, struct dbg_map *m)
{
	int n = m->nsegs > m->ncpu ? m->nsegs : m->ncpu;
	for (int i = 0; i < n; i++) {
		struct dbg_gone *g = &d->gone[d->ngone++ % DMAMAP_DEBUG_KEEP];
		*g = (struct dbg_gone){ .dev = m->dev, .type = m->type, .origin = m->origin };
		if (i < m->nsegs) {
			g->dma = m->segs[i].dma;
			g->dlen = m->segs[i].len;
		}
		if (i < m->ncpu) {
			g->phys = m->cpur[i].phys;
			g->plen = m->cpur[i].len;
		}
	}
	for (int i = 0; i < m->nsegs; i++) {
		struct dbg_seg *s = &m->segs[i];
		struct dbg_seg **pp = &d->seg[dbg_bucket(s->dma >> DBG_GRAN_SHIFT)];
		while (*pp && *pp != s)
			pp = &(*pp)->next;
		if (*pp)
			*pp = s->next;
		dbg_hw_mapping(m->dev, s->dma, s->len, false);
	}
	if (m->lines_counted)
		for (int i = 0; i < m->ncpu; i++)
			if (m->cpur[i].len)
				dbg_lines_add(d, m->cpur[i].phys, m->cpur[i].len, -1, NULL, NULL);
	if (m->prev)
		m->prev->next = m->next;
	else
		d->maps = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m);
}

/*
 * Counts the record's CPU lines when the device may write them, and
 * reports a line another such live mapping already holds.
 */
static void dbg_overlap(struct dm_debug *d, struct dbg_pend *p, struct dbg_map *m)
{
	if (m->dir == DMAMAP_TO_DEVICE)
		return;
	bool reported = false;
	for (int i = 0; i < m->ncpu; i++) {
		const struct dbg_range *r = &m->cpur[i];
		if (!r->len)
			continue;
		dmamap_phys_addr_t line = 0;
		int err = 0;
		bool shared = dbg_lines_add(d, r->phys, r->len, 1, &line, &err);
		if (err) {
			/* Take back the ranges already counted: the record stays uncounted. */
			for (int j = 0; j < i; j++)
				if (m->cpur[j].len)
					dbg_lines_add(d, m->cpur[j].phys, m->cpur[j].len, -1,
						      NULL, NULL);
			return;
		}
		if (shared && !reported && !(m->attrs & DMAMAP_ATTR_SKIP_CPU_SYNC)) {
			reported = true;
			struct dbg_map *o = dbg_line_owner(d, m, line);
			char other[256];
			if (o) {
				char where[192];
				int ln;
				dbg_site_str(&o->origin, where, sizeof(where), &ln);
				snprintf(other, sizeof(other), "a live %s mapping%s made at %s",
					 dbg_dir(o->dir),
					 o->dev != m->dev ? " of another device" : "", where);
			} else {
				snprintf(other, sizeof(other), "another entry of this list");
			}
			dbg_report(d, p, DMAMAP_DEBUG_OVERLAP_CACHELINE, m->dev, &m->origin,
				   "%s %s of phys 0x%llx+%llu shares cache line 0x%llx with %s; expected cache lines of its own for each mapping a device writes",
				   dbg_map_call[m->type], dbg_dir(m->dir),
				   (unsigned long long)r->phys, (unsigned long long)r->len,
				   (unsigned long long)line, other);
		}
	}
	m->lines_counted = true;
}

/* ---- stray device accesses (the platform's watch) ------------------------------------ */

static void dbg_stray(struct dm_debug *d, struct dbg_pend *p, struct dmamap_device *dev,
		      const struct dmamap_hw_stray *s)
{
	const char *rw = s->write ? "wrote" : "read";
	struct dbg_gone *g = dbg_gone_dma(d, dev, s->dma);
	if (g) {
		if (g->stray_reported)
			return; /* one report per unmapped segment */
		g->stray_reported = true;
		dbg_report(d, p, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, dev, &g->origin,
			   "the device %s %llu bytes at bus 0x%llx after the %s mapping [0x%llx, +%llu) there was unmapped; expected no device access once unmap returned",
			   rw, (unsigned long long)s->len, (unsigned long long)s->dma,
			   dbg_type_names[g->type], (unsigned long long)g->dma,
			   (unsigned long long)g->dlen);
		return;
	}
	struct dbg_seg *in = dbg_containing(d, dev, s->dma);
	if (in) {
		dbg_report(d, p, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, dev, &in->map->origin,
			   "the device %s %llu bytes at bus 0x%llx, past the end of the live mapping [0x%llx, +%llu); expected accesses inside live mappings",
			   rw, (unsigned long long)s->len, (unsigned long long)s->dma,
			   (unsigned long long)in->dma, (unsigned long long)in->len);
		return;
	}
	dbg_report(d, p, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, dev, NULL,
		   "the device %s %llu bytes at bus 0x%llx, which no mapping of it covers (never mapped, or unmapped before the last %u unmaps); expected accesses inside live mappings",
		   rw, (unsigned long long)s->len, (unsigned long long)s->dma,
		   DMAMAP_DEBUG_KEEP);
}

/* Collects dev's stray accesses from the platform (lock held). */
static void dbg_poll_dev(struct dm_debug *d, struct dbg_pend *p, struct dmamap_device *dev)
{
	const struct dmamap_debug_hw_ops *h = dbg_hw(dev);
	if (!h || !h->strays || d->disabled)
		return;
	struct dmamap_hw_stray st[DBG_STRAY_BATCH];
	unsigned int n;
	do {
		n = h->strays(dev->ctx->plat.priv, dev->hw, st, DBG_STRAY_BATCH);
		for (unsigned int i = 0; i < n; i++)
			dbg_stray(d, p, dev, &st[i]);
	} while (n == DBG_STRAY_BATCH);
}

/* Entry of every hook: the lock, the pending list, the device's strays. */
static bool dbg_enter(struct dmamap_device *dev, struct dbg_pend *p)
{
	struct dm_debug *d = dev->ctx->debug;
	dbg_pend_init(p);
	pthread_mutex_lock(&d->lock);
	if (d->disabled) {
		pthread_mutex_unlock(&d->lock);
		return false;
	}
	dbg_poll_dev(d, p, dev);
	return true;
}

static void dbg_leave(struct dmamap_device *dev, struct dbg_pend *p)
{
	struct dm_debug *d = dev->ctx->debug;
	pthread_mutex_unlock(&d->lock);
	dbg_flush(d, p);
}

/* ---- the thread's stack -------------------------------------------------------------- */

static _Thread_local uintptr_t dbg_stack_lo, dbg_stack_hi;
static _Thread_local bool dbg_stack_known;

static bool dbg_on_stack(const void *p, size_t len)
{
	if (!dbg_stack_known) {
		pthread_attr_t a;
		void *addr;
		size_t size;
		if (pthread_getattr_np(pthread_self(), &a) == 0) {
			if (pthread_attr_getstack(&a, &addr, &size) == 0) {
				dbg_stack_lo = (uintptr_t)addr;
				dbg_stack_hi = (uintptr_t)addr + size;
			}
			pthread_attr_destroy(&a);
		}
		dbg_stack_known = true;
	}
	uintptr_t x = (uintptr_t)p;
	return dbg_stack_lo < dbg_stack_hi && x < dbg_stack_hi &&
	       x + (len ? len : 1) > dbg_stack_lo;
}

/* STACK_OR_INVALID for one CPU buffer; true when reported. */
static bool dbg_check_buffer(struct dm_debug *d, struct dbg_pend *p,
			     struct dmamap_device *dev, const struct dm_site *site,
			     enum dm_dbg_type type, const void *cpu,
			     dmamap_phys_addr_t phys, bool phys_ok, size_t size,
			     const char *what)
{
	if (cpu && dbg_on_stack(cpu, size)) {
		dbg_report(d, p, DMAMAP_DEBUG_STACK_OR_INVALID, dev, site,
			   "%s of %zu bytes%s at %p, on the calling thread's stack; expected heap, page or pool memory (the stack is never DMA-able)",
			   dbg_map_call[type], size, what, cpu);
		return true;
	}
	if (!phys_ok) {
		dbg_report(d, p, DMAMAP_DEBUG_STACK_OR_INVALID, dev, site,
			   "%s of %zu bytes%s at %p, which is not in RAM's linear map; expected a buffer in RAM",
			   dbg_map_call[type], size, what, cpu);
		return true;
	}
	if (!dm_phys_is_ram(dev->ctx, phys, size)) {
		dbg_report(d, p, DMAMAP_DEBUG_STACK_OR_INVALID, dev, site,
			   "%s of phys 0x%llx+%zu%s, which is not RAM; expected RAM (MMIO goes through map_resource)",
			   dbg_map_call[type], (unsigned long long)phys, size, what);
		return true;
	}
	return false;
}

static void dbg_check_unchecked(struct dm_debug *d, struct dbg_pend *p,
				struct dbg_map *m, const char *call)
{
	if (m->checked || m->unchecked_reported)
		return;
	m->unchecked_reported = true;
	dbg_report(d, p, DMAMAP_DEBUG_ERROR_NOT_CHECKED, m->dev, &m->origin,
		   "%s of bus 0x%llx: the %s result was never passed to dmamap_mapping_error; expected a check before the mapping is used",
		   call, (unsigned long long)m->segs[0].dma, dbg_map_call[m->type]);
}

/* Linux's check_sync direction rules; the specific kind replaces the general one. */
static void dbg_check_sync_dir(struct dm_debug *d, struct dbg_pend *p, struct dbg_map *m,
			       enum dmamap_data_direction dir, bool for_cpu,
			       dmamap_dma_addr_t dma)
{
	const char *call = for_cpu ? "sync_for_cpu" : "sync_for_device";
	if (m->dir == DMAMAP_BIDIRECTIONAL || dir == m->dir)
		return;
	if (for_cpu && m->dir == DMAMAP_TO_DEVICE)
		dbg_report(d, p, DMAMAP_DEBUG_SYNC_CPU_ON_TO_DEVICE, m->dev, &m->origin,
			   "%s of bus 0x%llx with %s on a TO_DEVICE mapping (the device only reads it: nothing to bring back); expected TO_DEVICE",
			   call, (unsigned long long)dma, dbg_dir(dir));
	else if (!for_cpu && m->dir == DMAMAP_FROM_DEVICE)
		dbg_report(d, p, DMAMAP_DEBUG_SYNC_DEVICE_ON_FROM_DEVICE, m->dev, &m->origin,
			   "%s of bus 0x%llx with %s on a FROM_DEVICE mapping (the device only writes it: nothing to send); expected FROM_DEVICE",
			   call, (unsigned long long)dma, dbg_dir(dir));
	else
		dbg_report(d, p, DMAMAP_DEBUG_SYNC_DIR_MISMATCH, m->dev, &m->origin,
			   "%s of bus 0x%llx with %s; expected %s, the mapped direction",
			   call, (unsigned long long)dma, dbg_dir(dir), dbg_dir(m->dir));
}

/* UNMAP_NOT_MAPPED with what is known about the address. */
static void dbg_not_mapped(struct dm_debug *d, struct dbg_pend *p, struct dmamap_device *dev,
			   enum dm_dbg_type type, dmamap_dma_addr_t dma, uint64_t size,
			   const struct dm_site *site, bool is_free)
{
	const char *call = is_free ? "free" : "unmap";
	char from[192];
	int ln;
	dbg_site_str(site, from, sizeof(from), &ln);
	if (dma == DMAMAP_MAPPING_ERROR) {
		dbg_report(d, p, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, dev, site,
			   "%s_%s of DMAMAP_MAPPING_ERROR; expected only addresses a successful map returned (check with dmamap_mapping_error)",
			   call, dbg_type_names[type]);
		return;
	}
	struct dbg_seg *in = dbg_containing(d, dev, dma);
	if (in) {
		dbg_report(d, p, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, dev, &in->map->origin,
			   "%s_%s of bus 0x%llx (%llu bytes, called from %s) inside the live %s mapping [0x%llx, +%llu); expected the address the map returned, 0x%llx",
			   call, dbg_type_names[type], (unsigned long long)dma,
			   (unsigned long long)size, from, dbg_type_names[in->map->type],
			   (unsigned long long)in->dma, (unsigned long long)in->len,
			   (unsigned long long)in->dma);
		return;
	}
	struct dbg_gone *g = dbg_gone_dma(d, dev, dma);
	if (g && g->dma == dma) {
		dbg_report(d, p, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, dev, &g->origin,
			   "%s_%s of bus 0x%llx (%llu bytes, called from %s), already unmapped (a double unmap); expected one unmap per map",
			   call, dbg_type_names[type], (unsigned long long)dma,
			   (unsigned long long)size, from);
		return;
	}
	dbg_report(d, p, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, dev, site,
		   "%s_%s of bus 0x%llx (%llu bytes), which the device never had mapped; expected an address a map or allocation of this device returned",
		   call, dbg_type_names[type], (unsigned long long)dma,
		   (unsigned long long)size);
}

/* ---- hooks: life ------------------------------------------------------------------------ */

int dm_debug_init(struct dmamap_ctx *ctx)
{
	struct dm_debug *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	if (pthread_mutex_init(&d->lock, NULL)) {
		free(d);
		return -ENOMEM;
	}
	d->ctx = ctx;
	ctx->debug = d;
	dm_log(ctx, DMAMAP_LOG_INFO, "dma-debug: the DMA API checker is on");
	return 0;
}

void dm_debug_fini(struct dmamap_ctx *ctx)
{
	struct dm_debug *d = ctx->debug;
	if (!d)
		return;
	while (d->maps) {
		struct dbg_map *m = d->maps;
		d->maps = m->next;
		free(m);
	}
	for (unsigned int i = 0; i < DBG_NLINES; i++)
		while (d->lines[i]) {
			struct dbg_lines *e = d->lines[i];
			d->lines[i] = e->next;
			free(e);
		}
	pthread_mutex_destroy(&d->lock);
	free(d);
	ctx->debug = NULL;
}

void dm_debug_device_added(struct dmamap_device *dev)
{
	const struct dmamap_debug_hw_ops *h = dbg_hw(dev);
	if (h && h->watch)
		h->watch(dev->ctx->plat.priv, dev->hw, true);
}

void dm_debug_device_removed(struct dmamap_device *dev)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	dbg_pend_init(&p);
	pthread_mutex_lock(&d->lock);
	if (!d->disabled)
		dbg_poll_dev(d, &p, dev);
	struct dbg_map *m = d->maps;
	while (m) {
		struct dbg_map *next = m->next;
		if (m->dev == dev) {
			if (!d->disabled)
				dbg_report(d, &p, DMAMAP_DEBUG_LEAK_AT_REMOVE, dev, &m->origin,
					   "device removed with its %s mapping of bus 0x%llx (%llu bytes, %s) still live; expected every mapping unmapped and allocation freed first",
					   dbg_type_names[m->type],
					   (unsigned long long)m->segs[0].dma,
					   (unsigned long long)m->size, dbg_dir(m->dir));
			dbg_remove(d, m);
		}
		m = next;
	}
	/* The device's memory may be reused for another device. */
	for (unsigned int i = 0; i < DMAMAP_DEBUG_KEEP; i++)
		if (d->gone[i].dev == dev)
			d->gone[i].dev = NULL;
	const struct dmamap_debug_hw_ops *h = dbg_hw(dev);
	if (h && h->watch)
		h->watch(dev->ctx->plat.priv, dev->hw, false);
	pthread_mutex_unlock(&d->lock);
	dbg_flush(d, &p);
}

/* ---- hooks: streaming mappings -------------------------------------------------------- */

void dm_debug_map(struct dmamap_device *dev, enum dm_dbg_type type, const void *cpu,
		  dmamap_phys_addr_t phys, bool phys_ok, size_t size,
		  enum dmamap_data_direction dir, unsigned long attrs,
		  dmamap_dma_addr_t dma, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	bool ram = type != DM_DBG_RESOURCE;
	bool bad = ram && dbg_check_buffer(d, &p, dev, &site, type, cpu, phys, phys_ok,
					   size, "");
	if (dma != DMAMAP_MAPPING_ERROR) {
		struct dbg_map *m = dbg_new(d, dev, type, 1, ram && !bad ? 1 : 0);
		if (m) {
			m->dir = dir;
			m->attrs = attrs;
			m->origin = site;
			m->size = size;
			m->segs[0].dma = dma;
			m->segs[0].len = size;
			if (m->ncpu)
				m->cpur[0] = (struct dbg_range){ phys, size };
			dbg_insert(d, m);
			dbg_overlap(d, &p, m);
		}
	}
	dbg_leave(dev, &p);
}

int dm_debug_unmap(struct dmamap_device *dev, enum dm_dbg_type type,
		   dmamap_dma_addr_t dma, size_t size,
		   enum dmamap_data_direction dir, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return -1;
	int live = 1;
	struct dbg_seg *s = dma == DMAMAP_MAPPING_ERROR
				    ? NULL
				    : dbg_exact(d, dev, dma, type, size, dir);
	if (!s) {
		dbg_not_mapped(d, &p, dev, type, dma, size, &site, false);
		live = 0;
	} else {
		struct dbg_map *m = s->map;
		const char *tn = dbg_type_names[type];
		if (m->type != type)
			dbg_report(d, &p, DMAMAP_DEBUG_KIND_MISMATCH, dev, &m->origin,
				   "%s of bus 0x%llx, which %s made; expected %s",
				   dbg_unmap_call[type], (unsigned long long)dma,
				   dbg_map_call[m->type], dbg_unmap_call[m->type]);
		else if (size != s->len)
			dbg_report(d, &p, DMAMAP_DEBUG_SIZE_MISMATCH, dev, &m->origin,
				   "unmap_%s of bus 0x%llx with %zu bytes; expected %llu, the mapped size "
				   "(the unmap is refused; the mapping stays live)",
				   tn, (unsigned long long)dma, size, (unsigned long long)s->len);
		if (dir != m->dir)
			dbg_report(d, &p, DMAMAP_DEBUG_DIR_MISMATCH, dev, &m->origin,
				   "unmap_%s of bus 0x%llx with %s; expected %s, the mapped direction",
				   tn, (unsigned long long)dma, dbg_dir(dir), dbg_dir(m->dir));
		if (size != s->len) {
			live = 0; /* a wrong size would tear down part of it, or more */
		} else {
			dbg_check_unchecked(d, &p, m, dbg_unmap_call[type]);
			dbg_remove(d, m);
		}
	}
	dbg_leave(dev, &p);
	return live;
}

void dm_debug_map_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		     int mapped, enum dmamap_data_direction dir, unsigned long attrs,
		     struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	struct dbg_map *m = mapped > 0 ? dbg_new(d, dev, DM_DBG_SG, mapped, nents) : NULL;
	for (int i = 0; i < nents; i++) {
		dmamap_phys_addr_t phys = 0;
		bool ok = !dm_virt_to_phys(dev->ctx, sg[i].cpu, &phys);
		char what[32];
		snprintf(what, sizeof(what), " (sg entry %d)", i);
		bool bad = dbg_check_buffer(d, &p, dev, &site, DM_DBG_SG, sg[i].cpu, phys, ok,
					    sg[i].length, what);
		if (m && !bad)
			m->cpur[i] = (struct dbg_range){ phys, sg[i].length };
	}
	if (m) {
		m->dir = dir;
		m->attrs = attrs;
		m->origin = site;
		m->nents = nents;
		m->checked = true; /* map_sg reports failure as 0: nothing to check */
		for (int i = 0; i < nents; i++)
			m->size += sg[i].length;
		for (int i = 0; i < mapped; i++) {
			uint64_t start = sg[i].dma_address, len = sg[i].dma_length;
			uint64_t end = start + (len ? len - 1 : 0);
			m->segs[i].dma = start;
			m->segs[i].len = len;
			if (len > dev->max_seg_size)
				dbg_report(d, &p, DMAMAP_DEBUG_SG_SEGMENT_TOO_LONG, dev, &site,
					   "map_sg bus segment %d [0x%llx, +%llu) is longer than the device's max_segment_size; expected at most %u bytes per segment",
					   i, (unsigned long long)start, (unsigned long long)len,
					   dev->max_seg_size);
			if ((start ^ end) & ~dev->seg_boundary_mask)
				dbg_report(d, &p, DMAMAP_DEBUG_SG_CROSSES_BOUNDARY, dev, &site,
					   "map_sg bus segment %d [0x%llx, 0x%llx] crosses a segment boundary (mask 0x%llx); expected every segment inside one boundary window",
					   i, (unsigned long long)start, (unsigned long long)end,
					   (unsigned long long)dev->seg_boundary_mask);
		}
		dbg_insert(d, m);
		dbg_overlap(d, &p, m);
	}
	dbg_leave(dev, &p);
}

void dm_debug_unmap_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		       enum dmamap_data_direction dir, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	struct dbg_seg *s = dbg_exact(d, dev, sg[0].dma_address, DM_DBG_SG,
				      sg[0].dma_length, dir);
	if (!s) {
		uint64_t bytes = 0;
		for (int i = 0; i < nents; i++)
			bytes += sg[i].length;
		dbg_not_mapped(d, &p, dev, DM_DBG_SG, sg[0].dma_address, bytes, &site, false);
	} else {
		struct dbg_map *m = s->map;
		if (m->type != DM_DBG_SG) {
			dbg_report(d, &p, DMAMAP_DEBUG_KIND_MISMATCH, dev, &m->origin,
				   "unmap_sg of bus 0x%llx, which %s made; expected %s",
				   (unsigned long long)sg[0].dma_address,
				   dbg_map_call[m->type], dbg_unmap_call[m->type]);
		} else if (nents != m->nents) {
			dbg_report(d, &p, DMAMAP_DEBUG_SG_COUNT_MISMATCH, dev, &m->origin,
				   "unmap_sg of bus 0x%llx with nents %d; expected %d, the value passed to map_sg (not the count it returned)",
				   (unsigned long long)sg[0].dma_address, nents, m->nents);
		} else {
			for (int i = 0; i < m->nsegs; i++) {
				if (sg[i].dma_address == m->segs[i].dma &&
				    sg[i].dma_length == m->segs[i].len)
					continue;
				dbg_report(d, &p, DMAMAP_DEBUG_SIZE_MISMATCH, dev, &m->origin,
					   "unmap_sg: bus segment %d is [0x%llx, +%u); expected [0x%llx, +%llu), as mapped",
					   i, (unsigned long long)sg[i].dma_address,
					   sg[i].dma_length, (unsigned long long)m->segs[i].dma,
					   (unsigned long long)m->segs[i].len);
				break;
			}
		}
		if (dir != m->dir)
			dbg_report(d, &p, DMAMAP_DEBUG_DIR_MISMATCH, dev, &m->origin,
				   "unmap_sg of bus 0x%llx with %s; expected %s, the mapped direction",
				   (unsigned long long)sg[0].dma_address, dbg_dir(dir),
				   dbg_dir(m->dir));
		dbg_check_unchecked(d, &p, m, "unmap_sg");
		dbg_remove(d, m);
	}
	dbg_leave(dev, &p);
}

/* SYNC_NOT_MAPPED with what is known about the address. */
static void dbg_sync_not_mapped(struct dm_debug *d, struct dbg_pend *p,
				struct dmamap_device *dev, dmamap_dma_addr_t dma,
				uint64_t size, bool for_cpu, const struct dm_site *site)
{
	const char *call = for_cpu ? "sync_for_cpu" : "sync_for_device";
	struct dbg_gone *g = dbg_gone_dma(d, dev, dma);
	if (g)
		dbg_report(d, p, DMAMAP_DEBUG_SYNC_NOT_MAPPED, dev, &g->origin,
			   "%s of bus 0x%llx+%llu after its %s mapping was unmapped; expected syncs only while mapped",
			   call, (unsigned long long)dma, (unsigned long long)size,
			   dbg_type_names[g->type]);
	else
		dbg_report(d, p, DMAMAP_DEBUG_SYNC_NOT_MAPPED, dev, site,
			   "%s of bus 0x%llx+%llu, which no live mapping of the device contains; expected a range inside a live mapping",
			   call, (unsigned long long)dma, (unsigned long long)size);
}

void dm_debug_sync(struct dmamap_device *dev, dmamap_dma_addr_t dma, size_t size,
		   enum dmamap_data_direction dir, bool for_cpu, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	struct dbg_seg *s = dbg_containing(d, dev, dma);
	if (!s) {
		dbg_sync_not_mapped(d, &p, dev, dma, size, for_cpu, &site);
	} else {
		struct dbg_map *m = s->map;
		dbg_check_unchecked(d, &p, m, for_cpu ? "sync_for_cpu" : "sync_for_device");
		if (size > s->len - (dma - s->dma))
			dbg_report(d, &p, DMAMAP_DEBUG_SYNC_OUT_OF_RANGE, dev, &m->origin,
				   "%s of [0x%llx, +%zu) runs past the mapping [0x%llx, +%llu); expected a range inside it",
				   for_cpu ? "sync_for_cpu" : "sync_for_device",
				   (unsigned long long)dma, size, (unsigned long long)s->dma,
				   (unsigned long long)s->len);
		dbg_check_sync_dir(d, &p, m, dir, for_cpu, dma);
		m->cpu_owned = for_cpu;
	}
	dbg_leave(dev, &p);
}

void dm_debug_sync_sg(struct dmamap_device *dev, struct dmamap_sg *sg, int nents,
		      enum dmamap_data_direction dir, bool for_cpu, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	struct dbg_seg *s = dbg_containing(d, dev, sg[0].dma_address);
	if (!s) {
		dbg_sync_not_mapped(d, &p, dev, sg[0].dma_address, sg[0].dma_length, for_cpu,
				    &site);
	} else {
		struct dbg_map *m = s->map;
		const char *call = for_cpu ? "sync_sg_for_cpu" : "sync_sg_for_device";
		if (m->type == DM_DBG_SG && nents != m->nents)
			dbg_report(d, &p, DMAMAP_DEBUG_SG_COUNT_MISMATCH, dev, &m->origin,
				   "%s of bus 0x%llx with nents %d; expected %d, the value passed to map_sg",
				   call, (unsigned long long)sg[0].dma_address, nents, m->nents);
		/* Every bus segment the list names must lie inside one of this record's. */
		for (int i = 0; i < nents; i++) {
			if (!sg[i].dma_length)
				continue;
			bool inside = false;
			for (int k = 0; k < m->nsegs && !inside; k++)
				inside = sg[i].dma_address >= m->segs[k].dma &&
					 sg[i].dma_length <= m->segs[k].len &&
					 sg[i].dma_address - m->segs[k].dma <=
						 m->segs[k].len - sg[i].dma_length;
			if (inside)
				continue;
			dbg_report(d, &p, DMAMAP_DEBUG_SYNC_OUT_OF_RANGE, dev, &m->origin,
				   "%s: segment %d [0x%llx, +%u) is not inside the mapping; expected the segments map_sg produced",
				   call, i, (unsigned long long)sg[i].dma_address,
				   sg[i].dma_length);
			break;
		}
		dbg_check_sync_dir(d, &p, m, dir, for_cpu, sg[0].dma_address);
		m->cpu_owned = for_cpu;
	}
	dbg_leave(dev, &p);
}

void dm_debug_mapping_error(struct dmamap_device *dev, dmamap_dma_addr_t dma)
{
	struct dm_debug *d = dev->ctx->debug;
	pthread_mutex_lock(&d->lock);
	/* As Linux: the first unchecked mapping at that address is now checked. */
	for (struct dbg_seg *s = d->seg[dbg_bucket(dma >> DBG_GRAN_SHIFT)]; s; s = s->next) {
		if (s->map->dev == dev && s->dma == dma && !s->map->checked) {
			s->map->checked = true;
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- hooks: allocations ------------------------------------------------------------------ */

void dm_debug_alloc(struct dmamap_device *dev, enum dm_dbg_type type, const void *cpu,
		    size_t size, dmamap_dma_addr_t dma, enum dmamap_data_direction dir,
		    struct dm_site site)
{
	if (!cpu)
		return; /* a failed allocation returns NULL: nothing to record */
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	dmamap_phys_addr_t phys = 0;
	bool ram = !dm_virt_to_phys(dev->ctx, cpu, &phys);
	struct dbg_map *m = dbg_new(d, dev, type, 1, ram ? 1 : 0);
	if (m) {
		m->dir = dir;
		m->origin = site;
		m->cpu = cpu;
		m->size = size;
		m->checked = true; /* failure is NULL */
		/* Non-coherent memory starts owned by the CPU (Linux's rule). */
		m->cpu_owned = true;
		m->segs[0].dma = dma;
		m->segs[0].len = size;
		if (ram)
			m->cpur[0] = (struct dbg_range){ phys, size };
		dbg_insert(d, m);
	}
	dbg_leave(dev, &p);
}

void dm_debug_free(struct dmamap_device *dev, enum dm_dbg_type type, const void *cpu,
		   size_t size, dmamap_dma_addr_t dma, enum dmamap_data_direction dir,
		   bool freed, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	const char *tn = type == DM_DBG_COHERENT ? "coherent" : "noncoherent";
	struct dbg_seg *s = dbg_exact(d, dev, dma, type, size, dir);
	if (!s) {
		dbg_not_mapped(d, &p, dev, type, dma, size, &site, true);
	} else {
		struct dbg_map *m = s->map;
		if (m->type != type)
			dbg_report(d, &p, DMAMAP_DEBUG_KIND_MISMATCH, dev, &m->origin,
				   "%s of bus 0x%llx, which %s made; expected %s",
				   dbg_unmap_call[type], (unsigned long long)dma,
				   dbg_map_call[m->type], dbg_unmap_call[m->type]);
		else if (size != m->size)
			dbg_report(d, &p, DMAMAP_DEBUG_SIZE_MISMATCH, dev, &m->origin,
				   "free_%s of bus 0x%llx with %zu bytes; expected %llu, the allocated size",
				   tn, (unsigned long long)dma, size, (unsigned long long)m->size);
		if (m->type == type && cpu != m->cpu)
			dbg_report(d, &p, DMAMAP_DEBUG_CPU_ADDR_MISMATCH, dev, &m->origin,
				   "free_%s of bus 0x%llx with CPU address %p; expected %p, the address the allocation returned%s",
				   tn, (unsigned long long)dma, cpu, m->cpu,
				   freed ? "" : " (the library refused the free)");
		if (m->type == type && type == DM_DBG_NONCOHERENT && dir != m->dir)
			dbg_report(d, &p, DMAMAP_DEBUG_DIR_MISMATCH, dev, &m->origin,
				   "free_noncoherent of bus 0x%llx with %s; expected %s, the allocated direction",
				   (unsigned long long)dma, dbg_dir(dir), dbg_dir(m->dir));
		if (freed)
			dbg_remove(d, m);
	}
	dbg_leave(dev, &p);
}

void dm_debug_pool_busy(struct dmamap_device *dev, const char *pool, uint64_t busy,
			const void *created_pc, struct dm_site site)
{
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return;
	char from[192];
	int ln;
	dbg_site_str(&site, from, sizeof(from), &ln);
	struct dm_site created = { NULL, created_pc };
	dbg_report(d, &p, DMAMAP_DEBUG_POOL_DESTROY_BUSY, dev, &created,
		   "dmamap_pool_destroy (called from %s) of pool '%s' with %llu busy blocks (refused); expected every block freed with dmamap_pool_free first",
		   from, pool, (unsigned long long)busy);
	dbg_leave(dev, &p);
}

/* ---- the public API (debug.h) ----------------------------------------------------------------- */

bool dmamap_debug_enabled(const struct dmamap_ctx *ctx)
{
	return ctx && ctx->debug;
}

const char *dmamap_debug_kind_name(enum dmamap_debug_kind kind)
{
	return (unsigned int)kind < DMAMAP_DEBUG_NR_KINDS ? dbg_kind_names[kind] : "?";
}

int dmamap_debug_set_callback(struct dmamap_ctx *ctx, dmamap_debug_fn fn, void *priv)
{
	if (!ctx || !ctx->debug)
		return -EINVAL;
	struct dm_debug *d = ctx->debug;
	pthread_mutex_lock(&d->lock);
	d->fn = fn;
	d->fn_priv = priv;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

unsigned int dmamap_debug_poll(struct dmamap_ctx *ctx)
{
	if (!ctx || !ctx->debug)
		return 0;
	struct dm_debug *d = ctx->debug;
	struct dbg_pend p;
	dbg_pend_init(&p);
	/* ctx->lock keeps the devices alive; then d->lock (the order everywhere). */
	pthread_mutex_lock(&ctx->lock);
	pthread_mutex_lock(&d->lock);
	uint64_t before = d->nrep;
	if (!d->disabled)
		for (unsigned int i = 0; i < ctx->ndevices; i++)
			if (ctx->devices[i]->debug)
				dbg_poll_dev(d, &p, ctx->devices[i]);
	uint64_t added = d->nrep - before;
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&ctx->lock);
	dbg_flush(d, &p);
	return (unsigned int)added;
}

uint64_t dmamap_debug_count(struct dmamap_ctx *ctx, enum dmamap_debug_kind kind)
{
	if (!ctx || !ctx->debug || (unsigned int)kind >= DMAMAP_DEBUG_NR_KINDS)
		return 0;
	dmamap_debug_poll(ctx);
	struct dm_debug *d = ctx->debug;
	pthread_mutex_lock(&d->lock);
	uint64_t n = d->count[kind];
	pthread_mutex_unlock(&d->lock);
	return n;
}

unsigned int dmamap_debug_reports(struct dmamap_ctx *ctx, struct dmamap_debug_report *out,
				  unsigned int max)
{
	if (!ctx || !ctx->debug || !out)
		return 0;
	dmamap_debug_poll(ctx);
	struct dm_debug *d = ctx->debug;
	pthread_mutex_lock(&d->lock);
	uint64_t kept = d->nrep < DMAMAP_DEBUG_KEEP ? d->nrep : DMAMAP_DEBUG_KEEP;
	unsigned int n = kept < max ? (unsigned int)kept : max;
	for (unsigned int i = 0; i < n; i++)
		out[i] = d->rep[(d->nrep - n + i) % DMAMAP_DEBUG_KEEP];
	pthread_mutex_unlock(&d->lock);
	return n;
}

void dmamap_debug_clear(struct dmamap_ctx *ctx)
{
	if (!ctx || !ctx->debug)
		return;
	struct dm_debug *d = ctx->debug;
	pthread_mutex_lock(&d->lock);
	d->nrep = 0;
	memset(d->count, 0, sizeof(d->count));
	pthread_mutex_unlock(&d->lock);
}

int dmamap_debug_cpu_access(struct dmamap_device *dev, const void *cpu, size_t len)
{
	if (!dev || !dev->debug || !cpu || !len)
		return 0;
	dmamap_phys_addr_t phys;
	if (dm_virt_to_phys(dev->ctx, cpu, &phys))
		return 0; /* not RAM: nothing the checker can say */
	struct dm_site site = DM_SITE(NULL);
	struct dm_debug *d = dev->ctx->debug;
	struct dbg_pend p;
	if (!dbg_enter(dev, &p))
		return 0;
	/* 1. The API contract: a live mapping the device may write, owned by it. */
	struct dbg_map *owner = NULL, *any = NULL;
	for (struct dbg_map *m = d->maps; m && !owner; m = m->next) {
		if (m->dev != dev)
			continue;
		for (int i = 0; i < m->ncpu; i++) {
			const struct dbg_range *r = &m->cpur[i];
			if (!r->len || phys >= r->phys + r->len || r->phys >= phys + len)
				continue;
			if (!any)
				any = m;
			if ((dbg_streaming(m->type) || m->type == DM_DBG_NONCOHERENT) &&
			    m->dir != DMAMAP_TO_DEVICE && !m->cpu_owned) {
				owner = m;
				break;
			}
		}
	}
	/* 2. The hardware: lines a non-coherent device wrote the CPU cannot see. */
	const struct dmamap_debug_hw_ops *h = dev->ctx->plat.ops->debug;
	dmamap_phys_addr_t first = 0;
	uint64_t stale = h && h->cpu_stale
				 ? h->cpu_stale(dev->ctx->plat.priv, phys, len, &first)
				 : 0;
	int reported = 0;
	if (owner || stale) {
		const struct dm_site *origin = &site;
		struct dbg_gone *g = NULL;
		if (owner)
			origin = &owner->origin;
		else if (any)
			origin = &any->origin;
		else if ((g = dbg_gone_phys(d, dev, phys, len)))
			origin = &g->origin;
		char own[160] = "", st[200] = "";
		if (owner)
			snprintf(own, sizeof(own),
				 "; the %s mapping is owned by the device (no sync for the CPU since map or sync_for_device)",
				 dbg_dir(owner->dir));
		if (stale)
			snprintf(st, sizeof(st),
				 "; %llu cache line%s from 0x%llx hold device writes the CPU has not invalidated (stale reads)",
				 (unsigned long long)stale, stale == 1 ? "" : "s",
				 (unsigned long long)first);
		dbg_report(d, &p, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC, dev, origin,
			   "CPU read of %zu bytes at phys 0x%llx%s%s; expected a sync for the CPU (or the unmap) first",
			   len, (unsigned long long)phys, own, st);
		reported = 1;
	}
	dbg_leave(dev, &p);
	return reported;
}
