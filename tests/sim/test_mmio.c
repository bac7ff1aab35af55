/*
 * tests/sim/test_mmio.c - BAR mappings, accessors and write-combining
 * (include/dmamap/iomap.h, src/iomap.c, sim/mmio.c): the doorbell case of
 * seed 004, merging, ordering, and every refusal with its exact errno.
 *
 * Owns: proofs of what the device observes, read from its transaction
 * log and counters.  Uses the library's public API and the simulator.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dmamap/iomap.h>
#include <dmamap/sim/mmio.h>

#define DESC 0x000      /* a 64-byte descriptor: one WC line */
#define DOORBELL 0x100  /* another line */

struct fx {
	struct tu_env e;
	struct tu_dev nic;
	struct dmamap_iomem *wc, *uc;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	tu_env_init(&f->e, &(struct tu_opts){ .ram_gib = 4, .ncpus = 2 });
	tu_dev_add(&f->e, &f->nic, "nic", 64, true, DMAMAP_BUS_PCI);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 0, 4096, DMAMAP_BAR_MEM | DMAMAP_BAR_PREFETCH), 0);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 2, 4096, DMAMAP_BAR_MEM), 0);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 4, 256, 0), 0); /* I/O ports */
	assert_int_equal(sim_mmio_order_rule(f->nic.sd, 0, DOORBELL, DESC, 64), 0);
	assert_int_equal(dmamap_iomap_wc(f->nic.dev, 0, 0, &f->wc), 0);
	assert_int_equal(dmamap_iomap(f->nic.dev, 2, 0, &f->uc), 0);
	dmamap_set_cpu(0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	dmamap_iounmap(f->wc);
	dmamap_iounmap(f->uc);
	tu_dev_remove(&f->nic);
	tu_env_fini(&f->e);
	free(f);
	return 0;
}

/* The driver: descriptor words with relaxed stores, then the doorbell. */
static void post(struct fx *f, bool barrier, bool ordered_doorbell)
{
	for (uint32_t i = 0; i < 16; i++)
		dmamap_writel_relaxed(f->wc, DESC + 4 * i, 0xd0000000u | i);
	if (barrier)
		dmamap_wmb(f->e.ctx);
	if (ordered_doorbell)
		dmamap_writel(f->wc, DOORBELL, 1);
	else
		dmamap_writel_relaxed(f->wc, DOORBELL, 1);
	dmamap_wmb(f->e.ctx);
}

static void test_doorbell_with_barrier(void **state)
{
	struct fx *f = *state;
	sim_mmio_set_adversarial(f->e.m, true);
	post(f, true, false);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.order_violations, 0);
	struct sim_mmio_txn log[4];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 4), 2);
	assert_int_equal(log[0].off, DESC);
	assert_int_equal(log[0].len, 64);
	assert_int_equal(log[1].off, DOORBELL);
	tu_assert_lt(log[0].seq, log[1].seq);
	uint32_t w;
	assert_int_equal(sim_mmio_peek(f->nic.sd, 0, DESC + 60, &w, 4), 0);
	assert_int_equal(w, 0xd000000fu);
}

/* An ordered doorbell needs no explicit barrier: writel has one inside. */
static void test_doorbell_ordered_writel(void **state)
{
	struct fx *f = *state;
	sim_mmio_set_adversarial(f->e.m, true);
	post(f, false, true);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.order_violations, 0);
	struct sim_mmio_txn log[4];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 4), 2);
	assert_false(log[1].combined);
	assert_int_equal(log[1].off, DOORBELL);
}

/* Without the barrier, the adversarial order delivers the doorbell first,
 * and the device reports it; the friendly order would have hidden it. */
