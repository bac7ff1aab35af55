/*
 * tests/lib/test_exhaust.c - exhaustion policies, bounce-slot poisoning and
 * per-device bounce quotas (src/exhaust.c, src/swiotlb.c; the public
 * contract is include/dmamap/exhaust.h).
 *
 * Owns: proofs through the public API and what the simulated devices read
 * and write: fail at once (the default), defer with FIFO service of 1000
 * requests against a one-segment pool (order, bytes on the device side,
 * nothing lost, exact counters), callbacks that unmap from inside the
 * service, wait with an exact -ETIMEDOUT count and with a releasing
 * thread, device removal with requests queued, the same policies on an
 * exhausted IOVA window, poisoning on and off (and the hazard it closes),
 * and a quota that refuses one device exactly while another still maps.
 */
#include "testutil.h"

#include <dmamap/exhaust.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dmamap/sim/iommu.h>

#define KIB 1024u
#define POOL_SLOTS 128u                 /* swiotlb=128: one segment, 256 KiB */
#define BLOCK (32u * KIB)               /* 8 blocks fill the pool */
#define NBLOCKS 8u

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static struct dmamap_exhaust_stats exstats(struct tu_env *e, struct dmamap_device *dev)
{
	struct dmamap_exhaust_stats st;
	assert_int_equal(dmamap_exhaust_get_stats(e->ctx, dev, &st), 0);
	return st;
}

static struct dmamap_device_stats dstats(struct dmamap_device *dev)
{
	struct dmamap_device_stats st;
	dmamap_device_get_stats(dev, &st);
	return st;
}

static uint64_t pool_used(struct tu_env *e)
{
	struct dmamap_swiotlb_stats st;
	dmamap_swiotlb_get_stats(e->ctx, NULL, &st);
	return st.used_bytes;
}

/* A one-segment pool that every mapping bounces through; extra bootargs appended. */
static void env_small(struct tu_env *e, const char *extra)
{
	char args[256];
	snprintf(args, sizeof(args), "swiotlb=%u,force%s%s", POOL_SLOTS, extra ? " " : "",
		 extra ? extra : "");
	tu_env_init(e, &(struct tu_opts){ .bootargs = args });
}

/* Fills the pool with NBLOCKS mappings of BLOCK bytes from buf. */
static void fill_pool(struct tu_env *e, struct dmamap_device *dev, uint8_t *buf,
		      dmamap_dma_addr_t *a)
{
	for (unsigned int i = 0; i < NBLOCKS; i++) {
		a[i] = dmamap_map_single(dev, buf + i * BLOCK, BLOCK, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(dev, a[i]));
	}
	assert_int_equal(pool_used(e), POOL_SLOTS * 2048ULL);
}

static void unfill_pool(struct dmamap_device *dev, dmamap_dma_addr_t *a, unsigned int from)
{
	for (unsigned int i = from; i < NBLOCKS; i++)
		dmamap_unmap_single(dev, a[i], BLOCK, DMAMAP_TO_DEVICE);
}

/* ---- callbacks: a FIFO of completions -------------------------------------------- */

struct done {
	unsigned int idx;
	dmamap_dma_addr_t addr;
	int err;
};

struct log {
	pthread_mutex_t lock;
	struct done d[2048];
	unsigned int n, head;
	unsigned int next_idx;   /* the index the next callback must carry */
	bool in_order;
};

struct req {
	struct log *log;
	unsigned int idx;
};

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->in_order = true;
}

static void record_cb(void *arg, dmamap_dma_addr_t addr, int err)
{
	struct req *r = arg;
	struct log *l = r->log;
	pthread_mutex_lock(&l->lock);
	if (r->idx != l->next_idx)
		l->in_order = false;
	l->next_idx = r->idx + 1;
	l->d[l->n++] = (struct done){ r->idx, addr, err };
	pthread_mutex_unlock(&l->lock);
}

static bool log_pop(struct log *l, struct done *out)
{
	pthread_mutex_lock(&l->lock);
	bool ok = l->head < l->n;
	if (ok)
		*out = l->d[l->head++];
	pthread_mutex_unlock(&l->lock);
	return ok;
}

/* ---- fail at once -------------------------------------------------------------------- */

/* Linux's behaviour is the default: a full pool fails the map at once. */
static void test_fail_default(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	uint64_t timeout = 1;
	assert_int_equal(dmamap_get_exhaust_policy(d.dev, &timeout), DMAMAP_EXHAUST_FAIL);
	assert_int_equal(timeout, 0);
	uint8_t *buf = tu_alloc_high(&e, 80, NULL);
	dmamap_dma_addr_t a[NBLOCKS];
	fill_pool(&e, d.dev, buf, a);

	dmamap_dma_addr_t x = dmamap_map_single(d.dev, buf + 300 * KIB, 4096, DMAMAP_TO_DEVICE);
	assert_true(dmamap_mapping_error(d.dev, x));
	assert_true(tu_log_has(&e, "swiotlb buffer is full"));
	/* Per call: a zero timeout is "fail at once". */
	assert_int_equal(dmamap_map_single_wait(d.dev, buf + 300 * KIB, 4096, DMAMAP_TO_DEVICE,
						0, &x), -ENOMEM);
	assert_int_equal(x, DMAMAP_MAPPING_ERROR);
	/* A DEFER device cannot defer a plain call (no callback): it fails too. */
	assert_int_equal(dmamap_set_exhaust_policy(d.dev, DMAMAP_EXHAUST_DEFER, 0), 0);
	x = dmamap_map_single(d.dev, buf + 300 * KIB, 4096, DMAMAP_TO_DEVICE);
	assert_true(dmamap_mapping_error(d.dev, x));
	assert_int_equal(exstats(&e, d.dev).waited, 0); /* none of them blocked */
	assert_int_equal(dmamap_set_exhaust_policy(d.dev, (enum dmamap_exhaust_policy)7, 0),
			 -EINVAL);

	struct dmamap_exhaust_stats st = exstats(&e, d.dev);
	assert_int_equal(st.exhausted, 3);
	assert_int_equal(st.failed_now, 3);
	assert_int_equal(st.deferred + st.waited + st.served + st.timeouts, 0);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.full_failures, 3);
	assert_int_equal(dstats(d.dev).map_failures, 3);
	unfill_pool(d.dev, a, 0);
	assert_int_equal(pool_used(&e), 0);
	tu_free(&e, buf, 80);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- defer ------------------------------------------------------------------------- */

