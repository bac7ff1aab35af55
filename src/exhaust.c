/*
 * src/exhaust.c - what a map does when bounce slots, the device's bounce
 * quota or IOVA space run out (see dmamap/exhaust.h for the contract).
 *
 * Owns: the per-device policy (fail, defer, wait), the context's FIFO of
 * deferred and waiting requests and the serving of it, device removal
 * with requests queued, the per-call forms, the quota setter and the
 * counters.  Never finds slots or IOVAs itself: a request is served by
 * mapping it again through the dispatcher (DEFER: dmamap_map_phys, so a
 * served mapping is counted and seen like any other) or through the
 * device's backend (WAIT: the waiting thread's own dispatcher call counts
 * it when it returns).
 *
 * How exhaustion is known: the backend's return value (backend.h):
 * -ENOMEM (no slot, no IOVA) or -EDQUOT (the device's bounce quota); the
 * dispatcher hands it to dm_exhaust_map_failed.  Nothing here runs while
 * a map succeeds.
 *
 * Serving: every release of slots, quota bytes or IOVAs calls
 * dm_exhaust_released (one relaxed load of dm_ex_waiting, the number of
 * requests queued in all contexts, while nothing is queued; a request
 * queued in another context only costs a look at an empty queue).  With
 * requests queued, the releasing thread becomes the server, unless one is
 * already serving, which then makes another pass.  A pass tries entries
 * from the head; an entry that still finds no space marks its resource
 * (its pool and IOMMU domain, or its device's quota) failed for the pass,
 * and later entries on a failed resource are skipped without a try, so
 * each resource is served strictly in order.  After each served entry the
 * pass restarts from the head (entries may have gone meanwhile: nothing is
 * held across an unlock but the one entry in flight).
 *
 * No lost wakeup: a request is appended (and dm_ex_waiting raised) before the
 * queue is served once more, and that serving retries under the same area
 * locks (swiotlb), magazine locks (IOVA) or atomic (quota) the releasing
 * thread went through before it read dm_ex_waiting; so either the retry sees
 * the released space, or the release sees dm_ex_waiting != 0 and serves.
 *
 * Locks: one mutex per queue; callbacks, retries and waits never hold it
 * (waits use its condition variable).  Releases made by the server's own
 * retry (a failed IOMMU map giving its bounce slot back) are ignored: they
 * return only what the retry took.
 */
#include "backend.h"
#include "dma-iommu.h"
#include "exhaustion.h"

#include <dmamap/exhaust.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

_Thread_local bool dm_tls_ex_retry;
_Atomic unsigned int dm_ex_waiting;

/* The queue this thread is serving now (retries and callbacks run inside). */
static _Thread_local struct dm_exq *dm_tls_ex_server;

enum dm_ex_kind { DM_EXK_DEFER, DM_EXK_WAIT };

struct dm_ex_req {
	struct dm_ex_req *prev, *next;
	struct dmamap_device *dev;
	void *cpu;                 /* DEFER made with the single form, else NULL */
	dmamap_phys_addr_t phys;
	size_t size;
	enum dmamap_data_direction dir;
	unsigned long attrs;
	enum dm_ex_kind kind;
	dmamap_map_callback_t cb;  /* DEFER */
	void *arg;
	/* WAIT, under the queue's lock: done, and then err / addr. */
	bool done;
	int err;
	dmamap_dma_addr_t addr;
};

struct dm_exq {
	pthread_mutex_t lock;
	pthread_cond_t cv;             /* a request done, an entry no longer in flight */
	struct dmamap_ctx *ctx;
	struct dm_ex_req head;         /* sentinel of the FIFO */
	bool serving;                  /* a thread is serving */
	bool again;                    /* space was released during the pass */
	struct dm_ex_req *inflight;    /* the entry being retried, lock dropped */
	struct dmamap_device *cb_dev;  /* device whose callback runs now */
};

#define DM_EX_MAX_FAILED 32 /* resources a pass can skip; past that it ends */

struct dm_ex_key {
	const void *a, *b;
};

/* ---- the queue ------------------------------------------------------------ */

