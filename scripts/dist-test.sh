#!/bin/bash
# The release artefacts: `make dist` builds dock, dock-static (musl) and
# dock-static-tls for x86_64 and aarch64; SHA256SUMS must match them,
# `file` must name each one's architecture and linkage, and `--version`
# must say the same. The aarch64
# builds then run a smoke test under qemu-aarch64-static (exit status,
# death by a signal, a forwarded SIGTERM, --notify's READY=1, as PID 1),
# make install puts the manual page made from the option table beside
# dock, and clang++ compiles the source warning-free.
# Prints one "ok"/"FAIL" line per check and ends with
# "dist: N passed, N failed", or "dist: skipped: WHY".
set -u
cd "$(dirname "$0")/.."

. scripts/checks.sh
skip() { echo "dist: skipped: $*"; exit 0; }

command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || skip "no aarch64-linux-gnu-g++ (scripts/install-deps.sh installs it)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make -s dist >"$log" 2>&1; then
  grep -v 'statically linked applications' "$log" | tail -n 5
  echo "FAIL make dist"; echo "dist: 0 passed, 1 failed"; exit 1
fi
version=$(make -s --no-print-directory version)

check "SHA256SUMS matches the six artefacts" bash -c 'cd dist && sha256sum --quiet -c SHA256SUMS && [ "$(wc -l <SHA256SUMS)" = 6 ]'
# What `file` says, and the architecture and linkage --version must name.
declare -A file_says=([x86_64]="x86-64" [aarch64]="ARM aarch64")
declare -A build_says=([dynamic]="dynamic, libssl.so.3" [static]="static (musl), zlib linked in, no TLS"
                       [static-tls]="static, OpenSSL and zlib linked in")
for arch in x86_64 aarch64; do
  for kind in dynamic static static-tls; do
    name=dock-$version-$arch
    [ "$kind" = dynamic ] || name=dock-$kind-$version-$arch
    f=dist/$name
    linkage="dynamically linked"
    [ "$kind" = dynamic ] || linkage="statically linked"
    desc=$(file -b "$f")
    check "$name: file says ${file_says[$arch]}, $linkage" \
      bash -c '[[ $1 == *"$2"* && $1 == *"$3"* ]]' _ "$desc" "${file_says[$arch]}" "$linkage"
    run=("$f")
    if [ "$arch" = aarch64 ]; then
      command -v qemu-aarch64-static >/dev/null 2>&1 || { echo "skip $name: no qemu-aarch64-static"; continue; }
      run=(qemu-aarch64-static -L /usr/aarch64-linux-gnu "$f")
    fi
    v=$("${run[@]}" --version 2>&1)
    check "$name --version: 'dock version $version', then build: $arch, ${build_says[$kind]}" \
      bash -c '[[ $(head -n 1 <<<"$1") == "dock version $2" && $(sed -n 2p <<<"$1") == "build: $3, $4"* ]]' _ "$v" "$version" "$arch" "${build_says[$kind]}"
    [ "$arch" = aarch64 ] || continue

    # --- under emulation, as PID 1 of a new pid namespace (qemu-user does
    # not implement PR_SET_CHILD_SUBREAPER, so not as a subreaper) ---------
    pid1=(unshare --pid --fork --mount-proc "${run[@]}")
    "${pid1[@]}" -- sh -c 'exit 3'
    check "$name under qemu: the command's exit status (3)" test $? = 3
    "${pid1[@]}" -- sh -c 'kill -USR1 $$'
    check "$name under qemu: 128+N when a signal killed it" test $? = $((128 + 10))
    out=$(mktemp)
    "${pid1[@]}" -- sh -c 'trap "echo got TERM; exit 7" TERM; echo up; while :; do sleep 1 & wait; done' >"$out" &
    started=$!
    timeout 20 tail -f "$out" 2>/dev/null | grep -q -m1 up
    inner=$(pgrep -P "$started" | head -n 1)
    kill -TERM "$inner"
    wait "$started"; status=$?
    check "$name under qemu: SIGTERM reaches the command (status $status)" \
      bash -c '[ "$1" = 7 ] && grep -q "got TERM" "$2"' _ "$status" "$out"
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    "${pid1[@]}" -d --notify -- ./tests/helper notify <"$fifo" >"$out" 2>&1 &
    started=$!
    exec 3>"$fifo"
    echo "send READY=1" >&3
    timeout 20 tail -f "$out" 2>/dev/null | grep -q -m1 'debug: ready'
    check "$name under qemu: --notify's READY=1 makes dock ready" grep -q 'debug: ready' "$out"
    echo "exit 0" >&3
    exec 3>&-
    wait "$started"
    check "$name under qemu: ... and the command's status after it (0)" test $? = 0
    rm -f "$fifo"
    rm -f "$out"
  done
done

# make install: the binary and the manual page, made from the option
# table; man renders it without a warning and it names every option of --help.
dest=$(mktemp -d)
if make -s install DESTDIR="$dest" PREFIX=/usr >/dev/null 2>&1; then
  check "make install: bin/dock and share/man/man1/dock.1" test -x "$dest/usr/bin/dock" -a -f "$dest/usr/share/man/man1/dock.1"
  if command -v man >/dev/null 2>&1; then
    page=$(MANWIDTH=100 man --warnings -l "$dest/usr/share/man/man1/dock.1" 2>"$dest/man.err")
    check "dock.1 renders without a warning" test ! -s "$dest/man.err"
    missing=$(./dock --help | grep -o -- '--[a-z][a-z-]*' | sort -u | while read -r flag; do
      grep -qE -- "$flag([^a-z-]|\$)" <<<"$page" || echo "$flag"; done)
    check "dock.1 names every option of --help${missing:+ (missing: $missing)}" test -z "$missing"
  else
    echo "skip dock.1 rendering: no man"
  fi
else
  check "make install DESTDIR=..." false
fi
rm -rf "$dest"

# A second compiler: Debian's clang, the same warnings, -Werror.
if command -v clang++ >/dev/null 2>&1; then
  check "clang++ compiles dock.cpp warning-free under -Werror (dynamic, musl, static-tls)" make -s clang-check
else
  echo "skip clang-check: no clang++"
fi

echo "dist: $passed passed, $failed failed"
