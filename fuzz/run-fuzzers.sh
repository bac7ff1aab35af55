#!/usr/bin/env bash
# The libFuzzer targets, three ways:
#
#   fuzz/run-fuzzers.sh --gate [BUILD_DIR [TARGET...]]
#       the test gate (make check): every committed corpus input and
#       regression seed replayed once, then FUZZ_GATE_RUNS inputs per target
#       mutated from a fixed seed (FUZZ_GATE_SEED, default 1) on the
#       committed corpus only.  Nothing it reads changes between runs, so
#       the same tree gives the same verdict every time.
#   fuzz/run-fuzzers.sh [BUILD_DIR [TARGET...]]
#       exploration (make fuzz): FUZZ_SECONDS per target (default 300) from a
#       random seed (printed; FUZZ_SEED fixes it), growing BUILD_DIR's own
#       corpus between runs.  Run it for longer, and after any change to a
#       loader or a mapping path; it is not part of make check.
#   fuzz/run-fuzzers.sh --replay DIR [BUILD_DIR]
#       each saved input in DIR once (make fuzz-replay: fuzz/crashes/, the
#       findings not fixed yet, which are expected to fail).
#
# Any crash, sanitizer report, leak, timeout or out-of-memory fails the run.
# Environment: FUZZ_RSS_MB (default 2048).
#
# Seeds: fuzz/corpus/<target>/ (committed, never written to; regress-* are
# the inputs of fixed findings), plus for fuzz_dt every .dts of tests/dts,
# tests/dts/boards and examples/boards compiled with dtc into
# BUILD_DIR/fuzz-seeds/.  Exploration writes new inputs to
# BUILD_DIR/fuzz-corpus/<target>/, findings to BUILD_DIR/fuzz-artifacts/
# <target>/, logs to BUILD_DIR/fuzz-logs/.  A finding is minimised
# (BINARY -minimize_crash=1 -runs=10000 FILE) and saved as
# fuzz/crashes/<target>-<what> until it is fixed; the fix moves it to
# fuzz/corpus/<c>/regress-<what>, which the gate then replays for good.
set -uo pipefail
cd "$(dirname "$0")/.."
src=$PWD

replay=""
gate=""
if [ "${1:-}" = "--replay" ]; then
	replay=${2:?--replay needs a directory}
	shift 2
elif [ "${1:-}" = "--gate" ]; then
	gate=1
	shift
fi
build=${1:-build-fuzz}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_dt fuzz_scenario fuzz_api)
secs=${FUZZ_SECONDS:-300}
rss=${FUZZ_RSS_MB:-2048}

# Sanitizer runtimes of clang 14 may fail on kernels with 32 bits of mmap
# randomisation; without ASLR they run anywhere (when setarch may turn it off).
no_aslr=()
setarch "$(uname -m)" -R true 2>/dev/null && no_aslr=(setarch "$(uname -m)" -R)

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

corpus_name() { echo "${1#fuzz_}"; }   # fuzz_dt -> dt
# Inputs the gate mutates per target: about 20 s each on one core of the
# 2-core CI machine (dt ~8k/s, scenario ~20k/s, api ~300/s).
gate_runs() {
	case $1 in
	fuzz_dt) echo "${FUZZ_GATE_RUNS:-150000}" ;;
	fuzz_scenario) echo "${FUZZ_GATE_RUNS:-300000}" ;;
	*) echo "${FUZZ_GATE_RUNS:-6000}" ;;
	esac
}
max_len() {
	case $1 in
	fuzz_dt) echo 65536 ;;
	fuzz_scenario) echo 8192 ;;
	*) echo 2048 ;;
	esac
}

for t in "${targets[@]}"; do
	[ -x "$build/$t" ] || { echo "run-fuzzers: $build/$t missing (make fuzz builds it)" >&2; exit 2; }
done

if [ -n "$replay" ]; then
	rc=0
	shopt -s nullglob
	for f in "$replay"/fuzz_*; do
		[ -e "$f" ] || continue # no saved findings
		case $f in *.md|*.txt) continue ;; esac
		base=$(basename "$f")
		t=${base%%-*}
		[ -x "$build/$t" ] || { echo "replay: $base: no target $t" >&2; rc=1; continue; }
		if "${no_aslr[@]}" "$build/$t" "$f" >"$build/replay-$base.log" 2>&1; then
			echo "replay: $base: no finding"
		else
			echo "replay: $base: FINDING (log: $build/replay-$base.log)"
			grep -m3 -E "invariant|^fuzz_[a-z]+:|ERROR|runtime error" "$build/replay-$base.log" | sed 's/^/  /'
			rc=1
		fi
	done
	exit $rc
fi

