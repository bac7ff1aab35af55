/*
 * tests/lib/test_debug.c - the DMA API checker (include/dmamap/debug.h).
 *
 * Owns: one deliberately wrong driver per report kind, asserting exactly
 * that kind, exactly once, with its origin; the same driver written
 * correctly first, asserting no report at all; the checker off by
 * default and its switches; no false reports through bouncing and an
 * IOMMU.  Never reaches into the checker's internals: the public API,
 * the log and the simulated device only.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <dmamap/debug.h>

#include "context.h"
#include <dmamap/sim/iommu.h>

/* ---- fixtures ---------------------------------------------------------------- */

/* A context with the checker on (bootarg) and one 64-bit PCI device. */
static void env_on(struct tu_env *e, struct tu_dev *d, const char *name, bool coherent)
{
	tu_env_init(e, &(struct tu_opts){ .bootargs = "dma_debug=on" });
	assert_true(dmamap_debug_enabled(e->ctx));
	tu_dev_add(e, d, name, 64, coherent, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_mask_and_coherent(d->dev, DMAMAP_BIT_MASK(64)), 0);
}

static void env_fini(struct tu_env *e, struct tu_dev *d)
{
	if (d && d->dev)
		tu_dev_remove(d);
	tu_env_fini(e);
}

/* After bogus unmaps the device's live count is off (they count as unmaps). */
static void env_fini_miscounted(struct tu_env *e, struct tu_dev *d)
{
	uint64_t leaked;
	assert_int_equal(dmamap_device_remove(d->dev, &leaked), 0);
	d->dev = NULL;
	tu_env_fini(e);
}

/* A map the driver checks, as every correct driver does. */
static dmamap_dma_addr_t ok(struct tu_dev *d, dmamap_dma_addr_t a)
{
	assert_int_equal(dmamap_mapping_error(d->dev, a), 0);
	return a;
}

static void no_reports(struct tu_env *e)
{
	struct dmamap_debug_report r[4];
	unsigned int n = dmamap_debug_reports(e->ctx, r, 4);
	for (unsigned int i = 0; i < n; i++)
		print_message("unexpected report: %s: %s: %s: %s\n",
			      dmamap_debug_kind_name(r[i].kind), r[i].device, r[i].origin,
			      r[i].msg);
	assert_int_equal(n, 0);
	assert_int_equal(dmamap_debug_count(e->ctx, DMAMAP_DEBUG_ANY), 0);
}

/* Exactly one report since the last clear, of `kind`, logged; returns it. */
static struct dmamap_debug_report one(struct tu_env *e, enum dmamap_debug_kind kind,
				      const char *device)
{
	struct dmamap_debug_report r[4];
	unsigned int n = dmamap_debug_reports(e->ctx, r, 4);
	for (unsigned int i = 0; i < n; i++)
		print_message("report: %s: %s: %s: %s\n", dmamap_debug_kind_name(r[i].kind),
			      r[i].device, r[i].origin, r[i].msg);
	assert_int_equal(n, 1);
	assert_int_equal(dmamap_debug_count(e->ctx, DMAMAP_DEBUG_ANY), 1);
	assert_int_equal(dmamap_debug_count(e->ctx, kind), 1);
	assert_int_equal(r[0].kind, kind);
	assert_string_equal(r[0].device, device);
	assert_non_null(strstr(r[0].msg, "expected"));
	char line[320];
	snprintf(line, sizeof(line), "dma-debug: %s: %s: origin %s: ",
		 dmamap_debug_kind_name(kind), device, r[0].origin);
	assert_true(tu_log_has(e, line));
	return r[0];
}

/* The origin is this file at `line` (the map macros captured it). */
static void at_line(const struct dmamap_debug_report *r, int line)
{
	char want[64];
	snprintf(want, sizeof(want), "test_debug.c:%d", line);
	size_t n = strlen(r->origin), w = strlen(want);
	tu_assert_ge(n, w);
	assert_string_equal(r->origin + n - w, want);
	assert_int_equal(r->line, line);
}

/* The origin is a code address in this test binary (a plain function call). */
static void at_pc(const struct dmamap_debug_report *r)
{
	assert_int_equal(strncmp(r->origin, "pc ", 3), 0);
	assert_non_null(strstr(r->origin, "test_debug+0x"));
	assert_int_equal(r->line, 0);
}

/* ---- switches ------------------------------------------------------------------ */

