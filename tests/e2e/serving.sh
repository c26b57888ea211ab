#!/usr/bin/env bash
# tests/e2e/serving.sh — serving many users from one machine: socket activation (systemd's
# LISTEN_FDS protocol, with a request sent before the process exists), --idle-exit (scale to
# zero, never while a request is being answered), --parallel and the q8_0 KV cache from the
# command line, and the errors of bad options.
source "$(dirname "$0")/lib.sh"
M="$DATA/models"
py() { python3 - "$@"; }

# ---- socket activation: a bound socket passed as fd 3 with LISTEN_FDS=1 and LISTEN_PID; a
# client that connects and sends its request before mast starts is answered once it runs
py "$MAST" "$M/stories260K.gguf" "$WORK" >"$WORK/activation.out" 2>"$WORK/activation.err" <<'PYEOF'
import json, os, socket, subprocess, sys, threading, time
mast, model, work = sys.argv[1:4]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
port = s.getsockname()[1]
if s.fileno() != 3:
    os.dup2(s.fileno(), 3)
early = {}
def first_request():   # connects before the server runs: waits in the socket's queue
    c = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0})
    c.sendall(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)).encode())
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    early["reply"] = data.decode(errors="replace")
t = threading.Thread(target=first_request)
t.start()
time.sleep(0.3)   # the request is in the socket's queue; no process is listening yet
log = open(work + "/activated.log", "w")
p = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', mast, "serve",
                      "--db", work + "/act.db", "-m", model, "--port", "1"],
                     pass_fds=(3,), stderr=log)
if s.fileno() != 3:
    os.close(3)
s.close()
t.join(60)
reply = early.get("reply", "")
print("early:", reply.split("\r\n")[0])
print("text:", json.loads(reply.split("\r\n\r\n", 1)[1])["choices"][0]["text"] != "" if "\r\n\r\n" in reply else None)
p.terminate()
print("exit:", p.wait(30))
PYEOF
check "a request sent before the process started is answered (200)" \
  grep -q "^early: HTTP/1.1 200" "$WORK/activation.out"
check "… with generated text" grep -q "^text: True" "$WORK/activation.out"
check "… mast said it serves the passed socket, not --port" \
  grep -q "on the socket systemd passed (port" "$WORK/activated.log"
check "… and stopped cleanly on SIGTERM" grep -q "^exit: 0" "$WORK/activation.out"
[ -s "$WORK/activation.err" ] && cat "$WORK/activation.err" >&2

# LISTEN_FDS that is not a listening socket, and more than one socket
expect "LISTEN_FDS on a fd that is no listening socket (exit 1)" 1 \
  sh -c 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" serve --db "$1" 3</dev/null' "$MAST" "$WORK/x.db"
check "… names the descriptor" contains "$ERR" "file descriptor 3 (LISTEN_FDS) is not a listening socket"
expect "two sockets (usage error)" 2 \
  sh -c 'LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" serve --db "$1"' "$MAST" "$WORK/x.db"
check "… says mast serves one" contains "$ERR" "socket activation passed 2 sockets (LISTEN_FDS)"
# LISTEN_PID of another process: not ours, so mast binds --port (here one already taken)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$WORK/taken" &
HOLDER=$!
for _ in $(seq 50); do [ -s "$WORK/taken" ] && break; sleep 0.1; done
TAKEN="$(cat "$WORK/taken")"
expect "LISTEN_PID of another process is not ours (exit 1: --port $TAKEN is taken)" 1 \
  env LISTEN_PID=1 LISTEN_FDS=1 "$MAST" serve --db "$WORK/x.db" --port "$TAKEN"
check "… it tried --port" contains "$ERR" "cannot listen on 127.0.0.1:$TAKEN"
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null

# ---- --idle-exit: status 0 after the quiet period, counted from the last request
START=$(date +%s.%N)
serve "$WORK/idle.log" --idle-exit 2 -m "$M/stories260K.gguf" --db "$WORK/idle.db"
check "server with --idle-exit ready" test -n "$PORT"
sleep 1.2
curl -sf "http://127.0.0.1:$PORT/v1/completions" -d '{"prompt": "Once", "max_tokens": 4}' >/dev/null
AT=$(date +%s.%N)
wait "$SERVER"
RC=$?
END=$(date +%s.%N)
check "… exits with status 0" test "$RC" -eq 0
check "… says why" grep -q "idle for 2 seconds, stopping (--idle-exit)" "$WORK/idle.log"
check "… 2 s after the last request, not after the start ($(py "$AT" "$END" <<'PYEOF'
import sys; print("%.2f s" % (float(sys.argv[2]) - float(sys.argv[1])))
PYEOF
))" py "$START" "$AT" "$END" <<'PYEOF'
import sys
start, at, end = map(float, sys.argv[1:4])
sys.exit(0 if 1.9 <= end - at <= 4.0 and end - start >= 3.0 else 1)
PYEOF

