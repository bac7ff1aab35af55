/*
 * vfio/vfio.c - the Linux VFIO platform: libdmamap on a real PCI function.
 *
 * Owns: the VFIO container, group and device fds of one function; the
 * arena (pinned memory that is this platform's RAM) and its page
 * allocator; the table of IOVA ranges mapped through type1 (VFIO keeps
 * no query of its own, and the library asks iova_to_phys); the BAR
 * mappings.  Must never decide DMA policy (IOVA placement, bouncing,
 * strict or lazy invalidation: src/ does), never call into the library,
 * never include anything from src/ or sim/.
 *
 * Invariants: the arena is mapped, locked and populated from open to
 * close, so phys <-> cpu is a fixed offset (DMAMAP_VFIO_PHYS_BASE); every
 * entry of the mapping table was accepted by VFIO_IOMMU_MAP_DMA and has
 * not been unmapped; `lock` guards the page bitmap, the table and stats.
 *
 * Invalidation.  VFIO_IOMMU_UNMAP_DMA returns only once the kernel's
 * IOMMU driver has cleared the page tables and flushed the IOTLB (type1
 * calls iommu_unmap, then iommu_iotlb_sync, before it unpins), so every
 * unmap here is strict at the hardware.  iotlb_sync and flush_all have
 * nothing left to do; they are counted.  The library's lazy mode still
 * differs in what it owns: when a freed IOVA may be handed out again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio.h"

#define VF_PAGE 4096ULL
#define VF_HUGE (2ULL << 20)
#define VF_DEFAULT_ARENA (64ULL << 20)

struct vf_map {
	uint64_t iova, size;
	dmamap_phys_addr_t phys;
};

struct vf_region {
	uint64_t size, offset;
	uint32_t flags;
	bool present;
};

/* One BAR mapping: mmap'd when VFIO allows it, else pread/pwrite. */
struct vf_bar_map {
	struct dmamap_vfio *v;
	uint8_t *cpu;          /* the first byte asked for (mmap path) */
	void *mmap_base;
	size_t mmap_len;
	uint64_t fd_off;       /* file offset of the first byte asked for */
};

struct dmamap_vfio {
	struct dmamap_platform plat;
	struct dmamap_platform_ops ops;
	struct dmamap_linear_range linear;
	int container, group, device;
	unsigned int group_no;
	char bdf[32];
	int iommu_type;
	uint64_t pgsizes;
	/* Usable IOVA ranges as the kernel reported them (sorted). */
	struct vfio_iova_range ranges[16];
	unsigned int nranges;
	struct vf_region regions[VFIO_PCI_NUM_REGIONS];

	pthread_mutex_t lock;
	uint8_t *arena;
	uint64_t arena_bytes, npages;
	bool hugetlb;
	uint8_t *used; /* one byte per 4 KiB page: taken */
	struct vf_map *maps;
	size_t nmaps, capmaps;
	struct dmamap_vfio_stats st;
	dmamap_log_fn log;
	void *log_priv;
};

/* ---- messages ---------------------------------------------------------------- */

static int vf_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static void vf_log(struct dmamap_vfio *v, enum dmamap_log_level lvl, const char *fmt, ...)
{
	if (!v->log)
		return;
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	v->log(v->log_priv, lvl, buf);
}

static bool vf_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

/* ---- memory: the arena ---------------------------------------------------------- */

static void *plat_phys_to_virt(void *plat, dmamap_phys_addr_t phys)
{
	struct dmamap_vfio *v = plat;
	if (phys < DMAMAP_VFIO_PHYS_BASE || phys - DMAMAP_VFIO_PHYS_BASE >= v->arena_bytes)
		return NULL;
	return v->arena + (phys - DMAMAP_VFIO_PHYS_BASE);
}

static int plat_virt_to_phys(void *plat, const void *cpu, dmamap_phys_addr_t *phys)
{
	struct dmamap_vfio *v = plat;
	uintptr_t c = (uintptr_t)cpu, a = (uintptr_t)v->arena;
	if (c < a || c - a >= v->arena_bytes)
		return -EFAULT; /* not pinned memory: no device may reach it */
	*phys = DMAMAP_VFIO_PHYS_BASE + (c - a);
	return 0;
}

static bool plat_phys_is_ram(void *plat, dmamap_phys_addr_t phys, uint64_t size)
{
	struct dmamap_vfio *v = plat;
	return phys >= DMAMAP_VFIO_PHYS_BASE && size <= v->arena_bytes &&
	       phys - DMAMAP_VFIO_PHYS_BASE <= v->arena_bytes - size;
}

/*
 * First fit from the top: the highest aligned run of free pages whose
 * last byte is at or below limit (the machine contract prefers the
 * highest zone the limit allows).  Caller holds the lock.
 */
