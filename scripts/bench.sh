#!/bin/bash
# dock's benchmarks, side by side with tini, dumb-init and catatonit (the
# Debian packages; a peer that is not installed is skipped with a line
# saying so). They report, they never assert. Markdown tables on stdout.
#
#   scripts/bench.sh           the full run (under 10 minutes)
#   scripts/bench.sh --quick   fewer and shorter runs (under a minute)
#   DOCK_BENCH_BASELINE=/tmp/dock.old scripts/bench.sh   ... with an earlier dock beside
#
# Every figure is a median over runs in which the inits take turns
# (A B C A B C ...), so a slow moment of the machine hits them all alike.
# The measuring is done by tests/benchkit (see its header); every wait in
# it has a bound, so a peer that hangs is reported, not waited for.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = --quick ] && quick=1
if ((quick)); then
  probe_n=100 probe_conns=1000 rounds=3 spawns=20 sig_n=300 sig_rounds=2 idle_s=1 idle_rounds=1 mem_rounds=9 storm_s=2 storm_rounds=1
  stub_limit=2 stub_timeout=1s out_blocks=$((32 << 20)) out_lines=$((8 << 20)) out_runs=3 rot=$((8 << 20))
else
  probe_n=1000 probe_conns=5000 rounds=7 spawns=100 sig_n=1000 sig_rounds=5 idle_s=5 idle_rounds=3 mem_rounds=31 storm_s=2 storm_rounds=3
  stub_limit=10 stub_timeout=5s out_blocks=$((1 << 30)) out_lines=$((256 << 20)) out_runs=3 rot=$((128 << 20))
fi

scripts/install-deps.sh bench >/dev/null || echo "install-deps: the peers could not all be installed"
make -s dock dock-static dock-static-tls tests/helper tests/benchkit >/dev/null || exit 1
B=tests/benchkit
dir=$(mktemp -d /tmp/dock-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# --- the inits ----------------------------------------------------------
# name -> how to run it in front of a command (up to its "--").
# dock-static is musl (no TLS), dock-static-tls glibc with OpenSSL and zlib.
declare -A how=([dock]="./dock --" [dock-static]="./dock-static --" [dock-static-tls]="./dock-static-tls --")
inits=(dock dock-static dock-static-tls)
for peer in tini tini-static dumb-init catatonit; do
  if command -v "$peer" >/dev/null; then
    how[$peer]="$(command -v "$peer") --"
    inits+=("$peer")
  else
    echo "skipped: $peer is not installed (Debian: apt-get install ${peer%-static})"
  fi
done
# DOCK_BENCH_BASELINE=PATH: an earlier dock binary measured in the same
# run as "dock-before", to judge a change side by side.
if [ -n "${DOCK_BENCH_BASELINE:-}" ]; then
  how[dock-before]="$DOCK_BENCH_BASELINE --"
  inits+=(dock-before)
fi
unset DOCK_BENCH_BASELINE  # not dock's own: the docks measured must not see it (they warn of it)
have() { [ -n "${how[$1]:-}" ]; }
docks=(dock dock-static)  # the dock-only tables
if have dock-before; then docks+=(dock-before); fi

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }  # KEY: its value in a key=value line
# ratio A B: A/B with two decimals, "-" when either is missing or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
declare -A got  # "init/what" -> space-separated values over the runs
med() { echo "${got[$1]:-}" | tr ' ' '\n' | grep . | median; }
# collect INIT LINE KEY...: appends each KEY's value in LINE to got[INIT/KEY].
collect() {
  local init=$1 line=$2 k
  shift 2
  for k; do got[$init/$k]+="$(echo "$line" | field "$k") "; done
}

echo "# dock benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)$( ((quick)) && echo ', --quick'))"
echo

# --- 1. size ---------------------------------------------------------------
echo "## Size"
echo
echo "| init | bytes | ratio to tini | linked against |"
echo "|---|---|---|---|"
path_of() { local w=${how[$1]}; echo "${w% --}"; }
tini_size=$(have tini && stat -c %s "$(path_of tini)" || echo -)
for i in "${inits[@]}"; do
  p=$(path_of "$i")
  libs=$(ldd "$p" 2>/dev/null | awk '/=>/ { print $1 } /ld-linux/ && !/=>/ { print "loader" }' | grep -v vdso | tr '\n' ' ')
  echo "| $i | $(stat -c %s "$p") | $(ratio "$(stat -c %s "$p")" "$tini_size") | ${libs:-nothing (static)} |"
