/*
 * fuzz/fuzz_api.c - libFuzzer target: random driver-API call sequences on
 * a small simulated machine, every byte and every counter checked.
 *
 * Owns: nothing the library or simulator exports; it is a driver that
 * follows the DMA API's ownership rules exactly, so that any difference
 * between what it sees and what the rules promise is a library (or
 * simulator) bug.  abort()s with one line naming the broken invariant.
 *
 * The machine (rebuilt for every input): RAM [0, 2 GiB) and [4 GiB,
 * 6 GiB), a 1 MiB default bounce pool (so it runs dry), a 1 MiB restricted
 * pool at 1 GiB, one IOMMU with a translated domain, and six devices:
 *   0 pci32c          32-bit, coherent, PCI            (bounces high buffers)
 *   1 plat64nc        64-bit, non-coherent, platform   (mask 64 at probe)
 *   2 plat32nc        32-bit, non-coherent, platform
 *   3 iommu64nc       64-bit, non-coherent, behind the IOMMU (mask 64)
 *   4 soc32win        32-bit, non-coherent, two dma-ranges windows (low RAM
 *                     at bus 1 GiB, high RAM's first GiB at bus 3 GiB)
 *   5 pci64restricted 64-bit, coherent, the restricted pool (all bounces)
 * Buffers come from two arenas: 256 KiB below 4 GiB and 2 MiB above.
 *
 * Input: byte 0 is the configuration (bit 0 swiotlb=force, bit 1 dynamic
 * pool, bits 2-3 CPUs - 1, bit 4 arm64, bit 5 iommu.strict=1), then
 * operations, one byte each followed by their arguments (missing bytes
 * read as 0).  At most FA_MAX_OPS operations run.
 *
 * Rules the harness keeps (so only the library can break an invariant):
 * live streaming mappings own disjoint 64-byte cache lines of the arenas;
 * the CPU touches a mapped buffer only after sync_for_cpu of the whole
 * mapping and gives it back with sync_for_device; the device writes only
 * FROM_DEVICE / BIDIRECTIONAL mappings and reads FROM_DEVICE ones only
 * where no IOMMU enforces the direction; syncs use the mapping's
 * direction; masks change only on a device with nothing live.
 *
 * Invariants checked:
 *   - a mapping's bus range fits the device's mask; a direct device's
 *     mapping is either the buffer's physical address (exactly when the
 *     buffer is reachable and the pool is not forced) or a slot-aligned
 *     range inside the bounce pool;
 *   - the device reads the buffer's bytes right after map (TO_DEVICE,
 *     BIDIRECTIONAL; FROM_DEVICE too on direct devices: swiotlb copies in),
 *     and after every CPU write + sync_for_device;
 *   - after sync_for_cpu or unmap the CPU sees what the device wrote, and
 *     the bytes the device did not write are unchanged; a failed map leaves
 *     the buffer untouched;
 *   - no two live bounce slots, IOVA ranges or coherent allocations
 *     overlap;
 *   - swiotlb used_bytes is the sum of the live bounced mappings' slots
 *     (0 when none is live), and every device's live_mappings equals the
 *     harness's count of its live mappings and allocations;
 *   - coherent allocations are zeroed, fit the coherent mask, and CPU and
 *     device see each other's writes (after syncs for non-coherent ones);
 *   - set_mask* refuses exactly what dmamap_supported refuses, and a
 *     refusal changes nothing;
 *   - at the end nothing is leaked: devices remove with 0 leaked, the
 *     context and machine are destroyed (LeakSanitizer checks the rest).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include <dmamap/sim/iommu.h>
#include <dmamap/sim/sim.h>

#define FA_GIB (1ULL << 30)
#define FA_MAX_OPS 200
#define FA_MAX_MAPS 48
#define FA_MAX_SG 8
#define FA_NDEV 6
#define FA_LINE 64
#define FA_SLOT 2048ULL
#define FA_RPOOL_BASE (1ULL << 30)   /* the restricted pool: 1 MiB at 1 GiB */
#define FA_RPOOL_SIZE (1ULL << 20)

static const uint64_t fa_arena_pages[2] = { 64, 512 }; /* 256 KiB low, 2 MiB high */

enum fa_kind { FA_SINGLE, FA_PAGE, FA_PHYS, FA_SG, FA_SGTABLE, FA_ALLOC, FA_ALLOC_NC };

struct fa_piece {
	uint8_t *cpu;
	uint64_t phys;
	uint32_t len;
	int arena;
	uint32_t aoff;  /* offset in the arena */
};

struct fa_seg {
	uint64_t bus;
	uint32_t len;
	bool bounced;
};

struct fa_map {
	bool live;
	int dev;
	enum fa_kind kind;
	enum dmamap_data_direction dir;
	unsigned int npieces, nsegs;
	struct fa_piece piece[FA_MAX_SG];
	struct fa_seg seg[FA_MAX_SG];
	struct dmamap_sg sg[FA_MAX_SG];
	struct dmamap_sg_table sgt;
	uint32_t total;
	uint8_t *devview;       /* what the device must read / CPU must end with */
	int pool;               /* the bounce pool its device uses: 0 default, 1 restricted */
	uint64_t pool_bytes;    /* slots this mapping holds in that pool */
	bool pool_inexact;      /* bounced in a way whose slot count is not known */
	/* claimed bus ranges, for the overlap check */
	uint64_t claim_lo[FA_MAX_SG], claim_hi[FA_MAX_SG];
	unsigned int nclaims;
	int space;              /* 0: physical (direct devices), 1: the IOMMU domain */
	/* allocations */
	void *acpu;
	uint64_t handle;
	size_t asize;
};

struct fa_dev {
	struct sim_device *sd;
	struct dmamap_device *dev;
	unsigned int addr_bits;
	bool coherent;
	bool iommu;
	bool restricted;        /* bounces everything through the restricted pool */
	struct dmamap_dma_range ranges[2]; /* dma-ranges windows (0: bus == phys) */
	unsigned int nranges;
	unsigned int live;      /* mappings + allocations the harness holds */
};

struct fa_state {
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	int iommu, dom;
	struct dmamap_swiotlb *rpool;
	bool force, dynamic;
	unsigned int ncpus;
	struct fa_dev d[FA_NDEV];
	uint8_t *arena[2];
	uint64_t arena_phys[2];
	uint8_t *owner[2];      /* per cache line: owned by a live mapping */
	struct fa_map maps[FA_MAX_MAPS];
	uint8_t *scratch;       /* device reads land here */
	uint32_t seed;
	unsigned int step;
};

struct fa_rd {
	const uint8_t *p;
	size_t n;
};