# not while a stream is open: a model slow enough that 1,500 tokens take more than the
# idle period, streamed to a client that reads it all
"$MAST" gguf synth --arch llama --n-embd 512 --n-layer 8 --n-head 8 --n-head-kv 4 --n-ff 1024 \
  --n-vocab 32000 --ctx 2048 --type q8_0 --vocab "$DATA/vocab/ggml-vocab-llama-spm.gguf" \
  -o "$WORK/slow.gguf" 2>/dev/null
serve "$WORK/idle2.log" --idle-exit 1 -m "$WORK/slow.gguf" --ctx 2048 --db "$WORK/idle2.db"
check "server with --idle-exit 1 ready" test -n "$PORT"
py "$PORT" >"$WORK/stream.out" <<'PYEOF'
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=120)
t0 = time.time()
c.request("POST", "/v1/completions", json.dumps({"prompt": "Once upon a time", "max_tokens": 1500,
          "temperature": 0, "stream": True, "logit_bias": {"2": -100}}), {"Content-Type": "application/json"})
r = c.getresponse()
chunks = sum(1 for line in r if line.startswith(b"data: {"))
print("chunks", chunks, "seconds %.2f" % (time.time() - t0))
PYEOF
wait "$SERVER"
RC=$?
check "… the stream was read whole ($(cat "$WORK/stream.out"))" py "$(cat "$WORK/stream.out")" <<'PYEOF'
import sys
w = sys.argv[1].split()
sys.exit(0 if int(w[1]) >= 1000 and float(w[3]) > 1.0 else 1)
PYEOF
check "… then the server exited with status 0" test "$RC" -eq 0

# ---- options: --parallel, --kv-type q8_0 and their errors
expect "--parallel 0 (usage error)" 2 "$MAST" serve --parallel 0
check "… names the option" contains "$ERR" "--parallel"
expect "--kv-memory lots (usage error)" 2 "$MAST" serve --kv-memory lots
check "… says what a size is" contains "$ERR" "--kv-memory wants a size such as 512M or 2G (got 'lots')"
expect "--kv-type q4 (usage error)" 2 "$MAST" serve --kv-type q4
check "… lists the types" contains "$ERR" "--kv-type must be f16, f32 or q8_0 (got 'q4')"
expect "q8_0 KV for a model whose head size is 8 (exit 1)" 1 \
  "$MAST" run -m "$M/stories260K.gguf" -p "Once" -n 4 --kv-type q8_0
check "… says why and what to use" contains "$ERR" "multiple of 32 (this model's is 8): use f16"
expect "q8_0 KV on a 64-wide head: generates" 0 \
  "$MAST" run -m "$WORK/slow.gguf" -p "Once" -n 8 --temp 0 --kv-type q8_0
check "… text" test -n "$OUT"
serve "$WORK/par.log" --preload --parallel 3 --kv-type q8_0 -m "$WORK/slow.gguf" --db "$WORK/par.db"
check "server with --parallel 3 --kv-type q8_0 ready" test -n "$PORT"
MODELS="$(curl -sf "http://127.0.0.1:$PORT/v1/models")"
check "… /v1/models says 3 slots, none busy" py "$MODELS" <<'PYEOF'
import json, sys
m = json.loads(sys.argv[1])["data"][0]
sys.exit(0 if m["slots"] == 3 and m["slots_busy"] == 0 and m["queued"] == 0 else 1)
PYEOF
SLOTS="$(curl -sf "http://127.0.0.1:$PORT/slots")"
check "… GET /slots lists 3 idle slots" py "$SLOTS" <<'PYEOF'
import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if len(s) == 3 and all(x["state"] == "idle" and x["n_ctx"] == 2048 for x in s) else 1)
PYEOF
kill "$SERVER"
wait "$SERVER"
check "… stopped cleanly" test $? -eq 0
finish
