/*
 * tests/lib/test_property.c - randomized map/unmap/sync property test.
 *
 * Owns: a seeded random walk of >= 100,000 streaming-DMA calls (map,
 * unmap, sync_for_cpu, sync_for_device, whole and ranged) over three
 * devices, with the simulated device really reading and writing every
 * mapping through its DMA engine.  Must never touch library or simulator
 * internals: it sees only dma.h, platform.h, sim.h and the test fixtures,
 * so what it checks is what a driver can rely on.
 *
 * Properties checked after every call:
 *   - a device read after map / sync_for_device sees exactly the CPU's
 *     bytes; a device write is in the CPU buffer byte-exact after
 *     sync_for_cpu / unmap (short writes included: the rest keeps the
 *     CPU's bytes, because the original is bounced in at map time);
 *   - no byte outside a buffer changes (a guard image around each buffer);
 *   - the bus address is phys when the device reaches the buffer, else a
 *     bounce address the device can reach;
 *   - the device never emits an address it cannot drive (no truncation,
 *     no bus error) and, for the non-coherent device, never reads a line
 *     the CPU dirtied without cleaning it.
 * At the end: nothing live, the pool empty, and the library's counters
 * equal the counts this test computed itself from buffer addresses and
 * the device mask.
 *
 * Runtime: sizes are mostly small (log-spread, a few up to the 256 KiB
 * bounce limit) so the whole file stays within a few seconds under ASan.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PT_SLOTS 64                         /* live mappings at most */
#define PT_MAX_SIZE (256u << 10)             /* the swiotlb bounce limit */
#define PT_GUARD 4096u                       /* guard bytes checked each side */
#define PT_ARENA (PT_GUARD + 4096u + PT_MAX_SIZE + PT_GUARD) /* 67 pages */
#define PT_ARENA_PAGES (PT_ARENA / 4096u)
#define PT_OPS_PER_DEVICE 40000u            /* x3 devices >= 100,000 calls */
#define PT_DRAIN_EVERY 9000u                /* unmap everything now and then */

/* ---- deterministic randomness and patterns --------------------------------- */


static uint64_t pt_below(uint64_t *s, uint64_t n)
{
	return tu_rand(s) % n;
}

/*
 * Fills len bytes from a fresh seed, 8 bytes per step (the byte-wise
 * fixture pattern would dominate the runtime under ASan).  Every pattern
 * uses a new seed, so stale data never matches by accident.
 */
static void pt_pattern(uint8_t *dst, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
	if (!x)
		x = 1;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(dst + i, &x, 8);
	}
	if (i < len) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(dst + i, &x, len - i);
	}
}

/* ---- the walk's state ----------------------------------------------------------- */

struct pt_slot {
	uint8_t *arena[2];       /* [0] below 4 GiB, [1] above */
	uint64_t arena_phys[2];
	uint8_t *shadow;         /* what the CPU buffer must hold (host memory) */
	bool live;
	int side;
	size_t off, size;
	enum dmamap_data_direction dir;
	dmamap_dma_addr_t bus;
	bool bounced;
};

struct pt_run {
	struct tu_env e;
	struct tu_dev d;
	uint64_t mask;
	bool coherent;
	uint64_t rng;
	uint64_t seed;            /* next pattern seed */
	struct pt_slot slot[PT_SLOTS];
	unsigned int nlive;
	uint8_t *guard;           /* the arena's guard image */
	uint8_t *scratch;         /* device-side staging */
	/* what this test counted */
	uint64_t calls, maps, unmaps, syncs;
	uint64_t bounced_maps, bounced_bytes, bytes_mapped;
	uint64_t short_writes, range_syncs;
};

static const char *pt_dir_name(enum dmamap_data_direction d)
{
	return d == DMAMAP_TO_DEVICE ? "to" : d == DMAMAP_FROM_DEVICE ? "from" : "bidi";
}

