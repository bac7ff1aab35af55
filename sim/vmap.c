/*
 * sim/vmap.c - contiguous CPU mappings of scattered machine pages (the
 * platform's vmap hook: an IOMMU's coherent buffers need no contiguous
 * memory).
 *
 * Owns: the aliases (each page of the memfd mapped again, MAP_FIXED, into
 * one reserved range) and answering cpu -> phys inside them.  Must never
 * decide DMA policy and never include anything from src/.  An alias is the
 * same memory as the linear map, so CPU writes through either are seen
 * through both; the cache model keys on storage addresses and is not
 * affected.  Under the hypervisor a foreign (grant-mapped) page is aliased
 * at its storage, the domU's frame, as the linear map shows it then; a
 * later grant_unmap does not follow into existing aliases.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sim_internal.h"

struct simi_vmap {
	uint8_t *cpu;
	uint64_t npages;
	uint64_t *pages;
	struct simi_vmap *next;
};

struct simi_vmaps {
	pthread_mutex_t lock;
	struct simi_vmap *head;
};

static struct simi_vmaps *vmaps_of(struct sim_machine *m)
{
	pthread_mutex_lock(&m->dev_lock);
	if (!m->vmaps) {
		struct simi_vmaps *v = calloc(1, sizeof(*v));
		if (v && !pthread_mutex_init(&v->lock, NULL))
			m->vmaps = v;
		else
			free(v);
	}
	pthread_mutex_unlock(&m->dev_lock);
	return m->vmaps;
}

void *sim_vmap(struct sim_machine *m, const uint64_t *pages, uint64_t npages)
{
	struct simi_vmaps *vs = vmaps_of(m);
	if (!vs || !npages || npages > (SIZE_MAX >> SIM_PAGE_SHIFT))
		return NULL;
	for (uint64_t i = 0; i < npages; i++)
		if ((pages[i] & SIM_PAGE_MASK) || !sim_is_ram(m, pages[i], SIM_PAGE_SIZE))
			return NULL;
	struct simi_vmap *v = calloc(1, sizeof(*v));
	size_t len = (size_t)(npages << SIM_PAGE_SHIFT);
	if (!v || !(v->pages = malloc(npages * sizeof(*v->pages)))) {
		free(v);
		return NULL;
	}
	/* Reserve the range, then put each machine page into its slot. */
	void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		goto fail;
	for (uint64_t i = 0; i < npages; i++) {
		void *at = (uint8_t *)base + (i << SIM_PAGE_SHIFT);
		uint64_t s = m->xen ? simi_xen_storage_of(m, pages[i]) : pages[i];
		if (mmap(at, SIM_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 m->memfd, (off_t)s) == MAP_FAILED) {
			munmap(base, len);
			goto fail;
		}
	}
	memcpy(v->pages, pages, npages * sizeof(*pages));
	v->cpu = base;
	v->npages = npages;
	pthread_mutex_lock(&vs->lock);
	v->next = vs->head;
	vs->head = v;
	pthread_mutex_unlock(&vs->lock);
	return base;
fail:
	free(v->pages);
	free(v);
	return NULL;
}

void sim_vunmap(struct sim_machine *m, void *cpu, uint64_t npages)
{
	struct simi_vmaps *vs = m->vmaps;
	if (!vs || !cpu)
		return;
	pthread_mutex_lock(&vs->lock);
	for (struct simi_vmap **pp = &vs->head; *pp; pp = &(*pp)->next) {
		struct simi_vmap *v = *pp;
		if (v->cpu != cpu || v->npages != npages)
			continue;
		*pp = v->next;
		pthread_mutex_unlock(&vs->lock);
		munmap(v->cpu, (size_t)(v->npages << SIM_PAGE_SHIFT));
		free(v->pages);
		free(v);
		return;
	}
	pthread_mutex_unlock(&vs->lock);
}

int simi_vmap_to_phys(struct sim_machine *m, const void *cpu, uint64_t *phys)
{
	struct simi_vmaps *vs = m->vmaps;
	uintptr_t c = (uintptr_t)cpu;
	int rc = -EFAULT;
	if (!vs)
		return rc;
	pthread_mutex_lock(&vs->lock);
	for (struct simi_vmap *v = vs->head; v; v = v->next) {
		uintptr_t start = (uintptr_t)v->cpu;
		if (c >= start && c - start < (v->npages << SIM_PAGE_SHIFT)) {
			uint64_t off = c - start;
			*phys = v->pages[off >> SIM_PAGE_SHIFT] + (off & SIM_PAGE_MASK);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vs->lock);
	return rc;
}

void simi_vmap_fini(struct sim_machine *m)
{
	struct simi_vmaps *vs = m->vmaps;
	if (!vs)
		return;
	while (vs->head) {
		struct simi_vmap *v = vs->head;
		vs->head = v->next;
		munmap(v->cpu, (size_t)(v->npages << SIM_PAGE_SHIFT));
		free(v->pages);
		free(v);
	}
	pthread_mutex_destroy(&vs->lock);
	free(vs);
	m->vmaps = NULL;
}
