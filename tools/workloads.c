/*
 * tools/workloads.c - the built-in drivers (see workloads.h).
 *
 * Owns: nic, blk, gpu, adversarial and xen-backend, each a small driver
 * over the public driver API plus its device's side on the simulator's DMA
 * engine (and, for xen-backend, a domU frontend on the simulator's
 * hypervisor).  Must
 * never include src/ headers or decide policy: a driver only sees the bus
 * addresses the library hands it, and classifies a mapping as bounced only
 * by comparing where that address lands with where its buffer is.
 *
 * Data: every byte is a function of (seed, position in the stream), so
 * both sides can check what arrived without keeping copies.  A transfer
 * with any wrong byte counts as one integrity error.
 */
#include "workloads.h"

#include "trace.h"
#include <dmamap/sim/xen.h>

#include <dmamap/debug.h>
#include <dmamap/xen.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WL_4G (1ULL << 32)
#define WL_PAGE 4096ULL
#define WL_TICK 4096            /* ops between progress calls */
/* Tracing on: the rare case; off, each traced call costs this one branch. */
#define TRACING(e) __builtin_expect((e)->tr != NULL, 0)
/* The wrappers below are inlined as the plain calls were (their trace
 * calls are out of line), so tracing off costs only the branch. */
#define WL_INLINE static inline __attribute__((always_inline))

/* ---- the data pattern (wlenv.h's stream) ----------------------------------- */

/* True when b holds bytes [off, off + n) of stream seed. */
static bool pat_ok(const uint8_t *b, size_t n, uint64_t seed, uint64_t off)
{
	uint8_t tmp[512];
	for (size_t done = 0; done < n;) {
		size_t c = n - done < sizeof(tmp) ? n - done : sizeof(tmp);
		wl_pattern_fill(tmp, c, seed, off + done);
		if (memcmp(tmp, b + done, c))
			return false;
		done += c;
	}
	return true;
}


/* ---- helpers --------------------------------------------------------------- */

/*
 * Marks are coarse (64 KiB granules) so the same few buffers and pool
 * slots, used a million times, stay a few marks.
 */
void wl_mark(struct rpt_device *d, uint64_t phys, uint64_t len, bool bounced)
{
	const uint64_t g = 64 << 10;
	if (phys == UINT64_MAX || !len)
		return;
	uint64_t first = phys & ~(g - 1);
	uint64_t last = ((phys + len - 1) | (g - 1));
	for (unsigned int i = 0; i < d->nmarks; i++) {
		struct rpt_mark *mk = &d->marks[i];
		if (mk->bounced != bounced)
			continue;
		/* Overlapping or adjacent: grow the mark. */
		if (first <= mk->last + 1 && last + 1 >= mk->first) {
			if (first < mk->first)
				mk->first = first;
			if (last > mk->last)
				mk->last = last;
			mk->count++;
			return;
		}
	}
	if (d->nmarks == RPT_MAX_MARKS) {
		d->marks_dropped++;
		return;
	}
	d->marks[d->nmarks++] = (struct rpt_mark){ first, last, bounced, 1 };
}

static void wl_problem(struct wl_env *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void wl_problem(struct wl_env *e, const char *fmt, ...)
{
	if (e->problem[0])
		return; /* the first one is the one worth reading */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->problem, sizeof(e->problem), fmt, ap);
	va_end(ap);
}

/* A stop was asked for (a signal): the loops end between iterations, with
 * nothing of the iteration left mapped, and the workload cleans up. */
static bool wl_stopped(const struct wl_env *e)
{
	return e->stop && *e->stop;
}

static void wl_ops(struct wl_env *e, uint64_t n)
{
	uint64_t before = e->ops;
	e->ops += n;
	if (e->tick && before / WL_TICK != e->ops / WL_TICK)
		e->tick(e->tick_priv, e->ops);
}

/* Classifies and records a single mapping. */
static void wl_note_map(struct wl_env *e, const void *cpu, dmamap_dma_addr_t bus,
			uint64_t len)
{
	uint64_t at;
	bool bounced = wl_bounced(e, cpu, bus, &at);
	wl_mark(e->out, at, len, bounced); /* not bounced: at is the buffer */
}

/*
 * Pages for buffers as the workload's `buffers` key asks: low (below
 * 4 GiB), high (at or above) or any (where the allocator prefers: high
 * zones first, as a kernel's allocations mostly are), starting on a
 * multiple of `align` pages.
 */
static int wl_alloc(struct wl_env *e, enum scn_buffers where, uint64_t npages,
		    uint64_t align, uint64_t *phys)
{
	uint64_t lo = where == SCN_BUF_HIGH ? WL_4G : 0;
	uint64_t hi = where == SCN_BUF_LOW ? WL_4G - 1 : UINT64_MAX;
	int arc = sim_alloc_pages(e->m, npages, align, lo, hi, phys);
	if (TRACING(e))
		trace_alloc(e->tr, e, where == SCN_BUF_HIGH ? "high" : where == SCN_BUF_LOW ?
			    "low" : "any", npages, align, arc, arc ? 0 : *phys);
	if (!arc)
		return 0;
	uint64_t probe;
	if (sim_alloc_pages(e->m, 1, 1, lo, hi, &probe)) {
		wl_problem(e, "buffers: %s, but the machine has no free RAM %s 4 GiB",
			   where == SCN_BUF_HIGH ? "high" : "low",
			   where == SCN_BUF_HIGH ? "at or above" : "below");
		return -ERANGE;
	}
	sim_free_pages(e->m, probe, 1);
	wl_problem(e, "out of machine memory for %llu buffer pages",
		   (unsigned long long)npages);
	return -ENOMEM;
}

