#!/bin/bash
# The unit tests and the behaviour suite against ./dock-sanitize: dock built
# with AddressSanitizer, UndefinedBehaviorSanitizer and LeakSanitizer.
# Reports go to files, one per process, so that none hides in a stderr no
# test reads; each process with a report counts as one failure.
# Ends with one line: N passed, N failed[, N skipped].
set -u
cd "$(dirname "$0")/.."

. scripts/suite.sh

reports=$(mktemp -d)
trap 'rm -rf "$reports" "$skips" "$failures"' EXIT
export ASAN_OPTIONS="log_path=$reports/asan:detect_leaks=1:exitcode=99"
export UBSAN_OPTIONS="log_path=$reports/ubsan:print_stacktrace=1:halt_on_error=1"

run_suite "unit tests" ./tests/unit
# Not [build] (it checks the product binaries) nor [idle] (it counts
# wake-ups, and the sanitizers' runtime has its own).
run_suite "behaviour tests (./dock-sanitize)" env DOCK_BIN=./dock-sanitize ./tests/behaviour "~[build]" "~[idle]"
passed=$((passed - $(grep -c . "$skips" || true)))

for f in "$reports"/*; do
  [ -e "$f" ] || continue
  echo "== sanitizer report $f"
  cat "$f"
  echo "sanitizer report $(basename "$f"): $(grep -m1 -E 'ERROR|runtime error' "$f")" >>"$failures"
  failed=$((failed + 1))
done
print_summary
