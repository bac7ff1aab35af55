/*
 * tests/sim/test_dt.c - the device-tree loader (sim/dt.h) on its own.
 *
 * Owns: proofs that every node of the real boards in tests/dts/boards gets
 * Linux's answer (BOARD.linux.txt: windows, the node that gave them, limit,
 * coherency, IOMMU; plus ZONE_DMA), and that the small trees in tests/dts
 * load with exact RAM, reserved regions, windows, coherency, IOMMU links,
 * pools, bootargs and the Xen node, and that malformed input fails with one
 * line naming the file and the node.  Never touches the library (src/) and
 * never decides policy; a missing tree is a failure, not a skip.
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
#include <unistd.h>

#include <libfdt.h>

#include <dmamap/sim/dt.h>
#include <dmamap/sim/sim.h>

#ifndef DMAMAP_BOARD_DTS
#error "DMAMAP_BOARD_DTS must name tests/dts/boards"
#endif
#ifndef DT_TEST_DIR
#error "DT_TEST_DIR must name tests/dts"
#endif

#define ZYNQMP DMAMAP_BOARD_DTS "/zynqmp-zcu102-rev1.0.dts"
#define T(name) DT_TEST_DIR "/" name

static struct sim_dt *load_ok(const char *path)
{
	struct sim_dt *dt = NULL;
	char err[512] = "";
	int rc = sim_dt_load(path, &dt, err, sizeof(err));

	if (rc != 0)
		print_error("sim_dt_load(%s): %d: %s\n", path, rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(dt);
	return dt;
}

static const struct sim_dt_device *dev(const struct sim_dt *dt,
				       const char *path)
{
	const struct sim_dt_device *d = sim_dt_find(dt, path);

	if (!d)
		print_error("no device %s\n", path);
	assert_non_null(d);
	return d;
}

static void assert_win(const struct sim_dt_device *d, unsigned int i,
		       uint64_t dma, uint64_t cpu, uint64_t size)
{
	tu_assert_lt(i, d->nranges);
	assert_int_equal(d->ranges[i].dma, dma);
	assert_int_equal(d->ranges[i].cpu, cpu);
	assert_int_equal(d->ranges[i].size, size);
}

static unsigned int nmasters(const struct sim_dt *dt)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < dt->ndevices; i++)
		n += dt->devices[i].master;
	return n;
}

/* The explain listing as one string (caller frees). */
static char *explain(const struct sim_dt *dt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(sim_dt_explain(dt, f), 0);
	fclose(f);
	return buf;
}

static void assert_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	print_error("missing line: %s\nin:\n%s", line, text);
	fail();
}

/* ---- the real board: ZynqMP ZCU102 ---------------------------------------- */