static void *wl_cpu(struct wl_env *e, uint64_t phys)
{
	return sim_phys_to_cpu(e->m, phys);
}

WL_INLINE void wl_free(struct wl_env *e, uint64_t phys, uint64_t npages)
{
	if (TRACING(e))
		trace_free(e->tr, e, phys);
	sim_free_pages(e->m, phys, npages);
}

/* The device's raw accesses (the adversarial one counts its own). */
WL_INLINE int dev_read_raw(struct wl_env *e, uint64_t bus, void *dst, size_t len)
{
	int rc = sim_dma_read(e->sd, bus, dst, len);
	if (TRACING(e))
		trace_dev_read(e->tr, bus, dst, len, rc);
	return rc;
}

/* Device side: read into dst; false (and counted) on a bus error. */
WL_INLINE bool dev_read(struct wl_env *e, uint64_t bus, void *dst, size_t len)
{
	if (dev_read_raw(e, bus, dst, len))
		return false;
	e->out->transfers++;
	return true;
}

/* The device writes bytes [off, off + len) of stream seed, built in scratch. */
WL_INLINE bool dev_write_pat(struct wl_env *e, uint64_t bus, uint8_t *scratch, size_t len,
			  uint64_t seed, uint64_t off)
{
	wl_pattern_fill(scratch, len, seed, off);
	int rc = sim_dma_write(e->sd, bus, scratch, len);
	if (TRACING(e))
		trace_dev_write(e->tr, bus, scratch, len, rc, seed, off, -1);
	if (rc)
		return false;
	e->out->transfers++;
	return true;
}

/* ---- the driver's side: CPU writes and checks, library calls ------------ */

WL_INLINE void cpu_fill(struct wl_env *e, void *b, size_t n, uint64_t seed, uint64_t off)
{
	wl_pattern_fill(b, n, seed, off);
	if (TRACING(e))
		trace_fill(e->tr, b, n, seed, off);
}

WL_INLINE void cpu_set(struct wl_env *e, void *b, int v, size_t n)
{
	memset(b, v, n);
	if (TRACING(e))
		trace_set(e->tr, b, v, n);
}

WL_INLINE void cpu_store(struct wl_env *e, void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	if (TRACING(e))
		trace_store(e->tr, dst, src, n);
}

/* The CPU checks bytes the device wrote at bus (after the sync). */
WL_INLINE bool cpu_check(struct wl_env *e, const void *b, size_t n, uint64_t seed, uint64_t off,
		      dmamap_dma_addr_t bus)
{
	if (TRACING(e))
		trace_check(e->tr, b, n, bus);
	/* Declared to the DMA API checker (a no-op with it off), so a run
	 * with dma_debug=on catches a read before the sync. */
	dmamap_debug_cpu_access(e->dev, b, n);
	return pat_ok(b, n, seed, off);
}

WL_INLINE dmamap_dma_addr_t t_map_single(struct wl_env *e, void *cpu, size_t size,
				      enum dmamap_data_direction d)
{
	dmamap_dma_addr_t a = dmamap_map_single(e->dev, cpu, size, d);
	if (TRACING(e))
		trace_map(e->tr, e, "map_single", cpu, size, d, 0, a);
	return a;
}

WL_INLINE void t_unmap_single(struct wl_env *e, dmamap_dma_addr_t a, size_t size,
			   enum dmamap_data_direction d)
{
	if (TRACING(e))
		trace_unmap(e->tr, "unmap_single", a, size, d, 0);
	dmamap_unmap_single(e->dev, a, size, d);
}

WL_INLINE dmamap_dma_addr_t t_map_page(struct wl_env *e, void *cpu, size_t size,
				    enum dmamap_data_direction d)
{
	dmamap_dma_addr_t a = dmamap_map_page(e->dev, dmamap_virt_to_page(cpu),
					      (uintptr_t)cpu & (WL_PAGE - 1), size, d);
	if (TRACING(e))
		trace_map(e->tr, e, "map_page", cpu, size, d, 0, a);
	return a;
}

WL_INLINE void t_unmap_page(struct wl_env *e, dmamap_dma_addr_t a, size_t size,
			 enum dmamap_data_direction d)
{
	if (TRACING(e))
		trace_unmap(e->tr, "unmap_page", a, size, d, 0);
	dmamap_unmap_page(e->dev, a, size, d);
}

WL_INLINE int t_map_sgtable(struct wl_env *e, struct dmamap_sg_table *sgt,
			 enum dmamap_data_direction d)
{
	int rc = dmamap_map_sgtable(e->dev, sgt, d, 0);
	if (TRACING(e))
		trace_map_sgt(e->tr, e, sgt, d, 0, rc);
	return rc;
}

WL_INLINE void t_unmap_sgtable(struct wl_env *e, struct dmamap_sg_table *sgt,
			    enum dmamap_data_direction d)
{
	if (TRACING(e))
		trace_unmap_sgt(e->tr, sgt, d, 0);
	dmamap_unmap_sgtable(e->dev, sgt, d, 0);
}

WL_INLINE void t_sync_single_for_cpu(struct wl_env *e, dmamap_dma_addr_t a, size_t size,
				  enum dmamap_data_direction d)
{
	if (TRACING(e))
		trace_sync(e->tr, true, a, size, d);
	dmamap_sync_single_for_cpu(e->dev, a, size, d);
}