static void test_off_by_default(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, NULL);
	tu_dev_add(&e, &d, "nic", 64, true, DMAMAP_BUS_PCI);
	assert_false(dmamap_debug_enabled(e.ctx));
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 1, &phys);
	/* Wrong, but nobody is watching: no report, no checker log line. */
	dmamap_unmap_single(d.dev, phys + 4096, 64, DMAMAP_TO_DEVICE);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, b, 64, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 64), 0);
	dmamap_unmap_single(d.dev, a, 64, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 0);
	assert_int_equal(dmamap_debug_poll(e.ctx), 0);
	assert_int_equal(dmamap_debug_set_callback(e.ctx, NULL, NULL), -EINVAL);
	assert_false(tu_log_has(&e, "dma-debug"));
	tu_free(&e, b, 1);
	env_fini_miscounted(&e, &d);
}

static void test_switches(void **state)
{
	(void)state;
	struct dm_bootopts o;
	const char *bad;
	assert_int_equal(dm_parse_bootargs("quiet dma_debug=on", &o, &bad), 0);
	assert_true(o.dma_debug_set && o.dma_debug);
	assert_int_equal(dm_parse_bootargs("dma_debug=0", &o, &bad), 0);
	assert_true(o.dma_debug_set && !o.dma_debug);
	assert_int_equal(dm_parse_bootargs("dma_debug=maybe", &o, &bad), -EINVAL);
	assert_int_equal(strncmp(bad, "dma_debug=maybe", 15), 0);

	/* The config field turns it on; dma_debug=off wins over it. */
	struct sim_machine *m;
	struct sim_machine_desc md = { .ncpus = 1, .nram = 1,
				       .ram = { { 0, 256 * TU_MIB } } };
	const char *why = NULL;
	assert_int_equal(sim_machine_create(&md, &m, &why), 0);
	struct dmamap_ctx *ctx;
	struct dmamap_config cfg = { .dma_debug = true };
	assert_int_equal(dmamap_ctx_create(sim_platform(m), &cfg, &ctx), 0);
	assert_true(dmamap_debug_enabled(ctx));
	assert_int_equal(dmamap_ctx_destroy(ctx), 0);
	cfg.bootargs = "dma_debug=off";
	assert_int_equal(dmamap_ctx_create(sim_platform(m), &cfg, &ctx), 0);
	assert_false(dmamap_debug_enabled(ctx));
	assert_int_equal(dmamap_ctx_destroy(ctx), 0);
	sim_machine_destroy(m);
	assert_string_equal(dmamap_debug_kind_name(DMAMAP_DEBUG_OVERLAP_CACHELINE),
			    "OVERLAP_CACHELINE");
	assert_string_equal(dmamap_debug_kind_name(DMAMAP_DEBUG_NR_KINDS), "?");
}

struct cb_seen {
	unsigned int n;
	struct dmamap_debug_report last;
};

static void cb(void *priv, const struct dmamap_debug_report *r)
{
	struct cb_seen *s = priv;
	s->n++;
	s->last = *r;
}

/* The callback sees what the log and the report list see; clear forgets. */
static void test_callback_and_clear(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	struct cb_seen seen = { 0 };
	assert_int_equal(dmamap_debug_set_callback(e.ctx, cb, &seen), 0);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 4096, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_unmap_single(d.dev, a, 100, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SIZE_MISMATCH, "nic");
	at_line(&r, ml);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.last.kind, DMAMAP_DEBUG_SIZE_MISMATCH);
	assert_string_equal(seen.last.msg, r.msg);
	dmamap_debug_clear(e.ctx);
	no_reports(&e);
	/* The wrong-size unmap was refused: the mapping is still live. */
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	no_reports(&e);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

/* ---- unmaps ---------------------------------------------------------------------- */

static void test_unmap_not_mapped(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 2, &phys);
	/* Right. */
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 512, DMAMAP_TO_DEVICE));
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	no_reports(&e);
	/* Wrong: an address this device never had mapped. */
	dmamap_unmap_single(d.dev, phys + 4096, 512, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, "nic");
	at_pc(&r);
	assert_non_null(strstr(r.msg, "never had mapped"));
	/* Wrong: a double unmap names the original map. */
	dmamap_debug_clear(e.ctx);
	a = ok(&d, dmamap_map_single(d.dev, b, 512, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	r = one(&e, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "double unmap"));
	/* Wrong: unmapping the error value. */
	dmamap_debug_clear(e.ctx);
	dmamap_unmap_single(d.dev, DMAMAP_MAPPING_ERROR, 512, DMAMAP_TO_DEVICE);
	r = one(&e, DMAMAP_DEBUG_UNMAP_NOT_MAPPED, "nic");
	assert_non_null(strstr(r.msg, "DMAMAP_MAPPING_ERROR"));
	tu_free(&e, b, 2);
	env_fini_miscounted(&e, &d);
}

