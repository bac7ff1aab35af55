/*
 * tools/dmamap.c - the dmamap command: subcommand dispatch and help.
 *
 * Owns: argument dispatch only.  The demo lives in demo.c, the benchmark
 * in bench/.  Exit codes: 0 pass, 1 fail, 2 bad input or usage.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmamap/platform.h>

#include "bench.h"
#include "demo.h"
#include "dt.h"
#include "explain.h"
#include "run.h"
#include "scenario.h"
#include "svg.h"
#include "trace.h"

static bool dm_is_scenario(const char *path)
{
	size_t n = strlen(path);
	return (n > 5 && !strcmp(path + n - 5, ".yaml")) || (n > 4 && !strcmp(path + n - 4, ".yml"));
}

#define EXPLAIN_USAGE "usage: dmamap explain FILE.yaml\n" \
	"       dmamap explain BOARD [--json] [--all] [--device PATH|NAME] [--ram BASE:SIZE[,...]]\n" \
	"                            [--include-dir DIR]...\n" \
	"  BOARD: a .dts, an FDT blob (.dtb, /sys/firmware/fdt) or /proc/device-tree\n"

/* `dmamap explain BOARD [options]`: a verdict per DMA master (tools/explain.c). */
static int cmd_explain_board(int argc, char **argv)
{
	struct explain_opts o;
	const char *path = NULL;
	char err[1024] = "";
	memset(&o, 0, sizeof(o));
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--all")) {
			o.all = true;
		} else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
			o.device = argv[++i];
		} else if (!strcmp(argv[i], "--ram") && i + 1 < argc) {
			if (explain_parse_ram(argv[++i], &o, err, sizeof(err))) {
				fprintf(stderr, "dmamap explain: %s\n", err);
				return 2;
			}
		} else if ((!strcmp(argv[i], "--include-dir") || !strcmp(argv[i], "-I")) &&
			   i + 1 < argc) {
			if (o.ninclude == EXPLAIN_MAX_INCLUDE) {
				fprintf(stderr, "dmamap explain: more than %d --include-dir\n",
					EXPLAIN_MAX_INCLUDE);
				return 2;
			}
			o.include[o.ninclude++] = argv[++i];
		} else if (argv[i][0] == '-' || path) {
			fprintf(stderr, "dmamap explain: unexpected '%s'\n" EXPLAIN_USAGE, argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fputs(EXPLAIN_USAGE, stderr);
		return 2;
	}
	int rc = explain_board(path, &o, stdout, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : dmamap_strerror(rc));
		return rc == -EIO ? 1 : 2;
	}
	return 0;
}

static int load_scenario(const char *path, struct scn **s)
{
	char err[512];
	if (scn_load(path, s, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	return 0;
}

/* `dmamap explain FILE.yaml`: each device's ops, windows and why. */
static int cmd_explain_scenario(const char *path)
{
	struct scn *s = NULL;
	char err[1024] = "";
	if (load_scenario(path, &s))
		return 2;
	int rc = run_explain(s, path, stdout, err, sizeof(err));
	scn_free(s);
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : dmamap_strerror(rc));
		return 2;
	}
	return 0;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-')
		return false;
	*v = x;
	return true;
}

#define RUN_USAGE "usage: dmamap run FILE [--json] [--svg OUT.svg] [--seed N] [--trace OUT] [--verbose]\n" \
	"                  [--ram BASE:SIZE[,...]]\n"

/* `dmamap run FILE [--json] [--svg OUT] [--seed N] [--trace OUT] [--verbose]`. */
static int cmd_run(int argc, char **argv)
{
	const char *file = NULL, *svg = NULL, *trace = NULL;
	bool json = false;
	struct run_opts o = { .seed = 1 };
	struct explain_opts ram = { 0 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--ram") && i + 1 < argc) {
			char rerr[256];
			if (explain_parse_ram(argv[++i], &ram, rerr, sizeof(rerr))) {
				fprintf(stderr, "dmamap run: %s\n", rerr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(argv[i], "--svg") && i + 1 < argc) {
			svg = argv[++i];
		} else if (!strcmp(argv[i], "--trace") && i + 1 < argc) {
			trace = argv[++i];
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &o.seed)) {
				fprintf(stderr, "dmamap run: --seed: '%s' is not a number\n", argv[i]);
				return 2;
			}
		} else if (argv[i][0] == '-' || file) {
			fprintf(stderr, "dmamap run: unexpected '%s'\n" RUN_USAGE, argv[i]);
			return 2;
		} else {
			file = argv[i];
		}
	}
	if (!file) {
		fputs(RUN_USAGE, stderr);
		return 2;
	}
	struct scn *s = NULL;
	if (load_scenario(file, &s))
		return 2;
	/* --ram replaces the file's RAM (and so the tree's /memory). */
	if (ram.nram) {
		if (ram.nram > SCN_MAX_RAM) {
			fprintf(stderr, "dmamap run: --ram: more than %d ranges\n", SCN_MAX_RAM);
			scn_free(s);
			return 2;
		}
		for (unsigned int i = 0; i < ram.nram; i++)
			s->ram[i] = (struct scn_range){ ram.ram[i][0], ram.ram[i][1], 0 };
		s->nram = ram.nram;
	}
	char terr[1024];
	if (trace && trace_open(trace, &o.trace, terr, sizeof(terr))) {
		fprintf(stderr, "dmamap run: --trace: %s\n", terr);
		scn_free(s);
		return 2;
	}
	/* A bar only for a person watching: never into a pipe or a file. */
	o.progress = isatty(STDERR_FILENO) && !o.verbose;
	struct rpt_report r;
	char err[1024] = "";
	int rc = run_scenario(s, file, &o, &r, err, sizeof(err));
	scn_free(s);
	if (o.trace && trace_close(o.trace) && !rc) {
		fprintf(stderr, "dmamap run: --trace %s: could not write it all\n", trace);
		rpt_free(&r);
		return 2;
	}
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : dmamap_strerror(rc));
		return 2;
	}
	int exit_code = r.pass ? 0 : 1;
	if (svg && rpt_svg_write_file(&r, svg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit_code = 2;
	}
	if (json ? rpt_print_json(&r, stdout) : (rpt_print_text(&r, stdout), 0))
		exit_code = 2;
	rpt_free(&r);
	return exit_code;
}