#define NREQ 1000u
#define REQ_STRIDE (32u * KIB)

static size_t req_size(unsigned int i)
{
	return 2048u * (1u + (i * 7u) % 16u) - (i % 3u) * 100u; /* 1.8 KiB .. 32 KiB */
}

static enum dmamap_data_direction req_dir(unsigned int i)
{
	return i % 10u == 0 ? DMAMAP_BIDIRECTIONAL : DMAMAP_TO_DEVICE;
}

/*
 * 1000 deferred requests of mixed sizes against a 256 KiB pool: the first
 * few map at once, the rest queue; each unmap serves the queue.  Every
 * callback arrives exactly once, in request order, and the device reads
 * each request's own bytes (and, for the bidirectional ones, what it
 * writes reaches the CPU at unmap).
 */
static void test_defer_1000_fifo(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "blk", 64, true, DMAMAP_BUS_PCI);
	uint64_t npages = (uint64_t)NREQ * REQ_STRIDE / 4096;
	uint8_t *buf = tu_alloc_high(&e, npages, NULL);
	static struct log l;
	log_init(&l);
	static struct req r[NREQ];
	unsigned int now = 0, later = 0;
	for (unsigned int i = 0; i < NREQ; i++) {
		tu_fill(buf + (size_t)i * REQ_STRIDE, req_size(i), i + 1);
		r[i] = (struct req){ &l, i };
		int rc = dmamap_map_single_deferred(d.dev, buf + (size_t)i * REQ_STRIDE,
						    req_size(i), req_dir(i), record_cb, &r[i]);
		if (rc == 0) {
			assert_int_equal(later, 0); /* never mapped at once behind a queued one */
			now++;
		} else {
			assert_int_equal(rc, -EINPROGRESS);
			later++;
		}
	}
	tu_assert_ge(now, 8);
	tu_assert_lt(now, 100);
	assert_int_equal(now + later, NREQ);
	assert_int_equal(l.n, now);
	assert_int_equal(exstats(&e, d.dev).queued, later);

	static uint8_t got[32 * KIB];
	unsigned int consumed = 0;
	struct done dn;
	while (log_pop(&l, &dn)) {
		assert_int_equal(dn.idx, consumed);
		assert_int_equal(dn.err, 0);
		assert_false(dmamap_mapping_error(d.dev, dn.addr));
		size_t sz = req_size(dn.idx);
		uint8_t *b = buf + (size_t)dn.idx * REQ_STRIDE;
		assert_int_equal(sim_dma_read(d.sd, dn.addr, got, sz), 0);
		assert_int_equal(tu_check(got, sz, dn.idx + 1), -1);
		if (req_dir(dn.idx) == DMAMAP_BIDIRECTIONAL) {
			tu_fill(got, sz, dn.idx + 5000);
			assert_int_equal(sim_dma_write(d.sd, dn.addr, got, sz), 0);
		}
		dmamap_unmap_single(d.dev, dn.addr, sz, req_dir(dn.idx)); /* serves the queue */
		if (req_dir(dn.idx) == DMAMAP_BIDIRECTIONAL)
			assert_int_equal(tu_check(b, sz, dn.idx + 5000), -1);
		consumed++;
	}
	assert_int_equal(consumed, NREQ);
	assert_true(l.in_order);

	struct dmamap_exhaust_stats st = exstats(&e, d.dev);
	assert_int_equal(st.deferred, later);
	assert_int_equal(st.served, later);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.errors + st.cancelled + st.timeouts + st.failed_now, 0);
	assert_int_equal(st.exhausted, 1); /* only the first refused try; the rest queued behind */
	struct dmamap_device_stats ds = dstats(d.dev);
	assert_int_equal(ds.maps, NREQ);
	assert_int_equal(ds.map_failures, 0); /* a deferred request is not a failure */
	assert_int_equal(ds.live_mappings, 0);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.used_bytes, 0);
	assert_int_equal(ss.full_failures, 1);
	tu_free(&e, buf, npages);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* Callbacks that check and unmap their own mapping: one release drains all. */
struct chain {
	struct tu_dev *d;
	uint8_t *buf;
	unsigned int served, next;
	bool ok;
};

struct chain_req {
	struct chain *c;
	unsigned int idx;
};

static void chain_cb(void *arg, dmamap_dma_addr_t addr, int err)
{
	struct chain_req *r = arg;
	struct chain *c = r->c;
	uint8_t got[8 * KIB];
	size_t sz = 4096 + r->idx % 4096;
	if (err || r->idx != c->next || sim_dma_read(c->d->sd, addr, got, sz) ||
	    tu_check(got, sz, r->idx + 77) != -1)
		c->ok = false;
	c->next = r->idx + 1;
	c->served++;
	dmamap_unmap_single(c->d->dev, addr, sz, DMAMAP_TO_DEVICE);
}