done
echo

# --- 1b. the release artefacts (make dist) -----------------------------------
version=$(make -s --no-print-directory version)
[ -e "dist/dock-static-$version-aarch64" ] || make dist >/dev/null 2>&1
echo "## Release artefacts (make dist)"
echo
echo "| artefact | bytes | ratio to tini | file says |"
echo "|---|---|---|---|"
for a in dock dock-static dock-static-tls; do
  for arch in x86_64 aarch64; do
    f=dist/$a-$version-$arch
    [ -e "$f" ] || { echo "| $a-$version-$arch | (not built: make dist failed) | | |"; continue; }
    echo "| $a-$version-$arch | $(stat -c %s "$f") | $(ratio "$(stat -c %s "$f")" "$tini_size") | $(file -b "$f" | grep -oE 'x86-64|ARM aarch64' | head -n 1), $(file -b "$f" | grep -oE '(static-pie|statically|dynamically) linked') |"
  done
done
echo

# --- 2. start-up ---------------------------------------------------------
# INIT -- /bin/true, $spawns times per run; the figure is the median wall
# time of one start minus that of /bin/true alone, plain and as PID 1 of a
# new pid namespace.
for ((r = 0; r < rounds; r++)); do
  for i in none "${inits[@]}"; do
    w=$([ "$i" = none ] || echo "${how[$i]}")
    for mode in plain pid1; do
      flag=$([ "$mode" = pid1 ] && echo --pid1)
      got[$i/start-$mode]+="$($B spawn "$spawns" $flag $w /bin/true | field median_us) "
    done
  done
done
echo "## Start-up overhead (median of $rounds runs x $spawns starts; INIT -- /bin/true minus /bin/true)"
echo
echo "| init | plain (µs) | ratio to tini | as PID 1 (µs) | ratio to tini |"
echo "|---|---|---|---|---|"
declare -A over
for i in "${inits[@]}"; do
  for mode in plain pid1; do
    over[$i/$mode]=$(awk -v a="$(med "$i/start-$mode")" -v b="$(med none/start-$mode)" 'BEGIN { print a - b }')
  done
done
for i in "${inits[@]}"; do
  echo "| $i | ${over[$i/plain]} | $(ratio "${over[$i/plain]}" "${over[tini/plain]:--}") | ${over[$i/pid1]} | $(ratio "${over[$i/pid1]}" "${over[tini/pid1]:--}") |"
done
echo "| (/bin/true alone) | $(med none/start-plain) | | $(med none/start-pid1) | |"
echo

# --- 2a. the aarch64 static build under emulation (a sanity figure) ----------
# dist/dock-static-VERSION-aarch64 run by qemu-user through binfmt_misc
# (scripts/binfmt.sh), beside the native static build: emulation is slow,
# so this only shows that the arm64 build starts and how far qemu is from
# native, not what it costs on an arm64 machine.
if why=$(scripts/binfmt.sh) && [ -e "dist/dock-static-$version-aarch64" ]; then
  for ((r = 0; r < rounds; r++)); do
    for arch in x86_64 aarch64; do
      got[emu/$arch]+="$($B spawn "$spawns" "dist/dock-static-$version-$arch" -- /bin/true | field median_us) "
    done
  done
  echo "## Start-up of the static builds, native and aarch64 under qemu-user (median of $rounds runs x $spawns starts, /bin/true included)"
  echo
  echo "| build | start-up (µs) | ratio to native |"
  echo "|---|---|---|"
  echo "| dock-static-$version-x86_64 (native) | $(med emu/x86_64) | 1.00 |"
  echo "| dock-static-$version-aarch64 (qemu-aarch64-static) | $(med emu/aarch64) | $(ratio "$(med emu/aarch64)" "$(med emu/x86_64)") |"
else
  echo "## Start-up of the aarch64 build under emulation: skipped (${why:-dist/dock-static-$version-aarch64 missing})"
fi
echo