static void test_zynqmp(void **state)
{
	(void)state;
	struct sim_dt *dt;
	const struct sim_dt_device *d;
	unsigned int with_iommu = 0;
	char *text;

	/* The file is part of the project's shared data: its absence fails. */
	assert_int_equal(access(ZYNQMP, R_OK), 0);
	dt = load_ok(ZYNQMP);

	assert_int_equal(dt->nram, 2);
	assert_int_equal(dt->ram[0].base, 0x0);
	assert_int_equal(dt->ram[0].size, 0x80000000ULL);
	assert_int_equal(dt->ram[1].base, 0x800000000ULL);
	assert_int_equal(dt->ram[1].size, 0x80000000ULL);
	assert_int_equal(dt->nrmem, 0);
	assert_string_equal(dt->bootargs, "earlycon");
	assert_false(dt->xen);
	assert_int_equal(dt->ncpus, 4);
	assert_string_equal(dt->root_compatible, "xlnx,zynqmp-zcu102-rev1.0");

	/* No dma-ranges anywhere: every window is the identity. */
	tu_assert_ge(dt->ndevices, 10);
	for (unsigned int i = 0; i < dt->ndevices; i++) {
		d = &dt->devices[i];
		assert_int_equal(d->nranges, 0);
		assert_int_equal(d->bus_dma_limit, 0);
		assert_false(d->coherent);
		assert_int_equal(d->restricted_pool, -1);
		if (d->has_iommu) {
			with_iommu++;
			assert_string_equal(d->iommu_path,
					    "/axi/iommu@fd800000");
			assert_int_equal(d->iommu_phandle, 0x0e);
			assert_int_equal(d->iommu_ncells, 1);
			/* The SMMU is disabled: links reported, marked so. */
			assert_false(d->iommu_enabled);
		}
	}
	tu_assert_ge(with_iommu, 10);
	/* The SMMU itself is not a DMA master; disabled masters are absent. */
	assert_null(sim_dt_find(dt, "/axi/iommu@fd800000"));
	assert_null(sim_dt_find(dt, "/axi/dma-controller@ffa80000"));

	d = dev(dt, "/axi/dma-controller@fd500000");
	assert_true(d->has_iommu);
	assert_int_equal(d->iommu_cells[0], 0x14e8);
	assert_false(d->is_pci);

	d = dev(dt, "/axi/pcie@fd0e0000");
	assert_true(d->is_pci);
	assert_true(d->has_iommu);
	assert_int_equal(d->iommu_cells[0], 0x4d0);
	assert_false(d->iommu_enabled);
	assert_int_equal(d->niommu_map, 0);

	text = explain(dt);
	assert_line(text, "ram 0x0-0x7fffffff");
	assert_line(text, "ram 0x800000000-0x87fffffff");
	assert_line(text, "bootargs \"earlycon\"");
	assert_line(text, "hypervisor none");
	assert_line(text, "device /axi/pcie@fd0e0000 pci non-coherent identity "
			  "(no dma-ranges) iommu /axi/iommu@fd800000#0x4d0 disabled");
	assert_line(text, "device /axi/dma-controller@fd500000 platform "
			  "non-coherent identity (no dma-ranges) iommu "
			  "/axi/iommu@fd800000#0x14e8 disabled");
	free(text);

	/* It becomes a machine, and its devices become simulated devices. */
	{
		struct sim_machine_desc md;
		struct sim_machine *m;
		struct sim_device_desc sd;
		struct sim_device *sdev;
		const char *why = NULL;
		char err[256];

		assert_int_equal(sim_dt_machine_desc(dt, &md, err, sizeof(err)), 0);
		assert_int_equal(md.arch, DMAMAP_ARCH_ARM64);
		assert_int_equal(md.ncpus, 4);
		assert_int_equal(md.nram, 2);
		assert_int_equal(md.ram[1].base, 0x800000000ULL);
		assert_int_equal(md.zone_dma_limit, 0xffffffffULL);
		assert_int_equal(sim_machine_create(&md, &m, &why), 0);
		sim_dt_device_desc(d, 32, &sd);
		assert_string_equal(sd.name, "/axi/pcie@fd0e0000");
		assert_int_equal(sd.bus, DMAMAP_BUS_PCI);
		assert_int_equal(sd.addr_bits, 32);
		assert_int_equal(sd.nranges, 0);
		assert_int_equal(sim_device_create(m, &sd, &sdev), 0);
		sim_machine_destroy(m);
	}
	sim_dt_free(dt);
}

/* ---- real boards against Linux's answer ------------------------------------ */

/*
 * BOARD.linux.txt: one line per node, "PATH => [pci ]WINDOWS via VIA |
 * COHERENCY | IOMMU[ | bus_dma_limit 0x..]" where WINDOWS is "identity" or
 * "bus 0xA-0xB->cpu 0xC" (several joined by ", "), IOMMU "no-iommu",
 * "iommu PATH" or "iommu iommu-map(PATH,...)".  Returns 1 (and prints
 * both answers) when ours differs, else 0.
 */
