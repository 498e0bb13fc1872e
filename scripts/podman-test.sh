#!/bin/bash
# dock with real Podman (Debian's package): as the init of `podman run
# --init --init-path`, and inside `podman run --sdnotify=container` with
# --notify. The image is made here with `podman import` from a root file
# system of dock-static, the static test helper and busybox: nothing is
# pulled. Podman keeps its storage (vfs) under a temporary directory.
# Prints one "ok"/"FAIL" line per check and ends with
# "podman: N passed, N failed", or "podman: skipped: WHY" when Podman cannot
# run containers on this machine.
set -u
trap "" PIPE  # a container that ended early: a write to its stdin fails, the checks say so
cd "$(dirname "$0")/.."

. scripts/checks.sh
ctx=$(mktemp -d)
# Its own storage, and the rlimits set explicitly: Podman's defaults
# (nofile 1048576) are above what a sandboxed machine may grant.
podman=(podman --root "$ctx/storage" --runroot "$ctx/runroot" --storage-driver vfs)
run_opts=(--network none --ulimit nofile=1024:1024 --ulimit nproc=4096:4096)
cleanup() {
  "${podman[@]}" rm -af -t 0 >/dev/null 2>&1
  [ -n "${receiver:-}" ] && kill "$receiver" 2>/dev/null
  exec 3>&- 2>/dev/null
  "${podman[@]}" system reset -f >/dev/null 2>&1  # unmounts what vfs holds
  rm -rf "$ctx"
}
trap cleanup EXIT

skip() { echo "podman: skipped: $*"; exit 0; }
# Waits (at most $3 s, default 20) until the file $1 holds a match of $2.
file_has() {
  timeout "${3:-20}" tail -c +1 -F "$1" 2>/dev/null | grep -q -m1 -a -- "$2"
}
# Waits (at most 20 s) until container $1's log holds a line matching $2;
# the follower is stopped at the match.
logs_have() {
  local fd follower found=1
  exec {fd}< <(exec timeout 20 "${podman[@]}" logs -f "$1" 2>&1)
  follower=$!
  grep -q -m1 -- "$2" <&"$fd" && found=0
  kill "$follower" 2>/dev/null
  exec {fd}<&-
  return "$found"
}
ms() { date +%s%3N; }

command -v podman >/dev/null 2>&1 || skip "no podman command (scripts/install-deps.sh installs it)"
dock_static=${DOCK_STATIC:-./dock-static}  # another build: to show a check fails without it
[ -x "$dock_static" ] || make dock-static >/dev/null 2>&1
[ -x ./tests/helper-static ] || make tests/helper-static >/dev/null 2>&1

# --- the image --------------------------------------------------------------
root="$ctx/rootfs"
mkdir -p "$root/bin" "$root/run" "$root/tmp" "$root/etc"
cp "$dock_static" "$root/dock"
cp ./tests/helper-static "$root/bin/helper"
busybox=$(command -v busybox) || skip "busybox-static is needed for the image"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
image=localhost/dock-podman-test:latest
if ! tar -C "$root" -c . | "${podman[@]}" import --change 'ENV PATH=/bin' - "$image" >"$ctx/import.log" 2>&1; then
  skip "podman import: $(tail -n 1 "$ctx/import.log")"
fi
if ! out=$("${podman[@]}" run --rm "${run_opts[@]}" "$image" echo probe 2>&1) || [ "$out" != probe ]; then
  skip "podman run cannot start a container here: $(printf '%s' "$out" | tail -n 1)"
fi

# --- 1. podman run --init --init-path ./dock-static -------------------------
out=$("${podman[@]}" run --rm "${run_opts[@]}" --init --init-path "$(realpath "$dock_static")" "$image" \
  sh -c 'tr "\0" " " </proc/1/cmdline; echo; /run/podman-init --version | head -n 1')
check "--init: PID 1 is the init Podman was given, called as INIT -- COMMAND" \
  grep -q '^/run/podman-init -- sh -c ' <<<"$out"
check "--init: that init is dock" grep -q '^dock version ' <<<"$out"

