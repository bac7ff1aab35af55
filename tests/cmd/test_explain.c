/*
 * tests/cmd/test_explain.c - `dmamap explain BOARD` and the arm64 bounce pool
 * on real and rule trees (tools/explain.c over sim/dt.c and the library).
 *
 * Owns: proofs that the Raspberry Pi 4's pool sits below 1 GiB whenever
 * RAM exceeds 1 GiB (8 GiB: emmc2 moves data through it; 4 GiB: it is
 * on; 1 GiB: off), that explain's JSON has the exact shape and
 * values, that each rule tree gets its verdict (dma-mem interconnect,
 * 16 KiB DART, disabled IOMMU, restricted pool on a PCI host, a PCI
 * device only on the bus), and that the board engineer's inputs load: a
 * /proc/device-tree directory, a blob with no extension, a .dts with
 * #include through cpp (and a clear message when an include is missing).
 * Everything it reads lives in the repository.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tu_assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dmamap/sim/dt.h>
#include "explain.h"
#include "run.h"
#include "scenario.h"
#include <dmamap/sim/sim.h>
#include <dmamap/sim/iommu.h>
#include "workloads.h"
#include <dmamap/dma.h>

#ifndef RUN_SRC_DIR
#error "RUN_SRC_DIR must name the source tree"
#endif

#define RPI4 RUN_SRC_DIR "/examples/boards/bcm2711-rpi-4-b.dts"
#define RULES RUN_SRC_DIR "/tests/dts/rules.dts"
#define EMMC2 "/emmc2-bus@fe000000/mmc@7e340000"

/* ---- helpers ------------------------------------------------------------------- */

