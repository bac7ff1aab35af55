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
 *  - the memcpy baseline runs in the same process, same threads, same
 *    source buffer, to one fixed (hot) destination, so results are ratios
 *    that survive a change of machine;
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
#define BENCH_TARGET_DIRECT_NS 10.0
#define BENCH_TARGET_SLOTS_NS 30.0
#define BENCH_TARGET_IOMMU_LAZY_NS 100.0 /* software cost, strict has none */
#define BENCH_TARGET_IOVA_NS 12.0        /* magazine alloc+free, inclusive */
#define BENCH_TARGET_TREE_MOPS 10.0      /* iova-tree, total, at >= 16 threads */
#define BENCH_TARGET_TREE_THREADS 16u
#define BENCH_BOUND_MUL 1.3
#define BENCH_BOUND_ADD_NS 40.0

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
	void *dst;            /* memcpy destination (host memory, stays hot) */

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

static void bench_memcpy_batch(struct bench_thread *t, unsigned int n)
{
	const size_t size = t->b->o.size;
	for (unsigned int i = 0; i < n; i++) {
		memcpy(t->dst, t->buf, size);
		/*
		 * A compiler barrier: the copy must be done every time, not
		 * folded into one (dst escapes, but be explicit).
		 */
		atomic_signal_fence(memory_order_seq_cst);
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

	/* Warm-up: fault in buffer and pool pages, train caches and branches. */
	pthread_barrier_wait(&b->barrier);
	uint64_t end = bench_now_ns() + (uint64_t)(b->warm_seconds * 1e9);
	do {
		t->failures += bench_ops(t, BENCH_BATCH);
		t->warm_ops += BENCH_BATCH;
	} while (bench_now_ns() < end);

	/* The baseline: memcpy of the same size, same source, fixed destination. */
	pthread_barrier_wait(&b->barrier);
	bench_memcpy_batch(t, BENCH_BATCH);
	uint64_t start = bench_now_ns();
	end = start + (uint64_t)(b->memcpy_seconds * 1e9);
	uint64_t now = start;
	do {
		bench_memcpy_batch(t, BENCH_BATCH);
		uint64_t n2 = bench_now_ns();
		t->memcpy_ns += n2 - now;
		t->memcpy_ops += BENCH_BATCH;
		now = n2;
	} while (now < end);

	/* iommu: the simulator's page-table calls alone, for as long. */
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

	/* The timed phase: batches for the mean, lone ops for percentiles. */
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
			now = s1;
		}
		t->all_ops += BENCH_SAMPLES_PER_BATCH;
	} while (now < end);
	t->elapsed_ns = now - start;
	return NULL;
}

/* ---- arguments ------------------------------------------------------------- */

static void bench_usage(FILE *f)
{
	fputs("usage: dmamap-bench [--backend direct|swiotlb|swiotlb-slots|iommu|iova|iova-tree|\n"
	      "                              xen-pv]\n"
	      "                    [--strict] [--debug] [--threads N] [--size BYTES]\n"
	      "                    [--dir to|from|bidi]\n"
	      "                    [--seconds S] [--json]\n"
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
	      "  defaults: direct, 1 thread, 4096 bytes, to, 1 second.  BYTES takes k/m\n"
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
				  .dir_name = "to", .seconds = 1.0 };
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
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			bench_usage(stdout);
			return 1;
		}
		/* --opt VALUE or --opt=VALUE */
		static const char *const with_value[] = { "--backend", "--threads",
							  "--size", "--dir",
							  "--seconds" };
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
						 "iommu, iova or iova-tree");
		} else if (!strcmp(name, "--threads")) {
			if (!bench_parse_u64(val, &v) || v < 1 || v > BENCH_MAX_THREADS)
				return bench_bad(name, val, "expected 1..256");
			o->threads = (unsigned int)v;
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
	return 0;
}

/* ---- set-up and tear-down --------------------------------------------------------- */