# --- 2b. start-up with the chores before the command (dock only) --------------
# --user (reads /etc/passwd and /etc/group, switches in the child), an
# --env-file of 100 variables and --cgroup-env (reads the cgroup's limit
# files), against plain dock: the goal is within 10 %.
for n in $(seq 100); do echo "VAR_$n=value number $n"; done >"$dir/100.env"
for ((r = 0; r < rounds; r++)); do
  for c in plain user env-file cgroup-env; do
    case $c in
      plain) w="./dock --" ;;
      user) w="./dock --user nobody --" ;;
      env-file) w="./dock --env-file $dir/100.env --" ;;
      cgroup-env) w="./dock --cgroup-env --" ;;
    esac
    got[chores/$c]+="$($B spawn "$spawns" $w /bin/true | field median_us) "
  done
done
echo "## Start-up with the chores before the command (dock; median of $rounds runs x $spawns starts, /bin/true included)"
echo
echo "| dock | start-up (µs) | ratio to plain dock |"
echo "|---|---|---|"
for c in plain user env-file cgroup-env; do
  label=$c
  [ "$c" = user ] && label="--user nobody"
  [ "$c" = env-file ] && label="--env-file (100 variables)"
  [ "$c" = cgroup-env ] && label="--cgroup-env"
  echo "| $label | $(med chores/$c) | $(ratio "$(med chores/$c)" "$(med chores/plain)") |"
done
echo
# --wait-for a port that never opens: what the wait costs.
if [ -x /usr/bin/time ]; then
  cpu=$(/usr/bin/time -f '%U %S' ./dock --wait-for tcp://127.0.0.1:1 --wait-timeout "${idle_s}s" -- true 2>&1 >/dev/null |
        tail -n 1 | awk -v s="$idle_s" '{ printf "%.3f", ($1 + $2) * 100 / s }')
  echo "## \`--wait-for\` a port that never opens (${idle_s} s): ${cpu} % of one CPU"
  echo
fi

# --- 3 and 4. memory and idle cost -------------------------------------------
# The memory figures move by up to 100 KiB from one start to the next: the
# kernel maps a shared library's pages in 64 KiB windows around each fault,
# and ASLR places libc differently each time. So they are the median of
# many short starts; the idle cost is measured over longer ones.
for ((r = 0; r < mem_rounds; r++)); do
  for i in "${inits[@]}"; do
    collect "$i" "$($B idle 0 ${how[$i]})" vmhwm_kb vmrss_kb
  done
done
# dock with the options that add a descriptor to its loop (a listening
# socket): still no wake-up while nothing happens.
health_opts="--health-port 127.0.0.1:$((20000 + $$ % 10000)) --oom-stop"
for ((r = 0; r < idle_rounds; r++)); do
  for i in "${inits[@]}"; do
    collect "$i" "$($B idle "$idle_s" ${how[$i]})" cpu_ticks wakeups
  done
  collect dock-options "$($B idle "$idle_s" ./dock $health_opts --)" cpu_ticks wakeups
done
echo "## Memory and idle cost (as PID 1 supervising \`sleep\`; memory: median of $mem_rounds starts; idle over ${idle_s} s, median of $idle_rounds)"
echo
echo "| init | VmHWM (KiB) | ratio to tini | VmRSS (KiB) | CPU ticks idle | wake-ups idle |"
echo "|---|---|---|---|---|---|"
for i in "${inits[@]}"; do
  echo "| $i | $(med "$i/vmhwm_kb") | $(ratio "$(med "$i/vmhwm_kb")" "$(med tini/vmhwm_kb)") | $(med "$i/vmrss_kb") | $(med "$i/cpu_ticks") | $(med "$i/wakeups") |"
done
echo "| dock $health_opts | | | | $(med dock-options/cpu_ticks) | $(med dock-options/wakeups) |"
echo

# --- 5. signal latency -------------------------------------------------------
for ((r = 0; r < sig_rounds; r++)); do
  collect floor "$($B siglat "$sig_n")" median_us p99_us
  for i in "${inits[@]}"; do
    collect "$i" "$($B siglat "$sig_n" --pid1 ${how[$i]})" median_us p99_us lost
  done
done
echo "## Signal forwarding latency ($sig_n SIGUSR1 one at a time, INIT as PID 1; median of $sig_rounds runs)"
echo
echo "| init | median (µs) | over the floor | ratio to tini | p99 (µs) | lost |"
echo "|---|---|---|---|---|---|"
floor=$(med floor/median_us)
for i in "${inits[@]}"; do
  o=$(awk -v a="$(med "$i/median_us")" -v b="$floor" 'BEGIN { printf "%.1f", a - b }')
  ot=$(awk -v a="$(med tini/median_us)" -v b="$floor" 'BEGIN { if (a == "-") print "-"; else printf "%.1f", a - b }')
  echo "| $i | $(med "$i/median_us") | $o | $(ratio "$o" "$ot") | $(med "$i/p99_us") | $(med "$i/lost") |"