static void test_doorbell_missing_barrier(void **state)
{
	struct fx *f = *state;
	sim_mmio_set_adversarial(f->e.m, false);
	post(f, false, false);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.order_violations, 0); /* it "works" in the lab */

	sim_mmio_set_adversarial(f->e.m, true);
	post(f, false, false);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.order_violations, 1);
	struct sim_mmio_txn log[2];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 2), 2);
	assert_int_equal(log[0].off, DOORBELL);
	assert_int_equal(log[1].off, DESC);
	assert_int_equal(st.first_violation_seq, log[0].seq);
}

static void test_merging(void **state)
{
	struct fx *f = *state;
	for (uint32_t i = 0; i < 16; i++)
		dmamap_writel_relaxed(f->wc, 0x200 + 4 * i, i);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 0); /* still in the CPU's buffer */
	dmamap_wmb(f->e.ctx);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.combined_writes, 1);
	assert_int_equal(st.stores_merged, 16);
	assert_int_equal(st.bytes_written, 64);

	/* Ordered stores never merge: 16 stores, 16 transactions. */
	for (uint32_t i = 0; i < 16; i++)
		dmamap_writel(f->wc, 0x300 + 4 * i, i);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 17);
	assert_int_equal(st.combined_writes, 1);

	/* Uncached relaxed stores arrive one by one, in program order. */
	for (uint32_t i = 0; i < 16; i++)
		dmamap_writel_relaxed(f->uc, 4 * i, 100 + i);
	struct sim_mmio_txn log[16];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 16), 16);
	for (unsigned int i = 0; i < 16; i++) {
		assert_int_equal(log[i].bar, 2);
		assert_int_equal(log[i].off, 4 * i);
		assert_int_equal(log[i].len, 4);
		assert_false(log[i].combined);
		if (i)
			tu_assert_gt(log[i].seq, log[i - 1].seq);
	}
	assert_int_equal(dmamap_readl(f->uc, 60), 115);
}

/* A read waits for the CPU's buffered writes ("write; wmb; read" and
 * even without the wmb, a read drains them first). */
static void test_read_drains(void **state)
{
	struct fx *f = *state;
	dmamap_writew_relaxed(f->wc, 0x400, 0xbeef);
	assert_int_equal(dmamap_readw_relaxed(f->wc, 0x400), 0xbeef);
	struct sim_mmio_txn log[2];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 2), 2);
	assert_true(log[0].write);
	assert_false(log[1].write);
	/* Device-side register changes are what the driver reads. */
	uint64_t v = 0x1122334455667788ULL;
	assert_int_equal(sim_mmio_poke(f->nic.sd, 2, 0x10, &v, 8), 0);
	assert_int_equal(dmamap_readq(f->uc, 0x10), v);
	assert_int_equal(dmamap_readb(f->uc, 0x10), 0x88);
}

/* More lines than buffers: the oldest leaves first, on its own. */
static void test_wc_eviction(void **state)
{
	struct fx *f = *state;
	for (uint32_t l = 0; l <= SIM_WC_LINES; l++)
		dmamap_writel_relaxed(f->wc, 0x800 + 64 * l, l);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 1);
	struct sim_mmio_txn log[1];
	assert_int_equal(sim_mmio_log(f->nic.sd, log, 1), 1);
	assert_int_equal(log[0].off, 0x800);
	dmamap_mb(f->e.ctx);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, SIM_WC_LINES + 1);
	/* A read barrier drains nothing. */
	dmamap_writel_relaxed(f->wc, 0x800, 7);
	dmamap_rmb(f->e.ctx);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, SIM_WC_LINES + 1);
}

/* Buffers are per CPU: another CPU's barrier does not drain mine. */
static void test_wc_per_cpu(void **state)
{
	struct fx *f = *state;
	dmamap_writel_relaxed(f->wc, 0x900, 1);
	dmamap_set_cpu(1);
	dmamap_wmb(f->e.ctx);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 0);
	dmamap_set_cpu(0);
	dmamap_wmb(f->e.ctx);
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 1);
}