rm -rf "$build/fuzz-seeds/dt"
mkdir -p "$build/fuzz-logs" "$build/fuzz-seeds/dt"
# Device trees: whatever dtc compiles (a seed that fails to compile is skipped).
if command -v dtc >/dev/null; then
	for f in "$src"/tests/dts/*.dts "$src"/tests/dts/boards/*.dts "$src"/examples/boards/*.dts; do
		[ -f "$f" ] || continue
		dtc -q -I dts -O dtb -o "$build/fuzz-seeds/dt/$(basename "$f" .dts).dtb" "$f" 2>/dev/null ||
			rm -f "$build/fuzz-seeds/dt/$(basename "$f" .dts).dtb"
	done
fi

# Shared by both modes: a finding's last lines, where it is, how to rerun it.
report_finding() { # target log artifacts-dir
	echo "---- $1: last lines of $2 ----"
	grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|RELOAD)' "$2" | tail -n 60
	echo "---- findings saved in $3/: ----"
	ls -1 "$3" 2>/dev/null | sed "s|^|  $3/|"
	echo "---- reproduce: $build/$1 FILE; minimise: $build/$1 -minimize_crash=1 -runs=10000 FILE ----"
}

if [ -n "$gate" ]; then
	gseed=${FUZZ_GATE_SEED:-1}
	gate_asan="detect_leaks=1:allocator_may_return_null=0"
	gate_ubsan="halt_on_error=1:print_stacktrace=1"
	fail=0
	for t in "${targets[@]}"; do
		c=$(corpus_name "$t")
		art="$build/fuzz-gate/artifacts/$c"
		log="$build/fuzz-logs/$t.gate.log"
		# A fresh, empty output corpus each time: nothing from an earlier
		# run (or from exploration) changes what the gate mutates.
		work="$build/fuzz-gate/corpus/$c"
		rm -rf "$work" "$art"
		mkdir -p "$work" "$art"
		inputs=("fuzz/corpus/$c"/*)
		[ "$t" = fuzz_dt ] && inputs+=("$build/fuzz-seeds/dt"/*.dtb)
		# 1. Every committed input and regression seed, whole, once.
		start=$(date +%s)
		if ! "${no_aslr[@]}" "$build/$t" -rss_limit_mb="$rss" -timeout=25 -error_exitcode=77 \
			-timeout_exitcode=78 -detect_leaks=1 -artifact_prefix="$art/" "${inputs[@]}" \
			>"$log" 2>&1; then
			echo "fuzz-gate: $t: FAILED replaying the committed inputs"
			report_finding "$t" "$log" "$art"
			fail=1
			continue
		fi
		replayed=$(grep -c '^Executed ' "$log")
		# 2. A fixed number of mutations from a fixed seed.  The seeds go in
		# as a list in name order, not as directories: libFuzzer sorts
		# them by size only, so equal sizes would keep the directory's
		# order, which differs from one file system (or clone) to another.
		dict=()
		[ -f "fuzz/$c.dict" ] && dict=(-dict="fuzz/$c.dict")
		seeds="$build/fuzz-gate/seeds-$c.txt"
		printf '%s\n' "${inputs[@]}" | LC_ALL=C sort | paste -sd, - > "$seeds"
		# A fixed environment: its size moves the stack, and stack addresses
		# reach libFuzzer's comparison hints, so another shell would explore
		# another way.
		env -i PATH=/usr/bin:/bin ASAN_OPTIONS="$gate_asan" UBSAN_OPTIONS="$gate_ubsan" \
		"${no_aslr[@]}" "$build/$t" "$work" -seed_inputs=@"$seeds" "${dict[@]}" -seed="$gseed" \
			-runs="$(gate_runs "$t")" -reload=0 -max_len="$(max_len "$t")" \
			-rss_limit_mb="$rss" -timeout=25 -error_exitcode=77 -timeout_exitcode=78 \
			-detect_leaks=1 -print_final_stats=1 -artifact_prefix="$art/" >>"$log" 2>&1
		rc=$?
		took=$(( $(date +%s) - start ))
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		if [ $rc -eq 0 ]; then
			echo "fuzz-gate: $t ok: $replayed committed inputs replayed, ${execs:-?} runs from seed $gseed, ${took}s"
		else
			echo "fuzz-gate: $t FAILED (exit $rc) in the fixed-seed runs (seed $gseed)"
			report_finding "$t" "$log" "$art"
			fail=1
		fi
	done
	exit $fail
fi

fail=0
summary=()
for t in "${targets[@]}"; do
	c=$(corpus_name "$t")
	work="$build/fuzz-corpus/$c"
	art="$build/fuzz-artifacts/$c"
	log="$build/fuzz-logs/$t.log"
	mkdir -p "$work" "$art"
	dirs=("$work" "fuzz/corpus/$c")
	[ "$t" = fuzz_dt ] && dirs+=("$build/fuzz-seeds/dt")
	dict=()
	[ -f "fuzz/$c.dict" ] && dict=(-dict="fuzz/$c.dict")
	seed=()
	[ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")
	start=$(date +%s)
	"${no_aslr[@]}" "$build/$t" "${dirs[@]}" "${dict[@]}" "${seed[@]}" \
		-max_total_time="$secs" -max_len="$(max_len "$t")" -rss_limit_mb="$rss" \
		-timeout=25 -error_exitcode=77 -timeout_exitcode=78 -detect_leaks=1 \
		-print_final_stats=1 -artifact_prefix="$art/" >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	rssmb=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
	used_seed=$(sed -n 's/.*Seed: \([0-9]*\).*/\1/p' "$log" | head -1)
	if [ $rc -eq 0 ]; then
		status=ok
	else
		status="FAILED (exit $rc)"
		fail=1
	fi
	line=$(printf '%-14s %s: %s inputs in %ss (%s/s), cov %s, ft %s, corpus %s, peak rss %s MB, seed %s' \
		"$t" "$status" "${execs:-?}" "$took" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
		"${rssmb:-?}" "${used_seed:-?}")
	summary+=("$line")
	echo "fuzz: $line"
	[ $rc -ne 0 ] && report_finding "$t" "$log" "$art"
done

echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit $fail