static void run_file(const char *path, struct rpt_report *r)
{
	struct scn *s = NULL;
	char err[1024] = "";
	struct run_opts o = { .seed = 1 };
	int rc = scn_load(path, &s, err, sizeof(err));

	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	rc = run_scenario(s, path, &o, r, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	scn_free(s);
}

static const struct rpt_device *rdev(const struct rpt_report *r, const char *name)
{
	for (unsigned int i = 0; i < r->ndevices; i++)
		if (!strcmp(r->devices[i].name, name))
			return &r->devices[i];
	print_error("no device %s in the report\n", name);
	fail();
	return NULL;
}

/* explain_board's output as a string (caller frees); rc must be want_rc. */
static char *explain(const char *path, const struct explain_opts *o, int want_rc, char *err,
		     size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	assert_non_null(f);
	err[0] = '\0';
	rc = explain_board(path, o, f, err, errlen);
	fclose(f);
	if (rc != want_rc)
		print_error("explain %s: %d (%s), want %d\n", path, rc, err, want_rc);
	assert_int_equal(rc, want_rc);
	return buf;
}

static void assert_has(const char *text, const char *what)
{
	if (!strstr(text, what)) {
		print_error("missing: %s\nin:\n%s\n", what, text);
		fail();
	}
}

/* ---- the Raspberry Pi 4 bounce pool ---------------------------------------------- */

/* 8 GiB: the pool lies below 1 GiB, where emmc2 (1 GiB window) reaches it. */
static void test_rpi4_8g_emmc2_through_pool(void **state)
{
	(void)state;
	struct rpt_report r;

	run_file(RUN_SRC_DIR "/examples/rpi4-8g.yaml", &r);
	assert_true(r.pass);
	assert_true(r.swiotlb.enabled);
	assert_int_equal(r.swiotlb.total_bytes, 64ULL << 20);
	assert_int_equal(r.npools, 1);
	tu_assert_le(r.pools[0].last, 0x3fffffffULL);
	const struct rpt_device *d = rdev(&r, EMMC2);
	assert_int_equal(d->map_failures, 0);
	assert_int_equal(d->integrity_errors, 0);
	assert_int_equal(d->maps, 3200);
	/* The allocator hands out high memory first: every buffer lies above 1 GiB and bounces. */
	assert_int_equal(d->bounced_maps, d->maps);
	assert_int_equal(rdev(&r, "/scb/ethernet@7d580000")->map_failures, 0);
	rpt_free(&r);
}

/* 4 GiB: RAM still ends above ZONE_DMA (0x3fffffff): the pool is on. */
static void test_rpi4_4g_pool_on(void **state)
{
	(void)state;
	struct rpt_report r;

	run_file(RUN_SRC_DIR "/examples/rpi4-4g.yaml", &r);
	assert_true(r.pass);
	assert_true(r.swiotlb.enabled);
	assert_int_equal(r.swiotlb.total_bytes, 64ULL << 20);
	tu_assert_le(r.pools[0].last, 0x3fffffffULL);
	assert_int_equal(rdev(&r, EMMC2)->map_failures, 0);
	rpt_free(&r);
}

/* The rule at three sizes, through explain (the library's answer). */
static void test_rpi4_pool_rule(void **state)
{
	(void)state;
	static const struct { const char *ram; bool on; const char *zone; } cases[] = {
		/* 948 MiB: ZONE_DMA is all of RAM, so no pool. */
		{ "0x0:0x3b400000", false, "\"zone_dma_limit\": \"0x3b3fffff\"" },
		{ "0x0:0x3b400000,0x40000000:0x40000000", true, /* 2 GiB */
		  "\"zone_dma_limit\": \"0x3fffffff\"" },
		{ "0x0:0x3b400000,0x40000000:0xbc000000", true, /* 4 GiB */
		  "\"zone_dma_limit\": \"0x3fffffff\"" },
		{ "0x0:0x3b400000,0x40000000:0x1c0000000", true, /* 8 GiB */
		  "\"zone_dma_limit\": \"0x3fffffff\"" },
	};
	char err[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct explain_opts o = { .json = true, .device = EMMC2 };
		char *out;

		assert_int_equal(explain_parse_ram(cases[i].ram, &o, err, sizeof(err)), 0);
		out = explain(RPI4, &o, 0, err, sizeof(err));
		if (cases[i].on) {
			assert_has(out, "\"swiotlb\": {\"enabled\": true, \"base\": \"0x0\", "
					"\"size\": \"0x4000000\"");
			assert_has(out, "\"verdict32\": \"bounces above 0x3fffffff\"");
		} else {
			assert_has(out, "\"swiotlb\": {\"enabled\": false, \"base\": null");
			assert_has(out, "\"verdict32\": \"never bounces\"");
		}
		assert_has(out, cases[i].zone);
		free(out);
	}
}

/*
 * Every board tree in the repository, at two RAM sizes: RAM within ZONE_DMA
 * gets no pool; RAM beyond it gets the 64 MiB pool, wholly below the limit.
 */
static void test_every_board_two_ram_sizes(void **state)
{
	(void)state;
	static const struct {
		const char *file, *small, *big;
		uint64_t zone_big;
	} boards[] = {
		{ "/tests/dts/boards/imx8mq-evk.dts", "0x40000000:2G", "0x40000000:8G", 0xffffffffULL },
		{ "/tests/dts/boards/tegra194-p2972-0000.dts", "0x80000000:1G", "0x80000000:16G",
		  0xffffffffULL },
		{ "/tests/dts/boards/qrb5165-rb5.dts", "0x80000000:1G", "0x80000000:8G",
		  0xffffffffULL },
		{ "/tests/dts/boards/zynqmp-zcu102-rev1.0.dts", "0x0:2G",
		  "0x0:2G,0x800000000:2G", 0xffffffffULL },
		{ "/examples/boards/bcm2711-rpi-4-b.dts", "0x0:0x3b400000",
		  "0x0:0x3b400000,0x40000000:0x1c0000000", 0x3fffffffULL },
		{ "/tests/dts/rules.dts", "0x80000000:2G", "0x80000000:8G", 0xffffffffULL },
	};
	char err[512], path[512], want[128];

	for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
		struct explain_opts o = { .json = true };
		char *out;
		unsigned long long base = 0, size = 0;
		const char *p;

		snprintf(path, sizeof(path), "%s%s", RUN_SRC_DIR, boards[i].file);
		assert_int_equal(explain_parse_ram(boards[i].small, &o, err, sizeof(err)), 0);
		out = explain(path, &o, 0, err, sizeof(err));
		assert_has(out, "\"swiotlb\": {\"enabled\": false");
		free(out);
		assert_int_equal(explain_parse_ram(boards[i].big, &o, err, sizeof(err)), 0);
		out = explain(path, &o, 0, err, sizeof(err));
		snprintf(want, sizeof(want), "\"zone_dma_limit\": \"0x%llx\"",
			 (unsigned long long)boards[i].zone_big);
		assert_has(out, want);
		p = strstr(out, "\"swiotlb\": {\"enabled\": true, \"base\": \"");
		if (!p)
			print_error("%s: no pool at %s:\n%s\n", path, boards[i].big, out);
		assert_non_null(p);
		assert_int_equal(sscanf(p, "\"swiotlb\": {\"enabled\": true, \"base\": \"0x%llx\", "
					"\"size\": \"0x%llx\"", &base, &size), 2);
		assert_int_equal(size, 64ULL << 20);
		tu_assert_le(base + size - 1, boards[i].zone_big);
		free(out);
	}
}