static uint8_t rd8(struct fa_rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint32_t rd16(struct fa_rd *r)
{
	uint32_t lo = rd8(r);
	return lo | (uint32_t)rd8(r) << 8;
}

static __attribute__((noreturn, format(printf, 2, 3))) void
fa_fail(const struct fa_state *s, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "fuzz_api: invariant broken at step %u: ", s ? s->step : 0);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FA_CHECK(s, cond, ...)                \
	do {                                  \
		if (!(cond))                  \
			fa_fail(s, __VA_ARGS__); \
	} while (0)

/* Byte loops of the harness itself: no comparison tracing (it would cost
 * most of the run and guide nothing). */
#define FA_HOT __attribute__((no_sanitize("coverage")))

static bool fa_trace;

static __attribute__((format(printf, 1, 2))) void tr(const char *fmt, ...)
{
	if (!fa_trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void fa_log(void *priv, enum dmamap_log_level level, const char *msg)
{
	(void)priv;
	(void)level;
	if (fa_trace)
		fprintf(stderr, "  [log] %s\n", msg);
}

static FA_HOT void fa_pattern(uint8_t *dst, size_t len, uint32_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(dst + i, &x, 8);
	}
	for (; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		dst[i] = (uint8_t)(x >> 24);
	}
}

static uint64_t fa_mask(unsigned int bits)
{
	return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

static const char *dir_name(enum dmamap_data_direction d)
{
	return d == DMAMAP_TO_DEVICE ? "to" : d == DMAMAP_FROM_DEVICE ? "from" : "bidi";
}

/* ---- dma-ranges, as firmware describes them to both sides ---------------- */

/* The bus address of phys for a direct device; false outside every window. */
static bool fa_phys_to_bus(const struct fa_dev *d, uint64_t phys, uint64_t *bus)
{
	if (d->nranges == 0) {
		*bus = phys;
		return true;
	}
	for (unsigned int i = 0; i < d->nranges; i++) {
		const struct dmamap_dma_range *r = &d->ranges[i];
		if (phys >= r->cpu && phys - r->cpu < r->size) {
			*bus = phys - r->cpu + r->dma;
			return true;
		}
	}
	return false;
}

static bool fa_bus_to_phys(const struct fa_dev *d, uint64_t bus, uint64_t *phys)
{
	if (d->nranges == 0) {
		*phys = bus;
		return true;
	}
	for (unsigned int i = 0; i < d->nranges; i++) {
		const struct dmamap_dma_range *r = &d->ranges[i];
		if (bus >= r->dma && bus - r->dma < r->size) {
			*phys = bus - r->dma + r->cpu;
			return true;
		}
	}
	return false;
}

/* dma-direct's capable rule: [phys, +len) in one window, its bus range under the mask. */
static bool fa_capable(const struct fa_dev *d, uint64_t phys, uint64_t len, uint64_t mask,
		       uint64_t *bus)
{
	uint64_t b, be;
	if (!fa_phys_to_bus(d, phys, &b) || !fa_phys_to_bus(d, phys + len - 1, &be) ||
	    be - b != len - 1)
		return false;
	*bus = b;
	return b <= mask && len - 1 <= mask - b;
}

/* ---- the device's view: logical offsets of a mapping to bus segments ---- */

static void fa_dev_access(struct fa_state *s, struct fa_map *mp, uint32_t off, uint32_t len,
			  uint8_t *buf, bool write)
{
	struct fa_dev *d = &s->d[mp->dev];
	uint32_t pos = 0, done = 0;
	for (unsigned int k = 0; k < mp->nsegs && done < len; k++) {
		uint32_t sl = mp->seg[k].len;
		if (off + done < pos + sl) {
			uint32_t in = off + done - pos;
			uint32_t n = sl - in;
			if (n > len - done)
				n = len - done;
			int rc = write ? sim_dma_write(d->sd, mp->seg[k].bus + in, buf + done, n)
				       : sim_dma_read(d->sd, mp->seg[k].bus + in, buf + done, n);
			FA_CHECK(s, rc == 0, "device %u %s of %u bytes at bus 0x%llx (segment %u) faulted: %d",
				 mp->dev, write ? "write" : "read", n,
				 (unsigned long long)(mp->seg[k].bus + in), k, rc);
			done += n;
		}
		pos += sl;
	}
	FA_CHECK(s, done == len, "device access past the mapping's bus segments");
}

/* CPU bytes of a mapping's logical range, gathered from its pieces. */
static FA_HOT void fa_cpu_gather(struct fa_map *mp, uint32_t off, uint32_t len, uint8_t *out)
{
	uint32_t pos = 0, done = 0;
	for (unsigned int i = 0; i < mp->npieces && done < len; i++) {
		uint32_t pl = mp->piece[i].len;
		if (off + done < pos + pl) {
			uint32_t in = off + done - pos, n = pl - in;
			if (n > len - done)
				n = len - done;
			memcpy(out + done, mp->piece[i].cpu + in, n);
			done += n;
		}
		pos += pl;
	}
}

static FA_HOT void fa_cpu_scatter(struct fa_map *mp, uint32_t off, uint32_t len, const uint8_t *in_buf)
{
	uint32_t pos = 0, done = 0;
	for (unsigned int i = 0; i < mp->npieces && done < len; i++) {
		uint32_t pl = mp->piece[i].len;
		if (off + done < pos + pl) {
			uint32_t in = off + done - pos, n = pl - in;
			if (n > len - done)
				n = len - done;
			memcpy(mp->piece[i].cpu + in, in_buf + done, n);
			done += n;
		}
		pos += pl;
	}
}

static FA_HOT long fa_first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (memcmp(a, b, n) == 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

static void fa_check_cpu(struct fa_state *s, struct fa_map *mp, uint32_t off, uint32_t len,
			 const char *when)
{
	fa_cpu_gather(mp, off, len, s->scratch);
	long i = fa_first_diff(s->scratch, mp->devview + off, len);
	FA_CHECK(s, i < 0,
		 "%s: CPU byte %ld of a %s mapping (dev %d, kind %d, %u bytes, seg0 0x%llx%s) is 0x%02x, expected 0x%02x",
		 when, off + i, dir_name(mp->dir), mp->dev, (int)mp->kind, mp->total,
		 (unsigned long long)mp->seg[0].bus, mp->seg[0].bounced ? " bounced" : "",
		 s->scratch[i], mp->devview[off + i]);
}

static void fa_check_dev(struct fa_state *s, struct fa_map *mp, uint32_t off, uint32_t len,
			 const char *when)
{
	fa_dev_access(s, mp, off, len, s->scratch, false);
	long i = fa_first_diff(s->scratch, mp->devview + off, len);
	FA_CHECK(s, i < 0,
		 "%s: device %d read byte %ld of a %s mapping (kind %d, %u bytes, seg0 0x%llx%s) as 0x%02x, expected 0x%02x",
		 when, mp->dev, off + i, dir_name(mp->dir), (int)mp->kind, mp->total,
		 (unsigned long long)mp->seg[0].bus, mp->seg[0].bounced ? " bounced" : "",
		 s->scratch[i], mp->devview[off + i]);
}

/* ---- global invariants ------------------------------------------------------- */

static void fa_check_global(struct fa_state *s)
{
	uint64_t want_pool[2] = { 0, 0 };
	bool inexact[2] = { false, false }, any_bounced[2] = { false, false };
	unsigned int live[FA_NDEV] = { 0 };
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++) {
		struct fa_map *mp = &s->maps[i];
		if (!mp->live)
			continue;
		live[mp->dev]++;
		want_pool[mp->pool] += mp->pool_bytes;
		inexact[mp->pool] |= mp->pool_inexact;
		any_bounced[mp->pool] |= mp->pool_bytes != 0 || mp->pool_inexact;
	}
	for (unsigned int k = 0; k < FA_NDEV; k++) {
		struct dmamap_device_stats ds;
		FA_CHECK(s, live[k] == s->d[k].live, "harness count mismatch");
		dmamap_device_get_stats(s->d[k].dev, &ds);
		FA_CHECK(s, ds.live_mappings == live[k],
			 "device %u: live_mappings %llu, harness holds %u", k,
			 (unsigned long long)ds.live_mappings, live[k]);
	}
	for (int p = 0; p < 2; p++) {
		static const char *const pn[2] = { "default", "restricted" };
		struct dmamap_swiotlb_stats ss;
		dmamap_swiotlb_get_stats(s->ctx, p ? s->rpool : NULL, &ss);
		FA_CHECK(s, ss.enabled, "the %s bounce pool vanished", pn[p]);
		if (!any_bounced[p])
			FA_CHECK(s, ss.used_bytes == 0,
				 "%s pool: used_bytes %llu with no bounced mapping or allocation live",
				 pn[p], (unsigned long long)ss.used_bytes);
		else if (!inexact[p])
			FA_CHECK(s, ss.used_bytes == want_pool[p],
				 "%s pool: used_bytes %llu, live bounced mappings and allocations hold %llu",
				 pn[p], (unsigned long long)ss.used_bytes,
				 (unsigned long long)want_pool[p]);
		FA_CHECK(s, ss.used_bytes <= ss.total_bytes || (s->dynamic && !p),
			 "%s pool: used_bytes %llu beyond total %llu", pn[p],
			 (unsigned long long)ss.used_bytes, (unsigned long long)ss.total_bytes);
	}
}

/* The claimed bus ranges of mp against every other live mapping's. */
static void fa_check_overlap(struct fa_state *s, struct fa_map *mp)
{
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++) {
		struct fa_map *o = &s->maps[i];
		if (!o->live || o == mp || o->space != mp->space)
			continue;
		for (unsigned int a = 0; a < mp->nclaims; a++)
			for (unsigned int b = 0; b < o->nclaims; b++)
				FA_CHECK(s, mp->claim_hi[a] <= o->claim_lo[b] ||
					 o->claim_hi[b] <= mp->claim_lo[a],
					 "bus range 0x%llx-0x%llx (dev %d kind %d) overlaps live 0x%llx-0x%llx (dev %d kind %d)",
					 (unsigned long long)mp->claim_lo[a],
					 (unsigned long long)mp->claim_hi[a], mp->dev, (int)mp->kind,
					 (unsigned long long)o->claim_lo[b],
					 (unsigned long long)o->claim_hi[b], o->dev, (int)o->kind);
	}
	/* Segments of one mapping must not overlap each other either. */
	for (unsigned int a = 0; a < mp->nclaims; a++)
		for (unsigned int b = a + 1; b < mp->nclaims; b++)
			FA_CHECK(s, mp->claim_hi[a] <= mp->claim_lo[b] ||
				 mp->claim_hi[b] <= mp->claim_lo[a],
				 "segments %u and %u of one mapping overlap", a, b);
}

/* True when physical [pa, pa + len) lies in one of the pool's ranges. */
/*
 * Whether [pa, pa+len) lies in one bounce buffer of the pool: the boot
 * pool, a grown one or, with a dynamic pool, a transient one-request pool
 * (only a dynamic pool may make those).
 */
static bool fa_in_pool(struct fa_state *s, int pool, uint64_t pa, uint64_t len)
{
	dmamap_phys_addr_t start;
	uint64_t size;
	bool transient;
	if (dmamap_swiotlb_find_pool(s->ctx, pool ? s->rpool : NULL, pa, &start, &size, &transient))
		return false;
	FA_CHECK(s, !transient || s->dynamic, "a transient bounce pool at 0x%llx without a dynamic pool",
		 (unsigned long long)start);
	return pa + len <= start + size;
}

/* ---- cache-line ownership of the arenas --------------------------------------------- */

static FA_HOT bool fa_lines_free(struct fa_state *s, int arena, uint32_t off, uint32_t len)
{
	for (uint32_t l = off / FA_LINE; l <= (off + len - 1) / FA_LINE; l++)
		if (s->owner[arena][l])
			return false;
	return true;
}

static FA_HOT void fa_lines_set(struct fa_state *s, int arena, uint32_t off, uint32_t len, uint8_t v)
{
	for (uint32_t l = off / FA_LINE; l <= (off + len - 1) / FA_LINE; l++)
		s->owner[arena][l] = v;
}

static struct fa_map *fa_free_slot(struct fa_state *s)
{
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++)
		if (!s->maps[i].live)
			return &s->maps[i];
	return NULL;
}

/* The n-th live entry (of a kind class), or NULL. */
static struct fa_map *fa_pick(struct fa_state *s, uint8_t sel, bool allocs)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++)
		if (s->maps[i].live && (s->maps[i].kind >= FA_ALLOC) == allocs)
			n++;
	if (!n)
		return NULL;
	unsigned int want = sel % n;
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++)
		if (s->maps[i].live && (s->maps[i].kind >= FA_ALLOC) == allocs && want-- == 0)
			return &s->maps[i];
	return NULL;
}

