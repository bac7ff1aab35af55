/*
 * dmamap/debug.h - the DMA API checker: Linux's dma-debug, and more.
 *
 * Owns: switching the checker on, reading its reports, and the one call
 * a driver (or a workload) makes to declare a CPU read of a DMA buffer.
 * Must never change what a mapping does: the checker watches the driver
 * API and reports misuse; maps, unmaps and syncs behave exactly as with
 * the checker off.
 *
 * On: struct dmamap_config.dma_debug, or the boot argument dma_debug=on
 * (dma_debug=off wins over the config field).  Off, the dispatcher pays
 * one predictable branch per call and nothing else.  Devices added while
 * it is on are checked; the setting is fixed when the context is made.
 *
 * Every report is kept (the last DMAMAP_DEBUG_KEEP; counts are exact),
 * logged through the context's log callback as one line at
 * DMAMAP_LOG_ERR:
 *     dma-debug: KIND: device: origin ORIGIN: what happened; expected ...
 * and handed to the report callback, if one is set.  ORIGIN is where the
 * mapping concerned was made: "file:line" when the driver used the
 * dma.h map macros (dmamap_map_single, _page, _sg, dmamap_alloc_coherent)
 * or the *_at calls with DMAMAP_HERE, else the caller's code address as
 * "pc BINARY+0xOFFSET" (addr2line -e BINARY 0xOFFSET names the line).
 *
 * What is checked, and how:
 *  - UNMAP_NOT_MAPPED: an unmap or free of a bus address (of that device)
 *    that no live mapping starts at: never mapped, already unmapped, or
 *    DMAMAP_MAPPING_ERROR itself.
 *  - SIZE_MISMATCH, DIR_MISMATCH, KIND_MISMATCH (single / page / phys /
 *    resource / sg / coherent / noncoherent), SG_COUNT_MISMATCH (nents
 *    not the value passed to map; also at sg syncs), CPU_ADDR_MISMATCH
 *    (a coherent free with another CPU pointer): the unmap against the
 *    live mapping.  The mapping is forgotten after the unmap (as Linux),
 *    except when the library itself refused a free.
 *  - ERROR_NOT_CHECKED: a map_single/page/phys/resource whose result was
 *    never given to dmamap_mapping_error, at its first sync or its unmap
 *    (once per mapping).
 *  - STACK_OR_INVALID: a buffer on the calling thread's stack, a CPU
 *    pointer outside RAM's linear map, or a physical range that is not
 *    RAM (map_phys, sg entries).  Reported even when the map then failed.
 *  - SYNC_NOT_MAPPED, SYNC_OUT_OF_RANGE: the synced range must lie inside
 *    one live mapping of the device.  SYNC_DIR_MISMATCH: the direction
 *    differs from the mapping's (BIDIRECTIONAL mappings accept any).
 *    SYNC_CPU_ON_TO_DEVICE: a sync for the CPU with FROM_DEVICE or
 *    BIDIRECTIONAL on a TO_DEVICE mapping (Linux's "device read-only DMA
 *    memory for cpu"); SYNC_DEVICE_ON_FROM_DEVICE is its mirror ("device
 *    write-only DMA memory to device").  These two replace the
 *    SYNC_DIR_MISMATCH Linux also prints for the same call.
 *  - SG_SEGMENT_TOO_LONG, SG_CROSSES_BOUNDARY: each bus segment of a
 *    mapped list against the device's max_segment_size and segment
 *    boundary mask.
 *  - OVERLAP_CACHELINE: a streaming mapping the device may write (not
 *    TO_DEVICE) shares a cache line (64 bytes) with another such live
 *    mapping, of any device, unless mapped with DMAMAP_ATTR_SKIP_CPU_SYNC
 *    (Linux's rule, applied to every line, not only the first).
 *  - LEAK_AT_REMOVE: one report per mapping or allocation still live when
 *    its device is removed.
 *  - POOL_DESTROY_BUSY: dmamap_pool_destroy with blocks still allocated.
 *  - DEVICE_ACCESS_AFTER_UNMAP: the device read or wrote a bus range no
 *    live mapping of it covers (after its unmap, or never mapped).  Only
 *    the hardware sees device accesses: the platform's debug hooks
 *    (platform.h, struct dmamap_debug_hw_ops) are told every live range
 *    and hand back the accesses outside them; the checker collects them
 *    at the device's next library call, at dmamap_debug_poll and when
 *    reports are read.  The origin is the most recent mapping of the
 *    device that covered the address (the last DMAMAP_DEBUG_KEEP unmaps
 *    are remembered).  A platform without the hooks reports none.
 *  - CPU_READ_BEFORE_SYNC: the CPU may not read device-written data that
 *    no sync made visible.  CPU loads are plain memory reads nobody can
 *    intercept, so the driver declares a read with
 *    dmamap_debug_cpu_access() just before it; a read not declared is
 *    not checked.  Two facts are asked: whether
 *    a live FROM_DEVICE or BIDIRECTIONAL mapping of the device covering
 *    the range is owned by the device (no sync for the CPU since the map
 *    or the last sync for the device: an API violation even on coherent
 *    hardware), and whether the platform's cache says lines of the range
 *    hold data a non-coherent device wrote that the CPU has not
 *    invalidated (the hardware truth: catches partial syncs, syncs with
 *    the wrong direction on BIDIRECTIONAL mappings, device writes after
 *    the sync, unmaps with SKIP_CPU_SYNC).  One report per call.
 *    Ownership is per mapping, not per byte.
 *
 * Thread safety: every call may be made from any thread.  The report
 * callback runs on the thread whose call was found faulty, with no
 * library lock held, and must not call into the library.
 */
