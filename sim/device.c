/*
 * sim/device.c - simulated devices and their DMA engines.
 *
 * Owns: device descriptions, what firmware reports about a device, and the
 * bus path of a DMA access: address truncation to the engine's real width,
 * the interconnect's bus limit and dma-ranges windows, the RAM check, the
 * per-device event ring and statistics.  Memory itself is reached through
 * the cache model (cache.c); a device attached to a translated IOMMU
 * domain has its IOVA translated by iommu.c first (order: truncation,
 * bus limit, IOMMU, RAM check; no windows).  Under the hypervisor
 * (xen.c) the windows' output is a machine address, or a guest-physical
 * one the hypervisor's IOMMU translates, which xen.c turns into storage
 * pieces (order: truncation, bus limit, windows, hypervisor IOMMU,
 * machine frame, storage).  Must never decide DMA policy (the device does
 * what it is told, wrong addresses included) and never include anything
 * from src/.
 *
 * For the DMA API checker (platform.h, struct dmamap_debug_hw_ops) a
 * device can be watched: the library names its live bus ranges and the
 * device queues every access no live range covers.  A fact, not a
 * policy: the access still happens.
 *
 * Invariants: a device's description is immutable after creation (so the
 * DMA path reads it without a lock); dev->lock guards stats and the event
 * ring and is taken once per access, after the data moved; an access that
 * fails moves no byte into memory (a translated one is translated and
 * checked whole before the first byte moves).  Devices live until the
 * machine dies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

int sim_device_create(struct sim_machine *m, const struct sim_device_desc *d,
		      struct sim_device **out)
{
	if (!m || !d || !out || d->addr_bits < 1 || d->addr_bits > 64 ||
	    d->nranges > DMAMAP_MAX_DMA_RANGES)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nranges; i++) {
		const struct dmamap_dma_range *r = &d->ranges[i];
		if (r->size == 0 || r->dma + (r->size - 1) < r->dma ||
		    r->cpu + (r->size - 1) < r->cpu)
			return -EINVAL;
	}
	struct sim_device *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->m = m;
	dev->desc = *d;
	dev->desc.name = strdup(d->name ? d->name : "sim-device");
	if (!dev->desc.name || pthread_mutex_init(&dev->lock, NULL)) {
		free((char *)dev->desc.name);
		free(dev);
		return -ENOMEM;
	}
	pthread_mutex_lock(&m->dev_lock);
	dev->next = m->devices;
	m->devices = dev;
	pthread_mutex_unlock(&m->dev_lock);
	*out = dev;
	return 0;
}

void simi_devices_fini(struct sim_machine *m)
{
	struct sim_device *dev = m->devices;
	while (dev) {
		struct sim_device *next = dev->next;
		simi_mmio_dev_fini(dev);
		free(dev->dbg_live);
		pthread_mutex_destroy(&dev->lock);
		free((char *)dev->desc.name);
		free(dev);
		dev = next;
	}
	m->devices = NULL;
	/* The IOMMUs' fault rings point at device names: freed together. */
	simi_iommu_fini(m);
}

const struct sim_device_desc *sim_device_desc(const struct sim_device *dev)
{
	return &dev->desc;
}

void sim_device_firmware_desc(const struct sim_device *dev,
			      struct dmamap_device_desc *out)
{
	memset(out, 0, sizeof(*out));
	out->name = dev->desc.name;
	out->bus = dev->desc.bus;
	out->coherent = dev->desc.coherent;
	memcpy(out->ranges, dev->desc.ranges, sizeof(out->ranges));
	out->nranges = dev->desc.nranges;
	out->bus_dma_limit = dev->desc.bus_dma_limit;
	/* Registers are reached through this handle (mmio.c's hooks). */
	out->hw = (void *)dev;
	/* restricted_pool NULL and masks 0: the OS applies its defaults. */
}

/*
 * The interconnect: bus [emitted, emitted + len) to physical, or false
 * (a bus error).  The whole access must pass the bus limit and lie in one
 * window; no windows means bus == phys.
 */
