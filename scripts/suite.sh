# Shared by run-tests.sh and check-sanitize.sh: run_suite NAME COMMAND...
# runs one Catch2 suite and adds its counts to $passed and $failed; test
# cases that skipped themselves write a line to $skips.
passed=0 failed=0 skipped=0
skips=$(mktemp) failures=$(mktemp)
trap 'rm -f "$skips" "$failures"' EXIT

run_suite() {  # NAME COMMAND...
  local name=$1; shift
  local log
  log=$(mktemp)
  echo "== $name"
  DOCK_TEST_SKIPS=$skips "$@" >"$log" 2>&1
  local rc=$? p=0 f=0 line
  line=$(grep -E '^(All tests passed|test cases:)' "$log" | tail -n 1)
  if [[ $line =~ ^All\ tests\ passed.*in\ ([0-9]+)\ test\ case ]]; then
    p=${BASH_REMATCH[1]}
  elif [[ $line =~ test\ cases:\ *([0-9]+) ]]; then
    local total=${BASH_REMATCH[1]}
    [[ $line =~ ([0-9]+)\ failed ]] && f=${BASH_REMATCH[1]}
    p=$((total - f))
  fi
  if [ -z "$line" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
    f=$((f + 1))  # crashed, or failed without saying so
  fi
  if [ "$f" != 0 ]; then
    cat "$log"
    digest "$name" "$log" >>"$failures"
  else
    tail -n 2 "$log"
  fi
  passed=$((passed + p)) failed=$((failed + f))
  rm -f "$log"
}

# What failed, in a few lines per failure, so that the end of a long log
# (all a CI page may keep) names it: each Catch2 test case with a failed
# assertion or an unexpected exception, and the lines that say why.
digest() {  # NAME LOG
  awk -v suite="$1" '
    /^-+$/ && length($0) == 79 { rule++; if (rule % 2) { name = ""; shown = 0 } ; next }
    rule % 2 == 1 { sub(/^ +/, ""); name = name (name == "" ? "" : " / ") $0; next }
    /FAILED:$|due to unexpected exception|due to a fatal error/ {
      if (!shown) { print suite ": " name; shown = 1 }
      print "  " $0; more = 6; next
    }
    more > 0 && NF { print "  " $0; more--; next }
    { more = 0 }
  ' "$2"
  grep -q -E '^(All tests passed|test cases:)' "$2" || echo "$1: ended without a summary (crashed?)"
}

# The last line of every run: N passed, N failed[, N skipped]; the status
# says whether anything failed.
print_summary() {
  skipped=$(grep -c . "$skips" || true)
  if [ -s "$failures" ]; then
    echo "failures:"; cat "$failures"
  fi
  if [ "$skipped" != 0 ]; then
    echo "skipped:"; sed 's/^/  /' "$skips"
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" = 0 ]
}
