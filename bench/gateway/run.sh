#!/usr/bin/env bash
# bench/gateway/run.sh [SECONDS] [RATES...] — the gateway's overhead, measured as LiteLLM's
# and Bifrost's benchmarks measure it: a fast stub upstream on loopback (bench/gateway/stub.c,
# a fixed ~1 KB chat.completion), an open-loop load generator at fixed rates
# (bench/gateway/load.c, 32 keep-alive connections, latency from each request's due time), and
# at each rate the same load sent straight to the stub and through `mast serve --config`
# one after the other. Prints one JSON line per rate: both latencies, the added mean/p50/p99,
# and mast's resident memory before and after, for plain replies ("mode": "reply": latency to
# the whole reply) and streams ("mode": "stream": time to the first content event).
# Defaults: 10 s at 500 1000 2000 3000 5000 req/s.
#   bench/gateway/run.sh --soak SECONDS RATE   only through mast, one mode (replies), for a long
#                                              time: its resident memory every 30 s, then the latency
set -euo pipefail
cd "$(dirname "$0")/../.."
SOAK=""
if [ "${1:-}" = "--soak" ]; then
  SOAK="${2:?--soak SECONDS RATE}"
  SOAK_RATE="${3:?--soak SECONDS RATE}"
  set -- 1
fi
SECS="${1:-10}"
shift || true
RATES=("${@:-500 1000 2000 3000 5000}")
RATES=(${RATES[@]})
WORK="$(mktemp -d /tmp/mast-gwbench-XXXXXX)"
SAMPLER=""
trap 'kill $STUB $MASTPID $SAMPLER 2>/dev/null; rm -rf "$WORK"' EXIT
build/bench/bench_gateway_stub >"$WORK/stub.log" &
STUB=$!
for _ in $(seq 50); do SP="$(sed -n 's/^port //p' "$WORK/stub.log")"; [ -n "$SP" ] && break; sleep 0.1; done
cat >"$WORK/mast.yaml" <<YAML
models:
  - name: bench
    deployments:
      - {provider: openai-compatible, base_url: "http://127.0.0.1:$SP/v1", model: stub}
YAML
build/mast serve --port 0 --config "$WORK/mast.yaml" --db "$WORK/mast.db" 2>"$WORK/serve.log" &
MASTPID=$!
for _ in $(seq 100); do
  MP="$(sed -n 's/.*http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$WORK/serve.log")"
  [ -n "$MP" ] && curl -sf "http://127.0.0.1:$MP/health" >/dev/null && break
  sleep 0.1
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$MASTPID/status"; }
build/bench/bench_gateway_load "$MP" 500 2 32 >/dev/null   # warm-up: connections, caches
if [ -n "$SOAK" ]; then
  ( while sleep 30; do echo "{\"t_s\": $SECONDS, \"mast_rss_kb\": $(rss)}"; done ) &
  SAMPLER=$!
  build/bench/bench_gateway_load "$MP" "$SOAK_RATE" "$SOAK" 32
  kill "$SAMPLER"
  echo "{\"end\": true, \"mast_rss_kb\": $(rss)}"
  exit 0
fi
for r in "${RATES[@]}"; do
 for mode in reply stream; do
  arg=""; [ "$mode" = stream ] && arg=stream
  before="$(rss)"
  direct="$(build/bench/bench_gateway_load "$SP" "$r" "$SECS" 32 $arg)"
  via="$(build/bench/bench_gateway_load "$MP" "$r" "$SECS" 32 $arg)"
  after="$(rss)"
  python3 - "$direct" "$via" "$before" "$after" "$mode" <<'PY'
import json, sys
d, v = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({"rate": d["rate"], "mode": sys.argv[5], "direct": d, "mast": v,
                  "added_mean_us": round(v["mean_us"] - d["mean_us"], 1),
                  "added_p50_us": round(v["p50_us"] - d["p50_us"], 1),
                  "added_p99_us": round(v["p99_us"] - d["p99_us"], 1),
                  "all_ok": v["ok"] == v["sent"] and v["lost"] == 0,
                  "mast_rss_kb_before": int(sys.argv[3]), "mast_rss_kb_after": int(sys.argv[4])}))
PY
 done
done
