#!/usr/bin/env bash
# tests/xen-qemu/boot.sh XEN_ARGS LINUX_ARGS LOG [QEMU_EXTRA...] - boots Xen
# 4.17 + Debian's kernel + the harness initramfs under QEMU (TCG, q35, an
# emulated VT-d, a pcnet NIC (AMD PCnet: a 32-bit DMA mask, I/O-port registers)) and writes the serial console to LOG.
# One guest at a time; XENLAB_MEM (6G) of guest RAM, 2 vCPUs.
#
# -cpu max,-rdtscp: without it Xen's SVM instruction-length emulation under
# TCG fails on RDTSCP and dom0 dies.  -avx,-avx2: with AVX offered, guests
# under Xen under TCG now and then lose their AVX state (busybox died on a
# VEX instruction with #UD, domUs died in early boot, xl's malloc found its
# heap corrupted); without it they use SSE and every run completed.
# Nothing DMA-related depends on it.  kernel-irqchip=off: TCG has none.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XENLAB_CACHE:-$repo/build-vm/xen}
xen_args=$1 linux_args=$2 log=$3
shift 3
# QEMU's multiboot module list is comma-separated: a comma inside a
# module's command line is written twice.
linux_args=${linux_args//,/,,}
timeout --foreground -k 5 "${XENLAB_TIMEOUT:-120}" \
qemu-system-x86_64 -M q35,kernel-irqchip=off -accel tcg -cpu "${XENLAB_CPU:-max,-rdtscp,-avx,-avx2}" \
	-m "${XENLAB_MEM:-6G}" -smp "${XENLAB_SMP:-2}" -device intel-iommu,intremap=on \
	-display none -monitor none -serial "file:$log" -no-reboot \
	-nic none -device pcnet,netdev=n0 -netdev user,id=n0,restrict=on \
	-kernel "$cache/xen.elf" -append "console=com1 $xen_args" \
	-initrd "$cache/vmlinuz $linux_args,${XENLAB_INITRD:-$cache/initramfs.cpio.gz}" "$@"
