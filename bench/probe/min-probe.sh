#!/usr/bin/env bash
# The fastest batch of lazy-mode IOMMU 4 KiB map+unmap pairs (bench/probe/
# iommu_min.c), three runs: a figure a busy machine barely moves, to compare
# two builds where dmamap-bench's mean is too noisy.
# Usage: bench/probe/min-probe.sh [BUILD_DIR] (default build/, from `make build`).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cc -O2 -Iinclude -I"$build/include" bench/probe/iommu_min.c "$build/libdmamap-sim.a" "$build/libdmamap.a" -lpthread -o "$out/probe"
for i in 1 2 3; do "$out/probe"; done
