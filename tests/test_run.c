/*
 * tests/test_run.c - running scenarios (tools/run.c, tools/workloads.c):
 * exact counters, verdicts, determinism, hot-plug, device trees, and every
 * kind of input the runner must refuse with one line naming where.
 *
 * Owns: proofs at the scenario level.  Scenarios are written inline (as
 * text) unless the point is a file on disk; each test asserts the numbers
 * a driver writer would predict from Linux's rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "scenario.h"

#ifndef RUN_SRC_DIR
#error "RUN_SRC_DIR must name the source tree"
#endif

static struct scn *parse(const char *label, const char *text)
{
	struct scn *s = NULL;
	char err[1024];
	int rc = scn_load_string(label, text, &s, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	return s;
}

/* Runs text; the scenario must run (rc 0); returns the report. */
static void run_text(const char *text, uint64_t seed, struct rpt_report *r)
{
	struct scn *s = parse("t.yaml", text);
	char err[1024] = "";
	struct run_opts o = { .seed = seed };
	int rc = run_scenario(s, "t.yaml", &o, r, err, sizeof(err));
	if (rc)
		print_error("run: %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	scn_free(s);
}

/* Runs text expecting a refusal with exactly this errno and message. */
static void run_refused(const char *label, const char *text, int want_rc, const char *want)
{
	struct scn *s = parse(label, text);
	struct rpt_report r;
	char err[1024] = "";
	struct run_opts o = { .seed = 1 };
	int rc = run_scenario(s, label, &o, &r, err, sizeof(err));
	if (rc != want_rc || strcmp(err, want))
		print_error("rc %d err '%s'\nwant %d '%s'\n", rc, err, want_rc, want);
	assert_int_equal(rc, want_rc);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
	scn_free(s);
}

static const struct rpt_device *dev(const struct rpt_report *r, const char *name)
{
	for (unsigned int i = 0; i < r->ndevices; i++)
		if (!strcmp(r->devices[i].name, name))
			return &r->devices[i];
	fail_msg("no device %s in the report", name);
	return NULL;
}

#define EIGHT_GIB_RAM                                   \
	"platform:\n"                                   \
	"  ram:\n"                                      \
	"    - {base: 0x0, size: 2G}\n"                 \
	"    - {base: 0x100000000, size: 6G}\n"

/* Seed 000's bare-metal half: the 44-bit GPU never bounces, the 32-bit
 * NIC bounces exactly its buffers above 4 GiB, every byte arrives. */
static void test_gpu_nic_exact(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: gpu-nic\n" EIGHT_GIB_RAM
		 "  devices:\n"
		 "    - {name: gpu, dma_bits: 44}\n"
		 "    - {name: nic, dma_bits: 32, coherent: false}\n"
		 "workloads:\n"
		 "  - {device: nic, kind: nic, count: 300, size: 1514, buffers: high}\n"
		 "  - {device: nic, kind: nic, count: 200, size: 1514, buffers: low}\n"
		 "  - {device: gpu, kind: gpu, count: 2, size: 1M}\n",
		 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.nproblems, 0);
	const struct rpt_device *nic = dev(&r, "nic"), *gpu = dev(&r, "gpu");
	assert_string_equal(nic->ops, "direct");
	assert_int_equal(nic->dma_mask_bits, 32);
	assert_int_equal(nic->maps, 500);
	assert_int_equal(nic->map_failures, 0);
	assert_int_equal(nic->bounced_maps, 300);
	assert_int_equal(nic->bounced_bytes, 300 * 1514);
	assert_int_equal(nic->bytes_mapped, 500 * 1514);
	assert_int_equal(nic->integrity_errors, 0);
	/* Every other packet is a receive, synced before the CPU reads it. */
	assert_int_equal(nic->syncs, 250);
	assert_int_equal(nic->coherent_allocs, 2);
	assert_int_equal(nic->leaked, 0);
	assert_string_equal(gpu->ops, "direct");
	assert_int_equal(gpu->bounced_bytes, 0);
	assert_int_equal(gpu->zero_copy_pages, 256);
	assert_int_equal(gpu->bounce_pages, 0);
	/* The probe pass maps each page once; then 2 passes of 256 entries. */
	assert_int_equal(gpu->maps, 256 + 2 * 256);
	assert_int_equal(gpu->integrity_errors, 0);
	/* The NIC reaches [0, 4 GiB); the GPU's 44 bits reach all of RAM. */
	assert_int_equal(nic->nwindows, 1);
	assert_int_equal(nic->windows[0].first, 0);
	assert_int_equal(nic->windows[0].last, 0xffffffffULL);
	assert_int_equal(gpu->nwindows, 1);
	assert_int_equal(gpu->windows[0].last, (1ULL << 44) - 1);
	assert_true(r.swiotlb.enabled);
	assert_int_equal(r.swiotlb.boot_total_bytes, 64ULL << 20);
	assert_int_equal(r.swiotlb.bounced_bytes, 300 * 1514);
	assert_int_equal(r.swiotlb.full_failures, 0);
	assert_int_equal(r.npools, 1);
	assert_int_equal(r.nram, 2);
	rpt_free(&r);
}