/* ---- explain: the JSON shape and the text ------------------------------------------ */

static void test_explain_json_shape(void **state)
{
	(void)state;
	struct explain_opts o = { .json = true, .device = "mmc@7e340000" };
	char err[512], *out;

	assert_int_equal(explain_parse_ram("0x0:8G", &o, err, sizeof(err)), 0);
	out = explain(RPI4, &o, 0, err, sizeof(err));
	assert_string_equal(out,
		"{\"machine\": {\"arch\": \"arm64\", \"ram\": [{\"base\": \"0x0\", \"size\": "
		"\"0x200000000\"}], \"zone_dma_limit\": \"0x3fffffff\"},\n"
		" \"swiotlb\": {\"enabled\": true, \"base\": \"0x0\", \"size\": \"0x4000000\", "
		"\"reason\": \"arm64: RAM ends at 0x1ffffffff, above ZONE_DMA's limit 0x3fffffff "
		"(min(of_dma_get_max_cpu_address, 4 GiB - 1)); the pool comes from low memory "
		"below that limit (ARCH_LOW_ADDRESS_LIMIT)\"},\n"
		" \"devices\": [{\"path\": \"/emmc2-bus@fe000000/mmc@7e340000\", \"bus\": "
		"\"platform\", \"coherent\": false, \"windows\": [{\"bus\": \"0xc0000000\", "
		"\"cpu\": \"0x0\", \"size\": \"0x40000000\"}], \"dma_parent\": "
		"\"/emmc2-bus@fe000000\", \"bus_dma_limit\": \"0xffffffff\", \"iommu\": null, "
		"\"iommu_granule\": null, \"restricted_pool\": null, \"verdict32\": \"bounces "
		"above 0x3fffffff\", \"verdict64\": \"bounces above 0x3fffffff\", \"reason\": "
		"\"windows from dma-ranges of /emmc2-bus@fe000000 (walk from "
		"/emmc2-bus@fe000000)\"}]}\n");
	free(out);
}

/* Without RAM: every per-device answer, no pool, no verdicts, and it says why. */
static void test_explain_no_ram(void **state)
{
	(void)state;
	struct explain_opts o = { .json = true };
	char err[512], *out = explain(RPI4, &o, 0, err, sizeof(err));

	assert_has(out, "{\"machine\": {\"arch\": \"arm64\", \"ram\": [], \"zone_dma_limit\": "
			"null},\n \"devices\": [");
	assert_null(strstr(out, "\"swiotlb\""));
	assert_null(strstr(out, "verdict"));
	assert_has(out, "\"path\": \"/scb/pcie@7d500000/pci@0,0/usb@0,0\", \"bus\": \"pci\", "
			"\"coherent\": false, \"windows\": [{\"bus\": \"0x0\", \"cpu\": \"0x0\", "
			"\"size\": \"0xc0000000\"}], \"dma_parent\": \"/scb/pcie@7d500000\", "
			"\"bus_dma_limit\": \"0xbfffffff\"");
	free(out);
	o.json = false;
	out = explain(RPI4, &o, 0, err, sizeof(err));
	assert_has(out, "RAM: unknown (the tree's /memory is empty: firmware fills it in)");
	/* Text lists DMA users only: pinless buses and CPUs need --all. */
	assert_null(strstr(out, "\n/scb  "));
	assert_has(out, "\n/scb/ethernet@7d580000  brcm,bcm2711-genet-v5  platform, non-coherent\n");
	free(out);
	o.all = true;
	out = explain(RPI4, &o, 0, err, sizeof(err));
	assert_has(out, "\n/scb  simple-bus  platform, non-coherent\n");
	free(out);
}

