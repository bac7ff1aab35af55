/*
 * dmamap/vfio.h - libdmamap-vfio: the Linux VFIO platform, a real machine
 * behind struct dmamap_platform.
 *
 * Owns: opening one PCI function that is bound to vfio-pci (container,
 * group, device), the pinned memory the library treats as RAM (the
 * "arena"), and the platform ops over them: type1 VFIO_IOMMU_MAP_DMA /
 * UNMAP_DMA as the IOMMU driver, the VFIO region mmap as the BARs.  Must
 * never contain DMA policy: which IOVA a buffer gets, whether it bounces,
 * strict or lazy invalidation are the library's (src/) decisions.
 *
 * Physical addresses.  A userspace process has no physical addresses that
 * a type1 IOMMU wants: VFIO_IOMMU_MAP_DMA takes a process virtual address
 * and pins what is behind it.  So the platform's "physical" address space
 * is the arena: phys = DMAMAP_VFIO_PHYS_BASE + (cpu - arena start).  The
 * arena is one mmap'd, mlock'd, pre-faulted block (2 MiB hugetlb pages
 * when the system has them, else 4 KiB pages), so every "physical" page
 * stays where it is for the arena's life, and the IOMMU op turns phys back
 * into the virtual address VFIO wants.  Everything a device may reach
 * (driver buffers, queues, the bounce pool, coherent allocations) lives
 * in the arena: dmamap_vfio_alloc() gives drivers their buffers from it.
 *
 * Errors: every call returns 0 or a negative errno; open failures also
 * write one line into the caller's buffer naming the path or ioctl, the
 * errno and the likely cause (module not loaded, device not bound to
 * vfio-pci, group not viable, no permission).
 */
#ifndef DMAMAP_VFIO_H
#define DMAMAP_VFIO_H

#include <stddef.h>

#include <dmamap/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the arena's first byte lies in the platform's physical space. */
#define DMAMAP_VFIO_PHYS_BASE 0x100000ULL
/* The IOMMU id and domain the platform's one device is in. */
#define DMAMAP_VFIO_IOMMU_ID 1
#define DMAMAP_VFIO_DOMAIN 1

struct dmamap_vfio;

struct dmamap_vfio_opts {
	/* Roots, for tests: NULL means "/sys" and "/dev". */
	const char *sysfs_root;
	const char *dev_root;
	/* Arena bytes (0: 32 MiB); rounded up to 2 MiB. */
	uint64_t arena_bytes;
	/* Never try hugetlb pages for the arena. */
	bool no_hugetlb;
	/* Optional log of what was opened (the platform is silent otherwise). */
	dmamap_log_fn log;
	void *log_priv;
};

/*
 * Opens PCI function `bdf` ("0000:00:04.0") bound to vfio-pci: container,
 * group, IOMMU (type1v2, else type1), device; maps the arena.  0 and
 * *out, or a negative errno with a one-line reason in err (which may be
 * NULL): -ENOENT (no /dev/vfio/vfio, no such device in sysfs, no group
 * node), -ENXIO (the device is bound to another driver, or none), -ENODEV (no IOMMU group: the IOMMU is off or in passthrough),
 * -EACCES/-EPERM (no permission on a node), -EBUSY (group not viable:
 * another device of the group is bound to a host driver, or the group is
 * open elsewhere), -ENOTTY (a node that is not VFIO's), -ENOMEM (arena).
 */
int dmamap_vfio_open(const char *bdf, const struct dmamap_vfio_opts *opts,
		     struct dmamap_vfio **out, char *err, size_t errlen);
/* Closes everything; the context using the platform must be gone. */
void dmamap_vfio_close(struct dmamap_vfio *v);

/* The platform to give dmamap_ctx_create (lives as long as v). */
const struct dmamap_platform *dmamap_vfio_platform(struct dmamap_vfio *v);
/*
 * A device description for dmamap_device_add: PCI, coherent (x86), behind
 * the type1 IOMMU (DMAMAP_VFIO_IOMMU_ID / _DOMAIN), its BARs reachable
 * through the MMIO hooks, and every IOVA outside the ranges the kernel
 * reported as usable (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: the MSI
 * window, reserved regions) kept out of the allocator.  The caller may
 * then set untrusted, masks, a name.
 */
void dmamap_vfio_device_desc(struct dmamap_vfio *v,
			     struct dmamap_device_desc *desc);

/*
 * Pinned driver memory from the arena (page-aligned, zeroed): what a
 * driver maps with dmamap_map_single and friends.  NULL when full.
 */
void *dmamap_vfio_alloc(struct dmamap_vfio *v, size_t size);
void dmamap_vfio_free(struct dmamap_vfio *v, void *cpu, size_t size);

/* PCI configuration space (size 1, 2 or 4). */
int dmamap_vfio_config_read(struct dmamap_vfio *v, uint32_t off,
			    unsigned int size, uint32_t *val);
int dmamap_vfio_config_write(struct dmamap_vfio *v, uint32_t off,
			     unsigned int size, uint32_t val);
/* Sets Memory Space and Bus Master in the command register. */
int dmamap_vfio_enable_bus_master(struct dmamap_vfio *v);

/* What the platform did, for a driver's log. */
struct dmamap_vfio_stats {
	uint64_t map_dma;       /* VFIO_IOMMU_MAP_DMA calls that succeeded */
	uint64_t unmap_dma;     /* VFIO_IOMMU_UNMAP_DMA calls that unmapped bytes */
	uint64_t iotlb_syncs;   /* iotlb_sync / flush_all calls from the library */
	uint64_t live_mappings; /* IOVA ranges mapped now */
	bool hugetlb;           /* the arena is in hugetlb pages */
	uint64_t arena_bytes;
	uint64_t iova_pgsizes;  /* from VFIO_IOMMU_GET_INFO */
	unsigned int group;     /* the IOMMU group number */
};
void dmamap_vfio_get_stats(struct dmamap_vfio *v, struct dmamap_vfio_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* DMAMAP_VFIO_H */
