#!/bin/bash
# dock's benchmarks. They report, they never assert.
#
#   scripts/bench.sh           the full run (1 GiB per output case)
#   scripts/bench.sh --quick   the same cases with 64 MiB, under a minute
#
# Output: the command's output through dock to a file -- directly (dock
# hands the child the file), with a prefix (dock reads, prefixes and writes
# every line) -- against the child writing to the file itself, as 100-byte
# lines (one write each) and as 64 KiB writes. The cases are interleaved
# (A B C A B C ...) and each figure is the median of the runs.
set -euo pipefail
cd "$(dirname "$0")/.."

size=$((1 << 30)) runs=5
if [ "${1:-}" = --quick ]; then size=$((64 << 20)) runs=3; fi

make -s dock tests/helper >/dev/null
dir=$(mktemp -d /tmp/dock-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT
log=$dir/out.log

now_ns() { date +%s%N; }

# One timed run of a case; prints milliseconds.
run_case() {  # CASE MODE
  local mode=$2 t0 t1
  rm -f "$log"
  t0=$(now_ns)
  case $1 in
    direct) ./tests/helper write "$size" "$mode" >"$log" ;;
    io-file) ./dock --io "$log" -- ./tests/helper write "$size" "$mode" ;;
    io-file-prefix) ./dock --io "$log" --stdout-prefix 'app| ' -- ./tests/helper write "$size" "$mode" ;;
    stdout-prefix) ./dock --stdout-prefix 'app| ' -- ./tests/helper write "$size" "$mode" >"$log" ;;
  esac
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000000))
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cases="direct io-file io-file-prefix stdout-prefix"
echo "Output to a file: $((size >> 20)) MiB per run, median of $runs runs, interleaved"
echo
echo "| writes | case | MB/s | ratio to direct |"
echo "|---|---|---|---|"
for mode in lines blocks; do
  declare -A times=()
  for ((r = 0; r < runs; r++)); do
    for c in $cases; do times[$c]+="$(run_case "$c" "$mode") "; done
  done
  direct_ms=$(echo "${times[direct]}" | tr ' ' '\n' | grep . | median)
  for c in $cases; do
    ms=$(echo "${times[$c]}" | tr ' ' '\n' | grep . | median)
    [ "$ms" -gt 0 ] || ms=1
    mbs=$(awk -v b="$size" -v ms="$ms" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }')
    ratio=$(awk -v d="$direct_ms" -v ms="$ms" 'BEGIN { printf "%.2f", d / ms }')
    label=$([ "$mode" = lines ] && echo "100-byte lines" || echo "64 KiB")
    echo "| $label | $c | $mbs | $ratio |"
  done
  unset times
done

# Log rotation: the longest single write(2) of a child writing 100-byte
# lines, without rotation and while a ROT MiB archive is being compressed
# (the file is rotated at ROT MiB and the child writes as much again).
rot=$((200 << 20))
if [ "${1:-}" = --quick ]; then rot=$((32 << 20)); fi
stall() {  # ARGS...: prints the longest write in ms, median of $runs runs
  local r out=()
  for ((r = 0; r < runs; r++)); do
    rm -rf "$dir"/rot && mkdir "$dir"/rot
    HELPER_STALL_OUT=$dir/stall ./dock --io "$dir"/rot/app.log "$@" -- ./tests/helper write $((2 * rot)) lines
    out+=("$(cat "$dir"/stall)")
  done
  printf '%s\n' "${out[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }'
}
echo
echo "Log rotation: the child's longest write(2) while writing $((2 * rot >> 20)) MiB of 100-byte lines"
echo
echo "| case | longest write (ms) |"
echo "|---|---|"
echo "| dock --io FILE --stdout-prefix 'app| ' (no rotation) | $(stall --stdout-prefix 'app| ') |"
echo "| dock --io FILE --log-max-size $((rot >> 20))m (a $((rot >> 20)) MiB archive compressing meanwhile) | $(stall --log-max-size $((rot >> 20))m) |"
echo
echo "direct: the child writes to the file; io-file: dock --io FILE (the child"
echo "gets the file); io-file-prefix: dock --io FILE --stdout-prefix 'app| ';"
echo "stdout-prefix: dock --stdout-prefix 'app| ' with stdout redirected to FILE."
