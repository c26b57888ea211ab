#!/usr/bin/env bash
# bench/serve/run.sh [WORK_DIR] — issue 15's serving benchmark: single-stream time to
# first token and generation tokens/s through the HTTP API (streamed /v1/completions,
# a ~512-token prompt, 128 tokens, bench/serve/bench_serve.py as the client) for the
# 124M llama shape of bench/gen in Q4_K_M, from mast serve and, with
# LLAMA_SERVER=/path/to/llama-server (llama.cpp built outside this repository), from
# llama-server on the same file in the same run; then build/bench/bench_generate on the
# same file (the engine without HTTP: generation right after a 512-token prompt). Both
# servers use 2 threads and a 2048-token context. One JSON line each, then the ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-/tmp/mast-gen}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
mkdir -p "$WORK"
F16="$WORK/llama124m-f16.gguf" Q="$WORK/llama124m-q4_k_m.gguf"
if [ ! -f "$Q" ]; then
  [ -f "$F16" ] || build/mast gguf synth --arch llama --n-embd 768 --n-layer 12 --n-head 12 \
    --n-head-kv 4 --n-ff 2048 --n-vocab 32000 --ctx 2048 --type f16 \
    --vocab "$DATA/vocab/ggml-vocab-llama-spm.gguf" -o "$F16" >&2
  build/mast quantize "$F16" "$Q" q4_k_m >&2
fi
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_ready() { for _ in $(seq 300); do curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.1; done; return 1; }
OUT="$WORK/serve.jsonl"
: > "$OUT"
P="$(free_port)"
build/mast serve --port "$P" -m "$Q" --ctx 2048 --model-threads 2 --db "$WORK/serve.db" 2>"$WORK/mast-serve.log" &
PID=$!
wait_ready "$P"
python3 bench/serve/bench_serve.py "http://127.0.0.1:$P" 3 | sed 's/^{/{"server": "mast",/' | tee -a "$OUT"
kill "$PID"; wait "$PID" || true
if [ -n "${LLAMA_SERVER:-}" ]; then
  P="$(free_port)"
  # LLAMA_SERVER_ARGS: more flags (e.g. "-np 1" for one slot instead of its default four)
  # shellcheck disable=SC2086
  LD_LIBRARY_PATH="$(dirname "$LLAMA_SERVER")" "$LLAMA_SERVER" -m "$Q" --port "$P" -t 2 -c 2048 \
    --no-webui ${LLAMA_SERVER_ARGS:-} >"$WORK/llama-server.log" 2>&1 &
  PID=$!
  wait_ready "$P"
  python3 bench/serve/bench_serve.py "http://127.0.0.1:$P" 3 | sed 's/^{/{"server": "llama-server",/' | tee -a "$OUT"
  kill "$PID"; wait "$PID" || true
fi
build/bench/bench_generate "$Q" 2 512 128 | sed 's/^{/{"server": "bench_generate",/' | tee -a "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
rows = {r["server"]: r for r in map(json.loads, open(sys.argv[1]))}
m = rows["mast"]
if "llama-server" in rows:
    l = rows["llama-server"]
    print("generation tokens/s mast / llama-server: %.2f (goal >= 1.3); TTFT mast / llama-server: %.2f (goal <= 0.8)"
          % (m["gen_tokens_per_s"] / l["gen_tokens_per_s"], m["ttft_ms"] / l["ttft_ms"]))
b = rows["bench_generate"]
print("HTTP: mast serve's streamed tokens/s / bench_generate's after the 512-token prompt: %.3f (goal >= 0.97;"
      " the two runs can fall in different bandwidth states)" % (m["gen_tokens_per_s"] / b["tg_after_prompt_tokens_per_s"]))
if "engine_tokens_per_s" in m:
    print("HTTP: streamed tokens/s as the client sees them / the engine's in the same requests: %.3f"
          % (m["gen_tokens_per_s"] / m["engine_tokens_per_s"]))
PY