done
echo "| (sent to the command directly: the floor) | $floor | | | $(med floor/p99_us) | |"
echo

# --- 5b. a stalled reader of dock's stderr ------------------------------------
# With -d dock logs every signal it forwards; the reader of its stderr
# (docker logs, say) has stopped and the pipe is full. Forwarding must not
# wait for it. (The peers log nothing per signal, so dock alone.)
for ((r = 0; r < sig_rounds; r++)); do
  for i in "${docks[@]}"; do
    collect "$i-debug" "$($B siglat "$sig_n" --pid1 ${how[$i]% --} -d --)" median_us p99_us lost
    collect "$i-stalled" "$($B siglat "$sig_n" --stalled-stderr --pid1 ${how[$i]% --} -d --)" median_us p99_us lost
  done
done
echo "## Signal forwarding with dock's stderr stalled (\`-d\`, $sig_n SIGUSR1, as PID 1; median of $sig_rounds runs)"
echo
echo "| init | median, stderr read (µs) | median, stderr full and unread (µs) | ratio | lost when stalled |"
echo "|---|---|---|---|---|"
for i in "${docks[@]}"; do
  echo "| $i -d | $(med "$i-debug/median_us") | $(med "$i-stalled/median_us") | $(ratio "$(med "$i-stalled/median_us")" "$(med "$i-debug/median_us")") | $(med "$i-stalled/lost") |"
done
echo

# --- 5c. --bind-port while it waits ---------------------------------------------
# $probe_conns loopback connections open on the host; dock waits for a port
# nobody binds. The cost must not grow with the host's connections.
for ((r = 0; r < idle_rounds; r++)); do
  for i in "${docks[@]}"; do
    collect "$i" "$($B probecpu "$idle_s" "$probe_conns" "${how[$i]% --}")" cpu_pct
    collect "$i-noconns" "$($B probecpu "$idle_s" 0 "${how[$i]% --}")" cpu_pct
  done
done
echo "## \`--bind-port\` while it waits (CPU of one core over ${idle_s} s, median of $idle_rounds)"
echo
echo "| init | no other connections | $probe_conns loopback connections open |"
echo "|---|---|---|"
for i in "${docks[@]}"; do
  echo "| $i | $(med "$i-noconns/cpu_pct") % | $(med "$i/cpu_pct") % |"
done
echo

# --- 5d. readiness: --notify's READY=1, --bind-port's listen -----------------
# From the command's READY=1 (or its listen()) to the ready file appearing.
for ((r = 0; r < rounds; r++)); do
  for i in "${docks[@]}"; do
    collect "$i-notify" "$($B readylat 10 notify "${how[$i]% --}")" median_us p90_us
    collect "$i-port" "$($B readylat 10 bind-port "${how[$i]% --}")" median_us p90_us
  done
done
echo "## Readiness: from the command's word to the ready file (µs, median of $rounds × 10 runs)"
echo
echo "| init | \`--notify\`: READY=1 → file (median / p90) | \`--bind-port\`: listen() → file (median / p90) |"
echo "|---|---|---|"
for i in "${docks[@]}"; do
  echo "| $i | $(med "$i-notify/median_us") / $(med "$i-notify/p90_us") | $(med "$i-port/median_us") / $(med "$i-port/p90_us") |"
done
echo
for ((r = 0; r < idle_rounds; r++)); do
  for i in "${docks[@]}"; do
    collect "$i-flood" "$($B notifyflood "$idle_s" 1000 "${how[$i]% --}")" cpu_pct
  done
done
echo "## \`--notify\` under a chatty command: 1,000 STATUS= datagrams a second (CPU of one core over ${idle_s} s, median of $idle_rounds)"
echo
echo "| init | CPU |"
echo "|---|---|"
for i in "${docks[@]}"; do echo "| $i | $(med "$i-flood/cpu_pct") % |"; done
echo

