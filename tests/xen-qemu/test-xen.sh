#!/usr/bin/env bash
# tests/xen-qemu/test-xen.sh [--skip] [xenlab.py options] - `make test-xen`:
# checks that QEMU can run, builds the initramfs, then boots and compares
# (xenlab.py).  Where QEMU cannot run it fails, unless --skip (make
# test-xen XENLAB_SKIP=1) was given, which prints a loud SKIPPED instead.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" = --skip ]; then
	echo "########################################################################"
	echo "## test-xen: SKIPPED (XENLAB_SKIP=1): real Xen + Linux NOT booted,      ##"
	echo "## dmamap's Xen model NOT checked against them.                        ##"
	echo "########################################################################"
	exit 0
fi
why=""
command -v qemu-system-x86_64 >/dev/null || why="qemu-system-x86_64 is not installed"
[ -n "$why" ] || qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || why="QEMU has no TCG accelerator"
[ -n "$why" ] || command -v python3 >/dev/null || why="python3 is not installed"
if [ -n "$why" ]; then
	echo "test-xen: FAILED: $why; run scripts/install-deps.sh xen, or skip with" >&2
	echo "test-xen: make test-xen XENLAB_SKIP=1 (then says SKIPPED)" >&2
	exit 1
fi
"$here/fetch.sh"
"$here/mkinitramfs.sh"
start=$(date +%s)
rc=0
python3 "$here/xenlab.py" "$@" || rc=$?
echo "test-xen: $([ $rc -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $rc
