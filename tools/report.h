/*
 * tools/report.h - the outcome of one scenario run, as the command's
 * outputs (text, JSON, SVG) read it.
 *
 * Owns: the report's C shape and the functions over the record alone:
 * its lists and lifetime (report.c), text (report_text.c), JSON
 * (report_json.c).  Filled by the machine builder (machine.c: what became
 * of the devices), the runner (run.c: workloads' counters and problems)
 * and the judge (judge.c: the verdict); the writers (text, JSON, svg.c)
 * only read it.  Nothing here decides DMA policy or touches the library
 * or the simulator: it is a plain record of what happened.
 */
#ifndef DMAMAP_TOOLS_REPORT_H
#define DMAMAP_TOOLS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RPT_NAME_MAX 256
#define RPT_REASON_MAX 256
#define RPT_MAX_RANGES 16     /* RAM ranges, pools, reserved regions */
#define RPT_MAX_WINDOWS 8     /* a device's reachable windows */
#define RPT_MAX_MARKS 64      /* buffer placements kept per device */
#define RPT_MAX_XEN_FEATURES 8

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
	char ops[32];         /* direct, swiotlb, iommu, iommu-bypass, swiotlb-xen, none */
	char reason[RPT_REASON_MAX];
	unsigned int dma_mask_bits, coherent_mask_bits;
	bool behind_iommu;    /* an IOMMU of the machine's, or the hypervisor's */
	bool xen_iommu;       /* the hypervisor's IOMMU covers it */
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
	/* Under a hypervisor whose p2m is not 1:1, for a device its IOMMU does
	 * not cover: the windows are machine addresses, not the OS's. */
	bool windows_machine;
	struct rpt_mark marks[RPT_MAX_MARKS];
	unsigned int nmarks;
	uint64_t marks_dropped;     /* placements not drawn (marks full) */
};

struct rpt_swiotlb {
	bool enabled;
	uint64_t boot_total_bytes, total_bytes, below_4g_bytes;
	uint64_t used_hiwater_bytes, bounced_bytes, full_failures;
};

/*
 * The hypervisor the OS runs under (has false: bare metal), and the
 * figures of swiotlb-xen (the library's) and of the hypervisor (the
 * simulator's).  Names are the `expect` counters'.
 */
struct rpt_xen {
	bool has;
	char mode[8];               /* pv, pvh, hvm, arm */
	bool dom0;
	char p2m[16];               /* identity, scattered, colored */
	char features[RPT_MAX_XEN_FEATURES][24]; /* DMAMAP_XENFEAT_* the guest sees */
	unsigned int nfeatures;
	char policy[16];            /* per-device, linux */
	unsigned int domus;         /* other domains created */
	/* The library's. */
	uint64_t swiotlb_xen;       /* 1: some device uses swiotlb-xen */
	uint64_t xen_pool_bytes, xen_pool_late; /* the default bounce pool */
	uint64_t exchanged_bytes, foreign_maps, straddle_bounces, reach_bounces;
	/* The hypervisor's. */
	uint64_t lowmem_total, lowmem_used, lowmem_hiwater;
	uint64_t lowmem_used_at_boot;   /* before any workload ran */
	uint64_t exchange_failures, grant_maps, cache_flushes, p2m_queries;
	uint64_t dma_own_bytes, dma_foreign_bytes, dma_stray_bytes;
};

struct rpt_report {
	char scenario[RPT_NAME_MAX];
	bool pass;
	char **problems;            /* nproblems strings, owned */
	unsigned int nproblems;
	/* Wrong bytes a scenario's expect entries ask for (the claim shown,
	 * not a failure): what the workloads reported, kept for the reader. */
	char **notes;               /* nnotes strings, owned */
	unsigned int nnotes;
	struct rpt_swiotlb swiotlb;
	struct rpt_xen xen;

	struct rpt_range ram[RPT_MAX_RANGES];
	unsigned int nram;
	struct rpt_range pools[RPT_MAX_RANGES];      /* bounce pools, all kinds */
	unsigned int npools;
	struct rpt_range reserved[RPT_MAX_RANGES];   /* other reserved memory */
	unsigned int nreserved;

	struct rpt_device *devices;
	unsigned int ndevices;
	uint64_t ops_total;         /* map/unmap operations the run made */
	int interrupted;            /* the signal that stopped the run early (partial), or 0 */
	double seconds;
};

/* ---- report.c ---- */

/* Frees what the report owns and zeroes it (NULL: nothing). */
void rpt_free(struct rpt_report *r);
/* Appends one line to the problems (a failed verdict) or to the notes
 * (wrong bytes the file asked for).  0 or -ENOMEM. */
int rpt_add_problem(struct rpt_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int rpt_add_note(struct rpt_report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- report_text.c ---- */

/* `dmamap run`'s human-readable summary. */
void rpt_print_text(const struct rpt_report *r, FILE *out);
/* `dmamap explain FILE.yaml`: one line per device, its ops, why, and its
 * reachable windows. */
void rpt_print_explain(const struct rpt_report *r, FILE *out);
/* "SIGINT", "SIGTERM" (what stopped a partial run). */
const char *rpt_signal_name(int sig);
/* "512 B", "1.5 MiB": b in buf (n bytes), returned. */
const char *rpt_human(uint64_t b, char *buf, size_t n);

/* ---- report_json.c ---- */

/* The JSON object of the contract.  0 or -EIO / -ENOMEM. */
int rpt_print_json(const struct rpt_report *r, FILE *out);

#endif /* DMAMAP_TOOLS_REPORT_H */
