/*
 * dmamap/linux-compat.h - Linux's DMA API names over libdmamap, so the DMA
 * code of a Linux driver compiles unchanged and runs on any dmamap
 * platform (the simulator, through the driver test kit <dmamap/sim/kit.h>).
 *
 * Owns: the Linux names (static inline, so arguments are type checked),
 * the Linux data structures a driver touches directly (struct device,
 * struct scatterlist, struct sg_table, struct sg_mapping_iter, struct
 * vm_area_struct) and the little bookkeeping Linux keeps in them (devres
 * for dmam_*, a declared coherent area).  Must never add DMA behaviour:
 * every mapping, sync and allocation is the library's (dma.h); this file
 * only translates shapes.  Header-only: nothing here is in libdmamap.
 *
 * struct device is complete, so a bus structure can embed it
 * (struct pci_dev { ...; struct device dev; }, &pdev->dev).  Its DMA
 * fields are Linux's: dma_mask (a pointer, as Linux's bus code sets it),
 * coherent_dma_mask, bus_dma_limit, dma_parms, dma_coherent, dma_mem,
 * plus `dmamap`, the library device the DMA calls go to.  Whoever plays
 * the bus ("probe": the kit, or an embedder) calls
 * dmamap_linux_device_init(dev, dmamap_dev, name) once; the fields then
 * mirror the library's values and the dma_set_* calls keep them so.  A
 * driver that writes a mask field directly changes only the mirror: the
 * library sees masks only through dma_set_mask & co., as Linux drivers
 * are told to set them.
 *
 * "The device goes away" (Linux: driver unbind, devres_release_all in
 * device_release_driver) is dmamap_linux_device_exit(dev): it releases
 * every dmam_ resource, newest first, as devres does, and the declared
 * coherent area; devres_release_all(dev) does the first part alone.  The
 * kit's dmamap_kit_unbind calls it before removing the device, so a
 * dmam_ allocation never shows as a leak and a plain one always does.
 *
 * Pages: a struct page * is the CPU address of a page-aligned page of the
 * linear map (virt_to_page / page_address), as in dma.h.  CPU-contiguous
 * linear-map pages are physically contiguous, which is what Linux's pfn
 * contiguity means for sg_alloc_table_from_pages.
 *
 * Hooks (struct dmamap_linux_hooks): a few Linux names need the machine,
 * not a device: page_to_phys/sg_phys (a physical address), phys_to_virt
 * (dma_declare_coherent_memory), wmb/rmb/mb (the platform's MMIO
 * barriers, which drain write-combining buffers), and the CPU reads that
 * Linux helpers make of DMA buffers (sg_copy_*, sg_miter_* with
 * SG_MITER_FROM_SG), which the DMA API checker must be told about
 * (dmamap_debug_cpu_access) to catch a read before its sync.  The kit
 * installs them; without hooks page_to_phys answers (phys_addr_t)-1,
 * declared coherent memory is refused (-EINVAL), barriers are C11 fences
 * only and reads are not declared.
 *
 * Barriers: dma_wmb/dma_rmb/dma_mb (Linux: order CPU accesses to coherent
 * memory as the device sees them) are C11 release/acquire/seq_cst fences:
 * the library's coherent memory is normal memory, which a fence orders.
 * wmb/rmb/mb add the platform's barrier (iomap.h: a write barrier drains
 * write-combining buffers).  smp_* are fences.
 *
 * Scatterlists have Linux's layout (page_link with SG_CHAIN / SG_END in
 * its low bits, offset, length, dma_address, dma_length, dma_flags), so
 * chains, sg_mark_end and drivers that read sg->offset work.  A map, unmap
 * or sync walks the (possibly chained) list into the library's flat
 * struct dmamap_sg array and copies the bus segments back; the library's
 * per-entry dma_flags travel in the entry's dma_flags field (Linux keeps
 * its SG_DMA_* flags there too).
 *
 * The map and coherent-alloc names are macros (as dma_map_single and
 * dma_map_sg are in Linux) that pass "file:line" of the driver's call to
 * the checker, so its reports name the driver's line.
 *
 * Left out, with the reason:
 *  - gfp_t flags have no effect (GFP_* are 0): the library allocates from
 *    the zone the coherent mask needs and never sleeps on reclaim.
 *  - dma_mmap_* cannot map into a process: the userspace model checks
 *    the vma as Linux does (-ENXIO) and records in vma->dmamap_cpu where
 *    the user would see the buffer (an alias of the same memory), and the
 *    page protection in vm_page_prot.  dma_mmap_pages and
 *    dma_mmap_noncontiguous are left out for the same reason.
 *  - dma_alloc_noncontiguous always gives one segment (Linux's answer
 *    without an IOMMU driver's alloc_noncontiguous); behind an IOMMU the
 *    library's non-coherent allocation is already one bus range.
 *  - dma_declare_coherent_memory's allocations are not the library's: the
 *    DMA API checker does not know them, so with it on a device access
 *    there counts as a stray access (DEVICE_ACCESS_AFTER_UNMAP).
 *  - sg_alloc_table builds one flat array (Linux chains SG_MAX_SINGLE_ALLOC
 *    pages); sg_alloc_append_table_from_pages, sg_split, sgl_alloc,
 *    sg_page_iter/sg_dma_page_iter, P2PDMA (is_pci_p2pdma_page,
 *    SG_DMA_BUS_ADDRESS) and dma_buf: not modelled.
 *  - dma_map_ops, set_dma_ops, get_dma_ops, arch_setup_dma_ops,
 *    dma_direct_*, swiotlb_*, of_dma_configure, iommu_* internals: the
 *    library's own backends (dma.h, platform.h) play that part.
 *  - kmap_atomic and kmap_local_page are the linear map (no highmem);
 *    preemption is not a userspace notion.
 *  - MMIO accessors (readl/writel/pci_iomap): Linux's take a pointer,
 *    iomap.h's a mapping and an offset (see README).
 */
#ifndef DMAMAP_LINUX_COMPAT_H
#define DMAMAP_LINUX_COMPAT_H

#include <dmamap/debug.h>
#include <dmamap/dma.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef dmamap_dma_addr_t dma_addr_t;
typedef dmamap_phys_addr_t phys_addr_t;
typedef unsigned int gfp_t;
typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
/* Little-endian fields of descriptors; the model's hosts are little-endian. */
typedef uint16_t __le16;
typedef uint32_t __le32;
typedef uint64_t __le64;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "linux-compat.h: cpu_to_le* assume a little-endian host"
#endif
#define cpu_to_le16(x) ((__le16)(x))
#define cpu_to_le32(x) ((__le32)(x))
#define cpu_to_le64(x) ((__le64)(x))
#define le16_to_cpu(x) ((u16)(x))
#define le32_to_cpu(x) ((u32)(x))
#define le64_to_cpu(x) ((u64)(x))
#define lower_32_bits(n) ((u32)((n) & 0xffffffffu))
#define upper_32_bits(n) ((u32)(((u64)(n) >> 16) >> 16))

#define GFP_KERNEL 0u
#define GFP_ATOMIC 0u
#define GFP_NOWAIT 0u
#define GFP_DMA 0u
#define GFP_DMA32 0u
#define __GFP_ZERO 0u
#define __GFP_NOWARN 0u