/* swiotlb=noforce: no pool; low buffers map, high ones fail cleanly. */
static void test_noforce(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: noforce\n" EIGHT_GIB_RAM
		 "  devices: [{name: nic, dma_bits: 32}]\n"
		 "bootargs: swiotlb=noforce\n"
		 "workloads:\n"
		 "  - {device: nic, kind: nic, count: 40, buffers: low}\n"
		 "  - {device: nic, kind: nic, count: 60, buffers: high}\n"
		 "expect:\n"
		 "  - {device: nic, maps: 40, map_failures: 60}\n"
		 "  - {swiotlb_enabled: 0, map_failures: 60}\n",
		 1, &r);
	assert_true(r.pass);
	assert_false(r.swiotlb.enabled);
	assert_int_equal(r.npools, 0);
	assert_int_equal(dev(&r, "nic")->bounced_bytes, 0);
	assert_int_equal(dev(&r, "nic")->integrity_errors, 0);
	rpt_free(&r);
}

/* An expect that does not hold fails the verdict with the line and values. */
static void test_expect_fails(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: wrong\n" EIGHT_GIB_RAM
		 "  devices: [{name: nic, dma_bits: 32}]\n"
		 "workloads:\n"
		 "  - {device: nic, kind: nic, count: 10, size: 100, buffers: high}\n"
		 "expect:\n"
		 "  - {device: nic, bounced_bytes: 0}\n"
		 "  - {device: nic, maps: \">=10\"}\n",
		 1, &r);
	assert_false(r.pass);
	assert_int_equal(r.nproblems, 1);
	assert_string_equal(r.problems[0], "t.yaml:10: expected nic bounced_bytes == 0, got 1000");
	rpt_free(&r);
}

/* The same file and seed give the same JSON, byte for byte. */
static void test_deterministic(void **state)
{
	(void)state;
	const char *text = "name: det\n" EIGHT_GIB_RAM
			   "  devices: [{name: hba, dma_bits: 32}, {name: gpu, dma_bits: 36}]\n"
			   "workloads:\n"
			   "  - {device: hba, kind: blk, count: 20, size: 64K}\n"
			   "  - {device: gpu, kind: gpu, count: 1, size: 256K}\n"
			   "  - {device: hba, kind: nic, count: 50}\n";
	char *out[2];
	size_t len[2];
	for (int i = 0; i < 2; i++) {
		struct rpt_report r;
		run_text(text, 42, &r);
		FILE *f = open_memstream(&out[i], &len[i]);
		assert_non_null(f);
		assert_int_equal(rpt_print_json(&r, f), 0);
		fclose(f);
		rpt_free(&r);
	}
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(out[0], out[1], len[0]);
	assert_non_null(strstr(out[0], "\"verdict\": \"pass\""));
	assert_non_null(strstr(out[0], "\"ops\": \"direct\""));
	free(out[0]);
	free(out[1]);
}

