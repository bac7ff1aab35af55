/*
 * tools/judge.h - the verdict on a run: a scenario's `expect` entries
 * against the report, and the counters they may name.
 *
 * Owns: the counter names `expect` knows (a device's and the machine's),
 * looking one up in a report, checking a file's names before anything is
 * built, and the verdict (r->pass) from the problems, leaks and expects.
 * Must never touch the machine, the library or the simulator: it reads
 * the scenario and the report only, so the machine builder may call it
 * and it never calls back.
 */
#ifndef DMAMAP_TOOLS_JUDGE_H
#define DMAMAP_TOOLS_JUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "scenario.h"

/*
 * A counter by name: a device's (device non-NULL) or the machine's
 * (swiotlb and Xen counters, and device counters summed).  0 or -ENOENT
 * (no such counter).
 */
int rpt_counter(const struct rpt_report *r, const struct rpt_device *dev,
		const char *name, uint64_t *val);
/* The counter names rpt_counter knows, comma separated (for messages). */
const char *rpt_counter_names(bool device);

/* Every expect entry names a known counter: 0, or -EINVAL with
 * "FILE:LINE: unknown ... counter" in err. */
int judge_check_counters(const struct scn *s, const char *file, char *err, size_t errlen);

/*
 * True when an expect entry asks for wrong bytes on this device (or on the
 * machine): an integrity_errors comparison that 0 does not satisfy.
 */
bool judge_expects_wrong_bytes(const struct scn *s, const char *device);

/*
 * Adds the leaks and each expect entry that does not hold (none on a
 * partial run) to r's problems and sets r->pass.  0 or -ENOMEM.
 */
int judge(const struct scn *s, const char *file, struct rpt_report *r);

#endif
