#!/bin/bash
# Runs every test suite and ends with one line: N passed, N failed[, N skipped].
# Counts are Catch2 test cases; a suite that crashes without a summary
# counts as one failure. The behaviour suite runs against ./dock and, when
# it was built, ./dock-static.
set -u
cd "$(dirname "$0")/.."

. scripts/suite.sh

run_suite "unit tests" ./tests/unit
run_suite "behaviour tests (./dock)" env DOCK_BIN=./dock ./tests/behaviour
if [ -x ./dock-static ]; then
  run_suite "behaviour tests (./dock-static)" env DOCK_BIN=./dock-static ./tests/behaviour "~[build]"
fi
# Field mode: dock with Docker's default capabilities only (no
# CAP_SYS_PTRACE, no CAP_SYS_ADMIN), as in a container; see harness.hpp.
if command -v setpriv >/dev/null 2>&1; then
  run_suite "behaviour tests (./dock, Docker's default capabilities)" env DOCK_BIN=./dock DOCK_FIELD=1 ./tests/behaviour "~[build]"
else
  echo "behaviour tests with Docker's default capabilities: setpriv (util-linux) is missing" >>"$skips"
fi

# Catch2 counts a test case that skipped itself as passed.
passed=$((passed - $(grep -c . "$skips" || true)))

# The Docker suite (scripts/docker-test.sh) counts its own checks.
echo "== docker tests"
if ! command -v docker >/dev/null 2>&1; then
  echo "docker tests: no docker command" >>"$skips"
elif ! docker info >/dev/null 2>&1; then
  echo "docker tests: no Docker engine answers (docker info failed)" >>"$skips"
else
  log=$(mktemp)
  DOCK_TEST_SKIPS=$skips scripts/docker-test.sh >"$log" 2>&1
  cat "$log"
  if [[ $(tail -n 1 "$log") =~ ^docker:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
  else
    failed=$((failed + 1))  # it stopped without its summary
  fi
  rm -f "$log"
fi

# The release artefacts (scripts/dist-test.sh): make dist for x86_64 and
# aarch64, their checksums and build lines, the aarch64 builds under qemu,
# and clang++.
echo "== dist tests"
log=$(mktemp)
scripts/dist-test.sh >"$log" 2>&1
cat "$log"
last=$(tail -n 1 "$log")
if [[ $last =~ ^dist:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
elif [[ $last =~ ^dist:\ skipped:\ (.*) ]]; then
  echo "dist tests: ${BASH_REMATCH[1]}" >>"$skips"
else
  failed=$((failed + 1))  # it stopped without its summary
fi
rm -f "$log"

# The Podman suite (scripts/podman-test.sh) counts its own checks, or says
# in one line why Podman cannot run containers here.
echo "== podman tests"
log=$(mktemp)
scripts/podman-test.sh >"$log" 2>&1
cat "$log"
last=$(tail -n 1 "$log")
if [[ $last =~ ^podman:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
  passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
elif [[ $last =~ ^podman:\ skipped:\ (.*) ]]; then
  echo "podman tests: ${BASH_REMATCH[1]}" >>"$skips"
else
  failed=$((failed + 1))  # it stopped without its summary
fi
rm -f "$log"

print_summary
