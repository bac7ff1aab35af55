#!/usr/bin/env bash
# tests/vm/nvme-vfio.sh - the userspace NVMe driver (examples/nvme/) on
# libdmamap's VFIO platform, doing real DMA through QEMU's emulated Intel
# IOMMU to QEMU's emulated NVMe, in a Debian kernel booted under TCG.
#
# Builds an initramfs (busybox-static, the VFIO modules of Debian's cloud
# kernel, the statically linked driver, tests/vm/init), boots it once with
# a fresh zeroed disk, and reads the verdict from the serial console:
#   - every variant (strict, lazy, dma32, untrusted) prints PASS: each
#     size (512 B, 4 KiB, 128 KiB through a PRP list) written and read
#     back byte-exact through IOVAs dmamap allocated (logged);
#   - the broken variant (a buffer unmapped before the device reads it):
#     the buffer's bytes did not reach the disk, and the guest kernel
#     reported a DMAR fault at exactly the IOVA the driver had unmapped.
# Anything else fails, loudly: no QEMU, no kernel, no boot, a timeout.
#   usage: tests/vm/nvme-vfio.sh DRIVER_BINARY [CACHE]   (CACHE: build-vm)
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:?usage: $0 DRIVER_BINARY [CACHE]}
CACHE=${2:-$SRC/build-vm}
TIMEOUT=${VM_TIMEOUT:-240}
fail() { echo "nvme-vfio: FAIL: $*" >&2; exit 1; }

command -v qemu-system-x86_64 >/dev/null ||
	fail "qemu-system-x86_64 not found: this test cannot run (scripts/install-deps.sh installs qemu-system-x86)"
[ -x /bin/busybox ] ||
	fail "/bin/busybox missing (scripts/install-deps.sh installs busybox-static)"
command -v cpio >/dev/null || fail "cpio missing (scripts/install-deps.sh installs it)"
ldd /bin/busybox >/dev/null 2>&1 && fail "/bin/busybox is dynamically linked: install busybox-static"
[ -x "$BIN" ] || fail "driver binary $BIN not built"
ldd "$BIN" >/dev/null 2>&1 && fail "$BIN is dynamically linked (build it without sanitizers)"

KVER=$("$SRC/scripts/vm-kernel.sh" "$CACHE") || fail "no kernel (scripts/vm-kernel.sh)"
KDIR=$CACHE/kernel
VMLINUZ=$KDIR/boot/vmlinuz-$KVER
MODDIR=$KDIR/lib/modules/$KVER/kernel
[ -f "$VMLINUZ" ] || fail "$VMLINUZ missing"

WORK=$CACHE/run
rm -rf "$WORK"
mkdir -p "$WORK/root/bin" "$WORK/root/modules" "$WORK/root/proc" "$WORK/root/sys" \
	"$WORK/root/dev" "$WORK/root/tmp"
cp /bin/busybox "$WORK/root/bin/busybox"
cp "$SRC/tests/vm/init" "$WORK/root/init"
cp "$BIN" "$WORK/root/dmamap-nvme-vfio"
for m in virt/lib/irqbypass drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 \
	 drivers/vfio/vfio_virqfd drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci; do
	f=$MODDIR/$m.ko
	if [ -f "$f" ]; then cp "$f" "$WORK/root/modules/"
	elif [ -f "$f.xz" ]; then xz -dc "$f.xz" > "$WORK/root/modules/$(basename "$m").ko"
	elif [ -f "$f.zst" ]; then zstd -qdc "$f.zst" > "$WORK/root/modules/$(basename "$m").ko"
	else fail "module $m not in $MODDIR"; fi
