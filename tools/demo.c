/*
 * tools/demo.c - `dmamap demo`: one small simulated machine per claim,
 * driven through the public driver API only, every byte checked.
 *
 * Owns: the built-in claims and their table.  Must never reach into the
 * library's internals (a demo is a driver) nor decide policy: it states
 * what Linux's rules predict and checks the library does exactly that.
 */
#include "demo.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/dma.h>
#include <dmamap/iomap.h>
#include <dmamap/platform.h>
#include <dmamap/sim/mmio.h>
#include "run.h"
#include "scenario.h"
#include <dmamap/sim/sim.h>

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)

struct demo_env {
	struct sim_machine *m;
	struct dmamap_ctx *ctx;
	char detail[256];
};

struct demo_dev {
	struct sim_device *sd;
	struct dmamap_device *dev;
};

static void demo_log(void *priv, enum dmamap_log_level lvl, const char *msg)
{
	(void)priv;
	if (getenv("DMAMAP_DEMO_VERBOSE"))
		fprintf(stderr, "  [log %d] %s\n", (int)lvl, msg);
}

/* RAM [0, 3 GiB) plus [4 GiB, 4 GiB + (ram - 3 GiB)). */
static int demo_env_init(struct demo_env *e, uint64_t ram, const char *bootargs,
			 bool cc_guest)
{
	memset(e, 0, sizeof(*e));
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 4 };
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 3 * GIB };
	if (ram > 3 * GIB)
		md.ram[md.nram++] = (struct sim_ram_range){ 4 * GIB, ram - 3 * GIB };
	const char *why = NULL;
	if (sim_machine_create(&md, &e->m, &why))
		return -1;
	struct dmamap_config cfg = { .bootargs = bootargs, .cc_guest = cc_guest,
				     .log = demo_log, .deferred = DMAMAP_DEFERRED_MANUAL };
	if (dmamap_ctx_create(sim_platform(e->m), &cfg, &e->ctx)) {
		sim_machine_destroy(e->m);
		e->m = NULL;
		e->ctx = NULL;
		return -1;
	}
	return 0;
}

static void demo_env_fini(struct demo_env *e, struct demo_dev *devs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (devs[i].dev)
			dmamap_device_remove(devs[i].dev, NULL);
	if (e->ctx)
		dmamap_ctx_destroy(e->ctx);
	if (e->m)
		sim_machine_destroy(e->m);
}

static int demo_dev_add(struct demo_env *e, struct demo_dev *d, const char *name,
			unsigned int bits, bool coherent, struct dmamap_swiotlb *pool)
{
	struct sim_device_desc sd = { .name = name, .bus = DMAMAP_BUS_PCI,
				      .addr_bits = bits, .coherent = coherent };
	if (sim_device_create(e->m, &sd, &d->sd))
		return -1;
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d->sd, &dd);
	dd.restricted_pool = pool;
	if (dmamap_device_add(e->ctx, &dd, &d->dev))
		return -1;
	/* A driver asks for what its hardware can do. */
	return dmamap_set_mask_and_coherent(d->dev, DMAMAP_BIT_MASK(bits));
}

static void *demo_buf(struct demo_env *e, bool high, uint64_t npages)
{
	uint64_t phys;
	uint64_t lo = high ? 4 * GIB : 0, hi = high ? ~0ULL : 4 * GIB - 1;
	if (sim_alloc_pages(e->m, npages, 1, lo, hi, &phys))
		return NULL;
	return sim_phys_to_cpu(e->m, phys);
}

static void pattern(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 8));
}

static long pattern_check(const uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (uint8_t)((i * 131u + seed * 7u) ^ (i >> 8)))
			return (long)i;
	return -1;
}

/*
 * One transmit (device reads) and one receive (device writes) on a buffer,
 * as a driver does it.  Returns the number of wrong bytes, or -1 when a
 * map failed.  with_sync false skips the sync before the CPU reads (a bug).
 */
