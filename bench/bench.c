/*
 * bench/bench.c - the dmamap-bench program: the cost of one map+unmap,
 * measured against a plain memcpy of the same size in the same run (in
 * the spirit of Linux's dma_map_benchmark).
 *
 * Owns: its own main and argument parsing (a program of its own, installed
 * beside the dmamap command, never linked into it), building a throw-away
 * simulated machine + context + one coherent PCI device, the timing loops,
 * and the report (an aligned table or one JSON object).
 *
 * Must never touch: library state except through the driver/platform API,
 * with two exceptions, both through the internal test interface
 * (src/testing.h): --backend swiotlb-slots times the raw slot allocator
 * (dm_swiotlb_find_slots_raw / dm_swiotlb_release_raw) without the copy,
 * and --backend iova / iova-tree time the IOVA allocator on a domain of
 * the bench's own, not one of the library's.  It never changes
 * src/ or sim/ behaviour and never prints from a worker thread.  Never
 * includes src/context.h nor uses its macros (dm_unlikely, DM_ALIGNED_CL,
 * ...): what it needs of them it defines below, named BENCH_*.
 *
 * --backend iommu puts the device behind a simulated IOMMU (one
 * translated domain, strict or lazy invalidation by iommu.strict=).  The
 * simulated IOMMU does not spend the time an IOTLB invalidation would
 * take on hardware, it only counts it (sim_iommu_get_stats): the measured
 * ns/op is the software cost (IOVA allocation, the simulated page-table
 * update, the flush queue) and the modelled invalidation cost is reported
 * beside it, per op, never added to it.  A second baseline, timed in the
 * same run like the memcpy one, is the simulator's own share: the same
 * page-table calls the backend makes per map+unmap of the bench's coherent
 * device (map, unmap; strict adds iotlb_sync), made directly on a scratch
 * IOMMU.
 *
 * Method (why each piece is there):
 *  - mean ns/op comes from batches of BENCH_BATCH ops between two clock
 *    reads, so the clock's own cost (~20 ns) is spread over 1024 ops and
 *    vanishes from the figure;
 *  - p50/p99 come from single ops timed alone (BENCH_SAMPLES_PER_BATCH
 *    after every batch, i.e. one op in 64), each minus the measured cost
 *    of an empty timed region, because a single op can be shorter than a
 *    clock read.  Every sample goes into a small log-linear histogram
 *    (exact to 1 ns below 1 us, 1/64 relative above): a reservoir of raw
 *    samples was tried first, and its random stores into megabytes of
 *    array put a TLB miss into the next timed op often enough to invent a
 *    p95 of 80 ns for a 13 ns op;
 *  - the memcpy baseline runs in the same threads, INTERLEAVED with the
 *    measured batches (a batch of ops, a batch of memcpys, alternating),
 *    so both see the same machine at the same moment: a baseline taken in
 *    a window of its own once read 83 ns on a busy VM while the measured
 *    ops ran at 80, and a bound computed from it proved nothing.  It
 *    touches as many distinct buffers as the ops do (a ring of the same
 *    depth, see --inflight), so the ratio compares like with like;
 *  - --inflight N (N >= 2) keeps N mappings outstanding per thread and
 *    completes them oldest first, as a NIC or NVMe ring does: each op
 *    unmaps the entry mapped N ops ago and maps that entry's own buffer
 *    again.  Every entry has its own source buffer, so with a deep ring
 *    the copies read memory that is no longer in L1/L2, as in a driver;
 *    with one mapping outstanding every bounce lands in one hot slot,
 *    the best case;
 *  - --occupancy P first fills the bounce pool to P percent with
 *    long-lived mappings of a second device (a 32-bit PCI device whose
 *    buffer lies above 4 GiB, so all its maps bounce), mixed sizes of
 *    4-32 KiB spread over every area, filled past P and then thinned at
 *    random down to P, so the free space is scattered holes as in a pool
 *    that has served traffic for a while, not one free tail;
 *  - --check verifies the bytes of a sample of bounces during the run
 *    (the device's view of a fresh mapping equals the source, stamped
 *    per op so a skipped copy cannot pass on stale slot contents; for
 *    from/bidi a device write comes back at unmap);
 *  - threads start together behind a pthread barrier, after a warm-up that
 *    faults in the buffers and the bounce pool pages.
 */
#include "testing.h"  /* the internal test interface: raw slots, the IOVA allocator */
#include <dmamap/sim/iommu.h>    /* sim/iommu.h: the simulated IOMMU, for --backend iommu */
#include "iova.h"     /* the IOVA allocator, for --backend iova and iova-tree */
#include <dmamap/sim/xen.h>      /* sim/xen.h: the simulated hypervisor, for --backend xen-pv */
#include <dmamap/sim/sim.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Ours, not src/base.h's: the rare branch, and a cache line (the
 * workers' slots are kept apart so their counters never share one). */
#define BENCH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define BENCH_CACHELINE 64
/*
 * The library counts a device's maps in this many per-thread slots; with
 * more threads than that the maps-made check is skipped.
 */
#define BENCH_PCPU_STATS ((unsigned int)DM_TEST_NR_PCPU_STATS)
#define BENCH_BATCH 1024u            /* ops per clock read for the mean */
#define BENCH_SAMPLES_PER_BATCH 16u  /* single timed ops per batch: 1 in 64 */
#define BENCH_HIST_EXACT 1024u      /* 1 ns buckets below this */
#define BENCH_HIST_SUB 64u          /* buckets per power of two above */
#define BENCH_HIST_BUCKETS (BENCH_HIST_EXACT + BENCH_HIST_SUB * 54u)
#define BENCH_EMPTY_REPS 20001u      /* empty regions timed for the overhead */
#define BENCH_MAX_THREADS 256u
#define BENCH_MAX_DIRECT_SIZE (64ULL << 20)
#define BENCH_MAX_BOUNCE_SIZE (256u << 10) /* 128 slots of 2 KiB */
#define BENCH_GIB (1ULL << 30)

/* Targets for one thread on the development machine (the brief's). */
#define BENCH_TARGET_DIRECT_NS 7.0  /* issue 17: both Intel and AMD VMs */
#define BENCH_TARGET_SLOTS_NS 30.0
#define BENCH_TARGET_IOMMU_LAZY_NS 100.0 /* software cost, strict has none */
#define BENCH_TARGET_IOVA_NS 12.0        /* magazine alloc+free, inclusive */
#define BENCH_TARGET_TREE_MOPS 10.0      /* iova-tree, total, at >= 16 threads */
#define BENCH_TARGET_TREE_THREADS 16u
#define BENCH_BOUND_MUL 1.3
#define BENCH_BOUND_ADD_NS 40.0
/* issue 17: swiotlb under ring load, as multiples of the same-shape memcpy */
#define BENCH_RING_BOUND_1K 1.5      /* --inflight 1024..4095 */
#define BENCH_RING_BOUND_4K 2.0      /* --inflight >= 4096 */
#define BENCH_MAX_INFLIGHT 65536u
#define BENCH_CHECKS_PER_BATCH 4u    /* --check: verified ops after each batch */
#define BENCH_FILL_SLOT 2048u        /* the pool's slot size, for the fill sizes */
#define BENCH_FILL_MAX_SLOTS 16u     /* fill mappings of 2..16 slots (4-32 KiB) */

enum bench_backend {
	BENCH_DIRECT = 0,
	BENCH_SWIOTLB,
	BENCH_SLOTS,
	BENCH_IOMMU,
	BENCH_IOVA,
	BENCH_IOVA_TREE,
	BENCH_XEN_PV,
	BENCH_NBACKENDS
};

static const char *const bench_backend_names[BENCH_NBACKENDS] = {
	"direct", "swiotlb", "swiotlb-slots", "iommu", "iova", "iova-tree", "xen-pv"
};

/*
 * The IOVA benchmarks' domain: 4 KiB granules, 48-bit IOVA space (as
 * src/iommu.c builds one), and the PCI rule's first try: below 4 GiB.
 * iova-tree first makes BENCH_TREE_LIVE live ranges (see bench_iova_prefill).
 */
#define BENCH_IOVA_GRANULE 4096ULL
#define BENCH_IOVA_END_PFN ((1ULL << (48 - 12)) - 1)
#define BENCH_IOVA_LIMIT_PFN (((1ULL << 32) - 1) >> 12)
#define BENCH_TREE_LIVE 10000u
#define BENCH_MAX_IOVA_FAST_SIZE ((uint64_t)DM_IOVA_RCACHE_MAX_NPAGES * BENCH_IOVA_GRANULE)

struct bench_opts {
	enum bench_backend backend;
	unsigned int threads;
	size_t size;
	const char *size_arg;       /* as typed, for error messages */
	enum dmamap_data_direction dir;
	const char *dir_name;
	double seconds;
	bool json;
	bool strict;                /* iommu: iommu.strict=1 (default lazy) */
	bool debug;                 /* the DMA API checker on (dma_debug=on) */
	unsigned int inflight;      /* mappings outstanding per thread (1: map, unmap) */
	unsigned int occupancy;     /* percent of the pool held by the fill device */
	bool check;                 /* verify the bytes of a sample of bounces */
};

struct bench;

/*
 * One worker.  Aligned to a cache line so the result counters of two
 * threads never share one (they are written in the timed loop).
 */
struct bench_thread {
	_Alignas(BENCH_CACHELINE) struct bench *b;
	unsigned int idx;
	pthread_t tid;
	void *buf;            /* source buffer in simulated RAM above 4 GiB */
	uint64_t buf_phys;
	void *dst;            /* memcpy destination (inflight 1: stays hot) */
	/*
	 * The ring (--inflight N >= 2): entry k maps buf + k * stride; ring[k]
	 * is its live address (DMAMAP_MAPPING_ERROR: none), pos the oldest.
	 * The memcpy baseline has a ring of its own of the same depth (msrc,
	 * dst; same kind of memory, simulated RAM), cursor mpos.
	 */
	uint64_t *ring;
	unsigned int pos, mpos;
	void *msrc;
	uint64_t msrc_phys, dst_phys;
	unsigned char *scratch;         /* --check: what the device read */
	uint64_t stamp;                 /* --check: per-op source stamp */
	uint64_t extra_maps;            /* maps outside the timed/warm ops (ring fill, check) */
	uint64_t checked, check_bad, not_bounced;

	/* results */
	uint64_t batch_ops, batch_ns;   /* the mean's inputs */
	uint64_t all_ops;               /* timed phase, batches + samples */
	uint64_t warm_ops;              /* warm-up ops (counted for validation) */
	uint64_t failures;
	uint64_t memcpy_ops, memcpy_ns;
	uint64_t pt_ops, pt_ns;         /* iommu: the simulator's page-table calls alone */
	uint64_t empty_ns;              /* median empty timed region */
	uint64_t elapsed_ns;            /* the timed phase's wall time */
	uint64_t *hist;                 /* BENCH_HIST_BUCKETS sample counts */
	uint64_t nsamples;
};

