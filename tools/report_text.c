/*
 * tools/report_text.c - the report as text: `dmamap run`'s summary and
 * `dmamap explain FILE.yaml`'s lines.
 *
 * Owns: every human-readable rendering of a report (and rpt_human's byte
 * counts, which the builder's host messages share).  Must never touch the
 * machine, the library or the simulator, nor decide anything: it prints
 * what the report holds.  The JSON writer is report_json.c, SVG svg.c.
 */
#include "report.h"

#include <signal.h>
#include <stdio.h>

const char *rpt_human(uint64_t b, char *buf, size_t n)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int i = 0;
	double v = (double)b;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, n, "%llu B", (unsigned long long)b);
	else
		snprintf(buf, n, "%.1f %s", v, u[i]);
	return buf;
}

static void print_windows(const struct rpt_device *d, FILE *out)
{
	if (d->reach_none) {
		fputs("reaches no memory directly", out);
		return;
	}
	if (!d->nwindows) {
		fputs("reaches all memory", out);
		return;
	}
	fputs("reaches", out);
	for (unsigned int i = 0; i < d->nwindows; i++)
		fprintf(out, "%s %s 0x%llx-0x%llx", i ? "," : "", d->windows_machine ? "machine" : "cpu",
			(unsigned long long)d->windows[i].first, (unsigned long long)d->windows[i].last);
}

/* "hypervisor: xen arm dom0, p2m identity, features direct_mapped, policy per-device" */
static void print_hypervisor(const struct rpt_xen *x, FILE *out)
{
	fprintf(out, "hypervisor: xen %s %s, p2m %s, features ", x->mode, x->dom0 ? "dom0" : "domU",
		x->p2m);
	for (unsigned int i = 0; i < x->nfeatures; i++)
		fprintf(out, "%s%s", i ? "+" : "", x->features[i]);
	fprintf(out, "%s, policy %s", x->nfeatures ? "" : "none", x->policy);
	if (x->domus)
		fprintf(out, ", %u domU%s served", x->domus, x->domus == 1 ? "" : "s");
	fputc('\n', out);
}

void rpt_print_explain(const struct rpt_report *r, FILE *out)
{
	fprintf(out, "scenario %s\n", r->scenario);
	if (r->xen.has)
		print_hypervisor(&r->xen, out);
	if (r->swiotlb.enabled)
		fprintf(out, "swiotlb on: %llu MiB, %llu MiB below 4 GiB\n",
			(unsigned long long)(r->swiotlb.total_bytes >> 20),
			(unsigned long long)(r->swiotlb.below_4g_bytes >> 20));
	else
		fputs("swiotlb off: no bounce pool\n", out);
	if (r->xen.has)
		fprintf(out, "swiotlb-xen %s; %llu MiB of the hypervisor's low memory "
			"exchanged\n", r->xen.swiotlb_xen ? "on" : "off",
			(unsigned long long)(r->xen.lowmem_used >> 20));
	for (unsigned int i = 0; i < r->ndevices; i++) {
		const struct rpt_device *d = &r->devices[i];
		fprintf(out, "%s: %s, masks %u/%u, %s%s; ", d->name, d->ops, d->dma_mask_bits,
			d->coherent_mask_bits, d->coherent ? "coherent" : "non-coherent",
			d->hotplug ? ", hot-plugged" : "");
		print_windows(d, out);
		fprintf(out, "; %s\n", d->reason);
	}
}