static uint32_t fa_len(struct fa_rd *r)
{
	uint8_t c = rd8(r);
	uint32_t v = rd16(r);
	switch (c & 3) {
	case 0:
		return 1 + v % 256;
	case 1:
		return 1 + v % 4096;
	case 2:
		return 1 + (v * 4u) % (64u << 10);
	default:
		return 1 + (v * 8u) % (320u << 10); /* past the 256 KiB bounce limit too */
	}
}

/* ---- operations ------------------------------------------------------------------------- */

static void fa_release_lines(struct fa_state *s, struct fa_map *mp)
{
	for (unsigned int i = 0; i < mp->npieces; i++)
		fa_lines_set(s, mp->piece[i].arena, mp->piece[i].aoff, mp->piece[i].len, 0);
}

static void fa_op_map(struct fa_state *s, struct fa_rd *r)
{
	uint8_t a = rd8(r);
	int dv = a % FA_NDEV;
	enum fa_kind kind = (enum fa_kind)((a >> 2) % 5);
	enum dmamap_data_direction dir = (enum dmamap_data_direction)(rd8(r) % 3);
	unsigned int n = (kind == FA_SG || kind == FA_SGTABLE) ? 1 + rd8(r) % FA_MAX_SG : 1;
	struct fa_map *mp = fa_free_slot(s);
	struct fa_dev *d = &s->d[dv];
	if (!mp)
		return;
	memset(mp, 0, sizeof(*mp));
	mp->dev = dv;
	mp->kind = kind;
	mp->dir = dir;
	mp->npieces = n;
	mp->space = d->iommu ? 1 : 0;
	mp->pool = d->restricted ? 1 : 0;
	uint32_t total = 0;
	for (unsigned int i = 0; i < n; i++) {
		struct fa_piece *p = &mp->piece[i];
		p->arena = rd8(r) & 1;
		uint32_t asize = (uint32_t)(fa_arena_pages[p->arena] * DMAMAP_PAGE_SIZE);
		uint32_t len = fa_len(r);
		if (n > 1 && len > (64u << 10))
			len = len % (64u << 10) + 1;
		if (len > asize)
			len = asize;
		uint32_t off = (uint32_t)((rd16(r) * 64u + rd8(r)) % (asize - len + 1));
		if (!fa_lines_free(s, p->arena, off, len)) {
			/* Release what earlier pieces took: nothing is mapped yet. */
			for (unsigned int j = 0; j < i; j++)
				fa_lines_set(s, mp->piece[j].arena, mp->piece[j].aoff, mp->piece[j].len, 0);
			tr("map: lines busy, skipped");
			return;
		}
		fa_lines_set(s, p->arena, off, len, 1);
		p->aoff = off;
		p->len = len;
		p->cpu = s->arena[p->arena] + off;
		p->phys = s->arena_phys[p->arena] + off;
		total += len;
	}
	mp->total = total;
	mp->devview = malloc(total);
	if (!mp->devview)
		abort();
	fa_pattern(mp->devview, total, ++s->seed);
	fa_cpu_scatter(mp, 0, total, mp->devview);

	struct dmamap_device_stats before, after;
	dmamap_device_get_stats(d->dev, &before);
	const unsigned long attrs = DMAMAP_ATTR_NO_WARN;
	bool ok;
	if (kind == FA_SG || kind == FA_SGTABLE) {
		dmamap_sg_init_table(mp->sg, n);
		for (unsigned int i = 0; i < n; i++)
			dmamap_sg_set_buf(&mp->sg[i], mp->piece[i].cpu, mp->piece[i].len);
		int nseg;
		if (kind == FA_SG) {
			nseg = dmamap_map_sg_attrs(d->dev, mp->sg, (int)n, dir, attrs);
			FA_CHECK(s, nseg >= 0 && nseg <= (int)n, "map_sg returned %d for %u entries", nseg, n);
		} else {
			mp->sgt.sgl = mp->sg;
			mp->sgt.orig_nents = n;
			int rc = dmamap_map_sgtable(d->dev, &mp->sgt, dir, attrs);
			FA_CHECK(s, rc == 0 || rc == -EINVAL || rc == -ENOMEM || rc == -EIO,
				 "map_sgtable returned %d", rc);
			nseg = rc == 0 ? (int)mp->sgt.nents : 0;
			FA_CHECK(s, rc != 0 || (nseg > 0 && nseg <= (int)n),
				 "map_sgtable: 0 with nents %d of %u", nseg, n);
		}
		ok = nseg > 0;
		mp->nsegs = ok ? (unsigned int)nseg : 0;
		for (unsigned int k = 0; k < mp->nsegs; k++) {
			mp->seg[k].bus = mp->sg[k].dma_address;
			mp->seg[k].len = mp->sg[k].dma_length;
		}
	} else {
		uint64_t bus;
		if (kind == FA_SINGLE)
			bus = dmamap_map_single_attrs(d->dev, mp->piece[0].cpu, total, dir, attrs);
		else if (kind == FA_PAGE)
			bus = dmamap_map_page_attrs(d->dev, dmamap_virt_to_page(mp->piece[0].cpu),
						    (uintptr_t)mp->piece[0].cpu & (DMAMAP_PAGE_SIZE - 1),
						    total, dir, attrs);
		else
			bus = dmamap_map_phys(d->dev, mp->piece[0].phys, total, dir, attrs);
		ok = bus != DMAMAP_MAPPING_ERROR;
		FA_CHECK(s, dmamap_mapping_error(d->dev, bus) == (ok ? 0 : -ENOMEM),
			 "dmamap_mapping_error disagrees with the address");
		mp->nsegs = ok ? 1 : 0;
		mp->seg[0].bus = bus;
		mp->seg[0].len = total;
	}
	dmamap_device_get_stats(d->dev, &after);
	tr("map dev %d kind %d dir %s %u pieces %u bytes -> %s (%u segs, seg0 0x%llx)", dv, (int)kind,
	   dir_name(dir), n, total, ok ? "ok" : "failed", mp->nsegs,
	   (unsigned long long)mp->seg[0].bus);
	if (!ok) {
		/* A refused map touches nothing. */
		fa_check_cpu(s, mp, 0, total, "after a failed map");
		FA_CHECK(s, after.live_mappings == before.live_mappings, "a failed map changed live_mappings");
		FA_CHECK(s, after.map_failures > before.map_failures, "a failed map was not counted");
		fa_release_lines(s, mp);
		free(mp->devview);
		mp->devview = NULL;
		return;
	}
	FA_CHECK(s, after.live_mappings == before.live_mappings + 1,
		 "map: live_mappings went %llu -> %llu", (unsigned long long)before.live_mappings,
		 (unsigned long long)after.live_mappings);

	/* Bus segments: cover the pieces exactly, fit the mask. */
	uint64_t mask = dmamap_get_mask(d->dev);
	uint32_t sum = 0;
	for (unsigned int k = 0; k < mp->nsegs; k++) {
		struct fa_seg *g = &mp->seg[k];
		FA_CHECK(s, g->len > 0, "bus segment %u of length 0", k);
		sum += g->len;
		FA_CHECK(s, g->bus <= mask && g->len - 1 <= mask - g->bus,
			 "dev %d: bus 0x%llx+%u beyond mask 0x%llx", dv, (unsigned long long)g->bus,
			 g->len, (unsigned long long)mask);
	}
	FA_CHECK(s, sum == total, "bus segments hold %u bytes, the pieces %u", sum, total);

	if (!d->iommu) {
		FA_CHECK(s, mp->nsegs == n, "dma-direct merged segments (%u of %u)", mp->nsegs, n);
		bool forced = s->force || d->restricted;
		uint64_t nb = 0;
		for (unsigned int k = 0; k < n; k++) {
			struct fa_seg *g = &mp->seg[k];
			struct fa_piece *p = &mp->piece[k];
			FA_CHECK(s, g->len == p->len, "segment %u length %u for a %u-byte entry", k, g->len, p->len);
			uint64_t direct_bus = DMAMAP_MAPPING_ERROR, pa;
			bool capable = fa_capable(d, p->phys, p->len, mask, &direct_bus);
			FA_CHECK(s, fa_bus_to_phys(d, g->bus, &pa),
				 "dev %d: bus 0x%llx+%u is outside every window of the device", dv,
				 (unsigned long long)g->bus, g->len);
			g->bounced = !capable || forced || g->bus != direct_bus;
			if (g->bounced) {
				nb++;
				FA_CHECK(s, forced || !capable,
					 "dev %d: reachable buffer 0x%llx+%u (bus 0x%llx) mapped at 0x%llx without force",
					 dv, (unsigned long long)p->phys, p->len,
					 (unsigned long long)direct_bus, (unsigned long long)g->bus);
				FA_CHECK(s, fa_in_pool(s, mp->pool, pa, g->len),
					 "dev %d: bus 0x%llx+%u (phys 0x%llx) is neither the buffer (0x%llx) nor in the %s bounce pool",
					 dv, (unsigned long long)g->bus, g->len, (unsigned long long)pa,
					 (unsigned long long)p->phys, mp->pool ? "restricted" : "default");
				FA_CHECK(s, (pa & (FA_SLOT - 1)) == 0,
					 "bounce address 0x%llx is not slot-aligned", (unsigned long long)pa);
				size_t maxmap = dmamap_max_mapping_size(d->dev);
				FA_CHECK(s, g->len <= maxmap, "dev %d: bounced %u bytes, max_mapping_size %zu",
					 dv, g->len, maxmap);
				uint64_t bmask = dmamap_get_seg_boundary(d->dev);
				if (g->len - 1 <= bmask)
					FA_CHECK(s, (g->bus & ~bmask) == ((g->bus + g->len - 1) & ~bmask),
						 "dev %d: bounce 0x%llx+%u crosses the segment boundary mask 0x%llx",
						 dv, (unsigned long long)g->bus, g->len, (unsigned long long)bmask);
				uint64_t slots = (g->len + FA_SLOT - 1) & ~(FA_SLOT - 1);
				mp->pool_bytes += slots;
				mp->claim_lo[mp->nclaims] = pa;
				mp->claim_hi[mp->nclaims++] = pa + slots;
			} else {
				FA_CHECK(s, pa == p->phys, "dev %d: bus 0x%llx reaches phys 0x%llx, not the buffer 0x%llx",
					 dv, (unsigned long long)g->bus, (unsigned long long)pa,
					 (unsigned long long)p->phys);
				mp->claim_lo[mp->nclaims] = pa;
				mp->claim_hi[mp->nclaims++] = pa + g->len;
			}
		}
		FA_CHECK(s, after.bounced_maps - before.bounced_maps == nb,
			 "bounced_maps grew by %llu, %llu segments bounced",
			 (unsigned long long)(after.bounced_maps - before.bounced_maps),
			 (unsigned long long)nb);
	} else {
		if (after.bounced_maps != before.bounced_maps)
			mp->pool_inexact = true;
		/* A bus segment that merged several entries keeps the device's rules. */
		uint64_t bmask = dmamap_get_seg_boundary(d->dev);
		unsigned int maxseg = dmamap_get_max_seg_size(d->dev);
		for (unsigned int k = 0, pi = 0; k < mp->nsegs; k++) {
			uint32_t covered = 0, npieces = 0;
			while (pi < n && covered < mp->seg[k].len)
				covered += mp->piece[pi++].len, npieces++;
			FA_CHECK(s, covered == mp->seg[k].len,
				 "IOMMU bus segment %u (%u bytes) does not cover whole entries", k,
				 mp->seg[k].len);
			if (npieces > 1) {
				struct fa_seg *g = &mp->seg[k];
				FA_CHECK(s, g->len <= maxseg, "merged segment of %u bytes > max_seg_size %u",
					 g->len, maxseg);
				FA_CHECK(s, (g->bus & ~bmask) == ((g->bus + g->len - 1) & ~bmask),
					 "merged segment 0x%llx+%u crosses boundary mask 0x%llx",
					 (unsigned long long)g->bus, g->len, (unsigned long long)bmask);
			}
		}
		for (unsigned int k = 0; k < mp->nsegs; k++) {
			struct fa_seg *g = &mp->seg[k];
			FA_CHECK(s, g->bus != 0, "IOVA 0 handed out");
			mp->claim_lo[mp->nclaims] = g->bus & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
			mp->claim_hi[mp->nclaims++] =
				(g->bus + g->len + DMAMAP_PAGE_SIZE - 1) & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
		}
		/* Merged IOVA segments of one sg mapping are adjacent pieces of
		 * one range: claims may touch but not overlap. */
	}
	fa_check_overlap(s, mp);
	mp->live = true;
	d->live++;

	/* The device sees the buffer (swiotlb copies in even for FROM_DEVICE). */
	if (dir != DMAMAP_FROM_DEVICE || !d->iommu)
		fa_check_dev(s, mp, 0, total, "right after map");
}