static void test_size_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 4096, DMAMAP_TO_DEVICE));
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 4096, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_unmap_single(d.dev, a, 2048, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SIZE_MISMATCH, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "with 2048 bytes; expected 4096"));
	/*
	 * Refused, not executed: half a bounce slot freed (or half an IOVA
	 * range) would corrupt whoever takes it next.  The mapping stays live
	 * until the right unmap.
	 */
	struct dmamap_device_stats st;
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.refused_unmaps, 1);
	assert_int_equal(st.live_mappings, 1);
	dmamap_debug_clear(e.ctx);
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	no_reports(&e);
	dmamap_device_get_stats(d.dev, &st);
	assert_int_equal(st.refused_unmaps, 1);
	assert_int_equal(st.live_mappings, 0);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_dir_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 1514, DMAMAP_TO_DEVICE));
	dmamap_unmap_single(d.dev, a, 1514, DMAMAP_TO_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 1514, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_unmap_single(d.dev, a, 1514, DMAMAP_FROM_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_DIR_MISMATCH, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "with FROM_DEVICE; expected TO_DEVICE"));
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_kind_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	struct dmamap_page *pg = dmamap_virt_to_page(b);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_page(d.dev, pg, 256, 512, DMAMAP_TO_DEVICE));
	dmamap_unmap_page(d.dev, a, 512, DMAMAP_TO_DEVICE);
	a = ok(&d, dmamap_map_single(d.dev, b + 256, 512, DMAMAP_TO_DEVICE));
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b + 256, 512, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_unmap_page(d.dev, a, 512, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_KIND_MISMATCH, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "unmap_page of bus"));
	assert_non_null(strstr(r.msg, "map_single made; expected unmap_single"));
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void sg_pages(struct tu_env *e, struct dmamap_sg *sg, uint8_t **pg, int n)
{
	dmamap_sg_init_table(sg, (unsigned int)n);
	for (int i = 0; i < n; i++) {
		pg[i] = tu_alloc_high(e, 2, NULL); /* every other page: never merged */
		dmamap_sg_set_buf(&sg[i], pg[i], 4096);
	}
}

static void test_sg_count_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "blk", true);
	struct dmamap_sg sg[3];
	uint8_t *pg[3];
	sg_pages(&e, sg, pg, 3);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 3, DMAMAP_TO_DEVICE), 3);
	dmamap_sync_sg_for_cpu(d.dev, sg, 3, DMAMAP_TO_DEVICE);
	dmamap_sync_sg_for_device(d.dev, sg, 3, DMAMAP_TO_DEVICE);
	dmamap_unmap_sg(d.dev, sg, 3, DMAMAP_TO_DEVICE);
	no_reports(&e);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 3, DMAMAP_TO_DEVICE), 3); int ml = __LINE__;
	dmamap_unmap_sg(d.dev, sg, 2, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SG_COUNT_MISMATCH, "blk");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "nents 2; expected 3"));
	for (int i = 0; i < 3; i++)
		tu_free(&e, pg[i], 2);
	env_fini(&e, &d);
}

static void test_cpu_addr_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	dmamap_dma_addr_t h;
	uint8_t *c = dmamap_alloc_coherent(d.dev, 4096, &h);
	assert_non_null(c);
	dmamap_free_coherent(d.dev, 4096, c, h);
	no_reports(&e);
	c = dmamap_alloc_coherent(d.dev, 4096, &h); int ml = __LINE__;
	assert_non_null(c);
	dmamap_free_coherent(d.dev, 4096, c + 64, h); /* refused by the library too */
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_CPU_ADDR_MISMATCH, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "refused"));
	/* Still allocated, so the right free is clean. */
	dmamap_free_coherent(d.dev, 4096, c, h);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	env_fini(&e, &d);
}

