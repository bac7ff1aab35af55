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
#define WL_XEN_COUNT 64
#define WL_XEN_SIZE 4096
/* Frames of each domU a xen-backend workload serves (16 MiB). */
#define WL_XEN_DOMU_PAGES 4096
/* Pages (grants) in one xen-backend request, at most. */
#define WL_XEN_MAX_PAGES 256

struct sim_xen;
struct trace;

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
	/*
	 * Under a hypervisor (NULL: bare metal).  Bus addresses are machine
	 * addresses unless the hypervisor's IOMMU covers the device
	 * (xen_iommu): then they are the OS's guest-physical addresses.
	 * domid: the domU a xen-backend workload serves (0: none).
	 */
	struct sim_xen *xen;
	bool xen_iommu;
	uint16_t domid;
	uint64_t seed;
	struct rpt_device *out;       /* counters and marks are added here */
	/* Progress: called every few thousand operations with the ops done. */
	void (*tick)(void *priv, uint64_t ops);
	void *tick_priv;
	/* Non-NULL: once *stop is nonzero (a signal arrived), the workload stops
	 * after the iteration under way, releasing what it holds. */
	const volatile sig_atomic_t *stop;
	uint64_t ops;                 /* map + unmap calls made (accumulated) */
	/* Non-NULL: every library call, CPU write and check of a buffer, and
	 * device access is also written to this trace (trace.h).  NULL costs
	 * one predicted branch per operation. */
	struct trace *tr;
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
 * windows; under a hypervisor, the OS's guest-physical address of the
 * machine frame reached), or UINT64_MAX when no window covers it or the
 * frame is none of the OS's. */
uint64_t wl_bus_to_phys(const struct wl_env *e, dmamap_dma_addr_t bus);

/* Bytes [off, off + n) of the data stream `seed` (every workload's data). */
void wl_pattern_fill(uint8_t *b, size_t n, uint64_t seed, uint64_t off);

/* Records that a buffer of len bytes was mapped at phys (bounced: a slot). */
void wl_mark(struct rpt_device *d, uint64_t phys, uint64_t len, bool bounced);

#endif