struct bench {
	struct bench_opts o;
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	struct sim_device *sd;
	struct dmamap_device *dev;
	struct dmamap_swiotlb *mem;   /* swiotlb-slots: the default pool */
	int iommu_id, iommu_dom;      /* iommu: the simulated IOMMU and domain */
	int scratch_iommu, scratch_dom; /* iommu: the page-table baseline's own */
	struct sim_iommu_stats ist0, ist1; /* iommu: before warm-up, after the run */
	struct dm_iova_domain *iovad; /* iova, iova-tree: the bench's own domain */
	uint64_t iova_npages;         /* granules per op */
	uint64_t tree_nodes;          /* iova-tree: free+reserved nodes after the prefill */
	pthread_barrier_t barrier;
	double warm_seconds, memcpy_seconds;
	struct bench_thread *t;
	char log_first[256];          /* first library error, for the report */
	_Atomic unsigned int nlog_err;
	size_t stride;                /* ring entry spacing: size rounded to pages */
	uint64_t seg_boundary;        /* the device's, as the library set it */
	/* --occupancy: the fill device and its long-lived mappings */
	struct sim_device *fill_sd;
	struct dmamap_device *fill_dev;
	void *fill_buf;
	uint64_t fill_phys;
	uint64_t *fill_addr, *fill_len;
	unsigned int nfill;
	double occupancy_measured;    /* used/total after the fill, percent */
	uint64_t pool_total;
};

/* ---- small helpers ---------------------------------------------------- */

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * The library prints nothing itself; a worker must not print either, so
 * the first error is kept for the report (map failures are the bug this
 * benchmark must never hide).
 */
static void bench_log(void *priv, enum dmamap_log_level level, const char *msg)
{
	struct bench *b = priv;
	if (level > DMAMAP_LOG_WARN)
		return;
	if (atomic_fetch_add(&b->nlog_err, 1) == 0)
		snprintf(b->log_first, sizeof(b->log_first), "%s", msg);
}

/* ---- the operations being timed ---------------------------------------- */

/*
 * One ring step (--inflight N >= 2): complete the oldest entry (unmap it)
 * and map that entry's buffer again, so N stay outstanding between ops.
 * Unmap first, as a driver's completion handler frees a descriptor
 * before the refill reuses it: the slot just freed was written N ops
 * ago, so with a deep ring it is as cold as the source.
 */
static inline uint64_t bench_ring_map_ops(struct bench_thread *t, unsigned int n)
{
	struct bench *b = t->b;
	struct dmamap_device *dev = b->dev;
	const size_t size = b->o.size, stride = b->stride;
	const enum dmamap_data_direction dir = b->o.dir;
	const unsigned int depth = b->o.inflight;
	uint64_t *ring = t->ring;
	unsigned char *buf = t->buf;
	unsigned int k = t->pos;
	uint64_t fail = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (BENCH_UNLIKELY(ring[k] == DMAMAP_MAPPING_ERROR))
			; /* an earlier map failed (counted then): nothing to complete */
		else
			dmamap_unmap_single(dev, ring[k], size, dir);
		dmamap_dma_addr_t a = dmamap_map_single(dev, buf + (size_t)k * stride, size, dir);
		if (BENCH_UNLIKELY(a == DMAMAP_MAPPING_ERROR))
			fail++;
		ring[k] = a;
		k = k + 1 == depth ? 0 : k + 1;
	}
	t->pos = k;
	return fail;
}

/* The same ring through the raw slot allocator (--backend swiotlb-slots). */
static inline uint64_t bench_ring_slot_ops(struct bench_thread *t, unsigned int n)
{
	struct bench *b = t->b;
	const size_t size = b->o.size, stride = b->stride;
	const unsigned int depth = b->o.inflight;
	uint64_t *ring = t->ring;
	unsigned int k = t->pos;
	uint64_t fail = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (BENCH_UNLIKELY(ring[k] == DM_TEST_NO_SLOTS))
			;
		else
			dm_swiotlb_release_raw(b->dev, b->mem, ring[k], size);
		dmamap_phys_addr_t tlb = dm_swiotlb_find_slots_raw(
			b->dev, b->mem, t->buf_phys + (uint64_t)k * stride, size);
		if (BENCH_UNLIKELY(tlb == DM_TEST_NO_SLOTS))
			fail++;
		ring[k] = tlb;
		k = k + 1 == depth ? 0 : k + 1;
	}
	t->pos = k;
	return fail;
}

/*
 * n map+unmap pairs (or slot find+release pairs).  The backend switch is
 * outside the loops so each loop is straight-line calls into the library.
 * noinline: a single sampled op and the empty region go through the same
 * call, so the call's cost cancels when the empty region is subtracted.
 * Returns the number of failed maps.
 */
static __attribute__((noinline)) uint64_t bench_ops(struct bench_thread *t,
						     unsigned int n)
{
	struct bench *b = t->b;
	struct dmamap_device *dev = b->dev;
	const size_t size = b->o.size;
	const enum dmamap_data_direction dir = b->o.dir;
	uint64_t fail = 0;

	if (b->o.inflight > 1)
		return b->o.backend == BENCH_SLOTS ? bench_ring_slot_ops(t, n)
						   : bench_ring_map_ops(t, n);
	switch (b->o.backend) {
	case BENCH_DIRECT:
	case BENCH_SWIOTLB:
	case BENCH_IOMMU:
	case BENCH_XEN_PV:
		if (BENCH_UNLIKELY(b->o.debug)) {
			/* A correct driver under the checker checks every map. */
			for (unsigned int i = 0; i < n; i++) {
				dmamap_dma_addr_t a = dmamap_map_single(dev, t->buf, size, dir);
				if (dmamap_mapping_error(dev, a)) {
					fail++;
					continue;
				}
				dmamap_unmap_single(dev, a, size, dir);
			}
			break;
		}
		for (unsigned int i = 0; i < n; i++) {
			dmamap_dma_addr_t a = dmamap_map_single(dev, t->buf, size, dir);
			if (BENCH_UNLIKELY(a == DMAMAP_MAPPING_ERROR)) {
				fail++;
				continue;
			}
			dmamap_unmap_single(dev, a, size, dir);
		}
		break;
	case BENCH_SLOTS: {
		struct dmamap_swiotlb *mem = b->mem;
		for (unsigned int i = 0; i < n; i++) {
			dmamap_phys_addr_t tlb =
				dm_swiotlb_find_slots_raw(dev, mem, t->buf_phys, size);
			if (BENCH_UNLIKELY(tlb == DM_TEST_NO_SLOTS)) {
				fail++;
				continue;
			}
			dm_swiotlb_release_raw(dev, mem, tlb, size);
		}
		break;
	}
	case BENCH_IOVA: {
		/* alloc_iova_fast / free_iova_fast: the per-CPU magazine path. */
		struct dm_iova_domain *iovad = b->iovad;
		const uint64_t np = b->iova_npages;
		for (unsigned int i = 0; i < n; i++) {
			uint64_t pfn = dm_iova_alloc_fast(iovad, np, BENCH_IOVA_LIMIT_PFN, true);
			if (BENCH_UNLIKELY(!pfn)) {
				fail++;
				continue;
			}
			dm_iova_free_fast(iovad, pfn, np);
		}
		break;
	}
	case BENCH_IOVA_TREE: {
		/* alloc_iova / free_iova: the tree under its one lock. */
		struct dm_iova_domain *iovad = b->iovad;
		const uint64_t np = b->iova_npages;
		for (unsigned int i = 0; i < n; i++) {
			uint64_t pfn = dm_iova_alloc(iovad, np, BENCH_IOVA_LIMIT_PFN, true);
			if (BENCH_UNLIKELY(!pfn)) {
				fail++;
				continue;
			}
			dm_iova_free(iovad, pfn, np);
		}
		break;
	}
	default:
		break;
	}
	return fail;
}

/*
 * The simulator's share of an iommu map+unmap: the calls the backend
 * makes for a coherent trusted device (hw->map, hw->unmap, and
 * hw->iotlb_sync when strict; iova_to_phys is only needed for cache
 * maintenance or bounce buffers), straight to the simulated IOMMU, on a scratch IOMMU so its
 * invalidations stay out of the counted ones.  Each thread its own IOVAs:
 * strict reuses one (the magazine hands the freed IOVA straight back),
 * lazy cycles through 256 (an IOVA waits in the flush queue for about
 * 256 unmaps before it comes back), so the page-table entries touched
 * are as many as the backend's.
 */
static void bench_pt_batch(struct bench_thread *t, unsigned int n)
{
	struct bench *b = t->b;
	const uint64_t len = (b->o.size + DMAMAP_PAGE_SIZE - 1) & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
	const uint64_t base = (1ULL << 40) + ((uint64_t)t->idx << 36);
	const unsigned int span = b->o.strict ? 1 : 256;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t unmapped;
		const uint64_t iova = base + (uint64_t)(i % span) * len;
		if (sim_iommu_map(b->m, b->scratch_dom, iova, t->buf_phys, len,
				  DMAMAP_IOMMU_READ | DMAMAP_IOMMU_WRITE))
			t->failures++;
		sim_iommu_unmap(b->m, b->scratch_dom, iova, len, &unmapped);
		if (b->o.strict)
			sim_iommu_iotlb_sync(b->m, b->scratch_dom, iova, len);
	}
}

/*
 * The baseline: n copies of size bytes.  With one mapping outstanding,
 * the thread's buffer to one fixed destination (hot, as the one bounce
 * slot is); with a ring, entry k's source to entry k's destination, the
 * same depth as the ops' ring, so the copies miss the caches as often as
 * the bounces do.
 */
static __attribute__((noinline)) void bench_memcpy_batch(struct bench_thread *t,
							 unsigned int n)
{
	const size_t size = t->b->o.size, stride = t->b->stride;
	const unsigned int depth = t->b->o.inflight;
	if (depth <= 1) {
		for (unsigned int i = 0; i < n; i++) {
			memcpy(t->dst, t->buf, size);
			/*
			 * A compiler barrier: the copy must be done every time,
			 * not folded into one (dst escapes, but be explicit).
			 */
			atomic_signal_fence(memory_order_seq_cst);
		}
		return;
	}
	unsigned char *src = t->msrc, *dst = t->dst;
	unsigned int k = t->mpos;
	for (unsigned int i = 0; i < n; i++) {
		memcpy(dst + (size_t)k * stride, src + (size_t)k * stride, size);
		atomic_signal_fence(memory_order_seq_cst);
		k = k + 1 == depth ? 0 : k + 1;
	}
	t->mpos = k;
}