#ifndef DMAMAP_DEBUG_H
#define DMAMAP_DEBUG_H

#include <dmamap/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

enum dmamap_debug_kind {
	DMAMAP_DEBUG_ANY = 0, /* dmamap_debug_count: every kind */
	DMAMAP_DEBUG_UNMAP_NOT_MAPPED,
	DMAMAP_DEBUG_SIZE_MISMATCH,
	DMAMAP_DEBUG_DIR_MISMATCH,
	DMAMAP_DEBUG_KIND_MISMATCH,
	DMAMAP_DEBUG_SG_COUNT_MISMATCH,
	DMAMAP_DEBUG_CPU_ADDR_MISMATCH,
	DMAMAP_DEBUG_ERROR_NOT_CHECKED,
	DMAMAP_DEBUG_STACK_OR_INVALID,
	DMAMAP_DEBUG_SYNC_NOT_MAPPED,
	DMAMAP_DEBUG_SYNC_OUT_OF_RANGE,
	DMAMAP_DEBUG_SYNC_DIR_MISMATCH,
	DMAMAP_DEBUG_SYNC_CPU_ON_TO_DEVICE,
	DMAMAP_DEBUG_SYNC_DEVICE_ON_FROM_DEVICE,
	DMAMAP_DEBUG_SG_SEGMENT_TOO_LONG,
	DMAMAP_DEBUG_SG_CROSSES_BOUNDARY,
	DMAMAP_DEBUG_OVERLAP_CACHELINE,
	DMAMAP_DEBUG_LEAK_AT_REMOVE,
	DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC,
	DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP,
	DMAMAP_DEBUG_POOL_DESTROY_BUSY,
	DMAMAP_DEBUG_NR_KINDS
};

#define DMAMAP_DEBUG_KEEP 256 /* reports (and unmaps) remembered */

struct dmamap_debug_report {
	enum dmamap_debug_kind kind;
	char device[48];   /* the device's name (truncated) */
	/*
	 * Where the mapping concerned was made ("file:line" or
	 * "pc BINARY+0xOFFSET"); for a call that concerns no mapping (an
	 * unmap of nothing, a stray device access), where that call came
	 * from, or "unknown".
	 */
	char origin[192];
	int line;          /* the line of origin, 0 when it is a code address */
	char msg[384];     /* what happened and what was expected */
};

/* True when the context's checker is on. */
bool dmamap_debug_enabled(const struct dmamap_ctx *ctx);
/* "UNMAP_NOT_MAPPED", ...; "ANY" for 0, "?" out of range. */
const char *dmamap_debug_kind_name(enum dmamap_debug_kind kind);

typedef void (*dmamap_debug_fn)(void *priv,
				const struct dmamap_debug_report *r);
/* Replaces the report callback (NULL: none).  -EINVAL when the checker is off. */
int dmamap_debug_set_callback(struct dmamap_ctx *ctx, dmamap_debug_fn fn,
			      void *priv);

/*
 * Collects what the platform saw devices do outside their live mappings
 * (DEVICE_ACCESS_AFTER_UNMAP).  Returns the number of new reports.
 */
unsigned int dmamap_debug_poll(struct dmamap_ctx *ctx);
/* Reports of `kind` (DMAMAP_DEBUG_ANY: all) since creation or the last
 * clear; polls first.  0 when the checker is off. */
uint64_t dmamap_debug_count(struct dmamap_ctx *ctx,
			    enum dmamap_debug_kind kind);
/*
 * Copies the most recent reports, oldest first, at most max and at most
 * DMAMAP_DEBUG_KEEP; returns how many were copied.  Polls first.
 */
unsigned int dmamap_debug_reports(struct dmamap_ctx *ctx,
				  struct dmamap_debug_report *out,
				  unsigned int max);
/* Forgets reports and counts (not the live mappings). */
void dmamap_debug_clear(struct dmamap_ctx *ctx);

/*
 * The driver is about to read [cpu, cpu + len) with the CPU: reports
 * CPU_READ_BEFORE_SYNC when a live mapping of dev covering it is owned by
 * the device, or when the platform says the CPU would read stale lines.
 * Returns 1 when it reported, else 0 (always 0 with the checker off).
 */
int dmamap_debug_cpu_access(struct dmamap_device *dev, const void *cpu,
			    size_t len);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_DEBUG_H */