#define DMA_MAPPING_ERROR DMAMAP_MAPPING_ERROR
#define DMA_BIT_MASK(n) DMAMAP_BIT_MASK(n)
#define PAGE_SIZE DMAMAP_PAGE_SIZE
#define PAGE_SHIFT DMAMAP_PAGE_SHIFT
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define ALIGN(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define PAGE_ALIGN(x) ALIGN(x, PAGE_SIZE)
#define offset_in_page(p) ((unsigned long)(uintptr_t)(p) & (PAGE_SIZE - 1))

#define DMA_ATTR_WEAK_ORDERING DMAMAP_ATTR_WEAK_ORDERING
#define DMA_ATTR_WRITE_COMBINE DMAMAP_ATTR_WRITE_COMBINE
#define DMA_ATTR_NO_KERNEL_MAPPING DMAMAP_ATTR_NO_KERNEL_MAPPING
#define DMA_ATTR_SKIP_CPU_SYNC DMAMAP_ATTR_SKIP_CPU_SYNC
#define DMA_ATTR_FORCE_CONTIGUOUS DMAMAP_ATTR_FORCE_CONTIGUOUS
#define DMA_ATTR_ALLOC_SINGLE_PAGES DMAMAP_ATTR_ALLOC_SINGLE_PAGES
#define DMA_ATTR_NO_WARN DMAMAP_ATTR_NO_WARN
#define DMA_ATTR_PRIVILEGED DMAMAP_ATTR_PRIVILEGED
#define DMA_ATTR_MMIO DMAMAP_ATTR_MMIO

enum dma_data_direction {
	DMA_BIDIRECTIONAL = DMAMAP_BIDIRECTIONAL,
	DMA_TO_DEVICE = DMAMAP_TO_DEVICE,
	DMA_FROM_DEVICE = DMAMAP_FROM_DEVICE,
	DMA_NONE = DMAMAP_NONE,
};

#define DM__DIR(d) ((enum dmamap_data_direction)(d))

/* ---- hooks: what needs the machine rather than a device ------------------ */

struct dmamap_linux_hooks {
	void *priv;
	/* 0 and *phys, or -EFAULT: cpu is not RAM's linear map. */
	int (*virt_to_phys)(void *priv, const void *cpu, phys_addr_t *phys);
	/* The CPU pointer of RAM phys, NULL when not RAM. */
	void *(*phys_to_virt)(void *priv, phys_addr_t phys);
	/* The platform's barrier: 'w', 'r' or 'f'. */
	void (*barrier)(void *priv, int kind);
	/* The CPU is about to read [cpu, cpu + len) (for the DMA API checker). */
	void (*cpu_read)(void *priv, const void *cpu, size_t len);
};

/*
 * One pointer for the whole program, defined weakly here so that every
 * file including this header shares it without a library to link (a C11
 * header cannot define an object otherwise).  Set it before drivers run.
 */
__attribute__((weak)) const struct dmamap_linux_hooks *dmamap_linux_hooks;

static inline void dmamap_linux_set_hooks(const struct dmamap_linux_hooks *h)
{
	dmamap_linux_hooks = h;
}

/*
 * Declares a CPU read of a DMA buffer to the checker (through the hooks):
 * what the non-DMA kernel helpers a test stubs (skb_put_data, memcpy_from_*)
 * call before they read, so a read before its sync is reported.
 */
static inline void dmamap_linux_cpu_read(const void *cpu, size_t len)
{
	const struct dmamap_linux_hooks *h = dmamap_linux_hooks;
	if (h && h->cpu_read && len)
		h->cpu_read(h->priv, cpu, len);
}

/* ---- barriers ----------------------------------------------------------- */

static inline void dmamap_linux__barrier(int kind)
{
	const struct dmamap_linux_hooks *h = dmamap_linux_hooks;
	if (h && h->barrier)
		h->barrier(h->priv, kind);
}
#define dma_wmb() atomic_thread_fence(memory_order_release)
#define dma_rmb() atomic_thread_fence(memory_order_acquire)
#define dma_mb() atomic_thread_fence(memory_order_seq_cst)
#define smp_wmb() atomic_thread_fence(memory_order_release)
#define smp_rmb() atomic_thread_fence(memory_order_acquire)
#define smp_mb() atomic_thread_fence(memory_order_seq_cst)
#define wmb() (atomic_thread_fence(memory_order_release), dmamap_linux__barrier('w'))
#define rmb() (atomic_thread_fence(memory_order_acquire), dmamap_linux__barrier('r'))
#define mb() (atomic_thread_fence(memory_order_seq_cst), dmamap_linux__barrier('f'))

/* ---- pages ---------------------------------------------------------------- */

struct page;

static inline struct page *virt_to_page(const void *p)
{
	return (struct page *)(void *)dmamap_virt_to_page(p);
}
static inline void *page_address(const struct page *pg)
{
	return dmamap_page_address((const struct dmamap_page *)(const void *)pg);
}
/* (phys_addr_t)-1 without a virt_to_phys hook. */
static inline phys_addr_t virt_to_phys(const void *p)
{
	const struct dmamap_linux_hooks *h = dmamap_linux_hooks;
	phys_addr_t phys;
	if (h && h->virt_to_phys && h->virt_to_phys(h->priv, p, &phys) == 0)
		return phys;
	return (phys_addr_t)-1;
}
static inline phys_addr_t page_to_phys(const struct page *pg)
{
	return virt_to_phys(page_address(pg));
}
static inline void *kmap_local_page(struct page *pg)
{
	return page_address(pg);
}
static inline void kunmap_local(const void *addr)
{
	(void)addr;
}
static inline void *kmap_atomic(struct page *pg)
{
	return page_address(pg);
}
static inline void kunmap_atomic(void *addr)
{
	(void)addr;
}

/* ---- struct device ---------------------------------------------------------- */

/* Linux's struct device_dma_parameters. */
struct device_dma_parameters {
	unsigned int max_segment_size;
	unsigned int min_align_mask;
	unsigned long segment_boundary_mask;
};

struct dmamap_devres;
struct dma_coherent_mem;

struct device {
	struct device *parent;
	const char *init_name;
	void *driver_data;
	/* Linux's DMA fields, mirrors of the library's (see the top comment). */
	u64 *dma_mask;                      /* NULL: dma_set_mask refuses (-EIO) */
	u64 coherent_dma_mask;
	u64 bus_dma_limit;
	struct device_dma_parameters *dma_parms;
	bool dma_coherent;
	struct dma_coherent_mem *dma_mem;   /* dma_declare_coherent_memory */
	/* dmamap's */
	struct dmamap_device *dmamap;       /* set at probe; every DMA call uses it */
	struct dmamap_devres *devres_head;  /* dmam_ resources, newest first */
	u64 dmamap_mask;                    /* where dma_mask points if the bus gave none */
	struct device_dma_parameters dmamap_parms; /* likewise for dma_parms */
};

/*
 * Probe: dev (embedded anywhere, zeroed or with the bus's dma_mask and
 * dma_parms pointers set) now stands for the library device d.
 */
static inline void dmamap_linux_device_init(struct device *dev, struct dmamap_device *d,
					    const char *name, bool coherent)
{
	dev->dmamap = d;
	dev->init_name = name;
	dev->dma_coherent = coherent;
	if (!dev->dma_mask)
		dev->dma_mask = &dev->dmamap_mask;
	if (!dev->dma_parms)
		dev->dma_parms = &dev->dmamap_parms;
	*dev->dma_mask = dmamap_get_mask(d);
	dev->coherent_dma_mask = dmamap_get_coherent_mask(d);
	dev->dma_parms->max_segment_size = dmamap_get_max_seg_size(d);
	dev->dma_parms->min_align_mask = dmamap_get_min_align_mask(d);
	dev->dma_parms->segment_boundary_mask = (unsigned long)dmamap_get_seg_boundary(d);
}

static inline struct dmamap_device *dmamap__dev(struct device *d)
{
	return d->dmamap;
}

static inline const char *dev_name(const struct device *dev)
{
	return dev->init_name ? dev->init_name : "(unnamed)";
}
static inline void *dev_get_drvdata(const struct device *dev)
{
	return dev->driver_data;
}
static inline void dev_set_drvdata(struct device *dev, void *data)
{
	dev->driver_data = data;
}
#define dev_err(dev, ...) (fprintf(stderr, "%s: ", dev_name(dev)), fprintf(stderr, __VA_ARGS__))
#define dev_warn(dev, ...) dev_err(dev, __VA_ARGS__)
#define dev_info(dev, ...) ((void)(dev))
#define dev_dbg(dev, ...) ((void)(dev))

/* ---- streaming mappings ------------------------------------------------------- */

static inline dma_addr_t dmamap_linux__map_single(struct device *dev, void *ptr, size_t size,
						  enum dma_data_direction dir,
						  unsigned long attrs, const char *origin)
{
	if (!attrs)
		return dmamap_map_single_at(dmamap__dev(dev), ptr, size, DM__DIR(dir), origin);
	return dmamap_map_single_attrs(dmamap__dev(dev), ptr, size, DM__DIR(dir), attrs);
}
static inline dma_addr_t dmamap_linux__map_page(struct device *dev, struct page *page,
						size_t offset, size_t size,
						enum dma_data_direction dir,
						unsigned long attrs, const char *origin)
{
	struct dmamap_page *pg = (struct dmamap_page *)(void *)page;
	if (!attrs)
		return dmamap_map_page_at(dmamap__dev(dev), pg, offset, size, DM__DIR(dir), origin);
	return dmamap_map_page_attrs(dmamap__dev(dev), pg, offset, size, DM__DIR(dir), attrs);
}
#define dma_map_single_attrs(d, p, s, r, a) dmamap_linux__map_single(d, p, s, r, a, DMAMAP_HERE)
#define dma_map_single(d, p, s, r) dmamap_linux__map_single(d, p, s, r, 0, DMAMAP_HERE)
#define dma_map_page_attrs(d, pg, o, s, r, a) \
	dmamap_linux__map_page(d, pg, o, s, r, a, DMAMAP_HERE)
#define dma_map_page(d, pg, o, s, r) dmamap_linux__map_page(d, pg, o, s, r, 0, DMAMAP_HERE)

static inline void dma_unmap_single_attrs(struct device *dev, dma_addr_t addr, size_t size,
					  enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_single_attrs(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_single(struct device *dev, dma_addr_t addr, size_t size,
				    enum dma_data_direction dir)
{
	dma_unmap_single_attrs(dev, addr, size, dir, 0);
}
static inline void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size,
					enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_page_attrs(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_page(struct device *dev, dma_addr_t addr, size_t size,
				  enum dma_data_direction dir)
{
	dma_unmap_page_attrs(dev, addr, size, dir, 0);
}
static inline dma_addr_t dma_map_resource(struct device *dev, phys_addr_t phys, size_t size,
					  enum dma_data_direction dir, unsigned long attrs)
{
	return dmamap_map_resource(dmamap__dev(dev), phys, size, DM__DIR(dir), attrs);
}
static inline void dma_unmap_resource(struct device *dev, dma_addr_t addr, size_t size,
				      enum dma_data_direction dir, unsigned long attrs)
{
	dmamap_unmap_resource(dmamap__dev(dev), addr, size, DM__DIR(dir), attrs);
}
static inline int dma_mapping_error(struct device *dev, dma_addr_t addr)
{
	return dmamap_mapping_error(dmamap__dev(dev), addr);
}

/* Linux's DEFINE_DMA_UNMAP_* (with CONFIG_NEED_DMA_MAP_STATE: always kept here). */
#define DEFINE_DMA_UNMAP_ADDR(ADDR_NAME) dma_addr_t ADDR_NAME
#define DEFINE_DMA_UNMAP_LEN(LEN_NAME) u32 LEN_NAME
#define dma_unmap_addr(PTR, ADDR_NAME) ((PTR)->ADDR_NAME)
#define dma_unmap_addr_set(PTR, ADDR_NAME, VAL) (((PTR)->ADDR_NAME) = (VAL))
#define dma_unmap_len(PTR, LEN_NAME) ((PTR)->LEN_NAME)
#define dma_unmap_len_set(PTR, LEN_NAME, VAL) (((PTR)->LEN_NAME) = (VAL))

/* ---- scatterlists ---------------------------------------------------------------- */

struct scatterlist {
	unsigned long page_link; /* struct page *, SG_CHAIN / SG_END in the low bits */
	unsigned int offset;
	unsigned int length;
	dma_addr_t dma_address;
	unsigned int dma_length;
	unsigned int dma_flags;  /* the library's per-entry state (dmamap_sg.dma_flags) */
};

struct sg_table {
	struct scatterlist *sgl;
	unsigned int nents;      /* bus segments after mapping */
	unsigned int orig_nents; /* CPU entries */
};

#define SG_CHAIN 0x01UL
#define SG_END 0x02UL
#define SG_PAGE_LINK_MASK (SG_CHAIN | SG_END)

#define sg_is_chain(sg) (((sg)->page_link & SG_CHAIN) != 0)
#define sg_is_last(sg) (((sg)->page_link & SG_END) != 0)
#define sg_chain_ptr(sg) ((struct scatterlist *)((sg)->page_link & ~SG_PAGE_LINK_MASK))
#define sg_dma_address(sg) ((sg)->dma_address)
#define sg_dma_len(sg) ((sg)->dma_length)

static inline struct page *sg_page(struct scatterlist *sg)
{
	return (struct page *)(sg->page_link & ~SG_PAGE_LINK_MASK);
}
/* Keeps the entry's chain/end bits, as Linux's sg_assign_page. */
static inline void sg_assign_page(struct scatterlist *sg, struct page *page)
{
	sg->page_link = (sg->page_link & SG_PAGE_LINK_MASK) | (unsigned long)(uintptr_t)page;
}
static inline void sg_set_page(struct scatterlist *sg, struct page *page, unsigned int len,
			       unsigned int offset)
{
	sg_assign_page(sg, page);
	sg->offset = offset;
	sg->length = len;
}
static inline void sg_set_buf(struct scatterlist *sg, const void *buf, unsigned int len)
{
	sg_set_page(sg, virt_to_page(buf), len, (unsigned int)offset_in_page(buf));
}
static inline void *sg_virt(struct scatterlist *sg)
{
	return (char *)page_address(sg_page(sg)) + sg->offset;
}
static inline phys_addr_t sg_phys(struct scatterlist *sg)
{
	phys_addr_t p = page_to_phys(sg_page(sg));
	return p == (phys_addr_t)-1 ? p : p + sg->offset;
}
/* Linux's sg_mark_end: the entry ends the list and is no chain link. */
static inline void sg_mark_end(struct scatterlist *sg)
{
	sg->page_link |= SG_END;
	sg->page_link &= ~SG_CHAIN;
}
static inline void sg_unmark_end(struct scatterlist *sg)
{
	sg->page_link &= ~SG_END;
}
static inline void sg_init_table(struct scatterlist *sgl, unsigned int nents)
{
	memset(sgl, 0, sizeof(*sgl) * nents);
	if (nents)
		sg_mark_end(&sgl[nents - 1]);
}
static inline void sg_init_one(struct scatterlist *sg, const void *buf, unsigned int len)
{
	sg_init_table(sg, 1);
	sg_set_buf(sg, buf, len);
}
/*
 * Linux's sg_chain: prv's last entry (prv[prv_nents - 1]) becomes a link
 * to sgl and carries no data; prv's usable entries are one fewer.
 */
static inline void sg_chain(struct scatterlist *prv, unsigned int prv_nents,
			    struct scatterlist *sgl)
{
	struct scatterlist *link = &prv[prv_nents - 1];
	link->offset = 0;
	link->length = 0;
	link->page_link = ((unsigned long)(uintptr_t)sgl | SG_CHAIN) & ~SG_END;
}
static inline struct scatterlist *sg_next(struct scatterlist *sg)
{
	if (sg_is_last(sg))
		return NULL;
	sg++;
	if (sg_is_chain(sg))
		sg = sg_chain_ptr(sg);
	return sg;
}
/* Entries up to the end mark, chain links not counted (Linux's sg_nents). */
static inline int sg_nents(struct scatterlist *sg)
{
	int n = 0;
	for (; sg; sg = sg_next(sg))
		n++;
	return n;
}
/* Entries needed to hold len bytes; 0 for len 0; -EINVAL when the list is shorter. */
static inline int sg_nents_for_len(struct scatterlist *sg, u64 len)
{
	u64 total = 0;
	int n = 0;
	if (!len)
		return 0;
	for (; sg; sg = sg_next(sg)) {
		n++;
		total += sg->length;
		if (total >= len)
			return n;
	}
	return -EINVAL;
}
static inline struct scatterlist *sg_last(struct scatterlist *sgl, unsigned int nents)
{
	struct scatterlist *ret = NULL;
	for (unsigned int i = 0; sgl && i < nents; i++, sgl = sg_next(sgl))
		ret = sgl;
	return ret;
}
#define for_each_sg(sglist, sg, nr, __i) \
	for ((__i) = 0, (sg) = (sglist); (__i) < (__typeof__(__i))(nr); (__i)++, (sg) = sg_next(sg))
#define for_each_sgtable_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->orig_nents, i)
#define for_each_sgtable_dma_sg(sgt, sg, i) for_each_sg((sgt)->sgl, sg, (sgt)->nents, i)

/* One flat array, not Linux's chained pages (see the top comment); -EINVAL for 0. */
static inline int sg_alloc_table(struct sg_table *t, unsigned int nents, gfp_t gfp)
{
	(void)gfp;
	memset(t, 0, sizeof(*t));
	if (!nents)
		return -EINVAL;
	t->sgl = (struct scatterlist *)malloc(sizeof(*t->sgl) * nents);
	if (!t->sgl)
		return -ENOMEM;
	sg_init_table(t->sgl, nents);
	t->orig_nents = t->nents = nents;
	return 0;
}
static inline void sg_free_table(struct sg_table *t)
{
	free(t->sgl);
	t->sgl = NULL;
	t->nents = t->orig_nents = 0;
}
/*
 * Linux's sg_alloc_table_from_pages (max_segment UINT_MAX rounded down to
 * a page): runs of contiguous pages become one entry each; the first
 * starts at `offset` into pages[0], the list covers `size` bytes.
 */
static inline int sg_alloc_table_from_pages(struct sg_table *sgt, struct page **pages,
					    unsigned int n_pages, unsigned int offset,
					    unsigned long size, gfp_t gfp)
{
	const unsigned long max_seg = (unsigned long)(0xffffffffu & PAGE_MASK);
	unsigned int chunks = 0;
	for (unsigned int i = 0; i < n_pages;) {
		unsigned int j = i + 1;
		while (j < n_pages && (unsigned long)(j - i) * PAGE_SIZE < max_seg &&
		       (char *)page_address(pages[j]) == (char *)page_address(pages[j - 1]) + PAGE_SIZE)
			j++;
		chunks++;
		i = j;
	}
	int rc = sg_alloc_table(sgt, chunks, gfp);
	if (rc)
		return rc;
	struct scatterlist *s = sgt->sgl;
	for (unsigned int i = 0; i < n_pages; s = sg_next(s)) {
		unsigned int j = i + 1;
		while (j < n_pages && (unsigned long)(j - i) * PAGE_SIZE < max_seg &&
		       (char *)page_address(pages[j]) == (char *)page_address(pages[j - 1]) + PAGE_SIZE)
			j++;
		unsigned long len = (unsigned long)(j - i) * PAGE_SIZE - offset;
		if (len > size)
			len = size;
		sg_set_page(s, pages[i], (unsigned int)len, offset);
		size -= len;
		offset = 0;
		i = j;
	}
	return 0;
}

/*
 * The library's flat view of a Linux list: nents entries walked with
 * sg_next, END on the last; dma fields copied when `dma` (unmap, sync).
 * Lists of up to DMAMAP_LINUX__SG_STACK entries use the caller's array.
 */
#define DMAMAP_LINUX__SG_STACK 16
static inline struct dmamap_sg *dmamap_linux__flat(struct scatterlist *sgl, int nents,
						   struct dmamap_sg *stack, bool dma)
{
	if (nents <= 0)
		return NULL;
	struct dmamap_sg *f = stack;
	if (nents > DMAMAP_LINUX__SG_STACK) {
		f = (struct dmamap_sg *)malloc(sizeof(*f) * (size_t)nents);
		if (!f)
			return NULL;
	}
	dmamap_sg_init_table(f, (unsigned int)nents);
	struct scatterlist *s = sgl;
	for (int i = 0; i < nents; i++, s = sg_next(s)) {
		if (!s) { /* fewer entries than nents: refuse as the library refuses bad lists */
			if (f != stack)
				free(f);
			return NULL;
		}
		f[i].cpu = sg_virt(s);
		f[i].length = s->length;
		if (dma) {
			f[i].dma_address = s->dma_address;
			f[i].dma_length = s->dma_length;
			f[i].dma_flags = s->dma_flags;
		}
	}
	return f;
}
static inline void dmamap_linux__unflat(struct scatterlist *sgl, int nents, struct dmamap_sg *f,
					struct dmamap_sg *stack)
{
	struct scatterlist *s = sgl;
	for (int i = 0; i < nents && s; i++, s = sg_next(s)) {
		s->dma_address = f[i].dma_address;
		s->dma_length = f[i].dma_length;
		s->dma_flags = f[i].dma_flags;
	}
	if (f != stack)
		free(f);
}

static inline int dmamap_linux__map_sg(struct device *dev, struct scatterlist *sg, int nents,
				       enum dma_data_direction dir, unsigned long attrs,
				       const char *origin)
{
	struct dmamap_sg stack[DMAMAP_LINUX__SG_STACK];
	struct dmamap_sg *f = dmamap_linux__flat(sg, nents, stack, false);
	if (!f)
		return 0;
	int n = attrs ? dmamap_map_sg_attrs(dmamap__dev(dev), f, nents, DM__DIR(dir), attrs)
		      : dmamap_map_sg_at(dmamap__dev(dev), f, nents, DM__DIR(dir), origin);
	dmamap_linux__unflat(sg, nents, f, stack);
	return n;
}
#define dma_map_sg_attrs(d, s, n, r, a) dmamap_linux__map_sg(d, s, n, r, a, DMAMAP_HERE)
#define dma_map_sg(d, s, n, r) dmamap_linux__map_sg(d, s, n, r, 0, DMAMAP_HERE)

static inline void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sg, int nents,
				      enum dma_data_direction dir, unsigned long attrs)
{
	struct dmamap_sg stack[DMAMAP_LINUX__SG_STACK];
	struct dmamap_sg *f = dmamap_linux__flat(sg, nents, stack, true);
	if (!f)
		return;
	dmamap_unmap_sg_attrs(dmamap__dev(dev), f, nents, DM__DIR(dir), attrs);
	dmamap_linux__unflat(sg, nents, f, stack);
}
static inline void dma_unmap_sg(struct device *dev, struct scatterlist *sg, int nents,
				enum dma_data_direction dir)
{
	dma_unmap_sg_attrs(dev, sg, nents, dir, 0);
}
/* Linux's dma_map_sgtable: 0 and sgt->nents, or -EINVAL / -ENOMEM / -EIO. */
static inline int dma_map_sgtable(struct device *dev, struct sg_table *sgt,
				  enum dma_data_direction dir, unsigned long attrs)
{
	struct dmamap_sg stack[DMAMAP_LINUX__SG_STACK];
	struct dmamap_sg *f = dmamap_linux__flat(sgt->sgl, (int)sgt->orig_nents, stack, false);
	if (!f)
		return sgt->orig_nents ? -ENOMEM : -EINVAL;
	struct dmamap_sg_table t = { .sgl = f, .nents = 0, .orig_nents = sgt->orig_nents };
	int rc = dmamap_map_sgtable(dmamap__dev(dev), &t, DM__DIR(dir), attrs);
	if (rc == 0)
		sgt->nents = t.nents;
	dmamap_linux__unflat(sgt->sgl, (int)sgt->orig_nents, f, stack);
	return rc;
}
static inline void dma_unmap_sgtable(struct device *dev, struct sg_table *sgt,
				     enum dma_data_direction dir, unsigned long attrs)
{
	dma_unmap_sg_attrs(dev, sgt->sgl, (int)sgt->orig_nents, dir, attrs);
}

/* ---- syncs --------------------------------------------------------------------- */

static inline void dma_sync_single_for_cpu(struct device *dev, dma_addr_t a, size_t s,
					   enum dma_data_direction dir)
{
	dmamap_sync_single_for_cpu(dmamap__dev(dev), a, s, DM__DIR(dir));
}
static inline void dma_sync_single_for_device(struct device *dev, dma_addr_t a, size_t s,
					      enum dma_data_direction dir)
{
	dmamap_sync_single_for_device(dmamap__dev(dev), a, s, DM__DIR(dir));
}
static inline void dma_sync_single_range_for_cpu(struct device *dev, dma_addr_t a,
						 unsigned long off, size_t s,
						 enum dma_data_direction dir)
{
	dmamap_sync_single_range_for_cpu(dmamap__dev(dev), a, off, s, DM__DIR(dir));
}
static inline void dma_sync_single_range_for_device(struct device *dev, dma_addr_t a,
						    unsigned long off, size_t s,
						    enum dma_data_direction dir)
{
	dmamap_sync_single_range_for_device(dmamap__dev(dev), a, off, s, DM__DIR(dir));
}
static inline void dmamap_linux__sync_sg(struct device *dev, struct scatterlist *sg, int n,
					 enum dma_data_direction dir, bool for_cpu)
{
	struct dmamap_sg stack[DMAMAP_LINUX__SG_STACK];
	struct dmamap_sg *f = dmamap_linux__flat(sg, n, stack, true);
	if (!f)
		return;
	if (for_cpu)
		dmamap_sync_sg_for_cpu(dmamap__dev(dev), f, n, DM__DIR(dir));
	else
		dmamap_sync_sg_for_device(dmamap__dev(dev), f, n, DM__DIR(dir));
	if (f != stack)
		free(f);
}
static inline void dma_sync_sg_for_cpu(struct device *dev, struct scatterlist *sg, int n,
				       enum dma_data_direction dir)
{
	dmamap_linux__sync_sg(dev, sg, n, dir, true);
}
static inline void dma_sync_sg_for_device(struct device *dev, struct scatterlist *sg, int n,
					  enum dma_data_direction dir)
{
	dmamap_linux__sync_sg(dev, sg, n, dir, false);
}
static inline void dma_sync_sgtable_for_cpu(struct device *dev, struct sg_table *sgt,
					    enum dma_data_direction dir)
{
	dmamap_linux__sync_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, true);
}
static inline void dma_sync_sgtable_for_device(struct device *dev, struct sg_table *sgt,
					       enum dma_data_direction dir)
{
	dmamap_linux__sync_sg(dev, sgt->sgl, (int)sgt->orig_nents, dir, false);
}

/* ---- CPU access to scatterlists: sg_miter_*, sg_copy_* ---------------------------- */

#define SG_MITER_ATOMIC (1u << 0)
#define SG_MITER_TO_SG (1u << 1)   /* the CPU writes the list */
#define SG_MITER_FROM_SG (1u << 2) /* the CPU reads the list: declared to the checker */
#define SG_MITER_LOCAL (1u << 3)

/*
 * Linux's iterator: each step is at most the rest of one page of one
 * entry; a user may lower `consumed` before the next step to take less.
 */
struct sg_mapping_iter {
	struct page *page;
	void *addr;
	size_t length;
	size_t consumed;
	/* private */
	struct scatterlist *__sg; /* current entry */
	unsigned int __nents;     /* entries left, the current one included */
	unsigned int __pos;       /* bytes of the current entry already taken */
	unsigned int __flags;
};

static inline void sg_miter_start(struct sg_mapping_iter *miter, struct scatterlist *sgl,
				  unsigned int nents, unsigned int flags)
{
	memset(miter, 0, sizeof(*miter));
	miter->__sg = nents ? sgl : NULL;
	miter->__nents = nents;
	miter->__flags = flags;
}
/* Moves to the entry holding the next byte; false at the end. */
static inline bool dmamap_linux__miter_settle(struct sg_mapping_iter *m)
{
	while (m->__sg && m->__pos >= m->__sg->length) {
		m->__pos = 0;
		if (--m->__nents == 0)
			m->__sg = NULL;
		else
			m->__sg = sg_next(m->__sg);
	}
	return m->__sg != NULL;
}
static inline size_t dmamap_linux__miter_chunk(struct sg_mapping_iter *m)
{
	size_t in_page = PAGE_SIZE - ((m->__sg->offset + m->__pos) & (PAGE_SIZE - 1));
	size_t left = m->__sg->length - m->__pos;
	return left < in_page ? left : in_page;
}
static inline void sg_miter_stop(struct sg_mapping_iter *miter)
{
	if (miter->addr) {
		miter->__pos += (unsigned int)miter->consumed;
		miter->page = NULL;
		miter->addr = NULL;
		miter->length = 0;
		miter->consumed = 0;
	}
}
static inline bool sg_miter_next(struct sg_mapping_iter *miter)
{
	sg_miter_stop(miter);
	if (!dmamap_linux__miter_settle(miter))
		return false;
	miter->length = miter->consumed = dmamap_linux__miter_chunk(miter);
	miter->addr = (char *)sg_virt(miter->__sg) + miter->__pos;
	miter->page = virt_to_page(miter->addr);
	if (miter->__flags & SG_MITER_FROM_SG)
		dmamap_linux_cpu_read(miter->addr, miter->length);
	return true;
}
/* Linux's sg_miter_skip: false when the list ends first. */
static inline bool sg_miter_skip(struct sg_mapping_iter *miter, off_t offset)
{
	sg_miter_stop(miter);
	while (offset > 0) {
		if (!dmamap_linux__miter_settle(miter))
			return false;
		size_t c = dmamap_linux__miter_chunk(miter);
		if ((size_t)offset < c)
			c = (size_t)offset;
		miter->__pos += (unsigned int)c;
		offset -= (off_t)c;
	}
	return true;
}

/* Linux's sg_copy_buffer: returns the bytes copied. */
static inline size_t sg_copy_buffer(struct scatterlist *sgl, unsigned int nents, void *buf,
				    size_t buflen, off_t skip, bool to_buffer)
{
	struct sg_mapping_iter m;
	size_t done = 0;
	sg_miter_start(&m, sgl, nents, SG_MITER_ATOMIC | (to_buffer ? SG_MITER_FROM_SG : SG_MITER_TO_SG));
	if (!sg_miter_skip(&m, skip))
		return 0;
	if (!to_buffer) {
		/* The CPU reads buf: declare what it will read, once. */
		struct sg_mapping_iter probe = m;
		size_t avail = 0;
		while (avail < buflen && dmamap_linux__miter_settle(&probe)) {
			size_t c = probe.__sg->length - probe.__pos;
			avail += c;
			probe.__pos += (unsigned int)c;
		}
		dmamap_linux_cpu_read(buf, avail < buflen ? avail : buflen);
	}
	while (done < buflen && sg_miter_next(&m)) {
		size_t len = m.length < buflen - done ? m.length : buflen - done;
		if (to_buffer)
			memcpy((char *)buf + done, m.addr, len);
		else
			memcpy(m.addr, (char *)buf + done, len);
		m.consumed = len;
		done += len;
	}
	sg_miter_stop(&m);
	return done;
}
static inline size_t sg_copy_from_buffer(struct scatterlist *sgl, unsigned int nents,
					 const void *buf, size_t buflen)
{
	return sg_copy_buffer(sgl, nents, (void *)(uintptr_t)buf, buflen, 0, false);
}
static inline size_t sg_copy_to_buffer(struct scatterlist *sgl, unsigned int nents, void *buf,
				       size_t buflen)
{
	return sg_copy_buffer(sgl, nents, buf, buflen, 0, true);
}
static inline size_t sg_pcopy_from_buffer(struct scatterlist *sgl, unsigned int nents,
					  const void *buf, size_t buflen, off_t skip)
{
	return sg_copy_buffer(sgl, nents, (void *)(uintptr_t)buf, buflen, skip, false);
}
static inline size_t sg_pcopy_to_buffer(struct scatterlist *sgl, unsigned int nents, void *buf,
					size_t buflen, off_t skip)
{
	return sg_copy_buffer(sgl, nents, buf, buflen, skip, true);
}

/* ---- masks and limits ---------------------------------------------------------------- */

static inline int dma_supported(struct device *dev, u64 mask)
{
	return dmamap_supported(dmamap__dev(dev), mask);
}
/* Linux: -EIO without dev->dma_mask or for an unsupported mask. */
static inline int dma_set_mask(struct device *dev, u64 mask)
{
	if (!dev->dma_mask)
		return -EIO;
	int rc = dmamap_set_mask(dmamap__dev(dev), mask);
	if (!rc)
		*dev->dma_mask = mask;
	return rc;
}
static inline int dma_set_coherent_mask(struct device *dev, u64 mask)
{
	int rc = dmamap_set_coherent_mask(dmamap__dev(dev), mask);
	if (!rc)
		dev->coherent_dma_mask = mask;
	return rc;
}
static inline int dma_set_mask_and_coherent(struct device *dev, u64 mask)
{
	if (!dev->dma_mask)
		return -EIO;
	int rc = dmamap_set_mask_and_coherent(dmamap__dev(dev), mask);
	if (!rc) {
		*dev->dma_mask = mask;
		dev->coherent_dma_mask = mask;
	}
	return rc;
}
/* Linux's: dma_mask points at coherent_dma_mask, then both are set. */
static inline int dma_coerce_mask_and_coherent(struct device *dev, u64 mask)
{
	dev->dma_mask = &dev->coherent_dma_mask;
	return dma_set_mask_and_coherent(dev, mask);
}
static inline u64 dma_get_mask(struct device *dev)
{
	return dmamap_get_mask(dmamap__dev(dev));
}
static inline u64 dma_get_required_mask(struct device *dev)
{
	return dmamap_get_required_mask(dmamap__dev(dev));
}
static inline size_t dma_max_mapping_size(struct device *dev)
{
	return dmamap_max_mapping_size(dmamap__dev(dev));
}
static inline size_t dma_opt_mapping_size(struct device *dev)
{
	return dmamap_opt_mapping_size(dmamap__dev(dev));
}
static inline bool dma_addressing_limited(struct device *dev)
{
	return dmamap_addressing_limited(dmamap__dev(dev));
}
static inline bool dma_need_sync(struct device *dev, dma_addr_t a)
{
	return dmamap_need_sync(dmamap__dev(dev), a);
}
static inline int dma_set_max_seg_size(struct device *dev, unsigned int size)
{
	int rc = dmamap_set_max_seg_size(dmamap__dev(dev), size);
	if (!rc && dev->dma_parms)
		dev->dma_parms->max_segment_size = size;
	return rc;
}
static inline unsigned int dma_get_max_seg_size(struct device *dev)
{
	return dmamap_get_max_seg_size(dmamap__dev(dev));
}
static inline int dma_set_seg_boundary(struct device *dev, unsigned long mask)
{
	int rc = dmamap_set_seg_boundary(dmamap__dev(dev), mask);
	if (!rc && dev->dma_parms)
		dev->dma_parms->segment_boundary_mask = mask;
	return rc;
}
static inline unsigned long dma_get_seg_boundary(struct device *dev)
{
	return (unsigned long)dmamap_get_seg_boundary(dmamap__dev(dev));
}
static inline void dma_set_min_align_mask(struct device *dev, unsigned int mask)
{
	if (!dmamap_set_min_align_mask(dmamap__dev(dev), mask) && dev->dma_parms)
		dev->dma_parms->min_align_mask = mask;
}
static inline unsigned int dma_get_min_align_mask(struct device *dev)
{
	return dmamap_get_min_align_mask(dmamap__dev(dev));
}
/*
 * Linux's is ARCH_DMA_MINALIGN; here the model's cache line (64 bytes),
 * the granule of its cache and of the checker's overlap rule.
 */
static inline int dma_get_cache_alignment(void)
{
	return 64;
}

/* ---- declared coherent memory (Linux's dma_declare_coherent_memory) ------------------ */

struct dma_coherent_mem {
	char *virt;
	phys_addr_t phys;
	dma_addr_t device_base;
	unsigned int pages;
	unsigned char *used; /* one byte per page */
};

/*
 * Allocations of this device then come from [phys_addr, + size) first,
 * at bus address device_addr + offset, page-granular and aligned to their
 * power-of-two page count as Linux's bitmap_find_free_region.  0, -EINVAL
 * (no phys_to_virt hook, not RAM, size under a page, already declared) or
 * -ENOMEM.
 */
static inline int dma_declare_coherent_memory(struct device *dev, phys_addr_t phys_addr,
					      dma_addr_t device_addr, size_t size)
{
	const struct dmamap_linux_hooks *h = dmamap_linux_hooks;
	unsigned int pages = (unsigned int)(size >> PAGE_SHIFT);
	if (!h || !h->phys_to_virt || !pages || dev->dma_mem)
		return -EINVAL;
	void *virt = h->phys_to_virt(h->priv, phys_addr);
	if (!virt)
		return -EINVAL;
	struct dma_coherent_mem *m = (struct dma_coherent_mem *)calloc(1, sizeof(*m));
	unsigned char *used = (unsigned char *)calloc(pages, 1);
	if (!m || !used) {
		free(m);
		free(used);
		return -ENOMEM;
	}
	*m = (struct dma_coherent_mem){ (char *)virt, phys_addr, device_addr, pages, used };
	dev->dma_mem = m;
	return 0;
}
static inline void *dmamap_linux__coh_alloc(struct dma_coherent_mem *m, size_t size,
					    dma_addr_t *handle)
{
	unsigned int n = 1;
	while ((size_t)n * PAGE_SIZE < size)
		n <<= 1;
	for (unsigned int p = 0; p + n <= m->pages; p += n) {
		unsigned int k = 0;
		while (k < n && !m->used[p + k])
			k++;
		if (k < n)
			continue;
		memset(m->used + p, 1, n);
		memset(m->virt + (size_t)p * PAGE_SIZE, 0, size);
		*handle = m->device_base + (dma_addr_t)p * PAGE_SIZE;
		return m->virt + (size_t)p * PAGE_SIZE;
	}
	return NULL;
}
/* True when vaddr was this area's, and is now free. */
static inline bool dmamap_linux__coh_free(struct dma_coherent_mem *m, size_t size, void *vaddr)
{
	char *v = (char *)vaddr;
	if (!m || v < m->virt || v >= m->virt + (size_t)m->pages * PAGE_SIZE)
		return false;
	unsigned int n = 1;
	while ((size_t)n * PAGE_SIZE < size)
		n <<= 1;
	unsigned int p = (unsigned int)((size_t)(v - m->virt) >> PAGE_SHIFT);
	memset(m->used + p, 0, p + n <= m->pages ? n : m->pages - p);
	return true;
}

/* ---- allocations ----------------------------------------------------------------------- */

static inline void *dmamap_linux__alloc(struct device *dev, size_t size, dma_addr_t *handle,
					unsigned long attrs, const char *origin)
{
	if (dev->dma_mem) {
		void *p = dmamap_linux__coh_alloc(dev->dma_mem, size, handle);
		if (p)
			return p;
	}
	if (!attrs)
		return dmamap_alloc_coherent_at(dmamap__dev(dev), size, handle, origin);
	return dmamap_alloc_attrs(dmamap__dev(dev), size, handle, attrs);
}
#define dma_alloc_attrs(d, s, h, g, a) ((void)(g), dmamap_linux__alloc(d, s, h, a, DMAMAP_HERE))
#define dma_alloc_coherent(d, s, h, g) ((void)(g), dmamap_linux__alloc(d, s, h, 0, DMAMAP_HERE))
#define dma_alloc_wc(d, s, h, g) \
	((void)(g), dmamap_linux__alloc(d, s, h, DMA_ATTR_WRITE_COMBINE, DMAMAP_HERE))

static inline void dma_free_attrs(struct device *dev, size_t size, void *cpu,
				  dma_addr_t handle, unsigned long attrs)
{
	if (dmamap_linux__coh_free(dev->dma_mem, size, cpu))
		return;
	dmamap_free_attrs(dmamap__dev(dev), size, cpu, handle, attrs);
}
static inline void dma_free_coherent(struct device *dev, size_t size, void *cpu,
				     dma_addr_t handle)
{
	dma_free_attrs(dev, size, cpu, handle, 0);
}
static inline void dma_free_wc(struct device *dev, size_t size, void *cpu, dma_addr_t handle)
{
	dma_free_attrs(dev, size, cpu, handle, DMA_ATTR_WRITE_COMBINE);
}
static inline void *dma_alloc_noncoherent(struct device *dev, size_t size, dma_addr_t *handle,
					  enum dma_data_direction dir, gfp_t gfp)
{
	(void)gfp;
	return dmamap_alloc_noncoherent(dmamap__dev(dev), size, handle, DM__DIR(dir));
}
static inline void dma_free_noncoherent(struct device *dev, size_t size, void *cpu,
					dma_addr_t handle, enum dma_data_direction dir)
{
	dmamap_free_noncoherent(dmamap__dev(dev), size, cpu, handle, DM__DIR(dir));
}
/* Linux's dma_alloc_pages: non-coherent pages, owned by the device (sync to read). */
static inline struct page *dma_alloc_pages(struct device *dev, size_t size, dma_addr_t *handle,
					   enum dma_data_direction dir, gfp_t gfp)
{
	void *p = dma_alloc_noncoherent(dev, size, handle, dir, gfp);
	return p ? virt_to_page(p) : NULL;
}
static inline void dma_free_pages(struct device *dev, size_t size, struct page *page,
				  dma_addr_t handle, enum dma_data_direction dir)
{
	dma_free_noncoherent(dev, size, page_address(page), handle, dir);
}
/* One segment (see the top comment); NULL on failure. */
static inline struct sg_table *dma_alloc_noncontiguous(struct device *dev, size_t size,
						       enum dma_data_direction dir, gfp_t gfp,
						       unsigned long attrs)
{
	(void)attrs;
	struct sg_table *sgt = (struct sg_table *)malloc(sizeof(*sgt));
	if (!sgt)
		return NULL;
	if (sg_alloc_table(sgt, 1, gfp)) {
		free(sgt);
		return NULL;
	}
	dma_addr_t dma;
	struct page *pg = dma_alloc_pages(dev, size, &dma, dir, gfp);
	if (!pg) {
		sg_free_table(sgt);
		free(sgt);
		return NULL;
	}
	sg_set_page(sgt->sgl, pg, (unsigned int)PAGE_ALIGN(size), 0);
	sgt->sgl->dma_address = dma;
	sgt->sgl->dma_length = sgt->sgl->length;
	sgt->nents = 1;
	return sgt;
}
static inline void dma_free_noncontiguous(struct device *dev, size_t size, struct sg_table *sgt,
					  enum dma_data_direction dir)
{
	dma_free_pages(dev, size, sg_page(sgt->sgl), sgt->sgl->dma_address, dir);
	sg_free_table(sgt);
	free(sgt);
}
static inline void *dma_vmap_noncontiguous(struct device *dev, size_t size, struct sg_table *sgt)
{
	(void)dev;
	(void)size;
	return page_address(sg_page(sgt->sgl));
}
static inline void dma_vunmap_noncontiguous(struct device *dev, void *vaddr)
{
	(void)dev;
	(void)vaddr;
}

/*
 * Linux's dma_get_sgtable: the pages behind a coherent allocation, for
 * another device to map.  Runs of physically contiguous pages make one
 * entry (one entry per page without a virt_to_phys hook): an IOMMU's
 * coherent memory is scattered pages behind one CPU range.  0 or -ENOMEM.
 */
static inline int dma_get_sgtable_attrs(struct device *dev, struct sg_table *sgt, void *cpu_addr,
					dma_addr_t dma_addr, size_t size, unsigned long attrs)
{
	(void)dev;
	(void)dma_addr;
	(void)attrs;
	size_t n = PAGE_ALIGN(size) >> PAGE_SHIFT;
	char *c = (char *)cpu_addr;
	unsigned int runs = 0;
	for (size_t i = 0; i < n; i++) {
		phys_addr_t here = virt_to_phys(c + i * PAGE_SIZE);
		if (i == 0 || here == (phys_addr_t)-1 ||
		    here != virt_to_phys(c + (i - 1) * PAGE_SIZE) + PAGE_SIZE)
			runs++;
	}
	if (sg_alloc_table(sgt, runs, GFP_KERNEL))
		return -ENOMEM;
	struct scatterlist *s = sgt->sgl;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n) {
			phys_addr_t p = virt_to_phys(c + j * PAGE_SIZE);
			if (p == (phys_addr_t)-1 || p != virt_to_phys(c + (j - 1) * PAGE_SIZE) + PAGE_SIZE)
				break;
			j++;
		}
		sg_set_page(s, virt_to_page(c + i * PAGE_SIZE), (unsigned int)((j - i) * PAGE_SIZE), 0);
		s = sg_next(s);
		i = j;
	}
	return 0;
}
#define dma_get_sgtable(d, t, v, h, s) dma_get_sgtable_attrs(d, t, v, h, s, 0)