/* Fails with where and what when a and b differ. */
static void pt_expect_same(const struct pt_run *r, const struct pt_slot *s,
			   const uint8_t *got, const uint8_t *want, size_t len,
			   const char *what)
{
	if (memcmp(got, want, len) == 0)
		return;
	size_t i = 0;
	while (got[i] == want[i])
		i++;
	fail_msg("%s: %s, byte %zu of %zu differs (got 0x%02x want 0x%02x); "
		 "buffer side %s off %zu size %zu dir %s bounced %d, after %llu calls",
		 dmamap_device_name(r->d.dev), what, i, len, got[i], want[i],
		 s->side ? "high" : "low", s->off, s->size, pt_dir_name(s->dir),
		 (int)s->bounced, (unsigned long long)r->calls);
}

static bool pt_dev_reads(enum dmamap_data_direction d)
{
	return d != DMAMAP_FROM_DEVICE;
}

static bool pt_dev_writes(enum dmamap_data_direction d)
{
	return d != DMAMAP_TO_DEVICE;
}

/* The device reads the whole mapping: it must see the CPU's bytes. */
static void pt_device_reads(struct pt_run *r, struct pt_slot *s, const char *when)
{
	assert_int_equal(sim_dma_read(r->d.sd, s->bus, r->scratch, s->size), 0);
	pt_expect_same(r, s, r->scratch, s->shadow, s->size, when);
}

/*
 * The device writes a fresh pattern, usually over the whole mapping,
 * sometimes only a piece of it (a short packet).  Returns the piece.
 */
static void pt_device_writes(struct pt_run *r, struct pt_slot *s, size_t *a,
			     size_t *len)
{
	*a = 0;
	*len = s->size;
	if (s->size > 1 && pt_below(&r->rng, 6) == 0) {
		*a = pt_below(&r->rng, s->size);
		*len = 1 + pt_below(&r->rng, s->size - *a);
		r->short_writes++;
	}
	pt_pattern(r->scratch, *len, r->seed++);
	assert_int_equal(sim_dma_write(r->d.sd, s->bus + *a, r->scratch, *len), 0);
	memcpy(s->shadow + *a, r->scratch, *len);
}

/* A size: mostly small, log-spread to 64 KiB, a few up to the bounce limit. */
static size_t pt_size(struct pt_run *r)
{
	uint64_t k = pt_below(&r->rng, 100);
	if (k < 3)
		return PT_MAX_SIZE - pt_below(&r->rng, 3) * 4096; /* the edge */
	if (k < 6)
		return 65536 + pt_below(&r->rng, PT_MAX_SIZE - 65536) + 1;
	unsigned int bits = 1 + (unsigned int)pt_below(&r->rng, 16); /* 2..64 Ki */
	return 1 + pt_below(&r->rng, 1ULL << bits);
}

/* An offset inside the arena's second page: random, line- or page-aligned. */
static size_t pt_offset(struct pt_run *r)
{
	uint64_t k = pt_below(&r->rng, 8);
	if (k == 0)
		return 4096;
	if (k == 1)
		return 4096 + pt_below(&r->rng, 64) * 64;
	return 4096 + pt_below(&r->rng, 4096);
}

static void pt_map(struct pt_run *r, struct pt_slot *s)
{
	s->side = (int)pt_below(&r->rng, 2);
	s->off = pt_offset(r);
	s->size = pt_size(r);
	s->dir = (enum dmamap_data_direction)pt_below(&r->rng, 3); /* 0..2 */
	uint8_t *cpu = s->arena[s->side] + s->off;
	uint64_t phys = s->arena_phys[s->side] + s->off;

	pt_pattern(s->shadow, s->size, r->seed++);
	memcpy(cpu, s->shadow, s->size);
	s->bus = dmamap_map_single(r->d.dev, cpu, s->size, s->dir);
	r->calls++;
	if (s->bus == DMAMAP_MAPPING_ERROR)
		fail_msg("%s: map of %zu bytes at phys 0x%llx dir %s failed after %llu calls",
			 dmamap_device_name(r->d.dev), s->size,
			 (unsigned long long)phys, pt_dir_name(s->dir),
			 (unsigned long long)r->calls);
	s->live = true;
	r->nlive++;
	r->maps++;
	r->bytes_mapped += s->size;

	/* Computed from the buffer and the mask alone, not from the library. */
	s->bounced = phys + s->size - 1 > r->mask;
	if (s->bounced) {
		r->bounced_maps++;
		r->bounced_bytes += s->size;
		tu_assert_le(s->bus + s->size - 1, r->mask);
		/* Slot-aligned; page-aligned from 4 KiB up (swiotlb geometry). */
		assert_int_equal(s->bus & 2047, 0);
		if (s->size >= 4096)
			assert_int_equal(s->bus & 4095, 0);
	} else {
		assert_int_equal(s->bus, phys);
	}
	if (pt_dev_reads(s->dir))
		pt_device_reads(r, s, "device read after map");
}