static bool bus_to_phys(const struct sim_device_desc *d, uint64_t emitted,
			uint64_t len, uint64_t *phys)
{
	uint64_t last = emitted + (len - 1);
	if (last < emitted)
		return false;
	if (d->bus_dma_limit && last > d->bus_dma_limit)
		return false;
	if (d->nranges == 0) {
		*phys = emitted;
		return true;
	}
	for (unsigned int i = 0; i < d->nranges; i++) {
		const struct dmamap_dma_range *r = &d->ranges[i];
		if (emitted >= r->dma && last - r->dma <= r->size - 1) {
			*phys = r->cpu + (emitted - r->dma);
			return true;
		}
	}
	return false;
}

static void push_event(struct sim_device *dev, enum sim_event_kind kind,
		       bool write, uint64_t bus, uint64_t emitted, uint64_t len)
{
	dev->ev[dev->nev % SIM_DEV_EVENTS] = (struct sim_event){
		.kind = kind, .write = write, .bus_addr = bus,
		.emitted = emitted, .len = len,
	};
	dev->nev++;
}

/* True when the whole access passes the interconnect's bus limit. */
static bool within_bus_limit(const struct sim_device_desc *d, uint64_t emitted,
			     uint64_t len)
{
	uint64_t last = emitted + (len - 1);
	return last >= emitted && (!d->bus_dma_limit || last <= d->bus_dma_limit);
}

enum access_result {
	ACC_DONE,        /* reached memory */
	ACC_BUS_ERROR,   /* not RAM, outside every window or the bus limit */
	ACC_IOMMU_FAULT, /* the IOMMU blocked it (recorded there) */
	ACC_NOMEM,       /* host memory for a translation's pieces */
};

static void move(struct sim_device *dev, const struct simi_mapping *mp,
		 uint64_t phys, void *buf, size_t len, bool write)
{
	if (write)
		simi_cache_dev_write(dev->m, mp, phys, buf, len,
				     dev->desc.coherent);
	else
		simi_cache_dev_read(dev->m, mp, phys, buf, len,
				    dev->desc.coherent);
}

/* The untranslated path: windows, then RAM.  len >= 1. */
static enum access_result direct_access(struct sim_device *dev,
					uint64_t emitted, void *buf,
					size_t len, bool write)
{
	const struct simi_mapping *mp = NULL;
	uint64_t phys = 0;
	if (bus_to_phys(&dev->desc, emitted, len, &phys))
		mp = simi_mapping_of(dev->m, phys, len);
	if (!mp)
		return ACC_BUS_ERROR;
	move(dev, mp, phys, buf, len, write);
	return ACC_DONE;
}

/*
 * Through the IOMMU when the device sits in a translated domain: every
 * piece is translated and found in RAM before the first byte moves.
 * len >= 1.
 */
static enum access_result iommu_access(struct sim_device *dev,
				       uint64_t emitted, void *buf,
				       size_t len, bool write)
{
	struct simi_xlate x;
	int rc = simi_iommu_translate(dev, emitted, len, write,
				      within_bus_limit(&dev->desc, emitted,
						       len), &x);
	enum access_result res = ACC_DONE;
	if (rc == SIMI_XLATE_DIRECT)
		res = direct_access(dev, emitted, buf, len, write);
	else if (rc == -ENXIO)
		res = ACC_BUS_ERROR;
	else if (rc == -EFAULT)
		res = ACC_IOMMU_FAULT;
	else if (rc)
		res = ACC_NOMEM;
	for (size_t i = 0; rc == 0 && i < x.n; i++)
		if (!simi_mapping_of(dev->m, x.v[i].phys, x.v[i].len))
			res = ACC_BUS_ERROR;
	if (rc == 0 && res == ACC_DONE) {
		uint8_t *b = buf;
		for (size_t i = 0; i < x.n; i++) {
			const struct simi_mapping *mp =
				simi_mapping_of(dev->m, x.v[i].phys, x.v[i].len);
			move(dev, mp, x.v[i].phys, b, x.v[i].len, write);
			b += x.v[i].len;
		}
	}
	simi_xlate_fini(&x);
	return res;
}