/* ---- dma_mmap_* (a userspace model: see the top comment) ------------------------------ */

typedef struct {
	unsigned long pgprot;
} pgprot_t;
#define DMAMAP_LINUX_PROT_CACHED 0ul
#define DMAMAP_LINUX_PROT_NONCACHED 1ul
#define DMAMAP_LINUX_PROT_WRITECOMBINE 2ul

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_pgoff;
	pgprot_t vm_page_prot;
	void *vm_private_data;
	void *dmamap_cpu; /* where the process would see the buffer's vm_pgoff page */
};

/* Linux's dma_mmap_attrs checks: -ENXIO when the vma does not fit the buffer. */
static inline int dma_mmap_attrs(struct device *dev, struct vm_area_struct *vma, void *cpu_addr,
				 dma_addr_t dma_addr, size_t size, unsigned long attrs)
{
	(void)dma_addr;
	unsigned long user_count = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
	unsigned long count = PAGE_ALIGN(size) >> PAGE_SHIFT;
	unsigned long off = vma->vm_pgoff;
	if (off >= count || user_count > count - off)
		return -ENXIO;
	vma->vm_page_prot.pgprot = (attrs & DMA_ATTR_WRITE_COMBINE) ? DMAMAP_LINUX_PROT_WRITECOMBINE
				   : dev->dma_coherent ? DMAMAP_LINUX_PROT_CACHED
						       : DMAMAP_LINUX_PROT_NONCACHED;
	vma->dmamap_cpu = (char *)cpu_addr + off * PAGE_SIZE;
	return 0;
}
static inline int dma_mmap_coherent(struct device *dev, struct vm_area_struct *vma,
				    void *cpu_addr, dma_addr_t dma_addr, size_t size)
{
	return dma_mmap_attrs(dev, vma, cpu_addr, dma_addr, size, 0);
}
static inline int dma_mmap_wc(struct device *dev, struct vm_area_struct *vma, void *cpu_addr,
			      dma_addr_t dma_addr, size_t size)
{
	return dma_mmap_attrs(dev, vma, cpu_addr, dma_addr, size, DMA_ATTR_WRITE_COMBINE);
}