static void pt_check_guards(struct pt_run *r, struct pt_slot *s)
{
	const uint8_t *a = s->arena[s->side];
	size_t lo = s->off - PT_GUARD, hi = s->off + s->size;
	pt_expect_same(r, s, a + lo, r->guard + lo, PT_GUARD, "guard before the buffer");
	pt_expect_same(r, s, a + hi, r->guard + hi, PT_GUARD, "guard after the buffer");
}

static void pt_unmap(struct pt_run *r, struct pt_slot *s)
{
	size_t a, len;
	if (pt_dev_writes(s->dir))
		pt_device_writes(r, s, &a, &len);
	dmamap_unmap_single(r->d.dev, s->bus, s->size, s->dir);
	r->calls++;
	r->unmaps++;
	uint8_t *cpu = s->arena[s->side] + s->off;
	pt_expect_same(r, s, cpu, s->shadow, s->size, "CPU buffer after unmap");
	pt_check_guards(r, s);
	/* Back to pure guard image for the next user of this arena. */
	memcpy(cpu, r->guard + s->off, s->size);
	s->live = false;
	r->nlive--;
}

/* The device wrote (if it may); the CPU takes the buffer back and looks. */
static void pt_sync_for_cpu(struct pt_run *r, struct pt_slot *s)
{
	size_t a = 0, len = s->size;
	if (pt_dev_writes(s->dir))
		pt_device_writes(r, s, &a, &len);
	if (pt_below(&r->rng, 3) == 0) {
		/* A ranged sync covering exactly what the device wrote. */
		dmamap_sync_single_range_for_cpu(r->d.dev, s->bus, a, len, s->dir);
		r->range_syncs++;
	} else {
		dmamap_sync_single_for_cpu(r->d.dev, s->bus, s->size, s->dir);
	}
	r->calls++;
	r->syncs++;
	pt_expect_same(r, s, s->arena[s->side] + s->off, s->shadow, s->size,
		       "CPU buffer after sync_for_cpu");
}

/*
 * The CPU hands the buffer (back) to the device.  to/bidi: the CPU writes
 * new bytes first and the device must read them.  from: the buffer goes
 * back for another device write, which the CPU must then see.
 */
static void pt_sync_for_device(struct pt_run *r, struct pt_slot *s)
{
	uint8_t *cpu = s->arena[s->side] + s->off;
	if (s->dir == DMAMAP_FROM_DEVICE) {
		dmamap_sync_single_for_device(r->d.dev, s->bus, s->size, s->dir);
		r->calls++;
		r->syncs++;
		/* A full write: after sync_for_device(from) nothing is copied in. */
		pt_pattern(r->scratch, s->size, r->seed++);
		assert_int_equal(sim_dma_write(r->d.sd, s->bus, r->scratch, s->size), 0);
		memcpy(s->shadow, r->scratch, s->size);
		dmamap_sync_single_for_cpu(r->d.dev, s->bus, s->size, s->dir);
		r->calls++;
		r->syncs++;
		pt_expect_same(r, s, cpu, s->shadow, s->size,
			       "CPU buffer after sync_for_device + device write + sync_for_cpu");
		return;
	}
	size_t a = 0, len = s->size;
	if (s->size > 1 && pt_below(&r->rng, 3) == 0) {
		a = pt_below(&r->rng, s->size);
		len = 1 + pt_below(&r->rng, s->size - a);
	}
	pt_pattern(s->shadow + a, len, r->seed++);
	memcpy(cpu + a, s->shadow + a, len);
	if (len != s->size) {
		dmamap_sync_single_range_for_device(r->d.dev, s->bus, a, len, s->dir);
		r->range_syncs++;
	} else {
		dmamap_sync_single_for_device(r->d.dev, s->bus, s->size, s->dir);
	}
	r->calls++;
	r->syncs++;
	pt_device_reads(r, s, "device read after sync_for_device");
}

