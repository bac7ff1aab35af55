/*
 * bench/bench.h - `dmamap bench`: map+unmap cost against a plain memcpy.
 */
#ifndef DMAMAP_BENCH_H
#define DMAMAP_BENCH_H

/* argv[0] is "bench".  Exit code: 0 ran, 2 bad usage. */
int dmamap_cli_bench(int argc, char **argv);

#endif
