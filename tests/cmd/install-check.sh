#!/usr/bin/env bash
# The installed tree, as a user gets it: the build installed into a scratch
# prefix (never the one it was configured with), then
#  - a consumer of the library alone, with pkg-config, shared and static;
#  - the simulator example (examples/sim-driver) built and run against the
#    installed tree twice: with pkg-config (its Makefile) and with
#    find_package(dmamap) (its CMakeLists.txt);
#  - the prefix moved elsewhere: pkg-config still points inside it;
#  - a library-only configure (-DDMAMAP_BUILD_SIM=OFF) looks for none of
#    libfdt, libyaml, jansson, cmocka, and builds.
set -euo pipefail
build=$1; cc=$2; src=$3
fail() { echo "install-check: $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name dmamap.pc | head -n1)")
libdir=$(dirname "$(find "$prefix" -name 'libdmamap.so' | head -n1)")
[ -f "$pcdir/dmamap-sim.pc" ] || fail "no dmamap-sim.pc installed"
[ -f "$prefix/include/dmamap/sim/sim.h" ] || fail "no simulator headers installed"
[ -f "$libdir/libdmamap-sim.a" ] || fail "no libdmamap-sim.a installed"
[ -f "$(find "$prefix" -name dmamapConfig.cmake | head -n1)" ] || fail "no CMake package installed"
! grep -q /usr/local "$pcdir"/*.pc || fail "a .pc file names /usr/local"
export PKG_CONFIG_PATH=$pcdir
[ "$(realpath -m "$(pkg-config --variable=includedir dmamap)")" = "$prefix/include" ] \
	|| fail "pkg-config includedir is $(pkg-config --variable=includedir dmamap), not $prefix/include"

# 1. The library alone.
cat > "$tmp/consumer.c" <<'C'
#include <dmamap/dma.h>
#include <dmamap/platform.h>
#include <dmamap/linux-compat.h>
#include <stdio.h>
int main(void)
{
	/* No platform: creation must fail cleanly with -EINVAL. */
	struct dmamap_ctx *ctx;
	int rc = dmamap_ctx_create(NULL, NULL, &ctx);
	printf("%s %llx\n", dmamap_strerror(rc), (unsigned long long)DMA_BIT_MASK(32));
	return rc == -EINVAL ? 0 : 1;
}
C
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$tmp/consumer.c" $(pkg-config --cflags --libs dmamap) \
	-o "$tmp/consumer"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer")
[ "$out" = "EINVAL ffffffff" ] || fail "consumer printed '$out'"
"$cc" -std=c11 "$tmp/consumer.c" $(pkg-config --cflags dmamap) "$libdir/libdmamap.a" -lpthread \
	-o "$tmp/consumer-static"
"$tmp/consumer-static" >/dev/null || fail "static consumer"

# 2. The example, from the installed copy of it, with pkg-config.
ex=$(find "$prefix" -path '*examples/sim-driver' -type d | head -n1)
[ -n "$ex" ] || fail "the example is not installed"
cp -r "$ex" "$tmp/ex-pc"
make -s -C "$tmp/ex-pc" CC="$cc" CFLAGS="-std=c11 -Wall -Wextra -Werror -O2" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$tmp/ex-pc/driver_test")
[ "$out" = "driver_rx: ok (a packet from the simulated device)" ] || fail "pkg-config example printed '$out'"

# 3. The example with find_package(dmamap).
cp -r "$ex" "$tmp/ex-cmake"
cmake -S "$tmp/ex-cmake" -B "$tmp/ex-cmake/build" -DCMAKE_C_COMPILER="$cc" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$tmp/ex-cmake/build" >/dev/null
out=$("$tmp/ex-cmake/build/driver_test")
[ "$out" = "driver_rx: ok (a packet from the simulated device)" ] || fail "find_package example printed '$out'"

# 4. Relocated: the same tree moved; pkg-config follows it.
mv "$prefix" "$tmp/moved"
PKG_CONFIG_PATH=${pcdir/$prefix/$tmp/moved}
[ "$(realpath -m "$(pkg-config --variable=includedir dmamap-sim)")" = "$tmp/moved/include" ] \
	|| fail "the .pc is not relocatable"

# 5. The library alone: no simulator, command or tests, and none of their dependencies.
cmake -S "$src" -B "$tmp/libonly" -DDMAMAP_BUILD_SIM=OFF -DCMAKE_C_COMPILER="$cc" >/dev/null
! grep -Eiq '^(FDT|YAML|JANSSON|CMOCKA)[A-Z_]*:' "$tmp/libonly/CMakeCache.txt" \
	|| fail "a library-only configure looked for libfdt, libyaml, jansson or cmocka"
cmake --build "$tmp/libonly" -j 2 >/dev/null
[ -f "$tmp/libonly/libdmamap.so" ] && [ ! -e "$tmp/libonly/dmamap" ] || fail "library-only build"
echo "install check: library (shared, static), example via pkg-config and find_package, relocated .pc, library-only build"