static struct dm_exq *dm_exq_get(struct dmamap_ctx *ctx)
{
	struct dm_exq *q = atomic_load_explicit(&ctx->exq, memory_order_acquire);
	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&q->lock, NULL);
	q->ctx = ctx;
	q->head.next = q->head.prev = &q->head;
	struct dm_exq *expected = NULL;
	if (!atomic_compare_exchange_strong(&ctx->exq, &expected, q)) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->lock);
		free(q);
		return expected;
	}
	return q;
}

void dm_exhaust_fini(struct dmamap_ctx *ctx)
{
	struct dm_exq *q = atomic_load(&ctx->exq);
	if (!q)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->lock);
	free(q);
	atomic_store(&ctx->exq, NULL);
}

static inline void dm_ex_cnt(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Lock held. */
static void dm_ex_append(struct dm_exq *q, struct dm_ex_req *e)
{
	e->next = &q->head;
	e->prev = q->head.prev;
	q->head.prev->next = e;
	q->head.prev = e;
	atomic_fetch_add(&e->dev->ex.queued, 1);
	atomic_fetch_add(&q->ctx->ex_nwait, 1);
	/* seq_cst: before the retry that follows, see the header comment. */
	atomic_fetch_add(&dm_ex_waiting, 1);
}

/* Lock held. */
static void dm_ex_unlink(struct dm_exq *q, struct dm_ex_req *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = NULL;
	atomic_fetch_sub(&e->dev->ex.queued, 1);
	atomic_fetch_sub(&q->ctx->ex_nwait, 1);
	atomic_fetch_sub(&dm_ex_waiting, 1);
}

/* The resource a failed retry of e was short of (err: -EDQUOT or -ENOMEM). */
static struct dm_ex_key dm_ex_key(const struct dmamap_device *dev, int err)
{
	if (err == -EDQUOT)
		return (struct dm_ex_key){ dev, NULL };
	return (struct dm_ex_key){ dev->swiotlb, dm_iommu_space(dev) };
}

static bool dm_ex_blocked(const struct dm_ex_key *failed, unsigned int nf,
			  const struct dmamap_device *dev)
{
	struct dm_ex_key q = dm_ex_key(dev, -EDQUOT), s = dm_ex_key(dev, -ENOMEM);
	for (unsigned int i = 0; i < nf; i++)
		if ((failed[i].a == q.a && failed[i].b == q.b) ||
		    (failed[i].a == s.a && failed[i].b == s.b))
			return true;
	return false;
}

/* map_failures is per CPU and this thread's slot counted it: take it back. */
static void dm_ex_uncount_failure(struct dmamap_device *dev)
{
	dm_stat_add(&dm_dev_stats(dev)->map_failures, UINT64_MAX);
}

/*
 * One retry of a queued request, lock dropped.  *why: its exhaustion
 * error (-ENOMEM, -EDQUOT) when it is still exhausted (it stays queued),
 * else 0.
 */
static dmamap_dma_addr_t dm_ex_attempt(struct dm_ex_req *e, int *why)
{
	struct dmamap_device *dev = e->dev;
	unsigned long attrs = e->attrs | DMAMAP_ATTR_NO_WARN;
	dmamap_dma_addr_t a = DMAMAP_MAPPING_ERROR;
	int err;
	dm_tls_ex_retry = true;
	if (e->kind == DM_EXK_DEFER) {
		/* The dispatcher, as the driver's call, so the checker sees the same call. */
		static const struct dm_ex_call retry = { .retry = true };
		err = dm_map_call(dev, e->cpu, e->phys, e->size, e->dir, attrs, &retry, &a);
	} else {
		/* A WAIT: the waiting thread's own dispatcher call counts it. */
		err = dm_backend_map_phys(dev, e->phys, e->size, e->dir, attrs, &a);
	}
	dm_tls_ex_retry = false;
	*why = dm_err_exhausted(err) ? err : 0;
	/* Still queued: the dispatcher's failure count is not a failure. */
	if (*why && e->kind == DM_EXK_DEFER)
		dm_ex_uncount_failure(dev);
	return err ? DMAMAP_MAPPING_ERROR : a;
}

/* Lock held, q->serving ours.  Returns with the lock held. */
static void dm_ex_serve(struct dm_exq *q)
{
	do {
		q->again = false;
		struct dm_ex_key failed[DM_EX_MAX_FAILED];
		unsigned int nf = 0;
		for (;;) {
			struct dm_ex_req *e = q->head.next;
			while (e != &q->head && dm_ex_blocked(failed, nf, e->dev))
				e = e->next;
			if (e == &q->head)
				break;
			q->inflight = e;
			pthread_mutex_unlock(&q->lock);
			int why;
			dmamap_dma_addr_t a = dm_ex_attempt(e, &why);
			pthread_mutex_lock(&q->lock);
			q->inflight = NULL;
			pthread_cond_broadcast(&q->cv); /* a removal may wait for it */
			if (why) {
				failed[nf++] = dm_ex_key(e->dev, why);
				if (nf == DM_EX_MAX_FAILED)
					break;
				continue;
			}
			struct dmamap_device *dev = e->dev;
			int err = a == DMAMAP_MAPPING_ERROR ? -EIO : 0;
			dm_ex_cnt(err ? &dev->ex.errors : &dev->ex.served);
			dm_ex_unlink(q, e);
			if (e->kind == DM_EXK_WAIT) {
				e->addr = a;
				e->err = err;
				e->done = true;
				continue; /* the broadcast above wakes it */
			}
			q->cb_dev = dev;
			pthread_mutex_unlock(&q->lock);
			e->cb(e->arg, a, err);
			free(e);
			pthread_mutex_lock(&q->lock);
			q->cb_dev = NULL;
			pthread_cond_broadcast(&q->cv);
		}
	} while (q->again);
}

void dm_exhaust_kick(struct dmamap_ctx *ctx)
{
	struct dm_exq *q = atomic_load_explicit(&ctx->exq, memory_order_acquire);
	if (!q)
		return;
	/* What our own retry gives back is what it took: nothing new. */
	if (dm_tls_ex_server == q && dm_tls_ex_retry)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->serving) {
		q->again = true;
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->serving = true;
	/* Callbacks may map and unmap: this thread's dispatcher state is saved. */
	struct dm_exq *prev_server = dm_tls_ex_server;
	bool retry = dm_tls_ex_retry;
	dm_tls_ex_server = q;
	dm_tls_ex_retry = false;
	dm_ex_serve(q);
	q->serving = false;
	pthread_mutex_unlock(&q->lock);
	dm_tls_ex_server = prev_server;
	dm_tls_ex_retry = retry;
}

/* ---- waiting ------------------------------------------------------------------ */

static uint64_t dm_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Queues a WAIT request and sleeps until it is served, or the timeout. */
static dmamap_dma_addr_t dm_ex_wait(struct dmamap_device *dev, dmamap_phys_addr_t phys,
				    size_t size, enum dmamap_data_direction dir,
				    unsigned long attrs, uint64_t timeout_ns, int *err)
{
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_exq *q = dm_exq_get(ctx);
	if (!q) {
		*err = -ENOMEM;
		return DMAMAP_MAPPING_ERROR;
	}
	uint64_t now = dm_mono_ns();
	bool forever = timeout_ns == DMAMAP_WAIT_FOREVER || timeout_ns > UINT64_MAX - now;
	uint64_t deadline = forever ? 0 : now + timeout_ns;
	struct timespec ts = { (time_t)(deadline / 1000000000ULL), (long)(deadline % 1000000000ULL) };
	struct dm_ex_req e = { .dev = dev, .phys = phys, .size = size, .dir = dir,
			       .attrs = attrs, .kind = DM_EXK_WAIT };
	pthread_mutex_lock(&q->lock);
	dm_ex_append(q, &e);
	dm_ex_cnt(&dev->ex.waited);
	pthread_mutex_unlock(&q->lock);
	/* Space may have freed since the failed try: serve once ourselves. */
	dm_exhaust_kick(ctx);
	bool left_head = false;
	pthread_mutex_lock(&q->lock);
	while (!e.done) {
		if (q->inflight == &e) {
			pthread_cond_wait(&q->cv, &q->lock);
			continue;
		}
		if (!forever && dm_mono_ns() >= deadline) {
			left_head = q->head.next == &e;
			dm_ex_unlink(q, &e);
			dm_ex_cnt(&dev->ex.timeouts);
			e.err = -ETIMEDOUT;
			e.addr = DMAMAP_MAPPING_ERROR;
			break;
		}
		if (forever)
			pthread_cond_wait(&q->cv, &q->lock);
		else
			pthread_cond_timedwait(&q->cv, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	/* A head that gave up may have held back smaller requests behind it. */
	if (left_head)
		dm_exhaust_released(ctx);
	*err = e.err;
	return e.addr;
}

/* ---- the dispatcher's failure path ------------------------------------------------ */

dmamap_dma_addr_t dm_exhaust_map_failed(struct dmamap_device *dev, dmamap_phys_addr_t phys,
					size_t size, enum dmamap_data_direction dir,
					unsigned long attrs, int err, const struct dm_ex_call *c,
					int *out_err)
{
	/* Not exhaustion: the device cannot use the memory (exhaust.h's -EIO). */
	*out_err = dm_err_exhausted(err) ? -ENOMEM : -EIO;
	/* A queued request's retry: the server decides. */
	if (c && c->retry) {
		*out_err = err;
		return DMAMAP_MAPPING_ERROR;
	}
	if (!dm_err_exhausted(err))
		return DMAMAP_MAPPING_ERROR;
	dm_ex_cnt(&dev->ex.exhausted);
	int policy = c ? c->policy : dev->ex.policy;
	uint64_t timeout = c ? c->timeout_ns : dev->ex.timeout_ns;
	if (policy == DMAMAP_EXHAUST_DEFER && c)
		return DMAMAP_MAPPING_ERROR; /* the caller queues it */
	/* A WAIT inside a callback would wait for the queue it is serving. */
	if (policy != DMAMAP_EXHAUST_WAIT || timeout == 0 || dm_tls_ex_server) {
		dm_ex_cnt(&dev->ex.failed_now);
		return DMAMAP_MAPPING_ERROR;
	}
	return dm_ex_wait(dev, phys, size, dir, attrs, timeout, out_err);
}

/* ---- the driver API ------------------------------------------------------------------ */

int dmamap_set_exhaust_policy(struct dmamap_device *dev, enum dmamap_exhaust_policy policy,
			      uint64_t timeout_ns)
{
	if (!dev || (policy != DMAMAP_EXHAUST_FAIL && policy != DMAMAP_EXHAUST_DEFER &&
		     policy != DMAMAP_EXHAUST_WAIT))
		return -EINVAL;
	dev->ex.policy = (int)policy;
	dev->ex.timeout_ns = timeout_ns;
	return 0;
}

enum dmamap_exhaust_policy dmamap_get_exhaust_policy(struct dmamap_device *dev,
						     uint64_t *timeout_ns)
{
	if (timeout_ns)
		*timeout_ns = dev ? dev->ex.timeout_ns : 0;
	return dev ? (enum dmamap_exhaust_policy)dev->ex.policy : DMAMAP_EXHAUST_FAIL;
}

static bool dm_ex_args_ok(struct dmamap_device *dev, size_t size,
			  enum dmamap_data_direction dir, const char *fn)
{
	if (!dev)
		return false;
	if ((unsigned int)dir > DMAMAP_FROM_DEVICE || size == 0) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: %s of %zu bytes with direction %d",
		       dev->name, fn, size, (int)dir);
		return false;
	}
	if (size > dmamap_max_mapping_size(dev)) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: %s of %zu bytes exceeds the maximum %zu",
		       dev->name, fn, size, dmamap_max_mapping_size(dev));
		return false;
	}
	return true;
}

