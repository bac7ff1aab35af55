/*
 * bench/probe/ir_probe.c - N map+unmap of 4 KiB on a 64-bit coherent PCI device,
 * direct or with swiotlb=force; bench/probe/ir-probe.sh runs it under callgrind
 * twice and prints the instructions per map+unmap.  Public API only.
 */
#include <dmamap/dma.h>
#include <dmamap/platform.h>
#include <dmamap/sim/sim.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv)
{
	int force = argc > 1 && !strcmp(argv[1], "swiotlb");
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_X86, .ncpus = 1 };
	md.ram[md.nram++] = (struct sim_ram_range){ 0, 2ULL << 30 };
	struct sim_machine *m; const char *why;
	if (sim_machine_create(&md, &m, &why)) return 1;
	struct dmamap_config cfg = { .bootargs = force ? "swiotlb=force" : "", .swiotlb_mode = DMAMAP_SWIOTLB_ON };
	struct dmamap_ctx *ctx;
	if (dmamap_ctx_create(sim_platform(m), &cfg, &ctx)) return 2;
	struct sim_device_desc sd = { .name = "nic", .bus = DMAMAP_BUS_PCI, .addr_bits = 64, .coherent = true };
	struct sim_device *s;
	if (sim_device_create(m, &sd, &s)) return 3;
	struct dmamap_device_desc dd;
	sim_device_firmware_desc(s, &dd);
	struct dmamap_device *dev;
	if (dmamap_device_add(ctx, &dd, &dev)) return 4;
	dmamap_set_mask_and_coherent(dev, DMAMAP_BIT_MASK(64));
	uint64_t phys;
	if (sim_alloc_pages(m, 1, 1, 0, ~0ULL, &phys)) return 5;
	void *buf = sim_phys_to_cpu(m, phys);
	for (long i = 0; i < n; i++) {
		dmamap_dma_addr_t a = dmamap_map_single(dev, buf, 4096, DMAMAP_TO_DEVICE);
		dmamap_unmap_single(dev, a, 4096, DMAMAP_TO_DEVICE);
	}
	printf("%ld ops\n", n);
	return 0;
}