static unsigned int check_node(const struct sim_dt *dt, const char *line)
{
	char path[512], rest[1024], want[1024], got[1024];
	const char *arrow = strstr(line, " => ");
	const struct sim_dt_device *d;
	size_t n = 0;

	assert_non_null(arrow);
	snprintf(path, sizeof(path), "%.*s", (int)(arrow - line), line);
	snprintf(rest, sizeof(rest), "%s", arrow + 4);
	rest[strcspn(rest, "\n")] = '\0';
	d = sim_dt_find(dt, path);
	if (!d) {
		print_error("%s: no answer (Linux: %s)\n", path, rest);
		return 1;
	}
	/* Our answer, written the way the file writes Linux's. */
	if (d->is_pci_dev)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "pci ");
	if (d->nranges == 0)
		n += (size_t)snprintf(got + n, sizeof(got) - n, "identity");
	for (unsigned int k = 0; k < d->nranges; k++)
		n += (size_t)snprintf(got + n, sizeof(got) - n,
				      "%sbus 0x%llx-0x%llx->cpu 0x%llx", k ? ", " : "",
				      (unsigned long long)d->ranges[k].dma,
				      (unsigned long long)(d->ranges[k].dma + d->ranges[k].size - 1),
				      (unsigned long long)d->ranges[k].cpu);
	n += (size_t)snprintf(got + n, sizeof(got) - n, " via %s | %s | ",
			      d->via ? d->via : "-",
			      d->coherent ? "coherent" : "non-coherent");
	if (d->is_pci_dev) {
		const struct sim_dt_device *host = &dt->devices[d->host];
		const struct sim_dt_iommu_map *m =
			d->has_rid ? sim_dt_map_rid(host, d->rid, NULL) : NULL;

		if (!host->niommu_map) {
			n += (size_t)snprintf(got + n, sizeof(got) - n, "no-iommu");
		} else {
			/* The file lists every entry's IOMMU; ours must be among them. */
			assert_non_null(m);
			assert_non_null(strstr(rest, m->iommu_path));
			n += (size_t)snprintf(got + n, sizeof(got) - n, "iommu iommu-map(");
			for (unsigned int k = 0; k < host->niommu_map; k++)
				n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s", k ? "," : "",
						      host->iommu_map[k].iommu_path);
			n += (size_t)snprintf(got + n, sizeof(got) - n, ")");
		}
	} else if (d->has_iommu && d->iommu_enabled) {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "iommu %s", d->iommu_path);
	} else {
		n += (size_t)snprintf(got + n, sizeof(got) - n, "no-iommu");
	}
	if (d->nranges)
		n += (size_t)snprintf(got + n, sizeof(got) - n, " | bus_dma_limit 0x%llx",
				      (unsigned long long)d->bus_dma_limit);
	snprintf(want, sizeof(want), "%s", rest);
	if (strcmp(want, got) != 0) {
		print_error("%s:\n  Linux:  %s\n  dmamap: %s\n", path, want, got);
		return 1;
	}
	return 0;
}

static void check_board(const char *name, unsigned int want_nodes, uint64_t want_max_cpu)
{
	char dts[512], txt[512], line[2048];
	struct sim_dt *dt;
	FILE *f;
	unsigned int nodes = 0, bad = 0, masters_checked = 0;
	bool ram_none = false;
	uint64_t ram_base = 0, ram_size = 0, zone = 0;

	snprintf(dts, sizeof(dts), "%s/%s.dts", DMAMAP_BOARD_DTS, name);
	snprintf(txt, sizeof(txt), "%s/%s.linux.txt", DMAMAP_BOARD_DTS, name);
	dt = load_ok(dts);
	f = fopen(txt, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, b;

		if (strncmp(line, "ram NONE", 8) == 0) {
			ram_none = true;
		} else if (sscanf(line, "ram 0x%llx+0x%llx", &a, &b) == 2) {
			ram_base = a;
			ram_size = b;
		} else if (sscanf(line, "zone_dma_limit 0x%llx", &a) == 1) {
			zone = a;
		} else if (strstr(line, " => ")) {
			char path[512];
			const struct sim_dt_device *d;

			nodes++;
			bad += check_node(dt, line);
			snprintf(path, sizeof(path), "%.*s",
				 (int)(strstr(line, " => ") - line), line);
			d = sim_dt_find(dt, path);
			masters_checked += d && d->master;
		}
	}
	fclose(f);
	/* Every node in the file is checked, and every node of ours is in it. */
	assert_int_equal(nodes, want_nodes);
	assert_int_equal(dt->ndevices, want_nodes);
	assert_int_equal(bad, 0);
	print_message("%s: %u nodes (%u DMA masters) match Linux's answer\n", name,
		      nodes, masters_checked);

	/* RAM, and the arm64 DMA zone for the file's RAM (or 8 GiB when firmware fills it). */
	assert_int_equal(dt->max_cpu_address, want_max_cpu);
	{
		struct sim_machine_desc md;
		char err[256];

		assert_int_equal(sim_dt_machine_desc(dt, &md, err, sizeof(err)), 0);
		assert_int_equal(md.arch, DMAMAP_ARCH_ARM64);
		if (ram_none) {
			assert_int_equal(dt->nram, 0);
			assert_int_equal(md.nram, 0);
			md.ram[0].base = 0x80000000ULL;
			md.ram[0].size = 8ULL << 30;
			md.nram = 1;
			sim_dt_zone_dma(dt, &md);
		} else {
			assert_int_equal(dt->nram, 1);
			assert_int_equal(dt->ram[0].base, ram_base);
			assert_int_equal(dt->ram[0].size, ram_size);
		}
		assert_int_equal(md.zone_dma_limit, zone);
	}
	sim_dt_free(dt);
}

