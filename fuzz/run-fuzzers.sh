#!/bin/bash
# run-fuzzers.sh — build the libFuzzer targets with clang and run each in turn, one at a time.
# SPDX-License-Identifier: GPL-3.0-or-later
#
#   fuzz/run-fuzzers.sh [SECONDS] [TARGET…]   default: 600 s for each of the four targets
#
# This is how the figures in fuzz/README.md were made. The build directory is _build-fuzz
# (override with DISPATCH_FUZZ_BUILD_DIR); what the fuzzer learns goes to
# $build/fuzz-corpus/TARGET, next to the committed seeds in fuzz/corpus/TARGET, which it only
# reads. Reproducers land in $build/fuzz-artifacts/. Needs clang and libclang-rt-14-dev.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${DISPATCH_FUZZ_BUILD_DIR:-$root/_build-fuzz}
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(smtp-reply smtp-capabilities message smtp-session)

if ! command -v clang >/dev/null || ! clang -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q /; then
  echo "needs clang and libFuzzer: apt-get install --no-install-recommends clang libclang-rt-14-dev" >&2
  exit 69
fi

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C "$build" $(printf 'fuzz/fuzz-%s ' "${targets[@]}")

# The fast unwinder keeps the targets fast, but stops at the first distro library (they have
# no frame pointers): to see a leak's whole allocation stack, rerun its reproducer with
# ASAN_OPTIONS=fast_unwind_on_malloc=0. No suppression is needed while fuzzing (fuzz-message
# steps around GMime's own leak); the file is given so that a rerun matches the test suite.
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=1"
# GSlice (GLib 2.74) caches blocks in per-thread magazines, which leak checkers misread when a
# worker thread comes or goes; plain malloc is what GLib recommends under them.
export G_SLICE=always-malloc
export LSAN_OPTIONS="suppressions=$root/build-aux/lsan-suppressions.txt:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

mkdir -p "$build/fuzz-artifacts"
for target in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$target"
  log="$build/fuzz-$target.log"
  mkdir -p "$corpus"
  echo "== fuzz-$target: $seconds s (log: $log)"
  status=0
  nice -n 10 "$build/fuzz/fuzz-$target" \
      -max_total_time="$seconds" -timeout=10 -max_len=4096 -rss_limit_mb=2560 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" \
      "$corpus" "$root/fuzz/corpus/$target" > "$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  if [ $status -ne 0 ]; then
    echo "fuzz-$target FAILED (exit $status): see $log and $build/fuzz-artifacts/" >&2
    exit $status
  fi
done
