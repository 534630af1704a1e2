#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/, docs/reliability.md) and runs each for a while.
#
#   scripts/fuzz.sh                  build, then a smoke run of 25 s per target
#   scripts/fuzz.sh 600              600 s per target (one after the other)
#   scripts/fuzz.sh 60 FuzzWire      only the named targets (FuzzWire, FuzzSweep, FuzzData)
#   scripts/fuzz.sh --build-only     only build
#
# Targets build in .build-fuzz with libFuzzer and ASan (-sanitize=fuzzer,address; the package defines
# them only when TAILSWEEP_FUZZ=1). Each run uses a copy of Fuzz/corpus/<target> in a temporary
# folder (the committed corpus does not grow), with -timeout=10 -rss_limit_mb=2048. Crash, leak,
# timeout and out-of-memory inputs and each run's log are kept in .build-fuzz/findings/<target>/.
# Prints per target: executions, exec/s, peak RSS, the exit status and any saved input.
# Exit status: 0 no finding, 1 a target crashed, leaked, hung or ran out of memory, 2 bad
# usage or build failure. Needs only the Swift toolchain (its clang runtime has libFuzzer and
# ASan) and what scripts/setup.sh installs; it installs nothing.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
all_targets=(FuzzWire FuzzSweep FuzzData)
scratch=".build-fuzz"
seconds=25
build_only=0
targets=()

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }

for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *[!0-9]*)
      found=0
      for t in "${all_targets[@]}"; do [ "$t" = "$arg" ] && found=1; done
      if [ "$found" -eq 0 ]; then
        printf 'fuzz: unknown target or bad duration: %s\n' "$arg" >&2
        usage >&2
        exit 2
      fi
      targets+=("$arg")
      ;;
    *) seconds="$arg" ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${all_targets[@]}")

# `--sanitize fuzzer --sanitize address` makes SwiftPM link libFuzzer's main (and sanitize C
# code, libyaml in Yams), but it hands swiftc two -sanitize= options and swiftc 6.3.1 keeps only
# the last: the Swift code would get either no coverage instrumentation or no ASan. The
# comma-joined option after them (the last one wins) keeps both.
sanitize=(--sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address)
mkdir -p "$scratch"
echo "fuzz: building ${all_targets[*]} in $scratch (fuzzer + address sanitizer)"
if ! TAILSWEEP_FUZZ=1 TAILSWEEP_ONLY="$(
  IFS=,
  echo "${all_targets[*]}"
)" swift build --scratch-path "$scratch" "${sanitize[@]}" \
  >"$scratch/build.log" 2>&1; then
  grep -v 'Cannot export local symbol' "$scratch/build.log" | tail -40 >&2
  echo "fuzz: build failed (full log: $scratch/build.log)" >&2
  exit 2
fi
bin="$scratch/debug"
[ "$build_only" -eq 1 ] && exit 0

symbolizer="$(command -v llvm-symbolizer || true)"
[ -n "$symbolizer" ] || symbolizer="$(dirname "$(readlink -f "$(command -v swift)")")/llvm-symbolizer"
export ASAN_OPTIONS="detect_leaks=1:symbolize=1:external_symbolizer_path=$symbolizer${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$repo/Fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# The Swift runtime's own crash reporter would attach to the dying process and can hang under
# the sanitizers; libFuzzer and ASan report crashes themselves.
export SWIFT_BACKTRACE=enable=no

work="$(mktemp -d "${TMPDIR:-/tmp}/tailsweep-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT

failed=0
printf '\n%-10s %6s %12s %8s %8s  %s\n' target secs executions exec/s rss_mb result
for t in "${targets[@]}"; do
  findings="$scratch/findings/$t"
  mkdir -p "$findings" "$work/$t"
  cp -R "Fuzz/corpus/$t/." "$work/$t/"
  log="$findings/run-$(date +%Y%m%d-%H%M%S).log"
  status=0
  (cd "$work" && "$repo/$bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=8192 -print_final_stats=1 -artifact_prefix="$repo/$findings/" "$work/$t") \
    >"$log" 2>&1 || status=$?
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  rss="$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)"
  if [ -z "$execs" ]; then
    # No final stats (the run stopped on a finding): the last status line.
    last="$(grep -E '^#[0-9]+' "$log" | tail -1)"
    execs="$(sed -E 's/^#([0-9]+).*/\1/' <<<"$last")"
    rate="$(sed -nE 's/.*exec\/s: ([0-9]+).*/\1/p' <<<"$last")"
    rss="$(sed -nE 's/.*rss: ([0-9]+)Mb.*/\1/p' <<<"$last")"
  fi
  saved="$(sed -n "s/.*Test unit written to //p" "$log" | tail -1)"
  kind="ok"
  if [ "$status" -ne 0 ]; then
    failed=1
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
      kind="TIMEOUT"
    elif grep -q 'ERROR: LeakSanitizer' "$log"; then
      kind="LEAK"
    elif grep -q 'out-of-memory' "$log"; then
      kind="OUT-OF-MEMORY"
    else
      kind="CRASH"
    fi
  fi
  printf '%-10s %6s %12s %8s %8s  %s (exit %d)\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" \
    "${rss:-?}" "$kind" "$status"
  if [ "$status" -ne 0 ]; then
    [ -n "$saved" ] && echo "           input saved to $saved"
    echo "           log: $log"
    grep -m1 -E 'Fatal error|ERROR: ' "$log" | sed 's/^/           /'
  fi
  rm -rf "${work:?}/$t"
done
exit "$failed"
