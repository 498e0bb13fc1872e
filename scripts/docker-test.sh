#!/bin/bash
# End-to-end tests of dock as a container's ENTRYPOINT, with real
# `docker run`, `docker stop`, `docker kill` and `docker exec`. Prints one
# "ok"/"FAIL" line per check and ends with "docker: N passed, N failed".
# Every wait is for an event (a log line, an exit) under `timeout`.
set -u
cd "$(dirname "$0")/.."

image=dock-test:latest
. scripts/checks.sh
ctx=$(mktemp -d)
# The ids of the containers started, one a line: run_d runs in $(...), a
# subshell, so a shell variable would not reach cleanup.
cleanup() {
  [ -s "$ctx/containers" ] && xargs docker rm -f <"$ctx/containers" >/dev/null 2>&1
  [ -n "${second:-}" ] && { docker -H "unix://$second_dir/sock" rm -f $(docker -H "unix://$second_dir/sock" ps -aq) >/dev/null 2>&1
                            kill "$second"; wait "$second"; }
  [ -n "${bridge:-}" ] && ip link del "$bridge" 2>/dev/null
  [ -n "${second_dir:-}" ] && rm -rf "$second_dir"
  [ -n "${net:-}" ] && docker network rm "$net" >/dev/null 2>&1
  rm -rf "$ctx"
}
trap cleanup EXIT

# A check that cannot run on this machine: one line why, for the summary.
skip() {
  echo "skip $*"
  [ -n "$skips_file" ] && echo "docker tests: $*" >>"$skips_file"
}


# Waits (at most 20 s) until the container's log holds a line matching $2.
# The log follower is stopped at the match (in a pipeline bash would wait
# for it until the container wrote again).
log_has() {
  local fd follower found=1
  exec {fd}< <(exec timeout 20 docker logs -f "$1" 2>&1)
  follower=$!
  grep -q -m1 -- "$2" <&"$fd" && found=0
  kill "$follower" 2>/dev/null
  exec {fd}<&-
  return "$found"
}
exit_code_of() { docker inspect -f '{{.State.ExitCode}}' "$1"; }
ms() { date +%s%3N; }
run_d() {  # [docker run options...] -- command...: starts a container, prints its id
  local id
  id=$(docker run -d "$@") || return 1
  echo "$id" >>"$ctx/containers"
  echo "$id"
}

# A container ready by --bind-port 8080 and --ready-file, with a HEALTHCHECK
# on the ready file; waits (30 s at most) until Docker says healthy. Sets
# c (its id) and events (a file of the health events seen).
run_healthchecked() {  # NAME IMAGE COMMAND...
  local label="dock-test-$1=$$" events_pid
  events="$ctx/$1-events"
  shift
  timeout 40 docker events --filter "label=$label" --filter event=health_status --format '{{.Action}}' >"$events" 2>/dev/null &
  events_pid=$!
  c=$(run_d --label "$label" -e DOCK_BIND_PORT=8080 -e DOCK_READY_FILE=/run/dock.ready \
    --health-cmd 'test -f /run/dock.ready' --health-interval 1s --health-retries 1 "$@")
  timeout 30 tail -f "$events" 2>/dev/null | grep -q -m1 'health_status: healthy'
  kill "$events_pid" 2>/dev/null
  wait "$events_pid" 2>/dev/null
}

# --- the image ---------------------------------------------------------
[ -x ./dock-static ] || make dock-static >/dev/null
[ -x ./tests/helper-static ] || make tests/helper-static >/dev/null
busybox=$(command -v busybox) || { echo "busybox-static is needed"; exit 1; }
mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/run" "$ctx/rootfs/etc"
# A user for services that drop root (test 10).
# A named user with a supplementary group, and a config template (test 11).
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' \
  >"$ctx/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\naudio:x:29:app\n' >"$ctx/rootfs/etc/group"
printf 'greeting={{GREETING}} port={{PORT:-8080}} secret={{DB_PASSWORD}} $host\n' >"$ctx/rootfs/etc/app.conf.in"
cp ./dock-static "$ctx/rootfs/dock"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$ctx/rootfs/bin/$applet"
done
# Debian's runit (test 7), with the libraries ldd lists for it.
for tool in runsvdir runsv sv chpst; do
  bin=$(command -v "$tool") || { echo "runit is needed"; exit 1; }
  cp "$bin" "$ctx/rootfs/bin/$tool"
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
  done
