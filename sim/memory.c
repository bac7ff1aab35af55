/*
 * sim/memory.c - the machine's memory: building it, and the CPU view.
 *
 * Owns: machine creation and destruction (it composes the other parts),
 * the one memfd that is machine memory, the CPU mappings of RAM, address
 * translation between physical addresses and CPU pointers, and the
 * resident-size measurement.  Must never decide DMA policy and never
 * include anything from src/.
 *
 * Model: machine memory is a sparse memfd whose file offset is the machine
 * address; it is ftruncate'd to the end of the highest RAM, so holes cost
 * nothing and pages cost host memory only once touched.  Each RAM range
 * is mmap'd (MAP_SHARED) at file offset == its base: that mapping is the
 * CPU view.  Sharing one file lets the hypervisor model (xen.c) alias the
 * same storage at other guest addresses and keep the frames the OS does
 * not own further up the file (m->xen_other, never RAM to the OS).
 * Invariant: m->map[] is sorted,
 * every entry is page aligned, and two entries never touch (adjacent RAM
 * ranges of the description are merged), so any RAM interval lies inside
 * exactly one mapping and is contiguous in the CPU view.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_internal.h"

/* Sets *why (when asked for) and returns -EINVAL. */
static int bad_desc(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

static int check_desc(const struct sim_machine_desc *d, const char **why)
{
	if (d->nram == 0)
		return bad_desc(why, "no RAM ranges");
	if (d->nram > SIM_MAX_RAM_RANGES)
		return bad_desc(why, "more than SIM_MAX_RAM_RANGES RAM ranges");
	uint64_t prev_end = 0;
	for (unsigned int i = 0; i < d->nram; i++) {
		const struct sim_ram_range *r = &d->ram[i];
		if (r->size == 0)
			return bad_desc(why, "RAM range of size 0");
		if ((r->base | r->size) & SIM_PAGE_MASK)
			return bad_desc(why, "RAM range not 4 KiB aligned");
		if (r->base >= SIM_PHYS_LIMIT ||
		    r->size > SIM_PHYS_LIMIT - r->base)
			return bad_desc(why, "RAM range ends beyond 2^48");
		if (i > 0 && r->base < prev_end)
			return bad_desc(why,
					"RAM ranges unsorted or overlapping");
		prev_end = r->base + r->size;
	}
	uint64_t z = d->zone_dma_limit;
	if (z && (z >= SIM_PHYS_LIMIT || ((z + 1) & SIM_PAGE_MASK)))
		return bad_desc(why, "zone_dma_limit must be a page end below 2^48");
	return 0;
}

static void unmap_all(struct sim_machine *m)
{
	for (unsigned int i = 0; i < m->nmap; i++)
		munmap(m->map[i].cpu, m->map[i].end - m->map[i].base);
	m->nmap = 0;
}

int sim_machine_create(const struct sim_machine_desc *desc,
		       struct sim_machine **out, const char **why)
{
	if (why)
		*why = NULL;
	if (!out)
		return bad_desc(why, "no output pointer");
	*out = NULL;
	if (!desc)
		return bad_desc(why, "no description");
	int rc = check_desc(desc, why);
	if (rc)
		return rc;

	struct sim_machine *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->arch = desc->arch;
	m->ncpus = desc->ncpus ? desc->ncpus : 1;
	m->zone_dma_limit = desc->zone_dma_limit ? desc->zone_dma_limit
						 : SIM_DEFAULT_ZONE_DMA_LIMIT;
	m->memfd = -1;
	m->virtual_clock = desc->virtual_clock;

	/* Merge touching ranges: one mapping each, holes between. */
	for (unsigned int i = 0; i < desc->nram; i++) {
		uint64_t b = desc->ram[i].base, e = b + desc->ram[i].size;
		if (m->nmap && m->map[m->nmap - 1].end == b)
			m->map[m->nmap - 1].end = e;
		else
			m->map[m->nmap++] = (struct simi_mapping){ b, e, NULL };
		m->total_ram += e - b;
	}
	m->ram_end = m->map[m->nmap - 1].end;
	unsigned int nmap = m->nmap;
	m->nmap = 0; /* counts mappings actually made, for unwinding */

	rc = -ENOMEM;
	if (why)
		*why = "out of host memory or address space";
	m->memfd = memfd_create("dmamap-sim-memory", MFD_CLOEXEC);
	if (m->memfd < 0 || ftruncate(m->memfd, (off_t)m->ram_end) != 0)
		goto fail;
	for (unsigned int i = 0; i < nmap; i++) {
		struct simi_mapping *mp = &m->map[i];
		void *p = mmap(NULL, mp->end - mp->base, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_NORESERVE, m->memfd,
			       (off_t)mp->base);
		if (p == MAP_FAILED)
			goto fail;
		mp->cpu = p;
		m->nmap++;
		m->linear[i] = (struct dmamap_linear_range){
			.cpu = p, .phys = mp->base, .size = mp->end - mp->base
		};
	}
	if (pthread_mutex_init(&m->dev_lock, NULL))
		goto fail;
	if (simi_pagealloc_init(m))
		goto fail_dev;
	if (simi_cache_init(m))
		goto fail_pa;
	simi_platform_init(m);
	if (why)
		*why = NULL;
	*out = m;
	return 0;

fail_pa:
	simi_pagealloc_fini(m);
fail_dev:
	pthread_mutex_destroy(&m->dev_lock);
fail:
	unmap_all(m);
	if (m->memfd >= 0)
		close(m->memfd);
	free(m);
	return rc;
}

void sim_machine_destroy(struct sim_machine *m)
{
	if (!m)
		return;
	simi_devices_fini(m);
	simi_xen_fini(m);
	simi_mmio_fini(m);
	simi_vmap_fini(m);
	simi_cache_fini(m);
	simi_pagealloc_fini(m);
	pthread_mutex_destroy(&m->dev_lock);
	pthread_mutex_destroy(&m->cc_lock);
	unmap_all(m);
	close(m->memfd);
	free(m);
}

const struct simi_mapping *simi_mapping_of(const struct sim_machine *m,
					   uint64_t phys, uint64_t len)
{
	/* Last mapping whose base is at or below phys (at most 16: bisect). */
	unsigned int lo = 0, hi = m->nmap;
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		if (m->map[mid].base <= phys)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const struct simi_mapping *mp = &m->map[lo - 1];
	if (phys >= mp->end || len > mp->end - phys)
		return NULL;
	return mp;
}

const struct simi_mapping *simi_storage_mapping_of(const struct sim_machine *m,
						   uint64_t s, uint64_t len)
{
	const struct simi_mapping *mp = simi_mapping_of(m, s, len);
	if (mp || s < m->xen_other.base || s >= m->xen_other.end ||
	    len > m->xen_other.end - s)
		return mp;
	return &m->xen_other;
}

void *sim_phys_to_cpu(struct sim_machine *m, uint64_t phys)
{
	const struct simi_mapping *mp = simi_mapping_of(m, phys, 1);
	return mp ? mp->cpu + (phys - mp->base) : NULL;
}

int sim_cpu_to_phys(struct sim_machine *m, const void *cpu, uint64_t *phys)
{
	uintptr_t c = (uintptr_t)cpu;
	for (unsigned int i = 0; i < m->nmap; i++) {
		uintptr_t start = (uintptr_t)m->map[i].cpu;
		if (c >= start && c - start < m->map[i].end - m->map[i].base) {
			*phys = m->map[i].base + (c - start);
			return 0;
		}
	}
	return simi_vmap_to_phys(m, cpu, phys);
}

bool sim_is_ram(struct sim_machine *m, uint64_t phys, uint64_t size)
{
	/* A zero-length question is about the byte at phys. */
	return simi_mapping_of(m, phys, size ? size : 1) != NULL;
}

/*
 * tmpfs counts the blocks a file really holds, so the memfd's st_blocks is
 * exactly the machine memory that was touched, however large and sparse
 * the address space (mincore over 16 TiB of mappings would be far slower).
 * Cache-model shadows are not counted: this is the memory's footprint.
 */
uint64_t sim_resident_bytes(struct sim_machine *m)
{
	struct stat st;
	if (fstat(m->memfd, &st) != 0)
		return 0;
	return (uint64_t)st.st_blocks * 512;
}
