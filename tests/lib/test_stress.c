/*
 * tests/lib/test_stress.c - four threads bouncing through one small pool.
 *
 * Owns: a concurrency test of the default bounce pool: 4 threads, each its
 * own logical CPU (so its own swiotlb area), mapping and unmapping buffers
 * above 4 GiB for a 32-bit coherent device through a 4 MiB pool that they
 * overfill together, so areas run dry and threads spill into each other's
 * areas and sometimes find the whole pool full.  Must never touch library
 * or simulator internals (only dma.h, platform.h, sim.h, the fixtures).
 *
 * Checked: every byte each thread maps reaches the device and every byte
 * the device writes comes back (sim_dma_read/write on the bus address);
 * a refused map is a clean DMAMAP_MAPPING_ERROR and the library counted
 * exactly as many "pool full" refusals as the threads saw; at the end the
 * pool and every area are empty and no mapping is live.
 *
 * The fixture's log callback is not thread-safe, so maps pass
 * DMAMAP_ATTR_NO_WARN: the threads must not log concurrently into it.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ST_THREADS 4
#define ST_LIVE 24                 /* live mappings per thread at most */
#define ST_MAX_SIZE (128u << 10)   /* 4 x 24 x ~64 KiB > the 4 MiB pool */
#define ST_ITERS 40000u            /* map-or-unmap steps per thread */
#define ST_POOL (4 * TU_MIB)

struct st_map {
	uint8_t *cpu;
	uint64_t phys;
	size_t size;
	enum dmamap_data_direction dir;
	dmamap_dma_addr_t bus;
	bool live;
};

struct st_shared;

struct st_thread {
	struct st_shared *sh;
	unsigned int idx;
	pthread_t tid;
	uint64_t rng;
	uint8_t *region;           /* ST_LIVE buffers of ST_MAX_SIZE, above 4 GiB */
	uint64_t region_phys;
	uint8_t *want, *scratch;   /* host-side expectations and staging */
	struct st_map m[ST_LIVE];
	/* results, read by the main thread after join */
	uint64_t maps, unmaps, failures, dev_checks;
	char err[256];             /* first problem this thread saw */
};

struct st_shared {
	struct tu_env e;
	struct tu_dev d;
	pthread_barrier_t start;
	struct st_thread t[ST_THREADS];
};


static void st_pattern(uint8_t *dst, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(dst + i, &x, len - i < 8 ? len - i : 8);
	}
}

/*
 * cmocka's asserts are not made for worker threads (they longjmp into the
 * test runner), so a worker records its first problem and stops; the main
 * thread fails the test with it.
 */
#define ST_CHECK(t, cond, ...)                                              \
	do {                                                                \
		if (!(cond)) {                                              \
			snprintf((t)->err, sizeof((t)->err), __VA_ARGS__); \
			return false;                                       \
		}                                                           \
	} while (0)

static bool st_map_one(struct st_thread *t, unsigned int i)
{
	struct st_shared *sh = t->sh;
	struct st_map *m = &t->m[i];
	/* Sizes 1 B .. 128 KiB, weighted to tens of KiB so the pool fills. */
	size_t size = 1 + tu_rand(&t->rng) % ST_MAX_SIZE;
	size_t off = tu_rand(&t->rng) % 64 == 0 ? tu_rand(&t->rng) % 4096 : 0;
	if (off + size > ST_MAX_SIZE)
		size = ST_MAX_SIZE - off;
	m->cpu = t->region + (size_t)i * (ST_MAX_SIZE + 4096) + off;
	m->phys = t->region_phys + (uint64_t)i * (ST_MAX_SIZE + 4096) + off;
	m->size = size;
	m->dir = (enum dmamap_data_direction)(tu_rand(&t->rng) % 3);
	uint8_t *want = t->want + (size_t)i * ST_MAX_SIZE;
	st_pattern(want, size, tu_rand(&t->rng));
	memcpy(m->cpu, want, size);

	m->bus = dmamap_map_single_attrs(sh->d.dev, m->cpu, size, m->dir,
					 DMAMAP_ATTR_NO_WARN);
	if (m->bus == DMAMAP_MAPPING_ERROR) {
		/* A full pool: a clean refusal, and the buffer is untouched. */
		t->failures++;
		ST_CHECK(t, memcmp(m->cpu, want, size) == 0,
			 "thread %u: a failed map changed the CPU buffer", t->idx);
		return true;
	}
	t->maps++;
	m->live = true;
	ST_CHECK(t, m->bus + size - 1 <= 0xffffffffULL,
		 "thread %u: bounce address 0x%llx+%zu beyond the 32-bit mask", t->idx,
		 (unsigned long long)m->bus, size);
	if (m->dir != DMAMAP_FROM_DEVICE) {
		ST_CHECK(t, sim_dma_read(sh->d.sd, m->bus, t->scratch, size) == 0,
			 "thread %u: device read of 0x%llx faulted", t->idx,
			 (unsigned long long)m->bus);
		ST_CHECK(t, memcmp(t->scratch, want, size) == 0,
			 "thread %u: device read of %zu bytes at 0x%llx saw other bytes (another thread's slot?)",
			 t->idx, size, (unsigned long long)m->bus);
		t->dev_checks++;
	}
	return true;
}

