/*
 * tools/dmamap.c - the dmamap command: subcommand dispatch and help.
 *
 * Owns: argument dispatch only.  The demo lives in demo.c; the benchmark
 * is a program of its own (bench/, dmamap-bench), never linked in here.
 * Exit codes: 0 pass, 1 fail, 2 bad input or usage.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dmamap/platform.h>

#include "demo.h"
#include <dmamap/sim/dt.h>
#include "explain.h"
#include "run.h"
#include "scenario.h"
#include "svg.h"
#include "trace.h"

#ifndef DMAMAP_VERSION
#define DMAMAP_VERSION "unknown"
#endif

static bool dm_is_scenario(const char *path)
{
	size_t n = strlen(path);
	return (n > 5 && !strcmp(path + n - 5, ".yaml")) || (n > 4 && !strcmp(path + n - 4, ".yml"));
}

static bool is_help(const char *a)
{
	return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* Any --help among a subcommand's arguments: its usage on stdout, exit 0. */
static bool wants_help(int argc, char **argv, const char *text)
{
	for (int i = 1; i < argc; i++) {
		if (is_help(argv[i])) {
			fputs(text, stdout);
			return true;
		}
	}
	return false;
}

/*
 * An option that takes a value: the value, or NULL after one line naming
 * the option ("dmamap run: --svg needs a value").
 */
