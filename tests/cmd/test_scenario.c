/*
 * tests/cmd/test_scenario.c - the scenario file loader (tools/scenario.c).
 *
 * Owns: proofs that every key of the scenario format is read into exactly
 * the value written, that defaults are what scenario.h says, and that
 * each kind of bad input gets exactly one line naming the file, the line
 * and the key.  Reads tests/scenarios/ and writes only its own temporary
 * files; never touches the library or the simulator.
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

#include "scenario.h"

#ifndef SCN_TEST_DIR
#error "SCN_TEST_DIR must name tests/scenarios"
#endif

#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)
#define TIB (1ULL << 40)

static struct scn *load_ok(const char *file)
{
	char path[1024], err[1024] = "unset";
	snprintf(path, sizeof(path), "%s/%s", SCN_TEST_DIR, file);
	struct scn *s = NULL;
	int r = scn_load(path, &s, err, sizeof(err));
	if (r)
		print_error("scn_load(%s): %d: %s\n", file, r, err);
	assert_int_equal(r, 0);
	assert_non_null(s);
	return s;
}

/* Loads a bad file; the error must be exactly "<path>:<line>: <msg>". */
static void expect_error(const char *file, int line, const char *msg)
{
	char path[1024], want[2048], err[2048];
	snprintf(path, sizeof(path), "%s/%s", SCN_TEST_DIR, file);
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	struct scn *s = (struct scn *)&s; /* must be reset to NULL */
	int r = scn_load(path, &s, err, sizeof(err));
	if (strcmp(err, want))
		print_error("%s\n got: %s\nwant: %s\n", file, err, want);
	assert_int_equal(r, -EINVAL);
	assert_null(s);
	assert_string_equal(err, want);
	assert_null(strchr(err, '\n'));
}

