# Shared by the script suites (docker, dist, podman, readme): `check NAME
# CONDITION...` runs CONDITION, prints one "ok"/"FAIL" line and counts it
# in $passed or $failed, which the suite's last line reports.
passed=0 failed=0
check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name"; failed=$((failed + 1)); fi
}