#define REPLAY_USAGE "usage: dmamap replay TRACE [--scenario FILE.yaml] [--json] [--show N] [--verbose]\n"

/* `dmamap replay TRACE [--scenario FILE] [--json] [--show N] [--verbose]`. */
static int cmd_replay(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	struct replay_opts o = { 0 };
	for (int i = 1; i < argc; i++) {
		uint64_t n;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(argv[i], "--scenario") && i + 1 < argc) {
			o.scenario = argv[++i];
		} else if (!strcmp(argv[i], "--show") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &n) || !n || n > 100000) {
				fprintf(stderr, "dmamap replay: --show: '%s' is not a number in "
					"1..100000\n", argv[i]);
				return 2;
			}
			o.show = (unsigned int)n;
		} else if ((argv[i][0] == '-' && argv[i][1]) || path) {
			fprintf(stderr, "dmamap replay: unexpected '%s'\n" REPLAY_USAGE, argv[i]);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		fputs(REPLAY_USAGE, stderr);
		return 2;
	}
	struct replay_result r;
	char err[1024] = "";
	int rc = trace_replay(path, &o, &r, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "%s\n", err[0] ? err : dmamap_strerror(rc));
		return 2;
	}
	int exit_code = r.differences ? 1 : 0;
	if (json ? replay_print_json(&r, stdout) : (replay_print_text(&r, stdout), 0))
		exit_code = 2;
	replay_free(&r);
	return exit_code;
}

static void usage(FILE *f)
{
	fputs("usage: dmamap <command> [options]\n"
	      "\n"
	      "commands:\n"
	      "  run FILE.yaml [--json] [--svg OUT.svg] [--seed N] [--trace OUT] [--verbose]\n"
	      "          [--ram BASE:SIZE[,...]]  (replaces the file's RAM and the tree's /memory)\n"
	      "                       build the platform a scenario describes, run its\n"
	      "                       workloads with every byte checked, judge `expect`;\n"
	      "                       exit 0 pass, 1 fail, 2 bad input; --trace writes\n"
	      "                       every map, unmap, sync and device access (JSON lines)\n"
	      "  replay TRACE [--scenario FILE.yaml] [--json] [--show N] [--verbose]\n"
	      "                       re-run a trace on its scenario's platform (or\n"
	      "                       another's) and report where outcomes differ;\n"
	      "                       exit 0 identical, 1 differs, 2 bad input\n"
	      "  explain FILE.yaml    each device's ops, reachable windows and why\n"
	      "  explain BOARD [--json] [--all] [--device PATH|NAME] [--ram BASE:SIZE[,...]]\n"
	      "          [--include-dir DIR]...\n"
	      "                       a board's DMA as Linux sets it up: the bounce pool\n"
	      "                       (place, size, why), then per DMA master its windows,\n"
	      "                       DMA parent, limit, IOMMU or restricted pool, coherency\n"
	      "                       and a verdict for 32- and 64-bit masks; BOARD is a\n"
	      "                       .dts (#include through cpp), an FDT blob of any name\n"
	      "                       or /proc/device-tree; --ram replaces /memory\n"
	      "  demo                 the built-in claims and scenarios; prints a table,\n"
	      "                       exit 0 only if every claim holds\n"
	      "  bench [options]      map+unmap cost against a plain memcpy\n"
	      "      --backend direct|swiotlb|swiotlb-slots  --threads N  --size BYTES\n"
	      "      --backend iommu [--strict]   behind a simulated IOMMU, lazy unless\n"
	      "                       --strict; modelled invalidation cost apart\n"
	      "      --backend iova|iova-tree     IOVA alloc+free: per-CPU magazines, or\n"
	      "                       the tree with 10000 ranges live\n"
	      "      --dir to|from|bidi  --seconds S  [--json]\n"
	      "  --help               this text\n"
	      "\n"
	      "scenarios may put the machine under Xen (hypervisor:, a Xen tree) and run\n"
	      "PV backends (kind: xen-backend); see dmamap(1) and examples/xen-*.yaml\n",
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
	if (!strcmp(cmd, "explain") && argc >= 3 && !dm_is_scenario(argv[2]))
		return cmd_explain_board(argc - 1, argv + 1);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "explain")) {
		if (argc != 3) {
			fputs(EXPLAIN_USAGE, stderr);
			return 2;
		}
		return cmd_explain_scenario(argv[2]);
	}
	fprintf(stderr, "dmamap: unknown command '%s' (try --help)\n", cmd);
	return 2;
}