c=$("${podman[@]}" run -d -i "${run_opts[@]}" --init --init-path "$(realpath "$dock_static")" "$image" helper orphans 200)
logs_have "$c" "made 200"
zombies=1
for _ in $(seq 50); do  # the orphans' exits are reaped within moments; look for up to 5 s
  stats=$("${podman[@]}" exec "$c" ps -o stat) || break
  zombies=$(grep -c '^Z' <<<"$stats")
  [ "$zombies" = 0 ] && break
  sleep 0.1
done
check "--init: 200 orphans are reaped (zombies left: $zombies)" test "$zombies" = 0 -a -n "${stats:-}"

trap_term='trap "echo got TERM; exit 7" TERM; echo up; while :; do sleep 1000 & wait; done'
c=$("${podman[@]}" run -d "${run_opts[@]}" --init --init-path "$(realpath "$dock_static")" "$image" sh -c "$trap_term")
logs_have "$c" "^up"
start=$(ms); "${podman[@]}" stop -t 10 "$c" >/dev/null; took=$(( $(ms) - start ))
check "--init: podman stop's SIGTERM reaches the command, which ends at once (${took} ms)" test "$took" -lt 3000
check "--init: the command saw SIGTERM" grep -q 'got TERM' <("${podman[@]}" logs "$c" 2>&1)
check "--init: podman inspect shows the command's status" \
  test "$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$c")" = 7
"${podman[@]}" rm -f "$c" >/dev/null 2>&1

# --- 2. podman run --sdnotify=container -------------------------------------
# The test holds the NOTIFY_SOCKET Podman is given, as systemd would.
sock="$ctx/notify.sock" received="$ctx/received"
: >"$received"
./tests/helper-static notify-listen "$sock" >>"$received" &
receiver=$!
file_has "$received" "^listening"

# Without --notify dock is ready at once: READY=1 with no word from the command.
mkfifo "$ctx/in" && out_log="$ctx/out-plain"
NOTIFY_SOCKET=$sock "${podman[@]}" run --rm -i "${run_opts[@]}" --sdnotify=container "$image" \
  /dock -- helper notify <"$ctx/in" >"$out_log" 2>&1 &
podman_run=$!
exec 3>"$ctx/in"
file_has "$out_log" "ready notify"
check "--sdnotify=container, no --notify: READY=1 from dock at once" file_has "$received" "READY=1" 10
check "--sdnotify=container: the command does not see NOTIFY_SOCKET" grep -q 'NOTIFY_SOCKET=unset' "$out_log"
echo "exit 0" >&3; exec 3>&-
wait "$podman_run"

# With --notify: READY=1 only after the command says so.
: >"$received"  # the receiver appends: a fresh start
out_log="$ctx/out-notify"
NOTIFY_SOCKET=$sock "${podman[@]}" run --rm -i "${run_opts[@]}" --sdnotify=container "$image" \
  /dock --notify -- helper notify <"$ctx/in" >"$out_log" 2>&1 &
podman_run=$!
exec 3>"$ctx/in"
file_has "$out_log" "ready notify"
check "--sdnotify=container, --notify: the command gets dock's socket" grep -q 'NOTIFY_SOCKET=@' "$out_log"
# An observation window, not a synchronisation: nothing may arrive in it.
sleep 1
check "--sdnotify=container, --notify: no READY=1 while the command has not said it" \
  bash -c "! grep -q -a READY=1 '$received'"
said=$(ms)
echo "send READY=1" >&3
file_has "$received" "READY=1" 10; got=$(ms)
check "--sdnotify=container, --notify: READY=1 reaches Podman's socket after the command's ($(( got - said )) ms)" \
  grep -q -a 'READY=1' "$received"
echo "exit 0" >&3; exec 3>&-
wait "$podman_run"
check "--sdnotify=container: podman run ends with the command's status" test $? = 0