/* Writes text to a temporary .yaml file; returns its path (free it). */
static char *tmp_yaml(const char *text)
{
	char *path = strdup("/tmp/test_scenario_XXXXXX.yaml");
	assert_non_null(path);
	int fd = mkstemps(path, 5);
	tu_assert_ge(fd, 0);
	size_t len = strlen(text);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static void expect_tmp_error(const char *text, int line, const char *msg)
{
	char *path = tmp_yaml(text);
	char want[2048], err[2048];
	snprintf(want, sizeof(want), "%s:%d: %s", path, line, msg);
	struct scn *s = NULL;
	int r = scn_load(path, &s, err, sizeof(err));
	unlink(path);
	if (strcmp(err, want))
		print_error(" got: %s\nwant: %s\n", err, want);
	assert_int_equal(r, -EINVAL);
	assert_null(s);
	assert_string_equal(err, want);
	free(path);
}

/* ---- sizes ------------------------------------------------------------------ */

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_int_equal(scn_parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(scn_parse_size("1514", &v), 0);
	assert_int_equal(v, 1514);
	assert_int_equal(scn_parse_size("0x100000000", &v), 0);
	assert_int_equal(v, 4 * GIB);
	assert_int_equal(scn_parse_size("0XfF", &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(scn_parse_size("4K", &v), 0);
	assert_int_equal(v, 4 * KIB);
	assert_int_equal(scn_parse_size("64M", &v), 0);
	assert_int_equal(v, 64 * MIB);
	assert_int_equal(scn_parse_size("2g", &v), 0);
	assert_int_equal(v, 2 * GIB);
	assert_int_equal(scn_parse_size("3T", &v), 0);
	assert_int_equal(v, 3 * TIB);
	assert_int_equal(scn_parse_size("0x10M", &v), 0);
	assert_int_equal(v, 16 * MIB);
	assert_int_equal(scn_parse_size("010", &v), 0); /* decimal, not octal */
	assert_int_equal(v, 10);
	assert_int_equal(scn_parse_size("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(scn_parse_size("0xffffffffffffffff", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(scn_parse_size("16777215T", &v), 0);
	assert_int_equal(v, 16777215ULL << 40);

	v = 42;
	static const char *const bad[] = { "", "12Q", "K", "0x", "0xK", "-1",
					   "+1", " 1", "1 ", "1KB", "1.5G",
					   "1KK", "0x1g2", "ten" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (scn_parse_size(bad[i], &v) != -EINVAL)
			print_error("accepted '%s'\n", bad[i]);
		assert_int_equal(scn_parse_size(bad[i], &v), -EINVAL);
	}
	assert_int_equal(v, 42); /* untouched on failure */
	assert_int_equal(scn_parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(scn_parse_size("0x10000000000000000", &v), -ERANGE);
	assert_int_equal(scn_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(scn_parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(v, 42);
	assert_int_equal(scn_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(scn_parse_size("1", NULL), -EINVAL);
}

/* ---- valid files --------------------------------------------------------- */

static void test_example(void **state)
{
	(void)state;
	struct scn *s = load_ok("pvh-dom0-gpu-nic.yaml");
	assert_string_equal(s->name, "pvh-dom0-gpu-nic");
	assert_false(s->has_dt);
	assert_string_equal(s->dt, "");

	assert_int_equal(s->nram, 2);
	assert_int_equal(s->ram[0].base, 0);
	assert_int_equal(s->ram[0].size, 2 * GIB);
	assert_int_equal(s->ram[0].line, 5);
	assert_int_equal(s->ram[1].base, 4 * GIB);
	assert_int_equal(s->ram[1].size, 6 * GIB);
	assert_int_equal(s->ram[1].line, 6);

	assert_int_equal(s->niommus, 1);
	assert_string_equal(s->iommus[0].name, "smmu0");
	assert_int_equal(s->iommus[0].npage_sizes, 3);
	assert_int_equal(s->iommus[0].page_sizes[0], 4 * KIB);
	assert_int_equal(s->iommus[0].page_sizes[1], 2 * MIB);
	assert_int_equal(s->iommus[0].page_sizes[2], GIB);

	assert_int_equal(s->ndevices, 3);
	const struct scn_device *gpu = &s->devices[0], *nic = &s->devices[1],
				*hba = &s->devices[2];
	assert_string_equal(gpu->name, "gpu");
	assert_int_equal(gpu->bus, SCN_BUS_PCI);
	assert_int_equal(gpu->dma_bits, 44);
	assert_true(gpu->coherent);
	assert_string_equal(gpu->iommu, "smmu0");
	assert_false(gpu->hotplug);
	assert_false(gpu->untrusted);
	assert_int_equal(gpu->restricted_pool, 0);
	assert_int_equal(gpu->ndma_ranges, 0);
	assert_int_equal(gpu->bus_dma_limit, 0);
	assert_int_equal(gpu->given, SCN_HAS_BUS | SCN_HAS_COHERENT | SCN_HAS_IOMMU);
	assert_int_equal(gpu->line, 10);

	assert_string_equal(nic->name, "nic");
	assert_int_equal(nic->bus, SCN_BUS_PCI);
	assert_int_equal(nic->dma_bits, 32);
	assert_false(nic->coherent);
	assert_string_equal(nic->iommu, "");
	assert_false(nic->hotplug);
	assert_int_equal(nic->given, SCN_HAS_BUS | SCN_HAS_COHERENT);
	assert_int_equal(nic->line, 11);

	assert_string_equal(hba->name, "hba");
	assert_int_equal(hba->dma_bits, 32);
	assert_true(hba->coherent);
	assert_true(hba->hotplug);
	assert_int_equal(hba->given, SCN_HAS_BUS | SCN_HAS_COHERENT | SCN_HAS_HOTPLUG);

	assert_true(s->has_hypervisor);
	assert_int_equal(s->hv.type, SCN_HV_XEN);
	assert_int_equal(s->hv.arch, SCN_HV_ARCH_X86);
	assert_int_equal(s->hv.domain, SCN_HV_DOM0);
	assert_int_equal(s->hv.mode, SCN_HV_PVH);
	assert_int_equal(s->hv.features, SCN_FEAT_DOM0_IOMMU);
	assert_int_equal(s->hv.p2m, SCN_P2M_IDENTITY);
	assert_int_equal(s->hv.policy, SCN_POLICY_PER_DEVICE);
	assert_int_equal(s->hv.line, 13);

	assert_true(s->has_bootargs);
	assert_string_equal(s->bootargs, "swiotlb=32768,force iommu.strict=1");

	assert_int_equal(s->nworkloads, 2);
	const struct scn_workload *w = &s->workloads[0];
	assert_string_equal(w->device, "nic");
	assert_int_equal(w->kind, SCN_KIND_NIC);
	assert_int_equal(w->count, 100000);
	assert_int_equal(w->size, 1514);
	assert_int_equal(w->buffers, SCN_BUF_HIGH);
	assert_false(w->has_seed);
	assert_int_equal(w->dir, SCN_DIR_DEFAULT);
	assert_int_equal(w->segments, 0);
	assert_int_equal(w->max_segment_size, 0);
	assert_int_equal(w->boundary, 0);
	assert_int_equal(w->line, 17);
	w = &s->workloads[1];
	assert_string_equal(w->device, "gpu");
	assert_int_equal(w->kind, SCN_KIND_GPU);
	assert_int_equal(w->count, 100);
	assert_int_equal(w->size, 64 * MIB);
	assert_int_equal(w->buffers, SCN_BUF_ANY);
	assert_int_equal(w->line, 18);

	assert_int_equal(s->nexpects, 3);
	const struct scn_expect *x = s->expects;
	assert_string_equal(x[0].device, "gpu");
	assert_string_equal(x[0].counter, "bounced_bytes");
	assert_int_equal(x[0].cmp, SCN_CMP_EQ);
	assert_int_equal(x[0].value, 0);
	assert_int_equal(x[0].line, 20);
	assert_string_equal(x[1].device, "nic");
	assert_string_equal(x[1].counter, "map_failures");
	assert_int_equal(x[1].cmp, SCN_CMP_EQ);
	assert_int_equal(x[1].value, 0);
	assert_int_equal(x[1].line, 21);
	assert_string_equal(x[2].device, "nic");
	assert_string_equal(x[2].counter, "bounced_bytes");
	assert_int_equal(x[2].cmp, SCN_CMP_GT);
	assert_int_equal(x[2].value, 0);
	scn_free(s);
}

static void test_tree_names(void **state)
{
	(void)state;
	struct scn *s = load_ok("arm-dt.yaml");
	assert_string_equal(s->name, "arm dom0: tree");
	assert_true(s->has_dt);
	assert_string_equal(s->dt, SCN_TEST_DIR "/boards/rpi4.dts");
	assert_int_equal(s->dt_line, 4);
	assert_int_equal(s->nram, 1);
	assert_int_equal(s->ram[0].base, 0x40000000);
	assert_int_equal(s->ram[0].size, 0x3c000000);
	assert_int_equal(s->niommus, 0);

	assert_int_equal(s->ndevices, 2);
	const struct scn_device *d = &s->devices[0];
	assert_string_equal(d->name, "/scb/ethernet@7d580000");
	assert_int_equal(d->bus, SCN_BUS_PLATFORM);
	assert_int_equal(d->dma_bits, 40);
	assert_false(d->coherent); /* platform default */
	assert_int_equal(d->ndma_ranges, 2);
	assert_int_equal(d->dma_ranges[0].cpu, 0);
	assert_int_equal(d->dma_ranges[0].dma, 0xc0000000);
	assert_int_equal(d->dma_ranges[0].size, GIB);
	assert_int_equal(d->dma_ranges[1].cpu, 0x40000000);
	assert_int_equal(d->dma_ranges[1].dma, 0x40000000);
	assert_int_equal(d->dma_ranges[1].size, 0xc0000000);
	assert_int_equal(d->bus_dma_limit, 0x3fffffff);
	assert_int_equal(d->restricted_pool, 4 * MIB);
	assert_true(d->untrusted);
	assert_string_equal(d->iommu, "/iommu@fe000000"); /* a tree path, kept */
	assert_int_equal(d->given, SCN_HAS_BUS | SCN_HAS_DMA_RANGES |
					   SCN_HAS_BUS_DMA_LIMIT |
					   SCN_HAS_RESTRICTED_POOL |
					   SCN_HAS_UNTRUSTED | SCN_HAS_IOMMU);
	assert_int_equal(d->line, 9);
	assert_string_equal(s->devices[1].name, "emmc");
	assert_int_equal(s->devices[1].dma_bits, 32);
	assert_false(s->devices[1].coherent);

	assert_true(s->has_hypervisor);
	assert_int_equal(s->hv.type, SCN_HV_XEN);
	assert_int_equal(s->hv.arch, SCN_HV_ARCH_ARM);
	assert_int_equal(s->hv.domain, SCN_HV_DOM0);
	assert_int_equal(s->hv.mode, SCN_HV_MODE_UNSET);
	assert_int_equal(s->hv.features, SCN_FEAT_DIRECT_MAPPED);
	assert_int_equal(s->hv.p2m, SCN_P2M_COLORED);
	assert_int_equal(s->hv.policy, SCN_POLICY_LINUX);

	assert_true(s->has_bootargs);
	assert_string_equal(s->bootargs, "");

	assert_int_equal(s->nworkloads, 3);
	const struct scn_workload *w = &s->workloads[0];
	assert_string_equal(w->device, "/scb/ethernet@7d580000");
	assert_int_equal(w->kind, SCN_KIND_XEN_BACKEND);
	assert_int_equal(w->count, 1024);
	assert_int_equal(w->size, 0x10000);
	assert_int_equal(w->buffers, SCN_BUF_LOW);
	assert_true(w->has_seed);
	assert_int_equal(w->seed, 0xdeadbeef);
	assert_int_equal(w->dir, SCN_DIR_BIDI);
	assert_int_equal(w->segments, 16);
	assert_int_equal(w->max_segment_size, 64 * KIB);
	assert_int_equal(w->boundary, 0xffffffff);
	assert_int_equal(w->line, 30);
	assert_string_equal(s->workloads[1].device, "emmc");
	assert_int_equal(s->workloads[1].kind, SCN_KIND_BLK);
	assert_int_equal(s->workloads[1].dir, SCN_DIR_FROM);
	assert_int_equal(s->workloads[1].count, 0);
	/* Not declared in the file, but a tree path with a dt: kept. */
	assert_string_equal(s->workloads[2].device, "/soc/mmc@7e300000");
	assert_int_equal(s->workloads[2].kind, SCN_KIND_ADVERSARIAL);
	assert_int_equal(s->workloads[2].dir, SCN_DIR_TO);

	assert_int_equal(s->nexpects, 6);
	const struct scn_expect *x = s->expects;
	static const struct {
		const char *device, *counter;
		enum scn_cmp cmp;
		uint64_t value;
		int line;
	} want[] = {
		{ "/scb/ethernet@7d580000", "integrity_errors", SCN_CMP_EQ, 0, 43 },
		{ "/scb/ethernet@7d580000", "faults", SCN_CMP_LE, 2048, 43 },
		{ "/scb/ethernet@7d580000", "maps", SCN_CMP_GE, 16, 43 },
		{ "/scb/ethernet@7d580000", "bytes_mapped", SCN_CMP_LT, GIB, 43 },
		{ "", "bus_errors", SCN_CMP_NE, 0, 44 },
		{ "", "swiotlb_used", SCN_CMP_EQ, 4096, 44 },
	};
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(x[i].device, want[i].device);
		assert_string_equal(x[i].counter, want[i].counter);
		assert_int_equal(x[i].cmp, want[i].cmp);
		assert_int_equal(x[i].value, want[i].value);
		assert_int_equal(x[i].line, want[i].line);
	}
	scn_free(s);
}

static void test_minimal_defaults(void **state)
{
	(void)state;
	struct scn *s = load_ok("minimal.yaml");
	assert_string_equal(s->name, "minimal");
	assert_false(s->has_dt);
	assert_int_equal(s->nram, 1);
	assert_int_equal(s->ram[0].base, 0);
	assert_int_equal(s->ram[0].size, 256 * MIB);
	assert_int_equal(s->niommus, 0);
	assert_int_equal(s->ndevices, 0);
	assert_false(s->has_hypervisor);
	assert_false(s->has_bootargs);
	assert_int_equal(s->nworkloads, 0);
	assert_int_equal(s->nexpects, 0);
	scn_free(s);
	scn_free(NULL);
}

static void test_dt_path_resolution(void **state)
{
	(void)state;
	/* Absolute: kept.  Relative: against the file's folder (/tmp). */
	char *p = tmp_yaml("name: x\nplatform: {dt: /boards/a.dtb}\n");
	struct scn *s = NULL;
	char err[512];
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), 0);
	assert_string_equal(s->dt, "/boards/a.dtb");
	assert_int_equal(s->nram, 0); /* the tree gives it */
	scn_free(s);
	unlink(p);
	free(p);
	p = tmp_yaml("name: x\nplatform: {dt: b/c.dts}\n");
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), 0);
	assert_string_equal(s->dt, "/tmp/b/c.dts");
	scn_free(s);
	unlink(p);
	free(p);
}

static void test_defaults_and_coercions(void **state)
{
	(void)state;
	char *p = tmp_yaml(
		"name: d\n"
		"platform:\n"
		"  ram: [{base: 0, size: 1G}]\n"
		"  devices:\n"
		"    - {name: p, bus: platform, dma_bits: 64, coherent: TRUE}\n"
		"    - {name: q, dma_bits: '1', hotplug: no}\n"
		"hypervisor: {mode: pv}\n"
		"workloads: [{device: q, kind: gpu, seed: 0}]\n"
		"expect: [{device: p, maps: '>= 3K'}]\n");
	struct scn *s = NULL;
	char err[512] = "";
	int r = scn_load(p, &s, err, sizeof(err));
	unlink(p);
	free(p);
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_int_equal(s->devices[0].bus, SCN_BUS_PLATFORM);
	assert_int_equal(s->devices[0].dma_bits, 64);
	assert_true(s->devices[0].coherent);
	assert_int_equal(s->devices[1].bus, SCN_BUS_PCI);
	assert_int_equal(s->devices[1].dma_bits, 1);
	assert_true(s->devices[1].coherent); /* pci default */
	assert_false(s->devices[1].hotplug);
	assert_int_equal(s->devices[1].given, SCN_HAS_HOTPLUG);
	assert_true(s->has_hypervisor);
	assert_int_equal(s->hv.type, SCN_HV_XEN);
	assert_int_equal(s->hv.arch, SCN_HV_ARCH_UNSET);
	assert_int_equal(s->hv.mode, SCN_HV_PV);
	assert_int_equal(s->hv.policy, SCN_POLICY_PER_DEVICE);
	assert_true(s->workloads[0].has_seed);
	assert_int_equal(s->workloads[0].seed, 0);
	assert_int_equal(s->expects[0].cmp, SCN_CMP_GE);
	assert_int_equal(s->expects[0].value, 3072);
	scn_free(s);
}

/* The Xen model's keys, each read into exactly the value written. */
static void test_xen_keys(void **state)
{
	(void)state;
	char *p = tmp_yaml("name: x\n"
			   "platform:\n"
			   "  ram: [{base: 0, size: 1G}]\n"
			   "  devices: [{name: nic, dma_bits: 32}]\n"
			   "hypervisor:\n"
			   "  arch: arm\n"
			   "  p2m: colored\n"
			   "  features: [not_direct_mapped, p2m_query]\n"
			   "  lowmem: 64M\n"
			   "  host_ram:\n"
			   "    - {base: 0, size: 2G}\n"
			   "    - {base: 0x800000000, size: 2G}\n"
			   "  colors: 8\n"
			   "  os_colors: 0x0f\n"
			   "  domus: 3\n"
			   "workloads:\n"
			   "  - {device: nic, kind: xen-backend, segments: 2}\n");
	struct scn *s = NULL;
	char err[512] = "";
	int r = scn_load(p, &s, err, sizeof(err));
	unlink(p);
	free(p);
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	const struct scn_hypervisor *hv = &s->hv;
	assert_int_equal(hv->arch, SCN_HV_ARCH_ARM);
	assert_int_equal(hv->p2m, SCN_P2M_COLORED);
	assert_true(hv->has_features);
	assert_int_equal(hv->features, SCN_FEAT_NOT_DIRECT_MAPPED | SCN_FEAT_P2M_QUERY);
	assert_int_equal(hv->lowmem, 64 * MIB);
	assert_int_equal(hv->nhost_ram, 2);
	assert_int_equal(hv->host_ram[1].base, 32 * GIB);
	assert_int_equal(hv->host_ram[1].size, 2 * GIB);
	assert_int_equal(hv->host_ram[1].line, 12);
	assert_int_equal(hv->host_ram_line, 11);
	assert_int_equal(hv->colors, 8);
	assert_int_equal(hv->colors_line, 13);
	assert_int_equal(hv->os_colors, 0xf);
	assert_false(hv->has_seed);
	assert_true(hv->has_domus);
	assert_int_equal(hv->domus, 3);
	assert_int_equal(hv->domus_line, 15);
	assert_int_equal(hv->p2m_line, 7);
	assert_int_equal(hv->features_line, 8);
	assert_int_equal(hv->mode_line, 0);
	assert_int_equal(s->workloads[0].kind, SCN_KIND_XEN_BACKEND);
	scn_free(s);

	/* colors needs p2m colored, written after it here: order does not matter. */
	p = tmp_yaml("name: y\n"
		     "platform: {ram: [{base: 0, size: 1G}]}\n"
		     "hypervisor: {colors: 2, os_colors: 1, p2m: colored, domus: 0}\n");
	r = scn_load(p, &s, err, sizeof(err));
	unlink(p);
	free(p);
	assert_int_equal(r, 0);
	assert_int_equal(s->hv.colors, 2);
	assert_int_equal(s->hv.os_colors, 1);
	assert_true(s->hv.has_domus);
	assert_int_equal(s->hv.domus, 0);
	scn_free(s);
	/* seed with pv's default p2m (scattered); features [] means none. */
	p = tmp_yaml("name: z\n"
		     "platform: {ram: [{base: 0, size: 1G}]}\n"
		     "hypervisor: {mode: pv, domain: domU, seed: 0x5eed, features: []}\n");
	r = scn_load(p, &s, err, sizeof(err));
	unlink(p);
	free(p);
	assert_int_equal(r, 0);
	assert_true(s->hv.has_seed);
	assert_int_equal(s->hv.seed, 0x5eed);
	assert_int_equal(s->hv.seed_line, 3);
	assert_true(s->hv.has_features);
	assert_int_equal(s->hv.features, 0);
	assert_false(s->hv.has_domus);
	assert_int_equal(s->hv.lowmem, 0);
	assert_int_equal(s->hv.nhost_ram, 0);
	scn_free(s);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(scn_kind_name(SCN_KIND_XEN_BACKEND), "xen-backend");
	assert_string_equal(scn_kind_name(SCN_KIND_ADVERSARIAL), "adversarial");
	assert_string_equal(scn_kind_name((enum scn_kind)99), "?");
	assert_string_equal(scn_cmp_name(SCN_CMP_GE), ">=");
	assert_string_equal(scn_cmp_name(SCN_CMP_NE), "!=");
	assert_string_equal(scn_cmp_name((enum scn_cmp)-1), "?");
}

/* ---- bad files --------------------------------------------------------------- */

static void test_bad_files(void **state)
{
	(void)state;
	expect_error("bad-unknown-key.yaml", 7,
		     "platform.devices[0]: unknown key 'colour' (valid: name, bus, "
		     "dma_bits, coherent, iommu, hotplug, untrusted, restricted_pool, "
		     "dma_ranges, bus_dma_limit, domain)");
	expect_error("bad-unknown-top.yaml", 4,
		     "top level: unknown key 'workload' (valid: name, platform, "
		     "hypervisor, bootargs, workloads, expect)");
	expect_error("bad-type.yaml", 4,
		     "platform.ram: expected a list, got a mapping");
	expect_error("bad-scalar.yaml", 2,
		     "platform: expected a mapping, got a scalar");
	expect_error("bad-size.yaml", 4,
		     "platform.ram[0].size: bad number '12Q' (decimal or 0x hex, "
		     "optionally followed by K, M, G or T)");
	expect_error("bad-dma-bits.yaml", 6,
		     "platform.devices[1].dma_bits: 65 is out of range (1..64)");
	expect_error("bad-enum.yaml", 8,
		     "workloads[1].kind: unknown value 'dsp' (valid: nic, blk, gpu, "
		     "xen-backend, adversarial)");
	expect_error("bad-hv-mode.yaml", 7,
		     "hypervisor.mode: 'pvh' is for arch x86 only (arch is arm)");
	expect_error("bad-features.yaml", 7,
		     "hypervisor.features: direct_mapped and not_direct_mapped "
		     "exclude each other");
	expect_error("bad-bool.yaml", 5,
		     "platform.devices[0].coherent: expected true or false, got 'maybe'");
	expect_error("bad-dup-device.yaml", 7,
		     "platform.devices[2].name: duplicate device name 'nic'");
	expect_error("bad-dup-key.yaml", 7,
		     "platform.devices[0]: duplicate key 'dma_bits' (first at line 6)");
	expect_error("bad-workload-device.yaml", 7,
		     "workloads[0].device: no device named 'wifi' in platform.devices");
	expect_error("bad-tree-path-no-dt.yaml", 8,
		     "workloads[1].device: '/axi/ethernet@ff0e0000' is a tree path "
		     "but platform has no dt");
	expect_error("bad-expect-device.yaml", 8,
		     "expect[1].device: no device named 'gpu' in platform.devices");
	expect_error("bad-expect-cmp.yaml", 9,
		     "expect[0].bounced_bytes: bad comparison '~5' (a number, or \">N\", "
		     "\"<N\", \">=N\", \"<=N\", \"==N\", \"!=N\")");
	expect_error("bad-iommu-ref.yaml", 6,
		     "platform.devices[0].iommu: no iommu named 'smmu1' in platform.iommus");
	expect_error("bad-missing-name.yaml", 2,
		     "top level: missing required key 'name'");
	expect_error("bad-missing-platform.yaml", 1,
		     "top level: missing required key 'platform'");
	expect_error("bad-missing-dma-bits.yaml", 6,
		     "platform.devices[1]: missing required key 'dma_bits'");
	expect_error("bad-missing-kind.yaml", 7,
		     "workloads[0]: missing required key 'kind'");
	expect_error("bad-no-ram.yaml", 2,
		     "platform: no ram (give platform.ram or platform.dt)");
	expect_error("bad-dt-ext.yaml", 3,
		     "platform.dt: 'boards/foo.yaml' is not a .dts or .dtb file");
	expect_error("bad-empty.yaml", 1,
		     "empty file (expected a mapping with name and platform)");
	expect_error("bad-yaml.yaml", 4,
		     "malformed YAML: did not find expected ',' or ']' (while parsing "
		     "a flow sequence at line 3)");
}

/* IOMMU windows and shared domains (seed 004). */
static void test_iommu_windows(void **state)
{
	(void)state;
	struct scn *s = load_ok("iommu-windows.yaml");
	assert_int_equal(s->niommus, 2);
	assert_int_equal(s->iommus[0].window, 4 * GIB);
	assert_int_equal(s->iommus[0].bypass, 1ULL << 59);
	assert_false(s->iommus[0].linear);
	assert_int_equal(s->iommus[1].window, 0);
	assert_int_equal(s->iommus[1].bypass, 0);
	assert_true(s->iommus[1].linear);
	assert_int_equal(s->iommus[1].npage_sizes, 2);
	assert_string_equal(s->devices[0].domain, "pe1");
	assert_string_equal(s->devices[1].domain, "pe1");
	assert_string_equal(s->devices[2].domain, "");
	scn_free(s);
	expect_error("bad-domain.yaml", 5, "platform.devices[0].domain: a domain needs an iommu");
	expect_error("bad-bypass.yaml", 5,
		     "platform.iommus[0].bypass: the bypass window must start above the "
		     "translated window (0x100000000)");
}

static void test_bad_inline(void **state)
{
	(void)state;
	static const char head[] = "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n";
	char text[8192];

#define BAD(body, line, msg)                                              \
	do {                                                               \
		snprintf(text, sizeof(text), "%s%s", head, body);          \
		expect_tmp_error(text, line, msg);                         \
	} while (0)

	BAD("  devices: [{name: a, dma_bits: 0}]\n", 4,
	    "platform.devices[0].dma_bits: 0 is out of range (1..64)");
	BAD("  devices: [{name: a, dma_bits: 0x20, bus: isa}]\n", 4,
	    "platform.devices[0].bus: unknown value 'isa' (valid: pci, platform)");
	BAD("  devices: [{dma_bits: 32}]\n", 4,
	    "platform.devices[0]: missing required key 'name'");
	BAD("  devices: [{name: '', dma_bits: 32}]\n", 4,
	    "platform.devices[0].name: empty value");
	BAD("  devices: [{name: [a], dma_bits: 32}]\n", 4,
	    "platform.devices[0].name: expected a scalar, got a list");
	BAD("  devices: [{name: a, dma_bits: 32, restricted_pool: 0}]\n", 4,
	    "platform.devices[0].restricted_pool: must be greater than 0");
	BAD("  devices: [{name: a, dma_bits: 32, dma_ranges: [{cpu: 0, size: 1G}]}]\n", 4,
	    "platform.devices[0].dma_ranges[0]: missing required key 'dma'");
	BAD("  devices: [{name: a, dma_bits: 32, dma_ranges: [{cpu: 0, dma: 1, size: 1G, x: 1}]}]\n", 4,
	    "platform.devices[0].dma_ranges[0]: unknown key 'x' (valid: cpu, dma, size)");
	BAD("  devices: [{name: a, dma_bits: 32, iommu: /smmu@0}]\n", 4,
	    "platform.devices[0].iommu: '/smmu@0' is a tree path but platform has no dt");
	BAD("  devices: [{name: a, dma_bits: 99999999999999999999}]\n", 4,
	    "platform.devices[0].dma_bits: '99999999999999999999' does not fit in 64 bits");
	BAD("  iommus: [{name: s, page_sizes: [4K, 3K]}]\n", 4,
	    "platform.iommus[0].page_sizes[1]: 3K is not a power of two");
	BAD("  iommus: [{name: s}, {name: s}]\n", 4,
	    "platform.iommus[1].name: duplicate iommu name 's'");
	BAD("  iommus: [{page_sizes: [4K]}]\n", 4,
	    "platform.iommus[0]: missing required key 'name'");
	BAD("  ram2: []\n", 4,
	    "platform: unknown key 'ram2' (valid: dt, ram, iommus, devices)");
	BAD("hypervisor: {type: kvm}\n", 4,
	    "hypervisor.type: unknown value 'kvm' (valid: xen)");
	BAD("hypervisor: {domain: dom1}\n", 4,
	    "hypervisor.domain: unknown value 'dom1' (valid: dom0, domU)");
	BAD("hypervisor: {p2m: sparse}\n", 4,
	    "hypervisor.p2m: unknown value 'sparse' (valid: identity, scattered, colored)");
	BAD("hypervisor: {policy: global}\n", 4,
	    "hypervisor.policy: unknown value 'global' (valid: per-device, linux)");
	BAD("hypervisor: {features: [colored]}\n", 4,
	    "hypervisor.features[0]: unknown value 'colored' (valid: direct_mapped, "
	    "not_direct_mapped, dom0_iommu, p2m_query)");
	BAD("hypervisor: {arch: arm, iommu: yes}\n", 4,
	    "hypervisor: unknown key 'iommu' (valid: type, arch, domain, mode, "
	    "features, p2m, policy, lowmem, host_ram, colors, os_colors, seed, domus)");
	/* The Xen model's keys (issue 5): each bad value, one line. */
	BAD("hypervisor: {lowmem: 0}\n", 4, "hypervisor.lowmem: must be greater than 0");
	BAD("hypervisor: {lowmem: 5000}\n", 4,
	    "hypervisor.lowmem: 5000 is not a multiple of 4 KiB");
	BAD("hypervisor: {lowmem: 8G}\n", 4,
	    "hypervisor.lowmem: 8G is more than 4G (it lies below 4 GiB)");
	BAD("hypervisor: {lowmem: lots}\n", 4,
	    "hypervisor.lowmem: bad number 'lots' (decimal or 0x hex, optionally followed "
	    "by K, M, G or T)");
	BAD("hypervisor: {host_ram: []}\n", 4,
	    "hypervisor.host_ram: empty (leave it out for the default)");
	BAD("hypervisor: {host_ram: {base: 0, size: 1G}}\n", 4,
	    "hypervisor.host_ram: expected a list, got a mapping");
	BAD("hypervisor:\n  host_ram:\n    - {base: 0, size: 4G}\n    - {base: 8G}\n", 7,
	    "hypervisor.host_ram[1]: missing required key 'size'");
	BAD("hypervisor: {host_ram: [{base: 0, size: 0}]}\n", 4,
	    "hypervisor.host_ram[0].size: must be greater than 0");
	BAD("hypervisor: {p2m: colored, colors: 12}\n", 4,
	    "hypervisor.colors: 12 is not a power of two in 2..64");
	BAD("hypervisor: {p2m: colored, colors: 128}\n", 4,
	    "hypervisor.colors: 128 is not a power of two in 2..64");
	BAD("hypervisor: {p2m: identity, colors: 8}\n", 4,
	    "hypervisor.colors: only with p2m: colored");
	BAD("hypervisor: {colors: 8}\n", 4, "hypervisor.colors: only with p2m: colored");
	BAD("hypervisor: {p2m: scattered, os_colors: 3}\n", 4,
	    "hypervisor.os_colors: only with p2m: colored");
	BAD("hypervisor: {p2m: colored, os_colors: 0}\n", 4,
	    "hypervisor.os_colors: must be greater than 0");
	BAD("hypervisor: {p2m: colored, colors: 4, os_colors: 0x10}\n", 4,
	    "hypervisor.os_colors: 0x10 names colours beyond the 4 there are");
	BAD("hypervisor: {p2m: colored, os_colors: 0x10000}\n", 4,
	    "hypervisor.os_colors: 0x10000 names colours beyond the 16 there are");
	BAD("hypervisor: {p2m: colored, colors: 4, os_colors: 0xf}\n", 4,
	    "hypervisor.os_colors: 0xf is every colour (the OS must leave some to others)");
	BAD("hypervisor: {p2m: identity, seed: 7}\n", 4,
	    "hypervisor.seed: only with p2m: scattered (or mode: pv, its default)");
	BAD("hypervisor: {mode: pvh, seed: 7}\n", 4,
	    "hypervisor.seed: only with p2m: scattered (or mode: pv, its default)");
	BAD("hypervisor: {domus: 17}\n", 4, "hypervisor.domus: 17 is out of range (0..16)");
	BAD("hypervisor: {domain: domU, domus: 1}\n", 4,
	    "hypervisor.domus: other domains are served by dom0 (domain is domU)");
	BAD("hypervisor: {domus: [1]}\n", 4, "hypervisor.domus: expected a scalar, got a list");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "hypervisor: {arch: x86, domain: domU, mode: pv}\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic}\n"
	    "  - {device: a, kind: xen-backend}\n", 8,
	    "workloads[1].kind: xen-backend runs a PV backend in dom0, but "
	    "hypervisor.domain is domU");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: xen-backend}\n", 6,
	    "workloads[0].kind: xen-backend needs a hypervisor (add hypervisor: or a dt "
	    "with a Xen node)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "hypervisor:\n"
	    "  arch: arm\n"
	    "  domus: 0\n"
	    "workloads:\n"
	    "  - {device: a, kind: xen-backend}\n", 7,
	    "hypervisor.domus: 0, but workloads[0] (line 9) is a xen-backend that needs a "
	    "domU to serve");
	BAD("hypervisor: xen\n", 4, "hypervisor: expected a mapping, got a scalar");
	BAD("bootargs: [a]\n", 4, "bootargs: expected a scalar, got a list");
	BAD("workloads: {device: a}\n", 4, "workloads: expected a list, got a mapping");
	BAD("workloads: [nic]\n", 4, "workloads[0]: expected a mapping, got a scalar");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic, buffers: middle}\n", 6,
	    "workloads[0].buffers: unknown value 'middle' (valid: any, low, high)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic, dir: both}\n", 6,
	    "workloads[0].dir: unknown value 'both' (valid: to, from, bidi)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic, size: 0}\n", 6,
	    "workloads[0].size: must be greater than 0");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic, segments: 4G}\n", 6,
	    "workloads[0].segments: 4G is out of range (1..4294967295)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {device: a, kind: nic, threads: 4}\n", 6,
	    "workloads[0]: unknown key 'threads' (valid: device, kind, count, size, "
	    "buffers, seed, dir, segments, max_segment_size, boundary)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "workloads:\n"
	    "  - {kind: nic}\n", 6,
	    "workloads[0]: missing required key 'device'");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "expect:\n"
	    "  - {device: a}\n", 6,
	    "expect[0]: no counter to compare (e.g. bounced_bytes: 0)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "expect:\n"
	    "  - device: a\n"
	    "    faults: 0\n"
	    "    faults: 1\n", 8,
	    "expect[0]: duplicate key 'faults' (first at line 7)");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "expect:\n"
	    "  - {device: a, faults: \">\"}\n", 6,
	    "expect[0].faults: bad comparison '>' (a number, or \">N\", \"<N\", "
	    "\">=N\", \"<=N\", \"==N\", \"!=N\")");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "expect:\n"
	    "  - {device: a, faults: {max: 1}}\n", 6,
	    "expect[0].faults: expected a scalar, got a mapping");
	BAD("  devices: [{name: a, dma_bits: 32}]\n"
	    "expect:\n"
	    "  - {device: a, faults: \"<=20000000000000000000\"}\n", 6,
	    "expect[0].faults: '<=20000000000000000000' does not fit in 64 bits");
	BAD("name: y\n", 4,
	    "top level: duplicate key 'name' (first at line 1)");
	BAD("---\nname: z\n", 5,
	    "a second YAML document: a scenario file holds one");
	BAD("  \"a\\nb\": 1\n", 4,
	    "platform: unknown key 'a?b' (valid: dt, ram, iommus, devices)");
