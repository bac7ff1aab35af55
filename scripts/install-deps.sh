#!/usr/bin/env bash
# Installs what dmamap needs to build and test, from Debian 12's packages.
# Idempotent: installs only what is missing.  Needs root (or sudo) when
# something is missing.
set -euo pipefail

# libclang-rt-14-dev: clang 14's runtimes (libclang_rt.fuzzer, .tsan) for
# `make fuzz` and `make test-tsan`; named explicitly, as clang only recommends it.
PKGS=(build-essential cmake pkg-config libcmocka-dev libfdt-dev
      device-tree-compiler libyaml-dev libjansson-dev clang libclang-rt-14-dev)
# ---- issue 19: the VFIO VM test (tests/vm/nvme-vfio.sh) ----
# QEMU (TCG), a static busybox and cpio for the initramfs, xz/zstd for
# compressed kernel modules; the kernel itself is fetched below.
PKGS+=(qemu-system-x86 busybox-static cpio xz-utils zstd)
# ---- end issue 19 ----
# --- xen-qemu (issue 20): tests/xen-qemu/ boots Xen 4.17 + Linux under QEMU.
# `install-deps.sh xen` also fetches Xen and the kernel (apt-get download
# into build-vm/xen/, extracted with dpkg-deb -x) once everything is installed.
PKGS+=(python3)   # tests/xen-qemu/xenlab.py; QEMU, busybox and cpio: above
if [ "${1:-}" = xen ]; then
	trap 'rc=$?; [ $rc -ne 0 ] || "$(dirname "$0")/../tests/xen-qemu/fetch.sh" || exit 1' EXIT
fi
# --- end xen-qemu ---

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# ---- issue 19: Debian's cloud kernel, cached in build-vm/ (ignored) ----
vm_kernel() {
	[ "$(uname -m)" = x86_64 ] || return 0
	ls "$(dirname "$0")"/../build-vm/kernel/boot/vmlinuz-* >/dev/null 2>&1 && return 0
	"$(dirname "$0")"/vm-kernel.sh >/dev/null
}
# ---- end issue 19 ----
if [ ${#missing[@]} -eq 0 ]; then vm_kernel; exit 0; fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
vm_kernel # issue 19