WL_INLINE void t_sync_sgtable_for_cpu(struct wl_env *e, struct dmamap_sg_table *sgt,
				   enum dmamap_data_direction d)
{
	if (TRACING(e))
		trace_sync_sgt(e->tr, true, sgt, d);
	dmamap_sync_sgtable_for_cpu(e->dev, sgt, d);
}

WL_INLINE void *t_alloc_coherent(struct wl_env *e, size_t size, dmamap_dma_addr_t *h)
{
	void *cpu = dmamap_alloc_coherent(e->dev, size, h);
	if (TRACING(e))
		trace_alloc_coherent(e->tr, size, cpu, cpu ? *h : DMAMAP_MAPPING_ERROR);
	return cpu;
}

WL_INLINE void t_free_coherent(struct wl_env *e, size_t size, void *cpu, dmamap_dma_addr_t h)
{
	if (TRACING(e))
		trace_free_coherent(e->tr, cpu);
	dmamap_free_coherent(e->dev, size, cpu, h);
}

/* ---- nic: a descriptor ring and streaming rx/tx buffers ------------------ */

#define NIC_RING 256
#define NIC_BUFS 64
#define NIC_HEADROOM 2            /* NET_IP_ALIGN: packets start unaligned */

struct nic_desc {
	uint64_t addr;
	uint32_t len;
	uint32_t flags;           /* 1: the device owns it */
};

static int wl_nic(const struct scn_workload *w, struct wl_env *e)
{
	uint64_t count = w->count ? w->count : WL_NIC_COUNT;
	uint64_t size = w->size ? w->size : WL_NIC_SIZE;
	uint64_t npages = (size + NIC_HEADROOM + WL_PAGE - 1) / WL_PAGE;
	uint64_t nbufs = count < NIC_BUFS ? count : NIC_BUFS;
	enum scn_dir dir = w->dir ? w->dir : SCN_DIR_BIDI;
	uint64_t bufs[NIC_BUFS];
	unsigned int got = 0;
	int rc = 0;
	uint8_t *scratch = malloc(size);
	if (!scratch)
		return -ENOMEM;

	dmamap_dma_addr_t ring_dma;
	struct nic_desc *ring = t_alloc_coherent(e, NIC_RING * sizeof(*ring), &ring_dma);
	if (!ring) {
		/* A driver whose ring cannot be allocated does not come up. */
		e->out->map_failures++;
		wl_problem(e, "nic: the coherent descriptor ring could not be allocated");
		goto out;
	}
	e->out->coherent_allocs++;
	for (; got < nbufs; got++) {
		rc = wl_alloc(e, w->buffers, npages, 1, &bufs[got]);
		if (rc)
			goto out;
	}

	for (uint64_t i = 0; i < count && !wl_stopped(e); i++) {
		bool rx = dir == SCN_DIR_FROM || (dir == SCN_DIR_BIDI && (i & 1));
		uint8_t *buf = (uint8_t *)wl_cpu(e, bufs[i % nbufs]) + NIC_HEADROOM;
		uint64_t seed = e->seed + i;
		unsigned int slot = (unsigned int)(i % NIC_RING);
		enum dmamap_data_direction d = rx ? DMAMAP_FROM_DEVICE : DMAMAP_TO_DEVICE;

		if (!rx)
			cpu_fill(e, buf, size, seed, 0);
		dmamap_dma_addr_t a = t_map_single(e, buf, size, d);
		if (dmamap_mapping_error(e->dev, a)) {
			wl_ops(e, 1);
			continue;
		}
		wl_note_map(e, buf, a, size);
		const struct nic_desc nd = { a, (uint32_t)size, 1 };
		cpu_store(e, &ring[slot], &nd, sizeof(nd));

		/* The device fetches the descriptor, then the packet. */
		struct nic_desc dd;
		bool ok = dev_read(e, ring_dma + slot * sizeof(dd), &dd, sizeof(dd)) &&
			  dd.addr == a && dd.len == size && dd.flags == 1;
		if (!ok) {
			e->out->integrity_errors++;
			wl_problem(e, "nic: packet %llu: the device read a wrong descriptor "
				   "from the coherent ring", (unsigned long long)i);
		} else if (!rx) {
			if (!dev_read(e, a, scratch, size) || !pat_ok(scratch, size, seed, 0)) {
				e->out->integrity_errors++;
				wl_problem(e, "nic: tx packet %llu: the device read wrong bytes",
					   (unsigned long long)i);
			}
		} else {
			bool wrote = dev_write_pat(e, a, scratch, size, seed, 0);
			t_sync_single_for_cpu(e, a, size, d);
			e->out->syncs++;
			if (!wrote || !cpu_check(e, buf, size, seed, 0, a)) {
				e->out->integrity_errors++;
				wl_problem(e, "nic: rx packet %llu: the CPU read wrong bytes "
					   "after sync_for_cpu", (unsigned long long)i);
			}
		}
		const uint32_t idle = 0;
		cpu_store(e, &ring[slot].flags, &idle, sizeof(idle));
		t_unmap_single(e, a, size, d);
		wl_ops(e, 2);
	}
out:
	for (unsigned int i = 0; i < got; i++)
		wl_free(e, bufs[i], npages);
	if (ring)
		t_free_coherent(e, NIC_RING * sizeof(*ring), ring, ring_dma);
	free(scratch);
	return rc;
}

/*
 * The device's side of one bus segment [a, a + len), stream bytes from
 * `off`, moved in chunks of at most `chunk` through `scratch`: it writes
 * them (a read request) or reads and checks them.
 */
