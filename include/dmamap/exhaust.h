/*
 * dmamap/exhaust.h - what happens when bounce slots or IOVA space run out,
 * bounce-slot poisoning, and per-device bounce quotas.
 *
 * Owns: the exhaustion policies (fail, defer, wait), their per-call forms,
 * the quota and poisoning controls and their counters.  Drivers include it
 * beside dma.h.  Return rules are dma.h's (negative errno, nothing printed).
 *
 * "Exhausted" means: no bounce slot free (swiotlb, any pool), no IOVA free
 * in the device's IOMMU window, or the device's bounce quota reached.  Any
 * other failure (unreachable memory, no pool, too large) is never deferred
 * or waited on: it fails at once.
 *
 * Policies (per device: dmamap_set_exhaust_policy; per call: the forms
 * below):
 *   FAIL   Linux's behaviour and the default: the map fails at once (the
 *          rate-limited "swiotlb buffer is full" message, unless NO_WARN).
 *   DEFER  FreeBSD bus_dma's BUS_DMA_WAITOK: the request is queued and its
 *          callback runs when space frees.  Only calls that carry a
 *          callback can defer: plain dmamap_map_* calls on a DEFER device
 *          fail at once.
 *   WAIT   the caller blocks until space frees or the timeout passes.
 *
 * The queue: one FIFO per context holds every DEFER and WAIT request.
 * Whenever a bounce slot, a device's quota or an IOVA range is released
 * and the queue is not empty, the releasing thread serves it, after it
 * has dropped every library lock: requests are tried from the head; a
 * request that still finds no space blocks the requests behind it that
 * need the same resource (the same bounce pool and IOMMU domain, or the
 * same device's quota), so requests for one resource are served strictly
 * in the order they were made, and none is ever dropped.  A request that
 * is queued while others are waiting goes behind them even if space is
 * free.  Calls with the FAIL policy never look at the queue (the fast path
 * is unchanged), so they may take space a queued request is waiting for.
 * Only streaming single mappings (single, page, phys) take part; map_sg,
 * coherent allocations and DMA pools always fail at once.  IOVAs: with
 * lazy invalidation (iommu.strict=0) an unmapped IOVA is free only after
 * the flush queue's next flush (at a later unmap: 256 queued or 10 ms), so
 * queued requests are served then; strict mode frees it at the unmap.
 *
 * Callbacks run on the thread that released the space (inside its unmap
 * call) or, for a request mapped at once, inside the deferring call.  They
 * may call the library (map, unmap, map again deferred); a WAIT started
 * from inside a callback fails at once (the callback is serving the queue
 * that would have to wake it).
 *
 * Device removal: queued DEFER requests of the device are ended, in order,
 * with callback(arg, DMAMAP_MAPPING_ERROR, -ENODEV) before
 * dmamap_device_remove returns; a thread blocked in a WAIT on the device
 * makes dmamap_device_remove fail with -EBUSY and change nothing (stop
 * that thread first, as for any call still running on the device).
 */
#ifndef DMAMAP_EXHAUST_H
#define DMAMAP_EXHAUST_H

#include <dmamap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

struct dmamap_swiotlb;

/* The byte released bounce slots are filled with (Linux's POISON_FREE). */
#define DMAMAP_SWIOTLB_POISON 0x6b

enum dmamap_exhaust_policy {
	DMAMAP_EXHAUST_FAIL = 0,  /* fail at once (Linux) */
	DMAMAP_EXHAUST_DEFER = 1, /* queue; callback when space frees (FreeBSD) */
	DMAMAP_EXHAUST_WAIT = 2,  /* block up to a timeout */
};

/* A timeout that never expires. */
#define DMAMAP_WAIT_FOREVER UINT64_MAX

/*
 * A deferred request's completion: error 0 and the bus address, or a
 * negative errno and DMAMAP_MAPPING_ERROR (-ENODEV: the device was
 * removed; -EIO: the retry failed for a reason other than space).  Runs
 * exactly once per request that was accepted (0 or -EINPROGRESS).
 */
typedef void (*dmamap_map_callback_t)(void *arg, dmamap_dma_addr_t addr, int error);

/*
 * The device's default policy, used by plain dmamap_map_single/page/phys
 * calls.  timeout_ns bounds WAIT (DMAMAP_WAIT_FOREVER: no bound; 0: do
 * not wait, which is FAIL).  With WAIT, a plain map that times out returns
 * DMAMAP_MAPPING_ERROR.  0 or -EINVAL.
 */
int dmamap_set_exhaust_policy(struct dmamap_device *dev,
			      enum dmamap_exhaust_policy policy,
			      uint64_t timeout_ns);
