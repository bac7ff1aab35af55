/*
 * tools/scenario.h - scenario files (YAML) for `dmamap run` / `explain`:
 * the parsed form.
 *
 * Owns: the scenario file format's C shape and its loader.  It only parses
 * and validates: it never touches the library's or the simulator's state,
 * never opens the device tree (platform.dt is only a resolved path) and
 * never runs anything.
 *
 * Format (keys are a contract; unknown keys at any level are errors):
 *
 *   name: <string>                                   required
 *   platform:                                        required
 *     dt: <path>.dts|.dtb     relative to the scenario file's folder
 *     ram: [{base: N, size: N}, ...]                 required if no dt
 *     iommus: [{name: S, page_sizes: [N, ...], window: N, bypass: N,
 *               linear: B}, ...]
 *     devices: [{name: S, dma_bits: 1..64, bus: pci|platform,
 *                coherent: B, iommu: S, domain: S, hotplug: B, untrusted: B,
 *                restricted_pool: N, dma_ranges: [{cpu: N, dma: N, size: N}],
 *                bus_dma_limit: N}, ...]           name, dma_bits required
 *   hypervisor: {type: xen, arch: x86|arm, domain: dom0|domU,
 *                mode: pv|pvh|hvm (x86 only),
 *                features: [direct_mapped|not_direct_mapped|dom0_iommu|
 *                           p2m_query...],
 *                p2m: identity|scattered|colored, policy: linux|per-device,
 *                lowmem: N (bytes, 4 KiB multiple, at most 4G),
 *                host_ram: [{base: N, size: N}, ...],
 *                colors: 2..64 (power of two; p2m colored only),
 *                os_colors: N (mask of the OS's colours; p2m colored only),
 *                seed: N (p2m scattered only), domus: 0..16 (dom0 only)}
 *   bootargs: <string>
 *   workloads: [{device: S, kind: nic|blk|gpu|xen-backend|adversarial,
 *                count: N, size: N, buffers: any|low|high, seed: N,
 *                dir: to|from|bidi, segments: N, max_segment_size: N,
 *                boundary: N}, ...]                 device, kind required
 *   expect: [{device: S, <counter>: N | ">N" | "<N" | ">=N" | "<=N"
 *             | "==N" | "!=N", ...}, ...]
 *
 * Numbers: decimal or 0x hex, optionally followed by one of K, M, G, T
 * (powers of 1024, either case).  Booleans: true/false (yes/no).
 *
 * Hypervisor checks the file alone allows are made here: colors and
 * os_colors need p2m: colored written, seed needs p2m scattered (written,
 * or mode pv, whose default it is), os_colors must fit in colors (16 when
 * not given), domus and xen-backend workloads need dom0, and domus: 0
 * with a xen-backend workload is refused.  Defaults that depend on the
 * tree (arch, p2m, features) are resolved by the runner (run.h).
 *
 * Names: a device or IOMMU declared in the file is referred to by its
 * name.  With a dt, a name starting with '/' is a tree node path and is
 * kept as written, unresolved (the tree loader resolves it); every other
 * reference must name something declared in the file.
 */
#ifndef DMAMAP_TOOLS_SCENARIO_H
#define DMAMAP_TOOLS_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maxima: a file exceeding any of them is rejected with a line. */
#define SCN_MAX_RAM 16
#define SCN_MAX_IOMMUS 8
#define SCN_MAX_PAGE_SIZES 8
#define SCN_MAX_DEVICES 32
#define SCN_MAX_DMA_RANGES 8
#define SCN_MAX_WORKLOADS 32
#define SCN_MAX_EXPECTS 64        /* counters compared, over all entries */
#define SCN_NAME_MAX 256          /* names and tree paths, with the NUL */
#define SCN_COUNTER_MAX 64        /* counter names, with the NUL */
#define SCN_PATH_MAX 4096         /* resolved dt path, with the NUL */
#define SCN_BOOTARGS_MAX 1024     /* with the NUL */
/* A scenario file is a few KiB: larger ones are refused before parsing
 * (a 50 MB file took 1.2 GB), as is nesting deeper than any scenario
 * needs (libyaml's time grows with the square of the depth). */
#define SCN_MAX_FILE_BYTES (1u << 20)
#define SCN_MAX_DEPTH 16

enum scn_bus {
	SCN_BUS_PCI = 0,          /* default */
	SCN_BUS_PLATFORM = 1,
};