/* ---- DMA pools ----------------------------------------------------------------------- */

/* The library's pool and its device (dmam_pool_destroy needs the device). */
struct dma_pool {
	struct dmamap_pool *pool;
	struct device *dev;
};

static inline struct dma_pool *dma_pool_create(const char *name, struct device *dev,
					       size_t size, size_t align, size_t boundary)
{
	struct dma_pool *p = (struct dma_pool *)malloc(sizeof(*p));
	if (!p)
		return NULL;
	p->dev = dev;
	p->pool = dmamap_pool_create(name, dmamap__dev(dev), size, align, boundary);
	if (!p->pool) {
		free(p);
		return NULL;
	}
	return p;
}
static inline void *dma_pool_alloc(struct dma_pool *pool, gfp_t gfp, dma_addr_t *handle)
{
	(void)gfp;
	return dmamap_pool_alloc(pool->pool, handle);
}
static inline void *dma_pool_zalloc(struct dma_pool *pool, gfp_t gfp, dma_addr_t *handle)
{
	(void)gfp;
	return dmamap_pool_zalloc(pool->pool, handle);
}
static inline void dma_pool_free(struct dma_pool *pool, void *vaddr, dma_addr_t handle)
{
	(void)dmamap_pool_free(pool->pool, vaddr, handle);
}
/*
 * Linux's returns nothing; a refusal (-EBUSY: busy blocks) is logged and
 * reported by the library, and the pool is then kept (never freed busy).
 */
