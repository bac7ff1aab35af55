/*
 * sim/cache.c - the CPU's write-back cache, as non-coherent devices see it.
 *
 * Owns: what memory holds where it differs from what the CPU sees, cache
 * maintenance (clean, invalidate, uncached ranges), and every device
 * access to RAM (coherent devices take a short path through here too, so
 * that memory's copy stays right).  Must never decide DMA policy, never
 * include anything from src/, and never intercept CPU loads and stores:
 * the CPU view is plain host memory at the CPU pointer.
 *
 * Addresses are storage addresses: the machine's physical addresses on
 * bare metal, and under a hypervisor the OS's guest-physical addresses for
 * its own pages plus the frames-of-others region (xen.c converts a
 * foreign page's guest address before calling in).  So an entry follows
 * the bytes, whatever machine frame is behind them today.
 *
 * Semantics, per 64-byte line (machine-global):
 *   - Untracked line: memory == CPU view.
 *   - A tracked line has mem[64], what memory (and so a non-coherent
 *     device) holds.  The CPU view is the host memory at the CPU pointer.
 *     A tracked line the CPU wrote is dirty forever: CPU stores after the
 *     last clean reach memory only at the next clean, so a missing sync
 *     is a wrong byte every time, never a lucky eviction.  Whether the CPU
 *     wrote it is told by a hash of the CPU's line taken whenever the line
 *     was last in sync (entry, clean, invalidate): a line whose CPU bytes
 *     still hash the same is clean, and maintenance never writes it back
 *     (hardware writes back only dirty lines).  A store of the very bytes
 *     already there goes unseen, which only ever spares device data.
 *   - clean(range): every RAM line touching the range: mem = CPU view
 *     (entry created if absent), unless the line is tracked and clean,
 *     which leaves memory (and any device data in it, devdirty kept)
 *     alone.  lines_cleaned += those lines.
 *   - invalidate(range): every tracked RAM line touching the range: bytes
 *     inside the range take mem's value in the CPU view; for a dirty edge
 *     line, bytes outside the range keep the CPU's (the edges are cleaned
 *     first, as arm64 does) and mem = the resulting CPU line; a clean edge
 *     line is simply dropped, so the CPU sees all of memory's line (found
 *     by fuzz_api: writing a clean edge back destroyed device data beyond
 *     a partial sync).  The line stays tracked.
 *     lines_invalidated += every RAM line touching the range.
 *   - Non-coherent device write: entry created if absent (mem = CPU view
 *     first), bytes go into mem only; the CPU keeps seeing its old bytes
 *     until an invalidate.
 *   - Non-coherent device read: from mem when tracked, else from the CPU
 *     view.  When mem differs from the CPU view of the bytes read and the
 *     device has not itself written the line since the last clean or
 *     invalidate, the CPU holds dirty data it never cleaned:
 *     stale_device_reads += 1 per such line.
 *   - Coherent device write: CPU view, and mem too when tracked.  Coherent
 *     read: CPU view.
 *   - set_uncached(range, true): entries of lines touching the range are
 *     dropped (clean semantics: the CPU view stays and is memory) and the
 *     lines are marked uncached; no entry is ever created for an uncached
 *     line, so device accesses there go straight to the CPU view.
 *     set_uncached(false) removes the mark.
 *   - Freed pages forget their entries and uncached marks (simi_cache_forget).
 *   - stale_lines(range), for the DMA API checker: tracked lines with
 *     devdirty set, i.e. device writes the CPU cannot see yet.  Reads only.
 *   - tracked_lines = lines with an entry bit set.
 *
 * Structure: one entry per tracked 4 KiB page (a 64-bit mask of tracked
 * lines plus a 4 KiB shadow), in an open-addressing hash keyed by frame
 * number.  Page granularity makes a 1514-byte buffer's clean one or two
 * lookups instead of 24, and a page free one lookup instead of 64; only
 * pages with a tracked line cost memory.  One mutex guards it all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

/* One tracked page.  key == 0 marks an empty slot. */
struct simi_cpage {
	uint64_t key;      /* frame number + 1 */
	uint64_t valid;    /* bit i: line i is tracked; mem holds memory's copy */
	uint64_t devdirty; /* bit i: a non-coherent device wrote line i since
			    * the CPU last cleaned or invalidated it */
	uint8_t *mem;      /* SIM_PAGE_SIZE bytes, meaningful where valid */
	/* Hash of the CPU's line when it was last in sync, where valid. */
	uint64_t sync_hash[SIM_LINES_PER_PAGE];
};