static int vf_alloc_locked(struct dmamap_vfio *v, uint64_t npages, uint64_t align,
			   dmamap_phys_addr_t limit, uint64_t *first)
{
	if (!npages || npages > v->npages || !align || (align & (align - 1)))
		return -ENOMEM;
	if (limit < DMAMAP_VFIO_PHYS_BASE)
		return -ENOMEM;
	uint64_t top = v->npages; /* pages below top are allowed */
	uint64_t lim_pages = (limit - DMAMAP_VFIO_PHYS_BASE + 1) / VF_PAGE;
	if (limit - DMAMAP_VFIO_PHYS_BASE + 1 == 0) /* limit == ~0 wraps */
		lim_pages = top;
	if (lim_pages < top)
		top = lim_pages;
	if (top < npages)
		return -ENOMEM;
	/* Alignment is of the physical address: index s is page base_pfn + s. */
	const uint64_t base_pfn = DMAMAP_VFIO_PHYS_BASE / VF_PAGE;
	uint64_t s = ((base_pfn + top - npages) & ~(align - 1));
	if (s < base_pfn)
		return -ENOMEM;
	s -= base_pfn;
	for (;;) {
		uint64_t i = 0;
		while (i < npages && !v->used[s + i])
			i++;
		if (i == npages) {
			memset(v->used + s, 1, npages);
			*first = s;
			return 0;
		}
		if (s < align)
			return -ENOMEM;
		s -= align;
	}
}

static int plat_alloc_pages(void *plat, uint64_t npages, uint64_t align_pages,
			    dmamap_phys_addr_t limit, dmamap_phys_addr_t *phys)
{
	struct dmamap_vfio *v = plat;
	uint64_t first;
	pthread_mutex_lock(&v->lock);
	int rc = vf_alloc_locked(v, npages, align_pages, limit, &first);
	pthread_mutex_unlock(&v->lock);
	if (!rc)
		*phys = DMAMAP_VFIO_PHYS_BASE + first * VF_PAGE;
	return rc;
}

static void plat_free_pages(void *plat, dmamap_phys_addr_t phys, uint64_t npages)
{
	struct dmamap_vfio *v = plat;
	if (!plat_phys_is_ram(v, phys, npages * VF_PAGE))
		return;
	pthread_mutex_lock(&v->lock);
	memset(v->used + (phys - DMAMAP_VFIO_PHYS_BASE) / VF_PAGE, 0, npages);
	pthread_mutex_unlock(&v->lock);
}

void *dmamap_vfio_alloc(struct dmamap_vfio *v, size_t size)
{
	uint64_t n = (size + VF_PAGE - 1) / VF_PAGE, first;
	if (!v || !size)
		return NULL;
	pthread_mutex_lock(&v->lock);
	int rc = vf_alloc_locked(v, n, 1, ~0ULL, &first);
	pthread_mutex_unlock(&v->lock);
	if (rc)
		return NULL;
	void *cpu = v->arena + first * VF_PAGE;
	memset(cpu, 0, n * VF_PAGE);
	return cpu;
}

void dmamap_vfio_free(struct dmamap_vfio *v, void *cpu, size_t size)
{
	dmamap_phys_addr_t phys;
	if (!v || !cpu || plat_virt_to_phys(v, cpu, &phys))
		return;
	plat_free_pages(v, phys, (size + VF_PAGE - 1) / VF_PAGE);
}

/* A PCI device under VFIO on x86 snoops the caches: there is nothing to do. */
static void plat_cache_nop(void *plat, dmamap_phys_addr_t phys, uint64_t size)
{
	(void)plat;
	(void)phys;
	(void)size;
}