static void test_linux_imx8mq(void **state)
{
	(void)state;
	check_board("imx8mq-evk", 101, 0xffffffffULL);
}

static void test_linux_tegra194(void **state)
{
	(void)state;
	check_board("tegra194-p2972-0000", 151, 0x7fffffffffULL);
}

static void test_linux_rb5(void **state)
{
	(void)state;
	check_board("qrb5165-rb5", 233, 0xfffffffffULL);
}

/* ---- small trees ------------------------------------------------------------ */

/* The rule tree: DMA parent by interconnect, PCI functions, of_map_id. */
static void test_rules(void **state)
{
	(void)state;
	struct sim_dt *dt = load_ok(T("rules.dts"));
	const struct sim_dt_device *d;
	uint32_t id = 0;

	/* interconnect-names "write", "dma-mem": the second entry (after a 0-cell one). */
	d = dev(dt, "/bus@0/ethernet@5000000");
	assert_string_equal(d->dma_parent, "/bus@0/memory-controller@2c00000");
	assert_string_equal(d->via, "/bus@0/memory-controller@2c00000");
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x0, 0x80000000ULL, 0x100000000ULL);
	assert_int_equal(d->bus_dma_limit, 0xffffffffULL);
	/* A device with ranges is still a device, and its children are too. */
	assert_true(dev(dt, "/bus@0/ethernet@7000000")->master);
	assert_true(dev(dt, "/bus@0/ethernet@7000000")->dma_user);
	assert_true(dev(dt, "/bus@0/ethernet@7000000/mdio@f00")->master);
	assert_null(sim_dt_find(dt, "/bus@0/ethernet@7000000/ethernet-ports"));
	/* A PCI function below a root port: the host's answer, RID from reg. */
	d = dev(dt, "/bus@0/pcie@10000000/pci@0,0/nvme@0,0");
	assert_true(d->is_pci_dev);
	assert_true(d->coherent);
	assert_true(d->has_rid);
	assert_int_equal(d->rid, 0x100);
	assert_string_equal(dt->devices[d->host].path, "/bus@0/pcie@10000000");
	assert_int_equal(d->restricted_pool, 0);
	/* A map entry whose base the mask drops: no translation for anyone. */
	d = dev(dt, "/bus@0/pcie@30000000");
	assert_int_equal(d->iommu_map_mask, 0xff00);
	assert_null(sim_dt_map_rid(d, 0x0, &id));
	assert_null(sim_dt_map_rid(d, 0x1, &id));
	/* The disabled SMMU's link is kept, marked disabled. */
	d = dev(dt, "/bus@0/pcie@20000000");
	assert_non_null(sim_dt_map_rid(d, 0x0, &id));
	assert_false(sim_dt_map_rid(d, 0x0, &id)->iommu_enabled);
	/* DART page sizes from the compatible, on the link too. */
	assert_int_equal(sim_dt_map_rid(d, 0x0, &id)->iommu_page_sizes,
			 (4ULL << 10) | (2ULL << 20) | (1ULL << 30));
	assert_int_equal(dev(dt, "/bus@0/usb@6000000")->iommu_page_sizes,
			 (16ULL << 10) | (32ULL << 20));
	sim_dt_free(dt);
}

