/*
 * tools/trace.h - `dmamap run --trace FILE` and `dmamap replay FILE`.
 *
 * Owns: the trace format (JSON lines, format 1, documented in
 * docs/dmamap.1), its writer (called by the workloads' wrappers and the
 * runner) and its replayer (rebuilds a scenario's platform through machine.h
 * and re-issues every operation in order, comparing outcomes).
 * Must never decide DMA policy nor look inside the library: a replay
 * learns "bounced" exactly as a workload does, from where the bus address
 * lands (wl_bus_to_phys).
 *
 * Identity.  Buffers are named by a stable id (`buf`, numbered from 1 in
 * order of appearance), bytes inside them by an offset; bus addresses by
 * the seq of the operation that created the mapping (`map`: a map or a
 * coherent allocation) and a signed byte offset into its stream (for a
 * scatterlist, the concatenation of its bus segments).  So a replay on a
 * platform whose bus addresses differ re-issues the same accesses at its
 * own addresses.
 */
#ifndef DMAMAP_TOOLS_TRACE_H
#define DMAMAP_TOOLS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <dmamap/dma.h>

#define TRACE_FORMAT 1

struct trace;
struct wl_env;
struct scn;

/* ---- recording (a NULL trace is never passed: callers test first) ---- */

/* Opens path for writing.  0 or -errno (err set). */
int trace_open(const char *path, struct trace **out, char *err, size_t errlen);
/* Flushes and closes; 0, or -EIO when anything could not be written. */
int trace_close(struct trace *t);

/* The header line: what replay rebuilds.  dev names/ops parallel arrays. */
struct trace_platform {
	const char *scenario, *file, *bootargs;  /* bootargs may be NULL */
	uint64_t seed;
	const uint64_t (*ram)[2];                /* [base, size] */
	unsigned int nram;
	bool swiotlb;
	uint64_t swiotlb_bytes;
	const char *hypervisor;                  /* NULL: bare metal */
	const char *const *dev_names, *const *dev_ops;
	const unsigned int *dev_bits;
	const bool *dev_hotplug;
	unsigned int ndevs;
};
void trace_header(struct trace *t, const struct trace_platform *p);
/* A workload begins: later operations belong to device `device`. */
void trace_workload(struct trace *t, const char *device, const char *kind, int line,
		    uint64_t seed, unsigned int domid);
/* The footer line with totals. */
/* The footer; partial: the signal that stopped the run (0: it ran whole). */
void trace_end(struct trace *t, int partial);

/* Pages from the machine's allocator (where: "any", "low", "high"). */
void trace_alloc(struct trace *t, struct wl_env *e, const char *where, uint64_t npages,
		 uint64_t align, int rc, uint64_t phys);
void trace_free(struct trace *t, struct wl_env *e, uint64_t phys);
void trace_alloc_coherent(struct trace *t, size_t size, void *cpu, dmamap_dma_addr_t bus);
void trace_free_coherent(struct trace *t, void *cpu);
/* CPU writes: a stream pattern, a byte value, or literal bytes. */
void trace_fill(struct trace *t, const void *cpu, size_t len, uint64_t seed, uint64_t at);
void trace_set(struct trace *t, const void *cpu, int byte, size_t len);
void trace_store(struct trace *t, const void *cpu, const void *src, size_t len);
/* The CPU reads len bytes at cpu (after the device wrote at bus). */
void trace_check(struct trace *t, const void *cpu, size_t len, dmamap_dma_addr_t bus);
/* op: "map_single" or "map_page". */
void trace_map(struct trace *t, struct wl_env *e, const char *op, const void *cpu,
	       size_t size, enum dmamap_data_direction dir, unsigned long attrs,
	       dmamap_dma_addr_t bus);
/* op: "unmap_single" or "unmap_page". */
void trace_unmap(struct trace *t, const char *op, dmamap_dma_addr_t bus, size_t size,
		 enum dmamap_data_direction dir, unsigned long attrs);
