/*
 * tests/vfio/test_vfio.c - the VFIO platform's host-side logic, without
 * VFIO: dmamap_vfio_open against a made-up sysfs and /dev in a temporary
 * directory, one missing piece at a time.  Each case asserts the exact
 * negative errno and the exact one-line reason (the path, the errno's
 * text, the likely cause).  The real thing runs in the VM test
 * (tests/vm/nvme-vfio.sh).
 */
/* Paths here are short (/tmp/...); truncation would fail the comparisons. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include <dmamap/vfio.h>

#define BDF "0000:00:04.0"

static char root[PATH_MAX];
static char sys_root[PATH_MAX], dev_root[PATH_MAX];

static void mkdirs(const char *fmt, const char *a)
{
	char p[PATH_MAX], cmd[PATH_MAX + 16];
	snprintf(p, sizeof(p), fmt, a);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/dmamap-vfio-test-XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(sys_root, sizeof(sys_root), "%s/sys", root);
	snprintf(dev_root, sizeof(dev_root), "%s/dev", root);
	mkdirs("%s/sys/bus/pci/drivers/nvme", root);
	mkdirs("%s/sys/bus/pci/drivers/vfio-pci", root);
	mkdirs("%s/sys/kernel/iommu_groups/7", root);
	mkdirs("%s/sys/module", root);
	mkdirs("%s/dev/vfio", root);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int try_open(char *err, size_t errlen)
{
	struct dmamap_vfio_opts o = { .sysfs_root = sys_root, .dev_root = dev_root };
	struct dmamap_vfio *v = (void *)1;
	int rc = dmamap_vfio_open(BDF, &o, &v, err, errlen);
	assert_null(v);
	return rc;
}

static void link_to(const char *target, const char *linkfmt)
{
	char l[PATH_MAX];
	snprintf(l, sizeof(l), linkfmt, sys_root, BDF);
	unlink(l);
	assert_int_equal(symlink(target, l), 0);
}

static void test_bad_address(void **state)
{
	(void)state;
	char err[256];
	struct dmamap_vfio *v;
	assert_int_equal(dmamap_vfio_open("", NULL, &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dmamap_vfio_open: bad PCI address \"\"");
	assert_int_equal(dmamap_vfio_open("../x", NULL, &v, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dmamap_vfio_open: bad PCI address \"../x\"");
	assert_int_equal(dmamap_vfio_open(BDF, NULL, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dmamap_vfio_open: out is NULL");
}

/* Every step of the path to a usable device, each missing in turn. */
static void test_open_errors(void **state)
{
	(void)state;
	char err[1024], want[1024];

	/* 1. No such device. */
	assert_int_equal(try_open(err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/bus/pci/devices/%s: No such file or directory (no such "
		 "PCI device)", sys_root, BDF);
	assert_string_equal(err, want);

	/* 2. The device, bound to nothing. */
	mkdirs("%s/bus/pci/devices/" BDF, sys_root);
	assert_int_equal(try_open(err, sizeof(err)), -ENXIO);
	snprintf(want, sizeof(want), "%s: not bound to any driver; bind it to vfio-pci: echo "
		 "vfio-pci > %s/bus/pci/devices/%s/driver_override; echo %s > "
		 "%s/bus/pci/drivers_probe", BDF, sys_root, BDF, BDF, sys_root);
	assert_string_equal(err, want);

	/* 3. Bound to the kernel's nvme driver. */
	link_to("../../../bus/pci/drivers/nvme", "%s/bus/pci/devices/%s/driver");
	assert_int_equal(try_open(err, sizeof(err)), -ENXIO);
	snprintf(want, sizeof(want), "%s: bound to nvme, not vfio-pci; rebind: echo vfio-pci > "
		 "%s/bus/pci/devices/%s/driver_override; echo %s > %s/bus/pci/drivers/nvme/unbind; "
		 "echo %s > %s/bus/pci/drivers_probe", BDF, sys_root, BDF, BDF, sys_root, BDF,
		 sys_root);
	assert_string_equal(err, want);

	/* 4. vfio-pci, but no IOMMU group (the IOMMU is off). */
	link_to("../../../bus/pci/drivers/vfio-pci", "%s/bus/pci/devices/%s/driver");
	assert_int_equal(try_open(err, sizeof(err)), -ENODEV);
	snprintf(want, sizeof(want), "%s/bus/pci/devices/%s/iommu_group: No such file or "
		 "directory (no IOMMU group: is the IOMMU on? intel_iommu=on / amd_iommu=on, and "
		 "not iommu=pt)", sys_root, BDF);
	assert_string_equal(err, want);

	/* 5. A group whose name is not a number. */
	mkdirs("%s/kernel/iommu_groups/x7", sys_root);
	link_to("../../../kernel/iommu_groups/x7", "%s/bus/pci/devices/%s/iommu_group");
	assert_int_equal(try_open(err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s/bus/pci/devices/%s/iommu_group: group name \"x7\" is "
		 "not a number", sys_root, BDF);
	assert_string_equal(err, want);

	/* 6. Group 7; no /dev/vfio/vfio and no vfio module. */
	link_to("../../../kernel/iommu_groups/7", "%s/bus/pci/devices/%s/iommu_group");
	assert_int_equal(try_open(err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/vfio/vfio: No such file or directory (module vfio is "
		 "not loaded: modprobe vfio-pci)", dev_root);
	assert_string_equal(err, want);

	/* 7. The module is there but the node is not (no devtmpfs). */
	mkdirs("%s/module/vfio", sys_root);
	assert_int_equal(try_open(err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s/vfio/vfio: No such file or directory", dev_root);
	assert_string_equal(err, want);

	/* 8. A node that is not VFIO's: a plain file answers no ioctl. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/vfio/vfio", dev_root);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(try_open(err, sizeof(err)), -ENOTTY);
	snprintf(want, sizeof(want), "%s/vfio/vfio: VFIO_GET_API_VERSION: %s (not a VFIO "
		 "container)", dev_root, strerror(ENOTTY));
	assert_string_equal(err, want);
}

/* A short error buffer is cut, never overrun; a NULL one is fine. */
static void test_err_buffer(void **state)
{
	(void)state;
	char err[16];
	memset(err, 'x', sizeof(err));
	struct dmamap_vfio *v;
	struct dmamap_vfio_opts o = { .sysfs_root = sys_root, .dev_root = dev_root };
	assert_int_equal(dmamap_vfio_open("0000:99:00.0", &o, &v, err, 8), -ENOENT);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'x');
	assert_int_equal(dmamap_vfio_open("0000:99:00.0", &o, &v, NULL, 0), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_address),
		cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_err_buffer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