# --- 5e. health probes: an exec probe against an httpGet probe ----------------
# What one probe costs: `dock --check FILE` and `dock --check tcp://` as a
# process each (Kubernetes' exec probe, without the runtime's own cost of
# an exec, which is larger), against GET /ready to --health-port (the
# kubelet's httpGet, in its own process). CPU: the probe process's, or the
# client's own, plus dock's. Then dock's CPU under 100 probes a second.
for i in dock dock-static; do
  collect "$i-probes" "$($B probes "$probe_n" "${how[$i]% --}")" exec_wall_us exec_cpu_us tcp_wall_us tcp_cpu_us http_wall_us http_cpu_us
done
for ((r = 0; r < idle_rounds; r++)); do
  for i in dock dock-static; do collect "$i-load" "$($B healthload "$idle_s" 100 "${how[$i]% --}")" cpu_pct; done
done
echo "## Health probes: one probe's wall time and CPU (µs, median of $probe_n of each)"
echo
echo "| init | exec \`dock --check FILE\` wall / CPU | exec \`dock --check tcp://\` wall / CPU | httpGet \`/ready\` (\`--health-port\`) wall / CPU | exec / httpGet CPU | dock's CPU at 100 GET /ready a second |"
echo "|---|---|---|---|---|---|"
for i in dock dock-static; do
  p=$i-probes
  echo "| $i | $(med "$p/exec_wall_us") / $(med "$p/exec_cpu_us") | $(med "$p/tcp_wall_us") / $(med "$p/tcp_cpu_us") | $(med "$p/http_wall_us") / $(med "$p/http_cpu_us") | $(ratio "$(med "$p/exec_cpu_us")" "$(med "$p/http_cpu_us")") | $(med "$i-load/cpu_pct") % (over ${idle_s} s, median of $idle_rounds) |"
done
echo

# --- 6. orphan storm ---------------------------------------------------------
for ((r = 0; r < storm_rounds; r++)); do
  for i in "${inits[@]}"; do
    collect "$i" "$($B storm "$storm_s" ${how[$i]})" orphans_per_s zombies_max drain_ms
  done
done
echo "## Orphan storm (double forks as fast as they go for ${storm_s} s, INIT as PID 1; median of $storm_rounds)"
echo
echo "| init | orphans/s | ratio to tini | most zombies seen | drain after the storm (ms) |"
echo "|---|---|---|---|---|"
for i in "${inits[@]}"; do
  echo "| $i | $(med "$i/orphans_per_s") | $(ratio "$(med "$i/orphans_per_s")" "$(med tini/orphans_per_s)") | $(med "$i/zombies_max") | $(med "$i/drain_ms") |"
done
echo

# --- 7. shutdown -----------------------------------------------------------
for ((r = 0; r < rounds; r++)); do
  for i in "${inits[@]}"; do got[$i/polite]+="$($B shutdown polite 10 ${how[$i]} | field ms) "; done
done
declare -A stub
for i in "${inits[@]}"; do
  w=${how[$i]}
  [[ $i == dock* ]] && w="${w% --} --kill-timeout $stub_timeout --"
  line=$($B shutdown stubborn "$stub_limit" $w)
  stub[$i]=$(echo "$line" | grep -q hung && echo "still running after ${stub_limit} s" || echo "$(echo "$line" | field ms) ms")
done
echo "## Shutdown (kill -TERM of PID 1 until the namespace is empty)"
echo
echo "| init | command exits on SIGTERM (ms, median of $rounds) | ratio to tini | command ignores SIGTERM |"
echo "|---|---|---|---|"
for i in "${inits[@]}"; do
  echo "| $i | $(med "$i/polite") | $(ratio "$(med "$i/polite")" "$(med tini/polite)") | ${stub[$i]} |"
done
echo
echo "dock runs the ignoring case with --kill-timeout $stub_timeout: SIGKILL to what is left then."
echo

