#!/usr/bin/env python3
"""bench/observe/export.py MAST [TRACES] — OTLP export throughput, and what tracing costs a search.

1. Export: a store with TRACES (default 20000) traces of 6 spans each (a generation's shape,
   10 attributes on the root) is written directly with sqlite3 after `mast collections`
   created the schema; `mast traces export --otlp` sends it to a loopback collector that
   reads each body and answers 200 (no decoding: the exporter is what is measured), once
   as protobuf and once as JSON. Spans per second and bytes per span, best of 3.
2. Overhead: `mast serve` with a 300-document collection answers 2000 BM25 searches from one
   client, with the OTLP exporter off and on (to the same collector); the mean request time
   of each (tracing itself is always on: the trace is what the exporter reads).
Prints one JSON object.
"""
import http.client, json, os, socket, sqlite3, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
from sse import free_port  # noqa: E402  (the serving benchmarks' helper)

mast = sys.argv[1]
n_traces = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
work = tempfile.mkdtemp(prefix="mast-export-")
COLLECTOR = r"""
import http.server, sys
class C(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        with open(sys.argv[1], "a") as f:
            f.write("%d\n" % n)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), C)
print(s.server_address[1], flush=True)
s.serve_forever()
"""
# the collector is a process of its own: in this one it would take the client's interpreter lock
sizes = os.path.join(work, "sizes")
coll = subprocess.Popen([sys.executable, "-c", COLLECTOR, sizes], stdout=subprocess.PIPE, text=True)
url = "http://127.0.0.1:%s/v1/traces" % coll.stdout.readline().strip()


def received_bytes():
    try:
        return sum(int(x) for x in open(sizes))
    except OSError:
        return 0


db = os.path.join(work, "t.db")
subprocess.run([mast, "collection", "create", "bench", "--db", db], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
con = sqlite3.connect(db)
now_us = int(time.time() * 1e6)
root_attrs = json.dumps({"http.request.method": "POST", "url.path": "/v1/chat/completions",
                         "gen_ai.operation.name": "chat", "gen_ai.provider.name": "mast",
                         "gen_ai.request.model": "llama124m-q4_k_m", "gen_ai.usage.input_tokens": 278,
                         "gen_ai.usage.output_tokens": 128, "gen_ai.request.temperature": 0.0,
                         "mast.batch.max_size": 16, "http.response.status_code": 200})
child = [("model.load", '{"mast.model.load":"warm"}'), ("queue", '{"mast.queue.slot_wait_seconds":0.001}'),
         ("prompt", '{"gen_ai.usage.input_tokens":278}'), ("first_token", "{}"),
         ("generate", '{"gen_ai.usage.output_tokens":128}')]
for i in range(n_traces):
    tid = "%012x%020x" % (now_us // 1000 - n_traces + i, i)
    start = now_us - (n_traces - i) * 1000
    con.execute("INSERT INTO traces(id, name, start_us, duration_us, status, attributes, trace_id, parent_span_id)"
                " VALUES(?, 'http.request', ?, 9000, 'ok', ?, ?, '')", (tid, start, root_attrs, tid))
    con.execute("INSERT INTO spans VALUES(?, 0, NULL, 'http.request', ?, 9000, 'ok', ?)", (tid, start, root_attrs))
    for k, (name, attrs) in enumerate(child):
        con.execute("INSERT INTO spans VALUES(?, ?, 0, ?, ?, 1000, 'ok', ?)", (tid, k + 1, name, start + k * 1000, attrs))
con.commit()
con.close()

out = {"traces": n_traces, "spans": n_traces * 6}
for proto in ("http/protobuf", "http/json"):
    best = None
    for _ in range(3):
        before = received_bytes()
        t0 = time.perf_counter()
        subprocess.run([mast, "traces", "export", "--db", db, "--otlp", url, "--protocol", proto],
                       check=True, stdout=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        best = dt if best is None or dt < best else best
        size = received_bytes() - before
    out[proto] = {"spans_per_second": round(n_traces * 6 / best), "bytes_per_span": round(size / (n_traces * 6), 1),
                  "seconds": round(best, 3)}


docs = os.path.join(work, "docs.jsonl")
with open(docs, "w") as f:
    for i in range(300):
        f.write(json.dumps({"_id": "d%d" % i, "text": "Document %d is about valves, pumps and pressure %d; "
                            "the relief valve opens at %d bar." % (i, i * 7 % 13, i % 40)}) + "\n")
sdb = os.path.join(work, "s.db")
subprocess.run([mast, "ingest", docs, "-c", "c", "--db", sdb], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def searches(env):
    port = free_port()
    p = subprocess.Popen([mast, "serve", "--db", sdb, "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    c = http.client.HTTPConnection("127.0.0.1", port)
    body = json.dumps({"query": "relief valve pressure", "k": 10})
    for _ in range(200):   # warm-up
        c.request("POST", "/v1/collections/c/search", body, {"Content-Type": "application/json"})
        c.getresponse().read()
    n, t0 = 2000, time.perf_counter()
    for _ in range(n):
        c.request("POST", "/v1/collections/c/search", body, {"Content-Type": "application/json"})
        c.getresponse().read()
    dt = (time.perf_counter() - t0) / n
    p.terminate()
    p.wait()
    return dt


base = dict(os.environ)
base.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
off = min(searches(base) for _ in range(2))
on = min(searches(dict(base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=url)) for _ in range(2))
out["search_us_export_off"] = round(off * 1e6, 1)
out["search_us_export_on"] = round(on * 1e6, 1)
out["export_overhead_ratio"] = round(on / off, 3)
coll.terminate()
print(json.dumps(out, indent=1))