static void test_error_not_checked(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = dmamap_map_single(d.dev, b, 256, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(dmamap_mapping_error(d.dev, a), 0);
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	no_reports(&e);
	/* Never checked: reported at the first sync, and only once. */
	a = dmamap_map_single(d.dev, b, 256, DMAMAP_BIDIRECTIONAL); int ml = __LINE__;
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_ERROR_NOT_CHECKED, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "sync_for_cpu of bus"));
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_stack_or_invalid(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 1, &phys);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_phys(d.dev, phys, 4096, DMAMAP_TO_DEVICE, 0));
	dmamap_unmap_phys(d.dev, a, 4096, DMAMAP_TO_DEVICE, 0);
	no_reports(&e);
	/* A buffer on the stack (the map fails: it is not in RAM either). */
	uint8_t frame[256];
	memset(frame, 0, sizeof(frame));
	a = dmamap_map_single(d.dev, frame, sizeof(frame), DMAMAP_TO_DEVICE); int ml = __LINE__;
	assert_int_equal(dmamap_mapping_error(d.dev, a), -ENOMEM);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_STACK_OR_INVALID, "nic");
	at_line(&r, ml);
	/* On the thread's stack, or (ASan's fake stack) outside RAM. */
	assert_true(strstr(r.msg, "stack") || strstr(r.msg, "not in RAM"));
	/* A physical range that is not RAM: the 3..4 GiB hole. */
	dmamap_debug_clear(e.ctx);
	a = ok(&d, dmamap_map_phys(d.dev, 3 * TU_GIB + 4096, 4096, DMAMAP_TO_DEVICE, 0));
	r = one(&e, DMAMAP_DEBUG_STACK_OR_INVALID, "nic");
	at_pc(&r);
	assert_non_null(strstr(r.msg, "not RAM"));
	dmamap_unmap_phys(d.dev, a, 4096, DMAMAP_TO_DEVICE, 0);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

/* ---- syncs ---------------------------------------------------------------------------- */

static void test_sync_not_mapped(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 1, &phys);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 1024, DMAMAP_FROM_DEVICE));
	dmamap_sync_single_for_cpu(d.dev, a + 512, 512, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	no_reports(&e);
	dmamap_sync_single_for_cpu(d.dev, phys + 2048, 64, DMAMAP_FROM_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SYNC_NOT_MAPPED, "nic");
	at_pc(&r);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_sync_out_of_range(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE));
	dmamap_sync_single_range_for_cpu(d.dev, a, 128, 128, DMAMAP_FROM_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE)); int ml = __LINE__;
	dmamap_sync_single_for_cpu(d.dev, a, 512, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SYNC_OUT_OF_RANGE, "nic");
	at_line(&r, ml);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_sync_dir_mismatch(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE));
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	/* A bidirectional mapping accepts any direction. */
	a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_BIDIRECTIONAL));
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_TO_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_BIDIRECTIONAL);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE)); int ml = __LINE__;
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SYNC_DIR_MISMATCH, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "with TO_DEVICE; expected FROM_DEVICE"));
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_sync_cpu_on_to_device(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", false);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_TO_DEVICE));
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_TO_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_TO_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SYNC_CPU_ON_TO_DEVICE, "nic");
	at_line(&r, ml);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_SYNC_DIR_MISMATCH), 0);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_sync_device_on_from_device(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", false);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE));
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	no_reports(&e);
	a = ok(&d, dmamap_map_single(d.dev, b, 256, DMAMAP_FROM_DEVICE)); int ml = __LINE__;
	dmamap_sync_single_for_cpu(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	dmamap_sync_single_for_device(d.dev, a, 256, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, a, 256, DMAMAP_FROM_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SYNC_DEVICE_ON_FROM_DEVICE, "nic");
	at_line(&r, ml);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

/* ---- scatterlists ------------------------------------------------------------------------ */

static void test_sg_segment_too_long(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "blk", true);
	assert_int_equal(dmamap_set_max_seg_size(d.dev, 4096), 0);
	uint8_t *b = tu_alloc_high(&e, 2, NULL);
	struct dmamap_sg sg[2];
	dmamap_sg_init_table(sg, 2);
	dmamap_sg_set_buf(&sg[0], b, 4096);
	dmamap_sg_set_buf(&sg[1], b + 4096, 4096);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 2, DMAMAP_TO_DEVICE), 2);
	dmamap_unmap_sg(d.dev, sg, 2, DMAMAP_TO_DEVICE);
	no_reports(&e);
	dmamap_sg_init_one(sg, b, 8192);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE), 1); int ml = __LINE__;
	dmamap_unmap_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SG_SEGMENT_TOO_LONG, "blk");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "expected at most 4096 bytes"));
	tu_free(&e, b, 2);
	env_fini(&e, &d);
}

