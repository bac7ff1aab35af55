/*
 * dmamap/sim/kit.h - the driver test kit: run a Linux driver's DMA code
 * (written against <dmamap/linux-compat.h>) on a simulated machine, drive
 * its rx/tx from a test, and read the DMA API checker's reports.
 *
 * Owns: a machine (RAM below and above 4 GiB, or a device tree), a
 * libdmamap context with the checker on, "probe" of a driver's embedded
 * struct device onto a simulated device (address width, coherency, an
 * IOMMU domain, a tree node's windows), "unbind" (dmam_ resources
 * released as devres does, then leaks reported), Linux's kmalloc/kfree
 * and page allocator over the machine's RAM, and the hooks
 * linux-compat.h needs (physical addresses, barriers, CPU reads declared
 * to the checker).  Must never decide DMA policy (the library's) nor model
 * hardware (the simulator's): it only wires the two together as a bus
 * and firmware would.
 *
 * One kit at a time per process: Linux's kmalloc and the compat hooks
 * have no device argument, so they use the kit made last.
 * Installed with libdmamap-kit (pkg-config dmamap-kit, CMake dmamap::kit).
 */
#ifndef DMAMAP_SIM_KIT_H
#define DMAMAP_SIM_KIT_H

#include <stdio.h>

#include <dmamap/linux-compat.h>
#include <dmamap/platform.h>

#include <dmamap/sim/sim.h>

struct dmamap_kit;

struct dmamap_kit_opts {
	/* RAM: [0, low_gib) and [4 GiB, 4 GiB + high_gib) (0 and 0: 3 and 1). */
	unsigned int low_gib, high_gib;
	/* A device tree instead (its RAM, CPUs and /chosen bootargs). */
	const char *dts;
	/* Kernel command line (after the tree's): swiotlb=, iommu.strict=... */
	const char *bootargs;
	/* One IOMMU, so devices can be bound behind it (bind's iommu). */
	bool iommu;
	/* kmalloc/alloc_pages from RAM above 4 GiB (else below). */
	bool kmalloc_high;
	/* The checker is on unless this is set. */
	bool checker_off;
};

/* 0, or a negative errno with a line in err (a bad tree, no memory). */
int dmamap_kit_create(const struct dmamap_kit_opts *o, struct dmamap_kit **out, char *err,
		      size_t errlen);
/* Every device must be unbound first: -EBUSY otherwise (nothing freed). */
int dmamap_kit_destroy(struct dmamap_kit *kit);

struct dmamap_kit_dev_opts {
	const char *name;
	enum dmamap_bus bus;
	unsigned int addr_bits; /* the DMA engine's real width (0: 64) */
	bool coherent;
	bool iommu;             /* in a translated domain of the kit's IOMMU */
	const char *dt_node;    /* with a tree: windows and coherency of this node */
};

/*
 * Probe: a new simulated device, its library device, and dev (embedded
 * in the driver's bus structure) initialised to stand for it
 * (dmamap_linux_device_init).  0, -EINVAL (no IOMMU, unknown node),
 * -ENOSPC (too many devices) or the library's error.
 */
int dmamap_kit_bind(struct dmamap_kit *kit, struct device *dev,
		    const struct dmamap_kit_dev_opts *o);
/*
 * The device goes away: dmam_ resources released (newest first), the
 * library device removed; what is still mapped or allocated is a leak,
 * counted into *leaked (may be NULL) and reported by the checker
 * (LEAK_AT_REMOVE).  0 or -ENOENT (not bound).
 */
int dmamap_kit_unbind(struct dmamap_kit *kit, struct device *dev, uint64_t *leaked);

/* The hardware side of a bound device: sim_dma_read/sim_dma_write on it. */
struct sim_device *dmamap_kit_hw(struct dmamap_kit *kit, struct device *dev);
struct sim_machine *dmamap_kit_machine(struct dmamap_kit *kit);
struct dmamap_ctx *dmamap_kit_ctx(struct dmamap_kit *kit);
/* The IOMMU's id (0: none), for sim_iommu_get_stats / sim_iommu_faults. */
int dmamap_kit_iommu(struct dmamap_kit *kit);

/*
 * The checker's reports since creation or the last check: each printed to
 * out (may be NULL) as "dma-debug: KIND: device: origin ORIGIN: message",
 * then forgotten.  Returns how many there were: a test asserts 0, or the
 * exact number it provoked.
 */
unsigned int dmamap_kit_check(struct dmamap_kit *kit, FILE *out);
/* Reports of one kind (DMAMAP_DEBUG_ANY: all) not yet checked. */
uint64_t dmamap_kit_count(struct dmamap_kit *kit, enum dmamap_debug_kind kind);
/* Copies the unchecked reports (oldest first, at most max). */
unsigned int dmamap_kit_reports(struct dmamap_kit *kit, struct dmamap_debug_report *out,
				unsigned int max);

/* ---- Linux's allocators, over the machine's RAM ---------------------------------- */

/*
 * Whole pages, so two buffers never share a cache line (Linux's kmalloc
 * aligns to ARCH_KMALLOC_MINALIGN for the same reason).  Placed where
 * kmalloc_high says.  NULL when RAM is exhausted or no kit exists.
 */
void *kmalloc(size_t size, gfp_t gfp);
void *kzalloc(size_t size, gfp_t gfp);
void kfree(const void *p);
struct page *alloc_pages(gfp_t gfp, unsigned int order);
void __free_pages(struct page *page, unsigned int order);
#define alloc_page(gfp) alloc_pages(gfp, 0)
#define __free_page(page) __free_pages(page, 0)

#endif /* DMAMAP_SIM_KIT_H */
