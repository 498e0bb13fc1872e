#!/bin/bash
# Runs every test suite and ends with one line: N passed, N failed[, N skipped].
# Counts are Catch2 test cases; a suite that crashes without a summary
# counts as one failure. The behaviour suite runs against ./dock, ./dock-static
# (musl, no TLS: all but the [tls] cases) and ./dock-static-tls (the cases of
# what it links in: [tls] and [rotate]), each when it was built.
set -u
cd "$(dirname "$0")/.."

. scripts/suite.sh
# What did not run at all, for the skip lines: added after the count below.
not_run=$(mktemp)

run_suite "unit tests" ./tests/unit
run_suite "behaviour tests (./dock)" env DOCK_BIN=./dock ./tests/behaviour
no_tls="the [tls] cases: this build has no TLS (SPEC §18); ./dock and ./dock-static-tls run them"
if [ -x ./dock-static ]; then
  run_suite "behaviour tests (./dock-static, musl)" env DOCK_BIN=./dock-static ./tests/behaviour "~[build]~[tls]"
  echo "behaviour tests (./dock-static): $no_tls" >>"$not_run"
fi
if [ -x ./dock-static-tls ]; then
  run_suite "behaviour tests (./dock-static-tls)" env DOCK_BIN=./dock-static-tls ./tests/behaviour "[tls],[rotate]"
fi
# Field mode: dock with Docker's default capabilities only (no
# CAP_SYS_PTRACE, no CAP_SYS_ADMIN), as in a container; see harness.hpp.
# The build containers run most, ./dock-static, and ./dock for what it lacks.
if command -v setpriv >/dev/null 2>&1; then
  if [ -x ./dock-static ]; then
    run_suite "behaviour tests (./dock-static, Docker's default capabilities)" env DOCK_BIN=./dock-static DOCK_FIELD=1 ./tests/behaviour "~[build]~[tls]"
    run_suite "behaviour tests (./dock, [tls], Docker's default capabilities)" env DOCK_BIN=./dock DOCK_FIELD=1 ./tests/behaviour "[tls]~[build]"
  else
    run_suite "behaviour tests (./dock, Docker's default capabilities)" env DOCK_BIN=./dock DOCK_FIELD=1 ./tests/behaviour "~[build]"
  fi
else
  echo "behaviour tests with Docker's default capabilities: setpriv (util-linux) is missing" >>"$not_run"
fi

# The aarch64 builds run by qemu-user through binfmt_misc, as on an arm64
# machine: the behaviour suite as PID 1 (harness.hpp: DOCK_EMULATED),
# without the cases tests/emulated-omissions.txt names, each a skip line
# with its reason (what qemu-user cannot do, not what dock does). The musl
# build gets all but [tls]; dock-static-tls and the dynamic dock, the cases
# of what they link or load ([tls], [rotate]).
version=$(make -s --no-print-directory version)
arm=dist/dock-static-$version-aarch64
if ! why=$(scripts/binfmt.sh); then
  echo "behaviour tests (aarch64 under qemu-user): $why" >>"$not_run"
elif ! { [ -x "$arm" ] || make dist >/dev/null 2>&1; }; then
  echo "== behaviour tests ($arm under qemu-user): make dist failed"; failed=$((failed + 1))
else
  omitted=$(mktemp) selected=$(mktemp)
  grep -v '^#' tests/emulated-omissions.txt | grep . >"$omitted"
  emulated() {  # BIN FILTER
    # Catch2 reads the file's lines as test specs: a comma would split one.
    ./tests/behaviour --list-test-names-only "$2" | grep . |
      grep -vxF -f <(cut -f1 "$omitted") | sed 's/[\\,]/\\&/g' >"$selected"
    run_suite "behaviour tests ($1 under qemu-user)" env DOCK_EMULATED=1 DOCK_BIN="$1" ./tests/behaviour -f "$selected"
  }
  emulated "$arm" "~[build]~[tls]"
  emulated "dist/dock-static-tls-$version-aarch64" "[tls]~[build],[rotate]~[build]"
  emulated "dist/dock-$version-aarch64" "[tls]~[build],[rotate]~[build]"
  echo "behaviour tests ($arm under qemu-user): $no_tls" >>"$not_run"
  while IFS=$'\t' read -r name reason; do
    echo "behaviour tests (aarch64 under qemu-user): $name: $reason" >>"$not_run"
  done <"$omitted"
  rm -f "$omitted" "$selected"
fi

# Catch2 counts a test case that skipped itself as passed.
passed=$((passed - $(grep -c . "$skips" || true)))
cat "$not_run" >>"$skips"
rm -f "$not_run"

# The script suites count their own checks: the last line of each is
# "NAME: N passed, N failed", or "NAME: skipped: WHY" when it cannot run
# here; a check that cannot run writes its line to $DOCK_TEST_SKIPS.
run_counted() {  # NAME SCRIPT
  local name=$1 log last
  echo "== $name tests"
  log=$(mktemp)
  DOCK_TEST_SKIPS=$skips "$2" >"$log" 2>&1
  cat "$log"
  last=$(tail -n 1 "$log")
  if [[ $last =~ ^$name:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
  elif [[ $last =~ ^$name:\ skipped:\ (.*) ]]; then
    echo "$name tests: ${BASH_REMATCH[1]}" >>"$skips"
  else
    failed=$((failed + 1))  # it stopped without its summary
  fi
  rm -f "$log"
}

# Docker: dock as a container's ENTRYPOINT, and as the daemon's --init.
if ! command -v docker >/dev/null 2>&1; then
  echo "docker tests: no docker command" >>"$skips"
elif ! docker info >/dev/null 2>&1; then
  echo "docker tests: no Docker engine answers (docker info failed)" >>"$skips"
else
  run_counted docker scripts/docker-test.sh
fi
# The release artefacts: make dist for x86_64 and aarch64, the aarch64
# builds under qemu, make install with the manual page, clang++.
run_counted dist scripts/dist-test.sh
# README's examples: the runnable ones run, the options of all of them exist.
run_counted readme scripts/readme-test.sh
# Podman: --init and --sdnotify=container.
run_counted podman scripts/podman-test.sh

print_summary
