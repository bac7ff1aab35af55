#!/usr/bin/env bash
# The dmamap command end to end: exit codes and exact output lines.
set -euo pipefail
bin=$1; src=$2
bench="$(dirname "$bin")/dmamap-bench"   # built and installed beside dmamap
fail() { echo "cli-check: $*" >&2; exit 1; }
expect_rc() { local want=$1; shift; set +e; "$@" >/tmp/cli.$$ 2>&1; local rc=$?; set -e
	[ "$rc" = "$want" ] || { cat /tmp/cli.$$; fail "'$*' exited $rc, expected $want"; }; }

expect_rc 0 "$bin" --help
expect_rc 2 "$bin"
expect_rc 2 "$bin" frobnicate
# Every subcommand's --help: its own usage on stdout, exit 0; --version.
for c in run replay explain demo; do
	expect_rc 0 "$bin" "$c" --help
	head -n 1 /tmp/cli.$$ | grep -q "^usage: dmamap $c" || fail "$c --help: not its usage"
	expect_rc 0 "$bin" help "$c"
	head -n 1 /tmp/cli.$$ | grep -q "^usage: dmamap $c" || fail "help $c: not its usage"
done
expect_rc 0 "$bin" run "$src/examples/noforce.yaml" -h
head -n 1 /tmp/cli.$$ | grep -q "^usage: dmamap run" || fail "run FILE -h"
expect_rc 0 "$bin" --version
grep -qx "dmamap [0-9]*\.[0-9]*\.[0-9]*" /tmp/cli.$$ || fail "--version"
# A missing option value names the option.
expect_rc 2 "$bin" run "$src/examples/noforce.yaml" --svg
grep -qx "dmamap run: --svg needs a value" /tmp/cli.$$ || fail "run --svg without a value"
expect_rc 2 "$bin" run "$src/examples/noforce.yaml" --trace
grep -qx "dmamap run: --trace needs a value" /tmp/cli.$$ || fail "run --trace without a value"
expect_rc 2 "$bin" run "$src/examples/noforce.yaml" --seed
grep -qx "dmamap run: --seed needs a value" /tmp/cli.$$ || fail "run --seed without a value"
expect_rc 2 "$bin" replay x.trace --show
grep -qx "dmamap replay: --show needs a value" /tmp/cli.$$ || fail "replay --show without a value"
expect_rc 2 "$bin" replay x.trace --scenario
grep -qx "dmamap replay: --scenario needs a value" /tmp/cli.$$ || fail "replay --scenario without a value"
expect_rc 0 "$bench" --help
head -n 1 /tmp/cli.$$ | grep -q "^usage: dmamap-bench" || fail "dmamap-bench --help: not its usage"
expect_rc 2 "$bench" --size
grep -qx "dmamap-bench: --size needs a value" /tmp/cli.$$ || fail "dmamap-bench --size without a value"
expect_rc 2 "$bin" bench
grep -q "dmamap-bench" /tmp/cli.$$ || fail "dmamap bench: does not point at dmamap-bench"
expect_rc 2 "$bin" explain --frob
grep -qx "dmamap explain: unexpected '--frob'" /tmp/cli.$$ || fail "explain --frob"

expect_rc 0 "$bin" demo
grep -q "^21 passed, 0 failed$" /tmp/cli.$$ || fail "demo summary"
grep -q "^  4. PV guest >4 GiB: no pool until hot-add (003) *yes " /tmp/cli.$$ || fail "demo seed 003 row"
! grep -q "not runnable yet" /tmp/cli.$$ || fail "demo still lists scenarios as not runnable"

