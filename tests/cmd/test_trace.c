/*
 * tests/cmd/test_trace.c - trace and replay (tools/trace.c, tools/replay.c):
 * a trace replays to identical results on its own scenario, exact
 * differences on another platform, and every malformed trace is refused
 * with its file and line.
 *
 * Owns: proofs about `dmamap run --trace` and `dmamap replay`.  Scenarios
 * are written to a private temporary folder (a trace names its scenario
 * file); examples/ are read from the source tree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tu_assert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "scenario.h"
#include "trace.h"

#ifndef RUN_SRC_DIR
#error "RUN_SRC_DIR must name the source tree"
#endif

static char tmpdir[256];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 65536 > cap) {
			cap = 2 * cap + 65536;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		size_t got = fread(buf + n, 1, 65536, f);
		n += got;
		if (!got)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Runs scenario file scn with --trace trace; the run must pass. */
static void run_traced(const char *scn, uint64_t seed, const char *trace, struct rpt_report *keep)
{
	struct scn *s = NULL;
	char err[1024] = "";
	int rc = scn_load(scn, &s, err, sizeof(err));
	if (rc)
		print_error("%s\n", err);
	assert_int_equal(rc, 0);
	struct run_opts o = { .seed = seed };
	assert_int_equal(trace_open(trace, &o.trace, err, sizeof(err)), 0);
	struct rpt_report r;
	rc = run_scenario(s, scn, &o, &r, err, sizeof(err));
	if (rc)
		print_error("run: %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_int_equal(trace_close(o.trace), 0);
	if (!r.pass)
		for (unsigned int i = 0; i < r.nproblems; i++)
			print_error("problem: %s\n", r.problems[i]);
	assert_true(r.pass);
	if (keep)
		*keep = r;
	else
		rpt_free(&r);
	scn_free(s);
}

static int replay(const char *trace, const char *scn, struct replay_result *r, char *err,
		  size_t errlen)
{
	struct replay_opts o = { .scenario = scn, .show = 5 };
	return trace_replay(trace, &o, r, err, errlen);
}

/* Replays; must succeed (rc 0). */
static void replay_ok(const char *trace, const char *scn, struct replay_result *r)
{
	char err[1024] = "";
	int rc = replay(trace, scn, r, err, sizeof(err));
	if (rc)
		print_error("replay: %d: %s\n", rc, err);
	assert_int_equal(rc, 0);
	for (unsigned int i = 0; i < r->nfirst && r->differences; i++)
		print_error("  seq %llu %s %s: %s\n", (unsigned long long)r->first[i].seq,
			    r->first[i].op, r->first[i].device, r->first[i].what);
}

static unsigned int count_lines(const char *text)
{
	unsigned int n = 0;
	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n;
}

static unsigned int count_str(const char *text, const char *needle)
{
	unsigned int n = 0;
	for (const char *p = text; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Every kind of bare-metal workload, bouncing and not, scatterlists,
 * syncs, a hot-plugged device and an adversarial one. */
static const char mixed_yaml[] =
	"name: mixed\n"
	"platform:\n"
	"  ram:\n"
	"    - {base: 0x0, size: 1G}\n"
	"    - {base: 0x100000000, size: 1G}\n"
	"  devices:\n"
	"    - {name: nic, dma_bits: 32, coherent: false}\n"
	"    - {name: hba, dma_bits: 32, hotplug: true}\n"
	"    - {name: gpu, dma_bits: 40}\n"
	"    - {name: evil, dma_bits: 64}\n"
	"workloads:\n"
	"  - {device: nic, kind: nic, count: 64, size: 1514, buffers: high}\n"
	"  - {device: nic, kind: nic, count: 16, size: 1514, buffers: low}\n"
	"  - {device: hba, kind: blk, count: 8, size: 64K, max_segment_size: 16K, segments: 8, "
	"boundary: 0xffff, buffers: high}\n"
	"  - {device: gpu, kind: gpu, count: 2, size: 64K}\n"
	"  - {device: evil, kind: adversarial, count: 4}\n";

/* One run's trace replays on the same scenario to zero differences, every
 * operation re-issued, none skipped, every bus address the same. */
static void test_same_scenario_identical(void **state)
{
	(void)state;
	char scn[512], tr[512];
	path_in(scn, sizeof(scn), "mixed.yaml");
	path_in(tr, sizeof(tr), "mixed.trace");
	write_text(scn, mixed_yaml);
	run_traced(scn, 3, tr, NULL);

	size_t len;
	char *text = read_text(tr, &len);
	unsigned int lines = count_lines(text);
	tu_assert_gt(len, 0);
	assert_int_equal(text[len - 1], '\n');
	assert_int_equal(strncmp(text, "{\"dmamap_trace\":1,\"scenario\":\"mixed\",\"file\":", 44), 0);
	/* nic: 80 packets; gpu: its zero-copy probe, one page at a time (16);
	 * adversarial: 4 rounds.  The ring is one coherent alloc per nic workload. */
	assert_int_equal(count_str(text, "\"op\":\"map_single\""), 80 + 16 + 4);
	assert_int_equal(count_str(text, "\"op\":\"workload\""), 5);
	assert_int_equal(count_str(text, "\"op\":\"alloc_coherent\""), 2);
	assert_int_equal(count_str(text, "\"op\":\"map_sgtable\""), 8 + 2);
	assert_int_equal(count_str(text, "\"op\":\"sync_sgtable\""), 4 + 1);
	/* 64 high packets of a 32-bit device bounce, the 16 low ones do not. */
	assert_int_equal(count_str(text, "\"op\":\"map_single\",\"device\":\"nic\""), 80);
	assert_int_equal(count_str(text, "\"bounced\":true"), 64);
	/* The footer counts every line between it and the header. */
	char want[64];
	snprintf(want, sizeof(want), "\"op\":\"end\",\"events\":%u,", lines - 2);
	assert_non_null(strstr(text, want));
	free(text);

	struct replay_result r;
	replay_ok(tr, NULL, &r);
	assert_int_equal(r.differences, 0);
	assert_int_equal(r.skipped, 0);
	assert_int_equal(r.bus_moved, 0);
	assert_int_equal(r.operations, lines - 2);
	assert_string_equal(r.scenario, "mixed");
	assert_string_equal(r.recorded, "mixed");
	replay_free(&r);
}

/* Tracing changes nothing the run reports. */
static void test_trace_does_not_perturb(void **state)
{
	(void)state;
	char scn[512], tr[512];
	path_in(scn, sizeof(scn), "mixed2.yaml");
	path_in(tr, sizeof(tr), "mixed2.trace");
	write_text(scn, mixed_yaml);
	struct rpt_report a, b;
	run_traced(scn, 5, tr, &a);
	struct scn *s = NULL;
	char err[1024];
	assert_int_equal(scn_load(scn, &s, err, sizeof(err)), 0);
	struct run_opts o = { .seed = 5 };
	assert_int_equal(run_scenario(s, scn, &o, &b, err, sizeof(err)), 0);
	scn_free(s);
	char *ja, *jb;
	size_t la, lb;
	FILE *f = open_memstream(&ja, &la);
	assert_int_equal(rpt_print_json(&a, f), 0);
	fclose(f);
	f = open_memstream(&jb, &lb);
	assert_int_equal(rpt_print_json(&b, f), 0);
	fclose(f);
	assert_int_equal(la, lb);
	assert_memory_equal(ja, jb, la);
	free(ja);
	free(jb);
	rpt_free(&a);
	rpt_free(&b);
}

/* The examples (IOMMU windows, a tree with hot-plug, Xen backends with
 * grants, a PV guest's late pool) replay identically too. */
static void test_examples_identical(void **state)
{
	(void)state;
	static const char *const ex[] = {
		"examples/adversarial.yaml", "examples/blk-segments.yaml",
		"examples/noforce.yaml", "examples/soc-wifi.yaml",
		"examples/xen-arm-dom0-backend.yaml", "examples/xen-arm-dom0-linux-noxen.yaml",
		"examples/xen-colored-dom0-p2m.yaml", "examples/xen-colored-dom0-iommu.yaml",
		"examples/xen-pv-domu-hotplug.yaml", "examples/xen-pvh-dom0-noswiotlb.yaml",
	};
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		char scn[1024], tr[512];
		snprintf(scn, sizeof(scn), "%s/%s", RUN_SRC_DIR, ex[i]);
		path_in(tr, sizeof(tr), "ex.trace");
		run_traced(scn, 1, tr, NULL);
		struct replay_result r;
		replay_ok(tr, NULL, &r);
		if (r.differences || r.skipped || r.bus_moved)
			print_error("%s: %llu differences, %llu skipped, %llu moved\n", ex[i],
				    (unsigned long long)r.differences, (unsigned long long)r.skipped,
				    (unsigned long long)r.bus_moved);
		assert_int_equal(r.differences, 0);
		assert_int_equal(r.skipped, 0);
		assert_int_equal(r.bus_moved, 0);
		tu_assert_gt(r.operations, 0);
		replay_free(&r);
	}
}

/* examples/noforce.yaml without swiotlb=noforce: the NIC's 1000 buffers
 * above 4 GiB bounce.  Replayed on noforce.yaml itself, exactly those
 * 1000 maps fail; what depended on them is skipped. */
static void test_noforce_differs(void **state)
{
	(void)state;
	char ex[1024], scn[512], tr[512];
	snprintf(ex, sizeof(ex), "%s/examples/noforce.yaml", RUN_SRC_DIR);
	char *text = read_text(ex, NULL);
	char *b = strstr(text, "bootargs:");
	assert_non_null(b);
	char *eol = strchr(b, '\n');
	memmove(b, eol + 1, strlen(eol + 1) + 1);
	/* The file's expect entries describe noforce; the recording asks none. */
	char *x = strstr(text, "expect:");
	assert_non_null(x);
	*x = '\0';
	path_in(scn, sizeof(scn), "swiotlb.yaml");
	path_in(tr, sizeof(tr), "swiotlb.trace");
	write_text(scn, text);
	free(text);
	run_traced(scn, 1, tr, NULL);

	struct replay_result r;
	replay_ok(tr, ex, &r);
	assert_int_equal(r.differences, 1000);
	assert_int_equal(r.by_kind[REPLAY_OK], 1000);
	assert_int_equal(r.by_kind[REPLAY_BOUNCED], 0);
	assert_int_equal(r.by_kind[REPLAY_HASH], 0);
	assert_int_equal(r.nby_op, 1);
	assert_string_equal(r.by_op[0].op, "map_single");
	/* Transmits (even packets): the data read and the unmap; receives: the
	 * device's write, the sync, the CPU's check and the unmap. */
	assert_int_equal(r.skipped, 500 * 2 + 500 * 4);
	assert_int_equal(r.nfirst, 5);
	assert_string_equal(r.first[0].op, "map_single");
	assert_string_equal(r.first[0].device, "nic");
	assert_string_equal(r.first[0].what, "the map failed (recorded: mapped, bounced)");
	assert_string_equal(r.scenario, "noforce");
	assert_string_equal(r.recorded, "noforce");
	replay_free(&r);

	/* And back: noforce's trace on the swiotlb platform maps what failed. */
	char tr2[512];
	path_in(tr2, sizeof(tr2), "noforce.trace");
	run_traced(ex, 1, tr2, NULL);
	replay_ok(tr2, scn, &r);
	assert_int_equal(r.differences, 1000);
	assert_int_equal(r.by_kind[REPLAY_OK], 1000);
	assert_int_equal(r.skipped, 0);
	assert_string_equal(r.first[0].what, "mapped, bounced (recorded: the map failed)");
	replay_free(&r);
}

/* A 64-bit NIC's buffers above 4 GiB map in place; on a platform where the
 * same NIC has 32 bits, each of them bounces, and nothing else differs. */
static void test_narrower_device(void **state)
{
	(void)state;
	static const char wide[] =
		"name: wide\n"
		"platform:\n"
		"  ram:\n"
		"    - {base: 0x0, size: 1G}\n"
		"    - {base: 0x100000000, size: 1G}\n"
		"  devices:\n"
		"    - {name: nic, dma_bits: 64}\n"
		"    - {name: hba, dma_bits: 64}\n"
		"workloads:\n"
		"  - {device: nic, kind: nic, count: 100, buffers: high}\n"
		"  - {device: hba, kind: blk, count: 10, size: 32K, segments: 8, buffers: high}\n";
	char ws[512], ns[512], tr[512];
	path_in(ws, sizeof(ws), "wide.yaml");
	path_in(ns, sizeof(ns), "narrow.yaml");
	path_in(tr, sizeof(tr), "wide.trace");
	write_text(ws, wide);
	char narrow[sizeof(wide) + 16];
	snprintf(narrow, sizeof(narrow), "%s", wide);
	memcpy(strstr(narrow, "name: wide"), "name: narr", 10);
	memcpy(strstr(narrow, "{name: nic, dma_bits: 64}"), "{name: nic, dma_bits: 32}", 25);
	memcpy(strstr(narrow, "{name: hba, dma_bits: 64}"), "{name: hba, dma_bits: 32}", 25);
	write_text(ns, narrow);
	run_traced(ws, 1, tr, NULL);

	struct replay_result r;
	replay_ok(tr, ns, &r);
	/* 100 single maps and 10 lists of 8 segments, each now bounced. */
	assert_int_equal(r.differences, 110);
	assert_int_equal(r.by_kind[REPLAY_BOUNCED], 110);
	assert_int_equal(r.skipped, 0);
	assert_int_equal(r.nby_op, 2);
	assert_string_equal(r.first[0].what, "bounced (recorded: direct)");
	assert_string_equal(r.scenario, "narr");
	replay_free(&r);

	/* A platform without the trace's device cannot host it. */
	char other[512], err[1024];
	path_in(other, sizeof(other), "other.yaml");
	write_text(other, "name: other\nplatform:\n  ram:\n    - {base: 0, size: 1G}\n"
		   "  devices:\n    - {name: nic, dma_bits: 64}\n");
	assert_int_equal(replay(tr, other, &r, err, sizeof(err)), -EINVAL);
	char want[2048];
	/* Refused at the hba's first line (its workload). */
	char *text = read_text(tr, NULL);
	const char *hw = strstr(text, "\"op\":\"workload\",\"device\":\"hba\"");
	assert_non_null(hw);
	unsigned int line = 1;
	for (const char *q = text; q < hw; q++)
		line += *q == '\n';
	free(text);
	snprintf(want, sizeof(want), "%s:%u: device 'hba' is not in %s", tr, line, other);
	assert_string_equal(err, want);
}

/* ---- malformed traces ------------------------------------------------------- */

static char good[512];
static char *good_text;
static size_t good_len;

static void make_good(void)
{
	if (good_text)
		return;
	char scn[512];
	path_in(scn, sizeof(scn), "small.yaml");
	path_in(good, sizeof(good), "small.trace");
	write_text(scn, "name: small\nplatform:\n  ram:\n    - {base: 0, size: 1G}\n"
		   "    - {base: 0x100000000, size: 1G}\n  devices:\n"
		   "    - {name: nic, dma_bits: 32}\n"
		   "workloads:\n  - {device: nic, kind: nic, count: 4, buffers: high}\n");
	run_traced(scn, 1, good, NULL);
	good_text = read_text(good, &good_len);
}

/* The start of line n (1-based) of the good trace. */
static const char *line_at(unsigned int n)
{
	const char *p = good_text;
	for (unsigned int i = 1; i < n; i++)
		p = strchr(p, '\n') + 1;
	return p;
}

/* Writes the good trace with line n replaced by repl (NULL: dropped; the
 * whole file cut after cut bytes when cut > 0) and replays it. */
static void refused(unsigned int n, const char *repl, size_t cut, const char *want_fmt)
{
	make_good();
	char bad[512], err[1024] = "", want[1024];
	path_in(bad, sizeof(bad), "bad.trace");
	FILE *f = fopen(bad, "w");
	assert_non_null(f);
	if (cut) {
		fwrite(good_text, 1, cut, f);
	} else {
		const char *a = line_at(n), *b = strchr(a, '\n') + 1;
		fwrite(good_text, 1, (size_t)(a - good_text), f);
		if (repl)
			fputs(repl, f);
		fputs(b, f);
	}
	fclose(f);
	struct replay_result r;
	int rc = replay(bad, NULL, &r, err, sizeof(err));
	snprintf(want, sizeof(want), want_fmt, bad);
	if (rc != -EINVAL || strncmp(err, want, strlen(want)))
		print_error("rc %d err '%s'\nwant '%s'\n", rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	assert_null(strchr(err, '\n'));
}

static void test_malformed(void **state)
{
	(void)state;
	make_good();
	unsigned int lines = count_lines(good_text);
	char want[256], repl[256];

	/* Cut in the middle of its last line. */
	snprintf(want, sizeof(want), "%%s:%u: not JSON (", lines);
	refused(0, NULL, good_len - 10, want);
	{
		char err[1024];
		struct replay_result r;
		char bad[512];
		path_in(bad, sizeof(bad), "bad.trace");
		assert_int_equal(replay(bad, NULL, &r, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "the last line is cut (truncated trace)"));
	}
	/* Cut at a line boundary: no footer. */
	snprintf(want, sizeof(want), "%%s:%u: the trace ends without its footer line (truncated)",
		 lines - 1);
	refused(lines, NULL, 0, want);
	/* Bad JSON. */
	refused(3, "{\"seq\":2,\"op\":\"alloc\",\n", 0, "%s:3: not JSON (");
	refused(3, "[1,2]\n", 0, "%s:3: not a JSON object");
	/* An unknown op. */
	snprintf(repl, sizeof(repl), "{\"seq\":2,\"op\":\"frobnicate\",\"device\":\"nic\"}\n");
	refused(3, repl, 0, "%s:3: unknown op 'frobnicate'");
	/* A line missing: the next one's seq gives it away. */
	refused(4, NULL, 0, "%s:4: seq 4, expected 3");
	/* A field missing. */
	refused(3, "{\"seq\":2,\"op\":\"alloc_coherent\",\"device\":\"nic\",\"buf\":1,\"ok\":true,"
		"\"bus\":\"0x1000\"}\n", 0,
		"%s:3: alloc_coherent: field 'size' is missing or not a number");
	/* A buffer that was never made. */
	const char *m = strstr(good_text, "\"op\":\"map_single\"");
	assert_non_null(m);
	unsigned int ml = 1;
	for (const char *q = good_text; q < m; q++)
		ml += *q == '\n';
	snprintf(repl, sizeof(repl), "{\"seq\":%u,\"op\":\"map_single\",\"device\":\"nic\","
		 "\"buf\":99,\"off\":2,\"size\":1514,\"dir\":\"to\",\"attrs\":0,\"ok\":false}\n",
		 ml - 1);
	snprintf(want, sizeof(want), "%%s:%u: map_single: buf 99 does not exist", ml);
	refused(ml, repl, 0, want);
	/* Not a trace, and a format from the future. */
	refused(1, "{\"name\":\"x\"}\n", 0,
		"%s:1: not a dmamap trace: the first line has no \"dmamap_trace\" format");
	refused(1, "{\"dmamap_trace\":2}\n", 0, "%s:1: trace format 2; this dmamap reads format 1");
}

static void test_empty_and_missing(void **state)
{
	(void)state;
	char bad[512], err[1024], want[1024];
	struct replay_result r;
	path_in(bad, sizeof(bad), "empty.trace");
	write_text(bad, "");
	assert_int_equal(replay(bad, NULL, &r, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:1: empty trace (no header line)", bad);
	assert_string_equal(err, want);
	path_in(bad, sizeof(bad), "none.trace");
	assert_int_equal(replay(bad, NULL, &r, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", bad);
	assert_string_equal(err, want);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dmamap-trace-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	free(good_text);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_scenario_identical),
		cmocka_unit_test(test_trace_does_not_perturb),
		cmocka_unit_test(test_examples_identical),
		cmocka_unit_test(test_noforce_differs),
		cmocka_unit_test(test_narrower_device),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_empty_and_missing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