done
# Two runit services that say when they start and when SIGTERM reaches them.
for svc in alpha beta; do
  mkdir -p "$ctx/rootfs/etc/service/$svc"
  cat >"$ctx/rootfs/etc/service/$svc/run" <<RUN
#!/bin/sh
trap 'trap "" TERM; echo "$svc: got TERM"; exit 0' TERM
echo "$svc: up"
while :; do sleep 1000 & wait; done
RUN
  chmod +x "$ctx/rootfs/etc/service/$svc/run"
done
# The seed's multi-service case by composition (test 12): a setup program,
# and two services that drop to users of their own with runit's chpst.
mkdir -p "$ctx/rootfs/etc/setup.d"
printf '#!/bin/sh\necho prepared >/tmp/setup-done\n' >"$ctx/rootfs/etc/setup.d/10-prepare"
chmod +x "$ctx/rootfs/etc/setup.d/10-prepare"
for svc in gamma:app delta:nobody; do
  name=${svc%%:*} user=${svc#*:}
  mkdir -p "$ctx/rootfs/etc/service-users/$name"
  cat >"$ctx/rootfs/etc/service-users/$name/run" <<RUN
#!/bin/sh
exec chpst -u $user /bin/sh -c 'trap "echo $name: got TERM as \\\$(id -u); exit 0" TERM
echo "$name: up as \$(id -u) after \$(cat /tmp/setup-done)"
while :; do sleep 1000 & wait; done'
RUN
  chmod +x "$ctx/rootfs/etc/service-users/$name/run"
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
orphans='echo started; while :; do sh -c "sleep 0.01 & exit 0"; usleep 2000; done'
c=$(run_d "$image" sh -c "$orphans")
log_has "$c" started
zombies_max=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
  z=$(docker exec "$c" ps -o stat | grep -c '^Z')
  [ "$z" -gt "$zombies_max" ] && zombies_max=$z
  docker exec "$c" usleep 100000
done
check "orphans reaped: at most 2 zombies seen at a time (max $zombies_max)" test "$zombies_max" -le 2
docker rm -f "$c" >/dev/null
# The same with a PID 1 that never reaps (sleep, exec'd by the shell that
# started the orphan maker): zombies pile up.
c=$(run_d --entrypoint /bin/sh "$image" -c "sh -c '$orphans' & exec sleep 1000")
log_has "$c" started
docker exec "$c" usleep 500000
piled=$(docker exec "$c" ps -o stat | grep -c '^Z')
check "without dock (sleep as PID 1) zombies pile up ($piled after 0.5 s)" test "$piled" -gt 10
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

# --- 4. docker run -it: a shell with its terminal ------------------------
# expect drives `docker run -it` through a pty, as a user at a terminal
# would. Each step waits (at most 20 s) for the shell's answer; the
# script prints what it saw, and the checks below read that.
cat >"$ctx/interactive.exp" <<'EXP'
set timeout 20
log_user 0
proc step {pattern what} {
  expect {
    -re $pattern { return $expect_out(buffer) }
    "job control turned off" { puts "no-job-control"; exit 1 }
    timeout { puts "timeout: $what"; exit 1 }
    eof { puts "eof: $what"; exit 1 }
  }
}
spawn docker run -it --rm [lindex $argv 0] sh
step {# } "the first prompt"
send "tty; : </dev/tty && echo ctty-\$((1+1))\r"
if {[regexp {(/dev/pts/[0-9]+)\r\n} [step {ctty-2\r\n} "the terminal"] -> tty]} { puts "tty $tty" }
send "sh -c 'echo nap-\$((2+2)); exec sleep 100'\r"
step {nap-4\r\n} "the foreground sleep"
set start [clock milliseconds]
send "\003"
step {# } "the prompt after Ctrl-C"
puts "interrupted-in [expr {[clock milliseconds] - $start}]"
send "echo status=\$? alive-\$((40+2))\r"
set seen [step {status=[0-9]+ alive-42\r\n} "the shell after Ctrl-C"]
regexp {status=([0-9]+) alive-42} $seen -> status
puts "sleep-status $status"
send "exit 3\r"
expect {
  eof {}
  timeout { puts "timeout: exit 3"; exit 1 }
}
lassign [wait] pid spawn_id os_error code
puts "exit $code"
EXP
session=$(expect "$ctx/interactive.exp" "$image" 2>&1)
said() { printf '%s\n' "$session" | sed -n "s/^$1 //p" | tr -d '\r'; }
check "docker run -it: the shell has a controlling terminal ($(said tty); /dev/tty opens)" \
  test -n "$(said tty)"
check "docker run -it: Ctrl-C ends the foreground sleep ($(said interrupted-in) ms, status $(said sleep-status))" \
  test "$(said sleep-status)" = 130
check "docker run -it: the shell survives Ctrl-C and exit 3 gives 3" test "$(said exit)" = 3
[ "$(said exit)" = 3 ] || printf '%s\n' "$session"

# --- 5. HEALTHCHECK on --ready-file, made only once --bind-port listens ----
run_healthchecked health "$image" sh -c 'echo waiting; sleep 3; echo listening; exec nc -l -p 8080'
check "HEALTHCHECK: unhealthy while the command has not listened, then healthy" \
  test "$(grep -o 'health_status: [a-z]*' "$events" | uniq | tr '\n' ' ')" = "health_status: unhealthy health_status: healthy "
check "HEALTHCHECK: docker inspect says healthy" test "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy
docker stop -t 10 "$c" >/dev/null
check "--ready-file is gone after the command ended" test -z "$(docker diff "$c" | grep dock.ready)"

# --- 6. --io file on a volume with --log-rotate: archives on the host -----
# The command writes numbered lines through stdio buffers (so lines split
# across writes) into a file on a bind-mounted volume that dock rotates
# at 16 KiB. Read back on the host, archives (oldest first) and then the
# live file must hold 1..N exactly once, in order.
logs="$ctx/logs"
mkdir -p "$logs"
# Written in 20 bursts over about a second, so that the compressor has
# time to gzip archives while the command runs.
lines=40000
docker run --rm -v "$logs:/logs" -e DOCK_IO=/logs/app.log -e DOCK_LOG_MAX_SIZE=16k -e DOCK_LOG_KEEP=1000 \
  -e DOCK_STDOUT_PREFIX='out: ' "$image" \
  sh -c 'for i in $(seq 0 19); do seq $((i * 2000 + 1)) $((i * 2000 + 2000)); usleep 50000; done' \
  >/dev/null 2>"$ctx/rotate.err"
rotate_status=$?
# Archive names: app.log_STAMP[-N][.gz]; oldest first is (STAMP, N) order.
archives=$(cd "$logs" && ls | sed -n 's/^app\.log_\([0-9-]*\)\(\.gz\)\{0,1\}$/\1/p' |
  sort -u -t- -k1,1n -k2,2n | sed 's/^/app.log_/')
{
  for a in $archives; do
    if [ -e "$logs/$a.gz" ]; then zcat "$logs/$a.gz"; else cat "$logs/$a"; fi
  done
  cat "$logs/app.log"
} >"$ctx/read-back"
check "--io file with rotation on a volume: dock exits 0 (status $rotate_status)" test "$rotate_status" = 0
check "--io file with rotation: archives on the host ($(echo "$archives" | wc -w), $(ls "$logs" | grep -c '\.gz$') gzipped)" \
  test "$(ls "$logs" | grep -c '\.gz$')" -ge 2
check "--io file with rotation: archives + live file = lines 1..$lines, each once, with the prefix" \
  cmp -s "$ctx/read-back" <(seq 1 "$lines" | sed 's/^/out: /')
check "--io file with rotation: no archive is larger than 16 KiB or ends mid-line" \
  bash -c 'for a in '"$logs"'/app.log_*; do
             case $a in *.gz) f=$(zcat "$a" | wc -c); last=$(zcat "$a" | tail -c1 | od -An -c);;
                        *) f=$(wc -c <"$a"); last=$(tail -c1 "$a" | od -An -c);; esac
             [ "$f" -le 16384 ] && [ "$(echo $last)" = "\n" ] || exit 1
           done'
[ -s "$ctx/rotate.err" ] && sed 's/^/     stderr: /' "$ctx/rotate.err"

# --- 7. runit's runsvdir with two services under dock ----------------------
# runsvdir ends at once on SIGTERM without passing it on; as PID 1 that
# means its services are SIGKILLed by the kernel. Under dock, docker stop's
# SIGTERM reaches the whole group and what is left gets SIGTERM too.
c=$(run_d -e DOCK_DEBUG=1 "$image" runsvdir /etc/service)
log_has "$c" 'alpha: up' && log_has "$c" 'beta: up'
start=$(ms); docker stop -t 10 "$c" >/dev/null; runit_ms=$(( $(ms) - start ))
runit_log=$(docker logs "$c" 2>&1)
check "runit under dock: docker stop returns within 2 s (${runit_ms} ms)" test "$runit_ms" -lt 2000
check "runit under dock: each service gets SIGTERM" \
  bash -c 'grep -q "^alpha: got TERM" <<<"$1" && grep -q "^beta: got TERM" <<<"$1"' _ "$runit_log"
check "runit under dock: nothing is left for SIGKILL" \
  bash -c '! grep -q -E "SIGKILL to|sending SIGKILL" <<<"$1" && grep -q "all processes reaped" <<<"$1"' _ "$runit_log"
c=$(run_d --entrypoint /bin/runsvdir "$image" /etc/service)
log_has "$c" 'alpha: up' && log_has "$c" 'beta: up'
docker stop -t 10 "$c" >/dev/null
check "runit as PID 1 without dock: its services never see SIGTERM" \
  test "$(docker logs "$c" 2>&1 | grep -c 'got TERM')" = 0

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

# --- 9. --io tcp:// to another container by its name ----------------------
# dock-static is musl: its resolver reads the image's /etc/resolv.conf and
# /etc/hosts itself (no NSS), so a FROM scratch image reaches a peer on
# Docker's embedded DNS both by a compose-style service name (a network
# alias, `db`) and by a container's name. Each peer is itself under dock,
# whose --bind-port says when it listens.
net="dock-test-net-$$"
docker network create "$net" >/dev/null
for name in db "dock-test-peer-$$"; do
  naming=(--name "$name")
  [ "$name" = db ] && naming=(--name "dock-test-db-$$" --network-alias db)
  peer=$(run_d --network "$net" "${naming[@]}" -e DOCK_DEBUG=1 -e DOCK_BIND_PORT=7000 \
    "$image" sh -c 'sleep 1000 | nc -l -p 7000')
  log_has "$peer" 'port 7000 is listening'
  docker run --rm --network "$net" -e DOCK_IO="tcp://$name:7000" "$image" \
    echo "hello to $name from $$" >/dev/null 2>"$ctx/dns.err"
  check "--io tcp://$name:7000 reaches a peer container through Docker's DNS (musl's resolver)" \
    log_has "$peer" "hello to $name from $$"
  [ -s "$ctx/dns.err" ] && sed 's/^/     stderr: /' "$ctx/dns.err"
  docker rm -f "$peer" >/dev/null
done
docker network rm "$net" >/dev/null

# --- 10. the field: a service as nobody, an image's ENV switched off --------
# Docker's default capabilities have no CAP_SYS_PTRACE: dock cannot read
# /proc/PID/fd of the service that dropped to nobody, and must still see
# its port (by the socket's uid) to become healthy.
run_healthchecked nobody "$image" su -s /bin/sh nobody -c 'echo as $(id -u); exec nc -l -p 8080'
check "a service as nobody, default capabilities: --bind-port sees it, healthy" \
  test "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy
check "... and it runs as nobody" log_has "$c" 'as 65534'
docker rm -f "$c" >/dev/null
# An image that sets DOCK_IO in its ENV; `-e DOCK_IO=` switches it off.
mkdir -p "$ctx/env-image"
printf 'FROM %s\nENV DOCK_IO=/tmp/app.log DOCK_LOG_MAX_SIZE=1m\n' "$image" >"$ctx/env-image/Dockerfile"
docker build -q -t dock-test-env:latest "$ctx/env-image" >/dev/null 2>&1
out=$(docker run --rm -e DOCK_IO= -e DOCK_LOG_MAX_SIZE= dock-test-env:latest echo "to docker logs" 2>&1)
check "-e DOCK_IO= over an image's DOCK_IO: output goes to docker logs (got: $out)" test "$out" = "to docker logs"
docker rmi dock-test-env:latest >/dev/null 2>&1
# --cgroup-env: the limits docker run sets, as the command sees them.
out=$(docker run --rm --cpus 1.5 --memory 64m -e DOCK_CGROUP_ENV=1 "$image" sh -c 'echo "$DOCK_CPUS $DOCK_MEMORY_MAX"' 2>/dev/null)
check "--cgroup-env under docker run --cpus 1.5 --memory 64m: DOCK_CPUS=2 DOCK_MEMORY_MAX=67108864 (got: $out)" test "$out" = "2 67108864"
out=$(docker run --rm -e DOCK_CGROUP_ENV=1 "$image" sh -c 'echo "$DOCK_CPUS ${DOCK_MEMORY_MAX-unset}"' 2>/dev/null)
check "--cgroup-env without limits: the host's $(nproc) CPUs, no DOCK_MEMORY_MAX (got: $out)" test "$out" = "$(nproc) unset"

# --- 11. FROM scratch: a named user, a Docker-style secret, a template -----
# No NSS in the image: dock-static reads the image's own /etc/passwd and
# /etc/group for --user app; the secret is mounted as Docker mounts one.
printf 'pw-%s\n' "$$" >"$ctx/db_password"
chmod 644 "$ctx/db_password"
out=$(docker run --rm -v "$ctx/db_password:/run/secrets/db_password:ro" -e DB_PASSWORD_FILE=/run/secrets/db_password \
  -e GREETING=hello -e DOCK_USER=app -e DOCK_FILE_ENV=DB_PASSWORD -e DOCK_TEMPLATE=/etc/app.conf.in:/tmp/app.conf "$image" \
  sh -c 'echo "uid=$(id -u) groups=$(id -G) home=$HOME pw=$DB_PASSWORD file=${DB_PASSWORD_FILE-unset}"; cat /tmp/app.conf; stat -c %u /tmp/app.conf' 2>&1)
want="uid=1000 groups=1000 29 home=/home/app pw=pw-$$ file=unset
greeting=hello port=8080 secret=pw-$$ \$host
1000"
check "FROM scratch: --user app from the image's /etc/passwd, the secret, the template" test "$out" = "$want"
[ "$out" = "$want" ] || sed 's/^/     got: /' <<<"$out"
# ... and it waits for a peer container's port: started first, it cannot
# even resolve the peer's name; once the peer listens it goes on.
net=dock-test-wait-$$
docker network create "$net" >/dev/null
app=$(run_d --network "$net" -e DOCK_DEBUG=1 -e DOCK_USER=app -e DOCK_WAIT_FOR="tcp://dock-test-db-$$:5432" \
  "$image" sh -c 'echo "app: started as $(id -u)"')
check "--wait-for: the app waits while the peer's name does not resolve" log_has "$app" 'again in'
check "... and has not started" bash -c '! docker logs "$1" 2>&1 | grep -q "app: started"' _ "$app"
db=$(run_d --network "$net" --name "dock-test-db-$$" "$image" sh -c 'nc -l -p 5432 </dev/null; sleep 1000')
check "--wait-for: the app starts once the peer container listens" log_has "$app" 'app: started as 1000'
docker rm -f "$app" "$db" >/dev/null 2>&1
docker network rm "$net" >/dev/null
net=

# --- 12. the seed's multi-service kit by composition ----------------------
# runsvdir under dock with a setup program; each service under its own
# user (chpst); docker stop ends them all with SIGTERM.
c=$(run_d -e DOCK_DEBUG=1 -e DOCK_SETUP=/etc/setup.d "$image" runsvdir /etc/service-users)
check "composition: the setup ran before the services; gamma runs as app" log_has "$c" 'gamma: up as 1000 after prepared'
check "... delta runs as nobody" log_has "$c" 'delta: up as 65534 after prepared'
start=$(ms); docker stop -t 10 "$c" >/dev/null; kit_ms=$(( $(ms) - start ))
kit_log=$(docker logs "$c" 2>&1)
check "composition: docker stop returns within 2 s (${kit_ms} ms), each service got SIGTERM as its user" \
  bash -c '[ "$2" -lt 2000 ] && grep -q "^gamma: got TERM as 1000" <<<"$1" && grep -q "^delta: got TERM as 65534" <<<"$1" &&
           grep -q "all processes reaped" <<<"$1"' _ "$kit_log" "$kit_ms"
[ "$kit_ms" -lt 2000 ] || sed 's/^/     log: /' <<<"$kit_log"

# --- 13. FROM scratch, no shell: HEALTHCHECK by dock --check, --notify ------
# The command says READY=1 (healthy), then RELOADING=1 (unhealthy again).
mkdir -p "$ctx/scratch/bin"
cp ./dock-static "$ctx/scratch/dock"
cp ./tests/helper-static "$ctx/scratch/bin/helper"
cat >"$ctx/scratch/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY dock /dock
COPY bin/helper /bin/helper
ENV DOCK_READY_FILE=/dock.ready DOCK_NOTIFY=1
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["/dock", "--check"]
ENTRYPOINT ["/dock", "--"]
CMD ["/bin/helper", "notify"]
DOCKERFILE
docker build -q -t dock-test-scratch:latest "$ctx/scratch" >/dev/null 2>"$ctx/scratch.log" || cat "$ctx/scratch.log"
label="dock-test-check=$$" events="$ctx/check-events"
timeout 60 docker events --filter "label=$label" --filter event=health_status --format '{{.Action}}' >"$events" 2>/dev/null &
events_pid=$!
mkfifo "$ctx/check-in"
docker run --rm -i --label "$label" --name "dock-test-check-$$" dock-test-scratch:latest <"$ctx/check-in" >"$ctx/check-out" 2>&1 &
exec 4>"$ctx/check-in"
health() { timeout 30 tail -c +1 -f "$events" 2>/dev/null | grep -q -m"$1" "health_status: $2"; }
check "--check: the image has no shell to run a test in" \
  bash -c '! docker run --rm --entrypoint /bin/sh dock-test-scratch:latest -c true >/dev/null 2>&1'
check "--check: unhealthy while the command has not said READY=1" health 1 unhealthy
echo "send READY=1" >&4
check "--check: healthy once it has" health 1 healthy
echo "send RELOADING=1" >&4
check "--check: unhealthy again after RELOADING=1" health 2 unhealthy
check "--check: its line in docker inspect" \
  bash -c 'docker inspect -f "{{range .State.Health.Log}}{{.Output}}{{end}}" "$1" | grep -q "dock: not ready: /dock.ready: No such file"' _ "dock-test-check-$$"
echo "exit 0" >&4; exec 4>&-
kill "$events_pid" 2>/dev/null; wait "$events_pid" 2>/dev/null

# --- 13b. OOM kills under docker run --memory (SPEC §17) -------------------
# The command itself: the scratch image's helper takes memory until the
# kernel kills it. Then an orphan (dock reaps it) with --oom-stop.
out=$(docker run --rm --memory 32m -e DOCK_NOTIFY=0 dock-test-scratch:latest /bin/helper hog 2>&1); status=$?
check "OOM kill under docker run --memory 32m: exit 137 (got $status)" test "$status" = 137
check "... dock says so ($(grep -m1 OOM <<<"$out"))" \
  grep -q "^dock: /bin/helper was killed by the OOM killer (memory.max 32M, peak " <<<"$out"
start=$(ms)
out=$(docker run --rm --memory 32m -e DOCK_OOM_STOP=1 "$image" \
  sh -c '(sh -c "x=a; while :; do x=\$x\$x; done" &); sleep 30' 2>&1); status=$?
oom_ms=$(( $(ms) - start ))
check "--oom-stop: an orphan OOM-killed stops the command (status $status in $oom_ms ms, not 30 s)" \
  test "$status" = 143 -a "$oom_ms" -lt 20000
check "... named by pid and name, and the stop said ($(grep -m1 OOM <<<"$out"))" \
  bash -c 'grep -q "^dock: pid [0-9]* (sh) was killed by the OOM killer (memory.max 32M" <<<"$1" &&
           grep -q "^dock: --oom-stop: stopping sh as SIGTERM would" <<<"$1"' _ "$out"

# --- 14. docker stop with --stop-delay 2s ---------------------------------
c=$(run_d -e DOCK_STOP_DELAY=2s -e DOCK_READY_FILE=/run/dock.ready "$image" sh -c "$(cat <<'SH'
trap 'echo got TERM; exit 0' TERM; echo up; while :; do sleep 1000 & wait; done
SH
)")
log_has "$c" '^up'
start=$(ms); docker stop -t 10 "$c" >/dev/null; delayed=$(( $(ms) - start ))
check "docker stop with --stop-delay 2s returns after the delay and the command's own exit (${delayed} ms)" \
  test "$delayed" -ge 1900 -a "$delayed" -lt 3500
check "... the command got SIGTERM and its status is docker's" \
  bash -c 'docker logs "$1" 2>&1 | grep -q "got TERM" && [ "$(docker inspect -f "{{.State.ExitCode}}" "$1")" = 0 ]' _ "$c"

# --- 14b. docker stop -t 30: the command drains as long as it needs ------
# As under tini and dumb-init: no dock deadline on the command's own stop
# unless --stop-timeout is given (SPEC §3 6b). Then --stop-timeout 2s cuts a
# command that ignores SIGTERM at about 2 s.
c=$(run_d "$image" sh -c "$(cat <<'SH'
trap 'echo draining; sleep 8; echo drained; exit 0' TERM; echo up; while :; do sleep 1000 & wait; done
SH
)")
log_has "$c" '^up'
start=$(ms); docker stop -t 30 "$c" >/dev/null; drained=$(( $(ms) - start ))
check "docker stop -t 30: an 8 s drain on SIGTERM ends with status 0, nothing cut (${drained} ms)" \
  bash -c '[ "$2" -ge 7900 ] && [ "$2" -lt 20000 ] && docker logs "$1" 2>&1 | grep -q "^drained" && [ "$(docker inspect -f "{{.State.ExitCode}}" "$1")" = 0 ]' _ "$c" "$drained"
c=$(run_d -e DOCK_STOP_TIMEOUT=2s "$image" sh -c "trap '' TERM; echo up; while :; do sleep 1000 & wait; done")
log_has "$c" '^up'
start=$(ms); docker stop -t 30 "$c" >/dev/null; cut=$(( $(ms) - start ))
check "--stop-timeout 2s: a command that ignores SIGTERM is SIGKILLed at about 2 s (${cut} ms), status 137" \
  bash -c '[ "$2" -ge 1900 ] && [ "$2" -lt 4500 ] && [ "$(docker inspect -f "{{.State.ExitCode}}" "$1")" = 137 ]' _ "$c" "$cut"

# --- 15. docker run --init with dock as the daemon's init ------------------
# A second dockerd of the test's own (data root, socket, no iptables) with
# --init-path pointing at dock-static. It gets a bridge of its own: one
# started with --bridge=none deletes docker0, the first daemon's.
second_dir=$(mktemp -d)  # not in $ctx: that is the build context
echo '{}' >"$second_dir/daemon.json"
bridge=dockt$$
ip link add "$bridge" type bridge && ip addr add 10.254.77.1/24 dev "$bridge" && ip link set "$bridge" up
dockerd --config-file "$second_dir/daemon.json" --data-root "$second_dir/data" --exec-root "$second_dir/exec" \
  --pidfile "$second_dir/pid" -H "unix://$second_dir/sock" --iptables=false --ip6tables=false --ip-forward=false \
  --ip-masq=false --bridge "$bridge" --storage-driver vfs --init-path "$PWD/dock-static" >"$second_dir/log" 2>&1 &
second=$!
d2=(docker -H "unix://$second_dir/sock")
for _ in $(seq 150); do  # its socket answers within seconds, or the daemon ended
  kill -0 "$second" 2>/dev/null || break
  "${d2[@]}" version >/dev/null 2>&1 && break
  sleep 0.2
done
if ! "${d2[@]}" version >/dev/null 2>&1; then
  skip "a second dockerd with --init-path could not be started: $(tail -n 1 "$second_dir/log")"
  second=
elif ! "${d2[@]}" build -q -t dock-test:latest "$ctx" >/dev/null 2>"$second_dir/build.log"; then
  skip "the second dockerd cannot build the image: $(tail -n 1 "$second_dir/build.log")"
else
  out=$("${d2[@]}" run --rm --init --network none --entrypoint /bin/sh dock-test:latest \
    -c 'tr "\0" " " </proc/1/cmdline; echo; /sbin/docker-init --version | head -n 1')
  check "docker run --init: PID 1 is the daemon's init, called as INIT -- COMMAND" grep -q '^/sbin/docker-init -- /bin/sh -c ' <<<"$out"
  check "docker run --init: that init is dock" grep -q '^dock version ' <<<"$out"
  c=$("${d2[@]}" run -d --init --network none --entrypoint /bin/sh dock-test:latest -c "$(cat <<'SH'
trap 'echo got TERM; exit 5' TERM; echo up; while :; do sleep 1000 & wait; done
SH
)")
  timeout 20 bash -c 'until "$@" logs "'"$c"'" 2>&1 | grep -q "^up"; do sleep 0.05; done' _ "${d2[@]}"
  start=$(ms); "${d2[@]}" stop -t 10 "$c" >/dev/null; took=$(( $(ms) - start ))
  check "docker run --init: docker stop's SIGTERM reaches the command at once (${took} ms), its status 5" \
    bash -c '[ "$2" -lt 2000 ] && [ "$("${@:3}" inspect -f "{{.State.ExitCode}}" "$1")" = 5 ]' _ "$c" "$took" "${d2[@]}"
fi

# --- 16. arm64: a FROM scratch image of dock-static for aarch64 -------------
# Run by qemu-user through binfmt_misc (scripts/binfmt.sh), as Docker Desktop
# runs foreign images. The command is the test helper built for aarch64.
arm=dist/dock-static-$(make -s --no-print-directory version)-aarch64
if ! why=$(scripts/binfmt.sh); then
  skip "arm64 image: aarch64 programs cannot run here: $why"
elif ! command -v aarch64-linux-gnu-g++ >/dev/null; then
  skip "arm64 image: no aarch64 cross compiler (g++-aarch64-linux-gnu) for the helper"
else
  { [ -x "$arm" ] || make dist >/dev/null 2>&1; } && mkdir -p "$ctx/arm64/bin" &&
    cp "$arm" "$ctx/arm64/dock" &&
    aarch64-linux-gnu-g++ -std=c++20 -O1 -static -o "$ctx/arm64/bin/helper" tests/helper.cpp &&
    printf 'FROM scratch\nCOPY dock /dock\nCOPY bin/helper /bin/helper\nENTRYPOINT ["/dock", "--"]\n' >"$ctx/arm64/Dockerfile" &&
    docker build -q --platform linux/arm64 -t dock-test-arm64:latest "$ctx/arm64" >/dev/null 2>"$ctx/arm64.log" ||
    { cat "$ctx/arm64.log"; echo "FAIL arm64 image build"; failed=$((failed + 1)); }
  arm_run=(docker run --rm --platform linux/arm64 --network none)
  check "arm64: the image is linux/arm64" \
    test "$(docker image inspect -f '{{.Os}}/{{.Architecture}}' dock-test-arm64:latest)" = linux/arm64
  check "arm64: --version names the aarch64 static build" \
    bash -c '"$@" /dock --version | grep -q "^build: aarch64, static"' _ "${arm_run[@]}" dock-test-arm64:latest
  out=$(printf 'exit 7\n' | "${arm_run[@]}" -i dock-test-arm64:latest /bin/helper orphans 100 2>&1); status=$?
  check "arm64: the command's orphans, then its status 7 through docker run" \
    bash -c '[ "$1" = 7 ] && grep -q "^made 100" <<<"$2"' _ "$status" "$out"
  c=$(run_d --platform linux/arm64 --network none -e DOCK_STOP_TIMEOUT=1s dock-test-arm64:latest /bin/helper record --no-stdin)
  log_has "$c" "ready child"
  docker kill -s USR1 "$c" >/dev/null
  check "arm64: docker kill -s USR1 reaches the command" log_has "$c" "child got 10"
  start=$(ms); docker stop -t 20 "$c" >/dev/null; took=$(( $(ms) - start ))
  check "arm64: docker stop's SIGTERM reaches it; dock SIGKILLs it after 1 s (${took} ms), status 137" \
    bash -c 'grep -q "child got 15" <<<"$(docker logs "$1" 2>&1)" && [ "$2" -lt 10000 ] && [ "$(docker inspect -f "{{.State.ExitCode}}" "$1")" = 137 ]' _ "$c" "$took"
fi

echo "docker: $passed passed, $failed failed"
[ "$failed" = 0 ]
