#!/bin/bash
# Runs README.md's examples, so that they cannot rot. Prints one "ok"/"FAIL"
# line per check and ends with "readme: N passed, N failed".
#
# - A block fenced as ```sh runnable runs with `sh` in an empty directory
#   of its own, with ./dock first in PATH as `dock` and no other variable
#   than PATH, HOME and LANG; it passes when it
#   exits 0 and, if an ```output block follows it, prints exactly that
#   (stdout and stderr together).
# - A block fenced as ```dockerfile runnable is built (when a Docker engine
#   answers) in a context holding dock-static, dock (both ./dock-static) and
#   my-server (the test helper, which listens on the port after --port);
#   the container is started with the image's own ENTRYPOINT and CMD, must
#   turn healthy when the image has a HEALTHCHECK, and `docker stop` must
#   end it with its command's status, 143.
# - Every other block is not run (it needs a registry, a cluster or a
#   service of yours), but every dock option it names must be one that
#   `dock --help` lists and every DOCK_* variable one of the options'.
set -u
cd "$(dirname "$0")/.."
. scripts/checks.sh
work=$(mktemp -d)
trap 'docker rm -f "dock-readme-$$" >/dev/null 2>&1; docker rmi -f "dock-readme-$$" >/dev/null 2>&1; rm -rf "$work"' EXIT


[ -x ./dock ] || make dock >/dev/null
[ -x ./dock-static ] || make dock-static >/dev/null
[ -x ./tests/helper-static ] || make tests/helper-static >/dev/null
mkdir -p "$work/bin"
ln -s "$PWD/dock" "$work/bin/dock"

# Splits README.md into blocks: $work/blocks/N.KIND (KIND: the fence's
# info string with blanks as '-', e.g. sh-runnable), and N.line (its line).
mkdir "$work/blocks"
awk -v dir="$work/blocks" '
  /^```/ {
    if (!inside) { inside = 1; n++; kind = substr($0, 4); gsub(/[ \t]+/, "-", kind); if (kind == "") kind = "plain"
                   file = dir "/" n "." kind; printf "" >file; print NR >(dir "/" n ".line"); next }
    inside = 0; close(file); next
  }
  inside { print >>file }
' README.md

line_of() { cat "$work/blocks/${1%%.*}.line"; }
next_block() {  # the block right after block N, if it is an output block
  local f="$work/blocks/$(( $1 + 1 )).output"
  [ -e "$f" ] && echo "$f"
}

# --- sh runnable -----------------------------------------------------------
for f in "$work"/blocks/*.sh-runnable; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .sh-runnable)
  dir="$work/run-$n"; mkdir "$dir"
  # A clean environment, as a reader's shell would not have this runner's.
  got=$(cd "$dir" && env -i PATH="$work/bin:$PATH" HOME="$dir" LANG=C.UTF-8 timeout 60 sh "$f" 2>&1); status=$?
  want=$(next_block "$n")
  name="README line $(line_of "$n"): $(head -n 1 "$f" | cut -c1-70)"
  if [ -n "$want" ]; then
    check "$name" bash -c '[ "$1" = 0 ] && [ "$2" = "$(cat "$3")" ]' _ "$status" "$got" "$want"
  else
    check "$name" test "$status" = 0
  fi
  [ "$status" = 0 ] || echo "     exit $status; output: $got"
done

# --- dockerfile runnable ---------------------------------------------------
dockerfiles=("$work"/blocks/*.dockerfile-runnable)
if [ ! -e "${dockerfiles[0]}" ]; then
  :
elif ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "skip the README's runnable Dockerfiles: no Docker engine answers"
  [ -n "$skips_file" ] && echo "readme tests: runnable Dockerfiles: no Docker engine answers" >>"$skips_file"
else
  for f in "${dockerfiles[@]}"; do
    n=$(basename "$f" .dockerfile-runnable)
    ctx="$work/ctx-$n"; mkdir "$ctx"
    cp ./dock-static "$ctx/dock-static"; cp ./dock-static "$ctx/dock"; cp ./tests/helper-static "$ctx/my-server"
    cp "$f" "$ctx/Dockerfile"
    name="README line $(line_of "$n"): Dockerfile"
    image="dock-readme-$$"
    if ! docker build -q -t "$image" "$ctx" >/dev/null 2>"$ctx/build.log"; then
      cat "$ctx/build.log"; check "$name builds" false; continue
    fi
    check "$name builds" true
    # Docker's health events, from before the start (30 s at most: Docker
    # probes at the image's interval).
    timeout 30 docker events --filter "container=$image" --filter event=health_status \
      --format '{{.Action}}' >"$ctx/events" 2>/dev/null &
    events=$!
    docker run -d --name "$image" --network none "$image" >/dev/null
    if grep -q '^HEALTHCHECK' "$f"; then
      timeout 30 tail -f "$ctx/events" 2>/dev/null | grep -q -m1 'health_status: healthy'
      health=$(docker inspect -f '{{.State.Health.Status}}' "$image" 2>/dev/null)
      check "$name: the container turns healthy ($health)" test "$health" = healthy
    fi
    kill "$events" 2>/dev/null; wait "$events" 2>/dev/null
    docker stop -t 20 "$image" >/dev/null
    code=$(docker inspect -f '{{.State.ExitCode}}' "$image")
    check "$name: docker stop ends it with its command's status ($code)" test "$code" = 143
    [ "$code" = 143 ] || docker logs "$image" 2>&1 | sed 's/^/     log: /'
    docker rm -f "$image" >/dev/null; docker rmi -f "$image" >/dev/null
  done
fi

# --- every block: the options and variables it names exist ------------------
help=$(./dock --help)
unknown=
for f in "$work"/blocks/*; do
  case $f in *.line|*.output|*.plain) continue ;; esac
  b=$(basename "$f"); at=$(line_of "${b%%.*}")
  # Options after a `dock` word (a shell line or an exec-form array), up to
  # the command; variables anywhere.
  for opt in $(grep -oE '(^|[ /"[])dock"?,? ([^|#]*)' "$f" | sed -E 's/("--"|[[:space:]]--([[:space:]]|$)).*//' |
    grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    grep -qE -- "(^| )$opt([ =[,]|$)" <<<"$help" || unknown+=" $opt (line $at)"
  done
  for var in $(grep -oE 'DOCK_[A-Z_]+' "$f" | sort -u); do
    case $var in DOCK_EXIT_STATUS | DOCK_CPUS | DOCK_MEMORY_MAX) continue ;; esac  # dock's output (--teardown, --cgroup-env)
    opt="--$(tr 'A-Z_' 'a-z-' <<<"${var#DOCK_}")"
    grep -qE -- "(^| )$opt([ =[,]|$)" <<<"$help" || unknown+=" $var (line $at)"
  done
done
check "every option and DOCK_* variable in README's examples is one dock has${unknown:+:$unknown}" test -z "$unknown"

echo "readme: $passed passed, $failed failed"
[ "$failed" = 0 ]
