/*
 * tests/util/testutil.c - test fixtures (see testutil.h).
 *
 * Owns: building a simulated machine and a context for a test.  Never
 * decides policy; asserts (cmocka) on fixture failures so tests stay short.
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The library may log from several threads at once (stress tests). */
static pthread_mutex_t tu_log_lock = PTHREAD_MUTEX_INITIALIZER;

void tu_log_cb(void *priv, enum dmamap_log_level level, const char *msg)
{
	struct tu_env *e = priv;
	(void)level;
	pthread_mutex_lock(&tu_log_lock);
	if (e->nlog < TU_LOG_MAX) {
		snprintf(e->log[e->nlog], sizeof(e->log[0]), "%s", msg);
		e->nlog++;
	}
	e->nlog_total++;
	pthread_mutex_unlock(&tu_log_lock);
	if (getenv("TU_VERBOSE"))
		fprintf(stderr, "[dmamap] %s\n", msg);
}

int tu_env_try_init(struct tu_env *e, const struct tu_opts *o)
{
	static const struct tu_opts defaults = { 0 };
	if (!o)
		o = &defaults;
	memset(e, 0, sizeof(*e));
	uint64_t ram = (o->ram_gib ? o->ram_gib : 8) * TU_GIB;
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86,
				       .ncpus = o->ncpus ? o->ncpus : 4,
				       .virtual_clock = o->virtual_clock };
	uint64_t low = ram < 3 * TU_GIB ? ram : 3 * TU_GIB;
	md.ram[md.nram++] = (struct sim_ram_range){ 0, low };
	if (ram > low)
		md.ram[md.nram++] = (struct sim_ram_range){ 4 * TU_GIB, ram - low };
	const char *why = NULL;
	int rc = sim_machine_create(&md, &e->m, &why);
	assert_int_equal(rc, 0);
	struct dmamap_config cfg = {
		.bootargs = o->bootargs,
		.swiotlb_mode = o->swiotlb_mode,
		.swiotlb_bytes = o->swiotlb_bytes,
		.swiotlb_dynamic = o->dynamic,
		.cc_guest = o->cc_guest,
		.log = tu_log_cb,
		.log_priv = e,
		/* Tests decide when deferred work runs, unless they test the thread. */
		.deferred = o->deferred_thread ? DMAMAP_DEFERRED_THREAD : DMAMAP_DEFERRED_MANUAL,
	};
	rc = dmamap_ctx_create(sim_platform(e->m), &cfg, &e->ctx);
	if (rc)
		e->ctx = NULL;
	return rc;
}

void tu_env_init(struct tu_env *e, const struct tu_opts *o)
{
	assert_int_equal(tu_env_try_init(e, o), 0);
}

void tu_env_fini(struct tu_env *e)
{
	if (e->ctx)
		assert_int_equal(dmamap_ctx_destroy(e->ctx), 0);
	sim_machine_destroy(e->m);
	e->ctx = NULL;
	e->m = NULL;
}

void tu_dev_add_desc(struct tu_env *e, struct tu_dev *d,
		     const struct sim_device_desc *sdesc,
		     struct dmamap_swiotlb *restricted)
{
	assert_int_equal(sim_device_create(e->m, sdesc, &d->sd), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	dd.restricted_pool = restricted;
	assert_int_equal(dmamap_device_add(e->ctx, &dd, &d->dev), 0);
}

void tu_dev_add(struct tu_env *e, struct tu_dev *d, const char *name,
		unsigned int addr_bits, bool coherent, enum dmamap_bus bus)
{
	struct sim_device_desc sd = { .name = name, .bus = bus,
				      .addr_bits = addr_bits,
				      .coherent = coherent };
	tu_dev_add_desc(e, d, &sd, NULL);
}

void tu_dev_remove(struct tu_dev *d)
{
	uint64_t leaked = 0;
	assert_int_equal(dmamap_device_remove(d->dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	d->dev = NULL;
}

void *tu_alloc(struct tu_env *e, uint64_t npages, uint64_t lo, uint64_t hi,
	       uint64_t *phys)
{
	uint64_t p;
	assert_int_equal(sim_alloc_pages(e->m, npages, 1, lo, hi, &p), 0);
	if (phys)
		*phys = p;
	void *cpu = sim_phys_to_cpu(e->m, p);
	assert_non_null(cpu);
	return cpu;
}

void tu_free(struct tu_env *e, void *cpu, uint64_t npages)
{
	uint64_t p;
	assert_int_equal(sim_cpu_to_phys(e->m, cpu, &p), 0);
	sim_free_pages(e->m, p, npages);
}

void *tu_alloc_low(struct tu_env *e, uint64_t npages, uint64_t *phys)
{
	return tu_alloc(e, npages, 0, 4 * TU_GIB - 1, phys);
}

void *tu_alloc_high(struct tu_env *e, uint64_t npages, uint64_t *phys)
{
	return tu_alloc(e, npages, 4 * TU_GIB, ~0ULL, phys);
}

uint64_t tu_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static inline uint8_t tu_byte(size_t i, uint32_t seed)
{
	uint32_t x = (uint32_t)i * 2654435761u ^ seed * 40503u;
	x ^= x >> 13;
	return (uint8_t)(x ^ (x >> 7) ^ seed);
}

void tu_fill(void *buf, size_t len, uint32_t seed)
{
	uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		b[i] = tu_byte(i, seed);
}

long tu_check(const void *buf, size_t len, uint32_t seed)
{
	const uint8_t *b = buf;
	for (size_t i = 0; i < len; i++)
		if (b[i] != tu_byte(i, seed))
			return (long)i;
	return -1;
}

bool tu_log_has(const struct tu_env *e, const char *needle)
{
	for (unsigned int i = 0; i < e->nlog; i++)
		if (strstr(e->log[i], needle))
			return true;
	return false;
}

struct sim_device *tu_sim_dev(struct sim_machine *m, const char *name,
			      unsigned int addr_bits, bool coherent)
{
	struct sim_device_desc d = { .name = name, .bus = DMAMAP_BUS_PCI,
				     .addr_bits = addr_bits, .coherent = coherent };
	struct sim_device *dev = NULL;
	assert_int_equal(sim_device_create(m, &d, &dev), 0);
	return dev;
}

uint64_t tu_sim_alloc(struct sim_machine *m, uint64_t npages, uint64_t lo, uint64_t hi)
{
	uint64_t p = ~0ULL;
	assert_int_equal(sim_alloc_pages(m, npages, 1, lo, hi, &p), 0);
	return p;
}

uint8_t *tu_sim_cpu(struct sim_machine *m, uint64_t phys)
{
	uint8_t *c = sim_phys_to_cpu(m, phys);
	assert_non_null(c);
	return c;
}

struct sim_device_stats tu_sim_dstats(struct sim_device *dev)
{
	struct sim_device_stats st;
	memset(&st, 0xa5, sizeof(st));
	sim_device_get_stats(dev, &st);
	return st;
}
