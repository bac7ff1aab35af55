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

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"
#include "scenario.h"

struct run_opts {
	uint64_t seed;          /* workloads without their own seed derive one */
	bool progress;          /* draw a progress bar on stderr */
	bool verbose;           /* library log lines to stderr */
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

void rpt_free(struct rpt_report *r);

/* Human-readable summary. */
void rpt_print_text(const struct rpt_report *r, FILE *out);
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
