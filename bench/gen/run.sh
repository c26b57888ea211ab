#!/usr/bin/env bash
# bench/gen/run.sh [WORK_DIR] — issue 7's generation benchmark: a llama-shaped
# model of ~124M parameters (dim 768, 12 layers, 12 heads, 4 KV heads, FFN
# 2048, vocab 32000 with the shared Llama SPM vocabulary) made by `mast gguf
# synth` in F16 and quantized by `mast quantize` to Q8_0 and Q4_K_M; for each,
# at 1 and 2 threads: prompt processing (512 random tokens, one batch) and
# generation (128 tokens from an empty context, as llama-bench's tg128, and
# after the 512-token prompt) tokens/s with build/bench/bench_generate, and
# the fraction of the read-bandwidth roofline generation reaches.
#
# With LLAMA_BENCH=/path/to/llama-bench (llama.cpp built outside this
# repository), the same files go through llama-bench -p 512 -n 128 in the
# same run and the ratios are printed.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-/tmp/mast-gen}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
mkdir -p "$WORK"
F16="$WORK/llama124m-f16.gguf"
if [ ! -f "$F16" ]; then
  build/mast gguf synth --arch llama --n-embd 768 --n-layer 12 --n-head 12 --n-head-kv 4 \
    --n-ff 2048 --n-vocab 32000 --ctx 2048 --type f16 \
    --vocab "$DATA/vocab/ggml-vocab-llama-spm.gguf" -o "$F16" >&2
fi
for q in q8_0 q4_k_m; do
  [ -f "$WORK/llama124m-$q.gguf" ] || build/mast quantize "$F16" "$WORK/llama124m-$q.gguf" "$q" >&2
done
OUT="$WORK/results.jsonl"
: > "$OUT"
for q in f16 q8_0 q4_k_m; do
  for t in 1 2; do
    echo "== $q, $t thread(s)" >&2
    build/bench/bench_generate "$WORK/llama124m-$q.gguf" "$t" 512 128 >> "$OUT"
    if [ -n "${LLAMA_BENCH:-}" ]; then
      LD_LIBRARY_PATH="$(dirname "$LLAMA_BENCH")" "$LLAMA_BENCH" -m "$WORK/llama124m-$q.gguf" \
        -p 512 -n 128 -t "$t" -r 3 -o json 2>/dev/null |
        python3 -c '
import json, sys
rows = json.load(sys.stdin)
out = {"engine": "llama.cpp", "model": sys.argv[1], "threads": int(sys.argv[2])}
for r in rows:
    key = "pp_tokens_per_s" if r["n_prompt"] else "tg_tokens_per_s"
    out[key] = r["avg_ts"]
print(json.dumps(out))' "$WORK/llama124m-$q.gguf" "$t" >> "$OUT"
    fi
  done
done
python3 - "$OUT" <<'PY'
import json, os, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mast = [r for r in rows if "engine" not in r]
peer = {(r["model"], r["threads"]): r for r in rows if r.get("engine") == "llama.cpp"}
print("| model | threads | mast pp512 t/s | --fast-prompt | mast tg128 t/s | of roofline | roofline t/s | tg128 after pp512 | llama.cpp pp512 | llama.cpp tg128 | pp ratio (fast) | tg ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in mast:
    p = peer.get((m["model"], m["threads"]))
    name = os.path.basename(m["model"]).replace(".gguf", "")
    row = "| %s | %d | %.1f | %.1f | %.1f | %.0f%% | %.1f | %.1f |" % (name, m["threads"], m["pp_tokens_per_s"],
          m["pp_fast_tokens_per_s"], m["tg_tokens_per_s"], 100 * m["of_roofline"], m["roofline_tokens_per_s"],
          m["tg_after_prompt_tokens_per_s"])
    if p:
        row += " %.1f | %.1f | %.2f (%.2f) | %.2f |" % (p["pp_tokens_per_s"], p["tg_tokens_per_s"],
               m["pp_tokens_per_s"] / p["pp_tokens_per_s"], m["pp_fast_tokens_per_s"] / p["pp_tokens_per_s"],
               m["tg_tokens_per_s"] / p["tg_tokens_per_s"])
    else:
        row += " | | | |"
    print(row)
PY