# A real board: RAM and windows exactly as the tree says.
zynq="$src/tests/dts/boards/zynqmp-zcu102-rev1.0.dts"
[ -f "$zynq" ] || fail "missing $zynq (it is part of the repository)"
expect_rc 0 "$bin" explain "$zynq"
grep -qx "RAM: 0x0-0x7fffffff, 0x800000000-0x87fffffff (4 GiB)" /tmp/cli.$$ || fail "zynqmp RAM"
grep -q "^swiotlb: on, 64 MiB at " /tmp/cli.$$ || fail "zynqmp pool"
expect_rc 0 "$bin" explain "$zynq" --device ethernet@ff0e0000
grep -qx "	IOMMU: none (linked IOMMU disabled)" /tmp/cli.$$ || fail "zynqmp ethernet IOMMU"
grep -qx "	32-bit mask: bounces above 0xffffffff" /tmp/cli.$$ || fail "zynqmp ethernet verdict"
expect_rc 0 "$bin" explain "$src/tests/dts/offsets.dts" --device /scb/inner/dev@1000
grep -qx "	window: bus 0x10000000-0x2fffffff -> cpu 0x8000000-0x27ffffff" /tmp/cli.$$ \
	|| fail "nested window composition"
# The Raspberry Pi 4 tree has no RAM: explain says so, --ram decides the pool.
rpi="$src/examples/boards/bcm2711-rpi-4-b.dts"
expect_rc 0 "$bin" explain "$rpi"
grep -q "^RAM: unknown" /tmp/cli.$$ || fail "rpi4 without RAM"
! grep -q "^swiotlb" /tmp/cli.$$ || fail "rpi4 pool without RAM"
expect_rc 0 "$bin" explain "$rpi" --ram 0x0:0x3b400000,0x40000000:0x1c0000000 --json --device mmc@7e340000
grep -q '"zone_dma_limit": "0x3fffffff"' /tmp/cli.$$ || fail "rpi4 zone"
grep -q '"verdict32": "bounces above 0x3fffffff"' /tmp/cli.$$ || fail "rpi4 emmc2 verdict"
expect_rc 2 "$bin" explain "$rpi" --ram 0x0:8Q
grep -q "^dmamap explain: --ram: '0x0:8Q' is not BASE:SIZE" /tmp/cli.$$ || fail "bad --ram"
expect_rc 1 "$bin" run "$src/examples/rpi4-4g.yaml" --ram 0x0:0x3b400000
grep -qx "swiotlb: off" /tmp/cli.$$ || fail "run --ram: 948 MiB Pi 4 has no pool"
expect_rc 2 "$bin" explain "$rpi" --device nosuch
grep -q "no DMA master 'nosuch'" /tmp/cli.$$ || fail "bad --device"

# Bad input: exit 2 and one line naming the file and what is wrong.
expect_rc 2 "$bin" explain /nonexistent/board.dts
grep -q "^/nonexistent/board.dts: " /tmp/cli.$$ || fail "missing tree message"
expect_rc 2 "$bin" explain "$src/tests/scenarios/bad-size.yaml"
[ "$(wc -l < /tmp/cli.$$)" = 1 ] || fail "bad scenario: more than one line"
grep -q "bad-size.yaml:4: platform.ram\[0\].size: bad number '12Q'" /tmp/cli.$$ || fail "bad scenario line"
expect_rc 2 "$bench" --threads 0
# Issue 17's shapes: the options parse, bad ones are refused, the JSON has the
# fields.  Short runs; no timing is checked here (speed lives in PERFORMANCE.md).
expect_rc 2 "$bench" --inflight 0
grep -qx "dmamap-bench: bad --inflight '0': expected 1..65536" /tmp/cli.$$ || fail "bench --inflight 0"
expect_rc 2 "$bench" --backend swiotlb --occupancy 96
grep -qx "dmamap-bench: bad --occupancy '96': expected a percentage 0..95" /tmp/cli.$$ \
	|| fail "bench --occupancy 96"