static bool dev_segment(struct wl_env *e, uint64_t a, uint64_t len, bool rd, uint8_t *scratch,
			uint64_t chunk, uint64_t seed, uint64_t off)
{
	bool ok = true;
	for (uint64_t done = 0; done < len && ok; done += chunk) {
		uint64_t c = len - done < chunk ? len - done : chunk;
		if (rd) {
			ok = dev_write_pat(e, a + done, scratch, c, seed, off + done);
		} else {
			ok = dev_read(e, a + done, scratch, c) && pat_ok(scratch, c, seed, off + done);
		}
	}
	return ok;
}

/* After a read request: sync for the CPU, then every CPU segment checked. */
static bool cpu_check_sgt(struct wl_env *e, struct dmamap_sg_table *sgt,
			  enum dmamap_data_direction d, uint64_t seed)
{
	t_sync_sgtable_for_cpu(e, sgt, d);
	e->out->syncs++;
	uint64_t pos = 0;
	for (unsigned int s = 0; s < sgt->orig_nents; s++) {
		if (!cpu_check(e, sgt->sgl[s].cpu, sgt->sgl[s].length, seed, pos,
			       sgt->sgl[0].dma_address))
			return false;
		pos += sgt->sgl[s].length;
	}
	return true;
}

/*
 * Where a mapped list landed.  When the library kept one bus segment per
 * CPU segment, each is classified as for a single map; when an IOMMU
 * merged them, the bus segments are drawn where they land (merged
 * segments are never bounce buffers).
 */
static void wl_note_sgt(struct wl_env *e, const struct dmamap_sg_table *sgt)
{
	for (unsigned int s = 0; s < sgt->nents; s++) {
		const struct dmamap_sg *g = &sgt->sgl[s];
		if (sgt->nents == sgt->orig_nents)
			wl_note_map(e, g->cpu, g->dma_address, g->length);
		else
			wl_mark(e->out, wl_bus_to_phys(e, g->dma_address), g->dma_length, false);
	}
}

/*
 * One request's device side over a mapped list: every bus segment checked
 * against max_segment_size and the boundary (UINT64_MAX: no rule), then
 * moved as one stream; for a read, the driver's sync and CPU check.
 * False when anything is wrong (the problem is recorded).
 */
static bool sgt_transfer(struct wl_env *e, struct dmamap_sg_table *sgt, bool rd,
			 enum dmamap_data_direction d, uint8_t *scratch, uint64_t chunk,
			 uint64_t seed, uint64_t size, uint64_t maxseg, uint64_t boundary,
			 const char *what, uint64_t i)
{
	uint64_t off = 0;
	bool ok = true;
	for (unsigned int s = 0; s < sgt->nents && ok; s++) {
		uint64_t a = sgt->sgl[s].dma_address, len = sgt->sgl[s].dma_length;
		if (len > maxseg || (a & ~boundary) != ((a + len - 1) & ~boundary)) {
			wl_problem(e, "%s: request %llu: bus segment %u (0x%llx+%llu) breaks "
				   "max_segment_size %llu or boundary 0x%llx", what,
				   (unsigned long long)i, s, (unsigned long long)a,
				   (unsigned long long)len, (unsigned long long)maxseg,
				   (unsigned long long)boundary);
			ok = false;
			break;
		}
		ok = dev_segment(e, a, len, rd, scratch, chunk, seed, off);
		off += len;
	}
	ok = ok && off == size;
	if (rd)
		ok = cpu_check_sgt(e, sgt, d, seed) && ok; /* a driver syncs regardless */
	if (!ok) {
		e->out->integrity_errors++;
		wl_problem(e, "%s: %s request %llu: wrong bytes", what, rd ? "read" : "write",
			   (unsigned long long)i);
	}
	return ok;
}

/* ---- blk: scatterlists within max_segment_size and the boundary ---------- */

#define BLK_MAX_SEGS 256

