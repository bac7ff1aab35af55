/*
 * tools/workloads.h - the built-in drivers a scenario's workloads run.
 *
 * Owns: the drivers (nic, blk, gpu, adversarial, xen-backend).  Each is
 * written against the public driver API only (dmamap/dma.h, and for the
 * Xen backend dmamap/xen.h's grant mapping) and plays its device's side
 * through the simulator's DMA engine, checking every byte end to end.
 * Must never decide DMA policy nor look inside the library: what a driver
 * learns about a mapping it learns from the bus address it was given.
 */
#ifndef DMAMAP_TOOLS_WORKLOADS_H
#define DMAMAP_TOOLS_WORKLOADS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include "report.h"
#include "scenario.h"
#include <dmamap/sim/sim.h>
#include "wlenv.h"

/* Defaults when a workload leaves count or size out. */
#define WL_NIC_COUNT 10000
#define WL_NIC_SIZE 1514
#define WL_BLK_COUNT 1000
#define WL_BLK_SIZE (64u << 10)
#define WL_GPU_COUNT 4
#define WL_GPU_SIZE (16u << 20)
#define WL_ADV_COUNT 16
#define WL_ADV_SIZE 256
#define WL_XEN_COUNT 64
#define WL_XEN_SIZE 4096
/* Pages (grants) in one xen-backend request, at most. */
#define WL_XEN_MAX_PAGES 256

/*
 * Runs one workload.  0: it ran (failures are in the counters and
 * `problem`); -ENOMEM: the machine had no memory for its buffers
 * (`problem` says so); -ERANGE: buffers low/high asked for memory the
 * machine does not have.
 */
int wl_run(const struct scn_workload *w, struct wl_env *e);

/* Records that a buffer of len bytes was mapped at phys (bounced: a slot). */
void wl_mark(struct rpt_device *d, uint64_t phys, uint64_t len, bool bounced);

#endif