/* Each rule tree device gets its verdict. */
static void test_explain_rules(void **state)
{
	(void)state;
	struct explain_opts o = { .json = true };
	char err[512], *out = explain(RULES, &o, 0, err, sizeof(err));

	/* dma-mem interconnect: the memory controller's window, not the bus's 1:1. */
	assert_has(out, "{\"path\": \"/bus@0/ethernet@5000000\", \"bus\": \"platform\", "
			"\"coherent\": false, \"windows\": [{\"bus\": \"0x0\", \"cpu\": "
			"\"0x80000000\", \"size\": \"0x100000000\"}], \"dma_parent\": "
			"\"/bus@0/memory-controller@2c00000\", \"bus_dma_limit\": \"0xffffffff\", "
			"\"iommu\": null, \"iommu_granule\": null, \"restricted_pool\": null, "
			"\"verdict32\": \"bounces above 0x17fffffff\", \"verdict64\": \"bounces "
			"above 0x17fffffff\"");
	/* A node with ranges and a compatible is a device (J721E's CPSW). */
	assert_has(out, "{\"path\": \"/bus@0/ethernet@7000000\", \"bus\": \"platform\", "
			"\"coherent\": false, \"windows\": [], \"dma_parent\": \"/bus@0\"");
	/* Apple DART: 16 KiB pages. */
	assert_has(out, "\"path\": \"/bus@0/usb@6000000\", \"bus\": \"platform\", \"coherent\": "
			"false, \"windows\": [], \"dma_parent\": \"/bus@0\", \"bus_dma_limit\": null, "
			"\"iommu\": \"/bus@0/iommu@3000000\", \"iommu_granule\": \"0x4000\", "
			"\"restricted_pool\": null, \"verdict32\": \"translated by "
			"/bus@0/iommu@3000000 (16 KiB pages): never bounces\"");
	/* A restricted pool on the PCI host applies to the function below it. */
	assert_has(out, "\"path\": \"/bus@0/pcie@10000000/pci@0,0/nvme@0,0\", \"bus\": \"pci\", "
			"\"coherent\": true, \"windows\": [], \"dma_parent\": "
			"\"/bus@0/pcie@10000000\", \"bus_dma_limit\": null, \"iommu\": null, "
			"\"iommu_granule\": null, \"restricted_pool\": "
			"\"/reserved-memory/restricted@90000000\", \"verdict32\": \"uses pool "
			"/reserved-memory/restricted@90000000 (0x90000000-0x903fffff): every map "
			"bounces\"");
	/* iommu-map to a disabled SMMU: dma-direct through the host's window. */
	assert_has(out, "\"path\": \"/bus@0/pcie@20000000/wifi@0,0\", \"bus\": \"pci\", "
			"\"coherent\": false, \"windows\": [{\"bus\": \"0x0\", \"cpu\": "
			"\"0x80000000\", \"size\": \"0x80000000\"}], \"dma_parent\": "
			"\"/bus@0/pcie@20000000\", \"bus_dma_limit\": \"0x7fffffff\", \"iommu\": "
			"null, \"iommu_granule\": null, \"restricted_pool\": null, \"verdict32\": "
			"\"bounces above 0xffffffff\", \"verdict64\": \"bounces above 0xffffffff\", "
			"\"reason\": \"windows from dma-ranges of /bus@0/pcie@20000000 (walk from "
			"/bus@0/pcie@20000000); IOMMU /bus@0/iommu@4000000 is disabled: "
			"dma-direct\"}");
	/* The disabled SMMU is no device; RAM at 2 GiB, 8 GiB: the pool below 4 GiB. */
	assert_null(strstr(out, "iommu@4000000\", \"bus\""));
	assert_has(out, "\"zone_dma_limit\": \"0xffffffff\"},\n \"swiotlb\": {\"enabled\": "
			"true, \"base\": \"0x80000000\", \"size\": \"0x4000000\"");
	free(out);
}