enum scn_kind {
	SCN_KIND_NIC = 0,
	SCN_KIND_BLK = 1,
	SCN_KIND_GPU = 2,
	SCN_KIND_XEN_BACKEND = 3, /* "xen-backend" */
	SCN_KIND_ADVERSARIAL = 4,
};

enum scn_buffers {
	SCN_BUF_ANY = 0,          /* default */
	SCN_BUF_LOW = 1,          /* below 4 GiB */
	SCN_BUF_HIGH = 2,         /* at or above 4 GiB */
};

enum scn_dir {
	SCN_DIR_DEFAULT = 0,      /* not given: the workload kind decides */
	SCN_DIR_TO = 1,
	SCN_DIR_FROM = 2,
	SCN_DIR_BIDI = 3,
};

enum scn_hv_type { SCN_HV_XEN = 0 };  /* the only one; the default */
enum scn_hv_arch { SCN_HV_ARCH_UNSET = 0, SCN_HV_ARCH_X86, SCN_HV_ARCH_ARM };
enum scn_hv_domain { SCN_HV_DOM_UNSET = 0, SCN_HV_DOM0, SCN_HV_DOMU };
enum scn_hv_mode { SCN_HV_MODE_UNSET = 0, SCN_HV_PV, SCN_HV_PVH, SCN_HV_HVM };
enum scn_hv_p2m { SCN_P2M_UNSET = 0, SCN_P2M_IDENTITY, SCN_P2M_SCATTERED,
		  SCN_P2M_COLORED };
enum scn_hv_policy { SCN_POLICY_PER_DEVICE = 0 /* default */, SCN_POLICY_LINUX };

/* hypervisor.features bits */
#define SCN_FEAT_DIRECT_MAPPED     (1u << 0)
#define SCN_FEAT_NOT_DIRECT_MAPPED (1u << 1)  /* exclusive with the above */
#define SCN_FEAT_DOM0_IOMMU        (1u << 2)
#define SCN_FEAT_P2M_QUERY         (1u << 3)

#define SCN_MAX_DOMUS 16

enum scn_cmp {
	SCN_CMP_EQ = 0,           /* a plain number, or "==N" */
	SCN_CMP_NE,               /* "!=N" */
	SCN_CMP_GT,               /* ">N" */
	SCN_CMP_LT,               /* "<N" */
	SCN_CMP_GE,               /* ">=N" */
	SCN_CMP_LE,               /* "<=N" */
};

struct scn_range {
	uint64_t base, size;      /* size > 0, base + size does not wrap */
	int line;
};

struct scn_iommu {
	char name[SCN_NAME_MAX];
	uint64_t page_sizes[SCN_MAX_PAGE_SIZES]; /* powers of two, as written */
	unsigned int npage_sizes;                /* 0: not given */
	uint64_t window;        /* translated window [0, window); 0: all IOVA space */
	uint64_t bypass;        /* bypass window offset (all RAM); 0: none */
	bool linear;            /* a compressed linear window may be built */
	int line;
};

struct scn_dma_range {
	uint64_t cpu, dma, size; /* all three required; size > 0 */
};

/* struct scn_device.given: which optional keys the file set. */
#define SCN_HAS_BUS             (1u << 0)
#define SCN_HAS_COHERENT        (1u << 1)
#define SCN_HAS_IOMMU           (1u << 2)
#define SCN_HAS_RESTRICTED_POOL (1u << 3)
#define SCN_HAS_DMA_RANGES      (1u << 4)
#define SCN_HAS_BUS_DMA_LIMIT   (1u << 5)
#define SCN_HAS_HOTPLUG         (1u << 6)
#define SCN_HAS_UNTRUSTED       (1u << 7)

struct scn_device {
	char name[SCN_NAME_MAX];        /* unique in the file; may be a tree path */
	enum scn_bus bus;               /* default pci */
	unsigned int dma_bits;          /* 1..64 */
	bool coherent;                  /* default: true on pci, false on platform */
	char iommu[SCN_NAME_MAX];       /* "": none */
	char domain[SCN_NAME_MAX];      /* devices naming one share it; "": own */
	bool hotplug;                   /* appears after boot, before its workload */
	bool untrusted;
	uint64_t restricted_pool;       /* bytes; 0: none */
	struct scn_dma_range dma_ranges[SCN_MAX_DMA_RANGES];
	unsigned int ndma_ranges;
	uint64_t bus_dma_limit;         /* 0: none */
	unsigned int given;             /* SCN_HAS_* */
	int line;
};