/*
 * --check: one op like the ring's (or a map+unmap with one outstanding),
 * verified.  The source is stamped first (three words that change every
 * op), so a map that skipped its copy cannot pass on what an earlier copy
 * left in the slot; the device reads the whole mapping through the
 * simulated bus, as hardware would.  from/bidi: the device writes a
 * pattern and the unmap must bring it back into the buffer (an extra
 * map+unmap when the entry stays outstanding, counted in extra_maps).
 */
static void bench_checked_op(struct bench_thread *t)
{
	struct bench *b = t->b;
	struct dmamap_device *dev = b->dev;
	const size_t size = b->o.size;
	const enum dmamap_data_direction dir = b->o.dir;
	const bool ring = b->o.inflight > 1;
	const unsigned int k = ring ? t->pos : 0;
	unsigned char *src = (unsigned char *)t->buf + (size_t)k * b->stride;
	const uint64_t bus_src = t->buf_phys + (uint64_t)k * b->stride; /* dma == phys here */
	const bool bounces = b->o.backend == BENCH_SWIOTLB || b->o.backend == BENCH_XEN_PV;

	if (ring) {
		if (t->ring[k] != DMAMAP_MAPPING_ERROR)
			dmamap_unmap_single(dev, t->ring[k], size, dir);
		t->ring[k] = DMAMAP_MAPPING_ERROR;
		t->pos = k + 1 == b->o.inflight ? 0 : k + 1;
	}
	uint64_t st = ++t->stamp ^ ((uint64_t)t->idx << 56);
	size_t at[3] = { 0, size / 2, size >= 8 ? size - 8 : 0 };
	for (unsigned int j = 0; j < 3; j++)
		memcpy(src + at[j], &st, size - at[j] < 8 ? size - at[j] : 8);

	dmamap_dma_addr_t a = dmamap_map_single(dev, src, size, dir);
	t->extra_maps++;
	if (a == DMAMAP_MAPPING_ERROR) {
		t->failures++;
		return;
	}
	t->checked++;
	/* xen-pv's bus addresses are machine frames: no simple compare there. */
	if (b->o.backend == BENCH_SWIOTLB && a == bus_src)
		t->not_bounced++;
	if (!bounces && b->o.backend != BENCH_IOMMU && a != bus_src)
		t->check_bad++;
	if (dir != DMAMAP_FROM_DEVICE) {
		if (sim_dma_read(b->sd, a, t->scratch, size) || memcmp(t->scratch, src, size))
			t->check_bad++;
	}
	if (dir != DMAMAP_TO_DEVICE) {
		for (size_t j = 0; j < size; j++)
			t->scratch[j] = (unsigned char)(st + j * 7);
		if (sim_dma_write(b->sd, a, t->scratch, size))
			t->check_bad++;
		dmamap_unmap_single(dev, a, size, dir);
		if (memcmp(src, t->scratch, size))
			t->check_bad++;
		if (!ring)
			return;
		a = dmamap_map_single(dev, src, size, dir);
		t->extra_maps++;
		if (a == DMAMAP_MAPPING_ERROR)
			t->failures++;
	} else if (!ring) {
		dmamap_unmap_single(dev, a, size, dir);
		return;
	}
	t->ring[k] = a;
}

/* Fill thread t's ring before the warm-up: N mappings outstanding. */
static void bench_ring_fill(struct bench_thread *t)
{
	struct bench *b = t->b;
	for (unsigned int k = 0; k < b->o.inflight; k++) {
		uint64_t src = t->buf_phys + (uint64_t)k * b->stride;
		if (b->o.backend == BENCH_SLOTS) {
			t->ring[k] = dm_swiotlb_find_slots_raw(b->dev, b->mem, src, b->o.size);
			t->extra_maps++; /* failures are subtracted from the maps made */
			if (t->ring[k] == DM_TEST_NO_SLOTS)
				t->failures++;
			continue;
		}
		t->ring[k] = dmamap_map_single(b->dev, (unsigned char *)t->buf + (size_t)k * b->stride,
					       b->o.size, b->o.dir);
		t->extra_maps++;
		if (t->ring[k] == DMAMAP_MAPPING_ERROR)
			t->failures++;
	}
}

/* Complete every entry still outstanding (after the timed phase). */
static void bench_ring_drain(struct bench_thread *t)
{
	struct bench *b = t->b;
	for (unsigned int k = 0; k < b->o.inflight; k++) {
		if (b->o.backend == BENCH_SLOTS) {
			if (t->ring[k] != DM_TEST_NO_SLOTS)
				dm_swiotlb_release_raw(b->dev, b->mem, t->ring[k], b->o.size);
			t->ring[k] = DM_TEST_NO_SLOTS;
		} else {
			if (t->ring[k] != DMAMAP_MAPPING_ERROR)
				dmamap_unmap_single(b->dev, t->ring[k], b->o.size, b->o.dir);
			t->ring[k] = DMAMAP_MAPPING_ERROR;
		}
	}
}

/*
 * Histogram bucket of a sample in ns: exact below BENCH_HIST_EXACT, then
 * BENCH_HIST_SUB buckets per power of two (HDR-histogram style).  A lone
 * op cheaper than the clock's jitter reads as <= 0 and lands in bucket 0.
 */
static inline unsigned int bench_bucket(int64_t v)
{
	if (v < (int64_t)BENCH_HIST_EXACT)
		return v > 0 ? (unsigned int)v : 0;
	unsigned int e = 63u - (unsigned int)__builtin_clzll((uint64_t)v); /* >= 10 */
	unsigned int sub = (unsigned int)((uint64_t)v >> (e - 6)) & (BENCH_HIST_SUB - 1);
	unsigned int i = BENCH_HIST_EXACT + (e - 10) * BENCH_HIST_SUB + sub;
	return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}

/* The middle of bucket i, in ns. */
static double bench_bucket_ns(unsigned int i)
{
	if (i < BENCH_HIST_EXACT)
		return (double)i;
	unsigned int e = 10 + (i - BENCH_HIST_EXACT) / BENCH_HIST_SUB;
	unsigned int sub = (i - BENCH_HIST_EXACT) % BENCH_HIST_SUB;
	double lo = (double)(BENCH_HIST_SUB + sub) * (double)(1ULL << (e - 6));
	return lo + (double)(1ULL << (e - 6)) / 2;
}

static inline void bench_keep_sample(struct bench_thread *t, int64_t v)
{
	t->hist[bench_bucket(v)]++;
	t->nsamples++;
}

/* Median cost of timing nothing (two clock reads around a zero-op call). */
static uint64_t bench_empty_region(struct bench_thread *t)
{
	uint64_t *v = malloc(BENCH_EMPTY_REPS * sizeof(*v));
	if (!v)
		return 0;
	for (unsigned int i = 0; i < BENCH_EMPTY_REPS; i++) {
		uint64_t a = bench_now_ns();
		bench_ops(t, 0);
		uint64_t c = bench_now_ns();
		v[i] = c - a;
	}
	qsort(v, BENCH_EMPTY_REPS, sizeof(*v), bench_cmp_u64);
	uint64_t med = v[BENCH_EMPTY_REPS / 2];
	free(v);
	return med;
}

static void *bench_worker(void *arg)
{
	struct bench_thread *t = arg;
	struct bench *b = t->b;

	/* Each thread is one logical CPU: its own swiotlb area and stats slot. */
	dmamap_set_cpu(t->idx);
	t->empty_ns = bench_empty_region(t);
	if (b->o.inflight > 1)
		bench_ring_fill(t);

	/*
	 * Warm-up: fault in buffer and pool pages, train caches and branches;
	 * the baseline's ring too, so neither side pays first-touch faults.
	 */
	pthread_barrier_wait(&b->barrier);
	uint64_t end = bench_now_ns() + (uint64_t)(b->warm_seconds * 1e9);
	do {
		t->failures += bench_ops(t, BENCH_BATCH);
		t->warm_ops += BENCH_BATCH;
		bench_memcpy_batch(t, BENCH_BATCH);
	} while (bench_now_ns() < end);

	/* iommu: the simulator's page-table calls alone, in a window of their own. */
	uint64_t start, now;
	if (b->o.backend == BENCH_IOMMU) {
		pthread_barrier_wait(&b->barrier);
		bench_pt_batch(t, BENCH_BATCH);
		start = bench_now_ns();
		end = start + (uint64_t)(b->memcpy_seconds * 1e9);
		now = start;
		do {
			bench_pt_batch(t, BENCH_BATCH);
			uint64_t n2 = bench_now_ns();
			t->pt_ns += n2 - now;
			t->pt_ops += BENCH_BATCH;
			now = n2;
		} while (now < end);
	}

	/*
	 * The timed phase: batches for the mean, lone ops for percentiles,
	 * then a batch of the memcpy baseline, alternating, so the baseline
	 * sees the same machine (other load, frequency, cache state) as the
	 * ops it is compared with.
	 */
	pthread_barrier_wait(&b->barrier);
	start = bench_now_ns();
	end = start + (uint64_t)(b->o.seconds * 1e9);
	now = start;
	do {
		uint64_t a = bench_now_ns();
		t->failures += bench_ops(t, BENCH_BATCH);
		uint64_t c = bench_now_ns();
		t->batch_ns += c - a;
		t->batch_ops += BENCH_BATCH;
		t->all_ops += BENCH_BATCH;
		for (unsigned int i = 0; i < BENCH_SAMPLES_PER_BATCH; i++) {
			uint64_t s0 = bench_now_ns();
			t->failures += bench_ops(t, 1);
			uint64_t s1 = bench_now_ns();
			bench_keep_sample(t, (int64_t)(s1 - s0) - (int64_t)t->empty_ns);
		}
		t->all_ops += BENCH_SAMPLES_PER_BATCH;
		if (BENCH_UNLIKELY(b->o.check))
			for (unsigned int i = 0; i < BENCH_CHECKS_PER_BATCH; i++)
				bench_checked_op(t);
		a = bench_now_ns();
		bench_memcpy_batch(t, BENCH_BATCH);
		now = bench_now_ns();
		t->memcpy_ns += now - a;
		t->memcpy_ops += BENCH_BATCH;
	} while (now < end);
	t->elapsed_ns = now - start;
	if (b->o.inflight > 1)
		bench_ring_drain(t);
	return NULL;
}

/* ---- arguments ------------------------------------------------------------- */