static void test_sg_crosses_boundary(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "blk", true);
	assert_int_equal(dmamap_set_seg_boundary(d.dev, 0xffff), 0);
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 32, &phys);
	/* A 64 KiB edge with at least a page on either side. */
	uint8_t *edge = b + ((((phys >> 16) + 1) << 16) - phys);
	struct dmamap_sg sg[1];
	dmamap_sg_init_one(sg, edge, 4096);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE), 1);
	dmamap_unmap_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE);
	no_reports(&e);
	dmamap_sg_init_one(sg, edge - 2048, 4096);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE), 1); int ml = __LINE__;
	dmamap_unmap_sg(d.dev, sg, 1, DMAMAP_TO_DEVICE);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_SG_CROSSES_BOUNDARY, "blk");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "mask 0xffff"));
	tu_free(&e, b, 32);
	env_fini(&e, &d);
}

/* ---- overlap, leaks, pools ----------------------------------------------------------------- */

static void test_overlap_cacheline(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", false);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	/* Right: each written mapping in lines of its own; readers may share. */
	dmamap_dma_addr_t a0 = ok(&d, dmamap_map_single(d.dev, b, 64, DMAMAP_FROM_DEVICE));
	dmamap_dma_addr_t a1 = ok(&d, dmamap_map_single(d.dev, b + 64, 64, DMAMAP_FROM_DEVICE));
	dmamap_dma_addr_t t0 = ok(&d, dmamap_map_single(d.dev, b + 256, 32, DMAMAP_TO_DEVICE));
	dmamap_dma_addr_t t1 = ok(&d, dmamap_map_single(d.dev, b + 288, 32, DMAMAP_TO_DEVICE));
	dmamap_dma_addr_t s1 = ok(&d, dmamap_map_single_attrs(d.dev, b + 32, 32, DMAMAP_FROM_DEVICE,
							      DMAMAP_ATTR_SKIP_CPU_SYNC));
	dmamap_unmap_single_attrs(d.dev, s1, 32, DMAMAP_FROM_DEVICE, DMAMAP_ATTR_SKIP_CPU_SYNC);
	dmamap_unmap_single(d.dev, t1, 32, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, t0, 32, DMAMAP_TO_DEVICE);
	dmamap_unmap_single(d.dev, a1, 64, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a0, 64, DMAMAP_FROM_DEVICE);
	no_reports(&e);
	/* Wrong: two receive buffers in one cache line. */
	a0 = ok(&d, dmamap_map_single(d.dev, b, 32, DMAMAP_FROM_DEVICE)); int ml0 = __LINE__;
	a1 = ok(&d, dmamap_map_single(d.dev, b + 32, 32, DMAMAP_BIDIRECTIONAL)); int ml1 = __LINE__;
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_OVERLAP_CACHELINE, "nic");
	at_line(&r, ml1);
	char other[64];
	snprintf(other, sizeof(other), "test_debug.c:%d", ml0);
	assert_non_null(strstr(r.msg, other));
	dmamap_unmap_single(d.dev, a1, 32, DMAMAP_BIDIRECTIONAL);
	dmamap_unmap_single(d.dev, a0, 32, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_leak_at_remove(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 128, DMAMAP_TO_DEVICE));
	dmamap_unmap_single(d.dev, a, 128, DMAMAP_TO_DEVICE);
	tu_dev_remove(&d);
	no_reports(&e);
	tu_dev_add(&e, &d, "nic2", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_set_mask_and_coherent(d.dev, DMAMAP_BIT_MASK(64)), 0);
	a = ok(&d, dmamap_map_single(d.dev, b, 128, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	(void)a;
	uint64_t leaked = 0;
	assert_int_equal(dmamap_device_remove(d.dev, &leaked), 0);
	d.dev = NULL;
	assert_int_equal(leaked, 1);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_LEAK_AT_REMOVE, "nic2");
	at_line(&r, ml);
	tu_free(&e, b, 1);
	env_fini(&e, NULL);
}

static void test_pool_destroy_busy(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	struct dmamap_pool *pool = dmamap_pool_create("desc", d.dev, 64, 64, 0);
	assert_non_null(pool);
	dmamap_dma_addr_t h;
	void *blk = dmamap_pool_alloc(pool, &h);
	assert_non_null(blk);
	assert_int_equal(dmamap_pool_free(pool, blk, h), 0);
	assert_int_equal(dmamap_pool_destroy(pool), 0);
	no_reports(&e);
	pool = dmamap_pool_create("desc", d.dev, 64, 64, 0);
	blk = dmamap_pool_alloc(pool, &h);
	assert_int_equal(dmamap_pool_destroy(pool), -EBUSY);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_POOL_DESTROY_BUSY, "nic");
	at_pc(&r); /* where the pool was created */
	assert_non_null(strstr(r.msg, "pool 'desc' with 1 busy blocks"));
	assert_int_equal(dmamap_pool_free(pool, blk, h), 0);
	assert_int_equal(dmamap_pool_destroy(pool), 0);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	env_fini(&e, &d);
}

