/*
 * dmamap/xen.h - what a Xen guest's drivers and system code ask of the
 * library beyond the DMA API: foreign (grant-mapped) pages that backends
 * hand to devices, and swiotlb-xen's figures.
 *
 * Owns: the public calls of src/xen.c.  Must never expose how the
 * hypervisor is modelled (sim/) or which frames back which pages.
 *
 * Why grant mapping lives here: a foreign page's machine frame is known
 * only at the moment it is mapped (Xen returns it), and swiotlb-xen needs
 * it later to give a device the right bus address.  Mapping through the
 * library records it, as Linux's grant-table code records it for
 * swiotlb-xen.
 */
#ifndef DMAMAP_XEN_H
#define DMAMAP_XEN_H

#include <dmamap/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

#pragma GCC visibility push(default)

/*
 * Maps the page domain domid granted as gref.  *cpu (may be NULL) and
 * *phys receive the foreign page's CPU pointer and guest-physical
 * address, which the DMA API then accepts like any page.  0, -EINVAL
 * (bad arguments), -ENODEV (not a Xen guest, or no grant_map hook), or
 * the hypervisor's error (-ENOENT bad grant, -EPERM, -ENOSPC).
 */
int dmamap_xen_grant_map(struct dmamap_ctx *ctx, uint16_t domid,
			 uint32_t gref, bool readonly, void **cpu,
			 dmamap_phys_addr_t *phys);
/* 0, -EINVAL (phys is not a page this context grant-mapped), -ENODEV. */
int dmamap_xen_grant_unmap(struct dmamap_ctx *ctx, dmamap_phys_addr_t phys);

struct dmamap_xen_stats {
	enum dmamap_xen_mode mode;
	bool swiotlb_xen;            /* some device uses swiotlb-xen */
	bool pool_late;              /* the bounce pool was made after boot */
	uint64_t pool_bytes;         /* default bounce pool (0: none) */
	/* Memory the library exchanged for machine-contiguous frames (the
	 * hypervisor's low memory, seed 003), and its calls. */
	uint64_t exchanged_bytes;
	uint64_t exchange_calls;
	uint64_t exchange_failures;  /* calls refused (-ENOMEM): retried wider or smaller */
	uint64_t foreign_pages;      /* grant-mapped pages alive */
	uint64_t foreign_maps;       /* streaming maps that hit a foreign page */
	uint64_t straddle_bounces;   /* bounced: frames not machine-contiguous */
	uint64_t reach_bounces;      /* bounced: beyond the device's reach (not straddling) */
	uint64_t cache_flush_calls;  /* hypervisor cache flushes (foreign pages) */
};
void dmamap_xen_get_stats(struct dmamap_ctx *ctx, struct dmamap_xen_stats *st);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_XEN_H */