expect_rc 2 "$bench" --backend direct --occupancy 50
expect_rc 2 "$bench" --backend swiotlb-slots --check
expect_rc 0 "$bench" --backend swiotlb --inflight 64 --occupancy 50 --check --seconds 0.05 --json
for f in '"inflight": 64' '"occupancy": 50' '"memcpy_ns_per_op": ' '"seg_boundary": "0xffffffff"' \
	 '"check_mismatches": 0' '"validated": true' '"ratio_to_memcpy": '; do
	grep -qF "$f" /tmp/cli.$$ || fail "bench --inflight/--occupancy/--check JSON lacks $f"
done
expect_rc 0 "$bench" --backend swiotlb --inflight 1024 --threads 2 --seconds 0.05 --json
grep -qF '"bound_ns": ' /tmp/cli.$$ || fail "bench --inflight 1024: no bound_ns"
grep -qF '"validated": true' /tmp/cli.$$ || fail "bench --inflight 1024 --threads 2 not validated"

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
# Xen (seeds 001-003): the hypervisor line, its counters, and the verdicts.
expect_rc 0 "$bin" run "$ex/xen-pv-domu-hotplug.yaml" --json
grep -q '"xen_pool_late": 1' /tmp/cli.$$ || fail "xen: pool not made late"
grep -q '"lowmem_used_at_boot": 0' /tmp/cli.$$ || fail "xen: low memory spent at boot"
grep -q '"ops": "swiotlb-xen"' /tmp/cli.$$ || fail "xen: PV passthrough NIC without swiotlb-xen"
expect_rc 0 "$bin" run "$ex/xen-arm-dom0-linux-noxen.yaml"
grep -q "^hypervisor: xen arm dom0, p2m identity, features direct_mapped+dom0_iommu, policy linux, 1 domU served$" /tmp/cli.$$ \
	|| fail "xen: hypervisor line"
grep -q "^expected: xen-backend: tx request 0: wrong bytes: " /tmp/cli.$$ || fail "xen: corruption not shown"
expect_rc 0 "$bin" explain "$ex/xen-arm-dom0-backend.yaml"
grep -q "^eth: swiotlb-xen, masks 32/32, non-coherent; " /tmp/cli.$$ || fail "xen: explain eth"
grep -q "^mmc: direct, masks 32/32, non-coherent; reaches all memory; behind the hypervisor's IOMMU" /tmp/cli.$$ \
	|| fail "xen: explain mmc"
sed 's/domain: dom0/domain: domU/' "$ex/xen-arm-dom0-backend.yaml" > "$tmp/domu.yaml"
expect_rc 2 "$bin" run "$tmp/domu.yaml"
[ "$(wc -l < /tmp/cli.$$)" = 1 ] || fail "xen-backend in a domU: more than one line"
grep -q "^$tmp/domu.yaml:31: workloads\[0\].kind: xen-backend runs a PV backend in dom0, but hypervisor.domain is domU$" /tmp/cli.$$ \
	|| fail "xen-backend in a domU not refused with its line"
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
"$bin" run "$ex/xen-colored-dom0-p2m.yaml" --json --seed 9 > "$tmp/a.json"
"$bin" run "$ex/xen-colored-dom0-p2m.yaml" --json --seed 9 > "$tmp/b.json"
cmp -s "$tmp/a.json" "$tmp/b.json" || fail "two Xen runs with one seed differ"
# Trace and replay: noforce.yaml with the default swiotlb (its 1000 buffers
# above 4 GiB bounce) replays identically on itself; on noforce.yaml exactly
# those 1000 maps fail, and what depended on them is skipped.
sed -e '/^bootargs:/d' -e '/^expect:/,$d' "$ex/noforce.yaml" > "$tmp/swiotlb.yaml"
expect_rc 0 "$bin" run "$tmp/swiotlb.yaml" --trace "$tmp/run.trace"
head -n 1 "$tmp/run.trace" | grep -q '^{"dmamap_trace":1,"scenario":"noforce",' || fail "trace header"
tail -n 1 "$tmp/run.trace" | grep -q '^{"seq":15263,"op":"end","events":15262,"maps":2000,"map_failures":0,' \
	|| fail "trace footer"
