#!/usr/bin/env bash
# The dmamap command end to end: exit codes and exact output lines.
set -euo pipefail
bin=$1; src=$2
fail() { echo "cli-check: $*" >&2; exit 1; }
expect_rc() { local want=$1; shift; set +e; "$@" >/tmp/cli.$$ 2>&1; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat /tmp/cli.$$; fail "'$*' exited $rc, expected $want"; }; }

expect_rc 0 "$bin" --help
expect_rc 2 "$bin"
expect_rc 2 "$bin" frobnicate
expect_rc 0 "$bin" demo
grep -q "^8 passed, 0 failed$" /tmp/cli.$$ || fail "demo summary"

# A real board: RAM and windows exactly as the tree says.
zynq="$src/../shared/dts/zynqmp-zcu102-rev1.0.dts"
[ -f "$zynq" ] || fail "missing $zynq (shared/ must sit beside the repo)"
expect_rc 0 "$bin" explain "$zynq"
grep -qx "ram 0x0-0x7fffffff" /tmp/cli.$$ || fail "zynqmp low RAM"
grep -qx "ram 0x800000000-0x87fffffff" /tmp/cli.$$ || fail "zynqmp high RAM"
grep -qx "device /axi/ethernet@ff0e0000 platform non-coherent identity (no dma-ranges) iommu /axi/iommu@fd800000#0x877 disabled" /tmp/cli.$$ \
	|| fail "zynqmp ethernet line"
expect_rc 0 "$bin" explain "$src/tests/dts/offsets.dts"
grep -qx "device /scb/inner/dev@1000 platform non-coherent bus 0x10000000-0x2fffffff -> cpu 0x8000000-0x27ffffff iommu none" /tmp/cli.$$ \
	|| fail "nested window composition"

# Bad input: exit 2 and one line naming the file and what is wrong.
expect_rc 2 "$bin" explain /nonexistent/board.dts
grep -q "^/nonexistent/board.dts: " /tmp/cli.$$ || fail "missing tree message"
expect_rc 2 "$bin" explain "$src/tests/scenarios/bad-size.yaml"
[ "$(wc -l < /tmp/cli.$$)" = 1 ] || fail "bad scenario: more than one line"
grep -q "bad-size.yaml:4: platform.ram\[0\].size: bad number '12Q'" /tmp/cli.$$ || fail "bad scenario line"
expect_rc 2 "$bin" bench --threads 0
rm -f /tmp/cli.$$
echo "cli check: 12 commands behaved"
