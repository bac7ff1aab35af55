/*
 * tools/judge.c - the verdict on a run (see judge.h).
 *
 * Owns: the table of counters `expect` may name, their lookup in a report,
 * the up-front check of a file's names, and the verdict.
 * Must never touch the machine, the library or the simulator (only the
 * scenario and the report), nor print: the writers show what it decided.
 */
#include "judge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEV_COUNTER(f) { #f, offsetof(struct rpt_device, f) }
static const struct { const char *name; size_t off; } dev_counters[] = {
	DEV_COUNTER(maps), DEV_COUNTER(map_failures), DEV_COUNTER(bytes_mapped),
	DEV_COUNTER(bounced_bytes), DEV_COUNTER(integrity_errors), DEV_COUNTER(faults),
	DEV_COUNTER(bounced_maps), DEV_COUNTER(coherent_allocs), DEV_COUNTER(coherent_bytes),
	DEV_COUNTER(syncs), DEV_COUNTER(transfers), DEV_COUNTER(truncated),
	DEV_COUNTER(bus_errors), DEV_COUNTER(leaked), DEV_COUNTER(outside_reached),
	DEV_COUNTER(exposed_bytes),
	DEV_COUNTER(zero_copy_pages), DEV_COUNTER(bounce_pages),
};
#define NDEV_COUNTERS (sizeof(dev_counters) / sizeof(dev_counters[0]))

int rpt_counter(const struct rpt_report *r, const struct rpt_device *dev, const char *name,
		uint64_t *val)
{
	if (!dev) {
		const struct rpt_swiotlb *w = &r->swiotlb;
		const struct { const char *n; uint64_t v; } sw[] = {
			{ "swiotlb_enabled", w->enabled }, { "swiotlb_boot_total_bytes", w->boot_total_bytes },
			{ "swiotlb_total_bytes", w->total_bytes }, { "swiotlb_below_4g_bytes", w->below_4g_bytes },
			{ "swiotlb_used_hiwater_bytes", w->used_hiwater_bytes },
			{ "swiotlb_bounced_bytes", w->bounced_bytes }, { "swiotlb_full_failures", w->full_failures },
#define X(f) { #f, r->xen.f }
			X(swiotlb_xen), X(xen_pool_bytes), X(xen_pool_late), X(lowmem_total), X(lowmem_used),
			X(lowmem_hiwater), X(lowmem_used_at_boot), X(exchanged_bytes),
			X(exchange_failures), X(foreign_maps), X(straddle_bounces), X(reach_bounces),
			X(grant_maps), X(cache_flushes), X(p2m_queries), X(dma_own_bytes),
			X(dma_foreign_bytes), X(dma_stray_bytes),
#undef X
		};
		for (size_t i = 0; i < sizeof(sw) / sizeof(sw[0]); i++)
			if (!strcmp(name, sw[i].n)) {
				*val = sw[i].v;
				return 0;
			}
	}
	for (size_t i = 0; i < NDEV_COUNTERS; i++) {
		if (strcmp(name, dev_counters[i].name))
			continue;
		if (dev) {
			*val = *(const uint64_t *)((const char *)dev + dev_counters[i].off);
			return 0;
		}
		/* The machine's: the sum over devices. */
		*val = 0;
		for (unsigned int k = 0; k < r->ndevices; k++)
			*val += *(const uint64_t *)((const char *)&r->devices[k] + dev_counters[i].off);
		return 0;
	}
	return -ENOENT;
}

const char *rpt_counter_names(bool device)
{
	static char dev_names[640], all_names[1400];
	char *buf = device ? dev_names : all_names;
	size_t cap = device ? sizeof(dev_names) : sizeof(all_names), n = 0;
	if (buf[0])
		return buf;
	for (size_t i = 0; i < NDEV_COUNTERS; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", dev_counters[i].name);
	if (!device)
		snprintf(buf + n, cap - n, ", swiotlb_enabled, swiotlb_boot_total_bytes, "
			 "swiotlb_total_bytes, swiotlb_below_4g_bytes, swiotlb_used_hiwater_bytes, "
			 "swiotlb_bounced_bytes, swiotlb_full_failures, swiotlb_xen, xen_pool_bytes, "
			 "xen_pool_late, lowmem_total, lowmem_used, lowmem_hiwater, "
			 "lowmem_used_at_boot, exchanged_bytes, exchange_failures, foreign_maps, "
			 "straddle_bounces, reach_bounces, grant_maps, cache_flushes, p2m_queries, "
			 "dma_own_bytes, dma_foreign_bytes, dma_stray_bytes");
	return buf;
}

static bool cmp_holds(enum scn_cmp c, uint64_t have, uint64_t want)
{
	switch (c) {
	case SCN_CMP_EQ: return have == want;
	case SCN_CMP_NE: return have != want;
	case SCN_CMP_GT: return have > want;
	case SCN_CMP_LT: return have < want;
	case SCN_CMP_GE: return have >= want;
	case SCN_CMP_LE: return have <= want;
	}
	return false;
}

/* See judge.h. */
bool judge_expects_wrong_bytes(const struct scn *s, const char *device)
{
	for (unsigned int i = 0; i < s->nexpects; i++) {
		const struct scn_expect *x = &s->expects[i];
		if (strcmp(x->counter, "integrity_errors") ||
		    (x->device[0] && strcmp(x->device, device)))
			continue;
		if (!cmp_holds(x->cmp, 0, x->value))
			return true;
	}
	return false;
}

int judge(const struct scn *s, const char *file, struct rpt_report *r)
{
	int rc = 0;
	for (unsigned int i = 0; i < r->ndevices && !rc; i++) {
		const struct rpt_device *d = &r->devices[i];
		if (d->leaked)
			rc = rpt_add_problem(r, "%s: %llu mappings still live when the device was removed",
					     d->name, (unsigned long long)d->leaked);
	}
	/* A partial run's counters say nothing about what the whole run would. */
	for (unsigned int i = 0; i < s->nexpects && !rc && !r->interrupted; i++) {
		const struct scn_expect *x = &s->expects[i];
		const struct rpt_device *d = NULL;
		for (unsigned int k = 0; x->device[0] && k < r->ndevices; k++)
			if (!strcmp(r->devices[k].name, x->device))
				d = &r->devices[k];
		uint64_t have = 0;
		rpt_counter(r, d, x->counter, &have); /* names were checked up front */
		if (!cmp_holds(x->cmp, have, x->value))
			rc = rpt_add_problem(r, "%s:%d: expected %s%s%s %s %llu, got %llu", file, x->line,
					     x->device[0] ? x->device : "", x->device[0] ? " " : "",
					     x->counter, scn_cmp_name(x->cmp), (unsigned long long)x->value,
					     (unsigned long long)have);
	}
	r->pass = !rc && r->nproblems == 0 && !r->interrupted;
	return rc;
}

int judge_check_counters(const struct scn *s, const char *file, char *err, size_t errlen)
{
	struct rpt_report r;
	struct rpt_device d;
	memset(&r, 0, sizeof(r));
	memset(&d, 0, sizeof(d));
	for (unsigned int i = 0; i < s->nexpects; i++) {
		const struct scn_expect *x = &s->expects[i];
		uint64_t v;
		bool dev = x->device[0] != 0;
		if (rpt_counter(&r, dev ? &d : NULL, x->counter, &v)) {
			if (err && errlen)
				snprintf(err, errlen, "%s:%d: unknown %s counter '%s' (known: %s)",
					 file, x->line, dev ? "device" : "machine", x->counter,
					 rpt_counter_names(dev));
			return -EINVAL;
		}
	}
	return 0;
}

