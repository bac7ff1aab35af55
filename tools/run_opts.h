/*
 * tools/run_opts.h - what a caller asks of a run: `dmamap run`'s options.
 *
 * Owns: struct run_opts alone, so the machine builder (machine.c, which
 * reads only `verbose`) and the runner (run.c) share it without either
 * including the other's header.  Must never include another tools/ header
 * nor declare a function: it is a leaf of the include graph.
 */
#ifndef DMAMAP_TOOLS_RUN_OPTS_H
#define DMAMAP_TOOLS_RUN_OPTS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

struct trace;

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

#endif