static void bench_usage(FILE *f)
{
	fputs("usage: dmamap-bench [--backend direct|swiotlb|swiotlb-slots|iommu|iova|iova-tree|\n"
	      "                              xen-pv]\n"
	      "                    [--strict] [--debug] [--threads N] [--size BYTES]\n"
	      "                    [--dir to|from|bidi] [--inflight N] [--occupancy P]\n"
	      "                    [--check] [--seconds S] [--json]\n"
	      "  direct         64-bit coherent PCI device: map+unmap never bounces\n"
	      "  swiotlb        same device with swiotlb=force: every map bounces (copy in;\n"
	      "                 copy back on unmap for from/bidi)\n"
	      "  swiotlb-slots  the bounce pool's slot find+release alone, no copy\n"
	      "  iommu          same device behind a simulated IOMMU: IOVA + page-table\n"
	      "                 map+unmap, lazy invalidation (iommu.strict=0) unless\n"
	      "                 --strict (iommu.strict=1); the modelled IOTLB invalidation\n"
	      "                 cost is reported separately, never added to ns/op\n"
	      "  iova           IOVA alloc+free from the per-CPU magazines (BYTES in\n"
	      "                 4 KiB granules, at most 128k)\n"
	      "  iova-tree      IOVA alloc+free from the tree (one lock) with 10000 other\n"
	      "                 ranges live\n"
	      "  xen-pv         a 32-bit PCI device in a Xen PV domU: swiotlb-xen\n"
	      "                 translates every frame through the p2m and bounces every\n"
	      "                 map through the exchanged low pool (guest frames lie above\n"
	      "                 4 GiB in machine memory)\n"
	      "  --debug        with the DMA API checker on (dma_debug=on); maps are\n"
	      "                 checked with dmamap_mapping_error, as a correct driver does\n"
	      "  --inflight N   keep N mappings outstanding per thread, completed oldest\n"
	      "                 first like a NIC ring, each with its own buffer (1..65536;\n"
	      "                 the memcpy baseline copies a ring of the same depth)\n"
	      "  --occupancy P  fill the bounce pool to P percent (0..95) with long-lived\n"
	      "                 mappings of a second, 32-bit device first (swiotlb,\n"
	      "                 swiotlb-slots)\n"
	      "  --check        verify the bytes of a sample of bounces during the run\n"
	      "                 (4 per batch of 1024; map backends; no targets then)\n"
	      "  defaults: direct, 1 thread, 4096 bytes, to, inflight 1, occupancy 0,\n"
	      "  1 second.  BYTES takes k/m\n"
	      "  suffixes (KiB/MiB); S may be fractional.  Exit: 0 ran, 1 a map failed,\n"
	      "  2 bad usage.\n",
	      f);
}

static int bench_bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "dmamap-bench: bad %s '%s': %s\n", opt, val, why);
	return 2;
}

static bool bench_parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	uint64_t mul = 1;
	if (*end == 'k' || *end == 'K')
		mul = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024 * 1024, end++;
	if (*end || v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

/* 0 parsed, 1 --help printed, 2 bad usage (one line on stderr said why). */
static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	*o = (struct bench_opts){ .backend = BENCH_DIRECT, .threads = 1,
				  .size = 4096, .dir = DMAMAP_TO_DEVICE,
				  .dir_name = "to", .seconds = 1.0, .inflight = 1 };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "--json")) {
			o->json = true;
			continue;
		}
		if (!strcmp(arg, "--strict")) {
			o->strict = true;
			continue;
		}
		if (!strcmp(arg, "--debug")) {
			o->debug = true;
			continue;
		}
		if (!strcmp(arg, "--check")) {
			o->check = true;
			continue;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			bench_usage(stdout);
			return 1;
		}
		/* --opt VALUE or --opt=VALUE */
		static const char *const with_value[] = { "--backend", "--threads",
							  "--size", "--dir",
							  "--seconds", "--inflight",
							  "--occupancy" };
		const char *name = NULL, *val = NULL;
		for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
			size_t n = strlen(with_value[k]);
			if (!strncmp(arg, with_value[k], n) &&
			    (arg[n] == '\0' || arg[n] == '=')) {
				name = with_value[k];
				if (arg[n] == '=')
					val = arg + n + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				break;
			}
		}
		if (!name) {
			fprintf(stderr, "dmamap-bench: unknown option '%s' (try --help)\n", arg);
			return 2;
		}
		if (!val) {
			fprintf(stderr, "dmamap-bench: %s needs a value\n", name);
			return 2;
		}
		uint64_t v;
		if (!strcmp(name, "--backend")) {
			bool found = false;
			for (unsigned int k = 0; k < BENCH_NBACKENDS; k++) {
				if (!strcmp(val, bench_backend_names[k])) {
					o->backend = (enum bench_backend)k;
					found = true;
				}
			}
			if (!found)
				return bench_bad(name, val, "expected direct, swiotlb, swiotlb-slots, "
						 "iommu, iova, iova-tree or xen-pv");
		} else if (!strcmp(name, "--threads")) {
			if (!bench_parse_u64(val, &v) || v < 1 || v > BENCH_MAX_THREADS)
				return bench_bad(name, val, "expected 1..256");
			o->threads = (unsigned int)v;
		} else if (!strcmp(name, "--inflight")) {
			if (!bench_parse_u64(val, &v) || v < 1 || v > BENCH_MAX_INFLIGHT)
				return bench_bad(name, val, "expected 1..65536");
			o->inflight = (unsigned int)v;
		} else if (!strcmp(name, "--occupancy")) {
			/* Above 95 the ring itself would have no room left to turn in. */
			if (!bench_parse_u64(val, &v) || v > 95)
				return bench_bad(name, val, "expected a percentage 0..95");
			o->occupancy = (unsigned int)v;
		} else if (!strcmp(name, "--size")) {
			if (!bench_parse_u64(val, &v) || v < 1 || v > BENCH_MAX_DIRECT_SIZE)
				return bench_bad(name, val, "expected 1..64m bytes");
			o->size = (size_t)v;
			o->size_arg = val;
		} else if (!strcmp(name, "--dir")) {
			if (!strcmp(val, "to"))
				o->dir = DMAMAP_TO_DEVICE;
			else if (!strcmp(val, "from"))
				o->dir = DMAMAP_FROM_DEVICE;
			else if (!strcmp(val, "bidi"))
				o->dir = DMAMAP_BIDIRECTIONAL;
			else
				return bench_bad(name, val, "expected to, from or bidi");
			o->dir_name = val;
		} else { /* --seconds */
			char *end;
			errno = 0;
			double s = strtod(val, &end);
			if (errno || end == val || *end || !isfinite(s) || s <= 0 || s > 3600)
				return bench_bad(name, val, "expected a number of seconds in (0, 3600]");
			o->seconds = s;
		}
	}
	if ((o->backend == BENCH_SWIOTLB || o->backend == BENCH_SLOTS ||
	     o->backend == BENCH_XEN_PV) &&
	    o->size > BENCH_MAX_BOUNCE_SIZE) {
		return bench_bad("--size", o->size_arg,
				 "larger than the 262144-byte bounce limit (swiotlb backends)");
	}
	if (o->backend == BENCH_IOVA && o->size > BENCH_MAX_IOVA_FAST_SIZE) {
		return bench_bad("--size", o->size_arg,
				 "larger than the 131072-byte magazine limit (use iova-tree)");
	}
	if (o->strict && o->backend != BENCH_IOMMU) {
		fprintf(stderr, "dmamap-bench: --strict applies to --backend iommu only\n");
		return 2;
	}
	if (o->inflight > 1 && (o->backend == BENCH_IOVA || o->backend == BENCH_IOVA_TREE)) {
		fprintf(stderr, "dmamap-bench: --inflight applies to the map backends and "
			"swiotlb-slots\n");
		return 2;
	}
	if (o->inflight > 1 && o->debug) {
		/* The checked loop is the plain map-then-unmap one. */
		fprintf(stderr, "dmamap-bench: --inflight and --debug do not go together\n");
		return 2;
	}
	if (o->occupancy && o->backend != BENCH_SWIOTLB && o->backend != BENCH_SLOTS) {
		fprintf(stderr, "dmamap-bench: --occupancy applies to --backend swiotlb and "
			"swiotlb-slots only\n");
		return 2;
	}
	if (o->check && (o->backend == BENCH_SLOTS || o->backend == BENCH_IOVA ||
			 o->backend == BENCH_IOVA_TREE)) {
		fprintf(stderr, "dmamap-bench: --check applies to the map backends (no bytes "
			"move in %s)\n", bench_backend_names[o->backend]);
		return 2;
	}
	return 0;
}

/* ---- set-up and tear-down --------------------------------------------------------- */

static void bench_unfill_pool(struct bench *b);

static void bench_teardown(struct bench *b)
{
	if (b->t) {
		for (unsigned int i = 0; i < b->o.threads; i++) {
			struct bench_thread *t = &b->t[i];
			uint64_t rpages = (b->o.size + DMAMAP_PAGE_SIZE - 1) / DMAMAP_PAGE_SIZE *
					  b->o.inflight;
			if (t->buf)
				sim_free_pages(b->m, t->buf_phys, rpages);
			if (t->msrc)
				sim_free_pages(b->m, t->msrc_phys, rpages);
			if (b->o.inflight > 1) {
				if (t->dst)
					sim_free_pages(b->m, t->dst_phys, rpages);
			} else {
				free(t->dst);
			}
			free(t->ring);
			free(t->scratch);
			free(t->hist);
		}
		free(b->t);
	}
	bench_unfill_pool(b);
	free(b->fill_addr);
	free(b->fill_len);
	if (b->fill_dev)
		dmamap_device_remove(b->fill_dev, NULL);
	if (b->fill_buf)
		sim_free_pages(b->m, b->fill_phys,
			       BENCH_FILL_MAX_SLOTS * BENCH_FILL_SLOT / DMAMAP_PAGE_SIZE);
	if (b->iovad)
		dm_iova_domain_destroy(b->iovad); /* live prefill ranges are forgotten */
	if (b->dev)
		dmamap_device_remove(b->dev, NULL);
	if (b->ctx)
		dmamap_ctx_destroy(b->ctx);
	if (b->m)
		sim_machine_destroy(b->m);
}

/* The pool's bytes in use now (every pool of the default bounce buffer). */
static uint64_t bench_pool_used(struct bench *b)
{
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(b->ctx, NULL, &ss);
	b->pool_total = ss.total_bytes;
	return ss.used_bytes;
}

/* Unmaps the fill device's mappings still live (idempotent). */
static void bench_unfill_pool(struct bench *b)
{
	for (unsigned int i = 0; i < b->nfill; i++)
		dmamap_unmap_single(b->fill_dev, b->fill_addr[i], b->fill_len[i], DMAMAP_TO_DEVICE);
	b->nfill = 0;
}

