/*
 * tools/workloads.h - the built-in drivers a scenario's workloads run.
 *
 * Owns: the drivers (nic, blk, gpu, adversarial).  Each is written against
 * the public driver API only (dmamap/dma.h) and plays its device's side
 * through the simulator's DMA engine, checking every byte end to end.
 * Must never decide DMA policy nor look inside the library: what a driver
 * learns about a mapping it learns from the bus address it was given.
 */
#ifndef DMAMAP_TOOLS_WORKLOADS_H
#define DMAMAP_TOOLS_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include "report.h"
#include "scenario.h"
#include "sim.h"

/* Defaults when a workload leaves count or size out. */
#define WL_NIC_COUNT 10000
#define WL_NIC_SIZE 1514
#define WL_BLK_COUNT 1000
#define WL_BLK_SIZE (64u << 10)
#define WL_GPU_COUNT 4
#define WL_GPU_SIZE (16u << 20)
#define WL_ADV_COUNT 16
#define WL_ADV_SIZE 256

struct wl_env {
	struct sim_machine *m;
	struct sim_device *sd;
	struct dmamap_device *dev;
	/* The device's interconnect windows (bus -> CPU physical); 0: identity. */
	const struct dmamap_dma_range *ranges;
	unsigned int nranges;
	/* Behind an IOMMU: bus addresses are IOVAs of this domain (0: none),
	 * except a bypass window from this offset (0: none). */
	int iommu_domain;
	uint64_t bypass;
	uint64_t seed;
	struct rpt_device *out;       /* counters and marks are added here */
	/* Progress: called every few thousand operations with the ops done. */
	void (*tick)(void *priv, uint64_t ops);
	void *tick_priv;
	uint64_t ops;                 /* map + unmap calls made (accumulated) */
	/* The first thing that went wrong, for the report's problems list. */
	char problem[256];
};

/*
 * Runs one workload.  0: it ran (failures are in the counters and
 * `problem`); -ENOMEM: the machine had no memory for its buffers
 * (`problem` says so); -ERANGE: buffers low/high asked for memory the
 * machine does not have.
 */
int wl_run(const struct scn_workload *w, struct wl_env *e);

/* Physical address the device reaches at bus address bus (through its
 * windows), or UINT64_MAX when no window covers it. */
uint64_t wl_bus_to_phys(const struct wl_env *e, dmamap_dma_addr_t bus);

/* Records that a buffer of len bytes was mapped at phys (bounced: a slot). */
void wl_mark(struct rpt_device *d, uint64_t phys, uint64_t len, bool bounced);

#endif