static bool st_unmap_one(struct st_thread *t, unsigned int i)
{
	struct st_shared *sh = t->sh;
	struct st_map *m = &t->m[i];
	uint8_t *want = t->want + (size_t)i * ST_MAX_SIZE;
	if (m->dir != DMAMAP_TO_DEVICE) {
		st_pattern(want, m->size, tu_rand(&t->rng));
		ST_CHECK(t, sim_dma_write(sh->d.sd, m->bus, want, m->size) == 0,
			 "thread %u: device write to 0x%llx faulted", t->idx,
			 (unsigned long long)m->bus);
	}
	dmamap_unmap_single(sh->d.dev, m->bus, m->size, m->dir);
	m->live = false;
	t->unmaps++;
	ST_CHECK(t, memcmp(m->cpu, want, m->size) == 0,
		 "thread %u: after unmap (dir %d, %zu bytes) the CPU buffer differs", t->idx,
		 (int)m->dir, m->size);
	if (m->dir != DMAMAP_TO_DEVICE)
		t->dev_checks++;
	return true;
}

static void *st_worker(void *arg)
{
	struct st_thread *t = arg;
	dmamap_set_cpu(t->idx); /* its own area first, then others' */
	pthread_barrier_wait(&t->sh->start);
	for (unsigned int it = 0; it < ST_ITERS && !t->err[0]; it++) {
		unsigned int i = (unsigned int)(tu_rand(&t->rng) % ST_LIVE);
		/* Two maps for every unmap attempt keep the pool near full. */
		bool ok = t->m[i].live ? (tu_rand(&t->rng) % 3 == 0 ? st_unmap_one(t, i) : true)
				       : st_map_one(t, i);
		if (!ok)
			break;
	}
	for (unsigned int i = 0; i < ST_LIVE && !t->err[0]; i++)
		if (t->m[i].live && !st_unmap_one(t, i))
			break;
	return NULL;
}