struct scn_hypervisor {
	enum scn_hv_type type;
	enum scn_hv_arch arch;
	enum scn_hv_domain domain;
	enum scn_hv_mode mode;          /* only with arch x86 (or arch unset) */
	bool has_features;              /* features written (even []) */
	unsigned int features;          /* SCN_FEAT_* */
	enum scn_hv_p2m p2m;
	enum scn_hv_policy policy;
	uint64_t lowmem;                /* bytes; 0: not given (the simulator's default) */
	struct scn_range host_ram[SCN_MAX_RAM]; /* 0 ranges: not given */
	unsigned int nhost_ram;
	unsigned int colors;            /* 0: not given */
	uint64_t os_colors;             /* 0: not given */
	bool has_seed;
	uint64_t seed;
	bool has_domus;
	unsigned int domus;             /* valid when has_domus */
	int line;
	/* Lines of the keys (0: not written), for the runner's messages. */
	int arch_line, mode_line, features_line, p2m_line, host_ram_line;
	int colors_line, seed_line, domus_line;
};

struct scn_workload {
	char device[SCN_NAME_MAX];      /* a declared device, or a tree path */
	enum scn_kind kind;
	uint64_t count;                 /* 0: not given (kind's default); else > 0 */
	uint64_t size;                  /* bytes; 0: not given; else > 0 */
	enum scn_buffers buffers;
	bool has_seed;
	uint64_t seed;
	enum scn_dir dir;
	uint64_t segments;              /* 0: not given; else 1..2^32-1 */
	uint64_t max_segment_size;      /* 0: not given; else > 0 */
	uint64_t boundary;              /* 0: not given; kept as written */
	int line;
};

/* One comparison: an expect entry with two counters gives two of these. */
struct scn_expect {
	char device[SCN_NAME_MAX];      /* "": not given (whole machine) */
	char counter[SCN_COUNTER_MAX];  /* any name, kept as written */
	enum scn_cmp cmp;
	uint64_t value;
	int line;                       /* the counter's line */
};

struct scn {
	char name[SCN_NAME_MAX];
	bool has_dt;
	char dt[SCN_PATH_MAX];          /* resolved against the file's folder */
	int dt_line;
	struct scn_range ram[SCN_MAX_RAM];
	unsigned int nram;
	struct scn_iommu iommus[SCN_MAX_IOMMUS];
	unsigned int niommus;
	struct scn_device devices[SCN_MAX_DEVICES];
	unsigned int ndevices;
	bool has_hypervisor;
	struct scn_hypervisor hv;
	bool has_bootargs;
	char bootargs[SCN_BOOTARGS_MAX];
	int bootargs_line;
	struct scn_workload workloads[SCN_MAX_WORKLOADS];
	unsigned int nworkloads;
	struct scn_expect expects[SCN_MAX_EXPECTS];
	unsigned int nexpects;
};

/*
 * Loads and validates a scenario file.  0 and *out (free with scn_free),
 * or a negative errno and *out = NULL: -ENOENT etc. when the file cannot
 * be read ("<file>: <strerror>"), -EINVAL for bad content (exactly one
 * line "<file>:<line>: <what is wrong>"), -ENOMEM.  err may be NULL.
 */
int scn_load(const char *path, struct scn **out, char *err, size_t errlen);
/*
 * The same from text in memory (built-in scenarios); label stands for the
 * file name in messages and a dt path is resolved against its folder.
 */
int scn_load_string(const char *label, const char *text, struct scn **out,
		    char *err, size_t errlen);
void scn_free(struct scn *s);

/*
 * "4096", "0x1000", "4K", "0x10M", "2G", "1T" (powers of 1024, either
 * case).  0, -EINVAL (not a number) or -ERANGE (over 64 bits).
 */
int scn_parse_size(const char *s, uint64_t *out);

/* "nic", "blk", "gpu", "xen-backend", "adversarial"; "?" if out of range. */
const char *scn_kind_name(enum scn_kind k);
/* "==", "!=", ">", "<", ">=", "<="; "?" if out of range. */
const char *scn_cmp_name(enum scn_cmp c);

#endif