static int wl_blk(const struct scn_workload *w, struct wl_env *e)
{
	uint64_t count = w->count ? w->count : WL_BLK_COUNT;
	uint64_t size = w->size ? w->size : WL_BLK_SIZE;
	uint64_t maxseg = w->max_segment_size ? w->max_segment_size : 64 << 10;
	uint64_t boundary = w->boundary ? w->boundary : UINT64_MAX;
	enum scn_dir dir = w->dir ? w->dir : SCN_DIR_BIDI;
	int rc = 0;

	if (maxseg > UINT32_MAX)
		maxseg = UINT32_MAX;
	int prc = dmamap_set_max_seg_size(e->dev, (unsigned int)maxseg);
	if (TRACING(e))
		trace_param(e->tr, "set_max_seg_size", maxseg, prc);
	if (!prc && w->boundary) {
		prc = dmamap_set_seg_boundary(e->dev, boundary);
		if (TRACING(e))
			trace_param(e->tr, "set_seg_boundary", boundary, prc);
	}
	if (prc) {
		wl_problem(e, "blk: the device refused max_segment_size %llu or boundary 0x%llx",
			   (unsigned long long)maxseg, (unsigned long long)boundary);
		return 0;
	}
	/*
	 * The block layer's split: a bio's pages are not contiguous, so one
	 * page per segment unless `segments` asks for fewer, larger ones;
	 * never above max_segment_size and never crossing the boundary.
	 * Each segment lives in its own allocation aligned to its size, so it
	 * crosses no boundary at or above that size.
	 */
	uint64_t seg = WL_PAGE;
	if (w->segments)
		seg = ((size + w->segments - 1) / w->segments + WL_PAGE - 1) & ~(WL_PAGE - 1);
	if ((size + seg - 1) / seg > BLK_MAX_SEGS)
		seg = ((size + BLK_MAX_SEGS - 1) / BLK_MAX_SEGS + WL_PAGE - 1) & ~(WL_PAGE - 1);
	if (seg > (maxseg & ~(WL_PAGE - 1)))
		seg = maxseg & ~(WL_PAGE - 1);
	if (boundary + 1 != 0 && seg > boundary + 1)
		seg = boundary + 1;
	if (seg < WL_PAGE) {
		wl_problem(e, "blk: segments below one page (max_segment_size %llu, "
			   "boundary 0x%llx) are not supported",
			   (unsigned long long)maxseg, (unsigned long long)boundary);
		return 0;
	}
	uint64_t nsegs = (size + seg - 1) / seg;
	if (nsegs > BLK_MAX_SEGS) {
		wl_problem(e, "blk: a %llu-byte request needs %llu segments (at most %u)",
			   (unsigned long long)size, (unsigned long long)nsegs, BLK_MAX_SEGS);
		return 0;
	}
	uint64_t seg_pages = seg / WL_PAGE, align = 1;
	while (align < seg_pages)
		align <<= 1;

	uint64_t phys[BLK_MAX_SEGS];
	unsigned int got = 0;
	struct dmamap_sg_table sgt = { 0 };
	uint8_t *scratch = malloc(seg);
	if (!scratch || dmamap_sg_alloc_table(&sgt, (unsigned int)nsegs)) {
		free(scratch);
		return -ENOMEM;
	}
	for (; got < nsegs; got++) {
		/* Aligned to its size or not at all: an unaligned segment could
		 * cross the boundary, and that would be this driver's fault. */
		rc = wl_alloc(e, w->buffers, seg_pages, align, &phys[got]);
		if (rc)
			goto out;
	}

	for (uint64_t i = 0; i < count && !wl_stopped(e); i++) {
		bool rd = dir == SCN_DIR_FROM || (dir == SCN_DIR_BIDI && (i & 1));
		enum dmamap_data_direction d = rd ? DMAMAP_FROM_DEVICE : DMAMAP_TO_DEVICE;
		uint64_t seed = e->seed + i, left = size;
		for (unsigned int s = 0; s < nsegs; s++) {
			unsigned int len = (unsigned int)(left < seg ? left : seg);
			uint8_t *cpu = wl_cpu(e, phys[s]);
			dmamap_sg_set_buf(&sgt.sgl[s], cpu, len);
			if (!rd)
				cpu_fill(e, cpu, len, seed, size - left);
			left -= len;
		}
		if (t_map_sgtable(e, &sgt, d)) {
			wl_ops(e, 1);
			continue;
		}
		wl_note_sgt(e, &sgt);
		/* The device walks the bus segments as one stream. */
		sgt_transfer(e, &sgt, rd, d, scratch, seg, seed, size, maxseg, boundary, "blk", i);
		t_unmap_sgtable(e, &sgt, d);
		wl_ops(e, 2 * sgt.orig_nents);
	}
out:
	for (unsigned int s = 0; s < got; s++)
		wl_free(e, phys[s], seg_pages);
	dmamap_sg_free_table(&sgt);
	free(scratch);
	return rc;
}

/* ---- gpu: large scatterlists of scattered user pages ---------------------- */

static int wl_gpu(const struct scn_workload *w, struct wl_env *e)
{
	uint64_t count = w->count ? w->count : WL_GPU_COUNT;
	uint64_t size = w->size ? w->size : WL_GPU_SIZE;
	uint64_t npages = (size + WL_PAGE - 1) / WL_PAGE;
	enum scn_dir dir = w->dir ? w->dir : SCN_DIR_BIDI;
	if (npages > UINT32_MAX / 2) {
		wl_problem(e, "gpu: %llu bytes is too large for one scatterlist",
			   (unsigned long long)size);
		return 0;
	}
	uint64_t *phys = calloc(npages, sizeof(*phys));
	struct dmamap_sg_table sgt = { 0 };
	uint8_t scratch[WL_PAGE];
	uint64_t got = 0;
	int rc = 0;
	if (!phys || dmamap_sg_alloc_table(&sgt, (unsigned int)npages)) {
		free(phys);
		return -ENOMEM;
	}
	/* User memory: single pages, wherever the allocator puts them. */
	for (; got < npages; got++) {
		rc = wl_alloc(e, w->buffers, 1, 1, &phys[got]);
		if (rc)
			goto out;
	}
	/*
	 * Would a zero-copy user-pointer path work?  Ask the library page by
	 * page: a page whose bus address lands on the page itself is mapped
	 * in place; any other would bounce on every use.
	 */
	for (uint64_t p = 0; p < npages; p++) {
		void *cpu = wl_cpu(e, phys[p]);
		dmamap_dma_addr_t a = t_map_single(e, cpu, WL_PAGE, DMAMAP_TO_DEVICE);
		if (dmamap_mapping_error(e->dev, a)) {
			e->out->bounce_pages++;
			continue;
		}
		if (wl_bus_to_phys(e, a) == phys[p])
			e->out->zero_copy_pages++;
		else
			e->out->bounce_pages++;
		t_unmap_single(e, a, WL_PAGE, DMAMAP_TO_DEVICE);
	}
	wl_ops(e, 2 * npages);

	for (uint64_t i = 0; i < count && !wl_stopped(e); i++) {
		bool rd = dir == SCN_DIR_FROM || (dir == SCN_DIR_BIDI && (i & 1));
		enum dmamap_data_direction d = rd ? DMAMAP_FROM_DEVICE : DMAMAP_TO_DEVICE;
		uint64_t seed = e->seed + i, left = size;
		for (uint64_t p = 0; p < npages; p++) {
			unsigned int len = (unsigned int)(left < WL_PAGE ? left : WL_PAGE);
			uint8_t *cpu = wl_cpu(e, phys[p]);
			dmamap_sg_set_buf(&sgt.sgl[p], cpu, len);
			if (!rd)
				cpu_fill(e, cpu, len, seed, p * WL_PAGE);
			left -= len;
		}
		if (t_map_sgtable(e, &sgt, d)) {
			wl_ops(e, 1);
			continue;
		}
		wl_note_sgt(e, &sgt);
		sgt_transfer(e, &sgt, rd, d, scratch, WL_PAGE, seed, size, UINT64_MAX, UINT64_MAX,
			     "gpu", i);
		t_unmap_sgtable(e, &sgt, d);
		wl_ops(e, 2 * sgt.orig_nents);
	}
out:
	for (uint64_t p = 0; p < got; p++)
		wl_free(e, phys[p], 1);
	dmamap_sg_free_table(&sgt);
	free(phys);
	return rc;
}

