/*
 * src/swiotlb-xen.h - Xen as the rest of the library sees it: detection,
 * the boot pool's exchange, the choice of swiotlb-xen, and a device's Xen
 * state (Linux's drivers/xen/swiotlb-xen.c and arch/x86/xen's DMA parts).
 *
 * Owns: struct dm_xen_dev and the calls core.c and policy.c make into
 * xen.c.  The ops tables are in backend.h.  Never talks to a hypervisor
 * itself: xen.c does, through the platform's hypervisor ops.
 */
#ifndef DM_SWIOTLB_XEN_H
#define DM_SWIOTLB_XEN_H

#include "context.h"

/* How swiotlb-xen finds a device's bus frames (xen.c). */
enum dm_xen_xlate {
	DM_XEN_XLATE_OFF = 0,     /* not swiotlb-xen */
	DM_XEN_XLATE_ONE_TO_ONE,  /* own frames 1:1, foreign ones from the grant record */
	DM_XEN_XLATE_P2M,         /* every frame through the hypervisor's p2m */
	DM_XEN_XLATE_UNKNOWN,     /* no way to know: maps fail */
};

/* A device in a Xen guest (dev->xen; NULL: the context is not one). */
struct dm_xen_dev {
	bool iommu;                      /* the hypervisor's IOMMU covers it */
	enum dm_xen_xlate xlate;         /* OFF unless its ops are swiotlb-xen */
};

static inline bool dm_xen_iommu(const struct dmamap_device *dev)
{
	return dev->xen && dev->xen->iommu;
}

/* At context create, after boot options: 0, -EINVAL, -ENOMEM. */
int dm_xen_init(struct dmamap_ctx *ctx);
/* Gives back the exchanged frames of the default pool (before it is freed). */
void dm_xen_fini_pool(struct dmamap_ctx *ctx);
void dm_xen_fini(struct dmamap_ctx *ctx);
/* Under Xen, whether the default pool is wanted at boot (0/1); -1: not
 * Xen's decision (the bare-metal rule applies). */
int dm_xen_want_swiotlb(const struct dmamap_ctx *ctx);
/* Makes the boot pool when Xen needs it exchanged: 0, -errno, or 1 when
 * the ordinary pool will do. */
int dm_xen_boot_pool(struct dmamap_ctx *ctx);
/*
 * At device add, before policy: its Xen state (dev->xen, when the context
 * is a Xen guest) and the late pool of a PV domU.  0 or -errno.
 */
int dm_xen_attach(struct dmamap_device *dev, const struct dmamap_device_desc *desc);
/* At device remove (and a failed add): frees dev->xen. */
void dm_xen_detach(struct dmamap_device *dev);
/*
 * Policy under Xen.  True: the device got swiotlb-xen (ops, name, reason
 * set).  False: the ordinary choice applies, its reason prefixed by
 * *prefix (never NULL).
 */
bool dm_xen_select(struct dmamap_device *dev, const char **prefix);

#endif /* DM_SWIOTLB_XEN_H */