static void pt_setup(struct pt_run *r, const char *name, unsigned int bits,
		     bool coherent, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	tu_env_init(&r->e, NULL); /* 8 GiB: 3 below 4 GiB, 5 above; swiotlb on */
	tu_dev_add(&r->e, &r->d, name, bits, coherent,
		   coherent ? DMAMAP_BUS_PCI : DMAMAP_BUS_PLATFORM);
	r->mask = DMAMAP_BIT_MASK(bits);
	assert_int_equal(dmamap_set_mask_and_coherent(r->d.dev, r->mask), 0);
	r->coherent = coherent;
	r->rng = seed;
	r->seed = seed ^ 0x5bd1e995;
	r->guard = malloc(PT_ARENA);
	r->scratch = malloc(PT_MAX_SIZE);
	assert_non_null(r->guard);
	assert_non_null(r->scratch);
	pt_pattern(r->guard, PT_ARENA, 0xfeedULL);
	for (unsigned int i = 0; i < PT_SLOTS; i++) {
		struct pt_slot *s = &r->slot[i];
		s->arena[0] = tu_alloc_low(&r->e, PT_ARENA_PAGES, &s->arena_phys[0]);
		s->arena[1] = tu_alloc_high(&r->e, PT_ARENA_PAGES, &s->arena_phys[1]);
		tu_assert_le(s->arena_phys[0] + PT_ARENA - 1, 0xffffffffULL);
		tu_assert_ge(s->arena_phys[1], 4 * TU_GIB);
		memcpy(s->arena[0], r->guard, PT_ARENA);
		memcpy(s->arena[1], r->guard, PT_ARENA);
		s->shadow = malloc(PT_MAX_SIZE);
		assert_non_null(s->shadow);
	}
}

static void pt_teardown(struct pt_run *r)
{
	for (unsigned int i = 0; i < PT_SLOTS; i++) {
		struct pt_slot *s = &r->slot[i];
		tu_free(&r->e, s->arena[0], PT_ARENA_PAGES);
		tu_free(&r->e, s->arena[1], PT_ARENA_PAGES);
		free(s->shadow);
	}
	free(r->guard);
	free(r->scratch);
	tu_dev_remove(&r->d);
	tu_env_fini(&r->e);
}

static void pt_walk(struct pt_run *r)
{
	uint64_t next_drain = PT_DRAIN_EVERY;
	while (r->calls < PT_OPS_PER_DEVICE) {
		if (r->calls >= next_drain) {
			/* Everything off now and then: the empty pool gets walked too. */
			for (unsigned int i = 0; i < PT_SLOTS; i++)
				if (r->slot[i].live)
					pt_unmap(r, &r->slot[i]);
			next_drain += PT_DRAIN_EVERY;
		}
		uint64_t k = pt_below(&r->rng, 100);
		if (r->nlive == 0 || (r->nlive < PT_SLOTS && k < 35)) {
			unsigned int i = (unsigned int)pt_below(&r->rng, PT_SLOTS);
			while (r->slot[i].live)
				i = (i + 1) % PT_SLOTS;
			pt_map(r, &r->slot[i]);
			continue;
		}
		unsigned int i = (unsigned int)pt_below(&r->rng, PT_SLOTS);
		while (!r->slot[i].live)
			i = (i + 1) % PT_SLOTS;
		struct pt_slot *s = &r->slot[i];
		uint64_t what = pt_below(&r->rng, 100);
		if (what < 45)
			pt_unmap(r, s);
		else if (what < 75)
			pt_sync_for_cpu(r, s);
		else
			pt_sync_for_device(r, s);
	}
	for (unsigned int i = 0; i < PT_SLOTS; i++)
		if (r->slot[i].live)
			pt_unmap(r, &r->slot[i]);
}