expect_rc 0 "$bin" replay "$tmp/run.trace"
grep -qx "replay $tmp/run.trace (scenario noforce) on noforce ($tmp/swiotlb.yaml): IDENTICAL" /tmp/cli.$$ \
	|| fail "replay on its own scenario: not identical"
grep -qx "15262 operations, 0 differences, 0 skipped, 0 at another bus address" /tmp/cli.$$ || fail "replay same counts"
expect_rc 1 "$bin" replay "$tmp/run.trace" --scenario "$ex/noforce.yaml" --show 1
grep -qx "15262 operations, 1000 differences, 3000 skipped, 1002 at another bus address" /tmp/cli.$$ \
	|| fail "replay on noforce: counts"
grep -qx "by kind: ok 1000" /tmp/cli.$$ || fail "replay on noforce: kinds"
grep -qx "  seq 7699 map_single nic: the map failed (recorded: mapped, bounced)" /tmp/cli.$$ \
	|| fail "replay on noforce: first difference"
expect_rc 1 "$bin" replay "$tmp/run.trace" --scenario "$ex/noforce.yaml" --json
grep -q '"differences": 1000,' /tmp/cli.$$ || fail "replay --json differences"
head -c -10 "$tmp/run.trace" > "$tmp/cut.trace"
expect_rc 2 "$bin" replay "$tmp/cut.trace"
[ "$(wc -l < /tmp/cli.$$)" = 1 ] || fail "cut trace: more than one line"
grep -q "^$tmp/cut.trace:15264: not JSON (.*): the last line is cut (truncated trace)$" /tmp/cli.$$ \
	|| fail "cut trace: its line"
expect_rc 2 "$bin" run "$tmp/swiotlb.yaml" --trace /nonexistent/run.trace
grep -qx "dmamap run: --trace: /nonexistent/run.trace: No such file or directory" /tmp/cli.$$ \
	|| fail "unwritable trace"
expect_rc 2 "$bin" replay
# A restricted pool beyond the 16 GiB bound (fuzz_dt's 1016 GiB finding):
# refused by name, before any bookkeeping is allocated, not as "not RAM".
sed -e 's/reg = <0x0 0x80000000 0x1 0x00000000>;/reg = <0x0 0x80000000 0x10 0x00000000>;/' \
	-e 's/reg = <0x0 0x90000000 0x0 0x400000>;/reg = <0x0 0x90000000 0x4 0x40000000>;/' \
	"$ex/boards/soc-wifi.dts" > "$tmp/huge-pool.dts"
sed 's|dt: boards/soc-wifi.dts|dt: huge-pool.dts|' "$ex/soc-wifi.yaml" > "$tmp/huge-pool.yaml"
expect_rc 2 "$bin" run "$tmp/huge-pool.yaml"
grep -q "restricted pool 0x90000000+0x440000000 refused (E2BIG): larger than the 16 GiB a bounce pool may be" /tmp/cli.$$ \
	|| { cat /tmp/cli.$$; fail "huge restricted pool message"; }