static void test_offsets(void **state)
{
	(void)state;
	struct sim_dt *dt = load_ok(T("offsets.dts"));
	const struct sim_dt_device *d;
	struct sim_machine_desc md;
	char err[256];
	char *text;

	/* Three reg entries in two nodes: sorted, the adjacent two merged. */
	assert_int_equal(dt->nram, 2);
	assert_int_equal(dt->ram[0].base, 0);
	assert_int_equal(dt->ram[0].size, 0x80000000ULL);
	assert_int_equal(dt->ram[1].base, 0x100000000ULL);
	assert_int_equal(dt->ram[1].size, 0x40000000ULL);
	/* Every node with a compatible has an answer: three buses, three devices. */
	assert_int_equal(dt->ndevices, 6);
	assert_true(dev(dt, "/scb")->master);
	assert_true(dev(dt, "/scb/inner/dev@1000")->master);

	/* Two windows, each with its own offset. */
	d = dev(dt, "/scb/ethernet@7d580000");
	assert_true(d->coherent);
	assert_int_equal(d->nranges, 2);
	assert_win(d, 0, 0xc0000000ULL, 0x0, 0x40000000ULL);
	assert_win(d, 1, 0x400000000ULL, 0x100000000ULL, 0x40000000ULL);
	assert_int_equal(d->bus_dma_limit, 0x43fffffffULL);

	/* Nested: bus 0x10000000 -> scb 0xc8000000 -> cpu 0x08000000. */
	d = dev(dt, "/scb/inner/dev@1000");
	assert_false(d->coherent);
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x10000000ULL, 0x08000000ULL, 0x20000000ULL);
	assert_int_equal(d->bus_dma_limit, 0x2fffffffULL);

	/*
	 * Nested past the outer window's end: Linux translates only the
	 * window's start (of_translate_dma_address), so the whole 512 MiB
	 * stays, at cpu 0x30000000.
	 */
	d = dev(dt, "/scb/clipped/dev@2000");
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x0, 0x30000000ULL, 0x20000000ULL);
	assert_int_equal(d->bus_dma_limit, 0x1fffffffULL);
	assert_string_equal(d->via, "/scb/clipped");
	assert_string_equal(d->dma_parent, "/scb/clipped");

	text = explain(dt);
	assert_line(text, "device /scb/ethernet@7d580000 platform coherent "
			  "bus 0xc0000000-0xffffffff -> cpu 0x0-0x3fffffff, "
			  "bus 0x400000000-0x43fffffff -> cpu 0x100000000-0x13fffffff "
			  "iommu none");
	assert_line(text, "device /scb/inner/dev@1000 platform non-coherent "
			  "bus 0x10000000-0x2fffffff -> cpu 0x8000000-0x27ffffff "
			  "iommu none");
	free(text);

	assert_int_equal(sim_dt_machine_desc(dt, &md, err, sizeof(err)), 0);
	assert_int_equal(md.arch, DMAMAP_ARCH_ARM64);
	assert_int_equal(md.ncpus, 2);
	/*
	 * of_dma_get_max_cpu_address: the lowest top of any window is inner's
	 * cpu 0x27ffffff, and ZONE_DMA ends exactly there.
	 */
	assert_int_equal(dt->max_cpu_address, 0x27ffffffULL);
	assert_int_equal(md.zone_dma_limit, 0x27ffffffULL);
	{
		struct sim_device_desc sd;

		sim_dt_device_desc(dev(dt, "/scb/ethernet@7d580000"), 40, &sd);
		assert_int_equal(sd.bus, DMAMAP_BUS_PLATFORM);
		assert_true(sd.coherent);
		assert_int_equal(sd.nranges, 2);
		assert_int_equal(sd.ranges[1].dma, 0x400000000ULL);
		assert_int_equal(sd.bus_dma_limit, 0x43fffffffULL);
	}
	sim_dt_free(dt);
}

static void test_empty_dma_ranges(void **state)
{
	(void)state;
	struct sim_dt *dt = load_ok(T("empty.dts"));
	const struct sim_dt_device *d;
	struct sim_machine_desc md;
	char err[256];

	assert_int_equal(dt->ndevices, 10);
	/* Empty dma-ranges under a root without any: identity. */
	d = dev(dt, "/flat/dev@100");
	assert_int_equal(d->nranges, 0);
	assert_int_equal(d->bus_dma_limit, 0);
	/* Empty dma-ranges is skipped; the outer bus's window applies. */
	d = dev(dt, "/outer/skip/dev@200");
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x0, 0x10000000ULL, 0x40000000ULL);
	assert_int_equal(d->bus_dma_limit, 0x3fffffffULL);
	/*
	 * The first node of the walk (the DMA parent) may lack dma-ranges:
	 * the outer bus's window applies (of_dma_get_range).
	 */
	d = dev(dt, "/outer/nodma/dev@300");
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x0, 0x10000000ULL, 0x40000000ULL);
	assert_string_equal(d->via, "/outer");
	/* So does a bus's own entry: leaf starts at middle, which has none. */
	d = dev(dt, "/outer/middle/leaf");
	assert_int_equal(d->nranges, 1);
	assert_string_equal(d->via, "/outer");
	/* Absent dma-ranges in the middle is 1:1 while translating. */
	d = dev(dt, "/outer/middle/leaf/dev@400");
	assert_int_equal(d->nranges, 1);
	assert_win(d, 0, 0x80000000ULL, 0x11000000ULL, 0x01000000ULL);

	assert_int_equal(sim_dt_machine_desc(dt, &md, err, sizeof(err)), 0);
	assert_int_equal(md.arch, DMAMAP_ARCH_X86);
	assert_int_equal(md.zone_dma_limit, 0);
	sim_dt_free(dt);
}