/*
 * Under the hypervisor: windows, then xen.c turns the address into storage
 * pieces; every piece is found before the first byte moves.  len >= 1.
 */
static enum access_result xen_access(struct sim_device *dev, uint64_t emitted,
				     void *buf, size_t len, bool write)
{
	uint64_t addr = 0;
	if (!bus_to_phys(&dev->desc, emitted, len, &addr))
		return ACC_BUS_ERROR;
	struct simi_xlate x;
	int rc = simi_xen_translate(dev, addr, len, write, &x);
	enum access_result res = rc == 0	   ? ACC_DONE
				 : rc == -EFAULT ? ACC_IOMMU_FAULT
				 : rc == -ENXIO  ? ACC_BUS_ERROR
						 : ACC_NOMEM;
	uint8_t *b = buf;
	for (size_t i = 0; res == ACC_DONE && i < x.n; i++) {
		/* Each piece lies inside one storage mapping (xen.c). */
		const struct simi_mapping *mp =
			simi_storage_mapping_of(dev->m, x.v[i].phys, x.v[i].len);
		move(dev, mp, x.v[i].phys, b, x.v[i].len, write);
		b += x.v[i].len;
	}
	simi_xlate_fini(&x);
	return res;
}

/* ---- the DMA API checker's watch (platform.h, struct dmamap_debug_hw_ops) ---- */

/*
 * True when live ranges cover every byte of [bus, bus + len) (len >= 1),
 * together if need be (dev->lock held).  Linear in the live ranges.
 */
static bool dbg_covered(const struct sim_device *dev, uint64_t bus, uint64_t len)
{
	uint64_t last = bus + (len - 1);
	if (last < bus)
		return false;
	for (uint64_t cur = bus;;) {
		const struct simi_dbg_range *hit = NULL;
		for (size_t i = 0; i < dev->dbg_nlive && !hit; i++) {
			const struct simi_dbg_range *r = &dev->dbg_live[i];
			if (cur >= r->bus && cur - r->bus < r->size)
				hit = r;
		}
		if (!hit)
			return false;
		uint64_t rlast = hit->bus + (hit->size - 1);
		if (rlast >= last)
			return true;
		cur = rlast + 1;
	}
}

static void dbg_stray(struct sim_device *dev, uint64_t bus, uint64_t len, bool write)
{
	if (dev->dbg_nstray == SIM_DEV_STRAYS) {
		dev->dbg_dropped++;
		return;
	}
	dev->dbg_stray[dev->dbg_nstray++] =
		(struct dmamap_hw_stray){ .dma = bus, .len = len, .write = write };
}

void simi_dev_dbg_watch(struct sim_device *dev, bool on)
{
	pthread_mutex_lock(&dev->lock);
	dev->dbg_watch = on;
	if (!on) {
		free(dev->dbg_live);
		dev->dbg_live = NULL;
		dev->dbg_nlive = dev->dbg_cap = 0;
		dev->dbg_nstray = 0;
		dev->dbg_dropped = 0;
	}
	pthread_mutex_unlock(&dev->lock);
}

void simi_dev_dbg_mapping(struct sim_device *dev, uint64_t bus, uint64_t size,
			  bool live)
{
	pthread_mutex_lock(&dev->lock);
	if (live && dev->dbg_nlive == dev->dbg_cap) {
		size_t cap = dev->dbg_cap ? dev->dbg_cap * 2 : 16;
		struct simi_dbg_range *n = realloc(dev->dbg_live, cap * sizeof(*n));
		if (!n) {
			/* Without memory the watch would cry wolf: stop it. */
			dev->dbg_watch = false;
			pthread_mutex_unlock(&dev->lock);
			return;
		}
		dev->dbg_live = n;
		dev->dbg_cap = cap;
	}
	if (live) {
		dev->dbg_live[dev->dbg_nlive++] = (struct simi_dbg_range){ bus, size };
	} else {
		for (size_t i = dev->dbg_nlive; i-- > 0;) {
			if (dev->dbg_live[i].bus == bus && dev->dbg_live[i].size == size) {
				dev->dbg_live[i] = dev->dbg_live[--dev->dbg_nlive];
				break;
			}
		}
	}
	pthread_mutex_unlock(&dev->lock);
}

