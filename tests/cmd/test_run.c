/*
 * tests/cmd/test_run.c - running scenarios (tools/run.c, tools/workloads.c):
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

/* Runs a file of the source tree (e.g. "examples/x.yaml"); it must run. */
static void run_file(const char *rel, uint64_t seed, struct rpt_report *r)
{
	char path[1024], err[1024] = "";
	snprintf(path, sizeof(path), "%s/%s", RUN_SRC_DIR, rel);
	struct scn *s = NULL;
	int rc = scn_load(path, &s, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	struct run_opts o = { .seed = seed };
	rc = run_scenario(s, rel, &o, r, err, sizeof(err));
	if (rc)
		print_error("run: %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	scn_free(s);
}

/* The JSON report of r (freed by the caller); r is freed. */
static char *json_of(struct rpt_report *r, size_t *len)
{
	char *out;
	FILE *f = open_memstream(&out, len);
	assert_non_null(f);
	assert_int_equal(rpt_print_json(r, f), 0);
	fclose(f);
	rpt_free(r);
	return out;
}

static void assert_same(char *const out[2], const size_t len[2])
{
	assert_int_equal(len[0], len[1]);
	assert_memory_equal(out[0], out[1], len[0]);
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
		out[i] = json_of(&r, &len[i]);
	}
	assert_same(out, len);
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
		struct scn *s = parse(RUN_BOARD_DTS "/zcu102.yaml", text);
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

/* ---- Xen (issue 5): the seeds' scenarios, exact counters ----------------- */

#define MIB (1ULL << 20)

static void assert_hv(const struct rpt_report *r, const char *mode, bool dom0, const char *p2m,
		      const char *features, const char *policy)
{
	assert_true(r->xen.has);
	assert_string_equal(r->xen.mode, mode);
	assert_int_equal(r->xen.dom0, dom0);
	assert_string_equal(r->xen.p2m, p2m);
	char f[128] = "";
	for (unsigned int i = 0; i < r->xen.nfeatures; i++)
		snprintf(f + strlen(f), sizeof(f) - strlen(f), "%s%s", i ? "+" : "",
			 r->xen.features[i]);
	assert_string_equal(f, features);
	assert_string_equal(r->xen.policy, policy);
}

/* Seed 000: PVH dom0: no swiotlb-xen; the GPU never bounces, the NIC
 * exactly its 2000 buffers above 4 GiB, through the ordinary swiotlb. */
static void test_xen_pvh_dom0(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-pvh-dom0.yaml", 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.nproblems, 0);
	assert_int_equal(r.nnotes, 0);
	assert_hv(&r, "pvh", true, "identity", "", "per-device");
	assert_int_equal(r.xen.domus, 0);
	const struct rpt_device *gpu = dev(&r, "gpu"), *nic = dev(&r, "nic");
	assert_string_equal(gpu->ops, "direct");
	assert_true(gpu->xen_iommu);
	assert_true(gpu->behind_iommu);
	assert_int_equal(gpu->bounced_bytes, 0);
	assert_int_equal(gpu->bounce_pages, 0);
	assert_int_equal(gpu->zero_copy_pages, 1024);
	assert_int_equal(gpu->integrity_errors, 0);
	assert_string_equal(nic->ops, "direct");
	assert_true(nic->xen_iommu);
	assert_int_equal(nic->maps, 4000);
	assert_int_equal(nic->map_failures, 0);
	assert_int_equal(nic->bounced_maps, 2000);
	assert_int_equal(nic->bounced_bytes, 2000 * 1514);
	assert_int_equal(nic->integrity_errors, 0);
	assert_int_equal(r.xen.swiotlb_xen, 0);
	assert_int_equal(r.xen.foreign_maps, 0);
	assert_int_equal(r.xen.dma_stray_bytes, 0);
	assert_true(r.swiotlb.enabled);
	assert_int_equal(r.swiotlb.bounced_bytes, 2000 * 1514);
	rpt_free(&r);
}

/* Seed 000: swiotlb=noforce: every NIC map above 4 GiB fails, nothing bounces. */
static void test_xen_pvh_dom0_noswiotlb(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-pvh-dom0-noswiotlb.yaml", 1, &r);
	assert_true(r.pass);
	const struct rpt_device *nic = dev(&r, "nic");
	assert_int_equal(nic->maps, 1000);
	assert_int_equal(nic->map_failures, 1000);
	assert_int_equal(nic->bounced_bytes, 0);
	assert_int_equal(nic->integrity_errors, 0);
	assert_int_equal(dev(&r, "gpu")->map_failures, 0);
	assert_false(r.swiotlb.enabled);
	assert_int_equal(r.xen.xen_pool_bytes, 0);
	rpt_free(&r);
}

/* Seeds 001/002: ARM 1:1 dom0: backends work through swiotlb-xen for the
 * NIC no IOMMU covers and plain dma-direct behind the SMMU. */
static void test_xen_arm_dom0_backend(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-arm-dom0-backend.yaml", 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.nproblems, 0);
	assert_int_equal(r.nnotes, 0);
	assert_hv(&r, "arm", true, "identity", "direct_mapped", "per-device");
	assert_int_equal(r.xen.domus, 1);
	const struct rpt_device *eth = dev(&r, "eth"), *mmc = dev(&r, "mmc");
	assert_string_equal(eth->ops, "swiotlb-xen");
	assert_false(eth->xen_iommu);
	assert_int_equal(eth->maps, 64);
	assert_int_equal(eth->bytes_mapped, 64 * 4096);
	assert_int_equal(eth->bounced_bytes, 0);
	assert_int_equal(eth->integrity_errors, 0);
	/* Half the requests are rx: the backend syncs each for the CPU. */
	assert_int_equal(eth->syncs, 32);
	assert_int_equal(eth->transfers, 64);
	assert_string_equal(mmc->ops, "direct");
	assert_true(mmc->xen_iommu);
	assert_int_equal(mmc->maps, 32 * 4);
	assert_int_equal(mmc->integrity_errors, 0);
	assert_int_equal(mmc->syncs, 16);
	assert_int_equal(r.xen.swiotlb_xen, 1);
	assert_int_equal(r.xen.foreign_maps, 64);
	assert_int_equal(r.xen.grant_maps, 64 + 128);
	assert_int_equal(r.xen.cache_flushes, 128);
	assert_int_equal(r.xen.dma_foreign_bytes, (64 + 128) * 4096);
	assert_int_equal(r.xen.dma_own_bytes, 0);
	assert_int_equal(r.xen.dma_stray_bytes, 0);
	rpt_free(&r);
}

/* Seed 002: dom0_iommu under Linux's rule skips swiotlb-xen for all: the
 * NIC outside the SMMU DMAs stray frames, caught and asked for (a pass). */
static void test_xen_arm_dom0_linux_noxen(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-arm-dom0-linux-noxen.yaml", 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.nproblems, 0);
	assert_int_equal(r.nnotes, 1);
	assert_non_null(strstr(r.notes[0], "xen-backend: tx request 0: wrong bytes: the device "
				"read bus 0x"));
	assert_non_null(strstr(r.notes[0], "(ops direct) (workload at line 29)"));
	assert_hv(&r, "arm", true, "identity", "direct_mapped+dom0_iommu", "linux");
	const struct rpt_device *eth = dev(&r, "eth"), *mmc = dev(&r, "mmc");
	assert_string_equal(eth->ops, "direct");
	assert_int_equal(eth->maps, 64);
	assert_int_equal(eth->integrity_errors, 64);
	assert_int_equal(eth->faults, 0);
	assert_string_equal(mmc->ops, "direct");
	assert_int_equal(mmc->integrity_errors, 0);
	assert_int_equal(r.xen.swiotlb_xen, 0);
	assert_int_equal(r.xen.foreign_maps, 0);
	assert_int_equal(r.xen.dma_stray_bytes, 64 * 4096);
	assert_int_equal(r.xen.dma_foreign_bytes, 128 * 4096);
	rpt_free(&r);
}

/* The same wrong bytes without an expect asking for them fail the verdict. */
static void test_xen_wrong_bytes_fail(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: noxen\n"
		 "platform:\n  ram: [{base: 0, size: 1G}]\n"
		 "  devices: [{name: eth, bus: platform, dma_bits: 32}]\n"
		 "hypervisor: {arch: arm, features: [direct_mapped, dom0_iommu], policy: linux,"
		 " host_ram: [{base: 0, size: 4G}]}\n"
		 "workloads:\n  - {device: eth, kind: xen-backend, count: 4, dir: from}\n",
		 1, &r);
	assert_false(r.pass);
	assert_int_equal(r.nnotes, 0);
	assert_int_equal(r.nproblems, 1);
	assert_non_null(strstr(r.problems[0], "xen-backend: rx request 0: wrong bytes: the device "
				 "wrote bus 0x"));
	assert_int_equal(dev(&r, "eth")->integrity_errors, 4);
	assert_int_equal(dev(&r, "eth")->syncs, 4);
	rpt_free(&r);
}

/* Seed 002: colored dom0 (not 1:1), Linux's rule: no swiotlb-xen; the NIC's
 * DMA lands in dom0's own frames at the foreign pages' guest addresses. */
static void test_xen_colored_dom0(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-colored-dom0.yaml", 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.nproblems, 0);
	assert_int_equal(r.nnotes, 1);
	assert_non_null(strstr(r.notes[0], ": dom0's own frame 0x"));
	assert_hv(&r, "arm", true, "colored", "not_direct_mapped", "linux");
	assert_string_equal(dev(&r, "eth")->ops, "direct");
	assert_int_equal(dev(&r, "eth")->integrity_errors, 64);
	assert_int_equal(r.xen.dma_own_bytes, 64 * 4096);
	assert_int_equal(r.xen.dma_foreign_bytes, 0);
	rpt_free(&r);
}

/* Seed 002's proposal: dom0_iommu with the NIC behind the SMMU: all correct. */
static void test_xen_colored_dom0_iommu(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-colored-dom0-iommu.yaml", 1, &r);
	assert_true(r.pass);
	assert_hv(&r, "arm", true, "colored", "not_direct_mapped+dom0_iommu", "linux");
	const struct rpt_device *eth = dev(&r, "eth");
	assert_string_equal(eth->ops, "direct");
	assert_true(eth->xen_iommu);
	assert_int_equal(eth->maps, 64 + 500);
	assert_int_equal(eth->bounced_bytes, 0);
	assert_int_equal(eth->integrity_errors, 0);
	assert_int_equal(eth->faults, 0);
	assert_int_equal(r.xen.dma_foreign_bytes, 64 * 4096);
	/* 500 packets of 1514 bytes and 500 16-byte descriptors read. */
	assert_int_equal(r.xen.dma_own_bytes, 500 * 1514 + 500 * 16);
	assert_int_equal(r.xen.dma_stray_bytes, 0);
	rpt_free(&r);
}

/* Beyond Linux: p2m-aware swiotlb-xen makes the colored dom0 work without an IOMMU. */
static void test_xen_colored_dom0_p2m(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-colored-dom0-p2m.yaml", 1, &r);
	assert_true(r.pass);
	assert_hv(&r, "arm", true, "colored", "not_direct_mapped+p2m_query", "per-device");
	const struct rpt_device *eth = dev(&r, "eth");
	assert_string_equal(eth->ops, "swiotlb-xen");
	assert_true(eth->windows_machine);
	assert_int_equal(eth->maps, 64 + 500);
	assert_int_equal(eth->integrity_errors, 0);
	/* The domU's frames are above 4 GiB: each foreign page bounces. */
	assert_int_equal(eth->bounced_maps, 64);
	assert_int_equal(eth->bounced_bytes, 64 * 4096);
	assert_int_equal(r.xen.foreign_maps, 64);
	assert_int_equal(r.xen.reach_bounces, 64);
	assert_int_equal(r.xen.xen_pool_bytes, 64 * MIB);
	assert_int_equal(r.xen.lowmem_used_at_boot, 64 * MIB);
	assert_int_equal(r.xen.exchanged_bytes, 64 * MIB);
	assert_int_equal(r.xen.dma_stray_bytes, 0);
	rpt_free(&r);
}

/* Seed 003: a PV domU spends nothing until a passthrough device appears. */
static void test_xen_pv_domu_hotplug(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-pv-domu-hotplug.yaml", 1, &r);
	assert_true(r.pass);
	assert_hv(&r, "pv", false, "scattered", "", "per-device");
	const struct rpt_device *nic = dev(&r, "nic");
	assert_true(nic->hotplug);
	assert_string_equal(nic->ops, "swiotlb-xen");
	assert_int_equal(nic->maps, 2000);
	assert_int_equal(nic->map_failures, 0);
	assert_int_equal(nic->integrity_errors, 0);
	assert_int_equal(nic->faults, 0);
	assert_int_equal(r.xen.swiotlb_xen, 1);
	assert_int_equal(r.xen.xen_pool_late, 1);
	assert_int_equal(r.xen.xen_pool_bytes, 4 * MIB); /* a late pool: swiotlb_init_late */
	assert_int_equal(r.xen.lowmem_used_at_boot, 0);
	assert_int_equal(r.xen.lowmem_used, 4 * MIB);
	assert_int_equal(r.xen.exchanged_bytes, 4 * MIB);
	assert_int_equal(r.xen.lowmem_total, 128 * MIB);
	rpt_free(&r);
}

static void test_xen_pv_domu_nodevice(void **state)
{
	(void)state;
	struct rpt_report r;
	run_file("examples/xen-pv-domu-nodevice.yaml", 1, &r);
	assert_true(r.pass);
	assert_int_equal(r.ndevices, 0);
	assert_false(r.swiotlb.enabled);
	assert_int_equal(r.xen.swiotlb_xen, 0);
	assert_int_equal(r.xen.xen_pool_bytes, 0);
	assert_int_equal(r.xen.lowmem_used, 0);
	assert_int_equal(r.xen.lowmem_hiwater, 0);
	rpt_free(&r);
}

/* Seed 003's exhaustion: no low memory for the pool: the device is not
 * added, the verdict says why with the library's log line (no crash). */
static void test_xen_device_add_fails(void **state)
{
	(void)state;
	struct rpt_report r;
	run_text("name: lowmem\n" EIGHT_GIB_RAM
		 "  devices: [{name: nic, dma_bits: 32, hotplug: true}]\n"
		 "hypervisor: {arch: x86, mode: pv, domain: domU, lowmem: 4K}\n"
		 "workloads:\n  - {device: nic, kind: nic, count: 10}\n",
		 1, &r);
	assert_false(r.pass);
	assert_int_equal(r.nproblems, 1);
	assert_string_equal(r.problems[0], "nic: the OS could not add the device (ENOMEM): "
			    "swiotlb-xen: the hypervisor has no machine-contiguous low memory for "
			    "a bounce pool (ENOMEM)");
	const struct rpt_device *nic = dev(&r, "nic");
	assert_string_equal(nic->ops, "none");
	assert_int_equal(nic->maps, 0);
	assert_int_equal(r.xen.lowmem_used, 0);
	assert_int_equal(r.xen.lowmem_total, 4096);
	rpt_free(&r);
}

/* A tree with a Xen node, no hypervisor key: an arm dom0, 1:1, direct_mapped. */
static void test_xen_tree(void **state)
{
	(void)state;
	struct scn *s = parse(RUN_SRC_DIR "/tests/dts/x.yaml",
			      "name: xt\nplatform:\n  dt: pools.dts\n"
			      "workloads:\n  - {device: /soc/gpu@20000000, kind: xen-backend, count: 8}\n");
	struct rpt_report r;
	char err[1024] = "";
	struct run_opts o = { .seed = 1 };
	int rc = run_scenario(s, "x.yaml", &o, &r, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	assert_true(r.pass);
	assert_hv(&r, "arm", true, "identity", "direct_mapped", "per-device");
	assert_int_equal(r.xen.domus, 1);
	const struct rpt_device *gpu = dev(&r, "/soc/gpu@20000000");
	assert_string_equal(gpu->ops, "swiotlb-xen");
	assert_int_equal(gpu->maps, 8);
	assert_int_equal(gpu->integrity_errors, 0);
	assert_int_equal(r.xen.foreign_maps, 8);
	rpt_free(&r);
	scn_free(s);
}

/* Same file and seed, same JSON, with the hypervisor objects; a domU per backend in turn. */
static void test_xen_deterministic(void **state)
{
	(void)state;
	const char *text = "name: det\n" EIGHT_GIB_RAM
			   "  devices: [{name: a, dma_bits: 32}, {name: b, dma_bits: 64}]\n"
			   "hypervisor: {arch: x86, mode: pv, domus: 2, seed: 77}\n"
			   "workloads:\n"
			   "  - {device: a, kind: xen-backend, count: 20, size: 8K}\n"
			   "  - {device: b, kind: xen-backend, count: 20, size: 8K, segments: 4}\n"
			   "  - {device: a, kind: nic, count: 50}\n";
	char *out[2];
	size_t len[2];
	for (int i = 0; i < 2; i++) {
		struct rpt_report r;
		run_text(text, 42, &r);
		assert_true(r.pass);
		assert_int_equal(r.xen.domus, 2);
		assert_int_equal(dev(&r, "a")->maps, 20 * 2 + 50);
		assert_int_equal(dev(&r, "b")->maps, 20 * 4);
		assert_int_equal(r.xen.foreign_maps, 20 * 2 + 20 * 4);
		assert_int_equal(r.xen.dma_stray_bytes, 0);
		out[i] = json_of(&r, &len[i]);
	}
	assert_same(out, len);
	assert_non_null(strstr(out[0], "\"hypervisor\": {\n    \"type\": \"xen\",\n    \"mode\": \"pv\""));
	assert_non_null(strstr(out[0], "\"foreign_maps\": 120"));
	assert_non_null(strstr(out[0], "\"notes\": []"));
	free(out[0]);
	free(out[1]);
}

/* explain under Xen: the hypervisor line and each device's reason. */
static void test_xen_explain(void **state)
{
	(void)state;
	char path[1024], err[512];
	snprintf(path, sizeof(path), "%s/examples/xen-pv-domu-hotplug.yaml", RUN_SRC_DIR);
	struct scn *s = NULL;
	assert_int_equal(scn_load(path, &s, err, sizeof(err)), 0);
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(run_explain(s, "h.yaml", f, err, sizeof(err)), 0);
	fclose(f);
	const char *want_head =
		"scenario xen-pv-domu-hotplug\n"
		"hypervisor: xen pv domU, p2m scattered, features none, policy per-device\n"
		"swiotlb on: 4 MiB, 0 MiB below 4 GiB\n"
		"swiotlb-xen on; 4 MiB of the hypervisor's low memory exchanged\n"
		"nic: swiotlb-xen, masks 32/32, coherent, hot-plugged; reaches machine "
		"0x0-0xffffffff; ";
	if (strncmp(buf, want_head, strlen(want_head)))
		print_error("got:\n%s\n", buf);
	assert_memory_equal(buf, want_head, strlen(want_head));
	assert_non_null(strstr(buf, "swiotlb-xen")); /* the library's reason follows */
	free(buf);
	scn_free(s);
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

/* Loads text expecting the loader to refuse it with exactly this line. */
static void load_refused(const char *text, const char *want)
{
	struct scn *s = (struct scn *)&s;
	char err[1024] = "";
	int rc = scn_load_string("t.yaml", text, &s, err, sizeof(err));
	if (rc != -EINVAL || strcmp(err, want))
		print_error("rc %d err '%s'\nwant '%s'\n", rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_null(s);
	assert_string_equal(err, want);
}

/* Xen input the loader or the runner refuses, each with one line naming where. */
static void test_refuse_xen(void **state)
{
	(void)state;
	/* A backend serves a domU from dom0: in a domU there is none to run. */
	load_refused("name: x\n" EIGHT_GIB_RAM
		     "  devices: [{name: n, dma_bits: 32}]\n"
		     "hypervisor: {arch: x86, mode: pv, domain: domU}\n"
		     "workloads:\n  - {device: n, kind: xen-backend}\n",
		     "t.yaml:9: workloads[0].kind: xen-backend runs a PV backend in dom0, but "
		     "hypervisor.domain is domU");
	load_refused("name: x\n" EIGHT_GIB_RAM
		     "hypervisor: {arch: x86, mode: pv, p2m_order: 2}\n",
		     "t.yaml:6: hypervisor: unknown key 'p2m_order' (valid: type, arch, domain, "
		     "mode, features, p2m, policy, lowmem, host_ram, colors, os_colors, seed, domus)");
	load_refused("name: x\n" EIGHT_GIB_RAM
		     "  devices: [{name: n, dma_bits: 32}]\n"
		     "workloads:\n  - {device: n, kind: xen-backend}\n",
		     "t.yaml:8: workloads[0].kind: xen-backend needs a hypervisor (add hypervisor: "
		     "or a dt with a Xen node)");
	/* A tree without a Xen node cannot host a backend either. */
	run_refused(RUN_SRC_DIR "/examples/x.yaml",
		    "name: x\nplatform:\n  dt: boards/soc-wifi.dts\n"
		    "workloads:\n  - {device: /soc/wifi@10000000, kind: xen-backend}\n",
		    -EINVAL,
		    RUN_SRC_DIR "/examples/x.yaml:5: kind: xen-backend needs a hypervisor, but "
		    RUN_SRC_DIR "/examples/boards/soc-wifi.dts has no Xen node and the file no "
		    "hypervisor key");
	/* The hypervisor owns the IOMMU: windows the OS would program do not apply. */
	run_refused("t.yaml", "name: x\n" EIGHT_GIB_RAM
		    "  iommus: [{name: smmu, window: 4G}]\n"
		    "  devices: [{name: n, dma_bits: 32, iommu: smmu}]\n"
		    "hypervisor: {arch: arm}\n",
		    -EINVAL,
		    "t.yaml:6: iommu 'smmu': window, bypass and linear describe an IOMMU the OS "
		    "programs; under Xen the hypervisor's IOMMU mirrors the OS's p2m");
	run_refused("t.yaml", "name: x\n" EIGHT_GIB_RAM
		    "  iommus: [{name: smmu}]\n"
		    "  devices: [{name: n, dma_bits: 32, iommu: smmu, untrusted: true}]\n"
		    "hypervisor: {arch: arm}\n",
		    -EINVAL,
		    "t.yaml:7: device 'n': untrusted is not modelled under Xen (the hypervisor's "
		    "IOMMU maps whole pages)");
	/* The tree is an arm64 machine: an x86 hypervisor cannot run on it. */
	run_refused(RUN_SRC_DIR "/tests/dts/x.yaml",
		    "name: x\nplatform:\n  dt: pools.dts\nhypervisor:\n  arch: x86\n",
		    -EINVAL,
		    RUN_SRC_DIR "/tests/dts/x.yaml:5: hypervisor.arch: x86, but "
		    RUN_SRC_DIR "/tests/dts/pools.dts describes an arm64 machine");
	/* What the simulator refuses comes back with the hypervisor's line and its why. */
	struct scn *s = parse("t.yaml", "name: x\n" EIGHT_GIB_RAM
			      "hypervisor: {arch: arm, p2m: colored, features: [direct_mapped]}\n");
	struct rpt_report r;
	char err[1024] = "";
	struct run_opts o = { .seed = 1 };
	assert_int_equal(run_scenario(s, "t.yaml", &o, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:6: hypervisor: the simulator refused it (EINVAL): "));
	assert_null(strchr(err, '\n'));
	scn_free(s);
	/* A segment larger than the one page a grant is. */
	run_refused("t.yaml", "name: x\n" EIGHT_GIB_RAM
		    "  devices: [{name: n, dma_bits: 64}]\n"
		    "hypervisor: {arch: x86, mode: pvh}\n"
		    "workloads:\n  - {device: n, kind: xen-backend, size: 64K, segments: 4}\n",
		    -EINVAL,
		    "t.yaml:9: xen-backend: 65536 bytes in 4 segments is 16384 bytes a segment, "
		    "but a grant is one 4 KiB page");
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
		    -EINVAL, "t.yaml:3: ram: 0x10+0x100: the base is not a multiple of 4 KiB "
		    "(RAM comes in whole pages)");
	run_refused("t.yaml", "name: x\nplatform:\n  ram: [{base: 0, size: 0x100800}]\n",
		    -EINVAL, "t.yaml:3: ram: 0x0+0x100800: the size is not a multiple of 4 KiB "
		    "(RAM comes in whole pages)");
	run_refused("t.yaml", "name: x\nplatform:\n  ram:\n    - {base: 0, size: 1G}\n"
		    "    - {base: 0xffff00000000, size: 8G}\n",
		    -EINVAL, "t.yaml:5: ram: 0xffff00000000+0x200000000 ends beyond 2^48 (256 TiB), "
		    "the most the simulator models");
	run_refused("t.yaml", "name: x\nplatform:\n  ram:\n"
		    "    - {base: 0, size: 2G}\n    - {base: 1G, size: 2G}\n",
		    -EINVAL, "t.yaml:5: ram: 0x0+0x80000000 overlaps 0x40000000+0x80000000");
}

/* A bad bootargs word is named (no --verbose needed); a swiotlb= size no
 * pool may have is refused alike whether or not the machine needs a pool. */
static void test_refuse_bootargs(void **state)
{
	(void)state;
	run_refused("t.yaml", "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n"
		    "bootargs: \"iommu=pt swiotlb=frob\"\n", -EINVAL,
		    "t.yaml:4: bootargs \"iommu=pt swiotlb=frob\" refused (EINVAL): bootargs: "
		    "malformed option 'swiotlb=frob'");
	static const char *const ram[] = {
		"  ram: [{base: 0, size: 1G}]\n",                          /* no pool needed */
		"  ram: [{base: 0, size: 1G}, {base: 4G, size: 1G}]\n",    /* a pool needed */
	};
	for (int i = 0; i < 2; i++) {
		char text[256];
		snprintf(text, sizeof(text), "name: x\nplatform:\n%s"
			 "  devices: [{name: n, dma_bits: 32}]\nbootargs: swiotlb=8388737\n", ram[i]);
		run_refused("t.yaml", text, -EINVAL,
			    "t.yaml:5: bootargs \"swiotlb=8388737\" refused (E2BIG): bootargs: "
			    "swiotlb= asks for 8388864 slots of 2 KiB, more than the 16 GiB a bounce "
			    "pool may be");
	}
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
		cmocka_unit_test(test_refuse_xen),
		cmocka_unit_test(test_mask_refused),
		cmocka_unit_test(test_refuse_no_high_ram),
		cmocka_unit_test(test_iommu_adversarial),
		cmocka_unit_test(test_powerpc_example),
		cmocka_unit_test(test_refuse_ram),
		cmocka_unit_test(test_refuse_bootargs),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_xen_pvh_dom0),
		cmocka_unit_test(test_xen_pvh_dom0_noswiotlb),
		cmocka_unit_test(test_xen_arm_dom0_backend),
		cmocka_unit_test(test_xen_arm_dom0_linux_noxen),
		cmocka_unit_test(test_xen_wrong_bytes_fail),
		cmocka_unit_test(test_xen_colored_dom0),
		cmocka_unit_test(test_xen_colored_dom0_iommu),
		cmocka_unit_test(test_xen_colored_dom0_p2m),
		cmocka_unit_test(test_xen_pv_domu_hotplug),
		cmocka_unit_test(test_xen_pv_domu_nodevice),
		cmocka_unit_test(test_xen_device_add_fails),
		cmocka_unit_test(test_xen_tree),
		cmocka_unit_test(test_xen_deterministic),
		cmocka_unit_test(test_xen_explain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
