/*
 * tools/machine.h - the machine a scenario describes, built once for
 * `dmamap run`, `dmamap explain FILE.yaml` and `dmamap replay`.
 *
 * Owns: turning a parsed scenario (and its device tree) into a simulated
 * machine (RAM, reserved memory, restricted pools, IOMMUs and domains, the
 * hypervisor and its domUs), a library context and devices added as the
 * OS would add them (masks set, hot-plugged ones later), and reading back
 * what became of them into the report (ops, reasons, windows, counters).
 * Must never run a workload, judge `expect`, print, or decide DMA policy:
 * devices are described as firmware would describe them, drivers set their
 * masks, and whatever ops the library picks is what the report shows.
 * Never includes src/ headers, run.h or trace.h: run and replay build
 * on it, never the other way round.
 *
 * The structs are open so the runner (run.c) can walk the devices; their
 * fields are written only here, except mach_dev.rep, which the runner
 * points at the report's record for the device (machine_down writes the
 * leak count there).
 */
#ifndef DMAMAP_TOOLS_MACHINE_H
#define DMAMAP_TOOLS_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dmamap/platform.h>
#include <dmamap/xen.h>

#include "report.h"
#include "run_opts.h"
#include "scenario.h"
#include <dmamap/sim/sim.h>
#include "wlenv.h"
#include <dmamap/sim/xen.h>

#define MACH_MAX_DEVS (SCN_MAX_DEVICES + SCN_MAX_WORKLOADS + SCN_MAX_EXPECTS)
#define MACH_MAX_POOLS 16

struct sim_dt;
struct sim_dt_device;

/* One device the file names: declared, or a tree node it mentions. */
struct mach_dev {
	const char *name;                 /* the scenario's name or tree path */
	const struct scn_device *decl;    /* NULL: a tree node nobody declared */
	const struct sim_dt_device *node; /* NULL: declared inline */
	struct sim_device_desc hw;
	unsigned int dma_bits;
	bool hotplug;
	int mask_rc;                      /* set_mask's error, 0: accepted */
	struct dmamap_swiotlb *pool;      /* restricted pool, or NULL */
	const char *iommu;                /* the file's iommu name or tree path; NULL: none */
	int iommu_id, domain;             /* in the simulator; 0: none */
	const struct scn_iommu *iommu_decl; /* windows; NULL for a tree IOMMU */
	bool xen_iommu;                   /* the hypervisor's IOMMU covers it */
	struct sim_device *sd;
	struct dmamap_device *dev;        /* NULL until added */
	int add_rc;                       /* dmamap_device_add's error, 0: none */
	char add_why[256];                /* the library's last log line then */
	struct rpt_device *rep;           /* the runner's; NULL: no report */
	int line;                         /* where the file declares or first names it */
};

struct mach_pool {
	int rmem;                         /* tree region index, -1: inline */
	uint64_t base, size;
	bool owned_pages;                 /* allocated by the builder */
	struct dmamap_swiotlb *pool;
};

/*
 * The caller sets s, file, verbose, err/errlen (and extra/nextra) and
 * zeroes the rest before machine_up.
 */
struct machine {
	const struct scn *s;
	const char *file;
	bool verbose;                     /* library log lines to stderr */
	struct sim_dt *dt;
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	const char *bootargs;             /* the context's: the file's, else the tree's */
	struct mach_dev devs[MACH_MAX_DEVS];
	unsigned int ndevs;
	struct mach_pool pools[MACH_MAX_POOLS];
	unsigned int npools;
	struct { const char *name; int id; } iommus[SCN_MAX_IOMMUS + MACH_MAX_DEVS];
	unsigned int niommus;
	struct { const char *iommu, *name; int id; } domains[MACH_MAX_DEVS];
	unsigned int ndomains;
	/* Under a hypervisor (xen_on): what was asked of it, and its domUs. */
	bool xen_on;
	struct sim_xen_desc xd;
	enum dmamap_xen_policy xen_policy;
	struct sim_xen *xen;
	uint16_t domids[SCN_MAX_DOMUS];
	unsigned int ndomus;
	uint64_t lowmem_at_boot;
	/* Tree paths a trace names beyond the file's (replay). */
	const char *const *extra;
	unsigned int nextra;
	char last_log[256];               /* the library's last message */
	char *err;
	size_t errlen;
};

/*
 * Builds the machine, the context and every device that is not
 * hot-plugged.  0, or a negative errno with one line in e->err (see
 * run_scenario).  Whatever the outcome, machine_down undoes it.
 */
int machine_up(struct machine *e);
/* Removes the devices (their leaks go to rep->leaked), the pools, the
 * context and the machine.  Safe on a partly built machine. */
void machine_down(struct machine *e);

/* Writes one line into e->err and returns rc. */
int machine_err(struct machine *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct mach_dev *machine_dev_find(struct machine *e, const char *name);
/*
 * Firmware describes it, the OS adds it, the driver sets its masks.  A
 * refusal is recorded in the device (add_rc, add_why, mask_rc), not
 * returned: 0, or a negative errno with one line in e->err.
 */
int machine_dev_add(struct machine *e, struct mach_dev *d);
/* The environment a workload on d runs in (d added); the run's own
 * fields (seed, out, trace, progress) zero. */
struct wl_env machine_wl_env(const struct machine *e, const struct mach_dev *d);
/* "pv", "pvh", "hvm", "arm"; NULL on bare metal. */
const char *machine_hypervisor(const struct machine *e);

/*
 * Fills each device's report record (d->rep, all set) and the machine's
 * figures (RAM, pools, swiotlb, the hypervisor) from the library and the
 * simulator.
 */
void machine_report(struct machine *e, struct rpt_report *r);
/* The devices the OS refused and the masks drivers were refused, as
 * problems of the verdict.  0 or -ENOMEM. */
int machine_refusals(const struct machine *e, struct rpt_report *r);

/*
 * The platform alone, for `dmamap replay`: built exactly as run_scenario
 * builds it (devices that are not hot-plugged added, masks set), with no
 * workload run.  extra: tree node paths to treat as mentioned (a trace's
 * devices the scenario names only in workloads); a name that is neither
 * declared nor a tree node is refused.  0 or a negative errno with one
 * line in err, as run_scenario.  o: only its verbose is read.
 */
struct run_platform;
int run_platform_up(const struct scn *s, const char *file, const struct run_opts *o,
		    const char *const *extra, unsigned int nextra, struct run_platform **out,
		    char *err, size_t errlen);
/*
 * The environment a workload on `device` runs in (a hot-plugged device is
 * added now, as before its first workload).  we->out is NULL and
 * we->problem empty.  0; -ENOENT no such device; -ENODEV the OS could not
 * add it (why: the library's line).
 */
int run_platform_env(struct run_platform *p, const char *device, struct wl_env *we,
		     const char **why);
struct sim_machine *run_platform_machine(struct run_platform *p);
void run_platform_down(struct run_platform *p);

#endif