static void fa_unmap(struct fa_state *s, struct fa_map *mp)
{
	struct fa_dev *d = &s->d[mp->dev];
	const unsigned long attrs = 0;
	tr("unmap dev %d kind %d dir %s %u bytes", mp->dev, (int)mp->kind, dir_name(mp->dir), mp->total);
	switch (mp->kind) {
	case FA_SINGLE:
		dmamap_unmap_single_attrs(d->dev, mp->seg[0].bus, mp->total, mp->dir, attrs);
		break;
	case FA_PAGE:
		dmamap_unmap_page_attrs(d->dev, mp->seg[0].bus, mp->total, mp->dir, attrs);
		break;
	case FA_PHYS:
		dmamap_unmap_phys(d->dev, mp->seg[0].bus, mp->total, mp->dir, attrs);
		break;
	case FA_SG:
		dmamap_unmap_sg_attrs(d->dev, mp->sg, (int)mp->npieces, mp->dir, attrs);
		break;
	case FA_SGTABLE:
		dmamap_unmap_sgtable(d->dev, &mp->sgt, mp->dir, attrs);
		break;
	default:
		abort();
	}
	mp->live = false;
	d->live--;
	fa_check_cpu(s, mp, 0, mp->total, "after unmap");
	fa_release_lines(s, mp);
	free(mp->devview);
	mp->devview = NULL;
}

