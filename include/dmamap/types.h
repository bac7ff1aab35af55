/*
 * dmamap/types.h - the basic vocabulary shared by the driver API
 * (dma.h) and the platform API (platform.h).
 *
 * Owns: address-space types, directions, attributes, the mapping-error
 * value.  Must never hold behaviour: no functions here.
 *
 * Address spaces (DESIGN.md names, used everywhere):
 *   CPU pointer          what driver code dereferences (void *)
 *   dmamap_phys_addr_t   CPU / guest-physical address; frame = pfn
 *   machine address      the real physical address; frame = mfn
 *                        (equal to phys on bare metal)
 *   dmamap_dma_addr_t    the bus address a device emits
 */
#ifndef DMAMAP_TYPES_H
#define DMAMAP_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t dmamap_phys_addr_t;
typedef uint64_t dmamap_dma_addr_t;

/* Linux's value: all ones.  Never a valid bus address. */
#define DMAMAP_MAPPING_ERROR (~(dmamap_dma_addr_t)0)

/* DMAMAP_BIT_MASK(64) is all ones; n in 1..64. */
#define DMAMAP_BIT_MASK(n) ((n) >= 64 ? ~0ULL : ((1ULL << (n)) - 1))

#define DMAMAP_PAGE_SHIFT 12
#define DMAMAP_PAGE_SIZE (1UL << DMAMAP_PAGE_SHIFT)

/* Same numeric values as Linux's enum dma_data_direction. */
enum dmamap_data_direction {
	DMAMAP_BIDIRECTIONAL = 0,
	DMAMAP_TO_DEVICE = 1,
	DMAMAP_FROM_DEVICE = 2,
	DMAMAP_NONE = 3,
};

/*
 * Mapping attributes.  Bit values are Linux's DMA_ATTR_* values so a
 * trace taken from either reads the same.
 */
#define DMAMAP_ATTR_WEAK_ORDERING (1UL << 1)   /* accepted; no effect on the simulated bus */
#define DMAMAP_ATTR_WRITE_COMBINE (1UL << 2)   /* coherent allocs: CPU mapping write-combining */
#define DMAMAP_ATTR_NO_KERNEL_MAPPING (1UL << 4)
#define DMAMAP_ATTR_SKIP_CPU_SYNC (1UL << 5)   /* no cache maintenance / bounce copy-back */
#define DMAMAP_ATTR_FORCE_CONTIGUOUS (1UL << 6)
#define DMAMAP_ATTR_ALLOC_SINGLE_PAGES (1UL << 7)
#define DMAMAP_ATTR_NO_WARN (1UL << 8)         /* suppress "buffer is full" messages */
#define DMAMAP_ATTR_PRIVILEGED (1UL << 9)      /* IOMMU: supervisor-only access */
#define DMAMAP_ATTR_MMIO (1UL << 10)           /* the address is MMIO, never bounced */

#define DMAMAP_ATTR_KNOWN                                                     \
	(DMAMAP_ATTR_WEAK_ORDERING | DMAMAP_ATTR_WRITE_COMBINE |              \
	 DMAMAP_ATTR_NO_KERNEL_MAPPING | DMAMAP_ATTR_SKIP_CPU_SYNC |           \
	 DMAMAP_ATTR_FORCE_CONTIGUOUS | DMAMAP_ATTR_ALLOC_SINGLE_PAGES |       \
	 DMAMAP_ATTR_NO_WARN | DMAMAP_ATTR_PRIVILEGED | DMAMAP_ATTR_MMIO)

/* Log levels for the optional log callback (the library prints nothing). */
enum dmamap_log_level {
	DMAMAP_LOG_ERR = 3,
	DMAMAP_LOG_WARN = 4,
	DMAMAP_LOG_INFO = 6,
	DMAMAP_LOG_DEBUG = 7,
};

typedef void (*dmamap_log_fn)(void *priv, enum dmamap_log_level level,
			      const char *msg);

struct dmamap_ctx;
struct dmamap_device;

#endif /* DMAMAP_TYPES_H */
