#!/usr/bin/env bash
# bench/compare_embed.sh — mast embed against llama.cpp's llama-embedding on the
# same GGUF file and the same texts, in one run (whole-process wall time, best
# of 3, model loading included for both).
#
#   LLAMA_EMBEDDING=/path/to/llama-embedding bench/compare_embed.sh MODEL.gguf TEXTS.txt [THREADS]
#
# TEXTS.txt holds one text per line. llama-embedding is not built by this
# project: build it yourself from llama.cpp and point LLAMA_EMBEDDING at it.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="$1"; TEXTS="$2"; THREADS="${3:-2}"
MAST="${MAST_BIN:-build/mast}"
LLAMA="${LLAMA_EMBEDDING:?set LLAMA_EMBEDDING to a llama-embedding binary}"
N=$(wc -l < "$TEXTS")

best() {   # best wall time of 3 runs of "$@", in seconds; a failing run aborts
  local b=999999
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$@" > /dev/null 2> /tmp/compare_embed.err; then
      echo "compare_embed: '$1' failed:" >&2; tail -3 /tmp/compare_embed.err >&2; exit 1
    fi
    t1=$(date +%s.%N)
    b=$(python3 -c "print(min($b, $t1 - $t0))")
  done
  echo "$b"
}

tm=$(best "$MAST" embed -m "$MODEL" --file "$TEXTS" -t "$THREADS")
# llama.cpp's fastest setting here: 512-token batches of 4 sequences (one batch of
# everything makes its attention quadratic in the whole batch; -np 32 at 4096 aborts)
tl=$(best "$LLAMA" -m "$MODEL" -f "$TEXTS" -t "$THREADS" --pooling mean -c 512 -b 512 -ub 512 \
       -np 4 --embd-normalize 2)
python3 -c "
n=$N; tm=$tm; tl=$tl
print('| tool | seconds | texts/s |\n|---|---:|---:|')
print('| mast embed | %.2f | %.1f |' % (tm, n / tm))
print('| llama-embedding | %.2f | %.1f |' % (tl, n / tl))
print('mast / llama.cpp throughput: %.2f' % (tl / tm))"
