/*
 * src/bootargs.h - the kernel command line, as the library reads it.
 *
 * Owns: the parsed boot options (swiotlb=, iommu=, iommu.strict=,
 * iommu.forcedac=,
 * swiotlb_poison=, dma_debug=).  Never decides anything from them
 * (core.c, policy.c and the backends do).
 */
#ifndef DM_BOOTARGS_H
#define DM_BOOTARGS_H

#include <stdbool.h>
#include <stdint.h>

enum dm_iommu_mode {
	DM_IOMMU_DEFAULT = 0, /* translate when an IOMMU is present */
	DM_IOMMU_PT,          /* iommu=pt: identity (passthrough) domains */
	DM_IOMMU_NOPT,        /* iommu=nopt */
	DM_IOMMU_SOFT,        /* iommu=soft: use the software bounce pool */
	DM_IOMMU_OFF,         /* iommu=off */
};

struct dm_bootopts {
	bool swiotlb_set;         /* swiotlb=<slabs> given */
	uint64_t swiotlb_nslabs;  /* rounded up to a 128-slot segment */
	unsigned int swiotlb_nareas; /* 0: not given; else a power of two */
	bool swiotlb_force;       /* swiotlb=...,force */
	bool swiotlb_noforce;     /* swiotlb=noforce: no swiotlb at all */
	enum dm_iommu_mode iommu_mode;
	int iommu_strict;         /* -1 unset, 0 lazy, 1 strict */
	bool iommu_forcedac;      /* iommu.forcedac=1: no 32-bit IOVA first */
	int swiotlb_poison;       /* swiotlb_poison=0|1 (swiotlb.c, exhaust.h); -1 unset */
	/* ---- DMA API checker (debug.c): dma_debug=on|off ---- */
	bool dma_debug_set;       /* dma_debug= given */
	bool dma_debug;           /* its value */
};

/*
 * Parses a kernel command line.  Words it does not know are ignored (a
 * command line carries many subsystems' options); a malformed value of a
 * known option is -EINVAL with *bad_word pointing at it.
 */
int dm_parse_bootargs(const char *args, struct dm_bootopts *o,
		      const char **bad_word);

#endif /* DM_BOOTARGS_H */