/* ---- adversarial: a device that reaches for what it was not given -------- */

#define ADV_GRANT_OFF 1024        /* the grant sits inside a page of secrets */
#define ADV_FAR (64u << 10)
#define ADV_SECRET 0xa5

/*
 * Bytes the device reached at bus address `bus`: a read that succeeds is
 * reach, a bus error or an IOMMU fault is not (and the simulator counts it
 * as a fault).  When `cpu` is given, it is the CPU's byte at the same
 * offset within the buffer's page: *exposed counts the ones the device saw
 * (what it learnt of the page it was given a part of).
 */
static uint64_t adv_probe_read(struct wl_env *e, uint64_t bus, size_t len,
			       const uint8_t *cpu, uint64_t *exposed)
{
	uint8_t tmp[WL_PAGE];
	if (len > sizeof(tmp))
		len = sizeof(tmp);
	if (dev_read_raw(e, bus, tmp, len))
		return 0;
	/* Only the kernel's bytes count (the grant's own may match by chance). */
	for (size_t i = 0; cpu && i < len; i++)
		*exposed += tmp[i] == ADV_SECRET && cpu[i] == ADV_SECRET;
	return len;
}

static int wl_adversarial(const struct scn_workload *w, struct wl_env *e)
{
	uint64_t count = w->count ? w->count : WL_ADV_COUNT;
	uint64_t size = w->size ? w->size : WL_ADV_SIZE;
	if (size > WL_PAGE - ADV_GRANT_OFF)
		size = WL_PAGE - ADV_GRANT_OFF;
	uint64_t phys;
	int rc = wl_alloc(e, w->buffers, 1, 1, &phys);
	if (rc)
		return rc;
	uint8_t *page = wl_cpu(e, phys), *grant = page + ADV_GRANT_OFF;
	uint8_t tmp[WL_PAGE];

	for (uint64_t i = 0; i < count && !wl_stopped(e); i++) {
		uint64_t seed = e->seed + i;
		/* The whole page is the kernel's; only the grant is the device's.
		 * A constant never 0, so zeroed padding never counts as exposed. */
		cpu_set(e, page, ADV_SECRET, WL_PAGE);
		cpu_fill(e, grant, size, seed, 0);
		dmamap_dma_addr_t a = t_map_single(e, grant, size, DMAMAP_BIDIRECTIONAL);
		if (dmamap_mapping_error(e->dev, a)) {
			wl_ops(e, 1);
			continue;
		}
		wl_note_map(e, grant, a, size);
		/* What it was given must still arrive intact. */
		if (!dev_read(e, a, tmp, size) || !pat_ok(tmp, size, seed, 0)) {
			e->out->integrity_errors++;
			wl_problem(e, "adversarial: round %llu: the granted bytes arrived wrong",
				   (unsigned long long)i);
		}
		uint64_t pg = a & ~(WL_PAGE - 1), reached = 0, exposed = 0;
		/*
		 * The rest of the page around the grant (sub-page exposure),
		 * compared with the CPU's bytes at the same offsets around the
		 * buffer: a bounce that zeroes its padding exposes none.
		 */
		reached += adv_probe_read(e, pg, a - pg, page, &exposed);
		reached += adv_probe_read(e, a + size, pg + WL_PAGE - (a + size),
					  page + ((a + size) & (WL_PAGE - 1)), &exposed);
		/* Further away. */
		reached += adv_probe_read(e, a + ADV_FAR, 256, NULL, NULL);
		/* A write just past the end of the grant. */
		uint8_t junk[64];
		memset(junk, 0xee, sizeof(junk));
		int wrc = sim_dma_write(e->sd, a + size, junk, sizeof(junk));
		if (TRACING(e))
			trace_dev_write(e->tr, a + size, junk, sizeof(junk), wrc, 0, 0, 0xee);
		if (!wrc)
			reached += sizeof(junk);
		t_unmap_single(e, a, size, DMAMAP_BIDIRECTIONAL);
		/* After unmap, the old address. */
		reached += adv_probe_read(e, a, size, NULL, NULL);
		e->out->outside_reached += reached;
		e->out->exposed_bytes += exposed;
		wl_ops(e, 2);
	}
	wl_free(e, phys, 1);
	return 0;
}

/* ---- xen-backend: a PV backend in dom0 DMA-ing a domU's granted pages ---- */

