#!/usr/bin/env bash
# tests/xen-qemu/mkinitramfs.sh - builds the guest's initramfs (busybox-static,
# init.sh as /init, the pcnet32 and mii modules from the fetched kernel) into the cache.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XENLAB_CACHE:-$repo/build-vm/xen}
kver=$(cat "$cache/kernel-version")
out=$cache/initramfs.cpio.gz
bb=$(command -v busybox || true)
[ -x /bin/busybox ] && bb=/bin/busybox
[ -n "$bb" ] || { echo "mkinitramfs: no busybox (busybox-static)" >&2; exit 1; }
if [ -f "$out" ] && [ "$out" -nt "$here/init.sh" ] && [ "$out" -nt "$here/mkinitramfs.sh" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,proc,sys,dev,lib/modules,tmp}
cp "$bb" "$tmp/bin/busybox"
# The applets' links are made here, not by /init (faster under TCG).
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$tmp/bin/$a"; done
cp "$here/init.sh" "$tmp/init"
chmod +x "$tmp/init"
m=$cache/root/lib/modules/$kver/kernel/drivers/net
cp "$m/mii.ko" "$m/ethernet/amd/pcnet32.ko" "$tmp/lib/modules/"
cp "$cache/root/lib/modules/$kver/kernel/drivers/pci/xen-pcifront.ko" "$tmp/lib/modules/"
(cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) >"$out.tmp"
mv "$out.tmp" "$out"
