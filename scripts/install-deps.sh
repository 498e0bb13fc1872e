#!/bin/sh
# Installs, with apt-get, every package that building and testing dock
# needs and that this machine lacks. Safe to run again: it installs nothing
# when everything is there. Used by `make test` and so by .ci/run.
# `install-deps.sh bench` also installs the inits scripts/bench.sh
# measures dock against.
set -eu

# package            why
packages="
g++                  # builds dock and the tests
make                 # runs the build
catch2               # unit and behaviour tests (catch2/catch.hpp)
util-linux           # unshare: dock as PID 1 of a new pid namespace
bash                 # the interactive job-control test drives a real bash
procps               # ps, used when a test fails to show what is running
iproute2             # ip netns: a name server that never answers, in a namespace of the test's own
strace               # holds dock in a system call (review 13: the parent dies before --pdeath-signal is set)
socat                # TCP, TCP over IPv6, unix socket and TLS peers for --io
busybox-static       # the tools inside the Docker test image (Dockerfile.test)
runit                # runsvdir and runsv, copied into the Docker test image
expect               # drives docker run -it through a pty in the Docker tests
musl-tools           # musl's headers, libc.a and start files: ./dock-static (make static)
dpkg-dev             # ... dpkg-source unpacks Debian's zlib source for it (scripts/zlib-source.sh)
libssl-dev           # OpenSSL 3, linked into dock-static-tls (./dock loads libssl.so.3)
openssl              # makes the test CA and certificates
zlib1g-dev           # zlib, linked into dock-static-tls (./dock loads libz.so.1)
gzip                 # zcat reads the rotated archives back in the tests
clang                # libFuzzer targets (make fuzz)
libclang-rt-14-dev   # ... and their runtimes: libFuzzer, ASan, UBSan for clang 14
valgrind             # memcheck of the core scenarios (scripts/valgrind-check.sh)
podman               # podman run --init and --sdnotify=container with dock (scripts/podman-test.sh)
catatonit            # ... podman kube play's pause container; also a peer of scripts/bench.sh
curl                 # ... Podman turns an httpGet probe into curl inside the container
rsyslog              # a real syslog daemon as the peer of --log-to syslog+tcp:// (behaviour_collectors)
rsyslog-gnutls       # ... and of syslog+tls:// (RFC 5425)
g++-aarch64-linux-gnu  # the aarch64 builds of make dist
libssl-dev:arm64     # ... OpenSSL and zlib for the aarch64 dock-static-tls (Debian multiarch)
zlib1g-dev:arm64
musl-dev:arm64       # ... musl for the aarch64 dock-static
qemu-user-static     # runs the aarch64 builds in the tests (qemu-aarch64-static)
"

if [ "${1:-}" = bench ]; then
  packages="$packages
tini                 # the peers of scripts/bench.sh (tini and tini-static)
dumb-init
"
fi

missing=""
for pkg in $(printf '%s\n' "$packages" | sed 's/#.*//'); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: not root; run: sudo apt-get install$missing" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The :arm64 packages need the architecture known to dpkg first.
case $missing in *:arm64*)
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 ;;
esac
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1 ||
  apt-get install -y --no-install-recommends $missing