/* ---- what the simulator sees ------------------------------------------------------------- */

static void test_cpu_read_before_sync(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", false); /* non-coherent: the cache model matters */
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	uint8_t pkt[1024];
	tu_fill(pkt, sizeof(pkt), 7);
	memset(b, 0, 4096);
	/* Right: the device writes, the driver syncs, then reads. */
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 1024, DMAMAP_FROM_DEVICE));
	assert_int_equal(sim_dma_write(d.sd, a, pkt, sizeof(pkt)), 0);
	dmamap_sync_single_for_cpu(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 0);
	assert_int_equal(tu_check(b, 1024, 7), -1);
	dmamap_sync_single_for_device(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 0);
	no_reports(&e);

	/* Wrong: the read comes before the sync (both facts say so). */
	memset(b, 0, 4096);
	a = ok(&d, dmamap_map_single(d.dev, b, 1024, DMAMAP_FROM_DEVICE)); int ml = __LINE__;
	assert_int_equal(sim_dma_write(d.sd, a, pkt, sizeof(pkt)), 0);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b + 100, 200), 1);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "owned by the device"));
	assert_non_null(strstr(r.msg, "4 cache lines"));
	assert_int_equal(b[100], 0); /* the stale byte it would have read */
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_FROM_DEVICE);

	/*
	 * Wrong, and only the hardware knows: a bidirectional mapping (any
	 * sync direction is legal) synced for the CPU with TO_DEVICE, which
	 * invalidates nothing.  The driver owns it; the lines are stale.
	 */
	dmamap_debug_clear(e.ctx);
	memset(b, 0, 4096);
	a = ok(&d, dmamap_map_single(d.dev, b, 1024, DMAMAP_BIDIRECTIONAL)); ml = __LINE__;
	assert_int_equal(sim_dma_write(d.sd, a, pkt, sizeof(pkt)), 0);
	dmamap_sync_single_for_cpu(d.dev, a, 1024, DMAMAP_TO_DEVICE);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 1);
	r = one(&e, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC, "nic");
	at_line(&r, ml);
	assert_null(strstr(r.msg, "owned by the device"));
	assert_non_null(strstr(r.msg, "16 cache lines"));
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_BIDIRECTIONAL);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 0);
	assert_int_equal(tu_check(b, 1024, 7), -1);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	tu_free(&e, b, 1);
	env_fini(&e, &d);

	/* Wrong on coherent hardware too (the data happens to be right). */
	env_on(&e, &d, "nic", true);
	b = tu_alloc_high(&e, 1, NULL);
	a = ok(&d, dmamap_map_single(d.dev, b, 1024, DMAMAP_FROM_DEVICE)); ml = __LINE__;
	assert_int_equal(sim_dma_write(d.sd, a, pkt, sizeof(pkt)), 0);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 1);
	r = one(&e, DMAMAP_DEBUG_CPU_READ_BEFORE_SYNC, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "owned by the device"));
	assert_null(strstr(r.msg, "cache line"));
	dmamap_sync_single_for_cpu(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1024), 0);
	dmamap_unmap_single(d.dev, a, 1024, DMAMAP_FROM_DEVICE);
	assert_int_equal(dmamap_debug_count(e.ctx, DMAMAP_DEBUG_ANY), 1);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_device_access_after_unmap(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", true);
	uint64_t phys;
	uint8_t *b = tu_alloc_high(&e, 1, &phys);
	uint8_t got[512];
	/* Right: a descriptor ring and a buffer, touched only while live. */
	dmamap_dma_addr_t ring_h;
	uint8_t *ring = dmamap_alloc_coherent(d.dev, 4096, &ring_h);
	assert_non_null(ring);
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 512, DMAMAP_TO_DEVICE));
	assert_int_equal(sim_dma_read(d.sd, ring_h + 64, got, 64), 0);
	assert_int_equal(sim_dma_read(d.sd, a, got, 512), 0);
	assert_int_equal(sim_dma_write(d.sd, ring_h, got, 16), 0);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	dmamap_free_coherent(d.dev, 4096, ring, ring_h);
	no_reports(&e);

	/* Wrong: the device reads the buffer after the driver unmapped it. */
	a = ok(&d, dmamap_map_single(d.dev, b, 512, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	assert_int_equal(sim_dma_read(d.sd, a, got, 512), 0);
	dmamap_unmap_single(d.dev, a, 512, DMAMAP_TO_DEVICE);
	assert_int_equal(sim_dma_read(d.sd, a + 128, got, 64), 0); /* hardware lets it */
	assert_int_equal(sim_dma_read(d.sd, a + 256, got, 64), 0); /* one report per mapping */
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, "nic");
	at_line(&r, ml);
	assert_non_null(strstr(r.msg, "read 64 bytes"));

	/* Wrong: an address the device was never given. */
	dmamap_debug_clear(e.ctx);
	assert_int_equal(sim_dma_write(d.sd, phys + 2048, got, 8), 0);
	assert_int_equal(dmamap_debug_poll(e.ctx), 1);
	r = one(&e, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, "nic");
	assert_string_equal(r.origin, "unknown");
	assert_non_null(strstr(r.msg, "never mapped"));
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

/* ---- no false reports through bouncing and an IOMMU ---------------------------------------- */

static void test_clean_bounce(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "dma_debug=on" });
	tu_dev_add(&e, &d, "old-nic", 32, false, DMAMAP_BUS_PCI); /* 32-bit: high memory bounces */
	uint8_t *b = tu_alloc_high(&e, 1, NULL);
	uint8_t pkt[1514];
	tu_fill(pkt, sizeof(pkt), 9);
	for (int round = 0; round < 3; round++) {
		dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, b, 1514, DMAMAP_FROM_DEVICE));
		tu_assert_lt(a, 4 * TU_GIB);
		assert_int_equal(sim_dma_write(d.sd, a, pkt, sizeof(pkt)), 0);
		dmamap_sync_single_for_cpu(d.dev, a, 1514, DMAMAP_FROM_DEVICE);
		assert_int_equal(dmamap_debug_cpu_access(d.dev, b, 1514), 0);
		assert_int_equal(tu_check(b, 1514, 9), -1);
		dmamap_unmap_single(d.dev, a, 1514, DMAMAP_FROM_DEVICE);
	}
	struct dmamap_sg sg[3];
	uint8_t *pg[3];
	sg_pages(&e, sg, pg, 3);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 3, DMAMAP_BIDIRECTIONAL), 3);
	dmamap_sync_sg_for_cpu(d.dev, sg, 3, DMAMAP_BIDIRECTIONAL);
	dmamap_sync_sg_for_device(d.dev, sg, 3, DMAMAP_BIDIRECTIONAL);
	dmamap_unmap_sg(d.dev, sg, 3, DMAMAP_BIDIRECTIONAL);
	no_reports(&e);
	for (int i = 0; i < 3; i++)
		tu_free(&e, pg[i], 2);
	tu_free(&e, b, 1);
	env_fini(&e, &d);
}