static void fa_op_unmap(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), false);
	if (mp)
		fa_unmap(s, mp);
}

/* A sub-range [off, off + len) of the mapping from two bytes. */
static void fa_subrange(struct fa_rd *r, uint32_t total, uint32_t *off, uint32_t *len)
{
	uint32_t a = rd16(r) % total, b = rd16(r);
	*off = a;
	*len = 1 + b % (total - a);
}

/* The device writes part of a FROM_DEVICE / BIDIRECTIONAL mapping. */
static void fa_op_dev_write(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), false);
	uint32_t off, len;
	if (!mp) {
		rd16(r);
		rd16(r);
		return;
	}
	fa_subrange(r, mp->total, &off, &len);
	if (mp->dir == DMAMAP_TO_DEVICE)
		return;
	fa_pattern(mp->devview + off, len, ++s->seed);
	tr("dev write dev %d [%u, +%u) of %u", mp->dev, off, len, mp->total);
	fa_dev_access(s, mp, off, len, mp->devview + off, true);
	/* The device reads back its own writes (where the IOMMU lets it read). */
	if (mp->dir != DMAMAP_FROM_DEVICE || !s->d[mp->dev].iommu)
		fa_check_dev(s, mp, off, len, "device read after its write");
}

static void fa_op_dev_read(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), false);
	uint32_t off, len;
	if (!mp) {
		rd16(r);
		rd16(r);
		return;
	}
	fa_subrange(r, mp->total, &off, &len);
	if (mp->dir == DMAMAP_FROM_DEVICE && s->d[mp->dev].iommu)
		return; /* the IOMMU forbids it, rightly */
	tr("dev read dev %d [%u, +%u) of %u", mp->dev, off, len, mp->total);
	fa_check_dev(s, mp, off, len, "device read");
}

static bool fa_single(const struct fa_map *mp)
{
	return mp->kind == FA_SINGLE || mp->kind == FA_PAGE || mp->kind == FA_PHYS;
}

static void fa_sync_cpu_all(struct fa_state *s, struct fa_map *mp)
{
	struct fa_dev *d = &s->d[mp->dev];
	if (mp->kind == FA_SG)
		dmamap_sync_sg_for_cpu(d->dev, mp->sg, (int)mp->npieces, mp->dir);
	else if (mp->kind == FA_SGTABLE)
		dmamap_sync_sgtable_for_cpu(d->dev, &mp->sgt, mp->dir);
	else
		dmamap_sync_single_for_cpu(d->dev, mp->seg[0].bus, mp->total, mp->dir);
}

static void fa_sync_dev_all(struct fa_state *s, struct fa_map *mp)
{
	struct fa_dev *d = &s->d[mp->dev];
	if (mp->kind == FA_SG)
		dmamap_sync_sg_for_device(d->dev, mp->sg, (int)mp->npieces, mp->dir);
	else if (mp->kind == FA_SGTABLE)
		dmamap_sync_sgtable_for_device(d->dev, &mp->sgt, mp->dir);
	else
		dmamap_sync_single_for_device(d->dev, mp->seg[0].bus, mp->total, mp->dir);
}