# --- 8. output -----------------------------------------------------------------
# The command writes $out_lines bytes as 100-byte lines (one write each) or
# $out_blocks bytes as 64 KiB writes, to a file or a pipe (read by cat into
# /dev/null), directly or through dock.
log=$dir/out.log
now_ns() { date +%s%N; }
size_of() { [ "$1" = lines ] && echo "$out_lines" || echo "$out_blocks"; }
out_case() {  # CASE MODE: one timed run, in ms
  local t0 t1 w="./tests/helper write $(size_of "$2") $2"
  rm -f "$log"
  rm -rf "$dir"/rot
  mkdir "$dir"/rot
  t0=$(now_ns)
  case $1 in
    file) $w >"$log" ;;
    file-io) ./dock --io "$log" -- $w ;;
    file-io-prefix) ./dock --io "$log" --stdout-prefix 'app| ' -- $w ;;
    file-io-rotate) ./dock --io "$dir"/rot/app.log --log-max-size 256m -- $w ;;
    pipe) $w | cat >/dev/null ;;
    pipe-dock) ./dock -- $w | cat >/dev/null ;;
    pipe-prefix) ./dock --stdout-prefix 'app| ' -- $w | cat >/dev/null ;;
  esac
  t1=$(now_ns)
  echo $(((t1 - t0) / 1000000))
}
echo "## Output ($((out_lines >> 20)) MiB of lines, $((out_blocks >> 20)) MiB of 64 KiB writes per run; median of $out_runs runs)"
echo
echo "| writes | case | MB/s | ratio to direct |"
echo "|---|---|---|---|"
for mode in lines blocks; do
  for ((r = 0; r < out_runs; r++)); do
    for c in file file-io file-io-prefix file-io-rotate pipe pipe-dock pipe-prefix; do
      got[out/$mode/$c]+="$(out_case "$c" "$mode") "
    done
  done
  label=$([ "$mode" = lines ] && echo "100-byte lines" || echo "64 KiB")
  for c in file file-io file-io-prefix file-io-rotate pipe pipe-dock pipe-prefix; do
    ms=$(med "out/$mode/$c")
    [ "$ms" -gt 0 ] 2>/dev/null || ms=1
    direct=$(med "out/$mode/${c%%-*}")
    mbs=$(awk -v b="$(size_of "$mode")" -v ms="$ms" 'BEGIN { printf "%.0f", b / 1e6 / (ms / 1000) }')
    echo "| $label | $c | $mbs | $(ratio "$direct" "$ms") |"
  done
done
echo
echo "file: the command writes the file itself; file-io: dock --io FILE (the"
echo "command gets the file); file-io-prefix: with --stdout-prefix 'app| ';"
echo "file-io-rotate: --log-max-size 256m (dock reads and writes every line);"
echo "pipe: the command writes into cat; pipe-dock: dock in between (the"
echo "command gets the pipe); pipe-prefix: dock --stdout-prefix 'app| '."
echo

# Log rotation: the longest single write(2) of a command writing 100-byte
# lines, without rotation and while a $rot-byte archive is being compressed.
stall() {  # ARGS...: the longest write in ms, median of $out_runs runs
  local r out=()
  for ((r = 0; r < out_runs; r++)); do
    rm -rf "$dir"/rot && mkdir "$dir"/rot
    HELPER_STALL_OUT=$dir/stall ./dock --io "$dir"/rot/app.log "$@" -- ./tests/helper write $((2 * rot)) lines
    out+=("$(cat "$dir"/stall)")
  done
  printf '%s\n' "${out[@]}" | median | awk '{ printf "%.1f", $1 / 1000 }'
}
echo "## Log rotation: the command's longest write(2) while writing $((2 * rot >> 20)) MiB of 100-byte lines"
echo
echo "| case | longest write (ms) |"
echo "|---|---|"
echo "| dock --io FILE --stdout-prefix 'app| ' (no rotation) | $(stall --stdout-prefix 'app| ') |"
echo "| dock --io FILE --log-max-size $((rot >> 20))m (a $((rot >> 20)) MiB archive compressing meanwhile) | $(stall --log-max-size $((rot >> 20))m) |"
echo