static void pt_final_checks(struct pt_run *r)
{
	assert_int_equal(r->nlive, 0);
	assert_int_equal(r->maps, r->unmaps);
	tu_assert_ge(r->calls, PT_OPS_PER_DEVICE);

	struct dmamap_device_stats ds;
	dmamap_device_get_stats(r->d.dev, &ds);
	assert_int_equal(ds.live_mappings, 0);
	assert_int_equal(ds.maps, r->maps);
	assert_int_equal(ds.map_failures, 0);
	assert_int_equal(ds.bytes_mapped, r->bytes_mapped);
	assert_int_equal(ds.bounced_maps, r->bounced_maps);
	assert_int_equal(ds.bounced_bytes, r->bounced_bytes);

	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(r->e.ctx, NULL, &ss);
	assert_true(ss.enabled);
	assert_int_equal(ss.used_bytes, 0);
	assert_int_equal(ss.full_failures, 0);
	for (unsigned int a = 0; a < ss.nareas; a++) {
		struct dmamap_swiotlb_area_stats as;
		assert_int_equal(dmamap_swiotlb_get_area_stats(r->e.ctx, NULL, a, &as), 0);
		assert_int_equal(as.used_slots, 0);
	}

	/* The device only ever drove addresses it can drive, all of them RAM. */
	struct sim_device_stats sds;
	sim_device_get_stats(r->d.sd, &sds);
	assert_int_equal(sds.truncated, 0);
	assert_int_equal(sds.bus_errors, 0);
	if (!r->coherent) {
		/* Every device read came after the CPU's clean: no stale line. */
		struct sim_cache_stats cs;
		sim_cache_get_stats(r->e.m, &cs);
		assert_int_equal(cs.stale_device_reads, 0);
		tu_assert_gt(cs.lines_cleaned, 0);
		tu_assert_gt(cs.lines_invalidated, 0);
	}
	if (getenv("TU_VERBOSE"))
		fprintf(stderr,
			"%s: %llu calls (%llu maps, %llu unmaps, %llu syncs, %llu ranged), "
			"%llu bounced, %llu short device writes\n",
			dmamap_device_name(r->d.dev), (unsigned long long)r->calls,
			(unsigned long long)r->maps, (unsigned long long)r->unmaps,
			(unsigned long long)r->syncs, (unsigned long long)r->range_syncs,
			(unsigned long long)r->bounced_maps,
			(unsigned long long)r->short_writes);
}

static void pt_run_device(const char *name, unsigned int bits, bool coherent,
			  uint64_t seed, bool expect_bounces)
{
	struct pt_run *r = calloc(1, sizeof(*r));
	assert_non_null(r);
	pt_setup(r, name, bits, coherent, seed);
	pt_walk(r);
	pt_final_checks(r);
	/* The walk must have exercised what the device is there for. */
	if (expect_bounces) {
		tu_assert_gt(r->bounced_maps, 0);
		tu_assert_lt(r->bounced_maps, r->maps); /* low buffers went direct */
	} else {
		assert_int_equal(r->bounced_maps, 0);
	}
	tu_assert_gt(r->short_writes, 0);
	tu_assert_gt(r->range_syncs, 0);
	pt_teardown(r);
	free(r);
}

/* (a) 32-bit coherent device: buffers above 4 GiB bounce, the rest go direct. */
static void test_property_coherent32(void **state)
{
	(void)state;
	pt_run_device("prop-coh32", 32, true, 0x1234567887654321ULL, true);
}

/* (b) 32-bit non-coherent device: bouncing plus the cache model's cleans/invalidates. */
static void test_property_noncoherent32(void **state)
{
	(void)state;
	pt_run_device("prop-noncoh32", 32, false, 0x0badc0ffee0ddf00ULL, true);
}

/* (c) 64-bit device: reaches all RAM, nothing bounces. */
static void test_property_64bit(void **state)
{
	(void)state;
	pt_run_device("prop-64", 64, true, 0x2545f4914f6cdd1dULL, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_property_coherent32),
		cmocka_unit_test(test_property_noncoherent32),
		cmocka_unit_test(test_property_64bit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
