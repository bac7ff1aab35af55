#!/usr/bin/env bash
# tests/xen-qemu/mkinitramfs-dom0xl.sh - builds a dom0 initramfs with Xen's
# toolstack from Debian's packages (apt-get download + dpkg-deb -x into
# build-vm/xen/domu/), the harness initramfs and kernel for PV domUs, and one
# xl config per domU (domU names: nopci, pci).  Rebuilt every call (the
# cpio is cheap next to a boot).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XENLAB_CACHE:-$repo/build-vm/xen}
kver=$(cat "$cache/kernel-version")
d=$cache/domu
mkdir -p "$d/debs" "$d/root"
pk=(xen-utils-4.17 libxenmisc4.17 libxenstore4 xen-utils-common xenstore-utils libxencall1
    libxendevicemodel1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenhypfs1
    libxentoollog1 libxentoolcore1 libyajl2 libext2fs2 libc6 libuuid1 liblzma5 libzstd1 zlib1g
    libncurses6 libtinfo6)
if [ ! -f "$d/root/.ok" ]; then
	(cd "$d/debs" && for p in "${pk[@]}"; do ls "$p"_*.deb >/dev/null 2>&1 ||
		apt-get download -q -o APT::Sandbox::User=root "$p"; done)
	for f in "$d"/debs/*.deb; do dpkg-deb -x "$f" "$d/root"; done
	touch "$d/root/.ok"
fi
"$here/mkinitramfs.sh"
out=$cache/initramfs-dom0xl.cpio.gz
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,proc,sys,dev,run,tmp,lib/modules,domu,usr/lib,lib64,var/log,var/lib,etc}
bb=$(command -v busybox)
cp "$bb" "$tmp/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"; done
cp "$here/init-dom0xl.sh" "$tmp/init"; chmod +x "$tmp/init"
cp -a "$d/root/lib/x86_64-linux-gnu" "$tmp/lib/"
cp -a "$d/root/lib64/." "$tmp/lib64/" 2>/dev/null || ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$tmp/lib64/ld-linux-x86-64.so.2"
cp -a "$d/root/usr/lib/x86_64-linux-gnu" "$tmp/usr/lib/"
mkdir -p "$tmp/usr/lib/xen-4.17"; cp -a "$d/root/usr/lib/xen-4.17/bin" "$tmp/usr/lib/xen-4.17/"
cp -a "$d/root/usr/lib/xen-4.17/lib" "$tmp/usr/lib/xen-4.17/" 2>/dev/null || true
cp -a "$d/root/etc/xen" "$tmp/etc/" 2>/dev/null || true
mm=$cache/root/lib/modules/$kver/kernel/drivers/xen
cp "$mm/xen-evtchn.ko" "$mm/xen-privcmd.ko" "$mm/xen-gntdev.ko" "$mm/xen-gntalloc.ko" \
   "$mm/xenfs/xenfs.ko" "$mm/xen-pciback/xen-pciback.ko" "$tmp/lib/modules/"
cp "$cache/vmlinuz" "$tmp/domu/vmlinuz"
cp "$cache/initramfs.cpio.gz" "$tmp/domu/initramfs.gz"
for n in ${XENLAB_DOMUS:-nopci pci}; do
	{
		echo "name = '$n'"
		echo "type = 'pv'"
		echo "kernel = '/domu/vmlinuz'"
		echo "ramdisk = '/domu/initramfs.gz'"
		echo "extra = 'console=hvc0'"
		# nopci: RAM above 4 GiB (seed 003's domU); pci: 1 GiB.
		if [ "$n" = nopci ]; then echo "memory = 4400"; else echo "memory = 1024"; fi
		echo "vcpus = 1"
		echo "on_poweroff = 'destroy'"
		echo "on_crash = 'destroy'"
		[ "$n" = pci ] && echo "pci = ['0000:00:02.0']"
	} >"$tmp/domu/$n.cfg"
done
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out"
ls -la "$out"
