#!/usr/bin/env python3
"""bench/serve/load.py URL CLIENTS [REQUESTS_PER_CLIENT] — many streaming clients at once.

CLIENTS threads each send REQUESTS_PER_CLIENT (default 2) streamed POST /v1/completions
requests one after the other to URL (an OpenAI-compatible server: mast serve or
llama-server). Each request is a ~256-token prompt that starts with its own number (so no
prompt cache helps) and reads 128 greedy tokens with the end-of-text token 2 banned by
logit_bias (so every request generates all 128). Measured at the clients:
  gen_tokens_per_s   every generated token / the wall time from the first request sent to
                     the last stream closed (aggregate throughput)
  ttft_ms p50/p99    request sent -> its first streamed token
  itl_ms p50/p99     the gaps between consecutive streamed tokens of a request
  errors             requests that failed (HTTP status other than 200, or a broken stream)
Prints one JSON object.
"""
import json, sys, threading, time, urllib.parse

import sse

url = urllib.parse.urlparse(sys.argv[1])
clients = int(sys.argv[2])
per_client = int(sys.argv[3]) if len(sys.argv) > 3 else 2
TEXT = ("The quick brown fox jumps over the lazy dog while the small cat watches from the "
        "old wooden fence near the river. ") * 10   # about 256 tokens with the number


def one(i, out):
    body = {"prompt": "%d. %s" % (10000 + i, TEXT), "max_tokens": 128, "temperature": 0,
            "logit_bias": {"2": -100}}
    try:
        r = sse.completion(url.hostname, url.port, body)
    except (OSError, ValueError) as e:
        out.append({"error": str(e)})
        return
    if r.status != 200:
        out.append({"error": "HTTP %d" % r.status})
    elif not r.times:
        out.append({"error": "no tokens"})
    else:
        out.append({"ttft": r.times[0] - r.t0, "gaps": [b - a for a, b in zip(r.times, r.times[1:])],
                    "tokens": r.tokens(), "end": r.times[-1]})


def client(c, out):
    for k in range(per_client):
        one(c * per_client + k, out)


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] * 1e3 if v else None


one(-1, [])   # warm-up: the first request pays for loading pages
results = []
threads = [threading.Thread(target=client, args=(c, results)) for c in range(clients)]
t0 = time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
ok = [r for r in results if "error" not in r]
wall = max((r["end"] for r in ok), default=t0) - t0
gaps = [g for r in ok for g in r["gaps"]]
print(json.dumps({
    "url": sys.argv[1], "clients": clients, "requests": len(results), "errors": len(results) - len(ok),
    "error_kinds": sorted({r["error"] for r in results if "error" in r}),
    "gen_tokens_per_s": round(sum(r["tokens"] for r in ok) / wall, 1) if wall > 0 else 0,
    "ttft_ms_p50": pct([r["ttft"] for r in ok], 50), "ttft_ms_p99": pct([r["ttft"] for r in ok], 99),
    "itl_ms_p50": pct(gaps, 50), "itl_ms_p99": pct(gaps, 99), "wall_s": round(wall, 2)}))