static int vf_arena_init(struct dmamap_vfio *v, const struct dmamap_vfio_opts *o, char *err,
			 size_t errlen)
{
	uint64_t bytes = o && o->arena_bytes ? o->arena_bytes : VF_DEFAULT_ARENA;
	bytes = (bytes + VF_HUGE - 1) & ~(VF_HUGE - 1);
	void *p = MAP_FAILED;
	if (!(o && o->no_hugetlb)) {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
		v->hugetlb = p != MAP_FAILED;
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return vf_fail(err, errlen, -ENOMEM, "arena: mmap of %llu bytes: %s",
			       (unsigned long long)bytes, strerror(errno));
	/*
	 * Pinned for the CPU side too: VFIO_IOMMU_MAP_DMA pins what it maps,
	 * but the bounce pool and queues must not move between the maps.
	 */
	if (mlock(p, bytes)) {
		int e = errno;
		munmap(p, bytes);
		return vf_fail(err, errlen, -e, "arena: mlock of %llu bytes: %s (raise "
			       "RLIMIT_MEMLOCK, ulimit -l, or run as root)",
			       (unsigned long long)bytes, strerror(e));
	}
	v->used = calloc(bytes / VF_PAGE, 1);
	if (!v->used) {
		munmap(p, bytes);
		return vf_fail(err, errlen, -ENOMEM, "arena: no memory for its bitmap");
	}
	v->arena = p;
	v->arena_bytes = bytes;
	v->npages = bytes / VF_PAGE;
	return 0;
}

/* ---- the IOMMU: VFIO type1 ---------------------------------------------------------- */

static uint64_t plat_page_sizes(void *plat, int iommu_id)
{
	struct dmamap_vfio *v = plat;
	return iommu_id == DMAMAP_VFIO_IOMMU_ID ? v->pgsizes : 0;
}

static int vf_map_insert(struct dmamap_vfio *v, uint64_t iova, uint64_t size,
			 dmamap_phys_addr_t phys)
{
	if (v->nmaps == v->capmaps) {
		size_t cap = v->capmaps ? v->capmaps * 2 : 64;
		struct vf_map *m = realloc(v->maps, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		v->maps = m;
		v->capmaps = cap;
	}
	/* Sorted by IOVA: iova_to_phys is a binary search. */
	size_t lo = 0, hi = v->nmaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->maps[mid].iova < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(v->maps + lo + 1, v->maps + lo, (v->nmaps - lo) * sizeof(*v->maps));
	v->maps[lo] = (struct vf_map){ iova, size, phys };
	v->nmaps++;
	return 0;
}

/* Index of the entry containing iova, or -1.  Caller holds the lock. */
static long vf_map_find(struct dmamap_vfio *v, uint64_t iova)
{
	size_t lo = 0, hi = v->nmaps;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->maps[mid].iova <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	struct vf_map *m = &v->maps[lo - 1];
	return iova - m->iova < m->size ? (long)(lo - 1) : -1;
}

static int plat_iommu_map(void *plat, int domain_id, dmamap_dma_addr_t iova,
			  dmamap_phys_addr_t phys, uint64_t size, unsigned int prot)
{
	struct dmamap_vfio *v = plat;
	if (domain_id != DMAMAP_VFIO_DOMAIN || !plat_phys_is_ram(v, phys, size))
		return -EINVAL;
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.vaddr = (uintptr_t)plat_phys_to_virt(v, phys),
		.iova = iova,
		.size = size,
	};
	if (prot & DMAMAP_IOMMU_READ)
		m.flags |= VFIO_DMA_MAP_FLAG_READ;
	if (prot & DMAMAP_IOMMU_WRITE)
		m.flags |= VFIO_DMA_MAP_FLAG_WRITE;
	pthread_mutex_lock(&v->lock);
	int rc = 0;
	if (ioctl(v->container, VFIO_IOMMU_MAP_DMA, &m)) {
		rc = -errno;
		vf_log(v, DMAMAP_LOG_ERR, "vfio: VFIO_IOMMU_MAP_DMA iova 0x%llx size 0x%llx: %s",
		       (unsigned long long)iova, (unsigned long long)size, strerror(errno));
	} else if ((rc = vf_map_insert(v, iova, size, phys))) {
		struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova,
							.size = size };
		ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u);
	} else {
		v->st.map_dma++;
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

/*
 * The library unmaps what it mapped: one range, or for a scatterlist the
 * span of several maps (gaps included).  Type1 unmaps every mapping inside
 * the range and refuses (EINVAL) a range that cuts one in two; the table
 * drops exactly what the kernel reports as gone.
 */
static int plat_iommu_unmap(void *plat, int domain_id, dmamap_dma_addr_t iova, uint64_t size,
			    uint64_t *unmapped)
{
	struct dmamap_vfio *v = plat;
	*unmapped = 0;
	if (domain_id != DMAMAP_VFIO_DOMAIN)
		return -EINVAL;
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };
	pthread_mutex_lock(&v->lock);
	int rc = 0;
	if (ioctl(v->container, VFIO_IOMMU_UNMAP_DMA, &u)) {
		rc = -errno;
		vf_log(v, DMAMAP_LOG_ERR, "vfio: VFIO_IOMMU_UNMAP_DMA iova 0x%llx size 0x%llx: %s",
		       (unsigned long long)iova, (unsigned long long)size, strerror(errno));
	} else if (u.size) {
		size_t w = 0;
		for (size_t r = 0; r < v->nmaps; r++) {
			struct vf_map *m = &v->maps[r];
			if (m->iova >= iova && m->iova - iova < size)
				continue; /* inside the range: gone */
			v->maps[w++] = *m;
		}
		v->nmaps = w;
		v->st.unmap_dma++;
		*unmapped = u.size;
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

static int plat_iotlb_sync(void *plat, int domain_id, dmamap_dma_addr_t iova, uint64_t size)
{
	struct dmamap_vfio *v = plat;
	(void)domain_id;
	(void)iova;
	(void)size;
	pthread_mutex_lock(&v->lock);
	v->st.iotlb_syncs++; /* the unmap ioctl already flushed (see the top) */
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static int plat_flush_all(void *plat, int domain_id)
{
	return plat_iotlb_sync(plat, domain_id, 0, 0);
}

static int plat_iova_to_phys(void *plat, int domain_id, dmamap_dma_addr_t iova,
			     dmamap_phys_addr_t *phys)
{
	struct dmamap_vfio *v = plat;
	if (domain_id != DMAMAP_VFIO_DOMAIN)
		return -ENOENT;
	pthread_mutex_lock(&v->lock);
	long i = vf_map_find(v, iova);
	if (i >= 0)
		*phys = v->maps[i].phys + (iova - v->maps[i].iova);
	pthread_mutex_unlock(&v->lock);
	return i >= 0 ? 0 : -ENOENT;
}

static const struct dmamap_iommu_hw_ops vf_iommu_ops = {
	.page_sizes = plat_page_sizes,
	.map = plat_iommu_map,
	.unmap = plat_iommu_unmap,
	.iotlb_sync = plat_iotlb_sync,
	.flush_all = plat_flush_all,
	.iova_to_phys = plat_iova_to_phys,
};

/* ---- BARs: the VFIO regions ----------------------------------------------------- */

static int plat_bar_info(void *plat, void *hw, int bar, struct dmamap_bar_info *out)
{
	struct dmamap_vfio *v = hw;
	(void)plat;
	if (bar < 0 || bar > VFIO_PCI_BAR5_REGION_INDEX || !v->regions[bar].present)
		return -ENODEV;
	out->size = v->regions[bar].size;
	uint32_t bar_reg = 0;
	/* Memory or I/O: the BAR register's bit 0 says (1: I/O space). */
	if (dmamap_vfio_config_read(v, 0x10 + 4 * (uint32_t)bar, 4, &bar_reg))
		return -EIO;
	out->flags = (bar_reg & 1) ? 0 : DMAMAP_BAR_MEM;
	if (!(bar_reg & 1) && (bar_reg & 8))
		out->flags |= DMAMAP_BAR_PREFETCH;
	return 0;
}

static int plat_map_bar(void *plat, void *hw, int bar, uint64_t offset, uint64_t len, bool wc,
			void **map)
{
	struct dmamap_vfio *v = hw;
	(void)plat;
	(void)wc; /* VFIO maps BARs uncached (pgprot_noncached); no WC through it */
	struct vf_region *r = &v->regions[bar];
	struct vf_bar_map *bm = calloc(1, sizeof(*bm));
	if (!bm)
		return -ENOMEM;
	bm->v = v;
	bm->fd_off = r->offset + offset;
	if (r->flags & VFIO_REGION_INFO_FLAG_MMAP) {
		uint64_t start = offset & ~(VF_PAGE - 1);
		uint64_t end = (offset + len + VF_PAGE - 1) & ~(VF_PAGE - 1);
		void *p = mmap(NULL, end - start, PROT_READ | PROT_WRITE, MAP_SHARED, v->device,
			       (off_t)(r->offset + start));
		if (p != MAP_FAILED) {
			bm->mmap_base = p;
			bm->mmap_len = end - start;
			bm->cpu = (uint8_t *)p + (offset - start);
		} else {
			vf_log(v, DMAMAP_LOG_WARN, "vfio: mmap of BAR %d failed (%s): pread/pwrite",
			       bar, strerror(errno));
		}
	}
	*map = bm;
	return 0;
}

static void plat_unmap_bar(void *plat, void *map)
{
	struct vf_bar_map *bm = map;
	(void)plat;
	if (bm->mmap_base)
		munmap(bm->mmap_base, bm->mmap_len);
	free(bm);
}

static void plat_mmio_write(void *plat, void *map, uint64_t off, uint64_t val, unsigned int size,
			    unsigned int flags, unsigned int cpu)
{
	struct vf_bar_map *bm = map;
	(void)plat;
	(void)flags;
	(void)cpu;
	if (bm->cpu) {
		volatile uint8_t *p = bm->cpu + off;
		switch (size) {
		case 1: *(volatile uint8_t *)p = (uint8_t)val; break;
		case 2: *(volatile uint16_t *)p = (uint16_t)val; break;
		case 4: *(volatile uint32_t *)p = (uint32_t)val; break;
		default: *(volatile uint64_t *)p = val; break;
		}
		return;
	}
	/* Little-endian host: the low `size` bytes of val are the value. */
	if (pwrite(bm->v->device, &val, size, (off_t)(bm->fd_off + off)) != (ssize_t)size)
		vf_log(bm->v, DMAMAP_LOG_ERR, "vfio: BAR write at 0x%llx: %s",
		       (unsigned long long)off, strerror(errno));
}

static uint64_t plat_mmio_read(void *plat, void *map, uint64_t off, unsigned int size,
			       unsigned int flags, unsigned int cpu)
{
	struct vf_bar_map *bm = map;
	(void)plat;
	(void)flags;
	(void)cpu;
	if (bm->cpu) {
		volatile uint8_t *p = bm->cpu + off;
		switch (size) {
		case 1: return *(volatile uint8_t *)p;
		case 2: return *(volatile uint16_t *)p;
		case 4: return *(volatile uint32_t *)p;
		default: return *(volatile uint64_t *)p;
		}
	}
	uint64_t val = 0;
	if (pread(bm->v->device, &val, size, (off_t)(bm->fd_off + off)) != (ssize_t)size)
		return ~0ULL; /* as a master abort reads */
	return val;
}

static void plat_barrier(void *plat, int kind, unsigned int cpu)
{
	(void)plat;
	(void)cpu;
#if defined(__x86_64__) || defined(__i386__)
	/* Linux's x86 wmb/rmb/mb: sfence, lfence, mfence. */
	if (kind == 'w')
		__asm__ volatile("sfence" ::: "memory");
	else if (kind == 'r')
		__asm__ volatile("lfence" ::: "memory");
	else
		__asm__ volatile("mfence" ::: "memory");
#else
	(void)kind;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

static const struct dmamap_mmio_ops vf_mmio_ops = {
	.bar_info = plat_bar_info,
	.map_bar = plat_map_bar,
	.unmap_bar = plat_unmap_bar,
	.write = plat_mmio_write,
	.read = plat_mmio_read,
	.barrier = plat_barrier,
};

/* ---- configuration space --------------------------------------------------------- */

int dmamap_vfio_config_read(struct dmamap_vfio *v, uint32_t off, unsigned int size,
			    uint32_t *val)
{
	struct vf_region *r = &v->regions[VFIO_PCI_CONFIG_REGION_INDEX];
	if (!r->present || (size != 1 && size != 2 && size != 4) || off + size > r->size)
		return -EINVAL;
	uint32_t x = 0;
	if (pread(v->device, &x, size, (off_t)(r->offset + off)) != (ssize_t)size)
		return -EIO;
	*val = x;
	return 0;
}

int dmamap_vfio_config_write(struct dmamap_vfio *v, uint32_t off, unsigned int size,
			     uint32_t val)
{
	struct vf_region *r = &v->regions[VFIO_PCI_CONFIG_REGION_INDEX];
	if (!r->present || (size != 1 && size != 2 && size != 4) || off + size > r->size)
		return -EINVAL;
	if (pwrite(v->device, &val, size, (off_t)(r->offset + off)) != (ssize_t)size)
		return -EIO;
	return 0;
}

int dmamap_vfio_enable_bus_master(struct dmamap_vfio *v)
{
	uint32_t cmd;
	int rc = dmamap_vfio_config_read(v, 0x04, 2, &cmd);
	if (!rc)
		rc = dmamap_vfio_config_write(v, 0x04, 2, cmd | 0x2 | 0x4); /* MEM | MASTER */
	return rc;
}

/* ---- opening ----------------------------------------------------------------------- */

static int vf_readlink_base(const char *path, char *out, size_t outlen)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	const char *b = strrchr(buf, '/');
	b = b ? b + 1 : buf;
	size_t len = strlen(b);
	if (len >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, b, len + 1);
	return 0;
}

/* The usable IOVA ranges: type1's capability chain, when it has one. */
static int vf_iommu_info(struct dmamap_vfio *v, char *err, size_t errlen)
{
	struct vfio_iommu_type1_info *info = calloc(1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	info->argsz = sizeof(*info);
	if (ioctl(v->container, VFIO_IOMMU_GET_INFO, info)) {
		int e = errno;
		free(info);
		return vf_fail(err, errlen, -e, "VFIO_IOMMU_GET_INFO: %s", strerror(e));
	}
	if (info->argsz > sizeof(*info)) {
		uint32_t sz = info->argsz;
		struct vfio_iommu_type1_info *big = realloc(info, sz);
		if (!big) {
			free(info);
			return -ENOMEM;
		}
		info = big;
		memset(info, 0, sz);
		info->argsz = sz;
		if (ioctl(v->container, VFIO_IOMMU_GET_INFO, info)) {
			int e = errno;
			free(info);
			return vf_fail(err, errlen, -e, "VFIO_IOMMU_GET_INFO: %s", strerror(e));
		}
	}
	v->pgsizes = (info->flags & VFIO_IOMMU_INFO_PGSIZES) ? info->iova_pgsizes : VF_PAGE;
	v->nranges = 0;
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;
		while (off && off + sizeof(struct vfio_info_cap_header) <= info->argsz) {
			struct vfio_info_cap_header *h = (void *)((uint8_t *)info + off);
			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *c = (void *)h;
				for (uint32_t i = 0; i < c->nr_iovas && v->nranges < 16; i++)
					v->ranges[v->nranges++] = c->iova_ranges[i];
			}
			off = h->next;
		}
	}
	free(info);
	if (!v->nranges) /* an old kernel: no list; the whole space is usable */
		v->ranges[v->nranges++] = (struct vfio_iova_range){ 0, ~0ULL };
	return 0;
}

static int vf_open_device(struct dmamap_vfio *v, char *err, size_t errlen)
{
	v->device = ioctl(v->group, VFIO_GROUP_GET_DEVICE_FD, v->bdf);
	if (v->device < 0) {
		int e = errno;
		v->device = -1;
		return vf_fail(err, errlen, -e, "VFIO_GROUP_GET_DEVICE_FD %s: %s", v->bdf,
			       strerror(e));
	}
	struct vfio_device_info di = { .argsz = sizeof(di) };
	if (ioctl(v->device, VFIO_DEVICE_GET_INFO, &di))
		return vf_fail(err, errlen, -errno, "VFIO_DEVICE_GET_INFO %s: %s", v->bdf,
			       strerror(errno));
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI))
		return vf_fail(err, errlen, -ENODEV, "%s: VFIO says it is not a PCI device",
			       v->bdf);
	for (uint32_t i = 0; i < di.num_regions && i < VFIO_PCI_NUM_REGIONS; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
		if (ioctl(v->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
			continue;
		v->regions[i] = (struct vf_region){ ri.size, ri.offset, ri.flags, ri.size != 0 };
	}
	if (!v->regions[VFIO_PCI_CONFIG_REGION_INDEX].present)
		return vf_fail(err, errlen, -ENODEV, "%s: no configuration space region",
			       v->bdf);
	return 0;
}

static int vf_open(struct dmamap_vfio *v, const char *bdf, const struct dmamap_vfio_opts *o,
		   char *err, size_t errlen)
{
	const char *sys = o && o->sysfs_root ? o->sysfs_root : "/sys";
	const char *dev = o && o->dev_root ? o->dev_root : "/dev";
	char path[PATH_MAX], name[64];
	snprintf(v->bdf, sizeof(v->bdf), "%s", bdf);

	/* The device, its driver and its group, as sysfs tells them. */
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s", sys, bdf);
	if (!vf_exists(path))
		return vf_fail(err, errlen, -ENOENT, "%s: %s (no such PCI device)", path,
			       strerror(ENOENT));
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", sys, bdf);
	int rc = vf_readlink_base(path, name, sizeof(name));
	if (rc == -ENOENT)
		return vf_fail(err, errlen, -ENXIO, "%s: not bound to any driver; bind it to "
			       "vfio-pci: echo vfio-pci > %s/bus/pci/devices/%s/driver_override; "
			       "echo %s > %s/bus/pci/drivers_probe", bdf, sys, bdf, bdf, sys);
	if (rc)
		return vf_fail(err, errlen, rc, "%s: %s", path, strerror(-rc));
	if (strcmp(name, "vfio-pci"))
		return vf_fail(err, errlen, -ENXIO, "%s: bound to %s, not vfio-pci; rebind: echo "
			       "vfio-pci > %s/bus/pci/devices/%s/driver_override; echo %s > "
			       "%s/bus/pci/drivers/%s/unbind; echo %s > %s/bus/pci/drivers_probe",
			       bdf, name, sys, bdf, bdf, sys, name, bdf, sys);
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", sys, bdf);
	rc = vf_readlink_base(path, name, sizeof(name));
	if (rc)
		return vf_fail(err, errlen, -ENODEV, "%s: %s (no IOMMU group: is the IOMMU on? "
			       "intel_iommu=on / amd_iommu=on, and not iommu=pt)", path,
			       strerror(-rc));
	char *end;
	unsigned long g = strtoul(name, &end, 10);
	if (*end || end == name)
		return vf_fail(err, errlen, -EINVAL, "%s: group name \"%s\" is not a number", path,
			       name);
	v->group_no = (unsigned int)g;

	/* The container. */
	snprintf(path, sizeof(path), "%s/vfio/vfio", dev);
	v->container = open(path, O_RDWR | O_CLOEXEC);
	if (v->container < 0) {
		int e = errno;
		char mod[PATH_MAX];
		snprintf(mod, sizeof(mod), "%s/module/vfio", sys);
		if (e == ENOENT && !vf_exists(mod))
			return vf_fail(err, errlen, -ENOENT, "%s: %s (module vfio is not loaded: "
				       "modprobe vfio-pci)", path, strerror(e));
		if (e == EACCES || e == EPERM)
			return vf_fail(err, errlen, -e, "%s: %s (needs root, or read-write access "
				       "to it)", path, strerror(e));
		return vf_fail(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	int ver = ioctl(v->container, VFIO_GET_API_VERSION);
	if (ver < 0)
		return vf_fail(err, errlen, -errno, "%s: VFIO_GET_API_VERSION: %s (not a VFIO "
			       "container)", path, strerror(errno));
	if (ver != VFIO_API_VERSION)
		return vf_fail(err, errlen, -EINVAL, "%s: VFIO API version %d, expected %d", path,
			       ver, VFIO_API_VERSION);
	if (ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0)
		v->iommu_type = VFIO_TYPE1v2_IOMMU;
	else if (ioctl(v->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) > 0)
		v->iommu_type = VFIO_TYPE1_IOMMU;
	else
		return vf_fail(err, errlen, -ENODEV, "%s: no type1 IOMMU (module "
			       "vfio_iommu_type1 is not loaded: modprobe vfio_iommu_type1)", path);

	/* The group. */
	snprintf(path, sizeof(path), "%s/vfio/%u", dev, v->group_no);
	v->group = open(path, O_RDWR | O_CLOEXEC);
	if (v->group < 0) {
		int e = errno;
		if (e == ENOENT)
			return vf_fail(err, errlen, -e, "%s: %s (group %u has no VFIO node)", path,
				       strerror(e), v->group_no);
		if (e == EACCES || e == EPERM)
			return vf_fail(err, errlen, -e, "%s: %s (needs root, or read-write access "
				       "to it)", path, strerror(e));
		if (e == EBUSY)
			return vf_fail(err, errlen, -e, "%s: %s (the group is open in another "
				       "process)", path, strerror(e));
		return vf_fail(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	struct vfio_group_status gs = { .argsz = sizeof(gs) };
	if (ioctl(v->group, VFIO_GROUP_GET_STATUS, &gs))
		return vf_fail(err, errlen, -errno, "%s: VFIO_GROUP_GET_STATUS: %s", path,
			       strerror(errno));
	if (!(gs.flags & VFIO_GROUP_FLAGS_VIABLE))
		return vf_fail(err, errlen, -EBUSY, "%s: group %u is not viable: every device in "
			       "%s/kernel/iommu_groups/%u/devices must be bound to vfio-pci or to "
			       "no driver", path, v->group_no, sys, v->group_no);
	if (ioctl(v->group, VFIO_GROUP_SET_CONTAINER, &v->container))
		return vf_fail(err, errlen, -errno, "%s: VFIO_GROUP_SET_CONTAINER: %s", path,
			       strerror(errno));
	if (ioctl(v->container, VFIO_SET_IOMMU, v->iommu_type)) {
		int e = errno;
		/* type1 refuses an IOMMU without interrupt remapping (vfio_iommu_type1_attach_group). */
		return vf_fail(err, errlen, -e, "VFIO_SET_IOMMU(type1%s): %s%s",
			       v->iommu_type == VFIO_TYPE1v2_IOMMU ? "v2" : "", strerror(e),
			       e == EPERM ? " (no interrupt remapping: load vfio_iommu_type1 with "
			       "allow_unsafe_interrupts=1, or enable interrupt remapping)" : "");
	}
	if ((rc = vf_iommu_info(v, err, errlen)))
		return rc;
	return vf_open_device(v, err, errlen);
}

int dmamap_vfio_open(const char *bdf, const struct dmamap_vfio_opts *opts,
		     struct dmamap_vfio **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = 0;
	if (!out)
		return vf_fail(err, errlen, -EINVAL, "dmamap_vfio_open: out is NULL");
	*out = NULL;
	if (!bdf || !*bdf || strlen(bdf) >= 32 || strchr(bdf, '/'))
		return vf_fail(err, errlen, -EINVAL, "dmamap_vfio_open: bad PCI address \"%s\"",
			       bdf ? bdf : "(null)");
	struct dmamap_vfio *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->container = v->group = v->device = -1;
	v->log = opts ? opts->log : NULL;
	v->log_priv = opts ? opts->log_priv : NULL;
	pthread_mutex_init(&v->lock, NULL);
	int rc = vf_open(v, bdf, opts, err, errlen);
	if (!rc)
		rc = vf_arena_init(v, opts, err, errlen);
	if (rc) {
		dmamap_vfio_close(v);
		return rc;
	}

	v->ops = (struct dmamap_platform_ops){
		.phys_to_virt = plat_phys_to_virt,
		.virt_to_phys = plat_virt_to_phys,
		.phys_is_ram = plat_phys_is_ram,
		.alloc_pages = plat_alloc_pages,
		.free_pages = plat_free_pages,
		.cache_clean = plat_cache_nop,
		.cache_invalidate = plat_cache_nop,
		.iommu = &vf_iommu_ops,
		.mmio = &vf_mmio_ops,
	};
	v->linear = (struct dmamap_linear_range){ v->arena, DMAMAP_VFIO_PHYS_BASE, v->arena_bytes };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	v->plat = (struct dmamap_platform){
		.ops = &v->ops,
		.priv = v,
#if defined(__aarch64__)
		.arch = DMAMAP_ARCH_ARM64,
#elif defined(__powerpc64__)
		.arch = DMAMAP_ARCH_POWERPC,
#else
		.arch = DMAMAP_ARCH_X86,
		/* x86's ZONE_DMA: the first 16 MiB. */
		.zone_dma_limit = (16ULL << 20) - 1,
#endif
		.ncpus = ncpu > 0 ? (unsigned int)ncpu : 1,
		.max_ram_end = DMAMAP_VFIO_PHYS_BASE + v->arena_bytes - 1,
		.total_ram = v->arena_bytes,
		.linear = &v->linear,
		.nlinear = 1,
	};
	v->st.hugetlb = v->hugetlb;
	v->st.arena_bytes = v->arena_bytes;
	v->st.iova_pgsizes = v->pgsizes;
	v->st.group = v->group_no;
	vf_log(v, DMAMAP_LOG_INFO, "vfio: %s: group %u, type1%s, IOVA page sizes 0x%llx, %u "
	       "usable IOVA range(s), arena %llu MiB (%s pages)", bdf, v->group_no,
	       v->iommu_type == VFIO_TYPE1v2_IOMMU ? "v2" : "", (unsigned long long)v->pgsizes,
	       v->nranges, (unsigned long long)(v->arena_bytes >> 20),
	       v->hugetlb ? "2 MiB hugetlb" : "4 KiB");
	*out = v;
	return 0;
}

void dmamap_vfio_close(struct dmamap_vfio *v)
{
	if (!v)
		return;
	/* Whatever the library left mapped goes with the container. */
	if (v->device >= 0)
		close(v->device);
	if (v->group >= 0)
		close(v->group);
	if (v->container >= 0)
		close(v->container);
	if (v->arena)
		munmap(v->arena, v->arena_bytes);
	free(v->used);
	free(v->maps);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

const struct dmamap_platform *dmamap_vfio_platform(struct dmamap_vfio *v)
{
	return &v->plat;
}

void dmamap_vfio_device_desc(struct dmamap_vfio *v, struct dmamap_device_desc *d)
{
	memset(d, 0, sizeof(*d));
	d->name = v->bdf;
	d->bus = DMAMAP_BUS_PCI;
	d->coherent = true;
	d->hw = v;
	d->iommu_id = DMAMAP_VFIO_IOMMU_ID;
	d->iommu_domain = DMAMAP_VFIO_DOMAIN;
	/*
	 * The window ends where the last usable range does; every gap
	 * between usable ranges is reserved.  More gaps than the description
	 * holds: the window stops before the first that does not fit.
	 */
	uint64_t top = v->ranges[v->nranges - 1].end;
	for (unsigned int i = 0; i + 1 < v->nranges; i++) {
		uint64_t gap = v->ranges[i].end + 1, gap_end = v->ranges[i + 1].start - 1;
		if (gap > gap_end)
			continue;
		if (d->niommu_reserved == DMAMAP_MAX_DMA_RANGES) {
			top = gap - 1;
			break;
		}
		d->iommu_reserved[d->niommu_reserved++] =
			(struct dmamap_dma_range){ .dma = gap, .size = gap_end - gap + 1 };
	}
	uint64_t base = v->ranges[0].start;
	if (base || top != ~0ULL) {
		d->iommu_window_base = base;
		d->iommu_window_size = top - base + 1;
	}
}

void dmamap_vfio_get_stats(struct dmamap_vfio *v, struct dmamap_vfio_stats *st)
{
	pthread_mutex_lock(&v->lock);
	*st = v->st;
	st->live_mappings = v->nmaps;
	pthread_mutex_unlock(&v->lock);
}
