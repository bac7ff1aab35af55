/*
 * bench/probe/iommu_min.c - the fastest of N batches of 200 lazy-mode 4 KiB
 * map+unmap pairs behind the simulated IOMMU (64-bit coherent PCI device,
 * iommu.strict=0), in ns per pair.  A batch that was not preempted and
 * shared no core shows the code's own cost, so on a busy machine the
 * minimum stays close to the idle figure where dmamap-bench's mean does
 * not.  Public API and the simulator's only; bench/probe/min-probe.sh
 * builds and runs it.  Usage: iommu_min [BATCHES] (default 20000).
 */
#define _POSIX_C_SOURCE 200809L
#include <dmamap/dma.h>
#include <dmamap/platform.h>
#include <dmamap/sim/sim.h>
#include <dmamap/sim/iommu.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
	long batches = argc > 1 ? atol(argv[1]) : 20000;
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 1 };
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 2ULL << 30 };
	struct sim_machine *m;
	const char *why;
	int iid, dom;
	if (sim_machine_create(&md, &m, &why) ||
	    sim_iommu_create(m, &(struct sim_iommu_desc){ .name = "probe-iommu" }, &iid) ||
	    sim_iommu_domain_create(m, iid, SIM_IOMMU_DOMAIN_TRANSLATED, &dom))
		return fprintf(stderr, "iommu_min: cannot build the machine\n"), 1;
	struct dmamap_config cfg = { .bootargs = "iommu.strict=0", .swiotlb_mode = DMAMAP_SWIOTLB_ON };
	struct sim_device_desc sd = { .name = "nic", .bus = DMAMAP_BUS_PCI, .addr_bits = 64,
				      .coherent = true };
	struct dmamap_ctx *ctx;
	struct sim_device *s;
	struct dmamap_device_desc dd;
	struct dmamap_device *dev;
	uint64_t phys;
	if (dmamap_ctx_create(sim_platform(m), &cfg, &ctx) || sim_device_create(m, &sd, &s) ||
	    sim_iommu_attach(s, dom))
		return fprintf(stderr, "iommu_min: cannot build the device\n"), 1;
	sim_device_firmware_desc(s, &dd);
	dd.iommu_id = iid;
	dd.iommu_domain = dom;
	if (dmamap_device_add(ctx, &dd, &dev) || dmamap_set_mask_and_coherent(dev, DMAMAP_BIT_MASK(64)) ||
	    strcmp(dmamap_device_ops_name(dev), "iommu") || sim_alloc_pages(m, 1, 1, 0, ~0ULL, &phys))
		return fprintf(stderr, "iommu_min: the device is not behind the IOMMU\n"), 1;
	void *buf = sim_phys_to_cpu(m, phys);
	const int B = 200;
	double best = 1e18;
	for (long b = 0; b < batches; b++) {
		double t0 = now_ns();
		for (int i = 0; i < B; i++) {
			dmamap_dma_addr_t a = dmamap_map_single(dev, buf, 4096, DMAMAP_TO_DEVICE);
			if (a == DMAMAP_MAPPING_ERROR)
				return fprintf(stderr, "iommu_min: a map failed\n"), 1;
			dmamap_unmap_single(dev, a, 4096, DMAMAP_TO_DEVICE);
		}
		double t = (now_ns() - t0) / B;
		if (t < best) best = t;
	}
	printf("min %.1f ns per map+unmap\n", best);
	return 0;
}
