#!/usr/bin/env bash
# tests/e2e/sdk.sh — the model API with the official SDKs as clients: the
# openai and @anthropic-ai/sdk npm packages (pinned in tests/sdk/package.json,
# installed by scripts/setup into tests/sdk/node_modules) against a mast
# server with two chat models and an embedding model.
source "$(dirname "$0")/lib.sh"
SDK="$(cd "$(dirname "$0")/../sdk" && pwd)"
if [ ! -d "$SDK/node_modules/openai" ] || [ ! -d "$SDK/node_modules/@anthropic-ai/sdk" ]; then
  fail "sdk packages" "tests/sdk/node_modules is missing: run scripts/setup (it runs npm ci there)"
  finish
  exit 1
fi
M="$DATA/models"
serve "$WORK/serve.log" --parallel 16 --queue 2 -m "$M/stories260K.gguf" -m "$M/tiny-llama-gqa-random.gguf" \
  --alias tiny=$M/tiny-llama-gqa-random.gguf --embed-model "$M/tiny-bert-random.gguf"
check "server ready" test -n "$PORT"
# what `mast run` and `mast embed` say, for the SDK tests to compare with
export MAST_GREEDY="$("$MAST" run -m "$M/stories260K.gguf" --chat -p "Once upon a time" -n 24 --temp 0 2>/dev/null)"
export MAST_COMPLETION="$("$MAST" run -m "$M/stories260K.gguf" -p "Lily saw a" -n 12 --temp 0 2>/dev/null)"
export MAST_EMBED="$("$MAST" embed -m "$M/tiny-bert-random.gguf" --json "the cat sat" 2>/dev/null)"
export MAST_URL="http://127.0.0.1:$PORT"
if node --test --test-reporter=tap "$SDK"/*.test.mjs >"$WORK/node.log" 2>&1; then
  pass "node --test (openai and anthropic SDKs): $(grep -c '^ok ' "$WORK/node.log") tests"
else
  fail "node --test" "$(grep -v '^#' "$WORK/node.log" | tail -60)"
fi
grep -E '^# (pass|fail)' "$WORK/node.log" >&2
kill "$SERVER"
wait "$SERVER"
RC=$?
check "server stopped cleanly" test "$RC" -eq 0
[ "$RC" -eq 0 ] || tail -30 "$WORK/serve.log" >&2
finish