/* A hot-plugged device appears before its workload and works. */
static void test_hotplug(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: hot\n" EIGHT_GIB_RAM
		 "  devices:\n"
		 "    - {name: nic, dma_bits: 64}\n"
		 "    - {name: hba, dma_bits: 32, hotplug: true}\n"
		 "    - {name: late, dma_bits: 32, hotplug: true}\n"
		 "workloads:\n"
		 "  - {device: nic, kind: nic, count: 10}\n"
		 "  - {device: hba, kind: blk, count: 4, size: 32K, buffers: high, dir: to}\n",
		 1, &r);
	assert_true(r.pass);
	const struct rpt_device *hba = dev(&r, "hba"), *late = dev(&r, "late");
	assert_true(hba->hotplug);
	assert_string_equal(hba->ops, "direct");
	assert_int_equal(hba->maps, 4 * 8);
	assert_int_equal(hba->bounced_maps, 4 * 8);
	assert_int_equal(hba->integrity_errors, 0);
	/* A hot-plugged device with no workload still appears (afterwards). */
	assert_string_equal(late->ops, "direct");
	assert_int_equal(late->maps, 0);
	rpt_free(&r);
}

/* blk: segments within max_segment_size and the boundary, both directions. */
static void test_blk_rules(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: blk\n" EIGHT_GIB_RAM
		 "  devices: [{name: hba, dma_bits: 32, coherent: false}]\n"
		 "workloads:\n"
		 "  - {device: hba, kind: blk, count: 10, size: 128K, max_segment_size: 16K,"
		 " boundary: 0x7fff, segments: 8, buffers: high}\n",
		 1, &r);
	assert_true(r.pass);
	const struct rpt_device *hba = dev(&r, "hba");
	assert_int_equal(hba->maps, 10 * 8);
	assert_int_equal(hba->bounced_bytes, 10 * (128 << 10));
	assert_int_equal(hba->syncs, 5);
	assert_int_equal(hba->integrity_errors, 0);
	rpt_free(&r);
}

/* An inline restricted pool: every mapping bounces through it. */
static void test_restricted_inline(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: rpool\n" EIGHT_GIB_RAM
		 "  devices: [{name: wifi, dma_bits: 32, restricted_pool: 1M}]\n"
		 "workloads:\n"
		 "  - {device: wifi, kind: nic, count: 100, size: 1000, buffers: low}\n",
		 1, &r);
	assert_true(r.pass);
	const struct rpt_device *w = dev(&r, "wifi");
	assert_string_equal(w->ops, "swiotlb");
	assert_int_equal(w->maps, 100);
	assert_int_equal(w->bounced_maps, 100);
	assert_int_equal(w->integrity_errors, 0);
	/* The default pool was untouched; the restricted one is drawn too. */
	assert_int_equal(r.swiotlb.bounced_bytes, 0);
	assert_int_equal(r.npools, 2);
	assert_int_equal(r.pools[1].last - r.pools[1].first + 1, 1 << 20);
	rpt_free(&r);
}

/* Without an IOMMU the adversarial device reaches all it probes. */
static void test_adversarial_reach(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: adv\n" EIGHT_GIB_RAM
		 "  devices: [{name: evil, dma_bits: 64}]\n"
		 "workloads:\n"
		 "  - {device: evil, kind: adversarial, count: 5, size: 256}\n",
		 1, &r);
	assert_true(r.pass);
	/* Per round: the page around the grant (4096 - 256), 256 far, a
	 * 64-byte write past the end, and 256 after unmap. */
	assert_int_equal(dev(&r, "evil")->outside_reached, 5 * (4096 - 256 + 256 + 64 + 256));
	assert_int_equal(dev(&r, "evil")->faults, 0);
	rpt_free(&r);
}

