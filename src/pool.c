/*
 * src/pool.c - DMA pools: small coherent blocks carved from coherent pages.
 *
 * Owns: struct dmamap_pool.  Memory comes only from dmamap_alloc_attrs on
 * the pool's device, so whatever backend the device has, the blocks are
 * reachable under its coherent mask.  Must never call the platform.
 *
 * Invariants: a chunk is max(size, 4 KiB) rounded to pages; blocks of
 * `size` bytes start at multiples of `size` inside a chunk, skipping any
 * start whose block would cross a `boundary`; a block is busy iff its bit
 * is set in its chunk's busy bitmap; pool->busy is the number of set bits.
 */
#include "dma-debug.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dm_pool_chunk {
	struct dm_pool_chunk *next;
	void *cpu;
	dmamap_dma_addr_t dma;
	unsigned int nblocks;     /* block slots, including skipped ones */
	unsigned int nbusy;
	uint64_t *busy;           /* one bit per block slot */
	uint64_t *usable;         /* one bit per slot that crosses no boundary */
};

struct dmamap_pool {
	struct dmamap_device *dev;
	char name[32];
	size_t size;              /* block size, rounded up to align */
	size_t boundary;          /* power of two */
	size_t chunk_bytes;
	pthread_mutex_t lock;     /* guards chunks, busy */
	struct dm_pool_chunk *chunks;
	uint64_t busy;
	const void *created_pc;   /* the DMA API checker's origin (debug.c) */
};

static bool dm_pow2(size_t v)
{
	return v && !(v & (v - 1));
}

struct dmamap_pool *dmamap_pool_create(const char *name, struct dmamap_device *dev,
				       size_t size, size_t align, size_t boundary)
{
	if (!dev || size == 0)
		return NULL;
	if (align == 0)
		align = 8;
	if (!dm_pow2(align) || (boundary && (!dm_pow2(boundary) || boundary < size))) {
		dm_log(dev->ctx, DMAMAP_LOG_ERR,
		       "%s: pool '%s': align %zu and boundary %zu must be powers of two, boundary >= size %zu",
		       dev->name, name ? name : "", align, boundary, size);
		return NULL;
	}
	size = (size + align - 1) & ~(align - 1);
	size_t chunk = size > DMAMAP_PAGE_SIZE ? size : DMAMAP_PAGE_SIZE;
	chunk = (chunk + DMAMAP_PAGE_SIZE - 1) & ~(size_t)(DMAMAP_PAGE_SIZE - 1);
	struct dmamap_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->dev = dev;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "pool");
	p->size = size;
	p->boundary = boundary ? boundary : chunk;
	p->chunk_bytes = chunk;
	p->created_pc = __builtin_return_address(0);
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

static struct dm_pool_chunk *dm_pool_grow(struct dmamap_pool *p)
{
	struct dm_pool_chunk *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->nblocks = (unsigned int)(p->chunk_bytes / p->size);
	size_t words = (c->nblocks + 63) / 64;
	c->busy = calloc(words, sizeof(uint64_t));
	c->usable = calloc(words, sizeof(uint64_t));
	c->cpu = c->busy && c->usable ? dmamap_alloc_attrs(p->dev, p->chunk_bytes, &c->dma, 0)
				      : NULL;
	if (!c->cpu) {
		free(c->busy);
		free(c->usable);
		free(c);
		return NULL;
	}
	for (unsigned int i = 0; i < c->nblocks; i++) {
		uint64_t start = c->dma + (uint64_t)i * p->size;
		uint64_t end = start + p->size - 1;
		if ((start & ~(uint64_t)(p->boundary - 1)) == (end & ~(uint64_t)(p->boundary - 1)))
			c->usable[i / 64] |= 1ULL << (i % 64);
	}
	c->next = p->chunks;
	p->chunks = c;
	return c;
}

void *dmamap_pool_alloc(struct dmamap_pool *p, dmamap_dma_addr_t *handle)
{
	if (!p || !handle)
		return NULL;
	pthread_mutex_lock(&p->lock);
	struct dm_pool_chunk *c = p->chunks;
	for (;; c = c->next) {
		if (!c) {
			c = dm_pool_grow(p);
			if (!c) {
				pthread_mutex_unlock(&p->lock);
				return NULL;
			}
		}
		for (unsigned int w = 0; w < (c->nblocks + 63) / 64; w++) {
			uint64_t freebits = c->usable[w] & ~c->busy[w];
			if (!freebits)
				continue;
			unsigned int i = w * 64 + (unsigned int)__builtin_ctzll(freebits);
			c->busy[w] |= 1ULL << (i % 64);
			c->nbusy++;
			p->busy++;
			pthread_mutex_unlock(&p->lock);
			*handle = c->dma + (uint64_t)i * p->size;
			return (char *)c->cpu + (size_t)i * p->size;
		}
	}
}

void *dmamap_pool_zalloc(struct dmamap_pool *p, dmamap_dma_addr_t *handle)
{
	void *b = dmamap_pool_alloc(p, handle);
	if (b)
		memset(b, 0, p->size);
	return b;
}

int dmamap_pool_free(struct dmamap_pool *p, void *cpu, dmamap_dma_addr_t handle)
{
	if (!p || !cpu)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	for (struct dm_pool_chunk *c = p->chunks; c; c = c->next) {
		uintptr_t off = (uintptr_t)cpu - (uintptr_t)c->cpu;
		if ((uintptr_t)cpu < (uintptr_t)c->cpu || off >= p->chunk_bytes)
			continue;
		unsigned int i = (unsigned int)(off / p->size);
		bool ok = off % p->size == 0 && i < c->nblocks &&
			  (c->busy[i / 64] >> (i % 64) & 1) &&
			  handle == c->dma + (uint64_t)off;
		if (ok) {
			c->busy[i / 64] &= ~(1ULL << (i % 64));
			c->nbusy--;
			p->busy--;
		}
		pthread_mutex_unlock(&p->lock);
		if (!ok)
			dm_log(p->dev->ctx, DMAMAP_LOG_ERR,
			       "%s: pool '%s': free of %p (handle 0x%llx) that is not a busy block",
			       p->dev->name, p->name, cpu, (unsigned long long)handle);
		return ok ? 0 : -EINVAL;
	}
	pthread_mutex_unlock(&p->lock);
	dm_log(p->dev->ctx, DMAMAP_LOG_ERR, "%s: pool '%s': free of %p, not from this pool",
	       p->dev->name, p->name, cpu);
	return -EINVAL;
}

int dmamap_pool_destroy(struct dmamap_pool *p)
{
	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	uint64_t busy = p->busy;
	pthread_mutex_unlock(&p->lock);
	if (busy) {
		dm_log(p->dev->ctx, DMAMAP_LOG_ERR,
		       "%s: pool '%s' destroyed with %llu busy blocks: refused",
		       p->dev->name, p->name, (unsigned long long)busy);
		if (dm_unlikely(p->dev->debug))
			dm_debug_pool_busy(p->dev, p->name, busy, p->created_pc,
					   DM_SITE(NULL));
		return -EBUSY;
	}
	struct dm_pool_chunk *c = p->chunks;
	while (c) {
		struct dm_pool_chunk *n = c->next;
		dmamap_free_attrs(p->dev, p->chunk_bytes, c->cpu, c->dma, 0);
		free(c->busy);
		free(c->usable);
		free(c);
		c = n;
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
	return 0;
}
