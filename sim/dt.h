/*
 * sim/dt.h - flattened device trees as platform descriptions (firmware).
 *
 * Owns: reading a tree (an FDT blob, a /proc/device-tree directory, a .dts
 * through cpp and dtc), and turning it into facts: RAM, reserved-memory
 * regions, /chosen bootargs, the Xen /hypervisor node, ZONE_DMA's input
 * (of_dma_get_max_cpu_address), and for every node Linux's
 * of_dma_configure_id answer: DMA parent, windows and the node that gave
 * them, limit, coherency, IOMMU links (PCI: by requester ID through the
 * host's iommu-map), restricted pool, and whether Linux creates it.
 *
 * Must never decide DMA policy: it reports what the tree says (an IOMMU
 * link to a disabled IOMMU is reported, marked disabled; bootargs are passed
 * on as a string, never interpreted).  Never includes anything from src/.
 *
 * Errors are one line: "<file>: <node path>: <what is wrong>", or dtc's own
 * "<file>:<line>..." message for .dts syntax errors.
 */
#ifndef DMAMAP_SIM_DT_H
#define DMAMAP_SIM_DT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sim.h"

enum sim_dt_rmem_kind {
	SIM_DT_RMEM_OTHER = 0,
	SIM_DT_RMEM_RESTRICTED = 1, /* compatible "restricted-dma-pool" */
	SIM_DT_RMEM_SHARED = 2,     /* compatible "shared-dma-pool" */
};

struct sim_dt_rmem {
	char *path;          /* "/reserved-memory/foo@..." */
	char *name;          /* last path component */
	uint64_t base;       /* 0 for a dynamic (size-only) region */
	uint64_t size;
	bool dynamic;        /* no reg: "size" (+ alloc-ranges) only */
	enum sim_dt_rmem_kind kind;
	bool no_map;
	bool reusable;
	uint32_t phandle;    /* 0: none */
};

struct sim_dt_iommu_map {
	uint32_t rid_base;
	uint32_t iommu_phandle;
	uint32_t iommu_base;
	uint32_t length;
	bool iommu_enabled;  /* the target IOMMU node's status */
	char *iommu_path;
	uint64_t iommu_page_sizes; /* from the IOMMU's compatible; 0: unknown */
};

#define SIM_DT_MAX_IOMMU_CELLS 4
#define SIM_DT_MAX_IOMMU_MAP 16

/* What of_dma_configure_id finds from one starting node. */
struct sim_dt_dma {
	char *dma_parent;    /* where the walk starts (path), NULL: none */
	char *via;           /* the node whose dma-ranges gave the windows; NULL: 1:1 */
	struct dmamap_dma_range ranges[DMAMAP_MAX_DMA_RANGES];
	unsigned int nranges;
	uint64_t bus_dma_limit; /* dma_range_map_max; 0: no windows */
	bool coherent;
	/* dma-ranges found, but no entry translated to the root: 1:1 as Linux. */
	bool untranslatable;
};

/*
 * One node's answer.  Every available node with a compatible and every
 * node below a PCI host bridge has one (Linux's answer for it, whether or
 * not Linux creates a device for it: `master` says whether it does).
 */
struct sim_dt_device {
	char *path;
	char *compatible;    /* first string, or NULL (PCI nodes may lack one) */
	/*
	 * true for a PCI host bridge (device_type "pci") and every PCI node
	 * below one.  A host bridge's top-level answer is its own (a platform
	 * device); `behind` is what a device on its bus gets, and a scenario
	 * device named by a host bridge's path is such a device.
	 */
	bool is_pci;
	bool pci_host;       /* device_type "pci" and not below another host */
	bool is_pci_dev;     /* a PCI function in the tree, below a host */
	int host;            /* is_pci_dev: index of its host bridge; else -1 */
	bool has_rid;        /* is_pci_dev: requester ID from reg */
	uint32_t rid;
	bool master;         /* Linux creates a device and configures its DMA */
	bool dma_user;       /* a master a driver moves data with (dt.c says how) */
	bool coherent;       /* of_dma_is_coherent along the DMA parents */
	char *dma_parent;    /* where of_dma_get_range starts (path) */
	char *via;           /* node whose dma-ranges gave the windows; NULL: 1:1 */
	bool untranslatable; /* dma-ranges that reach no CPU address: 1:1 */
	/* Windows (bus -> CPU); 0: bus == phys, no limit. */
	struct dmamap_dma_range ranges[DMAMAP_MAX_DMA_RANGES];
	unsigned int nranges;
	uint64_t bus_dma_limit; /* highest bus address of the windows; 0: none */
	struct sim_dt_dma behind; /* pci_host only */
	uint32_t iommu_map_mask;  /* pci_host: iommu-map-mask (default all ones) */
	char *iommu_compatible;   /* the iommus target's first compatible */
	uint64_t iommu_page_sizes; /* from that compatible; 0: unknown */

	/* First "iommus" entry (has_iommu false: none). */
	bool has_iommu;
	uint32_t iommu_phandle;
	char *iommu_path;    /* NULL if unresolved */
	bool iommu_enabled;  /* the IOMMU node's status is "okay"/absent */
	uint32_t iommu_cells[SIM_DT_MAX_IOMMU_CELLS];
	unsigned int iommu_ncells;

