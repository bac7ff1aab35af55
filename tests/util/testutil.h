/*
 * tests/util/testutil.h - shared test fixtures: a simulated machine with a
 * libdmamap context on it, a captured log, byte patterns; the typed
 * ordering asserts of tu_assert.h.
 *
 * Tests only; never linked into the library or the command.
 */
#ifndef DMAMAP_TESTUTIL_H
#define DMAMAP_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tu_assert.h"

#include <dmamap/dma.h>
#include <dmamap/platform.h>
#include <dmamap/sim/sim.h>

#define TU_GIB (1ULL << 30)
#define TU_MIB (1ULL << 20)
#define TU_LOG_MAX 64

struct tu_env {
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	char log[TU_LOG_MAX][256]; /* captured log lines, oldest first */
	unsigned int nlog;         /* lines captured (saturates at TU_LOG_MAX) */
	unsigned int nlog_total;   /* lines seen */
};

struct tu_opts {
	uint64_t ram_gib;      /* total RAM: [0, min(ram, 3 GiB)) + the rest from 4 GiB (0: 8) */
	const char *bootargs;  /* may be NULL */
	enum dmamap_swiotlb_mode swiotlb_mode;
	uint64_t swiotlb_bytes;
	bool dynamic;
	bool cc_guest;
	unsigned int ncpus;    /* 0: 4 */
	bool virtual_clock;    /* the library's clock moves only by sim_clock_advance */
	bool deferred_thread;  /* the library's timer thread (else the test runs it) */
};

/* A machine with RAM below and above 4 GiB and a context on it; asserts on failure. */
void tu_env_init(struct tu_env *e, const struct tu_opts *o);
/* Same, but returns dmamap_ctx_create's result instead of asserting (ctx NULL on error). */
int tu_env_try_init(struct tu_env *e, const struct tu_opts *o);
void tu_env_fini(struct tu_env *e);

/* A simulated device plus its library device (masks from firmware defaults). */
struct tu_dev {
	struct sim_device *sd;
	struct dmamap_device *dev;
};
void tu_dev_add(struct tu_env *e, struct tu_dev *d, const char *name,
		unsigned int addr_bits, bool coherent, enum dmamap_bus bus);
/* Same with a full hardware description and optional restricted pool. */
void tu_dev_add_desc(struct tu_env *e, struct tu_dev *d,
		     const struct sim_device_desc *sdesc,
		     struct dmamap_swiotlb *restricted);
void tu_dev_remove(struct tu_dev *d);

/* npages of RAM inside [lo, hi] and its CPU pointer; asserts on failure. */
void *tu_alloc(struct tu_env *e, uint64_t npages, uint64_t lo, uint64_t hi,
	       uint64_t *phys);
void tu_free(struct tu_env *e, void *cpu, uint64_t npages);
/* Buffers below and at/above 4 GiB. */
void *tu_alloc_low(struct tu_env *e, uint64_t npages, uint64_t *phys);
void *tu_alloc_high(struct tu_env *e, uint64_t npages, uint64_t *phys);

/* Simulator-only fixtures (no library context): each asserts on failure. */
struct sim_device *tu_sim_dev(struct sim_machine *m, const char *name,
			      unsigned int addr_bits, bool coherent); /* PCI */
/* npages pages inside [lo, hi] (hi inclusive). */
uint64_t tu_sim_alloc(struct sim_machine *m, uint64_t npages, uint64_t lo,
		      uint64_t hi);
/* A device's counters (poisoned first, so a field the simulator forgot to
 * fill shows). */
struct sim_device_stats tu_sim_dstats(struct sim_device *dev);
/* The CPU pointer of RAM phys. */
uint8_t *tu_sim_cpu(struct sim_machine *m, uint64_t phys);

/* xorshift64: deterministic randomness for tests (state must be nonzero). */
uint64_t tu_rand(uint64_t *state);

/* Deterministic pattern: byte i of pattern seed s. */
void tu_fill(void *buf, size_t len, uint32_t seed);
/* Index of the first byte that differs from the pattern, or -1. */
long tu_check(const void *buf, size_t len, uint32_t seed);

/* The log callback the fixtures install (priv: the struct tu_env). */
void tu_log_cb(void *priv, enum dmamap_log_level level, const char *msg);
/* True when some captured log line contains needle. */
bool tu_log_has(const struct tu_env *e, const char *needle);

#endif
