# Shared by the script suites (docker, dist, podman, readme): `check NAME
# CONDITION...` runs CONDITION, prints one "ok"/"FAIL" line and counts it
# in $passed or $failed, which the suite's last line reports.
passed=0 failed=0
# The test runner's own variables are not dock's: a dock these suites start
# must not see them (dock warns of a DOCK_* variable that no option has).
skips_file=${DOCK_TEST_SKIPS:-}
unset DOCK_TEST_SKIPS DOCK_BIN DOCK_FIELD DOCK_EMULATED
check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name"; failed=$((failed + 1)); fi
}