# SIGINT/SIGTERM during run: stop at an operation boundary, the partial report
# marked as such, the trace ended on a whole line (its footer), exit 130.
# The run would take hours: the signal is sent once the trace shows it under way.
sed -e 's/count: 500000/count: 2000000000/' -e '/^expect:/,$d' "$ex/million.yaml" > "$tmp/long.yaml"
interrupt() { # SIGNAL OUTPUT-FLAGS...
	local sig=$1; shift
	rm -f "$tmp/long.trace"
	# --foreground: timeout passes our signal to dmamap once; without it,
	# it also signals its whole process group, and a second SIGTERM that
	# lands after the first was handled kills dmamap (exit 143, not 130).
	timeout --foreground -s KILL 300 "$bin" run "$tmp/long.yaml" --trace "$tmp/long.trace" "$@" \
		>"$tmp/long.out" 2>"$tmp/long.err" &
	local pid=$! n=0
	until [ -s "$tmp/long.trace" ] && [ "$(wc -l < "$tmp/long.trace")" -gt 2 ]; do
		sleep 0.05; n=$((n + 1)); [ $n -lt 2400 ] || fail "the long run did not start"
	done
	kill -"$sig" $pid
	set +e; wait $pid; local rc=$?; set -e
	[ "$rc" = 130 ] || { cat "$tmp/long.err"; fail "run stopped by SIG$sig exited $rc, expected 130"; }
	grep -qx "dmamap run: interrupted by SIG$sig: the report is partial" "$tmp/long.err" \
		|| fail "SIG$sig: no partial line on stderr"
	tail -n 1 "$tmp/long.trace" | grep -q '^{"seq":[0-9]*,"op":"end",.*,"partial":true}$' \
		|| fail "SIG$sig: the trace does not end with its footer"
}
interrupt INT --json
grep -q '^  "verdict": "partial",$' "$tmp/long.out" || fail "SIGINT: JSON verdict not partial"
grep -q '^  "interrupted_by": "SIGINT",$' "$tmp/long.out" || fail "SIGINT: JSON interrupted_by"
# The partial trace is whole: it replays, identically, on its own scenario.
expect_rc 0 "$bin" replay "$tmp/long.trace"
grep -q ": IDENTICAL$" /tmp/cli.$$ || fail "the partial trace does not replay identically"
interrupt TERM
grep -q "^scenario million: PARTIAL (interrupted by SIGTERM after [0-9]* operations; expect not judged)$" \
	"$tmp/long.out" || fail "SIGTERM: text report not marked partial"
grep -q "^[0-9]* map/unmap operations in .* s (partial)$" "$tmp/long.out" || fail "SIGTERM: last line"

# A failed write to stdout or to a report file is an error.
set +e; "$bin" run "$ex/noforce.yaml" --json > /dev/full 2>"$tmp/full.err"; rc=$?; set -e
[ "$rc" = 2 ] || fail "run --json > /dev/full exited $rc"
grep -qx "dmamap: cannot write to stdout: No space left on device" "$tmp/full.err" || fail "/dev/full message"
set +e; "$bin" run "$ex/noforce.yaml" > /dev/full 2>/dev/null; rc=$?; set -e
[ "$rc" = 2 ] || fail "run (text) > /dev/full exited $rc"
set +e; "$bin" explain "$ex/soc-wifi.yaml" > /dev/full 2>/dev/null; rc=$?; set -e
[ "$rc" = 2 ] || fail "explain > /dev/full exited $rc"
expect_rc 2 "$bin" run "$ex/noforce.yaml" --svg /dev/full
grep -qx "/dev/full: No space left on device" /tmp/cli.$$ || fail "--svg /dev/full message"
expect_rc 2 "$bin" run "$ex/noforce.yaml" --trace /dev/full
grep -qx "dmamap run: --trace /dev/full: could not write it all" /tmp/cli.$$ || fail "--trace /dev/full message"

# Messages: a machine range the host cannot map names the host's limit; a
# host-memory shortage is the host's, with the bytes it could not get.
printf 'name: x\nplatform:\n  ram:\n    - {base: 0, size: 2G}\n    - {base: 0x100000000, size: 250T}\n' \
	> "$tmp/huge-ram.yaml"
expect_rc 2 "$bin" run "$tmp/huge-ram.yaml"
grep -q "^$tmp/huge-ram.yaml:5: ram: 0x100000000+0xfa0000000000 (250.0 TiB) cannot be mapped on this host: the simulator maps each RAM range whole, and the largest free stretch of this host's address space is [0-9.]* TiB$" \
	/tmp/cli.$$ || fail "a range beyond the host's address space"