struct xen_req {
	uint64_t gfn;             /* the domU's frame */
	uint32_t gref;
	uint64_t len, off;        /* bytes used in the page; offset in the stream */
	uint8_t *pg;              /* the domU's view of its frame */
	void *cpu;                /* dom0's view of the foreign page */
	dmamap_phys_addr_t phys;  /* its guest-physical address in dom0 */
	dmamap_dma_addr_t bus;    /* single maps */
	bool granted, mapped, dma_mapped;
};

/* Where the device's DMA for page k went and where it should have gone. */
static void xen_wrong(struct wl_env *e, uint64_t i, bool rx, const struct xen_req *q,
		      uint64_t bus)
{
	uint64_t mfn = 0, pfn = 0;
	char where[96] = "";
	sim_xen_domu_mfn(e->xen, e->domid, q->gfn, &mfn);
	/* Without the hypervisor's IOMMU the bus address is a machine address. */
	uint64_t at = bus;
	for (unsigned int r = 0; r < e->nranges; r++)
		if (bus >= e->ranges[r].dma && bus - e->ranges[r].dma < e->ranges[r].size)
			at = e->ranges[r].cpu + (bus - e->ranges[r].dma);
	if (!e->xen_iommu)
		snprintf(where, sizeof(where), !sim_xen_m2p(e->xen, at / WL_PAGE, &pfn) ?
			 " (machine 0x%llx: dom0's own frame 0x%llx)" :
			 " (machine 0x%llx: not dom0's)", (unsigned long long)at,
			 (unsigned long long)pfn);
	wl_problem(e, "xen-backend: %s request %llu: wrong bytes: the device %s bus 0x%llx%s, "
		   "domU %u's page (gfn 0x%llx) is at machine 0x%llx (ops %s)",
		   rx ? "rx" : "tx", (unsigned long long)i, rx ? "wrote" : "read",
		   (unsigned long long)bus, where, e->domid, (unsigned long long)q->gfn,
		   (unsigned long long)(mfn * WL_PAGE), dmamap_device_ops_name(e->dev));
}