void trace_map_sgt(struct trace *t, struct wl_env *e, const struct dmamap_sg_table *sgt,
		   enum dmamap_data_direction dir, unsigned long attrs, int rc);
void trace_unmap_sgt(struct trace *t, const struct dmamap_sg_table *sgt,
		     enum dmamap_data_direction dir, unsigned long attrs);
void trace_sync(struct trace *t, bool for_cpu, dmamap_dma_addr_t bus, size_t size,
		enum dmamap_data_direction dir);
void trace_sync_sgt(struct trace *t, bool for_cpu, const struct dmamap_sg_table *sgt,
		    enum dmamap_data_direction dir);
/* Device accesses.  A write's data is pattern (seed, at) or, with
 * byte >= 0, len copies of byte. */
void trace_dev_read(struct trace *t, uint64_t bus, const void *data, size_t len, int rc);
void trace_dev_write(struct trace *t, uint64_t bus, const void *data, size_t len, int rc,
		     uint64_t seed, uint64_t at, int byte);
/* op: "set_max_seg_size" or "set_seg_boundary". */
void trace_param(struct trace *t, const char *op, uint64_t value, int rc);
/* Xen: a domU's frame as its frontend sees it (first use only). */
void trace_domu_page(struct trace *t, unsigned int domid, uint64_t gfn, const void *pg);
void trace_grant(struct trace *t, const void *pg, bool readonly, int rc, uint32_t gref);
void trace_grant_end(struct trace *t, const void *pg, int rc);
void trace_grant_map(struct trace *t, const void *pg, bool readonly, int rc, void *cpu,
		     uint64_t phys);
void trace_grant_unmap(struct trace *t, const void *cpu, int rc);

/* FNV-1a 64 of the bytes. */
uint64_t trace_hash(const void *data, size_t len);

/* ---- replay --------------------------------------------------------------- */

#define REPLAY_SHOW_DEFAULT 20

struct replay_opts {
	const char *scenario;      /* NULL: the trace header's file */
	unsigned int show;         /* differences kept in detail; 0: the default */
	bool verbose;              /* library log lines to stderr */
};

/* What differed (a difference counts once, under its first kind). */
enum replay_kind {
	REPLAY_DEVICE = 0,   /* the device could not be added */
	REPLAY_OK,           /* success against failure (allocs, maps, grants) */
	REPLAY_BOUNCED,      /* bounced against direct */
	REPLAY_NENTS,        /* a scatterlist mapped to another number of bus segments */
	REPLAY_RC,           /* another return code */
	REPLAY_HASH,         /* other bytes */
	REPLAY_NKINDS
};

struct replay_diff {
	uint64_t seq;
	char op[24];
	char device[64];
	char what[192];
};

struct replay_result {
	char trace[4096];
	char scenario[256];        /* the replay platform's scenario name and file */
	char file[4096];
	char recorded[256];        /* the trace's scenario name */
	uint64_t operations;       /* operation lines re-issued or skipped */
	uint64_t differences, skipped;
	uint64_t bus_moved;        /* same outcome, another bus address (not a difference) */
	uint64_t by_kind[REPLAY_NKINDS];
	struct { char op[24]; uint64_t n; } by_op[32];
	unsigned int nby_op;
	struct replay_diff *first; /* the first `show` differences */
	unsigned int nfirst, show;
};

/*
 * Replays the trace at path.  0: *r holds the result (r->differences 0:
 * identical); free with replay_free.  Negative errno with one line in
 * err: -EINVAL a malformed trace ("TRACE:LINE: what") or a platform that
 * cannot host it (a device it lacks), -ENOENT and the like for files,
 * -ENOMEM.
 */
int trace_replay(const char *path, const struct replay_opts *o, struct replay_result *r,
		 char *err, size_t errlen);
void replay_free(struct replay_result *r);
void replay_print_text(const struct replay_result *r, FILE *out);
int replay_print_json(const struct replay_result *r, FILE *out);
const char *replay_kind_name(enum replay_kind k);

#endif