static long demo_xfer(struct demo_dev *d, uint8_t *buf, size_t len, uint32_t seed,
		      bool with_sync)
{
	uint8_t *tmp = malloc(len);
	if (!tmp)
		return -1;
	long bad = 0;
	pattern(buf, len, seed);
	dmamap_dma_addr_t a = dmamap_map_single(d->dev, buf, len, DMAMAP_TO_DEVICE);
	if (dmamap_mapping_error(d->dev, a)) {
		free(tmp);
		return -1;
	}
	sim_dma_read(d->sd, a, tmp, len);
	dmamap_unmap_single(d->dev, a, len, DMAMAP_TO_DEVICE);
	if (pattern_check(tmp, len, seed) >= 0)
		bad++;

	a = dmamap_map_single(d->dev, buf, len, DMAMAP_FROM_DEVICE);
	if (dmamap_mapping_error(d->dev, a)) {
		free(tmp);
		return -1;
	}
	pattern(tmp, len, seed + 1);
	sim_dma_write(d->sd, a, tmp, len);
	if (with_sync) {
		dmamap_sync_single_for_cpu(d->dev, a, len, DMAMAP_FROM_DEVICE);
		if (pattern_check(buf, len, seed + 1) >= 0)
			bad++;
		dmamap_unmap_single(d->dev, a, len, DMAMAP_FROM_DEVICE);
	} else {
		/* The bug: the CPU reads before handing the buffer back. */
		if (pattern_check(buf, len, seed + 1) >= 0)
			bad++;
		dmamap_unmap_single_attrs(d->dev, a, len, DMAMAP_FROM_DEVICE,
					  DMAMAP_ATTR_SKIP_CPU_SYNC);
	}
	free(tmp);
	return bad;
}

#define DEMO_FAIL(e, ...) do { snprintf((e)->detail, sizeof((e)->detail), __VA_ARGS__); goto out; } while (0)

/* Claim: on a non-coherent NIC a missing sync is a wrong byte, not a silent success. */
static bool claim_missing_sync_caught(struct demo_env *e)
{
	struct demo_dev nic = { 0 };
	bool ok = false;
	if (demo_env_init(e, 4 * GIB, NULL, false) || demo_dev_add(e, &nic, "nic", 32, false, NULL))
		DEMO_FAIL(e, "setup failed");
	uint8_t *b = demo_buf(e, false, 1);
	if (!b)
		DEMO_FAIL(e, "no buffer");
	long good = demo_xfer(&nic, b, 1514, 5, true);
	long bad = demo_xfer(&nic, b, 1514, 9, false);
	if (good != 0 || bad != 1)
		DEMO_FAIL(e, "with syncs %ld wrong, without %ld wrong (expected 0 and 1)", good, bad);
	snprintf(e->detail, sizeof(e->detail), "with syncs: every byte right; without sync_for_cpu: stale bytes seen");
	ok = true;
out:
	demo_env_fini(e, &nic, 1);
	return ok;
}

/* Claim: a 36-bit address handed to a 32-bit device corrupts low memory, and is caught. */
static bool claim_truncation_caught(struct demo_env *e)
{
	struct demo_dev nic = { 0 };
	bool ok = false;
	if (demo_env_init(e, 8 * GIB, NULL, false) || demo_dev_add(e, &nic, "nic", 32, true, NULL))
		DEMO_FAIL(e, "setup failed");
	/* The driver bug: a 64-bit mask on 32-bit hardware, so nothing bounces. */
	if (dmamap_set_mask(nic.dev, DMAMAP_BIT_MASK(64)))
		DEMO_FAIL(e, "set_mask(64) refused");
	uint64_t hphys;
	if (sim_alloc_pages(e->m, 1, 1, 4 * GIB, ~0ULL, &hphys))
		DEMO_FAIL(e, "no high page");
	uint8_t *hi = sim_phys_to_cpu(e->m, hphys);
	uint8_t *victim = sim_phys_to_cpu(e->m, hphys & 0xffffffffULL);
	if (!victim)
		DEMO_FAIL(e, "no RAM at the truncated address");
	pattern(victim, 1514, 77);
	uint8_t rx[1514];
	pattern(rx, sizeof(rx), 3);
	dmamap_dma_addr_t a = dmamap_map_single(nic.dev, hi, sizeof(rx), DMAMAP_FROM_DEVICE);
	sim_dma_write(nic.sd, a, rx, sizeof(rx));
	dmamap_unmap_single(nic.dev, a, sizeof(rx), DMAMAP_FROM_DEVICE);
	struct sim_device_stats ds;
	sim_device_get_stats(nic.sd, &ds);
	bool corrupted = pattern_check(victim, 1514, 77) >= 0;
	bool missed = pattern_check(hi, sizeof(rx), 3) >= 0;
	if (ds.truncated != 1 || !corrupted || !missed)
		DEMO_FAIL(e, "truncated=%llu corrupted=%d data-missing=%d",
			  (unsigned long long)ds.truncated, corrupted, missed);
	snprintf(e->detail, sizeof(e->detail), "0x%llx emitted as 0x%llx: low memory overwritten, caught",
		 (unsigned long long)a, (unsigned long long)(a & 0xffffffffULL));
	ok = true;
out:
	demo_env_fini(e, &nic, 1);
	return ok;
}