/*
 * --occupancy P: long-lived mappings of a second device, a 32-bit PCI
 * device (another driver's, say a legacy controller) whose buffer lies
 * above 4 GiB, so every one of its maps bounces into the same default
 * pool without swiotlb=force.  Sizes of 1..8 pages (4-32 KiB, as a
 * driver's receive buffers are page multiples) from a fixed seed,
 * made on each area's CPU in turn so every area is as full as the pool,
 * first up to halfway between P and 100 %, then freed at random down to
 * P: what is left free is scattered holes of mixed sizes, as in a pool
 * that has served traffic, not one free tail the fast path would find at
 * once.  Page multiples matter: a 4 KiB map starts on a 4 KiB boundary
 * (Linux's rule), so odd 2 KiB holes left by odd-sized fill mappings
 * would be free space no 4 KiB map can use, and the ring at 90 %
 * would fail for want of room rather than measure anything.
 * 0, or 1 with a line on stderr.
 */
static int bench_fill_pool(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	struct sim_device_desc sdd = { .name = "bench-fill", .bus = DMAMAP_BUS_PCI,
				       .addr_bits = 32, .coherent = true };
	struct dmamap_device_desc dd;
	const uint64_t fpages = BENCH_FILL_MAX_SLOTS * BENCH_FILL_SLOT / DMAMAP_PAGE_SIZE;
	int rc = sim_device_create(b->m, &sdd, &b->fill_sd);
	if (!rc) {
		sim_device_firmware_desc(b->fill_sd, &dd);
		rc = dmamap_device_add(b->ctx, &dd, &b->fill_dev);
	}
	if (!rc)
		rc = dmamap_set_mask_and_coherent(b->fill_dev, DMAMAP_BIT_MASK(32));
	if (!rc)
		rc = sim_alloc_pages(b->m, fpages, 1, 4 * BENCH_GIB, ~0ULL, &b->fill_phys);
	if (rc) {
		fprintf(stderr, "dmamap-bench: cannot make the fill device: %s\n",
			dmamap_strerror(rc));
		return 1;
	}
	b->fill_buf = sim_phys_to_cpu(b->m, b->fill_phys);
	memset(b->fill_buf, 0x5a, fpages * DMAMAP_PAGE_SIZE);

	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(b->ctx, NULL, &ss);
	b->pool_total = ss.total_bytes;
	const uint64_t want = b->pool_total * o->occupancy / 100;
	const uint64_t high = want + (b->pool_total - want) / 2;
	/* The timed threads' rings must still fit beside the fill. */
	uint64_t ring = (uint64_t)o->threads * o->inflight *
			((o->size + BENCH_FILL_SLOT - 1) / BENCH_FILL_SLOT * BENCH_FILL_SLOT);
	if (want + ring > b->pool_total - b->pool_total / 64) {
		fprintf(stderr, "dmamap-bench: %u%% of the %llu MiB pool plus %u x %u mappings of "
			"%zu bytes do not fit\n", o->occupancy,
			(unsigned long long)(b->pool_total >> 20), o->threads, o->inflight, o->size);
		return 1;
	}
	uint64_t cap = b->pool_total / BENCH_FILL_SLOT + 1;
	b->fill_addr = malloc(cap * sizeof(*b->fill_addr));
	b->fill_len = malloc(cap * sizeof(*b->fill_len));
	if (!b->fill_addr || !b->fill_len) {
		fprintf(stderr, "dmamap-bench: out of memory\n");
		return 1;
	}
	uint64_t x = 0x2545f4914f6cdd1dULL; /* fixed seed: every run the same pool */
	uint64_t used = bench_pool_used(b);
	unsigned int nareas = ss.nareas ? ss.nareas : 1;
	while (used < high && b->nfill < cap) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint64_t len = (1 + (x >> 61)) * DMAMAP_PAGE_SIZE; /* 1..8 pages */
		dmamap_set_cpu(b->nfill % nareas);
		dmamap_dma_addr_t a = dmamap_map_single(b->fill_dev, b->fill_buf, len,
							DMAMAP_TO_DEVICE);
		if (a == DMAMAP_MAPPING_ERROR)
			break; /* full enough: the holes left are smaller than len */
		b->fill_addr[b->nfill] = a;
		b->fill_len[b->nfill++] = len;
		used = bench_pool_used(b);
	}
	while (used > want && b->nfill) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned int i = (unsigned int)(x % b->nfill);
		dmamap_unmap_single(b->fill_dev, b->fill_addr[i], b->fill_len[i], DMAMAP_TO_DEVICE);
		b->fill_addr[i] = b->fill_addr[--b->nfill];
		b->fill_len[i] = b->fill_len[b->nfill];
		used = bench_pool_used(b);
	}
	dmamap_set_cpu(0);
	/* A "pool full" the fill ran into is not the run's error. */
	b->log_first[0] = '\0';
	atomic_store(&b->nlog_err, 0);
	b->occupancy_measured = 100.0 * (double)used / (double)b->pool_total;
	if (b->occupancy_measured + 1.0 < o->occupancy) {
		fprintf(stderr, "dmamap-bench: the pool filled to %.1f%% only\n",
			b->occupancy_measured);
		return 1;
	}
	return 0;
}

/*
 * iova-tree's domain: BENCH_TREE_LIVE live ranges with free holes between
 * them, as a domain that has served mappings of mixed sizes for a while
 * looks.  2 x BENCH_TREE_LIVE ranges of 1..64 granules (size-aligned, as
 * the fast path's fallback allocates) are taken top-down below the limit,
 * then every other one is freed: 10,000 ranges stay live and about as
 * many free holes of 1..64 granules sit between them in the tree, which
 * every timed allocation searches.  0, or 1 with a line on stderr.
 */
static int bench_iova_prefill(struct bench *b)
{
	const unsigned int n = 2 * BENCH_TREE_LIVE;
	uint64_t *pfn = malloc(n * sizeof(*pfn)), *np = malloc(n * sizeof(*np));
	uint64_t x = 0x9e3779b97f4a7c15ULL; /* fixed seed: every run the same tree */
	int rc = 0;
	if (!pfn || !np) {
		fprintf(stderr, "dmamap-bench: out of memory\n");
		rc = 1;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		np[i] = 1 + (x >> 58); /* 1..64 granules */
		pfn[i] = dm_iova_alloc(b->iovad, np[i], BENCH_IOVA_LIMIT_PFN, true);
		if (!pfn[i]) {
			fprintf(stderr, "dmamap-bench: the IOVA prefill ran out of space\n");
			rc = 1;
			goto out;
		}
	}
	for (unsigned int i = 0; i < n; i += 2) {
		if (dm_iova_free(b->iovad, pfn[i], np[i])) {
			fprintf(stderr, "dmamap-bench: the IOVA prefill could not free a range\n");
			rc = 1;
			goto out;
		}
	}
	struct dm_iova_stats st;
	dm_iova_get_stats(b->iovad, &st);
	b->tree_nodes = st.tree_nodes;
out:
	free(pfn);
	free(np);
	return rc;
}

