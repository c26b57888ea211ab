#!/usr/bin/env python3
"""bench/serve/bench_serve.py URL [RUNS] — single-stream serving speed through the HTTP API.

Sends RUNS (default 3) streamed POST /v1/completions requests to URL (an OpenAI-compatible
server: mast serve or llama-server), each a ~512-token prompt that starts with a different
number (so no server can reuse a cached prompt), 128 tokens greedy with the end-of-text
token 2 banned (logit_bias), and measures from the client's side:
  ttft_ms        request sent -> first streamed token
  gen_tokens_per_s  (tokens - 1) / (last token - first token), tokens from the usage chunk
Prints one JSON object with the best (lowest TTFT, highest tokens/s) of the runs. Against
mast serve it also reads the runs' traces (GET /v1/traces) for the engine's own generation
tokens/s in the same requests, so the HTTP layer's share shows without the drift between runs.
"""
import http.client, json, sys, time, urllib.parse

import sse

url = urllib.parse.urlparse(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
TEXT = ("The quick brown fox jumps over the lazy dog while the small cat watches from the "
        "old wooden fence near the river. ") * 20


def one(i):
    body = {"prompt": "%d. %s" % (1000 + i, TEXT), "max_tokens": 128, "temperature": 0,
            "logit_bias": {"2": -100}}
    r = sse.completion(url.hostname, url.port, body, timeout=300)
    if r.status != 200:
        raise SystemExit("HTTP %d: %s" % (r.status, r.error))
    times, t0 = r.times, r.t0
    if len(times) < 2:
        raise SystemExit("too few tokens streamed (%d)" % len(times))
    n = r.tokens()
    return {"ttft_ms": (times[0] - t0) * 1e3,
            "gen_tokens_per_s": (n - 1) / (times[-1] - times[0]), "tokens": n}


one(-1)   # warm-up: the first request pays for loading pages
res = [one(i) for i in range(runs)]
out = {"url": sys.argv[1], "runs": runs, "ttft_ms": min(r["ttft_ms"] for r in res),
       "gen_tokens_per_s": max(r["gen_tokens_per_s"] for r in res), "tokens": res[0]["tokens"]}
try:   # mast: the engine's tokens/s for these very requests, from their traces
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("GET", "/v1/traces?limit=%d" % runs)
    r = conn.getresponse()
    rates = [t["attributes"]["mast.generation.tokens_per_second"] for t in json.loads(r.read())["data"]
             if "mast.generation.tokens_per_second" in t.get("attributes", {})] if r.status == 200 else []
    if len(rates) == runs:
        out["engine_tokens_per_s"] = max(rates)
except (OSError, ValueError, KeyError):
    pass
print(json.dumps(out))