# ulimit -v: not under ASan, whose shadow memory needs terabytes of address space.
if ! grep -q __asan_init "$bin"; then
	set +e; (ulimit -v 1000000; "$bin" run "$ex/noforce.yaml") >/tmp/cli.$$ 2>&1; rc=$?; set -e
	[ "$rc" = 2 ] || fail "machine beyond ulimit -v exited $rc"
	grep -qx "$ex/noforce.yaml:6: the machine's 8.0 GiB of RAM cannot be mapped on this host: its address-space limit (ulimit -v) is 976.6 MiB" \
		/tmp/cli.$$ || { cat /tmp/cli.$$; fail "machine beyond ulimit -v: message"; }
	# 18 GiB of RAM mapped, and 50 MB more: not the 97 MiB a 16 GiB pool's slots need.
	printf 'name: x\nplatform:\n  ram:\n    - {base: 0, size: 1G}\n    - {base: 4G, size: 17G}\n  devices:\n    - {name: wifi, dma_bits: 64, restricted_pool: 16G}\n' \
		> "$tmp/big-pool.yaml"
	set +e; (ulimit -v $((18 * 1024 * 1024 + 50000)); "$bin" run "$tmp/big-pool.yaml") >/tmp/cli.$$ 2>&1; rc=$?; set -e
	[ "$rc" = 2 ] || fail "bookkeeping beyond the host's memory exited $rc"
	grep -qx "$tmp/big-pool.yaml:7: device 'wifi': restricted pool 0x100000000+0x400000000 refused (ENOMEM): swiotlb: this host cannot allocate 101711936 bytes of bookkeeping for a pool of 8388608 slots" \
		/tmp/cli.$$ || { cat /tmp/cli.$$; fail "host shortage not reported as the host's"; }
fi

# Every path a file can take: a FIFO, a device or a directory where a file is
# expected is refused at once (a FIFO would block a reader forever).
mkfifo "$tmp/fifo.yaml" "$tmp/fifo.dts" "$tmp/fifo.dtb" "$tmp/fifo.trace"
mkdir "$tmp/dir.dts"
ln -s /dev/zero "$tmp/zero.dtb"
for f in fifo.yaml fifo.dts fifo.dtb; do
	expect_rc 2 timeout -s KILL 60 "$bin" explain "$tmp/$f"
	grep -qx "$tmp/$f: not a regular file (a FIFO)" /tmp/cli.$$ || fail "explain $f: $(cat /tmp/cli.$$)"
done
expect_rc 2 timeout -s KILL 60 "$bin" run "$tmp/fifo.yaml"
grep -qx "$tmp/fifo.yaml: not a regular file (a FIFO)" /tmp/cli.$$ || fail "run FIFO"
expect_rc 2 timeout -s KILL 60 "$bin" replay "$tmp/fifo.trace"
grep -qx "$tmp/fifo.trace: not a regular file (a FIFO)" /tmp/cli.$$ || fail "replay FIFO"
expect_rc 2 "$bin" explain "$tmp/dir.dts"
grep -qx "$tmp/dir.dts: not a regular file (a directory)" /tmp/cli.$$ || fail "tree directory"
expect_rc 2 timeout -s KILL 60 "$bin" explain "$tmp/zero.dtb"
grep -qx "$tmp/zero.dtb: not a regular file (a device)" /tmp/cli.$$ || fail "tree device"
printf 'name: x\nplatform:\n  dt: fifo.dts\n' > "$tmp/dt-fifo.yaml"
expect_rc 2 timeout -s KILL 60 "$bin" run "$tmp/dt-fifo.yaml"
grep -qx "$tmp/dt-fifo.yaml:3: dt: $tmp/fifo.dts: not a regular file (a FIFO)" /tmp/cli.$$ \
	|| fail "a scenario's dt: FIFO: $(cat /tmp/cli.$$)"