/* A device tree on disk: windows composed, restricted pool from the tree. */
static void test_tree_scenario(void **state)
{
	(void)state;
	struct scn *s = NULL;
	char err[1024] = "";
	assert_int_equal(scn_load(RUN_SRC_DIR "/examples/soc-wifi.yaml", &s, err, sizeof(err)), 0);
	struct rpt_report r;
	struct run_opts o = { .seed = 1 };
	int rc = run_scenario(s, "soc-wifi.yaml", &o, &r, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_true(r.pass);
	const struct rpt_device *w = dev(&r, "/soc/wifi@10000000");
	const struct rpt_device *mmc = dev(&r, "/soc/mmc@11000000");
	assert_string_equal(w->ops, "swiotlb");
	assert_int_equal(w->bounced_maps, w->maps);
	assert_false(mmc->coherent);
	assert_int_equal(mmc->nwindows, 1);
	assert_int_equal(mmc->windows[0].first, 0x80000000ULL);
	assert_int_equal(mmc->windows[0].last, 0xbfffffffULL);
	assert_non_null(strstr(mmc->reason, "windows cover only part of RAM"));
	/* The tree's bootargs sized the default pool: swiotlb=16384 slots. */
	assert_int_equal(r.swiotlb.total_bytes, 16384ULL * 2048);
	assert_int_equal(r.pools[1].first, 0x90000000ULL);
	rpt_free(&r);
	scn_free(s);
}

/* The real ZCU102 tree: a 32-bit setting bounces high buffers, 44 does not. */
static void test_real_board(void **state)
{
	(void)state;
	const char *fmt = "name: zcu102\n"
			  "platform:\n"
			  "  dt: zynqmp-zcu102-rev1.0.dts\n"
			  "  devices: [{name: /axi/ethernet@ff0e0000, dma_bits: %d}]\n"
			  "workloads:\n"
			  "  - {device: /axi/ethernet@ff0e0000, kind: nic, count: 100, buffers: high}\n";
	for (int bits = 32; bits <= 44; bits += 12) {
		char text[512];
		snprintf(text, sizeof(text), fmt, bits);
		/* The label puts the file beside the shared trees, so dt resolves there. */
		struct scn *s = parse(RUN_SHARED_DTS "/zcu102.yaml", text);
		struct rpt_report r;
		char err[1024] = "";
		struct run_opts o = { .seed = 1 };
		int rc = run_scenario(s, "zcu102.yaml", &o, &r, err, sizeof(err));
		if (rc)
			print_error("%s\n", err);
		assert_int_equal(rc, 0);
		const struct rpt_device *eth = dev(&r, "/axi/ethernet@ff0e0000");
		assert_true(r.pass);
		assert_false(eth->coherent);
		assert_int_equal(eth->maps, 100);
		assert_int_equal(eth->bounced_maps, bits == 32 ? 100 : 0);
		assert_int_equal(eth->integrity_errors, 0);
		rpt_free(&r);
		scn_free(s);
	}
}

/* ---- refusals: exit-2 input, one line naming where --------------------- */

static void test_refuse_unknown_node(void **state)
{
	(void)state;
	run_refused(RUN_SRC_DIR "/examples/x.yaml",
		    "name: x\nplatform:\n  dt: boards/soc-wifi.dts\n"
		    "workloads:\n  - {device: /soc/nope@0, kind: nic}\n",
		    -EINVAL,
		    RUN_SRC_DIR "/examples/x.yaml:5: device '/soc/nope@0' is not a DMA master in "
		    RUN_SRC_DIR "/examples/boards/soc-wifi.dts (`dmamap explain "
		    RUN_SRC_DIR "/examples/boards/soc-wifi.dts` lists them)");
}

static void test_refuse_unknown_counter(void **state)
{
	(void)state;
	struct scn *s = parse("c.yaml", "name: c\n" EIGHT_GIB_RAM
			      "  devices: [{name: nic, dma_bits: 32}]\n"
			      "expect:\n  - {device: nic, bouncd_bytes: 0}\n");
	struct rpt_report r;
	char err[1024];
	struct run_opts o = { .seed = 1 };
	assert_int_equal(run_scenario(s, "c.yaml", &o, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "c.yaml:8: unknown device counter 'bouncd_bytes' (known: maps, "));
	scn_free(s);
}

static void test_refuse_not_yet(void **state)
{
	(void)state;
	run_refused("t.yaml", "name: x\n" EIGHT_GIB_RAM
		    "hypervisor: {arch: x86, domain: dom0, mode: pvh}\n",
		    -ENOTSUP, "t.yaml:6: hypervisor: the Xen model is not supported yet (issue 5)");
	run_refused("t.yaml", "name: x\n" EIGHT_GIB_RAM
		    "  devices: [{name: n, dma_bits: 32}]\n"
		    "workloads:\n  - {device: n, kind: xen-backend}\n",
		    -ENOTSUP,
		    "t.yaml:8: kind: xen-backend workloads are not supported yet (they need the Xen model, issue 5)");
}

/*
 * Behind an IOMMU the adversarial device reaches only the page it was
 * given (and, strict, nothing after unmap); marked untrusted, the rest of
 * that page is zeroes, not the CPU's data.
 */
static void test_iommu_adversarial(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: iommu-adv\n" EIGHT_GIB_RAM
		 "  iommus: [{name: smmu0, page_sizes: [4K, 2M]}]\n"
		 "  devices:\n"
		 "    - {name: evil, dma_bits: 64, iommu: smmu0}\n"
		 "    - {name: ext, dma_bits: 64, iommu: smmu0, untrusted: true}\n"
		 "    - {name: bare, dma_bits: 64}\n"
		 "bootargs: iommu.strict=1\n"
		 "workloads:\n"
		 "  - {device: evil, kind: adversarial, count: 4, size: 256}\n"
		 "  - {device: ext, kind: adversarial, count: 4, size: 256}\n"
		 "  - {device: bare, kind: adversarial, count: 4, size: 256}\n",
		 1, &r);
	assert_true(r.pass);
	const struct rpt_device *evil = dev(&r, "evil"), *ext = dev(&r, "ext");
	const struct rpt_device *bare = dev(&r, "bare");
	assert_true(evil->behind_iommu);
	assert_string_equal(evil->ops, "iommu");
	/* Per round: the page's other 3840 bytes and a 64-byte write past the
	 * grant succeed; 64 KiB away and after the (strict) unmap fault. */
	assert_int_equal(evil->outside_reached, 4 * (3840 + 64));
	assert_int_equal(evil->exposed_bytes, 4 * 3840);
	assert_int_equal(evil->faults, 4 * 2);
	assert_int_equal(ext->outside_reached, 4 * (3840 + 64));
	assert_int_equal(ext->exposed_bytes, 0);
	assert_int_equal(ext->bounced_maps, 4);
	assert_int_equal(ext->faults, 4 * 2);
	/* Without an IOMMU everything probed is reached, nothing faults. */
	assert_int_equal(bare->outside_reached, 4 * (3840 + 256 + 64 + 256));
	assert_int_equal(bare->exposed_bytes, 4 * 3840);
	assert_int_equal(bare->faults, 0);
	rpt_free(&r);
}

