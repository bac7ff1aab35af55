/*
 * tools/run.c - running a scenario (see run.h).
 *
 * Owns: the run loop over a scenario's workloads on the machine machine.c
 * builds (hot-plugged devices appearing before their first workload,
 * seeds, progress, stopping on a signal), the trace's header and footer,
 * and the order of a run: build, run, report, tear down, judge.
 * Must never build the machine itself (machine.c), judge `expect`
 * (judge.c), print a report (report_text.c, report_json.c), or decide DMA
 * policy.  Never includes src/ headers.
 *
 * Determinism: one thread, the simulator's allocator is deterministic, and
 * every workload's data derives from its seed, so the same file and seed
 * give the same report byte for byte (timing is kept out of the JSON).
 */
#include "run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include "judge.h"
#include "trace.h"
#include "workloads.h"

/* ---- progress ------------------------------------------------------------------ */

struct progress {
	bool on;
	unsigned int wl, nwl;
	uint64_t est;           /* ops this workload is expected to make */
	uint64_t base;          /* ops before this workload */
	struct timespec last;
	bool drawn;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void progress_draw(struct progress *p, uint64_t ops)
{
	double frac = (p->wl + (p->est ? (double)(ops - p->base) / (double)p->est : 0)) / p->nwl;
	if (frac > 1)
		frac = 1;
	int fill = (int)(frac * 30);
	fprintf(stderr, "\r  [%.*s%*s] %3d%%  workload %u/%u  %llu ops ", fill,
		"##############################", 30 - fill, "", (int)(frac * 100), p->wl + 1,
		p->nwl, (unsigned long long)ops);
	fflush(stderr);
	p->drawn = true;
}

static void progress_tick(void *priv, uint64_t ops)
{
	struct progress *p = priv;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	/* At most ten redraws a second. */
	if ((t.tv_sec - p->last.tv_sec) * 1000000000L + (t.tv_nsec - p->last.tv_nsec) < 100000000L)
		return;
	p->last = t;
	progress_draw(p, ops);
}

static uint64_t wl_estimate(const struct scn_workload *w)
{
	switch (w->kind) {
	case SCN_KIND_NIC: return 2 * (w->count ? w->count : WL_NIC_COUNT);
	case SCN_KIND_BLK: return 2 * (w->count ? w->count : WL_BLK_COUNT) *
			   ((w->size ? w->size : WL_BLK_SIZE) / 4096 + 1);
	case SCN_KIND_GPU: return 2 * ((w->count ? w->count : WL_GPU_COUNT) + 1) *
			   ((w->size ? w->size : WL_GPU_SIZE) / 4096);
	case SCN_KIND_XEN_BACKEND: return 2 * (w->count ? w->count : WL_XEN_COUNT) *
				   (w->segments ? w->segments :
				    ((w->size ? w->size : WL_XEN_SIZE) + 4095) / 4096);
	default: return 2 * (w->count ? w->count : WL_ADV_COUNT);
	}
}

/* ---- run ----------------------------------------------------------------------------- */

static uint64_t mix_seed(uint64_t seed, unsigned int i)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (i + 1);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	return z ^ (z >> 27);
}

static int run_workloads(struct machine *e, const struct run_opts *o, struct rpt_report *r)
{
	const struct scn *s = e->s;
	struct progress pr = { .on = o && o->progress, .nwl = s->nworkloads };
	uint64_t ops = 0;
	int rc = 0;
	unsigned int nbackends = 0;
	clock_gettime(CLOCK_MONOTONIC, &pr.last);
	const volatile sig_atomic_t *stop = o ? o->stop : NULL;
	for (unsigned int i = 0; i < s->nworkloads && !rc; i++) {
		const struct scn_workload *w = &s->workloads[i];
		if (stop && *stop)
			break;
		struct mach_dev *d = machine_dev_find(e, w->device);
		if (!d->dev && !d->add_rc && (rc = machine_dev_add(e, d)))
			break; /* a hot-plugged device appears now */
		if (!d->dev)
			continue; /* it could not be added: judged as a problem */
		struct wl_env we = machine_wl_env(e, d);
		we.seed = w->has_seed ? w->seed : mix_seed(o ? o->seed : 1, i);
		we.out = d->rep;
		we.ops = ops;
		we.tick = pr.on ? progress_tick : NULL;
		we.tick_priv = &pr;
		we.tr = o ? o->trace : NULL;
		we.stop = stop;
		/* Backends take the domUs in turn. */
		if (w->kind == SCN_KIND_XEN_BACKEND && e->ndomus)
			we.domid = e->domids[nbackends++ % e->ndomus];
		if (we.tr)
			trace_workload(we.tr, d->name, scn_kind_name(w->kind), w->line, we.seed,
				       we.domid);
		uint64_t errors_before = d->rep->integrity_errors;
		pr.wl = i;
		pr.base = ops;
		pr.est = wl_estimate(w);
		rc = wl_run(w, &we);
		ops = we.ops;
		if (rc == -ERANGE || rc == -ENOTSUP) {
			rc = machine_err(e, rc == -ERANGE ? -EINVAL : rc, "%s:%d: %s", e->file, w->line,
				     we.problem);
		} else if (rc) {
			rc = machine_err(e, rc, "%s:%d: %s", e->file, w->line,
				     we.problem[0] ? we.problem : dmamap_strerror(rc));
		} else if (we.problem[0] && d->rep->integrity_errors > errors_before &&
			   judge_expects_wrong_bytes(s, d->name)) {
			/* The wrong bytes are what the file set out to show. */
			rc = rpt_add_note(r, "%s (workload at line %d)", we.problem, w->line);
		} else if (we.problem[0]) {
			rc = rpt_add_problem(r, "%s (workload at line %d)", we.problem, w->line);
		}
	}
	if (stop && *stop)
		r->interrupted = *stop;
	/* Hot-plugged devices without a workload appear after the others ran. */
	for (unsigned int i = 0; i < e->ndevs && !rc && !r->interrupted; i++)
		if (!e->devs[i].dev && !e->devs[i].add_rc)
			rc = machine_dev_add(e, &e->devs[i]);
	if (pr.drawn)
		fprintf(stderr, "\r%70s\r", "");
	r->ops_total = ops;
	return rc;
}

