/*
 * tools/svg.h - the physical address map of one scenario run as a
 * standalone SVG 1.1 picture (`dmamap run FILE --svg OUT.svg`).
 *
 * Owns: the picture's API.  The writer only reads a struct rpt_report; it
 * never touches the library or the simulator.
 *
 * Machine-readable contract (tests and scripts rely on it; every address
 * is lower-case hex with "0x", every range inclusive):
 *   <rect class="ram"      data-first data-last>
 *   <rect class="hole"     data-first data-last>        compressed gap
 *   <rect class="pool"     data-first data-last data-name data-kind>
 *                          (data-kind: swiotlb | swiotlb-grown | restricted)
 *   <rect class="reserved" data-first data-last data-name>
 *   <g    class="device"   data-device data-ops data-mask-bits
 *                          data-coherent-mask-bits data-marks-dropped>
 *   <rect class="window"   data-device data-first data-last data-all>
 *   <rect class="mark"     data-device data-first data-last data-bounced
 *                          data-count>
 *   <text class="note"     data-device data-marks-dropped>   (only if > 0)
 *   <line class="boundary" data-addr>   power-of-two mask boundaries
 *   <line class="tick"     data-addr>   axis ticks (piece edges)
 *   <tspan class="verdict" data-pass>, <text class="summary" data-total
 *                          data-hiwater data-bounced>
 * Same report, same bytes: nothing depends on time, locale or addresses
 * in memory.
 */
#ifndef DMAMAP_TOOLS_SVG_H
#define DMAMAP_TOOLS_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "report.h"

/* Writes the picture to `out`.  0, or -EIO when a write failed. */
int rpt_svg_write(const struct rpt_report *r, FILE *out);

/*
 * Writes the picture to the file `path` (created or truncated).  0, or a
 * negative errno with the one-line message "<path>: <strerror>" in err.
 */
int rpt_svg_write_file(const struct rpt_report *r, const char *path, char *err, size_t errlen);

#endif /* DMAMAP_TOOLS_SVG_H */
