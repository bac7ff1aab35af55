/*
 * tools/run.h - running a scenario: `dmamap run` and `dmamap explain FILE`.
 *
 * Owns: running a scenario's workloads on the machine it describes
 * (machine.h builds it) and turning the outcome into a report (report.h)
 * that the judge (judge.h) gives its verdict on.  Must never decide DMA
 * policy: the library picks every device's ops; the runner reports them.
 *
 * Includes machine.h for the platform alone (run_platform_*), which
 * `dmamap replay` and the tests build without running anything.
 */
#ifndef DMAMAP_TOOLS_RUN_H
#define DMAMAP_TOOLS_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "machine.h"
#include "report.h"
#include "run_opts.h"
#include "scenario.h"

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

#endif