/* Claim (seed 004): supported() changes nothing; set_mask switches; a refused mask changes nothing. */
static bool claim_supported_is_pure(struct demo_env *e)
{
	struct demo_dev d = { 0 };
	bool ok = false;
	if (demo_env_init(e, 8 * GIB, NULL, false) || demo_dev_add(e, &d, "hba", 32, true, NULL))
		DEMO_FAIL(e, "setup failed");
	char before[256];
	snprintf(before, sizeof(before), "%s|%s|%llx", dmamap_device_ops_name(d.dev),
		 dmamap_device_ops_reason(d.dev), (unsigned long long)dmamap_get_mask(d.dev));
	int s64 = dmamap_supported(d.dev, DMAMAP_BIT_MASK(64));
	int s20 = dmamap_supported(d.dev, DMAMAP_BIT_MASK(20));
	char after[256];
	snprintf(after, sizeof(after), "%s|%s|%llx", dmamap_device_ops_name(d.dev),
		 dmamap_device_ops_reason(d.dev), (unsigned long long)dmamap_get_mask(d.dev));
	if (!s64 || s20 || strcmp(before, after))
		DEMO_FAIL(e, "queries changed the device or answered wrong (64:%d 20:%d)", s64, s20);
	if (dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(20)) != -EIO ||
	    dmamap_get_mask(d.dev) != DMAMAP_BIT_MASK(32))
		DEMO_FAIL(e, "a refused mask was not -EIO or changed the device");
	/* 64-bit streaming with a 32-bit coherent mask: coherent memory stays low. */
	if (dmamap_set_mask(d.dev, DMAMAP_BIT_MASK(64)) || dmamap_set_coherent_mask(d.dev, DMAMAP_BIT_MASK(32)))
		DEMO_FAIL(e, "set_mask(64)/coherent(32) failed");
	dmamap_dma_addr_t h;
	void *ring = dmamap_alloc_coherent(d.dev, 8192, &h);
	if (!ring || h + 8191 > DMAMAP_BIT_MASK(32))
		DEMO_FAIL(e, "coherent ring at 0x%llx is beyond the 32-bit coherent mask",
			  (unsigned long long)h);
	dmamap_free_coherent(d.dev, 8192, ring, h);
	snprintf(e->detail, sizeof(e->detail), "queries pure; 20-bit mask -EIO, unchanged; 64/32 split ring at 0x%llx",
		 (unsigned long long)h);
	ok = true;
out:
	demo_env_fini(e, &d, 1);
	return ok;
}

/* Claim: a restricted-dma-pool device bounces everything through its own pool. */
static bool claim_restricted_pool(struct demo_env *e)
{
	struct demo_dev d = { 0 };
	struct dmamap_swiotlb *pool = NULL;
	bool ok = false;
	uint64_t base = 0x60000000ULL, size = 4 * MIB;
	if (demo_env_init(e, 4 * GIB, NULL, false) || sim_reserve(e->m, base, size) ||
	    dmamap_restricted_pool_create(e->ctx, base, size, &pool) ||
	    demo_dev_add(e, &d, "wifi", 32, true, pool))
		DEMO_FAIL(e, "setup failed");
	uint8_t *b = demo_buf(e, false, 1);
	if (!b || demo_xfer(&d, b, 2000, 11, true) != 0)
		DEMO_FAIL(e, "transfer failed or had wrong bytes");
	dmamap_dma_addr_t h;
	void *ring = dmamap_alloc_coherent(d.dev, 4096, &h);
	bool in_pool = ring && h >= base && h + 4095 < base + size;
	if (ring)
		dmamap_free_coherent(d.dev, 4096, ring, h);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	if (!in_pool || st.bounced_maps != st.maps || strcmp(dmamap_device_ops_name(d.dev), "swiotlb"))
		DEMO_FAIL(e, "ring in pool=%d, bounced %llu of %llu maps, ops %s", in_pool,
			  (unsigned long long)st.bounced_maps, (unsigned long long)st.maps,
			  dmamap_device_ops_name(d.dev));
	snprintf(e->detail, sizeof(e->detail), "%llu of %llu maps bounced through its pool; ring at 0x%llx in the pool",
		 (unsigned long long)st.bounced_maps, (unsigned long long)st.maps, (unsigned long long)h);
	ok = true;
out:
	if (d.dev)
		dmamap_device_remove(d.dev, NULL);
	if (pool)
		dmamap_restricted_pool_destroy(pool);
	demo_env_fini(e, NULL, 0);
	return ok;
}

