#!/usr/bin/env bash
# scripts/vm-kernel.sh - Debian's cloud kernel for the VFIO VM test
# (tests/vm/nvme-vfio.sh), fetched with apt-get download and unpacked into
# an ignored cache in the repository: CACHE/debs/*.deb, CACHE/kernel/.
# Which kernel: the package linux-image-cloud-amd64 depends on, resolved by
# name now (no ABI number written here).  Idempotent: nothing is fetched
# when a kernel is already unpacked.  Prints the unpacked kernel's version.
#   usage: scripts/vm-kernel.sh [CACHE]   (default: build-vm)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${1:-build-vm}
META=linux-image-cloud-amd64

have() { ls "$CACHE"/kernel/boot/vmlinuz-* >/dev/null 2>&1; }
if have; then
	basename "$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -n1)" | sed 's/^vmlinuz-//'
	exit 0
fi
mkdir -p "$CACHE/debs"
resolve() { apt-cache depends "$META" 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; }
PKG=$(resolve || true)
if [ -z "$PKG" ]; then
	echo "vm-kernel: $META unknown to apt; running apt-get update" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	PKG=$(resolve || true)
fi
[ -n "$PKG" ] || { echo "vm-kernel: FAIL: cannot resolve the kernel package $META depends on" >&2; exit 1; }
echo "vm-kernel: fetching $PKG (the kernel $META depends on)" >&2
# apt drops privileges to _apt for downloads; the cache is ours.
(cd "$CACHE/debs" && apt-get download -q "$PKG" 2>&1 | grep -v "couldn't be accessed by user '_apt'" >&2) || true
DEB=$(ls "$CACHE"/debs/"$PKG"_*.deb 2>/dev/null | head -n1)
[ -n "$DEB" ] || { echo "vm-kernel: FAIL: apt-get download $PKG gave no .deb" >&2; exit 1; }
rm -rf "$CACHE/kernel.tmp"
dpkg-deb -x "$DEB" "$CACHE/kernel.tmp"
mv "$CACHE/kernel.tmp" "$CACHE/kernel"
have || { echo "vm-kernel: FAIL: $DEB holds no boot/vmlinuz-*" >&2; exit 1; }
basename "$(ls "$CACHE"/kernel/boot/vmlinuz-* | head -n1)" | sed 's/^vmlinuz-//'