static void test_pools_xen_bootargs(void **state)
{
	(void)state;
	struct sim_dt *dt = load_ok(T("pools.dts"));
	const struct sim_dt_device *d;
	const struct sim_dt_rmem *r;
	char *text;

	assert_true(dt->xen);
	assert_string_equal(dt->bootargs,
			    "console=hvc0 swiotlb=65536,force iommu=soft iommu.strict=0");
	assert_int_equal(dt->nram, 1);
	assert_int_equal(dt->ram[0].base, 0x40000000ULL);
	assert_int_equal(dt->ram[0].size, 0x80000000ULL);

	/* The disabled region is left out. */
	assert_int_equal(dt->nrmem, 3);
	r = &dt->rmem[0];
	assert_string_equal(r->path, "/reserved-memory/restricted@50000000");
	assert_int_equal(r->kind, SIM_DT_RMEM_RESTRICTED);
	assert_int_equal(r->base, 0x50000000ULL);
	assert_int_equal(r->size, 0x400000ULL);
	assert_false(r->no_map);
	assert_false(r->dynamic);
	r = &dt->rmem[1];
	assert_string_equal(r->name, "linux,cma");
	assert_int_equal(r->kind, SIM_DT_RMEM_SHARED);
	assert_true(r->dynamic);
	assert_true(r->reusable);
	assert_int_equal(r->size, 0x2000000ULL);
	r = &dt->rmem[2];
	assert_int_equal(r->kind, SIM_DT_RMEM_OTHER);
	assert_true(r->no_map);
	assert_int_equal(r->base, 0x60000000ULL);

	/* Masters: /hypervisor, /soc and its two devices; reserved regions are not. */
	assert_int_equal(nmasters(dt), 4);
	assert_false(dev(dt, "/reserved-memory/restricted@50000000")->master);
	assert_null(sim_dt_find(dt, "/soc/disabled@30000000"));
	d = dev(dt, "/soc/wifi@10000000");
	assert_int_equal(d->restricted_pool, 0);
	assert_int_equal(d->shared_pool, -1);
	assert_int_equal(dt->rmem[d->restricted_pool].base, 0x50000000ULL);
	assert_int_equal(dt->rmem[d->restricted_pool].size, 0x400000ULL);
	d = dev(dt, "/soc/gpu@20000000");
	assert_int_equal(d->restricted_pool, -1);
	assert_int_equal(d->shared_pool, 1);
	assert_true(d->coherent);

	text = explain(dt);
	assert_line(text, "hypervisor xen");
	assert_line(text, "bootargs \"console=hvc0 swiotlb=65536,force iommu=soft "
			  "iommu.strict=0\"");
	assert_line(text, "reserved /reserved-memory/restricted@50000000 "
			  "0x50000000-0x503fffff restricted-dma-pool");
	assert_line(text, "reserved /reserved-memory/linux,cma dynamic size "
			  "0x2000000 shared-dma-pool reusable");
	assert_line(text, "reserved /reserved-memory/firmware@60000000 "
			  "0x60000000-0x600fffff other no-map");
	assert_line(text, "device /soc/wifi@10000000 platform non-coherent "
			  "identity (no dma-ranges) iommu none restricted-pool "
			  "/reserved-memory/restricted@50000000 0x50000000-0x503fffff");
	free(text);
	sim_dt_free(dt);
}

