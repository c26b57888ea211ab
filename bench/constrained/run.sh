#!/usr/bin/env bash
# bench/constrained/run.sh [WORK_DIR] — issue 15's constrained-decoding cost:
# the 124M llama shape of bench/gen (dim 768, 12 layers, FFN 2048) written by
# `mast gguf synth` with two real vocabularies, the 32,000-token Llama SPM one
# and the 102,400-token DeepSeek LLM byte-level BPE one, quantized to Q4_K_M
# (the fastest weights, so the masking's share is the largest), then
# build/bench/bench_constrained on each at 2 threads: 128 tokens unconstrained
# and under a JSON Schema's grammar, greedy and sampled. One JSON line per model.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK="${1:-/tmp/mast-constrained}"
DATA="${MAST_SHARED_DATA:-../shared/data}"
mkdir -p "$WORK"
for v in llama-spm:32000 deepseek-llm:102400; do
  name="${v%%:*}" n="${v##*:}"
  f16="$WORK/$name-f16.gguf" q="$WORK/$name-q4_k_m.gguf"
  if [ ! -f "$q" ]; then
    build/mast gguf synth --arch llama --n-embd 768 --n-layer 12 --n-head 12 --n-head-kv 4 \
      --n-ff 2048 --n-vocab "$n" --ctx 2048 --type f16 --vocab "$DATA/vocab/ggml-vocab-$name.gguf" \
      -o "$f16" >&2
    build/mast quantize "$f16" "$q" q4_k_m >&2
  fi
  build/bench/bench_constrained "$q" 2 128
done