static void bench_teardown(struct bench *b)
{
	if (b->t) {
		for (unsigned int i = 0; i < b->o.threads; i++) {
			struct bench_thread *t = &b->t[i];
			if (t->buf)
				sim_free_pages(b->m, t->buf_phys,
					       (b->o.size + DMAMAP_PAGE_SIZE - 1) / DMAMAP_PAGE_SIZE);
			free(t->dst);
			free(t->hist);
		}
		free(b->t);
	}
	if (b->iovad)
		dm_iova_domain_destroy(b->iovad); /* live prefill ranges are forgotten */
	if (b->dev)
		dmamap_device_remove(b->dev, NULL);
	if (b->ctx)
		dmamap_ctx_destroy(b->ctx);
	if (b->m)
		sim_machine_destroy(b->m);
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
	uint64_t npages = (o->size + DMAMAP_PAGE_SIZE - 1) / DMAMAP_PAGE_SIZE;
	for (unsigned int i = 0; i < o->threads; i++) {
		struct bench_thread *t = &b->t[i];
		t->b = b;
		t->idx = i;
		/* Above 4 GiB: a 32-bit device could not reach it (honest buffers). */
		if (sim_alloc_pages(b->m, npages, 1, 4 * BENCH_GIB, ~0ULL, &t->buf_phys)) {
			fprintf(stderr, "dmamap-bench: no simulated RAM for thread %u's buffer\n", i);
			return 1;
		}
		t->buf = sim_phys_to_cpu(b->m, t->buf_phys);
		t->dst = aligned_alloc(DMAMAP_PAGE_SIZE, npages * DMAMAP_PAGE_SIZE);
		t->hist = calloc(BENCH_HIST_BUCKETS, sizeof(*t->hist));
		if (!t->buf || !t->dst || !t->hist) {
			fprintf(stderr, "dmamap-bench: out of memory\n");
			return 1;
		}
		/* Touch both so no page fault lands in a timed region. */
		for (size_t k = 0; k < o->size; k++)
			((unsigned char *)t->buf)[k] = (unsigned char)(k * 31 + i);
		memset(t->dst, 0, npages * DMAMAP_PAGE_SIZE);
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
	uint64_t made = r->ops + r->warm_ops - r->failures;
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
	switch (b->o.backend) {
	case BENCH_DIRECT:
		r->target_ns = BENCH_TARGET_DIRECT_NS;
		r->target_what = "ns/op < 10";
		break;
	case BENCH_SWIOTLB:
		r->target_ns = BENCH_BOUND_MUL * r->memcpy_ns_per_op + BENCH_BOUND_ADD_NS;
		r->target_what = "ns/op <= 1.3 x memcpy + 40";
		break;
	case BENCH_SLOTS:
		r->target_ns = BENCH_TARGET_SLOTS_NS;
		r->target_what = "ns/op < 30";
		break;
	case BENCH_IOMMU:
		/* Set for lazy mode only; strict pays an invalidation per unmap. */
		r->has_target = !b->o.strict;
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
	if (b->o.debug)
		r->has_target = false; /* targets are for the production path */
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
		uint64_t made = r->ops + r->warm_ops - r->failures;
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
	uint64_t made = r->ops + r->warm_ops - r->failures;
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
		return "dm_iova_alloc+dm_iova_free: the tree under one lock, 10000 other "
		       "ranges live, 4 KiB granules";
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
	if (b->o.backend == BENCH_SWIOTLB)
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
	const char *what = o->backend == BENCH_SLOTS ? "slot find+release"
			   : o->backend == BENCH_IOVA ? "IOVA alloc+free (mag)"
			   : o->backend == BENCH_IOVA_TREE ? "IOVA alloc+free (tree)"
			   : "map+unmap";
	printf("\n  %-22s %10s %8s %8s %12s %10s\n", "", "ns/op", "p50", "p99",
	       "Mop/s total", "x memcpy");
	printf("  %-22s %10.1f %8.0f %8.0f %12.2f %10.2f\n", what, r->ns_per_op,
	       r->p50_ns, r->p99_ns, r->mops_total, r->ratio);
	char label[40];
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
		       o->debug                     ? "targets are set with the checker off"
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
	/* Short runs keep short warm-ups; the baseline gets a fifth of the time. */
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
