/*
 * tools/dmamap.c - the dmamap command: subcommand dispatch and help.
 *
 * Owns: argument dispatch only.  The demo lives in demo.c, the benchmark
 * in bench/.  Exit codes: 0 pass, 1 fail, 2 bad input or usage.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "demo.h"

static void usage(FILE *f)
{
	fputs("usage: dmamap <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  demo                 run the built-in claims on simulated machines;\n"
	      "                       prints a table, exit 0 only if every claim holds\n"
	      "  bench [options]      map+unmap cost against a plain memcpy\n"
	      "      --backend direct|swiotlb|swiotlb-slots  --threads N  --size BYTES\n"
	      "      --dir to|from|bidi  --seconds S  [--json]\n"
	      "  --help               this text\n"
	      "\n"
	      "not done yet: run FILE / explain FILE (scenario files and device trees),\n"
	      "IOMMU, Xen and MMIO platforms (see README.md)\n",
	      f);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "demo"))
		return dmamap_cli_demo(argc - 1, argv + 1);
	if (!strcmp(cmd, "bench"))
		return dmamap_cli_bench(argc - 1, argv + 1);
	if (!strcmp(cmd, "run") || !strcmp(cmd, "explain")) {
		fprintf(stderr, "dmamap: '%s' is not supported yet (scenario files come in a later release)\n",
			cmd);
		return 2;
	}
	fprintf(stderr, "dmamap: unknown command '%s' (try --help)\n", cmd);
	return 2;
}