static void test_clean_iommu(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	tu_env_init(&e, &(struct tu_opts){ .bootargs = "dma_debug=on iommu.strict=0" });
	int iommu, dom;
	assert_int_equal(sim_iommu_create(e.m, &(struct sim_iommu_desc){ .name = "smmu0" },
					  &iommu), 0);
	assert_int_equal(sim_iommu_domain_create(e.m, iommu, SIM_IOMMU_DOMAIN_TRANSLATED, &dom), 0);
	struct sim_device_desc sd = { .name = "blk", .bus = DMAMAP_BUS_PCI, .addr_bits = 64,
				      .coherent = true };
	assert_int_equal(sim_device_create(e.m, &sd, &d.sd), 0);
	assert_int_equal(sim_iommu_attach(d.sd, dom), 0);
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(d.sd, &dd);
	dd.iommu_id = iommu;
	dd.iommu_domain = dom;
	assert_int_equal(dmamap_device_add(e.ctx, &dd, &d.dev), 0);
	assert_int_equal(dmamap_set_mask_and_coherent(d.dev, DMAMAP_BIT_MASK(64)), 0);
	assert_string_equal(dmamap_device_ops_name(d.dev), "iommu");

	/* Eight separate pages become one bus segment; nents stays 8. */
	struct dmamap_sg sg[8];
	uint8_t *pg[8];
	sg_pages(&e, sg, pg, 8);
	assert_int_equal(dmamap_map_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE), 1);
	uint8_t got[4096];
	assert_int_equal(sim_dma_read(d.sd, sg[0].dma_address + 7 * 4096, got, 4096), 0);
	dmamap_sync_sg_for_cpu(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	dmamap_sync_sg_for_device(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	dmamap_unmap_sg(d.dev, sg, 8, DMAMAP_TO_DEVICE);
	dmamap_dma_addr_t ring_h;
	void *ring = dmamap_alloc_coherent(d.dev, 8192, &ring_h);
	assert_non_null(ring);
	assert_int_equal(sim_dma_write(d.sd, ring_h + 4096, got, 64), 0);
	dmamap_free_coherent(d.dev, 8192, ring, ring_h);
	no_reports(&e);

	/*
	 * Lazy invalidation: the IOTLB still translates the IOVA after the
	 * unmap, so the hardware lets the late read through; the checker
	 * does not.
	 */
	dmamap_dma_addr_t a = ok(&d, dmamap_map_single(d.dev, pg[0], 4096, DMAMAP_TO_DEVICE)); int ml = __LINE__;
	assert_int_equal(sim_dma_read(d.sd, a, got, 64), 0);
	dmamap_unmap_single(d.dev, a, 4096, DMAMAP_TO_DEVICE);
	(void)sim_dma_read(d.sd, a, got, 64);
	struct dmamap_debug_report r = one(&e, DMAMAP_DEBUG_DEVICE_ACCESS_AFTER_UNMAP, "blk");
	at_line(&r, ml);
	for (int i = 0; i < 8; i++)
		tu_free(&e, pg[i], 2);
	uint64_t leaked = 1;
	assert_int_equal(dmamap_device_remove(d.dev, &leaked), 0);
	assert_int_equal(leaked, 0);
	sim_iommu_detach(d.sd);
	assert_int_equal(sim_iommu_domain_destroy(e.m, dom), 0);
	tu_env_fini(&e);
}

/* ---- threads ------------------------------------------------------------------------------- */

struct thr {
	struct tu_dev *d;
	uint8_t *buf;
	unsigned int cpu;
};

static void *thr_run(void *arg)
{
	struct thr *t = arg;
	dmamap_set_cpu(t->cpu);
	for (int i = 0; i < 2000; i++) {
		size_t len = 64 + (size_t)(i % 7) * 64;
		dmamap_dma_addr_t a = dmamap_map_single(t->d->dev, t->buf, len, DMAMAP_FROM_DEVICE);
		if (dmamap_mapping_error(t->d->dev, a))
			return (void *)1;
		(void)sim_dma_write(t->d->sd, a, t->buf + 2048, 64);
		dmamap_sync_single_for_cpu(t->d->dev, a, len, DMAMAP_FROM_DEVICE);
		if (dmamap_debug_cpu_access(t->d->dev, t->buf, len))
			return (void *)1;
		dmamap_unmap_single(t->d->dev, a, len, DMAMAP_FROM_DEVICE);
	}
	return NULL;
}

/* Correct drivers on four threads at once: the record stays exact. */
static void test_threads(void **state)
{
	(void)state;
	struct tu_env e;
	struct tu_dev d;
	env_on(&e, &d, "nic", false);
	pthread_t th[4];
	struct thr t[4];
	for (unsigned int i = 0; i < 4; i++) {
		t[i] = (struct thr){ .d = &d, .buf = tu_alloc_high(&e, 1, NULL), .cpu = i };
		assert_int_equal(pthread_create(&th[i], NULL, thr_run, &t[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		void *rc;
		assert_int_equal(pthread_join(th[i], &rc), 0);
		assert_null(rc);
		tu_free(&e, t[i].buf, 1);
	}
	no_reports(&e);
	env_fini(&e, &d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_off_by_default),
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_callback_and_clear),
		cmocka_unit_test(test_unmap_not_mapped),
		cmocka_unit_test(test_size_mismatch),
		cmocka_unit_test(test_dir_mismatch),
		cmocka_unit_test(test_kind_mismatch),
		cmocka_unit_test(test_sg_count_mismatch),
		cmocka_unit_test(test_cpu_addr_mismatch),
		cmocka_unit_test(test_error_not_checked),
		cmocka_unit_test(test_stack_or_invalid),
		cmocka_unit_test(test_sync_not_mapped),
		cmocka_unit_test(test_sync_out_of_range),
		cmocka_unit_test(test_sync_dir_mismatch),
		cmocka_unit_test(test_sync_cpu_on_to_device),
		cmocka_unit_test(test_sync_device_on_from_device),
		cmocka_unit_test(test_sg_segment_too_long),
		cmocka_unit_test(test_sg_crosses_boundary),
		cmocka_unit_test(test_overlap_cacheline),
		cmocka_unit_test(test_leak_at_remove),
		cmocka_unit_test(test_pool_destroy_busy),
		cmocka_unit_test(test_cpu_read_before_sync),
		cmocka_unit_test(test_device_access_after_unmap),
		cmocka_unit_test(test_clean_bounce),
		cmocka_unit_test(test_clean_iommu),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
