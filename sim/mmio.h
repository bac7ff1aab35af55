/*
 * sim/mmio.h - device registers in the simulator: BARs, what the device
 * observes, and the CPUs' write-combining buffers.
 *
 * Owns: BAR declarations, the per-device register file and transaction
 * log, ordering rules a device can assert ("the doorbell arrived after
 * the descriptor it points to"), and the per-CPU write-combining model.
 * Must never decide what a driver may do (the library checks that); it
 * only delivers stores and loads the way hardware may.
 *
 * Write-combining model: each CPU has SIM_WC_LINES 64-byte buffers.  A
 * relaxed store to a WC mapping merges into the buffer holding its line
 * (or takes a new one; when all are busy the oldest is delivered).  A
 * write or full barrier, an ordered access, or any read on that CPU
 * drains its buffers.  Draining delivers each line as one transaction per
 * run of written bytes, oldest line first, or in adversarial mode newest
 * first: the most hostile order the rules allow, so a missing barrier
 * fails every time instead of rarely.  Uncached and ordered accesses are
 * delivered at once, alone, in program order.
 */
#ifndef DMAMAP_SIM_MMIO_H
#define DMAMAP_SIM_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

#define SIM_MAX_BARS 6
#define SIM_WC_LINES 8            /* write-combining buffers per CPU */
#define SIM_WC_LINE 64
#define SIM_MMIO_LOG 1024         /* transactions kept per device */
#define SIM_MMIO_REGS_MAX (1u << 20) /* register bytes backed per BAR */
#define SIM_MMIO_RULES 8
#define SIM_MMIO_RULE_MAX 4096    /* bytes one rule can watch */

/*
 * Declares BAR `bar` (0..5): size a power of two >= 16; flags from
 * platform.h (DMAMAP_BAR_MEM, DMAMAP_BAR_PREFETCH; neither: I/O ports).
 * The first SIM_MMIO_REGS_MAX bytes hold values (zeroed); the rest of a
 * larger BAR reads as zero and logs writes.  0, -EINVAL, -EEXIST, -ENOMEM.
 */
int sim_device_add_bar(struct sim_device *dev, int bar, uint64_t size,
		       unsigned int flags);

/* One transaction as the device saw it. */
struct sim_mmio_txn {
	uint64_t seq;        /* machine-wide arrival order, from 1 */
	int bar;
	uint64_t off;        /* within the BAR */
	unsigned int len;    /* 1..64 */
	bool write;
	bool combined;       /* came out of a write-combining buffer */
	unsigned int stores; /* CPU stores merged into it (1 when not combined) */
	unsigned int cpu;
	uint8_t data[SIM_WC_LINE];
};

/*
 * The device asserts: whenever a write touches byte `trigger` of `bar`,
 * every byte of [covers, covers + len) must have been written since the
 * previous trigger (or since the rule was set).  A write that carries
 * both counts as ordered.  len 1..SIM_MMIO_RULE_MAX.  0, -EINVAL, -ENOSPC.
 */
int sim_mmio_order_rule(struct sim_device *dev, int bar, uint64_t trigger,
			uint64_t covers, uint64_t len);

struct sim_mmio_stats {
	uint64_t writes, reads;         /* transactions */
	uint64_t bytes_written, bytes_read;
	uint64_t combined_writes;       /* transactions out of WC buffers */
	uint64_t stores_merged;         /* CPU stores that became part of one */
	uint64_t order_violations;      /* rule triggers with bytes missing */
	uint64_t first_violation_seq;   /* 0: none */
};
void sim_mmio_get_stats(struct sim_device *dev, struct sim_mmio_stats *st);

/* The last transactions (up to max, oldest first); returns how many. */
unsigned int sim_mmio_log(struct sim_device *dev, struct sim_mmio_txn *out,
			  unsigned int max);

/* Register contents as the device holds them (for checks). 0 or -EINVAL. */
int sim_mmio_peek(struct sim_device *dev, int bar, uint64_t off, void *buf,
		  unsigned int len);

/* Device-side register write (a status register the driver reads). */
int sim_mmio_poke(struct sim_device *dev, int bar, uint64_t off,
		  const void *buf, unsigned int len);

/* Drain WC buffers newest line first (true) or oldest first (false). */
void sim_mmio_set_adversarial(struct sim_machine *m, bool on);

#endif /* DMAMAP_SIM_MMIO_H */
