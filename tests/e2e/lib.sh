# tests/e2e/lib.sh — helpers for end-to-end tests of the `mast` binary.
# Sourced by the e2e scripts (tests/CMakeLists.txt does not run it).
set -u
MAST="${MAST_BIN:?MAST_BIN must point at the mast binary}"
DATA="${MAST_SHARED_DATA:?MAST_SHARED_DATA must point at shared/data}"
WORK="$(mktemp -d /tmp/mast-e2e-XXXXXX)"
export MAST_DB="$WORK/mast.db"
N_PASS=0
N_FAIL=0
trap 'rm -rf "$WORK"' EXIT

pass() { N_PASS=$((N_PASS + 1)); echo "ok   $1" >&2; }
fail() { N_FAIL=$((N_FAIL + 1)); echo "FAIL $1: $2" >&2; }

# expect NAME EXIT_CODE COMMAND... : runs the command, keeps stdout/stderr in
# $OUT/$ERR, and checks the exit code.
expect() {
  local name="$1" code="$2"
  shift 2
  OUT="$("$@" 2>"$WORK/stderr")"
  local rc=$?
  ERR="$(cat "$WORK/stderr")"
  if [ "$rc" -eq "$code" ]; then pass "$name"; else fail "$name" "exit $rc, expected $code; stderr: $ERR"; fi
}

# check NAME CONDITION-COMMAND...
check() {
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name" "condition failed: $*"; fi
}

# serve LOG ARGS... : starts `mast serve --port 0 ARGS` in the background (stderr to LOG),
# waits until /health answers 200 (the --preload models loaded), and sets $SERVER and $PORT ("" if it
# never did).
serve() {
  local log="$1"
  shift
  "$MAST" serve --port 0 "$@" 2>"$log" &
  SERVER=$!
  PORT=
  for _ in $(seq 100); do
    PORT="$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log")"
    [ -n "$PORT" ] && curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return
    sleep 0.1
  done
  PORT=
}

contains() { case "$1" in *"$2"*) return 0 ;; *) return 1 ;; esac; }

finish() {
  echo "$N_PASS passed, $N_FAIL failed"
  [ "$N_FAIL" -eq 0 ]
}