/* Claim: a confidential VM bounces everything through a pool of 6% of RAM (64 MiB..1 GiB). */
static bool claim_cc_guest(struct demo_env *e)
{
	struct demo_dev d = { 0 };
	bool ok = false;
	if (demo_env_init(e, 8 * GIB, NULL, true) || demo_dev_add(e, &d, "virtio", 64, true, NULL))
		DEMO_FAIL(e, "setup failed");
	uint8_t *b = demo_buf(e, true, 1);
	if (!b || demo_xfer(&d, b, 4096, 21, true) != 0)
		DEMO_FAIL(e, "transfer failed or had wrong bytes");
	struct dmamap_swiotlb_stats ss;
	dmamap_swiotlb_get_stats(e->ctx, NULL, &ss);
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	uint64_t want = 8 * GIB * 6 / 100;
	want = (want + 262143) / 262144 * 262144; /* Linux rounds to a 128-slot segment */
	if (ss.boot_total_bytes != want || st.bounced_maps != st.maps)
		DEMO_FAIL(e, "pool %llu bytes (want %llu), bounced %llu of %llu",
			  (unsigned long long)ss.boot_total_bytes, (unsigned long long)want,
			  (unsigned long long)st.bounced_maps, (unsigned long long)st.maps);
	snprintf(e->detail, sizeof(e->detail), "pool %llu MiB (6%% of 8 GiB); %llu of %llu maps bounced",
		 (unsigned long long)(ss.boot_total_bytes >> 20), (unsigned long long)st.bounced_maps,
		 (unsigned long long)st.maps);
	ok = true;
out:
	demo_env_fini(e, &d, 1);
	return ok;
}

/*
 * Claim (seed 004): a NIC posts a descriptor through a write-combining BAR
 * and rings a doorbell.  With wmb() between them the device always sees
 * the descriptor first; without it, the adversarial drain order delivers
 * the doorbell first and the device reports it.
 */
static unsigned int wc_post(struct demo_env *e, struct demo_dev *d, struct dmamap_iomem *io,
			    bool barrier)
{
	struct sim_mmio_stats before, after;
	sim_mmio_get_stats(d->sd, &before);
	for (uint32_t i = 0; i < 16; i++)
		dmamap_writel_relaxed(io, 4 * i, 0xd0000000u | i);
	if (barrier)
		dmamap_wmb(e->ctx);
	dmamap_writel_relaxed(io, 0x100, 1);
	dmamap_wmb(e->ctx);
	sim_mmio_get_stats(d->sd, &after);
	return (unsigned int)(after.order_violations - before.order_violations);
}

