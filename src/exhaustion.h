/*
 * src/exhaustion.h - what a map does when its resource runs out, as the
 * dispatcher and the pools see it (the contract for drivers is
 * <dmamap/exhaust.h>).
 *
 * Owns: the calls into exhaust.c (the dispatcher's failure path, serving
 * the queue after a release, device removal) and the per-call policy a
 * wait or deferred form passes down.  The reason a map failed travels only
 * as the backend's return value (backend.h): -ENOMEM and -EDQUOT are
 * exhaustion, anything else fails at once.
 */
#ifndef DM_EXHAUSTION_H
#define DM_EXHAUSTION_H

#include "context.h"

/*
 * A policy for one call, instead of the device's: the wait and deferred
 * forms pass it to the dispatcher (dm_map_call).  retry: a queued
 * request's retry, whose failure the caller handles (no policy applies).
 */
struct dm_ex_call {
	int policy;            /* enum dmamap_exhaust_policy */
	uint64_t timeout_ns;
	bool retry;
};

/*
 * This thread is retrying a queued request now: the pools do not count
 * its failures again (they were counted when it first failed), and what
 * the retry releases does not wake the queue it serves.  Not a failure
 * reason: the role of the thread while exhaust.c serves.
 */
extern _Thread_local bool dm_tls_ex_retry;
/* Requests queued in all contexts: the one word release paths read. */
extern _Atomic unsigned int dm_ex_waiting;

/* Serves the queue; never called with a library lock held. */
void dm_exhaust_kick(struct dmamap_ctx *ctx);
/* After space was released (slots, quota, IOVAs), with no lock held. */
static inline void dm_exhaust_released(struct dmamap_ctx *ctx)
{
	if (dm_unlikely(atomic_load_explicit(&dm_ex_waiting, memory_order_relaxed)))
		dm_exhaust_kick(ctx);
}

/*
 * The dispatcher's single-map failure path: err is the backend's.  On
 * exhaustion the policy (call's, else the device's) applies, and WAIT may
 * still return a mapping.  The address, or DMAMAP_MAPPING_ERROR with
 * *out_err: -ENOMEM (exhausted), -ETIMEDOUT, or err.
 */
dmamap_dma_addr_t dm_exhaust_map_failed(struct dmamap_device *dev, dmamap_phys_addr_t phys,
					size_t size, enum dmamap_data_direction dir,
					unsigned long attrs, int err, const struct dm_ex_call *call,
					int *out_err);

/*
 * The dispatcher's single map (mapping.c) with a per-call policy: the
 * same validation, backend, counters and checker as dmamap_map_phys, or
 * as dmamap_map_single_attrs when cpu is set (phys is then cpu's).  0 and
 * *dma, or a negative errno (-ENOMEM: exhausted).
 */
int dm_map_call(struct dmamap_device *dev, void *cpu, dmamap_phys_addr_t phys, size_t size,
		enum dmamap_data_direction dir, unsigned long attrs,
		const struct dm_ex_call *call, dmamap_dma_addr_t *dma);

/* At device removal: ends its DEFER requests (-ENODEV); -EBUSY, changing
 * nothing, while a thread WAITs on it. */
int dm_exhaust_device_gone(struct dmamap_device *dev);
/* At context destroy (every device is gone, so the queue is empty). */
void dm_exhaust_fini(struct dmamap_ctx *ctx);

#endif /* DM_EXHAUSTION_H */
