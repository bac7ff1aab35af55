/*
 * sim/mmio.c - device registers and write-combining (see mmio.h).
 *
 * Owns: BARs and their register files, each device's transaction log and
 * ordering rules, the per-CPU write-combining buffers, and the platform's
 * MMIO hooks (simi_mmio_ops).  Must never decide what a driver may do
 * (bounds, alignment and WC permission are the library's checks) and
 * never include anything from src/.
 *
 * Locking: one machine-wide MMIO lock guards the WC buffers, the
 * sequence counter and every device's MMIO state.  Delivery order is a
 * single global order, which is what the log's seq numbers record.
 */
#include "mmio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim_internal.h"

struct simi_bar {
	uint64_t size;            /* 0: not implemented */
	unsigned int flags;
	uint8_t *regs;            /* min(size, SIM_MMIO_REGS_MAX) bytes */
};

struct simi_rule {
	int bar;
	uint64_t trigger, covers, len;
	uint8_t *seen;            /* one byte per covered byte */
	uint64_t nseen;           /* distinct covered bytes written */
};

struct simi_mmio_dev {
	struct simi_bar bar[SIM_MAX_BARS];
	struct simi_rule rule[SIM_MMIO_RULES];
	unsigned int nrules;
	struct sim_mmio_txn log[SIM_MMIO_LOG]; /* ring */
	uint64_t nlog;
	struct sim_mmio_stats st;
};

struct simi_wc_line {
	struct sim_device *dev;   /* NULL: free */
	int bar;
	uint64_t base;            /* line address within the BAR */
	uint64_t valid;           /* bit i: byte i written */
	unsigned int stores;
	uint64_t age;             /* allocation order */
	uint8_t data[SIM_WC_LINE];
};

struct simi_mmio {
	pthread_mutex_t lock;
	bool adversarial;
	uint64_t seq;
	uint64_t age;
	unsigned int ncpus;
	struct simi_wc_line (*wc)[SIM_WC_LINES]; /* [ncpus][SIM_WC_LINES] */
};

/* A mapping handed to the library. */
struct simi_mmio_map {
	struct sim_device *dev;
	int bar;
	uint64_t base, len;
	bool wc;
};

/* ---- state ------------------------------------------------------------- */

static struct simi_mmio *mmio_of(struct sim_machine *m)
{
	/* Created on first use under the device list lock (rare, cold). */
	pthread_mutex_lock(&m->dev_lock);
	if (!m->mmio) {
		struct simi_mmio *x = calloc(1, sizeof(*x));
		unsigned int n = m->ncpus ? m->ncpus : 1;
		if (x)
			x->wc = calloc(n, sizeof(*x->wc));
		if (x && x->wc) {
			pthread_mutex_init(&x->lock, NULL);
			x->ncpus = n;
			m->mmio = x;
		} else if (x) {
			free(x);
		}
	}
	pthread_mutex_unlock(&m->dev_lock);
	return m->mmio;
}

void simi_mmio_fini(struct sim_machine *m)
{
	if (!m->mmio)
		return;
	pthread_mutex_destroy(&m->mmio->lock);
	free(m->mmio->wc);
	free(m->mmio);
	m->mmio = NULL;
}

void simi_mmio_dev_fini(struct sim_device *dev)
{
	struct simi_mmio_dev *d = dev->mmio;
	if (!d)
		return;
	for (int i = 0; i < SIM_MAX_BARS; i++)
		free(d->bar[i].regs);
	for (unsigned int i = 0; i < d->nrules; i++)
		free(d->rule[i].seen);
	free(d);
	dev->mmio = NULL;
}

