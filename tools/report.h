/*
 * tools/report.h - the outcome of one scenario run, as the command's
 * outputs (text, JSON, SVG) read it.
 *
 * Owns: the report's C shape.  Filled only by the runner (run.c); the
 * writers (run.c's text and JSON, svg.c) only read it.  Nothing here
 * decides DMA policy or touches the library or the simulator: it is a
 * plain record of what happened.
 */
#ifndef DMAMAP_TOOLS_REPORT_H
#define DMAMAP_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RPT_NAME_MAX 256
#define RPT_REASON_MAX 256
#define RPT_MAX_RANGES 16     /* RAM ranges, pools, reserved regions */
#define RPT_MAX_WINDOWS 8     /* a device's reachable windows */
#define RPT_MAX_MARKS 64      /* buffer placements kept per device */

/* An inclusive physical range [first, last]. */
struct rpt_range {
	uint64_t first, last;
	char name[64];        /* pools and reserved regions; "" for RAM */
};

/*
 * Where a device's buffers landed: the CPU buffer's physical range, and
 * whether it was bounced (then `bounce` is the bounce slot's physical
 * address).  Adjacent placements of the same kind are merged, so a
 * handful of marks describe thousands of buffers.
 */
struct rpt_mark {
	uint64_t first, last;
	bool bounced;
	uint64_t count;       /* buffers merged into this mark */
};

struct rpt_device {
	char name[RPT_NAME_MAX];
	char ops[32];         /* direct, swiotlb, iommu, iommu-bypass, xen-swiotlb */
	char reason[RPT_REASON_MAX];
	unsigned int dma_mask_bits, coherent_mask_bits;
	bool behind_iommu;
	bool coherent;
	bool hotplug;

	/* The JSON report's per-device counters. */
	uint64_t maps, map_failures, bytes_mapped, bounced_bytes;
	uint64_t integrity_errors, faults;
	/* More, for `expect` and the text report. */
	uint64_t bounced_maps, coherent_allocs, coherent_bytes;
	uint64_t syncs, transfers, truncated, bus_errors, leaked;
	uint64_t outside_reached;   /* adversarial: bytes reached outside its grant */
	uint64_t exposed_bytes;     /* adversarial: of those, the CPU's own bytes
				     * around the grant that it read */
	uint64_t zero_copy_pages;   /* gpu: pages a user-pointer path maps in place */
	uint64_t bounce_pages;      /* gpu: pages that would bounce */

	/* CPU-physical ranges the device reaches without bouncing (from its
	 * windows and streaming mask); nwindows 0: everything, unless
	 * reach_none (every window lies beyond what the device can emit). */
	struct rpt_range windows[RPT_MAX_WINDOWS];
	unsigned int nwindows;
	bool reach_none;
	struct rpt_mark marks[RPT_MAX_MARKS];
	unsigned int nmarks;
	uint64_t marks_dropped;     /* placements not drawn (marks full) */
};

struct rpt_swiotlb {
	bool enabled;
	uint64_t boot_total_bytes, total_bytes, below_4g_bytes;
	uint64_t used_hiwater_bytes, bounced_bytes, full_failures;
};

struct rpt_report {
	char scenario[RPT_NAME_MAX];
	bool pass;
	char **problems;            /* nproblems strings, owned */
	unsigned int nproblems;
	struct rpt_swiotlb swiotlb;

	struct rpt_range ram[RPT_MAX_RANGES];
	unsigned int nram;
	struct rpt_range pools[RPT_MAX_RANGES];      /* bounce pools, all kinds */
	unsigned int npools;
	struct rpt_range reserved[RPT_MAX_RANGES];   /* other reserved memory */
	unsigned int nreserved;

	struct rpt_device *devices;
	unsigned int ndevices;
	uint64_t ops_total;         /* map/unmap operations the run made */
	double seconds;
};

#endif /* DMAMAP_TOOLS_REPORT_H */