static void test_defer_callback_unmaps(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	uint8_t *blk = tu_alloc_high(&e, 80, NULL);
	uint8_t *buf = tu_alloc_high(&e, 200 * 2, NULL);
	dmamap_dma_addr_t a[NBLOCKS];
	fill_pool(&e, d.dev, blk, a);
	struct chain c = { .d = &d, .buf = buf, .ok = true };
	static struct chain_req r[200];
	for (unsigned int i = 0; i < 200; i++) {
		r[i] = (struct chain_req){ &c, i };
		tu_fill(buf + i * 8 * KIB, 4096 + i % 4096, i + 77);
		assert_int_equal(dmamap_map_single_deferred(d.dev, buf + i * 8 * KIB,
							    4096 + i % 4096, DMAMAP_TO_DEVICE,
							    chain_cb, &r[i]),
				 -EINPROGRESS);
	}
	assert_int_equal(c.served, 0);
	/* One block back: each callback's own unmap serves the next request. */
	dmamap_unmap_single(d.dev, a[0], BLOCK, DMAMAP_TO_DEVICE);
	assert_int_equal(c.served, 200);
	assert_true(c.ok);
	assert_int_equal(exstats(&e, d.dev).served, 200);
	assert_int_equal(exstats(&e, d.dev).queued, 0);
	unfill_pool(d.dev, a, 1);
	assert_int_equal(pool_used(&e), 0);
	assert_int_equal(dstats(d.dev).live_mappings, 0);
	tu_free(&e, buf, 400);
	tu_free(&e, blk, 80);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/*
 * Four threads each defer 250 requests (holding at most 6 mappings each)
 * while a fifth maps with WAIT, with 32 KiB of the pool left to them:
 * whichever thread's unmap frees space serves the others' requests.
 * Nothing is lost, each thread's requests complete in its own order, every
 * byte is right, the pool ends empty.
 */
#define CT_THREADS 4u
#define CT_REQS 250u
#define CT_WAITS 100u

struct ct_thread {
	struct tu_dev *d;
	uint8_t *buf;
	unsigned int id;
	pthread_mutex_t lock;
	dmamap_dma_addr_t done_addr[CT_REQS];
	unsigned int done_idx[CT_REQS];
	unsigned int ndone;
	bool ok;
};

struct ct_req {
	struct ct_thread *t;
	unsigned int idx;
};

static size_t ct_size(unsigned int id, unsigned int i)
{
	return 2048u * (1u + (id * 5u + i * 3u) % 12u);
}

static void ct_cb(void *arg, dmamap_dma_addr_t addr, int err)
{
	struct ct_req *r = arg;
	struct ct_thread *t = r->t;
	pthread_mutex_lock(&t->lock);
	if (err)
		t->ok = false;
	t->done_addr[t->ndone] = addr;
	t->done_idx[t->ndone++] = r->idx;
	pthread_mutex_unlock(&t->lock);
}

static void *ct_run(void *arg)
{
	struct ct_thread *t = arg;
	static struct ct_req reqs[CT_THREADS][CT_REQS];
	static _Thread_local uint8_t got[24 * KIB];
	unsigned int issued = 0, consumed = 0;
	while (consumed < CT_REQS) {
		pthread_mutex_lock(&t->lock);
		unsigned int ndone = t->ndone;
		pthread_mutex_unlock(&t->lock);
		if (issued < CT_REQS && issued - consumed < 6) {
			unsigned int i = issued++;
			reqs[t->id][i] = (struct ct_req){ t, i };
			int rc = dmamap_map_single_deferred(t->d->dev, t->buf + i * 24 * KIB,
							    ct_size(t->id, i), DMAMAP_TO_DEVICE,
							    ct_cb, &reqs[t->id][i]);
			if (rc != 0 && rc != -EINPROGRESS)
				t->ok = false;
			continue;
		}
		if (consumed == ndone) {
			sched_yield();
			continue;
		}
		pthread_mutex_lock(&t->lock);
		unsigned int i = t->done_idx[consumed];
		dmamap_dma_addr_t a = t->done_addr[consumed];
		pthread_mutex_unlock(&t->lock);
		size_t sz = ct_size(t->id, i);
		if (i != consumed || sim_dma_read(t->d->sd, a, got, sz) ||
		    tu_check(got, sz, t->id * 1000 + i) != -1)
			t->ok = false;
		dmamap_unmap_single(t->d->dev, a, sz, DMAMAP_TO_DEVICE);
		consumed++;
	}
	return NULL;
}

struct ct_waiter {
	struct tu_dev *d;
	uint8_t *buf;
	unsigned int ok;
};

static void *ct_wait_run(void *arg)
{
	struct ct_waiter *w = arg;
	uint8_t got[8 * KIB];
	for (unsigned int i = 0; i < CT_WAITS; i++) {
		dmamap_dma_addr_t a;
		if (dmamap_map_single_wait(w->d->dev, w->buf, sizeof(got), DMAMAP_TO_DEVICE,
					   10000000000ULL, &a))
			continue;
		if (!sim_dma_read(w->d->sd, a, got, sizeof(got)) &&
		    tu_check(got, sizeof(got), 4711) == -1)
			w->ok++;
		dmamap_unmap_single(w->d->dev, a, sizeof(got), DMAMAP_TO_DEVICE);
	}
	return NULL;
}

static void test_defer_wait_threads(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "mq", 64, true, DMAMAP_BUS_PCI);
	uint64_t npages = (uint64_t)CT_THREADS * CT_REQS * 24 * KIB / 4096;
	uint8_t *buf = tu_alloc_high(&e, npages + 2, NULL);
	static struct ct_thread t[CT_THREADS];
	pthread_t th[CT_THREADS + 1];
	for (unsigned int k = 0; k < CT_THREADS; k++) {
		t[k] = (struct ct_thread){ .d = &d, .id = k, .ok = true,
					   .buf = buf + (size_t)k * CT_REQS * 24 * KIB };
		pthread_mutex_init(&t[k].lock, NULL);
		for (unsigned int i = 0; i < CT_REQS; i++)
			tu_fill(t[k].buf + i * 24 * KIB, ct_size(k, i), k * 1000 + i);
	}
	struct ct_waiter w = { &d, buf + npages * 4096, 0 };
	tu_fill(w.buf, 8 * KIB, 4711);
	/* 7 of the 8 blocks held: one thread's first requests alone must queue. */
	uint8_t *blk = tu_alloc_high(&e, 80, NULL);
	dmamap_dma_addr_t hold[NBLOCKS - 1];
	for (unsigned int i = 0; i < NBLOCKS - 1; i++) {
		hold[i] = dmamap_map_single(d.dev, blk + i * BLOCK, BLOCK, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(d.dev, hold[i]));
	}
	for (unsigned int k = 0; k < CT_THREADS; k++)
		assert_int_equal(pthread_create(&th[k], NULL, ct_run, &t[k]), 0);
	assert_int_equal(pthread_create(&th[CT_THREADS], NULL, ct_wait_run, &w), 0);
	for (unsigned int k = 0; k <= CT_THREADS; k++)
		assert_int_equal(pthread_join(th[k], NULL), 0);
	for (unsigned int i = 0; i < NBLOCKS - 1; i++)
		dmamap_unmap_single(d.dev, hold[i], BLOCK, DMAMAP_TO_DEVICE);
	tu_free(&e, blk, 80);
	for (unsigned int k = 0; k < CT_THREADS; k++) {
		assert_true(t[k].ok);
		assert_int_equal(t[k].ndone, CT_REQS);
	}
	assert_int_equal(w.ok, CT_WAITS);
	struct dmamap_exhaust_stats st = exstats(&e, d.dev);
	assert_int_equal(st.queued, 0);
	tu_assert_gt(st.deferred, 0);
	assert_int_equal(st.served, st.deferred + st.waited);
	if (getenv("TU_VERBOSE"))
		fprintf(stderr, "deferred %llu waited %llu served %llu\n",
			(unsigned long long)st.deferred, (unsigned long long)st.waited,
			(unsigned long long)st.served);
	assert_int_equal(st.errors + st.timeouts + st.cancelled, 0);
	struct dmamap_device_stats ds = dstats(d.dev);
	assert_int_equal(ds.maps, CT_THREADS * CT_REQS + CT_WAITS + NBLOCKS - 1);
	assert_int_equal(ds.live_mappings, 0);
	assert_int_equal(ds.map_failures, 0);
	assert_int_equal(pool_used(&e), 0);
	tu_free(&e, buf, npages + 2);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- wait ------------------------------------------------------------------------------ */

static void test_wait_timeout_exact(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "cam", 64, true, DMAMAP_BUS_PCI);
	uint8_t *buf = tu_alloc_high(&e, 80, NULL);
	dmamap_dma_addr_t a[NBLOCKS];
	fill_pool(&e, d.dev, buf, a);
	for (unsigned int i = 0; i < 5; i++) {
		dmamap_dma_addr_t x = 0;
		uint64_t t0 = now_ns();
		assert_int_equal(dmamap_map_single_wait(d.dev, buf + 300 * KIB, 4096,
							DMAMAP_TO_DEVICE, 2000000, &x),
				 -ETIMEDOUT);
		tu_assert_ge(now_ns() - t0, 2000000);
		assert_int_equal(x, DMAMAP_MAPPING_ERROR);
	}
	/* The device's default policy: a plain map waits, then fails. */
	assert_int_equal(dmamap_set_exhaust_policy(d.dev, DMAMAP_EXHAUST_WAIT, 3000000), 0);
	uint64_t t0 = now_ns();
	assert_true(dmamap_mapping_error(d.dev, dmamap_map_single(d.dev, buf + 300 * KIB, 4096,
								  DMAMAP_TO_DEVICE)));
	tu_assert_ge(now_ns() - t0, 3000000);
	struct dmamap_exhaust_stats st = exstats(&e, d.dev);
	assert_int_equal(st.exhausted, 6);
	assert_int_equal(st.waited, 6);
	assert_int_equal(st.timeouts, 6);
	assert_int_equal(st.served + st.failed_now + st.queued, 0);
	assert_int_equal(dstats(d.dev).map_failures, 6);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.full_failures, 6); /* first tries only, never the retries */
	unfill_pool(d.dev, a, 0);
	tu_free(&e, buf, 80);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

