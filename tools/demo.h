/*
 * tools/demo.h - `dmamap demo`: the built-in claims.
 */
#ifndef DMAMAP_DEMO_H
#define DMAMAP_DEMO_H

/* A scenario compiled into the command (generated from examples/). */
struct demo_builtin {
	const char *label;   /* "examples/<file>.yaml" */
	const char *text;    /* the YAML */
};
extern const struct demo_builtin demo_builtins[];
extern const unsigned int demo_nbuiltins;

/* argv[0] is "demo".  0 when every claim holds, 1 otherwise, 2 bad usage. */
int dmamap_cli_demo(int argc, char **argv);

#endif
