/*
 * examples/sim-driver/driver_test.c - testing driver code against a
 * simulated device, with the installed libdmamap and libdmamap-sim.
 *
 * The machine: 3 GiB of RAM below 4 GiB and 1 GiB above.  The device: a
 * 32-bit, non-coherent DMA engine.  The driver code under test receives one
 * packet into a buffer above 4 GiB, where the device cannot reach, so the
 * library must bounce it, and must sync the CPU's cache before the driver
 * reads.  A driver that skips the unmap (or the sync) reads stale bytes
 * here every time, as the cache model keeps unsynced lines stale.
 * Exit 0 when the driver got the device's bytes, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <dmamap/dma.h>
#include <dmamap/sim/sim.h>

#define GIB (1ULL << 30)

/* The driver code under test: receive len bytes from the device into buf. */
static int driver_rx(struct dmamap_device *dev, struct sim_device *hw, void *buf, size_t len,
		     const void *packet)
{
	dmamap_dma_addr_t bus = dmamap_map_single(dev, buf, len, DMAMAP_FROM_DEVICE);
	if (dmamap_mapping_error(dev, bus))
		return -1;
	/* The "hardware": the device writes the packet at the bus address it was given. */
	int rc = sim_dma_write(hw, bus, packet, len);
	dmamap_unmap_single(dev, bus, len, DMAMAP_FROM_DEVICE);
	return rc;
}

int main(void)
{
	struct sim_machine_desc md = { .arch = DMAMAP_ARCH_ARM64, .ncpus = 1, .nram = 2,
		.ram = { { 0, 3 * GIB }, { 4 * GIB, GIB } } };
	struct sim_machine *m;
	const char *why = "";
	if (sim_machine_create(&md, &m, &why)) {
		fprintf(stderr, "machine: %s\n", why);
		return 1;
	}
	struct dmamap_ctx *ctx;
	struct dmamap_config cfg = { .bootargs = "swiotlb=1024" }; /* a 2 MiB bounce pool */
	struct sim_device_desc sd = { .name = "nic", .bus = DMAMAP_BUS_PLATFORM, .addr_bits = 32 };
	struct sim_device *hw;
	struct dmamap_device_desc dd;
	struct dmamap_device *dev;
	if (dmamap_ctx_create(sim_platform(m), &cfg, &ctx) || sim_device_create(m, &sd, &hw))
		return 1;
	sim_device_firmware_desc(hw, &dd);
	if (dmamap_device_add(ctx, &dd, &dev) || dmamap_set_mask_and_coherent(dev, 0xffffffffULL))
		return 1;

	uint64_t phys; /* one page above 4 GiB: out of the device's reach */
	if (sim_alloc_pages(m, 1, 1, 4 * GIB, ~0ULL, &phys))
		return 1;
	char *buf = sim_phys_to_cpu(m, phys);
	const char packet[] = "a packet from the simulated device";
	memset(buf, 0, 4096);
	int rc = driver_rx(dev, hw, buf, sizeof(packet), packet);
	int ok = rc == 0 && memcmp(buf, packet, sizeof(packet)) == 0;
	printf("driver_rx: %s (%s)\n", ok ? "ok" : "WRONG BYTES", ok ? buf : "stale or missing");

	sim_free_pages(m, phys, 1);
	dmamap_device_remove(dev, NULL);
	dmamap_ctx_destroy(ctx);
	sim_machine_destroy(m);
	return ok ? 0 : 1;
}