/* Seed 004's platform from examples/: every device on its window. */
static void test_powerpc_example(void **state)
{
	(void)state;
	struct scn *s = NULL;
	char err[1024] = "";
	assert_int_equal(scn_load(RUN_SRC_DIR "/examples/powerpc-hybrid.yaml", &s, err,
				  sizeof(err)), 0);
	struct rpt_report r;
	struct run_opts o = { .seed = 1 };
	assert_int_equal(run_scenario(s, "p.yaml", &o, &r, err, sizeof(err)), 0);
	assert_true(r.pass);
	const char *const bypass[] = { "nic64", "gpu40", "gpu44", "gpu47" };
	for (int i = 0; i < 4; i++) {
		const struct rpt_device *d = dev(&r, bypass[i]);
		assert_string_equal(d->ops, "iommu-bypass");
		assert_true(d->behind_iommu);
		assert_int_equal(d->bounced_bytes, 0);
		assert_int_equal(d->integrity_errors, 0);
	}
	assert_non_null(strstr(dev(&r, "nic64")->reason, "bypass window at 0x800000000000000"));
	assert_non_null(strstr(dev(&r, "gpu40")->reason, "compressed linear window"));
	assert_string_equal(dev(&r, "ctl32")->ops, "iommu");
	assert_int_equal(dev(&r, "ctl32")->faults, 0);
	rpt_free(&r);
	scn_free(s);
}