#undef BAD

	expect_tmp_error("[1, 2]\n", 1, "top level: expected a mapping, got a list");
	expect_tmp_error("just text\n", 1,
			 "top level: expected a mapping, got a scalar");
	expect_tmp_error("", 1, "empty file (expected a mapping with name and platform)");
	expect_tmp_error("name: x\nplatform:\n  ram: [{base: 0xffffffffffff0000, size: 1M}]\n",
			 3, "platform.ram[0]: base + size wraps past 2^64");
	expect_tmp_error("name: x\nplatform:\n  ram: [{base: 0, size: 0}]\n", 3,
			 "platform.ram[0].size: must be greater than 0");
	expect_tmp_error("name: x\nplatform:\n  ram: [{size: 1G}]\n", 3,
			 "platform.ram[0]: missing required key 'base'");
	expect_tmp_error("name: x\nplatform:\n  dt: foo.dts\n  devices: [{name: a, dma_bits: 32}]\n"
			 "workloads: [{device: eth0, kind: nic}]\n", 5,
			 "workloads[0].device: no device named 'eth0' in platform.devices");
	expect_tmp_error("name: x\nplatform:\n  ram: \xff\n", 3,
			 "malformed YAML: invalid leading UTF-8 octet (byte 25)");
	expect_tmp_error("name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n\tbad: tab\n", 4,
			 "malformed YAML: found character that cannot start any token "
			 "(while scanning for the next token at line 4)");
}

