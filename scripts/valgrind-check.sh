#!/bin/bash
# Valgrind's memcheck over dock's core scenarios: signals, reaping and
# leftovers, --io to a file and to TCP, prefixes, rotation, the web hook.
# Each must end with the expected status, the expected output, and no
# memcheck error or leak in dock (or in the compressor it forks).
# Ends with one line: valgrind: N passed, N failed.
set -u
cd "$(dirname "$0")/.."
make -s dock-debug >/dev/null || exit 1

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
passed=0 failed=0
# dock replaces operator new/delete with malloc/free (built without
# exceptions); valgrind must not swap in its own new for them alone.
vg=(valgrind -q --soname-synonyms=somalloc=nouserintercepts --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --log-file="$work/vg.%p")

# check NAME EXPECTED-STATUS EXPECTED-STDOUT-FILE-OR-- DOCK-ARGS...
check() {
  local name=$1 want=$2 want_out=$3; shift 3
  rm -f "$work"/vg.*
  "${vg[@]}" ./dock-debug "$@" >"$work/out" 2>"$work/err" </dev/null
  local got=$? ok=1
  if [ "$got" != "$want" ]; then echo "valgrind $name: status $got, expected $want"; ok=0; fi
  if [ "$want_out" != - ] && ! cmp -s "$work/out" "$want_out"; then
    echo "valgrind $name: unexpected output:"; head -n 5 "$work/out"; ok=0
  fi
  if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]|Invalid|uninitialised' "$work"/vg.* 2>/dev/null; then
    echo "valgrind $name: memcheck reports:"; cat "$work"/vg.*; ok=0
  fi
  if [ "$ok" = 1 ]; then passed=$((passed + 1)); echo "valgrind $name: clean"
  else failed=$((failed + 1)); sed 's/^/  dock: /' "$work/err" | head -n 5; fi
}

# A listener on 127.0.0.1 whose port socat chooses and reports: LISTEN
# ADDRESS-AFTER-COMMA... sets $port once socat says it listens.
listen() {
  local fifo=$work/socat.$RANDOM
  mkfifo "$fifo"
  socat -d -d "TCP-LISTEN:0,bind=127.0.0.1,reuseaddr$1" "$2" 2>"$fifo" &
  port=
  local line
  while IFS= read -r -t 10 line; do
    if [[ $line =~ listening\ on\ .*:([0-9]+)$ ]]; then port=${BASH_REMATCH[1]}; break; fi
  done <"$fifo"
  cat "$fifo" >/dev/null &  # keep socat's log flowing
  [ -n "$port" ]
}

printf 'got-usr1\n' >"$work/usr1.want"
check signals 0 "$work/usr1.want" -- sh -c 'trap "echo got-usr1; exit 0" USR1; kill -USR1 $PPID; while :; do sleep 0.05; done'

check reaping 4 - -- sh -c '(sleep 0.1 &); (sleep 0.1 &); sleep 0.3; exit 4'
check leftovers 2 - --kill-timeout 1s -- sh -c 'sleep 30 & sh -c "trap \"\" TERM; sleep 30" & exit 2'

check io-file 0 /dev/null --io "$work/app.log" -- sh -c 'echo out; echo err >&2'
printf 'out\nerr\n' >"$work/io.want"
cmp -s "$work/app.log" "$work/io.want" || { echo "valgrind io-file: file holds $(cat "$work/app.log")"; failed=$((failed + 1)); passed=$((passed - 1)); }

seq 3 | sed 's/^/o| /' >"$work/prefix.want"
check prefix 0 "$work/prefix.want" --stdout-prefix 'o| ' --stderr-prefix 'e| ' -- sh -c 'seq 3; echo x >&2'

if listen "" "OPEN:$work/tcp.got,creat,trunc"; then
  check io-tcp 0 /dev/null --io "tcp://127.0.0.1:$port" --stdout-prefix 'n| ' -- seq 1000
  wait %% 2>/dev/null
  seq 1000 | sed 's/^/n| /' | cmp -s - "$work/tcp.got" ||
    { echo "valgrind io-tcp: the peer got $(wc -l <"$work/tcp.got") lines"; failed=$((failed + 1)); passed=$((passed - 1)); }
else
  echo "valgrind io-tcp: socat did not listen"; failed=$((failed + 1))
fi

mkdir "$work/rot"
check rotation 0 /dev/null --io "$work/rot/app.log" --log-max-size 4k --log-keep 3 -- seq 5000
if [ "$(ls "$work/rot" | grep -c '^app\.log_')" -lt 1 ]; then
  echo "valgrind rotation: no archive made"; failed=$((failed + 1)); passed=$((passed - 1))
fi

printf '#!/bin/sh\nprintf "HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n"\nexec cat >/dev/null\n' >"$work/answer"
chmod +x "$work/answer"
if listen ",fork" "EXEC:$work/answer"; then
  check hook 3 /dev/null --web-hook "http://127.0.0.1:$port/state" -- sh -c 'sleep 0.2; exit 3'
  grep -q 'not delivered' "$work/err" && { echo "valgrind hook: $(cat "$work/err")"; failed=$((failed + 1)); passed=$((passed - 1)); }
else
  echo "valgrind hook: socat did not listen"; failed=$((failed + 1))
fi

echo "valgrind: $passed passed, $failed failed"
[ "$failed" = 0 ]