static inline void dma_pool_destroy(struct dma_pool *pool)
{
	if (pool && dmamap_pool_destroy(pool->pool) == 0)
		free(pool);
}

/* ---- managed (devres) resources: dmam_* ------------------------------------------------ */

/* One dmam_ resource; released newest first when the device goes away. */
struct dmamap_devres {
	struct dmamap_devres *next;
	struct dma_pool *pool;   /* a dmam_pool_create pool, or NULL */
	void *vaddr;             /* a dmam_alloc_* block */
	dma_addr_t dma;
	size_t size;
	unsigned long attrs;
};

static inline int dmamap_linux__devres_add(struct device *dev, struct dma_pool *pool, void *vaddr,
					   dma_addr_t dma, size_t size, unsigned long attrs)
{
	struct dmamap_devres *r = (struct dmamap_devres *)malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	*r = (struct dmamap_devres){ dev->devres_head, pool, vaddr, dma, size, attrs };
	dev->devres_head = r;
	return 0;
}
/* Unlinks the matching record; false when there is none. */
static inline bool dmamap_linux__devres_del(struct device *dev, struct dma_pool *pool, void *vaddr,
					    dma_addr_t dma, size_t size)
{
	for (struct dmamap_devres **pp = &dev->devres_head; *pp; pp = &(*pp)->next) {
		struct dmamap_devres *r = *pp;
		if (pool ? r->pool == pool
			 : (!r->pool && r->vaddr == vaddr && r->dma == dma && r->size == size)) {
			*pp = r->next;
			free(r);
			return true;
		}
	}
	return false;
}
static inline void *dmamap_linux__dmam_alloc(struct device *dev, size_t size, dma_addr_t *handle,
					     unsigned long attrs, const char *origin)
{
	void *p = dmamap_linux__alloc(dev, size, handle, attrs, origin);
	if (p && dmamap_linux__devres_add(dev, NULL, p, *handle, size, attrs)) {
		dma_free_attrs(dev, size, p, *handle, attrs);
		return NULL;
	}
	return p;
}
#define dmam_alloc_coherent(d, s, h, g) \
	((void)(g), dmamap_linux__dmam_alloc(d, s, h, 0, DMAMAP_HERE))
