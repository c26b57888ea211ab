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

best() {   # best wall time of 3 runs of "$@" in seconds, or "failed"
  local b=999999
  for _ in 1 2 3; do
    local t0 t1
    t0=$(date +%s.%N)
    if ! "$@" > /dev/null 2> /tmp/compare_embed.err; then
      echo failed; return
    fi
    t1=$(date +%s.%N)
    b=$(python3 -c "print(min($b, $t1 - $t0))")
  done
  echo "$b"
}

tm=$(best "$MAST" embed -m "$MODEL" --file "$TEXTS" -t "$THREADS")
[ "$tm" = failed ] && { echo "compare_embed: mast embed failed:" >&2; tail -3 /tmp/compare_embed.err >&2; exit 1; }
# llama.cpp: every embedding printed in full as mast does (--embd-output-format
# array; its default output adds an n x n cosine matrix), and the fastest of
# its batch settings that works on these texts: 512-token batches of at most
# 4 sequences, or batches of 256 / 1024 tokens with any number of sequences
# (its attention then spans the whole batch). -np 4 aborts on short texts.
tl=999999; best_cfg=""
for cfg in "-c 512 -b 512 -ub 512 -np 4" "-c 256 -b 256 -ub 256" "-c 1024 -b 1024 -ub 1024"; do
  # shellcheck disable=SC2086
  t=$(best "$LLAMA" -m "$MODEL" -f "$TEXTS" -t "$THREADS" --pooling mean $cfg --embd-normalize 2 \
         --embd-output-format array)
  echo "llama-embedding $cfg: $t s" >&2
  if [ "$t" != failed ] && python3 -c "import sys; sys.exit(not $t < $tl)"; then tl=$t; best_cfg=$cfg; fi
done
[ -n "$best_cfg" ] || { echo "compare_embed: every llama-embedding setting failed" >&2; exit 1; }
python3 -c "
n=$N; tm=$tm; tl=$tl
print('| tool | seconds | texts/s |\n|---|---:|---:|')
print('| mast embed | %.2f | %.1f |' % (tm, n / tm))
print('| llama-embedding ($best_cfg) | %.2f | %.1f |' % (tl, n / tl))
print('mast / llama.cpp throughput: %.2f' % (tl / tm))"
