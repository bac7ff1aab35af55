#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds a consumer with
# pkg-config against it: the static and shared libraries, headers and .pc
# file must all be there and work.
set -euo pipefail
build=$1; cc=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
pc="$prefix"/lib/pkgconfig
[ -d "$pc" ] || pc=$(dirname "$(find "$prefix" -name dmamap.pc | head -n1)")
export PKG_CONFIG_PATH=$pc
cat > "$prefix/consumer.c" <<'C'
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
# The installed prefix is not the one the .pc was configured with: point it there.
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs dmamap)
"$cc" -std=c11 -Wall -Wextra -Werror "$prefix/consumer.c" $flags -o "$prefix/consumer" -lpthread
out=$(LD_LIBRARY_PATH="$(dirname "$(find "$prefix" -name 'libdmamap.so' | head -n1)")" "$prefix/consumer")
[ "$out" = "EINVAL ffffffff" ] || { echo "consumer printed '$out'"; exit 1; }
"$cc" -std=c11 "$prefix/consumer.c" -I"$prefix/include" "$(find "$prefix" -name libdmamap.a | head -n1)" -lpthread -o "$prefix/consumer-static"
"$prefix/consumer-static" >/dev/null
echo "install check: shared and static consumers built and ran"
