"""bench/serve/sse.py — one streamed POST /v1/completions, timed at the client: shared by
the serving benchmarks (bench_serve.py, load.py, cache_cold.py, residency.py), and a free port."""
import http.client, json, socket, time


def free_port():
    """A port nothing listens on now (for a server the benchmark starts)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Stream:
    """status: the HTTP status; t0: perf_counter when the request was sent; times: when each
    chunk with text arrived; usage: the final usage chunk's object (or None); error: the
    body's first bytes when the status is not 200."""

    def __init__(self):
        self.status, self.t0, self.times, self.usage, self.error = 0, 0.0, [], None, ""

    def tokens(self):
        # a chunk can hold more than one token (a character split in two): trust the usage
        return self.usage["completion_tokens"] if self.usage else len(self.times)


def completion(host, port, body, timeout=600, sock=None):
    """Streams body (stream and include_usage added) from the server at host:port; sock: an
    already connected socket to send it on."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    if sock:
        conn.sock = sock
    body = dict(body, stream=True, stream_options={"include_usage": True})
    out = Stream()
    try:
        out.t0 = time.perf_counter()
        conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        r = conn.getresponse()
        out.status = r.status
        if r.status != 200:
            out.error = r.read()[:300].decode(errors="replace")
            return out
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            if line[6:] == b"[DONE]":
                break
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0].get("text"):
                out.times.append(time.perf_counter())
            if chunk.get("usage"):
                out.usage = chunk["usage"]
        return out
    finally:
        conn.close()
