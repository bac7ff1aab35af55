/*
 * src/deferred.h - deferred work: the flush-queue timer.
 *
 * Owns: arming the context's deferred work and stopping it.  The work
 * itself is the IOMMU's (dm_iommu_run_deferred, dma-iommu.h); this never
 * flushes anything.
 */
#ifndef DM_DEFERRED_H
#define DM_DEFERRED_H

#include "context.h"

/*
 * Deferred work (deferred.c).  dm_deferred_arm: work is pending (a lazy
 * domain queued an IOVA); cheap when already armed.  dm_deferred_fini:
 * stops the thread (ctx destroy).  dm_iommu_run_deferred (iommu.c):
 * flushes the due domains, returns how many; *next_ns as
 * dmamap_run_deferred's.
 */
void dm_deferred_arm_slow(struct dmamap_ctx *ctx);
static inline void dm_deferred_arm(struct dmamap_ctx *ctx)
{
	if (dm_unlikely(!atomic_load_explicit(&ctx->deferred_armed, memory_order_relaxed)))
		dm_deferred_arm_slow(ctx);
}
void dm_deferred_fini(struct dmamap_ctx *ctx);
unsigned int dm_iommu_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns);

#endif /* DM_DEFERRED_H */