/* FNV-1a over one cache line of the CPU view. */
static uint64_t line_hash(const uint8_t *line)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (unsigned int i = 0; i < SIM_CACHE_LINE; i++)
		h = (h ^ line[i]) * 0x100000001b3ULL;
	return h;
}

/* The CPU wrote line l of page p (at cpu, the page's CPU view) since sync. */
static bool line_dirty(const struct simi_cpage *p, const uint8_t *cpu, unsigned int l)
{
	return line_hash(cpu + l * SIM_CACHE_LINE) != p->sync_hash[l];
}

#define CACHE_MIN_BITS 10 /* 1024 slots to start */
#define CACHE_MAX_SPARE 1024 /* shadows kept for reuse: at most 4 MiB */

/* ---- the hash table (cache lock held) ------------------------------------ */

static size_t slot_of(const struct simi_cache *c, uint64_t key)
{
	/* Fibonacci hashing: frame numbers are dense, multiply to spread. */
	return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 32) & (c->cap - 1);
}

static struct simi_cpage *ct_find(struct simi_cache *c, uint64_t pfn)
{
	if (!c->used)
		return NULL;
	uint64_t key = pfn + 1;
	for (size_t i = slot_of(c, key);; i = (i + 1) & (c->cap - 1)) {
		if (c->tab[i].key == key)
			return &c->tab[i];
		if (!c->tab[i].key)
			return NULL;
	}
}

static int ct_grow(struct simi_cache *c)
{
	size_t ocap = c->cap;
	struct simi_cpage *old = c->tab;
	struct simi_cpage *tab = calloc(ocap * 2, sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	c->tab = tab;
	c->cap = ocap * 2;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].key)
			continue;
		size_t j = slot_of(c, old[i].key);
		while (tab[j].key)
			j = (j + 1) & (c->cap - 1);
		tab[j] = old[i];
	}
	free(old);
	return 0;
}

/* The page's entry, created (nothing tracked yet) when absent; NULL: ENOMEM. */
static struct simi_cpage *ct_get(struct simi_cache *c, uint64_t pfn)
{
	struct simi_cpage *p = ct_find(c, pfn);
	if (p)
		return p;
	/* Load stays at most 1/2 so probe runs stay short. */
	if ((c->used + 1) * 2 > c->cap && ct_grow(c))
		return NULL;
	uint8_t *mem = c->nspare ? c->spare[--c->nspare]
				 : malloc(SIM_PAGE_SIZE);
	if (!mem)
		return NULL;
	uint64_t key = pfn + 1;
	size_t i = slot_of(c, key);
	while (c->tab[i].key)
		i = (i + 1) & (c->cap - 1);
	c->tab[i] = (struct simi_cpage){ .key = key, .mem = mem };
	c->used++;
	atomic_store_explicit(&c->npages, c->used, memory_order_relaxed);
	return &c->tab[i];
}

/* Removes slot i by backward shift (linear probing keeps no tombstones). */
static void ct_remove_at(struct simi_cache *c, size_t i)
{
	struct simi_cpage *t = c->tab;
	size_t mask = c->cap - 1;
	c->tracked_lines -= (uint64_t)__builtin_popcountll(t[i].valid);
	if (c->nspare < CACHE_MAX_SPARE)
		c->spare[c->nspare++] = t[i].mem;
	else
		free(t[i].mem);
	for (size_t j = i;;) {
		j = (j + 1) & mask;
		if (!t[j].key)
			break;
		size_t home = slot_of(c, t[j].key);
		/* Entry j may fill the hole at i unless its home lies in (i, j]. */
		bool stays = i <= j ? (home > i && home <= j)
				    : (home > i || home <= j);
		if (!stays) {
			t[i] = t[j];
			i = j;
		}
	}
	t[i] = (struct simi_cpage){ 0 };
	c->used--;
	atomic_store_explicit(&c->npages, c->used, memory_order_relaxed);
}

