/*
 * src/core.c - contexts, devices, the per-CPU index, logging, statistics.
 *
 * Owns: dmamap_ctx_create/destroy (boot: options, the default bounce
 * pool, the DMA API checker's switch), device registration, masks and
 * per-device parameters, counters.
 * Must never map anything (mapping.c dispatches, backends map) and never
 * touch the platform's memory except through the platform ops.
 *
 * Invariant: a device's ops, direct_limit and force_bounce are only ever
 * changed by dm_policy_select(), called with a mask that passed the
 * supported check, so a refused mask leaves the device exactly as it was.
 */
#include "backend.h"
#include "deferred.h"
#include "dma-debug.h"
#include "dma-iommu.h"
#include "exhaustion.h"
#include "swiotlb.h"
#include "swiotlb-xen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- per-CPU index ------------------------------------------------------ */

/*
 * Counter slots (see struct dm_pcpu_stats): bit i of dm_stat_owned is set
 * while a live thread owns slot i; the last slot is never owned.  A
 * thread's slot is given back by its key's destructor at exit; the
 * release/acquire pair hands the slot's counts to the next owner.
 */
DM_TLS_IE _Thread_local int dm_tls_stat = -1;
static _Atomic uint64_t dm_stat_owned;
static pthread_key_t dm_stat_key;
static pthread_once_t dm_stat_once = PTHREAD_ONCE_INIT;

static void dm_stat_release(void *slot)
{
	unsigned int s = (unsigned int)(uintptr_t)slot - 1;
	atomic_fetch_and_explicit(&dm_stat_owned, ~(1ULL << s), memory_order_release);
}

static void dm_stat_key_init(void)
{
	if (pthread_key_create(&dm_stat_key, dm_stat_release))
		dm_stat_key = (pthread_key_t)-1;
}

unsigned int dm_stat_slot_slow(void)
{
	pthread_once(&dm_stat_once, dm_stat_key_init);
	uint64_t owned = atomic_load_explicit(&dm_stat_owned, memory_order_relaxed);
	const uint64_t ownable = (1ULL << (DM_NR_PCPU_STATS - 1)) - 1;
	while (dm_stat_key != (pthread_key_t)-1 && (~owned & ownable)) {
		unsigned int s = (unsigned int)__builtin_ctzll(~owned & ownable);
		if (atomic_compare_exchange_weak_explicit(&dm_stat_owned, &owned, owned | (1ULL << s),
							  memory_order_acquire,
							  memory_order_relaxed)) {
			if (pthread_setspecific(dm_stat_key, (void *)(uintptr_t)(s + 1))) {
				dm_stat_release((void *)(uintptr_t)(s + 1));
				break;
			}
			dm_tls_stat = (int)s;
			return s;
		}
	}
	/* Every slot owned (or no key): share the last one, atomically. */
	dm_tls_stat = DM_STAT_SHARED;
	return DM_STAT_SHARED;
}

DM_TLS_IE _Thread_local int dm_tls_cpu = -1;
static _Atomic unsigned int dm_next_cpu;

unsigned int dm_cpu_slow(void)
{
	unsigned int c = atomic_fetch_add(&dm_next_cpu, 1) & 0x7fffffffu;
	dm_tls_cpu = (int)c;
	return c;
}

void dmamap_set_cpu(unsigned int cpu)
{
	dm_tls_cpu = (int)(cpu & 0x7fffffffu);
}

unsigned int dmamap_current_cpu(void)
{
	return dm_cpu();
}

/* ---- logging -------------------------------------------------------------- */

void dm_log(struct dmamap_ctx *ctx, enum dmamap_log_level lvl,
	    const char *fmt, ...)
{
	if (!ctx || !ctx->cfg.log)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ctx->cfg.log(ctx->cfg.log_priv, lvl, buf);
}