struct releaser {
	struct dmamap_device *dev;
	dmamap_dma_addr_t addr;
	size_t size;
	unsigned int delay_ms;
	_Atomic bool releasing;  /* set just before the unmap */
};

static void *release_later(void *arg)
{
	struct releaser *r = arg;
	sleep_ms(r->delay_ms);
	atomic_store(&r->releasing, true);
	dmamap_unmap_single(r->dev, r->addr, r->size, DMAMAP_TO_DEVICE);
	return NULL;
}

/* Another thread's unmap frees a block: the waiting map gets it. */
static void test_wait_served_by_release(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "cam", 64, true, DMAMAP_BUS_PCI);
	uint8_t *buf = tu_alloc_high(&e, 96, NULL);
	dmamap_dma_addr_t a[NBLOCKS];
	fill_pool(&e, d.dev, buf, a);
	uint8_t *mine = buf + 320 * KIB;
	tu_fill(mine, 16 * KIB, 4242);

	struct releaser rel = { d.dev, a[3], BLOCK, 30, false };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, release_later, &rel), 0);
	dmamap_dma_addr_t x;
	assert_int_equal(dmamap_map_single_wait(d.dev, mine, 16 * KIB, DMAMAP_TO_DEVICE,
						10000000000ULL, &x), 0);
	/* Served by that release, not before it (causal, not timed). */
	assert_true(atomic_load(&rel.releasing));
	assert_int_equal(pthread_join(t, NULL), 0);
	uint8_t got[16 * KIB];
	assert_int_equal(sim_dma_read(d.sd, x, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 4242), -1);
	struct dmamap_exhaust_stats st = exstats(&e, d.dev);
	assert_int_equal(st.waited, 1);
	assert_int_equal(st.served, 1);
	assert_int_equal(st.timeouts, 0);

	/* The device default, forever: a plain map blocks until a release. */
	assert_int_equal(dmamap_set_exhaust_policy(d.dev, DMAMAP_EXHAUST_WAIT,
						   DMAMAP_WAIT_FOREVER), 0);
	rel = (struct releaser){ d.dev, x, 16 * KIB, 20, false };
	assert_int_equal(pthread_create(&t, NULL, release_later, &rel), 0);
	dmamap_dma_addr_t y = dmamap_map_single(d.dev, mine, 20 * KIB, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d.dev, y));
	assert_true(atomic_load(&rel.releasing));
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(sim_dma_read(d.sd, y, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 4242), -1);
	dmamap_unmap_single(d.dev, y, 20 * KIB, DMAMAP_TO_DEVICE);
	st = exstats(&e, d.dev);
	assert_int_equal(st.waited, 2);
	assert_int_equal(st.served, 2);
	struct dmamap_device_stats ds = dstats(d.dev);
	assert_int_equal(ds.maps, NBLOCKS + 2);
	assert_int_equal(ds.map_failures, 0);
	a[3] = DMAMAP_MAPPING_ERROR;
	for (unsigned int i = 0; i < NBLOCKS; i++)
		if (i != 3)
			dmamap_unmap_single(d.dev, a[i], BLOCK, DMAMAP_TO_DEVICE);
	assert_int_equal(pool_used(&e), 0);
	tu_free(&e, buf, 96);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* ---- device removal ------------------------------------------------------------------- */

