# Shared by run-tests.sh and check-sanitize.sh: run_suite NAME COMMAND...
# runs one Catch2 suite (COMMAND: the test binary and its arguments) and adds its counts to $passed and $failed; test
# cases that skipped themselves write a line to $skips.
passed=0 failed=0 skipped=0
skips=$(mktemp) failures=$(mktemp)
trap 'rm -f "$skips" "$failures"' EXIT

run_suite() {  # NAME CATCH2-COMMAND...
  local name=$1; shift
  local log xml
  log=$(mktemp) xml=$(mktemp)
  echo "== $name"
  # The counts come from Catch2's XML report (-r xml), not from its
  # console layout; the log keeps what the tests wrote to stderr. The
  # report goes to stdout, not to a file of Catch2's own (-o): that file's
  # descriptor would be inherited by every process a test starts (a
  # `ulimit -n 4` case then has no descriptor left for the loader).
  DOCK_TEST_SKIPS=$skips "$@" -r xml >"$xml" 2>"$log"
  local rc=$? p=0 f=0 totals
  totals=$(grep -o '<OverallResultsCases successes="[0-9]*" failures="[0-9]*"' "$xml" | tail -n 1)
  if [[ $totals =~ successes=\"([0-9]+)\"\ failures=\"([0-9]+)\" ]]; then
    p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
  fi
  if [ -z "$totals" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; }; then
    f=$((f + 1))  # crashed, or failed without saying so
  fi
  if [ "$f" != 0 ]; then
    cat "$log"
    digest "$name" "$xml" | tee -a "$failures"
  else
    echo "$p test cases passed"
  fi
  passed=$((passed + p)) failed=$((failed + f))
  rm -f "$log" "$xml"
}

# What failed, in a few lines per failure, so that the end of a long log
# (all a CI page may keep) names it: from Catch2's XML report, each test
# case with a failed assertion, an unexpected exception or a fatal error,
# where, and the expression as written and as expanded.
digest() {  # NAME XML
  awk -v suite="$1" '
    function attr(line, key,   m) {
      if (match(line, key "=\"[^\"]*\"")) return substr(line, RSTART + length(key) + 2, RLENGTH - length(key) - 3)
      return ""
    }
    function text(line) {
      gsub(/^ +| +$/, "", line)
      gsub(/&quot;/, "\"", line); gsub(/&lt;/, "<", line); gsub(/&gt;/, ">", line); gsub(/&amp;/, "\\&", line)
      return line
    }
    /<TestCase name=/ { name = text(attr($0, "name")); shown = 0; open = 1; info = ""; next }
    /<Info>/ { in_info = 1; next }
    /<\/Info>/ { in_info = 0; next }
    in_info { info = (info == "" ? "" : info "; ") text($0); next }
    /<\/TestCase>/ { open = 0; next }
    /<Expression success="false"|<Exception |<FatalErrorCondition / {
      if (!shown) { print suite ": " name; shown = 1 }
      print "  " attr($0, "filename") ":" attr($0, "line") ": " ($0 ~ /Expression/ ? attr($0, "type") " failed" : "unexpected exception or fatal error")
      if ($0 !~ /<Expression/) { sub(/^ *<[^>]*>/, ""); if (NF) print "    " text($0) }
      if (info != "") print "    with: " info
      info = ""; more = 8; next
    }
    more > 0 && /^ *<\/?(Original|Expanded)>/ { next }
    more > 0 && /^ *</ { more = 0 }
    more > 0 && NF { print "    " text($0); more--; next }
    /<\/Catch>/ { done = 1 }
    END { if (!done) print suite ": ended without a summary (crashed?)" (open ? " in: " name : "") }
  ' "$2"
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