static void test_iommu(void **state)
{
	(void)state;
	struct sim_dt *dt = load_ok(T("iommu.dts"));
	const struct sim_dt_device *d;
	char *text;

	assert_null(dt->bootargs);
	assert_false(dt->xen);
	assert_int_equal(dt->nram, 2);
	assert_int_equal(dt->ram[1].base, 0x880000000ULL);
	assert_int_equal(dt->ram[1].size, 0x180000000ULL);
	/* Every node with a compatible; the disabled IOMMU is left out. */
	assert_int_equal(dt->ndevices, 5);
	assert_null(sim_dt_find(dt, "/soc/iommu@2b500000"));
	assert_false(dev(dt, "/soc")->dma_user);
	assert_true(dev(dt, "/soc/dma@7ff00000")->dma_user);
	/* IOMMU page sizes follow the IOMMU's compatible (MMU-500: 4K/2M/1G). */
	assert_int_equal(dev(dt, "/soc/dma@7ff00000")->iommu_page_sizes,
			 (4ULL << 10) | (2ULL << 20) | (1ULL << 30));
	assert_string_equal(dev(dt, "/soc/dma@7ff00000")->iommu_compatible, "arm,mmu-500");

	d = dev(dt, "/soc/dma@7ff00000");
	assert_true(d->coherent); /* inherited from /soc */
	assert_true(d->has_iommu);
	assert_true(d->iommu_enabled);
	assert_string_equal(d->iommu_path, "/soc/iommu@2b400000");
	assert_int_equal(d->iommu_ncells, 1);
	assert_int_equal(d->iommu_cells[0], 0x14); /* the first entry */

	d = dev(dt, "/soc/video@7ff10000");
	assert_false(d->coherent); /* dma-noncoherent wins */
	assert_false(d->iommu_enabled);
	assert_int_equal(d->iommu_ncells, 2);
	assert_int_equal(d->iommu_cells[0], 3);
	assert_int_equal(d->iommu_cells[1], 7);

	d = dev(dt, "/soc/pcie@40000000");
	assert_true(d->is_pci);
	assert_true(d->coherent);
	assert_false(d->has_iommu);
	assert_int_equal(d->niommu_map, 2);
	assert_int_equal(d->iommu_map[0].rid_base, 0x0);
	assert_string_equal(d->iommu_map[0].iommu_path, "/soc/iommu@2b400000");
	assert_int_equal(d->iommu_map[0].iommu_base, 0x100);
	assert_int_equal(d->iommu_map[0].length, 0x100);
	assert_true(d->iommu_map[0].iommu_enabled);
	assert_int_equal(d->iommu_map[1].rid_base, 0x100);
	assert_string_equal(d->iommu_map[1].iommu_path, "/soc/iommu@2b500000");
	assert_int_equal(d->iommu_map[1].iommu_base, 0x0);
	assert_int_equal(d->iommu_map[1].length, 0x8);
	assert_false(d->iommu_map[1].iommu_enabled);
	/*
	 * 3-cell PCI dma-ranges: bus 0 -> cpu 0x8_80000000, 2 GiB, for the
	 * devices behind the bridge; the bridge itself (a platform device)
	 * starts at /soc, which has none.
	 */
	assert_true(d->pci_host);
	assert_int_equal(d->nranges, 0);
	assert_int_equal(d->behind.nranges, 1);
	assert_int_equal(d->behind.ranges[0].dma, 0);
	assert_int_equal(d->behind.ranges[0].cpu, 0x880000000ULL);
	assert_int_equal(d->behind.ranges[0].size, 0x80000000ULL);
	assert_string_equal(d->behind.via, "/soc/pcie@40000000");
	/* of_map_id with iommu-map-mask 0xff00: RID 0x0012 -> 0x100, 0x0105 -> 0x100 on the off one. */
	{
		uint32_t id = 0;
		const struct sim_dt_iommu_map *m = sim_dt_map_rid(d, 0x0012, &id);

		assert_non_null(m);
		assert_string_equal(m->iommu_path, "/soc/iommu@2b400000");
		assert_int_equal(id, 0x100);
		m = sim_dt_map_rid(d, 0x0105, &id);
		assert_non_null(m);
		assert_string_equal(m->iommu_path, "/soc/iommu@2b500000");
		assert_false(m->iommu_enabled);
		assert_int_equal(id, 0x0);
		assert_null(sim_dt_map_rid(d, 0x0800, &id));
	}

	text = explain(dt);
	assert_line(text, "device /soc/pcie@40000000 pci coherent "
			  "bus 0x0-0x7fffffff -> cpu 0x880000000-0x8ffffffff "
			  "iommu none iommu-map rid 0x0+0x100 -> "
			  "/soc/iommu@2b400000#0x100 enabled iommu-map rid "
			  "0x100+0x8 -> /soc/iommu@2b500000#0x0 disabled");
	assert_line(text, "device /soc/video@7ff10000 platform non-coherent "
			  "identity (no dma-ranges) iommu "
			  "/soc/iommu@2b500000#0x3,0x7 disabled");
	free(text);
	sim_dt_free(dt);
}

/* ---- bad input ------------------------------------------------------------- */

static void load_fails(const char *path, int want_rc, const char *want_prefix)
{
	struct sim_dt *dt = (struct sim_dt *)1;
	char err[512] = "";
	int rc = sim_dt_load(path, &dt, err, sizeof(err));

	if (rc != want_rc || strncmp(err, want_prefix, strlen(want_prefix)))
		print_error("%s: rc %d err '%s', want %d '%s...'\n", path, rc,
			    err, want_rc, want_prefix);
	assert_int_equal(rc, want_rc);
	assert_null(dt);
	assert_int_equal(strncmp(err, want_prefix, strlen(want_prefix)), 0);
	assert_null(strchr(err, '\n'));
}

