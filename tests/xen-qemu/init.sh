#!/bin/busybox sh
# tests/xen-qemu/init.sh - /init of the guest's initramfs: prints what Linux
# and Xen report about DMA between XENLAB markers on the console, then powers
# off.  Reads only; the one action is bringing the 32-bit pcnet NIC up so
# that its receive ring gets mapped (and bounced when out of its reach).
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
sec() { echo "XENLAB-BEGIN $1"; }
end() { echo "XENLAB-END $1"; }
show() { for f in "$@"; do [ -r "$f" ] && echo "$f=$(cat "$f" 2>/dev/null | tr '\n' ' ')"; done; }
echo "XENLAB-START"
sec cmdline; cat /proc/cmdline; end cmdline
sec hypervisor; show /sys/hypervisor/type /sys/hypervisor/guest_type \
	/sys/hypervisor/version/major /sys/hypervisor/version/minor \
	/sys/hypervisor/properties/features; end hypervisor
sec swiotlb_before; for f in /sys/kernel/debug/swiotlb/*; do show "$f"; done; end swiotlb_before
sec iomem; grep -v '^ ' /proc/iomem | head -n 40; end iomem
sec meminfo; grep -E 'MemTotal|DirectMap' /proc/meminfo; end meminfo
sec iommu_groups; ls /sys/kernel/iommu_groups 2>/dev/null | wc -l; end iommu_groups
# A PV domU's PCI devices come through pcifront (a module in Debian); the
# module refuses to load anywhere else.
[ -f /lib/modules/xen-pcifront.ko ] && insmod /lib/modules/xen-pcifront.ko 2>/dev/null && sleep 2
nic=""
for d in /sys/bus/pci/devices/*; do
	[ "$(cat $d/vendor):$(cat $d/device)" = "0x1022:0x2000" ] && nic=$d
done
if [ -n "$nic" ]; then
	insmod /lib/modules/mii.ko 2>&1; insmod /lib/modules/pcnet32.ko 2>&1
	for n in /sys/class/net/*; do
		[ "$(readlink -f $n/device)" = "$(readlink -f $nic)" ] && ip link set "$(basename $n)" up
	done
	# The receive ring is mapped by the time `ip link set up` returns
	# (pcnet32_open -> pcnet32_init_ring); a moment for the first refill.
	sleep 1
fi
sec pci; for d in /sys/bus/pci/devices/*; do
	drv=$(basename "$(readlink $d/driver 2>/dev/null)" 2>/dev/null)
	echo "$(basename $d) id=$(cat $d/vendor):$(cat $d/device) class=$(cat $d/class) driver=${drv:-none} dma_mask_bits=$(cat $d/dma_mask_bits) consistent_dma_mask_bits=$(cat $d/consistent_dma_mask_bits) iommu_group=$(basename "$(readlink $d/iommu_group 2>/dev/null)" 2>/dev/null)"
done; end pci
sec swiotlb_after; for f in /sys/kernel/debug/swiotlb/*; do show "$f"; done; end swiotlb_after
sec dmesg; dmesg | grep -iE 'swiotlb|software io tlb|PCI-DMA|DMAR|IOMMU|iommu|Xen|xen|pcnet|Booting|Memory:|DMA32|Zone ranges|  DMA|  Normal|Movable' | head -n 200; end dmesg
echo "XENLAB-DONE"
poweroff -f