uint64_t dm_now_ns(const struct dmamap_ctx *ctx)
{
	if (ctx && ctx->plat.ops->now_ns)
		return ctx->plat.ops->now_ns(ctx->plat.priv);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void dm_ratelimit_init(struct dm_ratelimit *rl)
{
	pthread_mutex_init(&rl->lock, NULL);
	rl->begin_ns = 0;
	rl->printed = 0;
	rl->missed = 0;
}

bool dm_ratelimit_ok(struct dmamap_ctx *ctx, struct dm_ratelimit *rl,
		     const char *what)
{
	pthread_mutex_lock(&rl->lock);
	uint64_t now = dm_now_ns(ctx);
	if (rl->begin_ns == 0 || now - rl->begin_ns >= DM_RATELIMIT_INTERVAL_NS) {
		if (rl->missed)
			dm_log(ctx, DMAMAP_LOG_WARN, "%s: %u callbacks suppressed",
			       what, rl->missed);
		rl->begin_ns = now;
		rl->printed = 0;
		rl->missed = 0;
	}
	bool ok = rl->printed < DM_RATELIMIT_BURST;
	if (ok)
		rl->printed++;
	else
		rl->missed++;
	pthread_mutex_unlock(&rl->lock);
	return ok;
}

const char *dmamap_strerror(int err)
{
	switch (err) {
	case 0: return "OK";
	case -EINVAL: return "EINVAL";
	case -ENOMEM: return "ENOMEM";
	case -EIO: return "EIO";
	case -EBUSY: return "EBUSY";
	case -ENODEV: return "ENODEV";
	case -EFAULT: return "EFAULT";
	case -ENOENT: return "ENOENT";
	case -EOPNOTSUPP: return "EOPNOTSUPP";
	case -EINPROGRESS: return "EINPROGRESS";
	case -ETIMEDOUT: return "ETIMEDOUT";
	case -E2BIG: return "E2BIG";
	default: return "unknown error";
	}
}

/* ---- contexts ---------------------------------------------------------------- */

static bool dm_platform_valid(const struct dmamap_platform *p)
{
	const struct dmamap_platform_ops *o = p ? p->ops : NULL;
	return o && o->phys_to_virt && o->virt_to_phys && o->phys_is_ram &&
	       o->alloc_pages && o->free_pages && p->ncpus >= 1;
}

static uint64_t dm_clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/*
 * Bare-metal arm64 with a DMA zone from the platform: the bounce pool's
 * rule and place follow ZONE_DMA (under Xen, swiotlb-xen's rules apply).
 */
static bool dm_arm64_zone(const struct dmamap_ctx *ctx)
{
	return ctx->plat.arch == DMAMAP_ARCH_ARM64 &&
	       ctx->plat.xen_mode == DMAMAP_XEN_NONE && ctx->plat.zone_dma_limit;
}

/*
 * Linux's swiotlb detection, reduced to its observable rule: on unless
 * swiotlb=noforce; on when asked (mode ON, iommu=soft, force, a
 * confidential VM) or, in AUTO, when RAM reaches above 4 GiB, except on
 * x86 under iommu=off (pci_swiotlb_detect applies that rule only when
 * !no_iommu).
 */
static bool dm_want_swiotlb(const struct dmamap_ctx *ctx)
{
	const struct dm_bootopts *o = &ctx->opts;
	if (o->swiotlb_noforce)
		return false;
	int xen = dm_xen_want_swiotlb(ctx);
	if (xen >= 0)
		return xen || ctx->cfg.cc_guest || o->swiotlb_force ||
		       o->iommu_mode == DM_IOMMU_SOFT;
	if (o->swiotlb_force || ctx->cfg.cc_guest ||
	    o->iommu_mode == DM_IOMMU_SOFT)
		return true;
	switch (ctx->cfg.swiotlb_mode) {
	case DMAMAP_SWIOTLB_ON: return true;
	case DMAMAP_SWIOTLB_OFF: return false;
	default: break;
	}
	/*
	 * arm64 (arch_mm_preinit): on when RAM ends above ZONE_DMA, whose
	 * limit the platform gives (zone_sizes_init: of_dma_get_max_cpu_address,
	 * at most 4 GiB - 1).  x86 (pci_swiotlb_detect): RAM above 4 GiB.
	 */
	if (dm_arm64_zone(ctx))
		return ctx->plat.max_ram_end > ctx->plat.zone_dma_limit;
	/*
	 * x86's pci_swiotlb_detect: iommu=off sets no_iommu, and the "RAM
	 * above 4 GiB" rule is only for kernels that may use an IOMMU, so
	 * a 32-bit device's high buffer then has nothing to bounce through.
	 */
	if (ctx->plat.arch == DMAMAP_ARCH_X86 && ctx->opts.iommu_mode == DM_IOMMU_OFF)
		return false;
	return ctx->plat.max_ram_end > DM_SZ_4G - 1;
}

static int dm_boot_swiotlb(struct dmamap_ctx *ctx)
{
	uint64_t bytes;
	if (ctx->opts.swiotlb_set)
		bytes = ctx->opts.swiotlb_nslabs << DM_IO_TLB_SHIFT;
	else if (ctx->cfg.swiotlb_bytes)
		bytes = ctx->cfg.swiotlb_bytes;
	else if (ctx->cfg.cc_guest && ctx->plat.arch == DMAMAP_ARCH_X86)
		/* x86 Linux's confidential-VM sizing (mem_encrypt_setup_arch):
		 * 6% of RAM, 64 MiB..1 GiB.  Other architectures' confidential
		 * guests (arm64 realms) keep the default size. */
		bytes = dm_clamp_u64(ctx->plat.total_ram * 6 / 100,
				     DM_IO_TLB_DEFAULT_SIZE, 1ULL << 30);
	else
		bytes = DM_IO_TLB_DEFAULT_SIZE;

	struct dm_swiotlb_params p = {
		.nslabs = (bytes + DM_IO_TLB_SIZE - 1) >> DM_IO_TLB_SHIFT,
		.nareas = ctx->opts.swiotlb_nareas ? ctx->opts.swiotlb_nareas
						   : ctx->plat.ncpus,
		/*
		 * The boot pool lives in low memory: memblock_alloc_low, below
		 * ARCH_LOW_ADDRESS_LIMIT (x86: 4 GiB - 1; arm64: the end of
		 * ZONE_DMA, so that every bus can reach it).
		 */
		.phys_limit = dm_arm64_zone(ctx) ? ctx->plat.zone_dma_limit : DM_SZ_4G - 1,
		.dynamic = ctx->cfg.swiotlb_dynamic,
		.force = ctx->opts.swiotlb_force || ctx->cfg.cc_guest,
	};
	/*
	 * As Linux's swiotlb_init_remap: the requested size first (however
	 * small), then halves down to 1 MiB when low memory is short (Linux
	 * re-aligns each half to 128 slots; this halves the slot count).
	 */
	int rc;
	for (;;) {
		rc = dm_swiotlb_create(ctx, &p, &ctx->swiotlb);
		if (rc != -ENOMEM || p.nslabs / 2 < DM_IO_TLB_MIN_SLABS)
			break;
		p.nslabs /= 2;
	}
	if (rc == -ENOMEM && ctx->plat.max_ram_end <= p.phys_limit) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "swiotlb: no memory for a bounce pool of %llu bytes",
		       (unsigned long long)bytes);
		return rc;
	}
	if (rc == -ENOMEM) {
		/* No low memory at all: take the pool wherever RAM is (unlike
		 * Linux, which has no pool then; docs/DIFFERENCES.md). */
		p.nslabs = (bytes + DM_IO_TLB_SIZE - 1) >> DM_IO_TLB_SHIFT;
		p.phys_limit = ~0ULL;
		rc = dm_swiotlb_create(ctx, &p, &ctx->swiotlb);
	}
	if (rc) {
		dm_log(ctx, DMAMAP_LOG_ERR, "swiotlb: cannot create the bounce pool: %s",
		       dmamap_strerror(rc));
		return rc;
	}
	if (ctx->opts.swiotlb_set && (bytes >> DM_IO_TLB_SHIFT) != p.nslabs)
		dm_log(ctx, DMAMAP_LOG_WARN, "swiotlb: pool reduced to %llu slots",
		       (unsigned long long)p.nslabs);
	return 0;
}