static void test_missing_file(void **state)
{
	(void)state;
	load_fails(T("no-such-board.dts"), -ENOENT,
		   T("no-such-board.dts") ": cannot open:");
	load_fails(T("no-such-board.dtb"), -ENOENT,
		   T("no-such-board.dtb") ": cannot open:");
}

static void test_syntax_error(void **state)
{
	(void)state;
	/* dtc's own message: file and line. */
	load_fails(T("syntax.dts"), -EINVAL, T("syntax.dts") ":8.");
}

static void test_bad_cells(void **state)
{
	(void)state;
	load_fails(T("bad_cells.dts"), -EINVAL,
		   T("bad_cells.dts") ": /wide/dev@0: reg: parent "
		   "#address-cells = 3 not supported");
}

static void test_missing_phandle(void **state)
{
	(void)state;
	load_fails(T("bad_phandle.dts"), -EINVAL,
		   T("bad_phandle.dts") ": /dev@1000: memory-region references "
		   "missing phandle 0x4242");
}

/* A small valid blob, written whole or cut short, named .dtb. */
static void write_blob(char *path, size_t keep_num, size_t keep_den)
{
	static char buf[4096];
	FILE *f;
	int fd;

	assert_int_equal(fdt_create(buf, sizeof(buf)), 0);
	assert_int_equal(fdt_finish_reservemap(buf), 0);
	assert_int_equal(fdt_begin_node(buf, ""), 0);
	assert_int_equal(fdt_property_u32(buf, "#address-cells", 1), 0);
	assert_int_equal(fdt_property_u32(buf, "#size-cells", 1), 0);
	assert_int_equal(fdt_begin_node(buf, "memory@0"), 0);
	assert_int_equal(fdt_property_string(buf, "device_type", "memory"), 0);
	{
		fdt32_t reg[2] = { cpu_to_fdt32(0), cpu_to_fdt32(0x10000000) };

		assert_int_equal(fdt_property(buf, "reg", reg, sizeof(reg)), 0);
	}
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_end_node(buf), 0);
	assert_int_equal(fdt_finish(buf), 0);

	fd = mkstemps(path, 4);
	tu_assert_ge(fd, 0);
	f = fdopen(fd, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, fdt_totalsize(buf) * keep_num / keep_den, f),
			 fdt_totalsize(buf) * keep_num / keep_den);
	fclose(f);
}

static void test_dtb(void **state)
{
	(void)state;
	char whole[] = "/tmp/test_dt-XXXXXX.dtb";
	char half[] = "/tmp/test_dt-XXXXXX.dtb";
	char prefix[64];
	struct sim_dt *dt;

	/* A .dtb is read directly. */
	write_blob(whole, 1, 1);
	dt = load_ok(whole);
	assert_int_equal(dt->nram, 1);
	assert_int_equal(dt->ram[0].size, 0x10000000ULL);
	assert_int_equal(dt->ndevices, 0);
	sim_dt_free(dt);
	unlink(whole);

	/* Truncated: rejected, never parsed. */
	write_blob(half, 1, 2);
	snprintf(prefix, sizeof(prefix), "%s: /: malformed device tree blob:",
		 half);
	load_fails(half, -EINVAL, prefix);
	unlink(half);

	/* Not a device tree at all. */
	{
		char junk[] = "/tmp/test_dt-XXXXXX.dtb";
		int fd = mkstemps(junk, 4);

		tu_assert_ge(fd, 0);
		assert_int_equal(write(fd, "hello, world\n", 13), 13);
		close(fd);
		snprintf(prefix, sizeof(prefix),
			 "%s: /: malformed device tree blob:", junk);
		load_fails(junk, -EINVAL, prefix);
		unlink(junk);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zynqmp),
		cmocka_unit_test(test_linux_imx8mq),
		cmocka_unit_test(test_linux_tegra194),
		cmocka_unit_test(test_linux_rb5),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_empty_dma_ranges),
		cmocka_unit_test(test_pools_xen_bootargs),
		cmocka_unit_test(test_iommu),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_syntax_error),
		cmocka_unit_test(test_bad_cells),
		cmocka_unit_test(test_missing_phandle),
		cmocka_unit_test(test_dtb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
