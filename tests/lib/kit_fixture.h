/*
 * tests/lib/kit_fixture.h - what every driver-kit test does around its
 * driver: a kit made and a device bound (probe's half), and the device
 * unbound with nothing leaked and no checker report, then the kit gone
 * (remove's half).  Included by the test_kit_* files only.
 */
#ifndef TESTS_KIT_FIXTURE_H
#define TESTS_KIT_FIXTURE_H

#include "testutil.h"

#include <dmamap/sim/kit.h>

/* A kit with dev bound to one simulated device; that device is returned. */
static inline struct sim_device *kit_fx_up(struct dmamap_kit **kit, struct device *dev,
					   const struct dmamap_kit_opts *ko,
					   const struct dmamap_kit_dev_opts *dopt)
{
	char err[256];
	assert_int_equal(dmamap_kit_create(ko, kit, err, sizeof(err)), 0);
	assert_int_equal(dmamap_kit_bind(*kit, dev, dopt), 0);
	struct sim_device *hw = dmamap_kit_hw(*kit, dev);
	assert_non_null(hw);
	return hw;
}

/* After the driver's remove: nothing leaked, nothing reported, all gone. */
static inline void kit_fx_down(struct dmamap_kit *kit, struct device *dev)
{
	uint64_t leaked = 99;
	assert_int_equal(dmamap_kit_unbind(kit, dev, &leaked), 0);
	assert_int_equal(leaked, 0); /* dmam_ memory is released, not leaked */
	assert_int_equal(dmamap_kit_check(kit, stderr), 0);
	assert_int_equal(dmamap_kit_destroy(kit), 0);
}

#endif /* TESTS_KIT_FIXTURE_H */
