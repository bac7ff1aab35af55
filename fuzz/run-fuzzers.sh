#!/usr/bin/env bash
# Runs each libFuzzer target for a bounded time and fails on any finding
# (crash, sanitizer report, leak, timeout, out-of-memory).
#
#   fuzz/run-fuzzers.sh [BUILD_DIR [TARGET...]]     fuzz (default: build-fuzz, all)
#   fuzz/run-fuzzers.sh --replay DIR [BUILD_DIR]    run saved inputs once each
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_SEED (libFuzzer
# -seed; default random, printed), FUZZ_RSS_MB (default 2048).
#
# Seeds: fuzz/corpus/<target>/ (committed, never written to), plus for
# fuzz_dt the .dts trees of tests/dts, examples/boards and ../shared/dts
# compiled with dtc into BUILD_DIR/fuzz-seeds/.  New inputs go to
# BUILD_DIR/fuzz-corpus/<target>/ (kept between runs), findings to
# BUILD_DIR/fuzz-artifacts/<target>/, full logs to BUILD_DIR/fuzz-logs/.
# A finding worth keeping is minimised (the binary with -minimize_crash=1
# -runs=10000 FILE) and saved as fuzz/crashes/<target>-<what>, which
# --replay fuzz/crashes runs (not part of make check).
set -uo pipefail
cd "$(dirname "$0")/.."
src=$PWD

replay=""
if [ "${1:-}" = "--replay" ]; then
	replay=${2:?--replay needs a directory}
	shift 2
fi
build=${1:-build-fuzz}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_dt fuzz_scenario fuzz_api)
secs=${FUZZ_SECONDS:-30}
rss=${FUZZ_RSS_MB:-2048}

# Sanitizer runtimes of clang 14 may fail on kernels with 32 bits of mmap
# randomisation; without ASLR they run anywhere (when setarch may turn it off).
no_aslr=()
setarch "$(uname -m)" -R true 2>/dev/null && no_aslr=(setarch "$(uname -m)" -R)

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"

corpus_name() { echo "${1#fuzz_}"; }   # fuzz_dt -> dt
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

mkdir -p "$build/fuzz-logs" "$build/fuzz-seeds/dt"
# Device trees: whatever dtc compiles (a seed that fails to compile is skipped).
if command -v dtc >/dev/null; then
	for f in "$src"/tests/dts/*.dts "$src"/examples/boards/*.dts "$src"/../shared/dts/*.dts; do
		[ -f "$f" ] || continue
		dtc -q -I dts -O dtb -o "$build/fuzz-seeds/dt/$(basename "$f" .dts).dtb" "$f" 2>/dev/null ||
			rm -f "$build/fuzz-seeds/dt/$(basename "$f" .dts).dtb"
	done
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
	if [ $rc -ne 0 ]; then
		echo "---- $t: last lines of $log ----"
		grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|RELOAD)' "$log" | tail -n 60
		echo "---- findings saved in $art/: ----"
		ls -1 "$art" 2>/dev/null | sed "s|^|  $art/|"
		echo "---- reproduce: $build/$t FILE; minimise: $build/$t -minimize_crash=1 -runs=10000 FILE ----"
	fi
done

echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit $fail
