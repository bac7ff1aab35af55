#!/usr/bin/env bash
# tests/lib/kit-install-check.sh - the driver test kit as an installed
# user gets it: the build installed into a scratch prefix, then the
# installed examples/driver-kit (the example NIC driver and its test) built
# with its Makefile through pkg-config (dmamap-kit), with implicit function
# declarations as errors, and run; then with find_package(dmamap
# COMPONENTS kit).  Owns only its scratch folder.
set -euo pipefail
build=$1; cc=$2
fail() { echo "kit-install-check: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
[ -f "$prefix/include/dmamap/sim/kit.h" ] || fail "no kit.h installed"
pcdir=$(dirname "$(find "$prefix" -name dmamap-kit.pc | head -n1)")
[ -f "$pcdir/dmamap-kit.pc" ] || fail "no dmamap-kit.pc installed"
libdir=$(dirname "$(find "$prefix" -name 'libdmamap-kit.a' | head -n1)")
ex=$(find "$prefix" -path '*examples/driver-kit' -type d | head -n1)
[ -n "$ex" ] || fail "the driver-kit example is not installed"
cp -r "$ex" "$tmp/ex"
PKG_CONFIG_PATH=$pcdir make -s -C "$tmp/ex" CC="$cc" CFLAGS="-std=c11 -Wall -Wextra -Werror -O2" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$tmp/ex/kit_test")
[ "$out" = "kit: ok" ] || fail "pkg-config kit example printed '$out'"
mkdir "$tmp/cm"
cp "$ex"/kit_test.c "$ex"/ringnic.c "$ex"/netstub.h "$tmp/cm/"
cat > "$tmp/cm/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(kit_consumer LANGUAGES C)
find_package(dmamap 0.1 REQUIRED COMPONENTS sim kit)
add_executable(kit_test kit_test.c)
set_target_properties(kit_test PROPERTIES C_STANDARD 11 C_STANDARD_REQUIRED ON)
target_link_libraries(kit_test PRIVATE dmamap::kit)
CM
cmake -S "$tmp/cm" -B "$tmp/cm/build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_FLAGS="-Wall -Wextra -Werror -Werror=implicit-function-declaration" >/dev/null
cmake --build "$tmp/cm/build" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$tmp/cm/build/kit_test")
[ "$out" = "kit: ok" ] || fail "find_package kit example printed '$out'"
echo "kit install check: header, library, .pc; the example via pkg-config and find_package"