/* sync_for_cpu of a part (single mappings) or the whole: the CPU sees the device's bytes. */
static void fa_op_sync_cpu(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), false);
	uint32_t off, len;
	uint8_t how = rd8(r);
	if (!mp) {
		rd16(r);
		rd16(r);
		return;
	}
	fa_subrange(r, mp->total, &off, &len);
	struct fa_dev *d = &s->d[mp->dev];
	if (!fa_single(mp) || (how & 1)) {
		off = 0;
		len = mp->total;
		fa_sync_cpu_all(s, mp);
	} else if (how & 2) {
		dmamap_sync_single_range_for_cpu(d->dev, mp->seg[0].bus, off, len, mp->dir);
	} else {
		dmamap_sync_single_for_cpu(d->dev, mp->seg[0].bus + off, len, mp->dir);
	}
	tr("sync for cpu dev %d [%u, +%u) of %u", mp->dev, off, len, mp->total);
	if (mp->dir != DMAMAP_TO_DEVICE)
		fa_check_cpu(s, mp, off, len, "after sync_for_cpu");
}

/*
 * The CPU takes the whole buffer back (sync_for_cpu), checks it, maybe
 * writes part of it (TO_DEVICE / BIDIRECTIONAL), and gives it to the device
 * again (sync_for_device of the part written, or of the whole).
 */
static void fa_op_cpu_cycle(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), false);
	uint32_t off, len;
	uint8_t how = rd8(r);
	if (!mp) {
		rd16(r);
		rd16(r);
		return;
	}
	fa_subrange(r, mp->total, &off, &len);
	struct fa_dev *d = &s->d[mp->dev];
	fa_sync_cpu_all(s, mp);
	fa_check_cpu(s, mp, 0, mp->total, "after sync_for_cpu of the whole mapping");
	bool write = (how & 1) && mp->dir != DMAMAP_FROM_DEVICE;
	tr("cpu cycle dev %d%s [%u, +%u) of %u", mp->dev, write ? " write" : "", off, len, mp->total);
	if (write) {
		fa_pattern(mp->devview + off, len, ++s->seed);
		fa_cpu_scatter(mp, off, len, mp->devview + off);
	}
	if (write && fa_single(mp) && (how & 2))
		dmamap_sync_single_range_for_device(d->dev, mp->seg[0].bus, off, len, mp->dir);
	else
		fa_sync_dev_all(s, mp);
	if (mp->dir != DMAMAP_FROM_DEVICE || !d->iommu)
		fa_check_dev(s, mp, 0, mp->total, "after sync_for_device");
}

/* ---- allocations ------------------------------------------------------------------------- */

static void fa_op_alloc(struct fa_state *s, struct fa_rd *r)
{
	uint8_t a = rd8(r);
	int dv = a % FA_NDEV;
	bool nc = a & 4;
	size_t size = 1 + rd16(r) % (48u << 10);
	struct fa_map *mp = fa_free_slot(s);
	struct fa_dev *d = &s->d[dv];
	if (!mp)
		return;
	memset(mp, 0, sizeof(*mp));
	dmamap_dma_addr_t h = 0;
	void *cpu = nc ? dmamap_alloc_noncoherent(d->dev, size, &h, DMAMAP_BIDIRECTIONAL)
		       : dmamap_alloc_coherent(d->dev, size, &h);
	tr("alloc%s dev %d %zu bytes -> %p 0x%llx", nc ? " noncoherent" : "", dv, size, cpu,
	   (unsigned long long)h);
	if (!cpu)
		return;
	uint64_t cmask = dmamap_get_coherent_mask(d->dev);
	FA_CHECK(s, h != DMAMAP_MAPPING_ERROR && h <= cmask && size - 1 <= cmask - h,
		 "dev %d: allocation at bus 0x%llx+%zu beyond coherent mask 0x%llx", dv,
		 (unsigned long long)h, size, (unsigned long long)cmask);
	if (!nc) {
		const uint8_t *b = cpu;
		for (size_t i = 0; i < size; i++)
			FA_CHECK(s, b[i] == 0, "coherent allocation not zeroed at byte %zu", i);
	}
	mp->kind = nc ? FA_ALLOC_NC : FA_ALLOC;
	mp->dev = dv;
	mp->dir = DMAMAP_BIDIRECTIONAL;
	mp->acpu = cpu;
	mp->handle = h;
	mp->asize = size;
	mp->total = (uint32_t)size;
	mp->space = d->iommu ? 1 : 0;
	mp->npieces = 1;
	mp->piece[0].cpu = cpu;
	mp->piece[0].len = (uint32_t)size;
	mp->nsegs = 1;
	mp->seg[0].bus = h;
	mp->seg[0].len = (uint32_t)size;
	uint64_t at = h;
	if (!d->iommu)
		FA_CHECK(s, fa_bus_to_phys(d, h, &at), "dev %d: allocation at bus 0x%llx outside every window",
			 dv, (unsigned long long)h);
	mp->claim_lo[0] = at & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
	mp->claim_hi[0] = (at + size + DMAMAP_PAGE_SIZE - 1) & ~(uint64_t)(DMAMAP_PAGE_SIZE - 1);
	mp->nclaims = 1;
	if (d->restricted) {
		/* Restricted devices allocate from their pool, whole pages of slots. */
		FA_CHECK(s, fa_in_pool(s, 1, at, size),
			 "dev %d: allocation at phys 0x%llx+%zu outside its restricted pool", dv,
			 (unsigned long long)at, size);
		mp->pool = 1;
		mp->pool_bytes = mp->claim_hi[0] - mp->claim_lo[0];
	}
	mp->devview = calloc(1, size);
	if (!mp->devview)
		abort();
	fa_check_overlap(s, mp);
	mp->live = true;
	d->live++;
}

static void fa_op_alloc_access(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), true);
	uint8_t how = rd8(r);
	uint32_t off, len;
	if (!mp) {
		rd16(r);
		rd16(r);
		return;
	}
	fa_subrange(r, mp->total, &off, &len);
	struct fa_dev *d = &s->d[mp->dev];
	bool nc = mp->kind == FA_ALLOC_NC;
	fa_pattern(mp->devview + off, len, ++s->seed);
	tr("alloc access dev %d %s [%u, +%u) of %u", mp->dev, (how & 1) ? "cpu->dev" : "dev->cpu",
	   off, len, mp->total);
	if (how & 1) {
		memcpy((uint8_t *)mp->acpu + off, mp->devview + off, len);
		if (nc)
			dmamap_sync_single_for_device(d->dev, mp->handle, mp->asize, DMAMAP_BIDIRECTIONAL);
		fa_check_dev(s, mp, off, len, "device read of an allocation after a CPU write");
	} else {
		fa_dev_access(s, mp, off, len, mp->devview + off, true);
		if (nc)
			dmamap_sync_single_for_cpu(d->dev, mp->handle, mp->asize, DMAMAP_BIDIRECTIONAL);
		fa_check_cpu(s, mp, off, len, "CPU read of an allocation after a device write");
	}
}

