/*
 * fuzz/fuzz_dt.c - libFuzzer target: the device-tree loader (sim/dt.c).
 *
 * Each input is a flattened tree (.dtb bytes).  sim_dt_load reads only
 * files, so the bytes go into one memfd per process, loaded through its
 * /proc/self/fd path (never ending in ".dts", so dtc is never run).  A
 * tree that loads is then used the way `dmamap run` / `explain` use it:
 * the explain listing, sim_dt_find on every device, a machine description
 * and, when RAM is sane, a machine with the tree's reserved memory and
 * devices, a libdmamap context with restricted pools from the tree, every
 * device added and one small map/unmap on it, all torn down again.
 *
 * The only thing checked is what the loader promises: malformed input
 * never crashes, and a refusal is a negative errno with a one-line message.
 * Crashes, leaks and sanitizer reports are libFuzzer's to find.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <dmamap/dma.h>
#include <dmamap/platform.h>

#include <dmamap/sim/dt.h>
#include <dmamap/sim/sim.h>

#define FD_MAX_DEVICES 64

static int fd_memfd = -1;
static char fd_path[64];
static FILE *fd_null;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fd_memfd = memfd_create("fuzz-dt.dtb", MFD_CLOEXEC);
	if (fd_memfd < 0) {
		perror("fuzz_dt: memfd_create");
		abort();
	}
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd_memfd);
	fd_null = fopen("/dev/null", "w");
	if (!fd_null)
		abort();
	return 0;
}

static void fd_fail(const char *what, int rc)
{
	fprintf(stderr, "fuzz_dt: %s: %d\n", what, rc);
	abort();
}

static void fd_log(void *priv, enum dmamap_log_level level, const char *msg)
{
	(void)priv;
	(void)level;
	(void)msg;
}

/* The machine, pools and devices the tree describes; errors are fine. */
static void fd_boot(const struct sim_dt *dt)
{
	struct sim_machine_desc md;
	char err[256];
	if (sim_dt_machine_desc(dt, &md, err, sizeof(err)))
		return;
	struct sim_machine *m = NULL;
	const char *why = NULL;
	if (sim_machine_create(&md, &m, &why))
		return;
	/* Reserved memory first, as firmware does before the OS boots. */
	bool reserved[64] = { false };
	for (unsigned int i = 0; i < dt->nrmem && i < 64; i++)
		if (!dt->rmem[i].dynamic && dt->rmem[i].size)
			reserved[i] = sim_reserve(m, dt->rmem[i].base, dt->rmem[i].size) == 0;

	struct sim_device *sd[FD_MAX_DEVICES] = { 0 };
	unsigned int n = dt->ndevices < FD_MAX_DEVICES ? dt->ndevices : FD_MAX_DEVICES;
	for (unsigned int i = 0; i < n; i++) {
		struct sim_device_desc desc;
		sim_dt_device_desc(&dt->devices[i], (i & 1) ? 64 : 32, &desc);
		if (sim_device_create(m, &desc, &sd[i]))
			sd[i] = NULL;
	}

	struct dmamap_config cfg = { .bootargs = dt->bootargs,
				     .swiotlb_mode = DMAMAP_SWIOTLB_ON,
				     .swiotlb_bytes = 256u << 10,
				     .log = fd_log,
				     /* no timer thread: the same input, the same path */
				     .deferred = DMAMAP_DEFERRED_MANUAL };
	struct dmamap_ctx *ctx = NULL;
	if (dmamap_ctx_create(sim_platform(m), &cfg, &ctx)) {
		/* Bootargs from the tree may be refused: try without them. */
		cfg.bootargs = NULL;
		if (dmamap_ctx_create(sim_platform(m), &cfg, &ctx))
			ctx = NULL;
	}
	if (ctx) {
		struct dmamap_swiotlb *pools[64] = { 0 };
		for (unsigned int i = 0; i < dt->nrmem && i < 64; i++)
			if (reserved[i] && dt->rmem[i].kind == SIM_DT_RMEM_RESTRICTED &&
			    dmamap_restricted_pool_create(ctx, dt->rmem[i].base, dt->rmem[i].size,
							  &pools[i]))
				pools[i] = NULL;
		uint64_t buf_phys = 0;
		bool have_buf = sim_alloc_pages(m, 1, 1, 0, ~0ULL, &buf_phys) == 0;
		for (unsigned int i = 0; i < n; i++) {
			if (!sd[i])
				continue;
			struct dmamap_device_desc dd;
			sim_device_firmware_desc(sd[i], &dd);
			int rp = dt->devices[i].restricted_pool;
			if (rp >= 0 && rp < 64 && pools[rp])
				dd.restricted_pool = pools[rp];
			struct dmamap_device *dev = NULL;
			if (dmamap_device_add(ctx, &dd, &dev))
				continue;
			if (have_buf) {
				dmamap_dma_addr_t a = dmamap_map_phys(dev, buf_phys, 512,
								      DMAMAP_BIDIRECTIONAL,
								      DMAMAP_ATTR_NO_WARN);
				if (a != DMAMAP_MAPPING_ERROR) {
					uint8_t b[64];
					(void)sim_dma_read(sd[i], a, b, sizeof(b));
					dmamap_unmap_phys(dev, a, 512, DMAMAP_BIDIRECTIONAL, 0);
				}
				dmamap_dma_addr_t h;
				void *c = dmamap_alloc_coherent(dev, 4096, &h);
				/* Coherent memory always comes with a handle the
				 * device reaches (a pool outside its windows gives
				 * none at all). */
				if (c && h == DMAMAP_MAPPING_ERROR) {
					fprintf(stderr, "fuzz_dt: coherent memory without a bus address\n");
					abort();
				}
				if (c)
					dmamap_free_coherent(dev, 4096, c, h);
			}
			uint64_t leaked = 1;
			int rc = dmamap_device_remove(dev, &leaked);
			if (rc || leaked)
				fd_fail("dmamap_device_remove (leaked mappings)", rc ? rc : (int)leaked);
		}
		if (have_buf)
			sim_free_pages(m, buf_phys, 1);
		for (unsigned int i = 0; i < 64; i++)
			if (pools[i]) {
				int rc = dmamap_restricted_pool_destroy(pools[i]);
				if (rc)
					fd_fail("dmamap_restricted_pool_destroy", rc);
			}
		int rc = dmamap_ctx_destroy(ctx);
		if (rc)
			fd_fail("dmamap_ctx_destroy", rc);
	}
	sim_machine_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (ftruncate(fd_memfd, 0) != 0 || pwrite(fd_memfd, data, size, 0) != (ssize_t)size)
		abort();
	struct sim_dt *dt = NULL;
	char err[512];
	err[0] = '\0';
	int rc = sim_dt_load(fd_path, &dt, err, sizeof(err));
	if (rc) {
		/* A refusal: a negative errno, one line naming the file. */
		if (rc >= 0 || dt)
			fd_fail("sim_dt_load refused with a non-negative errno or a tree", rc);
		/* One line (control characters shown as '?'), naming the file. */
		if (rc != -ENOMEM &&
		    (!err[0] || strchr(err, '\n') || strncmp(err, fd_path, strlen(fd_path)))) {
			fprintf(stderr, "fuzz_dt: bad message for %d: \"%s\"\n", rc, err);
			abort();
		}
		return 0;
	}
	if (!dt)
		fd_fail("sim_dt_load returned 0 and no tree", 0);
	if (sim_dt_explain(dt, fd_null))
		fd_fail("sim_dt_explain", -EIO);
	for (unsigned int i = 0; i < dt->ndevices; i++)
		if (sim_dt_find(dt, dt->devices[i].path) == NULL)
			fd_fail("sim_dt_find lost a device", (int)i);
	fd_boot(dt);
	sim_dt_free(dt);
	return 0;
}