/* 0, or 1 with one line on stderr naming what failed. */
static int bench_setup(struct bench *b)
{
	const struct bench_opts *o = &b->o;
	/* 3 GiB below 4 GiB (the bounce pool lives there) and 4 GiB above. */
	struct sim_machine_desc md = {
		.arch = DMAMAP_ARCH_X86,
		.ncpus = o->threads,
		.ram = { { 0, 3 * BENCH_GIB }, { 4 * BENCH_GIB, 4 * BENCH_GIB } },
		.nram = 2,
	};
	const char *why = NULL;
	int rc = sim_machine_create(&md, &b->m, &why);
	if (rc) {
		fprintf(stderr, "dmamap-bench: cannot build the machine: %s\n",
			why ? why : dmamap_strerror(rc));
		return 1;
	}
	/*
	 * swiotlb is on for every backend (RAM above 4 GiB turns it on in a
	 * real kernel too, and the direct unmap then pays its "was this
	 * bounced?" check).  The swiotlb backend forces bouncing so every
	 * map of the 64-bit device goes through the default 64 MiB pool.
	 */
	/*
	 * iommu: the firmware's IOMMU exists before the OS boots (the
	 * platform has no IOMMU driver until the first one is created), with
	 * the model's defaults: 4K/2M/1G pages, 64 IOTLB entries and 1000 ns
	 * per invalidation command.
	 */
	if (o->backend == BENCH_XEN_PV) {
		/* A PV domU: guest frames scattered above 4 GiB in machine memory. */
		struct sim_xen *x;
		rc = sim_xen_create(b->m, &(struct sim_xen_desc){ .mode = DMAMAP_XEN_PV,
				    .p2m = SIM_XEN_P2M_SCATTERED, .seed = 1 }, &x, &why);
		if (rc) {
			fprintf(stderr, "dmamap-bench: cannot build the hypervisor: %s\n",
				why ? why : dmamap_strerror(rc));
			return 1;
		}
	}
	if (o->backend == BENCH_IOMMU) {
		rc = sim_iommu_create(b->m, &(struct sim_iommu_desc){ .name = "bench-smmu" },
				      &b->iommu_id);
		if (!rc)
			rc = sim_iommu_domain_create(b->m, b->iommu_id,
						     SIM_IOMMU_DOMAIN_TRANSLATED, &b->iommu_dom);
		if (!rc)
			rc = sim_iommu_create(b->m, &(struct sim_iommu_desc){ .name = "bench-scratch" },
					      &b->scratch_iommu);
		if (!rc)
			rc = sim_iommu_domain_create(b->m, b->scratch_iommu,
						     SIM_IOMMU_DOMAIN_TRANSLATED, &b->scratch_dom);
		if (rc) {
			fprintf(stderr, "dmamap-bench: cannot build the IOMMU: %s\n",
				dmamap_strerror(rc));
			return 1;
		}
	}
	const char *bootargs = NULL;
	if (o->backend == BENCH_SWIOTLB)
		bootargs = o->debug ? "swiotlb=force dma_debug=on" : "swiotlb=force";
	else if (o->backend == BENCH_IOMMU)
		bootargs = o->strict ? (o->debug ? "iommu.strict=1 dma_debug=on" : "iommu.strict=1")
				     : (o->debug ? "iommu.strict=0 dma_debug=on" : "iommu.strict=0");
	else if (o->debug)
		bootargs = "dma_debug=on";
	struct dmamap_config cfg = {
		.bootargs = bootargs,
		.swiotlb_mode = DMAMAP_SWIOTLB_ON,
		.log = bench_log,
		.log_priv = b,
	};
	rc = dmamap_ctx_create(sim_platform(b->m), &cfg, &b->ctx);
	if (rc) {
		fprintf(stderr, "dmamap-bench: cannot create the context: %s (%s)\n",
			dmamap_strerror(rc), b->log_first);
		return 1;
	}
	unsigned int bits = o->backend == BENCH_XEN_PV ? 32 : 64;
	struct sim_device_desc sdd = { .name = "bench-nic", .bus = DMAMAP_BUS_PCI,
				       .addr_bits = bits, .coherent = true };
	rc = sim_device_create(b->m, &sdd, &b->sd);
	if (rc) {
		fprintf(stderr, "dmamap-bench: cannot create the device: %s\n",
			dmamap_strerror(rc));
		return 1;
	}
	if (o->backend == BENCH_IOMMU) {
		rc = sim_iommu_attach(b->sd, b->iommu_dom);
		if (rc) {
			fprintf(stderr, "dmamap-bench: cannot attach the device to the IOMMU: %s\n",
				dmamap_strerror(rc));
			return 1;
		}
	}
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(b->sd, &dd);
	if (o->backend == BENCH_IOMMU) {
		/* What firmware tells the OS (tests/test_iommu.c does the same). */
		dd.iommu_id = b->iommu_id;
		dd.iommu_domain = b->iommu_dom;
	}
	rc = dmamap_device_add(b->ctx, &dd, &b->dev);
	if (!rc)
		rc = dmamap_set_mask_and_coherent(b->dev, DMAMAP_BIT_MASK(bits));
	if (rc) {
		fprintf(stderr, "dmamap-bench: cannot add the device: %s\n",
			dmamap_strerror(rc));
		return 1;
	}
	if (o->backend == BENCH_IOMMU && strcmp(dmamap_device_ops_name(b->dev), "iommu")) {
		fprintf(stderr, "dmamap-bench: the device got ops '%s', not iommu\n",
			dmamap_device_ops_name(b->dev));
		return 1;
	}
	if (o->backend == BENCH_IOVA || o->backend == BENCH_IOVA_TREE) {
		rc = dm_iova_domain_init(&b->iovad, BENCH_IOVA_GRANULE, 1, BENCH_IOVA_END_PFN,
					 o->threads);
		if (rc) {
			fprintf(stderr, "dmamap-bench: cannot create the IOVA domain: %s\n",
				dmamap_strerror(rc));
			return 1;
		}
		b->iova_npages = (o->size + BENCH_IOVA_GRANULE - 1) / BENCH_IOVA_GRANULE;
		if (o->backend == BENCH_IOVA_TREE && bench_iova_prefill(b))
			return 1;
	}
	b->mem = dm_test_default_pool(b->ctx);
	if (!b->mem && (o->backend == BENCH_SWIOTLB || o->backend == BENCH_SLOTS)) {
		fprintf(stderr, "dmamap-bench: the context has no bounce pool\n");
		return 1;
	}

	/* aligned_alloc: calloc would not honour the cache-line alignment. */
	b->t = aligned_alloc(BENCH_CACHELINE, o->threads * sizeof(*b->t));
	if (!b->t) {
		fprintf(stderr, "dmamap-bench: out of memory\n");
		return 1;
	}
	memset(b->t, 0, o->threads * sizeof(*b->t));
	/*
	 * The library gives a PCI device Linux's default segment boundary
	 * (4 GiB, dma_get_seg_boundary's 0xffffffff); the bench's device must
	 * run with it, since a device without one could take a cheaper search.
	 */
	b->seg_boundary = dmamap_get_seg_boundary(b->dev);
	if (b->seg_boundary != 0xffffffffULL) {
		fprintf(stderr, "dmamap-bench: the device's segment boundary is 0x%llx, not "
			"Linux's PCI default 0xffffffff\n", (unsigned long long)b->seg_boundary);
		return 1;
	}
	if (o->occupancy && bench_fill_pool(b))
		return 1;

	/* One page-rounded slot per ring entry; the whole ring is one block. */
	uint64_t npages = (o->size + DMAMAP_PAGE_SIZE - 1) / DMAMAP_PAGE_SIZE;
	b->stride = (size_t)npages * DMAMAP_PAGE_SIZE;
	uint64_t rpages = npages * o->inflight;
	for (unsigned int i = 0; i < o->threads; i++) {
		struct bench_thread *t = &b->t[i];
		t->b = b;
		t->idx = i;
		t->buf_phys = t->msrc_phys = t->dst_phys = ~0ULL;
		/*
		 * Above 4 GiB: a 32-bit device could not reach it (honest
		 * buffers).  The baseline's ring is simulated RAM too, its
		 * destinations below 4 GiB as the bounce pool is, so both sides
		 * copy between the same kind of memory.
		 */
		if (sim_alloc_pages(b->m, rpages, 1, 4 * BENCH_GIB, ~0ULL, &t->buf_phys) ||
		    (o->inflight > 1 &&
		     (sim_alloc_pages(b->m, rpages, 1, 4 * BENCH_GIB, ~0ULL, &t->msrc_phys) ||
		      sim_alloc_pages(b->m, rpages, 1, 0, 4 * BENCH_GIB - 1, &t->dst_phys)))) {
			fprintf(stderr, "dmamap-bench: no simulated RAM for thread %u's buffers\n", i);
			return 1;
		}
		t->buf = sim_phys_to_cpu(b->m, t->buf_phys);
		if (o->inflight > 1) {
			t->msrc = sim_phys_to_cpu(b->m, t->msrc_phys);
			t->dst = sim_phys_to_cpu(b->m, t->dst_phys);
			t->ring = malloc(o->inflight * sizeof(*t->ring));
		} else {
			t->dst = aligned_alloc(DMAMAP_PAGE_SIZE, b->stride);
		}
		t->hist = calloc(BENCH_HIST_BUCKETS, sizeof(*t->hist));
		t->scratch = o->check ? malloc(o->size) : NULL;
		if (!t->buf || !t->dst || !t->hist || (o->inflight > 1 && (!t->msrc || !t->ring)) ||
		    (o->check && !t->scratch)) {
			fprintf(stderr, "dmamap-bench: out of memory\n");
			return 1;
		}
		/* Touch everything so no page fault lands in a timed region. */
		for (size_t k = 0; k < (size_t)rpages * DMAMAP_PAGE_SIZE; k++)
			((unsigned char *)t->buf)[k] = (unsigned char)(k * 31 + i);
		memset(t->dst, 0, (size_t)(o->inflight > 1 ? rpages : npages) * DMAMAP_PAGE_SIZE);
		if (t->msrc)
			memcpy(t->msrc, t->buf, (size_t)rpages * DMAMAP_PAGE_SIZE);
	}
	/* The invalidations counted from here to the end of the run are the ops'. */
	if (o->backend == BENCH_IOMMU &&
	    sim_iommu_get_stats(b->m, b->iommu_id, &b->ist0)) {
		fprintf(stderr, "dmamap-bench: cannot read the IOMMU's counters\n");
		return 1;
	}
	return 0;
}

/* ---- results --------------------------------------------------------------------- */

struct bench_result {
	uint64_t ops, batch_ops, failures, warm_ops;
	uint64_t extra_maps;   /* ring fills, checked ops: maps beside ops + warm_ops */
	uint64_t checked, check_bad, not_bounced;
	double seconds;        /* longest thread's timed phase */
	double ns_per_op;      /* per thread: batch time / batch ops */
	double p50_ns, p99_ns;
	double mops_total;     /* sum of the threads' rates */
	double memcpy_ns_per_op, memcpy_mops_total;
	double ratio;
	double empty_ns;
	double target_ns;      /* iova-tree: Mop/s total instead */
	bool has_target;       /* false: none set for this backend/threads */
	bool target_met;
	const char *target_what;
	uint64_t nsamples;
	double pt_ns_per_op;   /* iommu: the simulator's page-table calls alone */
	/* iommu: the modelled IOTLB invalidations, never added to ns_per_op */
	uint64_t invalidations;
	double invalidations_per_op, modeled_inval_ns_per_op, inval_cost_ns;
	/* iova, iova-tree: the allocator's own view */
	struct dm_iova_stats iova;
	double cache_hit_rate;
};