static void ct_remove(struct simi_cache *c, struct simi_cpage *p)
{
	ct_remove_at(c, (size_t)(p - c->tab));
}

/* Untracks lines `bits` of page p; removes the entry when none is left. */
static void drop_lines(struct simi_cache *c, struct simi_cpage *p,
		       uint64_t bits)
{
	c->tracked_lines -= (uint64_t)__builtin_popcountll(p->valid & bits);
	p->valid &= ~bits;
	p->devdirty &= ~bits;
	if (!p->valid)
		ct_remove(c, p);
}

/* ---- life ------------------------------------------------------------------ */

int simi_cache_init(struct sim_machine *m)
{
	struct simi_cache *c = &m->cache;
	c->cap = (size_t)1 << CACHE_MIN_BITS;
	c->tab = calloc(c->cap, sizeof(*c->tab));
	c->spare = malloc(CACHE_MAX_SPARE * sizeof(*c->spare));
	if (!c->tab || !c->spare || pthread_mutex_init(&c->lock, NULL)) {
		free(c->tab);
		free(c->spare);
		return -ENOMEM;
	}
	return 0;
}

void simi_cache_fini(struct sim_machine *m)
{
	struct simi_cache *c = &m->cache;
	for (size_t i = 0; i < c->cap; i++)
		free(c->tab[i].mem);
	for (size_t i = 0; i < c->nspare; i++)
		free(c->spare[i]);
	free(c->tab);
	free(c->spare);
	simi_ext_free(&c->uncached);
	pthread_mutex_destroy(&c->lock);
}

/* ---- walking a range page by page ------------------------------------------ */

/*
 * One page's share of a byte range: the page, its CPU pointer (NULL when
 * not RAM), and the range's bytes [a, b) within it, as page offsets.
 */
struct page_span {
	uint64_t pbase;
	uint8_t *cpu;
	uint64_t a, b;
};

/* Line mask for page offsets [a, b), b > a. */
static uint64_t line_bits(uint64_t a, uint64_t b)
{
	unsigned int l0 = (unsigned int)(a / SIM_CACHE_LINE);
	unsigned int l1 = (unsigned int)((b - 1) / SIM_CACHE_LINE);
	uint64_t hi = l1 == 63 ? ~0ULL : (1ULL << (l1 + 1)) - 1;
	return hi & ~((1ULL << l0) - 1);
}

/* Clips [phys, phys + size) to the modelled space; false when empty. */
static bool clip(uint64_t phys, uint64_t size, uint64_t *end)
{
	if (!size || phys >= SIM_PHYS_LIMIT)
		return false;
	*end = size > SIM_PHYS_LIMIT - phys ? SIM_PHYS_LIMIT : phys + size;
	return true;
}

static struct page_span span_at(struct sim_machine *m, uint64_t addr,
				uint64_t end)
{
	struct page_span s;
	s.pbase = addr & ~SIM_PAGE_MASK;
	s.a = addr - s.pbase;
	s.b = end - s.pbase < SIM_PAGE_SIZE ? end - s.pbase : SIM_PAGE_SIZE;
	const struct simi_mapping *mp =
		simi_storage_mapping_of(m, s.pbase, SIM_PAGE_SIZE);
	s.cpu = mp ? mp->cpu + (s.pbase - mp->base) : NULL;
	return s;
}

static bool line_uncached(const struct simi_cache *c, uint64_t line)
{
	return c->uncached.n &&
	       simi_ext_contains(&c->uncached, line, line + SIM_CACHE_LINE);
}

/* ---- cache maintenance ------------------------------------------------------- */

