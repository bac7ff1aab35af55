/*
 * tools/wlenv.h - the environment a workload runs in, and where its bus
 * addresses land.
 *
 * Owns: struct wl_env (what a driver is handed: the machine, its device,
 * the device's windows, IOMMU domain or hypervisor) and the one rule that
 * classifies a mapping as bounced: the bus address lands somewhere other
 * than the buffer (wl_bus_to_phys, wl_bounced).  The workloads, the trace
 * writer and the replayer all classify through it, so a trace and a replay
 * call "bounced" exactly what the workload did.  Also the contract both
 * sides of a workload keep: the data stream every byte derives from
 * (wl_pattern_fill) and the frames a domU has (WL_XEN_DOMU_PAGES).
 * Must never include trace.h or workloads.h (both include this: it is the
 * bottom of the tools' include graph), decide DMA policy, or look inside
 * the library: it reads the simulator's translation, nothing else.
 */
#ifndef DMAMAP_TOOLS_WLENV_H
#define DMAMAP_TOOLS_WLENV_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <dmamap/dma.h>

/* Frames of each domU a xen-backend workload serves (16 MiB): the machine
 * creates them, the workload's frontend grants from them. */
#define WL_XEN_DOMU_PAGES 4096

struct dmamap_device;
struct rpt_device;
struct sim_device;
struct sim_machine;
struct sim_xen;
struct trace;

struct wl_env {
	struct sim_machine *m;
	struct sim_device *sd;
	struct dmamap_device *dev;
	/* The device's interconnect windows (bus -> CPU physical); 0: identity. */
	const struct dmamap_dma_range *ranges;
	unsigned int nranges;
	/* Behind an IOMMU: bus addresses are IOVAs of this domain (0: none),
	 * except a bypass window from this offset (0: none). */
	int iommu_domain;
	uint64_t bypass;
	/*
	 * Under a hypervisor (NULL: bare metal).  Bus addresses are machine
	 * addresses unless the hypervisor's IOMMU covers the device
	 * (xen_iommu): then they are the OS's guest-physical addresses.
	 * domid: the domU a xen-backend workload serves (0: none).
	 */
	struct sim_xen *xen;
	bool xen_iommu;
	uint16_t domid;
	uint64_t seed;
	struct rpt_device *out;       /* counters and marks are added here */
	/* Progress: called every few thousand operations with the ops done. */
	void (*tick)(void *priv, uint64_t ops);
	void *tick_priv;
	/* Non-NULL: once *stop is nonzero (a signal arrived), the workload stops
	 * after the iteration under way, releasing what it holds. */
	const volatile sig_atomic_t *stop;
	uint64_t ops;                 /* map + unmap calls made (accumulated) */
	/* Non-NULL: every library call, CPU write and check of a buffer, and
	 * device access is also written to this trace (trace.h).  NULL costs
	 * one predicted branch per operation. */
	struct trace *tr;
	/* The first thing that went wrong, for the report's problems list. */
	char problem[256];
};

/* Physical address the device reaches at bus address bus (through its
 * windows; under a hypervisor, the OS's guest-physical address of the
 * machine frame reached), or UINT64_MAX when no window covers it or the
 * frame is none of the OS's. */
uint64_t wl_bus_to_phys(const struct wl_env *e, dmamap_dma_addr_t bus);

/*
 * True when the mapping of the CPU buffer at cpu to bus does not land on
 * the buffer itself: the library bounced it.  at (may be NULL) gets
 * wl_bus_to_phys(e, bus).
 */
bool wl_bounced(const struct wl_env *e, const void *cpu, dmamap_dma_addr_t bus, uint64_t *at);

/* ---- the data stream ---------------------------------------------------- */

static inline uint64_t wl_pattern_word(uint64_t seed, uint64_t k)
{
	uint64_t z = seed * 0x9e3779b97f4a7c15ULL + k * 0xbf58476d1ce4e5b9ULL + 1;
	z = (z ^ (z >> 31)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 29);
}

/*
 * Bytes [off, off + n) of the data stream `seed` (every workload's data)
 * into b.  Inline: the workloads fill and check every byte they move with
 * it, and a replay re-creates the same bytes.
 */
static inline void wl_pattern_fill(uint8_t *b, size_t n, uint64_t seed, uint64_t off)
{
	size_t i = 0;
	while (i < n && ((off + i) & 7)) {
		uint64_t w = wl_pattern_word(seed, (off + i) >> 3);
		b[i] = (uint8_t)(w >> (8 * ((off + i) & 7)));
		i++;
	}
	for (; i + 8 <= n; i += 8) {
		uint64_t w = wl_pattern_word(seed, (off + i) >> 3);
		memcpy(b + i, &w, 8); /* little-endian hosts: byte j = w >> 8j */
	}
	for (; i < n; i++) {
		uint64_t w = wl_pattern_word(seed, (off + i) >> 3);
		b[i] = (uint8_t)(w >> (8 * ((off + i) & 7)));
	}
}

#endif