static int wl_xen_backend(const struct scn_workload *w, struct wl_env *e)
{
	uint64_t count = w->count ? w->count : WL_XEN_COUNT;
	uint64_t size = w->size ? w->size : WL_XEN_SIZE;
	enum scn_dir dir = w->dir ? w->dir : SCN_DIR_BIDI;
	bool sg = w->segments != 0;
	uint64_t npages, chunk;
	if (!e->xen || !e->domid) {
		wl_problem(e, "xen-backend: no hypervisor or no domU to serve");
		return -ERANGE;
	}
	if (sg) {
		npages = w->segments;
		chunk = (size + npages - 1) / npages;
		if (chunk > WL_PAGE) {
			wl_problem(e, "xen-backend: %llu bytes in %llu segments is %llu bytes a "
				   "segment, but a grant is one 4 KiB page", (unsigned long long)size,
				   (unsigned long long)npages, (unsigned long long)chunk);
			return -ERANGE;
		}
	} else {
		npages = (size + WL_PAGE - 1) / WL_PAGE;
		chunk = WL_PAGE;
	}
	if (npages > WL_XEN_MAX_PAGES) {
		wl_problem(e, "xen-backend: a request of %llu pages (grants); at most %u",
			   (unsigned long long)npages, WL_XEN_MAX_PAGES);
		return -ERANGE;
	}
	struct dmamap_ctx *ctx = dmamap_device_ctx(e->dev);
	struct xen_req *q = calloc(npages, sizeof(*q));
	struct dmamap_sg_table sgt = { 0 };
	uint8_t scratch[WL_PAGE];
	if (!q || (sg && dmamap_sg_alloc_table(&sgt, (unsigned int)npages))) {
		free(q);
		return -ENOMEM;
	}

	for (uint64_t i = 0; i < count && !wl_stopped(e); i++) {
		bool rx = dir == SCN_DIR_FROM || (dir == SCN_DIR_BIDI && (i & 1));
		enum dmamap_data_direction d = rx ? DMAMAP_FROM_DEVICE : DMAMAP_TO_DEVICE;
		uint64_t seed = e->seed + i, left = size;
		bool ready = true, ok = true;
		memset(q, 0, npages * sizeof(*q));

		/* The frontend: fill (tx) or clear (rx) its pages, grant them. */
		for (uint64_t k = 0; k < npages && ready; k++) {
			q[k].len = left < chunk ? left : chunk;
			q[k].off = size - left;
			left -= q[k].len;
			q[k].gfn = (i * npages + k) % WL_XEN_DOMU_PAGES;
			uint8_t *pg = sim_xen_domu_page(e->xen, e->domid, q[k].gfn);
			if (pg && TRACING(e))
				trace_domu_page(e->tr, e->domid, q[k].gfn, pg);
			q[k].pg = pg;
			if (!pg) {
				wl_problem(e, "xen-backend: domU %u has no frame 0x%llx", e->domid,
					   (unsigned long long)q[k].gfn);
				ready = false;
				break;
			}
			if (rx)
				cpu_set(e, pg, 0, WL_PAGE);
			else
				cpu_fill(e, pg, q[k].len, seed, q[k].off);
			int rc = sim_xen_grant(e->xen, e->domid, q[k].gfn, !rx, &q[k].gref);
			if (TRACING(e))
				trace_grant(e->tr, pg, !rx, rc, q[k].gref);
			if (rc) {
				wl_problem(e, "xen-backend: domU %u could not grant frame 0x%llx (%s)",
					   e->domid, (unsigned long long)q[k].gfn, dmamap_strerror(rc));
				ready = false;
				break;
			}
			q[k].granted = true;
		}
		/* The backend: map each grant, then the foreign pages for DMA. */
		for (uint64_t k = 0; k < npages && ready; k++) {
			int rc = dmamap_xen_grant_map(ctx, e->domid, q[k].gref, !rx, &q[k].cpu,
						      &q[k].phys);
			if (TRACING(e))
				trace_grant_map(e->tr, q[k].pg, !rx, rc, q[k].cpu, q[k].phys);
			if (rc || !q[k].cpu) {
				e->out->map_failures++;
				wl_problem(e, "xen-backend: request %llu: grant %u of domU %u could not "
					   "be mapped (%s)", (unsigned long long)i, q[k].gref, e->domid,
					   rc ? dmamap_strerror(rc) : "no CPU address");
				if (!rc) {
					int urc = dmamap_xen_grant_unmap(ctx, q[k].phys);
					if (TRACING(e))
						trace_grant_unmap(e->tr, q[k].cpu, urc);
				}
				ready = false;
				break;
			}
			q[k].mapped = true;
		}
		if (ready && !sg) {
			for (uint64_t k = 0; k < npages && ready; k++) {
				q[k].bus = t_map_page(e, q[k].cpu, q[k].len, d);
				wl_ops(e, 1);
				if (dmamap_mapping_error(e->dev, q[k].bus)) {
					ready = false;
					break;
				}
				q[k].dma_mapped = true;
				wl_note_map(e, q[k].cpu, q[k].bus, q[k].len);
			}
			/* The device moves each page, then the driver hands them back. */
			for (uint64_t k = 0; k < npages && ready; k++) {
				if (!dev_segment(e, q[k].bus, q[k].len, rx, scratch, WL_PAGE, seed,
						 q[k].off)) {
					if (ok)
						xen_wrong(e, i, rx, &q[k], q[k].bus);
					ok = false;
				}
			}
			for (uint64_t k = 0; k < npages; k++) {
				if (!q[k].dma_mapped)
					continue;
				if (rx && ready) {
					t_sync_single_for_cpu(e, q[k].bus, q[k].len, d);
					e->out->syncs++;
				}
				t_unmap_page(e, q[k].bus, q[k].len, d);
				wl_ops(e, 1);
			}
		} else if (ready) {
			for (uint64_t k = 0; k < npages; k++)
				dmamap_sg_set_buf(&sgt.sgl[k], q[k].cpu, (unsigned int)q[k].len);
			wl_ops(e, npages);
			if (t_map_sgtable(e, &sgt, d)) {
				ready = false;
			} else {
				wl_note_sgt(e, &sgt);
				uint64_t off = 0;
				for (unsigned int s2 = 0; s2 < sgt.nents; s2++) {
					uint64_t a = sgt.sgl[s2].dma_address, l = sgt.sgl[s2].dma_length;
					if (!dev_segment(e, a, l, rx, scratch, WL_PAGE, seed, off)) {
						if (ok) {
							uint64_t k = 0;
							while (k + 1 < npages && q[k + 1].off <= off)
								k++;
							xen_wrong(e, i, rx, &q[k], a);
						}
						ok = false;
					}
					off += l;
				}
				if (off != size)
					ok = false;
				if (rx) {
					t_sync_sgtable_for_cpu(e, &sgt, d);
					e->out->syncs++;
				}
				t_unmap_sgtable(e, &sgt, d);
				wl_ops(e, npages);
			}
		}
		/* The backend unmaps the grants; the domU ends them. */
		for (uint64_t k = 0; k < npages; k++) {
			if (q[k].mapped) {
				int urc = dmamap_xen_grant_unmap(ctx, q[k].phys);
				if (TRACING(e))
					trace_grant_unmap(e->tr, q[k].cpu, urc);
			}
			if (q[k].granted) {
				int erc = sim_xen_grant_end(e->xen, e->domid, q[k].gref);
				if (TRACING(e))
					trace_grant_end(e->tr, q[k].pg, erc);
			}
		}
		if (!ready)
			continue; /* a map failure: counted by the library */
		/* The frontend checks what arrived in its pages (rx). */
		for (uint64_t k = 0; rx && k < npages; k++) {
			const uint8_t *pg = sim_xen_domu_page(e->xen, e->domid, q[k].gfn);
			uint64_t bus = !sg ? q[k].bus :
				       sgt.sgl[sgt.nents == sgt.orig_nents ? k : 0].dma_address;
			if (!pg || !cpu_check(e, pg, q[k].len, seed, q[k].off, bus)) {
				if (ok)
					xen_wrong(e, i, rx, &q[k], bus);
				ok = false;
			}
		}
		if (!ok)
			e->out->integrity_errors++;
	}
	if (sg)
		dmamap_sg_free_table(&sgt);
	free(q);
	return 0;
}

int wl_run(const struct scn_workload *w, struct wl_env *e)
{
	switch (w->kind) {
	case SCN_KIND_NIC:
		return wl_nic(w, e);
	case SCN_KIND_BLK:
		return wl_blk(w, e);
	case SCN_KIND_GPU:
		return wl_gpu(w, e);
	case SCN_KIND_ADVERSARIAL:
		return wl_adversarial(w, e);
	case SCN_KIND_XEN_BACKEND:
		return wl_xen_backend(w, e);
	}
	wl_problem(e, "%s workloads are not supported yet", scn_kind_name(w->kind));
	return -ENOTSUP;
}
