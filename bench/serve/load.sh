#!/usr/bin/env bash
# bench/serve/load.sh [WORK_DIR] — issue 18's serving benchmark: many concurrent streaming
# clients (bench/serve/load.py: a ~256-token prompt each, 128 greedy tokens) at 1, 4, 16 and
# 64 clients, against `mast serve --parallel 64` (one server for every level) and, with
# LLAMA_SERVER=/path/to/llama-server (llama.cpp built outside this repository, see
# docs/benchmarks.md), against llama-server started for each level with as many slots as
# clients and continuous batching (-np N -cb -c N*512: 512 positions a slot, as mast's
# --ctx 512), on the 124M llama shape of bench/gen in each of FORMATS (default
# "q4_k_m q8_0 f16"), one after the other in one run. Both use 2 threads. One JSON line per
# server, format and number of clients, into WORK_DIR/load.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-/tmp/mast-gen}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
FORMATS="${FORMATS:-q4_k_m q8_0 f16}"
CLIENTS="${CLIENTS:-1 4 16 64}"
LLAMA_CLIENTS="${LLAMA_CLIENTS:-$CLIENTS}"   # llama-server at 64 clients takes over 10 minutes here
mkdir -p "$WORK"
F16="$WORK/llama124m-f16.gguf"
[ -f "$F16" ] || build/mast gguf synth --arch llama --n-embd 768 --n-layer 12 --n-head 12 \
  --n-head-kv 4 --n-ff 2048 --n-vocab 32000 --ctx 2048 --type f16 \
  --vocab "$DATA/vocab/ggml-vocab-llama-spm.gguf" -o "$F16" >&2
for f in $FORMATS; do
  [ "$f" = f16 ] || [ -f "$WORK/llama124m-$f.gguf" ] || build/mast quantize "$F16" "$WORK/llama124m-$f.gguf" "$f" >&2
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 600); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; return 1; }
OUT="$WORK/load.jsonl"
: > "$OUT"
run_clients() {   # server format port
  for c in $CLIENTS; do
    python3 bench/serve/load.py "http://127.0.0.1:$3" "$c" 2 | sed "s/^{/{\"server\": \"$1\", \"format\": \"$2\",/" | tee -a "$OUT"
  done
}
for f in $FORMATS; do
  M="$WORK/llama124m-$f.gguf"
  P="$(free_port)"
  build/mast serve --port "$P" -m "$M" --parallel 64 --queue 64 --ctx 512 --model-threads 2 \
    --db "$WORK/load.db" 2>"$WORK/mast-load.log" &
  PID=$!
  wait_ready "$P"
  run_clients mast "$f" "$P"
  kill "$PID"; wait "$PID" || true
  for c in ${LLAMA_SERVER:+$LLAMA_CLIENTS}; do
    P="$(free_port)"
    LD_LIBRARY_PATH="$(dirname "$LLAMA_SERVER")" "$LLAMA_SERVER" -m "$M" --port "$P" -t 2 \
      -np "$c" -cb -c $((c * 512)) --no-webui >"$WORK/llama-load.log" 2>&1 &
    PID=$!
    wait_ready "$P"
    CLIENTS="$c" run_clients llama-server "$f" "$P"
    kill "$PID"; wait "$PID" || true
  done
done
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["server"], r["format"], r["clients"]): r for r in rows}
for (s, f, c), r in sorted(by.items()):
    if s != "mast":
        continue
    l = by.get(("llama-server", f, c))
    line = "%-7s %3d clients: mast %7.1f tok/s, ITL p99 %6.1f ms, TTFT p99 %7.1f ms, errors %d" % (
        f, c, r["gen_tokens_per_s"], r["itl_ms_p99"] or 0, r["ttft_ms_p99"] or 0, r["errors"])
    if l:
        line += " | llama-server %7.1f tok/s, ITL p99 %6.1f ms, TTFT p99 %7.1f ms, errors %d | ratio %.2f" % (
            l["gen_tokens_per_s"], l["itl_ms_p99"] or 0, l["ttft_ms_p99"] or 0, l["errors"],
            r["gen_tokens_per_s"] / l["gen_tokens_per_s"] if l["gen_tokens_per_s"] else 0)
    print(line)
PY
