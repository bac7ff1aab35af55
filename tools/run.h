/*
 * tools/run.h - running a scenario: `dmamap run` and `dmamap explain FILE`.
 *
 * Owns: turning a parsed scenario (and its device tree) into a simulated
 * machine, a library context and devices, running the workloads, and
 * judging the `expect` entries.  Must never decide DMA policy: the library
 * picks every device's ops; the runner reports them.
 */
#ifndef DMAMAP_TOOLS_RUN_H
#define DMAMAP_TOOLS_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"
#include "scenario.h"

struct trace;
struct wl_env;

struct run_opts {
	uint64_t seed;          /* workloads without their own seed derive one */
	bool progress;          /* draw a progress bar on stderr */
	bool verbose;           /* library log lines to stderr */
	struct trace *trace;    /* non-NULL: every operation is written to it (trace.h) */
	/*
	 * Non-NULL: once *stop holds a signal number, the run stops at the next
	 * operation boundary (between a workload's iterations, nothing of the
	 * iteration left mapped), the trace gets its footer, and the report is
	 * partial (r->interrupted; expect entries not judged).
	 */
	const volatile sig_atomic_t *stop;
};

/*
 * Runs the scenario.  0: it ran, *r holds the report (r->pass is the
 * verdict; free with rpt_free).  A device the library refuses to add is
 * a problem of the verdict (with the library's last log line), not an
 * error: the run goes on without it.  Negative errno with one line in err:
 * -EINVAL bad input (a tree path that names no node, an unknown counter,
 * buffers the machine cannot provide...), -ENOTSUP the scenario needs a
 * piece that is not built yet, -ENOMEM.
 */
int run_scenario(const struct scn *s, const char *file,
		 const struct run_opts *o, struct rpt_report *r, char *err,
		 size_t errlen);

/*
 * Sets the platform up as `run` would (devices added, masks set) and
 * prints one line per device: its ops, why, and its reachable windows.
 * 0, or a negative errno with one line in err.
 */
int run_explain(const struct scn *s, const char *file, FILE *out, char *err,
		size_t errlen);

/*
 * The platform alone, for `dmamap replay`: built exactly as run_scenario
 * builds it (devices that are not hot-plugged added, masks set), with no
 * workload run.  extra: tree node paths to treat as mentioned (a trace's
 * devices the scenario names only in workloads); a name that is neither
 * declared nor a tree node is refused.  0 or a negative errno with one
 * line in err, as run_scenario.
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

void rpt_free(struct rpt_report *r);

/* Human-readable summary. */
void rpt_print_text(const struct rpt_report *r, FILE *out);
/* "SIGINT", "SIGTERM" (what stopped a partial run). */
const char *rpt_signal_name(int sig);
/* The JSON object of the contract.  0 or -EIO / -ENOMEM. */
int rpt_print_json(const struct rpt_report *r, FILE *out);

/*
 * A counter by name: a device's (device non-NULL) or the machine's
 * (swiotlb and Xen counters, and device counters summed).  0 or -ENOENT
 * (no such counter).
 */
int rpt_counter(const struct rpt_report *r, const struct rpt_device *dev,
		const char *name, uint64_t *val);
/* The counter names rpt_counter knows, comma separated (for messages). */
const char *rpt_counter_names(bool device);

#endif
