#!/bin/bash
# Runs each libFuzzer target for SECONDS from its seeds (tests/fuzz/seeds/T)
# and prints how many inputs it tried. A target that finds a crash, a
# sanitizer report or a broken invariant fails; its reproducer is kept in
# .fuzz/crashes/T. Ends with one line: fuzz: N passed, N failed.
# Usage: scripts/fuzz.sh SECONDS TARGET...
set -u
cd "$(dirname "$0")/.."
seconds=$1; shift
passed=0 failed=0
for t in "$@"; do
  corpus=.fuzz/corpus/$t crashes=.fuzz/crashes/$t log=.fuzz/$t.log
  mkdir -p "$corpus" "$crashes"
  # -max_len: the prefixer needs room for lines longer than a pipe's read.
  max_len=4096
  case $t in lines | streams) max_len=70000 ;; esac
  tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -print_final_stats=1 -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$crashes/" "$corpus" tests/fuzz/seeds/"$t" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    echo "fuzz $t: ${runs:-?} inputs in ${seconds} s, ${cov:-cov: ?}, nothing found"
  else
    failed=$((failed + 1))
    echo "fuzz $t: FAILED after ${runs:-?} inputs (exit $rc); reproducer in $crashes:"
    grep -E 'ERROR|SUMMARY|runtime error|abort|prefix ' "$log" | head -n 20
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