# --- 8b. logs to a collector: --log-to ------------------------------------------
# The command writes $out_lines bytes of 100-byte lines through dock into
# cat; dock also sends every line to a collector that takes everything
# (fast), one that accepts and never reads (stalled), or none (absent: the
# port refuses). Timed: the command's own run, first write to last (dock's
# exit drain, up to 5 s for the stalled one, is not the command's time).
fast_port=$((30000 + $$ % 10000)) stalled_port=$((30000 + $$ % 10000 + 1)) absent_port=$((30000 + $$ % 10000 + 2))
$B collector "$fast_port" fast & fast_pid=$!
$B collector "$stalled_port" stalled & stalled_pid=$!
trap 'kill "$fast_pid" "$stalled_pid" 2>/dev/null; rm -rf "$dir"' EXIT
cmd_ms() {  # DOCK-ARGS...: the command's own time, in ms
  rm -f "$dir"/cmd_ms
  ./dock "$@" -- sh -c "t0=\$(date +%s%N); ./tests/helper write $out_lines lines
    echo \$(( (\$(date +%s%N) - t0) / 1000000 )) >$dir/cmd_ms" 2>/dev/null | cat >/dev/null
  cat "$dir"/cmd_ms 2>/dev/null || echo -
}
declare -A logto=([none]="" [timestamps]="--timestamps" [fast]="--log-to tcp://127.0.0.1:$fast_port"
                  [stalled]="--log-to tcp://127.0.0.1:$stalled_port" [absent]="--log-to tcp://127.0.0.1:$absent_port")
logto_cases=(none timestamps fast stalled absent)
logto_runs=$((quick ? 3 : 7))  # the cases differ by a few per cent: more rounds than the output's
for ((r = 0; r < logto_runs; r++)); do
  for c in "${logto_cases[@]}"; do
    # shellcheck disable=SC2086
    got[logto/$c]+="$(cmd_ms ${logto[$c]}) "
  done
done
echo "## Logs to a collector: the command's time to write $((out_lines >> 20)) MiB of 100-byte lines (median of $logto_runs runs)"
echo
echo "| collector | dock options | command's MB/s | ratio to a fast collector |"
echo "|---|---|---|---|"
for c in "${logto_cases[@]}"; do
  ms=$(med "logto/$c")
  mbs=$(awk -v b="$out_lines" -v ms="$ms" 'BEGIN { if (ms + 0 > 0) printf "%.0f", b / 1e6 / (ms / 1000); else print "-" }')
  echo "| $c | ${logto[$c]:-} | $mbs | $(ratio "$(med logto/fast)" "$ms") |"
done
echo
for ((r = 0; r < idle_rounds; r++)); do
  collect logto-up "$($B idle "$idle_s" ./dock --log-to "tcp://127.0.0.1:$fast_port" --)" cpu_ticks wakeups
  collect logto-away "$($B idle "$idle_s" ./dock --log-to "tcp://127.0.0.1:$absent_port" --)" cpu_ticks wakeups
done
lat=$($B loglat $((quick ? 500 : 5000)) ./dock)
echo "| collector | wake-ups idle (${idle_s} s) | CPU ticks idle | write to receipt, median / p99 (µs), a line a millisecond |"
echo "|---|---|---|---|"
echo "| connected | $(med logto-up/wakeups) | $(med logto-up/cpu_ticks) | $(echo "$lat" | field median_us) / $(echo "$lat" | field p99_us) |"
echo "| away (backoff 100 ms doubling to 30 s) | $(med logto-away/wakeups) | $(med logto-away/cpu_ticks) | |"
echo

# --- 9. the static builds side by side ------------------------------------------
# SPEC §18: dock-static (musl) against the static inits an image without a
# libc would take instead, from the figures above (ratios below 1: dock-static
# is smaller, lighter or faster; for orphans/s, above 1 is faster).
echo "## dock-static (musl) beside the static inits (ratios of the figures above)"
echo
echo "| peer | bytes | VmHWM | start-up as PID 1 | start-up plain | signal latency over the floor | orphans/s |"
echo "|---|---|---|---|---|---|---|"
size_of() { stat -c %s "$(path_of "$1")"; }
over_floor() { awk -v a="$(med "$1/median_us")" -v b="$floor" 'BEGIN { if (a == "-") print "-"; else printf "%.1f", a - b }'; }
for peer in tini-static catatonit dock-static-tls; do
  have "$peer" || continue
  echo "| dock-static / $peer | $(ratio "$(size_of dock-static)" "$(size_of "$peer")") | $(ratio "$(med dock-static/vmhwm_kb)" "$(med "$peer/vmhwm_kb")") | $(ratio "${over[dock-static/pid1]}" "${over[$peer/pid1]}") | $(ratio "${over[dock-static/plain]}" "${over[$peer/plain]}") | $(ratio "$(over_floor dock-static)" "$(over_floor "$peer")") | $(ratio "$(med dock-static/orphans_per_s)" "$(med "$peer/orphans_per_s")") |"
done