static bool claim_wc_doorbell(struct demo_env *e)
{
	struct demo_dev d = { 0 };
	struct dmamap_iomem *io = NULL, *io_io = NULL; /* both unmapped at out: */
	bool ok = false;
	if (demo_env_init(e, 4 * GIB, NULL, false) || demo_dev_add(e, &d, "nic", 64, true, NULL) ||
	    sim_device_add_bar(d.sd, 0, 4096, DMAMAP_BAR_MEM | DMAMAP_BAR_PREFETCH) ||
	    sim_mmio_order_rule(d.sd, 0, 0x100, 0, 64) || dmamap_iomap_wc(d.dev, 0, 0, &io))
		DEMO_FAIL(e, "setup failed");
	sim_mmio_set_adversarial(e->m, true);
	unsigned int with = wc_post(e, &d, io, true), without = wc_post(e, &d, io, false);
	int refused = sim_device_add_bar(d.sd, 4, 256, 0) ? 0 : dmamap_iomap_wc(d.dev, 4, 0, &io_io);
	if (with != 0 || without != 1 || refused != -EOPNOTSUPP)
		DEMO_FAIL(e, "violations with wmb %u, without %u; WC on I/O BAR %d", with, without,
			  refused);
	snprintf(e->detail, sizeof(e->detail), "with wmb: descriptor first; without: doorbell "
		 "first, reported; WC on an I/O BAR refused");
	ok = true;
out:
	dmamap_iounmap(io);
	dmamap_iounmap(io_io);
	demo_env_fini(e, &d, 1);
	return ok;
}

struct demo_claim {
	const char *name;
	bool (*run)(struct demo_env *e);
};

static const struct demo_claim claims[] = {
	{ "non-coherent NIC: a missing sync is a wrong byte", claim_missing_sync_caught },
	{ "36-bit address on a 32-bit device is caught", claim_truncation_caught },
	{ "supported() is pure; set_mask switches (seed 004)", claim_supported_is_pure },
	{ "restricted-dma-pool bounces all through its pool", claim_restricted_pool },
	{ "confidential VM: pool 6% of RAM, all bounce", claim_cc_guest },
	{ "WC doorbell needs wmb (seed 004)", claim_wc_doorbell },
};

/*
 * DESIGN.md's scenarios of the seeds, and the runs above that show each
 * (claims by name, built-in scenarios by label).  A scenario is shown
 * when every run it names passed; a run missing from this build is a
 * failure of its own.
 */
#define DEMO_MAX_RUNS 4
static const struct {
	const char *what;
	const char *runs[DEMO_MAX_RUNS];
} seed_scenarios[] = {
	{ "1. PVH dom0 GPU+NIC, swiotlb-xen off (seed 000)",
	  { "examples/xen-pvh-dom0.yaml", "examples/xen-pvh-dom0-noswiotlb.yaml" } },
	{ "2. ARM 1:1 dom0 backends via swiotlb-xen (001/002)",
	  { "examples/xen-arm-dom0-backend.yaml", "examples/xen-arm-dom0-linux-noxen.yaml" } },
	{ "3. cache-colored dom0: dom0-IOMMU flag (seed 002)",
	  { "examples/xen-colored-dom0.yaml", "examples/xen-colored-dom0-iommu.yaml",
	    "examples/xen-colored-dom0-p2m.yaml" } },
	{ "4. PV guest >4 GiB: no pool until hot-add (003)",
	  { "examples/xen-pv-domu-nodevice.yaml", "examples/xen-pv-domu-hotplug.yaml" } },
	{ "5. powerpc hybrid windows, pure supported() (004)",
	  { "examples/powerpc-hybrid.yaml", "supported() is pure; set_mask switches (seed 004)" } },
	{ "6. WC doorbell ordering (seed 004)", { "WC doorbell needs wmb (seed 004)" } },
};

/* What a run's name resolved to: -1 not found, else whether it passed. */
static int run_result(const char *name, const char *const *names, const bool *ok,
		      unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return ok[i];
	return -1;
}

/*
 * A built-in scenario (an examples/ file, compiled in): its verdict, and the
 * devices' ops and counters as evidence.
 */