#define dmam_alloc_attrs(d, s, h, g, a) \
	((void)(g), dmamap_linux__dmam_alloc(d, s, h, a, DMAMAP_HERE))
/* Linux frees, then warns when the block was not a managed one; so does this. */
static inline void dmam_free_coherent(struct device *dev, size_t size, void *vaddr,
				      dma_addr_t dma_handle)
{
	dma_free_coherent(dev, size, vaddr, dma_handle);
	if (!dmamap_linux__devres_del(dev, NULL, vaddr, dma_handle, size))
		dev_warn(dev, "dmam_free_coherent: %p was not a dmam_ allocation\n", vaddr);
}
static inline struct dma_pool *dmam_pool_create(const char *name, struct device *dev,
						size_t size, size_t align, size_t allocation)
{
	struct dma_pool *pool = dma_pool_create(name, dev, size, align, allocation);
	if (pool && dmamap_linux__devres_add(dev, pool, NULL, 0, 0, 0)) {
		dma_pool_destroy(pool);
		return NULL;
	}
	return pool;
}
static inline void dmam_pool_destroy(struct dma_pool *pool)
{
	dmamap_linux__devres_del(pool->dev, pool, NULL, 0, 0);
	dma_pool_destroy(pool);
}
/*
 * Releases every dmam_ resource of dev, newest first (devres order), and
 * returns how many there were.  Linux's is internal to the driver core
 * (device_release_driver calls it); here the bus (the kit) calls it.
 */
static inline int devres_release_all(struct device *dev)
{
	int n = 0;
	while (dev->devres_head) {
		struct dmamap_devres *r = dev->devres_head;
		dev->devres_head = r->next;
		if (r->pool)
			dma_pool_destroy(r->pool);
		else
			dma_free_attrs(dev, r->size, r->vaddr, r->dma, r->attrs);
		free(r);
		n++;
	}
	return n;
}
/* The device goes away: managed resources, then the declared coherent area. */
static inline int dmamap_linux_device_exit(struct device *dev)
{
	int n = devres_release_all(dev);
	if (dev->dma_mem) {
		free(dev->dma_mem->used);
		free(dev->dma_mem);
		dev->dma_mem = NULL;
	}
	return n;
}

#endif /* DMAMAP_LINUX_COMPAT_H */