/* Each maximum is the last accepted count; one more is an error. */
static void test_limits(void **state)
{
	(void)state;
	size_t cap = 64 * 1024;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int extra = 0; extra <= 1; extra++) {
		size_t n = (size_t)snprintf(text, cap, "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n  devices:\n");
		for (int i = 0; i < SCN_MAX_DEVICES + extra; i++)
			n += (size_t)snprintf(text + n, cap - n, "    - {name: d%d, dma_bits: 32}\n", i);
		n += (size_t)snprintf(text + n, cap - n, "workloads:\n");
		for (int i = 0; i < SCN_MAX_WORKLOADS; i++)
			n += (size_t)snprintf(text + n, cap - n, "  - {device: d%d, kind: blk}\n", i);
		n += (size_t)snprintf(text + n, cap - n, "expect:\n");
		for (int i = 0; i < SCN_MAX_EXPECTS / 2; i++)
			n += (size_t)snprintf(text + n, cap - n, "  - {device: d0, c%d: 1, e%d: \"<2\"}\n", i, i);
		if (!extra) {
			char *p = tmp_yaml(text);
			struct scn *s = NULL;
			char err[512] = "";
			int r = scn_load(p, &s, err, sizeof(err));
			unlink(p);
			free(p);
			if (r)
				print_error("%s\n", err);
			assert_int_equal(r, 0);
			assert_int_equal(s->ndevices, SCN_MAX_DEVICES);
			assert_int_equal(s->nworkloads, SCN_MAX_WORKLOADS);
			assert_int_equal(s->nexpects, SCN_MAX_EXPECTS);
			assert_string_equal(s->expects[63].counter, "e31");
			assert_int_equal(s->expects[63].cmp, SCN_CMP_LT);
			scn_free(s);
			/* One more comparison. */
			snprintf(text + n, cap - n, "  - {device: d1, one_more: 0}\n");
			char msg[64];
			snprintf(msg, sizeof(msg), "expect: more than %d comparisons",
				 SCN_MAX_EXPECTS);
			expect_tmp_error(text, 5 + SCN_MAX_DEVICES + 1 +
						       SCN_MAX_WORKLOADS + 1 +
						       SCN_MAX_EXPECTS / 2,
					 msg);
		} else {
			char msg[64];
			snprintf(msg, sizeof(msg), "platform.devices: %d entries, at most %d",
				 SCN_MAX_DEVICES + 1, SCN_MAX_DEVICES);
			expect_tmp_error(text, 5, msg);
		}
	}
	/* Too long a name. */
	char name[SCN_NAME_MAX + 1];
	memset(name, 'n', SCN_NAME_MAX);
	name[SCN_NAME_MAX] = '\0';
	snprintf(text, cap, "name: %s\nplatform: {ram: [{base: 0, size: 1M}]}\n", name);
	char msg[128];
	snprintf(msg, sizeof(msg), "name: too long (%d bytes, at most %d)",
		 SCN_NAME_MAX, SCN_NAME_MAX - 1);
	expect_tmp_error(text, 1, msg);
	free(text);
}