/* A PCI device only on the simulated bus: named by its host bridge's path. */
static void test_pci_only_on_bus(void **state)
{
	(void)state;
	struct rpt_report r;

	run_file(RUN_SRC_DIR "/tests/dts/rules-pci.yaml", &r);
	assert_true(r.pass);
	const struct rpt_device *d = rdev(&r, "/bus@0/pcie@20000000");
	/* The host's window (bus 0 -> cpu 0x80000000, 2 GiB), no IOMMU (disabled). */
	assert_string_equal(d->ops, "direct");
	assert_int_equal(d->nwindows, 1);
	assert_int_equal(d->windows[0].first, 0x80000000ULL);
	assert_int_equal(d->windows[0].last, 0xffffffffULL);
	assert_int_equal(d->map_failures, 0);
	tu_assert_gt(d->bounced_maps, 0);
	/* The function in the tree behind the restricted-pool host: its pool. */
	d = rdev(&r, "/bus@0/pcie@10000000/pci@0,0/nvme@0,0");
	assert_string_equal(d->ops, "swiotlb");
	assert_int_equal(d->bounced_maps, d->maps);
	rpt_free(&r);
}

/* A PCI function in a real tree: translated through its host's iommu-map. */
static void test_pci_function_iommu_map(void **state)
{
	(void)state;
	struct rpt_report r;

	run_file(RUN_SRC_DIR "/tests/dts/rb5-wifi.yaml", &r);
	assert_true(r.pass);
	const struct rpt_device *d = rdev(&r, "/soc@0/pcie@1c00000/pcie@0/wifi@0");
	assert_string_equal(d->ops, "iommu");
	assert_int_equal(d->map_failures, 0);
	assert_int_equal(d->bounced_maps, 0);
	rpt_free(&r);
}

/*
 * Behind a DART (16 KiB pages, from its compatible): the IOVA keeps the
 * buffer's offset in its 16 KiB page, and the whole 16 KiB page is mapped.
 */