static const char *opt_value(const char *cmd, int argc, char **argv, int *i)
{
	if (*i + 1 < argc)
		return argv[++*i];
	fprintf(stderr, "dmamap %s: %s needs a value\n", cmd, argv[*i]);
	return NULL;
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
		} else if (!strcmp(argv[i], "--device")) {
			if (!(o.device = opt_value("explain", argc, argv, &i)))
				return 2;
		} else if (!strcmp(argv[i], "--ram")) {
			const char *v = opt_value("explain", argc, argv, &i);
			if (!v)
				return 2;
			if (explain_parse_ram(v, &o, err, sizeof(err))) {
				fprintf(stderr, "dmamap explain: %s\n", err);
				return 2;
			}
		} else if (!strcmp(argv[i], "--include-dir") || !strcmp(argv[i], "-I")) {
			const char *v = opt_value("explain", argc, argv, &i);
			if (!v)
				return 2;
			if (o.ninclude == EXPLAIN_MAX_INCLUDE) {
				fprintf(stderr, "dmamap explain: more than %d --include-dir\n",
					EXPLAIN_MAX_INCLUDE);
				return 2;
			}
			o.include[o.ninclude++] = v;
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
#define RUN_HELP RUN_USAGE \
	"Builds the platform the scenario FILE describes, runs its workloads with every\n" \
	"byte checked and judges its expect: lines.\n" \
	"  --json         the report as JSON on stdout (default: a text table)\n" \
	"  --svg OUT.svg  an address map of the run\n" \
	"  --seed N       the data seed (default 1); one seed, one report\n" \
	"  --trace OUT    every map, unmap, sync and device access as JSON lines\n" \
	"  --verbose      the library's log on stderr\n" \
	"  --ram BASE:SIZE[,...]  the machine's RAM, replacing the tree's /memory and\n" \
	"                 the scenario's platform.ram (sizes take K/M/G/T)\n" \
	"SIGINT or SIGTERM stops the run at the next operation: the report so far,\n" \
	"marked partial, a trace ending on a whole line, exit 130.\n" \
	"Exit: 0 pass, 1 fail, 2 bad input or an output that could not be written,\n" \
	"130 interrupted.\n"

/* The signal that asked `run` to stop (0: none); read at operation boundaries. */
static volatile sig_atomic_t run_stop;

static void run_on_signal(int sig)
{
	run_stop = sig;
}

/* SIGINT/SIGTERM stop the run at the next boundary; a second one kills at once. */
static void run_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = run_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* `dmamap run FILE [--json] [--svg OUT] [--seed N] [--trace OUT] [--verbose]`. */
static int cmd_run(int argc, char **argv)
{
	const char *file = NULL, *svg = NULL, *trace = NULL;
	bool json = false;
	struct run_opts o = { .seed = 1 };
	struct explain_opts ram = { 0 };
	if (wants_help(argc, argv, RUN_HELP))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--ram")) {
			char rerr[256];
			const char *v = opt_value("run", argc, argv, &i);
			if (!v)
				return 2;
			if (explain_parse_ram(v, &ram, rerr, sizeof(rerr))) {
				fprintf(stderr, "dmamap run: %s\n", rerr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(argv[i], "--svg")) {
			if (!(svg = opt_value("run", argc, argv, &i)))
				return 2;
		} else if (!strcmp(argv[i], "--trace")) {
			if (!(trace = opt_value("run", argc, argv, &i)))
				return 2;
		} else if (!strcmp(argv[i], "--seed")) {
			const char *v = opt_value("run", argc, argv, &i);
			if (!v)
				return 2;
			if (!parse_u64(v, &o.seed)) {
				fprintf(stderr, "dmamap run: --seed: '%s' is not a number\n", v);
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
	o.stop = &run_stop;
	run_catch_signals();
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
	if (r.interrupted) {
		fprintf(stderr, "dmamap run: interrupted by %s: the report is partial\n",
			rpt_signal_name(r.interrupted));
		if (exit_code != 2)
			exit_code = 130;
	}
	rpt_free(&r);
	return exit_code;
}

#define REPLAY_USAGE "usage: dmamap replay TRACE [--scenario FILE.yaml] [--json] [--show N] [--verbose]\n"
#define REPLAY_HELP REPLAY_USAGE \
	"Re-runs a trace written by `dmamap run --trace` on its scenario's platform,\n" \
	"or another's, and reports where outcomes differ.\n" \
	"  --scenario FILE.yaml  the platform to replay on (default: the trace's own)\n" \
	"  --json                the result as JSON\n" \
	"  --show N              list the first N differences (1..100000)\n" \
	"  --verbose             the library's log on stderr\n" \
	"Exit: 0 identical, 1 differs, 2 bad input.\n"

/* `dmamap replay TRACE [--scenario FILE] [--json] [--show N] [--verbose]`. */
static int cmd_replay(int argc, char **argv)
{
	const char *path = NULL;
	bool json = false;
	struct replay_opts o = { 0 };
	if (wants_help(argc, argv, REPLAY_HELP))
		return 0;
	for (int i = 1; i < argc; i++) {
		uint64_t n;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--verbose")) {
			o.verbose = true;
		} else if (!strcmp(argv[i], "--scenario")) {
			if (!(o.scenario = opt_value("replay", argc, argv, &i)))
				return 2;
		} else if (!strcmp(argv[i], "--show")) {
			const char *v = opt_value("replay", argc, argv, &i);
			if (!v)
				return 2;
			if (!parse_u64(v, &n) || !n || n > 100000) {
				fprintf(stderr, "dmamap replay: --show: '%s' is not a number in "
					"1..100000\n", v);
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

#define EXPLAIN_HELP EXPLAIN_USAGE \
	"  FILE.yaml        each device's ops, masks, reachable windows and why\n" \
	"  BOARD            Linux's answer per DMA master: windows, limit, DMA parent,\n" \
	"                   IOMMU and granule or restricted pool, coherency, and a\n" \
	"                   verdict for a 32-bit and a 64-bit mask; the bounce pool\n" \
	"                   first when the RAM is known\n" \
	"  --json           the same as JSON (every configured device)\n" \
	"  --all            also the devices that do not move data\n" \
	"  --device P|N     only the device with this path or node name\n" \
	"  --ram B:S[,...]  the RAM firmware would fill in (sizes take K/M/G/T)\n" \
	"  --include-dir D  where a .dts's #include files are (repeatable)\n" \
	"Exit: 0 explained, 1 a device cannot be answered, 2 bad input.\n"

#define DEMO_HELP "usage: dmamap demo\n" \
	"Runs the built-in claims and the example scenarios that need no tree, on\n" \
	"simulated machines, and prints a table.  Exit 0 only if every claim holds.\n"

static int cmd_explain(int argc, char **argv)
{
	if (wants_help(argc, argv, EXPLAIN_HELP))
		return 0;
	/* One FILE.yaml: the scenario; anything else is a board and its options. */
	if (argc == 2 && dm_is_scenario(argv[1]))
		return cmd_explain_scenario(argv[1]);
	return cmd_explain_board(argc, argv);
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

	      "  COMMAND --help       that command's options\n"
	      "  --help               this text\n"
	      "  --version            the version\n"
	      "\n"
	      "scenarios may put the machine under Xen (hypervisor:, a Xen tree) and run\n"
	      "PV backends (kind: xen-backend); see dmamap(1) and examples/xen-*.yaml\n"
	      "map+unmap cost against a plain memcpy: dmamap-bench --help\n",
	      f);
}

static int dispatch(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (is_help(cmd) || !strcmp(cmd, "help")) {
		/* `dmamap help run` is `dmamap run --help`. */
		if (!strcmp(cmd, "help") && argc == 3 && strcmp(argv[2], "help")) {
			char help[] = "--help";
			return dispatch(3, (char *[]){ argv[0], argv[2], help, NULL });
		}
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
		printf("dmamap %s\n", DMAMAP_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "demo")) {
		if (wants_help(argc - 1, argv + 1, DEMO_HELP))
			return 0;
		return dmamap_cli_demo(argc - 1, argv + 1);
	}
	/* Gone from this command: say where it went rather than "unknown". */
	if (!strcmp(cmd, "bench")) {
		fprintf(stderr, "dmamap: the benchmark is its own command now: dmamap-bench "
			"(dmamap-bench --help)\n");
		return 2;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(cmd, "explain"))
		return cmd_explain(argc - 1, argv + 1);
	fprintf(stderr, "dmamap: unknown command '%s' (try --help)\n", cmd);
	return 2;
}

/*
 * Whatever a command printed must have reached stdout: a failed write
 * (a full disk, a closed pipe, /dev/full) is an error, exit 2.
 */
int main(int argc, char **argv)
{
	int rc = dispatch(argc, argv);
	errno = 0;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "dmamap: cannot write to stdout: %s\n",
			strerror(errno ? errno : EIO));
		return 2;
	}
	return rc;
}
