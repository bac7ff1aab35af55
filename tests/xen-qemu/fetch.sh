#!/usr/bin/env bash
# tests/xen-qemu/fetch.sh - fetches Debian 12's Xen 4.17 hypervisor and its
# dom0-capable kernel with `apt-get download` into an ignored in-repo cache
# (build-vm/xen/ by default) and extracts them with dpkg-deb -x.  Idempotent:
# does nothing when the extracted files are already there.
#
# The kernel's package is found at fetch time: linux-image-amd64 is a
# metapackage whose Depends names the current ABI (linux-image-6.1.0-N-amd64).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${XENLAB_CACHE:-$repo/build-vm/xen}
mkdir -p "$cache/debs" "$cache/root"
stamp=$cache/fetched.ok
if [ -f "$stamp" ] && [ -f "$cache/xen.elf" ] && [ -f "$cache/vmlinuz" ]; then
	exit 0
fi
cd "$cache/debs"
resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
kpkg=$(resolve)
if [ -z "$kpkg" ]; then
	# A fresh machine may have no package lists yet.
	SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq || true
	kpkg=$(resolve)
fi
if [ -z "$kpkg" ]; then
	echo "fetch: cannot resolve linux-image-amd64's kernel package (apt-get update?)" >&2
	exit 1
fi
pkgs=(xen-hypervisor-4.17-amd64 "$kpkg")
for p in "${pkgs[@]}"; do
	ls "$p"_*.deb >/dev/null 2>&1 || apt-get download -q -o APT::Sandbox::User=root "$p"
done
for d in *.deb; do
	dpkg-deb -x "$d" "$cache/root"
done
xgz=$(ls "$cache"/root/boot/xen-4.17-amd64.gz 2>/dev/null || ls "$cache"/root/boot/xen-*.gz | head -n1)
gzip -dc "$xgz" >"$cache/xen.elf.tmp" && mv "$cache/xen.elf.tmp" "$cache/xen.elf"
kver=${kpkg#linux-image-}
cp "$cache/root/boot/vmlinuz-$kver" "$cache/vmlinuz"
echo "$kver" >"$cache/kernel-version"
dpkg-deb -f "$(ls xen-hypervisor-4.17-amd64_*.deb)" Version >"$cache/xen-version"
dpkg-deb -f "$(ls "$kpkg"_*.deb)" Version >"$cache/kernel-package-version"
touch "$stamp"
echo "fetch: xen $(cat "$cache/xen-version"), kernel $kver ($(cat "$cache/kernel-package-version")) in $cache"