static void bench_collect(struct bench *b, struct bench_result *r)
{
	uint64_t bns = 0, mops = 0, mns = 0, ns_samples = 0, empty = 0, elapsed = 0;
	uint64_t pops = 0, pns = 0;
	memset(r, 0, sizeof(*r));
	for (unsigned int i = 0; i < b->o.threads; i++) {
		const struct bench_thread *t = &b->t[i];
		r->ops += t->all_ops;
		r->batch_ops += t->batch_ops;
		r->failures += t->failures;
		r->warm_ops += t->warm_ops;
		r->extra_maps += t->extra_maps;
		r->checked += t->checked;
		r->check_bad += t->check_bad;
		r->not_bounced += t->not_bounced;
		bns += t->batch_ns;
		mops += t->memcpy_ops;
		mns += t->memcpy_ns;
		pops += t->pt_ops;
		pns += t->pt_ns;
		empty += t->empty_ns;
		ns_samples += t->nsamples;
		if (t->elapsed_ns > elapsed)
			elapsed = t->elapsed_ns;
		if (t->batch_ns)
			r->mops_total += (double)t->batch_ops / (double)t->batch_ns * 1e3;
		if (t->memcpy_ns)
			r->memcpy_mops_total +=
				(double)t->memcpy_ops / (double)t->memcpy_ns * 1e3;
	}
	r->seconds = (double)elapsed / 1e9;
	r->ns_per_op = r->batch_ops ? (double)bns / (double)r->batch_ops : 0;
	r->memcpy_ns_per_op = mops ? (double)mns / (double)mops : 0;
	r->pt_ns_per_op = pops ? (double)pns / (double)pops : 0;
	r->ratio = r->memcpy_ns_per_op > 0 ? r->ns_per_op / r->memcpy_ns_per_op : 0;
	r->empty_ns = (double)empty / b->o.threads;

	/* Percentiles over every thread's samples together. */
	if (ns_samples) {
		uint64_t k50 = ns_samples / 2, k99 = ns_samples * 99 / 100, seen = 0;
		bool have50 = false;
		for (unsigned int i = 0; i < BENCH_HIST_BUCKETS; i++) {
			for (unsigned int k = 0; k < b->o.threads; k++)
				seen += b->t[k].hist[i];
			if (!have50 && seen > k50) {
				r->p50_ns = bench_bucket_ns(i);
				have50 = true;
			}
			if (seen > k99) {
				r->p99_ns = bench_bucket_ns(i);
				break;
			}
		}
	}
	r->nsamples = ns_samples;

	/* Every op made, warm-up included: the invalidation counters span both. */
	uint64_t made = r->ops + r->warm_ops + r->extra_maps - r->failures;
	if (b->o.backend == BENCH_IOMMU) {
		r->invalidations = b->ist1.invalidations - b->ist0.invalidations;
		uint64_t cost = b->ist1.inval_cost_ns - b->ist0.inval_cost_ns;
		r->inval_cost_ns = r->invalidations ? (double)cost / (double)r->invalidations : 0;
		if (made) {
			r->invalidations_per_op = (double)r->invalidations / (double)made;
			r->modeled_inval_ns_per_op = (double)cost / (double)made;
		}
	}
	if (b->iovad) {
		dm_iova_get_stats(b->iovad, &r->iova);
		uint64_t tries = r->iova.cache_hits + r->iova.cache_misses;
		r->cache_hit_rate = tries ? (double)r->iova.cache_hits / (double)tries : 0;
	}

	r->has_target = true;
	/* The fixed-ns targets were set for one mapping outstanding, empty pool. */
	const bool plain_shape = b->o.inflight <= 1 && b->o.occupancy == 0;
	switch (b->o.backend) {
	case BENCH_DIRECT:
		r->has_target = plain_shape;
		r->target_ns = BENCH_TARGET_DIRECT_NS;
		r->target_what = "ns/op < 7";
		break;
	case BENCH_SWIOTLB:
		/*
		 * Bounds from the interleaved same-shape memcpy: issue 17's
		 * ring targets at 1024 and 4096 in flight, the original bound
		 * with one outstanding; none is set for depths in between.
		 */
		if (b->o.inflight >= 4096) {
			r->target_ns = BENCH_RING_BOUND_4K * r->memcpy_ns_per_op;
			r->target_what = "ns/op <= 2 x memcpy (ring >= 4096)";
		} else if (b->o.inflight >= 1024) {
			r->target_ns = BENCH_RING_BOUND_1K * r->memcpy_ns_per_op;
			r->target_what = "ns/op <= 1.5 x memcpy (ring >= 1024)";
		} else if (b->o.inflight <= 1) {
			r->target_ns = BENCH_BOUND_MUL * r->memcpy_ns_per_op + BENCH_BOUND_ADD_NS;
			r->target_what = "ns/op <= 1.3 x memcpy + 40";
		} else {
			r->has_target = false;
		}
		break;
	case BENCH_SLOTS:
		r->has_target = plain_shape;
		r->target_ns = BENCH_TARGET_SLOTS_NS;
		r->target_what = "ns/op < 30";
		break;
	case BENCH_IOMMU:
		/* Set for lazy mode only; strict pays an invalidation per unmap. */
		r->has_target = !b->o.strict && plain_shape;
		r->target_ns = r->has_target ? BENCH_TARGET_IOMMU_LAZY_NS : 0;
		r->target_what = "software ns/op < 100 (lazy)";
		break;
	case BENCH_IOVA:
		r->target_ns = BENCH_TARGET_IOVA_NS;
		r->target_what = "ns/op <= 12";
		break;
	case BENCH_XEN_PV:
		r->has_target = false; /* a figure to record, no target set */
		break;
	case BENCH_IOVA_TREE:
		/* A throughput target, set for 16 threads (the GPU host). */
		r->has_target = b->o.threads >= BENCH_TARGET_TREE_THREADS;
		r->target_ns = r->has_target ? BENCH_TARGET_TREE_MOPS : 0;
		r->target_what = "Mop/s total >= 10 at 16 threads";
		break;
	default:
		break;
	}
	if (b->o.debug || b->o.check)
		r->has_target = false; /* targets are for the production path, unchecked */
	/*
	 * The bound and the IOVA magazine target are inclusive ("<=", "at
	 * most"); the other fixed targets are strict ("< 10 ns").
	 */
	if (!r->has_target)
		r->target_met = false;
	else if (b->o.backend == BENCH_IOVA_TREE)
		r->target_met = r->mops_total >= r->target_ns;
	else if (b->o.backend == BENCH_SWIOTLB || b->o.backend == BENCH_IOVA)
		r->target_met = r->ns_per_op > 0 && r->ns_per_op <= r->target_ns;
	else
		r->target_met = r->ns_per_op > 0 && r->ns_per_op < r->target_ns;
}

/*
 * Cross-checks the library's own counters against what the threads did.
 * Returns a description of the first mismatch, or NULL.  Per-CPU device
 * counters are exact only while each thread has its own slot.
 */
static const char *bench_validate(struct bench *b, const struct bench_result *r,
				  char *buf, size_t len)
{
	if (b->iovad) {
		/* The IOVA backends never touch the device: check the allocator. */
		const struct dm_iova_stats *st = &r->iova;
		uint64_t live = b->o.backend == BENCH_IOVA_TREE ? BENCH_TREE_LIVE : 0;
		if (st->bad_frees || st->nomem) {
			snprintf(buf, len, "the IOVA allocator refused %llu frees, %llu for memory",
				 (unsigned long long)st->bad_frees, (unsigned long long)st->nomem);
			return buf;
		}
		if (st->allocs - st->frees != live) {
			snprintf(buf, len, "%llu IOVA allocations against %llu frees (expected "
				 "%llu live)", (unsigned long long)st->allocs,
				 (unsigned long long)st->frees, (unsigned long long)live);
			return buf;
		}
		if (dm_iova_check(b->iovad)) {
			snprintf(buf, len, "the IOVA tree's invariants do not hold after the run");
			return buf;
		}
		return NULL;
	}
	if (b->o.backend == BENCH_IOMMU) {
		uint64_t made = r->ops + r->warm_ops + r->extra_maps - r->failures;
		uint64_t maps = b->ist1.maps - b->ist0.maps, unmaps = b->ist1.unmaps - b->ist0.unmaps;
		if (maps != made || unmaps != made) {
			snprintf(buf, len, "the IOMMU saw %llu maps and %llu unmaps, the threads made "
				 "%llu", (unsigned long long)maps, (unsigned long long)unmaps,
				 (unsigned long long)made);
			return buf;
		}
		struct sim_iommu_domain_info di;
		if (sim_iommu_domain_info(b->m, b->iommu_dom, &di) || di.mapped_bytes) {
			snprintf(buf, len, "the IOMMU domain still maps %llu bytes after the run",
				 (unsigned long long)di.mapped_bytes);
			return buf;
		}
	}
	if (b->o.check && (r->check_bad || r->not_bounced || !r->checked)) {
		snprintf(buf, len, "--check: %llu of %llu verified maps had wrong bytes or "
			 "address, %llu did not bounce", (unsigned long long)r->check_bad,
			 (unsigned long long)r->checked, (unsigned long long)r->not_bounced);
		return buf;
	}
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(b->ctx, NULL, &ss);
	if (ss.enabled && ss.used_bytes != 0) {
		snprintf(buf, len, "bounce pool still holds %llu bytes after the run",
			 (unsigned long long)ss.used_bytes);
		return buf;
	}
	if (b->o.backend == BENCH_SLOTS || b->o.threads > BENCH_PCPU_STATS)
		return NULL;
	struct dmamap_device_stats ds;
	dmamap_device_get_stats(b->dev, &ds);
	uint64_t made = r->ops + r->warm_ops + r->extra_maps - r->failures;
	if (ds.maps != made) {
		snprintf(buf, len, "device counted %llu maps, the threads made %llu",
			 (unsigned long long)ds.maps, (unsigned long long)made);
		return buf;
	}
	if (ds.live_mappings != 0) {
		snprintf(buf, len, "%llu mappings still live after the run",
			 (unsigned long long)ds.live_mappings);
		return buf;
	}
	uint64_t want_bounced =
		b->o.backend == BENCH_SWIOTLB || b->o.backend == BENCH_XEN_PV ? made : 0;
	if (ds.bounced_maps != want_bounced) {
		snprintf(buf, len, "%llu maps bounced, expected %llu",
			 (unsigned long long)ds.bounced_maps,
			 (unsigned long long)want_bounced);
		return buf;
	}
	return NULL;
}

static const char *bench_bounce_note(const struct bench *b)
{
	switch (b->o.backend) {
	case BENCH_DIRECT:
		return "64-bit coherent PCI device, swiotlb on but nothing bounces";
	case BENCH_SWIOTLB:
		return "swiotlb=force: every map bounces through the default pool";
	case BENCH_IOMMU:
		return b->o.strict
		       ? "64-bit coherent PCI device behind a simulated IOMMU, iommu.strict=1: "
			 "one invalidation per unmap"
		       : "64-bit coherent PCI device behind a simulated IOMMU, iommu.strict=0: "
			 "unmaps queue, one flush per 256 or 10 ms";
	case BENCH_IOVA:
		return "dm_iova_alloc_fast+dm_iova_free_fast: the per-CPU magazine path, "
		       "4 KiB granules";
	case BENCH_IOVA_TREE:
		return "dm_iova_alloc+dm_iova_free: past the magazines (the CPU's window for "
		       "33..512 granules, else the tree under one lock), 10000 other ranges "
		       "live, 4 KiB granules";
	case BENCH_XEN_PV:
		return "Xen PV domU, 32-bit PCI device: swiotlb-xen, every map bounces "
		       "through the exchanged low pool";
	default:
		return "slot find+release in the default pool, no copy";
	}
}