/* The CPU pointer's phys for the single forms; false (logged) when not RAM. */
static bool dm_ex_virt(struct dmamap_device *dev, void *cpu, dmamap_phys_addr_t *phys,
		       const char *fn)
{
	if (!dm_virt_to_phys(dev->ctx, cpu, phys))
		return true;
	dm_log(dev->ctx, DMAMAP_LOG_ERR, "%s: %s of %p: not in RAM's linear map", dev->name,
	       fn, cpu);
	return false;
}

/* The deferred forms; cpu NULL: the phys form, else phys is found from cpu. */
static int dm_ex_defer(struct dmamap_device *dev, void *cpu, dmamap_phys_addr_t phys,
		       size_t size, enum dmamap_data_direction dir, unsigned long attrs,
		       dmamap_map_callback_t cb, void *arg)
{
	if (!dev || (cpu && !dm_ex_virt(dev, cpu, &phys, "map_single_deferred")))
		return -EINVAL;
	if (!cb || !dm_ex_args_ok(dev, size, dir, "map_deferred"))
		return -EINVAL;
	struct dmamap_ctx *ctx = dev->ctx;
	/* Nobody queued: try now.  Otherwise go behind them (FIFO). */
	if (!atomic_load(&ctx->ex_nwait)) {
		static const struct dm_ex_call c = { .policy = DMAMAP_EXHAUST_DEFER };
		dmamap_dma_addr_t a;
		int err = dm_map_call(dev, cpu, phys, size, dir, attrs, &c, &a);
		if (!err) {
			cb(arg, a, 0);
			return 0;
		}
		if (err != -ENOMEM)
			return err;
		dm_ex_uncount_failure(dev); /* deferred, not failed */
	}
	struct dm_exq *q = dm_exq_get(ctx);
	struct dm_ex_req *e = q ? calloc(1, sizeof(*e)) : NULL;
	if (!e) {
		dm_stat_add(&dm_dev_stats(dev)->map_failures, 1);
		return -ENOMEM;
	}
	*e = (struct dm_ex_req){ .dev = dev, .cpu = cpu, .phys = phys, .size = size,
				 .dir = dir, .attrs = attrs, .kind = DM_EXK_DEFER, .cb = cb,
				 .arg = arg };
	pthread_mutex_lock(&q->lock);
	dm_ex_append(q, e);
	dm_ex_cnt(&dev->ex.deferred);
	pthread_mutex_unlock(&q->lock);
	/* Space may have freed since the failed try (or this is first in line). */
	dm_exhaust_kick(ctx);
	return -EINPROGRESS;
}