# --- 3. the README's Kubernetes Pods, as written, under podman kube play ----
# Every ```yaml kube block of README.md is a whole Pod. The image it names,
# registry.example/web:1.4, is made here: dock (also as /bin/dock, for an
# ENTRYPOINT ["dock", "--"]), the helper as /web (`/web --port 8080`
# listens until a signal), busybox for Podman's CMD-SHELL health checks,
# curl with its libraries for the httpGet probes Podman turns into curl,
# and /run mode 1777. kube play takes no --ulimit: a containers.conf of the
# test's own gives the limits.
kube_root="$ctx/kube-root"
cp -a "$root" "$kube_root"
chmod 1777 "$kube_root/run"
cp "$kube_root/bin/helper" "$kube_root/web"
ln -s ../dock "$kube_root/bin/dock"
curl_bin=$(command -v curl) || skip "curl is needed for the httpGet probes (scripts/install-deps.sh installs it)"
cp "$curl_bin" "$kube_root/bin/curl"
for lib in $(ldd "$curl_bin" | grep -o '/[^ ]*'); do
  mkdir -p "$kube_root$(dirname "$lib")"
  cp -L "$lib" "$kube_root$lib"
done
tar -C "$kube_root" -c . | "${podman[@]}" import --change 'ENV PATH=/bin' --change 'ENTRYPOINT ["dock", "--"]' \
  --change 'CMD ["/web", "--port", "8080"]' - registry.example/web:1.4 >/dev/null 2>&1
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n' >"$ctx/containers.conf"
export CONTAINERS_CONF="$ctx/containers.conf"
awk -v dir="$ctx" '/^```yaml kube/ { n++; f = dir "/pod-" n ".yaml"; printf "" > f; print NR > (f ".line"); next }
                   /^```/ { f = "" } f { print > f }' README.md
pods=0
for pod in "$ctx"/pod-*.yaml; do
  [ -e "$pod" ] || break
  pods=$((pods + 1))
  at="README Pod at line $(cat "$pod.line")"
  name=$(sed -n 's/^metadata: {name: \([a-z0-9-]*\)}$/\1/p' "$pod")
  container="$name-$(sed -n 's/^  - name: \([a-z0-9-]*\)$/\1/p' "$pod" | head -n 1)"
  delay=$(grep -o -E '(stop-delay", "|DOCK_STOP_DELAY, value: )[0-9]+s' "$pod" | grep -o -E '[0-9]+s$' | tr -d s)
  check "$at: podman kube play starts it" \
    bash -c '"${@:2}" kube play --network none "$1" >/dev/null 2>"$1.log"' _ "$pod" "${podman[@]}"
  # Podman's health check is the livenessProbe; there is no event for it
  # turning healthy, so it is asked a few times a second, for 10 s at most.
  healthy=1
  for _ in $(seq 50); do
    "${podman[@]}" healthcheck run "$container" >/dev/null 2>&1 && { healthy=0; break; }
    sleep 0.2
  done
  check "$at: its livenessProbe turns healthy ($(sed -n 's/^ *\(exec\|httpGet\): .*/\1/p' "$pod" | tail -n 1))" test "$healthy" = 0
  if grep -q 'httpGet: {path: /ready' "$pod"; then
    out=$("${podman[@]}" exec "$container" curl -s -f http://localhost:8081/ready 2>&1)
    check "$at: its readinessProbe's GET /ready answers 200 in the pod ($out)" test "$out" = ready
  fi
  start=$(ms); "${podman[@]}" pod stop "$name" >/dev/null 2>&1; took=$(( $(ms) - start ))
  status=$("${podman[@]}" inspect -f '{{.State.ExitCode}}' "$container" 2>/dev/null)
  check "$at: podman pod stop: SIGTERM after --stop-delay ${delay:-0}s, status 143 ($took ms, $status)" \
    test "$status" = 143 -a "$took" -ge "$(( ${delay:-0} * 1000 - 100 ))" -a "$took" -lt "$(( ${delay:-0} * 1000 + 4000 ))"
  "${podman[@]}" kube down "$pod" >/dev/null 2>&1
done
check "every README Kubernetes Pod ran ($pods)" test "$pods" -ge 3

echo "podman: $passed passed, $failed failed"