static void test_dart_16k_granule(void **state)
{
	(void)state;
	const char *file = RUN_SRC_DIR "/tests/dts/rules-dart.yaml";
	struct scn *s = NULL;
	struct run_platform *p = NULL;
	struct run_opts o = { .seed = 1 };
	struct wl_env we;
	const char *why = NULL;
	char err[1024] = "";
	uint64_t phys = 0, got = 0, leaf = 0;
	unsigned int prot = 0;

	assert_int_equal(scn_load(file, &s, err, sizeof(err)), 0);
	assert_int_equal(run_platform_up(s, file, &o, NULL, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(run_platform_env(p, "/bus@0/usb@6000000", &we, &why), 0);
	tu_assert_gt(we.iommu_domain, 0);
	assert_int_equal(sim_alloc_pages(we.m, 4, 4, 0, ~0ULL, &phys), 0);
	/* 256 bytes at 0x1234 into a 16 KiB-aligned block of four 4 KiB pages. */
	dmamap_dma_addr_t dma = dmamap_map_phys(we.dev, phys + 0x1234, 256,
						DMAMAP_TO_DEVICE, 0);
	assert_int_not_equal(dma, DMAMAP_MAPPING_ERROR);
	assert_int_equal(dma & 0x3fff, 0x1234);
	/* Each 4 KiB of the 16 KiB page is mapped, not only the one the buffer is in. */
	for (uint64_t k = 0; k < 4; k++) {
		assert_int_equal(sim_iommu_iova_to_phys(we.m, we.iommu_domain,
							(dma & ~0x3fffULL) + k * 4096, &got,
							&prot, &leaf), 0);
		assert_int_equal(got, phys + k * 4096);
	}
	dmamap_unmap_phys(we.dev, dma, 256, DMAMAP_TO_DEVICE, 0);
	sim_free_pages(we.m, phys, 4);
	run_platform_down(p);
	scn_free(s);
}

/* A tree path with a comma in a {flow map}: an error that says to quote it. */
static void test_flow_map_comma(void **state)
{
	(void)state;
	struct scn *s = NULL;
	char err[1024] = "";

	assert_int_equal(scn_load_string("x.yaml", "name: x\nplatform:\n  dt: rules.dts\n"
					 "  devices:\n    - {name: /a/pci@0,0/b@0,0, dma_bits: 64}\n",
					 &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "x.yaml:5: platform.devices[0]: the tree path '/a/pci@0,0/b@0...' "
			    "was cut at its comma: quote it (\"/a/pci@0,0/b@0...\") or write the map "
			    "in block form (one key per line)");
	/* Quoted, it loads. */
	assert_int_equal(scn_load_string("x.yaml", "name: x\nplatform:\n  dt: rules.dts\n"
					 "  devices:\n    - {name: \"/a/pci@0,0/b@0,0\", dma_bits: 64}\n",
					 &s, err, sizeof(err)), 0);
	assert_string_equal(s->devices[0].name, "/a/pci@0,0/b@0,0");
	scn_free(s);
}

/* ---- the inputs a board engineer has ---------------------------------------------- */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A /proc/device-tree-shaped directory: folders are nodes, files properties. */
static void test_proc_device_tree(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmamap-pdt-XXXXXX", p[512];
	uint8_t cells[24];
	struct sim_dt *dt = NULL;
	char err[512] = "";
	const struct sim_dt_device *d;

	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/compatible", dir);
	write_file(p, "test,pdt\0", 9);
	snprintf(p, sizeof(p), "%s/name", dir);
	write_file(p, "\0", 1);
	be32(cells, 1);
	snprintf(p, sizeof(p), "%s/#address-cells", dir);
	write_file(p, cells, 4);
	snprintf(p, sizeof(p), "%s/#size-cells", dir);
	write_file(p, cells, 4);
	snprintf(p, sizeof(p), "%s/memory@0", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/memory@0/device_type", dir);
	write_file(p, "memory\0", 7);
	be32(cells, 0x0);
	be32(cells + 4, 0x80000000u);
	snprintf(p, sizeof(p), "%s/memory@0/reg", dir);
	write_file(p, cells, 8);
	snprintf(p, sizeof(p), "%s/soc", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/soc/compatible", dir);
	write_file(p, "simple-bus\0", 11);
	snprintf(p, sizeof(p), "%s/soc/ranges", dir);
	write_file(p, "", 0);
	be32(cells, 1);
	snprintf(p, sizeof(p), "%s/soc/#address-cells", dir);
	write_file(p, cells, 4);
	snprintf(p, sizeof(p), "%s/soc/#size-cells", dir);
	write_file(p, cells, 4);
	/* bus 0xc0000000 -> cpu 0, 1 GiB */
	be32(cells, 0xc0000000u);
	be32(cells + 4, 0x0);
	be32(cells + 8, 0x40000000u);
	snprintf(p, sizeof(p), "%s/soc/dma-ranges", dir);
	write_file(p, cells, 12);
	snprintf(p, sizeof(p), "%s/soc/mmc@1000", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/soc/mmc@1000/compatible", dir);
	write_file(p, "test,mmc\0", 9);
	snprintf(p, sizeof(p), "%s/soc/mmc@1000/dma-coherent", dir);
	write_file(p, "", 0);

	assert_int_equal(sim_dt_load(dir, &dt, err, sizeof(err)), 0);
	assert_int_equal(dt->nram, 1);
	assert_int_equal(dt->ram[0].size, 0x80000000ULL);
	d = sim_dt_find(dt, "/soc/mmc@1000");
	assert_non_null(d);
	assert_true(d->coherent);
	assert_true(d->master);
	assert_int_equal(d->nranges, 1);
	assert_int_equal(d->ranges[0].dma, 0xc0000000ULL);
	assert_int_equal(d->ranges[0].cpu, 0);
	assert_int_equal(d->ranges[0].size, 0x40000000ULL);
	assert_int_equal(dt->max_cpu_address, 0x3fffffffULL);
	sim_dt_free(dt);

	/* The same through explain. */
	{
		struct explain_opts o = { .device = "mmc" };
		char *out = explain(dir, &o, 0, err, sizeof(err));

		assert_has(out, "\t32-bit mask: bounces above 0x3fffffff\n");
		free(out);
	}
	assert_int_equal(system("rm -rf /tmp/dmamap-pdt-*") == -1, 0);
}

/* /sys/firmware/fdt: a blob with no extension, known by its magic. */
static void test_blob_without_extension(void **state)
{
	(void)state;
	char dir[] = "/tmp/dmamap-fdt-XXXXXX", blob[512], cmd[1024];
	struct sim_dt *dt = NULL;
	char err[512] = "";

	assert_non_null(mkdtemp(dir));
	snprintf(blob, sizeof(blob), "%s/fdt", dir);
	snprintf(cmd, sizeof(cmd), "dtc -q -I dts -O dtb -o %s %s", blob, RULES);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(sim_dt_load(blob, &dt, err, sizeof(err)), 0);
	assert_non_null(sim_dt_find(dt, "/bus@0/usb@6000000"));
	assert_int_equal(sim_dt_find(dt, "/bus@0/usb@6000000")->iommu_page_sizes,
			 (16ULL << 10) | (32ULL << 20));
	sim_dt_free(dt);
	/* And a .dts source with no extension, known by /dts-v1/. */
	snprintf(blob, sizeof(blob), "%s/board-source", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", RULES, blob);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(sim_dt_load(blob, &dt, err, sizeof(err)), 0);
	assert_non_null(sim_dt_find(dt, "/bus@0/ethernet@5000000"));
	sim_dt_free(dt);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* A .dts with #include: cpp as the kernel runs it, -I from --include-dir. */
static void test_dts_cpp_include(void **state)
{
	(void)state;
	const char *inc = RUN_SRC_DIR "/tests/dts/include";
	struct sim_dt_load_opts lo = { .include = &inc, .ninclude = 1 };
	struct sim_dt *dt = NULL;
	char err[512] = "";
	const struct sim_dt_device *d;

	/* Without the include directory: one line naming the file, line and header. */
	assert_int_equal(sim_dt_load(RUN_SRC_DIR "/tests/dts/cpp/board.dts", &dt, err,
				     sizeof(err)), -EINVAL);
	assert_string_equal(err, RUN_SRC_DIR "/tests/dts/cpp/board.dts:7: #include "
			    "<dt-bindings/test-clients.h> not found (give --include-dir DIR for "
			    "the folder that holds it, e.g. the kernel's include/ or "
			    "scripts/dtc/include-prefixes)");
	assert_int_equal(sim_dt_load_ex(RUN_SRC_DIR "/tests/dts/cpp/board.dts", &lo, &dt, err,
					sizeof(err)), 0);
	d = sim_dt_find(dt, "/soc/dma-controller@10000000");
	assert_non_null(d);
	assert_true(d->coherent); /* from #if on the header's macro */
	assert_int_equal(d->nranges, 1);
	assert_int_equal(d->ranges[0].cpu, 0x40000000ULL);
	sim_dt_free(dt);
	/* A header missing everywhere. */
	assert_int_equal(sim_dt_load_ex(RUN_SRC_DIR "/tests/dts/cpp/missing.dts", &lo, &dt,
					err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "missing.dts:2: #include <dt-bindings/not-there.h> not found"));
	/* --ram refuses what is not BASE:SIZE. */
	{
		struct explain_opts o = { 0 };

		assert_int_equal(explain_parse_ram("0x0:4G,0x100000000:4G", &o, err,
						   sizeof(err)), 0);
		assert_int_equal(o.nram, 2);
		assert_int_equal(o.ram[1][0], 0x100000000ULL);
		assert_int_equal(o.ram[1][1], 4ULL << 30);
		assert_int_equal(explain_parse_ram("0x0", &o, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, "--ram: '0x0' is not BASE:SIZE (e.g. 0x0:8G)");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rpi4_8g_emmc2_through_pool),
		cmocka_unit_test(test_rpi4_4g_pool_on),
		cmocka_unit_test(test_rpi4_pool_rule),
		cmocka_unit_test(test_every_board_two_ram_sizes),
		cmocka_unit_test(test_explain_json_shape),
		cmocka_unit_test(test_explain_no_ram),
		cmocka_unit_test(test_explain_rules),
		cmocka_unit_test(test_pci_only_on_bus),
		cmocka_unit_test(test_pci_function_iommu_map),
		cmocka_unit_test(test_dart_16k_granule),
		cmocka_unit_test(test_flow_map_comma),
		cmocka_unit_test(test_proc_device_tree),
		cmocka_unit_test(test_blob_without_extension),
		cmocka_unit_test(test_dts_cpp_include),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