int dmamap_map_phys_deferred(struct dmamap_device *dev, dmamap_phys_addr_t phys,
			     size_t size, enum dmamap_data_direction dir,
			     unsigned long attrs, dmamap_map_callback_t cb, void *arg)
{
	return dm_ex_defer(dev, NULL, phys, size, dir, attrs, cb, arg);
}

int dmamap_map_single_deferred_attrs(struct dmamap_device *dev, void *cpu, size_t size,
				     enum dmamap_data_direction dir, unsigned long attrs,
				     dmamap_map_callback_t cb, void *arg)
{
	if (!cpu)
		return -EINVAL;
	return dm_ex_defer(dev, cpu, 0, size, dir, attrs, cb, arg);
}

/* The wait forms; cpu NULL: the phys form, else phys is found from cpu. */
static int dm_ex_wait_call(struct dmamap_device *dev, void *cpu, dmamap_phys_addr_t phys,
			   size_t size, enum dmamap_data_direction dir, unsigned long attrs,
			   uint64_t timeout_ns, dmamap_dma_addr_t *out)
{
	if (!dev || (cpu && !dm_ex_virt(dev, cpu, &phys, "map_single_wait")))
		return -EINVAL;
	if (!out || !dm_ex_args_ok(dev, size, dir, "map_wait"))
		return -EINVAL;
	*out = DMAMAP_MAPPING_ERROR;
	const struct dm_ex_call c = { .policy = timeout_ns ? DMAMAP_EXHAUST_WAIT
							  : DMAMAP_EXHAUST_FAIL,
				      .timeout_ns = timeout_ns };
	return dm_map_call(dev, cpu, phys, size, dir, attrs, &c, out);
}

