/*
 * tools/report_json.c - the run report as one JSON object (jansson).
 *
 * Owns: the JSON shape of `dmamap run --json`, a contract other tools
 * read: scenario, verdict, problems, notes, swiotlb{...}, under a
 * hypervisor hypervisor{...} and xen{...}, and devices[{...}] with the
 * names documented in docs/dmamap.1.  Only reads a report.
 */
#include <errno.h>
#include <stdlib.h>

#include <jansson.h>

#include "report.h"

static json_t *jint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *device_json(const struct rpt_device *d, bool xen)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(d->name));
	json_object_set_new(o, "ops", json_string(d->ops));
	json_object_set_new(o, "reason", json_string(d->reason));
	json_object_set_new(o, "dma_mask_bits", jint(d->dma_mask_bits));
	json_object_set_new(o, "coherent_mask_bits", jint(d->coherent_mask_bits));
	json_object_set_new(o, "behind_iommu", json_boolean(d->behind_iommu));
	if (xen) {
		json_object_set_new(o, "xen_iommu", json_boolean(d->xen_iommu));
		/* Windows in machine addresses (a p2m that is not 1:1, no IOMMU). */
		json_object_set_new(o, "windows_machine", json_boolean(d->windows_machine));
	}
	json_object_set_new(o, "coherent", json_boolean(d->coherent));
	json_object_set_new(o, "hotplug", json_boolean(d->hotplug));
	/* Every counter `expect` can name, in the table's order. */
	const struct { const char *n; uint64_t v; } c[] = {
		{ "maps", d->maps }, { "map_failures", d->map_failures },
		{ "bytes_mapped", d->bytes_mapped }, { "bounced_bytes", d->bounced_bytes },
		{ "integrity_errors", d->integrity_errors }, { "faults", d->faults },
		{ "bounced_maps", d->bounced_maps }, { "coherent_allocs", d->coherent_allocs },
		{ "coherent_bytes", d->coherent_bytes }, { "syncs", d->syncs },
		{ "transfers", d->transfers }, { "truncated", d->truncated },
		{ "bus_errors", d->bus_errors }, { "leaked", d->leaked },
		{ "outside_reached", d->outside_reached }, { "exposed_bytes", d->exposed_bytes },
		{ "zero_copy_pages", d->zero_copy_pages }, { "bounce_pages", d->bounce_pages },
	};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		json_object_set_new(o, c[i].n, jint(c[i].v));
	json_t *w = json_array();
	for (unsigned int i = 0; w && i < d->nwindows; i++)
		json_array_append_new(w, json_pack("{s:I,s:I}", "first", (json_int_t)d->windows[i].first,
						   "last", (json_int_t)d->windows[i].last));
	json_object_set_new(o, "windows", w ? w : json_null());
	/* windows [] means everything unless this says nothing. */
	json_object_set_new(o, "reaches_nothing", json_boolean(d->reach_none));
	return o;
}

static json_t *strings(char *const *v, unsigned int n)
{
	json_t *a = json_array();
	for (unsigned int i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* What the hypervisor is, and the figures of swiotlb-xen and the hypervisor. */
static int xen_json(const struct rpt_xen *x, json_t *o)
{
	json_t *h = json_object(), *f = json_array(), *c = json_object();
	if (!h || !f || !c) {
		json_decref(h);
		json_decref(f);
		json_decref(c);
		return -ENOMEM;
	}
	json_object_set_new(h, "type", json_string("xen"));
	json_object_set_new(h, "mode", json_string(x->mode));
	json_object_set_new(h, "domain", json_string(x->dom0 ? "dom0" : "domU"));
	json_object_set_new(h, "p2m", json_string(x->p2m));
	for (unsigned int i = 0; i < x->nfeatures; i++)
		json_array_append_new(f, json_string(x->features[i]));
	json_object_set_new(h, "features", f);
	json_object_set_new(h, "policy", json_string(x->policy));
	json_object_set_new(h, "domus", jint(x->domus));
	json_object_set_new(o, "hypervisor", h);
	/* Every machine counter `expect` can name, in rpt_counter's order. */
	const struct { const char *n; uint64_t v; } v[] = {
		{ "swiotlb_xen", x->swiotlb_xen }, { "xen_pool_bytes", x->xen_pool_bytes }, { "xen_pool_late", x->xen_pool_late },
		{ "lowmem_total", x->lowmem_total }, { "lowmem_used", x->lowmem_used },
		{ "lowmem_hiwater", x->lowmem_hiwater },
		{ "lowmem_used_at_boot", x->lowmem_used_at_boot },
		{ "exchanged_bytes", x->exchanged_bytes },
		{ "exchange_failures", x->exchange_failures },
		{ "foreign_maps", x->foreign_maps }, { "straddle_bounces", x->straddle_bounces },
		{ "reach_bounces", x->reach_bounces }, { "grant_maps", x->grant_maps },
		{ "cache_flushes", x->cache_flushes }, { "p2m_queries", x->p2m_queries },
		{ "dma_own_bytes", x->dma_own_bytes },
		{ "dma_foreign_bytes", x->dma_foreign_bytes },
		{ "dma_stray_bytes", x->dma_stray_bytes },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		json_object_set_new(c, v[i].n, jint(v[i].v));
	json_object_set_new(o, "xen", c);
	return 0;
}

int rpt_print_json(const struct rpt_report *r, FILE *out)
{
	json_t *o = json_object(), *p = json_array(), *dv = json_array();
	json_t *sw = json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I}",
			       "enabled", r->swiotlb.enabled,
			       "boot_total_bytes", (json_int_t)r->swiotlb.boot_total_bytes,
			       "total_bytes", (json_int_t)r->swiotlb.total_bytes,
			       "below_4g_bytes", (json_int_t)r->swiotlb.below_4g_bytes,
			       "used_hiwater_bytes", (json_int_t)r->swiotlb.used_hiwater_bytes,
			       "bounced_bytes", (json_int_t)r->swiotlb.bounced_bytes,
			       "full_failures", (json_int_t)r->swiotlb.full_failures);
	int rc = -ENOMEM;
	if (!o || !p || !dv || !sw) {
		json_decref(o);
		json_decref(p);
		json_decref(dv);
		json_decref(sw);
		return rc;
	}
	json_object_set_new(o, "scenario", json_string(r->scenario));
	json_object_set_new(o, "verdict", json_string(r->interrupted ? "partial" :
						      r->pass ? "pass" : "fail"));
	if (r->interrupted)
		json_object_set_new(o, "interrupted_by", json_string(rpt_signal_name(r->interrupted)));
	for (unsigned int i = 0; i < r->nproblems; i++)
		json_array_append_new(p, json_string(r->problems[i]));
	json_object_set_new(o, "problems", p);
	json_t *notes = strings(r->notes, r->nnotes);
	if (!notes)
		goto out;
	json_object_set_new(o, "notes", notes);
	json_object_set_new(o, "swiotlb", sw);
	if (r->xen.has && xen_json(&r->xen, o))
		goto out;
	for (unsigned int i = 0; i < r->ndevices; i++) {
		json_t *d = device_json(&r->devices[i], r->xen.has);
		if (!d)
			goto out;
		json_array_append_new(dv, d);
	}
	json_object_set_new(o, "devices", dv);
	dv = NULL;
	json_object_set_new(o, "operations", jint(r->ops_total));
	char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
	if (!s)
		goto out;
	rc = fprintf(out, "%s\n", s) < 0 ? -EIO : 0;
	free(s);
out:
	json_decref(dv);
	json_decref(o);
	return rc;
}