static void fa_free_alloc(struct fa_state *s, struct fa_map *mp)
{
	struct fa_dev *d = &s->d[mp->dev];
	tr("free dev %d %zu bytes", mp->dev, mp->asize);
	if (mp->kind == FA_ALLOC_NC)
		dmamap_free_noncoherent(d->dev, mp->asize, mp->acpu, mp->handle, DMAMAP_BIDIRECTIONAL);
	else
		dmamap_free_coherent(d->dev, mp->asize, mp->acpu, mp->handle);
	mp->live = false;
	d->live--;
	free(mp->devview);
	mp->devview = NULL;
}

static void fa_op_free(struct fa_state *s, struct fa_rd *r)
{
	struct fa_map *mp = fa_pick(s, rd8(r), true);
	if (mp)
		fa_free_alloc(s, mp);
}

/* ---- masks, CPUs ------------------------------------------------------------------------- */

static void fa_op_mask(struct fa_state *s, struct fa_rd *r)
{
	static const unsigned int bits_tab[] = { 24, 28, 30, 31, 32, 36, 40, 44, 48, 64 };
	int dv = rd8(r) % FA_NDEV;
	uint8_t a = rd8(r);
	struct fa_dev *d = &s->d[dv];
	unsigned int bits = bits_tab[(a & 0x3f) % (sizeof(bits_tab) / sizeof(bits_tab[0]))];
	if (d->live || bits > d->addr_bits)
		return;
	uint64_t mask = fa_mask(bits), om = dmamap_get_mask(d->dev),
		 ocm = dmamap_get_coherent_mask(d->dev);
	int sup = dmamap_supported(d->dev, mask);
	FA_CHECK(s, sup == 0 || sup == 1, "dmamap_supported returned %d", sup);
	FA_CHECK(s, dmamap_get_mask(d->dev) == om, "dmamap_supported changed the mask");
	int rc;
	switch ((a >> 6) & 3) {
	case 0:
		rc = dmamap_set_mask(d->dev, mask);
		break;
	case 1:
		rc = dmamap_set_coherent_mask(d->dev, mask);
		break;
	default:
		rc = dmamap_set_mask_and_coherent(d->dev, mask);
		break;
	}
	tr("set mask dev %d bits %u mode %d -> %d (supported %d)", dv, bits, (a >> 6) & 3, rc, sup);
	FA_CHECK(s, rc == 0 || rc == -EIO, "set mask returned %d", rc);
	if (rc) {
		FA_CHECK(s, dmamap_get_mask(d->dev) == om && dmamap_get_coherent_mask(d->dev) == ocm,
			 "a refused mask changed the device's masks");
		FA_CHECK(s, !sup, "mask 0x%llx refused though dmamap_supported says yes",
			 (unsigned long long)mask);
	} else {
		FA_CHECK(s, sup, "mask 0x%llx set though dmamap_supported says no",
			 (unsigned long long)mask);
		if (((a >> 6) & 3) != 1)
			FA_CHECK(s, dmamap_get_mask(d->dev) == mask, "set mask did not take");
		if (((a >> 6) & 3) != 0)
			FA_CHECK(s, dmamap_get_coherent_mask(d->dev) == mask,
				 "set coherent mask did not take");
	}
}

/* Segment size and boundary (Linux's dma_parms), on a device with nothing live. */
static void fa_op_params(struct fa_state *s, struct fa_rd *r)
{
	int dv = rd8(r) % FA_NDEV;
	uint8_t a = rd8(r);
	struct fa_dev *d = &s->d[dv];
	if (d->live)
		return;
	if (a & 1) {
		unsigned int seg = (a & 2) ? 4096u << ((a >> 2) & 7) : 1u + (unsigned int)(a >> 2) * 512u;
		int rc = dmamap_set_max_seg_size(d->dev, seg);
		FA_CHECK(s, rc == 0 && dmamap_get_max_seg_size(d->dev) == seg,
			 "set_max_seg_size(%u): %d", seg, rc);
		tr("dev %d max_seg_size %u", dv, seg);
	} else {
		unsigned int n = 12 + ((a >> 1) % 21); /* 4 KiB .. 4 GiB, or none */
		uint64_t b = n >= 32 ? ~0ULL : (1ULL << n) - 1;
		int rc = dmamap_set_seg_boundary(d->dev, b);
		FA_CHECK(s, rc == 0 && dmamap_get_seg_boundary(d->dev) == b,
			 "set_seg_boundary(0x%llx): %d", (unsigned long long)b, rc);
		tr("dev %d seg_boundary 0x%llx", dv, (unsigned long long)b);
	}
	/* Queries are pure. */
	uint64_t m = dmamap_get_mask(d->dev);
	(void)dmamap_get_required_mask(d->dev);
	(void)dmamap_addressing_limited(d->dev);
	(void)dmamap_opt_mapping_size(d->dev);
	FA_CHECK(s, dmamap_get_mask(d->dev) == m, "a query changed the mask");
}

/* ---- the machine ------------------------------------------------------------------------------ */

/*
 * The library's clock is the machine's virtual one, 1 ms per operation, so
 * that the IOMMU flush queue's 10 ms timeout falls on the same step of
 * every run.  With the host's clock it depended on how fast the machine
 * ran, and so did the coverage: the gate's fixed-seed exploration went
 * different ways on the same tree.
 */
#define FA_NS_PER_OP 1000000ULL