int dmamap_map_phys_wait(struct dmamap_device *dev, dmamap_phys_addr_t phys, size_t size,
			 enum dmamap_data_direction dir, unsigned long attrs,
			 uint64_t timeout_ns, dmamap_dma_addr_t *out)
{
	return dm_ex_wait_call(dev, NULL, phys, size, dir, attrs, timeout_ns, out);
}

int dmamap_map_single_wait_attrs(struct dmamap_device *dev, void *cpu, size_t size,
				 enum dmamap_data_direction dir, unsigned long attrs,
				 uint64_t timeout_ns, dmamap_dma_addr_t *out)
{
	if (!cpu)
		return -EINVAL;
	return dm_ex_wait_call(dev, cpu, 0, size, dir, attrs, timeout_ns, out);
}

int dmamap_set_bounce_quota(struct dmamap_device *dev, uint64_t bytes)
{
	if (!dev)
		return -EINVAL;
	dev->ex.bq_limit = bytes;
	/* A raised (or removed) limit may let queued requests through. */
	dm_exhaust_released(dev->ctx);
	return 0;
}

uint64_t dmamap_get_bounce_quota(struct dmamap_device *dev)
{
	return dev ? dev->ex.bq_limit : 0;
}

/* ---- removal, statistics --------------------------------------------------------------- */