/* The trace's first line: the scenario, the seed and the platform as built. */
static void trace_platform_header(struct machine *e, const struct run_opts *o)
{
	const struct dmamap_platform *p = sim_platform(e->m);
	uint64_t ram[SIM_MAX_RAM_RANGES][2];
	const char *names[MACH_MAX_DEVS], *ops[MACH_MAX_DEVS];
	unsigned int bits[MACH_MAX_DEVS];
	bool hot[MACH_MAX_DEVS];
	unsigned int nram = 0;
	for (unsigned int i = 0; i < p->nlinear && nram < SIM_MAX_RAM_RANGES; i++, nram++) {
		ram[nram][0] = p->linear[i].phys;
		ram[nram][1] = p->linear[i].size;
	}
	for (unsigned int i = 0; i < e->ndevs; i++) {
		names[i] = e->devs[i].name;
		ops[i] = e->devs[i].dev ? dmamap_device_ops_name(e->devs[i].dev) :
			 e->devs[i].add_rc ? "none" : "hotplug";
		bits[i] = e->devs[i].dma_bits;
		hot[i] = e->devs[i].hotplug;
	}
	struct dmamap_swiotlb_stats st;
	memset(&st, 0, sizeof(st));
	dmamap_swiotlb_get_stats(e->ctx, NULL, &st);
	struct trace_platform tp = {
		.scenario = e->s->name, .file = e->file, .bootargs = e->bootargs,
		.seed = o->seed, .ram = (const uint64_t (*)[2])ram, .nram = nram,
		.swiotlb = st.enabled, .swiotlb_bytes = st.total_bytes,
		.hypervisor = machine_hypervisor(e),
		.dev_names = names, .dev_ops = ops, .dev_bits = bits, .dev_hotplug = hot,
		.ndevs = e->ndevs,
	};
	trace_header(o->trace, &tp);
}

static int report_alloc(struct machine *e, struct rpt_report *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->scenario, sizeof(r->scenario), "%s", e->s->name);
	r->devices = calloc(e->ndevs ? e->ndevs : 1, sizeof(*r->devices));
	if (!r->devices)
		return -ENOMEM;
	r->ndevices = e->ndevs;
	for (unsigned int i = 0; i < e->ndevs; i++) {
		e->devs[i].rep = &r->devices[i];
		snprintf(r->devices[i].name, sizeof(r->devices[i].name), "%s", e->devs[i].name);
	}
	return 0;
}

int run_scenario(const struct scn *s, const char *file, const struct run_opts *o,
		 struct rpt_report *r, char *err, size_t errlen)
{
	struct machine *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	*e = (struct machine){ .s = s, .file = file, .verbose = o && o->verbose, .err = err,
			       .errlen = errlen };
	memset(r, 0, sizeof(*r));
	double t0 = now_s();
	int rc = machine_up(e);
	if (!rc)
		rc = report_alloc(e, r);
	if (!rc && o && o->trace)
		trace_platform_header(e, o);
	if (!rc)
		rc = run_workloads(e, o, r);
	if (!rc && o && o->trace)
		trace_end(o->trace, r->interrupted);
	if (!rc)
		machine_report(e, r);
	machine_down(e); /* writes each device's leaks: before judging */
	if (!rc)
		rc = machine_refusals(e, r);
	if (!rc)
		rc = judge(s, file, r);
	r->seconds = now_s() - t0;
	if (rc) {
		if (rc == -ENOMEM && err && !err[0])
			snprintf(err, errlen, "%s: this host is out of memory", file);
		rpt_free(r);
	}
	free(e);
	return rc;
}

/* ---- explain -------------------------------------------------------------------- */

int run_explain(const struct scn *s, const char *file, FILE *out, char *err, size_t errlen)
{
	struct machine *e = calloc(1, sizeof(*e));
	struct rpt_report r;
	memset(&r, 0, sizeof(r));
	if (!e)
		return -ENOMEM;
	*e = (struct machine){ .s = s, .file = file, .err = err, .errlen = errlen };
	int rc = machine_up(e);
	if (!rc)
		rc = report_alloc(e, &r);
	/* Hot-plugged devices are explained as they will be once they appear. */
	for (unsigned int i = 0; !rc && i < e->ndevs; i++)
		if (!e->devs[i].dev && !e->devs[i].add_rc)
			rc = machine_dev_add(e, &e->devs[i]);
	if (!rc) {
		machine_report(e, &r);
		rpt_print_explain(&r, out);
	}
	machine_down(e); /* writes rep->leaked: before the report goes */
	rpt_free(&r);
	free(e);
	return rc;
}