static void test_refusals(void **state)
{
	struct fx *f = *state;
	struct dmamap_iomem *io = (struct dmamap_iomem *)&io;
	/* Write-combining is refused for I/O-port BARs; uncached works. */
	assert_int_equal(dmamap_iomap_wc(f->nic.dev, 4, 0, &io), -EOPNOTSUPP);
	assert_null(io);
	assert_int_equal(dmamap_iomap(f->nic.dev, 4, 0, &io), 0);
	assert_int_equal(dmamap_iomem_len(io), 256);
	dmamap_iounmap(io);
	/* No such BAR. */
	assert_int_equal(dmamap_iomap(f->nic.dev, 1, 0, &io), -ENODEV);
	assert_int_equal(dmamap_iomap(f->nic.dev, 6, 0, &io), -ENODEV);
	assert_int_equal(dmamap_iomap(f->nic.dev, -1, 0, &io), -ENODEV);
	/* Ranges: an offset at or past the end is refused; maxlen is cut. */
	assert_int_equal(dmamap_iomap_range(f->nic.dev, 0, 4096, 0, &io), -EINVAL);
	assert_int_equal(dmamap_iomap_wc_range(f->nic.dev, 0, 0x10000, 16, &io), -EINVAL);
	assert_int_equal(dmamap_iomap_wc_range(f->nic.dev, 0, 0xf00, 0x1000, &io), 0);
	assert_int_equal(dmamap_iomem_len(io), 0x100);
	assert_true(dmamap_iomem_is_wc(io));
	/* Offsets are relative to the range. */
	dmamap_writel(io, 0x10, 0xabcd);
	uint32_t w;
	assert_int_equal(sim_mmio_peek(f->nic.sd, 0, 0xf10, &w, 4), 0);
	assert_int_equal(w, 0xabcd);
	/* Accesses outside the mapping or misaligned are dropped and counted. */
	dmamap_writel(io, 0x100, 1);
	dmamap_writel(io, 0xfe, 1);
	assert_int_equal(dmamap_readl(io, 0x102), 0xffffffffu);
	assert_int_equal(dmamap_readq(io, 0x0fc), ~0ULL);
	assert_int_equal(dmamap_iomem_bad_accesses(io), 4);
	struct sim_mmio_stats st;
	sim_mmio_get_stats(f->nic.sd, &st);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.reads, 0);
	assert_true(tu_log_has(&f->e, "4-byte access at 0x100 dropped"));
	dmamap_iounmap(io);
	/* A device without registers. */
	struct tu_dev bare;
	tu_dev_add(&f->e, &bare, "bare", 32, true, DMAMAP_BUS_PCI);
	assert_int_equal(dmamap_iomap(bare.dev, 0, 0, &io), -ENODEV);
	tu_dev_remove(&bare);
	/* Declaring BARs: bad sizes, kinds and duplicates. */
	assert_int_equal(sim_device_add_bar(f->nic.sd, 0, 4096, DMAMAP_BAR_MEM), -EEXIST);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 1, 3000, DMAMAP_BAR_MEM), -EINVAL);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 1, 4096, DMAMAP_BAR_PREFETCH), -EINVAL);
	assert_int_equal(sim_device_add_bar(f->nic.sd, 6, 4096, DMAMAP_BAR_MEM), -EINVAL);
}

/* Unmapping a WC mapping delivers what it still buffers. */
static void test_unmap_drains(void **state)
{
	struct fx *f = *state;
	struct dmamap_iomem *io;
	assert_int_equal(dmamap_iomap_wc(f->nic.dev, 0, 0, &io), 0);
	dmamap_writeb_relaxed(io, 0xa00, 0x5a);
	dmamap_iounmap(io);
	uint8_t b;
	assert_int_equal(sim_mmio_peek(f->nic.sd, 0, 0xa00, &b, 1), 0);
	assert_int_equal(b, 0x5a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_doorbell_with_barrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_ordered_writel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_doorbell_missing_barrier, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_drains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wc_eviction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wc_per_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_drains, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