done
(cd "$WORK/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$WORK/initramfs.cpio" ||
	fail "cpio"
truncate -s 8M "$WORK/disk.img"

LOG=$WORK/console.log
echo "nvme-vfio: booting $KVER under QEMU TCG (timeout ${TIMEOUT}s); console: $LOG"
start=$(date +%s)
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 -M q35 -accel tcg -m 1G -smp 1 \
	-device intel-iommu,intremap=off \
	-drive file="$WORK/disk.img",if=none,id=nvm,format=raw -device nvme,serial=dmamap,drive=nvm \
	-kernel "$VMLINUZ" -initrd "$WORK/initramfs.cpio" \
	-append "console=ttyS0 intel_iommu=on iommu=nopt hugepages=20 panic=-1 quiet loglevel=4" \
	-display none -monitor none -serial file:"$LOG" -no-reboot -nodefaults \
	</dev/null >"$WORK/qemu.out" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
tr -d '\r' < "$LOG" > "$LOG.txt" 2>/dev/null || : > "$LOG.txt"
show() { echo "---- console (last 60 lines) ----" >&2; tail -n 60 "$LOG.txt" >&2
	 echo "---- qemu ----" >&2; tail -n 20 "$WORK/qemu.out" >&2; }
if ! grep -q "VM-INIT: booted" "$LOG.txt"; then
	show
	[ $rc -eq 124 ] && fail "the guest did not boot within ${TIMEOUT}s"
	fail "QEMU could not run or the guest did not boot (exit $rc)"
fi
grep -q "VM-INIT: done" "$LOG.txt" || { show; fail "the guest did not finish (exit $rc after ${secs}s)"; }
grep -q "VM-INIT: FAIL" "$LOG.txt" && { show; fail "guest set-up: $(grep 'VM-INIT: FAIL' "$LOG.txt")"; }

bad=0
for v in strict lazy dma32 untrusted dac broken; do
	if grep -q "^NVME-VFIO: PASS variant=$v\$" "$LOG.txt"; then
		echo "nvme-vfio: PASS variant=$v ($(grep -c "^NVME-VFIO: iova variant=$v " "$LOG.txt") IOVAs logged)"
	else
		echo "nvme-vfio: FAIL variant=$v: $(grep "^NVME-VFIO: FAIL variant=$v" "$LOG.txt" || echo 'no verdict')" >&2
		bad=1
	fi
done
for v in strict lazy dma32 untrusted dac; do
	for s in 512 4096 131072; do
		grep -q "^NVME-VFIO: data variant=$v size=$s .* ok" "$LOG.txt" ||
			{ echo "nvme-vfio: FAIL variant=$v: no read-back of $s bytes" >&2; bad=1; }
	done
done
# The IOMMU fault: the kernel's DMAR report names the IOVA the driver unmapped.
iova=$(sed -n 's/^NVME-VFIO: BROKEN variant=broken iova=\(0x[0-9a-f]*\) .*data-reached-disk=no$/\1/p' "$LOG.txt")
if [ -z "$iova" ]; then
	echo "nvme-vfio: FAIL variant=broken: no BROKEN line" >&2; bad=1
elif grep -i "dmar" "$LOG.txt" | grep -qi "fault addr $iova\b"; then
	echo "nvme-vfio: PASS fault: guest kernel reported a DMAR fault at $iova:"
	grep -i "dmar" "$LOG.txt" | grep -i "fault addr $iova\b" | head -n 2 | sed 's/^/    /'
else
	echo "nvme-vfio: FAIL variant=broken: no DMAR fault at $iova in the guest kernel's log" >&2
	grep -i dmar "$LOG.txt" | head -n 5 >&2
	bad=1
fi
# Both kinds of arena ran: 2 MiB hugetlb pages, and 4 KiB pages (broken).
grep -q "^NVME-VFIO: vfio: .*arena 32 MiB (2 MiB hugetlb pages)" "$LOG.txt" ||
	{ echo "nvme-vfio: FAIL: no variant ran on a hugetlb arena" >&2; bad=1; }
grep -q "^NVME-VFIO: vfio: .*arena 32 MiB (4 KiB pages)" "$LOG.txt" ||
	{ echo "nvme-vfio: FAIL: no variant ran on a 4 KiB-page arena" >&2; bad=1; }
if [ $bad -ne 0 ]; then show; fail "see above (${secs}s)"; fi
echo "nvme-vfio: all variants passed in one guest boot (${secs}s)"
