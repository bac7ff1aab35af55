/*
 * tools/dmamap.c - the dmamap command: subcommand dispatch and help.
 *
 * Owns: argument dispatch only.  The demo lives in demo.c, the benchmark
 * in bench/.  Exit codes: 0 pass, 1 fail, 2 bad input or usage.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "demo.h"
#include "dt.h"
#include "scenario.h"

static bool dm_is_tree(const char *path)
{
	size_t n = strlen(path);
	return n > 4 && (!strcmp(path + n - 4, ".dts") || !strcmp(path + n - 4, ".dtb"));
}

/* `dmamap explain board.dts`: the tree's RAM, pools and each device's DMA windows. */
static int explain_tree(const char *path)
{
	struct sim_dt *dt = NULL;
	char err[512];
	if (sim_dt_load(path, &dt, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	int rc = sim_dt_explain(dt, stdout) ? 1 : 0;
	sim_dt_free(dt);
	return rc;
}

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
	      "  explain BOARD.dts|BOARD.dtb\n"
	      "                       RAM, reserved pools and each device's DMA windows\n"
	      "                       and IOMMU links from a device tree\n"
	      "\n"
	      "not done yet: run FILE / explain FILE for scenario files (they are\n"
	      "validated, then refused), IOMMU, Xen and MMIO platforms (see README.md)\n",
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
	if (!strcmp(cmd, "explain") && argc == 3 && dm_is_tree(argv[2]))
		return explain_tree(argv[2]);
	if (!strcmp(cmd, "run") || !strcmp(cmd, "explain")) {
		if (argc != 3) {
			fprintf(stderr, "usage: dmamap %s FILE\n", cmd);
			return 2;
		}
		/* Validate the file so bad input is reported even before running exists. */
		struct scn *s = NULL;
		char err[512];
		if (scn_load(argv[2], &s, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		scn_free(s);
		fprintf(stderr, "%s: valid scenario, but 'dmamap %s' of scenario files is not supported yet\n",
			argv[2], cmd);
		return 2;
	}
	fprintf(stderr, "dmamap: unknown command '%s' (try --help)\n", cmd);
	return 2;
}