void simi_cache_clean(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	struct simi_cache *c = &m->cache;
	uint64_t end;
	if (!clip(phys, size, &end))
		return;
	pthread_mutex_lock(&c->lock);
	for (uint64_t addr = phys; addr < end;) {
		struct page_span s = span_at(m, addr, end);
		addr = s.pbase + s.b;
		if (!s.cpu)
			continue;
		uint64_t bits = line_bits(s.a, s.b);
		c->lines_cleaned += (uint64_t)__builtin_popcountll(bits);
		struct simi_cpage *p = NULL;
		while (bits) {
			unsigned int l = (unsigned int)__builtin_ctzll(bits);
			uint64_t bit = 1ULL << l, off = l * SIM_CACHE_LINE;
			bits &= bits - 1;
			if (line_uncached(c, s.pbase + off))
				continue;
			/*
			 * Without memory for an entry the line stays untracked,
			 * which already means memory == CPU view: a clean.
			 */
			if (!p && !(p = ct_get(c, s.pbase >> SIM_PAGE_SHIFT)))
				break;
			if ((p->valid & bit) && !line_dirty(p, s.cpu, l))
				continue; /* clean: nothing to write back */
			memcpy(p->mem + off, s.cpu + off, SIM_CACHE_LINE);
			if (!(p->valid & bit)) {
				p->valid |= bit;
				c->tracked_lines++;
			}
			p->sync_hash[l] = line_hash(s.cpu + off);
			p->devdirty &= ~bit;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void simi_cache_invalidate(struct sim_machine *m, uint64_t phys,
			   uint64_t size)
{
	struct simi_cache *c = &m->cache;
	uint64_t end;
	if (!clip(phys, size, &end))
		return;
	pthread_mutex_lock(&c->lock);
	for (uint64_t addr = phys; addr < end;) {
		struct page_span s = span_at(m, addr, end);
		addr = s.pbase + s.b;
		if (!s.cpu)
			continue;
		uint64_t bits = line_bits(s.a, s.b);
		c->lines_invalidated += (uint64_t)__builtin_popcountll(bits);
		struct simi_cpage *p = ct_find(c, s.pbase >> SIM_PAGE_SHIFT);
		if (!p)
			continue; /* untracked: the CPU already sees memory */
		bits &= p->valid;
		while (bits) {
			unsigned int l = (unsigned int)__builtin_ctzll(bits);
			uint64_t off = l * SIM_CACHE_LINE;
			bits &= bits - 1;
			uint64_t a = s.a > off ? s.a : off;
			uint64_t b = s.b < off + SIM_CACHE_LINE ? s.b
							      : off + SIM_CACHE_LINE;
			if (line_dirty(p, s.cpu, l)) {
				/* Inside the range memory wins; a dirty edge
				 * keeps the CPU's bytes, written back. */
				memcpy(s.cpu + a, p->mem + a, b - a);
				memcpy(p->mem + off, s.cpu + off, SIM_CACHE_LINE);
			} else {
				memcpy(s.cpu + off, p->mem + off, SIM_CACHE_LINE);
			}
			p->sync_hash[l] = line_hash(s.cpu + off);
			p->devdirty &= ~(1ULL << l);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* Drops every entry bit of lines touching [phys, end) (cache lock held). */
static void drop_range(struct sim_machine *m, uint64_t phys, uint64_t end)
{
	struct simi_cache *c = &m->cache;
	if (!c->used)
		return;
	uint64_t first = phys >> SIM_PAGE_SHIFT;
	uint64_t last = (end - 1) >> SIM_PAGE_SHIFT;
	if (last - first >= c->cap) {
		/*
		 * A range with more pages than the table has slots: scan the
		 * table instead.  Backward shift only moves entries into the
		 * hole from later in the probe run, so re-checking slot i
		 * visits every entry.
		 */
		for (size_t i = 0; i < c->cap;) {
			uint64_t k = c->tab[i].key;
			if (k && k - 1 >= first && k - 1 <= last) {
				uint64_t pb = (k - 1) << SIM_PAGE_SHIFT;
				uint64_t a = phys > pb ? phys - pb : 0;
				uint64_t b = end - pb < SIM_PAGE_SIZE
						     ? end - pb
						     : SIM_PAGE_SIZE;
				uint64_t bits = line_bits(a, b);
				if (c->tab[i].valid & ~bits) {
					drop_lines(c, &c->tab[i], bits);
					i++;
				} else {
					ct_remove_at(c, i);
				}
				continue;
			}
			i++;
		}
		return;
	}
	for (uint64_t addr = phys; addr < end;) {
		struct page_span s = span_at(m, addr, end);
		addr = s.pbase + s.b;
		struct simi_cpage *p = ct_find(c, s.pbase >> SIM_PAGE_SHIFT);
		if (p)
			drop_lines(c, p, line_bits(s.a, s.b));
	}
}

void simi_cache_set_uncached(struct sim_machine *m, uint64_t phys,
			     uint64_t size, bool uncached)
{
	struct simi_cache *c = &m->cache;
	uint64_t end;
	if (!clip(phys, size, &end))
		return;
	/* Uncached marks are line granular. */
	uint64_t base = phys & ~SIM_LINE_MASK;
	end = (end + SIM_LINE_MASK) & ~SIM_LINE_MASK;
	pthread_mutex_lock(&c->lock);
	if (uncached) {
		drop_range(m, base, end);
		/* On ENOMEM the range stays cached: still correct for a driver
		 * that syncs, merely less forgiving. */
		(void)simi_ext_add(&c->uncached, base, end);
	} else {
		(void)simi_ext_remove(&c->uncached, base, end);
	}
	pthread_mutex_unlock(&c->lock);
}

void simi_cache_forget(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	struct simi_cache *c = &m->cache;
	uint64_t end;
	if (!clip(phys, size, &end))
		return;
	pthread_mutex_lock(&c->lock);
	drop_range(m, phys, end);
	if (c->uncached.n)
		(void)simi_ext_remove(&c->uncached, phys, end);
	pthread_mutex_unlock(&c->lock);
}

/* ---- device accesses ------------------------------------------------------------ */

void simi_cache_dev_read(struct sim_machine *m, const struct simi_mapping *mp,
			 uint64_t phys, void *dst, size_t len, bool coherent)
{
	struct simi_cache *c = &m->cache;
	const uint8_t *cpu = mp->cpu + (phys - mp->base);
	if (coherent) {
		memcpy(dst, cpu, len); /* snoops: always the CPU's view */
		return;
	}
	uint8_t *out = dst;
	uint64_t end = phys + len;
	pthread_mutex_lock(&c->lock);
	for (uint64_t addr = phys; addr < end;) {
		uint64_t pbase = addr & ~SIM_PAGE_MASK;
		uint64_t pend = end - pbase < SIM_PAGE_SIZE ? end
							     : pbase + SIM_PAGE_SIZE;
		uint8_t *pcpu = mp->cpu + (pbase - mp->base);
		struct simi_cpage *p = ct_find(c, pbase >> SIM_PAGE_SHIFT);
		if (!p) {
			memcpy(out + (addr - phys), pcpu + (addr - pbase),
			       pend - addr);
			addr = pend;
			continue;
		}
		while (addr < pend) {
			uint64_t off = addr - pbase;
			unsigned int l = (unsigned int)(off / SIM_CACHE_LINE);
			uint64_t n = (l + 1) * SIM_CACHE_LINE - off;
			if (n > pend - addr)
				n = pend - addr;
			uint64_t bit = 1ULL << l;
			const uint8_t *from = pcpu + off;
			if (p->valid & bit) {
				from = p->mem + off;
				if (!(p->devdirty & bit) &&
				    memcmp(from, pcpu + off, n))
					c->stale_device_reads++;
			}
			memcpy(out + (addr - phys), from, n);
			addr += n;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void simi_cache_dev_write(struct sim_machine *m,
			  const struct simi_mapping *mp, uint64_t phys,
			  const void *src, size_t len, bool coherent)
{
	struct simi_cache *c = &m->cache;
	const uint8_t *in = src;
	uint8_t *cpu = mp->cpu + (phys - mp->base);
	uint64_t end = phys + len;
	if (coherent) {
		memcpy(cpu, src, len);
		/* Fast path: nothing tracked anywhere, no lock taken. */
		if (!atomic_load_explicit(&c->npages, memory_order_relaxed))
			return;
	}
	pthread_mutex_lock(&c->lock);
	for (uint64_t addr = phys; addr < end;) {
		uint64_t pbase = addr & ~SIM_PAGE_MASK;
		uint64_t pend = end - pbase < SIM_PAGE_SIZE ? end
							     : pbase + SIM_PAGE_SIZE;
		uint8_t *pcpu = mp->cpu + (pbase - mp->base);
		uint64_t pfn = pbase >> SIM_PAGE_SHIFT;
		struct simi_cpage *p = ct_find(c, pfn);
		if (coherent && !p) {
			addr = pend;
			continue;
		}
		while (addr < pend) {
			uint64_t off = addr - pbase;
			unsigned int l = (unsigned int)(off / SIM_CACHE_LINE);
			uint64_t n = (l + 1) * SIM_CACHE_LINE - off;
			if (n > pend - addr)
				n = pend - addr;
			uint64_t bit = 1ULL << l;
			const uint8_t *from = in + (addr - phys);
			if (coherent) {
				/* The CPU's copy and memory both changed (the
				 * CPU view before this call's memcpy is gone, so
				 * a tracked line counts as in sync again). */
				if (p->valid & bit) {
					memcpy(p->mem + off, from, n);
					p->sync_hash[l] = line_hash(pcpu + l * SIM_CACHE_LINE);
				}
			} else if (line_uncached(c, pbase + (off & ~SIM_LINE_MASK))) {
				memcpy(pcpu + off, from, n);
			} else {
				if (!p)
					p = ct_get(c, pfn);
				if (!p) {
					/* No host memory to track it: behave
					 * as an untracked (coherent) line. */
					memcpy(pcpu + off, from, n);
				} else {
					if (!(p->valid & bit)) {
						memcpy(p->mem + l * SIM_CACHE_LINE,
						       pcpu + l * SIM_CACHE_LINE,
						       SIM_CACHE_LINE);
						p->sync_hash[l] =
							line_hash(pcpu + l * SIM_CACHE_LINE);
						p->valid |= bit;
						c->tracked_lines++;
					}
					memcpy(p->mem + off, from, n);
					p->devdirty |= bit;
				}
			}
			addr += n;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/*
 * For the DMA API checker (platform.h, cpu_stale): tracked lines a
 * non-coherent device wrote (devdirty) that no clean or invalidate has
 * reached since.  Whatever the bytes: a read there is a read before sync
 * even when the device happened to write what the CPU holds.
 */
uint64_t simi_cache_stale_lines(struct sim_machine *m, uint64_t phys,
				uint64_t size, uint64_t *first)
{
	struct simi_cache *c = &m->cache;
	uint64_t end, n = 0;
	if (!clip(phys, size, &end))
		return 0;
	if (!atomic_load_explicit(&c->npages, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&c->lock);
	for (uint64_t addr = phys; addr < end;) {
		uint64_t pbase = addr & ~SIM_PAGE_MASK;
		uint64_t b = end - pbase < SIM_PAGE_SIZE ? end - pbase : SIM_PAGE_SIZE;
		struct simi_cpage *p = ct_find(c, pbase >> SIM_PAGE_SHIFT);
		uint64_t bits = p ? p->valid & p->devdirty & line_bits(addr - pbase, b) : 0;
		if (bits && !n && first)
			*first = pbase + (uint64_t)__builtin_ctzll(bits) * SIM_CACHE_LINE;
		n += (uint64_t)__builtin_popcountll(bits);
		addr = pbase + b;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

void sim_cache_get_stats(struct sim_machine *m, struct sim_cache_stats *st)
{
	struct simi_cache *c = &m->cache;
	pthread_mutex_lock(&c->lock);
	st->lines_cleaned = c->lines_cleaned;
	st->lines_invalidated = c->lines_invalidated;
	st->tracked_lines = c->tracked_lines;
	st->stale_device_reads = c->stale_device_reads;
	pthread_mutex_unlock(&c->lock);
}