unsigned int simi_dev_dbg_strays(struct sim_device *dev, struct dmamap_hw_stray *out,
				 unsigned int max)
{
	pthread_mutex_lock(&dev->lock);
	unsigned int n = dev->dbg_nstray < max ? dev->dbg_nstray : max;
	memcpy(out, dev->dbg_stray, n * sizeof(*out));
	memmove(dev->dbg_stray, dev->dbg_stray + n,
		(dev->dbg_nstray - n) * sizeof(*out));
	dev->dbg_nstray -= n;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

/*
 * One access.  Statistics: reads/writes and their bytes count accesses
 * that reached memory; a bus error counts only in bus_errors, an IOMMU
 * fault only in iommu_faults; a truncated address counts in truncated and
 * then proceeds (or fails) like any other.  A zero-length access touches
 * nothing and counts nothing but truncation.  -EFAULT for a bus error or
 * an IOMMU fault, -ENOMEM when the host had no memory to translate (then
 * only truncation is counted).
 */
static int dma_access(struct sim_device *dev, uint64_t bus, void *buf,
		      size_t len, bool write)
{
	const struct sim_device_desc *d = &dev->desc;
	uint64_t emitted = bus & DMAMAP_BIT_MASK(d->addr_bits);
	enum access_result res = ACC_DONE;
	if (len && atomic_load_explicit(&dev->iommu_domain,
					memory_order_acquire))
		res = iommu_access(dev, emitted, buf, len, write);
	else if (len && dev->m->xen)
		res = xen_access(dev, emitted, buf, len, write);
	else if (len)
		res = direct_access(dev, emitted, buf, len, write);
	if (res != ACC_DONE && !write)
		memset(buf, 0xff, len); /* what a master reads on an abort */

	pthread_mutex_lock(&dev->lock);
	if (__builtin_expect(dev->dbg_watch, 0) && len && !dbg_covered(dev, bus, len))
		dbg_stray(dev, bus, len, write);
	if (emitted != bus) {
		dev->st.truncated++;
		push_event(dev, SIM_EV_TRUNCATED, write, bus, emitted, len);
	}
	if (res == ACC_DONE && len) {
		if (write) {
			dev->st.writes++;
			dev->st.bytes_written += len;
		} else {
			dev->st.reads++;
			dev->st.bytes_read += len;
		}
	} else if (res == ACC_BUS_ERROR) {
		dev->st.bus_errors++;
		push_event(dev, SIM_EV_BUS_ERROR, write, bus, emitted, len);
	} else if (res == ACC_IOMMU_FAULT) {
		dev->st.iommu_faults++;
	}
	pthread_mutex_unlock(&dev->lock);
	return res == ACC_DONE ? 0 : res == ACC_NOMEM ? -ENOMEM : -EFAULT;
}

int sim_dma_read(struct sim_device *dev, uint64_t bus_addr, void *dst,
		 size_t len)
{
	return dma_access(dev, bus_addr, dst, len, false);
}

int sim_dma_write(struct sim_device *dev, uint64_t bus_addr, const void *src,
		  size_t len)
{
	/* The write path never stores through buf. */
	return dma_access(dev, bus_addr, (void *)src, len, true);
}

void sim_device_get_stats(struct sim_device *dev, struct sim_device_stats *st)
{
	pthread_mutex_lock(&dev->lock);
	*st = dev->st;
	pthread_mutex_unlock(&dev->lock);
}

unsigned int sim_device_events(struct sim_device *dev, struct sim_event *ev,
			       unsigned int max)
{
	pthread_mutex_lock(&dev->lock);
	uint64_t kept = dev->nev < SIM_DEV_EVENTS ? dev->nev : SIM_DEV_EVENTS;
	unsigned int n = kept < max ? (unsigned int)kept : max;
	/* The newest n, oldest of them first. */
	for (unsigned int i = 0; i < n; i++)
		ev[i] = dev->ev[(dev->nev - n + i) % SIM_DEV_EVENTS];
	pthread_mutex_unlock(&dev->lock);
	return n;
}