/* Larger ranges first (qsort); equal sizes by address, so the order is fixed. */
static int dm_lin_cmp(const void *a, const void *b)
{
	const struct dmamap_linear_range *x = a, *y = b;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return x->phys < y->phys ? -1 : x->phys > y->phys;
}

/* ctx->lin: the platform's linear ranges, largest first (context.h). */
static int dm_lin_init(struct dmamap_ctx *ctx)
{
	unsigned int n = ctx->plat.linear ? ctx->plat.nlinear : 0;
	if (!n)
		return 0;
	ctx->lin = malloc(n * sizeof(*ctx->lin));
	if (!ctx->lin)
		return -ENOMEM;
	memcpy(ctx->lin, ctx->plat.linear, n * sizeof(*ctx->lin));
	qsort(ctx->lin, n, sizeof(*ctx->lin), dm_lin_cmp);
	ctx->nlin = n;
	return 0;
}

int dmamap_ctx_create(const struct dmamap_platform *plat,
		      const struct dmamap_config *cfg, struct dmamap_ctx **out)
{
	static const struct dmamap_config no_cfg = { 0 };
	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!cfg)
		cfg = &no_cfg;
	struct dmamap_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->cfg = *cfg;
	if (!dm_platform_valid(plat)) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "platform: missing a required memory callback or ncpus is 0");
		free(ctx);
		return -EINVAL;
	}
	ctx->plat = *plat;
	ctx->fast_ram_end = plat->max_ram_end < DMAMAP_MAPPING_ERROR ? plat->max_ram_end
								     : DMAMAP_MAPPING_ERROR - 1;
	if (dm_lin_init(ctx)) {
		free(ctx);
		return -ENOMEM;
	}
	if (cfg->bootargs) {
		ctx->bootargs_copy = strdup(cfg->bootargs);
		if (!ctx->bootargs_copy) {
			free(ctx->lin);
			free(ctx);
			return -ENOMEM;
		}
		ctx->cfg.bootargs = ctx->bootargs_copy;
	}
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->deferred_lock, NULL);
	const char *bad = NULL;
	int rc = dm_parse_bootargs(ctx->cfg.bootargs, &ctx->opts, &bad);
	if (rc) {
		size_t n = strcspn(bad, " \t\n");
		dm_log(ctx, DMAMAP_LOG_ERR, "bootargs: malformed option '%.*s'",
		       (int)n, bad);
		goto fail;
	}
	/* A size no bounce pool may have is refused whether or not a pool is made. */
	if (ctx->opts.swiotlb_set &&
	    ctx->opts.swiotlb_nslabs > DMAMAP_SWIOTLB_MAX_POOL_BYTES >> DM_IO_TLB_SHIFT) {
		dm_log(ctx, DMAMAP_LOG_ERR, "bootargs: swiotlb= asks for %llu slots of 2 KiB, "
		       "more than the %llu GiB a bounce pool may be",
		       (unsigned long long)ctx->opts.swiotlb_nslabs,
		       DMAMAP_SWIOTLB_MAX_POOL_BYTES >> 30);
		rc = -E2BIG;
		goto fail;
	}
	/* The DMA API checker (debug.c): the bootarg wins over the config. */
	if ((ctx->opts.dma_debug_set ? ctx->opts.dma_debug : ctx->cfg.dma_debug) &&
	    (rc = dm_debug_init(ctx)))
		goto fail;
	if ((rc = dm_xen_init(ctx)))
		goto fail;
	if (ctx->cfg.cc_guest && !ctx->plat.ops->set_decrypted)
		dm_log(ctx, DMAMAP_LOG_WARN, "confidential VM: the platform cannot share memory with "
		       "the host (no set_decrypted): bounce pools stay private and coherent "
		       "allocations are refused");
	if (dm_want_swiotlb(ctx)) {
		rc = dm_xen_boot_pool(ctx);
		if (rc == 1)
			rc = dm_boot_swiotlb(ctx);
		if (rc)
			goto fail;
	}
	*out = ctx;
	return 0;