static void test_missing_file(void **state)
{
	(void)state;
	char err[512] = "unset";
	struct scn *s = (struct scn *)&s;
	assert_int_equal(scn_load(SCN_TEST_DIR "/no-such-file.yaml", &s, err,
				  sizeof(err)),
			 -ENOENT);
	assert_null(s);
	assert_string_equal(err, SCN_TEST_DIR "/no-such-file.yaml: No such file or directory");
	assert_int_equal(scn_load(SCN_TEST_DIR, &s, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, SCN_TEST_DIR ": Is a directory");
	/* No error buffer, or a tiny one: still safe. */
	assert_int_equal(scn_load(SCN_TEST_DIR "/bad-size.yaml", &s, NULL, 0), -EINVAL);
	char tiny[8];
	assert_int_equal(scn_load(SCN_TEST_DIR "/bad-size.yaml", &s, tiny, sizeof(tiny)),
			 -EINVAL);
	assert_int_equal(strlen(tiny), 7);
	assert_int_equal(scn_load(NULL, &s, err, sizeof(err)), -EINVAL);
	assert_int_equal(scn_load(SCN_TEST_DIR "/minimal.yaml", NULL, err, sizeof(err)),
			 -EINVAL);
}

/* The loader's limits: size, nesting, and what a path may name. */
static void test_file_limits(void **state)
{
	(void)state;
	/* Exactly the cap loads (a comment pads it); one byte more is refused. */
	size_t cap = SCN_MAX_FILE_BYTES;
	char *text = malloc(cap + 2);
	assert_non_null(text);
	static const char head[] = "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n#";
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, 'x', cap - sizeof(head));
	text[cap - 1] = '\n';
	text[cap] = '\0';
	char *p = tmp_yaml(text);
	struct scn *s = NULL;
	char err[512] = "", want[512];
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), 0);
	scn_free(s);
	unlink(p);
	free(p);
	text[cap - 1] = 'x';
	text[cap] = '\n';
	text[cap + 1] = '\0';
	p = tmp_yaml(text);
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	snprintf(want, sizeof(want), "%s: larger than the 1048576 bytes a scenario file may be", p);
	assert_string_equal(err, want);
	unlink(p);
	free(p);
	free(text);
	/* 16 levels (the top mapping and 15 lists) pass the cap; 17 are refused,
	 * at the line that goes deeper. */
	char deep[256];
	snprintf(deep, sizeof(deep), "name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n"
		 "  devices: [{name: a, dma_bits: 32, dma_ranges: [{bus: 0, cpu: 0, size: 1G}]}]\n"
		 "x: %s%s\n", "[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]");
	p = tmp_yaml(deep);
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), -EINVAL);
	/* 16 levels deep passed the cap: the unknown key is what is refused. */
	snprintf(want, sizeof(want), "%s:5: top level: unknown key 'x' (valid: name, platform, "
		 "hypervisor, bootargs, workloads, expect)", p);
	assert_string_equal(err, want);
	unlink(p);
	free(p);
	expect_tmp_error("name: x\nplatform:\n  ram: [{base: 0, size: 1G}]\n"
			 "x:\n  - [[[[[[[[[[[[[[[]]]]]]]]]]]]]]]\n", 5,
			 "nested deeper than 16 levels (a scenario needs far fewer)");
	/* A FIFO is refused without waiting for a writer; a directory too. */
	char dir[] = "/tmp/test_scenario_XXXXXX", fifo[64];
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/f.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(scn_load(fifo, &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file (a FIFO)", fifo);
	assert_string_equal(err, want);
	unlink(fifo);
	assert_int_equal(scn_load("/dev/zero", &s, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "/dev/zero: not a regular file (a device)");
	assert_int_equal(scn_load(dir, &s, err, sizeof(err)), -EISDIR);
	rmdir(dir);
}

/* Aliases may point anywhere, even at their own node: never a hang or crash. */
static void test_aliases(void **state)
{
	(void)state;
	char *p = tmp_yaml("name: &n x\n"
			   "platform:\n"
			   "  ram: &r [{base: 0, size: 1G}]\n"
			   "  devices: [&d {name: a, dma_bits: 32}]\n"
			   "workloads: [{device: a, kind: nic, count: 4K}]\n"
			   "bootargs: *n\n");
	struct scn *s = NULL;
	char err[512] = "";
	assert_int_equal(scn_load(p, &s, err, sizeof(err)), 0);
	assert_string_equal(s->bootargs, "x");
	assert_int_equal(s->workloads[0].count, 4096);
	scn_free(s);
	unlink(p);
	free(p);
	/* An alias's line is its anchor's: the node both stand for. */
	expect_tmp_error("name: x\nplatform: &p\n  ram: [{base: 0, size: 1G}]\n  devices: *p\n", 2,
			 "platform.devices: expected a list, got a mapping");
	expect_tmp_error("name: x\nplatform:\n  ram: &r [{base: 0, size: 1G}, *r]\n", 3,
			 "platform.ram[1]: expected a mapping, got a list");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_tree_names),
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_dt_path_resolution),
		cmocka_unit_test(test_defaults_and_coercions),
		cmocka_unit_test(test_xen_keys),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_iommu_windows),
		cmocka_unit_test(test_bad_inline),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_file_limits),
		cmocka_unit_test(test_aliases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
