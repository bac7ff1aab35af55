#!/usr/bin/env bash
# Instructions per 4 KiB map+unmap (direct, and swiotlb=force), counted by
# callgrind: repeatable whatever else the machine is doing, so two builds
# can be compared on a busy machine.  Usage: bench/probe/ir-probe.sh [BUILD_DIR]
# (default build/, which `make build` makes).  Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cc -O2 -Iinclude -I"$build/include" bench/probe/ir_probe.c "$build/libdmamap-sim.a" "$build/libdmamap.a" -lpthread -o "$out/probe"
for b in direct swiotlb; do
	for n in 100000 200000; do
		valgrind --tool=callgrind --callgrind-out-file="$out/cg.$n" "$out/probe" $b $n >/dev/null 2>"$out/vg.$n"
	done
	a=$(sed -n 's/.*Collected : //p' "$out/vg.100000"); c=$(sed -n 's/.*Collected : //p' "$out/vg.200000")
	echo "$b: $(( (c - a) / 100000 )) instructions per map+unmap"
done