struct waiter {
	struct dmamap_device *dev;
	void *cpu;
	int rc;
	dmamap_dma_addr_t addr;
};

static void *wait_map(void *arg)
{
	struct waiter *w = arg;
	w->rc = dmamap_map_single_wait(w->dev, w->cpu, 4096, DMAMAP_TO_DEVICE,
				       20000000000ULL, &w->addr);
	return NULL;
}

static void test_remove_with_queue(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev hog, y, z;
	env_small(&e, NULL);
	tu_dev_add(&e, &hog, "hog", 64, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &y, "y", 64, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &z, "z", 64, true, DMAMAP_BUS_PCI);
	uint8_t *buf = tu_alloc_high(&e, 128, NULL);
	dmamap_dma_addr_t a[NBLOCKS];
	fill_pool(&e, hog.dev, buf, a);
	static struct log l;
	log_init(&l);
	static struct req r[10];
	for (unsigned int i = 0; i < 10; i++) {
		r[i] = (struct req){ &l, i };
		assert_int_equal(dmamap_map_single_deferred(y.dev, buf + 300 * KIB, 4096,
							    DMAMAP_TO_DEVICE, record_cb, &r[i]),
				 -EINPROGRESS);
	}
	assert_int_equal(exstats(&e, NULL).queued, 10);
	/* Removal ends them, in order, with -ENODEV, before it returns. */
	uint64_t leaked = 1;
	assert_int_equal(dmamap_device_remove(y.dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	assert_int_equal(l.n, 10);
	assert_true(l.in_order);
	for (unsigned int i = 0; i < 10; i++) {
		assert_int_equal(l.d[i].err, -ENODEV);
		assert_int_equal(l.d[i].addr, DMAMAP_MAPPING_ERROR);
	}
	assert_true(tu_log_has(&e, "10 deferred mappings queued"));
	assert_int_equal(exstats(&e, NULL).queued, 0);

	/* A thread blocked in a WAIT on z: removal refuses and changes nothing. */
	struct waiter w = { z.dev, buf + 304 * KIB, 1, 0 };
	tu_fill(w.cpu, 4096, 99);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_map, &w), 0);
	while (exstats(&e, z.dev).queued == 0)
		sleep_ms(1);
	assert_int_equal(dmamap_device_remove(z.dev, NULL), -EBUSY);
	assert_true(tu_log_has(&e, "removal refused"));
	dmamap_unmap_single(hog.dev, a[0], BLOCK, DMAMAP_TO_DEVICE); /* serves z's wait */
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.rc, 0);
	uint8_t got[4096];
	assert_int_equal(sim_dma_read(z.sd, w.addr, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 99), -1);
	dmamap_unmap_single(z.dev, w.addr, 4096, DMAMAP_TO_DEVICE);
	unfill_pool(hog.dev, a, 1);
	assert_int_equal(pool_used(&e), 0);
	tu_free(&e, buf, 128);
	tu_dev_remove(&z);
	tu_dev_remove(&hog);
	tu_env_fini(&e);
}

/* ---- IOVA exhaustion --------------------------------------------------------------------- */

#define WIN_BASE (1ULL << 20)
#define WIN_PAGES 4u

struct ifx {
	struct tu_env e;
	int iommu, dom;
	struct tu_dev d;
};

