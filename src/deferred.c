/*
 * src/deferred.c - the library's deferred work and who runs it.
 *
 * Owns: the timer thread of DMAMAP_DEFERRED_THREAD (one per context,
 * started when work is first pending, stopped at context destroy) and
 * dmamap_run_deferred, which an embedder calls in DMAMAP_DEFERRED_MANUAL.
 * The work itself is the IOMMU flush queue's timeout (Linux's fq_timer and
 * fq_flush_timeout, drivers/iommu/dma-iommu.c), done by iommu.c; this file
 * never touches a domain.  Must never hold ctx->deferred_lock while the
 * work runs (the work may serve queued requests, which map).
 *
 * Arming: a lazy unmap that queues an IOVA calls dm_deferred_arm, one
 * relaxed load while armed.  The thread sleeps on the host's monotonic
 * clock until the next deadline the work reports, runs it, and disarms
 * when nothing is pending; an arm that races with the disarm sets the flag
 * again under the lock and wakes it.
 */
#include "deferred.h"
#include "dma-iommu.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct dm_deferred {
	pthread_t thread;
	pthread_cond_t cv;
	bool stop;
};

unsigned int dmamap_run_deferred(struct dmamap_ctx *ctx, uint64_t *next_ns)
{
	uint64_t next = UINT64_MAX;
	unsigned int n = ctx ? dm_iommu_run_deferred(ctx, &next) : 0;
	if (next_ns)
		*next_ns = next;
	return n;
}

static void dm_deadline(struct timespec *ts, uint64_t ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	uint64_t t = (uint64_t)ts->tv_nsec + ns;
	ts->tv_sec += (time_t)(t / 1000000000ULL);
	ts->tv_nsec = (long)(t % 1000000000ULL);
}

static void *dm_deferred_thread(void *arg)
{
	struct dmamap_ctx *ctx = arg;
	struct dm_deferred *w = ctx->deferred;
	pthread_mutex_lock(&ctx->deferred_lock);
	while (!w->stop) {
		if (!atomic_load(&ctx->deferred_armed)) {
			pthread_cond_wait(&w->cv, &ctx->deferred_lock);
			continue;
		}
		pthread_mutex_unlock(&ctx->deferred_lock);
		uint64_t next;
		dmamap_run_deferred(ctx, &next);
		pthread_mutex_lock(&ctx->deferred_lock);
		if (next == UINT64_MAX) {
			/* Nothing pending: disarmed until the next queued IOVA. */
			atomic_store(&ctx->deferred_armed, false);
			continue;
		}
		struct timespec ts;
		dm_deadline(&ts, next);
		while (!w->stop && pthread_cond_timedwait(&w->cv, &ctx->deferred_lock, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&ctx->deferred_lock);
	return NULL;
}

void dm_deferred_arm_slow(struct dmamap_ctx *ctx)
{
	pthread_mutex_lock(&ctx->deferred_lock);
	atomic_store(&ctx->deferred_armed, true);
	if (ctx->cfg.deferred == DMAMAP_DEFERRED_THREAD) {
		if (!ctx->deferred) {
			struct dm_deferred *w = calloc(1, sizeof(*w));
			pthread_condattr_t ca;
			pthread_condattr_init(&ca);
			pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
			if (w && !pthread_cond_init(&w->cv, &ca)) {
				ctx->deferred = w;
				if (pthread_create(&w->thread, NULL, dm_deferred_thread, ctx)) {
					pthread_cond_destroy(&w->cv);
					free(w);
					ctx->deferred = NULL;
				}
			} else {
				free(w);
			}
			pthread_condattr_destroy(&ca);
			if (!ctx->deferred)
				dm_log(ctx, DMAMAP_LOG_ERR,
				       "deferred work: cannot start the timer thread; lazy IOVAs "
				       "are flushed only by later unmaps or dmamap_run_deferred");
		}
		if (ctx->deferred)
			pthread_cond_signal(&ctx->deferred->cv);
	}
	pthread_mutex_unlock(&ctx->deferred_lock);
}

void dm_deferred_fini(struct dmamap_ctx *ctx)
{
	pthread_mutex_lock(&ctx->deferred_lock);
	struct dm_deferred *w = ctx->deferred;
	if (w) {
		w->stop = true;
		pthread_cond_signal(&w->cv);
	}
	pthread_mutex_unlock(&ctx->deferred_lock);
	if (w) {
		pthread_join(w->thread, NULL);
		pthread_cond_destroy(&w->cv);
		free(w);
		ctx->deferred = NULL;
	}
	pthread_mutex_destroy(&ctx->deferred_lock);
}
