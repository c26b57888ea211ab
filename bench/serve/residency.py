#!/usr/bin/env python3
"""bench/serve/residency.py MAST A.gguf B.gguf [ROUNDS] — what a model switch costs.

Starts `mast serve -m A -m B` twice on free ports: with both resident (no limit), and with
--max-loaded 1, so that every request for the other model unloads one and loads the other.
Sends ROUNDS (default 10) alternating streamed completions (A, B, A, B, ...; a 16-token
prompt, 8 tokens out, greedy) one after another and reports, per setting, the median and
worst time to first token, and the model.load spans' median (the wait for the load) from
the requests' traces. Then pulls A from a loopback web server (python3 -m http.server)
with `mast pull` and with `curl -o`, and reports both times (mast's includes the SHA-256
and the GGUF check). The page cache is warm throughout (the files were just read).
Prints one JSON object.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

import sse
from sse import free_port

mast, a, b = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 10
work = tempfile.mkdtemp(prefix="mast-residency-")
PROMPT = "Once upon a time there was a little robot who lived in a quiet town by the sea"


def wait_health(port, proc):
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit("mast serve exited: see " + work)
        try:
            if urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=1).status == 200:
                return
        except Exception:
            time.sleep(0.05)
    sys.exit("mast serve never became healthy")


def run(limit):
    port = free_port()
    args = [mast, "serve", "--db", os.path.join(work, "r%s.db" % limit), "--port", str(port),
            "-m", a, "-m", b, "--parallel", "1"]
    if limit:
        args += ["--max-loaded", str(limit)]
    log = open(os.path.join(work, "serve-%s.log" % limit), "w")
    proc = subprocess.Popen(args, stderr=log)
    wait_health(port, proc)
    names = [os.path.basename(p)[:-5] for p in (a, b)]
    ttft = []
    for i in range(rounds):
        r = sse.completion("127.0.0.1", port, {"model": names[i % 2], "prompt": PROMPT,
                                               "max_tokens": 8, "temperature": 0}, timeout=300)
        ttft.append(r.times[0] - r.t0)
    time.sleep(1.5)   # the traces are written in batches
    traces = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/traces?limit=%d" % (port, rounds * 3)))
    loads, cold = [], 0
    for t in traces["data"]:
        if t["attributes"].get("url.path") != "/v1/completions":
            continue
        full = json.load(urllib.request.urlopen("http://127.0.0.1:%d/v1/traces/%s" % (port, t["id"])))
        for s in full["spans"]:
            if s["name"] == "model.load":
                loads.append(s["duration_us"] / 1e3)
                cold += s["attributes"]["mast.model.load"] == "cold"
    proc.terminate()
    proc.wait(30)
    warm = ttft[2:]   # the first of each model loads it in both settings
    return {"max_loaded": limit or None, "requests": rounds, "cold_loads": cold,
            "ttft_ms_median": round(statistics.median(warm) * 1e3, 1),
            "ttft_ms_max": round(max(warm) * 1e3, 1),
            "model_load_ms_median": round(statistics.median(loads), 1) if loads else None}


def pull_times():
    src = os.path.dirname(os.path.abspath(a))
    port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "http.server", "-b", "127.0.0.1", "-d", src, str(port)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    url = "http://127.0.0.1:%d/%s" % (port, os.path.basename(a))
    out = {}
    for name, cmd in (("curl_s", ["curl", "-sf", "-o", os.path.join(work, "curl.gguf"), url]),
                      ("mast_pull_s", [mast, "pull", url, "--models-dir", os.path.join(work, "models"),
                                       "--force"])):
        best = None
        for _ in range(3):
            t0 = time.time()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            dt = time.time() - t0
            best = dt if best is None else min(best, dt)
        out[name] = round(best, 3)
    web.terminate()
    out["bytes"] = os.path.getsize(a)
    out["ratio_mast_over_curl"] = round(out["mast_pull_s"] / out["curl_s"], 2)
    return out


result = {"a": os.path.basename(a), "b": os.path.basename(b),
          "both_resident": run(0), "max_loaded_1": run(1), "pull": pull_times()}
print(json.dumps(result, indent=1))
shutil.rmtree(work, ignore_errors=True)