static bool demo_scenario(const struct demo_builtin *b, char *detail, size_t n)
{
	struct scn *s = NULL;
	struct rpt_report r;
	char err[512];
	struct run_opts o = { .seed = 1 };
	if (scn_load_string(b->label, b->text, &s, err, sizeof(err))) {
		snprintf(detail, n, "%s", err);
		return false;
	}
	int rc = run_scenario(s, b->label, &o, &r, err, sizeof(err));
	scn_free(s);
	if (rc) {
		snprintf(detail, n, "%s", err);
		return false;
	}
	size_t k = 0;
	detail[0] = 0;
	for (unsigned int i = 0; i < r.ndevices && k < n; i++) {
		const struct rpt_device *d = &r.devices[i];
		k += (size_t)snprintf(detail + k, n - k, "%s%s %s: %llu maps, %llu bounced, %llu failed",
				      i ? "; " : "", d->name, d->ops, (unsigned long long)d->maps,
				      (unsigned long long)d->bounced_maps,
				      (unsigned long long)d->map_failures);
		/* Wrong bytes a scenario asks for are its claim: say they were caught. */
		if (d->integrity_errors && k < n)
			k += (size_t)snprintf(detail + k, n - k, ", %llu wrong caught",
					      (unsigned long long)d->integrity_errors);
	}
	if (r.xen.has && k < n)
		k += (size_t)snprintf(detail + k, n - k,
				      "%sxen %s %s: bounce pool %llu MiB%s, lowmem used %llu MiB, %llu "
				      "foreign maps, %llu B stray", k ? "; " : "", r.xen.mode,
				      r.xen.dom0 ? "dom0" : "domU",
				      (unsigned long long)(r.xen.xen_pool_bytes >> 20),
				      r.xen.xen_pool_late ? " (late)" : "",
				      (unsigned long long)(r.xen.lowmem_used >> 20),
				      (unsigned long long)r.xen.foreign_maps,
				      (unsigned long long)r.xen.dma_stray_bytes);
	if (!r.pass && r.nproblems && k < n)
		snprintf(detail + k, n - k, " [%s]", r.problems[0]);
	bool ok = r.pass;
	rpt_free(&r);
	return ok;
}

int dmamap_cli_demo(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "dmamap demo: takes no options\n");
		return 2;
	}
	unsigned int n = sizeof(claims) / sizeof(claims[0]), passed = 0, total = 0;
	unsigned int nruns = n + demo_nbuiltins;
	const char **names = calloc(nruns ? nruns : 1, sizeof(*names));
	bool *oks = calloc(nruns ? nruns : 1, sizeof(*oks));
	if (!names || !oks) {
		free(names);
		free(oks);
		fprintf(stderr, "dmamap demo: out of memory\n");
		return 1;
	}
	printf("dmamap demo: library claims, then scenarios, on simulated machines\n\n");
	printf("  %-50s %-6s %s\n", "claim", "result", "evidence");
	for (unsigned int i = 0; i < n; i++, total++) {
		struct demo_env e;
		memset(&e, 0, sizeof(e));
		bool ok = claims[i].run(&e);
		passed += ok;
		names[total] = claims[i].name;
		oks[total] = ok;
		printf("  %-50s %-6s %s\n", claims[i].name, ok ? "PASS" : "FAIL", e.detail);
	}
	printf("\n  %-50s %-6s %s\n", "scenario (examples/, `dmamap run` them)", "result",
	       "evidence");
	for (unsigned int i = 0; i < demo_nbuiltins; i++, total++) {
		char detail[768];
		bool ok = demo_scenario(&demo_builtins[i], detail, sizeof(detail));
		passed += ok;
		names[total] = demo_builtins[i].label;
		oks[total] = ok;
		printf("  %-50s %-6s %s\n", demo_builtins[i].label, ok ? "PASS" : "FAIL", detail);
	}
	/* DESIGN.md's scenarios: shown by the runs above (counted there). */
	unsigned int missing = 0;
	printf("\n  %-50s %-6s %s\n", "DESIGN.md's scenario of the seeds", "shown", "by");
	for (size_t i = 0; i < sizeof(seed_scenarios) / sizeof(seed_scenarios[0]); i++) {
		bool all = true;
		char by[512];
		size_t k = 0;
		by[0] = 0;
		for (unsigned int j = 0; j < DEMO_MAX_RUNS && seed_scenarios[i].runs[j]; j++) {
			const char *run = seed_scenarios[i].runs[j];
			int res = run_result(run, names, oks, total);
			if (res < 0)
				missing++;
			all = all && res == 1;
			if (k < sizeof(by))
				k += (size_t)snprintf(by + k, sizeof(by) - k, "%s%s%s", j ? ", " : "",
						      run, res < 0 ? " (missing)" : "");
		}
		printf("  %-50s %-6s %s\n", seed_scenarios[i].what, all ? "yes" : "NO", by);
	}
	free(names);
	free(oks);
	printf("\n%u passed, %u failed\n", passed, total - passed + missing);
	return passed == total && !missing ? 0 : 1;
}
