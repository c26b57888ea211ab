#!/usr/bin/env python3
"""bench/serve/cache_cold.py MAST MODEL.gguf [RUNS] — the prompt cache and the cold start.

1. Prefix caching: `mast serve -m MODEL --ctx 2048 --parallel 4` on a free port. A request
   whose prompt is a 1,024-token prefix (the same for every request) and a short question
   of its own is sent with cache_prompt false (the whole prompt decoded: uncached) and again
   after another request with the same prefix ran (cached): time to first streamed token,
   best of RUNS (default 3) each, and the cached_tokens the server reports.
2. Cold start with socket activation: a listening socket is bound first and passed to a new
   `mast serve -m MODEL` as fd 3 (LISTEN_FDS=1, LISTEN_PID); a client connects and sends a
   streamed completion right away; measured from starting the process to the first streamed
   token. "warm": the model file is in the page cache (read just before); "cold": its pages
   were dropped first (posix_fadvise DONTNEED, which drops a file's clean cached pages
   without root). Best of RUNS each.
3. The same cold start for a request with the 1,024-token prefix, without and with
   --cache-dir holding that prefix (saved by an earlier server when it stopped).
Prints one JSON object.
"""
import http.client, json, os, socket, subprocess, sys, tempfile, time

import sse
from sse import free_port

mast, model = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
work = tempfile.mkdtemp(prefix="mast-cache-cold-")
PREFIX = " ".join("Note %d: the valve %d opens at %d bar and closes at %d bar." % (i, i, i * 7 % 50, i * 3 % 40)
                  for i in range(40))


def stream_ttft(port, body, conn_sock=None):
    """Sends a streamed completion; seconds to the first token, and the usage."""
    r = sse.completion("127.0.0.1", port, body, timeout=300, sock=conn_sock)
    return (r.times[0] - r.t0) if r.times else None, r.usage


def wait_ready(port):
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not get ready")


out = {"model": model}
# ---- 1. prefix caching
port = free_port()
srv = subprocess.Popen([mast, "serve", "--port", str(port), "-m", model, "--ctx", "2048", "--parallel", "4",
                        "--model-threads", "2", "--db", work + "/c.db"], stderr=subprocess.DEVNULL)
wait_ready(port)
base = {"max_tokens": 8, "temperature": 0, "logit_bias": {"2": -100}}
stream_ttft(port, dict(base, prompt=PREFIX + " Q: valve 0?"))   # warm-up
uncached, cached, reported, prompt_tokens = [], [], [], 0
for i in range(runs):
    t, u = stream_ttft(port, dict(base, prompt=PREFIX + " Q: which valve opens at %d bar?" % i, cache_prompt=False))
    uncached.append(t)
    stream_ttft(port, dict(base, prompt=PREFIX + " Q: which valve closes at %d bar?" % i))   # holds the prefix
    t, u = stream_ttft(port, dict(base, prompt=PREFIX + " Q: which valve opens at %d bar?" % (i + 10)))
    cached.append(t)
    reported.append(u["prompt_tokens_details"]["cached_tokens"])
    prompt_tokens = u["prompt_tokens"]
srv.terminate()
srv.wait()
out.update({"prompt_tokens": prompt_tokens, "cached_tokens": min(reported),
            "ttft_uncached_ms": round(min(uncached) * 1e3, 1), "ttft_cached_ms": round(min(cached) * 1e3, 1),
            "cached_over_uncached": round(min(cached) / min(uncached), 3)})


# ---- 2. cold start through socket activation
def activated_start(drop, prompt="Once upon a time", extra=()):
    if drop:
        fd = os.open(model, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    else:
        with open(model, "rb") as f:
            while f.read(1 << 24):
                pass
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    port = s.getsockname()[1]
    if s.fileno() != 3:
        os.dup2(s.fileno(), 3)
    c = socket.create_connection(("127.0.0.1", port))   # waits in the backlog
    t0 = time.perf_counter()
    p = subprocess.Popen(["sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', mast, "serve", "-m", model,
                          "--ctx", "2048", "--model-threads", "2", "--db", work + "/s.db"] + list(extra),
                         pass_fds=(3,), stderr=subprocess.DEVNULL)
    if s.fileno() != 3:
        os.close(3)
    s.close()
    t_req = time.perf_counter()
    ttft, usage = stream_ttft(port, {"prompt": prompt, "max_tokens": 4, "temperature": 0,
                                     "logit_bias": {"2": -100}}, conn_sock=c)
    activated_start.cached = usage["prompt_tokens_details"]["cached_tokens"] if usage else None
    total = (t_req - t0) + ttft
    p.terminate()
    p.wait()
    return total


warm = min(activated_start(False) for _ in range(runs))
cold = min(activated_start(True) for _ in range(runs))
out.update({"start_to_first_token_warm_ms": round(warm * 1e3, 1),
            "start_to_first_token_cold_ms": round(cold * 1e3, 1)})

# ---- 3. a cold start with the 1,024-token prefix: recomputed, or restored by --cache-dir (a
# server that answered it once saved its slot when it stopped; the page cache warm)
question = PREFIX + " Q: which valve opens at 3 bar?"
plain = min(activated_start(False, question) for _ in range(runs))
kvc = ["--cache-dir", work + "/kvc", "--parallel", "1"]
activated_start(False, PREFIX + " Q: which valve closes at 1 bar?", kvc)   # saves the prefix on exit
restored = min(activated_start(False, question, kvc) for _ in range(runs))
out.update({"start_to_first_token_1024_prefix_ms": round(plain * 1e3, 1),
            "start_to_first_token_1024_prefix_restored_ms": round(restored * 1e3, 1),
            "restored_cached_tokens": activated_start.cached})
print(json.dumps(out))