int dm_exhaust_device_gone(struct dmamap_device *dev)
{
	struct dmamap_ctx *ctx = dev->ctx;
	struct dm_exq *q = atomic_load_explicit(&ctx->exq, memory_order_acquire);
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		for (struct dm_ex_req *e = q->head.next; e != &q->head; e = e->next) {
			if (e->dev == dev && e->kind == DM_EXK_WAIT) {
				pthread_mutex_unlock(&q->lock);
				dm_log(ctx, DMAMAP_LOG_ERR,
				       "%s: removal refused: a thread is waiting for a mapping on it",
				       dev->name);
				return -EBUSY;
			}
		}
		/* Let a retry or callback on it finish (unless it is ours: a callback). */
		if ((q->inflight && q->inflight->dev == dev) ||
		    (q->cb_dev == dev && dm_tls_ex_server != q)) {
			pthread_cond_wait(&q->cv, &q->lock);
			continue;
		}
		break;
	}
	struct dm_ex_req gone = { .next = &gone, .prev = &gone };
	unsigned int n = 0;
	bool was_head = q->head.next != &q->head && q->head.next->dev == dev;
	for (struct dm_ex_req *e = q->head.next, *next; e != &q->head; e = next) {
		next = e->next;
		if (e->dev != dev)
			continue;
		dm_ex_unlink(q, e);
		e->prev = gone.prev;
		e->next = &gone;
		gone.prev->next = e;
		gone.prev = e;
		n++;
	}
	pthread_mutex_unlock(&q->lock);
	if (n)
		dm_log(ctx, DMAMAP_LOG_WARN,
		       "%s: removed with %u deferred mappings queued: their callbacks get ENODEV",
		       dev->name, n);
	for (struct dm_ex_req *e = gone.next, *next; e != &gone; e = next) {
		next = e->next;
		dm_ex_cnt(&dev->ex.cancelled);
		e->cb(e->arg, DMAMAP_MAPPING_ERROR, -ENODEV);
		free(e);
	}
	/* Requests held back behind the removed head may fit now. */
	if (was_head)
		dm_exhaust_released(ctx);
	return 0;
}

static void dm_ex_add_stats(struct dmamap_device *dev, struct dmamap_exhaust_stats *st)
{
#define DM_EX_LD(f) atomic_load_explicit(&dev->ex.f, memory_order_relaxed)
	st->exhausted += DM_EX_LD(exhausted);
	st->failed_now += DM_EX_LD(failed_now);
	st->deferred += DM_EX_LD(deferred);
	st->waited += DM_EX_LD(waited);
	st->served += DM_EX_LD(served);
	st->timeouts += DM_EX_LD(timeouts);
	st->cancelled += DM_EX_LD(cancelled);
	st->errors += DM_EX_LD(errors);
	st->queued += DM_EX_LD(queued);
	st->quota_refusals += DM_EX_LD(bq_refusals);
#undef DM_EX_LD
}

int dmamap_exhaust_get_stats(struct dmamap_ctx *ctx, struct dmamap_device *dev,
			     struct dmamap_exhaust_stats *st)
{
	if (!st || (!ctx && !dev))
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	if (dev) {
		dm_ex_add_stats(dev, st);
		st->quota_bytes = dev->ex.bq_limit;
		st->bounce_held_bytes = atomic_load(&dev->ex.bq_held);
		st->bounce_held_hiwater = atomic_load(&dev->ex.bq_hiwater);
		return 0;
	}
	pthread_mutex_lock(&ctx->lock);
	for (unsigned int i = 0; i < ctx->ndevices; i++) {
		dm_ex_add_stats(ctx->devices[i], st);
		st->bounce_held_bytes += atomic_load(&ctx->devices[i]->ex.bq_held);
	}
	pthread_mutex_unlock(&ctx->lock);
	return 0;
}
