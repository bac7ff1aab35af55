/*
 * tools/demo.h - `dmamap demo`: the built-in claims.
 */
#ifndef DMAMAP_DEMO_H
#define DMAMAP_DEMO_H

/* argv[0] is "demo".  0 when every claim holds, 1 otherwise, 2 bad usage. */
int dmamap_cli_demo(int argc, char **argv);

#endif