fail:
	dm_xen_fini(ctx);
	dm_debug_fini(ctx);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->bootargs_copy);
	free(ctx->lin);
	free(ctx);
	return rc;
}

int dmamap_ctx_destroy(struct dmamap_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->lock);
	unsigned int ndev = ctx->ndevices, nres = ctx->nrestricted;
	pthread_mutex_unlock(&ctx->lock);
	if (ndev || nres) {
		dm_log(ctx, DMAMAP_LOG_ERR,
		       "context destroyed with %u devices and %u restricted pools still present",
		       ndev, nres);
		return -EBUSY;
	}
	dm_deferred_fini(ctx); /* no domain is left: nothing is pending */
	dm_xen_fini_pool(ctx);
	if (ctx->swiotlb)
		dm_swiotlb_destroy(ctx->swiotlb);
	dm_xen_fini(ctx);
	dm_exhaust_fini(ctx); /* no device left, so no request queued */
	dm_debug_fini(ctx);
	free(ctx->devices);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx->bootargs_copy);
	free(ctx->lin);
	free(ctx);
	return 0;
}

/* ---- devices --------------------------------------------------------------------- */

static int dm_check_ranges(struct dmamap_ctx *ctx, const struct dmamap_device_desc *d)
{
	if (d->nranges > DMAMAP_MAX_DMA_RANGES) {
		dm_log(ctx, DMAMAP_LOG_ERR, "%s: %u dma-ranges (at most %u)",
		       d->name, d->nranges, DMAMAP_MAX_DMA_RANGES);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < d->nranges; i++) {
		const struct dmamap_dma_range *a = &d->ranges[i];
		if (a->size == 0 || a->cpu + (a->size - 1) < a->cpu ||
		    a->dma + (a->size - 1) < a->dma) {
			dm_log(ctx, DMAMAP_LOG_ERR, "%s: dma-ranges entry %u is empty or wraps",
			       d->name, i);
			return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct dmamap_dma_range *b = &d->ranges[j];
			bool cpu_overlap = a->cpu <= b->cpu + (b->size - 1) &&
					   b->cpu <= a->cpu + (a->size - 1);
			bool dma_overlap = a->dma <= b->dma + (b->size - 1) &&
					   b->dma <= a->dma + (a->size - 1);
			if (cpu_overlap || dma_overlap) {
				dm_log(ctx, DMAMAP_LOG_ERR,
				       "%s: dma-ranges entries %u and %u overlap", d->name, j, i);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Undoes a device's add: its backends' state, its name, itself. */
static void dm_device_free(struct dmamap_device *dev)
{
	dm_iommu_detach(dev);
	dm_xen_detach(dev);
	dm_live_allocs_fini(dev);
	free(dev->name);
	free(dev);
}

int dmamap_device_add(struct dmamap_ctx *ctx, const struct dmamap_device_desc *desc,
		      struct dmamap_device **out)
{
	if (!ctx || !desc || !out || !desc->name || !desc->name[0])
		return -EINVAL;
	*out = NULL;
	int rc = dm_check_ranges(ctx, desc);
	if (rc)
		return rc;
	struct dmamap_device *dev = aligned_alloc(DM_CACHELINE,
			(sizeof(*dev) + DM_CACHELINE - 1) & ~(size_t)(DM_CACHELINE - 1));
	if (!dev)
		return -ENOMEM;
	memset(dev, 0, sizeof(*dev));
	dev->name = strdup(desc->name);
	if (!dev->name) {
		free(dev);
		return -ENOMEM;
	}
	dev->ctx = ctx;
	/* 1..4094 (0: no allocation; 4095: allocations without a device). */
	static _Atomic unsigned int next_tag;
	dev->slot_tag = (uint16_t)(1 + atomic_fetch_add(&next_tag, 1) % 4094);
	dev->bus = desc->bus;
	dev->hw = desc->hw;
	dev->coherent = desc->coherent;
	dev->nranges = desc->nranges;
	memcpy(dev->ranges, desc->ranges, sizeof(dev->ranges));
	dev->bus_dma_limit = desc->bus_dma_limit;
	dev->dma_mask = desc->dma_mask ? desc->dma_mask : DMAMAP_BIT_MASK(32);
	dev->coherent_dma_mask = desc->coherent_dma_mask ? desc->coherent_dma_mask
							 : DMAMAP_BIT_MASK(32);
	dev->max_seg_size = 65536;
	/* Linux's pci_device_add sets a 4 GiB boundary; other buses have none. */
	dev->seg_boundary_mask = desc->bus == DMAMAP_BUS_PCI ? 0xffffffffULL : ~0ULL;
	dev->min_align_mask = 0;
	dev->restricted = desc->restricted_pool != NULL;
	if ((rc = dm_xen_attach(dev, desc))) {
		dm_device_free(dev);
		return rc;
	}
	dev->swiotlb = desc->restricted_pool ? desc->restricted_pool : ctx->swiotlb;
	if ((rc = dm_iommu_attach(dev, desc))) {
		dm_device_free(dev);
		return rc;
	}
	dm_policy_select(dev);

	pthread_mutex_lock(&ctx->lock);
	if (ctx->ndevices == ctx->devices_cap) {
		unsigned int cap = ctx->devices_cap ? ctx->devices_cap * 2 : 8;
		struct dmamap_device **n = realloc(ctx->devices, cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&ctx->lock);
			dm_device_free(dev);
			return -ENOMEM;
		}
		ctx->devices = n;
		ctx->devices_cap = cap;
	}
	ctx->devices[ctx->ndevices++] = dev;
	pthread_mutex_unlock(&ctx->lock);
	if (ctx->debug) { /* the DMA API checker watches it from now on */
		dev->debug = true;
		dm_dev_refresh_plain(dev);
		dm_debug_device_added(dev);
	}
	dm_log(ctx, DMAMAP_LOG_DEBUG, "%s: %s: %s", dev->name, dev->ops_name, dev->reason);
	*out = dev;
	return 0;
}

static uint64_t dm_sum(struct dmamap_device *dev, size_t off)
{
	uint64_t s = 0;
	for (unsigned int i = 0; i < DM_NR_PCPU_STATS; i++)
		s += atomic_load_explicit((_Atomic uint64_t *)((char *)&dev->stats[i] + off),
					  memory_order_relaxed);
	return s;
}

#define DM_SUM(dev, field) dm_sum(dev, offsetof(struct dm_pcpu_stats, field))

void dmamap_device_get_stats(struct dmamap_device *dev, struct dmamap_device_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!dev)
		return;
	st->coherent_allocs = DM_SUM(dev, coherent_allocs);
	st->maps = DM_SUM(dev, opened) - st->coherent_allocs + DM_SUM(dev, sg_extra);
	st->map_failures = DM_SUM(dev, map_failures);
	st->bytes_mapped = DM_SUM(dev, bytes_mapped);
	st->bounced_maps = DM_SUM(dev, bounced_maps);
	st->bounced_bytes = DM_SUM(dev, bounced_bytes);
	/*
	 * Never wraps: refused unmaps do not count as closed; a double unmap
	 * of a direct, unbounced mapping (nothing to refuse it by, unless the
	 * checker is on) could still close more than was opened.
	 */
	uint64_t opened = DM_SUM(dev, opened), closed = DM_SUM(dev, closed);
	st->live_mappings = opened > closed ? opened - closed : 0;
	st->refused_unmaps = DM_SUM(dev, refused);
	st->coherent_bytes = DM_SUM(dev, coherent_bytes);
}

int dmamap_device_remove(struct dmamap_device *dev, uint64_t *leaked)
{
	if (!dev)
		return -EINVAL;
	struct dmamap_ctx *ctx = dev->ctx;
	/* Queued DEFER requests end with -ENODEV; a thread in a WAIT: -EBUSY. */
	int rc = dm_exhaust_device_gone(dev);
	if (rc)
		return rc;
	uint64_t live = DM_SUM(dev, opened) - DM_SUM(dev, closed);
	if (leaked)
		*leaked = live;
	if (live)
		dm_log(ctx, DMAMAP_LOG_WARN,
		       "%s: removed with %llu live mappings or allocations (leaked)",
		       dev->name, (unsigned long long)live);
	if (dev->debug) /* the DMA API checker: one report per leak */
		dm_debug_device_removed(dev);
	pthread_mutex_lock(&ctx->lock);
	for (unsigned int i = 0; i < ctx->ndevices; i++) {
		if (ctx->devices[i] == dev) {
			ctx->devices[i] = ctx->devices[--ctx->ndevices];
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);
	dm_device_free(dev);
	return 0;
}

const char *dmamap_device_name(const struct dmamap_device *dev)
{
	return dev ? dev->name : "(null)";
}

struct dmamap_ctx *dmamap_device_ctx(const struct dmamap_device *dev)
{
	return dev ? dev->ctx : NULL;
}

const char *dmamap_device_ops_name(const struct dmamap_device *dev)
{
	return dev ? dev->ops_name : "(null)";
}

const char *dmamap_device_ops_reason(const struct dmamap_device *dev)
{
	return dev ? dev->reason : "(null)";
}

/* ---- masks ------------------------------------------------------------------------- */

int dmamap_supported(struct dmamap_device *dev, uint64_t mask)
{
	if (!dev || mask == 0)
		return 0;
	/* Linux's dma_supported: a backend without the op supports any mask. */
	if (!dev->ops)
		return dm_direct_supported(dev, mask);
	return dev->ops->dma_supported ? dev->ops->dma_supported(dev, mask) : 1;
}

int dmamap_set_mask(struct dmamap_device *dev, uint64_t mask)
{
	if (!dev || !dmamap_supported(dev, mask))
		return -EIO;
	dev->dma_mask = mask;
	dm_policy_select(dev);
	return 0;
}

int dmamap_set_coherent_mask(struct dmamap_device *dev, uint64_t mask)
{
	if (!dev || !dmamap_supported(dev, mask))
		return -EIO;
	dev->coherent_dma_mask = mask;
	dm_policy_select(dev);
	return 0;
}

int dmamap_set_mask_and_coherent(struct dmamap_device *dev, uint64_t mask)
{
	/* Checked once for both, so either both change or neither does. */
	if (!dev || !dmamap_supported(dev, mask))
		return -EIO;
	dev->dma_mask = mask;
	dev->coherent_dma_mask = mask;
	dm_policy_select(dev);
	return 0;
}

uint64_t dmamap_get_mask(struct dmamap_device *dev)
{
	return dev ? dev->dma_mask : 0;
}

uint64_t dmamap_get_coherent_mask(struct dmamap_device *dev)
{
	return dev ? dev->coherent_dma_mask : 0;
}

uint64_t dmamap_get_required_mask(struct dmamap_device *dev)
{
	return dev ? dm_direct_required_mask(dev) : 0;
}

bool dmamap_addressing_limited(struct dmamap_device *dev)
{
	return dev && dev->direct_limit < dm_direct_required_mask(dev);
}

size_t dmamap_max_mapping_size(struct dmamap_device *dev)
{
	if (!dev)
		return 0;
	if (dev->ops && dev->ops->max_mapping_size)
		return dev->ops->max_mapping_size(dev);
	return dm_direct_max_mapping_size(dev);
}

size_t dmamap_opt_mapping_size(struct dmamap_device *dev)
{
	if (!dev)
		return 0;
	size_t max = dmamap_max_mapping_size(dev);
	if (dev->ops && dev->ops->opt_mapping_size) {
		size_t opt = dev->ops->opt_mapping_size(dev);
		return opt < max ? opt : max;
	}
	return max;
}

bool dmamap_need_sync(struct dmamap_device *dev, dmamap_dma_addr_t addr)
{
	if (!dev)
		return false;
	if (!dev->coherent || dev->force_bounce)
		return true;
	if (dev->ops)
		return true;
	dmamap_phys_addr_t phys = dm_dma_to_phys(dev, addr);
	return dev->swiotlb && dm_swiotlb_contains(dev->swiotlb, phys);
}

/* ---- parameters ---------------------------------------------------------------------- */

int dmamap_set_max_seg_size(struct dmamap_device *dev, unsigned int size)
{
	if (!dev || size == 0)
		return -EINVAL;
	dev->max_seg_size = size;
	return 0;
}

unsigned int dmamap_get_max_seg_size(struct dmamap_device *dev)
{
	return dev ? dev->max_seg_size : 0;
}

int dmamap_set_seg_boundary(struct dmamap_device *dev, uint64_t mask)
{
	/* A boundary mask is 2^n - 1 (Linux assumes it; its setter does not
	 * check) and at least a page (dmamap's own rule). */
	if (!dev || (mask & (mask + 1)) || mask < DMAMAP_PAGE_SIZE - 1)
		return -EINVAL;
	dev->seg_boundary_mask = mask;
	return 0;
}

uint64_t dmamap_get_seg_boundary(struct dmamap_device *dev)
{
	return dev ? dev->seg_boundary_mask : 0;
}

int dmamap_set_min_align_mask(struct dmamap_device *dev, unsigned int mask)
{
	if (!dev || (mask & (mask + 1)))
		return -EINVAL;
	dev->min_align_mask = mask;
	return 0;
}

unsigned int dmamap_get_min_align_mask(struct dmamap_device *dev)
{
	return dev ? dev->min_align_mask : 0;
}