/* A device behind the IOMMU whose translated window holds 4 pages. */
static void ifx_init(struct ifx *f)
{
	tu_env_init(&f->e, &(struct tu_opts){ .bootargs = "iommu.strict=1" });
	assert_int_equal(sim_iommu_create(f->e.m, &(struct sim_iommu_desc){ .name = "smmu0" },
					  &f->iommu), 0);
	assert_int_equal(sim_iommu_domain_create(f->e.m, f->iommu, SIM_IOMMU_DOMAIN_TRANSLATED,
						 &f->dom), 0);
	struct sim_device_desc sd = { .name = "gpu", .bus = DMAMAP_BUS_PCI, .addr_bits = 64,
				      .coherent = true };
	assert_int_equal(sim_device_create(f->e.m, &sd, &f->d.sd), 0);
	assert_int_equal(sim_iommu_attach(f->d.sd, f->dom), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(f->d.sd, &dd);
	dd.iommu_id = f->iommu;
	dd.iommu_domain = f->dom;
	dd.iommu_window_base = WIN_BASE;
	dd.iommu_window_size = WIN_PAGES * 4096ULL;
	assert_int_equal(dmamap_device_add(f->e.ctx, &dd, &f->d.dev), 0);
	assert_int_equal(dmamap_set_mask_and_coherent(f->d.dev, DMAMAP_BIT_MASK(64)), 0);
	assert_string_equal(dmamap_device_ops_name(f->d.dev), "iommu");
}

static void ifx_fini(struct ifx *f)
{
	tu_dev_remove(&f->d);
	sim_iommu_detach(f->d.sd);
	assert_int_equal(sim_iommu_domain_destroy(f->e.m, f->dom), 0);
	tu_env_fini(&f->e);
}

static bool in_window(dmamap_dma_addr_t a)
{
	return a >= WIN_BASE && a < WIN_BASE + WIN_PAGES * 4096ULL;
}

static void test_iova_exhaustion(void **state)
{
	(void)state;
	struct ifx f;
	ifx_init(&f);
	struct dmamap_device *dev = f.d.dev;
	uint8_t *buf = tu_alloc_high(&f.e, 16, NULL);
	dmamap_dma_addr_t a[WIN_PAGES];
	for (unsigned int i = 0; i < WIN_PAGES; i++) {
		tu_fill(buf + i * 4096, 4096, 10 + i);
		a[i] = dmamap_map_single(dev, buf + i * 4096, 4096, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(dev, a[i]));
		assert_true(in_window(a[i]));
	}
	/* FAIL (the default): at once. */
	dmamap_dma_addr_t x = dmamap_map_single(dev, buf + 8 * 4096, 4096, DMAMAP_TO_DEVICE);
	assert_true(dmamap_mapping_error(dev, x));
	assert_true(tu_log_has(&f.e, "IOVA space exhausted"));
	struct dmamap_exhaust_stats st = exstats(&f.e, dev);
	assert_int_equal(st.exhausted, 1);
	assert_int_equal(st.failed_now, 1);

	/* WAIT: times out while the window stays full. */
	assert_int_equal(dmamap_map_single_wait(dev, buf + 8 * 4096, 4096, DMAMAP_TO_DEVICE,
						1000000, &x), -ETIMEDOUT);

	/* DEFER: three requests queue; each unmap serves the oldest. */
	static struct log l;
	log_init(&l);
	static struct req r[3];
	for (unsigned int i = 0; i < 3; i++) {
		r[i] = (struct req){ &l, i };
		tu_fill(buf + (8 + i) * 4096, 4096, 100 + i);
		assert_int_equal(dmamap_map_single_deferred(dev, buf + (8 + i) * 4096, 4096,
							    DMAMAP_TO_DEVICE, record_cb, &r[i]),
				 -EINPROGRESS);
	}
	assert_int_equal(l.n, 0);
	uint8_t got[4096];
	for (unsigned int i = 0; i < 3; i++) {
		dmamap_unmap_single(dev, a[i], 4096, DMAMAP_TO_DEVICE);
		assert_int_equal(l.n, i + 1);
		struct done dn = { 0 };
		assert_true(log_pop(&l, &dn));
		assert_int_equal(dn.idx, i);
		assert_int_equal(dn.err, 0);
		assert_true(in_window(dn.addr));
		assert_int_equal(sim_dma_read(f.d.sd, dn.addr, got, sizeof(got)), 0);
		assert_int_equal(tu_check(got, sizeof(got), 100 + i), -1);
		a[i] = dn.addr;
	}
	assert_true(l.in_order);
	st = exstats(&f.e, dev);
	assert_int_equal(st.exhausted, 3); /* FAIL, WAIT, and the first DEFER's try */
	assert_int_equal(st.deferred, 3);
	assert_int_equal(st.served, 3);
	assert_int_equal(st.timeouts, 1);
	assert_int_equal(st.queued, 0);
	for (unsigned int i = 0; i < WIN_PAGES; i++)
		dmamap_unmap_single(dev, a[i], 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(dstats(dev).live_mappings, 0);
	tu_free(&f.e, buf, 16);
	ifx_fini(&f);
}

/* ---- poisoning -------------------------------------------------------------------------------- */

static bool all_poison(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != DMAMAP_SWIOTLB_POISON)
			return false;
	return true;
}

/* Map, let the device use it, unmap; then what the device reads at the old address. */
static void poison_case(struct tu_env *e, struct tu_dev *d, uint8_t *buf, bool poison)
{
	uint8_t got[4096];
	/* TO_DEVICE: the CPU's bytes went into the slot. */
	tu_fill(buf, 4096, 31);
	dmamap_dma_addr_t a = dmamap_map_single(d->dev, buf, 4096, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d->dev, a));
	uint64_t phys;
	assert_int_equal(sim_cpu_to_phys(e->m, buf, &phys), 0);
	assert_int_not_equal(a, phys); /* bounced */
	assert_int_equal(sim_dma_read(d->sd, a, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 31), -1);
	dmamap_unmap_single(d->dev, a, 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(sim_dma_read(d->sd, a, got, sizeof(got)), 0);
	if (poison)
		assert_true(all_poison(got, sizeof(got)));
	else
		assert_int_equal(tu_check(got, sizeof(got), 31), -1); /* the hazard */

	/* FROM_DEVICE: the device's bytes, copied back at unmap, then gone. */
	a = dmamap_map_single(d->dev, buf, 4096, DMAMAP_FROM_DEVICE);
	assert_false(dmamap_mapping_error(d->dev, a));
	tu_fill(got, sizeof(got), 32);
	assert_int_equal(sim_dma_write(d->sd, a, got, sizeof(got)), 0);
	dmamap_unmap_single(d->dev, a, 4096, DMAMAP_FROM_DEVICE);
	assert_int_equal(tu_check(buf, 4096, 32), -1);
	assert_int_equal(sim_dma_read(d->sd, a, got, sizeof(got)), 0);
	if (poison)
		assert_true(all_poison(got, sizeof(got)));
	else
		assert_int_equal(tu_check(got, sizeof(got), 32), -1);

	/* A short mapping: the whole slot is poisoned, not just its bytes. */
	tu_fill(buf, 100, 33);
	a = dmamap_map_single(d->dev, buf, 100, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(d->dev, a));
	dmamap_unmap_single(d->dev, a, 100, DMAMAP_TO_DEVICE);
	assert_int_equal(sim_dma_read(d->sd, a, got, 2048), 0);
	if (poison)
		assert_true(all_poison(got, 2048));
	else
		assert_int_equal(tu_check(got, 100, 33), -1);
}

static void test_poison(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d, nc;
	env_small(&e, "swiotlb_poison=1");
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &nc, "dsp", 64, false, DMAMAP_BUS_PLATFORM);
	uint8_t *buf = tu_alloc_high(&e, 1, NULL);
	poison_case(&e, &d, buf, true);
	/* A non-coherent device reads memory: the poison is written back to it. */
	poison_case(&e, &nc, buf, true);
	/* Off: the next device to look at the slot sees the last user's data. */
	assert_int_equal(dmamap_swiotlb_set_poison(e.ctx, NULL, false), 1);
	poison_case(&e, &d, buf, false);
	assert_int_equal(dmamap_swiotlb_set_poison(e.ctx, NULL, true), 0);
	poison_case(&e, &d, buf, true);
	assert_int_equal(pool_used(&e), 0);
	tu_free(&e, buf, 1);
	tu_dev_remove(&nc);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

/* The default is off (on with the checker); the configuration turns it on;
 * the bootarg wins. */
static int poison_setting(const char *bootargs, enum dmamap_poison_mode mode)
{
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=128" });
	struct dmamap_config cfg = { .bootargs = bootargs, .swiotlb_mode = DMAMAP_SWIOTLB_ON,
				     .swiotlb_bytes = TU_MIB, .swiotlb_poison = mode };
	struct dmamap_ctx *ctx;
	int rc = dmamap_ctx_create(sim_platform(e.m), &cfg, &ctx);
	if (rc == 0) {
		rc = dmamap_swiotlb_set_poison(ctx, NULL, false);
		assert_int_equal(dmamap_ctx_destroy(ctx), 0);
	}
	tu_env_fini(&e);
	return rc;
}

static void test_poison_config(void **state)
{
	(void)state;
	assert_int_equal(poison_setting(NULL, DMAMAP_POISON_DEFAULT), 0);
	assert_int_equal(poison_setting(NULL, DMAMAP_POISON_ON), 1);
	assert_int_equal(poison_setting(NULL, DMAMAP_POISON_OFF), 0);
	assert_int_equal(poison_setting("swiotlb_poison=1", DMAMAP_POISON_DEFAULT), 1);
	assert_int_equal(poison_setting("swiotlb_poison=0", DMAMAP_POISON_ON), 0);
	assert_int_equal(poison_setting("swiotlb_poison=2", DMAMAP_POISON_DEFAULT), -EINVAL);
	/* The DMA API checker turns it on by default; explicit settings win. */
	assert_int_equal(poison_setting("dma_debug=on", DMAMAP_POISON_DEFAULT), 1);
	assert_int_equal(poison_setting("dma_debug=on", DMAMAP_POISON_OFF), 0);
	assert_int_equal(poison_setting("dma_debug=on swiotlb_poison=0", DMAMAP_POISON_DEFAULT), 0);
	struct tu_env e;
	tu_env_init(&e, &(struct tu_opts){ .swiotlb_mode = DMAMAP_SWIOTLB_OFF });
	assert_int_equal(dmamap_swiotlb_set_poison(e.ctx, NULL, true), -ENODEV);
	tu_env_fini(&e);
}

/* ---- quota ---------------------------------------------------------------------------------- */

static void test_quota(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev qa, qb;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "swiotlb=1024,force" }); /* 2 MiB */
	tu_dev_add(&e, &qa, "greedy", 64, true, DMAMAP_BUS_PCI);
	tu_dev_add(&e, &qb, "other", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_bounce_quota(qa.dev, 64 * KIB), 0);
	assert_int_equal(dmamap_get_bounce_quota(qa.dev), 64 * KIB);
	uint8_t *buf = tu_alloc_high(&e, 256, NULL);
	dmamap_dma_addr_t a[20], b[100];
	unsigned int ok = 0, refused = 0;
	for (unsigned int i = 0; i < 20; i++) {
		a[i] = dmamap_map_single(qa.dev, buf + i * 4096, 4096, DMAMAP_TO_DEVICE);
		if (dmamap_mapping_error(qa.dev, a[i]))
			refused++;
		else
			ok++;
	}
	assert_int_equal(ok, 16);
	assert_int_equal(refused, 4);
	assert_true(tu_log_has(&e, "bounce quota of 65536 bytes reached"));
	struct dmamap_exhaust_stats st = exstats(&e, qa.dev);
	assert_int_equal(st.quota_bytes, 64 * KIB);
	assert_int_equal(st.quota_refusals, 4);
	assert_int_equal(st.bounce_held_bytes, 64 * KIB);
	assert_int_equal(st.bounce_held_hiwater, 64 * KIB);
	assert_int_equal(st.exhausted, 4);
	assert_int_equal(st.failed_now, 4);
	/* The other device still maps: the pool is far from full. */
	for (unsigned int i = 0; i < 100; i++) {
		b[i] = dmamap_map_single(qb.dev, buf + (i % 50) * 4096, 4096, DMAMAP_TO_DEVICE);
		assert_false(dmamap_mapping_error(qb.dev, b[i]));
	}
	st = exstats(&e, qb.dev);
	assert_int_equal(st.quota_bytes, 0);
	assert_int_equal(st.quota_refusals + st.exhausted, 0);
	assert_int_equal(pool_used(&e), (16 + 100) * 4096ULL);
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e.ctx, NULL, &ss);
	assert_int_equal(ss.full_failures, 0); /* quota refusals are not a full pool */

	/* DEFER under the quota: only this device's own release serves it. */
	static struct log l;
	log_init(&l);
	struct req r = { &l, 0 };
	tu_fill(buf + 200 * 4096, 4096, 55);
	assert_int_equal(dmamap_map_single_deferred(qa.dev, buf + 200 * 4096, 4096,
						    DMAMAP_TO_DEVICE, record_cb, &r),
			 -EINPROGRESS);
	dmamap_unmap_single(qb.dev, b[99], 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(l.n, 0);
	assert_int_equal(exstats(&e, qa.dev).queued, 1);
	dmamap_unmap_single(qa.dev, a[0], 4096, DMAMAP_TO_DEVICE);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.d[0].err, 0);
	uint8_t got[4096];
	assert_int_equal(sim_dma_read(qa.sd, l.d[0].addr, got, sizeof(got)), 0);
	assert_int_equal(tu_check(got, sizeof(got), 55), -1);
	a[0] = l.d[0].addr;
	st = exstats(&e, qa.dev);
	assert_int_equal(st.quota_refusals, 5); /* the deferred one's first try; not its retries */
	assert_int_equal(st.bounce_held_bytes, 64 * KIB);
	assert_int_equal(st.served, 1);

	/* Context totals. */
	struct dmamap_exhaust_stats tot;
	assert_int_equal(dmamap_exhaust_get_stats(e.ctx, NULL, &tot), 0);
	assert_int_equal(tot.quota_refusals, 5);
	assert_int_equal(tot.bounce_held_bytes, 64 * KIB);

	for (unsigned int i = 0; i < 20; i++)
		if (!dmamap_mapping_error(qa.dev, a[i]))
			dmamap_unmap_single(qa.dev, a[i], 4096, DMAMAP_TO_DEVICE);
	for (unsigned int i = 0; i < 99; i++)
		dmamap_unmap_single(qb.dev, b[i], 4096, DMAMAP_TO_DEVICE);
	st = exstats(&e, qa.dev);
	assert_int_equal(st.bounce_held_bytes, 0);
	assert_int_equal(st.bounce_held_hiwater, 64 * KIB);
	assert_int_equal(pool_used(&e), 0);
	/* No limit: nothing is charged any more. */
	assert_int_equal(dmamap_set_bounce_quota(qa.dev, 0), 0);
	a[0] = dmamap_map_single(qa.dev, buf, 4096, DMAMAP_TO_DEVICE);
	assert_false(dmamap_mapping_error(qa.dev, a[0]));
	assert_int_equal(exstats(&e, qa.dev).bounce_held_bytes, 0);
	dmamap_unmap_single(qa.dev, a[0], 4096, DMAMAP_TO_DEVICE);
	tu_free(&e, buf, 256);
	tu_dev_remove(&qb);
	tu_dev_remove(&qa);
	tu_env_fini(&e);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_small(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	uint8_t *buf = tu_alloc_high(&e, 80, NULL);
	static struct log l;
	log_init(&l);
	struct req r = { &l, 0 };
	dmamap_dma_addr_t x;
	assert_int_equal(dmamap_map_single_deferred(d.dev, buf, 4096, DMAMAP_TO_DEVICE, NULL, &r),
			 -EINVAL);
	assert_int_equal(dmamap_map_single_deferred(d.dev, buf, 0, DMAMAP_TO_DEVICE,
						    record_cb, &r), -EINVAL);
	assert_int_equal(dmamap_map_single_deferred(d.dev, buf, 300 * KIB, DMAMAP_TO_DEVICE,
						    record_cb, &r), -EINVAL);
	assert_int_equal(dmamap_map_single_wait(d.dev, buf, 4096, DMAMAP_NONE, 1, &x), -EINVAL);
	assert_int_equal(dmamap_map_single_wait(NULL, buf, 4096, DMAMAP_TO_DEVICE, 1, &x), -EINVAL);
	assert_int_equal(dmamap_set_bounce_quota(NULL, 1), -EINVAL);
	assert_int_equal(dmamap_exhaust_get_stats(NULL, NULL, &(struct dmamap_exhaust_stats){ 0 }),
			 -EINVAL);
	assert_int_equal(l.n, 0);
	/* Mapped at once: 0, and the callback has already run. */
	assert_int_equal(dmamap_map_single_deferred(d.dev, buf, 4096, DMAMAP_TO_DEVICE,
						    record_cb, &r), 0);
	assert_int_equal(l.n, 1);
	dmamap_unmap_single(d.dev, l.d[0].addr, 4096, DMAMAP_TO_DEVICE);
	tu_free(&e, buf, 80);
	tu_dev_remove(&d);
	tu_env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_default),
		cmocka_unit_test(test_defer_1000_fifo),
		cmocka_unit_test(test_defer_callback_unmaps),
		cmocka_unit_test(test_defer_wait_threads),
		cmocka_unit_test(test_wait_timeout_exact),
		cmocka_unit_test(test_wait_served_by_release),
		cmocka_unit_test(test_remove_with_queue),
		cmocka_unit_test(test_iova_exhaustion),
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_poison_config),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
