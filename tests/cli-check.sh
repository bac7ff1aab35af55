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
grep -q "^12 passed, 0 failed$" /tmp/cli.$$ || fail "demo summary"

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

# Scenarios: exit 0 pass, 1 fail, 2 bad input; JSON and SVG outputs.
ex="$src/examples"
tmp=$(mktemp -d); trap 'rm -rf "$tmp" /tmp/cli.$$' EXIT
expect_rc 0 "$bin" run "$ex/gpu-nic-8g.yaml" --json --svg "$tmp/map.svg"
grep -q '"verdict": "pass"' /tmp/cli.$$ || fail "run --json verdict"
grep -q '"bounced_maps": 20000' /tmp/cli.$$ || fail "run --json nic bounced maps"
grep -q '<svg' "$tmp/map.svg" || fail "run --svg wrote no SVG"
! grep -q $'\r' /tmp/cli.$$ || fail "a progress bar into a pipe"
sed 's/bounced_maps: 20000/bounced_maps: 19999/' "$ex/gpu-nic-8g.yaml" > "$tmp/wrong.yaml"
expect_rc 1 "$bin" run "$tmp/wrong.yaml"
grep -q "^problem: $tmp/wrong.yaml:18: expected nic bounced_maps == 19999, got 20000$" /tmp/cli.$$ \
	|| fail "failed expect line"
expect_rc 2 "$bin" run "$src/tests/scenarios/pvh-dom0-gpu-nic.yaml"
grep -q "not supported yet" /tmp/cli.$$ || fail "Xen/IOMMU scenario not refused clearly"
expect_rc 2 "$bin" run "$src/tests/scenarios/bad-size.yaml"
[ "$(wc -l < /tmp/cli.$$)" = 1 ] || fail "bad run input: more than one line"
expect_rc 2 "$bin" run "$ex/noforce.yaml" --seed x
expect_rc 2 "$bin" run
expect_rc 0 "$bin" explain "$ex/soc-wifi.yaml"
grep -q "^/soc/wifi@10000000: swiotlb, masks 32/32, coherent; " /tmp/cli.$$ || fail "explain scenario"
# Same seed, same bytes.
"$bin" run "$ex/blk-segments.yaml" --json --seed 7 > "$tmp/a.json"
"$bin" run "$ex/blk-segments.yaml" --json --seed 7 > "$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "two runs with one seed differ"
# A progress bar on a terminal (script(1) gives one), and only there.
if command -v script >/dev/null; then
	script -qec "$bin run $ex/million.yaml" /dev/null > "$tmp/tty.out" 2>&1 || true
	grep -q "workload 1/1" "$tmp/tty.out" || fail "no progress bar on a terminal"
fi
echo "cli check: 27 commands behaved"