enum dmamap_exhaust_policy dmamap_get_exhaust_policy(struct dmamap_device *dev,
						     uint64_t *timeout_ns);

/*
 * Per call, DEFER whatever the device's policy: map now if space is free
 * and nobody is queued (the callback has then already run, inside this
 * call, and 0 is returned), else queue the request and return
 * -EINPROGRESS (the callback runs later; it may also already have run
 * when space freed meanwhile).  Other errors (callback not run):
 * -EINVAL (bad arguments, larger than dmamap_max_mapping_size), -EIO (the
 * device cannot use the memory), -ENOMEM (no memory for the queue entry).
 * The mapping is an ordinary one: unmap it with dmamap_unmap_*.
 */
int dmamap_map_phys_deferred(struct dmamap_device *dev, dmamap_phys_addr_t phys,
			     size_t size, enum dmamap_data_direction dir,
			     unsigned long attrs, dmamap_map_callback_t cb, void *arg);
int dmamap_map_single_deferred_attrs(struct dmamap_device *dev, void *cpu,
				     size_t size, enum dmamap_data_direction dir,
				     unsigned long attrs, dmamap_map_callback_t cb,
				     void *arg);
#define dmamap_map_single_deferred(d, p, s, r, cb, arg) \
	dmamap_map_single_deferred_attrs(d, p, s, r, 0, cb, arg)

/*
 * Per call, WAIT (timeout_ns > 0) or FAIL (timeout_ns == 0) whatever the
 * device's policy.  0 and *out set; -ETIMEDOUT (the timeout passed with
 * no space); -ENOMEM (exhausted and timeout_ns == 0); -EINVAL, -EIO as
 * above.
 */
int dmamap_map_phys_wait(struct dmamap_device *dev, dmamap_phys_addr_t phys,
			 size_t size, enum dmamap_data_direction dir,
			 unsigned long attrs, uint64_t timeout_ns,
			 dmamap_dma_addr_t *out);
int dmamap_map_single_wait_attrs(struct dmamap_device *dev, void *cpu, size_t size,
				 enum dmamap_data_direction dir, unsigned long attrs,
				 uint64_t timeout_ns, dmamap_dma_addr_t *out);
#define dmamap_map_single_wait(d, p, s, r, t, out) \
	dmamap_map_single_wait_attrs(d, p, s, r, 0, t, out)

/*
 * Bounce quota: the most bounce-pool bytes (whole 2 KiB slots, padding
 * included) the device's live streaming mappings may hold; 0 removes the
 * limit.  A map past it counts as exhausted (its policy applies: FAIL
 * fails, DEFER and WAIT are served when this device releases bounce
 * space), so one device cannot starve the others.  Only mappings made
 * while a quota is set are counted in bounce_held_bytes.  0 or -EINVAL.
 */
int dmamap_set_bounce_quota(struct dmamap_device *dev, uint64_t bytes);
uint64_t dmamap_get_bounce_quota(struct dmamap_device *dev);

/*
 * Poisoning of the default pool (pool NULL) or a restricted pool: on, a
 * released slot (unmap, or a restricted pool's coherent free) is filled
 * with DMAMAP_SWIOTLB_POISON, and written back to memory for a
 * non-coherent device, before anyone else can get it.  Returns the
 * previous setting (0 or 1) or -ENODEV (no such pool).
 */
int dmamap_swiotlb_set_poison(struct dmamap_ctx *ctx, struct dmamap_swiotlb *pool,
			      bool on);

struct dmamap_exhaust_stats {
	uint64_t exhausted;      /* map calls that found no space (retries of queued
				  * requests are not counted again) */
	uint64_t failed_now;     /* of those, failed at once (FAIL, or no callback) */
	uint64_t deferred;       /* DEFER requests queued */
	uint64_t waited;         /* WAIT requests queued */
	uint64_t served;         /* queued requests mapped later */
	uint64_t timeouts;       /* WAIT requests that gave up: -ETIMEDOUT */
	uint64_t cancelled;      /* DEFER requests ended by device removal */
	uint64_t errors;         /* queued requests whose retry failed otherwise */
	uint64_t queued;         /* in the queue now */
	/* The bounce quota (zero for the context's totals). */
	uint64_t quota_bytes;    /* 0: none */
	uint64_t bounce_held_bytes;
	uint64_t bounce_held_hiwater;
	uint64_t quota_refusals; /* maps refused by the quota (first attempts) */
};
/*
 * One device's counters, or (dev NULL) the sums over the context's
 * present devices.  0 or -EINVAL.
 */
int dmamap_exhaust_get_stats(struct dmamap_ctx *ctx, struct dmamap_device *dev,
			     struct dmamap_exhaust_stats *st);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_EXHAUST_H */