static void test_stress_four_threads_small_pool(void **state)
{
	(void)state;
	struct st_shared *sh = calloc(1, sizeof(*sh));
	assert_non_null(sh);
	struct tu_opts o = { .ncpus = ST_THREADS, .swiotlb_bytes = ST_POOL };
	tu_env_init(&sh->e, &o);
	tu_dev_add(&sh->e, &sh->d, "stress-nic32", 32, true, DMAMAP_BUS_PCI);

	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(sh->e.ctx, NULL, &ss);
	assert_true(ss.enabled);
	assert_int_equal(ss.total_bytes, ST_POOL);
	tu_assert_ge(ss.nareas, 2); /* several areas, so threads can spill */

	uint64_t region_pages = ST_LIVE * (ST_MAX_SIZE + 4096) / 4096;
	for (unsigned int i = 0; i < ST_THREADS; i++) {
		struct st_thread *t = &sh->t[i];
		t->sh = sh;
		t->idx = i;
		t->rng = 0x9E3779B97F4A7C15ULL * (i + 1);
		t->region = tu_alloc_high(&sh->e, region_pages, &t->region_phys);
		t->want = malloc((size_t)ST_LIVE * ST_MAX_SIZE);
		t->scratch = malloc(ST_MAX_SIZE);
		assert_non_null(t->want);
		assert_non_null(t->scratch);
	}
	assert_int_equal(pthread_barrier_init(&sh->start, NULL, ST_THREADS), 0);
	for (unsigned int i = 0; i < ST_THREADS; i++)
		assert_int_equal(pthread_create(&sh->t[i].tid, NULL, st_worker, &sh->t[i]), 0);
	uint64_t maps = 0, unmaps = 0, failures = 0, checks = 0;
	for (unsigned int i = 0; i < ST_THREADS; i++) {
		assert_int_equal(pthread_join(sh->t[i].tid, NULL), 0);
		struct st_thread *t = &sh->t[i];
		if (t->err[0])
			fail_msg("%s", t->err);
		maps += t->maps;
		unmaps += t->unmaps;
		failures += t->failures;
		checks += t->dev_checks;
	}
	pthread_barrier_destroy(&sh->start);
	if (getenv("TU_VERBOSE"))
		fprintf(stderr, "stress: %llu maps, %llu refused (pool full), %llu device checks\n",
			(unsigned long long)maps, (unsigned long long)failures,
			(unsigned long long)checks);

	assert_int_equal(maps, unmaps);
	/* 4 x 24 x ~64 KiB wanted through 4 MiB: the full pool must have been met. */
	tu_assert_gt(failures, 0);
	tu_assert_gt(maps, failures);

	dmamap_swiotlb_get_stats(sh->e.ctx, NULL, &ss);
	assert_int_equal(ss.used_bytes, 0);
	assert_int_equal(ss.full_failures, failures);
	for (unsigned int a = 0; a < ss.nareas; a++) {
		struct dmamap_swiotlb_area_stats as;
		assert_int_equal(dmamap_swiotlb_get_area_stats(sh->e.ctx, NULL, a, &as), 0);
		assert_int_equal(as.used_slots, 0);
		tu_assert_gt(as.hiwater_slots, 0); /* every area was used */
	}

	struct dmamap_device_stats ds;
	dmamap_device_get_stats(sh->d.dev, &ds);
	assert_int_equal(ds.live_mappings, 0);
	assert_int_equal(ds.maps, maps);
	assert_int_equal(ds.map_failures, failures);
	assert_int_equal(ds.bounced_maps, maps); /* every buffer is above 4 GiB */

	struct sim_device_stats sds;
	sim_device_get_stats(sh->d.sd, &sds);
	assert_int_equal(sds.truncated, 0);
	assert_int_equal(sds.bus_errors, 0);

	for (unsigned int i = 0; i < ST_THREADS; i++) {
		tu_free(&sh->e, sh->t[i].region, region_pages);
		free(sh->t[i].want);
		free(sh->t[i].scratch);
	}
	tu_dev_remove(&sh->d);
	tu_env_fini(&sh->e);
	free(sh);
}

/*
 * Two threads that name the same CPU (dmamap_set_cpu(0)) map and unmap on
 * one device: the device's counters must be exact (they were per-CPU and
 * lost updates when two threads shared a CPU: 3.9 M maps counted of 4 M,
 * and leaks reported on removal).
 */
#define SC_ITERS 200000u
struct sc_arg {
	struct tu_dev *d;
	uint8_t *buf;
	_Atomic unsigned int *go;
	unsigned int failures;
};

static void *sc_worker(void *p)
{
	struct sc_arg *a = p;
	dmamap_set_cpu(0);
	while (!atomic_load(a->go))
		;
	for (unsigned int i = 0; i < SC_ITERS; i++) {
		dmamap_dma_addr_t b = dmamap_map_single(a->d->dev, a->buf, 64, DMAMAP_TO_DEVICE);
		if (b == DMAMAP_MAPPING_ERROR) {
			a->failures++;
			continue;
		}
		dmamap_unmap_single(a->d->dev, b, 64, DMAMAP_TO_DEVICE);
	}
	return NULL;
}

static void test_counters_exact_on_shared_cpu(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	uint64_t phys;
	uint8_t *buf = tu_alloc_low(&e, 1, &phys);
	_Atomic unsigned int go = 0;
	struct sc_arg args[2] = { { &d, buf, &go, 0 }, { &d, buf + 128, &go, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, sc_worker, &args[i]), 0);
	atomic_store(&go, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(args[0].failures + args[1].failures, 0);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.maps, 2 * SC_ITERS);
	assert_int_equal(st.bytes_mapped, 2ULL * SC_ITERS * 64);
	assert_int_equal(st.live_mappings, 0);
	uint64_t leaked = 1;
	assert_int_equal(dmamap_device_remove(d.dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	tu_free(&e, buf, 1);
	tu_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_four_threads_small_pool),
		cmocka_unit_test(test_counters_exact_on_shared_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