	/* PCI "iommu-map" (rid-base, iommu, iommu-base, length). */
	struct sim_dt_iommu_map iommu_map[SIM_DT_MAX_IOMMU_MAP];
	unsigned int niommu_map;

	/* memory-region references, indexes into sim_dt.rmem (-1: none). */
	int restricted_pool; /* the first restricted-dma-pool one */
	int shared_pool;     /* the first shared-dma-pool one */
};

struct sim_dt {
	char *file;
	char *root_compatible;        /* first string, or NULL */
	struct sim_ram_range *ram;    /* sorted, merged */
	unsigned int nram;
	struct sim_dt_rmem *rmem;
	unsigned int nrmem;
	char *bootargs;               /* /chosen bootargs, or NULL */
	bool xen;                     /* /hypervisor compatible "xen,xen" */
	unsigned int ncpus;           /* /cpus children with device_type "cpu" */
	struct sim_dt_device *devices;
	unsigned int ndevices;
	/* of_dma_get_max_cpu_address(NULL); UINT64_MAX: no dma-ranges */
	uint64_t max_cpu_address;
};

/*
 * of_map_id on a host bridge's iommu-map: the entry requester ID rid goes
 * to (NULL: none, so no IOMMU), *id the ID the IOMMU sees.
 */
const struct sim_dt_iommu_map *sim_dt_map_rid(const struct sim_dt_device *host,
					      uint32_t rid, uint32_t *id);

/*
 * Loads a tree from any of the forms a board engineer has: an FDT blob of
 * any name (recognised by its magic: a .dtb, /sys/firmware/fdt), a
 * directory of nodes and property files (/proc/device-tree), or .dts
 * source (by extension or a leading "/dts-v1/"), compiled with
 * `dtc -I dts -O dtb`; source that uses the C preprocessor (#include,
 * #define, #if) first goes through `cpp -nostdinc -undef -D__DTS__ -x
 * assembler-with-cpp` as the kernel's build does, with -I for the file's
 * folder and each include directory.  0, or a negative errno with a
 * one-line message in err: -ENOENT (missing file), -EINVAL (malformed
 * tree, unsupported cells, a missing #include: "FILE:LINE: #include
 * <NAME> not found ..."), -ENOMEM.
 */
struct sim_dt_load_opts {
	const char *const *include; /* -I directories for cpp (may be NULL) */
	unsigned int ninclude;
};
int sim_dt_load_ex(const char *path, const struct sim_dt_load_opts *o,
		   struct sim_dt **out, char *err, size_t errlen);
/* sim_dt_load_ex with no include directories. */
int sim_dt_load(const char *path, struct sim_dt **out, char *err,
		size_t errlen);
void sim_dt_free(struct sim_dt *dt);

/* The device with this exact path, or NULL. */
const struct sim_dt_device *sim_dt_find(const struct sim_dt *dt,
					const char *path);

/*
 * One line per fact, each starting with a keyword:
 *   file <path>
 *   ram 0x<first>-0x<last>
 *   reserved <path> 0x<first>-0x<last> <kind>[ no-map][ reusable]
 *   reserved <path> dynamic size 0x<size> <kind>...
 *   bootargs "<string>" | bootargs none
 *   hypervisor xen | hypervisor none
 *   device <path> <pci|platform> <coherent|non-coherent> <windows>
 *          iommu <path>#<cells> <enabled|disabled> | iommu none
 *          [iommu-map rid 0x..+0x.. -> <path>#0x.. <enabled|disabled>]...
 *          [restricted-pool <path> 0x..-0x..]
 * where <windows> is "identity (no dma-ranges)" or a comma-separated list
 * of "bus 0x..-0x.. -> cpu 0x..-0x..".  Addresses are inclusive.
 * Returns 0 or -EIO.
 */
int sim_dt_explain(const struct sim_dt *dt, FILE *out);

/*
 * A machine from the tree: arm64 unless the root compatible names an x86
 * vendor (intel, amd), RAM rounded inward to 4 KiB (none when the tree has
 * no /memory: firmware fills it in; the caller gives RAM and then calls
 * sim_dt_zone_dma), CPUs from /cpus, the DMA zone as arm64 sizes it (x86:
 * default).  0 or -EINVAL (memory with no whole page, more than
 * SIM_MAX_RAM_RANGES ranges).
 */
int sim_dt_machine_desc(const struct sim_dt *dt, struct sim_machine_desc *md,
			char *err, size_t errlen);
/*
 * md->zone_dma_limit for md's arch and RAM (arm64: zone_sizes_init's
 * ZONE_DMA from of_dma_get_max_cpu_address; x86: 0, the default).
 */
void sim_dt_zone_dma(const struct sim_dt *dt, struct sim_machine_desc *md);
/* A device description; name points into d (valid while the tree lives). */
void sim_dt_device_desc(const struct sim_dt_device *d, unsigned int addr_bits,
			struct sim_device_desc *out);

#endif /* DMAMAP_SIM_DT_H */