/* A 20-bit engine cannot reach ZONE_DMA (16 MiB): its mask is refused,
 * it is not widened, and the verdict says so. */
static void test_mask_refused(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: isa\n" EIGHT_GIB_RAM
		 "  devices: [{name: isa, dma_bits: 20}]\n",
		 1, &r);
	assert_false(r.pass);
	assert_int_equal(r.nproblems, 1);
	assert_string_equal(r.problems[0], "isa: the driver's 20-bit DMA mask was refused (EIO): "
			    "the device cannot work on this platform");
	assert_int_equal(dev(&r, "isa")->dma_mask_bits, 32); /* Linux's default, untouched */
	rpt_free(&r);
}

static void test_refuse_no_high_ram(void **state)
{
	(void)state;
	run_refused("t.yaml", "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n"
		    "  devices: [{name: n, dma_bits: 32}]\n"
		    "workloads:\n  - {device: n, kind: nic, buffers: high}\n",
		    -EINVAL,
		    "t.yaml:6: buffers: high, but the machine has no free RAM at or above 4 GiB");
}

static void test_refuse_ram(void **state)
{
	(void)state;
	run_refused("t.yaml", "name: x\nplatform:\n  ram: [{base: 0x10, size: 0x100}]\n",
		    -EINVAL, "t.yaml:3: ram: 0x10+0x100 holds no whole 4 KiB page");
	run_refused("t.yaml", "name: x\nplatform:\n  ram:\n"
		    "    - {base: 0, size: 2G}\n    - {base: 1G, size: 2G}\n",
		    -EINVAL, "t.yaml: ram: 0x0+0x80000000 overlaps 0x40000000+0x80000000");
}

/* explain: one line per device with ops, masks, windows and why. */
static void test_explain(void **state)
{
	(void)state;
	struct scn *s = parse("e.yaml", "name: e\n" EIGHT_GIB_RAM
			      "  devices:\n"
			      "    - {name: nic, dma_bits: 32, coherent: false}\n"
			      "    - {name: hba, dma_bits: 64, hotplug: true}\n");
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	char err[512];
	assert_int_equal(run_explain(s, "e.yaml", f, err, sizeof(err)), 0);
	fclose(f);
	assert_string_equal(buf,
		"scenario e\n"
		"swiotlb on: 64 MiB, 64 MiB below 4 GiB\n"
		"nic: direct, masks 32/32, non-coherent; reaches cpu 0x0-0xffffffff; mask "
		"0xffffffff is below RAM's top (required 0x3ffffffff): buffers beyond it bounce "
		"through swiotlb\n"
		"hba: direct, masks 64/64, coherent, hot-plugged; reaches all memory; 64-bit mask "
		"reaches all RAM (required mask 0x3ffffffff): nothing bounces\n");
	free(buf);
	scn_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpu_nic_exact),
		cmocka_unit_test(test_noforce),
		cmocka_unit_test(test_expect_fails),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_hotplug),
		cmocka_unit_test(test_blk_rules),
		cmocka_unit_test(test_restricted_inline),
		cmocka_unit_test(test_adversarial_reach),
		cmocka_unit_test(test_tree_scenario),
		cmocka_unit_test(test_real_board),
		cmocka_unit_test(test_refuse_unknown_node),
		cmocka_unit_test(test_refuse_unknown_counter),
		cmocka_unit_test(test_refuse_not_yet),
		cmocka_unit_test(test_mask_refused),
		cmocka_unit_test(test_refuse_no_high_ram),
		cmocka_unit_test(test_iommu_adversarial),
		cmocka_unit_test(test_powerpc_example),
		cmocka_unit_test(test_refuse_ram),
		cmocka_unit_test(test_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
