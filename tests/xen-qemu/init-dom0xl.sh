#!/bin/busybox sh
# tests/xen-qemu/init-dom0xl.sh - /init of the dom0 initramfs that carries
# Xen's toolstack (xl, xenstored, xenconsoled): starts them, boots each PV
# domU of /domu/*.cfg (the harness initramfs inside, init.sh), prints each
# domU's console between XENLAB-DOMU markers, then powers off.
export PATH=/bin:/usr/lib/xen-4.17/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /run/xen /run/xenstored /var/lib/xenstored /var/log/xen/console /var/lib/xen /tmp /dev/pts
ln -s /run /var/run
mount -t devpts devpts /dev/pts
for m in xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs; do
	insmod /lib/modules/$m.ko 2>&1
done
mount -t xenfs xenfs /proc/xen
echo "XENLAB-DOM0XL capabilities=$(cat /proc/xen/capabilities)"
xenstored --pid-file /run/xenstored.pid 2>&1
sleep 1
xen-init-dom0 2>&1
# Backends after xenstored: the kernel's xenbus sees the store by then.
insmod /lib/modules/xen-pciback.ko 2>&1
xenconsoled --log=guest --log-dir=/var/log/xen/console 2>&1 &
sleep 1
for cfg in /domu/*.cfg; do
	n=$(basename "$cfg" .cfg)
	pci=$(sed -n "s/^pci *= *\['\([^']*\)'.*/\1/p" "$cfg")
	[ -n "$pci" ] && xl pci-assignable-add "$pci" 2>&1
	echo "XENLAB-DOMU-BEGIN $n"
	xl -v create "$cfg" 2>&1
	i=0
	while xl list 2>/dev/null | grep -q "^$n " && [ $i -lt 300 ]; do sleep 1; i=$((i+1)); done
	cat /var/log/xen/console/guest-$n.log 2>&1
	echo "XENLAB-DOMU-END $n"
done
xl dmesg 2>&1 | tail -n 40
echo "XENLAB-DONE"
poweroff -f
