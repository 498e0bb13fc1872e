#!/bin/bash
# End-to-end tests of dock as a container's ENTRYPOINT, with real
# `docker run`, `docker stop`, `docker kill` and `docker exec`. Prints one
# "ok"/"FAIL" line per check and ends with "docker: N passed, N failed".
# Every wait is for an event (a log line, an exit) under `timeout`.
set -u
cd "$(dirname "$0")/.."

image=dock-test:latest
passed=0 failed=0
containers=()
ctx=$(mktemp -d)
cleanup() {
  [ ${#containers[@]} -gt 0 ] && docker rm -f "${containers[@]}" >/dev/null 2>&1
  rm -rf "$ctx"
}
trap cleanup EXIT

check() {  # NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1))
  else echo "FAIL $name"; failed=$((failed + 1)); fi
}

# Waits (at most 20 s) until the container's log holds a line matching $2.
log_has() { timeout 20 docker logs -f "$1" 2>&1 | grep -q -m1 -- "$2"; }
exit_code_of() { docker inspect -f '{{.State.ExitCode}}' "$1"; }
ms() { date +%s%3N; }
run_d() {  # [docker run options...] -- command...: starts a container, prints its id
  local id
  id=$(docker run -d "$@") || return 1
  containers+=("$id")
  echo "$id"
}

# --- the image ---------------------------------------------------------
[ -x ./dock-static ] || make dock-static >/dev/null
busybox=$(command -v busybox) || { echo "busybox-static is needed"; exit 1; }
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/run"
cp ./dock-static "$ctx/rootfs/dock"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$applet"
done
cp Dockerfile.test "$ctx/Dockerfile"
if ! docker build -q -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log"; then
  cat "$ctx/build.log"
  echo "FAIL docker build"; echo "docker: 0 passed, 1 failed"; exit 1
fi

# --- 1. docker stop: the command's SIGTERM, at once ----------------------
c=$(run_d "$image" sleep 1000)
start=$(ms); docker stop -t 10 "$c" >/dev/null; with_dock=$(( $(ms) - start ))
check "docker stop with dock returns within 2 s (${with_dock} ms)" test "$with_dock" -lt 2000
check "docker inspect shows the command's status 143" test "$(exit_code_of "$c")" = 143
c=$(run_d --entrypoint /bin/sleep "$image" 1000)
start=$(ms); docker stop -t 5 "$c" >/dev/null; without=$(( $(ms) - start ))
echo "     (the same without dock, sleep as PID 1 ignoring SIGTERM: ${without} ms, docker stop -t 5)"
check "without dock docker stop needs the SIGKILL (${without} ms)" test "$without" -ge 4500

# --- 2. orphans are reaped: no zombies accumulate ------------------------
c=$(run_d "$image" sh -c 'echo started; while :; do sh -c "sleep 0.01 & exit 0"; usleep 2000; done')
log_has "$c" started
zombies_max=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
  z=$(docker exec "$c" ps -o stat | grep -c '^Z')
  [ "$z" -gt "$zombies_max" ] && zombies_max=$z
  docker exec "$c" usleep 100000
done
check "orphans reaped: at most 2 zombies seen at a time (max $zombies_max)" test "$zombies_max" -le 2
docker rm -f "$c" >/dev/null

# --- 3. docker kill -s HUP / USR1; --rewrite TERM:QUIT -------------------
loop='while :; do sleep 1000 & wait $!; done'
c=$(run_d "$image" sh -c "trap 'echo got-HUP' HUP; trap 'echo got-USR1' USR1; echo ready; $loop")
log_has "$c" ready
docker kill -s HUP "$c" >/dev/null
check "docker kill -s HUP reaches the command" log_has "$c" got-HUP
docker kill -s USR1 "$c" >/dev/null
check "docker kill -s USR1 reaches the command" log_has "$c" got-USR1
docker rm -f "$c" >/dev/null
c=$(run_d -e DOCK_REWRITE=TERM:QUIT "$image" sh -c "trap 'echo got-QUIT; exit 0' QUIT; trap 'echo got-TERM; exit 9' TERM; echo ready; $loop")
log_has "$c" ready
docker stop -t 10 "$c" >/dev/null
check "--rewrite TERM:QUIT: docker stop delivers SIGQUIT" log_has "$c" got-QUIT
check "--rewrite TERM:QUIT: the command's exit status (0)" test "$(exit_code_of "$c")" = 0

# --- 5. HEALTHCHECK on --ready-file, made only once --bind-port listens ----
label="dock-test-health=$$"
events="$ctx/health-events"
timeout 40 docker events --filter "label=$label" --filter event=health_status --format '{{.Action}}' >"$events" 2>/dev/null &
events_pid=$!
c=$(run_d --label "$label" -e DOCK_BIND_PORT=8080 -e DOCK_READY_FILE=/run/dock.ready \
  --health-cmd 'test -f /run/dock.ready' --health-interval 1s --health-retries 1 \
  "$image" sh -c 'echo waiting; sleep 3; echo listening; exec nc -l -p 8080')
timeout 30 tail -f "$events" 2>/dev/null | grep -q -m1 'health_status: healthy'
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
check "HEALTHCHECK: unhealthy while the command has not listened, then healthy" \
  test "$(grep -o 'health_status: [a-z]*' "$events" | uniq | tr '\n' ' ')" = "health_status: unhealthy health_status: healthy "
check "HEALTHCHECK: docker inspect says healthy" test "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy
docker stop -t 10 "$c" >/dev/null
check "--ready-file is gone after the command ended" test -z "$(docker diff "$c" | grep dock.ready)"

# --- 8. exit codes through docker run ------------------------------------
for want in 0 3; do
  docker run --rm "$image" sh -c "exit $want" >/dev/null 2>&1
  got=$?
  check "docker run exit code $want" test "$got" = "$want"
done
docker run --rm "$image" sh -c 'kill -KILL $$' >/dev/null 2>&1
got=$?
check "docker run exit code 137 for a command killed by SIGKILL" test "$got" = 137
docker run --rm "$image" /nonexistent >/dev/null 2>&1
got=$?
check "docker run exit code 127 for a command not found" test "$got" = 127

echo "docker: $passed passed, $failed failed"
[ "$failed" = 0 ]