# Scenario files: a size cap and a nesting-depth cap, each refused before parsing.
{ echo "name: x"; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } > "$tmp/huge.yaml"
expect_rc 2 "$bin" run "$tmp/huge.yaml"
grep -qx "$tmp/huge.yaml: larger than the 1048576 bytes a scenario file may be" /tmp/cli.$$ || fail "scenario size cap"
{ printf 'name: x\nplatform: '; head -c 200000 /dev/zero | tr '\0' '['; head -c 200000 /dev/zero | tr '\0' ']'; echo; } \
	> "$tmp/deep.yaml"
expect_rc 2 timeout -s KILL 60 "$bin" run "$tmp/deep.yaml"
grep -qx "$tmp/deep.yaml:2: nested deeper than 16 levels (a scenario needs far fewer)" /tmp/cli.$$ \
	|| fail "scenario depth cap"
# dtc runs with a time limit (a stand-in dtc that never finishes), and
# leaves no temporary file behind, even when dmamap is killed meanwhile.
mkdir "$tmp/slow"
printf '#!/bin/sh\nexec sleep 30\n' > "$tmp/slow/dtc"
chmod +x "$tmp/slow/dtc"
before=$(find /tmp -maxdepth 1 -name 'dmamap-dt-*' 2>/dev/null | wc -l)
set +e; PATH="$tmp/slow:$PATH" DMAMAP_DTC_TIMEOUT=1 "$bin" explain "$src/tests/dts/offsets.dts" >/tmp/cli.$$ 2>&1
rc=$?; set -e
[ "$rc" = 2 ] || fail "slow dtc: exit $rc"
grep -qx "$src/tests/dts/offsets.dts: /: dtc did not finish within 1 s (stopped; DMAMAP_DTC_TIMEOUT sets the limit)" \
	/tmp/cli.$$ || fail "slow dtc message: $(cat /tmp/cli.$$)"
PATH="$tmp/slow:$PATH" "$bin" explain "$src/tests/dts/offsets.dts" >/dev/null 2>&1 &
pid=$!
sleep 0.3
kill -KILL $pid; wait $pid 2>/dev/null || true
[ "$(find /tmp -maxdepth 1 -name 'dmamap-dt-*' 2>/dev/null | wc -l)" = "$before" ] || fail "a temporary tree file was left"
# A tree of 60 000 nodes (300 buses of 199 devices) loads in seconds (2 s
# here): finding node paths through libfdt, and growing the device array one
# entry at a time (a copy per device under ASan), were quadratic (20 000 nodes took
# 29 s, so 60 000 about 4 min).  The bound is sixty times what it takes now,
# so the verdict does not hang on the machine's load.
awk 'BEGIN { print "/dts-v1/;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;";
	print "\tmemory@0 { device_type = \"memory\"; reg = <0x0 0x0 0x0 0x80000000>; };";
	for (b = 0; b < 300; b++) {
		printf "\tbus@%x {\n\t\tcompatible = \"simple-bus\";\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n\t\tranges;\n\t\tdma-ranges = <0x0 0x0 0x0 0x80000000>;\n", b;
		for (i = 0; i < 199; i++) { a = 268435456 + (b * 199 + i) * 4096;
			printf "\t\tdev@%x { compatible = \"x,dev\"; reg = <0x%x 0x100>; };\n", a, a }
		print "\t};" }
	print "};" }' > "$tmp/big.dts"
expect_rc 0 timeout -s KILL 120 "$bin" explain "$tmp/big.dts" --all
[ "$(grep -c '^/bus@[0-9a-f]*/dev@' /tmp/cli.$$)" = 59700 ] || fail "big tree: not 59700 devices"
grep -qx "/bus@12b/dev@1e933000  x,dev  platform, non-coherent" \
	/tmp/cli.$$ || fail "big tree: the last device's line"

# A progress bar on a terminal (script(1) gives one), and only there.
if command -v script >/dev/null; then
	script -qec "$bin run $ex/million.yaml" /dev/null > "$tmp/tty.out" 2>&1 || true
	grep -q "workload 1/1" "$tmp/tty.out" || fail "no progress bar on a terminal"
fi
echo "cli check: every command behaved"