static int bench_print_json(const struct bench *b, const struct bench_result *r,
			    const char *invalid)
{
	/* No target set for this backend and thread count: null, not a verdict. */
	json_t *tns = r->has_target ? json_real(r->target_ns) : json_null();
	json_t *tmet = r->has_target ? json_boolean(r->target_met) : json_null();
	json_t *o = json_pack(
		"{s:s, s:i, s:I, s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f,"
		" s:I, s:f, s:s, s:s, s:o, s:o, s:I, s:b}",
		"backend", bench_backend_names[b->o.backend],
		"threads", (int)b->o.threads,
		"size", (json_int_t)b->o.size,
		"dir", b->o.dir_name,
		"ops", (json_int_t)r->ops,
		"seconds", r->seconds,
		"ns_per_op", r->ns_per_op,
		"p50_ns", r->p50_ns,
		"p99_ns", r->p99_ns,
		"mops_total", r->mops_total,
		"memcpy_ns_per_op", r->memcpy_ns_per_op,
		"memcpy_mops_total", r->memcpy_mops_total,
		"ratio_to_memcpy", r->ratio,
		"failures", (json_int_t)r->failures,
		"clock_overhead_ns", r->empty_ns,
		"device_ops", dmamap_device_ops_name(b->dev),
		"note", bench_bounce_note(b),
		"target_ns", tns,
		"target_met", tmet,
		"samples", (json_int_t)r->nsamples,
		"validated", invalid == NULL);
	if (!o)
		return -1;
	/* issue 17's shape fields; memcpy_ns_per_op above is the interleaved baseline */
	json_object_set_new(o, "inflight", json_integer((json_int_t)b->o.inflight));
	json_object_set_new(o, "occupancy", json_integer((json_int_t)b->o.occupancy));
	if (b->o.occupancy) {
		json_object_set_new(o, "occupancy_measured", json_real(b->occupancy_measured));
		json_object_set_new(o, "fill_device", json_string(
			"separate 32-bit PCI device, mixed 4-32 KiB long-lived mappings"));
	}
	json_object_set_new(o, "memcpy_shape", json_string(
		b->o.inflight > 1 ? "ring: same depth, distinct buffers, interleaved"
				  : "one source to one fixed destination (hot), interleaved"));
	char segb[24];
	snprintf(segb, sizeof(segb), "0x%llx", (unsigned long long)b->seg_boundary);
	json_object_set_new(o, "seg_boundary", json_string(segb));
	if (b->o.check) {
		json_object_set_new(o, "checked", json_integer((json_int_t)r->checked));
		json_object_set_new(o, "check_mismatches", json_integer((json_int_t)r->check_bad));
	}
	if (b->o.backend == BENCH_SWIOTLB && r->has_target)
		json_object_set_new(o, "bound_ns", json_real(r->target_ns));
	if (b->o.backend == BENCH_IOMMU) {
		/* Separate from ns_per_op (the software cost): never summed here. */
		json_object_set_new(o, "strict", json_boolean(b->o.strict));
		json_object_set_new(o, "invalidations", json_integer((json_int_t)r->invalidations));
		json_object_set_new(o, "invalidations_per_op", json_real(r->invalidations_per_op));
		json_object_set_new(o, "inval_cost_ns", json_real(r->inval_cost_ns));
		json_object_set_new(o, "modeled_inval_ns_per_op",
				    json_real(r->modeled_inval_ns_per_op));
		/* The simulator's share of ns_per_op, timed alone in the same run. */
		json_object_set_new(o, "sim_pagetable_ns_per_op", json_real(r->pt_ns_per_op));
	}
	if (b->iovad) {
		json_object_set_new(o, "granules", json_integer((json_int_t)b->iova_npages));
		json_object_set_new(o, "cache_hit_rate", json_real(r->cache_hit_rate));
		if (b->o.backend == BENCH_IOVA_TREE) {
			json_object_set_new(o, "live_ranges", json_integer(BENCH_TREE_LIVE));
			json_object_set_new(o, "tree_nodes", json_integer((json_int_t)b->tree_nodes));
			json_object_set_new(o, "tree_visits_per_search",
					    json_real(r->iova.tree_searches
						      ? (double)r->iova.tree_visits /
							(double)r->iova.tree_searches : 0));
		}
	}
	if (invalid)
		json_object_set_new(o, "error", json_string(invalid));
	char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(o);
	if (!s)
		return -1;
	puts(s);
	free(s);
	return 0;
}

static void bench_print_table(const struct bench *b, const struct bench_result *r,
			      const char *invalid)
{
	const struct bench_opts *o = &b->o;
	printf("dmamap-bench: backend %s (%s)\n", bench_backend_names[o->backend],
	       bench_bounce_note(b));
	printf("  %u thread%s, %zu bytes, dir %s, %.2f s timed, %llu ops, %llu failures\n",
	       o->threads, o->threads == 1 ? "" : "s", o->size, o->dir_name, r->seconds,
	       (unsigned long long)r->ops, (unsigned long long)r->failures);
	printf("  %u in flight per thread", o->inflight);
	if (o->occupancy)
		printf(", pool %.1f%% held by a second device", b->occupancy_measured);
	printf(", segment boundary 0x%llx\n", (unsigned long long)b->seg_boundary);
	if (o->check)
		printf("  --check: %llu maps verified, %llu mismatches\n",
		       (unsigned long long)r->checked, (unsigned long long)r->check_bad);
	const char *what = o->backend == BENCH_SLOTS ? "slot find+release"
			   : o->backend == BENCH_IOVA ? "IOVA alloc+free (mag)"
			   : o->backend == BENCH_IOVA_TREE ? "IOVA alloc+free (tree)"
			   : "map+unmap";
	printf("\n  %-22s %10s %8s %8s %12s %10s\n", "", "ns/op", "p50", "p99",
	       "Mop/s total", "x memcpy");
	printf("  %-22s %10.1f %8.0f %8.0f %12.2f %10.2f\n", what, r->ns_per_op,
	       r->p50_ns, r->p99_ns, r->mops_total, r->ratio);
	char label[40];
	if (o->inflight > 1)
		snprintf(label, sizeof(label), "memcpy %zu B ring %u", o->size, o->inflight);
	else
		snprintf(label, sizeof(label), "memcpy %zu B (hot)", o->size);
	printf("  %-22s %10.1f %8s %8s %12.2f %10.2f\n", label, r->memcpy_ns_per_op,
	       "", "", r->memcpy_mops_total, 1.0);
	if (o->backend == BENCH_IOMMU)
		printf("  %-22s %10.1f %8s %8s %12s %10.2f\n", "sim page tables alone",
		       r->pt_ns_per_op, "", "", "",
		       r->memcpy_ns_per_op > 0 ? r->pt_ns_per_op / r->memcpy_ns_per_op : 0);
	printf("\n  p50/p99 from %llu lone ops, less %.0f ns of clock overhead each\n",
	       (unsigned long long)r->nsamples, r->empty_ns);
	if (o->backend == BENCH_IOMMU) {
		/* The software cost above and the modelled hardware cost, apart. */
		printf("  modelled IOTLB invalidations (not in ns/op above): %.4f per op x "
		       "%.0f ns = %.1f ns/op\n",
		       r->invalidations_per_op, r->inval_cost_ns, r->modeled_inval_ns_per_op);
		printf("  of the map+unmap ns/op, the simulated page-table calls alone take "
		       "%.1f (same calls, timed apart)\n", r->pt_ns_per_op);
	}
	if (b->iovad) {
		printf("  %llu granule%s per op, magazine hit rate %.4f",
		       (unsigned long long)b->iova_npages, b->iova_npages == 1 ? "" : "s",
		       r->cache_hit_rate);
		if (o->backend == BENCH_IOVA_TREE)
			printf(", %u ranges live, %llu tree nodes, %.1f nodes visited per search",
			       BENCH_TREE_LIVE, (unsigned long long)b->tree_nodes,
			       r->iova.tree_searches ? (double)r->iova.tree_visits /
						       (double)r->iova.tree_searches : 0);
		printf("\n");
	}
	if (!r->has_target) {
		printf("  target: none for this run (%s)\n",
		       o->debug || o->check         ? "targets are set with the checker off"
		       : o->backend == BENCH_SWIOTLB ? "set for 1, >= 1024 and >= 4096 in flight"
		       : o->inflight > 1 || o->occupancy ? "set for 1 in flight, empty pool"
		       : o->backend == BENCH_IOMMU  ? "the target is set for lazy mode"
		       : o->backend == BENCH_XEN_PV ? "none is set for swiotlb-xen"
						    : "the target is set for 16 threads: Mop/s total >= 10");
	} else if (o->backend == BENCH_IOVA_TREE) {
		printf("  target: %s: %.2f Mop/s: %s\n", r->target_what, r->mops_total,
		       r->target_met ? "met" : "MISSED");
	} else {
		/* The targets are set for one thread; with more, each thread's cost is shown against it. */
		printf("  target%s: %s = %.1f ns: %s\n",
		       o->threads == 1 ? "" : " (set for 1 thread; per-thread cost here)",
		       r->target_what, r->target_ns, r->target_met ? "met" : "MISSED");
	}
	if (invalid)
		printf("  ERROR: %s\n", invalid);
}

static int bench_main(int argc, char **argv)
{
	struct bench *b = calloc(1, sizeof(*b));
	if (!b) {
		fprintf(stderr, "dmamap-bench: out of memory\n");
		return 1;
	}
	int rc = bench_parse(argc, argv, &b->o);
	if (rc) {
		free(b);
		return rc == 1 ? 0 : 2;
	}
	/*
	 * Short runs keep short warm-ups; iommu's page-table baseline gets a
	 * fifth of the time (the memcpy one is interleaved with the ops).
	 */
	b->warm_seconds = fmin(0.2, fmax(0.02, b->o.seconds / 10));
	b->memcpy_seconds = fmin(1.0, fmax(0.05, b->o.seconds / 5));

	if (bench_setup(b)) {
		bench_teardown(b);
		free(b);
		return 1;
	}
	if (pthread_barrier_init(&b->barrier, NULL, b->o.threads)) {
		fprintf(stderr, "dmamap-bench: cannot make a barrier\n");
		bench_teardown(b);
		free(b);
		return 1;
	}
	unsigned int started = 0;
	/* Thread 0 runs on this thread; the rest are new threads. */
	for (unsigned int i = 1; i < b->o.threads; i++) {
		if (pthread_create(&b->t[i].tid, NULL, bench_worker, &b->t[i])) {
			/* A barrier sized for all threads would hang: give up early. */
			fprintf(stderr, "dmamap-bench: cannot start thread %u\n", i);
			exit(1);
		}
		started++;
	}
	bench_worker(&b->t[0]);
	for (unsigned int i = 1; i <= started; i++)
		pthread_join(b->t[i].tid, NULL);
	pthread_barrier_destroy(&b->barrier);
	/* The fill's long-lived mappings go before the pool is checked empty. */
	bench_unfill_pool(b);
	if (b->o.backend == BENCH_IOMMU)
		sim_iommu_get_stats(b->m, b->iommu_id, &b->ist1);

	struct bench_result r;
	bench_collect(b, &r);
	char why[320];
	const char *invalid = bench_validate(b, &r, why, sizeof(why));
	if (!invalid && r.failures) {
		snprintf(why, sizeof(why), "%llu maps failed%s%.200s",
			 (unsigned long long)r.failures, b->log_first[0] ? ": " : "",
			 b->log_first);
		invalid = why;
	}
	if (b->o.json) {
		if (bench_print_json(b, &r, invalid)) {
			fprintf(stderr, "dmamap-bench: cannot build the JSON report\n");
			invalid = "json";
		}
	} else {
		bench_print_table(b, &r, invalid);
	}
	bench_teardown(b);
	free(b);
	return invalid ? 1 : 0;
}

/*
 * Exit codes: 0 ran, 1 a map failed or the run was invalid, 2 bad usage
 * or output that could not be written (a full disk, a closed pipe).
 */
int main(int argc, char **argv)
{
	int rc = bench_main(argc, argv);
	errno = 0;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "dmamap-bench: cannot write to stdout: %s\n",
			strerror(errno ? errno : EIO));
		return 2;
	}
	return rc;
}
