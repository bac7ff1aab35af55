/*
 * tests/lib/test_counters.c - the device counters stay exact when more
 * threads are alive than there are owned counter slots.
 *
 * Owns: a test of the per-thread counter slots through the public API
 * only (dma.h, platform.h, sim.h, the fixtures).  A thread owns a slot
 * while it lives; 63 can be owned, every thread beyond shares the last
 * slot and adds atomically; the dispatcher's fast path counts only in an
 * owned slot and sends a sharing thread to the general path.  Never
 * touches library internals.
 *
 * Checked: 80 threads, all alive at once (a barrier holds them until
 * every one has counted), map and unmap on a plain dma-direct device (the
 * fast path: the bus address is the buffer's physical address) and on a
 * 32-bit device whose buffers above 4 GiB bounce; at the end maps,
 * bytes_mapped and bounced_maps are exactly what the threads did and no
 * mapping is live, and the bounced bytes reached the device.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CN_THREADS 80u  /* > 63 owned slots: at least 17 share the last one */
#define CN_DIRECT 20000u /* direct map+unmap pairs per thread */
#define CN_BOUNCE 40u   /* bounced map+unmap pairs per thread */
#define CN_SIZE 256u

struct cn_shared {
	struct tu_dev d64, d32;
	pthread_barrier_t all_counted;
	_Atomic unsigned int bad;  /* wrong addresses, failed maps, bad bytes */
};

struct cn_thread {
	struct cn_shared *sh;
	unsigned int idx;
	uint8_t *low, *high;       /* CN_SIZE each: below and above 4 GiB */
	uint64_t low_phys, high_phys;
	struct sim_device *sd32;
	pthread_t tid;
};

static void *cn_worker(void *p)
{
	struct cn_thread *t = p;
	struct cn_shared *sh = t->sh;
	dmamap_set_cpu(t->idx % 4);
	for (unsigned int i = 0; i < CN_DIRECT; i++) {
		dmamap_dma_addr_t b = dmamap_map_single(sh->d64.dev, t->low, CN_SIZE,
							DMAMAP_TO_DEVICE);
		if (b != t->low_phys)
			atomic_fetch_add(&sh->bad, 1);
		if (b != DMAMAP_MAPPING_ERROR)
			dmamap_unmap_single(sh->d64.dev, b, CN_SIZE, DMAMAP_TO_DEVICE);
	}
	uint8_t got[CN_SIZE];
	for (unsigned int i = 0; i < CN_BOUNCE; i++) {
		t->high[0] = (uint8_t)i;
		dmamap_dma_addr_t b = dmamap_map_single(sh->d32.dev, t->high, CN_SIZE,
							DMAMAP_TO_DEVICE);
		if (b == DMAMAP_MAPPING_ERROR || b == t->high_phys || b >= (1ULL << 32)) {
			atomic_fetch_add(&sh->bad, 1);
			continue;
		}
		if (sim_dma_read(t->sd32, b, got, CN_SIZE) || memcmp(got, t->high, CN_SIZE))
			atomic_fetch_add(&sh->bad, 1);
		dmamap_unmap_single(sh->d32.dev, b, CN_SIZE, DMAMAP_TO_DEVICE);
	}
	/* Stay alive (holding a slot or sharing) until every thread has counted. */
	pthread_barrier_wait(&sh->all_counted);
	return NULL;
}

static void test_counters_exact_beyond_owned_slots(void **state)
{
	(void)state;
	struct tu_env e;
	tu_env_init(&e, NULL);
	struct cn_shared *sh = calloc(1, sizeof(*sh));
	struct cn_thread *t = calloc(CN_THREADS, sizeof(*t));
	assert_non_null(sh);
	assert_non_null(t);
	tu_dev_add(&e, &sh->d64, "cn-nic64", 64, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &sh->d32, "cn-nic32", 32, true, DMAMAP_BUS_PCI);
	assert_string_equal(dmamap_device_ops_name(sh->d64.dev), "direct");
	assert_int_equal(pthread_barrier_init(&sh->all_counted, NULL, CN_THREADS), 0);
	for (unsigned int i = 0; i < CN_THREADS; i++) {
		t[i].sh = sh;
		t[i].idx = i;
		t[i].sd32 = sh->d32.sd;
		t[i].low = tu_alloc_low(&e, 1, &t[i].low_phys);
		t[i].high = tu_alloc_high(&e, 1, &t[i].high_phys);
		tu_fill(t[i].high, CN_SIZE, i + 1);
	}
	for (unsigned int i = 0; i < CN_THREADS; i++)
		assert_int_equal(pthread_create(&t[i].tid, NULL, cn_worker, &t[i]), 0);
	for (unsigned int i = 0; i < CN_THREADS; i++)
		assert_int_equal(pthread_join(t[i].tid, NULL), 0);
	assert_int_equal(atomic_load(&sh->bad), 0);

	struct dmamap_device_stats st;
	dmamap_device_get_stats(sh->d64.dev, &st);
	assert_int_equal(st.maps, (uint64_t)CN_THREADS * CN_DIRECT);
	assert_int_equal(st.bytes_mapped, (uint64_t)CN_THREADS * CN_DIRECT * CN_SIZE);
	assert_int_equal(st.bounced_maps, 0);
	assert_int_equal(st.map_failures, 0);
	assert_int_equal(st.live_mappings, 0);
	dmamap_device_get_stats(sh->d32.dev, &st);
	assert_int_equal(st.maps, (uint64_t)CN_THREADS * CN_BOUNCE);
	assert_int_equal(st.bounced_maps, (uint64_t)CN_THREADS * CN_BOUNCE);
	assert_int_equal(st.bounced_bytes, (uint64_t)CN_THREADS * CN_BOUNCE * CN_SIZE);
	assert_int_equal(st.live_mappings, 0);

	uint64_t leaked = 1;
	assert_int_equal(dmamap_device_remove(sh->d64.dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(dmamap_device_remove(sh->d32.dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	for (unsigned int i = 0; i < CN_THREADS; i++) {
		tu_free(&e, t[i].low, 1);
		tu_free(&e, t[i].high, 1);
	}
	pthread_barrier_destroy(&sh->all_counted);
	free(t);
	free(sh);
	tu_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_exact_beyond_owned_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