int sim_device_add_bar(struct sim_device *dev, int bar, uint64_t size, unsigned int flags)
{
	if (!dev || bar < 0 || bar >= SIM_MAX_BARS || size < 16 || (size & (size - 1)) ||
	    (flags & ~(unsigned int)(DMAMAP_BAR_MEM | DMAMAP_BAR_PREFETCH)) ||
	    ((flags & DMAMAP_BAR_PREFETCH) && !(flags & DMAMAP_BAR_MEM)))
		return -EINVAL;
	struct simi_mmio *x = mmio_of(dev->m);
	if (!x)
		return -ENOMEM;
	pthread_mutex_lock(&x->lock);
	int rc = 0;
	if (!dev->mmio && !(dev->mmio = calloc(1, sizeof(*dev->mmio))))
		rc = -ENOMEM;
	else if (dev->mmio->bar[bar].size)
		rc = -EEXIST;
	else {
		uint64_t backed = size < SIM_MMIO_REGS_MAX ? size : SIM_MMIO_REGS_MAX;
		uint8_t *regs = calloc(1, backed);
		if (!regs)
			rc = -ENOMEM;
		else
			dev->mmio->bar[bar] = (struct simi_bar){ size, flags, regs };
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

/* ---- what the device sees (x->lock held) -------------------------------- */

static void rule_see(struct simi_rule *r, uint64_t off, unsigned int len)
{
	uint64_t lo = off > r->covers ? off : r->covers;
	uint64_t hi = off + len < r->covers + r->len ? off + len : r->covers + r->len;
	for (uint64_t b = lo; b < hi; b++)
		if (!r->seen[b - r->covers]) {
			r->seen[b - r->covers] = 1;
			r->nseen++;
		}
}

static void deliver(struct simi_mmio *x, struct sim_device *dev, int bar, uint64_t off,
		    const uint8_t *data, unsigned int len, bool write, bool combined,
		    unsigned int stores, unsigned int cpu)
{
	struct simi_mmio_dev *d = dev->mmio;
	struct simi_bar *b = &d->bar[bar];
	struct sim_mmio_txn *t = &d->log[d->nlog++ % SIM_MMIO_LOG];
	*t = (struct sim_mmio_txn){ .seq = ++x->seq, .bar = bar, .off = off, .len = len,
				    .write = write, .combined = combined, .stores = stores,
				    .cpu = cpu };
	memcpy(t->data, data, len);
	uint64_t backed = b->size < SIM_MMIO_REGS_MAX ? b->size : SIM_MMIO_REGS_MAX;
	if (!write) {
		d->st.reads++;
		d->st.bytes_read += len;
		return;
	}
	if (off < backed)
		memcpy(b->regs + off, data, off + len <= backed ? len : backed - off);
	d->st.writes++;
	d->st.bytes_written += len;
	if (combined) {
		d->st.combined_writes++;
		d->st.stores_merged += stores;
	}
	for (unsigned int i = 0; i < d->nrules; i++) {
		struct simi_rule *r = &d->rule[i];
		if (r->bar != bar)
			continue;
		rule_see(r, off, len);
		if (r->trigger < off || r->trigger >= off + len)
			continue;
		if (r->nseen < r->len) {
			d->st.order_violations++;
			if (!d->st.first_violation_seq)
				d->st.first_violation_seq = t->seq;
		}
		memset(r->seen, 0, r->len);
		r->nseen = 0;
	}
}

/* One transaction per run of written bytes of a line. */
static void deliver_line(struct simi_mmio *x, struct simi_wc_line *l, unsigned int cpu)
{
	for (unsigned int i = 0; i < SIM_WC_LINE;) {
		if (!(l->valid >> i & 1)) {
			i++;
			continue;
		}
		unsigned int j = i;
		while (j < SIM_WC_LINE && (l->valid >> j & 1))
			j++;
		deliver(x, l->dev, l->bar, l->base + i, l->data + i, j - i, true, true, l->stores,
			cpu);
		i = j;
	}
	l->dev = NULL;
	l->valid = 0;
}

/* Drains a CPU's WC buffers: oldest first, or newest first when adversarial. */
static void drain(struct simi_mmio *x, unsigned int cpu)
{
	struct simi_wc_line *lines = x->wc[cpu % x->ncpus];
	for (;;) {
		struct simi_wc_line *pick = NULL;
		for (unsigned int i = 0; i < SIM_WC_LINES; i++) {
			struct simi_wc_line *l = &lines[i];
			if (!l->dev)
				continue;
			if (!pick || (x->adversarial ? l->age > pick->age : l->age < pick->age))
				pick = l;
		}
		if (!pick)
			return;
		deliver_line(x, pick, cpu);
	}
}

static void wc_store(struct simi_mmio *x, const struct simi_mmio_map *mp, uint64_t off,
		     const uint8_t *data, unsigned int len, unsigned int cpu)
{
	struct simi_wc_line *lines = x->wc[cpu % x->ncpus], *l = NULL, *oldest = NULL;
	uint64_t base = off & ~(uint64_t)(SIM_WC_LINE - 1);
	for (unsigned int i = 0; i < SIM_WC_LINES && !l; i++)
		if (lines[i].dev == mp->dev && lines[i].bar == mp->bar && lines[i].base == base)
			l = &lines[i];
	for (unsigned int i = 0; i < SIM_WC_LINES && !l; i++)
		if (!lines[i].dev)
			l = &lines[i];
	if (!l) {
		/* All busy: the oldest line leaves first, as fill buffers do. */
		for (unsigned int i = 0; i < SIM_WC_LINES; i++)
			if (!oldest || lines[i].age < oldest->age)
				oldest = &lines[i];
		deliver_line(x, oldest, cpu);
		l = oldest;
	}
	if (!l->dev) {
		*l = (struct simi_wc_line){ .dev = mp->dev, .bar = mp->bar, .base = base,
					    .age = ++x->age };
	}
	unsigned int at = (unsigned int)(off - base);
	memcpy(l->data + at, data, len);
	l->valid |= (len == 64 ? ~0ULL : ((1ULL << len) - 1)) << at;
	l->stores++;
}

/* ---- the platform's hooks ------------------------------------------------- */

static int mmio_bar_info(void *plat, void *hw, int bar, struct dmamap_bar_info *out)
{
	struct sim_device *dev = hw;
	(void)plat;
	memset(out, 0, sizeof(*out));
	if (bar < 0 || bar >= SIM_MAX_BARS || !dev->mmio)
		return -ENODEV;
	/* Immutable after declaration, so no lock. */
	out->size = dev->mmio->bar[bar].size;
	out->flags = dev->mmio->bar[bar].flags;
	return out->size ? 0 : -ENODEV;
}

static int mmio_map_bar(void *plat, void *hw, int bar, uint64_t offset, uint64_t len, bool wc,
			void **map)
{
	struct sim_device *dev = hw;
	(void)plat;
	if (bar < 0 || bar >= SIM_MAX_BARS || !dev->mmio || !dev->mmio->bar[bar].size ||
	    offset >= dev->mmio->bar[bar].size || len > dev->mmio->bar[bar].size - offset)
		return -EINVAL;
	struct simi_mmio_map *mp = malloc(sizeof(*mp));
	if (!mp)
		return -ENOMEM;
	*mp = (struct simi_mmio_map){ dev, bar, offset, len, wc };
	*map = mp;
	return 0;
}

/*
 * A mapping exists only for a declared BAR, whose declaration created the
 * machine's MMIO state: the accessors read it without mmio_of's lock.
 */
static struct simi_mmio *mapped_mmio(void *plat)
{
	return ((struct sim_machine *)plat)->mmio;
}

static void mmio_unmap_bar(void *plat, void *map)
{
	struct simi_mmio_map *mp = map;
	struct simi_mmio *x = mapped_mmio(plat);
	/* Lines still buffered for this mapping reach the device first. */
	if (x) {
		pthread_mutex_lock(&x->lock);
		for (unsigned int c = 0; c < x->ncpus; c++)
			for (unsigned int i = 0; i < SIM_WC_LINES; i++)
				if (x->wc[c][i].dev == mp->dev && x->wc[c][i].bar == mp->bar)
					deliver_line(x, &x->wc[c][i], c);
		pthread_mutex_unlock(&x->lock);
	}
	free(mp);
}

static void mmio_write(void *plat, void *map, uint64_t off, uint64_t val, unsigned int size,
		       unsigned int flags, unsigned int cpu)
{
	struct simi_mmio_map *mp = map;
	struct simi_mmio *x = mapped_mmio(plat);
	uint8_t bytes[8];
	if (!x)
		return;
	memcpy(bytes, &val, size); /* little-endian registers on a little-endian host */
	pthread_mutex_lock(&x->lock);
	if (mp->wc && (flags & DMAMAP_MMIO_RELAXED)) {
		wc_store(x, mp, mp->base + off, bytes, size, cpu);
	} else {
		deliver(x, mp->dev, mp->bar, mp->base + off, bytes, size, true, false, 1, cpu);
	}
	pthread_mutex_unlock(&x->lock);
}

static uint64_t mmio_read(void *plat, void *map, uint64_t off, unsigned int size,
			  unsigned int flags, unsigned int cpu)
{
	struct simi_mmio_map *mp = map;
	struct simi_mmio *x = mapped_mmio(plat);
	uint64_t v = 0;
	(void)flags;
	if (!x)
		return ~0ULL >> (64 - 8 * size);
	pthread_mutex_lock(&x->lock);
	/* A read waits for this CPU's buffered writes ("write; wmb; read"). */
	drain(x, cpu);
	struct simi_bar *b = &mp->dev->mmio->bar[mp->bar];
	uint64_t at = mp->base + off;
	uint64_t backed = b->size < SIM_MMIO_REGS_MAX ? b->size : SIM_MMIO_REGS_MAX;
	if (at + size <= backed)
		memcpy(&v, b->regs + at, size);
	deliver(x, mp->dev, mp->bar, at, (const uint8_t *)&v, size, false, false, 1, cpu);
	pthread_mutex_unlock(&x->lock);
	return v;
}

static void mmio_barrier(void *plat, int kind, unsigned int cpu)
{
	struct simi_mmio *x = ((struct sim_machine *)plat)->mmio;
	if (!x || kind == 'r')
		return;
	pthread_mutex_lock(&x->lock);
	drain(x, cpu);
	pthread_mutex_unlock(&x->lock);
}

const struct dmamap_mmio_ops simi_mmio_ops = {
	.bar_info = mmio_bar_info,
	.map_bar = mmio_map_bar,
	.unmap_bar = mmio_unmap_bar,
	.write = mmio_write,
	.read = mmio_read,
	.barrier = mmio_barrier,
};

/* ---- the device's side ------------------------------------------------------ */

int sim_mmio_order_rule(struct sim_device *dev, int bar, uint64_t trigger, uint64_t covers,
			uint64_t len)
{
	if (!dev || !dev->mmio || bar < 0 || bar >= SIM_MAX_BARS || !dev->mmio->bar[bar].size ||
	    !len || len > SIM_MMIO_RULE_MAX || trigger >= dev->mmio->bar[bar].size ||
	    covers >= dev->mmio->bar[bar].size || len > dev->mmio->bar[bar].size - covers)
		return -EINVAL;
	struct simi_mmio *x = dev->m->mmio;
	uint8_t *seen = calloc(1, len);
	if (!seen)
		return -ENOMEM;
	pthread_mutex_lock(&x->lock);
	int rc = 0;
	if (dev->mmio->nrules == SIM_MMIO_RULES) {
		rc = -ENOSPC;
		free(seen);
	} else {
		dev->mmio->rule[dev->mmio->nrules++] =
			(struct simi_rule){ bar, trigger, covers, len, seen, 0 };
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

void sim_mmio_get_stats(struct sim_device *dev, struct sim_mmio_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!dev || !dev->mmio)
		return;
	pthread_mutex_lock(&dev->m->mmio->lock);
	*st = dev->mmio->st;
	pthread_mutex_unlock(&dev->m->mmio->lock);
}

unsigned int sim_mmio_log(struct sim_device *dev, struct sim_mmio_txn *out, unsigned int max)
{
	if (!dev || !dev->mmio)
		return 0;
	pthread_mutex_lock(&dev->m->mmio->lock);
	struct simi_mmio_dev *d = dev->mmio;
	uint64_t have = d->nlog < SIM_MMIO_LOG ? d->nlog : SIM_MMIO_LOG;
	unsigned int n = have < max ? (unsigned int)have : max;
	for (unsigned int i = 0; i < n; i++)
		out[i] = d->log[(d->nlog - n + i) % SIM_MMIO_LOG];
	pthread_mutex_unlock(&dev->m->mmio->lock);
	return n;
}

static int regs_access(struct sim_device *dev, int bar, uint64_t off, void *buf,
		       unsigned int len, bool write)
{
	if (!dev || !dev->mmio || bar < 0 || bar >= SIM_MAX_BARS || !buf)
		return -EINVAL;
	struct simi_bar *b = &dev->mmio->bar[bar];
	uint64_t backed = b->size < SIM_MMIO_REGS_MAX ? b->size : SIM_MMIO_REGS_MAX;
	if (off >= backed || len > backed - off)
		return -EINVAL;
	pthread_mutex_lock(&dev->m->mmio->lock);
	if (write)
		memcpy(b->regs + off, buf, len);
	else
		memcpy(buf, b->regs + off, len);
	pthread_mutex_unlock(&dev->m->mmio->lock);
	return 0;
}

int sim_mmio_peek(struct sim_device *dev, int bar, uint64_t off, void *buf, unsigned int len)
{
	return regs_access(dev, bar, off, buf, len, false);
}

int sim_mmio_poke(struct sim_device *dev, int bar, uint64_t off, const void *buf,
		  unsigned int len)
{
	return regs_access(dev, bar, off, (void *)buf, len, true);
}

void sim_mmio_set_adversarial(struct sim_machine *m, bool on)
{
	struct simi_mmio *x = mmio_of(m);
	if (!x)
		return;
	pthread_mutex_lock(&x->lock);
	x->adversarial = on;
	pthread_mutex_unlock(&x->lock);
}
