/*
 * tools/explain.h - `dmamap explain BOARD`: a board's DMA, device by device.
 *
 * Owns: turning a device tree (a .dts, an FDT blob of any name, or a
 * /proc/device-tree directory) plus the RAM into the answer a board
 * engineer asks for: the machine (arch, RAM, ZONE_DMA), the bounce pool the
 * library makes for it (place, size, why), and per DMA master its windows,
 * DMA parent, limit, IOMMU and granule or restricted pool, coherency, and a
 * one-line verdict for a driver with a 32-bit and with a 64-bit mask.
 *
 * Must never decide DMA policy itself: the pool's place and on/off come
 * from the library (a context made on the simulated machine); the windows,
 * IOMMUs and pools are the tree's facts (sim/dt.h); the verdicts apply
 * dma-direct's capability rule (dma_capable) to those facts and say which.
 */
#ifndef DMAMAP_TOOLS_EXPLAIN_H
#define DMAMAP_TOOLS_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EXPLAIN_MAX_RAM 16
#define EXPLAIN_MAX_INCLUDE 16

struct explain_opts {
	bool json;                 /* the JSON shape (docs/dmamap.1) */
	bool all;                  /* text: every configured device, not only DMA users */
	const char *device;        /* a path or node name; NULL: all */
	uint64_t ram[EXPLAIN_MAX_RAM][2]; /* --ram BASE:SIZE: replaces the tree's /memory */
	unsigned int nram;
	const char *include[EXPLAIN_MAX_INCLUDE]; /* --include-dir, for .dts #include */
	unsigned int ninclude;
};

/*
 * Parses "BASE:SIZE[,BASE:SIZE...]" (numbers decimal or 0x hex, sizes with
 * an optional K/M/G/T suffix, powers of 1024) into o->ram.  0, or -EINVAL
 * with one line in err.
 */
int explain_parse_ram(const char *arg, struct explain_opts *o, char *err, size_t errlen);

/*
 * Explains the board at path.  0; -EINVAL/-ENOENT (bad input: one line in
 * err naming the file); -ENOMEM.
 */
int explain_board(const char *path, const struct explain_opts *o, FILE *out, char *err,
		  size_t errlen);

#endif /* DMAMAP_TOOLS_EXPLAIN_H */