static int fa_setup(struct fa_state *s, uint8_t cfg)
{
	memset(s, 0, sizeof(*s));
	s->force = cfg & 1;
	s->dynamic = cfg & 2;
	s->ncpus = 1 + ((cfg >> 2) & 3);
	struct sim_machine_desc md = {
		.arch = (cfg & 0x10) ? DMAMAP_ARCH_ARM64 : DMAMAP_ARCH_X86,
		.ncpus = s->ncpus,
		.virtual_clock = true,
	};
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 2 * FA_GIB };
	md.ram[md.nram++] = (struct sim_ram_range){ 4 * FA_GIB, 2 * FA_GIB };
	const char *why = NULL;
	if (sim_machine_create(&md, &s->m, &why))
		fa_fail(s, "machine: %s", why ? why : "?");
	if (sim_iommu_create(s->m, &(struct sim_iommu_desc){ .name = "fuzz-iommu" }, &s->iommu) ||
	    sim_iommu_domain_create(s->m, s->iommu, SIM_IOMMU_DOMAIN_TRANSLATED, &s->dom))
		fa_fail(s, "IOMMU setup failed");
	char bootargs[64];
	snprintf(bootargs, sizeof(bootargs), "%s%s", s->force ? "swiotlb=force " : "",
		 (cfg & 0x20) ? "iommu.strict=1" : "");
	struct dmamap_config cfgs = {
		.bootargs = bootargs,
		.swiotlb_mode = DMAMAP_SWIOTLB_ON,
		.swiotlb_bytes = 1u << 20,
		.swiotlb_dynamic = s->dynamic,
		.log = fa_log,
		/* The flush-queue timeout runs at each step, on the virtual clock. */
		.deferred = DMAMAP_DEFERRED_MANUAL,
	};
	int rc = dmamap_ctx_create(sim_platform(s->m), &cfgs, &s->ctx);
	if (rc)
		fa_fail(s, "dmamap_ctx_create: %d", rc);
	static const struct {
		const char *name;
		unsigned int bits;
		bool coherent, iommu, windows, restricted;
		enum dmamap_bus bus;
	} devs[FA_NDEV] = {
		{ "pci32c", 32, true, false, false, false, DMAMAP_BUS_PCI },
		{ "plat64nc", 64, false, false, false, false, DMAMAP_BUS_PLATFORM },
		{ "plat32nc", 32, false, false, false, false, DMAMAP_BUS_PLATFORM },
		{ "iommu64nc", 64, false, true, false, false, DMAMAP_BUS_PCI },
		{ "soc32win", 32, false, false, true, false, DMAMAP_BUS_PLATFORM },
		{ "pci64restricted", 64, true, false, false, true, DMAMAP_BUS_PCI },
	};
	/* Restricted pool: firmware sets the range aside before the OS boots. */
	if (sim_reserve(s->m, FA_RPOOL_BASE, FA_RPOOL_SIZE) ||
	    dmamap_restricted_pool_create(s->ctx, FA_RPOOL_BASE, FA_RPOOL_SIZE, &s->rpool))
		fa_fail(s, "restricted pool setup failed");
	for (unsigned int i = 0; i < FA_NDEV; i++) {
		struct fa_dev *d = &s->d[i];
		struct sim_device_desc sd = { .name = devs[i].name, .bus = devs[i].bus,
					      .addr_bits = devs[i].bits,
					      .coherent = devs[i].coherent };
		d->addr_bits = devs[i].bits;
		d->coherent = devs[i].coherent;
		d->iommu = devs[i].iommu;
		d->restricted = devs[i].restricted;
		if (devs[i].windows) {
			/* An arm SoC bus: low RAM seen 1 GiB up, high RAM's first GiB at 3 GiB. */
			d->ranges[0] = (struct dmamap_dma_range){ .cpu = 0, .dma = 1ULL << 30,
								  .size = 2 * FA_GIB };
			d->ranges[1] = (struct dmamap_dma_range){ .cpu = 4 * FA_GIB, .dma = 3 * FA_GIB,
								  .size = FA_GIB };
			d->nranges = 2;
			memcpy(sd.ranges, d->ranges, sizeof(d->ranges));
			sd.nranges = 2;
		}
		if (sim_device_create(s->m, &sd, &d->sd))
			fa_fail(s, "sim_device_create %s", devs[i].name);
		struct dmamap_device_desc dd;
		sim_device_firmware_desc(d->sd, &dd);
		if (d->restricted)
			dd.restricted_pool = s->rpool;
		if (d->iommu) {
			if (sim_iommu_attach(d->sd, s->dom))
				fa_fail(s, "sim_iommu_attach");
			dd.iommu_id = s->iommu;
			dd.iommu_domain = s->dom;
		}
		if (dmamap_device_add(s->ctx, &dd, &d->dev))
			fa_fail(s, "dmamap_device_add %s", devs[i].name);
		if (d->addr_bits == 64 && dmamap_set_mask_and_coherent(d->dev, ~0ULL))
			fa_fail(s, "64-bit mask refused for %s", devs[i].name);
	}
	for (int a = 0; a < 2; a++) {
		uint64_t lo = a ? 4 * FA_GIB : 0, hi = a ? ~0ULL : 4 * FA_GIB - 1;
		if (sim_alloc_pages(s->m, fa_arena_pages[a], 1, lo, hi, &s->arena_phys[a]))
			fa_fail(s, "arena allocation");
		s->arena[a] = sim_phys_to_cpu(s->m, s->arena_phys[a]);
		s->owner[a] = calloc(fa_arena_pages[a] * DMAMAP_PAGE_SIZE / FA_LINE, 1);
		if (!s->arena[a] || !s->owner[a])
			fa_fail(s, "arena");
	}
	s->scratch = malloc(fa_arena_pages[1] * DMAMAP_PAGE_SIZE);
	if (!s->scratch)
		abort();
	dmamap_set_cpu(0);
	return 0;
}

static void fa_teardown(struct fa_state *s)
{
	s->step++;
	for (unsigned int i = 0; i < FA_MAX_MAPS; i++) {
		struct fa_map *mp = &s->maps[i];
		if (!mp->live)
			continue;
		if (mp->kind >= FA_ALLOC)
			fa_free_alloc(s, mp);
		else
			fa_unmap(s, mp);
	}
	fa_check_global(s);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(s->ctx, NULL, &ss);
	FA_CHECK(s, ss.used_bytes == 0, "default pool used_bytes %llu after everything was unmapped",
		 (unsigned long long)ss.used_bytes);
	for (unsigned int i = 0; i < FA_NDEV; i++) {
		uint64_t leaked = 1;
		int rc = dmamap_device_remove(s->d[i].dev, &leaked);
		FA_CHECK(s, rc == 0 && leaked == 0, "device %u removed with rc %d, %llu leaked", i, rc,
			 (unsigned long long)leaked);
		if (s->d[i].iommu)
			sim_iommu_detach(s->d[i].sd);
	}
	struct dmamap_swiotlb_stats rs;
	dmamap_swiotlb_get_stats(s->ctx, s->rpool, &rs);
	FA_CHECK(s, rs.used_bytes == 0, "restricted pool used_bytes %llu after everything was freed",
		 (unsigned long long)rs.used_bytes);
	FA_CHECK(s, dmamap_restricted_pool_destroy(s->rpool) == 0, "restricted pool destroy failed");
	FA_CHECK(s, dmamap_ctx_destroy(s->ctx) == 0, "dmamap_ctx_destroy failed");
	FA_CHECK(s, sim_iommu_domain_destroy(s->m, s->dom) == 0, "domain destroy failed");
	for (int a = 0; a < 2; a++) {
		sim_free_pages(s->m, s->arena_phys[a], fa_arena_pages[a]);
		free(s->owner[a]);
	}
	sim_machine_destroy(s->m);
	free(s->scratch);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fa_trace = getenv("FUZZ_API_TRACE") != NULL;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fa_state st;
	struct fa_state *s = &st;
	struct fa_rd r = { data, size };
	uint8_t cfg = rd8(&r);
	fa_setup(s, cfg);
	tr("config 0x%02x: force %d dynamic %d cpus %u", cfg, s->force, s->dynamic, s->ncpus);
	fa_check_global(s);
	for (s->step = 1; r.n && s->step <= FA_MAX_OPS; s->step++) {
		sim_clock_advance(s->m, FA_NS_PER_OP);
		dmamap_run_deferred(s->ctx, NULL);
		uint8_t op = rd8(&r);
		switch (op % 12) {
		case 0:
		case 1:
		case 2:
			fa_op_map(s, &r);
			break;
		case 3:
			fa_op_unmap(s, &r);
			break;
		case 4:
			fa_op_dev_write(s, &r);
			break;
		case 5:
			fa_op_dev_read(s, &r);
			break;
		case 6:
			fa_op_sync_cpu(s, &r);
			break;
		case 7:
			fa_op_cpu_cycle(s, &r);
			break;
		case 8:
			fa_op_alloc(s, &r);
			break;
		case 9:
			(op & 0x10) ? fa_op_free(s, &r) : fa_op_alloc_access(s, &r);
			break;
		case 10:
			fa_op_mask(s, &r);
			break;
		case 11: {
			if (op & 0x10) {
				fa_op_params(s, &r);
				break;
			}
			unsigned int cpu = rd8(&r) % s->ncpus;
			tr("cpu %u", cpu);
			dmamap_set_cpu(cpu);
			break;
		}
		}
		fa_check_global(s);
	}
	fa_teardown(s);
	return 0;
}