const char *rpt_signal_name(int sig)
{
	return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

void rpt_print_text(const struct rpt_report *r, FILE *out)
{
	char a[32], b[32], c[32], d2[32];
	if (r->interrupted)
		fprintf(out, "scenario %s: PARTIAL (interrupted by %s after %llu operations; expect "
			"not judged)\n", r->scenario, rpt_signal_name(r->interrupted),
			(unsigned long long)r->ops_total);
	else
		fprintf(out, "scenario %s: %s\n", r->scenario, r->pass ? "PASS" : "FAIL");
	if (r->swiotlb.enabled)
		fprintf(out, "swiotlb: %s (%s below 4 GiB), high-water %s, bounced %s, "
			"full failures %llu\n", rpt_human(r->swiotlb.total_bytes, a, sizeof(a)),
			rpt_human(r->swiotlb.below_4g_bytes, b, sizeof(b)),
			rpt_human(r->swiotlb.used_hiwater_bytes, c, sizeof(c)),
			rpt_human(r->swiotlb.bounced_bytes, d2, sizeof(d2)),
			(unsigned long long)r->swiotlb.full_failures);
	else
		fputs("swiotlb: off\n", out);
	if (r->xen.has) {
		const struct rpt_xen *x = &r->xen;
		char e2[32], f2[32];
		print_hypervisor(x, out);
		fprintf(out, "xen: swiotlb-xen %s, bounce pool %s%s; hypervisor low memory used "
			"%s of %s (high-water %s, %s at boot), %llu exchange failures\n",
			x->swiotlb_xen ? "on" : "off",
			x->xen_pool_bytes ? rpt_human(x->xen_pool_bytes, a, sizeof(a)) : "none",
			x->xen_pool_late ? " (made after boot)" : "",
			rpt_human(x->lowmem_used, b, sizeof(b)), rpt_human(x->lowmem_total, c, sizeof(c)),
			rpt_human(x->lowmem_hiwater, d2, sizeof(d2)),
			rpt_human(x->lowmem_used_at_boot, e2, sizeof(e2)),
			(unsigned long long)x->exchange_failures);
		fprintf(out, "xen: %llu foreign maps, %llu straddle and %llu reach bounces, %llu "
			"cache flushes; device DMA %s to foreign frames, %s stray (wrong frames)\n",
			(unsigned long long)x->foreign_maps, (unsigned long long)x->straddle_bounces,
			(unsigned long long)x->reach_bounces, (unsigned long long)x->cache_flushes,
			rpt_human(x->dma_foreign_bytes, e2, sizeof(e2)),
			rpt_human(x->dma_stray_bytes, f2, sizeof(f2)));
	}
	fprintf(out, "\n  %-28s %-12s %-6s %10s %8s %11s %11s %7s %7s\n", "device", "ops", "masks",
		"maps", "failed", "mapped", "bounced", "errors", "faults");
	for (unsigned int i = 0; i < r->ndevices; i++) {
		const struct rpt_device *d = &r->devices[i];
		char masks[16];
		snprintf(masks, sizeof(masks), "%u/%u", d->dma_mask_bits, d->coherent_mask_bits);
		fprintf(out, "  %-28s %-12s %-6s %10llu %8llu %11s %11s %7llu %7llu\n", d->name,
			d->ops, masks, (unsigned long long)d->maps,
			(unsigned long long)d->map_failures, rpt_human(d->bytes_mapped, a, sizeof(a)),
			rpt_human(d->bounced_bytes, b, sizeof(b)), (unsigned long long)d->integrity_errors,
			(unsigned long long)d->faults);
	}
	fputc('\n', out);
	for (unsigned int i = 0; i < r->ndevices; i++) {
		const struct rpt_device *d = &r->devices[i];
		fprintf(out, "  %s: %s\n", d->name, d->reason);
		if (d->zero_copy_pages || d->bounce_pages)
			fprintf(out, "    zero-copy user pointers: %s (%llu pages in place, %llu would "
				"bounce)\n", d->bounce_pages ? "no" : "yes",
				(unsigned long long)d->zero_copy_pages, (unsigned long long)d->bounce_pages);
		if (d->outside_reached)
			fprintf(out, "    reached %llu bytes outside what it was given, %llu of them "
				"the CPU's own data around its buffer\n",
				(unsigned long long)d->outside_reached,
				(unsigned long long)d->exposed_bytes);
		if (d->truncated)
			fprintf(out, "    %llu accesses lost address bits above its %u-bit engine\n",
				(unsigned long long)d->truncated, d->dma_mask_bits);
	}
	for (unsigned int i = 0; i < r->nnotes; i++)
		fprintf(out, "expected: %s\n", r->notes[i]);
	for (unsigned int i = 0; i < r->nproblems; i++)
		fprintf(out, "problem: %s\n", r->problems[i]);
	fprintf(out, "%llu map/unmap operations in %.2f s%s\n", (unsigned long long)r->ops_total,
		r->seconds, r->interrupted ? " (partial)" : "");
}
